/* Scenarios: security tasks (contracts: "Security tasks"; issue 16): task
 * messages through the mtdgate binary, kept per device with their state in
 * the order of the time they carry, parked like any message naming no
 * device, audited (audit verify names a task changed behind mtdgate's back),
 * seen by the rules as device.tasks: rules/tasks.lua's "a critical
 * vulnerability open for more than 14 days makes the device noncompliant",
 * naming the task in the reasons. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <sqlite3.h>

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

/* A task line for device dev (a "device" or "device_ref" member), owned by s. */
static const char *task(scen *s, const char *who, const char *id, const char *cve,
			const char *severity, const char *first_seen, const char *state,
			const char *at)
{
	char *t = malloc(1024), cvef[64] = "";
	if (!t)
		fail_msg("out of memory");
	if (cve)
		snprintf(cvef, sizeof cvef, "\"cve\":\"%s\",", cve);
	snprintf(t, 1024,
		 "{\"type\":\"task\",%s,\"at\":\"%s\",\"task\":{\"id\":\"%s\",\"kind\":"
		 "\"vulnerability\",%s\"software\":\"xz-utils\",\"version\":\"5.6.0\","
		 "\"severity\":\"%s\",\"first_seen\":\"%s\",\"state\":\"%s\"}}\n",
		 who, at, id, cvef, severity, first_seen, state);
	return scen_own(s, t);
}

static void tamper(const char *path, const char *sql)
{
	sqlite3 *db = NULL;
	char *err = NULL;
	if (sqlite3_open(path, &db) != SQLITE_OK ||
	    sqlite3_exec(db, sql, NULL, NULL, &err) != SQLITE_OK)
		fail_msg("tamper %s: %s", sql, err ? err : sqlite3_errmsg(db));
	sqlite3_close(db);
}

#define DAVE "\"device\":\"win-dave\""

/* The fleet, generic in force on Windows, day 30: a critical vulnerability
 * first seen on day 1 is 29 days old. */
static void fleet(scen *s)
{
	SETUP(s, SCEN_FLEET);
	RUN(s, 0, "connector", "set", "generic", "windows=on", "ios=on");
	scen_day(s, 30, 0);
	INGEST(s, "{\"type\":\"threat\",\"device\":\"win-dave\",\"level\":\"secured\","
		  "\"at\":\"2024-03-30T00:00:00Z\"}\n");
}

/* The rule decides on the tasks, names the task, and follows its state. */
static void overdue_vulnerability_noncompliant(void **state)
{
	scen *s = *state;
	const char *rules;
	json_t *r;

	fleet(s);
	rules = scen_tasks_rules(s);
	INGEST(s, task(s, DAVE, "CVE-2024-3094", "CVE-2024-3094", "critical", "2024-03-02T00:00:00Z",
		       "open", "2024-03-30T10:00:00Z"));
	OUT_HAS(s, "1 accepted");
	/* a high one and a recent critical one count for nothing */
	INGEST(s, task(s, DAVE, "CVE-2024-0001", "CVE-2024-0001", "high", "2024-01-01T00:00:00Z", "open",
		       "2024-03-30T10:00:00Z"));
	INGEST(s, task(s, DAVE, "CVE-2024-0002", NULL, "critical", "2024-03-25T00:00:00Z", "open",
		       "2024-03-30T10:00:00Z"));

	/* the default rules do not look at tasks */
	RUN(s, 0, "evaluate");
	r = REPORT(s, "win-dave");
	FIELD(s, r, "state", "compliant");

	RUN(s, 0, "--rules", rules, "evaluate");
	r = REPORT(s, "win-dave");
	FIELD(s, r, "state", "noncompliant");
	FIELD(s, r, "access", "block");
	if (!has_reason(r, "generic: critical vulnerability CVE-2024-3094 (task CVE-2024-3094) in "
			   "xz-utils 5.6.0 open since 2024-03-02T00:00:00Z, more than 14 days",
			NULL))
		fail_msg("reasons: %s", scen_jtext(s, json_object_get(r, "reasons")));
	if (has_reason(r, "CVE-2024-0001", NULL) || has_reason(r, "CVE-2024-0002", NULL))
		fail_msg("a task that is not overdue named: %s",
			 scen_jtext(s, json_object_get(r, "reasons")));
	/* the other devices are not touched */
	FIELD(s, REPORT(s, "ios-alice"), "state", "compliant");

	/* resolved: compliant again */
	INGEST(s, task(s, DAVE, "CVE-2024-3094", "CVE-2024-3094", "critical", "2024-03-02T00:00:00Z",
		       "resolved", "2024-03-30T11:00:00Z"));
	RUN(s, 0, "--rules", rules, "evaluate");
	FIELD(s, REPORT(s, "win-dave"), "state", "compliant");
	/* an older "open" arriving late changes nothing (at order) */
	INGEST(s, task(s, DAVE, "CVE-2024-3094", "CVE-2024-3094", "critical", "2024-03-02T00:00:00Z",
		       "open", "2024-03-30T10:30:00Z"));
	RUN(s, 0, "--rules", rules, "evaluate");
	FIELD(s, REPORT(s, "win-dave"), "state", "compliant");
	assert_int_equal(scen_q_int(s, "SELECT open FROM tasks WHERE id = 'CVE-2024-3094'"), 0);
	/* a newer one reopens it */
	INGEST(s, task(s, DAVE, "CVE-2024-3094", "CVE-2024-3094", "critical", "2024-03-02T00:00:00Z",
		       "open", "2024-03-30T12:00:00Z"));
	RUN(s, 0, "--rules", rules, "evaluate");
	FIELD(s, REPORT(s, "win-dave"), "state", "noncompliant");

	/* a connector no longer in force for Windows: its tasks are set aside */
	RUN(s, 0, "connector", "set", "generic", "windows=off");
	RUN(s, 0, "--rules", rules, "evaluate");
	FIELD(s, REPORT(s, "win-dave"), "state", "compliant");

	RUN(s, 0, "audit", "verify");
	OUT_HAS(s, "audit log intact");
}

