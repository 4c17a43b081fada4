/* audit: showing and verifying the append-only, hash-chained audit log.
 *
 * The log is one sequence over four tables: audit (records chained one to
 * the next by hash), outcomes (a row per record), and the block logs
 * message_log and decision_log (a row holds n entries, numbered from its
 * seq), all covered by the 'seal' records of the chain (store.h). Both
 * walks below merge the four by sequence number. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "codec.h"
#include "mtd_int.h"
#include "rules.h"
#include "tbuf.h"

enum { SRC_AUDIT, SRC_OUTCOMES, SRC_DECISIONS, SRC_MESSAGES, NSRC };

typedef struct cursor {
	sqlite3_stmt *st;
	int live;        /* a record is current */
	int log;         /* MTD_LOG_* of the rows; -1 for audit */
	int block;       /* rows are blocks of entries */
	int blob_col;    /* column of the entries */
	int64_t seq;     /* the current record's number */
	uint32_t i, n;   /* entry i of the row's n */
	const unsigned char *p, *end;
	mtd_log_entry e; /* the current entry */
	int bad;         /* the row's entries do not decode into n */
} cursor;

/* Decode the entry at c->p; at the row's last one, nothing may follow. */
static void entry(cursor *c)
{
	if (mtd_log_entry_decode(c->log, &c->p, c->end, &c->e) ||
	    (c->i + 1 == c->n && c->p != c->end))
		c->bad = 1;
}

/* To the next record. */
static int advance(cursor *c)
{
	int rc;
	if (c->live && c->block && !c->bad && c->i + 1 < c->n) {
		c->i++;
		c->seq++;
		entry(c);
		return 0;
	}
	rc = sqlite3_step(c->st);
	c->live = rc == SQLITE_ROW;
	if (rc != SQLITE_ROW)
		return rc == SQLITE_DONE ? 0 : MTD_ESTORE;
	c->seq = sqlite3_column_int64(c->st, 0);
	if (c->block) {
		int64_t n = sqlite3_column_int64(c->st, 1);
		c->p = sqlite3_column_blob(c->st, c->blob_col);
		c->end = c->p + sqlite3_column_bytes(c->st, c->blob_col);
		c->i = 0;
		c->n = n > 0 && n <= MTD_BLOCK_ENTRIES ? (uint32_t)n : 0;
		c->bad = c->n == 0 || !c->p;
		memset(&c->e, 0, sizeof c->e); /* a new block */
		if (!c->bad)
			entry(c);
	}
	return 0;
}

/* The live cursor with the lowest sequence number, -1 at the end. */
static int lowest(const cursor *c)
{
	int best = -1;
	for (int i = 0; i < NSRC; i++)
		if (c[i].live && (best < 0 || c[i].seq < c[best].seq))
			best = i;
	return best;
}

static void cursors_init(cursor *c)
{
	memset(c, 0, NSRC * sizeof *c);
	c[SRC_AUDIT].log = -1;
	c[SRC_OUTCOMES].log = MTD_LOG_OUTCOMES;
	c[SRC_DECISIONS].log = MTD_LOG_DECISIONS;
	c[SRC_DECISIONS].block = 1;
	c[SRC_DECISIONS].blob_col = 3;
	c[SRC_MESSAGES].log = MTD_LOG_MESSAGES;
	c[SRC_MESSAGES].block = 1;
	c[SRC_MESSAGES].blob_col = 4;
}

static void close_all(cursor *c)
{
	for (int i = 0; i < NSRC; i++)
		sqlite3_finalize(c[i].st);
}

/* ---- show ---- */

typedef struct shower {
	sqlite3_stmt *ext, *outcome, *vendor;
	tbuf b, dev, ven, reasons;
	int64_t ven_id;
} shower;

/* A text column into b (NULL stays NULL). */
static const char *keep(tbuf *b, sqlite3_stmt *st, int i)
{
	const char *t = (const char *)sqlite3_column_text(st, i);
	return t && !tb_set(b, t) ? b->p : NULL;
}

static const char *lookup_text(sqlite3_stmt *st, int64_t id, tbuf *b)
{
	const char *t = NULL;
	sqlite3_reset(st);
	sqlite3_bind_int64(st, 1, id);
	if (sqlite3_step(st) == SQLITE_ROW)
		t = keep(b, st, 0);
	sqlite3_reset(st);
	return t;
}

static int put(tbuf *b, const char *fmt, const char *a, const char *c)
{
	char t[256];
	snprintf(t, sizeof t, fmt, a, c);
	return tb_put(b, t, strlen(t));
}

