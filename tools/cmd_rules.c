/* mtdgate rules check|test. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

/* The lines of a check or a test in the chosen format: table as
 * print_check, json one object per line, csv rows type,message. */
typedef struct rout {
	cli_format fmt;
	int header; /* csv: written */
	unsigned warnings, failures;
	int rc; /* the first writing error */
} rout;

static const char *line_type(int ok)
{
	return ok == 2 ? "warning" : ok ? "ok" : "fail";
}

static void on_line(void *ud, int ok, const char *msg)
{
	rout *r = ud;
	mtd_buf b = {0};
	int rc;
	r->warnings += ok == 2;
	r->failures += ok == 0;
	if (r->fmt == CLI_TABLE) {
		print_check(NULL, ok, msg);
		return;
	}
	if (r->fmt == CLI_JSON)
		rc = buf_lit(&b, "{\"type\":") || buf_str(&b, line_type(ok)) ||
		     buf_lit(&b, ",\"message\":") || buf_str(&b, msg) || buf_lit(&b, "}")
			     ? MTD_ENOMEM
			     : buf_line(&b);
	else
		rc = (!r->header++ && buf_lit(&b, "type,message\r\n")) ||
				     cli_csv_field(&b, line_type(ok)) || buf_lit(&b, ",") || cli_csv_field(&b, msg) ||
			     buf_lit(&b, "\r\n")
			     ? MTD_ENOMEM
			     : fwrite(b.data, 1, b.len, stdout) == b.len ? 0 : MTD_EIO;
	if (rc && !r->rc)
		r->rc = rc;
	mtd_buf_free(&b);
}

/* The result: a line for people, or one JSON object (nothing for csv). */
static int result(rout *r, const char *sub, const char *dir, int ok, unsigned passed,
		  unsigned failed)
{
	mtd_buf b = {0};
	char num[160];
	int rc;
	if (r->fmt == CLI_CSV) {
		if (!r->header++ && fputs("type,message\r\n", stdout) == EOF)
			return MTD_EIO;
		return r->rc;
	}
	if (r->fmt == CLI_TABLE) {
		if (sub[0] == 't')
			printf("%u passed, %u failed\n", passed, failed);
		else if (ok)
			printf("rules %s: ok%s\n", esc(dir), r->warnings ? " (with warnings)" : "");
		return 0;
	}
	if (sub[0] == 't')
		snprintf(num, sizeof num, ",\"passed\":%u,\"failed\":%u}", passed, failed);
	else
		snprintf(num, sizeof num, ",\"ok\":%s,\"warnings\":%u,\"failures\":%u}",
			 ok ? "true" : "false", r->warnings, r->failures);
	rc = buf_lit(&b, "{\"type\":\"summary\",\"command\":") || buf_str(&b, sub) ||
		     buf_lit(&b, ",\"rules\":") || buf_str(&b, dir) || buf_lit(&b, num)
		     ? MTD_ENOMEM
		     : buf_line(&b);
	mtd_buf_free(&b);
	return r->rc ? r->rc : rc;
}

static int cmd_rules(mtd_t *h, opts *o)
{
	const char *sub = o->npos > 1 ? o->argv[1] : "";
	const char *dir;
	unsigned passed = 0, failed = 0;
	rout r = {0};
	int rc, wr;

	if (strcmp(sub, "check") && strcmp(sub, "test"))
		return usage_error("rules: expected check or test");
	if ((rc = cli_output(o, sub[0] == 'c' ? "rules check" : "rules test", &r.fmt)))
		return rc;
	if (o->argc > o->npos)
		return usage_error("rules %s: unknown option '%s'", sub, o->argv[o->npos]);
	if (o->npos > 3)
		return usage_error("rules %s: expected at most one directory", sub);
	dir = o->npos == 3 ? o->argv[2] : NULL;
	if (!strcmp(sub, "check")) {
		rc = mtd_rules_check(h, dir, on_line, &r);
		wr = result(&r, sub, dir ? dir : o->cfg.rules_dir, !rc, 0, 0);
		if (rc)
			return exit_for(rc);
		return wr ? EX_INTERNAL_ : EX_OK;
	}
	rc = mtd_rules_test(h, dir, on_line, &r, &passed, &failed);
	wr = result(&r, sub, dir ? dir : o->cfg.rules_dir, !rc, passed, failed);
	if (rc && failed)
		return EX_DATAERR_;
	if (rc)
		return fail(h, rc);
	return wr ? EX_INTERNAL_ : EX_OK;
}

static const cli_option rules_options[] = {
	CLI_OPT_OUTPUT(NULL),
	{0},
};

const cli_command cli_cmd_rules = {
	.name = "rules",
	.summary = "  rules check [DIR]                      validate and exercise rules\n"
		"  rules test [DIR]                       run the rules' own tests (DIR/tests.lua)\n",
	.help = "usage: mtdgate rules check [DIR] [--output table|json|csv]\n"
		"       mtdgate rules test [DIR] [--output table|json|csv]\n\n"
		"DIR defaults to --rules. check: load groups.lua and policy.lua in the sandbox,\n"
		"refuse unknown levels, actions or keys and wrong types with file:line and\n"
		"the offending value, then run the rules on example devices of every\n"
		"platform, with and without the details and app inventories devices may\n"
		"lack, so a script that fails at run time is caught (exit 70), named by\n"
		"script, line and the value it was handed. With a store (--db), groups.lua\n"
		"is compared with the devices' groups: a group no device is in, devices in\n"
		"groups it has no entry for, are warnings ('warn'), exit status unchanged.\n"
		"test: run the example devices with expected decisions in DIR/tests.lua\n"
		"(format in rules/README.md); prints each case and 'N passed, M failed'; a\n"
		"key a case may not have (a typo) fails the case, naming case and key.\n"
		"exit 65 when an expectation fails, 70 when the rules cannot run.\n"
		"--output json: one {\"type\":\"ok|warning|fail\",\"message\"} per line, then\n"
		"{\"type\":\"summary\",\"command\",\"rules\",...} with \"ok\", \"warnings\",\n"
		"\"failures\" (check) or \"passed\", \"failed\" (test); csv: type,message rows.\n\n"
		"Exit 0 ok or all passed; 64 usage error; 65 an expectation failed;\n"
		"70 the rules cannot load or run.\n",
	.run = cmd_rules,
	.subcommands = "check test",
	.options = rules_options,
};
