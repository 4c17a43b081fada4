/* pradeo: Pradeo Security Mobile Threat Defense events.
 *
 * One record is one Pradeo event {id, creationDate, source, category, type,
 * content{...}} [V] (Sekoia Pradeo MTD samples). DeviceCorrelationUpdated
 * carries the device's application/system/network threat levels and its EMM
 * id; it is the one event that sets a level. See README.md. */
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

/* Pradeo threat levels -> level. Green/Orange/Red [V]; Yellow [U]. */
static const kv threat_level[] = {
	{"Green", MTD_LEVEL_SECURED},
	{"Yellow", MTD_LEVEL_LOW},
	{"Orange", MTD_LEVEL_MEDIUM},
	{"Red", MTD_LEVEL_HIGH},
	{NULL, 0},
};

/* The three aggregate levels of a device correlation. */
static const struct {
	const char *path, *id, *category;
} axes[] = {
	{"content.deviceCorrelation.applicationThreatLevel", "application", "app"},
	{"content.deviceCorrelation.systemThreatLevel", "system", "device"},
	{"content.deviceCorrelation.networkThreatLevel", "network", "network"},
};
#define NAXES (sizeof axes / sizeof axes[0])

static int pr_open(const mtd_host_api *host, const char *const *settings, void **state,
		   char *err, size_t errlen)
{
	(void)host;
	(void)settings;
	(void)err;
	(void)errlen;
	*state = NULL;
	return 0;
}

static int pr_decode(void *state, const mtd_host_api *host, void *sink, const void *data,
		     size_t len, char *err, size_t errlen)
{
	json_t *v, *o;
	const char *type, *device;
	int rc = -1, worst = MTD_LEVEL_SECURED;
	int64_t at;
	mtd_sdk_threat th[NAXES];
	size_t nth = 0;
	mtd_sdk_msg m;

	(void)state;
	v = mtd_sdk_parse(data, len, err, errlen);
	if (!v)
		return -1;
	if (!json_is_object(v)) {
		mtd_sdk_err(err, errlen, "a Pradeo event must be a JSON object");
		goto out;
	}
	if (get_str(v, "type", 1, MTD_SDK_MAX_STR, &type, err, errlen))
		goto out;
	if (get_time(v, "creationDate", &at, err, errlen))
		goto out;
	if (strcmp(type, "DeviceCorrelationUpdated")) {
		/* DeviceDetection, DeviceComplianceUpdated, ...Record/StatusUpdated,
		 * ApplicationCreated, DetectionPolicyUpdated and any newer type:
		 * no threat level, nothing to report (README.md) */
		rc = 0;
		goto out;
	}
	o = mtd_sdk_path(v, "content");
	if (!o || !json_is_object(o)) {
		mtd_sdk_err(err, errlen, "field 'content': %s", o ? "not an object" : "missing");
		goto out;
	}
	o = mtd_sdk_path(v, "content.deviceCorrelation");
	if (!o || !json_is_object(o)) {
		mtd_sdk_err(err, errlen, "field 'content.deviceCorrelation': %s",
			    o ? "not an object" : "missing");
		goto out;
	}
	o = mtd_sdk_path(v, "content.deviceCorrelation.device");
	if (o && !json_is_object(o)) {
		mtd_sdk_err(err, errlen, "field 'content.deviceCorrelation.device': not an object");
		goto out;
	}
	o = mtd_sdk_path(v, "content.deviceCorrelation.device.emmDeviceInfo");
	if (o && !json_is_null(o) && !json_is_object(o)) {
		mtd_sdk_err(err, errlen,
			    "field 'content.deviceCorrelation.device.emmDeviceInfo': not an object");
		goto out;
	}
	if (get_str(v, "content.deviceCorrelation.device.emmDeviceInfo.externalId", 1,
		    MTD_SDK_MAX_ID, &device, err, errlen))
		goto out;
	for (size_t i = 0; i < NAXES; i++) {
		int lvl;
		if (get_enum(v, axes[i].path, threat_level, &lvl, err, errlen))
			goto out;
		if (lvl > worst)
			worst = lvl;
		if (lvl == MTD_LEVEL_SECURED)
			continue;
		memset(&th[nth], 0, sizeof th[nth]);
		th[nth].id = axes[i].id;
		th[nth].category = axes[i].category;
		th[nth].name = strrchr(axes[i].path, '.') + 1;
		th[nth].level = lvl;
		nth++;
	}
	memset(&m, 0, sizeof m);
	m.type = "threat";
	m.device = device;
	m.level = worst;
	m.at = at;
	m.threats = nth ? th : NULL;
	m.nthreats = nth;
	m.os_supported = -1;
	mtd_sdk_emit(host, sink, &m);
	rc = 0;
out:
	json_decref(v);
	return rc;
}

static void pr_close(void *state)
{
	(void)state;
}

static const mtd_plugin pradeo = {
	.abi_version = MTD_PLUGIN_ABI_VERSION,
	.struct_size = sizeof(mtd_plugin),
	.id = "pradeo",
	.name = "Pradeo",
	.platforms = MTD_PLUGIN_ANDROID | MTD_PLUGIN_IOS,
	.mam_platforms = 0,
	.capabilities = MTD_PLUGIN_CAP_THREAT,
	.open = pr_open,
	.decode = pr_decode,
	.close = pr_close,
	.appsync_translate = NULL,
};

MTD_PLUGIN_EXPORT const mtd_plugin *mtd_plugin_entry(uint32_t host_abi_version);
MTD_PLUGIN_EXPORT const mtd_plugin *mtd_plugin_entry(uint32_t host_abi_version)
{
	return MTD_PLUGIN_ABI_MAJOR_OF(host_abi_version) == MTD_PLUGIN_ABI_MAJOR ? &pradeo : NULL;
}
