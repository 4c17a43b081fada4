/* Scenarios: `mtdgate serve` runs the pulls (issue 16). A connector with
 * API settings is pulled by serve on its own (poll_seconds=1) against the
 * local HTTPS vendor server (mockapi.h): its decisions appear on
 * /v1/access and /v1/events without any command; /metrics shows the last
 * success, the last error and the lag; a vendor that stops answering
 * leaves its last error and, as serve's clock moves past unresponsive_days
 * (MTD_TEST_NOW_FILE, test builds only), turns the connector unresponsive
 * (R2). SIGTERM in the middle of a held event stream loses nothing: a
 * following `mtdgate pull --once` adds exactly the rest. */
#define _GNU_SOURCE /* setenv */
#include <poll.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "harness.h"
#include "httpc.h"
#include "mockapi.h"
#include "pulltest.h" /* pull_test_env, SECRET, CLIENT */

typedef struct fixture {
	scen *s;
	mock *m;
	srv sv;
	int64_t base; /* messages logged before serve pulled */
} fixture;

static int setup(void **state)
{
	fixture *f = calloc(1, sizeof *f);
	if (!f || !(f->s = scen_new())) {
		free(f);
		return -1;
	}
	pull_test_env("1000"); /* serve inherits it */
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	fixture *f = *state;
	if (f->sv.pid > 0)
		serve_stop(&f->sv);
	mock_stop(f->m);
	unsetenv("MTD_TEST_NOW_FILE");
	scen_free(f->s);
	free(f);
	return 0;
}

static int64_t logged(fixture *f)
{
	return scen_q_int(f->s, "SELECT coalesce(sum(n), 0) FROM message_log") - f->base;
}

/* The vendor's API settings, pointed at the mock, poll_seconds=1. */
static void set_api(fixture *f, int vendor)
{
	scen *s = f->s;
	const char *v = vendor == MOCK_DEFENDER ? "defender" : "lookout";
	char a[200], t[200], ca[400], sf[400];
	const char *secret = scen_writes(s, "secret", SECRET "\n");
	assert_int_equal(chmod(secret, 0600), 0);
	snprintf(a, sizeof a, "api_url=%s", mock_url(f->m));
	snprintf(t, sizeof t, "token_url=%s%s", mock_url(f->m),
		 vendor == MOCK_DEFENDER ? "/tenant-1/oauth2/v2.0/token" : "/oauth2/token");
	snprintf(ca, sizeof ca, "ca_file=%s/ca.pem", s->dir);
	snprintf(sf, sizeof sf, "secret_file=%s", secret);
	if (vendor == MOCK_DEFENDER)
		RUN(s, 0, "connector", "set", v, a, t, ca, sf, "client_id=" CLIENT, "poll_seconds=1");
	else
		RUN(s, 0, "connector", "set", v, a, t, ca, sf, "poll_seconds=1");
}

/* ndev devices, the vendor's connector provisioned and on, unresponsive
 * after a day, everything evaluated; serve's clock set. */
static void start(fixture *f, int vendor, int n, int per_page, int ndev)
{
	scen *s = f->s;
	const char *v = vendor == MOCK_DEFENDER ? "defender" : "lookout";
	size_t cap = (size_t)ndev * 200 + 1, o = 0;
	char *devs = scen_own(s, malloc(cap));
	for (int i = 0; i < ndev; i++)
		o += (size_t)snprintf(devs + o, cap - o,
				      "{\"id\":\"dev-%d\",\"platform\":\"%s\",\"os_version\":\"17.4\","
				      "\"ownership\":\"corporate\",\"management\":\"enrolled\","
				      "\"ids\":{\"entra\":\"aad-%d\"}}\n",
				      i, vendor == MOCK_DEFENDER ? "windows" : "ios", i);
	f->m = mock_start(s->dir, vendor, n, per_page, ndev, CLIENT, SECRET);
	assert_non_null(f->m);
	RUN(s, 0, "init");
	RUN(s, 0, "device", "import", scen_writes(s, "devices.jsonl", devs));
	RUN(s, 0, "connector", "add", v);
	RUN(s, 0, "ingest", v, "--normalized",
	    scen_writes(s, "prov.jsonl", "{\"type\":\"provision\",\"at\":\"2024-03-01T00:00:00Z\"}\n"));
	RUN(s, 0, "connector", "set", v, vendor == MOCK_DEFENDER ? "windows=on" : "ios=on",
	    "unresponsive_days=1");
	scen_day(s, 1, 0);
	serve_clock(f->s, s->now);
	RUN(s, 0, "evaluate");
	f->base = logged(f);
}

