/* Scenarios: connectors that fetch (issue 16). `mtdgate pull` against a
 * local HTTPS server of ours (mockapi.h) that follows each vendor's
 * documented flow: Defender's Entra client credentials and OData pages,
 * Lookout's application key and its event stream. Every event comes in
 * exactly once, on its device with its level, across kills at chosen points
 * (MTD_TEST_STOP_AT), 429 with Retry-After, a 500 burst, a token that ends
 * early, a slow server, a truncated body, a stream that drops and resumes
 * with events sent again. The secret file is refused when others can read
 * it, and the secret is in no output and not in the store. */
#define _GNU_SOURCE /* memmem */
#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <spawn.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "pulltest.h"

/* The defender export rows off, as each test starts. */
static int setup(void **state)
{
	mock_defender_tvm_rows(0);
	mock_defender_tvm_fix(0);
	return pull_setup(state);
}

/* A store with ndev devices, the vendor's connector provisioned, its
 * platform on, its API pointed at the server. */
static void start(pctx *c, int vendor, int n, int per_page, int ndev)
{
	static const char *const def[] = {"token_url=@/tenant-1/oauth2/v2.0/token",
					  "client_id=" CLIENT, NULL};
	static const char *const lk[] = {"token_url=@/oauth2/token", NULL};
	static const char *const win[] = {"windows=on", NULL}, *const ios[] = {"ios=on", NULL};
	if (vendor == MOCK_DEFENDER)
		pull_start(c, "defender", vendor, n, per_page, ndev, "windows", win, def);
	else
		pull_start(c, "lookout", vendor, n, per_page, ndev, "ios", ios, lk);
}

/* Each device's vendor level, as the generator made it. */
static void levels_right(pctx *c, int vendor, const char *v, int n, int ndev)
{
	scen *s = c->s;
	RUN(s, 0, "report", "--json");
	for (int d = 0; d < ndev; d++) {
		char dev[32], want[16];
		const char *got;
		snprintf(dev, sizeof dev, "dev-%d", d);
		if (vendor == MOCK_DEFENDER) {
			snprintf(want, sizeof want, "%s", mock_level_name(vendor, d));
		} else { /* the highest of its open threats */
			int best = -1;
			for (int j = ndev; j < n; j++)
				if (j % ndev == d && j % 3 > best)
					best = j % 3;
			snprintf(want, sizeof want, "%s", best < 0 ? "secured" : mock_level_name(vendor, best));
		}
		if (strcmp(got = pull_level(c, dev, v), want))
			fail_msg("%s: %s level %s, expected %s", dev, v, got, want);
	}
}

/* ---- Defender: pages with next links ---- */

/* 1,000 machines in 10 pages: killed before the commit of page 3, then
 * after page 5 was committed (in a second run), then to the end: every
 * machine once, with its risk score; the last pull decides the devices
 * its own pages touched and those the killed runs' pages did. */
static void defender_kills(void **state)
{
	pctx *c = *state;
	start(c, MOCK_DEFENDER, 1000, 100, 1000);
	PRUN(c, 0, "evaluate"); /* decided once: what the killed pulls commit is due again */
	pull_kill_at(c, "defender", "pull-before-commit:3");
	assert_int_equal(pull_logged(c), 200); /* pages 1 and 2 only */
	pull_kill_at(c, "defender", "pull-committed:3");
	assert_int_equal(pull_logged(c), 500);
	PRUN(c, 0, "pull", "defender", "--once");
	OUT_HAS(c->s, "defender: 8 records, 500 accepted"); /* + the 3 empty export pages */
	OUT_HAS(c->s, "evaluated 1000 devices");
	assert_int_equal(pull_logged(c), 1000);
	levels_right(c, MOCK_DEFENDER, "defender", 1000, 1000);
	PRUN(c, 0, "audit", "verify");
	pull_secret_nowhere(c);
}

/* A 429 with Retry-After, a 500 burst, a token revoked early, a truncated
 * body and a slow answer: retried, refreshed, and still every machine once. */
