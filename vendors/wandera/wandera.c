/* wandera: Jamf Mobile Threat Defense (formerly Wandera).
 *
 * Two native formats, told apart by their shape:
 *  - a device of the Jamf Security Cloud Risk API (risk/v2/devices): one
 *    per record or the page {"userDeviceList": [...]}; its riskCategory
 *    SECURE/LOW/MEDIUM/HIGH is the device's posture, a snapshot ("threat");
 *  - an event of the Threat Events Stream, {"event": {...}}: one threat on
 *    one device ("threat_event"), opened when Jamf detected it, resolved when
 *    Jamf blocked it; a JSON array of such events is read too.
 * The device is named by Jamf's own id and by the UEM id Jamf carries
 * (externalId). See README.md. */
#include <stdio.h>
#include <string.h>

#include "mtdgate/sdk.h"

#define MAX_PAGE 10000

/* Risk API riskCategory [V]: a 1:1 mapping. */
static const mtd_sdk_enum risk[] = {
	{"SECURE", MTD_LEVEL_SECURED}, {"LOW", MTD_LEVEL_LOW}, {"MEDIUM", MTD_LEVEL_MEDIUM},
	{"HIGH", MTD_LEVEL_HIGH},      {NULL, 0},
};

/* Threat Events Stream eventType.name -> category; the names seen in
 * public samples [V]. Any other name is reported until it is mapped. */
static const mtd_sdk_enum event_names[] = {
	{"SIDE_LOADED_APP_IN_INVENTORY", 1}, {"OUTDATED_OS", 2},
	{"ACCESS_BAD_HOST", 0},              {"ACCESS_CRYPTOJACKING_HOST", 0},
	{NULL, 0},
};
static const char *const category[] = {"network", "app", "os"};

/* The stream's action [V: Detected, Blocked]: a detection is a threat on
 * the device until Jamf says otherwise; a blocked access left none. */
static const mtd_sdk_enum actions[] = {{"Detected", 1}, {"Blocked", 0}, {NULL, 0}};

/* platform / the first word of device.os [V: IOS, MAC_OS, UNKNOWN; ANDROID
 * from the Risk API's osType] -> the device_ref platform qualifier. */
static const char *platform_of(const char *os)
{
	if (!os)
		return NULL;
	if (!strncmp(os, "IOS", 3) && (os[3] == '\0' || os[3] == ' '))
		return "ios";
	if (!strncmp(os, "ANDROID", 7) && (os[7] == '\0' || os[7] == ' '))
		return "android";
	if (!strncmp(os, "MAC_OS", 6) && (os[6] == '\0' || os[6] == ' '))
		return "macos";
	return NULL;
}

/* Identifiers of a device: Jamf's own id, the UEM id (an MDM device id, or
 * an Apple UDID [V: "UEM device identifier or UDID"]), and the user's
 * e-mail qualified by the platform. */
typedef struct ids {
	mtd_sdk_ref refs[5];
	size_t n;
} ids;

/* A user's address, unless Jamf made it up for a user it does not know
 * ("<uuid>@<tenant>.wnd" [V]): those name no one. */
static int real_email(const char *email)
{
	size_t n = email ? strlen(email) : 0;
	return n > 4 && strcmp(email + n - 4, ".wnd");
}

/* Read the identifiers at the given paths of r into out. */
static int read_ids(json_t *r, const char *own, const char *ext_path, const char *email_path,
		    const char *os_path, ids *out, char *err, size_t errlen)
{
	const char *id, *ext, *email, *os, *pf;

	if (mtd_sdk_get_str(r, own, 0, MTD_SDK_MAX_ID, &id, err, errlen) ||
	    mtd_sdk_get_str(r, ext_path, 0, MTD_SDK_MAX_ID, &ext, err, errlen) ||
	    mtd_sdk_get_str(r, email_path, 0, MTD_SDK_MAX_ID, &email, err, errlen) ||
	    mtd_sdk_get_str(r, os_path, 0, MTD_SDK_MAX_STR, &os, err, errlen))
		return -1;
	pf = platform_of(os);
	out->n = mtd_sdk_ref_add(out->refs, 0, 5, "vendor_device_id", id);
	out->n = mtd_sdk_ref_add(out->refs, out->n, 5, "mdm", ext);
	if (pf && !strcmp(pf, "ios"))
		out->n = mtd_sdk_ref_add(out->refs, out->n, 5, "udid", ext);
	if (real_email(email))
		out->n = mtd_sdk_ref_user(out->refs, out->n, 5, email, pf);
	if (out->n == 0) {
		mtd_sdk_err(err, errlen, "no device identifier (%s, %s, %s)", own, ext_path,
			    email_path);
		return -1;
	}
	return 0;
}

