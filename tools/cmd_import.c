/* mtdgate device import, mtdgate inventory import. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

static int cmd_import(mtd_t *h, opts *o, int inventory)
{
	const char *what = inventory ? "inventory" : "device";
	mtd_stats st;
	FILE *in;
	int rc;

	if (o->argc < 2 || strcmp(o->argv[1], "import"))
		return usage_error("%s: expected 'import FILE|-'", what);
	if ((rc = no_more(o, 3, what)))
		return rc;
	if (!(in = open_input(o->argv[2]))) {
		fprintf(stderr, "%s: %s: %s\n", prog, esc(o->argv[2]), strerror(errno));
		return EX_USAGE_;
	}
	rc = inventory ? mtd_inventory_import(h, in, input_name(o->argv[2]), &st)
		       : mtd_device_import(h, in, input_name(o->argv[2]), &st);
	if (in != stdin)
		fclose(in);
	if (rc)
		return fail(h, rc);
	print_stats(inventory ? "inventory" : "devices", &st, 0);
	return st.malformed ? EX_DATAERR_ : EX_OK;
}

static int cmd_device(mtd_t *h, opts *o)
{
	return cmd_import(h, o, 0);
}

static int cmd_inventory(mtd_t *h, opts *o)
{
	return cmd_import(h, o, 1);
}

const cli_command cli_cmd_device = {
	.name = "device",
	.summary = "  device import FILE|-                   import device records\n",
	.help = "usage: mtdgate device import FILE|-\n\n"
		"Import device records (JSON documents, lines, an array of them, or msgpack):\n"
		"  {\"id\",\"platform\":\"android|ios|windows|macos\",\"os_version\",\n"
		"   \"ownership\":\"corporate|personal\",\"management\":\"enrolled|unenrolled\",\n"
		"   \"user\",\"groups\":[NAME,...],\"ids\":{KIND:VALUE,...}}\n"
		"ids: the device's identifiers (intune entra serial imei meid udid wifi_mac,\n"
		"vendor:<vendor id>), by which messages may name it; a value another device\n"
		"has is refused with the record's position. Parked messages that now name\n"
		"one device are applied after the import.\n"
		"A known device is replaced as a whole. Bad records are reported with their\n"
		"position and skipped (exit 65); the others are kept. Ids are UTF-8 without\n"
		"control or bidi characters; a duplicate key refuses the record.\n",
	.run = cmd_device,
};

const cli_command cli_cmd_inventory = {
	.name = "inventory",
	.summary = "  inventory import FILE|-                import app inventory records\n",
	.help = "usage: mtdgate inventory import FILE|-\n\n"
		"Import app inventory records:\n"
		"  {\"device\",\"app_id\",\"version\",\"short_version\",\"name\",\"bundle_size\",\n"
		"   \"dynamic_size\",\"adhoc_signed\",\"app_store\",\"beta\",\"vpp\",\"validated\",\"managed\"}\n"
		"Each device in the input has its inventory replaced as a whole.\n",
	.run = cmd_inventory,
};
