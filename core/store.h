/* store: the SQLite database. Owns the schema, its migrations and every SQL
 * statement (prepared once). Callers bind, step, and leave the statement to
 * be reset by the next mtd_store_stmt() call. */
#ifndef MTD_STORE_H
#define MTD_STORE_H

#include <sqlite3.h>
#include <stdint.h>

#include "mtdgate/mtdgate.h" /* mtd_devset */
#include "sha256.h"

#define MTD_SCHEMA_VERSION 12

/* Every statement the engine runs; SQL text in store.c. */
enum mtd_sql {
	SQL_META_GET,
	SQL_META_SET,
	SQL_GROUP_UPSERT,
	SQL_GROUP_ID,
	SQL_GROUPSET_INSERT,
	SQL_GROUPSET_ID,
	SQL_GROUPSET_MEMBER,
	SQL_GROUPSET_ALL,
	SQL_DEVICE_UPSERT,
	SQL_DEVICE_ID,
	SQL_DEVICE_MAX_ID,
	SQL_CONN_INSERT,
	SQL_CONN_GET,
	SQL_CONN_ALL,
	SQL_CONN_UPDATE,
	SQL_CONN_CONTACT,
	SQL_CONN_REJECTED,
	SQL_REPORT_UPSERT,
	SQL_APPS_DELETE_DEVICE,
	SQL_APP_INSERT,
	SQL_EVAL_DEVICES,
	SQL_EVAL_DEVICES_SLIM,
	SQL_EVAL_REPORTS,
	SQL_EVAL_REPORTS_SLIM,
	SQL_DEVICE_DETAIL,
	SQL_REPORT_DETAIL,
	SQL_REPORTS_OF_DEVICE,
	SQL_EVAL_DECISIONS,
	SQL_DBLOCK_INSERT,
	SQL_DBLOCK_UPDATE,
	SQL_DBLOCK_GET,
	SQL_OUTCOME_BY_DIGEST,
	SQL_OUTCOME_GET,
	SQL_OUTCOME_INSERT,
	SQL_DECISION_LOG_INSERT,
	SQL_DECISION_LOG_LAST,
	SQL_MESSAGE_LOG_INSERT,
	SQL_REPORT_SCAN,
	SQL_AUDIT_INSERT,
	SQL_APPS_OF_DEVICE,
	SQL_AUDIT_LAST,
	SQL_APPSYNC_SCAN,
	/* device identity, parking, threat lifecycle (schema 7) */
	SQL_DEVICE_EXT,
	SQL_IDS_GET,
	SQL_IDS_PUT,
	SQL_IDS_DELETE_KIND,
	SQL_DEVICES_BY_USER,
	SQL_PARK_INSERT,
	SQL_PARK_ALL,
	SQL_PARK_BY_VENDOR_ID,
	SQL_PARK_DELETE,
	SQL_PARK_EXPIRED,
	SQL_REPORT_STATE,
	SQL_REPORT_PUT,
	SQL_EVENTS_OF,
	SQL_EVENT_GET,
	SQL_EVENT_PUT,
	SQL_EVENTS_DELETE_BEFORE,
	SQL_ROW_LOG_INSERT,
	/* incremental evaluation: what changed since a sequence number */
	SQL_AUDIT_SINCE,
	SQL_DECISION_LOG_SINCE,
	SQL_MESSAGE_LOG_SINCE,
	SQL_ROW_LOG_SINCE,
	SQL_EVALUATE_LAST,
	/* security tasks (schema 11) */
	SQL_TASK_GET,
	SQL_TASK_PUT,
	SQL_TASKS_OPEN_OF,
	SQL_TASKS_LIST,
	SQL_TASKS_NEXT_AGE,
	/* decision changes for followers (events.c) */
	SQL_DECISION_LOG_EVENTS,
	SQL_DECISION_LOG_HEAD,
	/* erasable personal data (schema 10) */
	SQL_AUDIT_INSERT_PD,
	SQL_DEVICE_SALT,
	SQL_DEVICE_SALT_NEW,
	/* Statements of the store's parts (store_*.c), each part's after its
	 * own line: audit (store_audit.c) */
	SQL_AUDIT_CONN_ID,
	SQL_AUDIT_CONN_VENDOR,
	SQL_AUDIT_HEAD,
	SQL_AUDIT_OUTCOME,
	SQL_AUDIT_LAST_PRUNED,

	/* fleet: device removal, show, export, SQL files (store_fleet.c) */
	SQL_FLEET_DEVICES,
	SQL_FLEET_DEVICE_IDS,
	SQL_FLEET_OPEN_THREATS,

	/* ingest and pull (store_ingest.c) */
	SQL_PULL_STATE_GET,
	SQL_PULL_STATE_PUT,
	SQL_PULL_STATE_DELETE,
	SQL_PULL_SEEN_GET,
	SQL_PULL_SEEN_PUT,
	SQL_PULL_SEEN_TRIM,
	SQL_PULL_SEEN_MAX,

