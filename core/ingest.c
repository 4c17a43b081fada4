/* Everything that writes input into the store: device and inventory import,
 * and ingest of channel messages (through a plugin or normalized), gated by
 * the connector's state (R1) and driving its lifecycle (R2). Writes go in
 * batched transactions; counts reported as accepted are committed ones. */
#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <string.h>

#include "codec.h"
#include "connector.h"
#include "mdm.h"
#include "mtdgate/wire.h"
#include "mtd_int.h"
#include "plugin_child.h"
#include "plugin_host.h"
#include "store_ingest.h"
#include "tasks.h"
#include "feed.h"


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

struct inv_state {
	char last[MTD_MAX_ID + 1]; /* device of the previous record */
	int64_t last_id;
	int64_t *seen;             /* open-addressing set of device rowids */
	size_t nseen, cap;
};

typedef struct run {
	mtd_t *h;
	mtd_reader *rd;
	mtd_stats *st;
	uint64_t pend_accepted, pend_rejected; /* in the open transaction */
	uint64_t pend_parked, pend_unparked;
	mtd_conn *conns;        /* every connector, once parked messages need them */
	size_t nconns;
	uint64_t in_batch;
	uint64_t commits;       /* batches committed so far */
	/* ingest */
	mtd_conn conn;
	int conn_dirty;
	const char *vendor;
	struct inv_state *inv;  /* inventory import */
	devmap *dm;             /* ingest of many messages */
	mtd_mdm *mdm;           /* imports: records from an MDM's export */
	struct inv_state *keep; /* device import --replace-all: the devices read */
	/* ingest through an isolated plugin: records are decoded in batches,
	 * so the record being applied is not the reader's last one */
	const char *where_now;  /* its position, when set */
	int (*flush)(struct run *r); /* apply what was read: before a commit */
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
struct dm_fill {
	devmap *m;
	int64_t ndev;
};

static int dm_add(void *ud, int64_t id, const char *t, size_t n)
{
	struct dm_fill *f = ud;
	devmap *m = f->m;
	if (!t || n > 255 || m->n >= (size_t)f->ndev)
		return 1; /* more devices than max(id) said: not ours to guess */
	if (m->n && dm_cmp(m, m->n - 1, t, n) >= 0)
		return 1; /* not in BINARY order: the binary search would be wrong */
	if (m->ntext + n + 9 > m->text_cap) {
		size_t nc = m->text_cap * 2;
		char *nt;
		if ((uint64_t)f->ndev * sizeof *m->off + nc > DM_MAX_BYTES || nc > 0xffffffffu ||
		    !(nt = realloc(m->text, nc)))
			return 1;
		m->text = nt;
		m->text_cap = nc;
	}
	m->off[m->n++] = (uint32_t)m->ntext;
	m->text[m->ntext] = (char)(unsigned char)n;
	memcpy(m->text + m->ntext + 1, t, n);
	memcpy(m->text + m->ntext + 1 + n, &id, sizeof id);
	m->ntext += n + 9;
	return 0;
}

static devmap *dm_load(mtd_store *s, int64_t ndev)
{
	struct dm_fill f = {calloc(1, sizeof *f.m), ndev};
	devmap *m = f.m;

	if (!m)
		return NULL;
	m->text_cap = (size_t)ndev * 24;
	if ((uint64_t)ndev * sizeof *m->off + m->text_cap > DM_MAX_BYTES ||
	    !(m->off = malloc((size_t)ndev * sizeof *m->off)) || !(m->text = malloc(m->text_cap)) ||
	    mtd_store_device_scan(s, 1, dm_add, &f)) {
		dm_free(m);
		return NULL;
	}
	return m;
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
		r->dm = dm_load(r->h->store, ndev);
}

static int begin(run *r)
{
	return mtd_begin(r->h);
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
	int rc = r->flush ? r->flush(r) : 0;
	if (!rc)
		rc = save_conn(r);
	if (rc || mtd_store_commit(r->h->store)) {
		mtd_store_rollback(r->h->store);
		return rc ? rc : mtd_fail(r->h, MTD_ESTORE, "%s", mtd_store_errmsg(r->h->store));
	}
	r->st->accepted += r->pend_accepted;
	r->st->rejected += r->pend_rejected;
	r->st->parked += r->pend_parked;
	r->st->unparked += r->pend_unparked;
	r->pend_accepted = r->pend_rejected = r->pend_parked = r->pend_unparked = 0;
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

/* The position of the record being applied ("events.json line 3"). Use
 * this, not mtd_reader_where: the reader may be ahead (batched decode). */
static const char *where(run *r)
{
	return r->where_now ? r->where_now
	       : r->mdm   ? mtd_mdm_where(r->mdm)
	       : r->rd    ? mtd_reader_where(r->rd)
			  : "store";
}

static void bad_record(run *r, const char *why)
{
	r->st->malformed++;
	mtd_diag(r->h, "%s: %s", where(r), why);
}

static int store_fail(run *r)
{
	return mtd_fail(r->h, MTD_ESTORE, "%s: %s", where(r), mtd_store_errmsg(r->h->store));
}

/* Pages of WAL after which a bulk run's commit copies them into the
 * database (SQLite's default is 1,000): a commit per batch made each batch
 * copy the pages it had touched, the same upper B-tree pages again and
 * again. Every commit is still on disk in the WAL when acknowledged; the
 * WAL grows to about this much (64 MiB) before it is folded in. */
#define BULK_WAL_PAGES 16384

/* The next record of the input: from the reader, or from an MDM's export
 * (a msgpack tree, checked by the record's decoder already). */
static int next_record(run *r, mtd_record *rec, int parse, char *why, size_t n)
{
	const msgpack_object *obj;
	int k;
	if (!r->mdm)
		return mtd_reader_next(r->rd, rec, parse, why, n);
	memset(rec, 0, sizeof *rec);
	if ((k = mtd_mdm_next(r->mdm, &obj, why, n)) == 1)
		rec->obj = obj;
	return k;
}

static uint64_t input_offset(run *r)
{
	return r->mdm ? mtd_mdm_offset(r->mdm) : mtd_reader_offset(r->rd);
}

/* Run the reader (or r->mdm) over every record, calling fn per parsed
 * record, inside batched transactions. */
static int each_record(run *r, FILE *in, const char *name, int parse,
		       int (*fn)(run *, const mtd_record *))
{
	mtd_record rec;
	char why[600];
	int rc, k;
	struct stat sb;
	uint64_t total = fstat(fileno(in), &sb) == 0 && S_ISREG(sb.st_mode) ? (uint64_t)sb.st_size : 0;
	const char *what = r->inv ? "inventory" : r->vendor ? "ingest" : "devices";

	if (!r->mdm && !(r->rd = mtd_reader_new(in, name)))
		return mtd_fail(r->h, MTD_ENOMEM, "out of memory");
	mtd_store_wal_pages(r->h->store, BULK_WAL_PAGES);
	if ((rc = begin(r)))
		goto out;
	while ((k = next_record(r, &rec, parse, why, sizeof why)) != 0) {
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
			r->h->progress(r->h->progress_ud, what, input_offset(r), total,
				       r->st->records);
	}
	if (r->h->progress)
		r->h->progress(r->h->progress_ud, what, input_offset(r), total, r->st->records);
	if (!rc)
		rc = commit(r);
	else
		mtd_store_rollback(r->h->store);
out:
	mtd_store_wal_pages(r->h->store, 1000); /* SQLite's default */
	mtd_reader_free(r->rd);
	r->rd = NULL;
	return rc;
}

/* ---- devices ---- */

static int expire_parked(run *r);
static int unpark(run *r, enum mtd_sql which, int64_t conn, const char *vid, size_t vn);

/* A fleet has few group sets: most devices find theirs in r->gsc and need
 * no query. An id cached here is committed or in the open transaction,
 * which, if it fails, ends the run. */
static int groupset_id(run *r, const mtd_device_rec *d, int64_t *out)
{
	char key[MTD_MAX_GROUPS * (MTD_MAX_ID + 1) + 1], *nk;
	size_t k = 0;
	uint64_t h;
	struct gsc *c;

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
	if (mtd_store_groupset(r->h->store, r->h->now, key, k, d->groups, d->ngroups, out))
		return store_fail(r);
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

static int64_t device_by_ext(run *r, const char *p, size_t n);
static int seen_add(struct inv_state *iv, int64_t id);

/* 1 (reported as a bad record) when an identifier of d is another device's
 * already: one value names one device. */
static int ids_claimed(run *r, const mtd_device_rec *d)
{
	int64_t own = device_by_ext(r, d->id.p, d->id.n), other;
	if (own < 0)
		return store_fail(r);
	for (size_t i = 0; i < d->nids; i++) {
		char kind[64], why[600], ext[MTD_MAX_ID + 1] = "?";
		snprintf(kind, sizeof kind, "%.*s", (int)d->id_kind[i].n, d->id_kind[i].p);
		if ((other = mtd_store_device_of_ident(r->h->store, kind, d->id_value[i].p,
						       d->id_value[i].n)) < 0)
			return store_fail(r);
		if (!other || other == own)
			continue;
		mtd_store_device_ext(r->h->store, other, ext, sizeof ext); /* else "?" */
		snprintf(why, sizeof why, "field 'ids.%s': '%.*s' is already an identifier of device '%s'",
			 kind, (int)d->id_value[i].n, d->id_value[i].p, ext);
		bad_record(r, why);
		return 1;
	}
	return 0;
}

/* After a write or deletion of device_ids' row (kind, value): its log entry. */
static int ids_logged(run *r, int64_t dev, const char *kind, size_t nkind, const char *value,
		      size_t nvalue)
{
	char kt[256];
	size_t n = mtd_ids_key(kt, sizeof kt, kind, nkind, value, nvalue);
	if (!n)
		return mtd_fail(r->h, MTD_ESTORE, "an identifier too long to log");
	if (mtd_store_row_logged(r->h->store, r->h->now, MTD_ROW_DEVICE_IDS, dev, 0, kt, n))
		return store_fail(r);
	return 0;
}

struct ids_del {
	run *r;
	int64_t dev;
	const mtd_str *kind;
	int rc;
};

static int ids_deleted(void *ud, const char *value, size_t n)
{
	struct ids_del *x = ud;
	return (x->rc = ids_logged(x->r, x->dev, x->kind->p, x->kind->n, value, n)) != 0;
}

/* The identifiers of d (just written) replace its identifiers of the same
 * kinds; kinds d does not name stay (learned vendor ids among them). */
static int ids_put(run *r, const mtd_device_rec *d)
{
	int64_t own = device_by_ext(r, d->id.p, d->id.n);
	int rc;
	if (own <= 0)
		return store_fail(r);
	for (size_t i = 0; i < d->nids; i++) {
		const mtd_str *k = &d->id_kind[i], *v = &d->id_value[i];
		struct ids_del x = {r, own, k, 0};
		if (mtd_store_ids_delete_kind(r->h->store, own, k->p, k->n, ids_deleted, &x))
			return x.rc ? x.rc : store_fail(r);
		if (mtd_store_ids_put(r->h->store, k->p, k->n, v->p, v->n, own))
			return store_fail(r);
		if ((rc = ids_logged(r, own, k->p, k->n, v->p, v->n)))
			return rc;
	}
	return 0;
}

static int one_device(run *r, const mtd_record *rec)
{
	mtd_device_rec d;
	char why[600];
	int64_t gs = 0, id;
	int rc;

	if (mtd_decode_device(rec->obj, &d, why, sizeof why)) {
		bad_record(r, why);
		return 0;
	}
	if (d.nids && (rc = ids_claimed(r, &d)))
		return rc > 0 ? 0 : rc; /* > 0: bad record, reported */
	if ((rc = groupset_id(r, &d, &gs)))
		return rc;
	if (mtd_store_device_put(r->h->store, r->h->now, &d, gs, &id))
		return store_fail(r);
	if (r->keep && seen_add(r->keep, id) < 0)
		return mtd_fail(r->h, MTD_ENOMEM, "out of memory");
	if (d.nids && (rc = ids_put(r, &d)))
		return rc;
	r->pend_accepted++;
	return 0;
}

static int seen_has(const struct inv_state *iv, int64_t id)
{
	if (!iv->cap)
		return 0;
	for (size_t i = (size_t)(id * 0x9e3779b97f4a7c15ull) & (iv->cap - 1); iv->seen[i];
	     i = (i + 1) & (iv->cap - 1))
		if (iv->seen[i] == id)
			return 1;
	return 0;
}

struct absent {
	const struct inv_state *keep;
	char **ids;
	size_t n, cap;
};

static int absent_one(void *ud, int64_t id, const char *ext, size_t n)
{
	struct absent *a = ud;
	(void)n;
	if (seen_has(a->keep, id))
		return 0;
	if (a->n == a->cap) {
		char **v = realloc(a->ids, (a->cap = a->cap ? 2 * a->cap : 64) * sizeof *v);
		if (!v)
			return MTD_ENOMEM;
		a->ids = v;
	}
	if (!ext || !(a->ids[a->n] = strdup(ext)))
		return MTD_ENOMEM;
	a->n++;
	return 0;
}

/* --replace-all: every stored device the import did not hold is removed,
 * unless the import may have missed some (a malformed record, an export
 * that goes on): then nothing is. */
static int remove_absent(run *r, int more, uint64_t *removed)
{
	struct absent a = {r->keep, NULL, 0, 0};
	mtd_remove_stats rs;
	int rc;

	if (r->st->malformed || r->st->bad_elements || more)
		return mtd_fail(r->h, MTD_EREFUSED,
				"--replace-all: no device removed, since the import may not hold the "
				"whole fleet (%s)",
				more ? "the Graph export goes on beyond the pages given"
				     : "some records were malformed");
	rc = mtd_store_device_scan(r->h->store, 0, absent_one, &a);
	if (rc == MTD_ESTORE)
		rc = store_fail(r); /* a scan cut short must not remove what it missed */
	else if (rc)
		rc = mtd_fail(r->h, rc, "out of memory");
	else if (a.n && !(rc = mtd_device_remove(r->h, (const char *const *)a.ids, a.n, &rs)) &&
		 removed)
		*removed = rs.devices;
	for (size_t i = 0; i < a.n; i++)
		free(a.ids[i]);
	free(a.ids);
	return rc;
}

static void groups_diag(void *ud, const char *msg)
{
	mtd_diag(ud, "%s", msg);
}

/* Each input of o through fn, in its format: the reader for records, an
 * MDM reader (with g's groups) for Graph and CSV. *more: the last Graph
 * page read says the export goes on (@odata.nextLink). */
static int import_inputs(run *r, const mtd_import_opts *o, const mtd_mdm_groups *g, int apps,
			 int (*fn)(run *, const mtd_record *), int *more)
{
	int rc = 0;
	*more = 0;
	for (size_t i = 0; !rc && i < o->ninputs; i++) {
		const mtd_input *in = &o->inputs[i];
		int fmt = o->format;
		FILE *f = in->in;
		if (fmt == MTD_FORMAT_AUTO && (rc = mtd_mdm_detect(in->in, &fmt, &f)))
			return mtd_fail(r->h, rc, "%s: %s", in->name,
					rc == MTD_EIO ? "read error" : mtd_strerror(rc));
		if (fmt != MTD_FORMAT_RECORDS &&
		    !(r->mdm = mtd_mdm_new(f, in->name, fmt, apps, fmt == MTD_FORMAT_GRAPH ? g : NULL)))
			rc = mtd_fail(r->h, MTD_ENOMEM, "out of memory");
		if (!rc)
			rc = each_record(r, f, in->name, MTD_READ_TREE, fn);
		if (r->mdm && fmt == MTD_FORMAT_GRAPH)
			*more = mtd_mdm_more_pages(r->mdm);
		mtd_mdm_free(r->mdm);
		r->mdm = NULL;
		if (f != in->in)
			fclose(f);
	}
	if (!rc && *more)
		mtd_diag(r->h, "%s: @odata.nextLink: the export goes on beyond the pages given",
			 o->inputs[o->ninputs - 1].name);
	return rc;
}

int mtd_device_import_from(mtd_t *h, const mtd_import_opts *o, mtd_stats *st, uint64_t *removed)
{
	run r = {.h = h, .st = st};
	mtd_mdm_groups *g = NULL;
	int rc = mtd_need_store(h), more = 0;
	memset(st, 0, sizeof *st);
	if (removed)
		*removed = 0;
	if (rc)
		return rc;
	for (size_t i = 0; i < o->ngroups; i++) {
		char err[300];
		if ((rc = mtd_mdm_groups_load(&g, o->groups[i].in, o->groups[i].name, o->groups[i].group,
					      groups_diag, h, &st->bad_elements, err, sizeof err))) {
			mtd_mdm_groups_free(g);
			return mtd_fail(h, rc, "%s: %s", o->groups[i].name,
					rc == MTD_ENOMEM ? "out of memory" : err);
		}
	}
	if (o->replace_all && !(r.keep = calloc(1, sizeof *r.keep))) {
		mtd_mdm_groups_free(g);
		return mtd_fail(h, MTD_ENOMEM, "out of memory");
	}
	rc = import_inputs(&r, o, g, 0, one_device, &more);
	mtd_mdm_groups_free(g);
	gsc_free(&r);
	if (!rc && !(rc = mtd_begin(h))) {
		char detail[160];
		snprintf(detail, sizeof detail,
			 "{\"source\":\"devices\",\"records\":%llu,\"accepted\":%llu,\"malformed\":%llu}",
			 (unsigned long long)st->records, (unsigned long long)st->accepted,
			 (unsigned long long)st->malformed);
		/* then what was parked waiting for these devices, in the order received */
		if (mtd_store_audit(h->store, h->now, "import", NULL, NULL, detail))
			rc = mtd_fail(h, MTD_ESTORE, "%s", mtd_store_errmsg(h->store));
		if (!rc)
			rc = expire_parked(&r);
		if (!rc)
			rc = unpark(&r, SQL_PARK_ALL, 0, NULL, 0);
		if (!rc && mtd_store_commit(h->store))
			rc = mtd_fail(h, MTD_ESTORE, "%s", mtd_store_errmsg(h->store));
		if (rc) {
			mtd_store_rollback(h->store);
			r.pend_unparked = 0;
		}
		st->unparked += r.pend_unparked;
	}
	if (!rc && o->replace_all)
		rc = remove_absent(&r, more, removed);
	if (r.keep)
		free(r.keep->seen);
	free(r.keep);
	free(r.conns);
	return rc;
}

int mtd_device_import(mtd_t *h, FILE *in, const char *name, mtd_stats *st)
{
	mtd_input i = {in, name, NULL};
	mtd_import_opts o = {.format = MTD_FORMAT_RECORDS, .inputs = &i, .ninputs = 1};
	return mtd_device_import_from(h, &o, st, NULL);
}

/* ---- inventory ---- */


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
		if ((iv->last_id = mtd_store_device_of_ext(r->h->store, a.device.p, a.device.n)) > 0) {
			/* by its id */
		} else if ((iv->last_id = mtd_store_device_of_ident(r->h->store, "intune", a.device.p,
								    a.device.n)) < 0) {
			return store_fail(r);
		} else if (!iv->last_id) { /* neither its id nor its Intune id */
			char m[300];
			/* the device before is no longer the last one looked up: its
			 * next record must look it up again (its id was overwritten) */
			iv->last[0] = '\0';
			snprintf(m, sizeof m, "field 'device': unknown device '%.*s' (import it first)",
				 (int)a.device.n, a.device.p);
			bad_record(r, m);
			return 0;
		}
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
			mtd_app_row app;
			while ((step = sqlite3_step(st)) == SQLITE_ROW) {
				mtd_app_row_read(st, &app);
				json_array_append_new(old, json_pack("{s:s, s:s?}", "app_id", app.app_id,
								     "version", app.version));
			}
			sqlite3_reset(st);
			if (step != SQLITE_DONE) {
				json_decref(old);
				return store_fail(r);
			}
			d = json_pack("{s:O}", "replaced", old); /* old kept for the row log */
			text = d ? json_dumps(d, JSON_COMPACT) : NULL;
			json_decref(d);
			if (!text) {
				json_decref(old);
				return mtd_fail(r->h, MTD_ENOMEM, "out of memory");
			}
			step = mtd_store_audit(r->h->store, r->h->now, "inventory", NULL, iv->last, text);
			free(text);
			if (step || mtd_store_apps_delete(r->h->store, iv->last_id)) {
				json_decref(old);
				return store_fail(r);
			}
			/* each app removed, into the row log */
			for (size_t i = 0; !step && i < json_array_size(old); i++) {
				const char *id = json_string_value(
					json_object_get(json_array_get(old, i), "app_id"));
				step = id && mtd_store_row_logged(r->h->store, r->h->now, MTD_ROW_APPS,
								  iv->last_id, 0, id, strlen(id));
			}
			json_decref(old);
			if (step)
				return store_fail(r);
		}
	}
insert:
	if (mtd_store_app_put(r->h->store, r->h->now, iv->last_id, &a))
		return store_fail(r);
	r->pend_accepted++;
	return 0;
}

