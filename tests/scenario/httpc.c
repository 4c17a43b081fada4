/* The HTTP side of serve's scenarios (httpc.h). */
#define _GNU_SOURCE /* prctl, strndup */
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
#include <strings.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "httpc.h"

void serve_clock(scen *s, int64_t t)
{
	char text[32], clock[600];
	snprintf(text, sizeof text, "%lld\n", (long long)t);
	/* written aside and renamed: serve never reads half a number */
	snprintf(clock, sizeof clock, "%s/clock", s->dir);
	assert_int_equal(rename(scen_writes(s, "clock.new", text), clock), 0);
	setenv("MTD_TEST_NOW_FILE", clock, 1);
	s->now = t;
}

int64_t ms_now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void serve_startv(scen *s, srv *sv, const char *const *extra)
{
	char now[32], line[256];
	size_t n = 0, na = 0;
	int p[2];
	int64_t deadline = ms_now() + 10000;
	const char *args[40] = {MTDGATE_BIN, "--db", s->db, "--plugins", MTD_PLUGIN_DIR, "--rules",
				s->rules, "--now", now, "serve", "--listen", "127.0.0.1:0", NULL};
	while (args[na])
		na++;
	for (size_t i = 0; extra && extra[i]; i++) {
		assert_true(na < sizeof args / sizeof *args - 1);
		args[na++] = extra[i];
	}
	args[na] = NULL;
	snprintf(now, sizeof now, "%lld", (long long)s->now);
	assert_int_equal(pipe(p), 0);
	fflush(NULL);
	sv->pid = fork();
	assert_true(sv->pid >= 0);
	if (sv->pid == 0) {
		int null = open("/dev/null", O_RDWR);
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		dup2(null, 0);
		dup2(p[1], 1);
		close(p[0]);
		close(p[1]);
		execv(MTDGATE_BIN, (char *const *)args);
		_exit(127);
	}
	close(p[1]);
	sv->out = p[0];
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
	line[n] = '\0';
	if (sscanf(line, "listening on 127.0.0.1:%d", &sv->port) != 1)
		fail_msg("serve did not say where it listens: '%s'", line);
}

int serve_stop(srv *sv)
{
	int st = 0;
	if (sv->pid <= 0)
		return -1;
	kill(sv->pid, SIGTERM);
	waitpid(sv->pid, &st, 0);
	sv->pid = 0;
	close(sv->out);
	return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

const char *post_body = "";

char *http(scen *s, int port, const char *method, const char *path, const char *headers,
		  int *status)
{
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
	char req[2048];
	char *buf = NULL;
	size_t n = 0, cap = 0;
	int fd = socket(AF_INET, SOCK_STREAM, 0), len;
	inet_pton(AF_INET, "127.0.0.1", &a.sin_addr);
	assert_true(fd >= 0);
	if (connect(fd, (struct sockaddr *)&a, sizeof a))
		fail_msg("connect 127.0.0.1:%d: %s", port, strerror(errno));
	len = snprintf(req, sizeof req, "%s %s HTTP/1.1\r\nHost: 127.0.0.1\r\n%s%sConnection: close\r\n",
		       method, path, headers ? headers : "",
		       strcmp(method, "POST") ? "" : "Content-Type: application/x-ndjson\r\n");
	assert_true(len > 0 && (size_t)len < sizeof req - 40);
	if (!strcmp(method, "POST"))
		len += snprintf(req + len, sizeof req - (size_t)len, "Content-Length: %zu\r\n",
				strlen(post_body));
	len += snprintf(req + len, sizeof req - (size_t)len, "\r\n");
	assert_int_equal(write(fd, req, (size_t)len), len);
	if (post_body && *post_body)
		assert_int_equal(write(fd, post_body, strlen(post_body)), (ssize_t)strlen(post_body));
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
	scen_own(s, buf);
	if (sscanf(buf, "HTTP/1.1 %d", status) != 1)
		fail_msg("not an HTTP response: '%s'", buf);
	return buf;
}

const char *header(scen *s, const char *r, const char *name)
{
	size_t nl = strlen(name);
	const char *end = strstr(r, "\r\n\r\n");
	for (const char *p = strstr(r, "\r\n"); p && p < end; p = strstr(p + 2, "\r\n")) {
		if (!strncasecmp(p + 2, name, nl) && p[2 + nl] == ':') {
			const char *v = p + 3 + nl, *e = strstr(v, "\r\n");
			while (*v == ' ')
				v++;
			return scen_own(s, strndup(v, (size_t)(e - v)));
		}
	}
	return NULL;
}

const char *body(const char *r)
{
	const char *b = strstr(r, "\r\n\r\n");
	return b ? b + 4 : "";
}

int http_open10(int port, const char *path, const char *headers)
{
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
	char req[2048];
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), len;
	inet_pton(AF_INET, "127.0.0.1", &a.sin_addr);
	assert_true(fd >= 0);
	if (connect(fd, (struct sockaddr *)&a, sizeof a))
		fail_msg("connect 127.0.0.1:%d: %s", port, strerror(errno));
	len = snprintf(req, sizeof req, "GET %s HTTP/1.0\r\nHost: 127.0.0.1\r\n%s\r\n", path,
		       headers ? headers : "");
	assert_true(len > 0 && (size_t)len < sizeof req);
	assert_int_equal(write(fd, req, (size_t)len), len);
	return fd;
}
