/* checkpoint: Check Point Harmony Mobile (formerly SandBlast Mobile) alerts.
 *
 * Accepts alerts of the external API v3 (GET .../external_api/v3/alert/), one
 * alert per record or one page {"meta":{...},"objects":[...]}. See README.md. */
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
	char idbuf[32];
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

/* Alert severity. Critical, Warning, Information: the admin guide [V];
 * "Low risk" events [V]; High, Medium, Low as alert values [U]. */
static const kv severities[] = {
	{"Critical", MTD_LEVEL_HIGH},
	{"High", MTD_LEVEL_HIGH},
	{"Warning", MTD_LEVEL_MEDIUM},
	{"Medium", MTD_LEVEL_MEDIUM},
	{"Low risk", MTD_LEVEL_LOW},
	{"Low", MTD_LEVEL_LOW},
	{"Information", MTD_LEVEL_SECURED},
	{NULL, 0},
};

/* What an event means for the device. */
enum { EV_THREAT, EV_CLEAN, EV_NONE };
static const kv events_kind[] = {
	{"Noncompliant", EV_THREAT},
	{"Detected", EV_THREAT},
	{"Blocked", EV_THREAT},
	{"Compliant", EV_CLEAN},
	{"Policy changed", EV_NONE},
	{"Active", EV_NONE},
	{"Inactive", EV_NONE},
	{"Disconnected", EV_NONE},
	{"Ended", EV_NONE},
	{"Installed", EV_NONE},
	{"Removed", EV_NONE},
	{"Info", EV_NONE},
	{NULL, 0},
};

enum { CAT_NETWORK, CAT_APP, CAT_OS, CAT_DEVICE };
static const char *const cat_names[] = {"network", "app", "os", "device"};

static const kv vectors[] = {
	{"Application", CAT_APP},
	{"Cellular network", CAT_NETWORK},
	{"Device", CAT_DEVICE},
	{"Network Security", CAT_NETWORK},
	{"OS Exploits", CAT_OS},
	{"Text message", CAT_NETWORK},
	{"WiFi network", CAT_NETWORK},
	{"iOS profiles", CAT_DEVICE},
	{NULL, 0},
};

static int present(json_t *e, const char *k)
{
	json_t *v = json_object_get(e, k);
	return v && !json_is_null(v);
}

/* The MDM id, refusing the all-zero placeholder of unmanaged devices. */
static int mdm_id(json_t *e, const char *pfx, const char **out, char *err, size_t errlen)
{
	const char *s;
	if (get_str(e, pfx, "mdm_uuid", 1, MAX_ID, out, err, errlen))
		return -1;
	for (s = *out; *s == '0' || *s == '-'; s++)
		;
	if (!*s) {
		mtd_sdk_err(err, errlen, "field '%smdm_uuid': missing (all-zero placeholder)", pfx);
		return -1;
	}
	return 0;
}

static int decode_event(json_t *e, const char *pfx, ev *out, char *err, size_t errlen)
{
	json_t *id;
	const char *vec, *factors;
	int lvl, kind, cat = CAT_DEVICE;

	memset(out, 0, sizeof *out);
	if (!json_is_object(e)) {
		mtd_sdk_err(err, errlen, "%salert: not an object", pfx);
		return -1;
	}
	if (get_enum(e, pfx, "severity", severities, &lvl, err, errlen) ||
	    get_enum(e, pfx, "event", events_kind, &kind, err, errlen) ||
	    get_str(e, pfx, "attack_vector", 0, MAX_STR, &vec, err, errlen) ||
	    get_str(e, pfx, "threat_factors", 0, MAX_STR, &factors, err, errlen))
		return -1;
	id = json_object_get(e, "id");
	if (json_is_integer(id)) {
		snprintf(out->idbuf, sizeof out->idbuf, "%lld", (long long)json_integer_value(id));
		out->th.id = out->idbuf;
	} else if (get_str(e, pfx, "id", 0, MAX_ID, &out->th.id, err, errlen)) {
		mtd_sdk_err(err, errlen, "field '%sid': not an integer or a string", pfx);
		return -1;
	}
	if (kind == EV_NONE || (kind == EV_THREAT && lvl == MTD_LEVEL_SECURED))
		return 0; /* no threat level: status and informational events */
	if (kind == EV_THREAT && get_enum(e, pfx, "attack_vector", vectors, &cat, err, errlen))
		return -1;
	if (mdm_id(e, pfx, &out->device, err, errlen))
		return -1;
	if (present(e, "event_timestamp")) {
		if (get_time(e, pfx, "event_timestamp", &out->at, err, errlen))
			return -1;
	} else if (!present(e, "backend_last_updated")) {
		mtd_sdk_err(err, errlen, "field '%sevent_timestamp': missing", pfx);
		return -1;
	} else if (get_time(e, pfx, "backend_last_updated", &out->at, err, errlen)) {
		return -1;
	}
	out->emit = 1;
	if (kind == EV_CLEAN) { /* the device is compliant again */
		out->level = MTD_LEVEL_SECURED;
		return 0;
	}
	out->level = lvl;
	out->th.category = cat_names[cat];
	out->th.name = factors && factors[0] ? factors : vec;
	out->th.level = lvl;
	out->nth = 1;
	return 0;
}

