/* Scenarios: the Lua sandbox through `mtdgate evaluate`. A rule script that
 * escapes, loops or eats memory fails the evaluation (exit 70) with its file
 * name and the reason, has no effect outside, and the stored decisions stay
 * exactly as the last successful evaluation left them. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "harness.h"

typedef struct sbx {
	scen *s;
	char *baseline; /* report --json after the last good evaluation (owned by s) */
	const char *marker; /* a file the scripts try to create */
	int n;
	const char *opt, *val; /* an option (and its value) for the evaluations, or NULL */
	double took;           /* seconds the last blocked evaluation ran */
} sbx;

/* A store evaluated once with the default rules, then given a newer report
 * so that any evaluation that got as far as writing would change ios-alice.
 * Injected code fires on zz-last, the last device evaluated. */
static int setup(void **state)
{
	sbx *b = calloc(1, sizeof *b);
	if (!b || !(b->s = scen_new())) {
		free(b);
		return -1;
	}
	*state = b;
	return 0;
}

static int teardown(void **state)
{
	sbx *b = *state;
	scen_free(b->s);
	free(b);
	return 0;
}

static void prepare(sbx *b)
{
	scen *s = b->s;
	json_t *r;
	SETUP(s, SCEN_FLEET);
	RUN(s, 0, "connector", "set", "generic", "ios=on");
	INGEST(s, THREAT("ios-alice", "high", "\"2024-03-01T00:00:00Z\"")
		  THREAT("zz-last", "low", "\"2024-03-01T00:00:00Z\""));
	RUN(s, 0, "evaluate");
	r = REPORT(s, "ios-alice");
	FIELD(s, r, "state", "noncompliant");
	scen_day(s, 1, 0);
	INGEST(s, THREAT("ios-alice", "secured", "\"2024-03-02T00:00:00Z\""));
	b->baseline = REPORT_ALL(s);
	b->marker = scen_path(s, "x");
}

/* Evaluate with policy.lua's compliance prefixed by code (run for zz-last
 * only); expect 70, every needle group on stderr (a group is alternatives
 * separated by '|'), the marker file absent, the decisions unchanged. */
static void expect_blocked(sbx *b, const char *code, const char *const *needles, const char *file,
			   int line)
{
	scen *s = b->s;
	char inject[2048], name[32], *after, *err;
	snprintf(inject, sizeof inject, "  if device.id == \"zz-last\" then %s end", code);
	snprintf(name, sizeof name, "rules-%d", ++b->n);
	snprintf(s->rules, sizeof s->rules, "%s", scen_rules_copy(s, name, inject, NULL));
	{
		struct timespec t0, t1;
		clock_gettime(CLOCK_MONOTONIC, &t0);
		scen_expect_(s, 70, NULL, 0, file, line, "evaluate", b->opt, b->val,
			     (const char *)NULL);
		clock_gettime(CLOCK_MONOTONIC, &t1);
		b->took = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
	}
	snprintf(s->rules, sizeof s->rules, "%s", MTD_RULES_DIR);
	err = scen_own(s, strdup(s->err));
	if (scen_exists(b->marker)) {
		print_error("%s:%d: the rule script created %s\n", file, line, b->marker);
		_fail(file, line);
	}
	after = scen_report_all_(s, file, line);
	if (strcmp(after, b->baseline)) {
		print_error("%s:%d: a failed evaluation changed decisions\nbefore:\n%safter:\n%s", file,
			    line, b->baseline, after);
		_fail(file, line);
	}
	for (int i = 0; needles[i]; i++) {
		char alt[256], *save = NULL;
		int found = 0;
		snprintf(alt, sizeof alt, "%s", needles[i]);
		for (char *t = strtok_r(alt, "|", &save); t; t = strtok_r(NULL, "|", &save))
			found |= strstr(err, t) != NULL;
		if (!found) {
			print_error("%s:%d: stderr does not name \"%s\"\ncode: %s\nstderr: %s\n", file,
				    line, needles[i], code, err);
			_fail(file, line);
		}
	}
}
#define BLOCKED(b, code, ...)                                                                      \
	do {                                                                                       \
		static const char *const n_[] = {__VA_ARGS__, NULL};                               \
		expect_blocked((b), (code), n_, __FILE__, __LINE__);                               \
	} while (0)

