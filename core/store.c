#define _DEFAULT_SOURCE /* getrandom */
/* store: SQLite schema, migrations, statements, transactions, audit. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "mtdgate/mtdgate.h"
#include "mtdgate/wire.h"
#include "sha256.h"
#include "store.h"

/* Entries of one log appended since its last seal. */
typedef struct pending {
	mtd_sha256 c;
	uint64_t rows;
} pending;

/* The block being filled of a block log (messages, decisions): entries
 * with consecutive sequence numbers from first, one at and connector. */
typedef struct block {
	int64_t first, at, connector;
	uint32_t n;
	size_t len;
	mtd_log_entry last; /* the entry before, that the next one is relative to */
	unsigned char buf[MTD_BLOCK_BYTES + 512];
} block;

struct mtd_store {
	sqlite3 *db;
	int chain_known;            /* last_seq/last_hash valid in this transaction */
	int64_t last_seq;
	unsigned char last_hash[32];
	int64_t last_at; /* of the last log row, for its seal */
	pending log[MTD_LOG__COUNT];
	block blk[MTD_LOG__COUNT]; /* [MTD_LOG_OUTCOMES] unused */
	sqlite3_stmt *st[SQL__COUNT];
	sqlite3_stmt *row_get[MTD_ROW__COUNT]; /* mtd_store_row_logged's read-back */
	int readonly;
	int query_only;
	mtd_store_opts opts; /* wait_ms resolved: >= 0 */
	int64_t wait_start; /* ms on CLOCK_MONOTONIC of the first busy call */
	int64_t noted;      /* ms waited when note was last called */
	char backup[PATH_MAX + 32]; /* a migration's backup, "" when none */
	int audit_pd; /* schema 10 and later: audit records chain a salted digest */
	unsigned char dbuf[MTD_DBLOCK_MAX]; /* mtd_store_dblock_put's encoding */
	int track;                /* mtd_store_track */
	mtd_devset tpend, tdone;  /* touched in the open transaction, committed */
	char err[512];
};

static const char *const log_names[MTD_LOG__COUNT] = {"outcomes", "decisions", "messages",
							  "rows"};

/* The covered tables (store.h), from their X-macro. */
#define ROW_NAME_(e, t, c, f, k, l) [e] = t,
#define ROW_SCAN_(e, t, c, f, k, l) [e] = "SELECT " c " FROM " f,
#define ROW_GET_(e, t, c, f, k, l) [e] = "SELECT " c " FROM " f " WHERE " k,
#define ROW_LABEL_(e, t, c, f, k, l) [e] = "SELECT " l,
static const char *const row_names[MTD_ROW__COUNT] = {MTD_COVERED_TABLES(ROW_NAME_)};
static const char *const row_scan[MTD_ROW__COUNT] = {MTD_COVERED_TABLES(ROW_SCAN_)};
static const char *const row_get[MTD_ROW__COUNT] = {MTD_COVERED_TABLES(ROW_GET_)};
static const char *const row_label[MTD_ROW__COUNT] = {MTD_COVERED_TABLES(ROW_LABEL_)};

/* 'MTDG' (0x4D544447): PRAGMA application_id of every store made since
 * schema 9; older stores are recognized by their tables. */
#define APP_ID 1297368135
#define APP_ID_TEXT "1297368135"

static int migrate_v4(mtd_store *s);
static int user_version(sqlite3 *db);
static int backup(mtd_store *s, const char *path, int version);
static int migrate_v5(mtd_store *s);
static int migrate_baseline(mtd_store *s, int schema, uint64_t tables, int rekey);
#define TABLES(first, end) (((UINT64_C(1) << (end)) - 1) & ~((UINT64_C(1) << (first)) - 1))

/* Forward migrations: migrations[i] brings user_version i to i + 1. Only
 * ever append. */
static const char *const migrations[] = {
	/* 0 -> 1 */
	"CREATE TABLE meta(key TEXT PRIMARY KEY, value TEXT NOT NULL) WITHOUT ROWID;"
	"CREATE TABLE groups(id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE);"
	"CREATE TABLE groupsets(id INTEGER PRIMARY KEY, key TEXT NOT NULL UNIQUE);"
	"CREATE TABLE groupset_members(groupset INTEGER NOT NULL REFERENCES groupsets(id),"
	" grp INTEGER NOT NULL REFERENCES groups(id), PRIMARY KEY(groupset, grp)) WITHOUT ROWID;"
	"CREATE TABLE devices(id INTEGER PRIMARY KEY, ext_id TEXT NOT NULL UNIQUE,"
	" platform INTEGER NOT NULL, os_version TEXT, corporate INTEGER NOT NULL,"
	" enrolled INTEGER NOT NULL, user TEXT,"
	" groupset INTEGER NOT NULL REFERENCES groupsets(id), updated_at INTEGER NOT NULL);"
	"CREATE TABLE connectors(id INTEGER PRIMARY KEY, vendor TEXT NOT NULL UNIQUE,"
	" state TEXT NOT NULL, provisioned INTEGER NOT NULL DEFAULT 0,"
	" removed INTEGER NOT NULL DEFAULT 0, error_code TEXT, last_contact INTEGER,"
	" added_at INTEGER NOT NULL, platforms INTEGER NOT NULL DEFAULT 0,"
	" mam_platforms INTEGER NOT NULL DEFAULT 0, appsync_ios INTEGER NOT NULL DEFAULT 0,"
	" appsync_personal_ios INTEGER NOT NULL DEFAULT 0,"
	" block_unsupported_os INTEGER NOT NULL DEFAULT 0,"
	" block_missing_data INTEGER NOT NULL DEFAULT 0,"
	" unresponsive_days INTEGER NOT NULL DEFAULT 7, rejected INTEGER NOT NULL DEFAULT 0);"
	"CREATE TABLE reports(device INTEGER NOT NULL REFERENCES devices(id),"
	" connector INTEGER NOT NULL REFERENCES connectors(id), level INTEGER NOT NULL,"
	" at INTEGER NOT NULL, received INTEGER NOT NULL, os_supported INTEGER,"
	" threats BLOB, PRIMARY KEY(device, connector)) WITHOUT ROWID;"
	"CREATE TABLE apps(device INTEGER NOT NULL REFERENCES devices(id),"
	" app_id TEXT NOT NULL, version TEXT, short_version TEXT, name TEXT,"
	" bundle_size INTEGER, dynamic_size INTEGER, adhoc_signed INTEGER,"
	" app_store INTEGER, beta INTEGER, vpp INTEGER, validated INTEGER,"
	" managed INTEGER, PRIMARY KEY(device, app_id)) WITHOUT ROWID;"
	"CREATE INDEX apps_by_app ON apps(app_id);"
	"CREATE TABLE decisions(device INTEGER PRIMARY KEY REFERENCES devices(id),"
	" state INTEGER NOT NULL, level INTEGER NOT NULL, access INTEGER NOT NULL,"
	" app_action INTEGER NOT NULL, vendors TEXT NOT NULL, reasons TEXT NOT NULL,"
	" digest INTEGER NOT NULL, evaluated_at INTEGER NOT NULL, since INTEGER NOT NULL,"
	" wiped_at INTEGER);"
	"CREATE TABLE audit(seq INTEGER PRIMARY KEY, at INTEGER NOT NULL,"
	" kind TEXT NOT NULL, vendor TEXT, device TEXT, detail TEXT NOT NULL);"
	"CREATE INDEX audit_by_device ON audit(device) WHERE device IS NOT NULL;"
	"CREATE TRIGGER audit_no_update BEFORE UPDATE ON audit"
	" BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;"
	"CREATE TRIGGER audit_no_delete BEFORE DELETE ON audit"
	" BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;",
	/* 1 -> 2: per-group protected resources of each decision */
	"ALTER TABLE decisions ADD COLUMN resources TEXT NOT NULL DEFAULT '[\"exchange\",\"sharepoint\"]';",
	/* 2 -> 3: each audit record chained to the one before by its hash */
	"ALTER TABLE audit ADD COLUMN hash BLOB;",
	/* 3 -> 4: bulk records in compact append-only logs that share the audit
	 * sequence and are sealed into its chain (see mtd_store_log_*): every
	 * accepted message, every decision change, and the interned outcomes
	 * (state, level, access, app action, texts) that decisions point to.
	 * The decisions of version 3 move into outcomes in C (migrate_v4). */
	"CREATE TABLE outcomes(seq INTEGER PRIMARY KEY, at INTEGER NOT NULL, digest INTEGER NOT NULL,"
	" state INTEGER NOT NULL, level INTEGER NOT NULL, access INTEGER NOT NULL,"
	" app_action INTEGER NOT NULL, vendors TEXT NOT NULL, reasons TEXT NOT NULL,"
	" resources TEXT NOT NULL);"
	"CREATE INDEX outcomes_by_digest ON outcomes(digest);"
	/* blocks of n entries with the sequence numbers seq .. seq + n - 1 */
	"CREATE TABLE decision_log(seq INTEGER PRIMARY KEY, n INTEGER NOT NULL,"
	" at INTEGER NOT NULL, entries BLOB NOT NULL);"
	"CREATE TABLE message_log(seq INTEGER PRIMARY KEY, n INTEGER NOT NULL,"
	" at INTEGER NOT NULL, connector INTEGER NOT NULL, entries BLOB NOT NULL);"
	"CREATE TRIGGER outcomes_no_update BEFORE UPDATE ON outcomes"
	" BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;"
	"CREATE TRIGGER outcomes_no_delete BEFORE DELETE ON outcomes"
	" BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;"
	"CREATE TRIGGER decision_log_no_update BEFORE UPDATE ON decision_log"
	" BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;"
	"CREATE TRIGGER decision_log_no_delete BEFORE DELETE ON decision_log"
	" BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;"
	"CREATE TRIGGER message_log_no_update BEFORE UPDATE ON message_log"
	" BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;"
	"CREATE TRIGGER message_log_no_delete BEFORE DELETE ON message_log"
	" BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;"
	/* reports without foreign keys: ingest resolves both ids in the same
	 * transaction and devices are never deleted, and the per-row checks
	 * were a look-up in the (large) devices table per message */
	"CREATE TABLE reports_v4(device INTEGER NOT NULL, connector INTEGER NOT NULL,"
	" level INTEGER NOT NULL, at INTEGER NOT NULL, received INTEGER NOT NULL,"
	" os_supported INTEGER, threats BLOB, PRIMARY KEY(device, connector)) WITHOUT ROWID;"
	"INSERT INTO reports_v4 SELECT device, connector, level, at, received, os_supported,"
	" threats FROM reports;"
	"DROP TABLE reports;"
	"ALTER TABLE reports_v4 RENAME TO reports;"
	"ALTER TABLE decisions RENAME TO decisions_v3;"
	/* written only by evaluate, for ids it has just read from devices in
	 * the same transaction: no foreign key to check per row */
	"CREATE TABLE decisions(device INTEGER PRIMARY KEY,"
	" outcome INTEGER NOT NULL, evaluated_at INTEGER NOT NULL, since INTEGER NOT NULL,"
	" wiped_at INTEGER);",
	/* 4 -> 5: the current decisions packed, MTD_DBLOCK_SLOTS devices to a
	 * row (store.h); the rows of decisions move there in C (migrate_v5) */
	"CREATE TABLE decision_blocks(blk INTEGER PRIMARY KEY, entries BLOB NOT NULL);",
	/* 5 -> 6: new log blocks in the compact entry layout (store.h), which
	 * an older mtdgate would take for damage; no table changes */
	"",
	/* 6 -> 7: device identity, parking, threat lifecycle (SPEC 4.1, 4.2
	 * extensions). device_ids: a device's identifiers by (kind, value), one
	 * device each. parked: messages that named no device, or several, kept
	 * as received until they resolve or expire. threat_events: per
	 * (device, connector) the latest event of each threat id (open = 0: a
	 * resolved one, kept so that an older event arriving later loses).
	 * reports: a row with nevents = 0 is a snapshot as received (level, at,
	 * threats), as before; with events, level, at and threats are derived
	 * (threats: the open set, each with since; cause: the index in it of
	 * the threat that sets the level) and the snapshot is in snap_*
	 * (snap_level NULL: none). New log blocks carry how each message's
	 * device was named (MTD_LOG_VIA). */
	"CREATE TABLE device_ids(kind TEXT NOT NULL, value TEXT NOT NULL,"
	" device INTEGER NOT NULL, PRIMARY KEY(kind, value)) WITHOUT ROWID;"
	"CREATE INDEX device_ids_by_device ON device_ids(device, kind);"
	"CREATE INDEX devices_by_user ON devices(user, platform) WHERE user IS NOT NULL;"
	"CREATE TABLE parked(id INTEGER PRIMARY KEY, connector INTEGER NOT NULL,"
	" received INTEGER NOT NULL, reason TEXT NOT NULL, vendor_id TEXT, msg BLOB NOT NULL);"
	"CREATE INDEX parked_by_vendor_id ON parked(connector, vendor_id)"
	" WHERE vendor_id IS NOT NULL;"
	"CREATE TABLE threat_events(device INTEGER NOT NULL, connector INTEGER NOT NULL,"
	" id TEXT NOT NULL, open INTEGER NOT NULL, at INTEGER NOT NULL, category TEXT,"
	" name TEXT, level INTEGER, since INTEGER, PRIMARY KEY(device, connector, id))"
	" WITHOUT ROWID;"
	"ALTER TABLE reports ADD COLUMN nevents INTEGER NOT NULL DEFAULT 0;"
	"ALTER TABLE reports ADD COLUMN snap_level INTEGER;"
	"ALTER TABLE reports ADD COLUMN snap_at INTEGER;"
	"ALTER TABLE reports ADD COLUMN snap_threats BLOB;"
	"ALTER TABLE reports ADD COLUMN cause INTEGER;"
	"ALTER TABLE connectors ADD COLUMN parked_days INTEGER NOT NULL DEFAULT 30;",
	/* 7 -> 8: every row that feeds a decision is covered by the log (store.h):
	 * the row log, message entries with the digest of the report they wrote,
	 * and a baseline entry for every row stored before (migrate_baseline) */
	"CREATE TABLE row_log(seq INTEGER PRIMARY KEY, n INTEGER NOT NULL,"
	" at INTEGER NOT NULL, entries BLOB NOT NULL);"
	"CREATE TRIGGER row_log_no_update BEFORE UPDATE ON row_log"
	" BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;"
	"CREATE TRIGGER row_log_no_delete BEFORE DELETE ON row_log"
	" BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;",
	/* 8 -> 9: device_ids, parked and threat_events are covered too: a
	 * baseline entry for every row of theirs stored before (in C) */
	"",
	/* 9 -> 10: personal data that can be erased (README, "Removing a
	 * device"): audit records chain a salted digest of their device and
	 * detail (pd), so both can be erased and the chain still holds; the
	 * only update the log allows is that erasure. Each device has a salt,
	 * and the row log keys its identifiers by a digest salted with it, not
	 * by their values; the identifiers stored before are keyed again (in C,
	 * migrate_baseline, rekey). */
	"ALTER TABLE audit ADD COLUMN pd BLOB;"
	"ALTER TABLE audit ADD COLUMN salt BLOB;"
	"DROP TRIGGER audit_no_update;"
	"CREATE TRIGGER audit_no_update BEFORE UPDATE ON audit WHEN NOT ("
	" new.seq IS old.seq AND new.at IS old.at AND new.kind IS old.kind AND"
	" new.vendor IS old.vendor AND new.hash IS old.hash AND old.pd IS NOT NULL AND"
	" new.pd IS old.pd AND new.salt IS NULL AND new.device IS NULL AND"
	" new.detail = '" MTD_AUDIT_ERASED "')"
	" BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;"
	"CREATE TABLE device_salts(device INTEGER PRIMARY KEY REFERENCES devices(id),"
	" salt BLOB NOT NULL);"
	"INSERT INTO device_salts(device, salt) SELECT id, randomblob(16) FROM devices;",
	/* 10 -> 11: security tasks (contracts: "Security tasks"): per (device,
	 * connector) the latest word on each task id, resolved ones kept for
	 * history; at: the time the vendor's latest message about it carries,
	 * received: when mtdgate took it. Covered (MTD_ROW_TASKS) from the
	 * start, so no baseline. A device removed takes its tasks with it,
	 * each deletion logged (fleet.c). */
	"CREATE TABLE tasks(device INTEGER NOT NULL, connector INTEGER NOT NULL,"
	" id TEXT NOT NULL, kind INTEGER NOT NULL, cve TEXT, software TEXT, version TEXT,"
	" severity INTEGER NOT NULL, first_seen INTEGER NOT NULL, open INTEGER NOT NULL,"
	" at INTEGER NOT NULL, received INTEGER NOT NULL,"
	" PRIMARY KEY(device, connector, id)) WITHOUT ROWID;",
	/* 11 -> 12: connectors that fetch (issue 16, core/pull.c): their API
	 * settings (the secret never: only the path of its file), their resume
	 * points and pull status, and the vendor event ids they committed (a
	 * bounded window, n ascending) so that a replay is not counted twice.
	 * Not decision inputs: outside the row log. */
	"CREATE TABLE pull_state(vendor TEXT NOT NULL, key TEXT NOT NULL, value TEXT NOT NULL,"
	" PRIMARY KEY(vendor, key)) WITHOUT ROWID;"
	"CREATE TABLE pull_seen(vendor TEXT NOT NULL, id TEXT NOT NULL, n INTEGER NOT NULL,"
	" PRIMARY KEY(vendor, id)) WITHOUT ROWID;"
	"CREATE INDEX pull_seen_by_n ON pull_seen(vendor, n);",
};

