/* Scenarios: compliance, conditional access and app protection decisions
 * as an administrator sees them (R1, R4, R6, R7, R8, SPEC 4.4, dry run). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
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

/* The vendors object of a report is exactly {vendor: level}. */
static void assert_vendors(scen *s, json_t *r, const char *vendor, const char *level)
{
	json_t *v = json_object_get(r, "vendors");
	int ok = json_is_object(v) &&
		 (vendor ? json_object_size(v) == 1 && !strcmp(jstr(v, vendor), level)
			 : json_object_size(v) == 0);
	if (!ok)
		fail_msg("vendors: expected %s%s%s%s, got %s", vendor ? "{\"" : "{}", vendor ? vendor : "",
			 vendor ? "\":" : "", vendor ? level : "", scen_jtext(s, r));
}

/* 1. R4, R7: an infected device is blocked; a newer clean report gives
 * access back; an older report arriving late does not replace a newer one. */
static void infected_blocked_then_remediated(void **state)
{
	scen *s = *state;
	json_t *r;

	SETUP(s, SCEN_FLEET);
	RUN(s, 0, "connector", "set", "generic", "ios=on");
	scen_day(s, 0, 3600);
	INGEST(s, THREAT("ios-alice", "high", "\"2024-03-01T01:00:00Z\""));
	OUT_HAS(s, "1 accepted");
	RUN(s, 0, "evaluate");

	r = REPORT(s, "ios-alice");
	FIELD(s, r, "state", "noncompliant");
	FIELD(s, r, "level", "high");
	FIELD(s, r, "access", "block");
	FIELD(s, r, "platform", "ios");
	FIELD(s, r, "management", "enrolled");
	assert_vendors(s, r, "generic", "high");
	if (!has_reason(r, "generic", "high", "medium", NULL))
		fail_msg("no reason names generic and the allowed level (medium): %s",
			 scen_jtext(s, r));

	/* A device the vendor did not flag keeps its access. */
	r = REPORT(s, "ios-bob");
	FIELD(s, r, "state", "compliant");
	FIELD(s, r, "access", "allow");

	/* Remediated: a newer report at an allowed level (at as Unix seconds). */
	scen_day(s, 1, 0);
	INGEST(s, THREAT("ios-alice", "secured", "1709337600"));
	RUN(s, 0, "evaluate");
	OUT_HAS(s, "noncompliant -> compliant");
	r = REPORT(s, "ios-alice");
	FIELD(s, r, "state", "compliant");
	FIELD(s, r, "access", "allow");
	FIELD(s, r, "level", "secured");
	assert_vendors(s, r, "generic", "secured");

	/* A report with an older `at`, received later, is not the latest. */
	scen_day(s, 1, 600);
	INGEST(s, THREAT("ios-alice", "high", "\"2024-03-01T02:00:00Z\""));
	RUN(s, 0, "evaluate");
	r = REPORT(s, "ios-alice");
	FIELD(s, r, "state", "compliant");
	FIELD(s, r, "access", "allow");
	FIELD(s, r, "level", "secured");

	/* Times compare as instants: 01:30+02:00 on day 1 is 23:30Z on day 0,
	 * older than the stored report. */
	INGEST(s, THREAT("ios-alice", "high", "\"2024-03-02T01:30:00+02:00\""));
	RUN(s, 0, "evaluate");
	r = REPORT(s, "ios-alice");
	FIELD(s, r, "level", "secured");

	/* A report with the newest `at` does replace it. */
	INGEST(s, THREAT("ios-alice", "medium", "\"2024-03-02T00:05:00Z\""));
	RUN(s, 0, "evaluate");
	r = REPORT(s, "ios-alice");
	FIELD(s, r, "level", "medium");
	FIELD(s, r, "state", "compliant");
}

/* 2. R1: messages to a not_set_up or unavailable connector are counted as
 * rejected and never stored as device data. */