static void defender_faults(void **state)
{
	pctx *c = *state;
	mock_faults f = {.r429 = 2, .r500 = 4, .n500 = 3, .expire = 8, .trunc = 10, .slow = 12};
	start(c, MOCK_DEFENDER, 600, 100, 600);
	mock_set_faults(c->m, &f);
	PRUN(c, 0, "pull", "defender", "--once");
	OUT_HAS(c->s, "defender: 9 records, 600 accepted, 0 rejected, 0 malformed");
	assert_int_equal(pull_logged(c), 600);
	assert_int_equal(mock_tokens(c->m), 2); /* one refresh, on the 401 */
	levels_right(c, MOCK_DEFENDER, "defender", 600, 600);
	/* requests: 1 token + 6 pages + 3 export pages + 429 + 3x500 + 401 + token +
	 * trunc + slow */
	assert_int_equal(mock_requests(c->m), 18);
	pull_secret_nowhere(c);
}

/* ---- Defender: vulnerabilities and secure configurations as tasks ---- */

/* The task lines of `tasks --json`, one object per line, owned by s. */
static json_t *task_of(pctx *c, const char *dev, const char *id)
{
	json_t *hit = NULL;
	PRUN(c, 0, "tasks", "--json", "--device", dev);
	for (char *l = c->s->out, *e; l && *l; l = e ? e + 1 : NULL) {
		json_t *j;
		if ((e = strchr(l, '\n')))
			*e = '\0';
		if (!*l)
			continue;
		j = scen_ownj(c->s, json_loads(l, 0, NULL));
		assert_non_null(j);
		if (!strcmp(jstr(j, "id"), id)) {
			assert_null(hit); /* a task once */
			hit = j;
		}
	}
	return hit;
}

/* 40 machines, each with a vulnerable program, a program without a CVE and
 * a secure configuration; 10 rows a page. Killed before the commit of page
 * 7 (machines 1-4, vulnerabilities 1-2 committed), then to the end: every
 * finding a task once, on its machine's device, with its CVE, program,
 * severity and first seen; a pull again applies none of them again. A
 * critical vulnerability open since January makes its device noncompliant
 * (rules/tasks.lua, the reason naming the CVE); Defender then reports it
 * Fixed in its delta (asked from the pull's own time, then from the newest
 * change it saw): the task is resolved and the device compliant again. */
