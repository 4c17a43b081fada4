/*
 * mtdgate plugin ABI, version 1.1 (1.1 appended mtd_host_api.element_error,
 * the MTD_PLUGIN_* return codes and the MTD_HOST_HAS/MTD_PLUGIN_HAS tests).
 *
 * The one header a vendor connector builds against. Self-contained: C standard
 * headers only, no third-party types. Modelled on SQLite extensions and Redis
 * modules: two tables cross the boundary, the host's services (mtd_host_api)
 * and the plugin's descriptor (mtd_plugin). Both start with abi_version and
 * struct_size, and fields are only ever appended. A field an older peer lacks
 * is absent (struct_size says so) or NULL, which doubles as a capability test.
 *
 * Versioning: the major version must match the host's; the plugin's minor
 * version must not exceed the host's.
 *
 * Ownership: every buffer crosses the ABI borrowed for the duration of the
 * call only. Whatever a plugin produces goes through a host callback that
 * copies it. Neither side ever frees memory the other allocated.
 *
 * Threads: the host calls a plugin instance from one thread at a time.
 */
#ifndef MTDGATE_PLUGIN_H
#define MTDGATE_PLUGIN_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define MTD_PLUGIN_ABI_MAJOR 1u
#define MTD_PLUGIN_ABI_MINOR 1u
#define MTD_PLUGIN_ABI_VERSION ((MTD_PLUGIN_ABI_MAJOR << 16) | MTD_PLUGIN_ABI_MINOR)
#define MTD_PLUGIN_ABI_MAJOR_OF(v) ((uint32_t)(v) >> 16)
#define MTD_PLUGIN_ABI_MINOR_OF(v) ((uint32_t)(v)&0xffffu)

/* Return codes of the plugin's functions (open, decode, appsync_translate).
 * Any other negative value is read as MTD_PLUGIN_EMALFORMED by older code;
 * a host may report it as such. */
#define MTD_PLUGIN_OK 0          /* done */
#define MTD_PLUGIN_EMALFORMED -1 /* the payload (or settings) is not acceptable */
#define MTD_PLUGIN_ENOMEM -2     /* out of memory */
#define MTD_PLUGIN_EINTERNAL -3  /* a bug or an unexpected state in the plugin */

/* Capability tests: nonzero when the table t (a pointer to mtd_host_api or
 * mtd_plugin) is long enough, by its own struct_size, to hold field, and
 * field is not NULL. The field is read only after its presence is known.
 *     if (MTD_HOST_HAS(host, element_error)) host->element_error(...);    */
#define MTD_TABLE_HAS_(t, field)                                              \
	((size_t)((const char *)&(t)->field - (const char *)(t)) +                \
			 sizeof((t)->field) <=                                            \
		 (size_t)(t)->struct_size &&                                          \
	 (t)->field != NULL)
#define MTD_HOST_HAS(h, field) MTD_TABLE_HAS_(h, field)
#define MTD_PLUGIN_HAS(p, field) MTD_TABLE_HAS_(p, field)

/*
 * The normalized messages a plugin emits (SPEC 4.1 and its extensions).
 * Each is one msgpack map with string keys, no key twice; unknown keys and
 * types are refused. Strings are UTF-8 without control characters.
 *
 *   TIME     RFC 3339 string ("2024-03-01T00:00:00Z") or integer Unix seconds
 *   LEVEL    "secured" | "low" | "medium" | "high"
 *   ID       a device's mtdgate id (its device record's "id"), 1..128 bytes
 *
 * {"type":"threat", DEVICE, "level":LEVEL, "at":TIME,
 *  "threats":[{"id":STR?, "category":"network"|"app"|"os"|"device",
 *              "name":STR?, "level":LEVEL}, ...],
 *  "os_supported":BOOL?}
 *      A snapshot of the device as the vendor sees it: level is the base
 *      level; threats (may be empty) replace the device's open threats.
 * {"type":"threat_event", DEVICE,
 *  "threat":{"id":STR, "category":..., "name":STR?, "level":LEVEL},
 *  "state":"open"|"resolved", "at":TIME}
 *      One threat opened or resolved. id is required (1..128 bytes); for
 *      "open" category and level are required as in a threat's threats; for
 *      "resolved" only id is. Events apply in "at" order; those older than
 *      the latest snapshot are part of it.
 * {"type":"heartbeat", "at":TIME}
 * {"type":"provision", "at":TIME}           the partner completed setup
 * {"type":"error", "code":STR, "at":TIME}   the partner reports an error
 * {"type":"appsync_request", "at":TIME}
 *
 * DEVICE is exactly one of
 *   "device":ID
 *   "device_ref":{KIND:STR, ...}   at least one identifier; values 1..128
 *       bytes. Kinds: "intune", "entra", "serial", "imei", "meid", "udid",
 *       "wifi_mac" (the device record's ids), "vendor_device_id" (the
 *       vendor's own device id, learned by mtdgate), "mdm" (an MDM id whose
 *       MDM is not known), "user" (e-mail/UPN: used only when it names one
 *       device of the platform), "platform" ("android"|"ios"|"windows"|
 *       "macos": a qualifier, not an identifier). Unknown kinds are refused.
 *       A reference that resolves to no device, or to several, is parked.
 */

