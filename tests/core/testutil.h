/* Helpers shared by the core unit tests: a fresh temporary directory per
 * test, files written into it, and a child process for code that might
 * crash or hang (so that a bug fails one test instead of the whole run). */
#ifndef MTD_TESTUTIL_H
#define MTD_TESTUTIL_H

#include <errno.h>
#include <ftw.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

/* A substring assertion that prints both strings when it fails. */
#define assert_contains(hay, needle)                                                  \
	do {                                                                          \
		const char *h_ = (hay), *n_ = (needle);                               \
		if (!h_ || !strstr(h_, n_))                                           \
			fail_msg("expected \"%s\" in \"%s\"", n_, h_ ? h_ : "(null)"); \
	} while (0)

#define assert_not_contains(hay, needle)                                              \
	do {                                                                          \
		const char *h_ = (hay), *n_ = (needle);                               \
		if (h_ && strstr(h_, n_))                                             \
			fail_msg("did not expect \"%s\" in \"%s\"", n_, h_);          \
	} while (0)

/* One line: no newline in a message meant for a single diagnostic line. */
#define assert_one_line(s) assert_null(strchr((s), '\n'))

static inline int tu_rm_one(const char *p, const struct stat *sb, int flag,
			    struct FTW *ftw)
{
	(void)sb;
	(void)flag;
	(void)ftw;
	return remove(p);
}

/* mkdtemp under $TMPDIR (or /tmp). dir must hold 256 bytes. */
static inline void tu_mkdtemp(char *dir, const char *tag)
{
	const char *t = getenv("TMPDIR");
	size_t nt, ng = strlen(tag);
	if (!t || !*t || strlen(t) > 160)
		t = "/tmp";
	if (ng > 32)
		ng = 32;
	nt = strlen(t);
	/* built by hand: gcc's -Wformat-truncation misfires here under ASan */
	memcpy(dir, t, nt);
	memcpy(dir + nt, "/mtdtest_", 9);
	memcpy(dir + nt + 9, tag, ng);
	memcpy(dir + nt + 9 + ng, "_XXXXXX", 8);
	if (!mkdtemp(dir))
		fail_msg("mkdtemp %s: %s", dir, strerror(errno));
}

static inline void tu_rmtree(const char *dir)
{
	if (dir && dir[0])
		nftw(dir, tu_rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

/* dir/name, into a static rotating buffer (enough for a test's lifetime). */
static inline const char *tu_path(const char *dir, const char *name)
{
	static char bufs[8][512];
	static int k;
	char *b = bufs[k++ & 7];
	snprintf(b, 512, "%s/%s", dir, name);
	return b;
}

static inline void tu_write(const char *dir, const char *name, const void *data,
			    size_t len)
{
	const char *p = tu_path(dir, name);
	FILE *f = fopen(p, "wb");
	if (!f)
		fail_msg("cannot write %s: %s", p, strerror(errno));
	if (len && fwrite(data, 1, len, f) != len)
		fail_msg("short write to %s", p);
	fclose(f);
}

static inline void tu_write_str(const char *dir, const char *name, const char *text)
{
	tu_write(dir, name, text, strlen(text));
}

/* Read a whole file (malloc'ed, NUL-terminated); NULL when it cannot. */
static inline char *tu_read(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	char *b = NULL;
	size_t n = 0, cap = 0, got;
	if (!f)
		return NULL;
	do {
		if (cap - n < 4096) {
			char *nb = realloc(b, cap = cap * 2 + 8192);
			if (!nb) {
				free(b);
				fclose(f);
				return NULL;
			}
			b = nb;
		}
		got = fread(b + n, 1, cap - n - 1, f);
		n += got;
	} while (got > 0);
	fclose(f);
	b[n] = '\0';
	if (len)
		*len = n;
	return b;
}

/* Run fn(arg) in a child process with a wall-clock limit of `seconds`.
 * fn returns the child's exit status. Returns the raw wait status; use
 * tu_child_ok() / tu_describe() on it. Nothing of the child (leaks, a
 * crash, an abort, a hang) reaches this process. */
typedef int (*tu_child_fn)(void *arg);

static inline int tu_run_child(tu_child_fn fn, void *arg, unsigned seconds)
{
	pid_t pid;
	int status = 0;

	fflush(NULL);
	pid = fork();
	if (pid < 0)
		fail_msg("fork: %s", strerror(errno));
	if (pid == 0) {
		alarm(seconds);
		_exit(fn(arg));
	}
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	return status;
}

static inline const char *tu_describe(int status)
{
	static char buf[128];
	if (WIFEXITED(status))
		snprintf(buf, sizeof buf, "exited with status %d", WEXITSTATUS(status));
	else if (WIFSIGNALED(status) && WTERMSIG(status) == SIGALRM)
		snprintf(buf, sizeof buf, "did not finish within its time limit (hang)");
	else if (WIFSIGNALED(status))
		snprintf(buf, sizeof buf, "was killed by signal %d (%s)", WTERMSIG(status),
			 strsignal(WTERMSIG(status)));
	else
		snprintf(buf, sizeof buf, "ended with wait status 0x%x", status);
	return buf;
}

#define assert_child_ok(status, what)                                                 \
	do {                                                                          \
		int s_ = (status);                                                    \
		if (!WIFEXITED(s_) || WEXITSTATUS(s_) != 0)                           \
			fail_msg("%s: the child %s", (what), tu_describe(s_));       \
	} while (0)

#endif
