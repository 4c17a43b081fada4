/*
 * Scenario harness: drives the built `mtdgate` binary the way an
 * administrator would and keeps what a user can see (stdout, stderr, exit
 * status). Each scenario owns a fresh temporary directory holding its store
 * (m.db), its input files and, when it needs them, its own rule directories.
 *
 * Time is never waited for: every run passes `--now`, set with scen_day().
 */
#ifndef MTD_SCENARIO_HARNESS_H
#define MTD_SCENARIO_HARNESS_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

/* 2024-03-01T00:00:00Z: day 0 of every scenario. */
#define SCEN_T0 INT64_C(1709251200)
#define SCEN_DAY INT64_C(86400)

/* The standard fleet, imported by SETUP. Evaluation order is import order;
 * zz-last is imported last so a rule failing on it fails after every other
 * device has been decided. */
#define SCEN_FLEET                                                                                 \
	"{\"id\":\"ios-alice\",\"platform\":\"ios\",\"os_version\":\"17.4\",\"ownership\":\"corporate\","     \
	"\"management\":\"enrolled\",\"user\":\"alice@example.com\",\"groups\":[\"Staff\"]}\n"                     \
	"{\"id\":\"ios-bob\",\"platform\":\"ios\",\"os_version\":\"17.4\",\"ownership\":\"corporate\","       \
	"\"management\":\"enrolled\",\"user\":\"bob@example.com\",\"groups\":[]}\n"                                 \
	"{\"id\":\"ios-exec\",\"platform\":\"ios\",\"os_version\":\"17.4\",\"ownership\":\"corporate\","      \
	"\"management\":\"enrolled\",\"user\":\"erin@example.com\",\"groups\":[\"Executives\"]}\n"                \
	"{\"id\":\"ios-multi\",\"platform\":\"ios\",\"os_version\":\"17.4\",\"ownership\":\"corporate\","     \
	"\"management\":\"enrolled\",\"user\":\"mia@example.com\",\"groups\":[\"Staff\",\"Executives\"]}\n"       \
	"{\"id\":\"and-carol\",\"platform\":\"android\",\"os_version\":\"14\",\"ownership\":\"personal\","     \
	"\"management\":\"unenrolled\",\"user\":\"carol@example.com\"}\n"                                          \
	"{\"id\":\"win-dave\",\"platform\":\"windows\",\"os_version\":\"10.0.22631\",\"ownership\":\"corporate\"," \
	"\"management\":\"enrolled\",\"user\":\"dave@example.com\"}\n"                                               \
	"{\"id\":\"zz-last\",\"platform\":\"ios\",\"os_version\":\"17.4\",\"ownership\":\"corporate\","       \
	"\"management\":\"enrolled\",\"user\":\"zed@example.com\"}\n"

/* One normalized threat message (SPEC 4.1) as a JSON line; at is a JSON
 * value: "\"2024-03-01T01:00:00Z\"" or "1709254800". */
#define THREAT(dev, level, at)                                                                     \
	"{\"type\":\"threat\",\"device\":\"" dev "\",\"level\":\"" level "\",\"at\":" at                       \
	",\"threats\":[{\"id\":\"t1\",\"category\":\"app\",\"name\":\"Sideloaded app\",\"level\":\"" level      \
	"\"}]}\n"

typedef struct scen {
	char dir[256];   /* the scenario's temporary directory (owned) */
	char db[300];    /* <dir>/m.db */
	char rules[300]; /* rules directory passed with --rules */
	int64_t now;     /* passed as --now (Unix seconds) */
	/* the last run */
	int status;      /* exit status; 128+N when killed by signal N; -1 when
			    it could not run or was stopped by the watchdog */
	char *out, *err; /* NUL-terminated stdout and stderr (owned) */
	char cmd[1024];  /* the last command line, for failure messages */
	void **owned;    /* freed by scen_free: paths, texts (scen_own) */
	size_t nowned;
	json_t **jsons;  /* released by scen_free (scen_ownj) */
	size_t njsons;
	int pid;         /* the last run's process id (the mtdgate process) */
} scen;

/* A new scenario in a fresh mkdtemp directory, rules = the default rules,
 * now = day 0. NULL on failure. */
scen *scen_new(void);
/* Remove the directory (kept when MTD_SCENARIO_KEEP is set) and free. */
void scen_free(scen *s);

/* Hand p (malloc'ed) or v to the scenario, which frees it in scen_free:
 * a failing assertion jumps out of the test, and nothing may leak then
 * (the suite also runs under LeakSanitizer). Return p / v. */
void *scen_own(scen *s, void *p);
json_t *scen_ownj(scen *s, json_t *v);
/* Compact JSON text of o, owned by s. */
const char *scen_jtext(scen *s, const json_t *o);

/* Set --now to day d (+ sec seconds) after SCEN_T0. */
void scen_day(scen *s, int d, int sec);

/* Write a file in the scenario directory; returns its path (owned by s). */
const char *scen_write(scen *s, const char *name, const void *data, size_t len);
const char *scen_writes(scen *s, const char *name, const char *text);
/* Path of name in the scenario directory (owned by s). */
const char *scen_path(scen *s, const char *name);
/* 1 when the file exists. */
int scen_exists(const char *path);
/* Read a whole file (malloc'ed, NUL-terminated) or NULL. */
char *scen_slurp(const char *path, size_t *len);

