/* store, fleet part: the SQL and typed rows of fleet.c, export.c and
 * sqlfile.c: a device's removal and show, the export, SQL files.
 * Part of the store (store.h): the SQL text lives in store_fleet.c or in
 * store.c's statement table; callers never see a column number. */
#ifndef MTD_STORE_FLEET_H
#define MTD_STORE_FLEET_H

#include <stddef.h>
#include <stdint.h>

#include "store.h"

/* ---- SQL files (sqlfile.h: exports, audit archives) ----
 * The SQL every such file gets, on the file's own connection (db: an
 * mtd_sqlfile's, or one a reader opened on an existing file), never the
 * store's. Each file has the table sqlfile_info(key, value): what it is
 * ('format') and facts about it. */

/* The sqlfile_info table's definition: put it first in a file's schema
 * (a string literal, to be joined with the rest of the schema's text). */
#define MTD_SQLFILE_INFO_TABLE "CREATE TABLE sqlfile_info(key TEXT PRIMARY KEY, value TEXT NOT NULL);"

/* A new file's start: no journal and no syncs (the file is new and is
 * put in place only when complete), one transaction, then schema (SQL
 * text, one or more statements; borrowed for the call). 0, or MTD_EIO
 * (sqlite3_errmsg(db) says why). */
int mtd_store_file_begin(sqlite3 *db, const char *schema);
/* Commit the transaction mtd_store_file_begin opened: 0 or MTD_EIO. */
int mtd_store_file_commit(sqlite3 *db);
/* A read transaction on a file opened to read (one snapshot for every
 * read after it; it ends when db is closed): 0 or MTD_EIO. */
int mtd_store_file_read_begin(sqlite3 *db);
/* Add key = value to sqlfile_info (both borrowed for the call): 0, or
 * MTD_EIO (sqlite3_errmsg(db) says why; also for a key already there). */
int mtd_store_file_info_put(sqlite3 *db, const char *key, const char *value);
/* sqlfile_info's value of key, copied into buf (n bytes, cut to fit):
 * buf, or NULL when db has no such table, no such key or a NULL value. */
const char *mtd_store_file_info_get(sqlite3 *db, const char *key, char *buf, size_t n);

/* ---- the export file (export.c; README, "Exports") ----
 * Plain tables of the current decisions: decisions, decision_vendors,
 * decision_reasons, decision_resources, and sqlfile_info. */

/* The export's schema, for mtd_sqlfile_begin (sqlfile_info first). */
extern const char mtd_export_schema[];

/* The export's prepared statements on the file's connection; the members
 * are store_fleet.c's. Zero it before mtd_export_prepare. */
typedef struct mtd_export_stmts {
	sqlite3_stmt *st[4];
} mtd_export_stmts;
/* Prepare them on db: 0, or MTD_EIO (sqlite3_errmsg(db) says why).
 * Release with mtd_export_finalize either way. */
int mtd_export_prepare(sqlite3 *db, mtd_export_stmts *x);
void mtd_export_finalize(mtd_export_stmts *x);
/* One device's decision into the file: its decisions row, with its
 * vendors as a JSON object text, its reasons and resources as JSON array
 * texts (lengths given) and evaluated_at as text (NULL: never evaluated),
 * and a row per vendor, reason (numbered from 1) and resource (one a
 * resource named twice). Everything borrowed for the call. 0, or MTD_EIO
 * (sqlite3_errmsg of the file's connection says why). */
int mtd_export_put(mtd_export_stmts *x, const mtd_decision_info *d, const char *vendors,
		   size_t nvendors, const char *reasons, size_t nreasons, const char *resources,
		   size_t nresources, const char *evaluated_at);

/* ---- device removal (fleet.c; README, "Removing a device") ----
 * Each in the caller's open transaction (mtd_store_begin) unless it says
 * otherwise; MTD_ESTORE means mtd_store_errmsg says why. */

/* SQLite's secure_delete on the store's connection: on 1, every byte a
 * deletion frees is overwritten with zeros; 0 back to the default (FAST).
 * Outside a transaction. 0 or MTD_ESTORE. */
int mtd_store_secure_delete(mtd_store *s, int on);

/* Each text device (row id) is named by besides its external id: its
 * user, then its identifiers' values; NULLs are left out. fn gets each
 * (borrowed for the call); its nonzero result stops and is returned.
 * 0, fn's result, or MTD_ESTORE. */
int mtd_store_device_names(mtd_store *s, int64_t device,
			   int (*fn)(void *ud, const char *name), void *ud);

