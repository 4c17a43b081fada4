/* engine: one streaming pass over devices joined with their latest reports
 * and current decision; rules decide; only changed decisions are written
 * (and logged), all in one transaction so an evaluation applies whole or
 * not at all. Also the report of stored decisions.
 *
 * What a decision says apart from its device (state, level, access, app
 * action, vendors, reasons, resources) is an outcome, interned in the store
 * and shared by every device that has it; a decision row is the device, its
 * outcome and three times. With rules that declare themselves pure, a
 * device that looks the same to the rules as one before reuses that call's
 * result (rules.c) and with it the outcome, so the per-device path is a row
 * read, a comparison and, when it changed, two small writes. */
#include <stdlib.h>
#include <string.h>

#include "codec.h"
#include "connector.h"
#include "mtd_int.h"
#include "rules.h"
#include "change.h"
#include "tasks.h"
#include "tbuf.h"

typedef struct gset {
	char **names;
	size_t n;
} gset;

typedef struct eval {
	mtd_t *h;
	mtd_conn *conns;
	size_t nconns;
	int *cstate; /* state of each connector at now */
	const char **vname; /* each connector's vendor, the rules' copy (or NULL) */
	gset *sets;
	size_t nsets;
	mtd_rules *rules;
	tbuf vb, rb, resb; /* the new decision's texts, reused */
	struct ocache *oc;
	struct pcache *pc; /* for callbacks */
	struct oldc *old;  /* the stored decisions' outcomes */
	struct dblock *cur; /* the decision block of the device at hand */
	int recall; /* pure rules without inventory: the memo first (recalled) */
	struct pviews *pv; /* recalled's, by platform (MTD_NPLAT) */
	int32_t *memo_oc; /* rules' memo entry -> outcome cache slot + 1 */
	size_t nmemo_oc;
	int64_t dry_ids;  /* dry run: -1, and new outcomes get ids -2, -3, ... */
	struct spool *sp; /* a snapshot pass: the changes to write */
	struct outcome *prov; /* a snapshot pass: the new outcome of id -2 - i */
	size_t nprov, prov_cap, prov_bytes;
	int slim;          /* scanning without the details (see SQL_EVAL_*_SLIM) */
	uint64_t details;  /* devices whose details were looked up */
} eval;

static void free_sets(eval *e)
{
	for (size_t i = 0; i < e->nsets; i++) {
		for (size_t k = 0; k < e->sets[i].n; k++)
			free(e->sets[i].names[k]);
		free(e->sets[i].names);
	}
	free(e->sets);
}

static int load_sets(eval *e)
{
	sqlite3_stmt *st = mtd_store_stmt(e->h->store, SQL_GROUPSET_ALL);
	int rc;
	if (!st)
		return MTD_ESTORE;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		mtd_groupset_row row;
		int64_t id;
		const char *key;
		gset *g;
		mtd_groupset_row_read(st, &row);
		id = row.id;
		key = row.key;
		if (id < 1 || id > 10000000)
			return MTD_ESTORE;
		if (!(g = mtd_grow_zeroed(e->sets, &e->nsets, (size_t)id, sizeof *g)))
			return MTD_ENOMEM;
		e->sets = g;
		g = &e->sets[id];
		for (const char *p = key; *p;) {
			const char *nl = strchr(p, '\n');
			size_t l = nl ? (size_t)(nl - p) : strlen(p);
			char **nn = realloc(g->names, (g->n + 1) * sizeof *nn);
			if (!nn || !(nn[g->n] = strndup(p, l))) {
				if (nn)
					g->names = nn;
				return MTD_ENOMEM;
			}
			g->names = nn;
			g->n++;
			p += l + (nl ? 1 : 0);
		}
	}
	sqlite3_reset(st);
	return rc == SQLITE_DONE ? 0 : MTD_ESTORE;
}

/* ---- a decision, in stored and in public form ---- */


/* ---- outcomes ---- */

typedef struct outcome {
	int64_t id; /* its seq in the store; < 0 dry-run only; 0 none */
	uint64_t digest;
	int state, level, access, app;
	char *vendors, *reasons, *resources; /* one allocation, owned */
} outcome;

enum { ACCESS_ALLOW = 0, ACCESS_BLOCK = 1 };

static uint64_t digest_of(int state, int level, int access, int app, const char *vendors,
			  const char *reasons, const char *resources)
{
	int v[4] = {state, level, access, app};
	uint64_t h = mtd_fnv(MTD_FNV_SEED, v, sizeof v);
	h = mtd_fnv(h, vendors, strlen(vendors));
	h = mtd_fnv(h, resources, strlen(resources));
	return mtd_fnv(h, reasons, strlen(reasons)) & INT64_MAX;
}

static int outcome_set(outcome *o, int64_t id, int state, int level, int access, int app,
		       const char *vendors, const char *reasons, const char *resources)
{
	size_t lv = strlen(vendors) + 1, lr = strlen(reasons) + 1, ls = strlen(resources) + 1;
	char *p = malloc(lv + lr + ls);
	if (!p)
		return MTD_ENOMEM;
	o->id = id;
	o->digest = digest_of(state, level, access, app, vendors, reasons, resources);
	o->state = state;
	o->level = level;
	o->access = access;
	o->app = app;
	o->vendors = memcpy(p, vendors, lv);
	o->reasons = memcpy(p + lv, reasons, lr);
	o->resources = memcpy(p + lv + lr, resources, ls);
	return 0;
}

static int outcome_same(const outcome *o, uint64_t digest, int state, int level, int access,
			int app, const char *vendors, const char *reasons, const char *resources)
{
	return o->digest == digest && o->state == state && o->level == level &&
	       o->access == access && o->app == app && !strcmp(o->vendors, vendors) &&
	       !strcmp(o->reasons, reasons) && !strcmp(o->resources, resources);
}

/* The outcomes met in this run, by digest (open addressing); bounded, so a
 * fleet of all-different outcomes costs a store look-up each, not memory. */
#define OC_MAX 65536
typedef struct ocache {
	outcome *v; /* cap slots; id 0 = empty */
	size_t cap, n;
} ocache;

/* Slots of a pass's outcome cache: a power of two, twice the outcomes it
 * keeps at most; a pass over a few devices (a push to serve) gets a small
 * one: zeroing the whole 8 MiB took longer than deciding them. */
static size_t oc_cap(size_t ndevices)
{
	size_t cap = 64;
	while (cap < 2 * OC_MAX && (!ndevices || cap < 4 * ndevices))
		cap *= 2;
	return cap;
}

static void oc_free(ocache *c)
{
	if (!c)
		return;
	for (size_t i = 0; i < c->cap; i++)
		free(c->v[i].vendors);
	free(c->v);
	free(c);
}

/* Slot of an equal outcome, or of the empty slot where it would go. */
static size_t oc_slot(const ocache *c, uint64_t digest, int state, int level, int access,
		      int app, const char *vendors, const char *reasons, const char *resources)
{
	size_t i = (size_t)digest & (c->cap - 1);
	while (c->v[i].id &&
	       !outcome_same(&c->v[i], digest, state, level, access, app, vendors, reasons, resources))
		i = (i + 1) & (c->cap - 1);
	return i;
}

static int row_outcome(sqlite3_stmt *st, outcome *o)
{
	mtd_stored_outcome r;
	int rc = mtd_stored_outcome_read(st, &r);
	return rc ? rc
		  : outcome_set(o, r.seq, r.state, r.level, r.access, r.app_action, r.vendors,
				r.reasons, r.resources);
}

/* The stored outcome with these contents into *found (its id 0 when the
 * store has none; else free found->vendors). */
static int find_stored(mtd_store *s, uint64_t dg, int state, int level, int access, int app,
		       const char *vendors, const char *reasons, const char *resources,
		       outcome *found)
{
	sqlite3_stmt *st = mtd_store_stmt(s, SQL_OUTCOME_BY_DIGEST);
	int rc = 0, step;

	memset(found, 0, sizeof *found);
	if (!st)
		return MTD_ESTORE;
	sqlite3_bind_int64(st, 1, (int64_t)dg);
	while (!rc && (step = sqlite3_step(st)) == SQLITE_ROW && !found->id) {
		outcome o;
		if ((rc = row_outcome(st, &o)))
			break;
		if (outcome_same(&o, dg, state, level, access, app, vendors, reasons, resources))
			*found = o;
		else
			free(o.vendors);
	}
	sqlite3_reset(st);
	if (!rc && step != SQLITE_ROW && step != SQLITE_DONE)
		rc = MTD_ESTORE;
	if (rc) {
		free(found->vendors);
		found->vendors = NULL;
		found->id = 0;
	}
	return rc;
}

/* The id of outcome o in the store: found, or stored now. */
static int store_outcome(eval *e, const outcome *o, int64_t *id)
{
	outcome f;
	int rc = find_stored(e->h->store, o->digest, o->state, o->level, o->access, o->app,
			     o->vendors, o->reasons, o->resources, &f);
	if (!rc && f.id) {
		*id = f.id;
		free(f.vendors);
	} else if (!rc) {
		mtd_outcome_row r = {(int64_t)o->digest, o->state, o->level, o->access, o->app,
				     o->vendors, o->reasons, o->resources};
		rc = mtd_store_log_outcome(e->h->store, e->h->now, &r, id) ? MTD_ESTORE : 0;
	}
	return rc;
}

/* Memory the new outcomes of a snapshot pass may hold before the pass
 * gives up and evaluates under the write lock instead (a policy whose
 * every device has an outcome of its own: reasons naming the device). */
#define PROV_MAX_BYTES (64u << 20)
#define MTD_ERETRY_LOCKED 1 /* internal: evaluate again under the write lock */

/* Keep a copy of new outcome o (id -2 - nprov) to store in the write phase. */
static int prov_add(eval *e, const outcome *o)
{
	size_t bytes = strlen(o->vendors) + strlen(o->reasons) + strlen(o->resources) + 3 +
		       sizeof *o;
	if (e->prov_bytes + bytes > PROV_MAX_BYTES)
		return MTD_ERETRY_LOCKED;
	if (e->nprov == e->prov_cap) {
		size_t cap = e->prov_cap * 2;
		outcome *v = realloc(e->prov, cap * sizeof *v);
		if (!v)
			return MTD_ENOMEM;
		e->prov = v;
		e->prov_cap = cap;
	}
	if (outcome_set(&e->prov[e->nprov], o->id, o->state, o->level, o->access, o->app,
			o->vendors, o->reasons, o->resources))
		return MTD_ENOMEM;
	e->nprov++;
	e->prov_bytes += bytes;
	return 0;
}

