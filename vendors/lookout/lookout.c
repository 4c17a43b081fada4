/* lookout: Lookout Mobile Endpoint Security, Mobile Risk API events.
 *
 * Accepts v2 events (snake_case, /mra/stream/v2/events) and v1 events
 * (camelCase, legacy /events), one event per record or a page
 * {"events":[...]} (the data of one SSE "events" message). See README.md. */
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

/* The first string of an optional array of strings (name of a threat). */
static int first_str(json_t *e, const char *pfx, const char *path, const char **out, char *err,
		     size_t errlen)
{
	json_t *a = mtd_sdk_path(e, path);
	*out = NULL;
	if (!a || json_is_null(a))
		return 0;
	if (!json_is_array(a)) {
		mtd_sdk_err(err, errlen, "field '%s%s': not an array", pfx, path);
		return -1;
	}
	for (size_t i = 0; i < json_array_size(a); i++)
		if (!json_is_string(json_array_get(a, i))) {
			mtd_sdk_err(err, errlen, "field '%s%s[%zu]': not a string", pfx, path, i);
			return -1;
		}
	if (json_array_size(a) == 0)
		return 0;
	return chk_str(json_array_get(a, 0), pfx, path, 0, MAX_STR, out, err, errlen);
}

/* Device security status (v1 details.securityStatus, v2
 * device.status.security_status). Both THREAT_ (v1 doc) and THREATS_
 * (Sentinel v2 parser) spellings are accepted. */
static const kv device_status[] = {
	{"SECURE", MTD_LEVEL_SECURED},
	{"THREAT_LOW", MTD_LEVEL_LOW},     {"THREATS_LOW", MTD_LEVEL_LOW},
	{"THREAT_MEDIUM", MTD_LEVEL_MEDIUM}, {"THREATS_MEDIUM", MTD_LEVEL_MEDIUM},
	{"THREAT_HIGH", MTD_LEVEL_HIGH},   {"THREATS_HIGH", MTD_LEVEL_HIGH},
	{NULL, 0},
};

/* Threat severity (v1 details.severity, v2 threat.severity). */
static const kv threat_severity[] = {
	{"NONE", MTD_LEVEL_SECURED},
	{"ADVISORY", MTD_LEVEL_LOW},
	{"LOW", MTD_LEVEL_LOW},
	{"MEDIUM", MTD_LEVEL_MEDIUM},
	{"HIGH", MTD_LEVEL_HIGH},
	{NULL, 0},
};

/* Threat status / action: 1 open, 0 resolved. */
static const kv threat_status[] = {
	{"OPEN", 1},     {"DETECTED", 1},
	{"RESOLVED", 0}, {"IGNORED", 0},
	{NULL, 0},
};

enum { CAT_NETWORK, CAT_APP, CAT_OS, CAT_DEVICE };
static const char *const cat_names[] = {"network", "app", "os", "device"};

static const kv threat_type[] = {
	{"APPLICATION", CAT_APP},     {"FILE", CAT_APP},
	{"NETWORK", CAT_NETWORK},     {"WEB_CONTENT", CAT_NETWORK},
	{"OS", CAT_OS},               {"CONFIGURATION", CAT_DEVICE},
	{NULL, 0},
};

/* Field paths of one format version. */
typedef struct layout {
	const char *time, *change, *ext_id;
	const char *dev_status;                          /* DEVICE */
	const char *severity, *status, *ttype, *classes, *tid; /* THREAT */
} layout;

static const layout v2 = {
	"created_time",          "change_type",     "device.info.external_id",
	"device.status.security_status",
	"threat.severity",       "threat.status",   "threat.type",
	"threat.classifications", "threat.guid",
};

static const layout v1 = {
	"eventTime",             "changeType",      "target.externalId",
	"details.securityStatus",
	"details.severity",      "details.action",  "details.type",
	"details.classifications", NULL,
};

