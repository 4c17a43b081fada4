/* mtdgate: the command-line runner. Parses the global options, finds the
 * command in the table and runs it (tools/cmd_*.c); the exit status is
 * SPEC 4.3's. Shared helpers: cli.c, cli.h. */
#include <errno.h>
#include <getopt.h>
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
		"\n"
		"Exit 0 printed; 64 COMMAND is not a command.\n",
	.run = cmd_help,
	.flags = CLI_NO_STORE,
};

/* Every command, in the order of the main help. Each has its help text:
 * --dump-commands refuses a command without one (and the build, which makes
 * the man pages and the completion from that dump, fails). */
static const cli_command *const commands[] = {
	&cli_cmd_init,    &cli_cmd_device,   &cli_cmd_inventory, &cli_cmd_connector, &cli_cmd_ingest,
	&cli_cmd_plugin,  &cli_cmd_evaluate, &cli_cmd_rules,     &cli_cmd_report,    &cli_cmd_appsync,
	&cli_cmd_parked,  &cli_cmd_tasks,    &cli_cmd_audit,    &cli_cmd_serve,     &cli_cmd_export,    &cli_cmd_pull,
	&cli_cmd_help,
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

/* c's help as shown: its usage block, the options of its table, then the
 * rest of its text (which ends with its exit statuses). */
static void put_help(const cli_command *c, FILE *f)
{
	const char *text = c->help, *gap = strstr(text, "\n\n");
	size_t head = gap ? (size_t)(gap - text) + 2 : strlen(text);
	fwrite(text, 1, head, f);
	if (c->options && c->options[0].name) {
		fputs(gap ? "Options:\n" : "\nOptions:\n", f);
		for (const cli_option *p = c->options; p->name; p++) {
			char left[128], sh[5] = "";
			if (p->short_name)
				snprintf(sh, sizeof sh, "-%c, ", p->short_name);
			snprintf(left, sizeof left, "%s%s%s%s", sh, p->name, p->arg ? " " : "",
				 p->arg ? p->arg : "");
			if (strlen(left) <= 28)
				fprintf(f, "  %-28s  ", left);
			else
				fprintf(f, "  %s  ", left);
			if (p->subs) { /* "verify, show: " */
				for (const char *s = p->subs; *s; s++)
					if (*s == ' ')
						fputs(", ", f);
					else
						fputc(*s, f);
				fputs(": ", f);
			}
			fputs(p->help, f);
			fputc('\n', f);
		}
		if (gap)
			fputc('\n', f);
	}
	fputs(text + head, f);
}

static int print_help(const char *cmd)
{
	const cli_command *c = cmd ? find_command(cmd) : NULL;
	if (c)
		put_help(c, stdout);
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
	if (o->argc == 2 && !find_command(o->argv[1])) {
		cli_suggest s;
		cli_suggest_init(&s, o->argv[1]);
		for (size_t i = 0; i < sizeof commands / sizeof *commands; i++)
			cli_suggest_add(&s, commands[i]->name);
		return usage_error("help: '%s' is not a command%s", esc(o->argv[1]),
				   cli_suggest_text(&s));
	}
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
		const cli_command *c = commands[i];
		char *text = NULL;
		size_t len = 0;
		FILE *f = open_memstream(&text, &len);
		if (!f)
			return EX_INTERNAL_;
		put_help(c, f);
		if (fclose(f)) {
			free(text);
			return EX_INTERNAL_;
		}
		printf("@command %s\n", c->name);
		dump_text(text);
		free(text);
		/* for the completion: the words after it, its options */
		if (c->subcommands)
			printf("@subcommands %s\n", c->subcommands);
		for (const cli_option *p = c->options; p && p->name; p++)
			printf("@option %s %s\n", p->name, p->arg ? p->arg : "-");
	}
	return fflush(stdout) ? EX_INTERNAL_ : EX_OK;
}

/* ---- the command line (getopt_long) ---- */

