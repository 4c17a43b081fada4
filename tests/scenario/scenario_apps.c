/* Scenarios for apps (issue 4): app protection actions with wipe issued
 * once, App Sync answers and refusals (R9), AppSync request messages gated
 * like threats (R1), inventory replaced per device, the opt-in inventory
 * rule. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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

/* ios-alice, ios-bob corporate iOS; ios-pat personal iOS; and-dan corporate
 * Android; win-eve corporate Windows. */
#define APPS_FLEET                                                                               \
	"{\"id\":\"ios-alice\",\"platform\":\"ios\",\"ownership\":\"corporate\",\"management\":\"enrolled\"}\n" \
	"{\"id\":\"ios-bob\",\"platform\":\"ios\",\"ownership\":\"corporate\",\"management\":\"enrolled\"}\n"   \
	"{\"id\":\"ios-pat\",\"platform\":\"ios\",\"ownership\":\"personal\",\"management\":\"unenrolled\"}\n"  \
	"{\"id\":\"and-dan\",\"platform\":\"android\",\"ownership\":\"corporate\",\"management\":\"enrolled\"}\n" \
	"{\"id\":\"win-eve\",\"platform\":\"windows\",\"ownership\":\"corporate\",\"management\":\"enrolled\"}\n"

#define APP(dev, id, extra)                                                                       \
	"{\"device\":\"" dev "\",\"app_id\":\"" id "\",\"version\":\"1.0\",\"short_version\":\"1\"," \
	"\"name\":\"" id "\",\"bundle_size\":1000,\"dynamic_size\":20,\"adhoc_signed\":false,"     \
	"\"app_store\":true,\"beta\":false,\"vpp\":false,\"validated\":true,\"managed\":true" extra "}\n"

#define INVENTORY                                                                                 \
	APP("ios-alice", "com.contoso.mail", "") APP("ios-alice", "com.contoso.crm", "")             \
	APP("ios-bob", "com.contoso.mail", "") APP("ios-pat", "com.game.fun", "")                    \
	APP("and-dan", "com.contoso.mail", "") APP("win-eve", "com.contoso.mail", "")

/* Count audit rows of a kind for a device, read straight from the store. */
static int audit_count(scen *s, const char *kind, const char *device)
{
	sqlite3 *db;
	sqlite3_stmt *st;
	int n = -1;
	if (sqlite3_open_v2(s->db, &db, SQLITE_OPEN_READONLY, NULL) == SQLITE_OK &&
	    sqlite3_prepare_v2(db, "SELECT count(*) FROM audit WHERE kind = ?1 AND device IS ?2",
			       -1, &st, NULL) == SQLITE_OK) {
		sqlite3_bind_text(st, 1, kind, -1, SQLITE_STATIC);
		if (device)
			sqlite3_bind_text(st, 2, device, -1, SQLITE_STATIC);
		if (sqlite3_step(st) == SQLITE_ROW)
			n = sqlite3_column_int(st, 0);
		sqlite3_finalize(st);
	}
	sqlite3_close(db);
	return n;
}

/* R8: wipe is issued once and recorded; it is not repeated while the device
 * stays above the level; remediation lifts it; a new breach wipes again. */
