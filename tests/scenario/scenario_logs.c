/* Scenarios for large inputs: the sealed block logs across many blocks and
 * several seals, --batch and --acks, and ingest through the in-memory
 * device map (a regular input file of many messages for a store of at
 * least 10,000 devices). */
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
#include "store.h"

/* store.h: a seal covers at most this many entries; a block at most
 * BLOCK_ENTRIES. */
#define SEAL_ROWS 65536
#define BLOCK_ENTRIES 1024

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


/* A growable text, owned by the scenario (slot: its place in s->owned). */
typedef struct text {
	char *p;
	size_t n, cap, slot;
} text;

static void add(scen *s, text *t, const char *fmt, ...)
{
	va_list ap;
	int w;
	for (;;) {
		va_start(ap, fmt);
		w = vsnprintf(t->p ? t->p + t->n : NULL, t->p ? t->cap - t->n : 0, fmt, ap);
		va_end(ap);
		assert_true(w >= 0);
		if (t->p && (size_t)w < t->cap - t->n)
			break;
		{
			size_t cap = t->cap ? t->cap * 2 : 65536;
			char *np;
			while (cap - t->n <= (size_t)w)
				cap *= 2;
			if (!t->p) {
				np = scen_own(s, malloc(cap));
				t->slot = s->nowned - 1;
			} else if ((np = realloc(t->p, cap))) {
				s->owned[t->slot] = np;
			} else {
				fail_msg("out of memory"); /* t->p is still the scenario's */
			}
			t->p = np;
			t->cap = cap;
		}
	}
	t->n += (size_t)w;
}

/* ---- the sealed message log across blocks and seals ---- */

/* Change the level carried by the middle entry of the message_log row seq
 * (n identical heartbeat entries) behind mtdgate's back, the no-update
 * trigger dropped first. The entry still reads: past the block's first,
 * each is six one-byte varints (store.h): the differences of device and
 * time (0), type, level (-1, zigzag 1), via (0) and no code, and a level
 * of -2 (zigzag 3) changes only that value. */
static void tamper_middle_entry(scen *s, int64_t seq)
{
	int n = 0;
	size_t len = 0, at;
	const unsigned char *b = scen_log_entries(s, "message_log", seq, &n, &len);
	at = len - (size_t)(n - n / 2) * 6; /* the middle entry, of the last n - n/2 */
	if (n < 3 || b[0] != MTD_LOG_ROWS_LAYOUT || len < (size_t)(n - n / 2) * 6 + 1)
		fail_msg("message_log row %lld: not %d compact entries (%zu bytes)", (long long)seq, n,
			 len);
	scen_poke_log(s, "message_log", seq, at + 2, 1, 3);
}

static void seals_across_blocks(void **state)
{
	scen *s = *state;
	/* more than a seal's worth, and a block's worth more: at least two seals */
	const int n = SEAL_ROWS + BLOCK_ENTRIES + 600;
	text t = {0};
	char want[128], sql[256];
	const char *in;
	int64_t before, rows, mid, seals, intact;
	const char *broken;

	SETUP(s, SCEN_FLEET);
	before = scen_q_int(s, "SELECT max(seq) FROM audit");
	for (int i = 0; i < n; i++)
		add(s, &t, "{\"type\":\"heartbeat\",\"at\":\"2024-03-01T00:00:00Z\"}\n");
	in = scen_write(s, "beats.jsonl", t.p, t.n);
	/* one transaction: the seals come from the count, not from commits */
	RUN(s, 0, "--batch", "100000", "ingest", "generic", "--normalized", in);
	snprintf(want, sizeof want, "%d records, %d accepted, 0 rejected, 0 malformed", n, n);
	OUT_HAS(s, want);
	RUN(s, 0, "audit", "verify");
	OUT_HAS(s, "audit log intact");

	/* every entry is in a block of at most 1024, every one of them sealed,
	 * no seal over more than 65536 */
	snprintf(sql, sizeof sql, "SELECT sum(n) FROM message_log WHERE seq > %lld", (long long)before);
	assert_int_equal(scen_q_int(s, sql), n);
	snprintf(sql, sizeof sql, "SELECT max(n) FROM message_log WHERE seq > %lld", (long long)before);
	assert_true(scen_q_int(s, sql) <= BLOCK_ENTRIES);
	snprintf(sql, sizeof sql, "SELECT count(*) FROM message_log WHERE seq > %lld",
		 (long long)before);
	rows = scen_q_int(s, sql);
	assert_true(rows >= (n + BLOCK_ENTRIES - 1) / BLOCK_ENTRIES);
	snprintf(sql, sizeof sql,
		 "SELECT count(*) FROM audit WHERE kind = 'seal' AND seq > %lld"
		 " AND json_extract(detail, '$.log') = 'messages'", (long long)before);
	seals = scen_q_int(s, sql);
	assert_true(seals >= 2);
	snprintf(sql, sizeof sql,
		 "SELECT sum(json_extract(detail, '$.rows')) FROM audit WHERE kind = 'seal'"
		 " AND seq > %lld AND json_extract(detail, '$.log') = 'messages'", (long long)before);
	assert_int_equal(scen_q_int(s, sql), n);
	snprintf(sql, sizeof sql,
		 "SELECT max(json_extract(detail, '$.rows')) FROM audit WHERE kind = 'seal'"
		 " AND json_extract(detail, '$.log') = 'messages'");
	assert_true(scen_q_int(s, sql) <= SEAL_ROWS);
	/* and they all show, in order */
	RUN(s, 0, "audit", "show", "--kind", "message", "--vendor", "generic");
	{
		long lines = 0, last = 0;
		const char *body = strchr(s->out, '\n'); /* after the table's header */
		assert_non_null(strstr(s->out, "SEQ"));
		for (const char *p = body ? body + 1 : s->out; *p; lines++) {
			const char *nl = strchr(p, '\n');
			char line[128];
			long seq = atol(p);
			snprintf(line, sizeof line, "%.*s", (int)(nl ? nl - p : 100), p);
			if (seq <= last || !strstr(line, " message "))
				fail_msg("not a message record after record %ld: %s", last, line);
			last = seq;
			p = nl ? nl + 1 : p + strlen(p);
		}
		assert_int_equal(lines, n + 1); /* + the provision */
	}

	/* the time of an entry in the middle block changed: its seal, the one
	 * over the first 65536, no longer matches */
	snprintf(sql, sizeof sql,
		 "SELECT seq FROM message_log WHERE seq > %lld ORDER BY seq LIMIT 1 OFFSET %lld",
		 (long long)before, (long long)(rows / 2));
	mid = scen_q_int(s, sql);
	tamper_middle_entry(s, mid);
	RUN(s, 65, "audit", "verify");
	OUT_HAS(s, "seals 65536 messages entries");
	OUT_HAS(s, "do not match it");
	broken = strstr(s->out, "BROKEN after ");
	assert_non_null(broken);
	intact = atoll(broken + strlen("BROKEN after "));
	if (intact < mid - 1)
		fail_msg("verify says only %lld records are intact; the change is at record %lld or "
			 "later:\n%s", (long long)intact, (long long)mid, s->out);
}