int mtd_inventory_import_from(mtd_t *h, const mtd_import_opts *o, mtd_stats *st)
{
	struct inv_state iv = {{0}, 0, NULL, 0, 0};
	run r = {.h = h, .st = st, .inv = &iv};
	int rc = mtd_need_store(h), more;
	memset(st, 0, sizeof *st);
	if (!rc)
		rc = import_inputs(&r, o, NULL, 1, one_app, &more);
	free(iv.seen);
	return rc;
}

int mtd_inventory_import(mtd_t *h, FILE *in, const char *name, mtd_stats *st)
{
	mtd_input i = {in, name, NULL};
	mtd_import_opts o = {.format = MTD_FORMAT_RECORDS, .inputs = &i, .ninputs = 1};
	return mtd_inventory_import_from(h, &o, st);
}

/* ---- channel messages ---- */

static int audit_msg(run *r, const char *kind, const mtd_msg *m, const char *extra)
{
	char detail[400], dev[MTD_MAX_ID + 1] = "";
	char lvl[40] = "";
	if (m->device.p)
		snprintf(dev, sizeof dev, "%.*s", (int)m->device.n, m->device.p);
	if (m->type == MTD_MSG_THREAT)
		snprintf(lvl, sizeof lvl, ",\"level\":\"%s\"", mtd_level_name(m->level));
	snprintf(detail, sizeof detail, "{\"type\":\"%s\",\"at\":%lld%s%s}",
		 mtd_msg_type_name(m->type), (long long)m->at, lvl, extra ? extra : "");
	return mtd_store_audit(r->h->store, r->h->now, kind, r->vendor, dev[0] ? dev : NULL, detail)
		       ? store_fail(r)
		       : 0;
}

