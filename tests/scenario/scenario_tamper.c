/* The tampering suite (issue 19, finding 3): an intruder with the store's
 * file edits each table decisions are made from, rewrites the whole chain
 * consistently, cuts off its tail, or a disk damages single pages; `audit
 * verify` must fail and name what was touched. And a store on read-only
 * media verifies (finding 8). */
#define _GNU_SOURCE /* setgroups, memmem */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

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

/* Change the store behind mtdgate's back, as an intruder with file access
 * (who knows how to drop the append-only triggers). */
static void tamper(const char *path, const char *sql)
{
	sqlite3 *db = NULL;
	char *err = NULL;
	if (sqlite3_open(path, &db) != SQLITE_OK ||
	    sqlite3_exec(db, sql, NULL, NULL, &err) != SQLITE_OK)
		fail_msg("tamper %s: %s", sql, err ? err : sqlite3_errmsg(db));
	sqlite3_close(db);
}

static void copy_file(const char *from, const char *to)
{
	size_t n = 0;
	char *b = scen_slurp(from, &n);
	FILE *f = b ? fopen(to, "wb") : NULL;
	if (!f || fwrite(b, 1, n, f) != n || fclose(f) != 0) {
		free(b);
		fail_msg("copying %s to %s", from, to);
	}
	free(b);
}

/* A fleet with every covered table filled: devices in groups, reports,
 * connector settings, an inventory; evaluated. */
static void prepare(scen *s, const char *bob_level)
{
	char in[512];
	SETUP(s, SCEN_FLEET);
	RUN(s, 0, "connector", "set", "generic", "ios=on", "android=on", "appsync_ios=on");
	snprintf(in, sizeof in,
		 "{\"type\":\"threat\",\"device\":\"ios-bob\",\"level\":\"%s\",\"at\":1709251000}\n"
		 "{\"type\":\"threat\",\"device\":\"ios-exec\",\"level\":\"medium\",\"at\":1709251000}\n"
		 "{\"type\":\"threat\",\"device\":\"ios-alice\",\"level\":\"low\",\"at\":1709251000,"
		 "\"os_supported\":true}\n",
		 bob_level);
	INGEST(s, in);
	RUN(s, 0, "inventory", "import",
	    scen_writes(s, "apps.jsonl",
			"{\"device\":\"ios-alice\",\"app_id\":\"com.example.mail\",\"version\":\"1.2\","
			"\"name\":\"Mail\",\"managed\":true}\n"
			"{\"device\":\"ios-bob\",\"app_id\":\"com.example.chat\",\"version\":\"3\"}\n"));
	RUN(s, 0, "evaluate");
	RUN(s, 0, "audit", "verify");
	OUT_HAS(s, "audit log intact");
}

/* An edit of the store behind mtdgate's back, and what audit verify names. */
typedef struct edit {
	const char *sql, *named;
} edit;

/* Each edit made to a copy of clean: verify fails naming it; then the
 * store is clean again. */
static void edits_named(scen *s, const char *clean, const edit *edits, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		copy_file(clean, s->db);
		tamper(s->db, edits[i].sql);
		RUN(s, 65, "audit", "verify");
		OUT_HAS(s, "audit log BROKEN");
		OUT_HAS(s, edits[i].named);
	}
	copy_file(clean, s->db);
}

