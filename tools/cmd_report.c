/* mtdgate report: the stored decisions; SPEC 4.3's report object. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

typedef struct repctx {
	cli_format fmt;
	cli_table *t;      /* table and csv */
	mtd_buf reasons;   /* a row's reasons, joined */
	mtd_buf after;     /* table: the vendors' reports, printed below it */
	const char *state; /* only devices in this state, when set */
	uint64_t n, by_state[4];
	mtd_buf line;      /* the JSON line being written, reused */
} repctx;

int mtd_cli_report_json(mtd_buf *b, const mtd_decision_info *d)
{
	int rc;
	rc = buf_lit(b, "{\"device\":") || buf_str(b, d->device) || buf_lit(b, ",\"platform\":") ||
	     buf_str(b, d->platform) || buf_lit(b, ",\"management\":") || buf_str(b, d->management) ||
	     buf_lit(b, ",\"state\":") || buf_str(b, d->state) || buf_lit(b, ",\"level\":") ||
	     buf_str(b, d->level) || buf_lit(b, ",\"vendors\":{");
	for (size_t i = 0; !rc && i < d->nvendors; i++)
		rc = (i && buf_lit(b, ",")) || buf_str(b, d->vendor_names[i]) || buf_lit(b, ":") ||
		     buf_str(b, d->vendor_levels[i]);
	rc = rc || buf_lit(b, "},\"access\":") || buf_str(b, d->access) ||
	     buf_lit(b, ",\"app_protection\":") || buf_str(b, d->app_protection) ||
	     buf_lit(b, ",\"reasons\":[");
	for (size_t i = 0; !rc && i < d->nreasons; i++)
		rc = (i && buf_lit(b, ",")) || buf_str(b, d->reasons[i]);
	/* extension: the device's protected resources, each at access */
	rc = rc || buf_lit(b, "],\"resources\":{");
	for (size_t i = 0; !rc && i < d->nresources; i++)
		rc = (i && buf_lit(b, ",")) || buf_str(b, d->resources[i]) || buf_lit(b, ":") ||
		     buf_str(b, d->access);
	rc = rc || buf_lit(b, "}");
	/* extension, report of one device: the vendors' latest reports, each
	 * with the time it carries and when it was received (R13) */
	if (!rc && d->report_vendors) {
		char at[40], rcv[40];
		rc = buf_lit(b, ",\"reports\":[");
		for (size_t i = 0; !rc && i < d->nreports; i++)
			rc = (i && buf_lit(b, ",")) || buf_lit(b, "{\"vendor\":") ||
			     buf_str(b, d->report_vendors[i]) || buf_lit(b, ",\"level\":") ||
			     buf_str(b, d->report_levels[i]) || buf_lit(b, ",\"at\":") ||
			     buf_str(b, mtd_time_format(d->report_at[i], at, sizeof at)) ||
			     buf_lit(b, ",\"received\":") ||
			     buf_str(b, mtd_time_format(d->report_received[i], rcv, sizeof rcv)) ||
			     buf_lit(b, "}");
		rc = rc || buf_lit(b, "]");
	}
	rc = rc || buf_lit(b, "}");
	return rc ? -1 : 0;
}

/* SPEC 4.3's report object, one line; written directly (building a JSON
 * tree per device was nine tenths of report --json). */
static int report_json(repctx *r, const mtd_decision_info *d)
{
	r->line.len = 0;
	return mtd_cli_report_json(&r->line, d) ? MTD_ENOMEM : buf_line(&r->line);
}

static const cli_col report_cols[] = {
	{"DEVICE", "device", 0}, {"PLATFORM", "platform", 0}, {"MGMT", "management", 0},
	{"STATE", "state", 0},   {"LEVEL", "level", 0},       {"ACCESS", "access", 0},
	{"APP", "app_protection", 0}, {"REASONS", "reasons", 0},
};