static void rejected_messages_never_stored(void **state)
{
	scen *s = *state;
	const char *dev = scen_writes(s, "devices.jsonl", SCEN_FLEET);
	const char *prov;
	json_t *c, *r;

	RUN(s, 0, "init");
	RUN(s, 0, "device", "import", dev);
	RUN(s, 0, "connector", "add", "generic");
	c = CONNECTOR(s, "generic");
	FIELD(s, c, "state", "not_set_up");

	scen_day(s, 0, 600);
	INGEST(s, THREAT("ios-alice", "high", "\"2024-03-01T00:10:00Z\""));
	OUT_HAS(s, "1 records, 0 accepted, 1 rejected, 0 malformed");
	/* Any message from the partner is contact (R1, R2), even a rejected one. */
	c = CONNECTOR(s, "generic");
	FIELD(s, c, "state", "not_set_up");
	FIELD(s, c, "last_contact", "2024-03-01T00:10:00Z");

	scen_day(s, 0, 1200);
	prov = scen_writes(s, "prov1.jsonl", "{\"type\":\"provision\",\"at\":\"2024-03-01T00:20:00Z\"}\n");
	RUN(s, 0, "ingest", "generic", prov);
	OUT_HAS(s, "1 accepted");
	RUN(s, 0, "connector", "set", "generic", "ios=on");
	c = CONNECTOR(s, "generic");
	FIELD(s, c, "state", "enabled");
	RUN(s, 0, "evaluate");
	r = REPORT(s, "ios-alice");
	FIELD(s, r, "state", "compliant");
	FIELD(s, r, "level", "none");
	FIELD(s, r, "access", "allow");
	assert_vendors(s, r, NULL, NULL);

	/* Deprovisioned: unavailable, messages rejected again. */
	scen_day(s, 0, 1800);
	RUN(s, 0, "connector", "remove", "generic");
	c = CONNECTOR(s, "generic");
	FIELD(s, c, "state", "unavailable");
	INGEST(s, THREAT("ios-bob", "high", "\"2024-03-01T00:30:00Z\""));
	OUT_HAS(s, "1 records, 0 accepted, 1 rejected, 0 malformed");
	c = CONNECTOR(s, "generic");
	FIELD(s, c, "state", "unavailable");

	/* The partner provisions it again (its state: scenario_connector). */
	scen_day(s, 0, 2400);
	prov = scen_writes(s, "prov2.jsonl", "{\"type\":\"provision\",\"at\":\"2024-03-01T00:40:00Z\"}\n");
	RUN(s, 0, "ingest", "generic", prov);
	OUT_HAS(s, "1 accepted, 0 rejected");

	RUN(s, 0, "connector", "set", "generic", "ios=on");
	RUN(s, 0, "evaluate");
	r = REPORT(s, "ios-bob");
	FIELD(s, r, "state", "compliant");
	FIELD(s, r, "level", "none");
	assert_vendors(s, r, NULL, NULL);

	/* Control: the same message, now accepted, does count. */
	scen_day(s, 0, 3000);
	INGEST(s, THREAT("ios-bob", "high", "\"2024-03-01T00:50:00Z\""));
	OUT_HAS(s, "1 accepted, 0 rejected");
	RUN(s, 0, "evaluate");
	r = REPORT(s, "ios-bob");
	FIELD(s, r, "state", "noncompliant");
	FIELD(s, r, "access", "block");
	assert_vendors(s, r, "generic", "high");
}


/* R13 (issue 19, finding 1): a report dated far after its receipt would
 * stay the latest for its device and vendor for ever, and no later genuine
 * report would count. It is refused, counted, named on stderr, audited, and
 * never stored; the later genuine report counts. */
