/* Unit tests of core/store: creation and permissions, schema version and
 * migrations, WAL, the statement cache, meta values, transactions and the
 * append-only audit log. */
#include "testutil.h"

#include <fcntl.h>
#include <sqlite3.h>
#include <sys/stat.h>
#include <unistd.h>

#include "codec.h"
#include "mtdgate/mtdgate.h"
#include "store.h"
#include "store_fleet.h"
#include "store_ingest.h"

typedef struct fx {
	char dir[256];
	char db[512];
	char err[512];
	mtd_store *s; /* the store open_ok opened last, closed by the teardown */
} fx;

static int setup(void **state)
{
	fx *f = calloc(1, sizeof *f);
	if (!f)
		return -1;
	tu_mkdtemp(f->dir, "store");
	snprintf(f->db, sizeof f->db, "%s/mtd.db", f->dir);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	fx *f = *state;
	mtd_store_close(f->s);
	tu_rmtree(f->dir);
	free(f);
	return 0;
}

static mtd_store *open_ok(fx *f, int create)
{
	mtd_store *s = NULL;
	f->err[0] = '\0';
	int rc = mtd_store_open(f->db, create, &s, f->err, sizeof f->err);
	if (rc != 0)
		fail_msg("mtd_store_open(%s, create=%d) = %d: %s", f->db, create, rc, f->err);
	assert_non_null(s);
	f->s = s;
	return s;
}

/* Close what open_ok opened. */
static void close_store(fx *f)
{
	mtd_store_close(f->s);
	f->s = NULL;
}

static int64_t q_int(sqlite3 *db, const char *sql)
{
	sqlite3_stmt *st;
	int64_t v = -1;
	if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK)
		fail_msg("%s: %s", sql, sqlite3_errmsg(db));
	if (sqlite3_step(st) == SQLITE_ROW)
		v = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	return v;
}

static void q_text(sqlite3 *db, const char *sql, char *buf, size_t n)
{
	sqlite3_stmt *st;
	buf[0] = '\0';
	if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK)
		fail_msg("%s: %s", sql, sqlite3_errmsg(db));
	if (sqlite3_step(st) == SQLITE_ROW && sqlite3_column_text(st, 0))
		snprintf(buf, n, "%s", (const char *)sqlite3_column_text(st, 0));
	sqlite3_finalize(st);
}

/* Run SQL directly on a file, outside the store module. */
static void raw_exec(const char *path, const char *sql)
{
	sqlite3 *db;
	char *e = NULL;
	assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
	if (sqlite3_exec(db, sql, NULL, NULL, &e) != SQLITE_OK)
		fail_msg("%s: %s", sql, e);
	sqlite3_close(db);
}

static int mode_of(const char *path)
{
	struct stat sb;
	if (stat(path, &sb) != 0)
		return -1;
	return (int)(sb.st_mode & 07777);
}

static void create_mode_version_wal(void **state)
{
	fx *f = *state;
	mtd_store *s;
	char buf[64], wal[600];
	mode_t old = umask(0); /* even with a permissive umask */

	s = open_ok(f, 1);
	umask(old);
	assert_int_equal(mode_of(f->db), 0600);
	assert_int_equal(q_int(mtd_store_db(s), "PRAGMA user_version"), MTD_SCHEMA_VERSION);
	q_text(mtd_store_db(s), "PRAGMA journal_mode", buf, sizeof buf);
	assert_string_equal(buf, "wal");
	assert_int_equal(q_int(mtd_store_db(s), "PRAGMA foreign_keys"), 1);
	/* the schema of SPEC 4: every table is there */
	static const char *const tables[] = {"meta", "groups", "groupsets", "groupset_members",
					     "devices", "connectors", "reports", "apps",
					     "decision_blocks", "audit"};
	for (size_t i = 0; i < sizeof tables / sizeof *tables; i++) {
		char sql[200];
		snprintf(sql, sizeof sql,
			 "SELECT count(*) FROM sqlite_master WHERE type='table' AND name='%s'",
			 tables[i]);
		if (q_int(mtd_store_db(s), sql) != 1)
			fail_msg("table %s missing", tables[i]);
	}
	/* the WAL file holds the same data: same permissions */
	assert_int_equal(mtd_store_meta_set(s, "cloud", "commercial"), 0);
	snprintf(wal, sizeof wal, "%s-wal", f->db);
	assert_int_equal(mode_of(wal), 0600);
	close_store(f);

	/* reopen without create: same version, data kept */
	s = open_ok(f, 0);
	assert_int_equal(q_int(mtd_store_db(s), "PRAGMA user_version"), MTD_SCHEMA_VERSION);
	assert_int_equal(mtd_store_meta_get(s, "cloud", buf, sizeof buf), 0);
	assert_string_equal(buf, "commercial");
	q_text(mtd_store_db(s), "PRAGMA journal_mode", buf, sizeof buf);
	assert_string_equal(buf, "wal");
	close_store(f);

	/* open with create on an existing store: a no-op, data kept */
	s = open_ok(f, 1);
	assert_int_equal(mtd_store_meta_get(s, "cloud", buf, sizeof buf), 0);
	assert_string_equal(buf, "commercial");
	assert_int_equal(q_int(mtd_store_db(s), "PRAGMA user_version"), MTD_SCHEMA_VERSION);
	close_store(f);
}

static void open_missing(void **state)
{
	fx *f = *state;
	mtd_store *s = (mtd_store *)1;
	char path[600];
	int rc;

	rc = mtd_store_open(f->db, 0, &s, f->err, sizeof f->err);
	assert_int_equal(rc, MTD_ENOTFOUND);
	assert_null(s);
	assert_contains(f->err, f->db);
	assert_one_line(f->err);
	assert_int_equal(mode_of(f->db), -1); /* nothing was created */

	/* create in a directory that does not exist */
	snprintf(path, sizeof path, "%s/no/such/dir/mtd.db", f->dir);
	f->err[0] = '\0';
	rc = mtd_store_open(path, 1, &s, f->err, sizeof f->err);
	assert_true(rc < 0);
	assert_null(s);
	assert_contains(f->err, path);
}

/* Issue 19, finding 8: a store others can read or write, or that someone
 * else owns, is refused on every open, init (create) included. */
