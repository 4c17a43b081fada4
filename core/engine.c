/* engine: one streaming pass over devices joined with their latest reports
 * and current decision; rules decide; only changed decisions are written
 * (and audited), all in one transaction so an evaluation applies whole or
 * not at all. Also the report of stored decisions. */
#include <stdlib.h>
#include <string.h>

#include "codec.h"
#include "connector.h"
#include "mtd_int.h"
#include "rules.h"

/* A reusable text buffer: the per-device path allocates nothing once warm. */
typedef struct tbuf {
	char *p;
	size_t n, cap;
} tbuf;

static int tb_put(tbuf *b, const char *s, size_t n)
{
	if (b->cap - b->n < n + 1) {
		size_t cap = b->cap ? b->cap : 256;
		char *np;
		while (cap - b->n < n + 1)
			cap *= 2;
		if (!(np = realloc(b->p, cap)))
			return -1;
		b->p = np;
		b->cap = cap;
	}
	memcpy(b->p + b->n, s, n);
	b->n += n;
	b->p[b->n] = '\0';
	return 0;
}

static int tb_set(tbuf *b, const char *s)
{
	b->n = 0;
	return tb_put(b, s ? s : "", s ? strlen(s) : 0);
}

/* s as a JSON string (quotes, escapes; non-ASCII bytes kept as UTF-8). */
static int tb_jstr(tbuf *b, const char *s)
{
	static const char hex[] = "0123456789abcdef";
	if (tb_put(b, "\"", 1))
		return -1;
	for (const char *p = s; *p; p++) {
		unsigned char c = (unsigned char)*p;
		char esc[7] = {'\\', 'u', '0', '0', hex[c >> 4], hex[c & 15], 0};
		if (c == '"' || c == '\\') {
			char e2[2] = {'\\', (char)c};
			if (tb_put(b, e2, 2))
				return -1;
		} else if (c < 0x20) {
			if (tb_put(b, esc, 6))
				return -1;
		} else {
			const char *q = p;
			while (q[1] && (unsigned char)q[1] >= 0x20 && q[1] != '"' && q[1] != '\\')
				q++;
			if (tb_put(b, p, (size_t)(q - p) + 1))
				return -1;
			p = q;
		}
	}
	return tb_put(b, "\"", 1);
}

/* A JSON array of strings. */
static int tb_jarray(tbuf *b, const char *const *v, size_t n)
{
	b->n = 0;
	if (tb_put(b, "[", 1))
		return -1;
	for (size_t i = 0; i < n; i++)
		if ((i && tb_put(b, ",", 1)) || tb_jstr(b, v[i]))
			return -1;
	return tb_put(b, "]", 1);
}

typedef struct gset {
	char **names;
	size_t n;
} gset;