static const char *const sql_text[SQL__COUNT] = {
	[SQL_META_GET] = "SELECT value FROM meta WHERE key = ?1",
	[SQL_META_SET] = "INSERT INTO meta(key, value) VALUES(?1, ?2)"
			 " ON CONFLICT(key) DO UPDATE SET value = excluded.value",
	[SQL_GROUP_UPSERT] = "INSERT INTO groups(name) VALUES(?1) ON CONFLICT(name) DO NOTHING",
	[SQL_GROUP_ID] = "SELECT id FROM groups WHERE name = ?1",
	[SQL_GROUPSET_INSERT] = "INSERT INTO groupsets(key) VALUES(?1)",
	[SQL_GROUPSET_ID] = "SELECT id FROM groupsets WHERE key = ?1",
	[SQL_GROUPSET_MEMBER] = "INSERT INTO groupset_members(groupset, grp) VALUES(?1, ?2)",
	[SQL_GROUPSET_ALL] = "SELECT id, key FROM groupsets ORDER BY id",
	[SQL_DEVICE_UPSERT] =
		/* a new row id after every one used, removed devices' too (meta
		 * device_floor): a new device never takes an old one's history */
		"INSERT INTO devices(id, ext_id, platform, os_version, corporate, enrolled,"
		" user, groupset, updated_at) VALUES((SELECT max(coalesce(max(id), 0),"
		" coalesce((SELECT CAST(value AS INTEGER) FROM meta WHERE key = 'device_floor'), 0))"
		" + 1 FROM devices), ?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)"
		" ON CONFLICT(ext_id) DO UPDATE SET platform = excluded.platform,"
		" os_version = excluded.os_version, corporate = excluded.corporate,"
		" enrolled = excluded.enrolled, user = excluded.user,"
		" groupset = excluded.groupset, updated_at = excluded.updated_at"
		" RETURNING id", /* the row, for its log entry */
	/* covered by the ext_id index: no visit to the table */
	[SQL_DEVICE_ID] = "SELECT id FROM devices WHERE ext_id = ?1",
	[SQL_DEVICE_MAX_ID] = "SELECT coalesce(max(id), 0) FROM devices",
	/* SQL_CONN_INSERT: run by mtd_store_conn_insert (store_rows.c) */
	[SQL_CONN_INSERT] = "INSERT INTO connectors(vendor, state, added_at) VALUES(?1, ?2, ?3)",
	/* SQL_CONN_GET and SQL_CONN_ALL: read by mtd_conn_row_read (store_rows.c) */
	[SQL_CONN_GET] =
		"SELECT id, vendor, state, provisioned, removed, error_code, last_contact,"
		" added_at, platforms, mam_platforms, appsync_ios, appsync_personal_ios,"
		" block_unsupported_os, block_missing_data, unresponsive_days, rejected,"
		" parked_days FROM connectors WHERE vendor = ?1",
	[SQL_CONN_ALL] =
		"SELECT id, vendor, state, provisioned, removed, error_code, last_contact,"
		" added_at, platforms, mam_platforms, appsync_ios, appsync_personal_ios,"
		" block_unsupported_os, block_missing_data, unresponsive_days, rejected,"
		" parked_days FROM connectors ORDER BY vendor",
	[SQL_CONN_UPDATE] =
		"UPDATE connectors SET state = ?2, provisioned = ?3, removed = ?4,"
		" error_code = ?5, last_contact = ?6, platforms = ?7, mam_platforms = ?8,"
		" appsync_ios = ?9, appsync_personal_ios = ?10, block_unsupported_os = ?11,"
		" block_missing_data = ?12, unresponsive_days = ?13, rejected = ?14,"
		" parked_days = ?15 WHERE id = ?1",
	[SQL_CONN_CONTACT] = "UPDATE connectors SET last_contact = max(coalesce(last_contact, 0), ?2)"
			     " WHERE id = ?1",
	[SQL_CONN_REJECTED] = "UPDATE connectors SET rejected = rejected + ?2 WHERE id = ?1",
	[SQL_REPORT_UPSERT] =
		"INSERT INTO reports(device, connector, level, at, received, os_supported, threats)"
		" VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7) ON CONFLICT(device, connector) DO UPDATE SET"
		" level = excluded.level, at = excluded.at, received = excluded.received,"
		" os_supported = excluded.os_supported, threats = excluded.threats"
		" , nevents = 0, snap_level = NULL, snap_at = NULL, snap_threats = NULL, cause = NULL"
		" WHERE excluded.at >= reports.at AND reports.nevents = 0",
		/* a snapshot as received, every column set: mtd_report_digest is the
		 * row's digest when it was written (RETURNING made SQLite build an
		 * ephemeral table per message: 4x the CPU of an ingest) */
	[SQL_APPS_DELETE_DEVICE] = "DELETE FROM apps WHERE device = ?1",
	[SQL_APP_INSERT] =
		"INSERT INTO apps(device, app_id, version, short_version, name, bundle_size,"
		" dynamic_size, adhoc_signed, app_store, beta, vpp, validated, managed)"
		" VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13)"
		" ON CONFLICT(device, app_id) DO UPDATE SET version = excluded.version,"
		" short_version = excluded.short_version, name = excluded.name,"
		" bundle_size = excluded.bundle_size, dynamic_size = excluded.dynamic_size,"
		" adhoc_signed = excluded.adhoc_signed, app_store = excluded.app_store,"
		" beta = excluded.beta, vpp = excluded.vpp, validated = excluded.validated,"
		" managed = excluded.managed",
	/* evaluate: scans in device order (from after ?1), merged in C
	 * (sequential reads instead of a join's look-ups per device). The slim
	 * ones leave out what only a call into the rules needs, for rules whose
	 * memo answers most devices; the detail look-ups add it to a device the
	 * memo does not answer. A slim scan's columns are the full one's first. */
	[SQL_EVAL_DEVICES] =
		"SELECT id, ext_id, platform, corporate, enrolled, groupset, os_version, user"
		" FROM devices WHERE id > ?1 ORDER BY id",
	[SQL_EVAL_DEVICES_SLIM] =
		"SELECT id, ext_id, platform, corporate, enrolled, groupset"
		" FROM devices WHERE id > ?1 ORDER BY id",
	[SQL_EVAL_REPORTS] =
		"SELECT device, connector, level, coalesce(os_supported, -1), coalesce(cause, -1),"
		" at, threats FROM reports WHERE device > ?1 ORDER BY device, connector",
	[SQL_EVAL_REPORTS_SLIM] =
		"SELECT device, connector, level, coalesce(os_supported, -1), coalesce(cause, -1)"
		" FROM reports WHERE device > ?1 ORDER BY device, connector",
	[SQL_DEVICE_DETAIL] = "SELECT os_version, user FROM devices WHERE id = ?1",
	[SQL_REPORT_DETAIL] = "SELECT connector, at, threats FROM reports WHERE device = ?1",
	/* report of one device: its vendors' latest reports, with their times */
	[SQL_REPORTS_OF_DEVICE] =
		"SELECT c.vendor, r.level, r.at, r.received FROM reports r"
		" JOIN connectors c ON c.id = r.connector WHERE r.device = ?1 ORDER BY c.vendor",
	[SQL_EVAL_DECISIONS] = "SELECT blk, entries FROM decision_blocks ORDER BY blk",
	/* the writer knows whether the block is stored: no upsert probe */
	[SQL_DBLOCK_INSERT] = "INSERT INTO decision_blocks(blk, entries) VALUES(?1, ?2)",
	[SQL_DBLOCK_UPDATE] = "UPDATE decision_blocks SET entries = ?2 WHERE blk = ?1",
	[SQL_DBLOCK_GET] = "SELECT entries FROM decision_blocks WHERE blk = ?1",
	[SQL_OUTCOME_BY_DIGEST] =
		"SELECT seq, state, level, access, app_action, vendors, reasons, resources"
		" FROM outcomes WHERE digest = ?1",
	/* also read by mtd_outcome_shown_read (store_rows.c) */
	[SQL_OUTCOME_GET] =
		"SELECT seq, state, level, access, app_action, vendors, reasons, resources"
		" FROM outcomes WHERE seq = ?1",
	[SQL_OUTCOME_INSERT] =
		"INSERT INTO outcomes(seq, at, digest, state, level, access, app_action, vendors,"
		" reasons, resources) VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
	[SQL_DECISION_LOG_INSERT] =
		"INSERT INTO decision_log(seq, n, at, entries) VALUES(?1, ?2, ?3, ?4)",
	/* what changes when an evaluation writes decisions (engine.c) */
	[SQL_DECISION_LOG_LAST] = "SELECT coalesce(max(seq), 0) FROM decision_log",
	[SQL_MESSAGE_LOG_INSERT] =
		"INSERT INTO message_log(seq, n, at, connector, entries) VALUES(?1, ?2, ?3, ?4, ?5)",
	[SQL_REPORT_SCAN] =
		"SELECT ext_id, platform, enrolled, id FROM devices"
		" WHERE ?1 IS NULL OR ext_id = ?1 ORDER BY ext_id",
	[SQL_APPS_OF_DEVICE] =
		"SELECT app_id, version, short_version, name, bundle_size, dynamic_size,"
		" adhoc_signed, app_store, beta, vpp, validated, managed"
		" FROM apps WHERE device = ?1 ORDER BY app_id",
	/* R9: iOS (platform 1) only; personal devices only when ?1 is 1. Read
	 * by mtd_appsync_row_read (store_rows.c). */
	[SQL_APPSYNC_SCAN] =
		"SELECT d.ext_id, a.app_id, a.version, a.short_version, a.name, a.bundle_size,"
		" a.dynamic_size, a.adhoc_signed, a.app_store, a.beta, a.vpp, a.validated, a.managed"
		" FROM devices d JOIN apps a ON a.device = d.id"
		" WHERE d.platform = 1 AND (d.corporate = 1 OR ?1 = 1) ORDER BY d.ext_id, a.app_id",
	[SQL_AUDIT_INSERT] = "INSERT INTO audit(seq, at, kind, vendor, device, detail, hash)"
			     " VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7)",
	[SQL_AUDIT_INSERT_PD] = "INSERT INTO audit(seq, at, kind, vendor, device, detail, hash,"
				" pd, salt) VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
	[SQL_DEVICE_SALT] = "SELECT salt FROM device_salts WHERE device = ?1",
	[SQL_DEVICE_SALT_NEW] = "INSERT INTO device_salts(device, salt) VALUES(?1, randomblob(16))"
				" ON CONFLICT(device) DO NOTHING",
	[SQL_AUDIT_LAST] = "SELECT seq, hash FROM audit ORDER BY seq DESC LIMIT 1",
	[SQL_DEVICE_EXT] = "SELECT ext_id FROM devices WHERE id = ?1",
	[SQL_IDS_GET] = "SELECT device FROM device_ids WHERE kind = ?1 AND value = ?2",
	[SQL_IDS_PUT] = "INSERT INTO device_ids(kind, value, device) VALUES(?1, ?2, ?3)"
			" ON CONFLICT(kind, value) DO UPDATE SET device = excluded.device",
	/* the rows deleted, each for its log entry */
	[SQL_IDS_DELETE_KIND] = "DELETE FROM device_ids WHERE device = ?1 AND kind = ?2"
				" RETURNING value",
	/* two are enough to know it is not exactly one */
	[SQL_DEVICES_BY_USER] = "SELECT id FROM devices WHERE user = ?1 AND platform = ?2 LIMIT 2",
	[SQL_PARK_INSERT] = "INSERT INTO parked(connector, received, reason, vendor_id, msg)"
			    " VALUES(?1, ?2, ?3, ?4, ?5)",
	[SQL_PARK_ALL] = "SELECT id, connector, received, reason, msg FROM parked ORDER BY id",
	[SQL_PARK_BY_VENDOR_ID] = "SELECT id, connector, received, reason, msg FROM parked"
				  " WHERE connector = ?1 AND vendor_id = ?2 ORDER BY id",
	[SQL_PARK_DELETE] = "DELETE FROM parked WHERE id = ?1",
	[SQL_PARK_EXPIRED] =
		"SELECT p.id, p.connector, p.received, p.reason, p.msg FROM parked p"
		" JOIN connectors c ON c.id = p.connector"
		" WHERE p.received < ?1 - c.parked_days * 86400 ORDER BY p.id",
	[SQL_REPORT_STATE] =
		"SELECT level, at, os_supported, threats, nevents, snap_level, snap_at,"
		" snap_threats FROM reports WHERE device = ?1 AND connector = ?2",
	[SQL_REPORT_PUT] =
		"INSERT INTO reports(device, connector, level, at, received, os_supported, threats,"
		" nevents, snap_level, snap_at, snap_threats, cause)"
		" VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)"
		" ON CONFLICT(device, connector) DO UPDATE SET level = excluded.level,"
		" at = excluded.at, received = excluded.received,"
		" os_supported = excluded.os_supported, threats = excluded.threats,"
		" nevents = excluded.nevents, snap_level = excluded.snap_level,"
		" snap_at = excluded.snap_at, snap_threats = excluded.snap_threats,"
		" cause = excluded.cause",
	[SQL_EVENTS_OF] = "SELECT id, open, at, category, name, level, since FROM threat_events"
			  " WHERE device = ?1 AND connector = ?2 ORDER BY id",
	[SQL_EVENT_GET] = "SELECT open, at, since FROM threat_events"
			  " WHERE device = ?1 AND connector = ?2 AND id = ?3",
	[SQL_EVENT_PUT] =
		"INSERT INTO threat_events(device, connector, id, open, at, category, name, level,"
		" since) VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)"
		" ON CONFLICT(device, connector, id) DO UPDATE SET open = excluded.open,"
		" at = excluded.at, category = coalesce(excluded.category, category),"
		" name = coalesce(excluded.name, name), level = coalesce(excluded.level, level),"
		" since = excluded.since",
	[SQL_EVENTS_DELETE_BEFORE] =
		"DELETE FROM threat_events WHERE device = ?1 AND connector = ?2 AND at < ?3"
		" RETURNING id", /* the rows deleted, each for its log entry */
	[SQL_ROW_LOG_INSERT] = "INSERT INTO row_log(seq, n, at, entries) VALUES(?1, ?2, ?3, ?4)",
	[SQL_AUDIT_SINCE] = "SELECT seq, kind FROM audit WHERE seq > ?1 ORDER BY seq",
	/* blocks that may hold entries after ?1 (a block holds at most 1024) */
	[SQL_DECISION_LOG_SINCE] =
		"SELECT seq, n, entries FROM decision_log WHERE seq > ?1 - 1024 ORDER BY seq",
	[SQL_MESSAGE_LOG_SINCE] =
		"SELECT seq, n, entries FROM message_log WHERE seq > ?1 - 1024 ORDER BY seq",
	[SQL_ROW_LOG_SINCE] = "SELECT seq, n, entries FROM row_log WHERE seq > ?1 - 1024 ORDER BY seq",
	[SQL_EVALUATE_LAST] = "SELECT seq FROM audit WHERE kind = 'evaluate' ORDER BY seq DESC LIMIT 1",
	/* security tasks (schema 11); run and read by store_rows.c:
	 * mtd_store_task_state, mtd_store_task_put, mtd_task_open_read,
	 * mtd_task_list_read, mtd_task_age_read */
	[SQL_TASK_GET] = "SELECT open, at FROM tasks WHERE device = ?1 AND connector = ?2 AND id = ?3",
	[SQL_TASK_PUT] =
		"INSERT INTO tasks(device, connector, id, kind, cve, software, version, severity,"
		" first_seen, open, at, received) VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10,"
		" ?11, ?12) ON CONFLICT(device, connector, id) DO UPDATE SET kind = excluded.kind,"
		" cve = excluded.cve, software = excluded.software, version = excluded.version,"
		" severity = excluded.severity, first_seen = excluded.first_seen,"
		" open = excluded.open, at = excluded.at, received = excluded.received",
	[SQL_TASKS_OPEN_OF] =
		"SELECT connector, id, kind, cve, software, version, severity, first_seen FROM tasks"
		" WHERE device = ?1 AND open = 1 ORDER BY connector, id",
	[SQL_TASKS_LIST] =
		"SELECT d.ext_id, c.vendor, t.id, t.kind, t.cve, t.software, t.version, t.severity,"
		" t.first_seen, t.open, t.at, t.received FROM tasks t"
		" JOIN devices d ON d.id = t.device JOIN connectors c ON c.id = t.connector"
		" WHERE ?1 IS NULL OR t.device = ?1 ORDER BY d.ext_id, c.vendor, t.id",
	/* per device with open tasks, the first time after ?1 at which one of
	 * them turns a whole number of days old, or one second more (from
	 * first_seen on) */
	[SQL_TASKS_NEXT_AGE] =
		"SELECT device, min(CASE WHEN first_seen > ?1 THEN first_seen"
		" WHEN (?1 - first_seen) % 86400 = 0 THEN ?1 + 1"
		" ELSE ?1 + 86400 - (?1 - first_seen) % 86400 END) FROM tasks"
		" WHERE open = 1 GROUP BY device",
	/* read by mtd_decision_block_read, mtd_store_decision_head (store_rows.c) */
	[SQL_DECISION_LOG_EVENTS] =
		"SELECT seq, n, at, entries FROM decision_log WHERE seq > ?1 ORDER BY seq",
	[SQL_DECISION_LOG_HEAD] =
		"SELECT seq + n - 1 FROM decision_log ORDER BY seq DESC LIMIT 1",
	/* the store's parts (store_*.c), each after its own line: audit */
	[SQL_AUDIT_CONN_ID] = "SELECT id FROM connectors WHERE vendor = ?1",
	[SQL_AUDIT_CONN_VENDOR] = "SELECT vendor FROM connectors WHERE id = ?1",
	[SQL_AUDIT_HEAD] = "SELECT seq, at, hash FROM audit ORDER BY seq DESC LIMIT 1",
	[SQL_AUDIT_OUTCOME] =
		"SELECT state, level, access, app_action, reasons FROM outcomes WHERE seq = ?1",
	[SQL_AUDIT_LAST_PRUNED] =
		"SELECT seq, detail FROM audit WHERE kind = 'pruned' ORDER BY seq DESC LIMIT 1",

	/* fleet */
	/* device list and show (fleet.c): mtd_fleet_*_read */
	[SQL_FLEET_DEVICES] =
		"SELECT d.id, d.ext_id, d.platform, d.os_version, d.corporate, d.enrolled, d.user,"
		" d.updated_at, g.key FROM devices d LEFT JOIN groupsets g ON g.id = d.groupset"
		" WHERE (?1 IS NULL OR d.ext_id = ?1) AND (?2 < 0 OR d.platform = ?2)"
		" ORDER BY d.ext_id",
	[SQL_FLEET_DEVICE_IDS] =
		"SELECT kind, value FROM device_ids WHERE device = ?1 ORDER BY kind, value",
	[SQL_FLEET_OPEN_THREATS] =
		"SELECT c.vendor, t.id, t.name, t.level, t.since FROM threat_events t"
		" JOIN connectors c ON c.id = t.connector WHERE t.device = ?1 AND t.open = 1"
		" ORDER BY c.vendor, t.id",

	/* ingest and pull */
	[SQL_PULL_STATE_GET] = "SELECT value FROM pull_state WHERE vendor = ?1 AND key = ?2",
	[SQL_PULL_STATE_PUT] = "INSERT INTO pull_state(vendor, key, value) VALUES(?1, ?2, ?3)"
			       " ON CONFLICT(vendor, key) DO UPDATE SET value = excluded.value",
	[SQL_PULL_STATE_DELETE] = "DELETE FROM pull_state WHERE vendor = ?1 AND key = ?2",
	[SQL_PULL_SEEN_GET] = "SELECT 1 FROM pull_seen WHERE vendor = ?1 AND id = ?2",
	[SQL_PULL_SEEN_PUT] = "INSERT INTO pull_seen(vendor, id, n) VALUES(?1, ?2, ?3)",
	[SQL_PULL_SEEN_TRIM] = "DELETE FROM pull_seen WHERE vendor = ?1 AND n <= ?2",
	[SQL_PULL_SEEN_MAX] = "SELECT coalesce(max(n), 0) FROM pull_seen WHERE vendor = ?1",

	/* tasks, connectors, events, App Sync */

};

