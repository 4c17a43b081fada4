/* plugin_api: the vendor API description a plugin declares (ABI 1.2). */
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mtdgate/mtdgate.h"
#include "plugin_api.h"
#include "plugin_host.h"

/* Fields of a table known to be present by its size. */
#define HAS_(t, size, field) (offsetof(t, field) + sizeof(((t *)0)->field) <= (size))

static int put_kv(mtd_buf *b, const char *k, const char *v)
{
	if (!v)
		return 0;
	return mtd_buf_put(b, k, strlen(k) + 1) || mtd_buf_put(b, v, strlen(v) + 1) ? -1 : 0;
}

static int put_num(mtd_buf *b, const char *k, uint32_t v)
{
	char t[16];
	snprintf(t, sizeof t, "%u", v);
	return put_kv(b, k, t);
}

int mtd_api_flatten(const mtd_api *a, mtd_buf *b)
{
	size_t sz = a->struct_size;
	int rc = 0;
#define STR_(f)                                                                             \
	if (HAS_(mtd_api, sz, f))                                                             \
		rc |= put_kv(b, #f, a->f);
	if (!HAS_(mtd_api, sz, nendpoints))
		return put_kv(b, "too_small", "1");
	STR_(base_url)
	rc |= put_num(b, "auth", a->auth);
	STR_(token_url)
	STR_(scope)
	STR_(id_field)
	STR_(secret_field)
	STR_(key_header)
	STR_(key_prefix)
#undef STR_
	for (uint32_t i = 0; a->endpoints && i < a->nendpoints && i <= MTD_API_MAX_ENDPOINTS; i++) {
		const mtd_api_endpoint *e =
			(const void *)((const char *)a->endpoints + (size_t)i * a->endpoint_size);
		size_t es = a->endpoint_size;
		if (!HAS_(mtd_api_endpoint, es, paging))
			return put_kv(b, "too_small", "1");
		rc |= put_kv(b, "ep", e->name ? e->name : "");
		rc |= put_kv(b, "ep.path", e->path);
		rc |= put_num(b, "ep.paging", e->paging);
#define EP_(f)                                                                             \
	if (HAS_(mtd_api_endpoint, es, f))                                                   \
		rc |= put_kv(b, "ep." #f, e->f);
		EP_(resume_param)
		EP_(start)
		EP_(accept)
		EP_(sse_event)
#undef EP_
	}
	if (HAS_(mtd_api, sz, settings) && a->settings)
		for (size_t i = 0; a->settings[i] && i <= MTD_API_MAX_SETTINGS; i++)
			rc |= put_kv(b, "setting", a->settings[i]);
	if (HAS_(mtd_api, sz, whoami_url))
		rc |= put_kv(b, "whoami_url", a->whoami_url);
	if (HAS_(mtd_api, sz, id_header))
		rc |= put_kv(b, "id_header", a->id_header);
	return rc ? -1 : 0;
}

void mtd_api_free(mtd_api_desc *d)
{
	char **all[] = {&d->base_url,	  &d->token_url,  &d->scope,	  &d->id_field,
			&d->secret_field, &d->key_header, &d->key_prefix, &d->whoami_url,
			&d->id_header};
	for (size_t i = 0; i < sizeof all / sizeof *all; i++)
		free(*all[i]), *all[i] = NULL;
	for (size_t i = 0; i < d->nep; i++) {
		mtd_api_ep *e = &d->ep[i];
		free(e->name), free(e->path), free(e->resume_param), free(e->start), free(e->accept);
		free(e->sse_event);
	}
	for (size_t i = 0; i < d->nsettings; i++)
		free(d->settings[i]);
	memset(d, 0, sizeof *d);
}

static int text_ok(const char *s)
{
	size_t n = strlen(s);
	if (n > MTD_API_MAX_TEXT)
		return 0;
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f)
			return 0;
	return 1;
}

/* An https URL, with {NAME} holes naming declared settings only. */
static int url_ok(const mtd_api_desc *d, const char *u)
{
	if (strncmp(u, "https://", 8) || !u[8] || strchr(u, ' '))
		return 0;
	for (const char *p = strchr(u, '{'); p; p = strchr(p + 1, '{')) {
		const char *q = strchr(p, '}');
		int found = 0;
		if (!q)
			return 0;
		for (size_t i = 0; i < d->nsettings; i++)
			if (strlen(d->settings[i]) == (size_t)(q - p - 1) &&
			    !strncmp(d->settings[i], p + 1, (size_t)(q - p - 1)))
				found = 1;
		if (!found)
			return 0;
	}
	return 1;
}

/* An HTTP header name (RFC 9110 token), at most 64 bytes. */
static int header_ok(const char *h)
{
	size_t n = strlen(h);
	if (n < 1 || n > 64)
		return 0;
	for (size_t i = 0; i < n; i++)
		if (!((h[i] >= 'a' && h[i] <= 'z') || (h[i] >= 'A' && h[i] <= 'Z') ||
		      (h[i] >= '0' && h[i] <= '9') || strchr("!#$%&'*+-.^_`|~", h[i])))
			return 0;
	return 1;
}

static int take(char **slot, const char *v)
{
	free(*slot);
	return (*slot = strdup(v)) ? 0 : -1;
}

int mtd_api_read(const void *data, size_t len, mtd_api_desc *d, char *err, size_t n)
{
	const char *p = data, *end = p + len;
	mtd_api_ep *ep = NULL;

	memset(d, 0, sizeof *d);
	while (p < end) {
		const char *k = p, *v, *kn = memchr(k, 0, (size_t)(end - k)), *vn;
		char **slot = NULL;
		if (!kn || kn + 1 >= end || !(vn = memchr(kn + 1, 0, (size_t)(end - kn - 1)))) {
			mtd_err(err, n, "api description: broken");
			return MTD_EPLUGIN;
		}
		v = kn + 1;
		p = vn + 1;
		if (!text_ok(v)) {
			mtd_err(err, n, "api description: '%s' is longer than %d bytes or has "
				"control characters", k, MTD_API_MAX_TEXT);
			return MTD_EPLUGIN;
		}
		if (!strcmp(k, "too_small")) {
			mtd_err(err, n, "api description: struct_size or endpoint_size too small");
			return MTD_EPLUGIN;
		} else if (!strcmp(k, "auth")) {
			d->auth = (uint32_t)strtoul(v, NULL, 10);
		} else if (!strcmp(k, "ep")) {
			if (d->nep >= MTD_API_MAX_ENDPOINTS) {
				mtd_err(err, n, "api description: more than %d endpoints",
					MTD_API_MAX_ENDPOINTS);
				return MTD_EPLUGIN;
			}
			ep = &d->ep[d->nep++];
			slot = &ep->name;
		} else if (!strncmp(k, "ep.", 3) && ep) {
			if (!strcmp(k, "ep.paging"))
				ep->paging = (uint32_t)strtoul(v, NULL, 10);
			slot = !strcmp(k, "ep.path")	       ? &ep->path
			       : !strcmp(k, "ep.resume_param") ? &ep->resume_param
			       : !strcmp(k, "ep.start")	       ? &ep->start
			       : !strcmp(k, "ep.accept")       ? &ep->accept
			       : !strcmp(k, "ep.sse_event")    ? &ep->sse_event
							       : NULL;
		} else if (!strcmp(k, "setting")) {
			if (d->nsettings >= MTD_API_MAX_SETTINGS || !mtd_plugin_valid_id(v)) {
				mtd_err(err, n, "api description: setting '%s' is not [a-z0-9_]{1,32} "
					"or one too many", v);
				return MTD_EPLUGIN;
			}
			slot = &d->settings[d->nsettings++];
		} else {
			slot = !strcmp(k, "base_url")	      ? &d->base_url
			       : !strcmp(k, "token_url")    ? &d->token_url
			       : !strcmp(k, "scope")	      ? &d->scope
			       : !strcmp(k, "id_field")     ? &d->id_field
			       : !strcmp(k, "secret_field") ? &d->secret_field
			       : !strcmp(k, "key_header")   ? &d->key_header
			       : !strcmp(k, "key_prefix")   ? &d->key_prefix
			       : !strcmp(k, "whoami_url")   ? &d->whoami_url
			       : !strcmp(k, "id_header")    ? &d->id_header
							     : NULL;
		}
		if (slot && take(slot, v)) {
			mtd_err(err, n, "out of memory");
			return MTD_ENOMEM;
		}
	}
	/* validate the whole */
	if (!d->base_url || !url_ok(d, d->base_url)) {
		mtd_err(err, n, "api description: base_url is missing or not an https URL "
			"(with {NAME} only for its declared settings)");
		return MTD_EPLUGIN;
	}
	if (d->auth > MTD_API_AUTH_BASIC_TOKEN) {
		mtd_err(err, n, "api description: unknown auth kind %u", d->auth);
		return MTD_EPLUGIN;
	}
	if (d->auth != MTD_API_AUTH_NONE && d->auth != MTD_API_AUTH_KEY &&
	    (!d->token_url || (d->token_url[0] != '/' && !url_ok(d, d->token_url)))) {
		mtd_err(err, n, "api description: token_url is missing or not an https URL or a path");
		return MTD_EPLUGIN;
	}
	if (d->whoami_url && (!url_ok(d, d->whoami_url) || d->auth == MTD_API_AUTH_NONE ||
			      d->auth == MTD_API_AUTH_KEY)) {
		mtd_err(err, n, "api description: whoami_url is not an https URL, or there is no "
			"token to ask it with");
		return MTD_EPLUGIN;
	}
	if (d->auth == MTD_API_AUTH_LOGIN && (!d->id_field || !d->secret_field)) {
		mtd_err(err, n, "api description: a login needs id_field and secret_field");
		return MTD_EPLUGIN;
	}
	if ((d->key_header && !header_ok(d->key_header)) ||
	    (d->id_header && (d->auth != MTD_API_AUTH_KEY || !header_ok(d->id_header)))) {
		mtd_err(err, n, "api description: key_header or id_header is not a header name "
			"(id_header only with a static key)");
		return MTD_EPLUGIN;
	}
	if (!d->nep) {
		mtd_err(err, n, "api description: no endpoints");
		return MTD_EPLUGIN;
	}
	for (size_t i = 0; i < d->nep; i++) {
		mtd_api_ep *e = &d->ep[i];
		if (!mtd_plugin_valid_id(e->name) || mtd_api_find_ep(d, e->name) != e) {
			mtd_err(err, n, "api description: endpoint %zu: name is not [a-z0-9_]{1,32} "
				"or not unique", i);
			return MTD_EPLUGIN;
		}
		if (!e->path || e->path[0] != '/' || strchr(e->path, ' ')) {
			mtd_err(err, n, "api description: endpoint %s: path must start with '/'",
				e->name);
			return MTD_EPLUGIN;
		}
		if (e->paging > MTD_API_PAGE_NUMBER) {
			mtd_err(err, n, "api description: endpoint %s: unknown paging %u", e->name,
				e->paging);
			return MTD_EPLUGIN;
		}
		if ((e->paging == MTD_API_PAGE_CURSOR || e->paging == MTD_API_PAGE_SINCE ||
		     e->paging == MTD_API_PAGE_EVENT_ID || e->paging == MTD_API_PAGE_OFFSET ||
		     e->paging == MTD_API_PAGE_NUMBER) &&
		    (!e->resume_param || !*e->resume_param)) {
			mtd_err(err, n, "api description: endpoint %s: its paging needs resume_param",
				e->name);
			return MTD_EPLUGIN;
		}
	}
	return 0;
}

const mtd_api_ep *mtd_api_find_ep(const mtd_api_desc *d, const char *name)
{
	for (size_t i = 0; i < d->nep; i++)
		if (d->ep[i].name && !strcmp(d->ep[i].name, name))
			return &d->ep[i];
	return NULL;
}
