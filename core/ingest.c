/* Everything that writes input into the store: device and inventory import,
 * and ingest of channel messages (through a plugin or normalized), gated by
 * the connector's state (R1) and driving its lifecycle (R2). Writes go in
 * batched transactions; counts reported as accepted are committed ones. */
#include <stdlib.h>
#include <sys/stat.h>
#include <string.h>

#include "codec.h"
#include "connector.h"
#include "mtd_int.h"
#include "plugin_child.h"
#include "plugin_host.h"


/* Device ids by external id, loaded once for a large ingest: the look-up
 * in the store's text index was the biggest cost a message had. A device's
 * row id never changes and devices are not deleted, so a hit is always
 * right; a miss (a device imported since, or no map) asks the store.
 * Entries are in ext_id order (SQLite's BINARY: bytes, then length): a
 * message for the device after the last one found, as in input ordered by
 * device, is one compare on the next entry; any other a binary search. */
typedef struct devmap {
	char *text;     /* per entry: length byte, the id's bytes, row id (8 bytes) */
	size_t ntext, text_cap;
	uint32_t *off;  /* entry i starts at text + off[i] */
	size_t n, cur;  /* cur: the entry after the last one found */
} devmap;

typedef struct run {
	mtd_t *h;
	mtd_reader *rd;
	mtd_stats *st;
	uint64_t pend_accepted, pend_rejected; /* in the open transaction */
	uint64_t in_batch;
	uint64_t commits;       /* batches committed so far */
	/* ingest */
	mtd_conn conn;
	int conn_dirty;
	const char *vendor;
	struct inv_state *inv;  /* inventory import */
	devmap *dm;             /* ingest of many messages */
	struct gsc {            /* device import: group sets seen, by key */
		uint64_t h;
		int64_t id;     /* 0: empty */
		size_t n;
		char *key;
	} gsc[64];
} run;

static void gsc_free(run *r)
{
	for (size_t i = 0; i < sizeof r->gsc / sizeof *r->gsc; i++)
		free(r->gsc[i].key);
}

static void dm_free(devmap *m)
{
	if (!m)
		return;
	free(m->text);
	free(m->off);
	free(m);
}

/* Entry i against (p, n) in BINARY order: < 0, 0, > 0. */
static int dm_cmp(const devmap *m, size_t i, const char *p, size_t n)
{
	const unsigned char *e = (const unsigned char *)m->text + m->off[i];
	size_t len = e[0];
	int c = memcmp(e + 1, p, len < n ? len : n);
	return c ? c : (len > n) - (len < n);
}

static int64_t dm_id(const devmap *m, size_t i)
{
	const char *e = m->text + m->off[i];
	int64_t id;
	memcpy(&id, e + 1 + (unsigned char)e[0], sizeof id);
	return id;
}

static int64_t dm_find(devmap *m, const char *p, size_t n)
{
	size_t lo = 0, hi = m->n;
	if (m->cur < m->n && dm_cmp(m, m->cur, p, n) == 0)
		return dm_id(m, m->cur++);
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int c = dm_cmp(m, mid, p, n);
		if (c == 0) {
			m->cur = mid + 1;
			return dm_id(m, mid);
		}
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return 0;
}

/* Every device of the store into a map, or NULL when it would take more
 * than DM_MAX_BYTES, or the store does not give the ids in order (then the
 * store answers each look-up). */
