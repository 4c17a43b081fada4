/* zimperium: Zimperium MTD (zIPS) threats and device risk postures.
 *
 * Accepts the v2 "MTD" API's threats (GET /api/threats/public/v1/threats)
 * and devices (/api/devices/public/v2/devices), one per record or a page
 * {"content":[...]}, and the Sentinel/Syslog push (snake_case
 * ZimperiumThreatLogV2 / ZimperiumMitigationLogV2), one event or a JSON
 * array of them. Each threat opens or resolves one threat (threat_event);
 * a device's riskPosture is a snapshot (threat). The device is named by
 * Zimperium's zdeviceId and, when it is a real one, the MDM id. See
 * README.md for the sources and the mappings. */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "mtdgate/sdk.h"

#define MAX_EVENTS 100000

/* Severity and risk posture names: the Zimperium-to-Intune mapping [S]. */
static const mtd_sdk_enum severity_names[] = {
	{"NORMAL", MTD_LEVEL_SECURED}, {"LOW", MTD_LEVEL_LOW},   {"ELEVATED", MTD_LEVEL_MEDIUM},
	{"CRITICAL", MTD_LEVEL_HIGH},  {NULL, 0},
};

/* The integers beside the names: 2 ELEVATED and 3 CRITICAL seen [V],
 * 0 NORMAL and 1 LOW inferred [S]. Used only when the name is absent. */
static const int severity_ints[] = {MTD_LEVEL_SECURED, MTD_LEVEL_LOW, MTD_LEVEL_MEDIUM,
				    MTD_LEVEL_HIGH};

/* Threat vector (v2 vectorName, push threat_vector). */
static const mtd_sdk_enum vectors[] = {
	{"Device", 'd'}, {"Network", 'n'}, {"Malware", 'a'}, {"Phishing", 'n'}, {NULL, 0},
};

/* Push threat_status: "Pending" seen [V]; the mitigation log's values [U]. */
static const mtd_sdk_enum push_status[] = {
	{"Pending", 1}, {"Resolved", 0}, {"Mitigated", 0}, {NULL, 0},
};

/* Platform names as the API and the push spell them. */
static const mtd_sdk_enum platforms[] = {
	{"ANDROID", 'a'}, {"android", 'a'}, {"Android", 'a'},
	{"IOS", 'i'},     {"ios", 'i'},     {"iOS", 'i'},     {NULL, 0},
};

static const char *category(int c)
{
	return c == 'a' ? "app" : c == 'n' ? "network" : "device";
}

/* A level from a name at name_path, or else from an integer at int_path. */
static int get_level(json_t *e, const char *name_path, const char *int_path, int *out,
		     char *err, size_t errlen)
{
	json_t *n = mtd_sdk_path(e, name_path), *i = mtd_sdk_path(e, int_path);

	if (n && !json_is_null(n))
		return mtd_sdk_get_enum(e, name_path, severity_names, out, err, errlen);
	if (!i || json_is_null(i)) {
		mtd_sdk_err(err, errlen, "field '%s': missing", name_path);
		return -1;
	}
	if (!json_is_integer(i) || json_integer_value(i) < 0 || json_integer_value(i) > 3) {
		mtd_sdk_err(err, errlen, "field '%s': not one of 0..3", int_path);
		return -1;
	}
	*out = severity_ints[json_integer_value(i)];
	return 0;
}

/* The device: zdeviceId, the MDM id unless empty or all zero, the
 * platform, the owner's e-mail. */
typedef struct devref {
	mtd_sdk_ref r[4];
	char zbuf[MTD_SDK_ID_BUF], mbuf[MTD_SDK_ID_BUF];
} devref;

typedef struct paths {
	const char *zdevice, *mdm, *mdm2, *platform, *email;
} paths;

static const paths threat_paths = {"device.zdeviceId", "device.mdmDeviceId", NULL,
				   "device.os.name", "deviceOwner"};
static const paths device_paths = {"zdeviceId", "mdmDeviceId", "mdmId", "os.name",
				   "deviceOwner.email"};
static const paths push_paths = {"zdevice_id", "mdm_device_id", NULL, "device_os",
				 "device_owner_email"};

