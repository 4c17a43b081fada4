/* defender: Microsoft Defender for Endpoint, machine risk.
 *
 * Native format: a machine entity of the MDE Machine API (GET
 * /api/machines), one per record, or the OData page {"value": [...]}.
 * The device is the machine's Entra (Azure AD) device id, aadDeviceId, the
 * id Intune matches machines by; its level is the machine's riskScore. See
 * README.md for the sources and the mapping. */
#include <string.h>

#include "mtdgate/sdk.h"


#define MAX_PAGE 10000 /* machines per page (the API's own page limit) */

/* riskScore (machine.md): None, Informational, Low, Medium, High. Intune
 * calls the lowest "Clear" ("Defender for Endpoint uses the value
 * Secure"). Informational is below Low: it counts as low, since the
 * reference has no level between secured and low. */
static const mtd_sdk_enum risk[] = {
	{"None", MTD_LEVEL_SECURED}, {"Informational", MTD_LEVEL_LOW}, {"Low", MTD_LEVEL_LOW},
	{"Medium", MTD_LEVEL_MEDIUM}, {"High", MTD_LEVEL_HIGH},       {NULL, 0},
};

/* onboardingStatus: only an onboarded machine has a meaningful risk. */
static const mtd_sdk_enum onboarding[] = {
	{"onboarded", 1}, {"Onboarded", 1},      {"CanBeOnboarded", 0},
	{"Unsupported", 0}, {"InsufficientInfo", 0}, {NULL, 0},
};

static int decode_machine(json_t *m, const mtd_host_api *host, void *sink, char *err,
			  size_t errlen)
{
	mtd_sdk_threat th;
	mtd_sdk_msg msg = {.type = "threat", .os_supported = -1};
	int onboarded = 1;

	if (!json_is_object(m)) {
		mtd_sdk_err(err, errlen, "a machine must be an object");
		return -1;
	}
	if (mtd_sdk_path(m, "onboardingStatus") &&
	    mtd_sdk_get_enum(m, "onboardingStatus", onboarding, &onboarded, err, errlen))
		return -1;
	if (!onboarded)
		return 0; /* not onboarded: Defender says nothing about it */
	if (mtd_sdk_get_str(m, "aadDeviceId", 1, MTD_SDK_MAX_ID, &msg.device, err, errlen) ||
	    mtd_sdk_get_enum(m, "riskScore", risk, &msg.level, err, errlen) ||
	    mtd_sdk_get_time(m, "lastSeen", &msg.at, err, errlen))
		return -1;
	if (msg.level > MTD_LEVEL_SECURED) {
		/* the machine API names no threat: say where the level came from */
		th = (mtd_sdk_threat){.category = "device", .name = "machine risk score",
				      .level = msg.level};
		if (mtd_sdk_get_str(m, "id", 0, MTD_SDK_MAX_ID, &th.id, err, errlen))
			return -1;
		msg.threats = &th;
		msg.nthreats = 1;
	}
	return mtd_sdk_emit(host, sink, &msg) < 0 ? -1 : 0;
}

static int d_decode(void *state, const mtd_host_api *host, void *sink, const void *data,
		    size_t len, char *err, size_t errlen)
{
	json_t *v = mtd_sdk_parse(data, len, err, errlen), *page, *m;
	size_t i;
	int rc = 0;

	(void)state;
	if (!v)
		return -1;
	page = json_is_object(v) ? json_object_get(v, "value") : NULL;
	if (!page) {
		rc = decode_machine(v, host, sink, err, errlen);
	} else if (!json_is_array(page) || json_array_size(page) > MAX_PAGE) {
		mtd_sdk_err(err, errlen, "field 'value': not a list of up to %d machines", MAX_PAGE);
		rc = -1;
	} else {
		json_array_foreach(page, i, m) {
			if ((rc = decode_machine(m, host, sink, err, errlen))) {
				mtd_sdk_err_prefix(err, errlen, "value[%zu]: ", i);
				break;
			}
		}
	}
	json_decref(v);
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
};

MTD_SDK_PLUGIN_ENTRY(defender)
