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
};

MTD_SDK_PLUGIN_ENTRY(pradeo)