/* Each edit of a covered table is found, and the row is named. */
static void each_table_edit_named(void **state)
{
	static const edit edits[] = {
		/* a report's level: bob's high made secured */
		{"UPDATE reports SET level = 0 WHERE device = (SELECT id FROM devices"
		 " WHERE ext_id = 'ios-bob')",
		 "the report of device 'ios-bob' from 'generic' (table reports)"},
		{"UPDATE reports SET threats = NULL, os_supported = 0 WHERE device = (SELECT id FROM"
		 " devices WHERE ext_id = 'ios-alice')",
		 "the report of device 'ios-alice' from 'generic' (table reports)"},
		{"DELETE FROM reports WHERE device = (SELECT id FROM devices WHERE ext_id = 'ios-exec')",
		 "the report of device 'ios-exec' from 'generic' (table reports) is in the audit log "
		 "but not in the store"},
		/* a platform: an iOS device made Windows, out of every connector */
		{"UPDATE devices SET platform = 2 WHERE ext_id = 'ios-bob'",
		 "device 'ios-bob' (row 2) (table devices)"},
		/* a group: the executive put in no group */
		{"UPDATE devices SET groupset = (SELECT groupset FROM devices WHERE ext_id = 'ios-bob')"
		 " WHERE ext_id = 'ios-exec'",
		 "device 'ios-exec' (row 3) (table devices)"},
		{"UPDATE groups SET name = 'Staff2' WHERE name = 'Executives'", "(table groups)"},
		{"DELETE FROM groupset_members WHERE grp = (SELECT id FROM groups WHERE"
		 " name = 'Executives')",
		 "(table groupset_members) is in the audit log but not in the store"},
		{"UPDATE groupsets SET key = 'x' WHERE id = (SELECT max(id) FROM groupsets)",
		 "(table groupsets)"},
		{"INSERT INTO devices(ext_id, platform, corporate, enrolled, groupset, updated_at)"
		 " VALUES('ghost', 1, 1, 1, 1, 0)",
		 "device 'ghost' (row 8) (table devices) has no entry in the audit log"},
		/* a setting */
		{"UPDATE meta SET value = 'gcc_high' WHERE key = 'cloud'",
		 "meta setting 'cloud' (table meta)"},
		{"INSERT INTO meta VALUES('skew', '999999')",
		 "meta setting 'skew' (table meta) has no entry in the audit log"},
		/* an app field */
		{"UPDATE apps SET managed = 0 WHERE app_id = 'com.example.mail'",
		 "app 'com.example.mail' of device 'ios-alice' (table apps)"},
		{"INSERT INTO apps(device, app_id) VALUES(1, 'com.evil')",
		 "app 'com.evil' of device 'ios-alice' (table apps) has no entry"},
		/* a connector's state and its settings */
		{"UPDATE connectors SET state = 'unresponsive'", "connector 'generic' (row 1) (table "
								 "connectors)"},
		{"UPDATE connectors SET platforms = 0", "connector 'generic' (row 1) (table connectors)"},
	};
	scen *s = *state;
	const char *clean = scen_path(s, "clean.db");
	prepare(s, "high");
	copy_file(s->db, clean);
	edits_named(s, clean, edits, sizeof edits / sizeof *edits);
	/* and the store as it was verifies */
	RUN(s, 0, "audit", "verify");
	OUT_HAS(s, "audit log intact");
}

/* The identity tables feed decisions too: a learned identifier (which
 * device a vendor's id names), an open threat, a parked message. */
#define IDS_FLEET                                                                                  \
	"{\"id\":\"ios-alice\",\"platform\":\"ios\",\"ownership\":\"corporate\","                 \
	"\"management\":\"enrolled\",\"ids\":{\"serial\":\"S-ALICE\"}}\n"                          \
	"{\"id\":\"ios-bob\",\"platform\":\"ios\",\"ownership\":\"corporate\","                   \
	"\"management\":\"enrolled\",\"ids\":{\"serial\":\"S-BOB\"}}\n"

