/* Scenarios: the rest of serve's HTTP interface (SPEC 4.5) through real
 * connections on 127.0.0.1: the decision events a follower (an IdP, an MDM,
 * a SIEM) reads, resumed after a disconnect without losing or repeating one. */
#define _GNU_SOURCE /* strndup, prctl */
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
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <fcntl.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <jansson.h>

#include "harness.h"
#include "httpc.h"

struct stream;
static void events_close(struct stream *st);

typedef struct fixture {
	scen *s;
	srv sv;
	pid_t nginx; /* killed by teardown */
	struct stream *streams[8]; /* event streams: closed and freed by teardown */
	size_t nstreams;
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
	for (size_t i = 0; i < f->nstreams; i++)
		events_close(f->streams[i]);
	if (f->sv.pid > 0)
		serve_stop(&f->sv);
	if (f->nginx > 0) {
		kill(f->nginx, SIGKILL);
		waitpid(f->nginx, NULL, 0);
	}
	scen_free(f->s);
	free(f);
	return 0;
}

#define EXPECT_HDR_S(s, r, name, want)                                                             \
	do {                                                                                       \
		const char *v_ = header((s), (r), (name));                                         \
		if (!v_ || strcmp(v_, (want)))                                                     \
			fail_msg("%s: expected '%s', got '%s'", (name), (want), v_ ? v_ : "<missing>"); \
	} while (0)

/* ---- an event stream read as it comes ---- */

typedef struct stream {
	int fd;
	char *buf; /* everything read so far (owned by the scenario's list below) */
	size_t n, cap;
	size_t parsed; /* bytes of buf consumed as whole events */
	int eof;
} stream;

/* Close a stream and free its buffer (the stream itself is the
 * scenario's); again is nothing. */
static void events_close(stream *st)
{
	if (st->fd >= 0)
		close(st->fd);
	free(st->buf);
	st->buf = NULL;
	st->fd = -1;
}

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
	assert_true(f->nstreams < sizeof f->streams / sizeof *f->streams);
	f->streams[f->nstreams++] = st;
	return st;
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
	events_close(a);

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
	events_close(b); /* gone in the middle of that push's events */

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

/* ---- nginx in front, curl as the device ---- */

/* Run a shell command line (paths in it are the scenario's mkdtemp
 * directory: no quoting needed); fails the test unless it exits 0. */
static void sh(const char *fmt, ...)
{
	char cmd[4096];
	va_list ap;
	int st;
	va_start(ap, fmt);
	vsnprintf(cmd, sizeof cmd, fmt, ap);
	va_end(ap);
	st = system(cmd);
	if (st == -1 || !WIFEXITED(st) || WEXITSTATUS(st))
		fail_msg("failed (%d): %s", st, cmd);
}

/* A port free on 127.0.0.1 just now (the kernel's pick). */
static int free_port(void)
{
	struct sockaddr_in a = {.sin_family = AF_INET};
	socklen_t l = sizeof a;
	int fd = socket(AF_INET, SOCK_STREAM, 0), port;
	inet_pton(AF_INET, "127.0.0.1", &a.sin_addr);
	assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof a), 0);
	assert_int_equal(getsockname(fd, (struct sockaddr *)&a, &l), 0);
	port = ntohs(a.sin_port);
	close(fd);
	return port;
}

/* The HTTP status curl gets for https://127.0.0.1:port/ with the device's
 * client certificate (cert NULL: none), the server checked against ca. */
static int curl_status(scen *s, int port, const char *cert)
{
	char cmd[2048], out[64] = "";
	FILE *p;
	snprintf(cmd, sizeof cmd,
		 "curl -s -o /dev/null -w '%%{http_code}' --max-time 10 --cacert %s %s%s%s%s "
		 "https://127.0.0.1:%d/mail/inbox",
		 scen_path(s, "ca.pem"), cert ? "--cert " : "", cert ? scen_path(s, cert) : "",
		 cert ? " --key " : "", cert ? scen_path(s, "client.key") : "", port);
	assert_non_null(p = popen(cmd, "r"));
	if (!fgets(out, sizeof out, p))
		out[0] = '\0';
	pclose(p);
	return atoi(out);
}

