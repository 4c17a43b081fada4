/* plugin_check: the conformance checker behind 'mtdgate plugin check'. */
#define _DEFAULT_SOURCE /* mkstemp */
#include <dirent.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "codec.h"
#include "mtd_int.h"
#include "mtdgate/mtdgate.h"
#include "plugin_child.h"

#define MUTATIONS_PER_RECORD 300
#define CHECK_SECONDS 60 /* for all the robustness payloads */

typedef struct check {
	mtd_check_fn fn;
	void *ud;
	int failures;
	mtd_child *plugin; /* always in a child process: this is code on trial */
	mtd_plugin_desc d;
} check;

static void say(check *c, int ok, const char *fmt, ...)
{
	char line[1200];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(line, sizeof line, fmt, ap);
	va_end(ap);
	if (!ok)
		c->failures++;
	if (c->fn)
		c->fn(c->ud, ok, line);
}

/* Canonical JSON of a normalized message: what it means, not how it was
 * spelled (times as Unix seconds, fields in a fixed order). NULL when it is
 * not a valid message; why in err. */
static json_t *canonical(const void *mp, size_t len, char *err, size_t n)
{
	mtd_msg m;
	if (mtd_decode_msg(mp, len, &m, err, n))
		return NULL;
	return mtd_msg_json(&m);
}

/* Host side of the check: collects canonical messages. */
typedef struct collect {
	json_t *msgs; /* array */
	int invalid;
	unsigned elements; /* bad elements reported (ABI 1.1) */
	char why[600];
} collect;

static int c_emit(void *ud, const void *data, size_t len)
{
	collect *c = ud;
	size_t flen = 0;
	json_t *j = NULL;

	if (!data || len == 0 || len > MTD_MAX_RECORD) {
		c->invalid++;
		snprintf(c->why, sizeof c->why, "emitted an empty or oversized message");
		return -1;
	}
	if (mtd_msgpack_frame(data, len, &flen) == 1 && flen == len)
		j = canonical(data, len, c->why, sizeof c->why);
	else
		snprintf(c->why, sizeof c->why, "emitted bytes that are not one msgpack message");
	if (!j) {
		c->invalid++;
		return -1;
	}
	json_array_append_new(c->msgs, j);
	return 0;
}

static int c_element(void *ud, const char *path, const char *msg)
{
	collect *c = ud;
	(void)path;
	(void)msg;
	c->elements++;
	return 0;
}

/* The plugin's result; MTD_EPLUGIN when its process crashed or hung. */
static int decode(check *c, collect *col, const void *data, size_t len, char *err, size_t n)
{
	const mtd_child_sink sink = {.emit = c_emit, .element_error = c_element, .ud = col};
	err[0] = '\0';
	return mtd_child_decode(c->plugin, data, len, &sink, err, n);
}

/* Expected messages of NAME.out, canonical. */
static json_t *read_expected(check *c, const char *path)
{
	FILE *f = fopen(path, "rb");
	mtd_reader *r;
	mtd_record rec;
	json_t *all = json_array();
	char why[600];
	int k;

	if (!f) {
		say(c, 0, "%s: %s", path, strerror(errno));
		json_decref(all);
		return NULL;
	}
	r = mtd_reader_new(f, path);
	while (r && (k = mtd_reader_next(r, &rec, MTD_READ_BYTES, why, sizeof why)) != 0) {
		json_t *j = k > 0 ? canonical(rec.mp, rec.mp_len, why, sizeof why) : NULL;
		if (!j) {
			say(c, 0, "%s: expected message is not a valid normalized message: %s",
			    mtd_reader_where(r), why);
			continue;
		}
		json_array_append_new(all, j);
	}
	mtd_reader_free(r);
	fclose(f);
	return all;
}