static int decode_device(void *ctx, const mtd_host_api *host, void *sink, json_t *d,
			 char *err, size_t errlen)
{
	ids id;
	mtd_sdk_msg m = {.type = "threat", .os_supported = -1};

	(void)ctx;
	if (!json_is_object(d)) {
		mtd_sdk_err(err, errlen, "a device must be an object");
		return MTD_PLUGIN_EMALFORMED;
	}
	if (mtd_sdk_get_enum(d, "riskCategory", risk, &m.level, err, errlen) ||
	    mtd_sdk_get_time(d, "lastUpdated", &m.at, err, errlen) ||
	    read_ids(d, "guid", "externalId", "user.email", "info.device.osType", &id, err, errlen))
		return MTD_PLUGIN_EMALFORMED;
	m.refs = id.refs;
	m.nrefs = id.n;
	mtd_sdk_emit(host, sink, &m); /* the host records what it refuses */
	return MTD_PLUGIN_OK;
}

/* The threat's id: its type and what it is about (the app, the host), so
 * that a later event about the same thing names the same threat. */
static const char *threat_id(json_t *ev, const char *type, char *buf, size_t buflen)
{
	const char *what = mtd_sdk_str(ev, "app.id");
	int n;

	if (!what)
		what = mtd_sdk_str(ev, "destination.name");
	if (!what)
		return type;
	n = snprintf(buf, buflen, "%s:%s", type, what);
	return n > 0 && (size_t)n < buflen && (size_t)n <= MTD_SDK_MAX_ID ? buf : type;
}

static int decode_event(void *ctx, const mtd_host_api *host, void *sink, json_t *e,
			char *err, size_t errlen)
{
	ids id;
	char id_buf[MTD_SDK_MAX_ID + 1];
	int k, open;
	json_t *ev = json_object_get(e, "event"), *sev;
	mtd_sdk_threat th = {0};
	mtd_sdk_msg m = {.type = "threat_event", .os_supported = -1, .threat = &th};

	(void)ctx;
	if (!json_is_object(ev)) {
		mtd_sdk_err(err, errlen, "field 'event': %s", ev ? "not an object" : "missing");
		return MTD_PLUGIN_EMALFORMED;
	}
	sev = json_object_get(ev, "severity");
	if (mtd_sdk_get_time(ev, "timestamp", &m.at, err, errlen) ||
	    mtd_sdk_get_enum(ev, "eventType.name", event_names, &k, err, errlen) ||
	    mtd_sdk_get_enum(ev, "action", actions, &open, err, errlen) ||
	    read_ids(ev, "device.deviceId", "device.externalId", "user.email", "device.os", &id,
		     err, errlen)) {
		mtd_sdk_err_prefix(err, errlen, "event: ");
		return MTD_PLUGIN_EMALFORMED;
	}
	th.name = mtd_sdk_str(ev, "eventType.name");
	th.id = threat_id(ev, th.name, id_buf, sizeof id_buf);
	th.category = category[k];
	if (open) {
		json_int_t s = json_is_integer(sev) ? json_integer_value(sev) : -1;
		/* values 6, 8 and 10 are seen; the scale is not documented [U]: our
		 * reading of 0..10 */
		if (s < 0 || s > 10) {
			mtd_sdk_err(err, errlen, "field 'event.severity': not an integer from 0 to 10");
			return MTD_PLUGIN_EMALFORMED;
		}
		th.level = s == 0 ? MTD_LEVEL_SECURED
			   : s <= 3 ? MTD_LEVEL_LOW
			   : s <= 7 ? MTD_LEVEL_MEDIUM
				    : MTD_LEVEL_HIGH;
	}
	m.state = open ? "open" : "resolved";
	m.refs = id.refs;
	m.nrefs = id.n;
	mtd_sdk_emit(host, sink, &m);
	return MTD_PLUGIN_OK;
}

/* One record or element: a stream event or a Risk API device. */
static int decode_any(void *ctx, const mtd_host_api *host, void *sink, json_t *e, char *err,
		      size_t errlen)
{
	if (json_is_object(e) && json_object_get(e, "event"))
		return decode_event(ctx, host, sink, e, err, errlen);
	return decode_device(ctx, host, sink, e, err, errlen);
}

