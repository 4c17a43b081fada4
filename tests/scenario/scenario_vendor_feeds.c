/* BETTER, Sophos, Jamf, Pradeo, SEP Mobile and generic feeds through
 * mtdgate (issue 14): each vendor's own fixtures, in its public layout,
 * land on the device any of their identifiers names, with the vendor's
 * severity; threats open and resolve in time order whatever order they
 * arrive in; messages naming only the vendor's own id wait until that id
 * is known; a page's good elements are kept beside its bad ones. */
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

/* A vendor's fixture file (vendors/<id>/fixtures/<name>). */
static const char *fixture(scen *s, const char *vendor, const char *name)
{
	char *p = malloc(4096);
	assert_non_null(p);
	snprintf(p, 4096, "%s/%s/fixtures/%s", MTD_VENDORS_DIR, vendor, name);
	scen_own(s, p);
	assert_true(scen_exists(p));
	return p;
}

/* Lines first..last (1-based, inclusive) of a fixture, as a file of the
 * scenario. */
static const char *lines(scen *s, const char *vendor, const char *name, int first, int last)
{
	char *all = scen_own(s, scen_slurp(fixture(s, vendor, name), NULL)), *out, *p, *nl;
	size_t n = 0;
	int ln = 1;

	assert_non_null(all);
	out = scen_own(s, calloc(1, strlen(all) + 1));
	for (p = all; *p; p = nl + 1, ln++) {
		nl = strchr(p, '\n');
		if (!nl)
			nl = p + strlen(p);
		if (ln >= first && ln <= last) {
			memcpy(out + n, p, (size_t)(nl - p));
			n += (size_t)(nl - p);
			out[n++] = '\n';
		}
		if (!*nl)
			break;
	}
	return scen_writes(s, name, out);
}

static void enable(scen *s, const char *vendor, const char *at)
{
	char prov[128];
	snprintf(prov, sizeof prov, "{\"type\":\"provision\",\"at\":\"%s\"}\n", at);
	RUN(s, 0, "connector", "add", vendor);
	RUN(s, 0, "ingest", vendor, "--normalized", scen_writes(s, "prov.jsonl", prov));
	RUN(s, 0, "connector", "set", vendor, "android=on", "ios=on");
}

/* The vendor's level for the device after an evaluation ("" when none). */
static const char *vendor_level(scen *s, const char *device, const char *vendor)
{
	json_t *r = REPORT(s, device);
	const char *v = json_string_value(json_object_get(json_object_get(r, "vendors"), vendor));
	return v ? v : "";
}

#define LEVEL(s, dev, vendor, want)                                                           \
	do {                                                                                  \
		const char *got_ = vendor_level((s), (dev), (vendor));                          \
		if (strcmp(got_, (want)))                                                     \
			fail_msg("%s: %s level '%s', want '%s'", (dev), (vendor), got_, (want)); \
	} while (0)

#define DEV(id, platform, extra)                                                              \
	"{\"id\":\"" id "\",\"platform\":\"" platform "\",\"ownership\":\"corporate\","          \
	"\"management\":\"enrolled\"" extra "}\n"

/* BETTER: device rows are the posture, incidents open and close threats;
 * Log Analytics rows (suffixed names, numeric ids) are read as native ones. */
static void bettermobile_logs(void **state)
{
	scen *s = *state;

	scen_day(s, 771, 0); /* 2026-04-11: after every message of 04-10 */
	RUN(s, 0, "init");
	RUN(s, 0, "device", "import",
	    scen_writes(s, "d.jsonl",
			DEV("ios-li", "ios", ",\"ids\":{\"udid\":\"f2a1bd4c-0000-4289-8a9b-c41e51770001\"}")
			DEV("and-77", "android", ",\"ids\":{\"udid\":\"bf7ff74c-0000-4f56-9a01-c01bf7880003\"}")
			DEV("and-95", "android",
			    ",\"ids\":{\"vendor:bettermobile\":\"95e8c307-0000-4eb3-a7da-ae48e3e60d69\"}")));
	enable(s, "bettermobile", "2026-04-10T00:00:00Z");

	/* rows 1-10: the UDID names ios-li (medium); an incident naming only
	 * 12077 waits for the row that teaches it; three open incidents of
	 * different levels on and-95, and a resolve that arrives before its open */
	RUN(s, 0, "ingest", "bettermobile", lines(s, "bettermobile", "messages.in", 1, 10));
	RUN(s, 0, "evaluate");
	LEVEL(s, "ios-li", "bettermobile", "medium");
	LEVEL(s, "and-77", "bettermobile", "high");
	LEVEL(s, "and-95", "bettermobile", "high");

	/* the row "ThreatLevel":"none" secures ios-li; resolving the high
	 * incident on and-95 leaves its medium one */
	RUN(s, 0, "ingest", "bettermobile", lines(s, "bettermobile", "messages.in", 11, 11));
	RUN(s, 0, "ingest", "bettermobile",
	    scen_writes(s, "r.jsonl",
			"{\"ThreatId_d\":51,\"ThreatSeverity_s\":\"high\",\"ThreatCategory_s\":\"DEVICE\","
			"\"DeviceId_g\":\"95e8c307-0000-4eb3-a7da-ae48e3e60d69\",\"Status_s\":\"Resolved\","
			"\"EventTimeStamp_t\":\"2026-04-10T11:30:00Z\",\"Type\":\"BetterMTDIncidentLog_CL\"}\n"));
	RUN(s, 0, "evaluate");
	LEVEL(s, "ios-li", "bettermobile", "secured");
	LEVEL(s, "and-95", "bettermobile", "medium");
}

