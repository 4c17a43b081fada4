/* The runner's shared helpers (cli.h): messages, exit statuses, progress,
 * argument helpers, input and JSON output. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"

const char prog[] = "mtdgate";
const char *cli_current;

int usage_error(const char *fmt, ...)
{
	va_list ap;
	fprintf(stderr, "%s: ", prog);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	if (cli_current)
		fprintf(stderr, "\n(see '%s help %s')\n", prog, cli_current);
	else
		fprintf(stderr, "\n(see '%s --help')\n", prog);
	return EX_USAGE_;
}

int exit_for(int rc)
{
	switch (rc) {
	case MTD_EOK: return EX_OK;
	case MTD_EUSAGE:
	case MTD_ENOTFOUND: return EX_USAGE_;
	case MTD_EMALFORMED: return EX_DATAERR_;
	case MTD_EREFUSED: return EX_REFUSED_;
	case MTD_EBUSY: return EX_TEMPFAIL_;
	default: return EX_INTERNAL_;
	}
}

/* s (may be NULL: "-") escaped for a terminal with mtd_escape, which every
 * human output passes what it prints from data through (19.5). The result
 * lives in one of a few rotating buffers: valid for the next 7 calls, enough
 * for one printf. NULL only when memory runs out ("?" is returned then). */
const char *esc(const char *s)
{
	static struct {
		char *p;
		size_t cap;
	} ring[8];
	static unsigned next;
	size_t n, need;
	unsigned k = next++ % 8;
	if (!s)
		return "-";
	n = strlen(s);
	need = mtd_escape(NULL, 0, s, n) + 1;
	if (need > ring[k].cap) {
		char *p = realloc(ring[k].p, need);
		if (!p)
			return "?";
		ring[k].p = p;
		ring[k].cap = need;
	}
	mtd_escape(ring[k].p, ring[k].cap, s, n);
	return ring[k].p;
}

int fail(mtd_t *h, int rc)
{
	fprintf(stderr, "%s: %s\n", prog, mtd_errmsg(h)[0] ? esc(mtd_errmsg(h)) : mtd_strerror(rc));
	return exit_for(rc);
}

void diag(void *ud, const char *msg)
{
	(void)ud;
	fprintf(stderr, "%s: %s\n", prog, esc(msg));
}

/* ---- progress on a terminal (stderr only; quiet when not a terminal) ---- */

typedef struct progress {
	struct timespec start, last;
	int drawn, tty, acks;
} progress;
static progress bar;

static double since(const struct timespec *a, const struct timespec *b)
{
	return (double)(b->tv_sec - a->tv_sec) + (double)(b->tv_nsec - a->tv_nsec) / 1e9;
}

static void on_progress(void *ud, const char *what, uint64_t done, uint64_t total,
			uint64_t records)
{
	progress *p = ud;
	struct timespec now;
	if (!strcmp(what, "waiting")) { /* for the store's write lock (done, total: ms) */
		if (p->tty)
			fprintf(stderr, "\r%s: waiting for the store, locked by another writer: %llu s of %llu ",
				prog, (unsigned long long)(done / 1000), (unsigned long long)(total / 1000));
		p->drawn = p->tty;
		return;
	}
	if (!strcmp(what, "committed")) {
		if (p->acks) {
			printf("acknowledged %llu records\n", (unsigned long long)records);
			fflush(stdout);
		}
		return;
	}
	if (!p->tty)
		return;
	double el, rate;
	int final = total && done >= total;
	clock_gettime(CLOCK_MONOTONIC, &now);
	if (!p->start.tv_sec && !p->start.tv_nsec)
		p->start = p->last = now;
	if (!final && since(&p->last, &now) < 0.2)
		return;
	p->last = now;
	el = since(&p->start, &now);
	if (el < 0.5 && !p->drawn)
		return; /* short runs need no bar */
	rate = el > 0 ? (double)records / el : 0;
	if (total) {
		double frac = (double)done / (double)total;
		int w = (int)(frac * 30);
		double eta = frac > 0 ? el / frac - el : 0;
		fprintf(stderr, "\r%-9s [%.*s%*s] %3.0f%%  %llu records  %.0f/s  ETA %d:%02d ", what, w,
			"##############################", 30 - w, "", frac * 100,
			(unsigned long long)records, rate, (int)eta / 60, (int)eta % 60);
	} else {
		fprintf(stderr, "\r%-9s %llu records  %.0f/s ", what, (unsigned long long)records, rate);
	}
	p->drawn = 1;
	if (final)
		fputc('\n', stderr);
}

void cli_progress_acks(void)
{
	bar.acks = 1;
}

