/* store, fleet part: see store_fleet.h. */
#include <stdio.h>
#include <stdlib.h>
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

/* ---- device removal ---- */

int mtd_store_secure_delete(mtd_store *s, int on)
{
	return sqlite3_exec(mtd_store_db(s), on ? "PRAGMA secure_delete = ON"
						: "PRAGMA secure_delete = FAST",
			    NULL, NULL, NULL) == SQLITE_OK
		       ? 0
		       : MTD_ESTORE;
}

int mtd_store_device_names(mtd_store *s, int64_t device,
			   int (*fn)(void *ud, const char *name), void *ud)
{
	sqlite3_stmt *st = NULL;
	int rc = 0, step;
	if (mtd_store_prepare(s, "SELECT user FROM devices WHERE id = ?1 UNION ALL"
				 " SELECT value FROM device_ids WHERE device = ?1",
			      &st))
		return MTD_ESTORE;
	sqlite3_bind_int64(st, 1, device);
	while (!rc && (step = sqlite3_step(st)) == SQLITE_ROW) {
		const char *t = (const char *)sqlite3_column_text(st, 0);
		if (t)
			rc = fn(ud, t);
	}
	if (!rc && step != SQLITE_DONE)
		rc = MTD_ESTORE;
	sqlite3_finalize(st);
	return rc;
}

/* A device's rows of a covered table: its keys (k2 as an integer or 0,
 * ktext or NULL) and their deletion; by the device's row id, ?1. */
static const struct device_rows {
	int table;
	const char *keys, *del;
} device_rows[] = {
	{MTD_ROW_APPS, "SELECT 0, app_id FROM apps WHERE device = ?1",
	 "DELETE FROM apps WHERE device = ?1"},
	{MTD_ROW_REPORTS, "SELECT connector, NULL FROM reports WHERE device = ?1",
	 "DELETE FROM reports WHERE device = ?1"},
	{MTD_ROW_THREAT_EVENTS, "SELECT connector, id FROM threat_events WHERE device = ?1",
	 "DELETE FROM threat_events WHERE device = ?1"},
	{MTD_ROW_TASKS, "SELECT connector, id FROM tasks WHERE device = ?1",
	 "DELETE FROM tasks WHERE device = ?1"},
	{MTD_ROW_DEVICE_IDS, "SELECT 0, kind || char(31) || value FROM device_ids WHERE device = ?1",
	 "DELETE FROM device_ids WHERE device = ?1"},
	{MTD_ROW_DEVICE_SALTS, "SELECT 0, NULL FROM device_salts WHERE device = ?1",
	 "DELETE FROM device_salts WHERE device = ?1"},
	{MTD_ROW_DEVICES, "SELECT 0, NULL FROM devices WHERE id = ?1",
	 "DELETE FROM devices WHERE id = ?1"},
};

int mtd_store_device_rows_delete(mtd_store *s, int64_t at, int table, int64_t device,
				 uint64_t *rows)
{
	const struct device_rows *t = NULL;
	sqlite3_stmt *st = NULL;
	int rc = 0, step;
	struct key {
		int64_t k2;
		char *kt;
		size_t nkt;
	} *keys = NULL;
	size_t nkeys = 0, cap = 0;

	for (size_t i = 0; i < sizeof device_rows / sizeof *device_rows; i++)
		if (device_rows[i].table == table)
			t = &device_rows[i];
	if (!t)
		return MTD_EUSAGE;
	/* the keys first: each deletion is logged by key, after it */
	if (mtd_store_prepare(s, t->keys, &st))
		return MTD_ESTORE;
	sqlite3_bind_int64(st, 1, device);
	while (!rc && (step = sqlite3_step(st)) == SQLITE_ROW) {
		const void *kt = sqlite3_column_blob(st, 1);
		size_t nkt = (size_t)sqlite3_column_bytes(st, 1);
		if (nkeys == cap) {
			struct key *nk = realloc(keys, (cap = cap ? 2 * cap : 16) * sizeof *nk);
			if (!nk) {
				rc = MTD_ENOMEM;
				break;
			}
			keys = nk;
		}
		keys[nkeys].k2 = sqlite3_column_int64(st, 0);
		keys[nkeys].kt = NULL;
		keys[nkeys].nkt = nkt;
		if (kt && !(keys[nkeys].kt = malloc(nkt + 1))) {
			rc = MTD_ENOMEM;
			break;
		}
		if (kt)
			memcpy(keys[nkeys].kt, kt, nkt);
		nkeys++;
	}
	if (!rc && step != SQLITE_DONE)
		rc = MTD_ESTORE; /* a deletion would go unlogged */
	sqlite3_finalize(st);
	if (!rc && !mtd_store_prepare(s, t->del, &st)) {
		sqlite3_bind_int64(st, 1, device);
		rc = sqlite3_step(st) == SQLITE_DONE ? 0 : MTD_ESTORE;
		sqlite3_finalize(st);
	} else if (!rc) {
		rc = MTD_ESTORE;
	}
	for (size_t i = 0; !rc && i < nkeys; i++) {
		rc = mtd_store_row_logged(s, at, table, device, keys[i].k2, keys[i].kt, keys[i].nkt);
		(*rows)++;
	}
	for (size_t i = 0; i < nkeys; i++)
		free(keys[i].kt);
	free(keys);
	return rc == MTD_ENOMEM ? rc : rc ? MTD_ESTORE : 0;
}

