/*
 * mtdgate plugin SDK: conveniences for plugin authors on top of the wire
 * layer (mtdgate/wire.h: levels, times, msgpack framing and writing, JSON
 * string escaping, mtd_buf), which the host links too so that a level or a
 * time means the same thing on both sides of the ABI. The host itself never
 * includes this header.
 *
 * Built as the static library mtdgate_sdk (the wire layer linked in) and
 * linked into each plugin; it is not part of the ABI (see plugin.h for
 * that). It uses jansson for JSON.
 *
 * One meaning of an empty string: every reader here takes a string of no
 * bytes ("") as absent, exactly like a missing member or null. mtd_sdk_str
 * returns NULL for it; mtd_sdk_get_str and mtd_sdk_get_id set *out = NULL
 * (an error, "missing", only for a required value, as mtd_sdk_get_enum and
 * mtd_sdk_get_time report it); mtd_sdk_time fails as for a missing time;
 * mtd_sdk_id_blank counts it as blank, so mtd_sdk_ref_add skips it, and
 * mtd_sdk_emit skips a ref whose value is NULL or "".
 *
 * Ownership: functions returning json_t * return a new reference the caller
 * releases with json_decref(). Strings returned by getters are borrowed from
 * the json_t they came from. mtd_buf memory belongs to the caller
 * (mtd_buf_free).
 */
#ifndef MTDGATE_SDK_H
#define MTDGATE_SDK_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "mtdgate/plugin.h"
#include "mtdgate/wire.h"
#include "mtdgate/wire_json.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Names of the SDK before the wire layer (mtdgate/wire.h), kept so that
 * plugins written against them build unchanged. */
#define MTD_SDK_MAX_PAYLOAD MTD_WIRE_MAX_PAYLOAD
#define MTD_SDK_MAX_DEPTH MTD_WIRE_MAX_DEPTH
#define mtd_sdk_msgpack_frame mtd_msgpack_frame
#define mtd_sdk_json_str mtd_json_str
#define mtd_sdk_err mtd_err
#define mtd_sdk_parse mtd_wire_parse
#define mtd_sdk_json_to_msgpack mtd_wire_json_to_msgpack


/* Look up a dotted path ("device.info.external_id") in objects. Returns the
 * value (borrowed) or NULL when any step is missing or not an object. */
json_t *mtd_sdk_path(json_t *root, const char *path);
/* The string at path, or NULL when missing, not a string, or "" (borrowed). */
const char *mtd_sdk_str(json_t *root, const char *path);
/* A time at path: a string accepted by mtd_time_parse, or an integer of Unix
 * seconds, or of milliseconds when it is above 100000000000. Returns 0 or -1. */
int mtd_sdk_time(json_t *root, const char *path, int64_t *out);

/* Checked field readers for decoders. Each reads the value at a dotted path
 * of root and, when it is not acceptable, writes "field 'PATH': why" to err
 * and returns -1; otherwise returns 0. Strings are borrowed from root. */
#define MTD_SDK_MAX_ID 128  /* device, app and threat ids (the host's limit) */
#define MTD_SDK_MAX_STR 512 /* other strings: names, users */

/* A string of 1..max bytes without control characters. Missing or null:
 * *out = NULL, an error only when required. An empty string counts as
 * missing. */
int mtd_sdk_get_str(json_t *root, const char *path, int required, size_t max,
		    const char **out, char *err, size_t errlen);

/* One name -> value pair of a vendor's enumeration; a table ends with
 * {NULL, 0}. */
typedef struct mtd_sdk_enum {
	const char *name;
	int value;
} mtd_sdk_enum;

/* A required string that is one of table's names (exact match, so the
 * mapping stays explicit): its value in *out. An unknown name is an error
 * that quotes it. */
int mtd_sdk_get_enum(json_t *root, const char *path, const mtd_sdk_enum *table,
		     int *out, char *err, size_t errlen);

/* A required time, as mtd_sdk_time reads it. */
int mtd_sdk_get_time(json_t *root, const char *path, int64_t *out, char *err,
		     size_t errlen);

