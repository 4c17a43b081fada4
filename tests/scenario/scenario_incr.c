/* Scenarios: incremental evaluation in `mtdgate serve` (issue 15). The
 * same inputs through serve (pushes decided device by device, a grace
 * period ending and a connector falling silent on serve's timer, a rules
 * reload, a batch ingest by another process picked up from the logs) and
 * through the batch commands (ingest, evaluate) on a second store give the
 * same report --json for every device. Serve's clock is a file the test
 * writes (MTD_TEST_NOW_FILE, test builds only): time moves without waiting. */
#define _GNU_SOURCE /* setenv */
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "harness.h"
#include "httpc.h"

typedef struct fixture {
	scen *s, *t; /* s: served; t: the same by batch commands */
	srv sv;
} fixture;

/* Serve's time (MTD_TEST_NOW_FILE, which serve inherits; the batch
 * commands take --now), and s's and t's. */
static void set_time(fixture *f, int64_t t)
{
	serve_clock(f->s, t);
	f->t->now = t;
}

/* X-Mtdgate-State of dev, polled until it is want (at most 5 s: serve's
 * loop runs every 200 ms). */
static void state_until(fixture *f, const char *dev, const char *want)
{
	char path[200], got[64] = "";
	int64_t deadline = ms_now() + 5000;
	snprintf(path, sizeof path, "/v1/access?device=%s", dev);
	for (;;) {
		int status;
		const char *r = http(f->s, f->sv.port, "GET", path, NULL, &status);
		const char *h = header(f->s, r, "X-Mtdgate-State");
		struct timespec ts = {0, 20 * 1000 * 1000};
		if (h)
			snprintf(got, sizeof got, "%s", h);
		if (!strcmp(got, want))
			return;
		if (ms_now() > deadline)
			fail_msg("%s stayed %s, expected %s", dev, got, want);
		nanosleep(&ts, NULL);
	}
}

/* Every device's report --json of s and t: the same. */
static void same_reports(fixture *f, const char *when)
{
	char *served = REPORT_ALL(f->s), *batch = REPORT_ALL(f->t);
	if (strcmp(served, batch))
		fail_msg("%s: serve and batch decide differently\nserved:\n%s\nbatch:\n%s", when,
			 served, batch);
}

static int setup(void **state)
{
	fixture *f = calloc(1, sizeof *f);
	if (!f || !(f->s = scen_new()) || !(f->t = scen_new())) {
		if (f)
			scen_free(f->s);
		free(f);
		return -1;
	}
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	fixture *f = *state;
	if (f->sv.pid > 0)
		serve_stop(&f->sv);
	unsetenv("MTD_TEST_NOW_FILE");
	scen_free(f->s);
	scen_free(f->t);
	free(f);
	return 0;
}

#define GROUPS(max)                                                                                \
	"return { default = { max_level = \"" max "\", app_max_level = \"low\","                   \
	" app_action = \"block\" }, Executives = { max_level = \"low\", grace_hours = 4 } }\n"

/* Pushes (decided device by device), a grace period ending and a connector
 * falling silent at their time, a rules reload (SIGHUP), and a batch ingest
 * by another process: serve decides as the batch commands do. */
