/*
 * libmtdgate: the Mobile Threat Defense policy engine.
 *
 * One handle (mtd_t) owns an open store, the plugin directory and the rules
 * directory. Every function returns 0 or a negative MTD_E* code; the message
 * of the last failure is mtd_errmsg(). Problems with single input records do
 * not fail the call: they go to the diagnostic callback, one line each naming
 * the file and position, and are counted in the call's stats.
 *
 * Threads: a handle is used by one thread at a time. Nothing here prints or
 * exits; the caller decides what the user sees.
 */
#ifndef MTDGATE_H
#define MTDGATE_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Status codes: stable once released. */
#define MTD_ERRNO_MAP(X)                                                      \
	X(OK, 0, "success")                                                   \
	X(USAGE, -1, "invalid argument")                                      \
	X(MALFORMED, -2, "malformed input")                                   \
	X(REFUSED, -3, "refused by the connector's state or settings")        \
	X(INTERNAL, -4, "internal error")                                     \
	X(NOMEM, -5, "out of memory")                                         \
	X(IO, -6, "input/output error")                                       \
	X(STORE, -7, "store error")                                           \
	X(RULES, -8, "rule script error")                                     \
	X(NOTFOUND, -9, "not found")                                          \
	X(PLUGIN, -10, "plugin error")                                        \
	X(BUSY, -11, "the store stayed locked by another writer")

enum {
#define MTD_X_(name, code, msg) MTD_E##name = code,
	MTD_ERRNO_MAP(MTD_X_)
#undef MTD_X_
};

/* Name ("MTD_EREFUSED") and default message of a status code. */
const char *mtd_strerror(int rc);
const char *mtd_errname(int rc);

typedef struct mtd mtd_t;

#define MTD_DEFAULT_BATCH 50000
#define MTD_DEFAULT_SKEW 300 /* seconds (R13) */

typedef struct mtd_config {
	const char *db_path;    /* the store; created by mtd_init() */
	const char *rules_dir;  /* Lua rules (groups.lua, policy.lua) */
	const char *plugin_dir; /* vendor plugins, <id>.so */
	int64_t now;            /* "now" in Unix seconds; 0 = the clock */
	size_t rules_memory;    /* bytes a rules run may hold; 0 = 64 MiB */
	uint64_t rules_instructions; /* Lua instructions per call; 0 = 10^7 */
	int isolate_plugins;    /* 1: decode vendor payloads in a child process
				   with resource limits (a plugin that crashes
				   or hangs costs one record); 0: in-process */
	uint64_t batch;         /* records per committed batch of device and
				   inventory import and ingest; 0 = 50,000.
				   Smaller: acknowledged sooner; larger: fewer
				   rewrites of the same pages */
	int64_t max_skew;       /* seconds a message may be dated after it was
				   received (now) before it is refused (R13);
				   0 = 300 (5 minutes), < 0 = not even one */
	uint64_t rules_cpu_ms;  /* CPU milliseconds per call into a rule
				   script; 0 = 2,000 */
	uint64_t rules_eval_cpu_ms; /* CPU milliseconds of all the rule calls of
				   one evaluation (or rules check/test);
				   0 = 600,000 */
	int insecure_plugins;   /* 1: load plugins from a directory (or file)
				   others own or can write, with a warning;
				   0: refuse them (MTD_EREFUSED) */
	int insecure_rules;     /* the same for the rules directory */
	int64_t wait_ms;        /* how long a writer waits for the store's
				   write lock held by another process before
				   failing with MTD_EBUSY; 0 = 30,000 (30 s),
				   < 0 = not at all. While waiting, the progress
				   callback gets what "waiting" with done/total
				   the milliseconds waited/allowed */
} mtd_config;

/* Open a handle. The config strings are copied. The store is opened lazily:
 * commands other than mtd_init() fail with MTD_ENOTFOUND when it does not
 * exist. *out is set even on failure (so mtd_errmsg works); close it. */
int mtd_open(const mtd_config *cfg, mtd_t **out);
void mtd_close(mtd_t *h);
/* Open a second handle on h's store with h's settings (a fixed now kept),
 * for another thread of the same process: a handle is used by one thread
 * at a time. *out as mtd_open. */
int mtd_open_again(const mtd_t *h, mtd_t **out);
/* Message of the last failure on h (borrowed, valid until the next call). */
const char *mtd_errmsg(const mtd_t *h);

/* Where per-record diagnostics go (msg borrowed for the call). */
typedef void (*mtd_diag_fn)(void *ud, const char *msg);
void mtd_set_diag(mtd_t *h, mtd_diag_fn fn, void *ud);

/* Progress of long runs (imports, ingest, evaluate): what is running, how
 * far it is (done of total, in bytes of input or in devices; total 0 when
 * unknown) and how many records so far. Called every few thousand records
 * and once at the end; and, with what "committed", after every committed
 * batch of an import or ingest, records being the records acknowledged. */