static void identity_edit_named(void **state)
{
	static const edit edits[] = {
		/* guid-7, learned as alice's, made bob's: the log keys an identifier
		 * with its device's salt, so under bob's it has no entry */
		{"UPDATE device_ids SET device = (SELECT id FROM devices WHERE ext_id = 'ios-bob')"
		 " WHERE kind = 'vendor:generic' AND value = 'guid-7'",
		 "identifier vendor:generic 'guid-7' of device 'ios-bob' (table device_ids) has no "
		 "entry in the audit log"},
		/* a device's salt, which its identifiers' keys are made with: they
		 * are found first (the salt's own row after them, on stderr) */
		{"UPDATE device_salts SET salt = randomblob(16) WHERE device = 1",
		 "identifier serial 'S-ALICE' of device 'ios-alice' (table device_ids) has no entry"},
		{"INSERT INTO device_ids VALUES('serial', 'S-EVIL', 1)",
		 "identifier serial 'S-EVIL' of device 'ios-alice' (table device_ids) has no entry"},
		/* an open threat's level, and its state */
		{"UPDATE threat_events SET level = 0 WHERE id = 't1'",
		 "threat 't1' of device 'ios-bob' from 'generic' (table threat_events) is not what"},
		{"UPDATE threat_events SET open = 0 WHERE id = 't1'",
		 "threat 't1' of device 'ios-bob' from 'generic' (table threat_events) is not what"},
		{"DELETE FROM threat_events WHERE id = 't2'",
		 "threat 't2' of device 'ios-alice' from 'generic' (table threat_events) is in the "
		 "audit log but not in the store"},
		/* the parked message, and what it waits for */
		{"UPDATE parked SET msg = x'80'",
		 "parked message 1 from 'generic' (table parked) is not what"},
		{"UPDATE parked SET vendor_id = 'guid-7'",
		 "parked message 1 from 'generic' (table parked) is not what"},
		{"DELETE FROM parked",
		 "parked message 1 (table parked) is in the audit log but not in the store"},
	};
	scen *s = *state;
	const char *clean = scen_path(s, "clean.db");

	SETUP(s, IDS_FLEET);
	RUN(s, 0, "connector", "set", "generic", "ios=on", "android=on");
	scen_day(s, 1, 0);
	INGEST(s, "{\"type\":\"threat_event\",\"device_ref\":{\"vendor_device_id\":\"guid-9\"},"
		  "\"threat\":{\"id\":\"t9\",\"category\":\"app\",\"level\":\"high\"},\"state\":\"open\","
		  "\"at\":\"2024-03-01T00:10:00Z\"}\n"
		  "{\"type\":\"threat\",\"device_ref\":{\"vendor_device_id\":\"guid-7\","
		  "\"serial\":\"S-ALICE\"},\"level\":\"low\",\"at\":\"2024-03-01T00:20:00Z\"}\n"
		  "{\"type\":\"threat_event\",\"device\":\"ios-bob\",\"threat\":{\"id\":\"t1\","
		  "\"category\":\"app\",\"level\":\"high\"},\"state\":\"open\","
		  "\"at\":\"2024-03-01T00:30:00Z\"}\n"
		  "{\"type\":\"threat_event\",\"device_ref\":{\"vendor_device_id\":\"guid-7\"},"
		  "\"threat\":{\"id\":\"t2\",\"category\":\"app\",\"level\":\"medium\"},\"state\":\"open\","
		  "\"at\":\"2024-03-01T00:40:00Z\"}\n");
	OUT_HAS(s, "4 records, 3 accepted, 0 rejected, 0 malformed, 1 parked");
	RUN(s, 0, "evaluate");
	assert_int_equal(scen_q_int(s, "SELECT count(*) FROM device_ids WHERE value = 'guid-7'"), 1);
	assert_int_equal(scen_q_int(s, "SELECT count(*) FROM threat_events WHERE open = 1"), 2);
	assert_int_equal(scen_q_int(s, "SELECT count(*) FROM parked"), 1);
	/* untouched, it verifies */
	RUN(s, 0, "audit", "verify");
	OUT_HAS(s, "audit log intact");
	assert_int_equal(scen_q_int(s, "SELECT id FROM parked"), 1);
	copy_file(s->db, clean);
	edits_named(s, clean, edits, sizeof edits / sizeof *edits);

	/* mtdgate's own deletions are logged: alice's serial replaced by an
	 * import, bob's threat made part of a newer snapshot, the parked
	 * message expired. The store verifies; a deleted row put back does not. */
	RUN(s, 0, "device", "import",
	    scen_writes(s, "ids.jsonl",
			"{\"id\":\"ios-alice\",\"platform\":\"ios\",\"ownership\":\"corporate\","
			"\"management\":\"enrolled\",\"ids\":{\"serial\":\"S-ALICE-2\"}}\n"));
	scen_day(s, 40, 0); /* past generic's parked_days */
	INGEST(s, "{\"type\":\"threat\",\"device\":\"ios-bob\",\"level\":\"low\","
		  "\"at\":\"2024-03-01T01:00:00Z\"}\n");
	RUN(s, 0, "evaluate");
	assert_int_equal(scen_q_int(s, "SELECT count(*) FROM device_ids WHERE value = 'S-ALICE'"), 0);
	assert_int_equal(scen_q_int(s, "SELECT count(*) FROM threat_events WHERE id = 't1'"), 0);
	assert_int_equal(scen_q_int(s, "SELECT count(*) FROM parked"), 0);
	RUN(s, 0, "audit", "verify");
	OUT_HAS(s, "audit log intact");
	copy_file(s->db, clean);
	tamper(s->db, "INSERT INTO device_ids VALUES('serial', 'S-ALICE', 1)");
	RUN(s, 65, "audit", "verify");
	OUT_HAS(s, "identifier serial 'S-ALICE' of device 'ios-alice' (table device_ids) was "
		   "deleted by the last entry");
	copy_file(clean, s->db);
	tamper(s->db, "INSERT INTO threat_events(device, connector, id, open, at, level)"
		      " VALUES((SELECT id FROM devices WHERE ext_id = 'ios-bob'), 1, 't1', 1,"
		      " 1709253000, 8)");
	RUN(s, 65, "audit", "verify");
	OUT_HAS(s, "threat 't1' of device 'ios-bob' from 'generic' (table threat_events) was "
		   "deleted by the last entry");
}

