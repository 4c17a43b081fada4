/* rules_test: 'mtdgate rules check' (load, validate, exercise) and
 * 'mtdgate rules test' (example devices with expected decisions, written
 * next to the rules in tests.lua). See rules/README.md for the format. */
#include <lauxlib.h>
#include <lua.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "codec.h"
#include "mtd_int.h"
#include "rules.h"
#include "store.h"

#define MAXV 16
#define MAXA 64
#define MAXT 64

static void say(mtd_check_fn fn, void *ud, int ok, const char *fmt, ...)
{
	char line[1500];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(line, sizeof line, fmt, ap);
	va_end(ap);
	if (fn)
		fn(ud, ok, line);
}

static int open_rules(mtd_t *h, const char *dir, mtd_rules **r, mtd_check_fn fn, void *ud)
{
	mtd_rules_limits lim = {h->rules_memory, h->rules_instructions, h->rules_cpu_ms,
					h->rules_eval_cpu_ms};
	char why[2048];
	int rc;
	if ((rc = mtd_check_trusted(h, dir, "rules", ".lua"))) {
		say(fn, ud, 0, "%s", mtd_errmsg(h));
		return rc;
	}
	rc = mtd_rules_open(dir, &lim, h->cloud[0] ? h->cloud : "commercial", h->now, r, why,
				sizeof why);
	if (rc) {
		say(fn, ud, 0, "%s", why);
		return mtd_fail(h, rc, "%s", why);
	}
	return 0;
}

/* ---- groups.lua against the store's devices ---- */

#define MAX_GROUP_WARNINGS 20

typedef struct gname {
	char *name;
	int64_t devices; /* devices in the group */
	int64_t alone;   /* of them, devices none of whose groups groups.lua names */
} gname;

typedef struct gscan {
	mtd_rules *r;
	gname *v;
	size_t n;
	int64_t unnamed, unnamed_sets; /* devices with groups, none named; their sets */
} gscan;

static int named(const mtd_rules *r, const char *name, size_t len)
{
	const char *g;
	for (size_t i = 0; (g = mtd_rules_group(r, i, NULL)); i++)
		if (strlen(g) == len && !memcmp(g, name, len))
			return 1;
	return 0;
}

/* Edit distance of a and b ignoring case, capped: the cap when above it. */
static size_t distance(const char *a, const char *b, size_t cap)
{
	size_t la = strlen(a), lb = strlen(b), row[65];
	if (la > 64 || lb > 64)
		return cap + 1;
	for (size_t j = 0; j <= lb; j++)
		row[j] = j;
	for (size_t i = 1; i <= la; i++) {
		size_t diag = row[0], best;
		row[0] = best = i;
		for (size_t j = 1; j <= lb; j++) {
			size_t up = row[j];
			int same = (a[i - 1] | 0x20) == (b[j - 1] | 0x20);
			size_t v = diag + !same;
			if (row[j - 1] + 1 < v)
				v = row[j - 1] + 1;
			if (up + 1 < v)
				v = up + 1;
			row[j] = v;
			diag = up;
			if (v < best)
				best = v;
		}
		if (best > cap)
			return cap + 1;
	}
	return row[lb];
}

/* A name of the other list that name is probably a typo of: NULL if none. */
static const char *near_name(const char *name, const char *const *cand, size_t n)
{
	size_t len = strlen(name), best = 3;
	const char *hit = NULL;
	for (size_t i = 0; i < n; i++) {
		size_t d = distance(name, cand[i], 2);
		if (len >= 3 && d < best && strcmp(name, cand[i])) {
			best = d;
			hit = cand[i];
		}
	}
	return hit;
}

