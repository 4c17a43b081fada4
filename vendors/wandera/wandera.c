/* wandera: Jamf Mobile Threat Defense (formerly Wandera).
 *
 * Two native formats, told apart by their shape:
 *  - a device of the Jamf Security Cloud Risk API (risk/v2/devices), one per
 *    record or the page {"userDeviceList": [...]}: the device's whole risk,
 *    riskCategory SECURE/LOW/MEDIUM/HIGH; this is what remediates;
 *  - an event of the Threat Events Stream, {"event": {...}}: one threat,
 *    with an integer severity.
 * The device is the UEM (MDM) device id, externalId. See README.md. */
#include <string.h>

#include "mtdgate/sdk.h"


#define MAX_PAGE 10000

/* Risk API riskCategory [V]: a 1:1 mapping. */
static const mtd_sdk_enum risk[] = {
	{"SECURE", MTD_LEVEL_SECURED}, {"LOW", MTD_LEVEL_LOW}, {"MEDIUM", MTD_LEVEL_MEDIUM},
	{"HIGH", MTD_LEVEL_HIGH},      {NULL, 0},
};

/* Threat Events Stream eventType.name -> category; the names seen in
 * public samples [V]. Anything else is refused until it is mapped. */
static const mtd_sdk_enum event_names[] = {
	{"SIDE_LOADED_APP_IN_INVENTORY", 1}, {"OUTDATED_OS", 2},
	{"ACCESS_BAD_HOST", 0},              {"ACCESS_CRYPTOJACKING_HOST", 0},
	{NULL, 0},
};
static const char *const category[] = {"network", "app", "os"};

/* The stream's integer severity: values 6, 8 and 10 are seen in public
 * samples; the scale is not documented [U]. Our explicit reading of a
 * 0..10 scale; any other number is refused. */
static int severity_level(json_int_t s)
{
	if (s < 0 || s > 10)
		return -1;
	return s == 0 ? MTD_LEVEL_SECURED : s <= 3 ? MTD_LEVEL_LOW : s <= 7 ? MTD_LEVEL_MEDIUM
									 : MTD_LEVEL_HIGH;
}

static int decode_device(json_t *d, const mtd_host_api *host, void *sink, char *err,
			 size_t errlen)
{
	mtd_sdk_msg m = {.type = "threat", .os_supported = -1};

	if (!json_is_object(d)) {
		mtd_sdk_err(err, errlen, "a device must be an object");
		return -1;
	}
	if (mtd_sdk_get_str(d, "externalId", 1, MTD_SDK_MAX_ID, &m.device, err, errlen) ||
	    mtd_sdk_get_enum(d, "riskCategory", risk, &m.level, err, errlen) ||
	    mtd_sdk_get_time(d, "lastUpdated", &m.at, err, errlen))
		return -1;
	return mtd_sdk_emit(host, sink, &m) < 0 ? -1 : 0;
}

static int decode_event(json_t *e, const mtd_host_api *host, void *sink, char *err,
			size_t errlen)
{
	mtd_sdk_threat th = {0};
	mtd_sdk_msg m = {.type = "threat", .os_supported = -1, .threats = &th, .nthreats = 1};
	json_t *sev = mtd_sdk_path(e, "event.severity");
	int k;

	if (!json_is_object(json_object_get(e, "event"))) {
		mtd_sdk_err(err, errlen, "field 'event': not an object");
		return -1;
	}
	if (mtd_sdk_get_str(e, "event.device.externalId", 1, MTD_SDK_MAX_ID, &m.device, err,
			    errlen) ||
	    mtd_sdk_get_time(e, "event.timestamp", &m.at, err, errlen) ||
	    mtd_sdk_get_enum(e, "event.eventType.name", event_names, &k, err, errlen) ||
	    mtd_sdk_get_str(e, "event.alertId", 0, MTD_SDK_MAX_ID, &th.id, err, errlen))
		return -1;
	if (!json_is_integer(sev) || (m.level = severity_level(json_integer_value(sev))) < 0) {
		mtd_sdk_err(err, errlen, "field 'event.severity': not an integer from 0 to 10");
		return -1;
	}
	th.category = category[k];
	th.name = json_string_value(mtd_sdk_path(e, "event.eventType.name"));
	th.level = m.level;
	if (m.level == MTD_LEVEL_SECURED)
		m.nthreats = 0;
	return mtd_sdk_emit(host, sink, &m) < 0 ? -1 : 0;
}

static int w_decode(void *state, const mtd_host_api *host, void *sink, const void *data,
		    size_t len, char *err, size_t errlen)
{
	json_t *v = mtd_sdk_parse(data, len, err, errlen), *page, *d;
	size_t i;
	int rc = 0;

	(void)state;
	if (!v)
		return -1;
	if (!json_is_object(v)) {
		mtd_sdk_err(err, errlen, "a record must be an object");
		rc = -1;
	} else if (json_object_get(v, "event")) {
		rc = decode_event(v, host, sink, err, errlen);
	} else if ((page = json_object_get(v, "userDeviceList"))) {
		if (!json_is_array(page) || json_array_size(page) > MAX_PAGE) {
			mtd_sdk_err(err, errlen, "field 'userDeviceList': not a list of up to %d "
				    "devices", MAX_PAGE);
			rc = -1;
		}
		json_array_foreach(page, i, d) {
			if (rc || (rc = decode_device(d, host, sink, err, errlen))) {
				mtd_sdk_err_prefix(err, errlen, "userDeviceList[%zu]: ", i);
				break;
			}
		}
	} else {
		rc = decode_device(v, host, sink, err, errlen);
	}
	json_decref(v);
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
};

MTD_SDK_PLUGIN_ENTRY(wandera)