/* Finding 3's attack: bob's report rewritten, then an evaluate turns him
 * compliant through ordinary-looking log entries. verify still names the
 * edited report. */
static void edit_then_evaluate_found(void **state)
{
	scen *s = *state;
	prepare(s, "high");
	FIELD(s, REPORT(s, "ios-bob"), "state", "noncompliant");
	tamper(s->db, "UPDATE reports SET level = 0 WHERE device = 2");
	RUN(s, 0, "evaluate");
	FIELD(s, REPORT(s, "ios-bob"), "state", "compliant");
	RUN(s, 65, "audit", "verify");
	OUT_HAS(s, "the report of device 'ios-bob' from 'generic' (table reports) is not what the "
		   "audit log recorded");
}

/* A key pair for checkpoints; the private key is refused when others may
 * read it, and never shows in the store or the output. */
static void keys_and_checkpoints(void **state)
{
	scen *s = *state;
	const char *key = scen_path(s, "audit.key"), *cp = scen_path(s, "cp.txt");
	char pub[400], *text;
	prepare(s, "high");
	RUN(s, 0, "audit", "keygen", "--key", key);
	snprintf(pub, sizeof pub, "%s.pub", key);
	{
		struct stat sb;
		assert_int_equal(stat(key, &sb), 0);
		assert_int_equal(sb.st_mode & 0777, 0600);
	}
	RUN(s, 64, "audit", "keygen", "--key", key); /* never over a key */
	assert_int_equal(chmod(key, 0640), 0);
	RUN(s, 69, "audit", "checkpoint", "--key", key);
	ERR_HAS(s, "readable by you alone");
	assert_int_equal(chmod(key, 0600), 0);
	/* a verify with the key before any checkpoint: none in the log */
	RUN(s, 65, "audit", "verify", "--pubkey", pub);
	OUT_HAS(s, "no checkpoint signed with this key");
	RUN(s, 0, "audit", "checkpoint", "--key", key, "--out", cp);
	RUN(s, 0, "audit", "verify", "--pubkey", pub, "--checkpoint", cp);
	OUT_HAS(s, "checkpoint");
	OUT_HAS(s, "holds");
	RUN(s, 0, "audit", "checkpoint", "--key", key);
	OUT_HAS(s, "mtdgate-checkpoint v1 seq=");
	RUN(s, 0, "audit", "verify", "--pubkey", pub);
	OUT_HAS(s, "signed with");
	OUT_HAS(s, ": 2, all hold");
	/* the private key is nowhere but its file */
	text = scen_own(s, scen_slurp(key, NULL));
	assert_non_null(text);
	{
		char hex[65];
		size_t n = 0;
		char *db = scen_slurp(s->db, &n);
		assert_int_equal(sscanf(text, "mtdgate-ed25519-private v1 %64s", hex), 1);
		assert_non_null(db);
		assert_null(memmem(db, n, hex, 64));
		free(db);
		assert_null(strstr(s->out, hex));
		RUN(s, 0, "audit", "show");
		assert_null(strstr(s->out, hex));
	}
	/* a checkpoint changed by one digit, or checked with another key */
	{
		char *c = scen_own(s, scen_slurp(cp, NULL));
		char *seqp = strstr(c, "seq=");
		const char *bad = scen_path(s, "bad.txt"), *other = scen_path(s, "other.key");
		char opub[400];
		assert_non_null(seqp);
		seqp[4] = seqp[4] == '1' ? '2' : '1';
		scen_writes(s, "bad.txt", c);
		RUN(s, 65, "audit", "verify", "--pubkey", pub, "--checkpoint", bad);
		OUT_HAS(s, "signature does not hold");
		RUN(s, 0, "audit", "keygen", "--key", other);
		snprintf(opub, sizeof opub, "%s.pub", other);
		RUN(s, 65, "audit", "verify", "--pubkey", opub, "--checkpoint", cp);
		OUT_HAS(s, "signature does not hold");
	}
	/* a forged checkpoint record in the log (signed with another key, but
	 * claiming ours) */
	tamper(s->db, "DROP TRIGGER audit_no_update;"
		      "UPDATE audit SET detail = replace(detail, substr(detail, instr(detail, '\"sig\":\"')"
		      " + 7, 4), 'ffff') WHERE kind = 'checkpoint'");
	RUN(s, 65, "audit", "verify", "--pubkey", pub);
	OUT_HAS(s, "audit log BROKEN");
}

