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
	sqlite3 *db = scen_sql_open(s->db); /* knows the decision blocks */
	char *err = NULL;
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

/* The JSON lines of the last run, parsed (owned by s); *n their count. */
static json_t **json_lines(scen *s, size_t *n)
{
	size_t cap = scen_json_lines_(s, __FILE__, __LINE__) + 1, k = 0;
	json_t **v = scen_own(s, calloc(cap, sizeof *v));
	for (char *p = s->out; *p;) {
		char *nl = strchr(p, '\n');
		size_t l = nl ? (size_t)(nl - p) : strlen(p);
		if (l && k < cap)
			v[k++] = scen_ownj(s, json_loadb(p, l, 0, NULL));
		p += l + (nl ? 1 : 0);
	}
	*n = k;
	return v;
}

static json_t *detail(const json_t *rec)
{
	return json_object_get(rec, "detail");
}

/* Message and decision entries of the block logs as `audit show` renders
 * them: valid JSON with the texts escaped, filtered by vendor, device,
 * kind and time like the audit records around them. */
static void audit_show_block_entries(void **state)
{
	scen *s = *state;
	json_t **v, *d, *first_to = NULL;
	size_t n, errors = 0, outcome_seq = 0;

	prepare(s);
	/* after the evaluation: an error with a code that needs escaping (and
	 * a non-ASCII letter that does not), then a heartbeat that ends it */
	scen_day(s, 0, 3600 + 60); /* received after they are dated (R13) */
	INGEST(s, "{\"type\":\"error\",\"code\":\"E\\\"42\\\\n-\xc3\xa9\",\"at\":\"2024-03-01T01:00:00Z\"}\n"
		  "{\"type\":\"heartbeat\",\"at\":\"2024-03-01T01:00:01Z\"}\n");

	RUN(s, 0, "audit", "show", "--kind", "message", "--json");
	v = json_lines(s, &n);
	assert_int_equal(n, 5); /* provision, two threats, error, heartbeat */
	for (size_t i = 0; i < n; i++) {
		FIELD(s, v[i], "kind", "message");
		FIELD(s, v[i], "vendor", "generic");
		if (!json_is_object(detail(v[i])))
			fail_msg("a message whose detail is not an object: %s", scen_jtext(s, v[i]));
		if (strcmp(jstr(detail(v[i]), "type"), "error"))
			continue;
		errors++;
		FIELD(s, detail(v[i]), "code", "E\"42\\n-\xc3\xa9");
		assert_int_equal(json_integer_value(json_object_get(detail(v[i]), "at")),
				 SCEN_T0 + 3600);
		assert_null(json_object_get(detail(v[i]), "level"));
		assert_true(json_is_null(json_object_get(v[i], "device")));
	}
	assert_int_equal(errors, 1);
	/* the text form shows the detail as JSON too */
	RUN(s, 0, "audit", "show", "--kind", "message");
	OUT_HAS(s, "{\"type\":\"error\",\"at\":1709254800,\"code\":\"E\\\"42\\\\n-\xc3\xa9\"}");

	/* by vendor: the connector's messages are its records as well */
	RUN(s, 0, "audit", "show", "--vendor", "generic", "--json");
	v = json_lines(s, &n);
	{
		size_t msgs = 0;
		for (size_t i = 0; i < n; i++) {
			FIELD(s, v[i], "vendor", "generic");
			msgs += !strcmp(jstr(v[i], "kind"), "message");
		}
		assert_int_equal(msgs, 5);
	}
	RUN(s, 0, "audit", "show", "--vendor", "other");
	assert_string_equal(s->out, "");
	RUN(s, 0, "audit", "show", "--vendor", "other", "--kind", "message", "--json");
	assert_string_equal(s->out, "");

	/* by device: its threat message and its decision, nothing else */
	RUN(s, 0, "audit", "show", "--device", "ios-bob", "--json");
	v = json_lines(s, &n);
	assert_int_equal(n, 2);
	for (size_t i = 0; i < n; i++)
		FIELD(s, v[i], "device", "ios-bob");
	FIELD(s, v[0], "kind", "message");
	FIELD(s, detail(v[0]), "type", "threat");
	FIELD(s, detail(v[0]), "level", "high");
	FIELD(s, v[1], "kind", "decision");
	d = detail(v[1]);
	FIELD(s, json_object_get(d, "from"), "state", "not_evaluated");
	FIELD(s, json_object_get(d, "to"), "state", "noncompliant");
	FIELD(s, json_object_get(d, "to"), "level", "high");
	FIELD(s, json_object_get(d, "to"), "access", "block");
	assert_true(has_reason(d, "generic reports high", NULL));
	first_to = json_object_get(d, "to");
	json_incref(first_to);
	scen_ownj(s, first_to);
	outcome_seq = (size_t)json_integer_value(json_object_get(d, "outcome"));
	assert_true(outcome_seq > 0);
	assert_null(strstr(s->out, "ios-alice"));
	/* the outcome it points to */
	RUN(s, 0, "audit", "show", "--kind", "outcome", "--json");
	v = json_lines(s, &n);
	{
		json_t *o = NULL;
		for (size_t i = 0; i < n; i++)
			if ((size_t)json_integer_value(json_object_get(v[i], "seq")) == outcome_seq)
				o = v[i];
		if (!o)
			fail_msg("no outcome record %zu:\n%s", outcome_seq, s->out);
		FIELD(s, detail(o), "state", "noncompliant");
		FIELD(s, detail(o), "level", "high");
		assert_true(has_reason(detail(o), "generic reports high", NULL));
	}

	/* a day later ios-bob is remediated: a second message and a decision
	 * from where the first one left it; --since picks the day's */
	scen_day(s, 1, 0);
	INGEST(s, THREAT("ios-bob", "low", "\"2024-03-02T00:00:00Z\""));
	RUN(s, 0, "evaluate");
	RUN(s, 0, "audit", "show", "--device", "ios-bob", "--kind", "decision", "--json");
	v = json_lines(s, &n);
	assert_int_equal(n, 2);
	d = detail(v[1]);
	FIELD(s, json_object_get(d, "to"), "state", "compliant");
	FIELD(s, json_object_get(d, "to"), "access", "allow");
	for (size_t i = 0; i < 3; i++) {
		const char *k[] = {"state", "access", "app_protection"};
		FIELD(s, json_object_get(d, "from"), k[i], jstr(first_to, k[i]));
	}
	RUN(s, 0, "audit", "show", "--kind", "message", "--since", "2024-03-02T00:00:00Z", "--json");
	v = json_lines(s, &n);
	assert_int_equal(n, 1);
	FIELD(s, v[0], "device", "ios-bob");
	FIELD(s, detail(v[0]), "level", "low");
	RUN(s, 0, "audit", "show", "--device", "ios-bob", "--until", "2024-03-01T23:59:59Z", "--json");
	assert_int_equal(scen_json_lines_(s, __FILE__, __LINE__), 2);
	RUN(s, 0, "audit", "verify");
}