static void defender_tasks(void **state)
{
	pctx *c = *state;
	scen *s = c->s;
	const int ndev = 40;
	const char *rules;
	int64_t before, recs = 0;
	json_t *t, *r;
	char dev[32], id[64], reason[300];

	start(c, MOCK_DEFENDER, ndev, 10, ndev);
	mock_defender_tvm_rows(1);
	mock_defender_tvm_fix(0);
	pull_kill_at(c, "defender", "pull-before-commit:7");
	/* machines (40) and the first two vulnerability pages: 5 devices each */
	assert_int_equal(pull_logged(c), 40 + 10);
	assert_int_equal(scen_q_int(s, "SELECT count(*) FROM tasks"), 10);
	assert_string_equal(mock_defender_tvm_since(), "");
	PRUN(c, 0, "pull", "defender", "--once");
	/* the delta was asked from the pull's time ("{now}") */
	assert_string_equal(mock_defender_tvm_since(), "2024-03-02T00:00:00Z");
	for (int i = 0; i < ndev; i++)
		recs += i % 3 != 0;
	/* machines twice (a snapshot read again), each finding once */
	assert_int_equal(pull_logged(c), 40 + 10 + 40 + (ndev - 10) + recs);
	assert_int_equal(scen_q_int(s, "SELECT count(*) FROM tasks"), ndev + recs);
	for (int i = 0; i < ndev; i++) {
		snprintf(dev, sizeof dev, "dev-%d", i);
		snprintf(id, sizeof id, "CVE-2024-%d/app-%d/1.%d.0", 10000 + i, i, i);
		t = task_of(c, dev, id);
		if (!t)
			fail_msg("%s: no task %s in: %s", dev, id, s->out);
		assert_string_equal(jstr(t, "vendor"), "defender");
		assert_string_equal(jstr(t, "kind"), "vulnerability");
		assert_string_equal(jstr(t, "state"), "open");
		assert_string_equal(jstr(t, "severity"), mock_defender_tvm_severity(i));
		snprintf(id, sizeof id, "CVE-2024-%d", 10000 + i);
		assert_string_equal(jstr(t, "cve"), id);
		snprintf(id, sizeof id, "app-%d", i);
		assert_string_equal(jstr(t, "software"), id);
		assert_string_equal(jstr(t, "first_seen"), "2024-01-01T00:00:00Z");
		t = task_of(c, dev, i % 3 == 1 ? "sca-_-scid-2001" : "sca-_-scid-2002");
		if (i % 3 == 0) {
			assert_null(t); /* not applicable: no task */
			assert_null(task_of(c, dev, "sca-_-scid-2000"));
			continue;
		}
		assert_non_null(t);
		assert_string_equal(jstr(t, "kind"), "recommendation");
		assert_string_equal(jstr(t, "state"), i % 3 == 1 ? "open" : "resolved");
		assert_string_equal(jstr(t, "severity"), i % 3 == 1 ? "critical" : "medium");
	}

	/* again: the machines are read again, every finding is a replay */
	before = pull_logged(c);
	PRUN(c, 0, "pull", "defender", "--once");
	OUT_HAS(s, "40 accepted");
	snprintf(reason, sizeof reason, "%lld replayed events", (long long)(ndev + recs));
	OUT_HAS(s, reason);
	assert_int_equal(pull_logged(c), before + 40);

	/* the rule: critical and open for more than 14 days */
	rules = scen_tasks_rules(s);
	PRUN(c, 0, "--rules", rules, "evaluate");
	for (int i = 0; i < 8; i++) {
		snprintf(dev, sizeof dev, "dev-%d", i);
		r = REPORT(s, dev);
		if (i % 4 == 0) { /* risk None, a critical CVE since January */
			FIELD(s, r, "state", "noncompliant");
			snprintf(reason, sizeof reason,
				 "defender: critical vulnerability CVE-2024-%d (task CVE-2024-%d/app-%d/"
				 "1.%d.0) in app-%d 1.%d.0 open since 2024-01-01T00:00:00Z, more than 14 days",
				 10000 + i, 10000 + i, i, i, i, i);
			if (!has_reason(r, reason, NULL))
				fail_msg("%s: no reason '%s' in %s", dev, reason, scen_jtext(s, r));
		} else if (i % 4 == 1) { /* risk Low, a low CVE */
			FIELD(s, r, "state", "compliant");
		}
	}

	/* fixed: gone from the snapshot, Fixed in the delta */
	mock_defender_tvm_fix(1);
	scen_day(s, 6, 0);
	PRUN(c, 0, "--rules", rules, "pull", "defender", "--once");
	assert_string_equal(mock_defender_tvm_since(), "2024-03-02T00:00:00Z");
	for (int i = 0; i < ndev; i++) {
		snprintf(dev, sizeof dev, "dev-%d", i);
		snprintf(id, sizeof id, "CVE-2024-%d/app-%d/1.%d.0", 10000 + i, i, i);
		t = task_of(c, dev, id);
		assert_non_null(t);
		assert_string_equal(jstr(t, "state"), i % 4 == 0 ? "resolved" : "open");
	}
	PRUN(c, 0, "--rules", rules, "evaluate");
	r = REPORT(s, "dev-0");
	FIELD(s, r, "state", "compliant");
	r = REPORT(s, "dev-4");
	FIELD(s, r, "state", "compliant");
	/* the next delta starts at the newest change seen */
	PRUN(c, 0, "--rules", rules, "pull", "defender", "--once");
	assert_string_equal(mock_defender_tvm_since(), "2024-03-05T06:00:00Z");
	PRUN(c, 0, "audit", "verify");
	pull_secret_nowhere(c);
}

/* 3 machines of a fleet of 40: the pull decides exactly those 3 devices,
 * and every decision is what a whole-fleet evaluate at the same time gives
 * (report --json of every device compared); --all decides once. */
