/* Scenarios: input framing detected from the content (SPEC 4.1 extension,
 * issue 14 "Framing", 19.6 streams, 19.7 duplicate keys), through the
 * `mtdgate` binary: pretty-printed and concatenated documents, a top-level
 * array, an event stream, a msgpack stream with a bad record in the middle,
 * and one duplicate-key record on every path. */
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

/* A Microsoft Defender machines page as the Graph explorer and `jq .`
 * print it (two-space indent, one field per line): one record, read the
 * same as its compact form. */
static void graph_explorer_pretty_page(void **state)
{
	scen *s = *state;
	static const char page[] =
		"{\"@odata.context\":\"https://api.securitycenter.microsoft.com/api/$metadata#Machines\","
		"\"value\":[{\"id\":\"7c3a1f00aa11bb22cc33dd44ee55ff6677889900\",\"computerDnsName\":"
		"\"host-7c3a\",\"firstSeen\":\"2025-10-01T09:00:00Z\",\"lastSeen\":\"2024-03-01T00:00:00Z\","
		"\"osPlatform\":\"Windows11\",\"healthStatus\":\"Active\",\"riskScore\":\"High\","
		"\"exposureLevel\":\"Medium\",\"isAadJoined\":true,\"aadDeviceId\":\"win-dave\","
		"\"machineTags\":[\"finance\"]},{\"id\":\"1e5bc9d7e413ddd7902c2932e418702b84d0cc07\","
		"\"computerDnsName\":\"host-1e5b\",\"lastSeen\":\"2024-03-01T00:00:00Z\",\"osPlatform\":"
		"\"Windows11\",\"riskScore\":\"Low\",\"aadDeviceId\":\"ios-bob\",\"machineTags\":[]}]}";
	json_error_t je;
	json_t *v = scen_ownj(s, json_loads(page, 0, &je));
	char *pretty, *compact_out, *compact_err;
	assert_non_null(v);
	pretty = scen_own(s, json_dumps(v, JSON_INDENT(2) | JSON_PRESERVE_ORDER));
	assert_non_null(strchr(pretty, '\n'));

	SETUP(s, SCEN_FLEET);
	RUN(s, 0, "connector", "add", "defender");
	RUN_RAW(s, s->status, "--db", s->db, "--plugins", MTD_PLUGIN_DIR, "--now",
		"2024-03-01T00:00:00Z", "ingest", "defender", scen_writes(s, "page.jsonl", page));
	compact_out = scen_own(s, strdup(s->out));
	compact_err = scen_own(s, strdup(s->err));
	assert_non_null(strstr(compact_out, "defender: 1 records"));
	RUN_RAW(s, s->status, "--db", s->db, "--plugins", MTD_PLUGIN_DIR, "--now",
		"2024-03-01T00:00:00Z", "ingest", "defender", scen_writes(s, "page.json", pretty));
	/* one record, read as the compact one was: the same counts and the
	 * same messages, never one error per line */
	assert_string_equal(s->out, compact_out);
	assert_null(strstr(s->err, "line 2"));
	assert_int_equal(strlen(s->err) > 0, strlen(compact_err) > 0);
}

/* `jq .` of an array of device records: each element a record, a bad one
 * named by its index and line. */
static void jq_array_of_devices(void **state)
{
	scen *s = *state;
	const char *f = scen_writes(s, "devices.json",
				    "[\n"
				    "  {\n"
				    "    \"id\": \"a1\",\n"
				    "    \"platform\": \"ios\",\n"
				    "    \"ownership\": \"corporate\",\n"
				    "    \"management\": \"enrolled\",\n"
				    "    \"groups\": [\"Staff\"]\n"
				    "  },\n"
				    "  {\n"
				    "    \"id\": \"a2\",\n"
				    "    \"platform\": \"blackberry\",\n"
				    "    \"ownership\": \"corporate\",\n"
				    "    \"management\": \"enrolled\"\n"
				    "  },\n"
				    "  {\"id\": \"a3\", \"platform\": \"android\", \"ownership\": \"personal\",\n"
				    "   \"management\": \"unenrolled\"}\n"
				    "]\n");
	RUN(s, 0, "init");
	RUN(s, 65, "device", "import", f);
	OUT_HAS(s, "3 records, 2 imported, 1 malformed");
	ERR_HAS(s, "devices.json [1] (line 9): field 'platform'");
	RUN(s, 0, "evaluate");
	RUN(s, 0, "report", "--json");
	OUT_HAS(s, "\"device\":\"a1\"");
	OUT_HAS(s, "\"device\":\"a3\"");
	assert_null(strstr(s->out, "\"device\":\"a2\""));
}