/* An audit record whose detail is the JSON object d (a reference taken,
 * NULL when building it ran out of memory). */
static int audit_json(run *r, const char *kind, const char *vendor, const char *device, json_t *d)
{
	char *text = d ? json_dumps(d, JSON_COMPACT) : NULL;
	int rc;
	json_decref(d);
	if (!text)
		return mtd_fail(r->h, MTD_ENOMEM, "out of memory");
	rc = mtd_store_audit(r->h->store, r->h->now, kind, vendor, device, text);
	free(text);
	return rc ? store_fail(r) : 0;
}

/* ---- device identity (SPEC 4.1, 4.2 extensions) ---- */

enum { DEV_ERROR = MTD_DEV_ERROR, DEV_SEVERAL = MTD_DEV_SEVERAL }; /* besides a row id, or 0: none */

/* Row id of the device whose id is p[0..n). */
static int64_t device_by_ext(run *r, const char *p, size_t n)
{
	int64_t dev;
	if (r->dm && (dev = dm_find(r->dm, p, n)) > 0)
		return dev;
	return mtd_store_device_of_ext(r->h->store, p, n);
}

/* The id of device row dev into buf (cap bytes). */
static int device_ext(run *r, int64_t dev, char *buf, size_t cap)
{
	return mtd_store_device_ext(r->h->store, dev, buf, cap) ? store_fail(r) : 0;
}

