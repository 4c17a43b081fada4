/* Scenarios: device identity (ids, device_ref, learning the vendor's own
 * id), parking (nothing dropped: parked, listed, applied when it resolves,
 * expired), and the threat lifecycle (threat_event in at order on top of
 * the latest snapshot), through the mtdgate binary (SPEC 4.1, 4.2
 * extensions). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "harness.h"

/* The standard fleet's first devices with identifiers. */
#define ID_FLEET                                                                                   \
	"{\"id\":\"ios-alice\",\"platform\":\"ios\",\"ownership\":\"corporate\",\"management\":\"enrolled\"," \
	"\"user\":\"alice@example.com\",\"ids\":{\"serial\":\"S-ALICE\",\"intune\":\"in-alice\",\"udid\":null}}\n" \
	"{\"id\":\"ios-bob\",\"platform\":\"ios\",\"ownership\":\"corporate\",\"management\":\"enrolled\","   \
	"\"user\":\"bob@example.com\",\"ids\":{\"serial\":\"S-BOB\",\"imei\":\"35-BOB\",\"meid\":\"\"}}\n"    \
	"{\"id\":\"ios-bob2\",\"platform\":\"ios\",\"ownership\":\"corporate\",\"management\":\"enrolled\","  \
	"\"user\":\"bob@example.com\"}\n"                                                                      \
	"{\"id\":\"and-bob\",\"platform\":\"android\",\"ownership\":\"corporate\",\"management\":\"enrolled\"," \
	"\"user\":\"bob@example.com\"}\n"

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

/* A threat_event line: who is the "device" or "device_ref" member; level
 * NULL leaves category and level out (a resolve). Owned by s. */
static const char *event(scen *s, const char *who, const char *id, const char *level,
			 const char *state, const char *at)
{
	char *t = malloc(1024);
	if (!t)
		fail_msg("out of memory");
	if (level)
		snprintf(t, 1024, "{\"type\":\"threat_event\",%s,\"threat\":{\"id\":\"%s\",\"category\":"
				  "\"app\",\"name\":\"Threat %s\",\"level\":\"%s\"},\"state\":\"%s\","
				  "\"at\":\"%s\"}\n",
			 who, id, id, level, state, at);
	else
		snprintf(t, 1024, "{\"type\":\"threat_event\",%s,\"threat\":{\"id\":\"%s\"},"
				  "\"state\":\"%s\",\"at\":\"%s\"}\n",
			 who, id, state, at);
	return scen_own(s, t);
}

/* The text of the concatenated lines a, b, ... (NULL-terminated), owned by s. */
static const char *lines(scen *s, ...)
{
	va_list ap;
	size_t n = 0;
	char *t;
	const char *l;
	va_start(ap, s);
	while ((l = va_arg(ap, const char *)))
		n += strlen(l);
	va_end(ap);
	t = scen_own(s, calloc(1, n + 1));
	va_start(ap, s);
	while ((l = va_arg(ap, const char *)))
		strcat(t, l);
	va_end(ap);
	return t;
}

/* The fleet with ids, generic in force; now is day 1, so that the
 * messages of day 0 are not from the future (R13). */
static void setup_ids(scen *s)
{
	SETUP(s, ID_FLEET);
	RUN(s, 0, "connector", "set", "generic", "ios=on", "android=on");
	scen_day(s, 1, 0);
}

static const char *level_of(scen *s, const char *dev)
{
	json_t *v = json_object_get(REPORT(s, dev), "vendors");
	return jstr(v, "generic");
}

#define GUID "\"device_ref\":{\"vendor_device_id\":\"guid-7\"}"

/* An event naming only the vendor's device id is parked until a message
 * carrying that id with an identifier that resolves teaches it; then it is
 * applied, and later events naming only the vendor id resolve at once. */