#define DM_MAX_BYTES (96u << 20)
static devmap *dm_load(sqlite3 *db, int64_t ndev)
{
	devmap *m = calloc(1, sizeof *m);
	sqlite3_stmt *st = NULL;
	int step;

	if (!m)
		return NULL;
	m->text_cap = (size_t)ndev * 24;
	if ((uint64_t)ndev * sizeof *m->off + m->text_cap > DM_MAX_BYTES ||
	    !(m->off = malloc((size_t)ndev * sizeof *m->off)) || !(m->text = malloc(m->text_cap)) ||
	    sqlite3_prepare_v2(db, "SELECT ext_id, id FROM devices ORDER BY ext_id", -1, &st,
			       NULL) != SQLITE_OK)
		goto fail;
	while ((step = sqlite3_step(st)) == SQLITE_ROW) {
		const char *t = (const char *)sqlite3_column_text(st, 0);
		size_t n = (size_t)sqlite3_column_bytes(st, 0);
		int64_t id = sqlite3_column_int64(st, 1);
		if (!t || n > 255 || m->n >= (size_t)ndev)
			goto fail; /* more devices than max(id) said: not ours to guess */
		if (m->n && dm_cmp(m, m->n - 1, t, n) >= 0)
			goto fail; /* not in BINARY order: the binary search would be wrong */
		if (m->ntext + n + 9 > m->text_cap) {
			size_t nc = m->text_cap * 2;
			char *nt;
			if ((uint64_t)ndev * sizeof *m->off + nc > DM_MAX_BYTES || nc > 0xffffffffu ||
			    !(nt = realloc(m->text, nc)))
				goto fail;
			m->text = nt;
			m->text_cap = nc;
		}
		m->off[m->n++] = (uint32_t)m->ntext;
		m->text[m->ntext] = (char)(unsigned char)n;
		memcpy(m->text + m->ntext + 1, t, n);
		memcpy(m->text + m->ntext + 1 + n, &id, sizeof id);
		m->ntext += n + 9;
	}
	if (step != SQLITE_DONE)
		goto fail;
	sqlite3_finalize(st);
	return m;
fail:
	sqlite3_finalize(st);
	dm_free(m);
	return NULL;
}

/* Load the map when the input looks like many messages for a large store:
 * a regular file of at least a quarter as many minimal (48-byte) messages
 * as there are devices. Otherwise look-ups go to the store. */
static void dm_maybe(run *r, FILE *in)
{
	struct stat sb;
	int64_t ndev;
	if (fstat(fileno(in), &sb) != 0 || !S_ISREG(sb.st_mode))
		return;
	ndev = mtd_store_max_device(r->h->store);
	if (ndev >= 10000 && ndev < (1 << 28) && (uint64_t)sb.st_size / 48 >= (uint64_t)ndev / 4)
		r->dm = dm_load(mtd_store_db(r->h->store), ndev);
}

static int begin(run *r)
{
	return mtd_store_begin(r->h->store)
		       ? mtd_fail(r->h, MTD_ESTORE, "%s", mtd_store_errmsg(r->h->store))
		       : 0;
}

static int save_conn(run *r)
{
	if (!r->conn_dirty)
		return 0;
	r->conn_dirty = 0;
	return mtd_conn_save(r->h->store, &r->conn, r->h->now)
		       ? mtd_fail(r->h, MTD_ESTORE, "%s", mtd_store_errmsg(r->h->store))
		       : 0;
}

static int commit(run *r)
{
	int rc = save_conn(r);
	if (rc || mtd_store_commit(r->h->store)) {
		mtd_store_rollback(r->h->store);
		return rc ? rc : mtd_fail(r->h, MTD_ESTORE, "%s", mtd_store_errmsg(r->h->store));
	}
	r->st->accepted += r->pend_accepted;
	r->st->rejected += r->pend_rejected;
	r->pend_accepted = r->pend_rejected = 0;
	/* everything read so far is now durable; a final commit after a full
	 * batch adds nothing to acknowledge */
	if (r->h->progress && (r->in_batch || !r->st->records))
		r->h->progress(r->h->progress_ud, "committed", 0, 0, r->st->records);
	r->in_batch = 0;
	mtd_test_stop("ingest-committed", ++r->commits);
	return 0;
}

static int maybe_commit(run *r)
{
	int rc;
	if (++r->in_batch < r->h->batch)
		return 0;
	if ((rc = commit(r)))
		return rc;
	return begin(r);
}

static void bad_record(run *r, const char *why)
{
	r->st->malformed++;
	mtd_diag(r->h, "%s: %s", mtd_reader_where(r->rd), why);
}

static int store_fail(run *r)
{
	return mtd_fail(r->h, MTD_ESTORE, "%s: %s", mtd_reader_where(r->rd),
			sqlite3_errmsg(mtd_store_db(r->h->store)));
}

