/* fuzz_vendor: a vendor plugin's native decoder. The plugin is the .so named
 * by the environment variable MTD_FUZZ_PLUGIN, loaded and validated as the
 * host loads it (mtd_plugin_load) and opened once with no settings. The
 * input is one payload handed to its decode as is: a superset of what the
 * host hands it (one framed record of an input file). Every message the
 * plugin emits goes where the host sends it: framed, then decoded from its
 * bytes by mtd_decode_msg. Checked beyond "no crash": decode returns 0 or a negative
 * value, writes a NUL-terminated message within errlen when it fails, and
 * emits through the sink it was given. A plugin with an API (ABI 1.2) also
 * gets the same bytes through api_decode, as a token answer and as a page
 * of each of its endpoints, under the same checks. */
#include <stdlib.h>
#include <string.h>

#include "codec.h"
#include "fuzz.h"
#include "mtdgate/mtdgate.h"
#include "plugin_host.h"

#define ERRLEN 160

typedef struct sink {
	uint64_t emitted, valid;
} sink;

static const mtd_plugin *plugin;
static void *state;
static sink the_sink;

/* What the host's emit does with the bytes (core/ingest.c host_emit). */
static int fuzz_emit(void *ud, const void *data, size_t len)
{
	sink *s = ud;
	mtd_msg m;
	size_t flen = 0;
	char why[600];

	FUZZ_CHECK(s == &the_sink);
	s->emitted++;
	if (!data || len == 0 || len > MTD_MAX_RECORD)
		return -1;
	if (mtd_msgpack_frame(data, len, &flen) != 1 || flen != len)
		return -1;
	if (mtd_decode_msg(data, len, &m, why, sizeof why))
		return -1;
	s->valid++;
	return 0;
}

static int fuzz_write(void *ud, const void *data, size_t len)
{
	(void)ud;
	(void)data;
	(void)len;
	return -1; /* as while ingesting */
}

/* a bad element is taken, and the plugin goes on with the rest */
static int fuzz_element(void *ud, const char *path, const char *msg)
{
	(void)ud;
	return path && msg && strlen(path) < 100000 && strlen(msg) < 100000 ? 0 : -1;
}

/* api_decode's values and event ids: NUL-terminated strings of the
 * documented sizes (the host checks them as hostile; here the plugin's side
 * of the contract is what is checked: no garbage pointers, no runaway
 * strings) */
static int fuzz_api_value(void *ud, const char *name, const char *value)
{
	FUZZ_CHECK(ud == &the_sink && name && value);
	FUZZ_CHECK(strlen(name) < 64 && strlen(value) < 1u << 20);
	return strlen(value) <= 4096 ? 0 : -1;
}

static int fuzz_event_id(void *ud, const char *id)
{
	FUZZ_CHECK(ud == &the_sink && id);
	return strlen(id) >= 1 && strlen(id) <= 128 ? 0 : -1;
}

static const mtd_host_api host = {MTD_PLUGIN_ABI_VERSION, sizeof(mtd_host_api), fuzz_emit,
				  fuzz_write, fuzz_element, fuzz_api_value, fuzz_event_id};

static void load(void)
{
	const char *path = getenv("MTD_FUZZ_PLUGIN");
	char err[1000];

	if (!path || !*path) {
		fprintf(stderr, "fuzz_vendor: set MTD_FUZZ_PLUGIN to the plugin's .so "
				"(e.g. build-fuzz/lib/mtdgate/plugins/generic.so)\n");
		exit(2);
	}
	if (mtd_plugin_load(path, NULL, &plugin, err, sizeof err)) {
		fprintf(stderr, "fuzz_vendor: %s\n", err);
		exit(2);
	}
	err[0] = '\0';
	if (plugin->open(&host, NULL, &state, err, sizeof err) < 0) {
		err[sizeof err - 1] = '\0';
		fprintf(stderr, "fuzz_vendor: %s: open failed: %s\n", plugin->id, err);
		exit(2);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *err;
	int rc;

	if (!plugin)
		load();
	/* Exactly ERRLEN bytes on the heap: a write past errlen is an ASan
	 * report; filled so that a missing terminator shows. */
	err = malloc(ERRLEN);
	FUZZ_CHECK(err != NULL);
	memset(err, 'X', ERRLEN);
	rc = plugin->decode(state, &host, &the_sink, data, size, err, ERRLEN);
	FUZZ_CHECK(rc <= 0);
	if (rc < 0)
		FUZZ_CHECK(memchr(err, '\0', ERRLEN) != NULL);
	/* A plugin that fetches (ABI 1.2) also reads the same bytes as an API
	 * response: a token answer and a page of each endpoint. */
	if (MTD_PLUGIN_HAS(plugin, api_decode) && MTD_PLUGIN_HAS(plugin, api)) {
		for (uint32_t e = 0; e <= plugin->api->nendpoints; e++) {
			memset(err, 'X', ERRLEN);
			rc = e == plugin->api->nendpoints
				     ? plugin->api_decode(state, &host, &the_sink, MTD_API_DECODE_TOKEN, 0,
							  data, size, err, ERRLEN)
				     : plugin->api_decode(state, &host, &the_sink, MTD_API_DECODE_PAGE, e,
							  data, size, err, ERRLEN);
			FUZZ_CHECK(rc <= 0);
			if (rc < 0)
				FUZZ_CHECK(memchr(err, '\0', ERRLEN) != NULL);
		}
	}
	free(err);
	return 0;
}