void cli_progress_attach(mtd_t *h)
{
	bar.tty = isatty(STDERR_FILENO);
	if (bar.tty || bar.acks)
		mtd_set_progress(h, on_progress, &bar);
}

int fail_vendor(mtd_t *h, int rc, const char *vendor)
{
	int ex = fail(h, rc);
	cli_vendor_hint(h, vendor);
	return ex;
}

/* ---- argument helpers ---- */

int has_flag(opts *o, const char *flag)
{
	for (int i = o->npos; i < o->argc; i++)
		if (!strcmp(o->argv[i], flag)) {
			memmove(&o->argv[i], &o->argv[i + 1], (size_t)(o->argc - i - 1) * sizeof *o->argv);
			o->argc--;
			return 1;
		}
	return 0;
}

const char *flag_value(opts *o, const char *flag, int *bad)
{
	for (int i = o->npos; i < o->argc; i++)
		if (!strcmp(o->argv[i], flag)) {
			const char *v;
			if (i + 1 >= o->argc) {
				*bad = 1;
				return NULL;
			}
			v = o->argv[i + 1];
			memmove(&o->argv[i], &o->argv[i + 2], (size_t)(o->argc - i - 2) * sizeof *o->argv);
			o->argc -= 2;
			return v;
		}
	return NULL;
}

int no_more(opts *o, int want, const char *cmd)
{
	if (o->argc > o->npos)
		return usage_error("%s: option '%s' does not apply here", cmd, o->argv[o->npos]);
	if (o->npos != want)
		return usage_error("%s: expected %d argument(s), got %d", cmd, want - 1 > 0 ? want - 1 : 0,
				   o->npos - 1 > 0 ? o->npos - 1 : 0);
	return 0;
}

/* ---- "did you mean" ---- */

/* Edit distance of a[0..n) and b[0..m), adjacent transpositions counting
 * one (optimal string alignment); words longer than 63 are far. */
static size_t distance(const char *a, size_t n, const char *b, size_t m)
{
	size_t d[64][64];
	if (n > 63 || m > 63)
		return 64;
	for (size_t i = 0; i <= n; i++)
		d[i][0] = i;
	for (size_t j = 0; j <= m; j++)
		d[0][j] = j;
	for (size_t i = 1; i <= n; i++)
		for (size_t j = 1; j <= m; j++) {
			size_t cost = a[i - 1] != b[j - 1], v = d[i - 1][j - 1] + cost;
			if (d[i - 1][j] + 1 < v)
				v = d[i - 1][j] + 1;
			if (d[i][j - 1] + 1 < v)
				v = d[i][j - 1] + 1;
			if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] &&
			    d[i - 2][j - 2] + 1 < v)
				v = d[i - 2][j - 2] + 1;
			d[i][j] = v;
		}
	return d[n][m];
}

void cli_suggest_init(cli_suggest *s, const char *word)
{
	s->word = word;
	s->best[0] = '\0';
	s->dist = (size_t)-1;
}

void cli_suggest_addn(cli_suggest *s, const char *cand, size_t len)
{
	size_t n = strlen(s->word), d, limit = n <= 3 ? 1 : n <= 6 ? 2 : 3;
	if (!len || len >= sizeof s->best)
		return;
	d = distance(s->word, n, cand, len);
	/* a beginning of it ("conn" for "connector") is near too */
	if (n >= 3 && n < len && !strncmp(s->word, cand, n) && d > 1)
		d = 1;
	if (d == 0 || d > limit || d >= n || d >= s->dist)
		return;
	memcpy(s->best, cand, len);
	s->best[len] = '\0';
	s->dist = d;
}

void cli_suggest_add(cli_suggest *s, const char *cand)
{
	cli_suggest_addn(s, cand, strlen(cand));
}

void cli_suggest_words(cli_suggest *s, const char *words)
{
	while (*words) {
		size_t n = strcspn(words, " ");
		cli_suggest_addn(s, words, n);
		words += n + (words[n] == ' ');
	}
}

const char *cli_suggest_text(const cli_suggest *s)
{
	static char t[sizeof s->best + 32];
	if (!s->best[0])
		return "";
	snprintf(t, sizeof t, " (did you mean '%s'?)", esc(s->best));
	return t;
}

/* ---- vendor ids ---- */

static int near_plugin(void *ud, const mtd_plugin_info *p)
{
	cli_suggest *s = ud;
	if (!strcmp(p->id, s->word))
		s->dist = 0; /* a plugin by that name: no suggestion */
	else if (s->dist)
		cli_suggest_add(s, p->id);
	return 0;
}