/* {"state":..,["level":..,]"access":..,"app_protection":..} of outcome id
 * (0: none, as before any evaluation); reasons into sh->reasons. */
static int put_outcome(shower *sh, const char *key, int64_t id, int with_level)
{
	sqlite3_stmt *st = sh->outcome;
	int found = 0, rc;
	sqlite3_reset(st);
	sqlite3_bind_int64(st, 1, id);
	if (id > 0 && sqlite3_step(st) == SQLITE_ROW)
		found = 1;
	rc = put(&sh->b, "\"%s\":{\"state\":\"%s\"", key,
		 found ? mtd_state_name(sqlite3_column_int(st, 0)) : "not_evaluated");
	if (!rc && with_level)
		rc = put(&sh->b, ",\"level\":\"%s\"%s", found ? mtd_level_name(sqlite3_column_int(st, 1))
							: "none", "");
	if (!rc)
		rc = put(&sh->b, ",\"access\":\"%s\",\"app_protection\":\"%s\"}",
			 found && sqlite3_column_int(st, 2) == 0 ? "allow" : "block",
			 found ? mtd_app_action_name(sqlite3_column_int(st, 3)) : "none");
	if (!rc && with_level && !keep(&sh->reasons, st, 4))
		rc = tb_set(&sh->reasons, "[]");
	sqlite3_reset(st);
	return rc ? MTD_ENOMEM : 0;
}

static const char *col_t(sqlite3_stmt *st, int i)
{
	const char *t = (const char *)sqlite3_column_text(st, i);
	return t ? t : "";
}

/* The current record of source src as an audit record. */
static int render(shower *sh, int src, cursor *c, mtd_audit_rec *r)
{
	sqlite3_stmt *st = c->st;
	tbuf *b = &sh->b;
	char t[160];
	memset(r, 0, sizeof *r);
	r->seq = c->seq;
	r->at = sqlite3_column_int64(st, src == SRC_AUDIT || src == SRC_OUTCOMES ? 1 : 2);
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
		snprintf(t, sizeof t,
			 "{\"state\":\"%s\",\"level\":\"%s\",\"access\":\"%s\",\"app_protection\":\"%s\"",
			 mtd_state_name(sqlite3_column_int(st, 2)), mtd_level_name(sqlite3_column_int(st, 3)),
			 sqlite3_column_int(st, 4) == 0 ? "allow" : "block",
			 mtd_app_action_name(sqlite3_column_int(st, 5)));
		if (tb_put(b, t, strlen(t)) || put(b, ",\"vendors\":%s%s", col_t(st, 6), "") ||
		    tb_put(b, ",\"reasons\":", 11) || tb_put(b, col_t(st, 7), strlen(col_t(st, 7))) ||
		    tb_put(b, ",\"resources\":", 13) || tb_put(b, col_t(st, 8), strlen(col_t(st, 8))) ||
		    tb_put(b, "}", 1))
			return MTD_ENOMEM;
		break;
	case SRC_DECISIONS:
		r->kind = "decision";
		r->device = lookup_text(sh->ext, c->e.device, &sh->dev);
		if (tb_put(b, "{", 1) || put_outcome(sh, "from", c->e.prev, 0) || tb_put(b, ",", 1) ||
		    put_outcome(sh, "to", c->e.outcome, 1) || tb_put(b, ",\"reasons\":", 11) ||
		    tb_put(b, sh->reasons.p, sh->reasons.n))
			return MTD_ENOMEM;
		snprintf(t, sizeof t, ",\"outcome\":%lld}", (long long)c->e.outcome);
		if (tb_put(b, t, strlen(t)))
			return MTD_ENOMEM;
		break;
	default: { /* seq, n, at, connector, entries */
		int64_t conn = sqlite3_column_int64(st, 3);
		r->kind = "message";
		if (conn != sh->ven_id) {
			sh->ven_id = conn;
			if (!lookup_text(sh->vendor, conn, &sh->ven))
				tb_set(&sh->ven, "?");
		}
		r->vendor = sh->ven.p;
		r->device = c->e.device ? lookup_text(sh->ext, c->e.device, &sh->dev) : NULL;
		snprintf(t, sizeof t, "{\"type\":\"%s\",\"at\":%lld", mtd_msg_type_name(c->e.type),
			 (long long)c->e.msg_at);
		if (tb_put(b, t, strlen(t)) ||
		    (c->e.level >= 0 && put(b, ",\"level\":\"%s\"%s", mtd_level_name(c->e.level), "")) ||
		    (c->e.via > 0 && put(b, ",\"via\":\"%s\"%s", mtd_ref_name(c->e.via - 1), "")))
			return MTD_ENOMEM;
		if (c->e.code) {
			char code[257];
			snprintf(code, sizeof code, "%.*s", (int)c->e.ncode, c->e.code);
			if (tb_put(b, ",\"code\":", 8) || tb_jstr(b, code))
				return MTD_ENOMEM;
		}
		if (tb_put(b, "}", 1))
			return MTD_ENOMEM;
		break;
	}
	}
	r->detail = b->p;
	return 0;
}

