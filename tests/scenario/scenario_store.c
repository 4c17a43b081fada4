/* Scenarios for the store as a shared file (issue 17): a writer waits for
 * another writer's lock and says so, up to --wait, then exits 75; commands
 * that read never write (not even a state that time changed); init never
 * adds our tables to another application's database; a migration keeps the
 * store as it was beside it first and says where. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <sqlite3.h>

#include "harness.h"
#include "store.h" /* MTD_SCHEMA_VERSION */

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

/* A connection of the test's own to path, holding the write lock. */
static sqlite3 *lock_store(const char *path)
{
	sqlite3 *db = NULL;
	if (sqlite3_open(path, &db) != SQLITE_OK ||
	    sqlite3_exec(db, "BEGIN IMMEDIATE", NULL, NULL, NULL) != SQLITE_OK) {
		sqlite3_close(db);
		fail_msg("cannot take the store's write lock");
	}
	return db;
}

static int64_t data_version(sqlite3 *db)
{
	sqlite3_stmt *st;
	int64_t v = -1;
	if (sqlite3_prepare_v2(db, "PRAGMA data_version", -1, &st, NULL) == SQLITE_OK &&
	    sqlite3_step(st) == SQLITE_ROW)
		v = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	return v;
}

static double mono(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

/* While another connection holds the write lock, a writer gives up after
 * --wait with exit 75 and a message saying why; --wait 0 does not wait;
 * readers go on (WAL) meanwhile; after the lock is gone the writer works. */
static void busy_writer_exits_75(void **state)
{
	scen *s = *state;
	sqlite3 *db;
	double t0;
	SETUP(s, SCEN_FLEET);
	db = lock_store(s->db);
	t0 = mono();
	RUN(s, 75, "--wait", "1", "evaluate");
	ERR_HAS(s, "locked by another writer");
	ERR_HAS(s, "1.000 s");
	assert_true(mono() - t0 >= 0.9);
	RUN(s, 75, "connector", "add", "lookout", "--wait", "0");
	RUN(s, 75, "--wait", "0", "ingest", "generic", "--normalized", "-");
	/* readers are not held up by a writer */
	RUN(s, 0, "report", "--json");
	RUN(s, 0, "connector", "list", "--json");
	RUN(s, 0, "audit", "verify");
	sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
	sqlite3_close(db);
	RUN(s, 0, "--wait", "1", "evaluate");
	FIELD(s, REPORT(s, "ios-alice"), "state", "compliant");
	/* the value is checked */
	RUN(s, 64, "--wait", "soon", "evaluate");
	RUN(s, 64, "--wait", "-1", "evaluate");
}

/* A writer that finds the store locked waits for it and then does its
 * work: nothing of either writer is lost. */
static void writer_waits_for_the_lock(void **state)
{
	scen *s = *state;
	int go[2];
	pid_t pid;
	char c;
	SETUP(s, SCEN_FLEET);
	RUN(s, 0, "connector", "set", "generic", "ios=on");
	assert_int_equal(pipe(go), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) { /* another writer: holds the lock for 0.6 s, commits */
		sqlite3 *db = NULL;
		struct timespec d = {0, 600000000L};
		close(go[0]);
		if (sqlite3_open(s->db, &db) != SQLITE_OK ||
		    sqlite3_exec(db, "BEGIN IMMEDIATE", NULL, NULL, NULL) != SQLITE_OK)
			_exit(1);
		if (write(go[1], "x", 1) != 1)
			_exit(1);
		nanosleep(&d, NULL);
		_exit(sqlite3_exec(db, "COMMIT", NULL, NULL, NULL) == SQLITE_OK ? 0 : 1);
	}
	close(go[1]);
	assert_int_equal(read(go[0], &c, 1), 1);
	close(go[0]);
	INGEST(s, THREAT("ios-alice", "high", "\"2024-03-01T00:00:00Z\""));
	OUT_HAS(s, "1 accepted");
	{
		int st = 0;
		assert_int_equal(waitpid(pid, &st, 0), pid);
		assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	}
	RUN(s, 0, "evaluate");
	FIELD(s, REPORT(s, "ios-alice"), "level", "high");
}

/* list, report, parked, audit show/verify write nothing: not even when
 * --now is a month later and a connector has gone silent meanwhile (shown
 * as unresponsive, computed; the change is audited by the next command that
 * acts on it). */
static void readers_never_write(void **state)
{
	scen *s = *state;
	static const char *const reads[][4] = {
		{"connector", "list", NULL}, {"connector", "list", "--json", NULL},
		{"report", NULL},            {"report", "--json", NULL},
		{"report", "--device", "ios-alice", NULL},
		{"parked", NULL},            {"audit", "show", NULL},
		{"audit", "verify", NULL},   {"plugin", "list", NULL},
	};
	sqlite3 *db;
	int64_t v, audits, states;
	SETUP(s, SCEN_FLEET);
	RUN(s, 0, "connector", "set", "generic", "ios=on");
	INGEST(s, THREAT("ios-alice", "low", "\"2024-03-01T00:00:00Z\""));
	RUN(s, 0, "evaluate");
	db = scen_sql_open(s->db);
	v = data_version(db);
	audits = scen_q_int(s, "SELECT count(*) FROM audit");
	states = scen_q_int(s, "SELECT count(*) FROM audit WHERE kind = 'connector_state'");
	scen_day(s, 40, 0);
	for (size_t i = 0; i < sizeof reads / sizeof *reads; i++) {
		scen_runv(s, NULL, 0, reads[i]);
		if (s->status != 0)
			fail_msg("%s: exit %d: %s", s->cmd, s->status, s->err);
		if (data_version(db) != v)
			fail_msg("'%s' wrote to the store", s->cmd);
	}
	sqlite3_close(db);
	assert_string_equal(jstr(CONNECTOR(s, "generic"), "state"), "unresponsive");
	assert_int_equal(scen_q_int(s, "SELECT count(*) FROM audit"), audits);
	/* back at day 1 nothing had happened */
	scen_day(s, 1, 0);
	assert_string_equal(jstr(CONNECTOR(s, "generic"), "state"), "enabled");
	/* a command that acts records it, dated when it acted */
	scen_day(s, 40, 0);
	RUN(s, 0, "evaluate");
	assert_int_equal(scen_q_int(s, "SELECT count(*) FROM audit WHERE kind = 'connector_state'"),
			 states + 1);
}

static void sql(const char *path, const char *text)
{
	sqlite3 *db = NULL;
	char *err = NULL;
	int rc = sqlite3_open(path, &db) == SQLITE_OK
			 ? sqlite3_exec(db, text, NULL, NULL, &err)
			 : SQLITE_CANTOPEN;
	if (rc != SQLITE_OK)
		fail_msg("%s: %s", text, err ? err : sqlite3_errmsg(db));
	sqlite3_free(err);
	sqlite3_close(db);
	chmod(path, 0600);
}

/* init refuses another application's database and writes nothing to it
 * (not even WAL mode); other commands refuse it too; an empty file is
 * made a store. */
static void init_refuses_a_foreign_database(void **state)
{
	scen *s = *state;
	const char *other = scen_path(s, "other.db");
	sqlite3 *db;
	sql(other, "CREATE TABLE notes(id INTEGER PRIMARY KEY, text TEXT);"
		   "INSERT INTO notes(text) VALUES ('keep me');");
	RUN_RAW(s, 69, "--db", other, "init");
	ERR_HAS(s, "another application");
	ERR_HAS(s, "1 table");
	assert_int_equal(sqlite3_open(other, &db), SQLITE_OK);
	{
		sqlite3_stmt *st;
		assert_int_equal(sqlite3_prepare_v2(db, "SELECT (SELECT count(*) FROM sqlite_schema),"
						    " (SELECT journal_mode FROM pragma_journal_mode)",
						    -1, &st, NULL),
				 SQLITE_OK);
		assert_int_equal(sqlite3_step(st), SQLITE_ROW);
		assert_int_equal(sqlite3_column_int(st, 0), 1);
		assert_string_equal((const char *)sqlite3_column_text(st, 1), "delete");
		sqlite3_finalize(st);
	}
	sqlite3_close(db);
	RUN_RAW(s, 69, "--db", other, "report");
	ERR_HAS(s, "another application");

	/* one that keeps its own schema version: never taken for an old store */
	other = scen_path(s, "versioned.db");
	sql(other, "CREATE TABLE t(x); PRAGMA user_version = 3;");
	RUN_RAW(s, 69, "--db", other, "report");
	ERR_HAS(s, "another application");
	RUN_RAW(s, 69, "--db", other, "init");
	assert_false(scen_exists(scen_path(s, "versioned.db.schema-3.bak")));

	/* an empty file (made 0600 beforehand, as a package might) */
	other = scen_writes(s, "empty.db", "");
	chmod(other, 0600);
	RUN_RAW(s, 0, "--db", other, "init");
	RUN_RAW(s, 0, "--db", other, "init");
}

/* A store of an older schema is copied beside itself before it is
 * migrated; the command says so once; the copy is private and the old
 * store as it was. */
static void migration_keeps_a_backup(void **state)
{
	scen *s = *state;
	char *text = scen_own(s, scen_slurp(MTD_FIXTURES_DIR "/store-v8.sql", NULL));
	const char *bak = scen_path(s, "m.db.schema-8.bak");
	struct stat sb;
	sqlite3 *db;
	sqlite3_stmt *st;
	assert_non_null(text);
	sql(s->db, text);
	scen_day(s, 2, 0);
	RUN(s, 0, "report");
	ERR_HAS(s, "migrated from schema 8 to");
	ERR_HAS(s, "m.db.schema-8.bak");
	assert_int_equal(scen_q_int(s, "PRAGMA user_version"), MTD_SCHEMA_VERSION);
	assert_int_equal(stat(bak, &sb), 0);
	assert_int_equal(sb.st_mode & 0777, 0600);
	assert_int_equal(sqlite3_open(bak, &db), SQLITE_OK);
	assert_int_equal(sqlite3_prepare_v2(db, "PRAGMA user_version", -1, &st, NULL), SQLITE_OK);
	assert_int_equal(sqlite3_step(st), SQLITE_ROW);
	assert_int_equal(sqlite3_column_int(st, 0), 8);
	sqlite3_finalize(st);
	sqlite3_close(db);
	RUN(s, 0, "report");
	assert_null(strstr(s->err, "migrated"));
	/* a second old store at the same path does not overwrite the first copy */
	assert_int_equal(unlink(s->db), 0);
	unlink(scen_path(s, "m.db-wal"));
	unlink(scen_path(s, "m.db-shm"));
	sql(s->db, text);
	RUN(s, 0, "audit", "verify");
	ERR_HAS(s, "m.db.schema-8.bak.2");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(busy_writer_exits_75, setup, teardown),
		cmocka_unit_test_setup_teardown(writer_waits_for_the_lock, setup, teardown),
		cmocka_unit_test_setup_teardown(readers_never_write, setup, teardown),
		cmocka_unit_test_setup_teardown(init_refuses_a_foreign_database, setup, teardown),
		cmocka_unit_test_setup_teardown(migration_keeps_a_backup, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
