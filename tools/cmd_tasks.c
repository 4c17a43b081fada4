/* mtdgate tasks: security tasks (contracts: "Security tasks"), from task
 * messages: Defender's vulnerabilities and security recommendations. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

/* One record per task; the JSON keys and CSV headers are the second names. */
static const cli_col task_cols[] = {
	{"DEVICE", "device", 0},	 {"VENDOR", "vendor", 0},
	{"TASK", "id", 0},		 {"KIND", "kind", 0},
	{"SEVERITY", "severity", 0},	 {"STATE", "state", 0},
	{"FIRST SEEN", "first_seen", 0}, {"CVE", "cve", 0},
	{"SOFTWARE", "software", 0},	 {"VERSION", "version", 0},
	{"UPDATED", "updated_at", 0},	 {"RECEIVED", "received", 0},
};
#define NCOLS (sizeof task_cols / sizeof *task_cols)

static int on_task(void *ud, const mtd_task_info *t)
{
	char first[40], upd[40], rcv[40];
	const char *cells[NCOLS] = {t->device,
				    t->vendor,
				    t->id,
				    t->kind,
				    t->severity,
				    t->state,
				    mtd_time_format(t->first_seen, first, sizeof first),
				    t->cve,
				    t->software,
				    t->version,
				    mtd_time_format(t->updated_at, upd, sizeof upd),
				    mtd_time_format(t->received, rcv, sizeof rcv)};
	return cli_table_row(ud, cells);
}

static int cmd_tasks(mtd_t *h, opts *o)
{
	cli_format fmt;
	cli_table *t;
	const char *dev;
	int bad = 0, rc;

	if ((rc = cli_output(o, "tasks", &fmt)))
		return rc;
	dev = flag_value(o, "--device", &bad);
	if (bad)
		return usage_error("tasks: --device needs a device id");
	if ((rc = no_more(o, 1, "tasks")))
		return rc;
	if (!(t = cli_table_new(fmt, task_cols, NCOLS)))
		return fail(h, MTD_ENOMEM);
	rc = cli_table_end(t, mtd_tasks(h, dev, on_task, t));
	return rc ? fail(h, rc) : EX_OK;
}

static const cli_option tasks_options[] = {
	CLI_OPT_OUTPUT(NULL),
	{"--device", "ID", "only this device's tasks", NULL, 0},
	{0},
};

const cli_command cli_cmd_tasks = {
	.name = "tasks",
	.summary = "  tasks [--json] [--device ID]           security tasks: Defender's vulnerabilities\n",
	.help = "usage: mtdgate tasks [--output table|json|csv] [--device ID]\n\n"
		"List the security tasks: what a vendor's vulnerability management (Microsoft\n"
		"Defender's vulnerabilities and security recommendations) asks to be fixed on\n"
		"each device, from 'task' messages, open and resolved, by device, vendor and\n"
		"task id. Rules see the open ones as device.tasks (rules/tasks.lua: a critical\n"
		"vulnerability open for more than 14 days makes the device noncompliant).\n"
		"--device ID lists one device's. With --json one object per line:\n"
		"  {\"device\",\"vendor\",\"id\",\"kind\",\"severity\",\"state\",\"first_seen\",\"cve\",\n"
		"   \"software\",\"version\",\"updated_at\",\"received\"}\n"
		"(times RFC 3339; cve, software, version null when the vendor gave none;\n"
		"updated_at is the time the latest message about the task carries, received\n"
		"when mtdgate took it).\n\n"
		"Exit 0 listed; 64 usage error, no store or no such device; 70 internal error.\n",
	.run = cmd_tasks,
	.options = tasks_options,
};
