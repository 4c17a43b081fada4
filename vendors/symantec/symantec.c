/* symantec: Symantec Endpoint Protection Mobile (SEP Mobile, formerly
 * Skycure) alert events.
 *
 * One record is one alert object, as SEP Mobile exports them to a SIEM
 * (field names [S] from the Exabeam SEP Mobile parsers; no raw public
 * sample), or a JSON array of them. An alert opens or resolves one threat
 * ("threat_event", the alert id naming the threat); a resolution that says
 * no risk is left on the device also reports the device secured ("threat"
 * snapshot). The device identifier fields and the enum values are [U];
 * see README.md. */
#include <string.h>

#include "mtdgate/sdk.h"

#define MAX_PAGE 10000

/* severity -> level [U: values not public; the exact spellings accepted]. */
static const mtd_sdk_enum severity[] = {
	{"Low", MTD_LEVEL_LOW},
	{"Medium", MTD_LEVEL_MEDIUM},
	{"High", MTD_LEVEL_HIGH},
	{NULL, 0},
};

/* type -> category [S: the five types in the Exabeam parsers]. */
static const char *const cat_names[] = {"network", "app", "os", "device"};
static const mtd_sdk_enum alert_type[] = {
	{"Malware", 1}, {"UnwantedApp", 1}, {"Network", 0}, {"VulnerableOs", 2},
	{"DeviceCompromised", 3}, {NULL, 0},
};

/* event_type -> what the event does [U]. */
enum { EV_OPEN, EV_RESOLVED, EV_NONE };
static const mtd_sdk_enum event_type[] = {
	{"detected", EV_OPEN},     {"updated", EV_OPEN},   {"resolved", EV_RESOLVED},
	{"remediated", EV_RESOLVED}, {"audit", EV_NONE},  {"info", EV_NONE},
	{NULL, 0},
};

/* device.os_type [S: Android, iOS] -> device_ref platform. */
static const char *platform_of(const char *os)
{
	if (!os)
		return NULL;
	return !strcmp(os, "Android") ? "android" : !strcmp(os, "iOS") ? "ios" : NULL;
}

/* The device's identifiers [U: field names chosen by mtdgate where no
 * public source names them; see README.md]. */
static int device_refs(json_t *v, mtd_sdk_ref *refs, size_t *n, char *err, size_t errlen)
{
	const char *mdm, *udid, *serial, *own, *email, *os;
	json_t *dev = json_object_get(v, "device");

	if (dev && !json_is_object(dev)) {
		mtd_sdk_err(err, errlen, "field 'device': not an object");
		return -1;
	}
	if (mtd_sdk_get_str(v, "device.mdm_id", 0, MTD_SDK_MAX_ID, &mdm, err, errlen) ||
	    mtd_sdk_get_str(v, "device.udid", 0, MTD_SDK_MAX_ID, &udid, err, errlen) ||
	    mtd_sdk_get_str(v, "device.serial_number", 0, MTD_SDK_MAX_ID, &serial, err, errlen) ||
	    mtd_sdk_get_str(v, "device.id", 0, MTD_SDK_MAX_ID, &own, err, errlen) ||
	    mtd_sdk_get_str(v, "user.email", 0, MTD_SDK_MAX_ID, &email, err, errlen) ||
	    mtd_sdk_get_str(v, "device.os_type", 0, MTD_SDK_MAX_STR, &os, err, errlen))
		return -1;
	*n = mtd_sdk_ref_add(refs, 0, 6, "mdm", mdm);
	*n = mtd_sdk_ref_add(refs, *n, 6, "udid", udid);
	*n = mtd_sdk_ref_add(refs, *n, 6, "serial", serial);
	*n = mtd_sdk_ref_add(refs, *n, 6, "vendor_device_id", own);
	*n = mtd_sdk_ref_user(refs, *n, 6, email, platform_of(os));
	if (*n == 0) {
		mtd_sdk_err(err, errlen, "field 'device': no identifier (mdm_id, udid, serial_number, "
					 "id, user.email)");
		return -1;
	}
	return 0;
}

/* Whether current_risk_warnings says no risk is left: 1 yes, 0 no or not
 * said, -1 malformed. */
