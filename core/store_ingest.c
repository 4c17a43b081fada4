/* store, ingest part: see store_ingest.h. */
#include "store_ingest.h"

#include <stdio.h>

#include "mtdgate/mtdgate.h"

/* ---- pull state ---- */

int mtd_store_pull_state_get(mtd_store *s, const char *vendor, const char *key, char *buf,
			     size_t n)
{
	sqlite3_stmt *st = mtd_store_stmt(s, SQL_PULL_STATE_GET);
	int step;
	if (!st)
		return MTD_ESTORE;
	sqlite3_bind_text(st, 1, vendor, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, key, -1, SQLITE_STATIC);
	step = sqlite3_step(st);
	if (step == SQLITE_ROW)
		snprintf(buf, n, "%s", (const char *)sqlite3_column_text(st, 0));
	if (step != SQLITE_ROW && step != SQLITE_DONE)
		return MTD_ESTORE; /* not reset: errmsg says why */
	sqlite3_reset(st);
	return step == SQLITE_ROW ? 0 : MTD_ENOTFOUND;
}

int mtd_store_pull_state_set(mtd_store *s, const char *vendor, const char *key,
			     const char *value)
{
	sqlite3_stmt *st = mtd_store_stmt(s, value ? SQL_PULL_STATE_PUT : SQL_PULL_STATE_DELETE);
	if (!st)
		return MTD_ESTORE;
	sqlite3_bind_text(st, 1, vendor, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, key, -1, SQLITE_STATIC);
	if (value)
		sqlite3_bind_text(st, 3, value, -1, SQLITE_STATIC);
	if (sqlite3_step(st) != SQLITE_DONE)
		return MTD_ESTORE;
	sqlite3_reset(st);
	return 0;
}

int mtd_store_pull_states(mtd_store *s, int (*fn)(void *ud, const mtd_pull_state_row *row),
			  void *ud)
{
	sqlite3_stmt *st;
	int step;
	if (mtd_store_prepare(s,
			      "SELECT vendor,"
			       " max(CASE key WHEN 'set:poll_seconds' THEN value END),"
			       " max(CASE key WHEN 'last_success' THEN value END),"
			       " max(CASE key WHEN 'last_error' THEN value END),"
			       " max(CASE key WHEN 'last_error_at' THEN value END),"
			       " max(CASE WHEN key IN ('set:api_url', 'set:secret_file',"
			       "  'set:client_id') THEN 1 END)"
			       " FROM pull_state GROUP BY vendor ORDER BY vendor",
			      &st))
		return MTD_ESTORE;
	while ((step = sqlite3_step(st)) == SQLITE_ROW) {
		mtd_pull_state_row row;
		row.vendor = (const char *)sqlite3_column_text(st, 0);
		row.poll_seconds = (const char *)sqlite3_column_text(st, 1);
		row.last_success = sqlite3_column_int64(st, 2);
		row.last_error = (const char *)sqlite3_column_text(st, 3);
		row.last_error_at = sqlite3_column_int64(st, 4);
		row.configured = sqlite3_column_int(st, 5);
		if (fn(ud, &row)) {
			step = SQLITE_DONE;
			break;
		}
	}
	sqlite3_finalize(st); /* errmsg keeps a failed step's message */
	return step == SQLITE_DONE ? 0 : MTD_ESTORE;
}

/* ---- pull_seen ---- */

int mtd_store_pull_seen_max(mtd_store *s, const char *vendor, int64_t *n)
{
	sqlite3_stmt *st = mtd_store_stmt(s, SQL_PULL_SEEN_MAX);
	*n = 0;
	if (!st)
		return MTD_ESTORE;
	sqlite3_bind_text(st, 1, vendor, -1, SQLITE_STATIC);
	if (sqlite3_step(st) != SQLITE_ROW)
		return MTD_ESTORE;
	*n = sqlite3_column_int64(st, 0);
	sqlite3_reset(st);
	return 0;
}

