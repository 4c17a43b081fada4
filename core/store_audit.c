/* store, audit part: see store_audit.h. The SQL of audit show, verify,
 * checkpoint, prune and archives, and the merged walk of the sequence;
 * what the records mean stays in audit.c. */
#include "store_audit.h"
#include "store_fleet.h" /* SQL files' sqlfile_info */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- look-ups ---- */

int mtd_store_audit_name(mtd_store *s, int what, int64_t id, tbuf *out)
{
	sqlite3_stmt *st =
		mtd_store_stmt(s, what == MTD_AUDIT_DEVICE ? SQL_DEVICE_EXT : SQL_AUDIT_CONN_VENDOR);
	const char *t;
	int rc = 0, step;
	if (!st)
		return MTD_ESTORE;
	sqlite3_bind_int64(st, 1, id);
	step = sqlite3_step(st);
	if (step == SQLITE_ROW && (t = (const char *)sqlite3_column_text(st, 0)))
		rc = tb_set(out, t) ? MTD_ENOMEM : 1;
	else if (step != SQLITE_ROW && step != SQLITE_DONE)
		rc = MTD_ESTORE;
	sqlite3_reset(st);
	return rc;
}

int mtd_store_audit_connector_id(mtd_store *s, const char *vendor, int64_t *id)
{
	sqlite3_stmt *st = mtd_store_stmt(s, SQL_AUDIT_CONN_ID);
	int step;
	if (!st)
		return MTD_ESTORE;
	sqlite3_bind_text(st, 1, vendor, -1, SQLITE_STATIC);
	step = sqlite3_step(st);
	if (step == SQLITE_ROW)
		*id = sqlite3_column_int64(st, 0);
	sqlite3_reset(st);
	return step == SQLITE_ROW ? 0 : step == SQLITE_DONE ? MTD_ENOTFOUND : MTD_ESTORE;
}

int mtd_store_audit_last(mtd_store *s, mtd_audit_last *out)
{
	sqlite3_stmt *st = mtd_store_stmt(s, SQL_AUDIT_HEAD);
	int step;
	if (!st)
		return MTD_ESTORE;
	step = sqlite3_step(st);
	if (step == SQLITE_ROW) {
		out->seq = sqlite3_column_int64(st, 0);
		out->at = sqlite3_column_int64(st, 1);
		out->has_hash = sqlite3_column_bytes(st, 2) == 32;
		if (out->has_hash)
			memcpy(out->hash, sqlite3_column_blob(st, 2), 32);
	}
	sqlite3_reset(st);
	return step == SQLITE_ROW ? 1 : step == SQLITE_DONE ? 0 : MTD_ESTORE;
}

int mtd_store_audit_outcome(mtd_store *s, int64_t seq, mtd_outcome_row *o, tbuf *reasons)
{
	sqlite3_stmt *st = mtd_store_stmt(s, SQL_AUDIT_OUTCOME);
	const char *t;
	int rc = 0, step;
	if (!st)
		return MTD_ESTORE;
	sqlite3_bind_int64(st, 1, seq);
	step = sqlite3_step(st);
	if (step == SQLITE_ROW) {
		o->state = sqlite3_column_int(st, 0);
		o->level = sqlite3_column_int(st, 1);
		o->access = sqlite3_column_int(st, 2);
		o->app_action = sqlite3_column_int(st, 3);
		t = (const char *)sqlite3_column_text(st, 4);
		rc = !reasons || (t && !tb_set(reasons, t)) || !tb_set(reasons, "[]") ? 1 : MTD_ENOMEM;
	} else if (step != SQLITE_DONE) {
		rc = MTD_ESTORE;
	}
	sqlite3_reset(st);
	return rc;
}

int mtd_store_audit_last_pruned(mtd_store *s, int64_t *seq, tbuf *detail)
{
	sqlite3_stmt *st = mtd_store_stmt(s, SQL_AUDIT_LAST_PRUNED);
	int rc = 0, step;
	if (!st)
		return MTD_ESTORE;
	step = sqlite3_step(st);
	if (step == SQLITE_ROW) {
		*seq = sqlite3_column_int64(st, 0);
		const char *t = (const char *)sqlite3_column_text(st, 1);
		rc = tb_set(detail, t ? t : "") ? MTD_ENOMEM : 1;
	} else if (step != SQLITE_DONE) {
		rc = MTD_ESTORE;
	}
	sqlite3_reset(st);
	return rc;
}

