/* store, fleet part: see store_fleet.h. */
#include <stdio.h>
#include <string.h>

#include "store_fleet.h"

/* ---- SQL files ---- */

/* Step a write statement and reset it: 0, or MTD_EIO. */
static int file_done(sqlite3_stmt *st)
{
	int rc = sqlite3_step(st);
	sqlite3_reset(st);
	return rc == SQLITE_DONE ? 0 : MTD_EIO;
}

int mtd_store_file_begin(sqlite3 *db, const char *schema)
{
	if (sqlite3_exec(db, "PRAGMA journal_mode = OFF; PRAGMA synchronous = OFF; BEGIN", NULL,
			 NULL, NULL) != SQLITE_OK ||
	    sqlite3_exec(db, schema, NULL, NULL, NULL) != SQLITE_OK)
		return MTD_EIO;
	return 0;
}

int mtd_store_file_commit(sqlite3 *db)
{
	return sqlite3_exec(db, "COMMIT", NULL, NULL, NULL) == SQLITE_OK ? 0 : MTD_EIO;
}

int mtd_store_file_read_begin(sqlite3 *db)
{
	return sqlite3_exec(db, "BEGIN", NULL, NULL, NULL) == SQLITE_OK ? 0 : MTD_EIO;
}

int mtd_store_file_info_put(sqlite3 *db, const char *key, const char *value)
{
	sqlite3_stmt *st;
	int rc;
	if (sqlite3_prepare_v2(db, "INSERT INTO sqlfile_info VALUES(?1, ?2)", -1, &st, NULL) !=
	    SQLITE_OK)
		return MTD_EIO;
	sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, value, -1, SQLITE_STATIC);
	rc = file_done(st);
	sqlite3_finalize(st);
	return rc;
}

const char *mtd_store_file_info_get(sqlite3 *db, const char *key, char *buf, size_t n)
{
	sqlite3_stmt *st = NULL;
	const char *r = NULL;
	if (sqlite3_prepare_v2(db, "SELECT value FROM sqlfile_info WHERE key = ?1", -1, &st, NULL) ==
	    SQLITE_OK) {
		sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);
		if (sqlite3_step(st) == SQLITE_ROW && sqlite3_column_text(st, 0)) {
			snprintf(buf, n, "%s", (const char *)sqlite3_column_text(st, 0));
			r = buf;
		}
	}
	sqlite3_finalize(st);
	return r;
}

/* ---- the export file ---- */

const char mtd_export_schema[] =
	MTD_SQLFILE_INFO_TABLE
	"CREATE TABLE decisions(device TEXT PRIMARY KEY, platform TEXT NOT NULL,"
	" management TEXT NOT NULL, state TEXT NOT NULL, level TEXT NOT NULL,"
	" access TEXT NOT NULL, app_protection TEXT NOT NULL, vendors_json TEXT NOT NULL,"
	" reasons_json TEXT NOT NULL, resources_json TEXT NOT NULL, evaluated_at TEXT,"
	" evaluated_unix INTEGER);"
	"CREATE TABLE decision_vendors(device TEXT NOT NULL, vendor TEXT NOT NULL,"
	" level TEXT NOT NULL, PRIMARY KEY(device, vendor));"
	"CREATE TABLE decision_reasons(device TEXT NOT NULL, n INTEGER NOT NULL,"
	" reason TEXT NOT NULL, PRIMARY KEY(device, n));"
	"CREATE TABLE decision_resources(device TEXT NOT NULL, resource TEXT NOT NULL,"
	" PRIMARY KEY(device, resource));";

enum { EX_DECISION, EX_VENDOR, EX_REASON, EX_RESOURCE, EX__COUNT };
static const char *const export_sql[EX__COUNT] = {
	"INSERT INTO decisions VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)",
	"INSERT INTO decision_vendors VALUES(?1, ?2, ?3)",
	"INSERT INTO decision_reasons VALUES(?1, ?2, ?3)",
	/* a resource named twice by the rules is one row */
	"INSERT OR IGNORE INTO decision_resources VALUES(?1, ?2)",
};
_Static_assert(sizeof ((mtd_export_stmts *)0)->st / sizeof(sqlite3_stmt *) == EX__COUNT,
	       "one statement a slot");

int mtd_export_prepare(sqlite3 *db, mtd_export_stmts *x)
{
	for (int i = 0; i < EX__COUNT; i++)
		if (sqlite3_prepare_v2(db, export_sql[i], -1, &x->st[i], NULL) != SQLITE_OK)
			return MTD_EIO;
	return 0;
}

void mtd_export_finalize(mtd_export_stmts *x)
{
	for (int i = 0; i < EX__COUNT; i++) {
		sqlite3_finalize(x->st[i]);
		x->st[i] = NULL;
	}
}

int mtd_export_put(mtd_export_stmts *x, const mtd_decision_info *d, const char *vendors,
		   size_t nvendors, const char *reasons, size_t nreasons, const char *resources,
		   size_t nresources, const char *evaluated_at)
{
	sqlite3_stmt *st = x->st[EX_DECISION];
	int rc;

	sqlite3_bind_text(st, 1, d->device, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, d->platform, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 3, d->management, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 4, d->state, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 5, d->level, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 6, d->access, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 7, d->app_protection, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 8, vendors, (int)nvendors, SQLITE_STATIC);
	sqlite3_bind_text(st, 9, reasons, (int)nreasons, SQLITE_STATIC);
	sqlite3_bind_text(st, 10, resources, (int)nresources, SQLITE_STATIC);
	if (evaluated_at) {
		sqlite3_bind_text(st, 11, evaluated_at, -1, SQLITE_TRANSIENT);
		sqlite3_bind_int64(st, 12, d->evaluated_at);
	} else {
		sqlite3_bind_null(st, 11);
		sqlite3_bind_null(st, 12);
	}
	if ((rc = file_done(st)))
		return rc;
	for (size_t i = 0; i < d->nvendors; i++) {
		st = x->st[EX_VENDOR];
		sqlite3_bind_text(st, 1, d->device, -1, SQLITE_STATIC);
		sqlite3_bind_text(st, 2, d->vendor_names[i], -1, SQLITE_STATIC);
		sqlite3_bind_text(st, 3, d->vendor_levels[i], -1, SQLITE_STATIC);
		if ((rc = file_done(st)))
			return rc;
	}
	for (size_t i = 0; i < d->nreasons; i++) {
		st = x->st[EX_REASON];
		sqlite3_bind_text(st, 1, d->device, -1, SQLITE_STATIC);
		sqlite3_bind_int64(st, 2, (int64_t)i + 1);
		sqlite3_bind_text(st, 3, d->reasons[i], -1, SQLITE_STATIC);
		if ((rc = file_done(st)))
			return rc;
	}
	for (size_t i = 0; i < d->nresources; i++) {
		st = x->st[EX_RESOURCE];
		sqlite3_bind_text(st, 1, d->device, -1, SQLITE_STATIC);
		sqlite3_bind_text(st, 2, d->resources[i], -1, SQLITE_STATIC);
		if ((rc = file_done(st)))
			return rc;
	}
	return 0;
}
