/* plugin_api: a plugin's vendor API description (plugin ABI 1.2, mtd_api)
 * as the host keeps it. The plugin's static mtd_api is read only inside the
 * process that loaded the plugin (the sandboxed child), flattened into
 * bytes (mtd_api_flatten), and rebuilt and validated by the host
 * (mtd_api_read), so the host never trusts a pointer of the plugin. */
#ifndef MTD_PLUGIN_API_H
#define MTD_PLUGIN_API_H

#include <stddef.h>
#include <stdint.h>

#include "mtdgate/plugin.h"
#include "mtdgate/wire.h"

#define MTD_API_MAX_ENDPOINTS 16
#define MTD_API_MAX_SETTINGS 8
#define MTD_API_MAX_TEXT 1024

typedef struct mtd_api_ep {
	char *name, *path, *resume_param, *start, *accept, *sse_event; /* NULL: absent */
	uint32_t paging;
} mtd_api_ep;

/* Every string owned by the description (mtd_api_free), NULL when absent. */
typedef struct mtd_api_desc {
	uint32_t auth;
	char *base_url, *token_url, *scope, *id_field, *secret_field, *key_header, *key_prefix;
	char *whoami_url;
	char *id_header;
	size_t nep;
	mtd_api_ep ep[MTD_API_MAX_ENDPOINTS];
	size_t nsettings;
	char *settings[MTD_API_MAX_SETTINGS];
} mtd_api_desc;

/* The plugin's api as "key\0value\0" pairs appended to b (reads only what
 * the api's struct_size and endpoint_size cover). 0, or -1 out of memory. */
int mtd_api_flatten(const mtd_api *a, mtd_buf *b);
/* Rebuild and validate a flattened description into *d (zeroed first;
 * free it with mtd_api_free even on failure). 0, or MTD_EPLUGIN with err
 * naming what is wrong, MTD_ENOMEM. */
int mtd_api_read(const void *data, size_t len, mtd_api_desc *d, char *err, size_t n);
void mtd_api_free(mtd_api_desc *d);
/* The endpoint named name, or NULL. */
const mtd_api_ep *mtd_api_find_ep(const mtd_api_desc *d, const char *name);

#endif
