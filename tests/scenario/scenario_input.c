/* Scenarios: malformed input is reported by position (line N / record N)
 * and skipped; the valid records are kept (exit 65). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <msgpack.h>

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

static void assert_devices(scen *s, const char *const *present, const char *const *absent)
{
	char *all = REPORT_ALL(s);
	for (int i = 0; present && present[i]; i++) {
		char key[128];
		snprintf(key, sizeof key, "\"device\":\"%s\"", present[i]);
		if (!strstr(all, key))
			fail_msg("device %s missing from report --json:\n%s", present[i], all);
	}
	for (int i = 0; absent && absent[i]; i++) {
		char key[128];
		snprintf(key, sizeof key, "\"device\":\"%s\"", absent[i]);
		if (strstr(all, key))
			fail_msg("malformed device %s is in report --json:\n%s", absent[i], all);
	}
}

/* 5a. JSON lines: line 3 has a bad field, line 5 is not JSON. */
static void device_import_json_lines(void **state)
{
	scen *s = *state;
	static const char *const good[] = {"d1", "d2", "d4", "d6", NULL};
	static const char *const bad[] = {"d3", NULL};
	const char *f = scen_writes(
		s, "devices.jsonl",
		"{\"id\":\"d1\",\"platform\":\"ios\",\"ownership\":\"corporate\",\"management\":\"enrolled\"}\n"
		"{\"id\":\"d2\",\"platform\":\"android\",\"ownership\":\"personal\",\"management\":\"unenrolled\"}\n"
		"{\"id\":\"d3\",\"platform\":\"blackberry\",\"ownership\":\"corporate\",\"management\":\"enrolled\"}\n"
		"{\"id\":\"d4\",\"platform\":\"windows\",\"ownership\":\"corporate\",\"management\":\"enrolled\"}\n"
		"{\"id\":\"d5\",\"platform\":\"ios\",\"ownership\":\n"
		"{\"id\":\"d6\",\"platform\":\"macos\",\"ownership\":\"corporate\",\"management\":\"enrolled\"}\n");

	RUN(s, 0, "init");
	RUN(s, 65, "device", "import", f);
	ERR_HAS(s, "line 3");
	ERR_HAS(s, "platform");
	ERR_HAS(s, "blackberry");
	ERR_HAS(s, "line 5");
	OUT_HAS(s, "6 records, 4 imported, 2 malformed");
	assert_devices(s, good, bad);
	RUN(s, 64, "report", "--device", "d3");
}

static void pack_str(msgpack_packer *pk, const char *str)
{
	msgpack_pack_str_with_body(pk, str, strlen(str));
}

static void pack_device(msgpack_packer *pk, const char *id, const char *platform, int bad_mgmt)
{
	msgpack_pack_map(pk, 4);
	pack_str(pk, "id");
	pack_str(pk, id);
	pack_str(pk, "platform");
	pack_str(pk, platform);
	pack_str(pk, "ownership");
	pack_str(pk, "corporate");
	pack_str(pk, "management");
	if (bad_mgmt)
		msgpack_pack_int(pk, 5);
	else
		pack_str(pk, "enrolled");
}

/* Huge fields are refused by position; the rest is kept (SPEC 5). */
static void device_import_huge_fields(void **state)
{
	scen *s = *state;
	static const char *const good[] = {"h3", NULL};
	size_t big = 2u << 20, n = 0;
	char *text = scen_own(s, malloc(big + 8192));
	n += (size_t)sprintf(text + n, "{\"id\":\"");
	memset(text + n, 'x', 5000);
	n += 5000;
	n += (size_t)sprintf(text + n, "\",\"platform\":\"ios\",\"ownership\":\"corporate\","
			     "\"management\":\"enrolled\"}\n{\"id\":\"h2\",\"user\":\"");
	memset(text + n, 'u', big);
	n += big;
	n += (size_t)sprintf(text + n, "\",\"platform\":\"ios\",\"ownership\":\"corporate\","
			     "\"management\":\"enrolled\"}\n{\"id\":\"h3\",\"platform\":\"ios\","
			     "\"ownership\":\"corporate\",\"management\":\"enrolled\"}\n");
	RUN(s, 0, "init");
	RUN(s, 65, "device", "import", scen_write(s, "big.jsonl", text, n));
	ERR_HAS(s, "line 1");
	ERR_HAS(s, "'id'");
	ERR_HAS(s, "line 2");
	OUT_HAS(s, "3 records, 1 imported, 2 malformed");
	assert_devices(s, good, NULL);
}