/* An identifier at path: a string of 1..MTD_SDK_MAX_ID bytes without
 * control characters, or a non-negative integer, written in decimal into buf
 * (MTD_SDK_ID_BUF bytes, the caller's). Missing, null, or a placeholder
 * (mtd_sdk_id_blank: "", "unknown", "000...0"; vendors send these, or the
 * integer 0, for a device their MDM does not know): *out = NULL and 0,
 * since that is no identifier. Another type, or a bad string: "field 'PATH': why" and -1.
 * *out points into root or into buf. */
#define MTD_SDK_ID_BUF 24
int mtd_sdk_get_id(json_t *root, const char *path, char *buf, const char **out,
		   char *err, size_t errlen);

/* Put a formatted prefix before the message already in err (to say which
 * event of a page a field error is about: "events[3]: field 'x': missing"). */
void mtd_sdk_err_prefix(char *err, size_t errlen, const char *fmt, ...)
#if defined(__GNUC__)
	__attribute__((format(printf, 3, 4)))
#endif
	;

/* open and close for a plugin that keeps no per-connector state: open
 * sets *state to NULL and accepts any settings; close does nothing. */
int mtd_sdk_open_stateless(const mtd_host_api *host, const char *const *settings,
			   void **state, char *err, size_t errlen);
void mtd_sdk_close_stateless(void *state);

/* Define the plugin's one exported symbol, returning &desc to a host of the
 * same major ABI version and NULL to any other:
 *     MTD_SDK_PLUGIN_ENTRY(my_descriptor)                                  */
#if defined(__GNUC__)
#define MTD_SDK_EXPORT __attribute__((visibility("default")))
#else
#define MTD_SDK_EXPORT
#endif
#define MTD_SDK_PLUGIN_ENTRY(desc)                                                    \
	MTD_SDK_EXPORT const mtd_plugin *mtd_plugin_entry(uint32_t host_abi_version); \
	MTD_SDK_EXPORT const mtd_plugin *mtd_plugin_entry(uint32_t host_abi_version)  \
	{                                                                             \
		return MTD_PLUGIN_ABI_MAJOR_OF(host_abi_version) == MTD_PLUGIN_ABI_MAJOR  \
			       ? &(desc)                                                  \
			       : NULL;                                                    \
	}


/* One threat of a normalized threat message. */
typedef struct mtd_sdk_threat {
	const char *id;       /* vendor's threat id (may be NULL) */
	const char *category; /* "network", "app", "os" or "device" */
	const char *name;     /* human-readable name (may be NULL) */
	int level;            /* MTD_LEVEL_SECURED..MTD_LEVEL_HIGH */
} mtd_sdk_threat;

/* One identifier of a device_ref (contracts: SPEC 4.1 extensions): kind is
 * one of "intune", "entra", "serial", "imei", "meid", "udid", "wifi_mac",
 * "vendor_device_id", "mdm", "user", or the qualifier "platform"; value is
 * the identifier. Both borrowed. */
typedef struct mtd_sdk_ref {
	const char *kind;
	const char *value;
} mtd_sdk_ref;

/* The task of a "task" message (contracts: "Security tasks"): what the
 * vendor's vulnerability management asks to be fixed on the device. Strings
 * borrowed; id, kind, severity and state required, cve ("CVE-YYYY-NNNN"),
 * software and version emitted when not NULL. */
typedef struct mtd_sdk_task {
	const char *id;       /* unique per device: a CVE, a recommendation id */
	const char *kind;     /* "vulnerability" or "recommendation" */
	const char *cve, *software, *version;
	const char *severity; /* "low", "medium", "high" or "critical" */
	int64_t first_seen;   /* Unix seconds */
	const char *state;    /* "open" or "resolved" */
} mtd_sdk_task;

/* A normalized channel message (SPEC 4.1). Zero-initialize it (fields are
 * appended over time), then set what the type uses. */