static int device_ref(json_t *e, const paths *P, devref *d, char *err, size_t errlen)
{
	const char *z, *mdm = NULL, *email = NULL, *plat;
	json_t *ev = mtd_sdk_path(e, P->email);
	int p = 0;

	if (mtd_sdk_get_id(e, P->zdevice, d->zbuf, &z, err, errlen) ||
	    mtd_sdk_get_id(e, P->mdm, d->mbuf, &mdm, err, errlen) ||
	    (!mdm && P->mdm2 && mtd_sdk_get_id(e, P->mdm2, d->mbuf, &mdm, err, errlen)) ||
	    mtd_sdk_get_str(e, P->platform, 0, MTD_SDK_MAX_STR, &plat, err, errlen))
		return -1;
	if (plat && mtd_sdk_get_enum(e, P->platform, platforms, &p, err, errlen))
		return -1;
	/* deviceOwner is a string in threats, an object in devices: a
	 * user is only a hint, so anything but an e-mail string is left out */
	if (json_is_string(ev) && json_string_length(ev) <= MTD_SDK_MAX_ID &&
	    strchr(json_string_value(ev), '@') &&
	    mtd_sdk_get_str(e, P->email, 0, MTD_SDK_MAX_ID, &email, err, errlen))
		email = NULL;
	if (!z && !mdm) {
		mtd_sdk_err(err, errlen, "field '%s': missing, and no usable '%s' either",
			    P->zdevice, P->mdm);
		return -1;
	}
	d->r[0] = (mtd_sdk_ref){"vendor_device_id", z};
	d->r[1] = (mtd_sdk_ref){"mdm", mdm};
	/* a user names a device only together with its platform */
	d->r[2] = (mtd_sdk_ref){"user", p ? email : NULL};
	d->r[3] = (mtd_sdk_ref){"platform", p == 'a' ? "android" : p == 'i' ? "ios" : NULL};
	return 0;
}

static void emit_event(const mtd_host_api *host, void *sink, devref *d, mtd_sdk_threat *th,
		       int open, int64_t at)
{
	mtd_sdk_msg m = {.type = "threat_event", .os_supported = -1};
	m.at = at;
	m.refs = d->r;
	m.nrefs = 4;
	m.threat = th;
	m.state = open ? "open" : "resolved";
	mtd_sdk_emit(host, sink, &m); /* the host reports what it refuses */
}

/* A v2 API threat: open until it has mitigation events. */
static int v2_threat(json_t *e, const mtd_host_api *host, void *sink, char *err, size_t errlen)
{
	json_t *sim = json_object_get(e, "simulated"), *mit = json_object_get(e, "mitigationEvents");
	json_t *st = json_object_get(e, "state");
	mtd_sdk_threat th = {0};
	int64_t at;
	int open = 1, cat;
	devref d;

	if (sim && !json_is_boolean(sim) && !json_is_null(sim)) {
		mtd_sdk_err(err, errlen, "field 'simulated': not a boolean");
		return MTD_PLUGIN_EMALFORMED;
	}
	if (json_is_true(sim))
		return MTD_PLUGIN_OK; /* a simulated threat is a test, not a finding */
	if (mit && !json_is_null(mit) && !json_is_array(mit)) {
		mtd_sdk_err(err, errlen, "field 'mitigationEvents': not an array");
		return MTD_PLUGIN_EMALFORMED;
	}
	if (json_array_size(mit) > 0) {
		open = 0; /* mitigated */
	} else if (st && !json_is_null(st) &&
		   (!json_is_integer(st) || json_integer_value(st) != 1)) {
		/* 1 is the one state seen, on open threats [V]; what the others
		 * mean is not published */
		mtd_sdk_err(err, errlen, "field 'state': unknown value (only 1, open, is known)");
		return MTD_PLUGIN_EMALFORMED;
	}
	if (mtd_sdk_get_str(e, "id", 1, MTD_SDK_MAX_ID, &th.id, err, errlen) ||
	    device_ref(e, &threat_paths, &d, err, errlen) ||
	    mtd_sdk_get_time(e, "timestamp", &at, err, errlen))
		return MTD_PLUGIN_EMALFORMED;
	if (open) {
		if (get_level(e, "severityName", "severity", &th.level, err, errlen) ||
		    mtd_sdk_get_enum(e, "vectorName", vectors, &cat, err, errlen) ||
		    mtd_sdk_get_str(e, "threatTypeName", 0, MTD_SDK_MAX_STR, &th.name, err, errlen))
			return MTD_PLUGIN_EMALFORMED;
		th.category = category(cat);
	}
	emit_event(host, sink, &d, &th, open, at);
	return MTD_PLUGIN_OK;
}