/* The outcome with these contents: from the cache, else the store, else
 * new (stored, or in a dry run given a negative id). *slot is its cache
 * slot + 1, or 0 when the cache is full (then *tmp holds it; free it). */
static int intern(eval *e, int state, int level, int access, int app, const char *vendors,
		  const char *reasons, const char *resources, int32_t *slot, outcome *tmp)
{
	ocache *c = e->oc;
	uint64_t dg = digest_of(state, level, access, app, vendors, reasons, resources);
	size_t i = oc_slot(c, dg, state, level, access, app, vendors, reasons, resources);
	outcome found = {0};
	int rc;

	if (c->v[i].id) {
		*slot = (int32_t)i + 1;
		return 0;
	}
	if ((rc = find_stored(e->h->store, dg, state, level, access, app, vendors, reasons,
			      resources, &found)))
		return rc;
	if (!found.id) {
		int64_t id;
		if (!e->dry_ids) {
			mtd_outcome_row r = {(int64_t)dg, state, level, access, app, vendors, reasons,
					     resources};
			if (mtd_store_log_outcome(e->h->store, e->h->now, &r, &id))
				return MTD_ESTORE;
		} else {
			id = --e->dry_ids;
		}
		if ((rc = outcome_set(&found, id, state, level, access, app, vendors, reasons,
				      resources)))
			return rc;
		if (id < 0 && e->prov_cap && (rc = prov_add(e, &found))) {
			free(found.vendors);
			return rc;
		}
	}
	if (c->n >= c->cap / 2) {
		*slot = 0;
		*tmp = found;
		return 0;
	}
	c->v[i] = found;
	c->n++;
	*slot = (int32_t)i + 1;
	return 0;
}

/* ---- a decision in public form ---- */

/* Expanded form of a stored outcome for callbacks; holds the parsed JSON. */
typedef struct shown {
	mtd_decision_info info;
	json_t *vj, *rj, *resj;
	const char *vn[64], *vl[64], *res[16];
	const char *rs[MTD_MAX_REASONS];
} shown;

/* The public form of a device never evaluated (device fields unset). */
static void not_evaluated(mtd_decision_info *i)
{
	static const char *const why[] = {"not evaluated yet (run 'mtdgate evaluate')"};
	memset(i, 0, sizeof *i);
	i->state = "not_evaluated";
	i->level = "none";
	i->access = "block";
	i->app_protection = "none";
	i->nreasons = 1;
	i->reasons = why;
}

/* The public form of o, its device fields left for the caller. */
static void show(shown *s, const outcome *o)
{
	const char *k;
	json_t *v;
	size_t i;

	memset(s, 0, sizeof *s);
	s->info.state = mtd_state_name(o->state);
	s->info.level = mtd_level_name(o->level);
	s->info.access = o->access == ACCESS_BLOCK ? "block" : "allow";
	s->info.app_protection = mtd_app_action_name(o->app);
	s->vj = json_loads(o->vendors, 0, NULL);
	s->rj = json_loads(o->reasons, 0, NULL);
	s->resj = json_loads(o->resources, 0, NULL);
	json_array_foreach(s->resj, i, v)
	{
		if (s->info.nresources < 16 && json_is_string(v))
			s->res[s->info.nresources++] = json_string_value(v);
	}
	s->info.resources = s->res;
	json_object_foreach(s->vj, k, v)
	{
		if (s->info.nvendors < 64 && json_is_string(v)) {
			s->vn[s->info.nvendors] = k;
			s->vl[s->info.nvendors++] = json_string_value(v);
		}
	}
	json_array_foreach(s->rj, i, v)
	{
		if (s->info.nreasons < MTD_MAX_REASONS && json_is_string(v))
			s->rs[s->info.nreasons++] = json_string_value(v);
	}
	s->info.vendor_names = s->vn;
	s->info.vendor_levels = s->vl;
	s->info.reasons = s->rs;
}

static void unshow(shown *s)
{
	json_decref(s->vj);
	json_decref(s->rj);
	json_decref(s->resj);
}

/* The stored outcome id (> 0) into o (free o->vendors); MTD_ENOTFOUND
 * when the store has none. */
static int outcome_get(mtd_store *s, int64_t id, outcome *o)
{
	sqlite3_stmt *st = mtd_store_stmt(s, SQL_OUTCOME_GET);
	int rc;
	if (!st)
		return MTD_ESTORE;
	sqlite3_bind_int64(st, 1, id);
	rc = sqlite3_step(st);
	rc = rc == SQLITE_ROW ? row_outcome(st, o) : rc == SQLITE_DONE ? MTD_ENOTFOUND : MTD_ESTORE;
	sqlite3_reset(st);
	return rc;
}

/* Parsed outcomes by id, for callbacks and the report: most devices share
 * a few outcomes, so each is read and parsed about once. Two ways a set; a
 * look-up never evicts the entry its set returned last, so the previous
 * result stays valid through the next call (a change callback holds two). */
#define PC_SETS 2048
typedef struct pcache {
	int64_t id[PC_SETS][2]; /* 0 empty */
	unsigned char mru[PC_SETS];
	outcome o[PC_SETS][2];
	shown s[PC_SETS][2];
} pcache;

/* An empty cache: only what pc_get reads before it writes is zeroed (the
 * whole is ~6 MiB; callocing it cost a push to serve more than deciding
 * its devices). */
static pcache *pc_new(void)
{
	pcache *c = malloc(sizeof *c);
	if (c) {
		memset(c->id, 0, sizeof c->id);
		memset(c->mru, 0, sizeof c->mru);
	}
	return c;
}

static void pc_free(pcache *c)
{
	if (!c)
		return;
	for (size_t k = 0; k < PC_SETS; k++)
		for (int w = 0; w < 2; w++)
			if (c->id[k][w]) {
				unshow(&c->s[k][w]);
				free(c->o[k][w].vendors);
			}
	free(c);
}

/* The public form of outcome id (known: its contents when at hand, else
 * read from the store), with device, platform, management and time for the
 * caller to fill; its strings stay valid through the next call. */
static int pc_get(pcache *c, mtd_store *st, int64_t id, const outcome *known,
		  mtd_decision_info *info)
{
	size_t k = (size_t)((uint64_t)id * 0x9e3779b97f4a7c15ull >> 53) % PC_SETS;
	int w = c->id[k][0] == id ? 0 : c->id[k][1] == id ? 1 : -1, rc;
	if (w < 0) {
		w = 1 - c->mru[k];
		if (c->id[k][w]) {
			unshow(&c->s[k][w]);
			free(c->o[k][w].vendors);
			c->id[k][w] = 0;
		}
		if (known)
			rc = outcome_set(&c->o[k][w], id, known->state, known->level, known->access,
					 known->app, known->vendors, known->reasons, known->resources);
		else
			rc = outcome_get(st, id, &c->o[k][w]);
		if (rc)
			return rc;
		c->id[k][w] = id;
		show(&c->s[k][w], &c->o[k][w]);
	}
	c->mru[k] = (unsigned char)w;
	*info = c->s[k][w].info;
	return 0;
}

/* The handle's message for a decision whose outcome could not be had (rc
 * from outcome_get or pc_get); returns the code to pass on. */
static int outcome_error(mtd_t *h, int rc, const char *device, int64_t id)
{
	if (rc == MTD_ENOTFOUND)
		return mtd_fail(h, MTD_ESTORE, "the decision of device '%s' points to outcome %lld, "
				"which the store does not have (run 'mtdgate audit verify')",
				device, (long long)id);
	return mtd_fail(h, rc, "reading the decision of '%s': %s", device,
			rc == MTD_ENOMEM ? "out of memory" : mtd_store_errmsg(h->store));
}

/* ---- one device ---- */

#define MAX_CONNS 64

typedef struct devrow {
	int64_t id, groupset;
	sqlite3_stmt *row; /* the devices scan, on this device's row until it steps */
	char os[65], user[MTD_MAX_STR + 1];
	int has_os, has_user;
	int platform, corporate, enrolled;
	/* latest report per connector index */
	int level[MAX_CONNS];
	int64_t at[MAX_CONNS];
	int os_supported[MAX_CONNS];
	int cause[MAX_CONNS];    /* 1 + index in threats of the threat setting the level; 0 */
	tbuf threats[MAX_CONNS]; /* msgpack bytes; n 0 = none */
	/* the stored decision */
	int64_t old_outcome; /* 0: none */
	int old_state, old_level, old_app, old_access;
	int64_t old_evaluated_at, old_since, old_wiped_at;
} devrow;

/* Ready for the next device; buffers are kept. */
static void devrow_clear(devrow *d, size_t nconns)
{
	for (size_t i = 0; i < nconns; i++) {
		d->threats[i].n = 0;
		d->level[i] = 0;
		d->at[i] = 0;
		d->os_supported[i] = -1;
		d->cause[i] = 0;
	}
	d->has_os = d->has_user = 0;
	d->old_outcome = 0;
}

static void devrow_free(devrow *d)
{
	for (size_t i = 0; i < MAX_CONNS; i++)
		free(d->threats[i].p);
}

static int conn_index(const eval *e, int64_t id)
{
	for (size_t i = 0; i < e->nconns; i++)
		if (e->conns[i].id == id)
			return (int)i;
	return -1;
}

/* A text of known length into buf (cap bytes with the NUL); 0 for NULL. */
static int text_copy(const char *t, size_t n, char *buf, size_t cap)
{
	if (!t) {
		buf[0] = '\0';
		return 0;
	}
	if (n >= cap)
		n = cap - 1;
	memcpy(buf, t, n);
	buf[n] = '\0';
	return 1;
}

/* os_version and user of a full devices scan row (full) or a detail row. */
static void read_device_detail(sqlite3_stmt *st, int full, devrow *d)
{
	mtd_device_detail r;
	mtd_device_detail_read(st, full, &r);
	d->has_os = text_copy(r.os_version, r.nos_version, d->os, sizeof d->os);
	d->has_user = text_copy(r.user, r.nuser, d->user, sizeof d->user);
}

/* The device's external id, from its row of the devices scan: read only
 * when something needs it (the rules, a change, an error). Borrowed until
 * the scan steps. */
static const char *ext_of(const devrow *d)
{
	return mtd_eval_device_ext(d->row);
}

