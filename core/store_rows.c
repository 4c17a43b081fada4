/* store, rows part: see store_rows.h. The statements are in store.c's
 * sql_text[]; each reader here names the one it reads, and a comment on
 * that statement names its reader: change the two together. */
#include "store_rows.h"

#include "mtdgate/mtdgate.h"

/* ---- security tasks ---- */

int mtd_store_task_state(mtd_store *s, int64_t dev, int64_t conn, const char *id, size_t nid,
			 int *open, int64_t *at)
{
	sqlite3_stmt *st = mtd_store_stmt(s, SQL_TASK_GET); /* open, at */
	int step;
	if (!st)
		return MTD_ESTORE;
	sqlite3_bind_int64(st, 1, dev);
	sqlite3_bind_int64(st, 2, conn);
	mtd_bind_text(st, 3, id, nid);
	if ((step = sqlite3_step(st)) == SQLITE_ROW) {
		*open = sqlite3_column_int(st, 0);
		*at = sqlite3_column_int64(st, 1);
	}
	/* not reset: inside the writer's transaction, and the next use resets
	 * it (a second reset was a tenth of this look-up) */
	return step == SQLITE_ROW ? 0 : step == SQLITE_DONE ? MTD_ENOTFOUND : MTD_ESTORE;
}

int mtd_store_task_put(mtd_store *s, int64_t now, int64_t dev, int64_t conn, const mtd_task *t,
		       int open, int64_t at)
{
	sqlite3_stmt *st = mtd_store_stmt(s, SQL_TASK_PUT);
	if (!st)
		return MTD_ESTORE;
	sqlite3_bind_int64(st, 1, dev);
	sqlite3_bind_int64(st, 2, conn);
	mtd_bind_text(st, 3, t->id.p, t->id.n);
	sqlite3_bind_int(st, 4, t->kind);
	mtd_bind_text(st, 5, t->cve.p, t->cve.n);
	mtd_bind_text(st, 6, t->software.p, t->software.n);
	mtd_bind_text(st, 7, t->version.p, t->version.n);
	sqlite3_bind_int(st, 8, t->severity);
	sqlite3_bind_int64(st, 9, t->first_seen);
	sqlite3_bind_int(st, 10, open);
	sqlite3_bind_int64(st, 11, at);
	sqlite3_bind_int64(st, 12, now);
	if (sqlite3_step(st) != SQLITE_DONE ||
	    mtd_store_row_logged(s, now, MTD_ROW_TASKS, dev, conn, t->id.p, t->id.n))
		return MTD_ESTORE;
	return 0;
}

/* id, kind, cve, software, version, severity, first_seen from column i. */
static void task_fields(sqlite3_stmt *st, int i, mtd_task_fields *t)
{
	t->id = (const char *)sqlite3_column_text(st, i);
	t->kind = sqlite3_column_int(st, i + 1);
	t->cve = (const char *)sqlite3_column_text(st, i + 2);
	t->software = (const char *)sqlite3_column_text(st, i + 3);
	t->version = (const char *)sqlite3_column_text(st, i + 4);
	t->severity = sqlite3_column_int(st, i + 5);
	t->first_seen = sqlite3_column_int64(st, i + 6);
}

void mtd_task_open_read(sqlite3_stmt *st, mtd_task_open_row *row)
{
	row->connector = sqlite3_column_int64(st, 0);
	task_fields(st, 1, &row->t);
}

void mtd_task_list_read(sqlite3_stmt *st, mtd_task_list_row *row)
{
	row->device = (const char *)sqlite3_column_text(st, 0);
	row->vendor = (const char *)sqlite3_column_text(st, 1);
	task_fields(st, 2, &row->t);
	row->open = sqlite3_column_int(st, 9);
	row->at = sqlite3_column_int64(st, 10);
	row->received = sqlite3_column_int64(st, 11);
}

void mtd_task_age_read(sqlite3_stmt *st, mtd_task_age_row *row)
{
	row->device = sqlite3_column_int64(st, 0);
	row->at = sqlite3_column_int64(st, 1);
}

/* ---- connectors ---- */

