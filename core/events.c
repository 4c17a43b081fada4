/* events: decision changes read back from the audit log's decision_log, in
 * sequence order, for followers (serve's /v1/events) that resume after the
 * last sequence number they saw. Only reads; every statement is the store's. */
#include <stdlib.h>
#include <string.h>

#include "mtdgate/wire.h"
#include "mtd_int.h"
#include "rules.h"
#include "tbuf.h"

/* The outcome id as the four names (not_evaluated, none, block, none when
 * id is 0 or unknown: as before any evaluation). Reasons, when asked, are
 * copied into rb (NUL-terminated; "[]" when none). */
static int outcome_of(mtd_t *h, int64_t id, mtd_decision_state *d, tbuf *rb)
{
	sqlite3_stmt *st;
	int rc;
	d->state = mtd_state_name(3);
	d->level = mtd_level_name(MTD_LEVEL_NONE);
	d->access = "block";
	d->app_protection = mtd_app_action_name(0);
	if (rb && tb_set(rb, "[]"))
		return MTD_ENOMEM;
	if (id <= 0)
		return 0;
	if (!(st = mtd_store_stmt(h->store, SQL_OUTCOME_GET)))
		return MTD_ESTORE;
	sqlite3_bind_int64(st, 1, id);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		const char *r = (const char *)sqlite3_column_text(st, 6);
		d->state = mtd_state_name(sqlite3_column_int(st, 1));
		d->level = mtd_level_name(sqlite3_column_int(st, 2));
		d->access = sqlite3_column_int(st, 3) == 0 ? "allow" : "block";
		d->app_protection = mtd_app_action_name(sqlite3_column_int(st, 4));
		rc = rb && r && tb_set(rb, r) ? MTD_ENOMEM : 0;
	} else {
		rc = rc == SQLITE_DONE ? 0 : MTD_ESTORE;
	}
	/* a statement left on a row would keep this connection's snapshot,
	 * and the next call would not see later commits */
	sqlite3_reset(st);
	return rc;
}

int mtd_decision_head(mtd_t *h, int64_t *seq)
{
	sqlite3_stmt *st;
	int rc = mtd_need_store(h);
	if (rc)
		return rc;
	*seq = 0;
	if (!(st = mtd_store_stmt(h->store, SQL_DECISION_LOG_HEAD)))
		return mtd_fail(h, MTD_ESTORE, "%s", mtd_store_errmsg(h->store));
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW)
		*seq = sqlite3_column_int64(st, 0);
	else if (rc != SQLITE_DONE)
		return mtd_fail(h, MTD_ESTORE, "reading the decision log: %s",
				mtd_store_errmsg(h->store));
	sqlite3_reset(st);
	return 0;
}

int mtd_decision_events(mtd_t *h, int64_t after, uint64_t max, mtd_event_fn fn, void *ud,
			int64_t *last)
{
	sqlite3_stmt *st, *ext;
	tbuf reasons = {0}, dev = {0};
	uint64_t sent = 0;
	int rc = mtd_need_store(h), step = SQLITE_DONE;

	if (last)
		*last = after;
	if (rc)
		return rc;
	if (after < 0)
		after = 0;
	/* blocks are numbered by their first entry: the one holding after + 1
	 * starts at most MTD_BLOCK_ENTRIES - 1 before it */
	if (!(st = mtd_store_stmt(h->store, SQL_DECISION_LOG_EVENTS)))
		return mtd_fail(h, MTD_ESTORE, "%s", mtd_store_errmsg(h->store));
	sqlite3_bind_int64(st, 1, after - MTD_BLOCK_ENTRIES);
	while (!rc && (!max || sent < max) && (step = sqlite3_step(st)) == SQLITE_ROW) {
		int64_t seq = sqlite3_column_int64(st, 0), n = sqlite3_column_int64(st, 1);
		int64_t at = sqlite3_column_int64(st, 2);
		const unsigned char *p = sqlite3_column_blob(st, 3);
		const unsigned char *end = p + sqlite3_column_bytes(st, 3);
		mtd_log_entry e;
		memset(&e, 0, sizeof e);
		if (n <= 0 || n > MTD_BLOCK_ENTRIES || !p) {
			rc = mtd_fail(h, MTD_EMALFORMED, "audit record %lld: a block of the decision "
				      "log that cannot be read (run 'mtdgate audit verify')",
				      (long long)seq);
			break;
		}
		for (int64_t i = 0; i < n && !rc && (!max || sent < max); i++) {
			mtd_decision_event ev;
			if (mtd_log_entry_decode(MTD_LOG_DECISIONS, &p, end, &e)) {
				rc = mtd_fail(h, MTD_EMALFORMED, "audit record %lld: a decision that "
					      "cannot be read (run 'mtdgate audit verify')",
					      (long long)(seq + i));
				break;
			}
			if (seq + i <= after)
				continue;
			memset(&ev, 0, sizeof ev);
			ev.seq = seq + i;
			ev.at = at;
			if ((rc = outcome_of(h, e.prev, &ev.before, NULL)) ||
			    (rc = outcome_of(h, e.outcome, &ev.after, &reasons)))
				break;
			ev.reasons_json = reasons.p;
			if (!(ext = mtd_store_stmt(h->store, SQL_DEVICE_EXT))) {
				rc = MTD_ESTORE;
				break;
			}
			sqlite3_bind_int64(ext, 1, e.device);
			if ((step = sqlite3_step(ext)) == SQLITE_ROW) {
				if (tb_set(&dev, (const char *)sqlite3_column_text(ext, 0))) {
					rc = MTD_ENOMEM;
					break;
				}
				ev.device = dev.p;
			} else if (step != SQLITE_DONE) {
				rc = MTD_ESTORE;
				break;
			}
			sqlite3_reset(ext);
			if ((rc = fn(ud, &ev)))
				break;
			sent++;
			if (last)
				*last = ev.seq;
		}
		step = SQLITE_ROW;
	}
	if (!rc && step != SQLITE_ROW && step != SQLITE_DONE)
		rc = MTD_ESTORE;
	sqlite3_reset(st);
	if (rc == MTD_ESTORE)
		rc = mtd_fail(h, rc, "reading the decision log: %s", mtd_store_errmsg(h->store));
	else if (rc == MTD_ENOMEM)
		rc = mtd_fail(h, rc, "out of memory");
	free(reasons.p);
	free(dev.p);
	return rc;
}

int mtd_db_bytes(mtd_t *h, uint64_t *bytes)
{
	int rc = mtd_need_store(h);
	*bytes = 0;
	if (rc)
		return rc;
	return mtd_store_size(h->store, bytes)
		       ? mtd_fail(h, MTD_ESTORE, "%s", mtd_store_errmsg(h->store))
		       : 0;
}