typedef struct mtd_sdk_msg {
	const char *type;   /* "threat", "threat_event", "task", "heartbeat",
			     * "provision", "error", "appsync_request" */
	const char *device; /* threat, threat_event, task: the device id known to
			     * mtdgate; NULL to name the device by refs */
	int level;          /* threat: MTD_LEVEL_SECURED..MTD_LEVEL_HIGH */
	int64_t at;         /* Unix seconds */
	const mtd_sdk_threat *threats; /* threat: may be NULL when nthreats 0 */
	size_t nthreats;
	int os_supported;   /* threat: -1 absent, 0 false, 1 true */
	const char *code;   /* error: the partner's error code */
	/* threat, threat_event, when device is NULL: the device's identifiers,
	 * emitted as "device_ref" in this order. Refs whose value is NULL or
	 * empty are skipped (vendors often send "" for an unknown id). */
	const mtd_sdk_ref *refs;
	size_t nrefs;
	/* threat_event: the one threat (id required; for "open" category and
	 * level too, for "resolved" only id; name, and category and a level in
	 * SECURED..HIGH, are emitted when set) and its state, "open" or
	 * "resolved". */
	const mtd_sdk_threat *threat;
	const char *state;
	/* task: the task; device or refs name the device as for a threat */
	const mtd_sdk_task *task;
} mtd_sdk_msg;

/* Encode m as a msgpack map and hand it to host->emit(sink, ...). Returns
 * what emit returned; -1 without calling emit when out of memory, when a
 * threat_event lacks threat, threat->id or state, a task lacks task or one
 * of its required fields, or when device is NULL,
 * nrefs is not 0 and every ref was skipped as empty. Fields that do not
 * belong to m->type are left out. */
int mtd_sdk_emit(const mtd_host_api *host, void *sink, const mtd_sdk_msg *m);

/* Report one bad element of the payload being decoded (ABI 1.1 element
 * errors): path names it ("events[7].device"), fmt/... say what is wrong
 * (made one line, control characters become spaces). Returns 0 when the host
 * took it: the plugin goes on with the next element. Returns -1 when the host
 * is older than ABI 1.1 (or refuses more): the plugin then fails the payload
 * with the message in err, as before. */
int mtd_sdk_element_error(const mtd_host_api *host, void *sink, const char *path,
			  const char *fmt, ...)
#if defined(__GNUC__)
	__attribute__((format(printf, 4, 5)))
#endif
	;

/* Decode one element of a page (an event, an alert, a machine): emit what
 * it says through host and return MTD_PLUGIN_OK, or return a negative
 * MTD_PLUGIN_E* value with a one-line message in err when the element
 * cannot be used. elem is borrowed from the page. */
typedef int (*mtd_sdk_element_fn)(void *ctx, const mtd_host_api *host, void *sink,
				  json_t *elem, char *err, size_t errlen);

/* Decode every element of the array page, named name in messages ("events"),
 * with fn. Of at most max elements, each one fn refuses is reported with
 * mtd_sdk_element_error at path "name[i]" and skipped: the page's other
 * elements are kept; a host that takes no more element errors fails the
 * payload at that element. With a host older than ABI 1.1 the payload fails
 * as it did before element errors: every element is decoded once without
 * emitting anything, and the first bad one fails the whole page before any
 * message of it is emitted. Returns
 * MTD_PLUGIN_OK; MTD_PLUGIN_EMALFORMED with "name[i]: why" (or why page is
 * not such an array) in err; MTD_PLUGIN_ENOMEM when fn ran out of memory. */
int mtd_sdk_each(const mtd_host_api *host, void *sink, json_t *page, const char *name,
		 size_t max, mtd_sdk_element_fn fn, void *ctx, char *err, size_t errlen);

/* A whole decode for a vendor whose record is one element or a page of
 * them: parse data (mtd_sdk_parse); when it is an array, or an object with
 * a non-null member page_key ("events"), decode each element of that array
 * with mtd_sdk_each (at most max, named page_key in messages); otherwise
 * decode the record itself as one element with fn, whose failure then fails
 * the record. Returns what mtd_sdk_each or fn returned,
 * MTD_PLUGIN_EMALFORMED when data is not JSON or msgpack. */
int mtd_sdk_decode_page(const mtd_host_api *host, void *sink, const void *data, size_t len,
			const char *page_key, size_t max, mtd_sdk_element_fn fn, void *ctx,
			char *err, size_t errlen);

/* ---- Identifiers of a device_ref ---- */