/* 3. nginx (Debian's, with auth_request) verifies the device's client
 * certificate, takes its CN as the device id and asks serve before
 * proxying to the app (a backend that answers 200). A threat pushed to
 * /v1/ingest turns the device's next request into 403, a remediation back
 * into 200; no certificate, or one of a device mtdgate does not know, gets
 * nothing. */
static void nginx_mtls_auth_request(void **state)
{
	fixture *f = *state;
	scen *s = f->s;
	char tok[80], conf[4096];
	int https, app, status;
	int64_t deadline;
	const char *dir = s->dir;

	fleet(s, tok);
	serve_start(s, &f->sv);

	/* a CA the MDM would run, the proxy's server certificate, two devices' */
	sh("cd %s && openssl req -x509 -newkey rsa:2048 -nodes -keyout ca.key -out ca.pem "
	   "-days 2 -subj /CN=test-ca 2>/dev/null", dir);
	sh("cd %s && openssl req -newkey rsa:2048 -nodes -keyout server.key -out server.csr "
	   "-subj /CN=127.0.0.1 2>/dev/null && printf 'subjectAltName=IP:127.0.0.1\\n' > san.ext && "
	   "openssl x509 -req -in server.csr -CA ca.pem -CAkey ca.key -CAcreateserial -days 2 "
	   "-extfile san.ext -out server.pem 2>/dev/null", dir);
	sh("cd %s && openssl req -newkey rsa:2048 -nodes -keyout client.key -out alice.csr "
	   "-subj /O=Example/CN=ios-alice 2>/dev/null && openssl x509 -req -in alice.csr -CA ca.pem "
	   "-CAkey ca.key -CAcreateserial -days 2 -out alice.pem 2>/dev/null && "
	   "openssl req -new -key client.key -out ghost.csr -subj /CN=ghost-device 2>/dev/null && "
	   "openssl x509 -req -in ghost.csr -CA ca.pem -CAkey ca.key -CAcreateserial -days 2 "
	   "-out ghost.pem 2>/dev/null", dir);

	https = free_port();
	app = free_port();
	snprintf(conf, sizeof conf,
		 "daemon off; master_process off; worker_processes 1;\n"
		 "pid %s/nginx.pid; error_log %s/error.log warn;\n"
		 "events { worker_connections 64; }\n"
		 "http {\n"
		 "  access_log off;\n"
		 "  client_body_temp_path %s/tmp; proxy_temp_path %s/tmp;\n"
		 "  fastcgi_temp_path %s/tmp; uwsgi_temp_path %s/tmp; scgi_temp_path %s/tmp;\n"
		 "  map $ssl_client_s_dn $ssl_client_s_dn_cn {\n"
		 "    default \"\";\n"
		 "    ~(^|,)CN=(?<cn>[^,]+) $cn;\n"
		 "  }\n"
		 "  server {\n"
		 "    listen 127.0.0.1:%d ssl;\n"
		 "    ssl_certificate %s/server.pem; ssl_certificate_key %s/server.key;\n"
		 "    ssl_client_certificate %s/ca.pem; ssl_verify_client on;\n"
		 "    location / {\n"
		 "      auth_request /_mtdgate;\n"
		 "      proxy_pass http://127.0.0.1:%d;\n"
		 "    }\n"
		 "    location = /_mtdgate {\n"
		 "      internal;\n"
		 "      proxy_pass http://127.0.0.1:%d/v1/access?resource=exchange;\n"
		 "      proxy_pass_request_body off;\n"
		 "      proxy_set_header Content-Length \"\";\n"
		 "      proxy_set_header X-Device-Id $ssl_client_s_dn_cn;\n"
		 "    }\n"
		 "  }\n"
		 "  server { listen 127.0.0.1:%d; location / { return 200 \"app\\n\"; } }\n"
		 "}\n",
		 dir, dir, dir, dir, dir, dir, dir, https, dir, dir, dir, app, f->sv.port, app);
	scen_writes(s, "nginx.conf", conf);
	sh("mkdir -p %s/tmp %s/logs", dir, dir);
	fflush(NULL);
	f->nginx = fork();
	assert_true(f->nginx >= 0);
	if (f->nginx == 0) {
		int null = open("/dev/null", O_RDWR);
		prctl(PR_SET_PDEATHSIG, SIGKILL); /* it dies with the test */
		dup2(null, 0);
		dup2(null, 1);
		execlp("nginx", "nginx", "-p", dir, "-e", scen_path(s, "error.log"), "-c",
		       scen_path(s, "nginx.conf"), (char *)NULL);
		_exit(127);
	}
	/* up when it answers (at most 10 s) */
	deadline = ms_now() + 10000;
	while ((status = curl_status(s, https, "alice.pem")) == 0 && ms_now() < deadline) {
		struct timespec ts = {0, 50 * 1000 * 1000};
		nanosleep(&ts, NULL);
	}
	if (status != 200) {
		char *log = scen_slurp(scen_path(s, "error.log"), NULL);
		fail_msg("nginx: %d for a compliant device; its log:\n%s", status, log ? log : "");
	}

	push(f, tok, THREAT("ios-alice", "high", "\"2024-03-01T00:30:00Z\""));
	assert_int_equal(curl_status(s, https, "alice.pem"), 403);
	push(f, tok, THREAT("ios-alice", "low", "\"2024-03-01T00:40:00Z\""));
	assert_int_equal(curl_status(s, https, "alice.pem"), 200);
	assert_int_equal(curl_status(s, https, "ghost.pem"), 403); /* unknown device */
	assert_int_equal(curl_status(s, https, NULL), 400);        /* no certificate */
	kill(f->nginx, SIGTERM);
	waitpid(f->nginx, NULL, 0);
	f->nginx = 0;
	assert_int_equal(serve_stop(&f->sv), 0);
}