/* A v2 API device: its risk posture is a snapshot of its level. */
static int v2_device(json_t *e, const mtd_host_api *host, void *sink, char *err, size_t errlen)
{
	mtd_sdk_msg m = {.type = "threat", .os_supported = -1};
	json_t *del = json_object_get(e, "deleted");
	devref d;

	if (json_is_true(del))
		return MTD_PLUGIN_OK; /* gone from the console */
	if (get_level(e, "riskPostureName", "riskPosture", &m.level, err, errlen) ||
	    device_ref(e, &device_paths, &d, err, errlen) ||
	    mtd_sdk_get_time(e, "lastSeen", &m.at, err, errlen))
		return MTD_PLUGIN_EMALFORMED;
	m.refs = d.r;
	m.nrefs = 4;
	mtd_sdk_emit(host, sink, &m);
	return MTD_PLUGIN_OK;
}

/* A Sentinel/Syslog push event (threat or mitigation log). */
static int push_event(json_t *e, const mtd_host_api *host, void *sink, char *err,
		      size_t errlen)
{
	mtd_sdk_threat th = {0};
	const char *tname;
	int64_t at;
	int open, cat;
	devref d;

	if (mtd_sdk_get_enum(e, "threat_status", push_status, &open, err, errlen) ||
	    mtd_sdk_get_str(e, "threat_uuid", 1, MTD_SDK_MAX_ID, &th.id, err, errlen) ||
	    device_ref(e, &push_paths, &d, err, errlen))
		return MTD_PLUGIN_EMALFORMED;
	if (mtd_sdk_path(e, "device_time") && !json_is_null(mtd_sdk_path(e, "device_time"))) {
		if (mtd_sdk_get_time(e, "device_time", &at, err, errlen))
			return MTD_PLUGIN_EMALFORMED;
	} else if (mtd_sdk_get_time(e, "timestamp", &at, err, errlen)) {
		return MTD_PLUGIN_EMALFORMED;
	}
	if (open) {
		if (mtd_sdk_get_enum(e, "severity_name", severity_names, &th.level, err, errlen) ||
		    mtd_sdk_get_enum(e, "threat_vector", vectors, &cat, err, errlen) ||
		    mtd_sdk_get_str(e, "threat_name", 0, MTD_SDK_MAX_STR, &tname, err, errlen) ||
		    mtd_sdk_get_str(e, "threat_display_name", 0, MTD_SDK_MAX_STR, &th.name, err,
				    errlen))
			return MTD_PLUGIN_EMALFORMED;
		th.category = category(cat);
		if (!th.name)
			th.name = tname;
	}
	emit_event(host, sink, &d, &th, open, at);
	return MTD_PLUGIN_OK;
}

static int z_element(void *ctx, const mtd_host_api *host, void *sink, json_t *e, char *err,
		     size_t errlen)
{
	(void)ctx;
	if (!json_is_object(e)) {
		mtd_sdk_err(err, errlen, "an event must be an object");
		return MTD_PLUGIN_EMALFORMED;
	}
	if (json_object_get(e, "threat_uuid") || json_object_get(e, "threat_status") ||
	    json_object_get(e, "severity_name"))
		return push_event(e, host, sink, err, errlen);
	if (json_object_get(e, "riskPosture") || json_object_get(e, "riskPostureName"))
		return v2_device(e, host, sink, err, errlen);
	return v2_threat(e, host, sink, err, errlen);
}

static int z_decode(void *state, const mtd_host_api *host, void *sink, const void *data,
		    size_t len, char *err, size_t errlen)
{
	(void)state;
	return mtd_sdk_decode_page(host, sink, data, len, "content", MAX_EVENTS, z_element, NULL, err,
				   errlen);
}

