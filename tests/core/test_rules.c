/* Unit tests of core/rules: the Lua sandbox (blocked functions, require,
 * bytecode, instruction and memory limits, undefined globals), groups.lua
 * validation and the strictest-group policy, the mtd.* helpers, what the
 * scripts receive, what they may return, and the decisions of the default
 * rules (rules/policy.lua, rules/groups.lua) for the domain rules R4-R8. */
#include "testutil.h"

#include <lauxlib.h>
#include <lua.h>
#include <msgpack.h>

#include "codec.h"
#include "mtdgate/mtdgate.h"
#include "mtdgate/sdk.h"
#include "rules.h"

#ifndef MTD_TEST_RULES_DIR
#error "MTD_TEST_RULES_DIR must name the default rules directory"
#endif

#define T0 INT64_C(1709251200)

/* ---- fixture: a fresh rules directory per test ---- */

typedef struct fx {
	char dir[256];
	char err[2048];
	mtd_rules *r;
} fx;

static int setup(void **state)
{
	fx *f = calloc(1, sizeof *f);
	if (!f)
		return -1;
	tu_mkdtemp(f->dir, "rules");
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	fx *f = *state;
	mtd_rules_close(f->r);
	tu_rmtree(f->dir);
	free(f);
	return 0;
}

static const char *const GROUPS_DEFAULT =
	"return {\n"
	"  default    = { max_level = \"medium\", app_max_level = \"low\", app_action = \"block\" },\n"
	"  Executives = { max_level = \"low\" },\n"
	"}\n";

/* A policy with `top` before the module and `body` at the start of
 * compliance, in a block of its own so that it may return (line numbers: top
 * is line 1, body starts on line 4). */
static char *policy_with(const char *top, const char *body)
{
	const char *fmt = "%s\n"
			  "local M = {}\n"
			  "function M.compliance(device, policy, ctx)\n"
			  "  do %s\n"
			  "  end\n"
			  "  return \"compliant\", \"none\", {}\n"
			  "end\n"
			  "function M.app_protection(device, policy, ctx) return \"none\" end\n"
			  "return M\n";
	size_t n = strlen(fmt) + strlen(top) + strlen(body) + 1;
	char *s = malloc(n);
	assert_non_null(s);
	snprintf(s, n, fmt, top, body);
	return s;
}

static void write_rules(fx *f, const char *groups, const char *policy)
{
	if (groups)
		tu_write_str(f->dir, "groups.lua", groups);
	if (policy)
		tu_write_str(f->dir, "policy.lua", policy);
}

static void write_policy_with(fx *f, const char *top, const char *body)
{
	char *p = policy_with(top, body);
	write_rules(f, GROUPS_DEFAULT, p);
	free(p);
}

static int open_rules(fx *f, const char *dir, size_t mem, uint64_t instr)
{
	mtd_rules_limits lim = {mem, instr, 0, 0};
	mtd_rules_close(f->r);
	f->r = NULL;
	f->err[0] = '\0';
	return mtd_rules_open(dir ? dir : f->dir, mem || instr ? &lim : NULL, "commercial", T0,
			      &f->r, f->err, sizeof f->err);
}

static void open_ok(fx *f, const char *dir, size_t mem, uint64_t instr)
{
	int rc = open_rules(f, dir, mem, instr);
	if (rc != 0)
		fail_msg("rules in %s refused (%d): %s", dir ? dir : f->dir, rc, f->err);
	assert_non_null(f->r);
}

/* The rules must be refused with MTD_ERULES and a message holding why. */
static void open_bad(fx *f, const char *why)
{
	int rc = open_rules(f, NULL, 0, 0);
	if (rc != MTD_ERULES)
		fail_msg("rules accepted or wrong code %d (expected MTD_ERULES: %s): %s", rc, why,
			 f->err);
	assert_null(f->r);
	assert_contains(f->err, why);
}

/* ---- devices ---- */

typedef struct dev {
	mtd_eval_in in;
	mtd_vreport v[8], a[8];
	const char *groups[8];
} dev;

static void dev_init(dev *d, const char *id, int platform, int enrolled)
{
	memset(d, 0, sizeof *d);
	d->in.id = id;
	d->in.platform = platform;
	d->in.corporate = 1;
	d->in.enrolled = enrolled;
	d->in.os_version = "14";
	d->in.user = "user@example.com";
	d->in.groups = d->groups;
	d->in.vendors = d->v;
	d->in.app_vendors = d->a;
}

/* A vendor in force; level NULL: it has not reported the device. */
static mtd_vreport *add_vendor(dev *d, int app, const char *vendor, const char *level)
{
	mtd_vreport *v = app ? &d->a[d->in.napp_vendors++] : &d->v[d->in.nvendors++];
	memset(v, 0, sizeof *v);
	v->vendor = vendor;
	v->level = level ? mtd_level_from_name(level, strlen(level)) : 0;
	v->at = level ? T0 - 60 : 0;
	v->os_supported = -1;
	return v;
}

static void set_groups(dev *d, int64_t groupset, int n, ...)
{
	va_list ap;
	va_start(ap, n);
	for (int i = 0; i < n; i++)
		d->groups[i] = va_arg(ap, const char *);
	va_end(ap);
	d->in.ngroups = (size_t)n;
	d->in.groupset = groupset;
}

static const char *joined(const mtd_eval_out *o)
{
	static char buf[8192];
	size_t k = 0;
	buf[0] = '\0';
	for (size_t i = 0; i < o->nreasons && k < sizeof buf; i++)
		k += (size_t)snprintf(buf + k, sizeof buf - k, "%s%s", i ? " | " : "", o->reasons[i]);
	return buf;
}

static void eval_ok(fx *f, const dev *d, mtd_eval_out *o)
{
	f->err[0] = '\0';
	int rc = mtd_rules_eval(f->r, &d->in, o, f->err, sizeof f->err);
	if (rc != 0)
		fail_msg("evaluation of %s failed (%d): %s", d->in.id, rc, f->err);
}

static void eval_bad(fx *f, const dev *d, const char *why)
{
	mtd_eval_out o;
	f->err[0] = '\0';
	int rc = mtd_rules_eval(f->r, &d->in, &o, f->err, sizeof f->err);
	if (rc != MTD_ERULES)
		fail_msg("evaluation of %s: got %d, expected MTD_ERULES (%s)", d->in.id, rc, why);
	assert_contains(f->err, why);
}

#define EXPECT(o, st, lvl, act)                                                                  \
	do {                                                                                     \
		if ((o)->state != (st) || (o)->level != (lvl) || (o)->app_action != (act))       \
			fail_msg("got %s/%s/%s, expected %s/%s/%s; reasons: %s",                 \
				 mtd_state_name((o)->state), mtd_level_name((o)->level),         \
				 mtd_app_action_name((o)->app_action), mtd_state_name(st),       \
				 mtd_level_name(lvl), mtd_app_action_name(act), joined(o));      \
	} while (0)

/* ---- loading ---- */

static void default_rules_load(void **state)
{
	fx *f = *state;
	dev d;
	mtd_eval_out o;

	open_ok(f, MTD_TEST_RULES_DIR, 0, 0);
	dev_init(&d, "dev-1", MTD_PLAT_IOS, 1);
	eval_ok(f, &d, &o);
	EXPECT(&o, MTD_ST_COMPLIANT, MTD_LEVEL_NONE, MTD_APP_NONE);
	/* a copy of them in another directory loads as well */
	{
		char *g = tu_read(MTD_TEST_RULES_DIR "/groups.lua", NULL);
		char *p = tu_read(MTD_TEST_RULES_DIR "/policy.lua", NULL);
		assert_non_null(g);
		assert_non_null(p);
		write_rules(f, g, p);
		free(g);
		free(p);
	}
	open_ok(f, NULL, 0, 0);
	/* a missing directory is an error naming the file */
	f->err[0] = '\0';
	assert_int_equal(open_rules(f, tu_path(f->dir, "nope"), 0, 0), MTD_ERULES);
	assert_contains(f->err, "groups.lua");
	assert_null(f->r);
}

/* ---- groups.lua ---- */

static const char *const POLICY_DUMP =
	"local function s(v) if v == nil then return 'nil' end return tostring(v) end\n"
	"local M = {}\n"
	"function M.compliance(device, policy, ctx)\n"
	"  return 'compliant', 'none', { s(policy.max_level), s(policy.app_max_level),\n"
	"    s(policy.app_action), s(policy.app_partner_priority), s(policy.from.max_level),\n"
	"    s(policy.from.app_max_level), s(policy.from.app_action) }\n"
	"end\n"
	"function M.app_protection(device, policy, ctx) return 'none' end\n"
	"return M\n";

static void expect_policy(fx *f, dev *d, const char *want)
{
	mtd_eval_out o;
	eval_ok(f, d, &o);
	assert_int_equal(o.nreasons, 7);
	if (strcmp(joined(&o), want))
		fail_msg("groups {%s%s%s%s%s}: policy %s, expected %s",
			 d->in.ngroups > 0 ? d->groups[0] : "", d->in.ngroups > 1 ? ", " : "",
			 d->in.ngroups > 1 ? d->groups[1] : "", d->in.ngroups > 2 ? ", " : "",
			 d->in.ngroups > 2 ? d->groups[2] : "", joined(&o), want);
}

static void strictest_group(void **state)
{
	fx *f = *state;
	dev d;

	write_rules(f,
		    "return {\n"
		    "  default     = { max_level = 'medium', app_max_level = 'low', app_action = 'block' },\n"
		    "  Executives  = { max_level = 'low' },\n"
		    "  Contractors = { max_level = 'high', app_max_level = 'medium', app_action = 'wipe' },\n"
		    "  Field       = { app_max_level = 'secured', app_action = 'warn',\n"
		    "                  app_partner_priority = 'defender' },\n"
		    "  Lab         = { max_level = 'secured', app_partner_priority = 'third_party' },\n"
		    "}\n",
		    POLICY_DUMP);
	open_ok(f, NULL, 0, 0);
	dev_init(&d, "dev-1", MTD_PLAT_ANDROID, 1);

	set_groups(&d, 1, 0);
	expect_policy(f, &d, "medium | low | block | nil | default | default | default");
	/* Executives sets max_level, inherits the rest from default */
	set_groups(&d, 2, 1, "Executives");
	expect_policy(f, &d, "low | low | block | nil | Executives | default | default");
	set_groups(&d, 3, 2, "Executives", "default");
	expect_policy(f, &d, "low | low | block | nil | Executives | default | default");
	/* a group may be laxer than default for its own members */
	set_groups(&d, 4, 1, "Contractors");
	expect_policy(f, &d, "high | medium | wipe | nil | Contractors | Contractors | Contractors");
	/* two custom groups: the lowest level, the hardest action */
	set_groups(&d, 5, 2, "Contractors", "Executives");
	expect_policy(f, &d, "low | low | wipe | nil | Executives | default | Contractors");
	set_groups(&d, 6, 2, "Field", "Lab");
	expect_policy(f, &d, "secured | secured | block | nil | Lab | Field | default");
	set_groups(&d, 7, 1, "Field");
	expect_policy(f, &d, "medium | secured | warn | defender | default | Field | Field");
	set_groups(&d, 8, 1, "Lab");
	expect_policy(f, &d, "secured | low | block | third_party | Lab | default | default");
	/* unknown groups fall back to default, and do not dilute known ones */
	set_groups(&d, 9, 2, "Nobody", "Unknown");
	expect_policy(f, &d, "medium | low | block | nil | default | default | default");
	set_groups(&d, 10, 3, "Executives", "Nobody", "Zeta");
	expect_policy(f, &d, "low | low | block | nil | Executives | default | default");
	/* the group set is cached by its id: asking again gives the same */
	set_groups(&d, 5, 2, "Contractors", "Executives");
	expect_policy(f, &d, "low | low | wipe | nil | Executives | default | Contractors");
}

static void groups_typo_level(void **state)
{
	fx *f = *state;
	write_rules(f,
		    "-- groups\n"
		    "return {\n"
		    "  default = { max_level = \"medium\", app_max_level = \"low\", app_action = \"block\" },\n"
		    "  Sales   = { max_level = \"hihg\" },\n"
		    "}\n",
		    POLICY_DUMP);
	open_bad(f, "groups.lua:4");
	assert_contains(f->err, "hihg");
	assert_contains(f->err, "Sales");
	assert_contains(f->err, "max_level");
	assert_one_line(f->err);

	/* Lua strings may use single quotes too: the line is still found */
	write_rules(f,
		    "return {\n"
		    "  default = { max_level = 'medium' },\n"
		    "\n"
		    "  Field   = { app_max_level = 'Low' },\n"
		    "}\n",
		    NULL);
	open_bad(f, "groups.lua:4");
	assert_contains(f->err, "Low");
}

static void groups_unknown_key(void **state)
{
	fx *f = *state;
	write_rules(f,
		    "return {\n"
		    "  default = { max_level = 'medium' },\n"
		    "  Sales   = { max_level = 'low',\n"
		    "              max_lvl = 'low' },\n"
		    "}\n",
		    POLICY_DUMP);
	open_bad(f, "groups.lua:4");
	assert_contains(f->err, "max_lvl");
	assert_contains(f->err, "unknown key");
	assert_one_line(f->err);

	/* a known key with a value that is not a string */
	write_rules(f, "return {\n  default = { max_level = 3 },\n}\n", NULL);
	open_bad(f, "groups.lua:2");
	assert_contains(f->err, "max_level");
}

