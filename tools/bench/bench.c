/* mtdgate-bench: end-to-end benchmark of the real mtdgate binary on a
 * synthetic tenant, against a hand-written C evaluator, raw SQLite inserts
 * and Cedar. See usage() and README.md ("Performance"). */
#define _DEFAULT_SOURCE /* wait4() */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <sqlite3.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "benchutil.h"
#include "store.h" /* the layout of decision blocks, shared with mtdgate */

#define STR_(x) #x
#define STR(x) STR_(x)
#define NOW "2026-11-18T13:10:00Z" /* after fleetgen's day 1 (R13: no report from the future); connectors are fresh */
enum { LV_NONE, LV_SECURED, LV_LOW, LV_MEDIUM, LV_HIGH };
enum { ST_COMPLIANT, ST_NONCOMPLIANT, ST_GRACE, ST_NOT_EVALUATED }; /* core/rules.h */

/* rules/groups.lua, max_level only (grace_hours is unset there, so 0): the
 * strictest of default and the device's configured groups wins. Keep in
 * step with that file; the agreement check catches any drift. */
static const struct {
	const char *group;
	int max_level;
} thresholds[] = {{"default", LV_MEDIUM}, {"Executives", LV_LOW}};
#define NTHRESH (sizeof thresholds / sizeof *thresholds)

static const char *const usage_text =
	"usage: mtdgate-bench [--devices N] [--repeat N] [--cedar-sample N] [--keep DIR] [--no-cedar]\n"
	"                     [--mtdgate PATH] [--fleetgen PATH]\n\n"
	"Generates a tenant of N devices with fleetgen (4 platforms, 5 groups, one threat\n"
	"report each), then times the real mtdgate binary on it (init, connector add +\n"
	"provision, device import, ingest, evaluate, report --json), each in its own\n"
	"process: wall time, rate and the child's peak RSS. Then:\n"
	"  (a) a hand-written C evaluator of the same threshold rule over the same store,\n"
	"      writing its decisions in one transaction to a separate database file,\n"
	"      packed as mtdgate packs its own (core/store.h);\n"
	"  (b) the same report rows upserted with one prepared statement in one\n"
	"      transaction into a fresh database with the same reports table;\n"
	"  (c) Cedar (@cedar-policy/cedar-wasm under node) deciding a sample of devices;\n"
	"      installed with npm into $XDG_CACHE_HOME/mtdgate-bench/cedar (or\n"
	"      ~/.cache/...) on first use; skipped with the reason when node/npm fail.\n"
	"Ingest and evaluate are each run --repeat times from the same snapshot of the\n"
	"store, each run right before its baseline ((b), (a)), and the medians compared:\n"
	"this machine is shared and noisy. (a) and (b) run in a new process of this\n"
	"program each (--baseline c|raw DIR), as every mtdgate step does, and time the\n"
	"work proper (their reading of the rows to upsert is not timed). Checks that\n"
	"mtdgate, (a) and (c) agree on every shared device and prints the goals with\n"
	"met/missed.\n\n"
	"  --devices N       tenant size (default 1000000)\n"
	"  --repeat N        runs of ingest, evaluate and their baselines (default 5)\n"
	"  --cedar-sample N  devices Cedar decides (default 10000)\n"
	"  --keep DIR        work in DIR (created) and keep the data, stores and logs;\n"
	"                    default: a temporary directory, removed at the end\n"
	"  --no-cedar        skip (c)\n"
	"  --mtdgate PATH    the mtdgate binary (default: next to this program)\n"
	"  --fleetgen PATH   the fleetgen binary (default: next to this program)\n\n"
	"Exit status: 0 when everything ran and all evaluators agree (missed goals do\n"
	"not fail), 1 on disagreement, 2 when a step failed, 64 on usage errors.\n";

static char workdir[PATH_MAX], store[PATH_MAX + 16];
static char mtdgate[PATH_MAX], fleetgen[PATH_MAX];

static void path_in(char *out, size_t n, const char *name)
{
	if (snprintf(out, n, "%s/%s", workdir, name) >= (int)n) {
		fprintf(stderr, "bench: %s: path too long\n", workdir);
		exit(2);
	}
}

/* ---- child processes ---- */

typedef struct mstep {
	const char *name;
	double items, secs;
	long rss_kb;
} mstep;

/* Run argv (PATH lookup) with stdout to out (NULL: /dev/null) and stderr
 * appended to workdir/log. Returns the exit status, -1 when it did not exit. */
static int run(const char *out, char *const argv[], double *secs, long *rss_kb)
{
	char log[PATH_MAX + 16];
	double t0 = bench_mono();
	pid_t pid;
	int rc;

	path_in(log, sizeof log, "log");
	if ((pid = bench_spawn(log, out, argv)) < 0)
		return -1;
	rc = bench_wait(pid, rss_kb);
	if (secs)
		*secs = bench_mono() - t0;
	return rc;
}

/* A timed mtdgate run as step st; a failure is said with the log to read. */
static int run_step(mstep *st, const char *out, char *const argv[])
{
	int rc = run(out, argv, &st->secs, &st->rss_kb);
	if (rc)
		fprintf(stderr, "bench: mtdgate %s failed (status %d); see %s/log\n", st->name, rc,
			workdir);
	return rc;
}

/* mtdgate --db STORE --now NOW args..., timed as st. */
static int mtd(mstep *st, const char *out, ...)
{
	char *argv[16] = {mtdgate, "--db", store, "--now", NOW};
	int argc = 5;
	va_list ap;
	va_start(ap, out);
	while (argc < 15 && (argv[argc] = va_arg(ap, char *)))
		argc++;
	va_end(ap);
	argv[argc] = NULL;
	return run_step(st, out, argv);
}

/* mtdgate --db db [--rules rules] --now NOW evaluate, stdout to out. */
static int mtd_eval_on(mstep *st, const char *db, const char *rules, const char *out)
{
	char *argv[12] = {mtdgate, "--db", (char *)db, "--now", NOW};
	int argc = 5;
	if (rules) {
		argv[argc++] = "--rules";
		argv[argc++] = (char *)rules;
	}
	argv[argc++] = "evaluate";
	argv[argc] = NULL;
	return run_step(st, out, argv);
}

/* "evaluated N devices, M decisions changed": M, or -1. */
static long changed_in(const char *path)
{
	char line[256];
	long n = -1, m = -1;
	FILE *f = fopen(path, "r");
	if (!f)
		return -1;
	if (fgets(line, sizeof line, f) && sscanf(line, "evaluated %ld devices, %ld", &n, &m) != 2)
		m = -1;
	fclose(f);
	return m;
}

