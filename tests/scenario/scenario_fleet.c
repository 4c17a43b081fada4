/* Scenarios: the fleet in and its lifecycle (issue 18) through the mtdgate
 * binary: Microsoft Graph managedDevices pages with a group export, CSV,
 * detectedApps into the inventory; vendor reports that name devices by the
 * identifiers Graph gave them. */
#define _GNU_SOURCE /* memmem */
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

#define GRAPH MTD_FIXTURES_DIR "/graph/"

/* Devices of the Graph fixtures, by Intune id (their id in mtdgate). */
#define ALICE "5e7c1b2a-0f3d-4c8e-9a61-2b4f8d7e1c01"
#define BOB "7a9d3e5f-1c2b-4a6d-8e0f-3b5c7d9e1f02"
#define DESKTOP "3f1e5d7c-9b2a-4c8e-a0f1-5d7c9b2a4c03"
#define CAROL "d4e5f6a7-b8c9-4d0e-8f1a-2b3c4d5e6f04"
#define BOB_IPAD "e5f6a7b8-c9d0-4e1f-9a2b-3c4d5e6f7a05"
#define DANA "f6a7b8c9-d0e1-4f2a-8b3c-4d5e6f7a8b06"

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

static size_t count_lines(const char *t)
{
	size_t n = 0;
	for (; t && *t; t++)
		n += *t == '\n';
	return n;
}

/* 1 when device ext is in group (read behind mtdgate's back), else 0. */
static int64_t in_group(scen *s, const char *ext, const char *group)
{
	char q[600];
	snprintf(q, sizeof q,
		 "SELECT count(*) FROM devices d JOIN groupset_members m ON m.groupset = d.groupset"
		 " JOIN groups g ON g.id = m.grp WHERE d.ext_id = '%s' AND g.name = '%s'",
		 ext, group);
	return scen_q_int(s, q);
}

static void graph_setup(scen *s)
{
	RUN(s, 0, "init");
	RUN(s, 65, "device", "import", "--groups", GRAPH "groups.json", "--groups",
	    "Kiosks=" GRAPH "kiosk-members.json", GRAPH "managedDevices-page1.json",
	    GRAPH "managedDevices-page2.json");
}

/* Two pretty-printed and compact pages and a group export import with no
 * glue: each device with its platform, ownership, management, user and
 * identifiers; what could not be mapped named by page, element and field;
 * the good ones kept. */
