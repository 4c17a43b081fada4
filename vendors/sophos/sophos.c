/* sophos: Sophos Mobile / Intercept X for Mobile.
 *
 * Sophos publishes no mobile threat event payload [U]. This plugin reads a
 * simple explicit layout (README.md): one event object, or a page
 * {"items":[event, ...]} in the shape of the Sophos Central SIEM API pages.
 * Every event of a page is checked before anything is emitted. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mtdgate/sdk.h"

#define MTD_PLUGIN_EXPORT __attribute__((visibility("default")))
#define MAX_EVENTS 10000

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

/* severity -> level [U]. */
static const kv severity[] = {
	{"low", MTD_LEVEL_LOW},
	{"medium", MTD_LEVEL_MEDIUM},
	{"high", MTD_LEVEL_HIGH},
	{NULL, 0},
};

static const char *const cat_names[] = {"network", "app", "os", "device"};
enum { CAT_NETWORK, CAT_APP, CAT_OS, CAT_DEVICE };
/* category -> category [U]; names follow Sophos Mobile's compliance rules. */
static const kv category[] = {
	{"malware", CAT_APP},        {"pua", CAT_APP},
	{"suspicious_app", CAT_APP}, {"network", CAT_NETWORK},
	{"os_outdated", CAT_OS},     {"root_jailbreak", CAT_DEVICE},
	{NULL, 0},
};

enum { EV_THREAT, EV_RESOLVED, EV_NONE };
static const kv event_type[] = {
	{"threat", EV_THREAT},
	{"threat_resolved", EV_RESOLVED},
	{"audit", EV_NONE},
	{"info", EV_NONE},
	{NULL, 0},
};

/* One decoded event; strings borrowed from the tree. */
typedef struct ev {
	int emit;
	mtd_sdk_msg m;
	mtd_sdk_threat th;
} ev;

static int decode_event(json_t *e, ev *out, char *err, size_t errlen)
{
	int kind, lvl, cat;
	json_t *ot;

	memset(out, 0, sizeof *out);
	if (!json_is_object(e)) {
		mtd_sdk_err(err, errlen, "a Sophos event must be a JSON object");
		return -1;
	}
	if (get_enum(e, "type", event_type, &kind, err, errlen))
		return -1;
	if (get_time(e, "when", &out->m.at, err, errlen))
		return -1;
	if (kind == EV_NONE)
		return 0; /* no threat level: nothing to report */
	if (get_str(e, "mdm_device_id", 1, MTD_SDK_MAX_ID, &out->m.device, err, errlen))
		return -1;
	out->m.type = "threat";
	out->m.os_supported = -1;
	if (kind == EV_RESOLVED) {
		/* secured only when Sophos says no threat is left open */
		ot = mtd_sdk_path(e, "open_threats");
		if (!ot || json_is_null(ot))
			return 0; /* unknown: keep the last level */
		if (!json_is_integer(ot) || json_integer_value(ot) < 0) {
			mtd_sdk_err(err, errlen, "field 'open_threats': not a count");
			return -1;
		}
		if (json_integer_value(ot) > 0)
			return 0;
		out->m.level = MTD_LEVEL_SECURED;
		out->emit = 1;
		return 0;
	}
	if (get_enum(e, "severity", severity, &lvl, err, errlen) ||
	    get_enum(e, "category", category, &cat, err, errlen) ||
	    get_str(e, "id", 0, MTD_SDK_MAX_ID, &out->th.id, err, errlen) ||
	    get_str(e, "name", 0, MTD_SDK_MAX_STR, &out->th.name, err, errlen))
		return -1;
	out->th.category = cat_names[cat];
	out->th.level = lvl;
	out->m.level = lvl;
	out->emit = 1;
	return 0;
}

static int so_open(const mtd_host_api *host, const char *const *settings, void **state,
		   char *err, size_t errlen)
{
	(void)host;
	(void)settings;
	(void)err;
	(void)errlen;
	*state = NULL;
	return 0;
}

static int so_decode(void *state, const mtd_host_api *host, void *sink, const void *data,
		     size_t len, char *err, size_t errlen)
{
	json_t *v, *items;
	ev *evs = NULL, one;
	size_t n, i;
	int rc = -1;

	(void)state;
	v = mtd_sdk_parse(data, len, err, errlen);
	if (!v)
		return -1;
	if (!json_is_object(v)) {
		mtd_sdk_err(err, errlen, "a Sophos record must be a JSON object");
		goto out;
	}
	items = json_object_get(v, "items");
	if (!items) {
		if (decode_event(v, &one, err, errlen))
			goto out;
		if (one.emit) {
			one.m.threats = one.m.level == MTD_LEVEL_SECURED ? NULL : &one.th;
			one.m.nthreats = one.m.threats ? 1 : 0;
			mtd_sdk_emit(host, sink, &one.m);
		}
		rc = 0;
		goto out;
	}
	if (!json_is_array(items)) {
		mtd_sdk_err(err, errlen, "field 'items': not an array");
		goto out;
	}
	n = json_array_size(items);
	if (n > MAX_EVENTS) {
		mtd_sdk_err(err, errlen, "field 'items': %zu events, more than %d", n, MAX_EVENTS);
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
	for (i = 0; i < n; i++) {
		char why[400];
		if (decode_event(json_array_get(items, i), &evs[i], why, sizeof why)) {
			mtd_sdk_err(err, errlen, "items[%zu]: %s", i, why);
			goto out;
		}
	}
	for (i = 0; i < n; i++) {
		if (!evs[i].emit)
			continue;
		evs[i].m.threats = evs[i].m.level == MTD_LEVEL_SECURED ? NULL : &evs[i].th;
		evs[i].m.nthreats = evs[i].m.threats ? 1 : 0;
		mtd_sdk_emit(host, sink, &evs[i].m);
	}
	rc = 0;
out:
	free(evs);
	json_decref(v);
	return rc;
}

static void so_close(void *state)
{
	(void)state;
}

static const mtd_plugin sophos = {
	.abi_version = MTD_PLUGIN_ABI_VERSION,
	.struct_size = sizeof(mtd_plugin),
	.id = "sophos",
	.name = "Sophos Mobile",
	.platforms = MTD_PLUGIN_ANDROID | MTD_PLUGIN_IOS,
	.mam_platforms = 0,
	.capabilities = MTD_PLUGIN_CAP_THREAT,
	.open = so_open,
	.decode = so_decode,
	.close = so_close,
	.appsync_translate = NULL,
};

MTD_PLUGIN_EXPORT const mtd_plugin *mtd_plugin_entry(uint32_t host_abi_version);
MTD_PLUGIN_EXPORT const mtd_plugin *mtd_plugin_entry(uint32_t host_abi_version)
{
	return MTD_PLUGIN_ABI_MAJOR_OF(host_abi_version) == MTD_PLUGIN_ABI_MAJOR ? &sophos : NULL;
}