static int cp_open(const mtd_host_api *host, const char *const *settings, void **state,
		   char *err, size_t errlen)
{
	(void)host;
	(void)settings;
	(void)err;
	(void)errlen;
	*state = NULL;
	return 0;
}

static int cp_decode(void *state, const mtd_host_api *host, void *sink, const void *data,
		     size_t len, char *err, size_t errlen)
{
	json_t *v, *events = NULL;
	ev *evs = NULL;
	size_t n = 1;
	int rc = -1;

	(void)state;
	v = mtd_sdk_parse(data, len, err, errlen);
	if (!v)
		return -1;
	if (!json_is_object(v)) {
		mtd_sdk_err(err, errlen, "a Check Point record must be an object (an alert or {\"objects\":[...]})");
		goto out;
	}
	if (json_object_get(v, "objects") && !json_object_get(v, "severity")) {
		events = json_object_get(v, "objects");
		if (!json_is_array(events)) {
			mtd_sdk_err(err, errlen, "field 'objects': not an array");
			goto out;
		}
		n = json_array_size(events);
		if (n > MAX_EVENTS) {
			mtd_sdk_err(err, errlen, "field 'objects': more than %d alerts", MAX_EVENTS);
			goto out;
		}
		if (n == 0) {
			rc = 0;
			goto out;
		}
	}
	evs = calloc(n, sizeof *evs);
	if (!evs) {
		mtd_sdk_err(err, errlen, "out of memory");
		goto out;
	}
	/* Decode the whole page first: a bad alert refuses the record before
	 * anything of it is emitted. */
	for (size_t i = 0; i < n; i++) {
		char pfx[48] = "";
		if (events)
			snprintf(pfx, sizeof pfx, "objects[%zu].", i);
		if (decode_event(events ? json_array_get(events, i) : v, pfx, &evs[i], err, errlen))
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
		m.os_supported = -1;
		mtd_sdk_emit(host, sink, &m); /* the host reports what it refuses */
	}
	rc = 0;
out:
	free(evs);
	json_decref(v);
	return rc;
}

static void cp_close(void *state)
{
	(void)state;
}

static const mtd_plugin checkpoint = {
	.abi_version = MTD_PLUGIN_ABI_VERSION,
	.struct_size = sizeof(mtd_plugin),
	.id = "checkpoint",
	.name = "Check Point Harmony Mobile",
	.platforms = MTD_PLUGIN_ANDROID | MTD_PLUGIN_IOS,
	.mam_platforms = MTD_PLUGIN_ANDROID | MTD_PLUGIN_IOS,
	.capabilities = MTD_PLUGIN_CAP_THREAT | MTD_PLUGIN_CAP_APP_PROTECTION |
			MTD_PLUGIN_CAP_APPSYNC,
	.open = cp_open,
	.decode = cp_decode,
	.close = cp_close,
	.appsync_translate = NULL,
};

MTD_PLUGIN_EXPORT const mtd_plugin *mtd_plugin_entry(uint32_t host_abi_version);
MTD_PLUGIN_EXPORT const mtd_plugin *mtd_plugin_entry(uint32_t host_abi_version)
{
	return MTD_PLUGIN_ABI_MAJOR_OF(host_abi_version) == MTD_PLUGIN_ABI_MAJOR ? &checkpoint : NULL;
}
