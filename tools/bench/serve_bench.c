/* mtdgate-serve-bench: the benchmark of `mtdgate serve` (issue 15), all in
 * one run on one machine, with the goals beside the measured values. See
 * usage_text and README.md ("Performance": serve). A program, not a test. */
#define _GNU_SOURCE /* clock_nanosleep, mkdtemp */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "benchutil.h"

#define NOW "2026-11-18T13:10:00Z" /* after fleetgen's day 1, as mtdgate-bench */
#define T0 1795000000LL            /* fleetgen's first day */
#define PUSH_AT (T0 + 7300) /* pushed reports: after day 1 (T0 + 7199 at most), before NOW (T0 + 7400) */
#define SERVER_CPU "0"
#define CLIENT_CPU "1"
#define SAMPLE_MAX 100000 /* devices wrk cycles over */
#define PUSH_RATE 10000   /* reports/s */
#define PUSH_BATCH 100    /* reports per POST: one POST every 10 ms */
#define WHY_MAX (PATH_MAX + 256) /* a message naming a file of workdir */

static const char *const usage_text =
	"usage: mtdgate-serve-bench [--devices N] [--seconds S] [--quick] [--connections C]\n"
	"                           [--keep DIR [--reuse]] [--no-cerbos] [--mtdgate PATH]\n"
	"                           [--fleetgen PATH]\n\n"
	"Builds a tenant of N devices with fleetgen and the real mtdgate (as mtdgate-bench\n"
	"does: one threat report each, evaluated), starts `mtdgate serve` on it pinned to\n"
	"CPU " SERVER_CPU " (taskset), and measures, with every client on CPU " CLIENT_CPU ":\n"
	"  1. GET /v1/access decisions/s with wrk (1 thread, C keep-alive connections, a\n"
	"     Lua script cycling X-Device-Id over up to 100,000 evaluated devices), and the\n"
	"     same wrk against (a) Debian's nginx answering `return 204` (one worker, same\n"
	"     pinning: the HTTP limit) and (b) the Cerbos PDP (npm @cerbos/cerbos-linux-x64,\n"
	"     installed into $XDG_CACHE_HOME/mtdgate-bench/cerbos or ~/.cache/...; skipped\n"
	"     with the reason when npm fails) deciding the same threshold rule, POSTed to\n"
	"     /api/check/resources with the device's level and threshold in the body.\n"
	"     p99 latency: wrk --latency at the peak, and again with 4 connections.\n"
	"  2. report -> decision: a pusher POSTs normalized threat reports to\n"
	"     /v1/ingest/generic, 100 per POST every 10 ms (10,000/s), each changing its\n"
	"     device's decision, while a follower reads /v1/events and a prober polls\n"
	"     /v1/access for the last device of the newest batch: p50/p99 from the POST\n"
	"     sent to the change seen on each, and of the prober's GETs' round trips\n"
	"     (asked while pushes are being committed and decided).\n"
	"  3. serve's peak RSS (VmHWM) with N devices.\n"
	"The machine's load (uptime) is printed before and after; compare the ratios.\n\n"
	"  --devices N      tenant size (default 1000000)\n"
	"  --seconds S      length of each wrk run and of the push phase (default 10)\n"
	"  --quick          100,000 devices, 5 s runs (a smoke run)\n"
	"  --connections C  wrk's connections for the peak runs (default 32)\n"
	"  --keep DIR       work in DIR and keep stores and logs (default: a temp dir, removed)\n"
	"  --reuse          with --keep: start from the tenant an earlier --reuse run of the\n"
	"                   same size kept there (DIR/tenant.db), else build and keep it\n"
	"  --no-cerbos      skip Cerbos\n"
	"  --mtdgate PATH   the mtdgate binary (default: next to this program)\n"
	"  --fleetgen PATH  the fleetgen binary (default: next to this program)\n\n"
	"Exit status: 0 when every part ran (missed goals do not fail), 2 when a step\n"
	"failed, 64 on usage errors.\n";

static char workdir[PATH_MAX], store[PATH_MAX + 16];
static char mtdgate[PATH_MAX], fleetgen[PATH_MAX];
static long ndev = 1000000, seconds = 10, conns = 32;

static void path_in(char *out, size_t n, const char *name)
{
	if (snprintf(out, n, "%s/%s", workdir, name) >= (int)n) {
		fprintf(stderr, "serve-bench: %s: path too long\n", workdir);
		exit(2);
	}
}

static void uptime(const char *when)
{
	char line[128] = "?";
	FILE *f = fopen("/proc/loadavg", "r");
	if (f) {
		if (!fgets(line, sizeof line, f))
			snprintf(line, sizeof line, "?\n");
		fclose(f);
	}
	printf("load average %s: %s", when, line);
}

/* ---- processes ---- */

/* Start argv (PATH lookup) with stdout to out (NULL: /dev/null) and stderr
 * appended to workdir/log; its pid, or -1. */
static pid_t spawn(const char *out, char *const argv[])
{
	char log[PATH_MAX + 16];
	path_in(log, sizeof log, "log");
	return bench_spawn(log, out, argv);
}

/* Run argv to its end: its exit status, -1 when it did not exit. */
static int run(const char *out, char *const argv[])
{
	pid_t pid = spawn(out, argv);
	return pid < 0 ? -1 : bench_wait(pid, NULL);
}

/* A server started by spawn stopped (SIGTERM, then SIGKILL after 10 s). */
static void stop(pid_t pid)
{
	int status;
	if (pid <= 0)
		return;
	kill(pid, SIGTERM);
	for (int i = 0; i < 1000; i++) {
		if (waitpid(pid, &status, WNOHANG) == pid)
			return;
		usleep(10000);
	}
	kill(pid, SIGKILL);
	waitpid(pid, &status, 0);
}

/* mtdgate --db STORE --now NOW args... (NULL-terminated), stdout to out. */
static int mtd(const char *out, ...)
{
	char *argv[24] = {mtdgate, "--db", store, "--now", NOW};
	int argc = 5;
	va_list ap;
	va_start(ap, out);
	while (argc < 23 && (argv[argc] = va_arg(ap, char *)))
		argc++;
	va_end(ap);
	argv[argc] = NULL;
	if (run(out, argv)) {
		fprintf(stderr, "serve-bench: mtdgate %s %s failed; see %s/log\n", argv[5],
			argc > 6 ? argv[6] : "", workdir);
		return -1;
	}
	return 0;
}

/* A TCP port of 127.0.0.1 free right now. */
static int free_port(void)
{
	struct sockaddr_in a = {.sin_family = AF_INET};
	socklen_t l = sizeof a;
	int fd = socket(AF_INET, SOCK_STREAM, 0), port = -1;
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (fd >= 0 && !bind(fd, (struct sockaddr *)&a, sizeof a) &&
	    !getsockname(fd, (struct sockaddr *)&a, &l))
		port = ntohs(a.sin_port);
	if (fd >= 0)
		close(fd);
	return port;
}

/* ---- a small HTTP/1.1 client (keep-alive, Content-Length bodies) ---- */