/* 3b. The shapes other proxies ask in, straight at serve: Envoy's ext_authz
 * (HTTP) sends the original request's method, its path after the
 * configured prefix, a body only when told to, and cannot add a query
 * argument (the resource comes as X-Mtdgate-Resource); Traefik and Caddy
 * ask with GET and X-Forwarded-* headers. Each is decided as a GET of
 * /v1/access is, a threat turns each into 403; only /v1/access and paths
 * below it are the check. */
static void access_as_proxies_ask(void **state)
{
	fixture *f = *state;
	scen *s = f->s;
	char tok[80], *r;
	int status;
	const char *envoy = "X-Device-Id: ios-alice\r\nX-Mtdgate-Resource: exchange\r\n"
			    "X-Forwarded-Proto: https\r\n";
	const char *methods[] = {"POST", "PUT", "DELETE", "PATCH", "OPTIONS", "GET", "HEAD"};
	const char *envoy_path = "/v1/access/Microsoft-Server-ActiveSync?Cmd=Sync&User=alice";

	fleet(s, tok);
	serve_start(s, &f->sv);
	for (size_t i = 0; i < sizeof methods / sizeof *methods; i++) {
		r = http(s, f->sv.port, methods[i], envoy_path, envoy, &status);
		if (status != 200)
			fail_msg("%s %s: %s", methods[i], envoy_path, r);
		assert_string_equal(header(s, r, "X-Mtdgate-State"), "compliant");
	}
	/* a body (Envoy's with_request_body) is not read as anything */
	post_body = "<?xml version=\"1.0\"?><Sync/>";
	r = http(s, f->sv.port, "POST", envoy_path, envoy, &status);
	post_body = "";
	assert_int_equal(status, 200);
	/* the resource header names one the decision does not: blocked */
	r = http(s, f->sv.port, "POST", "/v1/access/x",
		 "X-Device-Id: ios-alice\r\nX-Mtdgate-Resource: no-such-app\r\n", &status);
	assert_int_equal(status, 403);
	/* Traefik ForwardAuth / Caddy forward_auth: GET with the request described */
	r = http(s, f->sv.port, "GET", "/v1/access?resource=exchange",
		 "X-Device-Id: ios-alice\r\nX-Forwarded-Method: POST\r\n"
		 "X-Forwarded-Uri: /Microsoft-Server-ActiveSync\r\nX-Forwarded-Host: mail\r\n",
		 &status);
	assert_int_equal(status, 200);
	/* not the check: a path that only begins like it */
	r = http(s, f->sv.port, "POST", "/v1/accessories", envoy, &status);
	assert_int_equal(status, 405);
	r = http(s, f->sv.port, "GET", "/v1/accessories", envoy, &status);
	assert_int_equal(status, 404);

	push(f, tok, THREAT("ios-alice", "high", "\"2024-03-01T00:30:00Z\""));
	r = http(s, f->sv.port, "POST", envoy_path, envoy, &status);
	assert_int_equal(status, 403);
	assert_string_equal(header(s, r, "X-Mtdgate-State"), "noncompliant");
	r = http(s, f->sv.port, "GET", "/v1/access?resource=exchange",
		 "X-Device-Id: ios-alice\r\nX-Forwarded-Method: POST\r\n", &status);
	assert_int_equal(status, 403);
	assert_int_equal(serve_stop(&f->sv), 0);
}

