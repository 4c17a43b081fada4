/* Scenarios: the native feeds of lookout, zimperium, checkpoint and
 * defender through the mtdgate binary: their plugins' own fixtures (the
 * public layouts) land on the devices that any identifier they carry names,
 * with the vendor's own severity; what names no known device is parked, not
 * dropped; a page's good elements are kept beside its bad ones; threats
 * opened and resolved one by one set the level. */
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

/* vendors/<vendor>/fixtures/<name> */
static const char *fixture(scen *s, const char *vendor, const char *name)
{
	char *p = scen_own(s, malloc(4096));
	snprintf(p, 4096, "%s/%s/fixtures/%s", MTD_VENDORS_DIR, vendor, name);
	if (!scen_exists(p))
		fail_msg("no fixture %s", p);
	return p;
}

/* init, import devices, add vendor with settings, provision it. */
static void start(scen *s, const char *devices, const char *vendor, const char *settings)
{
	RUN(s, 0, "init");
	RUN(s, 0, "device", "import", scen_writes(s, "devices.jsonl", devices));
	RUN(s, 0, "connector", "add", vendor);
	RUN(s, 0, "ingest", vendor, "--normalized",
	    scen_writes(s, "prov.jsonl", "{\"type\":\"provision\",\"at\":\"2024-03-01T00:00:00Z\"}\n"));
	RUN(s, 0, "connector", "set", vendor, settings);
}

/* The vendor's level for dev in the last report. */
static const char *level_of(scen *s, const char *dev, const char *vendor)
{
	RUN(s, 0, "evaluate");
	return jstr(json_object_get(REPORT(s, dev), "vendors"), vendor);
}

#define LEVEL(s, dev, vendor, want) assert_string_equal(level_of((s), (dev), (vendor)), (want))

static int64_t parked_count(scen *s)
{
	RUN(s, 0, "parked", "--json");
	return (int64_t)scen_json_lines_(s, __FILE__, __LINE__);
}

/* ---- Lookout ---- */

#define LK_DEVICES                                                                                 \
	"{\"id\":\"mdm-android-3\",\"platform\":\"android\",\"ownership\":\"corporate\","               \
	"\"management\":\"enrolled\",\"user\":\"kim@example.com\"}\n"                                     \
	"{\"id\":\"mdm-ios-1\",\"platform\":\"ios\",\"ownership\":\"corporate\","                        \
	"\"management\":\"enrolled\",\"user\":\"noa@example.com\"}\n"                                     \
	"{\"id\":\"dev-lee\",\"platform\":\"android\",\"ownership\":\"corporate\","                      \
	"\"management\":\"enrolled\",\"user\":\"lee@example.com\",\"ids\":{\"intune\":\"mdm-android-5\"}}\n"

/* v2 threats naming only Lookout's guid, DEVICE statuses that teach it, a
 * page of four open threats, an out-of-order resolution, v1 events: each
 * on its device with Lookout's level. */
