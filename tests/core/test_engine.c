/* Unit tests of the engine through the public API: what a change callback
 * is handed. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "mtdgate/mtdgate.h"
#include "testutil.h"

#define NDEV 20000

static const char *const groups = "return { default = { max_level = \"medium\" } }\n";

/* A policy whose one reason names the device: every device its own
 * outcome. */
static const char *policy(char *text, size_t n, const char *word)
{
	snprintf(text, n,
		 "local M = {}\n"
		 "function M.compliance(device, policy, ctx)\n"
		 "  return \"compliant\", \"none\", { \"%s \" .. device.id }\n"
		 "end\n"
		 "function M.app_protection(device, policy, ctx) return \"none\" end\n"
		 "return M\n",
		 word);
	return text;
}

static mtd_t *open_with(const char *dir, const char *rules)
{
	mtd_config cfg = {0};
	mtd_t *h = NULL;
	cfg.db_path = tu_path(dir, "m.db");
	cfg.rules_dir = rules;
	cfg.now = 1709251200;
	assert_int_equal(mtd_open(&cfg, &h), 0);
	return h;
}

typedef struct seen {
	const char *word; /* for reports */
	size_t n, wrong;
	char first_wrong[256];
} seen;

static int check_pair(const char *word, const mtd_decision_info *d, seen *s)
{
	char want[200];
	snprintf(want, sizeof want, "%s %s", word, d->device);
	if (d->nreasons != 1 || strcmp(d->reasons[0], want) != 0) {
		if (!s->wrong++)
			snprintf(s->first_wrong, sizeof s->first_wrong, "%s: wanted '%s', got '%s'",
				 d->device, want, d->nreasons ? d->reasons[0] : "(none)");
		return 1;
	}
	return 0;
}

static int on_change(void *ud, const mtd_decision_info *before, const mtd_decision_info *after)
{
	seen *s = ud;
	s->n++;
	check_pair("old", before, s);
	check_pair("new", after, s);
	return 0;
}

/* devices d<from> .. d<to - 1> imported */
static void import_range(mtd_t *h, int from, int to)
{
	char *devs = malloc((size_t)(to - from) * 100 + 1);
	size_t len = 0;
	mtd_stats st;
	FILE *in;
	assert_non_null(devs);
	for (int i = from; i < to; i++)
		len += (size_t)sprintf(devs + len,
				       "{\"id\":\"d%d\",\"platform\":\"ios\",\"ownership\":\"corporate\","
				       "\"management\":\"enrolled\"}\n",
				       i);
	assert_non_null(in = fmemopen(devs, len, "r"));
	assert_int_equal(mtd_device_import(h, in, "devices.jsonl", &st), 0);
	fclose(in);
	free(devs);
	assert_int_equal(st.accepted, (uint64_t)(to - from));
}

/* A temporary directory with two rule sets, old/ and new/. */
static void rule_sets(char *dir, char *oldr, char *newr, size_t n, const char *old_policy,
		      const char *new_policy)
{
	tu_mkdtemp(dir, "engine");
	snprintf(oldr, n, "%s/old", dir);
	snprintf(newr, n, "%s/new", dir);
	assert_int_equal(mkdir(oldr, 0700), 0);
	assert_int_equal(mkdir(newr, 0700), 0);
	tu_write_str(oldr, "groups.lua", groups);
	tu_write_str(oldr, "policy.lua", old_policy);
	tu_write_str(newr, "groups.lua", groups);
	tu_write_str(newr, "policy.lua", new_policy);
}

/* ... whose reasons say "old <device>" and "new <device>". */
static void two_rule_sets(char *dir, char *oldr, char *newr, size_t n)
{
	char a[512], b[512];
	rule_sets(dir, oldr, newr, n, policy(a, sizeof a, "old"), policy(b, sizeof b, "new"));
}

/* Every device changes outcome: each callback's "before" is that device's
 * own old decision, however the outcomes fall into the engine's caches. */
static void change_callback_before_and_after(void **state)
{
	char dir[256], oldr[300], newr[300];
	seen s = {0};
	mtd_t *h;
	(void)state;

	two_rule_sets(dir, oldr, newr, sizeof oldr);
	h = open_with(dir, oldr);
	assert_int_equal(mtd_init(h, "commercial"), 0);
	import_range(h, 0, NDEV);
	assert_int_equal(mtd_evaluate(h, 0, NULL, NULL, NULL, NULL), 0);
	mtd_close(h);

	h = open_with(dir, newr);
	assert_int_equal(mtd_evaluate(h, 1, on_change, &s, NULL, NULL), 0); /* dry run */
	assert_int_equal(s.n, NDEV);
	if (s.wrong)
		fail_msg("%zu decisions handed wrongly, first %s", s.wrong, s.first_wrong);
	s.n = 0;
	assert_int_equal(mtd_evaluate(h, 0, on_change, &s, NULL, NULL), 0);
	assert_int_equal(s.n, NDEV);
	if (s.wrong)
		fail_msg("%zu decisions handed wrongly, first %s", s.wrong, s.first_wrong);
	mtd_close(h);
	tu_rmtree(dir);
}

