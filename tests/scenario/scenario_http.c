/* Scenarios: the rest of serve's HTTP interface (SPEC 4.5) through real
 * connections on 127.0.0.1: the decision events a follower (an IdP, an MDM,
 * a SIEM) reads, resumed after a disconnect without losing or repeating one. */
#define _GNU_SOURCE /* strndup */
#include <errno.h>
#include <poll.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <jansson.h>

#include "harness.h"
#include "httpc.h"

typedef struct fixture {
	scen *s;
	srv sv;
	int fds[8]; /* open event streams, closed by teardown */
	size_t nfds;
} fixture;

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
	for (size_t i = 0; i < f->nfds; i++)
		if (f->fds[i] >= 0)
			close(f->fds[i]);
	if (f->sv.pid > 0)
		serve_stop(&f->sv);
	scen_free(f->s);
	free(f);
	return 0;
}

/* ---- an event stream read as it comes ---- */

typedef struct stream {
	int fd;
	char *buf; /* everything read so far (owned by the scenario's list below) */
	size_t n, cap;
	size_t parsed; /* bytes of buf consumed as whole events */
	int eof;
} stream;

/* An event as the test keeps it. */
typedef struct ev {
	long long id;
	char device[64], after[32], before[32];
} ev;

typedef struct evlist {
	ev e[256];
	size_t n;
} evlist;

/* GET /v1/events (HTTP/1.0: the stream is the body until the server
 * closes), with Last-Event-ID when last >= 0. */
static stream *events_open(fixture *f, long long last)
{
	char hdr[80] = "";
	stream *st = calloc(1, sizeof *st);
	assert_non_null(st);
	scen_own(f->s, st);
	if (last >= 0)
		snprintf(hdr, sizeof hdr, "Last-Event-ID: %lld\r\n", last);
	st->fd = http_open10(f->sv.port, "/v1/events", hdr);
	assert_true(f->nfds < sizeof f->fds / sizeof *f->fds);
	f->fds[f->nfds++] = st->fd;
	return st;
}

static void events_close(fixture *f, stream *st)
{
	for (size_t i = 0; i < f->nfds; i++)
		if (f->fds[i] == st->fd)
			f->fds[i] = -1;
	close(st->fd);
	free(st->buf);
	st->buf = NULL;
	st->fd = -1;
}

/* Read what arrives within ms (at least one read when something does). */
static void events_pump(stream *st, int ms)
{
	struct pollfd pf = {st->fd, POLLIN, 0};
	ssize_t r;
	if (st->eof || poll(&pf, 1, ms) <= 0)
		return;
	if (st->cap - st->n < 4096) {
		char *nb = realloc(st->buf, st->cap + 65536);
		assert_non_null(nb);
		st->buf = nb;
		st->cap += 65536;
	}
	r = read(st->fd, st->buf + st->n, st->cap - st->n - 1);
	if (r <= 0)
		st->eof = 1;
	else
		st->n += (size_t)r;
	st->buf[st->n] = '\0';
}

/* The next whole event (or comment block) of st, waiting up to 5 s: 1 with
 * *e filled for a decision event, 0 for a comment or retry block, -1 when
 * the stream ended or nothing came. */
static int events_next(stream *st, ev *e, int *comment)
{
	int64_t deadline = ms_now() + 5000;
	for (;;) {
		char *start, *end;
		if (st->buf && !st->parsed) { /* the response's head first */
			char *h = strstr(st->buf, "\r\n\r\n");
			if (h) {
				if (!strstr(st->buf, "200") || !strstr(st->buf, "text/event-stream"))
					fail_msg("not an event stream: %s", st->buf);
				st->parsed = (size_t)(h + 4 - st->buf);
			}
		}
		start = st->buf ? st->buf + st->parsed : NULL;
		if (st->parsed && (end = strstr(start, "\n\n"))) {
			json_error_t jerr;
			json_t *o;
			char *data, *id;
			*end = '\0';
			st->parsed = (size_t)(end + 2 - st->buf);
			if (comment)
				*comment = start[0] == ':';
			if (start[0] == ':' || !strncmp(start, "retry:", 6))
				return 0;
			if (strncmp(start, "event: decision\nid: ", 20))
				fail_msg("not a decision event: '%s'", start);
			id = start + 20;
			memset(e, 0, sizeof *e);
			e->id = strtoll(id, &data, 10);
			if (strncmp(data, "\ndata: ", 7) || strchr(data + 7, '\n'))
				fail_msg("event without one data line: '%s'", start);
			if (!(o = json_loads(data + 7, 0, &jerr)))
				fail_msg("event data is not JSON: '%s'", data + 7);
			snprintf(e->device, sizeof e->device, "%s", jstr(o, "device"));
			snprintf(e->after, sizeof e->after, "%s", jstr(json_object_get(o, "after"), "state"));
			snprintf(e->before, sizeof e->before, "%s",
				 jstr(json_object_get(o, "before"), "state"));
			if (!json_is_array(json_object_get(o, "reasons")) ||
			    !json_is_string(json_object_get(o, "at")) ||
			    !json_is_string(json_object_get(json_object_get(o, "after"), "level")) ||
			    !json_is_string(json_object_get(json_object_get(o, "before"), "access")) ||
			    !json_is_string(json_object_get(json_object_get(o, "after"), "app_protection")))
				fail_msg("event data lacks a field: '%s'", data + 7);
			json_decref(o);
			return 1;
		}
		if (st->eof || ms_now() > deadline)
			return -1;
		events_pump(st, 100);
	}
}