/* Bad task messages are malformed with their position; the good ones kept. */
static void malformed_tasks(void **state)
{
	scen *s = *state;
	const char *in;

	fleet(s);
	in = scen_writes(s, "bad.jsonl",
			 "{\"type\":\"task\",\"device\":\"win-dave\",\"at\":1711800000,\"task\":{"
			 "\"id\":\"t1\",\"kind\":\"vulnerability\",\"severity\":\"severe\","
			 "\"first_seen\":1,\"state\":\"open\"}}\n"
			 "{\"type\":\"task\",\"device\":\"win-dave\",\"at\":1711800000,\"task\":{"
			 "\"id\":\"t2\",\"kind\":\"recommendation\",\"severity\":\"low\","
			 "\"first_seen\":1,\"state\":\"open\"}}\n"
			 "{\"type\":\"task\",\"device\":\"win-dave\",\"at\":1711800000,\"task\":{"
			 "\"id\":\"t3\",\"kind\":\"vulnerability\",\"cve\":\"2024-1\",\"severity\":\"low\","
			 "\"first_seen\":1,\"state\":\"open\"}}\n");
	RUN(s, 65, "ingest", "generic", "--normalized", in);
	ERR_HAS(s, "bad.jsonl line 1: field 'task.severity': 'severe' is not low, medium, high or "
		   "critical");
	ERR_HAS(s, "bad.jsonl line 3: field 'task.cve': '2024-1' is not a CVE id");
	OUT_HAS(s, "1 accepted");
	assert_int_equal(scen_q_int(s, "SELECT count(*) FROM tasks"), 1);
	assert_int_equal(scen_q_int(s, "SELECT kind FROM tasks WHERE id = 't2'"), 1);
}

/* A task naming no known device is parked, and applied when it resolves;
 * refused like any message when the connector is not set up. */
