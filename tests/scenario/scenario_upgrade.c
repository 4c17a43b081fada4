/* Scenarios for upgrades: a store written by the previous release (schema
 * version 3: decisions held their texts inline, every message and decision
 * was a record of the hash-chained audit table) is opened by this mtdgate,
 * which migrates it to version 4 (interned outcomes, sealed block logs) and
 * on. And a store of version 5, whose log blocks have the first layout.
 * Nothing an administrator relied on may change on the way: the report,
 * the grace period that was running, the wipe that was issued, the audit
 * history and its chain. */
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
#include "store.h" /* MTD_SCHEMA_VERSION: every old store is migrated to the latest */

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

/* The schema of version 3: the first three strings of migrations[] in
 * core/store.c, exactly (only ever appended to, so they are what a version
 * 3 store was made of). A copy on purpose, not a reference: it is the
 * released format, so an edit of an old migration fails this test. */
static const char *const v3_schema =
	/* 0 -> 1 */
	"CREATE TABLE meta(key TEXT PRIMARY KEY, value TEXT NOT NULL) WITHOUT ROWID;"
	"CREATE TABLE groups(id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE);"
	"CREATE TABLE groupsets(id INTEGER PRIMARY KEY, key TEXT NOT NULL UNIQUE);"
	"CREATE TABLE groupset_members(groupset INTEGER NOT NULL REFERENCES groupsets(id),"
	" grp INTEGER NOT NULL REFERENCES groups(id), PRIMARY KEY(groupset, grp)) WITHOUT ROWID;"
	"CREATE TABLE devices(id INTEGER PRIMARY KEY, ext_id TEXT NOT NULL UNIQUE,"
	" platform INTEGER NOT NULL, os_version TEXT, corporate INTEGER NOT NULL,"
	" enrolled INTEGER NOT NULL, user TEXT,"
	" groupset INTEGER NOT NULL REFERENCES groupsets(id), updated_at INTEGER NOT NULL);"
	"CREATE TABLE connectors(id INTEGER PRIMARY KEY, vendor TEXT NOT NULL UNIQUE,"
	" state TEXT NOT NULL, provisioned INTEGER NOT NULL DEFAULT 0,"
	" removed INTEGER NOT NULL DEFAULT 0, error_code TEXT, last_contact INTEGER,"
	" added_at INTEGER NOT NULL, platforms INTEGER NOT NULL DEFAULT 0,"
	" mam_platforms INTEGER NOT NULL DEFAULT 0, appsync_ios INTEGER NOT NULL DEFAULT 0,"
	" appsync_personal_ios INTEGER NOT NULL DEFAULT 0,"
	" block_unsupported_os INTEGER NOT NULL DEFAULT 0,"
	" block_missing_data INTEGER NOT NULL DEFAULT 0,"
	" unresponsive_days INTEGER NOT NULL DEFAULT 7, rejected INTEGER NOT NULL DEFAULT 0);"
	"CREATE TABLE reports(device INTEGER NOT NULL REFERENCES devices(id),"
	" connector INTEGER NOT NULL REFERENCES connectors(id), level INTEGER NOT NULL,"
	" at INTEGER NOT NULL, received INTEGER NOT NULL, os_supported INTEGER,"
	" threats BLOB, PRIMARY KEY(device, connector)) WITHOUT ROWID;"
	"CREATE TABLE apps(device INTEGER NOT NULL REFERENCES devices(id),"
	" app_id TEXT NOT NULL, version TEXT, short_version TEXT, name TEXT,"
	" bundle_size INTEGER, dynamic_size INTEGER, adhoc_signed INTEGER,"
	" app_store INTEGER, beta INTEGER, vpp INTEGER, validated INTEGER,"
	" managed INTEGER, PRIMARY KEY(device, app_id)) WITHOUT ROWID;"
	"CREATE INDEX apps_by_app ON apps(app_id);"
	"CREATE TABLE decisions(device INTEGER PRIMARY KEY REFERENCES devices(id),"
	" state INTEGER NOT NULL, level INTEGER NOT NULL, access INTEGER NOT NULL,"
	" app_action INTEGER NOT NULL, vendors TEXT NOT NULL, reasons TEXT NOT NULL,"
	" digest INTEGER NOT NULL, evaluated_at INTEGER NOT NULL, since INTEGER NOT NULL,"
	" wiped_at INTEGER);"
	"CREATE TABLE audit(seq INTEGER PRIMARY KEY, at INTEGER NOT NULL,"
	" kind TEXT NOT NULL, vendor TEXT, device TEXT, detail TEXT NOT NULL);"
	"CREATE INDEX audit_by_device ON audit(device) WHERE device IS NOT NULL;"
	"CREATE TRIGGER audit_no_update BEFORE UPDATE ON audit"
	" BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;"
	"CREATE TRIGGER audit_no_delete BEFORE DELETE ON audit"
	" BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;"
	/* 1 -> 2 */
	"ALTER TABLE decisions ADD COLUMN resources TEXT NOT NULL DEFAULT '[\"exchange\",\"sharepoint\"]';"
	/* 2 -> 3 */
	"ALTER TABLE audit ADD COLUMN hash BLOB;"
	"PRAGMA user_version = 3;";

