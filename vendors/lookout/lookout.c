/* lookout: Lookout Mobile Endpoint Security, Mobile Risk API events.
 *
 * Accepts v2 events (snake_case, /mra/stream/v2/events) and v1 events
 * (camelCase, legacy /events), one event per record or a page
 * {"events":[...]} (the data of one SSE "events" message, or a REST page).
 * DEVICE events are snapshots of the device's security status (threat
 * messages); THREAT events open or resolve one threat (threat_event). The
 * device is named by Lookout's own guid and, when the event carries it, the
 * MDM id. See README.md for the sources and the mappings. */
#include <string.h>

#include "mtdgate/sdk.h"

#define MAX_EVENTS 100000

/* Device security status (v1 details.securityStatus, v2
 * device.status.security_status). The v1 docs spell THREAT_*, the Sentinel
 * v2 parser THREATS_*: both are read. */
static const mtd_sdk_enum device_status[] = {
	{"SECURE", MTD_LEVEL_SECURED},
	{"THREAT_LOW", MTD_LEVEL_LOW},       {"THREATS_LOW", MTD_LEVEL_LOW},
	{"THREAT_MEDIUM", MTD_LEVEL_MEDIUM}, {"THREATS_MEDIUM", MTD_LEVEL_MEDIUM},
	{"THREAT_HIGH", MTD_LEVEL_HIGH},     {"THREATS_HIGH", MTD_LEVEL_HIGH},
	{NULL, 0},
};

/* Threat severity (v1 details.severity, v2 threat.severity). ADVISORY is a
 * finding below LOW; the scale has nothing between secured and low. */
static const mtd_sdk_enum threat_severity[] = {
	{"NONE", MTD_LEVEL_SECURED}, {"ADVISORY", MTD_LEVEL_LOW}, {"LOW", MTD_LEVEL_LOW},
	{"MEDIUM", MTD_LEVEL_MEDIUM}, {"HIGH", MTD_LEVEL_HIGH},   {NULL, 0},
};

/* Threat status (v2 threat.status) and action (v1 details.action). */
static const mtd_sdk_enum threat_state[] = {
	{"OPEN", 1},     {"DETECTED", 1}, /* v1 action, and the XSIAM rule's v2 value */
	{"RESOLVED", 0}, {"IGNORED", 0},  {NULL, 0},
};

static const mtd_sdk_enum threat_type[] = {
	{"APPLICATION", 'a'}, {"FILE", 'a'},   {"NETWORK", 'n'}, {"WEB_CONTENT", 'n'},
	{"OS", 'o'},          {"CONFIGURATION", 'd'}, {NULL, 0},
};

static const mtd_sdk_enum platforms[] = {
	{"ANDROID", 'a'}, {"IOS", 'i'}, {NULL, 0},
};

static const char *category(int c)
{
	return c == 'a' ? "app" : c == 'n' ? "network" : c == 'o' ? "os" : "device";
}

/* Field paths of one format version. */
typedef struct layout {
	const char *time, *change;
	const char *guid, *ext_id, *platform, *email; /* the device */
	const char *dev_status;                        /* DEVICE */
	const char *severity, *status, *ttype, *classes, *tid; /* THREAT */
} layout;

static const layout v2 = {
	"created_time", "change_type",
	"device.guid", "device.info.external_id", "device.platform", "device.info.email",
	"device.status.security_status",
	"threat.severity", "threat.status", "threat.type", "threat.classifications", "threat.guid",
};

static const layout v1 = {
	"eventTime", "changeType",
	"target.id", "target.externalId", "target.platform", "target.emailAddress",
	"details.securityStatus",
	"details.severity", "details.action", "details.type", "details.classifications",
	"details.id",
};

/* The first string of an optional array of strings: a threat's name. One
 * that is too long or holds a control character is not used (a name is
 * optional). */
static int first_class(json_t *e, const char *path, const char **out, char *err, size_t errlen)
{
	json_t *a = mtd_sdk_path(e, path), *s;
	*out = NULL;
	if (!a || json_is_null(a))
		return 0;
	if (!json_is_array(a)) {
		mtd_sdk_err(err, errlen, "field '%s': not an array", path);
		return -1;
	}
	if (!(s = json_array_get(a, 0)))
		return 0;
	if (!json_is_string(s)) {
		mtd_sdk_err(err, errlen, "field '%s[0]': not a string", path);
		return -1;
	}
	if (json_string_length(s) <= MTD_SDK_MAX_STR) {
		const char *p = json_string_value(s);
		size_t n = json_string_length(s), i = 0;
		while (i < n && (unsigned char)p[i] >= 0x20 && p[i] != 0x7f)
			i++;
		*out = i == n && n ? p : NULL;
	}
	return 0;
}

/* The device an event names: Lookout's guid, the MDM id when the event
 * carries one, the platform, the user's e-mail. guid is the device's own
 * guid, or for a v2 THREAT event the actor's when the actor is a device. */
typedef struct devref {
	mtd_sdk_ref r[4];
	char gbuf[MTD_SDK_ID_BUF], mbuf[MTD_SDK_ID_BUF];
} devref;

