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
static const char *policy(const char *word)
{
	static char text[512];
	snprintf(text, sizeof text,
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

/* Every device changes outcome: each callback's "before" is that device's
 * own old decision, however the outcomes fall into the engine's caches. */
static void change_callback_before_and_after(void **state)
{
	char dir[256], oldr[300], newr[300];
	char *devs = malloc((size_t)NDEV * 100);
	size_t len = 0;
	mtd_stats st;
	seen s = {0};
	mtd_t *h;
	FILE *in;
	(void)state;

	assert_non_null(devs);
	tu_mkdtemp(dir, "engine");
	snprintf(oldr, sizeof oldr, "%s/old", dir);
	snprintf(newr, sizeof newr, "%s/new", dir);
	assert_int_equal(mkdir(oldr, 0700), 0);
	assert_int_equal(mkdir(newr, 0700), 0);
	tu_write_str(oldr, "groups.lua", groups);
	tu_write_str(oldr, "policy.lua", policy("old"));
	tu_write_str(newr, "groups.lua", groups);
	tu_write_str(newr, "policy.lua", policy("new"));
	for (int i = 0; i < NDEV; i++)
		len += (size_t)sprintf(devs + len,
				       "{\"id\":\"d%d\",\"platform\":\"ios\",\"ownership\":\"corporate\","
				       "\"management\":\"enrolled\"}\n",
				       i);

	h = open_with(dir, oldr);
	assert_int_equal(mtd_init(h, "commercial"), 0);
	assert_non_null(in = fmemopen(devs, len, "r"));
	assert_int_equal(mtd_device_import(h, in, "devices.jsonl", &st), 0);
	fclose(in);
	assert_int_equal(st.accepted, NDEV);
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
	free(devs);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(change_callback_before_and_after),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
