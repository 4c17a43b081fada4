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
		/* the text, then its length (SQLite's order); a row per device */
		const char *ext = (const char *)sqlite3_column_text(st, 1);
		rc = fn(ud, sqlite3_column_int64(st, 0), ext, (size_t)sqlite3_column_bytes(st, 1));
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

/* ---- reports and threat events ---- */

void mtd_store_wal_pages(mtd_store *s, int pages)
{
	sqlite3_wal_autocheckpoint(mtd_store_db(s), pages);
}

int mtd_store_report_upsert(mtd_store *s, int64_t dev, int64_t conn, int64_t received,
			    const mtd_msg *m)
{
	sqlite3_stmt *st = mtd_store_stmt_rebind(s, SQL_REPORT_UPSERT);
	if (!st)
		return MTD_ESTORE;
	sqlite3_bind_int64(st, 1, dev); /* every parameter, the absent ones NULL */
	sqlite3_bind_int64(st, 2, conn);
	sqlite3_bind_int(st, 3, m->level);
	sqlite3_bind_int64(st, 4, m->at);
	sqlite3_bind_int64(st, 5, received);
	if (m->os_supported >= 0)
		sqlite3_bind_int(st, 6, m->os_supported);
	else
		sqlite3_bind_null(st, 6);
	if (m->threats) /* validated, kept as received */
		sqlite3_bind_blob(st, 7, m->threats, (int)m->threats_len, SQLITE_STATIC);
	else
		sqlite3_bind_null(st, 7);
	if (sqlite3_step(st) != SQLITE_DONE)
		return MTD_ESTORE;
	return sqlite3_changes(mtd_store_db(s)) > 0;
}

int mtd_store_report_state(mtd_store *s, int64_t dev, int64_t conn, mtd_report_state *row)
{
	sqlite3_stmt *st = mtd_store_stmt(s, SQL_REPORT_STATE);
	int step, c, tc;
	row->nevents = row->has_snap = 0;
	row->os_supported = row->snap_level = -1;
	row->snap_at = 0;
	row->snap_threats = NULL;
	row->nsnap_threats = 0;
	if (!st)
		return MTD_ESTORE;
	sqlite3_bind_int64(st, 1, dev);
	sqlite3_bind_int64(st, 2, conn);
	if ((step = sqlite3_step(st)) == SQLITE_DONE)
		return 0;
	if (step != SQLITE_ROW)
		return MTD_ESTORE;
	row->nevents = sqlite3_column_int(st, 4);
	if (sqlite3_column_type(st, 2) != SQLITE_NULL)
		row->os_supported = sqlite3_column_int(st, 2);
	c = row->nevents ? 5 : 0; /* without events the row is the snapshot */
	tc = row->nevents ? 7 : 3;
	if (sqlite3_column_type(st, c) == SQLITE_NULL)
		return 1;
	row->has_snap = 1;
	row->snap_level = sqlite3_column_int(st, c);
	row->snap_at = sqlite3_column_int64(st, c + 1);
	if (sqlite3_column_type(st, tc) == SQLITE_BLOB) {
		row->snap_threats = sqlite3_column_blob(st, tc);
		row->nsnap_threats = (size_t)sqlite3_column_bytes(st, tc);
	}
	return 1;
}

int mtd_store_report_put(mtd_store *s, int64_t dev, int64_t conn, int64_t received,
			 const mtd_report_put *row)
{
	sqlite3_stmt *st = mtd_store_stmt(s, SQL_REPORT_PUT);
	if (!st)
		return MTD_ESTORE;
	sqlite3_bind_int64(st, 1, dev);
	sqlite3_bind_int64(st, 2, conn);
	sqlite3_bind_int(st, 3, row->level);
	sqlite3_bind_int64(st, 4, row->at);
	sqlite3_bind_int64(st, 5, received);
	if (row->os_supported >= 0)
		sqlite3_bind_int(st, 6, row->os_supported);
	if (row->threats)
		sqlite3_bind_blob(st, 7, row->threats, (int)row->nthreats, SQLITE_STATIC);
	sqlite3_bind_int64(st, 8, row->nevents);
	if (row->snap_level >= 0) {
		sqlite3_bind_int(st, 9, row->snap_level);
		sqlite3_bind_int64(st, 10, row->snap_at);
	}
	if (row->snap_threats)
		sqlite3_bind_blob(st, 11, row->snap_threats, (int)row->nsnap_threats, SQLITE_STATIC);
	if (row->cause >= 0)
		sqlite3_bind_int(st, 12, row->cause);
	return sqlite3_step(st) == SQLITE_DONE ? 0 : MTD_ESTORE;
}

int mtd_store_events_of(mtd_store *s, int64_t dev, int64_t conn,
			int (*fn)(void *ud, const mtd_event_row *row), void *ud)
{
	sqlite3_stmt *st = mtd_store_stmt(s, SQL_EVENTS_OF);
	int step, rc;
	if (!st)
		return MTD_ESTORE;
	sqlite3_bind_int64(st, 1, dev);
	sqlite3_bind_int64(st, 2, conn);
	while ((step = sqlite3_step(st)) == SQLITE_ROW) {
		mtd_event_row row;
		row.id = (const char *)sqlite3_column_text(st, 0);
		row.open = sqlite3_column_int(st, 1);
		row.at = sqlite3_column_int64(st, 2);
		row.category = (const char *)sqlite3_column_text(st, 3);
		row.name = (const char *)sqlite3_column_text(st, 4);
		row.level = sqlite3_column_type(st, 5) == SQLITE_NULL ? -1 : sqlite3_column_int(st, 5);
		row.since = sqlite3_column_int64(st, 6);
		if ((rc = fn(ud, &row)))
			return rc;
	}
	return step == SQLITE_DONE ? 0 : MTD_ESTORE;
}