/* Show queries, each ordered by seq. ?3 kind, ?4 since, ?5 until; device
 * and vendor are matched by row id in C (?1, ?2 for audit by name). */
static const char *const show_sql[NSRC] = {
	("SELECT seq, at, kind, vendor, device, detail FROM audit"
	 " WHERE (?1 IS NULL OR device = ?1) AND (?2 IS NULL OR vendor = ?2)"
	 " AND (?3 IS NULL OR kind = ?3) AND at >= ?4 AND at <= ?5 ORDER BY seq"),
	("SELECT seq, at, state, level, access, app_action, vendors, reasons, resources"
	 " FROM outcomes WHERE ?1 IS NULL AND ?2 IS NULL AND (?3 IS NULL OR ?3 = 'outcome')"
	 " AND at >= ?4 AND at <= ?5 ORDER BY seq"),
	("SELECT seq, n, at, entries FROM decision_log WHERE ?1 IS NULL AND ?2 IS NULL"
	 " AND (?3 IS NULL OR ?3 = 'decision') AND at >= ?4 AND at <= ?5 ORDER BY seq"),
	("SELECT seq, n, at, connector, entries FROM message_log"
	 " WHERE (?2 IS NULL OR connector = ?2) AND ?1 IS NULL"
	 " AND (?3 IS NULL OR ?3 = 'message') AND at >= ?4 AND at <= ?5 ORDER BY seq"),
};

/* A row id by name, -1 when there is none (so nothing matches). */
static int64_t id_of(sqlite3 *db, const char *sql, const char *name)
{
	sqlite3_stmt *st;
	int64_t id = -1;
	if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK)
		return -1;
	sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
	if (sqlite3_step(st) == SQLITE_ROW)
		id = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	return id;
}

int mtd_audit_show(mtd_t *h, const mtd_audit_filter *f, mtd_audit_fn fn, void *ud)
{
	mtd_audit_filter none = {0};
	cursor c[NSRC];
	shower sh = {0};
	sqlite3 *db;
	int64_t dev = 0, ven = 0;
	int rc = mtd_need_store(h), i;

	if (rc)
		return rc;
	if (!f)
		f = &none;
	db = mtd_store_db(h->store);
	if (sqlite3_exec(db, "BEGIN", NULL, NULL, NULL) != SQLITE_OK)
		return mtd_fail(h, MTD_ESTORE, "%s", sqlite3_errmsg(db));
	cursors_init(c);
	sh.ven_id = -1;
	if (f->device)
		dev = id_of(db, "SELECT id FROM devices WHERE ext_id = ?1", f->device);
	if (f->vendor)
		ven = id_of(db, "SELECT id FROM connectors WHERE vendor = ?1", f->vendor);
	if (sqlite3_prepare_v2(db, "SELECT ext_id FROM devices WHERE id = ?1", -1, &sh.ext, NULL) ||
	    sqlite3_prepare_v2(db, "SELECT state, level, access, app_action, reasons FROM outcomes"
				   " WHERE seq = ?1", -1, &sh.outcome, NULL) ||
	    sqlite3_prepare_v2(db, "SELECT vendor FROM connectors WHERE id = ?1", -1, &sh.vendor,
			       NULL))
		rc = MTD_ESTORE;
	for (i = 0; i < NSRC && !rc; i++) {
		sqlite3_stmt *st;
		if (sqlite3_prepare_v2(db, show_sql[i], -1, &c[i].st, NULL) != SQLITE_OK) {
			rc = MTD_ESTORE;
			break;
		}
		st = c[i].st;
		/* the block logs filter devices in C: ?1 stays NULL there */
		if (f->device && i != SRC_DECISIONS && i != SRC_MESSAGES)
			sqlite3_bind_text(st, 1, f->device, -1, SQLITE_STATIC);
		if (f->vendor) {
			if (i == SRC_MESSAGES)
				sqlite3_bind_int64(st, 2, ven);
			else
				sqlite3_bind_text(st, 2, f->vendor, -1, SQLITE_STATIC);
		}
		if (f->kind)
			sqlite3_bind_text(st, 3, f->kind, -1, SQLITE_STATIC);
		sqlite3_bind_int64(st, 4, f->since);
		sqlite3_bind_int64(st, 5, f->until ? f->until : INT64_MAX);
		rc = advance(&c[i]);
	}
	while (!rc && (i = lowest(c)) >= 0) {
		mtd_audit_rec r;
		if (c[i].bad) {
			rc = mtd_fail(h, MTD_EMALFORMED, "audit record %lld: a block of the %s log that "
				      "cannot be read (run 'mtdgate audit verify')", (long long)c[i].seq,
				      mtd_log_name(c[i].log));
			break;
		}
		if (!(f->device && c[i].block && c[i].e.device != dev) &&
		    !(rc = render(&sh, i, &c[i], &r)))
			rc = fn(ud, &r);
		if (!rc)
			rc = advance(&c[i]);
	}
	if (rc == MTD_ESTORE)
		rc = mtd_fail(h, rc, "reading the audit log: %s", sqlite3_errmsg(db));
	else if (rc == MTD_ENOMEM)
		rc = mtd_fail(h, rc, "out of memory");
	close_all(c);
	sqlite3_finalize(sh.ext);
	sqlite3_finalize(sh.outcome);
	sqlite3_finalize(sh.vendor);
	free(sh.b.p);
	free(sh.dev.p);
	free(sh.ven.p);
	free(sh.reasons.p);
	sqlite3_exec(db, "COMMIT", NULL, NULL, NULL);
	return rc;
}