static int device_ref(json_t *e, const layout *L, const char *guid_path, devref *d, char *err,
		      size_t errlen)
{
	const char *guid, *mdm, *email, *plat;
	int p = 0;

	if (mtd_sdk_get_id(e, guid_path, d->gbuf, &guid, err, errlen) ||
	    mtd_sdk_get_id(e, L->ext_id, d->mbuf, &mdm, err, errlen) ||
	    mtd_sdk_get_str(e, L->email, 0, MTD_SDK_MAX_ID, &email, err, errlen) ||
	    mtd_sdk_get_str(e, L->platform, 0, MTD_SDK_MAX_STR, &plat, err, errlen))
		return -1;
	if (plat && mtd_sdk_get_enum(e, L->platform, platforms, &p, err, errlen))
		return -1;
	if (!guid && !mdm) {
		mtd_sdk_err(err, errlen, "field '%s': missing, and no '%s' either", guid_path,
			    L->ext_id);
		return -1;
	}
	d->r[0] = (mtd_sdk_ref){"vendor_device_id", guid};
	d->r[1] = (mtd_sdk_ref){"mdm", mdm};
	/* a user names a device only together with its platform */
	d->r[2] = (mtd_sdk_ref){"user", p && email && strchr(email, '@') ? email : NULL};
	d->r[3] = (mtd_sdk_ref){"platform", p == 'a' ? "android" : p == 'i' ? "ios" : NULL};
	return 0;
}

/* A DEVICE event: its security status is the device's level (a snapshot;
 * it lists no threats). */
static int device_event(json_t *e, const layout *L, const mtd_host_api *host, void *sink,
			char *err, size_t errlen)
{
	mtd_sdk_msg m = {.type = "threat", .os_supported = -1};
	const char *change, *s;
	devref d;

	if (mtd_sdk_get_str(e, L->change, 0, MTD_SDK_MAX_STR, &change, err, errlen))
		return MTD_PLUGIN_EMALFORMED;
	if (change && (!strcmp(change, "DELETED") || !strcmp(change, "PURGED")))
		return MTD_PLUGIN_OK; /* the device is gone from Lookout */
	if (mtd_sdk_get_str(e, L->dev_status, 0, MTD_SDK_MAX_STR, &s, err, errlen))
		return MTD_PLUGIN_EMALFORMED;
	if (!s) /* present only while ACTIVATED and PROTECTED */
		return MTD_PLUGIN_OK;
	if (mtd_sdk_get_enum(e, L->dev_status, device_status, &m.level, err, errlen) ||
	    device_ref(e, L, L->guid, &d, err, errlen) ||
	    mtd_sdk_get_time(e, L->time, &m.at, err, errlen))
		return MTD_PLUGIN_EMALFORMED;
	m.refs = d.r;
	m.nrefs = 4;
	mtd_sdk_emit(host, sink, &m); /* the host reports what it refuses */
	return MTD_PLUGIN_OK;
}

/* A THREAT event: one threat opened or resolved. */
static int threat_event(json_t *e, const layout *L, const mtd_host_api *host, void *sink,
			char *err, size_t errlen)
{
	mtd_sdk_msg m = {.type = "threat_event", .os_supported = -1};
	mtd_sdk_threat th = {0};
	const char *guid_path = L->guid, *actor;
	int open, cat;
	devref d;

	/* v2 THREAT events have no device object in the public samples: the
	 * device is the actor when the actor is a device. When the system
	 * acts (a policy pauses a feature), the device is only named by
	 * target.guid: despite target.type THREAT, it is the device's guid
	 * (equal to actor.guid in every event whose actor is the device, and
	 * never the threat's guid). */
	if (L == &v2 && mtd_sdk_get_str(e, "actor.type", 0, MTD_SDK_MAX_STR, &actor, err, errlen))
		return MTD_PLUGIN_EMALFORMED;
	if (L == &v2 && actor && !strcmp(actor, "DEVICE"))
		guid_path = "actor.guid";
	else if (L == &v2 && !mtd_sdk_path(e, L->guid) && mtd_sdk_path(e, "target.guid"))
		guid_path = "target.guid";
	if (mtd_sdk_get_enum(e, L->status, threat_state, &open, err, errlen) ||
	    mtd_sdk_get_str(e, L->tid, 1, MTD_SDK_MAX_ID, &th.id, err, errlen) ||
	    device_ref(e, L, guid_path, &d, err, errlen) ||
	    mtd_sdk_get_time(e, L->time, &m.at, err, errlen))
		return MTD_PLUGIN_EMALFORMED;
	if (open) {
		if (mtd_sdk_get_enum(e, L->severity, threat_severity, &th.level, err, errlen) ||
		    mtd_sdk_get_enum(e, L->ttype, threat_type, &cat, err, errlen) ||
		    first_class(e, L->classes, &th.name, err, errlen))
			return MTD_PLUGIN_EMALFORMED;
		th.category = category(cat);
		if (!th.name)
			th.name = mtd_sdk_str(e, L->ttype);
	} else {
		th.level = MTD_LEVEL_NONE; /* a resolved threat has no level */
	}
	m.threat = &th;
	m.state = open ? "open" : "resolved";
	m.refs = d.r;
	m.nrefs = 4;
	mtd_sdk_emit(host, sink, &m);
	return MTD_PLUGIN_OK;
}