/* Pages of WAL after which a bulk run's commit copies them into the
 * database (SQLite's default is 1,000): a commit per batch made each batch
 * copy the pages it had touched, the same upper B-tree pages again and
 * again. Every commit is still on disk in the WAL when acknowledged; the
 * WAL grows to about this much (64 MiB) before it is folded in. */
#define BULK_WAL_PAGES 16384

/* Run the reader over every record, calling fn per parsed record, inside
 * batched transactions. */
static int each_record(run *r, FILE *in, const char *name, int parse,
		       int (*fn)(run *, const mtd_record *))
{
	mtd_record rec;
	char why[600];
	int rc, k;
	struct stat sb;
	uint64_t total = fstat(fileno(in), &sb) == 0 && S_ISREG(sb.st_mode) ? (uint64_t)sb.st_size : 0;
	const char *what = r->inv ? "inventory" : r->vendor ? "ingest" : "devices";

	r->rd = mtd_reader_new(in, name);
	if (!r->rd)
		return mtd_fail(r->h, MTD_ENOMEM, "out of memory");
	sqlite3_wal_autocheckpoint(mtd_store_db(r->h->store), BULK_WAL_PAGES);
	if ((rc = begin(r)))
		goto out;
	while ((k = mtd_reader_next(r->rd, &rec, parse, why, sizeof why)) != 0) {
		if (k == MTD_EMALFORMED) {
			r->st->records++;
			bad_record(r, why);
			continue;
		}
		if (k < 0) {
			rc = mtd_fail(r->h, k, "%s: %s", name,
				      k == MTD_EIO ? "read error" : mtd_strerror(k));
			break;
		}
		r->st->records++;
		if ((rc = fn(r, &rec)) || (rc = maybe_commit(r)))
			break;
		if (r->h->progress && (r->st->records & 4095) == 0)
			r->h->progress(r->h->progress_ud, what, mtd_reader_offset(r->rd), total,
				       r->st->records);
	}
	if (r->h->progress)
		r->h->progress(r->h->progress_ud, what, mtd_reader_offset(r->rd), total,
			       r->st->records);
	if (!rc)
		rc = commit(r);
	else
		mtd_store_rollback(r->h->store);
out:
	sqlite3_wal_autocheckpoint(mtd_store_db(r->h->store), 1000); /* SQLite's default */
	mtd_reader_free(r->rd);
	r->rd = NULL;
	return rc;
}

/* ---- devices ---- */

/* The group set's id from the store, made when new. */
static int groupset_lookup(run *r, const char *key, size_t k, const mtd_device_rec *d,
			   int64_t *out)
{
	mtd_store *s = r->h->store;
	sqlite3_stmt *st;
	int64_t gs;

	if (!(st = mtd_store_stmt(s, SQL_GROUPSET_ID)))
		return store_fail(r);
	sqlite3_bind_text(st, 1, key, (int)k, SQLITE_STATIC);
	if (sqlite3_step(st) == SQLITE_ROW) {
		*out = sqlite3_column_int64(st, 0);
		sqlite3_reset(st);
		return 0;
	}
	sqlite3_reset(st);
	if (!(st = mtd_store_stmt(s, SQL_GROUPSET_INSERT)))
		return store_fail(r);
	sqlite3_bind_text(st, 1, key, (int)k, SQLITE_STATIC);
	if (sqlite3_step(st) != SQLITE_DONE)
		return store_fail(r);
	gs = sqlite3_last_insert_rowid(mtd_store_db(s));
	for (size_t i = 0; i < d->ngroups; i++) {
		int64_t gid;
		if (!(st = mtd_store_stmt(s, SQL_GROUP_UPSERT)))
			return store_fail(r);
		mtd_bind_text(st, 1, d->groups[i].p, d->groups[i].n);
		if (sqlite3_step(st) != SQLITE_DONE || !(st = mtd_store_stmt(s, SQL_GROUP_ID)))
			return store_fail(r);
		mtd_bind_text(st, 1, d->groups[i].p, d->groups[i].n);
		if (sqlite3_step(st) != SQLITE_ROW)
			return store_fail(r);
		gid = sqlite3_column_int64(st, 0);
		if (!(st = mtd_store_stmt(s, SQL_GROUPSET_MEMBER)))
			return store_fail(r);
		sqlite3_bind_int64(st, 1, gs);
		sqlite3_bind_int64(st, 2, gid);
		if (sqlite3_step(st) != SQLITE_DONE)
			return store_fail(r);
	}
	*out = gs;
	return 0;
}