static int print_decision(void *ud, const mtd_decision_info *d)
{
	repctx *r = ud;
	static const char *const states[] = {"compliant", "noncompliant", "in_grace_period",
					     "not_evaluated"};
	if (r->state && strcmp(r->state, d->state))
		return 0;
	for (int i = 0; i < 4; i++)
		if (!strcmp(d->state, states[i]))
			r->by_state[i]++;
	r->n++;
	if (r->fmt == CLI_JSON)
		return report_json(r, d);
	r->reasons.len = 0;
	for (size_t i = 0; i < d->nreasons; i++)
		if ((i && buf_lit(&r->reasons, "; ")) || buf_lit(&r->reasons, d->reasons[i]))
			return MTD_ENOMEM;
	if (mtd_buf_put(&r->reasons, "", 1))
		return MTD_ENOMEM;
	{
		const char *cells[] = {d->device, d->platform,       d->management,
				       d->state,  d->level,          d->access,
				       d->app_protection, (const char *)r->reasons.data};
		int rc = cli_table_row(r->t, cells);
		if (rc)
			return rc;
	}
	for (size_t i = 0; r->fmt == CLI_TABLE && i < d->nreports; i++) {
		char line[512], at[40], rcv[40];
		snprintf(line, sizeof line, "  report from %s: %s, dated %s, received %s\n",
			 esc(d->report_vendors[i]), esc(d->report_levels[i]),
			 mtd_time_format(d->report_at[i], at, sizeof at),
			 mtd_time_format(d->report_received[i], rcv, sizeof rcv));
		if (buf_lit(&r->after, line))
			return MTD_ENOMEM;
	}
	return 0;
}

static int cmd_report(mtd_t *h, opts *o)
{
	repctx r = {0};
	int bad = 0, rc;
	const char *dev;
	if ((rc = cli_output(o, "report", &r.fmt)))
		return rc;
	dev = flag_value(o, "--device", &bad);
	if (bad)
		return usage_error("report: --device needs an id");
	r.state = flag_value(o, "--state", &bad);
	if (bad || (r.state && strcmp(r.state, "compliant") && strcmp(r.state, "noncompliant") &&
		    strcmp(r.state, "in_grace_period") && strcmp(r.state, "not_evaluated")))
		return usage_error("report: --state needs compliant, noncompliant, in_grace_period "
				   "or not_evaluated");
	if ((rc = no_more(o, 1, "report")))
		return rc;
	if (r.fmt != CLI_JSON && !(r.t = cli_table_new(r.fmt, report_cols, 8)))
		return fail(h, MTD_ENOMEM);
	rc = cli_table_end(r.t, mtd_report(h, dev, print_decision, &r));
	if (!rc && r.after.len)
		rc = fwrite(r.after.data, 1, r.after.len, stdout) == r.after.len ? 0 : MTD_EIO;
	mtd_buf_free(&r.line);
	mtd_buf_free(&r.reasons);
	mtd_buf_free(&r.after);
	if (rc)
		return fail(h, rc);
	if (r.fmt == CLI_TABLE)
		printf("\n%llu devices: %llu compliant, %llu noncompliant, %llu in grace period, "
		       "%llu not evaluated\n",
		       (unsigned long long)r.n, (unsigned long long)r.by_state[0],
		       (unsigned long long)r.by_state[1], (unsigned long long)r.by_state[2],
		       (unsigned long long)r.by_state[3]);
	return EX_OK;
}

static const cli_option report_options[] = {
	{"--device", "ID", "only this device, with its latest reports", NULL, 0},
	{"--state", "compliant|noncompliant|in_grace_period|not_evaluated",
	 "only devices in this state", NULL, 0},
	CLI_OPT_OUTPUT(NULL),
	{0},
};

const cli_command cli_cmd_report = {
	.name = "report",
	.summary = "  report [--json] [--device ID] [--state STATE]  show decisions\n",
	.help = "usage: mtdgate report [--json] [--device ID] [--state STATE]\n\n"
		"Show the stored decisions as a table, or as one JSON object per device;\n"
		"--state keeps only devices in that state. JSON objects:\n"
		"  {\"device\",\"platform\",\"management\",\"state\",\"level\",\"vendors\",\n"
		"   \"access\",\"app_protection\",\"reasons\",\"resources\"}\n"
		"(resources, an extension: the protected resources of the device's groups,\n"
		"each with the device's access.) With --device, also each vendor's latest\n"
		"report: \"reports\":[{\"vendor\",\"level\",\"at\",\"received\"}] (at: the time\n"
		"the report carries; received: when mtdgate received it).\n\n"
		"Exit 0 done; 64 usage error, no store or unknown device; 70 internal\n"
		"error.\n",
	.run = cmd_report,
	.options = report_options,
};
