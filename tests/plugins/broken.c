/* One plugin source, many defects: CMake builds it once per BROKEN_<VARIANT>
 * (see CMakeLists.txt) into <variant>.so. Only plugin.h and libc. */
#include <stddef.h>

#include "mtdgate/plugin.h"

#define EXPORT __attribute__((visibility("default")))

static int p_open(const mtd_host_api *host, const char *const *settings, void **state,
		  char *err, size_t errlen)
{
	(void)host;
	(void)settings;
	(void)err;
	(void)errlen;
	*state = NULL;
	return 0;
}

__attribute__((unused)) static int p_decode(void *state, const mtd_host_api *host, void *sink, const void *data,
		    size_t len, char *err, size_t errlen)
{
	(void)state;
	(void)host;
	(void)sink;
	(void)data;
	(void)len;
	(void)err;
	(void)errlen;
	return 0;
}

static void p_close(void *state)
{
	(void)state;
}

#if defined(BROKEN_ABI_MAJOR2)
#define ABI ((2u << 16) | 0u)
#elif defined(BROKEN_ABI_MINOR_NEW)
#define ABI ((MTD_PLUGIN_ABI_MAJOR << 16) | (MTD_PLUGIN_ABI_MINOR + 1u))
#else
#define ABI MTD_PLUGIN_ABI_VERSION
#endif

#if defined(BROKEN_SMALL_STRUCT)
#define SIZE ((uint32_t)offsetof(mtd_plugin, decode))
#else
#define SIZE ((uint32_t)sizeof(mtd_plugin))
#endif

#if defined(BROKEN_CAPS_ID)
#define ID "Caps_Id"
#elif defined(BROKEN_WRONG_ID)
#define ID "someone_else"
#else
#define ID VARIANT_ID
#endif

#if defined(BROKEN_MAM_NOT_SUBSET)
#define PLATFORMS MTD_PLUGIN_ANDROID
#define MAM (MTD_PLUGIN_ANDROID | MTD_PLUGIN_IOS)
#define CAPS (MTD_PLUGIN_CAP_THREAT | MTD_PLUGIN_CAP_APP_PROTECTION)
#else
#define PLATFORMS (MTD_PLUGIN_ANDROID | MTD_PLUGIN_IOS)
#define MAM 0u
#define CAPS MTD_PLUGIN_CAP_THREAT
#endif

#if defined(BROKEN_NO_DECODE)
#define DECODE NULL
#else
#define DECODE p_decode
#endif

__attribute__((unused)) static const mtd_plugin desc = {
	.abi_version = ABI,
	.struct_size = SIZE,
	.id = ID,
	.name = "Broken on purpose (" VARIANT_ID ")",
	.platforms = PLATFORMS,
	.mam_platforms = MAM,
	.capabilities = CAPS,
	.open = p_open,
	.decode = DECODE,
	.close = p_close,
	.appsync_translate = NULL,
};

#if defined(BROKEN_NO_ENTRY)
/* Exports something, just not the entry point. */
EXPORT const mtd_plugin *mtd_plugin_entry_v0(uint32_t host_abi_version);
EXPORT const mtd_plugin *mtd_plugin_entry_v0(uint32_t host_abi_version)
{
	(void)host_abi_version;
	return &desc;
}
#else
EXPORT const mtd_plugin *mtd_plugin_entry(uint32_t host_abi_version);
EXPORT const mtd_plugin *mtd_plugin_entry(uint32_t host_abi_version)
{
	(void)host_abi_version;
#if defined(BROKEN_NULL_ENTRY)
	return NULL;
#else
	return &desc;
#endif
}
#endif
