/* fuzz_dblock: the entries of a decision_blocks row (core/store.h), as a
 * store changed behind mtdgate's back may hold them, and the same bytes as
 * a log row's entries. mtd_dblock_decode
 * must refuse or accept without reading past the input; what it accepts
 * must be what store.h says a slot is, and encode back to entries that
 * decode to the same slots (the encoding is total: every value
 * round-trips) and fit MTD_DBLOCK_MAX. */
#include <string.h>

#include "fuzz.h"
#include "store.h"

/* The same bytes as the entries of a decision_log, message_log or row_log
 * row, in any layout (store.h): each entry read moves on and stays inside
 * the input, and so do the error code and the key text it borrows. */
static void log_entries(const uint8_t *data, size_t size)
{
	for (int log = MTD_LOG_DECISIONS; log <= MTD_LOG_ROWS; log++) {
		const unsigned char *p = data, *end = data + size;
		mtd_log_entry e;
		memset(&e, 0, sizeof e);
		while (p < end) {
			const unsigned char *was = p;
			if (mtd_log_entry_decode(log, &p, end, &e))
				break;
			FUZZ_CHECK(p > was && p <= end);
			FUZZ_CHECK(e.layout == 1 || e.layout == MTD_LOG_COMPACT || e.layout == MTD_LOG_VIA ||
				   e.layout == MTD_LOG_ROWS_LAYOUT);
			FUZZ_CHECK(!e.code || ((const unsigned char *)e.code >= data &&
					       (const unsigned char *)e.code + e.ncode <= end));
			FUZZ_CHECK(!e.ktext || ((const unsigned char *)e.ktext >= data &&
						(const unsigned char *)e.ktext + e.nktext <= end));
		}
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static mtd_dslot a[MTD_DBLOCK_SLOTS], b[MTD_DBLOCK_SLOTS];
	static unsigned char e[MTD_DBLOCK_MAX];
	size_t n;

	if (size)
		log_entries(data, size);
	if (mtd_dblock_decode(size ? data : NULL, size, a))
		return 0;
	FUZZ_CHECK(size >= MTD_DBLOCK_SLOTS); /* a tag byte a slot at least */
	for (size_t i = 0; i < MTD_DBLOCK_SLOTS; i++)
		if (!a[i].outcome)
			FUZZ_CHECK(!a[i].evaluated_at && !a[i].since && !a[i].wiped_at);
	n = mtd_dblock_encode(a, e);
	FUZZ_CHECK(n >= MTD_DBLOCK_SLOTS && n <= MTD_DBLOCK_MAX);
	FUZZ_CHECK(n <= size); /* minimal varints: never longer than what decoded */
	FUZZ_CHECK(mtd_dblock_decode(e, n, b) == 0);
	FUZZ_CHECK(memcmp(a, b, sizeof a) == 0);
	return 0;
}
