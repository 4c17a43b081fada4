/* audit: showing and verifying the append-only, hash-chained audit log.
 *
 * The log is one sequence over four tables: audit (records chained one to
 * the next by hash) and the compact logs outcomes, decision_log and
 * message_log, whose rows are covered by the 'seal' records of the chain
 * (store.h). Both walks below merge the four by sequence number. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "codec.h"
#include "mtd_int.h"
#include "rules.h"
#include "tbuf.h"

enum { SRC_AUDIT, SRC_OUTCOMES, SRC_DECISIONS, SRC_MESSAGES, NSRC };

/* Source i's log (MTD_LOG_*), for SRC_OUTCOMES.. */
static int log_of(int src)
{
	return src == SRC_OUTCOMES ? MTD_LOG_OUTCOMES
	       : src == SRC_DECISIONS ? MTD_LOG_DECISIONS
				      : MTD_LOG_MESSAGES;
}

typedef struct cursor {
	sqlite3_stmt *st;
	int live; /* a row is current */
} cursor;

static int advance(cursor *c)
{
	int rc = sqlite3_step(c->st);
	c->live = rc == SQLITE_ROW;
	return rc == SQLITE_ROW || rc == SQLITE_DONE ? 0 : MTD_ESTORE;
}

/* The live cursor with the lowest sequence number (column 0), -1 at the end. */
static int lowest(cursor *c)
{
	int best = -1;
	for (int i = 0; i < NSRC; i++)
		if (c[i].live && (best < 0 || sqlite3_column_int64(c[i].st, 0) <
						  sqlite3_column_int64(c[best].st, 0)))
			best = i;
	return best;
}

static void close_all(cursor *c)
{
	for (int i = 0; i < NSRC; i++)
		sqlite3_finalize(c[i].st);
}

static int open_all(sqlite3 *db, cursor *c, const char *const *sql)
{
	memset(c, 0, NSRC * sizeof *c);
	for (int i = 0; i < NSRC; i++)
		if (sqlite3_prepare_v2(db, sql[i], -1, &c[i].st, NULL) != SQLITE_OK || advance(&c[i]))
			return MTD_ESTORE;
	return 0;
}

/* ---- show ---- */

/* Rendering of the log rows as the audit records they stand for. */
static int put_state(tbuf *b, const char *key, int present, int state, int access, int app,
		     int level, int with_level)
{
	char t[256];
	snprintf(t, sizeof t, "\"%s\":{\"state\":\"%s\"", key,
		 present ? mtd_state_name(state) : "not_evaluated");
	if (tb_put(b, t, strlen(t)))
		return -1;
	if (with_level) {
		snprintf(t, sizeof t, ",\"level\":\"%s\"", mtd_level_name(level));
		if (tb_put(b, t, strlen(t)))
			return -1;
	}
	snprintf(t, sizeof t, ",\"access\":\"%s\",\"app_protection\":\"%s\"}",
		 present && access == 0 ? "allow" : "block", present ? mtd_app_action_name(app) : "none");
	return tb_put(b, t, strlen(t));
}

static int col_i(sqlite3_stmt *st, int i)
{
	return sqlite3_column_int(st, i);
}

static const char *col_t(sqlite3_stmt *st, int i)
{
	const char *t = (const char *)sqlite3_column_text(st, i);
	return t ? t : "";
}

