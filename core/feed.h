/* feed: pages of a vendor's API applied to the store (issue 16). A page is
 * decoded by the plugin's api_decode in its child; its messages are applied
 * as ingest applies them, and the caller's resume point is written in the
 * same transaction, so a kill at any moment neither loses nor repeats an
 * event. Event ids the plugin names (ABI 1.2 event_id) are remembered per
 * connector (the last MTD_FEED_SEEN of them): the messages of an id seen
 * before are dropped and counted as replayed, not applied again. */
#ifndef MTD_FEED_H
#define MTD_FEED_H

#include <stddef.h>
#include <stdint.h>

#include "mtd_int.h"

#define MTD_FEED_SEEN 100000 /* event ids remembered per connector */
#define MTD_FEED_VALUE 4096  /* bytes of a next link, cursor or resume value */

typedef struct mtd_feed mtd_feed;

/* What api_decode said of a page ("" when it said nothing). */
typedef struct mtd_feed_values {
	char next[MTD_FEED_VALUE + 1], resume[MTD_FEED_VALUE + 1];
	int rc;             /* the plugin's result: 0 or MTD_PLUGIN_E* / MTD_EPLUGIN */
	char err[600];      /* its message when rc != 0 */
	uint64_t replayed;  /* events of the page seen before (dropped) */
	uint64_t events;    /* event ids the page named */
	long long count, total; /* OFFSET paging: the page's items, the list's; -1: not given */
} mtd_feed_values;

/* Open a feed on the vendor's connector (refused as ingest refuses it) and
 * start its plugin. st receives the counts of every page (zeroed here).
 * Close with mtd_feed_close even on failure (*out may be NULL). */
int mtd_feed_open(mtd_t *h, const char *vendor, mtd_stats *st, mtd_feed **out);
/* The plugin's process, for its api description and token decodes. */
mtd_child *mtd_feed_plugin(mtd_feed *f);
/* Decode and apply one page of endpoint ep (data borrowed), named where in
 * diagnostics; then, in the same transaction, hook(ud, v) (writes the
 * resume point with mtd_feed_state_set; may be NULL), then commit. A
 * crash of the plugin on it rolls it back (v->rc MTD_EPLUGIN, nothing
 * written, returns 0). Returns 0, or an MTD_E* store failure (rolled back). */
int mtd_feed_page(mtd_feed *f, uint32_t ep, const void *data, size_t len, const char *where,
		  int (*hook)(void *ud, const mtd_feed_values *v), void *ud, mtd_feed_values *v);
void mtd_feed_close(mtd_feed *f);

/* The connector's pull state (table pull_state): get into buf (n bytes;
 * MTD_ENOTFOUND when absent), set (value NULL deletes). In the caller's
 * transaction, if any. */
int mtd_pull_state_get(mtd_t *h, const char *vendor, const char *key, char *buf, size_t n);
int mtd_pull_state_set(mtd_t *h, const char *vendor, const char *key, const char *value);

#endif