typedef void (*mtd_progress_fn)(void *ud, const char *what, uint64_t done,
				uint64_t total, uint64_t records);
void mtd_set_progress(mtd_t *h, mtd_progress_fn fn, void *ud);

/* Create the store (or open an existing one of the same cloud).
 * cloud: "commercial" or "gcc_high". */
int mtd_init(mtd_t *h, const char *cloud);

/* Counts of one import or ingest run. */
typedef struct mtd_stats {
	uint64_t records;   /* input records read */
	uint64_t accepted;  /* stored (or, for ingest, accepted messages) */
	uint64_t rejected;  /* refused by the connector state (R1) or dated
			       more than max_skew after receipt (R13), audited */
	uint64_t malformed; /* bad records, each reported to the diag callback */
	uint64_t bad_elements; /* ingest: bad elements of otherwise good payloads
				  (plugin ABI 1.1), each reported; the
				  payloads' good elements were kept */
	uint64_t parked;    /* ingest: messages naming no known device, or
			       several: kept and audited (mtd_parked), not
			       malformed */
	uint64_t unparked;  /* parked messages (of any run) that this one made
			       resolve, applied in the order received */
} mtd_stats;

/* Import device records (SPEC 4.2), in any framing of SPEC 4.1 (JSON
 * documents, lines or a top-level array, an event stream, msgpack), from in.
 * name labels diagnostics ("devices.jsonl"). A device already known is
 * replaced as a whole. */
int mtd_device_import(mtd_t *h, FILE *in, const char *name, mtd_stats *st);
/* Import app inventory records (SPEC 4.2). Each device present in the input
 * has its inventory replaced as a whole. */
int mtd_inventory_import(mtd_t *h, FILE *in, const char *name, mtd_stats *st);

/* Connector lifecycle (R1-R3). */
int mtd_connector_add(mtd_t *h, const char *vendor);
/* settings: n strings "key=value" (R3 names; on|off for switches). All are
 * validated before any is applied. */
int mtd_connector_set(mtd_t *h, const char *vendor, const char *const *settings,
		      size_t n);
int mtd_connector_remove(mtd_t *h, const char *vendor);
/* A new bearer token for the connector's pushes to `mtdgate serve` (SPEC
 * 4.5): 64 hex digits of 32 random bytes into token (65 bytes, NUL
 * included; the caller shows it once). Only its SHA-256 is stored; an
 * earlier token stops working. Audited. */
int mtd_connector_token(mtd_t *h, const char *vendor, char token[65]);
/* 0 when token is the connector's current one (compared in constant time),
 * MTD_EREFUSED when not or when it has none. */
int mtd_connector_auth(mtd_t *h, const char *vendor, const char *token);

/* A connector as listed. All strings borrowed for the callback. */
typedef struct mtd_connector_info {
	const char *vendor;
	const char *state; /* unavailable, not_set_up, available, enabled,
			      unresponsive, error */
	size_t nsettings;
	const char *const *setting_names; /* R3 names, in R3 order */
	const char *const *setting_values; /* "true"/"false" or a number */
	const int *setting_is_bool;
	int64_t last_contact; /* Unix seconds, 0 = never */
	const char *error_code; /* NULL unless in error */
} mtd_connector_info;
typedef int (*mtd_connector_fn)(void *ud, const mtd_connector_info *c);
int mtd_connector_list(mtd_t *h, mtd_connector_fn fn, void *ud);

/* A parked message (SPEC 4.1 extension): one that named no known device,
 * or several, kept until a device import or a learned identifier makes it
 * resolve, or until its connector's parked_days have passed. Strings
 * borrowed for the callback; message is the message as JSON text. */
typedef struct mtd_parked_info {
	int64_t id;
	const char *vendor;
	int64_t received; /* Unix seconds */
	const char *reason;
	const char *message;
} mtd_parked_info;
typedef int (*mtd_parked_fn)(void *ud, const mtd_parked_info *p);
/* Every parked message, oldest first. */
int mtd_parked(mtd_t *h, mtd_parked_fn fn, void *ud);

/* Ingest vendor-native payloads through the vendor's plugin, or, with
 * normalized set, normalized channel messages (SPEC 4.1), on the vendor's
 * connector. */
int mtd_ingest(mtd_t *h, const char *vendor, FILE *in, const char *name,
	       int normalized, mtd_stats *st);

/* A plugin as listed (strings borrowed for the callback). */
typedef struct mtd_plugin_info {
	const char *id, *name, *path;
	uint32_t platforms, mam_platforms, capabilities; /* plugin.h bits */
	uint32_t abi_version;
} mtd_plugin_info;
typedef int (*mtd_plugin_fn)(void *ud, const mtd_plugin_info *p);
/* List the loadable plugins in the plugin directory; ones that fail to load
 * are reported to the diag callback and skipped. */