static int fail(mtd_store *s, int rc, const char *what)
{
	snprintf(s->err, sizeof s->err, "%s: %s", what,
		 s->db ? sqlite3_errmsg(s->db) : "cannot open");
	return rc;
}

/* fail(), or MTD_EBUSY saying what waited for how long when the lock
 * stayed held. */
static int fail_lock(mtd_store *s, const char *what)
{
	if ((sqlite3_extended_errcode(s->db) & 0xff) != SQLITE_BUSY)
		return fail(s, MTD_ESTORE, what);
	snprintf(s->err, sizeof s->err,
		 "%s: the store stayed locked by another writer for %lld.%03lld s (--wait)", what,
		 (long long)(s->opts.wait_ms / 1000), (long long)(s->opts.wait_ms % 1000));
	return MTD_EBUSY;
}

static int migrate(mtd_store *s, const char *path)
{
	int version = user_version(s->db), from, rc;
	const int target = (int)(sizeof migrations / sizeof *migrations);

	if (version < 0)
		return fail(s, MTD_ESTORE, "reading the schema version");
	if (version > target) {
		snprintf(s->err, sizeof s->err,
			 "the store has schema version %d; this mtdgate knows up to %d",
			 version, target);
		return MTD_ESTORE;
	}
	if (version == target) {
		s->audit_pd = 1; /* schema 10 */
		return 0;
	}
	if (version > 0 && (rc = backup(s, path, version)))
		return rc;
	from = version;
	while (version < target) {
		char pragma[64];
		if (sqlite3_exec(s->db, "BEGIN IMMEDIATE", NULL, NULL, NULL))
			return fail_lock(s, "starting a migration");
		/* another process may have migrated while this one waited */
		if ((rc = user_version(s->db)) != version) {
			sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
			if (rc < version || rc > target)
				return fail(s, MTD_ESTORE, "the schema version changed meanwhile");
			version = rc;
			continue;
		}
		snprintf(pragma, sizeof pragma, "PRAGMA user_version = %d", version + 1);
		if (sqlite3_exec(s->db, migrations[version], NULL, NULL, NULL) ||
		    (version + 1 == 4 && migrate_v4(s)) || (version + 1 == 5 && migrate_v5(s)) ||
		    (version + 1 == 8 &&
		     migrate_baseline(s, 8, TABLES(0, MTD_ROW_DEVICE_IDS), 0)) ||
		    (version + 1 == 9 &&
		     migrate_baseline(s, 9, TABLES(MTD_ROW_DEVICE_IDS, MTD_ROW_THREAT_EVENTS + 1), 0)) ||
		    (version == 0 &&
		     sqlite3_exec(s->db, "PRAGMA application_id = " APP_ID_TEXT, NULL, NULL, NULL)) ||
		    (version + 1 == 10 &&
		     migrate_baseline(s, 10,
				      UINT64_C(1) << MTD_ROW_DEVICE_IDS | UINT64_C(1) << MTD_ROW_DEVICE_SALTS,
				      1)) ||
		    sqlite3_exec(s->db, pragma, NULL, NULL, NULL)) {
			fail(s, MTD_ESTORE, "migrating the schema");
			sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
			return MTD_ESTORE;
		}
		if (sqlite3_exec(s->db, "COMMIT", NULL, NULL, NULL))
			return fail(s, MTD_ESTORE, "committing a migration");
		version++;
	}
	if (from > 0 && s->opts.note) {
		char msg[2 * PATH_MAX + 200];
		snprintf(msg, sizeof msg,
			 "%s: migrated from schema %d to %d; the store as it was is in %s", path,
			 from, target, s->backup);
		s->opts.note(s->opts.ud, "migrated", 0, 0, msg);
	}
	s->audit_pd = 1; /* schema 10 */
	return 0;
}

/* The store says who may reach company data: it must be ours and no one
 * else's (issue 19, finding 8). 0 when path (and its -wal and -shm, when
 * there) is owned by the running user with no group or other access; else
 * MTD_EREFUSED with err saying what is wrong. */
static int check_private(const char *path, char *err, size_t n)
{
	static const char *const sfx[] = {"", "-wal", "-shm"};
	for (int i = 0; i < 3; i++) {
		char p[PATH_MAX];
		struct stat sb;
		snprintf(p, sizeof p, "%s%s", path, sfx[i]);
		if (stat(p, &sb) != 0) {
			if (i == 0 || errno != ENOENT) {
				mtd_err(err, n, "%s: %s", p, strerror(errno));
				return MTD_EIO;
			}
			continue;
		}
		if (!S_ISREG(sb.st_mode)) {
			mtd_err(err, n, "%s: refused: not a regular file", p);
			return MTD_EREFUSED;
		}
		if (sb.st_uid != geteuid() || (sb.st_mode & 077)) {
			mtd_err(err, n, "%s: refused: a store must be owned by the user running "
				    "mtdgate (uid %u) and private to it, and this one is owned by uid %u "
				    "with mode %04o: whoever else can read or write it sees or decides "
				    "who gets access (if it is yours: chown it and chmod 600)", p,
				    (unsigned)geteuid(), (unsigned)sb.st_uid,
				    (unsigned)(sb.st_mode & 07777));
			return MTD_EREFUSED;
		}
	}
	return 0;
}

/* The store's schema version; -1 on a read error. */
/* ---- waiting for the write lock ---- */

static int64_t mono_ms(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (int64_t)t.tv_sec * 1000 + t.tv_nsec / 1000000;
}

/* SQLite's busy handler: 1 to try again, 0 to give up (SQLITE_BUSY). Sleeps
 * 1, 2, 4 .. 100 ms between tries (a writer's commit takes milliseconds;
 * polling faster only burns the other writer's core), at most wait_ms in
 * all, and tells the note callback about once a second. */
static int on_busy(void *ud, int count)
{
	mtd_store *s = ud;
	int64_t now = mono_ms(), waited, step;
	if (count == 0) {
		s->wait_start = now;
		s->noted = 0;
	}
	waited = now - s->wait_start;
	if (waited >= s->opts.wait_ms)
		return 0;
	if (s->opts.note && waited - s->noted >= 1000) {
		s->noted = waited;
		s->opts.note(s->opts.ud, "waiting", waited, s->opts.wait_ms,
			     "the store is locked by another writer");
	}
	step = count < 7 ? (int64_t)1 << count : 100;
	if (step > s->opts.wait_ms - waited)
		step = s->opts.wait_ms - waited;
	{
		struct timespec d = {(time_t)(step / 1000), (long)(step % 1000) * 1000000L};
		nanosleep(&d, NULL);
	}
	return 1;
}

/* ---- whose file it is ---- */


static int pragma_int(sqlite3 *db, const char *sql)
{
	sqlite3_stmt *st;
	int v = -1;
	if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) == SQLITE_OK) {
		if (sqlite3_step(st) == SQLITE_ROW)
			v = sqlite3_column_int(st, 0);
		sqlite3_finalize(st);
	}
	return v;
}

/* A file at schema version 0 is made a store only when it is empty: an
 * SQLite database of another application (tables, or its own application
 * id) is refused, never added to. */
static int foreign_check(mtd_store *s, const char *path)
{
	int app = pragma_int(s->db, "PRAGMA application_id");
	int tables = pragma_int(s->db, "SELECT count(*) FROM sqlite_schema");
	if (app < 0 || tables < 0)
		return fail(s, MTD_ESTORE, "reading the database header");
	if (app == 0 && tables == 0)
		return 0;
	snprintf(s->err, sizeof s->err,
		 "%s: refused: an SQLite database of another application (%d table%s%s), not an "
		 "mtdgate store; 'mtdgate init' makes a store only in a new or empty file",
		 path, tables, tables == 1 ? "" : "s", app ? ", its own application id" : "");
	return MTD_EREFUSED;
}