/* How a message names its device. */
typedef struct target {
	int64_t dev;   /* 0: it names none, or several (why says) */
	int via;       /* 0: by "device"; k + 1: by device_ref kind k */
	int learn;     /* its vendor_device_id is not known yet: learn it */
	char why[400];
} target;

/* A GUID in upper case as Graph keeps GUIDs (lower case): into buf (37
 * bytes), or NULL when v is no such GUID. */
static const char *guid_lower(const mtd_str *v, char *buf)
{
	int upper = 0;
	if (v->n != 36)
		return NULL;
	for (size_t i = 0; i < 36; i++) {
		char c = v->p[i];
		if (i == 8 || i == 13 || i == 18 || i == 23) {
			if (c != '-')
				return NULL;
		} else if (c >= 'A' && c <= 'F') {
			upper = 1;
			c = (char)(c - 'A' + 'a');
		} else if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) {
			return NULL;
		}
		buf[i] = c;
	}
	buf[36] = 0;
	return upper ? buf : NULL;
}

static int64_t ref_lookup(run *r, const char *vendor, const mtd_msg *m, int k)
{
	const mtd_str *v = &m->ref[k];
	char kind[48], guid[37];
	int64_t dev;
	if ((k == MTD_REF_INTUNE || k == MTD_REF_ENTRA || k == MTD_REF_MDM) && guid_lower(v, guid)) {
		mtd_str low = {guid, 36};
		mtd_msg lm = *m;
		lm.ref[k] = low;
		dev = ref_lookup(r, vendor, &lm, k);
		if (dev)
			return dev;
	}
	switch (k) {
	case MTD_REF_VENDOR:
		snprintf(kind, sizeof kind, "vendor:%s", vendor);
		return mtd_store_device_of_ident(r->h->store, kind, v->p, v->n);
	case MTD_REF_MDM: /* of an MDM not named: the device's own id, else Intune's */
		dev = device_by_ext(r, v->p, v->n);
		return dev ? dev : mtd_store_device_of_ident(r->h->store, "intune", v->p, v->n);
	case MTD_REF_USER:
		return mtd_store_device_of_user(r->h->store, v->p, v->n, m->ref_platform);
	default:
		return mtd_store_device_of_ident(r->h->store, mtd_ref_name(k), v->p, v->n);
	}
}

/* The device m names, for a message of connector vendor: by "device", or
 * by the strongest identifier of its device_ref that names one (MTD_REF_*
 * order), provided no other names a different one. */
static int resolve(run *r, const char *vendor, const mtd_msg *m, target *t)
{
	int first = -1, several = 0, vendor_known = 0;
	int64_t dev;

	t->dev = 0;
	t->via = t->learn = 0;
	t->why[0] = '\0';
	if (!m->refs) {
		if ((dev = device_by_ext(r, m->device.p, m->device.n)) < 0)
			return store_fail(r);
		if (!(t->dev = dev))
			snprintf(t->why, sizeof t->why, "unknown device '%.*s'", (int)m->device.n,
				 m->device.p);
		return 0;
	}
	for (int k = 0; k < MTD_NREF; k++) {
		if (!(m->refs >> k & 1))
			continue;
		if ((dev = ref_lookup(r, vendor, m, k)) == DEV_ERROR)
			return store_fail(r);
		if (dev == DEV_SEVERAL)
			several = 1;
		if (dev <= 0)
			continue;
		vendor_known |= k == MTD_REF_VENDOR;
		if (first < 0) {
			first = k;
			t->dev = dev;
		} else if (dev != t->dev) {
			snprintf(t->why, sizeof t->why,
				 "ambiguous: %s '%.*s' and %s '%.*s' name different devices",
				 mtd_ref_name(first), (int)m->ref[first].n, m->ref[first].p,
				 mtd_ref_name(k), (int)m->ref[k].n, m->ref[k].p);
			t->dev = 0;
			return 0;
		}
	}
	if (!t->dev) {
		size_t w = (size_t)snprintf(t->why, sizeof t->why, "no device has its");
		for (int k = 0; k < MTD_NREF && w < sizeof t->why; k++)
			if (m->refs >> k & 1)
				w += (size_t)snprintf(t->why + w, sizeof t->why - w, " %s '%.*s'",
						      mtd_ref_name(k), (int)m->ref[k].n, m->ref[k].p);
		if (several && w < sizeof t->why)
			snprintf(t->why + w, sizeof t->why - w, " (the user has several %s devices)",
				 mtd_platform_name(m->ref_platform));
		return 0;
	}
	t->via = first + 1;
	t->learn = (m->refs >> MTD_REF_VENDOR & 1) && !vendor_known;
	return 0;
}

/* ---- threat lifecycle (SPEC 4.1 extension) ----
 * Per (device, connector): the latest snapshot (a threat message) and the
 * latest event of each threat id (store.c, schema 7). A pair that never had
 * an event keeps its snapshot as received, written by one upsert: the
 * common case costs what it did before events existed. */

/* The pair's row as the lifecycle sees it; snap holds the snapshot's
 * threats (msgpack array) when has_threats. */
typedef struct rstate {
	int exists, nevents, has_snap, snap_level, os_supported, has_threats;
	int64_t snap_at;
	mtd_buf snap;
} rstate;

static int load_state(run *r, int64_t conn, int64_t dev, rstate *s)
{
	mtd_report_state row;
	int k = mtd_store_report_state(r->h->store, dev, conn, &row);
	s->exists = s->nevents = s->has_snap = s->has_threats = 0;
	s->snap_level = MTD_LEVEL_SECURED;
	s->os_supported = -1;
	s->snap_at = 0;
	s->snap.len = 0;
	if (k <= 0)
		return k ? store_fail(r) : 0;
	s->exists = 1;
	s->nevents = row.nevents;
	s->os_supported = row.os_supported;
	if (!row.has_snap)
		return 0;
	s->has_snap = 1;
	s->snap_level = row.snap_level;
	s->snap_at = row.snap_at;
	if (row.snap_threats) {
		s->has_threats = 1;
		if (mtd_buf_put(&s->snap, row.snap_threats, row.nsnap_threats))
			return mtd_fail(r->h, MTD_ENOMEM, "out of memory");
	}
	return 0;
}

typedef struct evrow {
	char *id, *category, *name; /* owned; category, name may be NULL */
	int open, level;
	int64_t at, since;
} evrow;

static void evrows_free(evrow *v, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free(v[i].id);
		free(v[i].category);
		free(v[i].name);
	}
	free(v);
}

static char *dup_or_null(const char *t)
{
	return t ? strdup(t) : NULL;
}

struct evrows {
	evrow *v;
	size_t k;
};

static int event_row(void *ud, const mtd_event_row *row)
{
	struct evrows *e = ud;
	evrow *nv = realloc(e->v, (e->k + 1) * sizeof *e->v), *x;
	if (!nv)
		return MTD_ENOMEM;
	e->v = nv;
	x = &e->v[e->k++];
	x->id = dup_or_null(row->id);
	x->open = row->open;
	x->at = row->at;
	x->category = dup_or_null(row->category);
	x->name = dup_or_null(row->name);
	x->level = row->level;
	x->since = row->since;
	return x->id ? 0 : MTD_ENOMEM;
}

static int load_events(run *r, int64_t conn, int64_t dev, evrow **out, size_t *n)
{
	struct evrows e = {NULL, 0};
	int rc = mtd_store_events_of(r->h->store, dev, conn, event_row, &e);
	*out = NULL;
	*n = 0;
	if (rc) {
		evrows_free(e.v, e.k);
		return rc == MTD_ENOMEM ? mtd_fail(r->h, MTD_ENOMEM, "out of memory") : store_fail(r);
	}
	*out = e.v;
	*n = e.k;
	return 0;
}

