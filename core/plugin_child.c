/* plugin_child: process isolation for untrusted vendor plugins. */
#define _DEFAULT_SOURCE /* RLIMIT_*, kill */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "codec.h"
#include "mtdgate/mtdgate.h"
#include "plugin_child.h"
#include "plugin_host.h"

/* child -> parent frame kinds (first byte of the frame) */
enum { F_MSG = 'M', F_DONE = 'D', F_READY = 'R', F_FAIL = 'F' };

struct mtd_child {
	char *path, *id;
	pid_t pid;
	int to, from; /* pipes: parent writes to, reads from */
	unsigned char *buf;
	size_t cap;
};

static int write_all(int fd, const void *p, size_t n)
{
	const unsigned char *b = p;
	while (n) {
		ssize_t k = write(fd, b, n);
		if (k < 0 && errno == EINTR)
			continue;
		if (k <= 0)
			return -1;
		b += k;
		n -= (size_t)k;
	}
	return 0;
}

static int frame_out(int fd, int kind, const void *a, size_t na, const void *b, size_t nb)
{
	uint32_t len = (uint32_t)(1 + na + nb);
	unsigned char hdr[5] = {(unsigned char)(len >> 24), (unsigned char)(len >> 16),
				(unsigned char)(len >> 8), (unsigned char)len, (unsigned char)kind};
	return write_all(fd, hdr, 5) || (na && write_all(fd, a, na)) || (nb && write_all(fd, b, nb));
}

/* Read exactly n bytes, waiting at most until deadline (ms since epoch of
 * CLOCK_MONOTONIC); -2 on timeout, -1 on EOF/error. */
