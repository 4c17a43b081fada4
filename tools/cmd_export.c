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