static void graph_devices(void **state)
{
	scen *s = *state;
	json_t *r;
	graph_setup(s);
	OUT_HAS(s, "devices: 8 records, 6 imported, 2 malformed, 1 bad group member");
	ERR_HAS(s, "managedDevices-page1.json page 1 (line 1): value[3]: field 'operatingSystem': "
		   "'Linux' is not Android, iOS, iPadOS, Windows or macOS");
	ERR_HAS(s, "managedDevices-page2.json page 1 (line 1): value[2]: field 'id': missing");
	ERR_HAS(s, "groups.json page 1 (line 1): value[1]: member 1 of group 'Executives': a "
		   "#microsoft.graph.group");

	r = REPORT(s, ALICE);
	FIELD(s, r, "platform", "ios");
	FIELD(s, r, "management", "enrolled");
	FIELD(s, REPORT(s, BOB), "platform", "android");
	FIELD(s, REPORT(s, DESKTOP), "platform", "windows");
	FIELD(s, REPORT(s, CAROL), "platform", "macos");
	FIELD(s, REPORT(s, BOB_IPAD), "platform", "ios");
	/* Exchange only, and a device being retired: not enrolled */
	FIELD(s, REPORT(s, BOB_IPAD), "management", "unenrolled");
	FIELD(s, REPORT(s, DANA), "management", "unenrolled");
	assert_int_equal(scen_q_int(s, "SELECT count(*) FROM devices"), 6);
	assert_int_equal(scen_q_int(s, "SELECT corporate FROM devices WHERE ext_id = '" ALICE "'"), 1);
	assert_int_equal(scen_q_int(s, "SELECT corporate FROM devices WHERE ext_id = '" BOB "'"), 0);
	/* "unknown" ownership is taken as personal */
	assert_int_equal(scen_q_int(s, "SELECT corporate FROM devices WHERE ext_id = '" CAROL "'"), 0);
	assert_int_equal(scen_q_int(s, "SELECT count(*) FROM devices WHERE ext_id = '" ALICE
				       "' AND user = 'alice.anders@contoso.com'"),
			 1);
	/* "" is no user */
	assert_int_equal(scen_q_int(s, "SELECT user IS NULL FROM devices WHERE ext_id = '" DESKTOP "'"), 1);

	/* identifiers: GUIDs in lower case, zeros and "" left out, IMEI without
	 * its spaces, the Wi-Fi MAC as aa:bb:..; */
	assert_int_equal(scen_q_int(s, "SELECT count(*) FROM device_ids WHERE kind = 'entra' AND value ="
				       " '9c2e8f41-6b3a-4d5c-8e7f-1a2b3c4d5e6f'"),
			 1);
	assert_int_equal(scen_q_int(s, "SELECT count(*) FROM device_ids WHERE value LIKE '00000000%'"
				       " OR value = '' OR value = '000000000000'"),
			 0);
	assert_int_equal(scen_q_int(s, "SELECT count(*) FROM device_ids WHERE kind = 'imei' AND value ="
				       " '356741081234567'"),
			 1);
	assert_int_equal(scen_q_int(s, "SELECT count(*) FROM device_ids WHERE kind = 'wifi_mac' AND"
				       " value IN ('8c:85:90:aa:bb:01', 'a4:bb:6d:01:02:03', '3c:22:fb:01:02:03')"),
			 3);
	assert_int_equal(scen_q_int(s, "SELECT count(*) FROM device_ids d JOIN devices v ON v.id ="
				       " d.device WHERE v.ext_id = '" BOB "'"),
			 2); /* intune, imei */

	/* groups: by user (Sales: alice, carol whose UPN differs in case), by
	 * device (Executives: alice's phone), member pages of a named group */
	assert_int_equal(in_group(s, ALICE, "Sales"), 1);
	assert_int_equal(in_group(s, ALICE, "Executives"), 1);
	assert_int_equal(in_group(s, CAROL, "Sales"), 1);
	assert_int_equal(in_group(s, DESKTOP, "Kiosks"), 1);
	assert_int_equal(in_group(s, BOB, "Sales"), 0);

	/* the same export again: the same fleet */
	graph_setup(s);
	assert_int_equal(scen_q_int(s, "SELECT count(*) FROM devices"), 6);
	RUN(s, 0, "audit", "verify");
}

/* Reports from vendors that name the devices by Entra id (in upper case,
 * as some send it), Intune id or serial number land on them. */
static void graph_reports_land(void **state)
{
	scen *s = *state;
	graph_setup(s);
	RUN(s, 0, "connector", "add", "generic");
	scen_writes(s, "prov.jsonl", "{\"type\":\"provision\",\"at\":\"2024-03-01T00:00:00Z\"}\n");
	RUN(s, 0, "ingest", "generic", "--normalized", scen_path(s, "prov.jsonl"));
	RUN(s, 0, "connector", "set", "generic", "ios=on", "android=on", "windows=on", "macos=on");
	scen_day(s, 1, 0);
	scen_writes(s, "t.jsonl",
		    "{\"type\":\"threat\",\"device_ref\":{\"entra\":\"9C2E8F41-6B3A-4D5C-8E7F-1A2B3C4D5E6F\"},"
		    "\"level\":\"high\",\"at\":\"2024-03-01T01:00:00Z\"}\n"
		    "{\"type\":\"threat\",\"device_ref\":{\"intune\":\"" BOB "\"},"
		    "\"level\":\"medium\",\"at\":\"2024-03-01T01:00:00Z\"}\n"
		    "{\"type\":\"threat\",\"device_ref\":{\"serial\":\"C02ZK0ABMD6M\"},"
		    "\"level\":\"low\",\"at\":\"2024-03-01T01:00:00Z\"}\n"
		    "{\"type\":\"threat\",\"device_ref\":{\"mdm\":\"" DESKTOP "\"},"
		    "\"level\":\"secured\",\"at\":\"2024-03-01T01:00:00Z\"}\n");
	RUN(s, 0, "ingest", "generic", "--normalized", scen_path(s, "t.jsonl"));
	OUT_HAS(s, "4 records, 4 accepted, 0 rejected, 0 malformed, 0 parked");
	RUN(s, 0, "evaluate");
	FIELD(s, json_object_get(REPORT(s, ALICE), "vendors"), "generic", "high");
	FIELD(s, REPORT(s, ALICE), "state", "noncompliant");
	FIELD(s, json_object_get(REPORT(s, BOB), "vendors"), "generic", "medium");
	FIELD(s, json_object_get(REPORT(s, CAROL), "vendors"), "generic", "low");
	FIELD(s, json_object_get(REPORT(s, DESKTOP), "vendors"), "generic", "secured");
}