/* An error code that is not UTF-8 (msgpack can carry one) is refused
 * (19.5) and audited nowhere as a message: the log never holds what JSON
 * output would have to mangle. */
static void audit_show_code_not_utf8(void **state)
{
	scen *s = *state;
	/* {"type":"error","code":"E\xff\xfe","at":1709251200} */
	static const unsigned char mp[] = {
		0x83, 0xa4, 't', 'y', 'p', 'e', 0xa5, 'e', 'r', 'r', 'o', 'r', 0xa4, 'c', 'o', 'd', 'e',
		0xa3, 'E', 0xff, 0xfe, 0xa2, 'a', 't', 0xce, 0x65, 0xe1, 0x1a, 0x80};
	json_t **v;
	size_t n;

	SETUP(s, SCEN_FLEET);
	RUN(s, 65, "ingest", "generic", "--normalized", scen_write(s, "error.mp", mp, sizeof mp));
	OUT_HAS(s, "0 accepted");
	ERR_HAS(s, "field 'code': is not valid UTF-8");
	RUN(s, 0, "audit", "show", "--kind", "message", "--json");
	v = json_lines(s, &n);
	assert_int_equal(n, 1); /* the provision only */
	FIELD(s, detail(v[0]), "type", "provision");
	RUN(s, 0, "audit", "verify");
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

/* The current decisions are not in the chain, their changes are: a device
 * moved to another outcome (ios-bob, blocked, given ios-alice's allowing
 * one), a decision cleared or a whole block of them deleted, is found
 * against the log; a block cut short is refused by every reader. */
#define BOB "(SELECT id FROM devices WHERE ext_id = 'ios-bob')"
#define ALICE "(SELECT id FROM devices WHERE ext_id = 'ios-alice')"
static void decisions_checked_against_log(void **state)
{
	static const struct {
		const char *sql, *says;
	} removals[] = {
		{"UPDATE decision_blocks SET entries = dslot_set(entries, " BOB " % 256, 0, 0)"
		 " WHERE blk = " BOB " / 256", "device 'ios-bob' has a decision in the audit log"},
		/* every device's: the first is said */
		{"DELETE FROM decision_blocks", "has a decision in the audit log"},
	};
	scen *s = *state;
	prepare(s);
	assert_true(scen_q_int(s, "SELECT outcome FROM decisions WHERE device = " BOB) !=
		    scen_q_int(s, "SELECT outcome FROM decisions WHERE device = " ALICE));
	tamper(s, "UPDATE decision_blocks SET entries = dslot_set(entries, " BOB " % 256, 0,"
		  " (SELECT outcome FROM decisions WHERE device = " ALICE "))"
		  " WHERE blk = " BOB " / 256");
	RUN(s, 65, "audit", "verify");
	OUT_HAS(s, "the decision of device 'ios-bob'");
	OUT_HAS(s, "the stored decisions were changed");

	for (size_t i = 0; i < sizeof removals / sizeof *removals; i++) {
		scen_free(s);
		*state = s = scen_new();
		assert_non_null(s);
		prepare(s);
		tamper(s, removals[i].sql);
		RUN(s, 65, "audit", "verify");
		OUT_HAS(s, removals[i].says);
		OUT_HAS(s, "it was removed");
	}

	scen_free(s);
	*state = s = scen_new();
	assert_non_null(s);
	prepare(s);
	tamper(s, "UPDATE decision_blocks SET entries = substr(entries, 1, length(entries) - 1)");
	RUN(s, 65, "audit", "verify");
	OUT_HAS(s, "the decisions of devices 0 to 255 (block 0) do not decode");
	RUN(s, 70, "evaluate");
	ERR_HAS(s, "the decisions of devices 0 to 255 (block 0) do not decode");
	RUN(s, 70, "report");
	ERR_HAS(s, "the decisions of devices 0 to 255 (block 0) do not decode");
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
	RUN(s, 69, "--rules", rules, "evaluate"); /* refused (issue 19, StrictModes) */
	ERR_HAS(s, "writable by others");
	ERR_HAS(s, "--insecure-rules");
	RUN(s, 0, "--rules", rules, "--insecure-rules", "evaluate"); /* overridden, warned */
	ERR_HAS(s, "writable by others");
	assert_int_equal(chmod(rules, 0755), 0);
	RUN(s, 0, "--rules", rules, "evaluate");
	assert_null(strstr(s->err, "writable by others"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(audit_intact_and_filtered, setup, teardown),
		cmocka_unit_test_setup_teardown(audit_show_block_entries, setup, teardown),
		cmocka_unit_test_setup_teardown(audit_show_code_not_utf8, setup, teardown),
		cmocka_unit_test_setup_teardown(audit_tamper_found, setup, teardown),
		cmocka_unit_test_setup_teardown(audit_log_edits_found, setup, teardown),
		cmocka_unit_test_setup_teardown(decisions_checked_against_log, setup, teardown),
		cmocka_unit_test_setup_teardown(audit_removal_found, setup, teardown),
		cmocka_unit_test_setup_teardown(audit_log_removal_and_forgery_found, setup, teardown),
		cmocka_unit_test_setup_teardown(store_private_and_rules_warning, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