/* What the release of schema version 3 (git 73910ec) wrote for this story,
 * with the grace and wipe rules of UPGRADE_GROUPS:
 *   day 0 00:00  init; import ios-grace, and-wipe (personal, unenrolled
 *                Android), ios-ok; add generic, provision it, switch on
 *                ios, android and mam_android; and-wipe reports high,
 *                ios-ok low; evaluate: and-wipe's apps are wiped
 *   day 1 12:00  ios-grace reports high; evaluate: ios-grace falls into
 *                its 48-hour grace period (until day 3 12:00)
 * Its audit hashes are that release's chain, so 'audit verify' checks that
 * the chain of an old store still holds after the migration. */
static const char *const v3_state =
	"INSERT INTO meta VALUES('cloud','commercial');"
	"INSERT INTO groupsets VALUES(1,'');"
	"INSERT INTO devices VALUES(1,'ios-grace',1,'17.4',1,1,'a@example.com',1,1709251200);"
	"INSERT INTO devices VALUES(2,'and-wipe',0,'14',0,0,'c@example.com',1,1709251200);"
	"INSERT INTO devices VALUES(3,'ios-ok',1,'17.4',1,1,'b@example.com',1,1709251200);"
	"INSERT INTO connectors VALUES(1,'generic','enabled',1,0,NULL,1709380800,1709251200,3,1,0,0,"
	"0,0,7,0);"
	"INSERT INTO reports VALUES(1,1,4,1709380800,1709380800,NULL,NULL);"
	"INSERT INTO reports VALUES(2,1,4,1709251200,1709251200,NULL,NULL);"
	"INSERT INTO reports VALUES(3,1,2,1709251200,1709251200,NULL,NULL);"
	"INSERT INTO decisions(device, state, level, access, app_action, vendors, reasons, digest,"
	" evaluated_at, since, wiped_at, resources) VALUES"
	"(1,2,4,0,0,'{\"generic\":\"high\"}','[\"generic reports high; group default allows at most"
	" medium\",\"in grace period until 2024-03-04T12:00:00Z (group default gives 48 hours)\"]',"
	"551990313187122506,1709380800,1709380800,NULL,'[\"exchange\",\"sharepoint\"]'),"
	"(2,3,4,1,3,'{\"generic\":\"high\"}','[\"not enrolled: compliance does not apply; app"
	" protection governs its apps\",\"apps: generic reports high; group default allows at most"
	" low, action wipe\"]',9015725404289419665,1709251200,1709251200,1709251200,"
	"'[\"exchange\",\"sharepoint\"]'),"
	"(3,0,2,0,0,'{\"generic\":\"low\"}','[\"generic reports low; group default allows at most"
	" medium\"]',2010307955363583602,1709251200,1709251200,NULL,'[\"exchange\",\"sharepoint\"]');"
	"INSERT INTO audit VALUES"
	"(1,1709251200,'init',NULL,NULL,'{\"cloud\":\"commercial\"}',"
	"X'388d83428e56b6f613bf98892b5eae918478077899e14c9dec8a03a6358abb64'),"
	"(2,1709251200,'import',NULL,NULL,'{\"source\":\"devices\",\"records\":3,\"accepted\":3,"
	"\"malformed\":0}',X'fd8446c4a31ee3b5c43ff2aa46b853ec14fab83d321a1d2d3078da64d75126a2'),"
	"(3,1709251200,'connector_add','generic',NULL,'{\"state\":\"not_set_up\"}',"
	"X'ec3ce5415bc3aea12715160744356d22ee6e3821069369b02d84e90c11d5ef0c'),"
	"(4,1709251200,'message','generic',NULL,'{\"type\":\"provision\",\"at\":1709251200}',"
	"X'6b0bdd3c456cab94113856f6077c193aad6b725a9985c468856e70f6b35cde65'),"
	"(5,1709251200,'connector_state','generic',NULL,'{\"from\":\"not_set_up\",\"to\":"
	"\"available\"}',X'29e46f69ffccb2662a1e3a985a8b958de284664d9bc17da421590666a3f12c4f'),"
	"(6,1709251200,'connector_set','generic',NULL,'{\"android\":\"on\",\"ios\":\"on\","
	"\"mam_android\":\"on\"}',X'959dd63b8dfb02bdfe12463eba02498318396953a54c6709d64b85974afd15ff'),"
	"(7,1709251200,'connector_state','generic',NULL,'{\"from\":\"available\",\"to\":\"enabled\"}',"
	"X'91f99580218586bde8508c87356e8da094bb026535872e57b5d19f8b4c1999f0'),"
	"(8,1709251200,'message','generic','and-wipe','{\"type\":\"threat\",\"at\":1709251200,"
	"\"level\":\"high\"}',X'93e37eb9321bce68cd3218de8e83f8940d7b7c37e4964f926af5276d58f48a1f'),"
	"(9,1709251200,'message','generic','ios-ok','{\"type\":\"threat\",\"at\":1709251200,"
	"\"level\":\"low\"}',X'7cf46af81424e72842361743ed9f9f8368382878fccc177a3a6e6fd072a10ae0'),"
	"(10,1709251200,'decision',NULL,'ios-grace','{\"from\":{\"state\":\"not_evaluated\","
	"\"access\":\"block\",\"app_protection\":\"none\"},\"to\":{\"state\":\"compliant\","
	"\"level\":\"none\",\"access\":\"allow\",\"app_protection\":\"none\"},\"reasons\":"
	"[\"generic has not reported this device yet\"]}',"
	"X'12030b1eb26cca72e314962831fc176d369aa961436eab1618e55c43592e5930'),"
	"(11,1709251200,'decision',NULL,'and-wipe','{\"from\":{\"state\":\"not_evaluated\","
	"\"access\":\"block\",\"app_protection\":\"none\"},\"to\":{\"state\":\"not_evaluated\","
	"\"level\":\"high\",\"access\":\"block\",\"app_protection\":\"wipe\"},\"reasons\":"
	"[\"not enrolled: compliance does not apply; app protection governs its apps\",\"apps:"
	" generic reports high; group default allows at most low, action wipe\"]}',"
	"X'59a887e11dd5be46c510a39f19d5207e4e2deb32a75146aeec1c90b6d694bf4a'),"
	"(12,1709251200,'app_wipe',NULL,'and-wipe','{\"action\":\"selective wipe of corporate data"
	" issued\"}',X'076948683167cf76687175cab32e1d3df3f99a9396f391a361c82014779e55ed'),"
	"(13,1709251200,'decision',NULL,'ios-ok','{\"from\":{\"state\":\"not_evaluated\","
	"\"access\":\"block\",\"app_protection\":\"none\"},\"to\":{\"state\":\"compliant\","
	"\"level\":\"low\",\"access\":\"allow\",\"app_protection\":\"none\"},\"reasons\":"
	"[\"generic reports low; group default allows at most medium\"]}',"
	"X'd223a7f7a59d04904c514227a1ebc3e9462b0b47e428e0e1e1fc0b17c9bd1c00'),"
	"(14,1709251200,'evaluate',NULL,NULL,'{\"evaluated\":3,\"changed\":3}',"
	"X'9ed6096001ad0413abc35fcd2c0d0c256c95341e55efd428298eac0d9299bdbc'),"
	"(15,1709380800,'message','generic','ios-grace','{\"type\":\"threat\",\"at\":1709380800,"
	"\"level\":\"high\"}',X'0ecf9e18d4b855450b6d32eefc565de3bda8d594cc7f732c41b339817d96a42f'),"
	"(16,1709380800,'decision',NULL,'ios-grace','{\"from\":{\"state\":\"compliant\","
	"\"access\":\"allow\",\"app_protection\":\"none\"},\"to\":{\"state\":\"in_grace_period\","
	"\"level\":\"high\",\"access\":\"allow\",\"app_protection\":\"none\"},\"reasons\":"
	"[\"generic reports high; group default allows at most medium\",\"in grace period until"
	" 2024-03-04T12:00:00Z (group default gives 48 hours)\"]}',"
	"X'b8ab9358d6a9a84995347d9372acced1324ec74138d1b26d55afc7634d4eae05'),"
	"(17,1709380800,'evaluate',NULL,NULL,'{\"evaluated\":3,\"changed\":1}',"
	"X'eeadddaf95cb4f7275fcca3ef9624dae5e1c14e98a0dbe893979f7d0c3d8f8cb');";