/* CSV for every other MDM: a header of record fields and ids.KIND
 * columns, quoted fields with commas, quotes and line ends, CRLF, a BOM;
 * a bad row named by its line, the others kept. */
static void csv_devices(void **state)
{
	scen *s = *state;
	const char *csv = "\xef\xbb\xbf"
			  "id,platform,os_version,ownership,management,user,groups,ids.serial,ids.imei\r\n"
			  "csv-1,ios,17.4,corporate,enrolled,\"Doe, Jane <jane@example.com>\",Staff;Executives,"
			  "SER-1,\r\n"
			  "csv-2,android,14,personal,unenrolled,,,SER-2,3520990017614\r\n"
			  "csv-3,blackberry,10,corporate,enrolled,,,,\r\n"
			  "\"csv-4\",\"windows\",\"10\",\"corporate\",\"enrolled\",\"say \"\"hi\"\"\",\"\",\"\",\"\"\r\n"
			  "csv-5,ios,17,corporate,enrolled,\"two\nlines\",,,\r\n"
			  "csv-6,macos,14,corporate,enrolled\r\n"
			  "csv-7,macos,14,corporate,enrolled,,,,";
	RUN(s, 0, "init");
	scen_writes(s, "d.csv", csv);
	RUN(s, 65, "device", "import", scen_path(s, "d.csv"));
	OUT_HAS(s, "devices: 7 records, 4 imported, 3 malformed");
	ERR_HAS(s, "d.csv line 6: field 'user': ");
	ERR_HAS(s, "d.csv line 4: field 'platform': 'blackberry' is not android, ios, windows or macos");
	ERR_HAS(s, "d.csv line 8: 5 fields, the header has 9");
	assert_int_equal(scen_q_int(s, "SELECT count(*) FROM devices WHERE ext_id = 'csv-1' AND"
				       " user = 'Doe, Jane <jane@example.com>'"),
			 1);
	assert_int_equal(scen_q_int(s, "SELECT count(*) FROM devices WHERE ext_id = 'csv-4' AND"
				       " user = 'say \"hi\"'"),
			 1);
	assert_int_equal(in_group(s, "csv-1", "Executives"), 1);
	assert_int_equal(in_group(s, "csv-1", "Staff"), 1);
	assert_int_equal(scen_q_int(s, "SELECT count(*) FROM device_ids"), 3);
	assert_int_equal(scen_q_int(s, "SELECT count(*) FROM devices WHERE ext_id = 'csv-7'"), 1);
	/* a header naming no record field refuses the file */
	scen_writes(s, "bad.csv", "id,platform,colour\nx,ios,red\n");
	RUN(s, 65, "device", "import", "--format", "csv", scen_path(s, "bad.csv"));
	ERR_HAS(s, "bad.csv line 1: header, column 3: 'colour' is not a field of device records");
	/* the same file as records is not JSON */
	RUN(s, 65, "device", "import", "--format", "records", scen_path(s, "d.csv"));
}

/* detectedApps with their managedDevices, and a managedDevice with its
 * detectedApps, into the app inventory of the devices Graph named. */
