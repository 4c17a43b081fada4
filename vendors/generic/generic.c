/* generic: mtdgate's own reference connector. Its native format is the
 * normalized channel message (SPEC 4.1), JSON or msgpack; it hands each one
 * to the host as msgpack, which validates it. */
#include "mtdgate/sdk.h"


/* One normalized message, handed to the host as msgpack; the host
 * validates it and records what it refuses. */
static int emit_one(void *ctx, const mtd_host_api *host, void *sink, json_t *v, char *err,
		    size_t errlen)
{
	mtd_buf b = {0};

	(void)ctx;
	if (!json_is_object(v)) {
		mtd_sdk_err(err, errlen, "a normalized message must be an object");
		return MTD_PLUGIN_EMALFORMED;
	}
	if (mtd_sdk_json_to_msgpack(v, &b)) {
		mtd_sdk_err(err, errlen, "out of memory");
		return MTD_PLUGIN_ENOMEM;
	}
	host->emit(sink, b.data, b.len);
	mtd_buf_free(&b);
	return MTD_PLUGIN_OK;
}

/* A record is one message (any type, device_ref and threat_event included:
 * they pass through as they are) or a JSON array of messages. */
static int g_decode(void *state, const mtd_host_api *host, void *sink, const void *data,
		    size_t len, char *err, size_t errlen)
{
	(void)state;
	return mtd_sdk_decode_page(host, sink, data, len, "messages", 10000, emit_one, NULL,
				   err, errlen);
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
