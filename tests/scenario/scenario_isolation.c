/* Hostile plugins (issue 7): a plugin from a directory of its own runs in a
 * child process; its crash, hang, garbage, flood or memory hog costs the
 * payload that caused it, never mtdgate, the store or other connectors. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

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

#define G(s) "--db", (s)->db, "--plugins", MTD_BAD_PLUGIN_DIR, "--now", "2024-03-01T00:00:00Z"

static void hostile_plugin_contained(void **state)
{
	scen *s = *state;
	const char *input = scen_writes(s, "evil.txt",
		"ok 1\ncrash\nok 2\nhang\ngarbage\nflood\nhog\nok 3\ntrailing\nwarning\n");
	const char *prov = scen_writes(s, "prov.jsonl",
		"{\"type\":\"provision\",\"at\":\"2024-03-01T00:00:00Z\"}\n");

	RUN_RAW(s, 0, G(s), "init");
	RUN_RAW(s, 0, G(s), "connector", "add", "evil");
	RUN_RAW(s, 0, G(s), "ingest", "evil", "--normalized", prov);
	RUN_RAW(s, 65, G(s), "ingest", "evil", input);
	/* 10 records: the three good ones and the flood (capped) are accepted */
	OUT_HAS(s, "10 records");
	OUT_HAS(s, "10003 accepted");
	OUT_HAS(s, "6 malformed");
	/* "crashed (signal 11)"; under ASan the capped child dies inside its own report */
	ERR_HAS(s, "line 2: evil plugin: the plugin failed on this payload: its process");
	ERR_HAS(s, "line 4: evil plugin: the plugin failed on this payload: it hung");
	ERR_HAS(s, "line 5: the plugin emitted bytes that are not one msgpack message");
	ERR_HAS(s, "line 7: evil plugin: the plugin failed on this payload");
	ERR_HAS(s, "line 9: the plugin emitted bytes that are not one msgpack message");
	ERR_HAS(s, "line 10: the plugin emitted an invalid message: field 'type': 'warning'");

	/* mtdgate and its store carry on */
	RUN_RAW(s, 0, G(s), "audit", "verify");
	RUN_RAW(s, 0, G(s), "connector", "list", "--json");
	OUT_HAS(s, "\"vendor\":\"evil\"");
}

/* Forced in-process for comparison is possible, but not the default for
 * someone else's directory. */
static void isolation_flag(void **state)
{
	scen *s = *state;
	RUN_RAW(s, 64, G(s), "--plugin-isolation", "maybe", "init");
	RUN_RAW(s, 0, G(s), "--plugin-isolation", "process", "init");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(hostile_plugin_contained, setup, teardown),
		cmocka_unit_test_setup_teardown(isolation_flag, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