static void lookout_feed(void **state)
{
	scen *s = *state;
	start(s, LK_DEVICES, "lookout", "android=on");
	RUN(s, 0, "connector", "set", "lookout", "ios=on");
	s->now = INT64_C(1741179600); /* 2025-03-05T13:00:00Z */

	RUN(s, 0, "ingest", "lookout", fixture(s, "lookout", "messages.in"));
	/* the guid-only threat waited for the DEVICE event, then applied */
	OUT_HAS(s, "1 parked before now applied");
	/* lk-dev-2 (SECURE) and lk-dev-6 name no device mtdgate knows; lk-dev-6's
	 * e-mail comes without a platform, so it is not sent as a user; the
	 * SYSTEM-acted PCP_PAUSED threat names its device by target.guid only */
	assert_int_equal(parked_count(s), 3);
	OUT_HAS(s, "\"vendor_device_id\":\"lk-dev-2\"");
	OUT_HAS(s, "\"vendor_device_id\":\"lk-dev-6\"");
	OUT_HAS(s, "\"vendor_device_id\":\"6a0c1f2e-0000-4000-8000-00000000c0a1\"");
	assert_null(strstr(s->out, "vi@example.com"));
	/* the status snapshot THREATS_HIGH; the threat resolved after it */
	LEVEL(s, "mdm-android-3", "lookout", "high");
	/* four open threats, the phishing one ignored, then THREAT_MEDIUM */
	LEVEL(s, "mdm-ios-1", "lookout", "medium");
	/* v1: MDM id matched against intune; opened, resolved, THREAT_LOW */
	LEVEL(s, "dev-lee", "lookout", "low");
	RUN(s, 0, "audit", "show", "--kind", "id_learned", "--json");
	OUT_HAS(s, "\"value\":\"lk-dev-3\"");
	OUT_HAS(s, "\"value\":\"lk-dev-1\"");
	/* a page with six bad events: the two good ones are kept */
	RUN(s, 65, "ingest", "lookout", fixture(s, "lookout", "page_mixed.in"));
	OUT_HAS(s, "1 accepted");
	OUT_HAS(s, "6 bad elements, 1 parked");
	ERR_HAS(s, "events[2]: field 'threat.type': unknown value 'PHYSICAL'");
	LEVEL(s, "mdm-ios-1", "lookout", "high");
	/* the event stream (of April): every event of a device nobody knows
	 * yet, parked */
	s->now = INT64_C(1743552000); /* 2025-04-02T00:00:00Z */
	RUN(s, 0, "ingest", "lookout", fixture(s, "lookout", "stream.in"));
	OUT_HAS(s, "2 records, 0 accepted, 0 rejected, 0 malformed, 3 parked");
	/* a learned guid: a later event naming only it lands at once */
	RUN(s, 0, "ingest", "lookout",
	    scen_writes(s, "late.json",
			"{\"events\":[{\"id\":\"e-99\",\"created_time\":\"2025-03-05T12:00:00Z\","
			"\"type\":\"THREAT\",\"change_type\":\"CREATED\",\"threat\":{\"guid\":\"thr-99\","
			"\"status\":\"OPEN\",\"severity\":\"HIGH\",\"type\":\"FILE\"},"
			"\"actor\":{\"guid\":\"lk-dev-1\",\"type\":\"DEVICE\"}}]}\n"));
	OUT_HAS(s, "1 records, 1 accepted, 0 rejected, 0 malformed, 0 parked");
	LEVEL(s, "mdm-ios-1", "lookout", "high");
}

/* ---- Zimperium ---- */

/* One v2 threat of zdeviceId zd-7 (MDM id "00000000-...", a placeholder),
 * written to a file; mitigated when mit. */
static const char *zthreat(scen *s, const char *id, const char *sev, int64_t ms, int mit)
{
	char t[1024], name[64];
	snprintf(t, sizeof t,
		 "{\"content\":[{\"id\":\"%s\",\"deviceId\":\"d7\",\"device\":{\"id\":\"d7\","
		 "\"mdmDeviceId\":\"00000000-0000-0000-0000-000000000000\",\"os\":{\"name\":\"ANDROID\"},"
		 "\"zdeviceId\":\"zd-7\"},\"timestamp\":%lld,\"threatTypeName\":\"T %s\","
		 "\"severityName\":\"%s\",\"vectorName\":\"Device\",\"state\":1,"
		 "\"mitigationEvents\":[%s],\"simulated\":false,\"deviceOwner\":\"uma@example.com\"}],"
		 "\"totalElements\":1}\n",
		 id, (long long)ms, id, sev, mit ? "{\"id\":\"m\"}" : "");
	snprintf(name, sizeof name, "z-%s-%d.json", id, mit);
	return scen_writes(s, name, t);
}

#define Z_DEVICES                                                                                  \
	"{\"id\":\"3f1e0c2a-6d3b-4c55-9a4e-2b7f00000001\",\"platform\":\"android\","                      \
	"\"ownership\":\"corporate\",\"management\":\"enrolled\",\"user\":\"ana@example.com\"}\n"          \
	"{\"id\":\"z-ios-2\",\"platform\":\"ios\",\"ownership\":\"corporate\",\"management\":\"enrolled\"," \
	"\"ids\":{\"intune\":\"mdm-ios-2\"}}\n"                                                            \
	"{\"id\":\"mdm-a-9\",\"platform\":\"android\",\"ownership\":\"corporate\","                      \
	"\"management\":\"enrolled\",\"user\":\"bo@example.com\"}\n"                                      \
	"{\"id\":\"z-uma\",\"platform\":\"android\",\"ownership\":\"corporate\","                        \
	"\"management\":\"enrolled\",\"user\":\"uma@example.com\"}\n"

/* The fixture: threats on the zdeviceId (the public samples' MDM ids are
 * empty), postures as snapshots, a push batch. */