int mtd_store_event_get(mtd_store *s, int64_t dev, int64_t conn, const char *id, size_t n,
			int *open, int64_t *at, int64_t *since)
{
	sqlite3_stmt *st = mtd_store_stmt(s, SQL_EVENT_GET);
	int step;
	if (!st)
		return MTD_ESTORE;
	sqlite3_bind_int64(st, 1, dev);
	sqlite3_bind_int64(st, 2, conn);
	mtd_bind_text(st, 3, id, n);
	if ((step = sqlite3_step(st)) == SQLITE_DONE)
		return 0;
	if (step != SQLITE_ROW)
		return MTD_ESTORE;
	*open = sqlite3_column_int(st, 0);
	*at = sqlite3_column_int64(st, 1);
	*since = sqlite3_column_int64(st, 2);
	return 1;
}

int mtd_store_event_put(mtd_store *s, int64_t now, int64_t dev, int64_t conn, const mtd_threat *t,
			int open, int64_t at, int64_t since)
{
	sqlite3_stmt *st = mtd_store_stmt(s, SQL_EVENT_PUT);
	if (!st)
		return MTD_ESTORE;
	sqlite3_bind_int64(st, 1, dev);
	sqlite3_bind_int64(st, 2, conn);
	mtd_bind_text(st, 3, t->id.p, t->id.n);
	sqlite3_bind_int(st, 4, open);
	sqlite3_bind_int64(st, 5, at);
	mtd_bind_text(st, 6, t->category.p, t->category.n);
	mtd_bind_text(st, 7, t->name.p, t->name.n);
	if (t->level >= 0)
		sqlite3_bind_int(st, 8, t->level);
	sqlite3_bind_int64(st, 9, since);
	if (sqlite3_step(st) != SQLITE_DONE ||
	    mtd_store_row_logged(s, now, MTD_ROW_THREAT_EVENTS, dev, conn, t->id.p, t->id.n))
		return MTD_ESTORE;
	return 0;
}

int mtd_store_events_delete_before(mtd_store *s, int64_t now, int64_t dev, int64_t conn,
				   int64_t before)
{
	sqlite3_stmt *st = mtd_store_stmt(s, SQL_EVENTS_DELETE_BEFORE);
	int step;
	if (!st)
		return MTD_ESTORE;
	sqlite3_bind_int64(st, 1, dev);
	sqlite3_bind_int64(st, 2, conn);
	sqlite3_bind_int64(st, 3, before);
	/* the deletion is done by the first step; each row it returns is logged */
	while ((step = sqlite3_step(st)) == SQLITE_ROW) {
		size_t n;
		const char *id = mtd_col_text(st, 0, &n);
		if (mtd_store_row_logged(s, now, MTD_ROW_THREAT_EVENTS, dev, conn, id, n))
			return MTD_ESTORE;
	}
	return step == SQLITE_DONE ? 0 : MTD_ESTORE;
}

/* ---- parked messages ---- */

int mtd_store_park(mtd_store *s, int64_t now, int64_t conn, const char *why,
		   const mtd_str *vendor_id, const void *mp, size_t len, int64_t *id)
{
	sqlite3_stmt *st = mtd_store_stmt(s, SQL_PARK_INSERT);
	if (!st)
		return MTD_ESTORE;
	sqlite3_bind_int64(st, 1, conn);
	sqlite3_bind_int64(st, 2, now);
	sqlite3_bind_text(st, 3, why, -1, SQLITE_STATIC);
	if (vendor_id)
		mtd_bind_text(st, 4, vendor_id->p, vendor_id->n);
	sqlite3_bind_blob(st, 5, mp, (int)len, SQLITE_STATIC);
	if (sqlite3_step(st) != SQLITE_DONE)
		return MTD_ESTORE;
	*id = sqlite3_last_insert_rowid(mtd_store_db(s));
	return mtd_store_row_logged(s, now, MTD_ROW_PARKED, *id, 0, NULL, 0) ? MTD_ESTORE : 0;
}

int mtd_store_park_delete(mtd_store *s, int64_t now, int64_t id)
{
	sqlite3_stmt *st = mtd_store_stmt(s, SQL_PARK_DELETE);
	if (!st)
		return MTD_ESTORE;
	sqlite3_bind_int64(st, 1, id);
	if (sqlite3_step(st) != SQLITE_DONE)
		return MTD_ESTORE;
	if (!sqlite3_changes(mtd_store_db(s)))
		return 0;
	return mtd_store_row_logged(s, now, MTD_ROW_PARKED, id, 0, NULL, 0) ? MTD_ESTORE : 1;
}

void mtd_parked_row_read(sqlite3_stmt *st, mtd_parked_row *row)
{
	row->id = sqlite3_column_int64(st, 0);
	row->conn = sqlite3_column_int64(st, 1);
	row->received = sqlite3_column_int64(st, 2);
	row->reason = (const char *)sqlite3_column_text(st, 3);
	row->msg = sqlite3_column_blob(st, 4);
	row->len = (size_t)sqlite3_column_bytes(st, 4);
}