/* Sophos Central: detections open threats named by the threat, clean-ups
 * close them (an alert and an event about the same threat agree); a device
 * known only by its Sophos endpoint id waits for an import that names it. */
static void sophos_central(void **state)
{
	scen *s = *state;

	scen_day(s, 771, 0);
	RUN(s, 0, "init");
	RUN(s, 0, "device", "import",
	    scen_writes(s, "d.jsonl",
			DEV("and-ana", "android",
			    ",\"ids\":{\"vendor:sophos\":\"7e5d0c1a-0000-4b8e-9f00-00000000a001\"}")
			DEV("ios-bo", "ios",
			    ",\"ids\":{\"vendor:sophos\":\"7e5d0c1a-0000-4b8e-9f00-00000000a002\"}")
			DEV("and-cy", "android", "")));
	enable(s, "sophos", "2026-04-10T00:00:00Z");

	/* the first page: three open threats of different levels on and-ana */
	RUN(s, 0, "ingest", "sophos", lines(s, "sophos", "messages.in", 1, 1));
	RUN(s, 0, "evaluate");
	LEVEL(s, "and-ana", "sophos", "high");
	LEVEL(s, "ios-bo", "sophos", "medium");

	/* clean-ups (one before its detection) and compliance back */
	RUN(s, 0, "ingest", "sophos", fixture(s, "sophos", "messages.in"));
	RUN(s, 0, "evaluate");
	LEVEL(s, "and-ana", "sophos", "low");
	LEVEL(s, "ios-bo", "sophos", "secured");
	LEVEL(s, "and-cy", "sophos", "");

	/* the import that names and-cy's Sophos id applies what waited */
	RUN(s, 0, "device", "import",
	    scen_writes(s, "d2.jsonl",
			DEV("and-cy", "android",
			    ",\"ids\":{\"vendor:sophos\":\"7e5d0c1a-0000-4b8e-9f00-00000000a003\"}")));
	RUN(s, 0, "evaluate");
	LEVEL(s, "and-cy", "sophos", "high");
}

/* Jamf: Risk API devices are snapshots (found by the UEM id, or by the
 * user on the platform); stream events naming only Jamf's id land once a
 * Risk API entry teaches it. */
static void jamf_risk_and_events(void **state)
{
	scen *s = *state;

	scen_day(s, 731, 0); /* 2026-03-02 */
	RUN(s, 0, "init");
	RUN(s, 0, "device", "import",
	    scen_writes(s, "d.jsonl",
			DEV("uem-ios-101", "ios", "") DEV("uem-ios-102", "ios", "")
			DEV("and-bo", "android", ",\"user\":\"bo@example.org\"")
			DEV("uem-and-201", "android", "")));
	enable(s, "wandera", "2026-03-01T00:00:00Z");
	RUN(s, 0, "ingest", "wandera", fixture(s, "wandera", "messages.in"));
	RUN(s, 0, "evaluate");
	LEVEL(s, "uem-ios-101", "wandera", "high");
	LEVEL(s, "and-bo", "wandera", "secured");
	/* SIDE_LOADED (6: medium) and OUTDATED_OS (10: high) both open */
	LEVEL(s, "uem-ios-102", "wandera", "high");
	/* learned from the Risk API entry; the blocked accesses left nothing
	 * open above the entry's HIGH */
	LEVEL(s, "uem-and-201", "wandera", "high");

	/* a SECURE entry replaces what was open */
	RUN(s, 0, "ingest", "wandera",
	    scen_writes(s, "r.jsonl",
			"{\"guid\":\"09f81436-0000-441e-a631-0461252c0001\",\"externalId\":\"uem-ios-102\","
			"\"riskCategory\":\"SECURE\",\"lastUpdated\":\"2026-03-01T12:00:00Z\"}\n"));
	RUN(s, 0, "evaluate");
	LEVEL(s, "uem-ios-102", "wandera", "secured");
}

