/* What the benchmark programs share (mtdgate-bench, mtdgate-serve-bench):
 * child processes, files, the clock. Errors are printed to stderr prefixed
 * with the program's name; nothing here exits. */
#ifndef MTD_BENCHUTIL_H
#define MTD_BENCHUTIL_H

#include <stddef.h>
#include <sys/types.h>

/* Seconds of CLOCK_MONOTONIC. */
double bench_mono(void);

/* argv started (PATH lookup) with stdout to out (NULL: /dev/null) and
 * stderr appended to log: its pid, or -1. */
pid_t bench_spawn(const char *log, const char *out, char *const argv[]);

/* pid waited for: its exit status, -1 when it did not exit; its peak RSS
 * (KiB) into *rss_kb when not NULL. */
int bench_wait(pid_t pid, long *rss_kb);

/* text as the whole of path: 0, or -1 (said). */
int bench_write_file(const char *path, const char *text);

/* A closed store copied to to (whose stale -wal and -shm go first), synced
 * so that the step using it does not pay for writing it back: 0, or -1. */
int bench_copy_file(const char *from, const char *to);

/* The path of name in this program's directory, into out (n bytes). */
void bench_sibling(char *out, size_t n, const char *name);

#endif
