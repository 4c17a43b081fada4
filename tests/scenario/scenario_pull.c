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

#include "harness.h"
#include "mockapi.h"

extern char **environ;

#define SECRET "s3cr3t-Pull-0f-Test-7e1d"
#define CLIENT "client-4711"

typedef struct pctx {
	scen *s;
	mock *m;
	const char *secret_file;
	int64_t base; /* messages logged before the first pull (the provision) */
	char *seen; /* every output of every run, for the secret grep */
	size_t nseen;
} pctx;

static int setup(void **state)
{
	pctx *c = calloc(1, sizeof *c);
	if (!c || !(c->s = scen_new()))
		return -1;
	/* fast retries; the server's slowness is past an idle of 1 s */
	setenv("MTDGATE_PULL_BACKOFF_MS", "20", 1);
	setenv("MTDGATE_PULL_IDLE_SECONDS", "1", 1);
	setenv("MTDGATE_PULL_STREAM_IDLE_MS", "3000", 1);
	setenv("no_proxy", "127.0.0.1", 1);
	setenv("NO_PROXY", "127.0.0.1", 1);
	mock_defender_tvm_rows(0);
	mock_defender_tvm_fix(0);
	*state = c;
	return 0;
}

static int teardown(void **state)
{
	pctx *c = *state;
	mock_stop(c->m);
	scen_free(c->s);
	free(c->seen);
	free(c);
	return 0;
}

/* Keep what the last run printed, for the secret grep. */
static void keep(pctx *c)
{
	size_t a = strlen(c->s->out), b = strlen(c->s->err);
	c->seen = realloc(c->seen, c->nseen + a + b + 1);
	assert_non_null(c->seen);
	memcpy(c->seen + c->nseen, c->s->out, a);
	memcpy(c->seen + c->nseen + a, c->s->err, b);
	c->nseen += a + b;
	c->seen[c->nseen] = '\0';
}

#define PRUN(c, want, ...)                                                                         \
	do {                                                                                       \
		RUN((c)->s, want, __VA_ARGS__);                                                    \
		keep(c);                                                                           \
	} while (0)

/* n devices dev-0.. of platform, with an Entra id aad-i */
static const char *devices(scen *s, int n, const char *platform)
{
	size_t cap = (size_t)n * 200 + 1, o = 0;
	char *b = scen_own(s, malloc(cap));
	for (int i = 0; i < n; i++)
		o += (size_t)snprintf(b + o, cap - o,
				      "{\"id\":\"dev-%d\",\"platform\":\"%s\",\"os_version\":\"17.4\","
				      "\"ownership\":\"corporate\",\"management\":\"enrolled\","
				      "\"ids\":{\"entra\":\"aad-%d\"}}\n",
				      i, platform, i);
	return scen_writes(s, "devices.jsonl", b);
}

static const char *secret_file(scen *s, const char *secret, mode_t mode)
{
	const char *p = scen_writes(s, "secret", secret);
	assert_int_equal(chmod(p, mode), 0);
	return p;
}

/* Messages the store has logged from the vendor (each applied message is
 * one entry of the sealed message log: one that came twice counts twice). */
static int64_t logged(pctx *c)
{
	return scen_q_int(c->s, "SELECT coalesce(sum(n), 0) FROM message_log") - c->base;
}

/* A store with ndev devices, the vendor's connector provisioned, its
 * platform on, its API pointed at the server. */
static void start(pctx *c, int vendor, int n, int per_page, int ndev)
{
	scen *s = c->s;
	const char *v = vendor == MOCK_DEFENDER ? "defender" : "lookout";
	char api[200], tok[200], ca[400], sf[400];
	c->m = mock_start(s->dir, vendor, n, per_page, ndev, CLIENT, SECRET);
	assert_non_null(c->m);
	c->secret_file = secret_file(s, SECRET "\n", 0600);
	snprintf(api, sizeof api, "api_url=%s", mock_url(c->m));
	snprintf(tok, sizeof tok, "token_url=%s%s", mock_url(c->m),
		 vendor == MOCK_DEFENDER ? "/tenant-1/oauth2/v2.0/token" : "/oauth2/token");
	snprintf(ca, sizeof ca, "ca_file=%s/ca.pem", s->dir);
	snprintf(sf, sizeof sf, "secret_file=%s", c->secret_file);
	PRUN(c, 0, "init");
	PRUN(c, 0, "device", "import",
	     devices(s, ndev, vendor == MOCK_DEFENDER ? "windows" : "ios"));
	PRUN(c, 0, "connector", "add", v);
	PRUN(c, 0, "ingest", v, "--normalized",
	     scen_writes(s, "prov.jsonl", "{\"type\":\"provision\",\"at\":\"2024-03-01T00:00:00Z\"}\n"));
	PRUN(c, 0, "connector", "set", v, vendor == MOCK_DEFENDER ? "windows=on" : "ios=on");
	if (vendor == MOCK_DEFENDER)
		PRUN(c, 0, "connector", "set", v, api, tok, ca, sf, "client_id=" CLIENT);
	else
		PRUN(c, 0, "connector", "set", v, api, tok, ca, sf);
	scen_day(s, 1, 0);
	c->base = logged(c);
}