/* The whole chain rewritten consistently (every hash and seal right: the
 * intruder has mtdgate too) verifies on its own, but not against a head
 * kept elsewhere or a signed checkpoint. */
static void consistent_rewrite_found(void **state)
{
	scen *s = *state;
	scen *forged = scen_new();
	const char *key = scen_path(s, "audit.key"), *cp = scen_path(s, "cp.txt");
	char pub[400], head[65] = "";
	const char *h;
	assert_non_null(forged);
	prepare(s, "high");
	RUN(s, 0, "audit", "verify");
	h = strstr(s->out, "head ");
	assert_non_null(h);
	memcpy(head, h + 5, 64);
	RUN(s, 0, "audit", "keygen", "--key", key);
	snprintf(pub, sizeof pub, "%s.pub", key);
	RUN(s, 0, "audit", "checkpoint", "--key", key, "--out", cp);
	RUN(s, 0, "audit", "verify", "--expect-head", head);
	OUT_HAS(s, "in the chain");

	/* the same history with bob secured, made by mtdgate itself */
	prepare(forged, "secured");
	copy_file(forged->db, s->db);
	scen_free(forged);
	RUN(s, 0, "audit", "verify");
	OUT_HAS(s, "audit log intact"); /* consistent: the chain alone cannot tell */
	RUN(s, 65, "audit", "verify", "--expect-head", head);
	OUT_HAS(s, "does not contain the expected head");
	RUN(s, 65, "audit", "verify", "--pubkey", pub);
	OUT_HAS(s, "no checkpoint signed with this key");
	RUN(s, 65, "audit", "verify", "--pubkey", pub, "--checkpoint", cp);
	OUT_HAS(s, "was rewritten");
	RUN(s, 64, "audit", "verify", "--expect-head", "abc");
}

/* The tail cut off: the store put back as it was before the last
 * checkpoint's records (a consistent earlier state), or its last records
 * deleted. */
static void cut_tail_found(void **state)
{
	scen *s = *state;
	const char *key = scen_path(s, "audit.key"), *cp = scen_path(s, "cp.txt");
	const char *early = scen_path(s, "early.db");
	char pub[400];
	int64_t last;
	prepare(s, "high");
	copy_file(s->db, early);
	INGEST(s, THREAT("ios-alice", "high", "1709252000"));
	RUN(s, 0, "evaluate");
	RUN(s, 0, "audit", "keygen", "--key", key);
	snprintf(pub, sizeof pub, "%s.pub", key);
	RUN(s, 0, "audit", "checkpoint", "--key", key, "--out", cp);
	last = scen_q_int(s, "SELECT max(seq) FROM audit");

	/* the last records deleted (a seal among them) */
	{
		char sql[512];
		const char *cut = scen_path(s, "cut.db");
		copy_file(s->db, cut);
		snprintf(sql, sizeof sql,
			 "DROP TRIGGER audit_no_delete; DELETE FROM audit WHERE seq >= %lld",
			 (long long)last - 1);
		tamper(cut, sql);
		copy_file(cut, s->db);
		RUN(s, 65, "audit", "verify", "--pubkey", pub, "--checkpoint", cp);
		OUT_HAS(s, "audit log BROKEN");
	}
	copy_file(early, s->db);
	RUN(s, 0, "audit", "verify");
	OUT_HAS(s, "audit log intact");
	RUN(s, 65, "audit", "verify", "--pubkey", pub, "--checkpoint", cp);
	OUT_HAS(s, "were cut off");
}

