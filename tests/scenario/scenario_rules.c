/* Scenarios for rules administrators (issue 5): rules check and test,
 * explanations, what-if, grace period, per-group resources, limits. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "harness.h"

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

/* A typo is refused by rules check and by evaluate, naming file:line:value;
 * the earlier decisions stay. */
static void typo_refused(void **state)
{
	scen *s = *state;
	const char *bad = scen_rules_copy(s, "bad", NULL,
		"return {\n  default = { max_level = \"medium\" },\n  Executives = { max_level = \"hihg\" },\n}\n");
	char *before;

	RUN(s, 0, "rules", "check");
	OUT_HAS(s, "ok");
	RUN(s, 70, "rules", "check", bad);
	OUT_HAS(s, "groups.lua:3");
	OUT_HAS(s, "hihg");

	SETUP(s, SCEN_FLEET);
	RUN(s, 0, "connector", "set", "generic", "ios=on");
	INGEST(s, THREAT("ios-exec", "medium", "\"2024-03-01T00:00:00Z\""));
	RUN(s, 0, "evaluate");
	before = scen_own(s, strdup(REPORT_ALL(s)));
	RUN(s, 70, "--rules", bad, "evaluate");
	ERR_HAS(s, "groups.lua:3");
	ERR_HAS(s, "hihg");
	assert_string_equal(REPORT_ALL(s), before);

	/* unknown key and wrong type */
	RUN(s, 70, "rules", "check",
	    scen_rules_copy(s, "bad2", NULL, "return { default = { max_levle = \"low\" } }\n"));
	OUT_HAS(s, "unknown key 'max_levle'");
	RUN(s, 70, "rules", "check",
	    scen_rules_copy(s, "bad3", NULL, "return { default = { grace_hours = \"soon\" } }\n"));
	OUT_HAS(s, "grace_hours");
	/* a runtime error in a function body is caught by check, not by the fleet */
	RUN(s, 70, "rules", "check", scen_rules_copy(s, "bad4", "local x = undefined_thing + 1\n", NULL));
	OUT_HAS(s, "undefined global 'undefined_thing'");
}

/* The shipped rules pass their tests; a broken expectation fails clearly. */
static void rule_tests(void **state)
{
	scen *s = *state;
	const char *dir = scen_rules_copy(s, "t", NULL, NULL);
	char path[400], *text;

	RUN(s, 0, "rules", "test");
	OUT_HAS(s, " passed, 0 failed");
	/* the copy has no tests.lua: that is an error, not a pass */
	RUN(s, 64, "rules", "test", dir);
	snprintf(path, sizeof path, "%s/tests.lua", MTD_RULES_DIR);
	text = scen_own(s, scen_slurp(path, NULL));
	assert_non_null(text);
	scen_writes(s, "t/tests.lua", text);
	RUN(s, 0, "rules", "test", dir);
	scen_writes(s, "t/tests.lua",
		    "return { { name = \"exec medium\", device = { platform = \"ios\", groups = { \"Executives\" },"
		    " vendors = { lookout = \"medium\" } }, expect = { state = \"compliant\", reasons = { \"nope\" } } } }\n");
	RUN(s, 65, "rules", "test", dir);
	OUT_HAS(s, "exec medium: state is noncompliant, expected compliant");
	OUT_HAS(s, "no reason contains \"nope\"");
	OUT_HAS(s, "0 passed, 1 failed");
}

/* Reasons name the rule's group, the vendor, the level seen and allowed. */
static void explanations(void **state)
{
	scen *s = *state;
	json_t *r;
	SETUP(s, SCEN_FLEET);
	RUN(s, 0, "connector", "set", "generic", "ios=on");
	INGEST(s, THREAT("ios-exec", "medium", "\"2024-03-01T00:00:00Z\"")
		   THREAT("ios-bob", "low", "\"2024-03-01T00:00:00Z\""));
	RUN(s, 0, "evaluate");
	r = REPORT(s, "ios-exec");
	if (!has_reason(r, "generic reports medium; group Executives allows at most low", NULL))
		fail_msg("explanation missing: %s", scen_jtext(s, r));
	r = REPORT(s, "ios-bob");
	if (!has_reason(r, "generic reports low; group default allows at most medium", NULL))
		fail_msg("explanation missing: %s", scen_jtext(s, r));
	r = REPORT(s, "zz-last");
	if (!has_reason(r, "generic has not reported this device yet", NULL))
		fail_msg("explanation missing: %s", scen_jtext(s, r));
}

/* What-if with other rules: prints each change old -> new with reasons and
 * a count per transition, and writes nothing. */
