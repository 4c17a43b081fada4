/* pradeo: Pradeo Security Mobile Threat Defense events.
 *
 * A record is one Pradeo event, in either of the two forms Pradeo sends
 * [V] (Sekoia's Pradeo MTD samples):
 *  - the envelope {id, creationDate, source, category, type, content{...}};
 *  - the newer bare object {id, deviceCorrelation{...}} (no envelope).
 * A JSON array of events is read too. The device correlation carries the
 * device's application/system/network threat levels: the device's posture,
 * a snapshot ("threat" message) naming the device by Pradeo's own id and
 * every identifier Pradeo has (EMM id, serial number, IMEI, user). The other
 * event types carry no threat level and are skipped. See README.md. */
#include <stdio.h>
#include <string.h>

#include "mtdgate/sdk.h"

#define MAX_PAGE 10000

/* Pradeo threat levels. Green/Orange/Red and NotYetAvailable [V];
 * Yellow [U]. NotYetAvailable: that axis is not assessed yet. */
#define NOT_YET 0
static const mtd_sdk_enum threat_level[] = {
	{"Green", MTD_LEVEL_SECURED}, {"Yellow", MTD_LEVEL_LOW},
	{"Orange", MTD_LEVEL_MEDIUM}, {"Red", MTD_LEVEL_HIGH},
	{"NotYetAvailable", NOT_YET}, {NULL, 0},
};

/* The three levels of a device correlation, each one threat when not
 * Green (fixed ids, so that the next correlation replaces them). */
static const struct {
	const char *field, *id, *category;
} axes[] = {
	{"applicationThreatLevel", "application", "app"},
	{"systemThreatLevel", "system", "device"},
	{"networkThreatLevel", "network", "network"},
};
#define NAXES (sizeof axes / sizeof axes[0])

/* Event types that carry no device threat level [V]: skipped. */
static const char *const skipped[] = {
	"DeviceDetection",
	"DeviceComplianceUpdated",
	"DeviceSystemStatusRecordUpdated",
	"DeviceNetworkStatusRecordUpdated",
	"DeviceApplicationComplianceUpdated",
	"DeviceStatusHistoryUpdated",
	"DevicePermissionStatusUpdated",
	"ApplicationCreated",
	"ApplicationComplianceUpdated",
	"DetectionPolicyUpdated",
	"MessageCreated", /* an administrator's message to the users (source "admin") */
	"TokenGenerated",
	"DetectionPolicyDecision", /* an app allowed or not by a policy: no device */
	"DeviceApplicationResponseRuleCreated",
	"DeviceInstalledApplicationsListUpdated", /* the inventory, not a level */
	NULL,
};

/* declaredOperatingSystem [V: Android, iOS] -> device_ref platform. */
static const char *platform_of(const char *os)
{
	if (!os)
		return NULL;
	return !strcmp(os, "Android") ? "android" : !strcmp(os, "iOS") ? "ios" : NULL;
}

/* The correlation's device as a device_ref, strongest first. */
static int device_refs(json_t *dev, mtd_sdk_ref *refs, size_t *n, char *err, size_t errlen)
{
	const char *own, *ext, *emm, *serial, *imei, *email, *os;

	if (!json_is_object(dev)) {
		mtd_sdk_err(err, errlen, "field 'device': %s", dev ? "not an object" : "missing");
		return -1;
	}
	if (mtd_sdk_get_str(dev, "id", 0, MTD_SDK_MAX_ID, &own, err, errlen) ||
	    mtd_sdk_get_str(dev, "emmDeviceInfo.externalId", 0, MTD_SDK_MAX_ID, &ext, err,
			    errlen) ||
	    mtd_sdk_get_str(dev, "emmDeviceInfo.emm", 0, MTD_SDK_MAX_STR, &emm, err, errlen) ||
	    (!emm && mtd_sdk_get_str(dev, "emmDeviceInfo.integration.emm", 0, MTD_SDK_MAX_STR,
				     &emm, err, errlen)) ||
	    mtd_sdk_get_str(dev, "serialNumber", 0, MTD_SDK_MAX_ID, &serial, err, errlen) ||
	    mtd_sdk_get_str(dev, "imei", 0, MTD_SDK_MAX_ID, &imei, err, errlen) ||
	    mtd_sdk_get_str(dev, "email", 0, MTD_SDK_MAX_ID, &email, err, errlen) ||
	    mtd_sdk_get_str(dev, "declaredOperatingSystem", 0, MTD_SDK_MAX_STR, &os, err,
			    errlen)) {
		mtd_sdk_err_prefix(err, errlen, "device: ");
		return -1;
	}
	/* the EMM's own id: Intune's when Pradeo says the EMM is Intune [V
	 * "intune", "airwatch"], otherwise an MDM id of an EMM we do not know */
	*n = mtd_sdk_ref_add(refs, 0, 7, emm && !strcmp(emm, "intune") ? "intune" : "mdm", ext);
	*n = mtd_sdk_ref_add(refs, *n, 7, "serial", serial);
	*n = mtd_sdk_ref_add(refs, *n, 7, "imei", imei);
	*n = mtd_sdk_ref_add(refs, *n, 7, "vendor_device_id", own);
	*n = mtd_sdk_ref_user(refs, *n, 7, email, platform_of(os));
	if (*n == 0) {
		mtd_sdk_err(err, errlen, "field 'device': no identifier (id, emmDeviceInfo.externalId, "
					 "serialNumber, imei, email)");
		return -1;
	}
	return 0;
}

