/*
 * mtdgate plugin ABI, version 1.2 (1.1 appended mtd_host_api.element_error,
 * the MTD_PLUGIN_* return codes and the MTD_HOST_HAS/MTD_PLUGIN_HAS tests;
 * 1.2 appended the vendor's API as data, mtd_plugin.api and api_decode, and
 * mtd_host_api.api_value and event_id, for connectors that fetch).
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
#define MTD_PLUGIN_ABI_MINOR 2u
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

	/* ABI 1.2 (present when MTD_HOST_HAS(host, api_value)). Called only
	 * from api_decode: hand the host one value the decode found, name and
	 * value NUL-terminated, borrowed for the call; name is one of the
	 * MTD_API_V_* names below, value at most 4096 bytes without control
	 * characters. A name given twice keeps the last value. Returns 0 when
	 * taken, a negative value when refused (unknown name, too long). */
	int (*api_value)(void *sink, const char *name, const char *value);

	/* ABI 1.2 (present when MTD_HOST_HAS(host, event_id)). The messages
	 * emitted after this call, until the next call or the end of the
	 * payload, come from the vendor's event id (1..128 bytes, no control
	 * characters, NUL-terminated, borrowed). The host remembers the ids it
	 * committed per connector and drops the messages of an id it has seen
	 * (a replay after a resume), uncounted. Usable from decode and
	 * api_decode. Returns 0 when taken, negative when refused. */
	int (*event_id)(void *sink, const char *id);
} mtd_host_api;

/* ---- ABI 1.2: the vendor's API, for connectors that fetch ----
 *
 * A plugin may declare its vendor's HTTP API as data (mtd_plugin.api); the
 * host then performs every request itself (TLS verified, proxies, timeouts,
 * Retry-After, backoff, one token refresh on 401) and hands the plugin only
 * bytes to decode, in its sandboxed child, through api_decode. The plugin
 * never sees the connector's secret and never does I/O. Plugins without an
 * api keep working as before (push and file ingest).
 *
 * URLs: base_url is the default API root ("https://api.example.com");
 * token_url is absolute or, starting with '/', relative to the API root.
 * Both may hold {NAME} for the connector setting NAME, one of the plugin's
 * settings (a region or tenant: "https://{region}.api.example.com"). The
 * connector settings api_url and token_url replace them (sovereign clouds,
 * tests); ca_file names a private CA. Only https URLs are used.
 */

/* How the host authenticates (mtd_api.auth). SECRET is the content of the
 * connector's secret_file, CLIENT_ID its client_id setting. */
#define MTD_API_AUTH_NONE 0u     /* no authentication */
#define MTD_API_AUTH_OAUTH2 1u   /* OAuth2 client credentials (RFC 6749 4.4): POST token_url,
				    form grant_type=client_credentials, client_id=CLIENT_ID,
				    client_secret=SECRET, scope=scope (when not NULL) */
