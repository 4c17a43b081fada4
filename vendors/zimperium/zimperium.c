/* zimperium: Zimperium MTD (zIPS) threats.
 *
 * Accepts threats of the v2 "MTD" API (camelCase, GET /api/threats/public/v1/threats,
 * one threat or a page {"content":[...]}) and of the Sentinel/Syslog push
 * (snake_case ZimperiumThreatLogV2 / ZimperiumMitigationLogV2, one event or a
 * JSON array of them). See README.md. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mtdgate/sdk.h"

#define MTD_PLUGIN_EXPORT __attribute__((visibility("default")))

#define MAX_ID 128   /* host limit for device and threat ids */
#define MAX_STR 512  /* host limit for other strings */
#define MAX_EVENTS 100000

typedef struct kv {
	const char *k;
	int v;
} kv;

/* One decoded event, ready to emit. Strings are borrowed from the tree. */
typedef struct ev {
	int emit;
	const char *device;
	int level;
	int64_t at;
	mtd_sdk_threat th;
	size_t nth;
	int os_supported;
} ev;

static int lookup(const kv *t, const char *s, int *out)
{
	for (; t->k; t++)
		if (!strcmp(t->k, s)) {
			*out = t->v;
			return 0;
		}
	return -1;
}

/* Checks a string value v (named pfx+path in messages). Missing or null:
 * *out = NULL, and an error when required. Not a string, too long, or with a
 * control character: an error. */
static int chk_str(json_t *v, const char *pfx, const char *path, int required, size_t max,
		   const char **out, char *err, size_t errlen)
{
	const char *s;
	size_t n;

	*out = NULL;
	if (!v || json_is_null(v)) {
		if (required)
			mtd_sdk_err(err, errlen, "field '%s%s': missing", pfx, path);
		return required ? -1 : 0;
	}
	if (!json_is_string(v)) {
		mtd_sdk_err(err, errlen, "field '%s%s': not a string", pfx, path);
		return -1;
	}
	s = json_string_value(v);
	n = json_string_length(v);
	if (required && n == 0) {
		mtd_sdk_err(err, errlen, "field '%s%s': missing (empty)", pfx, path);
		return -1;
	}
	if (n > max) {
		mtd_sdk_err(err, errlen, "field '%s%s': %zu bytes, more than %zu", pfx, path, n, max);
		return -1;
	}
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f) {
			mtd_sdk_err(err, errlen, "field '%s%s': contains a control character", pfx, path);
			return -1;
		}
	*out = s;
	return 0;
}

static int get_str(json_t *e, const char *pfx, const char *path, int required, size_t max,
		   const char **out, char *err, size_t errlen)
{
	return chk_str(mtd_sdk_path(e, path), pfx, path, required, max, out, err, errlen);
}

/* A required enum string mapped through table t. */
static int get_enum(json_t *e, const char *pfx, const char *path, const kv *t, int *out,
		    char *err, size_t errlen)
{
	const char *s;
	if (get_str(e, pfx, path, 1, MAX_STR, &s, err, errlen))
		return -1;
	if (lookup(t, s, out)) {
		mtd_sdk_err(err, errlen, "field '%s%s': unknown value '%.64s'", pfx, path, s);
		return -1;
	}
	return 0;
}

static int get_time(json_t *e, const char *pfx, const char *path, int64_t *at, char *err,
		    size_t errlen)
{
	json_t *v = mtd_sdk_path(e, path);
	if (!v || json_is_null(v)) {
		mtd_sdk_err(err, errlen, "field '%s%s': missing", pfx, path);
		return -1;
	}
	if (mtd_sdk_time(e, path, at)) {
		mtd_sdk_err(err, errlen, "field '%s%s': not a time", pfx, path);
		return -1;
	}
	return 0;
}

/* Severity names: the Zimperium-to-Intune mapping [S]. */
static const kv severity_names[] = {
	{"NORMAL", MTD_LEVEL_SECURED},
	{"LOW", MTD_LEVEL_LOW},
	{"ELEVATED", MTD_LEVEL_MEDIUM},
	{"CRITICAL", MTD_LEVEL_HIGH},
	{NULL, 0},
};

/* v2 API integer severity, used only when severityName is absent:
 * 2 ELEVATED and 3 CRITICAL seen [V], 0 NORMAL and 1 LOW inferred [S]. */
static const int severity_ints[] = {MTD_LEVEL_SECURED, MTD_LEVEL_LOW, MTD_LEVEL_MEDIUM,
				    MTD_LEVEL_HIGH};

enum { CAT_NETWORK, CAT_APP, CAT_OS, CAT_DEVICE };
static const char *const cat_names[] = {"network", "app", "os", "device"};

