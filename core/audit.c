/* audit: showing and verifying the append-only, hash-chained audit log. */
#include <string.h>

#include "mtd_int.h"

int mtd_audit_show(mtd_t *h, const mtd_audit_filter *f, mtd_audit_fn fn, void *ud)
{
	mtd_audit_filter none = {0};
	sqlite3_stmt *st;
	int rc = mtd_need_store(h), step;

	if (rc)
		return rc;
	if (!f)
		f = &none;
	if (!(st = mtd_store_stmt(h->store, SQL_AUDIT_SHOW)))
		return mtd_fail(h, MTD_ESTORE, "%s", mtd_store_errmsg(h->store));
	if (f->device)
		sqlite3_bind_text(st, 1, f->device, -1, SQLITE_STATIC);
	if (f->vendor)
		sqlite3_bind_text(st, 2, f->vendor, -1, SQLITE_STATIC);
	if (f->kind)
		sqlite3_bind_text(st, 3, f->kind, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 4, f->since);
	sqlite3_bind_int64(st, 5, f->until ? f->until : INT64_MAX);
	while (!rc && (step = sqlite3_step(st)) == SQLITE_ROW) {
		mtd_audit_rec r = {sqlite3_column_int64(st, 0), sqlite3_column_int64(st, 1),
				   (const char *)sqlite3_column_text(st, 2),
				   (const char *)sqlite3_column_text(st, 3),
				   (const char *)sqlite3_column_text(st, 4),
				   (const char *)sqlite3_column_text(st, 5)};
		rc = fn(ud, &r);
	}
	if (!rc && step != SQLITE_DONE)
		rc = mtd_fail(h, MTD_ESTORE, "%s", mtd_store_errmsg(h->store));
	sqlite3_reset(st);
	return rc;
}

int mtd_audit_verify(mtd_t *h, uint64_t *records, char head[65])
{
	unsigned char prev[32] = {0}, want[32];
	sqlite3_stmt *st;
	int64_t expect = 1;
	uint64_t n = 0;
	int rc = mtd_need_store(h), step;

	*records = 0;
	head[0] = '\0';
	if (rc)
		return rc;
	/* One read transaction: a consistent snapshot while others write. */
	if (sqlite3_exec(mtd_store_db(h->store), "BEGIN", NULL, NULL, NULL) != SQLITE_OK)
		return mtd_fail(h, MTD_ESTORE, "%s", mtd_store_errmsg(h->store));
	if (!(st = mtd_store_stmt(h->store, SQL_AUDIT_SCAN))) {
		rc = mtd_fail(h, MTD_ESTORE, "%s", mtd_store_errmsg(h->store));
		goto out;
	}
	while (!rc && (step = sqlite3_step(st)) == SQLITE_ROW) {
		int64_t seq = sqlite3_column_int64(st, 0);
		if (seq > expect) {
			rc = mtd_fail(h, MTD_EMALFORMED, "audit records %lld to %lld are missing: "
				      "the chain breaks there", (long long)expect, (long long)seq - 1);
			break;
		}
		if (seq != expect) {
			rc = mtd_fail(h, MTD_EMALFORMED, "audit record %lld is out of order",
				      (long long)seq);
			break;
		}
		mtd_audit_hash(prev, seq, sqlite3_column_int64(st, 1),
			       (const char *)sqlite3_column_text(st, 2),
			       (const char *)sqlite3_column_text(st, 3),
			       (const char *)sqlite3_column_text(st, 4),
			       (const char *)sqlite3_column_text(st, 5), want);
		if (sqlite3_column_bytes(st, 6) != 32 ||
		    memcmp(sqlite3_column_blob(st, 6), want, 32) != 0) {
			rc = mtd_fail(h, MTD_EMALFORMED,
				      "audit record %lld (%s at %lld) does not match its hash: it was "
				      "changed, or a record before it was", (long long)seq,
				      (const char *)sqlite3_column_text(st, 2),
				      (long long)sqlite3_column_int64(st, 1));
			break;
		}
		memcpy(prev, want, 32);
		expect++;
		n++;
	}
	if (!rc && step != SQLITE_DONE)
		rc = mtd_fail(h, MTD_ESTORE, "%s", mtd_store_errmsg(h->store));
	sqlite3_reset(st);
	*records = n;
	for (int i = 0; i < 32; i++)
		snprintf(head + 2 * i, 3, "%02x", prev[i]);
out:
	sqlite3_exec(mtd_store_db(h->store), "COMMIT", NULL, NULL, NULL);
	return rc;
}
