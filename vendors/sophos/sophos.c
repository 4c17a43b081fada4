/* sophos: Sophos Mobile / Intercept X for Mobile, through Sophos Central's
 * published SIEM formats.
 *
 * A record is a page of the Central SIEM API (/siem/v1/events or
 * /siem/v1/alerts: {"items":[...], "has_more", "next_cursor"}), a JSON
 * array of items, or one item (the SIEM integration script's JSON output,
 * one per line). An item is an event (endpoint_id at the top) or an alert
 * (data.endpoint_id). Only items about a mobile endpoint are this
 * connector's; each detection opens a threat named by the threat Sophos
 * names, each clean-up or dismissal resolves it, and a mobile compliance
 * change opens or resolves the device's compliance threat. The device is
 * named by Sophos' endpoint id only (vendor_device_id). See README.md. */
#include <string.h>

#include "mtdgate/sdk.h"

#define MAX_PAGE 10000

/* severity, events and alerts alike [V]: none/low/medium/high/critical. */
static const mtd_sdk_enum severity[] = {
	{"none", MTD_LEVEL_SECURED}, {"low", MTD_LEVEL_LOW},       {"medium", MTD_LEVEL_MEDIUM},
	{"high", MTD_LEVEL_HIGH},    {"critical", MTD_LEVEL_HIGH}, {NULL, 0},
};

/* endpoint_type [V: computer, server; mobile from Sophos' event list]:
 * only mobile devices are this connector's. */
enum { EP_MOBILE, EP_OTHER };
static const mtd_sdk_enum endpoint_types[] = {
	{"mobile", EP_MOBILE},      {"computer", EP_OTHER}, {"server", EP_OTHER},
	{"security_vm", EP_OTHER}, {NULL, 0},
};

/* What an event type does to the device's threats. A type matches an entry
 * equal to it or followed by "::" and a variant
 * ("Event::Endpoint::Mobile::NowNonCompliant::GENERAL_BLACKLISTED_APPS").
 * Names from Sophos' list of Central event types (KB-000038309) [V]. */
enum { T_OPEN_APP, T_OPEN_COMPLIANCE, T_RESOLVE_THREAT, T_RESOLVE_COMPLIANCE, T_NONE };
static const mtd_sdk_enum types[] = {
	{"Event::Endpoint::Threat::Detected", T_OPEN_APP},
	{"Event::Endpoint::Threat::PuaDetected", T_OPEN_APP},
	{"Event::Endpoint::Threat::LowRepAppDetected", T_OPEN_APP},
	{"Event::Endpoint::Threat::HIPSDetected", T_OPEN_APP},
	{"Event::Endpoint::Threat::CleanupFailed", T_OPEN_APP},
	{"Event::Endpoint::Threat::PuaCleanupFailed", T_OPEN_APP},
	{"Event::Endpoint::Threat::HIPSCleanupFailed", T_OPEN_APP},
	{"Event::Endpoint::Threat::CleanedUp", T_RESOLVE_THREAT},
	{"Event::Endpoint::Threat::PuaCleanedUp", T_RESOLVE_THREAT},
	{"Event::Endpoint::Threat::LowRepAppCleanedUp", T_RESOLVE_THREAT},
	{"Event::Endpoint::Threat::HIPSCleanedUp", T_RESOLVE_THREAT},
	{"Event::Endpoint::Threat::Dismissed", T_RESOLVE_THREAT},
	{"Event::Endpoint::Threat::PuaDismissed", T_RESOLVE_THREAT},
	{"Event::Endpoint::Threat::HIPSDismissed", T_RESOLVE_THREAT},
	{"Event::Endpoint::Mobile::NowNonCompliant", T_OPEN_COMPLIANCE},
	{"Event::Endpoint::Mobile::NowCompliant", T_RESOLVE_COMPLIANCE},
	/* mobile events that say nothing about threats on the device */
	{"Event::Endpoint::Mobile::Added", T_NONE},
	{"Event::Endpoint::Mobile::Enrolled", T_NONE},
	{"Event::Endpoint::Mobile::EnrolledNewApp", T_NONE},
	{"Event::Endpoint::Mobile::Unenrolled", T_NONE},
	{"Event::Endpoint::Mobile::UnenrolledByUser", T_NONE},
	{"Event::Endpoint::Mobile::EasDataMissing", T_NONE},
	{"Event::Endpoint::Mobile::PlaceholderMissing", T_NONE},
	{"Event::Endpoint::Mobile::Action", T_NONE},
	{"Event::Endpoint::Smc::WebFiltering", T_NONE},
	{"Event::Endpoint::Smc::RenewInstalledCertificate", T_NONE},
	{"Event::Endpoint::Smc::DeviceTemThresholdExceeded", T_NONE},
	{"Event::Endpoint::Smc::Uem::EnrollmentFailed", T_NONE},
	/* one attack at one place, with no end event: see README.md */
	{"Event::Smc::MitmAttackEvent", T_NONE},
	{NULL, 0},
};