int mtd_store_parked_delete_if(mtd_store *s, int64_t at,
			       int (*match)(void *ud, const void *msg, size_t n), void *ud,
			       uint64_t *rows)
{
	sqlite3_stmt *st = NULL;
	int rc = 0, step;
	int64_t *ids = NULL;
	size_t n = 0, cap = 0;
	if (mtd_store_prepare(s, "SELECT id, msg FROM parked", &st))
		return MTD_ESTORE;
	while ((step = sqlite3_step(st)) == SQLITE_ROW) {
		const void *msg = sqlite3_column_blob(st, 1);
		if (!msg || !match(ud, msg, (size_t)sqlite3_column_bytes(st, 1)))
			continue;
		if (n == cap) {
			int64_t *v = realloc(ids, (cap = cap ? 2 * cap : 16) * sizeof *v);
			if (!v) {
				rc = MTD_ENOMEM;
				break;
			}
			ids = v;
		}
		ids[n++] = sqlite3_column_int64(st, 0);
	}
	if (!rc && step != SQLITE_DONE)
		rc = MTD_ESTORE; /* not every message was seen */
	sqlite3_finalize(st);
	for (size_t i = 0; !rc && i < n; i++) {
		sqlite3_stmt *del = mtd_store_stmt(s, SQL_PARK_DELETE);
		if (!del)
			rc = MTD_ESTORE;
		else
			sqlite3_bind_int64(del, 1, ids[i]);
		if (!rc && (sqlite3_step(del) != SQLITE_DONE ||
			    mtd_store_row_logged(s, at, MTD_ROW_PARKED, ids[i], 0, NULL, 0)))
			rc = MTD_ESTORE;
		(*rows)++;
	}
	free(ids);
	return rc;
}

int mtd_store_audit_personal_each(mtd_store *s, int (*fn)(void *ud, const mtd_audit_personal *r),
				  void *ud)
{
	sqlite3_stmt *st = NULL;
	int rc = 0, step;
	if (mtd_store_prepare(s, "SELECT seq, kind, device, detail, pd IS NOT NULL FROM audit"
				 " WHERE salt IS NOT NULL OR pd IS NULL ORDER BY seq",
			      &st))
		return MTD_ESTORE;
	while (!rc && (step = sqlite3_step(st)) == SQLITE_ROW) {
		mtd_audit_personal r;
		r.seq = sqlite3_column_int64(st, 0);
		r.kind = (const char *)sqlite3_column_text(st, 1);
		r.device = (const char *)sqlite3_column_text(st, 2);
		r.detail = (const char *)sqlite3_column_text(st, 3);
		r.erasable = sqlite3_column_int(st, 4);
		rc = fn(ud, &r);
	}
	if (!rc && step != SQLITE_DONE)
		rc = MTD_ESTORE; /* a record left unread would keep what it holds */
	sqlite3_finalize(st);
	return rc;
}

int mtd_store_audit_erase(mtd_store *s, const int64_t *seq, size_t n)
{
	sqlite3_stmt *up = NULL;
	int rc = 0;
	if (mtd_store_prepare(s, "UPDATE audit SET device = NULL, salt = NULL, detail = '"
				 MTD_AUDIT_ERASED "' WHERE seq = ?1",
			      &up))
		return MTD_ESTORE;
	for (size_t i = 0; !rc && i < n; i++) {
		sqlite3_reset(up);
		sqlite3_bind_int64(up, 1, seq[i]);
		if (sqlite3_step(up) != SQLITE_DONE)
			rc = MTD_ESTORE;
	}
	sqlite3_finalize(up);
	return rc;
}

int mtd_store_wal_truncate(mtd_store *s)
{
	int log = 0, done = 0;
	return sqlite3_wal_checkpoint_v2(mtd_store_db(s), NULL, SQLITE_CHECKPOINT_TRUNCATE, &log,
					 &done) != SQLITE_OK ||
	       log != 0;
}

/* ---- device list and show ---- */

void mtd_fleet_id_read(sqlite3_stmt *st, mtd_fleet_id *row)
{
	row->kind = (const char *)sqlite3_column_text(st, 0);
	row->value = (const char *)sqlite3_column_text(st, 1);
}

void mtd_fleet_threat_read(sqlite3_stmt *st, mtd_fleet_threat *row)
{
	row->vendor = (const char *)sqlite3_column_text(st, 0);
	row->id = (const char *)sqlite3_column_text(st, 1);
	row->name = (const char *)sqlite3_column_text(st, 2);
	row->level = sqlite3_column_int(st, 3);
	row->since = sqlite3_column_int64(st, 4);
}