static int on_groupset(void *ud, const char *key, int64_t n)
{
	gscan *g = ud;
	int any = 0;
	if (!*key)
		return 0; /* no group: default, as meant */
	for (const char *p = key; *p;) {
		size_t l = strcspn(p, "\n");
		any |= named(g->r, p, l);
		p += l + (p[l] == '\n');
	}
	if (!any) {
		g->unnamed += n;
		g->unnamed_sets++;
	}
	for (const char *p = key; *p;) {
		size_t l = strcspn(p, "\n"), i;
		for (i = 0; i < g->n && (strlen(g->v[i].name) != l || memcmp(g->v[i].name, p, l)); i++)
			;
		if (i == g->n) {
			gname *v = realloc(g->v, (g->n + 1) * sizeof *v);
			if (!v)
				return MTD_ENOMEM;
			g->v = v;
			if (!(v[g->n].name = strndup(p, l)))
				return MTD_ENOMEM;
			v[g->n].devices = v[g->n].alone = 0;
			g->n++;
		}
		g->v[i].devices += n;
		if (!any)
			g->v[i].alone += n;
		p += l + (p[l] == '\n');
	}
	return 0;
}

static int by_devices(const void *a, const void *b)
{
	const gname *x = a, *y = b;
	return x->devices < y->devices ? 1 : x->devices > y->devices ? -1 : strcmp(x->name, y->name);
}

/* Warnings (ok 2) about groups.lua's groups that no device of the store is
 * in, and the store's groups that groups.lua does not name where that
 * matters: devices get default because none of their groups is named, or
 * the name is a near miss of one that is (a typo in groups.lua). Without a
 * store, says so. Changes nothing; 0 or MTD_ENOMEM. */
static int check_groups(mtd_t *h, mtd_rules *r, mtd_check_fn fn, void *ud)
{
	gscan g = {r, NULL, 0, 0, 0};
	const char **store_names = NULL, **rule_names = NULL, *gn;
	size_t nrule = 0, warned = 0, more = 0;
	struct stat sb;
	char path[4200];
	int rc;

	snprintf(path, sizeof path, "%s/groups.lua", mtd_rules_dir(r));
	if (stat(h->db_path, &sb) != 0) {
		say(fn, ud, 1, "no store at %s: groups.lua not compared with the devices", h->db_path);
		return 0;
	}
	if ((rc = mtd_need_store_readonly(h)) ||
	    (rc = mtd_store_groupset_devices(h->store, on_groupset, &g))) {
		if (rc == MTD_ENOMEM)
			goto out;
		say(fn, ud, 2, "groups.lua not compared with the devices of %s: %s", h->db_path,
		    h->store ? mtd_store_errmsg(h->store) : mtd_errmsg(h));
		rc = 0;
		goto out;
	}
	while (mtd_rules_group(r, nrule, NULL))
		nrule++;
	store_names = malloc((g.n + 1) * sizeof *store_names);
	rule_names = malloc((nrule + 1) * sizeof *rule_names);
	if (!store_names || !rule_names) {
		rc = MTD_ENOMEM;
		goto out;
	}
	if (g.n) /* qsort of NULL, 0 is undefined */
		qsort(g.v, g.n, sizeof *g.v, by_devices);
	for (size_t i = 0; i < g.n; i++)
		store_names[i] = g.v[i].name;
	for (size_t i = 0; i < nrule; i++)
		rule_names[i] = mtd_rules_group(r, i, NULL);
	for (size_t i = 0; (gn = mtd_rules_group(r, i, NULL)); i++) {
		size_t k;
		int line;
		const char *near;
		for (k = 0; k < g.n && strcmp(g.v[k].name, gn); k++)
			;
		if (!strcmp(gn, "default") || k < g.n)
			continue;
		if (warned++ >= MAX_GROUP_WARNINGS) {
			more++;
			continue;
		}
		mtd_rules_group(r, i, &line);
		near = near_name(gn, store_names, g.n);
		say(fn, ud, 2, "%s:%d: group '%s': no device in the store is in it%s%s%s", path, line,
		    gn, near ? " (did you mean '" : "", near ? near : "", near ? "'?)" : "");
	}
	for (size_t k = 0; k < g.n; k++) {
		const char *near;
		if (named(r, g.v[k].name, strlen(g.v[k].name)))
			continue;
		near = near_name(g.v[k].name, rule_names, nrule);
		if (!g.v[k].alone && !near)
			continue;
		if (warned++ >= MAX_GROUP_WARNINGS) {
			more++;
			continue;
		}
		say(fn, ud, 2, "%lld device%s in group '%s', which %s has no entry for%s%s%s%s",
		    (long long)g.v[k].devices, g.v[k].devices == 1 ? " is" : "s are", g.v[k].name, path,
		    g.v[k].alone ? "; those in no named group get default" : "",
		    near ? " (did you mean '" : "", near ? near : "", near ? "'?)" : "");
	}
	if (more)
		say(fn, ud, 2, "%zu more warnings about groups", more);
	if (g.unnamed)
		say(fn, ud, 2, "%lld device%s (%lld group set%s) in groups, none of which %s names: "
		    "they get default", (long long)g.unnamed, g.unnamed == 1 ? "" : "s",
		    (long long)g.unnamed_sets, g.unnamed_sets == 1 ? "" : "s", path);
	else if (!warned)
		say(fn, ud, 1, "%s: its groups match the groups of the devices in %s", path,
		    h->db_path);
out:
	for (size_t i = 0; i < g.n; i++)
		free(g.v[i].name);
	free(g.v);
	free(store_names);
	free(rule_names);
	return rc;
}