static void open_not_private(void **state)
{
	fx *f = *state;
	mtd_store *s = NULL;
	char wal[600];

	mtd_store_close(open_ok(f, 1));
	f->s = NULL;
	assert_int_equal(chmod(f->db, 0644), 0);
	assert_int_equal(mtd_store_open(f->db, 0, &s, f->err, sizeof f->err), MTD_EREFUSED);
	assert_null(s);
	assert_contains(f->err, "mode 0644");
	assert_int_equal(mtd_store_open(f->db, 1, &s, f->err, sizeof f->err), MTD_EREFUSED);
	assert_int_equal(chmod(f->db, 0600), 0);
	/* a -wal planted beside it, readable by others */
	snprintf(wal, sizeof wal, "%s-wal", f->db);
	close(open(wal, O_CREAT | O_WRONLY, 0666));
	assert_int_equal(chmod(wal, 0666), 0);
	assert_int_equal(mtd_store_open(f->db, 0, &s, f->err, sizeof f->err), MTD_EREFUSED);
	assert_contains(f->err, "-wal");
	unlink(wal);
	if (geteuid() == 0) { /* someone else's file, mode 0600 */
		assert_int_equal(chown(f->db, 4242, 4242), 0);
		assert_int_equal(mtd_store_open(f->db, 1, &s, f->err, sizeof f->err), MTD_EREFUSED);
		assert_contains(f->err, "owned by uid 4242");
		assert_int_equal(chown(f->db, 0, 0), 0);
	}
	open_ok(f, 0); /* closed by the teardown */
}

static void open_not_a_store(void **state)
{
	fx *f = *state;
	mtd_store *s = NULL;
	int rc;

	/* an SQLite database that is not ours (user_version 0): refused, also
	 * for creating a store in it */
	raw_exec(f->db, "CREATE TABLE other(x)");
	assert_int_equal(chmod(f->db, 0600), 0);
	rc = mtd_store_open(f->db, 0, &s, f->err, sizeof f->err);
	assert_int_equal(rc, MTD_EREFUSED);
	assert_null(s);
	assert_contains(f->err, "not an mtdgate store");
	assert_int_equal(mtd_store_open(f->db, MTD_STORE_CREATE, &s, f->err, sizeof f->err),
			 MTD_EREFUSED);
	assert_null(s);
	tu_rmtree(f->dir);
	tu_mkdtemp(f->dir, "store");
	snprintf(f->db, sizeof f->db, "%s/mtd.db", f->dir);

	/* not SQLite at all */
	tu_write_str(f->dir, "mtd.db", "this is not a database, just some text that is long enough "
				       "to have an SQLite header's worth of bytes in it............");
	f->err[0] = '\0';
	rc = mtd_store_open(f->db, 0, &s, f->err, sizeof f->err);
	assert_true(rc < 0);
	assert_null(s);
	assert_true(f->err[0] != '\0');
	f->err[0] = '\0';
	rc = mtd_store_open(f->db, 1, &s, f->err, sizeof f->err);
	assert_true(rc < 0);
	assert_null(s);
	assert_true(f->err[0] != '\0');
}

static void refuse_newer_schema(void **state)
{
	fx *f = *state;
	mtd_store *s;
	sqlite3 *db;
	char sql[64];
	int rc;

	s = open_ok(f, 1);
	close_store(f);
	snprintf(sql, sizeof sql, "PRAGMA user_version = %d", MTD_SCHEMA_VERSION + 1);
	raw_exec(f->db, sql);

	for (int create = 0; create <= 1; create++) {
		char want[64];
		s = NULL;
		f->err[0] = '\0';
		rc = mtd_store_open(f->db, create, &s, f->err, sizeof f->err);
		assert_int_equal(rc, MTD_ESTORE);
		assert_null(s);
		snprintf(want, sizeof want, "schema version %d", MTD_SCHEMA_VERSION + 1);
		assert_contains(f->err, want);
		assert_one_line(f->err);
	}
	/* and the file was left as it was */
	assert_int_equal(sqlite3_open(f->db, &db), SQLITE_OK);
	assert_int_equal(q_int(db, "PRAGMA user_version"), MTD_SCHEMA_VERSION + 1);
	sqlite3_close(db);
}

static int64_t audit_count(mtd_store *s)
{
	return q_int(mtd_store_db(s), "SELECT count(*) FROM audit");
}

static void audit_append_only(void **state)
{
	fx *f = *state;
	mtd_store *s = open_ok(f, 1);
	sqlite3 *db = mtd_store_db(s);
	char buf[256];
	char *e = NULL;

	assert_int_equal(mtd_store_audit(s, 100, "init", NULL, NULL, "{\"cloud\":\"commercial\"}"), 0);
	assert_int_equal(mtd_store_audit(s, 200, "message", "lookout", "dev-1", NULL), 0);
	assert_int_equal(mtd_store_audit(s, 300, "decision", NULL, "dev-1", "{\"x\":1}"), 0);
	assert_int_equal(audit_count(s), 3);
	q_text(db, "SELECT detail FROM audit WHERE at = 200", buf, sizeof buf);
	assert_string_equal(buf, "{}"); /* NULL detail stored as an empty object */
	q_text(db, "SELECT vendor FROM audit WHERE at = 200", buf, sizeof buf);
	assert_string_equal(buf, "lookout");
	assert_int_equal(q_int(db, "SELECT count(*) FROM audit WHERE vendor IS NULL"), 2);

	/* UPDATE refused by the trigger */
	assert_int_not_equal(sqlite3_exec(db, "UPDATE audit SET kind = 'forged' WHERE at = 200",
					  NULL, NULL, &e),
			     SQLITE_OK);
	assert_contains(e, "append-only");
	sqlite3_free(e);
	e = NULL;
	/* DELETE refused */
	assert_int_not_equal(sqlite3_exec(db, "DELETE FROM audit", NULL, NULL, &e), SQLITE_OK);
	assert_contains(e, "append-only");
	sqlite3_free(e);
	e = NULL;
	assert_int_not_equal(sqlite3_exec(db, "DELETE FROM audit WHERE at = 100", NULL, NULL, &e),
			     SQLITE_OK);
	sqlite3_free(e);
	e = NULL;
	/* an upsert that would rewrite a row is an UPDATE too */
	assert_int_not_equal(
		sqlite3_exec(db,
			     "INSERT INTO audit(seq, at, kind, detail) VALUES(1, 1, 'forged', '{}')"
			     " ON CONFLICT(seq) DO UPDATE SET kind = excluded.kind",
			     NULL, NULL, &e),
		SQLITE_OK);
	sqlite3_free(e);
	e = NULL;
	/* and REPLACE (delete + insert) must not get around the triggers */
	sqlite3_exec(db, "INSERT OR REPLACE INTO audit(seq, at, kind, detail)"
			 " VALUES(1, 1, 'forged', '{}')",
		     NULL, NULL, &e);
	sqlite3_free(e);
	e = NULL;
	q_text(db, "SELECT kind FROM audit WHERE seq = 1", buf, sizeof buf);
	if (strcmp(buf, "init") != 0)
		fail_msg("audit row 1 was rewritten by INSERT OR REPLACE: kind is now '%s'", buf);

	assert_int_equal(audit_count(s), 3);
	q_text(db, "SELECT group_concat(kind) FROM (SELECT kind FROM audit ORDER BY seq)", buf,
	       sizeof buf);
	assert_string_equal(buf, "init,message,decision");
	close_store(f);

	/* still append-only after a reopen */
	s = open_ok(f, 0);
	assert_int_not_equal(sqlite3_exec(mtd_store_db(s), "DELETE FROM audit", NULL, NULL, &e),
			     SQLITE_OK);
	sqlite3_free(e);
	assert_int_equal(mtd_store_audit(s, 400, "more", NULL, NULL, NULL), 0);
	assert_int_equal(audit_count(s), 4);
	close_store(f);
}