typedef struct hconn {
	int fd, port;
	int closing; /* the server said Connection: close */
	char buf[1 << 16];
	size_t len, off; /* bytes in buf; consumed */
} hconn;

static int hc_open(hconn *c, int port)
{
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
	int one = 1;
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	c->len = c->off = 0;
	c->port = port;
	c->closing = 0;
	if ((c->fd = socket(AF_INET, SOCK_STREAM, 0)) < 0)
		return -1;
	setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
	if (connect(c->fd, (struct sockaddr *)&a, sizeof a)) {
		close(c->fd);
		c->fd = -1;
		return -1;
	}
	return 0;
}

static void hc_close(hconn *c)
{
	if (c->fd >= 0)
		close(c->fd);
	c->fd = -1;
}

/* Connections opened again after the server closed them. */
static _Atomic long reconnects;

/* data sent; a connection the server closed after its last answer is
 * opened again first. */
static int hc_send(hconn *c, const char *data, size_t n)
{
	if (c->closing) {
		hc_close(c);
		if (hc_open(c, c->port))
			return -1;
		reconnects++;
	}
	while (n) {
		ssize_t w = send(c->fd, data, n, MSG_NOSIGNAL);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return -1;
		data += w;
		n -= (size_t)w;
	}
	return 0;
}

/* More bytes into c->buf (what was consumed dropped first). */
static int hc_fill(hconn *c)
{
	ssize_t r;
	if (c->off) {
		memmove(c->buf, c->buf + c->off, c->len - c->off);
		c->len -= c->off;
		c->off = 0;
	}
	if (c->len == sizeof c->buf)
		return -1;
	while ((r = recv(c->fd, c->buf + c->len, sizeof c->buf - c->len, 0)) < 0 && errno == EINTR)
		;
	if (r <= 0)
		return -1;
	c->len += (size_t)r;
	return 0;
}

/* One line (without CR LF) into line; -1 at the end of the stream. */
static int hc_line(hconn *c, char *line, size_t n)
{
	for (;;) {
		char *nl = memchr(c->buf + c->off, '\n', c->len - c->off);
		if (nl) {
			size_t l = (size_t)(nl - (c->buf + c->off));
			size_t k = l && nl[-1] == '\r' ? l - 1 : l;
			if (k >= n)
				k = n - 1;
			memcpy(line, c->buf + c->off, k);
			line[k] = '\0';
			c->off += l + 1;
			return 0;
		}
		if (hc_fill(c))
			return -1;
	}
}

/* A response's status; its body (up to n - 1 bytes kept) into body. */
static int hc_response(hconn *c, char *body, size_t n)
{
	char line[1024];
	long status = -1, clen = 0;
	if (hc_line(c, line, sizeof line) || sscanf(line, "HTTP/1.%*d %ld", &status) != 1)
		return -1;
	while (!hc_line(c, line, sizeof line) && *line)
		if (!strncasecmp(line, "Content-Length:", 15))
			clen = atol(line + 15);
		else if (!strncasecmp(line, "Connection:", 11) && strstr(line, "close"))
			c->closing = 1;
	if (*line)
		return -1;
	for (long got = 0; got < clen;) {
		size_t have = c->len - c->off, take;
		if (!have && hc_fill(c))
			return -1;
		have = c->len - c->off;
		take = have < (size_t)(clen - got) ? have : (size_t)(clen - got);
		if (body && (size_t)got < n - 1) {
			size_t k = take < n - 1 - (size_t)got ? take : n - 1 - (size_t)got;
			memcpy(body + got, c->buf + c->off, k);
			body[got + (long)k] = '\0';
		}
		c->off += take;
		got += (long)take;
	}
	if (body && !clen && n)
		*body = '\0';
	return (int)status;
}

/* GET /v1/access for device: its status (200/403), -1 on a failure. */
static int access_of(hconn *c, const char *device)
{
	char req[256];
	int n = snprintf(req, sizeof req,
			 "GET /v1/access?resource=exchange HTTP/1.1\r\nHost: 127.0.0.1\r\n"
			 "X-Device-Id: %s\r\n\r\n", device);
	if (hc_send(c, req, (size_t)n))
		return -1;
	return hc_response(c, NULL, 0);
}

/* Wait (at most 10 minutes: a 1M-device serve builds its index first)
 * until GET path on port answers; 0 when it did. */
static int wait_http(int port, const char *path, pid_t pid)
{
	for (int i = 0; i < 60000; i++) {
		hconn c;
		int status;
		if (waitpid(pid, &status, WNOHANG) == pid) {
			fprintf(stderr, "serve-bench: the server on port %d exited; see %s/log\n", port,
				workdir);
			return -1;
		}
		if (!hc_open(&c, port)) {
			char req[256];
			int n = snprintf(req, sizeof req, "GET %s HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n", path);
			int st = hc_send(&c, req, (size_t)n) ? -1 : hc_response(&c, NULL, 0);
			hc_close(&c);
			if (st > 0)
				return 0;
		}
		usleep(10000);
	}
	fprintf(stderr, "serve-bench: nothing answered on port %d\n", port);
	return -1;
}

/* ---- the tenant and its decisions ---- */

enum { LV_NONE, LV_SECURED, LV_LOW, LV_MEDIUM, LV_HIGH };

typedef struct dev {
	unsigned char known, evaluated, allow, level, threshold;
} dev;

static dev *devs; /* by device number (dev-%06ld), 1..ndev */

static int level_of(const char *s)
{
	static const char *const names[] = {"none", "secured", "low", "medium", "high"};
	for (int i = 0; i < 5; i++)
		if (!strncmp(s, names[i], strlen(names[i])))
			return i;
	return -1;
}

/* The decisions of `report --json` (one object a line) into devs: the
 * level, access and the threshold its reason names ("allows at most X"). */
static int read_report(const char *path)
{
	FILE *f = fopen(path, "r");
	char line[4096];
	long n = 0;
	if (!f) {
		perror(path);
		return -1;
	}
	while (fgets(line, sizeof line, f)) {
		char *p = strstr(line, "\"device\":\"dev-"), *q;
		long k;
		dev *d;
		if (!p || (k = strtol(p + 14, NULL, 10)) < 1 || k > ndev)
			continue;
		d = &devs[k];
		d->known = 1;
		d->evaluated = !!strstr(line, "\"state\":\"compliant\"") ||
			       !!strstr(line, "\"state\":\"noncompliant\"");
		d->allow = !!strstr(line, "\"access\":\"allow\"");
		q = strstr(line, "\"level\":\"");
		d->level = (unsigned char)(q && level_of(q + 9) >= 0 ? level_of(q + 9) : 0);
		q = strstr(line, "allows at most ");
		d->threshold = (unsigned char)(q && level_of(q + 15) >= 0 ? level_of(q + 15) : LV_MEDIUM);
		n++;
	}
	fclose(f);
	if (n != ndev) {
		fprintf(stderr, "serve-bench: report --json had %ld of %ld devices\n", n, ndev);
		return -1;
	}
	return 0;
}

static int reuse; /* --reuse: the tenant of an earlier --keep run of the same size */

