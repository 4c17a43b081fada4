#define _DEFAULT_SOURCE /* explicit_bzero, getrandom */
/* audit: showing and verifying the append-only, hash-chained audit log.
 *
 * The log is one sequence over five tables: audit (records chained one to
 * the next by hash), outcomes (a row per record), and the block logs
 * message_log, decision_log and row_log (a row holds n entries, numbered
 * from its seq), all covered by the 'seal' records of the chain (store.h).
 * The store walks the five merged by sequence number (store_audit.h);
 * verify checks the walk, then the current decisions and every covered row
 * (store.h) against the last entry that wrote them, and the chain against
 * checkpoints signed with an Ed25519 key kept outside the store. */
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
#include "store_audit.h"
#include "store_fleet.h" /* sqlfile_info */
#include "tbuf.h"

/* n bytes as 2n lowercase hex digits and a NUL into out. */
static void to_hex(const unsigned char *p, size_t n, char *out)
{
	for (size_t i = 0; i < n; i++)
		snprintf(out + 2 * i, 3, "%02x", p[i]);
}

/* ---- show ---- */

typedef struct shower {
	mtd_store *s;
	mtd_audit_walk *w;
	tbuf b, dev, ven, reasons;
	int64_t ven_id;
} shower;

/* The name of device or connector (what) id into b; NULL when none. */
static const char *lookup_text(shower *sh, int what, int64_t id, tbuf *b)
{
	return mtd_store_audit_name(sh->s, what, id, b) == 1 ? b->p : NULL;
}

static int put(tbuf *b, const char *fmt, const char *a, const char *c)
{
	char t[256];
	snprintf(t, sizeof t, fmt, a, c);
	return tb_put(b, t, strlen(t));
}

/* {"state":..,["level":..,]"access":..,"app_protection":..} of outcome id
 * (0: none, as before any evaluation); with the level, its reasons into
 * sh->reasons. */
static int put_outcome(shower *sh, const char *key, int64_t id, int with_level)
{
	mtd_outcome_row o;
	int found = id > 0 && mtd_store_audit_outcome(sh->s, id, &o,
						      with_level ? &sh->reasons : NULL) == 1;
	int rc = put(&sh->b, "\"%s\":{\"state\":\"%s\"", key,
		     found ? mtd_state_name(o.state) : "not_evaluated");
	if (!rc && with_level)
		rc = put(&sh->b, ",\"level\":\"%s\"%s", found ? mtd_level_name(o.level) : "none", "");
	if (!rc)
		rc = put(&sh->b, ",\"access\":\"%s\",\"app_protection\":\"%s\"}",
			 found && o.access == 0 ? "allow" : "block",
			 found ? mtd_app_action_name(o.app_action) : "none");
	if (!rc && with_level && !found)
		rc = tb_set(&sh->reasons, "[]");
	return rc ? MTD_ENOMEM : 0;
}

static const char *or_empty(const char *t)
{
	return t ? t : "";
}