static int mkdir_p(const char *dir)
{
	char p[PATH_MAX];
	snprintf(p, sizeof p, "%s", dir);
	for (char *s = p + 1; *s; s++)
		if (*s == '/') {
			*s = '\0';
			if (mkdir(p, 0700) && errno != EEXIST)
				return -1;
			*s = '/';
		}
	return mkdir(p, 0700) && errno != EEXIST ? -1 : 0;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

/* Lowest and highest of v[0..n). */
static void span(const double *v, int n, double *lo, double *hi)
{
	*lo = *hi = v[0];
	for (int i = 1; i < n; i++) {
		if (v[i] < *lo)
			*lo = v[i];
		if (v[i] > *hi)
			*hi = v[i];
	}
}

/* The median of v[0..n) (sorted in place). */
static double median(double *v, int n)
{
	qsort(v, (size_t)n, sizeof *v, cmp_double);
	return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

/* ---- SQLite helpers ---- */

static int sqlerr(sqlite3 *db, const char *what)
{
	fprintf(stderr, "bench: %s: %s\n", what, sqlite3_errmsg(db));
	return -1;
}

/* One statement, prepared, stepped to the end. */
static int exec1(sqlite3 *db, const char *sql)
{
	sqlite3_stmt *st;
	int rc;
	if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK)
		return sqlerr(db, sql);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW)
		;
	sqlite3_finalize(st);
	return rc == SQLITE_DONE ? 0 : sqlerr(db, sql);
}

static sqlite3 *open_db(const char *path, int create)
{
	sqlite3 *db = NULL;
	/* the flags and pragmas core/store.c opens every connection with */
	int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX | (create ? SQLITE_OPEN_CREATE : 0);
	if (sqlite3_open_v2(path, &db, flags, NULL) != SQLITE_OK) {
		fprintf(stderr, "bench: %s: %s\n", path, db ? sqlite3_errmsg(db) : "cannot open");
		sqlite3_close(db);
		return NULL;
	}
	if (exec1(db, "PRAGMA journal_mode = WAL") || exec1(db, "PRAGMA synchronous = FULL") ||
	    exec1(db, "PRAGMA foreign_keys = ON") || exec1(db, "PRAGMA temp_store = MEMORY") ||
	    exec1(db, "PRAGMA cache_size = -65536")) {
		sqlite3_close(db);
		return NULL;
	}
	return db;
}

/* A scan of a decision_blocks table in block order, read as devices in
 * id order ask for their slots. */
typedef struct bscan {
	sqlite3_stmt *st;
	int step;    /* of the current row */
	int64_t blk; /* of the current row; INT64_MAX past the end */
	int64_t decoded; /* the block in s; -1 none */
	mtd_dslot s[MTD_DBLOCK_SLOTS];
} bscan;

static int bscan_open(sqlite3 *db, bscan *b, const char *table)
{
	char sql[128];
	snprintf(sql, sizeof sql, "SELECT blk, entries FROM %s ORDER BY blk", table);
	b->blk = b->decoded = -1;
	if (sqlite3_prepare_v2(db, sql, -1, &b->st, NULL) != SQLITE_OK)
		return sqlerr(db, sql);
	b->step = SQLITE_ROW;
	return 0;
}

/* The slot of device id (ids asked in increasing order): 1 when its block
 * is stored, 0 when not, -1 on an error or a block that does not decode. */
static int bscan_slot(sqlite3 *db, bscan *b, int64_t id, mtd_dslot *out)
{
	int64_t want = id / MTD_DBLOCK_SLOTS;
	while (b->step == SQLITE_ROW && b->blk < want) {
		b->step = sqlite3_step(b->st);
		b->blk = b->step == SQLITE_ROW ? sqlite3_column_int64(b->st, 0) : INT64_MAX;
	}
	if (b->step != SQLITE_ROW && b->step != SQLITE_DONE)
		return sqlerr(db, "scanning decision blocks");
	if (b->blk != want)
		return 0;
	if (b->decoded != want) {
		char why[256];
		if (mtd_dblock_column(b->st, 1, want, b->s, why, sizeof why)) {
			fprintf(stderr, "bench: %s\n", why);
			return -1;
		}
		b->decoded = want;
	}
	*out = b->s[id % MTD_DBLOCK_SLOTS];
	return 1;
}

/* ---- (a) the C evaluator ---- */

typedef struct conn {
	int64_t id;
	unsigned platforms;
	int missing_blocks, unsupported_blocks, defender;
} conn;

/* Strictest max_level of each group set, indexed by groupset id. */
static int load_allowed(sqlite3 *db, int **out, size_t *n)
{
	sqlite3_stmt *st;
	int rc, *v = NULL;
	size_t cap = 0;
	if (sqlite3_prepare_v2(db, "SELECT id, key FROM groupsets", -1, &st, NULL) != SQLITE_OK)
		return sqlerr(db, "reading groupsets");
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		int64_t id = sqlite3_column_int64(st, 0);
		const char *key = (const char *)sqlite3_column_text(st, 1);
		int max = thresholds[0].max_level;
		if (id < 0 || id > 10000000 || !key)
			break;
		if ((size_t)id >= cap) {
			size_t nc = (size_t)id * 2 + 16;
			int *nv = realloc(v, nc * sizeof *nv);
			if (!nv)
				break;
			v = nv;
			cap = nc;
		}
		for (const char *p = key; *p;) { /* names separated by '\n' */
			size_t l = strcspn(p, "\n");
			for (size_t k = 1; k < NTHRESH; k++)
				if (strlen(thresholds[k].group) == l && !memcmp(thresholds[k].group, p, l) &&
				    thresholds[k].max_level < max)
					max = thresholds[k].max_level;
			p += l + (p[l] == '\n');
		}
		v[id] = max;
	}
	sqlite3_finalize(st);
	if (rc != SQLITE_DONE) {
		free(v);
		return sqlerr(db, "reading groupsets");
	}
	*out = v;
	*n = cap;
	return 0;
}

/* Connectors in force: enabled, not removed (the bench's connector is fresh,
 * so the unresponsive rule never applies). */
static int load_conns(sqlite3 *db, conn *c, size_t *n)
{
	sqlite3_stmt *st;
	int rc;
	*n = 0;
	if (sqlite3_prepare_v2(db,
			       "SELECT id, platforms, block_missing_data, block_unsupported_os,"
			       " vendor = 'defender' FROM connectors WHERE state = 'enabled' AND removed = 0"
			       " ORDER BY vendor", -1, &st, NULL) != SQLITE_OK)
		return sqlerr(db, "reading connectors");
	while ((rc = sqlite3_step(st)) == SQLITE_ROW && *n < 64) {
		conn *k = &c[(*n)++];
		k->id = sqlite3_column_int64(st, 0);
		k->platforms = (unsigned)sqlite3_column_int(st, 1);
		k->missing_blocks = sqlite3_column_int(st, 2);
		k->unsupported_blocks = sqlite3_column_int(st, 3);
		k->defender = sqlite3_column_int(st, 4);
	}
	sqlite3_finalize(st);
	return rc == SQLITE_DONE ? 0 : sqlerr(db, "reading connectors");
}

typedef struct cdev {
	int64_t id, groupset;
	int platform, enrolled;
	int level[64], os_supported[64]; /* per in-force connector; level 0 = none */
} cdev;

/* The decision of rules/policy.lua compliance() for a device without app
 * risk, mam switched off and grace_hours 0. */