static void run_fixture(check *c, const char *dir, const char *name, json_t *corpus)
{
	char in_path[4096], out_path[4096], why[600];
	size_t base = strlen(name) - 3;
	FILE *f;
	mtd_reader *r;
	mtd_record rec;
	collect col = {json_array(), 0, 0, ""};
	json_t *want;
	int k, bad = !strcmp(name, "bad.in");
	unsigned records = 0, refused = 0;

	snprintf(in_path, sizeof in_path, "%.3000s/%.900s", dir, name);
	snprintf(out_path, sizeof out_path, "%.3000s/%.*s.out", dir, (int)(base > 900 ? 900 : base), name);
	if (!(f = fopen(in_path, "rb"))) {
		say(c, 0, "%s: %s", in_path, strerror(errno));
		json_decref(col.msgs);
		return;
	}
	r = mtd_reader_new(f, in_path);
	while (r && (k = mtd_reader_next(r, &rec, MTD_READ_FRAME, why, sizeof why)) != 0) {
		int rc;
		if (k < 0) {
			say(c, 0, "%s: cannot frame the record: %s", mtd_reader_where(r), why);
			continue;
		}
		records++;
		json_array_append_new(corpus, json_stringn_nocheck(rec.raw, rec.raw_len));
		col.elements = 0;
		rc = decode(c, &col, rec.raw, rec.raw_len, why, sizeof why);
		if (rc == MTD_EPLUGIN) {
			say(c, 0, "%s: %s", mtd_reader_where(r), why);
		} else if (bad) {
			if (rc < 0 || col.elements)
				refused++;
			else
				say(c, 0, "%s: a bad record was accepted (decode returned %d)",
				    mtd_reader_where(r), rc);
		} else if (rc < 0) {
			say(c, 0, "%s: decode failed: %s", mtd_reader_where(r), why[0] ? why : "(no message)");
		}
		if (!bad && col.invalid) {
			say(c, 0, "%s: the plugin %s", mtd_reader_where(r), col.why);
			col.invalid = 0;
		}
	}
	mtd_reader_free(r);
	fclose(f);
	if (bad) {
		if (records)
			say(c, refused == records, "bad.in: %u of %u bad records refused", refused, records);
		json_decref(col.msgs);
		return;
	}
	want = read_expected(c, out_path);
	if (want) {
		size_t nw = json_array_size(want), ng = json_array_size(col.msgs);
		int same = nw == ng;
		for (size_t i = 0; i < nw && i < ng; i++)
			if (!json_equal(json_array_get(want, i), json_array_get(col.msgs, i))) {
				char *a = json_dumps(json_array_get(want, i), JSON_COMPACT | JSON_SORT_KEYS);
				char *b = json_dumps(json_array_get(col.msgs, i), JSON_COMPACT | JSON_SORT_KEYS);
				say(c, 0, "%s: message %zu differs:\n  expected %s\n  got      %s", name, i + 1,
				    a ? a : "?", b ? b : "?");
				free(a);
				free(b);
				same = 0;
				break;
			}
		if (nw != ng)
			say(c, 0, "%s: expected %zu messages, the plugin emitted %zu", name, nw, ng);
		if (same)
			say(c, 1, "%s: %u records, %zu messages as expected", name, records, ng);
		json_decref(want);
	}
	json_decref(col.msgs);
}

static int cmp_names(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static void run_fixtures(check *c, const char *dir, json_t *corpus)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	char *names[256];
	size_t n = 0;

	if (!d) {
		say(c, 0, "no fixtures: cannot read %s (a plugin ships NAME.in/NAME.out fixtures; "
			  "point to them with --fixtures DIR)", dir);
		return;
	}
	while ((e = readdir(d)) && n < 256) {
		size_t l = strlen(e->d_name);
		if (l > 3 && !strcmp(e->d_name + l - 3, ".in"))
			names[n++] = strdup(e->d_name);
	}
	closedir(d);
	qsort(names, n, sizeof *names, cmp_names);
	if (n == 0)
		say(c, 0, "no fixtures: %s has no NAME.in files", dir);
	for (size_t i = 0; i < n; i++) {
		if (names[i])
			run_fixture(c, dir, names[i], corpus);
		free(names[i]);
	}
}

/* ---- robustness, in a child ---- */

static uint64_t rng;
static uint32_t next_rand(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return (uint32_t)rng;
}

/* Build mutation number i of the corpus into buf; returns its length. */
static size_t mutation(json_t *corpus, uint64_t i, unsigned char *buf, size_t cap)
{
	size_t nrec = json_array_size(corpus), rec = (size_t)(i / MUTATIONS_PER_RECORD);
	unsigned k = (unsigned)(i % MUTATIONS_PER_RECORD);
	json_t *s;
	size_t len;

	rng = 0x9e3779b97f4a7c15ull ^ (i * 0x100000001b3ull) ^ 1;
	if (rec >= nrec) { /* pure garbage */
		len = next_rand() % cap;
		for (size_t b = 0; b < len; b++)
			buf[b] = (unsigned char)next_rand();
		return len;
	}
	s = json_array_get(corpus, rec);
	len = json_string_length(s);
	if (len > cap)
		len = cap;
	memcpy(buf, json_string_value(s), len);
	if (k < 100) /* truncations */
		return len ? (size_t)k * len / 100 : 0;
	for (unsigned flips = 1 + next_rand() % 8; flips && len; flips--) {
		size_t at = next_rand() % len;
		switch (next_rand() % 4) {
		case 0: buf[at] = (unsigned char)next_rand(); break;
		case 1: buf[at] ^= (unsigned char)(1u << (next_rand() % 8)); break;
		case 2: buf[at] = "{}[]\":,0-9e\\"[next_rand() % 12]; break;
		default: len = at; break;
		}
	}
	return len;
}