static int on_report(void *ud, const mtd_decision_info *d)
{
	seen *s = ud;
	s->n++;
	check_pair(s->word, d, s);
	return 0;
}

static void report_says(mtd_t *h, const char *word, size_t n)
{
	seen s = {0};
	s.word = word;
	assert_int_equal(mtd_report(h, NULL, on_report, &s), 0);
	assert_int_equal(s.n, n);
	if (s.wrong)
		fail_msg("%zu devices reported wrongly, first %s", s.wrong, s.first_wrong);
}

/* Decisions are stored 256 devices to a block: devices added to a block
 * that has decisions and to one that has none get theirs, the others'
 * stay, a dry run writes nothing, and the report (in external id order,
 * which is not row id order: d10 before d2) reads each device's own. */
static void decisions_across_blocks(void **state)
{
	char dir[256], oldr[300], newr[300];
	uint64_t evaluated, changed;
	mtd_t *h;
	(void)state;

	two_rule_sets(dir, oldr, newr, sizeof oldr);
	h = open_with(dir, oldr);
	assert_int_equal(mtd_init(h, "commercial"), 0);
	import_range(h, 0, 300); /* row ids 1..300: blocks 0 and 1 */
	assert_int_equal(mtd_evaluate(h, 0, NULL, NULL, &evaluated, &changed), 0);
	assert_int_equal(changed, 300);
	import_range(h, 300, 600); /* 301..600: the rest of block 1, and block 2 */
	assert_int_equal(mtd_evaluate(h, 0, NULL, NULL, &evaluated, &changed), 0);
	assert_int_equal(evaluated, 600);
	assert_int_equal(changed, 300);
	report_says(h, "old", 600);
	assert_int_equal(mtd_evaluate(h, 0, NULL, NULL, &evaluated, &changed), 0);
	assert_int_equal(changed, 0);
	mtd_close(h);

	h = open_with(dir, newr);
	assert_int_equal(mtd_evaluate(h, 1, NULL, NULL, &evaluated, &changed), 0);
	assert_int_equal(changed, 600);
	report_says(h, "old", 600);
	assert_int_equal(mtd_evaluate(h, 0, NULL, NULL, &evaluated, &changed), 0);
	assert_int_equal(changed, 600);
	report_says(h, "new", 600);
	mtd_close(h);
	tu_rmtree(dir);
}

static int on_prev(void *ud, const mtd_decision_info *d)
{
	seen *s = ud;
	int i = -1;
	char want[64];
	s->n++;
	sscanf(d->device, "d%d", &i);
	snprintf(want, sizeof want, "was %s", i % 2 ? "noncompliant" : "compliant");
	if (d->nreasons != 1 || strcmp(d->reasons[0], want)) {
		if (!s->wrong++)
			snprintf(s->first_wrong, sizeof s->first_wrong, "%s: wanted '%s', got '%s'",
				 d->device, want, d->nreasons ? d->reasons[0] : "(none)");
	}
	return 0;
}

/* The previous state is something pure rules may compare: devices alike
 * in everything else, half of them noncompliant before (decided by rules
 * that read the id, so not memoized), get each their own answer. And the
 * changes are counted by state. */
