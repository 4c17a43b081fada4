/* rules: the sandboxed Lua 5.4 rule runtime. One lua_State per run holds
 * groups.lua (validated into per-group policies) and policy.lua (the
 * compliance and app-protection functions). See rules/README.md for the API
 * that scripts see. */
#ifndef MTD_RULES_H
#define MTD_RULES_H

#include <stddef.h>
#include <stdint.h>

#include "mtdgate/mtdgate.h" /* mtd_state_name */

#define MTD_RULES_API_VERSION 1
#define MTD_MAX_REASONS 32

/* CPU time defaults, in milliseconds: per call into a script, and for all
 * the calls of one handle (one evaluation). */
#define MTD_RULES_CPU_MS_CALL 2000u
#define MTD_RULES_CPU_MS_TOTAL 600000u

typedef struct mtd_rules_limits {
	size_t memory;         /* bytes the Lua state may hold [64 MiB] */
	uint64_t instructions; /* VM instructions per call into a script [1e7] */
	uint64_t cpu_ms_call;  /* CPU milliseconds per call [MTD_RULES_CPU_MS_CALL] */
	uint64_t cpu_ms_total; /* CPU milliseconds of all calls of the handle
				  [MTD_RULES_CPU_MS_TOTAL] */
} mtd_rules_limits;

typedef struct mtd_rules mtd_rules;

/* Open dir/groups.lua and dir/policy.lua in a fresh sandbox. lim may be NULL
 * for the defaults. cloud and now are handed to scripts as ctx. Errors name
 * file, line and value. */
int mtd_rules_open(const char *dir, const mtd_rules_limits *lim,
		   const char *cloud, int64_t now, mtd_rules **out, char *err,
		   size_t n);
void mtd_rules_close(mtd_rules *r);

/* One vendor's view of a device, as the rules see it. */
typedef struct mtd_vreport {
	const char *vendor;
	int level;           /* MTD_LEVEL_*; 0 = no report (missing) */
	int64_t at;
	int os_supported;    /* -1 unknown */
	const void *threats; /* msgpack array, may be NULL: the open threats */
	size_t threats_len;
	int block_missing_data, block_unsupported_os;
	int cause;           /* 1 + the index in threats of the open threat
				that sets level (above the vendor's snapshot);
				0 none */
} mtd_vreport;

/* One app of the device's inventory (strings may be NULL; -1 unknown). */
typedef struct mtd_app_view {
	const char *app_id, *version, *short_version, *name;
	int64_t bundle_size, dynamic_size;
	int adhoc_signed, app_store, beta, vpp, validated, managed;
} mtd_app_view;

/* One open security task of the device as the rules see it (device.tasks,
 * contracts: "Security tasks"). Strings borrowed; cve, software, version
 * may be NULL. */
typedef struct mtd_task_view {
	const char *vendor, *id, *kind, *cve, *software, *version, *severity;
	int64_t first_seen;
} mtd_task_view;
struct mtd_eval_in;
/* Called when a script first reads device.tasks during the call for in:
 * 0 with the device's open tasks in *out (borrowed until mtd_rules_eval
 * returns) and their count in *n, or an MTD_E* code (the call then fails). */
typedef int (*mtd_tasks_loader)(void *ud, const struct mtd_eval_in *in,
				const mtd_task_view **out, size_t *n);

typedef struct mtd_eval_in {
	const char *id, *os_version, *user; /* os_version, user may be NULL */
	int platform, corporate, enrolled;
	int64_t groupset;                   /* cache key for the group policy */
	const char *const *groups;
	size_t ngroups;
	const mtd_vreport *vendors;         /* in force for compliance */
	size_t nvendors;
	const mtd_vreport *app_vendors;     /* in force for app protection */
	size_t napp_vendors;
	const mtd_app_view *apps;           /* only when the rules want them */
	size_t napps;
	int prev_state;                     /* MTD_ST_*, -1 never decided */
	int64_t prev_since;                 /* when prev_state began */
	mtd_tasks_loader tasks;             /* device.tasks; NULL: none */
	void *tasks_ud;
} mtd_eval_in;

/* The rules' directory (borrowed until mtd_rules_close). */
const char *mtd_rules_dir(const mtd_rules *r);

/* The name of groups.lua's group i (in its order), NULL past the last;
 * borrowed until mtd_rules_close. line (may be NULL) gets its line in
 * groups.lua, 0 when not found. */
const char *mtd_rules_group(const mtd_rules *r, size_t i, int *line);

/* What the rules see of a device as plain fields, one line each: the
 * field's name in the device table (or in an entry of device.vendors and
 * device.app_vendors), the type the memo key holds it in, and its value,
 * from in (the device) or v (the vendor entry; r the rules). rules.c
 * generates from these lists both the memo key and the code that pushes
 * each field, and the pushing reads nothing but that value, so a field
 * added here is in the key by construction (a value that does not fit its
 * type makes the call not memoized). groups: the names of group set
 * in->groupset, one set for the life of the rules. Every other field is
 * lazy: its first read marks the call not reusable (id, os_version, user,
 * apps, tasks, previous.since; a vendor entry's at, threats and threat,
 * whose existence is keyed as threat). The test memo_key_every_field
 * checks that the tables hold no plain field outside these lists. */