static void wipe_issued_once(void **state)
{
	scen *s = *state;
	const char *rules = scen_rules_copy(s, "wipe", NULL,
		"return { default = { max_level = \"high\", app_max_level = \"low\", app_action = \"wipe\" } }\n");
	json_t *r;

	SETUP(s, APPS_FLEET);
	RUN(s, 0, "connector", "set", "generic", "mam_ios=on");
	INGEST(s, THREAT("ios-pat", "high", "\"2024-03-01T00:00:00Z\""));
	RUN(s, 0, "--rules", rules, "evaluate");
	r = REPORT(s, "ios-pat");
	FIELD(s, r, "app_protection", "wipe");
	assert_int_equal(audit_count(s, "app_wipe", "ios-pat"), 1);

	/* Still high, a newer report and more evaluations: no second wipe. */
	scen_day(s, 1, 0);
	INGEST(s, THREAT("ios-pat", "high", "\"2024-03-02T00:00:00Z\""));
	RUN(s, 0, "--rules", rules, "evaluate");
	RUN(s, 0, "--rules", rules, "evaluate");
	r = REPORT(s, "ios-pat");
	FIELD(s, r, "app_protection", "wipe");
	assert_int_equal(audit_count(s, "app_wipe", "ios-pat"), 1);

	/* Remediated, then breached again: a new wipe. */
	scen_day(s, 2, 0);
	INGEST(s, THREAT("ios-pat", "secured", "\"2024-03-03T00:00:00Z\""));
	RUN(s, 0, "--rules", rules, "evaluate");
	FIELD(s, REPORT(s, "ios-pat"), "app_protection", "none");
	scen_day(s, 3, 0);
	INGEST(s, THREAT("ios-pat", "medium", "\"2024-03-04T00:00:00Z\""));
	RUN(s, 0, "--rules", rules, "evaluate");
	FIELD(s, REPORT(s, "ios-pat"), "app_protection", "wipe");
	assert_int_equal(audit_count(s, "app_wipe", "ios-pat"), 2);
}

/* "warn" as a group's action reaches the report. */
static void warn_action(void **state)
{
	scen *s = *state;
	const char *rules = scen_rules_copy(s, "warn", NULL,
		"return { default = { app_max_level = \"secured\", app_action = \"warn\" } }\n");
	SETUP(s, APPS_FLEET);
	RUN(s, 0, "connector", "set", "generic", "mam_ios=on");
	INGEST(s, THREAT("ios-pat", "low", "\"2024-03-01T00:00:00Z\""));
	RUN(s, 0, "--rules", rules, "evaluate");
	FIELD(s, REPORT(s, "ios-pat"), "app_protection", "warn");
}

/* ---- an independent msgpack reader (not msgpack-c): only what App Sync
 * answers hold: maps, strings, non-negative ints, booleans, nil. ---- */

typedef struct rd {
	const unsigned char *p, *end;
} rd;

static int rd_u(rd *r, int bytes, uint64_t *v)
{
	*v = 0;
	if (r->end - r->p < bytes)
		return -1;
	for (int i = 0; i < bytes; i++)
		*v = *v << 8 | *r->p++;
	return 0;
}

/* Read one value into a JSON value; NULL on anything unexpected. */
static json_t *rd_value(rd *r)
{
	uint64_t n;
	unsigned c;
	if (r->p >= r->end)
		return NULL;
	c = *r->p++;
	if (c <= 0x7f)
		return json_integer((json_int_t)c);
	if (c == 0xc0)
		return json_null();
	if (c == 0xc2 || c == 0xc3)
		return json_boolean(c == 0xc3);
	if (c >= 0xcc && c <= 0xcf) {
		if (rd_u(r, 1 << (c - 0xcc), &n))
			return NULL;
		return json_integer((json_int_t)n);
	}
	if ((c >= 0xa0 && c <= 0xbf) || c == 0xd9 || c == 0xda || c == 0xdb) {
		if (c <= 0xbf)
			n = c & 0x1f;
		else if (rd_u(r, 1 << (c - 0xd9), &n))
			return NULL;
		if ((uint64_t)(r->end - r->p) < n)
			return NULL;
		r->p += n;
		return json_stringn((const char *)r->p - n, (size_t)n);
	}
	if ((c >= 0x80 && c <= 0x8f) || c == 0xde) {
		json_t *o = json_object();
		if (c <= 0x8f)
			n = c & 0x0f;
		else if (rd_u(r, 2, &n))
			return NULL;
		for (uint64_t i = 0; i < n; i++) {
			json_t *k = rd_value(r), *v = k ? rd_value(r) : NULL;
			if (!v || !json_is_string(k)) {
				json_decref(k);
				json_decref(v);
				json_decref(o);
				return NULL;
			}
			json_object_set_new(o, json_string_value(k), v);
			json_decref(k);
		}
		return o;
	}
	return NULL;
}

