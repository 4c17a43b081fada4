/* mtdgate: the command-line runner. Parses the global options, finds the
 * command in the table and runs it (tools/cmd_*.c); the exit status is
 * SPEC 4.3's. Shared helpers: cli.c, cli.h. */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "mtdgate/mtdgate.h"
#include "mtdgate/plugin.h"
#include "mtdgate/wire.h"
#include "cli.h"

/* ---- help ---- */

/* The main help: main_head, each command's summary, main_tail. */
static const char main_head[] =
	"usage: mtdgate [GLOBAL OPTIONS] COMMAND [ARGS]\n"
	"\n"
	"Mobile Threat Defense policy engine: turns MTD vendors' threat reports into\n"
	"compliance, conditional access and app protection decisions.\n"
	"\n"
	"Global options (anywhere on the line):\n"
	"  --db FILE        the store [./mtdgate.db]\n"
	"  --rules DIR      Lua rules (groups.lua, policy.lua) [installed default rules]\n"
	"  --plugins DIR    vendor plugins <id>.so [the plugins installed with mtdgate]\n"
	"  --now TIME       the time to act at, RFC 3339 or Unix seconds [the clock]\n"
	"  --plugin-isolation auto|process|none\n"
	"                   run every plugin operation (loading it included) in a\n"
	"                   sandboxed child process: a crash or hang costs one record,\n"
	"                   and the plugin cannot touch the store, mtdgate's input or\n"
	"                   output; auto = process [auto]; none = in-process\n"
	"  --insecure-plugins, --insecure-rules, --allow-insecure-dirs (both)\n"
	"                   accept plugins or rules from a directory (or above it)\n"
	"                   that others own or can write, with a warning; refused\n"
	"                   otherwise (69)\n"
	"  --rules-memory BYTES        memory cap of the rules sandbox [67108864]\n"
	"  --rules-instructions N      Lua instructions per rule call [10000000]\n"
	"  --rules-cpu-ms MS           CPU time per rule call [2000]\n"
	"  --rules-eval-cpu-ms MS      CPU time of all rule calls of one run [600000]\n"
	"  --max-skew SECONDS          how far after its receipt a message may be\n"
	"                              dated; later ones are refused (R13) [300]\n"
	"  --wait SECONDS   how long a command that writes waits for the store while\n"
	"                   another writer holds it (a timer's evaluate during an\n"
	"                   import); 0 = not at all; then exit 75 [30]\n"
	"  --batch N        records per committed batch of imports and ingest [50000];\n"
	"                   smaller is acknowledged sooner, larger loads faster\n"
	"  -h, --help       help (also after a command: 'mtdgate ingest --help')\n"
	"  --version        print the version\n"
	"\n"
	"Commands:\n";

static const char main_tail[] =
	"\n"
	"Input framing is detected from the content: JSON lines, pretty-printed or\n"
	"concatenated JSON documents, a top-level JSON array (each element a record),\n"
	"a text/event-stream (each event's data a record) or a msgpack stream.\n"
	"Records are named by line, [index] (line), event number or byte.\n"
	"Exit status: 0 done; 64 usage error; 65 some input records were malformed\n"
	"(the valid ones were processed); 69 refused by a connector's state or\n"
	"settings; 70 internal error, a failing rule script included; 75 the store\n"
	"stayed locked by another writer for longer than --wait.\n";

/* ---- defaults and main ---- */

/* The directory of the running executable, for install-relative defaults. */
static int exe_dir(char *buf, size_t n)
{
	ssize_t k = readlink("/proc/self/exe", buf, n - 1);
	char *slash;
	if (k <= 0)
		return -1;
	buf[k] = '\0';
	slash = strrchr(buf, '/');
	if (!slash)
		return -1;
	*slash = '\0';
	return 0;
}

/* Default plugin and rules directories, relative to the binary's own
 * directory (paths computed at configure time from the install layout; the
 * build tree mirrors it), so the same binary works from the build tree and
 * from any prefix. No build-tree path is compiled in; when the binary's
 * directory is unknown, --plugins (and --rules) must be given. */
static int defaults(opts *o)
{
	char dir[PATH_MAX];
	int have_dir = exe_dir(dir, sizeof dir) == 0;
	if (!o->cfg.db_path)
		o->cfg.db_path = "mtdgate.db";
	if (!o->cfg.rules_dir) {
		if (!MTD_RULES_DIR_RELATIVE) {
			o->cfg.rules_dir = MTD_DEFAULT_RULES_DIR;
		} else if (have_dir && (size_t)snprintf(o->rules_buf, sizeof o->rules_buf, "%s/%s", dir,
							MTD_DEFAULT_RULES_DIR) < sizeof o->rules_buf) {
			o->cfg.rules_dir = o->rules_buf;
		} else {
			fprintf(stderr, "%s: cannot locate the default rules; give --rules DIR\n", prog);
			return EX_INTERNAL_;
		}
	}
	if (!o->cfg.plugin_dir) {
		if (have_dir && (size_t)snprintf(o->plugins_buf, sizeof o->plugins_buf, "%s/%s", dir,
						 MTD_REL_PLUGIN_DIR) < sizeof o->plugins_buf) {
			o->cfg.plugin_dir = o->plugins_buf;
		} else {
			fprintf(stderr, "%s: cannot locate the plugin directory; give --plugins DIR\n",
				prog);
			return EX_INTERNAL_;
		}
	}
	return 0;
}

