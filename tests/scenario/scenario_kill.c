/* Crash consistency (issues 7 and 19.10): ingest and evaluate are killed
 * with SIGKILL at chosen points, not after a random sleep that rarely
 * lands mid-run. A test build of mtdgate stops itself with SIGSTOP at the
 * point named by MTD_TEST_STOP_AT (core/mtd_int.h); the test waits for that
 * stop, so it knows where the process is, kills it there and checks that it
 * died of that SIGKILL. Then: the store passes integrity_check and audit
 * verify, every batch acknowledged before the kill is there, what is there
 * is whole batches, an evaluation is all or nothing, and a rerun converges
 * to the state of a clean run.
 *
 * Also (issue 19.4): evaluate reads under a snapshot and writes after, so
 * an ingest while it runs succeeds; an evaluation that finds decisions
 * written by another meanwhile does its work again. */
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
#include <unistd.h>

#include <cmocka.h>
#include <sqlite3.h>

#include "harness.h"

extern char **environ;

#define DEVICES "20000"
#define BATCH 5000
#define NOW "2026-11-18T13:10:00Z" /* after every report of day 1 (R13) */

typedef struct kctx {
	scen *s;
	char dir[300];
	char day1[400], day2[400];
	char *ref; /* report --json of the clean run */
	long total; /* reports of day 1 */
} kctx;

/* Start mtdgate on db with args (NULL-terminated), stdout to outfile, with
 * MTD_TEST_STOP_AT=stop_at when stop_at is not NULL. Returns the pid. */
