/* generic: mtdgate's own reference connector. Its native format is the
 * normalized channel message (SPEC 4.1), JSON or msgpack; it hands each one
 * to the host as msgpack, which validates it. */
#include <stdlib.h>
#include <string.h>

#include "mtdgate/sdk.h"

#define MTD_PLUGIN_EXPORT __attribute__((visibility("default")))

static int g_open(const mtd_host_api *host, const char *const *settings, void **state,
		  char *err, size_t errlen)
{
	(void)host;
	(void)settings;
	(void)err;
	(void)errlen;
	*state = NULL;
	return 0;
}

static int g_decode(void *state, const mtd_host_api *host, void *sink, const void *data,
		    size_t len, char *err, size_t errlen)
{
	json_t *v;
	mtd_buf b = {0};
	int rc;

	(void)state;
	v = mtd_sdk_parse(data, len, err, errlen);
	if (!v)
		return -1;
	if (!json_is_object(v)) {
		json_decref(v);
		mtd_sdk_err(err, errlen, "a normalized message must be an object");
		return -1;
	}
	rc = mtd_sdk_json_to_msgpack(v, &b);
	json_decref(v);
	if (rc) {
		mtd_sdk_err(err, errlen, "out of memory");
		return -1;
	}
	host->emit(sink, b.data, b.len); /* the host reports what it refuses */
	mtd_buf_free(&b);
	return 0;
}

static void g_close(void *state)
{
	(void)state;
}

static const mtd_plugin generic = {
	.abi_version = MTD_PLUGIN_ABI_VERSION,
	.struct_size = sizeof(mtd_plugin),
	.id = "generic",
	.name = "mtdgate generic (normalized messages)",
	.platforms = MTD_PLUGIN_ANDROID | MTD_PLUGIN_IOS | MTD_PLUGIN_WINDOWS | MTD_PLUGIN_MACOS,
	.mam_platforms = MTD_PLUGIN_ANDROID | MTD_PLUGIN_IOS | MTD_PLUGIN_WINDOWS,
	.capabilities = MTD_PLUGIN_CAP_THREAT | MTD_PLUGIN_CAP_APP_PROTECTION |
			MTD_PLUGIN_CAP_APPSYNC | MTD_PLUGIN_CAP_GOV_CLOUD,
	.open = g_open,
	.decode = g_decode,
	.close = g_close,
	.appsync_translate = NULL,
};

MTD_PLUGIN_EXPORT const mtd_plugin *mtd_plugin_entry(uint32_t host_abi_version);
MTD_PLUGIN_EXPORT const mtd_plugin *mtd_plugin_entry(uint32_t host_abi_version)
{
	return MTD_PLUGIN_ABI_MAJOR_OF(host_abi_version) == MTD_PLUGIN_ABI_MAJOR ? &generic : NULL;
}