static void graph_apps(void **state)
{
	scen *s = *state;
	graph_setup(s);
	scen_writes(s, "apps.json",
		    "{\n  \"@odata.context\": \"https://graph.microsoft.com/v1.0/$metadata#deviceManagement/"
		    "detectedApps(managedDevices())\",\n  \"value\": [\n    {\n      \"id\": "
		    "\"0b8c4a3e2f1d0c9b8a7f6e5d4c3b2a1f0e9d8c7b6a5f4e3d2c1b0a9f8e7d6c5b\",\n      "
		    "\"displayName\": \"Microsoft Outlook\",\n      \"version\": \"4.2405.0\",\n      "
		    "\"sizeInByte\": 318767104,\n      \"deviceCount\": 2,\n      \"platform\": \"ios\",\n"
		    "      \"managedDevices\": [\n        {\"id\": \"" ALICE "\", \"deviceName\": \"Alice's "
		    "iPhone\"},\n        {\"id\": \"5E7C1B2A-0F3D-4C8E-9A61-2B4F8D7E1C01\"},\n        "
		    "{\"id\": \"11111111-0000-4000-8000-000000000000\"}\n      ]\n    },\n    {\n      "
		    "\"id\": \"7d1e\",\n      \"displayName\": \"Sideloaded Thing\",\n      \"version\": "
		    "null,\n      \"sizeInByte\": 0,\n      \"managedDevices\": [{\"id\": \"" BOB "\"}]\n"
		    "    },\n    {\"id\": \"no-devices\", \"displayName\": \"Orphan\"}\n  ]\n}\n");
	RUN(s, 65, "inventory", "import", scen_path(s, "apps.json"));
	OUT_HAS(s, "inventory: 5 records, 3 imported, 2 malformed");
	ERR_HAS(s, "apps.json page 1 (line 1): value[0].managedDevices[2]: field 'device': unknown "
		   "device '11111111-0000-4000-8000-000000000000'");
	ERR_HAS(s, "apps.json page 1 (line 1): value[2]: neither a detectedApp");
	assert_int_equal(scen_q_int(s, "SELECT count(*) FROM apps a JOIN devices d ON d.id = a.device"
				       " WHERE d.ext_id = '" ALICE "' AND a.name = 'Microsoft Outlook'"
				       " AND a.bundle_size = 318767104"),
			 1);
	assert_int_equal(scen_q_int(s, "SELECT count(*) FROM apps a JOIN devices d ON d.id = a.device"
				       " WHERE d.ext_id = '" BOB "'"),
			 1);
	/* a device's own list */
	scen_writes(s, "dev-apps.json",
		    "{\"@odata.context\":\"https://graph.microsoft.com/v1.0/$metadata#deviceManagement/"
		    "managedDevices(detectedApps())/$entity\",\"id\":\"" CAROL "\",\"deviceName\":\"Carol's"
		    " MacBook\",\"detectedApps\":[{\"id\":\"a1\",\"displayName\":\"Slack\",\"version\":"
		    "\"4.36\",\"sizeInByte\":1000},{\"id\":\"a2\",\"displayName\":\"Zoom\"}]}");
	RUN(s, 0, "inventory", "import", "--format", "graph", scen_path(s, "dev-apps.json"));
	OUT_HAS(s, "inventory: 2 records, 2 imported, 0 malformed");
	RUN(s, 0, "audit", "verify");
}

/* The times the file at path holds needle (0 when it does not exist). */
static int occurrences(scen *s, const char *path, const char *needle)
{
	size_t len = 0, k = strlen(needle);
	char *b = scen_slurp(path, &len);
	int n = 0;
	if (!b)
		return 0;
	scen_own(s, b);
	for (const char *p = b; b && (p = memmem(p, len - (size_t)(p - b), needle, k)); p += k)
		n++;
	return n;
}

/* Graph devices with a vendor in force on iOS and Android. */
static void fleet_in_force(scen *s)
{
	graph_setup(s);
	RUN(s, 0, "connector", "add", "generic");
	scen_writes(s, "prov.jsonl", "{\"type\":\"provision\",\"at\":\"2024-03-01T00:00:00Z\"}\n");
	RUN(s, 0, "ingest", "generic", "--normalized", scen_path(s, "prov.jsonl"));
	RUN(s, 0, "connector", "set", "generic", "ios=on", "android=on");
	scen_day(s, 1, 0);
}

/* device remove leaves no trace of the device's personal data in the store
 * file: its e-mail, every identifier (imported and learned); the audit log
 * records the removal and verifies; what named it in the log is erased,
 * and an erasure outside mtdgate is found. */
