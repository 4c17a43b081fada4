/* plugin_host: loads vendor plugins (dlopen) and validates their descriptor.
 * Plugins are never unloaded (keeps sanitizer reports symbolized and the
 * descriptors valid for the life of the process). */
#ifndef MTD_PLUGIN_HOST_H
#define MTD_PLUGIN_HOST_H

#include <stddef.h>
#include <stdint.h>

#include "mtdgate/plugin.h"

/* What the host keeps of a descriptor: copies of its values, so that a
 * plugin in a child process can describe itself over a pipe. The strings are
 * truncated copies (a too long one fails validation all the same). */
typedef struct mtd_plugin_desc {
	uint32_t abi_version, struct_size, platforms, mam_platforms, capabilities;
	unsigned fns; /* MTD_DESC_* callbacks present */
	char id[64], name[128];
} mtd_plugin_desc;
#define MTD_DESC_OPEN 1u
#define MTD_DESC_DECODE 2u
#define MTD_DESC_CLOSE 4u
#define MTD_DESC_APPSYNC 8u /* appsync_translate, within struct_size */
#define MTD_DESC_ID 16u     /* id not NULL */
#define MTD_DESC_NAME 32u   /* name not NULL */
#define MTD_DESC_API 64u    /* ABI 1.2 api, within struct_size */
#define MTD_DESC_API_DECODE 128u /* ABI 1.2 api_decode, within struct_size */

/* Copy p's values into *d (reads only what p's struct_size covers). */
void mtd_plugin_describe(const mtd_plugin *p, mtd_plugin_desc *d);
/* Validate a descriptor's values; want_id as for mtd_plugin_load. */
int mtd_plugin_desc_validate(const mtd_plugin_desc *d, const char *want_id, char *err,
			     size_t n);
/* The descriptor's values as an mtd_plugin without callbacks (id and name
 * borrowed from d), for code that reads a descriptor's fields. */
mtd_plugin mtd_plugin_desc_view(const mtd_plugin_desc *d);
/* 1 when id is a vendor id ([a-z0-9_]{1,32}). */
int mtd_plugin_valid_id(const char *id);

/* 0 when path is a regular file; else MTD_ENOTFOUND (none), MTD_EIO or
 * MTD_EPLUGIN (not a file), err naming it. Runs none of its code. */
int mtd_plugin_file(const char *path, char *err, size_t n);
/* Load the plugin file at path and validate its descriptor. When want_id is
 * non-NULL the descriptor's id must equal it. On success *out is the
 * descriptor (valid forever). Errors are one line naming the file. */
int mtd_plugin_load(const char *path, const char *want_id,
		    const mtd_plugin **out, char *err, size_t n);
/* Load <dir>/<id>.so; MTD_ENOTFOUND when there is no such file. */
int mtd_plugin_find(const char *dir, const char *id, const mtd_plugin **out,
		    char *err, size_t n);
/* Check a descriptor without loading anything (used by load and by tests). */
int mtd_plugin_validate(const mtd_plugin *p, const char *want_id, char *err,
			size_t n);

#endif