/* The good rules still work afterwards: the store is intact. */
static void finish(sbx *b)
{
	json_t *r;
	RUN(b->s, 0, "evaluate");
	r = REPORT(b->s, "ios-alice");
	FIELD(b->s, r, "state", "compliant");
}

/* Each case below is its own test so that one finding does not hide the
 * next. */
static void sandbox_os_execute(void **state)
{
	sbx *b = *state;
	char code[600];
	prepare(b);
	snprintf(code, sizeof code, "os.execute(\"touch %s\")", b->marker);
	BLOCKED(b, code, "policy.lua", "blocked|undefined global");
	/* Through the global table, not a plain global read. */
	snprintf(code, sizeof code, "local o = rawget(_G, \"os\") o.execute(\"touch %s\")", b->marker);
	BLOCKED(b, code, "policy.lua");
	finish(b);
}

static void sandbox_io_open(void **state)
{
	sbx *b = *state;
	char code[600];
	prepare(b);
	snprintf(code, sizeof code, "local f = io.open(\"%s\", \"w\") f:write(\"pwned\") f:close()",
		 b->marker);
	BLOCKED(b, code, "policy.lua", "blocked|undefined global");
	BLOCKED(b, "dofile(\"/etc/passwd\")", "policy.lua", "blocked|undefined global");
	BLOCKED(b, "require(\"../../etc/passwd\")", "policy.lua", "require");
	finish(b);
}

static void sandbox_load_string_dump(void **state)
{
	sbx *b = *state;
	prepare(b);
	BLOCKED(b, "local f = load(string.dump(function() return 1 end)) f()", "policy.lua",
		"blocked");
	BLOCKED(b, "local f = load(\"\\27LuaT\\0\") f()", "policy.lua", "blocked|binary");
	finish(b);
}

static const char chunk[] = "\x1bLuaT\x00\x19\x93\r\n\x1a\n\x04\x08\x08xV\x00\x00\x00";

/* Evaluate with rules dir whose file (relative to it) is bytecode; expect
 * 70, "binary" and the file's name on stderr, decisions unchanged. */
static void expect_bytecode_refused(sbx *b, const char *inject, const char *file,
				    const char *name_on_stderr)
{
	scen *s = b->s;
	char dir[64], path[128], *after, *err;
	snprintf(dir, sizeof dir, "rules-%d", ++b->n);
	snprintf(path, sizeof path, "%s/%s", dir, file);
	scen_rules_copy(s, dir, inject, NULL);
	scen_write(s, path, chunk, sizeof chunk - 1);
	snprintf(s->rules, sizeof s->rules, "%s", scen_path(s, dir));
	RUN(s, 70, "evaluate");
	err = scen_own(s, strdup(s->err));
	snprintf(s->rules, sizeof s->rules, "%s", MTD_RULES_DIR);
	after = REPORT_ALL(s);
	assert_string_equal(after, b->baseline);
	if (!strstr(err, "binary") || !strstr(err, name_on_stderr)) {
		print_error("bytecode %s: stderr should name \"binary\" and \"%s\":\n%s", file,
			    name_on_stderr, err);
		fail();
	}
}

/* A module of the rules directory that is bytecode. */
static void sandbox_bytecode_module(void **state)
{
	sbx *b = *state;
	prepare(b);
	expect_bytecode_refused(b, "  if device.id == \"zz-last\" then require(\"evil\") end",
				"evil.lua", "evil");
	finish(b);
}

/* policy.lua itself as bytecode. */
static void sandbox_bytecode_policy(void **state)
{
	sbx *b = *state;
	prepare(b);
	expect_bytecode_refused(b, NULL, "policy.lua", "policy.lua");
	finish(b);
}

static void sandbox_runaway_loop(void **state)
{
	sbx *b = *state;
	prepare(b);
	BLOCKED(b, "while true do end", "policy.lua", "instruction|runaway");
	finish(b);
}

/* pcall cannot swallow the budget error and loop on. */
static void sandbox_runaway_loop_pcall(void **state)
{
	sbx *b = *state;
	prepare(b);
	BLOCKED(b, "while true do pcall(function() while true do end end) end", "policy.lua",
		"instruction|runaway");
	finish(b);
}