int mtd_store_pull_seen_add(mtd_store *s, const char *vendor, const char *id, int64_t n)
{
	sqlite3_stmt *st = mtd_store_stmt(s, SQL_PULL_SEEN_GET);
	int step;
	if (!st)
		return MTD_ESTORE;
	sqlite3_bind_text(st, 1, vendor, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, id, -1, SQLITE_STATIC);
	step = sqlite3_step(st);
	if (step != SQLITE_ROW && step != SQLITE_DONE)
		return MTD_ESTORE;
	sqlite3_reset(st);
	if (step == SQLITE_ROW)
		return 1;
	if (!(st = mtd_store_stmt(s, SQL_PULL_SEEN_PUT)))
		return MTD_ESTORE;
	sqlite3_bind_text(st, 1, vendor, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, id, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 3, n);
	if (sqlite3_step(st) != SQLITE_DONE)
		return MTD_ESTORE;
	sqlite3_reset(st);
	return 0;
}

int mtd_store_pull_seen_trim(mtd_store *s, const char *vendor, int64_t upto)
{
	sqlite3_stmt *st = mtd_store_stmt(s, SQL_PULL_SEEN_TRIM);
	if (!st)
		return MTD_ESTORE;
	sqlite3_bind_text(st, 1, vendor, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 2, upto);
	if (sqlite3_step(st) != SQLITE_DONE)
		return MTD_ESTORE;
	sqlite3_reset(st);
	return 0;
}

/* ---- devices ---- */

int mtd_store_device_scan(mtd_store *s, int by_ext,
			  int (*fn)(void *ud, int64_t id, const char *ext, size_t n), void *ud)
{
	sqlite3_stmt *st;
	int rc = 0, step;
	if (mtd_store_prepare(s, by_ext ? "SELECT id, ext_id FROM devices ORDER BY ext_id"
				       : "SELECT id, ext_id FROM devices",
			      &st))
		return MTD_ESTORE;
	while (!rc && (step = sqlite3_step(st)) == SQLITE_ROW) {
		size_t n;
		const char *ext = mtd_col_text(st, 1, &n);
		rc = fn(ud, sqlite3_column_int64(st, 0), ext, n);
	}
	sqlite3_finalize(st);
	return rc ? rc : step == SQLITE_DONE ? 0 : MTD_ESTORE;
}

int mtd_store_groupset(mtd_store *s, int64_t at, const char *key, size_t k, const mtd_str *groups,
		       size_t ngroups, int64_t *id)
{
	sqlite3_stmt *st;
	int64_t gs;

	if (!(st = mtd_store_stmt(s, SQL_GROUPSET_ID)))
		return MTD_ESTORE;
	sqlite3_bind_text(st, 1, key, (int)k, SQLITE_STATIC);
	if (sqlite3_step(st) == SQLITE_ROW) {
		*id = sqlite3_column_int64(st, 0);
		sqlite3_reset(st);
		return 0;
	}
	sqlite3_reset(st);
	if (!(st = mtd_store_stmt(s, SQL_GROUPSET_INSERT)))
		return MTD_ESTORE;
	sqlite3_bind_text(st, 1, key, (int)k, SQLITE_STATIC);
	if (sqlite3_step(st) != SQLITE_DONE)
		return MTD_ESTORE;
	gs = sqlite3_last_insert_rowid(mtd_store_db(s));
	if (mtd_store_row_logged(s, at, MTD_ROW_GROUPSETS, gs, 0, NULL, 0))
		return MTD_ESTORE;
	for (size_t i = 0; i < ngroups; i++) {
		int64_t gid;
		int added;
		if (!(st = mtd_store_stmt(s, SQL_GROUP_UPSERT)))
			return MTD_ESTORE;
		mtd_bind_text(st, 1, groups[i].p, groups[i].n);
		if (sqlite3_step(st) != SQLITE_DONE)
			return MTD_ESTORE;
		added = sqlite3_changes(mtd_store_db(s)) > 0;
		if (!(st = mtd_store_stmt(s, SQL_GROUP_ID)))
			return MTD_ESTORE;
		mtd_bind_text(st, 1, groups[i].p, groups[i].n);
		if (sqlite3_step(st) != SQLITE_ROW)
			return MTD_ESTORE;
		gid = sqlite3_column_int64(st, 0);
		if (added && mtd_store_row_logged(s, at, MTD_ROW_GROUPS, gid, 0, NULL, 0))
			return MTD_ESTORE;
		if (!(st = mtd_store_stmt(s, SQL_GROUPSET_MEMBER)))
			return MTD_ESTORE;
		sqlite3_bind_int64(st, 1, gs);
		sqlite3_bind_int64(st, 2, gid);
		if (sqlite3_step(st) != SQLITE_DONE ||
		    mtd_store_row_logged(s, at, MTD_ROW_GROUPSET_MEMBERS, gs, gid, NULL, 0))
			return MTD_ESTORE;
	}
	*id = gs;
	return 0;
}

