/* SDK helpers: path getters, checked field readers, message encoding (the
 * wire-level parts are in plugins/wire). */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mtdgate/sdk.h"


json_t *mtd_sdk_path(json_t *root, const char *path)
{
	char key[128];
	const char *p = path;
	json_t *v = root;

	while (v && *p) {
		const char *dot = strchr(p, '.');
		size_t n = dot ? (size_t)(dot - p) : strlen(p);
		if (n == 0 || n >= sizeof key || !json_is_object(v))
			return NULL;
		memcpy(key, p, n);
		key[n] = '\0';
		v = json_object_get(v, key);
		p += n + (dot ? 1 : 0);
	}
	return v;
}

const char *mtd_sdk_str(json_t *root, const char *path)
{
	json_t *v = mtd_sdk_path(root, path);
	/* "" is absent, as for every reader of the SDK (sdk.h) */
	return json_is_string(v) && json_string_length(v) > 0 ? json_string_value(v) : NULL;
}

int mtd_sdk_time(json_t *root, const char *path, int64_t *out)
{
	json_t *v = mtd_sdk_path(root, path);
	if (json_is_integer(v)) {
		json_int_t t = json_integer_value(v);
		if (t < 0)
			return -1;
		*out = t > 100000000000LL ? t / 1000 : t;
		return 0;
	}
	if (json_is_string(v))
		return mtd_time_parse(json_string_value(v), json_string_length(v),
				      out);
	return -1;
}

void mtd_sdk_err_prefix(char *err, size_t errlen, const char *fmt, ...)
{
	char pre[256], old[1024];
	va_list ap;
	if (!err || errlen == 0)
		return;
	snprintf(old, sizeof old, "%s", err);
	va_start(ap, fmt);
	vsnprintf(pre, sizeof pre, fmt, ap);
	va_end(ap);
	mtd_sdk_err(err, errlen, "%s%s", pre, old);
}

int mtd_sdk_open_stateless(const mtd_host_api *host, const char *const *settings,
			   void **state, char *err, size_t errlen)
{
	(void)host, (void)settings, (void)err, (void)errlen;
	*state = NULL;
	return 0;
}

void mtd_sdk_close_stateless(void *state)
{
	(void)state;
}