/* ---- --batch and --acks ---- */

static void batch_option(void **state)
{
	scen *s = *state;
	static const char *const bad[] = {"0", "x", "20000000", "", "-1", "12abc"};
	const char *in, *a, *b, *c;

	for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
		RUN(s, 64, "--batch", bad[i], "init");
		ERR_HAS(s, "--batch");
		assert_false(scen_exists(s->db));
	}
	RUN(s, 64, "init", "--batch");
	ERR_HAS(s, "--batch");

	RUN(s, 0, "--batch", "10000000", "init");
	RUN(s, 0, "--batch", "1", "device", "import", scen_writes(s, "d.jsonl", SCEN_FLEET));
	OUT_HAS(s, "7 imported");
	RUN(s, 0, "connector", "add", "generic");
	in = scen_writes(s, "five.jsonl",
			 "{\"type\":\"provision\",\"at\":\"2024-03-01T00:00:00Z\"}\n"
			 "{\"type\":\"heartbeat\",\"at\":\"2024-03-01T00:00:01Z\"}\n"
			 "{\"type\":\"heartbeat\",\"at\":\"2024-03-01T00:00:02Z\"}\n"
			 "{\"type\":\"heartbeat\",\"at\":\"2024-03-01T00:00:03Z\"}\n"
			 "{\"type\":\"heartbeat\",\"at\":\"2024-03-01T00:00:04Z\"}\n");
	/* global options stand anywhere on the line */
	RUN(s, 0, "ingest", "generic", "--normalized", "--batch", "2", "--acks", in);
	a = strstr(s->out, "acknowledged 2 records\n");
	b = strstr(s->out, "acknowledged 4 records\n");
	c = strstr(s->out, "acknowledged 5 records\n");
	if (!a || !b || !c || !(a < b && b < c) || strstr(c + 1, "acknowledged"))
		fail_msg("expected acknowledgements after 2, 4 and 5 records, in order, got:\n%s",
			 s->out);
	OUT_HAS(s, "generic: 5 records, 5 accepted");
	RUN(s, 0, "--batch", "2", "ingest", "generic", "--normalized", in);
	assert_null(strstr(s->out, "acknowledged"));
	/* a count that is a multiple of the batch: each batch acknowledged once */
	in = scen_writes(s, "four.jsonl",
			 "{\"type\":\"heartbeat\",\"at\":\"2024-03-01T00:00:05Z\"}\n"
			 "{\"type\":\"heartbeat\",\"at\":\"2024-03-01T00:00:06Z\"}\n"
			 "{\"type\":\"heartbeat\",\"at\":\"2024-03-01T00:00:07Z\"}\n"
			 "{\"type\":\"heartbeat\",\"at\":\"2024-03-01T00:00:08Z\"}\n");
	RUN(s, 0, "--batch", "2", "--acks", "ingest", "generic", "--normalized", in);
	a = strstr(s->out, "acknowledged 2 records\n");
	b = strstr(s->out, "acknowledged 4 records\n");
	if (!a || !b || a > b || strstr(b + 1, "acknowledged"))
		fail_msg("expected one acknowledgement after 2 and one after 4 records, got:\n%s",
			 s->out);
	RUN(s, 0, "audit", "verify");
}