/* Up to want decision events of st into l (comments skipped); how many. */
static size_t events_take(stream *st, evlist *l, size_t want)
{
	size_t got = 0;
	ev e;
	int r;
	while (got < want && (r = events_next(st, &e, NULL)) >= 0) {
		if (r == 1) {
			assert_true(l->n < sizeof l->e / sizeof *l->e);
			l->e[l->n++] = e;
			got++;
		}
	}
	return got;
}

/* The decision changes in the audit log after seq, as the events should
 * carry them (audit show --kind decision --json). */
static void audit_decisions(scen *s, long long after, evlist *l)
{
	char *line, *save = NULL;
	l->n = 0;
	RUN(s, 0, "audit", "show", "--kind", "decision", "--json");
	for (line = strtok_r(s->out, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		json_t *o = json_loads(line, 0, NULL), *d;
		ev e = {0};
		assert_non_null(o);
		e.id = json_integer_value(json_object_get(o, "seq"));
		d = json_object_get(o, "detail");
		snprintf(e.device, sizeof e.device, "%s", jstr(o, "device"));
		snprintf(e.after, sizeof e.after, "%s", jstr(json_object_get(d, "to"), "state"));
		snprintf(e.before, sizeof e.before, "%s", jstr(json_object_get(d, "from"), "state"));
		json_decref(o);
		if (e.id > after) {
			assert_true(l->n < sizeof l->e / sizeof *l->e);
			l->e[l->n++] = e;
		}
	}
}

static void expect_same(const evlist *got, const evlist *want)
{
	for (size_t i = 0; i < got->n || i < want->n; i++) {
		const ev *g = i < got->n ? &got->e[i] : NULL, *w = i < want->n ? &want->e[i] : NULL;
		if (!g || !w || g->id != w->id || strcmp(g->device, w->device) ||
		    strcmp(g->after, w->after) || strcmp(g->before, w->before))
			fail_msg("event %zu: got id %lld %s %s->%s, the log has id %lld %s %s->%s", i,
				 g ? g->id : -1, g ? g->device : "-", g ? g->before : "-",
				 g ? g->after : "-", w ? w->id : -1, w ? w->device : "-",
				 w ? w->before : "-", w ? w->after : "-");
	}
}

/* POST body to /v1/ingest/generic?normalized=1 with the token: 200. */
static void push(fixture *f, const char *token, const char *text)
{
	char hdr[200];
	int status;
	char *r;
	snprintf(hdr, sizeof hdr, "Authorization: Bearer %s\r\n", token);
	post_body = text;
	r = http(f->s, f->sv.port, "POST", "/v1/ingest/generic?normalized=1", hdr, &status);
	post_body = "";
	if (status != 200)
		fail_msg("push: %s", r);
}

/* The fleet with iOS and Android on generic, evaluated, a token in tok. */
static void fleet(scen *s, char tok[80])
{
	SETUP(s, SCEN_FLEET);
	RUN(s, 0, "connector", "set", "generic", "ios=on", "android=on", "mam_android=on");
	RUN(s, 0, "evaluate");
	RUN(s, 0, "connector", "token", "generic");
	snprintf(tok, 80, "%.64s", s->out);
	scen_day(s, 0, 3600);
}

/* 1. A follower sees every decision change exactly once, in order, across
 * a drop (its buffer overflowing in a burst), a disconnect of its own in
 * the middle of a stream and changes made by batch commands: each time it
 * comes back with Last-Event-ID and gets exactly what it missed. */
static void events_resume_exactly_once(void **state)
{
	fixture *f = *state;
	scen *s = f->s;
	const char *const opts[] = {"--events-buffer", "1024", NULL};
	evlist got = {0}, want;
	long long start;
	char tok[80];
	stream *a, *b, *c;
	ev e;

	fleet(s, tok);
	audit_decisions(s, 0, &want);
	assert_true(want.n >= 7); /* the first evaluation's changes */
	start = want.e[want.n - 1].id;
	serve_startv(s, &f->sv, opts);

	a = events_open(f, -1); /* from now on */
	assert_int_equal(events_next(a, &e, NULL), 0); /* retry: the stream is open */
	push(f, tok, THREAT("ios-alice", "high", "\"2024-03-01T00:30:00Z\""));
	assert_int_equal(events_take(a, &got, 1), 1);
	assert_string_equal(got.e[0].device, "ios-alice");
	assert_string_equal(got.e[0].after, "noncompliant");

	/* a burst of five changes: more than 1024 bytes at once, so the
	 * follower gets what fitted and is dropped */
	push(f, tok,
	     THREAT("ios-bob", "high", "\"2024-03-01T00:31:00Z\"") THREAT(
		     "ios-exec", "high", "\"2024-03-01T00:31:00Z\"")
		     THREAT("ios-multi", "high", "\"2024-03-01T00:31:00Z\"")
			     THREAT("zz-last", "high", "\"2024-03-01T00:31:00Z\"")
				     THREAT("and-carol", "high", "\"2024-03-01T00:31:00Z\""));
	{
		size_t k = events_take(a, &got, 5);
		if (k == 0 || k >= 5)
			fail_msg("a 1024-byte follower took %zu of the burst's 5 events", k);
		assert_int_equal(events_next(a, &e, NULL), -1);
		assert_true(a->eof); /* dropped, not stalled */
	}
	events_close(f, a);

	/* back with the last id it saw: the rest of the burst, then live */
	b = events_open(f, got.e[got.n - 1].id);
	while (got.n < 6)
		if (events_take(b, &got, 1) != 1)
			fail_msg("the resumed follower stopped after %zu events", got.n);
	push(f, tok,
	     THREAT("ios-alice", "low", "\"2024-03-01T00:40:00Z\"") THREAT(
		     "ios-bob", "low", "\"2024-03-01T00:40:00Z\"")
		     THREAT("ios-exec", "secured", "\"2024-03-01T00:40:00Z\""));
	assert_int_equal(events_take(b, &got, 1), 1);
	events_close(f, b); /* gone in the middle of that push's events */

	/* changes made by batch commands on the same store reach followers */
	scen_day(s, 0, 3700);
	INGEST(s, THREAT("ios-multi", "low", "\"2024-03-01T00:50:00Z\""));
	RUN(s, 0, "evaluate");
	{ /* and /v1/access, after serve's own pushes (no old snapshot kept) */
		int64_t deadline = ms_now() + 5000;
		int status = 0;
		while (status != 200 && ms_now() < deadline) {
			struct timespec ts = {0, 20 * 1000 * 1000};
			http(s, f->sv.port, "GET", "/v1/access?device=ios-multi&resource=exchange", NULL,
			     &status);
			nanosleep(&ts, NULL);
		}
		assert_int_equal(status, 200);
	}
	c = events_open(f, got.e[got.n - 1].id);
	while (got.n < 10)
		if (events_take(c, &got, 1) != 1)
			fail_msg("the follower stopped after %zu events", got.n);

	audit_decisions(s, start, &want);
	expect_same(&got, &want);
	/* and nothing more comes */
	events_pump(c, 300);
	assert_int_equal(events_next(c, &e, NULL) == 1, 0);
	assert_int_equal(serve_stop(&f->sv), 0);
}

/* 2. Last-Event-ID 0 replays the whole log; a bad one is 400; an idle
 * stream carries keep-alive comments; SIGTERM ends streams and serve. */
static void events_replay_and_keepalive(void **state)
{
	fixture *f = *state;
	scen *s = f->s;
	const char *const opts[] = {"--keepalive", "1", NULL};
	evlist got = {0}, want;
	char tok[80], *r;
	int status, comment = 0;
	stream *a;
	ev e;

	fleet(s, tok);
	serve_startv(s, &f->sv, opts);
	r = http(s, f->sv.port, "GET", "/v1/events", "Last-Event-ID: 12x\r\n", &status);
	assert_int_equal(status, 400);
	(void)r;
	a = events_open(f, 0);
	audit_decisions(s, 0, &want);
	assert_int_equal(events_take(a, &got, want.n), want.n);
	expect_same(&got, &want);
	/* idle: a comment within a few seconds */
	for (int i = 0; i < 5 && !comment; i++)
		if (events_next(a, &e, &comment) < 0)
			break;
	assert_true(comment);
	assert_int_equal(serve_stop(&f->sv), 0);
	assert_int_equal(events_next(a, &e, NULL), -1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(events_resume_exactly_once, setup, teardown),
		cmocka_unit_test_setup_teardown(events_replay_and_keepalive, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