static long long now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int read_all(int fd, void *p, size_t n, long long deadline)
{
	unsigned char *b = p;
	while (n) {
		struct pollfd pf = {fd, POLLIN, 0};
		long long left = deadline ? deadline - now_ms() : -1;
		ssize_t k;
		if (deadline && left <= 0)
			return -2;
		if (poll(&pf, 1, deadline ? (int)left : -1) < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		if (!(pf.revents & (POLLIN | POLLHUP)))
			continue;
		k = read(fd, b, n);
		if (k < 0 && errno == EINTR)
			continue;
		if (k <= 0)
			return -1;
		b += k;
		n -= (size_t)k;
	}
	return 0;
}

/* ---- the child ---- */

typedef struct child_sink {
	int fd, count;
} child_sink;

static int child_emit(void *ud, const void *data, size_t len)
{
	child_sink *s = ud;
	if (++s->count > MTD_CHILD_MAX_MESSAGES || len > MTD_MAX_RECORD)
		return -1;
	return frame_out(s->fd, F_MSG, data, len, NULL, 0) ? -1 : 0;
}

static int child_write(void *ud, const void *data, size_t len)
{
	(void)ud;
	(void)data;
	(void)len;
	return -1;
}

static void child_main(const char *path, const char *id, int in, int out)
{
	static const mtd_host_api host = {MTD_PLUGIN_ABI_VERSION, sizeof(mtd_host_api), child_emit,
					  child_write, NULL};
	struct rlimit as = {MTD_CHILD_MEMORY, MTD_CHILD_MEMORY}, nofile = {16, 16};
	const mtd_plugin *p;
	void *state = NULL;
	char err[600] = "";
	unsigned char *buf = malloc(MTD_MAX_RECORD);

	setrlimit(RLIMIT_AS, &as);
	setrlimit(RLIMIT_NOFILE, &nofile);
	setrlimit(RLIMIT_CORE, &(struct rlimit){0, 0});
	if (!buf || mtd_plugin_load(path, id, &p, err, sizeof err) ||
	    p->open(&host, NULL, &state, err, sizeof err) < 0) {
		err[sizeof err - 1] = '\0';
		frame_out(out, F_FAIL, err, strlen(err), NULL, 0);
		_exit(1);
	}
	frame_out(out, F_READY, NULL, 0, NULL, 0);
	for (;;) {
		unsigned char hdr[4];
		uint32_t len;
		int rc;
		int32_t rc32;
		child_sink sink = {out, 0};
		if (read_all(in, hdr, 4, 0))
			_exit(0);
		len = (uint32_t)hdr[0] << 24 | (uint32_t)hdr[1] << 16 | (uint32_t)hdr[2] << 8 | hdr[3];
		if (len > MTD_MAX_RECORD || read_all(in, buf, len, 0))
			_exit(2);
		err[0] = '\0';
		rc = p->decode(state, &host, &sink, buf, len, err, sizeof err);
		err[sizeof err - 1] = '\0';
		rc32 = rc;
		if (frame_out(out, F_DONE, &rc32, sizeof rc32, err, strlen(err)))
			_exit(3);
	}
}

/* ---- the parent ---- */

/* MTDGATE_PLUGIN_TIMEOUT_MS may lower (or raise, up to a minute) the time a
 * plugin gets per payload. */
static int child_timeout_ms(void)
{
	const char *e = getenv("MTDGATE_PLUGIN_TIMEOUT_MS");
	long v = e ? strtol(e, NULL, 10) : 0;
	return v >= 100 && v <= 60000 ? (int)v : MTD_CHILD_TIMEOUT_MS;
}

static void reap(mtd_child *c)
{
	if (c->pid > 0) {
		kill(c->pid, SIGKILL);
		while (waitpid(c->pid, NULL, 0) < 0 && errno == EINTR)
			;
	}
	if (c->to >= 0)
		close(c->to);
	if (c->from >= 0)
		close(c->from);
	c->pid = -1;
	c->to = c->from = -1;
}

/* Read one frame into c->buf; returns its length or -1/-2. */
static long read_frame(mtd_child *c, long long deadline)
{
	unsigned char hdr[4];
	uint32_t len;
	int rc = read_all(c->from, hdr, 4, deadline);
	if (rc)
		return rc;
	len = (uint32_t)hdr[0] << 24 | (uint32_t)hdr[1] << 16 | (uint32_t)hdr[2] << 8 | hdr[3];
	if (len == 0 || len > MTD_MAX_RECORD + 1)
		return -1;
	if (len > c->cap) {
		unsigned char *b = realloc(c->buf, len);
		if (!b)
			return -1;
		c->buf = b;
		c->cap = len;
	}
	rc = read_all(c->from, c->buf, len, deadline);
	return rc ? rc : (long)len;
}

static int spawn(mtd_child *c, char *err, size_t n)
{
	int down[2], up[2];
	long k;
	if (pipe(down))
		return MTD_EIO;
	if (pipe(up)) {
		close(down[0]);
		close(down[1]);
		return MTD_EIO;
	}
	fflush(NULL);
	c->pid = fork();
	if (c->pid < 0) {
		close(down[0]), close(down[1]), close(up[0]), close(up[1]);
		mtd_sdk_err(err, n, "cannot start the plugin's process: %s", strerror(errno));
		return MTD_EIO;
	}
	if (c->pid == 0) {
		close(down[1]);
		close(up[0]);
		/* nothing of the parent's but the two pipe ends and stderr */
		for (int fd = 3; fd < 1024; fd++)
			if (fd != down[0] && fd != up[1])
				close(fd);
		child_main(c->path, c->id, down[0], up[1]);
		_exit(0);
	}
	close(down[0]);
	close(up[1]);
	c->to = down[1];
	c->from = up[0];
	k = read_frame(c, now_ms() + MTD_CHILD_TIMEOUT_MS);
	if (k < 1 || c->buf[0] != F_READY) {
		if (k >= 1 && c->buf[0] == F_FAIL)
			mtd_sdk_err(err, n, "%.*s", (int)(k - 1), (const char *)c->buf + 1);
		else
			mtd_sdk_err(err, n, "%s: the plugin's process did not start", c->path);
		reap(c);
		return MTD_EPLUGIN;
	}
	return 0;
}

int mtd_child_start(const char *path, const char *id, mtd_child **out, char *err, size_t n)
{
	mtd_child *c = calloc(1, sizeof *c);
	int rc;
	*out = NULL;
	signal(SIGPIPE, SIG_IGN); /* a dead child shows as a write error instead */
	if (!c || !(c->path = strdup(path)) || !(c->id = strdup(id))) {
		if (c)
			free(c->path);
		free(c);
		return MTD_ENOMEM;
	}
	c->to = c->from = -1;
	if ((rc = spawn(c, err, n))) {
		mtd_child_stop(c);
		return rc;
	}
	*out = c;
	return 0;
}

int mtd_child_decode(mtd_child *c, const void *data, size_t len,
		     int (*emit)(void *ud, const void *data, size_t len), void *ud,
		     char *err, size_t n)
{
	unsigned char hdr[4] = {(unsigned char)(len >> 24), (unsigned char)(len >> 16),
				(unsigned char)(len >> 8), (unsigned char)len};
	long long deadline = now_ms() + child_timeout_ms();
	const char *what = NULL;
	char why[200];

	if (c->pid < 0 && spawn(c, err, n))
		return MTD_EPLUGIN;
	if (write_all(c->to, hdr, 4) || write_all(c->to, data, len)) {
		what = "its process died";
		goto broken;
	}
	for (;;) {
		long k = read_frame(c, deadline);
		if (k == -2) {
			snprintf(why, sizeof why, "it hung (no answer within %d ms) and was killed",
				 child_timeout_ms());
			what = why;
			goto broken;
		}
		if (k < 1) {
			int status = 0;
			kill(c->pid, SIGKILL);
			waitpid(c->pid, &status, 0);
			c->pid = -1;
			if (WIFSIGNALED(status) && WTERMSIG(status) != SIGKILL)
				snprintf(why, sizeof why, "its process crashed (signal %d)", WTERMSIG(status));
			else
				snprintf(why, sizeof why, "its process died");
			what = why;
			goto broken;
		}
		if (c->buf[0] == F_MSG) {
			emit(ud, c->buf + 1, (size_t)k - 1);
			continue;
		}
		if (c->buf[0] == F_DONE && k >= 5) {
			int32_t rc;
			memcpy(&rc, c->buf + 1, sizeof rc);
			mtd_sdk_err(err, n, "%.*s", (int)(k - 5), (const char *)c->buf + 5);
			return rc;
		}
		what = "it broke the pipe protocol";
		goto broken;
	}
broken:
	mtd_sdk_err(err, n, "the plugin failed on this payload: %s; a fresh process takes the next one",
		    what);
	reap(c);
	return MTD_EPLUGIN;
}

void mtd_child_stop(mtd_child *c)
{
	if (!c)
		return;
	if (c->to >= 0)
		close(c->to); /* the child exits on EOF */
	c->to = -1;
	if (c->pid > 0) {
		int status;
		for (int i = 0; i < 100; i++) { /* up to 1 s, then kill */
			if (waitpid(c->pid, &status, WNOHANG) == c->pid) {
				c->pid = -1;
				break;
			}
			nanosleep(&(struct timespec){0, 10000000}, NULL);
		}
	}
	reap(c);
	free(c->buf);
	free(c->path);
	free(c->id);
	free(c);
}
