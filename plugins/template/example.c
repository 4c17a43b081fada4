/* example: the vendor to copy (see plugins/README.md, "Adding a vendor").
 *
 * Its native format is a small, made-up webhook, shaped like what MTD
 * vendors send; replace it with your vendor's documented one:
 *
 *   {"event": "threat.detected" | "threat.resolved" | "device.updated",
 *    "occurred_at": "2026-01-02T03:04:05Z",
 *    "device": {"mdm_device_id": "...", "risk": "critical"|"high"|"medium"|"low"|"none"},
 *    "threats": [{"id": "...", "kind": "network"|"application"|"system"|"device",
 *                 "name": "...", "severity": <the same names as risk>}]}
 *
 * or a page of them: {"events": [ ... ]}. Every event that carries the
 * device's risk becomes one normalized threat message (SPEC 4.1); other
 * events emit nothing. */
#include <string.h>

#include "mtdgate/sdk.h"

#define MAX_THREATS 64  /* threats kept per message: the host allows 256 */
#define MAX_EVENTS 1000 /* events per page */

/* The vendor's risk names -> mtdgate levels. Write the table out in full:
 * an unknown name must be an error, never a guess. */
static const mtd_sdk_enum risk[] = {
	{"critical", MTD_LEVEL_HIGH}, {"high", MTD_LEVEL_HIGH},  {"medium", MTD_LEVEL_MEDIUM},
	{"low", MTD_LEVEL_LOW},       {"none", MTD_LEVEL_SECURED}, {NULL, 0},
};

/* The vendor's threat kinds -> the four normalized categories. */
static const mtd_sdk_enum kind[] = {
	{"network", 0}, {"application", 1}, {"system", 2}, {"device", 3}, {NULL, 0},
};
static const char *const category[] = {"network", "app", "os", "device"};

/* Events, and whether they carry the device's current risk. */
static const mtd_sdk_enum events[] = {
	{"threat.detected", 1}, {"threat.resolved", 1}, {"device.updated", 1},
	{"device.enrolled", 0}, {NULL, 0},
};

static int decode_event(json_t *e, const mtd_host_api *host, void *sink, char *err,
			size_t errlen)
{
	mtd_sdk_threat th[MAX_THREATS];
	mtd_sdk_msg m = {.type = "threat", .os_supported = -1, .threats = th};
	json_t *list, *t;
	int carries, k;
	size_t i;

	if (!json_is_object(e)) {
		mtd_sdk_err(err, errlen, "an event must be an object");
		return -1;
	}
	if (mtd_sdk_get_enum(e, "event", events, &carries, err, errlen))
		return -1;
	if (!carries)
		return 0; /* nothing to say about the device's risk */
	/* The device id must be the one the MDM knows (the one mtdgate
	 * imported); never invent one from the vendor's own id. */
	if (mtd_sdk_get_str(e, "device.mdm_device_id", 1, MTD_SDK_MAX_ID, &m.device, err, errlen) ||
	    mtd_sdk_get_enum(e, "device.risk", risk, &m.level, err, errlen) ||
	    mtd_sdk_get_time(e, "occurred_at", &m.at, err, errlen))
		return -1;
	list = json_object_get(e, "threats");
	if (list && !json_is_array(list) && !json_is_null(list)) {
		mtd_sdk_err(err, errlen, "field 'threats': not a list");
		return -1;
	}
	json_array_foreach(list, i, t) {
		mtd_sdk_threat *x = &th[m.nthreats];
		if (m.nthreats == MAX_THREATS)
			break; /* the level already says the worst */
		if (mtd_sdk_get_str(t, "id", 0, MTD_SDK_MAX_ID, &x->id, err, errlen) ||
		    mtd_sdk_get_str(t, "name", 0, MTD_SDK_MAX_STR, &x->name, err, errlen) ||
		    mtd_sdk_get_enum(t, "kind", kind, &k, err, errlen) ||
		    mtd_sdk_get_enum(t, "severity", risk, &x->level, err, errlen))
			return -1;
		x->category = category[k];
		m.nthreats++;
	}
	/* The host validates what it receives and reports what it refuses. */
	return mtd_sdk_emit(host, sink, &m) < 0 ? -1 : 0;
}

/* One record in, zero or more messages out through host->emit. On error:
 * a message in err, -1, and the host counts the record as malformed. */
static int ex_decode(void *state, const mtd_host_api *host, void *sink, const void *data,
		     size_t len, char *err, size_t errlen)
{
	json_t *v = mtd_sdk_parse(data, len, err, errlen), *page, *e;
	size_t i;
	int rc = 0;

	(void)state;
	if (!v)
		return -1;
	page = json_object_get(v, "events");
	if (!page) {
		rc = decode_event(v, host, sink, err, errlen);
	} else if (!json_is_array(page) || json_array_size(page) > MAX_EVENTS) {
		mtd_sdk_err(err, errlen, "field 'events': not a list of up to %d events", MAX_EVENTS);
		rc = -1;
	} else {
		json_array_foreach(page, i, e) {
			if ((rc = decode_event(e, host, sink, err, errlen)))
				break;
		}
	}
	json_decref(v);
	return rc;
}

static const mtd_plugin example = {
	.abi_version = MTD_PLUGIN_ABI_VERSION,
	.struct_size = sizeof(mtd_plugin),
	.id = "example", /* = the file name without .so = the connector's name */
	.name = "Example MTD (template)",
	/* Declare only what the vendor really supports: the host enforces it. */
	.platforms = MTD_PLUGIN_ANDROID | MTD_PLUGIN_IOS,
	.mam_platforms = 0,
	.capabilities = MTD_PLUGIN_CAP_THREAT,
	.open = mtd_sdk_open_stateless,
	.decode = ex_decode,
	.close = mtd_sdk_close_stateless,
	.appsync_translate = NULL,
};

MTD_SDK_PLUGIN_ENTRY(example)
