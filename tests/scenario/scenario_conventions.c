/* Scenarios: the command-line conventions of issue 17 (gh, kubectl, git):
 * --opt=value, "--", global options anywhere, "did you mean", exit statuses
 * in every --help, tables sized to their data, --output json|csv (CSV read
 * back by a strict RFC 4180 reader, JSON by jansson). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <jansson.h>
#include <pty.h>
#include <sys/wait.h>
#include <unistd.h>

#include "harness.h"

static int setup(void **state)
{
	*state = scen_new();
	return *state ? 0 : -1;
}

static int teardown(void **state)
{
	scen_free(*state);
	return 0;
}

#define JSON_LINES(s) scen_json_lines_((s), __FILE__, __LINE__)

#define DEV(id, plat)                                                                              \
	"{\"id\":\"" id "\",\"platform\":\"" plat "\",\"os_version\":\"17.0\","                      \
	"\"ownership\":\"corporate\",\"management\":\"enrolled\",\"user\":\"u\",\"groups\":[]}\n"

/* A 36-character Intune id beside short ones. */
#define INTUNE_ID "4f0c2a9e-6b1d-4c3e-9a8f-2d7e5b1c0a93"

/* --db=FILE and --rules=DIR; global options after the command; "--" before
 * a file named -x. */
static void options_anywhere(void **state)
{
	scen *s = *state;
	char db[320], plugins[320], rules[320];
	const char *dev = scen_writes(s, "-x", DEV("dash-dev", "ios"));
	snprintf(db, sizeof db, "--db=%s", s->db);
	snprintf(plugins, sizeof plugins, "--plugins=%s", MTD_PLUGIN_DIR);
	snprintf(rules, sizeof rules, "--rules=%s", s->rules);
	(void)dev;

	RUN_RAW(s, 0, db, plugins, rules, "init");
	assert_true(scen_exists(s->db));
	/* globals after the command and its words, in both spellings */
	RUN_RAW(s, 0, "device", "import", db, "--plugins", MTD_PLUGIN_DIR, "--", "-x");
	OUT_HAS(s, "devices: 1 records, 1 imported");
	RUN_RAW(s, 0, "report", "--json", "--db", s->db, plugins, "--now=2024-03-01T00:00:00Z");
	OUT_HAS(s, "\"device\":\"dash-dev\"");
	/* without "--", -x is an option, and none of device's */
	RUN(s, 64, "device", "import", "-x");
	ERR_HAS(s, "-x");
	/* --opt=value for a command's option; a flag given a value is refused */
	RUN(s, 0, "report", "--device=dash-dev", "--output=json");
	OUT_HAS(s, "\"device\":\"dash-dev\"");
	RUN(s, 64, "report", "--json=yes");
	ERR_HAS(s, "--json takes no value");
	RUN(s, 64, "report", "--state");
	ERR_HAS(s, "--state needs a value");
	/* an option of another subcommand */
	RUN(s, 64, "audit", "show", "--expect-head", "00");
	ERR_HAS(s, "--expect-head is an option of 'audit verify' only");
}