static void parked_and_refused(void **state)
{
	scen *s = *state;

	fleet(s);
	INGEST(s, task(s, "\"device_ref\":{\"vendor_device_id\":\"m-123\",\"entra\":\"e-new\"}",
		       "CVE-2024-3094", "CVE-2024-3094", "critical", "2024-03-02T00:00:00Z", "open",
		       "2024-03-30T10:00:00Z"));
	OUT_HAS(s, "1 parked");
	assert_int_equal(scen_q_int(s, "SELECT count(*) FROM tasks"), 0);
	RUN(s, 0, "device", "import",
	    scen_writes(s, "new.jsonl",
			"{\"id\":\"win-new\",\"platform\":\"windows\",\"ownership\":\"corporate\","
			"\"management\":\"enrolled\",\"ids\":{\"entra\":\"e-new\"}}\n"));
	assert_int_equal(scen_q_int(s, "SELECT count(*) FROM tasks t JOIN devices d ON d.id = "
				       "t.device WHERE d.ext_id = 'win-new' AND t.open = 1"),
			 1);
	/* the vendor's id was learned with it */
	assert_int_equal(scen_q_int(s, "SELECT count(*) FROM device_ids WHERE kind = "
				       "'vendor:generic' AND value = 'm-123'"),
			 1);

	/* a device removed takes its tasks with it; the log still verifies */
	RUN(s, 0, "device", "remove", "win-new");
	assert_int_equal(scen_q_int(s, "SELECT count(*) FROM tasks"), 0);
	RUN(s, 0, "audit", "verify");
	OUT_HAS(s, "audit log intact");

	RUN(s, 0, "connector", "remove", "generic");
	INGEST(s, task(s, DAVE, "CVE-2024-9", NULL, "low", "2024-03-02T00:00:00Z", "open",
		       "2024-03-30T10:00:00Z"));
	OUT_HAS(s, "1 rejected");
	assert_int_equal(scen_q_int(s, "SELECT count(*) FROM tasks WHERE id = 'CVE-2024-9'"), 0);
	RUN(s, 0, "audit", "verify");
	OUT_HAS(s, "audit log intact");
}

/* A task changed, added or removed behind mtdgate's back is named. */
static void tampered_task_named(void **state)
{
	scen *s = *state;
	static const char *const edits[][2] = {
		{"UPDATE tasks SET severity = 0", "task 'CVE-2024-3094' of device 'win-dave' from "
						  "'generic' (table tasks)"},
		{"UPDATE tasks SET open = 0", "(table tasks)"},
		{"DELETE FROM tasks", "task 'CVE-2024-3094' of device 'win-dave' from 'generic' (table "
				      "tasks) is in the audit log but not in the store"},
		{"INSERT INTO tasks SELECT device, connector, 'CVE-2020-1', kind, cve, software, version,"
		 " severity, first_seen, open, at, received FROM tasks",
		 "task 'CVE-2020-1' of device 'win-dave' from 'generic' (table tasks) has no entry"},
	};
	char *clean;
	size_t n;

	fleet(s);
	INGEST(s, task(s, DAVE, "CVE-2024-3094", "CVE-2024-3094", "critical", "2024-03-02T00:00:00Z",
		       "open", "2024-03-30T10:00:00Z"));
	RUN(s, 0, "audit", "verify");
	clean = scen_own(s, scen_slurp(s->db, &n));
	for (size_t i = 0; i < sizeof edits / sizeof *edits; i++) {
		scen_write(s, "m.db", clean, n);
		tamper(s->db, edits[i][0]);
		RUN(s, 65, "audit", "verify");
		OUT_HAS(s, "audit log BROKEN");
		OUT_HAS(s, edits[i][1]);
	}
}