/* The current record c of the walk as an audit record. */
static int render(shower *sh, const mtd_walk_rec *c, mtd_audit_rec *r)
{
	tbuf *b = &sh->b;
	char t[160];
	memset(r, 0, sizeof *r);
	r->seq = c->seq;
	r->at = c->at;
	b->n = 0;
	switch (c->src) {
	case MTD_SRC_AUDIT: {
		mtd_audit_row a;
		mtd_audit_walk_audit(sh->w, &a);
		r->kind = or_empty(a.kind);
		r->vendor = a.vendor;
		r->device = a.device;
		r->detail = or_empty(a.detail);
		return 0;
	}
	case MTD_SRC_OUTCOMES: {
		mtd_outcome_row o;
		mtd_audit_walk_outcome(sh->w, &o);
		r->kind = "outcome";
		snprintf(t, sizeof t,
			 "{\"state\":\"%s\",\"level\":\"%s\",\"access\":\"%s\",\"app_protection\":\"%s\"",
			 mtd_state_name(o.state), mtd_level_name(o.level),
			 o.access == 0 ? "allow" : "block", mtd_app_action_name(o.app_action));
		if (tb_put(b, t, strlen(t)) || put(b, ",\"vendors\":%s%s", or_empty(o.vendors), "") ||
		    tb_put(b, ",\"reasons\":", 11) ||
		    tb_put(b, or_empty(o.reasons), strlen(or_empty(o.reasons))) ||
		    tb_put(b, ",\"resources\":", 13) ||
		    tb_put(b, or_empty(o.resources), strlen(or_empty(o.resources))) ||
		    tb_put(b, "}", 1))
			return MTD_ENOMEM;
		break;
	}
	case MTD_SRC_DECISIONS:
		r->kind = "decision";
		r->device = lookup_text(sh, MTD_AUDIT_DEVICE, c->e.device, &sh->dev);
		if (tb_put(b, "{", 1) || put_outcome(sh, "from", c->e.prev, 0) || tb_put(b, ",", 1) ||
		    put_outcome(sh, "to", c->e.outcome, 1) || tb_put(b, ",\"reasons\":", 11) ||
		    tb_put(b, sh->reasons.p, sh->reasons.n))
			return MTD_ENOMEM;
		snprintf(t, sizeof t, ",\"outcome\":%lld}", (long long)c->e.outcome);
		if (tb_put(b, t, strlen(t)))
			return MTD_ENOMEM;
		break;
	case MTD_SRC_ROWS: {
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
	default: { /* messages */
		r->kind = "message";
		if (c->connector != sh->ven_id) {
			sh->ven_id = c->connector;
			if (!lookup_text(sh, MTD_AUDIT_CONNECTOR, c->connector, &sh->ven))
				tb_set(&sh->ven, "?");
		}
		r->vendor = sh->ven.p;
		r->device = c->e.device ? lookup_text(sh, MTD_AUDIT_DEVICE, c->e.device, &sh->dev)
					: NULL;
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

int mtd_audit_show(mtd_t *h, const mtd_audit_filter *f, mtd_audit_fn fn, void *ud)
{
	mtd_audit_filter none = {0};
	shower sh = {0};
	const mtd_walk_rec *c;
	int64_t dev = 0, ven = 0;
	int rc = mtd_need_store_readonly(h), got;

	if (rc)
		return rc;
	if (!f)
		f = &none;
	sh.s = h->store;
	if (mtd_store_read_begin(h->store))
		return mtd_fail(h, MTD_ESTORE, "%s", mtd_store_errmsg(h->store));
	sh.ven_id = -1;
	/* a name that is not there matches nothing (row id -1) */
	if (f->device && mtd_store_device_id(h->store, f->device, &dev))
		dev = -1;
	if (f->vendor && mtd_store_audit_connector_id(h->store, f->vendor, &ven))
		ven = -1;
	rc = mtd_audit_walk_show(h->store, f, ven, &sh.w);
	while (!rc && (got = mtd_audit_walk_next(sh.w, &c)) != 0) {
		mtd_audit_rec r;
		if (got < 0) {
			rc = got;
			break;
		}
		if (c->bad) {
			rc = mtd_fail(h, MTD_EMALFORMED, "audit record %lld: a block of the %s log that "
				      "cannot be read (run 'mtdgate audit verify')", (long long)c->seq,
				      mtd_log_name(c->log));
			break;
		}
		/* the block logs' entries are filtered by device here */
		if (!(f->device && c->block && (c->e.device != dev || c->src == MTD_SRC_ROWS)) &&
		    c->seq > f->after_seq && !(rc = render(&sh, c, &r)))
			rc = fn(ud, &r);
	}
	if (rc == MTD_ESTORE)
		rc = mtd_fail(h, rc, "reading the audit log: %s", mtd_store_errmsg(h->store));
	else if (rc == MTD_ENOMEM)
		rc = mtd_fail(h, rc, "out of memory");
	mtd_audit_walk_close(sh.w);
	free(sh.b.p);
	free(sh.dev.p);
	free(sh.ven.p);
	free(sh.reasons.p);
	mtd_store_read_end(h->store);
	return rc;
}

/* ---- verify ---- */

typedef struct pend {
	mtd_sha256 c;
	uint64_t rows;
	int64_t first;
} pend;

/* A log row goes into its log's pending digest when its first record is
 * reached (not when fetched: that is ahead of the seals before it). */
static void on_row(pend *p, mtd_audit_walk *w, const mtd_walk_rec *c)
{
	p += c->log;
	if (!p->rows)
		p->first = c->seq;
	mtd_audit_walk_hash_row(w, &p->c);
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
static const char *ext_of(mtd_store *s, int64_t device, char *buf, size_t n)
{
	snprintf(buf, n, "?");
	mtd_store_device_ext(s, device, buf, n); /* leaves buf when there is none */
	return buf;
}

/* Every current decision against the last change the log records for its
 * device: the decision blocks are not in the chain, the changes are. A
 * device with no change logged (decided before schema 4) is not compared. */
static int check_decisions(mtd_t *h, lastlog *l)
{
	sqlite3_stmt *st = mtd_store_stmt(h->store, SQL_EVAL_DECISIONS); /* every block, in order */
	char ext[MTD_MAX_ID + 2];
	mtd_dslot slots[MTD_DBLOCK_SLOTS];
	int rc = 0, step;
	if (!st)
		return mtd_fail(h, MTD_ESTORE, "%s", mtd_store_errmsg(h->store));
	while (!rc && (step = sqlite3_step(st)) == SQLITE_ROW) {
		int64_t blk = mtd_eval_row_key(st);
		char why[256];
		if (mtd_eval_decisions_read(st, blk, slots, why, sizeof why)) {
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
					      ext_of(h->store, dev, ext, sizeof ext), (long long)oc,
					      (long long)want);
			if (want)
				l->v[dev] = -1; /* seen */
		}
	}
	if (!rc && step != SQLITE_DONE)
		rc = mtd_fail(h, MTD_ESTORE, "%s", mtd_store_errmsg(h->store));
	sqlite3_reset(st);
	for (size_t i = 1; !rc && i < l->n; i++)
		if (l->v[i] > 0)
			rc = mtd_fail(h, MTD_EMALFORMED,
				      "device '%s' has a decision in the audit log (outcome %lld) but "
				      "none in the store: it was removed",
				      ext_of(h->store, (int64_t)i, ext, sizeof ext), (long long)l->v[i]);
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
static const char *row_label(mtd_store *s, int table, int64_t k1, int64_t k2, const char *kt,
			     char *buf, size_t n)
{
	if (table == MTD_ROW_DEVICE_IDS && !kt) { /* keyed by a salted digest since schema 10 */
		snprintf(buf, n, "an identifier (the log keeps only its salted digest)");
		return buf;
	}
	snprintf(buf, n, "%s row (%lld, %lld)", mtd_row_table_name(table), (long long)k1,
		 (long long)k2);
	mtd_store_audit_row_label(s, table, k1, k2, kt, buf, n); /* buf stays when none */
	return buf;
}

/* One row that does not match the log: a diagnostic line for each of the
 * first few, the first one kept as the failure. */
typedef struct rowcheck {
	mtd_t *h;
	mtd_store *s;
	uint64_t bad;
	char first[600];
} rowcheck;

static void row_bad(rowcheck *rc, int table, int64_t k1, int64_t k2, const char *kt,
		    const char *what)
{
	char label[400], line[600];
	row_label(rc->s, table, k1, k2, kt, label, sizeof label);
	snprintf(line, sizeof line, "%s (table %s) %s", label, mtd_row_table_name(table), what);
	if (!rc->bad)
		snprintf(rc->first, sizeof rc->first, "%s", line);
	else if (rc->bad <= 20) /* the first is the failure's message */
		mtd_diag(rc->h, "audit verify: also %s", line);
	rc->bad++;
}

/* The key text of e, a row the log has and the store lacks, into buf (size
 * n): found again in the row log by its hash, only to name it. 1 found. */
typedef struct ktext_find {
	const rowent *e;
	char *buf;
	size_t n;
} ktext_find;

static int ktext_match(void *ud, const mtd_log_entry *le)
{
	ktext_find *k = ud;
	const rowent *e = k->e;
	if (le->ktext && le->table == e->table && le->device == e->k1 && le->k2 == e->k2 &&
	    !(le->nktext == MTD_IDS_LOGKEY && (unsigned char)le->ktext[0] == MTD_IDS_HASHED) &&
	    le->nktext < k->n && text_key(le->ktext, le->nktext) == e->kt) {
		memcpy(k->buf, le->ktext, le->nktext);
		k->buf[le->nktext] = '\0';
		return 1;
	}
	return 0;
}

static int row_ktext(mtd_store *s, const rowent *e, char *buf, size_t n)
{
	ktext_find k = {e, buf, n};
	return e->kt && mtd_store_audit_row_log_back(s, ktext_match, &k) == 1;
}

/* Every row of every covered table against the entry that last wrote it,
 * and every entry against a row. */
static int check_rows(mtd_t *h, rowmap *m)
{
	rowcheck rc = {h, h->store, 0, ""};
	for (int t = 0; t < MTD_ROW__COUNT; t++) {
		sqlite3_stmt *st = mtd_store_covered_scan(h->store, t);
		mtd_covered_row row;
		int got;
		if (!st)
			return mtd_fail(h, MTD_ESTORE, "%s", mtd_store_errmsg(h->store));
		while ((got = mtd_store_covered_next(st, t, &row)) == 1) {
			uint64_t key = text_key(row.ktext, row.nktext);
			rowent *e;
			if (t == MTD_ROW_DEVICE_IDS && row.ktext) { /* keyed with its device's salt */
				unsigned char salt[16];
				size_t nsalt;
				if (mtd_store_device_salt(h->store, row.device, salt, &nsalt)) {
					sqlite3_finalize(st);
					return mtd_fail(h, MTD_ESTORE, "%s", mtd_store_errmsg(h->store));
				}
				key = mtd_text_key(salt, nsalt, row.ktext, row.nktext);
			}
			e = row_find(m, t, row.k1, row.k2, key);
			if (!e)
				row_bad(&rc, t, row.k1, row.k2, row.ktext,
					"has no entry in the audit log: it was added outside mtdgate");
			else if ((e->state & 3) == ROW_DELETED)
				row_bad(&rc, t, row.k1, row.k2, row.ktext,
					"was deleted by the last entry the audit log has for it: it was "
					"put back outside mtdgate");
			else if (memcmp(e->d, row.digest, MTD_ROW_DIGEST) != 0)
				row_bad(&rc, t, row.k1, row.k2, row.ktext,
					"is not what the audit log recorded when it was last written: it "
					"was changed outside mtdgate (or its page is damaged)");
			if (e)
				e->state |= ROW_SEEN;
		}
		sqlite3_finalize(st);
		if (got)
			return mtd_fail(h, got, "reading table %s: %s", mtd_row_table_name(t),
					mtd_store_errmsg(h->store));
	}
	for (size_t i = 0; i < m->cap; i++)
		if (m->v[i].state == ROW_PRESENT) {
			char kt[257];
			int named = rc.bad <= 20 && row_ktext(h->store, &m->v[i], kt, sizeof kt);
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
static int check_pages(mtd_t *h)
{
	char msg[600];
	int rc = mtd_store_audit_pages(h->store, msg, sizeof msg);
	if (rc == 2)
		return mtd_fail(h, MTD_EMALFORMED, "the store's pages are damaged (SQLite: %s)", msg);
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

static int prune_start(mtd_t *h, int64_t *from, unsigned char prev[32], lastlog *l);

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

/* The chain hash of audit record a (seq, at): over its device and detail,
 * or since schema 10 over pd. */
static void record_hash(const unsigned char prev[32], const mtd_audit_row *a, int64_t seq,
			int64_t at, unsigned char out[32])
{
	if (a->npd != 32)
		mtd_audit_hash(prev, seq, at, a->kind, a->vendor, a->device, a->detail, out);
	else
		mtd_audit_hash_pd(prev, seq, at, a->kind, a->vendor, a->pd, out);
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

static int check_personal(mtd_t *h, const mtd_audit_row *a, int64_t seq, int64_t at,
			  erasures *er)
{
	const char *kind = a->kind, *detail = a->detail;
	unsigned char pd[32];
	if (kind && !strcmp(kind, "device_removed") && a->nsalt >= 0 &&
	    erased_named(h, er, seq, detail))
		return MTD_EMALFORMED;
	if (a->npd < 0)
		return 0; /* written before schema 10 */
	if (a->npd != 32)
		return mtd_fail(h, MTD_EMALFORMED, "audit record %lld: its digest is damaged",
				(long long)seq);
	if (a->nsalt < 0) { /* erased */
		if (!a->device_null || !detail || strcmp(detail, MTD_AUDIT_ERASED))
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
	if (a->nsalt != MTD_AUDIT_SALT)
		return mtd_fail(h, MTD_EMALFORMED, "audit record %lld: its salt is damaged",
				(long long)seq);
	mtd_audit_pdigest(a->salt, a->device, detail, pd);
	if (memcmp(pd, a->pd, 32))
		return mtd_fail(h, MTD_EMALFORMED,
				"audit record %lld (%s at %lld) does not match its hash: it was "
				"changed, or a record before it was", (long long)seq, kind ? kind : "?",
				(long long)at);
	return 0;
}

/* ---- the chain, record by record ----
 * What verify checks of every record of the store's walk and of an
 * archive's alike, each in its own words: the store's records are "audit
 * record N", an archive's "record N". */
typedef struct chain {
	mtd_t *h;
	int archive;
	int64_t expect;           /* the next record's number */
	uint64_t n;               /* records that held */
	unsigned char prev[32];   /* the chain's hash after the last audit record */
	unsigned char before[32]; /* and before it */
	pend p[MTD_LOG__COUNT];
	erasures er;
} chain;

/* A chain from record first on, prev the hash before it; erasures may name
 * records from erased_from on. */
static void chain_init(chain *ch, mtd_t *h, int archive, int64_t first, int64_t erased_from,
		       const unsigned char prev[32])
{
	memset(ch, 0, sizeof *ch);
	ch->h = h;
	ch->archive = archive;
	ch->expect = first;
	ch->er.from = erased_from;
	memcpy(ch->prev, prev, 32);
	for (int i = 0; i < MTD_LOG__COUNT; i++)
		mtd_sha256_init(&ch->p[i].c);
}

/* Record c of walk w: the next number, readable, into its log's pending
 * digest; an audit record (its columns into *a) hashes to its chain hash
 * after the one before it, keeps the erasure rules and, a seal, matches
 * what it seals. */
static int chain_record(chain *ch, mtd_audit_walk *w, const mtd_walk_rec *c, mtd_audit_row *a)
{
	mtd_t *h = ch->h;
	unsigned char want[32];
	int64_t seq = c->seq;
	int rc;

	if (seq != ch->expect) {
		if (ch->archive)
			return mtd_fail(h, MTD_EMALFORMED, "record %lld is missing, out of order or "
					"twice: the chain breaks there", (long long)ch->expect);
		if (seq > ch->expect)
			return mtd_fail(h, MTD_EMALFORMED, "audit records %lld to %lld are missing: "
					"the chain breaks there", (long long)ch->expect,
					(long long)seq - 1);
		return mtd_fail(h, MTD_EMALFORMED, "audit record %lld is out of order or twice",
				(long long)seq);
	}
	if (c->bad)
		return mtd_fail(h, MTD_EMALFORMED, "%s %lld: a block of the %s log whose entries do "
				"not read as it says: it was changed", ch->archive ? "record" :
				"audit record", (long long)seq, mtd_log_name(c->log));
	if (c->src != MTD_SRC_AUDIT) {
		if (c->i == 0)
			on_row(ch->p, w, c);
		return 0;
	}
	mtd_audit_walk_audit(w, a);
	/* an archive's erasures may be named by a removal record in the live
	 * log: there only the digests are checked */
	if ((rc = check_personal(h, a, seq, c->at, &ch->er)))
		return rc;
	record_hash(ch->prev, a, seq, c->at, want);
	if (a->nhash != 32 || memcmp(a->hash, want, 32) != 0)
		return ch->archive
			       ? mtd_fail(h, MTD_EMALFORMED, "record %lld (%s) does not match its "
					  "hash: it was changed, or a record before it was",
					  (long long)seq, a->kind ? a->kind : "?")
			       : mtd_fail(h, MTD_EMALFORMED, "audit record %lld (%s at %lld) does not "
					  "match its hash: it was changed, or a record before it was",
					  (long long)seq, a->kind ? a->kind : "?", (long long)c->at);
	memcpy(ch->before, ch->prev, 32);
	memcpy(ch->prev, want, 32);
	if (a->kind && !strcmp(a->kind, "seal"))
		return check_seal(h, seq, a->detail ? a->detail : "", ch->p);
	return 0;
}

/* Every record of w through chain_record, then also (when given; a NULL
 * for a record that is not an audit record) before it counts. 0, the
 * first failure, or MTD_ESTORE when the walk could not go on. */
static int chain_walk(chain *ch, mtd_audit_walk *w,
		      int (*also)(void *ud, const mtd_walk_rec *c, const mtd_audit_row *a),
		      void *ud)
{
	const mtd_walk_rec *c;
	mtd_audit_row a;
	int rc, got;
	while ((got = mtd_audit_walk_next(w, &c)) > 0) {
		if ((rc = chain_record(ch, w, c, &a)) ||
		    (also && (rc = also(ud, c, c->src == MTD_SRC_AUDIT ? &a : NULL))))
			return rc;
		ch->expect++;
		ch->n++;
	}
	return got ? mtd_fail(ch->h, MTD_ESTORE, "%s", mtd_audit_walk_errmsg(w)) : 0;
}

/* At the end: no log has entries no seal covers. */
static int chain_end(chain *ch)
{
	for (int i = 0; i < MTD_LOG__COUNT; i++)
		if (ch->p[i].rows)
			return mtd_fail(ch->h, MTD_EMALFORMED, "%llu %s entries from %s %lld on are "
					"not sealed%s", (unsigned long long)ch->p[i].rows,
					mtd_log_name(i), ch->archive ? "record" : "audit record",
					(long long)ch->p[i].first,
					ch->archive ? "" : ": they were added after the fact");
	return 0;
}

/* What verify checks of the store's records besides the chain: the
 * decision changes and row entries it collects, the checkpoints. */
typedef struct verifier {
	chain *ch;
	expects *x;
	lastlog *last;
	rowmap *rows;
} verifier;

static int verify_also(void *ud, const mtd_walk_rec *c, const mtd_audit_row *a)
{
	verifier *v = ud;
	expects *x = v->x;
	mtd_t *h = v->ch->h;
	int64_t seq = c->seq;
	int rc = 0;

	if (!a) {
		if (c->src == MTD_SRC_DECISIONS && last_set(v->last, c->e.device, c->e.outcome))
			return mtd_fail(h, MTD_ENOMEM, "out of memory");
		if (c->src == MTD_SRC_MESSAGES && c->e.table >= 0)
			rc = row_set(v->rows, c->e.table, c->e.device, c->connector, 0, c->e.digest);
		else if (c->src == MTD_SRC_ROWS)
			rc = row_set(v->rows, c->e.table, c->e.device, c->e.k2,
				     text_key(c->e.ktext, c->e.nktext),
				     c->e.present ? c->e.digest : NULL);
		if (rc)
			return mtd_fail(h, rc, "out of memory");
		if (x->have_file && seq == x->file.seq)
			return mtd_fail(h, MTD_EMALFORMED, "the checkpoint's record %lld is not a "
					"record of the chain: the log was rewritten", (long long)seq);
		return 0;
	}
	/* a checkpoint holds the chain's hash before its own record */
	if (a->kind && !strcmp(a->kind, "checkpoint") &&
	    (rc = check_recorded(h, x, seq, a->detail, v->ch->before)))
		return rc;
	if (x->want_head && !memcmp(v->ch->prev, x->head, 32))
		x->head_found = 1;
	if (x->have_file && seq == x->file.seq) {
		unsigned char fh[32];
		from_hex(x->file.head, 32, fh);
		if (memcmp(fh, v->ch->prev, 32))
			return mtd_fail(h, MTD_EMALFORMED,
					"audit record %lld is not the one the checkpoint signed at "
					"%lld holds (head %s): the log up to it was rewritten",
					(long long)seq, x->file.at, x->file.head);
		x->file_found = 1;
	}
	return 0;
}

int mtd_audit_verify(mtd_t *h, uint64_t *records, char head[65])
{
	return mtd_audit_verify_expect(h, NULL, records, head);
}

int mtd_audit_verify_expect(mtd_t *h, mtd_audit_expect *xin, uint64_t *records, char head[65])
{
	unsigned char prev[32] = {0};
	mtd_audit_walk *w = NULL;
	lastlog last = {0};
	rowmap rows = {0};
	expects x;
	chain ch;
	verifier v = {&ch, &x, &last, &rows};
	int64_t from = 0;
	uint64_t n;
	int rc = mtd_need_store_readonly(h);

	*records = 0;
	head[0] = '\0';
	if (rc || (rc = expect_init(h, xin, &x)))
		return rc;
	/* One read transaction: a consistent snapshot while others write. */
	if (mtd_store_read_begin(h->store))
		return mtd_fail(h, MTD_ESTORE, "%s", mtd_store_errmsg(h->store));
	rc = check_pages(h);
	if (!rc)
		rc = prune_start(h, &from, prev, &last);
	/* pruned: the chain goes on from the prune point */
	chain_init(&ch, h, 0, from ? from : 1, from, prev);
	if (!rc && (rc = mtd_audit_walk_verify(h->store, from, &w)))
		rc = mtd_fail(h, rc, "%s", rc == MTD_ENOMEM ? "out of memory"
						      : mtd_store_errmsg(h->store));
	if (!rc)
		rc = chain_walk(&ch, w, verify_also, &v);
	for (size_t k = 0; !rc && k < ch.er.n; k++)
		if (ch.er.v[k] > 0)
			rc = mtd_fail(h, MTD_EMALFORMED,
				      "audit record %lld was erased, but no device removal records "
				      "that it erased it: it was erased outside mtdgate",
				      (long long)ch.er.v[k]);
	if (!rc)
		rc = chain_end(&ch);
	n = ch.n;
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
		rc = check_decisions(h, &last);
	if (!rc)
		rc = check_rows(h, &rows);
	if (!rc && xin) {
		xin->checkpoints = x.recorded;
		xin->last_seq = x.file_found ? x.file.seq : x.last.seq;
		xin->last_at = x.file_found ? x.file.at : x.last.at;
	}
	*records = n;
	to_hex(ch.prev, 32, head);
	free(last.v);
	free(rows.v);
	free(ch.er.v);
	mtd_audit_walk_close(w);
	mtd_store_read_end(h->store);
	return rc;
}

int mtd_audit_checkpoint(mtd_t *h, const char *key_path, char *out, size_t n)
{
	unsigned char priv[32], pub[32], sig[64], last[32];
	char head[65], lhex[65], msg[200], detail[400], sighex[129], pubhex[65];
	uint64_t records;
	int64_t seq = 0;
	mtd_audit_last l;
	int rc;

	if ((rc = mtd_need_store(h)) || (rc = load_key(h, key_path, 1, priv)))
		return rc;
	ed25519_sha512_public_key(pub, priv);
	/* never sign a log that does not verify */
	if ((rc = mtd_audit_verify(h, &records, head)))
		goto out;
	if ((rc = mtd_begin(h)))
		goto out;
	if (mtd_store_audit_last(h->store, &l) == 1 && l.has_hash) {
		seq = l.seq;
		memcpy(last, l.hash, 32);
	}
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
	mtd_audit_last l;
	int rc = mtd_need_store_readonly(h);

	*seq = 0;
	*at = 0;
	head[0] = '\0';
	if (rc)
		return rc;
	rc = mtd_store_audit_last(h->store, &l);
	if (rc == 1 && l.has_hash) {
		*seq = l.seq;
		*at = l.at;
		to_hex(l.hash, 32, head);
		return 0;
	}
	if (rc == 1)
		return mtd_fail(h, MTD_EMALFORMED, "audit record %lld has no hash (run 'mtdgate audit "
				"verify')", (long long)l.seq);
	if (rc == 0)
		return mtd_fail(h, MTD_ENOTFOUND, "the audit log is empty");
	return mtd_fail(h, MTD_ESTORE, "%s", mtd_store_errmsg(h->store));
}

/* After audit prune, the log starts at a prune point: the records before it
 * are in an archive, except the decision log blocks that hold a device's
 * last change and the outcomes still referred to, which stay below it. The
 * latest 'pruned' record names the point, the chain's hash before it, and
 * the count and SHA-256 of what stayed below (kept_rows). */
#define PRUNED_FMT "{\"from\":%lld,\"prev\":\"%64[0-9a-f]\",\"kept\":%llu,\"kept_sha256\":\"%64[0-9a-f]\""

/* The rows below from (decision log blocks, then outcomes, each in order)
 * into a SHA-256 and a count; their decision entries into l when given. */
typedef struct kept_dec {
	mtd_t *h;
	lastlog *l;
} kept_dec;

static int kept_entry(void *ud, const mtd_dlog_block *b, int64_t i, const mtd_log_entry *e)
{
	kept_dec *k = ud;
	(void)i;
	if (!e)
		return mtd_fail(k->h, MTD_EMALFORMED, "audit record %lld: a kept block of the "
				"decisions log that cannot be read", (long long)b->seq);
	return last_set(k->l, e->device, e->outcome) ? mtd_fail(k->h, MTD_ENOMEM, "out of memory")
						       : 0;
}

static int kept_rows(mtd_t *h, int64_t from, unsigned char out[32], uint64_t *n, lastlog *l)
{
	kept_dec k = {h, l};
	mtd_sha256 c;
	int rc;
	mtd_sha256_init(&c);
	rc = mtd_store_audit_kept(h->store, from, &c, n, l ? kept_entry : NULL, &k);
	if (rc == MTD_ESTORE)
		rc = mtd_fail(h, rc, "%s", mtd_store_errmsg(h->store));
	mtd_sha256_final(&c, out);
	return rc;
}

static int prune_start(mtd_t *h, int64_t *from, unsigned char prev[32], lastlog *l)
{
	tbuf d = {0};
	long long f = 0, pseq = 0;
	int64_t seq = 0;
	unsigned long long nkept = 0;
	char phex[65], khex[65];
	unsigned char want[32], got[32];
	uint64_t n;
	int rc = 0, found;

	*from = 0;
	found = mtd_store_audit_last_pruned(h->store, &seq, &d);
	if (found == 1) {
		pseq = seq;
		if (sscanf(d.p ? d.p : "", PRUNED_FMT, &f, phex, &nkept, khex) != 4 || f < 2 ||
		    f > pseq || from_hex(phex, 32, prev) || from_hex(khex, 32, want))
			rc = mtd_fail(h, MTD_EMALFORMED, "audit record %lld: a prune record that "
				      "cannot be read", pseq);
	} else if (found == MTD_ENOMEM) {
		rc = mtd_fail(h, MTD_ENOMEM, "out of memory");
	} else if (found) {
		rc = mtd_fail(h, MTD_ESTORE, "%s", mtd_store_errmsg(h->store));
	}
	free(d.p);
	if (rc || !f)
		return rc;
	if ((rc = kept_rows(h, f, got, &n, l)))
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

/* The chain of the archive's five tables from seq first (prev: the hash
 * before it) through its end: every record in order, every block readable,
 * every seal matching what it covers, nothing left unsealed. *records and
 * the hash at the end (out) when it holds. */
static int walk_chain(mtd_t *h, mtd_audit_archive *arch, int64_t first,
		      const unsigned char prev0[32], uint64_t *records, unsigned char out[32])
{
	mtd_audit_walk *w;
	chain ch;
	int rc;

	chain_init(&ch, h, 1, first, first, prev0);
	if ((rc = mtd_audit_archive_walk(arch, &w)))
		rc = mtd_fail(h, rc, "%s", w ? mtd_audit_walk_errmsg(w) : "out of memory");
	if (!rc)
		rc = chain_walk(&ch, w, NULL, NULL);
	if (!rc)
		rc = chain_end(&ch);
	mtd_audit_walk_close(w);
	free(ch.er.v);
	*records = ch.n;
	memcpy(out, ch.prev, 32);
	return rc;
}

int mtd_audit_verify_archive(mtd_t *h, const char *path, mtd_archive_info *ai)
{
	mtd_audit_archive *a;
	char fmt[64], first[32], last[32], prevhex[80], headhex[80], err[600];
	unsigned char prev[32], head[32], got[32];
	uint64_t n;
	int rc;

	memset(ai, 0, sizeof *ai);
	if ((rc = mtd_audit_archive_open(path, &a, err, sizeof err)))
		return mtd_fail(h, rc, "%s", err);
	if (mtd_audit_archive_begin(a) || !mtd_audit_archive_info(a, "format", fmt, sizeof fmt) ||
	    strcmp(fmt, MTD_AUDIT_ARCHIVE_TAG) ||
	    !mtd_audit_archive_info(a, "first", first, sizeof first) ||
	    !mtd_audit_archive_info(a, "last", last, sizeof last) ||
	    !mtd_audit_archive_info(a, "prev", prevhex, sizeof prevhex) ||
	    !mtd_audit_archive_info(a, "head", headhex, sizeof headhex) || strlen(prevhex) != 64 ||
	    strlen(headhex) != 64 || from_hex(prevhex, 32, prev) || from_hex(headhex, 32, head)) {
		mtd_audit_archive_close(a);
		return mtd_fail(h, MTD_EMALFORMED, "%s is not an mtdgate audit archive", path);
	}
	ai->first = strtoll(first, NULL, 10);
	ai->last = strtoll(last, NULL, 10);
	memcpy(ai->prev, prevhex, 65);
	memcpy(ai->head, headhex, 65);
	rc = walk_chain(h, a, ai->first, prev, &n, got);
	ai->records = n;
	if (!rc && (int64_t)n != ai->last - ai->first + 1)
		rc = mtd_fail(h, MTD_EMALFORMED, "%s holds %llu records, not %lld to %lld: records were "
			      "removed or added", path, (unsigned long long)n, (long long)ai->first,
			      (long long)ai->last);
	if (!rc && memcmp(got, head, 32))
		rc = mtd_fail(h, MTD_EMALFORMED, "%s: the chain ends at another hash than the "
			      "archive's head: it was rewritten", path);
	mtd_audit_archive_close(a);
	return rc;
}

/* ---- prune ---- */

/* Where a prune before `before` may cut, walking from the log's start:
 * the number after the last audit record dated before it after which no
 * log has unsealed entries (*cut, 0: none), the chain's hash there, and
 * the records before it. */
static int find_cut(mtd_t *h, int64_t from, int64_t before, int64_t *cut, unsigned char hash[32],
		    uint64_t *records)
{
	mtd_audit_walk *w;
	const mtd_walk_rec *c;
	uint64_t pending[MTD_LOG__COUNT] = {0}, n = 0;
	int rc;

	*cut = 0;
	*records = 0;
	if ((rc = mtd_audit_walk_verify(h->store, from, &w)))
		rc = mtd_fail(h, rc, "%s", rc == MTD_ENOMEM ? "out of memory"
						      : mtd_store_errmsg(h->store));
	while (!rc) {
		int got = mtd_audit_walk_next(w, &c);
		if (got <= 0) {
			if (got)
				rc = mtd_fail(h, MTD_ESTORE, "%s", mtd_store_errmsg(h->store));
			break;
		}
		if (c->at >= before)
			break;
		n++;
		if (c->src != MTD_SRC_AUDIT && c->i == 0)
			pending[c->log] += c->block ? c->n : 1;
		if (c->src == MTD_SRC_AUDIT) {
			mtd_audit_row a;
			int idle = 1;
			mtd_audit_walk_audit(w, &a);
			if (a.kind && !strcmp(a.kind, "seal") && a.detail)
				for (int k = 0; k < MTD_LOG__COUNT; k++) {
					char want[32];
					snprintf(want, sizeof want, "{\"log\":\"%s\"", mtd_log_name(k));
					if (!strncmp(a.detail, want, strlen(want)))
						pending[k] = 0;
				}
			for (int k = 0; k < MTD_LOG__COUNT; k++)
				idle &= pending[k] == 0;
			if (idle && a.nhash == 32) {
				*cut = c->seq + 1;
				memcpy(hash, a.hash, 32);
				*records = n;
			}
		}
	}
	mtd_audit_walk_close(w);
	return rc;
}

/* Which rows below cut stay: the decision log block holding each device's
 * last change when that change is before cut, and the outcomes a current
 * decision or a remaining decision change refers to (mtd_audit_keep). */
typedef struct marker {
	mtd_t *h;
	mtd_audit_keep *k;
	int64_t cut;
	int64_t *lastblk; /* per device: the block of its last change, -1 after cut */
	size_t nlast;
	int stays; /* the block being walked stays */
} marker;

/* first pass: each device's last change */
static int mark_last(void *ud, const mtd_dlog_block *b, int64_t i, const mtd_log_entry *e)
{
	marker *m = ud;
	int64_t *v;
	if (!e)
		return mtd_fail(m->h, MTD_EMALFORMED, "decision log block %lld cannot be read",
				(long long)b->seq);
	if (e->device <= 0 || e->device >= (1 << 30))
		return 0;
	if (!(v = mtd_grow_zeroed(m->lastblk, &m->nlast, (size_t)e->device, sizeof *v)))
		return mtd_fail(m->h, MTD_ENOMEM, "out of memory");
	m->lastblk = v;
	m->lastblk[e->device] = b->seq + i < m->cut ? b->seq : -1;
	return 0;
}

/* second pass: the outcomes of every change that stays (an entry that
 * does not read ends its block's) */
static int mark_outcomes(void *ud, const mtd_dlog_block *b, int64_t i, const mtd_log_entry *e)
{
	marker *m = ud;
	if (i == 0)
		m->stays = b->seq >= m->cut || mtd_audit_keep_has_block(m->k, b->seq);
	if (!m->stays || !e)
		return 0;
	if (mtd_audit_keep_add(m->k, MTD_KEEP_OUTCOME, e->outcome) ||
	    mtd_audit_keep_add(m->k, MTD_KEEP_OUTCOME, e->prev))
		return mtd_fail(m->h, MTD_ESTORE, "%s", mtd_store_errmsg(m->h->store));
	return 0;
}

static int mark_kept(mtd_t *h, int64_t cut)
{
	marker m = {h, NULL, cut, NULL, 0, 0};
	mtd_dslot slots[MTD_DBLOCK_SLOTS];
	sqlite3_stmt *st;
	int rc, step;

	if ((rc = mtd_audit_keep_open(h->store, &m.k))) {
		rc = mtd_fail(h, rc, "%s", rc == MTD_ENOMEM ? "out of memory"
						      : mtd_store_errmsg(h->store));
		goto out;
	}
	rc = mtd_store_audit_dlog_entries(h->store, mark_last, &m);
	for (size_t d = 0; !rc && d < m.nlast; d++)
		if (m.lastblk[d] > 0 && mtd_audit_keep_add(m.k, MTD_KEEP_BLOCK, m.lastblk[d]))
			rc = mtd_fail(h, MTD_ESTORE, "%s", mtd_store_errmsg(h->store));
	if (!rc)
		rc = mtd_store_audit_dlog_entries(h->store, mark_outcomes, &m);
	if (rc == MTD_ESTORE)
		rc = mtd_fail(h, rc, "%s", mtd_store_errmsg(h->store));
	if (rc)
		goto out;
	/* the current decisions' */
	if (!(st = mtd_store_stmt(h->store, SQL_EVAL_DECISIONS))) {
		rc = mtd_fail(h, MTD_ESTORE, "%s", mtd_store_errmsg(h->store));
		goto out;
	}
	while (!rc && (step = sqlite3_step(st)) == SQLITE_ROW) {
		char why[256];
		if (mtd_eval_decisions_read(st, mtd_eval_row_key(st), slots, why, sizeof why)) {
			rc = mtd_fail(h, MTD_EMALFORMED, "%s", why);
			break;
		}
		for (int k = 0; !rc && k < MTD_DBLOCK_SLOTS; k++)
			if (slots[k].outcome &&
			    mtd_audit_keep_add(m.k, MTD_KEEP_OUTCOME, slots[k].outcome))
				rc = mtd_fail(h, MTD_ESTORE, "%s", mtd_store_errmsg(h->store));
	}
	if (!rc && step != SQLITE_DONE)
		rc = mtd_fail(h, MTD_ESTORE, "%s", mtd_store_errmsg(h->store));
	sqlite3_reset(st);
out:
	mtd_audit_keep_close(m.k);
	free(m.lastblk);
	return rc;
}

int mtd_audit_prune(mtd_t *h, int64_t before, const char *archive, mtd_prune_stats *ps)
{
	unsigned char prev0[32] = {0}, cuthash[32], kept[32];
	char prevhex[65], cuthex[65], khex[65], num[32], detail[400], err[600];
	uint64_t records, nkept, copied = 0;
	int64_t from = 0, cut;
	lastlog unused = {0};
	mtd_sqlfile f;
	int rc;

	memset(ps, 0, sizeof *ps);
	if (!archive || before <= 0)
		return mtd_fail(h, MTD_EUSAGE, "prune: a time and an archive file are needed");
	/* never prune a log that does not verify: what goes to the archive and
	 * what stays must both be intact */
	if ((rc = mtd_need_store(h)) || (rc = mtd_audit_verify(h, &records, cuthex)))
		return rc;
	if (mtd_store_begin(h->store))
		return mtd_fail(h, MTD_ESTORE, "%s", mtd_store_errmsg(h->store));
	if ((rc = prune_start(h, &from, prev0, &unused)))
		goto fail;
	free(unused.v);
	if (!from)
		from = 1;
	if ((rc = find_cut(h, from, before, &cut, cuthash, &records)))
		goto fail;
	if (cut <= from) {
		mtd_store_rollback(h->store);
		return 0; /* nothing before that time */
	}
	to_hex(prev0, 32, prevhex);
	to_hex(cuthash, 32, cuthex);
	/* 1. the archive, complete and durable before anything is removed */
	if ((rc = mtd_sqlfile_begin(h, &f, archive, NULL, mtd_audit_archive_schema)))
		goto fail;
	if ((rc = mtd_store_audit_archive_rows(h->store, f.db, from, cut, &copied, err,
					       sizeof err)))
		rc = mtd_fail(h, rc, "%s", err);
	snprintf(num, sizeof num, "%lld", (long long)from);
	if (!rc && (mtd_store_file_info_put(f.db, "format", MTD_AUDIT_ARCHIVE_TAG) ||
		    mtd_store_file_info_put(f.db, "first", num) ||
		    (snprintf(num, sizeof num, "%lld", (long long)cut - 1), 0) ||
		    mtd_store_file_info_put(f.db, "last", num) ||
		    mtd_store_file_info_put(f.db, "prev", prevhex) ||
		    mtd_store_file_info_put(f.db, "head", cuthex)))
		rc = mtd_fail(h, MTD_EIO, "%s: %s", archive, sqlite3_errmsg(f.db));
	/* the names the entries' row ids had */
	if (!rc && (rc = mtd_store_audit_archive_names(h->store, f.db, archive, err, sizeof err)))
		rc = mtd_fail(h, rc, "%s", err);
	if (rc) {
		mtd_sqlfile_abort(&f);
		goto fail;
	}
	if ((rc = mtd_sqlfile_finish(h, &f)))
		goto fail;
	mtd_test_stop("prune-archived", 0);
	/* 2. what stays below the cut, then everything else below it removed
	 * (the triggers that refuse deletes lifted for this transaction only) */
	if ((rc = mark_kept(h, cut)))
		goto fail;
	if (mtd_store_audit_prune_below(h->store, cut))
		rc = mtd_fail(h, MTD_ESTORE, "%s", mtd_store_errmsg(h->store));
	/* 3. the rows whose last entries went are covered again, and the
	 * prune point recorded in the chain */
	if (!rc && mtd_store_rebaseline(h->store))
		rc = mtd_fail(h, MTD_ESTORE, "%s", mtd_store_errmsg(h->store));
	if (!rc)
		rc = kept_rows(h, cut, kept, &nkept, NULL);
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