static int type_of(const char *s, int *out)
{
	for (const mtd_sdk_enum *t = types; t->name; t++) {
		size_t n = strlen(t->name);
		if (!strncmp(s, t->name, n) && (s[n] == '\0' || !strncmp(s + n, "::", 2))) {
			*out = t->value;
			return 0;
		}
	}
	return -1;
}

/* The threat Sophos names: "threat", or the first quoted part of the name
 * ("Malware detected: 'Andr/Banker-ABC' at '...'"), copied into buf. */
static const char *threat_name(json_t *e, char *buf, size_t buflen)
{
	const char *s = mtd_sdk_str(e, "threat"), *q, *end;

	if (s)
		return s;
	s = mtd_sdk_str(e, "name");
	if (!s)
		s = mtd_sdk_str(e, "description");
	if (!s || !(q = strchr(s, '\'')) || !(end = strchr(q + 1, '\'')) || end == q + 1 ||
	    (size_t)(end - q - 1) >= buflen)
		return NULL;
	memcpy(buf, q + 1, (size_t)(end - q - 1));
	buf[end - q - 1] = '\0';
	return buf;
}

/* A string at path, or at "data." path for an alert. */
static int get_either(json_t *e, const char *path, size_t max, const char **out, char *err,
		      size_t errlen)
{
	char alt[64];
	if (mtd_sdk_get_str(e, path, 0, max, out, err, errlen))
		return -1;
	if (*out)
		return 0;
	snprintf(alt, sizeof alt, "data.%s", path);
	return mtd_sdk_get_str(e, alt, 0, max, out, err, errlen);
}

