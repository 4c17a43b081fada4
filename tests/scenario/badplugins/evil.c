/* evil: a vendor plugin that misbehaves on purpose, by payload: "crash"
 * dereferences NULL, "hang" loops forever, "garbage" emits random bytes,
 * "flood" emits a million messages, "hog" allocates until it cannot,
 * "trailing" a heartbeat with a byte after it, "warning" a msgpack map
 * that is not a message; anything else emits one valid heartbeat.
 * Self-contained: no SDK. */
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "heartbeat.h"
#include "mtdgate/plugin.h"

static int has(const void *d, size_t n, const char *w)
{
	size_t k = strlen(w);
	for (size_t i = 0; i + k <= n; i++)
		if (!memcmp((const char *)d + i, w, k))
			return 1;
	return 0;
}

static int e_open(const mtd_host_api *h, const char *const *s, void **st, char *e, size_t n)
{
	(void)h, (void)s, (void)e, (void)n;
	*st = NULL;
	return 0;
}


static int e_decode(void *st, const mtd_host_api *h, void *sink, const void *d, size_t n, char *e,
		    size_t en)
{
	(void)st, (void)e, (void)en;
	if (has(d, n, "crash")) {
		volatile int *p = NULL;
		return *p;
	}
	if (has(d, n, "hang"))
		for (volatile unsigned i = 0;; i++) /* unsigned: wraps, no UB */
			;
	if (has(d, n, "garbage")) {
		unsigned char junk[64];
		for (int i = 0; i < 64; i++)
			junk[i] = (unsigned char)(i * 37 + 11);
		h->emit(sink, junk, sizeof junk);
		return 0;
	}
	if (has(d, n, "trailing")) {
		unsigned char more[sizeof heartbeat + 1];
		memcpy(more, heartbeat, sizeof heartbeat);
		more[sizeof heartbeat] = 0xc0;
		h->emit(sink, more, sizeof more);
		return 0;
	}
	if (has(d, n, "warning")) { /* {"type":"warning","at":...}: no such type */
		unsigned char warn[sizeof heartbeat - 2];
		memcpy(warn, heartbeat, 6);
		warn[6] = 0xa7;
		memcpy(warn + 7, "warning", 7);
		memcpy(warn + 14, heartbeat + 16, sizeof heartbeat - 16);
		h->emit(sink, warn, sizeof warn);
		return 0;
	}
	if (has(d, n, "flood")) {
		for (int i = 0; i < 1000000; i++)
			if (h->emit(sink, heartbeat, sizeof heartbeat) < 0)
				break;
		return 0;
	}
	if (has(d, n, "hog")) {
		for (;;) {
			char *p = malloc(64 << 20);
			if (!p)
				raise(SIGSEGV);
			memset(p, 1, 64 << 20);
		}
	}
	return h->emit(sink, heartbeat, sizeof heartbeat) < 0 ? -1 : 0;
}

static void e_close(void *st)
{
	(void)st;
}

static const mtd_plugin evil = {MTD_PLUGIN_ABI_VERSION, sizeof(mtd_plugin), "evil",
				"Misbehaving test plugin", MTD_PLUGIN_IOS, 0,
				MTD_PLUGIN_CAP_THREAT, e_open, e_decode, e_close, NULL, NULL, NULL};

__attribute__((visibility("default"))) const mtd_plugin *mtd_plugin_entry(uint32_t v);
__attribute__((visibility("default"))) const mtd_plugin *mtd_plugin_entry(uint32_t v)
{
	(void)v;
	return &evil;
}
