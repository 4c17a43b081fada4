/* Scenarios that need several vendors or their declarations (issue 3):
 * R5 missing scan and the Defender exemption, R10 government cloud, the
 * partner error state, block_unsupported_os and block_missing_data. All
 * through mtdgate, with normalized messages on each vendor's connector. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "harness.h"

/* The scenarios' messages are dated up to 03:00 of day 0: received after
 * that (R13 refuses a message dated more than 5 minutes after its receipt). */
static int setup(void **state)
{
	scen *s = scen_new();
	*state = s;
	if (s)
		scen_day(s, 0, 4 * 3600);
	return s ? 0 : -1;
}

static int teardown(void **state)
{
	scen_free(*state);
	return 0;
}

#define DEVS                                                                                         \
	"{\"id\":\"and-1\",\"platform\":\"android\",\"ownership\":\"corporate\",\"management\":\"enrolled\"}\n" \
	"{\"id\":\"and-2\",\"platform\":\"android\",\"ownership\":\"corporate\",\"management\":\"enrolled\"}\n"

static void ingest_on(scen *s, const char *vendor, const char *jsonl)
{
	RUN(s, 0, "ingest", vendor, "--normalized", scen_writes(s, "in.jsonl", jsonl));
}

static void enable(scen *s, const char *vendor, const char *setting)
{
	RUN(s, 0, "connector", "add", vendor);
	ingest_on(s, vendor, "{\"type\":\"provision\",\"at\":\"2024-03-01T00:00:00Z\"}\n");
	RUN(s, 0, "connector", "set", vendor, setting);
}

/* R5: two third-party vendors on Android; a device one of them has not
 * scanned is noncompliant (missing scan); Defender beside one is exempt. */
static void missing_scan_and_defender(void **state)
{
	scen *s = *state;
	json_t *r;
	RUN(s, 0, "init");
	RUN(s, 0, "device", "import", scen_writes(s, "d.jsonl", DEVS));
	enable(s, "lookout", "android=on");
	enable(s, "zimperium", "android=on");
	ingest_on(s, "lookout", THREAT("and-1", "low", "\"2024-03-01T01:00:00Z\"")
				    THREAT("and-2", "low", "\"2024-03-01T01:00:00Z\""));
	ingest_on(s, "zimperium", THREAT("and-1", "secured", "\"2024-03-01T01:00:00Z\""));
	RUN(s, 0, "evaluate");
	FIELD(s, REPORT(s, "and-1"), "state", "compliant");
	r = REPORT(s, "and-2");
	FIELD(s, r, "state", "noncompliant");
	FIELD(s, r, "access", "block");
	if (!has_reason(r, "missing scan", "zimperium", NULL))
		fail_msg("no missing-scan reason: %s", scen_jtext(s, r));

	/* zimperium off, Defender on beside lookout: Defender's silence is exempt */
	RUN(s, 0, "connector", "set", "zimperium", "android=off");
	enable(s, "defender", "android=on");
	RUN(s, 0, "evaluate");
	FIELD(s, REPORT(s, "and-2"), "state", "compliant");
	/* but Defender's report, when there is one, counts */
	ingest_on(s, "defender", THREAT("and-2", "high", "\"2024-03-01T02:00:00Z\""));
	RUN(s, 0, "evaluate");
	FIELD(s, REPORT(s, "and-2"), "state", "noncompliant");
}

/* R10: a gcc_high store takes only vendors that declare it, and only
 * Android and iOS. */
static void government_cloud(void **state)
{
	scen *s = *state;
	RUN(s, 0, "init", "--cloud", "gcc_high");
	RUN(s, 69, "connector", "add", "pradeo");
	ERR_HAS(s, "gcc_high");
	RUN(s, 0, "connector", "add", "defender");
	RUN(s, 0, "connector", "set", "defender", "android=on", "ios=on");
	RUN(s, 69, "connector", "set", "defender", "windows=on");
	ERR_HAS(s, "gcc_high");
	RUN(s, 69, "connector", "set", "defender", "mam_windows=on");
	RUN(s, 69, "init", "--cloud", "commercial");
	/* the same vendor in the commercial cloud may do Windows */
	scen_free(s);
	*state = s = scen_new();
	RUN(s, 0, "init");
	RUN(s, 0, "connector", "add", "pradeo");
	RUN(s, 0, "connector", "add", "defender");
	RUN(s, 0, "connector", "set", "defender", "windows=on");
	/* a vendor that does not support a platform or app protection refuses it */
	RUN(s, 69, "connector", "set", "pradeo", "windows=on");
	RUN(s, 69, "connector", "set", "pradeo", "mam_android=on");
}

/* The partner's error state (R4, fail closed): its reports still count, in
 * error as after a healthy heartbeat. */