/* The device columns of the devices scan (id, the scan's key, known). */
static void read_device(const eval *e, sqlite3_stmt *st, int64_t id, devrow *d)
{
	mtd_eval_device r;
	mtd_eval_device_read(st, &r);
	d->id = id;
	d->row = st;
	d->platform = r.platform;
	d->corporate = r.corporate;
	d->enrolled = r.enrolled;
	d->groupset = r.groupset;
	if (!e->slim)
		read_device_detail(st, 1, d);
}

/* at and threats of a report for connector index ci. */
static int report_detail(const mtd_eval_report *r, int ci, devrow *d)
{
	d->at[ci] = r->at;
	d->threats[ci].n = 0; /* none: NULL, empty, or not a blob as ingest writes */
	return r->threats && tb_put(&d->threats[ci], r->threats, r->nthreats) ? MTD_ENOMEM : 0;
}

/* A row of the reports scan: its level, os_supported and cause, and
 * unless slim its at and threats. */
static int read_report(const eval *e, sqlite3_stmt *st, devrow *d)
{
	mtd_eval_report r;
	int ci;
	mtd_eval_report_read(st, !e->slim, &r);
	if ((ci = conn_index(e, r.connector)) < 0)
		return 0;
	d->level[ci] = r.level;
	d->os_supported[ci] = r.os_supported;
	d->cause[ci] = r.cause + 1;
	return e->slim ? 0 : report_detail(&r, ci, d);
}

/* What a slim scan left out of device d, looked up. */
static int load_details(eval *e, devrow *d)
{
	mtd_store *s = e->h->store;
	sqlite3_stmt *st = mtd_store_stmt(s, SQL_DEVICE_DETAIL);
	int step, rc = 0;
	if (!st)
		return MTD_ESTORE;
	sqlite3_bind_int64(st, 1, d->id);
	if ((step = sqlite3_step(st)) == SQLITE_ROW)
		read_device_detail(st, 0, d);
	sqlite3_reset(st);
	if (step != SQLITE_ROW || !(st = mtd_store_stmt(s, SQL_REPORT_DETAIL)))
		return MTD_ESTORE;
	sqlite3_bind_int64(st, 1, d->id);
	while (!rc && (step = sqlite3_step(st)) == SQLITE_ROW) {
		mtd_eval_report r;
		int ci;
		mtd_report_detail_read(st, &r);
		if ((ci = conn_index(e, r.connector)) >= 0)
			rc = report_detail(&r, ci, d);
	}
	sqlite3_reset(st);
	e->details++;
	return rc ? rc : step == SQLITE_DONE ? 0 : MTD_ESTORE;
}

/* State, app action and access of a stored outcome, by id: a small
 * direct-mapped cache over the store. */
#define OLD_SLOTS 1024
typedef struct oldc {
	int64_t id[OLD_SLOTS];
	int state[OLD_SLOTS], level[OLD_SLOTS], app[OLD_SLOTS], access[OLD_SLOTS];
} oldc;

/* The stored decision ds of device d. On failure the handle's message
 * says what. */
static int read_decision(eval *e, const mtd_dslot *ds, devrow *d)
{
	int64_t id = ds->outcome;
	size_t k = (size_t)((uint64_t)id % OLD_SLOTS);
	oldc *c = e->old;
	if (c->id[k] != id) {
		outcome o;
		int rc = outcome_get(e->h->store, id, &o);
		if (rc)
			return outcome_error(e->h, rc, ext_of(d), id);
		c->id[k] = id;
		c->state[k] = o.state;
		c->level[k] = o.level;
		c->access[k] = o.access;
		c->app[k] = o.app;
		free(o.vendors);
	}
	d->old_outcome = id;
	d->old_state = c->state[k];
	d->old_level = c->level[k];
	d->old_app = c->app[k];
	d->old_access = c->access[k];
	d->old_evaluated_at = ds->evaluated_at;
	d->old_since = ds->since;
	d->old_wiped_at = ds->wiped_at;
	return 0;
}

/* A scan in device order, read ahead one row. */
typedef struct scan {
	sqlite3_stmt *st;
	int live;
	int64_t device; /* of the current row (the block, for decisions) */
} scan;

static int scan_next(scan *s)
{
	int rc = sqlite3_step(s->st);
	s->live = rc == SQLITE_ROW;
	s->device = s->live ? mtd_eval_row_key(s->st) : INT64_MAX;
	return rc == SQLITE_ROW || rc == SQLITE_DONE ? 0 : MTD_ESTORE;
}

/* How a pass over the devices writes what it decides:
 * DRY      nothing (evaluate --dry-run);
 * LOCKED   as it goes, all in one write transaction (the rules run while
 *          it holds the write lock);
 * SNAPSHOT not at all while the rules run: under a read snapshot the
 *          changes are kept in memory (spool), then written in a short write
 *          transaction, if no other evaluation wrote decisions meanwhile. */
enum { PASS_DRY, PASS_LOCKED, PASS_SNAPSHOT };

typedef struct run_out {
	int mode; /* PASS_* */
	int dry;  /* mode == PASS_DRY */
	mtd_change_fn fn;
	void *ud;
	uint64_t evaluated, changed;
	mtd_transitions t;
	uint64_t kinds[MTD_NCHANGE_KINDS];
	const int64_t *only; /* a device set's row ids, ascending; NULL: every device */
	size_t nonly;
} run_out;

/* One change from state from (-1: no decision) to to, counted. */
static void count_change(mtd_transitions *t, int from, int to)
{
	if (from < 0)
		from = MTD_ST_NOT_EVALUATED;
	if (from >= MTD_NSTATES || to < 0 || to >= MTD_NSTATES)
		return; /* not a state: a store changed behind our back */
	if (!t->n[from][to]++)
		t->pair[t->npairs++] = (unsigned char)(from * MTD_NSTATES + to);
}

/* The device's apps, for rules that asked for them (free_apps frees). */
static int load_apps(eval *e, int64_t dev, mtd_app_view **out, size_t *n)
{
	sqlite3_stmt *st = mtd_store_stmt(e->h->store, SQL_APPS_OF_DEVICE);
	mtd_app_view *v = NULL;
	size_t k = 0;
	int step;

	*out = NULL;
	*n = 0;
	if (!st)
		return MTD_ESTORE;
	sqlite3_bind_int64(st, 1, dev);
	while ((step = sqlite3_step(st)) == SQLITE_ROW) {
		mtd_app_view *nv = realloc(v, (k + 1) * sizeof *v);
		const char **sp[4], *t[4];
		mtd_app_row r;
		if (!nv) {
			free(v);
			return MTD_ENOMEM;
		}
		v = nv;
		mtd_app_row_read(st, &r);
		v[k] = (mtd_app_view){NULL, NULL, NULL, NULL, r.bundle_size, r.dynamic_size,
				      r.adhoc_signed, r.app_store, r.beta, r.vpp, r.validated,
				      r.managed};
		sp[0] = &v[k].app_id;
		sp[1] = &v[k].version;
		sp[2] = &v[k].short_version;
		sp[3] = &v[k].name;
		t[0] = r.app_id;
		t[1] = r.version;
		t[2] = r.short_version;
		t[3] = r.name;
		for (int i = 0; i < 4; i++)
			*sp[i] = t[i] ? strdup(t[i]) : NULL;
		k++;
	}
	sqlite3_reset(st);
	*out = v;
	*n = k;
	return step == SQLITE_DONE ? 0 : MTD_ESTORE;
}

static void free_apps(mtd_app_view *v, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free((char *)v[i].app_id);
		free((char *)v[i].version);
		free((char *)v[i].short_version);
		free((char *)v[i].name);
	}
	free(v);
}

/* R4, R6: a connector is in force (for the platforms switched on) when
 * enabled, or in error: a partner that reports an error code still
 * delivers reports, and they count (fail closed). Only an unresponsive
 * one is left out, and of course one not set up, unavailable, or
 * available with nothing switched on. */
static int in_force(int state)
{
	return state == MTD_CS_ENABLED || state == MTD_CS_ERROR;
}

/* The outcome of the rules' answer out for device d: cached per memo
 * entry, else built and interned. */
static int outcome_of(eval *e, const devrow *d, const mtd_eval_out *out, int32_t *slot,
		      outcome *tmp)
{
	uint32_t bit = 1u << d->platform;
	int access, rc = 0;

	if (out->memo >= 0 && (size_t)out->memo < e->nmemo_oc && e->memo_oc[out->memo]) {
		*slot = e->memo_oc[out->memo];
		return 0;
	}
	access = mtd_access_blocked(d->enrolled, out->state, out->app_action) ? ACCESS_BLOCK
									     : ACCESS_ALLOW;
	/* vendors: {"id":"level"}; vendor ids are [a-z0-9_], no escaping needed */
	e->vb.n = 0;
	rc = tb_put(&e->vb, "{", 1);
	for (size_t i = 0, k = 0; !rc && i < e->nconns; i++) {
		const mtd_conn *c = &e->conns[i];
		if (in_force(e->cstate[i]) && d->level[i] > 0 &&
		    ((c->platforms | c->mam_platforms) & bit)) {
			const char *lv = mtd_level_name(d->level[i]);
			rc = (k++ && tb_put(&e->vb, ",", 1)) || tb_put(&e->vb, "\"", 1) ||
			     tb_put(&e->vb, c->vendor, strlen(c->vendor)) || tb_put(&e->vb, "\":\"", 3) ||
			     tb_put(&e->vb, lv, strlen(lv)) || tb_put(&e->vb, "\"", 1);
		}
	}
	if (rc || tb_put(&e->vb, "}", 1) || tb_jarray(&e->rb, out->reasons, out->nreasons) ||
	    tb_jarray(&e->resb, out->resources, out->nresources))
		return MTD_ENOMEM;
	if ((rc = intern(e, out->state, out->level, access, out->app_action, e->vb.p, e->rb.p,
			 e->resb.p, slot, tmp)))
		return rc;
	if (*slot && out->memo >= 0) {
		int32_t *m = mtd_grow_zeroed(e->memo_oc, &e->nmemo_oc, (size_t)out->memo, sizeof *m);
		if (!m)
			return MTD_ENOMEM;
		e->memo_oc = m;
		e->memo_oc[out->memo] = *slot;
	}
	return 0;
}

/* The decision block (store.h) of the devices at hand: read from the
 * decisions scan when the devices reach it, changed in place, written back
 * once they move past it. The scan has then moved past it too, so it never
 * needs to see the row written. */
typedef struct dblock {
	int64_t blk; /* -1: none yet */
	int stored;  /* the store has its row */
	int dirty;
	mtd_dslot s[MTD_DBLOCK_SLOTS];
} dblock;