static void future_report_refused(void **state)
{
	scen *s = *state;
	json_t *r, *reps, *rep;
	const char *audit;

	SETUP(s, SCEN_FLEET);
	RUN(s, 0, "connector", "set", "generic", "ios=on");
	scen_day(s, 0, 3600);
	INGEST(s, THREAT("ios-alice", "secured", "\"2100-01-01T00:00:00Z\""));
	OUT_HAS(s, "0 accepted, 1 rejected, 0 malformed");
	ERR_HAS(s, "dated 2100-01-01T00:00:00Z");
	ERR_HAS(s, "refused");
	assert_int_equal(scen_q_int(s, "SELECT count(*) FROM reports"), 0);
	RUN(s, 0, "audit", "show", "--kind", "message_rejected", "--json");
	OUT_HAS(s, "\"reason\":\"future\"");
	OUT_HAS(s, "ios-alice");
	audit = scen_own(s, strdup(s->out));
	assert_non_null(strstr(audit, "\"at\":4102444800"));

	/* the genuine report, a minute later, counts */
	scen_day(s, 0, 3660);
	INGEST(s, THREAT("ios-alice", "high", "\"2024-03-01T01:01:00Z\""));
	OUT_HAS(s, "1 accepted, 0 rejected");
	RUN(s, 0, "evaluate");
	r = REPORT(s, "ios-alice");
	FIELD(s, r, "state", "noncompliant");
	FIELD(s, r, "level", "high");
	assert_vendors(s, r, "generic", "high");
	/* the report of one device shows when each report was received */
	RUN(s, 0, "report", "--json", "--device", "ios-alice");
	r = scen_ownj(s, json_loads(s->out, 0, NULL));
	assert_non_null(r);
	reps = json_object_get(r, "reports");
	assert_int_equal(json_array_size(reps), 1);
	rep = json_array_get(reps, 0);
	FIELD(s, rep, "vendor", "generic");
	FIELD(s, rep, "level", "high");
	FIELD(s, rep, "at", "2024-03-01T01:01:00Z");
	FIELD(s, rep, "received", "2024-03-01T01:01:00Z");
	RUN(s, 0, "report", "--device", "ios-alice");
	OUT_HAS(s, "report from generic: high, dated 2024-03-01T01:01:00Z, received "
		   "2024-03-01T01:01:00Z");

	/* the skew: up to 300 s by default; --max-skew sets it */
	scen_day(s, 0, 7200);
	INGEST(s, THREAT("ios-bob", "low", "\"2024-03-01T02:05:00Z\""));
	OUT_HAS(s, "1 accepted, 0 rejected");
	INGEST(s, THREAT("ios-bob", "low", "\"2024-03-01T02:05:01Z\""));
	OUT_HAS(s, "0 accepted, 1 rejected");
	RUN(s, 0, "--max-skew", "0", "ingest", "generic", "--normalized",
	    scen_writes(s, "skew.jsonl", THREAT("ios-bob", "low", "\"2024-03-01T02:00:01Z\"")));
	OUT_HAS(s, "0 accepted, 1 rejected");
	RUN(s, 0, "--max-skew", "3600", "ingest", "generic", "--normalized",
	    scen_writes(s, "skew2.jsonl", THREAT("ios-bob", "low", "\"2024-03-01T03:00:00Z\"")));
	OUT_HAS(s, "1 accepted, 0 rejected");
	RUN(s, 64, "--max-skew", "-5", "report");
	assert_int_equal(scen_q_int(s, "SELECT max(at) FROM reports"), SCEN_T0 + 3 * 3600);
	assert_int_equal(scen_q_int(s, "SELECT received FROM reports r JOIN devices d ON "
				       "d.id = r.device WHERE d.ext_id = 'ios-bob'"),
			 SCEN_T0 + 7200);
}

/* R4 (issue 19, finding 9): a connector in error still delivers reports,
 * and they count: fail closed. A compromised device does not keep access
 * because its vendor reported an unrelated error code. Its platforms
 * switched off, it is not in force; unresponsive, it is ignored (above). */
static void error_connector_fails_closed(void **state)
{
	scen *s = *state;
	json_t *c, *r;

	SETUP(s, SCEN_FLEET);
	RUN(s, 0, "connector", "set", "generic", "ios=on");
	scen_day(s, 0, 60);
	INGEST(s, "{\"type\":\"error\",\"code\":\"E_QUOTA\",\"at\":\"2024-03-01T00:01:00Z\"}\n");
	INGEST(s, THREAT("ios-alice", "high", "\"2024-03-01T00:01:00Z\""));
	OUT_HAS(s, "1 accepted, 0 rejected");
	c = CONNECTOR(s, "generic");
	FIELD(s, c, "state", "error");
	RUN(s, 0, "evaluate");
	r = REPORT(s, "ios-alice");
	FIELD(s, r, "state", "noncompliant");
	FIELD(s, r, "level", "high");
	FIELD(s, r, "access", "block");
	assert_vendors(s, r, "generic", "high");
	/* a device without a report from it is not held to it (no
	 * block_missing_data): in force, not reported */
	r = REPORT(s, "ios-bob");
	FIELD(s, r, "state", "compliant");

	/* still in error, the platform switched off: not in force */
	RUN(s, 0, "connector", "set", "generic", "ios=off", "android=on");
	c = CONNECTOR(s, "generic");
	FIELD(s, c, "state", "error");
	RUN(s, 0, "evaluate");
	r = REPORT(s, "ios-alice");
	FIELD(s, r, "state", "compliant");
	assert_vendors(s, r, NULL, NULL);
}
/* 4. R6: an unresponsive connector's reports are ignored; contact again
 * makes them count. */
