/* What the runner's parts share: mtdgate.c (global options, the command
 * table, main), cli.c (messages, exit statuses, arguments, output helpers),
 * serve.c and one tools/cmd_NAME.c per command.
 *
 * Adding a command NAME:
 *   1. tools/cmd_NAME.c defines `const cli_command cli_cmd_NAME = {...}`
 *      (name, summary lines for the main help, help text ending with the
 *      exit statuses, the function that runs it);
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

/* Exit statuses (SPEC 4.3). */
enum { EX_OK = 0, EX_USAGE_ = 64, EX_DATAERR_ = 65, EX_REFUSED_ = 69, EX_INTERNAL_ = 70,
       EX_TEMPFAIL_ = 75 };

/* The parsed command line: the store's configuration from the global
 * options, and the command's words and options with the globals removed
 * (argv[0] is the command's name). */
typedef struct opts {
	mtd_config cfg;
	char rules_buf[PATH_MAX], plugins_buf[PATH_MAX];
	int argc;
	char **argv;
} opts;

enum {
	CLI_NO_STORE = 1 /* runs without opening the store (h is NULL) */
};

/* One command of `mtdgate`. Every string is static. */
typedef struct cli_command {
	const char *name;
	/* its lines in the main help's "Commands:" list, each ending in "\n" */
	const char *summary;
	/* `mtdgate help NAME` / `mtdgate NAME --help`: usage, what it does and,
	 * last, the exit statuses it can return */
	const char *help;
	/* runs it on the open store; returns the exit status */
	int (*run)(mtd_t *h, opts *o);
	unsigned flags; /* CLI_* */
} cli_command;

/* The commands (mtdgate.c's table lists them in the main help's order). */
extern const cli_command cli_cmd_init, cli_cmd_device, cli_cmd_inventory, cli_cmd_connector,
	cli_cmd_ingest, cli_cmd_plugin, cli_cmd_evaluate, cli_cmd_rules, cli_cmd_report,
	cli_cmd_appsync, cli_cmd_parked, cli_cmd_audit, cli_cmd_serve, cli_cmd_help;
extern const cli_command cli_cmd_export;

/* ---- messages and exit statuses (cli.c) ---- */

/* The program's name in messages: "mtdgate". */
extern const char prog[];

/* "mtdgate: <message>\n(see 'mtdgate --help')" on stderr; returns 64. */
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

/* ---- input (cli.c) ---- */

/* path opened for reading, stdin for "-"; NULL with errno on failure.
 * The caller closes it unless it is stdin. */
FILE *open_input(const char *path);
/* path as messages name it: "<stdin>" for "-". */
const char *input_name(const char *path);
/* An import's or ingest's counts, one line on stdout. */
void print_stats(const char *what, const mtd_stats *st, int with_rejected);
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