/* One row of source src as an audit record; detail built in b. */
static int render(int src, sqlite3_stmt *st, tbuf *b, mtd_audit_rec *r)
{
	char t[160];
	memset(r, 0, sizeof *r);
	r->seq = sqlite3_column_int64(st, 0);
	r->at = sqlite3_column_int64(st, 1);
	b->n = 0;
	switch (src) {
	case SRC_AUDIT:
		r->kind = col_t(st, 2);
		r->vendor = (const char *)sqlite3_column_text(st, 3);
		r->device = (const char *)sqlite3_column_text(st, 4);
		r->detail = col_t(st, 5);
		return 0;
	case SRC_OUTCOMES: /* seq, at, state, level, access, app, vendors, reasons, resources */
		r->kind = "outcome";
		if (tb_put(b, "{", 1) || put_state(b, "outcome", 1, col_i(st, 2), col_i(st, 4),
						  col_i(st, 5), col_i(st, 3), 1) ||
		    tb_put(b, ",\"vendors\":", 11) || tb_put(b, col_t(st, 6), strlen(col_t(st, 6))) ||
		    tb_put(b, ",\"reasons\":", 11) || tb_put(b, col_t(st, 7), strlen(col_t(st, 7))) ||
		    tb_put(b, ",\"resources\":", 13) ||
		    tb_put(b, col_t(st, 8), strlen(col_t(st, 8))) || tb_put(b, "}", 1))
			return MTD_ENOMEM;
		break;
	case SRC_DECISIONS:
		/* seq, at, ext_id, to: state level access app reasons, from: present
		 * state access app */
		r->kind = "decision";
		r->device = (const char *)sqlite3_column_text(st, 2);
		if (tb_put(b, "{", 1) ||
		    put_state(b, "from", sqlite3_column_type(st, 8) != SQLITE_NULL, col_i(st, 8),
			      col_i(st, 9), col_i(st, 10), 0, 0) ||
		    tb_put(b, ",", 1) ||
		    put_state(b, "to", 1, col_i(st, 3), col_i(st, 5), col_i(st, 6), col_i(st, 4), 1) ||
		    tb_put(b, ",\"reasons\":", 11) || tb_put(b, col_t(st, 7), strlen(col_t(st, 7))) ||
		    tb_put(b, ",\"outcome\":", 11))
			return MTD_ENOMEM;
		snprintf(t, sizeof t, "%lld}", (long long)sqlite3_column_int64(st, 11));
		if (tb_put(b, t, strlen(t)))
			return MTD_ENOMEM;
		break;
	default: /* seq, at, vendor, ext_id, type, level, msg_at, code */
		r->kind = "message";
		r->vendor = (const char *)sqlite3_column_text(st, 2);
		r->device = (const char *)sqlite3_column_text(st, 3);
		snprintf(t, sizeof t, "{\"type\":\"%s\",\"at\":%lld", mtd_msg_type_name(col_i(st, 4)),
			 (long long)sqlite3_column_int64(st, 6));
		if (tb_put(b, t, strlen(t)))
			return MTD_ENOMEM;
		if (sqlite3_column_type(st, 5) != SQLITE_NULL) {
			snprintf(t, sizeof t, ",\"level\":\"%s\"", mtd_level_name(col_i(st, 5)));
			if (tb_put(b, t, strlen(t)))
				return MTD_ENOMEM;
		}
		if (sqlite3_column_type(st, 7) != SQLITE_NULL &&
		    (tb_put(b, ",\"code\":", 8) || tb_jstr(b, col_t(st, 7))))
			return MTD_ENOMEM;
		if (tb_put(b, "}", 1))
			return MTD_ENOMEM;
		break;
	}
	r->detail = b->p;
	return 0;
}

/* Show queries, each ordered by seq. Parameters: ?1 device ext_id, ?2 vendor,
 * ?3 kind, ?4 since, ?5 until (NULL: any). */
static const char *const show_sql[NSRC] = {
	"SELECT seq, at, kind, vendor, device, detail FROM audit"
	" WHERE (?1 IS NULL OR device = ?1) AND (?2 IS NULL OR vendor = ?2)"
	" AND (?3 IS NULL OR kind = ?3) AND at >= ?4 AND at <= ?5 ORDER BY seq",
	"SELECT seq, at, state, level, access, app_action, vendors, reasons, resources"
	" FROM outcomes WHERE ?1 IS NULL AND ?2 IS NULL AND (?3 IS NULL OR ?3 = 'outcome')"
	" AND at >= ?4 AND at <= ?5 ORDER BY seq",
	"SELECT l.seq, l.at, d.ext_id, o.state, o.level, o.access, o.app_action, o.reasons,"
	" p.state, p.access, p.app_action, l.outcome"
	" FROM decision_log l LEFT JOIN devices d ON d.id = l.device"
	" LEFT JOIN outcomes o ON o.seq = l.outcome LEFT JOIN outcomes p ON p.seq = l.prev"
	" WHERE (?1 IS NULL OR l.device = (SELECT id FROM devices WHERE ext_id = ?1))"
	" AND ?2 IS NULL AND (?3 IS NULL OR ?3 = 'decision') AND l.at >= ?4 AND l.at <= ?5"
	" ORDER BY l.seq",
	"SELECT m.seq, m.at, c.vendor, d.ext_id, m.type, m.level, m.msg_at, m.code"
	" FROM message_log m LEFT JOIN connectors c ON c.id = m.connector"
	" LEFT JOIN devices d ON d.id = m.device"
	" WHERE (?1 IS NULL OR m.device = (SELECT id FROM devices WHERE ext_id = ?1))"
	" AND (?2 IS NULL OR m.connector = (SELECT id FROM connectors WHERE vendor = ?2))"
	" AND (?3 IS NULL OR ?3 = 'message') AND m.at >= ?4 AND m.at <= ?5 ORDER BY m.seq",
};