/* A fleet has few group sets: most devices find theirs in r->gsc and need
 * no query. An id cached here is committed or in the open transaction,
 * which, if it fails, ends the run. */
static int groupset_id(run *r, const mtd_device_rec *d, int64_t *out)
{
	char key[MTD_MAX_GROUPS * (MTD_MAX_ID + 1) + 1], *nk;
	size_t k = 0;
	uint64_t h;
	struct gsc *c;
	int rc;

	for (size_t i = 0; i < d->ngroups; i++) {
		memcpy(key + k, d->groups[i].p, d->groups[i].n);
		k += d->groups[i].n;
		key[k++] = '\n';
	}
	h = mtd_fnv(MTD_FNV_SEED, key, k);
	c = &r->gsc[h % (sizeof r->gsc / sizeof *r->gsc)];
	if (c->id && c->h == h && c->n == k && !memcmp(c->key, key, k)) {
		*out = c->id;
		return 0;
	}
	if ((rc = groupset_lookup(r, key, k, d, out)))
		return rc;
	c->id = 0; /* not cached when memory is short: only slower */
	if ((nk = realloc(c->key, k ? k : 1))) {
		memcpy(nk, key, k);
		c->key = nk;
		c->h = h;
		c->n = k;
		c->id = *out;
	}
	return 0;
}

static int one_device(run *r, const mtd_record *rec)
{
	mtd_device_rec d;
	char why[600];
	sqlite3_stmt *st;
	int64_t gs = 0;
	int rc;

	if (mtd_decode_device(rec->obj, &d, why, sizeof why)) {
		bad_record(r, why);
		return 0;
	}
	if ((rc = groupset_id(r, &d, &gs)))
		return rc;
	if (!(st = mtd_store_stmt(r->h->store, SQL_DEVICE_UPSERT)))
		return store_fail(r);
	mtd_bind_text(st, 1, d.id.p, d.id.n);
	sqlite3_bind_int(st, 2, d.platform);
	mtd_bind_text(st, 3, d.os_version.p, d.os_version.n);
	sqlite3_bind_int(st, 4, d.corporate);
	sqlite3_bind_int(st, 5, d.enrolled);
	mtd_bind_text(st, 6, d.user.p, d.user.n);
	sqlite3_bind_int64(st, 7, gs);
	sqlite3_bind_int64(st, 8, r->h->now);
	if (sqlite3_step(st) != SQLITE_DONE)
		return store_fail(r);
	r->pend_accepted++;
	return 0;
}

int mtd_device_import(mtd_t *h, FILE *in, const char *name, mtd_stats *st)
{
	run r = {.h = h, .st = st};
	int rc = mtd_need_store(h);
	memset(st, 0, sizeof *st);
	if (rc)
		return rc;
	rc = each_record(&r, in, name, MTD_READ_TREE, one_device);
	gsc_free(&r);
	if (!rc && mtd_store_begin(h->store) == 0) {
		char detail[160];
		snprintf(detail, sizeof detail,
			 "{\"source\":\"devices\",\"records\":%llu,\"accepted\":%llu,\"malformed\":%llu}",
			 (unsigned long long)st->records, (unsigned long long)st->accepted,
			 (unsigned long long)st->malformed);
		if (mtd_store_audit(h->store, h->now, "import", NULL, NULL, detail) ||
		    mtd_store_commit(h->store)) {
			mtd_store_rollback(h->store);
			rc = mtd_fail(h, MTD_ESTORE, "%s", mtd_store_errmsg(h->store));
		}
	}
	return rc;
}

/* ---- inventory ---- */

struct inv_state {
	char last[MTD_MAX_ID + 1]; /* device of the previous record */
	int64_t last_id;
	int64_t *seen;             /* open-addressing set of device rowids */
	size_t nseen, cap;
};

