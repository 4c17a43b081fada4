/* mtdgate parked: messages waiting for their device. */
#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

typedef struct listctx {
	cli_format fmt;
	cli_table *t; /* table and csv */
} listctx;

static const cli_col parked_cols[] = {
	{"ID", "id", CLI_COL_NUM}, {"VENDOR", "vendor", 0}, {"RECEIVED", "received", 0},
	{"REASON", "reason", 0},   {"MESSAGE", "message", 0},
};

static int print_parked(void *ud, const mtd_parked_info *p)
{
	listctx *l = ud;
	char when[32], id[24];
	if (l->fmt == CLI_JSON) {
		json_t *j = json_pack("{s:I, s:s, s:I, s:s}", "id", (json_int_t)p->id, "vendor",
				      p->vendor, "received", (json_int_t)p->received, "reason",
				      p->reason);
		json_t *m = json_loads(p->message, 0, NULL);
		char *text;
		if (!j)
			return MTD_ENOMEM;
		json_object_set_new(j, "message", m ? m : json_null());
		text = json_dumps(j, JSON_COMPACT);
		json_decref(j);
		if (!text)
			return MTD_ENOMEM;
		puts(text);
		free(text);
		return 0;
	}
	snprintf(id, sizeof id, "%lld", (long long)p->id);
	mtd_time_format(p->received, when, sizeof when);
	const char *cells[] = {id, p->vendor, when, p->reason, p->message};
	return cli_table_row(l->t, cells);
}

static int cmd_parked(mtd_t *h, opts *o)
{
	listctx l = {0};
	int rc;
	if ((rc = cli_output(o, "parked", &l.fmt)) || (rc = no_more(o, 1, "parked")))
		return rc;
	if (l.fmt != CLI_JSON && !(l.t = cli_table_new(l.fmt, parked_cols, 5)))
		return fail(h, MTD_ENOMEM);
	rc = cli_table_end(l.t, mtd_parked(h, print_parked, &l));
	return rc ? fail(h, rc) : EX_OK;
}

static const cli_option parked_options[] = {
	CLI_OPT_OUTPUT(NULL),
	{0},
};

const cli_command cli_cmd_parked = {
	.name = "parked",
	.summary = "  parked [--json]                        messages waiting for their device\n",
	.help = "usage: mtdgate parked [--json]\n\n"
		"List the parked messages, oldest first: messages that named a device\n"
		"mtdgate does not know (by \"device\" or by every identifier of their\n"
		"\"device_ref\"), or identifiers of different devices. Each is applied, in\n"
		"the order received and audited, as soon as a device import or an identifier\n"
		"learned from a later message makes it name one device; it expires after the\n"
		"connector's parked_days (audited). With --json one object per line:\n"
		"  {\"id\",\"vendor\",\"received\",\"reason\",\"message\"}\n\n"
		"Exit 0 done; 64 usage error or no store; 70 internal error.\n",
	.run = cmd_parked,
	.options = parked_options,
};