#define UPGRADE_GROUPS                                                                           \
	"return {\n"                                                                               \
	"  default = { max_level = \"medium\", app_max_level = \"low\", app_action = \"wipe\","      \
	" grace_hours = 48 },\n"                                                                    \
	"}\n"

/* `report --json` of the version 3 release at day 1 12:00 (the fields the
 * spec names), one device per line in report order. */
static const char *const v3_report[] = {
	"{\"device\":\"and-wipe\",\"platform\":\"android\",\"management\":\"unenrolled\","
	"\"state\":\"not_evaluated\",\"level\":\"high\",\"vendors\":{\"generic\":\"high\"},"
	"\"access\":\"block\",\"app_protection\":\"wipe\",\"reasons\":[\"not enrolled: compliance"
	" does not apply; app protection governs its apps\",\"apps: generic reports high; group"
	" default allows at most low, action wipe\"]}",
	"{\"device\":\"ios-grace\",\"platform\":\"ios\",\"management\":\"enrolled\","
	"\"state\":\"in_grace_period\",\"level\":\"high\",\"vendors\":{\"generic\":\"high\"},"
	"\"access\":\"allow\",\"app_protection\":\"none\",\"reasons\":[\"generic reports high;"
	" group default allows at most medium\",\"in grace period until 2024-03-04T12:00:00Z (group"
	" default gives 48 hours)\"]}",
	"{\"device\":\"ios-ok\",\"platform\":\"ios\",\"management\":\"enrolled\","
	"\"state\":\"compliant\",\"level\":\"low\",\"vendors\":{\"generic\":\"low\"},"
	"\"access\":\"allow\",\"app_protection\":\"none\",\"reasons\":[\"generic reports low;"
	" group default allows at most medium\"]}",
};