/* The example devices' details: none at all; every field set, with an
 * inventory of ordinary and risky apps and a previous decision; apps that
 * carry only their id. So a rule that fails on a field some devices lack
 * (or on the inventory path, for rules that ask for apps) fails here. */
static const mtd_app_view example_apps[] = {
	{"com.example.mail", "4.2.1", "4.2", "Mail", 52428800, 1048576, 0, 1, 0, 1, 1, 1},
	{"com.example.sideloaded", "0.9", "0.9", "Sideloaded", 1024, 0, 1, 0, 1, 0, 0, 0},
	{"com.example.unknown", NULL, NULL, NULL, -1, -1, -1, -1, -1, -1, -1, -1},
};
static const struct example {
	const char *what, *os_version, *user;
	size_t first_app, napps;
	int prev_state, prev_hours;
} examples[] = {
	{"no details", NULL, NULL, 0, 0, -1, 0},
	{"every field, 2 apps", "17.4.1", "user@example.com", 0, 2, MTD_ST_NONCOMPLIANT, 2},
	{"an app with only its id", NULL, NULL, 2, 1, MTD_ST_COMPLIANT, 30 * 24},
};

/* Exercise: every platform, enrolled or not, with no vendor, a vendor at
 * each level, a vendor that has not reported, each with the examples'
 * details, so a rule that fails at run time (a typo in a function body, a
 * field some devices lack) is caught before it meets the fleet. */
int mtd_rules_check(mtd_t *h, const char *dir, mtd_check_fn fn, void *ud)
{
	mtd_rules *r;
	unsigned runs = 0;
	int rc;

	if (!dir)
		dir = h->rules_dir;
	if ((rc = open_rules(h, dir, &r, fn, ud)))
		return rc;
	say(fn, ud, 1, "%s: groups.lua and policy.lua load and validate", dir);
	for (int p = 0; p < MTD_NPLAT && !rc; p++)
		for (int en = 0; en < 2 && !rc; en++)
			for (int lv = -1; lv <= MTD_LEVEL_HIGH && !rc; lv++)
				for (size_t x = 0; x < sizeof examples / sizeof *examples && !rc; x++) {
				const struct example *ex = &examples[x];
				mtd_vreport v[2] = {{"generic", lv < 0 ? 0 : lv, 0, -1, NULL, 0, 0, 0, 0},
						    {"defender", 0, 0, -1, NULL, 0, 1, 1, 0}};
				static const char *const groups[] = {"Executives"};
				mtd_eval_in in = {0};
				mtd_eval_out out;
				char why[2048];
				in.id = "rules-check";
				in.platform = p;
				in.enrolled = en;
				in.corporate = 1;
				in.groups = groups;
				in.ngroups = lv == MTD_LEVEL_LOW;
				/* the policy cache key: negative, never a stored group set */
				in.groupset = -1 - (int64_t)in.ngroups;
				in.vendors = in.app_vendors = v;
				in.nvendors = in.napp_vendors = lv == MTD_LEVEL_NONE ? 0 : lv == MTD_LEVEL_HIGH ? 2 : 1;
				in.os_version = ex->os_version;
				in.user = ex->user;
				in.apps = &example_apps[ex->first_app];
				in.napps = ex->napps;
				in.prev_state = ex->prev_state;
				in.prev_since = h->now - (int64_t)ex->prev_hours * 3600;
				if ((rc = mtd_rules_eval(r, &in, &out, why, sizeof why))) {
					say(fn, ud, 0, "exercising the rules (%s, %s, %s): %s",
					    mtd_platform_name(p), en ? "enrolled" : "unenrolled", ex->what, why);
					rc = mtd_fail(h, rc, "%s", why);
				}
				runs++;
			}
	if (!rc)
		say(fn, ud, 1, "%s: compliance and app_protection ran on %u example devices%s", dir,
		    runs, mtd_rules_wants_inventory(r) ? ", with their app inventories" : "");
	if (!rc && (rc = check_groups(h, r, fn, ud)))
		rc = mtd_fail(h, rc, "out of memory");
	mtd_rules_close(r);
	return rc;
}