int mtd_plugin_list(mtd_t *h, mtd_plugin_fn fn, void *ud);

/* A device's decision (strings borrowed for the callback, except platform,
 * management, state, level, access and app_protection: constants of the
 * library, valid for as long as it is loaded, so they may be compared by
 * address). */
typedef struct mtd_decision_info {
	const char *device, *platform, *management;
	const char *state;          /* compliant, noncompliant, in_grace_period,
				       not_evaluated */
	const char *level;          /* none, secured, low, medium, high */
	size_t nvendors;
	const char *const *vendor_names;
	const char *const *vendor_levels;
	const char *access;         /* allow, block */
	const char *app_protection; /* none, warn, block, wipe */
	size_t nresources;          /* protected resources, each at access */
	const char *const *resources;
	size_t nreasons;
	const char *const *reasons;
	int64_t evaluated_at;       /* 0 when not evaluated */
	/* Only from mtd_report of one device (else 0 and NULL): the latest
	 * stored report of each vendor that sent one, by vendor id: its level,
	 * the time it carries (at) and when mtdgate received it (R13). */
	size_t nreports;
	const char *const *report_vendors;
	const char *const *report_levels;
	const int64_t *report_at, *report_received;
} mtd_decision_info;
typedef int (*mtd_decision_fn)(void *ud, const mtd_decision_info *d);

/* Conformance check of a plugin file: refuses a file in a directory others
 * can write (as plugin directories are), loads it in a sandboxed child
 * process (never in this one), validates the descriptor it reports, runs its
 * fixtures (fixtures_dir, or <dir of the plugin>/fixtures/<id> when NULL:
 * every NAME.in against NAME.out, and every record of bad.in must be refused
 * or report a bad element), then feeds its decoder truncated and mutated
 * payloads so that a crash or hang is reported, not suffered. h gives the
 * --insecure-plugins override and receives the diagnostics. fn receives one
 * line per finding (ok 0) and a summary per step (ok 1); msg borrowed.
 * Returns 0 when the plugin passes, MTD_EPLUGIN when a check failed, or
 * another code when the file cannot be checked at all. */
typedef void (*mtd_check_fn)(void *ud, int ok, const char *msg);
int mtd_plugin_check(mtd_t *h, const char *path, const char *fixtures_dir,
		     mtd_check_fn fn, void *ud);

/* Load the rules of dir (NULL: the configured rules) in the sandbox,
 * validate them, and run them on example devices of every platform (with
 * and without the details and app inventories devices may lack); fn
 * gets a line per step (ok 1) or problem (ok 0). MTD_ERULES when they fail.
 * When the store exists, groups.lua is compared with its devices' groups
 * (read only): a group no device is in, and devices in groups it has no
 * entry for, are warnings (ok 2), which do not fail the check. */
int mtd_rules_check(mtd_t *h, const char *dir, mtd_check_fn fn, void *ud);
/* Run the example devices with expected decisions of dir/tests.lua
 * (rules/README.md); fn gets a line per case (ok) or mismatch. A key a
 * case may not have (a typo) fails that case, naming it. MTD_ERULES
 * when a case fails or there are none. */
int mtd_rules_test(mtd_t *h, const char *dir, mtd_check_fn fn, void *ud,
		   unsigned *passed, unsigned *failed);

/* Evaluate every device with the rules. With dry_run, nothing is written and
 * fn (may be NULL) receives the old and the new decision of each device
 * whose decision would change; without, fn receives the same for each
 * change as it is written. changed (may be NULL) gets the count. */
typedef int (*mtd_change_fn)(void *ud, const mtd_decision_info *before,
			     const mtd_decision_info *after);
int mtd_evaluate(mtd_t *h, int dry_run, mtd_change_fn fn, void *ud,
		 uint64_t *evaluated, uint64_t *changed);

/* The changes of an evaluation by state: n[i][j] decisions went from state
 * mtd_state_name(i) to mtd_state_name(j) (a device that had no decision
 * counts as not_evaluated); pair[0 .. npairs) are the (i, j) that occur, as
 * i * MTD_NSTATES + j, in the order of their first change. */
#define MTD_NSTATES 4
typedef struct mtd_transitions {
	uint64_t n[MTD_NSTATES][MTD_NSTATES];
	unsigned char pair[MTD_NSTATES * MTD_NSTATES];
	size_t npairs;
} mtd_transitions;
/* compliant, noncompliant, in_grace_period, not_evaluated for 0 .. 3; "?"
 * otherwise (a constant). */
const char *mtd_state_name(int state);
/* As mtd_evaluate, and the changes counted into *t (may be NULL): a caller
 * that wants only the counts passes no fn, and the engine then builds no
 * decision for it per change. */