static void c_decide(const cdev *d, const conn *c, size_t nc, const int *allowed, size_t nallowed,
		     int *state, int *level, int *access, int *in_level)
{
	unsigned bit = 1u << d->platform;
	int max = d->groupset >= 0 && (size_t)d->groupset < nallowed ? allowed[d->groupset]
								       : thresholds[0].max_level;
	int lv = LV_NONE, bad = 0, in_force = 0, third = 0;
	for (size_t i = 0; i < nc; i++)
		if ((c[i].platforms & bit) && !c[i].defender)
			third++;
	for (size_t i = 0; i < nc; i++) {
		if (!(c[i].platforms & bit))
			continue;
		in_force = 1;
		if (d->level[i]) {
			if (d->level[i] > lv)
				lv = d->level[i];
			bad |= d->level[i] > max || (c[i].unsupported_blocks && d->os_supported[i] == 0);
		} else {
			bad |= c[i].missing_blocks || (third > 1 && !c[i].defender);
		}
	}
	*in_level = lv;
	if (!d->enrolled) {
		*state = ST_NOT_EVALUATED, *level = LV_NONE, *access = 0;
	} else if (!in_force) {
		*state = ST_COMPLIANT, *level = LV_NONE, *access = 0;
	} else {
		*state = bad ? ST_NONCOMPLIANT : ST_COMPLIANT, *level = lv, *access = bad;
	}
}

/* One pass over devices and their reports, read as mtdgate reads them (two
 * scans in device order, merged); decisions written in one transaction to
 * b.decision_blocks in workdir/baseline.db, packed as mtdgate packs its own
 * (core/store.h), each slot: state + 1 (0: none), level, access, the
 * level Cedar is given. */
/* The C evaluator's slots reuse mtd_dslot's four fields for its own. */
#define C_STATE(d) ((d).outcome - 1)
#define C_LEVEL(d) ((d).evaluated_at)
#define C_ACCESS(d) ((d).since)
#define C_IN_LEVEL(d) ((d).wiped_at)

static int write_block(sqlite3 *db, sqlite3_stmt *ins, int64_t blk, const mtd_dslot *slots)
{
	unsigned char e[MTD_DBLOCK_MAX];
	size_t n = mtd_dblock_encode(slots, e);
	sqlite3_bind_int64(ins, 1, blk);
	sqlite3_bind_blob(ins, 2, e, (int)n, SQLITE_STATIC);
	if (sqlite3_step(ins) != SQLITE_DONE)
		return sqlerr(db, "writing decisions");
	sqlite3_reset(ins);
	return 0;
}

static int c_baseline(sqlite3 *db, double *secs, double *ndev)
{
	sqlite3_stmt *scan = NULL, *rep = NULL, *ins = NULL, *att = NULL;
	mtd_dslot blk[MTD_DBLOCK_SLOTS];
	int64_t cur = -1; /* the block in blk */
	conn c[64];
	size_t nc = 0, nallowed = 0;
	int *allowed = NULL, rc = -1, step, rstep;
	cdev d;
	char bpath[PATH_MAX + 16];
	double t0 = bench_mono(), n = 0;

	path_in(bpath, sizeof bpath, "baseline.db");
	unlink(bpath);
	if (sqlite3_prepare_v2(db, "ATTACH ?1 AS b", -1, &att, NULL) != SQLITE_OK ||
	    sqlite3_bind_text(att, 1, bpath, -1, SQLITE_STATIC) != SQLITE_OK ||
	    sqlite3_step(att) != SQLITE_DONE) {
		sqlite3_finalize(att);
		return sqlerr(db, "attaching baseline.db");
	}
	sqlite3_finalize(att);
	if (exec1(db, "PRAGMA b.journal_mode = WAL") || exec1(db, "PRAGMA b.synchronous = FULL") ||
	    exec1(db, "CREATE TABLE b.decision_blocks(blk INTEGER PRIMARY KEY, entries BLOB NOT NULL)"))
		return -1;
	t0 = bench_mono(); /* the evaluation proper: read, decide, write, commit */
	if (exec1(db, "BEGIN") || load_conns(db, c, &nc) || load_allowed(db, &allowed, &nallowed))
		goto out;
	if (sqlite3_prepare_v2(db, "SELECT id, platform, enrolled, groupset FROM devices ORDER BY id",
			       -1, &scan, NULL) != SQLITE_OK ||
	    sqlite3_prepare_v2(db, "SELECT device, connector, level, os_supported FROM reports"
				   " ORDER BY device, connector", -1, &rep, NULL) != SQLITE_OK ||
	    sqlite3_prepare_v2(db,
			       "INSERT INTO b.decision_blocks(blk, entries) VALUES(?1, ?2)", -1, &ins,
			       NULL) != SQLITE_OK) {
		sqlerr(db, "preparing the C evaluator");
		goto out;
	}
	rstep = sqlite3_step(rep);
	while ((step = sqlite3_step(scan)) == SQLITE_ROW) {
		int s, l, a, il;
		memset(&d, 0, sizeof d);
		d.id = sqlite3_column_int64(scan, 0);
		d.platform = sqlite3_column_int(scan, 1) & 31;
		d.enrolled = sqlite3_column_int(scan, 2);
		d.groupset = sqlite3_column_int64(scan, 3);
		while (rstep == SQLITE_ROW && sqlite3_column_int64(rep, 0) < d.id)
			rstep = sqlite3_step(rep);
		while (rstep == SQLITE_ROW && sqlite3_column_int64(rep, 0) == d.id) {
			int64_t cid = sqlite3_column_int64(rep, 1);
			for (size_t i = 0; i < nc; i++)
				if (c[i].id == cid) {
					d.level[i] = sqlite3_column_int(rep, 2);
					d.os_supported[i] = sqlite3_column_type(rep, 3) == SQLITE_NULL
								    ? -1 : sqlite3_column_int(rep, 3);
				}
			rstep = sqlite3_step(rep);
		}
		if (rstep != SQLITE_ROW && rstep != SQLITE_DONE) {
			sqlerr(db, "scanning reports");
			goto out;
		}
		c_decide(&d, c, nc, allowed, nallowed, &s, &l, &a, &il);
		if (d.id < 1) {
			fprintf(stderr, "bench: device row id %lld\n", (long long)d.id);
			goto out;
		}
		if (d.id / MTD_DBLOCK_SLOTS != cur) {
			if (cur >= 0 && write_block(db, ins, cur, blk))
				goto out;
			cur = d.id / MTD_DBLOCK_SLOTS;
			memset(blk, 0, sizeof blk);
		}
		blk[d.id % MTD_DBLOCK_SLOTS] = (mtd_dslot){s + 1, l, a, il};
		n++;
	}
	if (step != SQLITE_DONE) {
		sqlerr(db, "scanning devices");
		goto out;
	}
	sqlite3_reset(scan);
	sqlite3_reset(rep);
	if ((cur >= 0 && write_block(db, ins, cur, blk)) || exec1(db, "COMMIT"))
		goto out;
	rc = 0;
out:
	*secs = bench_mono() - t0;
	*ndev = n;
	sqlite3_finalize(scan);
	sqlite3_finalize(rep);
	sqlite3_finalize(ins);
	free(allowed);
	if (rc)
		exec1(db, "ROLLBACK");
	return rc;
}