/* ---- tests.lua ---- */

typedef struct tcase {
	mtd_eval_in in;
	mtd_vreport v[MAXV], av[MAXV];
	mtd_app_view apps[MAXA];
	mtd_task_view tasks[MAXT];
	size_t ntasks;
	const char *groups[MTD_MAX_GROUPS];
	char name[200];
} tcase;

/* A string field of the table on top (borrowed: the tests table, held in
 * the registry, keeps it alive). */
static const char *field(lua_State *L, const char *k)
{
	const char *v;
	lua_getfield(L, -1, k);
	v = lua_type(L, -1) == LUA_TSTRING ? lua_tostring(L, -1) : NULL;
	lua_pop(L, 1);
	return v;
}

/* The keys tests.lua may use: anything else is an error, so that a typo
 * cannot make a case pass without checking what it meant to. */
static const char *const case_keys[] = {"name", "device", "expect", NULL};
static const char *const device_keys[] = {"id", "platform", "management", "ownership",
					  "os_version", "user", "groups", "vendors",
					  "app_vendors", "previous", "apps", "tasks", NULL};
static const char *const task_keys[] = {"vendor", "id", "kind", "cve", "software", "version",
					"severity", "days_ago", NULL};
static const char *const vendor_keys[] = {"level", "os_supported", "block_missing_data",
					  "block_unsupported_os", NULL};
static const char *const previous_keys[] = {"state", "hours_ago", NULL};
static const char *const app_keys[] = {"app_id", "version", "short_version", "name",
				       "bundle_size", "dynamic_size", "adhoc_signed", "app_store",
				       "beta", "vpp", "validated", "managed", NULL};
static const char *const expect_keys[] = {"state", "level", "access", "app_protection",
					  "reasons", NULL};

/* 0 when every key of the table on top is in known, else -1 with err naming
 * the first other one as where.KEY. */
static int known_keys(lua_State *L, const char *const *known, const char *where, char *err,
		      size_t en)
{
	lua_pushnil(L);
	while (lua_next(L, -2)) { /* stack: ..., table, key, value */
		const char *k = lua_type(L, -2) == LUA_TSTRING ? lua_tostring(L, -2) : NULL;
		size_t i = 0;
		char list[300] = "";
		while (k && known[i] && strcmp(known[i], k))
			i++;
		if (k && known[i]) {
			lua_pop(L, 1);
			continue;
		}
		for (i = 0; known[i]; i++)
			snprintf(list + strlen(list), sizeof list - strlen(list), "%s%s", i ? ", " : "",
				 known[i]);
		if (k)
			mtd_err(err, en, "unknown key '%s%s%s' (known: %s)", where, where[0] ? "." : "", k,
				list);
		else
			mtd_err(err, en, "%s%sa key that is not a name (a %s; known: %s)", where,
				where[0] ? ": " : "", luaL_typename(L, -2), list);
		lua_pop(L, 2);
		return -1;
	}
	return 0;
}