int mtd_store_device_put(mtd_store *s, int64_t at, const mtd_device_rec *d, int64_t gs,
			 int64_t *id)
{
	sqlite3_stmt *st = mtd_store_stmt(s, SQL_DEVICE_UPSERT);
	if (!st)
		return MTD_ESTORE;
	mtd_bind_text(st, 1, d->id.p, d->id.n);
	sqlite3_bind_int(st, 2, d->platform);
	mtd_bind_text(st, 3, d->os_version.p, d->os_version.n);
	sqlite3_bind_int(st, 4, d->corporate);
	sqlite3_bind_int(st, 5, d->enrolled);
	mtd_bind_text(st, 6, d->user.p, d->user.n);
	sqlite3_bind_int64(st, 7, gs);
	sqlite3_bind_int64(st, 8, at);
	if (sqlite3_step(st) != SQLITE_ROW) /* RETURNING id */
		return MTD_ESTORE;
	*id = sqlite3_column_int64(st, 0);
	if (sqlite3_step(st) != SQLITE_DONE ||
	    mtd_store_row_logged(s, at, MTD_ROW_DEVICES, *id, 0, NULL, 0))
		return MTD_ESTORE;
	/* a new device's salt (its identifiers' keys in the row log) */
	if (!(st = mtd_store_stmt(s, SQL_DEVICE_SALT_NEW)))
		return MTD_ESTORE;
	sqlite3_bind_int64(st, 1, *id);
	if (sqlite3_step(st) != SQLITE_DONE ||
	    (sqlite3_changes(mtd_store_db(s)) > 0 &&
	     mtd_store_row_logged(s, at, MTD_ROW_DEVICE_SALTS, *id, 0, NULL, 0)))
		return MTD_ESTORE;
	return 0;
}

/* ---- a device by name ---- */

int64_t mtd_store_device_of_ext(mtd_store *s, const char *p, size_t n)
{
	sqlite3_stmt *st = mtd_store_stmt(s, SQL_DEVICE_ID);
	int step;
	if (!st)
		return MTD_DEV_ERROR;
	mtd_bind_text(st, 1, p, n);
	step = sqlite3_step(st);
	return step == SQLITE_ROW ? sqlite3_column_int64(st, 0)
	       : step == SQLITE_DONE ? 0
				     : MTD_DEV_ERROR;
}

int64_t mtd_store_device_of_ident(mtd_store *s, const char *kind, const char *p, size_t n)
{
	sqlite3_stmt *st = mtd_store_stmt(s, SQL_IDS_GET);
	int step;
	if (!st)
		return MTD_DEV_ERROR;
	sqlite3_bind_text(st, 1, kind, -1, SQLITE_STATIC);
	mtd_bind_text(st, 2, p, n);
	step = sqlite3_step(st);
	return step == SQLITE_ROW ? sqlite3_column_int64(st, 0)
	       : step == SQLITE_DONE ? 0
				     : MTD_DEV_ERROR;
}