int mtd_evaluate_counted(mtd_t *h, int dry_run, mtd_change_fn fn, void *ud,
			 uint64_t *evaluated, uint64_t *changed, mtd_transitions *t);

/* Answer an App Sync request from vendor (R9): the app inventory of
 * corporate iOS/iPadOS devices, and of personal ones when the connector has
 * appsync_personal_ios on; never other platforms. Refused (MTD_EREFUSED)
 * when the connector's state rejects AppSync requests (R1) or appsync_ios
 * is off. The answer goes to out in the chosen format: a msgpack stream of
 * inventory records (SPEC 4.2), the same records as JSON lines, or the
 * vendor's own format through its plugin (MTD_EREFUSED when the plugin
 * cannot translate). data passed to out is borrowed for the call. */
enum { MTD_APPSYNC_MSGPACK, MTD_APPSYNC_JSON, MTD_APPSYNC_NATIVE };
typedef int (*mtd_write_fn)(void *ud, const void *data, size_t len);
int mtd_appsync(mtd_t *h, const char *vendor, int format, mtd_write_fn out,
		void *ud, uint64_t *records);

/* ---- decision changes, for followers (serve's /v1/events) ---- */
/* One side of a decision change; constants of the library (as in
 * mtd_decision_info). A device with no decision before is not_evaluated,
 * level none, access block, app_protection none. */
typedef struct mtd_decision_state {
	const char *state, *level, *access, *app_protection;
} mtd_decision_state;
/* A decision change as the audit log holds it. device and reasons_json are
 * borrowed for the callback; device is NULL when the device has been
 * removed since. reasons_json is the new decision's reasons, a JSON array
 * of strings. at: when it was decided (Unix seconds). */
typedef struct mtd_decision_event {
	int64_t seq, at;
	const char *device;
	mtd_decision_state before, after;
	const char *reasons_json;
} mtd_decision_event;
typedef int (*mtd_event_fn)(void *ud, const mtd_decision_event *e);
/* The decision changes with a sequence number above after, oldest first, at
 * most max of them (0: all); *last (may be NULL) gets the number of the last
 * one given (after when none). A non-zero return of fn stops the walk and is
 * returned. Committed changes only: a follower that calls this after each
 * commit it learns of sees every change exactly once. */
int mtd_decision_events(mtd_t *h, int64_t after, uint64_t max, mtd_event_fn fn, void *ud,
			int64_t *last);
/* The sequence number of the newest decision change (0 when none). */
int mtd_decision_head(mtd_t *h, int64_t *seq);
/* The store's database file size in bytes (its pages; not the WAL), for
 * a long-running caller's metrics. */
int mtd_db_bytes(mtd_t *h, uint64_t *bytes);

/* The audit log. */
typedef struct mtd_audit_rec {
	int64_t seq, at;
	const char *kind, *vendor, *device, *detail; /* vendor/device may be NULL */
} mtd_audit_rec;
typedef int (*mtd_audit_fn)(void *ud, const mtd_audit_rec *r);
typedef struct mtd_audit_filter {
	const char *device, *vendor, *kind; /* NULL: any */
	int64_t since, until;               /* Unix seconds; 0: unbounded */
	int64_t after_seq;                  /* only records numbered after it; 0: all
					       (appended in issue 18) */
} mtd_audit_filter;
/* Records matching f (may be NULL), oldest first; strings borrowed. */
int mtd_audit_show(mtd_t *h, const mtd_audit_filter *f, mtd_audit_fn fn, void *ud);
/* Recompute the hash chain, then check every current decision and every
 * stored row that decisions are made from (devices, groups, reports,
 * connectors, settings, inventory) against the log entry that last wrote
 * it, and the store's pages with SQLite's integrity check. Opens the store
 * read-only when it is not open yet. Returns 0 with the count and the head
 * hash (64 hex digits + NUL) when intact; MTD_EMALFORMED with the first
 * problem in mtd_errmsg (and a diagnostic line for each of the first rows
 * that differ) when something was edited, removed, inserted or damaged. */
int mtd_audit_verify(mtd_t *h, uint64_t *records, char head[65]);
/* What verify must also find (inputs, each NULL when not asked), and the
 * checkpoints it found to hold (outputs). */
typedef struct mtd_audit_expect {
	const char *head;       /* a head kept elsewhere (64 hex digits): the chain must hold it */
	const char *pubkey;     /* public key file (mtd_audit_keygen): every checkpoint in the log
				   signed with it must hold, and there must be one */
	const char *checkpoint; /* an exported checkpoint file (needs pubkey): signed with that key,
				   and the chain must reach its record with its hash (a cut-off tail
				   or a rewrite fails) */
	uint64_t checkpoints;   /* out: checkpoints in the log signed with pubkey (all held) */
	int64_t last_seq, last_at; /* out: the newest of them (the file's when given) */
} mtd_audit_expect;
int mtd_audit_verify_expect(mtd_t *h, mtd_audit_expect *x, uint64_t *records, char head[65]);
/* A new Ed25519 key pair: the private key into key_path (created, never
 * overwritten, mode 0600), the public one into key_path.pub. Keep the
 * private key away from the store's machine if you can; it never enters
 * the store, a log or any output. */
