/* generic: mtdgate's own reference connector. Its native format is the
 * normalized channel message (SPEC 4.1), JSON or msgpack; it hands each one
 * to the host as msgpack, which validates it. */
#include <stdlib.h>
#include <string.h>

#include "mtdgate/sdk.h"


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

static const mtd_plugin generic = {
	.abi_version = MTD_PLUGIN_ABI_VERSION,
	.struct_size = sizeof(mtd_plugin),
	.id = "generic",
	.name = "mtdgate generic (normalized messages)",
	.platforms = MTD_PLUGIN_ANDROID | MTD_PLUGIN_IOS | MTD_PLUGIN_WINDOWS | MTD_PLUGIN_MACOS,
	.mam_platforms = MTD_PLUGIN_ANDROID | MTD_PLUGIN_IOS | MTD_PLUGIN_WINDOWS,
	.capabilities = MTD_PLUGIN_CAP_THREAT | MTD_PLUGIN_CAP_APP_PROTECTION |
			MTD_PLUGIN_CAP_APPSYNC | MTD_PLUGIN_CAP_GOV_CLOUD,
	.open = mtd_sdk_open_stateless,
	.decode = g_decode,
	.close = mtd_sdk_close_stateless,
	.appsync_translate = NULL,
};

MTD_SDK_PLUGIN_ENTRY(generic)