static void groups_bad_values(void **state)
{
	fx *f = *state;
	write_rules(f,
		    "return {\n"
		    "  default = { max_level = 'medium', app_max_level = 'low', app_action = 'block' },\n"
		    "  VIP     = { app_action = \"nuke\" },\n"
		    "}\n",
		    POLICY_DUMP);
	open_bad(f, "groups.lua:3");
	assert_contains(f->err, "nuke");
	assert_contains(f->err, "app_action");

	write_rules(f, "return {\n  default = { app_action = 'none' },\n}\n", NULL);
	open_bad(f, "'none'");

	write_rules(f, "return {\n  default = { app_partner_priority = 'vendor' },\n}\n", NULL);
	open_bad(f, "vendor");

	write_rules(f, "return 'everyone'\n", NULL);
	open_bad(f, "groups.lua");
	write_rules(f, "return { Sales = 'low' }\n", NULL);
	open_bad(f, "groups.lua");
	write_rules(f, "return { 'low' }\n", NULL);
	open_bad(f, "groups.lua");
	write_rules(f, "return { default = { [1] = 'low' } }\n", NULL);
	open_bad(f, "groups.lua");
	/* a syntax error names the file and line */
	write_rules(f, "return {\n  default = { max_level = 'medium' \n  Sales = {}\n}\n", NULL);
	open_bad(f, "groups.lua:3");
}

/* ---- sandbox ---- */

static void refused_at_load(fx *f, const char *top, const char *why)
{
	write_policy_with(f, top, "");
	if (open_rules(f, NULL, 0, 0) != MTD_ERULES)
		fail_msg("policy.lua with '%s' was accepted", top);
	assert_null(f->r);
	assert_contains(f->err, why);
	assert_contains(f->err, "policy.lua:1");
}

static void sandbox_blocked_functions(void **state)
{
	fx *f = *state;

	refused_at_load(f, "os.execute('touch /tmp/mtdgate-sandbox-escape')", "undefined global 'os'");
	refused_at_load(f, "local x = os.getenv('HOME')", "undefined global 'os'");
	refused_at_load(f, "io.open('/etc/passwd')", "undefined global 'io'");
	refused_at_load(f, "io.popen('id')", "undefined global 'io'");
	refused_at_load(f, "load('return 1')", "blocked function");
	refused_at_load(f, "dofile('/etc/passwd')", "blocked function");
	refused_at_load(f, "loadfile('/etc/passwd')", "blocked function");
	refused_at_load(f, "print('hello')", "blocked function");
	refused_at_load(f, "collectgarbage('count')", "blocked function");
	refused_at_load(f, "string.dump(function() end)", "blocked function");
	refused_at_load(f, "local s = ('x'):dump()", "blocked function");
	refused_at_load(f, "debug.getinfo(1)", "undefined global 'debug'");
	refused_at_load(f, "package.loadlib('libc.so.6', 'system')", "undefined global 'package'");
	refused_at_load(f, "coroutine.wrap(print)", "undefined global 'coroutine'");
	refused_at_load(f, "require 'os'", "os");
	refused_at_load(f, "require 'io'", "io");
	refused_at_load(f, "require '../x'", "only modules of the rules directory");
	refused_at_load(f, "require '/etc/passwd'", "only modules of the rules directory");
	refused_at_load(f, "require 'a.b'", "only modules of the rules directory");
	assert_int_equal(access("/tmp/mtdgate-sandbox-escape", F_OK), -1);

	/* nothing of those is reachable by the back door either */
	write_policy_with(f,
			  "assert(rawget(_G, 'os') == nil and rawget(_G, 'io') == nil)\n"
			  "assert(rawget(_G, 'debug') == nil and rawget(_G, 'package') == nil)\n"
			  "assert(getmetatable('').__index.dump ~= nil)\n"
			  "assert(not pcall(getmetatable('').__index.dump, print))",
			  "");
	open_ok(f, NULL, 0, 0);

	/* blocked at evaluation time too */
	write_policy_with(f, "", "  if device.id == 'x' then return load('return 1') end");
	open_ok(f, NULL, 0, 0);
	{
		dev d;
		dev_init(&d, "x", MTD_PLAT_IOS, 1);
		eval_bad(f, &d, "blocked function");
		dev_init(&d, "y", MTD_PLAT_IOS, 1);
		mtd_eval_out o;
		eval_ok(f, &d, &o);
	}
}

static void sandbox_require(void **state)
{
	fx *f = *state;
	dev d;
	mtd_eval_out o;

	tu_write_str(f->dir, "helper.lua", "calls = (rawget(_G, 'calls') or 0) + 1\nreturn { x = 41 }\n");
	write_policy_with(f, "local h = require 'helper'\nassert(require('helper') == h)",
			  "  return 'compliant', 'none', { tostring(h.x + 1), tostring(calls) }");
	open_ok(f, NULL, 0, 0);
	dev_init(&d, "dev-1", MTD_PLAT_IOS, 1);
	eval_ok(f, &d, &o);
	assert_string_equal(joined(&o), "42 | 1"); /* loaded once */

	/* a module that is missing */
	write_policy_with(f, "require 'nothere'", "");
	open_bad(f, "nothere");
}

static int bc_write(lua_State *L, const void *p, size_t n, void *ud)
{
	mtd_buf *b = ud;
	unsigned char *d;
	(void)L;
	d = realloc(b->data, b->len + n);
	if (!d)
		return 1;
	memcpy(d + b->len, p, n);
	b->data = d;
	b->len += n;
	return 0;
}

/* Real Lua 5.4 bytecode of src. */
static void bytecode(const char *src, mtd_buf *out)
{
	lua_State *L = luaL_newstate();
	assert_non_null(L);
	assert_int_equal(luaL_loadstring(L, src), LUA_OK);
	assert_int_equal(lua_dump(L, bc_write, out, 0), 0);
	lua_close(L);
	assert_true(out->len > 4);
	assert_memory_equal(out->data, "\x1bLua", 4);
}

static void sandbox_bytecode(void **state)
{
	fx *f = *state;
	mtd_buf b = {0};
	char *src = policy_with("", "");

	/* a compiled policy.lua */
	bytecode(src, &b);
	write_rules(f, GROUPS_DEFAULT, NULL);
	tu_write(f->dir, "policy.lua", b.data, b.len);
	open_bad(f, "binary");
	mtd_buf_free(&b);

	/* a hand-made header is refused just the same */
	tu_write(f->dir, "policy.lua", "\x1bLua\x54\x00\x19\x93\r\n\x1a\n", 12);
	open_bad(f, "binary");

	/* a compiled groups.lua */
	bytecode(GROUPS_DEFAULT, &b);
	write_rules(f, NULL, src);
	tu_write(f->dir, "groups.lua", b.data, b.len);
	open_bad(f, "binary");
	mtd_buf_free(&b);
	free(src);

	/* a compiled module pulled in with require */
	bytecode("return { x = 1 }", &b);
	tu_write(f->dir, "helper.lua", b.data, b.len);
	write_policy_with(f, "local h = require 'helper'", "");
	open_bad(f, "binary");
	mtd_buf_free(&b);
}

static void instruction_limit(void **state)
{
	fx *f = *state;
	dev loop, ok;
	mtd_eval_out o;
	static const char *const bodies[] = {
		"while true do end",
		"while true do pcall(function() while true do end end) end",
		"while true do pcall(error, 'x') end",
		"while true do xpcall(error, function() while true do end end) end",
		"local function f() return pcall(f) end\n  while true do f() end",
		"string.gsub(string.rep('a', 10), 'a', function() while true do end end)",
		"table.sort({3, 2, 1}, function(a, b) while true do end end)",
		/* one literal: clang's -Wstring-concatenation takes two in a list for a lost comma */
		"local t = setmetatable({}, {__index = function(t, k) while true do end end})\n  local x = t.anything",
	};
	(void)state;

	dev_init(&loop, "loop", MTD_PLAT_ANDROID, 1);
	dev_init(&ok, "ok", MTD_PLAT_ANDROID, 1);
	for (size_t i = 0; i < sizeof bodies / sizeof *bodies; i++) {
		char body[512];
		snprintf(body, sizeof body, "  if device.id == 'loop' then\n  %s\n  end", bodies[i]);
		write_policy_with(f, "", body);
		open_ok(f, NULL, 0, 200000);
		eval_bad(f, &loop, "instruction limit");
		/* the budget is per call: the next device is evaluated normally */
		eval_ok(f, &ok, &o);
		EXPECT(&o, MTD_ST_COMPLIANT, MTD_LEVEL_NONE, MTD_APP_NONE);
		eval_bad(f, &loop, "instruction limit");
	}

	/* at load time */
	write_policy_with(f, "while true do end", "");
	if (open_rules(f, NULL, 0, 200000) != MTD_ERULES)
		fail_msg("a runaway loop in policy.lua's main chunk was not stopped");
	assert_contains(f->err, "instruction limit");
	write_rules(f, "while true do pcall(function() while true do end end) end\nreturn {}\n",
		    NULL);
	if (open_rules(f, NULL, 0, 200000) != MTD_ERULES)
		fail_msg("a runaway loop in groups.lua was not stopped");
	assert_contains(f->err, "instruction limit");

	/* and with the default budget */
	write_policy_with(f, "", "  while true do end");
	open_ok(f, NULL, 0, 0);
	eval_bad(f, &ok, "instruction limit of 10000000");

	/* work under the limit is not cut short */
	write_policy_with(f, "", "  local n = 0 for i = 1, 20000 do n = n + i end assert(n == 200010000)");
	open_ok(f, NULL, 0, 200000);
	eval_ok(f, &ok, &o);
}

static void memory_limit(void **state)
{
	fx *f = *state;
	dev bomb, ok;
	mtd_eval_out o;
	(void)state;

	dev_init(&bomb, "bomb", MTD_PLAT_ANDROID, 1);
	dev_init(&ok, "ok", MTD_PLAT_ANDROID, 1);
	write_policy_with(f, "",
			  "  if device.id == 'bomb' then\n"
			  "    local t = {} for i = 1, 1e9 do t[i] = string.rep('x', 1000) .. i end\n"
			  "  end");
	open_ok(f, NULL, 4u << 20, 0);
	eval_bad(f, &bomb, "memory limit");
	eval_ok(f, &ok, &o); /* the garbage is collected, the state still works */
	eval_bad(f, &bomb, "memory limit");
	eval_ok(f, &ok, &o);

	/* one huge string */
	write_policy_with(f, "", "  local s = string.rep('x', 1 << 30)");
	open_ok(f, NULL, 4u << 20, 0);
	eval_bad(f, &ok, "memory limit");

	/* the default cap (64 MiB) */
	write_policy_with(f, "", "  local t = {} for i = 1, 1e9 do t[i] = string.rep('x', 1000) .. i end");
	open_ok(f, NULL, 0, 0);
	eval_bad(f, &ok, "memory limit of 67108864");

	/* at load time */
	write_policy_with(f, "local t = {} for i = 1, 1e9 do t[i] = string.rep('x', 1000) .. i end", "");
	if (open_rules(f, NULL, 4u << 20, 0) != MTD_ERULES)
		fail_msg("a memory bomb in policy.lua's main chunk was not stopped");
	assert_contains(f->err, "memory limit");
}

/* Memory kept by a script up to the cap: the host's own work for the next
 * device (building the device table) must fail cleanly, not abort. */
static int hoard_child(void *arg)
{
	fx *f = arg;
	dev d;
	mtd_eval_out o;
	int rc;

	/* big strings first, then small tables chained from an upvalue, so that
	 * no garbage is left for an emergency collection to free */
	write_policy_with(f, "local hoard, chain = {}, nil",
			  "  if device.id == 'hoard' then\n"
			  "    pcall(function() for i = 1, 1e9 do hoard[i] = string.rep('x', 1000) .. i end end)\n"
			  "    pcall(function() while true do chain = { chain } end end)\n"
			  "    return 'compliant', 'none'\n"
			  "  end");
	if (open_rules(f, NULL, 4u << 20, 0))
		return 2;
	dev_init(&d, "hoard", MTD_PLAT_ANDROID, 1);
	rc = mtd_rules_eval(f->r, &d.in, &o, f->err, sizeof f->err);
	(void)rc; /* succeeding or failing are both fine */
	dev_init(&d, "next-device", MTD_PLAT_ANDROID, 1);
	add_vendor(&d, 0, "lookout", "low");
	rc = mtd_rules_eval(f->r, &d.in, &o, f->err, sizeof f->err);
	if (rc != 0 && rc != MTD_ERULES && rc != MTD_ENOMEM)
		return 3;
	mtd_rules_close(f->r);
	f->r = NULL;
	return 0;
}

static void memory_hoarded_by_script(void **state)
{
	assert_child_ok(tu_run_child(hoard_child, *state, 20),
			"a rule keeping memory up to the cap, then the next device");
}

/* Lua runs __gc metamethods with hooks off: a finalizer that loops must not
 * hang the engine (at evaluation, or at close). */
static int gc_child(void *arg)
{
	fx *f = arg;
	dev d;
	mtd_eval_out o;

	write_policy_with(f, "setmetatable({}, { __gc = function() while true do end end })",
			  "  local t = {} for i = 1, 20000 do t[i] = {i} end");
	if (open_rules(f, NULL, 0, 100000) == 0) {
		dev_init(&d, "dev-1", MTD_PLAT_ANDROID, 1);
		for (int i = 0; i < 20; i++)
			mtd_rules_eval(f->r, &d.in, &o, f->err, sizeof f->err);
		mtd_rules_close(f->r);
		f->r = NULL;
	}
	return 0;
}