/* GET path until its whole response contains needle (at most ms). */
static const char *get_until(fixture *f, const char *path, const char *needle, int ms)
{
	int64_t deadline = ms_now() + ms;
	for (;;) {
		int status;
		const char *r = http(f->s, f->sv.port, "GET", path, NULL, &status);
		struct timespec ts = {0, 50 * 1000 * 1000};
		if (strstr(r, needle))
			return r;
		if (ms_now() > deadline)
			fail_msg("GET %s: no '%s' in %d ms; last answer:\n%s", path, needle, ms, r);
		nanosleep(&ts, NULL);
	}
}

/* Bytes of an open event stream until they contain needle (at most ms). */
static void stream_until(int fd, char *buf, size_t cap, size_t *n, const char *needle, int ms)
{
	int64_t deadline = ms_now() + ms;
	while (!strstr(buf, needle)) {
		struct pollfd pf = {fd, POLLIN, 0};
		int64_t left = deadline - ms_now();
		ssize_t r;
		if (left <= 0 || *n >= cap - 1)
			fail_msg("/v1/events: no '%s' in %d ms; got:\n%s", needle, ms, buf);
		if (poll(&pf, 1, (int)left) <= 0)
			continue;
		if ((r = read(fd, buf + *n, cap - 1 - *n)) <= 0)
			fail_msg("/v1/events ended without '%s':\n%s", needle, buf);
		*n += (size_t)r;
		buf[*n] = '\0';
	}
}

/* Serve started without API settings; they are set and serve told
 * (SIGHUP): it pulls on its own, every second; the devices' decisions
 * appear on /v1/access and as events on an open /v1/events; /metrics and
 * connector list show the last success and the lag. The vendor goes away:
 * the last error appears, and a day later (serve's clock) the connector
 * is unresponsive (R2) with the lag of the whole silence. */