/* Typos get a suggestion: commands, subcommands, options, vendor ids. */
static void did_you_mean(void **state)
{
	scen *s = *state;
	RUN(s, 64, "reprot");
	ERR_HAS(s, "unknown command 'reprot' (did you mean 'report'?)");
	RUN(s, 64, "conector", "list");
	ERR_HAS(s, "(did you mean 'connector'?)");
	RUN(s, 64, "connector", "lsit");
	ERR_HAS(s, "unknown subcommand 'lsit' (did you mean 'list'?)");
	RUN(s, 64, "report", "--jsno");
	ERR_HAS(s, "unknown option '--jsno' (did you mean '--json'?)");
	ERR_HAS(s, "(see 'mtdgate help report')");
	RUN(s, 64, "evaluate", "--dryrun");
	ERR_HAS(s, "(did you mean '--dry-run'?)");
	RUN(s, 64, "report", "--dbb", s->db);
	ERR_HAS(s, "(did you mean '--db'?)");
	/* a beginning of several options is named as ambiguous, with them */
	RUN(s, 64, "report", "--d", "x");
	ERR_HAS(s, "option '--d' is ambiguous: --db, --device");
	RUN(s, 64, "report", "--dev", "nobody"); /* unique: --device; no store yet */
	assert_null(strstr(s->err, "option"));
	RUN(s, 64, "help", "evalute");
	ERR_HAS(s, "(did you mean 'evaluate'?)");
	/* nothing near: no suggestion */
	RUN(s, 64, "frobnicate");
	assert_null(strstr(s->err, "did you mean"));
	RUN(s, 0, "init");
	RUN(s, 64, "connector", "add", "lookot");
	ERR_HAS(s, "did you mean 'lookout'?");
	RUN(s, 0, "connector", "add", "lookout");
	assert_null(strstr(s->err, "did you mean"));
}

/* The command names of the dump (tools/gendoc's input), NULL-ended. */
static char **dump_commands(scen *s)
{
	char **v = scen_own(s, calloc(64, sizeof *v));
	size_t n = 0;
	const char *p;
	RUN(s, 0, "--dump-commands");
	for (p = s->out; (p = strstr(p, "@command ")) && n < 63; p++) {
		size_t len = strcspn(p + 9, "\n");
		v[n++] = scen_own(s, strndup(p + 9, len));
	}
	assert_true(n >= 10);
	return v;
}

/* Every command's --help ends with the exit statuses it returns (0 and 64
 * at least), in its last paragraph, and lists its options. */
static void exit_statuses_in_every_help(void **state)
{
	scen *s = *state;
	char **cmds = dump_commands(s);
	int bad = 0;
	for (size_t i = 0; cmds[i]; i++) {
		const char *const argv[] = {cmds[i], "--help", NULL};
		const char *last, *p;
		if (scen_runv(s, NULL, 0, argv) != 0) {
			print_error("mtdgate %s --help: exit %d\n", cmds[i], s->status);
			bad++;
			continue;
		}
		for (last = s->out; (p = strstr(last, "\n\n")); last = p + 2)
			;
		if (!strstr(last, "Exit") || !strstr(last, " 0 ") || !strstr(last, "64")) {
			print_error("mtdgate %s --help: no exit statuses at its end:\n%s\n", cmds[i],
				    last);
			bad++;
		}
	}
	if (bad)
		fail_msg("%d commands' help lack their exit statuses", bad);
	RUN(s, 0, "audit", "--help");
	OUT_HAS(s, "Options:\n");
	OUT_HAS(s, "-o, --output table|json|csv");
}

/* The column where header word starts in line, or -1. */
static long column_of(const char *line, const char *word)
{
	const char *p = strstr(line, word);
	return p ? (long)(p - line) : -1;
}

/* Every line of text (the table, up to its first empty line) has a cell
 * starting at the header's column of col (an aligned table). */
static void aligned(const char *text, const char *col)
{
	const char *nl = strchr(text, '\n');
	long at = column_of(text, col);
	int rows = 0;
	assert_true(at > 0 && nl);
	for (const char *l = nl + 1; *l && *l != '\n'; l = strchr(l, '\n') + 1) {
		assert_true((long)strcspn(l, "\n") > at);
		if (l[at - 1] != ' ' || l[at] == ' ')
			fail_msg("column %s not at %ld in: %.*s", col, at, (int)strcspn(l, "\n"), l);
		rows++;
	}
	assert_true(rows >= 2);
}