/* `appsync generic` run with its answer in msgpack written to the file at
 * path, read back by a decoder that is not msgpack-c: the records. */
static json_t *read_answer(scen *s, const char *path)
{
	size_t len = 0;
	char cmd[1200], *bytes;
	snprintf(cmd, sizeof cmd, "'%s' --db '%s' --plugins '%s' appsync generic > '%s' 2>/dev/null",
		 MTDGATE_BIN, s->db, MTD_PLUGIN_DIR, path);
	assert_int_equal(system(cmd), 0);
	bytes = scen_own(s, scen_slurp(path, &len));
	rd r = {(const unsigned char *)bytes, (const unsigned char *)bytes + len};
	json_t *all = scen_ownj(s, json_array());
	assert_non_null(bytes);
	while (r.p < r.end) {
		json_t *rec = rd_value(&r);
		if (!rec)
			fail_msg("App Sync answer is not a msgpack stream of maps at byte %zu",
				 (size_t)(r.p - (const unsigned char *)bytes));
		json_array_append_new(all, rec);
	}
	return all;
}

static int has_device(json_t *recs, const char *dev)
{
	size_t i;
	json_t *v;
	json_array_foreach(recs, i, v) if (!strcmp(jstr(v, "device"), dev)) return 1;
	return 0;
}

/* R9 and R1 for App Sync answers. */
static void appsync_answers(void **state)
{
	scen *s = *state;
	const char *inv = scen_writes(s, "inv.jsonl", INVENTORY);
	const char *out = scen_path(s, "answer.msgpack");
	json_t *recs, *rec;

	SETUP(s, APPS_FLEET);
	RUN(s, 0, "inventory", "import", inv);

	/* Switch off: refused, and audited. */
	RUN(s, 69, "appsync", "generic", "--json");
	ERR_HAS(s, "appsync_ios");
	assert_int_equal(audit_count(s, "appsync_refused", NULL), 1);

	/* Corporate iOS only. */
	RUN(s, 0, "connector", "set", "generic", "appsync_ios=on");
	RUN(s, 0, "appsync", "generic", "--json");
	assert_int_equal(scen_json_lines_(s, __FILE__, __LINE__), 3);
	OUT_HAS(s, "\"device\":\"ios-alice\"");
	OUT_HAS(s, "\"device\":\"ios-bob\"");
	assert_null(strstr(s->out, "ios-pat"));
	assert_null(strstr(s->out, "and-dan"));
	assert_null(strstr(s->out, "win-eve"));

	/* The msgpack answer. */
	recs = read_answer(s, out);
	assert_int_equal(json_array_size(recs), 3);
	assert_true(has_device(recs, "ios-alice") && has_device(recs, "ios-bob"));
	rec = json_array_get(recs, 0);
	assert_int_equal(json_object_size(rec), 13); /* every SPEC 4.2 field */
	assert_string_equal(jstr(rec, "device"), "ios-alice");
	assert_string_equal(jstr(rec, "app_id"), "com.contoso.crm");
	assert_int_equal(json_integer_value(json_object_get(rec, "bundle_size")), 1000);
	assert_true(json_is_false(json_object_get(rec, "adhoc_signed")));
	assert_true(json_is_true(json_object_get(rec, "managed")));

	/* Personal devices with the second switch, still never Android. */
	RUN(s, 0, "connector", "set", "generic", "appsync_personal_ios=on");
	RUN(s, 0, "appsync", "generic", "--json");
	assert_int_equal(scen_json_lines_(s, __FILE__, __LINE__), 4);
	OUT_HAS(s, "\"device\":\"ios-pat\"");
	assert_null(strstr(s->out, "and-dan"));

	/* Unavailable: refused. */
	RUN(s, 0, "connector", "remove", "generic");
	RUN(s, 69, "appsync", "generic", "--json");
	ERR_HAS(s, "unavailable");
	assert_string_equal(s->out, "");
}

