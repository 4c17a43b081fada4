/* Scenarios: incremental evaluation in `mtdgate serve` (issue 15). The
 * same inputs through serve (pushes decided device by device, a grace
 * period ending and a connector falling silent on serve's timer, a rules
 * reload, a batch ingest by another process picked up from the logs) and
 * through the batch commands (ingest, evaluate) on a second store give the
 * same report --json for every device. Serve's clock is a file the test
 * writes (MTD_TEST_NOW_FILE, test builds only): time moves without waiting. */
#define _GNU_SOURCE /* prctl */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "harness.h"

typedef struct fixture {
	scen *s, *t; /* s: served; t: the same by batch commands */
	pid_t pid;
	int port, out;
	const char *clock; /* serve's clock file */
} fixture;

static int64_t ms_now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Serve's time (and s's for its batch commands, and t's). */
static void set_time(fixture *f, int64_t t)
{
	char text[32];
	snprintf(text, sizeof text, "%lld\n", (long long)t);
	f->clock = scen_writes(f->s, "clock", text);
	f->s->now = f->t->now = t;
}

static void serve_start(fixture *f)
{
	char now[32], line[256] = "";
	size_t n = 0;
	int p[2];
	int64_t deadline = ms_now() + 10000;
	scen *s = f->s;
	const char *args[] = {MTDGATE_BIN, "--db", s->db, "--plugins", MTD_PLUGIN_DIR, "--rules",
			      s->rules, "--now", now, "serve", "--listen", "127.0.0.1:0", NULL};
	snprintf(now, sizeof now, "%lld", (long long)s->now);
	assert_int_equal(pipe(p), 0);
	fflush(NULL);
	f->pid = fork();
	assert_true(f->pid >= 0);
	if (f->pid == 0) {
		int null = open("/dev/null", O_RDWR);
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		setenv("MTD_TEST_NOW_FILE", f->clock, 1);
		dup2(null, 0);
		dup2(p[1], 1);
		close(p[0]);
		close(p[1]);
		execv(MTDGATE_BIN, (char *const *)args);
		_exit(127);
	}
	close(p[1]);
	f->out = p[0];
	while (n < sizeof line - 1 && !memchr(line, '\n', n)) {
		struct pollfd pf = {p[0], POLLIN, 0};
		ssize_t r;
		int64_t left = deadline - ms_now();
		if (left <= 0 || poll(&pf, 1, (int)left) <= 0)
			break;
		r = read(p[0], line + n, sizeof line - 1 - n);
		if (r <= 0)
			break;
		n += (size_t)r;
		line[n] = '\0';
	}
	if (sscanf(line, "listening on 127.0.0.1:%d", &f->port) != 1)
		fail_msg("serve did not say where it listens: '%s'", line);
}

static int serve_stop(fixture *f)
{
	int st = 0;
	if (f->pid <= 0)
		return -1;
	kill(f->pid, SIGTERM);
	waitpid(f->pid, &st, 0);
	f->pid = 0;
	close(f->out);
	return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

/* One HTTP/1.1 request; the whole response (owned by s), *status its code. */
static char *http(fixture *f, const char *method, const char *path, const char *headers,
		  const char *body, int *status)
{
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)f->port)};
	char req[4096];
	char *buf = NULL;
	size_t n = 0, cap = 0;
	int fd = socket(AF_INET, SOCK_STREAM, 0), len;
	inet_pton(AF_INET, "127.0.0.1", &a.sin_addr);
	assert_true(fd >= 0);
	if (connect(fd, (struct sockaddr *)&a, sizeof a))
		fail_msg("connect: %s", strerror(errno));
	len = snprintf(req, sizeof req,
		       "%s %s HTTP/1.1\r\nHost: 127.0.0.1\r\n%sContent-Length: %zu\r\n"
		       "Connection: close\r\n\r\n%s",
		       method, path, headers ? headers : "", body ? strlen(body) : 0,
		       body ? body : "");
	assert_true(len > 0 && (size_t)len < sizeof req);
	assert_int_equal(write(fd, req, (size_t)len), len);
	for (;;) {
		ssize_t r;
		if (cap - n < 4096) {
			char *nb = realloc(buf, cap + 65536);
			assert_non_null(nb);
			buf = nb;
			cap += 65536;
		}
		r = read(fd, buf + n, cap - n - 1);
		if (r <= 0)
			break;
		n += (size_t)r;
	}
	close(fd);
	buf[n] = '\0';
	scen_own(f->s, buf);
	if (sscanf(buf, "HTTP/1.1 %d", status) != 1)
		fail_msg("not an HTTP response: '%s'", buf);
	return buf;
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
		const char *r = http(f, "GET", path, NULL, NULL, &status), *h;
		struct timespec ts = {0, 20 * 1000 * 1000};
		if ((h = strstr(r, "X-Mtdgate-State: ")))
			sscanf(h + 17, "%63[^\r]", got);
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
	if (f->pid > 0)
		serve_stop(f);
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
	char *r;

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
	serve_start(f);

	/* 1. pushes: decided before the answer */
	r = http(f, "POST", "/v1/ingest/generic?normalized=1", auth, push1, &status);
	assert_int_equal(status, 200);
	scen_ingest_(t, 0, push1, __FILE__, __LINE__);
	RUN(t, 0, "evaluate");
	state_until(f, "ios-exec", "in_grace_period"); /* at once: no waiting */
	same_reports(f, "after the first push");
	r = http(f, "POST", "/v1/ingest/generic?normalized=1", auth, push2, &status);
	assert_int_equal(status, 200);
	scen_ingest_(t, 0, push2, __FILE__, __LINE__);
	RUN(t, 0, "evaluate");
	same_reports(f, "after the second push");
	(void)r;

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
	kill(f->pid, SIGHUP);
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
	assert_int_equal(serve_stop(f), 0);
	same_reports(f, "after serve stopped");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(serve_decides_as_batch, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