/* A 36-character Intune id does not shift the columns. */
static void tables_sized_to_data(void **state)
{
	scen *s = *state;
	const char *dev = scen_writes(s, "d.jsonl", DEV(INTUNE_ID, "ios") DEV("a1", "android")
						 DEV("b", "windows"));
	RUN(s, 0, "init");
	RUN(s, 0, "device", "import", dev);
	RUN(s, 0, "evaluate");
	RUN(s, 0, "report");
	OUT_HAS(s, INTUNE_ID "  ios");
	aligned(s->out, "PLATFORM");
	aligned(s->out, "STATE");
	aligned(s->out, "REASONS");
	RUN(s, 0, "audit", "show", "--kind", "decision");
	aligned(s->out, "DETAIL");
	RUN(s, 0, "connector", "add", "generic");
	RUN(s, 0, "connector", "add", "bettermobile");
	RUN(s, 0, "connector", "list");
	aligned(s->out, "STATE");
	aligned(s->out, "SETTINGS");
	RUN(s, 0, "plugin", "list");
	aligned(s->out, "NAME");
	aligned(s->out, "CAPABILITIES");
}

/* ---- a strict RFC 4180 reader ---- */

typedef struct csv {
	char *field[64][16]; /* [record][field], owned */
	int nfields[64], nrec;
} csv;

/* Parses text strictly: CRLF after every record, quotes only around a whole
 * field, "" inside quotes, no bare CR, LF or quote. 0 or -1. */
static int csv_parse(const char *p, csv *c)
{
	memset(c, 0, sizeof *c);
	while (*p) {
		int r = c->nrec, f = 0;
		if (r == 64)
			return -1;
		for (;;) {
			char buf[512];
			size_t n = 0;
			if (*p == '"') {
				for (p++;; p++) {
					if (!*p)
						return -1;
					if (*p == '"' && p[1] == '"')
						p++;
					else if (*p == '"')
						break;
					if (n + 1 >= sizeof buf)
						return -1;
					buf[n++] = *p;
				}
				p++;
			} else {
				for (; *p && *p != ',' && *p != '\r'; p++) {
					if (*p == '"' || *p == '\n' || n + 1 >= sizeof buf)
						return -1;
					buf[n++] = *p;
				}
			}
			buf[n] = '\0';
			if (f == 16)
				return -1;
			c->field[r][f++] = strdup(buf);
			if (*p == ',') {
				p++;
				continue;
			}
			if (p[0] != '\r' || p[1] != '\n')
				return -1;
			p += 2;
			break;
		}
		c->nfields[r] = f;
		c->nrec++;
	}
	return 0;
}

static void csv_free(csv *c)
{
	for (int r = 0; r < c->nrec; r++)
		for (int f = 0; f < c->nfields[r]; f++)
			free(c->field[r][f]);
}

/* The record whose field col (by header name) is value, or -1. */
static int csv_find(const csv *c, const char *col, const char *value)
{
	int k = -1;
	for (int f = 0; f < c->nfields[0]; f++)
		if (!strcmp(c->field[0][f], col))
			k = f;
	assert_true(k >= 0);
	for (int r = 1; r < c->nrec; r++)
		if (!strcmp(c->field[r][k], value))
			return r;
	return -1;
}

/* Hostile ids and a reason with CR LF come back from CSV as they went in;
 * a leading = + - @ stays data. */