int mtd_audit_keygen(mtd_t *h, const char *key_path);
/* Verify the log, then sign its head (sequence number, hash, --now) with
 * the private key at key_path (refused unless yours and mode 0600 or
 * stricter) and record the checkpoint in the log. out (n bytes) gets the
 * exported checkpoint: one line to keep elsewhere. */
int mtd_audit_checkpoint(mtd_t *h, const char *key_path, char *out, size_t n);

/* Text from data (ids, names, reasons, error messages quoting input) made
 * safe for a terminal or a text report, the one escaping every human output
 * uses: printable UTF-8 as it is (a backslash too, so that JSON text stays
 * readable); C0 controls and DEL as \xHH; C1 controls, bidi controls
 * (U+061C, U+200E, U+200F, U+202A..U+202E, U+2066..U+2069) and U+2028/9 as
 * \uXXXX; bytes that are not UTF-8 as \xHH. Nothing printed can act on a
 * terminal or start a line. Writes at most cap bytes to out, NUL included,
 * never half an escape or character (out may be NULL when cap is 0);
 * returns the length of the whole escaped text, as snprintf does. */
size_t mtd_escape(char *out, size_t cap, const char *s, size_t n);

/* A number that changes whenever another connection to the store (a batch
 * command, another process) has committed since the last call: cheap, for a
 * long-running caller that polls for changes it did not make itself (its
 * own commits do not change it). It also ends the read snapshot that an
 * earlier call may have left open on h, so that what the caller reads next
 * (and the next write) starts from the store as it is now: a long-running
 * caller calls it after each call that read or wrote the store. */
int mtd_data_version(mtd_t *h, int64_t *v);

/* ---- Connectors that fetch (issue 16; owner: pull) ----
 * A connector whose plugin declares its vendor's API (plugin ABI 1.2) is
 * set up with `connector set VENDOR api_url=... token_url=... client_id=...
 * secret_file=PATH ca_file=PATH poll_seconds=N` (mtd_connector_set: the
 * secret file must be the running user's and readable by nobody else; only
 * its path is stored) and fetched with mtd_pull. */

/* Counts of one pull: st as ingest counts (records are pages here). */
typedef struct mtd_pull_stats {
	mtd_stats st;
	uint64_t pages;    /* pages (or stream events) committed */
	uint64_t requests; /* HTTP requests made, token requests and retries included */
	uint64_t retries;  /* requests made again after 429, 5xx, a timeout or a drop */
	uint64_t replayed; /* events the vendor sent again, recognized by their id and
			      not applied or counted twice */
} mtd_pull_stats;

#define MTD_PULL_ONCE 1u /* a stream is read until it has caught up, not held open */

/* Fetch what is new from vendor's API: every endpoint the plugin declares,
 * page after page from where the last pull stopped; each page's messages
 * and the resume point after it are committed together. Errors: MTD_EREFUSED
 * (no connector, no API, missing settings, a loose secret file, credentials
 * refused), MTD_EIO (the API cannot be reached or keeps failing after the
 * retries), MTD_EMALFORMED (a response the plugin cannot read), with h's
 * message naming the vendor and the URL (never a secret or a token). The
 * outcome is recorded for mtd_pull_list. Does not evaluate. */
int mtd_pull(mtd_t *h, const char *vendor, unsigned flags, mtd_pull_stats *ps);

/* Ask a pull running on h in another thread to stop (thread-safe; the
 * only call on h another thread may make): it ends at its next request,
 * wait or page boundary with MTD_EIO, "stopped". A page being applied is
 * committed with its resume point first; nothing after it is. The outcome
 * of a stopped pull is not recorded as an error. Every later mtd_pull on h
 * stops at once. */
void mtd_pull_stop(mtd_t *h);

/* A connector's fetching, as listed (strings borrowed for the callback). */
typedef struct mtd_pull_info {
	const char *vendor;
	int configured;        /* api settings are set */
	int64_t poll_seconds;  /* [60] */
	int64_t last_success;  /* Unix seconds, 0 = never */
	int64_t last_error_at; /* 0 = never */
	const char *last_error; /* NULL = none */
	int64_t lag;           /* seconds since the last success, -1 = never */
} mtd_pull_info;
typedef int (*mtd_pull_fn)(void *ud, const mtd_pull_info *p);
/* Every connector that has API settings or pull history, by vendor. */
int mtd_pull_list(mtd_t *h, mtd_pull_fn fn, void *ud);

/* Report stored decisions, of one device (device non-NULL) or all. */
int mtd_report(mtd_t *h, const char *device, mtd_decision_fn fn, void *ud);