/* Global options: anywhere on the line (described in main_head). */
enum {
	G_DB = 2 /* 1 is getopt_long's word */, G_RULES, G_PLUGINS, G_NOW, G_BATCH, G_RULES_CPU, G_RULES_EVAL_CPU, G_MAX_SKEW,
	G_RULES_MEMORY, G_RULES_INSTRUCTIONS, G_ISOLATION, G_INSECURE_PLUGINS, G_INSECURE_RULES,
	G_INSECURE_DIRS, G_ACKS, G_HELP, G_VERSION, G_DUMP, G_WAIT, G_NGLOBALS
};
static const cli_option globals[] = {
	[G_DB] = {"--db", "FILE", "the store", NULL, 0},
	[G_RULES] = {"--rules", "DIR", "Lua rules", NULL, 0},
	[G_PLUGINS] = {"--plugins", "DIR", "vendor plugins", NULL, 0},
	[G_NOW] = {"--now", "TIME", "the time to act at", NULL, 0},
	[G_BATCH] = {"--batch", "N", "records per committed batch", NULL, 0},
	[G_RULES_CPU] = {"--rules-cpu-ms", "MS", "CPU time per rule call", NULL, 0},
	[G_RULES_EVAL_CPU] = {"--rules-eval-cpu-ms", "MS", "CPU time of a run", NULL, 0},
	[G_MAX_SKEW] = {"--max-skew", "SECONDS", "how far a message may be dated ahead", NULL, 0},
	[G_RULES_MEMORY] = {"--rules-memory", "BYTES", "memory cap of the rules", NULL, 0},
	[G_RULES_INSTRUCTIONS] = {"--rules-instructions", "N", "instructions per call", NULL, 0},
	[G_ISOLATION] = {"--plugin-isolation", "auto|process|none", "plugin isolation", NULL, 0},
	[G_INSECURE_PLUGINS] = {"--insecure-plugins", NULL, "accept open plugin dirs", NULL, 0},
	[G_INSECURE_RULES] = {"--insecure-rules", NULL, "accept open rules dirs", NULL, 0},
	[G_INSECURE_DIRS] = {"--allow-insecure-dirs", NULL, "both", NULL, 0},
	[G_ACKS] = {"--acks", NULL, "print each committed batch", NULL, 0},
	[G_HELP] = {"--help", NULL, "help", NULL, 'h'},
	[G_VERSION] = {"--version", NULL, "the version", NULL, 0},
	[G_DUMP] = {"--dump-commands", NULL, "the command table (gendoc)", NULL, 0},
	[G_WAIT] = {"--wait", "SECONDS", "how long a writer waits for the store", NULL, 0},
};
/* getopt_long's value of command option i (globals keep their index). */
#define CMD_OPT(i) (1000 + (i))

static size_t count_options(const cli_option *t)
{
	size_t n = 0;
	while (t && t[n].name)
		n++;
	return n;
}

/* A global option that takes a value, by its exact name ("--db"). */
static int global_with_value(const char *a)
{
	for (int g = G_DB; g < G_NGLOBALS; g++)
		if (globals[g].arg && !strcmp(a, globals[g].name))
			return 1;
	return 0;
}

/* The command word: the first argument that is no option and no global
 * option's value (NULL when there is none); *help when -h/--help stands
 * before "--". */
static const char *command_word(int argc, char **argv, int *help)
{
	const char *cmd = NULL;
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		if (!strcmp(a, "--")) {
			if (!cmd && i + 1 < argc)
				cmd = argv[i + 1];
			break;
		}
		if (!strcmp(a, "-h") || !strcmp(a, "--help"))
			*help = 1;
		else if (a[0] == '-' && a[1])
			i += global_with_value(a);
		else if (!cmd)
			cmd = a;
	}
	return cmd;
}

static int number(const char *name, const char *v, unsigned long long lo, unsigned long long hi,
		  const char *range, unsigned long long *out)
{
	char *end;
	if (!*v || *v == '-' || (*out = strtoull(v, &end, 10), *end) || *out < lo || *out > hi)
		return usage_error("%s: '%s' is not %s", name, esc(v), range);
	return 0;
}

