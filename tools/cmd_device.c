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

/* ---- list, show, remove ---- */

/* The current decision of every device: state and level by id. */
typedef struct dec {
	char *id;
	const char *state, *level; /* library constants */
} dec;
typedef struct decs {
	dec *v;
	size_t n, cap;
} decs;

static int on_decision(void *ud, const mtd_decision_info *d)
{
	decs *ds = ud;
	if (ds->n == ds->cap) {
		dec *v = realloc(ds->v, (ds->cap = ds->cap ? 2 * ds->cap : 1024) * sizeof *v);
		if (!v)
			return MTD_ENOMEM;
		ds->v = v;
	}
	if (!(ds->v[ds->n].id = strdup(d->device)))
		return MTD_ENOMEM;
	ds->v[ds->n].state = d->state;
	ds->v[ds->n++].level = d->level;
	return 0;
}

static int dec_cmp(const void *a, const void *b)
{
	return strcmp(((const dec *)a)->id, ((const dec *)b)->id);
}

static const dec *dec_find(const decs *ds, const char *id)
{
	dec k = {(char *)id, NULL, NULL};
	return ds->n ? bsearch(&k, ds->v, ds->n, sizeof *ds->v, dec_cmp) : NULL;
}

#define NCOLS 8
static const cli_col list_cols[NCOLS] = {
	{"DEVICE", "id", 0},        {"PLATFORM", "platform", 0}, {"OWNERSHIP", "ownership", 0},
	{"MANAGEMENT", "management", 0}, {"USER", "user", 0},   {"GROUPS", "groups", 0},
	{"STATE", "state", 0},      {"LEVEL", "level", 0},
};

typedef struct lister {
	decs ds;
	const char *state;
	cli_table *t;
	cli_format fmt;
} lister;

/* A device's groups as one cell: a JSON array for --output json (a device
 * record's "groups", SPEC 4.2), else the names joined by ';'. */
static int groups_cell(mtd_buf *b, const mtd_device_info *d, cli_format fmt)
{
	int rc = fmt == CLI_JSON ? buf_lit(b, "[") : 0;
	for (size_t i = 0; !rc && i < d->ngroups; i++) {
		if (i)
			rc = buf_lit(b, fmt == CLI_JSON ? "," : ";");
		if (!rc)
			rc = fmt == CLI_JSON ? buf_str(b, d->groups[i])
					     : mtd_buf_put(b, d->groups[i], strlen(d->groups[i]));
	}
	if (!rc && fmt == CLI_JSON)
		rc = buf_lit(b, "]");
	return rc ? rc : mtd_buf_put(b, "", 1); /* NUL-terminated */
}

static int on_device(void *ud, const mtd_device_info *d)
{
	lister *l = ud;
	const dec *dc = dec_find(&l->ds, d->id);
	const char *v[NCOLS];
	mtd_buf g = {0};
	int rc;
	if (groups_cell(&g, d, l->fmt)) {
		mtd_buf_free(&g);
		return MTD_ENOMEM;
	}
	v[0] = d->id;
	v[1] = d->platform;
	v[2] = d->ownership;
	v[3] = d->management;
	v[4] = d->user;
	v[5] = (const char *)g.data;
	v[6] = dc ? dc->state : "not_evaluated";
	v[7] = dc ? dc->level : "none";
	rc = l->state && strcmp(l->state, v[6]) ? 0 : cli_table_row(l->t, v);
	mtd_buf_free(&g);
	return rc;
}

static int cmd_list(mtd_t *h, opts *o, cli_format fmt)
{
	lister l = {{0}, NULL, NULL, fmt};
	cli_col cols[NCOLS];
	int bad = 0, rc;
	const char *group = flag_value(o, "--group", &bad);
	const char *platform = flag_value(o, "--platform", &bad);
	l.state = flag_value(o, "--state", &bad);
	if (bad)
		return usage_error("device list: --group, --platform and --state need a value");
	if ((rc = no_more(o, 2, "device list")))
		return rc;
	if ((rc = mtd_report(h, NULL, on_decision, &l.ds)) == 0) {
		if (l.ds.n)
			qsort(l.ds.v, l.ds.n, sizeof *l.ds.v, dec_cmp);
		memcpy(cols, list_cols, sizeof cols);
		if (fmt == CLI_JSON)
			cols[5].flags |= CLI_COL_RAW;
		if (!(l.t = cli_table_new(fmt, cols, NCOLS)))
			rc = MTD_ENOMEM;
		if (!rc)
			rc = mtd_device_list(h, group, platform, on_device, &l);
		rc = cli_table_end(l.t, rc);
	}
	for (size_t i = 0; i < l.ds.n; i++)
		free(l.ds.v[i].id);
	free(l.ds.v);
	return rc ? fail(h, rc) : EX_OK;
}