static void gc_finalizer_loop(void **state)
{
	assert_child_ok(tu_run_child(gc_child, *state, 3),
			"a __gc finalizer with an endless loop");
}

/* Pattern matching runs in C where the instruction hook cannot reach; the
 * sandbox bounds subject and pattern sizes, but a backtracking pattern on a
 * subject well within those bounds must not hang the engine either. */
static int pattern_child(void *arg)
{
	fx *f = arg;
	dev d;
	mtd_eval_out o;

	write_policy_with(f, "", "  local i = string.find(string.rep('a', 5000), '.-.-.-.-b')");
	if (open_rules(f, NULL, 0, 100000))
		return 2;
	dev_init(&d, "dev-1", MTD_PLAT_ANDROID, 1);
	mtd_rules_eval(f->r, &d.in, &o, f->err, sizeof f->err);
	mtd_rules_close(f->r);
	f->r = NULL;
	return 0;
}

static void pattern_backtracking(void **state)
{
	fx *f = *state;
	dev d;

	/* the size caps themselves */
	write_policy_with(f, "", "  string.find(string.rep('a', 100000), 'a')");
	open_ok(f, NULL, 0, 0);
	dev_init(&d, "dev-1", MTD_PLAT_ANDROID, 1);
	eval_bad(f, &d, "too long");
	write_policy_with(f, "", "  string.match('abc', string.rep('a?', 200))");
	open_ok(f, NULL, 0, 0);
	eval_bad(f, &d, "too long");

	assert_child_ok(tu_run_child(pattern_child, f, 3),
			"string.find(string.rep('a', 5000), '.-.-.-.-b') in a rule");
}

/* A memory cap too small for the sandbox itself: an error, not an abort
 * (6 to 14 KiB is where opening the standard libraries runs out). */
static int tiny_child(void *arg)
{
	fx *f = arg;
	int rc;
	write_rules(f, GROUPS_DEFAULT, POLICY_DUMP);
	rc = open_rules(f, NULL, 8 * 1024, 0);
	return rc == MTD_ENOMEM || rc == MTD_ERULES ? 0 : 3;
}

static void tiny_memory_cap(void **state)
{
	assert_child_ok(tu_run_child(tiny_child, *state, 10),
			"mtd_rules_open with an 8 KiB memory cap");
}

static void undefined_globals(void **state)
{
	fx *f = *state;
	dev d;
	mtd_eval_out o;

	write_policy_with(f, "local x = undefined_thing", "");
	open_bad(f, "undefined global 'undefined_thing'");
	assert_contains(f->err, "policy.lua:1");

	/* a typo inside a rule: the evaluation fails naming it and the line */
	write_policy_with(f, "", "  if device.id == 'typo' then return 'compliant', levle, {} end");
	open_ok(f, NULL, 0, 0);
	dev_init(&d, "typo", MTD_PLAT_IOS, 1);
	eval_bad(f, &d, "undefined global 'levle'");
	assert_contains(f->err, "policy.lua:4");

	/* globals that are defined can be read; a field that is absent is nil */
	write_policy_with(f, "limit_from_top = 5",
			  "  assert(limit_from_top == 5 and device.nonexistent == nil)");
	open_ok(f, NULL, 0, 0);
	eval_ok(f, &d, &o);

	/* a runtime error names the file and line */
	write_policy_with(f, "", "  error('boom')");
	open_ok(f, NULL, 0, 0);
	eval_bad(f, &d, "policy.lua:4: boom");
}

/* A rule file is compiled once per content in a process (the bytecode of
 * its last compilation loaded into each new sandbox): every open still gets
 * a fresh state (what a script kept in one does not reach the next), a file
 * rewritten (same length, other bytes) is compiled again, and errors from a
 * kept compilation name the same file and line. */
static void compiled_once_per_content(void **state)
{
	fx *f = *state;
	dev d;
	mtd_eval_out o;

	dev_init(&d, "dev", MTD_PLAT_IOS, 1);
	write_policy_with(f, "local seen = {}",
			  "  if seen.x then return 'noncompliant', 'high', {'kept'} end\n"
			  "  seen.x = true");
	for (int i = 0; i < 2; i++) { /* compiled, then loaded from the bytecode */
		open_ok(f, NULL, 0, 0);
		eval_ok(f, &d, &o);
		EXPECT(&o, MTD_ST_COMPLIANT, MTD_LEVEL_NONE, MTD_APP_NONE);
		eval_ok(f, &d, &o); /* within one state, state is kept */
		EXPECT(&o, MTD_ST_NONCOMPLIANT, MTD_LEVEL_HIGH, MTD_APP_NONE);
	}
	write_policy_with(f, "", "  return 'compliant',    'none', {}");
	open_ok(f, NULL, 0, 0);
	eval_ok(f, &d, &o);
	EXPECT(&o, MTD_ST_COMPLIANT, MTD_LEVEL_NONE, MTD_APP_NONE);
	write_policy_with(f, "", "  return 'noncompliant', 'high', {}");
	open_ok(f, NULL, 0, 0);
	eval_ok(f, &d, &o);
	EXPECT(&o, MTD_ST_NONCOMPLIANT, MTD_LEVEL_HIGH, MTD_APP_NONE);
	write_policy_with(f, "", "  error('boom')");
	for (int i = 0; i < 2; i++) {
		open_ok(f, NULL, 0, 0);
		eval_bad(f, &d, "policy.lua:4: boom");
	}
	write_policy_with(f, "local x = undefined_thing", "");
	for (int i = 0; i < 2; i++) {
		open_bad(f, "undefined global 'undefined_thing'");
		assert_contains(f->err, "policy.lua:1");
	}
}

static void mtd_helpers(void **state)
{
	fx *f = *state;
	dev d;
	mtd_eval_out o;

	write_policy_with(f, "",
			  "  local s = tostring\n"
			  "  return 'compliant', 'none', {\n"
			  "    s(mtd.above('high', 'medium')), s(mtd.above('low', 'low')),\n"
			  "    s(mtd.above('secured', 'none')), s(mtd.above('none', 'secured')),\n"
			  "    s(mtd.above('medium', 'high')),\n"
			  "    mtd.max('low', 'high'), mtd.max('high', 'low'), mtd.max('none', 'secured'),\n"
			  "    mtd.max('none', 'none'), mtd.max('medium', 'medium'),\n"
			  "    s(mtd.level('none')), s(mtd.level('secured')), s(mtd.level('high')),\n"
			  "    s(mtd.api_version), s(ctx.now), ctx.cloud, s(ctx.api_version) }");
	open_ok(f, NULL, 0, 0);
	dev_init(&d, "dev-1", MTD_PLAT_IOS, 1);
	eval_ok(f, &d, &o);
	assert_string_equal(joined(&o), "true | false | true | false | false | high | high | secured | "
					"none | medium | 0 | 1 | 4 | 1 | 1709251200 | commercial | 1");

	/* cloud and now as given */
	mtd_rules_close(f->r);
	f->r = NULL;
	assert_int_equal(mtd_rules_open(f->dir, NULL, "gcc_high", 42, &f->r, f->err, sizeof f->err),
			 0);
	eval_ok(f, &d, &o);
	assert_contains(joined(&o), "| 42 | gcc_high |");

	static const char *const bad[][2] = {
		{"mtd.above('severe', 'low')", "not a threat level"},
		{"mtd.above('low')", "bad argument"},
		{"mtd.max(1, 'low')", "not a threat level"},
		{"mtd.max('HIGH', 'low')", "not a threat level"},
		{"mtd.level('HIGH')", "'HIGH' is not a threat level"},
		{"mtd.level({})", "bad argument"},
	};
	for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
		char body[256];
		snprintf(body, sizeof body, "  local x = %s", bad[i][0]);
		write_policy_with(f, "", body);
		open_ok(f, NULL, 0, 0);
		eval_bad(f, &d, bad[i][1]);
	}
}

static void device_as_seen_by_rules(void **state)
{
	fx *f = *state;
	dev d;
	mtd_eval_out o;
	mtd_vreport *v;
	msgpack_sbuffer sb;
	msgpack_packer pk;

	write_policy_with(f, "",
			  "  local s = tostring\n"
			  "  local v, w = device.vendors[1], device.vendors[2]\n"
			  "  local t = v.threats[1]\n"
			  "  return 'compliant', 'none', { device.id, device.platform, device.os_version,\n"
			  "    device.ownership, device.management, device.user, s(#device.groups),\n"
			  "    device.groups[1], device.groups[2], s(#device.vendors), v.vendor, v.level,\n"
			  "    s(v.at), s(v.os_supported), s(v.missing), s(v.block_missing_data),\n"
			  "    s(v.block_unsupported_os), s(#v.threats), t.id, t.name, t.category, t.level,\n"
			  "    w.vendor, s(w.level), s(w.missing), s(w.os_supported), s(w.block_missing_data),\n"
			  "    s(#device.app_vendors), device.app_vendors[1].vendor }");
	open_ok(f, NULL, 0, 0);

	msgpack_sbuffer_init(&sb);
	msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
	msgpack_pack_array(&pk, 2);
	for (int i = 0; i < 2; i++) {
		msgpack_pack_map(&pk, 4);
		msgpack_pack_str_with_body(&pk, "id", 2);
		msgpack_pack_str_with_body(&pk, i ? "t2" : "t1", 2);
		msgpack_pack_str_with_body(&pk, "name", 4);
		msgpack_pack_str_with_body(&pk, "Rogue Wi-Fi", 11);
		msgpack_pack_str_with_body(&pk, "category", 8);
		msgpack_pack_str_with_body(&pk, "network", 7);
		msgpack_pack_str_with_body(&pk, "level", 5);
		msgpack_pack_str_with_body(&pk, "high", 4);
	}

	dev_init(&d, "dev-7", MTD_PLAT_MACOS, 0);
	d.in.corporate = 0;
	set_groups(&d, 1, 2, "Executives", "Sales");
	v = add_vendor(&d, 0, "lookout", "medium");
	v->at = T0 - 5;
	v->os_supported = 0;
	v->block_unsupported_os = 1;
	v->threats = sb.data;
	v->threats_len = sb.size;
	v = add_vendor(&d, 0, "zimperium", NULL);
	v->block_missing_data = 1;
	add_vendor(&d, 1, "defender", "low");
	eval_ok(f, &d, &o);
	msgpack_sbuffer_destroy(&sb);
	assert_string_equal(joined(&o),
			    "dev-7 | macos | 14 | personal | unenrolled | user@example.com | 2 | "
			    "Executives | Sales | 2 | lookout | medium | 1709251195 | false | nil | "
			    "false | true | 2 | t1 | Rogue Wi-Fi | network | high | zimperium | nil | "
			    "true | nil | true | 1 | defender");
}

static void invalid_results(void **state)
{
	fx *f = *state;
	dev d;
	static const char *const cases[][2] = {
		{"return 'green', 'none', {}", "compliance returned state 'green'"},
		{"return 1, 'none', {}", "compliance returned state"},
		{"return nil", "compliance returned state 'nil'"},
		{"return 'compliant', 'severe', {}", "compliance returned level 'severe'"},
		{"return 'compliant', nil, {}", "compliance returned level 'nil'"},
		{"return 'compliant', 3, {}", "compliance returned level"},
		{"return 'compliant', 'none', 'all good'", "reasons"},
		{"return 'compliant', 'none', { 'ok', 42 }", "reason 2"},
		{"return 'compliant', 'none', { {} }", "reason 1"},
	};
	(void)state;

	dev_init(&d, "dev-1", MTD_PLAT_IOS, 1);
	for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
		char body[256];
		snprintf(body, sizeof body, "  %s", cases[i][0]);
		write_policy_with(f, "", body);
		open_ok(f, NULL, 0, 0);
		eval_bad(f, &d, cases[i][1]);
		assert_one_line(f->err);
	}

	/* app_protection results */
	write_rules(f, GROUPS_DEFAULT,
		    "return { compliance = function() return 'compliant', 'none', {} end,\n"
		    "  app_protection = function() return 'destroy' end }\n");
	open_ok(f, NULL, 0, 0);
	eval_bad(f, &d, "app_protection returned action 'destroy'");
	write_rules(f, NULL,
		    "return { compliance = function() return 'compliant', 'none', {} end,\n"
		    "  app_protection = function() end }\n");
	open_ok(f, NULL, 0, 0);
	eval_bad(f, &d, "app_protection returned action 'nil'");
	write_rules(f, NULL,
		    "return { compliance = function() return 'compliant', 'none', {} end,\n"
		    "  app_protection = function() return 'warn', 7 end }\n");
	open_ok(f, NULL, 0, 0);
	eval_bad(f, &d, "reasons");

	/* the module itself */
	write_rules(f, NULL, "return 42\n");
	open_bad(f, "policy.lua");
	write_rules(f, NULL, "return { compliance = function() end }\n");
	open_bad(f, "app_protection");
	write_rules(f, NULL, "return { compliance = 1, app_protection = function() end }\n");
	open_bad(f, "compliance");
	write_rules(f, NULL, "return {\n  compliance = function(\n}\n");
	open_bad(f, "policy.lua:3");
	tu_write_str(f->dir, "policy.lua", "");
	open_bad(f, "policy.lua");
	remove(tu_path(f->dir, "policy.lua"));
	open_bad(f, "policy.lua");
}