/* The expect table on top: strings, and reasons a list of at most 8. */
static int check_expect(lua_State *L, char *err, size_t en)
{
	int bad = 0;
	for (int i = 0; expect_keys[i] && !bad; i++) {
		int t = lua_getfield(L, -1, expect_keys[i]);
		if (strcmp(expect_keys[i], "reasons")) {
			if ((bad = t != LUA_TNIL && t != LUA_TSTRING))
				mtd_err(err, en, "expect.%s: must be a string, not a %s", expect_keys[i],
					lua_typename(L, t));
		} else if (t != LUA_TNIL) {
			lua_Integer n = t == LUA_TTABLE ? (lua_Integer)lua_rawlen(L, -1) : -1, cnt = 0;
			if (t == LUA_TTABLE) {
				lua_pushnil(L);
				while (lua_next(L, -2)) { /* stack: ..., reasons, key, value */
					cnt++;
					bad |= lua_type(L, -1) != LUA_TSTRING;
					lua_pop(L, 1);
				}
			}
			if (bad || cnt != n || n > 8) {
				bad = 1;
				mtd_err(err, en, "expect.reasons: must be a list of up to 8 strings");
			}
		}
		lua_pop(L, 1);
	}
	return bad ? -1 : 0;
}

static int level_of(const char *s)
{
	return s ? mtd_level_from_name(s, strlen(s)) : -1;
}

static int cmp_vreport(const void *a, const void *b)
{
	return strcmp(((const mtd_vreport *)a)->vendor, ((const mtd_vreport *)b)->vendor);
}

/* device.vendors / app_vendors: { name = "high" | "missing" | {level=,...} } */
static int read_vendors(lua_State *L, const char *k, mtd_vreport *v, size_t *n, char *err,
			size_t en)
{
	*n = 0;
	if (lua_getfield(L, -1, k) == LUA_TNIL) {
		lua_pop(L, 1);
		return 0;
	}
	if (!lua_istable(L, -1)) {
		lua_pop(L, 1);
		mtd_err(err, en, "device.%s must be a table { vendor = level }", k);
		return -1;
	}
	lua_pushnil(L);
	while (lua_next(L, -2)) { /* stack: ..., vendors, name, value */
		mtd_vreport *x = &v[*n];
		const char *lv = NULL;
		memset(x, 0, sizeof *x);
		x->os_supported = -1;
		if (*n >= MAXV || lua_type(L, -2) != LUA_TSTRING) {
			lua_pop(L, 3);
			mtd_err(err, en, "device.%s: at most %d vendors, keyed by name", k, MAXV);
			return -1;
		}
		x->vendor = lua_tostring(L, -2);
		if (lua_type(L, -1) == LUA_TSTRING) {
			lv = lua_tostring(L, -1);
		} else if (lua_istable(L, -1)) {
			char where[120];
			snprintf(where, sizeof where, "device.%s.%.64s", k, x->vendor);
			if (known_keys(L, vendor_keys, where, err, en)) {
				lua_pop(L, 3);
				return -1;
			}
			lv = field(L, "level");
			lua_getfield(L, -1, "os_supported");
			x->os_supported = lua_isnil(L, -1) ? -1 : lua_toboolean(L, -1);
			lua_getfield(L, -2, "block_missing_data");
			x->block_missing_data = lua_toboolean(L, -1);
			lua_getfield(L, -3, "block_unsupported_os");
			x->block_unsupported_os = lua_toboolean(L, -1);
			lua_pop(L, 3);
			if (!lv)
				lv = "missing";
		}
		if (!lv || (strcmp(lv, "missing") && level_of(lv) < 0)) {
			mtd_err(err, en, "device.%s.%s: '%s' is not a level or \"missing\"", k, x->vendor,
				    lv ? lv : "?");
			lua_pop(L, 3);
			return -1;
		}
		x->level = strcmp(lv, "missing") ? level_of(lv) : 0;
		(*n)++;
		lua_pop(L, 1);
	}
	lua_pop(L, 1);
	qsort(v, *n, sizeof *v, cmp_vreport);
	return 0;
}

/* device.tasks of a case: the ones its tests.lua entry gives. */
static int case_tasks(void *ud, const mtd_eval_in *in, const mtd_task_view **out, size_t *n)
{
	const tcase *t = ud;
	(void)in;
	*out = t->tasks;
	*n = t->ntasks;
	return 0;
}

