/* Scenarios: the command line itself (SPEC 4.3): help for every command,
 * usage errors, and the commands of the contract. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

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

/* Every command of SPEC 4.3 with the usage line its help must show. */
static const struct {
	const char *cmd, *usage;
} commands[] = {
	{"init", "usage: mtdgate init"},
	{"device", "mtdgate device import"},
	{"inventory", "mtdgate inventory import"},
	{"connector", "mtdgate connector add"},
	{"connector", "mtdgate connector set"},
	{"connector", "mtdgate connector remove"},
	{"connector", "mtdgate connector list"},
	{"ingest", "mtdgate ingest VENDOR"},
	{"ingest", "--normalized"},
	{"plugin", "mtdgate plugin list"},
	{"plugin", "mtdgate plugin check"},
	{"evaluate", "mtdgate evaluate"},
	{"evaluate", "--dry-run"},
	{"report", "mtdgate report"},
	{"appsync", "mtdgate appsync"},
};

/* 10. `mtdgate CMD --help` exits 0 and shows CMD's usage; no store needed. */
static void help_for_every_command(void **state)
{
	scen *s = *state;
	int bad = 0;

	RUN(s, 0, "--help");
	OUT_HAS(s, "usage: mtdgate");
	for (size_t i = 0; i < sizeof commands / sizeof *commands; i++) {
		const char *const argv[] = {commands[i].cmd, "--help", NULL};
		int rc = scen_runv(s, NULL, 0, argv);
		if (rc != 0 || !strstr(s->out, commands[i].usage)) {
			print_error("mtdgate %s --help: exit %d, usage line \"%s\" %s\n", commands[i].cmd,
				    rc, commands[i].usage,
				    strstr(s->out, commands[i].usage) ? "present" : "missing");
			bad++;
		}
	}
	/* -h works too, and help after the subcommand. */
	RUN(s, 0, "connector", "set", "-h");
	OUT_HAS(s, "mtdgate connector set");
	RUN(s, 0, "report", "--help");
	OUT_HAS(s, "--json");
	if (bad)
		fail_msg("%d help texts lack their usage line", bad);
	/* Nothing was created by asking for help. */
	assert_false(scen_exists(s->db));
}

static void usage_errors(void **state)
{
	scen *s = *state;
	RUN(s, 64, "frobnicate");
	ERR_HAS(s, "frobnicate");
	RUN(s, 0, "init");
	RUN(s, 64, "frobnicate", "--json");
	ERR_HAS(s, "frobnicate");
	RUN(s, 64, "evaluate", "--bogus");
	ERR_HAS(s, "--bogus");
	RUN(s, 64, "report", "--state", "sideways");
	RUN(s, 64, "device", "export", "x");
	RUN(s, 64, "ingest");
	RUN(s, 64, "init", "--cloud", "moon");
	RUN(s, 64, "--now", "yesterday-ish", "report");
	ERR_HAS(s, "yesterday-ish");
	/* No command at all: usage on stderr, 64. */
	RUN(s, 64, "--db", s->db);
	ERR_HAS(s, "usage: mtdgate");
}

/* A store that does not exist yet is named, not created behind the user's
 * back. */
static void commands_need_init(void **state)
{
	scen *s = *state;
	RUN(s, 64, "report");
	ERR_HAS(s, "init");
	assert_false(scen_exists(s->db));
}

/* The commands SPEC 4.3 lists exist (they are not "unknown command"). */
static void contract_commands_exist(void **state)
{
	scen *s = *state;
	char so[600];
	const char *dev = scen_writes(s, "devices.jsonl", SCEN_FLEET);
	int bad = 0;

	RUN(s, 0, "init");
	RUN(s, 0, "device", "import", dev);
	RUN(s, 0, "plugin", "list", "--json");
	OUT_HAS(s, "\"id\":\"generic\"");
	RUN(s, 0, "connector", "add", "generic");

	snprintf(so, sizeof so, "%s/generic.so", MTD_PLUGIN_DIR);
	{
		const char *const argv[] = {"plugin", "check", so, NULL};
		if (scen_runv(s, NULL, 0, argv) != 0) {
			print_error("mtdgate plugin check %s: exit %d (want 0)\nstderr: %s\n", so, s->status,
				    s->err);
			bad++;
		}
	}
	{
		/* appsync_ios is off: a refused request (69), not a usage error. */
		const char *const argv[] = {"appsync", "generic", "--json", NULL};
		if (scen_runv(s, NULL, 0, argv) != 69) {
			print_error("mtdgate appsync generic --json with appsync_ios off: exit %d (want 69)\n"
				    "stderr: %s\n",
				    s->status, s->err);
			bad++;
		}
	}
	if (bad)
		fail_msg("%d commands of SPEC 4.3 do not work", bad);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(help_for_every_command, setup, teardown),
		cmocka_unit_test_setup_teardown(usage_errors, setup, teardown),
		cmocka_unit_test_setup_teardown(commands_need_init, setup, teardown),
		cmocka_unit_test_setup_teardown(contract_commands_exist, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