static int dblock_flush(eval *e)
{
	dblock *b = e->cur;
	if (!b->dirty)
		return 0;
	if (mtd_store_dblock_put(e->h->store, b->blk, b->stored, b->s))
		return mtd_fail(e->h, MTD_ESTORE, "writing decisions: %s", mtd_store_errmsg(e->h->store));
	b->stored = 1;
	b->dirty = 0;
	return 0;
}

/* Make blk the block at hand, the one before written first; dec is the
 * decisions scan (NULL: read the block by key). On failure the handle's message says what. */
static int dblock_enter(eval *e, scan *dec, int64_t blk)
{
	dblock *b = e->cur;
	int rc;
	if (b->blk == blk)
		return 0;
	if ((rc = dblock_flush(e)))
		return rc;
	if (!dec) { /* a device set: the block by key */
		b->blk = blk;
		rc = mtd_store_dblock_get(e->h->store, blk, b->s); /* all empty if none */
		b->stored = rc == 0;
		if (rc == MTD_ENOTFOUND)
			rc = 0;
		return rc ? mtd_fail(e->h, rc, "reading decisions: %s", mtd_store_errmsg(e->h->store))
			  : 0;
	}
	while (!rc && dec->device < blk)
		rc = scan_next(dec);
	b->blk = blk;
	b->stored = !rc && dec->device == blk;
	if (b->stored) {
		char why[256];
		if (mtd_eval_decisions_read(dec->st, blk, b->s, why, sizeof why))
			return mtd_fail(e->h, MTD_ESTORE, "%s", why);
		rc = scan_next(dec);
	} else {
		memset(b->s, 0, sizeof b->s);
	}
	return rc ? mtd_fail(e->h, rc, "scanning decisions: %s", mtd_store_errmsg(e->h->store)) : 0;
}

/* The callback of a changed decision: old from the store, new from o. */
static int tell(eval *e, const devrow *d, const outcome *o, int64_t evaluated_at,
		const run_out *ro)
{
	mtd_decision_info a, b;
	int rc;
	if (d->old_outcome > 0) {
		if ((rc = pc_get(e->pc, e->h->store, d->old_outcome, NULL, &a)))
			return outcome_error(e->h, rc, ext_of(d), d->old_outcome);
		a.evaluated_at = d->old_evaluated_at;
	} else {
		not_evaluated(&a);
	}
	if ((rc = pc_get(e->pc, e->h->store, o->id, o, &b)))
		return outcome_error(e->h, rc, ext_of(d), o->id);
	a.device = b.device = ext_of(d);
	a.platform = b.platform = mtd_platform_name(d->platform);
	a.management = b.management = d->enrolled ? "enrolled" : "unenrolled";
	b.evaluated_at = evaluated_at;
	return ro->fn(ro->ud, &a, &b);
}

/* d's reports as the rules see them: the vendors in force for its device
 * compliance (cv) and for its apps (av); cci, aci (may be NULL) get the
 * connector index of each. */
static void vendor_views(const eval *e, const devrow *d, mtd_vreport *cv, size_t *ncv,
			 mtd_vreport *av, size_t *nav, uint8_t *cci, uint8_t *aci)
{
	uint32_t bit = 1u << d->platform;
	*ncv = *nav = 0;
	for (size_t i = 0; i < e->nconns; i++) {
		const mtd_conn *c = &e->conns[i];
		mtd_vreport v = {e->vname && e->vname[i] ? e->vname[i] : c->vendor, d->level[i],
				 d->at[i], d->os_supported[i],
				 d->threats[i].n ? d->threats[i].p : NULL, d->threats[i].n,
				 c->block_missing_data, c->block_unsupported_os, d->cause[i]};
		if (!in_force(e->cstate[i]))
			continue;
		if (c->platforms & bit) {
			if (cci)
				cci[*ncv] = (uint8_t)i;
			cv[(*ncv)++] = v;
		}
		if (c->mam_platforms & bit) {
			if (aci)
				aci[*nav] = (uint8_t)i;
			av[(*nav)++] = v;
		}
	}
}

/* The vendor views of a platform's devices for recalled: vendor_views of
 * an empty device of the platform, and the connector of each entry, whose
 * report fields recalled sets per device. Made on first use. */
typedef struct pviews {
	int made;
	mtd_vreport cv[MAX_CONNS], av[MAX_CONNS];
	uint8_t cci[MAX_CONNS], aci[MAX_CONNS];
	size_t ncv, nav;
	mtd_eval_in in; /* what the memo compares, the rest zero */
} pviews;

/* device.tasks, read from the store when a script first reads it: the open
 * tasks of the connectors in force for the device (for compliance or for
 * app protection on its platform; R4, R6: an unresponsive vendor's word is
 * set aside as its reports are). Freed by ask_rules after the call. */
typedef struct tasks_job {
	eval *e;
	const devrow *d;
	mtd_task_row *rows;
	mtd_task_view *views;
	size_t nrows;
} tasks_job;

static int load_tasks(void *ud, const mtd_eval_in *in, const mtd_task_view **out, size_t *n)
{
	tasks_job *j = ud;
	const eval *e = j->e;
	uint32_t bit = 1u << j->d->platform;
	size_t k = 0;
	int rc;

	(void)in;
	if (!j->rows && (rc = mtd_task_rows_open(e->h->store, j->d->id, &j->rows, &j->nrows)))
		return rc;
	if (j->nrows && !j->views && !(j->views = calloc(j->nrows, sizeof *j->views)))
		return MTD_ENOMEM;
	for (size_t i = 0; i < j->nrows; i++) {
		const mtd_task_row *r = &j->rows[i];
		int ci = conn_index(e, r->connector);
		const mtd_conn *c = ci >= 0 ? &e->conns[ci] : NULL;
		if (!c || !in_force(e->cstate[ci]) || !((c->platforms | c->mam_platforms) & bit))
			continue;
		j->views[k++] = (mtd_task_view){c->vendor, r->id, mtd_task_kind_name(r->kind),
						r->cve, r->software, r->version,
						mtd_task_severity_name(r->severity), r->first_seen};
	}
	*out = j->views;
	*n = k;
	return 0;
}

/* What the memo compares of d into in (rules.h, MTD_RULES_*_FIELDS), with
 * its vendor views cv and av. */
static void memo_input(mtd_eval_in *in, const devrow *d, const mtd_vreport *cv, size_t ncv,
		       const mtd_vreport *av, size_t nav)
{
	in->platform = d->platform;
	in->corporate = d->corporate;
	in->enrolled = d->enrolled;
	in->groupset = d->groupset;
	in->vendors = cv;
	in->nvendors = ncv;
	in->app_vendors = av;
	in->napp_vendors = nav;
	in->prev_state = d->old_outcome ? d->old_state : -1;
}

/* What the rules say of device d, into out. On failure the handle's
 * message says what. */
static int ask_rules(eval *e, devrow *d, mtd_eval_out *out)
{
	mtd_t *h = e->h;
	mtd_vreport cv[MAX_CONNS], av[MAX_CONNS];
	size_t ncv = 0, nav = 0;
	mtd_eval_in in = {0};
	tasks_job tj = {e, d, NULL, NULL, 0};
	char why[2048];
	int rc;

	vendor_views(e, d, cv, &ncv, av, &nav, NULL, NULL);
	in.id = ext_of(d);
	in.os_version = d->has_os ? d->os : NULL;
	in.user = d->has_user ? d->user : NULL;
	memo_input(&in, d, cv, ncv, av, nav);
	if (d->groupset > 0 && (size_t)d->groupset < e->nsets) {
		in.groups = (const char *const *)e->sets[d->groupset].names;
		in.ngroups = e->sets[d->groupset].n;
	}
	in.prev_since = d->old_since;
	/* slim: most devices look like one decided before, and the memo
	 * answers without the details */
	if (e->slim) {
		if (mtd_rules_recall(e->rules, &in, out))
			return 0;
		if ((rc = load_details(e, d)))
			return mtd_fail(h, rc, "reading device %s: %s", ext_of(d),
					rc == MTD_ENOMEM ? "out of memory" : mtd_store_errmsg(h->store));
		in.os_version = d->has_os ? d->os : NULL;
		in.user = d->has_user ? d->user : NULL;
		vendor_views(e, d, cv, &ncv, av, &nav, NULL, NULL);
	}
	in.tasks = load_tasks;
	in.tasks_ud = &tj;
	if (mtd_rules_wants_inventory(e->rules)) {
		mtd_app_view *apps;
		if ((rc = load_apps(e, d->id, &apps, &in.napps)))
			return mtd_fail(h, rc, "reading the apps of %s: %s", ext_of(d),
					mtd_store_errmsg(h->store));
		in.apps = apps;
		rc = mtd_rules_eval(e->rules, &in, out, why, sizeof why);
		free_apps(apps, in.napps);
	} else {
		rc = mtd_rules_eval(e->rules, &in, out, why, sizeof why);
	}
	mtd_task_rows_free(tj.rows, tj.nrows);
	free(tj.views);
	return rc ? mtd_fail(h, rc, "rules failed on device %s: %s", ext_of(d), why) : 0;
}

/* The outcome cache slot (+ 1) of what the rules' memo holds for d, 0
 * when it holds nothing for d or its outcome is not cached yet: the
 * common case of pure rules, asked with only the fields the memo
 * compares (no external id, no details, no call into Lua). */
static int32_t recalled(eval *e, const devrow *d)
{
	pviews *p;
	mtd_eval_in *in;
	int64_t m;

	if (d->platform < 0 || d->platform >= MTD_NPLAT)
		return 0;
	p = &e->pv[d->platform];
	if (!p->made) {
		devrow *z = calloc(1, sizeof *z);
		if (!z)
			return 0;
		z->platform = d->platform;
		vendor_views(e, z, p->cv, &p->ncv, p->av, &p->nav, p->cci, p->aci);
		free(z);
		p->made = 1;
	}
	for (size_t i = 0; i < p->ncv; i++) {
		p->cv[i].level = d->level[p->cci[i]];
		p->cv[i].os_supported = d->os_supported[p->cci[i]];
		p->cv[i].cause = d->cause[p->cci[i]];
	}
	for (size_t i = 0; i < p->nav; i++) {
		p->av[i].level = d->level[p->aci[i]];
		p->av[i].os_supported = d->os_supported[p->aci[i]];
		p->av[i].cause = d->cause[p->aci[i]];
	}
	/* only what the memo compares (rules.h: MTD_RULES_*_FIELDS): the
	 * views' at and threats, and the rest of in, stay zero */
	in = &p->in;
	memo_input(in, d, p->cv, p->ncv, p->av, p->nav);
	m = mtd_rules_memo_find(e->rules, in);
	return m >= 0 && (size_t)m < e->nmemo_oc ? e->memo_oc[m] : 0;
}

