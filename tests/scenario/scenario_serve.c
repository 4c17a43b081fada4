/* Scenarios: `mtdgate serve` (SPEC 4.5) through real HTTP on 127.0.0.1:
 * access decisions as a reverse proxy asks for them, the report of one
 * device, health, and changes made by batch commands on the same store. */
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
#include "httpc.h"

typedef struct fixture {
	scen *s, *t; /* t: a second scenario, when one is needed */
	srv sv;
} fixture;

/* GET /v1/access for dev (in X-Device-Id) until its state is want, polling
 * for at most 5 s (a batch command's commit is picked up within a second). */
static char *access_until(fixture *f, const char *dev, const char *query, const char *want,
			  int *status)
{
	char hdr[256], path[256];
	int64_t deadline = ms_now() + 5000;
	char *r;
	snprintf(hdr, sizeof hdr, "X-Device-Id: %s\r\n", dev);
	snprintf(path, sizeof path, "/v1/access%s", query ? query : "");
	for (;;) {
		const char *st;
		struct timespec ts = {0, 20 * 1000 * 1000};
		r = http(f->s, f->sv.port, "GET", path, hdr, status);
		st = header(f->s, r, "X-Mtdgate-State");
		if ((st && !strcmp(st, want)) || ms_now() > deadline)
			return r;
		nanosleep(&ts, NULL);
	}
}