#define MTD_API_AUTH_KEY_TOKEN 2u /* an API key exchanged for a token: POST token_url with
				    "Authorization: Bearer SECRET", form
				    grant_type=client_credentials (Lookout's application key) */
#define MTD_API_AUTH_LOGIN 3u    /* a vendor login: POST token_url, JSON body
				    {id_field: CLIENT_ID, secret_field: SECRET} (Zimperium) */
#define MTD_API_AUTH_KEY 4u      /* a static key, no token: every request carries the header
				    key_header with key_prefix SECRET ("x-api-key: SECRET"),
				    and, when id_header is set, the header id_header with
				    CLIENT_ID (two keys: Pradeo's x-access-key/x-secret-key) */
#define MTD_API_AUTH_BASIC_TOKEN 5u /* (appended in 1.2) a login with HTTP Basic: POST
				    token_url with "Authorization: Basic
				    base64(CLIENT_ID:SECRET)" and no body (Jamf's /v1/login) */
/* With the token kinds (OAUTH2, KEY_TOKEN, LOGIN, BASIC_TOKEN) the token response goes
 * to api_decode(MTD_API_DECODE_TOKEN), and every request carries
 * "Authorization: Bearer TOKEN". A 401 refreshes the token once. */

/* How an endpoint pages and where a later pull resumes
 * (mtd_api_endpoint.paging). "next" and "resume" are the values api_decode
 * hands over for a page (MTD_API_V_NEXT, MTD_API_V_RESUME). */
#define MTD_API_PAGE_NONE 0u   /* one response, no paging: each pull reads it again */
#define MTD_API_PAGE_LINK 1u   /* the page names the next one's URL ("@odata.nextLink",
				  "links.next"): next is that URL (absolute, or a path on
				  the API root); no next: the last page */
#define MTD_API_PAGE_CURSOR 2u /* the page carries a cursor: next is sent as
				  resume_param=next for the following page */
#define MTD_API_PAGE_SINCE 3u  /* a time: the first page is asked for with
				  resume_param=RESUME, RESUME the resume value of the last
				  pull (the newest event time it saw) */
#define MTD_API_PAGE_EVENT_ID 4u /* a stream position: as SINCE, with the last event id */
#define MTD_API_PAGE_SSE 5u    /* a server-sent event stream (text/event-stream): each
				  event's data is one page; its "id:" is the resume value,
				  sent as Last-Event-ID (and as resume_param when set) */
#define MTD_API_PAGE_OFFSET 6u /* numbered items (skip/take, offset/limit) of an API that
				  does not echo where a page starts: the host asks
				  resume_param=OFFSET, from start (or 0), and moves OFFSET on
				  by the items the page held (api_decode gives
				  MTD_API_V_COUNT, and MTD_API_V_TOTAL when the API tells);
				  a page of no items, or OFFSET reaching the total, is the
				  last, and the next pull reads the whole list again (a
				  snapshot: give event ids so an unchanged item is a replay) */
#define MTD_API_PAGE_NUMBER 7u /* numbered pages (page=0, 1, ...) of a list read whole each
				  pull: as OFFSET, but the number moves on by one a page
				  (api_decode gives MTD_API_V_COUNT; a page of no items is
				  the last) */
/* The resume point (where the next page or the next pull starts) is
 * committed in the same transaction as the messages of the page it follows.
 * A resume_param holding "{}" is a template: "$filter=lastSeen gt {}" sends
 * the whole parameter with {} replaced by the (URL-encoded) value; otherwise
 * it is sent as resume_param=VALUE. */

/* One endpoint the host reads (device posture, threat events, ...). */
typedef struct mtd_api_endpoint {
	const char *name;   /* [a-z0-9_]{1,32}, unique in the plugin: names the resume
			       point kept for it ("threats", "devices") */
	const char *path;   /* on the API root, starts with '/', may carry a query
			       ("/api/machines?$top=1000") */
	uint32_t paging;    /* MTD_API_PAGE_* */
	const char *resume_param; /* CURSOR, SINCE, EVENT_ID (and optionally SSE): the
				     query parameter or template; NULL otherwise */
	const char *start;  /* the resume value of a first pull, NULL: none sent */
	const char *accept; /* the Accept header; NULL: "application/json"
			       ("text/event-stream" for SSE) */
	const char *sse_event; /* SSE: the event type whose data is a page ("events");
				  NULL: every event with data. Others (heartbeats)
				  only show the stream is alive */
} mtd_api_endpoint;

/* The vendor's API. Static data of the plugin, valid for the life of the
 * process; every string NUL-terminated, at most 1024 bytes, no control
 * characters. */
typedef struct mtd_api {
	uint32_t struct_size;   /* sizeof(mtd_api) as the plugin knows it */
	uint32_t endpoint_size; /* sizeof(mtd_api_endpoint) as the plugin knows it */
	const char *base_url;   /* default API root, https */
	uint32_t auth;          /* MTD_API_AUTH_* */
	const char *token_url;  /* token kinds: where the token is asked for */
	const char *scope;      /* OAUTH2: the scope, or NULL */
	const char *id_field;   /* LOGIN: JSON member names of the client id ... */
	const char *secret_field; /* ... and of the secret */
	const char *key_header; /* KEY: header name ("x-api-key"), NULL: "Authorization" */
	const char *key_prefix; /* KEY: before the key ("Bearer "), NULL: nothing */
	const mtd_api_endpoint *endpoints; /* nendpoints of them, read in this order */
	uint32_t nendpoints;    /* 1..16 */
	const char *const *settings; /* vendor settings the URLs use ({NAME}),
				       NULL-terminated, may be NULL */
	/* Appended in ABI 1.2 (present when struct_size covers it): discovery.
	 * NULL: none. Otherwise, once a pull has its token, the host GETs
	 * whoami_url (an https URL, {NAME} settings allowed) with it and hands
	 * the answer to api_decode(MTD_API_DECODE_WHOAMI), which gives
	 * MTD_API_V_API_URL, the API root of this pull (an https URL; a
	 * connector's api_url setting still overrides it), and optionally
	 * MTD_API_V_HEADER_NAME with MTD_API_V_HEADER_VALUE, a header every
	 * later API request of the pull carries (Sophos Central: the data
	 * region's host and "X-Tenant-ID: <tenant id>"). Nothing of the answer
	 * is stored: every pull asks again. */
	const char *whoami_url;
	/* Appended in ABI 1.2 (present when struct_size covers it): */
	const char *id_header;  /* KEY: a header also carrying CLIENT_ID, or NULL */
} mtd_api;

/* What api_decode is asked to decode (its what). */
#define MTD_API_DECODE_TOKEN 1u /* a token response: give MTD_API_V_TOKEN and one of
				   MTD_API_V_EXPIRES_IN / MTD_API_V_EXPIRES_AT */
#define MTD_API_DECODE_PAGE 2u  /* a page of the endpoint: emit its messages (as decode
				   does, element errors and event ids included) and give
				   MTD_API_V_NEXT / MTD_API_V_RESUME as the paging says */