/* Concatenated documents, on one line and spanning lines. */
static void concatenated_documents(void **state)
{
	scen *s = *state;
	SETUP(s, SCEN_FLEET);
	RUN(s, 0, "connector", "set", "generic", "ios=on");
	RUN(s, 0, "ingest", "generic", "--normalized",
	    scen_writes(s, "concat.json",
			"{\"type\":\"heartbeat\",\"at\":\"2024-03-01T00:00:00Z\"}{\"type\":\"threat\","
			"\"device\":\"ios-bob\",\"level\":\"high\",\"at\":\"2024-03-01T00:00:00Z\"} "
			"{\"type\":\"heartbeat\",\"at\":1709251200}\n"
			"{\n  \"type\": \"threat\",\n  \"device\": \"ios-alice\",\n  \"level\": \"low\",\n"
			"  \"at\": \"2024-03-01T00:00:00Z\"\n}\n"));
	OUT_HAS(s, "4 records, 4 accepted, 0 rejected, 0 malformed");
	RUN(s, 0, "evaluate");
	FIELD(s, REPORT(s, "ios-bob"), "level", "high");
	FIELD(s, REPORT(s, "ios-alice"), "level", "low");
}

/* A text/event-stream (Lookout's stream, or mtdgate's own /v1/events):
 * comments and keep-alives skipped, data lines joined, each event one
 * record for the plugin, a bad one named by its number. */
static void event_stream(void **state)
{
	scen *s = *state;
	const char *f = scen_writes(
		s, "stream.sse",
		": connected\n"
		"\n"
		"event: message\n"
		"id: 1\n"
		"data: {\"type\":\"threat\",\"device\":\"ios-bob\",\n"
		"data:  \"level\":\"high\",\"at\":\"2024-03-01T00:00:00Z\"}\n"
		"\n"
		":keep-alive\n"
		"\n"
		"retry: 1000\n"
		"\n"
		"id: 2\r\n"
		"data: {\"type\":\"threat\",\"device\":\"ios-alice\",\"level\":\"severe\",\"at\":1709251200}\r\n"
		"\r\n"
		"data: {\"type\":\"heartbeat\",\"at\":1709251200}\n"
		"\n");
	SETUP(s, SCEN_FLEET);
	RUN(s, 0, "connector", "set", "generic", "ios=on");
	RUN(s, 65, "ingest", "generic", f);
	OUT_HAS(s, "3 records, 2 accepted, 0 rejected, 1 malformed");
	ERR_HAS(s, "stream.sse event 2 (line 13)");
	ERR_HAS(s, "severe");
	RUN(s, 65, "ingest", "generic", "--normalized", f);
	OUT_HAS(s, "3 records, 2 accepted, 0 rejected, 1 malformed");
	ERR_HAS(s, "stream.sse event 2 (line 13)");
	RUN(s, 0, "evaluate");
	FIELD(s, REPORT(s, "ios-bob"), "level", "high");
}

/* 19.6: a msgpack stream of 2,000 records, one of them in the middle bad
 * beyond decoding (nested too deep, or larger than a record): that record
 * costs itself, the 1,999 others are processed and counted. Garbage that
 * cannot be framed stops the read, and the message says the rest was not
 * read. */
static void pack_threat(msgpack_packer *pk, int i)
{
	char at[32];
	msgpack_pack_map(pk, 4);
	msgpack_pack_str_with_body(pk, "type", 4);
	msgpack_pack_str_with_body(pk, "threat", 6);
	msgpack_pack_str_with_body(pk, "device", 6);
	msgpack_pack_str_with_body(pk, i % 2 ? "ios-bob" : "ios-alice", i % 2 ? 7 : 9);
	msgpack_pack_str_with_body(pk, "level", 5);
	msgpack_pack_str_with_body(pk, "low", 3);
	msgpack_pack_str_with_body(pk, "at", 2);
	snprintf(at, sizeof at, "%d", 1709251200 - 4000 + i);
	msgpack_pack_int64(pk, atoll(at));
}