/* ---- verify ---- */

static const char *const verify_sql[NSRC] = {
	"SELECT seq, at, kind, vendor, device, detail, hash FROM audit ORDER BY seq",
	("SELECT seq, at, digest, state, level, access, app_action, vendors, reasons, resources"
	 " FROM outcomes ORDER BY seq"),
	"SELECT seq, n, at, entries FROM decision_log ORDER BY seq",
	"SELECT seq, n, at, connector, entries FROM message_log ORDER BY seq",
};

typedef struct pend {
	mtd_sha256 c;
	uint64_t rows;
	int64_t first;
} pend;

/* A log row goes into its log's pending digest when its first record is
 * reached (not when fetched: that is ahead of the seals before it). */
static void on_row(pend *p, cursor *c)
{
	p += c->log;
	if (!p->rows)
		p->first = c->seq;
	mtd_log_hash_row(&p->c, c->st, sqlite3_column_count(c->st));
	p->rows += c->block ? c->n : 1;
}

/* A seal record against the entries pending on its log. */
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
	if (strcmp(want, detail) != 0)
		return mtd_fail(h, MTD_EMALFORMED,
				"audit record %lld seals %llu %s entries, but the %llu before it "
				"(from record %lld on) do not match it: entries of that log were "
				"changed, removed or added",
				(long long)seq, rows, log, (unsigned long long)p->rows, (long long)p->first);
	mtd_sha256_init(&p->c);
	p->rows = 0;
	return 0;
}

/* The last logged outcome of each device (by row id), from the decision
 * log: what the current decisions must say. */
typedef struct lastlog {
	int64_t *v; /* 0: no change logged */
	size_t n;
} lastlog;

static int last_set(lastlog *l, int64_t device, int64_t outcome)
{
	if (device <= 0 || device > (1 << 30))
		return 0; /* not a row id: the seal covers it, nothing to compare */
	int64_t *v = mtd_grow_zeroed(l->v, &l->n, (size_t)device, sizeof *v);
	if (!v)
		return MTD_ENOMEM;
	l->v = v;
	l->v[device] = outcome;
	return 0;
}

/* The external id of device (row id) into buf, "?" when it has none. */
static const char *ext_of(sqlite3 *db, int64_t device, char *buf, size_t n)
{
	sqlite3_stmt *st;
	snprintf(buf, n, "?");
	if (sqlite3_prepare_v2(db, "SELECT ext_id FROM devices WHERE id = ?1", -1, &st, NULL) ==
	    SQLITE_OK) {
		sqlite3_bind_int64(st, 1, device);
		if (sqlite3_step(st) == SQLITE_ROW && sqlite3_column_text(st, 0))
			snprintf(buf, n, "%s", (const char *)sqlite3_column_text(st, 0));
	}
	sqlite3_finalize(st);
	return buf;
}