	/* tasks, connectors, events, App Sync (store_rows.c) */

	SQL__COUNT
};

typedef struct mtd_store mtd_store;

/* Open the store at path. mode MTD_STORE_CREATE makes it (mode 0600) when
 * missing; it and MTD_STORE_WRITE bring the schema to MTD_SCHEMA_VERSION,
 * where a missing file is MTD_ENOTFOUND. MTD_STORE_READONLY only reads (a
 * store on read-only media, for audit verify): nothing is written, not even
 * a migration, so the store must have MTD_SCHEMA_VERSION. Message into err. */
enum { MTD_STORE_WRITE, MTD_STORE_CREATE, MTD_STORE_READONLY };
int mtd_store_open(const char *path, int mode, mtd_store **out, char *err, size_t n);

/* How a store waits for the write lock another connection holds, and what
 * it says about what it did on open. */
typedef struct mtd_store_opts {
	int64_t wait_ms; /* how long a writer waits for the lock; < 0: the
			    default (MTD_STORE_WAIT_MS), 0: not at all */
	/* Called about once a second while waiting (waited, of wait_ms), and
	 * once with what == "migrated" after a migration (waited 0): msg says
	 * from which version and where the backup is. May be NULL. */
	void (*note)(void *ud, const char *what, int64_t waited_ms, int64_t wait_ms,
		     const char *msg);
	void *ud;
} mtd_store_opts;
#define MTD_STORE_WAIT_MS 30000
/* mtd_store_open with opts (NULL: the defaults). A store that stays locked
 * longer than wait_ms fails with MTD_EBUSY (also from mtd_store_begin).
 * Before a store of an older schema is migrated it is copied (VACUUM INTO)
 * to "PATH.schema-N.bak" (or ".bak.2", ... when that exists), mode 0600. */
int mtd_store_open_ex(const char *path, int mode, const mtd_store_opts *opts, mtd_store **out,
		      char *err, size_t n);
/* Reading only: 1 makes every write on this connection fail (PRAGMA
 * query_only), 0 allows them again. 0 or MTD_ESTORE. */
int mtd_store_query_only(mtd_store *s, int on);
void mtd_store_close(mtd_store *s);
/* 1 when opened with MTD_STORE_READONLY (and not migrated instead). */
int mtd_store_is_readonly(const mtd_store *s);
sqlite3 *mtd_store_db(mtd_store *s);
/* SQLite's data_version of this connection: changes when another
 * connection (another process) commits. 0 or MTD_ESTORE. */
int mtd_store_data_version(mtd_store *s, int64_t *v);
/* The database file's size in bytes (pages in use and free; not the WAL). */
int mtd_store_size(mtd_store *s, uint64_t *bytes);
/* The prepared statement, reset and unbound; NULL on failure (see errmsg). */
sqlite3_stmt *mtd_store_stmt(mtd_store *s, enum mtd_sql which);
/* The same, reset but still bound as last time: for a caller that binds
 * every parameter (unbinding them all was a tenth of a report's upsert). */
sqlite3_stmt *mtd_store_stmt_rebind(mtd_store *s, enum mtd_sql which);
const char *mtd_store_errmsg(mtd_store *s);
/* For the store's parts (store_*.c): a one-shot statement of sql into *st,
 * which the caller finalizes: 0, or MTD_ESTORE (errmsg says why). */
int mtd_store_prepare(mtd_store *s, const char *sql, sqlite3_stmt **st);
/* Every statement reset: one a caller left stepped (the convention above)
 * keeps its read transaction, and with it a snapshot from before other
 * processes' commits, open. Outside transactions only. */
void mtd_store_idle(mtd_store *s);

/* BEGIN IMMEDIATE: waits for the write lock as opts said; MTD_EBUSY when it
 * stayed locked, MTD_ESTORE otherwise. */
int mtd_store_begin(mtd_store *s);
/* The highest device row id (0 without devices, or -1 on a store error):
 * an upper bound of the fleet's size, for sizing and progress. */
int64_t mtd_store_max_device(mtd_store *s);
/* Each group set that devices have, with how many: key is its group
 * names joined by '\n' (borrowed for the call; "" for no group). fn's
 * nonzero result stops and is returned. */
int mtd_store_groupset_devices(mtd_store *s, int (*fn)(void *ud, const char *key, int64_t n),
			       void *ud);
int mtd_store_commit(mtd_store *s);
void mtd_store_rollback(mtd_store *s);
/* A read transaction: one snapshot for every read until mtd_store_read_end
 * (a deferred BEGIN; MTD_ESTORE on failure, mtd_store_errmsg says why). */
int mtd_store_read_begin(mtd_store *s);
void mtd_store_read_end(mtd_store *s);