int mtd_store_audit_pages(mtd_store *s, char *msg, size_t n)
{
	sqlite3 *db = mtd_store_db(s);
	sqlite3_stmt *st;
	int rc = 0;
	msg[0] = '\0';
	if (sqlite3_prepare_v2(db, "PRAGMA integrity_check(5)", -1, &st, NULL) != SQLITE_OK) {
		snprintf(msg, n, "%s", sqlite3_errmsg(db));
		return 2;
	}
	while (sqlite3_step(st) == SQLITE_ROW) {
		const char *t = (const char *)sqlite3_column_text(st, 0);
		if (t && strcmp(t, "ok")) {
			size_t k = strlen(msg);
			snprintf(msg + k, n - k, "%s%s", k ? "; " : "", t);
			rc = 1;
		}
	}
	if (sqlite3_finalize(st) != SQLITE_OK && !rc) {
		snprintf(msg, n, "%s", sqlite3_errmsg(db));
		rc = 1;
	}
	return rc;
}

int mtd_store_audit_row_label(mtd_store *s, int table, int64_t k1, int64_t k2, const char *ktext,
			      char *buf, size_t n)
{
	sqlite3_stmt *st;
	const char *t;
	int found = 0;
	if (mtd_store_prepare(s, mtd_row_label_sql(table), &st))
		return 0;
	sqlite3_bind_int64(st, 1, k1);
	sqlite3_bind_int64(st, 2, k2);
	if (ktext)
		sqlite3_bind_text(st, 3, ktext, -1, SQLITE_TRANSIENT);
	if (sqlite3_step(st) == SQLITE_ROW && (t = (const char *)sqlite3_column_text(st, 0))) {
		snprintf(buf, n, "%s", t);
		found = 1;
	}
	sqlite3_finalize(st);
	return found;
}

sqlite3_stmt *mtd_store_covered_scan(mtd_store *s, int table)
{
	sqlite3_stmt *st;
	if (mtd_store_prepare(s, mtd_row_scan_sql(table), &st))
		return NULL;
	return st;
}

int mtd_store_covered_next(sqlite3_stmt *st, int table, mtd_covered_row *row)
{
	int step = sqlite3_step(st);
	if (step != SQLITE_ROW) {
		if (step == SQLITE_DONE)
			return 0;
		return sqlite3_errcode(sqlite3_db_handle(st)) == SQLITE_CORRUPT ? MTD_EMALFORMED
										 : MTD_ESTORE;
	}
	/* the key, then (the digest reads every column by its type) */
	row->k1 = sqlite3_column_int64(st, 0);
	row->k2 = sqlite3_column_int64(st, 1);
	row->ktext = (const char *)sqlite3_column_text(st, 2);
	row->nktext = row->ktext ? (size_t)sqlite3_column_bytes(st, 2) : 0;
	row->device = table == MTD_ROW_DEVICE_IDS ? sqlite3_column_int64(st, 3) : 0;
	mtd_row_digest(table, st, row->digest);
	return 1;
}

int mtd_store_audit_row_log_back(mtd_store *s, int (*fn)(void *ud, const mtd_log_entry *e),
				 void *ud)
{
	sqlite3_stmt *st;
	int rc = 0;
	if (mtd_store_prepare(s, "SELECT n, entries FROM row_log ORDER BY seq DESC", &st))
		return MTD_ESTORE;
	while (!rc && sqlite3_step(st) == SQLITE_ROW) {
		const unsigned char *p = sqlite3_column_blob(st, 1);
		const unsigned char *end = p ? p + sqlite3_column_bytes(st, 1) : NULL;
		int64_t cnt = sqlite3_column_int64(st, 0);
		mtd_log_entry e = {0};
		for (int64_t i = 0; p && i < cnt && !rc; i++) {
			if (mtd_log_entry_decode(MTD_LOG_ROWS, &p, end, &e))
				break;
			rc = fn(ud, &e);
		}
	}
	sqlite3_finalize(st);
	return rc;
}