static void meta_get_set(void **state)
{
	fx *f = *state;
	mtd_store *s = open_ok(f, 1);
	char buf[64], small[4];

	assert_int_equal(mtd_store_meta_get(s, "cloud", buf, sizeof buf), MTD_ENOTFOUND);
	assert_int_equal(mtd_store_meta_set(s, "cloud", "gcc_high"), 0);
	assert_int_equal(mtd_store_meta_get(s, "cloud", buf, sizeof buf), 0);
	assert_string_equal(buf, "gcc_high");
	assert_int_equal(mtd_store_meta_set(s, "cloud", "commercial"), 0); /* overwrite */
	assert_int_equal(mtd_store_meta_get(s, "cloud", buf, sizeof buf), 0);
	assert_string_equal(buf, "commercial");
	assert_int_equal(mtd_store_meta_set(s, "other", "x"), 0);
	assert_int_equal(q_int(mtd_store_db(s), "SELECT count(*) FROM meta"), 2);
	/* a short buffer gets a NUL-terminated prefix */
	assert_int_equal(mtd_store_meta_get(s, "cloud", small, sizeof small), 0);
	assert_string_equal(small, "com");
	/* keys are data, not SQL */
	assert_int_equal(mtd_store_meta_set(s, "k'; DROP TABLE meta; --", "v"), 0);
	assert_int_equal(mtd_store_meta_get(s, "k'; DROP TABLE meta; --", buf, sizeof buf), 0);
	assert_string_equal(buf, "v");
	assert_int_equal(mtd_store_meta_get(s, "missing", buf, sizeof buf), MTD_ENOTFOUND);
	close_store(f);

	s = open_ok(f, 0);
	assert_int_equal(mtd_store_meta_get(s, "cloud", buf, sizeof buf), 0);
	assert_string_equal(buf, "commercial");
	close_store(f);
}

static void statement_cache(void **state)
{
	fx *f = *state;
	mtd_store *s = open_ok(f, 1);
	sqlite3_stmt *a, *b;

	assert_int_equal(mtd_store_meta_set(s, "cloud", "commercial"), 0);
	a = mtd_store_stmt(s, SQL_META_GET);
	assert_non_null(a);
	sqlite3_bind_text(a, 1, "cloud", -1, SQLITE_STATIC);
	assert_int_equal(sqlite3_step(a), SQLITE_ROW); /* left mid-way */
	b = mtd_store_stmt(s, SQL_META_GET);
	assert_ptr_equal(a, b); /* prepared once */
	/* handed back reset and unbound: key is NULL, no row */
	assert_int_equal(sqlite3_step(b), SQLITE_DONE);
	b = mtd_store_stmt(s, SQL_META_GET);
	sqlite3_bind_text(b, 1, "cloud", -1, SQLITE_STATIC);
	assert_int_equal(sqlite3_step(b), SQLITE_ROW);
	assert_string_equal((const char *)sqlite3_column_text(b, 0), "commercial");
	sqlite3_reset(b);

	/* every statement of the store prepares against the schema */
	for (int i = 0; i < SQL__COUNT; i++)
		if (!mtd_store_stmt(s, (enum mtd_sql)i))
			fail_msg("statement %d does not prepare: %s", i, mtd_store_errmsg(s));
	close_store(f);
}

static void transactions(void **state)
{
	fx *f = *state;
	mtd_store *s = open_ok(f, 1);
	char buf[64];

	assert_int_equal(mtd_store_begin(s), 0);
	assert_int_equal(mtd_store_meta_set(s, "a", "1"), 0);
	assert_int_equal(mtd_store_audit(s, 1, "x", NULL, NULL, NULL), 0);
	mtd_store_rollback(s);
	assert_int_equal(mtd_store_meta_get(s, "a", buf, sizeof buf), MTD_ENOTFOUND);
	assert_int_equal(audit_count(s), 0);
	mtd_store_rollback(s); /* harmless outside a transaction */

	assert_int_equal(mtd_store_begin(s), 0);
	assert_int_equal(mtd_store_begin(s), MTD_ESTORE); /* no nesting */
	assert_true(mtd_store_errmsg(s)[0] != '\0');
	assert_int_equal(mtd_store_meta_set(s, "a", "2"), 0);
	assert_int_equal(mtd_store_commit(s), 0);
	assert_int_equal(mtd_store_commit(s), MTD_ESTORE); /* nothing to commit */
	close_store(f);

	s = open_ok(f, 0);
	assert_int_equal(mtd_store_meta_get(s, "a", buf, sizeof buf), 0);
	assert_string_equal(buf, "2");
	close_store(f);
}

/* Block logs: what the store writes decodes back exactly, numbered in
 * order around an audit record in between; and bytes that are not a block
 * (a store is input too) are refused without reading past them. */