/* device.tasks: { {vendor =, id =, kind =, cve =, software =, version =,
 * severity =, days_ago =}, ... } (kind defaults to vulnerability, vendor to
 * defender; first_seen is days_ago before now). */
static int read_tasks(lua_State *L, tcase *t, int64_t now, char *err, size_t en)
{
	if (lua_getfield(L, -1, "tasks") != LUA_TTABLE) {
		lua_pop(L, 1);
		return 0;
	}
	for (lua_Integer i = 1; t->ntasks < MAXT; i++) {
		mtd_task_view *k = &t->tasks[t->ntasks];
		const char *sev;
		if (lua_rawgeti(L, -1, i) != LUA_TTABLE) {
			lua_pop(L, 1);
			break;
		}
		t->ntasks++;
		if (known_keys(L, task_keys, "device.tasks[]", err, en)) {
			lua_pop(L, 2);
			return -1;
		}
		k->vendor = field(L, "vendor");
		k->vendor = k->vendor ? k->vendor : "defender";
		k->id = field(L, "id");
		k->kind = field(L, "kind");
		k->kind = k->kind ? k->kind : "vulnerability";
		k->cve = field(L, "cve");
		k->software = field(L, "software");
		k->version = field(L, "version");
		sev = field(L, "severity");
		k->severity = sev;
		lua_getfield(L, -1, "days_ago");
		k->first_seen = now - (int64_t)(lua_tonumber(L, -1) * 86400);
		lua_pop(L, 2);
		if (!k->id || !sev ||
		    (strcmp(sev, "low") && strcmp(sev, "medium") && strcmp(sev, "high") &&
		     strcmp(sev, "critical"))) {
			lua_pop(L, 1);
			mtd_err(err, en, "device.tasks[%lld]: needs an id and a severity (low, medium, "
				    "high or critical)", (long long)i);
			return -1;
		}
	}
	lua_pop(L, 1); /* tasks */
	t->in.tasks = case_tasks;
	t->in.tasks_ud = t;
	return 0;
}

