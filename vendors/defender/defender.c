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
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mtdgate/sdk.h"

#define MAX_PAGE 10000 /* machines per page (the API's own page limit) */
#define MAX_EXPORT_PAGE 200000 /* rows of an assessment export page (its limit) */

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

/* ---- Defender Vulnerability Management: security tasks ----
 * Three fleet-wide exports, each an OData page of rows, one row per device
 * and finding (MicrosoftDocs/defender-docs:defender-endpoint/api/
 * get-assessment-software-vulnerabilities.md, get-assessment-secure-config.md):
 *   GET /api/machines/SoftwareVulnerabilitiesByMachine       the current snapshot:
 *       one row per (device, software, version, CVE); rows with a null cveId
 *       are inventory, not vulnerabilities
 *   GET /api/machines/SoftwareVulnerabilityChangesByMachine?sinceTime=T  the delta:
 *       the same rows with status New, Updated or Fixed and eventTimestamp
 *   GET /api/machines/SecureConfigurationsAssessmentByMachine  one row per
 *       (device, configuration): isApplicable, isCompliant
 * Each row is one task message on the device named by its machine id
 * (deviceId), the id the machines endpoint teaches mtdgate. */

/* vulnerabilitySeverityLevel (get-all-vulnerabilities.md: Low, Medium,
 * High, Critical): the task severities one to one. */
enum { SEV_LOW, SEV_MEDIUM, SEV_HIGH, SEV_CRITICAL }; /* sev_name's order */
static const mtd_sdk_enum vuln_severity[] = {
	{"Low", SEV_LOW}, {"Medium", SEV_MEDIUM}, {"High", SEV_HIGH},
	{"Critical", SEV_CRITICAL}, {NULL, 0},
};
static const char *const sev_name[] = {"low", "medium", "high", "critical"};

/* status of the delta export: New and Updated leave the finding open. */
static const mtd_sdk_enum vuln_status[] = {
	{"New", 1}, {"Updated", 1}, {"Fixed", 0}, {NULL, 0},
};

/* The newest eventTimestamp of a delta page: where the next pull starts. */
typedef struct tvm_page {
	int64_t newest;
} tvm_page;

/* An event id for a row: prefix and 64-bit FNV-1a of the values of keys
 * (strings as sent, numbers and booleans written out, others as nothing) and
 * of the strings extra[0..nextra) (a row id alone runs past the 128 bytes an
 * event id may have). The same row read again, unchanged, is recognised by
 * the host as a replay and not applied twice. */
static const char *row_event_id(char *buf, size_t n, const char *prefix, json_t *r,
				const char *const *keys, const char *const *extra, size_t nextra)
{
	uint64_t h = 14695981039346656037ull;
	char num[64];
	for (size_t i = 0; keys[i]; i++) {
		json_t *v = json_object_get(r, keys[i]);
		const char *c = json_is_string(v) ? json_string_value(v) : "";
		if (json_is_number(v))
			snprintf(num, sizeof num, "%.17g", json_number_value(v)), c = num;
		else if (json_is_boolean(v))
			c = json_is_true(v) ? "true" : "false";
		for (; *c; c++)
			h = (h ^ (unsigned char)*c) * 1099511628211ull;
		h = (h ^ 0x1f) * 1099511628211ull; /* a separator: "ab","c" differs from "a","bc" */
	}
	for (size_t i = 0; i < nextra; i++) {
		for (const char *c = extra[i] ? extra[i] : ""; *c; c++)
			h = (h ^ (unsigned char)*c) * 1099511628211ull;
		h = (h ^ 0x1f) * 1099511628211ull;
	}
	snprintf(buf, n, "%s%016llx", prefix, (unsigned long long)h);
	return buf;
}

/* A software vulnerability row (full or delta export): ctx is the delta
 * page's tvm_page, NULL for the snapshot. The task id is CVE/software/
 * version, unique per device: a CVE in two versions of a program is two
 * findings (Defender reports one Fixed and one New when it is updated). */