/* Global option g with its value v: into o->cfg (or *isolation). */
static int apply_global(opts *o, int g, const char *v, const char **isolation)
{
	unsigned long long n;
	int64_t t;
	int rc = 0;
	switch (g) {
	case G_DB: o->cfg.db_path = v; break;
	case G_RULES: o->cfg.rules_dir = v; break;
	case G_PLUGINS: o->cfg.plugin_dir = v; break;
	case G_NOW:
		if (mtd_time_parse(v, strlen(v), &t))
			return usage_error("--now: '%s' is not an RFC 3339 time or Unix seconds", esc(v));
		o->cfg.now = t ? t : 1;
		break;
	case G_BATCH:
		if (!(rc = number("--batch", v, 1, 10000000, "a number of records from 1 to 10000000",
				  &n)))
			o->cfg.batch = n;
		break;
	case G_RULES_CPU:
	case G_RULES_EVAL_CPU:
		if (!(rc = number(globals[g].name, v, 1, 86400000, "a number from 1 to 86400000 (ms)",
				  &n))) {
			if (g == G_RULES_CPU)
				o->cfg.rules_cpu_ms = n;
			else
				o->cfg.rules_eval_cpu_ms = n;
		}
		break;
	case G_MAX_SKEW:
		if (!(rc = number("--max-skew", v, 0, 10ull * 366 * 86400,
				  "a number from 0 to 316224000 (seconds)", &n)))
			o->cfg.max_skew = n ? (int64_t)n : -1; /* -1: none at all */
		break;
	case G_RULES_MEMORY:
		if (!(rc = number("--rules-memory", v, 1048576, 1ull << 34,
				  "from 1 MiB to 16 GiB, in bytes", &n)))
			o->cfg.rules_memory = (size_t)n;
		break;
	case G_RULES_INSTRUCTIONS:
		if (!(rc = number("--rules-instructions", v, 1, ~0ull, "a positive number", &n)))
			o->cfg.rules_instructions = n;
		break;
	case G_WAIT:
		if (!(rc = number("--wait", v, 0, 86400, "a number of seconds from 0 to 86400", &n)))
			o->cfg.wait_ms = n ? (int64_t)n * 1000 : -1; /* -1: not at all */
		break;
	case G_ISOLATION:
		if (strcmp(v, "auto") && strcmp(v, "process") && strcmp(v, "none"))
			return usage_error("--plugin-isolation needs auto, process or none");
		*isolation = v;
		break;
	case G_INSECURE_PLUGINS: o->cfg.insecure_plugins = 1; break;
	case G_INSECURE_RULES: o->cfg.insecure_rules = 1; break;
	case G_INSECURE_DIRS: o->cfg.insecure_plugins = o->cfg.insecure_rules = 1; break;
	case G_ACKS: cli_progress_acks(); break; /* ingest/import: print each committed batch */
	default: break;
	}
	return rc;
}

/* "unknown option" for what getopt_long refused: the word as typed and the
 * nearest option of the command or the globals. */
static int bad_option(const cli_command *c, const char *word, int missing_value)
{
	const cli_option *t = c ? c->options : NULL;
	char name[64];
	cli_suggest s;
	size_t n = strcspn(word, "=");
	if (missing_value)
		return usage_error("%s needs a value", esc(word));
	snprintf(name, sizeof name, "%.*s", (int)(n < 63 ? n : 63), word);
	for (int g = G_DB; g < G_NGLOBALS; g++)
		if (!strcmp(name, globals[g].name) && !globals[g].arg)
			return usage_error("%s takes no value", globals[g].name);
	for (size_t i = 0; t && t[i].name; i++)
		if (!strcmp(name, t[i].name) && !t[i].arg)
			return usage_error("%s takes no value", t[i].name);
	{ /* a beginning of several (getopt_long takes a unique one) */
		char list[256] = "";
		size_t len = strlen(name), k = 0;
		int many = 0;
		for (int g = G_DB; len > 2 && g < G_NGLOBALS; g++)
			if (!strncmp(globals[g].name, name, len) && g != G_DUMP && k < sizeof list)
				k += (size_t)snprintf(list + k, sizeof list - k, "%s%s",
						      many++ ? ", " : "", globals[g].name);
		for (size_t i = 0; len > 2 && t && t[i].name; i++)
			if (!strncmp(t[i].name, name, len) && k < sizeof list)
				k += (size_t)snprintf(list + k, sizeof list - k, "%s%s",
						      many++ ? ", " : "", t[i].name);
		if (many > 1)
			return usage_error("option '%s' is ambiguous: %s", esc(name), list);
	}
	cli_suggest_init(&s, name);
	for (size_t i = 0; t && t[i].name; i++)
		cli_suggest_add(&s, t[i].name);
	for (int g = G_DB; g < G_NGLOBALS; g++)
		if (g != G_DUMP)
			cli_suggest_add(&s, globals[g].name);
	if (c)
		return usage_error("%s: unknown option '%s'%s", c->name, esc(word), cli_suggest_text(&s));
	return usage_error("unknown option '%s'%s", esc(word), cli_suggest_text(&s));
}