static void remove_erases(void **state)
{
	static const char *const personal[] = {
		"alice.anders@contoso.com", ALICE, "9c2e8f41-6b3a-4d5c-8e7f-1a2b3c4d5e6f",
		"356741081234567", "35674108123456", "F2LXK1ABCD12", "8c:85:90:aa:bb:01",
		"lk-alice-77"};
	scen *s = *state;
	char wal[320];
	fleet_in_force(s);
	snprintf(wal, sizeof wal, "%s-wal", s->db);
	/* a report by Entra id that teaches the vendor's own id, a threat
	 * event by that id, a message parked on alice's e-mail, her apps */
	scen_writes(s, "t.jsonl",
		    "{\"type\":\"threat\",\"device_ref\":{\"entra\":\"9C2E8F41-6B3A-4D5C-8E7F-1A2B3C4D5E6F\","
		    "\"vendor_device_id\":\"lk-alice-77\"},\"level\":\"high\",\"at\":\"2024-03-01T01:00:00Z\"}\n"
		    "{\"type\":\"threat_event\",\"device_ref\":{\"vendor_device_id\":\"lk-alice-77\"},"
		    "\"threat\":{\"id\":\"t9\",\"category\":\"app\",\"name\":\"Spyware\",\"level\":\"high\"},"
		    "\"state\":\"open\",\"at\":\"2024-03-01T02:00:00Z\"}\n"
		    "{\"type\":\"threat\",\"device_ref\":{\"serial\":\"NOPE-1\",\"user\":"
		    "\"alice.anders@contoso.com\",\"platform\":\"android\"},\"level\":\"low\","
		    "\"at\":\"2024-03-01T01:00:00Z\"}\n"
		    "{\"type\":\"threat\",\"device_ref\":{\"intune\":\"" BOB "\"},\"level\":\"low\","
		    "\"at\":\"2024-03-01T01:00:00Z\"}\n");
	RUN(s, 0, "ingest", "generic", "--normalized", scen_path(s, "t.jsonl"));
	OUT_HAS(s, "4 records, 3 accepted, 0 rejected, 0 malformed, 1 parked");
	scen_writes(s, "a.jsonl", "{\"device\":\"" ALICE "\",\"app_id\":\"com.example.mail\"}\n");
	RUN(s, 0, "inventory", "import", scen_path(s, "a.jsonl"));
	RUN(s, 0, "evaluate");
	FIELD(s, REPORT(s, ALICE), "state", "noncompliant");
	RUN(s, 0, "device", "show", ALICE);
	OUT_HAS(s, "generic: t9 'Spyware' (high)");
	OUT_HAS(s, "vendor:generic=lk-alice-77");
	/* before: the store holds them (so the search below can find them) */
	for (size_t i = 0; i < sizeof personal / sizeof *personal; i++)
		assert_true(occurrences(s, s->db, personal[i]) + occurrences(s, wal, personal[i]) > 0);

	RUN(s, 0, "device", "remove", ALICE);
	OUT_HAS(s, "removed 1 device: ");
	OUT_HAS(s, "3 audit records erased");
	for (size_t i = 0; i < sizeof personal / sizeof *personal; i++)
		if (occurrences(s, s->db, personal[i]) || occurrences(s, wal, personal[i]))
			fail_msg("'%s' is still in the store file", personal[i]);
	RUN(s, 0, "audit", "verify");
	OUT_HAS(s, "audit log intact");
	RUN(s, 0, "audit", "show", "--kind", "device_removed", "--json");
	OUT_HAS(s, "\"device\":null,\"detail\":{\"rows\":[1],\"erased\":[");
	/* gone from every view; the others are as they were */
	RUN(s, 64, "device", "show", ALICE);
	ERR_HAS(s, "no device '" ALICE "'");
	RUN(s, 0, "parked");
	assert_string_equal(s->out, "");
	RUN(s, 0, "device", "list", "--output", "csv");
	assert_null(strstr(s->out, ALICE));
	OUT_HAS(s, BOB ",android,personal,enrolled,bob.berg@contoso.com,,compliant,low\r\n");
	/* a new device does not take the removed one's row and history */
	scen_writes(s, "new.jsonl", "{\"id\":\"ios-new\",\"platform\":\"ios\",\"ownership\":\"corporate\","
				    "\"management\":\"enrolled\"}\n");
	RUN(s, 0, "device", "import", scen_path(s, "new.jsonl"));
	assert_true(scen_q_int(s, "SELECT id FROM devices WHERE ext_id = 'ios-new'") > 6);
	RUN(s, 0, "evaluate");
	RUN(s, 0, "audit", "verify");
	/* all named must exist: nothing removed otherwise */
	RUN(s, 64, "device", "remove", BOB, "no-such-device");
	assert_int_equal(scen_q_int(s, "SELECT count(*) FROM devices WHERE ext_id = '" BOB "'"), 1);

	/* the one update the log takes, made behind mtdgate's back */
	{
		sqlite3 *db = scen_sql_open(s->db);
		assert_int_equal(sqlite3_exec(db, "UPDATE audit SET device = NULL, salt = NULL, detail ="
						  " '{\"erased\":true}' WHERE seq = (SELECT max(seq)"
						  " FROM audit WHERE kind = 'import')",
					      NULL, NULL, NULL),
				 SQLITE_OK);
		sqlite3_close(db);
	}
	RUN(s, 65, "audit", "verify");
	OUT_HAS(s, "was erased, but no device removal records that it erased it");
}