static int read_case(lua_State *L, tcase *t, int64_t index, int64_t now, char *err, size_t en)
{
	const char *s;
	memset(t, 0, sizeof *t);
	s = field(L, "name");
	snprintf(t->name, sizeof t->name, "%s", s ? s : "(unnamed)");
	if (known_keys(L, case_keys, "", err, en))
		return -1;
	if (lua_getfield(L, -1, "expect") != LUA_TTABLE) {
		lua_pop(L, 1);
		mtd_err(err, en, "no expect table: the case would check nothing");
		return -1;
	}
	if (known_keys(L, expect_keys, "expect", err, en) || check_expect(L, err, en)) {
		lua_pop(L, 1);
		return -1;
	}
	lua_pop(L, 1);
	if (lua_getfield(L, -1, "device") != LUA_TTABLE) {
		lua_pop(L, 1);
		mtd_err(err, en, "no device table");
		return -1;
	}
	if (known_keys(L, device_keys, "device", err, en)) {
		lua_pop(L, 1);
		return -1;
	}
	t->in.id = (s = field(L, "id")) ? s : "test-device";
	s = field(L, "platform");
	t->in.platform = s ? mtd_platform_from_name(s, strlen(s)) : -1;
	if (t->in.platform < 0) {
		lua_pop(L, 1);
		mtd_err(err, en, "device.platform: '%s' is not android, ios, windows or macos",
			    s ? s : "(missing)");
		return -1;
	}
	t->in.enrolled = !((s = field(L, "management")) && !strcmp(s, "unenrolled"));
	t->in.corporate = !((s = field(L, "ownership")) && !strcmp(s, "personal"));
	t->in.os_version = field(L, "os_version");
	t->in.user = field(L, "user");
	t->in.prev_state = -1;
	if (lua_getfield(L, -1, "groups") == LUA_TTABLE) {
		for (lua_Integer i = 1; t->in.ngroups < MTD_MAX_GROUPS &&
					lua_rawgeti(L, -1, i) == LUA_TSTRING; i++) {
			t->groups[t->in.ngroups++] = lua_tostring(L, -1);
			lua_pop(L, 1);
		}
		lua_pop(L, 1);
	}
	lua_pop(L, 1);
	t->in.groups = t->groups;
	/* A policy cache key of its own per case: built from its groups. */
	t->in.groupset = -1000 - index;
	if (read_vendors(L, "vendors", t->v, &t->in.nvendors, err, en) ||
	    read_vendors(L, "app_vendors", t->av, &t->in.napp_vendors, err, en)) {
		lua_pop(L, 1);
		return -1;
	}
	t->in.vendors = t->v;
	t->in.app_vendors = t->av;
	if (lua_getfield(L, -1, "previous") == LUA_TTABLE) {
		lua_Number ago;
		if (known_keys(L, previous_keys, "device.previous", err, en)) {
			lua_pop(L, 2);
			return -1;
		}
		s = field(L, "state");
		t->in.prev_state = mtd_state_from_name(s);
		lua_getfield(L, -1, "hours_ago");
		ago = lua_tonumber(L, -1);
		lua_pop(L, 1);
		t->in.prev_since = now - (int64_t)(ago * 3600);
		if (t->in.prev_state < 0) {
			lua_pop(L, 2);
			mtd_err(err, en, "device.previous.state: '%s' is not a state", s ? s : "?");
			return -1;
		}
	}
	lua_pop(L, 1);
	if (lua_getfield(L, -1, "apps") == LUA_TTABLE) {
		for (lua_Integer i = 1; t->in.napps < MAXA && lua_rawgeti(L, -1, i) == LUA_TTABLE; i++) {
			mtd_app_view *a = &t->apps[t->in.napps++];
			int *fl[] = {&a->adhoc_signed, &a->app_store, &a->beta, &a->vpp, &a->validated,
				     &a->managed};
			static const char *const fn[] = {"adhoc_signed", "app_store", "beta", "vpp",
							 "validated", "managed"};
			char where[40];
			snprintf(where, sizeof where, "device.apps[%lld]", (long long)i);
			if (known_keys(L, app_keys, where, err, en)) {
				lua_pop(L, 4);
				return -1;
			}
			a->app_id = field(L, "app_id");
			a->version = field(L, "version");
			a->short_version = field(L, "short_version");
			a->name = field(L, "name");
			a->bundle_size = a->dynamic_size = -1;
			for (int k = 0; k < 2; k++) {
				int isnum;
				lua_Integer v;
				lua_getfield(L, -1, k ? "dynamic_size" : "bundle_size");
				v = lua_tointegerx(L, -1, &isnum);
				if (isnum && v >= 0)
					*(k ? &a->dynamic_size : &a->bundle_size) = v;
				lua_pop(L, 1);
			}
			for (int k = 0; k < 6; k++) {
				lua_getfield(L, -1, fn[k]);
				*fl[k] = lua_isnil(L, -1) ? -1 : lua_toboolean(L, -1);
				lua_pop(L, 1);
			}
			lua_pop(L, 1);
		}
		lua_pop(L, 1);
	}
	lua_pop(L, 1);
	if (read_tasks(L, t, now, err, en)) {
		lua_pop(L, 1);
		return -1;
	}
	lua_pop(L, 1); /* device */
	t->in.apps = t->apps;
	return 0;
}

/* Compare one expectation; returns 1 when it holds. */
static int expect_str(mtd_check_fn fn, void *ud, const char *name, const char *what,
		      const char *want, const char *got)
{
	if (!want || !strcmp(want, got))
		return 1;
	say(fn, ud, 0, "%s: %s is %s, expected %s", name, what, got, want);
	return 0;
}