/* Inventory records: an unknown device and a bad size, by line. */
static void inventory_import_bad_records(void **state)
{
	scen *s = *state;
	SETUP(s, SCEN_FLEET);
	RUN_IN(s, 65,
	       scen_writes(s, "apps.jsonl",
			   "{\"device\":\"ios-alice\",\"app_id\":\"com.example.mail\",\"version\":\"1.2\"}\n"
			   "{\"device\":\"ios-ghost\",\"app_id\":\"com.example.mail\"}\n"
			   "{\"device\":\"ios-alice\",\"app_id\":\"com.example.chat\",\"bundle_size\":-5}\n"
			   "{\"device\":\"ios-bob\",\"app_id\":\"com.example.mail\",\"managed\":true}\n"),
	       "inventory", "import", "-");
	ERR_HAS(s, "<stdin> line 2");
	ERR_HAS(s, "ios-ghost");
	ERR_HAS(s, "line 3");
	ERR_HAS(s, "bundle_size");
	OUT_HAS(s, "4 records, 2 imported, 2 malformed");
}

/* 5b. A msgpack stream on stdin: record 3 has a wrong type. */
static void device_import_msgpack(void **state)
{
	scen *s = *state;
	static const char *const good[] = {"m1", "m2", "m4", NULL};
	static const char *const bad[] = {"m3", NULL};
	msgpack_sbuffer sb;
	msgpack_packer pk;
	const char *f;

	msgpack_sbuffer_init(&sb);
	msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
	pack_device(&pk, "m1", "ios", 0);
	pack_device(&pk, "m2", "android", 0);
	pack_device(&pk, "m3", "ios", 1);
	pack_device(&pk, "m4", "macos", 0);
	f = scen_write(s, "devices.mp", sb.data, sb.size);
	msgpack_sbuffer_destroy(&sb);

	RUN(s, 0, "init");
	RUN_IN(s, 65, f, "device", "import", "-");
	ERR_HAS(s, "record 3");
	ERR_HAS(s, "management");
	OUT_HAS(s, "4 records, 3 imported, 1 malformed");
	assert_devices(s, good, bad);
}

/* 5c. Ids are identifiers (19.5): one that is not UTF-8 (msgpack can carry
 * it) is refused with its position, so that no two ids can print the same;
 * the valid record of the stream is still imported. */
static void device_id_not_utf8(void **state)
{
	scen *s = *state;
	msgpack_sbuffer sb;
	msgpack_packer pk;
	const char *f;

	msgpack_sbuffer_init(&sb);
	msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
	pack_device(&pk, "ok1", "ios", 0);
	pack_device(&pk, "bad\xff\xfe", "android", 0);
	pack_device(&pk, "bad\xef\xbf\xbd", "android", 0); /* U+FFFD itself: valid */
	f = scen_write(s, "devices.mp", sb.data, sb.size);
	msgpack_sbuffer_destroy(&sb);

	RUN(s, 0, "init");
	RUN_IN(s, 65, f, "device", "import", "-");
	ERR_HAS(s, "record 2 (byte");
	ERR_HAS(s, "field 'id': is not valid UTF-8");
	OUT_HAS(s, "3 records, 2 imported, 1 malformed");
	RUN(s, 0, "evaluate");
	RUN(s, 0, "report", "--json");
	assert_int_equal(scen_json_lines_(s, __FILE__, __LINE__), 2);
	OUT_HAS(s, "\"device\":\"bad\xef\xbf\xbd\"");
	OUT_HAS(s, "\"device\":\"ok1\"");

	/* and a partner's error code of such bytes is refused, not kept */
	msgpack_sbuffer_init(&sb);
	msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
	msgpack_pack_map(&pk, 2);
	pack_str(&pk, "type");
	pack_str(&pk, "provision");
	pack_str(&pk, "at");
	msgpack_pack_int64(&pk, 1709251200);
	msgpack_pack_map(&pk, 3);
	pack_str(&pk, "type");
	pack_str(&pk, "error");
	pack_str(&pk, "code");
	pack_str(&pk, "E\xff\xfe");
	pack_str(&pk, "at");
	msgpack_pack_int64(&pk, 1709251201);
	f = scen_write(s, "error.mp", sb.data, sb.size);
	msgpack_sbuffer_destroy(&sb);
	RUN(s, 0, "connector", "add", "generic");
	RUN(s, 65, "ingest", "generic", "--normalized", f);
	ERR_HAS(s, "record 2 (byte");
	ERR_HAS(s, "field 'code': is not valid UTF-8");
	RUN(s, 0, "connector", "list", "--json");
	assert_int_equal(scen_json_lines_(s, __FILE__, __LINE__), 1);
	OUT_HAS(s, "\"state\":\"available\"");
}