/* Every table's content, hashed: what a corruption may change silently. */
static int content_of(const char *path, unsigned long long *out)
{
	sqlite3 *db = NULL;
	sqlite3_stmt *names = NULL;
	unsigned long long h = 1469598103934665603ull;
	int rc = -1;
	if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK ||
	    sqlite3_prepare_v2(db, "SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name",
			       -1, &names, NULL) != SQLITE_OK)
		goto out;
	while (sqlite3_step(names) == SQLITE_ROW) {
		char sql[200];
		sqlite3_stmt *st = NULL;
		int step;
		snprintf(sql, sizeof sql, "SELECT * FROM \"%s\"", sqlite3_column_text(names, 0));
		if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK)
			goto out;
		while ((step = sqlite3_step(st)) == SQLITE_ROW)
			for (int i = 0; i < sqlite3_column_count(st); i++) {
				const unsigned char *p = sqlite3_column_blob(st, i);
				int n = sqlite3_column_bytes(st, i);
				h = (h ^ (unsigned)sqlite3_column_type(st, i)) * 1099511628211ull;
				for (int k = 0; k < n; k++)
					h = (h ^ p[k]) * 1099511628211ull;
			}
		sqlite3_finalize(st);
		if (step != SQLITE_DONE)
			goto out;
	}
	rc = sqlite3_finalize(names) == SQLITE_OK ? 0 : -1;
	names = NULL;
	*out = h;
out:
	sqlite3_finalize(names);
	sqlite3_close(db);
	return rc;
}

/* 1 when SQLite's own integrity check passes on path. */
static int sqlite_says_ok(const char *path)
{
	sqlite3 *db = NULL;
	sqlite3_stmt *st = NULL;
	int ok = sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL) == SQLITE_OK &&
		 sqlite3_prepare_v2(db, "PRAGMA integrity_check", -1, &st, NULL) == SQLITE_OK &&
		 sqlite3_step(st) == SQLITE_ROW &&
		 !strcmp((const char *)sqlite3_column_text(st, 0), "ok");
	sqlite3_finalize(st);
	sqlite3_close(db);
	return ok;
}

/* The store with byte off flipped; verify must fail and say what when the
 * content changed. 1 when it changed, 2 when SQLite's integrity check did
 * not see it (then the row check must have). */
static int flip_and_verify(scen *s, char *b, size_t n, long off, unsigned long long want)
{
	unsigned long long got;
	FILE *f;
	int silent;
	b[off] ^= 0x04;
	f = fopen(s->db, "wb");
	assert_non_null(f);
	assert_int_equal(fwrite(b, 1, n, f), n);
	fclose(f);
	b[off] ^= 0x04;
	if (content_of(s->db, &got) == 0 && got == want)
		return 0; /* free space, or an index: the content is the same */
	silent = sqlite_says_ok(s->db);
	scen_runv(s, NULL, 0, (const char *[]){"audit", "verify", NULL});
	if (s->status != 65 || !strstr(s->out, "audit log BROKEN") ||
	    !(strstr(s->out, "(table ") || strstr(s->out, "damaged") ||
	      strstr(s->out, "audit record") || strstr(s->out, "decision")))
		fail_msg("byte %ld changed the content%s, verify said (%d): %s%s", off,
			 silent ? " (SQLite's integrity check saw nothing)" : "", s->status, s->out,
			 s->err);
	if (silent && !strstr(s->out, "(table ") && !strstr(s->out, "audit record") &&
	    !strstr(s->out, "decision"))
		fail_msg("byte %ld: a silent change not named: %s", off, s->out);
	return silent ? 2 : 1;
}

/* A byte flipped in the data part of pages, one place at a time: wherever
 * the content changed (or cannot be read), verify fails and says what;
 * where SQLite's integrity check sees nothing (a value of a table without
 * an index on it), the row check names the row. */
