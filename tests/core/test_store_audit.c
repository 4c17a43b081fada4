/* Unit tests of core/store_audit: the walk of the audit sequence (the five
 * tables merged by number, a block's entries one by one), show's filters,
 * and the look-ups audit.c reads through. */
#include "testutil.h"

#include <sqlite3.h>

#include "mtdgate/mtdgate.h"
#include "store.h"
#include "store_audit.h"

typedef struct fx {
	char dir[256];
	char db[512];
	mtd_store *s;
	int64_t oc; /* the outcome's number */
} fx;

/* A store with, in one transaction: audit record "first", three messages
 * (one block), an outcome, two decisions to it (one block), audit record
 * "last"; the commit adds the seals. */
static int setup(void **state)
{
	mtd_outcome_row o = {7, 1, 2, 0, 0, "{}", "[\"r\"]", "[]"};
	char err[256];
	fx *f = calloc(1, sizeof *f);
	if (!f)
		return -1;
	tu_mkdtemp(f->dir, "saudit");
	snprintf(f->db, sizeof f->db, "%s/mtd.db", f->dir);
	*state = f;
	if (mtd_store_open(f->db, MTD_STORE_CREATE, &f->s, err, sizeof err) ||
	    mtd_store_begin(f->s) || mtd_store_audit(f->s, 100, "first", "v", "d", "{}"))
		return -1;
	for (int i = 0; i < 3; i++)
		if (mtd_store_log_message(f->s, 101, 1, i + 1, 1, 2, 0, 50 + i, NULL, 0, NULL))
			return -1;
	if (mtd_store_log_outcome(f->s, 102, &o, &f->oc) ||
	    mtd_store_log_decision(f->s, 103, 1, f->oc, 0) ||
	    mtd_store_log_decision(f->s, 103, 2, f->oc, 0) ||
	    mtd_store_audit(f->s, 104, "last", NULL, NULL, "{}") || mtd_store_commit(f->s))
		return -1;
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

static void walk_merges_in_order(void **state)
{
	fx *f = *state;
	mtd_audit_walk *w;
	const mtd_walk_rec *r;
	mtd_audit_last last;
	int nsrc[MTD_SRC__COUNT] = {0}, got;
	int64_t want = 1;

	assert_int_equal(mtd_store_read_begin(f->s), 0);
	assert_int_equal(mtd_audit_walk_verify(f->s, 0, &w), 0);
	while ((got = mtd_audit_walk_next(w, &r)) == 1) {
		assert_int_equal(r->seq, want++); /* every number once, in order */
		assert_false(r->bad);
		nsrc[r->src]++;
		switch (r->src) {
		case MTD_SRC_AUDIT: {
			mtd_audit_row a;
			mtd_audit_walk_audit(w, &a);
			assert_int_equal(a.nhash, 32);
			if (r->seq == 1) {
				assert_string_equal(a.kind, "first");
				assert_string_equal(a.vendor, "v");
				assert_string_equal(a.device, "d");
				assert_false(a.device_null);
				assert_int_equal(a.npd, 32); /* schema 10: personal data digested */
				assert_int_equal(a.nsalt, MTD_AUDIT_SALT);
				assert_int_equal(r->at, 100);
			}
			break;
		}
		case MTD_SRC_MESSAGES:
			assert_int_equal(r->n, 3);
			assert_int_equal(r->i, nsrc[r->src] - 1);
			assert_int_equal(r->e.device, nsrc[r->src]);
			assert_int_equal(r->e.msg_at, 49 + nsrc[r->src]);
			assert_int_equal(r->connector, 1);
			assert_int_equal(r->at, 101);
			break;
		case MTD_SRC_OUTCOMES:
			assert_int_equal(r->seq, f->oc);
			assert_int_equal(r->at, 102);
			break;
		case MTD_SRC_DECISIONS:
			assert_int_equal(r->n, 2);
			assert_int_equal(r->e.outcome, f->oc);
			assert_int_equal(r->e.device, nsrc[r->src]);
			break;
		default:
			fail_msg("a row log entry that was never written");
		}
	}
	assert_int_equal(got, 0);
	assert_int_equal(nsrc[MTD_SRC_MESSAGES], 3);
	assert_int_equal(nsrc[MTD_SRC_DECISIONS], 2);
	assert_int_equal(nsrc[MTD_SRC_OUTCOMES], 1);
	assert_true(nsrc[MTD_SRC_AUDIT] >= 2 + 3); /* and the seals of the three logs */
	mtd_audit_walk_close(w);
	/* the last record is the last the walk gave */
	assert_int_equal(mtd_store_audit_last(f->s, &last), 1);
	assert_int_equal(last.seq, want - 1);
	assert_true(last.has_hash);
	/* from a number on: nothing before it, blocks included */
	assert_int_equal(mtd_audit_walk_verify(f->s, f->oc, &w), 0);
	assert_int_equal(mtd_audit_walk_next(w, &r), 1);
	assert_int_equal(r->seq, f->oc);
	mtd_audit_walk_close(w);
	mtd_store_read_end(f->s);
}

static void show_filters(void **state)
{
	fx *f = *state;
	mtd_audit_filter flt = {0};
	mtd_audit_walk *w;
	const mtd_walk_rec *r;
	mtd_outcome_row o;
	int n = 0;

	flt.kind = "decision";
	assert_int_equal(mtd_audit_walk_show(f->s, &flt, -1, &w), 0);
	while (mtd_audit_walk_next(w, &r) == 1) {
		assert_int_equal(r->src, MTD_SRC_DECISIONS);
		n++;
	}
	assert_int_equal(n, 2);
	mtd_audit_walk_close(w);

	flt.kind = "outcome";
	assert_int_equal(mtd_audit_walk_show(f->s, &flt, -1, &w), 0);
	assert_int_equal(mtd_audit_walk_next(w, &r), 1);
	mtd_audit_walk_outcome(w, &o);
	assert_int_equal(o.state, 1);
	assert_int_equal(o.level, 2);
	assert_string_equal(o.reasons, "[\"r\"]");
	assert_int_equal(mtd_audit_walk_next(w, &r), 0);
	mtd_audit_walk_close(w);

	/* messages of another connector's vendor: none */
	flt.kind = NULL;
	flt.vendor = "someone";
	n = 0;
	assert_int_equal(mtd_audit_walk_show(f->s, &flt, 2, &w), 0);
	while (mtd_audit_walk_next(w, &r) == 1)
		n += r->src == MTD_SRC_MESSAGES;
	assert_int_equal(n, 0);
	mtd_audit_walk_close(w);
}

static void look_ups(void **state)
{
	fx *f = *state;
	mtd_outcome_row o;
	tbuf b = {0};
	int64_t id = 5;

	assert_int_equal(mtd_store_audit_outcome(f->s, f->oc, &o, &b), 1);
	assert_int_equal(o.state, 1);
	assert_int_equal(o.access, 0);
	assert_string_equal(b.p, "[\"r\"]");
	assert_int_equal(mtd_store_audit_outcome(f->s, f->oc + 1000, &o, &b), 0);
	assert_string_equal(b.p, "[\"r\"]"); /* untouched */
	assert_int_equal(mtd_store_audit_name(f->s, MTD_AUDIT_DEVICE, 1, &b), 0); /* no devices */
	assert_int_equal(mtd_store_audit_connector_id(f->s, "nobody", &id), MTD_ENOTFOUND);
	assert_int_equal(mtd_store_audit_last_pruned(f->s, &id, &b), 0); /* never pruned */
	free(b.p);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(walk_merges_in_order, setup, teardown),
		cmocka_unit_test_setup_teardown(show_filters, setup, teardown),
		cmocka_unit_test_setup_teardown(look_ups, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