static void partner_error(void **state)
{
	scen *s = *state;
	json_t *c;
	RUN(s, 0, "init");
	RUN(s, 0, "device", "import", scen_writes(s, "d.jsonl", DEVS));
	enable(s, "lookout", "android=on");
	ingest_on(s, "lookout", THREAT("and-1", "high", "\"2024-03-01T01:00:00Z\"")
				    "{\"type\":\"error\",\"code\":\"E_SYNC\",\"at\":\"2024-03-01T02:00:00Z\"}\n");
	c = CONNECTOR(s, "lookout");
	FIELD(s, c, "state", "error");
	RUN(s, 0, "evaluate");
	FIELD(s, REPORT(s, "and-1"), "state", "noncompliant");
	ingest_on(s, "lookout", "{\"type\":\"heartbeat\",\"at\":\"2024-03-01T03:00:00Z\"}\n");
	FIELD(s, CONNECTOR(s, "lookout"), "state", "enabled");
	RUN(s, 0, "evaluate");
	FIELD(s, REPORT(s, "and-1"), "state", "noncompliant");
}

static void block_settings(void **state)
{
	scen *s = *state;
	json_t *r;
	RUN(s, 0, "init");
	RUN(s, 0, "device", "import", scen_writes(s, "d.jsonl", DEVS));
	enable(s, "lookout", "android=on");
	ingest_on(s, "lookout",
		  "{\"type\":\"threat\",\"device\":\"and-1\",\"level\":\"secured\",\"at\":\"2024-03-01T01:00:00Z\","
		  "\"threats\":[],\"os_supported\":false}\n");
	RUN(s, 0, "evaluate");
	FIELD(s, REPORT(s, "and-1"), "state", "compliant");
	FIELD(s, REPORT(s, "and-2"), "state", "compliant"); /* no report yet, allowed by default */
	RUN(s, 0, "connector", "set", "lookout", "block_unsupported_os=on", "block_missing_data=on");
	RUN(s, 0, "evaluate");
	r = REPORT(s, "and-1");
	FIELD(s, r, "state", "noncompliant");
	if (!has_reason(r, "unsupported OS", NULL))
		fail_msg("no unsupported-OS reason: %s", scen_jtext(s, r));
	r = REPORT(s, "and-2");
	FIELD(s, r, "state", "noncompliant");
	if (!has_reason(r, "block_missing_data", NULL))
		fail_msg("no missing-data reason: %s", scen_jtext(s, r));
}

/* Every seed partner is there, loads and lists. */
static void ten_plugins_listed(void **state)
{
	scen *s = *state;
	static const char *const ids[] = {"generic", "lookout", "symantec", "checkpoint",
					  "zimperium", "pradeo", "bettermobile", "sophos",
					  "wandera", "defender"};
	RUN(s, 0, "plugin", "list", "--json");
	for (size_t i = 0; i < sizeof ids / sizeof *ids; i++) {
		char needle[64];
		snprintf(needle, sizeof needle, "{\"id\":\"%s\"", ids[i]);
		OUT_HAS(s, needle);
	}
	OUT_HAS(s, "{\"id\":\"defender\",\"name\":\"Microsoft Defender for Endpoint\","
		   "\"platforms\":[\"android\",\"ios\",\"windows\",\"macos\"]");
}

/* ingest VENDOR --normalized works on every connector. */
static void normalized_everywhere(void **state)
{
	scen *s = *state;
	static const char *const ids[] = {"lookout", "symantec", "checkpoint", "zimperium",
					  "pradeo", "bettermobile", "sophos", "wandera",
					  "defender"};
	RUN(s, 0, "init");
	RUN(s, 0, "device", "import", scen_writes(s, "devs.jsonl", DEVS));
	for (size_t i = 0; i < sizeof ids / sizeof *ids; i++) {
		enable(s, ids[i], "android=on");
		RUN(s, 0, "ingest", ids[i], "--normalized",
		    scen_writes(s, "t.jsonl",
				"{\"type\":\"threat\",\"device\":\"and-1\",\"level\":\"low\","
				"\"at\":\"2024-03-01T01:00:00Z\"}\n"));
		OUT_HAS(s, "1 accepted");
	}
	RUN(s, 0, "evaluate");
	{
		json_t *r = REPORT(s, "and-1");
		FIELD(s, r, "state", "compliant");
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(missing_scan_and_defender, setup, teardown),
		cmocka_unit_test_setup_teardown(government_cloud, setup, teardown),
		cmocka_unit_test_setup_teardown(partner_error, setup, teardown),
		cmocka_unit_test_setup_teardown(block_settings, setup, teardown),
		cmocka_unit_test_setup_teardown(ten_plugins_listed, setup, teardown),
		cmocka_unit_test_setup_teardown(normalized_everywhere, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