/* Threat vector (v2 vectorName, push threat_vector). */
static const kv vectors[] = {
	{"Device", CAT_DEVICE},
	{"Network", CAT_NETWORK},
	{"Malware", CAT_APP},
	{"Phishing", CAT_NETWORK},
	{NULL, 0},
};

/* Push threat_status: 1 open, 0 resolved. */
static const kv push_status[] = {
	{"Pending", 1},
	{"Resolved", 0},
	{NULL, 0},
};

static int set_threat(ev *out, int open, int lvl, int cat)
{
	out->emit = 1;
	if (!open) { /* mitigated: this threat no longer counts */
		out->level = MTD_LEVEL_SECURED;
		out->nth = 0;
		return 0;
	}
	out->level = lvl;
	out->th.category = cat_names[cat];
	out->th.level = lvl;
	out->nth = 1;
	return 0;
}

/* A v2 API threat. */
static int decode_v2(json_t *e, const char *pfx, ev *out, char *err, size_t errlen)
{
	json_t *sim = json_object_get(e, "simulated"), *sev, *mit;
	const char *s;
	int lvl, cat, open = 1;

	if (sim && !json_is_boolean(sim) && !json_is_null(sim)) {
		mtd_sdk_err(err, errlen, "field '%ssimulated': not a boolean", pfx);
		return -1;
	}
	if (json_is_true(sim))
		return 0; /* a simulated threat is a test, not a finding */
	if (get_str(e, pfx, "severityName", 0, MAX_STR, &s, err, errlen))
		return -1;
	if (s) {
		if (get_enum(e, pfx, "severityName", severity_names, &lvl, err, errlen))
			return -1;
	} else {
		sev = json_object_get(e, "severity");
		if (!sev || json_is_null(sev)) {
			mtd_sdk_err(err, errlen, "field '%sseverityName': missing", pfx);
			return -1;
		}
		if (!json_is_integer(sev)) {
			mtd_sdk_err(err, errlen, "field '%sseverity': not an integer", pfx);
			return -1;
		}
		if (json_integer_value(sev) < 0 || json_integer_value(sev) > 3) {
			mtd_sdk_err(err, errlen, "field '%sseverity': unknown value %lld", pfx,
				    (long long)json_integer_value(sev));
			return -1;
		}
		lvl = severity_ints[json_integer_value(sev)];
	}
	mit = json_object_get(e, "mitigationEvents");
	if (mit && !json_is_null(mit)) {
		if (!json_is_array(mit)) {
			mtd_sdk_err(err, errlen, "field '%smitigationEvents': not an array", pfx);
			return -1;
		}
		open = json_array_size(mit) == 0;
	}
	if (get_enum(e, pfx, "vectorName", vectors, &cat, err, errlen) ||
	    get_str(e, pfx, "id", 0, MAX_ID, &out->th.id, err, errlen) ||
	    get_str(e, pfx, "threatTypeName", 0, MAX_STR, &out->th.name, err, errlen) ||
	    get_str(e, pfx, "device.mdmDeviceId", 0, MAX_ID, &out->device, err, errlen))
		return -1;
	if ((!out->device || !out->device[0]) &&
	    get_str(e, pfx, "device.mamDeviceId", 0, MAX_ID, &out->device, err, errlen))
		return -1;
	if (!out->device || !out->device[0]) {
		mtd_sdk_err(err, errlen, "field '%sdevice.mdmDeviceId': missing", pfx);
		return -1;
	}
	if (get_time(e, pfx, "timestamp", &out->at, err, errlen))
		return -1;
	return set_threat(out, open, lvl, cat);
}

/* A Sentinel/Syslog push event (threat or mitigation log). */
static int decode_push(json_t *e, const char *pfx, ev *out, char *err, size_t errlen)
{
	const char *tname, *vec;
	int lvl, open, cat = CAT_DEVICE;

	if (get_enum(e, pfx, "severity_name", severity_names, &lvl, err, errlen) ||
	    get_enum(e, pfx, "threat_status", push_status, &open, err, errlen) ||
	    get_str(e, pfx, "threat_vector", 0, MAX_STR, &vec, err, errlen) ||
	    get_str(e, pfx, "threat_uuid", 0, MAX_ID, &out->th.id, err, errlen) ||
	    get_str(e, pfx, "threat_name", 0, MAX_STR, &tname, err, errlen) ||
	    get_str(e, pfx, "threat_display_name", 0, MAX_STR, &out->th.name, err, errlen) ||
	    get_str(e, pfx, "mdm_device_id", 1, MAX_ID, &out->device, err, errlen))
		return -1;
	/* The mitigation log has no vector; an open threat needs one. */
	if (open && get_enum(e, pfx, "threat_vector", vectors, &cat, err, errlen))
		return -1;
	if (json_object_get(e, "device_time") && !json_is_null(json_object_get(e, "device_time"))) {
		if (get_time(e, pfx, "device_time", &out->at, err, errlen))
			return -1;
	} else if (!json_object_get(e, "timestamp")) {
		mtd_sdk_err(err, errlen, "field '%sdevice_time': missing", pfx);
		return -1;
	} else if (get_time(e, pfx, "timestamp", &out->at, err, errlen)) {
		return -1;
	}
	if (!out->th.name)
		out->th.name = tname;
	/* An open "vulnerable, non-upgradeable OS" threat says the OS is out of support. */
	if (open && tname && !strncmp(tname, "VULNERABLE_NON_UPGRADEABLE", 26))
		out->os_supported = 0;
	return set_threat(out, open, lvl, cat);
}