/* The changes a snapshot pass decided, in device order: the device row id
 * with SP_* flags in its top byte, and the new outcome (< 0: e->prov's).
 * The rest of a decision follows from the slot the write phase finds, which
 * is the one this pass read (no other evaluation wrote decisions between):
 * the state's since and the wipe are kept from it or start now. 16 bytes a
 * change. wiped: the external ids of the devices whose wipe starts now, in
 * order, for their audit records. */
#define SP_SINCE_KEPT (UINT64_C(1) << 56)
#define SP_WIPE_KEPT (UINT64_C(2) << 56)
#define SP_WIPE_NOW (UINT64_C(4) << 56)
#define SP_DEVICE (SP_SINCE_KEPT - 1)
typedef struct spool {
	struct change {
		uint64_t dev;
		int64_t outcome;
	} *v;
	size_t n, cap;
	char **wiped;
	size_t nwiped, wiped_cap;
} spool;

static void spool_free(spool *p)
{
	if (!p)
		return;
	for (size_t i = 0; i < p->nwiped; i++)
		free(p->wiped[i]);
	free(p->wiped);
	free(p->v);
	free(p);
}

static int spool_add(spool *p, const devrow *d, int64_t oid, uint64_t flags)
{
	if (p->n == p->cap) {
		size_t cap = p->cap ? p->cap * 2 : 4096;
		struct change *v = realloc(p->v, cap * sizeof *v);
		if (!v)
			return MTD_ENOMEM;
		p->v = v;
		p->cap = cap;
	}
	if (flags & SP_WIPE_NOW) {
		char *id;
		if (p->nwiped == p->wiped_cap) {
			size_t cap = p->wiped_cap ? p->wiped_cap * 2 : 64;
			char **w = realloc(p->wiped, cap * sizeof *w);
			if (!w)
				return MTD_ENOMEM;
			p->wiped = w;
			p->wiped_cap = cap;
		}
		if (!(id = strdup(ext_of(d))))
			return MTD_ENOMEM;
		p->wiped[p->nwiped++] = id;
	}
	p->v[p->n++] = (struct change){(uint64_t)d->id | flags, oid};
	return 0;
}

static int decide(eval *e, devrow *d, run_out *ro)
{
	mtd_t *h = e->h;
	mtd_eval_out out;
	outcome tmp = {0};
	const outcome *o;
	int32_t slot = 0;
	int rc;

	if (!e->recall || !(slot = recalled(e, d))) {
		if ((rc = ask_rules(e, d, &out)))
			return rc;
		if ((rc = outcome_of(e, d, &out, &slot, &tmp)))
			return rc == MTD_ERETRY_LOCKED
				       ? rc
				       : mtd_fail(h, rc, "recording the decision of %s: %s", ext_of(d),
						  rc == MTD_ENOMEM ? "out of memory"
								   : mtd_store_errmsg(h->store));
	}
	ro->evaluated++;
	o = slot ? &e->oc->v[slot - 1] : &tmp;
	rc = 0;
	if (o->id != d->old_outcome) {
		int64_t since = d->old_outcome && d->old_state == o->state ? d->old_since : h->now;
		/* R8: a wipe is issued once, when it starts; it stays recorded while
		 * the condition lasts and is not repeated. */
		int64_t wiped_at = o->app == MTD_APP_WIPE
					   ? (d->old_outcome && d->old_app == MTD_APP_WIPE ? d->old_wiped_at
											  : h->now)
					   : 0;
		ro->changed++;
		count_change(&ro->t, d->old_outcome ? d->old_state : -1, o->state);
		ro->kinds[d->old_outcome ? mtd_change_kind_of(d->old_state, d->old_level, d->old_access,
							      d->old_app, o->state, o->level,
							      o->access, o->app)
					 : mtd_change_kind_of(MTD_ST_NOT_EVALUATED, MTD_LEVEL_NONE,
							      ACCESS_BLOCK, MTD_APP_NONE, o->state,
							      o->level, o->access, o->app)]++;
		if (ro->mode == PASS_SNAPSHOT) {
			uint64_t fl = (since == h->now ? 0 : SP_SINCE_KEPT) |
				      (!wiped_at ? 0 : wiped_at == h->now ? SP_WIPE_NOW : SP_WIPE_KEPT);
			if (spool_add(e->sp, d, o->id, fl))
				rc = mtd_fail(h, MTD_ENOMEM, "out of memory");
		} else if (ro->mode == PASS_LOCKED) {
			e->cur->s[d->id % MTD_DBLOCK_SLOTS] = (mtd_dslot){o->id, h->now, since, wiped_at};
			e->cur->dirty = 1;
			if (mtd_store_log_decision(h->store, h->now, d->id, o->id, d->old_outcome))
				rc = MTD_ESTORE;
			if (!rc && o->app == MTD_APP_WIPE && wiped_at == h->now &&
			    mtd_store_audit(h->store, h->now, "app_wipe", NULL, ext_of(d),
					    "{\"action\":\"selective wipe of corporate data issued\"}"))
				rc = MTD_ESTORE;
			if (rc)
				rc = mtd_fail(h, rc, "writing the decision of %s: %s", ext_of(d),
					      mtd_store_errmsg(h->store));
		}
		if (!rc && ro->fn)
			rc = tell(e, d, o, h->now, ro);
	}
	free(tmp.vendors);
	return rc;
}

/* The devices and reports scans, slim or not as e says, from the devices
 * after row id after (the scans before are reset). */
static int open_scans(eval *e, scan *dev, scan *rep, int64_t after)
{
	mtd_store *s = e->h->store;
	if (dev->st)
		sqlite3_reset(dev->st);
	if (rep->st)
		sqlite3_reset(rep->st);
	dev->st = mtd_store_stmt(s, e->slim ? SQL_EVAL_DEVICES_SLIM : SQL_EVAL_DEVICES);
	if (!dev->st || sqlite3_bind_int64(dev->st, 1, after) || scan_next(dev))
		return MTD_ESTORE;
	rep->st = mtd_store_stmt(s, e->slim ? SQL_EVAL_REPORTS_SLIM : SQL_EVAL_REPORTS);
	if (!rep->st || sqlite3_bind_int64(rep->st, 1, after) || scan_next(rep))
		return MTD_ESTORE;
	return 0;
}

int mtd_evaluate(mtd_t *h, int dry_run, mtd_change_fn fn, void *ud,
		 uint64_t *evaluated, uint64_t *changed)
{
	return mtd_evaluate_counted(h, dry_run, fn, ud, evaluated, changed, NULL);
}

#define MTD_ERETRY 2 /* internal: another evaluation wrote decisions meanwhile */

/* The sequence number of the last decision log block: what changes when,
 * and only when, an evaluation writes decisions. */
static int decisions_mark(mtd_t *h, int64_t *seq)
{
	sqlite3_stmt *st = mtd_store_stmt(h->store, SQL_DECISION_LOG_LAST);
	int step;
	if (!st)
		return mtd_fail(h, MTD_ESTORE, "%s", mtd_store_errmsg(h->store));
	step = sqlite3_step(st);
	*seq = step == SQLITE_ROW ? mtd_decision_log_last_read(st) : 0;
	sqlite3_reset(st);
	return step == SQLITE_ROW || step == SQLITE_DONE
		       ? 0
		       : mtd_fail(h, MTD_ESTORE, "%s", mtd_store_errmsg(h->store));
}

/* The audit record of the evaluation, then the commit. */
static int finish_write(mtd_t *h, const run_out *ro)
{
	char detail[128];
	snprintf(detail, sizeof detail, "{\"evaluated\":%llu,\"changed\":%llu%s}",
		 (unsigned long long)ro->evaluated, (unsigned long long)ro->changed,
		 ro->only ? ",\"devices\":\"set\"" : "");
	/* a device set that changed nothing wrote nothing: no record (serve
	 * decides after every push) */
	if ((!ro->only || ro->changed) &&
	    mtd_store_audit(h->store, h->now, "evaluate", NULL, NULL, detail))
		return mtd_fail(h, MTD_ESTORE, "%s", mtd_store_errmsg(h->store));
	mtd_test_stop("evaluate-before-commit", 0);
	if (mtd_store_commit(h->store))
		return mtd_fail(h, MTD_ESTORE, "%s", mtd_store_errmsg(h->store));
	return 0;
}

/* The write phase of a snapshot pass: the read snapshot ends, the write
 * lock is taken, and if no evaluation wrote decisions since mark (else
 * MTD_ERETRY) the new outcomes are stored and the spooled changes applied
 * to the blocks as they are now (their slots are the ones the pass read),
 * logged, and committed. */
static int write_spool(eval *e, int64_t mark, const run_out *ro)
{
	mtd_t *h = e->h;
	mtd_store *s = h->store;
	spool *p = e->sp;
	dblock *b = e->cur;
	int64_t now_mark, *ids = NULL;
	size_t w = 0;
	int rc;

	mtd_store_rollback(s); /* nothing was written: ends the snapshot */
	if ((rc = mtd_begin(h)))
		return rc;
	if ((rc = decisions_mark(h, &now_mark)))
		return rc;
	if (now_mark != mark)
		return MTD_ERETRY;
	if (e->nprov && !(ids = malloc(e->nprov * sizeof *ids)))
		return mtd_fail(h, MTD_ENOMEM, "out of memory");
	for (size_t i = 0; !rc && i < e->nprov; i++)
		if ((rc = store_outcome(e, &e->prov[i], &ids[i])))
			rc = mtd_fail(h, rc, "storing an outcome: %s", mtd_store_errmsg(s));
	b->blk = -1;
	b->dirty = 0;
	for (size_t i = 0; !rc && i < p->n; i++) {
		uint64_t fl = p->v[i].dev & ~SP_DEVICE;
		int64_t dev = (int64_t)(p->v[i].dev & SP_DEVICE), blk = dev / MTD_DBLOCK_SLOTS;
		int64_t o = p->v[i].outcome, prev;
		mtd_dslot *sl;
		if (o < 0) {
			if ((size_t)(-2 - o) >= e->nprov) {
				rc = mtd_fail(h, MTD_EINTERNAL, "a change names outcome %lld of %zu new",
					      (long long)o, e->nprov);
				break;
			}
			o = ids[-2 - o];
		}
		if (blk != b->blk) {
			if ((rc = dblock_flush(e))) /* says what */
				break;
			b->blk = blk;
			rc = mtd_store_dblock_get(s, blk, b->s);
			b->stored = rc == 0;
			if (rc == MTD_ENOTFOUND)
				rc = 0; /* the slots are empty */
			if (rc) {
				rc = mtd_fail(h, rc, "reading decisions: %s", mtd_store_errmsg(s));
				break;
			}
		}
		sl = &b->s[dev % MTD_DBLOCK_SLOTS];
		prev = sl->outcome;
		*sl = (mtd_dslot){o, h->now, fl & SP_SINCE_KEPT ? sl->since : h->now,
				  fl & SP_WIPE_KEPT ? sl->wiped_at : fl & SP_WIPE_NOW ? h->now : 0};
		b->dirty = 1;
		if (mtd_store_log_decision(s, h->now, dev, o, prev) ||
		    ((fl & SP_WIPE_NOW) && w < p->nwiped &&
		     mtd_store_audit(s, h->now, "app_wipe", NULL, p->wiped[w++],
				     "{\"action\":\"selective wipe of corporate data issued\"}")))
			rc = mtd_fail(h, MTD_ESTORE, "writing decisions: %s", mtd_store_errmsg(s));
	}
	free(ids);
	if (!rc)
		rc = dblock_flush(e); /* says what */
	return rc ? rc : finish_write(h, ro);
}