/* Meta values (e.g. "cloud"): copies into buf; MTD_ENOTFOUND when unset. */
int mtd_store_meta_get(mtd_store *s, const char *key, char *buf, size_t n);
int mtd_store_meta_set(mtd_store *s, const char *key, const char *value);

/* Append one audit record, chained by hash to the one before. vendor/device may be NULL. detail is a short
 * JSON object text. */
int mtd_store_audit(mtd_store *s, int64_t at, const char *kind,
		    const char *vendor, const char *device, const char *detail);

/* The hash that chains an audit record to the previous one (prev: 32 zero
 * bytes for the first): SHA-256 over prev, seq, at and the length-prefixed
 * kind, vendor, device, detail. */
void mtd_audit_hash(const unsigned char prev[32], int64_t seq, int64_t at, const char *kind,
		    const char *vendor, const char *device, const char *detail,
		    unsigned char out[32]);

/* ---- erasable personal data (schema 10; README, "Removing a device") ----
 * An audit record written since schema 10 chains, instead of its device and
 * detail, pd: the SHA-256 of a random salt (kept in the record) and the
 * two, length-prefixed (mtd_audit_pdigest). Erasing a record sets device
 * and salt to NULL and detail to MTD_AUDIT_ERASED, and keeps pd: the chain
 * still holds, and what was erased cannot be guessed back from pd. */
#define MTD_AUDIT_SALT 16
#define MTD_AUDIT_ERASED "{\"erased\":true}"
void mtd_audit_pdigest(const unsigned char salt[MTD_AUDIT_SALT], const char *device,
		       const char *detail, unsigned char out[32]);
/* The chain hash of a record with pd: as mtd_audit_hash, with pd (marked)
 * in place of device and detail. */
void mtd_audit_hash_pd(const unsigned char prev[32], int64_t seq, int64_t at, const char *kind,
		       const char *vendor, const unsigned char pd[32], unsigned char out[32]);
/* The first 8 bytes of SHA-256 over salt (nsalt bytes, may be 0) and
 * p[0..n), big-endian, low bit set (never 0): a covered row's key text as
 * audit verify compares it. */
uint64_t mtd_text_key(const void *salt, size_t nsalt, const char *p, size_t n);
/* Since schema 10 the row log keys an identifier (device_ids) not by its
 * text (kind, MTD_IDS_SEP, value) but by MTD_IDS_HASHED and the 8 bytes of
 * mtd_text_key(its device's salt, that text): out. A device's salt goes
 * with the device, and with it any way to tell its identifiers from the
 * log. (mtd_store_row_logged does this given the device as k1.) */
#define MTD_IDS_HASHED 0xff
#define MTD_IDS_LOGKEY 9
void mtd_ids_logkey(uint64_t kt, unsigned char out[MTD_IDS_LOGKEY]);
/* The device's salt (device_salts, a covered table: one row a device, made
 * with it by mtd_store_device_salt_new) into salt (16 bytes), its length
 * in *n (0: none). */
int mtd_store_device_salt(mtd_store *s, int64_t device, unsigned char salt[16], size_t *n);

/* ---- sealed logs ----
 * Bulk records go to compact append-only tables instead of one audit record
 * each: outcomes (the interned results decisions point to), decision_log
 * (every decision change) and message_log (every accepted message). Each
 * row takes the next number of the audit sequence; the rows of a log since
 * its last seal are covered by a 'seal' audit record (in the hash chain)
 * whose detail carries their count and the SHA-256 of their columns in
 * order (mtd_log_hash_row). mtd_store_commit seals what is pending, and a
 * log seals every MTD_SEAL_ROWS rows, so every committed row is sealed. */
enum { MTD_LOG_OUTCOMES, MTD_LOG_DECISIONS, MTD_LOG_MESSAGES, MTD_LOG_ROWS, MTD_LOG__COUNT };
#define MTD_SEAL_ROWS 65536
/* decision_log, message_log and row_log store entries in blocks (one row of up to
 * MTD_BLOCK_ENTRIES entries, about MTD_BLOCK_BYTES): entry i of a row has
 * the sequence number seq + i. A block is written before any audit record,
 * seal or commit, so numbers stay in order. */
#define MTD_BLOCK_ENTRIES 1024
#define MTD_BLOCK_BYTES 32768

