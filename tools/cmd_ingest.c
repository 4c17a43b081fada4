/* mtdgate ingest: feed a vendor's connector. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

static int cmd_ingest(mtd_t *h, opts *o)
{
	int normalized = has_flag(o, "--normalized"), rc;
	cli_format fmt;
	mtd_stats st;
	FILE *in;

	if ((rc = cli_output(o, "ingest", &fmt)) || (rc = no_more(o, 3, "ingest")))
		return rc;
	if (!(in = open_input(o->argv[2]))) {
		fprintf(stderr, "%s: %s: %s\n", prog, esc(o->argv[2]), strerror(errno));
		return EX_USAGE_;
	}
	rc = mtd_ingest(h, o->argv[1], in, input_name(o->argv[2]), normalized, &st);
	if (in != stdin)
		fclose(in);
	if (rc) {
		if (st.records)
			print_stats(o->argv[1], &st, 1, fmt);
		return fail_vendor(h, rc, o->argv[1]);
	}
	print_stats(o->argv[1], &st, 1, fmt);
	return st.malformed || st.bad_elements ? EX_DATAERR_ : EX_OK;
}

static const cli_option ingest_options[] = {
	{"--normalized", NULL, "normalized messages, not vendor payloads", NULL, 0},
	CLI_OPT_OUTPUT(NULL),
	{0},
};

const cli_command cli_cmd_ingest = {
	.name = "ingest",
	.summary = "  ingest VENDOR [--normalized] [--acks] FILE|-  ingest payloads or normalized messages\n",
	.help = "usage: mtdgate ingest VENDOR FILE|-\n"
		"       mtdgate ingest VENDOR --normalized FILE|-\n\n"
		"Feed the vendor's connector: vendor-native payloads decoded by its plugin,\n"
		"or normalized channel messages:\n"
		"  {\"type\":\"threat\",\"device\",\"level\",\"at\",\"threats\":[...],\"os_supported\"}\n"
		"  {\"type\":\"heartbeat|provision|appsync_request\",\"at\"}\n"
		"  {\"type\":\"error\",\"code\",\"at\"}\n"
		"  {\"type\":\"threat_event\",\"device\",\"threat\":{\"id\",\"category\",\"name\",\"level\"},\n"
		"   \"state\":\"open|resolved\",\"at\"}\n"
		"A message may name its device by \"device_ref\":{KIND:VALUE,...} instead of\n"
		"\"device\" (kinds intune entra udid serial imei meid mdm wifi_mac\n"
		"vendor_device_id user, and platform with user). One that names no known\n"
		"device, or several, is parked (see 'mtdgate parked'), not malformed.\n"
		"Prints how many records were read and how many messages were accepted,\n"
		"rejected (by the connector's state, or dated more than --max-skew seconds\n"
		"after their receipt: R13, each named on stderr), malformed, or parked.\n"
		"Accepted counts are committed: with --acks, a line 'acknowledged N records'\n"
		"is printed as each\n"
		"batch commits (--batch, 50,000 records by default), and a kill after it\n"
		"loses none of them. Exit 65 when some were malformed, 69 when there is no\n"
		"such connector.\n\n"
		"Exit 0 all read; 64 usage error or no store; 65 some records were\n"
		"malformed; 69 no such connector, or refused by its state; 70 internal\n"
		"error.\n",
	.run = cmd_ingest,
	.options = ingest_options,
};