static void exec_sql(const char *path, const char *sql)
{
	sqlite3 *db = NULL;
	char *err = NULL, msg[512] = "";
	if (sqlite3_open(path, &db) != SQLITE_OK ||
	    sqlite3_exec(db, sql, NULL, NULL, &err) != SQLITE_OK)
		snprintf(msg, sizeof msg, "%s", err ? err : sqlite3_errmsg(db));
	sqlite3_free(err);
	sqlite3_close(db);
	chmod(path, 0600); /* as mtdgate made its stores then too */
	if (msg[0])
		fail_msg("building the version 3 store: %s", msg);
}


/* The report of every device equals the version 3 one in the fields the
 * spec names. */
static void report_is_v3(scen *s, int line)
{
	const char *keys[] = {"device", "platform", "management", "state", "level",
			      "vendors", "access", "app_protection", "reasons"};
	char *all = scen_report_all_(s, __FILE__, line), *p = all;
	size_t i = 0;
	for (; *p && i < sizeof v3_report / sizeof *v3_report; i++) {
		char *nl = strchr(p, '\n');
		size_t l = nl ? (size_t)(nl - p) : strlen(p);
		json_t *got = scen_ownj(s, json_loadb(p, l, 0, NULL));
		json_t *want = scen_ownj(s, json_loads(v3_report[i], 0, NULL));
		assert_non_null(want);
		if (!got)
			fail_msg("line %d: report line %zu is not JSON", line, i + 1);
		for (size_t k = 0; k < sizeof keys / sizeof *keys; k++)
			if (!json_equal(json_object_get(got, keys[k]), json_object_get(want, keys[k])))
				fail_msg("line %d: after the upgrade, %s of %s is %s; version 3 had %s", line,
					 keys[k], jstr(want, "device"),
					 scen_jtext(s, json_object_get(got, keys[k])),
					 scen_jtext(s, json_object_get(want, keys[k])));
		p += l + (nl ? 1 : 0);
	}
	if (i != sizeof v3_report / sizeof *v3_report || *p)
		fail_msg("line %d: the report does not have the 3 devices of version 3:\n%s", line, all);
}

static size_t count_lines(scen *s, const char *kind, const char *device)
{
	if (device)
		RUN(s, 0, "audit", "show", "--kind", kind, "--device", device, "--json");
	else
		RUN(s, 0, "audit", "show", "--kind", kind, "--json");
	return scen_json_lines_(s, __FILE__, __LINE__);
}

/* The last line of the last run's output, parsed (owned by s). */
static json_t *last_line(scen *s)
{
	char *p = s->out, *last = NULL;
	for (char *nl; *p; p = nl + 1) {
		last = p;
		if (!(nl = strchr(p, '\n')) || !nl[1])
			break;
	}
	if (!last)
		fail_msg("no output: %s", s->cmd);
	return scen_ownj(s, json_loadb(last, strcspn(last, "\n"), 0, NULL));
}

static void make_v3_store(scen *s)
{
	const char *rules = scen_rules_copy(s, "rules", NULL, UPGRADE_GROUPS);
	snprintf(s->rules, sizeof s->rules, "%s", rules);
	exec_sql(s->db, v3_schema);
	exec_sql(s->db, v3_state);
	assert_int_equal(scen_q_int(s, "PRAGMA user_version"), 3);
}