static void page_corruption_found(void **state)
{
	static const char *const tables[] = {"reports", "connectors", "apps", "meta", "devices"};
	scen *s = *state;
	const char *clean = scen_path(s, "clean.db");
	unsigned long long want;
	size_t n = 0;
	long pages, psize, changed = 0, silent = 0;
	char *b;
	prepare(s, "high");
	tamper(s->db, "PRAGMA wal_checkpoint(TRUNCATE)");
	copy_file(s->db, clean);
	assert_int_equal(content_of(clean, &want), 0);
	b = scen_own(s, scen_slurp(clean, &n));
	psize = (long)scen_q_int(s, "PRAGMA page_size");
	pages = (long)n / psize;
	assert_true(pages >= 10);
	/* every page but the header, three places each */
	for (long p = 1; p < pages; p++)
		for (int w = 0; w < 3; w++) {
			long off = p * psize + (w == 0   ? psize - 1 - (p * 37) % (psize / 4)
						: w == 1 ? psize / 2 + (p * 53) % (psize / 4)
							 : psize - 2 - (p * 101) % (psize / 2));
			int r = flip_and_verify(s, b, n, off, want);
			changed += r > 0;
			silent += r == 2;
		}
	/* the last bytes of the tables' root pages, where their rows are */
	for (size_t t = 0; t < sizeof tables / sizeof *tables; t++) {
		char sql[128];
		long root;
		snprintf(sql, sizeof sql, "SELECT rootpage FROM sqlite_master WHERE name = '%s'",
			 tables[t]);
		root = (long)scen_q_int(s, sql);
		assert_true(root > 1 && root <= pages);
		for (long j = 0; j < 24; j++) {
			int r = flip_and_verify(s, b, n, (root - 1) * psize + psize - 1 - j * 5, want);
			changed += r > 0;
			silent += r == 2;
		}
	}
	print_message("%ld pages: %ld corruptions changed content, all caught; %ld of them "
		      "SQLite's integrity check did not see, the row check named\n",
		      pages, changed, silent);
	assert_true(changed >= 20);
	assert_true(silent >= 5);
}

/* Run mtdgate verify as someone who cannot write the store or its
 * directory: read-only media, as far as SQLite can tell. */
static int run_readonly(scen *s, const char *out_path)
{
	pid_t pid;
	int st = 0;
	char now[32];
	snprintf(now, sizeof now, "%lld", (long long)s->now);
	pid = fork();
	if (pid == 0) {
		int fd = open(out_path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
		if (fd < 0)
			_exit(120);
		dup2(fd, 1);
		dup2(fd, 2);
		if (geteuid() == 0 && (setgroups(0, NULL) || setgid(65534) || setuid(65534)))
			_exit(121);
		execl(MTDGATE_BIN, "mtdgate", "--db", s->db, "--rules", s->rules, "--now", now, "audit",
		      "verify", (char *)NULL);
		_exit(122);
	}
	if (pid < 0 || waitpid(pid, &st, 0) != pid)
		return -1;
	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static void readonly_store_verifies(void **state)
{
	scen *s = *state;
	char *text;
	int rc;
	prepare(s, "high");
	/* the directory and the store: readable, not writable */
	assert_int_equal(chmod(s->dir, 0555), 0);
	assert_int_equal(chmod(s->db, 0444), 0);
	{
		/* the output goes elsewhere: the directory is not writable */
		char tmpl[] = "/tmp/mtdro.XXXXXX";
		int fd = mkstemp(tmpl);
		assert_true(fd >= 0);
		close(fd);
		chmod(tmpl, 0666);
		rc = run_readonly(s, tmpl);
		text = scen_slurp(tmpl, NULL);
		unlink(tmpl);
	}
	chmod(s->dir, 0700);
	chmod(s->db, 0600);
	assert_non_null(text);
	scen_own(s, text);
	if (rc != 0 || !strstr(text, "audit log intact"))
		fail_msg("read-only verify exited %d: %s", rc, text);
	assert_null(strstr(text, "readonly"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(each_table_edit_named, setup, teardown),
		cmocka_unit_test_setup_teardown(identity_edit_named, setup, teardown),
		cmocka_unit_test_setup_teardown(edit_then_evaluate_found, setup, teardown),
		cmocka_unit_test_setup_teardown(keys_and_checkpoints, setup, teardown),
		cmocka_unit_test_setup_teardown(consistent_rewrite_found, setup, teardown),
		cmocka_unit_test_setup_teardown(cut_tail_found, setup, teardown),
		cmocka_unit_test_setup_teardown(page_corruption_found, setup, teardown),
		cmocka_unit_test_setup_teardown(readonly_store_verifies, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