static void identity_learning(void **state)
{
	scen *s = *state;
	json_t *p;
	setup_ids(s);

	/* before: nobody knows guid-7 */
	INGEST(s, event(s, GUID, "t1", "high", "open", "2024-03-01T01:00:00Z"));
	OUT_HAS(s, "1 records, 0 accepted, 0 rejected, 0 malformed, 1 parked");
	ERR_HAS(s, "parked: no device has its vendor_device_id 'guid-7'");
	RUN(s, 0, "parked", "--json");
	p = scen_ownj(s, json_loads(s->out, 0, NULL));
	assert_non_null(p);
	FIELD(s, p, "vendor", "generic");
	FIELD(s, json_object_get(p, "message"), "type", "threat_event");
	FIELD(s, json_object_get(json_object_get(p, "message"), "device_ref"), "vendor_device_id",
	      "guid-7");
	assert_int_equal(json_integer_value(json_object_get(p, "received")), SCEN_T0 + SCEN_DAY);

	/* the message that teaches it: guid-7 with alice's serial (a snapshot) */
	scen_day(s, 1, 7200);
	INGEST(s, "{\"type\":\"threat\",\"device_ref\":{\"vendor_device_id\":\"guid-7\","
		  "\"serial\":\"S-ALICE\"},\"level\":\"low\",\"at\":\"2024-03-01T00:30:00Z\"}\n");
	OUT_HAS(s, "1 accepted, 0 rejected, 0 malformed, 0 parked, 1 parked before now applied");
	RUN(s, 0, "parked");
	assert_string_equal(s->out, "");
	RUN(s, 0, "audit", "show", "--kind", "id_learned", "--json");
	OUT_HAS(s, "\"device\":\"ios-alice\"");
	OUT_HAS(s, "\"kind\":\"vendor:generic\",\"value\":\"guid-7\",\"from\":\"serial\"");
	RUN(s, 0, "audit", "show", "--kind", "unparked", "--json");
	OUT_HAS(s, "\"via\":\"vendor_device_id\"");
	/* the message log says how each message named its device */
	RUN(s, 0, "audit", "show", "--device", "ios-alice", "--kind", "message", "--json");
	OUT_HAS(s, "\"type\":\"threat\",\"at\":1709253000,\"level\":\"low\",\"via\":\"serial\"");
	OUT_HAS(s, "\"type\":\"threat_event\",\"at\":1709254800,\"level\":\"high\","
		   "\"via\":\"vendor_device_id\"");

	/* the snapshot (low) at 00:30 and the open threat of 01:00: high */
	RUN(s, 0, "evaluate");
	assert_string_equal(level_of(s, "ios-alice"), "high");
	FIELD(s, REPORT(s, "ios-alice"), "state", "noncompliant");
	assert_true(has_reason(REPORT(s, "ios-alice"), "generic reports high: threat 'Threat t1'",
			       NULL));

	/* after: guid-7 alone names alice */
	INGEST(s, event(s, GUID, "t1", NULL, "resolved", "2024-03-01T02:00:00Z"));
	OUT_HAS(s, "1 accepted, 0 rejected, 0 malformed, 0 parked");
	RUN(s, 0, "evaluate");
	assert_string_equal(level_of(s, "ios-alice"), "low");
	FIELD(s, REPORT(s, "ios-alice"), "state", "compliant");
	/* learned once: the same pair again teaches nothing new */
	INGEST(s, "{\"type\":\"threat\",\"device_ref\":{\"vendor_device_id\":\"guid-7\","
		  "\"serial\":\"S-ALICE\"},\"level\":\"low\",\"at\":\"2024-03-01T03:00:00Z\"}\n");
	RUN(s, 0, "audit", "show", "--kind", "id_learned");
	assert_non_null(strstr(s->out, "guid-7"));
	assert_null(strstr(strstr(s->out, "guid-7") + 1, "guid-7"));
	RUN(s, 0, "audit", "verify");
}

/* A report for a device not imported yet is parked, listed, and applied
 * when the import brings the device, by id or by an identifier. */