/* The entries of the decision_log row of st (seq, n, ..., entries in
 * column col) to fn. */
static int dlog_entries(sqlite3_stmt *st, int col, mtd_dlog_fn fn, void *ud)
{
	mtd_dlog_block b = {sqlite3_column_int64(st, 0), sqlite3_column_int64(st, 1)};
	const unsigned char *p = sqlite3_column_blob(st, col);
	const unsigned char *end = p ? p + sqlite3_column_bytes(st, col) : NULL;
	mtd_log_entry e;
	int rc = 0;
	memset(&e, 0, sizeof e);
	for (int64_t i = 0; !rc && p && i < b.n; i++)
		if (mtd_log_entry_decode(MTD_LOG_DECISIONS, &p, end, &e))
			return fn(ud, &b, i, NULL);
		else
			rc = fn(ud, &b, i, &e);
	return rc;
}

int mtd_store_audit_dlog_entries(mtd_store *s, mtd_dlog_fn fn, void *ud)
{
	sqlite3_stmt *st;
	int rc = 0, step;
	if (mtd_store_prepare(s, "SELECT seq, n, entries FROM decision_log ORDER BY seq", &st))
		return MTD_ESTORE;
	while (!rc && (step = sqlite3_step(st)) == SQLITE_ROW)
		rc = dlog_entries(st, 2, fn, ud);
	sqlite3_finalize(st);
	return rc ? rc : step == SQLITE_DONE ? 0 : MTD_ESTORE;
}

int mtd_store_audit_kept(mtd_store *s, int64_t from, mtd_sha256 *c, uint64_t *n, mtd_dlog_fn fn,
			 void *ud)
{
	/* verify's columns (verify_sql below): what the prune record digests */
	static const char *const sql[2] = {
		"SELECT seq, n, at, entries FROM decision_log WHERE seq < ?1 ORDER BY seq",
		("SELECT seq, at, digest, state, level, access, app_action, vendors, reasons,"
		 " resources FROM outcomes WHERE seq < ?1 ORDER BY seq"),
	};
	int rc = 0;
	*n = 0;
	for (int k = 0; k < 2 && !rc; k++) {
		sqlite3_stmt *st;
		int step;
		if (mtd_store_prepare(s, sql[k], &st))
			return MTD_ESTORE;
		sqlite3_bind_int64(st, 1, from);
		while (!rc && (step = sqlite3_step(st)) == SQLITE_ROW) {
			mtd_log_hash_row(c, st, sqlite3_column_count(st));
			(*n)++;
			if (k == 0 && fn)
				rc = dlog_entries(st, 3, fn, ud);
		}
		if (!rc && step != SQLITE_DONE)
			rc = MTD_ESTORE;
		sqlite3_finalize(st);
	}
	return rc;
}

/* ---- the walk ---- */

#define MTD_BLOCK_ENTRIES_S "1024" /* MTD_BLOCK_ENTRIES as SQL text */
_Static_assert(MTD_BLOCK_ENTRIES == 1024, "MTD_BLOCK_ENTRIES_S");

/* verify: every column of each row (what seals digest); ?1 where the log
 * starts (audit prune leaves a prune point; 0 before) */
static const char *const verify_sql[MTD_SRC__COUNT] = {
	"SELECT seq, at, kind, vendor, device, detail, hash, pd, salt FROM audit WHERE seq >= ?1"
	" ORDER BY seq",
	("SELECT seq, at, digest, state, level, access, app_action, vendors, reasons, resources"
	 " FROM outcomes WHERE seq >= ?1 ORDER BY seq"),
	"SELECT seq, n, at, entries FROM decision_log WHERE seq >= ?1 ORDER BY seq",
	"SELECT seq, n, at, connector, entries FROM message_log WHERE seq >= ?1 ORDER BY seq",
	"SELECT seq, n, at, entries FROM row_log WHERE seq >= ?1 ORDER BY seq",
};

/* show, each ordered by seq: ?3 kind, ?4 since, ?5 until; device and
 * vendor are matched by row id in C (?1, ?2 for audit by name) */