static void many_reasons(void **state)
{
	fx *f = *state;
	dev d;
	mtd_eval_out o;

	write_policy_with(f, "",
			  "  local r = {} for i = 1, 100 do r[i] = 'reason ' .. i end\n"
			  "  return 'noncompliant', 'high', r");
	open_ok(f, NULL, 0, 0);
	dev_init(&d, "dev-1", MTD_PLAT_IOS, 1);
	eval_ok(f, &d, &o);
	assert_int_equal(o.state, MTD_ST_NONCOMPLIANT);
	assert_int_equal(o.nreasons, MTD_MAX_REASONS);
	assert_string_equal(o.reasons[0], "reason 1");
	assert_string_equal(o.reasons[MTD_MAX_REASONS - 1], "reason 32");
}

/* ---- the default rules ---- */

static void default_compliance(void **state)
{
	fx *f = *state;
	dev d;
	mtd_eval_out o;

	open_ok(f, MTD_TEST_RULES_DIR, 0, 0);

	/* no vendor in force */
	dev_init(&d, "d1", MTD_PLAT_ANDROID, 1);
	eval_ok(f, &d, &o);
	EXPECT(&o, MTD_ST_COMPLIANT, MTD_LEVEL_NONE, MTD_APP_NONE);
	assert_contains(joined(&o), "no connector in force on android");

	/* one vendor, at and above the default maximum (medium) */
	dev_init(&d, "d2", MTD_PLAT_IOS, 1);
	add_vendor(&d, 0, "lookout", "medium");
	eval_ok(f, &d, &o);
	EXPECT(&o, MTD_ST_COMPLIANT, MTD_LEVEL_MEDIUM, MTD_APP_NONE);
	assert_contains(joined(&o), "lookout reports medium; group default allows at most medium");

	dev_init(&d, "d3", MTD_PLAT_IOS, 1);
	add_vendor(&d, 0, "lookout", "high");
	eval_ok(f, &d, &o);
	EXPECT(&o, MTD_ST_NONCOMPLIANT, MTD_LEVEL_HIGH, MTD_APP_NONE);
	assert_contains(joined(&o), "lookout reports high; group default allows at most medium");

	dev_init(&d, "d4", MTD_PLAT_IOS, 1);
	add_vendor(&d, 0, "lookout", "secured");
	eval_ok(f, &d, &o);
	EXPECT(&o, MTD_ST_COMPLIANT, MTD_LEVEL_SECURED, MTD_APP_NONE);

	/* Executives allow at most low */
	dev_init(&d, "d5", MTD_PLAT_IOS, 1);
	set_groups(&d, 2, 1, "Executives");
	add_vendor(&d, 0, "lookout", "medium");
	eval_ok(f, &d, &o);
	EXPECT(&o, MTD_ST_NONCOMPLIANT, MTD_LEVEL_MEDIUM, MTD_APP_NONE);
	assert_contains(joined(&o), "group Executives allows at most low");
	dev_init(&d, "d6", MTD_PLAT_IOS, 1);
	set_groups(&d, 2, 1, "Executives");
	add_vendor(&d, 0, "lookout", "low");
	eval_ok(f, &d, &o);
	EXPECT(&o, MTD_ST_COMPLIANT, MTD_LEVEL_LOW, MTD_APP_NONE);

	/* several vendors: the highest level counts */
	dev_init(&d, "d7", MTD_PLAT_ANDROID, 1);
	add_vendor(&d, 0, "lookout", "low");
	add_vendor(&d, 0, "zimperium", "high");
	eval_ok(f, &d, &o);
	EXPECT(&o, MTD_ST_NONCOMPLIANT, MTD_LEVEL_HIGH, MTD_APP_NONE);
	assert_contains(joined(&o), "zimperium reports high");
	assert_not_contains(joined(&o), "lookout reports low"); /* only what is wrong */
}

static void default_missing_scan(void **state)
{
	fx *f = *state;
	dev d;
	mtd_eval_out o;

	open_ok(f, MTD_TEST_RULES_DIR, 0, 0);

	/* one vendor in force that has not reported: compliant (R4) */
	dev_init(&d, "m1", MTD_PLAT_ANDROID, 1);
	add_vendor(&d, 0, "lookout", NULL);
	eval_ok(f, &d, &o);
	EXPECT(&o, MTD_ST_COMPLIANT, MTD_LEVEL_NONE, MTD_APP_NONE);

	/* R5: two third-party vendors, one silent: missing scan */
	dev_init(&d, "m2", MTD_PLAT_ANDROID, 1);
	add_vendor(&d, 0, "lookout", "low");
	add_vendor(&d, 0, "zimperium", NULL);
	eval_ok(f, &d, &o);
	EXPECT(&o, MTD_ST_NONCOMPLIANT, MTD_LEVEL_LOW, MTD_APP_NONE);
	assert_contains(joined(&o), "missing scan: zimperium");

	/* both silent: two missing scans */
	dev_init(&d, "m3", MTD_PLAT_ANDROID, 1);
	add_vendor(&d, 0, "lookout", NULL);
	add_vendor(&d, 0, "zimperium", NULL);
	eval_ok(f, &d, &o);
	EXPECT(&o, MTD_ST_NONCOMPLIANT, MTD_LEVEL_NONE, MTD_APP_NONE);
	assert_contains(joined(&o), "missing scan: lookout");
	assert_contains(joined(&o), "missing scan: zimperium");

	/* Defender beside one third party: exempt, whichever is silent */
	dev_init(&d, "m4", MTD_PLAT_ANDROID, 1);
	add_vendor(&d, 0, "defender", "low");
	add_vendor(&d, 0, "lookout", NULL);
	eval_ok(f, &d, &o);
	EXPECT(&o, MTD_ST_COMPLIANT, MTD_LEVEL_LOW, MTD_APP_NONE);
	assert_not_contains(joined(&o), "missing scan");
	dev_init(&d, "m5", MTD_PLAT_ANDROID, 1);
	add_vendor(&d, 0, "defender", NULL);
	add_vendor(&d, 0, "lookout", "low");
	eval_ok(f, &d, &o);
	EXPECT(&o, MTD_ST_COMPLIANT, MTD_LEVEL_LOW, MTD_APP_NONE);

	/* two third parties plus a silent Defender: Defender still exempt */
	dev_init(&d, "m6", MTD_PLAT_ANDROID, 1);
	add_vendor(&d, 0, "defender", NULL);
	add_vendor(&d, 0, "lookout", "low");
	add_vendor(&d, 0, "zimperium", "secured");
	eval_ok(f, &d, &o);
	EXPECT(&o, MTD_ST_COMPLIANT, MTD_LEVEL_LOW, MTD_APP_NONE);
}

static void default_switches(void **state)
{
	fx *f = *state;
	dev d;
	mtd_eval_out o;
	mtd_vreport *v;

	open_ok(f, MTD_TEST_RULES_DIR, 0, 0);

	/* block_missing_data */
	dev_init(&d, "s1", MTD_PLAT_IOS, 1);
	v = add_vendor(&d, 0, "lookout", NULL);
	v->block_missing_data = 1;
	eval_ok(f, &d, &o);
	EXPECT(&o, MTD_ST_NONCOMPLIANT, MTD_LEVEL_NONE, MTD_APP_NONE);
	assert_contains(joined(&o), "block_missing_data");
	/* a report satisfies it */
	dev_init(&d, "s2", MTD_PLAT_IOS, 1);
	v = add_vendor(&d, 0, "lookout", "secured");
	v->block_missing_data = 1;
	eval_ok(f, &d, &o);
	EXPECT(&o, MTD_ST_COMPLIANT, MTD_LEVEL_SECURED, MTD_APP_NONE);

	/* block_unsupported_os with os_supported = false */
	dev_init(&d, "s3", MTD_PLAT_ANDROID, 1);
	v = add_vendor(&d, 0, "lookout", "secured");
	v->os_supported = 0;
	v->block_unsupported_os = 1;
	eval_ok(f, &d, &o);
	EXPECT(&o, MTD_ST_NONCOMPLIANT, MTD_LEVEL_SECURED, MTD_APP_NONE);
	assert_contains(joined(&o), "unsupported OS");
	/* the switch off: the OS report alone does not block */
	v->block_unsupported_os = 0;
	eval_ok(f, &d, &o);
	EXPECT(&o, MTD_ST_COMPLIANT, MTD_LEVEL_SECURED, MTD_APP_NONE);
	/* unknown or supported OS with the switch on: fine */
	v->block_unsupported_os = 1;
	v->os_supported = -1;
	eval_ok(f, &d, &o);
	EXPECT(&o, MTD_ST_COMPLIANT, MTD_LEVEL_SECURED, MTD_APP_NONE);
	v->os_supported = 1;
	eval_ok(f, &d, &o);
	EXPECT(&o, MTD_ST_COMPLIANT, MTD_LEVEL_SECURED, MTD_APP_NONE);
}

static void default_unenrolled_and_apps(void **state)
{
	fx *f = *state;
	dev d;
	mtd_eval_out o;

	open_ok(f, MTD_TEST_RULES_DIR, 0, 0);

	/* unenrolled: compliance does not apply; app protection does (R8) */
	dev_init(&d, "u1", MTD_PLAT_ANDROID, 0);
	add_vendor(&d, 0, "lookout", "high"); /* ignored for compliance */
	eval_ok(f, &d, &o);
	EXPECT(&o, MTD_ST_NOT_EVALUATED, MTD_LEVEL_NONE, MTD_APP_NONE);
	assert_contains(joined(&o), "not enrolled");

	dev_init(&d, "u2", MTD_PLAT_ANDROID, 0);
	add_vendor(&d, 1, "lookout", "medium");
	eval_ok(f, &d, &o);
	EXPECT(&o, MTD_ST_NOT_EVALUATED, MTD_LEVEL_MEDIUM, MTD_APP_BLOCK);
	assert_contains(joined(&o), "apps: lookout reports medium");
	assert_contains(joined(&o), "action block");

	dev_init(&d, "u3", MTD_PLAT_ANDROID, 0);
	add_vendor(&d, 1, "lookout", "low");
	eval_ok(f, &d, &o);
	EXPECT(&o, MTD_ST_NOT_EVALUATED, MTD_LEVEL_LOW, MTD_APP_NONE);

	dev_init(&d, "u4", MTD_PLAT_ANDROID, 0);
	add_vendor(&d, 1, "lookout", NULL);
	eval_ok(f, &d, &o);
	EXPECT(&o, MTD_ST_NOT_EVALUATED, MTD_LEVEL_NONE, MTD_APP_NONE);

	/* an enrolled device an app policy covers: both apply */
	dev_init(&d, "u5", MTD_PLAT_IOS, 1);
	add_vendor(&d, 0, "lookout", "high");
	add_vendor(&d, 1, "lookout", "high");
	eval_ok(f, &d, &o);
	EXPECT(&o, MTD_ST_NONCOMPLIANT, MTD_LEVEL_HIGH, MTD_APP_BLOCK);
}

static void default_partner_priority(void **state)
{
	fx *f = *state;
	dev d;
	mtd_eval_out o;
	char *policy = tu_read(MTD_TEST_RULES_DIR "/policy.lua", NULL);
	static const struct {
		const char *group; /* NULL: priority unset */
		int64_t gs;
		const char *def, *third;
		int want;
	} cases[] = {
		{NULL, 1, "high", "low", MTD_APP_BLOCK},
		{NULL, 1, "low", "high", MTD_APP_BLOCK},
		{NULL, 1, "low", "secured", MTD_APP_NONE},
		{"PrioDefender", 2, "high", "low", MTD_APP_BLOCK},
		{"PrioDefender", 2, "low", "high", MTD_APP_NONE},
		{"PrioThird", 3, "high", "low", MTD_APP_NONE},
		{"PrioThird", 3, "low", "high", MTD_APP_BLOCK},
		/* only one of them reporting: that one counts, whatever the priority */
		{"PrioThird", 3, "high", NULL, MTD_APP_BLOCK},
		{"PrioDefender", 2, NULL, "high", MTD_APP_BLOCK},
		/* the action of the group */
		{"Wipers", 4, "high", "low", MTD_APP_WIPE},
		{"Warners", 5, "medium", "low", MTD_APP_WARN},
	};

	assert_non_null(policy);
	write_rules(f,
		    "return {\n"
		    "  default      = { max_level = 'medium', app_max_level = 'low', app_action = 'block' },\n"
		    "  PrioDefender = { app_partner_priority = 'defender' },\n"
		    "  PrioThird    = { app_partner_priority = 'third_party' },\n"
		    "  Wipers       = { app_action = 'wipe' },\n"
		    "  Warners      = { app_action = 'warn' },\n"
		    "}\n",
		    policy);
	free(policy);
	open_ok(f, NULL, 0, 0);

	for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
		dev_init(&d, "p", MTD_PLAT_ANDROID, 0);
		if (cases[i].group)
			set_groups(&d, cases[i].gs, 1, cases[i].group);
		else
			set_groups(&d, cases[i].gs, 0);
		add_vendor(&d, 1, "defender", cases[i].def);
		add_vendor(&d, 1, "lookout", cases[i].third);
		eval_ok(f, &d, &o);
		if (o.app_action != cases[i].want)
			fail_msg("case %zu (%s, defender %s, lookout %s): app action %s, expected %s; "
				 "reasons: %s",
				 i, cases[i].group ? cases[i].group : "no priority",
				 cases[i].def ? cases[i].def : "silent",
				 cases[i].third ? cases[i].third : "silent",
				 mtd_app_action_name(o.app_action), mtd_app_action_name(cases[i].want),
				 joined(&o));
	}
}