/* ---- crashes and other writers ---- */

/* A child process that POSTs text to serve's /v1/ingest/generic and exits
 * 0 when the answer is 200 (a request that may never be answered). */
static pid_t push_async(fixture *f, const char *token, const char *text)
{
	pid_t pid;
	fflush(NULL);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		char req[1024], ans[64] = "";
		struct sockaddr_in a = {.sin_family = AF_INET,
					.sin_port = htons((uint16_t)f->sv.port)};
		int fd = socket(AF_INET, SOCK_STREAM, 0), len;
		ssize_t n;
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		inet_pton(AF_INET, "127.0.0.1", &a.sin_addr);
		if (fd < 0 || connect(fd, (struct sockaddr *)&a, sizeof a))
			_exit(2);
		len = snprintf(req, sizeof req,
			       "POST /v1/ingest/generic?normalized=1 HTTP/1.1\r\nHost: x\r\n"
			       "Authorization: Bearer %s\r\nConnection: close\r\n"
			       "Content-Length: %zu\r\n\r\n",
			       token, strlen(text));
		if (write(fd, req, (size_t)len) != len ||
		    write(fd, text, strlen(text)) != (ssize_t)strlen(text))
			_exit(2);
		n = read(fd, ans, sizeof ans - 1);
		_exit(n > 0 && !strncmp(ans, "HTTP/1.1 200", 12) ? 0 : 1);
	}
	return pid;
}

/* The level generic's latest report of dev holds, from report --json. */
static const char *vendor_level(scen *s, const char *dev)
{
	json_t *o = REPORT(s, dev);
	return jstr(json_object_get(o, "vendors"), "generic");
}

/* 4. serve killed (SIGKILL) in the middle of a push, after its batch was
 * committed and before the push was decided and answered: what was
 * acknowledged before is all there, and serve started again decides what
 * the killed push committed, to the decisions a batch evaluate makes. */