int mtd_sdk_get_str(json_t *root, const char *path, int required, size_t max,
		    const char **out, char *err, size_t errlen)
{
	json_t *v = mtd_sdk_path(root, path);
	const char *s;
	size_t n;

	*out = NULL;
	if (!v || json_is_null(v) || (json_is_string(v) && json_string_length(v) == 0)) {
		if (!required)
			return 0;
		mtd_sdk_err(err, errlen, "field '%s': missing", path);
		return -1;
	}
	if (!json_is_string(v)) {
		mtd_sdk_err(err, errlen, "field '%s': not a string", path);
		return -1;
	}
	s = json_string_value(v);
	n = json_string_length(v);
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

int mtd_sdk_get_enum(json_t *root, const char *path, const mtd_sdk_enum *table,
		     int *out, char *err, size_t errlen)
{
	const char *s;
	if (mtd_sdk_get_str(root, path, 1, MTD_SDK_MAX_STR, &s, err, errlen))
		return -1;
	for (; table->name; table++)
		if (!strcmp(table->name, s)) {
			*out = table->value;
			return 0;
		}
	mtd_sdk_err(err, errlen, "field '%s': unknown value '%.64s'", path, s);
	return -1;
}

int mtd_sdk_get_time(json_t *root, const char *path, int64_t *out, char *err,
		     size_t errlen)
{
	json_t *v = mtd_sdk_path(root, path);
	if (!v || json_is_null(v) || (json_is_string(v) && json_string_length(v) == 0)) {
		mtd_sdk_err(err, errlen, "field '%s': missing", path);
		return -1;
	}
	if (mtd_sdk_time(root, path, out)) {
		mtd_sdk_err(err, errlen, "field '%s': not a time", path);
		return -1;
	}
	return 0;
}

/* key strings of the messages emit writes */
static int mp_cstr(mtd_buf *b, const char *s)
{
	return mtd_mp_str(b, s, strlen(s));
}


/* key + string value, skipped when s is NULL */
static int kv_str(mtd_buf *b, const char *k, const char *s)
{
	return s ? (mp_cstr(b, k) || mp_cstr(b, s)) : 0;
}

/* The refs of m that are emitted: a kind and a non-empty value. */
static size_t refs_usable(const mtd_sdk_msg *m)
{
	size_t n = 0;
	for (size_t i = 0; m->refs && i < m->nrefs; i++)
		n += m->refs[i].kind && m->refs[i].value && m->refs[i].value[0];
	return n;
}

/* "device": ID, or "device_ref": {KIND: VALUE, ...} of nref usable refs, or
 * nothing when neither is there. */
static int put_device(mtd_buf *b, const mtd_sdk_msg *m, size_t nref)
{
	if (m->device)
		return kv_str(b, "device", m->device);
	if (nref == 0)
		return 0;
	if (mp_cstr(b, "device_ref") || mtd_mp_container(b, 1, nref))
		return -1;
	for (size_t i = 0; i < m->nrefs; i++) {
		const mtd_sdk_ref *r = &m->refs[i];
		if (r->kind && r->value && r->value[0] &&
		    kv_str(b, r->kind, r->value))
			return -1;
	}
	return 0;
}

/* One threat map; its level is left out when optional and not a level. */
static int put_threat(mtd_buf *b, const mtd_sdk_threat *t, int level_required)
{
	int lv = level_required ||
		 (t->level >= MTD_LEVEL_SECURED && t->level <= MTD_LEVEL_HIGH);
	size_t n = (size_t)lv + !!t->id + !!t->category + !!t->name;

	return mtd_mp_container(b, 1, n) || kv_str(b, "id", t->id) ||
	       kv_str(b, "category", t->category) || kv_str(b, "name", t->name) ||
	       (lv && (mp_cstr(b, "level") || mp_cstr(b, mtd_level_name(t->level))));
}

/* The task map of a task message. */
static int put_task(mtd_buf *b, const mtd_sdk_task *t)
{
	size_t n = 5 + !!t->cve + !!t->software + !!t->version; /* id kind severity first_seen state */
	return mtd_mp_container(b, 1, n) || kv_str(b, "id", t->id) || kv_str(b, "kind", t->kind) ||
	       kv_str(b, "cve", t->cve) || kv_str(b, "software", t->software) ||
	       kv_str(b, "version", t->version) || kv_str(b, "severity", t->severity) ||
	       mp_cstr(b, "first_seen") || mtd_mp_int(b, t->first_seen) ||
	       kv_str(b, "state", t->state);
}

int mtd_sdk_emit(const mtd_host_api *host, void *sink, const mtd_sdk_msg *m)
{
	mtd_buf b = {0};
	int threat = strcmp(m->type, "threat") == 0;
	int event = strcmp(m->type, "threat_event") == 0;
	int error = strcmp(m->type, "error") == 0;
	int task = strcmp(m->type, "task") == 0;
	size_t nref = 0, nkeys = 2; /* type, at */
	int rc = -1;

	if (task) {
		const mtd_sdk_task *t = m->task;
		if (!t || !t->id || !t->kind || !t->severity || !t->state)
			return -1;
		nkeys += 1;
	}
	if (threat || event || task) {
		nref = refs_usable(m);
		if (!m->device && m->nrefs > 0 && nref == 0)
			return -1; /* every identifier was empty */
		nkeys += (m->device || nref);
	}
	if (event) {
		if (!m->threat || !m->threat->id || !m->state)
			return -1;
		nkeys += 2;
	}
	if (threat)
		nkeys += 2 + (m->os_supported >= 0);
	if (error && m->code)
		nkeys += 1;
	if (mtd_mp_container(&b, 1, nkeys) || kv_str(&b, "type", m->type) ||
	    mp_cstr(&b, "at") || mtd_mp_int(&b, m->at))
		goto out;
	if (error && kv_str(&b, "code", m->code))
		goto out;
	if ((threat || event || task) && put_device(&b, m, nref))
		goto out;
	if (task && (mp_cstr(&b, "task") || put_task(&b, m->task)))
		goto out;
	if (event && (mp_cstr(&b, "threat") ||
		      put_threat(&b, m->threat, strcmp(m->state, "resolved") != 0) ||
		      kv_str(&b, "state", m->state)))
		goto out;
	if (threat) {
		if (mp_cstr(&b, "level") || mp_cstr(&b, mtd_level_name(m->level)) ||
		    mp_cstr(&b, "threats") || mtd_mp_container(&b, 0, m->nthreats))
			goto out;
		for (size_t i = 0; i < m->nthreats; i++)
			if (put_threat(&b, &m->threats[i], 1))
				goto out;
		if (m->os_supported >= 0 &&
		    (mp_cstr(&b, "os_supported") ||
		     mtd_mp_bool(&b, m->os_supported)))
			goto out;
	}
	rc = host->emit(sink, b.data, b.len);
out:
	mtd_buf_free(&b);
	return rc;
}

int mtd_sdk_element_error(const mtd_host_api *host, void *sink, const char *path,
			  const char *fmt, ...)
{
	char where[256], msg[512];
	va_list ap;

	if (!host || !MTD_HOST_HAS(host, element_error))
		return -1;
	mtd_sdk_err(where, sizeof where, "%s", path ? path : "");
	va_start(ap, fmt);
	mtd_errv(msg, sizeof msg, fmt, ap);
	va_end(ap);
	return host->element_error(sink, where, msg) == 0 ? 0 : -1;
}

int mtd_sdk_get_id(json_t *root, const char *path, char *buf, const char **out,
		   char *err, size_t errlen)
{
	json_t *v = mtd_sdk_path(root, path);
	const char *s;

	*out = NULL;
	if (json_is_integer(v)) {
		json_int_t n = json_integer_value(v);
		if (n < 0) {
			mtd_sdk_err(err, errlen, "field '%s': negative id %lld", path, (long long)n);
			return -1;
		}
		if (n > 0) {
			snprintf(buf, MTD_SDK_ID_BUF, "%lld", (long long)n);
			*out = buf;
		}
		return 0;
	}
	if (v && !json_is_null(v) && !json_is_string(v)) {
		mtd_sdk_err(err, errlen, "field '%s': not a string or an integer", path);
		return -1;
	}
	if (mtd_sdk_get_str(root, path, 0, MTD_SDK_MAX_ID, &s, err, errlen))
		return -1;
	if (!mtd_sdk_id_blank(s))
		*out = s;
	return 0;
}

static int dry_emit(void *sink, const void *data, size_t len)
{
	(void)sink, (void)data, (void)len;
	return 0;
}

/* One pass over the page: the index of the first element fn refuses
 * (its message in err), or n when none, or SIZE_MAX when fn ran out of
 * memory. report: hand each refused element to the host and go on. */
static size_t each_pass(const mtd_host_api *host, void *sink, json_t *page,
			const char *name, int report, mtd_sdk_element_fn fn,
			void *ctx, char *err, size_t errlen, int *rc)
{
	size_t i, n = json_array_size(page);
	for (i = 0; i < n; i++) {
		char where[160];
		int k;
		if (errlen)
			err[0] = '\0';
		k = fn(ctx, host, sink, json_array_get(page, i), err, errlen);
		if (k == 0)
			continue;
		*rc = k == MTD_PLUGIN_ENOMEM ? MTD_PLUGIN_ENOMEM : MTD_PLUGIN_EMALFORMED;
		if (*rc == MTD_PLUGIN_ENOMEM)
			return i;
		snprintf(where, sizeof where, "%.120s[%zu]", name, i);
		if (!report || mtd_sdk_element_error(host, sink, where, "%s",
						     errlen && err[0] ? err : "refused"))
			return i;
		*rc = MTD_PLUGIN_OK;
	}
	return n;
}

int mtd_sdk_each(const mtd_host_api *host, void *sink, json_t *page, const char *name,
		 size_t max, mtd_sdk_element_fn fn, void *ctx, char *err, size_t errlen)
{
	size_t n, bad;
	int rc = MTD_PLUGIN_OK;

	if (!json_is_array(page) || json_array_size(page) > max) {
		mtd_sdk_err(err, errlen, "field '%s': not a list of up to %zu elements", name, max);
		return MTD_PLUGIN_EMALFORMED;
	}
	n = json_array_size(page);
	if (!MTD_HOST_HAS(host, element_error)) {
		/* ABI 1.0: a dry run first, so that a bad element refuses the
		 * page before anything of it is emitted */
		mtd_host_api dry = {0};
		memcpy(&dry, host, host->struct_size < sizeof dry ? host->struct_size : sizeof dry);
		dry.struct_size = (uint32_t)(host->struct_size < sizeof dry ? host->struct_size
									: sizeof dry);
		dry.emit = dry_emit;
		bad = each_pass(&dry, sink, page, name, 0, fn, ctx, err, errlen, &rc);
		if (bad < n) {
			if (rc != MTD_PLUGIN_ENOMEM)
				mtd_sdk_err_prefix(err, errlen, "%.120s[%zu]: ", name, bad);
			return rc;
		}
	}
	bad = each_pass(host, sink, page, name, 1, fn, ctx, err, errlen, &rc);
	if (bad < n && rc != MTD_PLUGIN_ENOMEM)
		mtd_sdk_err_prefix(err, errlen, "%.120s[%zu]: ", name, bad);
	return rc;
}

int mtd_sdk_decode_page(const mtd_host_api *host, void *sink, const void *data, size_t len,
			const char *page_key, size_t max, mtd_sdk_element_fn fn, void *ctx,
			char *err, size_t errlen)
{
	json_t *v = mtd_sdk_parse(data, len, err, errlen), *page;
	int rc;

	if (!v)
		return MTD_PLUGIN_EMALFORMED;
	page = json_is_array(v) ? v : json_object_get(v, page_key);
	if (page && !json_is_null(page))
		rc = mtd_sdk_each(host, sink, page, page_key, max, fn, ctx, err, errlen);
	else
		rc = fn(ctx, host, sink, v, err, errlen);
	json_decref(v);
	return rc;
}

/* ---- ABI 1.2: API responses ---- */

int mtd_sdk_api_value(const mtd_host_api *host, void *sink, const char *name,
		      const char *value)
{
	if (!host || !value || !*value || !name || !MTD_HOST_HAS(host, api_value))
		return -1;
	return host->api_value(sink, name, value) == 0 ? 0 : -1;
}

int mtd_sdk_api_time(const mtd_host_api *host, void *sink, const char *name, int64_t t)
{
	char buf[40];
	return mtd_sdk_api_value(host, sink, name, mtd_time_format(t, buf, sizeof buf));
}

int mtd_sdk_event_id(const mtd_host_api *host, void *sink, const char *id)
{
	if (!host || mtd_sdk_id_blank(id) || !MTD_HOST_HAS(host, event_id))
		return -1;
	return host->event_id(sink, id) == 0 ? 0 : -1;
}

/* A text the host takes as a value: 1..4096 bytes, no control characters. */
static int value_ok(const char *s)
{
	size_t n = strlen(s);
	if (n < 1 || n > 4096)
		return 0;
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f)
			return 0;
	return 1;
}

