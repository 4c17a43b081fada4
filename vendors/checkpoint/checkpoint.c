/* checkpoint: Check Point Harmony Mobile (formerly SandBlast Mobile) alerts.
 *
 * Accepts alerts of the external API v3 (GET .../external_api/v3/alert/), one
 * alert per record or one page {"meta":{...},"objects":[...]}. An alert that
 * reports a threat opens it, an Ended/Removed alert resolves it (threat_event;
 * the threat is named by its attack vector and threat factors, since an
 * alert's id names the alert); Compliant is a snapshot of a clean device.
 * The device is named by Check Point's device_id and, when it is a real
 * one, the MDM id. See README.md for the sources and the mappings. */
#include <stdint.h>
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

/* ---- the Harmony Mobile external API (plugin ABI 1.2) ----
 * Token: an Infinity Portal API key (Global Settings > API Keys, service
 * Harmony Mobile): POST <gateway>/auth/external with the JSON body
 * {"clientId": CLIENT_ID, "accessKey": SECRET}, answered with
 * {"success": true, "data": {"token", "csrf", "expires", "expiresIn"}};
 * the token is sent as a bearer. Alerts: GET <gateway>/app/SBM/
 * external_api/v3/alert/?backend_last_updated__gte=TIME&limit=N, pages
 * {"meta": {"limit", "next", "previous", "offset", "total_count"},
 * "objects": [...]}, meta.next the next page's path (or null). Sources:
 * SEKOIA-IO/automation-library Checkpoint/client/token_refresher.py and
 * http_client.py (the flow; they name SwaggerHub's Check-Point/harmony-mobile
 * 1.0.0-oas3 as the API description), the Infinity Portal admin guide's
 * "API Keys" page (the key, its Authentication URL):
 * https://sc1.checkpoint.com/documents/Infinity_Portal/WebAdminGuides/EN/
 * Infinity-Portal-Admin-Guide/Content/Topics-Infinity-Portal/API-Keys.htm
 * The gateway is regional (EU by default; api_url for the others). */

static const mtd_api_endpoint cp_endpoints[] = {
	/* the whole history at a first pull: the Ended and Compliant alerts
	 * that close older ones are part of it */
	{.name = "alerts", .path = "/app/SBM/external_api/v3/alert/?limit=100",
	 .paging = MTD_API_PAGE_SINCE, .resume_param = "backend_last_updated__gte",
	 .start = "2000-01-01T00:00:00Z"},
};

static const mtd_api cp_api = {
	.struct_size = sizeof(mtd_api),
	.endpoint_size = sizeof(mtd_api_endpoint),
	.base_url = "https://cloudinfra-gw.portal.checkpoint.com",
	.auth = MTD_API_AUTH_LOGIN,
	.token_url = "/auth/external",
	.id_field = "clientId",
	.secret_field = "accessKey",
	.endpoints = cp_endpoints,
	.nendpoints = 1,
};

/* The newest backend_last_updated of a page: where the next pull starts. */
typedef struct cp_page {
	int64_t newest;
} cp_page;

/* An alert of a page: its event id (the alert's id and the time it was
 * last updated: the same alert updated is a new event), then as decode. */
static int cp_api_alert(void *ctx, const mtd_host_api *host, void *sink, json_t *e, char *err,
			size_t errlen)
{
	cp_page *pg = ctx;
	char ibuf[MTD_SDK_ID_BUF], eid[MTD_SDK_MAX_ID + 1];
	const char *id, *upd = NULL;
	int64_t t;

	if (json_is_object(e)) {
		if (mtd_sdk_get_id(e, "id", ibuf, &id, err, errlen) ||
		    (present(e, "backend_last_updated") &&
		     mtd_sdk_get_str(e, "backend_last_updated", 0, 64, &upd, err, errlen)))
			return MTD_PLUGIN_EMALFORMED;
		if (upd && !mtd_sdk_time(e, "backend_last_updated", &t) && t > pg->newest)
			pg->newest = t;
		if (id && (size_t)snprintf(eid, sizeof eid, "alert:%s@%s", id, upd ? upd : "") <
				  sizeof eid)
			mtd_sdk_event_id(host, sink, eid);
	}
	return cp_alert(NULL, host, sink, e, err, errlen);
}

static int cp_api_decode(void *state, const mtd_host_api *host, void *sink, uint32_t what,
			 uint32_t endpoint, const void *data, size_t len, char *err, size_t errlen)
{
	cp_page pg = {.newest = INT64_MIN};
	json_t *root, *objects;
	const char *next;
	int rc;
	(void)state, (void)endpoint;
	if (what == MTD_API_DECODE_TOKEN)
		return mtd_sdk_api_token(host, sink, data, len, "data.token", "data.expiresIn",
					 "data.expires", err, errlen);
	if (what != MTD_API_DECODE_PAGE) {
		mtd_sdk_err(err, errlen, "unknown api_decode request %u", what);
		return MTD_PLUGIN_EINTERNAL;
	}
	if (!(root = mtd_sdk_parse(data, len, err, errlen)))
		return MTD_PLUGIN_EMALFORMED;
	objects = json_is_object(root) ? json_object_get(root, "objects") : NULL;
	if (!json_is_object(root) || !json_is_object(json_object_get(root, "meta")) ||
	    (objects && !json_is_array(objects) && !json_is_null(objects))) {
		mtd_sdk_err(err, errlen, "not an alert page: no 'meta' object, or 'objects' not an array");
		json_decref(root);
		return MTD_PLUGIN_EMALFORMED;
	}
	rc = json_is_array(objects) ? mtd_sdk_each(host, sink, objects, "objects", MAX_EVENTS,
						    cp_api_alert, &pg, err, errlen)
				    : MTD_PLUGIN_OK;
	next = mtd_sdk_str(root, "meta.next");
	if (rc == MTD_PLUGIN_OK && next) {
		/* meta.next is a path under /app/SBM ("/external_api/v3/alert/?...&offset=N", as
		 * the Sekoia connector joins it), or a full path or URL */
		char url[4200];
		int k = next[0] == '/' && strncmp(next, "/app/", 5)
				? snprintf(url, sizeof url, "/app/SBM%s", next)
				: snprintf(url, sizeof url, "%s", next);
		if (k < 0 || (size_t)k >= sizeof url ||
		    mtd_sdk_api_value(host, sink, MTD_API_V_NEXT, url)) {
			mtd_sdk_err(err, errlen, "field 'meta.next': not a usable link");
			rc = MTD_PLUGIN_EMALFORMED;
		}
	} else if (rc == MTD_PLUGIN_OK && json_object_get(json_object_get(root, "meta"), "next") &&
		   !json_is_null(mtd_sdk_path(root, "meta.next")) &&
		   !json_is_string(mtd_sdk_path(root, "meta.next"))) {
		mtd_sdk_err(err, errlen, "field 'meta.next': not a string");
		rc = MTD_PLUGIN_EMALFORMED;
	}
	if (rc == MTD_PLUGIN_OK && pg.newest != INT64_MIN)
		mtd_sdk_api_time(host, sink, MTD_API_V_RESUME, pg.newest);
	json_decref(root);
	return rc;
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
	.api = &cp_api,
	.api_decode = cp_api_decode,
};

MTD_SDK_PLUGIN_ENTRY(checkpoint)