int mtd_rules_test(mtd_t *h, const char *dir, mtd_check_fn fn, void *ud, unsigned *passed,
		   unsigned *failed)
{
	mtd_rules *r;
	lua_State *L;
	char path[4096], why[2048];
	int rc, ref;
	tcase *t = NULL;

	*passed = *failed = 0;
	if (!dir)
		dir = h->rules_dir;
	if ((rc = open_rules(h, dir, &r, fn, ud)))
		return rc;
	L = mtd_rules_lua(r);
	snprintf(path, sizeof path, "%s/tests.lua", dir);
	if (luaL_loadfilex(L, path, "t") != LUA_OK) {
		const char *m = lua_tostring(L, -1);
		rc = mtd_fail(h, MTD_ENOTFOUND, "%s%s%s", strstr(m ? m : "", path) ? "" : path,
			      strstr(m ? m : "", path) ? "" : ": ", m ? m : "cannot load");
		say(fn, ud, 0, "%s", h->err);
		goto out;
	}
	if ((rc = mtd_rules_pcall(r, path, 0, 1, why, sizeof why)) || !lua_istable(L, -1)) {
		rc = mtd_fail(h, MTD_ERULES, "%s", rc ? why : "tests.lua must return a list of cases");
		say(fn, ud, 0, "%s: %s", path, h->err);
		goto out;
	}
	ref = luaL_ref(L, LUA_REGISTRYINDEX); /* keeps the cases' strings alive */
	t = malloc(sizeof *t);
	if (!t) {
		rc = mtd_fail(h, MTD_ENOMEM, "out of memory");
		goto out;
	}
	for (lua_Integer i = 1;; i++) {
		mtd_eval_out o;
		const char *want_state, *want_level, *want_access, *want_app;
		int ok = 1;
		lua_rawgeti(L, LUA_REGISTRYINDEX, ref);
		if (lua_rawgeti(L, -1, i) != LUA_TTABLE) {
			lua_settop(L, 0);
			break;
		}
		if (read_case(L, t, i, h->now, why, sizeof why)) {
			say(fn, ud, 0, "%s case %lld '%s': %s", path, (long long)i, t->name, why);
			(*failed)++;
			lua_settop(L, 0);
			continue;
		}
		lua_getfield(L, -1, "expect");
		want_state = field(L, "state");
		want_level = field(L, "level");
		want_access = field(L, "access");
		want_app = field(L, "app_protection");
		/* expected reason fragments, copied out before eval resets the stack */
		{
			char frags[8][200];
			int nf = 0;
			if (lua_getfield(L, -1, "reasons") == LUA_TTABLE)
				for (lua_Integer k = 1; nf < 8 && lua_rawgeti(L, -1, k) == LUA_TSTRING; k++) {
					snprintf(frags[nf++], sizeof frags[0], "%s", lua_tostring(L, -1));
					lua_pop(L, 1);
				}
			if ((rc = mtd_rules_eval(r, &t->in, &o, why, sizeof why))) {
				say(fn, ud, 0, "%s: the rules failed: %s", t->name, why);
				(*failed)++;
				rc = 0;
				lua_settop(L, 0);
				continue;
			}
			ok &= expect_str(fn, ud, t->name, "state", want_state, mtd_state_name(o.state));
			ok &= expect_str(fn, ud, t->name, "level", want_level, mtd_level_name(o.level));
			ok &= expect_str(fn, ud, t->name, "access", want_access,
					 mtd_access_blocked(t->in.enrolled, o.state, o.app_action) ? "block"
												  : "allow");
			ok &= expect_str(fn, ud, t->name, "app_protection", want_app,
					 mtd_app_action_name(o.app_action));
			for (int f = 0; f < nf; f++) {
				int found = 0;
				for (size_t k = 0; k < o.nreasons && !found; k++)
					found = strstr(o.reasons[k], frags[f]) != NULL;
				if (!found) {
					say(fn, ud, 0, "%s: no reason contains \"%s\"%s%s", t->name, frags[f],
					    o.nreasons ? "; first reason: " : "", o.nreasons ? o.reasons[0] : "");
					ok = 0;
				}
			}
		}
		if (ok)
			say(fn, ud, 1, "%s", t->name);
		if (ok)
			(*passed)++;
		else
			(*failed)++;
		lua_settop(L, 0);
	}
	if (*passed + *failed == 0) {
		rc = mtd_fail(h, MTD_ERULES, "%s: no test cases", path);
		say(fn, ud, 0, "%s", h->err);
	} else if (*failed) {
		rc = mtd_fail(h, MTD_ERULES, "%u of %u rule tests failed", *failed, *passed + *failed);
	}
out:
	free(t);
	mtd_rules_close(r);
	return rc;
}
