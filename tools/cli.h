/* What the runner's parts share: mtdgate.c (global options, the command
 * table, main), cli.c (messages, exit statuses, arguments, output helpers),
 * serve.c and one tools/cmd_NAME.c per command.
 *
 * Adding a command NAME:
 *   1. tools/cmd_NAME.c defines `const cli_command cli_cmd_NAME = {...}`
 *      (name, summary lines for the main help, help text ending with the
 *      exit statuses, the function that runs it);
 *      and its options in a cli_option table (the parser accepts only those);
 *   2. one line `extern const cli_command cli_cmd_NAME;` below;
 *   3. one line `&cli_cmd_NAME,` in mtdgate.c's commands[];
 *   4. the file in tools/CMakeLists.txt's mtdgate_cli sources.
 * Man pages and bash completion are made from the table (tools/gendoc). */
#ifndef MTD_CLI_H
#define MTD_CLI_H

#include <limits.h>
#include <stdint.h>
#include <stdio.h>

#include "mtdgate/mtdgate.h"
#include "mtdgate/wire.h"

/* What --output asks for (output.c, cli_output). */
typedef enum cli_format { CLI_TABLE, CLI_JSON, CLI_CSV } cli_format;

/* Exit statuses (SPEC 4.3). */
enum { EX_OK = 0, EX_USAGE_ = 64, EX_DATAERR_ = 65, EX_REFUSED_ = 69, EX_INTERNAL_ = 70,
       EX_TEMPFAIL_ = 75 };

/* The parsed command line (mtdgate.c, getopt_long): the store's
 * configuration from the global options; argv[0..npos-1] the command's
 * words and arguments in order (argv[0] is the command's name; after "--"
 * an argument may start with '-'), then argv[npos..argc-1] the command's
 * options as found, each "--name" (the long name, also for -o) followed by
 * its value when it takes one ("--opt=v" and "--opt v" both arrive so).
 * has_flag/flag_value take options out; no_more refuses what is left. */
typedef struct opts {
	mtd_config cfg;
	char rules_buf[PATH_MAX], plugins_buf[PATH_MAX];
	int argc, npos;
	char **argv;
} opts;

/* One option of a command: its table is the one source of the parser, the
 * --help option list, the man pages and the bash completion. */
typedef struct cli_option {
	const char *name; /* "--dry-run" */
	const char *arg;  /* the value's name ("FILE", "table|json|csv"); NULL: a flag */
	const char *help; /* one line */
	const char *subs; /* the subcommands taking it, "verify show"; NULL: all */
	char short_name;  /* 'o' for -o, or 0 */
} cli_option;

/* --output FORMAT (-o) and --json, for the subcommands subs (NULL: all). */
#define CLI_OPT_OUTPUT(subs)                                                               \
	{"--output", "table|json|csv", "output format [table]", (subs), 'o'},              \
	{"--json", NULL, "the same as --output json", (subs), 0}

enum {
	CLI_NO_STORE = 1 /* runs without opening the store (h is NULL) */
};

/* One command of `mtdgate`. Every string is static. */
typedef struct cli_command {
	const char *name;
	/* its lines in the main help's "Commands:" list, each ending in "\n" */
	const char *summary;
	/* `mtdgate help NAME` / `mtdgate NAME --help`: usage, what it does and,
	 * last, the exit statuses it can return ("Exit 0 ...; 64 ...") */
	const char *help;
	/* runs it on the open store; returns the exit status */
	int (*run)(mtd_t *h, opts *o);
	unsigned flags; /* CLI_* */
	/* its subcommands, "add set remove list token"; NULL: none */
	const char *subcommands;
	/* its options, ended by {0}; NULL: none. An option not in the table is
	 * refused before run is called (with a "did you mean"). */
	const cli_option *options;
} cli_command;

/* The commands (mtdgate.c's table lists them in the main help's order). */
extern const cli_command cli_cmd_init, cli_cmd_device, cli_cmd_inventory, cli_cmd_connector,
	cli_cmd_ingest, cli_cmd_plugin, cli_cmd_evaluate, cli_cmd_rules, cli_cmd_report,
	cli_cmd_appsync, cli_cmd_parked, cli_cmd_audit, cli_cmd_serve, cli_cmd_help;