/* ---- the zConsole v2 API (plugin ABI 1.2) ----
 * Login: POST {console}/api/auth/v1/api_keys/login with the JSON body
 * {"clientId": ..., "secret": ...}; the answer carries accessToken (and a
 * refreshToken), sent as "Authorization: Bearer". No lifetime field is
 * published; the host assumes an hour and logs in again on a 401.
 * Devices: GET /api/devices/public/v2/devices/start-scroll, then
 * GET /api/devices/public/v2/devices/scroll/{scrollId} until a page has no
 * content; each page {"scrollId", "totalHits", "content": [...]}.
 * Threats: GET /api/threats/public/v1/threats?module=ZIPS&size=&sort=&after=
 * (a Spring page: content[], last, number), asked after the newest
 * timestamp seen (epoch ms in the page, ISO-8601 in the query).
 * Sources: demisto/content Packs/Zimperium/Integrations/ZimperiumV2/
 * ZimperiumV2.py (login body, threats' module/size/page/after/sort, the
 * page shapes in test_data/threat_search.json and device_search.json);
 * rapid7/r7-surcom-connectors connectors/rapid7/zimperium_mtd/functions/
 * helpers.py and fn_import_all.py (start-scroll, scroll/{scroll_id}, end on
 * an empty content); https://zc202.zimperium.com/console-docs/mtd-docs/api/
 * getting_started.html (the console's API documentation, behind a login). */

#define TH_PAGE "1000" /* threats per page asked for */

static const mtd_api_endpoint z_endpoints[] = {
	/* devices first: their snapshots bind zdeviceId to the MDM id, which
	 * a threat may lack */
	{.name = "devices",
	 .path = "/api/devices/public/v2/devices/start-scroll?pageSize=" TH_PAGE,
	 .paging = MTD_API_PAGE_LINK},
	{.name = "threats",
	 .path = "/api/threats/public/v1/threats?module=ZIPS&size=" TH_PAGE "&sort=timestamp,asc",
	 .paging = MTD_API_PAGE_SINCE,
	 .resume_param = "after"},
};

static const mtd_api z_api = {
	.struct_size = sizeof(mtd_api),
	.endpoint_size = sizeof(mtd_api_endpoint),
	.base_url = "https://{console}",
	.auth = MTD_API_AUTH_LOGIN,
	.token_url = "/api/auth/v1/api_keys/login",
	.id_field = "clientId",
	.secret_field = "secret",
	.endpoints = z_endpoints,
	.nendpoints = 2,
	.settings = (const char *const[]){"console", NULL},
};

/* The threats of a page: each said by its id (a page asked "after" a time
 * starts with the one it was asked after again), the newest time kept. */
typedef struct th_page {
	long long newest, oldest; /* epoch ms, -1: none */
} th_page;

static int th_event(void *ctx, const mtd_host_api *host, void *sink, json_t *e, char *err,
		    size_t errlen)
{
	th_page *tp = ctx;
	const char *id = json_is_object(e) ? mtd_sdk_str(e, "id") : NULL;
	json_t *ts = json_is_object(e) ? json_object_get(e, "timestamp") : NULL;
	if (id)
		mtd_sdk_event_id(host, sink, id);
	if (json_is_integer(ts)) {
		long long t = json_integer_value(ts);
		if (tp->newest < 0 || t > tp->newest)
			tp->newest = t;
		if (tp->oldest < 0 || t < tp->oldest)
			tp->oldest = t;
	}
	return z_element(NULL, host, sink, e, err, errlen);
}

/* ms since the epoch as the API's query wants it (XSOAR's
 * '%Y-%m-%dT%H:%M:%S.%fZ') */
static int iso_ms(long long ms, char *out, size_t n)
{
	time_t s = (time_t)(ms / 1000);
	struct tm tm;
	if (ms < 0 || !gmtime_r(&s, &tm))
		return -1;
	return snprintf(out, n, "%04d-%02d-%02dT%02d:%02d:%02d.%06dZ", tm.tm_year + 1900,
			tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
			(int)(ms % 1000) * 1000) < (int)n ? 0 : -1;
}

static int th_decode(const mtd_host_api *host, void *sink, json_t *root, char *err,
		     size_t errlen)
{
	th_page tp = {-1, -1};
	json_t *last = json_object_get(root, "last");
	char t[40];
	int rc = mtd_sdk_each(host, sink, json_object_get(root, "content"), "content", MAX_EVENTS,
			      th_event, &tp, err, errlen);
	if (rc != MTD_PLUGIN_OK || tp.newest < 0)
		return rc; /* nothing: the resume point stays */
	/* the next ask starts a millisecond before the newest: whether the API
	 * counts "after" inclusive or not, nothing of that millisecond is lost,
	 * and what comes again is known by its id */
	if (iso_ms(tp.newest - 1, t, sizeof t) || mtd_sdk_api_value(host, sink, MTD_API_V_RESUME, t))
		return MTD_PLUGIN_EMALFORMED;
	/* more pages: unless the page says it is the last, or a whole page
	 * within one millisecond would be asked for again */
	if (!json_is_true(last) && tp.newest - 1 > tp.oldest &&
	    mtd_sdk_api_value(host, sink, MTD_API_V_NEXT, t))
		return MTD_PLUGIN_EMALFORMED;
	return MTD_PLUGIN_OK;
}