/* The entries blob of a block written since schema 6 starts with a layout
 * byte, MTD_LOG_COMPACT (schema 6) or MTD_LOG_ROWS_LAYOUT (schema 7); each
 * entry is then relative to the one before it in the block (the first to
 * zeros). "d(x)" is the zigzag varint (as decision blocks, below) of x minus
 * the previous entry's x, wrapping as unsigned 64-bit; "z(x)" the zigzag
 * varint of x; "u(x)" a plain varint; "D" MTD_ROW_DIGEST bytes.
 *   decisions: d(device) d(outcome) d(prev)
 *   messages:  d(device) z(type) z(level) d(msg_at) u(code ? ncode + 1 : 0)
 *              [code bytes]
 * A block written since schema 7 starts with MTD_LOG_VIA instead: the same
 * entries, a message's with u(via) before its code's length: how its
 * device was named (0: by "device" or none, k + 1: device_ref kind k,
 * codec.h's MTD_REF_*). Since schema 8 blocks start with
 * MTD_LOG_ROWS_LAYOUT: as MTD_LOG_VIA, and a message with a device ends
 * with u(table + 1 of the row it wrote, 0: none) [D] (the row keyed
 * (device, the block's connector)); and row_log's entries are
 *   rows:      u(table) d(k1) d(k2) u(ktext ? nktext + 1 : 0) [ktext bytes]
 *              u(present) [D when present]
 * (a block of consecutive devices with one outcome: 3 bytes an entry). An
 * older block starts with 0 or 1, the null flag of its first value: each
 * value a flag byte (0 null) and unless null z(value): device, outcome,
 * prev (null: none), or device (null: none), type, level (null: none),
 * msg_at, then code as a flag and z(ncode) and the bytes. */
#define MTD_LOG_COMPACT 2
#define MTD_LOG_VIA 3
#define MTD_LOG_ROWS_LAYOUT 4

/* ---- covered rows ----
 * Every row that feeds a decision is "covered": each write of it (or its
 * deletion) appends a log entry naming the row by key with a digest of the
 * row as stored, and audit verify checks every current row against the
 * entry that last wrote it. A report carries its digest in the message entry
 * that wrote it (a few bytes a message); every other write goes to the row
 * log, row_log (MTD_LOG_ROWS). Schema 8 recorded a baseline of the rows
 * stored before it, schema 9 of device_ids, parked and threat_events.
 *
 * A table's key is (k1, k2, ktext): integers and a text, unused parts 0
 * and NULL. Its digest is the first MTD_ROW_DIGEST bytes of SHA-256 over
 * the table's number and its scan's columns (key first) in the seals'
 * encoding (mtd_log_hash_row). 8 bytes: a row forged to match a 4-byte
 * digest takes minutes of brute force, 8 bytes is out of reach.
 *
 * How a new table joins: one X line below (enum name, table, the scan's
 * columns: k1, k2, ktext, then every column that matters, the FROM clause,
 * the key condition on ?1 k1, ?2 k2, ?3 ktext, and an SQL expression on
 * ?1..?3 that names the row for a person), then after every statement that
 * writes or deletes one of its rows, in the same transaction,
 * mtd_store_row_logged(s, at, MTD_ROW_..., k1, k2, ktext, n). Append only:
 * the numbers are in the log. (device_ids: k1 is the device the
 * identifier is or was of, for its salt; see MTD_IDS_HASHED.) */
/* A reports row as digested; also what its writers' RETURNING gives. */
#define MTD_REPORTS_ROW                                                                            \
	"device, connector, NULL, level, at, received, os_supported, threats, nevents,"          \
	" snap_level, snap_at, snap_threats, cause"
/* device_ids is keyed by two texts: its ktext is kind, MTD_IDS_SEP, value
 * (no kind contains the separator; mtd_ids_key builds one). */
#define MTD_IDS_SEP '\x1f'
#define MTD_IDS_KEY_(p)                                                                            \
	p "kind = substr(?3, 1, instr(?3, char(31)) - 1) AND " p                                   \
	  "value = substr(?3, instr(?3, char(31)) + 1)"