/* Add id to the set; 1 when it was new, 0 when present, -1 out of memory. */
static int seen_add(struct inv_state *iv, int64_t id)
{
	size_t i;
	if ((iv->nseen + 1) * 2 > iv->cap) {
		size_t cap = iv->cap ? iv->cap * 2 : 1024;
		int64_t *n = calloc(cap, sizeof *n), *old = iv->seen;
		if (!n)
			return -1;
		iv->seen = n;
		iv->cap = cap;
		iv->nseen = 0;
		for (i = 0; old && i < cap / 2; i++)
			if (old[i])
				seen_add(iv, old[i]);
		free(old);
	}
	for (i = (size_t)(id * 0x9e3779b97f4a7c15ull) & (iv->cap - 1); iv->seen[i];
	     i = (i + 1) & (iv->cap - 1))
		if (iv->seen[i] == id)
			return 0;
	iv->seen[i] = id;
	iv->nseen++;
	return 1;
}

static int one_app(run *r, const mtd_record *rec)
{
	struct inv_state *iv = r->inv;
	mtd_app_rec a;
	char why[600];
	sqlite3_stmt *st;

	if (mtd_decode_app(rec->obj, &a, why, sizeof why)) {
		bad_record(r, why);
		return 0;
	}
	if (strlen(iv->last) != a.device.n || memcmp(iv->last, a.device.p, a.device.n)) {
		/* A device seen for the first time in this import has its inventory
		 * replaced as a whole; seen again later in the same input (unsorted
		 * input), its records add up. */
		int fresh;
		if (!(st = mtd_store_stmt(r->h->store, SQL_DEVICE_BY_EXT)))
			return store_fail(r);
		mtd_bind_text(st, 1, a.device.p, a.device.n);
		if (sqlite3_step(st) != SQLITE_ROW) {
			char m[300];
			snprintf(m, sizeof m, "field 'device': unknown device '%.*s' (import it first)",
				 (int)a.device.n, a.device.p);
			bad_record(r, m);
			return 0;
		}
		iv->last_id = sqlite3_column_int64(st, 0);
		snprintf(iv->last, sizeof iv->last, "%.*s", (int)a.device.n, a.device.p);
		if ((fresh = seen_add(iv, iv->last_id)) < 0)
			return mtd_fail(r->h, MTD_ENOMEM, "out of memory");
		if (!fresh)
			goto insert;
		/* History: the inventory being replaced goes to the audit log. */
		if (!(st = mtd_store_stmt(r->h->store, SQL_APPS_OF_DEVICE)))
			return store_fail(r);
		sqlite3_bind_int64(st, 1, iv->last_id);
		{
			json_t *old = json_array(), *d;
			char *text;
			int step;
			while ((step = sqlite3_step(st)) == SQLITE_ROW)
				json_array_append_new(old, json_pack("{s:s, s:s?}", "app_id",
					(const char *)sqlite3_column_text(st, 0), "version",
					(const char *)sqlite3_column_text(st, 1)));
			sqlite3_reset(st);
			if (step != SQLITE_DONE) {
				json_decref(old);
				return store_fail(r);
			}
			d = json_pack("{s:o}", "replaced", old);
			text = d ? json_dumps(d, JSON_COMPACT) : NULL;
			json_decref(d);
			if (!text)
				return mtd_fail(r->h, MTD_ENOMEM, "out of memory");
			step = mtd_store_audit(r->h->store, r->h->now, "inventory", NULL, iv->last, text);
			free(text);
			if (step)
				return store_fail(r);
		}
		if (!(st = mtd_store_stmt(r->h->store, SQL_APPS_DELETE_DEVICE)))
			return store_fail(r);
		sqlite3_bind_int64(st, 1, iv->last_id);
		if (sqlite3_step(st) != SQLITE_DONE)
			return store_fail(r);
	}
insert:
	if (!(st = mtd_store_stmt(r->h->store, SQL_APP_INSERT)))
		return store_fail(r);
	sqlite3_bind_int64(st, 1, iv->last_id);
	mtd_bind_text(st, 2, a.app_id.p, a.app_id.n);
	mtd_bind_text(st, 3, a.version.p, a.version.n);
	mtd_bind_text(st, 4, a.short_version.p, a.short_version.n);
	mtd_bind_text(st, 5, a.name.p, a.name.n);
	if (a.bundle_size >= 0)
		sqlite3_bind_int64(st, 6, a.bundle_size);
	if (a.dynamic_size >= 0)
		sqlite3_bind_int64(st, 7, a.dynamic_size);
	{
		const int flags[] = {a.adhoc_signed, a.app_store, a.beta, a.vpp, a.validated, a.managed};
		for (int i = 0; i < 6; i++)
			if (flags[i] >= 0)
				sqlite3_bind_int(st, 8 + i, flags[i]);
	}
	if (sqlite3_step(st) != SQLITE_DONE)
		return store_fail(r);
	r->pend_accepted++;
	return 0;
}