static void unresponsive_connector_ignored(void **state)
{
	scen *s = *state;
	json_t *c, *r;

	SETUP(s, SCEN_FLEET);
	RUN(s, 0, "connector", "set", "generic", "ios=on");
	INGEST(s, THREAT("ios-alice", "high", "\"2024-03-01T00:00:00Z\""));
	RUN(s, 0, "evaluate");
	r = REPORT(s, "ios-alice");
	FIELD(s, r, "state", "noncompliant");

	/* Day 7: exactly the threshold, not more than it. */
	scen_day(s, 7, 0);
	c = CONNECTOR(s, "generic");
	FIELD(s, c, "state", "enabled");

	scen_day(s, 8, 0);
	RUN(s, 0, "evaluate");
	c = CONNECTOR(s, "generic");
	FIELD(s, c, "state", "unresponsive");
	r = REPORT(s, "ios-alice");
	FIELD(s, r, "state", "compliant");
	FIELD(s, r, "level", "none");
	FIELD(s, r, "access", "allow");
	assert_vendors(s, r, NULL, NULL);

	/* A heartbeat is contact: enabled again, the stored report counts. */
	INGEST(s, "{\"type\":\"heartbeat\",\"at\":\"2024-03-09T00:00:00Z\"}\n");
	c = CONNECTOR(s, "generic");
	FIELD(s, c, "state", "enabled");
	FIELD(s, c, "last_contact", "2024-03-09T00:00:00Z");
	RUN(s, 0, "evaluate");
	r = REPORT(s, "ios-alice");
	FIELD(s, r, "state", "noncompliant");
	FIELD(s, r, "level", "high");
	FIELD(s, r, "access", "block");
	assert_vendors(s, r, "generic", "high");
}

static void unresponsive_days_setting(void **state)
{
	scen *s = *state;
	json_t *c, *r;

	SETUP(s, SCEN_FLEET);
	RUN(s, 0, "connector", "set", "generic", "ios=on", "unresponsive_days=3");
	INGEST(s, THREAT("ios-alice", "high", "\"2024-03-01T00:00:00Z\""));
	scen_day(s, 3, 0);
	RUN(s, 0, "evaluate");
	c = CONNECTOR(s, "generic");
	FIELD(s, c, "state", "enabled");
	r = REPORT(s, "ios-alice");
	FIELD(s, r, "state", "noncompliant");

	scen_day(s, 4, 0);
	c = CONNECTOR(s, "generic");
	FIELD(s, c, "state", "unresponsive");
	assert_int_equal(json_integer_value(json_object_get(c, "unresponsive_days")), 3);
	RUN(s, 0, "evaluate");
	r = REPORT(s, "ios-alice");
	FIELD(s, r, "state", "compliant");
	FIELD(s, r, "level", "none");
}

/* 6. SPEC 4.4: the strictest group wins. */
static void strictest_group_wins(void **state)
{
	scen *s = *state;
	json_t *r;

	SETUP(s, SCEN_FLEET);
	RUN(s, 0, "connector", "set", "generic", "ios=on");
	INGEST(s, THREAT("ios-exec", "medium", "\"2024-03-01T00:00:00Z\"")
		  THREAT("ios-bob", "medium", "\"2024-03-01T00:00:00Z\"")
		  THREAT("ios-alice", "medium", "\"2024-03-01T00:00:00Z\"")
		  THREAT("ios-multi", "medium", "\"2024-03-01T00:00:00Z\""));
	OUT_HAS(s, "4 accepted");
	RUN(s, 0, "evaluate");

	r = REPORT(s, "ios-exec"); /* Executives allows at most low */
	FIELD(s, r, "state", "noncompliant");
	FIELD(s, r, "access", "block");
	if (!has_reason(r, "Executives", "low", NULL))
		fail_msg("no reason names group Executives and its level low: %s",
			 scen_jtext(s, r));

	r = REPORT(s, "ios-bob"); /* no group: default allows medium */
	FIELD(s, r, "state", "compliant");
	FIELD(s, r, "access", "allow");

	r = REPORT(s, "ios-alice"); /* Staff: not configured, default applies */
	FIELD(s, r, "state", "compliant");

	r = REPORT(s, "ios-multi"); /* Staff + Executives: the strictest */
	FIELD(s, r, "state", "noncompliant");
	FIELD(s, r, "access", "block");

	/* Bob is promoted: his record, imported again, replaces the old one. */
	RUN(s, 0, "device", "import",
	    scen_writes(s, "bob.jsonl",
			"{\"id\":\"ios-bob\",\"platform\":\"ios\",\"ownership\":\"corporate\","
			"\"management\":\"enrolled\",\"groups\":[\"Executives\"]}\n"));
	RUN(s, 0, "evaluate");
	r = REPORT(s, "ios-bob");
	FIELD(s, r, "state", "noncompliant");
	FIELD(s, r, "access", "block");
}