#define MTD_IDS_KEY MTD_IDS_KEY_("")
#define MTD_IDS_KEY_I MTD_IDS_KEY_("i.")
#define MTD_COVERED_TABLES(X)                                                                      \
	X(MTD_ROW_META, "meta", "0, 0, key, value", "meta", "key = ?3",                           \
	  "printf('meta setting %Q', ?3)")                                                         \
	X(MTD_ROW_GROUPS, "groups", "id, 0, NULL, name", "groups", "id = ?1",                     \
	  "printf('group %d (%s)', ?1, coalesce((SELECT name FROM groups WHERE id = ?1), 'removed'))") \
	X(MTD_ROW_GROUPSETS, "groupsets", "id, 0, NULL, key", "groupsets", "id = ?1",             \
	  "printf('group set %d', ?1)")                                                             \
	X(MTD_ROW_GROUPSET_MEMBERS, "groupset_members", "groupset, grp, NULL", "groupset_members",  \
	  "groupset = ?1 AND grp = ?2", "printf('member %d of group set %d', ?2, ?1)")           \
	X(MTD_ROW_DEVICES, "devices",                                                              \
	  "id, 0, NULL, ext_id, platform, os_version, corporate, enrolled, user, groupset,"        \
	  " updated_at", "devices", "id = ?1",                                                      \
	  "printf('device %Q (row %d)', (SELECT ext_id FROM devices WHERE id = ?1), ?1)")          \
	X(MTD_ROW_CONNECTORS, "connectors",                                                        \
	  "id, 0, NULL, vendor, state, provisioned, removed, error_code, last_contact, added_at,"  \
	  " platforms, mam_platforms, appsync_ios, appsync_personal_ios, block_unsupported_os,"    \
	  " block_missing_data, unresponsive_days, rejected, parked_days", "connectors", "id = ?1", \
	  "printf('connector %Q (row %d)', (SELECT vendor FROM connectors WHERE id = ?1), ?1)")    \
	X(MTD_ROW_REPORTS, "reports", MTD_REPORTS_ROW, "reports",                                  \
	  "device = ?1 AND connector = ?2",                                                         \
	  "printf('the report of device %Q from %Q', (SELECT ext_id FROM devices WHERE id = ?1),"   \
	  " (SELECT vendor FROM connectors WHERE id = ?2))")                                        \
	X(MTD_ROW_APPS, "apps",                                                                    \
	  "device, 0, app_id, version, short_version, name, bundle_size, dynamic_size,"            \
	  " adhoc_signed, app_store, beta, vpp, validated, managed", "apps",                       \
	  "device = ?1 AND app_id = ?3",                                                            \
	  "printf('app %Q of device %Q', ?3, (SELECT ext_id FROM devices WHERE id = ?1))")         \
	X(MTD_ROW_DEVICE_IDS, "device_ids", "0, 0, kind || char(31) || value, device",            \
	  "device_ids", MTD_IDS_KEY,                                                               \
	  "printf('identifier %s %Q of device %Q', substr(?3, 1, instr(?3, char(31)) - 1),"        \
	  " substr(?3, instr(?3, char(31)) + 1), (SELECT d.ext_id FROM device_ids i"              \
	  " JOIN devices d ON d.id = i.device WHERE " MTD_IDS_KEY_I "))")                          \
	X(MTD_ROW_PARKED, "parked", "id, 0, NULL, connector, received, reason, vendor_id, msg",   \
	  "parked", "id = ?1",                                                                      \
	  "printf('parked message %d%s', ?1, coalesce((SELECT ' from ' || quote(c.vendor)"        \
	  " FROM parked p JOIN connectors c ON c.id = p.connector WHERE p.id = ?1), ''))")         \
	X(MTD_ROW_THREAT_EVENTS, "threat_events",                                                  \
	  "device, connector, id, open, at, category, name, level, since", "threat_events",       \
	  "device = ?1 AND connector = ?2 AND id = ?3",                                             \
	  "printf('threat %Q of device %Q from %Q', ?3, (SELECT ext_id FROM devices WHERE id = ?1)," \
	  " (SELECT vendor FROM connectors WHERE id = ?2))")                                        \
	X(MTD_ROW_DEVICE_SALTS, "device_salts", "device, 0, NULL, salt", "device_salts",           \
	  "device = ?1",                                                                             \
	  "printf('the salt of device %Q', (SELECT ext_id FROM devices WHERE id = ?1))")    \
	X(MTD_ROW_TASKS, "tasks",                                                                  \
	  "device, connector, id, kind, cve, software, version, severity, first_seen, open, at,"   \
	  " received", "tasks", "device = ?1 AND connector = ?2 AND id = ?3",                       \
	  "printf('task %Q of device %Q from %Q', ?3, (SELECT ext_id FROM devices WHERE id = ?1),"  \
	  " (SELECT vendor FROM connectors WHERE id = ?2))")

#define MTD_ROW_ENUM_(e, t, c, f, k, l) e,
enum mtd_row_table { MTD_COVERED_TABLES(MTD_ROW_ENUM_) MTD_ROW__COUNT };
#define MTD_ROW_DIGEST 8

/* A covered table's SQL: its name, the scan of every row, the row by key,
 * the row's name for a person; NULL for a table that is not one. Static. */
const char *mtd_row_table_name(int table);
const char *mtd_row_scan_sql(int table);
const char *mtd_row_get_sql(int table);
const char *mtd_row_label_sql(int table);
/* The digest of the current row of st, whose columns are table's scan's. */
void mtd_row_digest(int table, sqlite3_stmt *st, unsigned char out[MTD_ROW_DIGEST]);
/* The digest mtd_row_digest gives the reports row that SQL_REPORT_UPSERT
 * writes from these values (os_supported -1: NULL; threats NULL: NULL). */
void mtd_report_digest(int64_t device, int64_t connector, int level, int64_t at,
		       int64_t received, int os_supported, const void *threats, size_t nthreats,
		       unsigned char out[MTD_ROW_DIGEST]);
/* After a write or deletion of the row (k1, k2, ktext) of a covered table,
 * in the same transaction: a row log entry with the row's digest as now
 * stored (read back by key), or that it is gone. ktext may be NULL. */