/* A subcommand the command does not have, or an option used with a
 * subcommand that does not take it: refused here, before the store opens. */
static int check_words(const cli_command *c, opts *o, const unsigned char *seen)
{
	const char *sub = o->npos > 1 ? o->argv[1] : NULL;
	size_t len = sub ? strlen(sub) : 0;
	if (c->subcommands && sub) {
		const char *p = c->subcommands;
		int found = 0;
		while (*p && !found) {
			size_t n = strcspn(p, " ");
			found = n == len && !strncmp(p, sub, n);
			p += n + (p[n] == ' ');
		}
		if (!found) {
			cli_suggest s;
			cli_suggest_init(&s, sub);
			cli_suggest_words(&s, c->subcommands);
			return usage_error("%s: unknown subcommand '%s'%s (expected %s)", c->name, esc(sub),
					   cli_suggest_text(&s), c->subcommands);
		}
	}
	for (size_t i = 0; c->options && c->options[i].name; i++) {
		const char *subs = c->options[i].subs, *p;
		int ok = 0;
		if (!seen[i] || !subs)
			continue;
		for (p = subs; sub && *p && !ok;) {
			size_t n = strcspn(p, " ");
			ok = n == len && !strncmp(p, sub, n);
			p += n + (p[n] == ' ');
		}
		if (!ok)
			return usage_error("%s%s%s: %s is an option of '%s %s' only", c->name, sub ? " " : "",
					   sub ? esc(sub) : "", c->options[i].name, c->name, subs);
	}
	return 0;
}

/* Parses argv into o (globals into o->cfg; words, then the command's
 * options, into o->argv). *run: the command (NULL: none given). Returns 0
 * to run it, -1 to print help (*run's, or the main help) and end with 0, or
 * an exit status to end with (*done set: also 0 after --version). */