/* The device at the devices scan's row: its reports from rep, its stored
 * decision (from the decisions scan dec, or by key when NULL), decided and
 * written as ro says. On failure the handle's message says what. */
static int one_device(eval *e, scan *dev, scan *rep, scan *dec, devrow *d, run_out *ro)
{
	mtd_t *h = e->h;
	const mtd_dslot *ds;
	int rc = 0;

	devrow_clear(d, e->nconns);
	read_device(e, dev->st, dev->device, d);
	if (d->id < 1)
		return mtd_fail(h, MTD_ESTORE, "device '%s' has row id %lld: the store was changed "
				"outside mtdgate", ext_of(d), (long long)d->id);
	while (!rc && rep->device < d->id)
		rc = scan_next(rep);
	while (!rc && rep->device == d->id && !(rc = read_report(e, rep->st, d)))
		rc = scan_next(rep);
	if (rc)
		return mtd_fail(h, rc, "scanning devices: %s", mtd_store_errmsg(h->store));
	if ((rc = dblock_enter(e, dec, d->id / MTD_DBLOCK_SLOTS))) /* says what */
		return rc;
	ds = &e->cur->s[d->id % MTD_DBLOCK_SLOTS];
	if (ds->outcome && (rc = read_decision(e, ds, d))) /* says what */
		return rc;
	if ((rc = decide(e, d, ro)))
		return rc;
	mtd_test_stop("evaluate-decided", ro->evaluated);
	return 0;
}

/* One pass over every device, writing as mode says (PASS_*): 0, an error
 * (the handle's message says what), MTD_ERETRY or MTD_ERETRY_LOCKED. */
static int eval_pass(mtd_t *h, int mode, run_out *ro)
{
	eval e = {.h = h};
	devrow *d = NULL;
	scan dev = {0}, rep = {0}, dec = {0};
	int rc = 0;
	uint64_t total = 0;
	int64_t mark = 0;

	/* Rules first: bad rules change nothing. */
	{
		char why[2048];
		mtd_rules_limits lim = {h->rules_memory, h->rules_instructions, h->rules_cpu_ms,
					h->rules_eval_cpu_ms};
		if ((rc = mtd_rules_open(h->rules_dir, &lim, h->cloud, h->now, &e.rules, why, sizeof why)))
			return mtd_fail(h, rc, "%s", why);
		mtd_rules_memo(e.rules, 1);
	}
	/* nonzero: new outcomes are not stored as they are met */
	e.dry_ids = mode == PASS_LOCKED ? 0 : -1;
	if (mode == PASS_SNAPSHOT) {
		e.sp = calloc(1, sizeof *e.sp);
		e.prov = malloc(16 * sizeof *e.prov);
		e.prov_cap = 16;
		if (!e.sp || !e.prov) {
			rc = mtd_fail(h, MTD_ENOMEM, "out of memory");
			goto out;
		}
	}
	/* a read transaction (a snapshot) unless this pass writes as it goes */
	if (mode == PASS_LOCKED) {
		if ((rc = mtd_begin(h)))
			goto out;
	} else if (mtd_store_read_begin(h->store)) {
		rc = mtd_fail(h, MTD_ESTORE, "%s", mtd_store_errmsg(h->store));
		goto out;
	}
	if (mode == PASS_SNAPSHOT && (rc = decisions_mark(h, &mark)))
		goto out;
	if ((rc = mtd_conn_load_all(h->store, &e.conns, &e.nconns)) || (rc = load_sets(&e))) {
		rc = mtd_fail(h, rc, "reading the store: %s", mtd_store_errmsg(h->store));
		goto out;
	}
	if (e.nconns > MAX_CONNS) {
		rc = mtd_fail(h, MTD_EINTERNAL, "more than %d connectors", MAX_CONNS);
		goto out;
	}
	e.cstate = calloc(e.nconns + 1, sizeof *e.cstate);
	e.vname = calloc(e.nconns + 1, sizeof *e.vname);
	d = calloc(1, sizeof *d);
	e.oc = calloc(1, sizeof *e.oc);
	e.old = calloc(1, sizeof *e.old);
	if ((e.cur = calloc(1, sizeof *e.cur)))
		e.cur->blk = -1;
	if (e.oc) {
		e.oc->cap = oc_cap(ro->only ? ro->nonly : 0); /* never over half full */
		e.oc->v = calloc(e.oc->cap, sizeof *e.oc->v);
	}
	if (ro->fn)
		e.pc = pc_new();
	if (!e.cstate || !e.vname || !d || !e.oc || !e.oc->v || !e.old || !e.cur ||
	    (ro->fn && !e.pc)) {
		rc = mtd_fail(h, MTD_ENOMEM, "out of memory");
		goto out;
	}
	for (size_t i = 0; i < e.nconns; i++) {
		e.cstate[i] = mtd_conn_state_at(&e.conns[i], h->now);
		e.vname[i] = mtd_rules_vendor_name(e.rules, e.conns[i].vendor);
	}
	devrow_clear(d, e.nconns);
	/* Slim scans when the memo is likely to answer (pure rules, no
	 * inventory); the scans stay open while decide() uses the store's other
	 * statements. */
	e.slim = mtd_rules_pure(e.rules) && !mtd_rules_wants_inventory(e.rules);
	e.recall = e.slim && (e.pv = calloc(MTD_NPLAT, sizeof *e.pv));
	if (ro->only)
		e.slim = 0; /* a few devices: read them whole */
	else if (open_scans(&e, &dev, &rep, 0) ||
		 !(dec.st = mtd_store_stmt(h->store, SQL_EVAL_DECISIONS)) || scan_next(&dec)) {
		rc = mtd_fail(h, MTD_ESTORE, "scanning devices: %s", mtd_store_errmsg(h->store));
		goto out;
	}
	if (h->progress && !ro->only) {
		int64_t max = mtd_store_max_device(h->store);
		total = max > 0 ? (uint64_t)max : 0;
	}
	/* devices in id order; reports and decisions of each are the rows of
	 * those scans with its id (rows of no device are skipped) */
	if (ro->only) {
		/* a device set: the scans from each device on, its rows only */
		for (size_t k = 0; !rc && k < ro->nonly; k++) {
			if (ro->only[k] < 1 || (k && ro->only[k] == ro->only[k - 1]))
				continue;
			if (open_scans(&e, &dev, &rep, ro->only[k] - 1)) {
				rc = mtd_fail(h, MTD_ESTORE, "scanning devices: %s",
					      mtd_store_errmsg(h->store));
				break;
			}
			if (dev.live && dev.device == ro->only[k])
				rc = one_device(&e, &dev, &rep, NULL, d, ro);
		}
	}
	while (!rc && !ro->only && dev.live) {
		if ((rc = one_device(&e, &dev, &rep, &dec, d, ro)))
			break;
		if (h->progress && (ro->evaluated & 4095) == 0)
			h->progress(h->progress_ud, "evaluate", (uint64_t)d->id, total, ro->evaluated);
		if (e.slim && ro->evaluated >= 4096 && e.details > ro->evaluated / 8) {
			/* the memo answers too few: read the details along from here */
			e.slim = 0;
			rc = open_scans(&e, &dev, &rep, d->id);
		} else {
			rc = scan_next(&dev);
		}
		if (rc)
			rc = mtd_fail(h, rc, "scanning devices: %s", mtd_store_errmsg(h->store));
	}
	if (!rc && h->progress && !ro->only)
		h->progress(h->progress_ud, "evaluate", total, total, ro->evaluated);
	for (int i = 0; i < 3; i++) { /* done reading before the commit */
		scan *sc = i == 0 ? &dev : i == 1 ? &rep : &dec;
		if (sc->st)
			sqlite3_reset(sc->st);
	}
	if (!rc && mode == PASS_LOCKED && !(rc = dblock_flush(&e))) /* says what */
		rc = finish_write(h, ro);
	if (!rc && mode == PASS_SNAPSHOT)
		rc = write_spool(&e, mark, ro);
out:
	for (int i = 0; i < 3; i++) {
		scan *sc = i == 0 ? &dev : i == 1 ? &rep : &dec;
		if (sc->st)
			sqlite3_reset(sc->st);
	}
	if (rc || mode == PASS_DRY)
		mtd_store_rollback(h->store);
	if (d)
		devrow_free(d);
	free(d);
	free(e.vb.p);
	free(e.rb.p);
	free(e.resb.p);
	free(e.cstate);
	free(e.vname);
	free(e.pv);
	free(e.conns);
	free(e.memo_oc);
	oc_free(e.oc);
	pc_free(e.pc);
	free(e.old);
	free(e.cur);
	spool_free(e.sp);
	for (size_t i = 0; i < e.nprov; i++)
		free(e.prov[i].vendors);
	free(e.prov);
	free_sets(&e);
	mtd_rules_close(e.rules);
	return rc;
}

/* Tries of a snapshot pass that find another evaluation's decisions
 * written meanwhile, before one under the write lock. */
#define SNAPSHOT_TRIES 3

