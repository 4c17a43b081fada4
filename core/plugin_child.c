/* plugin_child: process isolation for untrusted vendor plugins. */
#define _GNU_SOURCE /* close_range, pipe2, RLIMIT_*, kill */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <linux/landlock.h>
#include <seccomp.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "codec.h"
#include "mtdgate/mtdgate.h"
#include "plugin_api.h"
#include "plugin_child.h"

#if defined(__SANITIZE_ADDRESS__)
#define MTD_UNDER_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define MTD_UNDER_ASAN 1
#endif
#endif
#ifndef MTD_UNDER_ASAN
#define MTD_UNDER_ASAN 0
#endif

/* libseccomp's SCMP_A0() leaves its second datum to zero-initialization,
 * which clang's -Wmissing-field-initializers (the fuzz build) refuses. */
#if defined(__clang__)
#pragma clang diagnostic ignored "-Wmissing-field-initializers"
#endif

/* parent -> child: F_DECODE, F_TRANSLATE; child -> parent: the rest */
enum {
	F_DECODE = 'd', F_TRANSLATE = 't', F_APIDESC = 'a', F_APIDEC = 'p',
	F_MSG = 'M', F_ELEMENT = 'E', F_WRITE = 'W', F_DONE = 'D', F_READY = 'R', F_FAIL = 'F',
	F_VALUE = 'V', F_EVENT = 'I'
};
#define MAX_VALUE 4096 /* bytes of an api_value's value */
#define MAX_EVENT_ID 128
/* An App Sync answer (all the inventory) may be larger than one record. */
#define MAX_TRANSLATE (64u << 20)
#define MAX_FRAME (MAX_TRANSLATE + 16)
#define CHILD_IN 3  /* the child's fds after setup */
#define CHILD_OUT 4
#define OBUF 65536  /* the child's output is written in batches of this */

struct mtd_child {
	char *path, *id;
	unsigned flags;
	pid_t pid;
	int to, from; /* pipes: parent writes to, reads from */
	unsigned char *buf; /* the last frame read */
	size_t cap;
	unsigned char *q; /* read from the child, not yet taken: q[qpos..qlen) */
	size_t qcap, qpos, qlen;
	/* in-process */
	const mtd_plugin *p;
	void *state;
	mtd_plugin_desc desc;
};

void mtd_child_clean_text(char *s)
{
	unsigned char *b = (unsigned char *)s;
	for (size_t i = 0; b[i]; i++) {
		if (b[i] < 0x20 || b[i] == 0x7f) {
			b[i] = '?';
		} else if (b[i] == 0xc2 && b[i + 1] >= 0x80 && b[i + 1] <= 0x9f) { /* C1 */
			b[i] = b[i + 1] = '?';
		} else if (b[i] == 0xe2 && b[i + 1] && b[i + 2] &&
			   ((b[i + 1] == 0x80 && ((b[i + 2] >= 0x8e && b[i + 2] <= 0x8f) ||
						  (b[i + 2] >= 0xaa && b[i + 2] <= 0xae))) ||
			    (b[i + 1] == 0x81 && b[i + 2] >= 0xa6 && b[i + 2] <= 0xa9))) { /* bidi */
			b[i] = b[i + 1] = b[i + 2] = '?';
		}
	}
}

/* ---- the host API a plugin sees: sink is an mtd_child_sink, in either process ---- */

static int t_emit(void *sink, const void *data, size_t len)
{
	const mtd_child_sink *s = sink;
	return s && s->emit ? s->emit(s->ud, data, len) : -1;
}

static int t_write(void *sink, const void *data, size_t len)
{
	const mtd_child_sink *s = sink;
	return s && s->write ? s->write(s->ud, data, len) : -1;
}

static int t_element(void *sink, const char *path, const char *msg)
{
	const mtd_child_sink *s = sink;
	char p[256], m[512];
	if (!s || !s->element_error)
		return -1;
	snprintf(p, sizeof p, "%s", path ? path : "");
	snprintf(m, sizeof m, "%s", msg ? msg : "");
	mtd_child_clean_text(p);
	mtd_child_clean_text(m);
	return s->element_error(s->ud, p, m);
}

/* A value's name is one of the MTD_API_V_* names; a value or an event id
 * is 1..max bytes without control characters. */
static int value_ok(const char *s, size_t max)
{
	size_t n = s ? strlen(s) : 0;
	if (n < 1 || n > max)
		return 0;
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f)
			return 0;
	return 1;
}

static int t_value(void *sink, const char *name, const char *value)
{
	const mtd_child_sink *s = sink;
	static const char *const names[] = {
		MTD_API_V_TOKEN,   MTD_API_V_EXPIRES_IN,  MTD_API_V_EXPIRES_AT,  MTD_API_V_NEXT,
		MTD_API_V_RESUME,  MTD_API_V_API_URL,	  MTD_API_V_HEADER_NAME, MTD_API_V_HEADER_VALUE,
		MTD_API_V_COUNT,   MTD_API_V_TOTAL};
	int known = 0;
	for (size_t i = 0; name && i < sizeof names / sizeof *names; i++)
		known |= !strcmp(name, names[i]);
	if (!s || !s->api_value || !known || !value_ok(value, MAX_VALUE))
		return -1;
	return s->api_value(s->ud, name, value);
}

static int t_event(void *sink, const char *id)
{
	const mtd_child_sink *s = sink;
	if (!s || !s->event_id || !value_ok(id, MAX_EVENT_ID))
		return -1;
	return s->event_id(s->ud, id);
}

static const mtd_host_api host_api = {MTD_PLUGIN_ABI_VERSION, sizeof(mtd_host_api), t_emit,
				      t_write, t_element, t_value, t_event};

/* ---- pipes ---- */

static long long now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Wait for fd to be ready for ev until deadline (0: forever): 0, -2 on
 * timeout, -1 on error. */
static int wait_fd(int fd, short ev, long long deadline)
{
	for (;;) {
		struct pollfd pf = {fd, ev, 0};
		long long left = deadline ? deadline - now_ms() : -1;
		int k;
		if (deadline && left <= 0)
			return -2;
		k = poll(&pf, 1, deadline ? (int)left : -1);
		if (k < 0 && errno != EINTR)
			return -1;
		if (k > 0)
			return 0;
	}
}