/* One open threat into b, as a threat message's, with since. */
static int put_open(mtd_buf *b, const mtd_str *id, const mtd_str *category, const mtd_str *name,
		    int level, int64_t since)
{
	const char *lv = mtd_level_name(level);
	return mtd_mp_container(b, 1, 3 + (id->p != NULL) + (name->p != NULL)) ||
	       (id->p && (mtd_mp_str(b, "id", 2) || mtd_mp_str(b, id->p, id->n))) ||
	       mtd_mp_str(b, "category", 8) || mtd_mp_str(b, category->p, category->n) ||
	       (name->p && (mtd_mp_str(b, "name", 4) || mtd_mp_str(b, name->p, name->n))) ||
	       mtd_mp_str(b, "level", 5) || mtd_mp_str(b, lv, strlen(lv)) ||
	       mtd_mp_str(b, "since", 5) || mtd_mp_int(b, since);
}

static mtd_str cstr(const char *s)
{
	mtd_str v = {s, s ? strlen(s) : 0};
	return v;
}

/* Write the pair's row from its snapshot s and its events: the open set
 * (the snapshot's threats that no later event names, and the open
 * events), the level (the highest of the snapshot's, or secured without
 * one, and every open threat's), the threat that sets it (the first open
 * threat above the snapshot's level at the highest level, the oldest of
 * equals), the latest time. */
static int rebuild(run *r, int64_t conn, int64_t dev, const rstate *s)
{
	evrow *ev;
	size_t nev, nopen = 0;
	mtd_buf items = {0}, all = {0};
	int level = s->has_snap ? s->snap_level : MTD_LEVEL_SECURED, cause = -1, rc;
	int64_t at = s->has_snap ? s->snap_at : 0, cause_since = 0;

	if ((rc = load_events(r, conn, dev, &ev, &nev)))
		return rc;
	for (size_t i = 0; i < nev; i++)
		if (ev[i].at > at)
			at = ev[i].at;
#define OPEN_ONE(lv, since_)                                                            \
	do {                                                                            \
		if ((lv) > level || (cause >= 0 && (lv) == level && (since_) < cause_since)) { \
			level = (lv);                                                   \
			cause = (int)nopen;                                             \
			cause_since = (since_);                                         \
		}                                                                       \
		nopen++;                                                                \
	} while (0)
	rc = 0;
	if (s->has_threats) {
		mtd_msg snap;
		mtd_threat t;
		size_t pos = 0;
		memset(&snap, 0, offsetof(mtd_msg, ref));
		snap.threats = s->snap.data;
		snap.threats_len = s->snap.len;
		while (!rc && mtd_msg_threat(&snap, &pos, &t)) {
			size_t k = nev;
			if (t.id.p)
				for (k = 0; k < nev; k++)
					if (strlen(ev[k].id) == t.id.n && !memcmp(ev[k].id, t.id.p, t.id.n))
						break;
			if (k < nev)
				continue; /* a later event of this threat says what it is now */
			rc = put_open(&items, &t.id, &t.category, &t.name, t.level, s->snap_at);
			OPEN_ONE(t.level, s->snap_at);
		}
	}
	for (size_t i = 0; !rc && i < nev; i++) {
		mtd_str id = cstr(ev[i].id), category = cstr(ev[i].category), name = cstr(ev[i].name);
		if (!ev[i].open || !category.p || ev[i].level < 0)
			continue;
		rc = put_open(&items, &id, &category, &name, ev[i].level, ev[i].since);
		OPEN_ONE(ev[i].level, ev[i].since);
	}
#undef OPEN_ONE
	if (rc || mtd_mp_container(&all, 0, nopen) || mtd_buf_put(&all, items.data, items.len)) {
		rc = mtd_fail(r->h, MTD_ENOMEM, "out of memory");
		goto out;
	}
	{
		mtd_report_put row = {.os_supported = s->os_supported, .snap_level = -1, .cause = -1};
		if (nev == 0) { /* the snapshot alone, as a pair without events keeps it */
			row.level = s->snap_level;
			row.at = s->snap_at;
			if (s->has_threats) {
				row.threats = s->snap.data;
				row.nthreats = s->snap.len;
			}
		} else {
			row.level = level;
			row.at = at;
			row.threats = all.data;
			row.nthreats = all.len;
			row.nevents = (int64_t)nev;
			if (s->has_snap) {
				row.snap_level = s->snap_level;
				row.snap_at = s->snap_at;
				if (s->has_threats) {
					row.snap_threats = s->snap.data;
					row.nsnap_threats = s->snap.len;
				}
			}
			row.cause = cause;
		}
		if (mtd_store_report_put(r->h->store, dev, conn, r->h->now, &row))
			rc = store_fail(r);
	}
out:
	evrows_free(ev, nev);
	mtd_buf_free(&items);
	mtd_buf_free(&all);
	return rc;
}

/* A snapshot (threat message) of device dev. */
static int snapshot(run *r, int64_t conn, int64_t dev, const mtd_msg *m,
		    unsigned char row[MTD_ROW_DIGEST], int *have_row)
{
	rstate s = {0};
	int rc;

	/* written: the row is what was bound (the upsert sets every column),
	 * and its digest goes into the message's log entry */
	if ((rc = mtd_store_report_upsert(r->h->store, dev, conn, r->h->now, m)) < 0)
		return store_fail(r);
	if (rc) {
		mtd_report_digest(dev, conn, m->level, m->at, r->h->now, m->os_supported,
				  m->threats, m->threats ? m->threats_len : 0, row);
		*have_row = 1;
	}
	if (*have_row)
		return 0;
	/* not written: a newer snapshot is stored, or the pair has events */
	if ((rc = load_state(r, conn, dev, &s)) || !s.nevents || (s.has_snap && m->at < s.snap_at))
		goto out;
	/* events before it are part of it */
	if (mtd_store_events_delete_before(r->h->store, r->h->now, dev, conn, m->at)) {
		rc = store_fail(r);
		goto out;
	}
	s.has_snap = 1;
	s.snap_level = m->level;
	s.snap_at = m->at;
	s.os_supported = m->os_supported;
	s.has_threats = m->threats != NULL;
	s.snap.len = 0;
	if (m->threats && mtd_buf_put(&s.snap, m->threats, m->threats_len)) {
		rc = mtd_fail(r->h, MTD_ENOMEM, "out of memory");
		goto out;
	}
	rc = rebuild(r, conn, dev, &s);
out:
	mtd_buf_free(&s.snap);
	return rc;
}

/* A threat_event of device dev, applied in at order: one older than the
 * snapshot is part of it; one older than the threat's latest event lost
 * (at the same time, a resolve wins). */
static int event(run *r, int64_t conn, int64_t dev, const mtd_msg *m)
{
	const mtd_threat *t = &m->event;
	rstate s = {0};
	int rc, known = 0, was_open = 0;
	int64_t last = 0, since = m->at, open_since = 0;

	if ((rc = load_state(r, conn, dev, &s)) || (s.has_snap && m->at < s.snap_at))
		goto out;
	if ((known = mtd_store_event_get(r->h->store, dev, conn, t->id.p, t->id.n, &was_open, &last,
					 &open_since)) < 0) {
		rc = store_fail(r);
		goto out;
	}
	if (known && was_open)
		since = open_since;
	if (known && (last > m->at || (last == m->at && !was_open)))
		goto out;
	if (mtd_store_event_put(r->h->store, r->h->now, dev, conn, t, m->state == MTD_EVENT_OPEN, m->at,
				since)) {
		rc = store_fail(r);
		goto out;
	}
	rc = rebuild(r, conn, dev, &s);
out:
	mtd_buf_free(&s.snap);
	return rc;
}

/* ---- parking ---- */

static int unpark(run *r, enum mtd_sql which, int64_t conn, const char *vid, size_t vn);

/* Learn m's vendor_device_id as the identifier vendor:<vendor> of t->dev
 * (audited), then apply what was parked waiting for it. */
static int learn(run *r, int64_t conn, const char *vendor, const mtd_msg *m, const target *t)
{
	const mtd_str *v = &m->ref[MTD_REF_VENDOR];
	char kind[48], ext[MTD_MAX_ID + 1];
	int rc;

	snprintf(kind, sizeof kind, "vendor:%s", vendor);
	if (mtd_store_ids_put(r->h->store, kind, strlen(kind), v->p, v->n, t->dev))
		return store_fail(r);
	if ((rc = ids_logged(r, t->dev, kind, strlen(kind), v->p, v->n)) ||
	    (rc = device_ext(r, t->dev, ext, sizeof ext)) ||
	    (rc = audit_json(r, "id_learned", vendor, ext,
			     json_pack("{s:s, s:s%, s:s}", "kind", kind, "value", v->p, v->n, "from",
				       mtd_ref_name(t->via - 1)))))
		return rc;
	return unpark(r, SQL_PARK_BY_VENDOR_ID, conn, v->p, v->n);
}