int mtd_inventory_import(mtd_t *h, FILE *in, const char *name, mtd_stats *st)
{
	struct inv_state iv = {{0}, 0, NULL, 0, 0};
	run r = {.h = h, .st = st, .inv = &iv};
	int rc = mtd_need_store(h);
	memset(st, 0, sizeof *st);
	if (!rc)
		rc = each_record(&r, in, name, MTD_READ_TREE, one_app);
	free(iv.seen);
	return rc;
}

/* ---- channel messages ---- */

static int audit_msg(run *r, const char *kind, const mtd_msg *m, const char *extra)
{
	char detail[400], dev[MTD_MAX_ID + 1] = "";
	char lvl[40] = "";
	if (m->type == MTD_MSG_THREAT) {
		snprintf(dev, sizeof dev, "%.*s", (int)m->device.n, m->device.p);
		snprintf(lvl, sizeof lvl, ",\"level\":\"%s\"", mtd_level_name(m->level));
	}
	snprintf(detail, sizeof detail, "{\"type\":\"%s\",\"at\":%lld%s%s}",
		 mtd_msg_type_name(m->type), (long long)m->at, lvl, extra ? extra : "");
	return mtd_store_audit(r->h->store, r->h->now, kind, r->vendor, dev[0] ? dev : NULL, detail)
		       ? store_fail(r)
		       : 0;
}

static int store_threat(run *r, const mtd_msg *m, int64_t *devp)
{
	sqlite3_stmt *st;
	int64_t dev;

	if (r->dm && (dev = dm_find(r->dm, m->device.p, m->device.n)) > 0)
		goto found;
	if (!(st = mtd_store_stmt(r->h->store, SQL_DEVICE_ID)))
		return store_fail(r);
	mtd_bind_text(st, 1, m->device.p, m->device.n);
	if (sqlite3_step(st) != SQLITE_ROW) {
		char why[300];
		snprintf(why, sizeof why, "field 'device': unknown device '%.*s' (import it with "
			 "'mtdgate device import')", (int)m->device.n, m->device.p);
		bad_record(r, why);
		return 1;
	}
	dev = sqlite3_column_int64(st, 0);
found:
	*devp = dev;
	if (!(st = mtd_store_stmt_rebind(r->h->store, SQL_REPORT_UPSERT)))
		return store_fail(r);
	sqlite3_bind_int64(st, 1, dev); /* every parameter, the absent ones NULL */
	sqlite3_bind_int64(st, 2, r->conn.id);
	sqlite3_bind_int(st, 3, m->level);
	sqlite3_bind_int64(st, 4, m->at);
	sqlite3_bind_int64(st, 5, r->h->now);
	if (m->os_supported >= 0)
		sqlite3_bind_int(st, 6, m->os_supported);
	else
		sqlite3_bind_null(st, 6);
	if (m->threats) /* validated, kept as received */
		sqlite3_bind_blob(st, 7, m->threats, (int)m->threats_len, SQLITE_STATIC);
	else
		sqlite3_bind_null(st, 7);
	if (sqlite3_step(st) != SQLITE_DONE)
		return store_fail(r);
	return 0;
}

