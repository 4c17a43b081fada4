#define _DEFAULT_SOURCE /* explicit_bzero, getrandom */
/* audit: showing and verifying the append-only, hash-chained audit log.
 *
 * The log is one sequence over five tables: audit (records chained one to
 * the next by hash), outcomes (a row per record), and the block logs
 * message_log, decision_log and row_log (a row holds n entries, numbered
 * from its seq), all covered by the 'seal' records of the chain (store.h).
 * Both walks below merge the five by sequence number. verify then checks
 * the current decisions and every covered row (store.h) against the last
 * entry that wrote them, and the chain against checkpoints signed with an
 * Ed25519 key kept outside the store. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include <nettle/eddsa.h>

#include "codec.h"
#include "sqlfile.h"
#include "mtd_int.h"
#include "rules.h"
#include "tbuf.h"

enum { SRC_AUDIT, SRC_OUTCOMES, SRC_DECISIONS, SRC_MESSAGES, SRC_ROWS, NSRC };

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
/* n bytes as 2n lowercase hex digits and a NUL into out. */
static void to_hex(const unsigned char *p, size_t n, char *out)
{
	for (size_t i = 0; i < n; i++)
		snprintf(out + 2 * i, 3, "%02x", p[i]);
}

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
	c[SRC_ROWS].log = MTD_LOG_ROWS;
	c[SRC_ROWS].block = 1;
	c[SRC_ROWS].blob_col = 3;
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
	case SRC_ROWS: {
		r->kind = "row";
		if (put(b, "{\"table\":\"%s\",\"key\":[%s", mtd_row_table_name(c->e.table), ""))
			return MTD_ENOMEM;
		snprintf(t, sizeof t, "%lld,%lld,", (long long)c->e.device, (long long)c->e.k2);
		if (tb_put(b, t, strlen(t)))
			return MTD_ENOMEM;
		if (c->e.ktext) {
			char kt[257];
			snprintf(kt, sizeof kt, "%.*s", (int)c->e.nktext, c->e.ktext);
			if (tb_jstr(b, kt))
				return MTD_ENOMEM;
		} else if (tb_put(b, "null", 4)) {
			return MTD_ENOMEM;
		}
		if (!c->e.present)
			snprintf(t, sizeof t, "],\"deleted\":true}");
		else {
			char hex[2 * MTD_ROW_DIGEST + 1];
			to_hex(c->e.digest, MTD_ROW_DIGEST, hex);
			snprintf(t, sizeof t, "],\"digest\":\"%s\"}", hex);
		}
		if (tb_put(b, t, strlen(t)))
			return MTD_ENOMEM;
		break;
	}
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
		if (c->e.table >= 0) {
			char hex[2 * MTD_ROW_DIGEST + 1];
			to_hex(c->e.digest, MTD_ROW_DIGEST, hex);
			snprintf(t, sizeof t, ",\"report\":\"%s\"", hex);
			if (tb_put(b, t, strlen(t)))
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

#define MTD_BLOCK_ENTRIES_S "1024" /* MTD_BLOCK_ENTRIES as SQL text */
_Static_assert(MTD_BLOCK_ENTRIES == 1024, "MTD_BLOCK_ENTRIES_S");

/* Show queries, each ordered by seq. ?3 kind, ?4 since, ?5 until; device
 * and vendor are matched by row id in C (?1, ?2 for audit by name). */
static const char *const show_sql[NSRC] = {
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
	int rc = mtd_need_store_readonly(h), i;

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
		if (f->device && !c[i].block)
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
		sqlite3_bind_int64(st, 6, f->after_seq > 0 ? f->after_seq : 0);
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
		if (!(f->device && c[i].block && (c[i].e.device != dev || i == SRC_ROWS)) &&
		    c[i].seq > f->after_seq && !(rc = render(&sh, i, &c[i], &r)))
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

/* ?1: where the log starts (audit prune leaves a prune point; 0 before) */
static const char *const verify_sql[NSRC] = {
	"SELECT seq, at, kind, vendor, device, detail, hash, pd, salt FROM audit WHERE seq >= ?1"
	" ORDER BY seq",
	("SELECT seq, at, digest, state, level, access, app_action, vendors, reasons, resources"
	 " FROM outcomes WHERE seq >= ?1 ORDER BY seq"),
	"SELECT seq, n, at, entries FROM decision_log WHERE seq >= ?1 ORDER BY seq",
	"SELECT seq, n, at, connector, entries FROM message_log WHERE seq >= ?1 ORDER BY seq",
	"SELECT seq, n, at, entries FROM row_log WHERE seq >= ?1 ORDER BY seq",
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

/* ---- covered rows ---- */

/* The last entry of each covered row, by key; what the store's rows must
 * match. Open addressing; kt is a digest of the key's text (0: none). */
typedef struct rowent {
	int64_t k1, k2;
	uint64_t kt;
	unsigned char d[MTD_ROW_DIGEST];
	unsigned char table, state; /* state 0 empty, ROW_*, | ROW_SEEN */
} rowent;
enum { ROW_PRESENT = 1, ROW_DELETED = 2, ROW_SEEN = 4 };

typedef struct rowmap {
	rowent *v;
	size_t cap, n; /* cap a power of two */
} rowmap;

static uint64_t text_key(const char *p, size_t n)
{
	if (!p)
		return 0;
	if (n == MTD_IDS_LOGKEY && (unsigned char)p[0] == MTD_IDS_HASHED) { /* keyed by digest */
		uint64_t k = 0;
		for (int i = 1; i < MTD_IDS_LOGKEY; i++)
			k = k << 8 | (unsigned char)p[i];
		return k | 1;
	}
	return mtd_text_key(NULL, 0, p, n);
}

static size_t row_slot(const rowmap *m, int table, int64_t k1, int64_t k2, uint64_t kt)
{
	uint64_t x = ((uint64_t)k1 * 0x9e3779b97f4a7c15ull) ^ ((uint64_t)k2 * 0xc2b2ae3d27d4eb4full) ^
		     kt ^ (uint64_t)table << 56;
	size_t i = (size_t)(x ^ x >> 29) & (m->cap - 1);
	while (m->v[i].state &&
	       !(m->v[i].table == table && m->v[i].k1 == k1 && m->v[i].k2 == k2 && m->v[i].kt == kt))
		i = (i + 1) & (m->cap - 1);
	return i;
}

/* The entry of a row: present with digest d, or deleted (d NULL). */
static int row_set(rowmap *m, int table, int64_t k1, int64_t k2, uint64_t kt,
		   const unsigned char *d)
{
	rowent *e;
	if ((m->n + 1) * 4 > m->cap * 3) {
		rowmap g = {calloc(m->cap ? m->cap * 2 : 4096, sizeof *g.v), m->cap ? m->cap * 2 : 4096,
			    0};
		if (!g.v)
			return MTD_ENOMEM;
		for (size_t i = 0; i < m->cap; i++)
			if (m->v[i].state) {
				g.v[row_slot(&g, m->v[i].table, m->v[i].k1, m->v[i].k2, m->v[i].kt)] =
					m->v[i];
				g.n++;
			}
		free(m->v);
		*m = g;
	}
	e = &m->v[row_slot(m, table, k1, k2, kt)];
	if (!e->state)
		m->n++;
	*e = (rowent){k1, k2, kt, {0}, (unsigned char)table, d ? ROW_PRESENT : ROW_DELETED};
	if (d)
		memcpy(e->d, d, MTD_ROW_DIGEST);
	return 0;
}

static rowent *row_find(const rowmap *m, int table, int64_t k1, int64_t k2, uint64_t kt)
{
	rowent *e;
	if (!m->cap)
		return NULL;
	e = &m->v[row_slot(m, table, k1, k2, kt)];
	return e->state ? e : NULL;
}

/* A person's name for a row of table into buf. */
static const char *row_label(sqlite3 *db, int table, int64_t k1, int64_t k2, const char *kt,
			     char *buf, size_t n)
{
	sqlite3_stmt *st;
	if (table == MTD_ROW_DEVICE_IDS && !kt) { /* keyed by a salted digest since schema 10 */
		snprintf(buf, n, "an identifier (the log keeps only its salted digest)");
		return buf;
	}
	snprintf(buf, n, "%s row (%lld, %lld)", mtd_row_table_name(table), (long long)k1,
		 (long long)k2);
	if (sqlite3_prepare_v2(db, mtd_row_label_sql(table), -1, &st, NULL) != SQLITE_OK)
		return buf;
	sqlite3_bind_int64(st, 1, k1);
	sqlite3_bind_int64(st, 2, k2);
	if (kt)
		sqlite3_bind_text(st, 3, kt, -1, SQLITE_TRANSIENT);
	if (sqlite3_step(st) == SQLITE_ROW && sqlite3_column_text(st, 0))
		snprintf(buf, n, "%s", (const char *)sqlite3_column_text(st, 0));
	sqlite3_finalize(st);
	return buf;
}

/* One row that does not match the log: a diagnostic line for each of the
 * first few, the first one kept as the failure. */
typedef struct rowcheck {
	mtd_t *h;
	sqlite3 *db;
	uint64_t bad;
	char first[600];
} rowcheck;

static void row_bad(rowcheck *rc, int table, int64_t k1, int64_t k2, const char *kt,
		    const char *what)
{
	char label[400], line[600];
	row_label(rc->db, table, k1, k2, kt, label, sizeof label);
	snprintf(line, sizeof line, "%s (table %s) %s", label, mtd_row_table_name(table), what);
	if (!rc->bad)
		snprintf(rc->first, sizeof rc->first, "%s", line);
	else if (rc->bad <= 20) /* the first is the failure's message */
		mtd_diag(rc->h, "audit verify: also %s", line);
	rc->bad++;
}

/* The key text of e, a row the log has and the store lacks, into buf (size
 * n): found again in the row log by its hash, only to name it. 1 found. */
static int row_ktext(sqlite3 *db, const rowent *e, char *buf, size_t n)
{
	sqlite3_stmt *st;
	int found = 0;
	if (!e->kt || sqlite3_prepare_v2(db, "SELECT n, entries FROM row_log ORDER BY seq DESC", -1,
					 &st, NULL) != SQLITE_OK)
		return 0;
	while (!found && sqlite3_step(st) == SQLITE_ROW) {
		const unsigned char *p = sqlite3_column_blob(st, 1);
		const unsigned char *end = p ? p + sqlite3_column_bytes(st, 1) : NULL;
		int64_t cnt = sqlite3_column_int64(st, 0);
		mtd_log_entry le = {0};
		for (int64_t i = 0; p && i < cnt && !found; i++) {
			if (mtd_log_entry_decode(MTD_LOG_ROWS, &p, end, &le))
				break;
			if (le.ktext && le.table == e->table && le.device == e->k1 && le.k2 == e->k2 &&
			    !(le.nktext == MTD_IDS_LOGKEY && (unsigned char)le.ktext[0] == MTD_IDS_HASHED) &&
			    le.nktext < n && text_key(le.ktext, le.nktext) == e->kt) {
				memcpy(buf, le.ktext, le.nktext);
				buf[le.nktext] = '\0';
				found = 1;
			}
		}
	}
	sqlite3_finalize(st);
	return found;
}

/* Every row of every covered table against the entry that last wrote it,
 * and every entry against a row. */
static int check_rows(mtd_t *h, sqlite3 *db, rowmap *m)
{
	rowcheck rc = {h, db, 0, ""};
	for (int t = 0; t < MTD_ROW__COUNT; t++) {
		sqlite3_stmt *st;
		int step;
		if (sqlite3_prepare_v2(db, mtd_row_scan_sql(t), -1, &st, NULL) != SQLITE_OK)
			return mtd_fail(h, MTD_ESTORE, "%s", sqlite3_errmsg(db));
		while ((step = sqlite3_step(st)) == SQLITE_ROW) {
			unsigned char d[MTD_ROW_DIGEST];
			int64_t k1 = sqlite3_column_int64(st, 0), k2 = sqlite3_column_int64(st, 1);
			const char *kt = (const char *)sqlite3_column_text(st, 2);
			size_t nkt = kt ? (size_t)sqlite3_column_bytes(st, 2) : 0;
			uint64_t key = text_key(kt, nkt);
			rowent *e;
			if (t == MTD_ROW_DEVICE_IDS && kt) { /* keyed with its device's salt */
				unsigned char salt[16];
				size_t nsalt;
				if (mtd_store_device_salt(h->store, sqlite3_column_int64(st, 3), salt, &nsalt)) {
					sqlite3_finalize(st);
					return mtd_fail(h, MTD_ESTORE, "%s", sqlite3_errmsg(db));
				}
				key = mtd_text_key(salt, nsalt, kt, nkt);
			}
			e = row_find(m, t, k1, k2, key);
			mtd_row_digest(t, st, d);
			if (!e)
				row_bad(&rc, t, k1, k2, kt,
					"has no entry in the audit log: it was added outside mtdgate");
			else if ((e->state & 3) == ROW_DELETED)
				row_bad(&rc, t, k1, k2, kt,
					"was deleted by the last entry the audit log has for it: it was "
					"put back outside mtdgate");
			else if (memcmp(e->d, d, MTD_ROW_DIGEST) != 0)
				row_bad(&rc, t, k1, k2, kt,
					"is not what the audit log recorded when it was last written: it "
					"was changed outside mtdgate (or its page is damaged)");
			if (e)
				e->state |= ROW_SEEN;
		}
		sqlite3_finalize(st);
		if (step != SQLITE_DONE)
			return mtd_fail(h, sqlite3_errcode(db) == SQLITE_CORRUPT ? MTD_EMALFORMED
										 : MTD_ESTORE,
					"reading table %s: %s", mtd_row_table_name(t), sqlite3_errmsg(db));
	}
	for (size_t i = 0; i < m->cap; i++)
		if (m->v[i].state == ROW_PRESENT) {
			char kt[257];
			int named = rc.bad <= 20 && row_ktext(db, &m->v[i], kt, sizeof kt);
			row_bad(&rc, m->v[i].table, m->v[i].k1, m->v[i].k2, named ? kt : NULL,
				"is in the audit log but not in the store: it was removed outside "
				"mtdgate");
		}
	if (!rc.bad)
		return 0;
	return mtd_fail(h, MTD_EMALFORMED, "%llu row%s that decisions are made from do%s not "
			"match the audit log; %s", (unsigned long long)rc.bad, rc.bad == 1 ? "" : "s",
			rc.bad == 1 ? "es" : "", rc.first);
}

/* SQLite's own check of every page: damage it can see. */
static int check_pages(mtd_t *h, sqlite3 *db)
{
	sqlite3_stmt *st;
	char msg[600] = "";
	int rc = 0;
	if (sqlite3_prepare_v2(db, "PRAGMA integrity_check(5)", -1, &st, NULL) != SQLITE_OK)
		return mtd_fail(h, MTD_EMALFORMED, "the store's pages are damaged (SQLite: %s)",
				sqlite3_errmsg(db));
	while (sqlite3_step(st) == SQLITE_ROW) {
		const char *t = (const char *)sqlite3_column_text(st, 0);
		if (t && strcmp(t, "ok")) {
			size_t k = strlen(msg);
			snprintf(msg + k, sizeof msg - k, "%s%s", k ? "; " : "", t);
			rc = 1;
		}
	}
	if (sqlite3_finalize(st) != SQLITE_OK && !rc) {
		snprintf(msg, sizeof msg, "%s", sqlite3_errmsg(db));
		rc = 1;
	}
	return rc ? mtd_fail(h, MTD_EMALFORMED, "the store's pages are damaged (SQLite's "
			     "integrity check: %s)", msg)
		  : 0;
}

/* ---- keys and checkpoints ---- */

#define KEY_PRIV_TAG "mtdgate-ed25519-private v1 "
#define KEY_PUB_TAG "mtdgate-ed25519-public v1 "
#define CP_TAG "mtdgate-checkpoint v1 "

/* Exactly 2n lowercase or uppercase hex digits into n bytes: 0, or -1. */
static int from_hex(const char *t, size_t n, unsigned char *out)
{
	for (size_t i = 0; i < 2 * n; i++) {
		int c = t[i], v = c >= '0' && c <= '9'   ? c - '0'
				  : c >= 'a' && c <= 'f' ? c - 'a' + 10
				  : c >= 'A' && c <= 'F' ? c - 'A' + 10
							 : -1;
		if (v < 0)
			return -1;
		if (i % 2)
			out[i / 2] = (unsigned char)(out[i / 2] << 4 | v);
		else
			out[i / 2] = (unsigned char)v;
	}
	return 0;
}

/* A small file (key or checkpoint) into buf; with secret, refused unless a
 * regular file of ours that nobody else may read or write. */
static int read_small(mtd_t *h, const char *path, int secret, char *buf, size_t n)
{
	struct stat sb;
	ssize_t k;
	int fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return mtd_fail(h, errno == ENOENT ? MTD_ENOTFOUND : MTD_EIO, "%s: %s", path,
				strerror(errno));
	if (fstat(fd, &sb) != 0 || !S_ISREG(sb.st_mode)) {
		close(fd);
		return mtd_fail(h, MTD_EUSAGE, "%s: not a regular file", path);
	}
	if (secret && (sb.st_uid != geteuid() || (sb.st_mode & 077))) {
		close(fd);
		return mtd_fail(h, MTD_EREFUSED,
				"%s: a private key must be yours and readable by you alone (it is mode "
				"%04o, owner %u): refused (chmod 600 it, or make a new one)",
				path, (unsigned)(sb.st_mode & 07777), (unsigned)sb.st_uid);
	}
	k = read(fd, buf, n - 1);
	close(fd);
	if (k < 0)
		return mtd_fail(h, MTD_EIO, "%s: %s", path, strerror(errno));
	buf[k] = '\0';
	return 0;
}

static int load_key(mtd_t *h, const char *path, int secret, unsigned char key[32])
{
	char buf[256];
	const char *tag = secret ? KEY_PRIV_TAG : KEY_PUB_TAG;
	size_t t = strlen(tag);
	int rc = read_small(h, path, secret, buf, sizeof buf);
	if (!rc && (strncmp(buf, tag, t) || from_hex(buf + t, 32, key) ||
		    (buf[t + 64] != '\n' && buf[t + 64] != '\0')))
		rc = mtd_fail(h, MTD_EUSAGE, "%s: not an mtdgate %s key (made by 'mtdgate audit "
			      "keygen')", path, secret ? "private" : "public");
	explicit_bzero(buf, sizeof buf);
	return rc;
}

/* Write text to a new file (never over one) with mode. */
static int write_new(mtd_t *h, const char *path, const char *text, mode_t mode)
{
	size_t n = strlen(text);
	int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, mode);
	if (fd < 0)
		return errno == EEXIST ? mtd_fail(h, MTD_EUSAGE, "%s exists already: a key is never "
						  "overwritten", path)
				       : mtd_fail(h, MTD_EIO, "%s: %s", path, strerror(errno));
	if (fchmod(fd, mode) != 0 || write(fd, text, n) != (ssize_t)n || fsync(fd) != 0) {
		int e = errno;
		close(fd);
		unlink(path);
		return mtd_fail(h, MTD_EIO, "%s: %s", path, strerror(e));
	}
	close(fd);
	return 0;
}

int mtd_audit_keygen(mtd_t *h, const char *key_path)
{
	unsigned char priv[32], pub[32];
	char text[160], hex[65], pub_path[4200];
	int rc;
	if (strlen(key_path) > 4000)
		return mtd_fail(h, MTD_EUSAGE, "the key's path is too long");
	snprintf(pub_path, sizeof pub_path, "%s.pub", key_path);
	if (getrandom(priv, sizeof priv, 0) != (ssize_t)sizeof priv)
		return mtd_fail(h, MTD_EIO, "no random bytes: %s", strerror(errno));
	ed25519_sha512_public_key(pub, priv);
	to_hex(priv, 32, hex);
	snprintf(text, sizeof text, KEY_PRIV_TAG "%s\n", hex);
	rc = write_new(h, key_path, text, 0600);
	explicit_bzero(priv, sizeof priv);
	explicit_bzero(hex, sizeof hex);
	explicit_bzero(text, sizeof text);
	if (rc)
		return rc;
	to_hex(pub, 32, hex);
	snprintf(text, sizeof text, KEY_PUB_TAG "%s\n", hex);
	if ((rc = write_new(h, pub_path, text, 0644)))
		unlink(key_path);
	return rc;
}

/* The text a checkpoint's signature is over. */
static void cp_message(char *buf, size_t n, int64_t seq, const char *head, int64_t at)
{
	snprintf(buf, n, "mtdgate checkpoint v1 seq=%lld head=%s at=%lld", (long long)seq, head,
		 (long long)at);
}

typedef struct checkpoint {
	long long seq, at;
	char head[65], key[65], sig[129];
} checkpoint;

/* 1 when cp's signature is good under the key pub. */
static int cp_signed(const checkpoint *cp, const unsigned char pub[32])
{
	unsigned char key[32], sig[64];
	char msg[200];
	if (from_hex(cp->key, 32, key) || memcmp(key, pub, 32) || from_hex(cp->sig, 64, sig))
		return 0;
	cp_message(msg, sizeof msg, cp->seq, cp->head, cp->at);
	return ed25519_sha512_verify(pub, strlen(msg), (const uint8_t *)msg, sig);
}

/* A checkpoint of the exported form (text) or of a 'checkpoint' record
 * (json): 0, or -1 when it does not read. */
static int cp_parse(const char *t, int json, checkpoint *cp)
{
	int k = -1;
	memset(cp, 0, sizeof *cp);
	if (json)
		sscanf(t, "{\"seq\":%lld,\"head\":\"%64[0-9a-f]\",\"at\":%lld,\"key\":\"%64[0-9a-f]\","
			  "\"sig\":\"%128[0-9a-f]\"}%n",
		       &cp->seq, cp->head, &cp->at, cp->key, cp->sig, &k);
	else
		sscanf(t, CP_TAG "seq=%lld head=%64[0-9a-f] at=%lld key=%64[0-9a-f] sig=%128[0-9a-f]%n",
		       &cp->seq, cp->head, &cp->at, cp->key, cp->sig, &k);
	return k > 0 && strlen(cp->head) == 64 && strlen(cp->key) == 64 && strlen(cp->sig) == 128 &&
			       cp->seq > 0
		       ? 0
		       : -1;
}

/* What a verify was asked to find, and what it found. */
typedef struct expects {
	unsigned char head[32];
	int want_head, head_found;
	unsigned char pub[32];
	int have_pub;
	checkpoint file;
	int have_file, file_found;
	uint64_t recorded; /* checkpoints in the store signed with pub, all good */
	checkpoint last;   /* the last of them */
} expects;

/* A 'checkpoint' record at seq, its chain's hash before it prev. */
static int check_recorded(mtd_t *h, expects *x, int64_t seq, const char *detail,
			  const unsigned char prev[32])
{
	checkpoint cp;
	unsigned char key[32], head[32];
	if (cp_parse(detail ? detail : "", 1, &cp))
		return mtd_fail(h, MTD_EMALFORMED, "audit record %lld: a checkpoint that cannot be read",
				(long long)seq);
	if (!x->have_pub || from_hex(cp.key, 32, key) || memcmp(key, x->pub, 32))
		return 0; /* another key's: not ours to judge */
	if (!cp_signed(&cp, x->pub))
		return mtd_fail(h, MTD_EMALFORMED, "audit record %lld: a checkpoint whose signature "
				"does not hold under this key: it was forged or changed", (long long)seq);
	from_hex(cp.head, 32, head);
	if (cp.seq != seq - 1 || memcmp(head, prev, 32))
		return mtd_fail(h, MTD_EMALFORMED, "the checkpoint signed at %lld (audit record %lld) "
				"is of record %lld with head %s, but the chain there is different: "
				"the log before it was rewritten", cp.at, (long long)seq, cp.seq, cp.head);
	x->recorded++;
	x->last = cp;
	return 0;
}

static int expect_init(mtd_t *h, mtd_audit_expect *in, expects *x)
{
	int rc;
	memset(x, 0, sizeof *x);
	if (!in)
		return 0;
	if (in->head) {
		if (strlen(in->head) != 64 || from_hex(in->head, 32, x->head))
			return mtd_fail(h, MTD_EUSAGE, "--expect-head: not a head (64 hex digits)");
		x->want_head = 1;
	}
	if (in->checkpoint && !in->pubkey)
		return mtd_fail(h, MTD_EUSAGE, "--checkpoint needs the key that signed it (--pubkey)");
	if (in->pubkey) {
		if ((rc = load_key(h, in->pubkey, 0, x->pub)))
			return rc;
		x->have_pub = 1;
	}
	if (in->checkpoint) {
		char buf[512];
		if ((rc = read_small(h, in->checkpoint, 0, buf, sizeof buf)))
			return rc;
		if (cp_parse(buf, 0, &x->file))
			return mtd_fail(h, MTD_EUSAGE, "%s: not an mtdgate checkpoint", in->checkpoint);
		if (!cp_signed(&x->file, x->pub))
			return mtd_fail(h, MTD_EMALFORMED, "%s: its signature does not hold under the "
					"key %s: it was not made with that key, or was changed",
					in->checkpoint, in->pubkey);
		x->have_file = 1;
	}
	return 0;
}

static int prune_start(mtd_t *h, sqlite3 *db, int64_t *from, unsigned char prev[32],
		       lastlog *l);

/* ---- erased personal data (schema 10; fleet's part of this file) ----
 * A record with pd chains it instead of its device and detail: while they
 * are there, pd must be their salted digest; once erased (device NULL,
 * salt NULL, detail MTD_AUDIT_ERASED) only pd is left, and a later
 * device_removed record must name the record among those it erased. */
typedef struct erasures {
	int64_t *v; /* erased records in order; negated once a removal names it */
	size_t n, cap;
	int64_t from; /* the first record walked: a removal may name erased
			 records pruned into an archive before it */
} erasures;

/* The chain hash of the audit record that is the current row of st
 * (verify_sql's columns): over its device and detail, or since schema 10
 * over pd. */
static void record_hash(const unsigned char prev[32], sqlite3_stmt *st, int64_t seq,
			unsigned char out[32])
{
	const char *kind = (const char *)sqlite3_column_text(st, 2);
	if (sqlite3_column_type(st, 7) == SQLITE_NULL || sqlite3_column_bytes(st, 7) != 32)
		mtd_audit_hash(prev, seq, sqlite3_column_int64(st, 1), kind,
			       (const char *)sqlite3_column_text(st, 3),
			       (const char *)sqlite3_column_text(st, 4),
			       (const char *)sqlite3_column_text(st, 5), out);
	else
		mtd_audit_hash_pd(prev, seq, sqlite3_column_int64(st, 1), kind,
				  (const char *)sqlite3_column_text(st, 3), sqlite3_column_blob(st, 7),
				  out);
}

static int erased_named(mtd_t *h, erasures *er, int64_t seq, const char *detail)
{
	json_t *d = json_loads(detail ? detail : "", 0, NULL), *list = json_object_get(d, "erased");
	size_t i;
	json_t *v;
	int rc = 0;
	if (!json_is_array(list)) {
		json_decref(d);
		return mtd_fail(h, MTD_EMALFORMED, "audit record %lld: a device removal that cannot "
				"be read", (long long)seq);
	}
	json_array_foreach(list, i, v) {
		int64_t e = json_integer_value(v);
		size_t lo = 0, hi = er->n;
		if (e < er->from)
			continue; /* pruned */
		while (lo < hi) { /* er->v is in order of |seq| */
			size_t mid = (lo + hi) / 2;
			int64_t m = er->v[mid] < 0 ? -er->v[mid] : er->v[mid];
			if (m < e)
				lo = mid + 1;
			else
				hi = mid;
		}
		if (lo == er->n || er->v[lo] != e) {
			rc = mtd_fail(h, MTD_EMALFORMED,
				      "audit record %lld names record %lld as erased, which is not an "
				      "erased record before it", (long long)seq, (long long)e);
			break;
		}
		er->v[lo] = -e;
	}
	json_decref(d);
	return rc;
}

static int check_personal(mtd_t *h, sqlite3_stmt *st, int64_t seq, const char *kind,
			  const char *detail, erasures *er)
{
	unsigned char pd[32];
	if (kind && !strcmp(kind, "device_removed") && sqlite3_column_type(st, 8) != SQLITE_NULL &&
	    erased_named(h, er, seq, detail))
		return MTD_EMALFORMED;
	if (sqlite3_column_type(st, 7) == SQLITE_NULL)
		return 0; /* written before schema 10 */
	if (sqlite3_column_bytes(st, 7) != 32)
		return mtd_fail(h, MTD_EMALFORMED, "audit record %lld: its digest is damaged",
				(long long)seq);
	if (sqlite3_column_type(st, 8) == SQLITE_NULL) { /* erased */
		if (sqlite3_column_type(st, 4) != SQLITE_NULL || !detail ||
		    strcmp(detail, MTD_AUDIT_ERASED))
			return mtd_fail(h, MTD_EMALFORMED, "audit record %lld (%s) has lost its salt "
					"but not its data: it was changed", (long long)seq,
					kind ? kind : "?");
		if (er->n == er->cap) {
			size_t cap = er->cap ? 2 * er->cap : 64;
			int64_t *nv = realloc(er->v, cap * sizeof *nv);
			if (!nv)
				return mtd_fail(h, MTD_ENOMEM, "out of memory");
			er->v = nv;
			er->cap = cap;
		}
		er->v[er->n++] = seq;
		return 0;
	}
	if (sqlite3_column_bytes(st, 8) != MTD_AUDIT_SALT)
		return mtd_fail(h, MTD_EMALFORMED, "audit record %lld: its salt is damaged",
				(long long)seq);
	mtd_audit_pdigest(sqlite3_column_blob(st, 8), (const char *)sqlite3_column_text(st, 4), detail,
			  pd);
	if (memcmp(pd, sqlite3_column_blob(st, 7), 32))
		return mtd_fail(h, MTD_EMALFORMED,
				"audit record %lld (%s at %lld) does not match its hash: it was "
				"changed, or a record before it was", (long long)seq, kind ? kind : "?",
				(long long)sqlite3_column_int64(st, 1));
	return 0;
}

int mtd_audit_verify(mtd_t *h, uint64_t *records, char head[65])
{
	return mtd_audit_verify_expect(h, NULL, records, head);
}

int mtd_audit_verify_expect(mtd_t *h, mtd_audit_expect *xin, uint64_t *records, char head[65])

{
	unsigned char prev[32] = {0}, want[32];
	cursor c[NSRC];
	pend p[MTD_LOG__COUNT];
	lastlog last = {0};
	rowmap rows = {0};
	erasures er = {0};
	expects x;
	sqlite3 *db;
	int64_t expect = 1, from = 0;
	uint64_t n = 0;
	int rc = mtd_need_store_readonly(h), i;

	*records = 0;
	head[0] = '\0';
	if (rc || (rc = expect_init(h, xin, &x)))
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
	rc = check_pages(h, db);
	if (!rc && !(rc = prune_start(h, db, &from, prev, &last)) && from)
		expect = from; /* pruned: the chain goes on from the prune point */
	er.from = from;
	for (i = 0; i < NSRC && !rc; i++)
		if (sqlite3_prepare_v2(db, verify_sql[i], -1, &c[i].st, NULL) != SQLITE_OK ||
		    sqlite3_bind_int64(c[i].st, 1, from) != SQLITE_OK || advance(&c[i]))
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
		if (i == SRC_MESSAGES && c[i].e.table >= 0)
			rc = row_set(&rows, c[i].e.table, c[i].e.device, sqlite3_column_int64(st, 3), 0,
				     c[i].e.digest);
		else if (i == SRC_ROWS)
			rc = row_set(&rows, c[i].e.table, c[i].e.device, c[i].e.k2,
				     text_key(c[i].e.ktext, c[i].e.nktext),
				     c[i].e.present ? c[i].e.digest : NULL);
		if (rc) {
			rc = mtd_fail(h, rc, "out of memory");
			break;
		}
		if (x.have_file && seq == x.file.seq && i != SRC_AUDIT) {
			rc = mtd_fail(h, MTD_EMALFORMED, "the checkpoint's record %lld is not a record of "
				      "the chain: the log was rewritten", (long long)seq);
			break;
		}
		if (i == SRC_AUDIT) {
			const char *kind = (const char *)sqlite3_column_text(st, 2);
			const char *detail = (const char *)sqlite3_column_text(st, 5);
			if ((rc = check_personal(h, st, seq, kind, detail, &er)))
				break;
			record_hash(prev, st, seq, want);
			if (sqlite3_column_bytes(st, 6) != 32 ||
			    memcmp(sqlite3_column_blob(st, 6), want, 32) != 0) {
				rc = mtd_fail(h, MTD_EMALFORMED,
					      "audit record %lld (%s at %lld) does not match its hash: it "
					      "was changed, or a record before it was", (long long)seq,
					      kind ? kind : "?", (long long)sqlite3_column_int64(st, 1));
				break;
			}
			if (kind && !strcmp(kind, "checkpoint") &&
			    (rc = check_recorded(h, &x, seq, detail, prev)))
				break;
			memcpy(prev, want, 32);
			if (kind && !strcmp(kind, "seal") &&
			    (rc = check_seal(h, seq, detail ? detail : "", p)))
				break;
			if (x.want_head && !memcmp(want, x.head, 32))
				x.head_found = 1;
			if (x.have_file && seq == x.file.seq) {
				unsigned char fh[32];
				from_hex(x.file.head, 32, fh);
				if (memcmp(fh, want, 32)) {
					rc = mtd_fail(h, MTD_EMALFORMED,
						      "audit record %lld is not the one the checkpoint "
						      "signed at %lld holds (head %s): the log up to it "
						      "was rewritten", (long long)seq, x.file.at,
						      x.file.head);
					break;
				}
				x.file_found = 1;
			}
		}
		expect++;
		n++;
		if (advance(&c[i]))
			rc = mtd_fail(h, MTD_ESTORE, "%s", sqlite3_errmsg(db));
	}
	for (size_t k = 0; !rc && k < er.n; k++)
		if (er.v[k] > 0)
			rc = mtd_fail(h, MTD_EMALFORMED,
				      "audit record %lld was erased, but no device removal records "
				      "that it erased it: it was erased outside mtdgate",
				      (long long)er.v[k]);
	for (i = 0; !rc && i < MTD_LOG__COUNT; i++)
		if (p[i].rows)
			rc = mtd_fail(h, MTD_EMALFORMED,
				      "%llu %s entries from audit record %lld on are not sealed: they "
				      "were added after the fact", (unsigned long long)p[i].rows,
				      mtd_log_name(i), (long long)p[i].first);
	if (!rc && x.have_file && !x.file_found)
		rc = mtd_fail(h, MTD_EMALFORMED,
			      "the log ends at record %llu, but the checkpoint signed at %lld holds "
			      "records up to %lld: the last %lld records were cut off",
			      (unsigned long long)n, x.file.at, x.file.seq,
			      x.file.seq - (long long)n);
	if (!rc && x.want_head && !x.head_found)
		rc = mtd_fail(h, MTD_EMALFORMED,
			      "the chain does not contain the expected head %s: the log was "
			      "rewritten, or cut off before it", xin->head);
	if (!rc && x.have_pub && !x.have_file && !x.recorded)
		rc = mtd_fail(h, MTD_EMALFORMED,
			      "no checkpoint signed with this key is in the log: they were removed, "
			      "or none was made ('mtdgate audit checkpoint')");
	if (!rc)
		rc = check_decisions(h, db, &last);
	if (!rc)
		rc = check_rows(h, db, &rows);
	if (!rc && xin) {
		xin->checkpoints = x.recorded;
		xin->last_seq = x.file_found ? x.file.seq : x.last.seq;
		xin->last_at = x.file_found ? x.file.at : x.last.at;
	}
	*records = n;
	to_hex(prev, 32, head);
	free(last.v);
	free(rows.v);
	free(er.v);
	close_all(c);
	sqlite3_exec(db, "COMMIT", NULL, NULL, NULL);
	return rc;
}

int mtd_audit_checkpoint(mtd_t *h, const char *key_path, char *out, size_t n)
{
	unsigned char priv[32], pub[32], sig[64], last[32];
	char head[65], lhex[65], msg[200], detail[400], sighex[129], pubhex[65];
	uint64_t records;
	int64_t seq = 0;
	sqlite3_stmt *st;
	int rc;

	if ((rc = mtd_need_store(h)) || (rc = load_key(h, key_path, 1, priv)))
		return rc;
	ed25519_sha512_public_key(pub, priv);
	/* never sign a log that does not verify */
	if ((rc = mtd_audit_verify(h, &records, head)))
		goto out;
	if ((rc = mtd_begin(h)))
		goto out;
	st = mtd_store_stmt(h->store, SQL_AUDIT_LAST);
	if (st && sqlite3_step(st) == SQLITE_ROW && sqlite3_column_bytes(st, 1) == 32) {
		seq = sqlite3_column_int64(st, 0);
		memcpy(last, sqlite3_column_blob(st, 1), 32);
	}
	if (st)
		sqlite3_reset(st);
	to_hex(last, 32, lhex);
	(void)records; /* after audit prune the count is not the last number: the head decides */
	if (!seq || strcmp(lhex, head)) {
		mtd_store_rollback(h->store);
		rc = mtd_fail(h, MTD_ESTORE, seq ? "the log grew while it was verified: run the "
				     "checkpoint again" : "the log is empty: nothing to sign");
		goto out;
	}
	cp_message(msg, sizeof msg, seq, head, h->now);
	ed25519_sha512_sign(pub, priv, strlen(msg), (const uint8_t *)msg, sig);
	to_hex(sig, 64, sighex);
	to_hex(pub, 32, pubhex);
	snprintf(detail, sizeof detail,
		 "{\"seq\":%lld,\"head\":\"%s\",\"at\":%lld,\"key\":\"%s\",\"sig\":\"%s\"}",
		 (long long)seq, head, (long long)h->now, pubhex, sighex);
	if (mtd_store_audit(h->store, h->now, "checkpoint", NULL, NULL, detail) ||
	    mtd_store_commit(h->store)) {
		mtd_store_rollback(h->store);
		rc = mtd_fail(h, MTD_ESTORE, "%s", mtd_store_errmsg(h->store));
		goto out;
	}
	if (snprintf(out, n, CP_TAG "seq=%lld head=%s at=%lld key=%s sig=%s\n", (long long)seq,
		     head, (long long)h->now, pubhex, sighex) >= (int)n)
		rc = mtd_fail(h, MTD_EUSAGE, "no room for the checkpoint");
out:
	explicit_bzero(priv, sizeof priv);
	return rc;
}

/* ---- retention (issue 18): head, anchor, prune, archives ----
 * (helper fleet edits the erasure parts of this file; these functions are
 * export's: keep edits to either side local.) */

int mtd_audit_head(mtd_t *h, int64_t *seq, int64_t *at, char head[65])
{
	sqlite3_stmt *st = NULL;
	sqlite3 *db;
	int rc = mtd_need_store_readonly(h), step;

	*seq = 0;
	*at = 0;
	head[0] = '\0';
	if (rc)
		return rc;
	db = mtd_store_db(h->store);
	if (sqlite3_prepare_v2(db, "SELECT seq, at, hash FROM audit ORDER BY seq DESC LIMIT 1", -1,
			       &st, NULL) != SQLITE_OK)
		return mtd_fail(h, MTD_ESTORE, "%s", sqlite3_errmsg(db));
	step = sqlite3_step(st);
	if (step == SQLITE_ROW && sqlite3_column_bytes(st, 2) == 32) {
		*seq = sqlite3_column_int64(st, 0);
		*at = sqlite3_column_int64(st, 1);
		to_hex(sqlite3_column_blob(st, 2), 32, head);
	} else if (step == SQLITE_ROW) {
		rc = mtd_fail(h, MTD_EMALFORMED, "audit record %lld has no hash (run 'mtdgate audit "
			      "verify')", (long long)sqlite3_column_int64(st, 0));
	} else if (step == SQLITE_DONE) {
		rc = mtd_fail(h, MTD_ENOTFOUND, "the audit log is empty");
	} else {
		rc = mtd_fail(h, MTD_ESTORE, "%s", sqlite3_errmsg(db));
	}
	sqlite3_finalize(st);
	return rc;
}

/* After audit prune, the log starts at a prune point: the records before it
 * are in an archive, except the decision log blocks that hold a device's
 * last change and the outcomes still referred to, which stay below it. The
 * latest 'pruned' record names the point, the chain's hash before it, and
 * the count and SHA-256 of what stayed below (kept_rows). */
#define PRUNED_FMT "{\"from\":%lld,\"prev\":\"%64[0-9a-f]\",\"kept\":%llu,\"kept_sha256\":\"%64[0-9a-f]\""

/* The rows below from (decision log blocks, then outcomes, each in order)
 * into a SHA-256 and a count; their decision entries into l when given. */
static int kept_rows(mtd_t *h, sqlite3 *db, int64_t from, unsigned char out[32], uint64_t *n,
		     lastlog *l)
{
	static const char *const sql[2] = {
		"SELECT seq, n, at, entries FROM decision_log WHERE seq < ?1 ORDER BY seq",
		("SELECT seq, at, digest, state, level, access, app_action, vendors, reasons,"
		 " resources FROM outcomes WHERE seq < ?1 ORDER BY seq"),
	};
	mtd_sha256 c;
	int rc = 0;
	*n = 0;
	mtd_sha256_init(&c);
	for (int k = 0; k < 2 && !rc; k++) {
		sqlite3_stmt *st;
		int step;
		if (sqlite3_prepare_v2(db, sql[k], -1, &st, NULL) != SQLITE_OK)
			return mtd_fail(h, MTD_ESTORE, "%s", sqlite3_errmsg(db));
		sqlite3_bind_int64(st, 1, from);
		while (!rc && (step = sqlite3_step(st)) == SQLITE_ROW) {
			mtd_log_hash_row(&c, st, sqlite3_column_count(st));
			(*n)++;
			if (k == 0 && l) {
				const unsigned char *p = sqlite3_column_blob(st, 3);
				const unsigned char *end = p + sqlite3_column_bytes(st, 3);
				mtd_log_entry e;
				memset(&e, 0, sizeof e);
				for (int64_t i = 0; !rc && p && i < sqlite3_column_int64(st, 1); i++)
					if (mtd_log_entry_decode(MTD_LOG_DECISIONS, &p, end, &e))
						rc = mtd_fail(h, MTD_EMALFORMED, "audit record %lld: a kept block "
							      "of the decisions log that cannot be read",
							      (long long)sqlite3_column_int64(st, 0));
					else if (last_set(l, e.device, e.outcome))
						rc = mtd_fail(h, MTD_ENOMEM, "out of memory");
			}
		}
		if (!rc && step != SQLITE_DONE)
			rc = mtd_fail(h, MTD_ESTORE, "%s", sqlite3_errmsg(db));
		sqlite3_finalize(st);
	}
	mtd_sha256_final(&c, out);
	return rc;
}

static int prune_start(mtd_t *h, sqlite3 *db, int64_t *from, unsigned char prev[32], lastlog *l)
{
	sqlite3_stmt *st;
	long long f = 0, pseq = 0;
	unsigned long long nkept = 0;
	char phex[65], khex[65];
	unsigned char want[32], got[32];
	uint64_t n;
	int rc = 0, step;

	*from = 0;
	if (sqlite3_prepare_v2(db, "SELECT seq, detail FROM audit WHERE kind = 'pruned'"
				   " ORDER BY seq DESC LIMIT 1", -1, &st, NULL) != SQLITE_OK)
		return mtd_fail(h, MTD_ESTORE, "%s", sqlite3_errmsg(db));
	step = sqlite3_step(st);
	if (step == SQLITE_ROW) {
		const char *d = (const char *)sqlite3_column_text(st, 1);
		pseq = sqlite3_column_int64(st, 0);
		if (!d || sscanf(d, PRUNED_FMT, &f, phex, &nkept, khex) != 4 || f < 2 || f > pseq ||
		    from_hex(phex, 32, prev) || from_hex(khex, 32, want))
			rc = mtd_fail(h, MTD_EMALFORMED, "audit record %lld: a prune record that "
				      "cannot be read", pseq);
	} else if (step != SQLITE_DONE) {
		rc = mtd_fail(h, MTD_ESTORE, "%s", sqlite3_errmsg(db));
	}
	sqlite3_finalize(st);
	if (rc || !f)
		return rc;
	if ((rc = kept_rows(h, db, f, got, &n, l)))
		return rc;
	if (n != nkept || memcmp(got, want, 32))
		return mtd_fail(h, MTD_EMALFORMED,
				"the %llu records the prune of record %lld kept below record %lld "
				"(decision changes and outcomes still referred to) do not match it: "
				"they were changed, removed or added (%llu now)", nkept, pseq, f,
				(unsigned long long)n);
	*from = f;
	return 0;
}

/* ---- archives ---- */

#define ARCHIVE_TAG "mtdgate-audit-archive 1"
static const char archive_schema[] =
	"CREATE TABLE sqlfile_info(key TEXT PRIMARY KEY, value TEXT NOT NULL);"
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

/* The chain of db's five tables from seq first (prev: the hash before it)
 * through its end: every record in order, every block readable, every
 * seal matching what it covers, nothing left unsealed. *records and the
 * hash at the end (out) when it holds. */
static int walk_chain(mtd_t *h, sqlite3 *db, int64_t first, const unsigned char prev0[32],
		      uint64_t *records, unsigned char out[32])
{
	unsigned char prev[32], want[32];
	cursor c[NSRC];
	pend p[MTD_LOG__COUNT];
	int64_t expect = first;
	int rc = 0, i;

	erasures er = {NULL, 0, 0, first};
	memcpy(prev, prev0, 32);
	*records = 0;
	for (i = 0; i < MTD_LOG__COUNT; i++) {
		mtd_sha256_init(&p[i].c);
		p[i].rows = 0;
		p[i].first = 0;
	}
	cursors_init(c);
	for (i = 0; i < NSRC && !rc; i++)
		if (sqlite3_prepare_v2(db, verify_sql[i], -1, &c[i].st, NULL) != SQLITE_OK ||
		    sqlite3_bind_int64(c[i].st, 1, 0) != SQLITE_OK || advance(&c[i]))
			rc = mtd_fail(h, MTD_ESTORE, "%s", sqlite3_errmsg(db));
	while (!rc && (i = lowest(c)) >= 0) {
		sqlite3_stmt *st = c[i].st;
		int64_t seq = c[i].seq;
		if (seq != expect) {
			rc = mtd_fail(h, MTD_EMALFORMED, "record %lld is missing, out of order or twice: "
				      "the chain breaks there", (long long)expect);
			break;
		}
		if (c[i].bad) {
			rc = mtd_fail(h, MTD_EMALFORMED, "record %lld: a block of the %s log whose "
				      "entries do not read as it says: it was changed",
				      (long long)seq, mtd_log_name(c[i].log));
			break;
		}
		if (i != SRC_AUDIT && c[i].i == 0)
			on_row(p, &c[i]);
		if (i == SRC_AUDIT) {
			const char *kind = (const char *)sqlite3_column_text(st, 2);
			const char *detail = (const char *)sqlite3_column_text(st, 5);
			/* an erasure's removal record may be in the live log: only
			 * the digests are checked here */
			if ((rc = check_personal(h, st, seq, kind, detail, &er)))
				break;
			record_hash(prev, st, seq, want);
			if (sqlite3_column_bytes(st, 6) != 32 ||
			    memcmp(sqlite3_column_blob(st, 6), want, 32) != 0) {
				rc = mtd_fail(h, MTD_EMALFORMED, "record %lld (%s) does not match its "
					      "hash: it was changed, or a record before it was",
					      (long long)seq, kind ? kind : "?");
				break;
			}
			memcpy(prev, want, 32);
			if (kind && !strcmp(kind, "seal") &&
			    (rc = check_seal(h, seq, detail ? detail : "", p)))
				break;
		}
		expect++;
		(*records)++;
		if (advance(&c[i]))
			rc = mtd_fail(h, MTD_ESTORE, "%s", sqlite3_errmsg(db));
	}
	for (i = 0; !rc && i < MTD_LOG__COUNT; i++)
		if (p[i].rows)
			rc = mtd_fail(h, MTD_EMALFORMED, "%llu %s entries from record %lld on are not "
				      "sealed", (unsigned long long)p[i].rows, mtd_log_name(i),
				      (long long)p[i].first);
	close_all(c);
	free(er.v);
	memcpy(out, prev, 32);
	return rc;
}

static const char *info_get(sqlite3 *db, const char *key, char *buf, size_t n)
{
	sqlite3_stmt *st;
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

int mtd_audit_verify_archive(mtd_t *h, const char *path, mtd_archive_info *ai)
{
	sqlite3 *db = NULL;
	char fmt[64], first[32], last[32], prevhex[80], headhex[80];
	unsigned char prev[32], head[32], got[32];
	uint64_t n;
	int rc;

	memset(ai, 0, sizeof *ai);
	if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK) {
		rc = mtd_fail(h, MTD_EIO, "%s: %s", path, db ? sqlite3_errmsg(db) : "cannot open");
		sqlite3_close(db);
		return rc;
	}
	if (sqlite3_exec(db, "BEGIN", NULL, NULL, NULL) != SQLITE_OK ||
	    !info_get(db, "format", fmt, sizeof fmt) || strcmp(fmt, ARCHIVE_TAG) ||
	    !info_get(db, "first", first, sizeof first) || !info_get(db, "last", last, sizeof last) ||
	    !info_get(db, "prev", prevhex, sizeof prevhex) ||
	    !info_get(db, "head", headhex, sizeof headhex) || strlen(prevhex) != 64 ||
	    strlen(headhex) != 64 || from_hex(prevhex, 32, prev) || from_hex(headhex, 32, head)) {
		sqlite3_close(db);
		return mtd_fail(h, MTD_EMALFORMED, "%s is not an mtdgate audit archive", path);
	}
	ai->first = strtoll(first, NULL, 10);
	ai->last = strtoll(last, NULL, 10);
	memcpy(ai->prev, prevhex, 65);
	memcpy(ai->head, headhex, 65);
	rc = walk_chain(h, db, ai->first, prev, &n, got);
	ai->records = n;
	if (!rc && (int64_t)n != ai->last - ai->first + 1)
		rc = mtd_fail(h, MTD_EMALFORMED, "%s holds %llu records, not %lld to %lld: records were "
			      "removed or added", path, (unsigned long long)n, (long long)ai->first,
			      (long long)ai->last);
	if (!rc && memcmp(got, head, 32))
		rc = mtd_fail(h, MTD_EMALFORMED, "%s: the chain ends at another hash than the "
			      "archive's head: it was rewritten", path);
	sqlite3_close(db);
	return rc;
}

/* ---- prune ---- */

/* Where a prune before `before` may cut, walking from the log's start:
 * the number after the last audit record dated before it after which no
 * log has unsealed entries (*cut, 0: none), the chain's hash there, and
 * the records before it. */
static int find_cut(mtd_t *h, sqlite3 *db, int64_t from, int64_t before, int64_t *cut,
		    unsigned char hash[32], uint64_t *records)
{
	cursor c[NSRC];
	uint64_t pending[MTD_LOG__COUNT] = {0}, n = 0;
	int rc = 0, i;

	*cut = 0;
	*records = 0;
	cursors_init(c);
	for (i = 0; i < NSRC && !rc; i++)
		if (sqlite3_prepare_v2(db, verify_sql[i], -1, &c[i].st, NULL) != SQLITE_OK ||
		    sqlite3_bind_int64(c[i].st, 1, from) != SQLITE_OK || advance(&c[i]))
			rc = mtd_fail(h, MTD_ESTORE, "%s", sqlite3_errmsg(db));
	while (!rc && (i = lowest(c)) >= 0) {
		sqlite3_stmt *st = c[i].st;
		int64_t at = sqlite3_column_int64(st, i == SRC_AUDIT || i == SRC_OUTCOMES ? 1 : 2);
		if (at >= before)
			break;
		n++;
		if (i != SRC_AUDIT && c[i].i == 0)
			pending[c[i].log] += c[i].block ? c[i].n : 1;
		if (i == SRC_AUDIT) {
			const char *kind = (const char *)sqlite3_column_text(st, 2);
			const char *d = (const char *)sqlite3_column_text(st, 5);
			int idle = 1;
			if (kind && !strcmp(kind, "seal") && d)
				for (int k = 0; k < MTD_LOG__COUNT; k++) {
					char want[32];
					snprintf(want, sizeof want, "{\"log\":\"%s\"", mtd_log_name(k));
					if (!strncmp(d, want, strlen(want)))
						pending[k] = 0;
				}
			for (int k = 0; k < MTD_LOG__COUNT; k++)
				idle &= pending[k] == 0;
			if (idle && sqlite3_column_bytes(st, 6) == 32) {
				*cut = c[i].seq + 1;
				memcpy(hash, sqlite3_column_blob(st, 6), 32);
				*records = n;
			}
		}
		if (advance(&c[i]))
			rc = mtd_fail(h, MTD_ESTORE, "%s", sqlite3_errmsg(db));
	}
	close_all(c);
	return rc;
}

/* Copy the rows of table numbered from .. cut - 1 into the archive. */
static int copy_rows(mtd_t *h, sqlite3 *src, sqlite3 *dst, const char *table, int64_t from,
		     int64_t cut, uint64_t *n)
{
	char q[160], ins[200];
	sqlite3_stmt *st = NULL, *in = NULL;
	int rc = 0, step, ncol;
	snprintf(q, sizeof q, "SELECT * FROM %s WHERE seq >= ?1 AND seq < ?2 ORDER BY seq", table);
	if (sqlite3_prepare_v2(src, q, -1, &st, NULL) != SQLITE_OK)
		return mtd_fail(h, MTD_ESTORE, "%s", sqlite3_errmsg(src));
	ncol = sqlite3_column_count(st);
	snprintf(ins, sizeof ins, "INSERT INTO %s VALUES(?%s%s%s%s%s%s%s%s%s)", table,
		 ncol > 1 ? ",?" : "", ncol > 2 ? ",?" : "", ncol > 3 ? ",?" : "",
		 ncol > 4 ? ",?" : "", ncol > 5 ? ",?" : "", ncol > 6 ? ",?" : "",
		 ncol > 7 ? ",?" : "", ncol > 8 ? ",?" : "", ncol > 9 ? ",?" : "");
	if (sqlite3_prepare_v2(dst, ins, -1, &in, NULL) != SQLITE_OK) {
		rc = mtd_fail(h, MTD_EIO, "archive: %s", sqlite3_errmsg(dst));
		goto out;
	}
	sqlite3_bind_int64(st, 1, from);
	sqlite3_bind_int64(st, 2, cut);
	while (!rc && (step = sqlite3_step(st)) == SQLITE_ROW) {
		for (int k = 0; k < ncol; k++)
			sqlite3_bind_value(in, k + 1, sqlite3_column_value(st, k));
		if (sqlite3_step(in) != SQLITE_DONE)
			rc = mtd_fail(h, MTD_EIO, "archive: %s", sqlite3_errmsg(dst));
		sqlite3_reset(in);
		(*n)++;
	}
	if (!rc && step != SQLITE_DONE)
		rc = mtd_fail(h, MTD_ESTORE, "%s", sqlite3_errmsg(src));
out:
	sqlite3_finalize(st);
	sqlite3_finalize(in);
	return rc;
}

static int archive_info(sqlite3 *dst, const char *key, const char *value)
{
	sqlite3_stmt *st;
	int ok;
	if (sqlite3_prepare_v2(dst, "INSERT INTO sqlfile_info VALUES(?1, ?2)", -1, &st, NULL))
		return -1;
	sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, value, -1, SQLITE_STATIC);
	ok = sqlite3_step(st) == SQLITE_DONE;
	sqlite3_finalize(st);
	return ok ? 0 : -1;
}

