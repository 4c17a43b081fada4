/* Scenario: changes reviewed like a plan (issue 17). evaluate --dry-run
 * lists each device's changed fields with the dangerous changes first, ends
 * with counts per kind, and has JSON and CSV; a real evaluate says which
 * wipes and blocks it issued. The case of the issue: two new selective
 * wipes among seven changes that are all "not_evaluated -> not_evaluated". */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "harness.h"

/* Seven unenrolled phones (not_evaluated: app protection only); u3 and u6
 * are contractors. Two enrolled iPhones. */
#define UNENROLLED(id, groups)                                                                   \
	"{\"id\":\"" id "\",\"platform\":\"android\",\"os_version\":\"14\",\"ownership\":"         \
	"\"personal\",\"management\":\"unenrolled\",\"groups\":[" groups "]}\n"
#define ENROLLED(id)                                                                             \
	"{\"id\":\"" id "\",\"platform\":\"ios\",\"os_version\":\"17.4\",\"ownership\":"           \
	"\"corporate\",\"management\":\"enrolled\",\"groups\":[]}\n"
#define FLEET                                                                                    \
	UNENROLLED("u1", "") UNENROLLED("u2", "") UNENROLLED("u3", "\"Contractors\"")              \
	UNENROLLED("u4", "") UNENROLLED("u5", "") UNENROLLED("u6", "\"Contractors\"")              \
	UNENROLLED("u7", "") ENROLLED("e1") ENROLLED("e2")

#define AT "\"2024-03-01T00:00:00Z\""

static int setup(void **state)
{
	*state = scen_new();
	return *state ? 0 : -1;
}

static int teardown(void **state)
{
	scen_free(*state);
	return 0;
}

/* The fleet decided with the default rules: the unenrolled phones' apps
 * blocked (medium over low), e1 compliant at low, e2 compliant at secured. */
static void decided_fleet(scen *s)
{
	json_t *r;
	SETUP(s, FLEET);
	RUN(s, 0, "connector", "set", "generic", "ios=on", "mam_android=on");
	INGEST(s, THREAT("u1", "medium", AT) THREAT("u2", "medium", AT) THREAT("u3", "medium", AT)
		   THREAT("u4", "medium", AT) THREAT("u5", "medium", AT) THREAT("u6", "medium", AT)
		   THREAT("u7", "medium", AT) THREAT("e1", "low", AT) THREAT("e2", "secured", AT));
	RUN(s, 0, "evaluate");
	r = REPORT(s, "u3");
	FIELD(s, r, "state", "not_evaluated");
	FIELD(s, r, "app_protection", "block");
	r = REPORT(s, "e1");
	FIELD(s, r, "state", "compliant");
	FIELD(s, r, "access", "allow");
}

/* Other rules: contractors' apps are wiped; the others' apps may reach
 * medium; enrolled devices may be at most secured (e1 at low is blocked). */
static const char *new_rules(scen *s)
{
	return scen_rules_copy(s, "new-rules", NULL,
			       "return {\n"
			       "  default = { max_level = \"secured\", app_max_level = \"medium\", "
			       "app_action = \"block\" },\n"
			       "  Contractors = { app_max_level = \"low\", app_action = \"wipe\" },\n"
			       "}\n");
}

/* Index in s->out of the line starting with the device's mark, or fails. */
static size_t line_of(scen *s, const char *mark)
{
	const char *p = strstr(s->out, mark);
	if (!p)
		fail_msg("no line '%s' in:\n%s", mark, s->out);
	return (size_t)(p - s->out);
}

/* The case: the transitions alone show "not_evaluated ->
 * not_evaluated 7"; the plan shows the two wipes first, marked, with the
 * field that changes, and counts them. Nothing is written. */