static void pull_decides_touched(void **state)
{
	pctx *c = *state;
	char *before, *after;
	start(c, MOCK_DEFENDER, 3, 3, 40);
	PRUN(c, 0, "evaluate");
	OUT_HAS(c->s, "40 devices");
	PRUN(c, 0, "pull", "defender", "--once");
	OUT_HAS(c->s, "evaluated 3 devices, 3 changed");
	before = REPORT_ALL(c->s);
	PRUN(c, 0, "evaluate");
	OUT_HAS(c->s, "evaluated 40 devices, 0 decisions changed");
	after = REPORT_ALL(c->s);
	assert_string_equal(before, after);
	levels_right(c, MOCK_DEFENDER, "defender", 3, 3);
	/* --all: Defender's machines are a posture list, fetched again: the
	 * same 3 devices decided once more, nothing changes */
	PRUN(c, 0, "pull", "--all", "--once");
	OUT_HAS(c->s, "3 accepted, 0 rejected");
	OUT_HAS(c->s, "evaluated 3 devices, 0 changed");
	/* json: the vendor's object, then the evaluation's */
	PRUN(c, 0, "pull", "defender", "--once", "--output", "json");
	OUT_HAS(c->s, "{\"vendor\":\"defender\",\"pages\":");
	OUT_HAS(c->s, "\n{\"evaluated\":3,\"changed\":0}\n");
}

/* ---- Lookout: an event stream ---- */

/* 20 devices then 380 threats, 20 events a page: killed before the commit
 * of page 4, then the stream drops after 5 pages and the server resumes 2
 * pages before the Last-Event-ID it gets: those events come again and are
 * recognized by their ids; every event applied once, every level right. */
static void lookout_stream(void **state)
{
	pctx *c = *state;
	mock_faults f = {.drop_after = 5, .replay_back = 2};
	start(c, MOCK_LOOKOUT, 400, 20, 20);
	pull_kill_at(c, "lookout", "pull-before-commit:4");
	assert_int_equal(pull_logged(c), 60);
	mock_set_faults(c->m, &f);
	PRUN(c, 0, "pull", "lookout", "--once");
	ERR_HAS(c->s, "stream ended");
	OUT_HAS(c->s, "340 accepted");
	/* p1, p2 again on the first resume, p4, p5 on the second: 4 x 20 */
	OUT_HAS(c->s, "80 replayed events not counted again");
	assert_int_equal(pull_logged(c), 400);
	levels_right(c, MOCK_LOOKOUT, "lookout", 400, 20);
	/* nothing new: nothing applied */
	PRUN(c, 0, "pull", "lookout", "--once");
	OUT_HAS(c->s, "0 accepted");
	assert_int_equal(pull_logged(c), 400);
	PRUN(c, 0, "audit", "verify");
	pull_secret_nowhere(c);
}

/* ---- secrets ---- */

static void secret_refused(void **state)
{
	pctx *c = *state;
	scen *s = c->s;
	char sf[400];
	start(c, MOCK_DEFENDER, 10, 10, 10);
	/* readable by others: refused at set, with the reason */
	snprintf(sf, sizeof sf, "secret_file=%s", pull_secret_file(s, SECRET, 0644));
	PRUN(c, 69, "connector", "set", "defender", sf);
	ERR_HAS(s, "mode 0644");
	ERR_HAS(s, "chmod 600");
	/* made loose after it was set: refused at the pull, nothing fetched */
	assert_int_equal(chmod(c->secret_file, 0640), 0);
	snprintf(sf, sizeof sf, "secret_file=%s", c->secret_file);
	PRUN(c, 69, "pull", "defender", "--once");
	ERR_HAS(s, "the group");
	assert_int_equal(mock_requests(c->m), 0);
	assert_int_equal(chmod(c->secret_file, 0600), 0);
	/* a wrong secret: the token endpoint's refusal, said clearly */
	scen_writes(s, "secret", "not-the-secret\n");
	assert_int_equal(chmod(c->secret_file, 0600), 0);
	PRUN(c, 69, "pull", "defender", "--once");
	ERR_HAS(s, "refused the credentials (HTTP 401)");
	PRUN(c, 0, "connector", "list");
	OUT_HAS(s, "refused the credentials");
	scen_writes(s, "secret", SECRET);
	assert_int_equal(chmod(c->secret_file, 0600), 0);
	PRUN(c, 0, "pull", "defender", "--once");
	assert_int_equal(pull_logged(c), 10);
	pull_secret_nowhere(c);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(defender_kills, setup, pull_teardown),
		cmocka_unit_test_setup_teardown(defender_faults, setup, pull_teardown),
		cmocka_unit_test_setup_teardown(defender_tasks, setup, pull_teardown),
		cmocka_unit_test_setup_teardown(pull_decides_touched, setup, pull_teardown),
		cmocka_unit_test_setup_teardown(lookout_stream, setup, pull_teardown),
		cmocka_unit_test_setup_teardown(secret_refused, setup, pull_teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