/* ---- the memo ---- */

/* A policy for observing the memo: compliance counts its calls in a global,
 * breaking the promise of pure = true on purpose so that a test can see
 * which devices reached Lua ("call N" in the reasons; a device served from
 * the memo shows the number of the call it reuses). */
static void write_memo_policy(fx *f, const char *pure, const char *body)
{
	static const char *const fmt =
		"calls = 0\n"
		"local M = { pure = %s }\n"
		"function M.compliance(device, policy, ctx)\n"
		"  calls = calls + 1\n"
		"  local extra = nil\n"
		"  %s\n"
		"  return 'compliant', 'none', { 'call ' .. calls, extra }\n"
		"end\n"
		"function M.app_protection(device, policy, ctx) return 'none' end\n"
		"return M\n";
	char s[4096];
	snprintf(s, sizeof s, fmt, pure, body);
	write_rules(f, GROUPS_DEFAULT, s);
}

static void open_memo(fx *f)
{
	open_ok(f, NULL, 0, 0);
	mtd_rules_memo(f->r, 1);
}

/* Evaluate d and expect reasons[0] to be "call <n>" and memo to be m (-2:
 * any index >= 0). */
static void expect_call(fx *f, const dev *d, int call, int64_t m)
{
	mtd_eval_out o;
	char want[32];
	eval_ok(f, d, &o);
	snprintf(want, sizeof want, "call %d", call);
	if (o.nreasons < 1 || strcmp(o.reasons[0], want))
		fail_msg("device %s: reasons '%s', expected '%s' first", d->in.id, joined(&o), want);
	if (m == -2 ? o.memo < 0 : o.memo != m)
		fail_msg("device %s: memo %lld, expected %lld", d->in.id, (long long)o.memo,
			 (long long)m);
}

/* One device that everything below varies. */
static void memo_dev(dev *d, const char *id)
{
	mtd_vreport *v;
	dev_init(d, id, MTD_PLAT_ANDROID, 1);
	set_groups(d, 2, 1, "Executives");
	v = add_vendor(d, 0, "lookout", "low");
	v->os_supported = 1;
	add_vendor(d, 0, "zimperium", NULL);
	add_vendor(d, 1, "defender", "secured");
	d->in.prev_state = MTD_ST_COMPLIANT;
	d->in.prev_since = T0 - 3600;
}

/* Mutations of memo_dev, one per field the rules see plainly: the tables
 * below are generated from rules.h's lists, so a field added there without
 * its mutation here does not compile. */
static void mut_platform(dev *d) { d->in.platform = MTD_PLAT_IOS; }
static void mut_ownership(dev *d) { d->in.corporate = 0; }
static void mut_management(dev *d) { d->in.enrolled = 0; }
static void mut_previous(dev *d) { d->in.prev_state = MTD_ST_NONCOMPLIANT; }
static void mut_groups(dev *d) { set_groups(d, 3, 1, "Staff"); }
static void vmut_vendor(mtd_vreport *v) { v->vendor = "sophos"; }
static void vmut_level(mtd_vreport *v) { v->level = MTD_LEVEL_HIGH; }
static void vmut_missing(mtd_vreport *v) { v->level = 0; }
static void vmut_os_supported(mtd_vreport *v) { v->os_supported = v->os_supported == 1 ? 0 : 1; }
static void vmut_block_missing_data(mtd_vreport *v)
{
	v->block_missing_data = !v->block_missing_data;
}
static void vmut_block_unsupported_os(mtd_vreport *v)
{
	v->block_unsupported_os = !v->block_unsupported_os;
}
static void vmut_threat(mtd_vreport *v) { v->cause = 1; }

#define MUT_DEVICE_(name, type, value) {#name, mut_##name},
static const struct {
	const char *name;
	void (*fn)(dev *);
} device_muts[] = {MTD_RULES_DEVICE_FIELDS(MUT_DEVICE_)};
#undef MUT_DEVICE_
#define MUT_VENDOR_(name, type, value) {#name, vmut_##name},
static const struct {
	const char *name;
	void (*fn)(mtd_vreport *);
} vendor_muts[] = {MTD_RULES_VENDOR_FIELDS(MUT_VENDOR_)};
#undef MUT_VENDOR_

/* The one memo's key: two devices that differ in one field the rules see
 * plainly (every field of the lists, on the device, on a compliance vendor
 * entry and on an app-protection one) never share a decision: the second
 * is a call of its own and a memo entry of its own, and the first is still
 * served its own. */
static void memo_key_every_field(void **state)
{
	fx *f = *state;
	size_t nd = sizeof device_muts / sizeof *device_muts;
	size_t nv = sizeof vendor_muts / sizeof *vendor_muts;

	write_memo_policy(f, "true", "");
	for (size_t i = 0; i < nd + 2 * nv; i++) {
		dev a, b;
		const char *what = i < nd ? device_muts[i].name : vendor_muts[(i - nd) % nv].name;
		const char *where = i < nd ? "device" : i < nd + nv ? "vendors" : "app_vendors";
		mtd_eval_out o;
		open_memo(f);
		memo_dev(&a, "a");
		memo_dev(&b, "b");
		if (i < nd)
			device_muts[i].fn(&b);
		else
			vendor_muts[(i - nd) % nv].fn(i < nd + nv ? &b.v[0] : &b.a[0]);
		expect_call(f, &a, 1, 0);
		eval_ok(f, &b, &o);
		if (o.memo == 0 || o.nreasons < 1 || strcmp(o.reasons[0], "call 2"))
			fail_msg("%s (%s) changed, and the device got the other's decision: memo "
				 "%lld, '%s'",
				 what, where, (long long)o.memo, o.nreasons ? o.reasons[0] : "");
		expect_call(f, &a, 1, 0);
	}
}

/* Whether name is one of the list's, for memo_plain_fields_listed. */
#define NAME_IS_(n, ...) || !strcmp(name, #n)
static int listed_device(const char *name)
{
	return 0 MTD_RULES_DEVICE_FIELDS(NAME_IS_) MTD_RULES_VENDOR_LISTS(NAME_IS_);
}
static int listed_vendor(const char *name)
{
	return 0 MTD_RULES_VENDOR_FIELDS(NAME_IS_);
}
#undef NAME_IS_

/* The other half of the memo's soundness: the tables the rules get hold no
 * plain field (one pairs() walks without reading it through a metamethod)
 * outside rules.h's lists, which the key is generated from; a field pushed
 * any other way fails here. previous holds its state (from the previous
 * field's value). */
static void memo_plain_fields_listed(void **state)
{
	fx *f = *state;
	dev d;
	mtd_eval_out o;
	char *seen, *tok, *save = NULL;
	int nseen = 0;

	write_rules(f, GROUPS_DEFAULT,
		    "local M = { pure = true }\n"
		    "local function keys(t, label, out)\n"
		    "  for k in pairs(t) do out[#out + 1] = label .. ':' .. tostring(k) end\n"
		    "end\n"
		    "function M.compliance(device)\n"
		    "  local out = {}\n"
		    "  keys(device, 'device', out)\n"
		    "  for _, v in ipairs(device.vendors) do keys(v, 'vendor', out) end\n"
		    "  for _, v in ipairs(device.app_vendors) do keys(v, 'vendor', out) end\n"
		    "  if device.previous then keys(device.previous, 'previous', out) end\n"
		    "  return 'compliant', 'none', { table.concat(out, ' ') }\n"
		    "end\n"
		    "function M.app_protection() return 'none' end\n"
		    "return M\n");
	open_memo(f);
	memo_dev(&d, "a");
	d.v[0].cause = 1;
	d.a[0].block_missing_data = 1;
	eval_ok(f, &d, &o);
	assert_int_equal(o.nreasons, 1);
	seen = strdup(o.reasons[0]);
	assert_non_null(seen);
	for (tok = strtok_r(seen, " ", &save); tok; tok = strtok_r(NULL, " ", &save), nseen++) {
		const char *name = strchr(tok, ':') + 1;
		int ok = !strncmp(tok, "device:", 7)	 ? listed_device(name)
			 : !strncmp(tok, "vendor:", 7)	 ? listed_vendor(name)
			 : !strncmp(tok, "previous:", 9) ? !strcmp(name, "state")
							 : 0;
		if (!ok)
			fail_msg("plain field %s is not in rules.h's lists (the memo key does not "
				 "hold it)",
				 tok);
	}
	free(seen);
	/* platform, ownership, management, groups, vendors, app_vendors,
	 * previous; 3 vendor entries; previous.state */
	if (nseen < 7 + 3 * 4 + 1)
		fail_msg("only %d plain fields seen: %s", nseen, o.reasons[0]);
}

static void memo_same_class_one_call(void **state)
{
	fx *f = *state;
	dev a, b;

	write_memo_policy(f, "true", "");
	open_memo(f);
	memo_dev(&a, "a");
	expect_call(f, &a, 1, 0);
	/* another device, other id, OS, user, report times and previous.since,
	 * none of which the rule reads: served from the memo */
	memo_dev(&b, "b");
	b.in.os_version = "15";
	b.in.user = "other@example.com";
	b.v[0].at = T0 - 1;
	b.a[0].at = T0 - 2;
	b.in.prev_since = T0 - 7200;
	expect_call(f, &b, 1, 0);
	expect_call(f, &a, 1, 0);

	/* anything the rules see as a plain field is a new call */
	static const char *const what[] = {
		"platform", "ownership", "management", "groupset", "previous state",
		"no previous", "vendor level", "vendor name", "vendor os_supported",
		"block_missing_data", "block_unsupported_os", "one vendor less",
		"app vendor level", "vendor moved to app_vendors",
	};
	for (size_t i = 0; i < sizeof what / sizeof *what; i++) {
		memo_dev(&b, "c");
		switch (i) {
		case 0: b.in.platform = MTD_PLAT_IOS; break;
		case 1: b.in.corporate = 0; break;
		case 2: b.in.enrolled = 0; break;
		case 3: set_groups(&b, 3, 1, "Sales"); break;
		case 4: b.in.prev_state = MTD_ST_GRACE; break;
		case 5: b.in.prev_state = -1; break;
		case 6: b.v[0].level = MTD_LEVEL_MEDIUM; break;
		case 7: b.v[1].vendor = "zimperiun"; break;
		case 8: b.v[0].os_supported = 0; break;
		case 9: b.v[1].block_missing_data = 1; break;
		case 10: b.v[0].block_unsupported_os = 1; break;
		case 11: b.in.nvendors = 1; break;
		case 12: b.a[0].level = MTD_LEVEL_LOW; break;
		case 13: /* the same entries, split differently between the lists */
			b.a[1] = b.a[0];
			b.a[0] = b.v[1];
			b.in.nvendors = 1;
			b.in.napp_vendors = 2;
			break;
		}
		mtd_eval_out o;
		eval_ok(f, &b, &o);
		char want[32];
		snprintf(want, sizeof want, "call %zu", i + 2);
		if (strcmp(o.reasons[0], want) || o.memo != (int64_t)i + 1)
			fail_msg("%s changed: got '%s' (memo %lld), expected a new call '%s' as "
				 "memo %zu", what[i], joined(&o), (long long)o.memo, want, i + 1);
		/* and the next device of that class is served */
		b.in.id = "d";
		expect_call(f, &b, (int)i + 2, (int64_t)i + 1);
	}
	expect_call(f, &a, 1, 0);
}

/* The hit is the miss: state, level, action, every reason and resource. */
static void memo_hit_equals_miss(void **state)
{
	fx *f = *state;
	dev a, b;
	mtd_eval_out o1, o2;
	char saved[64][128];
	size_t ns = 0;

	write_rules(f,
		    "return {\n"
		    "  default = { max_level = 'low', app_max_level = 'low', app_action = 'wipe',\n"
		    "              resources = { 'exchange', 'payroll', 'vpn' } },\n"
		    "}\n",
		    "local M = { pure = true }\n"
		    "function M.compliance(device, policy, ctx)\n"
		    "  local r = {}\n"
		    "  for i, v in ipairs(device.vendors) do\n"
		    "    r[#r + 1] = string.format('%s reports %s (%d)', v.vendor, v.level or 'nothing', i)\n"
		    "  end\n"
		    "  r[#r + 1] = policy.from.max_level\n"
		    "  return 'noncompliant', 'high', r\n"
		    "end\n"
		    "function M.app_protection(device, policy, ctx)\n"
		    "  return policy.app_action, { 'apps ' .. policy.app_max_level, 'second' }\n"
		    "end\n"
		    "return M\n");
	open_memo(f);
	memo_dev(&a, "a");
	memo_dev(&b, "b");
	eval_ok(f, &a, &o1);
	assert_int_equal(o1.memo, 0);
	for (size_t i = 0; i < o1.nreasons; i++)
		snprintf(saved[ns++], sizeof saved[0], "%s", o1.reasons[i]);
	for (size_t i = 0; i < o1.nresources; i++)
		snprintf(saved[ns++], sizeof saved[0], "%s", o1.resources[i]);
	eval_ok(f, &b, &o2);
	assert_int_equal(o2.memo, 0);
	assert_int_equal(o2.state, MTD_ST_NONCOMPLIANT);
	assert_int_equal(o2.state, o1.state);
	assert_int_equal(o2.level, MTD_LEVEL_HIGH);
	assert_int_equal(o2.app_action, MTD_APP_WIPE);
	assert_int_equal(o2.nreasons, 5);
	assert_int_equal(o2.nresources, 3);
	assert_int_equal(o2.nreasons + o2.nresources, ns);
	for (size_t i = 0; i < o2.nreasons; i++)
		assert_string_equal(o2.reasons[i], saved[i]);
	for (size_t i = 0; i < o2.nresources; i++)
		assert_string_equal(o2.resources[i], saved[o2.nreasons + i]);
	assert_string_equal(joined(&o2), "lookout reports low (1) | zimperium reports nothing (2) | "
					 "default | apps low | second");
	assert_string_equal(o2.resources[2], "vpn");
	/* memo strings stay valid after later evaluations, until close */
	memo_dev(&b, "c");
	b.in.platform = MTD_PLAT_IOS;
	eval_ok(f, &b, &o1);
	assert_int_equal(o1.memo, 1);
	assert_string_equal(o2.reasons[0], "lookout reports low (1)");
	assert_string_equal(o2.resources[1], "payroll");
}