static int tenant(void)
{
	char data[PATH_MAX + 16], in[PATH_MAX + 64], dv[PATH_MAX + 64], prov[PATH_MAX + 32];
	char num[32], rep[PATH_MAX + 32];
	double t = bench_mono();
	path_in(data, sizeof data, "fleet");
	path_in(prov, sizeof prov, "provision.jsonl");
	path_in(rep, sizeof rep, "report.jsonl");
	snprintf(dv, sizeof dv, "%s/devices.msgpack", data);
	snprintf(in, sizeof in, "%s/day1.msgpack", data);
	snprintf(num, sizeof num, "%ld", ndev);
	if (reuse) {
		char snap[PATH_MAX + 32], mark[64] = "";
		FILE *f;
		path_in(snap, sizeof snap, "tenant.db");
		path_in(data, sizeof data, "tenant.size");
		if ((f = fopen(data, "r"))) {
			if (!fgets(mark, sizeof mark, f))
				mark[0] = '\0';
			fclose(f);
		}
		if (atol(mark) == ndev && !access(rep, R_OK)) {
			for (int k = 1; k < 3; k++) {
				char p[PATH_MAX + 32];
				snprintf(p, sizeof p, "%s%s", store, k == 1 ? "-wal" : "-shm");
				unlink(p);
			}
			if (bench_copy_file(snap, store) || !(devs = calloc((size_t)ndev + 1, sizeof *devs)) ||
			    read_report(rep))
				return -1;
			printf("tenant: %ld devices, reused (%s)\n", ndev, snap);
			return 0;
		}
		path_in(data, sizeof data, "fleet");
	}
	for (int k = 0; k < 3; k++) { /* start over in a kept dir */
		char p[PATH_MAX + 32];
		snprintf(p, sizeof p, "%s%s", store, k == 0 ? "" : k == 1 ? "-wal" : "-shm");
		unlink(p);
	}
	{
		char *fg[] = {fleetgen, "--devices", num, "--seed", "2026", "--format", "msgpack", data, NULL};
		if ((mkdir(data, 0700) && errno != EEXIST) || run(NULL, fg)) {
			fprintf(stderr, "serve-bench: fleetgen failed; see %s/log\n", workdir);
			return -1;
		}
	}
	if (bench_write_file(prov, "{\"type\":\"provision\",\"at\":1795000000}\n") || mtd(NULL, "init", NULL) ||
	    mtd(NULL, "connector", "add", "generic", NULL) ||
	    mtd(NULL, "ingest", "generic", "--normalized", prov, NULL) ||
	    mtd(NULL, "connector", "set", "generic", "android=on", "ios=on", "windows=on", "macos=on",
		NULL) ||
	    mtd(NULL, "device", "import", dv, NULL) ||
	    mtd(NULL, "ingest", "generic", "--normalized", in, NULL) || mtd(NULL, "evaluate", NULL) ||
	    mtd(rep, "report", "--json", NULL))
		return -1;
	if (!(devs = calloc((size_t)ndev + 1, sizeof *devs)) || read_report(rep))
		return -1;
	if (reuse) { /* kept for the next --reuse */
		char snap[PATH_MAX + 32];
		path_in(snap, sizeof snap, "tenant.db");
		path_in(data, sizeof data, "tenant.size");
		if (bench_copy_file(store, snap) || bench_write_file(data, num))
			return -1;
	}
	printf("tenant: %ld devices, evaluated, in %.1f s (fleetgen, init, import, ingest, evaluate)\n",
	       ndev, bench_mono() - t);
	return 0;
}

/* ---- part 1: wrk ---- */

typedef struct wres {
	int ran;
	double rps, p50_us, p99_us;
	long non2xx, errors;
	char why[WHY_MAX]; /* when it did not run */
} wres;

/* "12.34us" / "1.20ms" / "2.00s" in microseconds. */
static double wrk_time(const char *s)
{
	char *end;
	double v = strtod(s, &end);
	if (!strncmp(end, "us", 2))
		return v;
	if (!strncmp(end, "ms", 2))
		return v * 1e3;
	if (*end == 's')
		return v * 1e6;
	return -1;
}

/* wrk on CLIENT_CPU: 1 thread, c connections, script, url; parsed into r. */
static int wrk(const char *name, const char *script, const char *url, long c, wres *r)
{
	char out[PATH_MAX + 64], line[512], cs[16], ds[16];
	char *argv[] = {"taskset", "-c", CLIENT_CPU, "wrk", "-t1", "-c", cs, "-d", ds, "--latency",
			"-s", (char *)script, (char *)url, NULL};
	FILE *f;
	int in_dist = 0;
	snprintf(cs, sizeof cs, "%ld", c);
	snprintf(ds, sizeof ds, "%lds", seconds);
	snprintf(line, sizeof line, "wrk-%s-c%ld.out", name, c);
	path_in(out, sizeof out, line);
	memset(r, 0, sizeof *r);
	if (run(out, argv)) {
		snprintf(r->why, sizeof r->why, "wrk failed; see %s", out);
		return -1;
	}
	if (!(f = fopen(out, "r")))
		return -1;
	while (fgets(line, sizeof line, f)) {
		char *p = line + strspn(line, " \t");
		if (!strncmp(p, "Latency Distribution", 20))
			in_dist = 1;
		else if (in_dist && !strncmp(p, "50%", 3))
			r->p50_us = wrk_time(p + 3 + strspn(p + 3, " \t"));
		else if (in_dist && !strncmp(p, "99%", 3))
			r->p99_us = wrk_time(p + 3 + strspn(p + 3, " \t")), in_dist = 0;
		else if (!strncmp(p, "Requests/sec:", 13))
			r->rps = strtod(p + 13, NULL);
		else if (!strncmp(p, "Non-2xx or 3xx responses:", 25))
			r->non2xx = atol(p + 25);
		else if (!strncmp(p, "Socket errors:", 14)) {
			long a = 0, b = 0, w = 0, t = 0;
			sscanf(p + 14, " connect %ld, read %ld, write %ld, timeout %ld", &a, &b, &w, &t);
			r->errors = a + b + w + t;
		}
	}
	fclose(f);
	r->ran = r->rps > 0;
	if (!r->ran)
		snprintf(r->why, sizeof r->why, "no rate in %s", out);
	return r->ran ? 0 : -1;
}

/* The devices wrk cycles over: up to SAMPLE_MAX evaluated ones, spread
 * over the fleet; their number. ids/bodies files written for the scripts. */
static long sample(long **out)
{
	long nev = 0, n = 0, step;
	long *s;
	for (long k = 1; k <= ndev; k++)
		nev += devs[k].evaluated;
	step = nev > SAMPLE_MAX ? nev / SAMPLE_MAX + 1 : 1;
	if (!(s = malloc(sizeof *s * (size_t)(nev / step + 1))))
		return -1;
	for (long k = 1, e = 0; k <= ndev; k++)
		if (devs[k].evaluated && e++ % step == 0)
			s[n++] = k;
	*out = s;
	return n;
}