static const char *const show_sql[MTD_SRC__COUNT] = {
	("SELECT seq, at, kind, vendor, device, detail FROM audit"
	 " WHERE (?1 IS NULL OR device = ?1) AND (?2 IS NULL OR vendor = ?2)"
	 " AND (?3 IS NULL OR kind = ?3) AND at >= ?4 AND at <= ?5 AND seq > ?6 ORDER BY seq"),
	("SELECT seq, at, state, level, access, app_action, vendors, reasons, resources"
	 " FROM outcomes WHERE ?1 IS NULL AND ?2 IS NULL AND (?3 IS NULL OR ?3 = 'outcome')"
	 " AND at >= ?4 AND at <= ?5 AND seq > ?6 ORDER BY seq"),
	/* a block's later entries may come after ?6: entries are skipped in C */
	("SELECT seq, n, at, entries FROM decision_log WHERE ?1 IS NULL AND ?2 IS NULL"
	 " AND (?3 IS NULL OR ?3 = 'decision') AND at >= ?4 AND at <= ?5"
	 " AND seq > ?6 - " MTD_BLOCK_ENTRIES_S " ORDER BY seq"),
	("SELECT seq, n, at, connector, entries FROM message_log"
	 " WHERE (?2 IS NULL OR connector = ?2) AND ?1 IS NULL"
	 " AND (?3 IS NULL OR ?3 = 'message') AND at >= ?4 AND at <= ?5"
	 " AND seq > ?6 - " MTD_BLOCK_ENTRIES_S " ORDER BY seq"),
	("SELECT seq, n, at, entries FROM row_log WHERE ?1 IS NULL AND ?2 IS NULL"
	 " AND (?3 IS NULL OR ?3 = 'row') AND at >= ?4 AND at <= ?5"
	 " AND seq > ?6 - " MTD_BLOCK_ENTRIES_S " ORDER BY seq"),
};

typedef struct cursor {
	sqlite3_stmt *st;
	int live;     /* a record is current */
	int blob_col; /* column of the entries */
	const unsigned char *p, *end;
	mtd_walk_rec r;
} cursor;

struct mtd_audit_walk {
	sqlite3 *db;
	int show; /* show's columns, not verify's */
	int cur;  /* the cursor of the record given last, -1 none */
	cursor c[MTD_SRC__COUNT];
};

/* Decode the entry at c->p; at the row's last one, nothing may follow. */
static void entry(cursor *c)
{
	if (mtd_log_entry_decode(c->r.log, &c->p, c->end, &c->r.e) ||
	    (c->r.i + 1 == c->r.n && c->p != c->end))
		c->r.bad = 1;
}

/* To the cursor's next record. */
static int advance(cursor *c)
{
	mtd_walk_rec *r = &c->r;
	int rc;
	if (c->live && r->block && !r->bad && r->i + 1 < r->n) {
		r->i++;
		r->seq++;
		entry(c);
		return 0;
	}
	rc = sqlite3_step(c->st);
	c->live = rc == SQLITE_ROW;
	if (rc != SQLITE_ROW)
		return rc == SQLITE_DONE ? 0 : MTD_ESTORE;
	r->seq = sqlite3_column_int64(c->st, 0);
	r->at = sqlite3_column_int64(c->st, r->block ? 2 : 1);
	if (r->block) {
		int64_t n = sqlite3_column_int64(c->st, 1);
		if (r->src == MTD_SRC_MESSAGES)
			r->connector = sqlite3_column_int64(c->st, 3);
		c->p = sqlite3_column_blob(c->st, c->blob_col);
		c->end = c->p + sqlite3_column_bytes(c->st, c->blob_col);
		r->i = 0;
		r->n = n > 0 && n <= MTD_BLOCK_ENTRIES ? (uint32_t)n : 0;
		r->bad = r->n == 0 || !c->p;
		memset(&r->e, 0, sizeof r->e); /* a new block */
		if (!r->bad)
			entry(c);
	}
	return 0;
}

