/* mtdgate device import|list|show|remove, inventory import: the fleet in
 * (records, Microsoft Graph exports, CSV) and its lifecycle (issue 18). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"

#define MAX_INPUTS 4096

static int parse_format(const char *s, int *fmt)
{
	static const char *const names[] = {"auto", "records", "graph", "csv"};
	for (int i = 0; i < 4; i++)
		if (!strcmp(s, names[i])) {
			*fmt = i; /* MTD_FORMAT_AUTO .. MTD_FORMAT_CSV */
			return 0;
		}
	return -1;
}

static void close_inputs(mtd_input *v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (v[i].in && v[i].in != stdin)
			fclose(v[i].in);
}

static int open_one(mtd_input *in, const char *path, int *stdin_used)
{
	if (!strcmp(path, "-")) {
		if ((*stdin_used)++)
			return usage_error("'-' (standard input) given twice");
		in->in = stdin;
		in->name = "<stdin>";
		return 0;
	}
	if (!(in->in = fopen(path, "rb"))) {
		fprintf(stderr, "mtdgate: %s: %s\n", esc(path), strerror(errno));
		return EX_USAGE_;
	}
	in->name = path;
	return 0;
}

/* An import's counts: a line for people, or one JSON object or CSV row. */
static void import_stats(const char *what, const mtd_stats *st, int replace_all,
			 uint64_t removed, cli_format fmt)
{
	if (fmt != CLI_TABLE) {
		static const cli_col cols[] = {
			{"", "records", CLI_COL_RAW},      {"", "imported", CLI_COL_RAW},
			{"", "malformed", CLI_COL_RAW},    {"", "bad_elements", CLI_COL_RAW},
			{"", "unparked", CLI_COL_RAW},     {"", "removed", CLI_COL_RAW},
		};
		const uint64_t n[6] = {st->records,      st->accepted, st->malformed,
				       st->bad_elements, st->unparked, removed};
		char v[6][24];
		const char *cells[6];
		for (int i = 0; i < 6; i++) {
			snprintf(v[i], sizeof v[i], "%llu", (unsigned long long)n[i]);
			cells[i] = i == 5 && !replace_all ? NULL : v[i];
		}
		cli_table *t = cli_table_new(fmt, cols, 6);
		if (cli_table_end(t, t ? cli_table_row(t, cells) : MTD_ENOMEM))
			fprintf(stderr, "%s: %s: cannot write the counts\n", prog, what);
		return;
	}
	printf("%s: %llu records, %llu imported, %llu malformed", what,
	       (unsigned long long)st->records, (unsigned long long)st->accepted,
	       (unsigned long long)st->malformed);
	if (st->bad_elements)
		printf(", %llu bad group member%s", (unsigned long long)st->bad_elements,
		       st->bad_elements == 1 ? "" : "s");
	if (st->unparked)
		printf(", %llu parked before now applied", (unsigned long long)st->unparked);
	if (replace_all)
		printf(", %llu removed", (unsigned long long)removed);
	putchar('\n');
}

/* device import / inventory import: argv[0] is "device" or "inventory",
 * argv[1] "import"; the files before npos, the options from it on (cli.h). */
static int cmd_import(mtd_t *h, int argc, char **argv, int npos, int inventory, cli_format fmt)
{
	static mtd_input inputs[MAX_INPUTS], groups[MAX_INPUTS];
	mtd_import_opts o = {.inputs = inputs, .groups = groups};
	int stdin_used = 0, rc = EX_OK, any_format = 0;
	uint64_t removed = 0;
	mtd_stats st;

	for (int i = 2; i < argc && rc == EX_OK; i++) {
		const char *a = argv[i];
		if (!strcmp(a, "--format")) {
			if (i + 1 >= argc || parse_format(argv[++i], &o.format))
				rc = usage_error("%s import: --format needs graph, csv, records or auto", argv[0]);
			any_format = 1;
		} else if (!strcmp(a, "--groups") && !inventory) {
			char *eq;
			if (i + 1 >= argc) {
				rc = usage_error("device import: --groups needs a file ([GROUP=]FILE)");
				break;
			}
			if (o.ngroups == MAX_INPUTS) {
				rc = usage_error("device import: more than %d group exports", MAX_INPUTS);
				break;
			}
			a = argv[++i];
			/* GROUP=FILE: member pages of that group; a file of that name wins */
			eq = strchr(a, '=');
			groups[o.ngroups].group = NULL;
			if (eq && eq != a && access(a, F_OK) != 0) {
				*eq = 0;
				groups[o.ngroups].group = a;
				a = eq + 1;
			}
			if ((rc = open_one(&groups[o.ngroups], a, &stdin_used)) == EX_OK)
				o.ngroups++;
		} else if (!strcmp(a, "--replace-all") && !inventory) {
			o.replace_all = 1;
		} else if (i >= npos) {
			rc = usage_error("%s import: unknown option '%s'", argv[0], a);
		} else if (o.ninputs == MAX_INPUTS) {
			rc = usage_error("%s import: more than %d files", argv[0], MAX_INPUTS);
		} else if ((rc = open_one(&inputs[o.ninputs], a, &stdin_used)) == EX_OK) {
			o.ninputs++;
		}
	}
	if (rc == EX_OK && !o.ninputs)
		rc = usage_error("%s import: expected FILE... (or - for standard input)", argv[0]);
	(void)any_format;
	if (rc == EX_OK) {
		int r = inventory ? mtd_inventory_import_from(h, &o, &st)
				  : mtd_device_import_from(h, &o, &st, &removed);
		if (r) {
			rc = fail(h, r);
		} else {
			import_stats(inventory ? "inventory" : "devices", &st, o.replace_all, removed,
				     fmt);
			rc = st.malformed || st.bad_elements ? EX_DATAERR_ : EX_OK;
		}
	}
	close_inputs(inputs, o.ninputs);
	close_inputs(groups, o.ngroups);
	return rc;
}