int mtd_audit_show(mtd_t *h, const mtd_audit_filter *f, mtd_audit_fn fn, void *ud)
{
	mtd_audit_filter none = {0};
	cursor c[NSRC];
	tbuf b = {0};
	sqlite3 *db;
	int rc = mtd_need_store(h), i;

	if (rc)
		return rc;
	if (!f)
		f = &none;
	db = mtd_store_db(h->store);
	if (sqlite3_exec(db, "BEGIN", NULL, NULL, NULL) != SQLITE_OK)
		return mtd_fail(h, MTD_ESTORE, "%s", sqlite3_errmsg(db));
	memset(c, 0, sizeof c);
	for (i = 0; i < NSRC && !rc; i++) {
		if (sqlite3_prepare_v2(db, show_sql[i], -1, &c[i].st, NULL) != SQLITE_OK) {
			rc = MTD_ESTORE;
			break;
		}
		if (f->device)
			sqlite3_bind_text(c[i].st, 1, f->device, -1, SQLITE_STATIC);
		if (f->vendor)
			sqlite3_bind_text(c[i].st, 2, f->vendor, -1, SQLITE_STATIC);
		if (f->kind)
			sqlite3_bind_text(c[i].st, 3, f->kind, -1, SQLITE_STATIC);
		sqlite3_bind_int64(c[i].st, 4, f->since);
		sqlite3_bind_int64(c[i].st, 5, f->until ? f->until : INT64_MAX);
		rc = advance(&c[i]);
	}
	while (!rc && (i = lowest(c)) >= 0) {
		mtd_audit_rec r;
		if (!(rc = render(i, c[i].st, &b, &r)) && !(rc = fn(ud, &r)))
			rc = advance(&c[i]);
	}
	if (rc == MTD_ESTORE)
		rc = mtd_fail(h, rc, "reading the audit log: %s", sqlite3_errmsg(db));
	else if (rc == MTD_ENOMEM)
		rc = mtd_fail(h, rc, "out of memory");
	close_all(c);
	free(b.p);
	sqlite3_exec(db, "COMMIT", NULL, NULL, NULL);
	return rc;
}

/* ---- verify ---- */

static const char *const verify_sql[NSRC] = {
	"SELECT seq, at, kind, vendor, device, detail, hash FROM audit ORDER BY seq",
	"SELECT seq, at, digest, state, level, access, app_action, vendors, reasons, resources"
	" FROM outcomes ORDER BY seq",
	"SELECT seq, at, device, outcome, prev FROM decision_log ORDER BY seq",
	"SELECT seq, at, connector, device, type, level, msg_at, code FROM message_log ORDER BY seq",
};
static const int verify_cols[NSRC] = {7, 10, 5, 8};

typedef struct pend {
	mtd_sha256 c;
	uint64_t rows;
	int64_t first;
} pend;

/* A seal record against the rows pending on its log. */
static int check_seal(mtd_t *h, int64_t seq, const char *detail, pend *p)
{
	char log[16], hex[65], want[160];
	unsigned long long rows;
	unsigned char d[32];
	int which = -1;

	if (sscanf(detail, "{\"log\":\"%15[a-z]\",\"rows\":%llu,\"sha256\":\"%64[0-9a-f]\"}", log,
		   &rows, hex) != 3)
		return mtd_fail(h, MTD_EMALFORMED, "audit record %lld: a seal that cannot be read",
				(long long)seq);
	for (int i = 0; i < MTD_LOG__COUNT; i++)
		if (!strcmp(log, mtd_log_name(i)))
			which = i;
	if (which < 0)
		return mtd_fail(h, MTD_EMALFORMED, "audit record %lld: a seal of unknown log '%s'",
				(long long)seq, log);
	p += which;
	mtd_sha256_final(&p->c, d);
	mtd_seal_detail(log, p->rows, d, want, sizeof want);
	if (strcmp(want, detail) != 0) {
		int rc = mtd_fail(h, MTD_EMALFORMED,
				  "audit record %lld seals %llu %s rows, but the %llu rows before "
				  "it (from record %lld on) do not match it: rows of that log were "
				  "changed, removed or added",
				  (long long)seq, rows, log, (unsigned long long)p->rows,
				  (long long)p->first);
		return rc;
	}
	mtd_sha256_init(&p->c);
	p->rows = 0;
	return 0;
}

