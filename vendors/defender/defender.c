/* defender: Microsoft Defender for Endpoint, machine risk.
 *
 * Native format: a machine entity of the MDE Machine API (GET
 * /api/machines), one per record, or the OData page {"value": [...],
 * "@odata.nextLink": ...}. Each onboarded machine is a snapshot of its
 * level, its riskScore; each alert of the Alerts API (/api/alerts, the same
 * pages) opens or resolves one threat. The device is named by the MDE
 * machine id and, when the machine has one (aadDeviceId may be null,
 * documented), its Entra device id. See README.md for the sources and the
 * mappings. */
#include <string.h>

#include "mtdgate/sdk.h"

#define MAX_PAGE 10000 /* machines per page (the API's own page limit) */

/* riskScore (machine.md): None, Informational, Low, Medium, High. Intune
 * calls the lowest "Clear" ("Defender for Endpoint uses the value
 * Secure"). Informational is below Low: it counts as low, since the
 * reference has no level between secured and low. */
static const mtd_sdk_enum risk[] = {
	{"None", MTD_LEVEL_SECURED}, {"Informational", MTD_LEVEL_LOW}, {"Low", MTD_LEVEL_LOW},
	{"Medium", MTD_LEVEL_MEDIUM}, {"High", MTD_LEVEL_HIGH},       {NULL, 0},
};

/* onboardingStatus: only an onboarded machine has a meaningful risk. The
 * docs spell the value "onboarded", the example "Onboarded". */
static const mtd_sdk_enum onboarding[] = {
	{"onboarded", 1}, {"Onboarded", 1},      {"CanBeOnboarded", 0},
	{"Unsupported", 0}, {"InsufficientInfo", 0}, {NULL, 0},
};

/* healthStatus: the sensor's state. Every state reports the risk score
 * Defender last computed, dated by lastSeen: an inactive machine's report
 * is simply old, which mtdgate's unresponsive rule sees. */
static const mtd_sdk_enum health[] = {
	{"Active", 1},       {"Inactive", 1}, {"ImpairedCommunication", 1}, {"NoSensorData", 1},
	{"NoSensorDataImpairedCommunication", 1}, {"Unknown", 1},           {NULL, 0},
};

/* osPlatform is open-ended ("Windows10", "Windows11", "WindowsServer2019",
 * "iOS", "Android", "macOS", "Linux"...): a qualifier when recognised. */
static const char *platform(json_t *m)
{
	const char *p = mtd_sdk_str(m, "osPlatform");
	if (!p)
		return NULL;
	if (!strncmp(p, "Windows", 7))
		return "windows";
	return !strcmp(p, "iOS") || !strcmp(p, "iPadOS") ? "ios"
	       : !strcmp(p, "Android")                   ? "android"
	       : !strcmp(p, "macOS")                     ? "macos"
							 : NULL;
}

/* Alerts API (alerts.md): severity UnSpecified, Informational, Low,
 * Medium, High; status Unknown, New, InProgress, Resolved. An alert that
 * says nothing of its severity counts as the lowest finding. */
static const mtd_sdk_enum alert_severity[] = {
	{"UnSpecified", MTD_LEVEL_LOW}, {"Informational", MTD_LEVEL_LOW}, {"Low", MTD_LEVEL_LOW},
	{"Medium", MTD_LEVEL_MEDIUM},   {"High", MTD_LEVEL_HIGH},         {NULL, 0},
};
static const mtd_sdk_enum alert_status[] = {
	{"Unknown", 1}, {"New", 1}, {"InProgress", 1}, {"Resolved", 0}, {NULL, 0},
};

/* An alert of /api/alerts: one threat of the machine, opened until its
 * status is Resolved. */