static void wipes_first(void **state)
{
	scen *s = *state;
	char *before;
	size_t w3, w6, b1, first_better;
	decided_fleet(s);
	before = scen_own(s, strdup(REPORT_ALL(s)));
	snprintf(s->rules, sizeof s->rules, "%s", new_rules(s));
	RUN(s, 0, "evaluate", "--dry-run");
	OUT_HAS(s, "dry run: 9 devices, 9 decisions would change");
	OUT_HAS(s, "  not_evaluated -> not_evaluated           7\n");
	w3 = line_of(s, "! WIPE   u3: not_evaluated/block/block -> not_evaluated/block/wipe\n"
			"    app_protection: block -> wipe\n");
	w6 = line_of(s, "! WIPE   u6: ");
	b1 = line_of(s, "! BLOCK  e1: compliant/allow/none -> noncompliant/block/none\n"
			"    state: compliant -> noncompliant\n");
	first_better = line_of(s, "  better ");
	/* wipes, then the block, then the improvements, whatever the devices'
	 * order in the store (u1, u2 come before u3) */
	if (!(w3 < w6 && w6 < b1 && b1 < first_better))
		fail_msg("not in the order wipes, blocks, improvements:\n%s", s->out);
	line_of(s, "  better u1: not_evaluated/block/block -> not_evaluated/allow/none\n"
		   "    access: block -> allow\n"
		   "    app_protection: block -> none\n");
	/* the new reasons go with each device */
	OUT_HAS(s, "group default allows at most secured");
	/* the counts per kind end it */
	/* e2 stays compliant: only its reason changes (allowed level) */
	line_of(s, "  other  e2: compliant/allow/none -> compliant/allow/none\n"
		   "    why (changed):\n"
		   "      generic reports secured; group default allows at most secured\n");
	OUT_HAS(s, "would change: 2 new selective wipes, 1 new block, 0 other worsenings, "
		   "5 improvements, 1 other change\n");
	if (strcmp(s->out + strlen(s->out) - strlen("1 other change\n"), "1 other change\n"))
		fail_msg("the plan does not end with the counts per kind:\n%s", s->out);
	assert_string_equal(REPORT_ALL(s), before);
}

static json_t *line_json(scen *s, const char *line, size_t n)
{
	json_error_t e;
	json_t *j = json_loadb(line, n, 0, &e);
	if (!j)
		fail_msg("not a JSON line (%s): %.*s", e.text, (int)n, line);
	return scen_ownj(s, j);
}

static const char *sub(const json_t *o, const char *side, const char *key)
{
	return jstr(json_object_get(o, side), key);
}

/* --output json: one object per changed device, the wipes first, with
 * before, after and the changed fields; then one summary object. */
static void dry_run_json(void **state)
{
	scen *s = *state;
	json_t *v[16], *sum, *k, *t;
	size_t n = 0;
	decided_fleet(s);
	snprintf(s->rules, sizeof s->rules, "%s", new_rules(s));
	RUN(s, 0, "evaluate", "--dry-run", "--output", "json");
	for (const char *p = s->out; *p && n < 16;) {
		size_t len = strcspn(p, "\n");
		v[n++] = line_json(s, p, len);
		p += len + (p[len] == '\n');
	}
	assert_int_equal(n, 10); /* 9 changes and the summary */
	for (size_t i = 0; i < 9; i++)
		assert_string_equal(jstr(v[i], "type"), "change");
	assert_string_equal(jstr(v[0], "device"), "u3");
	assert_string_equal(jstr(v[1], "device"), "u6");
	for (size_t i = 0; i < 2; i++) {
		json_t *ch = json_object_get(v[i], "changed");
		assert_string_equal(jstr(v[i], "kind"), "wipe");
		assert_string_equal(sub(v[i], "before", "app_protection"), "block");
		assert_string_equal(sub(v[i], "after", "app_protection"), "wipe");
		assert_string_equal(sub(v[i], "before", "state"), "not_evaluated");
		assert_string_equal(sub(v[i], "after", "state"), "not_evaluated");
		assert_true(json_is_array(ch));
		assert_string_equal(json_string_value(json_array_get(ch, 0)), "app_protection");
		assert_true(json_is_array(json_object_get(json_object_get(v[i], "after"), "reasons")));
	}
	assert_string_equal(jstr(v[2], "device"), "e1");
	assert_string_equal(jstr(v[2], "kind"), "block");
	assert_string_equal(sub(v[2], "after", "access"), "block");
	assert_true(json_is_array(json_object_get(json_object_get(v[2], "after"), "resources")));
	for (size_t i = 3; i < 8; i++)
		assert_string_equal(jstr(v[i], "kind"), "better");
	assert_string_equal(jstr(v[8], "device"), "e2");
	assert_string_equal(jstr(v[8], "kind"), "other");
	assert_string_equal(json_string_value(json_array_get(json_object_get(v[8], "changed"), 0)),
			    "reasons");
	sum = v[9];
	assert_string_equal(jstr(sum, "type"), "summary");
	assert_true(json_is_true(json_object_get(sum, "dry_run")));
	assert_int_equal(json_integer_value(json_object_get(sum, "evaluated")), 9);
	assert_int_equal(json_integer_value(json_object_get(sum, "changed")), 9);
	k = json_object_get(sum, "kinds");
	assert_int_equal(json_integer_value(json_object_get(k, "wipe")), 2);
	assert_int_equal(json_integer_value(json_object_get(k, "block")), 1);
	assert_int_equal(json_integer_value(json_object_get(k, "worse")), 0);
	assert_int_equal(json_integer_value(json_object_get(k, "better")), 5);
	assert_int_equal(json_integer_value(json_object_get(k, "other")), 1);
	t = json_object_get(sum, "transitions");
	assert_int_equal(json_array_size(t), 3);
	assert_string_equal(jstr(json_array_get(t, 0), "from"), "not_evaluated");
	assert_string_equal(jstr(json_array_get(t, 0), "to"), "not_evaluated");
	assert_int_equal(json_integer_value(json_object_get(json_array_get(t, 0), "count")), 7);

	/* csv: a header and a row per changed field, the wipes first */
	RUN(s, 0, "evaluate", "--dry-run", "--output", "csv");
	if (strncmp(s->out, "device,kind,field,before,after\r\n"
			    "u3,wipe,app_protection,block,wipe\r\n",
		    strlen("device,kind,field,before,after\r\n"
			   "u3,wipe,app_protection,block,wipe\r\n")))
		fail_msg("csv plan:\n%s", s->out);
	OUT_HAS(s, "e1,block,state,compliant,noncompliant\r\n");
	OUT_HAS(s, "e1,block,access,allow,block\r\n");
}