static int setup(void **state)
{
	fixture *f = calloc(1, sizeof *f);
	if (!f || !(f->s = scen_new())) {
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
	scen_free(f->s);
	if (f->t)
		scen_free(f->t);
	free(f);
	return 0;
}

#define EXPECT_HDR(f, r, name, want)                                                               \
	do {                                                                                       \
		const char *v_ = header((f)->s, (r), (name));                                      \
		if (!v_ || strcmp(v_, (want)))                                                     \
			fail_msg("%s: expected '%s', got '%s' in\n%s", (name), (want),             \
				 v_ ? v_ : "<missing>", (r));                                      \
	} while (0)

/* 1. Unknown and never-evaluated devices are blocked; decisions made by a
 * batch evaluate on the same store reach /v1/access without a restart: a
 * threat blocks, a remediation gives access back. */
static void access_follows_batch_commands(void **state)
{
	fixture *f = *state;
	scen *s = f->s;
	int status;
	char *r;

	SETUP(s, SCEN_FLEET);
	RUN(s, 0, "connector", "set", "generic", "ios=on");
	scen_day(s, 0, 3600);
	serve_start(s, &f->sv);

	r = http(s, f->sv.port, "GET", "/v1/access?resource=exchange", "X-Device-Id: nobody\r\n",
		 &status);
	assert_int_equal(status, 403);
	EXPECT_HDR(f, r, "X-Mtdgate-State", "unknown");
	r = http(s, f->sv.port, "GET", "/v1/access", NULL, &status);
	assert_int_equal(status, 403); /* no device named at all */
	r = http(s, f->sv.port, "GET", "/v1/access?device=ios-alice", NULL, &status);
	assert_int_equal(status, 403);
	EXPECT_HDR(f, r, "X-Mtdgate-State", "not_evaluated");

	INGEST(s, THREAT("ios-alice", "high", "\"2024-03-01T00:30:00Z\""));
	RUN(s, 0, "evaluate");
	r = access_until(f, "ios-alice", "?resource=exchange", "noncompliant", &status);
	assert_int_equal(status, 403);
	EXPECT_HDR(f, r, "X-Mtdgate-State", "noncompliant");
	EXPECT_HDR(f, r, "X-Mtdgate-Level", "high");
	{
		const char *why = header(s, r, "X-Mtdgate-Reason");
		assert_non_null(why);
		if (!strstr(why, "generic"))
			fail_msg("reason does not name the vendor: %s", why);
		for (const char *p = why; *p; p++)
			assert_true(*p >= 0x20 && *p < 0x7f);
	}
	r = access_until(f, "ios-bob", "?resource=sharepoint", "compliant", &status);
	assert_int_equal(status, 200);
	/* a resource not protected for the device: not a way around a block,
	 * and not allowed blindly either */
	r = http(s, f->sv.port, "GET", "/v1/access?resource=payroll&device=ios-bob", NULL, &status);
	assert_int_equal(status, 403);
	EXPECT_HDR(f, r, "X-Mtdgate-State", "compliant");

	scen_day(s, 0, 7200);
	INGEST(s, THREAT("ios-alice", "low", "\"2024-03-01T01:30:00Z\""));
	RUN(s, 0, "evaluate");
	r = access_until(f, "ios-alice", "?resource=exchange", "compliant", &status);
	assert_int_equal(status, 200);
	EXPECT_HDR(f, r, "X-Mtdgate-Level", "low");
	assert_int_equal(serve_stop(&f->sv), 0);
}

/* 2. /v1/devices/ID is report --json --device ID, byte for byte, for every
 * device of the fleet (the same code path); 404 when unknown. */
static void devices_are_the_report(void **state)
{
	fixture *f = *state;
	scen *s = f->s;
	const char *devs[] = {"ios-alice", "ios-bob", "ios-exec", "and-carol", "win-dave"};
	int status;
	char *r;

	SETUP(s, SCEN_FLEET);
	RUN(s, 0, "connector", "set", "generic", "ios=on", "android=on");
	scen_day(s, 0, 3600);
	INGEST(s, THREAT("ios-exec", "low", "\"2024-03-01T00:30:00Z\"")
		   THREAT("and-carol", "high", "\"2024-03-01T00:30:00Z\""));
	RUN(s, 0, "evaluate");
	serve_start(s, &f->sv);
	for (size_t i = 0; i < sizeof devs / sizeof *devs; i++) {
		char path[128];
		snprintf(path, sizeof path, "/v1/devices/%s", devs[i]);
		r = http(s, f->sv.port, "GET", path, NULL, &status);
		assert_int_equal(status, 200);
		EXPECT_HDR(f, r, "Content-Type", "application/json");
		RUN(s, 0, "report", "--json", "--device", devs[i]);
		assert_string_equal(body(r), s->out);
	}
	r = http(s, f->sv.port, "GET", "/v1/devices/nobody", NULL, &status);
	assert_int_equal(status, 404);
	r = http(s, f->sv.port, "GET", "/healthz", NULL, &status);
	assert_int_equal(status, 200);
	assert_string_equal(body(r), "ok\n");
	r = http(s, f->sv.port, "GET", "/nothing-here", NULL, &status);
	assert_int_equal(status, 404);
	/* only ingest takes a method other than GET (and /v1/access any: a
	 * proxy's check, scenario_http's access_as_proxies_ask) */
	r = http(s, f->sv.port, "DELETE", "/v1/devices/nobody", NULL, &status);
	assert_int_equal(status, 405);
	assert_int_equal(serve_stop(&f->sv), 0);
}

/* The whole answer to one request on fd (headers up to the empty line and
 * a Content-Length body), NUL-terminated in buf; its length, 0 when the
 * server closed the connection first. */
static size_t read_answer(int fd, char *buf, size_t n)
{
	size_t len = 0;
	for (;;) {
		char *end;
		ssize_t r;
		buf[len] = '\0';
		if ((end = strstr(buf, "\r\n\r\n"))) {
			const char *cl = strcasestr(buf, "\r\nContent-Length:");
			size_t want = (size_t)(end + 4 - buf) + (cl && cl < end ? strtoul(cl + 17, NULL, 10) : 0);
			if (len >= want)
				return len;
		}
		assert_true(len < n - 1);
		r = read(fd, buf + len, n - 1 - len);
		if (r <= 0)
			return 0;
		len += (size_t)r;
	}
}

/* 2b. A proxy's keep-alive connection carries many questions: serve answers
 * each GET without closing (libmicrohttpd closes after an answer queued in
 * a request's first call; every /v1/access had paid for a new connection). */
static void access_keeps_the_connection(void **state)
{
	fixture *f = *state;
	scen *s = f->s;
	const char *paths[] = {"/v1/access?resource=exchange", "/v1/access?device=ios-bob",
			       "/healthz", "/v1/devices/ios-bob", "/v1/access?resource=exchange"};
	char buf[8192];
	struct sockaddr_in a = {.sin_family = AF_INET};
	int fd;

	SETUP(s, SCEN_FLEET);
	RUN(s, 0, "connector", "set", "generic", "ios=on");
	scen_day(s, 0, 3600);
	INGEST(s, THREAT("ios-bob", "low", "\"2024-03-01T00:30:00Z\""));
	RUN(s, 0, "evaluate");
	serve_start(s, &f->sv);
	a.sin_port = htons((uint16_t)f->sv.port);
	inet_pton(AF_INET, "127.0.0.1", &a.sin_addr);
	fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	assert_true(fd >= 0);
	assert_int_equal(connect(fd, (struct sockaddr *)&a, sizeof a), 0);
	for (size_t i = 0; i < sizeof paths / sizeof *paths; i++) {
		char req[256];
		int len = snprintf(req, sizeof req,
				   "GET %s HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Device-Id: ios-bob\r\n\r\n",
				   paths[i]);
		assert_int_equal(write(fd, req, (size_t)len), len);
		if (!read_answer(fd, buf, sizeof buf))
			fail_msg("request %zu (%s): the connection was closed", i + 1, paths[i]);
		if (strncmp(buf, "HTTP/1.1 200 ", 13))
			fail_msg("request %zu (%s): %s", i + 1, paths[i], buf);
		if (strcasestr(buf, "\r\nConnection: close"))
			fail_msg("request %zu (%s) answered with Connection: close:\n%s", i + 1,
				 paths[i], buf);
	}
	close(fd);
	assert_int_equal(serve_stop(&f->sv), 0);
}

/* 2c. A proxy's auth request carries its client's headers: a request head
 * of 12 KiB (a large cookie) is answered, on a kept connection, with the
 * same headers again for the next device of the same decision (answers
 * are shared by decision); a 40 KiB head is refused (431) and serve goes
 * on answering. */
static void access_big_head(void **state)
{
	fixture *f = *state;
	scen *s = f->s;
	static char req[48 * 1024], buf[8192];
	const char *devs[] = {"ios-bob", "ios-bob", "zz-last", "nobody"};
	const char *want[] = {"HTTP/1.1 200 ", "HTTP/1.1 200 ", "HTTP/1.1 200 ", "HTTP/1.1 403 "};
	char cookie[12 * 1024 + 1];
	struct sockaddr_in a = {.sin_family = AF_INET};
	int fd, status;

	SETUP(s, SCEN_FLEET);
	RUN(s, 0, "connector", "set", "generic", "ios=on");
	scen_day(s, 0, 3600);
	INGEST(s, THREAT("ios-bob", "low", "\"2024-03-01T00:30:00Z\""));
	INGEST(s, THREAT("zz-last", "low", "\"2024-03-01T00:30:00Z\""));
	RUN(s, 0, "evaluate");
	serve_start(s, &f->sv);
	memset(cookie, 'c', sizeof cookie - 1);
	cookie[sizeof cookie - 1] = '\0';
	a.sin_port = htons((uint16_t)f->sv.port);
	inet_pton(AF_INET, "127.0.0.1", &a.sin_addr);
	fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	assert_true(fd >= 0);
	assert_int_equal(connect(fd, (struct sockaddr *)&a, sizeof a), 0);
	for (size_t i = 0; i < sizeof devs / sizeof *devs; i++) {
		int len = snprintf(req, sizeof req,
				   "GET /v1/access?resource=exchange HTTP/1.1\r\nHost: 127.0.0.1\r\n"
				   "X-Device-Id: %s\r\nCookie: %s\r\n\r\n",
				   devs[i], cookie);
		assert_int_equal(write(fd, req, (size_t)len), len);
		if (!read_answer(fd, buf, sizeof buf))
			fail_msg("device %s: the connection was closed", devs[i]);
		if (strncmp(buf, want[i], strlen(want[i])))
			fail_msg("device %s: %s", devs[i], buf);
		if (!strstr(buf, i < 3 ? "\r\nX-Mtdgate-State: compliant\r\n"
				       : "\r\nX-Mtdgate-Reason: unknown device\r\n"))
			fail_msg("device %s: %s", devs[i], buf);
	}
	close(fd);
	{ /* 40 KiB: refused, on a connection of its own */
		static char big[40 * 1024 + 1];
		int len;
		memset(big, 'c', sizeof big - 1);
		len = snprintf(req, sizeof req,
			       "GET /v1/access HTTP/1.1\r\nHost: 127.0.0.1\r\n"
			       "X-Device-Id: ios-bob\r\nCookie: %s\r\n\r\n",
			       big);
		assert_true(len > 0 && (size_t)len < sizeof req);
		fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
		assert_true(fd >= 0);
		assert_int_equal(connect(fd, (struct sockaddr *)&a, sizeof a), 0);
		assert_int_equal(write(fd, req, (size_t)len), len);
		if (!read_answer(fd, buf, sizeof buf) || strncmp(buf, "HTTP/1.1 431 ", 13))
			fail_msg("a 40 KiB head: %s", buf);
		close(fd);
	}
	access_until(f, "ios-bob", "?resource=exchange", "compliant", &status);
	assert_int_equal(status, 200);
	assert_int_equal(serve_stop(&f->sv), 0);
}

/* POST body to path with the bearer token; the whole response. */
static char *push(fixture *f, const char *path, const char *token, const char *body_text,
		  int *status)
{
	char hdr[200];
	char *r;
	snprintf(hdr, sizeof hdr, "Authorization: Bearer %s\r\n", token);
	post_body = body_text;
	r = http(f->s, f->sv.port, "POST", path, hdr, status);
	post_body = "";
	return r;
}

/* 3. A vendor pushes with its token: the answer comes after commit and
 * evaluation, so the very next access request already sees the threat;
 * a remediation gives access back. Bad tokens are 401, a connector whose
 * state refuses messages 403 (its refusals counted and audited). */
static void ingest_push_blocks_at_once(void **state)
{
	fixture *f = *state;
	scen *s = f->s;
	char token[80], *r, good0;
	int status;

	SETUP(s, SCEN_FLEET);
	snprintf(s->rules, sizeof s->rules, "%s", scen_rules_copy(s, "r", NULL, NULL));
	RUN(s, 0, "connector", "set", "generic", "ios=on");
	RUN(s, 0, "evaluate");
	RUN(s, 0, "connector", "token", "generic");
	assert_int_equal(strlen(s->out), 65);
	snprintf(token, sizeof token, "%.64s", s->out);
	/* only its hash is in the store */
	assert_int_equal(scen_q_int(s, "SELECT count(*) FROM meta WHERE value LIKE '%' || "
				       "(SELECT substr(value, 1, 8) FROM meta WHERE key = 'token:generic') "
				       "|| '%'"), 1);
	{
		char q[300];
		snprintf(q, sizeof q, "SELECT count(*) FROM meta WHERE value LIKE '%%%.16s%%'", token);
		assert_int_equal(scen_q_int(s, q), 0);
	}
	scen_day(s, 0, 3600);
	serve_start(s, &f->sv);
	r = http(s, f->sv.port, "GET", "/v1/access?resource=exchange&device=ios-alice", NULL,
		 &status);
	assert_int_equal(status, 200);

	r = push(f, "/v1/ingest/generic?normalized=1", token,
		 THREAT("ios-alice", "high", "\"2024-03-01T00:30:00Z\"") "{\"type\":\"threat\"}\n",
		 &status);
	assert_int_equal(status, 200);
	if (!strstr(body(r), "\"records\":2,\"accepted\":1,\"rejected\":0,\"malformed\":1,"
			     "\"parked\":0,\"errors\":[\""))
		fail_msg("ingest answer: %s", r);
	r = http(s, f->sv.port, "GET", "/v1/access?resource=exchange&device=ios-alice", NULL,
		 &status);
	assert_int_equal(status, 403); /* no waiting: decided before the answer */
	EXPECT_HDR(f, r, "X-Mtdgate-Level", "high");

	r = push(f, "/v1/ingest/generic?normalized=1", token,
		 THREAT("ios-alice", "low", "\"2024-03-01T00:45:00Z\""), &status);
	assert_int_equal(status, 200);
	r = http(s, f->sv.port, "GET", "/v1/access?resource=exchange&device=ios-alice", NULL,
		 &status);
	assert_int_equal(status, 200);

	/* bad, missing and other vendors' tokens */
	good0 = token[0];
	token[0] = token[0] == 'a' ? 'b' : 'a';
	r = push(f, "/v1/ingest/generic?normalized=1", token,
		 THREAT("ios-alice", "high", "\"2024-03-01T00:50:00Z\""), &status);
	assert_int_equal(status, 401);
	r = push(f, "/v1/ingest/lookout", token, "{}", &status);
	assert_int_equal(status, 401);
	r = http(s, f->sv.port, "POST", "/v1/ingest/generic", NULL, &status);
	assert_int_equal(status, 401);
	r = http(s, f->sv.port, "GET", "/v1/access?resource=exchange&device=ios-alice", NULL,
		 &status);
	assert_int_equal(status, 200); /* nothing of the refused pushes applied */

	/* SIGHUP: the rules are read again and every device decided with them
	 * (here nothing above secured is allowed: alice's low now blocks) */
	scen_writes(s, "r/groups.lua", "return { default = { max_level = \"secured\", "
				       "app_max_level = \"low\", app_action = \"block\" } }\n");
	kill(f->sv.pid, SIGHUP);
	r = access_until(f, "ios-alice", "?resource=exchange", "noncompliant", &status);
	assert_int_equal(status, 403);
	EXPECT_HDR(f, r, "X-Mtdgate-Level", "low");
	assert_int_equal(serve_stop(&f->sv), 0);

	/* R1: a removed connector (unavailable) refuses; the push is 403 */
	RUN(s, 0, "connector", "remove", "generic");
	token[0] = good0; /* the right one again */
	serve_start(s, &f->sv);
	r = push(f, "/v1/ingest/generic?normalized=1", token,
		 THREAT("ios-alice", "high", "\"2024-03-01T00:55:00Z\""), &status);
	assert_int_equal(status, 403);
	if (!strstr(body(r), "\"rejected\":1"))
		fail_msg("refused push: %s", r);
	assert_int_equal(serve_stop(&f->sv), 0);
	RUN(s, 0, "report", "--json", "--device", "ios-alice");
	OUT_HAS(s, "\"access\":\"allow\"");
}

/* The fleet evaluated, serve started with the store worker held at the
 * gate file (its path into gate, ngate bytes), and a push of a high threat on ios-alice
 * sent on a connection of its own: that connection's fd, not yet answered
 * while gate exists. */
static int push_held(fixture *f, char *gate, size_t ngate)
{
	scen *s = f->s;
	static const char body_text[] = THREAT("ios-alice", "high", "\"2024-03-01T00:30:00Z\"");
	char token[80], req[1024];
	struct sockaddr_in a = {.sin_family = AF_INET};
	int fd, len;
	FILE *g;

	SETUP(s, SCEN_FLEET);
	RUN(s, 0, "connector", "set", "generic", "ios=on");
	RUN(s, 0, "evaluate");
	RUN(s, 0, "connector", "token", "generic");
	snprintf(token, sizeof token, "%.64s", s->out);
	scen_day(s, 0, 3600);
	snprintf(gate, ngate, "%s", scen_path(s, "gate"));
	assert_non_null(g = fopen(gate, "w"));
	fclose(g);
	setenv("MTD_TEST_WORKER_GATE", gate, 1);
	serve_start(s, &f->sv);
	unsetenv("MTD_TEST_WORKER_GATE");

	a.sin_port = htons((uint16_t)f->sv.port);
	inet_pton(AF_INET, "127.0.0.1", &a.sin_addr);
	fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	assert_true(fd >= 0);
	assert_int_equal(connect(fd, (struct sockaddr *)&a, sizeof a), 0);
	len = snprintf(req, sizeof req,
		       "POST /v1/ingest/generic?normalized=1 HTTP/1.1\r\nHost: 127.0.0.1\r\n"
		       "Authorization: Bearer %s\r\nContent-Length: %zu\r\n\r\n%s",
		       token, strlen(body_text), body_text);
	assert_int_equal(write(fd, req, (size_t)len), len);
	return fd;
}

/* 3a. /v1/access does not wait for a push being answered: with the push
 * held in serve's store worker (MTD_TEST_WORKER_GATE, test builds), access
 * questions and /healthz are answered with the decision before the push,
 * and the push is not; once it goes on, its answer comes after the
 * decision, and the next access question sees it without waiting. */
static void access_during_push(void **state)
{
	fixture *f = *state;
	scen *s = f->s;
	char buf[8192], gate[300], *r;
	struct pollfd pf;
	int fd, status;

	fd = push_held(f, gate, sizeof gate);
	for (int i = 0; i < 20; i++) {
		r = http(s, f->sv.port, "GET", "/v1/access?resource=exchange&device=ios-alice",
			 NULL, &status);
		assert_int_equal(status, 200); /* the decision before the push */
		r = http(s, f->sv.port, "GET", "/healthz", NULL, &status);
		assert_int_equal(status, 200);
	}
	pf = (struct pollfd){.fd = fd, .events = POLLIN};
	assert_int_equal(poll(&pf, 1, 0), 0); /* the push is held: no answer */
	assert_int_equal(unlink(gate), 0);
	if (!read_answer(fd, buf, sizeof buf) || strncmp(buf, "HTTP/1.1 200 ", 13))
		fail_msg("the push: %s", buf);
	close(fd);
	r = http(s, f->sv.port, "GET", "/v1/access?resource=exchange&device=ios-alice", NULL,
		 &status);
	assert_int_equal(status, 403); /* decided before the push was answered */
	EXPECT_HDR(f, r, "X-Mtdgate-Level", "high");
	assert_int_equal(serve_stop(&f->sv), 0);
}

/* 3b. SIGTERM with a push held in the store worker: serve goes on answering
 * /v1/access, answers the push (200, committed and decided) once it goes
 * on, and exits 0 with the push in the store. */
static void sigterm_answers_held_push(void **state)
{
	fixture *f = *state;
	scen *s = f->s;
	char buf[8192], gate[300];
	int fd, status;

	fd = push_held(f, gate, sizeof gate);
	for (int i = 0; i < 20; i++) { /* round trips after it: the push was read */
		http(s, f->sv.port, "GET", "/healthz", NULL, &status);
		assert_int_equal(status, 200);
	}
	assert_int_equal(kill(f->sv.pid, SIGTERM), 0);
	http(s, f->sv.port, "GET", "/v1/access?resource=exchange&device=ios-alice", NULL, &status);
	assert_int_equal(status, 200); /* still answered, the push not decided yet */
	assert_int_equal(unlink(gate), 0);
	if (!read_answer(fd, buf, sizeof buf) || strncmp(buf, "HTTP/1.1 200 ", 13))
		fail_msg("the push after SIGTERM: %s", buf);
	close(fd);
	assert_int_equal(serve_stop(&f->sv), 0);
	RUN(s, 0, "report", "--json", "--device", "ios-alice");
	if (!strstr(s->out, "\"noncompliant\""))
		fail_msg("the push is not in the store: %s", s->out);
}

/* 4. The same inputs give the same decisions pushed to serve as through
 * the batch commands (ingest, evaluate) on a second store. */
static void serve_decides_as_batch(void **state)
{
	fixture *f = *state;
	scen *s = f->s, *t = f->t = scen_new();
	const char *in = THREAT("ios-alice", "high", "\"2024-03-01T00:30:00Z\"")
		THREAT("ios-exec", "low", "\"2024-03-01T00:31:00Z\"")
		THREAT("and-carol", "medium", "\"2024-03-01T00:32:00Z\"")
		THREAT("ios-alice", "low", "\"2024-03-01T00:40:00Z\"");
	char token[80], *served, *r;
	int status;

	assert_non_null(t);
	for (scen *x = s;; x = t) {
		SETUP(x, SCEN_FLEET);
		RUN(x, 0, "connector", "set", "generic", "ios=on", "android=on", "mam_android=on");
		RUN(x, 0, "evaluate");
		scen_day(x, 0, 3600);
		if (x == t)
			break;
	}
	RUN(s, 0, "connector", "token", "generic");
	snprintf(token, sizeof token, "%.64s", s->out);
	serve_start(s, &f->sv);
	r = push(f, "/v1/ingest/generic?normalized=1", token, in, &status);
	assert_int_equal(status, 200);
	(void)r;
	assert_int_equal(serve_stop(&f->sv), 0);
	served = REPORT_ALL(s);

	scen_ingest_(t, 0, in, __FILE__, __LINE__);
	RUN(t, 0, "evaluate");
	{
		char *batch = REPORT_ALL(t);
		int same = !strcmp(served, batch);
		if (!same)
			fprintf(stderr, "served:\n%s\nbatch:\n%s\n", served, batch);
		assert_true(same);
	}
}

/* 5. Bad command lines are usage errors (64), a port in use is refused. */
static void serve_usage(void **state)
{
	fixture *f = *state;
	scen *s = f->s;
	SETUP(s, SCEN_FLEET);
	RUN(s, 64, "serve", "--bogus");
	RUN(s, 64, "serve", "--listen", "localhost-no-port");
	ERR_HAS(s, "neither HOST:PORT nor unix:PATH");
	serve_start(s, &f->sv);
	{
		char spec[64];
		snprintf(spec, sizeof spec, "127.0.0.1:%d", f->sv.port);
		RUN(s, 69, "serve", "--listen", spec);
		ERR_HAS(s, "Address already in use");
	}
	RUN(s, 0, "help", "serve");
	OUT_HAS(s, "/v1/access");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(access_follows_batch_commands, setup, teardown),
		cmocka_unit_test_setup_teardown(devices_are_the_report, setup, teardown),
		cmocka_unit_test_setup_teardown(access_keeps_the_connection, setup, teardown),
		cmocka_unit_test_setup_teardown(access_big_head, setup, teardown),
		cmocka_unit_test_setup_teardown(ingest_push_blocks_at_once, setup, teardown),
		cmocka_unit_test_setup_teardown(access_during_push, setup, teardown),
		cmocka_unit_test_setup_teardown(sigterm_answers_held_push, setup, teardown),
		cmocka_unit_test_setup_teardown(serve_decides_as_batch, setup, teardown),
		cmocka_unit_test_setup_teardown(serve_usage, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