/* 5b'. A msgpack stream cut inside its last record. */
static void device_import_msgpack_truncated(void **state)
{
	scen *s = *state;
	static const char *const good[] = {"t1", "t2", NULL};
	static const char *const bad[] = {"t3", NULL};
	msgpack_sbuffer sb;
	msgpack_packer pk;
	const char *f;

	msgpack_sbuffer_init(&sb);
	msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
	pack_device(&pk, "t1", "ios", 0);
	pack_device(&pk, "t2", "ios", 0);
	pack_device(&pk, "t3", "ios", 0);
	f = scen_write(s, "devices.mp", sb.data, sb.size - 4);
	msgpack_sbuffer_destroy(&sb);

	RUN(s, 0, "init");
	RUN(s, 65, "device", "import", f);
	ERR_HAS(s, "record 3");
	ERR_HAS(s, "truncated");
	assert_devices(s, good, bad);
}

static const char messages[] =
	THREAT("ios-alice", "high", "\"2024-03-01T00:00:00Z\"")
	"{\"type\":\"threat\",\"device\":\"ios-bob\",\"level\":\"severe\",\"at\":\"2024-03-01T00:00:00Z\"}\n"
	"{\"type\":\"heartbeat\",\"at\":\"2024-03-01T00:00:00Z\"}\n"
	THREAT("ios-exec", "low", "\"2024-03-01T00:00:00Z\"");

static void check_after_bad_level(scen *s)
{
	json_t *r;
	RUN(s, 0, "evaluate");
	r = REPORT(s, "ios-alice");
	FIELD(s, r, "state", "noncompliant");
	FIELD(s, r, "level", "high");
	r = REPORT(s, "ios-exec");
	FIELD(s, r, "level", "low");
	r = REPORT(s, "ios-bob");
	FIELD(s, r, "level", "none");
}

/* 5c. ingest --normalized: a bad level on line 2; the rest is accepted. */
static void ingest_normalized_bad_level(void **state)
{
	scen *s = *state;
	SETUP(s, SCEN_FLEET);
	RUN(s, 0, "connector", "set", "generic", "ios=on");
	scen_ingest_(s, 65, messages, __FILE__, __LINE__);
	OUT_HAS(s, "4 records, 3 accepted, 0 rejected, 1 malformed");
	ERR_HAS(s, "line 2");
	ERR_HAS(s, "level");
	ERR_HAS(s, "severe");
	check_after_bad_level(s);
}

/* The same through the generic plugin (vendor-native path). */
static void ingest_plugin_bad_level(void **state)
{
	scen *s = *state;
	const char *f;
	SETUP(s, SCEN_FLEET);
	RUN(s, 0, "connector", "set", "generic", "ios=on");
	f = scen_writes(s, "native.jsonl", messages);
	RUN(s, 65, "ingest", "generic", f);
	OUT_HAS(s, "4 records, 3 accepted, 0 rejected, 1 malformed");
	ERR_HAS(s, "line 2");
	ERR_HAS(s, "severe");
	check_after_bad_level(s);
}

/* An unknown device in a threat message is parked (SPEC 4.1 extension):
 * kept and applied once the device is imported, not malformed. */
static void ingest_unknown_device(void **state)
{
	scen *s = *state;
	SETUP(s, SCEN_FLEET);
	RUN(s, 0, "connector", "set", "generic", "ios=on");
	scen_ingest_(s, 0,
		     THREAT("ios-ghost", "high", "\"2024-03-01T00:00:00Z\"")
		     THREAT("ios-alice", "high", "\"2024-03-01T00:00:00Z\""),
		     __FILE__, __LINE__);
	ERR_HAS(s, "line 1: parked: unknown device 'ios-ghost'");
	OUT_HAS(s, "1 accepted");
	OUT_HAS(s, "0 malformed, 1 parked");
	RUN(s, 69, "ingest", "nosuchvendor", "--normalized", scen_path(s, "devices.jsonl"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(device_import_json_lines, setup, teardown),
		cmocka_unit_test_setup_teardown(device_import_huge_fields, setup, teardown),
		cmocka_unit_test_setup_teardown(inventory_import_bad_records, setup, teardown),
		cmocka_unit_test_setup_teardown(device_import_msgpack, setup, teardown),
		cmocka_unit_test_setup_teardown(device_id_not_utf8, setup, teardown),
		cmocka_unit_test_setup_teardown(device_import_msgpack_truncated, setup, teardown),
		cmocka_unit_test_setup_teardown(ingest_normalized_bad_level, setup, teardown),
		cmocka_unit_test_setup_teardown(ingest_plugin_bad_level, setup, teardown),
		cmocka_unit_test_setup_teardown(ingest_unknown_device, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