/* R13: a message dated more than the allowed skew after it was received
 * (now) is refused, counted and audited, and never stored: a report from
 * the future would otherwise stay the latest for its device and vendor,
 * and every later genuine report would not count. */
static int refuse_future(run *r, const mtd_msg *m)
{
	char extra[96], at[40], now[40];
	mtd_diag(r->h, "%s: message dated %s, %lld s after its receipt at %s (more than the "
		 "%lld s allowed, --max-skew): refused", mtd_reader_where(r->rd),
		 mtd_time_format(m->at, at, sizeof at), (long long)(m->at - r->h->now),
		 mtd_time_format(r->h->now, now, sizeof now), (long long)r->h->max_skew);
	snprintf(extra, sizeof extra, ",\"reason\":\"future\",\"received\":%lld",
		 (long long)r->h->now);
	r->pend_rejected++;
	r->conn.rejected++;
	r->conn_dirty = 1;
	return audit_msg(r, "message_rejected", m, extra);
}

/* One validated message on the connector (R1 gate, R2 lifecycle). */
static int on_message(run *r, const mtd_msg *m)
{
	int state = mtd_conn_state_at(&r->conn, r->h->now);
	int before = r->conn.state, rc;
	int64_t dev = 0;

	/* Any message is contact (R2), even one the state rejects. */
	if (r->h->now > r->conn.last_contact) {
		r->conn.last_contact = r->h->now;
		r->conn_dirty = 1;
	}
	if (m->at > r->h->now && m->at - r->h->now > r->h->max_skew)
		return refuse_future(r, m);
	if (!mtd_conn_accepts(state, m->type)) {
		char extra[64];
		snprintf(extra, sizeof extra, ",\"state\":\"%s\"", mtd_conn_state_name(state));
		r->pend_rejected++;
		r->conn.rejected++;
		r->conn_dirty = 1;
		return audit_msg(r, "message_rejected", m, extra);
	}
	switch (m->type) {
	case MTD_MSG_THREAT:
		if ((rc = store_threat(r, m, &dev)) != 0)
			return rc > 0 ? 0 : rc; /* > 0: bad record, already reported */
		break;
	case MTD_MSG_PROVISION:
		r->conn.provisioned = 1;
		r->conn.removed = 0;
		r->conn.error_code[0] = '\0';
		r->conn_dirty = 1;
		break;
	case MTD_MSG_ERROR:
		snprintf(r->conn.error_code, sizeof r->conn.error_code, "%.*s", (int)m->code.n,
			 m->code.p);
		r->conn_dirty = 1;
		break;
	case MTD_MSG_HEARTBEAT:
		if (r->conn.error_code[0]) { /* a healthy heartbeat ends an error */
			r->conn.error_code[0] = '\0';
			r->conn_dirty = 1;
		}
		break;
	default:
		break;
	}
	/* The audit record of an accepted message: a row of the sealed
	 * message log (store.h). */
	if (mtd_store_log_message(r->h->store, r->h->now, r->conn.id, dev, m->type,
				  m->type == MTD_MSG_THREAT ? m->level : -1, m->at,
				  m->type == MTD_MSG_ERROR ? m->code.p : NULL,
				  m->type == MTD_MSG_ERROR ? m->code.n : 0))
		return store_fail(r);
	r->pend_accepted++;
	if (mtd_conn_state_at(&r->conn, r->h->now) != before)
		return save_conn(r); /* audits the transition where it happened */
	return 0;
}

static int one_normalized(run *r, const mtd_record *rec)
{
	return on_message(r, rec->msg); /* decoded by the reader (MTD_READ_MSG) */
}

/* ---- through a plugin ---- */

typedef struct sink {
	run *r;
	int rc;        /* first fatal error */
	int emitted;
} sink;

