/* mtdgate tasks: security tasks (contracts: "Security tasks"), from task
 * messages: Defender's vulnerabilities and security recommendations. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

enum { C_DEVICE, C_VENDOR, C_ID, C_KIND, C_SEVERITY, C_STATE, C_FIRST, C_CVE, C_SOFTWARE,
       C_VERSION, C_UPDATED, NCOL };
static const char *const titles[NCOL] = {"DEVICE",   "VENDOR", "TASK",	   "KIND",
					 "SEVERITY", "STATE",  "FIRST SEEN", "CVE",
					 "SOFTWARE", "VERSION", "UPDATED"};

typedef struct taskctx {
	int json;
	mtd_buf line; /* JSON: the line being written, reused */
	/* table: every cell (escaped, owned), row after row, to size columns */
	char **cells;
	size_t ncells, cap;
} taskctx;

static int print_json(taskctx *c, const mtd_task_info *t)
{
	char first[40], upd[40], rcv[40];
	mtd_buf *b = &c->line;
	b->len = 0;
	if (buf_lit(b, "{\"device\":") || buf_str(b, t->device) || buf_lit(b, ",\"vendor\":") ||
	    buf_str(b, t->vendor) || buf_lit(b, ",\"id\":") || buf_str(b, t->id) ||
	    buf_lit(b, ",\"kind\":") || buf_str(b, t->kind) || buf_lit(b, ",\"cve\":") ||
	    buf_str_or_null(b, t->cve) || buf_lit(b, ",\"software\":") ||
	    buf_str_or_null(b, t->software) || buf_lit(b, ",\"version\":") ||
	    buf_str_or_null(b, t->version) || buf_lit(b, ",\"severity\":") ||
	    buf_str(b, t->severity) || buf_lit(b, ",\"state\":") || buf_str(b, t->state) ||
	    buf_lit(b, ",\"first_seen\":") ||
	    buf_str(b, mtd_time_format(t->first_seen, first, sizeof first)) ||
	    buf_lit(b, ",\"updated_at\":") ||
	    buf_str(b, mtd_time_format(t->updated_at, upd, sizeof upd)) ||
	    buf_lit(b, ",\"received\":") ||
	    buf_str(b, mtd_time_format(t->received, rcv, sizeof rcv)) || buf_lit(b, "}"))
		return MTD_ENOMEM;
	return buf_line(b);
}

static int keep_row(taskctx *c, const mtd_task_info *t)
{
	char first[40], upd[40];
	const char *v[NCOL] = {t->device, t->vendor, t->id, t->kind, t->severity, t->state,
			       mtd_time_format(t->first_seen, first, sizeof first),
			       t->cve, t->software, t->version,
			       mtd_time_format(t->updated_at, upd, sizeof upd)};
	if (c->ncells + NCOL > c->cap) {
		size_t cap = c->cap ? 2 * c->cap : 64 * NCOL;
		char **p = realloc(c->cells, cap * sizeof *p);
		if (!p)
			return MTD_ENOMEM;
		c->cells = p;
		c->cap = cap;
	}
	for (int i = 0; i < NCOL; i++)
		if (!(c->cells[c->ncells++] = strdup(esc(v[i]))))
			return MTD_ENOMEM;
	return 0;
}

static int on_task(void *ud, const mtd_task_info *t)
{
	taskctx *c = ud;
	return c->json ? print_json(c, t) : keep_row(c, t);
}

/* A header and the rows, each column as wide as its widest cell. */
static void print_table(const taskctx *c)
{
	size_t w[NCOL];
	for (int i = 0; i < NCOL; i++)
		w[i] = strlen(titles[i]);
	for (size_t k = 0; k < c->ncells; k++)
		if (strlen(c->cells[k]) > w[k % NCOL])
			w[k % NCOL] = strlen(c->cells[k]);
	for (int i = 0; i < NCOL; i++)
		printf("%-*s%s", i + 1 < NCOL ? (int)w[i] : 0, titles[i], i + 1 < NCOL ? "  " : "\n");
	for (size_t k = 0; k < c->ncells; k++)
		printf("%-*s%s", k % NCOL + 1 < NCOL ? (int)w[k % NCOL] : 0, c->cells[k],
		       k % NCOL + 1 < NCOL ? "  " : "\n");
}

static int cmd_tasks(mtd_t *h, opts *o)
{
	taskctx c = {0};
	const char *dev;
	int bad = 0, rc;

	c.json = has_flag(o, "--json");
	dev = flag_value(o, "--device", &bad);
	if (bad)
		return usage_error("tasks: --device needs a device id");
	if ((rc = no_more(o, 1, "tasks")))
		return rc;
	rc = mtd_tasks(h, dev, on_task, &c);
	if (!rc && !c.json)
		print_table(&c);
	for (size_t k = 0; k < c.ncells; k++)
		free(c.cells[k]);
	free(c.cells);
	mtd_buf_free(&c.line);
	return rc ? fail(h, rc) : EX_OK; /* fail: the handle's message, else rc's text */
}

const cli_command cli_cmd_tasks = {
	.name = "tasks",
	.summary = "  tasks [--json] [--device ID]           security tasks: Defender's vulnerabilities\n",
	.help = "usage: mtdgate tasks [--json] [--device ID]\n\n"
		"List the security tasks: what a vendor's vulnerability management (Microsoft\n"
		"Defender's vulnerabilities and security recommendations) asks to be fixed on\n"
		"each device, from 'task' messages, open and resolved, by device, vendor and\n"
		"task id. Rules see the open ones as device.tasks (rules/tasks.lua: a critical\n"
		"vulnerability open for more than 14 days makes the device noncompliant).\n"
		"--device ID lists one device's. With --json one object per line:\n"
		"  {\"device\",\"vendor\",\"id\",\"kind\",\"cve\",\"software\",\"version\",\"severity\",\n"
		"   \"state\",\"first_seen\",\"updated_at\",\"received\"}\n"
		"(times RFC 3339; updated_at is the time the latest message about the task\n"
		"carries, received when mtdgate took it).\n"
		"Exit 0 listed; 64 usage error or no such device; 70 internal error.\n",
	.run = cmd_tasks,
};