static void zimperium_feed(void **state)
{
	scen *s = *state;
	start(s, Z_DEVICES, "zimperium", "android=on");
	RUN(s, 0, "connector", "set", "zimperium", "ios=on");
	s->now = INT64_C(1733320000);

	RUN(s, 0, "ingest", "zimperium", fixture(s, "zimperium", "messages.in"));
	OUT_HAS(s, "0 malformed");
	/* the CRITICAL posture after the threats; threats resolved after it */
	LEVEL(s, "3f1e0c2a-6d3b-4c55-9a4e-2b7f00000001", "zimperium", "high");
	/* the NORMAL posture (parked until th-4 taught zd-2), then th-4 ELEVATED */
	LEVEL(s, "z-ios-2", "zimperium", "medium");
	/* push: the CRITICAL threat mitigated, the LOW one open */
	LEVEL(s, "mdm-a-9", "zimperium", "low");
	assert_int_equal(parked_count(s), 0);
	/* a page with four bad threats: the two good ones are kept (older
	 * than the device's CRITICAL posture, so already part of it) */
	RUN(s, 65, "ingest", "zimperium", fixture(s, "zimperium", "page_mixed.in"));
	OUT_HAS(s, "2 accepted");
	OUT_HAS(s, "4 bad elements");
	ERR_HAS(s, "content[3]: field 'vectorName': unknown value 'Bluetooth'");
	LEVEL(s, "3f1e0c2a-6d3b-4c55-9a4e-2b7f00000001", "zimperium", "high");
}

/* A CRITICAL and an ELEVATED threat open on one device: high until the
 * critical one is mitigated, then medium, then secured; whatever order
 * the pages come in. */
static void zimperium_lifecycle(void **state)
{
	scen *s = *state;
	const int64_t t = INT64_C(1733300000000);
	start(s, Z_DEVICES, "zimperium", "android=on");
	s->now = INT64_C(1733400000);

	/* the placeholder MDM id is skipped; uma's e-mail names her device */
	RUN(s, 0, "ingest", "zimperium", zthreat(s, "c1", "CRITICAL", t, 0));
	RUN(s, 0, "ingest", "zimperium", zthreat(s, "e1", "ELEVATED", t + 60000, 0));
	LEVEL(s, "z-uma", "zimperium", "high");
	RUN(s, 0, "ingest", "zimperium", zthreat(s, "c1", "CRITICAL", t + 120000, 1));
	LEVEL(s, "z-uma", "zimperium", "medium");
	/* a late copy of c1's opening (older than its mitigation) changes nothing */
	RUN(s, 0, "ingest", "zimperium", zthreat(s, "c1", "CRITICAL", t + 1000, 0));
	LEVEL(s, "z-uma", "zimperium", "medium");
	RUN(s, 0, "ingest", "zimperium", zthreat(s, "e1", "ELEVATED", t + 180000, 1));
	LEVEL(s, "z-uma", "zimperium", "secured");
}

/* ---- Check Point ---- */

#define CP_DEVICES                                                                                 \
	"{\"id\":\"cp-sam\",\"platform\":\"ios\",\"ownership\":\"corporate\",\"management\":\"enrolled\","  \
	"\"user\":\"sam@example.com\",\"ids\":{\"intune\":\"6b1d7a9e-1111-4a2b-9c3d-00000000a008\"}}\n"   \
	"{\"id\":\"c0ffee00-0000-4000-8000-000000000009\",\"platform\":\"android\","                      \
	"\"ownership\":\"corporate\",\"management\":\"enrolled\"}\n"

static void checkpoint_feed(void **state)
{
	scen *s = *state;
	start(s, CP_DEVICES, "checkpoint", "android=on");
	RUN(s, 0, "connector", "set", "checkpoint", "ios=on");
	s->now = INT64_C(1759700000); /* 2025-10-05T21:33:20Z */

	RUN(s, 0, "ingest", "checkpoint", fixture(s, "checkpoint", "messages.in"));
	OUT_HAS(s, "0 malformed");
	/* three threats opened, the app's removed, then Compliant */
	LEVEL(s, "cp-sam", "checkpoint", "secured");
	/* eleven Medium threats, one per vector spelling */
	LEVEL(s, "c0ffee00-0000-4000-8000-000000000009", "checkpoint", "medium");
	/* device_id 2 and 10 (all-zero or no MDM id) name no known device */
	assert_int_equal(parked_count(s), 3);
	OUT_HAS(s, "\"vendor_device_id\":\"10\"");
	/* a page with five bad alerts: the two good ones are parked, not lost */
	RUN(s, 65, "ingest", "checkpoint", fixture(s, "checkpoint", "page_mixed.in"));
	OUT_HAS(s, "5 bad elements, 2 parked");
	ERR_HAS(s, "objects[1]: field 'attack_vector': unknown value 'Bluetooth'");
	assert_int_equal(parked_count(s), 5);
}