static void log_blocks(void **state)
{
	enum { NMSG = 3000, NDEC = 2500 };
	static int64_t dev[NMSG], at[NMSG];
	static int lv[NMSG];
	fx *f = *state;
	mtd_store *s = open_ok(f, 1);
	sqlite3 *db = mtd_store_db(s);
	sqlite3_stmt *st;
	char code[129];
	size_t k = 0, total = 0;
	int64_t next = 0;

	memset(code, 'c', 128);
	code[128] = '\0';
	assert_int_equal(mtd_store_begin(s), 0);
	for (int i = 0; i < NMSG; i++) {
		const char *c = i % 7 == 3 ? (i % 2 ? "E\"x\\" : code) : NULL;
		dev[i] = i % 5 ? i * 7919 : 0;
		lv[i] = i % 6 - 1;
		at[i] = i % 13 == 1 ? INT64_MAX : i % 17 == 2 ? INT64_MIN : i % 3 ? 1709251200 + i : -i;
		assert_int_equal(mtd_store_log_message(s, 100, 1, dev[i], i % 5 ? 1 : 4, lv[i],
						       i % 12, at[i], c, c ? strlen(c) : 0, NULL),
				 0);
		if (i == NMSG / 2) /* takes a number: the open block is written first */
			assert_int_equal(mtd_store_audit(s, 100, "x", NULL, NULL, NULL), 0);
	}
	for (int i = 0; i < NDEC; i++)
		assert_int_equal(mtd_store_log_decision(s, 100, i + 1, 1000 + i % 3, i % 4 ? i : 0), 0);
	assert_int_equal(mtd_store_commit(s), 0);

	assert_int_equal(sqlite3_prepare_v2(db, "SELECT seq, n, entries FROM message_log ORDER BY seq",
					    -1, &st, NULL), SQLITE_OK);
	while (sqlite3_step(st) == SQLITE_ROW) {
		int64_t seq = sqlite3_column_int64(st, 0), n = sqlite3_column_int64(st, 1);
		const unsigned char *p = sqlite3_column_blob(st, 2);
		const unsigned char *end = p + sqlite3_column_bytes(st, 2);
		assert_true(n >= 1 && n <= MTD_BLOCK_ENTRIES);
		assert_true(seq >= next); /* in order, numbers never shared */
		mtd_log_entry e = {0}; /* a block's walk starts from zeros */
		next = seq + n;
		assert_int_equal(p[0], MTD_LOG_ROWS_LAYOUT);
		for (int64_t i = 0; i < n; i++, k++) {
			assert_int_equal(mtd_log_entry_decode(MTD_LOG_MESSAGES, &p, end, &e), 0);
			assert_true(k < NMSG);
			assert_int_equal(e.via, (int)(k % 12));
			assert_int_equal(e.device, dev[k]);
			assert_int_equal(e.level, lv[k]);
			assert_int_equal(e.msg_at, at[k]);
			assert_int_equal(e.type, k % 5 ? 1 : 4);
			assert_int_equal(e.code != NULL, k % 7 == 3);
			if (e.code)
				assert_memory_equal(e.code, k % 2 ? "E\"x\\" : code, e.ncode);
		}
		assert_ptr_equal(p, end);
		total += (size_t)n;
	}
	sqlite3_finalize(st);
	assert_int_equal(total, NMSG);
	/* the audit record between the halves split the blocks around it */
	assert_int_equal(q_int(db, "SELECT count(*) FROM message_log WHERE seq < (SELECT seq FROM"
				   " audit WHERE kind = 'x') AND seq + n > (SELECT seq FROM audit WHERE"
				   " kind = 'x')"), 0);
	assert_int_equal(q_int(db, "SELECT sum(n) FROM decision_log"), NDEC);
	assert_int_equal(sqlite3_prepare_v2(db, "SELECT n, entries FROM decision_log ORDER BY seq",
					    -1, &st, NULL), SQLITE_OK);
	k = 0;
	while (sqlite3_step(st) == SQLITE_ROW) {
		int64_t n = sqlite3_column_int64(st, 0);
		const unsigned char *p = sqlite3_column_blob(st, 1);
		const unsigned char *end = p + sqlite3_column_bytes(st, 1);
		mtd_log_entry e = {0};
		for (int64_t i = 0; i < n; i++, k++) {
			assert_int_equal(mtd_log_entry_decode(MTD_LOG_DECISIONS, &p, end, &e), 0);
			assert_int_equal(e.device, (int64_t)k + 1);
			assert_int_equal(e.outcome, 1000 + (int64_t)k % 3);
			assert_int_equal(e.prev, k % 4 ? (int64_t)k : 0);
		}
		assert_ptr_equal(p, end);
	}
	sqlite3_finalize(st);
	assert_int_equal(k, NDEC);
	assert_true(q_int(db, "SELECT count(*) FROM audit WHERE kind = 'seal'") >= 2);

	/* hostile bytes: every cut of a real block, then random bytes */
	assert_int_equal(sqlite3_prepare_v2(db, "SELECT entries FROM message_log ORDER BY seq LIMIT 1",
					    -1, &st, NULL), SQLITE_OK);
	assert_int_equal(sqlite3_step(st), SQLITE_ROW);
	{
		int len = sqlite3_column_bytes(st, 0) < 600 ? sqlite3_column_bytes(st, 0) : 600;
		unsigned seed = 2026;
		for (int cut = 0; cut <= len + 2000; cut++) {
			int n = cut <= len ? cut : 64;
			unsigned char *b = malloc(n ? (size_t)n : 1); /* exact size: ASan sees overreads */
			const unsigned char *p = b, *end;
			assert_non_null(b);
			if (cut <= len)
				memcpy(b, sqlite3_column_blob(st, 0), (size_t)n);
			else
				for (int i = 0; i < n; i++)
					b[i] = (unsigned char)((seed = seed * 1103515245u + 12345u) >> 16);
			end = b + n;
			for (int log = MTD_LOG_DECISIONS; log <= MTD_LOG_MESSAGES; log++) {
				mtd_log_entry e = {0};
				p = b;
				while (p < end) {
					if (mtd_log_entry_decode(log, &p, end, &e))
						break;
					assert_true(p <= end);
					assert_true(!e.code || (e.code >= (const char *)b &&
								e.code + e.ncode <= (const char *)end));
				}
			}
			free(b);
		}
	}
	sqlite3_finalize(st);
	close_store(f);
}

