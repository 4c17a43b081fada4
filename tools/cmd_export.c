/* mtdgate export: data out of the store for the tools administrators
 * already have (issue 18). `export sql FILE`: the current decisions as plain
 * SQLite tables (README, "Exports"). */
#include <stdio.h>
#include <string.h>

#include "cli.h"

int mtd_cli_export(mtd_t *h, int argc, char **argv)
{
	uint64_t rows;
	int rc;

	if (argc != 3 || strcmp(argv[1], "sql") || argv[2][0] == '-') {
		fprintf(stderr, "mtdgate: usage: mtdgate export sql FILE\n(see 'mtdgate help export')\n");
		return 64;
	}
	if ((rc = mtd_export_sql(h, argv[2], &rows))) {
		char safe[1100];
		mtd_escape(safe, sizeof safe, mtd_errmsg(h), strlen(mtd_errmsg(h)));
		fprintf(stderr, "mtdgate: export: %s\n", safe);
		return rc == MTD_EUSAGE || rc == MTD_ENOTFOUND ? 64 : rc == MTD_EREFUSED ? 69 : 70;
	}
	printf("exported %llu decisions to %s\n", (unsigned long long)rows, argv[2]);
	return 0;
}

static int cmd_export(mtd_t *h, opts *o)
{
	return mtd_cli_export(h, o->argc, o->argv);
}

const cli_command cli_cmd_export = {
	.name = "export",
	.summary = "  export sql FILE                        decisions as plain SQLite tables\n",
	.help = "usage: mtdgate export sql FILE\n\n"
		"Write the current decision of every device into FILE as plain SQLite tables\n"
		"that sqlite3 and BI tools read without mtdgate: decisions (device, platform,\n"
		"management, state, level, access, app_protection, vendors_json,\n"
		"reasons_json, resources_json, evaluated_at, evaluated_unix),\n"
		"decision_vendors, decision_reasons, decision_resources and sqlfile_info\n"
		"(exported_at). FILE is written whole beside itself, fsynced and renamed\n"
		"into place: readers see the last export or this one. An existing FILE is\n"
		"replaced only when it is an earlier export. Run it again to refresh.\n"
		"Exit 0 written; 64 usage or no store; 69 FILE exists and is not an\n"
		"export (or is the store); 70 internal or I/O error.\n",
	.run = cmd_export,
	.subcommands = "sql",
};
