/* checkpoint: Check Point Harmony Mobile (formerly SandBlast Mobile) alerts.
 *
 * Accepts alerts of the external API v3 (GET .../external_api/v3/alert/), one
 * alert per record or one page {"meta":{...},"objects":[...]}. An alert that
 * reports a threat opens it, an Ended/Removed alert resolves it (threat_event;
 * the threat is named by its attack vector and threat factors, since an
 * alert's id names the alert); Compliant is a snapshot of a clean device.
 * The device is named by Check Point's device_id and, when it is a real
 * one, the MDM id. See README.md for the sources and the mappings. */
#include <stdio.h>
#include <string.h>

#include "mtdgate/sdk.h"

#define MAX_EVENTS 100000

/* Alert severity. Critical, Warning, Information: the admin guide [V];
 * "Low risk" events [V]; High, Medium, Low as alert values [U]. */
static const mtd_sdk_enum severities[] = {
	{"Critical", MTD_LEVEL_HIGH}, {"High", MTD_LEVEL_HIGH},       {"Warning", MTD_LEVEL_MEDIUM},
	{"Medium", MTD_LEVEL_MEDIUM}, {"Low risk", MTD_LEVEL_LOW},    {"Low", MTD_LEVEL_LOW},
	{"Information", MTD_LEVEL_SECURED}, {NULL, 0},
};

/* What an event means for its threat. */
enum { EV_OPEN, EV_RESOLVE, EV_CLEAN, EV_NONE };
static const mtd_sdk_enum events_kind[] = {
	{"Noncompliant", EV_OPEN},  {"Detected", EV_OPEN},   {"Blocked", EV_OPEN},
	{"Info", EV_OPEN}, /* a Critical "Info" alert still reports its threat */
	{"Ended", EV_RESOLVE},      {"Removed", EV_RESOLVE},
	{"Compliant", EV_CLEAN},
	{"Policy changed", EV_NONE}, {"Active", EV_NONE},     {"Inactive", EV_NONE},
	{"Disconnected", EV_NONE},  {"Installed", EV_NONE},  {NULL, 0},
};

/* attack_vector: the admin guide's names [V], the API's spelling without
 * spaces ("NetworkSecurity" seen in payloads [V], the others [S]) and the
 * short forms "OS" and "WiFi" [S]. */
static const mtd_sdk_enum vectors[] = {
	{"Application", 'a'},
	{"Cellular network", 'n'}, {"CellularNetwork", 'n'},
	{"Device", 'd'},
	{"Network Security", 'n'}, {"NetworkSecurity", 'n'}, {"Network", 'n'},
	{"OS Exploits", 'o'},      {"OSExploits", 'o'},      {"OS", 'o'},
	{"Text message", 'n'},     {"TextMessage", 'n'},     {"SMS", 'n'},
	{"WiFi network", 'n'},     {"WiFiNetwork", 'n'},     {"WiFi", 'n'},
	{"iOS profiles", 'd'},     {"iOSProfiles", 'd'},
	{NULL, 0},
};

static const char *category(int c)
{
	return c == 'a' ? "app" : c == 'n' ? "network" : c == 'o' ? "os" : "device";
}

static int present(json_t *e, const char *k)
{
	json_t *v = json_object_get(e, k);
	return v && !json_is_null(v);
}

/* device_model is free text: "Android", "Apple / iPhone 15 Pro" [V]. */
static const char *platform(json_t *e)
{
	const char *m = mtd_sdk_str(e, "device_model");
	if (!m)
		return NULL;
	if (!strncmp(m, "Android", 7))
		return "android";
	if (!strncmp(m, "Apple", 5) || strstr(m, "iPhone") || strstr(m, "iPad"))
		return "ios";
	return NULL;
}

typedef struct alert {
	mtd_sdk_ref r[4];
	char dbuf[MTD_SDK_ID_BUF], mbuf[MTD_SDK_ID_BUF];
	char tid[MTD_SDK_MAX_ID + 1];
} alert;