/* Start `mtdgate pull vendor` stopping at point; kill it there. */
static void kill_at(pctx *c, const char *vendor, const char *point)
{
	scen *s = c->s;
	const char *argv[] = {MTDGATE_BIN, "--db", s->db, "--plugins", MTD_PLUGIN_DIR, "--rules",
			      s->rules, "--now", "2024-03-02T00:00:00Z", "pull", vendor, "--once",
			      NULL};
	char env[128], **envp;
	size_t ne = 0, n = 0;
	posix_spawn_file_actions_t fa;
	pid_t pid;
	int st;
	while (environ[ne])
		ne++;
	envp = calloc(ne + 2, sizeof *envp);
	assert_non_null(envp);
	for (size_t i = 0; i < ne; i++)
		if (strncmp(environ[i], "MTD_TEST_STOP_AT=", 17))
			envp[n++] = environ[i];
	snprintf(env, sizeof env, "MTD_TEST_STOP_AT=%s", point);
	envp[n++] = env;
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
	posix_spawn_file_actions_addopen(&fa, 2, "/dev/null", O_WRONLY, 0);
	assert_int_equal(posix_spawn(&pid, MTDGATE_BIN, &fa, NULL, (char **)argv, envp), 0);
	posix_spawn_file_actions_destroy(&fa);
	free(envp);
	while (waitpid(pid, &st, WUNTRACED) < 0)
		;
	if (!WIFSTOPPED(st))
		fail_msg("mtdgate pull did not stop at %s (status %d)", point, st);
	assert_int_equal(kill(pid, SIGKILL), 0);
	while (waitpid(pid, &st, 0) < 0)
		;
	assert_true(WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL);
}

/* Each device's vendor level, as the generator made it. */
static void levels_right(pctx *c, int vendor, const char *v, int n, int ndev)
{
	scen *s = c->s;
	RUN(s, 0, "report", "--json");
	for (int d = 0; d < ndev; d++) {
		char dev[32], want[16];
		json_t *r;
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
		r = REPORT(s, dev);
		if (strcmp(jstr(json_object_get(r, "vendors"), v), want))
			fail_msg("%s: %s level %s, expected %s", dev, v,
				 jstr(json_object_get(r, "vendors"), v), want);
	}
}

/* The secret in no output, not in the store (nor its WAL). */
static void secret_nowhere(pctx *c)
{
	char path[400];
	size_t n;
	char *b;
	assert_null(strstr(c->seen, SECRET));
	for (int i = 0; i < 2; i++) {
		snprintf(path, sizeof path, "%s%s", c->s->db, i ? "-wal" : "");
		if (!(b = scen_slurp(path, &n)))
			continue;
		assert_null(memmem(b, n, SECRET, strlen(SECRET)));
		free(b);
	}
}

/* ---- Defender: pages with next links ---- */

/* 1,000 machines in 10 pages: killed before the commit of page 3, then
 * after page 5 was committed (in a second run), then to the end: every
 * machine once, with its risk score. */
static void defender_kills(void **state)
{
	pctx *c = *state;
	start(c, MOCK_DEFENDER, 1000, 100, 1000);
	kill_at(c, "defender", "pull-before-commit:3");
	assert_int_equal(logged(c), 200); /* pages 1 and 2 only */
	kill_at(c, "defender", "pull-committed:3");
	assert_int_equal(logged(c), 500);
	PRUN(c, 0, "pull", "defender", "--once");
	OUT_HAS(c->s, "defender: 8 records, 500 accepted"); /* + the 3 empty export pages */
	OUT_HAS(c->s, "evaluated 1000 devices");
	assert_int_equal(logged(c), 1000);
	levels_right(c, MOCK_DEFENDER, "defender", 1000, 1000);
	PRUN(c, 0, "audit", "verify");
	secret_nowhere(c);
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
	assert_int_equal(logged(c), 600);
	assert_int_equal(mock_tokens(c->m), 2); /* one refresh, on the 401 */
	levels_right(c, MOCK_DEFENDER, "defender", 600, 600);
	/* requests: 1 token + 6 pages + 3 export pages + 429 + 3x500 + 401 + token +
	 * trunc + slow */
	assert_int_equal(mock_requests(c->m), 18);
	secret_nowhere(c);
}