static void serve_survives_sigkill(void **state)
{
	fixture *f = *state;
	scen *s = f->s;
	char tok[80];
	pid_t pusher;
	int st = 0, status;

	fleet(s, tok);
	serve_start(s, &f->sv);
	push(f, tok, THREAT("ios-alice", "high", "\"2024-03-01T00:30:00Z\""));
	push(f, tok, THREAT("ios-bob", "medium", "\"2024-03-01T00:31:00Z\""));
	assert_int_equal(serve_stop(&f->sv), 0);

	setenv("MTD_TEST_STOP_AT", "ingest-committed:1", 1);
	serve_start(s, &f->sv);
	unsetenv("MTD_TEST_STOP_AT");
	pusher = push_async(f, tok, THREAT("ios-exec", "high", "\"2024-03-01T00:32:00Z\""));
	assert_int_equal(waitpid(f->sv.pid, &st, WUNTRACED), f->sv.pid);
	assert_true(WIFSTOPPED(st)); /* committed, not yet decided nor answered */
	kill(f->sv.pid, SIGKILL);
	waitpid(f->sv.pid, &st, 0);
	close(f->sv.out);
	f->sv.pid = 0;
	waitpid(pusher, &st, 0);
	assert_true(WIFEXITED(st) && WEXITSTATUS(st) != 0); /* never acknowledged */

	/* what was acknowledged is there */
	assert_string_equal(vendor_level(s, "ios-alice"), "high");
	assert_string_equal(vendor_level(s, "ios-bob"), "medium");
	/* started again: the committed report of the killed push decided */
	serve_start(s, &f->sv);
	http(s, f->sv.port, "GET", "/v1/access?device=ios-exec&resource=exchange", NULL, &status);
	assert_int_equal(status, 403);
	http(s, f->sv.port, "GET", "/v1/access?device=ios-alice&resource=exchange", NULL, &status);
	assert_int_equal(status, 403);
	http(s, f->sv.port, "GET", "/v1/access?device=ios-bob&resource=exchange", NULL, &status);
	assert_int_equal(status, 200);
	assert_int_equal(serve_stop(&f->sv), 0);
	/* the same decisions a batch evaluate makes: nothing left to change */
	RUN(s, 0, "evaluate", "--dry-run", "--output", "json");
	OUT_HAS(s, "\"changed\":0");
	RUN(s, 0, "audit", "verify");
}

/* 5. Two batch commands (an ingest of many messages, evaluations) and
 * serve's pushes on one store at the same time: every message of each is
 * stored and audited, none lost to a busy store, and the decisions end as
 * a batch evaluate makes them. */