static int scripts(const long *s, long n, long *blocked)
{
	char p[PATH_MAX + 32];
	FILE *ids, *bodies, *lua;
	path_in(p, sizeof p, "ids.txt");
	ids = fopen(p, "w");
	path_in(p, sizeof p, "bodies.txt");
	bodies = fopen(p, "w");
	if (!ids || !bodies)
		return -1;
	*blocked = 0;
	for (long i = 0; i < n; i++) {
		const dev *d = &devs[s[i]];
		fprintf(ids, "dev-%06ld\n", s[i]);
		fprintf(bodies,
			"{\"requestId\":\"b\",\"principal\":{\"id\":\"proxy\",\"roles\":[\"proxy\"]},"
			"\"resources\":[{\"actions\":[\"access\"],\"resource\":{\"kind\":\"device\","
			"\"id\":\"dev-%06ld\",\"attr\":{\"level\":%d,\"threshold\":%d}}}]}\n",
			s[i], d->level, d->threshold);
		*blocked += !d->allow;
	}
	if (fclose(ids) | fclose(bodies))
		return -1;
	path_in(p, sizeof p, "access.lua");
	if (!(lua = fopen(p, "w")))
		return -1;
	fprintf(lua,
		"-- GET /v1/access with X-Device-Id cycling over the sample\n"
		"local ids = {}\n"
		"for l in io.lines(\"%s/ids.txt\") do ids[#ids + 1] = l end\n"
		"local n, i = #ids, 0\n"
		"request = function()\n"
		"  i = i %% n + 1\n"
		"  return wrk.format(\"GET\", \"/v1/access?resource=exchange\",\n"
		"    {[\"Host\"] = \"127.0.0.1\", [\"X-Device-Id\"] = ids[i]})\n"
		"end\n", workdir);
	if (fclose(lua))
		return -1;
	path_in(p, sizeof p, "cerbos.lua");
	if (!(lua = fopen(p, "w")))
		return -1;
	fprintf(lua,
		"-- POST /api/check/resources, the device's attributes in the body\n"
		"local b = {}\n"
		"for l in io.lines(\"%s/bodies.txt\") do b[#b + 1] = l end\n"
		"local n, i = #b, 0\n"
		"local h = {[\"Host\"] = \"127.0.0.1\", [\"Content-Type\"] = \"application/json\"}\n"
		"request = function()\n"
		"  i = i %% n + 1\n"
		"  return wrk.format(\"POST\", \"/api/check/resources\", h, b[i])\n"
		"end\n", workdir);
	return fclose(lua) ? -1 : 0;
}

/* nginx from Debian answering `return 204`, one worker on SERVER_CPU. */
static pid_t nginx_start(int port)
{
	char dir[PATH_MAX + 16], conf[PATH_MAX + 64], text[8 * PATH_MAX + 1024];
	path_in(dir, sizeof dir, "nginx");
	if (mkdir(dir, 0700) && errno != EEXIST)
		return -1;
	snprintf(conf, sizeof conf, "%s/nginx.conf", dir);
	snprintf(text, sizeof text,
		 "worker_processes 1;\ndaemon off;\nmaster_process off;\n"
		 "error_log %s/error.log;\npid %s/nginx.pid;\n"
		 "events { worker_connections 1024; }\n"
		 "http {\n  access_log off;\n  keepalive_requests 100000000;\n"
		 "  client_body_temp_path %s; proxy_temp_path %s; fastcgi_temp_path %s;\n"
		 "  uwsgi_temp_path %s; scgi_temp_path %s;\n"
		 "  server { listen 127.0.0.1:%d; location / { return 204; } }\n}\n",
		 dir, dir, dir, dir, dir, dir, dir, port);
	if (bench_write_file(conf, text))
		return -1;
	{
		char *argv[] = {"taskset", "-c", SERVER_CPU, "nginx", "-p", dir, "-e",
				"stderr", "-c", conf, NULL};
		return spawn(NULL, argv);
	}
}

/* The cerbos binary, installed by npm into the cache on first use; 0 when
 * it is there (path in bin), else why. */
static int cerbos_install(char *bin, size_t n, char *why, size_t nwhy)
{
	const char *xdg = getenv("XDG_CACHE_HOME"), *home = getenv("HOME");
	char dir[PATH_MAX], cmd[PATH_MAX * 4];
	if (xdg && *xdg)
		snprintf(dir, sizeof dir, "%s/mtdgate-bench/cerbos", xdg);
	else
		snprintf(dir, sizeof dir, "%s/.cache/mtdgate-bench/cerbos", home ? home : "/tmp");
	snprintf(bin, n, "%s/node_modules/@cerbos/cerbos-linux-x64/cerbos-linux-x64", dir);
	if (!access(bin, X_OK))
		return 0;
	snprintf(cmd, sizeof cmd,
		 "mkdir -p '%s' && cd '%s' && npm install --no-audit --no-fund --prefix . "
		 "@cerbos/cerbos-linux-x64@0.55.0 >>'%s/log' 2>&1", dir, dir, workdir);
	if (system(cmd) || access(bin, X_OK)) {
		snprintf(why, nwhy, "npm could not install @cerbos/cerbos-linux-x64 (see %s/log)",
			 workdir);
		return -1;
	}
	return 0;
}

/* The policy: allow when the device's level is at most its threshold. */
static const char *const cerbos_policy =
	"apiVersion: api.cerbos.dev/v1\n"
	"resourcePolicy:\n"
	"  version: \"default\"\n"
	"  resource: \"device\"\n"
	"  rules:\n"
	"    - actions: [\"access\"]\n"
	"      effect: EFFECT_ALLOW\n"
	"      roles: [\"*\"]\n"
	"      condition:\n"
	"        match:\n"
	"          expr: request.resource.attr.level <= request.resource.attr.threshold\n";

static pid_t cerbos_start(const char *bin, int port)
{
	char dir[PATH_MAX + 16], p[PATH_MAX + 64], text[PATH_MAX + 1024], cfg[PATH_MAX + 80];
	path_in(dir, sizeof dir, "cerbos");
	snprintf(p, sizeof p, "%s/policies", dir);
	if ((mkdir(dir, 0700) && errno != EEXIST) || (mkdir(p, 0700) && errno != EEXIST))
		return -1;
	snprintf(p, sizeof p, "%s/policies/device.yaml", dir);
	if (bench_write_file(p, cerbos_policy))
		return -1;
	snprintf(p, sizeof p, "%s/config.yaml", dir);
	snprintf(text, sizeof text,
		 "server:\n  httpListenAddr: \"127.0.0.1:%d\"\n  grpcListenAddr: \"127.0.0.1:%d\"\n"
		 "storage:\n  driver: disk\n  disk:\n    directory: %s/policies\n"
		 "    watchForChanges: false\n"
		 "audit:\n  enabled: false\ntelemetry:\n  disabled: true\n",
		 port, free_port(), dir);
	if (bench_write_file(p, text))
		return -1;
	snprintf(cfg, sizeof cfg, "--config=%s", p);
	{
		char *argv[] = {"taskset", "-c", SERVER_CPU, (char *)bin, "server", cfg,
				"--log-level=error", NULL};
		return spawn(NULL, argv);
	}
}