/* A real evaluate reports the wipes and blocks it issued: counts, and with
 * --output json the devices; the wipes are audited. */
static void real_run_reports_issued(void **state)
{
	scen *s = *state;
	json_t *v[8], *k;
	size_t n = 0;
	const char *rules;
	decided_fleet(s);
	rules = new_rules(s);
	snprintf(s->rules, sizeof s->rules, "%s", rules);
	RUN(s, 0, "evaluate", "--output", "json");
	for (const char *p = s->out; *p && n < 8;) {
		size_t len = strcspn(p, "\n");
		v[n++] = line_json(s, p, len);
		p += len + (p[len] == '\n');
	}
	/* the two wipes and the block issued, then the summary */
	assert_int_equal(n, 4);
	assert_string_equal(jstr(v[0], "device"), "u3");
	assert_string_equal(jstr(v[0], "kind"), "wipe");
	assert_string_equal(jstr(v[1], "device"), "u6");
	assert_string_equal(jstr(v[2], "device"), "e1");
	assert_string_equal(jstr(v[2], "kind"), "block");
	assert_string_equal(jstr(v[3], "type"), "summary");
	assert_true(json_is_false(json_object_get(v[3], "dry_run")));
	k = json_object_get(v[3], "kinds");
	assert_int_equal(json_integer_value(json_object_get(k, "wipe")), 2);
	assert_int_equal(json_integer_value(json_object_get(k, "block")), 1);
	assert_int_equal(json_integer_value(json_object_get(k, "better")), 5);
	FIELD(s, REPORT(s, "u6"), "app_protection", "wipe");
	RUN(s, 0, "audit", "show", "--kind", "app_wipe");
	OUT_HAS(s, "u3");
	OUT_HAS(s, "u6");

	/* the same with a table: counts; nothing more to issue the next time */
	snprintf(s->rules, sizeof s->rules, "%s", MTD_RULES_DIR);
	RUN(s, 0, "evaluate");
	OUT_HAS(s, "evaluated 9 devices, 9 decisions changed\n");
	OUT_HAS(s, "issued: 0 selective wipes, 5 blocks\n");
	snprintf(s->rules, sizeof s->rules, "%s", rules);
	RUN(s, 0, "evaluate");
	OUT_HAS(s, "issued: 2 selective wipes, 1 block\n");
	RUN(s, 0, "evaluate");
	OUT_HAS(s, "evaluated 9 devices, 0 decisions changed\n");
	OUT_HAS(s, "issued: 0 selective wipes, 0 blocks\n");
}