int mtd_sdk_api_token(const mtd_host_api *host, void *sink, const void *data, size_t len,
		      const char *token_path, const char *expires_in_path,
		      const char *expires_at_path, char *err, size_t errlen)
{
	json_t *root = mtd_sdk_parse(data, len, err, errlen), *v;
	const char *tok;
	char num[32] = "";
	const char *which = NULL;
	int rc = MTD_PLUGIN_EMALFORMED;

	if (!root)
		return MTD_PLUGIN_EMALFORMED;
	tok = mtd_sdk_str(root, token_path);
	if (!tok || !value_ok(tok)) {
		/* the value itself is never quoted: it may be a secret */
		mtd_sdk_err(err, errlen, "field '%s': %s", token_path,
			    tok ? "not a token (too long or control characters)" : "missing");
		goto out;
	}
	if (expires_in_path && (v = mtd_sdk_path(root, expires_in_path)) && !json_is_null(v)) {
		long long s = -1;
		if (json_is_integer(v))
			s = json_integer_value(v);
		else if (json_is_string(v) && *json_string_value(v))
			s = strtoll(json_string_value(v), NULL, 10);
		if (s <= 0) {
			mtd_sdk_err(err, errlen, "field '%s': not a number of seconds",
				    expires_in_path);
			goto out;
		}
		snprintf(num, sizeof num, "%lld", s);
		which = MTD_API_V_EXPIRES_IN;
	} else if (expires_at_path && mtd_sdk_path(root, expires_at_path)) {
		int64_t at;
		if (mtd_sdk_get_time(root, expires_at_path, &at, err, errlen))
			goto out;
		snprintf(num, sizeof num, "%lld", (long long)at);
		which = MTD_API_V_EXPIRES_AT;
	}
	if (mtd_sdk_api_value(host, sink, MTD_API_V_TOKEN, tok) ||
	    (which && mtd_sdk_api_value(host, sink, which, num))) {
		mtd_sdk_err(err, errlen, "the host refused the token's values");
		rc = MTD_PLUGIN_EINTERNAL;
		goto out;
	}
	rc = MTD_PLUGIN_OK;
out:
	json_decref(root);
	return rc;
}

