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