/* The JSON lines of s->out, parsed (at most max). */
static size_t json_lines(scen *s, json_t **v, size_t max)
{
	size_t n = 0;
	for (const char *p = s->out; *p && n < max;) {
		size_t len = strcspn(p, "\n");
		v[n++] = line_json(s, p, len);
		p += len + (p[len] == '\n');
	}
	return n;
}

/* Rules authoring as the administrator meets it, in JSON: a misspelled
 * group is a warning of check (exit 0), a typo in tests.lua fails test
 * naming case and key (65), an inventory rule that fails on an app is
 * found by check naming the value (70). */
static void rules_authoring_json(void **state)
{
	scen *s = *state;
	json_t *v[32];
	size_t n, warnings = 0;
	const char *dir;
	char tests[600];
	SETUP(s, FLEET);
	dir = scen_rules_copy(s, "typo", NULL,
			      "return {\n  default = { max_level = \"medium\", app_max_level = \"low\" },\n"
			      "  Contractor = { app_action = \"wipe\" },\n}\n");
	RUN(s, 0, "rules", "check", dir, "--output", "json");
	n = json_lines(s, v, 32);
	assert_true(n >= 3);
	for (size_t i = 0; i + 1 < n; i++)
		warnings += !strcmp(jstr(v[i], "type"), "warning");
	assert_int_equal(warnings, 3);
	OUT_HAS(s, "groups.lua:3: group 'Contractor': no device in the store is in it (did you "
		   "mean 'Contractors'?)\"}\n");
	assert_non_null(strstr(s->out, "2 devices are in group 'Contractors', which "));
	assert_string_equal(jstr(v[n - 1], "type"), "summary");
	assert_true(json_is_true(json_object_get(v[n - 1], "ok")));
	assert_int_equal(json_integer_value(json_object_get(v[n - 1], "warnings")), 3);
	/* the table says the same, marked */
	RUN(s, 0, "rules", "check", dir);
	OUT_HAS(s, "warn ");
	OUT_HAS(s, ": ok (with warnings)\n");

	snprintf(tests, sizeof tests,
		 "return {\n"
		 "  { name = 'clean iPhone', device = { platform = 'ios' },\n"
		 "    expect = { state = 'compliant' } },\n"
		 "  { name = 'typo', device = { platform = 'ios', vendors = { lookout = 'high' } },\n"
		 "    expect = { stat = 'compliant' } },\n"
		 "}\n");
	scen_writes(s, "typo/tests.lua", tests);
	RUN(s, 65, "rules", "test", dir, "--output", "json");
	n = json_lines(s, v, 32);
	assert_int_equal(n, 3);
	assert_string_equal(jstr(v[0], "type"), "ok");
	assert_string_equal(jstr(v[1], "type"), "fail");
	assert_non_null(strstr(jstr(v[1], "message"), "case 2 'typo': unknown key 'expect.stat'"));
	assert_int_equal(json_integer_value(json_object_get(v[2], "passed")), 1);
	assert_int_equal(json_integer_value(json_object_get(v[2], "failed")), 1);

	dir = scen_rules_copy(s, "inventory", NULL, NULL);
	scen_writes(s, "inventory/policy.lua",
		    "return { inventory = true,\n"
		    "  compliance = function(device) return 'compliant', 'none' end,\n"
		    "  app_protection = function(device)\n"
		    "    for _, a in ipairs(device.apps) do\n"
		    "      if a.bundle_size > 100000000 then return 'warn' end\n"
		    "    end\n"
		    "    return 'none'\n"
		    "  end }\n");
	RUN(s, 70, "rules", "check", dir, "--output", "json");
	n = json_lines(s, v, 32);
	assert_true(n >= 2);
	assert_string_equal(jstr(v[n - 2], "type"), "fail");
	assert_non_null(strstr(jstr(v[n - 2], "message"),
			       "policy.lua:5: attempt to compare number with nil (device.apps entry "
			       "'com.example.unknown' field 'bundle_size' = nil)"));
	assert_true(json_is_false(json_object_get(v[n - 1], "ok")));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(wipes_first, setup, teardown),
		cmocka_unit_test_setup_teardown(dry_run_json, setup, teardown),
		cmocka_unit_test_setup_teardown(real_run_reports_issued, setup, teardown),
		cmocka_unit_test_setup_teardown(rules_authoring_json, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
