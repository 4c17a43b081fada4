/* SDK identifiers: what vendors send as ids (placeholders, junk) and the
 * device_ref built from the real ones. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "mtdgate/sdk.h"

static void blank_ids(void **state)
{
	(void)state;
	assert_true(mtd_sdk_id_blank(NULL));
	assert_true(mtd_sdk_id_blank(""));
	assert_true(mtd_sdk_id_blank("0"));
	assert_true(mtd_sdk_id_blank("00000000-0000-0000-0000-000000000000"));
	assert_true(mtd_sdk_id_blank("00:00:00:00:00:00"));
	assert_true(mtd_sdk_id_blank("Unknown"));
	assert_true(mtd_sdk_id_blank("N/A"));
	assert_false(mtd_sdk_id_blank("0000000a"));
	assert_false(mtd_sdk_id_blank("10"));
	assert_false(mtd_sdk_id_blank("unknown-device"));
	assert_false(mtd_sdk_id_blank("-"));
}

static void ref_add(void **state)
{
	mtd_sdk_ref r[3];
	char longid[MTD_SDK_MAX_ID + 2];
	size_t n = 0;

	(void)state;
	memset(longid, 'a', sizeof longid - 1);
	longid[sizeof longid - 1] = '\0';
	n = mtd_sdk_ref_add(r, n, 3, "mdm", "00000000-0000-0000-0000-000000000000");
	assert_int_equal(n, 0);
	n = mtd_sdk_ref_add(r, n, 3, "mdm", NULL);
	assert_int_equal(n, 0);
	n = mtd_sdk_ref_add(r, n, 3, "serial", longid); /* 129 bytes: not an id */
	assert_int_equal(n, 0);
	n = mtd_sdk_ref_add(r, n, 3, "serial", "bad\nid");
	assert_int_equal(n, 0);
	n = mtd_sdk_ref_add(r, n, 3, "imei", "xxxxx"); /* a redacted IMEI */
	assert_int_equal(n, 0);
	n = mtd_sdk_ref_add(r, n, 3, "mdm", "m-1");
	n = mtd_sdk_ref_add(r, n, 3, "mdm", "m-2"); /* the first of a kind wins */
	n = mtd_sdk_ref_add(r, n, 3, "udid", "u-1");
	n = mtd_sdk_ref_add(r, n, 3, "imei", "350000000000001");
	n = mtd_sdk_ref_add(r, n, 3, "serial", "s-1"); /* no room left */
	assert_int_equal(n, 3);
	assert_string_equal(r[0].kind, "mdm");
	assert_string_equal(r[0].value, "m-1");
	assert_string_equal(r[1].kind, "udid");
	assert_string_equal(r[2].kind, "imei");
}

static void ref_user(void **state)
{
	mtd_sdk_ref r[4] = {{"mdm", "m-1"}};
	size_t n = 1;

	(void)state;
	n = mtd_sdk_ref_user(r, n, 4, "sanitized_email.com", "ios"); /* no address */
	n = mtd_sdk_ref_user(r, n, 4, "li@example.org", NULL);       /* no platform */
	assert_int_equal(n, 1);
	n = mtd_sdk_ref_user(r, n, 4, "li@example.org", "ios");
	assert_int_equal(n, 3);
	assert_string_equal(r[1].kind, "user");
	assert_string_equal(r[2].value, "ios");
	n = mtd_sdk_ref_user(r, n, 4, "bo@example.org", "android"); /* no room for both */
	assert_int_equal(n, 3);
}
int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(blank_ids),
		cmocka_unit_test(ref_add),
		cmocka_unit_test(ref_user),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