static mtd_audit_walk *walk_new(sqlite3 *db, int show)
{
	static const int logs[MTD_SRC__COUNT] = {-1, MTD_LOG_OUTCOMES, MTD_LOG_DECISIONS,
						 MTD_LOG_MESSAGES, MTD_LOG_ROWS};
	mtd_audit_walk *w = calloc(1, sizeof *w);
	if (!w)
		return NULL;
	w->db = db;
	w->show = show;
	w->cur = -1;
	for (int i = 0; i < MTD_SRC__COUNT; i++) {
		w->c[i].r.src = i;
		w->c[i].r.log = logs[i];
		w->c[i].r.block = i >= MTD_SRC_DECISIONS;
		w->c[i].blob_col = i == MTD_SRC_MESSAGES ? 4 : 3;
	}
	return w;
}

/* A verify walk of db from record from on. */
static int walk_verify(sqlite3 *db, int64_t from, mtd_audit_walk **out)
{
	mtd_audit_walk *w = *out = walk_new(db, 0);
	if (!w)
		return MTD_ENOMEM;
	for (int i = 0; i < MTD_SRC__COUNT; i++)
		if (sqlite3_prepare_v2(db, verify_sql[i], -1, &w->c[i].st, NULL) != SQLITE_OK ||
		    sqlite3_bind_int64(w->c[i].st, 1, from) != SQLITE_OK || advance(&w->c[i]))
			return MTD_ESTORE;
	return 0;
}

int mtd_audit_walk_verify(mtd_store *s, int64_t from, mtd_audit_walk **out)
{
	return walk_verify(mtd_store_db(s), from, out);
}

int mtd_audit_walk_show(mtd_store *s, const mtd_audit_filter *f, int64_t vendor_id,
			mtd_audit_walk **out)
{
	mtd_audit_walk *w = *out = walk_new(mtd_store_db(s), 1);
	if (!w)
		return MTD_ENOMEM;
	for (int i = 0; i < MTD_SRC__COUNT; i++) {
		sqlite3_stmt *st;
		if (sqlite3_prepare_v2(w->db, show_sql[i], -1, &w->c[i].st, NULL) != SQLITE_OK)
			return MTD_ESTORE;
		st = w->c[i].st;
		/* the block logs filter devices in C: ?1 stays NULL there */
		if (f->device && !w->c[i].r.block)
			sqlite3_bind_text(st, 1, f->device, -1, SQLITE_STATIC);
		if (f->vendor) {
			if (i == MTD_SRC_MESSAGES)
				sqlite3_bind_int64(st, 2, vendor_id);
			else
				sqlite3_bind_text(st, 2, f->vendor, -1, SQLITE_STATIC);
		}
		if (f->kind)
			sqlite3_bind_text(st, 3, f->kind, -1, SQLITE_STATIC);
		sqlite3_bind_int64(st, 4, f->since);
		sqlite3_bind_int64(st, 5, f->until ? f->until : INT64_MAX);
		sqlite3_bind_int64(st, 6, f->after_seq > 0 ? f->after_seq : 0);
		if (advance(&w->c[i]))
			return MTD_ESTORE;
	}
	return 0;
}

int mtd_audit_walk_next(mtd_audit_walk *w, const mtd_walk_rec **r)
{
	int best = -1;
	if (w->cur >= 0 && advance(&w->c[w->cur]))
		return MTD_ESTORE;
	for (int i = 0; i < MTD_SRC__COUNT; i++)
		if (w->c[i].live && (best < 0 || w->c[i].r.seq < w->c[best].r.seq))
			best = i;
	w->cur = best;
	if (best < 0)
		return 0;
	*r = &w->c[best].r;
	return 1;
}

void mtd_audit_walk_hash_row(mtd_audit_walk *w, mtd_sha256 *c)
{
	sqlite3_stmt *st = w->c[w->cur].st;
	mtd_log_hash_row(c, st, sqlite3_column_count(st));
}

/* A blob column's bytes, -1 when NULL. */
static int blob_of(sqlite3_stmt *st, int i, const unsigned char **p)
{
	if (sqlite3_column_type(st, i) == SQLITE_NULL) {
		*p = NULL;
		return -1;
	}
	*p = sqlite3_column_blob(st, i);
	return sqlite3_column_bytes(st, i);
}

