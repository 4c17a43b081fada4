/* See benchutil.h. */
#define _GNU_SOURCE /* program_invocation_short_name, wait4 */
#include "benchutil.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

double bench_mono(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

pid_t bench_spawn(const char *log, const char *out, char *const argv[])
{
	pid_t pid;
	fflush(NULL);
	if ((pid = fork()) < 0) {
		perror("fork");
		return -1;
	}
	if (pid == 0) {
		int fo = open(out ? out : "/dev/null", O_WRONLY | O_CREAT | O_TRUNC, 0600);
		int fe = open(log, O_WRONLY | O_CREAT | O_APPEND, 0600);
		if (fo < 0 || fe < 0 || dup2(fo, 1) < 0 || dup2(fe, 2) < 0)
			_exit(126);
		close(fo);
		close(fe);
		execvp(argv[0], argv);
		fprintf(stderr, "%s: %s\n", argv[0], strerror(errno));
		_exit(127);
	}
	return pid;
}

int bench_wait(pid_t pid, long *rss_kb)
{
	struct rusage ru;
	int status;
	pid_t w;
	while ((w = wait4(pid, &status, 0, &ru)) < 0 && errno == EINTR)
		;
	if (w < 0) {
		perror("wait4");
		return -1;
	}
	if (rss_kb)
		*rss_kb = ru.ru_maxrss;
	return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

int bench_write_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");
	if (!f || fputs(text, f) == EOF || fclose(f)) {
		perror(path);
		return -1;
	}
	return 0;
}

int bench_copy_file(const char *from, const char *to)
{
	char buf[1 << 16];
	int in = open(from, O_RDONLY), out = -1, rc = -1;
	ssize_t n = -1;
	char wal[PATH_MAX + 16];
	for (int k = 0; k < 2; k++) { /* no stale WAL or shm for the copy */
		snprintf(wal, sizeof wal, "%s%s", to, k ? "-shm" : "-wal");
		unlink(wal);
	}
	if (in >= 0 && (out = open(to, O_WRONLY | O_CREAT | O_TRUNC, 0600)) >= 0) {
		while ((n = read(in, buf, sizeof buf)) > 0)
			if (write(out, buf, (size_t)n) != n)
				break;
		rc = n == 0 && fsync(out) == 0 ? 0 : -1;
	}
	if (in >= 0)
		close(in);
	if (out >= 0 && close(out))
		rc = -1;
	if (rc)
		fprintf(stderr, "%s: copying %s to %s: %s\n", program_invocation_short_name, from, to,
			strerror(errno));
	return rc;
}

void bench_sibling(char *out, size_t n, const char *name)
{
	char self[PATH_MAX];
	ssize_t l = readlink("/proc/self/exe", self, sizeof self - 1);
	char *slash;
	self[l > 0 ? l : 0] = '\0';
	slash = strrchr(self, '/');
	if (slash)
		slash[1] = '\0';
	snprintf(out, n, "%s%s", slash ? self : "./", name);
}