int64_t mtd_store_device_of_user(mtd_store *s, const char *p, size_t n, int platform)
{
	sqlite3_stmt *st = mtd_store_stmt(s, SQL_DEVICES_BY_USER);
	int64_t dev = 0;
	int step, k = 0;
	if (!st)
		return MTD_DEV_ERROR;
	mtd_bind_text(st, 1, p, n);
	sqlite3_bind_int(st, 2, platform);
	while ((step = sqlite3_step(st)) == SQLITE_ROW) {
		dev = sqlite3_column_int64(st, 0);
		k++;
	}
	if (step != SQLITE_DONE)
		return MTD_DEV_ERROR;
	return k > 1 ? MTD_DEV_SEVERAL : dev;
}

int mtd_store_ids_delete_kind(mtd_store *s, int64_t dev, const char *kind, size_t nkind,
			      int (*fn)(void *ud, const char *value, size_t n), void *ud)
{
	sqlite3_stmt *st = mtd_store_stmt(s, SQL_IDS_DELETE_KIND);
	int step, rc;
	if (!st)
		return MTD_ESTORE;
	sqlite3_bind_int64(st, 1, dev);
	mtd_bind_text(st, 2, kind, nkind);
	/* the deletion is done by the first step; each row it returns is logged */
	while ((step = sqlite3_step(st)) == SQLITE_ROW) {
		size_t n;
		const char *v = mtd_col_text(st, 0, &n);
		if ((rc = fn(ud, v, n)))
			return rc;
	}
	return step == SQLITE_DONE ? 0 : MTD_ESTORE;
}

int mtd_store_ids_put(mtd_store *s, const char *kind, size_t nkind, const char *value,
		      size_t nvalue, int64_t dev)
{
	sqlite3_stmt *st = mtd_store_stmt(s, SQL_IDS_PUT);
	if (!st)
		return MTD_ESTORE;
	mtd_bind_text(st, 1, kind, nkind);
	mtd_bind_text(st, 2, value, nvalue);
	sqlite3_bind_int64(st, 3, dev);
	return sqlite3_step(st) == SQLITE_DONE ? 0 : MTD_ESTORE;
}

/* ---- app inventory ---- */

int mtd_store_apps_delete(mtd_store *s, int64_t dev)
{
	sqlite3_stmt *st = mtd_store_stmt(s, SQL_APPS_DELETE_DEVICE);
	if (!st)
		return MTD_ESTORE;
	sqlite3_bind_int64(st, 1, dev);
	return sqlite3_step(st) == SQLITE_DONE ? 0 : MTD_ESTORE;
}

int mtd_store_app_put(mtd_store *s, int64_t at, int64_t dev, const mtd_app_rec *a)
{
	const int flags[] = {a->adhoc_signed, a->app_store, a->beta, a->vpp, a->validated, a->managed};
	sqlite3_stmt *st = mtd_store_stmt(s, SQL_APP_INSERT);
	if (!st)
		return MTD_ESTORE;
	sqlite3_bind_int64(st, 1, dev);
	mtd_bind_text(st, 2, a->app_id.p, a->app_id.n);
	mtd_bind_text(st, 3, a->version.p, a->version.n);
	mtd_bind_text(st, 4, a->short_version.p, a->short_version.n);
	mtd_bind_text(st, 5, a->name.p, a->name.n);
	if (a->bundle_size >= 0)
		sqlite3_bind_int64(st, 6, a->bundle_size);
	if (a->dynamic_size >= 0)
		sqlite3_bind_int64(st, 7, a->dynamic_size);
	for (int i = 0; i < 6; i++)
		if (flags[i] >= 0)
			sqlite3_bind_int(st, 8 + i, flags[i]);
	if (sqlite3_step(st) != SQLITE_DONE ||
	    mtd_store_row_logged(s, at, MTD_ROW_APPS, dev, 0, a->app_id.p, a->app_id.n))
		return MTD_ESTORE;
	return 0;
}