static void batch_and_serve_at_once(void **state)
{
	fixture *f = *state;
	scen *s = f->s;
	const char *batch_devs[] = {"ios-alice", "ios-bob", "ios-exec"};
	const char *push_devs[] = {"ios-multi", "zz-last"};
	const char *lv[] = {"low", "high", "medium", "secured"};
	char tok[80], line[400], *text;
	size_t nbatch = 600, npush = 40, len = 0;
	pid_t ing, evp;
	int st;

	fleet(s, tok);
	text = scen_own(s, malloc(nbatch * 400));
	assert_non_null(text);
	for (size_t i = 0; i < nbatch; i++) {
		int n = snprintf(line, sizeof line,
				 "{\"type\":\"threat\",\"device\":\"%s\",\"level\":\"%s\",\"at\":%lld,"
				 "\"threats\":[]}\n",
				 batch_devs[i % 3], lv[i % 4], (long long)(SCEN_T0 + 60 + (int64_t)i));
		memcpy(text + len, line, (size_t)n);
		len += (size_t)n;
	}
	scen_write(s, "batch.jsonl", text, len);
	serve_start(s, &f->sv);

	fflush(NULL);
	{
		char now[32], batch_path[400];
		snprintf(now, sizeof now, "%lld", (long long)s->now);
		snprintf(batch_path, sizeof batch_path, "%s", scen_path(s, "batch.jsonl"));
		ing = fork();
		assert_true(ing >= 0);
		if (ing == 0) {
			int null = open("/dev/null", O_RDWR);
			dup2(null, 1);
			execl(MTDGATE_BIN, MTDGATE_BIN, "--db", s->db, "--plugins", MTD_PLUGIN_DIR,
			      "--rules", s->rules, "--now", now, "--batch", "20", "ingest", "generic",
			      "--normalized", batch_path, (char *)NULL);
			_exit(127);
		}
		evp = fork();
		assert_true(evp >= 0);
		if (evp == 0) {
			int null = open("/dev/null", O_RDWR), rc = 0;
			dup2(null, 1);
			for (int k = 0; k < 5 && !rc; k++) {
				char cmd[1200];
				snprintf(cmd, sizeof cmd,
					 "%s --db %s --plugins %s --rules %s --now %s evaluate >/dev/null",
					 MTDGATE_BIN, s->db, MTD_PLUGIN_DIR, s->rules, now);
				rc = system(cmd);
			}
			_exit(rc ? 1 : 0);
		}
	}
	for (size_t i = 0; i < npush; i++) {
		snprintf(line, sizeof line,
			 "{\"type\":\"threat\",\"device\":\"%s\",\"level\":\"%s\",\"at\":%lld,"
			 "\"threats\":[]}\n",
			 push_devs[i % 2], lv[i % 4], (long long)(SCEN_T0 + 60 + (int64_t)i));
		push(f, tok, line);
	}
	waitpid(ing, &st, 0);
	assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	waitpid(evp, &st, 0);
	assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);

	/* every message audited, each device's latest report the last sent */
	RUN(s, 0, "audit", "show", "--kind", "message", "--json");
	{
		size_t threats = 0;
		for (const char *p = s->out; (p = strstr(p, "\"type\":\"threat\"")); p++)
			threats++;
		assert_int_equal(threats, nbatch + npush);
	}
	/* decided: serve decides what the batch ingest's last commits touched
	 * within a second of them (the batch evaluations may all have run
	 * before those) */
	{
		int64_t deadline = ms_now() + 5000;
		struct timespec ts = {0, 50 * 1000 * 1000};
		while (ms_now() < deadline &&
		       (strcmp(vendor_level(s, "ios-alice"), lv[(nbatch - 3) % 4]) ||
			strcmp(vendor_level(s, "ios-bob"), lv[(nbatch - 2) % 4]) ||
			strcmp(vendor_level(s, "ios-exec"), lv[(nbatch - 1) % 4])))
			nanosleep(&ts, NULL);
	}
	assert_string_equal(vendor_level(s, "ios-alice"), lv[(nbatch - 3) % 4]);
	assert_string_equal(vendor_level(s, "ios-bob"), lv[(nbatch - 2) % 4]);
	assert_string_equal(vendor_level(s, "ios-exec"), lv[(nbatch - 1) % 4]);
	assert_string_equal(vendor_level(s, "ios-multi"), lv[(npush - 2) % 4]);
	assert_string_equal(vendor_level(s, "zz-last"), lv[(npush - 1) % 4]);
	/* serve has picked up the batch ingest's reports (within a second) */
	{
		int64_t deadline = ms_now() + 5000;
		int status = 0, want = strcmp(lv[(nbatch - 2) % 4], "high") ? 200 : 403;
		while (ms_now() < deadline) {
			struct timespec ts = {0, 50 * 1000 * 1000};
			http(s, f->sv.port, "GET", "/v1/access?device=ios-bob&resource=exchange", NULL,
			     &status);
			if (status == want)
				break;
			nanosleep(&ts, NULL);
		}
		assert_int_equal(status, want);
	}
	assert_int_equal(serve_stop(&f->sv), 0);
	RUN(s, 0, "evaluate", "--dry-run", "--output", "json");
	OUT_HAS(s, "\"changed\":0");
}

/* ---- App Sync and metrics ---- */

/* 6. GET /v1/appsync/VENDOR with the vendor's token answers R9 as JSON
 * lines (what `mtdgate appsync VENDOR --json` prints); a bad token is 401,
 * appsync_ios off 403. /metrics counts what was asked, by endpoint and
 * status, the pushed messages by vendor and outcome, and shows the store's
 * size, the devices and each connector. */