/* ---- exports and retention (issue 18) ---- */

/* The current decision of every device as plain SQLite tables in the file
 * at path, for sqlite3 and BI tools without mtdgate (README, "Exports"):
 * decisions, decision_vendors, decision_reasons, decision_resources and
 * sqlfile_info. Written whole beside path, fsynced and renamed over it, so
 * readers see the previous export or this one. An existing path is
 * replaced only when it is an earlier export (else MTD_EREFUSED, as is the
 * store itself). rows (may be NULL) gets the devices written. */
int mtd_export_sql(mtd_t *h, const char *path, uint64_t *rows);
/* The head of the audit log without verifying it: the last record's
 * sequence number, time and chain hash (64 hex digits + NUL). Read-only.
 * MTD_ENOTFOUND when the log is empty. */
int mtd_audit_head(mtd_t *h, int64_t *seq, int64_t *at, char head[65]);

/* Retention. mtd_audit_prune verifies the log, then moves the records
 * dated before `before` (up to the last point where every log is sealed)
 * into a new SQLite file at archive (never over an existing file), written
 * and fsynced before anything is removed; then, in one transaction, removes
 * them from the store except the decision changes that are still a device's
 * last one and the outcomes something refers to, covers the rows whose last
 * entries went with a baseline, and records the prune point (its number,
 * the chain's hash there, a digest of what stayed below it) in the chain,
 * from where verify goes on. Nothing before `before`: 0 with st->archived
 * 0 and no file written. */
typedef struct mtd_prune_stats {
	int64_t first, last; /* the records archived */
	uint64_t archived;   /* how many */
	uint64_t kept;       /* rows below the prune point that stayed */
	char head[65];       /* the chain's hash at the last archived record */
} mtd_prune_stats;
int mtd_audit_prune(mtd_t *h, int64_t before, const char *archive, mtd_prune_stats *st);
/* An archive checked on its own: its records first..last in order, the
 * chain from prev to head, every seal. 0 (info filled), MTD_EMALFORMED
 * with the first problem, or MTD_EIO. Needs no store. */
typedef struct mtd_archive_info {
	int64_t first, last;
	uint64_t records;
	char prev[65], head[65]; /* the chain's hash before first, after last */
} mtd_archive_info;
int mtd_audit_verify_archive(mtd_t *h, const char *archive, mtd_archive_info *info);

/* ---- fleet: imports from what MDMs export, the device lifecycle (issue 18) ---- */

/* Input formats of the imports: AUTO detects each input's from its first
 * bytes (a JSON object whose first key is "@odata.*" or "value": GRAPH; a
 * first line with a comma that does not start like JSON or msgpack: CSV;
 * otherwise RECORDS). RECORDS: SPEC 4.2 records in any framing of 4.1.
 * GRAPH: Microsoft Graph pages ({"value":[...],"@odata.nextLink"}) of
 * managedDevices (devices) or of detectedApps / managedDevices with their
 * apps (inventory). CSV: RFC 4180 with a header row naming 4.2 fields
 * (and ids.KIND columns for devices; groups separated by ';'). */
enum { MTD_FORMAT_AUTO = 0, MTD_FORMAT_RECORDS, MTD_FORMAT_GRAPH, MTD_FORMAT_CSV };
/* One input. Everything borrowed for the call; in is not closed. */
typedef struct mtd_input {
	FILE *in;
	const char *name;  /* labels positions */
	const char *group; /* group exports only: the group whose member pages in
			      holds, or NULL for groups with their members */
} mtd_input;
typedef struct mtd_import_opts {
	int format;              /* MTD_FORMAT_* of every input */
	const mtd_input *inputs; /* read in order, one import */
	size_t ninputs;
	const mtd_input *groups; /* device import from Graph: group membership
				    exports giving the devices their groups */
	size_t ngroups;
	int replace_all;         /* device import: remove (mtd_device_remove)
				    every stored device the inputs do not
				    hold; refused (MTD_EREFUSED, nothing
				    removed, the import kept) when a record was
				    malformed or a Graph export goes on
				    (@odata.nextLink) beyond the inputs */
} mtd_import_opts;
/* Device or inventory import of several inputs in any of the formats, as
 * one import (one audit record; parked messages applied after). Problems
 * with single records, group members or pages go to the diagnostic
 * callback with their position ("devices.json page 2 (line 57): value[3]:
 * field 'operatingSystem': ..."), counted as malformed (group members and
 * group pages as bad_elements). removed (may be
 * NULL) gets the devices replace_all removed. */
int mtd_device_import_from(mtd_t *h, const mtd_import_opts *o, mtd_stats *st, uint64_t *removed);
int mtd_inventory_import_from(mtd_t *h, const mtd_import_opts *o, mtd_stats *st);

/* ---- Reviewing an evaluation like a plan ---- */