static int parse(int argc, char **argv, opts *o, const cli_command **run, const char **isolation,
		 int *done)
{
	const cli_command *c = NULL;
	const char *word;
	struct option *lo;
	char shorts[16] = "-:h"; /* words returned in order (as 1); ':' for a missing value */
	char **av, **optv;
	unsigned char *seen;
	size_t nc, k = 0;
	int help = 0, version = 0, dump = 0, nopt = 0, rc = 0, ch;

	word = command_word(argc, argv, &help);
	if (word && !(c = find_command(word)) && !help) {
		cli_suggest s;
		cli_suggest_init(&s, word);
		for (size_t i = 0; i < sizeof commands / sizeof *commands; i++)
			cli_suggest_add(&s, commands[i]->name);
		return usage_error("unknown command '%s'%s", esc(word), cli_suggest_text(&s));
	}
	*run = c;
	cli_current = c ? c->name : NULL;
	if (help)
		return -1;
	nc = c ? count_options(c->options) : 0;
	lo = calloc(G_NGLOBALS + nc + 1, sizeof *lo);
	av = calloc((size_t)argc + 1, sizeof *av);
	optv = calloc(2 * (size_t)argc + 1, sizeof *optv); /* an option and its value */
	seen = calloc(nc + 1, 1);
	o->argv = calloc(3 * (size_t)argc + 1, sizeof *o->argv);
	if (!lo || !av || !optv || !seen || !o->argv) {
		rc = EX_INTERNAL_;
		goto out;
	}
	for (int g = G_DB; g < G_NGLOBALS; g++)
		lo[k++] = (struct option){globals[g].name + 2, globals[g].arg ? required_argument
									: no_argument, NULL, g};
	for (size_t i = 0; i < nc; i++) {
		const cli_option *p = &c->options[i];
		lo[k++] = (struct option){p->name + 2, p->arg ? required_argument : no_argument, NULL,
					  CMD_OPT((int)i)};
		if (p->short_name && strlen(shorts) + 3 < sizeof shorts) {
			size_t n = strlen(shorts);
			shorts[n] = p->short_name;
			shorts[n + 1] = p->arg ? ':' : '\0';
		}
	}
	/* Options anywhere, words in their order, "--" ends the options (also
	 * with POSIXLY_CORRECT set). On a copy: getopt_long may permute. */
	memcpy(av, argv, (size_t)argc * sizeof *av);
	opterr = 0;
	optind = 1;
	while ((ch = getopt_long(argc, av, shorts, lo, NULL)) != -1) {
		int idx = -1;
		if (ch == 1) {
			o->argv[o->argc++] = optarg;
			continue;
		}
		if (ch == '?' || ch == ':') {
			const char *w = av[optind - 1];
			if (optopt && optopt < 128 && w[0] == '-' && w[1] != '-') {
				char sw[3] = {'-', (char)optopt, 0};
				rc = bad_option(c, sw, ch == ':');
			} else {
				rc = bad_option(c, w, ch == ':');
			}
			goto out;
		}
		if (ch == 'h' || ch == G_HELP) {
			help = 1;
			continue;
		}
		for (size_t i = 0; i < nc; i++)
			if (ch == CMD_OPT((int)i) || (c->options[i].short_name && ch == c->options[i].short_name))
				idx = (int)i;
		if (idx >= 0) {
			seen[idx] = 1;
			optv[nopt++] = (char *)c->options[idx].name;
			if (c->options[idx].arg)
				optv[nopt++] = optarg;
		} else if (ch == G_VERSION) {
			version = 1;
		} else if (ch == G_DUMP) {
			dump = 1;
		} else if ((rc = apply_global(o, ch, optarg, isolation))) {
			goto out;
		}
	}
	if (dump || version || help) {
		*done = !help;
		rc = dump ? dump_commands()
		     : version ? (printf("mtdgate %s (plugin ABI %u.%u)\n", MTD_VERSION,
				  MTD_PLUGIN_ABI_MAJOR, MTD_PLUGIN_ABI_MINOR), EX_OK)
			       : -1;
		goto out;
	}
	for (int i = optind; i < argc; i++) /* after "--" */
		o->argv[o->argc++] = av[i];
	o->npos = o->argc;
	for (int i = 0; i < nopt; i++)
		o->argv[o->argc++] = optv[i];
	if (c)
		rc = check_words(c, o, seen);
out:
	free(lo);
	free(av);
	free(optv);
	free(seen);
	return rc;
}

int main(int argc, char **argv)
{
	const cli_command *run = NULL;
	static opts o;
	const char *isolation = "auto";
	mtd_t *h = NULL;
	int rc, done = 0;

	rc = parse(argc, argv, &o, &run, &isolation, &done);
	if (rc == -1) {
		free(o.argv);
		return print_help(run ? run->name : NULL);
	}
	if (rc || done || !run) {
		free(o.argv);
		if (!rc && !done)
			print_main_help(stderr);
		return rc || done ? rc : EX_USAGE_;
	}
	if (run->flags & CLI_NO_STORE) {
		rc = run->run(NULL, &o);
		free(o.argv);
		return rc;
	}
	/* Every plugin runs in its own sandboxed process unless told otherwise
	 * (README, "Trust boundaries"). */
	if ((rc = defaults(&o))) {
		free(o.argv);
		return rc;
	}
	o.cfg.isolate_plugins = strcmp(isolation, "none") != 0;
	if (mtd_open(&o.cfg, &h)) {
		fprintf(stderr, "%s: %s\n", prog, esc(mtd_errmsg(h)));
		mtd_close(h);
		free(o.argv);
		return EX_INTERNAL_;
	}
	mtd_set_diag(h, diag, NULL);
	cli_progress_attach(h);
	rc = run->run(h, &o);
	mtd_close(h);
	free(o.argv);
	return rc;
}