/* Delete device's rows of the covered table (MTD_ROW_APPS, _REPORTS,
 * _THREAT_EVENTS, _TASKS, _DEVICE_IDS, _DEVICE_SALTS or _DEVICES: its
 * own row), each deletion in the row log at at; *rows grows by their
 * number. 0, MTD_ENOMEM, MTD_EUSAGE for another table, or MTD_ESTORE. */
int mtd_store_device_rows_delete(mtd_store *s, int64_t at, int table, int64_t device,
				 uint64_t *rows);

/* Delete every parked message whose packed message (msg, n bytes,
 * borrowed for the call) match says 1 to, each deletion in the row log at
 * at; *rows grows by their number. 0, MTD_ENOMEM or MTD_ESTORE. */
int mtd_store_parked_delete_if(mtd_store *s, int64_t at,
			       int (*match)(void *ud, const void *msg, size_t n), void *ud,
			       uint64_t *rows);

/* An audit record that may hold personal data: one with a salt (written
 * since schema 10, not yet erased) or without pd (written before: its
 * hash is over its device and detail, so it cannot be erased). Texts NULL
 * for NULL; borrowed for the callback. */
typedef struct mtd_audit_personal {
	int64_t seq;
	const char *kind, *device, *detail;
	int erasable; /* 1: has pd (schema 10 on), 0: before schema 10 */
} mtd_audit_personal;
/* Each such record, in sequence order, to fn; its nonzero result stops
 * and is returned. 0, fn's result, or MTD_ESTORE. */
int mtd_store_audit_personal_each(mtd_store *s, int (*fn)(void *ud, const mtd_audit_personal *r),
				  void *ud);
/* Erase records seq[0..n) (each erasable): device and salt NULL, detail
 * MTD_AUDIT_ERASED; pd stays, and with it the chain. 0 or MTD_ESTORE. */
int mtd_store_audit_erase(mtd_store *s, const int64_t *seq, size_t n);

/* Fold the WAL into the store and truncate it (after a removal, so that
 * the old pages' bytes are gone): 0 when done, 1 when some of it is left
 * (a reader, another process, holds it: it goes at the next checkpoint
 * that gets through) or the checkpoint failed. Outside a transaction. */
int mtd_store_wal_truncate(mtd_store *s);

/* ---- device list and show (fleet.c): rows typed ----
 * Strings are borrowed from the statement until it steps or is reset;
 * NULL for NULL. */

/* A row of SQL_FLEET_DEVICES (?1: one external id or NULL for all, ?2: a
 * platform or -1 for all; by external id) but its row id (only show needs
 * it: mtd_fleet_device_id). Inline: a list reads one a device. */
typedef struct mtd_fleet_device {
	const char *ext_id, *os_version, *user;
	int platform, corporate, enrolled;
	int64_t updated_at;
	const char *groups; /* its group set's key: names, one a line; NULL none */
} mtd_fleet_device;
static inline void mtd_fleet_device_read(sqlite3_stmt *st, mtd_fleet_device *row)
{
	row->ext_id = (const char *)sqlite3_column_text(st, 1);
	row->platform = sqlite3_column_int(st, 2);
	row->os_version = (const char *)sqlite3_column_text(st, 3);
	row->corporate = sqlite3_column_int(st, 4);
	row->enrolled = sqlite3_column_int(st, 5);
	row->user = (const char *)sqlite3_column_text(st, 6);
	row->updated_at = sqlite3_column_int64(st, 7);
	row->groups = (const char *)sqlite3_column_text(st, 8);
}
/* The row id of the device of a SQL_FLEET_DEVICES row. */
static inline int64_t mtd_fleet_device_id(sqlite3_stmt *st)
{
	return sqlite3_column_int64(st, 0);
}

/* A row of SQL_FLEET_DEVICE_IDS (?1: the device's row id; by kind, value). */
typedef struct mtd_fleet_id {
	const char *kind, *value;
} mtd_fleet_id;
void mtd_fleet_id_read(sqlite3_stmt *st, mtd_fleet_id *row);

/* A row of SQL_FLEET_OPEN_THREATS (?1: the device's row id; its open
 * threats by vendor, id). */
typedef struct mtd_fleet_threat {
	const char *vendor, *id, *name;
	int level;
	int64_t since;
} mtd_fleet_threat;
void mtd_fleet_threat_read(sqlite3_stmt *st, mtd_fleet_threat *row);

#endif
