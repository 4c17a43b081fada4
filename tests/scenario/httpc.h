/*
 * `mtdgate serve` for scenarios: started on 127.0.0.1 (a port the kernel
 * picks) on a scenario's store, dying with the test process; and a small
 * HTTP/1.1 client, one request per connection, that keeps everything it
 * returns in the scenario (scen_own).
 */
#ifndef MTD_SCENARIO_HTTPC_H
#define MTD_SCENARIO_HTTPC_H

#include <stdint.h>
#include <sys/types.h>

#include "harness.h"

typedef struct srv {
	pid_t pid;
	int port;
	int out; /* serve's stdout */
} srv;

/* Milliseconds of CLOCK_MONOTONIC. */
int64_t ms_now(void);

/* Start `mtdgate serve --listen 127.0.0.1:0` then the NULL-terminated extra
 * arguments (may be NULL) on s's store, with s's --now, and read the port it
 * prints. Fails the test when it does not say where it listens in 10 s. */
void serve_startv(scen *s, srv *sv, const char *const *extra);
#define serve_start(s, sv) serve_startv((s), (sv), NULL)
/* Serve's clock (test builds): t into <s->dir>/clock, named by
 * MTD_TEST_NOW_FILE, which serves started after inherit and running ones
 * read in their loop; s->now (the commands' --now) becomes t too. */
void serve_clock(scen *s, int64_t t);
/* SIGTERM, then the exit status (128 + N when killed by signal N). */
int serve_stop(srv *sv);

/* The body of the next POST ("" after it); borrowed. */
extern const char *post_body;
/* One request (Connection: close) with extra header lines (each ending in
 * CRLF, may be NULL); the whole response (status line, headers, body)
 * owned by s; *status its code. Fails the test when there is no answer. */
char *http(scen *s, int port, const char *method, const char *path, const char *headers,
	   int *status);
/* The value of header name in response r (a copy owned by s), or NULL. */
const char *header(scen *s, const char *r, const char *name);
/* The body of response r (in r). */
const char *body(const char *r);

/* A connection to 127.0.0.1:port with an HTTP/1.0 request sent (GET path,
 * extra header lines), for a test that reads the answer as it comes (an
 * event stream: with HTTP/1.0 its body is not chunked, it ends when the
 * server closes). */
int http_open10(int port, const char *path, const char *headers);

#endif