static void parking_until_import(void **state)
{
	scen *s = *state;
	setup_ids(s);
	INGEST(s, lines(s, THREAT("ios-new", "high", "\"2024-03-01T01:00:00Z\""),
			"{\"type\":\"threat\",\"device_ref\":{\"udid\":\"U-NEW2\",\"wifi_mac\":"
			"\"aa:bb\"},\"level\":\"medium\",\"at\":\"2024-03-01T01:00:00Z\"}\n",
			THREAT("ios-alice", "low", "\"2024-03-01T01:00:00Z\""), (const char *)NULL));
	OUT_HAS(s, "3 records, 1 accepted, 0 rejected, 0 malformed, 2 parked");
	ERR_HAS(s, "line 1: parked: unknown device 'ios-new'");
	ERR_HAS(s, "line 2: parked: no device has its udid 'U-NEW2' wifi_mac 'aa:bb'");
	RUN(s, 0, "parked");
	OUT_HAS(s, "unknown device 'ios-new'");
	OUT_HAS(s, "\"device\":\"ios-new\"");
	RUN(s, 0, "audit", "show", "--kind", "parked", "--json");
	OUT_HAS(s, "\"reason\":\"unknown device 'ios-new'\"");

	/* an import that brings neither changes nothing */
	RUN(s, 0, "device", "import",
	    scen_writes(s, "d1.jsonl", "{\"id\":\"ios-other\",\"platform\":\"ios\",\"ownership\":"
				       "\"corporate\",\"management\":\"enrolled\"}\n"));
	OUT_HAS(s, "1 imported, 0 malformed\n");
	/* the import of both: each parked message applied, in the order received */
	scen_day(s, 2, 0);
	RUN(s, 0, "device", "import",
	    scen_writes(s, "d2.jsonl",
			"{\"id\":\"ios-new\",\"platform\":\"ios\",\"ownership\":\"corporate\","
			"\"management\":\"enrolled\"}\n"
			"{\"id\":\"ios-new2\",\"platform\":\"ios\",\"ownership\":\"corporate\","
			"\"management\":\"enrolled\",\"ids\":{\"wifi_mac\":\"aa:bb\"}}\n"));
	OUT_HAS(s, "2 imported, 0 malformed, 2 parked before now applied");
	RUN(s, 0, "parked");
	assert_string_equal(s->out, "");
	RUN(s, 0, "evaluate");
	assert_string_equal(level_of(s, "ios-new"), "high");
	assert_string_equal(level_of(s, "ios-new2"), "medium");
	RUN(s, 0, "audit", "show", "--kind", "unparked", "--json");
	OUT_HAS(s, "\"device\":\"ios-new\"");
	OUT_HAS(s, "\"via\":\"wifi_mac\"");
	RUN(s, 0, "audit", "verify");
}

/* Parked messages expire after the connector's parked_days, audited. */
static void parking_expiry(void **state)
{
	scen *s = *state;
	setup_ids(s);
	RUN(s, 0, "connector", "set", "generic", "parked_days=2");
	assert_int_equal(json_integer_value(json_object_get(CONNECTOR(s, "generic"), "parked_days")),
			 2);
	INGEST(s, THREAT("ios-ghost", "high", "\"2024-03-01T01:00:00Z\""));
	OUT_HAS(s, "1 parked");
	scen_day(s, 3, 0); /* two days later: not yet older than two days */
	INGEST(s, "{\"type\":\"heartbeat\",\"at\":\"2024-03-04T00:00:00Z\"}\n");
	RUN(s, 0, "parked");
	OUT_HAS(s, "ios-ghost");
	scen_day(s, 3, 1);
	INGEST(s, "{\"type\":\"heartbeat\",\"at\":\"2024-03-04T00:00:01Z\"}\n");
	RUN(s, 0, "parked");
	assert_string_equal(s->out, "");
	RUN(s, 0, "audit", "show", "--kind", "parked_expired", "--json");
	OUT_HAS(s, "\"reason\":\"unknown device 'ios-ghost'\"");
	OUT_HAS(s, "\"device\":\"ios-ghost\"");
	/* the device arriving now finds nothing to apply */
	RUN(s, 0, "device", "import",
	    scen_writes(s, "g.jsonl", "{\"id\":\"ios-ghost\",\"platform\":\"ios\",\"ownership\":"
				      "\"corporate\",\"management\":\"enrolled\"}\n"));
	OUT_HAS(s, "1 imported, 0 malformed\n");
	RUN(s, 0, "audit", "verify");
}