static void sandbox_memory_bomb(void **state)
{
	sbx *b = *state;
	prepare(b);
	BLOCKED(b, "local t = {} for i = 1, 1e9 do t[i] = string.rep(\"x\", 4096) .. i end",
		"memory", "policy.lua");
	finish(b);
}

static void sandbox_memory_one_allocation(void **state)
{
	sbx *b = *state;
	prepare(b);
	BLOCKED(b, "local s = string.rep(\"x\", 1 << 30) return s", "memory", "policy.lua");
	finish(b);
}

/* A C pattern function cannot be made to run for ever. */
static void sandbox_pattern_bomb(void **state)
{
	sbx *b = *state;
	prepare(b);
	BLOCKED(b, "string.find(string.rep(\"a\", 1 << 20), string.rep(\"a?\", 200) .. string.rep(\"a\", 200))",
		"policy.lua", "pattern|too long");
	finish(b);
}

/* "policy.lua:N:" with N the line the scenario injects code at (the one
 * after the compliance function's first), into buf. */
static const char *injected_at(char *buf, size_t n)
{
	char *text = scen_slurp(MTD_RULES_DIR "/policy.lua", NULL), *p;
	int line = 1;
	assert_non_null(text);
	p = strstr(text, "function M.compliance(device, policy, ctx)\n");
	assert_non_null(p);
	for (char *q = text; q < p; q++)
		line += *q == '\n';
	free(text);
	snprintf(buf, n, "policy.lua:%d:", line + 1);
	return buf;
}

/* Issue 19, finding 4: C library work the instruction count cannot see.
 * Each case stops with an error naming the script and line and the limit,
 * well within the time a user would wait (the CPU time limit is lowered so
 * that the suite stays quick), and changes nothing. */
#define BLOCKED_SOON(b, code, ...)                                                                 \
	do {                                                                                       \
		const char *const n_[] = {__VA_ARGS__, NULL};                                      \
		expect_blocked((b), (code), n_, __FILE__, __LINE__);                               \
		if ((b)->took > 20) {                                                              \
			print_error("%s:%d: the evaluation ran %.1f s before it was stopped\n",     \
				    __FILE__, __LINE__, (b)->took);                                \
			fail();                                                                    \
		}                                                                                  \
	} while (0)

static void sandbox_c_library_time(void **state)
{
	sbx *b = *state;
	char at[64];
	injected_at(at, sizeof at);
	prepare(b);
	b->opt = "--rules-cpu-ms";
	b->val = "500";
	/* utf8.len over a large string, in a loop: charged by its bytes */
	BLOCKED_SOON(b, "local s = string.rep('x', 1 << 19) for i = 1, 1e9 do local n = utf8.len(s) end",
		     at, "instruction limit|CPU time limit", "utf8.len");
	/* comparisons of long strings: one VM instruction each, so the CPU
	 * time stops them (the hook looks every 1,000 instructions, and a
	 * string is at most 1 MiB) */
	BLOCKED_SOON(b, "local a = string.rep('x', 1 << 19) local c = string.rep('x', (1 << 19) - 1) "
			".. 'y' for i = 1, 1e12 do local r = a < c end",
		     at, "CPU time limit of 500 ms per rule call");
	BLOCKED_SOON(b, "local a = string.rep('x', 1 << 19) local c = string.rep('x', (1 << 19) - 1) "
			".. 'y' while true do local r = a == c end",
		     at, "CPU time limit of 500 ms per rule call");
	/* table.sort over large values, and over many */
	BLOCKED_SOON(b, "local t = {} for i = 1, 40 do t[i] = string.rep('a', 1 << 19) .. (i % 7) end "
			"for k = 1, 1e9 do table.sort(t) end",
		     at, "instruction limit|CPU time limit", "table.sort");
	BLOCKED_SOON(b, "local t = {} for i = 1, 2e6 do t[i] = -i end table.sort(t)", at,
		     "instruction limit", "table.sort of 2000000 elements");
	BLOCKED_SOON(b, "local t = setmetatable({}, {__len = function() return 1 << 62 end}) "
			"table.sort(t)",
		     at, "instruction limit", "table.sort of 4611686018427387904 elements");
	/* elements moved or joined in C */
	BLOCKED_SOON(b, "local t = {} for i = 1, 2e5 do t[i] = i end while true do "
			"table.insert(t, 1, 0) table.remove(t, 1) end",
		     at, "instruction limit|CPU time limit", "table.");
	BLOCKED_SOON(b, "local t = {} for i = 1, 2e5 do t[i] = 'ab' end while true do "
			"local s = table.concat(t) end",
		     at, "instruction limit|CPU time limit", "table.concat");
	/* a string longer than 1 MiB is refused where it is made */
	BLOCKED_SOON(b, "local s = string.rep('x', 1 << 19) s = s .. s .. s", at,
		     "longer than the sandbox's limit of 1048576 bytes");
	/* CPU time for the whole evaluation: every device within its call's
	 * limit, together over the run's */
	b->opt = "--rules-eval-cpu-ms";
	b->val = "50";
	BLOCKED_SOON(b, "end local x = 0 for i = 1, 4e6 do x = x + i end if false then",
		     "policy.lua:", "CPU time limit of 50 ms per evaluation");
	b->opt = b->val = NULL;
	finish(b);
}