/* mtdgate's decisions against the C evaluator's: state, level, access;
 * devices, both block tables and outcomes read in device order. */
static long compare_c(sqlite3 *db, double *shared)
{
	sqlite3_stmt *dev = NULL, *oc = NULL;
	bscan mb = {0}, cb = {0};
	long bad = 0;
	int rc = -1, step;
	int64_t oid = 0; /* the outcome in ost */
	int ost[3] = {0};
	*shared = 0;
	if (sqlite3_prepare_v2(db, "SELECT id, ext_id FROM devices ORDER BY id", -1, &dev, NULL) ||
	    sqlite3_prepare_v2(db, "SELECT state, level, access FROM main.outcomes WHERE seq = ?1",
			       -1, &oc, NULL) ||
	    bscan_open(db, &mb, "main.decision_blocks") || bscan_open(db, &cb, "b.decision_blocks")) {
		sqlerr(db, "comparing decisions");
		goto out;
	}
	while ((step = sqlite3_step(dev)) == SQLITE_ROW) {
		int64_t id = sqlite3_column_int64(dev, 0);
		mtd_dslot m = {0}, c = {0};
		int hm = bscan_slot(db, &mb, id, &m), hc = bscan_slot(db, &cb, id, &c), same;
		if (hm < 0 || hc < 0)
			goto out;
		if (hm && m.outcome && m.outcome != oid) {
			sqlite3_reset(oc);
			sqlite3_bind_int64(oc, 1, m.outcome);
			if (sqlite3_step(oc) != SQLITE_ROW) {
				fprintf(stderr, "bench: outcome %lld missing\n", (long long)m.outcome);
				goto out;
			}
			for (int k = 0; k < 3; k++)
				ost[k] = sqlite3_column_int(oc, k);
			oid = m.outcome;
		}
		same = hm && m.outcome && hc && c.outcome && ost[0] == C_STATE(c) &&
		       ost[1] == C_LEVEL(c) && ost[2] == C_ACCESS(c);
		*shared += 1;
		if (!same && bad++ < 5)
			printf("  mismatch %s: mtdgate %s state %d level %d access %d, C %s state %lld"
			       " level %lld access %lld\n", sqlite3_column_text(dev, 1),
			       hm && m.outcome ? "" : "(none)", ost[0], ost[1], ost[2],
			       hc && c.outcome ? "" : "(none)", (long long)C_STATE(c),
			       (long long)C_LEVEL(c), (long long)C_ACCESS(c));
	}
	rc = step == SQLITE_DONE ? 0 : sqlerr(db, "comparing decisions");
out:
	sqlite3_finalize(dev);
	sqlite3_finalize(oc);
	sqlite3_finalize(mb.st);
	sqlite3_finalize(cb.st);
	return rc ? -1 : bad;
}

/* ---- (b) raw SQLite ingest ---- */

typedef struct rrow {
	int64_t device, connector, at, received;
	int level, os_supported; /* -1: NULL */
	size_t off, len;         /* threats in the arena; len 0 with off 1: NULL */
} rrow;

static const char *const report_upsert =
	"INSERT INTO reports(device, connector, level, at, received, os_supported, threats)"
	" VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7) ON CONFLICT(device, connector) DO UPDATE SET"
	" level = excluded.level, at = excluded.at, received = excluded.received,"
	" os_supported = excluded.os_supported, threats = excluded.threats"
	" WHERE excluded.at >= reports.at";

static int raw_ingest(sqlite3 *src, double *secs, double *nrows)
{
	sqlite3_stmt *st = NULL;
	sqlite3 *db = NULL;
	rrow *rows = NULL;
	unsigned char *arena = NULL;
	size_t n = 0, cap = 0, alen = 0, acap = 0;
	int rc = -1, step;
	char path[PATH_MAX + 16];
	double t0;

	/* the rows mtdgate stored, in memory first (not timed) */
	if (sqlite3_prepare_v2(src, "SELECT device, connector, level, at, received, os_supported,"
				    " threats FROM reports", -1, &st, NULL) != SQLITE_OK)
		return sqlerr(src, "reading reports");
	while ((step = sqlite3_step(st)) == SQLITE_ROW) {
		size_t bl = (size_t)sqlite3_column_bytes(st, 6);
		const void *blob = sqlite3_column_blob(st, 6);
		if (n == cap) {
			rrow *nr = realloc(rows, (cap = cap ? cap * 2 : 65536) * sizeof *rows);
			if (!nr)
				goto out;
			rows = nr;
		}
		if (alen + bl > acap) {
			unsigned char *na;
			while (alen + bl > acap)
				acap = acap ? acap * 2 : 1 << 20;
			if (!(na = realloc(arena, acap)))
				goto out;
			arena = na;
		}
		rows[n] = (rrow){sqlite3_column_int64(st, 0), sqlite3_column_int64(st, 1),
				 sqlite3_column_int64(st, 3), sqlite3_column_int64(st, 4),
				 sqlite3_column_int(st, 2),
				 sqlite3_column_type(st, 5) == SQLITE_NULL ? -1 : sqlite3_column_int(st, 5),
				 alen, bl};
		if (!blob)
			rows[n].off = 1, rows[n].len = 0;
		else
			memcpy(arena + alen, blob, bl), alen += bl;
		n++;
	}
	sqlite3_finalize(st);
	st = NULL;
	if (step != SQLITE_DONE) {
		sqlerr(src, "reading reports");
		goto out;
	}
	/* a fresh store with the same reports table (and the parents it once
	 * referenced, untimed) */
	path_in(path, sizeof path, "raw.db");
	unlink(path);
	if (!(db = open_db(path, 1)) ||
	    exec1(db, "CREATE TABLE devices(id INTEGER PRIMARY KEY)") ||
	    exec1(db, "CREATE TABLE connectors(id INTEGER PRIMARY KEY)") ||
	    /* core/store.c's reports table (schema 4) */
	    exec1(db, "CREATE TABLE reports(device INTEGER NOT NULL, connector INTEGER NOT NULL,"
		      " level INTEGER NOT NULL, at INTEGER NOT NULL, received INTEGER NOT NULL,"
		      " os_supported INTEGER, threats BLOB, PRIMARY KEY(device, connector))"
		      " WITHOUT ROWID") ||
	    exec1(db, "BEGIN"))
		goto out;
	for (int pass = 0; pass < 2; pass++) {
		if (sqlite3_prepare_v2(db, pass ? "INSERT OR IGNORE INTO connectors(id) VALUES(?1)"
						: "INSERT OR IGNORE INTO devices(id) VALUES(?1)",
				       -1, &st, NULL) != SQLITE_OK) {
			sqlerr(db, "parents");
			goto out;
		}
		for (size_t i = 0; i < n; i++) {
			sqlite3_bind_int64(st, 1, pass ? rows[i].connector : rows[i].device);
			if (sqlite3_step(st) != SQLITE_DONE) {
				sqlerr(db, "parents");
				goto out;
			}
			sqlite3_reset(st);
		}
		sqlite3_finalize(st);
		st = NULL;
	}
	if (exec1(db, "COMMIT"))
		goto out;

	t0 = bench_mono();
	if (exec1(db, "BEGIN") ||
	    (sqlite3_prepare_v2(db, report_upsert, -1, &st, NULL) != SQLITE_OK && sqlerr(db, "upsert")))
		goto out;
	for (size_t i = 0; i < n; i++) {
		const rrow *r = &rows[i];
		sqlite3_bind_int64(st, 1, r->device);
		sqlite3_bind_int64(st, 2, r->connector);
		sqlite3_bind_int(st, 3, r->level);
		sqlite3_bind_int64(st, 4, r->at);
		sqlite3_bind_int64(st, 5, r->received);
		if (r->os_supported < 0)
			sqlite3_bind_null(st, 6);
		else
			sqlite3_bind_int(st, 6, r->os_supported);
		if (r->len == 0 && r->off == 1)
			sqlite3_bind_null(st, 7);
		else
			sqlite3_bind_blob(st, 7, arena + r->off, (int)r->len, SQLITE_STATIC);
		if (sqlite3_step(st) != SQLITE_DONE) {
			sqlerr(db, "upserting a report");
			goto out;
		}
		sqlite3_reset(st);
	}
	if (exec1(db, "COMMIT"))
		goto out;
	*secs = bench_mono() - t0;
	*nrows = (double)n;
	rc = 0;
out:
	sqlite3_finalize(st);
	sqlite3_close(db);
	free(rows);
	free(arena);
	return rc;
}

