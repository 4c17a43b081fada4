/* symantec: Symantec Endpoint Protection Mobile (SEP Mobile, formerly
 * Skycure) alert events.
 *
 * One record is one alert object, as SEP Mobile exports them to a SIEM
 * (field names [S] from the Exabeam SEP Mobile parsers; no raw public
 * sample). The MDM device id field and the enum values are [U]; see
 * README.md. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mtdgate/sdk.h"

#define MTD_PLUGIN_EXPORT __attribute__((visibility("default")))

typedef struct kv {
	const char *k;
	int v;
} kv;

static int lookup(const kv *t, const char *s, int *out)
{
	for (; t->k; t++)
		if (!strcmp(t->k, s)) {
			*out = t->v;
			return 0;
		}
	return -1;
}

/* An optional (or required) string at path of e. */
static int get_str(json_t *e, const char *path, int required, size_t max, const char **out,
		   char *err, size_t errlen)
{
	json_t *v = mtd_sdk_path(e, path);
	const char *s;
	size_t n;

	*out = NULL;
	if (!v || json_is_null(v)) {
		if (required)
			mtd_sdk_err(err, errlen, "field '%s': missing", path);
		return required ? -1 : 0;
	}
	if (!json_is_string(v)) {
		mtd_sdk_err(err, errlen, "field '%s': not a string", path);
		return -1;
	}
	s = json_string_value(v);
	n = json_string_length(v);
	if (n == 0) {
		if (required)
			mtd_sdk_err(err, errlen, "field '%s': missing (empty)", path);
		return required ? -1 : 0;
	}
	if (n > max) {
		mtd_sdk_err(err, errlen, "field '%s': %zu bytes, more than %zu", path, n, max);
		return -1;
	}
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f) {
			mtd_sdk_err(err, errlen, "field '%s': contains a control character", path);
			return -1;
		}
	*out = s;
	return 0;
}

static int get_enum(json_t *e, const char *path, const kv *t, int *out, char *err, size_t errlen)
{
	const char *s;
	if (get_str(e, path, 1, MTD_SDK_MAX_STR, &s, err, errlen))
		return -1;
	if (lookup(t, s, out)) {
		mtd_sdk_err(err, errlen, "field '%s': unknown value '%.64s'", path, s);
		return -1;
	}
	return 0;
}

static int get_time(json_t *e, const char *path, int64_t *at, char *err, size_t errlen)
{
	json_t *v = mtd_sdk_path(e, path);
	if (!v || json_is_null(v)) {
		mtd_sdk_err(err, errlen, "field '%s': missing", path);
		return -1;
	}
	if (mtd_sdk_time(e, path, at)) {
		mtd_sdk_err(err, errlen, "field '%s': not a time", path);
		return -1;
	}
	return 0;
}

/* severity -> level [U: values not public; the exact spellings accepted]. */
static const kv severity[] = {
	{"Low", MTD_LEVEL_LOW},
	{"Medium", MTD_LEVEL_MEDIUM},
	{"High", MTD_LEVEL_HIGH},
	{NULL, 0},
};

/* type -> category [S: the five types in the Exabeam parsers]. */
static const char *const cat_names[] = {"network", "app", "os", "device"};
enum { CAT_NETWORK, CAT_APP, CAT_OS, CAT_DEVICE };
static const kv alert_type[] = {
	{"Malware", CAT_APP},
	{"UnwantedApp", CAT_APP},
	{"Network", CAT_NETWORK},
	{"VulnerableOs", CAT_OS},
	{"DeviceCompromised", CAT_DEVICE},
	{NULL, 0},
};

/* event_type -> what the event does [U]. */
enum { EV_OPEN, EV_RESOLVED, EV_NONE };
static const kv event_type[] = {
	{"detected", EV_OPEN},   {"updated", EV_OPEN},
	{"resolved", EV_RESOLVED}, {"remediated", EV_RESOLVED},
	{"audit", EV_NONE},      {"info", EV_NONE},
	{NULL, 0},
};

static int sym_open(const mtd_host_api *host, const char *const *settings, void **state,
		    char *err, size_t errlen)
{
	(void)host;
	(void)settings;
	(void)err;
	(void)errlen;
	*state = NULL;
	return 0;
}