static void upgrade_keeps_decisions_and_history(void **state)
{
	scen *s = *state;
	json_t *r, *d;

	make_v3_store(s);
	/* day 2: the first run of this release migrates the store */
	scen_day(s, 2, 0);
	report_is_v3(s, __LINE__);
	assert_int_equal(scen_q_int(s, "PRAGMA user_version"), MTD_SCHEMA_VERSION);
	/* the decisions moved (4 -> 5) into packed blocks, and the running
	 * grace period and the wipe keep their times there */
	assert_int_equal(scen_q_int(s, "SELECT count(*) FROM main.sqlite_master"
				       " WHERE name = 'decisions'"), 0);
	assert_int_equal(scen_q_int(s, "SELECT count(*) FROM decision_blocks"), 1);
	assert_int_equal(scen_q_int(s, "SELECT count(*) FROM decisions"), 3);
	assert_int_equal(scen_q_int(s, "SELECT since FROM decisions WHERE device = 1"), 1709380800);
	assert_int_equal(scen_q_int(s, "SELECT wiped_at FROM decisions WHERE device = 1"), 0);
	assert_int_equal(scen_q_int(s, "SELECT since FROM decisions WHERE device = 2"), 1709251200);
	assert_int_equal(scen_q_int(s, "SELECT wiped_at FROM decisions WHERE device = 2"), 1709251200);
	assert_int_equal(scen_q_int(s, "SELECT since FROM decisions WHERE device = 3"), 1709251200);
	assert_int_equal(scen_q_int(s, "SELECT evaluated_at FROM decisions WHERE device = 3"), 1709251200);
	/* the old chain holds, and the migrated outcomes are sealed into it:
	 * 17 records of version 3, 3 distinct outcomes, their seal; then the
	 * baseline of version 7: its row entries, its record and their seal */
	RUN(s, 0, "audit", "verify");
	OUT_HAS(s, "audit log intact: ");
	assert_int_equal(scen_q_int(s, "SELECT count(*) FROM audit") +
				 scen_q_int(s, "SELECT count(*) FROM outcomes") +
				 scen_q_int(s, "SELECT sum(n) FROM row_log"),
			 32 + 5); /* schema 10: a salt for each of 3 devices, a record, a seal */
	assert_int_equal(scen_q_int(s, "SELECT sum(n) FROM row_log"), 9 + 3);
	OUT_HAS(s, "audit log intact: 37 records");
	assert_int_equal(count_lines(s, "outcome", NULL), 3);
	/* the history of version 3 still shows */
	assert_int_equal(count_lines(s, "app_wipe", "and-wipe"), 1);
	assert_int_equal(count_lines(s, "decision", "ios-grace"), 2);
	assert_int_equal(count_lines(s, "message", NULL), 4);

	/* evaluating again finds nothing changed: the migrated decisions are
	 * this release's own, the wipe is not issued again */
	RUN(s, 0, "evaluate");
	OUT_HAS(s, "evaluated 3 devices, 0 decisions changed");
	report_is_v3(s, __LINE__);
	assert_int_equal(count_lines(s, "app_wipe", NULL), 1);
	assert_int_equal(count_lines(s, "decision", NULL), 4);

	/* day 3 13:00: the grace period that began on day 1 12:00 under
	 * version 3 has run out (it would not have, had the migration restarted
	 * it); the wipe still stands and is still not repeated. New input goes
	 * on the migrated store. */
	scen_day(s, 3, 13 * 3600);
	INGEST(s, THREAT("ios-ok", "high", "\"2024-03-04T13:00:00Z\""));
	RUN(s, 0, "evaluate");
	OUT_HAS(s, "2 decisions changed");
	r = REPORT(s, "ios-grace");
	FIELD(s, r, "state", "noncompliant");
	FIELD(s, r, "access", "block");
	assert_false(has_reason(r, "grace", NULL));
	r = REPORT(s, "ios-ok");
	FIELD(s, r, "state", "in_grace_period");
	assert_true(has_reason(r, "in grace period until 2024-03-06T13:00:00Z", NULL));
	r = REPORT(s, "and-wipe");
	FIELD(s, r, "app_protection", "wipe");
	assert_int_equal(count_lines(s, "app_wipe", NULL), 1);
	assert_int_equal(scen_q_int(s, "SELECT wiped_at FROM decisions WHERE device = 2"), 1709251200);
	/* the change is recorded from the migrated outcome to the new one */
	assert_int_equal(count_lines(s, "decision", "ios-grace"), 3);
	d = last_line(s);
	assert_non_null(d);
	FIELD(s, json_object_get(json_object_get(d, "detail"), "from"), "state", "in_grace_period");
	FIELD(s, json_object_get(json_object_get(d, "detail"), "to"), "state", "noncompliant");
	RUN(s, 0, "audit", "verify");
	OUT_HAS(s, "audit log intact");
}

/* A version 3 store whose log was emptied and whose decisions are all alike
 * still migrates: one outcome for them all. */