#define MTD_RULES_DEVICE_FIELDS(X)                                                                 \
	X(platform, uint8_t, in->platform)                                                               \
	X(ownership, uint8_t, in->corporate != 0)                                                        \
	X(management, uint8_t, in->enrolled != 0)                                                        \
	X(previous, uint8_t, in->prev_state >= 0 ? in->prev_state + 1 : 0)                               \
	X(groups, uint32_t, in->groupset)
/* the device's lists of vendor entries: name, entries, count */
#define MTD_RULES_VENDOR_LISTS(X)                                                                  \
	X(vendors, in->vendors, in->nvendors)                                                      \
	X(app_vendors, in->app_vendors, in->napp_vendors)
#define MTD_RULES_VENDOR_FIELDS(X)                                                                 \
	X(vendor, uint16_t, vendor_code(r, v->vendor))                                                   \
	X(level, uint8_t, v->level > 0 ? v->level : 0)                                                   \
	X(missing, uint8_t, v->level <= 0)                                                               \
	X(os_supported, uint8_t, v->level > 0 && v->os_supported >= 0 ? 1 + (v->os_supported != 0) : 0)  \
	X(block_missing_data, uint8_t, v->block_missing_data != 0)                                       \
	X(block_unsupported_os, uint8_t, v->block_unsupported_os != 0)                                   \
	X(threat, uint8_t, v->level > 0 && v->cause > 0)

/* r's own copy of a vendor's name (NULL when memory is short), until
 * mtd_rules_close: handed in as mtd_vreport.vendor it is told apart from
 * other names without reading it (the memo's fast path). */
const char *mtd_rules_vendor_name(mtd_rules *r, const char *name);

/* Whether policy.lua asked for the app inventory (inventory = true). */
int mtd_rules_wants_inventory(const mtd_rules *r);

enum { MTD_ST_COMPLIANT, MTD_ST_NONCOMPLIANT, MTD_ST_GRACE, MTD_ST_NOT_EVALUATED };
enum { MTD_APP_NONE, MTD_APP_WARN, MTD_APP_BLOCK, MTD_APP_WIPE };
/* mtd_state_name() is public (mtdgate.h); MTD_ST_* are its numbers. */
const char *mtd_app_action_name(int a);
int mtd_state_from_name(const char *s);
int mtd_app_action_from_name(const char *s);

/* The strings are borrowed until the next eval, or, when memo >= 0, until
 * mtd_rules_close (they are the memo's own copy). */
typedef struct mtd_eval_out {
	int state, level, app_action;
	size_t nreasons;
	const char *reasons[MTD_MAX_REASONS]; /* borrowed until the next eval */
	size_t nresources;                    /* the device's protected resources */
	const char *resources[16];            /* borrowed until the next eval */
	/* The memo entry this result came from or was stored as (0..N-1), -1
	 * when the call was not memoized. Within one mtd_rules the same index
	 * is always the same result, two indexes are two different inputs. */
	int64_t memo;
} mtd_eval_out;

/* Access to protected resources for a decision (R7; an unenrolled device,
 * which has no compliance, is blocked when its apps are, R8). 1 = block. */
int mtd_access_blocked(int enrolled, int state, int app_action);

/* The sandbox's Lua state and a protected call into it, for rules_test.c
 * (stack convention as lua_pcall; what labels errors). */
struct lua_State *mtd_rules_lua(mtd_rules *r);
int mtd_rules_pcall(mtd_rules *r, const char *what, int nargs, int nres, char *err,
		    size_t n);

/* Memoize mtd_rules_eval (off by default): when on and policy.lua sets
 * pure = true, a device that looks to the rules like one already decided
 * (the same plain fields, MTD_RULES_*_FIELDS) gets that decision without a
 * call into Lua. A call that reads a lazy field or math.random is not
 * reused. Sound only if groupset names one set of groups for the life of
 * r. At most 65536 entries and 32 MiB; then further results are computed,
 * not stored. This is the only memo: the engine maps its entries to stored
 * outcomes (mtd_eval_out.memo, mtd_rules_memo_find) and keeps no key. */
void mtd_rules_memo(mtd_rules *r, int on);

/* Whether policy.lua declared pure = true. */
int mtd_rules_pure(const mtd_rules *r);

/* The memo's result for a device without running the rules: 1 with out
 * set as mtd_rules_eval would set it, when in looks like a device already
 * decided (see mtd_rules_memo); else 0, and mtd_rules_eval decides. Reads
 * only what the memo compares, so the device-specific fields (id,
 * os_version, user, apps, prev_since, a report's at and threats) may be
 * left unset for it. */
int mtd_rules_recall(mtd_rules *r, const mtd_eval_in *in, mtd_eval_out *out);

/* The memo's entry for in, as mtd_eval_out.memo would name it, or -1 when
 * none: mtd_rules_recall without filling a result. */
int64_t mtd_rules_memo_find(mtd_rules *r, const mtd_eval_in *in);

/* The grace period (seconds, 0 none) that groups.lua gives a device of
 * these groups: policy.grace_hours as the rules see it. */
int64_t mtd_rules_grace(mtd_rules *r, const char *const *groups, size_t ng);

/* Run the rules on one device. MTD_ERULES with the script's own message
 * (file:line: message) when a script fails or returns something invalid. */
int mtd_rules_eval(mtd_rules *r, const mtd_eval_in *in, mtd_eval_out *out,
		   char *err, size_t n);

#endif