void cli_vendor_hint(mtd_t *h, const char *vendor)
{
	cli_suggest s;
	if (!vendor || !*vendor)
		return;
	cli_suggest_init(&s, vendor);
	mtd_set_diag(h, NULL, NULL); /* a plugin that fails to list is not this error */
	if (!mtd_plugin_list(h, near_plugin, &s) && s.dist && s.best[0])
		fprintf(stderr, "%s: did you mean '%s'? (plugins: 'mtdgate plugin list')\n", prog,
			esc(s.best));
	mtd_set_diag(h, diag, NULL);
}

FILE *open_input(const char *path)
{
	if (!strcmp(path, "-"))
		return stdin;
	return fopen(path, "rb");
}

const char *input_name(const char *path)
{
	return strcmp(path, "-") ? path : "<stdin>";
}

static const char *bad_elements_text(uint64_t n)
{
	static char t[64];
	snprintf(t, sizeof t, ", %llu bad element%s", (unsigned long long)n, n == 1 ? "" : "s");
	return t;
}

void print_stats(const char *what, const mtd_stats *st, int with_rejected, cli_format fmt)
{
	if (fmt != CLI_TABLE) { /* one result: one JSON object, or a CSV header and row */
		static const cli_col ingest_cols[] = {
			{"", "records", CLI_COL_RAW},     {"", "accepted", CLI_COL_RAW},
			{"", "rejected", CLI_COL_RAW},    {"", "malformed", CLI_COL_RAW},
			{"", "bad_elements", CLI_COL_RAW}, {"", "parked", CLI_COL_RAW},
			{"", "unparked", CLI_COL_RAW},
		};
		static const cli_col import_cols[] = {
			{"", "records", CLI_COL_RAW},   {"", "imported", CLI_COL_RAW},
			{"", "malformed", CLI_COL_RAW}, {"", "unparked", CLI_COL_RAW},
		};
		char v[7][24];
		const char *cells[7];
		const uint64_t n[7] = {st->records,      st->accepted, st->rejected, st->malformed,
				       st->bad_elements, st->parked,   st->unparked};
		const int pick[2][7] = {{0, 1, 3, 6}, {0, 1, 2, 3, 4, 5, 6}};
		size_t ncols = with_rejected ? 7 : 4;
		for (size_t i = 0; i < ncols; i++) {
			snprintf(v[i], sizeof v[i], "%llu", (unsigned long long)n[pick[with_rejected][i]]);
			cells[i] = v[i];
		}
		cli_table *t = cli_table_new(fmt, with_rejected ? ingest_cols : import_cols, ncols);
		if (cli_table_end(t, t ? cli_table_row(t, cells) : MTD_ENOMEM))
			fprintf(stderr, "%s: %s: cannot write the counts\n", prog, esc(what));
		return;
	}
	if (with_rejected)
		printf("%s: %llu records, %llu accepted, %llu rejected, %llu malformed%s, %llu parked",
		       esc(what), (unsigned long long)st->records, (unsigned long long)st->accepted,
		       (unsigned long long)st->rejected, (unsigned long long)st->malformed,
		       st->bad_elements ? bad_elements_text(st->bad_elements) : "",
		       (unsigned long long)st->parked);
	else
		printf("%s: %llu records, %llu imported, %llu malformed", what,
		       (unsigned long long)st->records, (unsigned long long)st->accepted,
		       (unsigned long long)st->malformed);
	if (st->unparked)
		printf(", %llu parked before now applied", (unsigned long long)st->unparked);
	putchar('\n');
}

void print_check(void *ud, int ok, const char *msg)
{
	(void)ud;
	printf("%s %s\n", ok == 2 ? "warn" : ok ? "ok  " : "FAIL", esc(msg));
}

/* ---- JSON lines, written directly ---- */

int buf_lit(mtd_buf *b, const char *lit)
{
	return mtd_buf_put(b, lit, strlen(lit));
}

int buf_str(mtd_buf *b, const char *s)
{
	size_t n = strlen(s);
	if (mtd_buf_room(b, MTD_JSON_STR_MAX(n)))
		return -1;
	b->len += mtd_json_str((char *)b->data + b->len, s, n);
	return 0;
}

/* A JSON value: the literal when non-NULL, else null. */
int buf_str_or_null(mtd_buf *b, const char *s)
{
	return s ? buf_str(b, s) : buf_lit(b, "null");
}

/* b as one line on stdout. */
int buf_line(mtd_buf *b)
{
	if (buf_lit(b, "\n"))
		return MTD_ENOMEM;
	return fwrite(b->data, 1, b->len, stdout) == b->len ? 0 : MTD_EIO;
}

int write_stdout(void *ud, const void *data, size_t len)
{
	(void)ud;
	return fwrite(data, 1, len, stdout) == len ? 0 : -1;
}