/* A file with a schema version: ours when it carries our application id,
 * or none and the tables every mtdgate store has had since schema 1. */
static int not_ours(mtd_store *s, const char *path)
{
	int app = pragma_int(s->db, "PRAGMA application_id");
	int ours = pragma_int(s->db, "SELECT count(*) FROM sqlite_schema WHERE type = 'table'"
				     " AND name IN ('meta', 'devices', 'connectors', 'reports')");
	if (app == APP_ID || (app == 0 && ours == 4))
		return 0;
	if (app < 0 || ours < 0)
		return fail(s, MTD_ESTORE, "reading the database header");
	snprintf(s->err, sizeof s->err,
		 "%s: refused: an SQLite database of another application, not an mtdgate store",
		 path);
	return MTD_EREFUSED;
}

/* Before a migration: the store as it is, copied with VACUUM INTO to
 * PATH.schema-V.bak (or .bak.2, .bak.3, ...), made 0600 first. */
static int backup(mtd_store *s, const char *path, int version)
{
	sqlite3_stmt *st;
	int fd = -1, rc;
	for (int i = 1; i < 100 && fd < 0; i++) {
		int k = i == 1 ? snprintf(s->backup, sizeof s->backup, "%s.schema-%d.bak", path, version)
			       : snprintf(s->backup, sizeof s->backup, "%s.schema-%d.bak.%d", path,
					  version, i);
		if (k < 0 || (size_t)k >= sizeof s->backup) {
			snprintf(s->err, sizeof s->err, "%s: the path is too long for a backup", path);
			return MTD_EIO;
		}
		fd = open(s->backup, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
		if (fd < 0 && errno != EEXIST) {
			snprintf(s->err, sizeof s->err,
				 "%.300s: cannot make a backup before migrating (%s); nothing was changed",
				 s->backup, strerror(errno));
			return MTD_EIO;
		}
	}
	if (fd < 0) {
		snprintf(s->err, sizeof s->err, "%s: too many backups beside the store", path);
		return MTD_EIO;
	}
	close(fd);
	if (sqlite3_prepare_v2(s->db, "VACUUM INTO ?1", -1, &st, NULL) != SQLITE_OK)
		return fail(s, MTD_ESTORE, "preparing the backup");
	sqlite3_bind_text(st, 1, s->backup, -1, SQLITE_STATIC);
	rc = sqlite3_step(st);
	sqlite3_finalize(st);
	if (rc != SQLITE_DONE) {
		snprintf(s->err, sizeof s->err,
			 "%.300s: the backup before migrating failed (%.100s); nothing was changed", s->backup,
			 sqlite3_errmsg(s->db));
		unlink(s->backup);
		return MTD_EIO;
	}
	return 0;
}

static int user_version(sqlite3 *db)
{
	return pragma_int(db, "PRAGMA user_version");
}

/* The schema version of the store open in s, into *v: a file that is no
 * mtdgate store (version 0) is MTD_ENOTFOUND, a version that cannot be read
 * MTD_ESTORE, each with s->err saying so. */
static int store_version(mtd_store *s, const char *path, int *v)
{
	int rc;
	*v = user_version(s->db);
	if (*v < 0)
		return fail(s, MTD_ESTORE, path);
	if (*v > 0)
		return not_ours(s, path);
	if ((rc = foreign_check(s, path)))
		return rc;
	snprintf(s->err, sizeof s->err, "%s is not an mtdgate store (run 'mtdgate init' first)",
		 path);
	return MTD_ENOTFOUND;
}

/* A read-only connection. On read-only media a WAL store cannot have its
 * shared-memory file made: without a WAL file to read, it opens immutable
 * (nothing can change it there). */
static int open_readonly(mtd_store *s, const char *path)
{
	const int flags = SQLITE_OPEN_READONLY | SQLITE_OPEN_NOMUTEX | SQLITE_OPEN_URI;
	char wal[4200], *uri;
	struct stat sb;
	size_t n = strlen(path);
	if (sqlite3_open_v2(path, &s->db, flags & ~SQLITE_OPEN_URI, NULL) == SQLITE_OK &&
	    user_version(s->db) >= 0)
		return 0;
	sqlite3_close(s->db);
	s->db = NULL;
	snprintf(wal, sizeof wal, "%s-wal", path);
	if (n > 4000 || (stat(wal, &sb) == 0 && sb.st_size > 0))
		return fail(s, MTD_ESTORE, path);
	{ /* a path with '?', '#' or '%' would be misread in a URI: escaped */
		char *e = malloc(3 * n + 1), *o = e;
		if (!e)
			return fail(s, MTD_ENOMEM, path);
		for (const char *p = path; *p; p++)
			o += *p == '?' || *p == '#' || *p == '%' ? sprintf(o, "%%%02X", (unsigned char)*p)
								 : (*o = *p, 1);
		*o = '\0';
		uri = sqlite3_mprintf("file:%s?immutable=1", e);
		free(e);
	}
	if (!uri)
		return fail(s, MTD_ENOMEM, path);
	n = sqlite3_open_v2(uri, &s->db, flags, NULL) == SQLITE_OK && user_version(s->db) >= 0;
	sqlite3_free(uri);
	return n ? 0 : fail(s, MTD_ESTORE, path);
}

int mtd_store_open(const char *path, int mode, mtd_store **out, char *err, size_t n)
{
	return mtd_store_open_ex(path, mode, NULL, out, err, n);
}

int mtd_store_query_only(mtd_store *s, int on)
{
	if (s->query_only == on)
		return 0;
	if (sqlite3_exec(s->db, on ? "PRAGMA query_only = 1" : "PRAGMA query_only = 0", NULL, NULL,
			 NULL) != SQLITE_OK)
		return fail(s, MTD_ESTORE, "setting query_only");
	s->query_only = on;
	return 0;
}

int mtd_store_open_ex(const char *path, int mode, const mtd_store_opts *opts, mtd_store **out,
		      char *err, size_t n)
{
	mtd_store *s = calloc(1, sizeof *s);
	int rc = MTD_ESTORE, v;
	struct stat sb;

	*out = NULL;
	if (!s) {
		mtd_err(err, n, "out of memory");
		return MTD_ENOMEM;
	}
	if (opts)
		s->opts = *opts;
	if (!opts || s->opts.wait_ms < 0)
		s->opts.wait_ms = MTD_STORE_WAIT_MS;
	if (stat(path, &sb) != 0) {
		int fd;
		if (mode != MTD_STORE_CREATE) {
			mtd_err(err, n, "%s: no store here (run 'mtdgate init' first)", path);
			free(s);
			return MTD_ENOTFOUND;
		}
		/* Create it 0600 ourselves: it holds who may reach company data. */
		fd = open(path, O_RDWR | O_CREAT | O_EXCL, 0600);
		if (fd < 0) {
			mtd_err(err, n, "%s: %s", path, strerror(errno));
			free(s);
			return MTD_EIO;
		}
		close(fd);
	}
	if (mode == MTD_STORE_READONLY) {
		/* Reading changes nothing: a store of someone else's (a copy, read-only
		 * media) may be verified; the checks of ownership are for using it. */
		if ((rc = open_readonly(s, path)))
			goto out;
		sqlite3_extended_result_codes(s->db, 1);
		sqlite3_busy_handler(s->db, on_busy, s);
		if ((rc = store_version(s, path, &v)))
			goto out;
		if (v < MTD_SCHEMA_VERSION && access(path, W_OK) == 0) {
			/* an older store that can be written: migrated first */
			sqlite3_close(s->db);
			s->db = NULL;
			mode = MTD_STORE_WRITE;
		} else if (v != MTD_SCHEMA_VERSION) {
			snprintf(s->err, sizeof s->err,
				 "%s has schema version %d and is read-only here; this mtdgate reads "
				 "version %d: open it writable once to migrate it",
				 path, v, MTD_SCHEMA_VERSION);
			rc = MTD_ESTORE;
			goto out;
		} else {
			s->readonly = 1;
			*out = s;
			return 0;
		}
	}
	if ((rc = check_private(path, err, n))) {
		free(s);
		return rc;
	}
	rc = MTD_ESTORE;
	/* one handle, one thread at a time (mtdgate.h): no SQLite mutexes */
	if (sqlite3_open_v2(path, &s->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX, NULL) !=
	    SQLITE_OK) {
		fail(s, MTD_ESTORE, path);
		goto out;
	}
	sqlite3_extended_result_codes(s->db, 1);
	sqlite3_busy_handler(s->db, on_busy, s);
	/* whose file it is, before anything is written to it */
	if ((rc = store_version(s, path, &v)) == MTD_ENOTFOUND && mode == MTD_STORE_CREATE)
		rc = 0;
	if (rc)
		goto out;
	rc = MTD_ESTORE;
	if (sqlite3_exec(s->db,
			 "PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL;"
			 " PRAGMA foreign_keys = ON; PRAGMA temp_store = MEMORY;"
			 " PRAGMA cache_size = -65536;"
			 /* what a write frees inside a page is zeroed (at no extra
			  * I/O): no stale copy of a removed device's data stays */
			 " PRAGMA secure_delete = FAST;"
			 /* so that REPLACE's implicit delete meets the audit
			  * log's no-delete trigger too */
			 " PRAGMA recursive_triggers = ON;",
			 NULL, NULL, NULL) != SQLITE_OK) {
		fail(s, MTD_ESTORE, path);
		goto out;
	}
	if ((rc = migrate(s, path)))
		goto out;
	*out = s;
	return 0;
out:
	mtd_err(err, n, "%s", s->err);
	mtd_store_close(s);
	return rc ? rc : MTD_ESTORE;
}

void mtd_store_close(mtd_store *s)
{
	if (!s)
		return;
	for (int i = 0; i < SQL__COUNT; i++)
		sqlite3_finalize(s->st[i]);
	for (int i = 0; i < MTD_ROW__COUNT; i++)
		sqlite3_finalize(s->row_get[i]);
	sqlite3_close(s->db);
	mtd_devset_free(&s->tpend);
	mtd_devset_free(&s->tdone);
	free(s);
}

int mtd_store_is_readonly(const mtd_store *s)
{
	return s->readonly;
}

sqlite3 *mtd_store_db(mtd_store *s)
{
	return s->db;
}

void mtd_store_idle(mtd_store *s)
{
	for (sqlite3_stmt *st = sqlite3_next_stmt(s->db, NULL); st; st = sqlite3_next_stmt(s->db, st))
		if (sqlite3_stmt_busy(st))
			sqlite3_reset(st);
}

int mtd_store_data_version(mtd_store *s, int64_t *v)
{
	sqlite3_stmt *st;
	int rc = MTD_ESTORE;
	/* Statements are reset when next used, so one left on a row after the
	 * last call keeps this connection's read snapshot open: a long-running
	 * caller would go on reading the store as it was (and its next write
	 * could not start on it). Between calls, outside a transaction, none
	 * needs its row any more. */
	if (sqlite3_get_autocommit(s->db))
		mtd_store_idle(s);
	if (sqlite3_prepare_v2(s->db, "PRAGMA data_version", -1, &st, NULL) != SQLITE_OK)
		return MTD_ESTORE;
	if (sqlite3_step(st) == SQLITE_ROW) {
		*v = sqlite3_column_int64(st, 0);
		rc = 0;
	}
	sqlite3_finalize(st);
	return rc;
}

int mtd_store_size(mtd_store *s, uint64_t *bytes)
{
	sqlite3_stmt *st;
	int rc = MTD_ESTORE;
	if (sqlite3_prepare_v2(s->db, "SELECT page_count * page_size FROM pragma_page_count(),"
				      " pragma_page_size()", -1, &st, NULL) != SQLITE_OK)
		return MTD_ESTORE;
	if (sqlite3_step(st) == SQLITE_ROW) {
		*bytes = (uint64_t)sqlite3_column_int64(st, 0);
		rc = 0;
	}
	sqlite3_finalize(st);
	return rc;
}

const char *mtd_store_errmsg(mtd_store *s)
{
	return s->err[0] ? s->err : sqlite3_errmsg(s->db);
}

int mtd_store_prepare(mtd_store *s, const char *sql, sqlite3_stmt **st)
{
	s->err[0] = '\0'; /* errmsg: SQLite's message */
	return sqlite3_prepare_v2(s->db, sql, -1, st, NULL) == SQLITE_OK ? 0 : MTD_ESTORE;
}

static sqlite3_stmt *stmt(mtd_store *s, enum mtd_sql which, int unbind)
{
	sqlite3_stmt *st = s->st[which];
	if (!st) {
		if (sqlite3_prepare_v3(s->db, sql_text[which], -1,
				       SQLITE_PREPARE_PERSISTENT, &st, NULL) != SQLITE_OK) {
			fail(s, MTD_ESTORE, "preparing a statement");
			return NULL;
		}
		s->st[which] = st;
	} else {
		sqlite3_reset(st);
		if (unbind)
			sqlite3_clear_bindings(st);
	}
	s->err[0] = '\0';
	return st;
}

sqlite3_stmt *mtd_store_stmt(mtd_store *s, enum mtd_sql which)
{
	return stmt(s, which, 1);
}

sqlite3_stmt *mtd_store_stmt_rebind(mtd_store *s, enum mtd_sql which)
{
	return stmt(s, which, 0);
}

static void pending_reset(mtd_store *s)
{
	for (int i = 0; i < MTD_LOG__COUNT; i++) {
		mtd_sha256_init(&s->log[i].c);
		s->log[i].rows = 0;
		s->blk[i].n = 0;
		s->blk[i].len = 0;
	}
}

int64_t mtd_store_max_device(mtd_store *s)
{
	sqlite3_stmt *st = mtd_store_stmt(s, SQL_DEVICE_MAX_ID);
	int64_t n = -1;
	if (st && sqlite3_step(st) == SQLITE_ROW)
		n = sqlite3_column_int64(st, 0);
	if (st)
		sqlite3_reset(st);
	return n;
}

int mtd_store_groupset_devices(mtd_store *s, int (*fn)(void *ud, const char *key, int64_t n),
			       void *ud)
{
	sqlite3_stmt *st;
	int rc = 0, step;
	if (sqlite3_prepare_v2(s->db,
			       "SELECT g.key, count(*) FROM devices d JOIN groupsets g"
			       " ON g.id = d.groupset GROUP BY d.groupset ORDER BY d.groupset",
			       -1, &st, NULL) != SQLITE_OK)
		return MTD_ESTORE;
	while (!rc && (step = sqlite3_step(st)) == SQLITE_ROW) {
		const char *key = (const char *)sqlite3_column_text(st, 0);
		rc = fn(ud, key ? key : "", sqlite3_column_int64(st, 1));
	}
	if (!rc && step != SQLITE_DONE)
		rc = MTD_ESTORE;
	sqlite3_finalize(st);
	return rc;
}

/* ---- devices touched ---- */

int mtd_touch_of_row(int table)
{
	switch (table) {
	case MTD_ROW_DEVICES: /* platform, ownership, groups, ... */
	case MTD_ROW_REPORTS:
	case MTD_ROW_APPS:
	case MTD_ROW_THREAT_EVENTS:
	case MTD_ROW_TASKS: /* device.tasks */
		return MTD_TOUCH_DEVICE;
	default:
		/* connectors: a state or settings change is an audit record of its
		 * own (mtd_touch_of_audit), last_contact alone changes nothing now;
		 * groups and group sets: new ones come with the devices that have
		 * them; identifiers, parked messages, meta: not what rules see */
		return MTD_TOUCH_NONE;
	}
}

int mtd_touch_of_audit(const char *kind)
{
	static const char *const all[] = {"connector_add", "connector_set", "connector_remove",
					  "connector_state"};
	for (size_t i = 0; i < sizeof all / sizeof *all; i++)
		if (!strcmp(kind, all[i]))
			return MTD_TOUCH_ALL;
	return MTD_TOUCH_NONE;
}

static void touch(mtd_store *s, int how, int64_t device)
{
	if (!s->track || how == MTD_TOUCH_NONE)
		return;
	if (how == MTD_TOUCH_ALL)
		s->tpend.all = 1;
	else if (device > 0)
		mtd_devset_add(&s->tpend, device); /* out of memory: all */
}

_Static_assert(MTD_BLOCK_ENTRIES == 1024, "the *_LOG_SINCE statements' window");

/* The entries after seq of one log's blocks into the sets (touched for
 * messages and rows, decided for decisions); *last: the highest number. */
static int log_since(mtd_store *s, int log, int64_t seq, int64_t *last, mtd_devset *touched,
		     mtd_devset *decided)
{
	enum mtd_sql q = log == MTD_LOG_DECISIONS  ? SQL_DECISION_LOG_SINCE
			 : log == MTD_LOG_MESSAGES ? SQL_MESSAGE_LOG_SINCE
						   : SQL_ROW_LOG_SINCE;
	sqlite3_stmt *st = mtd_store_stmt(s, q);
	int step;
	if (!st)
		return MTD_ESTORE;
	sqlite3_bind_int64(st, 1, seq);
	while ((step = sqlite3_step(st)) == SQLITE_ROW) {
		int64_t first = sqlite3_column_int64(st, 0), n = sqlite3_column_int64(st, 1);
		const unsigned char *p = sqlite3_column_blob(st, 2);
		const unsigned char *end = p + sqlite3_column_bytes(st, 2);
		mtd_log_entry e;
		memset(&e, 0, sizeof e);
		for (int64_t i = 0; i < n; i++) {
			if (!p || mtd_log_entry_decode(log, &p, end, &e)) {
				/* cannot tell which: every device (audit verify names it) */
				touched->all = 1;
				break;
			}
			if (first + i <= seq)
				continue;
			if (first + i > *last)
				*last = first + i;
			if (log == MTD_LOG_DECISIONS && decided)
				mtd_devset_add(decided, e.device);
			else if (log == MTD_LOG_MESSAGES && e.device > 0)
				mtd_devset_add(touched, e.device);
			else if (log == MTD_LOG_ROWS) {
				int how = mtd_touch_of_row(e.table);
				if (how == MTD_TOUCH_ALL)
					touched->all = 1;
				else if (how == MTD_TOUCH_DEVICE && e.device > 0)
					mtd_devset_add(touched, e.device);
			}
		}
	}
	sqlite3_reset(st);
	return step == SQLITE_DONE ? 0 : MTD_ESTORE;
}

int mtd_store_changes_since(mtd_store *s, int64_t *seq, mtd_devset *touched, mtd_devset *decided)
{
	sqlite3_stmt *st;
	int64_t from = *seq, last = *seq;
	int step, rc;

	if (from < 0) {
		if (!(st = mtd_store_stmt(s, SQL_EVALUATE_LAST)))
			return MTD_ESTORE;
		step = sqlite3_step(st);
		from = step == SQLITE_ROW ? sqlite3_column_int64(st, 0) : -1;
		sqlite3_reset(st);
		if (step != SQLITE_ROW && step != SQLITE_DONE)
			return MTD_ESTORE;
		if (from < 0) /* never evaluated: nothing to catch up with */
			return mtd_store_last_seq(s, seq);
		last = from;
	}
	if (!(st = mtd_store_stmt(s, SQL_AUDIT_SINCE)))
		return MTD_ESTORE;
	sqlite3_bind_int64(st, 1, from);
	while ((step = sqlite3_step(st)) == SQLITE_ROW) {
		const char *kind = (const char *)sqlite3_column_text(st, 1);
		last = sqlite3_column_int64(st, 0);
		if (kind && mtd_touch_of_audit(kind) == MTD_TOUCH_ALL)
			touched->all = 1;
		/* a removed device's decision is gone, and its row with it: those
		 * who keep decisions (serve's index) read them all again */
		if (kind && !strcmp(kind, "device_removed") && decided)
			decided->all = 1;
	}
	sqlite3_reset(st);
	if (step != SQLITE_DONE)
		return MTD_ESTORE;
	for (int log = MTD_LOG_DECISIONS; log <= MTD_LOG_ROWS; log++)
		if ((rc = log_since(s, log, from, &last, touched, decided)))
			return rc;
	*seq = last;
	return 0;
}

int mtd_store_last_seq(mtd_store *s, int64_t *seq)
{
	sqlite3_stmt *st;
	int step;
	if (sqlite3_get_autocommit(s->db))
		mtd_store_idle(s); /* the latest commit, not a left statement's snapshot */
	st = mtd_store_stmt(s, SQL_AUDIT_LAST);
	if (!st)
		return MTD_ESTORE;
	step = sqlite3_step(st);
	*seq = step == SQLITE_ROW ? sqlite3_column_int64(st, 0) : 0;
	sqlite3_reset(st);
	return step == SQLITE_ROW || step == SQLITE_DONE ? 0 : MTD_ESTORE;
}

void mtd_store_track(mtd_store *s, int on)
{
	s->track = on != 0;
	if (!on) {
		mtd_devset_free(&s->tpend);
		mtd_devset_free(&s->tdone);
	}
}

int mtd_store_touched(mtd_store *s, mtd_devset *out)
{
	return mtd_devset_merge(out, &s->tdone);
}

int mtd_store_device_id(mtd_store *s, const char *ext, int64_t *id)
{
	sqlite3_stmt *st = mtd_store_stmt(s, SQL_DEVICE_ID);
	int step;
	*id = 0;
	if (!st)
		return MTD_ESTORE;
	sqlite3_bind_text(st, 1, ext, -1, SQLITE_STATIC);
	step = sqlite3_step(st);
	if (step == SQLITE_ROW)
		*id = sqlite3_column_int64(st, 0);
	sqlite3_reset(st);
	return step == SQLITE_ROW ? 0 : step == SQLITE_DONE ? MTD_ENOTFOUND : MTD_ESTORE;
}

int mtd_store_device_ext(mtd_store *s, int64_t id, char *buf, size_t n)
{
	sqlite3_stmt *st = mtd_store_stmt(s, SQL_DEVICE_EXT);
	int step;
	if (!st)
		return MTD_ESTORE;
	sqlite3_bind_int64(st, 1, id);
	step = sqlite3_step(st);
	if (step == SQLITE_ROW && n) { /* as snprintf "%s", without its cost (a follower's event) */
		const char *t = (const char *)sqlite3_column_text(st, 0);
		size_t len = t ? strnlen(t, n - 1) : 0;
		if (len)
			memcpy(buf, t, len);
		buf[len] = '\0';
	}
	sqlite3_reset(st);
	return step == SQLITE_ROW ? 0 : step == SQLITE_DONE ? MTD_ENOTFOUND : MTD_ESTORE;
}

int mtd_store_begin(mtd_store *s)
{
	/* A statement left on a row holds a read snapshot, and SQLite refuses
	 * at once, without waiting, to turn that reader into a writer once
	 * another writer has committed (SQLITE_BUSY_SNAPSHOT): end it first, so
	 * that a BUSY below always means the lock stayed held for wait_ms. */
	if (sqlite3_get_autocommit(s->db))
		mtd_store_idle(s);
	s->chain_known = 0;
	s->err[0] = '\0'; /* errmsg: this transaction's failure, not an older one */
	pending_reset(s);
	s->tpend.n = 0;
	s->tpend.all = 0;
	if (sqlite3_exec(s->db, "BEGIN IMMEDIATE", NULL, NULL, NULL) == SQLITE_OK)
		return 0;
	return fail_lock(s, "starting a transaction");
}

int mtd_store_commit(mtd_store *s)
{
	int rc = mtd_store_seal(s, 0);
	if (rc)
		return rc;
	if (sqlite3_exec(s->db, "COMMIT", NULL, NULL, NULL) != SQLITE_OK)
		return fail(s, MTD_ESTORE, "committing");
	if (s->track)
		mtd_devset_merge(&s->tdone, &s->tpend); /* out of memory: all */
	return 0;
}

void mtd_store_rollback(mtd_store *s)
{
	s->chain_known = 0;
	s->err[0] = '\0'; /* errmsg: this transaction's failure, not an older one */
	pending_reset(s);
	s->tpend.n = 0;
	s->tpend.all = 0;
	if (!sqlite3_get_autocommit(s->db))
		sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
}

int mtd_store_read_begin(mtd_store *s)
{
	s->err[0] = '\0'; /* errmsg: this snapshot's failure, not an older one */
	return sqlite3_exec(s->db, "BEGIN", NULL, NULL, NULL) == SQLITE_OK ? 0 : MTD_ESTORE;
}

void mtd_store_read_end(mtd_store *s)
{
	sqlite3_exec(s->db, "COMMIT", NULL, NULL, NULL); /* wrote nothing: cannot fail */
}

int mtd_bind_text(sqlite3_stmt *st, int i, const char *p, size_t n)
{
	/* borrowed: every caller steps the statement while p is alive (a copy
	 * per bound text was a malloc per message) */
	return p ? sqlite3_bind_text(st, i, p, (int)n, SQLITE_STATIC)
		 : sqlite3_bind_null(st, i);
}

int mtd_store_meta_get(mtd_store *s, const char *key, char *buf, size_t n)
{
	sqlite3_stmt *st = mtd_store_stmt(s, SQL_META_GET);
	int rc;
	if (!st)
		return MTD_ESTORE;
	sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		snprintf(buf, n, "%s", (const char *)sqlite3_column_text(st, 0));
		sqlite3_reset(st);
		return 0;
	}
	sqlite3_reset(st);
	return rc == SQLITE_DONE ? MTD_ENOTFOUND : fail(s, MTD_ESTORE, "reading meta");
}