/* The entry layouts store.h documents: the compact one byte for byte as
 * the store writes it, and the first one, of blocks written before it,
 * still read (bytes from tests/scenario/fixtures/store-v5.sql). */
static void log_entry_bytes(void **state)
{
	static const unsigned char dec[] = {
		MTD_LOG_ROWS_LAYOUT, 0x0a, 0xc8, 0x01, 0x00, /* device 5, outcome 100, none before */
		0x02, 0x00, 0x00,                    /* device 6, the same */
		0x02, 0x02, 0xc8, 0x01,              /* device 7, outcome 101, was 100 */
	};
	static const unsigned char msg[] = {
		/* dev 3, threat, high, 1000, named by its udid (MTD_REF_UDID + 1) */
		MTD_LOG_ROWS_LAYOUT, 0x06, 0x02, 0x08, 0xd0, 0x0f, 0x03, 0x00,
		0x00, /* it wrote no report */
		0x05, 0x08, 0x01, 0x13, 0x00, 0x03, 'E', '1', /* none, error, no level, 990, "E1" */
	};
	/* the same in the layout of schema 7, without the report's digest */
	static const unsigned char v7[] = {
		MTD_LOG_VIA, 0x06, 0x02, 0x08, 0xd0, 0x0f, 0x03, 0x00,
		0x05, 0x08, 0x01, 0x13, 0x00, 0x03, 'E', '1',
	};
	/* the same in the layout of schema 6, without via */
	static const unsigned char v6[] = {
		MTD_LOG_COMPACT, 0x06, 0x02, 0x08, 0xd0, 0x0f, 0x00,
		0x05, 0x08, 0x01, 0x13, 0x03, 'E', '1',
	};
	/* a provision, then a threat of device 1, high, with the times shown */
	static const unsigned char v1[] = {0x00, 0x01, 0x06, 0x00, 0x01, 0x80, 0xea, 0x88, 0xde,
					   0x0c, 0x00, 0x01, 0x02, 0x01, 0x02, 0x01, 0x08, 0x01,
					   0xe4, 0xea, 0x88, 0xde, 0x0c, 0x00};
	fx *f = *state;
	mtd_store *s = open_ok(f, 1);
	sqlite3 *db = mtd_store_db(s);
	sqlite3_stmt *st;
	const unsigned char *p = v1, *end = v1 + sizeof v1;
	mtd_log_entry e = {0};

	assert_int_equal(mtd_store_begin(s), 0);
	assert_int_equal(mtd_store_log_decision(s, 100, 5, 100, 0), 0);
	assert_int_equal(mtd_store_log_decision(s, 100, 6, 100, -1), 0); /* none, either way */
	assert_int_equal(mtd_store_log_decision(s, 100, 7, 101, 100), 0);
	assert_int_equal(mtd_store_log_message(s, 100, 1, 3, MTD_MSG_THREAT, MTD_LEVEL_HIGH,
					       MTD_REF_UDID + 1, 1000, NULL, 0, NULL), 0);
	assert_int_equal(mtd_store_log_message(s, 100, 1, 0, MTD_MSG_ERROR, -1, 0, 990, "E1", 2, NULL),
			 0);
	assert_int_equal(mtd_store_commit(s), 0);
	for (int t = 0; t < 2; t++) {
		assert_int_equal(sqlite3_prepare_v2(db, t ? "SELECT entries FROM message_log"
							  : "SELECT entries FROM decision_log",
						    -1, &st, NULL), SQLITE_OK);
		assert_int_equal(sqlite3_step(st), SQLITE_ROW);
		assert_int_equal(sqlite3_column_bytes(st, 0), t ? sizeof msg : sizeof dec);
		assert_memory_equal(sqlite3_column_blob(st, 0), t ? msg : dec,
				    t ? sizeof msg : sizeof dec);
		assert_int_equal(sqlite3_step(st), SQLITE_DONE);
		sqlite3_finalize(st);
	}

	for (int l = 0; l < 3; l++) { /* the three compact layouts read back */
		const unsigned char *q = l == 2 ? v6 : l ? v7 : msg;
		const unsigned char *qend = q + (l == 2 ? sizeof v6 : l ? sizeof v7 : sizeof msg);
		mtd_log_entry c = {0};
		assert_int_equal(mtd_log_entry_decode(MTD_LOG_MESSAGES, &q, qend, &c), 0);
		assert_int_equal(c.layout, l == 2 ? MTD_LOG_COMPACT : l ? MTD_LOG_VIA : MTD_LOG_ROWS_LAYOUT);
		assert_int_equal(c.device, 3);
		assert_int_equal(c.level, MTD_LEVEL_HIGH);
		assert_int_equal(c.msg_at, 1000);
		assert_int_equal(c.via, l == 2 ? 0 : MTD_REF_UDID + 1);
		assert_int_equal(c.table, -1); /* no report written, or no such field */
		assert_int_equal(mtd_log_entry_decode(MTD_LOG_MESSAGES, &q, qend, &c), 0);
		assert_int_equal(c.type, MTD_MSG_ERROR);
		assert_int_equal(c.ncode, 2);
		assert_memory_equal(c.code, "E1", 2);
		assert_ptr_equal(q, qend);
	}
	assert_int_equal(mtd_log_entry_decode(MTD_LOG_MESSAGES, &p, end, &e), 0);
	assert_int_equal(e.layout, 1);
	assert_int_equal(e.device, 0);
	assert_int_equal(e.type, MTD_MSG_PROVISION);
	assert_int_equal(e.level, -1);
	assert_int_equal(e.msg_at, 1709251200);
	assert_null(e.code);
	assert_int_equal(mtd_log_entry_decode(MTD_LOG_MESSAGES, &p, end, &e), 0);
	assert_int_equal(e.device, 1);
	assert_int_equal(e.type, MTD_MSG_THREAT);
	assert_int_equal(e.level, MTD_LEVEL_HIGH);
	assert_int_equal(e.msg_at, 1709251250);
	assert_ptr_equal(p, end);
	close_store(f);
}

/* Decision blocks: the bytes store.h documents, every value round-trips,
 * anything but exactly MTD_DBLOCK_SLOTS well-formed slots is refused, and
 * rows are written, read back, updated, and refused with their devices
 * named when they do not decode. */