/* Identifiers of different devices are not guessed between: parked. A
 * user names a device only when it has exactly one on the platform. The
 * strongest identifier names the device; mdm is a device id or Intune's. */
static void resolution_order(void **state)
{
	scen *s = *state;
	setup_ids(s);
	INGEST(s, "{\"type\":\"threat\",\"device_ref\":{\"serial\":\"S-ALICE\",\"imei\":\"35-BOB\"},"
		  "\"level\":\"high\",\"at\":1709254800}\n"
		  "{\"type\":\"threat\",\"device_ref\":{\"user\":\"bob@example.com\",\"platform\":\"ios\"},"
		  "\"level\":\"high\",\"at\":1709254800}\n"
		  "{\"type\":\"threat\",\"device_ref\":{\"user\":\"bob@example.com\",\"platform\":\"android\"},"
		  "\"level\":\"medium\",\"at\":1709254800}\n"
		  "{\"type\":\"threat\",\"device_ref\":{\"mdm\":\"in-alice\",\"user\":\"nobody@example.com\","
		  "\"platform\":\"ios\"},\"level\":\"low\",\"at\":1709254800}\n"
		  "{\"type\":\"threat\",\"device_ref\":{\"mdm\":\"ios-bob2\"},\"level\":\"medium\","
		  "\"at\":1709254800}\n");
	OUT_HAS(s, "5 records, 3 accepted, 0 rejected, 0 malformed, 2 parked");
	ERR_HAS(s, "line 1: parked: ambiguous: serial 'S-ALICE' and imei '35-BOB' name different devices");
	ERR_HAS(s, "line 2: parked: no device has its user 'bob@example.com' (the user has several ios devices)");
	RUN(s, 0, "evaluate");
	assert_string_equal(level_of(s, "and-bob"), "medium");
	assert_string_equal(level_of(s, "ios-alice"), "low");
	assert_string_equal(level_of(s, "ios-bob2"), "medium");
	assert_string_equal(level_of(s, "ios-bob"), "<missing>");
	/* a device_ref that the codec refuses is malformed, with its position */
	scen_ingest_(s, 65, "{\"type\":\"threat\",\"device_ref\":{\"color\":\"red\"},\"level\":\"low\","
			    "\"at\":1709254800}\n", __FILE__, __LINE__);
	ERR_HAS(s, "line 1: field 'device_ref': unknown identifier kind 'color'");
}

/* One identifier value names one device: a second claim is refused with
 * the record's position; a re-import of the same device keeps its own. */