int mtd_store_meta_set(mtd_store *s, const char *key, const char *value)
{
	sqlite3_stmt *st = mtd_store_stmt(s, SQL_META_SET);
	if (!st)
		return MTD_ESTORE;
	sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, value, -1, SQLITE_STATIC);
	if (sqlite3_step(st) != SQLITE_DONE)
		return fail(s, MTD_ESTORE, "writing meta");
	sqlite3_reset(st);
	return 0;
}

/* A field length-prefixed (4 bytes, big-endian); NULL (0xffffffff)
 * differs from "". */
static void put_lp(mtd_sha256 *c, const char *f)
{
	uint32_t n = f ? (uint32_t)strlen(f) : 0xffffffffu;
	unsigned char nb[4] = {(unsigned char)(n >> 24), (unsigned char)(n >> 16),
			       (unsigned char)(n >> 8), (unsigned char)n};
	mtd_sha256_update(c, nb, 4);
	if (f)
		mtd_sha256_update(c, f, strlen(f));
}

/* What every record's hash starts with: the previous hash, seq and at
 * (8 bytes each, big-endian). */
static void hash_head(mtd_sha256 *c, const unsigned char prev[32], int64_t seq, int64_t at)
{
	unsigned char num[16];
	mtd_sha256_init(c);
	mtd_sha256_update(c, prev, 32);
	for (int i = 0; i < 8; i++) {
		num[i] = (unsigned char)((uint64_t)seq >> (56 - 8 * i));
		num[8 + i] = (unsigned char)((uint64_t)at >> (56 - 8 * i));
	}
	mtd_sha256_update(c, num, sizeof num);
}

void mtd_audit_hash(const unsigned char prev[32], int64_t seq, int64_t at, const char *kind,
		    const char *vendor, const char *device, const char *detail,
		    unsigned char out[32])
{
	mtd_sha256 c;
	hash_head(&c, prev, seq, at);
	put_lp(&c, kind);
	put_lp(&c, vendor);
	put_lp(&c, device);
	put_lp(&c, detail);
	mtd_sha256_final(&c, out);
}

void mtd_audit_pdigest(const unsigned char salt[MTD_AUDIT_SALT], const char *device,
		       const char *detail, unsigned char out[32])
{
	mtd_sha256 c;
	mtd_sha256_init(&c);
	mtd_sha256_update(&c, salt, MTD_AUDIT_SALT);
	put_lp(&c, device);
	put_lp(&c, detail);
	mtd_sha256_final(&c, out);
}

void mtd_audit_hash_pd(const unsigned char prev[32], int64_t seq, int64_t at, const char *kind,
		       const char *vendor, const unsigned char pd[32], unsigned char out[32])
{
	static const unsigned char mark[4] = {0xff, 0xff, 0xff, 0xfe}; /* no length of v1 */
	mtd_sha256 c;
	hash_head(&c, prev, seq, at);
	put_lp(&c, kind);
	put_lp(&c, vendor);
	mtd_sha256_update(&c, mark, 4);
	mtd_sha256_update(&c, pd, 32);
	mtd_sha256_final(&c, out);
}

uint64_t mtd_text_key(const void *salt, size_t nsalt, const char *p, size_t n)
{
	mtd_sha256 c;
	unsigned char d[32];
	uint64_t k = 0;
	mtd_sha256_init(&c);
	if (nsalt)
		mtd_sha256_update(&c, salt, nsalt);
	mtd_sha256_update(&c, p, n);
	mtd_sha256_final(&c, d);
	for (int i = 0; i < 8; i++)
		k = k << 8 | d[i];
	return k | 1; /* never 0, which is "no text" */
}

void mtd_ids_logkey(uint64_t kt, unsigned char out[MTD_IDS_LOGKEY])
{
	out[0] = MTD_IDS_HASHED;
	for (int i = 0; i < 8; i++)
		out[1 + i] = (unsigned char)(kt >> (56 - 8 * i));
}

static int flush_blocks(mtd_store *s);

/* last_seq/last_hash from the store, once per transaction. */
static int chain_load(mtd_store *s)
{
	sqlite3_stmt *st;
	if (s->chain_known)
		return 0;
	if (!(st = mtd_store_stmt(s, SQL_AUDIT_LAST)))
		return MTD_ESTORE;
	memset(s->last_hash, 0, sizeof s->last_hash);
	s->last_seq = 0;
	if (sqlite3_step(st) == SQLITE_ROW) {
		s->last_seq = sqlite3_column_int64(st, 0);
		if (sqlite3_column_bytes(st, 1) == 32)
			memcpy(s->last_hash, sqlite3_column_blob(st, 1), 32);
	}
	sqlite3_reset(st);
	/* Outside a transaction another writer may come between: look again. */
	s->chain_known = !sqlite3_get_autocommit(s->db);
	return 0;
}