typedef struct eval {
	mtd_t *h;
	mtd_conn *conns;
	size_t nconns;
	int *cstate; /* state of each connector at now */
	gset *sets;
	size_t nsets;
	mtd_rules *rules;
	tbuf vb, rb, resb; /* the new decision's texts, reused */
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
		int64_t id = sqlite3_column_int64(st, 0);
		const char *key = (const char *)sqlite3_column_text(st, 1);
		gset *g;
		if (id < 1 || id > 10000000)
			return MTD_ESTORE;
		if ((size_t)id >= e->nsets) {
			gset *ns = realloc(e->sets, ((size_t)id + 1) * sizeof *ns);
			if (!ns)
				return MTD_ENOMEM;
			memset(ns + e->nsets, 0, ((size_t)id + 1 - e->nsets) * sizeof *ns);
			e->sets = ns;
			e->nsets = (size_t)id + 1;
		}
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

typedef struct decision {
	int state, level, access, app;
	char *vendors; /* JSON object text, malloc'ed */
	char *reasons; /* JSON array text, malloc'ed */
	char *resources; /* JSON array text, malloc'ed */
	uint64_t digest;
	int64_t evaluated_at, since, wiped_at;
	int present;
} decision;

enum { ACCESS_ALLOW = 0, ACCESS_BLOCK = 1 };

static uint64_t digest_of(const decision *d)
{
	int v[4] = {d->state, d->level, d->access, d->app};
	uint64_t h = mtd_fnv(MTD_FNV_SEED, v, sizeof v);
	h = mtd_fnv(h, d->vendors, strlen(d->vendors));
	h = mtd_fnv(h, d->resources, strlen(d->resources));
	return mtd_fnv(h, d->reasons, strlen(d->reasons)) & INT64_MAX;
}

/* Expanded form for callbacks; holds the parsed JSON. */
typedef struct shown {
	mtd_decision_info info;
	json_t *vj, *rj, *resj;
	const char *vn[64], *vl[64], *res[16];
	const char *rs[MTD_MAX_REASONS];
} shown;

static void show(shown *s, const char *device, int platform, int enrolled,
		 const decision *d)
{
	const char *k;
	json_t *v;
	size_t i;

	memset(s, 0, sizeof *s);
	s->info.device = device;
	s->info.platform = mtd_platform_name(platform);
	s->info.management = enrolled ? "enrolled" : "unenrolled";
	if (!d->present) {
		static const char *const why[] = {"not evaluated yet (run 'mtdgate evaluate')"};
		s->info.state = "not_evaluated";
		s->info.level = "none";
		s->info.access = "block";
		s->info.app_protection = "none";
		s->info.nreasons = 1;
		s->info.reasons = why;
		return;
	}
	s->info.state = mtd_state_name(d->state);
	s->info.level = mtd_level_name(d->level);
	s->info.access = d->access == ACCESS_BLOCK ? "block" : "allow";
	s->info.app_protection = mtd_app_action_name(d->app);
	s->info.evaluated_at = d->evaluated_at;
	s->vj = json_loads(d->vendors, 0, NULL);
	s->rj = json_loads(d->reasons, 0, NULL);
	s->resj = json_loads(d->resources ? d->resources : "[]", 0, NULL);
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

/* ---- one device ---- */

#define MAX_CONNS 64

typedef struct devrow {
	int64_t id, groupset;
	char ext[MTD_MAX_ID + 1];
	char os[65], user[MTD_MAX_STR + 1];
	int has_os, has_user;
	int platform, corporate, enrolled;
	/* latest report per connector index */
	int level[MAX_CONNS];
	int64_t at[MAX_CONNS];
	int os_supported[MAX_CONNS];
	tbuf threats[MAX_CONNS]; /* msgpack bytes; n 0 = none */
	tbuf ov, orr, ores;      /* the stored decision's texts */
	decision old;
} devrow;

/* Ready for the next device; buffers are kept. */
static void devrow_clear(devrow *d, size_t nconns)
{
	for (size_t i = 0; i < nconns; i++) {
		d->threats[i].n = 0;
		d->level[i] = 0;
	}
	memset(&d->old, 0, sizeof d->old);
}

static void devrow_free(devrow *d)
{
	for (size_t i = 0; i < MAX_CONNS; i++)
		free(d->threats[i].p);
	free(d->ov.p);
	free(d->orr.p);
	free(d->ores.p);
}

static char *col_into(sqlite3_stmt *st, int i, tbuf *b)
{
	return tb_set(b, (const char *)sqlite3_column_text(st, i)) ? NULL : b->p;
}

static int conn_index(const eval *e, int64_t id)
{
	for (size_t i = 0; i < e->nconns; i++)
		if (e->conns[i].id == id)
			return (int)i;
	return -1;
}

/* Read the row's device columns (first row of a device). */
static int read_device(sqlite3_stmt *st, devrow *d)
{
	const char *t;
	d->id = sqlite3_column_int64(st, 0);
	snprintf(d->ext, sizeof d->ext, "%s", (const char *)sqlite3_column_text(st, 1));
	d->platform = sqlite3_column_int(st, 2);
	t = (const char *)sqlite3_column_text(st, 3);
	d->has_os = t != NULL;
	snprintf(d->os, sizeof d->os, "%s", t ? t : "");
	d->corporate = sqlite3_column_int(st, 4);
	d->enrolled = sqlite3_column_int(st, 5);
	t = (const char *)sqlite3_column_text(st, 6);
	d->has_user = t != NULL;
	snprintf(d->user, sizeof d->user, "%s", t ? t : "");
	d->groupset = sqlite3_column_int64(st, 7);
	d->old.present = sqlite3_column_type(st, 13) != SQLITE_NULL;
	if (d->old.present) {
		d->old.state = sqlite3_column_int(st, 13);
		d->old.level = sqlite3_column_int(st, 14);
		d->old.access = sqlite3_column_int(st, 15);
		d->old.app = sqlite3_column_int(st, 16);
		d->old.vendors = col_into(st, 17, &d->ov);
		d->old.reasons = col_into(st, 18, &d->orr);
		d->old.digest = (uint64_t)sqlite3_column_int64(st, 19);
		d->old.evaluated_at = sqlite3_column_int64(st, 20);
		d->old.since = sqlite3_column_int64(st, 21);
		d->old.wiped_at = sqlite3_column_int64(st, 22);
		d->old.resources = col_into(st, 23, &d->ores);
		if (!d->old.vendors || !d->old.reasons || !d->old.resources)
			return MTD_ENOMEM;
	}
	return 0;
}

static int read_report(const eval *e, sqlite3_stmt *st, devrow *d)
{
	int ci;
	if (sqlite3_column_type(st, 8) == SQLITE_NULL)
		return 0;
	ci = conn_index(e, sqlite3_column_int64(st, 8));
	if (ci < 0)
		return 0;
	d->level[ci] = sqlite3_column_int(st, 9);
	d->at[ci] = sqlite3_column_int64(st, 10);
	d->os_supported[ci] = sqlite3_column_type(st, 11) == SQLITE_NULL ? -1 : sqlite3_column_int(st, 11);
	d->threats[ci].n = 0;
	if (sqlite3_column_type(st, 12) == SQLITE_BLOB &&
	    tb_put(&d->threats[ci], sqlite3_column_blob(st, 12), (size_t)sqlite3_column_bytes(st, 12)))
		return MTD_ENOMEM;
	return 0;
}

typedef struct run_out {
	int dry;
	mtd_change_fn fn;
	void *ud;
	uint64_t evaluated, changed;
} run_out;

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
		const char **sp[4];
		if (!nv) {
			free(v);
			return MTD_ENOMEM;
		}
		v = nv;
		memset(&v[k], 0, sizeof v[k]);
		sp[0] = &v[k].app_id;
		sp[1] = &v[k].version;
		sp[2] = &v[k].short_version;
		sp[3] = &v[k].name;
		for (int i = 0; i < 4; i++) {
			const char *t = (const char *)sqlite3_column_text(st, i);
			*sp[i] = t ? strdup(t) : NULL;
		}
		v[k].bundle_size = sqlite3_column_type(st, 4) == SQLITE_NULL ? -1 : sqlite3_column_int64(st, 4);
		v[k].dynamic_size = sqlite3_column_type(st, 5) == SQLITE_NULL ? -1 : sqlite3_column_int64(st, 5);
		{
			int *fl[] = {&v[k].adhoc_signed, &v[k].app_store, &v[k].beta, &v[k].vpp,
				     &v[k].validated, &v[k].managed};
			for (int i = 0; i < 6; i++)
				*fl[i] = sqlite3_column_type(st, 6 + i) == SQLITE_NULL ? -1
							: sqlite3_column_int(st, 6 + i);
		}
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

static int decide(eval *e, devrow *d, run_out *ro)
{
	mtd_t *h = e->h;
	mtd_vreport cv[MAX_CONNS], av[MAX_CONNS];
	size_t ncv = 0, nav = 0;
	uint32_t bit = 1u << d->platform;
	mtd_eval_in in = {0};
	mtd_eval_out out;
	decision nd = {0};
	char why[2048];
	int rc;

	for (size_t i = 0; i < e->nconns; i++) {
		const mtd_conn *c = &e->conns[i];
		mtd_vreport v = {c->vendor, d->level[i], d->at[i], d->os_supported[i],
				 d->threats[i].n ? d->threats[i].p : NULL, d->threats[i].n,
				 c->block_missing_data, c->block_unsupported_os};
		if (e->cstate[i] != MTD_CS_ENABLED) /* R4, R6: only enabled connectors are in force */
			continue;
		if (c->platforms & bit)
			cv[ncv++] = v;
		if (c->mam_platforms & bit)
			av[nav++] = v;
	}
	in.id = d->ext;
	in.os_version = d->has_os ? d->os : NULL;
	in.user = d->has_user ? d->user : NULL;
	in.platform = d->platform;
	in.corporate = d->corporate;
	in.enrolled = d->enrolled;
	in.groupset = d->groupset;
	if (d->groupset > 0 && (size_t)d->groupset < e->nsets) {
		in.groups = (const char *const *)e->sets[d->groupset].names;
		in.ngroups = e->sets[d->groupset].n;
	}
	in.vendors = cv;
	in.nvendors = ncv;
	in.app_vendors = av;
	in.napp_vendors = nav;
	in.prev_state = d->old.present ? d->old.state : -1;
	in.prev_since = d->old.since;
	if (mtd_rules_wants_inventory(e->rules)) {
		mtd_app_view *apps;
		if ((rc = load_apps(e, d->id, &apps, &in.napps)))
			return mtd_fail(h, rc, "reading the apps of %s: %s", d->ext,
					mtd_store_errmsg(h->store));
		in.apps = apps;
		rc = mtd_rules_eval(e->rules, &in, &out, why, sizeof why);
		free_apps(apps, in.napps);
	} else {
		rc = mtd_rules_eval(e->rules, &in, &out, why, sizeof why);
	}
	if (rc)
		return mtd_fail(h, rc, "rules failed on device %s: %s", d->ext, why);
	ro->evaluated++;

	nd.present = 1;
	nd.state = out.state;
	nd.level = out.level;
	nd.app = out.app_action;
	nd.access = mtd_access_blocked(d->enrolled, out.state, out.app_action) ? ACCESS_BLOCK
										: ACCESS_ALLOW;
	/* vendors: {"id":"level"}; vendor ids are [a-z0-9_], no escaping needed */
	e->vb.n = 0;
	rc = tb_put(&e->vb, "{", 1);
	for (size_t i = 0, k = 0; !rc && i < e->nconns; i++) {
		const mtd_conn *c = &e->conns[i];
		if (e->cstate[i] == MTD_CS_ENABLED && d->level[i] > 0 &&
		    ((c->platforms | c->mam_platforms) & bit)) {
			const char *lv = mtd_level_name(d->level[i]);
			rc = (k++ && tb_put(&e->vb, ",", 1)) || tb_put(&e->vb, "\"", 1) ||
			     tb_put(&e->vb, c->vendor, strlen(c->vendor)) || tb_put(&e->vb, "\":\"", 3) ||
			     tb_put(&e->vb, lv, strlen(lv)) || tb_put(&e->vb, "\"", 1);
		}
	}
	if (rc || tb_put(&e->vb, "}", 1) || tb_jarray(&e->rb, out.reasons, out.nreasons) ||
	    tb_jarray(&e->resb, out.resources, out.nresources))
		return mtd_fail(h, MTD_ENOMEM, "out of memory");
	nd.vendors = e->vb.p;
	nd.reasons = e->rb.p;
	nd.resources = e->resb.p;
	nd.digest = digest_of(&nd);
	rc = 0;
	if (!d->old.present || d->old.digest != nd.digest) {
		nd.evaluated_at = h->now;
		nd.since = d->old.present && d->old.state == nd.state ? d->old.since : h->now;
		/* R8: a wipe is issued once, when it starts; it stays recorded while
		 * the condition lasts and is not repeated. */
		nd.wiped_at = nd.app == MTD_APP_WIPE
				      ? (d->old.present && d->old.app == MTD_APP_WIPE ? d->old.wiped_at : h->now)
				      : 0;
		ro->changed++;
		if (!ro->dry) {
			sqlite3_stmt *st = mtd_store_stmt(h->store, SQL_DECISION_UPSERT);
			char detail[4096];
			if (!st)
				rc = MTD_ESTORE;
			else {
				sqlite3_bind_int64(st, 1, d->id);
				sqlite3_bind_int(st, 2, nd.state);
				sqlite3_bind_int(st, 3, nd.level);
				sqlite3_bind_int(st, 4, nd.access);
				sqlite3_bind_int(st, 5, nd.app);
				sqlite3_bind_text(st, 6, nd.vendors, -1, SQLITE_STATIC);
				sqlite3_bind_text(st, 7, nd.reasons, -1, SQLITE_STATIC);
				sqlite3_bind_int64(st, 8, (int64_t)nd.digest);
				sqlite3_bind_int64(st, 9, nd.evaluated_at);
				sqlite3_bind_int64(st, 10, nd.since);
				if (nd.wiped_at)
					sqlite3_bind_int64(st, 11, nd.wiped_at);
				sqlite3_bind_text(st, 12, nd.resources, -1, SQLITE_STATIC);
				if (sqlite3_step(st) != SQLITE_DONE)
					rc = MTD_ESTORE;
			}
			snprintf(detail, sizeof detail,
				 "{\"from\":{\"state\":\"%s\",\"access\":\"%s\",\"app_protection\":\"%s\"},"
				 "\"to\":{\"state\":\"%s\",\"level\":\"%s\",\"access\":\"%s\",\"app_protection\":\"%s\"},"
				 "\"reasons\":%.3000s}",
				 d->old.present ? mtd_state_name(d->old.state) : "not_evaluated",
				 d->old.present && d->old.access == ACCESS_ALLOW ? "allow" : "block",
				 d->old.present ? mtd_app_action_name(d->old.app) : "none",
				 mtd_state_name(nd.state), mtd_level_name(nd.level),
				 nd.access == ACCESS_BLOCK ? "block" : "allow", mtd_app_action_name(nd.app),
				 strlen(nd.reasons) <= 3000 ? nd.reasons : "[]");
			if (!rc && mtd_store_audit(h->store, h->now, "decision", NULL, d->ext, detail))
				rc = MTD_ESTORE;
			if (!rc && nd.app == MTD_APP_WIPE && nd.wiped_at == h->now &&
			    mtd_store_audit(h->store, h->now, "app_wipe", NULL, d->ext,
					    "{\"action\":\"selective wipe of corporate data issued\"}"))
				rc = MTD_ESTORE;
			if (rc)
				rc = mtd_fail(h, rc, "writing the decision of %s: %s", d->ext,
					      mtd_store_errmsg(h->store));
		}
		if (!rc && ro->fn) {
			/* the old decision from its stored text; the new one straight
			 * from the rules' output, nothing to parse */
			shown a;
			mtd_decision_info b = {0};
			const char *vn[MAX_CONNS], *vl[MAX_CONNS];
			show(&a, d->ext, d->platform, d->enrolled, &d->old);
			b.device = d->ext;
			b.platform = mtd_platform_name(d->platform);
			b.management = d->enrolled ? "enrolled" : "unenrolled";
			b.state = mtd_state_name(nd.state);
			b.level = mtd_level_name(nd.level);
			b.access = nd.access == ACCESS_BLOCK ? "block" : "allow";
			b.app_protection = mtd_app_action_name(nd.app);
			for (size_t i = 0; i < e->nconns; i++)
				if (e->cstate[i] == MTD_CS_ENABLED && d->level[i] > 0 &&
				    ((e->conns[i].platforms | e->conns[i].mam_platforms) & bit)) {
					vn[b.nvendors] = e->conns[i].vendor;
					vl[b.nvendors++] = mtd_level_name(d->level[i]);
				}
			b.vendor_names = vn;
			b.vendor_levels = vl;
			b.nreasons = out.nreasons;
			b.reasons = out.reasons;
			b.nresources = out.nresources;
			b.resources = out.resources;
			b.evaluated_at = nd.evaluated_at;
			rc = ro->fn(ro->ud, &a.info, &b);
			unshow(&a);
		}
	}
	return rc;
}

int mtd_evaluate(mtd_t *h, int dry_run, mtd_change_fn fn, void *ud,
		 uint64_t *evaluated, uint64_t *changed)
{
	eval e = {.h = h};
	run_out ro = {dry_run, fn, ud, 0, 0};
	devrow *d = NULL;
	sqlite3_stmt *st;
	int rc = mtd_need_store(h), step, have = 0;
	uint64_t total = 0;

	if (evaluated)
		*evaluated = 0;
	if (changed)
		*changed = 0;
	if (rc)
		return rc;
	/* Rules first: bad rules change nothing. */
	mtd_warn_writable(h, h->rules_dir, "rules");
	{
		char why[2048];
		mtd_rules_limits lim = {h->rules_memory, h->rules_instructions};
		if ((rc = mtd_rules_open(h->rules_dir, &lim, h->cloud, h->now, &e.rules, why, sizeof why)))
			return mtd_fail(h, rc, "%s", why);
	}
	if (dry_run ? sqlite3_exec(mtd_store_db(h->store), "BEGIN", NULL, NULL, NULL) != SQLITE_OK
		    : mtd_store_begin(h->store) != 0) {
		rc = mtd_fail(h, MTD_ESTORE, "%s", mtd_store_errmsg(h->store));
		goto out;
	}
	if (!dry_run && (rc = mtd_refresh_connectors(h)))
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
	d = calloc(1, sizeof *d);
	if (!e.cstate || !d) {
		rc = mtd_fail(h, MTD_ENOMEM, "out of memory");
		goto out;
	}
	for (size_t i = 0; i < e.nconns; i++)
		e.cstate[i] = mtd_conn_state_at(&e.conns[i], h->now);
	if (!(st = mtd_store_stmt(h->store, SQL_EVAL_SCAN))) {
		rc = mtd_fail(h, MTD_ESTORE, "%s", mtd_store_errmsg(h->store));
		goto out;
	}
	if (h->progress) {
		sqlite3_stmt *cnt;
		if (sqlite3_prepare_v2(mtd_store_db(h->store), "SELECT max(id) FROM devices", -1, &cnt,
				       NULL) == SQLITE_OK) {
			if (sqlite3_step(cnt) == SQLITE_ROW)
				total = (uint64_t)sqlite3_column_int64(cnt, 0);
			sqlite3_finalize(cnt);
		}
	}
	while ((step = sqlite3_step(st)) == SQLITE_ROW) {
		int64_t id = sqlite3_column_int64(st, 0);
		if (have && id != d->id) {
			if ((rc = decide(&e, d, &ro)))
				break;
			if (h->progress && (ro.evaluated & 4095) == 0)
				h->progress(h->progress_ud, "evaluate", (uint64_t)d->id, total, ro.evaluated);
			devrow_clear(d, e.nconns);
			have = 0;
		}
		if (!have) {
			if ((rc = read_device(st, d)))
				break;
			have = 1;
		}
		if ((rc = read_report(&e, st, d)))
			break;
	}
	if (!rc && step != SQLITE_DONE && step != SQLITE_ROW)
		rc = mtd_fail(h, MTD_ESTORE, "scanning devices: %s", mtd_store_errmsg(h->store));
	if (!rc && have)
		rc = decide(&e, d, &ro);
	if (!rc && h->progress)
		h->progress(h->progress_ud, "evaluate", total, total, ro.evaluated);
	sqlite3_reset(st);
	if (!rc && !dry_run) {
		char detail[128];
		snprintf(detail, sizeof detail, "{\"evaluated\":%llu,\"changed\":%llu}",
			 (unsigned long long)ro.evaluated, (unsigned long long)ro.changed);
		if (mtd_store_audit(h->store, h->now, "evaluate", NULL, NULL, detail) ||
		    mtd_store_commit(h->store))
			rc = mtd_fail(h, MTD_ESTORE, "%s", mtd_store_errmsg(h->store));
	}
out:
	if (rc || dry_run)
		mtd_store_rollback(h->store);
	if (d)
		devrow_free(d);
	free(d);
	free(e.vb.p);
	free(e.rb.p);
	free(e.resb.p);
	free(e.cstate);
	free(e.conns);
	free_sets(&e);
	mtd_rules_close(e.rules);
	if (!rc) {
		if (evaluated)
			*evaluated = ro.evaluated;
		if (changed)
			*changed = ro.changed;
	}
	return rc;
}

int mtd_report(mtd_t *h, const char *device, mtd_decision_fn fn, void *ud)
{
	sqlite3_stmt *st;
	int rc = mtd_need_store(h), step, found = 0;

	if (rc)
		return rc;
	if (!(st = mtd_store_stmt(h->store, SQL_REPORT_SCAN)))
		return mtd_fail(h, MTD_ESTORE, "%s", mtd_store_errmsg(h->store));
	if (device)
		sqlite3_bind_text(st, 1, device, -1, SQLITE_STATIC);
	while (!rc && (step = sqlite3_step(st)) == SQLITE_ROW) {
		decision dd = {0};
		shown s;
		dd.present = sqlite3_column_type(st, 3) != SQLITE_NULL;
		if (dd.present) {
			dd.state = sqlite3_column_int(st, 3);
			dd.level = sqlite3_column_int(st, 4);
			dd.access = sqlite3_column_int(st, 5);
			dd.app = sqlite3_column_int(st, 6);
			dd.vendors = (char *)sqlite3_column_text(st, 7);
			dd.reasons = (char *)sqlite3_column_text(st, 8);
			dd.evaluated_at = sqlite3_column_int64(st, 9);
			dd.resources = (char *)sqlite3_column_text(st, 10);
		}
		show(&s, (const char *)sqlite3_column_text(st, 0), sqlite3_column_int(st, 1),
		     sqlite3_column_int(st, 2), &dd);
		rc = fn(ud, &s.info);
		unshow(&s);
		found = 1;
	}
	sqlite3_reset(st);
	if (!rc && device && !found)
		return mtd_fail(h, MTD_EUSAGE, "unknown device '%s'", device);
	return rc;
}