static void csv_round_trip(void **state)
{
	scen *s = *state;
	static const char *const ids[] = {"a,b", "q\"uote", "=1+2", "+cmd", "-dash", "@at",
					  INTUNE_ID};
	const char *dev = scen_writes(s, "d.jsonl",
				      DEV("a,b", "ios") DEV("q\\\"uote", "ios") DEV("=1+2", "ios")
					      DEV("+cmd", "android") DEV("-dash", "android")
						      DEV("@at", "windows") DEV(INTUNE_ID, "ios"));
	csv c;
	RUN(s, 0, "init");
	RUN(s, 0, "device", "import", dev);
	RUN(s, 0, "evaluate");
	RUN(s, 0, "report", "--output", "csv");
	assert_int_equal(csv_parse(s->out, &c), 0);
	assert_int_equal(c.nrec, 8);
	assert_string_equal(c.field[0][0], "device");
	for (int r = 0; r < c.nrec; r++)
		assert_int_equal(c.nfields[r], c.nfields[0]);
	for (size_t i = 0; i < sizeof ids / sizeof *ids; i++)
		if (csv_find(&c, "device", ids[i]) < 0)
			fail_msg("id '%s' not in the CSV:\n%s", ids[i], s->out);
	csv_free(&c);

	/* a reason with a comma, quotes and CR LF (rules may write any text) */
	snprintf(s->rules, sizeof s->rules, "%s",
		 scen_rules_copy(s, "crlf",
				 "if device.id == '@at' then return 'noncompliant', 'high', "
				 "{'one,\\r\\n\"two\"'} end\n", NULL));
	RUN(s, 0, "evaluate");
	RUN(s, 0, "report", "-o", "csv");
	assert_int_equal(csv_parse(s->out, &c), 0);
	{
		int r = csv_find(&c, "device", "@at"), k = c.nfields[0] - 1;
		assert_string_equal(c.field[0][k], "reasons");
		if (r < 0 || strcmp(c.field[r][k], "one,\r\n\"two\""))
			fail_msg("the reason did not come back:\n%s", s->out);
	}
	csv_free(&c);
	/* the table escapes what CSV carries */
	RUN(s, 0, "report");
	OUT_HAS(s, "one,\\x0d\\x0a\"two\"");
}

/* JSON output parses with jansson: one object per record per line, one
 * object for a command's result. */
static void json_output(void **state)
{
	scen *s = *state;
	const char *dev = scen_writes(s, "d.jsonl", DEV(INTUNE_ID, "ios") DEV("a1", "android"));
	const char *msgs = scen_writes(s, "m.jsonl",
				       "{\"type\":\"provision\",\"at\":\"2024-03-01T00:00:00Z\"}\n"
				       THREAT("a1", "high", "\"2024-03-01T00:00:00Z\"")
				       THREAT("nobody", "high", "\"2024-03-01T00:00:00Z\""));
	json_error_t e;
	json_t *j;
	RUN(s, 0, "init");
	RUN(s, 0, "device", "import", dev, "-o", "json");
	j = scen_ownj(s, json_loads(s->out, 0, &e));
	assert_non_null(j);
	assert_int_equal(json_integer_value(json_object_get(j, "imported")), 2);
	RUN(s, 0, "connector", "add", "generic");
	RUN(s, 0, "ingest", "generic", "--normalized", msgs, "--output", "json");
	j = scen_ownj(s, json_loads(s->out, 0, &e));
	assert_non_null(j);
	assert_int_equal(json_integer_value(json_object_get(j, "records")), 3);
	assert_int_equal(json_integer_value(json_object_get(j, "parked")), 1);
	RUN(s, 0, "parked", "-o", "json");
	assert_int_equal(JSON_LINES(s), 1);
	RUN(s, 0, "evaluate");
	RUN(s, 0, "report", "-o", "json");
	assert_int_equal(JSON_LINES(s), 2);
	RUN(s, 0, "audit", "verify", "-o", "json");
	j = scen_ownj(s, json_loads(s->out, 0, &e));
	assert_non_null(j);
	assert_true(json_is_true(json_object_get(j, "intact")));
	assert_true(json_integer_value(json_object_get(j, "records")) > 3);
	assert_int_equal(strlen(json_string_value(json_object_get(j, "head"))), 64);
	RUN(s, 0, "audit", "show", "--device", "a1", "-o", "json");
	assert_true(JSON_LINES(s) >= 1);
	RUN(s, 0, "plugin", "list", "-o", "json");
	assert_true(JSON_LINES(s) >= 5);
	/* --json is --output json; both at once only when they agree */
	RUN(s, 0, "report", "--json", "-o", "json");
	RUN(s, 64, "report", "--json", "-o", "csv");
	RUN(s, 64, "report", "-o", "yaml");
	ERR_HAS(s, "expected table, json or csv");
}

