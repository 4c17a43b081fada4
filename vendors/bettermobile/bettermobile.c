/* bettermobile: BETTER Mobile Security (BETTER MTD).
 *
 * BETTER MTD's logs, as its Microsoft Sentinel solution publishes them:
 *  - a device log row (DeviceId, DeviceUDID, ThreatLevel, LastReported, ...):
 *    the device's posture, a snapshot ("threat" message);
 *  - an incident log row (ThreatId, ThreatSeverity, ThreatCategory, Status,
 *    EventTimeStamp, ...): one threat opened or resolved ("threat_event");
 *  - app and netflow log rows: no threat level, skipped.
 * Field names come native (DeviceId) or as Log Analytics stores them, with a
 * type suffix (DeviceId_d, DeviceId_g, ThreatLevel_s, LastReported_t); ids
 * may be numbers. One row per payload or a JSON array of rows (the logs'
 * export). See README.md. */
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "mtdgate/sdk.h"

#define MAX_PAGE 10000

/* A name -> value table read without regard to case: the sample data
 * spells one category "Device" next to "DEVICE". */
typedef struct name_value {
	const char *name;
	int value;
} name_value;

/* Device ThreatLevel: "Medium" is the only value in public samples [U];
 * the rest of the scale is our reading. */
static const name_value device_level[] = {
	{"None", MTD_LEVEL_SECURED}, {"Low", MTD_LEVEL_LOW}, {"Medium", MTD_LEVEL_MEDIUM},
	{"High", MTD_LEVEL_HIGH},    {NULL, 0},
};

/* Incident ThreatSeverity: low/medium/high [V]. */
static const name_value severity[] = {
	{"low", MTD_LEVEL_LOW}, {"medium", MTD_LEVEL_MEDIUM}, {"high", MTD_LEVEL_HIGH}, {NULL, 0},
};

/* Incident ThreatCategory [V] -> normalized category. */
static const char *const category_name[] = {"network", "app", "device"};
static const name_value category[] = {
	{"NETWORK", 0}, {"APPLICATION", 1}, {"DEVICE", 2}, {NULL, 0},
};

/* Incident Status: "Resolved" [V]; the open spellings are our reading [U]. */
static const name_value status[] = {
	{"Resolved", 0}, {"Active", 1}, {"Open", 1}, {"New", 1}, {NULL, 0},
};

/* Log Analytics table names (the row's "Type") [V]. */
enum { ROW_DEVICE, ROW_INCIDENT, ROW_SKIP };
static const name_value tables[] = {
	{"BetterMTDDeviceLog_CL", ROW_DEVICE},
	{"BetterMTDIncidentLog_CL", ROW_INCIDENT},
	{"BetterMTDAppLog_CL", ROW_SKIP},
	{"BetterMTDNetflowLog_CL", ROW_SKIP},
	{NULL, 0},
};

/* DevicePlatform [V: Apple, Android] -> the device_ref platform qualifier. */
static const name_value platforms[] = {{"Apple", 0}, {"iOS", 0}, {"Android", 1}, {NULL, 0}};
static const char *const platform_name[] = {"ios", "android"};

/* The row's key for field: the native name or one with a Log Analytics
 * suffix. Writes the key found (or the native name) into key; returns the
 * value or NULL. */
static json_t *field(json_t *r, const char *name, char *key, size_t keylen)
{
	static const char *const suffix[] = {"", "_s", "_d", "_g", "_t", "_b", NULL};
	for (const char *const *s = suffix; *s; s++) {
		json_t *v;
		snprintf(key, keylen, "%s%s", name, *s);
		if ((v = json_object_get(r, key)) && !json_is_null(v))
			return v;
	}
	snprintf(key, keylen, "%s", name);
	return NULL;
}

/* An enumerated string field, matched without regard to case. */
static int get_enum(json_t *r, const char *name, const name_value *t, int required, int *out,
		    char *err, size_t errlen)
{
	char key[64];
	const char *s;
	json_t *v = field(r, name, key, sizeof key);

	if (!v) {
		if (required)
			mtd_sdk_err(err, errlen, "field '%s': missing", key);
		return required ? -1 : 1;
	}
	if (mtd_sdk_get_str(r, key, 1, MTD_SDK_MAX_STR, &s, err, errlen))
		return -1;
	for (; t->name; t++)
		if (!strcasecmp(t->name, s)) {
			*out = t->value;
			return 0;
		}
	mtd_sdk_err(err, errlen, "field '%s': unknown value '%.64s'", key, s);
	return -1;
}

static int get_time(json_t *r, const char *name, int64_t *at, char *err, size_t errlen)
{
	char key[64];
	field(r, name, key, sizeof key);
	return mtd_sdk_get_time(r, key, at, err, errlen);
}

static int get_str(json_t *r, const char *name, size_t max, const char **out, char *err,
		   size_t errlen)
{
	char key[64];
	field(r, name, key, sizeof key);
	return mtd_sdk_get_str(r, key, 0, max, out, err, errlen);
}

static int get_id(json_t *r, const char *name, char *buf, const char **out, char *err,
		  size_t errlen)
{
	char key[64];
	field(r, name, key, sizeof key);
	return mtd_sdk_get_id(r, key, buf, out, err, errlen);
}

/* The device's identifiers: BETTER's own DeviceId, its UDID, and the user
 * (an e-mail, only with the platform that qualifies it). */
typedef struct ids {
	char device_buf[MTD_SDK_ID_BUF];
	const char *device, *udid, *email;
	int platform;
	mtd_sdk_ref refs[5];
	size_t n;
} ids;