extern const cli_command cli_cmd_export;
extern const cli_command cli_cmd_tasks;
extern const cli_command cli_cmd_pull;

/* ---- messages and exit statuses (cli.c) ---- */

/* The program's name in messages: "mtdgate". */
extern const char prog[];

/* The command being run (set by mtdgate.c once it is known), or NULL. */
extern const char *cli_current;

/* "mtdgate: <message>\n(see 'mtdgate help COMMAND')" on stderr (or 'mtdgate
 * --help' before a command is known); returns 64. */
int usage_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* The exit status for a library result code. */
int exit_for(int rc);

/* s (may be NULL: "-") escaped for a terminal with mtd_escape, which every
 * human output passes what it prints from data through (19.5). The result
 * lives in one of 8 rotating buffers owned by cli.c: valid for the next 7
 * calls, enough for one printf. "?" when memory runs out. */
const char *esc(const char *s);

/* h's error message (or rc's text) on stderr; returns exit_for(rc). */
int fail(mtd_t *h, int rc);

/* fail() for a command naming vendor, with cli_vendor_hint's suggestion. */
int fail_vendor(mtd_t *h, int rc, const char *vendor);

/* mtd_set_diag callback: "mtdgate: <msg>" on stderr, escaped. */
void diag(void *ud, const char *msg);

/* Progress bars on stderr when it is a terminal; with acks set, a line
 * "acknowledged N records" on stdout at each committed batch. Attaches to h
 * only when there is something to show. */
void cli_progress_acks(void);
void cli_progress_attach(mtd_t *h);

/* ---- arguments (cli.c): each takes what it finds out of o->argv ---- */

/* 1 when flag is present (removed), else 0. */
int has_flag(opts *o, const char *flag);
/* flag's value (removed with it; points into argv), NULL when absent;
 * *bad = 1 when the flag is last and has no value. */
const char *flag_value(opts *o, const char *flag, int *bad);
/* 0 when no option is left and o->argc == want; else a usage error (64). */
int no_more(opts *o, int want, const char *cmd);

/* ---- "did you mean" (cli.c) ---- */

/* The candidate nearest to word by edit distance (a beginning of it counts
 * as 1), when near enough for a typo: at most 1 edit in words of up to 3
 * characters, 2 up to 6, 3 beyond. Offer candidates, then ask for the text. */
typedef struct cli_suggest {
	const char *word; /* borrowed */
	char best[64];
	size_t dist;
} cli_suggest;
void cli_suggest_init(cli_suggest *s, const char *word);
void cli_suggest_add(cli_suggest *s, const char *cand);
void cli_suggest_addn(cli_suggest *s, const char *cand, size_t len);
void cli_suggest_words(cli_suggest *s, const char *words); /* space-separated */
/* " (did you mean 'x'?)", or "" when nothing is near; a static buffer. */
const char *cli_suggest_text(const cli_suggest *s);

/* After a command naming vendor failed: "did you mean 'lookout'?" on stderr
 * when vendor is no plugin's id and one is near. */
void cli_vendor_hint(mtd_t *h, const char *vendor);

/* ---- input (cli.c) ---- */

/* path opened for reading, stdin for "-"; NULL with errno on failure.
 * The caller closes it unless it is stdin. */
FILE *open_input(const char *path);
/* path as messages name it: "<stdin>" for "-". */
const char *input_name(const char *path);
/* An import's (with_rejected 0) or ingest's counts on stdout: a line for
 * people (table), or one JSON object or CSV row of the counts. */
void print_stats(const char *what, const mtd_stats *st, int with_rejected, cli_format fmt);
/* mtd check callback: "ok   MSG", "warn MSG" (ok 2) or "FAIL MSG" on stdout. */
void print_check(void *ud, int ok, const char *msg);
/* mtd writer callback: data to stdout; 0 or -1. */
int write_stdout(void *ud, const void *data, size_t len);

