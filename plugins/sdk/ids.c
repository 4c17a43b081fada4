/* SDK: device identifiers as vendors send them: placeholders for "none"
 * and a device_ref built from whichever of them are real. */
#include <string.h>
#include <strings.h>

#include "mtdgate/sdk.h"

int mtd_sdk_id_blank(const char *s)
{
	static const char *const placeholders[] = {"unknown", "null", "none", "n/a", NULL};
	int zeros = 0;

	if (!s || !*s)
		return 1;
	for (const char *const *p = placeholders; *p; p++)
		if (!strcasecmp(s, *p))
			return 1;
	for (const char *p = s; *p; p++) {
		if (*p == '0')
			zeros = 1;
		else if (*p != '-' && *p != ':' && *p != '.' && *p != ' ')
			return 0;
	}
	return zeros; /* only zeros and separators: a placeholder */
}

/* An id is 1..MTD_SDK_MAX_ID bytes without control characters. */
static int id_ok(const char *s)
{
	size_t n = strlen(s);
	if (n == 0 || n > MTD_SDK_MAX_ID)
		return 0;
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f)
			return 0;
	return 1;
}

/* An IMEI is 14 to 16 decimal digits (without or with the check digit, or
 * the IMEISV): anything else in that field is a vendor's placeholder. */
static int imei_ok(const char *s)
{
	size_t n = strspn(s, "0123456789");
	return s[n] == '\0' && n >= 14 && n <= 16;
}

size_t mtd_sdk_ref_add(mtd_sdk_ref *refs, size_t n, size_t cap, const char *kind,
		       const char *value)
{
	if (n >= cap || !kind || mtd_sdk_id_blank(value) || !id_ok(value) ||
	    (!strcmp(kind, "imei") && !imei_ok(value)))
		return n;
	for (size_t i = 0; i < n; i++)
		if (!strcmp(refs[i].kind, kind))
			return n;
	refs[n].kind = kind;
	refs[n].value = value;
	return n + 1;
}

size_t mtd_sdk_ref_user(mtd_sdk_ref *refs, size_t n, size_t cap, const char *user,
			const char *platform)
{
	size_t m;

	if (!user || !strchr(user, '@') || !platform || n + 2 > cap)
		return n;
	m = mtd_sdk_ref_add(refs, n, cap, "user", user);
	return m == n ? n : mtd_sdk_ref_add(refs, m, cap, "platform", platform);
}