/* mtdgate ARGS... on a terminal (a pty, TERM=xterm), NO_COLOR set to
 * no_color unless NULL: what it wrote (owned by s), its status in *status. */
static const char *on_terminal(scen *s, const char *no_color, int *status,
			       const char *const *args)
{
	char now[32], *out = NULL;
	const char *argv[32];
	size_t len = 0, k = 0;
	int fd;
	pid_t pid;
	snprintf(now, sizeof now, "%lld", (long long)s->now);
	argv[k++] = MTDGATE_BIN;
	for (const char *g[] = {"--db", s->db, "--plugins", MTD_PLUGIN_DIR, "--rules", s->rules,
				"--now", now, NULL},
			**p = g;
	     *p; p++)
		argv[k++] = *p;
	for (; *args && k < 31; args++)
		argv[k++] = *args;
	argv[k] = NULL;
	fflush(NULL);
	pid = forkpty(&fd, NULL, NULL, NULL);
	assert_true(pid >= 0);
	if (pid == 0) {
		setenv("TERM", "xterm", 1);
		if (no_color)
			setenv("NO_COLOR", no_color, 1);
		else
			unsetenv("NO_COLOR");
		execv(MTDGATE_BIN, (char *const *)argv);
		_exit(127);
	}
	for (;;) {
		char buf[4096];
		ssize_t n = read(fd, buf, sizeof buf);
		if (n <= 0)
			break; /* EIO once the child is gone */
		out = realloc(out, len + (size_t)n + 1);
		assert_non_null(out);
		memcpy(out + len, buf, (size_t)n);
		len += (size_t)n;
	}
	close(fd);
	assert_int_equal(waitpid(pid, status, 0), pid);
	if (!out)
		out = calloc(1, 1);
	out[len] = '\0';
	return scen_own(s, out);
}

/* Colour (evaluate --dry-run marks new blocks and wipes) only on a
 * terminal, and not with NO_COLOR set, whatever its value. */
static void no_color(void **state)
{
	scen *s = *state;
	static const char *const dry[] = {"evaluate", "--dry-run", NULL};
	const char *out;
	int st;
	SETUP(s, SCEN_FLEET);
	RUN(s, 0, "connector", "set", "generic", "ios=on");
	RUN(s, 0, "evaluate");
	INGEST(s, THREAT("ios-bob", "high", "\"2024-03-01T00:00:00Z\""));
	out = on_terminal(s, NULL, &st, dry);
	assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	if (!strstr(out, "ios-bob") || !strstr(out, "\033["))
		fail_msg("no colour on a terminal without NO_COLOR:\n%s", out);
	out = on_terminal(s, "1", &st, dry);
	assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	assert_non_null(strstr(out, "ios-bob"));
	assert_null(strstr(out, "\033"));
	out = on_terminal(s, "", &st, dry); /* set, but empty: still no colour */
	assert_non_null(strstr(out, "ios-bob"));
	assert_null(strstr(out, "\033"));
	/* not a terminal: no colour either */
	RUN(s, 0, "evaluate", "--dry-run");
	OUT_HAS(s, "ios-bob");
	assert_null(strstr(s->out, "\033"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(options_anywhere, setup, teardown),
		cmocka_unit_test_setup_teardown(did_you_mean, setup, teardown),
		cmocka_unit_test_setup_teardown(exit_statuses_in_every_help, setup, teardown),
		cmocka_unit_test_setup_teardown(tables_sized_to_data, setup, teardown),
		cmocka_unit_test_setup_teardown(csv_round_trip, setup, teardown),
		cmocka_unit_test_setup_teardown(json_output, setup, teardown),
		cmocka_unit_test_setup_teardown(no_color, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