static int show_device(void *ud, const mtd_device_info *d)
{
	int json = *(int *)ud;
	mtd_buf b = {0};
	int rc;
	if (!json) {
		printf("device       %s\nplatform     %s %s\nownership    %s\nmanagement   %s\n"
		       "user         %s\ngroups      ",
		       esc(d->id), d->platform, d->os_version ? esc(d->os_version) : "", d->ownership,
		       d->management, esc(d->user));
		for (size_t i = 0; i < d->ngroups; i++)
			printf(" %s", esc(d->groups[i]));
		printf("\nidentifiers ");
		for (size_t i = 0; i < d->nids; i++)
			printf(" %s=%s", esc(d->id_kinds[i]), esc(d->id_values[i]));
		printf("\nopen threats%s\n", d->nthreats ? "" : " none");
		for (size_t i = 0; i < d->nthreats; i++)
			printf("  %s: %s '%s' (%s) since %lld\n", esc(d->threat_vendors[i]),
			       esc(d->threat_ids[i]), esc(d->threat_names[i]), d->threat_levels[i],
			       (long long)d->threat_since[i]);
		return 0;
	}
	rc = buf_lit(&b, "{\"device\":") || buf_str(&b, d->id) || buf_lit(&b, ",\"platform\":") ||
	     buf_str(&b, d->platform) || buf_lit(&b, ",\"os_version\":") ||
	     buf_str_or_null(&b, d->os_version) || buf_lit(&b, ",\"ownership\":") ||
	     buf_str(&b, d->ownership) || buf_lit(&b, ",\"management\":") ||
	     buf_str(&b, d->management) || buf_lit(&b, ",\"user\":") || buf_str_or_null(&b, d->user) ||
	     buf_lit(&b, ",\"groups\":[");
	for (size_t i = 0; !rc && i < d->ngroups; i++)
		rc = (i && buf_lit(&b, ",")) || buf_str(&b, d->groups[i]);
	rc = rc || buf_lit(&b, "],\"ids\":{");
	for (size_t i = 0; !rc && i < d->nids; i++)
		rc = (i && buf_lit(&b, ",")) || buf_str(&b, d->id_kinds[i]) || buf_lit(&b, ":") ||
		     buf_str(&b, d->id_values[i]);
	rc = rc || buf_lit(&b, "},\"threats\":[");
	for (size_t i = 0; !rc && i < d->nthreats; i++) {
		char since[32];
		snprintf(since, sizeof since, "%lld}", (long long)d->threat_since[i]);
		rc = (i && buf_lit(&b, ",")) || buf_lit(&b, "{\"vendor\":") ||
		     buf_str(&b, d->threat_vendors[i]) || buf_lit(&b, ",\"id\":") ||
		     buf_str(&b, d->threat_ids[i]) || buf_lit(&b, ",\"name\":") ||
		     buf_str(&b, d->threat_names[i]) || buf_lit(&b, ",\"level\":") ||
		     buf_str(&b, d->threat_levels[i]) || buf_lit(&b, ",\"since\":") || buf_lit(&b, since);
	}
	rc = rc || buf_lit(&b, "]}") ? MTD_ENOMEM : buf_line(&b);
	mtd_buf_free(&b);
	return rc;
}

static int show_decision(void *ud, const mtd_decision_info *d)
{
	int json = *(int *)ud;
	mtd_buf b = {0};
	int rc;
	if (json) {
		rc = mtd_cli_report_json(&b, d) ? MTD_ENOMEM : buf_line(&b);
		mtd_buf_free(&b);
		return rc;
	}
	printf("decision     %s, level %s, access %s, app protection %s\n", d->state, d->level,
	       d->access, d->app_protection);
	for (size_t i = 0; i < d->nreasons; i++)
		printf("  %s\n", esc(d->reasons[i]));
	printf("reports%s\n", d->nreports ? "" : "      none");
	for (size_t i = 0; i < d->nreports; i++)
		printf("  %s: %s at %lld (received %lld)\n", esc(d->report_vendors[i]),
		       d->report_levels[i], (long long)d->report_at[i],
		       (long long)d->report_received[i]);
	return 0;
}

static int show_history(void *ud, const mtd_audit_rec *r)
{
	int json = *(int *)ud;
	mtd_buf b = {0};
	int rc;
	char num[80];
	if (!json) {
		printf("  %lld %lld %s %s %s\n", (long long)r->seq, (long long)r->at, esc(r->kind),
		       esc(r->vendor), esc(r->detail));
		return 0;
	}
	snprintf(num, sizeof num, "{\"history\":{\"seq\":%lld,\"at\":%lld,\"kind\":", (long long)r->seq,
		 (long long)r->at);
	rc = buf_lit(&b, num) || buf_str(&b, r->kind) || buf_lit(&b, ",\"vendor\":") ||
	     buf_str_or_null(&b, r->vendor) || buf_lit(&b, ",\"detail\":") ||
	     buf_str_or_null(&b, r->detail) || buf_lit(&b, "}}")
		     ? MTD_ENOMEM
		     : buf_line(&b);
	mtd_buf_free(&b);
	return rc;
}

