/* fuzz_device: device import (SPEC 4.2). The input is one devices file
 * (JSON text, an event stream or msgpack): every record goes through mtd_reader
 * and mtd_decode_device, whose result is checked against the README's
 * limits, then the whole file through the public mtd_device_import into a
 * per-process store (MTD_FUZZ_NO_STORE=1 skips that part). */
#include <string.h>

#include "fuzz.h"
#include "fuzz_import.h"

static int str_cmp(const mtd_str *x, const mtd_str *y)
{
	size_t k = x->n < y->n ? x->n : y->n;
	int c = memcmp(x->p, y->p, k);
	return c ? c : (x->n > y->n) - (x->n < y->n);
}

static int decode(const msgpack_object *o, char *err, size_t n)
{
	mtd_device_rec d;
	int rc = mtd_decode_device(o, &d, err, n);

	if (rc)
		return rc;
	FUZZ_CHECK(d.id.p && d.id.n >= 1 && d.id.n <= MTD_MAX_ID);
	FUZZ_CHECK(fuzz_ctl_bytes(d.id.p, d.id.n) == 0);
	FUZZ_CHECK(d.platform >= 0 && d.platform < MTD_NPLAT);
	FUZZ_CHECK(d.corporate == 0 || d.corporate == 1);
	FUZZ_CHECK(d.enrolled == 0 || d.enrolled == 1);
	FUZZ_CHECK(d.os_version.n <= 64 && d.user.n <= MTD_MAX_STR);
	FUZZ_CHECK(fuzz_ctl_bytes(d.os_version.p, d.os_version.n) == 0);
	FUZZ_CHECK(fuzz_ctl_bytes(d.user.p, d.user.n) == 0);
	FUZZ_CHECK(d.ngroups <= MTD_MAX_GROUPS);
	for (size_t i = 0; i < d.ngroups; i++) {
		FUZZ_CHECK(d.groups[i].n >= 1 && d.groups[i].n <= MTD_MAX_ID);
		/* sorted, duplicates removed */
		FUZZ_CHECK(i == 0 || str_cmp(&d.groups[i - 1], &d.groups[i]) < 0);
	}
	/* ids: each kind once, values 1 to MTD_MAX_ID bytes without controls */
	FUZZ_CHECK(d.nids <= MTD_MAX_IDS);
	for (size_t i = 0; i < d.nids; i++) {
		FUZZ_CHECK(d.id_value[i].n >= 1 && d.id_value[i].n <= MTD_MAX_ID);
		FUZZ_CHECK(fuzz_ctl_bytes(d.id_value[i].p, d.id_value[i].n) == 0);
		FUZZ_CHECK(d.id_kind[i].n >= 3);
		for (size_t k = 0; k < i; k++)
			FUZZ_CHECK(str_cmp(&d.id_kind[k], &d.id_kind[i]) != 0);
	}
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	fuzz_read_records(data, size, decode);
	fuzz_import(data, size, 0);
	return 0;
}