int mtd_audit_verify(mtd_t *h, uint64_t *records, char head[65])
{
	unsigned char prev[32] = {0}, want[32];
	cursor c[NSRC];
	pend p[MTD_LOG__COUNT];
	sqlite3 *db;
	int64_t expect = 1;
	uint64_t n = 0;
	int rc = mtd_need_store(h), i;

	*records = 0;
	head[0] = '\0';
	if (rc)
		return rc;
	for (i = 0; i < MTD_LOG__COUNT; i++) {
		mtd_sha256_init(&p[i].c);
		p[i].rows = 0;
		p[i].first = 0;
	}
	db = mtd_store_db(h->store);
	/* One read transaction: a consistent snapshot while others write. */
	if (sqlite3_exec(db, "BEGIN", NULL, NULL, NULL) != SQLITE_OK)
		return mtd_fail(h, MTD_ESTORE, "%s", sqlite3_errmsg(db));
	if (open_all(db, c, verify_sql)) {
		rc = mtd_fail(h, MTD_ESTORE, "%s", sqlite3_errmsg(db));
		goto out;
	}
	while (!rc && (i = lowest(c)) >= 0) {
		sqlite3_stmt *st = c[i].st;
		int64_t seq = sqlite3_column_int64(st, 0);
		if (seq > expect) {
			rc = mtd_fail(h, MTD_EMALFORMED, "audit records %lld to %lld are missing: "
				      "the chain breaks there", (long long)expect, (long long)seq - 1);
			break;
		}
		if (seq != expect) {
			rc = mtd_fail(h, MTD_EMALFORMED, "audit record %lld is out of order or twice",
				      (long long)seq);
			break;
		}
		if (i != SRC_AUDIT) {
			pend *q = &p[log_of(i)];
			if (!q->rows)
				q->first = seq;
			mtd_log_hash_row(&q->c, st, verify_cols[i]);
			q->rows++;
		} else {
			const char *kind = (const char *)sqlite3_column_text(st, 2);
			const char *detail = (const char *)sqlite3_column_text(st, 5);
			mtd_audit_hash(prev, seq, sqlite3_column_int64(st, 1), kind,
				       (const char *)sqlite3_column_text(st, 3),
				       (const char *)sqlite3_column_text(st, 4), detail, want);
			if (sqlite3_column_bytes(st, 6) != 32 ||
			    memcmp(sqlite3_column_blob(st, 6), want, 32) != 0) {
				rc = mtd_fail(h, MTD_EMALFORMED,
					      "audit record %lld (%s at %lld) does not match its hash: it "
					      "was changed, or a record before it was", (long long)seq,
					      kind ? kind : "?", (long long)sqlite3_column_int64(st, 1));
				break;
			}
			memcpy(prev, want, 32);
			if (kind && !strcmp(kind, "seal") && (rc = check_seal(h, seq, detail ? detail : "", p)))
				break;
		}
		expect++;
		n++;
		if (advance(&c[i]))
			rc = mtd_fail(h, MTD_ESTORE, "%s", sqlite3_errmsg(db));
	}
	for (i = 0; !rc && i < MTD_LOG__COUNT; i++)
		if (p[i].rows)
			rc = mtd_fail(h, MTD_EMALFORMED,
				      "%llu %s rows from audit record %lld on are not sealed: they were "
				      "added after the fact", (unsigned long long)p[i].rows,
				      mtd_log_name(i), (long long)p[i].first);
	*records = n;
	for (i = 0; i < 32; i++)
		snprintf(head + 2 * i, 3, "%02x", prev[i]);
out:
	close_all(c);
	sqlite3_exec(db, "COMMIT", NULL, NULL, NULL);
	return rc;
}