/* device show ID: the record, then the decision and reports, then the
 * history; as JSON, one object per line for each of the three parts. */
static int cmd_show(mtd_t *h, opts *o, cli_format fmt)
{
	int rc, json = fmt == CLI_JSON;
	mtd_audit_filter f = {0};
	if (fmt == CLI_CSV)
		return usage_error("device show: --output table or json");
	if ((rc = no_more(o, 3, "device show")))
		return rc;
	f.device = o->argv[2];
	if ((rc = mtd_device_get(h, o->argv[2], show_device, &json)) ||
	    (rc = mtd_report(h, o->argv[2], show_decision, &json)))
		return fail(h, rc);
	if (!json)
		printf("history\n");
	if ((rc = mtd_audit_show(h, &f, show_history, &json)))
		return fail(h, rc);
	return EX_OK;
}

static int cmd_remove(mtd_t *h, opts *o)
{
	mtd_remove_stats st;
	int rc;
	if ((rc = no_more(o, o->npos, "device remove")))
		return rc;
	if (o->npos < 3)
		return usage_error("device remove: expected ID...");
	if ((rc = mtd_device_remove(h, (const char *const *)o->argv + 2, (size_t)(o->npos - 2), &st)))
		return fail(h, rc);
	printf("removed %llu device%s: %llu rows deleted, %llu audit records erased\n",
	       (unsigned long long)st.devices, st.devices == 1 ? "" : "s",
	       (unsigned long long)st.rows, (unsigned long long)st.erased);
	if (st.legacy)
		fprintf(stderr, "%s: %llu audit records naming them were written before schema 10; "
				"their hash covers their text, so they were left as they are\n",
			prog, (unsigned long long)st.legacy);
	if (st.wal_left)
		fprintf(stderr, "%s: another process is reading the store: the freed pages stay in "
				"its write-ahead log until the next checkpoint\n",
			prog);
	return EX_OK;
}

static int cmd_device(mtd_t *h, opts *o)
{
	cli_format fmt;
	int rc;
	if (o->npos >= 2 && !strcmp(o->argv[1], "import"))
		return (rc = cli_output(o, "device import", &fmt))
			       ? rc
			       : cmd_import(h, o->argc, o->argv, o->npos, 0, fmt);
	if (o->npos >= 2 && !strcmp(o->argv[1], "list"))
		return (rc = cli_output(o, "device list", &fmt)) ? rc : cmd_list(h, o, fmt);
	if (o->npos >= 2 && !strcmp(o->argv[1], "show"))
		return (rc = cli_output(o, "device show", &fmt)) ? rc : cmd_show(h, o, fmt);
	if (o->npos >= 2 && !strcmp(o->argv[1], "remove"))
		return cmd_remove(h, o);
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
	{"--group", "GROUP", "only devices in GROUP", "list", 0},
	{"--platform", "android|ios|windows|macos", "only devices of that platform", "list", 0},
	{"--state", "compliant|noncompliant|in_grace_period|not_evaluated",
	 "only devices whose decision is in that state", "list", 0},
	CLI_OPT_OUTPUT("import list show"),
	{0},
};

static const cli_option inventory_options[] = {
	{"--format", "graph|csv|records|auto", "the input's format [detected]", "import", 0},
	CLI_OPT_OUTPUT("import"),
	{0},
};

const cli_command cli_cmd_device = {
	.name = "device",
	.summary = "  device import FILE...|-                import devices: records, Graph, CSV\n"
		   "  device list|show ID|remove ID...       the fleet, one device, removal\n",
	.help = "usage: mtdgate device import [--format graph|csv|records] [--groups [GROUP=]FILE]...\n"
		"                             [--replace-all] FILE...|-\n"
		"       mtdgate device list [--group G] [--platform P] [--state S] [--output table|json|csv]\n"
		"       mtdgate device show ID [--json]\n"
		"       mtdgate device remove ID...\n\n"
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
		"list: every device (of group G, platform P, decision state S) with its\n"
		"ownership, management, user, groups and decision.\n"
		"show: the record, identifiers, open threats, decision, each vendor's latest\n"
		"report and the device's history from the audit log.\n"
		"remove: the devices and their personal data (user, identifiers, learned\n"
		"vendor ids, inventory, reports, threats, parked messages naming them) are\n"
		"deleted from the store file; the audit records naming them are erased (the\n"
		"chain keeps a salted digest, so audit verify still passes) and a\n"
		"device_removed record names only row numbers. All named devices must exist.\n"
		"Exit 0 done; 64 usage or an unknown device; 65 some records malformed;\n"
		"69 --replace-all refused; 70 internal error; 75 store busy.\n",
	.run = cmd_device,
	.subcommands = "import list show remove",
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