/* ---- JSON written directly into a caller-owned mtd_buf (cli.c) ---- */

/* Each appends to b and returns 0, or -1 when memory runs out. */
int buf_lit(mtd_buf *b, const char *lit);      /* lit as it is */
int buf_str(mtd_buf *b, const char *s);        /* s as a JSON string */
int buf_str_or_null(mtd_buf *b, const char *s); /* s, or null when NULL */
/* b and a newline written to stdout: 0, MTD_ENOMEM or MTD_EIO. */
int buf_line(mtd_buf *b);

/* ---- record output: --output table|json|csv (output.c; contracts.md) ----
 * table: a header row and columns sized to their data (no id truncated),
 * every cell through esc(); json: one object per line per record; csv:
 * RFC 4180 (header row of the keys, CRLF, fields with , " CR LF quoted and
 * " doubled, nothing else changed: CSV carries data, not terminal text). */

/* The format asked for with --output FORMAT (-o FORMAT) or --json (which
 * means --output json), taken out of o; CLI_TABLE when none is given.
 * 0, or a usage error (64) for an unknown format or two different ones. */
int cli_output(opts *o, const char *cmd, cli_format *fmt);

/* 1 when stdout may be coloured: fmt is CLI_TABLE, stdout a terminal,
 * NO_COLOR unset (any value, even empty, turns colour off), TERM not dumb. */
int cli_color(cli_format fmt);

/* s (NULL: nothing) appended to b as one CSV field: 0, or -1 when memory
 * runs out. */
int cli_csv_field(mtd_buf *b, const char *s);

/* A column of records: its table header ("DEVICE"), its JSON key and CSV
 * header ("device"), CLI_COL_* flags. */
typedef struct cli_col {
	const char *title, *key;
	unsigned flags;
} cli_col;
enum {
	CLI_COL_RAW = 1, /* json: the cell is JSON text already (number, true, [..]) */
	CLI_COL_NUM = 2  /* table: right-aligned */
};

/* Records written in fmt with the columns cols[ncols] (borrowed: they must
 * outlive the table). A CSV header is written at once; a table holds its
 * first 10,000 rows back to size the columns. NULL when memory runs out. */
typedef struct cli_table cli_table;
cli_table *cli_table_new(cli_format fmt, const cli_col *cols, size_t ncols);
/* One record, cells[ncols] (copied; a NULL cell is "-" in a table, empty in
 * CSV, null in JSON). 0, MTD_ENOMEM or MTD_EIO. */
int cli_table_row(cli_table *t, const char *const *cells);
/* The end of the records: when rc (the listing's result so far) is 0,
 * writes what is held (a table's header and rows; a table without rows is
 * not written at all, a CSV keeps its header); frees t (NULL: nothing).
 * Returns rc, or the writing's MTD_ENOMEM or MTD_EIO. */
int cli_table_end(cli_table *t, int rc);
/* Frees t without writing what it holds (NULL: nothing). */
void cli_table_free(cli_table *t);

/* audit anchor and the other retention subcommands (cmd_retention.c): the
 * exit status, or -1 when sub is not one of them. */
int cli_audit_retention(mtd_t *h, opts *o, const char *sub);
/* audit verify --archive FILE: the exit status. */
int cli_audit_verify_archive(mtd_t *h, const char *file);

/* ---- shared with serve.c ---- */

/* SPEC 4.3's report object of d appended to b (no newline); written
 * directly. 0, or -1 when memory runs out. (cmd_report.c) */
int mtd_cli_report_json(mtd_buf *b, const mtd_decision_info *d);

/* `mtdgate serve` (SPEC 4.5) on the open handle h: argv[0] is "serve".
 * Returns the exit status. (serve.c) */
int mtd_cli_serve(mtd_t *h, int argc, char **argv);

/* `mtdgate export sql FILE` (tools/cmd_export.c): argv[0] is "export".
 * Returns the exit status. */
int mtd_cli_export(mtd_t *h, int argc, char **argv);

#endif