static void previous_state_tells_apart(void **state)
{
	static const char *const by_id =
		"local M = {}\n"
		"function M.compliance(device, policy, ctx)\n"
		"  local n = tonumber(device.id:sub(2))\n"
		"  if n % 2 == 1 then return 'noncompliant', 'none', { 'odd' } end\n"
		"  return 'compliant', 'none', { 'even' }\n"
		"end\n"
		"function M.app_protection(device, policy, ctx) return 'none' end\n"
		"return M\n";
	static const char *const by_prev =
		"local M = { pure = true }\n"
		"function M.compliance(device, policy, ctx)\n"
		"  return 'compliant', 'none', { 'was ' .. device.previous.state }\n"
		"end\n"
		"function M.app_protection(device, policy, ctx) return 'none' end\n"
		"return M\n";
	char dir[256], r1[300], r2[300];
	seen s = {0};
	mtd_transitions t;
	mtd_t *h;
	(void)state;

	rule_sets(dir, r1, r2, sizeof r1, by_id, by_prev);
	h = open_with(dir, r1);
	assert_int_equal(mtd_init(h, "commercial"), 0);
	import_range(h, 0, 1000);
	/* the counts by state, in the order each pair first occurs (d0 is the
	 * first device, and even) */
	assert_int_equal(mtd_evaluate_counted(h, 0, NULL, NULL, NULL, NULL, &t), 0);
	assert_int_equal(t.npairs, 2);
	assert_int_equal(t.pair[0], 3 * MTD_NSTATES + 0);
	assert_int_equal(t.pair[1], 3 * MTD_NSTATES + 1);
	assert_int_equal(t.n[3][0], 500);
	assert_int_equal(t.n[3][1], 500);
	assert_string_equal(mtd_state_name(3), "not_evaluated");
	assert_string_equal(mtd_state_name(4), "?");
	mtd_close(h);
	h = open_with(dir, r2);
	/* a dry run counts what a run then does */
	assert_int_equal(mtd_evaluate_counted(h, 1, NULL, NULL, NULL, NULL, &t), 0);
	for (int k = 0; k < 2; k++) {
		assert_int_equal(t.npairs, 2);
		assert_int_equal(t.pair[0], 0 * MTD_NSTATES + 0); /* new reasons, same state */
		assert_int_equal(t.pair[1], 1 * MTD_NSTATES + 0);
		assert_int_equal(t.n[0][0], 500);
		assert_int_equal(t.n[1][0], 500);
		if (!k)
			assert_int_equal(mtd_evaluate_counted(h, 0, NULL, NULL, NULL, NULL, &t), 0);
	}
	assert_int_equal(mtd_report(h, NULL, on_prev, &s), 0);
	assert_int_equal(s.n, 1000);
	if (s.wrong)
		fail_msg("%zu devices reported wrongly, first %s", s.wrong, s.first_wrong);
	mtd_close(h);
	tu_rmtree(dir);
}

/* A device set is decided exactly as the whole fleet is, and only it:
 * the devices named (by row id, unsorted, repeated; by external id) get
 * the new rules' decisions with the same change callback, the others keep
 * theirs; imports made while tracking name the devices they touched, and
 * a rolled-back or uncommitted write names none. */
static void device_set_evaluation(void **state)
{
	char dir[256], oldr[300], newr[300];
	uint64_t evaluated, changed;
	mtd_devset set = {0};
	seen s = {0};
	mtd_t *h;
	(void)state;

	two_rule_sets(dir, oldr, newr, sizeof oldr);
	h = open_with(dir, oldr);
	assert_int_equal(mtd_init(h, "commercial"), 0);
	import_range(h, 0, 600); /* row ids 1..600, d<i> is row i + 1 */
	assert_int_equal(mtd_evaluate(h, 0, NULL, NULL, NULL, NULL), 0);
	mtd_close(h);

	h = open_with(dir, newr);
	assert_int_equal(mtd_devset_add(&set, 301), 0);
	assert_int_equal(mtd_devset_add(&set, 6), 0);
	assert_int_equal(mtd_devset_add(&set, 6), 0);
	assert_int_equal(mtd_devset_add(&set, 100000), 0); /* no such device */
	assert_int_equal(mtd_devset_add_ext(h, &set, "d599"), 0);
	assert_int_equal(mtd_devset_add_ext(h, &set, "nobody"), MTD_EUSAGE);
	assert_int_equal(mtd_evaluate_set(h, &set, on_change, &s, &evaluated, &changed), 0);
	assert_int_equal(evaluated, 3);
	assert_int_equal(changed, 3);
	assert_int_equal(s.n, 3);
	if (s.wrong)
		fail_msg("%zu decisions handed wrongly, first %s", s.wrong, s.first_wrong);
	mtd_devset_free(&set);
	{
		/* exactly those three: the rest still old */
		seen r = {.word = "old"};
		assert_int_equal(mtd_report(h, NULL, on_report, &r), 0);
		assert_int_equal(r.n, 600);
		assert_int_equal(r.wrong, 3);
	}
	/* again: nothing changes, nothing is written */
	assert_int_equal(mtd_devset_add(&set, 6), 0);
	assert_int_equal(mtd_evaluate_set(h, &set, NULL, NULL, &evaluated, &changed), 0);
	assert_int_equal(evaluated, 1);
	assert_int_equal(changed, 0);
	mtd_devset_free(&set);

	/* tracked: an import names the devices it wrote */
	assert_int_equal(mtd_track_touched(h, 1), 0);
	import_range(h, 600, 610);
	assert_int_equal(mtd_touched(h, &set), 0);
	assert_false(set.all);
	assert_int_equal(set.n, 10);
	for (size_t i = 0; i < set.n; i++)
		assert_int_equal(set.ids[i], (int64_t)(601 + i));
	assert_int_equal(mtd_evaluate_set(h, &set, NULL, NULL, &evaluated, &changed), 0);
	assert_int_equal(changed, 10);
	mtd_devset_free(&set);
	assert_int_equal(mtd_touched(h, &set), 0); /* taken; evaluation touches none */
	assert_int_equal(set.n, 0);
	assert_false(set.all);
	/* the whole fleet: what the sets left */
	assert_int_equal(mtd_evaluate(h, 0, NULL, NULL, &evaluated, &changed), 0);
	assert_int_equal(evaluated, 610);
	assert_int_equal(changed, 600 - 3);
	report_says(h, "new", 610);
	/* every device: as mtd_evaluate */
	set.all = 1;
	assert_int_equal(mtd_evaluate_set(h, &set, NULL, NULL, &evaluated, &changed), 0);
	assert_int_equal(evaluated, 610);
	assert_int_equal(changed, 0);
	mtd_close(h);
	tu_rmtree(dir);
}