/* Reading a device-specific field makes the call's result not reused: each
 * device gets its own, and sees its own values. */
static void memo_device_fields_taint(void **state)
{
	fx *f = *state;
	static const char *const reads[] = {
		"device.id", "device.os_version", "device.user", "device.previous.since",
		"device.vendors[1].at", "#device.vendors[1].threats",
		"device.app_vendors[1].at", "device.app_vendors[1].threats == nil",
	};
	unsigned char tp[2][16] = {{0x91, 0x81, 0xa2, 'i', 'd', 0xa2, 't', '1'},
				   {0x92, 0x81, 0xa2, 'i', 'd', 0xa2, 't', '1', 0x80}};

	for (size_t i = 0; i < sizeof reads / sizeof *reads; i++) {
		char body[256];
		snprintf(body, sizeof body, "extra = tostring(%s)", reads[i]);
		write_memo_policy(f, "true", body);
		open_memo(f);
		for (int k = 0; k < 3; k++) {
			dev d;
			mtd_eval_out o;
			char id[16], os[16], user[16], want[64];
			snprintf(id, sizeof id, "dev-%d", k);
			snprintf(os, sizeof os, "os-%d", k);
			snprintf(user, sizeof user, "user-%d", k);
			memo_dev(&d, id);
			d.in.os_version = os;
			d.in.user = user;
			d.in.prev_since = T0 - k;
			d.v[0].at = T0 - 10 - k;
			d.v[0].threats = tp[k & 1];
			d.v[0].threats_len = k & 1 ? 9 : 8;
			d.a[0].at = T0 - 20 - k;
			eval_ok(f, &d, &o);
			snprintf(want, sizeof want, "call %d", k + 1);
			if (o.nreasons != 2 || strcmp(o.reasons[0], want) || o.memo != -1)
				fail_msg("reading %s: device %d got '%s' (memo %lld), expected a call "
					 "of its own", reads[i], k, joined(&o), (long long)o.memo);
			{
				static const char *const w[][3] = {
					{"dev-0", "dev-1", "dev-2"}, {"os-0", "os-1", "os-2"},
					{"user-0", "user-1", "user-2"},
					{"1709251200", "1709251199", "1709251198"},
					{"1709251190", "1709251189", "1709251188"}, {"1", "2", "1"},
					{"1709251180", "1709251179", "1709251178"},
					{"true", "true", "true"},
				};
				assert_string_equal(o.reasons[1], w[i][k]);
			}
		}
	}
}

/* A rule that reads a report's time only for high devices is memoized for
 * the others. */
static void memo_conditional_read(void **state)
{
	fx *f = *state;
	dev d;

	write_memo_policy(f, "true",
			  "for _, v in ipairs(device.vendors) do\n"
			  "    if v.level == 'high' then extra = 'high since ' .. v.at end\n"
			  "  end");
	open_memo(f);
	memo_dev(&d, "low-1");
	expect_call(f, &d, 1, 0);
	memo_dev(&d, "low-2");
	d.v[0].at = T0 - 999;
	expect_call(f, &d, 1, 0);
	for (int k = 0; k < 3; k++) {
		mtd_eval_out o;
		char want[64];
		memo_dev(&d, "high");
		d.v[0].level = MTD_LEVEL_HIGH;
		d.v[0].at = T0 - k;
		eval_ok(f, &d, &o);
		assert_int_equal(o.memo, -1);
		snprintf(want, sizeof want, "call %d | high since %lld", k + 2, (long long)(T0 - k));
		assert_string_equal(joined(&o), want);
	}
	/* a vendor without a report has no time to read: still memoized */
	write_memo_policy(f, "true", "extra = tostring(device.vendors[2].at) .. tostring(device.vendors[2].threats)");
	open_memo(f);
	memo_dev(&d, "a");
	expect_call(f, &d, 1, 0);
	memo_dev(&d, "b");
	expect_call(f, &d, 1, 0);
}

static void memo_random_and_addresses_taint(void **state)
{
	fx *f = *state;
	static const char *const bodies[] = {
		"extra = tostring(math.random(1000000))",
		"math.randomseed(7)",
		"extra = tostring(device)",
		"extra = string.format('%p', device.vendors)",
		"extra = string.format('%s', {})",
	};
	for (size_t i = 0; i < sizeof bodies / sizeof *bodies; i++) {
		dev d;
		write_memo_policy(f, "true", bodies[i]);
		open_memo(f);
		memo_dev(&d, "a");
		expect_call(f, &d, 1, -1);
		expect_call(f, &d, 2, -1);
	}
	/* formatting plain values does not */
	{
		dev d;
		write_memo_policy(f, "true", "extra = string.format('%s %d', tostring(device.platform), #device.vendors)");
		open_memo(f);
		memo_dev(&d, "a");
		expect_call(f, &d, 1, 0);
		expect_call(f, &d, 1, 0);
	}
}

static void memo_needs_both_opt_ins(void **state)
{
	fx *f = *state;
	dev d;

	memo_dev(&d, "a");
	/* pure = false, nil: every device is a call, whatever the caller asks */
	write_memo_policy(f, "false", "");
	open_memo(f);
	assert_false(mtd_rules_pure(f->r));
	expect_call(f, &d, 1, -1);
	expect_call(f, &d, 2, -1);
	write_memo_policy(f, "nil", "");
	open_memo(f);
	expect_call(f, &d, 1, -1);
	expect_call(f, &d, 2, -1);
	/* pure, but the memo off (the default) */
	write_memo_policy(f, "true", "");
	open_ok(f, NULL, 0, 0);
	assert_true(mtd_rules_pure(f->r));
	expect_call(f, &d, 1, -1);
	expect_call(f, &d, 2, -1);
	mtd_rules_memo(f->r, 1);
	expect_call(f, &d, 3, 0);
	expect_call(f, &d, 3, 0);
	mtd_rules_memo(f->r, 0);
	expect_call(f, &d, 4, -1);
}

static void memo_pure_invalid(void **state)
{
	fx *f = *state;
	write_memo_policy(f, "'yes'", "");
	open_bad(f, "pure must be true or false");
	assert_contains(f->err, "policy.lua");
	assert_contains(f->err, "string");
	write_memo_policy(f, "1", "");
	open_bad(f, "pure must be true or false");
}

/* A failing call is not cached; the next device of its class is a call. */
static void memo_errors_not_cached(void **state)
{
	fx *f = *state;
	dev d;

	write_memo_policy(f, "true", "if calls == 1 then error('first call fails') end");
	open_memo(f);
	memo_dev(&d, "a");
	eval_bad(f, &d, "first call fails");
	expect_call(f, &d, 2, 0);
	expect_call(f, &d, 2, 0);

	/* an invalid result neither */
	write_memo_policy(f, "true", "if calls == 1 then return 'green', 'none' end");
	open_memo(f);
	eval_bad(f, &d, "state 'green'");
	expect_call(f, &d, 2, 0);

	/* nor a call cut short by the instruction budget */
	write_memo_policy(f, "true", "if calls == 1 then while true do end end");
	open_ok(f, NULL, 0, 100000);
	mtd_rules_memo(f->r, 1);
	eval_bad(f, &d, "instruction limit");
	expect_call(f, &d, 2, 0);
}

/* Fields served on access: not seen by rawget or pairs until read; a device
 * table kept from an earlier call reads nil, not another device. */
static void lazy_fields(void **state)
{
	fx *f = *state;
	dev d;
	mtd_eval_out o;

	write_policy_with(f, "",
			  "  local keys = {}\n"
			  "  for k in pairs(device) do keys[#keys + 1] = k end\n"
			  "  table.sort(keys)\n"
			  "  local before = tostring(rawget(device, 'id'))\n"
			  "  local id = device.id\n"
			  "  local v = device.vendors[1]\n"
			  "  local vk = {}\n"
			  "  for k in pairs(v) do vk[#vk + 1] = k end\n"
			  "  table.sort(vk)\n"
			  "  local at1, at2 = v.at, rawget(v, 'at')\n"
			  "  local r = { table.concat(keys, ','), table.concat(vk, ','), before, id,\n"
			  "    tostring(rawget(device, 'id')), tostring(at1 == at2), tostring(getmetatable(device)),\n"
			  "    tostring(device.apps), tostring(device.nonexistent) }\n"
			  "  local kept = rawget(_G, 'kept')\n"
			  "  if kept then\n"
			  "    r[#r + 1] = tostring(kept.id) .. ' ' .. tostring(kept.user) .. ' ' ..\n"
			  "      tostring(kept.vendors[1].at) .. ' ' .. tostring(kept.previous.since)\n"
			  "  end\n"
			  "  rawset(_G, 'kept', device)\n"
			  "  return 'compliant', 'none', r");
	open_ok(f, NULL, 0, 0);
	memo_dev(&d, "first");
	eval_ok(f, &d, &o);
	assert_string_equal(joined(&o),
			    "app_vendors,groups,management,ownership,platform,previous,vendors | "
			    "block_missing_data,block_unsupported_os,level,os_supported,vendor | nil | "
			    "first | first | true | false | nil | nil");
	memo_dev(&d, "second");
	eval_ok(f, &d, &o);
	assert_contains(joined(&o), "| second | second |");
	/* what the first call read was rawset into its tables; the rest reads nil */
	assert_contains(joined(&o), "| first nil 1709251140 nil");

	/* the inventory, when asked for */
	write_rules(f, NULL,
		    "local M = { inventory = true, pure = true }\n"
		    "function M.compliance(device)\n"
		    "  local a = device.apps\n"
		    "  return 'compliant', 'none', { tostring(#a), a[1] and a[1].app_id or '-' }\n"
		    "end\n"
		    "function M.app_protection() return 'none' end\n"
		    "return M\n");
	open_memo(f);
	{
		mtd_app_view apps[1] = {{"com.x", NULL, NULL, "X", -1, -1, 1, -1, -1, -1, -1, -1}};
		memo_dev(&d, "a");
		d.in.apps = apps;
		d.in.napps = 1;
		eval_ok(f, &d, &o);
		assert_string_equal(joined(&o), "1 | com.x");
		assert_int_equal(o.memo, -1);
		d.in.napps = 0;
		eval_ok(f, &d, &o);
		assert_string_equal(joined(&o), "0 | -");
		assert_int_equal(o.memo, -1);
	}
}

/* Distinct inputs up to the memo's bounds and past them: results stay
 * right; a full memo only stops storing. */
static void memo_bounds(void **state)
{
	fx *f = *state;
	dev d;
	mtd_eval_out o;
	char name[32], want[64];
	const int n = 65536 + 10;

	write_rules(f, GROUPS_DEFAULT,
		    "local M = { pure = true }\n"
		    "function M.compliance(device)\n"
		    "  return 'compliant', 'none', { device.groups[1] }\n"
		    "end\n"
		    "function M.app_protection() return 'none' end\n"
		    "return M\n");
	open_memo(f);
	memo_dev(&d, "a");
	/* distinct group sets (a vendor name's code in the key is 16 bits) */
	for (int i = 0; i < n; i++) {
		snprintf(name, sizeof name, "v%d", i);
		set_groups(&d, 10 + i, 1, name);
		eval_ok(f, &d, &o);
		assert_string_equal(o.reasons[0], name);
		assert_int_equal(o.memo, i < 65536 ? i : -1);
	}
	/* what was stored is still served */
	set_groups(&d, 10 + 12345, 1, "v12345");
	eval_ok(f, &d, &o);
	assert_int_equal(o.memo, 12345);
	assert_string_equal(o.reasons[0], "v12345");

	/* the byte bound: results of 32 reasons of 2 KiB fill 32 MiB in ~512 */
	write_rules(f, GROUPS_DEFAULT,
		    "local M = { pure = true }\n"
		    "function M.compliance(device)\n"
		    "  local r = {}\n"
		    "  for i = 1, 32 do r[i] = device.vendors[1].vendor .. string.rep('x', 2048) end\n"
		    "  return 'compliant', 'none', r\n"
		    "end\n"
		    "function M.app_protection() return 'none' end\n"
		    "return M\n");
	open_memo(f);
	{
		int stored = 0, first_full = -1;
		for (int i = 0; i < 600; i++) {
			snprintf(name, sizeof name, "v%d", i);
			d.v[0].vendor = name;
			eval_ok(f, &d, &o);
			snprintf(want, sizeof want, "%sxxxx", name);
			assert_int_equal(o.nreasons, 32);
			assert_true(!strncmp(o.reasons[31], want, strlen(want)));
			if (o.memo >= 0) {
				assert_int_equal(o.memo, stored);
				assert_int_equal(first_full, -1); /* once full, full */
				stored++;
			} else if (first_full < 0) {
				first_full = i;
			}
		}
		assert_true(stored > 400 && stored < 520);
		d.v[0].vendor = "v7";
		eval_ok(f, &d, &o);
		assert_int_equal(o.memo, 7);
		assert_true(!strncmp(o.reasons[0], "v7xxx", 5));
	}

}