static void decision_blocks(void **state)
{
	static const unsigned char head[] = {
		1, 0x0a, 0xd0, 0x0f, 0xc8, 0x01, /* decided: outcome 5, at 1000, since 900 */
		2, 0x0c, 0x00, 0x00, 0x02,       /* 6, at 1000, since 1000, wiped at 999 */
	};
	fx *f = *state;
	mtd_store *s = open_ok(f, 1);
	mtd_dslot in[MTD_DBLOCK_SLOTS] = {{0}}, out[MTD_DBLOCK_SLOTS];
	unsigned char e[MTD_DBLOCK_MAX + 2], bad[MTD_DBLOCK_MAX + 2];
	size_t n, k;
	sqlite3 *db = mtd_store_db(s);

	in[0] = (mtd_dslot){5, 1000, 900, 0};
	in[1] = (mtd_dslot){6, 1000, 1000, 999};
	n = mtd_dblock_encode(in, e);
	assert_int_equal(n, sizeof head + MTD_DBLOCK_SLOTS - 2);
	assert_memory_equal(e, head, sizeof head);
	for (k = sizeof head; k < n; k++)
		assert_int_equal(e[k], 0); /* the empty slots */
	assert_int_equal(mtd_dblock_decode(e, n, out), 0);
	assert_memory_equal(in, out, sizeof in);

	/* extremes, and every slot decided: the longest entries fit */
	for (k = 0; k < MTD_DBLOCK_SLOTS; k++)
		in[k] = k % 2 ? (mtd_dslot){INT64_MAX, -1, INT64_MIN, 0x0102030405060708}
			      : (mtd_dslot){INT64_MIN, INT64_MIN, INT64_MAX, INT64_MAX};
	n = mtd_dblock_encode(in, e);
	assert_true(n <= MTD_DBLOCK_MAX);
	assert_int_equal(mtd_dblock_decode(e, n, out), 0);
	assert_memory_equal(in, out, sizeof in);

	/* malformed: every cut short, a byte too many, bad tags, a wipe at 0,
	 * outcome 0 decided, a varint over 64 bits */
	for (k = 0; k < n; k++)
		assert_int_equal(mtd_dblock_decode(e, k, out), -1);
	memcpy(bad, e, n);
	bad[n] = 0;
	assert_int_equal(mtd_dblock_decode(bad, n + 1, out), -1);
	memset(in, 0, sizeof in);
	n = mtd_dblock_encode(in, e);
	memcpy(bad, e, n);
	bad[0] = 3;
	assert_int_equal(mtd_dblock_decode(bad, n, out), -1);
	{
		static const unsigned char wipe0[] = {2, 0x02, 0x04, 0x00, 0x04};  /* at 2, wiped 0 */
		static const unsigned char none0[] = {1, 0x00, 0x04, 0x00};        /* outcome 0 */
		static const unsigned char wide[] = {1, 0x02, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
						     0xff, 0xff, 0xff, 0x02, 0x00}; /* 65 bits */
		const unsigned char *cases[] = {wipe0, none0, wide};
		size_t lens[] = {sizeof wipe0, sizeof none0, sizeof wide};
		for (int c = 0; c < 3; c++) {
			memcpy(bad, cases[c], lens[c]);
			memset(bad + lens[c], 0, MTD_DBLOCK_SLOTS - 1);
			assert_int_equal(mtd_dblock_decode(bad, lens[c] + MTD_DBLOCK_SLOTS - 1, out), -1);
		}
		/* the same with a valid first slot decodes: the cases above fail
		 * for what they say, not for their length */
		memcpy(bad, head, 6);
		memset(bad + 6, 0, MTD_DBLOCK_SLOTS - 1);
		assert_int_equal(mtd_dblock_decode(bad, 6 + MTD_DBLOCK_SLOTS - 1, out), 0);
	}

	/* in the store */
	assert_int_equal(mtd_store_dblock_get(s, 7, out), MTD_ENOTFOUND);
	assert_int_equal(out[0].outcome, 0);
	in[3] = (mtd_dslot){42, 1709251200, 1709251100, 0};
	assert_int_equal(mtd_store_begin(s), 0);
	assert_int_equal(mtd_store_dblock_put(s, 7, 0, in), 0);
	in[4] = (mtd_dslot){43, 1709251200, 1709251200, 1709251200};
	assert_int_equal(mtd_store_dblock_put(s, 7, 1, in), 0);
	/* an insert where the row exists is refused, not merged */
	assert_int_equal(mtd_store_dblock_put(s, 7, 0, in), MTD_ESTORE);
	assert_int_equal(mtd_store_commit(s), 0);
	assert_int_equal(q_int(db, "SELECT count(*) FROM decision_blocks"), 1);
	assert_int_equal(mtd_store_dblock_get(s, 7, out), 0);
	assert_memory_equal(in, out, sizeof in);

	assert_int_equal(sqlite3_exec(db, "UPDATE decision_blocks SET entries = zeroblob(255)",
				      NULL, NULL, NULL), SQLITE_OK);
	assert_int_equal(mtd_store_dblock_get(s, 7, out), MTD_ESTORE);
	assert_non_null(strstr(mtd_store_errmsg(s), "the decisions of devices 1792 to 2047 (block 7) "
						    "do not decode"));
	close_store(f);
}

/* SHA-256 (the audit chain's and the seals' hash): FIPS 180-4's examples,
 * fed whole and a byte at a time, and the context starting over after a
 * digest. */
static void sha256_known_answers(void **state)
{
	static const struct {
		const char *in, *hex;
	} v[] = {
		{"", "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"},
		{"abc", "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"},
		{"abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq",
		 "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1"},
	};
	(void)state;
	for (size_t i = 0; i < sizeof v / sizeof *v; i++) {
		mtd_sha256 c;
		unsigned char d[32], e[32];
		char hex[65];
		mtd_sha256_init(&c);
		mtd_sha256_update(&c, "junk", 4);
		mtd_sha256_final(&c, e); /* and over again: */
		mtd_sha256_update(&c, v[i].in, strlen(v[i].in));
		mtd_sha256_final(&c, d);
		for (int k = 0; k < 32; k++)
			snprintf(hex + 2 * k, 3, "%02x", d[k]);
		assert_string_equal(hex, v[i].hex);
		mtd_sha256_init(&c);
		for (const char *p = v[i].in; *p; p++)
			mtd_sha256_update(&c, p, 1);
		mtd_sha256_final(&c, e);
		assert_memory_equal(d, e, 32);
	}
}