/* Apply message m of connector conn (vendor), which names t->dev: store
 * it, log it (with how it named the device), learn what it teaches. */
static int apply(run *r, int64_t conn, const char *vendor, const mtd_msg *m, const target *t)
{
	unsigned char row[MTD_ROW_DIGEST];
	int have = 0;
	int rc;

	if (m->type == MTD_MSG_TASK) {
		/* its row (keyed by the task id too) is in the row log */
		if (mtd_task_apply(r->h->store, r->h->now, conn, t->dev, m, &have) ||
		    mtd_store_log_message(r->h->store, r->h->now, conn, t->dev, m->type, -1, t->via,
					  m->at, NULL, 0, NULL))
			return store_fail(r);
		return t->learn ? learn(r, conn, vendor, m, t) : 0;
	}
	rc = m->type == MTD_MSG_THREAT ? snapshot(r, conn, t->dev, m, row, &have)
				       : event(r, conn, t->dev, m);
	if (rc)
		return rc;
	/* the report as it is now stored goes into the message's log entry:
	 * read back unless the snapshot's upsert returned it */
	rc = have;
	if ((!have && (rc = mtd_store_row_digest_of(r->h->store, MTD_ROW_REPORTS, t->dev, conn, NULL,
						   0, row)) < 0) ||
	    mtd_store_log_message(r->h->store, r->h->now, conn, t->dev, m->type,
				  m->type == MTD_MSG_THREAT ? m->level : m->event.level, t->via, m->at,
				  NULL, 0, rc ? row : NULL))
		return store_fail(r);
	return t->learn ? learn(r, conn, vendor, m, t) : 0;
}

/* Keep message m (its msgpack bytes mp[0..len)), which names no device or
 * several, until it resolves (audited with the message). */
static int park(run *r, const mtd_msg *m, const void *mp, size_t len, const target *t)
{
	int64_t id;
	if (mtd_store_park(r->h->store, r->h->now, r->conn.id, t->why,
			   m->refs >> MTD_REF_VENDOR & 1 ? &m->ref[MTD_REF_VENDOR] : NULL, mp, len, &id))
		return store_fail(r);
	r->pend_parked++;
	mtd_diag(r->h, "%s: parked: %s (applied when it names one device: 'mtdgate parked')",
		 where(r), t->why);
	return audit_json(r, "parked", r->vendor, NULL,
			  json_pack("{s:I, s:s, s:o*}", "parked", (json_int_t)id, "reason", t->why,
				    "message", mtd_msg_json(m)));
}

typedef struct prow {
	int64_t id, conn, received;
	char *reason;
	void *msg; /* msgpack, len bytes */
	size_t len;
} prow;

static void prows_free(prow *v, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free(v[i].reason);
		free(v[i].msg);
	}
	free(v);
}

/* The parked rows which selects (SQL_PARK_*: parameters conn and
 * vid[0..vn), or the time now, or none), in the order received. */
static int load_parked(mtd_store *s, enum mtd_sql which, int64_t conn, const char *vid, size_t vn,
		       int64_t now, prow **out, size_t *n)
{
	sqlite3_stmt *st = mtd_store_stmt(s, which);
	prow *v = NULL;
	size_t k = 0;
	int step, rc = 0;

	*out = NULL;
	*n = 0;
	if (!st)
		return MTD_ESTORE;
	if (which == SQL_PARK_BY_VENDOR_ID) {
		sqlite3_bind_int64(st, 1, conn);
		mtd_bind_text(st, 2, vid, vn);
	} else if (which == SQL_PARK_EXPIRED) {
		sqlite3_bind_int64(st, 1, now);
	}
	while (!rc && (step = sqlite3_step(st)) == SQLITE_ROW) {
		prow *nv = realloc(v, (k + 1) * sizeof *v);
		mtd_parked_row row;
		if (!nv) {
			rc = MTD_ENOMEM;
			break;
		}
		v = nv;
		mtd_parked_row_read(st, &row);
		v[k].id = row.id;
		v[k].conn = row.conn;
		v[k].received = row.received;
		v[k].reason = dup_or_null(row.reason);
		v[k].len = row.len;
		v[k].msg = malloc(row.len ? row.len : 1);
		if (v[k].msg && row.len)
			memcpy(v[k].msg, row.msg, row.len);
		if (!v[k++].reason || !v[k - 1].msg)
			rc = MTD_ENOMEM;
	}
	sqlite3_reset(st);
	if (!rc && step != SQLITE_DONE)
		rc = MTD_ESTORE;
	if (rc) {
		prows_free(v, k);
		return rc;
	}
	*out = v;
	*n = k;
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
		 "%lld s allowed, --max-skew): refused", where(r),
		 mtd_time_format(m->at, at, sizeof at), (long long)(m->at - r->h->now),
		 mtd_time_format(r->h->now, now, sizeof now), (long long)r->h->max_skew);
	snprintf(extra, sizeof extra, ",\"reason\":\"future\",\"received\":%lld",
		 (long long)r->h->now);
	r->pend_rejected++;
	r->conn.rejected++;
	r->conn_dirty = 1;
	return audit_msg(r, "message_rejected", m, extra);
}

/* The vendor of connector id conn (NULL when there is none). */
static const char *vendor_of(run *r, int64_t conn)
{
	if (!r->conns && mtd_conn_load_all(r->h->store, &r->conns, &r->nconns))
		return NULL;
	for (size_t i = 0; i < r->nconns; i++)
		if (r->conns[i].id == conn)
			return r->conns[i].vendor;
	return NULL;
}

static const char *via_name(int via)
{
	return via ? mtd_ref_name(via - 1) : "device";
}

/* Apply the parked messages which selects (see load_parked) that now
 * resolve, in the order received; each is audited as it is. */
static int unpark(run *r, enum mtd_sql which, int64_t conn, const char *vid, size_t vn)
{
	prow *v;
	size_t n;
	int rc = load_parked(r->h->store, which, conn, vid, vn, 0, &v, &n);

	if (rc)
		return rc == MTD_ENOMEM ? mtd_fail(r->h, rc, "out of memory") : store_fail(r);
	for (size_t i = 0; !rc && i < n; i++) {
		const char *vendor = vendor_of(r, v[i].conn);
		char why[300], ext[MTD_MAX_ID + 1];
		target t;
		int k;
		mtd_msg m;

		/* one that no longer decodes stays, listed by 'parked', until it expires */
		if (!vendor || mtd_decode_msg(v[i].msg, v[i].len, &m, why, sizeof why))
			continue;
		if ((rc = resolve(r, vendor, &m, &t)) || !t.dev)
			continue;
		if ((k = mtd_store_park_delete(r->h->store, r->h->now, v[i].id)) < 0) {
			rc = store_fail(r);
			break;
		}
		if (!k)
			continue; /* applied already, by a call this one made */
		if ((rc = apply(r, v[i].conn, vendor, &m, &t)) ||
		    (rc = device_ext(r, t.dev, ext, sizeof ext)) ||
		    (rc = audit_json(r, "unparked", vendor, ext,
				     json_pack("{s:I, s:I, s:s}", "parked", (json_int_t)v[i].id,
					       "received", (json_int_t)v[i].received, "via",
					       via_name(t.via)))))
			break;
		r->pend_unparked++;
	}
	prows_free(v, n);
	return rc;
}

/* Drop the parked messages older than their connector's parked_days
 * (audited with the message). */