/* A typo in groups.lua: the file, the line and the bad value. */
static void groups_typo(void **state)
{
	sbx *b = *state;
	scen *s = b->s;
	char *after;
	static const char groups[] =
		"-- Per-group thresholds\n"
		"return {\n"
		"  default    = { max_level = \"medium\", app_max_level = \"low\", app_action = \"block\" },\n"
		"  Executives = { max_level = \"hihg\" },\n"
		"}\n";
	prepare(b);
	snprintf(s->rules, sizeof s->rules, "%s", scen_rules_copy(s, "rules-typo", NULL, groups));
	RUN(s, 70, "evaluate");
	ERR_HAS(s, "groups.lua");
	ERR_HAS(s, "hihg");
	if (!strstr(s->err, "groups.lua:4") && !strstr(s->err, "line 4"))
		fail_msg("stderr does not name line 4 of groups.lua: %s", s->err);
	/* A dry run with the same rules fails the same way. */
	RUN(s, 70, "evaluate", "--dry-run");
	ERR_HAS(s, "hihg");
	snprintf(s->rules, sizeof s->rules, "%s", MTD_RULES_DIR);
	after = REPORT_ALL(s);
	assert_string_equal(after, b->baseline);

	/* An unknown key is an error too (SPEC 4.4). */
	snprintf(s->rules, sizeof s->rules, "%s",
		 scen_rules_copy(s, "rules-key", NULL,
				 "return {\n  default = { max_level = \"medium\" },\n"
				 "  Executives = { max_levle = \"low\" },\n}\n"));
	RUN(s, 70, "evaluate");
	ERR_HAS(s, "groups.lua");
	ERR_HAS(s, "max_levle");
	snprintf(s->rules, sizeof s->rules, "%s", MTD_RULES_DIR);
	finish(b);
}

/* A runtime error in policy.lua names the file and line. */
static void policy_runtime_error(void **state)
{
	sbx *b = *state;
	prepare(b);
	BLOCKED(b, "local x = nil; x.y = 1", "policy.lua:", "nil");
	BLOCKED(b, "return \"compliant-ish\", \"none\", {}", "compliant-ish");
	finish(b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(sandbox_os_execute, setup, teardown),
		cmocka_unit_test_setup_teardown(sandbox_io_open, setup, teardown),
		cmocka_unit_test_setup_teardown(sandbox_load_string_dump, setup, teardown),
		cmocka_unit_test_setup_teardown(sandbox_bytecode_module, setup, teardown),
		cmocka_unit_test_setup_teardown(sandbox_bytecode_policy, setup, teardown),
		cmocka_unit_test_setup_teardown(sandbox_runaway_loop, setup, teardown),
		cmocka_unit_test_setup_teardown(sandbox_runaway_loop_pcall, setup, teardown),
		cmocka_unit_test_setup_teardown(sandbox_memory_bomb, setup, teardown),
		cmocka_unit_test_setup_teardown(sandbox_memory_one_allocation, setup, teardown),
		cmocka_unit_test_setup_teardown(sandbox_pattern_bomb, setup, teardown),
		cmocka_unit_test_setup_teardown(sandbox_c_library_time, setup, teardown),
		cmocka_unit_test_setup_teardown(groups_typo, setup, teardown),
		cmocka_unit_test_setup_teardown(policy_runtime_error, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