/* SPEC 4.4 with groups that inherit: a lenient group and one that sets only
 * an action; a device in both gets the lowest level and the hardest action. */
static void strictest_group_inherits_from_default(void **state)
{
	scen *s = *state;
	static const char groups[] =
		"return {\n"
		"  default = { max_level = \"medium\", app_max_level = \"low\", app_action = \"warn\" },\n"
		"  Field   = { max_level = \"high\", app_action = \"wipe\" },\n"
		"  Office  = { app_action = \"block\" },\n"
		"}\n";
	static const char fleet[] =
		"{\"id\":\"a-field\",\"platform\":\"android\",\"ownership\":\"corporate\","
		"\"management\":\"enrolled\",\"groups\":[\"Field\"]}\n"
		"{\"id\":\"a-both\",\"platform\":\"android\",\"ownership\":\"corporate\","
		"\"management\":\"enrolled\",\"groups\":[\"Office\",\"Field\"]}\n"
		"{\"id\":\"a-office\",\"platform\":\"android\",\"ownership\":\"corporate\","
		"\"management\":\"enrolled\",\"groups\":[\"Office\"]}\n";
	json_t *r;

	SETUP(s, fleet);
	snprintf(s->rules, sizeof s->rules, "%s", scen_rules_copy(s, "rules-groups", NULL, groups));
	RUN(s, 0, "connector", "set", "generic", "android=on", "mam_android=on");
	INGEST(s, THREAT("a-field", "high", "1709251200") THREAT("a-both", "high", "1709251200")
		  THREAT("a-office", "high", "1709251200"));
	RUN(s, 0, "evaluate");

	r = REPORT(s, "a-field");
	FIELD(s, r, "state", "compliant"); /* Field allows high */
	FIELD(s, r, "app_protection", "wipe");
	r = REPORT(s, "a-both");
	FIELD(s, r, "state", "noncompliant"); /* Office inherits medium */
	FIELD(s, r, "app_protection", "wipe");
	r = REPORT(s, "a-office");
	FIELD(s, r, "state", "noncompliant");
	FIELD(s, r, "app_protection", "block");
}

/* 7. R8: app protection for an unenrolled device, one vendor. */
static void app_protection_unenrolled(void **state)
{
	scen *s = *state;
	json_t *r;

	SETUP(s, SCEN_FLEET);
	RUN(s, 0, "connector", "set", "generic", "mam_android=on");
	INGEST(s, THREAT("and-carol", "medium", "\"2024-03-01T00:00:00Z\""));
	RUN(s, 0, "evaluate");
	r = REPORT(s, "and-carol");
	FIELD(s, r, "management", "unenrolled");
	FIELD(s, r, "app_protection", "block");
	if (!has_reason(r, "generic", "medium", "low", NULL))
		fail_msg("no reason names generic, its level and the app maximum (low): %s",
			 scen_jtext(s, r));

	/* Remediated: a newer report at the allowed level lifts the block. */
	scen_day(s, 1, 0);
	INGEST(s, THREAT("and-carol", "low", "\"2024-03-02T00:00:00Z\""));
	RUN(s, 0, "evaluate");
	r = REPORT(s, "and-carol");
	FIELD(s, r, "app_protection", "none");

	/* Infected again, but the vendor is not used for app protection on
	 * Android (compliance only): no app action. */
	scen_day(s, 2, 0);
	INGEST(s, THREAT("and-carol", "high", "\"2024-03-03T00:00:00Z\""));
	RUN(s, 0, "connector", "set", "generic", "mam_android=off", "android=on");
	RUN(s, 0, "evaluate");
	r = REPORT(s, "and-carol");
	FIELD(s, r, "app_protection", "none");

	/* Control: switched back on, the same report blocks. */
	RUN(s, 0, "connector", "set", "generic", "mam_android=on");
	RUN(s, 0, "evaluate");
	r = REPORT(s, "and-carol");
	FIELD(s, r, "app_protection", "block");
}

