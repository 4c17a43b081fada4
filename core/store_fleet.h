/* store, fleet part: the SQL and typed rows of fleet.c, export.c and sqlfile.c: device removal and show, export, SQL files.
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

#endif