/* The kinds a plan sorts changes by (mtd_change_kind): the most dangerous
 * one a change has wins. */
static void change_kinds(void **state)
{
	static const struct {
		const char *s0, *l0, *a0, *p0, *s1, *l1, *a1, *p1;
		int kind;
	} cases[] = {
		/* a wipe starts, whatever else changes (also better state) */
		{"not_evaluated", "medium", "block", "block", "not_evaluated", "medium", "block", "wipe",
		 MTD_CHANGE_WIPE},
		{"noncompliant", "high", "block", "none", "compliant", "secured", "allow", "wipe",
		 MTD_CHANGE_WIPE},
		/* a wipe that goes on is no new wipe; block after wipe is better */
		{"compliant", "low", "allow", "wipe", "compliant", "low", "allow", "block",
		 MTD_CHANGE_BETTER},
		/* access blocked, or apps */
		{"compliant", "low", "allow", "none", "noncompliant", "low", "block", "none",
		 MTD_CHANGE_BLOCK},
		{"compliant", "low", "allow", "warn", "compliant", "low", "allow", "block",
		 MTD_CHANGE_BLOCK},
		/* a device never decided (blocked) now blocked: nothing new */
		{"not_evaluated", "none", "block", "none", "noncompliant", "high", "block", "none",
		 MTD_CHANGE_WORSE},
		/* worse: grace, a higher level, warn */
		{"compliant", "low", "allow", "none", "in_grace_period", "low", "allow", "none",
		 MTD_CHANGE_WORSE},
		{"compliant", "secured", "allow", "none", "compliant", "low", "allow", "none",
		 MTD_CHANGE_WORSE},
		{"compliant", "low", "allow", "none", "compliant", "low", "allow", "warn",
		 MTD_CHANGE_WORSE},
		/* none and secured are both no threat */
		{"compliant", "none", "allow", "none", "compliant", "secured", "allow", "none",
		 MTD_CHANGE_OTHER},
		/* better: access back, the state, the level */
		{"noncompliant", "high", "block", "none", "compliant", "secured", "allow", "none",
		 MTD_CHANGE_BETTER},
		{"in_grace_period", "medium", "allow", "none", "compliant", "medium", "allow", "none",
		 MTD_CHANGE_BETTER},
		/* enrolled to unenrolled with the same access and apps: other */
		{"compliant", "low", "allow", "none", "not_evaluated", "low", "allow", "none",
		 MTD_CHANGE_OTHER},
		/* one field worse, one better: worse first */
		{"in_grace_period", "low", "allow", "none", "compliant", "medium", "allow", "none",
		 MTD_CHANGE_WORSE},
	};
	for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
		mtd_decision_info a = {0}, b = {0};
		int k;
		a.state = cases[i].s0, a.level = cases[i].l0, a.access = cases[i].a0;
		a.app_protection = cases[i].p0;
		b.state = cases[i].s1, b.level = cases[i].l1, b.access = cases[i].a1;
		b.app_protection = cases[i].p1;
		k = mtd_change_kind(&a, &b);
		if (k != cases[i].kind)
			fail_msg("case %zu: %s/%s/%s/%s -> %s/%s/%s/%s is %s, expected %s", i,
				 a.state, a.level, a.access, a.app_protection, b.state, b.level,
				 b.access, b.app_protection, mtd_change_kind_name(k),
				 mtd_change_kind_name(cases[i].kind));
	}
	assert_string_equal(mtd_change_kind_name(MTD_CHANGE_WIPE), "wipe");
	assert_string_equal(mtd_change_kind_name(MTD_NCHANGE_KINDS), "?");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(change_callback_before_and_after),
		cmocka_unit_test(decisions_across_blocks),
		cmocka_unit_test(previous_state_tells_apart),
		cmocka_unit_test(device_set_evaluation),
		cmocka_unit_test(change_kinds),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
