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

int usage_error(const char *fmt, ...)
{
	va_list ap;
	fprintf(stderr, "%s: ", prog);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
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

/* ---- argument helpers ---- */

int has_flag(opts *o, const char *flag)
{
	for (int i = 0; i < o->argc; i++)
		if (!strcmp(o->argv[i], flag)) {
			memmove(&o->argv[i], &o->argv[i + 1], (size_t)(o->argc - i - 1) * sizeof *o->argv);
			o->argc--;
			return 1;
		}
	return 0;
}

const char *flag_value(opts *o, const char *flag, int *bad)
{
	for (int i = 0; i < o->argc; i++)
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
	for (int i = 0; i < o->argc; i++)
		if (o->argv[i][0] == '-' && o->argv[i][1])
			return usage_error("%s: unknown option '%s'", cmd, o->argv[i]);
	if (o->argc != want)
		return usage_error("%s: expected %d argument(s), got %d", cmd, want - 1 > 0 ? want - 1 : 0,
				   o->argc - 1 > 0 ? o->argc - 1 : 0);
	return 0;
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

void print_stats(const char *what, const mtd_stats *st, int with_rejected)
{
	if (with_rejected)
		printf("%s: %llu records, %llu accepted, %llu rejected, %llu malformed%s, %llu parked",
		       what, (unsigned long long)st->records, (unsigned long long)st->accepted,
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