static pid_t spawn_mtd(const char *db, const char *outfile, const char *stop_at, const char *now,
		       const char *const *args)
{
	const char *argv[40];
	char envvar[128], **envp;
	size_t n = 0, ne = 0;
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
	argv[n++] = now;
	for (size_t i = 0; args[i] && n < 39; i++)
		argv[n++] = args[i];
	argv[n] = NULL;
	while (environ[ne])
		ne++;
	envp = calloc(ne + 2, sizeof *envp);
	assert_non_null(envp);
	n = 0;
	for (size_t i = 0; i < ne; i++)
		if (strncmp(environ[i], "MTD_TEST_STOP_AT=", 17))
			envp[n++] = environ[i];
	if (stop_at) {
		snprintf(envvar, sizeof envvar, "MTD_TEST_STOP_AT=%s", stop_at);
		envp[n++] = envvar;
	}
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_addopen(&fa, 1, outfile, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	posix_spawn_file_actions_addopen(&fa, 2, "/dev/null", O_WRONLY, 0);
	assert_int_equal(posix_spawn(&pid, MTDGATE_BIN, &fa, NULL, (char **)argv, envp), 0);
	posix_spawn_file_actions_destroy(&fa);
	free(envp);
	return pid;
}

/* Wait for pid: its exit status, or -N when a signal N ended it, or 1000
 * when it stopped (with stopped set: the process is left stopped). */
static int wait_mtd(pid_t pid, int stopped)
{
	int status;
	while (waitpid(pid, &status, stopped ? WUNTRACED : 0) < 0)
		;
	if (WIFSTOPPED(status))
		return 1000;
	if (WIFSIGNALED(status))
		return -WTERMSIG(status);
	return WEXITSTATUS(status);
}

/* Run mtdgate to its end: its exit status. */
static int run_mtd(const char *db, const char *outfile, ...)
{
	const char *args[32];
	size_t n = 0;
	va_list ap;
	va_start(ap, outfile);
	while (n < 31 && (args[n] = va_arg(ap, const char *)))
		n++;
	va_end(ap);
	args[n] = NULL;
	return wait_mtd(spawn_mtd(db, outfile, NULL, NOW, args), 0);
}

/* Run mtdgate until it stops at point stop_at, and assert that it did
 * (it did not end before, or run past it). Returns its pid, stopped. */
static pid_t run_to(const char *db, const char *outfile, const char *stop_at, const char *now,
		    const char *const *args)
{
	pid_t pid = spawn_mtd(db, outfile, stop_at, now, args);
	int rc = wait_mtd(pid, 1);
	if (rc != 1000) {
		print_error("mtdgate %s did not stop at %s: it ended with %d\n", args[0], stop_at, rc);
		fail();
	}
	return pid;
}

/* Kill the stopped pid: it must die of that SIGKILL, at the point it
 * stopped, not end by itself. */
static void kill_there(pid_t pid)
{
	assert_int_equal(kill(pid, SIGKILL), 0);
	assert_int_equal(wait_mtd(pid, 0), -SIGKILL);
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

/* integrity_check passes, and mtdgate audit verify. */
static void consistent(kctx *k, const char *db)
{
	sqlite3 *h;
	sqlite3_stmt *st;
	const char *out = scen_path(k->s, "verify.out");
	char *text;
	assert_int_equal(sqlite3_open_v2(db, &h, SQLITE_OPEN_READWRITE, NULL), SQLITE_OK);
	assert_int_equal(sqlite3_prepare_v2(h, "PRAGMA integrity_check", -1, &st, NULL), SQLITE_OK);
	assert_int_equal(sqlite3_step(st), SQLITE_ROW);
	assert_string_equal((const char *)sqlite3_column_text(st, 0), "ok");
	sqlite3_finalize(st);
	sqlite3_close(h);
	assert_int_equal(run_mtd(db, out, "audit", "verify", NULL), 0);
	text = scen_own(k->s, scen_slurp(out, NULL));
	assert_non_null(strstr(text, "intact"));
}

/* The "acknowledged N records" lines printed: how many, and the last N. */
static int acks(scen *s, const char *outfile, long *last)
{
	char *text = scen_own(s, scen_slurp(outfile, NULL)), *p;
	int n = 0;
	*last = 0;
	for (p = text; p && (p = strstr(p, "acknowledged ")); p++, n++)
		*last = atol(p + 13);
	return n;
}

static char *report_of(kctx *k, const char *db, const char *name)
{
	const char *path = scen_path(k->s, name);
	char *out;
	assert_int_equal(run_mtd(db, path, "report", "--json", NULL), 0);
	out = scen_own(k->s, scen_slurp(path, NULL));
	assert_non_null(out);
	return out;
}

static void setup_store(kctx *k, const char *db)
{
	const char *o = scen_path(k->s, "setup.out");
	char devices[400];
	snprintf(devices, sizeof devices, "%s/devices.jsonl", k->dir);
	assert_int_equal(run_mtd(db, o, "init", NULL), 0);
	assert_int_equal(run_mtd(db, o, "device", "import", devices, NULL), 0);
	assert_int_equal(run_mtd(db, o, "connector", "add", "generic", NULL), 0);
}

static void switch_on(const char *db, const char *out)
{
	assert_int_equal(run_mtd(db, out, "connector", "set", "generic", "android=on", "ios=on",
				 "windows=on", "macos=on", NULL), 0);
}

/* A fleet, and a clean run of it: ingest day 1, switch on, evaluate. */
static void prepare(kctx *k)
{
	scen *s = k->s;
	char gen[900];
	const char *db = scen_path(s, "clean.db"), *out = scen_path(s, "run.out");
	snprintf(k->dir, sizeof k->dir, "%s", s->dir);
	snprintf(gen, sizeof gen, "'%s' --devices " DEVICES " '%s' >/dev/null", MTD_FLEETGEN, s->dir);
	assert_int_equal(system(gen), 0);
	snprintf(k->day1, sizeof k->day1, "%s/day1.jsonl", s->dir);
	snprintf(k->day2, sizeof k->day2, "%s/day2.jsonl", s->dir);
	setup_store(k, db);
	assert_int_equal(run_mtd(db, out, "ingest", "generic", "--normalized", k->day1, NULL), 0);
	switch_on(db, out);
	assert_int_equal(run_mtd(db, out, "evaluate", NULL), 0);
	k->ref = report_of(k, db, "clean.json");
	k->total = count(db, "SELECT count(*) FROM reports");
	assert_int_equal(k->total, atol(DEVICES));
	assert_int_equal(count(db, "SELECT count(*) FROM decisions"), k->total);
}

/* Ingest killed right after its k-th acknowledged batch, for k = 1, 2, 3:
 * exactly the acknowledged records are there (the first record is the
 * provision), whole batches, and a rerun converges. */
static void kill_ingest_after_kth_ack(void **state)
{
	kctx k = {*state, "", "", "", NULL, 0};
	scen *s = k.s;
	const char *out = scen_path(s, "run.out"), *ack = scen_path(s, "ack.out");

	prepare(&k);
	for (int kth = 1; kth <= 3; kth++) {
		char name[32], point[64], batch[16];
		const char *db;
		long last, have;
		pid_t pid;
		snprintf(name, sizeof name, "ack%d.db", kth);
		db = scen_path(s, name);
		setup_store(&k, db);
		snprintf(point, sizeof point, "ingest-committed:%d", kth);
		snprintf(batch, sizeof batch, "%d", BATCH);
		{
			const char *args[] = {"--batch", batch, "ingest", "generic", "--normalized",
					      "--acks", k.day1, NULL};
			pid = run_to(db, ack, point, NOW, args);
		}
		/* stopped right after the k-th acknowledgement was printed */
		assert_int_equal(acks(s, ack, &last), kth);
		assert_int_equal(last, (long)kth * BATCH);
		kill_there(pid);
		consistent(&k, db);
		have = count(db, "SELECT count(*) FROM reports");
		print_message("ingest killed after ack %d: %ld acknowledged, %ld stored\n", kth, last,
			      have);
		/* nothing acknowledged is lost, and nothing after it is there */
		assert_int_equal(have, last - 1);
		/* a rerun converges */
		assert_int_equal(run_mtd(db, out, "ingest", "generic", "--normalized", k.day1, NULL), 0);
		switch_on(db, out);
		assert_int_equal(run_mtd(db, out, "evaluate", NULL), 0);
		assert_string_equal(report_of(&k, db, "got.json"), k.ref);
		consistent(&k, db);
	}
}

/* Evaluate killed inside its run: while deciding (the rules at work), and
 * after writing every decision but before its commit. All or nothing: the
 * decisions are those of before, the first time none, the second time
 * those of day 1. */
static void kill_evaluate_before_commit(void **state)
{
	kctx k = {*state, "", "", "", NULL, 0};
	scen *s = k.s;
	const char *out = scen_path(s, "run.out"), *db = scen_path(s, "ev.db");
	const char *eval[] = {"evaluate", NULL};
	static const char *const points[] = {"evaluate-decided:5000", "evaluate-before-commit"};
	char *before;

	prepare(&k);
	setup_store(&k, db);
	assert_int_equal(run_mtd(db, out, "ingest", "generic", "--normalized", k.day1, NULL), 0);
	switch_on(db, out);
	for (int i = 0; i < 2; i++) {
		kill_there(run_to(db, out, points[i], NOW, eval));
		consistent(&k, db);
		assert_int_equal(count(db, "SELECT count(*) FROM decisions"), 0);
		assert_int_equal(count(db, "SELECT count(*) FROM decision_log"), 0);
	}
	assert_int_equal(run_mtd(db, out, "evaluate", NULL), 0);
	assert_string_equal(report_of(&k, db, "got.json"), k.ref);

	/* day 2 changes some decisions: killed before the commit, day 1's stay */
	assert_int_equal(run_mtd(db, out, "ingest", "generic", "--normalized", k.day2, NULL), 0);
	before = report_of(&k, db, "before.json");
	for (int i = 0; i < 2; i++) {
		const char *later = "2026-11-19T13:10:00Z";
		kill_there(run_to(db, out, points[i], later, eval));
		consistent(&k, db);
		assert_string_equal(report_of(&k, db, "after.json"), before);
	}
}

/* Issue 19.4: the rules run under a read snapshot, so an ingest while an
 * evaluation is deciding (stopped there, as a slow policy would be)
 * succeeds at once instead of waiting for the write lock and failing; the
 * evaluation then writes what it decided from its snapshot. Another
 * evaluation that writes decisions meanwhile makes it decide again. */
static void ingest_while_evaluating(void **state)
{
	kctx k = {*state, "", "", "", NULL, 0};
	scen *s = k.s;
	const char *out = scen_path(s, "run.out"), *ev = scen_path(s, "ev.out");
	const char *db = scen_path(s, "busy.db"), *day2 = "2026-11-19T13:10:00Z";
	const char *eval[] = {"evaluate", NULL};
	char *fresh;
	pid_t pid;

	prepare(&k);
	setup_store(&k, db);
	assert_int_equal(run_mtd(db, out, "ingest", "generic", "--normalized", k.day1, NULL), 0);
	switch_on(db, out);

	/* deciding, and holding its snapshot: ingest day 2 meanwhile */
	pid = run_to(db, ev, "evaluate-decided:100", NOW, eval);
	{
		const char *args[] = {"--batch", "1000", "ingest", "generic", "--normalized",
				      k.day2, NULL};
		assert_int_equal(wait_mtd(spawn_mtd(db, out, NULL, day2, args), 0), 0);
	}
	assert_int_equal(kill(pid, SIGCONT), 0);
	assert_int_equal(wait_mtd(pid, 0), 0);
	/* it decided day 1 (its snapshot): the clean run's decisions */
	assert_string_equal(report_of(&k, db, "got.json"), k.ref);
	consistent(&k, db);

	/* another evaluation writes decisions while this one decides: it
	 * decides again from the newer store, and the result is what one
	 * evaluation alone gives */
	pid = run_to(db, ev, "evaluate-decided:100", day2, eval);
	assert_int_equal(wait_mtd(spawn_mtd(db, out, NULL, day2, eval), 0), 0);
	assert_int_equal(kill(pid, SIGCONT), 0);
	assert_int_equal(wait_mtd(pid, 0), 0);
	consistent(&k, db);
	fresh = report_of(&k, db, "fresh.json");
	{
		const char *db2 = scen_path(s, "one.db");
		setup_store(&k, db2);
		assert_int_equal(run_mtd(db2, out, "ingest", "generic", "--normalized", k.day1, NULL),
				 0);
		switch_on(db2, out);
		assert_int_equal(run_mtd(db2, out, "evaluate", NULL), 0);
		{
			const char *args[] = {"ingest", "generic", "--normalized", k.day2, NULL};
			assert_int_equal(wait_mtd(spawn_mtd(db2, out, NULL, day2, args), 0), 0);
		}
		assert_int_equal(wait_mtd(spawn_mtd(db2, out, NULL, day2, eval), 0), 0);
		assert_string_equal(fresh, report_of(&k, db2, "one.json"));
		/* and it wrote nothing the other had not: as many changes logged
		 * as by the two evaluations of one.db */
		assert_int_equal(count(db, "SELECT sum(n) FROM decision_log"),
				 count(db2, "SELECT sum(n) FROM decision_log"));
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
		cmocka_unit_test_setup_teardown(kill_ingest_after_kth_ack, setup, teardown),
		cmocka_unit_test_setup_teardown(kill_evaluate_before_commit, setup, teardown),
		cmocka_unit_test_setup_teardown(ingest_while_evaluating, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