static int write_all(int fd, const void *p, size_t n, long long deadline)
{
	const unsigned char *b = p;
	while (n) {
		ssize_t k = write(fd, b, n);
		if (k < 0 && errno == EINTR)
			continue;
		if (k < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
			int w = wait_fd(fd, POLLOUT, deadline);
			if (w)
				return w;
			continue;
		}
		if (k <= 0)
			return -1;
		b += k;
		n -= (size_t)k;
	}
	return 0;
}

static void put_u32(unsigned char *b, uint32_t v)
{
	b[0] = (unsigned char)(v >> 24), b[1] = (unsigned char)(v >> 16);
	b[2] = (unsigned char)(v >> 8), b[3] = (unsigned char)v;
}

static uint32_t get_u32(const unsigned char *b)
{
	return (uint32_t)b[0] << 24 | (uint32_t)b[1] << 16 | (uint32_t)b[2] << 8 | b[3];
}

/* ---- the child ---- */

typedef struct child_out {
	unsigned char buf[OBUF];
	size_t len;
	int count; /* messages and element errors of this payload */
	int broken;
} child_out;

static child_out cout;

static void out_flush(void)
{
	if (cout.len && write_all(CHILD_OUT, cout.buf, cout.len, 0))
		_exit(3); /* the parent is gone */
	cout.len = 0;
}

/* Queue one frame: kind, then a and b. */
static void frame_out(int kind, const void *a, size_t na, const void *b, size_t nb)
{
	unsigned char hdr[5];
	put_u32(hdr, (uint32_t)(1 + na + nb));
	hdr[4] = (unsigned char)kind;
	if (cout.len + 5 + na + nb > sizeof cout.buf)
		out_flush();
	if (5 + na + nb > sizeof cout.buf) {
		if (write_all(CHILD_OUT, hdr, 5, 0) || (na && write_all(CHILD_OUT, a, na, 0)) ||
		    (nb && write_all(CHILD_OUT, b, nb, 0)))
			_exit(3);
		return;
	}
	memcpy(cout.buf + cout.len, hdr, 5);
	if (na)
		memcpy(cout.buf + cout.len + 5, a, na);
	if (nb)
		memcpy(cout.buf + cout.len + 5 + na, b, nb);
	cout.len += 5 + na + nb;
}

static int c_emit(void *ud, const void *data, size_t len)
{
	(void)ud;
	if (++cout.count > MTD_CHILD_MAX_MESSAGES || len > MTD_MAX_RECORD)
		return -1;
	frame_out(F_MSG, data, len, NULL, 0);
	return 0;
}

static int c_element(void *ud, const char *path, const char *msg)
{
	(void)ud;
	if (++cout.count > MTD_CHILD_MAX_MESSAGES)
		return -1;
	frame_out(F_ELEMENT, path, strlen(path) + 1, msg, strlen(msg));
	return 0;
}

static int c_write(void *ud, const void *data, size_t len)
{
	(void)ud;
	frame_out(F_WRITE, data, len, NULL, 0);
	return 0;
}

static int c_value(void *ud, const char *name, const char *value)
{
	(void)ud;
	frame_out(F_VALUE, name, strlen(name) + 1, value, strlen(value));
	return 0;
}

static int c_event(void *ud, const char *id)
{
	(void)ud;
	frame_out(F_EVENT, id, strlen(id), NULL, 0);
	return 0;
}

/* The plugin's api description, flattened, as write frames. */
static int c_apidesc(const mtd_plugin *p, char *err, size_t n)
{
	mtd_buf b = {0};
	if (!MTD_PLUGIN_HAS(p, api) || !MTD_PLUGIN_HAS(p, api_decode)) {
		snprintf(err, n, "no api");
		return MTD_PLUGIN_EMALFORMED;
	}
	if (mtd_api_flatten(p->api, &b)) {
		mtd_buf_free(&b);
		snprintf(err, n, "out of memory");
		return MTD_PLUGIN_ENOMEM;
	}
	frame_out(F_WRITE, b.data, b.len, NULL, 0);
	mtd_buf_free(&b);
	return MTD_PLUGIN_OK;
}

/* The child's input, read ahead: several payloads per read. */
static struct {
	unsigned char buf[OBUF];
	size_t pos, len;
} cin;

static int read_full(int fd, void *p, size_t n)
{
	unsigned char *b = p;
	while (n) {
		ssize_t k;
		if (cin.pos < cin.len) {
			size_t t = cin.len - cin.pos < n ? cin.len - cin.pos : n;
			memcpy(b, cin.buf + cin.pos, t);
			cin.pos += t, b += t, n -= t;
			continue;
		}
		k = read(fd, cin.buf, sizeof cin.buf);
		if (k < 0 && errno == EINTR)
			continue;
		if (k <= 0)
			return -1;
		cin.pos = 0;
		cin.len = (size_t)k;
	}
	return 0;
}

/* Answers are written when no payload waits (or every 100 ms, or when the
 * buffer is full): one write for many. Answers lost when the plugin then
 * crashes are asked again, payload by payload (mtd_child_decode_batch). */
static void maybe_flush(void)
{
	static long long last;
	struct pollfd pf = {CHILD_IN, POLLIN, 0};
	long long t = now_ms();
	if (cin.pos < cin.len || (poll(&pf, 1, 0) == 1 && t - last < 100))
		return;
	out_flush();
	last = t;
}

/* The seccomp filter: what loading and running a decoder needs, nothing
 * that reaches outside the process. Anything not listed fails with EPERM;
 * what only an attack needs ends the process (SIGSYS). */
