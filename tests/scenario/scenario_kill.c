/* Crash consistency (issue 7): ingest and evaluate are killed with SIGKILL
 * at random points. After each kill the store passes integrity_check,
 * every batch acknowledged before the kill is there, what is there is
 * whole batches, an evaluation is all or nothing, and a rerun converges to
 * the state of a clean run. */
#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <spawn.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <sqlite3.h>

#include "harness.h"

extern char **environ;

#define DEVICES "20000"
#define NOW "2026-11-18T13:10:00Z" /* after every report of day 1 (R13) */

typedef struct kctx {
	scen *s;
	char db[400], dir[300];
} kctx;

/* Start mtdgate with args on db, stdout to outfile; kill it after delay_us
 * (0: let it finish). Returns the exit status, or -SIGKILL when killed. */
static int run_mtd(kctx *k, const char *db, const char *outfile, long delay_us, ...)
{
	const char *argv[32];
	int n = 0, status;
	va_list ap;
	posix_spawn_file_actions_t fa;
	pid_t pid;

	argv[n++] = MTDGATE_BIN;
	argv[n++] = "--db";
	argv[n++] = db;
	argv[n++] = "--plugins";
	argv[n++] = MTD_PLUGIN_DIR;
	argv[n++] = "--rules";
	argv[n++] = MTD_RULES_DIR;
	argv[n++] = "--now";
	argv[n++] = NOW;
	va_start(ap, delay_us);
	while (n < 31 && (argv[n] = va_arg(ap, const char *)))
		n++;
	va_end(ap);
	argv[n] = NULL;
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_addopen(&fa, 1, outfile, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	posix_spawn_file_actions_addopen(&fa, 2, "/dev/null", O_WRONLY, 0);
	assert_int_equal(posix_spawn(&pid, MTDGATE_BIN, &fa, NULL, (char **)argv, environ), 0);
	posix_spawn_file_actions_destroy(&fa);
	if (delay_us > 0) {
		struct timespec ts = {delay_us / 1000000, (delay_us % 1000000) * 1000};
		nanosleep(&ts, NULL);
		kill(pid, SIGKILL);
	}
	while (waitpid(pid, &status, 0) < 0)
		;
	(void)k;
	if (WIFSIGNALED(status))
		return -WTERMSIG(status);
	return WEXITSTATUS(status);
}

static long count(const char *db, const char *sql)
{
	sqlite3 *h = scen_sql_open(db); /* decisions: a view of the packed blocks */
	sqlite3_stmt *st;
	long n = -1;
	if (sqlite3_prepare_v2(h, sql, -1, &st, NULL) == SQLITE_OK) {
		if (sqlite3_step(st) == SQLITE_ROW)
			n = sqlite3_column_int64(st, 0);
		sqlite3_finalize(st);
	}
	sqlite3_close(h);
	return n;
}

static void integrity(const char *db)
{
	sqlite3 *h;
	sqlite3_stmt *st;
	assert_int_equal(sqlite3_open_v2(db, &h, SQLITE_OPEN_READWRITE, NULL), SQLITE_OK);
	assert_int_equal(sqlite3_prepare_v2(h, "PRAGMA integrity_check", -1, &st, NULL), SQLITE_OK);
	assert_int_equal(sqlite3_step(st), SQLITE_ROW);
	assert_string_equal((const char *)sqlite3_column_text(st, 0), "ok");
	sqlite3_finalize(st);
	sqlite3_close(h);
}

/* The last "acknowledged N records" printed before the kill. */
static long last_ack(scen *s, const char *outfile)
{
	char *text = scen_own(s, scen_slurp(outfile, NULL)), *p;
	long n = 0;
	for (p = text; p && (p = strstr(p, "acknowledged ")); p++)
		n = atol(p + 13);
	return n;
}

static void report_of(kctx *k, const char *db, const char *name, char **out)
{
	const char *path = scen_path(k->s, name);
	assert_int_equal(run_mtd(k, db, path, 0, "report", "--json", NULL), 0);
	*out = scen_own(k->s, scen_slurp(path, NULL));
	assert_non_null(*out);
}

static void setup_store(kctx *k, const char *db)
{
	const char *o = scen_path(k->s, "setup.out");
	char devices[400];
	snprintf(devices, sizeof devices, "%s/devices.jsonl", k->dir);
	assert_int_equal(run_mtd(k, db, o, 0, "init", NULL), 0);
	assert_int_equal(run_mtd(k, db, o, 0, "device", "import", devices, NULL), 0);
	assert_int_equal(run_mtd(k, db, o, 0, "connector", "add", "generic", NULL), 0);
}

static void kill_ingest_and_evaluate(void **state)
{
	scen *s = *state;
	kctx k = {s, "", ""};
	char day1[400], *ref, *got, gen[900];
	const char *out = scen_path(s, "run.out");
	unsigned seed = (unsigned)time(NULL) ^ (unsigned)getpid();
	long total;

	snprintf(k.dir, sizeof k.dir, "%s", s->dir);
	snprintf(gen, sizeof gen, "'%s' --devices " DEVICES " '%s' >/dev/null", MTD_FLEETGEN, s->dir);
	assert_int_equal(system(gen), 0);
	snprintf(day1, sizeof day1, "%s/day1.jsonl", s->dir);
	srand(seed);
	print_message("kill points seeded with %u\n", seed);

	/* the clean run */
	setup_store(&k, scen_path(s, "clean.db"));
	assert_int_equal(run_mtd(&k, scen_path(s, "clean.db"), out, 0, "ingest", "generic",
				 "--normalized", day1, NULL), 0);
	assert_int_equal(run_mtd(&k, scen_path(s, "clean.db"), out, 0, "connector", "set", "generic",
				 "android=on", "ios=on", "windows=on", "macos=on", NULL), 0);
	assert_int_equal(run_mtd(&k, scen_path(s, "clean.db"), out, 0, "evaluate", NULL), 0);
	report_of(&k, scen_path(s, "clean.db"), "clean.json", &ref);
	total = count(scen_path(s, "clean.db"), "SELECT count(*) FROM reports");
	assert_int_equal(total, atol(DEVICES));

	for (int round = 0; round < 3; round++) {
		char name[32];
		const char *db;
		long ack, have, delay;
		int rc;
		snprintf(name, sizeof name, "k%d.db", round);
		db = scen_path(s, name);
		setup_store(&k, db);
		/* ingest, killed somewhere in its run */
		delay = 20000 + rand() % 400000;
		rc = run_mtd(&k, db, out, delay, "--batch", "5000", "ingest", "generic", "--normalized",
			     "--acks", day1, NULL);
		integrity(db);
		ack = last_ack(s, out);
		have = count(db, "SELECT count(*) FROM reports");
		print_message("round %d: ingest killed after %ld us (rc %d): %ld acknowledged, %ld stored\n",
			      round, delay, rc, ack, have);
		/* every acknowledged message is there (the first one is the provision) */
		assert_true(have >= (ack > 0 ? ack - 1 : 0));
		/* and what is there is whole batches of 5000 records (--batch) */
		assert_true(have == total || (have + 1) % 5000 == 0 || have == 0);
		/* rerun converges */
		assert_int_equal(run_mtd(&k, db, out, 0, "ingest", "generic", "--normalized", day1, NULL), 0);
		assert_int_equal(run_mtd(&k, db, out, 0, "connector", "set", "generic", "android=on",
					 "ios=on", "windows=on", "macos=on", NULL), 0);
		/* evaluate, killed: all or nothing */
		delay = 10000 + rand() % 700000;
		rc = run_mtd(&k, db, out, delay, "evaluate", NULL);
		integrity(db);
		have = count(db, "SELECT count(*) FROM decisions");
		print_message("round %d: evaluate killed after %ld us (rc %d): %ld decisions\n", round,
			      delay, rc, have);
		assert_true(have == 0 || have == total);
		assert_int_equal(run_mtd(&k, db, out, 0, "evaluate", NULL), 0);
		report_of(&k, db, "got.json", &got);
		assert_string_equal(got, ref);
		assert_int_equal(run_mtd(&k, db, out, 0, "audit", "verify", NULL), 0);
	}
}

static int setup(void **state)
{
	*state = scen_new();
	return *state ? 0 : -1;
}

static int teardown(void **state)
{
	scen_free(*state);
	return 0;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(kill_ingest_and_evaluate, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
