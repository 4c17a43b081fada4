/* mtdgate parked: messages waiting for their device. */
#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

static int print_parked(void *ud, const mtd_parked_info *p)
{
	char when[32];
	if (*(int *)ud) {
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
	mtd_time_format(p->received, when, sizeof when);
	printf("%lld\t%s\t%s\t%s\n\t%s\n", (long long)p->id, esc(p->vendor), when, esc(p->reason),
	       esc(p->message));
	return 0;
}

static int cmd_parked(mtd_t *h, opts *o)
{
	int json = has_flag(o, "--json"), rc;
	if ((rc = no_more(o, 1, "parked")))
		return rc;
	if ((rc = mtd_parked(h, print_parked, &json)))
		return fail(h, rc);
	return EX_OK;
}

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
		"  {\"id\",\"vendor\",\"received\",\"reason\",\"message\"}\n",
	.run = cmd_parked,
};