int mtd_evaluate_counted(mtd_t *h, int dry_run, mtd_change_fn fn, void *ud,
			 uint64_t *evaluated, uint64_t *changed, mtd_transitions *t)
{
	mtd_eval_summary s;
	int rc = mtd_evaluate_summary(h, dry_run, fn, ud, &s);
	if (evaluated)
		*evaluated = s.evaluated;
	if (changed)
		*changed = s.changed;
	if (t)
		*t = s.t;
	return rc;
}

int mtd_evaluate_summary(mtd_t *h, int dry_run, mtd_change_fn fn, void *ud, mtd_eval_summary *s)
{
	run_out ro;
	int rc = mtd_need_store(h), mode;

	memset(s, 0, sizeof *s);
	if (rc)
		return rc;
	if ((rc = mtd_check_trusted(h, h->rules_dir, "rules", ".lua")))
		return rc;
	/* State changes that happened while nobody was listening (e.g.
	 * unresponsive) are audited first, in a transaction of their own. */
	if (!dry_run) {
		if ((rc = mtd_begin(h)))
			return rc;
		rc = mtd_refresh_connectors(h);
		if (!rc && mtd_store_commit(h->store))
			rc = mtd_fail(h, MTD_ESTORE, "%s", mtd_store_errmsg(h->store));
		if (rc) {
			mtd_store_rollback(h->store);
			return rc;
		}
	}
	/* Rules run under a read snapshot and the changes are written after,
	 * so a slow policy never holds the write lock that ingest and imports
	 * need. A caller that is told of each change as it is written, or a
	 * pass that cannot keep its changes in memory, or one that keeps
	 * meeting other evaluations, runs under the write lock instead. */
	mode = dry_run ? PASS_DRY : fn ? PASS_LOCKED : PASS_SNAPSHOT;
	for (int tries = 1;; tries++) {
		ro = (run_out){.mode = mode, .dry = mode == PASS_DRY, .fn = fn, .ud = ud};
		rc = eval_pass(h, mode, &ro);
		if (rc == MTD_ERETRY_LOCKED || (rc == MTD_ERETRY && tries >= SNAPSHOT_TRIES))
			mode = PASS_LOCKED;
		else if (rc != MTD_ERETRY)
			break;
	}
	if (!rc) {
		s->evaluated = ro.evaluated;
		s->changed = ro.changed;
		s->t = ro.t;
		memcpy(s->kinds, ro.kinds, sizeof s->kinds);
	}
	return rc;
}

int mtd_evaluate_set(mtd_t *h, const mtd_devset *set, mtd_change_fn fn, void *ud,
		     uint64_t *evaluated, uint64_t *changed)
{
	mtd_devset own = {0};
	mtd_conn *cs = NULL;
	size_t ncs = 0;
	int rc = mtd_need_store(h), moved = 0;
	run_out ro = {.mode = PASS_LOCKED, .fn = fn, .ud = ud};

	if (evaluated)
		*evaluated = 0;
	if (changed)
		*changed = 0;
	if (rc)
		return rc;
	/* A connector whose state is due to change changes every decision:
	 * the whole fleet then, as mtd_evaluate would (it audits the change). */
	if (!set->all) {
		if ((rc = mtd_conn_load_all(h->store, &cs, &ncs)))
			return mtd_fail(h, rc, "reading connectors: %s", mtd_store_errmsg(h->store));
		for (size_t i = 0; i < ncs; i++)
			moved |= mtd_conn_state_at(&cs[i], h->now) != cs[i].state;
		free(cs);
	}
	if (set->all || moved)
		return mtd_evaluate_counted(h, 0, fn, ud, evaluated, changed, NULL);
	if (!set->n)
		return 0;
	if ((rc = mtd_check_trusted(h, h->rules_dir, "rules", ".lua")))
		return rc;
	/* ascending, as the pass reads them */
	for (size_t i = 1; i < set->n && !own.ids; i++)
		if (set->ids[i] < set->ids[i - 1]) {
			if (!(own.ids = malloc(set->n * sizeof *own.ids)))
				return mtd_fail(h, MTD_ENOMEM, "out of memory");
			memcpy(own.ids, set->ids, set->n * sizeof *own.ids);
			own.n = own.cap = set->n;
			mtd_devset_normalize(&own);
		}
	ro.only = own.ids ? own.ids : set->ids;
	ro.nonly = own.ids ? own.n : set->n;
	rc = eval_pass(h, PASS_LOCKED, &ro);
	mtd_devset_free(&own);
	if (!rc) {
		if (evaluated)
			*evaluated = ro.evaluated;
		if (changed)
			*changed = ro.changed;
	}
	return rc;
}

/* ---- report ---- */

/* Every device's outcome and evaluation time by row id, from one scan of
 * the blocks: a whole report goes in ext_id order, which need not be row id
 * order, and a block fetched and decoded per device made a shuffled
 * fleet's report five times slower. 16 bytes a device; NULL (per-block
 * look-ups instead) beyond MAX_INDEXED devices. */
#define MAX_INDEXED (INT64_C(1) << 26)
typedef struct dpair {
	int64_t outcome, evaluated_at;
} dpair;

static int load_index(mtd_t *h, dpair **out, int64_t *n)
{
	mtd_store *s = h->store;
	int64_t max = mtd_store_max_device(s);
	mtd_dslot slots[MTD_DBLOCK_SLOTS];
	sqlite3_stmt *st;
	dpair *v;
	int step;

	*out = NULL;
	*n = 0;
	if (max < 0)
		return mtd_fail(h, MTD_ESTORE, "%s", mtd_store_errmsg(s));
	if (max >= MAX_INDEXED)
		return 0;
	if (!(v = calloc((size_t)max + 1, sizeof *v)))
		return mtd_fail(h, MTD_ENOMEM, "out of memory");
	if (!(st = mtd_store_stmt(s, SQL_EVAL_DECISIONS))) {
		free(v);
		return mtd_fail(h, MTD_ESTORE, "%s", mtd_store_errmsg(s));
	}
	while ((step = sqlite3_step(st)) == SQLITE_ROW) {
		int64_t blk = mtd_eval_row_key(st);
		char why[256];
		if (blk < 0 || blk > max / MTD_DBLOCK_SLOTS)
			continue; /* no device of ours has its slots */
		if (mtd_eval_decisions_read(st, blk, slots, why, sizeof why)) {
			sqlite3_reset(st);
			free(v);
			return mtd_fail(h, MTD_ESTORE, "%s", why);
		}
		for (int64_t k = 0; k < MTD_DBLOCK_SLOTS && blk * MTD_DBLOCK_SLOTS + k <= max; k++)
			v[blk * MTD_DBLOCK_SLOTS + k] = (dpair){slots[k].outcome, slots[k].evaluated_at};
	}
	sqlite3_reset(st);
	if (step != SQLITE_DONE) {
		free(v);
		return mtd_fail(h, MTD_ESTORE, "%s", mtd_store_errmsg(s));
	}
	*out = v;
	*n = max + 1;
	return 0;
}

/* The stored reports of one device (a report of one device). */
typedef struct devreports {
	size_t n;
	char vendor[MAX_CONNS][MTD_MAX_ID + 1];
	const char *vp[MAX_CONNS], *lv[MAX_CONNS];
	int64_t at[MAX_CONNS], received[MAX_CONNS];
} devreports;

static int load_reports(mtd_t *h, int64_t id, devreports *dr, mtd_decision_info *info)
{
	sqlite3_stmt *st = mtd_store_stmt(h->store, SQL_REPORTS_OF_DEVICE);
	int step;
	dr->n = 0;
	if (!st)
		return mtd_fail(h, MTD_ESTORE, "%s", mtd_store_errmsg(h->store));
	sqlite3_bind_int64(st, 1, id);
	while ((step = sqlite3_step(st)) == SQLITE_ROW && dr->n < MAX_CONNS) {
		size_t i = dr->n++;
		mtd_device_report r;
		mtd_device_report_read(st, &r);
		text_copy(r.vendor, r.nvendor, dr->vendor[i], sizeof dr->vendor[i]);
		dr->vp[i] = dr->vendor[i];
		dr->lv[i] = mtd_level_name(r.level);
		dr->at[i] = r.at;
		dr->received[i] = r.received;
	}
	sqlite3_reset(st);
	if (step != SQLITE_ROW && step != SQLITE_DONE)
		return mtd_fail(h, MTD_ESTORE, "%s", mtd_store_errmsg(h->store));
	info->nreports = dr->n;
	info->report_vendors = dr->vp;
	info->report_levels = dr->lv;
	info->report_at = dr->at;
	info->report_received = dr->received;
	return 0;
}

int mtd_report(mtd_t *h, const char *device, mtd_decision_fn fn, void *ud)
{
	sqlite3_stmt *st;
	pcache *pc;
	dblock *b;      /* without an index: the block of the device before */
	dpair *idx = NULL; /* a whole report's index (load_index) */
	devreports *dr = NULL; /* a report of one device: its reports */
	int64_t nidx = 0;
	int rc = mtd_need_store_read(h), step, found = 0;

	if (rc)
		return rc;
	pc = pc_new();
	b = malloc(sizeof *b);
	dr = device ? malloc(sizeof *dr) : NULL;
	if (!pc || !b || (device && !dr)) {
		free(pc);
		free(b);
		free(dr);
		return mtd_fail(h, MTD_ENOMEM, "out of memory");
	}
	b->blk = -1;
	/* one read transaction: a consistent report while others write */
	if (mtd_store_read_begin(h->store)) {
		pc_free(pc);
		free(b);
		free(dr);
		return mtd_fail(h, MTD_ESTORE, "%s", mtd_store_errmsg(h->store));
	}
	if (!device && (rc = load_index(h, &idx, &nidx)))
		goto out;
	if (!(st = mtd_store_stmt(h->store, SQL_REPORT_SCAN))) {
		rc = mtd_fail(h, MTD_ESTORE, "%s", mtd_store_errmsg(h->store));
		goto out;
	}
	if (device)
		sqlite3_bind_text(st, 1, device, -1, SQLITE_STATIC);
	while (!rc && (step = sqlite3_step(st)) == SQLITE_ROW) {
		mtd_report_scan_row row;
		int64_t id, oid = 0, at = 0;
		mtd_decision_info info;
		mtd_report_scan_row_read(st, &row);
		id = row.id;
		found = 1;
		if (idx) {
			if (id > 0 && id < nidx)
				oid = idx[id].outcome, at = idx[id].evaluated_at;
		} else if (id > 0) {
			if (id / MTD_DBLOCK_SLOTS != b->blk) {
				b->blk = id / MTD_DBLOCK_SLOTS;
				rc = mtd_store_dblock_get(h->store, b->blk, b->s); /* all empty if none */
				if (rc == MTD_ENOTFOUND)
					rc = 0;
				if (rc) {
					rc = mtd_fail(h, rc, "%s", mtd_store_errmsg(h->store));
					break;
				}
			}
			oid = b->s[id % MTD_DBLOCK_SLOTS].outcome;
			at = b->s[id % MTD_DBLOCK_SLOTS].evaluated_at;
		}
		if (!oid) {
			not_evaluated(&info);
		} else if ((rc = pc_get(pc, h->store, oid, NULL, &info))) {
			rc = outcome_error(h, rc, row.ext_id, oid);
			break;
		} else {
			info.evaluated_at = at;
		}
		info.device = row.ext_id;
		info.platform = mtd_platform_name(row.platform);
		info.management = row.enrolled ? "enrolled" : "unenrolled";
		if (device && (rc = load_reports(h, id, dr, &info)))
			break;
		rc = fn(ud, &info);
	}
	if (!rc && step != SQLITE_DONE)
		rc = mtd_fail(h, MTD_ESTORE, "%s", mtd_store_errmsg(h->store));
	sqlite3_reset(st);
	if (!rc && device && !found)
		rc = mtd_fail(h, MTD_EUSAGE, "unknown device '%s'", device);
out:
	mtd_store_read_end(h->store);
	pc_free(pc);
	free(b);
	free(idx);
	free(dr);
	return rc;
}

