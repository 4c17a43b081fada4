/* pull: connectors that fetch (issue 16); the internal part (the public
 * one, mtd_pull and mtd_pull_list, is in mtdgate.h). */
#ifndef MTD_PULL_H
#define MTD_PULL_H

#include <stddef.h>

#include "mtd_int.h"

/* 0 when path may hold a connector's secret: a regular file (not followed
 * through a symbolic link) owned by the running user, readable by nobody
 * else, 1 byte .. 8 KiB. Else MTD_ENOTFOUND / MTD_EREFUSED / MTD_EIO with
 * the reason in err (the path and the mode, never the content). */
int mtd_pull_secret_file_ok(const char *path, char *err, size_t n);
/* 1 when key is a setting of every connector that fetches (api_url,
 * token_url, client_id, secret_file, ca_file, poll_seconds). */
int mtd_pull_base_key(const char *key);
/* Validate and store one API setting "key=value" of vendor (key a base key
 * or one of the plugin's declared settings, checked by the caller), in the
 * caller's transaction. MTD_EUSAGE for a bad value, MTD_EREFUSED for a
 * secret file others can read. */
int mtd_pull_setting(mtd_t *h, const char *vendor, const char *key, const char *value);

#endif