/* A device correlation c; at is the event's time when it has one. */
static int decode_correlation(json_t *c, int64_t at, const mtd_host_api *host, void *sink,
			      char *err, size_t errlen)
{
	mtd_sdk_threat th[NAXES];
	mtd_sdk_ref refs[7];
	size_t nth = 0, nrefs;
	int known = 0;
	mtd_sdk_msg m = {.type = "threat", .os_supported = -1, .level = MTD_LEVEL_SECURED};

	if (!json_is_object(c)) {
		mtd_sdk_err(err, errlen, "field 'deviceCorrelation': not an object");
		return MTD_PLUGIN_EMALFORMED;
	}
	/* the correlation's own time; the envelope's when it has none */
	if (mtd_sdk_path(c, "lastModificationDate")) {
		if (mtd_sdk_get_time(c, "lastModificationDate", &at, err, errlen))
			return MTD_PLUGIN_EMALFORMED;
	} else if (at < 0) {
		mtd_sdk_err(err, errlen, "field 'deviceCorrelation.lastModificationDate': missing");
		return MTD_PLUGIN_EMALFORMED;
	}
	for (size_t i = 0; i < NAXES; i++) {
		int lvl;
		if (mtd_sdk_get_enum(c, axes[i].field, threat_level, &lvl, err, errlen))
			return MTD_PLUGIN_EMALFORMED;
		if (lvl == NOT_YET)
			continue;
		known = 1;
		if (lvl > m.level)
			m.level = lvl;
		if (lvl == MTD_LEVEL_SECURED)
			continue;
		th[nth] = (mtd_sdk_threat){axes[i].id, axes[i].category, axes[i].field, lvl};
		nth++;
	}
	if (device_refs(json_object_get(c, "device"), refs, &nrefs, err, errlen))
		return MTD_PLUGIN_EMALFORMED;
	if (!known)
		return MTD_PLUGIN_OK; /* nothing assessed yet: no posture to report */
	m.at = at;
	m.threats = nth ? th : NULL;
	m.nthreats = nth;
	m.refs = refs;
	m.nrefs = nrefs;
	mtd_sdk_emit(host, sink, &m); /* the host records what it refuses */
	return MTD_PLUGIN_OK;
}

static int decode_event(void *ctx, const mtd_host_api *host, void *sink, json_t *v, char *err,
			size_t errlen)
{
	const char *type;
	int64_t at;
	json_t *c;

	(void)ctx;
	if (!json_is_object(v)) {
		mtd_sdk_err(err, errlen, "a Pradeo event must be an object");
		return MTD_PLUGIN_EMALFORMED;
	}
	if (!json_object_get(v, "type")) { /* the bare form */
		if (!(c = json_object_get(v, "deviceCorrelation")))
			return MTD_PLUGIN_OK; /* emmApplication and others: no level */
		return decode_correlation(c, -1, host, sink, err, errlen);
	}
	if (mtd_sdk_get_str(v, "type", 1, MTD_SDK_MAX_STR, &type, err, errlen) ||
	    mtd_sdk_get_time(v, "creationDate", &at, err, errlen))
		return MTD_PLUGIN_EMALFORMED;
	if (!strcmp(type, "DeviceCorrelationUpdated")) {
		c = mtd_sdk_path(v, "content.deviceCorrelation");
		if (!c) {
			mtd_sdk_err(err, errlen, "field 'content.deviceCorrelation': missing");
			return MTD_PLUGIN_EMALFORMED;
		}
		return decode_correlation(c, at, host, sink, err, errlen);
	}
	for (const char *const *s = skipped; *s; s++)
		if (!strcmp(type, *s))
			return MTD_PLUGIN_OK;
	mtd_sdk_err(err, errlen, "field 'type': unknown event type '%.64s'", type);
	return MTD_PLUGIN_EMALFORMED;
}

