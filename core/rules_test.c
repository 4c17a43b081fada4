/* rules_test: 'mtdgate rules check' (load, validate, exercise) and
 * 'mtdgate rules test' (example devices with expected decisions, written
 * next to the rules in tests.lua). See rules/README.md for the format. */
#include <lauxlib.h>
#include <lua.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "codec.h"
#include "mtd_int.h"
#include "rules.h"

#define MAXV 16
#define MAXA 64

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

/* Exercise: every platform, enrolled or not, with no vendor, a vendor at
 * each level, a vendor that has not reported, so a rule that fails at run
 * time (a typo in a function body) is caught before it meets the fleet. */
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
			for (int lv = -1; lv <= MTD_LEVEL_HIGH && !rc; lv++) {
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
				in.prev_state = -1;
				if ((rc = mtd_rules_eval(r, &in, &out, why, sizeof why))) {
					say(fn, ud, 0, "exercising the rules (%s, %s): %s", mtd_platform_name(p),
					    en ? "enrolled" : "unenrolled", why);
					rc = mtd_fail(h, rc, "%s", why);
				}
				runs++;
			}
	if (!rc)
		say(fn, ud, 1, "%s: compliance and app_protection ran on %u example devices", dir, runs);
	mtd_rules_close(r);
	return rc;
}

/* ---- tests.lua ---- */

typedef struct tcase {
	mtd_eval_in in;
	mtd_vreport v[MAXV], av[MAXV];
	mtd_app_view apps[MAXA];
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

static int read_case(lua_State *L, tcase *t, int64_t index, int64_t now, char *err, size_t en)
{
	const char *s;
	memset(t, 0, sizeof *t);
	s = field(L, "name");
	snprintf(t->name, sizeof t->name, "%s", s ? s : "(unnamed)");
	if (lua_getfield(L, -1, "device") != LUA_TTABLE) {
		lua_pop(L, 1);
		mtd_err(err, en, "no device table");
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
			a->app_id = field(L, "app_id");
			a->version = field(L, "version");
			a->name = field(L, "name");
			a->bundle_size = a->dynamic_size = -1;
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
			say(fn, ud, 0, "%s case %lld: %s", path, (long long)i, why);
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