static int decode_event(json_t *e, const char *pfx, ev *out, char *err, size_t errlen)
{
	memset(out, 0, sizeof *out);
	out->os_supported = -1;
	if (!json_is_object(e)) {
		mtd_sdk_err(err, errlen, "%sevent: not an object", pfx);
		return -1;
	}
	if (json_object_get(e, "severity_name") || json_object_get(e, "threat_status") ||
	    json_object_get(e, "mdm_device_id"))
		return decode_push(e, pfx, out, err, errlen);
	return decode_v2(e, pfx, out, err, errlen);
}

static int z_open(const mtd_host_api *host, const char *const *settings, void **state,
		  char *err, size_t errlen)
{
	(void)host;
	(void)settings;
	(void)err;
	(void)errlen;
	*state = NULL;
	return 0;
}

static int z_decode(void *state, const mtd_host_api *host, void *sink, const void *data,
		    size_t len, char *err, size_t errlen)
{
	json_t *v, *events = NULL;
	ev one, *evs = &one;
	size_t n = 1;
	const char *key = "";
	int rc = -1;

	(void)state;
	v = mtd_sdk_parse(data, len, err, errlen);
	if (!v)
		return -1;
	if (json_is_array(v)) {
		events = v; /* a batch of push events */
	} else if (!json_is_object(v)) {
		mtd_sdk_err(err, errlen, "a Zimperium record must be an object or an array of events");
		goto out;
	} else if (json_object_get(v, "content") && !json_object_get(v, "severityName") &&
		   !json_object_get(v, "severity_name")) {
		events = json_object_get(v, "content"); /* a v2 API page */
		key = "content";
		if (!json_is_array(events)) {
			mtd_sdk_err(err, errlen, "field 'content': not an array");
			goto out;
		}
	}
	if (events) {
		n = json_array_size(events);
		if (n > MAX_EVENTS) {
			mtd_sdk_err(err, errlen, "more than %d events in one record", MAX_EVENTS);
			goto out;
		}
		if (n == 0) {
			rc = 0;
			goto out;
		}
		evs = calloc(n, sizeof *evs);
		if (!evs) {
			mtd_sdk_err(err, errlen, "out of memory");
			goto out;
		}
		/* Decode the whole page first: a bad event refuses the record
		 * before anything of it is emitted. */
		for (size_t i = 0; i < n; i++) {
			char pfx[48];
			snprintf(pfx, sizeof pfx, "%s[%zu].", key, i);
			if (decode_event(json_array_get(events, i), pfx, &evs[i], err, errlen))
				goto out;
		}
	} else if (decode_event(v, "", &one, err, errlen)) {
		goto out;
	}
	for (size_t i = 0; i < n; i++) {
		mtd_sdk_msg m;
		if (!evs[i].emit)
			continue;
		memset(&m, 0, sizeof m);
		m.type = "threat";
		m.device = evs[i].device;
		m.level = evs[i].level;
		m.at = evs[i].at;
		m.threats = evs[i].nth ? &evs[i].th : NULL;
		m.nthreats = evs[i].nth;
		m.os_supported = evs[i].os_supported;
		mtd_sdk_emit(host, sink, &m); /* the host reports what it refuses */
	}
	rc = 0;
out:
	if (evs != &one)
		free(evs);
	json_decref(v);
	return rc;
}

static void z_close(void *state)
{
	(void)state;
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
	.open = z_open,
	.decode = z_decode,
	.close = z_close,
	.appsync_translate = NULL,
};

MTD_PLUGIN_EXPORT const mtd_plugin *mtd_plugin_entry(uint32_t host_abi_version);
MTD_PLUGIN_EXPORT const mtd_plugin *mtd_plugin_entry(uint32_t host_abi_version)
{
	return MTD_PLUGIN_ABI_MAJOR_OF(host_abi_version) == MTD_PLUGIN_ABI_MAJOR ? &zimperium : NULL;
}