int mtd_store_audit(mtd_store *s, int64_t at, const char *kind,
		    const char *vendor, const char *device, const char *detail)
{
	sqlite3_stmt *st;
	unsigned char hash[32], pd[32], salt[MTD_AUDIT_SALT];

	if (!detail)
		detail = "{}";
	if (chain_load(s) || flush_blocks(s))
		return MTD_ESTORE;
	if (s->audit_pd) {
		if (getrandom(salt, sizeof salt, 0) != (ssize_t)sizeof salt)
			return fail(s, MTD_ESTORE, "getrandom");
		mtd_audit_pdigest(salt, device, detail, pd);
		mtd_audit_hash_pd(s->last_hash, s->last_seq + 1, at, kind, vendor, pd, hash);
	} else {
		mtd_audit_hash(s->last_hash, s->last_seq + 1, at, kind, vendor, device, detail, hash);
	}
	st = mtd_store_stmt(s, s->audit_pd ? SQL_AUDIT_INSERT_PD : SQL_AUDIT_INSERT);
	if (!st)
		return MTD_ESTORE;
	if (s->audit_pd) {
		sqlite3_bind_blob(st, 8, pd, 32, SQLITE_STATIC);
		sqlite3_bind_blob(st, 9, salt, sizeof salt, SQLITE_STATIC);
	}
	sqlite3_bind_int64(st, 1, s->last_seq + 1);
	sqlite3_bind_int64(st, 2, at);
	sqlite3_bind_text(st, 3, kind, -1, SQLITE_STATIC);
	mtd_bind_text(st, 4, vendor, vendor ? strlen(vendor) : 0);
	mtd_bind_text(st, 5, device, device ? strlen(device) : 0);
	sqlite3_bind_text(st, 6, detail, -1, SQLITE_STATIC);
	sqlite3_bind_blob(st, 7, hash, 32, SQLITE_STATIC);
	if (sqlite3_step(st) != SQLITE_DONE) {
		s->chain_known = 0;
		return fail(s, MTD_ESTORE, "writing the audit log");
	}
	sqlite3_reset(st);
	s->last_seq++;
	memcpy(s->last_hash, hash, 32);
	touch(s, mtd_touch_of_audit(kind), 0);
	return 0;
}

/* ---- sealed logs ---- */

/* Unsigned varints: 7 bits a byte, low first, high bit on all but the
 * last; at most 10 bytes. */
static size_t put_uvarint(unsigned char *b, uint64_t z)
{
	size_t n = 0;
	do {
		b[n++] = (unsigned char)((z & 0x7f) | (z > 0x7f ? 0x80 : 0));
		z >>= 7;
	} while (z);
	return n;
}

/* -1 when truncated or longer than 64 bits */
static int get_uvarint(const unsigned char **p, const unsigned char *end, uint64_t *v)
{
	uint64_t z = 0;
	for (int shift = 0;; shift += 7) {
		unsigned char c;
		if (*p >= end || shift > 63 || (shift == 63 && **p > 1))
			return -1;
		c = *(*p)++;
		z |= (uint64_t)(c & 0x7f) << shift;
		if (!(c & 0x80))
			break;
	}
	*v = z;
	return 0;
}

/* Signed values as varints, zigzag-mapped: 0, -1, 1, -2 -> 0, 1, 2, 3
 * (on their two's complement bits, so every int64 round-trips). */
static size_t put_svarint(unsigned char *b, uint64_t v)
{
	return put_uvarint(b, (v << 1) ^ (uint64_t)-(int64_t)(v >> 63));
}

static int get_svarint(const unsigned char **p, const unsigned char *end, uint64_t *v)
{
	uint64_t z;
	if (get_uvarint(p, end, &z))
		return -1;
	*v = (z >> 1) ^ (uint64_t)-(int64_t)(z & 1);
	return 0;
}

/* A row's encoding is built in a small buffer and hashed in one call. */
static size_t enc_int(unsigned char *b, int is_null, int64_t v)
{
	b[0] = is_null ? 0 : 1;
	return is_null ? 1 : 1 + put_svarint(b + 1, (uint64_t)v);
}

/* One column of a log row: what is bound, and what its seal hashes. */
typedef struct logval {
	int type; /* SQLITE_NULL, SQLITE_INTEGER, SQLITE_TEXT, SQLITE_BLOB */
	int64_t i;
	const void *p;
	size_t n;
} logval;

#define LV_INT(v) ((logval){SQLITE_INTEGER, (v), NULL, 0})
#define LV_TEXT(s) ((logval){SQLITE_TEXT, 0, (s), strlen(s)})

/* The seals' encoding of a row, the same for the writer (from the values
 * it binds) and for audit verify (from the columns it reads): NULL 0;
 * integer 1 and a zigzag varint; text 2, blob 3, each with its length as
 * an integer, then the bytes. */
static void hash_values(mtd_sha256 *c, const logval *v, int n)
{
	unsigned char b[16 * 12];
	size_t len = 0;
	for (int i = 0; i < n; i++) {
		if (len > sizeof b - 12) {
			mtd_sha256_update(c, b, len);
			len = 0;
		}
		if (v[i].type == SQLITE_NULL || v[i].type == SQLITE_INTEGER) {
			len += enc_int(b + len, v[i].type == SQLITE_NULL, v[i].i);
			continue;
		}
		b[len++] = v[i].type == SQLITE_BLOB ? 3 : 2;
		len += enc_int(b + len, 0, (int64_t)v[i].n);
		mtd_sha256_update(c, b, len);
		mtd_sha256_update(c, v[i].p, v[i].n);
		len = 0;
	}
	mtd_sha256_update(c, b, len);
}

static void bind_values(sqlite3_stmt *st, const logval *v, int n)
{
	for (int i = 0; i < n; i++)
		switch (v[i].type) {
		case SQLITE_INTEGER: sqlite3_bind_int64(st, 1 + i, v[i].i); break;
		case SQLITE_TEXT: sqlite3_bind_text(st, 1 + i, v[i].p, (int)v[i].n, SQLITE_STATIC); break;
		case SQLITE_BLOB: sqlite3_bind_blob(st, 1 + i, v[i].p, (int)v[i].n, SQLITE_STATIC); break;
		default: sqlite3_bind_null(st, 1 + i); break;
		}
}

void mtd_log_hash_row(mtd_sha256 *c, sqlite3_stmt *st, int ncols)
{
	for (int i = 0; i < ncols; i++) {
		logval v = {sqlite3_column_type(st, i), 0, NULL, 0};
		if (v.type == SQLITE_INTEGER) {
			v.i = sqlite3_column_int64(st, i);
		} else if (v.type == SQLITE_BLOB) {
			v.p = sqlite3_column_blob(st, i);
			v.n = (size_t)sqlite3_column_bytes(st, i);
		} else if (v.type != SQLITE_NULL) { /* as text, whatever else it is */
			v.type = SQLITE_TEXT;
			v.p = sqlite3_column_text(st, i);
			v.n = (size_t)sqlite3_column_bytes(st, i);
			if (!v.p)
				v.p = "";
		}
		hash_values(c, &v, 1);
	}
}

int mtd_seal_detail(const char *log, uint64_t rows, const unsigned char digest[32], char *buf,
		    size_t n)
{
	char hex[65];
	for (int i = 0; i < 32; i++)
		snprintf(hex + 2 * i, 3, "%02x", digest[i]);
	return snprintf(buf, n, "{\"log\":\"%s\",\"rows\":%llu,\"sha256\":\"%s\"}", log,
			(unsigned long long)rows, hex) >= (int)n ? -1 : 0;
}

const char *mtd_log_name(int log)
{
	return log >= 0 && log < MTD_LOG__COUNT ? log_names[log] : "?";
}

int mtd_store_seal(mtd_store *s, int64_t at)
{
	if (flush_blocks(s))
		return MTD_ESTORE;
	for (int i = 0; i < MTD_LOG__COUNT; i++) {
		pending *p = &s->log[i];
		unsigned char d[32];
		char detail[160];
		if (!p->rows)
			continue;
		mtd_sha256_final(&p->c, d);
		mtd_seal_detail(log_names[i], p->rows, d, detail, sizeof detail);
		mtd_sha256_init(&p->c);
		p->rows = 0;
		if (mtd_store_audit(s, at ? at : s->last_at, "seal", NULL, NULL, detail))
			return MTD_ESTORE;
	}
	return 0;
}

/* The next sequence number for an entry of log; seals when the log has
 * MTD_SEAL_ROWS entries pending, so that a seal never covers more. */
static int log_next(mtd_store *s, int log, int64_t at, int64_t *seq)
{
	if (chain_load(s))
		return MTD_ESTORE;
	if (s->log[log].rows + s->blk[log].n >= MTD_SEAL_ROWS && mtd_store_seal(s, at))
		return MTD_ESTORE;
	*seq = ++s->last_seq;
	s->last_at = at;
	return 0;
}

/* Write one log row (the statement's parameters are its columns, in
 * order) and hash it into the log's pending seal: nentries entries. */
static int log_row(mtd_store *s, enum mtd_sql which, int log, const logval *v, int n,
		   uint32_t nentries)
{
	sqlite3_stmt *st = mtd_store_stmt(s, which);
	if (!st)
		return MTD_ESTORE;
	bind_values(st, v, n);
	if (sqlite3_step(st) != SQLITE_DONE) {
		s->chain_known = 0;
		return fail(s, MTD_ESTORE, "writing the audit log");
	}
	hash_values(&s->log[log].c, v, n);
	s->log[log].rows += nentries;
	return 0;
}

/* Write the filled part of a block log as one row (and into its seal). */
static int flush_block(mtd_store *s, int log)
{
	block *b = &s->blk[log];
	uint32_t n = b->n;
	int k = log == MTD_LOG_MESSAGES ? 4 : 3; /* only message_log has a connector */
	int rc;
	if (!n) /* the common case: called for every entry of the other logs */
		return 0;
	logval v[5] = {LV_INT(b->first), LV_INT(n), LV_INT(b->at), LV_INT(b->connector)};
	b->n = 0;
	v[k++] = (logval){SQLITE_BLOB, 0, b->buf, b->len};
	rc = log_row(s,
		     log == MTD_LOG_MESSAGES    ? SQL_MESSAGE_LOG_INSERT
		     : log == MTD_LOG_DECISIONS ? SQL_DECISION_LOG_INSERT
						: SQL_ROW_LOG_INSERT,
		     log, v, k, n);
	b->len = 0;
	return rc;
}

static int flush_blocks(mtd_store *s)
{
	return flush_block(s, MTD_LOG_MESSAGES) || flush_block(s, MTD_LOG_DECISIONS) ||
			       flush_block(s, MTD_LOG_ROWS)
		       ? MTD_ESTORE
		       : 0;
}

/* Room in log's block for an entry (at most 512 bytes) at at/connector; a
 * full or different block is written first, and so are the other block
 * logs' (an open block is always at the tip of the sequence). Then the
 * entry's number. */
static int block_entry(mtd_store *s, int log, int64_t at, int64_t connector)
{
	block *b = &s->blk[log];
	int64_t seq;
	if (b->n && (b->at != at || b->connector != connector || b->n >= MTD_BLOCK_ENTRIES ||
		     b->len >= MTD_BLOCK_BYTES) && flush_block(s, log))
		return MTD_ESTORE;
	for (int o = MTD_LOG_DECISIONS; o <= MTD_LOG_ROWS; o++)
		if (o != log && flush_block(s, o))
			return MTD_ESTORE;
	if (log_next(s, log, at, &seq))
		return MTD_ESTORE;
	if (!b->n) {
		b->first = seq;
		b->at = at;
		b->connector = connector;
		b->buf[0] = MTD_LOG_ROWS_LAYOUT;
		b->len = 1;
		memset(&b->last, 0, sizeof b->last);
	}
	b->n++;
	return 0;
}

/* Entries in the compact layout (store.h), each relative to the one
 * before it in its block (mtd_log_entry_decode reads them back). */
static size_t put_delta(unsigned char *b, int64_t v, int64_t *last)
{
	size_t n = put_svarint(b, (uint64_t)v - (uint64_t)*last);
	*last = v;
	return n;
}

int mtd_store_log_message(mtd_store *s, int64_t at, int64_t connector, int64_t device,
			  int type, int level, int via, int64_t msg_at, const char *code,
			  size_t ncode, const unsigned char *row)
{
	block *b = &s->blk[MTD_LOG_MESSAGES];
	unsigned char *o;
	if (ncode > 256)
		ncode = 256; /* error codes are checked to 128 bytes before this */
	if (block_entry(s, MTD_LOG_MESSAGES, at, connector))
		return MTD_ESTORE;
	touch(s, MTD_TOUCH_DEVICE, device);
	o = b->buf + b->len;
	o += put_delta(o, device > 0 ? device : 0, &b->last.device);
	o += put_svarint(o, (uint64_t)(int64_t)type);
	o += put_svarint(o, (uint64_t)(int64_t)(level < 0 ? -1 : level));
	o += put_delta(o, msg_at, &b->last.msg_at);
	o += put_uvarint(o, via > 0 ? (uint64_t)via : 0);
	o += put_uvarint(o, code ? (uint64_t)ncode + 1 : 0);
	if (code) {
		memcpy(o, code, ncode);
		o += ncode;
	}
	if (device > 0) { /* the report it wrote, if any */
		*o++ = row ? MTD_ROW_REPORTS + 1 : 0;
		if (row) {
			memcpy(o, row, MTD_ROW_DIGEST);
			o += MTD_ROW_DIGEST;
		}
	}
	b->len = (size_t)(o - b->buf);
	return 0;
}

/* ---- covered rows ---- */

const char *mtd_row_table_name(int table)
{
	return table >= 0 && table < MTD_ROW__COUNT ? row_names[table] : NULL;
}

const char *mtd_row_scan_sql(int table)
{
	return table >= 0 && table < MTD_ROW__COUNT ? row_scan[table] : NULL;
}

const char *mtd_row_get_sql(int table)
{
	return table >= 0 && table < MTD_ROW__COUNT ? row_get[table] : NULL;
}

const char *mtd_row_label_sql(int table)
{
	return table >= 0 && table < MTD_ROW__COUNT ? row_label[table] : NULL;
}

static void digest_final(mtd_sha256 *c, unsigned char out[MTD_ROW_DIGEST])
{
	unsigned char d[32];
	mtd_sha256_final(c, d);
	memcpy(out, d, MTD_ROW_DIGEST);
}