/* ---- Defender: vulnerabilities and secure configurations as tasks ---- */

/* The default rules with rules/tasks.lua switched on, in <dir>/tasks-rules. */
static const char *tasks_rules(scen *s)
{
	const char *dir = scen_rules_copy(s, "tasks-rules", NULL, NULL);
	char src[600], *text, *sw;
	size_t n;
	snprintf(src, sizeof src, "%s/tasks.lua", MTD_RULES_DIR);
	text = scen_own(s, scen_slurp(src, &n));
	scen_write(s, "tasks-rules/tasks.lua", text, n);
	snprintf(src, sizeof src, "%s/policy.lua", dir);
	text = scen_own(s, scen_slurp(src, &n));
	if (!(sw = strstr(text, "local USE_TASKS = false")))
		fail_msg("policy.lua has no 'local USE_TASKS = false'");
	memcpy(sw + strlen("local USE_TASKS = "), "true; ", 6);
	scen_write(s, "tasks-rules/policy.lua", text, n);
	return dir;
}

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
	kill_at(c, "defender", "pull-before-commit:7");
	/* machines (40) and the first two vulnerability pages: 5 devices each */
	assert_int_equal(logged(c), 40 + 10);
	assert_int_equal(scen_q_int(s, "SELECT count(*) FROM tasks"), 10);
	assert_string_equal(mock_defender_tvm_since(), "");
	PRUN(c, 0, "pull", "defender", "--once");
	/* the delta was asked from the pull's time ("{now}") */
	assert_string_equal(mock_defender_tvm_since(), "2024-03-02T00:00:00Z");
	for (int i = 0; i < ndev; i++)
		recs += i % 3 != 0;
	/* machines twice (a snapshot read again), each finding once */
	assert_int_equal(logged(c), 40 + 10 + 40 + (ndev - 10) + recs);
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
	before = logged(c);
	PRUN(c, 0, "pull", "defender", "--once");
	OUT_HAS(s, "40 accepted");
	snprintf(reason, sizeof reason, "%lld replayed events", (long long)(ndev + recs));
	OUT_HAS(s, reason);
	assert_int_equal(logged(c), before + 40);

	/* the rule: critical and open for more than 14 days */
	rules = tasks_rules(s);
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
	secret_nowhere(c);
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
	kill_at(c, "lookout", "pull-before-commit:4");
	assert_int_equal(logged(c), 60);
	mock_set_faults(c->m, &f);
	PRUN(c, 0, "pull", "lookout", "--once");
	ERR_HAS(c->s, "stream ended");
	OUT_HAS(c->s, "340 accepted");
	/* p1, p2 again on the first resume, p4, p5 on the second: 4 x 20 */
	OUT_HAS(c->s, "80 replayed events not counted again");
	assert_int_equal(logged(c), 400);
	levels_right(c, MOCK_LOOKOUT, "lookout", 400, 20);
	/* nothing new: nothing applied */
	PRUN(c, 0, "pull", "lookout", "--once");
	OUT_HAS(c->s, "0 accepted");
	assert_int_equal(logged(c), 400);
	PRUN(c, 0, "audit", "verify");
	secret_nowhere(c);
}

/* ---- secrets ---- */

static void secret_refused(void **state)
{
	pctx *c = *state;
	scen *s = c->s;
	char sf[400];
	start(c, MOCK_DEFENDER, 10, 10, 10);
	/* readable by others: refused at set, with the reason */
	snprintf(sf, sizeof sf, "secret_file=%s", secret_file(s, SECRET, 0644));
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
	assert_int_equal(logged(c), 10);
	secret_nowhere(c);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(defender_kills, setup, teardown),
		cmocka_unit_test_setup_teardown(defender_faults, setup, teardown),
		cmocka_unit_test_setup_teardown(defender_tasks, setup, teardown),
		cmocka_unit_test_setup_teardown(lookout_stream, setup, teardown),
		cmocka_unit_test_setup_teardown(secret_refused, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