static void appsync_and_metrics(void **state)
{
	fixture *f = *state;
	scen *s = f->s;
	char tok[80], hdr[200], *r;
	int status;

	fleet(s, tok);
	scen_writes(s, "apps.jsonl",
		    "{\"device\":\"ios-alice\",\"app_id\":\"com.example.mail\",\"version\":\"7.1\","
		    "\"short_version\":\"7.1\",\"name\":\"Mail\",\"bundle_size\":1000,"
		    "\"dynamic_size\":20,\"adhoc_signed\":false,\"app_store\":true,\"beta\":false,"
		    "\"vpp\":false,\"validated\":true,\"managed\":true}\n"
		    "{\"device\":\"and-carol\",\"app_id\":\"com.example.game\",\"version\":\"1\","
		    "\"short_version\":\"1\",\"name\":\"Game\",\"bundle_size\":5,\"dynamic_size\":1,"
		    "\"adhoc_signed\":false,\"app_store\":true,\"beta\":false,\"vpp\":false,"
		    "\"validated\":true,\"managed\":false}\n");
	RUN(s, 0, "inventory", "import", scen_path(s, "apps.jsonl"));
	serve_start(s, &f->sv);
	snprintf(hdr, sizeof hdr, "Authorization: Bearer %s\r\n", tok);
	r = http(s, f->sv.port, "GET", "/v1/appsync/generic", hdr, &status);
	assert_int_equal(status, 403); /* appsync_ios is off */
	assert_int_equal(serve_stop(&f->sv), 0);
	RUN(s, 0, "connector", "set", "generic", "appsync_ios=on");
	serve_start(s, &f->sv);
	r = http(s, f->sv.port, "GET", "/v1/appsync/generic", hdr, &status);
	assert_int_equal(status, 200);
	{
		char *served = scen_own(s, strdup(body(r)));
		RUN(s, 0, "appsync", "generic", "--json");
		assert_string_equal(served, s->out);
		if (!strstr(served, "com.example.mail") || strstr(served, "com.example.game"))
			fail_msg("appsync answer: %s", served);
	}
	r = http(s, f->sv.port, "GET", "/v1/appsync/generic", "Authorization: Bearer 00\r\n",
		 &status);
	assert_int_equal(status, 401);
	r = http(s, f->sv.port, "GET", "/v1/appsync/generic", NULL, &status);
	assert_int_equal(status, 401);

	push(f, tok, THREAT("ios-alice", "high", "\"2024-03-01T00:30:00Z\"") "{\"type\":\"x\"}\n");
	for (int i = 0; i < 3; i++)
		http(s, f->sv.port, "GET", "/v1/access?device=ios-alice", NULL, &status);
	http(s, f->sv.port, "GET", "/v1/access?device=ios-bob", NULL, &status);
	r = http(s, f->sv.port, "GET", "/metrics", NULL, &status);
	assert_int_equal(status, 200);
	{
		const char *m = body(r);
		const char *want[] = {
			"mtdgate_http_requests_total{endpoint=\"access\",code=\"403\"} 3\n",
			"mtdgate_http_requests_total{endpoint=\"access\",code=\"200\"} 1\n",
			"mtdgate_http_requests_total{endpoint=\"appsync\",code=\"200\"} 1\n",
			"mtdgate_http_requests_total{endpoint=\"appsync\",code=\"401\"} 2\n",
			"mtdgate_http_requests_total{endpoint=\"ingest\",code=\"200\"} 1\n",
			"mtdgate_http_request_duration_seconds_count{endpoint=\"access\"} 4\n",
			"mtdgate_http_request_duration_seconds_bucket{endpoint=\"access\",le=\"+Inf\"} 4\n",
			"mtdgate_messages_total{vendor=\"generic\",outcome=\"accepted\"} 1\n",
			"mtdgate_messages_total{vendor=\"generic\",outcome=\"malformed\"} 1\n",
			"mtdgate_evaluation_duration_seconds_count 1\n",
			"mtdgate_connector_state{vendor=\"generic\",state=\"enabled\"} 1\n",
			"mtdgate_devices 7\n",
			"# TYPE mtdgate_store_bytes gauge\nmtdgate_store_bytes ",
		};
		EXPECT_HDR_S(s, r, "Content-Type", "text/plain; version=0.0.4; charset=utf-8");
		for (size_t i = 0; i < sizeof want / sizeof *want; i++)
			if (!strstr(m, want[i]))
				fail_msg("/metrics lacks '%s':\n%s", want[i], m);
		/* every line a comment or NAME{LABELS} VALUE */
		for (const char *p = m; *p;) {
			const char *e = strchr(p, '\n');
			assert_non_null(e);
			if (*p != '#') {
				const char *sp = memchr(p, ' ', (size_t)(e - p));
				char *end;
				assert_non_null(sp);
				strtod(sp + 1, &end);
				if (end != e)
					fail_msg("not a sample line: %.*s", (int)(e - p), p);
			}
			p = e + 1;
		}
	}
	assert_int_equal(serve_stop(&f->sv), 0);
}