static int decode_vuln(void *ctx, const mtd_host_api *host, void *sink, json_t *r, char *err,
		       size_t errlen)
{
	tvm_page *pg = ctx;
	mtd_sdk_task t = {.kind = "vulnerability"};
	mtd_sdk_msg msg = {.type = "task", .os_supported = -1};
	mtd_sdk_ref ref;
	char dbuf[MTD_SDK_ID_BUF], id[MTD_SDK_MAX_ID + 1], eid[40];
	const char *dev, *sw, *ver, *at_key;
	int sev, open = 1, delta;

	if (!json_is_object(r)) {
		mtd_sdk_err(err, errlen, "a row must be an object");
		return MTD_PLUGIN_EMALFORMED;
	}
	if (mtd_sdk_get_str(r, "cveId", 0, 64, &t.cve, err, errlen))
		return MTD_PLUGIN_EMALFORMED;
	if (!t.cve)
		return MTD_PLUGIN_OK; /* an installed program without a known CVE */
	delta = json_object_get(r, "status") != NULL;
	at_key = delta ? "eventTimestamp" : "lastSeenTimestamp";
	if (mtd_sdk_get_id(r, "deviceId", dbuf, &dev, err, errlen) ||
	    mtd_sdk_get_enum(r, "vulnerabilitySeverityLevel", vuln_severity, &sev, err, errlen) ||
	    mtd_sdk_get_str(r, "softwareName", 0, MTD_SDK_MAX_STR, &sw, err, errlen) ||
	    mtd_sdk_get_str(r, "softwareVersion", 0, MTD_SDK_MAX_ID, &ver, err, errlen) ||
	    mtd_sdk_get_time(r, "firstSeenTimestamp", &t.first_seen, err, errlen) ||
	    mtd_sdk_get_time(r, at_key, &msg.at, err, errlen) ||
	    (delta && mtd_sdk_get_enum(r, "status", vuln_status, &open, err, errlen)))
		return MTD_PLUGIN_EMALFORMED;
	if (!dev) {
		mtd_sdk_err(err, errlen, "field 'deviceId': missing");
		return MTD_PLUGIN_EMALFORMED;
	}
	if ((size_t)snprintf(id, sizeof id, "%s/%s/%s", t.cve, sw ? sw : "", ver ? ver : "") >=
	    sizeof id) {
		mtd_sdk_err(err, errlen, "field 'softwareName': the task id %s/%s/%s is longer than "
			    "%d bytes", t.cve, sw ? sw : "", ver ? ver : "", MTD_SDK_MAX_ID);
		return MTD_PLUGIN_EMALFORMED;
	}
	t.id = id;
	t.software = sw;
	t.version = ver;
	t.severity = sev_name[sev];
	t.state = open ? "open" : "resolved";
	ref = (mtd_sdk_ref){"vendor_device_id", dev};
	msg.refs = &ref;
	msg.nrefs = 1;
	msg.task = &t;
	if (pg && msg.at > pg->newest)
		pg->newest = msg.at;
	{
		static const char *const keys[] = {"id", "status", "eventTimestamp",
						   "lastSeenTimestamp", "firstSeenTimestamp", NULL};
		const char *const extra[] = {dev, id, t.severity};
		mtd_sdk_event_id(host, sink, row_event_id(eid, sizeof eid, delta ? "vc:" : "va:", r,
							  keys, extra, 3));
	}
	mtd_sdk_emit(host, sink, &msg); /* the host reports what it refuses */
	return MTD_PLUGIN_OK;
}

/* configurationImpact, 1..10 ("Rated impact of the configuration to the
 * overall configuration score"; a number, or a numeric string): our
 * banding, a policy choice: 9-10 critical, 7-8 high, 4-6 medium, else low. */
static int impact_severity(json_t *r, int *sev, char *err, size_t errlen)
{
	json_t *v = json_object_get(r, "configurationImpact");
	double x;
	char *end;
	if (json_is_number(v))
		x = json_number_value(v);
	else if (json_is_string(v) && *json_string_value(v) &&
		 (x = strtod(json_string_value(v), &end), !*end))
		;
	else {
		mtd_sdk_err(err, errlen, "field 'configurationImpact': missing or not a number");
		return -1;
	}
	if (!(x >= 0 && x <= 10)) {
		mtd_sdk_err(err, errlen, "field 'configurationImpact': %g is not 0..10", x);
		return -1;
	}
	*sev = x >= 9 ? SEV_CRITICAL : x >= 7 ? SEV_HIGH : x >= 4 ? SEV_MEDIUM
									      : SEV_LOW;
	return 0;
}