static int no_risk_left(json_t *v, char *err, size_t errlen)
{
	json_t *crw = json_object_get(v, "current_risk_warnings");

	if (!crw || json_is_null(crw))
		return 0;
	if (json_is_integer(crw) && json_integer_value(crw) >= 0)
		return json_integer_value(crw) == 0;
	if (json_is_array(crw))
		return json_array_size(crw) == 0;
	mtd_sdk_err(err, errlen, "field 'current_risk_warnings': not a count or a list");
	return -1;
}

static int decode_alert(void *ctx, const mtd_host_api *host, void *sink, json_t *v,
			char *err, size_t errlen)
{
	char idbuf[MTD_SDK_ID_BUF];
	const char *sub_type;
	int ev = EV_OPEN, cat, clear = 0;
	mtd_sdk_threat th = {0};
	mtd_sdk_ref refs[6];
	mtd_sdk_msg m = {.type = "threat_event", .os_supported = -1, .threat = &th, .refs = refs};

	(void)ctx;
	if (!json_is_object(v)) {
		mtd_sdk_err(err, errlen, "a SEP Mobile alert must be an object");
		return MTD_PLUGIN_EMALFORMED;
	}
	if ((json_object_get(v, "event_type") &&
	     mtd_sdk_get_enum(v, "event_type", event_type, &ev, err, errlen)) ||
	    mtd_sdk_get_time(v, "timestamp", &m.at, err, errlen))
		return MTD_PLUGIN_EMALFORMED;
	if (ev == EV_NONE)
		return MTD_PLUGIN_OK; /* no threat: nothing to report */
	if (device_refs(v, refs, &m.nrefs, err, errlen) ||
	    mtd_sdk_get_enum(v, "type", alert_type, &cat, err, errlen) ||
	    mtd_sdk_get_str(v, "sub_type", 0, MTD_SDK_MAX_STR, &sub_type, err, errlen) ||
	    mtd_sdk_get_id(v, "id", idbuf, &th.id, err, errlen))
		return MTD_PLUGIN_EMALFORMED;
	th.category = cat_names[cat];
	th.name = sub_type ? sub_type : mtd_sdk_str(v, "type");
	if (!th.id) /* an alert without its id: the threat is named by what it is */
		th.id = th.name;
	if (strlen(th.id) > MTD_SDK_MAX_ID) {
		mtd_sdk_err(err, errlen, "field 'sub_type': longer than a threat id");
		return MTD_PLUGIN_EMALFORMED;
	}
	if (ev == EV_OPEN) {
		if (mtd_sdk_get_enum(v, "severity", severity, &th.level, err, errlen))
			return MTD_PLUGIN_EMALFORMED;
		m.state = "open";
	} else {
		if ((clear = no_risk_left(v, err, errlen)) < 0)
			return MTD_PLUGIN_EMALFORMED;
		m.state = "resolved";
	}
	mtd_sdk_emit(host, sink, &m); /* the host records what it refuses */
	if (clear) { /* SEP Mobile says nothing is left open on the device */
		mtd_sdk_msg s = m;
		s.type = "threat";
		s.level = MTD_LEVEL_SECURED;
		s.threat = NULL;
		s.state = NULL;
		mtd_sdk_emit(host, sink, &s);
	}
	return MTD_PLUGIN_OK;
}

static int sym_decode(void *state, const mtd_host_api *host, void *sink, const void *data,
		      size_t len, char *err, size_t errlen)
{
	(void)state;
	return mtd_sdk_decode_page(host, sink, data, len, "alerts", MAX_PAGE, decode_alert,
				   NULL, err, errlen);
}

static const mtd_plugin symantec = {
	.abi_version = MTD_PLUGIN_ABI_VERSION,
	.struct_size = sizeof(mtd_plugin),
	.id = "symantec",
	.name = "Symantec Endpoint Protection",
	.platforms = MTD_PLUGIN_ANDROID | MTD_PLUGIN_IOS,
	.mam_platforms = MTD_PLUGIN_ANDROID | MTD_PLUGIN_IOS,
	.capabilities = MTD_PLUGIN_CAP_THREAT | MTD_PLUGIN_CAP_APP_PROTECTION |
			MTD_PLUGIN_CAP_APPSYNC,
	.open = mtd_sdk_open_stateless,
	.decode = sym_decode,
	.close = mtd_sdk_close_stateless,
	.appsync_translate = NULL,
};

MTD_SDK_PLUGIN_ENTRY(symantec)