/* 7. --tls-cert and --tls-key: serve speaks HTTPS, checked by curl against
 * the certificate; a key that others may read is refused (69). */
static void serve_tls(void **state)
{
	fixture *f = *state;
	scen *s = f->s;
	char tok[80], cmd[2048], out[256] = "", cert[400], key[400];
	const char *opts[] = {"--tls-cert", cert, "--tls-key", key, NULL};
	FILE *p;

	fleet(s, tok);
	snprintf(cert, sizeof cert, "%s", scen_path(s, "tls.pem"));
	snprintf(key, sizeof key, "%s", scen_path(s, "tls.key"));
	sh("cd %s && openssl req -x509 -newkey rsa:2048 -nodes -keyout tls.key -out tls.pem -days 2 "
	   "-subj /CN=127.0.0.1 -addext subjectAltName=IP:127.0.0.1 2>/dev/null && chmod 644 tls.key",
	   s->dir);
	RUN(s, 69, "serve", "--listen", "127.0.0.1:0", "--tls-cert", cert, "--tls-key", key);
	ERR_HAS(s, "readable by you alone");
	RUN(s, 64, "serve", "--listen", "127.0.0.1:0", "--tls-cert", cert);
	sh("chmod 600 %s", key);
	serve_startv(s, &f->sv, opts);
	snprintf(cmd, sizeof cmd,
		 "curl -s --max-time 10 --cacert %s -w ' %%{http_code}' "
		 "'https://127.0.0.1:%d/v1/access?device=ios-bob&resource=exchange' -o /dev/null && "
		 "curl -s --max-time 10 --cacert %s https://127.0.0.1:%d/healthz",
		 cert, f->sv.port, cert, f->sv.port);
	assert_non_null(p = popen(cmd, "r"));
	if (!fread(out, 1, sizeof out - 1, p))
		out[0] = '\0';
	pclose(p);
	assert_string_equal(out, " 200ok\n");
	/* plain HTTP on it gets no answer */
	snprintf(cmd, sizeof cmd, "curl -s --max-time 5 -o /dev/null -w '%%{http_code}' "
				  "http://127.0.0.1:%d/healthz", f->sv.port);
	assert_non_null(p = popen(cmd, "r"));
	memset(out, 0, sizeof out);
	if (!fread(out, 1, sizeof out - 1, p))
		out[0] = '\0';
	pclose(p);
	assert_string_not_equal(out, "200");
	assert_int_equal(serve_stop(&f->sv), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(events_resume_exactly_once, setup, teardown),
		cmocka_unit_test_setup_teardown(events_replay_and_keepalive, setup, teardown),
		cmocka_unit_test_setup_teardown(nginx_mtls_auth_request, setup, teardown),
		cmocka_unit_test_setup_teardown(access_as_proxies_ask, setup, teardown),
		cmocka_unit_test_setup_teardown(serve_survives_sigkill, setup, teardown),
		cmocka_unit_test_setup_teardown(batch_and_serve_at_once, setup, teardown),
		cmocka_unit_test_setup_teardown(appsync_and_metrics, setup, teardown),
		cmocka_unit_test_setup_teardown(serve_tls, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