static const char *const log_tables[NSRC] = {"audit", "outcomes", "decision_log", "message_log",
					     "row_log"};

/* Which rows below cut stay: the decision log block holding each device's
 * last change when that change is before cut, and the outcomes a current
 * decision or a remaining decision change refers to (temp tables
 * keep_blocks, keep_outcomes). */
static int mark_kept(mtd_t *h, sqlite3 *db, int64_t cut)
{
	sqlite3_stmt *st = NULL, *kb = NULL, *ko = NULL;
	int64_t *lastblk = NULL; /* per device: the block of its last change, -1 after cut */
	size_t nlast = 0;
	mtd_dslot slots[MTD_DBLOCK_SLOTS];
	int rc = 0, step;

	if (sqlite3_exec(db, "CREATE TEMP TABLE IF NOT EXISTS keep_blocks(seq INTEGER PRIMARY KEY);"
			 "CREATE TEMP TABLE IF NOT EXISTS keep_outcomes(seq INTEGER PRIMARY KEY);"
			 "DELETE FROM keep_blocks; DELETE FROM keep_outcomes;", NULL, NULL, NULL) ||
	    sqlite3_prepare_v2(db, "INSERT OR IGNORE INTO keep_blocks VALUES(?1)", -1, &kb, NULL) ||
	    sqlite3_prepare_v2(db, "INSERT OR IGNORE INTO keep_outcomes VALUES(?1)", -1, &ko, NULL) ||
	    sqlite3_prepare_v2(db, "SELECT seq, n, entries FROM decision_log ORDER BY seq", -1, &st,
			       NULL)) {
		rc = mtd_fail(h, MTD_ESTORE, "%s", sqlite3_errmsg(db));
		goto out;
	}
	/* first pass: each device's last change */
	while (!rc && (step = sqlite3_step(st)) == SQLITE_ROW) {
		int64_t seq = sqlite3_column_int64(st, 0), n = sqlite3_column_int64(st, 1);
		const unsigned char *p = sqlite3_column_blob(st, 2);
		const unsigned char *end = p + sqlite3_column_bytes(st, 2);
		mtd_log_entry e;
		memset(&e, 0, sizeof e);
		for (int64_t i = 0; !rc && p && i < n; i++) {
			if (mtd_log_entry_decode(MTD_LOG_DECISIONS, &p, end, &e))
				rc = mtd_fail(h, MTD_EMALFORMED, "decision log block %lld cannot be read",
					      (long long)seq);
			else if (e.device > 0 && e.device < (1 << 30)) {
				int64_t *v = mtd_grow_zeroed(lastblk, &nlast, (size_t)e.device, sizeof *v);
				if (!v) {
					rc = mtd_fail(h, MTD_ENOMEM, "out of memory");
					break;
				}
				lastblk = v;
				lastblk[e.device] = seq + i < cut ? seq : -1;
			}
		}
	}
	for (size_t d = 0; !rc && d < nlast; d++)
		if (lastblk[d] > 0) {
			sqlite3_reset(kb);
			sqlite3_bind_int64(kb, 1, lastblk[d]);
			if (sqlite3_step(kb) != SQLITE_DONE)
				rc = mtd_fail(h, MTD_ESTORE, "%s", sqlite3_errmsg(db));
		}
	/* second pass: the outcomes of every change that stays */
	sqlite3_reset(st);
	while (!rc && (step = sqlite3_step(st)) == SQLITE_ROW) {
		int64_t seq = sqlite3_column_int64(st, 0), n = sqlite3_column_int64(st, 1);
		const unsigned char *p = sqlite3_column_blob(st, 2);
		const unsigned char *end = p + sqlite3_column_bytes(st, 2);
		int stays = seq >= cut;
		mtd_log_entry e;
		if (!stays) {
			sqlite3_stmt *q;
			if (sqlite3_prepare_v2(db, "SELECT 1 FROM keep_blocks WHERE seq = ?1", -1, &q,
					       NULL) == SQLITE_OK) {
				sqlite3_bind_int64(q, 1, seq);
				stays = sqlite3_step(q) == SQLITE_ROW;
			}
			sqlite3_finalize(q);
		}
		memset(&e, 0, sizeof e);
		for (int64_t i = 0; !rc && stays && p && i < n; i++) {
			if (mtd_log_entry_decode(MTD_LOG_DECISIONS, &p, end, &e))
				break;
			for (int k = 0; k < 2 && !rc; k++) {
				sqlite3_reset(ko);
				sqlite3_bind_int64(ko, 1, k ? e.prev : e.outcome);
				if (sqlite3_step(ko) != SQLITE_DONE)
					rc = mtd_fail(h, MTD_ESTORE, "%s", sqlite3_errmsg(db));
			}
		}
	}
	sqlite3_finalize(st);
	st = NULL;
	/* the current decisions' */
	if (!rc && sqlite3_prepare_v2(db, "SELECT blk, entries FROM decision_blocks", -1, &st,
				      NULL) != SQLITE_OK)
		rc = mtd_fail(h, MTD_ESTORE, "%s", sqlite3_errmsg(db));
	while (!rc && (step = sqlite3_step(st)) == SQLITE_ROW) {
		char why[256];
		if (mtd_dblock_column(st, 1, sqlite3_column_int64(st, 0), slots, why, sizeof why)) {
			rc = mtd_fail(h, MTD_EMALFORMED, "%s", why);
			break;
		}
		for (int k = 0; !rc && k < MTD_DBLOCK_SLOTS; k++)
			if (slots[k].outcome) {
				sqlite3_reset(ko);
				sqlite3_bind_int64(ko, 1, slots[k].outcome);
				if (sqlite3_step(ko) != SQLITE_DONE)
					rc = mtd_fail(h, MTD_ESTORE, "%s", sqlite3_errmsg(db));
			}
	}
out:
	sqlite3_finalize(st);
	sqlite3_finalize(kb);
	sqlite3_finalize(ko);
	free(lastblk);
	return rc;
}

