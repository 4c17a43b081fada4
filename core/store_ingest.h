/* store, ingest part: the SQL and typed rows of ingest.c and pull.c: the device map, parking, reports, pull state.
 * Part of the store (store.h): the SQL text lives in store_ingest.c or in
 * store.c's statement table; callers never see a column number. */
#ifndef MTD_STORE_INGEST_H
#define MTD_STORE_INGEST_H

#include "store.h"

/* ---- pull state (pull_state: a vendor's settings and progress) ---- */

/* The value of (vendor, key) copied into buf (n bytes, truncated): 0,
 * MTD_ENOTFOUND, or MTD_ESTORE (mtd_store_errmsg says why). */
int mtd_store_pull_state_get(mtd_store *s, const char *vendor, const char *key, char *buf,
			     size_t n);
/* Set (vendor, key) to value, or remove it when value is NULL: 0 or
 * MTD_ESTORE. */
int mtd_store_pull_state_set(mtd_store *s, const char *vendor, const char *key,
			     const char *value);

/* What `pull list` shows of a vendor: its texts (NULL when unset) are
 * borrowed for the callback only; the times are 0 when unset; configured
 * is 1 when an API setting (URL, secret file, client id) is set. */
typedef struct mtd_pull_state_row {
	const char *vendor, *poll_seconds, *last_error;
	int64_t last_success, last_error_at;
	int configured;
} mtd_pull_state_row;
/* Each vendor with pull state, in vendor order, to fn; fn's nonzero result
 * stops the walk (and 0 is returned). 0 or MTD_ESTORE. */
int mtd_store_pull_states(mtd_store *s, int (*fn)(void *ud, const mtd_pull_state_row *row),
			  void *ud);

/* ---- pull_seen: the window of a vendor's event ids already applied ---- */

/* The highest number an event id of vendor was given (0 none) into *n: 0
 * or MTD_ESTORE. */
int mtd_store_pull_seen_max(mtd_store *s, const char *vendor, int64_t *n);
/* Event id of vendor: 1 when seen before (nothing written), 0 when it is
 * remembered now with number n, MTD_ESTORE. */
int mtd_store_pull_seen_add(mtd_store *s, const char *vendor, const char *id, int64_t n);
/* Forget vendor's event ids numbered upto and below: 0 or MTD_ESTORE. */
int mtd_store_pull_seen_trim(mtd_store *s, const char *vendor, int64_t upto);

#endif