static int lk_event(void *ctx, const mtd_host_api *host, void *sink, json_t *e, char *err,
		    size_t errlen)
{
	const layout *L;
	const char *type;

	(void)ctx;
	if (!json_is_object(e)) {
		mtd_sdk_err(err, errlen, "an event must be an object");
		return MTD_PLUGIN_EMALFORMED;
	}
	L = (json_object_get(e, "eventTime") || json_object_get(e, "changeType")) ? &v1 : &v2;
	if (mtd_sdk_get_str(e, "type", 1, MTD_SDK_MAX_STR, &type, err, errlen))
		return MTD_PLUGIN_EMALFORMED;
	if (!strcmp(type, "DEVICE"))
		return device_event(e, L, host, sink, err, errlen);
	if (!strcmp(type, "THREAT"))
		return threat_event(e, L, host, sink, err, errlen);
	if (!strcmp(type, "AUDIT") || !strcmp(type, "SMISHING_ALERT"))
		return MTD_PLUGIN_OK; /* nothing about a device's threat level */
	mtd_sdk_err(err, errlen, "field 'type': unknown value '%.64s'", type);
	return MTD_PLUGIN_EMALFORMED;
}

static int lk_decode(void *state, const mtd_host_api *host, void *sink, const void *data,
		     size_t len, char *err, size_t errlen)
{
	(void)state;
	return mtd_sdk_decode_page(host, sink, data, len, "events", MAX_EVENTS, lk_event, NULL, err,
				   errlen);
}

/* ---- the Mobile Risk API v2 (plugin ABI 1.2) ----
 * Token: POST https://api.lookout.com/oauth2/token with the application key
 * as "Authorization: Bearer KEY" and grant_type=client_credentials; the
 * answer has access_token, expires_in (seconds) and expires_at (ms).
 * Events: GET /mra/stream/v2/events, a server-sent event stream: "events"
 * events carry {"events":[...]} and an id the stream resumes after
 * (Last-Event-ID, or the id query parameter); heartbeats every 5 s.
 * doc.lookout.com: "Request a Token", "Stream Events". */

static const mtd_api_endpoint lk_endpoints[] = {
	{.name = "events",
	 .path = "/mra/stream/v2/events?types=DEVICE,THREAT",
	 .paging = MTD_API_PAGE_SSE,
	 .resume_param = "id",
	 .accept = "text/event-stream",
	 .sse_event = "events"},
};

static const mtd_api lk_api = {
	.struct_size = sizeof(mtd_api),
	.endpoint_size = sizeof(mtd_api_endpoint),
	.base_url = "https://api.lookout.com",
	.auth = MTD_API_AUTH_KEY_TOKEN,
	.token_url = "/oauth2/token",
	.endpoints = lk_endpoints,
	.nendpoints = 1,
};

/* One event of a page, its id said first so a replay is known. */
static int lk_api_event(void *ctx, const mtd_host_api *host, void *sink, json_t *e, char *err,
			size_t errlen)
{
	const char *id = json_is_object(e) ? mtd_sdk_str(e, "id") : NULL;
	if (id)
		mtd_sdk_event_id(host, sink, id);
	return lk_event(ctx, host, sink, e, err, errlen);
}

static int lk_api_decode(void *state, const mtd_host_api *host, void *sink, uint32_t what,
			 uint32_t endpoint, const void *data, size_t len, char *err, size_t errlen)
{
	(void)state, (void)endpoint;
	if (what == MTD_API_DECODE_TOKEN)
		return mtd_sdk_api_token(host, sink, data, len, "access_token", "expires_in",
					 "expires_at", err, errlen);
	if (what == MTD_API_DECODE_PAGE)
		return mtd_sdk_decode_page(host, sink, data, len, "events", MAX_EVENTS,
					   lk_api_event, NULL, err, errlen);
	mtd_sdk_err(err, errlen, "unknown api_decode request %u", what);
	return MTD_PLUGIN_EINTERNAL;
}

static const mtd_plugin lookout = {
	.abi_version = MTD_PLUGIN_ABI_VERSION,
	.struct_size = sizeof(mtd_plugin),
	.id = "lookout",
	.name = "Lookout for Work",
	.platforms = MTD_PLUGIN_ANDROID | MTD_PLUGIN_IOS,
	.mam_platforms = MTD_PLUGIN_ANDROID | MTD_PLUGIN_IOS,
	.capabilities = MTD_PLUGIN_CAP_THREAT | MTD_PLUGIN_CAP_APP_PROTECTION |
			MTD_PLUGIN_CAP_APPSYNC | MTD_PLUGIN_CAP_GOV_CLOUD,
	.open = mtd_sdk_open_stateless,
	.decode = lk_decode,
	.close = mtd_sdk_close_stateless,
	.appsync_translate = NULL,
	.api = &lk_api,
	.api_decode = lk_api_decode,
};

MTD_SDK_PLUGIN_ENTRY(lookout)