/* Cerbos decides a device of s the way mtdgate did: 0 when it agrees on
 * the first 200 of the sample. */
static int cerbos_check(int port, const long *s, long n)
{
	char path[PATH_MAX + 32], body[1024], ans[2048], req[1400];
	FILE *f;
	hconn c;
	int bad = 0;
	path_in(path, sizeof path, "bodies.txt");
	if (!(f = fopen(path, "r")) || hc_open(&c, port)) {
		if (f)
			fclose(f);
		return -1;
	}
	for (long i = 0; i < n && i < 200 && fgets(body, sizeof body, f); i++) {
		size_t l = strcspn(body, "\n");
		int k = snprintf(req, sizeof req,
				 "POST /api/check/resources HTTP/1.1\r\nHost: 127.0.0.1\r\n"
				 "Content-Type: application/json\r\nContent-Length: %zu\r\n\r\n%.*s",
				 l, (int)l, body);
		if (hc_send(&c, req, (size_t)k) || hc_response(&c, ans, sizeof ans) != 200) {
			bad++;
			break;
		}
		if (!!strstr(ans, "EFFECT_ALLOW") != devs[s[i]].allow)
			bad++;
	}
	fclose(f);
	hc_close(&c);
	return bad ? -1 : 0;
}

/* serve answers as report --json decided, for the first 1,000 of s. */
static int serve_check(int port, const long *s, long n)
{
	hconn c;
	int bad = 0;
	if (hc_open(&c, port))
		return -1;
	for (long i = 0; i < n && i < 1000; i++) {
		char id[32];
		snprintf(id, sizeof id, "dev-%06ld", s[i]);
		if (access_of(&c, id) != (devs[s[i]].allow ? 200 : 403))
			bad++;
	}
	hc_close(&c);
	return bad ? -1 : 0;
}

/* ---- part 2: report -> decision ---- */

typedef struct batch {
	double sent, acked, seen_access; /* monotonic; 0: not yet */
	int block;                       /* the decision it leads to */
	long last;                       /* its last device, probed */
} batch;

static struct push {
	pthread_mutex_t lock;
	int port;
	char token[128];
	long *targets, ntargets; /* devices allowed before: each report flips one */
	batch *b;
	long nb, sent;     /* batches planned, sent */
	int32_t *batch_of; /* device -> its newest batch + 1 */
	double *ev;        /* per report: latency to its event, or 0 */
	long nev, stray;   /* events matched; events of no report in flight */
	int done, failed;
	long accepted;
	double *get;       /* the prober's GETs: each one's round trip */
	long nget;
	char why[WHY_MAX];
} P = {.lock = PTHREAD_MUTEX_INITIALIZER};

#define GETS_MAX 4000000 /* the prober's round trips kept */

static void *pusher(void *arg)
{
	hconn c;
	char *req = malloc(PUSH_BATCH * 256 + 1024), ans[2048];
	double start;
	(void)arg;
	if (!req || hc_open(&c, P.port)) {
		snprintf(P.why, sizeof P.why, "pusher: cannot connect");
		P.failed = 1;
		free(req);
		return NULL;
	}
	start = bench_mono();
	for (long k = 0; k < P.nb; k++) {
		char body[PUSH_BATCH * 256];
		size_t bl = 0;
		int round = (int)(k * PUSH_BATCH / P.ntargets), block = round % 2 == 0, hl, st;
		double due = start + (double)k * PUSH_BATCH / PUSH_RATE, t;
		struct timespec ts;
		for (int j = 0; j < PUSH_BATCH; j++) {
			long d = P.targets[(k * PUSH_BATCH + j) % P.ntargets];
			bl += (size_t)snprintf(body + bl, sizeof body - bl,
					       "{\"type\":\"threat\",\"device\":\"dev-%06ld\",\"level\":\"%s\","
					       "\"at\":%lld,\"threats\":[%s]}\n",
					       d, block ? "high" : "secured", PUSH_AT + round,
					       block ? "{\"id\":\"t9\",\"category\":\"device\","
						       "\"name\":\"jailbroken / rooted\",\"level\":\"high\"}"
						     : "");
		}
		hl = snprintf(req, 1024,
			      "POST /v1/ingest/generic?normalized=1 HTTP/1.1\r\nHost: 127.0.0.1\r\n"
			      "Authorization: Bearer %s\r\nContent-Type: application/x-ndjson\r\n"
			      "Content-Length: %zu\r\n\r\n", P.token, bl);
		memcpy(req + hl, body, bl);
		ts.tv_sec = (time_t)due;
		ts.tv_nsec = (long)((due - (double)ts.tv_sec) * 1e9);
		while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) == EINTR)
			;
		pthread_mutex_lock(&P.lock);
		for (int j = 0; j < PUSH_BATCH; j++)
			P.batch_of[P.targets[(k * PUSH_BATCH + j) % P.ntargets]] = (int32_t)k + 1;
		P.b[k].block = block;
		P.b[k].last = P.targets[(k * PUSH_BATCH + PUSH_BATCH - 1) % P.ntargets];
		P.b[k].sent = t = bench_mono();
		P.sent = k + 1;
		pthread_mutex_unlock(&P.lock);
		if (hc_send(&c, req, (size_t)hl + bl) || (st = hc_response(&c, ans, sizeof ans)) != 200) {
			snprintf(P.why, sizeof P.why, "pusher: POST %ld failed: %.150s", k, ans);
			P.failed = 1;
			break;
		}
		P.b[k].acked = bench_mono();
		{
			char *a = strstr(ans, "\"accepted\":");
			P.accepted += a ? atol(a + 11) : 0;
		}
		(void)t;
	}
	hc_close(&c);
	free(req);
	P.done = 1;
	return NULL;
}

/* /v1/events: each decision change matched to the report that caused it. */
static void *follower(void *arg)
{
	hconn *c = arg;
	char line[8192];
	while (!hc_line(c, line, sizeof line)) {
		char *d, *a;
		long k;
		double t = bench_mono();
		if (strncmp(line, "data: ", 6) || !(d = strstr(line, "\"device\":\"dev-")) ||
		    !(a = strstr(line, "\"after\":")) || !(a = strstr(a, "\"access\":\"")))
			continue;
		k = strtol(d + 14, NULL, 10);
		pthread_mutex_lock(&P.lock);
		if (k >= 1 && k <= ndev && P.batch_of[k]) {
			long b = P.batch_of[k] - 1;
			long slot = b * PUSH_BATCH; /* the device's report within the batch */
			int block = !strncmp(a + 10, "block", 5);
			for (int j = 0; j < PUSH_BATCH; j++)
				if (P.targets[(b * PUSH_BATCH + j) % P.ntargets] == k) {
					slot += j;
					break;
				}
			if (block == P.b[b].block && !P.ev[slot]) {
				P.ev[slot] = t - P.b[b].sent;
				P.nev++;
			} else {
				P.stray++;
			}
		} else {
			P.stray++;
		}
		pthread_mutex_unlock(&P.lock);
	}
	return NULL;
}