static int sandbox(void)
{
	const uint64_t wx = PROT_WRITE | PROT_EXEC;
	const uint64_t wmode = O_ACCMODE | O_CREAT | O_TRUNC | O_APPEND;
	const pid_t me = getpid();
	scmp_filter_ctx f = seccomp_init(SCMP_ACT_ERRNO(EPERM));
	int rc = 0;
	static const int allowed[] = {
		SCMP_SYS(read), SCMP_SYS(pread64), SCMP_SYS(readv), SCMP_SYS(close),
		SCMP_SYS(fstat), SCMP_SYS(newfstatat), SCMP_SYS(statx), SCMP_SYS(stat),
		SCMP_SYS(lstat), SCMP_SYS(lseek), SCMP_SYS(access), SCMP_SYS(faccessat),
		SCMP_SYS(faccessat2), SCMP_SYS(readlink), SCMP_SYS(readlinkat), SCMP_SYS(getcwd),
		SCMP_SYS(munmap), SCMP_SYS(mremap), SCMP_SYS(brk), SCMP_SYS(madvise),
		SCMP_SYS(futex), SCMP_SYS(getpid), SCMP_SYS(gettid), SCMP_SYS(getppid),
		SCMP_SYS(rt_sigprocmask), SCMP_SYS(rt_sigaction), SCMP_SYS(rt_sigreturn),
		SCMP_SYS(sigaltstack), SCMP_SYS(exit), SCMP_SYS(exit_group),
		SCMP_SYS(clock_gettime), SCMP_SYS(clock_getres), SCMP_SYS(gettimeofday),
		SCMP_SYS(time), SCMP_SYS(nanosleep), SCMP_SYS(clock_nanosleep), SCMP_SYS(getrandom),
		SCMP_SYS(sched_yield), SCMP_SYS(uname), SCMP_SYS(poll), SCMP_SYS(ppoll),
		SCMP_SYS(getrlimit), SCMP_SYS(set_robust_list), SCMP_SYS(rseq),
		SCMP_SYS(set_tid_address), SCMP_SYS(fcntl), SCMP_SYS(getuid), SCMP_SYS(geteuid),
		SCMP_SYS(getgid), SCMP_SYS(getegid),
	};
	static const int fatal[] = {
		SCMP_SYS(socket), SCMP_SYS(socketpair), SCMP_SYS(connect), SCMP_SYS(bind),
		SCMP_SYS(listen), SCMP_SYS(accept), SCMP_SYS(accept4), SCMP_SYS(sendto),
		SCMP_SYS(sendmsg), SCMP_SYS(execve), SCMP_SYS(execveat), SCMP_SYS(ptrace),
		SCMP_SYS(process_vm_readv), SCMP_SYS(process_vm_writev), SCMP_SYS(fork),
		SCMP_SYS(vfork), SCMP_SYS(clone), SCMP_SYS(clone3), SCMP_SYS(creat),
		SCMP_SYS(memfd_create), SCMP_SYS(pidfd_open), SCMP_SYS(pidfd_send_signal),
		SCMP_SYS(pidfd_getfd), SCMP_SYS(rt_sigqueueinfo), SCMP_SYS(rt_tgsigqueueinfo),
		SCMP_SYS(unlink), SCMP_SYS(unlinkat), SCMP_SYS(rename), SCMP_SYS(renameat),
		SCMP_SYS(renameat2), SCMP_SYS(truncate), SCMP_SYS(link), SCMP_SYS(linkat),
		SCMP_SYS(symlink), SCMP_SYS(symlinkat), SCMP_SYS(chmod), SCMP_SYS(fchmodat),
		SCMP_SYS(chown), SCMP_SYS(fchownat), SCMP_SYS(mknod), SCMP_SYS(mknodat),
		SCMP_SYS(open_by_handle_at), SCMP_SYS(io_uring_setup),
	};

	if (!f)
		return -1;
	for (size_t i = 0; i < sizeof allowed / sizeof *allowed; i++)
		rc |= seccomp_rule_add(f, SCMP_ACT_ALLOW, allowed[i], 0);
	for (size_t i = 0; i < sizeof fatal / sizeof *fatal; i++)
		rc |= seccomp_rule_add(f, SCMP_ACT_KILL_PROCESS, fatal[i], 0);
	/* writes only to its pipe and to /dev/null */
	rc |= seccomp_rule_add(f, SCMP_ACT_ALLOW, SCMP_SYS(write), 1, SCMP_A0(SCMP_CMP_EQ, CHILD_OUT));
	rc |= seccomp_rule_add(f, SCMP_ACT_ALLOW, SCMP_SYS(write), 1, SCMP_A0(SCMP_CMP_LE, 2));
	/* files open read-only; opening one for writing is an attack (the
	 * flags are openat's third argument, open's second) */
	for (unsigned arg = 1; arg <= 2; arg++) {
		int nr = arg == 2 ? SCMP_SYS(openat) : SCMP_SYS(open);
		rc |= seccomp_rule_add(f, SCMP_ACT_ALLOW, nr, 1,
				       SCMP_CMP(arg, SCMP_CMP_MASKED_EQ, wmode, 0));
		rc |= seccomp_rule_add(f, SCMP_ACT_KILL_PROCESS, nr, 1,
				       SCMP_CMP(arg, SCMP_CMP_MASKED_EQ, O_ACCMODE, O_WRONLY));
		rc |= seccomp_rule_add(f, SCMP_ACT_KILL_PROCESS, nr, 1,
				       SCMP_CMP(arg, SCMP_CMP_MASKED_EQ, O_ACCMODE, O_RDWR));
		rc |= seccomp_rule_add(f, SCMP_ACT_KILL_PROCESS, nr, 1,
				       SCMP_CMP(arg, SCMP_CMP_MASKED_EQ, O_CREAT, O_CREAT));
	}
	/* memory never writable and executable at once */
	for (int sys = 0; sys < 2; sys++) {
		int nr = sys ? SCMP_SYS(mprotect) : SCMP_SYS(mmap);
		rc |= seccomp_rule_add(f, SCMP_ACT_ALLOW, nr, 1, SCMP_A2(SCMP_CMP_MASKED_EQ, wx, 0));
		rc |= seccomp_rule_add(f, SCMP_ACT_ALLOW, nr, 1,
				       SCMP_A2(SCMP_CMP_MASKED_EQ, wx, PROT_WRITE));
		rc |= seccomp_rule_add(f, SCMP_ACT_ALLOW, nr, 1,
				       SCMP_A2(SCMP_CMP_MASKED_EQ, wx, PROT_EXEC));
	}
	/* signals only to itself (abort, raise); to anyone else is an attack */
	rc |= seccomp_rule_add(f, SCMP_ACT_ALLOW, SCMP_SYS(kill), 1, SCMP_A0(SCMP_CMP_EQ, (uint64_t)me));
	rc |= seccomp_rule_add(f, SCMP_ACT_KILL_PROCESS, SCMP_SYS(kill), 1,
			       SCMP_A0(SCMP_CMP_NE, (uint64_t)me));
	rc |= seccomp_rule_add(f, SCMP_ACT_ALLOW, SCMP_SYS(tgkill), 1, SCMP_A0(SCMP_CMP_EQ, (uint64_t)me));
	rc |= seccomp_rule_add(f, SCMP_ACT_KILL_PROCESS, SCMP_SYS(tgkill), 1,
			       SCMP_A0(SCMP_CMP_NE, (uint64_t)me));
	rc |= seccomp_rule_add(f, SCMP_ACT_ALLOW, SCMP_SYS(tkill), 1, SCMP_A0(SCMP_CMP_EQ, (uint64_t)me));
	rc |= seccomp_rule_add(f, SCMP_ACT_KILL_PROCESS, SCMP_SYS(tkill), 1,
			       SCMP_A0(SCMP_CMP_NE, (uint64_t)me));
	/* limits may be read, not raised (the child may run as root) */
	rc |= seccomp_rule_add(f, SCMP_ACT_ALLOW, SCMP_SYS(prlimit64), 1, SCMP_A2(SCMP_CMP_EQ, 0));
	if (!rc)
		rc = seccomp_load(f);
	seccomp_release(f);
	return rc ? -1 : 0;
}