static void upgrade_empty_log_shared_outcome(void **state)
{
	scen *s = *state;
	const char *rules = scen_rules_copy(s, "rules", NULL, UPGRADE_GROUPS);
	snprintf(s->rules, sizeof s->rules, "%s", rules);
	exec_sql(s->db, v3_schema);
	exec_sql(s->db,
		 "INSERT INTO meta VALUES('cloud','commercial');"
		 "INSERT INTO groupsets VALUES(1,'');"
		 "INSERT INTO devices VALUES(1,'ios-a',1,'17.4',1,1,NULL,1,1709251200),"
		 "(2,'ios-b',1,'17.4',1,1,NULL,1,1709251200),(3,'ios-c',1,'17.4',1,1,NULL,1,1709251200);"
		 "INSERT INTO connectors(id, vendor, state, provisioned, added_at, platforms)"
		 " VALUES(1,'generic','available',1,1709251200,0);"
		 "INSERT INTO decisions(device, state, level, access, app_action, vendors, reasons,"
		 " digest, evaluated_at, since) SELECT id, 0, 0, 0, 0, '{}',"
		 " '[\"no connector in force on ios\"]', 3789974340819258885, 1709251200,"
		 " 1709251200 FROM devices;");
	/* 2 records, and the baseline of schema 7: 6 rows (a setting, a group
	 * set, 3 devices, a connector), its record and their seal; schema 10's
	 * baseline: 3 devices' salts, its record, their seal */
	RUN(s, 0, "audit", "verify");
	OUT_HAS(s, "audit log intact: 15 records");
	assert_int_equal(scen_q_int(s, "SELECT count(*) FROM audit WHERE kind = 'baseline'"
				       " AND detail = '{\"schema\":8,\"rows\":6}'"), 1);
	assert_int_equal(scen_q_int(s, "SELECT count(DISTINCT outcome) FROM decisions"), 1);
	RUN(s, 0, "evaluate");
	OUT_HAS(s, "evaluated 3 devices, 0 decisions changed");
	FIELD(s, REPORT(s, "ios-b"), "state", "compliant");
}

/* A store of schema 5 (fixtures/store-v5.sql, written by the release
 * before the compact log layout): its log blocks keep their layout and
 * still read and verify, what this release appends is compact, both verify
 * as one chain, and an old entry changed behind mtdgate's back is found. */
static void upgrade_v5_log_layouts(void **state)
{
	scen *s = *state;
	char *sql = scen_own(s, scen_slurp(MTD_FIXTURES_DIR "/store-v5.sql", NULL));
	json_t *m;

	exec_sql(s->db, sql);
	assert_int_equal(scen_q_int(s, "PRAGMA user_version"), 5);
	scen_day(s, 1, 0);
	/* 26 records, and the baseline of schema 7: 12 rows (a setting, a
	 * group, 2 group sets, a member, 3 devices, a connector, 3 reports), its
	 * record and their seal */
	RUN(s, 0, "audit", "verify");
	OUT_HAS(s, "audit log intact: 45 records"); /* schema 10: 3 salts, record, seal */
	assert_int_equal(scen_q_int(s, "PRAGMA user_version"), MTD_SCHEMA_VERSION);
	assert_int_equal(scen_q_int(s, "SELECT sum(n) FROM row_log"), 12 + 3);
	/* the baseline covers what was stored: an edit is found, and undone it
	 * verifies again */
	exec_sql(s->db, "UPDATE devices SET os_version = '1.0' WHERE ext_id = 'v5-a'");
	RUN(s, 65, "audit", "verify");
	OUT_HAS(s, "device 'v5-a' (row 1) (table devices) is not what the audit log recorded");
	exec_sql(s->db, "UPDATE devices SET os_version = '17.2' WHERE ext_id = 'v5-a'");
	RUN(s, 0, "audit", "verify");
	/* the old entries read as they were written */
	assert_int_equal(count_lines(s, "decision", NULL), 3);
	assert_int_equal(count_lines(s, "message", NULL), 7);
	OUT_HAS(s, "\"code\":\"E42 token expired\"");
	assert_int_equal(count_lines(s, "message", "v5-a"), 1);
	m = last_line(s);
	assert_non_null(m);
	FIELD(s, json_object_get(m, "detail"), "level", "high");
	assert_int_equal(json_integer_value(json_object_get(json_object_get(m, "detail"), "at")),
			 1709251250);

	/* new entries go to compact blocks after the old ones */
	INGEST(s, THREAT("v5-b", "high", "\"2024-03-02T00:00:00Z\""));
	RUN(s, 0, "evaluate");
	OUT_HAS(s, "1 decisions changed");
	/* (since schema 8 the compact layout that says how a message named
	 * its device and carries the report it wrote, 4) */
	assert_int_equal(scen_q_int(s, "SELECT count(*) FROM message_log"
				       " WHERE substr(entries, 1, 1) = x'04'"), 1);
	assert_int_equal(scen_q_int(s, "SELECT count(*) FROM message_log"
				       " WHERE substr(entries, 1, 1) NOT IN (x'02', x'03', x'04')"), 3);
	assert_int_equal(scen_q_int(s, "SELECT count(*) FROM decision_log"
				       " WHERE substr(entries, 1, 1) = x'04'"), 1);
	RUN(s, 0, "audit", "verify");
	OUT_HAS(s, "audit log intact: ");
	assert_int_equal(count_lines(s, "message", "v5-b"), 2);
	m = last_line(s);
	assert_non_null(m);
	FIELD(s, json_object_get(m, "detail"), "level", "high");
	assert_int_equal(count_lines(s, "decision", "v5-b"), 2);

	/* the migrated snapshot of v5-a (schema 6 -> 7) is the base that a
	 * threat event adds to, and is its level again once resolved */
	RUN(s, 0, "connector", "set", "generic", "ios=on");
	INGEST(s, "{\"type\":\"threat_event\",\"device_ref\":{\"mdm\":\"v5-a\"},"
		  "\"threat\":{\"id\":\"t1\",\"category\":\"os\",\"level\":\"low\"},"
		  "\"state\":\"open\",\"at\":\"2024-03-02T00:00:00Z\"}\n");
	assert_int_equal(scen_q_int(s, "SELECT nevents FROM reports r JOIN devices d ON d.id = r.device"
				       " WHERE d.ext_id = 'v5-a'"), 1);
	assert_int_equal(scen_q_int(s, "SELECT snap_level FROM reports r JOIN devices d"
				       " ON d.id = r.device WHERE d.ext_id = 'v5-a'"), 4);
	assert_int_equal(scen_q_int(s, "SELECT level FROM reports r JOIN devices d"
				       " ON d.id = r.device WHERE d.ext_id = 'v5-a'"), 4);
	RUN(s, 0, "audit", "verify");

	/* v5-a's level (high, zigzag 8) in the old block of five messages,
	 * made medium: the entry still reads, the seal does not match */
	scen_poke_log(s, "message_log", 9, 5, 0x08, 0x06);
	RUN(s, 65, "audit", "verify");
	OUT_HAS(s, "do not match it");
}