static int cmd_device(mtd_t *h, opts *o)
{
	cli_format fmt;
	int rc;
	if (o->npos >= 2 && !strcmp(o->argv[1], "import"))
		return (rc = cli_output(o, "device import", &fmt))
			       ? rc
			       : cmd_import(h, o->argc, o->argv, o->npos, 0, fmt);
	return usage_error("device: expected import, list, show or remove");
}

static int cmd_inventory(mtd_t *h, opts *o)
{
	cli_format fmt;
	int rc;
	if (o->npos >= 2 && !strcmp(o->argv[1], "import"))
		return (rc = cli_output(o, "inventory import", &fmt))
			       ? rc
			       : cmd_import(h, o->argc, o->argv, o->npos, 1, fmt);
	return usage_error("inventory: expected 'import FILE...'");
}

static const cli_option device_options[] = {
	{"--format", "graph|csv|records|auto", "the input's format [detected]", "import", 0},
	{"--groups", "[GROUP=]FILE", "Graph groups with members (repeatable)", "import", 0},
	{"--replace-all", NULL, "remove the stored devices the files do not hold", "import", 0},
	CLI_OPT_OUTPUT("import"),
	{0},
};

static const cli_option inventory_options[] = {
	{"--format", "graph|csv|records|auto", "the input's format [detected]", "import", 0},
	CLI_OPT_OUTPUT("import"),
	{0},
};

const cli_command cli_cmd_device = {
	.name = "device",
	.summary = "  device import FILE...|-                import devices: records, Graph, CSV\n",
	.help = "usage: mtdgate device import [--format graph|csv|records] [--groups [GROUP=]FILE]...\n"
		"                             [--replace-all] FILE...|-\n\n"
		"Import devices. records (SPEC 4.2; JSON documents, lines, an array of them, or\n"
		"msgpack):\n"
		"  {\"id\",\"platform\":\"android|ios|windows|macos\",\"os_version\",\n"
		"   \"ownership\":\"corporate|personal\",\"management\":\"enrolled|unenrolled\",\n"
		"   \"user\",\"groups\":[NAME,...],\"ids\":{KIND:VALUE,...}}\n"
		"ids: the device's identifiers (intune entra serial imei meid udid wifi_mac,\n"
		"vendor:<vendor id>), by which messages may name it; a value another device\n"
		"has is refused with the record's position. Parked messages that now name\n"
		"one device are applied after the import.\n"
		"graph: Microsoft Graph managedDevices pages ({\"value\":[...]} with\n"
		"@odata.nextLink), one or many per file, pretty-printed or not: id is the\n"
		"Intune id; operatingSystem, managedDeviceOwnerType, managementAgent/State,\n"
		"userPrincipalName and the identifiers (id, azureADDeviceId, serialNumber,\n"
		"imei, meid, udid, wiFiMacAddress) are mapped as the README says.\n"
		"--groups FILE: Graph groups with their members ($expand=members);\n"
		"--groups GROUP=FILE: member pages of GROUP (/groups/{id}/members): devices\n"
		"join by their Entra device id, users' devices by user id or UPN.\n"
		"csv: RFC 4180 with a header naming record fields and ids.KIND columns\n"
		"(groups separated by ';'). The format is detected when not given.\n"
		"--replace-all: every stored device the files do not hold is removed (as\n"
		"device remove does); refused when a record was malformed or a Graph export\n"
		"goes on beyond the pages given.\n"
		"A known device is replaced as a whole. Bad records, elements and group\n"
		"members are reported with their position and skipped; the others are kept.\n"
		"Ids are UTF-8 without control or bidi characters; a duplicate key refuses\n"
		"the record.\n"
		"Exit 0 imported; 64 usage; 65 some records malformed; 69 --replace-all\n"
		"refused; 70 internal error.\n",
	.run = cmd_device,
	.subcommands = "import",
	.options = device_options,
};

const cli_command cli_cmd_inventory = {
	.name = "inventory",
	.summary = "  inventory import FILE...|-             import app inventory records\n",
	.help = "usage: mtdgate inventory import [--format graph|csv|records] FILE...|-\n\n"
		"Import app inventory records:\n"
		"  {\"device\",\"app_id\",\"version\",\"short_version\",\"name\",\"bundle_size\",\n"
		"   \"dynamic_size\",\"adhoc_signed\",\"app_store\",\"beta\",\"vpp\",\"validated\",\"managed\"}\n"
		"graph: detectedApps pages with their managedDevices ($expand=managedDevices),\n"
		"or managedDevices with their detectedApps; the device by its id or Intune id.\n"
		"csv: RFC 4180 with a header naming those fields.\n"
		"Each device in the input has its inventory replaced as a whole.\n"
		"Exit 0 imported; 64 usage; 65 some records malformed; 70 internal error.\n",
	.run = cmd_inventory,
	.subcommands = "import",
	.options = inventory_options,
};