/* A vendor entry's open threats (each with since) and the one that sets
 * its level: served on access; an entry without such a threat reads nil
 * and stays memoizable, one with it is its own call, whose reason (default
 * policy) names the threat. */
static void open_threats_and_cause(void **state)
{
	fx *f = *state;
	dev d;
	mtd_eval_out o;
	msgpack_sbuffer sb;
	msgpack_packer pk;
	mtd_vreport *v;

	msgpack_sbuffer_init(&sb);
	msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
	msgpack_pack_array(&pk, 2);
	/* a snapshot's threat, without since, then an event's */
	msgpack_pack_map(&pk, 3);
	msgpack_pack_str_with_body(&pk, "category", 8);
	msgpack_pack_str_with_body(&pk, "os", 2);
	msgpack_pack_str_with_body(&pk, "name", 4);
	msgpack_pack_str_with_body(&pk, "Old OS", 6);
	msgpack_pack_str_with_body(&pk, "level", 5);
	msgpack_pack_str_with_body(&pk, "low", 3);
	msgpack_pack_map(&pk, 5);
	msgpack_pack_str_with_body(&pk, "id", 2);
	msgpack_pack_str_with_body(&pk, "t9", 2);
	msgpack_pack_str_with_body(&pk, "category", 8);
	msgpack_pack_str_with_body(&pk, "app", 3);
	msgpack_pack_str_with_body(&pk, "name", 4);
	msgpack_pack_str_with_body(&pk, "Spyware", 7);
	msgpack_pack_str_with_body(&pk, "level", 5);
	msgpack_pack_str_with_body(&pk, "high", 4);
	msgpack_pack_str_with_body(&pk, "since", 5);
	msgpack_pack_int64(&pk, T0 - 30);

	open_ok(f, MTD_TEST_RULES_DIR, 0, 0);
	mtd_rules_memo(f->r, 1);
	dev_init(&d, "d1", MTD_PLAT_IOS, 1);
	v = add_vendor(&d, 0, "lookout", "high");
	v->threats = sb.data;
	v->threats_len = sb.size;
	eval_ok(f, &d, &o); /* no cause: the snapshot's level */
	EXPECT(&o, MTD_ST_NONCOMPLIANT, MTD_LEVEL_HIGH, MTD_APP_NONE);
	assert_int_equal(o.memo, 0);
	assert_null(strstr(joined(&o), "Spyware"));
	v->cause = 2;
	eval_ok(f, &d, &o);
	EXPECT(&o, MTD_ST_NONCOMPLIANT, MTD_LEVEL_HIGH, MTD_APP_NONE);
	assert_int_equal(o.memo, -1);
	assert_non_null(strstr(joined(&o), "lookout reports high: threat 'Spyware' (t9, app) open since"));
	v->cause = 0; /* the memo answers without the threat */
	eval_ok(f, &d, &o);
	assert_int_equal(o.memo, 0);

	/* what the rules see: every open threat with since; the cause */
	write_rules(f, GROUPS_DEFAULT, "return { pure = true,\n"
			"  compliance = function(d)\n"
			"    local v = d.vendors[1]\n"
			"    local t = v.threats\n"
			"    return 'compliant', 'low', { string.format('%d %s %d %s %d %s', #t,\n"
			"      t[1].name, t[1].since, t[2].id, t[2].since, v.threat and v.threat.name or 'none') }\n"
			"  end,\n"
			"  app_protection = function() return 'none' end }\n");
	open_ok(f, NULL, 0, 0);
	v->cause = 2;
	eval_ok(f, &d, &o);
	assert_string_equal(o.reasons[0], "2 Old OS 1709251140 t9 1709251170 Spyware");
	v->cause = 1;
	eval_ok(f, &d, &o);
	assert_string_equal(o.reasons[0], "2 Old OS 1709251140 t9 1709251170 Old OS");
	v->cause = 0;
	eval_ok(f, &d, &o);
	assert_string_equal(o.reasons[0], "2 Old OS 1709251140 t9 1709251170 none");
	msgpack_sbuffer_destroy(&sb);
}

/* The default policy declares itself pure, and is memoized. */
static void memo_default_policy(void **state)
{
	fx *f = *state;
	dev d;
	mtd_eval_out o;

	open_ok(f, MTD_TEST_RULES_DIR, 0, 0);
	assert_true(mtd_rules_pure(f->r));
	mtd_rules_memo(f->r, 1);
	dev_init(&d, "d1", MTD_PLAT_IOS, 1);
	add_vendor(&d, 0, "lookout", "high");
	eval_ok(f, &d, &o);
	EXPECT(&o, MTD_ST_NONCOMPLIANT, MTD_LEVEL_HIGH, MTD_APP_NONE);
	assert_int_equal(o.memo, 0);
	d.in.id = "d2";
	eval_ok(f, &d, &o);
	EXPECT(&o, MTD_ST_NONCOMPLIANT, MTD_LEVEL_HIGH, MTD_APP_NONE);
	assert_int_equal(o.memo, 0);
	/* a grace period that started before reads previous.since: its own call */
	{
		char *g = tu_read(MTD_TEST_RULES_DIR "/policy.lua", NULL);
		assert_non_null(g);
		write_rules(f, "return { default = { max_level = 'medium', grace_hours = 4 } }\n", g);
		free(g);
	}
	open_ok(f, NULL, 0, 0);
	mtd_rules_memo(f->r, 1);
	for (int k = 1; k <= 2; k++) {
		char want[64];
		d.in.prev_state = MTD_ST_GRACE;
		d.in.prev_since = T0 - 3600 * k;
		eval_ok(f, &d, &o);
		EXPECT(&o, MTD_ST_GRACE, MTD_LEVEL_HIGH, MTD_APP_NONE);
		assert_int_equal(o.memo, -1);
		snprintf(want, sizeof want, "until 2024-03-01T0%d:00:00Z", 4 - k);
		assert_contains(joined(&o), want);
	}
}

/* ---- authoring: errors that name the value, check and test (issue 17) ---- */

/* Rules that read an app's bundle_size, which some apps lack (line 5). */
static const char INVENTORY_POLICY[] =
	"return { inventory = true,\n"
	"  compliance = function(device) return 'compliant', 'none' end,\n"
	"  app_protection = function(device)\n"
	"    for _, a in ipairs(device.apps) do\n"
	"      if a.bundle_size > 1000 then return 'warn' end\n"
	"    end\n"
	"    return 'none'\n"
	"  end }\n";

/* A runtime error names the script, the line and the value the script was
 * handed: a device field it lacks, an app's, a vendor entry's, the
 * policy's. */
static void runtime_error_names_value(void **state)
{
	fx *f = *state;
	dev d;
	write_policy_with(f, "", "if device.os_version < \"17\" then end");
	open_ok(f, NULL, 0, 0);
	dev_init(&d, "d1", MTD_PLAT_IOS, 1);
	d.in.os_version = NULL;
	eval_bad(f, &d, "policy.lua:4: attempt to compare nil with string (device field "
			"'os_version' = nil)");

	write_policy_with(f, "", "for _, v in ipairs(device.vendors) do "
				 "if mtd.above(v.level, 'low') then end end");
	open_ok(f, NULL, 0, 0);
	dev_init(&d, "d1", MTD_PLAT_IOS, 1);
	add_vendor(&d, 0, "lookout", "low");
	add_vendor(&d, 0, "zimperium", NULL);
	eval_bad(f, &d, "policy.lua:4: bad argument #1 to 'above'");
	assert_contains(f->err, "(device.vendors entry 'zimperium' field 'level' = nil)");

	write_policy_with(f, "", "if mtd.level(policy.max_level) > 2 then end");
	write_rules(f, "return { default = { app_max_level = \"low\" } }\n", NULL);
	open_ok(f, NULL, 0, 0);
	dev_init(&d, "d1", MTD_PLAT_IOS, 1);
	eval_bad(f, &d, "(policy field 'max_level' = nil)");

	/* the inventory: an app without the field */
	write_rules(f, GROUPS_DEFAULT, INVENTORY_POLICY);
	open_ok(f, NULL, 0, 0);
	{
		mtd_app_view apps[2] = {
			{"com.example.big", "1", "1", "Big", 5000, -1, 0, 1, 0, 0, 1, 1},
			{"com.example.bare", NULL, NULL, NULL, -1, -1, -1, -1, -1, -1, -1, -1}};
		mtd_eval_out o;
		dev_init(&d, "d1", MTD_PLAT_IOS, 1);
		d.in.apps = apps;
		d.in.napps = 1;
		eval_ok(f, &d, &o);
		assert_int_equal(o.app_action, MTD_APP_WARN);
		d.in.apps = &apps[1];
		eval_bad(f, &d, "policy.lua:5: attempt to compare number with nil (device.apps entry "
				"'com.example.bare' field 'bundle_size' = nil)");
	}
	/* a script's own error is left as it is */
	write_policy_with(f, "", "error('no such thing')");
	open_ok(f, NULL, 0, 0);
	dev_init(&d, "d1", MTD_PLAT_IOS, 1);
	eval_bad(f, &d, "policy.lua:4: no such thing");
	assert_not_contains(f->err, "field '");
}

typedef struct lines {
	char text[16384];
	int problems, warnings;
} lines;

static void collect(void *ud, int ok, const char *msg)
{
	lines *l = ud;
	size_t k = strlen(l->text);
	snprintf(l->text + k, sizeof l->text - k, "%s %s\n", ok == 2 ? "warn" : ok ? "ok" : "FAIL",
		 msg);
	l->problems += ok == 0;
	l->warnings += ok == 2;
}

/* A handle on a store under f->dir (not created unless init). */
static mtd_t *handle(fx *f, int init)
{
	mtd_config cfg = {0};
	mtd_t *h;
	cfg.db_path = tu_path(f->dir, "store.db");
	cfg.rules_dir = f->dir;
	cfg.now = T0;
	assert_int_equal(mtd_open(&cfg, &h), 0);
	if (init)
		assert_int_equal(mtd_init(h, "commercial"), 0);
	return h;
}

/* rules check runs the example devices with app inventories: a rule that
 * fails on an app's missing field fails the check, naming it. */
static void check_runs_inventory(void **state)
{
	fx *f = *state;
	lines l = {0};
	mtd_t *h;
	write_rules(f, GROUPS_DEFAULT, INVENTORY_POLICY);
	h = handle(f, 0);
	assert_int_equal(mtd_rules_check(h, f->dir, collect, &l), MTD_ERULES);
	assert_contains(l.text, "policy.lua:5: attempt to compare number with nil");
	assert_contains(l.text, "field 'bundle_size' = nil");
	assert_contains(mtd_errmsg(h), "bundle_size");

	/* guarded, it passes, and says it ran the inventories */
	memset(&l, 0, sizeof l);
	write_rules(f, NULL,
		    "return { inventory = true,\n"
		    "  compliance = function(device) return 'compliant', 'none' end,\n"
		    "  app_protection = function(device)\n"
		    "    for _, a in ipairs(device.apps) do\n"
		    "      if (a.bundle_size or 0) > 1000 then return 'warn' end\n"
		    "    end\n"
		    "    return 'none'\n"
		    "  end }\n");
	assert_int_equal(mtd_rules_check(h, f->dir, collect, &l), 0);
	assert_contains(l.text, "with their app inventories");
	assert_int_equal(l.problems, 0);
	/* a device field some devices lack: found too */
	memset(&l, 0, sizeof l);
	write_policy_with(f, "", "local v = device.user:lower()");
	assert_int_equal(mtd_rules_check(h, f->dir, collect, &l), MTD_ERULES);
	assert_contains(l.text, "attempt to index a nil value (field 'user') (device field 'user' = nil)");
	mtd_close(h);
}

/* rules check compares groups.lua with the store's devices: a misspelled
 * group is a warning (exit 0 stays), naming both spellings. */
static void check_groups_against_store(void **state)
{
	fx *f = *state;
	lines l = {0};
	mtd_stats st;
	mtd_t *h;
	FILE *in;
	static const char devices[] =
		"{\"id\":\"d1\",\"platform\":\"ios\",\"ownership\":\"corporate\","
		"\"management\":\"enrolled\",\"groups\":[\"Executives\"]}\n"
		"{\"id\":\"d2\",\"platform\":\"ios\",\"ownership\":\"corporate\","
		"\"management\":\"enrolled\",\"groups\":[\"Executives\",\"Sales\"]}\n"
		"{\"id\":\"d3\",\"platform\":\"ios\",\"ownership\":\"corporate\","
		"\"management\":\"enrolled\",\"groups\":[]}\n";
	write_policy_with(f, "", "");
	/* no store: said, no warning */
	h = handle(f, 0);
	assert_int_equal(mtd_rules_check(h, f->dir, collect, &l), 0);
	assert_contains(l.text, "no store at");
	assert_int_equal(l.warnings, 0);
	mtd_close(h);

	h = handle(f, 1);
	in = fmemopen((void *)devices, sizeof devices - 1, "r");
	assert_non_null(in);
	assert_int_equal(mtd_device_import(h, in, "devices.jsonl", &st), 0);
	fclose(in);
	memset(&l, 0, sizeof l);
	assert_int_equal(mtd_rules_check(h, f->dir, collect, &l), 0);
	assert_int_equal(l.warnings, 0);
	assert_contains(l.text, "its groups match the groups of the devices");

	write_rules(f, "return {\n"
		       "  default = { max_level = \"medium\" },\n"
		       "  Executves = { max_level = \"low\" },\n"
		       "}\n", NULL);
	memset(&l, 0, sizeof l);
	assert_int_equal(mtd_rules_check(h, f->dir, collect, &l), 0);
	assert_int_equal(l.problems, 0);
	assert_contains(l.text, "groups.lua:3: group 'Executves': no device in the store is in it "
				"(did you mean 'Executives'?)");
	assert_contains(l.text, "2 devices are in group 'Executives', which");
	assert_contains(l.text, "has no entry for; those in no named group get default (did you "
				"mean 'Executves'?)");
	assert_contains(l.text, "2 devices (2 group sets) in groups, none of which");
	/* the device without groups gets default as meant: not counted */
	assert_not_contains(l.text, "3 devices");
	mtd_close(h);
}