static int sym_decode(void *state, const mtd_host_api *host, void *sink, const void *data,
		      size_t len, char *err, size_t errlen)
{
	json_t *v, *idv, *crw;
	const char *device, *sub_type, *tname;
	char idbuf[32];
	int ev = EV_OPEN, lvl = 0, cat = 0, rc = -1;
	int64_t at;
	mtd_sdk_threat th;
	mtd_sdk_msg m;

	(void)state;
	v = mtd_sdk_parse(data, len, err, errlen);
	if (!v)
		return -1;
	if (!json_is_object(v)) {
		mtd_sdk_err(err, errlen, "a SEP Mobile event must be a JSON object");
		goto out;
	}
	if (mtd_sdk_path(v, "event_type") && !json_is_null(mtd_sdk_path(v, "event_type")) &&
	    get_enum(v, "event_type", event_type, &ev, err, errlen))
		goto out;
	if (get_time(v, "timestamp", &at, err, errlen))
		goto out;
	if (ev == EV_NONE) {
		rc = 0; /* no threat level: nothing to report */
		goto out;
	}
	if (mtd_sdk_path(v, "device") && !json_is_object(mtd_sdk_path(v, "device"))) {
		mtd_sdk_err(err, errlen, "field 'device': not an object");
		goto out;
	}
	if (get_str(v, "device.mdm_id", 1, MTD_SDK_MAX_ID, &device, err, errlen))
		goto out;
	if (get_enum(v, "type", alert_type, &cat, err, errlen))
		goto out;
	if (get_str(v, "sub_type", 0, MTD_SDK_MAX_STR, &sub_type, err, errlen))
		goto out;

	memset(&m, 0, sizeof m);
	m.type = "threat";
	m.device = device;
	m.at = at;
	m.os_supported = -1;

	if (ev == EV_RESOLVED) {
		/* secured only when SEP Mobile says no risk is left open */
		crw = mtd_sdk_path(v, "current_risk_warnings");
		if (!crw || json_is_null(crw)) {
			rc = 0; /* remaining risk unknown: keep the last level */
			goto out;
		}
		if (json_is_integer(crw)) {
			if (json_integer_value(crw) < 0) {
				mtd_sdk_err(err, errlen, "field 'current_risk_warnings': negative");
				goto out;
			}
			if (json_integer_value(crw) > 0) {
				rc = 0;
				goto out;
			}
		} else if (json_is_array(crw)) {
			if (json_array_size(crw) > 0) {
				rc = 0;
				goto out;
			}
		} else {
			mtd_sdk_err(err, errlen,
				    "field 'current_risk_warnings': not an integer or an array");
			goto out;
		}
		m.level = MTD_LEVEL_SECURED;
		m.threats = NULL;
		m.nthreats = 0;
		mtd_sdk_emit(host, sink, &m);
		rc = 0;
		goto out;
	}

	if (get_enum(v, "severity", severity, &lvl, err, errlen))
		goto out;
	memset(&th, 0, sizeof th);
	idv = mtd_sdk_path(v, "id");
	if (idv && !json_is_null(idv)) {
		if (json_is_integer(idv)) {
			snprintf(idbuf, sizeof idbuf, "%lld", (long long)json_integer_value(idv));
			th.id = idbuf;
		} else if (json_is_string(idv)) {
			if (get_str(v, "id", 0, MTD_SDK_MAX_ID, &th.id, err, errlen))
				goto out;
		} else {
			mtd_sdk_err(err, errlen, "field 'id': not an integer or a string");
			goto out;
		}
	}
	tname = sub_type ? sub_type : json_string_value(mtd_sdk_path(v, "type"));
	th.category = cat_names[cat];
	th.name = tname;
	th.level = lvl;
	m.level = lvl;
	m.threats = &th;
	m.nthreats = 1;
	mtd_sdk_emit(host, sink, &m);
	rc = 0;
out:
	json_decref(v);
	return rc;
}

static void sym_close(void *state)
{
	(void)state;
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
	.open = sym_open,
	.decode = sym_decode,
	.close = sym_close,
	.appsync_translate = NULL,
};

MTD_PLUGIN_EXPORT const mtd_plugin *mtd_plugin_entry(uint32_t host_abi_version);
MTD_PLUGIN_EXPORT const mtd_plugin *mtd_plugin_entry(uint32_t host_abi_version)
{
	return MTD_PLUGIN_ABI_MAJOR_OF(host_abi_version) == MTD_PLUGIN_ABI_MAJOR ? &symantec : NULL;
}