static int w_decode(void *state, const mtd_host_api *host, void *sink, const void *data,
		    size_t len, char *err, size_t errlen)
{
	(void)state;
	return mtd_sdk_decode_page(host, sink, data, len, "userDeviceList", MAX_PAGE,
				   decode_any, NULL, err, errlen);
}

/* ---- the Jamf Security Cloud Risk API (plugin ABI 1.2) ----
 * Token: POST https://api.wandera.com/v1/login with HTTP Basic
 * (application id : application secret); the answer's "token" is a JWT
 * sent as a bearer (it lasts 15 minutes: a 401 logs in again). Devices:
 * GET /risk/v2/devices?page=N&pageSize=100, N from 0, until a page's
 * userDeviceList is empty; each device's riskCategory is its posture. The
 * Threat Events Stream is pushed by Jamf, not pulled (README.md).
 * Sources: developer.jamf.com/jamf-security/reference/login and
 * .../docs/risk-api-2 (the login, /risk/v2/devices, page from 0, pageSize at
 * most 100); netskopeoss/ta_cloud_exchange_plugins jamf_ztre (BSD-3:
 * utils/helper.py's Basic login reading "token", main.py's pages from 0
 * ended by an empty userDeviceList). */

static const mtd_api_endpoint w_endpoints[] = {
	{.name = "devices",
	 .path = "/risk/v2/devices?pageSize=100",
	 .paging = MTD_API_PAGE_NUMBER,
	 .resume_param = "page",
	 .start = "0"},
};

static const mtd_api w_api = {
	.struct_size = sizeof(mtd_api),
	.endpoint_size = sizeof(mtd_api_endpoint),
	.base_url = "https://api.wandera.com",
	.auth = MTD_API_AUTH_BASIC_TOKEN,
	.token_url = "/v1/login",
	.endpoints = w_endpoints,
	.nendpoints = 1,
};

static int w_api_decode(void *state, const mtd_host_api *host, void *sink, uint32_t what,
			uint32_t endpoint, const void *data, size_t len, char *err, size_t errlen)
{
	json_t *root, *list;
	int rc;
	(void)state, (void)endpoint;
	if (what == MTD_API_DECODE_TOKEN)
		return mtd_sdk_api_token(host, sink, data, len, "token", NULL, NULL, err, errlen);
	if (what != MTD_API_DECODE_PAGE) {
		mtd_sdk_err(err, errlen, "unknown api_decode request %u", what);
		return MTD_PLUGIN_EINTERNAL;
	}
	if (!(root = mtd_sdk_parse(data, len, err, errlen)))
		return MTD_PLUGIN_EMALFORMED;
	if (!json_is_object(root) || !json_is_array(list = json_object_get(root, "userDeviceList"))) {
		mtd_sdk_err(err, errlen, "not a Risk API page: no 'userDeviceList' array");
		json_decref(root);
		return MTD_PLUGIN_EMALFORMED;
	}
	rc = mtd_sdk_each(host, sink, list, "userDeviceList", MAX_PAGE, decode_device, NULL, err,
			  errlen);
	/* the host turns the page on while pages hold devices */
	if (rc == MTD_PLUGIN_OK) {
		char n[24];
		snprintf(n, sizeof n, "%zu", json_array_size(list));
		if (mtd_sdk_api_value(host, sink, MTD_API_V_COUNT, n))
			rc = MTD_PLUGIN_EMALFORMED;
	}
	json_decref(root);
	return rc;
}

static const mtd_plugin wandera = {
	.abi_version = MTD_PLUGIN_ABI_VERSION,
	.struct_size = sizeof(mtd_plugin),
	.id = "wandera",
	.name = "Jamf Mobile Threat Defense",
	.platforms = MTD_PLUGIN_ANDROID | MTD_PLUGIN_IOS,
	.mam_platforms = MTD_PLUGIN_ANDROID | MTD_PLUGIN_IOS,
	.capabilities = MTD_PLUGIN_CAP_THREAT | MTD_PLUGIN_CAP_APP_PROTECTION |
			MTD_PLUGIN_CAP_APPSYNC,
	.open = mtd_sdk_open_stateless,
	.decode = w_decode,
	.close = mtd_sdk_close_stateless,
	.appsync_translate = NULL,
	.api = &w_api,
	.api_decode = w_api_decode,
};

MTD_SDK_PLUGIN_ENTRY(wandera)