static int pr_decode(void *state, const mtd_host_api *host, void *sink, const void *data,
		     size_t len, char *err, size_t errlen)
{
	(void)state;
	return mtd_sdk_decode_page(host, sink, data, len, "events", MAX_PAGE, decode_event,
				   NULL, err, errlen);
}

/* ---- the Pradeo Security API v2 (plugin ABI 1.2) ----
 * api.docs.pradeo.io (read 2026-12): "API Basics" (a host per tenant,
 * https://api.<tenant>.pradeo-security.com/v2/..., 1,000 requests a minute,
 * 429 beyond), "Authentication" (every request carries two headers,
 * x-access-key: the company's access key, and x-secret-key: a user's
 * personal secret key; no token), "Common Data Models" (a Device: id, name,
 * platform "ios", osVersion, serialNumber, imei, lastSyncAt, riskLevel
 * "low", securityStatus "secured", ...) and "Device Groups" (lists paged
 * with take, at most 500, and skip, answered {"total", "items": [...]}).
 * GET /v2/devices is named there; that it pages as the device groups do is
 * the API's convention, assumed here [S]. The connector's client_id is the
 * access key, its secret file the secret key. */

static const char *const pr_settings[] = {"tenant", NULL};

static const mtd_api_endpoint pr_endpoints[] = {
	{.name = "devices", .path = "/v2/devices?take=500", .paging = MTD_API_PAGE_OFFSET,
	 .resume_param = "skip"},
};

static const mtd_api pr_api = {
	.struct_size = sizeof(mtd_api),
	.endpoint_size = sizeof(mtd_api_endpoint),
	.base_url = "https://api.{tenant}.pradeo-security.com",
	.auth = MTD_API_AUTH_KEY,
	.key_header = "x-secret-key",
	.id_header = "x-access-key",
	.endpoints = pr_endpoints,
	.nendpoints = 1,
	.settings = pr_settings,
};

/* A device's riskLevel. The data model shows "low" (devices) and "medium",
 * "high" (applications, reports): the levels one to one. Any other value
 * is not documented and is refused with its name, not guessed [U]. */
static const mtd_sdk_enum risk_level[] = {
	{"low", MTD_LEVEL_LOW}, {"medium", MTD_LEVEL_MEDIUM}, {"high", MTD_LEVEL_HIGH},
	{NULL, 0},
};

/* platform "ios" [V], "android" [S] -> device_ref platform */
static const char *api_platform(const char *pl)
{
	return !pl ? NULL : !strcmp(pl, "ios") ? "ios" : !strcmp(pl, "android") ? "android" : NULL;
}

/* One device of a /v2/devices page: its posture as a snapshot, the level its
 * riskLevel; the event id is the device and its sync time, so the same
 * device unchanged at the next pull is a replay. */