void mtd_report_digest(int64_t device, int64_t connector, int level, int64_t at,
		       int64_t received, int os_supported, const void *threats, size_t nthreats,
		       unsigned char out[MTD_ROW_DIGEST])
{
	/* MTD_REPORTS_ROW of the row SQL_REPORT_UPSERT writes */
	const logval NUL = {SQLITE_NULL, 0, NULL, 0};
	logval v[13] = {LV_INT(device), LV_INT(connector), NUL, LV_INT(level), LV_INT(at),
			LV_INT(received), NUL, NUL, LV_INT(0), NUL, NUL, NUL, NUL};
	mtd_sha256 c;
	unsigned char t = MTD_ROW_REPORTS;
	if (os_supported >= 0)
		v[6] = LV_INT(os_supported);
	if (threats)
		v[7] = (logval){SQLITE_BLOB, 0, threats, nthreats};
	mtd_sha256_init(&c);
	mtd_sha256_update(&c, &t, 1);
	hash_values(&c, v, 13);
	digest_final(&c, out);
}

void mtd_row_digest(int table, sqlite3_stmt *st, unsigned char out[MTD_ROW_DIGEST])
{
	mtd_sha256 c;
	unsigned char t = (unsigned char)table;
	mtd_sha256_init(&c);
	mtd_sha256_update(&c, &t, 1);
	mtd_log_hash_row(&c, st, sqlite3_column_count(st));
	digest_final(&c, out);
}

/* A row log entry: the row's key, and its digest when present. */
static int row_entry(mtd_store *s, int64_t at, int table, int64_t k1, int64_t k2,
		     const char *kt, size_t nkt, const unsigned char *digest)
{
	block *b = &s->blk[MTD_LOG_ROWS];
	unsigned char *o;
	if (nkt > 256)
		return fail(s, MTD_ESTORE, "a covered row's key is too long");
	if (block_entry(s, MTD_LOG_ROWS, at, 0))
		return MTD_ESTORE;
	o = b->buf + b->len;
	o += put_uvarint(o, (uint64_t)table);
	o += put_delta(o, k1, &b->last.device);
	o += put_delta(o, k2, &b->last.k2);
	o += put_uvarint(o, kt ? (uint64_t)nkt + 1 : 0);
	if (kt) {
		memcpy(o, kt, nkt);
		o += nkt;
	}
	*o++ = digest ? 1 : 0;
	if (digest) {
		memcpy(o, digest, MTD_ROW_DIGEST);
		o += MTD_ROW_DIGEST;
	}
	b->len = (size_t)(o - b->buf);
	return 0;
}

int mtd_store_row_digest_of(mtd_store *s, int table, int64_t k1, int64_t k2, const char *ktext,
			    size_t nktext, unsigned char out[MTD_ROW_DIGEST])
{
	sqlite3_stmt *st;
	int step;
	if (table < 0 || table >= MTD_ROW__COUNT)
		return fail(s, MTD_ESTORE, "not a covered table");
	if (!(st = s->row_get[table])) {
		if (sqlite3_prepare_v3(s->db, row_get[table], -1, SQLITE_PREPARE_PERSISTENT, &st,
				       NULL) != SQLITE_OK)
			return fail(s, MTD_ESTORE, "preparing a statement");
		s->row_get[table] = st;
	}
	sqlite3_reset(st);
	sqlite3_bind_int64(st, 1, k1);
	sqlite3_bind_int64(st, 2, k2);
	mtd_bind_text(st, 3, ktext, nktext);
	step = sqlite3_step(st);
	if (step == SQLITE_ROW)
		mtd_row_digest(table, st, out);
	sqlite3_reset(st);
	if (step != SQLITE_ROW && step != SQLITE_DONE)
		return fail(s, MTD_ESTORE, "reading a covered row");
	return step == SQLITE_ROW;
}

size_t mtd_ids_key(char *buf, size_t n, const char *kind, size_t nkind, const char *value,
		   size_t nvalue)
{
	if (nkind >= n || nvalue >= n - nkind || memchr(kind, MTD_IDS_SEP, nkind))
		return 0;
	memcpy(buf, kind, nkind);
	buf[nkind] = MTD_IDS_SEP;
	memcpy(buf + nkind + 1, value, nvalue);
	return nkind + 1 + nvalue;
}

int mtd_store_device_salt(mtd_store *s, int64_t device, unsigned char salt[16], size_t *n)
{
	sqlite3_stmt *st = mtd_store_stmt(s, SQL_DEVICE_SALT);
	int step;
	*n = 0;
	if (!st)
		return MTD_ESTORE;
	sqlite3_bind_int64(st, 1, device);
	step = sqlite3_step(st);
	if (step == SQLITE_ROW && sqlite3_column_bytes(st, 0) == 16) {
		memcpy(salt, sqlite3_column_blob(st, 0), 16);
		*n = 16;
	}
	sqlite3_reset(st);
	return step == SQLITE_ROW || step == SQLITE_DONE ? 0 : fail(s, MTD_ESTORE, "reading a salt");
}

int mtd_store_row_logged(mtd_store *s, int64_t at, int table, int64_t k1, int64_t k2,
			 const char *ktext, size_t nktext)
{
	unsigned char d[MTD_ROW_DIGEST], salt[16], key[MTD_IDS_LOGKEY];
	size_t nsalt;
	int rc = mtd_store_row_digest_of(s, table, k1, k2, ktext, nktext, d);
	if (rc < 0)
		return rc;
	touch(s, mtd_touch_of_row(table), k1);
	if (table != MTD_ROW_DEVICE_IDS)
		return row_entry(s, at, table, k1, k2, ktext, nktext, rc ? d : NULL);
	/* an identifier: keyed by a digest salted with its device's salt */
	if (mtd_store_device_salt(s, k1, salt, &nsalt))
		return MTD_ESTORE;
	mtd_ids_logkey(mtd_text_key(salt, nsalt, ktext, nktext), key);
	return row_entry(s, at, table, 0, 0, (const char *)key, sizeof key, rc ? d : NULL);
}


int mtd_store_log_decision(mtd_store *s, int64_t at, int64_t device, int64_t outcome,
			   int64_t prev)
{
	block *b = &s->blk[MTD_LOG_DECISIONS];
	unsigned char *o;
	if (block_entry(s, MTD_LOG_DECISIONS, at, 0))
		return MTD_ESTORE;
	o = b->buf + b->len;
	o += put_delta(o, device, &b->last.device);
	o += put_delta(o, outcome, &b->last.outcome);
	o += put_delta(o, prev > 0 ? prev : 0, &b->last.prev);
	b->len = (size_t)(o - b->buf);
	return 0;
}

static int dec_int(const unsigned char **p, const unsigned char *end, int *is_null, int64_t *v)
{
	uint64_t z;
	if (*p >= end || **p > 1)
		return -1;
	*is_null = **p == 0;
	(*p)++;
	*v = 0;
	if (*is_null)
		return 0;
	if (get_svarint(p, end, &z))
		return -1;
	*v = (int64_t)z;
	return 0;
}

/* The first layout, of blocks written before schema 6: every value a
 * null flag and, unless null, a zigzag varint. */
static int decode_v1(int log, const unsigned char **p, const unsigned char *end,
		     mtd_log_entry *e)
{
	int null[4];
	int64_t v[4];
	int nints = log == MTD_LOG_MESSAGES ? 4 : 3;
	memset(e, 0, sizeof *e);
	e->layout = 1;
	for (int i = 0; i < nints; i++)
		if (dec_int(p, end, &null[i], &v[i]))
			return -1;
	if (log == MTD_LOG_MESSAGES) {
		int cnull;
		int64_t n;
		e->device = null[0] ? 0 : v[0];
		e->type = (int)v[1];
		e->level = null[2] ? -1 : (int)v[2];
		e->msg_at = v[3];
		if (dec_int(p, end, &cnull, &n))
			return -1;
		if (!cnull) {
			if (n < 0 || n > end - *p)
				return -1;
			e->code = (const char *)*p;
			e->ncode = (size_t)n;
			*p += n;
		}
	} else {
		e->device = v[0];
		e->outcome = v[1];
		e->prev = null[2] ? 0 : v[2];
	}
	return 0;
}

static int get_delta(const unsigned char **p, const unsigned char *end, int64_t *v)
{
	uint64_t d;
	if (get_svarint(p, end, &d))
		return -1;
	*v = (int64_t)((uint64_t)*v + d);
	return 0;
}

static int get_int(const unsigned char **p, const unsigned char *end, int *v)
{
	uint64_t z;
	if (get_svarint(p, end, &z) || (int64_t)z < INT_MIN || (int64_t)z > INT_MAX)
		return -1;
	*v = (int)(int64_t)z;
	return 0;
}

/* A row's presence flag and digest (rows, and messages with a device). */
static int get_digest(const unsigned char **p, const unsigned char *end, mtd_log_entry *e)
{
	if (!e->present)
		return 0;
	if (end - *p < MTD_ROW_DIGEST)
		return -1;
	memcpy(e->digest, *p, MTD_ROW_DIGEST);
	*p += MTD_ROW_DIGEST;
	return 0;
}

int mtd_log_entry_decode(int log, const unsigned char **p, const unsigned char *end,
			 mtd_log_entry *e)
{
	if (!e->layout) { /* the block's first entry says which */
		if (*p < end && (**p == MTD_LOG_COMPACT || **p == MTD_LOG_VIA ||
				 **p == MTD_LOG_ROWS_LAYOUT)) {
			e->layout = **p;
			(*p)++;
		} else {
			e->layout = 1;
		}
	}
	e->table = -1;
	e->present = 0;
	if (log == MTD_LOG_ROWS) { /* only ever in the layout of schema 8 */
		uint64_t t, n;
		if (e->layout != MTD_LOG_ROWS_LAYOUT || get_uvarint(p, end, &t) ||
		    t >= MTD_ROW__COUNT || get_delta(p, end, &e->device) ||
		    get_delta(p, end, &e->k2) || get_uvarint(p, end, &n) ||
		    (n && n - 1 > (uint64_t)(end - *p)))
			return -1;
		e->table = (int)t;
		e->ktext = n ? (const char *)*p : NULL;
		e->nktext = n ? (size_t)(n - 1) : 0;
		*p += n ? n - 1 : 0;
		if (*p >= end || **p > 1)
			return -1;
		e->present = *(*p)++;
		return get_digest(p, end, e);
	}
	if (e->layout == 1) {
		int rc = decode_v1(log, p, end, e);
		e->table = -1;
		return rc;
	}
	e->code = NULL;
	e->ncode = 0;
	e->via = 0;
	if (log == MTD_LOG_MESSAGES) {
		uint64_t n, via = 0;
		if (get_delta(p, end, &e->device) || get_int(p, end, &e->type) ||
		    get_int(p, end, &e->level) || get_delta(p, end, &e->msg_at) ||
		    (e->layout >= MTD_LOG_VIA && (get_uvarint(p, end, &via) || via > 255)) ||
		    get_uvarint(p, end, &n) || (n && n - 1 > (uint64_t)(end - *p)))
			return -1;
		e->via = (int)via;
		if (n) {
			e->code = (const char *)*p;
			e->ncode = (size_t)(n - 1);
			*p += n - 1;
		}
		if (e->layout == MTD_LOG_ROWS_LAYOUT && e->device) {
			if (*p >= end || (**p != 0 && **p != MTD_ROW_REPORTS + 1))
				return -1;
			e->present = *(*p)++ != 0;
			e->table = e->present ? MTD_ROW_REPORTS : -1;
			return get_digest(p, end, e);
		}
		return 0;
	}
	return get_delta(p, end, &e->device) || get_delta(p, end, &e->outcome) ||
			       get_delta(p, end, &e->prev)
		       ? -1
		       : 0;
}

int mtd_store_log_outcome(mtd_store *s, int64_t at, const mtd_outcome_row *o, int64_t *id)
{
	int64_t seq;
	if (flush_blocks(s) || log_next(s, MTD_LOG_OUTCOMES, at, &seq))
		return MTD_ESTORE;
	{
		logval v[10] = {LV_INT(seq), LV_INT(at), LV_INT(o->digest), LV_INT(o->state),
				LV_INT(o->level), LV_INT(o->access), LV_INT(o->app_action),
				LV_TEXT(o->vendors), LV_TEXT(o->reasons), LV_TEXT(o->resources)};
		if (log_row(s, SQL_OUTCOME_INSERT, MTD_LOG_OUTCOMES, v, 10, 1))
			return MTD_ESTORE;
	}
	*id = seq;
	return 0;
}

/* 3 -> 4: each distinct decision of version 3 becomes an outcome (sealed
 * like any other), and decisions point to theirs. An outcome takes the time
 * of its first decision, the seal the last: a migration has no clock of its
 * own. Runs inside the migration's transaction. */
static int migrate_v4(mtd_store *s)
{
	sqlite3_stmt *st = NULL;
	int rc = 0, step;
	int64_t last = 0;

	s->chain_known = 0;
	pending_reset(s);
	if (sqlite3_prepare_v2(s->db,
			       "SELECT digest, state, level, access, app_action, vendors, reasons,"
			       " resources, min(evaluated_at), max(evaluated_at) FROM decisions_v3"
			       " GROUP BY digest, state, level, access, app_action, vendors, reasons,"
			       " resources ORDER BY min(evaluated_at)", -1, &st, NULL) != SQLITE_OK)
		return fail(s, MTD_ESTORE, "migrating decisions");
	while (!rc && (step = sqlite3_step(st)) == SQLITE_ROW) {
		mtd_outcome_row o = {sqlite3_column_int64(st, 0), sqlite3_column_int(st, 1),
				     sqlite3_column_int(st, 2), sqlite3_column_int(st, 3),
				     sqlite3_column_int(st, 4),
				     (const char *)sqlite3_column_text(st, 5),
				     (const char *)sqlite3_column_text(st, 6),
				     (const char *)sqlite3_column_text(st, 7)};
		int64_t id;
		if (sqlite3_column_int64(st, 9) > last)
			last = sqlite3_column_int64(st, 9);
		rc = o.vendors && o.reasons && o.resources
			     ? mtd_store_log_outcome(s, sqlite3_column_int64(st, 8), &o, &id)
			     : MTD_ESTORE;
	}
	if (!rc && step != SQLITE_DONE)
		rc = MTD_ESTORE;
	sqlite3_finalize(st);
	if (!rc &&
	    sqlite3_exec(s->db,
			 "INSERT INTO decisions(device, outcome, evaluated_at, since, wiped_at)"
			 " SELECT d.device, (SELECT o.seq FROM outcomes o WHERE o.digest = d.digest"
			 " AND o.state = d.state AND o.level = d.level AND o.access = d.access"
			 " AND o.app_action = d.app_action AND o.vendors = d.vendors"
			 " AND o.reasons = d.reasons AND o.resources = d.resources),"
			 " d.evaluated_at, d.since, d.wiped_at FROM decisions_v3 d;"
			 "DROP TABLE decisions_v3;",
			 NULL, NULL, NULL) != SQLITE_OK)
		rc = MTD_ESTORE;
	if (!rc)
		rc = mtd_store_seal(s, last);
	s->chain_known = 0;
	pending_reset(s);
	return rc ? fail(s, MTD_ESTORE, "migrating decisions to outcomes") : 0;
}

/* ---- current decisions ---- */