/* Pradeo: correlations are snapshots, found by the EMM id (Intune's when
 * Pradeo says Intune), the serial number, or Pradeo's own id once learned. */
static void pradeo_correlations(void **state)
{
	scen *s = *state;

	scen_day(s, 795, 0); /* 2026-05-05 */
	RUN(s, 0, "init");
	RUN(s, 0, "device", "import",
	    scen_writes(s, "d.jsonl",
			DEV("aw-1001", "android", "")
			DEV("ios-2", "ios", ",\"ids\":{\"intune\":\"5e1f0000-0000-4000-8000-000000000002\"}")
			DEV("and-4", "android", ",\"ids\":{\"serial\":\"SN0004\"}")));
	enable(s, "pradeo", "2026-05-04T00:00:00Z");
	RUN(s, 0, "ingest", "pradeo", lines(s, "pradeo", "messages.in", 1, 5));
	RUN(s, 0, "evaluate");
	LEVEL(s, "aw-1001", "pradeo", "high");
	LEVEL(s, "ios-2", "pradeo", "high");
	LEVEL(s, "and-4", "pradeo", "medium"); /* the serial taught pd-0004 */
	/* the next correlation names only pd-0004: all Green */
	RUN(s, 0, "ingest", "pradeo", lines(s, "pradeo", "messages.in", 6, 6));
	RUN(s, 0, "evaluate");
	LEVEL(s, "and-4", "pradeo", "secured");
}

/* SEP Mobile: alerts open and resolve threats by alert id; a resolution
 * that says no risk is left secures the device. */
static void sep_mobile_alerts(void **state)
{
	scen *s = *state;

	scen_day(s, 438, 0); /* 2025-05-13 */
	RUN(s, 0, "init");
	RUN(s, 0, "device", "import",
	    scen_writes(s, "d.jsonl",
			DEV("mdm-and-0001", "android", "") DEV("mdm-and-0003", "android", "")
			DEV("and-0010", "android", ",\"ids\":{\"serial\":\"R58N0000010\"}")));
	enable(s, "symantec", "2025-05-12T00:00:00Z");
	RUN(s, 0, "ingest", "symantec", lines(s, "symantec", "messages.in", 1, 5));
	RUN(s, 0, "evaluate");
	LEVEL(s, "mdm-and-0001", "symantec", "high");
	LEVEL(s, "mdm-and-0003", "symantec", "high");
	RUN(s, 0, "ingest", "symantec", fixture(s, "symantec", "messages.in"));
	RUN(s, 0, "evaluate");
	LEVEL(s, "mdm-and-0001", "symantec", "secured");
	/* 7101 high (before the serial taught sepm-dev-0010), 7102 low; 7103
	 * resolved after its open, whatever the order they came in */
	LEVEL(s, "and-0010", "symantec", "high");
}

/* generic passes device_ref and threat_event through as they are. */
static void generic_passes_through(void **state)
{
	scen *s = *state;

	scen_day(s, 993, 0); /* 2026-11-19 */
	RUN(s, 0, "init");
	RUN(s, 0, "device", "import",
	    scen_writes(s, "d.jsonl",
			DEV("dev-1", "android", "")
			DEV("ios-x", "ios", ",\"ids\":{\"intune\":\"5e1f0000-0000-4000-8000-000000000001\"}")));
	enable(s, "generic", "2026-11-18T00:00:00Z");
	RUN(s, 0, "ingest", "generic", fixture(s, "generic", "messages.in"));
	RUN(s, 0, "evaluate");
	LEVEL(s, "ios-x", "generic", "medium"); /* t3 low opened, then resolved */
	LEVEL(s, "dev-1", "generic", "high");   /* t4 open on the secured snapshot */
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(bettermobile_logs, setup, teardown),
		cmocka_unit_test_setup_teardown(sophos_central, setup, teardown),
		cmocka_unit_test_setup_teardown(jamf_risk_and_events, setup, teardown),
		cmocka_unit_test_setup_teardown(pradeo_correlations, setup, teardown),
		cmocka_unit_test_setup_teardown(sep_mobile_alerts, setup, teardown),
		cmocka_unit_test_setup_teardown(generic_passes_through, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