void mtd_audit_walk_audit(mtd_audit_walk *w, mtd_audit_row *r)
{
	sqlite3_stmt *st = w->c[MTD_SRC_AUDIT].st;
	memset(r, 0, sizeof *r);
	/* types before any conversion a text or blob read could make */
	r->device_null = sqlite3_column_type(st, 4) == SQLITE_NULL;
	r->nhash = r->npd = r->nsalt = -1;
	if (!w->show) {
		r->npd = blob_of(st, 7, &r->pd);
		r->nsalt = blob_of(st, 8, &r->salt);
	}
	r->kind = (const char *)sqlite3_column_text(st, 2);
	r->vendor = (const char *)sqlite3_column_text(st, 3);
	r->device = (const char *)sqlite3_column_text(st, 4);
	r->detail = (const char *)sqlite3_column_text(st, 5);
	if (!w->show)
		r->nhash = blob_of(st, 6, &r->hash);
}

void mtd_audit_walk_outcome(mtd_audit_walk *w, mtd_outcome_row *o)
{
	sqlite3_stmt *st = w->c[MTD_SRC_OUTCOMES].st;
	o->digest = 0;
	o->state = sqlite3_column_int(st, 2);
	o->level = sqlite3_column_int(st, 3);
	o->access = sqlite3_column_int(st, 4);
	o->app_action = sqlite3_column_int(st, 5);
	o->vendors = (const char *)sqlite3_column_text(st, 6);
	o->reasons = (const char *)sqlite3_column_text(st, 7);
	o->resources = (const char *)sqlite3_column_text(st, 8);
}

const char *mtd_audit_walk_errmsg(mtd_audit_walk *w)
{
	return sqlite3_errmsg(w->db);
}

void mtd_audit_walk_close(mtd_audit_walk *w)
{
	if (!w)
		return;
	for (int i = 0; i < MTD_SRC__COUNT; i++)
		sqlite3_finalize(w->c[i].st);
	free(w);
}

/* ---- prune and archives ---- */

const char mtd_audit_archive_schema[] =
	MTD_SQLFILE_INFO_TABLE
	"CREATE TABLE audit(seq INTEGER PRIMARY KEY, at INTEGER NOT NULL, kind TEXT NOT NULL,"
	" vendor TEXT, device TEXT, detail TEXT NOT NULL, hash BLOB, pd BLOB, salt BLOB);"
	"CREATE TABLE outcomes(seq INTEGER PRIMARY KEY, at INTEGER NOT NULL, digest INTEGER NOT NULL,"
	" state INTEGER NOT NULL, level INTEGER NOT NULL, access INTEGER NOT NULL,"
	" app_action INTEGER NOT NULL, vendors TEXT NOT NULL, reasons TEXT NOT NULL,"
	" resources TEXT NOT NULL);"
	"CREATE TABLE decision_log(seq INTEGER PRIMARY KEY, n INTEGER NOT NULL,"
	" at INTEGER NOT NULL, entries BLOB NOT NULL);"
	"CREATE TABLE message_log(seq INTEGER PRIMARY KEY, n INTEGER NOT NULL,"
	" at INTEGER NOT NULL, connector INTEGER NOT NULL, entries BLOB NOT NULL);"
	"CREATE TABLE row_log(seq INTEGER PRIMARY KEY, n INTEGER NOT NULL,"
	" at INTEGER NOT NULL, entries BLOB NOT NULL);"
	/* names of the row ids the entries use, as they were when archived */
	"CREATE TABLE devices(id INTEGER PRIMARY KEY, ext_id TEXT NOT NULL);"
	"CREATE TABLE connectors(id INTEGER PRIMARY KEY, vendor TEXT NOT NULL);";

static const char *const log_tables[MTD_SRC__COUNT] = {"audit", "outcomes", "decision_log",
						       "message_log", "row_log"};