static int cp_alert(void *ctx, const mtd_host_api *host, void *sink, json_t *e, char *err,
		    size_t errlen)
{
	mtd_sdk_msg m = {.os_supported = -1};
	mtd_sdk_threat th = {0};
	const char *dev, *mdm, *email, *vec, *factors;
	int lvl, kind, cat;
	alert a;

	(void)ctx;
	if (!json_is_object(e)) {
		mtd_sdk_err(err, errlen, "an alert must be an object");
		return MTD_PLUGIN_EMALFORMED;
	}
	if (mtd_sdk_get_enum(e, "severity", severities, &lvl, err, errlen) ||
	    mtd_sdk_get_enum(e, "event", events_kind, &kind, err, errlen))
		return MTD_PLUGIN_EMALFORMED;
	if (kind == EV_NONE || (kind == EV_OPEN && lvl == MTD_LEVEL_SECURED))
		return MTD_PLUGIN_OK; /* status and informational alerts: no level */
	if (mtd_sdk_get_id(e, "device_id", a.dbuf, &dev, err, errlen) ||
	    mtd_sdk_get_id(e, "mdm_uuid", a.mbuf, &mdm, err, errlen) ||
	    mtd_sdk_get_str(e, "email", 0, MTD_SDK_MAX_ID, &email, err, errlen))
		return MTD_PLUGIN_EMALFORMED;
	if (!dev && !mdm) {
		mtd_sdk_err(err, errlen, "field 'device_id': missing, and no usable 'mdm_uuid' either");
		return MTD_PLUGIN_EMALFORMED;
	}
	if (present(e, "event_timestamp")) {
		if (mtd_sdk_get_time(e, "event_timestamp", &m.at, err, errlen))
			return MTD_PLUGIN_EMALFORMED;
	} else if (!present(e, "backend_last_updated")) {
		/* an alert dated nowhere cannot be ordered against the others */
		mtd_sdk_err(err, errlen,
			    "field 'event_timestamp': missing, and no 'backend_last_updated' either");
		return MTD_PLUGIN_EMALFORMED;
	} else if (mtd_sdk_get_time(e, "backend_last_updated", &m.at, err, errlen)) {
		return MTD_PLUGIN_EMALFORMED;
	}
	a.r[0] = (mtd_sdk_ref){"vendor_device_id", dev};
	a.r[1] = (mtd_sdk_ref){"mdm", mdm};
	a.r[3] = (mtd_sdk_ref){"platform", platform(e)};
	/* "Blocked" seen; a user names a device only together with its platform */
	a.r[2] = (mtd_sdk_ref){"user", a.r[3].value && email && strchr(email, '@') ? email : NULL};
	m.refs = a.r;
	m.nrefs = 4;
	if (kind == EV_CLEAN) { /* the device is compliant again: nothing open */
		m.type = "threat";
		m.level = MTD_LEVEL_SECURED;
		mtd_sdk_emit(host, sink, &m);
		return MTD_PLUGIN_OK;
	}
	if (mtd_sdk_get_enum(e, "attack_vector", vectors, &cat, err, errlen) ||
	    mtd_sdk_get_str(e, "attack_vector", 1, MTD_SDK_MAX_STR, &vec, err, errlen) ||
	    mtd_sdk_get_str(e, "threat_factors", 0, MTD_SDK_MAX_STR, &factors, err, errlen))
		return MTD_PLUGIN_EMALFORMED;
	/* the threat: its vector and factors, the same in the alert that
	 * raises it and the one that ends it */
	if ((size_t)snprintf(a.tid, sizeof a.tid, "%s%s%s", vec, factors ? "/" : "",
			     factors ? factors : "") >= sizeof a.tid) {
		mtd_sdk_err(err, errlen, "field 'threat_factors': longer than a threat id can be");
		return MTD_PLUGIN_EMALFORMED;
	}
	th.id = a.tid;
	if (kind == EV_OPEN) {
		th.category = category(cat);
		th.name = factors ? factors : vec;
		th.level = lvl;
	}
	m.type = "threat_event";
	m.threat = &th;
	m.state = kind == EV_OPEN ? "open" : "resolved";
	mtd_sdk_emit(host, sink, &m); /* the host reports what it refuses */
	return MTD_PLUGIN_OK;
}

static int cp_decode(void *state, const mtd_host_api *host, void *sink, const void *data,
		     size_t len, char *err, size_t errlen)
{
	(void)state;
	return mtd_sdk_decode_page(host, sink, data, len, "objects", MAX_EVENTS, cp_alert, NULL, err,
				   errlen);
}

static const mtd_plugin checkpoint = {
	.abi_version = MTD_PLUGIN_ABI_VERSION,
	.struct_size = sizeof(mtd_plugin),
	.id = "checkpoint",
	.name = "Check Point Harmony Mobile",
	.platforms = MTD_PLUGIN_ANDROID | MTD_PLUGIN_IOS,
	.mam_platforms = MTD_PLUGIN_ANDROID | MTD_PLUGIN_IOS,
	.capabilities = MTD_PLUGIN_CAP_THREAT | MTD_PLUGIN_CAP_APP_PROTECTION |
			MTD_PLUGIN_CAP_APPSYNC,
	.open = mtd_sdk_open_stateless,
	.decode = cp_decode,
	.close = mtd_sdk_close_stateless,
	.appsync_translate = NULL,
};

MTD_SDK_PLUGIN_ENTRY(checkpoint)