/* Every current decision against the last change the log records for its
 * device: the decision blocks are not in the chain, the changes are. A
 * device with no change logged (decided before schema 4) is not compared. */
static int check_decisions(mtd_t *h, sqlite3 *db, lastlog *l)
{
	sqlite3_stmt *st;
	char ext[MTD_MAX_ID + 2];
	mtd_dslot slots[MTD_DBLOCK_SLOTS];
	int rc = 0, step;
	if (sqlite3_prepare_v2(db, "SELECT blk, entries FROM decision_blocks ORDER BY blk", -1, &st,
			       NULL) != SQLITE_OK)
		return mtd_fail(h, MTD_ESTORE, "%s", sqlite3_errmsg(db));
	while (!rc && (step = sqlite3_step(st)) == SQLITE_ROW) {
		int64_t blk = sqlite3_column_int64(st, 0);
		char why[256];
		if (mtd_dblock_column(st, 1, blk, slots, why, sizeof why)) {
			rc = mtd_fail(h, MTD_EMALFORMED, "%s", why);
			break;
		}
		for (unsigned i = 0; !rc && i < MTD_DBLOCK_SLOTS; i++) {
			int64_t dev = blk * MTD_DBLOCK_SLOTS + i, want, oc = slots[i].outcome;
			if (!oc)
				continue;
			want = dev > 0 && (uint64_t)dev < l->n ? l->v[dev] : 0;
			if (want && want != oc)
				rc = mtd_fail(h, MTD_EMALFORMED,
					      "the decision of device '%s' is outcome %lld, but the last "
					      "change the audit log records for it is to outcome %lld: the "
					      "stored decisions were changed",
					      ext_of(db, dev, ext, sizeof ext), (long long)oc,
					      (long long)want);
			if (want)
				l->v[dev] = -1; /* seen */
		}
	}
	if (!rc && step != SQLITE_DONE)
		rc = mtd_fail(h, MTD_ESTORE, "%s", sqlite3_errmsg(db));
	sqlite3_finalize(st);
	for (size_t i = 1; !rc && i < l->n; i++)
		if (l->v[i] > 0)
			rc = mtd_fail(h, MTD_EMALFORMED,
				      "device '%s' has a decision in the audit log (outcome %lld) but "
				      "none in the store: it was removed",
				      ext_of(db, (int64_t)i, ext, sizeof ext), (long long)l->v[i]);
	return rc;
}

int mtd_audit_verify(mtd_t *h, uint64_t *records, char head[65])
{
	unsigned char prev[32] = {0}, want[32];
	cursor c[NSRC];
	pend p[MTD_LOG__COUNT];
	lastlog last = {0};
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
	cursors_init(c);
	for (i = 0; i < NSRC && !rc; i++)
		if (sqlite3_prepare_v2(db, verify_sql[i], -1, &c[i].st, NULL) != SQLITE_OK ||
		    advance(&c[i]))
			rc = mtd_fail(h, MTD_ESTORE, "%s", sqlite3_errmsg(db));
	while (!rc && (i = lowest(c)) >= 0) {
		sqlite3_stmt *st = c[i].st;
		int64_t seq = c[i].seq;
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
		if (c[i].bad) {
			rc = mtd_fail(h, MTD_EMALFORMED, "audit record %lld: a block of the %s log whose "
				      "entries do not read as it says: it was changed",
				      (long long)seq, mtd_log_name(c[i].log));
			break;
		}
		if (i != SRC_AUDIT && c[i].i == 0)
			on_row(p, &c[i]);
		if (i == SRC_DECISIONS && (rc = last_set(&last, c[i].e.device, c[i].e.outcome))) {
			rc = mtd_fail(h, rc, "out of memory");
			break;
		}
		if (i == SRC_AUDIT) {
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
			if (kind && !strcmp(kind, "seal") &&
			    (rc = check_seal(h, seq, detail ? detail : "", p)))
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
				      "%llu %s entries from audit record %lld on are not sealed: they "
				      "were added after the fact", (unsigned long long)p[i].rows,
				      mtd_log_name(i), (long long)p[i].first);
	if (!rc)
		rc = check_decisions(h, db, &last);
	*records = n;
	for (i = 0; i < 32; i++)
		snprintf(head + 2 * i, 3, "%02x", prev[i]);
	free(last.v);
	close_all(c);
	sqlite3_exec(db, "COMMIT", NULL, NULL, NULL);
	return rc;
}