static int decode_item(void *ctx, const mtd_host_api *host, void *sink, json_t *e, char *err,
		       size_t errlen)
{
	const char *type, *endpoint, *ep_type, *name;
	char name_buf[MTD_SDK_MAX_ID + 1];
	int what, ep = EP_MOBILE;
	mtd_sdk_threat th = {0};
	mtd_sdk_ref ref[1];
	mtd_sdk_msg m = {.type = "threat_event", .os_supported = -1, .threat = &th, .refs = ref};

	(void)ctx;
	if (!json_is_object(e)) {
		mtd_sdk_err(err, errlen, "an event or alert must be an object");
		return MTD_PLUGIN_EMALFORMED;
	}
	if (mtd_sdk_get_str(e, "type", 1, MTD_SDK_MAX_STR, &type, err, errlen) ||
	    get_either(e, "endpoint_id", MTD_SDK_MAX_ID, &endpoint, err, errlen) ||
	    get_either(e, "endpoint_type", MTD_SDK_MAX_STR, &ep_type, err, errlen))
		return MTD_PLUGIN_EMALFORMED;
	if (ep_type) {
		const mtd_sdk_enum *t = endpoint_types;
		while (t->name && strcmp(t->name, ep_type))
			t++;
		if (!t->name) {
			mtd_sdk_err(err, errlen, "field 'endpoint_type': unknown value '%.64s'",
				    ep_type);
			return MTD_PLUGIN_EMALFORMED;
		}
		ep = t->value;
	}
	if (!endpoint || ep != EP_MOBILE)
		return MTD_PLUGIN_OK; /* tenant events, computers and servers: not ours */
	if (type_of(type, &what)) {
		mtd_sdk_err(err, errlen, "field 'type': unknown mobile event type '%.96s'", type);
		return MTD_PLUGIN_EMALFORMED;
	}
	if (what == T_NONE)
		return MTD_PLUGIN_OK;
	if (mtd_sdk_get_time(e, "when", &m.at, err, errlen))
		return MTD_PLUGIN_EMALFORMED;
	m.nrefs = mtd_sdk_ref_add(ref, 0, 1, "vendor_device_id", endpoint);
	if (m.nrefs == 0) {
		mtd_sdk_err(err, errlen, "field 'endpoint_id': '%.64s' is not a device id", endpoint);
		return MTD_PLUGIN_EMALFORMED;
	}
	if (what == T_OPEN_COMPLIANCE || what == T_RESOLVE_COMPLIANCE) {
		th.id = "compliance";
		th.category = "device";
	} else {
		th.id = threat_name(e, name_buf, sizeof name_buf);
		th.category = "app";
		if (!th.id || strlen(th.id) > MTD_SDK_MAX_ID) {
			mtd_sdk_err(err, errlen, "field 'threat': missing, and no quoted threat in "
						 "the name");
			return MTD_PLUGIN_EMALFORMED;
		}
	}
	m.state = what == T_OPEN_APP || what == T_OPEN_COMPLIANCE ? "open" : "resolved";
	if (!strcmp(m.state, "open") &&
	    mtd_sdk_get_enum(e, "severity", severity, &th.level, err, errlen))
		return MTD_PLUGIN_EMALFORMED;
	if (get_either(e, "name", MTD_SDK_MAX_STR, &name, err, errlen) ||
	    (!name && mtd_sdk_get_str(e, "description", 0, MTD_SDK_MAX_STR, &name, err, errlen)))
		return MTD_PLUGIN_EMALFORMED;
	th.name = name;
	mtd_sdk_emit(host, sink, &m); /* the host records what it refuses */
	return MTD_PLUGIN_OK;
}

static int s_decode(void *state, const mtd_host_api *host, void *sink, const void *data,
		    size_t len, char *err, size_t errlen)
{
	(void)state;
	return mtd_sdk_decode_page(host, sink, data, len, "items", MAX_PAGE, decode_item,
				   NULL, err, errlen);
}

/* ---- the Sophos Central API (plugin ABI 1.2) ----
 * Token: OAuth2 client credentials, POST https://id.sophos.com/api/v2/oauth2/token
 * with scope "token" (access_token, expires_in). Then GET
 * https://api.central.sophos.com/whoami/v1 -> {"id", "idType": "tenant",
 * "apiHosts": {"global", "dataRegion"}}: every later call goes to the
 * dataRegion host with "X-Tenant-ID: <id>". Events: GET /siem/v1/events
 * ?limit=1000, then &cursor=<next_cursor> while has_more; the last
 * next_cursor is where the next pull starts. The SIEM events are what this
 * plugin decodes (the detections and clean-ups, mobile compliance); the
 * alerts (/siem/v1/alerts, /common/v1/alerts) only repeat the detections
 * without their ends, so they are not pulled.
 * Sources: Sophos' "Authenticating to Sophos Central APIs"
 * (https://community.sophos.com/sophos-central-api/f/recommended-reads/120745/
 * authenticating-to-sophos-central-apis: the token request, a 3600 s life,
 * the regional URL and the tenant id header);
 * sophos/Sophos-Central-SIEM-Integration api_client.py (Apache-2.0: token
 * request with scope=token, whoami's apiHosts.dataRegion, X-Tenant-ID,
 * limit=1000, cursor/next_cursor/has_more, from_date on a first run). */

static const mtd_api_endpoint s_endpoints[] = {
	{.name = "events",
	 .path = "/siem/v1/events?limit=1000",
	 .paging = MTD_API_PAGE_CURSOR,
	 .resume_param = "cursor"},
};

static const mtd_api s_api = {
	.struct_size = sizeof(mtd_api),
	.endpoint_size = sizeof(mtd_api_endpoint),
	.base_url = "https://api.central.sophos.com",
	.auth = MTD_API_AUTH_OAUTH2,
	.token_url = "https://id.sophos.com/api/v2/oauth2/token",
	.scope = "token",
	.endpoints = s_endpoints,
	.nendpoints = 1,
	.whoami_url = "https://api.central.sophos.com/whoami/v1",
};

