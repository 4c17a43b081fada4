/* Replays saved inputs through a fuzz target's LLVMFuzzerTestOneInput, so
 * that the seed corpus and every regression run in the ordinary test suite
 * (gcc or clang, with or without sanitizers) without libFuzzer.
 *
 *   fuzz_X_replay [--records] PATH...
 *   fuzz_X_replay --split OUTDIR PATH...
 *
 * PATH is a file or a directory (its regular files, sorted by name, not
 * recursive, names starting with '.' skipped); a directory that does not
 * exist is skipped, so an empty regressions/ folder need not be kept.
 * Each file is one input. After --records, each record of the following
 * files, framed as the host frames vendor input (a JSON line, or one msgpack
 * object), is one input: that is how a vendor's fixtures feed its decoder.
 * --split writes those records as files into OUTDIR instead of running
 * them (tools/fuzz uses it to seed the vendor fuzzers). Each input is
 * handed over in a heap buffer of exactly its size so that ASan sees any
 * read past its end; one that runs longer than 10 s aborts the run as a
 * hang, naming the input. */
#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "codec.h"
#include "fuzz.h"
#include "mtdgate/mtdgate.h"

/* Seconds one input may take before it counts as a hang (libFuzzer's
 * -timeout in tools/fuzz is 10 too). */
#define INPUT_TIMEOUT 10

static unsigned long ninputs, nsplit;
static const char *split_dir;
static char current[1200];

static void on_alarm(int sig)
{
	static const char m1[] = "replay: hang: more than 10 s on ";
	(void)sig;
	/* async-signal-safe: write(2) only */
	if (write(2, m1, sizeof m1 - 1) < 0 || write(2, current, strlen(current)) < 0 ||
	    write(2, "\n", 1) < 0)
		_exit(3);
	abort();
}

static void run_one(const void *data, size_t len, const char *what)
{
	void *copy = malloc(len ? len : 1);
	if (!copy) {
		fprintf(stderr, "replay: out of memory\n");
		exit(1);
	}
	if (getenv("MTD_FUZZ_VERBOSE"))
		fprintf(stderr, "replay: %s\n", what);
	snprintf(current, sizeof current, "%s", what);
	memcpy(copy, data, len);
	alarm(INPUT_TIMEOUT);
	LLVMFuzzerTestOneInput(copy, len);
	alarm(0);
	free(copy);
	ninputs++;
}

static void split_one(const void *data, size_t len, const char *path, unsigned long k)
{
	const char *base = strrchr(path, '/');
	char name[512];

	snprintf(name, sizeof name, "%s-%04lu", base ? base + 1 : path, k);
	fuzz_write_file(split_dir, name, data, len);
	nsplit++;
}

static int read_file(const char *path, unsigned char **out, size_t *len)
{
	FILE *f = fopen(path, "rb");
	unsigned char *b = NULL;
	size_t cap = 0, n = 0, got;

	if (!f)
		return -1;
	do {
		if (n == cap) {
			unsigned char *nb = realloc(b, cap = cap ? cap * 2 : 4096);
			if (!nb) {
				free(b);
				fclose(f);
				return -1;
			}
			b = nb;
		}
		got = fread(b + n, 1, cap - n, f);
		n += got;
	} while (got > 0);
	if (ferror(f)) {
		free(b);
		fclose(f);
		return -1;
	}
	fclose(f);
	*out = b;
	*len = n;
	return 0;
}

/* Each record of path, framed with parse 0 (as native ingest does). */
static void each_record(const char *path)
{
	FILE *f = fopen(path, "rb");
	mtd_reader *r;
	mtd_record rec;
	char err[600], what[1200];
	unsigned long k = 0;
	int rc;

	if (!f || !(r = mtd_reader_new(f, path))) {
		fprintf(stderr, "replay: %s: %s\n", path, strerror(errno));
		exit(1);
	}
	while ((rc = mtd_reader_next(r, &rec, 0, err, sizeof err)) != 0) {
		if (rc < 0)
			continue; /* a record the host itself refuses to frame */
		k++;
		if (split_dir) {
			split_one(rec.raw, rec.raw_len, path, k);
		} else {
			snprintf(what, sizeof what, "%s record %lu", path, k);
			run_one(rec.raw, rec.raw_len, what);
		}
	}
	mtd_reader_free(r);
	fclose(f);
}

static void one_file(const char *path, int records)
{
	unsigned char *b;
	size_t n;

	if (records || split_dir) {
		each_record(path);
		return;
	}
	if (read_file(path, &b, &n)) {
		fprintf(stderr, "replay: %s: %s\n", path, strerror(errno));
		exit(1);
	}
	run_one(b, n, path);
	free(b);
}

static int by_name(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static void one_path(const char *path, int records)
{
	struct stat st;
	DIR *d;
	struct dirent *e;
	char **names = NULL;
	size_t n = 0, cap = 0;

	if (stat(path, &st)) {
		if (errno == ENOENT)
			return; /* e.g. no regressions yet */
		fprintf(stderr, "replay: %s: %s\n", path, strerror(errno));
		exit(1);
	}
	if (!S_ISDIR(st.st_mode)) {
		one_file(path, records);
		return;
	}
	if (!(d = opendir(path))) {
		fprintf(stderr, "replay: %s: %s\n", path, strerror(errno));
		exit(1);
	}
	while ((e = readdir(d))) {
		char p[4096];
		if (e->d_name[0] == '.')
			continue;
		snprintf(p, sizeof p, "%s/%s", path, e->d_name);
		if (stat(p, &st) || !S_ISREG(st.st_mode))
			continue;
		if (n == cap) {
			char **nn = realloc(names, (cap = cap ? cap * 2 : 64) * sizeof *names);
			if (!nn)
				exit(1);
			names = nn;
		}
		if (!(names[n++] = strdup(p)))
			exit(1);
	}
	closedir(d);
	if (n)
		qsort(names, n, sizeof *names, by_name);
	for (size_t i = 0; i < n; i++) {
		one_file(names[i], records);
		free(names[i]);
	}
	free(names);
}

int main(int argc, char **argv)
{
	int records = 0, i = 1;

	if (argc > 1 && (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help"))) {
		printf("usage: %s [--records] PATH...\n"
		       "       %s --split OUTDIR PATH...\n"
		       "Runs each file (or, after --records, each record of each file) of\n"
		       "PATH (files or directories) through the fuzz target once.\n",
		       argv[0], argv[0]);
		return 0;
	}
	signal(SIGALRM, on_alarm);
	if (argc > 2 && !strcmp(argv[1], "--split")) {
		split_dir = argv[2];
		i = 3;
	}
	for (; i < argc; i++) {
		if (!strcmp(argv[i], "--records")) {
			records = 1;
			continue;
		}
		one_path(argv[i], records);
	}
	if (split_dir)
		printf("split %lu records into %s\n", nsplit, split_dir);
	else
		printf("replayed %lu inputs\n", ninputs);
	return 0;
}