/* A device page: its devices; the next scroll while it had any. */
static int dev_decode(const mtd_host_api *host, void *sink, json_t *root, char *err,
		      size_t errlen)
{
	static const char hex[] = "0123456789ABCDEF";
	json_t *content = json_object_get(root, "content");
	const char *sid = mtd_sdk_str(root, "scrollId");
	char next[1200];
	size_t o;
	int rc = mtd_sdk_each(host, sink, content, "content", MAX_EVENTS, z_element, NULL, err,
			      errlen);
	if (rc != MTD_PLUGIN_OK || !json_array_size(content) || !sid || !*sid)
		return rc;
	o = (size_t)snprintf(next, sizeof next, "/api/devices/public/v2/devices/scroll/");
	for (const unsigned char *c = (const unsigned char *)sid; *c; c++) {
		int plain = (*c >= 'A' && *c <= 'Z') || (*c >= 'a' && *c <= 'z') ||
			    (*c >= '0' && *c <= '9') || *c == '-' || *c == '.' || *c == '_' ||
			    *c == '~';
		if (o + 4 >= sizeof next) {
			mtd_sdk_err(err, errlen, "field 'scrollId': longer than %zu bytes",
				    sizeof next / 3);
			return MTD_PLUGIN_EMALFORMED;
		}
		if (plain)
			next[o++] = (char)*c;
		else
			next[o++] = '%', next[o++] = hex[*c >> 4], next[o++] = hex[*c & 15];
	}
	next[o] = '\0';
	return mtd_sdk_api_value(host, sink, MTD_API_V_NEXT, next) ? MTD_PLUGIN_EMALFORMED
								    : MTD_PLUGIN_OK;
}

static int z_api_decode(void *state, const mtd_host_api *host, void *sink, uint32_t what,
			uint32_t endpoint, const void *data, size_t len, char *err, size_t errlen)
{
	json_t *root;
	int rc;
	(void)state;
	if (what == MTD_API_DECODE_TOKEN)
		return mtd_sdk_api_token(host, sink, data, len, "accessToken", NULL, NULL, err,
					 errlen);
	if (what != MTD_API_DECODE_PAGE || endpoint > 1) {
		mtd_sdk_err(err, errlen, "unknown api_decode request %u/%u", what, endpoint);
		return MTD_PLUGIN_EINTERNAL;
	}
	if (!(root = mtd_sdk_parse(data, len, err, errlen)))
		return MTD_PLUGIN_EMALFORMED;
	if (!json_is_object(root) || !json_is_array(json_object_get(root, "content"))) {
		mtd_sdk_err(err, errlen, "not a page: no 'content' array");
		json_decref(root);
		return MTD_PLUGIN_EMALFORMED;
	}
	rc = endpoint == 0 ? dev_decode(host, sink, root, err, errlen)
			   : th_decode(host, sink, root, err, errlen);
	json_decref(root);
	return rc;
}

static const mtd_plugin zimperium = {
	.abi_version = MTD_PLUGIN_ABI_VERSION,
	.struct_size = sizeof(mtd_plugin),
	.id = "zimperium",
	.name = "Zimperium",
	.platforms = MTD_PLUGIN_ANDROID | MTD_PLUGIN_IOS,
	.mam_platforms = MTD_PLUGIN_ANDROID | MTD_PLUGIN_IOS,
	.capabilities = MTD_PLUGIN_CAP_THREAT | MTD_PLUGIN_CAP_APP_PROTECTION |
			MTD_PLUGIN_CAP_APPSYNC | MTD_PLUGIN_CAP_GOV_CLOUD,
	.open = mtd_sdk_open_stateless,
	.decode = z_decode,
	.close = mtd_sdk_close_stateless,
	.appsync_translate = NULL,
	.api = &z_api,
	.api_decode = z_api_decode,
};

MTD_SDK_PLUGIN_ENTRY(zimperium)