static int expire_parked(run *r)
{
	prow *v;
	size_t n;
	int rc = load_parked(r->h->store, SQL_PARK_EXPIRED, 0, NULL, 0, r->h->now, &v, &n);

	if (rc)
		return rc == MTD_ENOMEM ? mtd_fail(r->h, rc, "out of memory") : store_fail(r);
	for (size_t i = 0; !rc && i < n; i++) {
		mtd_msg m;
		char why[8];
		json_t *msg = mtd_decode_msg(v[i].msg, v[i].len, &m, why, sizeof why) ? NULL
										  : mtd_msg_json(&m);
		if (mtd_store_park_delete(r->h->store, r->h->now, v[i].id) < 0) {
			json_decref(msg);
			rc = store_fail(r);
			break;
		}
		rc = audit_json(r, "parked_expired", vendor_of(r, v[i].conn),
				NULL, json_pack("{s:I, s:I, s:s, s:o*}", "parked", (json_int_t)v[i].id,
						"received", (json_int_t)v[i].received, "reason",
						v[i].reason, "message", msg));
	}
	prows_free(v, n);
	return rc;
}

/* One validated message on the connector (R1 gate, R2 lifecycle); mp[0..len)
 * its msgpack bytes (what is parked). */
static int on_message(run *r, const mtd_msg *m, const void *mp, size_t len)
{
	int state = mtd_conn_state_at(&r->conn, r->h->now);
	int before = r->conn.state, rc;
	target t;

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
	case MTD_MSG_THREAT_EVENT:
	case MTD_MSG_TASK:
		/* the audit record of an accepted message is a row of the sealed
		 * message log (store.h), written by apply */
		if ((rc = resolve(r, r->vendor, m, &t)) ||
		    (rc = t.dev ? apply(r, r->conn.id, r->vendor, m, &t) : park(r, m, mp, len, &t)))
			return rc;
		if (t.dev)
			r->pend_accepted++;
		goto contact;
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
	if (mtd_store_log_message(r->h->store, r->h->now, r->conn.id, 0, m->type, -1, 0, m->at,
				  m->type == MTD_MSG_ERROR ? m->code.p : NULL,
				  m->type == MTD_MSG_ERROR ? m->code.n : 0, NULL))
		return store_fail(r);
	r->pend_accepted++;
contact:
	if (mtd_conn_state_at(&r->conn, r->h->now) != before)
		return save_conn(r); /* audits the transition where it happened */
	return 0;
}

static int one_normalized(run *r, const mtd_record *rec)
{
	/* decoded by the reader (MTD_READ_MSG) */
	return on_message(r, rec->msg, rec->mp, rec->mp_len);
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
			if (mtd_msgpack_frame(data, len, &flen) != 1 || flen != len)
				bad_record(r, "the plugin emitted bytes that are not one msgpack message");
			else {
				snprintf(why, sizeof why, "the plugin emitted an invalid message: %s", inner);
				bad_record(r, why);
			}
			return -1;
		}
		s->emitted++;
		s->rc = on_message(r, &m, data, len);
	}
	return s->rc ? -1 : 0;
}

/* One bad element of a payload (ABI 1.1): counted and reported with the
 * record's position; the payload's good elements are kept. */
static int host_element(void *ud, const char *path, const char *msg)
{
	sink *s = ud;
	s->r->st->bad_elements++;
	mtd_diag(s->r->h, "%s: %s: %s", where(s->r), path[0] ? path : "(element)",
		 msg[0] ? msg : "bad element");
	return 0;
}

/* Records decoded per exchange with an isolated plugin: a pipe round trip
 * per record cost more than the decoding (README, "Trust boundaries"). */
#define NATIVE_BATCH 256
#define NATIVE_BATCH_BYTES (1u << 20)

typedef struct plug_run {
	run r;
	mtd_child *plugin; /* in a child process unless isolation is off */
	const char *id;
	int batched;       /* isolated: records wait in the batch */
	size_t n, bytes;   /* the batch: n records, copied into buf */
	unsigned char *buf;
	size_t cap;
	size_t off[NATIVE_BATCH], len[NATIVE_BATCH];
	char where[NATIVE_BATCH][256];
	sink s;            /* of the batch's record being applied */
	uint64_t bad_before;
} plug_run;

/* A record's result: a failure the plugin's output has not already
 * reported is reported here, naming the plugin's return code. */
static void native_result(plug_run *pr, int rc, const char *err, uint64_t bad_before)
{
	run *r = &pr->r;
	if (rc < 0 && r->st->malformed == bad_before) {
		char m[800];
		snprintf(m, sizeof m, "%s plugin: %s%.600s", pr->id,
			 rc == MTD_PLUGIN_ENOMEM	      ? "out of memory: "
			 : rc == MTD_PLUGIN_EINTERNAL ? "internal error: " : "",
			 err[0] ? err : "malformed payload");
		bad_record(r, m);
	}
}

static void batch_begin(void *ud, size_t i)
{
	plug_run *pr = (plug_run *)((sink *)ud)->r;
	pr->r.where_now = pr->where[i];
	pr->bad_before = pr->r.st->malformed;
}

static void batch_end(void *ud, size_t i, int rc, const char *err)
{
	plug_run *pr = (plug_run *)((sink *)ud)->r;
	(void)i;
	if (!pr->s.rc)
		native_result(pr, rc, err, pr->bad_before);
}

/* Decode and apply the records of the batch, in order. */
static int native_flush(run *r)
{
	plug_run *pr = (plug_run *)r;
	mtd_child_payload pl[NATIVE_BATCH];
	const mtd_child_sink cs = {.emit = host_emit, .element_error = host_element, .ud = &pr->s,
				   .begin = batch_begin, .end = batch_end};
	char why[600];

	if (!pr->n)
		return 0;
	for (size_t i = 0; i < pr->n; i++)
		pl[i] = (mtd_child_payload){pr->buf + pr->off[i], pr->len[i]};
	pr->s = (sink){r, 0, 0};
	mtd_child_decode_batch(pr->plugin, pr->n, pl, &cs, why, sizeof why);
	r->where_now = NULL;
	pr->n = pr->bytes = 0;
	return pr->s.rc;
}

static int one_native(run *r, const mtd_record *rec)
{
	plug_run *pr = (plug_run *)r;
	sink s = {r, 0, 0};
	const mtd_child_sink cs = {.emit = host_emit, .element_error = host_element, .ud = &s};
	char why[600] = "";
	uint64_t bad_before = r->st->malformed;
	int rc;

	if (pr->batched) {
		if (pr->bytes + rec->raw_len > pr->cap) {
			size_t cap = pr->bytes + rec->raw_len + NATIVE_BATCH_BYTES;
			unsigned char *b = realloc(pr->buf, cap);
			if (!b)
				return mtd_fail(r->h, MTD_ENOMEM, "out of memory");
			pr->buf = b;
			pr->cap = cap;
		}
		memcpy(pr->buf + pr->bytes, rec->raw, rec->raw_len);
		pr->off[pr->n] = pr->bytes;
		pr->len[pr->n] = rec->raw_len;
		snprintf(pr->where[pr->n], sizeof pr->where[pr->n], "%s", mtd_reader_where(r->rd));
		pr->bytes += rec->raw_len;
		if (++pr->n == NATIVE_BATCH || pr->bytes >= NATIVE_BATCH_BYTES)
			return native_flush(r);
		return 0;
	}
	rc = mtd_child_decode(pr->plugin, rec->raw, rec->raw_len, &cs, why, sizeof why);
	if (s.rc)
		return s.rc;
	native_result(pr, rc, why, bad_before);
	return 0;
}

/* Before a connector's input is applied, in a transaction of its own: the
 * state changes that happened while nobody listened (e.g. unresponsive)
 * audited, expired parked messages dropped; then the connector as it is
 * now into r->conn. */
static int catch_up(run *r, const char *vendor)
{
	mtd_t *h = r->h;
	int rc = begin(r);
	if (rc)
		return rc;
	rc = mtd_refresh_connectors(h);
	if (!rc)
		rc = expire_parked(r);
	if (!rc && mtd_store_commit(h->store))
		rc = mtd_fail(h, MTD_ESTORE, "%s", mtd_store_errmsg(h->store));
	if (rc) {
		mtd_store_rollback(h->store);
		return rc;
	}
	return mtd_conn_load(h->store, vendor, &r->conn);
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
		pr.batched = mtd_child_pid(pr.plugin) > 0;
		r->flush = native_flush;
	}
	rc = catch_up(r, vendor);
	if (!rc)
		dm_maybe(r, in);
	if (!rc)
		rc = each_record(r, in, name, normalized ? MTD_READ_MSG : MTD_READ_FRAME,
				 normalized ? one_normalized : one_native);
	dm_free(r->dm);
	free(r->conns);
	mtd_child_stop(pr.plugin);
	free(pr.buf);
	return rc;
}