static int cmd_help(mtd_t *h, opts *o);

const cli_command cli_cmd_help = {
	.name = "help",
	.summary = "  help [COMMAND]                         this help, or a command's\n",
	.help = "usage: mtdgate help [COMMAND]\n\n"
		"Print the help, or a command's (the same as 'mtdgate COMMAND --help').\n"
		"Exit 64 when COMMAND is not a command.\n",
	.run = cmd_help,
	.flags = CLI_NO_STORE,
};

/* Every command, in the order of the main help. Each has its help text:
 * --dump-commands refuses a command without one (and the build, which makes
 * the man pages and the completion from that dump, fails). */
static const cli_command *const commands[] = {
	&cli_cmd_init,    &cli_cmd_device,   &cli_cmd_inventory, &cli_cmd_connector, &cli_cmd_ingest,
	&cli_cmd_plugin,  &cli_cmd_evaluate, &cli_cmd_rules,     &cli_cmd_report,    &cli_cmd_appsync,
	&cli_cmd_parked,  &cli_cmd_audit,    &cli_cmd_serve,     &cli_cmd_export,    &cli_cmd_help,
};

static const cli_command *find_command(const char *name)
{
	for (size_t i = 0; i < sizeof commands / sizeof *commands; i++)
		if (!strcmp(commands[i]->name, name))
			return commands[i];
	return NULL;
}

static void print_main_help(FILE *f)
{
	fputs(main_head, f);
	for (size_t i = 0; i < sizeof commands / sizeof *commands; i++)
		fputs(commands[i]->summary, f);
	fputs(main_tail, f);
}

static int print_help(const char *cmd)
{
	const cli_command *c = cmd ? find_command(cmd) : NULL;
	if (c)
		fputs(c->help, stdout);
	else
		print_main_help(stdout);
	return EX_OK;
}

/* Needs no store: main() runs it before opening one. */
static int cmd_help(mtd_t *h, opts *o)
{
	(void)h;
	if (o->argc > 2)
		return usage_error("help: expected at most one command");
	if (o->argc == 2 && !find_command(o->argv[1]))
		return usage_error("help: '%s' is not a command", o->argv[1]);
	return print_help(o->argc == 2 ? o->argv[1] : NULL);
}

static void dump_text(const char *text)
{
	for (const char *line = text; *line;) {
		size_t n = strcspn(line, "\n");
		printf("|%.*s\n", (int)n, line);
		line += n + (line[n] == '\n');
	}
}

/* Hidden: the command table for tools/gendoc (man pages, bash completion),
 * one line per text line, "|"-prefixed, under "@main" and "@command NAME". */
static int dump_commands(void)
{
	for (size_t i = 0; i < sizeof commands / sizeof *commands; i++) {
		const cli_command *c = commands[i];
		if (!c->help || !c->help[0] || !c->summary || !c->summary[0] || !c->run) {
			fprintf(stderr, "%s: command '%s' has no help text, summary or function\n",
				prog, c->name);
			return EX_INTERNAL_;
		}
	}
	printf("@mtdgate %s\n@main\n", MTD_VERSION);
	dump_text(main_head);
	for (size_t i = 0; i < sizeof commands / sizeof *commands; i++)
		dump_text(commands[i]->summary);
	dump_text(main_tail);
	for (size_t i = 0; i < sizeof commands / sizeof *commands; i++) {
		printf("@command %s\n", commands[i]->name);
		dump_text(commands[i]->help);
	}
	return fflush(stdout) ? EX_INTERNAL_ : EX_OK;
}