int mtd_report_set(mtd_t *h, const mtd_devset *set, mtd_decision_fn fn, void *ud)
{
	int rc = mtd_need_store(h);
	if (rc || set->all)
		return rc ? rc : mtd_report(h, NULL, fn, ud);
	for (size_t i = 0; !rc && i < set->n; i++) {
		char ext[MTD_MAX_ID + 1];
		if ((rc = mtd_store_device_ext(h->store, set->ids[i], ext, sizeof ext)) ==
		    MTD_ENOTFOUND) {
			rc = 0;
			continue;
		}
		if (rc)
			return mtd_fail(h, rc, "%s", mtd_store_errmsg(h->store));
		rc = mtd_report(h, ext, fn, ud);
	}
	return rc;
}

/* ---- time-driven changes ---- */

/* The groupset of device id (0 when none or no such device). */
static int device_groupset(mtd_store *s, int64_t id, int64_t *gs)
{
	sqlite3_stmt *st = mtd_store_stmt(s, SQL_EVAL_DEVICES_SLIM);
	int step;
	*gs = 0;
	if (!st)
		return MTD_ESTORE;
	sqlite3_bind_int64(st, 1, id - 1);
	step = sqlite3_step(st);
	if (step == SQLITE_ROW && mtd_eval_row_key(st) == id) {
		mtd_eval_device row;
		mtd_eval_device_read(st, &row);
		*gs = row.groupset;
	}
	sqlite3_reset(st);
	return step == SQLITE_ROW || step == SQLITE_DONE ? 0 : MTD_ESTORE;
}

/* A device in grace since since, of group set gs: when the period ends
 * (0: its groups give none now). */
static int grace_end(eval *e, int64_t id, int64_t since, int64_t *end)
{
	int64_t gs, g = 0;
	int rc = device_groupset(e->h->store, id, &gs);
	if (rc)
		return rc;
	if (gs > 0 && (size_t)gs < e->nsets)
		g = mtd_rules_grace(e->rules, (const char *const *)e->sets[gs].names,
				    e->sets[gs].n);
	else
		g = mtd_rules_grace(e->rules, NULL, 0);
	*end = g > 0 ? since + g : 0;
	return 0;
}

/* Devices and the time each is due at (mtd_next_due's task ages). */
typedef struct dues {
	int64_t *id, *at;
	size_t n, cap;
} dues;

static int due_add(void *ud, int64_t dev, int64_t at)
{
	dues *d = ud;
	if (d->n == d->cap) {
		size_t cap = d->cap ? d->cap * 2 : 64;
		int64_t *a = realloc(d->id, cap * sizeof *a), *b;
		if (a)
			d->id = a;
		if (!a || !(b = realloc(d->at, cap * sizeof *b)))
			return MTD_ENOMEM;
		d->at = b;
		d->cap = cap;
	}
	d->id[d->n] = dev;
	d->at[d->n++] = at;
	return 0;
}

int mtd_next_due(mtd_t *h, int64_t *at, int *all, mtd_devset *due)
{
	return mtd_next_due_since(h, h->now, at, all, due);
}

int mtd_next_due_since(mtd_t *h, int64_t from, int64_t *at, int *all, mtd_devset *due)
{
	dues tasks = {0}; /* devices with open tasks: when one's age passes a day */
	eval e = {.h = h};
	int64_t best = 0, max;
	int rc = mtd_need_store(h), step = SQLITE_DONE;
	sqlite3_stmt *st = NULL;
	mtd_dslot slots[MTD_DBLOCK_SLOTS];
	struct {
		int64_t id;
		int state;
	} oc[64] = {{0}};
	int64_t *gid = NULL, *gend = NULL; /* devices in grace and when it ends */
	size_t ng = 0, gcap = 0;

	*at = 0;
	*all = 0;
	if (rc)
		return rc;
	if (mtd_store_read_begin(h->store))
		return mtd_fail(h, MTD_ESTORE, "%s", mtd_store_errmsg(h->store));
	/* R2: an enabled connector turns unresponsive after its silence */
	if ((rc = mtd_conn_load_all(h->store, &e.conns, &e.nconns))) {
		rc = mtd_fail(h, rc, "reading connectors: %s", mtd_store_errmsg(h->store));
		goto out;
	}
	for (size_t i = 0; i < e.nconns; i++) {
		const mtd_conn *c = &e.conns[i];
		int64_t t = c->last_contact + (int64_t)c->unresponsive_days * 86400 + 1;
		int cst = mtd_conn_state_at(c, h->now);
		if (cst != c->state) /* due already: its change is not applied yet */
			t = h->now;
		else if (cst != MTD_CS_ENABLED)
			continue;
		if (!best || t < best)
			best = t;
	}
	/* grace periods ending: the devices decided in_grace_period */
	{
		char why[2048];
		mtd_rules_limits lim = {h->rules_memory, h->rules_instructions, h->rules_cpu_ms,
					h->rules_eval_cpu_ms};
		if ((rc = mtd_check_trusted(h, h->rules_dir, "rules", ".lua")))
			goto out;
		if ((rc = mtd_rules_open(h->rules_dir, &lim, h->cloud, h->now, &e.rules, why,
					 sizeof why))) {
			rc = mtd_fail(h, rc, "%s", why);
			goto out;
		}
	}
	if ((rc = load_sets(&e))) {
		rc = mtd_fail(h, rc, "reading the store: %s", mtd_store_errmsg(h->store));
		goto out;
	}
	max = mtd_store_max_device(h->store);
	if (!(st = mtd_store_stmt(h->store, SQL_EVAL_DECISIONS))) {
		rc = mtd_fail(h, MTD_ESTORE, "%s", mtd_store_errmsg(h->store));
		goto out;
	}
	while (!rc && (step = sqlite3_step(st)) == SQLITE_ROW) {
		int64_t blk = mtd_eval_row_key(st);
		char why[256];
		if (blk < 0 || blk > max / MTD_DBLOCK_SLOTS)
			continue;
		if (mtd_eval_decisions_read(st, blk, slots, why, sizeof why)) {
			rc = mtd_fail(h, MTD_ESTORE, "%s", why);
			break;
		}
		for (int k = 0; !rc && k < MTD_DBLOCK_SLOTS; k++) {
			int64_t o = slots[k].outcome;
			size_t c = (size_t)((uint64_t)o % 64);
			if (!o)
				continue;
			if (oc[c].id != o) {
				outcome x;
				if ((rc = outcome_get(h->store, o, &x))) {
					rc = outcome_error(h, rc, "?", o);
					break;
				}
				oc[c].id = o;
				oc[c].state = x.state;
				free(x.vendors);
			}
			if (oc[c].state != MTD_ST_GRACE)
				continue;
			if (ng == gcap) {
				size_t cap = gcap ? gcap * 2 : 64;
				int64_t *a = realloc(gid, cap * sizeof *a), *b;
				if (a)
					gid = a;
				if (!a || !(b = realloc(gend, cap * sizeof *b))) {
					rc = mtd_fail(h, MTD_ENOMEM, "out of memory");
					break;
				}
				gend = b;
				gcap = cap;
			}
			gid[ng] = blk * MTD_DBLOCK_SLOTS + k;
			gend[ng] = slots[k].since;
			ng++;
		}
	}
	sqlite3_reset(st);
	if (!rc && step != SQLITE_DONE && step != SQLITE_ROW)
		rc = mtd_fail(h, MTD_ESTORE, "%s", mtd_store_errmsg(h->store));
	for (size_t i = 0; !rc && i < ng; i++) {
		if ((rc = grace_end(&e, gid[i], gend[i], &gend[i])))
			rc = mtd_fail(h, rc, "%s", mtd_store_errmsg(h->store));
		else if (gend[i] && (!best || gend[i] < best))
			best = gend[i];
	}
	/* security tasks: the rules see their first_seen (device.tasks) and may
	 * compare its age with a number of days, which they cannot declare */
	if (!rc && (rc = mtd_task_next_ages(h->store, from < h->now ? from : h->now, due_add,
					    &tasks)))
		rc = rc == MTD_ENOMEM ? mtd_fail(h, rc, "out of memory")
				      : mtd_fail(h, rc, "reading tasks: %s", mtd_store_errmsg(h->store));
	for (size_t i = 0; !rc && i < tasks.n; i++)
		if (!best || tasks.at[i] < best)
			best = tasks.at[i];
	if (!rc) {
		int64_t by = best > h->now ? best : h->now; /* what is due by then */
		*at = best;
		for (size_t i = 0; i < e.nconns; i++) /* a state that changes by then */
			if (mtd_conn_state_at(&e.conns[i], by) != e.conns[i].state)
				*all = 1;
		for (size_t i = 0; due && i < ng; i++)
			if (gend[i] && gend[i] <= by)
				mtd_devset_add(due, gid[i]);
		for (size_t i = 0; due && i < tasks.n; i++)
			if (tasks.at[i] <= by)
				mtd_devset_add(due, tasks.id[i]);
	}
out:
	free(tasks.id);
	free(tasks.at);
	mtd_store_read_end(h->store);
	free(gid);
	free(gend);
	free(e.conns);
	free_sets(&e);
	mtd_rules_close(e.rules);
	return rc;
}
