/* events: decision changes read back from the audit log's decision_log, in
 * sequence order, for followers (serve's /v1/events) that resume after the
 * last sequence number they saw. Only reads; every statement is the store's. */
#include <stdlib.h>
#include <string.h>

#include "codec.h" /* MTD_MAX_ID */
#include "mtdgate/wire.h"
#include "mtd_int.h"
#include "rules.h"
#include "store_rows.h"
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
		mtd_outcome_shown o;
		mtd_outcome_shown_read(st, rb != NULL, &o);
		d->state = mtd_state_name(o.state);
		d->level = mtd_level_name(o.level);
		d->access = o.access == 0 ? "allow" : "block";
		d->app_protection = mtd_app_action_name(o.app_action);
		rc = rb && o.reasons && tb_set(rb, o.reasons) ? MTD_ENOMEM : 0;
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
	int rc = mtd_need_store(h);
	if (rc)
		return rc;
	if (mtd_store_decision_head(h->store, seq))
		return mtd_fail(h, MTD_ESTORE, "reading the decision log: %s",
				mtd_store_errmsg(h->store));
	return 0;
}

int mtd_decision_events(mtd_t *h, int64_t after, uint64_t max, mtd_event_fn fn, void *ud,
			int64_t *last)
{
	sqlite3_stmt *st;
	tbuf reasons = {0};
	char dev[MTD_MAX_ID + 1]; /* a device's external id (bounded on input) */
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
		mtd_decision_block b;
		const unsigned char *p, *end;
		mtd_log_entry e;
		mtd_decision_block_read(st, &b);
		p = b.entries;
		end = p + b.nentries;
		memset(&e, 0, sizeof e);
		if (b.n <= 0 || b.n > MTD_BLOCK_ENTRIES || !p) {
			rc = mtd_fail(h, MTD_EMALFORMED, "audit record %lld: a block of the decision "
				      "log that cannot be read (run 'mtdgate audit verify')",
				      (long long)b.seq);
			break;
		}
		for (int64_t i = 0; i < b.n && !rc && (!max || sent < max); i++) {
			mtd_decision_event ev;
			if (mtd_log_entry_decode(MTD_LOG_DECISIONS, &p, end, &e)) {
				rc = mtd_fail(h, MTD_EMALFORMED, "audit record %lld: a decision that "
					      "cannot be read (run 'mtdgate audit verify')",
					      (long long)(b.seq + i));
				break;
			}
			if (b.seq + i <= after)
				continue;
			memset(&ev, 0, sizeof ev);
			ev.seq = b.seq + i;
			ev.at = b.at;
			if ((rc = outcome_of(h, e.prev, &ev.before, NULL)) ||
			    (rc = outcome_of(h, e.outcome, &ev.after, &reasons)))
				break;
			ev.reasons_json = reasons.p;
			if ((rc = mtd_store_device_ext(h->store, e.device, dev, sizeof dev)) == 0)
				ev.device = dev;
			else if (rc != MTD_ENOTFOUND)
				break;
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