static int decode_alert(json_t *a, const mtd_host_api *host, void *sink, char *err,
			size_t errlen)
{
	mtd_sdk_msg msg = {.type = "threat_event", .os_supported = -1};
	mtd_sdk_threat th = {.category = "device"};
	mtd_sdk_ref ref;
	char buf[MTD_SDK_ID_BUF];
	const char *mid, *title;
	int open;

	if (mtd_sdk_get_str(a, "id", 1, MTD_SDK_MAX_ID, &th.id, err, errlen) ||
	    mtd_sdk_get_enum(a, "status", alert_status, &open, err, errlen) ||
	    mtd_sdk_get_id(a, "machineId", buf, &mid, err, errlen) ||
	    mtd_sdk_get_time(a, mtd_sdk_str(a, "lastUpdateTime") ? "lastUpdateTime"
								 : "alertCreationTime",
			     &msg.at, err, errlen))
		return MTD_PLUGIN_EMALFORMED;
	if (!mid) {
		mtd_sdk_err(err, errlen, "field 'machineId': missing");
		return MTD_PLUGIN_EMALFORMED;
	}
	if (open) {
		if (mtd_sdk_get_enum(a, "severity", alert_severity, &th.level, err, errlen) ||
		    mtd_sdk_get_str(a, "title", 0, MTD_SDK_MAX_STR, &title, err, errlen))
			return MTD_PLUGIN_EMALFORMED;
		th.name = title;
	} else {
		th = (mtd_sdk_threat){.id = th.id};
	}
	ref = (mtd_sdk_ref){"vendor_device_id", mid};
	msg.refs = &ref;
	msg.nrefs = 1;
	msg.threat = &th;
	msg.state = open ? "open" : "resolved";
	mtd_sdk_emit(host, sink, &msg); /* the host reports what it refuses */
	return MTD_PLUGIN_OK;
}

static int decode_machine(void *ctx, const mtd_host_api *host, void *sink, json_t *m,
			  char *err, size_t errlen)
{
	mtd_sdk_threat th;
	mtd_sdk_msg msg = {.type = "threat", .os_supported = -1};
	mtd_sdk_ref refs[3];
	char ibuf[MTD_SDK_ID_BUF], abuf[MTD_SDK_ID_BUF];
	const char *id, *aad;
	int onboarded = 1, h;

	(void)ctx;
	if (!json_is_object(m)) {
		mtd_sdk_err(err, errlen, "a machine must be an object");
		return MTD_PLUGIN_EMALFORMED;
	}
	if (mtd_sdk_path(m, "alertCreationTime") && !mtd_sdk_path(m, "riskScore"))
		return decode_alert(m, host, sink, err, errlen);
	if (mtd_sdk_path(m, "onboardingStatus") && !json_is_null(mtd_sdk_path(m, "onboardingStatus")) &&
	    mtd_sdk_get_enum(m, "onboardingStatus", onboarding, &onboarded, err, errlen))
		return MTD_PLUGIN_EMALFORMED;
	if (!onboarded)
		return MTD_PLUGIN_OK; /* not onboarded: Defender says nothing about it */
	if ((mtd_sdk_path(m, "healthStatus") && !json_is_null(mtd_sdk_path(m, "healthStatus")) &&
	     mtd_sdk_get_enum(m, "healthStatus", health, &h, err, errlen)) ||
	    mtd_sdk_get_id(m, "id", ibuf, &id, err, errlen) ||
	    mtd_sdk_get_id(m, "aadDeviceId", abuf, &aad, err, errlen) ||
	    mtd_sdk_get_enum(m, "riskScore", risk, &msg.level, err, errlen) ||
	    mtd_sdk_get_time(m, "lastSeen", &msg.at, err, errlen))
		return MTD_PLUGIN_EMALFORMED;
	if (!id && !aad) {
		mtd_sdk_err(err, errlen, "field 'id': missing, and no 'aadDeviceId' either");
		return MTD_PLUGIN_EMALFORMED;
	}
	refs[0] = (mtd_sdk_ref){"entra", aad};
	refs[1] = (mtd_sdk_ref){"vendor_device_id", id};
	refs[2] = (mtd_sdk_ref){"platform", platform(m)};
	msg.refs = refs;
	msg.nrefs = 3;
	if (msg.level > MTD_LEVEL_SECURED) {
		/* the machine API names no threat: say where the level came from */
		th = (mtd_sdk_threat){.id = id, .category = "device", .name = "machine risk score",
				      .level = msg.level};
		msg.threats = &th;
		msg.nthreats = 1;
	}
	mtd_sdk_emit(host, sink, &msg); /* the host reports what it refuses */
	return MTD_PLUGIN_OK;
}

static int d_decode(void *state, const mtd_host_api *host, void *sink, const void *data,
		    size_t len, char *err, size_t errlen)
{
	(void)state;
	return mtd_sdk_decode_page(host, sink, data, len, "value", MAX_PAGE, decode_machine, NULL, err,
				   errlen);
}