int mtd_store_row_logged(mtd_store *s, int64_t at, int table, int64_t k1, int64_t k2,
			 const char *ktext, size_t nktext);
/* device_ids' ktext of (kind, value) into buf (size n): its length, or 0
 * when it does not fit or kind contains MTD_IDS_SEP. */
size_t mtd_ids_key(char *buf, size_t n, const char *kind, size_t nkind, const char *value,
		   size_t nvalue);
/* The digest of that row as now stored into out: 1, or 0 when there is no
 * such row, or MTD_ESTORE. */
int mtd_store_row_digest_of(mtd_store *s, int table, int64_t k1, int64_t k2, const char *ktext,
			    size_t nktext, unsigned char out[MTD_ROW_DIGEST]);

/* In the open transaction: a baseline row log entry for every row of every
 * covered table as now stored, and a 'baseline' audit record (audit prune:
 * the rows whose last entries it removes are covered again). */
int mtd_store_rebaseline(mtd_store *s);

/* One entry of a block, decoded. */
typedef struct mtd_log_entry {
	int64_t device;          /* devices.id; 0: none (not a threat message); rows: k1 */
	int64_t outcome, prev;   /* decisions: new outcome, previous (0 none) */
	int type, level;         /* messages: MTD_MSG_*, level (-1 none) */
	int via;                 /* messages: how the device was named (above) */
	int64_t msg_at;          /* messages: the time the message carries */
	const char *code;        /* messages: error code, NULL none; borrowed */
	size_t ncode;
	int layout;              /* the block's: 0 before its first entry is read */
	/* messages (the row written, keyed device and connector) and rows */
	int table;               /* MTD_ROW_*; -1: no row written */
	int present;             /* rows: 1 written, 0 deleted */
	int64_t k2;              /* rows */
	const char *ktext;       /* rows: NULL none; borrowed */
	size_t nktext;
	unsigned char digest[MTD_ROW_DIGEST];
} mtd_log_entry;
/* Decode the entry at *p (advanced past it); -1 when malformed. e is also
 * the state of the walk through a block: zero it before the block's first
 * entry and pass the same e for each next one. */
int mtd_log_entry_decode(int log, const unsigned char **p, const unsigned char *end,
			 mtd_log_entry *e);

/* An outcome: everything of a decision that is not per device. Texts are
 * JSON (vendors object, reasons and resources arrays), borrowed. */
typedef struct mtd_outcome_row {
	int64_t digest; /* FNV of the contents; a hint, contents are compared */
	int state, level, access, app_action;
	const char *vendors, *reasons, *resources;
} mtd_outcome_row;

/* Append an outcome; *id is its sequence number (decisions refer to it). */
int mtd_store_log_outcome(mtd_store *s, int64_t at, const mtd_outcome_row *o, int64_t *id);
/* A decision change of device (row id) to outcome; prev 0 when none.
 * Entries go to the open block (written at the next audit record, seal
 * or commit). */
int mtd_store_log_decision(mtd_store *s, int64_t at, int64_t device, int64_t outcome,
			   int64_t prev);
/* An accepted message; device 0 and level -1 when not a threat; via as
 * the entry layout says; code (error messages) may be NULL. row: the
 * digest of the reports row (device, connector) the message wrote
 * (mtd_row_digest of it as stored), NULL when it wrote none (an older
 * report than the stored one, or no device). */
int mtd_store_log_message(mtd_store *s, int64_t at, int64_t connector, int64_t device,
			  int type, int level, int via, int64_t msg_at, const char *code,
			  size_t ncode, const unsigned char *row);
/* Seal every log with pending rows (at: the seal's time, 0 for the last
 * row's). */
int mtd_store_seal(mtd_store *s, int64_t at);
/* Every column of the current row of st into a seal's digest, by its
 * SQLite type: the encoding the writers use for the values they bind. */
void mtd_log_hash_row(mtd_sha256 *c, sqlite3_stmt *st, int ncols);
/* A seal's detail text into buf; -1 when it does not fit. */
int mtd_seal_detail(const char *log, uint64_t rows, const unsigned char digest[32], char *buf,
		    size_t n);
const char *mtd_log_name(int log);

/* ---- current decisions ----
 * The decision of every device, packed MTD_DBLOCK_SLOTS devices to a row
 * of decision_blocks(blk, entries): device row id d is slot
 * d % MTD_DBLOCK_SLOTS of block d / MTD_DBLOCK_SLOTS. A row per device
 * cost a B-tree insert per device, half of a first evaluation. Written
 * only by evaluate (and migrations); not in the audit chain, whose
 * decision log audit verify checks them against.
 *
 * entries is the MTD_DBLOCK_SLOTS slots in order, each a tag byte, then
 * for tag 1 (decided) or 2 (decided, and a wipe issued) varints: the
 * outcome, evaluated_at as the difference from the previous decided slot's
 * (0 before the first), evaluated_at - since, and for tag 2 evaluated_at -
 * wiped_at. Tag 0 is a slot without a decision. A varint is 7 bits a byte,
 * low first, high bit set on all but the last, of a zigzag-mapped signed
 * value (0, -1, 1, -2 -> 0, 1, 2, 3); differences wrap modulo 2^64, so
 * every value round-trips. A fleet decided at once takes about 5 bytes a
 * device. */