static void import_conflicts(void **state)
{
	scen *s = *state;
	setup_ids(s);
	RUN(s, 65, "device", "import",
	    scen_writes(s, "c.jsonl",
			"{\"id\":\"ios-alice\",\"platform\":\"ios\",\"ownership\":\"corporate\","
			"\"management\":\"enrolled\",\"ids\":{\"serial\":\"S-ALICE\"}}\n"
			"{\"id\":\"ios-carl\",\"platform\":\"ios\",\"ownership\":\"corporate\","
			"\"management\":\"enrolled\",\"ids\":{\"serial\":\"S-BOB\"}}\n"
			"{\"id\":\"ios-dan\",\"platform\":\"ios\",\"ownership\":\"corporate\","
			"\"management\":\"enrolled\",\"ids\":{\"udid\":\"U-DAN\"}}\n"
			"{\"id\":\"ios-eve\",\"platform\":\"ios\",\"ownership\":\"corporate\","
			"\"management\":\"enrolled\",\"ids\":{\"udid\":\"U-DAN\"}}\n"
			"{\"id\":\"ios-fay\",\"platform\":\"ios\",\"ownership\":\"corporate\","
			"\"management\":\"enrolled\",\"ids\":{\"colour\":\"red\"}}\n"));
	OUT_HAS(s, "5 records, 2 imported, 3 malformed");
	ERR_HAS(s, "c.jsonl line 2: field 'ids.serial': 'S-BOB' is already an identifier of device 'ios-bob'");
	ERR_HAS(s, "c.jsonl line 4: field 'ids.udid': 'U-DAN' is already an identifier of device 'ios-dan'");
	ERR_HAS(s, "c.jsonl line 5: field 'ids': 'colour' is not an identifier kind");
	/* the refused record changed nothing: S-BOB still names bob */
	INGEST(s, "{\"type\":\"threat\",\"device_ref\":{\"serial\":\"S-BOB\"},\"level\":\"high\","
		  "\"at\":1709254800}\n");
	RUN(s, 0, "evaluate");
	assert_string_equal(level_of(s, "ios-bob"), "high");
	/* an identifier given again replaces the kind's old value */
	RUN(s, 0, "device", "import",
	    scen_writes(s, "r.jsonl", "{\"id\":\"ios-bob\",\"platform\":\"ios\",\"ownership\":"
				      "\"corporate\",\"management\":\"enrolled\",\"ids\":{\"serial\":"
				      "\"S-BOB-NEW\"}}\n"));
	INGEST(s, "{\"type\":\"threat\",\"device_ref\":{\"serial\":\"S-BOB\"},\"level\":\"low\","
		  "\"at\":1709258400}\n");
	OUT_HAS(s, "1 parked");
}

#define ALICE "\"device\":\"ios-alice\""

/* Events apply in at order whatever order they arrive: a resolve that
 * arrives before its open stays resolved when it is later; an event older
 * than the latest snapshot is part of it. */
static void lifecycle_order(void **state)
{
	scen *s = *state;
	setup_ids(s);
	/* the resolve of 02:00 first, then the open of 01:00 */
	INGEST(s, lines(s, event(s, ALICE, "t1", NULL, "resolved", "2024-03-01T02:00:00Z"),
			event(s, ALICE, "t1", "high", "open", "2024-03-01T01:00:00Z"),
			(const char *)NULL));
	OUT_HAS(s, "2 accepted");
	RUN(s, 0, "evaluate");
	/* every threat resolved, no snapshot: secured */
	assert_string_equal(level_of(s, "ios-alice"), "secured");
	/* an open of 03:00 after a resolve of 02:30 arriving later: open */
	INGEST(s, lines(s, event(s, ALICE, "t2", "medium", "open", "2024-03-01T03:00:00Z"),
			event(s, ALICE, "t2", NULL, "resolved", "2024-03-01T02:30:00Z"),
			(const char *)NULL));
	RUN(s, 0, "evaluate");
	assert_string_equal(level_of(s, "ios-alice"), "medium");
	/* a snapshot of 04:00 (low, no threats) replaces the open set */
	INGEST(s, "{\"type\":\"threat\",\"device\":\"ios-alice\",\"level\":\"low\","
		  "\"at\":\"2024-03-01T04:00:00Z\",\"threats\":[]}\n");
	RUN(s, 0, "evaluate");
	assert_string_equal(level_of(s, "ios-alice"), "low");
	/* an event older than it is part of it: no change */
	INGEST(s, event(s, ALICE, "t3", "high", "open", "2024-03-01T03:30:00Z"));
	OUT_HAS(s, "1 accepted");
	RUN(s, 0, "evaluate");
	assert_string_equal(level_of(s, "ios-alice"), "low");
	/* a later one adds to it, and its resolve takes the level back */
	INGEST(s, event(s, ALICE, "t3", "high", "open", "2024-03-01T05:00:00Z"));
	RUN(s, 0, "evaluate");
	assert_string_equal(level_of(s, "ios-alice"), "high");
	/* an older snapshot arriving late changes nothing */
	INGEST(s, "{\"type\":\"threat\",\"device\":\"ios-alice\",\"level\":\"secured\","
		  "\"at\":\"2024-03-01T03:50:00Z\"}\n");
	RUN(s, 0, "evaluate");
	assert_string_equal(level_of(s, "ios-alice"), "high");
	INGEST(s, event(s, ALICE, "t3", NULL, "resolved", "2024-03-01T06:00:00Z"));
	RUN(s, 0, "evaluate");
	assert_string_equal(level_of(s, "ios-alice"), "low");
	/* a newer snapshot: the pair is a plain snapshot again */
	INGEST(s, "{\"type\":\"threat\",\"device\":\"ios-alice\",\"level\":\"medium\","
		  "\"at\":\"2024-03-01T07:00:00Z\"}\n");
	assert_int_equal(scen_q_int(s, "SELECT count(*) FROM threat_events"), 0);
	assert_int_equal(scen_q_int(s, "SELECT nevents FROM reports r JOIN devices d"
				       " ON d.id = r.device WHERE d.ext_id = 'ios-alice'"), 0);
	RUN(s, 0, "evaluate");
	assert_string_equal(level_of(s, "ios-alice"), "medium");
	RUN(s, 0, "audit", "verify");
}