static void what_if(void **state)
{
	scen *s = *state;
	const char *strict = scen_rules_copy(s, "strict", NULL,
		"return { default = { max_level = \"secured\", app_max_level = \"low\" } }\n");
	char *before;
	SETUP(s, SCEN_FLEET);
	RUN(s, 0, "connector", "set", "generic", "ios=on");
	INGEST(s, THREAT("ios-bob", "low", "\"2024-03-01T00:00:00Z\"")
		   THREAT("ios-alice", "low", "\"2024-03-01T00:00:00Z\""));
	RUN(s, 0, "evaluate");
	before = scen_own(s, strdup(REPORT_ALL(s)));
	RUN(s, 0, "--rules", strict, "evaluate", "--dry-run");
	OUT_HAS(s, "ios-bob: compliant/allow/none -> noncompliant/block/none");
	OUT_HAS(s, "group default allows at most secured");
	OUT_HAS(s, "decisions would change");
	OUT_HAS(s, "compliant -> noncompliant");
	assert_non_null(strstr(s->out, "ios-alice"));
	assert_string_equal(REPORT_ALL(s), before);
}

/* Grace period: in_grace_period with access until it ends, then
 * noncompliant; not restarted while the device stays out. */
static void grace_period(void **state)
{
	scen *s = *state;
	const char *g = scen_rules_copy(s, "grace", NULL,
		"return { default = { max_level = \"medium\", grace_hours = 24 },"
		" Executives = { max_level = \"low\", grace_hours = 6 } }\n");
	json_t *r;
	SETUP(s, SCEN_FLEET);
	RUN(s, 0, "connector", "set", "generic", "ios=on");
	INGEST(s, THREAT("ios-exec", "medium", "\"2024-03-01T00:00:00Z\""));
	RUN(s, 0, "--rules", g, "evaluate");
	r = REPORT(s, "ios-exec");
	FIELD(s, r, "state", "in_grace_period");
	FIELD(s, r, "access", "allow");
	if (!has_reason(r, "in grace period until 2024-03-01T06:00:00Z", "Executives", NULL))
		fail_msg("no grace reason: %s", scen_jtext(s, r));
	scen_day(s, 0, 5 * 3600); /* a newer report, still out: same period */
	INGEST(s, THREAT("ios-exec", "high", "\"2024-03-01T05:00:00Z\""));
	RUN(s, 0, "--rules", g, "evaluate");
	FIELD(s, REPORT(s, "ios-exec"), "state", "in_grace_period");
	scen_day(s, 0, 6 * 3600 + 1);
	RUN(s, 0, "--rules", g, "evaluate");
	r = REPORT(s, "ios-exec");
	FIELD(s, r, "state", "noncompliant");
	FIELD(s, r, "access", "block");
	/* remediated: compliant; out again: a new period */
	scen_day(s, 1, 0);
	INGEST(s, THREAT("ios-exec", "low", "\"2024-03-02T00:00:00Z\""));
	RUN(s, 0, "--rules", g, "evaluate");
	FIELD(s, REPORT(s, "ios-exec"), "state", "compliant");
	scen_day(s, 2, 0);
	INGEST(s, THREAT("ios-exec", "high", "\"2024-03-03T00:00:00Z\""));
	RUN(s, 0, "--rules", g, "evaluate");
	FIELD(s, REPORT(s, "ios-exec"), "state", "in_grace_period");
}

/* Per-group protected resources are reported with the device's access. */
static void resources(void **state)
{
	scen *s = *state;
	const char *g = scen_rules_copy(s, "res", NULL,
		"return { default = { max_level = \"medium\" },"
		" Executives = { max_level = \"low\", resources = { \"payroll\" } } }\n");
	json_t *r, *res;
	SETUP(s, SCEN_FLEET);
	RUN(s, 0, "connector", "set", "generic", "ios=on");
	INGEST(s, THREAT("ios-exec", "medium", "\"2024-03-01T00:00:00Z\""));
	RUN(s, 0, "--rules", g, "evaluate");
	r = REPORT(s, "ios-exec");
	res = json_object_get(r, "resources");
	assert_int_equal(json_object_size(res), 1);
	assert_string_equal(jstr(res, "payroll"), "block");
	res = json_object_get(REPORT(s, "ios-bob"), "resources");
	assert_int_equal(json_object_size(res), 2);
	assert_string_equal(jstr(res, "exchange"), "allow");
	assert_string_equal(jstr(res, "sharepoint"), "allow");
}

/* The sandbox limits are configurable. */
static void limits_configurable(void **state)
{
	scen *s = *state;
	const char *busy = scen_rules_copy(s, "busy", "for i = 1, 200000 do end\n", NULL);
	SETUP(s, SCEN_FLEET);
	RUN(s, 0, "--rules", busy, "evaluate");
	RUN(s, 70, "--rules", busy, "--rules-instructions", "100000", "evaluate");
	ERR_HAS(s, "instruction limit of 100000");
	RUN(s, 64, "--rules-memory", "12", "evaluate");
}