#define MTD_DBLOCK_SLOTS 256
#define MTD_DBLOCK_MAX (MTD_DBLOCK_SLOTS * (1 + 4 * 10)) /* longest entries */

typedef struct mtd_dslot {
	int64_t outcome; /* 0: no decision (the rest is then 0) */
	int64_t evaluated_at, since;
	int64_t wiped_at; /* 0: no wipe */
} mtd_dslot;

/* Encode the MTD_DBLOCK_SLOTS slots into out (MTD_DBLOCK_MAX bytes): the
 * length written. */
size_t mtd_dblock_encode(const mtd_dslot *slots, unsigned char *out);
/* Decode entries (len bytes) into MTD_DBLOCK_SLOTS slots: 0, or -1 when
 * they are not exactly that many well-formed slots. */
int mtd_dblock_decode(const unsigned char *p, size_t len, mtd_dslot *slots);
/* The slots of block blk: 0, MTD_ENOTFOUND when the store has no such row
 * (slots are then all empty), MTD_ESTORE (errmsg says) on a read error or
 * entries that do not decode. */
int mtd_store_dblock_get(mtd_store *s, int64_t blk, mtd_dslot *slots);
/* Write block blk: an update when the store has the row (exists), else an
 * insert. */
int mtd_store_dblock_put(mtd_store *s, int64_t blk, int exists, const mtd_dslot *slots);
/* The slots of block blk, whose entries are column i of st's row: 0, or -1
 * with the reason in why (n bytes) when blk is not a block number or the
 * entries do not decode. */
int mtd_dblock_column(sqlite3_stmt *st, int i, int64_t blk, mtd_dslot *slots, char *why,
		      size_t n);

/* ---- the evaluation's rows (SQL_EVAL_*, SQL_*_DETAIL), typed ----
 * Strings and blobs are borrowed from the statement until it steps or is
 * reset; the column numbers live next to the SQL, here in the store. */

/* The key (device or block row id) of a row of an evaluation scan:
 * SQL_EVAL_DEVICES[_SLIM], SQL_EVAL_REPORTS[_SLIM], SQL_EVAL_DECISIONS. */
int64_t mtd_eval_row_key(sqlite3_stmt *st);

/* A row of SQL_EVAL_DEVICES[_SLIM] without its key (the device's row id,
 * mtd_eval_row_key: the scan read it already) and its texts. */
typedef struct mtd_eval_device {
	int64_t groupset;
	int platform, corporate, enrolled;
} mtd_eval_device;
void mtd_eval_device_read(sqlite3_stmt *st, mtd_eval_device *row);
/* The row's external id ("?" when out of memory). */
const char *mtd_eval_device_ext(sqlite3_stmt *st);

/* os_version and user (NULL when NULL) with their lengths: of a full
 * SQL_EVAL_DEVICES row (full 1) or a SQL_DEVICE_DETAIL row (full 0). */
typedef struct mtd_device_detail {
	const char *os_version, *user;
	size_t nos_version, nuser;
} mtd_device_detail;
void mtd_device_detail_read(sqlite3_stmt *st, int full, mtd_device_detail *row);

/* A row of SQL_EVAL_REPORTS[_SLIM] (full 1 / 0; its key, the device, by
 * mtd_eval_row_key) or, with only connector, at and threats set, of
 * SQL_REPORT_DETAIL. threats: NULL unless a blob (as ingest writes it); at
 * and threats 0 / NULL in a slim row. */
typedef struct mtd_eval_report {
	int64_t connector, at;
	int level;
	int os_supported; /* -1 unknown */
	int cause;        /* index in threats of the open threat setting level, -1 none */
	const void *threats;
	size_t nthreats;
} mtd_eval_report;
void mtd_eval_report_read(sqlite3_stmt *st, int full, mtd_eval_report *row);
void mtd_report_detail_read(sqlite3_stmt *st, mtd_eval_report *row);

/* A row of SQL_REPORTS_OF_DEVICE: a vendor's latest report of the device
 * (vendor NULL when NULL). */
typedef struct mtd_device_report {
	const char *vendor;
	size_t nvendor;
	int level;
	int64_t at, received;
} mtd_device_report;
void mtd_device_report_read(sqlite3_stmt *st, mtd_device_report *row);

/* A row of SQL_GROUPSET_ALL: a group set's id and key (its groups' names,
 * one a line; "" for NULL). */