/* What a decision change does, the most dangerous kind first:
 * WIPE   a selective wipe starts (app_protection becomes wipe);
 * BLOCK  access becomes block, or app_protection becomes block;
 * WORSE  otherwise the state (compliant < in_grace_period < noncompliant),
 *        the level (none and secured < low < medium < high) or the app
 *        action (none < warn) rises;
 * BETTER otherwise one of those falls, or access becomes allow;
 * OTHER  the rest: reasons, vendors or resources only, or a move to or from
 *        not_evaluated that changes neither access nor apps.
 * A device with no decision before counts as not_evaluated, level none,
 * access block, app_protection none (as the change callback shows it). */
enum {
	MTD_CHANGE_WIPE,
	MTD_CHANGE_BLOCK,
	MTD_CHANGE_WORSE,
	MTD_CHANGE_BETTER,
	MTD_CHANGE_OTHER,
	MTD_NCHANGE_KINDS
};
int mtd_change_kind(const mtd_decision_info *before, const mtd_decision_info *after);
/* "wipe", "block", "worse", "better", "other"; "?" otherwise (a constant). */
const char *mtd_change_kind_name(int kind);

/* What an evaluation did (or, dry, would do). */
typedef struct mtd_eval_summary {
	uint64_t evaluated, changed;
	/* the changes by kind (MTD_CHANGE_*); a real run issued a selective
	 * wipe (audited as app_wipe) for each of kinds[MTD_CHANGE_WIPE] */
	uint64_t kinds[MTD_NCHANGE_KINDS];
	mtd_transitions t; /* the changes by state */
} mtd_eval_summary;
/* As mtd_evaluate_counted, with every count into *s (zeroed first). */
int mtd_evaluate_summary(mtd_t *h, int dry_run, mtd_change_fn fn, void *ud,
			 mtd_eval_summary *s);

/* ---- incremental evaluation (issue 15) ----
 * A long-running caller (mtdgate serve, pull) decides exactly the devices
 * its writes touched instead of the whole fleet, with the same decisions a
 * whole-fleet mtd_evaluate gives for the same store at the same now. */

/* A set of devices by store row id. ids is malloc'ed and owned by the set
 * (mtd_devset_free frees it); zero-initialise a set before first use. all:
 * every device (a change that reaches every decision: a connector's state
 * or settings, or one the caller could not tell apart). */
typedef struct mtd_devset {
	int64_t *ids;
	size_t n, cap;
	int all;
} mtd_devset;
void mtd_devset_free(mtd_devset *s);
/* Add a row id (MTD_ENOMEM: the set turns into all, which is still right). */
int mtd_devset_add(mtd_devset *s, int64_t id);
/* Add the device with external id device: MTD_EUSAGE when the store has no
 * such device. */
int mtd_devset_add_ext(mtd_t *h, mtd_devset *s, const char *device);
/* Sort the ids and drop repeats (mtd_touched's sets are so already). */
void mtd_devset_normalize(mtd_devset *s);

/* With on, every write this handle commits from now on records the devices
 * whose decision it can change (a stored report or threat, a device or its
 * inventory imported, a parked message applied; all for a connector added,
 * set, removed or changing state) until mtd_touched takes them. Off by
 * default (batch commands decide everything anyway). */
int mtd_track_touched(mtd_t *h, int on);
/* Move the devices that committed writes touched since the last call into
 * out (added to what it holds, normalized). What a rolled-back transaction
 * wrote is not in it. */
int mtd_touched(mtd_t *h, mtd_devset *out);

/* What the store's writers (this handle, batch commands, other processes)
 * committed after audit sequence number *seq (the number the logs share):
 * the devices whose decision inputs changed are added to touched (all
 * when that cannot be told apart), those whose decision was written to
 * decided (may be NULL); *seq becomes the last number read. *seq < 0:
 * since the last evaluation that changed decisions (nothing when the store
 * was never evaluated). Both sets normalized. */
int mtd_changes_since(mtd_t *h, int64_t *seq, mtd_devset *touched, mtd_devset *decided);

/* The last audit sequence number committed (0: none): with
 * mtd_data_version, a caller that sees no other writer committed since it
 * last looked can start its next mtd_changes_since here. */
int mtd_last_seq(mtd_t *h, int64_t *seq);

/* mtd_report for the devices of set (row ids; all: every device), in row
 * id order; row ids of no device are skipped. */
int mtd_report_set(mtd_t *h, const mtd_devset *set, mtd_decision_fn fn, void *ud);

/* mtd_evaluate for exactly the devices of set (all: every device, as
 * mtd_evaluate): the same rules, semantics, audit and change callback,
 * written in one transaction. Row ids of no device are skipped. */
int mtd_evaluate_set(mtd_t *h, const mtd_devset *set, mtd_change_fn fn, void *ud,
		     uint64_t *evaluated, uint64_t *changed);