void mtd_conn_row_read(sqlite3_stmt *st, mtd_conn_row *row)
{
	row->id = sqlite3_column_int64(st, 0);
	row->vendor = (const char *)sqlite3_column_text(st, 1);
	row->state = (const char *)sqlite3_column_text(st, 2);
	row->provisioned = sqlite3_column_int(st, 3);
	row->removed = sqlite3_column_int(st, 4);
	row->error_code = (const char *)sqlite3_column_text(st, 5);
	row->last_contact = sqlite3_column_int64(st, 6);
	row->added_at = sqlite3_column_int64(st, 7);
	row->platforms = (uint32_t)sqlite3_column_int(st, 8);
	row->mam_platforms = (uint32_t)sqlite3_column_int(st, 9);
	row->appsync_ios = sqlite3_column_int(st, 10);
	row->appsync_personal_ios = sqlite3_column_int(st, 11);
	row->block_unsupported_os = sqlite3_column_int(st, 12);
	row->block_missing_data = sqlite3_column_int(st, 13);
	row->unresponsive_days = sqlite3_column_int(st, 14);
	row->rejected = sqlite3_column_int64(st, 15);
	row->parked_days = sqlite3_column_int(st, 16);
}

int mtd_store_conn_insert(mtd_store *s, const char *vendor, const char *state, int64_t added_at)
{
	sqlite3_stmt *st = mtd_store_stmt(s, SQL_CONN_INSERT);
	if (!st)
		return MTD_ESTORE;
	sqlite3_bind_text(st, 1, vendor, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, state, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 3, added_at);
	if (sqlite3_step(st) != SQLITE_DONE)
		return MTD_ESTORE; /* errmsg: SQLite's, of this step */
	sqlite3_reset(st);
	return mtd_store_row_logged(s, added_at, MTD_ROW_CONNECTORS,
				    sqlite3_last_insert_rowid(mtd_store_db(s)), 0, NULL, 0);
}

/* ---- decision changes for followers ---- */

int mtd_store_decision_head(mtd_store *s, int64_t *seq)
{
	sqlite3_stmt *st = mtd_store_stmt(s, SQL_DECISION_LOG_HEAD);
	int step;
	*seq = 0;
	if (!st)
		return MTD_ESTORE;
	if ((step = sqlite3_step(st)) == SQLITE_ROW)
		*seq = sqlite3_column_int64(st, 0);
	/* a statement left on a row would keep this connection's snapshot */
	sqlite3_reset(st);
	return step == SQLITE_ROW || step == SQLITE_DONE ? 0 : MTD_ESTORE;
}

void mtd_outcome_shown_read(sqlite3_stmt *st, int reasons, mtd_outcome_shown *row)
{
	row->state = sqlite3_column_int(st, 1);
	row->level = sqlite3_column_int(st, 2);
	row->access = sqlite3_column_int(st, 3);
	row->app_action = sqlite3_column_int(st, 4);
	row->reasons = reasons ? (const char *)sqlite3_column_text(st, 6) : NULL;
}

void mtd_decision_block_read(sqlite3_stmt *st, mtd_decision_block *row)
{
	row->seq = sqlite3_column_int64(st, 0);
	row->n = sqlite3_column_int64(st, 1);
	row->at = sqlite3_column_int64(st, 2);
	row->entries = sqlite3_column_blob(st, 3);
	row->nentries = (size_t)sqlite3_column_bytes(st, 3);
}

/* ---- App Sync ---- */

void mtd_appsync_row_read(sqlite3_stmt *st, mtd_appsync_row *row)
{
	int i = 0;
	row->nulls = 0;
	for (int k = 0; k < MTD_APPSYNC_FIELDS; k++) /* before a read converts one */
		row->nulls |= (unsigned)(sqlite3_column_type(st, k) == SQLITE_NULL) << k;
	for (int k = 0; k < MTD_APPSYNC_TEXTS; k++, i++)
		row->text[k] = mtd_col_text(st, i, &row->ntext[k]);
	for (int k = 0; k < MTD_APPSYNC_SIZES; k++, i++)
		row->size[k] = sqlite3_column_int64(st, i);
	for (int k = 0; k < MTD_APPSYNC_FLAGS; k++, i++)
		row->flag[k] = sqlite3_column_int(st, i) != 0;
}