static int decode_event(json_t *e, const char *pfx, ev *out, char *err, size_t errlen)
{
	const layout *L;
	const char *type, *change, *s;
	int lvl, open, cat;

	memset(out, 0, sizeof *out);
	if (!json_is_object(e)) {
		mtd_sdk_err(err, errlen, "%sevent: not an object", pfx[0] ? pfx : "");
		return -1;
	}
	L = (json_object_get(e, "eventTime") || json_object_get(e, "changeType")) ? &v1 : &v2;
	if (get_str(e, pfx, "type", 1, MAX_STR, &type, err, errlen) ||
	    get_str(e, pfx, L->change, 0, MAX_STR, &change, err, errlen))
		return -1;
	if (!strcmp(type, "AUDIT") || !strcmp(type, "SMISHING_ALERT"))
		return 0; /* no threat level */
	if (strcmp(type, "THREAT") && strcmp(type, "DEVICE")) {
		mtd_sdk_err(err, errlen, "field '%stype': unknown value '%.64s'", pfx, type);
		return -1;
	}
	if (!strcmp(type, "DEVICE")) {
		if (change && (!strcmp(change, "DELETED") || !strcmp(change, "PURGED")))
			return 0;
		if (get_str(e, pfx, L->dev_status, 0, MAX_STR, &s, err, errlen))
			return -1;
		if (!s) /* only present while ACTIVATED and PROTECTED */
			return 0;
		if (get_enum(e, pfx, L->dev_status, device_status, &lvl, err, errlen) ||
		    get_str(e, pfx, L->ext_id, 1, MAX_ID, &out->device, err, errlen) ||
		    get_time(e, pfx, L->time, &out->at, err, errlen))
			return -1;
		out->emit = 1;
		out->level = lvl;
		return 0;
	}
	/* THREAT */
	if (L == &v2 && !json_is_object(json_object_get(e, "threat"))) {
		mtd_sdk_err(err, errlen, "field '%sthreat': %s", pfx,
			    json_object_get(e, "threat") ? "not an object" : "missing");
		return -1;
	}
	if (L == &v1 && !json_is_object(json_object_get(e, "details"))) {
		mtd_sdk_err(err, errlen, "field '%sdetails': %s", pfx,
			    json_object_get(e, "details") ? "not an object" : "missing");
		return -1;
	}
	if (get_enum(e, pfx, L->severity, threat_severity, &lvl, err, errlen) ||
	    get_enum(e, pfx, L->status, threat_status, &open, err, errlen) ||
	    get_enum(e, pfx, L->ttype, threat_type, &cat, err, errlen) ||
	    first_str(e, pfx, L->classes, &out->th.name, err, errlen) ||
	    (L->tid && get_str(e, pfx, L->tid, 0, MAX_ID, &out->th.id, err, errlen)) ||
	    get_str(e, pfx, L->ext_id, 1, MAX_ID, &out->device, err, errlen) ||
	    get_time(e, pfx, L->time, &out->at, err, errlen))
		return -1;
	out->emit = 1;
	if (!open) { /* resolved or ignored: this threat no longer counts */
		out->level = MTD_LEVEL_SECURED;
		return 0;
	}
	out->level = lvl;
	out->th.category = cat_names[cat];
	if (!out->th.name)
		out->th.name = mtd_sdk_str(e, L->ttype);
	out->th.level = lvl;
	out->nth = 1;
	return 0;
}

static int lk_open(const mtd_host_api *host, const char *const *settings, void **state,
		   char *err, size_t errlen)
{
	(void)host;
	(void)settings;
	(void)err;
	(void)errlen;
	*state = NULL;
	return 0;
}

static int lk_decode(void *state, const mtd_host_api *host, void *sink, const void *data,
		     size_t len, char *err, size_t errlen)
{
	json_t *v, *events;
	ev one, *evs = &one;
	size_t n = 1;
	int rc = -1;

	(void)state;
	v = mtd_sdk_parse(data, len, err, errlen);
	if (!v)
		return -1;
	if (!json_is_object(v)) {
		mtd_sdk_err(err, errlen, "a Lookout record must be an object (an event or {\"events\":[...]})");
		goto out;
	}
	events = json_object_get(v, "events");
	if (events && !json_object_get(v, "type")) {
		if (!json_is_array(events)) {
			mtd_sdk_err(err, errlen, "field 'events': not an array");
			goto out;
		}
		n = json_array_size(events);
		if (n > MAX_EVENTS) {
			mtd_sdk_err(err, errlen, "field 'events': more than %d events", MAX_EVENTS);
			goto out;
		}
		if (n == 0) { /* an empty page */
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
			char pfx[40];
			snprintf(pfx, sizeof pfx, "events[%zu].", i);
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
		m.os_supported = -1;
		mtd_sdk_emit(host, sink, &m); /* the host reports what it refuses */
	}
	rc = 0;
out:
	if (evs != &one)
		free(evs);
	json_decref(v);
	return rc;
}

static void lk_close(void *state)
{
	(void)state;
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
	.open = lk_open,
	.decode = lk_decode,
	.close = lk_close,
	.appsync_translate = NULL,
};

MTD_PLUGIN_EXPORT const mtd_plugin *mtd_plugin_entry(uint32_t host_abi_version);
MTD_PLUGIN_EXPORT const mtd_plugin *mtd_plugin_entry(uint32_t host_abi_version)
{
	return MTD_PLUGIN_ABI_MAJOR_OF(host_abi_version) == MTD_PLUGIN_ABI_MAJOR ? &lookout : NULL;
}