/* A device with a CRITICAL and an ELEVATED open threat (normalized: high
 * and medium) is high until the high one is resolved, then medium; the
 * reason names the threat that sets the level. */
static void two_open_threats(void **state)
{
	scen *s = *state;
	json_t *r;
	setup_ids(s);
	INGEST(s, lines(s, event(s, ALICE, "crit", "high", "open", "2024-03-01T01:00:00Z"),
			event(s, ALICE, "elev", "medium", "open", "2024-03-01T01:05:00Z"),
			(const char *)NULL));
	RUN(s, 0, "evaluate");
	r = REPORT(s, "ios-alice");
	assert_string_equal(level_of(s, "ios-alice"), "high");
	FIELD(s, r, "state", "noncompliant");
	FIELD(s, r, "access", "block");
	assert_true(has_reason(r, "generic reports high: threat 'Threat crit' (crit, app) open since "
				  "2024-03-01T01:00:00Z", "allows at most medium", NULL));

	INGEST(s, event(s, ALICE, "crit", NULL, "resolved", "2024-03-01T02:00:00Z"));
	RUN(s, 0, "evaluate");
	r = REPORT(s, "ios-alice");
	assert_string_equal(level_of(s, "ios-alice"), "medium");
	FIELD(s, r, "state", "compliant");
	FIELD(s, r, "access", "allow");
	assert_true(has_reason(r, "generic reports medium: threat 'Threat elev'", NULL));

	INGEST(s, event(s, ALICE, "elev", NULL, "resolved", "2024-03-01T03:00:00Z"));
	RUN(s, 0, "evaluate");
	assert_string_equal(level_of(s, "ios-alice"), "secured");
	/* the rules see each vendor's open threats */
	INGEST(s, event(s, ALICE, "again", "low", "open", "2024-03-01T04:00:00Z"));
	RUN(s, 0, "rules", "check");
	snprintf(s->rules, sizeof s->rules, "%s",
		 scen_rules_copy(s, "r", "  for _, v in ipairs(device.vendors) do\n"
					       "    for _, t in ipairs(v.threats or {}) do\n"
					       "      if t.id == 'again' and t.since == 1709265600 and\n"
					       "         t.level == 'low' and t.category == 'app' then\n"
					       "        return 'noncompliant', 'high', { 'seen ' .. t.name }\n"
					       "      end\n"
					       "    end\n"
					       "  end\n",
				 NULL));
	RUN(s, 0, "evaluate", "--dry-run");
	OUT_HAS(s, "seen Threat again");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(identity_learning, setup, teardown),
		cmocka_unit_test_setup_teardown(parking_until_import, setup, teardown),
		cmocka_unit_test_setup_teardown(parking_expiry, setup, teardown),
		cmocka_unit_test_setup_teardown(resolution_order, setup, teardown),
		cmocka_unit_test_setup_teardown(import_conflicts, setup, teardown),
		cmocka_unit_test_setup_teardown(lifecycle_order, setup, teardown),
		cmocka_unit_test_setup_teardown(two_open_threats, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
