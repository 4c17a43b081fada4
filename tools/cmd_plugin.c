/* mtdgate plugin list|check. */
#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mtdgate/plugin.h"
#include "cli.h"

static json_t *bits_json(uint32_t bits, const char *const *names, int n)
{
	json_t *a = json_array();
	for (int i = 0; i < n; i++)
		if (bits & (1u << i))
			json_array_append_new(a, json_string(names[i]));
	return a;
}

static void bits_text(char *buf, size_t n, uint32_t bits, const char *const *names, int count)
{
	size_t k = 0;
	buf[0] = '\0';
	for (int i = 0; i < count; i++)
		if (bits & (1u << i))
			k += (size_t)snprintf(buf + k, n - k, "%s%s", k ? "," : "", names[i]);
	if (!k)
		snprintf(buf, n, "-");
}

static const char *const plat_names[] = {"android", "ios", "windows", "macos"};
static const char *const cap_names[] = {"threat", "app_protection", "appsync", "gov_cloud"};

typedef struct listctx {
	cli_format fmt;
	cli_table *t; /* table and csv */
} listctx;

static const cli_col plugin_cols[] = {
	{"ID", "id", 0},          {"NAME", "name", 0},   {"ABI", "abi", 0},
	{"PLATFORMS", "platforms", 0}, {"MAM", "mam_platforms", 0},
	{"CAPABILITIES", "capabilities", 0},
};

static int print_plugin(void *ud, const mtd_plugin_info *p)
{
	listctx *l = ud;
	if (l->fmt == CLI_JSON) {
		json_t *o = json_object();
		char abi[16], *s;
		snprintf(abi, sizeof abi, "%u.%u", MTD_PLUGIN_ABI_MAJOR_OF(p->abi_version),
			 MTD_PLUGIN_ABI_MINOR_OF(p->abi_version));
		json_object_set_new(o, "id", json_string(p->id));
		json_object_set_new(o, "name", json_string(p->name));
		json_object_set_new(o, "platforms", bits_json(p->platforms, plat_names, 4));
		json_object_set_new(o, "mam_platforms", bits_json(p->mam_platforms, plat_names, 4));
		json_object_set_new(o, "capabilities", bits_json(p->capabilities, cap_names, 4));
		json_object_set_new(o, "abi", json_string(abi));
		json_object_set_new(o, "path", json_string(p->path));
		s = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER);
		json_decref(o);
		if (!s)
			return MTD_ENOMEM;
		puts(s);
		free(s);
	} else {
		char a[64], b[64], c[80], abi[16];
		snprintf(abi, sizeof abi, "%u.%u", MTD_PLUGIN_ABI_MAJOR_OF(p->abi_version),
			 MTD_PLUGIN_ABI_MINOR_OF(p->abi_version));
		bits_text(a, sizeof a, p->platforms, plat_names, 4);
		bits_text(b, sizeof b, p->mam_platforms, plat_names, 4);
		bits_text(c, sizeof c, p->capabilities, cap_names, 4);
		const char *cells[] = {p->id, p->name, abi, a, b, c};
		return cli_table_row(l->t, cells);
	}
	return 0;
}

static int cmd_plugin(mtd_t *h, opts *o)
{
	const char *sub = o->npos > 1 ? o->argv[1] : "";
	int rc;
	if (!strcmp(sub, "check")) {
		int bad = 0;
		const char *fixtures = flag_value(o, "--fixtures", &bad);
		if (bad)
			return usage_error("plugin check: --fixtures needs a directory");
		if ((rc = no_more(o, 3, "plugin check")))
			return rc;
		rc = mtd_plugin_check(h, o->argv[2], fixtures, print_check, NULL);
		if (rc == MTD_EPLUGIN) {
			printf("%s: does not pass\n", esc(o->argv[2]));
			return EX_DATAERR_;
		}
		if (rc) {
			fflush(stdout);
			fprintf(stderr, "%s: plugin check: %s cannot be checked\n", prog, esc(o->argv[2]));
			return rc == MTD_EUSAGE ? EX_USAGE_ : rc == MTD_EREFUSED ? EX_REFUSED_ : EX_INTERNAL_;
		}
		printf("%s: passes\n", esc(o->argv[2]));
		return EX_OK;
	}
	if (!strcmp(sub, "list")) {
		listctx l = {0};
		if ((rc = cli_output(o, "plugin list", &l.fmt)) || (rc = no_more(o, 2, "plugin list")))
			return rc;
		if (l.fmt != CLI_JSON && !(l.t = cli_table_new(l.fmt, plugin_cols, 6)))
			return fail(h, MTD_ENOMEM);
		rc = cli_table_end(l.t, mtd_plugin_list(h, print_plugin, &l));
		return rc ? fail(h, rc) : EX_OK;
	}
	return usage_error("plugin: expected list or check");
}

static const cli_option plugin_options[] = {
	{"--fixtures", "DIR", "fixtures [<plugins>/fixtures/<id>]", "check", 0},
	CLI_OPT_OUTPUT("list"),
	{0},
};

const cli_command cli_cmd_plugin = {
	.name = "plugin",
	.summary = "  plugin list [--json]                   list vendor plugins\n"
		"  plugin check FILE.so [--fixtures DIR]  conformance check of a plugin\n",
	.help = "usage: mtdgate plugin list [--json]\n"
		"       mtdgate plugin check FILE.so [--fixtures DIR]\n\n"
		"list: the vendor plugins in the plugin directory: id, name, platforms,\n"
		"app protection platforms and capabilities.\n\n"
		"check: conformance check of one plugin file, refused in a directory others\n"
		"can write (--insecure-plugins). Loads it in a sandboxed child process and\n"
		"validates the descriptor it reports (ABI version, size, id = file name,\n"
		"platforms, capabilities,\n"
		"callbacks); decodes its fixtures (DIR, default <plugin dir>/fixtures/<id>/:\n"
		"every NAME.in must produce the normalized messages of NAME.out, every record\n"
		"of bad.in must be refused); then feeds the decoder truncated, mutated and\n"
		"random payloads in a child process, so a crash or a hang is reported with\n"
		"the payload saved. Exit 0 when it passes, 65 when a check fails (a plugin\n"
		"that dies or lies while loading included), 64 when the file is not there,\n"
		"69 when it is in a directory others can write.\n\n"
		"Exit 0 listed or passes; 64 usage error or no such file; 65 a check\n"
		"fails; 69 refused (a directory others can write); 70 internal error.\n",
	.run = cmd_plugin,
	.subcommands = "list check",
	.options = plugin_options,
};
