/* escape: text from data made safe to show on a terminal or in a text
 * report (19.5): nothing it prints can move the cursor, change colours,
 * set a window title, start a new line or reorder what follows. */
#include <stdio.h>
#include <string.h>

#include "codec.h"
#include "mtdgate/mtdgate.h"

/* Append k bytes of p at *len when they fit in cap - 1; *len counts them
 * either way (the whole escaped length, as snprintf). */
static void put(char *out, size_t cap, size_t *len, int *cut, const char *p, size_t k)
{
	if (!*cut && *len + k < cap)
		memcpy(out + *len, p, k);
	else
		*cut = 1; /* never half a character: stop at the first that does not fit */
	*len += k;
}

size_t mtd_escape(char *out, size_t cap, const char *s, size_t n)
{
	size_t i = 0, len = 0, kept = 0;
	int cut = 0;

	while (i < n) {
		uint32_t cp;
		char e[12];
		int k = mtd_utf8_next(s + i, n - i, &cp);
		if (k == 0) { /* not UTF-8: the byte, in hex */
			snprintf(e, sizeof e, "\\x%02x", (unsigned char)s[i]);
			put(out, cap, &len, &cut, e, 4);
			k = 1;
		} else if (cp < 0x20 || cp == 0x7f) {
			snprintf(e, sizeof e, "\\x%02x", (unsigned)cp);
			put(out, cap, &len, &cut, e, 4);
		} else if (mtd_cp_is_c1_or_bidi(cp) || cp == 0x2028 || cp == 0x2029) {
			snprintf(e, sizeof e, "\\u%04x", (unsigned)cp);
			put(out, cap, &len, &cut, e, 6);
		} else {
			put(out, cap, &len, &cut, s + i, (size_t)k);
		}
		if (!cut)
			kept = len;
		i += (size_t)k;
	}
	if (cap)
		out[kept < cap ? kept : cap - 1] = '\0';
	return len;
}