/* ---- the Defender for Endpoint API (plugin ABI 1.2) ----
 * Token: Entra ID client credentials (an app registration with the
 * WindowsDefenderATP application permission Machine.Read.All), POST
 * https://login.microsoftonline.com/{tenant}/oauth2/v2.0/token with scope
 * https://api.securitycenter.microsoft.com/.default. Machines: GET
 * /api/machines, OData pages {"value":[...], "@odata.nextLink": URL}.
 * GCC High: api_url=https://api-gov.securitycenter.microsoft.us and
 * token_url=https://login.microsoftonline.us/TENANT/oauth2/v2.0/token.
 * learn.microsoft.com/defender-endpoint/api/exposed-apis-create-app-webapp,
 * .../api/get-machines. */

static const char *const d_settings[] = {"tenant", NULL};

static const mtd_api_endpoint d_endpoints[] = {
	{.name = "machines", .path = "/api/machines?$top=1000", .paging = MTD_API_PAGE_LINK},
};

static const mtd_api d_api = {
	.struct_size = sizeof(mtd_api),
	.endpoint_size = sizeof(mtd_api_endpoint),
	.base_url = "https://api.securitycenter.microsoft.com",
	.auth = MTD_API_AUTH_OAUTH2,
	.token_url = "https://login.microsoftonline.com/{tenant}/oauth2/v2.0/token",
	.scope = "https://api.securitycenter.microsoft.com/.default",
	.endpoints = d_endpoints,
	.nendpoints = 1,
	.settings = d_settings,
};

static int d_api_decode(void *state, const mtd_host_api *host, void *sink, uint32_t what,
			uint32_t endpoint, const void *data, size_t len, char *err, size_t errlen)
{
	json_t *root;
	int rc;
	(void)state, (void)endpoint;
	if (what == MTD_API_DECODE_TOKEN)
		return mtd_sdk_api_token(host, sink, data, len, "access_token", "expires_in", NULL,
					 err, errlen);
	if (what != MTD_API_DECODE_PAGE) {
		mtd_sdk_err(err, errlen, "unknown api_decode request %u", what);
		return MTD_PLUGIN_EINTERNAL;
	}
	if (!(root = mtd_sdk_parse(data, len, err, errlen)))
		return MTD_PLUGIN_EMALFORMED;
	if (!json_is_object(root) || !json_is_array(json_object_get(root, "value"))) {
		mtd_sdk_err(err, errlen, "not an OData page: no 'value' array");
		json_decref(root);
		return MTD_PLUGIN_EMALFORMED;
	}
	rc = mtd_sdk_each(host, sink, json_object_get(root, "value"), "value", MAX_PAGE,
			  decode_machine, NULL, err, errlen);
	if (rc == MTD_PLUGIN_OK &&
	    mtd_sdk_api_link(host, sink, root, "@odata.nextLink", MTD_API_V_NEXT, err, errlen))
		rc = MTD_PLUGIN_EMALFORMED;
	json_decref(root);
	return rc;
}

static const mtd_plugin defender = {
	.abi_version = MTD_PLUGIN_ABI_VERSION,
	.struct_size = sizeof(mtd_plugin),
	.id = "defender",
	.name = "Microsoft Defender for Endpoint",
	/* R11: Defender reports on Android, iOS/iPadOS, Windows and macOS;
	 * app protection on Android, iOS/iPadOS and Windows. */
	.platforms = MTD_PLUGIN_ANDROID | MTD_PLUGIN_IOS | MTD_PLUGIN_WINDOWS | MTD_PLUGIN_MACOS,
	.mam_platforms = MTD_PLUGIN_ANDROID | MTD_PLUGIN_IOS | MTD_PLUGIN_WINDOWS,
	.capabilities = MTD_PLUGIN_CAP_THREAT | MTD_PLUGIN_CAP_APP_PROTECTION |
			MTD_PLUGIN_CAP_GOV_CLOUD,
	.open = mtd_sdk_open_stateless,
	.decode = d_decode,
	.close = mtd_sdk_close_stateless,
	.appsync_translate = NULL,
	.api = &d_api,
	.api_decode = d_api_decode,
};

MTD_SDK_PLUGIN_ENTRY(defender)