int main(int argc, char **argv)
{
	const cli_command *run;
	static opts o;
	const char *isolation = "auto";
	mtd_t *h = NULL;
	const char *cmd;
	int rc, help = 0;

	o.argv = calloc((size_t)argc + 1, sizeof *o.argv);
	if (!o.argv)
		return EX_INTERNAL_;
	/* Global options may stand anywhere; what is left is the command line. */
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		const char **slot = !strcmp(a, "--db") ? &o.cfg.db_path
				    : !strcmp(a, "--rules") ? &o.cfg.rules_dir
				    : !strcmp(a, "--plugins") ? &o.cfg.plugin_dir
							     : NULL;
		if (!strcmp(a, "--batch")) {
			char *end;
			unsigned long long v;
			if (i + 1 >= argc)
				return usage_error("--batch needs a value");
			v = strtoull(argv[++i], &end, 10);
			if (!*argv[i] || *end || v == 0 || v > 10000000)
				return usage_error("--batch: '%s' is not a number of records from 1 to "
						   "10000000", argv[i]);
			o.cfg.batch = v;
			continue;
		}
		if (!strcmp(a, "--rules-cpu-ms") || !strcmp(a, "--rules-eval-cpu-ms") ||
		    !strcmp(a, "--max-skew")) {
			char *end;
			unsigned long long v;
			int skew = a[2] == 'm';
			if (i + 1 >= argc)
				return usage_error("%s needs a value", a);
			v = strtoull(argv[++i], &end, 10);
			if (!*argv[i] || *end || argv[i][0] == '-' || (!skew && v == 0) ||
			    v > (skew ? 10ull * 366 * 86400 : 86400000ull))
				return usage_error("%s: '%s' is not a number from %d to %s", a, argv[i],
						   !skew, skew ? "316224000 (seconds)" : "86400000 (ms)");
			if (skew)
				o.cfg.max_skew = v ? (int64_t)v : -1; /* -1: none at all */
			else if (a[8] == 'c')
				o.cfg.rules_cpu_ms = v;
			else
				o.cfg.rules_eval_cpu_ms = v;
			continue;
		}
		if (!strcmp(a, "--wait")) {
			char *end;
			unsigned long long v;
			if (i + 1 >= argc)
				return usage_error("--wait needs a value");
			v = strtoull(argv[++i], &end, 10);
			if (!*argv[i] || *end || argv[i][0] == '-' || v > 86400)
				return usage_error("--wait: '%s' is not a number of seconds from 0 to 86400",
						   argv[i]);
			o.cfg.wait_ms = v ? (int64_t)v * 1000 : -1; /* -1: not at all */
			continue;
		}
		if (!strcmp(a, "--rules-memory") || !strcmp(a, "--rules-instructions")) {
			char *end;
			unsigned long long v;
			if (i + 1 >= argc)
				return usage_error("%s needs a value", a);
			v = strtoull(argv[++i], &end, 10);
			if (!*argv[i] || *end || v == 0)
				return usage_error("%s: '%s' is not a positive number", a, argv[i]);
			if (a[8] == 'm') {
				if (v < 1048576 || v > (1ull << 34))
					return usage_error("--rules-memory: from 1 MiB to 16 GiB, in bytes");
				o.cfg.rules_memory = (size_t)v;
			} else {
				o.cfg.rules_instructions = v;
			}
			continue;
		}
		if (slot || !strcmp(a, "--now")) {
			if (i + 1 >= argc)
				return usage_error("%s needs a value", a);
			if (slot) {
				*slot = argv[++i];
			} else {
				int64_t t;
				if (mtd_time_parse(argv[i + 1], strlen(argv[i + 1]), &t))
					return usage_error("--now: '%s' is not an RFC 3339 time or Unix seconds",
							   argv[i + 1]);
				o.cfg.now = t ? t : 1;
				i++;
			}
		} else if (!strcmp(a, "--plugin-isolation")) {
			if (i + 1 >= argc || (strcmp(argv[i + 1], "auto") && strcmp(argv[i + 1], "process") &&
					      strcmp(argv[i + 1], "none")))
				return usage_error("--plugin-isolation needs auto, process or none");
			isolation = argv[++i];
		} else if (!strcmp(a, "--insecure-plugins") || !strcmp(a, "--allow-insecure-dirs") ||
			   !strcmp(a, "--insecure-rules")) {
			if (strcmp(a, "--insecure-rules"))
				o.cfg.insecure_plugins = 1;
			if (strcmp(a, "--insecure-plugins"))
				o.cfg.insecure_rules = 1;
		} else if (!strcmp(a, "--acks")) {
			cli_progress_acks(); /* ingest/import: print each committed batch */
		} else if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
			help = 1;
		} else if (!strcmp(a, "--dump-commands")) {
			free(o.argv);
			return dump_commands();
		} else if (!strcmp(a, "--version")) {
			printf("mtdgate %s (plugin ABI %u.%u)\n", MTD_VERSION, MTD_PLUGIN_ABI_MAJOR,
			       MTD_PLUGIN_ABI_MINOR);
			return EX_OK;
		} else {
			o.argv[o.argc++] = argv[i];
		}
	}
	cmd = o.argc ? o.argv[0] : NULL;
	if (help || !cmd)
		return help ? print_help(cmd) : (print_main_help(stderr), EX_USAGE_);
	if (!(run = find_command(cmd)))
		return usage_error("unknown command '%s'", cmd);
	if (run->flags & CLI_NO_STORE) {
		rc = run->run(NULL, &o);
		free(o.argv);
		return rc;
	}
	/* Every plugin runs in its own sandboxed process unless told otherwise
	 * (README, "Trust boundaries"). */
	if ((rc = defaults(&o)))
		return rc;
	o.cfg.isolate_plugins = strcmp(isolation, "none") != 0;
	if (mtd_open(&o.cfg, &h)) {
		fprintf(stderr, "%s: %s\n", prog, esc(mtd_errmsg(h)));
		mtd_close(h);
		return EX_INTERNAL_;
	}
	mtd_set_diag(h, diag, NULL);
	cli_progress_attach(h);
	rc = run->run(h, &o);
	mtd_close(h);
	free(o.argv);
	return rc;
}