static void bind_text(void **state)
{
	fx *f = *state;
	mtd_store *s = open_ok(f, 1);
	sqlite3_stmt *st;
	sqlite3 *db = mtd_store_db(s);

	assert_int_equal(sqlite3_prepare_v2(db, "SELECT ?1 IS NULL, length(?1)", -1, &st, NULL),
			 SQLITE_OK);
	assert_int_equal(mtd_bind_text(st, 1, "abcdef", 3), SQLITE_OK); /* a prefix */
	assert_int_equal(sqlite3_step(st), SQLITE_ROW);
	assert_int_equal(sqlite3_column_int(st, 0), 0);
	assert_int_equal(sqlite3_column_int(st, 1), 3);
	sqlite3_reset(st);
	assert_int_equal(mtd_bind_text(st, 1, NULL, 0), SQLITE_OK);
	assert_int_equal(sqlite3_step(st), SQLITE_ROW);
	assert_int_equal(sqlite3_column_int(st, 0), 1);
	sqlite3_finalize(st);
	close_store(f);
	mtd_store_close(NULL);
}

/* mtd_store_device_ext: a device's external id, cut to the buffer as
 * snprintf would cut it; a row id without a device is MTD_ENOTFOUND. */
static void device_ext(void **state)
{
	fx *f = *state;
	mtd_store *s = open_ok(f, 1);
	char buf[32];

	assert_int_equal(sqlite3_exec(mtd_store_db(s),
				      "INSERT INTO groupsets(id, key) VALUES(1, '');"
				      "INSERT INTO devices(id, ext_id, platform, corporate, enrolled,"
				      " groupset, updated_at) VALUES(7, 'dev-123456789', 1, 1, 1, 1, 0)",
				      NULL, NULL, NULL),
			 SQLITE_OK);
	assert_int_equal(mtd_store_device_ext(s, 7, buf, sizeof buf), 0);
	assert_string_equal(buf, "dev-123456789");
	assert_int_equal(mtd_store_device_ext(s, 7, buf, 14), 0); /* just fits */
	assert_string_equal(buf, "dev-123456789");
	assert_int_equal(mtd_store_device_ext(s, 7, buf, 8), 0);
	assert_string_equal(buf, "dev-123");
	memset(buf, 'x', sizeof buf);
	assert_int_equal(mtd_store_device_ext(s, 7, buf, 1), 0);
	assert_string_equal(buf, "");
	assert_int_equal(buf[1], 'x'); /* nothing past the buffer */
	assert_int_equal(mtd_store_device_ext(s, 8, buf, sizeof buf), MTD_ENOTFOUND);
	close_store(f);
}

/* An SQL file's own SQL (store_fleet.h): sqlfile_info written in the new
 * file's transaction, read back after the commit by a reader; a key is
 * written once; a value is cut to the buffer; a file without the table
 * has no values. Device rows are deleted only from the tables a device
 * has rows in. */