/* Landlock: the files the child may open at all, read only: the plugin's own
 * directory and the system's libraries (what the dynamic loader needs). So
 * the plugin cannot read the store, the rules or anything else of the
 * administrator's, which seccomp cannot tell apart by path. A kernel
 * without Landlock (before 5.13, or not enabled) leaves only seccomp. */
static int confine_files(const char *plugin)
{
	const uint64_t rx = LANDLOCK_ACCESS_FS_READ_FILE | LANDLOCK_ACCESS_FS_READ_DIR |
			    LANDLOCK_ACCESS_FS_EXECUTE;
	struct landlock_ruleset_attr ra = {
		.handled_access_fs = rx | LANDLOCK_ACCESS_FS_WRITE_FILE |
				     LANDLOCK_ACCESS_FS_REMOVE_DIR | LANDLOCK_ACCESS_FS_REMOVE_FILE |
				     LANDLOCK_ACCESS_FS_MAKE_CHAR | LANDLOCK_ACCESS_FS_MAKE_DIR |
				     LANDLOCK_ACCESS_FS_MAKE_REG | LANDLOCK_ACCESS_FS_MAKE_SOCK |
				     LANDLOCK_ACCESS_FS_MAKE_FIFO | LANDLOCK_ACCESS_FS_MAKE_BLOCK |
				     LANDLOCK_ACCESS_FS_MAKE_SYM};
	const char *sys[] = {"/usr", "/lib", "/lib64", "/lib32", "/libx32", "/etc/ld.so.cache",
#if MTD_UNDER_ASAN
			     "/proc", /* the sanitizer reads its own maps */
#endif
			     NULL};
	char dir[4096];
	const char *slash = strrchr(plugin, '/');
	int rs, ok = 0;

	rs = (int)syscall(SYS_landlock_create_ruleset, &ra, sizeof ra, 0);
	if (rs < 0)
		return errno == ENOSYS || errno == EOPNOTSUPP ? 0 : -1;
	if (!slash)
		snprintf(dir, sizeof dir, ".");
	else
		snprintf(dir, sizeof dir, "%.*s", slash > plugin ? (int)(slash - plugin) : 1, plugin);
	for (int i = -1; i < 0 || sys[i]; i++) {
		const char *at = i < 0 ? dir : sys[i];
		struct landlock_path_beneath_attr pb = {.allowed_access = rx};
		struct stat st;
		if ((pb.parent_fd = open(at, O_PATH | O_CLOEXEC)) < 0)
			continue; /* a system directory this machine does not have */
		if (fstat(pb.parent_fd, &st) == 0 && !S_ISDIR(st.st_mode))
			pb.allowed_access = LANDLOCK_ACCESS_FS_READ_FILE | LANDLOCK_ACCESS_FS_EXECUTE;
		if (syscall(SYS_landlock_add_rule, rs, LANDLOCK_RULE_PATH_BENEATH, &pb, 0) == 0 &&
		    i < 0)
			ok = 1;
		close(pb.parent_fd);
	}
	if (!ok || syscall(SYS_landlock_restrict_self, rs, 0)) {
		close(rs);
		return -1;
	}
	close(rs);
	return 0;
}

/* Only the pipes (as CHILD_IN, CHILD_OUT) and /dev/null on 0, 1, 2. */
static int isolate_fds(int in, int out)
{
	int nul, hin = fcntl(in, F_DUPFD, 10), hout = fcntl(out, F_DUPFD, 10);
	if (hin < 0 || hout < 0 || (nul = open("/dev/null", O_RDWR)) < 0)
		return -1;
	for (int fd = 0; fd < 3; fd++)
		if (nul != fd && dup2(nul, fd) != fd)
			return -1;
	if (dup2(hin, CHILD_IN) != CHILD_IN || dup2(hout, CHILD_OUT) != CHILD_OUT)
		return -1;
	if (close_range(CHILD_OUT + 1, ~0u, 0) != 0)
		for (int fd = CHILD_OUT + 1; fd < 65536; fd++)
			close(fd);
	return 0;
}

static void fail_out(int stage, const char *text)
{
	char t[600];
	snprintf(t, sizeof t, "%c%s", stage, text);
	frame_out(F_FAIL, t, strlen(t), NULL, 0);
	out_flush();
	_exit(1);
}

/* The address space the child has already (a copy of mtdgate's, or far
 * more under AddressSanitizer, which reserves terabytes of shadow). */
static rlim_t mapped_bytes(void)
{
	FILE *f = fopen("/proc/self/statm", "r");
	unsigned long long pages = 0;
	if (f) {
		if (fscanf(f, "%llu", &pages) != 1)
			pages = 0;
		fclose(f);
	}
	return (rlim_t)pages * (rlim_t)sysconf(_SC_PAGESIZE);
}