/* ---- (c) Cedar ---- */

static void json_str(FILE *f, const char *s)
{
	fputc('"', f);
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;
		if (c == '"' || c == '\\')
			fprintf(f, "\\%c", c);
		else if (c < 0x20)
			fprintf(f, "\\u%04x", c);
		else
			fputc(c, f);
	}
	fputc('"', f);
}

/* The policy in Cedar, from the same thresholds, and a sample of the
 * devices as JSON lines: id, level (highest vendor level in force, as the C
 * evaluator computed it), enrolled, groups. */
static int cedar_inputs(sqlite3 *db, long sample, double ndev, const char *ppath, const char *spath)
{
	sqlite3_stmt *st = NULL;
	bscan cb = {0};
	FILE *f = fopen(ppath, "w");
	int rc;
	long every = ndev / (double)sample >= 1 ? (long)(ndev / (double)sample) : 1;

	if (!f) {
		perror(ppath);
		return -1;
	}
	fprintf(f, "permit(principal, action == Action::\"access\", resource);\n");
	for (size_t i = 0; i < NTHRESH; i++) {
		fprintf(f, "// %s allows at most level %d\nforbid(principal", thresholds[i].group,
			thresholds[i].max_level);
		if (i) {
			fputs(" in Group::", f);
			json_str(f, thresholds[i].group);
		}
		fprintf(f, ", action == Action::\"access\", resource)\n"
			   "  when { principal.enrolled && principal.level > %d };\n",
			thresholds[i].max_level);
	}
	if (fclose(f)) {
		perror(ppath);
		return -1;
	}
	if (!(f = fopen(spath, "w"))) {
		perror(spath);
		return -1;
	}
	if (sqlite3_prepare_v2(db,
			       "SELECT d.id, d.ext_id, d.enrolled, g.key FROM devices d"
			       " JOIN groupsets g ON g.id = d.groupset"
			       " WHERE d.id % ?1 = 0 ORDER BY d.id LIMIT ?2", -1, &st,
			       NULL) != SQLITE_OK || bscan_open(db, &cb, "b.decision_blocks")) {
		sqlite3_finalize(st);
		fclose(f);
		return sqlerr(db, "sampling devices");
	}
	sqlite3_bind_int64(st, 1, every);
	sqlite3_bind_int64(st, 2, sample);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		const char *key = (const char *)sqlite3_column_text(st, 3);
		mtd_dslot c;
		int first = 1, has = bscan_slot(db, &cb, sqlite3_column_int64(st, 0), &c);
		if (has < 0)
			break;
		if (!has || !c.outcome)
			continue; /* the C evaluator gives the level Cedar is given */
		fputs("{\"id\":", f);
		json_str(f, (const char *)sqlite3_column_text(st, 1));
		fprintf(f, ",\"level\":%d,\"enrolled\":%s,\"groups\":[", (int)C_IN_LEVEL(c),
			sqlite3_column_int(st, 2) ? "true" : "false");
		for (const char *p = key ? key : ""; *p; first = 0) {
			size_t l = strcspn(p, "\n");
			char name[520];
			snprintf(name, sizeof name, "%.*s", (int)(l < 512 ? l : 512), p);
			if (!first)
				fputc(',', f);
			json_str(f, name);
			p += l + (p[l] == '\n');
		}
		fputs("]}\n", f);
	}
	sqlite3_finalize(st);
	sqlite3_finalize(cb.st);
	if (fclose(f) || rc != SQLITE_DONE) {
		fprintf(stderr, "bench: writing %s failed\n", spath);
		return -1;
	}
	return 0;
}

/* The module directory: tools/bench/cedar if it has node_modules, else the
 * cache, where npm installs package.json's dependency on first use. */
static int cedar_modules(char *dir, size_t n, const char **why)
{
	char probe[PATH_MAX + 64], pkg[PATH_MAX + 16];
	const char *cache = getenv("XDG_CACHE_HOME"), *home = getenv("HOME");
	char *npm[] = {"npm", "install", "--prefix", dir, "--no-audit", "--no-fund",
		       "--loglevel=error", NULL};
	FILE *in, *out;
	int c;

	snprintf(probe, sizeof probe, "%s/node_modules/@cedar-policy/cedar-wasm/package.json",
		 BENCH_CEDAR_DIR);
	if (!access(probe, R_OK)) {
		snprintf(dir, n, "%s", BENCH_CEDAR_DIR);
		return 0;
	}
	if (cache && *cache)
		snprintf(dir, n, "%s/mtdgate-bench/cedar", cache);
	else if (home && *home)
		snprintf(dir, n, "%s/.cache/mtdgate-bench/cedar", home);
	else
		return *why = "no HOME or XDG_CACHE_HOME for the npm cache", -1;
	snprintf(probe, sizeof probe, "%s/node_modules/@cedar-policy/cedar-wasm/package.json", dir);
	if (!access(probe, R_OK))
		return 0;
	if (mkdir_p(dir))
		return *why = "cannot create the cache directory", -1;
	/* package.json into the cache, then npm install there */
	snprintf(pkg, sizeof pkg, "%s/package.json", BENCH_CEDAR_DIR);
	if (!(in = fopen(pkg, "r")))
		return *why = "tools/bench/cedar/package.json is missing", -1;
	snprintf(pkg, sizeof pkg, "%s/package.json", dir);
	if (!(out = fopen(pkg, "w"))) {
		fclose(in);
		return *why = "cannot write the cache directory", -1;
	}
	while ((c = fgetc(in)) != EOF)
		fputc(c, out);
	fclose(in);
	if (fclose(out))
		return *why = "cannot write the cache directory", -1;
	printf("cedar: npm install into %s\n", dir);
	c = run(NULL, npm, NULL, NULL);
	if (c == 127)
		return *why = "npm not found", -1;
	if (c)
		return *why = "npm install failed (see the log)", -1;
	return 0;
}