/* /v1/access for the last device of the newest batch sent, until it
 * answers the batch's decision (batches sent meanwhile are skipped). */
static void *prober(void *arg)
{
	hconn c;
	long probed = -1;
	(void)arg;
	if (hc_open(&c, P.port))
		return NULL;
	while (!P.failed) {
		long k;
		char id[32];
		pthread_mutex_lock(&P.lock);
		k = P.sent - 1;
		pthread_mutex_unlock(&P.lock);
		if (k <= probed) {
			if (P.done)
				break;
			usleep(100);
			continue;
		}
		snprintf(id, sizeof id, "dev-%06ld", P.b[k].last);
		for (double t0 = bench_mono(); bench_mono() - t0 < 5;) {
			double g = bench_mono();
			int st = access_of(&c, id);
			if (st < 0)
				goto out;
			if (P.nget < GETS_MAX)
				P.get[P.nget++] = bench_mono() - g;
			if (st == (P.b[k].block ? 403 : 200)) {
				P.b[k].seen_access = bench_mono();
				break;
			}
			/* paced: answered at once now (not queued behind the push), an
			 * unpaced prober asked ~25,000/s on serve's one core, beside
			 * the pushes it measures; 200 us adds at most that much */
			usleep(200);
		}
		probed = k;
	}
out:
	hc_close(&c);
	return NULL;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

/* p-th percentile (0..100) of v[0..n), sorted in place; -1 when empty. */
static double pct(double *v, long n, double p)
{
	long i;
	if (n <= 0)
		return -1;
	qsort(v, (size_t)n, sizeof *v, cmp_double);
	i = (long)(p / 100.0 * (double)n + 0.5) - 1;
	return v[i < 0 ? 0 : i >= n ? n - 1 : i];
}

typedef struct pres {
	int ran;
	double rate, ev50, ev99, ac50, ac99, ack50, ack99, get50, get99;
	long reports, events, probes, stray;
	char why[WHY_MAX];
} pres;

static int push_phase(int port, pres *r)
{
	hconn ev;
	pthread_t tp, tf, tr;
	char req[256], line[1024];
	double *a;
	long na = 0;
	memset(r, 0, sizeof *r);
	P.port = port;
	P.nb = seconds * PUSH_RATE / PUSH_BATCH;
	P.targets = malloc(sizeof *P.targets * (size_t)ndev);
	for (long k = 1; k <= ndev; k++)
		if (devs[k].evaluated && devs[k].allow && devs[k].level <= LV_SECURED + 1 &&
		    devs[k].threshold >= LV_LOW)
			P.targets[P.ntargets++] = k;
	P.b = calloc((size_t)P.nb, sizeof *P.b);
	P.batch_of = calloc((size_t)ndev + 1, sizeof *P.batch_of);
	P.ev = calloc((size_t)(P.nb * PUSH_BATCH), sizeof *P.ev);
	a = calloc((size_t)P.nb, sizeof *a);
	P.get = malloc(GETS_MAX * sizeof *P.get);
	if (!P.targets || !P.b || !P.batch_of || !P.ev || !a || !P.get || P.ntargets < PUSH_BATCH) {
		snprintf(r->why, sizeof r->why, "too few devices to push to");
		return -1;
	}
	/* the follower first: it starts at the newest change */
	if (hc_open(&ev, port)) {
		snprintf(r->why, sizeof r->why, "cannot connect for /v1/events");
		return -1;
	}
	/* HTTP/1.0: the stream comes unchunked (the follower reads it by
	 * lines, and a chunk's size line in the middle of an event's data line
	 * lost that event: 719 of 100,000 once serve published in steps) */
	snprintf(req, sizeof req, "GET /v1/events HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n");
	if (hc_send(&ev, req, strlen(req)) || hc_line(&ev, line, sizeof line) ||
	    !strstr(line, " 200")) {
		snprintf(r->why, sizeof r->why, "/v1/events: %s", line);
		return -1;
	}
	while (!hc_line(&ev, line, sizeof line) && *line)
		; /* headers */
	pthread_create(&tf, NULL, follower, &ev);
	pthread_create(&tr, NULL, prober, NULL);
	pthread_create(&tp, NULL, pusher, NULL);
	pthread_join(tp, NULL);
	pthread_join(tr, NULL);
	/* stragglers: up to 2 s for the last events */
	for (int i = 0; i < 200; i++) {
		long got;
		pthread_mutex_lock(&P.lock);
		got = P.nev;
		pthread_mutex_unlock(&P.lock);
		if (got >= P.sent * PUSH_BATCH)
			break;
		usleep(10000);
	}
	shutdown(ev.fd, SHUT_RDWR);
	pthread_join(tf, NULL);
	hc_close(&ev);
	if (P.failed) {
		snprintf(r->why, sizeof r->why, "%s", P.why);
		return -1;
	}
	r->ran = 1;
	r->reports = P.sent * PUSH_BATCH;
	r->rate = P.sent > 1 ? (double)r->reports / (P.b[P.sent - 1].acked - P.b[0].sent) : 0;
	r->events = P.nev;
	r->stray = P.stray;
	{
		long n = 0;
		for (long i = 0; i < r->reports; i++)
			if (P.ev[i] > 0)
				P.ev[n++] = P.ev[i];
		r->ev50 = pct(P.ev, n, 50);
		r->ev99 = pct(P.ev, n, 99);
	}
	for (long k = 0; k < P.sent; k++)
		if (P.b[k].seen_access > 0)
			a[na++] = P.b[k].seen_access - P.b[k].sent;
	r->probes = na;
	r->ac50 = pct(a, na, 50);
	r->ac99 = pct(a, na, 99);
	na = 0;
	for (long k = 0; k < P.sent; k++)
		a[na++] = P.b[k].acked - P.b[k].sent;
	r->ack50 = pct(a, na, 50);
	r->ack99 = pct(a, na, 99);
	r->get50 = pct(P.get, P.nget, 50);
	r->get99 = pct(P.get, P.nget, 99);
	free(a);
	return 0;
}

/* serve's own account of the pushes, from /metrics: the mean time to
 * answer a POST /v1/ingest and, within it, to decide the touched devices
 * (ms); -1 when not found. */
static void serve_account(int port, double *post_ms, double *decide_ms)
{
	static char body[1 << 20];
	const char *req = "GET /metrics HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n";
	double sum, n;
	const char *p;
	hconn c;
	*post_ms = *decide_ms = -1;
	if (hc_open(&c, port))
		return;
	if (!hc_send(&c, req, strlen(req)) && hc_response(&c, body, sizeof body) == 200) {
		if ((p = strstr(body, "mtdgate_http_request_duration_seconds_sum{endpoint=\"ingest\"} ")) &&
		    sscanf(strchr(p, ' '), "%lf", &sum) == 1 &&
		    (p = strstr(body, "mtdgate_http_request_duration_seconds_count{endpoint=\"ingest\"} ")) &&
		    sscanf(strchr(p, ' '), "%lf", &n) == 1 && n > 0)
			*post_ms = sum / n * 1e3;
		if ((p = strstr(body, "mtdgate_evaluation_duration_seconds_sum ")) &&
		    sscanf(strchr(p, ' '), "%lf", &sum) == 1 &&
		    (p = strstr(body, "mtdgate_evaluation_duration_seconds_count ")) &&
		    sscanf(strchr(p, ' '), "%lf", &n) == 1 && n > 0)
			*decide_ms = sum / n * 1e3;
	}
	hc_close(&c);
}

/* ---- part 3 ---- */

static long vm_kb(pid_t pid, const char *field)
{
	char p[64], line[256];
	long v = -1;
	FILE *f;
	snprintf(p, sizeof p, "/proc/%d/status", (int)pid);
	if (!(f = fopen(p, "r")))
		return -1;
	while (fgets(line, sizeof line, f))
		if (!strncmp(line, field, strlen(field)))
			v = atol(line + strlen(field) + 1);
	fclose(f);
	return v;
}

/* ---- main ---- */

static void row(const char *what, const char *goal, const char *value, int met)
{
	printf("%-44s %-22s %-26s %s\n", what, goal, value, met < 0 ? "-" : met ? "PASS" : "MISS");
}

int main(int argc, char **argv)
{
	const char *keep = NULL;
	int no_cerbos = 0, failed = 0, sport, nport, cport;
	long *s = NULL, ns = 0, blocked = 0, rss_start = -1, rss_peak = -1;
	pid_t serve = -1, nginx = -1, cerbos = -1;
	wres ws = {0}, wsl = {0}, wn = {0}, wc = {0};
	pres pr = {0};
	char url[128], p1[PATH_MAX + 32], p2[PATH_MAX + 32], v[128], cerbos_bin[PATH_MAX + 64];
	char cerbos_why[WHY_MAX] = "";
	double post_ms, decide_ms;

	setvbuf(stdout, NULL, _IOLBF, 0); /* progress as it happens */
	bench_sibling(mtdgate, sizeof mtdgate, "mtdgate");
	bench_sibling(fleetgen, sizeof fleetgen, "fleetgen");
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
			fputs(usage_text, stdout);
			return 0;
		} else if (!strcmp(a, "--quick")) {
			ndev = 100000;
			seconds = 5;
		} else if (!strcmp(a, "--reuse")) {
			reuse = 1;
		} else if (!strcmp(a, "--no-cerbos")) {
			no_cerbos = 1;
		} else if (i + 1 < argc && (!strcmp(a, "--devices") || !strcmp(a, "--seconds") ||
					    !strcmp(a, "--connections"))) {
			char *end;
			long val = strtol(argv[++i], &end, 10), max = a[2] == 'd' ? 10000000 : 3600;
			if (*end || val < 1 || val > max) {
				fprintf(stderr, "serve-bench: %s: '%s' is not a number from 1 to %ld\n", a,
					argv[i], max);
				return 64;
			}
			*(a[2] == 'd' ? &ndev : a[2] == 's' ? &seconds : &conns) = val;
		} else if (i + 1 < argc && !strcmp(a, "--keep")) {
			keep = argv[++i];
		} else if (i + 1 < argc && !strcmp(a, "--mtdgate")) {
			snprintf(mtdgate, sizeof mtdgate, "%s", argv[++i]);
		} else if (i + 1 < argc && !strcmp(a, "--fleetgen")) {
			snprintf(fleetgen, sizeof fleetgen, "%s", argv[++i]);
		} else {
			fputs(usage_text, stderr);
			return 64;
		}
	}
	if (reuse && !keep) {
		fprintf(stderr, "serve-bench: --reuse needs --keep DIR\n");
		return 64;
	}
	if (ndev < 1000) {
		fprintf(stderr, "serve-bench: --devices: at least 1000\n");
		return 64;
	}
	if (access(mtdgate, X_OK) || access(fleetgen, X_OK)) {
		fprintf(stderr, "serve-bench: %s or %s is not executable (--mtdgate, --fleetgen)\n",
			mtdgate, fleetgen);
		return 64;
	}
	if (keep) {
		if ((mkdir(keep, 0700) && errno != EEXIST) || !realpath(keep, workdir)) {
			perror(keep);
			return 2;
		}
	} else {
		const char *tmp = getenv("TMPDIR");
		snprintf(workdir, sizeof workdir, "%s/mtdgate-serve-bench.XXXXXX",
			 tmp && *tmp ? tmp : "/tmp");
		if (!mkdtemp(workdir)) {
			perror(workdir);
			return 2;
		}
	}
	path_in(store, sizeof store, "store.db");
	printf("mtdgate-serve-bench: %ld devices, %ld s runs, in %s\n", ndev, seconds, workdir);
	uptime("at the start");
	if (tenant() || (ns = sample(&s)) < 1 || scripts(s, ns, &blocked)) {
		failed = 1;
		goto done;
	}
	path_in(p1, sizeof p1, "token");
	if (mtd(p1, "connector", "token", "generic", NULL)) {
		failed = 1;
		goto done;
	}
	{
		FILE *f = fopen(p1, "r");
		if (!f || !fgets(P.token, sizeof P.token, f)) {
			failed = 1;
			if (f)
				fclose(f);
			goto done;
		}
		fclose(f);
		P.token[strcspn(P.token, "\r\n")] = '\0';
	}

	/* 1. /v1/access against nginx and Cerbos */
	sport = free_port();
	{
		char listen[64];
		char *argv_s[] = {"taskset", "-c", SERVER_CPU, mtdgate, "--db", store, "--now", NOW,
				  "serve", "--listen", listen, NULL};
		double t = bench_mono();
		snprintf(listen, sizeof listen, "127.0.0.1:%d", sport);
		path_in(p2, sizeof p2, "serve.out");
		if ((serve = spawn(p2, argv_s)) < 0 || wait_http(sport, "/healthz", serve)) {
			failed = 1;
			goto done;
		}
		rss_start = vm_kb(serve, "VmRSS");
		printf("serve: answering after %.1f s (index of %ld devices), RSS %.1f MiB\n",
		       bench_mono() - t, ndev, rss_start / 1024.0);
	}
	if (serve_check(sport, s, ns)) {
		fprintf(stderr, "serve-bench: serve's answers differ from report --json\n");
		failed = 1;
		goto done;
	}
	printf("wrk: 1 thread on CPU %s, %ld connections, %ld s; servers on CPU %s; %ld devices cycled"
	       " (%ld blocked)\n", CLIENT_CPU, conns, seconds, SERVER_CPU, ns, blocked);
	path_in(p1, sizeof p1, "access.lua");
	snprintf(url, sizeof url, "http://127.0.0.1:%d/v1/access?resource=exchange", sport);
	if (wrk("serve", p1, url, conns, &ws) || wrk("serve", p1, url, 4, &wsl)) {
		fprintf(stderr, "serve-bench: %s\n", ws.ran ? wsl.why : ws.why);
		failed = 1;
	}
	nport = free_port();
	if ((nginx = nginx_start(nport)) < 0 || wait_http(nport, "/", nginx)) {
		snprintf(wn.why, sizeof wn.why, "nginx did not start; see %s/log", workdir);
		failed = 1;
	} else {
		snprintf(url, sizeof url, "http://127.0.0.1:%d/v1/access?resource=exchange", nport);
		if (wrk("nginx", p1, url, conns, &wn))
			failed = 1;
	}
	stop(nginx);
	if (no_cerbos) {
		snprintf(cerbos_why, sizeof cerbos_why, "skipped (--no-cerbos)");
	} else if (!cerbos_install(cerbos_bin, sizeof cerbos_bin, cerbos_why, sizeof cerbos_why)) {
		cport = free_port();
		if ((cerbos = cerbos_start(cerbos_bin, cport)) < 0 ||
		    wait_http(cport, "/_cerbos/health", cerbos)) {
			snprintf(cerbos_why, sizeof cerbos_why, "cerbos did not start; see %s/log", workdir);
		} else if (cerbos_check(cport, s, ns)) {
			snprintf(cerbos_why, sizeof cerbos_why, "cerbos decided otherwise than mtdgate");
			failed = 1;
		} else {
			path_in(p2, sizeof p2, "cerbos.lua");
			snprintf(url, sizeof url, "http://127.0.0.1:%d/api/check/resources", cport);
			if (wrk("cerbos", p2, url, conns, &wc))
				snprintf(cerbos_why, sizeof cerbos_why, "%s", wc.why);
		}
		stop(cerbos);
	}

	/* 2. report -> decision, on the same serve */
	printf("push: %d reports/s, %d per POST every %d ms, %ld s, each flipping its device's"
	       " decision\n", PUSH_RATE, PUSH_BATCH, PUSH_BATCH * 1000 / PUSH_RATE, seconds);
	if (push_phase(sport, &pr)) {
		fprintf(stderr, "serve-bench: push: %s\n", pr.why);
		failed = 1;
	}
	serve_account(sport, &post_ms, &decide_ms);
	/* 3. */
	rss_peak = vm_kb(serve, "VmHWM");
	uptime("at the end");

	printf("\n%-44s %-22s %-26s %s\n", "measure", "goal", "measured", "");
	if (ws.ran) {
		snprintf(v, sizeof v, "%.0f", ws.rps);
		row("/v1/access decisions/s (1 core)", ">= 100,000", v, ws.rps >= 100000);
	}
	if (ws.ran && wn.ran) {
		snprintf(v, sizeof v, "%.2fx (nginx %.0f/s)", ws.rps / wn.rps, wn.rps);
		row("/v1/access vs nginx return 204", ">= 0.5x", v, ws.rps >= 0.5 * wn.rps);
	} else {
		row("/v1/access vs nginx return 204", ">= 0.5x", wn.why, 0);
	}
	if (ws.ran && wc.ran) {
		snprintf(v, sizeof v, "%.2fx (cerbos %.0f/s)", ws.rps / wc.rps, wc.rps);
		row("/v1/access vs Cerbos /api/check/resources", "> 1x", v, ws.rps > wc.rps);
	} else {
		row("/v1/access vs Cerbos /api/check/resources", "> 1x", cerbos_why, -1);
	}
	if (ws.ran) {
		snprintf(v, sizeof v, "%.0f us (p50 %.0f us)", ws.p99_us, ws.p50_us);
		snprintf(p2, sizeof p2, "/v1/access p99, wrk at the peak, %ld conns", conns);
		row(p2, "< 1 ms", v, ws.p99_us < 1000);
		if (wn.ran)
			printf("%-44s %-22s %.0f us (p50 %.0f us)\n", "  the same for nginx return 204", "",
			       wn.p99_us, wn.p50_us);
		if (wc.ran)
			printf("%-44s %-22s %.0f us (p50 %.0f us)\n", "  the same for Cerbos", "", wc.p99_us,
			       wc.p50_us);
	}
	if (wsl.ran) {
		snprintf(v, sizeof v, "%.0f us (%.0f/s)", wsl.p99_us, wsl.rps);
		row("/v1/access p99, wrk with 4 conns", "< 1 ms", v, wsl.p99_us < 1000);
	}
	if (pr.ran) {
		snprintf(v, sizeof v, "%.0f (%ld reports)", pr.rate, pr.reports);
		row("reports pushed/s (POST sent to last ack)", ">= 10,000", v, pr.rate >= 9900);
		snprintf(v, sizeof v, "%.2f ms (p50 %.2f ms)", pr.ev99 * 1e3, pr.ev50 * 1e3);
		row("report -> /v1/events p99", "<= 10 ms", v, pr.ev99 >= 0 && pr.ev99 <= 0.010 &&
							     pr.events == pr.reports);
		snprintf(v, sizeof v, "%.2f ms (p50 %.2f ms)", pr.ac99 * 1e3, pr.ac50 * 1e3);
		row("report -> /v1/access p99", "<= 10 ms", v, pr.ac99 >= 0 && pr.ac99 <= 0.010);
		snprintf(v, sizeof v, "%.2f ms (p50 %.2f ms)", pr.ack99 * 1e3, pr.ack50 * 1e3);
		row("POST /v1/ingest answered (acked) p99", "", v, -1);
		snprintf(v, sizeof v, "%.0f us (p50 %.0f us, %ld GETs)", pr.get99 * 1e6,
			 pr.get50 * 1e6, P.nget);
		row("/v1/access p99 during the pushes (prober)", "", v, -1);
	}
	if (rss_peak > 0) {
		snprintf(v, sizeof v, "%.1f MiB (%.1f after start)", rss_peak / 1024.0, rss_start / 1024.0);
		row("serve peak RSS (VmHWM)", "< 300 MiB", v, rss_peak < 300 * 1024);
	}
	printf("\n");
	if (ws.ran)
		printf("serve: %ld of %.0f answers 403 (blocked devices), %ld socket errors\n", ws.non2xx,
		       ws.rps * (double)seconds, ws.errors);
	if (wc.ran)
		printf("Cerbos is handed each device's level and threshold in the POST body; mtdgate looks"
		       " the device up in its index\n(the decision made when the report came in).\n");
	if (pr.ran)
		printf("push: %ld events matched of %ld reports (%ld other events), %ld batches probed"
		       " on /v1/access of %ld\n", pr.events, pr.reports, pr.stray, pr.probes,
		       pr.reports / PUSH_BATCH);
	if (pr.ran && post_ms >= 0)
		printf("serve's /metrics: a POST /v1/ingest took %.2f ms on average, %.2f ms of it deciding"
		       " the devices it touched (the rest: auth, ingest and commit, events)\n", post_ms,
		       decide_ms);
	if (reconnects)
		printf("the bench's client opened %ld connections again: serve answered"
		       " 'Connection: close'\n", (long)reconnects);
done:
	stop(serve);
	if (!keep && !failed) {
		char cmd[PATH_MAX + 16];
		snprintf(cmd, sizeof cmd, "rm -rf '%s'", workdir);
		if (system(cmd))
			fprintf(stderr, "serve-bench: could not remove %s\n", workdir);
	} else {
		printf("work directory kept: %s\n", workdir);
	}
	return failed ? 2 : 0;
}