/* The earliest time after the handle's now at which a decision can change
 * without new input (0: none known): a connector in force falling silent
 * long enough to turn unresponsive (R2), the end of a grace period
 * (a device in_grace_period since S, its groups giving G hours: S + G),
 * and an open security task's age reaching a whole number of days or one
 * second past it (first_seen F: F + k * 86400 and F + k * 86400 + 1; the
 * rules see F in device.tasks and may compare the age with days).
 * *all is set when what is due then reaches every device (a connector),
 * else the devices due by then are added to due (may be NULL). */
int mtd_next_due(mtd_t *h, int64_t *at, int *all, mtd_devset *due);
/* mtd_next_due for a caller that last decided what was due at from (<= the
 * handle's now; 0: never): a task age passed after from and by now is due
 * now (*at may then be <= now), as such times come and go by themselves. */
int mtd_next_due_since(mtd_t *h, int64_t from, int64_t *at, int *all, mtd_devset *due);

/* A long-running caller's clock: the handle's now becomes the time of
 * day, unless mtd_config.now fixed it; returns it. (Test builds: the
 * environment variable MTD_TEST_NOW_FILE names a file whose number is the
 * time instead, so that a test moves a server's time without waiting.) */
int64_t mtd_tick(mtd_t *h);

/* Counts of a removal. */
typedef struct mtd_remove_stats {
	uint64_t devices; /* removed */
	uint64_t rows;    /* their rows deleted: the device, its salt, identifiers,
			     apps, reports, threats, parked messages naming it */
	uint64_t erased;  /* audit records whose device and detail were erased */
	uint64_t legacy;  /* audit records naming them written before schema 10,
			     whose hash covers their text: left as they are */
	int wal_left;     /* 1: another connection held the WAL, so the old
			     pages in it stay until a checkpoint gets through */
} mtd_remove_stats;
/* Remove the devices named by ids (n of them; all must exist, or nothing is
 * removed: MTD_ENOTFOUND) and erase their personal data from the store
 * file (README, "Removing a device"): their rows deleted under SQLite's
 * secure_delete, the audit records that name them erased (the chain keeps
 * a salted digest of what they held, so audit verify still passes), one
 * device_removed record naming only row numbers, then the WAL checkpointed
 * and truncated. ids borrowed for the call. */
int mtd_device_remove(mtd_t *h, const char *const *ids, size_t n, mtd_remove_stats *st);

/* A device as stored. Strings borrowed for the callback; user and
 * os_version may be NULL. threat_* only from mtd_device_get (else 0). */
typedef struct mtd_device_info {
	const char *id, *platform, *ownership, *management, *user, *os_version;
	int64_t updated_at;
	size_t ngroups;
	const char *const *groups;
	size_t nids; /* identifiers: kinds and values */
	const char *const *id_kinds;
	const char *const *id_values;
	size_t nthreats; /* open threats, per vendor */
	const char *const *threat_vendors;
	const char *const *threat_ids;
	const char *const *threat_names;
	const char *const *threat_levels;
	const int64_t *threat_since;
} mtd_device_info;
typedef int (*mtd_device_fn)(void *ud, const mtd_device_info *d);
/* Every device (or those in group, of platform: NULL any), in id order. */
int mtd_device_list(mtd_t *h, const char *group, const char *platform, mtd_device_fn fn, void *ud);
/* One device, with its open threats; MTD_ENOTFOUND when unknown. */
int mtd_device_get(mtd_t *h, const char *id, mtd_device_fn fn, void *ud);

/* ---- security tasks (contracts: "Security tasks"; owner: tasks) ----
 * What a vendor's vulnerability management asks to be fixed on a device
 * (Defender's vulnerabilities and security recommendations), from `task`
 * messages. One per (device, vendor, task id); resolved ones are kept. */
typedef struct mtd_task_info {
	const char *device, *vendor, *id; /* borrowed for the callback */
	const char *kind;     /* "vulnerability" or "recommendation" (static) */
	const char *cve, *software, *version; /* borrowed; NULL when not given */
	const char *severity; /* "low", "medium", "high", "critical" (static) */
	const char *state;    /* "open" or "resolved" (static) */
	int64_t first_seen;   /* Unix seconds, as the vendor says */
	int64_t updated_at;   /* the time the latest message about it carries */
	int64_t received;     /* when mtdgate received that message */
} mtd_task_info;
typedef int (*mtd_task_fn)(void *ud, const mtd_task_info *t);
/* Every task (device non-NULL: of that device, MTD_ENOTFOUND when there is
 * no such device), by device id, vendor and task id, in one read snapshot.
 * A callback's nonzero return stops the listing and is returned. */
int mtd_tasks(mtd_t *h, const char *device, mtd_task_fn fn, void *ud);

#ifdef __cplusplus
}
#endif
#endif /* MTDGATE_H */