static void msgpack_bad_record_in_the_middle(void **state)
{
	scen *s = *state;
	SETUP(s, SCEN_FLEET);
	for (int kind = 0; kind < 3; kind++) {
		msgpack_sbuffer sb;
		msgpack_packer pk;
		char name[32], where[64];
		size_t bad_at = 0;
		msgpack_sbuffer_init(&sb);
		msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
		for (int i = 0; i < 2000; i++) {
			if (i != 1000) {
				pack_threat(&pk, i);
				continue;
			}
			bad_at = sb.size;
			if (kind == 0) { /* a map holding 40 nested arrays */
				msgpack_pack_map(&pk, 1);
				msgpack_pack_str_with_body(&pk, "type", 4);
				for (int d = 0; d < 40; d++)
					msgpack_pack_array(&pk, d == 39 ? 0 : 1);
			} else if (kind == 1) { /* 2 MiB of string */
				static char big[2u << 20];
				memset(big, 'x', sizeof big);
				msgpack_pack_map(&pk, 1);
				msgpack_pack_str_with_body(&pk, "type", 4);
				msgpack_pack_str_with_body(&pk, big, sizeof big);
			} else { /* a byte msgpack never uses */
				msgpack_sbuffer_write(&sb, "\xc1", 1);
			}
		}
		snprintf(name, sizeof name, "stream%d.mp", kind);
		RUN(s, 65, "ingest", "generic", "--normalized",
		    scen_write(s, name, sb.data, sb.size));
		msgpack_sbuffer_destroy(&sb);
		snprintf(where, sizeof where, "record 1001 (byte %zu)", bad_at);
		ERR_HAS(s, where);
		if (kind < 2) {
			OUT_HAS(s, "2000 records, 1999 accepted, 0 rejected, 1 malformed");
			ERR_HAS(s, kind == 0 ? "nested deeper than 32 levels: skipped"
					     : "exceeds 1048576 bytes: skipped");
		} else {
			OUT_HAS(s, "1001 records, 1000 accepted, 0 rejected, 1 malformed");
			ERR_HAS(s, "cannot resynchronize, the rest of the input was not read");
		}
	}
}

/* 19.7: one record with a duplicate key, refused the same way on every
 * path: normalized JSON and msgpack, through the plugin as JSON and as
 * msgpack, device and inventory import. */
static void duplicate_key_every_path(void **state)
{
	scen *s = *state;
	static const char msg_json[] = "{\"type\":\"threat\",\"device\":\"ios-bob\",\"device\":\"ios-alice\","
				       "\"level\":\"high\",\"at\":1709251200}\n";
	static const char dev_json[] = "{\"id\":\"n1\",\"platform\":\"ios\",\"platform\":\"android\","
				       "\"ownership\":\"corporate\",\"management\":\"enrolled\"}\n";
	static const char app_json[] = "{\"device\":\"ios-bob\",\"app_id\":\"a\",\"app_id\":\"b\"}\n";
	msgpack_sbuffer msg, dev, app;
	msgpack_packer pk;

	msgpack_sbuffer_init(&msg);
	msgpack_packer_init(&pk, &msg, msgpack_sbuffer_write);
	msgpack_pack_map(&pk, 5);
	msgpack_pack_str_with_body(&pk, "type", 4);
	msgpack_pack_str_with_body(&pk, "threat", 6);
	msgpack_pack_str_with_body(&pk, "device", 6);
	msgpack_pack_str_with_body(&pk, "ios-bob", 7);
	msgpack_pack_str_with_body(&pk, "device", 6);
	msgpack_pack_str_with_body(&pk, "ios-alice", 9);
	msgpack_pack_str_with_body(&pk, "level", 5);
	msgpack_pack_str_with_body(&pk, "high", 4);
	msgpack_pack_str_with_body(&pk, "at", 2);
	msgpack_pack_int64(&pk, 1709251200);
	msgpack_sbuffer_init(&dev);
	msgpack_packer_init(&pk, &dev, msgpack_sbuffer_write);
	msgpack_pack_map(&pk, 5);
	msgpack_pack_str_with_body(&pk, "id", 2);
	msgpack_pack_str_with_body(&pk, "n1", 2);
	msgpack_pack_str_with_body(&pk, "platform", 8);
	msgpack_pack_str_with_body(&pk, "ios", 3);
	msgpack_pack_str_with_body(&pk, "platform", 8);
	msgpack_pack_str_with_body(&pk, "android", 7);
	msgpack_pack_str_with_body(&pk, "ownership", 9);
	msgpack_pack_str_with_body(&pk, "corporate", 9);
	msgpack_pack_str_with_body(&pk, "management", 10);
	msgpack_pack_str_with_body(&pk, "enrolled", 8);
	msgpack_sbuffer_init(&app);
	msgpack_packer_init(&pk, &app, msgpack_sbuffer_write);
	msgpack_pack_map(&pk, 3);
	msgpack_pack_str_with_body(&pk, "device", 6);
	msgpack_pack_str_with_body(&pk, "ios-bob", 7);
	msgpack_pack_str_with_body(&pk, "app_id", 6);
	msgpack_pack_str_with_body(&pk, "a", 1);
	msgpack_pack_str_with_body(&pk, "app_id", 6);
	msgpack_pack_str_with_body(&pk, "b", 1);

	SETUP(s, SCEN_FLEET);
	RUN(s, 0, "connector", "set", "generic", "ios=on");
	{
		const char *mj = scen_writes(s, "m.json", msg_json);
		const char *mm = scen_write(s, "m.mp", msg.data, msg.size);
		const char *dj = scen_writes(s, "d.json", dev_json);
		const char *dm = scen_write(s, "d.mp", dev.data, dev.size);
		const char *aj = scen_writes(s, "a.json", app_json);
		const char *am = scen_write(s, "a.mp", app.data, app.size);
		msgpack_sbuffer_destroy(&msg);
		msgpack_sbuffer_destroy(&dev);
		msgpack_sbuffer_destroy(&app);
		RUN(s, 65, "ingest", "generic", "--normalized", mj);
		ERR_HAS(s, "duplicate");
		RUN(s, 65, "ingest", "generic", "--normalized", mm);
		ERR_HAS(s, "duplicate key 'device'");
		RUN(s, 65, "ingest", "generic", mj);
		ERR_HAS(s, "duplicate");
		RUN(s, 65, "ingest", "generic", mm);
		ERR_HAS(s, "duplicate key 'device'");
		RUN(s, 65, "device", "import", dj);
		ERR_HAS(s, "duplicate");
		RUN(s, 65, "device", "import", dm);
		ERR_HAS(s, "duplicate key 'platform'");
		RUN(s, 65, "inventory", "import", aj);
		ERR_HAS(s, "duplicate");
		RUN(s, 65, "inventory", "import", am);
		ERR_HAS(s, "duplicate key 'app_id'");
	}
	/* nothing of them was stored */
	RUN(s, 0, "evaluate");
	FIELD(s, REPORT(s, "ios-bob"), "level", "none");
	FIELD(s, REPORT(s, "ios-alice"), "level", "none");
	assert_int_equal(scen_q_int(s, "SELECT count(*) FROM devices WHERE ext_id = 'n1'"), 0);
}

