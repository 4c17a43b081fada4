/* mtdgate appsync: answer a vendor's App Sync request. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"

static int cmd_appsync(mtd_t *h, opts *o)
{
	int json = has_flag(o, "--json"), native = has_flag(o, "--native"), rc;
	uint64_t n = 0;
	if ((rc = no_more(o, 2, "appsync")))
		return rc;
	if (json && native)
		return usage_error("appsync: --json and --native exclude each other");
	if (!json && !native && isatty(STDOUT_FILENO))
		return usage_error("appsync: the answer is binary msgpack; redirect it to a file or "
				   "a pipe, or use --json");
	rc = mtd_appsync(h, o->argv[1], json ? MTD_APPSYNC_JSON : native ? MTD_APPSYNC_NATIVE
								  : MTD_APPSYNC_MSGPACK,
			 write_stdout, NULL, &n);
	if (fflush(stdout) && !rc)
		return fail(h, MTD_EIO);
	if (rc)
		return fail_vendor(h, rc, o->argv[1]);
	fprintf(stderr, "%s: appsync %s: %llu inventory records\n", prog, o->argv[1],
		(unsigned long long)n);
	return EX_OK;
}

static const cli_option appsync_options[] = {
	{"--json", NULL, "one JSON inventory record per line", NULL, 0},
	{"--native", NULL, "the vendor's own format", NULL, 0},
	{0},
};

const cli_command cli_cmd_appsync = {
	.name = "appsync",
	.summary = "  appsync VENDOR [--json|--native]       answer the vendor's App Sync request\n",
	.help = "usage: mtdgate appsync VENDOR [--json | --native]\n\n"
		"Answer the vendor's App Sync request (iOS/iPadOS app inventory): the\n"
		"inventory of corporate iOS devices, and of personal ones only when the\n"
		"connector has appsync_personal_ios on; never other platforms. Written to\n"
		"stdout as a msgpack stream of inventory records, or with --json one JSON\n"
		"record per line, or with --native in the vendor's own format when its\n"
		"plugin can translate. Refused (69) when the connector is not_set_up or\n"
		"unavailable, or appsync_ios is off. Every answer and refusal is audited.\n\n"
		"Exit 0 answered; 64 usage error, no store or unknown vendor; 69 refused;\n"
		"70 internal error.\n",
	.run = cmd_appsync,
	.options = appsync_options,
};