static int host_emit(void *ud, const void *data, size_t len)
{
	sink *s = ud;
	run *r = s->r;
	size_t flen = 0;
	char why[700];

	if (s->rc)
		return -1;
	if (!data || len == 0 || len > MTD_MAX_RECORD) {
		bad_record(r, "the plugin emitted an empty or oversized message");
		return -1;
	}
	{
		mtd_msg m;
		char inner[600];
		/* a message that decodes is one msgpack object (the decoder
		 * walks all of it, within the framing's bounds); framed only to
		 * say which way one that does not decode is wrong */
		if (mtd_decode_msg(data, len, &m, inner, sizeof inner)) {
			if (mtd_sdk_msgpack_frame(data, len, &flen) != 1 || flen != len)
				bad_record(r, "the plugin emitted bytes that are not one msgpack message");
			else {
				snprintf(why, sizeof why, "the plugin emitted an invalid message: %s", inner);
				bad_record(r, why);
			}
			return -1;
		}
		s->emitted++;
		s->rc = on_message(r, &m);
	}
	return s->rc ? -1 : 0;
}

/* One bad element of a payload (ABI 1.1): counted and reported with the
 * record's position; the payload's good elements are kept. */
static int host_element(void *ud, const char *path, const char *msg)
{
	sink *s = ud;
	s->r->st->bad_elements++;
	mtd_diag(s->r->h, "%s: %s: %s", mtd_reader_where(s->r->rd), path[0] ? path : "(element)",
		 msg[0] ? msg : "bad element");
	return 0;
}

typedef struct plug_run {
	run r;
	mtd_child *plugin; /* in a child process unless isolation is off */
	const char *id;
} plug_run;

static int one_native(run *r, const mtd_record *rec)
{
	plug_run *pr = (plug_run *)r;
	sink s = {r, 0, 0};
	const mtd_child_sink cs = {host_emit, host_element, NULL, &s};
	char why[600] = "";
	uint64_t bad_before = r->st->malformed;
	int rc = mtd_child_decode(pr->plugin, rec->raw, rec->raw_len, &cs, why, sizeof why);

	if (s.rc)
		return s.rc;
	if (rc < 0 && r->st->malformed == bad_before) {
		char m[700];
		why[sizeof why - 1] = '\0';
		snprintf(m, sizeof m, "%s plugin: %s%s", pr->id,
			 rc == MTD_PLUGIN_ENOMEM	      ? "out of memory: "
			 : rc == MTD_PLUGIN_EINTERNAL ? "internal error: " : "",
			 why[0] ? why : "malformed payload");
		bad_record(r, m);
	}
	return 0;
}

int mtd_ingest(mtd_t *h, const char *vendor, FILE *in, const char *name,
	       int normalized, mtd_stats *st)
{
	plug_run pr;
	run *r = &pr.r;
	int rc = mtd_need_store(h);

	memset(&pr, 0, sizeof pr);
	memset(st, 0, sizeof *st);
	if (rc)
		return rc;
	r->h = h;
	r->st = st;
	r->vendor = vendor;
	if ((rc = mtd_conn_load(h->store, vendor, &r->conn)) == MTD_ENOTFOUND)
		return mtd_fail(h, MTD_EREFUSED, "no connector %s: messages from it are refused "
				"(add it with 'mtdgate connector add %s')", vendor, vendor);
	if (rc)
		return mtd_fail(h, rc, "%s", mtd_store_errmsg(h->store));
	if (!normalized) {
		mtd_plugin_desc d;
		pr.id = vendor;
		if ((rc = mtd_start_plugin(h, vendor, 0, &pr.plugin, &d)))
			return rc;
	}
	/* State changes that happened while nobody was listening (e.g.
	 * unresponsive) are audited before this input is applied. */
	if ((rc = begin(r)) == 0) {
		rc = mtd_refresh_connectors(h);
		if (!rc && mtd_store_commit(h->store))
			rc = mtd_fail(h, MTD_ESTORE, "%s", mtd_store_errmsg(h->store));
		if (rc)
			mtd_store_rollback(h->store);
	}
	if (!rc)
		rc = mtd_conn_load(h->store, vendor, &r->conn);
	if (!rc)
		dm_maybe(r, in);
	if (!rc)
		rc = each_record(r, in, name, normalized ? MTD_READ_MSG : MTD_READ_FRAME,
				 normalized ? one_normalized : one_native);
	dm_free(r->dm);
	mtd_child_stop(pr.plugin);
	return rc;
}
