/* mtdgate rules check|test. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

static int cmd_rules(mtd_t *h, opts *o)
{
	const char *sub = o->npos > 1 ? o->argv[1] : "";
	const char *dir;
	unsigned passed = 0, failed = 0;
	int rc;

	if (strcmp(sub, "check") && strcmp(sub, "test"))
		return usage_error("rules: expected check or test");
	if (o->argc > o->npos)
		return usage_error("rules %s: unknown option '%s'", sub, o->argv[o->npos]);
	if (o->npos > 3)
		return usage_error("rules %s: expected at most one directory", sub);
	dir = o->npos == 3 ? o->argv[2] : NULL;
	if (!strcmp(sub, "check")) {
		if ((rc = mtd_rules_check(h, dir, print_check, NULL)))
			return exit_for(rc);
		printf("rules %s: ok\n", dir ? dir : o->cfg.rules_dir);
		return EX_OK;
	}
	rc = mtd_rules_test(h, dir, print_check, NULL, &passed, &failed);
	printf("%u passed, %u failed\n", passed, failed);
	if (rc && failed)
		return EX_DATAERR_;
	return rc ? fail(h, rc) : EX_OK;
}

const cli_command cli_cmd_rules = {
	.name = "rules",
	.summary = "  rules check [DIR]                      validate and exercise rules\n"
		"  rules test [DIR]                       run the rules' own tests (DIR/tests.lua)\n",
	.help = "usage: mtdgate rules check [DIR]\n"
		"       mtdgate rules test [DIR]\n\n"
		"DIR defaults to --rules. check: load groups.lua and policy.lua in the sandbox,\n"
		"refuse unknown levels, actions or keys and wrong types with file:line and\n"
		"the offending value, then run the rules on example devices of every\n"
		"platform so a script that fails at run time is caught (exit 70).\n"
		"test: run the example devices with expected decisions in DIR/tests.lua\n"
		"(format in rules/README.md); prints each case and 'N passed, M failed';\n"
		"exit 65 when an expectation fails, 70 when the rules cannot run.\n\n"
		"Exit 0 ok or all passed; 64 usage error; 65 an expectation failed;\n"
		"70 the rules cannot load or run.\n",
	.run = cmd_rules,
	.subcommands = "check test",
};
