/* mtdgate init: create the store. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

static int cmd_init(mtd_t *h, opts *o)
{
	int bad = 0, rc;
	const char *cloud = flag_value(o, "--cloud", &bad);
	if (bad)
		return usage_error("init: --cloud needs a value (commercial or gcc_high)");
	if ((rc = no_more(o, 1, "init")))
		return rc;
	if ((rc = mtd_init(h, cloud)))
		return fail(h, rc);
	printf("store %s ready (%s cloud)\n", o->cfg.db_path, cloud ? cloud : "commercial");
	return EX_OK;
}

static const cli_option init_options[] = {
	{"--cloud", "commercial|gcc_high", "the store's cloud [commercial]", NULL, 0},
	{0},
};

const cli_command cli_cmd_init = {
	.name = "init",
	.summary = "  init [--cloud commercial|gcc_high]     create the store\n",
	.help = "usage: mtdgate init [--cloud commercial|gcc_high]\n\n"
		"Create the store (mode 0600), or check that an existing one is of the same\n"
		"cloud. In gcc_high only vendors whose plugin declares government cloud\n"
		"support can be added, and only Android and iOS can be switched on.\n"
		"A file that is an SQLite database of another application is refused\n"
		"(nothing is written to it); a store of an older mtdgate is migrated,\n"
		"after a copy of it is kept beside it (FILE.schema-N.bak), as every\n"
		"command does that opens an older store.\n"
		"Exit 0 done; 64 usage; 69 another application's database, or a store of\n"
		"the other cloud; 70 internal error; 75 the store stayed busy (--wait).\n",
	.run = cmd_init,
	.options = init_options,
};