/* An edit of the store behind mtdgate's back, and what audit verify names. */
typedef struct edit {
	const char *sql, *named;
} edit;

/* Each edit made to the store as it is now: verify fails naming it; then
 * the store is put back as it was. */
static void edits_named(scen *s, const edit *edits, size_t nedits)
{
	for (size_t i = 0; i < nedits; i++) {
		size_t n = 0;
		char *b = scen_slurp(s->db, &n);
		FILE *f;
		assert_non_null(b);
		exec_sql(s->db, edits[i].sql);
		RUN(s, 65, "audit", "verify");
		OUT_HAS(s, edits[i].named);
		f = fopen(s->db, "wb");
		assert_non_null(f);
		assert_int_equal(fwrite(b, 1, n, f), n);
		fclose(f);
		free(b);
	}
}

/* A store of schema 6 (fixtures/store-v6.sql, the release before the row
 * log): the migrations (7: identity, 8: the row log) take a baseline of every row that feeds a decision,
 * the old chain and the baseline verify as one, and from then on an edit
 * of any covered table is found and named. */
static void upgrade_v6_baseline(void **state)
{
	static const edit edits[] = {
		{"UPDATE reports SET level = 0 WHERE device = 1",
		 "the report of device 'v6-a' from 'generic' (table reports)"},
		{"UPDATE devices SET platform = 0 WHERE ext_id = 'v6-c'", "device 'v6-c' (row 3)"},
		{"UPDATE apps SET managed = 0", "app 'com.example.mail' of device 'v6-a' (table apps)"},
		{"UPDATE connectors SET mam_platforms = 7", "connector 'generic' (row 1)"},
		{"DELETE FROM groupset_members WHERE grp = 2", "(table groupset_members)"},
		{"UPDATE meta SET value = 'gcc_high'", "meta setting 'cloud'"},
	};
	scen *s = *state;
	char *sql = scen_own(s, scen_slurp(MTD_FIXTURES_DIR "/store-v6.sql", NULL));
	exec_sql(s->db, sql);
	assert_int_equal(scen_q_int(s, "PRAGMA user_version"), 6);
	scen_day(s, 1, 0);
	RUN(s, 0, "audit", "verify");
	OUT_HAS(s, "audit log intact: ");
	assert_int_equal(scen_q_int(s, "PRAGMA user_version"), MTD_SCHEMA_VERSION);
	/* a setting, 2 groups, 3 group sets, 3 members, 3 devices, a connector,
	 * 3 reports, 2 apps; schema 10: 3 devices' salts */
	assert_int_equal(scen_q_int(s, "SELECT sum(n) FROM row_log"), 18 + 3);
	assert_int_equal(scen_q_int(s, "SELECT count(*) FROM audit WHERE kind = 'baseline'"
				       " AND detail = '{\"schema\":8,\"rows\":18}'"), 1);
	RUN(s, 0, "audit", "show", "--kind", "row");
	OUT_HAS(s, "{\"table\":\"apps\",\"key\":[1,0,\"com.example.mail\"],\"digest\":\"");
	/* what the old release wrote still reads; the store works on */
	RUN(s, 0, "evaluate");
	OUT_HAS(s, "0 decisions changed");
	edits_named(s, edits, sizeof edits / sizeof *edits);
	RUN(s, 0, "audit", "verify");
}