/* A secure configuration row: an applicable configuration that is not
 * compliant is an open recommendation, a compliant one a resolved one; one
 * that does not apply says nothing. The export says only when the
 * configuration was last assessed (timestamp): it is both the message's
 * time and first_seen. */
static int decode_config(void *ctx, const mtd_host_api *host, void *sink, json_t *r, char *err,
			 size_t errlen)
{
	mtd_sdk_task t = {.kind = "recommendation"};
	mtd_sdk_msg msg = {.type = "task", .os_supported = -1};
	mtd_sdk_ref ref;
	char dbuf[MTD_SDK_ID_BUF], eid[40];
	const char *dev, *cfg;
	json_t *appl = json_object_get(r, "isApplicable"), *comp = json_object_get(r, "isCompliant");
	int sev;

	(void)ctx;
	if (!json_is_object(r)) {
		mtd_sdk_err(err, errlen, "a row must be an object");
		return MTD_PLUGIN_EMALFORMED;
	}
	if (!json_is_boolean(appl) || !json_is_boolean(comp)) {
		mtd_sdk_err(err, errlen, "field '%s': missing or not true/false",
			    json_is_boolean(appl) ? "isCompliant" : "isApplicable");
		return MTD_PLUGIN_EMALFORMED;
	}
	if (mtd_sdk_get_id(r, "deviceId", dbuf, &dev, err, errlen) ||
	    mtd_sdk_get_str(r, "recommendationReference", 0, MTD_SDK_MAX_ID, &cfg, err, errlen) ||
	    (!cfg && mtd_sdk_get_str(r, "configurationId", 1, MTD_SDK_MAX_ID, &cfg, err, errlen)) ||
	    impact_severity(r, &sev, err, errlen) ||
	    mtd_sdk_get_time(r, "timestamp", &msg.at, err, errlen))
		return MTD_PLUGIN_EMALFORMED;
	if (!dev) {
		mtd_sdk_err(err, errlen, "field 'deviceId': missing");
		return MTD_PLUGIN_EMALFORMED;
	}
	if (json_is_false(appl))
		return MTD_PLUGIN_OK;
	t.id = cfg;
	t.first_seen = msg.at;
	t.severity = sev_name[sev];
	t.state = json_is_true(comp) ? "resolved" : "open";
	ref = (mtd_sdk_ref){"vendor_device_id", dev};
	msg.refs = &ref;
	msg.nrefs = 1;
	msg.task = &t;
	{
		static const char *const keys[] = {"timestamp", NULL};
		const char *const extra[] = {dev, cfg, t.state, t.severity};
		mtd_sdk_event_id(host, sink, row_event_id(eid, sizeof eid, "sc:", r, keys, extra, 4));
	}
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
	if (json_object_get(m, "configurationId") && json_object_get(m, "deviceId"))
		return decode_config(NULL, host, sink, m, err, errlen);
	if (json_object_get(m, "cveId") && json_object_get(m, "deviceId"))
		return decode_vuln(NULL, host, sink, m, err, errlen);
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
 * WindowsDefenderATP application permissions Machine.Read.All and, for the
 * exports below, Vulnerability.Read.All), POST
 * https://login.microsoftonline.com/{tenant}/oauth2/v2.0/token with scope
 * https://api.securitycenter.microsoft.com/.default. Machines: GET
 * /api/machines, OData pages {"value":[...], "@odata.nextLink": URL}.
 * GCC High: api_url=https://api-gov.securitycenter.microsoft.us and
 * token_url=https://login.microsoftonline.us/TENANT/oauth2/v2.0/token.
 * learn.microsoft.com/defender-endpoint/api/exposed-apis-create-app-webapp,
 * .../api/get-machines. */

static const char *const d_settings[] = {"tenant", NULL};