/* 19.5 output: what mtdgate prints from data cannot forge a row or reach
 * the terminal as a control: a rule reason with "\n", ESC/OSC, C1 and bidi
 * controls, an error message quoting such input. */
static void output_cannot_be_forged(void **state)
{
	scen *s = *state;
	const char *inject =
		"  if device.id == \"ios-bob\" then return \"compliant\", \"none\", {"
		" \"ok\\nios-evil             ios      enrolled   compliant       none     allow  none  forged\","
		" \"\\27]0;owned\\7\\27[31mred\", \"\\u{202E}reversed \\u{0085}C1 \\\\x1b\" } end";
	char *out;

	SETUP(s, SCEN_FLEET);
	snprintf(s->rules, sizeof s->rules, "%s", scen_rules_copy(s, "forge", inject, NULL));
	RUN(s, 0, "evaluate", "--dry-run");
	OUT_HAS(s, "    ok\\x0aios-evil ");
	RUN(s, 0, "evaluate");
	RUN(s, 0, "report");
	out = s->out;
	OUT_HAS(s, "ok\\x0aios-evil ");
	OUT_HAS(s, "\\x1b]0;owned\\x07\\x1b[31mred");
	OUT_HAS(s, "\\u202ereversed \\u0085C1 \\x1b");
	assert_null(strstr(out, "\nios-evil")); /* no forged row */
	assert_null(strchr(out, 0x1b));
	assert_null(strchr(out, 0x07));
	assert_null(strstr(out, "\xe2\x80\xae"));
	assert_null(strstr(out, "\xc2\x85"));
	/* JSON keeps the reason as it is, escaped the JSON way */
	RUN(s, 0, "report", "--json", "--device", "ios-bob");
	assert_int_equal(scen_json_lines_(s, __FILE__, __LINE__), 1);
	assert_true(has_reason(REPORT(s, "ios-bob"), "ok\nios-evil", NULL));

	/* an error message quoting hostile input */
	RUN(s, 65, "device", "import",
	    scen_writes(s, "d.jsonl", "{\"id\":\"x1\",\"platform\":\"\\u202eios\\u001b[2J\","
				      "\"ownership\":\"corporate\",\"management\":\"enrolled\"}\n"));
	ERR_HAS(s, "'platform'");
	assert_null(strstr(s->err, "\xe2\x80\xae"));
	assert_null(strchr(s->err, 0x1b));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(graph_explorer_pretty_page, setup, teardown),
		cmocka_unit_test_setup_teardown(jq_array_of_devices, setup, teardown),
		cmocka_unit_test_setup_teardown(concatenated_documents, setup, teardown),
		cmocka_unit_test_setup_teardown(event_stream, setup, teardown),
		cmocka_unit_test_setup_teardown(msgpack_bad_record_in_the_middle, setup, teardown),
		cmocka_unit_test_setup_teardown(duplicate_key_every_path, setup, teardown),
		cmocka_unit_test_setup_teardown(output_cannot_be_forged, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