/* Pure rules that read device details (os_version, a report's at and
 * threats) get every device's own, whether evaluate looks them up for the
 * devices its memo does not answer or, once most need them, reads them
 * along with the scan: 5,000 devices, each with its own os_version, every
 * third with a report of its own time; all read them (no memo answers),
 * or only those with a high report do (the memo answers the rest). And
 * rules that read only what the memo compares tell apart devices that
 * differ only in a report's os_supported. Reports leave out os_supported
 * (every fifth) or threats (every seventh), some right after one that had
 * them: what one report left out is not the previous one's. */
#define NDETAIL 5000
static void details_on_demand(void **state)
{
	static const char *const reads[3] = {
		"  do local v = device.vendors[1]\n"
		"  return 'compliant', 'none', { 'os ' .. tostring(device.os_version) ..\n"
		"    (v and v.level and (' at ' .. v.at .. ' threats ' ..\n"
		"     (v.threats and #v.threats or 'none')) or '') } end\n",
		"  do local v = device.vendors[1]\n"
		"  if not (v and v.level == 'high') then return 'compliant', 'none', { 'plain' } end\n"
		"  return 'compliant', 'none', { 'os ' .. tostring(device.os_version) ..\n"
		"    ' at ' .. v.at .. ' threats ' .. (v.threats and #v.threats or 'none') } end\n",
		/* a field the memo compares: devices alike but for it differ */
		("  do local v = device.vendors[1]\n"
		 "  return 'compliant', 'none', { 'os_supported ' .. tostring(v and v.os_supported) } end\n"),
	};
	scen *s = *state;
	size_t cap = (size_t)NDETAIL * 160, nd = 0, nt = 0;
	char *devs = malloc(cap), *msgs = malloc(cap);
	assert_non_null(devs);
	assert_non_null(msgs);
	for (int i = 0; i < NDETAIL; i++) {
		nd += (size_t)snprintf(devs + nd, cap - nd,
				       "{\"id\":\"d%04d\",\"platform\":\"ios\",\"os_version\":\"1.%d\","
				       "\"ownership\":\"corporate\",\"management\":\"enrolled\"}\n", i, i);
		if (i % 3 == 0)
			nt += (size_t)snprintf(msgs + nt, cap - nt,
					       "{\"type\":\"threat\",\"device\":\"d%04d\",\"level\":\"%s\","
					       "\"at\":%d%s%s}\n", i, i % 9 ? "low" : "high", 1709251200 - i,
					       i % 7 == 0   ? ""
					       : i % 4 == 0 ? ",\"threats\":[{\"category\":\"app\",\"level\":\"low\"}]"
							    : ",\"threats\":[]",
					       i % 5 == 0   ? ""
					       : i % 2	    ? ",\"os_supported\":false"
							    : ",\"os_supported\":true");
	}
	SETUP(s, devs);
	RUN(s, 0, "connector", "set", "generic", "ios=on");
	INGEST(s, msgs);
	for (int k = 0; k < 3; k++) {
		char name[8], *all, *line, *save = NULL;
		int n = 0;
		snprintf(name, sizeof name, "r%d", k);
		RUN(s, 0, "--rules", scen_rules_copy(s, name, reads[k], NULL), "evaluate");
		all = REPORT_ALL(s);
		for (line = strtok_r(all, "\n", &save); line; line = strtok_r(NULL, "\n", &save), n++) {
			json_t *o = json_loads(line, 0, NULL);
			int i = -1;
			char want[128];
			const char *got;
			assert_non_null(o);
			assert_int_equal(sscanf(jstr(o, "device"), "d%d", &i), 1);
			if (k == 2)
				snprintf(want, sizeof want, "os_supported %s",
					 i % 3 || i % 5 == 0 ? "nil" : i % 2 ? "false" : "true");
			else if (k == 1 && i % 9)
				snprintf(want, sizeof want, "plain");
			else if (i % 3 == 0)
				snprintf(want, sizeof want, "os 1.%d at %d threats %s", i, 1709251200 - i,
					 i % 7 == 0 ? "none" : i % 4 == 0 ? "1" : "0");
			else
				snprintf(want, sizeof want, "os 1.%d", i);
			got = json_string_value(json_array_get(json_object_get(o, "reasons"), 0));
			if (!got || strcmp(got, want))
				fail_msg("rules %d, device d%04d: reason '%s', wanted '%s'", k, i,
					 got ? got : "(none)", want);
			json_decref(o);
		}
		assert_int_equal(n, NDETAIL);
	}
	free(devs);
	free(msgs);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(typo_refused, setup, teardown),
		cmocka_unit_test_setup_teardown(rule_tests, setup, teardown),
		cmocka_unit_test_setup_teardown(explanations, setup, teardown),
		cmocka_unit_test_setup_teardown(what_if, setup, teardown),
		cmocka_unit_test_setup_teardown(grace_period, setup, teardown),
		cmocka_unit_test_setup_teardown(resources, setup, teardown),
		cmocka_unit_test_setup_teardown(limits_configurable, setup, teardown),
		cmocka_unit_test_setup_teardown(details_on_demand, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