int mtd_sdk_api_link(const mtd_host_api *host, void *sink, json_t *page, const char *path,
		     const char *name, char *err, size_t errlen)
{
	/* a member named with a dot ("@odata.nextLink") before a dotted path */
	json_t *v = json_is_object(page) && json_object_get(page, path)
			    ? json_object_get(page, path)
			    : mtd_sdk_path(page, path);
	if (!v || json_is_null(v) || (json_is_string(v) && !*json_string_value(v)))
		return 0;
	if (!json_is_string(v) || !value_ok(json_string_value(v))) {
		mtd_sdk_err(err, errlen, "field '%s': not a link or cursor", path);
		return -1;
	}
	if (mtd_sdk_api_value(host, sink, name, json_string_value(v))) {
		mtd_sdk_err(err, errlen, "field '%s': the host refused it", path);
		return -1;
	}
	return 0;
}

int mtd_sdk_api_whoami(const mtd_host_api *host, void *sink, const void *data, size_t len,
		       const char *api_url_path, const char *header, const char *value_path,
		       char *err, size_t errlen)
{
	json_t *root = mtd_sdk_parse(data, len, err, errlen);
	const char *url, *v = NULL;
	int rc = MTD_PLUGIN_EMALFORMED;

	if (!root)
		return MTD_PLUGIN_EMALFORMED;
	url = mtd_sdk_str(root, api_url_path);
	if (header)
		v = mtd_sdk_str(root, value_path);
	if (!url || !value_ok(url) || strncmp(url, "https://", 8)) {
		mtd_sdk_err(err, errlen, "field '%s': %s", api_url_path,
			    url ? "not an https URL" : "missing");
	} else if (header && (!v || !value_ok(v))) {
		mtd_sdk_err(err, errlen, "field '%s': %s", value_path, v ? "not a value" : "missing");
	} else if (mtd_sdk_api_value(host, sink, MTD_API_V_API_URL, url) ||
		   (header && (mtd_sdk_api_value(host, sink, MTD_API_V_HEADER_NAME, header) ||
			       mtd_sdk_api_value(host, sink, MTD_API_V_HEADER_VALUE, v)))) {
		mtd_sdk_err(err, errlen, "the host refused the discovered values");
	} else {
		rc = MTD_PLUGIN_OK;
	}
	json_decref(root);
	return rc;
}
