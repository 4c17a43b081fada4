/* Scenarios for hardening (issue 7): the tamper-evident audit log, store
 * permissions, warnings about rules writable by others. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <cmocka.h>
#include <sqlite3.h>

#include "harness.h"

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

/* Change the store behind mtdgate's back, as an intruder with file access. */
static void tamper(scen *s, const char *sql)
{
	sqlite3 *db;
	char *err = NULL;
	assert_int_equal(sqlite3_open(s->db, &db), SQLITE_OK);
	if (sqlite3_exec(db, sql, NULL, NULL, &err) != SQLITE_OK)
		fail_msg("tamper: %s", err ? err : "?");
	sqlite3_close(db);
}

static void prepare(scen *s)
{
	SETUP(s, SCEN_FLEET);
	RUN(s, 0, "connector", "set", "generic", "ios=on");
	INGEST(s, THREAT("ios-bob", "high", "\"2024-03-01T00:00:00Z\"")
		   THREAT("ios-alice", "low", "\"2024-03-01T00:00:00Z\""));
	RUN(s, 0, "evaluate");
}

static void audit_intact_and_filtered(void **state)
{
	scen *s = *state;
	prepare(s);
	RUN(s, 0, "audit", "verify");
	OUT_HAS(s, "audit log intact");
	RUN(s, 0, "audit", "show", "--device", "ios-bob");
	OUT_HAS(s, "message");
	OUT_HAS(s, "decision");
	assert_null(strstr(s->out, "ios-alice"));
	RUN(s, 0, "audit", "show", "--vendor", "generic", "--kind", "connector_set", "--json");
	assert_int_equal(scen_json_lines_(s, __FILE__, __LINE__), 1);
	RUN(s, 0, "audit", "show", "--since", "2030-01-01T00:00:00Z");
	assert_string_equal(s->out, "");
	RUN(s, 64, "audit", "show", "--since", "yesterday");
}

/* The store refuses edits; an edit made anyway is found, as is a removal. */
static void audit_tamper_found(void **state)
{
	scen *s = *state;
	static const char *const refused[] = {
		"UPDATE audit SET detail = '{}' WHERE seq = 3",
		"DELETE FROM audit WHERE seq = 3",
		"UPDATE message_log SET at = 1",
		"DELETE FROM message_log",
		"UPDATE decision_log SET at = 1",
		"DELETE FROM decision_log",
		"UPDATE outcomes SET reasons = '[]'",
		"DELETE FROM outcomes",
	};
	sqlite3 *db;
	prepare(s);
	assert_int_equal(sqlite3_open(s->db, &db), SQLITE_OK);
	for (size_t i = 0; i < sizeof refused / sizeof *refused; i++)
		if (sqlite3_exec(db, refused[i], NULL, NULL, NULL) == SQLITE_OK)
			fail_msg("the store allowed: %s", refused[i]);
	sqlite3_close(db);

	tamper(s, "DROP TRIGGER audit_no_update; UPDATE audit SET detail = '{}'"
		  " WHERE kind = 'connector_set'");
	RUN(s, 65, "audit", "verify");
	OUT_HAS(s, "does not match its hash");
}

/* Each sealed log: an edited row breaks its seal, or does not even read. */
static void audit_log_edits_found(void **state)
{
	static const struct {
		const char *sql, *log, *says;
	} edits[] = {
		/* the messages' receipt backdated */
		{"DROP TRIGGER message_log_no_update; UPDATE message_log SET at = at - 86400",
		 "messages", "do not match it"},
		/* the decision changes moved to another time */
		{"DROP TRIGGER decision_log_no_update; UPDATE decision_log SET at = at + 3600",
		 "decisions", "do not match it"},
		/* a decision block's entries cut short */
		{"DROP TRIGGER decision_log_no_update; UPDATE decision_log"
		 " SET entries = substr(entries, 1, 3), n = 1",
		 "decisions", "do not read as it says"},
		{"DROP TRIGGER outcomes_no_update; UPDATE outcomes SET reasons = '[\"fine\"]'",
		 "outcomes", "do not match it"},
	};
	for (size_t i = 0; i < sizeof edits / sizeof *edits; i++) {
		scen *s = scen_new();
		assert_non_null(s);
		prepare(s);
		tamper(s, edits[i].sql);
		RUN(s, 65, "audit", "verify");
		OUT_HAS(s, edits[i].says);
		OUT_HAS(s, edits[i].log);
		scen_free(s);
	}
	(void)state;
}

static void audit_removal_found(void **state)
{
	scen *s = *state;
	prepare(s);
	tamper(s, "DROP TRIGGER audit_no_delete; DELETE FROM audit WHERE kind = 'connector_set'");
	RUN(s, 65, "audit", "verify");
	OUT_HAS(s, "are missing");
}

/* A log row removed leaves a hole; one added after the last seal is not
 * covered by any. */
static void audit_log_removal_and_forgery_found(void **state)
{
	scen *s = *state;
	prepare(s);
	tamper(s, "DROP TRIGGER decision_log_no_delete; DELETE FROM decision_log");
	RUN(s, 65, "audit", "verify");
	OUT_HAS(s, "are missing");

	scen_free(s);
	*state = s = scen_new();
	assert_non_null(s);
	prepare(s);
	/* a forged block after the last seal: one heartbeat entry */
	tamper(s, "INSERT INTO message_log(seq, n, at, connector, entries)"
		  " SELECT max(seq) + 1, 1, 1709251200, 1, x'00010400010000' FROM audit");
	RUN(s, 65, "audit", "verify");
	OUT_HAS(s, "not sealed");
}

static void store_private_and_rules_warning(void **state)
{
	scen *s = *state;
	struct stat sb;
	const char *rules = scen_rules_copy(s, "open", NULL, NULL);
	RUN(s, 0, "init");
	assert_int_equal(stat(s->db, &sb), 0);
	assert_int_equal(sb.st_mode & 0777, 0600);
	assert_int_equal(chmod(rules, 0777), 0);
	RUN(s, 0, "--rules", rules, "evaluate");
	ERR_HAS(s, "writable by others");
	assert_int_equal(chmod(rules, 0755), 0);
	RUN(s, 0, "--rules", rules, "evaluate");
	assert_null(strstr(s->err, "writable by others"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(audit_intact_and_filtered, setup, teardown),
		cmocka_unit_test_setup_teardown(audit_tamper_found, setup, teardown),
		cmocka_unit_test_setup_teardown(audit_log_edits_found, setup, teardown),
		cmocka_unit_test_setup_teardown(audit_removal_found, setup, teardown),
		cmocka_unit_test_setup_teardown(audit_log_removal_and_forgery_found, setup, teardown),
		cmocka_unit_test_setup_teardown(store_private_and_rules_warning, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