static void sql_file(void **state)
{
	fx *f = *state;
	char path[600], buf[64], small[4];
	sqlite3 *db = NULL;
	mtd_store *s;
	uint64_t rows = 0;

	snprintf(path, sizeof path, "%s/file.db", f->dir);
	assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
	assert_int_equal(mtd_store_file_begin(db, MTD_SQLFILE_INFO_TABLE "CREATE TABLE t(x);"), 0);
	assert_null(mtd_store_file_info_get(db, "format", buf, sizeof buf));
	assert_int_equal(mtd_store_file_info_put(db, "format", "test-file 1"), 0);
	assert_int_equal(mtd_store_file_info_put(db, "format", "again"), MTD_EIO);
	assert_int_equal(mtd_store_file_info_put(db, "devices", "12345"), 0);
	assert_int_equal(mtd_store_file_commit(db), 0);
	assert_int_equal(mtd_store_file_commit(db), MTD_EIO); /* none open */
	sqlite3_close(db);

	assert_int_equal(sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
	assert_int_equal(mtd_store_file_read_begin(db), 0);
	assert_string_equal(mtd_store_file_info_get(db, "format", buf, sizeof buf), "test-file 1");
	assert_string_equal(mtd_store_file_info_get(db, "devices", small, sizeof small), "123");
	assert_null(mtd_store_file_info_get(db, "nothing", buf, sizeof buf));
	assert_int_equal(mtd_store_file_info_put(db, "x", "y"), MTD_EIO); /* read only */
	sqlite3_close(db);

	/* the store itself has no sqlfile_info */
	s = open_ok(f, 1);
	assert_null(mtd_store_file_info_get(mtd_store_db(s), "format", buf, sizeof buf));
	assert_int_equal(mtd_store_begin(s), 0);
	assert_int_equal(mtd_store_device_rows_delete(s, 1, MTD_ROW_GROUPS, 1, &rows), MTD_EUSAGE);
	assert_int_equal(mtd_store_device_rows_delete(s, 1, MTD_ROW_APPS, 1, &rows), 0);
	assert_int_equal(rows, 0);
	mtd_store_rollback(s);
	close_store(f);
}

static int scan_collect(void *ud, int64_t id, const char *ext, size_t n)
{
	char *buf = ud;
	size_t k = strlen(buf);
	snprintf(buf + k, 256 - k, "%lld:%.*s ", (long long)id, (int)n, ext);
	return 0;
}

static int scan_stop(void *ud, int64_t id, const char *ext, size_t n)
{
	(void)ud, (void)id, (void)ext, (void)n;
	return 42;
}

static mtd_str str_of(const char *p)
{
	mtd_str v = {p, strlen(p)};
	return v;
}

/* The ingest part (store_ingest.h): what it writes reads back, in the
 * order and with the answers (seen, written, gone) its callers rely on. */
static void ingest_part(void **state)
{
	fx *f = *state;
	mtd_store *s = open_ok(f, 1);
	mtd_device_rec d;
	mtd_str groups[2] = {str_of("a"), str_of("b")};
	mtd_report_state rs;
	mtd_msg m;
	int64_t gs, gs2, id1, id2, n, park;
	char buf[256] = "";
	const unsigned char mp[3] = {0x81, 0xa1, 0x61};

	assert_int_equal(mtd_store_begin(s), 0);
	assert_int_equal(mtd_store_groupset(s, 1, "a\nb\n", 4, groups, 2, &gs), 0);
	assert_int_equal(mtd_store_groupset(s, 1, "a\nb\n", 4, groups, 2, &gs2), 0);
	assert_int_equal(gs, gs2); /* made once */
	assert_int_equal(q_int(mtd_store_db(s), "SELECT count(*) FROM groupset_members"), 2);
	memset(&d, 0, sizeof d);
	d.id = str_of("zed");
	assert_int_equal(mtd_store_device_put(s, 1, &d, gs, &id1), 0);
	d.id = str_of("alpha");
	assert_int_equal(mtd_store_device_put(s, 1, &d, gs, &id2), 0);
	assert_true(id2 > id1);
	assert_int_equal(mtd_store_device_put(s, 2, &d, gs, &n), 0);
	assert_int_equal(n, id2); /* an update keeps the row */
	assert_int_equal(q_int(mtd_store_db(s), "SELECT count(*) FROM device_salts"), 2);
	assert_int_equal(mtd_store_device_scan(s, 1, scan_collect, buf), 0);
	assert_string_equal(buf, "2:alpha 1:zed ");
	assert_int_equal(mtd_store_device_scan(s, 0, scan_stop, NULL), 42);
	assert_int_equal(mtd_store_device_of_ext(s, "zed", 3), id1);
	assert_int_equal(mtd_store_device_of_ext(s, "zedd", 3), id1); /* by length */
	assert_int_equal(mtd_store_device_of_ext(s, "none", 4), 0);
	assert_int_equal(mtd_store_ids_put(s, "serial", 6, "S1", 2, id1), 0);
	assert_int_equal(mtd_store_device_of_ident(s, "serial", "S1", 2), id1);
	assert_int_equal(mtd_store_device_of_ident(s, "imei", "S1", 2), 0);

	/* a snapshot is written unless the stored one is newer */
	assert_int_equal(q_int(mtd_store_db(s), "INSERT INTO connectors(vendor, state, added_at)"
						 " VALUES('v', 'active', 0) RETURNING id"),
			 1);
	memset(&m, 0, sizeof m);
	m.type = MTD_MSG_THREAT;
	m.level = MTD_LEVEL_HIGH;
	m.at = 100;
	m.os_supported = -1;
	assert_int_equal(mtd_store_report_upsert(s, id1, 1, 5, &m), 1);
	m.at = 99;
	assert_int_equal(mtd_store_report_upsert(s, id1, 1, 5, &m), 0);
	assert_int_equal(mtd_store_report_state(s, id1, 1, &rs), 1);
	assert_int_equal(rs.nevents, 0);
	assert_int_equal(rs.has_snap, 1);
	assert_int_equal(rs.snap_level, MTD_LEVEL_HIGH);
	assert_int_equal(rs.snap_at, 100);
	assert_int_equal(rs.os_supported, -1);
	assert_null(rs.snap_threats);
	assert_int_equal(mtd_store_report_state(s, id2, 1, &rs), 0);

	/* parking: deleted once */
	assert_int_equal(mtd_store_park(s, 7, 1, "why", NULL, mp, sizeof mp, &park), 0);
	assert_int_equal(mtd_store_park_delete(s, 8, park), 1);
	assert_int_equal(mtd_store_park_delete(s, 8, park), 0);
	assert_int_equal(mtd_store_commit(s), 0);

	/* pull state and the window of event ids */
	assert_int_equal(mtd_store_pull_state_get(s, "v", "k", buf, sizeof buf), MTD_ENOTFOUND);
	assert_int_equal(mtd_store_pull_state_set(s, "v", "k", "1"), 0);
	assert_int_equal(mtd_store_pull_state_set(s, "v", "k", "2"), 0);
	assert_int_equal(mtd_store_pull_state_get(s, "v", "k", buf, sizeof buf), 0);
	assert_string_equal(buf, "2");
	assert_int_equal(mtd_store_pull_state_set(s, "v", "k", NULL), 0);
	assert_int_equal(mtd_store_pull_state_get(s, "v", "k", buf, sizeof buf), MTD_ENOTFOUND);
	assert_int_equal(mtd_store_pull_seen_max(s, "v", &n), 0);
	assert_int_equal(n, 0);
	assert_int_equal(mtd_store_pull_seen_add(s, "v", "e1", 1), 0);
	assert_int_equal(mtd_store_pull_seen_add(s, "v", "e2", 2), 0);
	assert_int_equal(mtd_store_pull_seen_add(s, "v", "e1", 3), 1); /* seen */
	assert_int_equal(mtd_store_pull_seen_add(s, "w", "e1", 1), 0); /* per vendor */
	assert_int_equal(mtd_store_pull_seen_max(s, "v", &n), 0);
	assert_int_equal(n, 2);
	assert_int_equal(mtd_store_pull_seen_trim(s, "v", 1), 0);
	assert_int_equal(mtd_store_pull_seen_add(s, "v", "e1", 3), 0); /* forgotten */
	close_store(f);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(create_mode_version_wal, setup, teardown),
		cmocka_unit_test_setup_teardown(open_missing, setup, teardown),
		cmocka_unit_test_setup_teardown(open_not_a_store, setup, teardown),
		cmocka_unit_test_setup_teardown(open_not_private, setup, teardown),
		cmocka_unit_test_setup_teardown(refuse_newer_schema, setup, teardown),
		cmocka_unit_test_setup_teardown(audit_append_only, setup, teardown),
		cmocka_unit_test_setup_teardown(meta_get_set, setup, teardown),
		cmocka_unit_test_setup_teardown(statement_cache, setup, teardown),
		cmocka_unit_test_setup_teardown(transactions, setup, teardown),
		cmocka_unit_test_setup_teardown(bind_text, setup, teardown),
		cmocka_unit_test_setup_teardown(device_ext, setup, teardown),
		cmocka_unit_test_setup_teardown(sql_file, setup, teardown),
		cmocka_unit_test_setup_teardown(ingest_part, setup, teardown),
		cmocka_unit_test_setup_teardown(log_blocks, setup, teardown),
		cmocka_unit_test_setup_teardown(log_entry_bytes, setup, teardown),
		cmocka_unit_test_setup_teardown(decision_blocks, setup, teardown),
		cmocka_unit_test(sha256_known_answers),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