/* Copy the rows of table numbered from .. cut - 1 into the archive. */
static int copy_rows(sqlite3 *src, sqlite3 *dst, const char *table, int64_t from, int64_t cut,
		     uint64_t *n, char *err, size_t nerr)
{
	char q[160], ins[200];
	sqlite3_stmt *st = NULL, *in = NULL;
	int rc = 0, step, ncol;
	snprintf(q, sizeof q, "SELECT * FROM %s WHERE seq >= ?1 AND seq < ?2 ORDER BY seq", table);
	if (sqlite3_prepare_v2(src, q, -1, &st, NULL) != SQLITE_OK) {
		snprintf(err, nerr, "%s", sqlite3_errmsg(src));
		return MTD_ESTORE;
	}
	ncol = sqlite3_column_count(st);
	snprintf(ins, sizeof ins, "INSERT INTO %s VALUES(?%s%s%s%s%s%s%s%s%s)", table,
		 ncol > 1 ? ",?" : "", ncol > 2 ? ",?" : "", ncol > 3 ? ",?" : "",
		 ncol > 4 ? ",?" : "", ncol > 5 ? ",?" : "", ncol > 6 ? ",?" : "",
		 ncol > 7 ? ",?" : "", ncol > 8 ? ",?" : "", ncol > 9 ? ",?" : "");
	if (sqlite3_prepare_v2(dst, ins, -1, &in, NULL) != SQLITE_OK) {
		snprintf(err, nerr, "archive: %s", sqlite3_errmsg(dst));
		rc = MTD_EIO;
		goto out;
	}
	sqlite3_bind_int64(st, 1, from);
	sqlite3_bind_int64(st, 2, cut);
	while (!rc && (step = sqlite3_step(st)) == SQLITE_ROW) {
		for (int k = 0; k < ncol; k++)
			sqlite3_bind_value(in, k + 1, sqlite3_column_value(st, k));
		if (sqlite3_step(in) != SQLITE_DONE) {
			snprintf(err, nerr, "archive: %s", sqlite3_errmsg(dst));
			rc = MTD_EIO;
		}
		sqlite3_reset(in);
		(*n)++;
	}
	if (!rc && step != SQLITE_DONE) {
		snprintf(err, nerr, "%s", sqlite3_errmsg(src));
		rc = MTD_ESTORE;
	}
out:
	sqlite3_finalize(st);
	sqlite3_finalize(in);
	return rc;
}

int mtd_store_audit_archive_rows(mtd_store *s, sqlite3 *dst, int64_t from, int64_t cut,
				 uint64_t *n, char *err, size_t nerr)
{
	int rc = 0;
	for (int i = 0; i < MTD_SRC__COUNT && !rc; i++)
		rc = copy_rows(mtd_store_db(s), dst, log_tables[i], from, cut, n, err, nerr);
	return rc;
}

int mtd_store_audit_archive_names(mtd_store *s, sqlite3 *dst, const char *path, char *err,
				  size_t nerr)
{
	static const char *const names[2][2] = {
		{"SELECT id, ext_id FROM devices", "INSERT INTO devices VALUES(?1, ?2)"},
		{"SELECT id, vendor FROM connectors", "INSERT INTO connectors VALUES(?1, ?2)"}};
	int rc = 0;
	for (int k = 0; k < 2 && !rc; k++) {
		sqlite3_stmt *st, *in;
		if (mtd_store_prepare(s, names[k][0], &st) ||
		    sqlite3_prepare_v2(dst, names[k][1], -1, &in, NULL)) {
			snprintf(err, nerr, "%s: cannot copy names", path);
			return MTD_EIO;
		}
		while (!rc && sqlite3_step(st) == SQLITE_ROW) {
			sqlite3_bind_value(in, 1, sqlite3_column_value(st, 0));
			sqlite3_bind_value(in, 2, sqlite3_column_value(st, 1));
			if (sqlite3_step(in) != SQLITE_DONE) {
				snprintf(err, nerr, "%s: %s", path, sqlite3_errmsg(dst));
				rc = MTD_EIO;
			}
			sqlite3_reset(in);
		}
		sqlite3_finalize(st);
		sqlite3_finalize(in);
	}
	return rc;
}

struct mtd_audit_keep {
	sqlite3_stmt *add[2], *has;
};