/* The one symbol a plugin exports. */
#define MTD_PLUGIN_ENTRY_SYMBOL "mtd_plugin_entry"

/* Platforms, as a bit set. */
#define MTD_PLUGIN_ANDROID (1u << 0)
#define MTD_PLUGIN_IOS (1u << 1)
#define MTD_PLUGIN_WINDOWS (1u << 2)
#define MTD_PLUGIN_MACOS (1u << 3)

/* Capabilities, as a bit set. */
#define MTD_PLUGIN_CAP_THREAT (1u << 0)         /* reports device threat levels */
#define MTD_PLUGIN_CAP_APP_PROTECTION (1u << 1) /* usable for app protection (MAM) */
#define MTD_PLUGIN_CAP_APPSYNC (1u << 2)        /* consumes App Sync inventory */
#define MTD_PLUGIN_CAP_GOV_CLOUD (1u << 3)      /* supported in the gcc_high cloud */

/* Services the host offers a plugin. Passed to every call that may use them. */
typedef struct mtd_host_api {
	uint32_t abi_version; /* MTD_PLUGIN_ABI_VERSION of the host */
	uint32_t struct_size; /* sizeof(mtd_host_api) as the host knows it */

	/* Emit one normalized channel message (SPEC 4.1), encoded as one msgpack
	 * map. data is borrowed for the call; the host copies and validates it.
	 * Returns 0 when accepted for processing, a negative value when the host
	 * found it invalid (the host has already recorded why); the plugin may go
	 * on decoding either way. */
	int (*emit)(void *sink, const void *data, size_t len);

	/* Write output bytes (used by appsync_translate). data is borrowed. */
	int (*write)(void *sink, const void *data, size_t len);

	/* ABI 1.1. Report one bad element of the payload being decoded and go
	 * on with the rest: path names the element within the payload, e.g.
	 * "events[7].device" (NUL-terminated, at most 256 bytes used), msg says
	 * what is wrong in one line (NUL-terminated, at most 512 bytes used).
	 * Both are borrowed for the call. The host counts the error and reports
	 * it with the record's position in the input. Returns 0 when taken, a
	 * negative value when the host will not take more (the plugin then
	 * fails the payload). Present only when MTD_HOST_HAS(host, element_error);
	 * with an older host a plugin fails the whole payload as in ABI 1.0. */
	int (*element_error)(void *sink, const char *path, const char *msg);
} mtd_host_api;

/* The plugin's descriptor. Returned by mtd_plugin_entry(); must stay valid
 * and unchanged for the life of the process (normally a static const). */
typedef struct mtd_plugin {
	uint32_t abi_version; /* MTD_PLUGIN_ABI_VERSION the plugin was built with */
	uint32_t struct_size; /* sizeof(mtd_plugin) as the plugin knows it */

	const char *id;           /* vendor id: [a-z0-9_]{1,32}, e.g. "lookout" */
	const char *name;         /* display name, e.g. "Lookout for Work" */
	uint32_t platforms;       /* MTD_PLUGIN_* platforms it reports on */
	uint32_t mam_platforms;   /* platforms usable for app protection */
	uint32_t capabilities;    /* MTD_PLUGIN_CAP_* */

	/* Create an instance. settings is a NULL-terminated array of "key=value"
	 * strings (may be NULL), borrowed for the call. On success store the
	 * instance in *state and return MTD_PLUGIN_OK; on failure return a
	 * negative MTD_PLUGIN_E* value and
	 * write a one-line message into err (errlen bytes, NUL-terminated). */
	int (*open)(const mtd_host_api *host, const char *const *settings,
		    void **state, char *err, size_t errlen);

	/* Decode one vendor-native payload: one record of the input (one JSON
	 * document, or one msgpack object), data/len borrowed for the call.
	 * Emit zero or more normalized messages with host->emit(sink, ...).
	 * Return MTD_PLUGIN_OK, or a negative MTD_PLUGIN_E* value with a message
	 * naming the field into err: MTD_PLUGIN_EMALFORMED when the payload as a
	 * whole is malformed. One bad element of an otherwise good payload (one
	 * event of a page) is reported with host->element_error when the host
	 * has it, and the decode goes on and may still return MTD_PLUGIN_OK.
	 * Must never read outside data. */
	int (*decode)(void *state, const mtd_host_api *host, void *sink,
		      const void *data, size_t len, char *err, size_t errlen);

	/* Destroy an instance made by open. */
	void (*close)(void *state);

	/* Optional (NULL when absent): translate an App Sync answer, a msgpack
	 * stream of inventory records (SPEC 4.2), into the vendor's format,
	 * written with host->write(sink, ...). Same return convention. */
	int (*appsync_translate)(void *state, const mtd_host_api *host, void *sink,
				 const void *records, size_t len, char *err,
				 size_t errlen);
} mtd_plugin;

/* The entry point: return the descriptor, or NULL when this plugin cannot
 * work with a host of host_abi_version. */
typedef const mtd_plugin *(*mtd_plugin_entry_fn)(uint32_t host_abi_version);

#ifdef __cplusplus
}
#endif
#endif /* MTDGATE_PLUGIN_H */