static void serve_decides_as_batch(void **state)
{
	fixture *f = *state;
	scen *s = f->s, *t = f->t;
	const int64_t t1 = SCEN_T0 + 3600;
	const char *push1 = THREAT("ios-alice", "high", "\"2024-03-01T00:30:00Z\"")
		THREAT("ios-exec", "medium", "\"2024-03-01T00:31:00Z\"")
		THREAT("and-carol", "medium", "\"2024-03-01T00:32:00Z\"");
	const char *push2 = THREAT("ios-alice", "low", "\"2024-03-01T00:50:00Z\"");
	const char *batch = THREAT("ios-bob", "high", "\"2024-03-01T04:00:00Z\"");
	char token[80], auth[120];
	int status;

	for (scen *x = s;; x = t) {
		snprintf(x->rules, sizeof x->rules, "%s", scen_rules_copy(x, "r", NULL, GROUPS("medium")));
		SETUP(x, SCEN_FLEET);
		RUN(x, 0, "connector", "set", "generic", "ios=on", "android=on", "mam_android=on",
		    "unresponsive_days=1");
		RUN(x, 0, "evaluate");
		if (x == t)
			break;
	}
	RUN(s, 0, "connector", "token", "generic");
	snprintf(token, sizeof token, "%.64s", s->out);
	snprintf(auth, sizeof auth, "Authorization: Bearer %s\r\n", token);
	set_time(f, t1);
	serve_start(s, &f->sv);

	/* 1. pushes: decided before the answer */
	post_body = push1;
	http(s, f->sv.port, "POST", "/v1/ingest/generic?normalized=1", auth, &status);
	assert_int_equal(status, 200);
	scen_ingest_(t, 0, push1, __FILE__, __LINE__);
	RUN(t, 0, "evaluate");
	state_until(f, "ios-exec", "in_grace_period"); /* at once: no waiting */
	same_reports(f, "after the first push");
	post_body = push2;
	http(s, f->sv.port, "POST", "/v1/ingest/generic?normalized=1", auth, &status);
	assert_int_equal(status, 200);
	scen_ingest_(t, 0, push2, __FILE__, __LINE__);
	RUN(t, 0, "evaluate");
	same_reports(f, "after the second push");

	/* 2. the grace period (4 hours from 01:00) ends on serve's timer */
	set_time(f, t1 + 4 * 3600);
	state_until(f, "ios-exec", "noncompliant");
	RUN(t, 0, "evaluate");
	same_reports(f, "after the grace period");

	/* 3. a batch ingest by another process: decided by serve, no evaluate */
	INGEST(s, batch);
	state_until(f, "ios-bob", "noncompliant");
	INGEST(t, batch);
	RUN(t, 0, "evaluate");
	same_reports(f, "after a batch ingest");

	/* 4. SIGHUP: the rules read again, everything decided again */
	scen_writes(s, "r/groups.lua", GROUPS("secured"));
	scen_writes(t, "r/groups.lua", GROUPS("secured"));
	kill(f->sv.pid, SIGHUP);
	state_until(f, "ios-alice", "noncompliant"); /* low is too much now */
	RUN(t, 0, "evaluate");
	same_reports(f, "after the rules reload");

	/* 5. a day of silence after the last message (the batch ingest's, at
	 * 05:00): the connector turns unresponsive and its reports stop
	 * counting, for every device at once */
	set_time(f, t1 + 4 * 3600 + SCEN_DAY + 1);
	state_until(f, "ios-bob", "compliant");
	RUN(t, 0, "evaluate");
	same_reports(f, "after the connector fell silent");
	assert_int_equal(serve_stop(&f->sv), 0);
	same_reports(f, "after serve stopped");
}

/* A security task turning overdue is a due time (rules/tasks.lua: a
 * critical vulnerability open for more than 14 days): serve decides the
 * device as time passes, with no input, at the second the batch evaluate
 * decides it differently; the same report --json before and after. */
static void task_overdue_on_time(void **state)
{
	fixture *f = *state;
	scen *s = f->s, *t = f->t;
	/* first seen on day 1 at 03:00: more than 14 days old from day 15
	 * 03:00:01 */
	const int64_t seen = SCEN_T0 + SCEN_DAY + 3 * 3600, over = seen + 14 * SCEN_DAY + 1;
	const char *in = "{\"type\":\"task\",\"device\":\"win-dave\",\"at\":\"2024-03-02T04:00:00Z\","
			 "\"task\":{\"id\":\"CVE-2024-3094\",\"kind\":\"vulnerability\","
			 "\"cve\":\"CVE-2024-3094\",\"severity\":\"critical\","
			 "\"first_seen\":\"2024-03-02T03:00:00Z\",\"state\":\"open\"}}\n";

	for (scen *x = s;; x = t) {
		snprintf(x->rules, sizeof x->rules, "%s", scen_tasks_rules(x));
		SETUP(x, SCEN_FLEET);
		RUN(x, 0, "connector", "set", "generic", "windows=on", "ios=on",
		    "unresponsive_days=30");
		scen_day(x, 2, 0);
		INGEST(x, in);
		RUN(x, 0, "evaluate");
		if (x == t)
			break;
	}
	set_time(f, over - 2);
	serve_start(s, &f->sv);
	state_until(f, "win-dave", "compliant");
	RUN(t, 0, "evaluate");
	same_reports(f, "a second before the task is 14 days old");
	/* exactly 14 days: not more yet */
	set_time(f, over - 1);
	RUN(t, 0, "evaluate");
	FIELD(t, REPORT(t, "win-dave"), "state", "compliant");
	/* a second later: overdue, on serve's timer */
	set_time(f, over);
	state_until(f, "win-dave", "noncompliant");
	RUN(t, 0, "evaluate");
	FIELD(t, REPORT(t, "win-dave"), "state", "noncompliant");
	same_reports(f, "when the task is overdue");
	assert_int_equal(serve_stop(&f->sv), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(serve_decides_as_batch, setup, teardown),
		cmocka_unit_test_setup_teardown(task_overdue_on_time, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