/* mtdgate tasks lists them, open and resolved, as JSON lines or a table. */
static void tasks_listed(void **state)
{
	scen *s = *state;
	json_t *j;

	fleet(s);
	RUN(s, 0, "tasks");
	assert_string_equal(s->out, "");
	INGEST(s, task(s, DAVE, "CVE-2024-3094", "CVE-2024-3094", "critical", "2024-03-02T00:00:00Z",
		       "open", "2024-03-30T10:00:00Z"));
	scen_ingest_(s, 65, task(s, "\"device\":\"ios-alice\"", "CVE-2023-9\u202e", NULL, "low",
				 "2024-03-01T00:00:00Z", "open", "2024-03-30T10:00:00Z"),
		     __FILE__, __LINE__);
	ERR_HAS(s, "field 'task.id': contains a bidirectional control character");
	INGEST(s, task(s, "\"device\":\"ios-alice\"", "rec-1", NULL, "low", "2024-03-01T00:00:00Z",
		       "resolved", "2024-03-30T10:00:00Z"));
	RUN(s, 0, "tasks", "--json");
	assert_int_equal(scen_json_lines_(s, __FILE__, __LINE__), 2);
	j = scen_ownj(s, json_loads(s->out, JSON_DISABLE_EOF_CHECK, NULL));
	assert_non_null(j);
	FIELD(s, j, "device", "ios-alice");
	FIELD(s, j, "id", "rec-1");
	FIELD(s, j, "state", "resolved");
	assert_true(json_is_null(json_object_get(j, "cve")));
	RUN(s, 0, "tasks", "--json", "--device", "win-dave");
	j = scen_ownj(s, json_loads(s->out, 0, NULL));
	assert_non_null(j);
	FIELD(s, j, "vendor", "generic");
	FIELD(s, j, "cve", "CVE-2024-3094");
	FIELD(s, j, "kind", "vulnerability");
	FIELD(s, j, "severity", "critical");
	FIELD(s, j, "software", "xz-utils");
	FIELD(s, j, "version", "5.6.0");
	FIELD(s, j, "first_seen", "2024-03-02T00:00:00Z");
	FIELD(s, j, "updated_at", "2024-03-30T10:00:00Z");
	FIELD(s, j, "received", "2024-03-31T00:00:00Z");
	RUN(s, 0, "tasks", "--device", "win-dave");
	OUT_HAS(s, "win-dave  generic  CVE-2024-3094  vulnerability  critical  open");
	RUN(s, 0, "tasks", "-o", "csv", "--device", "win-dave");
	OUT_HAS(s, "device,vendor,id,kind,severity,state,first_seen,cve,software,version,updated_at,"
		   "received\r\nwin-dave,generic,CVE-2024-3094,vulnerability,critical,open,");
	RUN(s, 64, "tasks", "--device", "nosuch");
	ERR_HAS(s, "no device 'nosuch'");
	RUN(s, 64, "tasks", "extra");
	RUN(s, 0, "help", "tasks");
	OUT_HAS(s, "Exit 0");
}

/* rules test: tests.lua cases may give a device tasks. */
static void rules_test_with_tasks(void **state)
{
	scen *s = *state;
	const char *rules;

	rules = scen_tasks_rules(s);
	scen_writes(s, "tasks-rules/tests.lua",
		    "return {\n"
		    "  { name = 'overdue critical vulnerability',\n"
		    "    device = { platform = 'windows', vendors = { defender = 'secured' },\n"
		    "      tasks = { { id = 'CVE-2024-3094', cve = 'CVE-2024-3094', severity = 'critical',\n"
		    "                  days_ago = 20 } } },\n"
		    "    expect = { state = 'noncompliant', reasons = { 'CVE-2024-3094 (task CVE-2024-3094)' } } },\n"
		    "  { name = 'a recent one is not overdue',\n"
		    "    device = { platform = 'windows', vendors = { defender = 'secured' },\n"
		    "      tasks = { { id = 'CVE-2024-3094', severity = 'critical', days_ago = 3 } } },\n"
		    "    expect = { state = 'compliant' } },\n"
		    "}\n");
	RUN(s, 0, "rules", "test", rules);
	OUT_HAS(s, "2 passed, 0 failed");
	scen_writes(s, "tasks-rules/tests.lua",
		    "return {\n"
		    "  { name = 'expects what the tasks do not give',\n"
		    "    device = { platform = 'windows', vendors = { defender = 'secured' },\n"
		    "      tasks = { { id = 'CVE-2024-3094', severity = 'critical', days_ago = 20 } } },\n"
		    "    expect = { state = 'compliant' } },\n"
		    "  { name = 'a task without a severity',\n"
		    "    device = { platform = 'windows', tasks = { { id = 'x' } } },\n"
		    "    expect = { state = 'compliant' } },\n"
		    "  { name = 'a misspelt task key',\n"
		    "    device = { platform = 'windows', tasks = { { id = 'x', severity = 'low', day_ago = 1 } } },\n"
		    "    expect = { state = 'compliant' } },\n"
		    "}\n");
	RUN(s, 65, "rules", "test", rules);
	OUT_HAS(s, "0 passed, 3 failed");
	OUT_HAS(s, "device.tasks[1]: needs an id and a severity");
	OUT_HAS(s, "unknown key 'device.tasks[].day_ago'");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(overdue_vulnerability_noncompliant, setup, teardown),
		cmocka_unit_test_setup_teardown(malformed_tasks, setup, teardown),
		cmocka_unit_test_setup_teardown(parked_and_refused, setup, teardown),
		cmocka_unit_test_setup_teardown(tampered_task_named, setup, teardown),
		cmocka_unit_test_setup_teardown(rules_test_with_tasks, setup, teardown),
		cmocka_unit_test_setup_teardown(tasks_listed, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