size_t mtd_dblock_encode(const mtd_dslot *slots, unsigned char *out)
{
	size_t n = 0;
	uint64_t prev = 0; /* evaluated_at of the decided slot before */
	for (unsigned i = 0; i < MTD_DBLOCK_SLOTS; i++) {
		const mtd_dslot *d = &slots[i];
		uint64_t at = (uint64_t)d->evaluated_at;
		if (!d->outcome) {
			out[n++] = 0;
			continue;
		}
		out[n++] = d->wiped_at ? 2 : 1;
		n += put_svarint(out + n, (uint64_t)d->outcome);
		n += put_svarint(out + n, at - prev);
		n += put_svarint(out + n, at - (uint64_t)d->since);
		if (d->wiped_at)
			n += put_svarint(out + n, at - (uint64_t)d->wiped_at);
		prev = at;
	}
	return n;
}

int mtd_dblock_decode(const unsigned char *p, size_t len, mtd_dslot *slots)
{
	const unsigned char *end;
	uint64_t prev = 0, v[4];
	if (!p) /* SQLite's empty blob; and NULL + 0 is undefined */
		return -1;
	end = p + len;
	for (unsigned i = 0; i < MTD_DBLOCK_SLOTS; i++) {
		int tag;
		if (p >= end || (tag = *p++) > 2)
			return -1;
		memset(&slots[i], 0, sizeof slots[i]);
		if (!tag)
			continue;
		for (int k = 0; k < (tag == 2 ? 4 : 3); k++)
			if (get_svarint(&p, end, &v[k]))
				return -1;
		/* a decided slot names an outcome; a wipe has a time */
		if (!v[0] || (tag == 2 && (uint64_t)(prev + v[1]) == v[3]))
			return -1;
		prev += v[1];
		slots[i].outcome = (int64_t)v[0];
		slots[i].evaluated_at = (int64_t)prev;
		slots[i].since = (int64_t)(prev - v[2]);
		slots[i].wiped_at = tag == 2 ? (int64_t)(prev - v[3]) : 0;
	}
	return p == end ? 0 : -1;
}

/* ---- the evaluation's rows ---- */

int64_t mtd_eval_row_key(sqlite3_stmt *st)
{
	return sqlite3_column_int64(st, 0);
}

void mtd_eval_device_read(sqlite3_stmt *st, mtd_eval_device *row)
{
	row->platform = sqlite3_column_int(st, 2);
	row->corporate = sqlite3_column_int(st, 3);
	row->enrolled = sqlite3_column_int(st, 4);
	row->groupset = sqlite3_column_int64(st, 5);
}

const char *mtd_eval_device_ext(sqlite3_stmt *st)
{
	const char *t = (const char *)sqlite3_column_text(st, 1);
	return t ? t : "?"; /* NOT NULL in the schema; out of memory */
}

void mtd_device_detail_read(sqlite3_stmt *st, int full, mtd_device_detail *row)
{
	int i = full ? 6 : 0;
	row->os_version = mtd_col_text(st, i, &row->nos_version);
	row->user = mtd_col_text(st, i + 1, &row->nuser);
}

/* at and threats from columns i, i + 1. */
static void report_detail(sqlite3_stmt *st, int i, mtd_eval_report *row)
{
	row->at = sqlite3_column_int64(st, i);
	row->threats = NULL;
	row->nthreats = 0;
	if (sqlite3_column_type(st, i + 1) == SQLITE_BLOB) {
		row->threats = sqlite3_column_blob(st, i + 1);
		row->nthreats = (size_t)sqlite3_column_bytes(st, i + 1);
	}
}

void mtd_eval_report_read(sqlite3_stmt *st, int full, mtd_eval_report *row)
{
	row->connector = sqlite3_column_int64(st, 1);
	row->level = sqlite3_column_int(st, 2);
	row->os_supported = sqlite3_column_int(st, 3); /* -1 for NULL, in the SQL */
	row->cause = sqlite3_column_int(st, 4);        /* -1 for NULL, in the SQL */
	if (full) {
		report_detail(st, 5, row);
	} else {
		row->at = 0;
		row->threats = NULL;
		row->nthreats = 0;
	}
}

void mtd_report_detail_read(sqlite3_stmt *st, mtd_eval_report *row)
{
	row->connector = sqlite3_column_int64(st, 0);
	report_detail(st, 1, row);
}

void mtd_device_report_read(sqlite3_stmt *st, mtd_device_report *row)
{
	row->vendor = mtd_col_text(st, 0, &row->nvendor);
	row->level = sqlite3_column_int(st, 1);
	row->at = sqlite3_column_int64(st, 2);
	row->received = sqlite3_column_int64(st, 3);
}

void mtd_groupset_row_read(sqlite3_stmt *st, mtd_groupset_row *row)
{
	row->id = sqlite3_column_int64(st, 0);
	row->key = (const char *)sqlite3_column_text(st, 1);
	if (!row->key)
		row->key = "";
}

int mtd_stored_outcome_read(sqlite3_stmt *st, mtd_stored_outcome *row)
{
	const char **t[3] = {&row->vendors, &row->reasons, &row->resources};
	for (int i = 0; i < 3; i++)
		if (!(*t[i] = (const char *)sqlite3_column_text(st, 5 + i)))
			return MTD_ESTORE;
	row->seq = sqlite3_column_int64(st, 0);
	row->state = sqlite3_column_int(st, 1);
	row->level = sqlite3_column_int(st, 2);
	row->access = sqlite3_column_int(st, 3);
	row->app_action = sqlite3_column_int(st, 4);
	return 0;
}

/* Integer column i, -1 for NULL. */
int64_t mtd_col_int_or(sqlite3_stmt *st, int i)
{
	return sqlite3_column_type(st, i) == SQLITE_NULL ? -1 : sqlite3_column_int64(st, i);
}

void mtd_app_row_read(sqlite3_stmt *st, mtd_app_row *row)
{
	const char **t[4] = {&row->app_id, &row->version, &row->short_version, &row->name};
	int *fl[6] = {&row->adhoc_signed, &row->app_store, &row->beta,
		      &row->vpp,	  &row->validated, &row->managed};
	for (int i = 0; i < 4; i++)
		*t[i] = (const char *)sqlite3_column_text(st, i);
	row->bundle_size = mtd_col_int_or(st, 4);
	row->dynamic_size = mtd_col_int_or(st, 5);
	for (int i = 0; i < 6; i++)
		*fl[i] = sqlite3_column_type(st, 6 + i) == SQLITE_NULL ? -1
								 : sqlite3_column_int(st, 6 + i);
}

int64_t mtd_decision_log_last_read(sqlite3_stmt *st)
{
	return sqlite3_column_int64(st, 0);
}

int mtd_eval_decisions_read(sqlite3_stmt *st, int64_t blk, mtd_dslot *slots, char *why,
			    size_t n)
{
	return mtd_dblock_column(st, 1, blk, slots, why, n);
}

void mtd_report_scan_row_read(sqlite3_stmt *st, mtd_report_scan_row *row)
{
	row->ext_id = (const char *)sqlite3_column_text(st, 0);
	row->platform = sqlite3_column_int(st, 1);
	row->enrolled = sqlite3_column_int(st, 2);
	row->id = sqlite3_column_int64(st, 3);
}

int mtd_dblock_column(sqlite3_stmt *st, int i, int64_t blk, mtd_dslot *slots, char *why,
		      size_t n)
{
	if (blk >= 0 && blk <= INT64_MAX / MTD_DBLOCK_SLOTS - 1 &&
	    !mtd_dblock_decode(sqlite3_column_blob(st, i), (size_t)sqlite3_column_bytes(st, i),
			       slots))
		return 0;
	snprintf(why, n,
		 "the decisions of devices %lld to %lld (block %lld) do not decode: the store was "
		 "changed outside mtdgate",
		 (long long)((uint64_t)blk * MTD_DBLOCK_SLOTS),
		 (long long)((uint64_t)blk * MTD_DBLOCK_SLOTS + MTD_DBLOCK_SLOTS - 1), (long long)blk);
	return -1;
}

int mtd_store_dblock_get(mtd_store *s, int64_t blk, mtd_dslot *slots)
{
	sqlite3_stmt *st = mtd_store_stmt(s, SQL_DBLOCK_GET);
	int step, rc = 0;
	if (!st)
		return MTD_ESTORE;
	sqlite3_bind_int64(st, 1, blk);
	step = sqlite3_step(st);
	if (step == SQLITE_ROW) {
		if (mtd_dblock_column(st, 0, blk, slots, s->err, sizeof s->err))
			rc = MTD_ESTORE;
	} else {
		memset(slots, 0, MTD_DBLOCK_SLOTS * sizeof *slots);
		rc = step == SQLITE_DONE ? MTD_ENOTFOUND : fail(s, MTD_ESTORE, "reading decisions");
	}
	sqlite3_reset(st);
	return rc;
}

int mtd_store_dblock_put(mtd_store *s, int64_t blk, int exists, const mtd_dslot *slots)
{
	sqlite3_stmt *st = mtd_store_stmt(s, exists ? SQL_DBLOCK_UPDATE : SQL_DBLOCK_INSERT);
	size_t n;
	int rc;
	if (!st)
		return MTD_ESTORE;
	n = mtd_dblock_encode(slots, s->dbuf);
	sqlite3_bind_int64(st, 1, blk);
	sqlite3_bind_blob(st, 2, s->dbuf, (int)n, SQLITE_STATIC);
	rc = sqlite3_step(st) == SQLITE_DONE ? 0 : fail(s, MTD_ESTORE, "writing decisions");
	sqlite3_reset(st);
	return rc;
}

/* 4 -> 5: the rows of decisions, in device order, packed into blocks.
 * Runs inside the migration's transaction. */
static int migrate_v5(mtd_store *s)
{
	sqlite3_stmt *st = NULL;
	mtd_dslot *slots = calloc(MTD_DBLOCK_SLOTS, sizeof *slots);
	int64_t blk = -1;
	int rc = 0, step;

	if (!slots)
		return fail(s, MTD_ENOMEM, "migrating decisions");
	if (sqlite3_prepare_v2(s->db,
			       "SELECT device, outcome, evaluated_at, since, coalesce(wiped_at, 0)"
			       " FROM decisions WHERE device > 0 ORDER BY device",
			       -1, &st, NULL) != SQLITE_OK) {
		free(slots);
		return fail(s, MTD_ESTORE, "migrating decisions");
	}
	while (!rc && (step = sqlite3_step(st)) == SQLITE_ROW) {
		int64_t dev = sqlite3_column_int64(st, 0);
		mtd_dslot d = {sqlite3_column_int64(st, 1), sqlite3_column_int64(st, 2),
			       sqlite3_column_int64(st, 3), sqlite3_column_int64(st, 4)};
		if (dev / MTD_DBLOCK_SLOTS != blk) {
			if (blk >= 0)
				rc = mtd_store_dblock_put(s, blk, 0, slots);
			memset(slots, 0, MTD_DBLOCK_SLOTS * sizeof *slots);
			blk = dev / MTD_DBLOCK_SLOTS;
		}
		if (d.outcome) /* 0 reads as none (a version 4 store never has it) */
			slots[dev % MTD_DBLOCK_SLOTS] = d;
	}
	if (!rc && step != SQLITE_DONE)
		rc = MTD_ESTORE;
	sqlite3_finalize(st);
	if (!rc && blk >= 0)
		rc = mtd_store_dblock_put(s, blk, 0, slots);
	free(slots);
	if (!rc && sqlite3_exec(s->db, "DROP TABLE decisions", NULL, NULL, NULL) != SQLITE_OK)
		rc = MTD_ESTORE;
	return rc ? fail(s, MTD_ESTORE, "packing decisions") : 0;
}

/* 7 -> 8: a baseline entry in the row log for every row of every covered
 * table, taken as it is (what was changed before cannot be told now), and
 * an audit record that says so. The entries take the time of the last
 * audit record: a migration has no clock of its own. Runs inside the
 * migration's transaction. */
/* Schema schema covers the tables (a bit each): a row log entry for each
 * of their rows as stored now, and a "baseline" audit record. Since schema
 * 10 an identifier is keyed by a digest salted with its device's salt;
 * rekey (migration 10) first deletes the key it had by value, the entry
 * written as that key's digest (its value is not written again). */
static int migrate_baseline(mtd_store *s, int schema, uint64_t tables, int rekey)
{
	sqlite3_stmt *st = NULL;
	int64_t at = 0, rows = 0;
	int rc = 0, step;
	char detail[96];

	s->chain_known = 0;
	pending_reset(s);
	if (sqlite3_prepare_v2(s->db, "SELECT coalesce(max(at), 0) FROM audit", -1, &st, NULL) ==
		    SQLITE_OK &&
	    sqlite3_step(st) == SQLITE_ROW)
		at = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	for (int t = 0; !rc && t < MTD_ROW__COUNT; t++) {
		if (!(tables >> t & 1))
			continue;
		if (sqlite3_prepare_v2(s->db, row_scan[t], -1, &st, NULL) != SQLITE_OK)
			return fail(s, MTD_ESTORE, "migrating: a baseline of covered rows");
		while (!rc && (step = sqlite3_step(st)) == SQLITE_ROW) {
			unsigned char d[MTD_ROW_DIGEST];
			const char *kt = (const char *)sqlite3_column_text(st, 2);
			size_t nkt = kt ? (size_t)sqlite3_column_bytes(st, 2) : 0;
			mtd_row_digest(t, st, d);
			if (t == MTD_ROW_DEVICE_IDS && schema >= 10 && kt) {
				/* keyed by a digest salted with its device's salt */
				unsigned char key[MTD_IDS_LOGKEY], salt[16];
				size_t nsalt = 0;
				mtd_ids_logkey(mtd_text_key(NULL, 0, kt, nkt), key);
				if (rekey)
					rc = row_entry(s, at, t, 0, 0, (const char *)key, sizeof key, NULL);
				if (!rc)
					rc = mtd_store_device_salt(s, sqlite3_column_int64(st, 3), salt, &nsalt);
				if (!rc) {
					mtd_ids_logkey(mtd_text_key(salt, nsalt, kt, nkt), key);
					rc = row_entry(s, at, t, 0, 0, (const char *)key, sizeof key, d);
				}
			} else {
				rc = row_entry(s, at, t, sqlite3_column_int64(st, 0),
					       sqlite3_column_int64(st, 1), kt, nkt, d);
			}
			rows++;
		}
		if (!rc && step != SQLITE_DONE)
			rc = MTD_ESTORE;
		sqlite3_finalize(st);
	}
	snprintf(detail, sizeof detail, "{\"schema\":%d,\"rows\":%lld}", schema, (long long)rows);
	if (!rc && rows) /* a new store has nothing to take as it is */
		rc = mtd_store_audit(s, at, "baseline", NULL, NULL, detail);
	if (!rc)
		rc = mtd_store_seal(s, at);
	s->chain_known = 0;
	pending_reset(s);
	return rc ? fail(s, MTD_ESTORE, "migrating: a baseline of covered rows") : 0;
}

int mtd_store_rebaseline(mtd_store *s)
{
	/* in the caller's transaction: the same entries a migration's baseline
	 * writes, for every covered table */
	return migrate_baseline(s, MTD_SCHEMA_VERSION, TABLES(0, MTD_ROW__COUNT), 0);
}