#define MTD_API_DECODE_WHOAMI 3u /* the answer of whoami_url: give MTD_API_V_API_URL and
				    optionally MTD_API_V_HEADER_NAME / _VALUE; no messages */

/* Names of the values api_decode gives through host->api_value. */
#define MTD_API_V_TOKEN "token"           /* the access token */
#define MTD_API_V_EXPIRES_IN "expires_in" /* seconds it lasts, decimal */
#define MTD_API_V_EXPIRES_AT "expires_at" /* Unix seconds it ends, decimal */
#define MTD_API_V_NEXT "next"             /* LINK: the next page's URL; CURSOR: the cursor;
					     absent: this was the last page */
#define MTD_API_V_RESUME "resume"         /* where the next pull starts (SINCE: a time
					     as the vendor writes it; EVENT_ID: an id;
					     CURSOR: a cursor); absent: unchanged */
#define MTD_API_V_API_URL "api_url"       /* WHOAMI: the API root of this pull */
#define MTD_API_V_HEADER_NAME "header_name" /* WHOAMI: a header's name ([A-Za-z0-9-]) ... */
#define MTD_API_V_HEADER_VALUE "header_value" /* ... and its value, on every API request */
#define MTD_API_V_COUNT "count"           /* OFFSET, NUMBER: the items the page held, decimal */
#define MTD_API_V_TOTAL "total"           /* OFFSET: the items of the whole list, decimal,
					     when the API tells */

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

	/* ABI 1.2, optional (NULL when absent; both or neither): the vendor's
	 * API as data (see mtd_api), static, valid for the life of the process. */
	const mtd_api *api;

	/* Decode a response of the vendor's API (what: MTD_API_DECODE_*; for a
	 * page, endpoint is its index in api->endpoints). data/len borrowed for
	 * the call; a pure function like decode: bytes in, messages (emit,
	 * element_error, event_id) and values (host->api_value) out, no I/O.
	 * Same return convention as decode. */
	int (*api_decode)(void *state, const mtd_host_api *host, void *sink, uint32_t what,
			  uint32_t endpoint, const void *data, size_t len, char *err,
			  size_t errlen);
} mtd_plugin;

/* The entry point: return the descriptor, or NULL when this plugin cannot
 * work with a host of host_abi_version. */
typedef const mtd_plugin *(*mtd_plugin_entry_fn)(uint32_t host_abi_version);

#ifdef __cplusplus
}
#endif
#endif /* MTDGATE_PLUGIN_H */