static void serve_pulls(void **state)
{
	fixture *f = *state;
	scen *s = f->s;
	char line[200], *evbuf = scen_own(s, calloc(1, 1 << 20));
	size_t evn = 0;
	int fd, status;
	int64_t t1;
	assert_non_null(evbuf);
	start(f, MOCK_DEFENDER, 8, 4, 8);
	t1 = s->now;
	serve_start(s, &f->sv);
	fd = http_open10(f->sv.port, "/v1/events", NULL);
	get_until(f, "/metrics", "mtdgate_connector_state{vendor=\"defender\"", 5000);
	/* no API settings yet: not pulled */
	assert_null(strstr(http(s, f->sv.port, "GET", "/metrics", NULL, &status),
			   "mtdgate_pull_last_success_timestamp_seconds{vendor=\"defender\"}"));
	assert_int_equal(mock_requests(f->m), 0);

	/* set, and serve told: it pulls */
	set_api(f, MOCK_DEFENDER);
	kill(f->sv.pid, SIGHUP);
	/* machine 3 is High: its decision reaches /v1/access and the events */
	get_until(f, "/v1/access?device=dev-3", "X-Mtdgate-Level: high", 10000);
	get_until(f, "/v1/access?device=dev-2", "X-Mtdgate-Level: medium", 5000);
	stream_until(fd, evbuf, 1 << 20, &evn, "\"device\":\"dev-3\"", 5000);
	assert_int_equal(logged(f), 8);
	/* again every second: more requests come without anything done */
	{
		int before = mock_requests(f->m);
		int64_t deadline = ms_now() + 5000;
		while (mock_requests(f->m) < before + 2) {
			struct timespec ts = {0, 50 * 1000 * 1000};
			if (ms_now() > deadline)
				fail_msg("serve did not pull again within 5 s");
			nanosleep(&ts, NULL);
		}
	}
	snprintf(line, sizeof line,
		 "mtdgate_pull_last_success_timestamp_seconds{vendor=\"defender\"} %lld\n",
		 (long long)t1);
	get_until(f, "/metrics", line, 5000);
	get_until(f, "/metrics", "mtdgate_pull_lag_seconds{vendor=\"defender\"} 0\n", 5000);
	get_until(f, "/metrics", "mtdgate_pull_last_error_timestamp_seconds{vendor=\"defender\"} 0\n",
		  5000);
	get_until(f, "/metrics", "mtdgate_pull_events_total{vendor=\"defender\"} ", 5000);
	assert_null(strstr(http(s, f->sv.port, "GET", "/metrics", NULL, &status),
			   "mtdgate_pulls_total{vendor=\"defender\"} 0\n"));
	RUN(s, 0, "connector", "list", "--output", "json");
	OUT_HAS(s, "\"lag_seconds\":0");
	OUT_HAS(s, "\"last_error\":null");

	/* the vendor goes away: the pulls fail, the last error is kept */
	mock_stop(f->m);
	f->m = NULL;
	get_until(f, "/metrics", "mtdgate_pull_errors_total{vendor=\"defender\"} 1", 10000);
	snprintf(line, sizeof line,
		 "mtdgate_pull_last_error_timestamp_seconds{vendor=\"defender\"} %lld\n",
		 (long long)t1);
	get_until(f, "/metrics", line, 5000);
	RUN(s, 0, "connector", "list");
	OUT_HAS(s, "last error");
	get_until(f, "/metrics", "mtdgate_connector_state{vendor=\"defender\",state=\"enabled\"} 1",
		  1000);
	/* a day and an hour of silence: unresponsive at serve's timer (R2) */
	serve_clock(f->s, t1 + 86400 + 3600);
	get_until(f, "/metrics",
		  "mtdgate_connector_state{vendor=\"defender\",state=\"unresponsive\"} 1", 5000);
	get_until(f, "/metrics", "mtdgate_pull_lag_seconds{vendor=\"defender\"} 90000\n", 5000);
	close(fd);
	assert_int_equal(serve_stop(&f->sv), 0);
	f->sv.pid = 0;
}

/* Lookout's event stream held open by serve; SIGTERM as soon as its first
 * events are committed: serve ends (0) with every page it took committed
 * with its resume point, and a `pull --once` after it brings exactly the
 * rest, no event twice. */
static void sigterm_loses_nothing(void **state)
{
	fixture *f = *state;
	scen *s = f->s;
	const int n = 3000;
	int64_t deadline, got;
	char want[64];
	start(f, MOCK_LOOKOUT, n, 10, 20);
	set_api(f, MOCK_LOOKOUT);
	serve_start(s, &f->sv);
	deadline = ms_now() + 10000;
	while ((got = logged(f)) == 0) {
		struct timespec ts = {0, 5 * 1000 * 1000};
		if (ms_now() > deadline)
			fail_msg("serve pulled nothing in 10 s");
		nanosleep(&ts, NULL);
	}
	assert_int_equal(serve_stop(&f->sv), 0);
	f->sv.pid = 0;
	got = logged(f);
	if (got >= n)
		fail_msg("the stream was over before SIGTERM (%lld events): nothing tested",
			 (long long)got);
	RUN(s, 0, "pull", "lookout", "--once");
	snprintf(want, sizeof want, " %lld accepted", (long long)(n - got));
	OUT_HAS(s, want);
	OUT_HAS(s, " 0 replayed events");
	assert_int_equal(logged(f), n);
	RUN(s, 0, "audit", "verify");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(serve_pulls, setup, teardown),
		cmocka_unit_test_setup_teardown(sigterm_loses_nothing, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