static int decode_api_device(void *ctx, const mtd_host_api *host, void *sink, json_t *d,
			     char *err, size_t errlen)
{
	mtd_sdk_msg m = {.type = "threat", .os_supported = -1};
	mtd_sdk_threat th = {.id = "risk", .category = "device", .name = "riskLevel"};
	mtd_sdk_ref refs[5];
	const char *id, *serial, *imei, *pl, *sync;
	char eid[200];
	size_t n;

	(void)ctx;
	if (!json_is_object(d)) {
		mtd_sdk_err(err, errlen, "a device must be an object");
		return MTD_PLUGIN_EMALFORMED;
	}
	if (mtd_sdk_get_str(d, "id", 1, MTD_SDK_MAX_ID, &id, err, errlen) ||
	    mtd_sdk_get_str(d, "serialNumber", 0, MTD_SDK_MAX_ID, &serial, err, errlen) ||
	    mtd_sdk_get_str(d, "imei", 0, MTD_SDK_MAX_ID, &imei, err, errlen) ||
	    mtd_sdk_get_str(d, "platform", 0, MTD_SDK_MAX_STR, &pl, err, errlen) ||
	    mtd_sdk_get_str(d, "lastSyncAt", 1, MTD_SDK_MAX_STR, &sync, err, errlen) ||
	    mtd_sdk_get_time(d, "lastSyncAt", &m.at, err, errlen) ||
	    mtd_sdk_get_enum(d, "riskLevel", risk_level, &m.level, err, errlen))
		return MTD_PLUGIN_EMALFORMED;
	n = mtd_sdk_ref_add(refs, 0, 5, "vendor_device_id", id);
	n = mtd_sdk_ref_add(refs, n, 5, "serial", serial);
	n = mtd_sdk_ref_add(refs, n, 5, "imei", imei);
	n = mtd_sdk_ref_add(refs, n, 5, "platform", api_platform(pl));
	th.level = m.level;
	m.threats = &th;
	m.nthreats = 1;
	m.refs = refs;
	m.nrefs = n;
	snprintf(eid, sizeof eid, "d:%.80s@%.40s", id, sync);
	/* -1 from a host without event ids: the snapshot is applied all the same */
	(void)mtd_sdk_event_id(host, sink, eid);
	mtd_sdk_emit(host, sink, &m); /* the host records what it refuses */
	return MTD_PLUGIN_OK;
}

static int pr_api_decode(void *state, const mtd_host_api *host, void *sink, uint32_t what,
			 uint32_t endpoint, const void *data, size_t len, char *err, size_t errlen)
{
	json_t *root, *items, *total;
	char t[32];
	int rc;

	(void)state, (void)endpoint;
	if (what != MTD_API_DECODE_PAGE) { /* static keys: no token to decode */
		mtd_sdk_err(err, errlen, "unknown api_decode request %u", what);
		return MTD_PLUGIN_EINTERNAL;
	}
	if (!(root = mtd_sdk_parse(data, len, err, errlen)))
		return MTD_PLUGIN_EMALFORMED;
	items = json_object_get(root, "items");
	total = json_object_get(root, "total");
	if (!json_is_object(root) || !json_is_array(items) ||
	    (total && (!json_is_integer(total) || json_integer_value(total) < 0))) {
		mtd_sdk_err(err, errlen, "not a page of devices: no 'items' array, or 'total' is "
					 "not a count");
		json_decref(root);
		return MTD_PLUGIN_EMALFORMED;
	}
	rc = mtd_sdk_each(host, sink, items, "items", MAX_PAGE, decode_api_device, NULL, err,
			  errlen);
	if (rc == MTD_PLUGIN_OK) {
		snprintf(t, sizeof t, "%zu", json_array_size(items));
		if (mtd_sdk_api_value(host, sink, MTD_API_V_COUNT, t))
			rc = MTD_PLUGIN_EMALFORMED;
		if (total) {
			snprintf(t, sizeof t, "%lld", (long long)json_integer_value(total));
			if (mtd_sdk_api_value(host, sink, MTD_API_V_TOTAL, t))
				rc = MTD_PLUGIN_EMALFORMED;
		}
		if (rc)
			mtd_sdk_err(err, errlen, "the host refused the page's counts");
	}
	json_decref(root);
	return rc;
}

static const mtd_plugin pradeo = {
	.abi_version = MTD_PLUGIN_ABI_VERSION,
	.struct_size = sizeof(mtd_plugin),
	.id = "pradeo",
	.name = "Pradeo",
	.platforms = MTD_PLUGIN_ANDROID | MTD_PLUGIN_IOS,
	.mam_platforms = 0,
	.capabilities = MTD_PLUGIN_CAP_THREAT,
	.open = mtd_sdk_open_stateless,
	.decode = pr_decode,
	.close = mtd_sdk_close_stateless,
	.appsync_translate = NULL,
	.api = &pr_api,
	.api_decode = pr_api_decode,
};

MTD_SDK_PLUGIN_ENTRY(pradeo)