int mtd_audit_keep_open(mtd_store *s, mtd_audit_keep **out)
{
	sqlite3 *db = mtd_store_db(s);
	mtd_audit_keep *k = *out = calloc(1, sizeof *k);
	if (!k)
		return MTD_ENOMEM;
	if (sqlite3_exec(db, "CREATE TEMP TABLE IF NOT EXISTS keep_blocks(seq INTEGER PRIMARY KEY);"
			 "CREATE TEMP TABLE IF NOT EXISTS keep_outcomes(seq INTEGER PRIMARY KEY);"
			 "DELETE FROM keep_blocks; DELETE FROM keep_outcomes;", NULL, NULL, NULL) ||
	    sqlite3_prepare_v2(db, "INSERT OR IGNORE INTO keep_blocks VALUES(?1)", -1,
			       &k->add[MTD_KEEP_BLOCK], NULL) ||
	    sqlite3_prepare_v2(db, "INSERT OR IGNORE INTO keep_outcomes VALUES(?1)", -1,
			       &k->add[MTD_KEEP_OUTCOME], NULL) ||
	    sqlite3_prepare_v2(db, "SELECT 1 FROM keep_blocks WHERE seq = ?1", -1, &k->has, NULL))
		return MTD_ESTORE;
	return 0;
}

int mtd_audit_keep_add(mtd_audit_keep *k, int which, int64_t seq)
{
	sqlite3_stmt *st = k->add[which];
	int step;
	sqlite3_reset(st);
	sqlite3_bind_int64(st, 1, seq);
	step = sqlite3_step(st);
	return step == SQLITE_DONE ? 0 : MTD_ESTORE;
}

int mtd_audit_keep_has_block(mtd_audit_keep *k, int64_t seq)
{
	int found;
	sqlite3_reset(k->has);
	sqlite3_bind_int64(k->has, 1, seq);
	found = sqlite3_step(k->has) == SQLITE_ROW;
	sqlite3_reset(k->has);
	return found;
}

void mtd_audit_keep_close(mtd_audit_keep *k)
{
	if (!k)
		return;
	sqlite3_finalize(k->add[0]);
	sqlite3_finalize(k->add[1]);
	sqlite3_finalize(k->has);
	free(k);
}

int mtd_store_audit_prune_below(mtd_store *s, int64_t cut)
{
	for (int i = 0; i < MTD_SRC__COUNT; i++) {
		char q[600];
		snprintf(q, sizeof q,
			 "DROP TRIGGER %s_no_delete;"
			 "DELETE FROM %s WHERE seq < %lld%s;"
			 "CREATE TRIGGER %s_no_delete BEFORE DELETE ON %s"
			 " BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;",
			 log_tables[i], log_tables[i], (long long)cut,
			 i == MTD_SRC_DECISIONS  ? " AND seq NOT IN (SELECT seq FROM temp.keep_blocks)"
			 : i == MTD_SRC_OUTCOMES ? " AND seq NOT IN (SELECT seq FROM temp.keep_outcomes)"
						 : "",
			 log_tables[i], log_tables[i]);
		if (sqlite3_exec(mtd_store_db(s), q, NULL, NULL, NULL) != SQLITE_OK)
			return MTD_ESTORE;
	}
	return 0;
}

/* ---- an archive, read ---- */

struct mtd_audit_archive {
	sqlite3 *db;
};

int mtd_audit_archive_open(const char *path, mtd_audit_archive **out, char *err, size_t n)
{
	sqlite3 *db = NULL;
	*out = NULL;
	if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK) {
		snprintf(err, n, "%s: %s", path, db ? sqlite3_errmsg(db) : "cannot open");
		sqlite3_close(db);
		return MTD_EIO;
	}
	if (!(*out = malloc(sizeof **out))) {
		sqlite3_close(db);
		snprintf(err, n, "out of memory");
		return MTD_ENOMEM;
	}
	(*out)->db = db;
	return 0;
}

int mtd_audit_archive_begin(mtd_audit_archive *a)
{
	return mtd_store_file_read_begin(a->db);
}

int mtd_audit_archive_info(mtd_audit_archive *a, const char *key, char *buf, size_t n)
{
	return mtd_store_file_info_get(a->db, key, buf, n) != NULL;
}

int mtd_audit_archive_walk(mtd_audit_archive *a, mtd_audit_walk **out)
{
	return walk_verify(a->db, 0, out);
}

void mtd_audit_archive_close(mtd_audit_archive *a)
{
	if (!a)
		return;
	sqlite3_close(a->db);
	free(a);
}