/* Nonzero when s is not a device identifier but a vendor's placeholder for
 * "none": NULL, "", "unknown"/"null"/"none"/"n/a" in any case, or only
 * zeros and separators ("0", "00000000-0000-0000-0000-000000000000"). */
int mtd_sdk_id_blank(const char *s);

/* Append {kind, value} to refs[0..n) (room for cap) unless value is blank
 * (mtd_sdk_id_blank), is not 1..MTD_SDK_MAX_ID bytes without control
 * characters, is an "imei" that is not 14..16 digits, or kind is already there (the first one of a kind wins, so
 * list the most trusted source first). Returns the new count. kind and value
 * are borrowed: they must outlive the emit. */
size_t mtd_sdk_ref_add(mtd_sdk_ref *refs, size_t n, size_t cap, const char *kind,
		       const char *value);

/* Append a user's e-mail and the platform that qualifies it ("android",
 * "ios", "windows", "macos"; a user names a device only together with one),
 * both or neither: only when user is an address (it holds an '@'; vendors
 * send sanitized or made-up values), platform is not NULL and both fit.
 * Returns the new count. */
size_t mtd_sdk_ref_user(mtd_sdk_ref *refs, size_t n, size_t cap, const char *user,
			const char *platform);

/* ---- ABI 1.2: decoding a vendor's API responses (api_decode) ---- */

/* Hand the host one value of an API response (MTD_API_V_NEXT, ...):
 * host->api_value(sink, name, value). Returns 0 when taken; -1 when value
 * is NULL or "" (nothing given), or when the host is older than ABI 1.2 or
 * refused it. */
int mtd_sdk_api_value(const mtd_host_api *host, void *sink, const char *name,
		      const char *value);

/* Hand the host the time t (Unix seconds) as the value name, written RFC
 * 3339 in UTC ("2024-03-01T01:00:00Z"): where a SINCE endpoint's next pull
 * starts (MTD_API_V_RESUME), the newest time a page held. Returns as
 * mtd_sdk_api_value. */
int mtd_sdk_api_time(const mtd_host_api *host, void *sink, const char *name, int64_t t);

/* Say which vendor event the messages emitted next come from
 * (host->event_id), so that a replayed event is not counted twice. Returns
 * 0 when taken; -1 when id is blank, or the host is older than ABI 1.2. */
int mtd_sdk_event_id(const mtd_host_api *host, void *sink, const char *id);

/* Decode a token response (JSON) for MTD_API_DECODE_TOKEN: the string at
 * token_path is the token (required); the lifetime is an integer or a
 * numeric string of seconds at expires_in_path, or else a time at
 * expires_at_path (as mtd_sdk_time reads it: RFC 3339, Unix seconds or
 * milliseconds); either path may be NULL, and a response with neither
 * gives the token only (the host then assumes an hour). The token never
 * goes into err. Returns MTD_PLUGIN_OK, MTD_PLUGIN_EMALFORMED (err names the
 * field) or MTD_PLUGIN_ENOMEM. */
int mtd_sdk_api_token(const mtd_host_api *host, void *sink, const void *data, size_t len,
		      const char *token_path, const char *expires_in_path,
		      const char *expires_at_path, char *err, size_t errlen);

/* The string at path of page (a next link, a cursor) given as the value
 * name (a member whose own name holds dots, "@odata.nextLink", is found
 * before the dotted path); nothing given when it is missing, null or "". Returns 0, or -1 when
 * it is there but not a string of 1..4096 bytes without control characters
 * (err says so), or the host refused it. */
int mtd_sdk_api_link(const mtd_host_api *host, void *sink, json_t *page, const char *path,
		     const char *name, char *err, size_t errlen);

/* Decode a discovery answer (JSON) for MTD_API_DECODE_WHOAMI: the string
 * at api_url_path is the API root (required); with header set, the string
 * at value_path is that header's value (required then). Returns
 * MTD_PLUGIN_OK, or MTD_PLUGIN_EMALFORMED with err naming the field. */
int mtd_sdk_api_whoami(const mtd_host_api *host, void *sink, const void *data, size_t len,
		       const char *api_url_path, const char *header, const char *value_path,
		       char *err, size_t errlen);

#ifdef __cplusplus
}
#endif
#endif /* MTDGATE_SDK_H */