/* One item of a page, its id said first so a replay is known. */
static int s_api_item(void *ctx, const mtd_host_api *host, void *sink, json_t *e, char *err,
		      size_t errlen)
{
	const char *id = json_is_object(e) ? mtd_sdk_str(e, "id") : NULL;
	if (id)
		mtd_sdk_event_id(host, sink, id);
	return decode_item(ctx, host, sink, e, err, errlen);
}

static int s_whoami(const mtd_host_api *host, void *sink, const void *data, size_t len,
		    char *err, size_t errlen)
{
	json_t *root = mtd_sdk_parse(data, len, err, errlen);
	const char *kind = root ? mtd_sdk_str(root, "idType") : NULL;
	int tenant = kind && !strcmp(kind, "tenant");
	json_decref(root);
	if (!root)
		return MTD_PLUGIN_EMALFORMED;
	if (!tenant) {
		/* partner and organization credentials see many tenants: which one
		 * is mtdgate's is not theirs to guess */
		mtd_sdk_err(err, errlen, "field 'idType': '%.32s', not 'tenant': create the "
			    "credentials in the tenant's own Sophos Central", kind ? kind : "");
		return MTD_PLUGIN_EMALFORMED;
	}
	return mtd_sdk_api_whoami(host, sink, data, len, "apiHosts.dataRegion", "X-Tenant-ID", "id",
				  err, errlen);
}

static int s_page(const mtd_host_api *host, void *sink, const void *data, size_t len, char *err,
		  size_t errlen)
{
	json_t *root = mtd_sdk_parse(data, len, err, errlen);
	int rc;
	if (!root)
		return MTD_PLUGIN_EMALFORMED;
	if (!json_is_object(root) || !json_is_array(json_object_get(root, "items"))) {
		mtd_sdk_err(err, errlen, "not a SIEM page: no 'items' array");
		json_decref(root);
		return MTD_PLUGIN_EMALFORMED;
	}
	rc = mtd_sdk_each(host, sink, json_object_get(root, "items"), "items", MAX_PAGE,
			  s_api_item, NULL, err, errlen);
	/* the cursor after this page: where the next pull starts, and, while
	 * has_more, the next page */
	if (rc == MTD_PLUGIN_OK &&
	    (mtd_sdk_api_link(host, sink, root, "next_cursor", MTD_API_V_RESUME, err, errlen) ||
	     (json_is_true(json_object_get(root, "has_more")) &&
	      mtd_sdk_api_link(host, sink, root, "next_cursor", MTD_API_V_NEXT, err, errlen))))
		rc = MTD_PLUGIN_EMALFORMED;
	json_decref(root);
	return rc;
}

static int s_api_decode(void *state, const mtd_host_api *host, void *sink, uint32_t what,
			uint32_t endpoint, const void *data, size_t len, char *err, size_t errlen)
{
	(void)state, (void)endpoint;
	if (what == MTD_API_DECODE_TOKEN)
		return mtd_sdk_api_token(host, sink, data, len, "access_token", "expires_in", NULL,
					 err, errlen);
	if (what == MTD_API_DECODE_WHOAMI)
		return s_whoami(host, sink, data, len, err, errlen);
	if (what == MTD_API_DECODE_PAGE)
		return s_page(host, sink, data, len, err, errlen);
	mtd_sdk_err(err, errlen, "unknown api_decode request %u", what);
	return MTD_PLUGIN_EINTERNAL;
}

static const mtd_plugin sophos = {
	.abi_version = MTD_PLUGIN_ABI_VERSION,
	.struct_size = sizeof(mtd_plugin),
	.id = "sophos",
	.name = "Sophos Mobile",
	.platforms = MTD_PLUGIN_ANDROID | MTD_PLUGIN_IOS,
	.mam_platforms = 0,
	.capabilities = MTD_PLUGIN_CAP_THREAT,
	.open = mtd_sdk_open_stateless,
	.decode = s_decode,
	.close = mtd_sdk_close_stateless,
	.appsync_translate = NULL,
	.api = &s_api,
	.api_decode = s_api_decode,
};

MTD_SDK_PLUGIN_ENTRY(sophos)