static unsigned run_tests_lua(fx *f, const char *tests, lines *l, unsigned *passed)
{
	mtd_t *h = handle(f, 0);
	unsigned failed = 0;
	tu_write_str(f->dir, "tests.lua", tests);
	memset(l, 0, sizeof *l);
	mtd_rules_test(h, f->dir, collect, l, passed, &failed);
	mtd_close(h);
	return failed;
}

/* An unknown key in a tests.lua case is an error naming the case and the
 * key, wherever it is; the case does not pass. */
static void tests_unknown_keys(void **state)
{
	fx *f = *state;
	lines l;
	unsigned passed;
	static const struct {
		const char *device, *expect, *extra, *key;
	} bad[] = {
		{"platform = 'ios'", "acess = 'allow'", "", "expect.acess"},
		{"platform = 'ios', group = { 'Executives' }", "state = 'compliant'", "", "device.group"},
		{"platform = 'ios', vendors = { lookout = { level = 'low', block_unsuported_os = true } }",
		 "state = 'compliant'", "", "device.vendors.lookout.block_unsuported_os"},
		{"platform = 'ios', previous = { state = 'compliant', hours = 2 }", "state = 'compliant'",
		 "", "device.previous.hours"},
		{"platform = 'ios', apps = { { app_id = 'x', adhoc = true } }", "state = 'compliant'", "",
		 "device.apps[1].adhoc"},
		{"platform = 'ios'", "state = 'compliant'", "expected = { level = 'high' },", "'expected'"},
	};
	write_policy_with(f, "", "");
	for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
		char t[1024];
		snprintf(t, sizeof t,
			 "return {\n"
			 "  { name = 'good', device = { platform = 'ios' }, expect = { state = 'compliant' } },\n"
			 "  { name = 'typo %zu', %s device = { %s }, expect = { %s } },\n"
			 "}\n",
			 i, bad[i].extra, bad[i].device, bad[i].expect);
		if (run_tests_lua(f, t, &l, &passed) != 1)
			fail_msg("case %zu: %s", i, l.text);
		assert_int_equal(passed, 1);
		assert_contains(l.text, "case 2 'typo");
		assert_contains(l.text, "unknown key ");
		assert_contains(l.text, bad[i].key);
	}
	/* a case that expects nothing, or a reason that is not a list */
	assert_int_equal(run_tests_lua(f, "return { { name = 'n', device = { platform = 'ios' } } }", &l,
				   &passed), 1);
	assert_contains(l.text, "'n': no expect table");
	assert_int_equal(run_tests_lua(f, "return { { name = 'r', device = { platform = 'ios' }, "
				      "expect = { reasons = 'x' } } }", &l, &passed), 1);
	assert_contains(l.text, "expect.reasons: must be a list");
	/* every documented key is accepted */
	assert_int_equal(run_tests_lua(f,
				   "return { { name = 'all', device = { id = 'x', platform = 'ios',\n"
				   "  management = 'enrolled', ownership = 'corporate', os_version = '17',\n"
				   "  user = 'u', groups = { 'Executives' }, vendors = { lookout = { level = 'low',\n"
				   "  os_supported = true, block_missing_data = false, block_unsupported_os = false } },\n"
				   "  app_vendors = { lookout = 'low' }, previous = { state = 'compliant', hours_ago = 1 },\n"
				   "  apps = { { app_id = 'a', version = '1', short_version = '1', name = 'A',\n"
				   "  bundle_size = 1, dynamic_size = 2, adhoc_signed = false, app_store = true,\n"
				   "  beta = false, vpp = false, validated = true, managed = true } } },\n"
				   "  expect = { state = 'compliant', level = 'none', access = 'allow',\n"
				   "  app_protection = 'none', reasons = {} } } }\n",
				   &l, &passed), 0);
	assert_int_equal(passed, 1);
}

/* ---- security tasks: device.tasks and rules/tasks.lua ---- */

typedef struct tasks_fx {
	mtd_task_view v[4];
	size_t n;
	int calls, fail;
} tasks_fx;

static int tasks_of(void *ud, const mtd_eval_in *in, const mtd_task_view **out, size_t *n)
{
	tasks_fx *t = ud;
	(void)in;
	t->calls++;
	if (t->fail)
		return MTD_ESTORE;
	*out = t->v;
	*n = t->n;
	return 0;
}

/* The default rules with rules/tasks.lua switched on (USE_TASKS = true). */
static void write_tasks_rules(fx *f)
{
	static const char *const files[] = {"groups.lua", "tasks.lua", "policy.lua"};
	for (int i = 0; i < 3; i++) {
		char path[512], *text, *sw;
		size_t len;
		snprintf(path, sizeof path, "%s/%s", MTD_TEST_RULES_DIR, files[i]);
		text = tu_read(path, &len);
		assert_non_null(text);
		if (i == 2) {
			sw = strstr(text, "local USE_TASKS = false");
			assert_non_null(sw);
			memcpy(sw + strlen("local USE_TASKS = "), "true; ", 6);
		}
		tu_write_str(f->dir, files[i], text);
		free(text);
	}
}

static void task_dev(dev *d, const char *id, tasks_fx *t)
{
	dev_init(d, id, MTD_PLAT_WINDOWS, 1);
	add_vendor(d, 0, "defender", "low");
	d->in.tasks = tasks_of;
	d->in.tasks_ud = t;
}

static void tasks_rule(void **state)
{
	fx *f = *state;
	dev d;
	mtd_eval_out o;
	tasks_fx t = {0};

	write_tasks_rules(f);
	open_ok(f, NULL, 0, 0);
	mtd_rules_memo(f->r, 1);

	/* a critical vulnerability first seen 20 days ago: noncompliant, named */
	t.v[0] = (mtd_task_view){"defender", "CVE-2024-3094", "vulnerability", "CVE-2024-3094",
				 "xz-utils", "5.6.0", "critical", T0 - 20 * 86400};
	t.n = 1;
	task_dev(&d, "w1", &t);
	eval_ok(f, &d, &o);
	EXPECT(&o, MTD_ST_NONCOMPLIANT, MTD_LEVEL_LOW, MTD_APP_NONE);
	assert_contains(joined(&o), "defender: critical vulnerability CVE-2024-3094 (task "
				    "CVE-2024-3094) in xz-utils 5.6.0 open since 2024-02-10T00:00:00Z, "
				    "more than 14 days");
	assert_int_equal(o.memo, -1); /* device.tasks is the device's own */
	assert_int_equal(t.calls, 1);

	/* the same device class without tasks: compliant, not the memo's answer */
	t.n = 0;
	task_dev(&d, "w2", &t);
	eval_ok(f, &d, &o);
	EXPECT(&o, MTD_ST_COMPLIANT, MTD_LEVEL_LOW, MTD_APP_NONE);
	assert_not_contains(joined(&o), "vulnerability");

	/* not overdue, not critical, or not a vulnerability: compliant */
	{
		static const struct {
			const char *kind, *sev;
			int days;
		} ok[] = {{"vulnerability", "critical", 14},
			  {"vulnerability", "high", 90},
			  {"recommendation", "critical", 90}};
		for (size_t i = 0; i < sizeof ok / sizeof *ok; i++) {
			t.v[0] = (mtd_task_view){"defender", "t1", ok[i].kind, NULL, NULL, NULL,
						 ok[i].sev, T0 - ok[i].days * 86400};
			t.n = 1;
			task_dev(&d, "w3", &t);
			eval_ok(f, &d, &o);
			EXPECT(&o, MTD_ST_COMPLIANT, MTD_LEVEL_LOW, MTD_APP_NONE);
		}
	}

	/* one reason per overdue task; a task without a CVE says so */
	t.v[0] = (mtd_task_view){"defender", "CVE-2023-1", "vulnerability", "CVE-2023-0001", NULL,
				 NULL, "critical", T0 - 30 * 86400};
	t.v[1] = (mtd_task_view){"defender", "vuln-x", "vulnerability", NULL, NULL, NULL,
				 "critical", T0 - 15 * 86400};
	t.n = 2;
	task_dev(&d, "w4", &t);
	eval_ok(f, &d, &o);
	EXPECT(&o, MTD_ST_NONCOMPLIANT, MTD_LEVEL_LOW, MTD_APP_NONE);
	assert_contains(joined(&o), "CVE-2023-0001 (task CVE-2023-1) open since");
	assert_contains(joined(&o), "vulnerability without a CVE (task vuln-x) open since");

	/* reading them fails: the call fails, naming the device */
	t.fail = 1;
	task_dev(&d, "w5", &t);
	eval_bad(f, &d, "reading the security tasks of device 'w5'");
	t.fail = 0;

	/* the default rules do not read them: devices still share decisions */
	open_ok(f, MTD_TEST_RULES_DIR, 0, 0);
	mtd_rules_memo(f->r, 1);
	t.calls = 0;
	t.v[0] = (mtd_task_view){"defender", "CVE-2024-3094", "vulnerability", "CVE-2024-3094",
				 NULL, NULL, "critical", T0 - 20 * 86400};
	t.n = 1;
	task_dev(&d, "w6", &t);
	eval_ok(f, &d, &o);
	EXPECT(&o, MTD_ST_COMPLIANT, MTD_LEVEL_LOW, MTD_APP_NONE);
	assert_true(o.memo >= 0);
	assert_int_equal(t.calls, 0);
}

/* What device.tasks looks like to a script, and that it is nil-free. */
static void tasks_as_seen(void **state)
{
	fx *f = *state;
	dev d;
	mtd_eval_out o;
	tasks_fx t = {0};

	write_policy_with(f, "",
			  "local t = device.tasks\n"
			  "  local r = { tostring(#t) }\n"
			  "  for _, x in ipairs(t) do r[#r + 1] = table.concat({x.vendor, x.id, x.kind,\n"
			  "    x.cve or '-', x.software or '-', x.version or '-', x.severity,\n"
			  "    tostring(x.first_seen), x.state}, ',') end\n"
			  "  return 'compliant', 'none', r");
	open_ok(f, NULL, 0, 0);
	t.v[0] = (mtd_task_view){"defender", "CVE-2024-1", "vulnerability", "CVE-2024-0001", "openssl",
				 "3.0.1", "high", 100};
	t.v[1] = (mtd_task_view){"defender", "sca-1", "recommendation", NULL, NULL, NULL, "low", 7};
	t.n = 2;
	task_dev(&d, "w1", &t);
	eval_ok(f, &d, &o);
	assert_string_equal(joined(&o), "2 | defender,CVE-2024-1,vulnerability,CVE-2024-0001,openssl,"
					"3.0.1,high,100,open | defender,sca-1,recommendation,-,-,-,low,7,"
					"open");
	/* no loader: an empty list */
	dev_init(&d, "w2", MTD_PLAT_WINDOWS, 1);
	eval_ok(f, &d, &o);
	assert_string_equal(joined(&o), "0");
}

int main(void)
{
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)
	const struct CMUnitTest tests[] = {
		T(default_rules_load),
		T(strictest_group),
		T(groups_typo_level),
		T(groups_unknown_key),
		T(groups_bad_values),
		T(sandbox_blocked_functions),
		T(sandbox_require),
		T(sandbox_bytecode),
		T(instruction_limit),
		T(memory_limit),
		T(memory_hoarded_by_script),
		T(gc_finalizer_loop),
		T(pattern_backtracking),
		T(tiny_memory_cap),
		T(undefined_globals),
		T(compiled_once_per_content),
		T(mtd_helpers),
		T(device_as_seen_by_rules),
		T(invalid_results),
		T(many_reasons),
		T(default_compliance),
		T(default_missing_scan),
		T(default_switches),
		T(default_unenrolled_and_apps),
		T(default_partner_priority),
		T(memo_same_class_one_call),
		T(memo_key_every_field),
		T(memo_plain_fields_listed),
		T(memo_hit_equals_miss),
		T(memo_device_fields_taint),
		T(memo_conditional_read),
		T(memo_random_and_addresses_taint),
		T(memo_needs_both_opt_ins),
		T(memo_pure_invalid),
		T(memo_errors_not_cached),
		T(lazy_fields),
		T(memo_bounds),
		T(memo_default_policy),
		T(open_threats_and_cause),
		T(runtime_error_names_value),
		T(check_runs_inventory),
		T(check_groups_against_store),
		T(tests_unknown_keys),
		T(tasks_rule),
		T(tasks_as_seen),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