typedef struct mtd_groupset_row {
	int64_t id;
	const char *key;
} mtd_groupset_row;
void mtd_groupset_row_read(sqlite3_stmt *st, mtd_groupset_row *row);

/* A row of SQL_OUTCOME_BY_DIGEST or SQL_OUTCOME_GET: a stored outcome
 * and its sequence number; 0, or MTD_ESTORE when a text is NULL (or out
 * of memory). */
typedef struct mtd_stored_outcome {
	int64_t seq;
	int state, level, access, app_action;
	const char *vendors, *reasons, *resources;
} mtd_stored_outcome;
int mtd_stored_outcome_read(sqlite3_stmt *st, mtd_stored_outcome *row);

/* A row of SQL_APPS_OF_DEVICE: texts NULL and numbers -1 for NULL. */
typedef struct mtd_app_row {
	const char *app_id, *version, *short_version, *name;
	int64_t bundle_size, dynamic_size;
	int adhoc_signed, app_store, beta, vpp, validated, managed;
} mtd_app_row;
void mtd_app_row_read(sqlite3_stmt *st, mtd_app_row *row);

/* The value of SQL_DECISION_LOG_LAST's row. */
int64_t mtd_decision_log_last_read(sqlite3_stmt *st);

/* The slots of a SQL_EVAL_DECISIONS row, whose block is blk (its key,
 * mtd_eval_row_key); as mtd_dblock_column. */
int mtd_eval_decisions_read(sqlite3_stmt *st, int64_t blk, mtd_dslot *slots, char *why,
			    size_t n);

/* A row of SQL_REPORT_SCAN: a device's external id, platform, management
 * and row id. */
typedef struct mtd_report_scan_row {
	const char *ext_id;
	int platform, enrolled;
	int64_t id;
} mtd_report_scan_row;
void mtd_report_scan_row_read(sqlite3_stmt *st, mtd_report_scan_row *row);

/* Bind a text of known length, NULL pointer binds SQL NULL. The text is
 * borrowed: keep it alive until the statement has been stepped. */
int mtd_bind_text(sqlite3_stmt *st, int i, const char *p, size_t n);
/* For the store's parts (store_*.c): text column i of st's row (NULL when
 * NULL; borrowed until the statement steps or resets) and its length in
 * *n; integer column i, or -1 when NULL. mtd_col_text is inline: readers
 * call it for every row (a call each was 1% of an App Sync answer). */
static inline const char *mtd_col_text(sqlite3_stmt *st, int i, size_t *n)
{
	const char *t = (const char *)sqlite3_column_text(st, i);
	*n = t ? (size_t)sqlite3_column_bytes(st, i) : 0;
	return t;
}
int64_t mtd_col_int_or(sqlite3_stmt *st, int i);

/* ---- devices touched (incremental evaluation) ----
 * What a log entry or audit record means for decisions: nothing, the one
 * device it names (a row log entry's k1, a message's device), or every
 * device. The same answer for a write of this handle (tracked as it is
 * made) and for one another process made (read back from the logs). */
enum { MTD_TOUCH_NONE, MTD_TOUCH_DEVICE, MTD_TOUCH_ALL };
int mtd_touch_of_row(int table);
int mtd_touch_of_audit(const char *kind);
/* Track (on) or not the devices this connection's writes touch; what a
 * transaction touched counts once it commits. */
void mtd_store_track(mtd_store *s, int on);
/* Move the devices touched by committed writes into out; MTD_ENOMEM (out
 * then holds all). */
int mtd_store_touched(mtd_store *s, mtd_devset *out);
/* What every writer committed after sequence number *seq (the audit
 * sequence the logs share): the devices whose decision inputs changed into
 * touched (as mtd_touch_of_*), those whose decision was written into
 * decided (may be NULL); *seq becomes the last number read. *seq < 0:
 * since the last evaluation that changed decisions (nothing when the store
 * was never evaluated). Run inside a read transaction for a consistent
 * answer. MTD_ESTORE, or MTD_ENOMEM (the sets then hold all). */
int mtd_store_changes_since(mtd_store *s, int64_t *seq, mtd_devset *touched, mtd_devset *decided);
/* The last committed audit sequence number into *seq (0 none). */
int mtd_store_last_seq(mtd_store *s, int64_t *seq);
/* Add from's devices to into and empty from (devset.c). */
int mtd_devset_merge(mtd_devset *into, mtd_devset *from);
/* The row id of the device with external id ext: 0, MTD_ENOTFOUND, or
 * MTD_ESTORE. */
int mtd_store_device_id(mtd_store *s, const char *ext, int64_t *id);
/* The external id of device row id into buf (n bytes): 0, MTD_ENOTFOUND,
 * or MTD_ESTORE. */
int mtd_store_device_ext(mtd_store *s, int64_t id, char *buf, size_t n);

#endif