static int read_ids(json_t *r, ids *d, char *err, size_t errlen)
{
	d->platform = -1;
	if (get_id(r, "DeviceId", d->device_buf, &d->device, err, errlen) ||
	    get_str(r, "DeviceUDID", MTD_SDK_MAX_ID, &d->udid, err, errlen) ||
	    get_str(r, "UserEmail", MTD_SDK_MAX_ID, &d->email, err, errlen) ||
	    get_enum(r, "DevicePlatform", platforms, 0, &d->platform, err, errlen) < 0)
		return -1;
	d->n = mtd_sdk_ref_add(d->refs, 0, 5, "vendor_device_id", d->device);
	d->n = mtd_sdk_ref_add(d->refs, d->n, 5, "udid", d->udid);
	/* the sample data's e-mails are sanitized ("sanitized_email.com") */
	d->n = mtd_sdk_ref_user(d->refs, d->n, 5, d->email,
				d->platform >= 0 ? platform_name[d->platform] : NULL);
	if (d->n == 0) {
		mtd_sdk_err(err, errlen, "no device identifier (DeviceId, DeviceUDID, UserEmail)");
		return -1;
	}
	return 0;
}

static int decode_device(json_t *r, const mtd_host_api *host, void *sink, char *err,
			 size_t errlen)
{
	ids d;
	mtd_sdk_msg m = {.type = "threat", .os_supported = -1};

	if (get_enum(r, "ThreatLevel", device_level, 1, &m.level, err, errlen) ||
	    get_time(r, "LastReported", &m.at, err, errlen) || read_ids(r, &d, err, errlen))
		return MTD_PLUGIN_EMALFORMED;
	m.refs = d.refs;
	m.nrefs = d.n;
	mtd_sdk_emit(host, sink, &m); /* the host records what it refuses */
	return MTD_PLUGIN_OK;
}

static int decode_incident(json_t *r, const mtd_host_api *host, void *sink, char *err,
			   size_t errlen)
{
	ids d;
	char id_buf[MTD_SDK_ID_BUF];
	int open = 1, k = 0;
	mtd_sdk_threat th = {0};
	mtd_sdk_msg m = {.type = "threat_event", .os_supported = -1, .threat = &th};

	if (get_enum(r, "Status", status, 0, &open, err, errlen) < 0 ||
	    get_time(r, "EventTimeStamp", &m.at, err, errlen) ||
	    get_id(r, "ThreatId", id_buf, &th.id, err, errlen) ||
	    read_ids(r, &d, err, errlen))
		return MTD_PLUGIN_EMALFORMED;
	/* the title is only a label: one a host would refuse is left out
	 * rather than losing the threat */
	if (get_str(r, "ThreatTitle", MTD_SDK_MAX_STR, &th.name, err, errlen))
		th.name = NULL;
	if (!th.id) {
		mtd_sdk_err(err, errlen, "field 'ThreatId': missing");
		return MTD_PLUGIN_EMALFORMED;
	}
	m.state = open ? "open" : "resolved";
	if (open && (get_enum(r, "ThreatSeverity", severity, 1, &th.level, err, errlen) ||
		     get_enum(r, "ThreatCategory", category, 1, &k, err, errlen)))
		return MTD_PLUGIN_EMALFORMED;
	if (open)
		th.category = category_name[k];
	m.refs = d.refs;
	m.nrefs = d.n;
	mtd_sdk_emit(host, sink, &m);
	return MTD_PLUGIN_OK;
}

static int decode_row(void *ctx, const mtd_host_api *host, void *sink, json_t *r, char *err,
		      size_t errlen)
{
	int kind;
	json_t *type;

	(void)ctx;
	if (!json_is_object(r)) {
		mtd_sdk_err(err, errlen, "a row must be an object");
		return MTD_PLUGIN_EMALFORMED;
	}
	type = json_object_get(r, "Type");
	if (type) {
		if (get_enum(r, "Type", tables, 1, &kind, err, errlen))
			return MTD_PLUGIN_EMALFORMED;
	} else {
		char key[64];
		kind = field(r, "ThreatSeverity", key, sizeof key) ||
				       field(r, "ThreatId", key, sizeof key)
			       ? ROW_INCIDENT
			       : ROW_DEVICE;
	}
	if (kind == ROW_SKIP)
		return MTD_PLUGIN_OK;
	return kind == ROW_DEVICE ? decode_device(r, host, sink, err, errlen)
				  : decode_incident(r, host, sink, err, errlen);
}

static int b_decode(void *state, const mtd_host_api *host, void *sink, const void *data,
		    size_t len, char *err, size_t errlen)
{
	(void)state;
	return mtd_sdk_decode_page(host, sink, data, len, "rows", MAX_PAGE, decode_row, NULL,
				   err, errlen);
}

static const mtd_plugin bettermobile = {
	.abi_version = MTD_PLUGIN_ABI_VERSION,
	.struct_size = sizeof(mtd_plugin),
	.id = "bettermobile",
	.name = "BETTER Mobile Security",
	.platforms = MTD_PLUGIN_ANDROID | MTD_PLUGIN_IOS,
	.mam_platforms = MTD_PLUGIN_ANDROID | MTD_PLUGIN_IOS,
	.capabilities = MTD_PLUGIN_CAP_THREAT | MTD_PLUGIN_CAP_APP_PROTECTION |
			MTD_PLUGIN_CAP_APPSYNC,
	.open = mtd_sdk_open_stateless,
	.decode = b_decode,
	.close = mtd_sdk_close_stateless,
	.appsync_translate = NULL,
};

MTD_SDK_PLUGIN_ENTRY(bettermobile)