/* Run mtdgate with the global options (--db --plugins --rules --now) then
 * argv (NULL-terminated). stdin_path: a file for stdin, or NULL for
 * /dev/null. With raw set, no global options are added. Returns the exit
 * status, also kept in s->status with s->out and s->err. */
int scen_runv(scen *s, const char *stdin_path, int raw, const char *const *argv);

/* Run and check the exit status; on mismatch prints the command, stdout and
 * stderr and fails the test at file:line. */
void scen_expect_(scen *s, int want, const char *stdin_path, int raw, const char *file,
		  int line, ...);
#define RUN(s, want, ...) scen_expect_((s), (want), NULL, 0, __FILE__, __LINE__, __VA_ARGS__, \
				       (const char *)NULL)
#define RUN_IN(s, want, in, ...) scen_expect_((s), (want), (in), 0, __FILE__, __LINE__, \
					      __VA_ARGS__, (const char *)NULL)
#define RUN_RAW(s, want, ...) scen_expect_((s), (want), NULL, 1, __FILE__, __LINE__, \
					   __VA_ARGS__, (const char *)NULL)

/* Fail at file:line unless hay contains needle; shows the last run. */
void scen_contains_(scen *s, const char *hay, const char *needle, const char *what,
		    const char *file, int line);
#define OUT_HAS(s, needle) scen_contains_((s), (s)->out, (needle), "stdout", __FILE__, __LINE__)
#define ERR_HAS(s, needle) scen_contains_((s), (s)->err, (needle), "stderr", __FILE__, __LINE__)

/* `report --json` of one device, parsed (owned by s; fails the test when
 * the output is not one JSON object for it). */
json_t *scen_report_(scen *s, const char *device, const char *file, int line);
#define REPORT(s, dev) scen_report_((s), (dev), __FILE__, __LINE__)
/* `report --json` of all devices: stdout, owned by s. */
char *scen_report_all_(scen *s, const char *file, int line);
#define REPORT_ALL(s) scen_report_all_((s), __FILE__, __LINE__)
/* Count of JSON lines printed by the last run (fails on a non-JSON line). */
size_t scen_json_lines_(scen *s, const char *file, int line);
/* One integer from the scenario's store, read behind mtdgate's back (-1
 * when the query gives no row, 0 for NULL); fails the test when the query
 * cannot run. */
int64_t scen_q_int(scen *s, const char *sql);
/* A connection to the store at path that reads the packed decisions
 * (core/store.h; test_store checks their bytes): dslot(entries,
 * slot, field) is field 0 outcome, 1 evaluated_at, 2 since or 3 wiped_at
 * of a slot of a decision_blocks row; dslot_set(entries, slot, field, v)
 * the row's entries with it changed (for tampering); and a temporary view
 * decisions(device, outcome, evaluated_at, since, wiped_at) of every
 * device with a decision. scen_q_int runs on one. Fails the test when the
 * store cannot be opened; close with sqlite3_close. */
struct sqlite3;
struct sqlite3 *scen_sql_open(const char *path);
/* The entries of the row seq of a block log table (message_log,
 * decision_log), a copy owned by s, with the row's n and the bytes' *len:
 * for a test to find an entry in. Fails the test when there is no row. */
unsigned char *scen_log_entries(scen *s, const char *table, int64_t seq, int *n, size_t *len);
/* Behind mtdgate's back, the no-update trigger dropped first: byte off of
 * those entries from was to now. Fails the test when the byte is not was. */
void scen_poke_log(scen *s, const char *table, int64_t seq, size_t off, unsigned char was,
		   unsigned char now);

/* `connector list --json`, the object of vendor (owned by s). */
json_t *scen_connector_(scen *s, const char *vendor, const char *file, int line);
#define CONNECTOR(s, v) scen_connector_((s), (v), __FILE__, __LINE__)

/* Field accessors for assertions: the string value, or "<missing>". */
const char *jstr(const json_t *o, const char *key);
/* 1 when reasons (a JSON array of strings) has one containing every one of
 * the NULL-terminated needles. */
int has_reason(const json_t *o, ...);
/* Number of keys of object field key (-1 when not an object). */
int jsize(const json_t *o, const char *key);

/* Check JSON fields with a readable failure: state, level, access... */
void scen_field_(scen *s, const json_t *o, const char *key, const char *want, const char *file,
		 int line);
#define FIELD(s, o, key, want) scen_field_((s), (o), (key), (want), __FILE__, __LINE__)

/* Common setup: init, import devices (JSON lines text), add the generic
 * connector and provision it. */
void scen_setup_(scen *s, const char *devices, const char *file, int line);
#define SETUP(s, devices) scen_setup_((s), (devices), __FILE__, __LINE__)

/* Ingest normalized messages (JSON lines text) on generic; checks exit want
 * (0 or 65). */
void scen_ingest_(scen *s, int want, const char *jsonl, const char *file, int line);
#define INGEST(s, jsonl) scen_ingest_((s), 0, (jsonl), __FILE__, __LINE__)

/* A copy of the default rules in <dir>/<name>, policy.lua's compliance
 * function prefixed by inject (may be NULL), groups.lua replaced by groups
 * when not NULL. Returns the directory (owned by s). */
const char *scen_rules_copy(scen *s, const char *name, const char *inject, const char *groups);
/* The default rules with rules/tasks.lua switched on (policy.lua's
 * USE_TASKS), in <dir>/tasks-rules. Returns the directory (owned by s). */
const char *scen_tasks_rules(scen *s);

#endif