/* A store of schema 8 (fixtures/store-v8.sql, the release whose row log
 * did not cover the identity tables): migration 9 takes a baseline of its
 * learned identifiers, parked message and open threats, the old chain and
 * the baseline verify as one, and from then on an edit of any of them is
 * found and named. */
static void upgrade_v8_baseline(void **state)
{
	static const edit edits[] = {
		{"UPDATE device_ids SET device = 2 WHERE value = 'guid-7'",
		 "identifier vendor:generic 'guid-7' of device 'v8-b' (table device_ids)"},
		{"UPDATE threat_events SET level = 2 WHERE id = 't1'",
		 "threat 't1' of device 'v8-b' from 'generic' (table threat_events) is not what"},
		{"DELETE FROM threat_events WHERE id = 't2'",
		 "threat 't2' of device 'v8-a' from 'generic' (table threat_events) is in the audit log"
		 " but not in the store"},
		{"UPDATE parked SET reason = 'x'", "parked message 1 from 'generic' (table parked)"},
	};
	scen *s = *state;
	char *sql = scen_own(s, scen_slurp(MTD_FIXTURES_DIR "/store-v8.sql", NULL));
	exec_sql(s->db, sql);
	assert_int_equal(scen_q_int(s, "PRAGMA user_version"), 8);
	scen_day(s, 2, 0);
	RUN(s, 0, "audit", "verify");
	OUT_HAS(s, "audit log intact: ");
	assert_int_equal(scen_q_int(s, "PRAGMA user_version"), MTD_SCHEMA_VERSION);
	/* 8 rows logged by the old release; 3 identifiers (2 serials, guid-7
	 * learned), a parked message, 2 open threats; then (schema 10) the 3
	 * identifiers keyed again: each a deletion of its key by value (as a
	 * digest) and an entry under its device's salted key, and the 2
	 * devices' salts */
	assert_int_equal(scen_q_int(s, "SELECT sum(n) FROM row_log"), 8 + 6 + 2 * 3 + 2);
	assert_int_equal(scen_q_int(s, "SELECT count(*) FROM audit WHERE kind = 'baseline'"
				       " AND detail = '{\"schema\":9,\"rows\":6}'"), 1);
	assert_int_equal(scen_q_int(s, "SELECT count(*) FROM audit WHERE kind = 'baseline'"
				       " AND detail = '{\"schema\":10,\"rows\":5}'"), 1);
	/* every device has its salt */
	assert_int_equal(scen_q_int(s, "SELECT count(*) FROM device_salts WHERE length(salt) = 16"),
			 scen_q_int(s, "SELECT count(*) FROM devices"));
	RUN(s, 0, "audit", "show", "--kind", "row");
	OUT_HAS(s, "{\"table\":\"threat_events\",\"key\":[2,1,\"t1\"],\"digest\":\"");
	OUT_HAS(s, "{\"table\":\"parked\",\"key\":[1,0,null],\"digest\":\"");
	edits_named(s, edits, sizeof edits / sizeof *edits);
	/* the store works on: guid-7 still names v8-a, its threat resolved */
	INGEST(s, "{\"type\":\"threat_event\",\"device_ref\":{\"vendor_device_id\":\"guid-7\"},"
		  "\"threat\":{\"id\":\"t2\"},\"state\":\"resolved\",\"at\":\"2024-03-02T00:00:00Z\"}\n");
	OUT_HAS(s, "1 accepted");
	assert_int_equal(scen_q_int(s, "SELECT open FROM threat_events WHERE id = 't2'"), 0);
	RUN(s, 0, "audit", "verify");
	OUT_HAS(s, "audit log intact: ");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(upgrade_keeps_decisions_and_history, setup, teardown),
		cmocka_unit_test_setup_teardown(upgrade_empty_log_shared_outcome, setup, teardown),
		cmocka_unit_test_setup_teardown(upgrade_v5_log_layouts, setup, teardown),
		cmocka_unit_test_setup_teardown(upgrade_v6_baseline, setup, teardown),
		cmocka_unit_test_setup_teardown(upgrade_v8_baseline, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