/* --replace-all: devices a full export does not hold are removed; an
 * export that may be partial removes nothing. */
static void replace_all(void **state)
{
	scen *s = *state;
	fleet_in_force(s);
	/* page 1 alone: Graph says more pages follow */
	RUN(s, 69, "device", "import", "--replace-all", GRAPH "managedDevices-page1.json");
	ERR_HAS(s, "no device removed, since the import may not hold the whole fleet (the Graph "
		   "export goes on beyond the pages given)");
	assert_int_equal(scen_q_int(s, "SELECT count(*) FROM devices"), 6);
	/* both pages, but with bad elements */
	RUN(s, 69, "device", "import", "--replace-all", GRAPH "managedDevices-page1.json",
	    GRAPH "managedDevices-page2.json");
	assert_int_equal(scen_q_int(s, "SELECT count(*) FROM devices"), 6);
	/* a CSV of the fleet without bob's two devices */
	scen_writes(s, "fleet.csv",
		    "id,platform,ownership,management,user\r\n" ALICE ",ios,corporate,enrolled,"
		    "alice.anders@contoso.com\r\n" DESKTOP ",windows,corporate,enrolled,\r\n" CAROL
		    ",macos,personal,enrolled,\r\n" DANA ",android,corporate,unenrolled,\r\n");
	RUN(s, 0, "device", "import", "--replace-all", scen_path(s, "fleet.csv"));
	OUT_HAS(s, "devices: 4 records, 4 imported, 0 malformed, 2 removed");
	assert_int_equal(scen_q_int(s, "SELECT count(*) FROM devices"), 4);
	assert_int_equal(occurrences(s, s->db, "bob.berg@contoso.com"), 0);
	RUN(s, 0, "audit", "verify");
}

/* device list with its filters and outputs, device show as JSON. */
static void list_show(void **state)
{
	scen *s = *state;
	json_t *d;
	graph_setup(s);
	RUN(s, 0, "device", "list");
	OUT_HAS(s, "DEVICE                                PLATFORM  OWNERSHIP  MANAGEMENT  USER");
	assert_int_equal(count_lines(s->out), 7);
	RUN(s, 0, "device", "list", "--platform", "ios", "--json");
	assert_int_equal(scen_json_lines_(s, __FILE__, __LINE__), 2);
	/* groups as in a device record (SPEC 4.2): a list */
	RUN(s, 0, "device", "list", "--group", "Sales", "--json");
	OUT_HAS(s, "\"groups\":[\"Executives\",\"Sales\"]");
	RUN(s, 0, "device", "list", "--group", "Sales", "--output", "csv");
	assert_string_equal(s->out, "id,platform,ownership,management,user,groups,state,level\r\n" ALICE
				    ",ios,corporate,enrolled,alice.anders@contoso.com,Executives;Sales,"
				    "not_evaluated,none\r\n" CAROL ",macos,personal,enrolled,"
				    "Carol.Chen@contoso.com,Sales,not_evaluated,none\r\n");
	RUN(s, 0, "evaluate");
	RUN(s, 0, "device", "list", "--state", "compliant");
	assert_int_equal(count_lines(s->out), 5); /* the header, 4 enrolled */
	RUN(s, 64, "device", "list", "--platform", "linux");
	RUN(s, 0, "device", "show", ALICE, "--json");
	d = scen_ownj(s, json_loadb(s->out, strcspn(s->out, "\n"), 0, NULL));
	assert_non_null(d);
	FIELD(s, d, "user", "alice.anders@contoso.com");
	FIELD(s, json_object_get(d, "ids"), "serial", "F2LXK1ABCD12");
	FIELD(s, json_object_get(d, "ids"), "intune", ALICE);
	OUT_HAS(s, "{\"history\":{\"seq\":");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(graph_devices, setup, teardown),
		cmocka_unit_test_setup_teardown(graph_reports_land, setup, teardown),
		cmocka_unit_test_setup_teardown(csv_devices, setup, teardown),
		cmocka_unit_test_setup_teardown(graph_apps, setup, teardown),
		cmocka_unit_test_setup_teardown(remove_erases, setup, teardown),
		cmocka_unit_test_setup_teardown(replace_all, setup, teardown),
		cmocka_unit_test_setup_teardown(list_show, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