int mtd_audit_prune(mtd_t *h, int64_t before, const char *archive, mtd_prune_stats *ps)
{
	unsigned char prev0[32] = {0}, cuthash[32], kept[32];
	char prevhex[65], cuthex[65], khex[65], num[32], detail[400];
	uint64_t records, nkept, copied = 0;
	int64_t from = 0, cut;
	lastlog unused = {0};
	mtd_sqlfile f;
	sqlite3 *db;
	int rc, i;

	memset(ps, 0, sizeof *ps);
	if (!archive || before <= 0)
		return mtd_fail(h, MTD_EUSAGE, "prune: a time and an archive file are needed");
	/* never prune a log that does not verify: what goes to the archive and
	 * what stays must both be intact */
	if ((rc = mtd_need_store(h)) || (rc = mtd_audit_verify(h, &records, cuthex)))
		return rc;
	if (mtd_store_begin(h->store))
		return mtd_fail(h, MTD_ESTORE, "%s", mtd_store_errmsg(h->store));
	db = mtd_store_db(h->store);
	if ((rc = prune_start(h, db, &from, prev0, &unused)))
		goto fail;
	free(unused.v);
	if (!from)
		from = 1;
	if ((rc = find_cut(h, db, from, before, &cut, cuthash, &records)))
		goto fail;
	if (cut <= from) {
		mtd_store_rollback(h->store);
		return 0; /* nothing before that time */
	}
	to_hex(prev0, 32, prevhex);
	to_hex(cuthash, 32, cuthex);
	/* 1. the archive, complete and durable before anything is removed */
	if ((rc = mtd_sqlfile_begin(h, &f, archive, NULL, archive_schema)))
		goto fail;
	for (i = 0; i < NSRC && !rc; i++)
		rc = copy_rows(h, db, f.db, log_tables[i], from, cut, &copied);
	snprintf(num, sizeof num, "%lld", (long long)from);
	if (!rc && (archive_info(f.db, "format", ARCHIVE_TAG) || archive_info(f.db, "first", num) ||
		    (snprintf(num, sizeof num, "%lld", (long long)cut - 1), 0) ||
		    archive_info(f.db, "last", num) || archive_info(f.db, "prev", prevhex) ||
		    archive_info(f.db, "head", cuthex)))
		rc = mtd_fail(h, MTD_EIO, "%s: %s", archive, sqlite3_errmsg(f.db));
	if (!rc) {
		/* the names the entries' row ids had */
		sqlite3_stmt *st, *in;
		static const char *const names[2][2] = {
			{"SELECT id, ext_id FROM devices", "INSERT INTO devices VALUES(?1, ?2)"},
			{"SELECT id, vendor FROM connectors", "INSERT INTO connectors VALUES(?1, ?2)"}};
		for (int k = 0; k < 2 && !rc; k++) {
			if (sqlite3_prepare_v2(db, names[k][0], -1, &st, NULL) ||
			    sqlite3_prepare_v2(f.db, names[k][1], -1, &in, NULL)) {
				rc = mtd_fail(h, MTD_EIO, "%s: cannot copy names", archive);
				break;
			}
			while (!rc && sqlite3_step(st) == SQLITE_ROW) {
				sqlite3_bind_value(in, 1, sqlite3_column_value(st, 0));
				sqlite3_bind_value(in, 2, sqlite3_column_value(st, 1));
				if (sqlite3_step(in) != SQLITE_DONE)
					rc = mtd_fail(h, MTD_EIO, "%s: %s", archive, sqlite3_errmsg(f.db));
				sqlite3_reset(in);
			}
			sqlite3_finalize(st);
			sqlite3_finalize(in);
		}
	}
	if (rc) {
		mtd_sqlfile_abort(&f);
		goto fail;
	}
	if ((rc = mtd_sqlfile_finish(h, &f)))
		goto fail;
	mtd_test_stop("prune-archived", 0);
	/* 2. what stays below the cut, then everything else below it removed
	 * (the triggers that refuse deletes lifted for this transaction only) */
	if ((rc = mark_kept(h, db, cut)))
		goto fail;
	for (i = 0; i < NSRC && !rc; i++) {
		char q[600];
		snprintf(q, sizeof q,
			 "DROP TRIGGER %s_no_delete;"
			 "DELETE FROM %s WHERE seq < %lld%s;"
			 "CREATE TRIGGER %s_no_delete BEFORE DELETE ON %s"
			 " BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;",
			 log_tables[i], log_tables[i], (long long)cut,
			 i == SRC_DECISIONS  ? " AND seq NOT IN (SELECT seq FROM temp.keep_blocks)"
			 : i == SRC_OUTCOMES ? " AND seq NOT IN (SELECT seq FROM temp.keep_outcomes)"
					     : "",
			 log_tables[i], log_tables[i]);
		if (sqlite3_exec(db, q, NULL, NULL, NULL) != SQLITE_OK)
			rc = mtd_fail(h, MTD_ESTORE, "%s", sqlite3_errmsg(db));
	}
	/* 3. the rows whose last entries went are covered again, and the
	 * prune point recorded in the chain */
	if (!rc && mtd_store_rebaseline(h->store))
		rc = mtd_fail(h, MTD_ESTORE, "%s", mtd_store_errmsg(h->store));
	if (!rc)
		rc = kept_rows(h, db, cut, kept, &nkept, NULL);
	if (rc)
		goto fail;
	to_hex(kept, 32, khex);
	snprintf(detail, sizeof detail,
		 "{\"from\":%lld,\"prev\":\"%s\",\"kept\":%llu,\"kept_sha256\":\"%s\","
		 "\"archived\":%llu,\"archive_first\":%lld}",
		 (long long)cut, cuthex, (unsigned long long)nkept, khex,
		 (unsigned long long)records, (long long)from);
	if (mtd_store_audit(h->store, h->now, "pruned", NULL, NULL, detail) ||
	    mtd_store_commit(h->store)) {
		rc = mtd_fail(h, MTD_ESTORE, "%s", mtd_store_errmsg(h->store));
		goto fail;
	}
	ps->first = from;
	ps->last = cut - 1;
	ps->archived = records;
	ps->kept = nkept;
	memcpy(ps->head, cuthex, 65);
	return 0;
fail:
	mtd_store_rollback(h->store);
	return rc;
}