/* 9. evaluate --dry-run shows what would change and writes nothing. */
static void dry_run_writes_nothing(void **state)
{
	scen *s = *state;
	char *before, *after, *first;
	const char *whatif;
	json_t *r;

	SETUP(s, SCEN_FLEET);
	RUN(s, 0, "connector", "set", "generic", "ios=on");
	INGEST(s, THREAT("ios-alice", "high", "\"2024-03-01T00:00:00Z\"")
		  THREAT("ios-bob", "low", "\"2024-03-01T00:00:00Z\""));
	RUN(s, 0, "evaluate");
	r = REPORT(s, "ios-alice");
	FIELD(s, r, "state", "noncompliant");

	scen_day(s, 1, 0);
	INGEST(s, THREAT("ios-alice", "secured", "\"2024-03-02T00:00:00Z\""));
	before = REPORT_ALL(s);
	RUN(s, 0, "evaluate", "--dry-run");
	OUT_HAS(s, "ios-alice");
	OUT_HAS(s, "noncompliant");
	OUT_HAS(s, "-> compliant");
	if (strstr(s->out, "ios-bob"))
		fail_msg("dry run lists ios-bob, whose decision does not change:\n%s", s->out);
	first = scen_own(s, strdup(s->out));
	/* Nothing was written: the same report, and the same dry run again. */
	after = REPORT_ALL(s);
	assert_string_equal(before, after);
	RUN(s, 0, "evaluate", "--dry-run");
	assert_string_equal(first, s->out);

	/* What-if with other rules: stricter groups flag ios-bob (low). */
	whatif = scen_rules_copy(s, "rules-strict", NULL,
				 "return {\n  default = { max_level = \"secured\", app_max_level = \"low\", "
				 "app_action = \"block\" },\n}\n");
	snprintf(s->rules, sizeof s->rules, "%s", whatif);
	RUN(s, 0, "evaluate", "--dry-run");
	OUT_HAS(s, "ios-bob");
	after = REPORT_ALL(s);
	assert_string_equal(before, after);
	snprintf(s->rules, sizeof s->rules, "%s", MTD_RULES_DIR);

	/* The real evaluation applies it. */
	RUN(s, 0, "evaluate");
	r = REPORT(s, "ios-alice");
	FIELD(s, r, "state", "compliant");
	FIELD(s, r, "access", "allow");
	r = REPORT(s, "ios-bob");
	FIELD(s, r, "state", "compliant");
	after = REPORT_ALL(s);
	if (!strcmp(before, after))
		fail_msg("evaluate after the dry run changed nothing");
	RUN(s, 0, "evaluate", "--dry-run");
	if (strstr(s->out, "ios-alice"))
		fail_msg("a dry run after the evaluation still lists ios-alice:\n%s", s->out);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(infected_blocked_then_remediated, setup, teardown),
		cmocka_unit_test_setup_teardown(rejected_messages_never_stored, setup, teardown),
		cmocka_unit_test_setup_teardown(unresponsive_connector_ignored, setup, teardown),
		cmocka_unit_test_setup_teardown(future_report_refused, setup, teardown),
		cmocka_unit_test_setup_teardown(error_connector_fails_closed, setup, teardown),
		cmocka_unit_test_setup_teardown(unresponsive_days_setting, setup, teardown),
		cmocka_unit_test_setup_teardown(strictest_group_wins, setup, teardown),
		cmocka_unit_test_setup_teardown(strictest_group_inherits_from_default, setup, teardown),
		cmocka_unit_test_setup_teardown(app_protection_unenrolled, setup, teardown),
		cmocka_unit_test_setup_teardown(dry_run_writes_nothing, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