/* Run the node script; compare its decisions with mtdgate's access. */
static int cedar(sqlite3 *db, long sample, double ndev, double *per_dec, long *mismatch,
		 double *shared)
{
	char mods[PATH_MAX], ppath[PATH_MAX + 16], spath[PATH_MAX + 16], opath[PATH_MAX + 16];
	char script[PATH_MAX], line[1024];
	const char *why = NULL;
	sqlite3_stmt *st = NULL, *oc = NULL;
	mtd_dslot slots[MTD_DBLOCK_SLOTS];
	double secs = -1, count = 0;
	FILE *f;
	int rc, access;

	*mismatch = 0;
	*shared = 0;
	snprintf(script, sizeof script, "%s/decide.mjs", BENCH_CEDAR_DIR);
	path_in(ppath, sizeof ppath, "policy.cedar");
	path_in(spath, sizeof spath, "cedar-sample.jsonl");
	path_in(opath, sizeof opath, "cedar.out");
	if (cedar_inputs(db, sample, ndev, ppath, spath))
		return -1;
	if (cedar_modules(mods, sizeof mods, &why)) {
		printf("cedar: skipped (%s)\n", why);
		return 1;
	}
	{
		char *argv[] = {"node", script, mods, ppath, spath, NULL};
		rc = run(opath, argv, NULL, NULL);
		if (rc == 127) {
			printf("cedar: skipped (node not found)\n");
			return 1;
		}
		if (rc) {
			printf("cedar: skipped (node exited with %d; see %s/log)\n", rc, workdir);
			return 1;
		}
	}
	if (!(f = fopen(opath, "r"))) {
		perror(opath);
		return -1;
	}
	if (sqlite3_prepare_v2(db, "SELECT d.id, c.entries FROM devices d LEFT JOIN decision_blocks c"
				   " ON c.blk = d.id / " STR(MTD_DBLOCK_SLOTS) " WHERE d.ext_id = ?1",
			       -1, &st, NULL) != SQLITE_OK ||
	    sqlite3_prepare_v2(db, "SELECT access FROM outcomes WHERE seq = ?1", -1, &oc, NULL) !=
		    SQLITE_OK) {
		sqlite3_finalize(st);
		fclose(f);
		return sqlerr(db, "looking up decisions");
	}
	while (fgets(line, sizeof line, f)) {
		char *sp = strchr(line, ' ');
		int allow;
		if (line[0] == '#') {
			sscanf(line, "# decisions %lf seconds %lf", &count, &secs);
			continue;
		}
		if (!sp)
			continue;
		*sp = '\0';
		allow = !strncmp(sp + 1, "allow", 5);
		sqlite3_bind_text(st, 1, line, -1, SQLITE_STATIC);
		if (sqlite3_step(st) == SQLITE_ROW &&
		    !mtd_dblock_decode(sqlite3_column_blob(st, 1), (size_t)sqlite3_column_bytes(st, 1),
				       slots)) {
			const mtd_dslot m = slots[sqlite3_column_int64(st, 0) % MTD_DBLOCK_SLOTS];
			sqlite3_bind_int64(oc, 1, m.outcome);
			access = m.outcome && sqlite3_step(oc) == SQLITE_ROW ? sqlite3_column_int(oc, 0)
									      : -1;
			sqlite3_reset(oc);
		} else {
			access = -1;
		}
		if (access != !allow) {
			if ((*mismatch)++ < 5)
				printf("  mismatch %s: cedar %s, mtdgate %s\n", line, allow ? "allow" : "deny",
				       access < 0 ? "no decision" : access ? "block" : "allow");
		}
		sqlite3_reset(st);
		*shared += 1;
	}
	sqlite3_finalize(st);
	sqlite3_finalize(oc);
	fclose(f);
	if (secs < 0 || count < 1 || count != *shared) {
		fprintf(stderr, "bench: %s: no timing line or a short output\n", opath);
		return -1;
	}
	*per_dec = secs / count;
	return 0;
}

/* ---- main ---- */

/* This very program's path ("" when /proc does not say). */
static void self_exe(char self[PATH_MAX])
{
	ssize_t l = readlink("/proc/self/exe", self, PATH_MAX - 1);
	self[l > 0 ? l : 0] = '\0';
}


/* Baseline kind ("c": (a), "raw": (b)) over the store in a new process of
 * this program (main's --baseline), as each mtdgate step runs: a heap the
 * bench's earlier work has left warm made the same C evaluator about a
 * quarter faster here than in a process of its own. The child times its
 * section and prints "seconds items". */
static int baseline(const char *kind, double *secs, double *items)
{
	char self[PATH_MAX], out[PATH_MAX + 32], line[128];
	char *argv[] = {self, "--baseline", (char *)kind, workdir, NULL};
	FILE *f;
	int ok;
	self_exe(self);
	if (!self[0]) {
		perror("/proc/self/exe");
		return -1;
	}
	path_in(out, sizeof out, "baseline.out");
	if (run(out, argv, NULL, NULL)) {
		fprintf(stderr, "bench: baseline %s failed; see %s/log\n", kind, workdir);
		return -1;
	}
	f = fopen(out, "r");
	ok = f && fgets(line, sizeof line, f) && sscanf(line, "%lf %lf", secs, items) == 2;
	if (f)
		fclose(f);
	if (!ok)
		fprintf(stderr, "bench: baseline %s: no result in %s\n", kind, out);
	return ok ? 0 : -1;
}

/* main's --baseline KIND DIR: the child side of baseline(). */
static int baseline_child(const char *kind, const char *dir)
{
	double secs = 0, n = 0;
	int c = !strcmp(kind, "c"), rc;
	sqlite3 *db;
	if ((!c && strcmp(kind, "raw")) ||
	    snprintf(workdir, sizeof workdir, "%s", dir) >= (int)sizeof workdir)
		return 64;
	path_in(store, sizeof store, "store.db");
	/* CREATE: the C evaluator's ATTACH inherits the flags */
	if (!(db = open_db(store, c)))
		return 2;
	rc = c ? c_baseline(db, &secs, &n) : raw_ingest(db, &secs, &n);
	sqlite3_close(db);
	if (rc)
		return 2;
	printf("%.6f %.0f\n", secs, n);
	return 0;
}

static int rm_rf(const char *dir)
{
	char *argv[] = {"rm", "-rf", (char *)dir, NULL};
	return run(NULL, argv, NULL, NULL);
}

static void goal(const char *what, const char *target, double v, const char *fmt, int met)
{
	char val[64];
	snprintf(val, sizeof val, fmt, v);
	printf("%-36s %-14s %14s   %s\n", what, target, val, met ? "met" : "MISSED");
}

