/* Scenarios for the fleet out (issue 18): decisions readable with plain
 * SQL by the real sqlite3 program, OCSF and RFC 5424 syslog from the
 * audit log, pruning into archives and anchors. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <spawn.h>
#include <sys/wait.h>
#include <fcntl.h>
#include <unistd.h>

#include <cmocka.h>

#include "harness.h"

extern char **environ;

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

/* Run the sqlite3 program (Debian's, no mtdgate code) on file with the
 * arguments given; its stdout, owned by s. Fails the test unless it exits
 * 0. */
static char *sqlite3_cli(scen *s, const char *file, ...)
{
	const char *argv[16] = {"sqlite3", "-readonly", "-bail"};
	int n = 3, status, fd;
	const char *out = scen_path(s, "sqlite3.out");
	posix_spawn_file_actions_t fa;
	va_list ap;
	pid_t pid;
	char *text;

	va_start(ap, file);
	for (const char *a; (a = va_arg(ap, const char *)) && n < 13;)
		argv[n++] = a;
	va_end(ap);
	argv[n++] = file;
	/* the statement is the last argument: pass it through the vararg order */
	{
		const char *sql = argv[n - 2];
		argv[n - 2] = file;
		argv[n - 1] = sql;
	}
	argv[n] = NULL;
	fd = open(out, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	assert_true(fd >= 0);
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_adddup2(&fa, fd, 1);
	assert_int_equal(posix_spawnp(&pid, "sqlite3", &fa, NULL, (char *const *)argv, environ), 0);
	posix_spawn_file_actions_destroy(&fa);
	close(fd);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
		fail_msg("sqlite3 %s '%s' failed (status %d)", file, argv[n - 1], status);
	text = scen_own(s, scen_slurp(out, NULL));
	assert_non_null(text);
	return text;
}

/* A device id no SQL, CSV, JSON or syslog writer may take for syntax, as
 * JSON text: ev\"il,'; DROP TABLE decisions;--] */
#define HOSTILE_ID "ev\\\\\\\"il,'; DROP TABLE decisions;--]"

static const char fleet_hostile[] =
	"{\"id\":\"" HOSTILE_ID "\",\"platform\":\"android\",\"os_version\":\"14\","
	"\"ownership\":\"corporate\",\"management\":\"enrolled\",\"user\":\"h@example.com\"}\n";

/* ---- decisions with plain SQL ---- */

static void export_sql_plain_tables(void **state)
{
	scen *s = *state;
	const char *exp = scen_path(s, "decisions.db");
	json_t *rows, *bob;
	char *out, *all;
	size_t i;

	SETUP(s, SCEN_FLEET);
	RUN_IN(s, 0, scen_writes(s, "h.jsonl", fleet_hostile), "device", "import", "-");
	RUN(s, 0, "connector", "set", "generic", "ios=on", "android=on", "windows=on");
	scen_day(s, 0, 3600);
	INGEST(s, THREAT("ios-bob", "high", "\"2024-03-01T00:30:00Z\"")
		  THREAT(HOSTILE_ID, "low", "\"2024-03-01T00:30:00Z\""));
	RUN(s, 0, "evaluate");
	RUN(s, 0, "export", "sql", exp);
	OUT_HAS(s, "exported 8 decisions");

	/* every device's decision as report --json has it, read by sqlite3 alone */
	out = sqlite3_cli(s, exp, "-json",
			  "SELECT device, platform, state, level, access, app_protection, evaluated_at,"
			  " json(reasons_json) AS reasons FROM decisions ORDER BY device", NULL);
	rows = scen_ownj(s, json_loads(out, 0, NULL));
	assert_true(json_is_array(rows));
	assert_int_equal(json_array_size(rows), 8);
	all = REPORT_ALL(s);
	assert_non_null(all);
	for (i = 0; i < json_array_size(rows); i++) {
		json_t *r = json_array_get(rows, i);
		json_t *rep = REPORT(s, jstr(r, "device"));
		const char *f[] = {"platform", "state", "level", "access", "app_protection"};
		for (size_t k = 0; k < 5; k++)
			FIELD(s, rep, f[k], jstr(r, f[k]));
		assert_string_equal(jstr(r, "evaluated_at"), "2024-03-01T01:00:00Z");
		assert_true(json_equal(json_object_get(rep, "reasons"),
				       scen_ownj(s, json_loads(jstr(r, "reasons"), 0, NULL))));
	}
	bob = REPORT(s, "ios-bob");
	FIELD(s, bob, "state", "noncompliant");
	/* the hostile id is data, both in a query parameter and in a result */
	out = sqlite3_cli(s, exp, "-list",
			  "SELECT d.state || '|' || v.vendor || '|' || v.level FROM decisions d"
			  " JOIN decision_vendors v USING (device) WHERE d.device = '"
			  "ev\\\"il,''; DROP TABLE decisions;--]'", NULL);
	assert_string_equal(out, "compliant|generic|low\n");
	out = sqlite3_cli(s, exp, "-list",
			  "SELECT count(*) FROM decisions WHERE access = 'block';"
			  "SELECT reason FROM decision_reasons WHERE device = 'ios-bob' AND n = 1", NULL);
	assert_true(!strncmp(out, "1\n", 2));
	assert_non_null(strstr(out, "high"));
	out = sqlite3_cli(s, exp, "-list", "SELECT value FROM sqlfile_info WHERE key = 'exported_at'",
			  NULL);
	assert_string_equal(out, "2024-03-01T01:00:00Z\n");

	/* refreshed: bob's remediation shows in the next export */
	scen_day(s, 0, 7200);
	INGEST(s, THREAT("ios-bob", "secured", "\"2024-03-01T01:30:00Z\""));
	RUN(s, 0, "evaluate");
	RUN(s, 0, "export", "sql", exp);
	out = sqlite3_cli(s, exp, "-list", "SELECT state FROM decisions WHERE device = 'ios-bob'",
			  NULL);
	assert_string_equal(out, "compliant\n");
	/* never over a file that is not an export, nor over the store */
	RUN(s, 69, "export", "sql", scen_writes(s, "precious.txt", "keep me\n"));
	ERR_HAS(s, "not an mtdgate export");
	assert_string_equal(scen_own(s, scen_slurp(scen_path(s, "precious.txt"), NULL)), "keep me\n");
	RUN(s, 69, "export", "sql", s->db);
	RUN(s, 64, "export", "csv", exp);
	RUN(s, 0, "audit", "verify");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(export_sql_plain_tables, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