/* ---- pages of a vendor's API (feed.h) ---- */

int mtd_pull_state_get(mtd_t *h, const char *vendor, const char *key, char *buf, size_t n)
{
	int rc = mtd_store_pull_state_get(h->store, vendor, key, buf, n);
	return rc == MTD_ESTORE ? mtd_fail(h, rc, "%s", mtd_store_errmsg(h->store)) : rc;
}

int mtd_pull_state_set(mtd_t *h, const char *vendor, const char *key, const char *value)
{
	return mtd_store_pull_state_set(h->store, vendor, key, value)
		       ? mtd_fail(h, MTD_ESTORE, "%s", mtd_store_errmsg(h->store))
		       : 0;
}

struct mtd_feed {
	plug_run pr;
	int64_t seen_n;  /* the last n given to an event id */
	int skip;        /* the messages now emitted belong to a replayed event */
	mtd_feed_values *v;
};

static int feed_emit(void *ud, const void *data, size_t len)
{
	sink *s = ud;
	mtd_feed *f = (mtd_feed *)s->r;
	if (f->skip)
		return 0; /* a replayed event's: applied when it first came */
	return host_emit(ud, data, len);
}

static int feed_value(void *ud, const char *name, const char *value)
{
	mtd_feed *f = (mtd_feed *)((sink *)ud)->r;
	if (!strcmp(name, MTD_API_V_NEXT))
		snprintf(f->v->next, sizeof f->v->next, "%s", value);
	else if (!strcmp(name, MTD_API_V_RESUME))
		snprintf(f->v->resume, sizeof f->v->resume, "%s", value);
	else if (!strcmp(name, MTD_API_V_COUNT) || !strcmp(name, MTD_API_V_TOTAL)) {
		char *end;
		long long n;
		errno = 0;
		n = strtoll(value, &end, 10);
		if (errno || *end || end == value || n < 0 || n > 1000000000LL)
			return -1; /* not a count: refused, the page is malformed */
		*(!strcmp(name, MTD_API_V_COUNT) ? &f->v->count : &f->v->total) = n;
	}
	return 0;
}

/* An event id: seen before (its messages dropped), or remembered now. */
static int feed_event(void *ud, const char *id)
{
	sink *s = ud;
	mtd_feed *f = (mtd_feed *)s->r;
	int k;
	if (s->rc)
		return -1;
	f->v->events++;
	if ((k = mtd_store_pull_seen_add(f->pr.r.h->store, f->pr.r.vendor, id, f->seen_n + 1)) < 0) {
		s->rc = store_fail(s->r);
		return -1;
	}
	f->skip = k;
	if (k)
		f->v->replayed++;
	else
		f->seen_n++;
	return 0;
}

int mtd_feed_open(mtd_t *h, const char *vendor, mtd_stats *st, mtd_feed **out)
{
	mtd_feed *f;
	run *r;
	mtd_plugin_desc d;
	int rc = mtd_need_store(h);

	*out = NULL;
	memset(st, 0, sizeof *st);
	if (rc)
		return rc;
	if (!(f = calloc(1, sizeof *f)))
		return mtd_fail(h, MTD_ENOMEM, "out of memory");
	*out = f;
	r = &f->pr.r;
	r->h = h;
	r->st = st;
	r->vendor = vendor;
	f->pr.id = vendor;
	if ((rc = mtd_conn_load(h->store, vendor, &r->conn)) == MTD_ENOTFOUND)
		return mtd_fail(h, MTD_EREFUSED, "no connector %s: messages from it are refused "
				"(add it with 'mtdgate connector add %s')", vendor, vendor);
	if (rc)
		return mtd_fail(h, rc, "%s", mtd_store_errmsg(h->store));
	if ((rc = mtd_start_plugin(h, vendor, 0, &f->pr.plugin, &d)))
		return rc;
	if (mtd_store_pull_seen_max(h->store, vendor, &f->seen_n))
		return mtd_fail(h, MTD_ESTORE, "%s", mtd_store_errmsg(h->store));
	return catch_up(r, vendor);
}

mtd_child *mtd_feed_plugin(mtd_feed *f)
{
	return f->pr.plugin;
}

int mtd_feed_page(mtd_feed *f, uint32_t ep, const void *data, size_t len, const char *where,
		  int (*hook)(void *ud, const mtd_feed_values *v), void *ud, mtd_feed_values *v)
{
	run *r = &f->pr.r;
	sink s = {r, 0, 0};
	const mtd_child_sink cs = {.emit = feed_emit, .element_error = host_element,
				   .api_value = feed_value, .event_id = feed_event, .ud = &s};
	uint64_t bad_before = r->st->malformed;
	int rc;

	memset(v, 0, sizeof *v);
	v->count = v->total = -1;
	f->v = v;
	f->skip = 0;
	if ((rc = begin(r)))
		return rc;
	r->where_now = where;
	r->st->records++;
	v->rc = mtd_child_api_decode(f->pr.plugin, MTD_API_DECODE_PAGE, ep, data, len, &cs, v->err,
				     sizeof v->err);
	if (s.rc) {
		mtd_store_rollback(r->h->store);
		r->where_now = NULL;
		return s.rc;
	}
	if (v->rc == MTD_EPLUGIN) { /* it crashed or hung: nothing of the page */
		mtd_store_rollback(r->h->store);
		r->st->records--;
		r->pend_accepted = r->pend_rejected = r->pend_parked = r->pend_unparked = 0;
		r->where_now = NULL;
		return 0;
	}
	native_result(&f->pr, v->rc, v->err, bad_before);
	/* the window of event ids stays bounded */
	if (f->seen_n > MTD_FEED_SEEN) {
		rc = mtd_store_pull_seen_trim(r->h->store, r->vendor, f->seen_n - MTD_FEED_SEEN)
			     ? store_fail(r)
			     : 0;
	}
	if (!rc && hook)
		rc = hook(ud, v);
	r->where_now = NULL;
	if (rc) {
		mtd_store_rollback(r->h->store);
		return rc;
	}
	r->in_batch = 1;
	mtd_test_stop("pull-before-commit", r->commits + 1);
	return commit(r);
}

void mtd_feed_close(mtd_feed *f)
{
	if (!f)
		return;
	dm_free(f->pr.r.dm);
	free(f->pr.r.conns);
	mtd_child_stop(f->pr.plugin);
	free(f->pr.buf);
	free(f);
}

/* ---- listing ---- */

int mtd_parked(mtd_t *h, mtd_parked_fn fn, void *ud)
{
	prow *v = NULL;
	size_t n = 0;
	mtd_conn *conns = NULL;
	size_t nconns = 0;
	int rc = mtd_need_store_read(h);

	if (rc)
		return rc;
	if ((rc = mtd_conn_load_all(h->store, &conns, &nconns)) ||
	    (rc = load_parked(h->store, SQL_PARK_ALL, 0, NULL, 0, 0, &v, &n)))
		return mtd_fail(h, rc, "%s", rc == MTD_ENOMEM ? "out of memory" : mtd_store_errmsg(h->store));
	for (size_t i = 0; !rc && i < n; i++) {
		mtd_parked_info p = {v[i].id, "?", v[i].received, v[i].reason, NULL};
		mtd_msg m;
		char why[600];
		char *text = NULL;
		for (size_t k = 0; k < nconns; k++)
			if (conns[k].id == v[i].conn)
				p.vendor = conns[k].vendor;
		if (mtd_decode_msg(v[i].msg, v[i].len, &m, why, sizeof why) == 0) {
			json_t *j = mtd_msg_json(&m);
			text = j ? json_dumps(j, JSON_COMPACT) : NULL;
			json_decref(j);
			if (!text) {
				rc = mtd_fail(h, MTD_ENOMEM, "out of memory");
				break;
			}
		}
		p.message = text ? text : "null";
		rc = fn(ud, &p);
		free(text);
	}
	prows_free(v, n);
	free(conns);
	return rc;
}