/* ---- ingest through the device map ---- */

#define NDEV 10000

/* Device i: ids of several lengths, many a prefix of another (dev-1,
 * dev-10, dev-100...), some as long as an id may be (128 bytes). */
static void dev_id(int i, char *buf, size_t n)
{
	if (i % 97 == 0)
		snprintf(buf, n, "dev-%d-%0*d", i, 122 - (i >= 1000 ? 4 : i >= 100 ? 3 : i >= 10 ? 2 : 1),
			 0);
	else
		snprintf(buf, n, "dev-%d", i);
}

static const char *const levels[] = {"secured", "low", "medium", "high"};

static void device_map(void **state)
{
	scen *s = *state;
	text dev = {0}, msg = {0};
	char id[160], want[200];
	const char *in, *all;
	size_t lines = 0;

	for (int i = 0; i < NDEV; i++) {
		dev_id(i, id, sizeof id);
		assert_true(strlen(id) <= 128);
		add(s, &dev, "{\"id\":\"%s\",\"platform\":\"%s\",\"os_version\":\"17.4\","
			     "\"ownership\":\"corporate\",\"management\":\"enrolled\"}\n",
		    id, i % 2 ? "ios" : "android");
	}
	SETUP(s, dev.p);
	RUN(s, 0, "connector", "set", "generic", "ios=on", "android=on");
	/* one threat message per device, plus one for a device never imported
	 * (a neighbour of the real ids) at line 5001 */
	for (int i = 0; i < NDEV; i++) {
		dev_id(i, id, sizeof id);
		if (i == 5000)
			add(s, &msg, "{\"type\":\"threat\",\"device\":\"dev-10000\",\"level\":\"high\","
				     "\"at\":\"2024-03-01T01:00:00Z\"}\n");
		add(s, &msg, "{\"type\":\"threat\",\"device\":\"%s\",\"level\":\"%s\","
			     "\"at\":\"2024-03-01T01:00:00Z\"}\n", id, levels[i % 4]);
	}
	/* the map is used for a regular file of at least devices / 4 minimal
	 * (48-byte) messages */
	assert_true(msg.n / 48 >= NDEV / 4);
	in = scen_write(s, "threats.jsonl", msg.p, msg.n);
	scen_day(s, 0, 3600);
	RUN(s, 0, "ingest", "generic", "--normalized", in);
	ERR_HAS(s, "threats.jsonl line 5001: parked: unknown device 'dev-10000'");
	snprintf(want, sizeof want, "%d records, %d accepted, 0 rejected, 0 malformed, 1 parked",
		 NDEV + 1, NDEV);
	OUT_HAS(s, want);
	assert_int_equal(scen_q_int(s, "SELECT count(*) FROM reports"), NDEV);

	/* each device got its own message: its level in the report */
	RUN(s, 0, "evaluate");
	all = REPORT_ALL(s);
	for (const char *p = all; *p; lines++) {
		const char *nl = strchr(p, '\n');
		size_t l = nl ? (size_t)(nl - p) : strlen(p);
		json_t *r = json_loadb(p, l, 0, NULL);
		const char *dv = jstr(r, "device"), *lv = jstr(r, "level");
		int i = atoi(dv + 4);
		int ok = !strncmp(dv, "dev-", 4) && i >= 0 && i < NDEV &&
			 !strcmp(lv, levels[i % 4]) &&
			 !strcmp(jstr(json_object_get(r, "vendors"), "generic"), levels[i % 4]);
		if (!ok)
			snprintf(want, sizeof want, "%s: level %s", dv, lv);
		json_decref(r);
		if (!ok)
			fail_msg("a device does not have the level of its own message: %s", want);
		p += l + (nl ? 1 : 0);
	}
	assert_int_equal(lines, NDEV);
	dev_id(4850, id, sizeof id); /* a long id */
	FIELD(s, REPORT(s, id), "level", levels[4850 % 4]);
	FIELD(s, REPORT(s, "dev-1"), "level", "low");
	FIELD(s, REPORT(s, "dev-10"), "level", "medium");
	FIELD(s, REPORT(s, "dev-9999"), "level", "high");
	FIELD(s, REPORT(s, "dev-9999"), "state", "noncompliant");

	/* a small input (no map) on the same store agrees */
	scen_day(s, 0, 7200);
	INGEST(s, "{\"type\":\"threat\",\"device\":\"dev-10\",\"level\":\"high\","
		  "\"at\":\"2024-03-01T02:00:00Z\"}\n");
	RUN(s, 0, "evaluate");
	OUT_HAS(s, "1 decisions changed");
	FIELD(s, REPORT(s, "dev-10"), "level", "high");
	RUN(s, 0, "audit", "verify");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(seals_across_blocks, setup, teardown),
		cmocka_unit_test_setup_teardown(batch_option, setup, teardown),
		cmocka_unit_test_setup_teardown(device_map, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