/* Read in this order: the machines first, so that a task's machine id is
 * known (learned with the machine's Entra id) when its rows arrive. The
 * snapshots are read whole at every pull (Defender refreshes them every six
 * hours; rows unchanged since the last read are replays, not applied
 * again); the delta starts, at a first pull, at the pull's own time
 * ("{now}"), then at the newest eventTimestamp it saw (the API answers with
 * the whole six-hour period that time falls in: replays again). */
enum { EP_MACHINES, EP_VULNS, EP_VULN_CHANGES, EP_CONFIGS };
static const mtd_api_endpoint d_endpoints[] = {
	[EP_MACHINES] = {.name = "machines", .path = "/api/machines?$top=1000",
			 .paging = MTD_API_PAGE_LINK},
	[EP_VULNS] = {.name = "vulnerabilities",
		      .path = "/api/machines/SoftwareVulnerabilitiesByMachine?pageSize=10000",
		      .paging = MTD_API_PAGE_LINK},
	[EP_VULN_CHANGES] = {.name = "vulnerability_changes",
			     .path = "/api/machines/SoftwareVulnerabilityChangesByMachine?pageSize=10000",
			     .paging = MTD_API_PAGE_SINCE, .resume_param = "sinceTime",
			     .start = "{now}"},
	[EP_CONFIGS] = {.name = "configurations",
			.path = "/api/machines/SecureConfigurationsAssessmentByMachine?pageSize=10000",
			.paging = MTD_API_PAGE_LINK},
};

static const mtd_api d_api = {
	.struct_size = sizeof(mtd_api),
	.endpoint_size = sizeof(mtd_api_endpoint),
	.base_url = "https://api.securitycenter.microsoft.com",
	.auth = MTD_API_AUTH_OAUTH2,
	.token_url = "https://login.microsoftonline.com/{tenant}/oauth2/v2.0/token",
	.scope = "https://api.securitycenter.microsoft.com/.default",
	.endpoints = d_endpoints,
	.nendpoints = sizeof d_endpoints / sizeof *d_endpoints,
	.settings = d_settings,
};

static int d_api_decode(void *state, const mtd_host_api *host, void *sink, uint32_t what,
			uint32_t endpoint, const void *data, size_t len, char *err, size_t errlen)
{
	static const mtd_sdk_element_fn fn[] = {
		[EP_MACHINES] = decode_machine, [EP_VULNS] = decode_vuln,
		[EP_VULN_CHANGES] = decode_vuln, [EP_CONFIGS] = decode_config};
	tvm_page pg = {.newest = INT64_MIN};
	json_t *root;
	int rc;
	(void)state;
	if (what == MTD_API_DECODE_TOKEN)
		return mtd_sdk_api_token(host, sink, data, len, "access_token", "expires_in", NULL,
					 err, errlen);
	if (what != MTD_API_DECODE_PAGE || endpoint >= sizeof fn / sizeof *fn) {
		mtd_sdk_err(err, errlen, "unknown api_decode request %u for endpoint %u", what,
			    endpoint);
		return MTD_PLUGIN_EINTERNAL;
	}
	if (!(root = mtd_sdk_parse(data, len, err, errlen)))
		return MTD_PLUGIN_EMALFORMED;
	if (!json_is_object(root) || !json_is_array(json_object_get(root, "value"))) {
		mtd_sdk_err(err, errlen, "not an OData page: no 'value' array");
		json_decref(root);
		return MTD_PLUGIN_EMALFORMED;
	}
	/* the exports' pages hold up to 200,000 rows (pageSize; we ask 10,000) */
	rc = mtd_sdk_each(host, sink, json_object_get(root, "value"), "value",
			  endpoint == EP_MACHINES ? MAX_PAGE : MAX_EXPORT_PAGE, fn[endpoint],
			  endpoint == EP_VULN_CHANGES ? &pg : NULL, err, errlen);
	if (rc == MTD_PLUGIN_OK &&
	    mtd_sdk_api_link(host, sink, root, "@odata.nextLink", MTD_API_V_NEXT, err, errlen))
		rc = MTD_PLUGIN_EMALFORMED;
	if (rc == MTD_PLUGIN_OK && pg.newest != INT64_MIN)
		mtd_sdk_api_time(host, sink, MTD_API_V_RESUME, pg.newest);
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