/* A field the inventory did not give is null in both answers (nil in
 * msgpack), the ones it gave are there; a bundle size of 0 and an empty
 * name are values, not absent ones. */
static void appsync_absent_fields(void **state)
{
	scen *s = *state;
	const char *inv = scen_writes(s, "inv.jsonl",
				      "{\"device\":\"ios-alice\",\"app_id\":\"com.bare\","
				      "\"name\":\"\",\"bundle_size\":0,\"beta\":true}\n");
	const char *out = scen_path(s, "answer.msgpack");
	static const char *const absent[] = {"version", "short_version", "dynamic_size",
					     "adhoc_signed", "app_store", "vpp", "validated",
					     "managed"};
	json_t *recs, *rec;

	SETUP(s, APPS_FLEET);
	RUN(s, 0, "inventory", "import", inv);
	RUN(s, 0, "connector", "set", "generic", "appsync_ios=on");
	RUN(s, 0, "appsync", "generic", "--json");
	OUT_HAS(s, "{\"device\":\"ios-alice\",\"app_id\":\"com.bare\",\"version\":null,"
		   "\"short_version\":null,\"name\":\"\",\"bundle_size\":0,\"dynamic_size\":null,"
		   "\"adhoc_signed\":null,\"app_store\":null,\"beta\":true,\"vpp\":null,"
		   "\"validated\":null,\"managed\":null}");
	recs = read_answer(s, out);
	assert_int_equal(json_array_size(recs), 1);
	rec = json_array_get(recs, 0);
	assert_int_equal(json_object_size(rec), 13);
	for (size_t i = 0; i < sizeof absent / sizeof *absent; i++)
		if (!json_is_null(json_object_get(rec, absent[i])))
			fail_msg("field '%s' is not nil", absent[i]);
	assert_string_equal(jstr(rec, "name"), "");
	assert_int_equal(json_integer_value(json_object_get(rec, "bundle_size")), 0);
	assert_true(json_is_true(json_object_get(rec, "beta")));
}

/* A not-set-up connector refuses App Sync too (R1). */
static void appsync_not_set_up(void **state)
{
	scen *s = *state;
	RUN(s, 0, "init");
	RUN(s, 0, "connector", "add", "generic");
	RUN(s, 69, "appsync", "generic", "--json");
	ERR_HAS(s, "not_set_up");
	RUN(s, 69, "appsync", "nosuchvendor", "--json");
}

/* AppSync request messages on the channel are gated like threats. */
static void appsync_request_messages(void **state)
{
	scen *s = *state;
	const char *msg = scen_writes(s, "req.jsonl",
				      "{\"type\":\"appsync_request\",\"at\":\"2024-03-01T00:00:00Z\"}\n");
	RUN(s, 0, "init");
	RUN(s, 0, "connector", "add", "generic");
	RUN(s, 0, "ingest", "generic", "--normalized", msg);
	OUT_HAS(s, "0 accepted, 1 rejected");
	INGEST(s, "{\"type\":\"provision\",\"at\":\"2024-03-01T00:00:00Z\"}\n");
	RUN(s, 0, "ingest", "generic", "--normalized", msg);
	OUT_HAS(s, "1 accepted, 0 rejected");
	assert_int_equal(audit_count(s, "message_rejected", NULL), 1);
}

