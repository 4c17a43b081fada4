/* Helpers shared by the fuzz targets. */
#include <dirent.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fuzz.h"

void fuzz_fail(const char *file, int line, const char *what)
{
	fprintf(stderr, "%s:%d: fuzz check failed: %s\n", file, line, what);
	abort();
}

size_t fuzz_ctl_bytes(const char *s, size_t n)
{
	size_t k = 0;
	for (size_t i = 0; i < n; i++)
		k += (unsigned char)s[i] < 0x20 || s[i] == 0x7f;
	return k;
}

FILE *fuzz_memfile(const uint8_t *data, size_t size)
{
	/* fmemopen refuses a zero size; an empty input is /dev/null. */
	FILE *f = size ? fmemopen((void *)data, size, "rb") : fopen("/dev/null", "rb");
	if (!f) {
		perror("fuzz: fmemopen");
		abort();
	}
	return f;
}

static char tmpdir[512];

static void rm_tmpdir(void)
{
	DIR *d;
	struct dirent *e;
	char p[1024];

	if (!tmpdir[0] || !(d = opendir(tmpdir)))
		return;
	while ((e = readdir(d))) {
		if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
			continue;
		snprintf(p, sizeof p, "%s/%s", tmpdir, e->d_name);
		unlink(p);
	}
	closedir(d);
	rmdir(tmpdir);
}

const char *fuzz_tmpdir(void)
{
	struct stat st;
	const char *base;

	if (tmpdir[0])
		return tmpdir;
	base = getenv("TMPDIR");
	if (!base || !*base)
		base = stat("/dev/shm", &st) == 0 && S_ISDIR(st.st_mode) &&
				       access("/dev/shm", W_OK) == 0
			       ? "/dev/shm"
			       : "/tmp";
	snprintf(tmpdir, sizeof tmpdir, "%s/mtdfuzz-XXXXXX", base);
	if (!mkdtemp(tmpdir)) {
		fprintf(stderr, "fuzz: mkdtemp %s: %s\n", tmpdir, strerror(errno));
		abort();
	}
	atexit(rm_tmpdir);
	return tmpdir;
}

void fuzz_write_file(const char *dir, const char *name, const void *data, size_t size)
{
	char p[1024];
	FILE *f;

	snprintf(p, sizeof p, "%s/%s", dir, name);
	f = fopen(p, "wb");
	if (!f || (size && fwrite(data, 1, size, f) != size) || fclose(f)) {
		fprintf(stderr, "fuzz: cannot write %s: %s\n", p, strerror(errno));
		abort();
	}
}