int main(int argc, char **argv)
{
	long devices = 1000000, sample = 10000, repeat = 5;
	const char *keep = NULL;
	int no_cedar = 0, failed = 0, disagree = 0;
	char data[PATH_MAX + 16], in[PATH_MAX + 64], dev[PATH_MAX + 64], prov[PATH_MAX + 32];
	char num[32];
	mstep steps[8] = {{"init", 1, 0, 0}, {"connector add generic", 1, 0, 0},
			  {"ingest provision", 1, 0, 0}, {"connector set (4 platforms)", 1, 0, 0},
			  {"device import", 0, 0, 0}, {"ingest (threat reports)", 0, 0, 0},
			  {"evaluate", 0, 0, 0}, {"report --json", 0, 0, 0}};
	double c_secs = 0, c_n = 0, raw_secs = 0, raw_n = 0, cedar_per = 0, shared = 0, fg_secs;
	long mism = 0, rss = 0;
	int cedar_rc = 1;
	sqlite3 *db = NULL;

	if (argc == 4 && !strcmp(argv[1], "--baseline"))
		return baseline_child(argv[2], argv[3]);
	bench_sibling(mtdgate, sizeof mtdgate, "mtdgate");
	bench_sibling(fleetgen, sizeof fleetgen, "fleetgen");
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
			fputs(usage_text, stdout);
			return 0;
		} else if (!strcmp(a, "--no-cedar")) {
			no_cedar = 1;
		} else if (i + 1 < argc && (!strcmp(a, "--devices") || !strcmp(a, "--cedar-sample") ||
					    !strcmp(a, "--repeat"))) {
			char *end;
			long v = strtol(argv[++i], &end, 10);
			if (*end || v < 1 || v > 100000000 || (a[2] == 'r' && v > 99)) {
				fprintf(stderr, "bench: %s: '%s' is not a number from 1 to %s\n", a, argv[i],
					a[2] == 'r' ? "99" : "100000000");
				return 64;
			}
			*(a[2] == 'd' ? &devices : a[2] == 'r' ? &repeat : &sample) = v;
		} else if (i + 1 < argc && !strcmp(a, "--keep")) {
			keep = argv[++i];
		} else if (i + 1 < argc && !strcmp(a, "--mtdgate")) {
			snprintf(mtdgate, sizeof mtdgate, "%s", argv[++i]);
		} else if (i + 1 < argc && !strcmp(a, "--fleetgen")) {
			snprintf(fleetgen, sizeof fleetgen, "%s", argv[++i]);
		} else {
			fputs(usage_text, stderr);
			return 64;
		}
	}
	if (access(mtdgate, X_OK) || access(fleetgen, X_OK)) {
		fprintf(stderr, "bench: %s or %s is not executable (--mtdgate, --fleetgen)\n", mtdgate,
			fleetgen);
		return 64;
	}
	if (keep) {
		if (mkdir_p(keep) || !realpath(keep, workdir)) {
			perror(keep);
			return 2;
		}
	} else {
		const char *tmp = getenv("TMPDIR");
		snprintf(workdir, sizeof workdir, "%s/mtdgate-bench.XXXXXX", tmp && *tmp ? tmp : "/tmp");
		if (!mkdtemp(workdir)) {
			perror(workdir);
			return 2;
		}
	}
	path_in(store, sizeof store, "store.db");
	path_in(data, sizeof data, "fleet");
	snprintf(dev, sizeof dev, "%s/devices.msgpack", data);
	snprintf(in, sizeof in, "%s/day1.msgpack", data);
	path_in(prov, sizeof prov, "provision.jsonl");
	for (int k = 0; k < 3; k++) { /* start over in a kept dir */
		char p[PATH_MAX + 32];
		snprintf(p, sizeof p, "%s%s", store, k == 0 ? "" : k == 1 ? "-wal" : "-shm");
		unlink(p);
	}
	printf("mtdgate-bench: %ld devices in %s\n", devices, workdir);

	/* the tenant */
	snprintf(num, sizeof num, "%ld", devices);
	{
		char *fg[] = {fleetgen, "--devices", num, "--seed", "2026", "--format", "msgpack", data,
			      NULL};
		if (mkdir_p(data) || run(NULL, fg, &fg_secs, NULL)) {
			fprintf(stderr, "bench: fleetgen failed; see %s/log\n", workdir);
			failed = 1;
			goto done;
		}
		printf("fleetgen: %.2f s (devices, day-1 reports; inventory and day 2 unused)\n\n",
		       fg_secs);
	}
	if (bench_write_file(prov, "{\"type\":\"provision\",\"at\":1795000000}\n")) {
		failed = 1;
		goto done;
	}
	steps[4].items = steps[5].items = steps[6].items = steps[7].items = (double)devices;
	if (mtd(&steps[0], NULL, "init", NULL) || mtd(&steps[1], NULL, "connector", "add", "generic", NULL) ||
	    mtd(&steps[2], NULL, "ingest", "generic", "--normalized", prov, NULL) ||
	    mtd(&steps[3], NULL, "connector", "set", "generic", "android=on", "ios=on", "windows=on",
		"macos=on", NULL) ||
	    mtd(&steps[4], NULL, "device", "import", dev, NULL)) {
		failed = 1;
		goto done;
	}
	/* ingest and evaluate, each from its own snapshot, next to their
	 * baselines; medians */
	{
		char snap[PATH_MAX + 32];
		double ti[99], tr[99], te[99], tc[99];
		long rss_i = 0, rss_e = 0;
		path_in(snap, sizeof snap, "before-ingest.db");
		if (bench_copy_file(store, snap)) {
			failed = 1;
			goto done;
		}
		for (int r = 0; r < repeat; r++) {
			if ((r && bench_copy_file(snap, store)) ||
			    mtd(&steps[5], NULL, "ingest", "generic", "--normalized", in, NULL) ||
			    baseline("raw", &tr[r], &raw_n)) {
				failed = 1;
				goto done;
			}
			ti[r] = steps[5].secs;
			if (steps[5].rss_kb > rss_i)
				rss_i = steps[5].rss_kb;
		}
		path_in(snap, sizeof snap, "before-evaluate.db");
		if (bench_copy_file(store, snap)) {
			failed = 1;
			goto done;
		}
		for (int r = 0; r < repeat; r++) {
			if ((r && bench_copy_file(snap, store)) || mtd(&steps[6], NULL, "evaluate", NULL) ||
			    baseline("c", &tc[r], &c_n)) {
				failed = 1;
				goto done;
			}
			te[r] = steps[6].secs;
			if (steps[6].rss_kb > rss_e)
				rss_e = steps[6].rss_kb;
		}
		steps[5].rss_kb = rss_i;
		steps[6].rss_kb = rss_e;
		if (repeat > 1) {
			double l1, h1, l2, h2;
			span(ti, (int)repeat, &l1, &h1);
			span(tr, (int)repeat, &l2, &h2);
			printf("ingest    %ld runs: %.3f .. %.3f s; raw SQLite %.3f .. %.3f s\n", repeat, l1,
			       h1, l2, h2);
			span(te, (int)repeat, &l1, &h1);
			span(tc, (int)repeat, &l2, &h2);
			printf("evaluate  %ld runs: %.3f .. %.3f s; C evaluator %.3f .. %.3f s"
			       " (medians below)\n\n", repeat, l1, h1, l2, h2);
		}
		steps[5].secs = median(ti, (int)repeat);
		steps[6].secs = median(te, (int)repeat);
		raw_secs = median(tr, (int)repeat);
		c_secs = median(tc, (int)repeat);
	}
	/* the report of the last evaluation */
	if (mtd(&steps[7], NULL, "report", "--json", NULL) || !(db = open_db(store, 1))) {
		failed = 1;
		goto done;
	}
	{ /* attach the last C evaluation again for the comparison */
		char bpath[PATH_MAX + 16];
		sqlite3_stmt *att;
		path_in(bpath, sizeof bpath, "baseline.db");
		if (sqlite3_prepare_v2(db, "ATTACH ?1 AS b", -1, &att, NULL) != SQLITE_OK ||
		    sqlite3_bind_text(att, 1, bpath, -1, SQLITE_STATIC) != SQLITE_OK ||
		    sqlite3_step(att) != SQLITE_DONE) {
			sqlite3_finalize(att);
			sqlerr(db, "attaching baseline.db");
			failed = 1;
			goto done;
		}
		sqlite3_finalize(att);
	}
	printf("%-30s %10s %14s %12s\n", "mtdgate step", "wall s", "items/s", "peak RSS");
	for (int i = 0; i < 8; i++) {
		printf("%-30s %10.3f %14.0f %8.1f MiB\n", steps[i].name, steps[i].secs,
		       steps[i].items / steps[i].secs, steps[i].rss_kb / 1024.0);
		if (steps[i].rss_kb > rss)
			rss = steps[i].rss_kb;
	}
	printf("%-30s %10.3f %14.0f\n", "(a) C evaluator", c_secs, c_n / c_secs);
	printf("%-30s %10.3f %14.0f\n", "(b) raw SQLite upsert", raw_secs, raw_n / raw_secs);
	if ((mism = compare_c(db, &shared)) < 0) {
		failed = 1;
		goto done;
	}
	printf("\nagreement mtdgate / C evaluator: %.0f devices, %ld mismatches\n", shared, mism);
	disagree |= mism != 0;

	/* (c) */
	if (no_cedar) {
		printf("cedar: skipped (--no-cedar)\n");
	} else {
		cedar_rc = cedar(db, sample, c_n, &cedar_per, &mism, &shared);
		if (cedar_rc < 0) {
			failed = 1;
			goto done;
		}
		if (cedar_rc == 0) {
			printf("agreement mtdgate / Cedar: %.0f devices, %ld mismatches\n", shared, mism);
			printf("cedar: %.2f us per decision (decision loop only, %.0f devices)\n",
			       cedar_per * 1e6, shared);
			disagree |= mism != 0;
		}
	}

	/* re-evaluations, each on a copy of the evaluated store: nothing changed,
	 * and a policy change (Executives allow at most secured) */
	{
		static const char *const stricter =
			"return {\n"
			"  default    = { max_level = \"medium\", app_max_level = \"low\","
			" app_action = \"block\" },\n"
			"  Executives = { max_level = \"secured\" },\n"
			"}\n";
		char same[PATH_MAX + 32], changed[PATH_MAX + 32], rules[PATH_MAX + 32];
		char policy_src[PATH_MAX + 64], policy_dst[PATH_MAX + 64], groups[PATH_MAX + 64];
		char out[PATH_MAX + 32];
		mstep again = {"re-evaluate, nothing changed", (double)devices, 0, 0};
		mstep policy = {"re-evaluate, policy change", (double)devices, 0, 0};
		long ch_again, ch_policy;
		path_in(same, sizeof same, "reeval-same.db");
		path_in(changed, sizeof changed, "reeval-policy.db");
		path_in(rules, sizeof rules, "rules-stricter");
		path_in(out, sizeof out, "reeval.out");
		snprintf(policy_src, sizeof policy_src, "%s/policy.lua", BENCH_RULES_DIR);
		snprintf(policy_dst, sizeof policy_dst, "%s/policy.lua", rules);
		snprintf(groups, sizeof groups, "%s/groups.lua", rules);
		sqlite3_close(db); /* the copies need a closed store */
		db = NULL;
		if (bench_copy_file(store, same) || mtd_eval_on(&again, same, NULL, out) ||
		    (ch_again = changed_in(out)) < 0 || mkdir_p(rules) ||
		    bench_copy_file(policy_src, policy_dst) || bench_write_file(groups, stricter) ||
		    bench_copy_file(store, changed) || mtd_eval_on(&policy, changed, rules, out) ||
		    (ch_policy = changed_in(out)) < 0) {
			failed = 1;
			goto done;
		}
		printf("%-30s %10.3f %14.0f %8.1f MiB  (%ld changed)\n", again.name, again.secs,
		       devices / again.secs, again.rss_kb / 1024.0, ch_again);
		printf("%-30s %10.3f %14.0f %8.1f MiB  (%ld changed: Executives at most secured)\n",
		       policy.name, policy.secs, devices / policy.secs, policy.rss_kb / 1024.0,
		       ch_policy);
		if (again.rss_kb > rss)
			rss = again.rss_kb;
		if (policy.rss_kb > rss)
			rss = policy.rss_kb;
	}

	{
		double ev = steps[6].secs, rate = devices / ev, per = ev / devices;
		double ingest_rate = devices / steps[5].secs, raw_rate = raw_n / raw_secs;
		printf("\n%-36s %-14s %14s   %s\n", "goal", "target", "measured", "");
		goal("evaluate rate (devices/s)", ">= 500000", rate, "%.0f", rate >= 500000);
		goal("evaluate / C evaluator (time)", "<= 1.5x", ev / c_secs, "%.2fx", ev / c_secs <= 1.5);
		if (cedar_rc == 0)
			goal("Cedar / mtdgate (per decision)", ">= 20x", cedar_per / per, "%.2fx",
			     cedar_per / per >= 20);
		else
			printf("%-36s %-14s %14s   %s\n", "Cedar / mtdgate (per decision)", ">= 20x", "-",
			       "skipped");
		goal("ingest / raw SQLite (rate)", ">= 0.5x", ingest_rate / raw_rate, "%.2fx",
		     ingest_rate / raw_rate >= 0.5);
		goal("peak RSS of any step (MiB)", "< 200", rss / 1024.0, "%.1f", rss < 200 * 1024);
		printf("(mtdgate times include process start, rules load and commit; evaluate wrote\n"
		       " every decision and its audit record, as on a first evaluation)\n");
	}
done:
	if (db && sqlite3_close(db) != SQLITE_OK)
		fprintf(stderr, "bench: closing the store: %s\n", sqlite3_errmsg(db));
	if (keep)
		printf("kept: %s\n", workdir);
	else if (rm_rf(workdir))
		fprintf(stderr, "bench: could not remove %s\n", workdir);
	return failed ? 2 : disagree ? 1 : 0;
}