static void child_main(const char *path, const char *id, unsigned flags, pid_t parent, int in,
		       int out)
{
	rlim_t mem = mapped_bytes() + MTD_CHILD_MEMORY; /* what the plugin may add */
	struct rlimit as = {mem, mem}, nofile = {16, 16};
	const mtd_child_sink sink = {.emit = c_emit, .element_error = c_element, .write = c_write,
				     .api_value = c_value, .event_id = c_event};
	const mtd_plugin *p;
	mtd_plugin_desc d;
	void *state = NULL;
	char err[600] = "";
	unsigned char ready[24 + sizeof d.id + sizeof d.name];
	size_t il, nl;

	if (isolate_fds(in, out))
		_exit(4);
	if (prctl(PR_SET_PDEATHSIG, SIGKILL) || getppid() != parent)
		_exit(5);
#if !MTD_UNDER_ASAN
	setrlimit(RLIMIT_AS, &as);
#else
	(void)as; /* ASan's shadow memory is terabytes of address space: no cap fits */
#endif
	setrlimit(RLIMIT_NOFILE, &nofile);
	setrlimit(RLIMIT_CORE, &(struct rlimit){0, 0});
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) || confine_files(path) || sandbox())
		fail_out('S', "cannot set up the plugin's sandbox (no_new_privs, landlock, seccomp)");
	/* from here on the plugin's code runs, constructors first */
	if (mtd_plugin_load(path, id, &p, err, sizeof err))
		fail_out('L', err);
	if (!(flags & MTD_CHILD_NO_OPEN) && p->open(&host_api, NULL, &state, err, sizeof err) < 0) {
		err[sizeof err - 1] = '\0';
		fail_out('O', err);
	}
	mtd_plugin_describe(p, &d);
	put_u32(ready, d.abi_version), put_u32(ready + 4, d.struct_size);
	put_u32(ready + 8, d.platforms), put_u32(ready + 12, d.mam_platforms);
	put_u32(ready + 16, d.capabilities), put_u32(ready + 20, d.fns);
	il = strlen(d.id) + 1, nl = strlen(d.name) + 1;
	memcpy(ready + 24, d.id, il);
	memcpy(ready + 24 + il, d.name, nl);
	frame_out(F_READY, ready, 24 + il + nl, NULL, 0);
	out_flush();
	for (;;) {
		unsigned char hdr[5];
		uint32_t len;
		int rc;
		unsigned char rcb[4];
		unsigned char *buf;
		if (read_full(CHILD_IN, hdr, 5))
			_exit(0);
		len = get_u32(hdr);
		if (len < 1 || len - 1 > MAX_TRANSLATE || !(buf = malloc(len)) ||
		    read_full(CHILD_IN, buf, len - 1))
			_exit(2);
		err[0] = '\0';
		cout.count = 0;
		if (hdr[4] == F_DECODE)
			rc = p->decode(state, &host_api, (void *)&sink, buf, len - 1, err, sizeof err);
		else if (hdr[4] == F_TRANSLATE && MTD_PLUGIN_HAS(p, appsync_translate))
			rc = p->appsync_translate(state, &host_api, (void *)&sink, buf, len - 1, err,
						  sizeof err);
		else if (hdr[4] == F_APIDESC)
			rc = c_apidesc(p, err, sizeof err);
		else if (hdr[4] == F_APIDEC && len - 1 >= 8 && MTD_PLUGIN_HAS(p, api_decode))
			rc = p->api_decode(state, &host_api, (void *)&sink, get_u32(buf),
					   get_u32(buf + 4), buf + 8, len - 9, err, sizeof err);
		else
			_exit(2);
		free(buf);
		err[sizeof err - 1] = '\0';
		put_u32(rcb, (uint32_t)(int32_t)rc);
		frame_out(F_DONE, rcb, 4, err, strlen(err));
		maybe_flush();
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

/* End the process; its exit status in *status when it was still ours. */
static void reap(mtd_child *c, int *status)
{
	int st = 0;
	if (c->pid > 0) {
		kill(c->pid, SIGKILL);
		while (waitpid(c->pid, &st, 0) < 0 && errno == EINTR)
			;
	}
	if (status)
		*status = st;
	if (c->to >= 0)
		close(c->to);
	if (c->from >= 0)
		close(c->from);
	c->pid = -1;
	c->to = c->from = -1;
	c->qpos = c->qlen = 0;
}

/* What became of a process that stopped answering, in words. */
static void how_it_ended(int status, char *why, size_t n)
{
	if (WIFSIGNALED(status) && WTERMSIG(status) == SIGSYS)
		snprintf(why, n, "the sandbox stopped its process: it made a system call plugins "
			 "may not make (opening a file for writing, a socket, a new process, "
			 "a signal to another process, ...)");
	else if (WIFSIGNALED(status) && WTERMSIG(status) != SIGKILL)
		snprintf(why, n, "its process crashed (signal %d)", WTERMSIG(status));
	else if (WIFEXITED(status))
		snprintf(why, n, "its process ended (exit status %d)", WEXITSTATUS(status));
	else
		snprintf(why, n, "its process died");
}

#define MAX_QUEUE (64u << 20) /* the child's output read ahead, at most */

/* Read what the child has written into the queue: 1 when something came,
 * 0 when the queue is full, -1 at EOF or on error. */
static int fill(mtd_child *c)
{
	ssize_t got;
	if (c->qpos == c->qlen)
		c->qpos = c->qlen = 0;
	if (c->qcap - c->qlen < OBUF) {
		size_t cap = c->qcap ? c->qcap * 2 : 4 * OBUF;
		unsigned char *q;
		if (c->qpos) { /* make room at the front first */
			memmove(c->q, c->q + c->qpos, c->qlen - c->qpos);
			c->qlen -= c->qpos;
			c->qpos = 0;
		}
		if (c->qcap - c->qlen < OBUF) {
			if (cap > MAX_QUEUE || !(q = realloc(c->q, cap)))
				return 0;
			c->q = q;
			c->qcap = cap;
		}
	}
	do
		got = read(c->from, c->q + c->qlen, c->qcap - c->qlen);
	while (got < 0 && errno == EINTR);
	if (got < 0 && errno == EAGAIN)
		return 1;
	if (got <= 0)
		return -1;
	c->qlen += (size_t)got;
	return 1;
}

static int read_exact(mtd_child *c, void *p, size_t n, long long deadline)
{
	unsigned char *b = p;
	while (n) {
		size_t k;
		if (c->qpos == c->qlen) {
			int w = wait_fd(c->from, POLLIN, deadline);
			if (w)
				return w;
			if (fill(c) < 0)
				return -1;
			continue;
		}
		k = c->qlen - c->qpos < n ? c->qlen - c->qpos : n;
		memcpy(b, c->q + c->qpos, k);
		c->qpos += k;
		b += k;
		n -= k;
	}
	return 0;
}

/* Write all of p to the child, taking in its output meanwhile (it may be
 * blocked writing answers to earlier payloads): 0, -2 on timeout, -1 when
 * the child is gone. */
static int pump_write(mtd_child *c, const void *p, size_t n, long long deadline)
{
	const unsigned char *b = p;
	while (n) {
		struct pollfd pf[2] = {{c->to, POLLOUT, 0}, {c->from, POLLIN, 0}};
		long long left = deadline - now_ms();
		ssize_t k = write(c->to, b, n);
		if (k > 0) {
			b += k;
			n -= (size_t)k;
			continue;
		}
		if (k < 0 && errno == EINTR)
			continue;
		if (k == 0 || errno != EAGAIN)
			return -1;
		if (left <= 0)
			return -2;
		if (poll(pf, 2, (int)left) < 0 && errno != EINTR)
			return -1;
		if ((pf[1].revents & (POLLIN | POLLHUP)) && fill(c) < 0)
			return -1;
	}
	return 0;
}

/* Read one frame into c->buf; returns its length (>= 1) or -1/-2. */
static long read_frame(mtd_child *c, long long deadline)
{
	unsigned char hdr[4];
	uint32_t len;
	int rc = read_exact(c, hdr, 4, deadline);
	if (rc)
		return rc;
	len = get_u32(hdr);
	if (len == 0 || len > MAX_FRAME)
		return -1;
	if (len + 1 > c->cap) {
		unsigned char *b = realloc(c->buf, len + 1);
		if (!b)
			return -1;
		c->buf = b;
		c->cap = len + 1;
	}
	rc = read_exact(c, c->buf, len, deadline);
	c->buf[len] = '\0'; /* texts in frames read as strings */
	return rc ? rc : (long)len;
}

static int parse_ready(const unsigned char *b, size_t n, mtd_plugin_desc *d)
{
	const unsigned char *id = b + 24, *name, *nul;
	if (n < 26 || !(nul = memchr(id, 0, n - 24)))
		return -1;
	name = nul + 1;
	if (!memchr(name, 0, n - (size_t)(name - b)))
		return -1;
	memset(d, 0, sizeof *d);
	d->abi_version = get_u32(b), d->struct_size = get_u32(b + 4);
	d->platforms = get_u32(b + 8), d->mam_platforms = get_u32(b + 12);
	d->capabilities = get_u32(b + 16), d->fns = get_u32(b + 20);
	snprintf(d->id, sizeof d->id, "%s", (const char *)id);
	snprintf(d->name, sizeof d->name, "%s", (const char *)name);
	return 0;
}

static int spawn(mtd_child *c, char *err, size_t n)
{
	int down[2], up[2], status;
	pid_t parent = getpid();
	char why[400];
	mtd_plugin_desc d;
	long k;

	if (pipe2(down, O_CLOEXEC))
		return MTD_EIO;
	if (pipe2(up, O_CLOEXEC)) {
		close(down[0]);
		close(down[1]);
		return MTD_EIO;
	}
	fflush(NULL);
	c->pid = fork();
	if (c->pid < 0) {
		close(down[0]), close(down[1]), close(up[0]), close(up[1]);
		mtd_err(err, n, "cannot start the plugin's process: %s", strerror(errno));
		return MTD_EIO;
	}
	if (c->pid == 0) {
		child_main(c->path, c->id, c->flags, parent, down[0], up[1]);
		_exit(0);
	}
	close(down[0]);
	close(up[1]);
	c->to = down[1];
	c->from = up[0];
	fcntl(c->to, F_SETFL, O_NONBLOCK); /* a child that does not read cannot block us */
	fcntl(c->from, F_SETFL, O_NONBLOCK);
	c->qpos = c->qlen = 0;
	k = read_frame(c, now_ms() + child_timeout_ms());
	if (k >= 1 && c->buf[0] == F_READY && parse_ready(c->buf + 1, (size_t)k - 1, &d) == 0) {
		int rc = mtd_plugin_desc_validate(&d, c->id, why, sizeof why);
		if (rc == 0 && c->desc.id[0] && strcmp(c->desc.id, d.id)) /* a restart */
			rc = MTD_EPLUGIN, snprintf(why, sizeof why, "its descriptor changed");
		if (rc) {
			mtd_child_clean_text(why);
			mtd_err(err, n, "%s: %s", c->path, why);
			reap(c, NULL);
			return MTD_EPLUGIN;
		}
		c->desc = d;
		return 0;
	}
	if (k >= 2 && c->buf[0] == F_FAIL) {
		char *t = (char *)c->buf + 2;
		mtd_child_clean_text(t);
		if (c->buf[1] == 'O')
			mtd_err(err, n, "%s: cannot open: %s", c->path, t);
		else
			mtd_err(err, n, "%s", t);
		reap(c, NULL);
		return MTD_EPLUGIN;
	}
	if (k == -2) {
		mtd_err(err, n, "%s: the plugin hung while loading (no answer within %d ms)",
			    c->path, child_timeout_ms());
		reap(c, NULL);
		return MTD_EPLUGIN;
	}
	reap(c, &status);
	how_it_ended(status, why, sizeof why);
	mtd_err(err, n, "%s: the plugin did not load: %s%s", c->path, why,
		    k < 0 && WIFEXITED(status)
			    ? " while loading (a constructor or its entry point ended it)" : "");
	return MTD_EPLUGIN;
}

int mtd_child_start(const char *path, const char *id, unsigned flags, mtd_child **out,
		    mtd_plugin_desc *desc, char *err, size_t n)
{
	mtd_child *c;
	int rc;

	*out = NULL;
	if ((rc = mtd_plugin_file(path, err, n)))
		return rc;
	c = calloc(1, sizeof *c);
	if (!c || !(c->path = strdup(path)) || !(c->id = strdup(id))) {
		if (c)
			free(c->path);
		free(c);
		mtd_err(err, n, "out of memory");
		return MTD_ENOMEM;
	}
	c->flags = flags;
	c->to = c->from = c->pid = -1;
	if (flags & MTD_CHILD_ISOLATE) {
		signal(SIGPIPE, SIG_IGN); /* a dead child shows as a write error instead */
		rc = spawn(c, err, n);
	} else if ((rc = mtd_plugin_load(path, id, &c->p, err, n)) == 0) {
		mtd_plugin_describe(c->p, &c->desc);
		if (!(flags & MTD_CHILD_NO_OPEN) &&
		    c->p->open(&host_api, NULL, &c->state, err, n) < 0) {
			char t[600];
			snprintf(t, sizeof t, "%s", n ? err : "");
			mtd_child_clean_text(t);
			mtd_err(err, n, "%s: cannot open: %s", path, t);
			c->p = NULL;
			rc = MTD_EPLUGIN;
		}
	}
	if (rc) {
		mtd_child_stop(c);
		return rc;
	}
	*desc = c->desc;
	*out = c;
	return 0;
}

/* What a plugin returned, as one of the defined codes (a 1.0 plugin may
 * return any negative value for a malformed payload). */
static int plugin_rc(int rc)
{
	return rc >= 0 ? MTD_PLUGIN_OK
	       : rc == MTD_PLUGIN_ENOMEM || rc == MTD_PLUGIN_EINTERNAL ? rc : MTD_PLUGIN_EMALFORMED;
}

/* A payload's frame header. */
static void frame_hdr(unsigned char hdr[5], int kind, size_t len)
{
	put_u32(hdr, (uint32_t)(len + 1));
	hdr[4] = (unsigned char)kind;
}

/* The in-process call. */
static int call_here(mtd_child *c, int kind, const void *data, size_t len,
		     const mtd_child_sink *sink, char *err, size_t n)
{
	const unsigned char *b = data;
	int rc;
	if (!c->p)
		return MTD_EPLUGIN;
	if (n)
		err[0] = '\0';
	if (kind == F_DECODE)
		rc = c->p->decode(c->state, &host_api, (void *)sink, data, len, err, n);
	else if (kind == F_TRANSLATE)
		rc = c->p->appsync_translate(c->state, &host_api, (void *)sink, data, len, err, n);
	else if (kind == F_APIDEC && len >= 8 && MTD_PLUGIN_HAS(c->p, api_decode))
		rc = c->p->api_decode(c->state, &host_api, (void *)sink, get_u32(b), get_u32(b + 4),
				      b + 8, len - 8, err, n);
	else if (kind == F_APIDESC) {
		mtd_buf fb = {0};
		rc = !MTD_PLUGIN_HAS(c->p, api) ? MTD_PLUGIN_EMALFORMED
		     : mtd_api_flatten(c->p->api, &fb) ? MTD_PLUGIN_ENOMEM
		     : sink->write ? sink->write(sink->ud, fb.data, fb.len) : 0;
		mtd_buf_free(&fb);
	} else
		rc = MTD_PLUGIN_EINTERNAL;
	if (n) {
		err[n - 1] = '\0';
		mtd_child_clean_text(err);
	}
	return plugin_rc(rc);
}

/* Take the child's answer to the payload it is on: its output to sink,
 * then its result. MTD_EPLUGIN (the process reaped, err saying why) when it
 * crashed, hung, or broke the protocol. */
static int collect(mtd_child *c, int kind, const mtd_child_sink *sink, char *err, size_t n,
		   int *frames)
{
	long long deadline = now_ms() + child_timeout_ms();
	const char *what = NULL;
	char why[400];
	int count = 0, status;

	for (;;) {
		long k = read_frame(c, deadline);
		if (k == -2) {
			snprintf(why, sizeof why, "it hung (no answer within %d ms) and was killed",
				 child_timeout_ms());
			what = why;
			goto broken;
		}
		if (k < 1) {
			reap(c, &status);
			how_it_ended(status, why, sizeof why);
			what = why;
			goto broken;
		}
		if (frames)
			(*frames)++;
		if ((c->buf[0] == F_MSG || c->buf[0] == F_ELEMENT) &&
		    ++count > MTD_CHILD_MAX_MESSAGES) {
			what = "it sent more messages than a payload may give";
			goto broken;
		}
		if (c->buf[0] == F_MSG && (kind == F_DECODE || kind == F_APIDEC)) {
			if (sink->emit)
				sink->emit(sink->ud, c->buf + 1, (size_t)k - 1);
			continue;
		}
		if (c->buf[0] == F_WRITE && (kind == F_TRANSLATE || kind == F_APIDESC)) {
			if (sink->write)
				sink->write(sink->ud, c->buf + 1, (size_t)k - 1);
			continue;
		}
		if (c->buf[0] == F_EVENT && (kind == F_DECODE || kind == F_APIDEC)) {
			char *id = (char *)c->buf + 1;
			if (!value_ok(id, MAX_EVENT_ID) || strlen(id) != (size_t)k - 1) {
				what = "it broke the pipe protocol";
				goto broken;
			}
			if (sink->event_id)
				sink->event_id(sink->ud, id);
			continue;
		}
		if (c->buf[0] == F_VALUE && kind == F_APIDEC) {
			char *name = (char *)c->buf + 1, *nul = memchr(name, 0, (size_t)k - 1);
			if (!nul || !value_ok(nul + 1, MAX_VALUE)) {
				what = "it broke the pipe protocol";
				goto broken;
			}
			if (sink->api_value)
				sink->api_value(sink->ud, name, nul + 1);
			continue;
		}
		if (c->buf[0] == F_ELEMENT && (kind == F_DECODE || kind == F_APIDEC)) {
			char *path = (char *)c->buf + 1, *nul = memchr(path, 0, (size_t)k - 1);
			if (!nul) {
				what = "it broke the pipe protocol";
				goto broken;
			}
			mtd_child_clean_text(path);
			mtd_child_clean_text(nul + 1);
			if (sink->element_error)
				sink->element_error(sink->ud, path, nul + 1);
			continue;
		}
		if (c->buf[0] == F_DONE && k >= 5) {
			int32_t rc = (int32_t)get_u32(c->buf + 1);
			mtd_err(err, n, "%s", (const char *)c->buf + 5);
			mtd_child_clean_text(err);
			return plugin_rc(rc);
		}
		what = "it broke the pipe protocol";
		goto broken;
	}
broken:
	mtd_err(err, n, "the plugin failed on this payload: %s; a fresh process takes the next one",
		    what);
	reap(c, NULL);
	return MTD_EPLUGIN;
}

static int too_large(int kind, size_t len, char *err, size_t n)
{
	if (len <= MAX_TRANSLATE && (kind != F_DECODE || len <= MTD_MAX_RECORD))
		return 0;
	mtd_err(err, n, "a payload of %zu bytes is too large for a plugin", len);
	return 1;
}

static int call(mtd_child *c, int kind, const void *data, size_t len, const mtd_child_sink *sink,
		char *err, size_t n)
{
	unsigned char hdr[5];
	long long deadline = now_ms() + child_timeout_ms();

	if (too_large(kind, len, err, n))
		return MTD_PLUGIN_EMALFORMED;
	if (!(c->flags & MTD_CHILD_ISOLATE))
		return call_here(c, kind, data, len, sink, err, n);
	if (c->pid < 0 && spawn(c, err, n))
		return MTD_EPLUGIN;
	frame_hdr(hdr, kind, len);
	/* a child that stopped reading is found out by collect */
	if (!pump_write(c, hdr, 5, deadline))
		pump_write(c, data, len, deadline);
	return collect(c, kind, sink, err, n, NULL);
}

int mtd_child_decode_batch(mtd_child *c, size_t np, const mtd_child_payload *pl,
			   const mtd_child_sink *sink, char *err, size_t n)
{
	size_t i = 0;
	int one_by_one = !(c->flags & MTD_CHILD_ISOLATE);
	while (i < np) {
		size_t sent = i;
		long long deadline = now_ms() + child_timeout_ms();
		if (one_by_one) { /* in-process, or finding which payload it was */
			int rc;
			if (sink->begin)
				sink->begin(sink->ud, i);
			rc = call(c, F_DECODE, pl[i].data, pl[i].len, sink, err, n);
			if (sink->end)
				sink->end(sink->ud, i, rc, err);
			i++;
			continue;
		}
		if (c->pid < 0 && spawn(c, err, n)) {
			for (; i < np; i++) { /* no process: every payload fails alike */
				if (sink->begin)
					sink->begin(sink->ud, i);
				if (sink->end)
					sink->end(sink->ud, i, MTD_EPLUGIN, err);
			}
			return 0;
		}
		/* all the payloads at once: the child answers while we write */
		while (sent < np) {
			unsigned char hdr[5];
			if (too_large(F_DECODE, pl[sent].len, err, n))
				break;
			frame_hdr(hdr, F_DECODE, pl[sent].len);
			if (pump_write(c, hdr, 5, deadline) ||
			    pump_write(c, pl[sent].data, pl[sent].len, deadline))
				break; /* collect finds out what became of it */
			sent++;
		}
		for (; i < np; i++) {
			int rc;
			if (i >= sent && !too_large(F_DECODE, pl[i].len, err, n))
				break; /* not sent: sent again */
			if (sink->begin)
				sink->begin(sink->ud, i);
			if (i >= sent) {
				rc = MTD_PLUGIN_EMALFORMED;
			} else {
				/* The child writes its answers in batches: when it
				 * dies (or hangs) its answers since its last write
				 * are lost, and which payload it was on is not
				 * known unless part of this one's answer came. The
				 * unknown ones are asked again, one at a time. */
				int frames = 0;
				rc = collect(c, F_DECODE, sink, err, n, &frames);
				if (rc == MTD_EPLUGIN && !frames) {
					one_by_one = 1;
					break;
				}
				if (rc == MTD_EPLUGIN) { /* this one: the rest again */
					if (sink->end)
						sink->end(sink->ud, i, rc, err);
					i++;
					break;
				}
			}
			if (sink->end)
				sink->end(sink->ud, i, rc, err);
		}
	}
	return 0;
}

int mtd_child_decode(mtd_child *c, const void *data, size_t len, const mtd_child_sink *sink,
		     char *err, size_t n)
{
	return call(c, F_DECODE, data, len, sink, err, n);
}

int mtd_child_translate(mtd_child *c, const void *data, size_t len, const mtd_child_sink *sink,
			char *err, size_t n)
{
	if (!(c->desc.fns & MTD_DESC_APPSYNC)) {
		mtd_err(err, n, "the %s plugin cannot translate an App Sync answer", c->desc.id);
		return MTD_PLUGIN_EINTERNAL;
	}
	return call(c, F_TRANSLATE, data, len, sink, err, n);
}

/* Collects the flattened description a write frame carries. */
static int desc_write(void *ud, const void *data, size_t len)
{
	return mtd_buf_put(ud, data, len);
}

int mtd_child_api(mtd_child *c, mtd_api_desc *d, char *err, size_t n)
{
	mtd_buf b = {0};
	mtd_child_sink sink = {.write = desc_write, .ud = &b};
	int rc;

	memset(d, 0, sizeof *d);
	if (!(c->desc.fns & MTD_DESC_API)) {
		mtd_err(err, n, "the %s plugin declares no API to fetch from (ABI 1.2): its "
			"vendor's data comes by push or file ingest", c->desc.id);
		return MTD_ENOTFOUND;
	}
	rc = call(c, F_APIDESC, "", 0, &sink, err, n);
	if (rc == 0)
		rc = mtd_api_read(b.data, b.len, d, err, n);
	else if (rc != MTD_EPLUGIN)
		rc = MTD_EPLUGIN;
	mtd_buf_free(&b);
	return rc;
}

int mtd_child_api_decode(mtd_child *c, uint32_t what, uint32_t endpoint, const void *data,
			 size_t len, const mtd_child_sink *sink, char *err, size_t n)
{
	unsigned char *b;
	int rc;
	if (!(c->desc.fns & MTD_DESC_API_DECODE)) {
		mtd_err(err, n, "the %s plugin has no api_decode", c->desc.id);
		return MTD_PLUGIN_EINTERNAL;
	}
	if (len > MAX_TRANSLATE - 8) {
		mtd_err(err, n, "a response of %zu bytes is too large for a plugin", len);
		return MTD_PLUGIN_EMALFORMED;
	}
	if (!(b = malloc(len + 8))) {
		mtd_err(err, n, "out of memory");
		return MTD_PLUGIN_ENOMEM;
	}
	put_u32(b, what), put_u32(b + 4, endpoint);
	if (len)
		memcpy(b + 8, data, len);
	rc = call(c, F_APIDEC, b, len + 8, sink, err, n);
	free(b);
	return rc;
}

int mtd_child_pid(const mtd_child *c)
{
	return c && c->pid > 0 ? (int)c->pid : -1;
}

void mtd_child_stop(mtd_child *c)
{
	if (!c)
		return;
	if (c->p && c->p->close && !(c->flags & MTD_CHILD_NO_OPEN))
		c->p->close(c->state);
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
	reap(c, NULL);
	free(c->q);
	free(c->buf);
	free(c->path);
	free(c->id);
	free(c);
}
