/* mtdgate evaluate [--dry-run]: decide every device. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

/* A dry run's change, as the administrator reads it. */
static int on_change(void *ud, const mtd_decision_info *a, const mtd_decision_info *b)
{
	(void)ud;
	printf("%s: %s/%s/%s -> %s/%s/%s\n", esc(b->device), a->state, a->access, a->app_protection,
	       b->state, b->access, b->app_protection);
	for (size_t k = 0; k < b->nreasons; k++)
		printf("    %s\n", esc(b->reasons[k]));
	return 0;
}

static int cmd_evaluate(mtd_t *h, opts *o)
{
	mtd_transitions t;
	uint64_t n = 0, c = 0;
	int dry = has_flag(o, "--dry-run"), rc;
	if ((rc = no_more(o, 1, "evaluate")))
		return rc;
	/* a real run is told only the counts: no decision built per change */
	if ((rc = mtd_evaluate_counted(h, dry, dry ? on_change : NULL, NULL, &n, &c, &t)))
		return fail(h, rc);
	printf("%s %llu devices, %llu decisions %s\n", dry ? "dry run:" : "evaluated",
	       (unsigned long long)n, (unsigned long long)c, dry ? "would change" : "changed");
	for (size_t i = 0; i < t.npairs; i++) {
		int from = t.pair[i] / MTD_NSTATES, to = t.pair[i] % MTD_NSTATES;
		char key[80];
		snprintf(key, sizeof key, "%s -> %s", mtd_state_name(from), mtd_state_name(to));
		printf("  %-40s %llu\n", key, (unsigned long long)t.n[from][to]);
	}
	return EX_OK;
}

static const cli_option evaluate_options[] = {
	{"--dry-run", NULL, "write nothing; show what would change", NULL, 0},
	{0},
};

const cli_command cli_cmd_evaluate = {
	.name = "evaluate",
	.summary = "  evaluate [--dry-run]                   decide every device with the rules\n",
	.help = "usage: mtdgate evaluate [--dry-run]\n\n"
		"Decide every device with the rules (--rules DIR): compliance, access and\n"
		"app protection. Only changed decisions are written and audited, all in one\n"
		"transaction. With --dry-run nothing is written: each device whose decision\n"
		"would change is printed old -> new with its reasons, then a count per\n"
		"transition. A failing rule script changes nothing (exit 70).\n\n"
		"Exit 0 done; 64 usage error or no store; 70 internal error, a failing\n"
		"rule script included (nothing changed).\n",
	.run = cmd_evaluate,
	.options = evaluate_options,
};
