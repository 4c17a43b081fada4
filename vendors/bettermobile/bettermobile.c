/* bettermobile: BETTER Mobile Security (BETTER MTD).
 *
 * Two native records, as BETTER MTD's logs name them:
 *  - a device record (DeviceId, ThreatLevel, LastReported, ...): the
 *    device's whole level;
 *  - an incident record (ThreatId, ThreatSeverity, ThreatCategory, Status,
 *    EventTimeStamp, ...): one threat.
 * One record per payload, or a JSON array of them (as the logs export).
 * See README.md. */
#include <string.h>

#include "mtdgate/sdk.h"


#define MAX_PAGE 10000

/* Device ThreatLevel: "Medium" is the only value in public samples [U];
 * the rest of the scale is our explicit reading. */
static const mtd_sdk_enum device_level[] = {
	{"None", MTD_LEVEL_SECURED}, {"Low", MTD_LEVEL_LOW}, {"Medium", MTD_LEVEL_MEDIUM},
	{"High", MTD_LEVEL_HIGH},    {NULL, 0},
};

/* Incident ThreatSeverity: low/medium/high [V]. */
static const mtd_sdk_enum severity[] = {
	{"low", MTD_LEVEL_LOW}, {"medium", MTD_LEVEL_MEDIUM}, {"high", MTD_LEVEL_HIGH}, {NULL, 0},
};

/* Incident ThreatCategory [V]. */
static const mtd_sdk_enum categories[] = {
	{"NETWORK", 0}, {"APPLICATION", 1}, {"DEVICE", 2}, {NULL, 0},
};
static const char *const category[] = {"network", "app", "device"};

static int decode_record(json_t *r, const mtd_host_api *host, void *sink, char *err,
			 size_t errlen)
{
	mtd_sdk_threat th = {0};
	mtd_sdk_msg m = {.type = "threat", .os_supported = -1};
	const char *status;
	int k;

	if (!json_is_object(r)) {
		mtd_sdk_err(err, errlen, "a record must be an object");
		return -1;
	}
	if (mtd_sdk_get_str(r, "DeviceId", 1, MTD_SDK_MAX_ID, &m.device, err, errlen))
		return -1;
	if (!mtd_sdk_path(r, "ThreatSeverity")) { /* a device record */
		if (mtd_sdk_get_enum(r, "ThreatLevel", device_level, &m.level, err, errlen) ||
		    mtd_sdk_get_time(r, "LastReported", &m.at, err, errlen))
			return -1;
		return mtd_sdk_emit(host, sink, &m) < 0 ? -1 : 0;
	}
	/* an incident */
	if (mtd_sdk_get_str(r, "Status", 0, MTD_SDK_MAX_STR, &status, err, errlen) ||
	    mtd_sdk_get_enum(r, "ThreatSeverity", severity, &th.level, err, errlen) ||
	    mtd_sdk_get_enum(r, "ThreatCategory", categories, &k, err, errlen) ||
	    mtd_sdk_get_time(r, "EventTimeStamp", &m.at, err, errlen) ||
	    mtd_sdk_get_str(r, "ThreatId", 0, MTD_SDK_MAX_ID, &th.id, err, errlen) ||
	    mtd_sdk_get_str(r, "ThreatTitle", 0, MTD_SDK_MAX_STR, &th.name, err, errlen))
		return -1;
	if (status && !strcmp(status, "Resolved"))
		return 0; /* the device record says what is left; see README */
	th.category = category[k];
	m.level = th.level;
	m.threats = &th;
	m.nthreats = 1;
	return mtd_sdk_emit(host, sink, &m) < 0 ? -1 : 0;
}

static int b_decode(void *state, const mtd_host_api *host, void *sink, const void *data,
		    size_t len, char *err, size_t errlen)
{
	json_t *v = mtd_sdk_parse(data, len, err, errlen), *r;
	size_t i;
	int rc = 0;

	(void)state;
	if (!v)
		return -1;
	if (!json_is_array(v)) {
		rc = decode_record(v, host, sink, err, errlen);
	} else if (json_array_size(v) > MAX_PAGE) {
		mtd_sdk_err(err, errlen, "more than %d records in one array", MAX_PAGE);
		rc = -1;
	} else {
		json_array_foreach(v, i, r) {
			if ((rc = decode_record(r, host, sink, err, errlen))) {
				mtd_sdk_err_prefix(err, errlen, "[%zu]: ", i);
				break;
			}
		}
	}
	json_decref(v);
	return rc;
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