/* Inventory is replaced per device; the replaced one is in the audit log. */
static void inventory_replaced(void **state)
{
	scen *s = *state;
	const char *a = scen_writes(s, "a.jsonl", INVENTORY);
	const char *b = scen_writes(s, "b.jsonl", APP("ios-alice", "com.new.app", ""));

	SETUP(s, APPS_FLEET);
	RUN(s, 0, "connector", "set", "generic", "appsync_ios=on");
	RUN(s, 0, "inventory", "import", a);
	RUN(s, 0, "inventory", "import", b);
	RUN(s, 0, "appsync", "generic", "--json");
	/* alice has only the new app; bob keeps his. */
	assert_int_equal(scen_json_lines_(s, __FILE__, __LINE__), 2);
	OUT_HAS(s, "com.new.app");
	assert_null(strstr(s->out, "com.contoso.crm"));
	OUT_HAS(s, "\"device\":\"ios-bob\"");
	assert_int_equal(audit_count(s, "inventory", "ios-alice"), 2);

	/* A record for an unknown device, and a bad field: 65, by line. */
	RUN(s, 65, "inventory", "import",
	    scen_writes(s, "c.jsonl", APP("ios-bob", "x", "") APP("nobody", "y", "")
					  "{\"device\":\"ios-bob\",\"app_id\":\"z\",\"beta\":\"yes\"}\n"));
	ERR_HAS(s, "line 2");
	ERR_HAS(s, "line 3");
	ERR_HAS(s, "beta");
}

/* The opt-in inventory rule: off by default, on it raises the level. */
static void inventory_rule_opt_in(void **state)
{
	scen *s = *state;
	const char *inv = scen_writes(s, "inv.jsonl",
		"{\"device\":\"ios-alice\",\"app_id\":\"com.sideload\",\"adhoc_signed\":true}\n"
		APP("ios-bob", "com.ok", ""));
	const char *rules = scen_rules_copy(s, "apprisk", NULL,
		"return { default = { max_level = \"low\", app_max_level = \"low\", app_action = \"block\" } }\n");
	char policy[400], *text, *p;
	json_t *r;

	SETUP(s, APPS_FLEET);
	RUN(s, 0, "inventory", "import", inv);
	RUN(s, 0, "connector", "set", "generic", "ios=on");
	INGEST(s, THREAT("ios-alice", "low", "\"2024-03-01T00:00:00Z\""));
	RUN(s, 0, "evaluate");
	FIELD(s, REPORT(s, "ios-alice"), "state", "compliant");

	snprintf(policy, sizeof policy, "%s/policy.lua", rules);
	text = scen_own(s, scen_slurp(policy, NULL));
	assert_non_null(text);
	p = strstr(text, "local USE_APP_RISK = false");
	assert_non_null(p);
	memcpy(p, "local USE_APP_RISK = true ", 26);
	scen_writes(s, "apprisk/policy.lua", text);
	text = scen_own(s, scen_slurp(MTD_RULES_DIR "/app_risk.lua", NULL));
	assert_non_null(text);
	scen_writes(s, "apprisk/app_risk.lua", text);
	RUN(s, 0, "--rules", rules, "evaluate");
	r = REPORT(s, "ios-alice");
	FIELD(s, r, "state", "noncompliant");
	FIELD(s, r, "level", "medium");
	if (!has_reason(r, "inventory", "ad-hoc signed", "com.sideload", NULL))
		fail_msg("no reason names the ad-hoc signed app: %s", scen_jtext(s, r));
	FIELD(s, REPORT(s, "ios-bob"), "state", "compliant");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(wipe_issued_once, setup, teardown),
		cmocka_unit_test_setup_teardown(warn_action, setup, teardown),
		cmocka_unit_test_setup_teardown(appsync_answers, setup, teardown),
		cmocka_unit_test_setup_teardown(appsync_absent_fields, setup, teardown),
		cmocka_unit_test_setup_teardown(appsync_not_set_up, setup, teardown),
		cmocka_unit_test_setup_teardown(appsync_request_messages, setup, teardown),
		cmocka_unit_test_setup_teardown(inventory_replaced, setup, teardown),
		cmocka_unit_test_setup_teardown(inventory_rule_opt_in, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