static long long mono_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Mutated payloads through the plugin's process: a crash or a hang costs
 * that process, and is reported with the payload saved. */
static void robustness(check *c, json_t *corpus)
{
	uint64_t total = (json_array_size(corpus) + 1) * MUTATIONS_PER_RECORD;
	long long deadline = mono_ms() + CHECK_SECONDS * 1000;
	static unsigned char buf[8192];
	char why[600];

	for (uint64_t i = 0; i < total; i++) {
		collect col = {json_array(), 0, 0, ""};
		size_t len = mutation(corpus, i, buf, sizeof buf);
		int rc = decode(c, &col, buf, len, why, sizeof why);
		json_decref(col.msgs);
		if (rc == MTD_EPLUGIN) {
			const char *tmp = getenv("TMPDIR");
			char path[4096];
			int fd;
			snprintf(path, sizeof path, "%.4000s/mtdgate-crash-XXXXXX", tmp && *tmp ? tmp : "/tmp");
			fd = mkstemp(path);
			if (fd >= 0) {
				if (write(fd, buf, len) != (ssize_t)len)
					path[0] = '\0';
				close(fd);
			}
			say(c, 0, "robustness: payload %llu: %s; saved in %s", (unsigned long long)i, why,
			    fd >= 0 && path[0] ? path : "(not saved)");
			return;
		}
		if (mono_ms() > deadline) {
			say(c, 0, "robustness: decoding %llu payloads took more than %d s",
			    (unsigned long long)i + 1, CHECK_SECONDS);
			return;
		}
	}
	say(c, 1, "robustness: %llu truncated, mutated and random payloads decoded without a crash",
	    (unsigned long long)total);
}

int mtd_plugin_check(mtd_t *h, const char *path, const char *fixtures_dir, mtd_check_fn fn,
		     void *ud)
{
	check c = {fn, ud, 0, NULL, {0}};
	char err[1000], id[64], dir[4096];
	const char *slash = strrchr(path, '/'), *base = slash ? slash + 1 : path;
	size_t bl = strlen(base);
	json_t *corpus;
	int rc;

	if (bl < 4 || strcmp(base + bl - 3, ".so") || bl - 3 >= sizeof id) {
		say(&c, 0, "%s: a plugin file is named <id>.so", path);
		return MTD_EUSAGE;
	}
	snprintf(id, sizeof id, "%.*s", (int)(bl - 3), base);
	if ((rc = mtd_check_trusted(h, path, "plugin", NULL))) {
		say(&c, 0, "%s", mtd_errmsg(h));
		return rc;
	}
	rc = mtd_child_start(path, id, MTD_CHILD_ISOLATE, &c.plugin, &c.d, err, sizeof err);
	if (rc) {
		say(&c, 0, "%s", err);
		/* a plugin that dies or lies while loading fails; a file that
		 * is not there cannot be checked */
		return rc == MTD_ENOTFOUND || rc == MTD_EIO ? MTD_EUSAGE : MTD_EPLUGIN;
	}
	say(&c, 1, "descriptor: %s \"%s\", ABI %u.%u, struct %u bytes (read in the plugin's own "
	    "process, pid %d)", c.d.id, c.d.name, MTD_PLUGIN_ABI_MAJOR_OF(c.d.abi_version),
	    MTD_PLUGIN_ABI_MINOR_OF(c.d.abi_version), c.d.struct_size, mtd_child_pid(c.plugin));
	if (!(c.d.capabilities & MTD_PLUGIN_CAP_THREAT))
		say(&c, 0, "descriptor: does not declare the threat capability every connector needs");
	if (fixtures_dir)
		snprintf(dir, sizeof dir, "%s", fixtures_dir);
	else
		snprintf(dir, sizeof dir, "%.*sfixtures/%s", (int)(base - path), path, id);
	corpus = json_array();
	run_fixtures(&c, dir, corpus);
	robustness(&c, corpus);
	json_decref(corpus);
	mtd_child_stop(c.plugin);
	return c.failures ? MTD_EPLUGIN : 0;
}
