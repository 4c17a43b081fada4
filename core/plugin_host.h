/* plugin_host: loads vendor plugins (dlopen) and validates their descriptor.
 * Plugins are never unloaded (keeps sanitizer reports symbolized and the
 * descriptors valid for the life of the process). */
#ifndef MTD_PLUGIN_HOST_H
#define MTD_PLUGIN_HOST_H

#include <stddef.h>

#include "mtdgate/plugin.h"

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