/* ---- Defender ---- */

#define D_DEVICES                                                                                  \
	"{\"id\":\"win-laptop\",\"platform\":\"windows\",\"ownership\":\"corporate\","                   \
	"\"management\":\"enrolled\",\"ids\":{\"entra\":\"80fe8ff8-2624-418e-9591-41f93491458d\"}}\n"     \
	"{\"id\":\"and-phone\",\"platform\":\"android\",\"ownership\":\"corporate\","                    \
	"\"management\":\"enrolled\",\"ids\":{\"entra\":\"a1b2c3d4-0000-4000-8000-000000000002\"}}\n"     \
	"{\"id\":\"ipad-3\",\"platform\":\"ios\",\"ownership\":\"corporate\","                           \
	"\"management\":\"enrolled\",\"ids\":{\"entra\":\"a1b2c3d4-0000-4000-8000-000000000003\"}}\n"     \
	"{\"id\":\"mac-4\",\"platform\":\"macos\",\"ownership\":\"corporate\","                          \
	"\"management\":\"enrolled\",\"ids\":{\"entra\":\"mac-4\"}}\n"

#define DA_PHONE "7c3a1f00aa11bb22cc33dd44ee55ff6677889900"

static void defender_feed(void **state)
{
	scen *s = *state;
	start(s, D_DEVICES, "defender", "android=on");
	RUN(s, 0, "connector", "set", "defender", "ios=on", "windows=on", "macos=on");
	s->now = INT64_C(1770400000); /* 2026-02-06T17:46:40Z */

	RUN(s, 0, "ingest", "defender", fixture(s, "defender", "messages.in"));
	OUT_HAS(s, "0 malformed");
	/* machine id only (aadDeviceId null): parked, applied once the page
	 * taught it; then None by machine id only */
	OUT_HAS(s, "1 parked before now applied");
	LEVEL(s, "and-phone", "defender", "secured");
	LEVEL(s, "win-laptop", "defender", "low");
	LEVEL(s, "ipad-3", "defender", "low");
	LEVEL(s, "mac-4", "defender", "medium");
	/* the Linux machine's Entra id is no device of ours */
	assert_int_equal(parked_count(s), 1);
	OUT_HAS(s, "\"entra\":\"lin-5\"");
	/* a page with four bad machines: the two good ones are kept */
	RUN(s, 65, "ingest", "defender", fixture(s, "defender", "page_mixed.in"));
	OUT_HAS(s, "2 accepted");
	OUT_HAS(s, "4 bad elements");
	ERR_HAS(s, "value[3]: field 'healthStatus': unknown value 'Sleeping'");
	LEVEL(s, "win-laptop", "defender", "high");
	LEVEL(s, "and-phone", "defender", "low");
	/* the alerts fixture is older than every snapshot: already part of them */
	RUN(s, 0, "ingest", "defender", fixture(s, "defender", "alerts.in"));
	OUT_HAS(s, "5 accepted");
	LEVEL(s, "and-phone", "defender", "low");
	/* a newer alert on the phone (by machine id) raises it until resolved */
	RUN(s, 0, "ingest", "defender",
	    scen_writes(s, "alert.json",
			"{\"id\":\"da9_1\",\"severity\":\"Medium\",\"status\":\"New\","
			"\"title\":\"Risky app\",\"alertCreationTime\":\"2026-02-06T09:00:00Z\","
			"\"lastUpdateTime\":null,\"machineId\":\"" DA_PHONE "\"}\n"));
	LEVEL(s, "and-phone", "defender", "medium");
	RUN(s, 0, "ingest", "defender",
	    scen_writes(s, "alert2.json",
			"{\"id\":\"da9_1\",\"severity\":\"Medium\",\"status\":\"Resolved\","
			"\"alertCreationTime\":\"2026-02-06T09:00:00Z\","
			"\"lastUpdateTime\":\"2026-02-06T10:00:00Z\",\"machineId\":\"" DA_PHONE "\"}\n"));
	LEVEL(s, "and-phone", "defender", "low");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(lookout_feed, setup, teardown),
		cmocka_unit_test_setup_teardown(zimperium_feed, setup, teardown),
		cmocka_unit_test_setup_teardown(zimperium_lifecycle, setup, teardown),
		cmocka_unit_test_setup_teardown(checkpoint_feed, setup, teardown),
		cmocka_unit_test_setup_teardown(defender_feed, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
