/* fuzz_inventory: app inventory import (SPEC 4.2). The input is one
 * inventory file: every record goes through mtd_reader and mtd_decode_app,
 * then the whole file through the public mtd_inventory_import into a
 * per-process store that knows the devices dev-1, dev-2 and dev-000003
 * (MTD_FUZZ_NO_STORE=1 skips that part). */
#include "fuzz.h"
#include "fuzz_import.h"

static int bool_ok(int b)
{
	return b >= -1 && b <= 1;
}

static int decode(const msgpack_object *o, char *err, size_t n)
{
	mtd_app_rec a;
	int rc = mtd_decode_app(o, &a, err, n);

	if (rc)
		return rc;
	FUZZ_CHECK(a.device.p && a.device.n >= 1 && a.device.n <= MTD_MAX_ID);
	FUZZ_CHECK(a.app_id.p && a.app_id.n >= 1 && a.app_id.n <= MTD_MAX_STR);
	FUZZ_CHECK(fuzz_ctl_bytes(a.device.p, a.device.n) == 0);
	FUZZ_CHECK(fuzz_ctl_bytes(a.app_id.p, a.app_id.n) == 0);
	FUZZ_CHECK(a.version.n <= 64 && a.short_version.n <= 64 && a.name.n <= MTD_MAX_STR);
	FUZZ_CHECK(a.bundle_size >= -1 && a.dynamic_size >= -1);
	FUZZ_CHECK(bool_ok(a.adhoc_signed) && bool_ok(a.app_store) && bool_ok(a.beta) &&
		   bool_ok(a.vpp) && bool_ok(a.validated) && bool_ok(a.managed));
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	fuzz_read_records(data, size, decode);
	fuzz_import(data, size, 1);
	return 0;
}
