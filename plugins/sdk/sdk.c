/* SDK helpers: levels, error messages, path getters, message encoding. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mtdgate/sdk.h"
#include "mp_write.h"

static const char *const level_names[] = {"none", "secured", "low", "medium",
					  "high"};

int mtd_level_from_name(const char *s, size_t n)
{
	for (int i = MTD_LEVEL_SECURED; i <= MTD_LEVEL_HIGH; i++)
		if (s && strlen(level_names[i]) == n &&
		    memcmp(level_names[i], s, n) == 0)
			return i;
	return -1;
}

const char *mtd_level_name(int level)
{
	return level >= MTD_LEVEL_NONE && level <= MTD_LEVEL_HIGH
		       ? level_names[level]
		       : "?";
}

/* One line, whatever a hostile payload put in the values a message quotes:
 * control characters become spaces. */
static void one_line(char *s)
{
	for (unsigned char *p = (unsigned char *)s; *p; p++)
		if (*p < 0x20 || *p == 0x7f)
			*p = ' ';
}

void mtd_sdk_err(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;
	if (!err || errlen == 0)
		return;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
	one_line(err);
}

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
	return json_is_string(v) ? json_string_value(v) : NULL;
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
	if (!v || json_is_null(v)) {
		mtd_sdk_err(err, errlen, "field '%s': missing", path);
		return -1;
	}
	if (mtd_sdk_time(root, path, out)) {
		mtd_sdk_err(err, errlen, "field '%s': not a time", path);
		return -1;
	}
	return 0;
}

void mtd_buf_free(mtd_buf *b)
{
	free(b->data);
	b->data = NULL;
	b->len = b->cap = 0;
}

/* Length of the well-formed UTF-8 sequence at p (n bytes left), 0 if none
 * (RFC 3629: no overlong forms, no surrogates, nothing above U+10FFFF). */
static size_t utf8_len(const unsigned char *p, size_t n)
{
	unsigned char c = p[0], lo = 0x80, hi = 0xbf;
	size_t len;
	if (c < 0x80)
		return 1;
	if (c >= 0xc2 && c <= 0xdf)
		len = 2;
	else if (c >= 0xe0 && c <= 0xef) {
		len = 3;
		if (c == 0xe0)
			lo = 0xa0;
		else if (c == 0xed)
			hi = 0x9f;
	} else if (c >= 0xf0 && c <= 0xf4) {
		len = 4;
		if (c == 0xf0)
			lo = 0x90;
		else if (c == 0xf4)
			hi = 0x8f;
	} else
		return 0;
	if (n < len || p[1] < lo || p[1] > hi)
		return 0;
	for (size_t i = 2; i < len; i++)
		if (p[i] < 0x80 || p[i] > 0xbf)
			return 0;
	return len;
}

size_t mtd_sdk_json_str(char *out, const char *s, size_t n)
{
	static const char hex[] = "0123456789abcdef";
	const unsigned char *p = (const unsigned char *)s;
	char *o = out;
	*o++ = '"';
	for (size_t i = 0; i < n;) {
		unsigned char c = p[i];
		size_t k;
		if (c >= 0x20 && c < 0x80 && c != '"' && c != '\\') {
			*o++ = (char)c;
			i++;
		} else if (c == '"' || c == '\\') {
			*o++ = '\\';
			*o++ = (char)c;
			i++;
		} else if (c < 0x20) {
			const char *e = c == '\n' ? "n" : c == '\t' ? "t" : c == '\r' ? "r"
					: c == '\b' ? "b" : c == '\f' ? "f" : NULL;
			*o++ = '\\';
			if (e) {
				*o++ = *e;
			} else {
				memcpy(o, "u00", 3);
				o[3] = hex[c >> 4];
				o[4] = hex[c & 15];
				o += 5;
			}
			i++;
		} else if ((k = utf8_len(p + i, n - i)) > 0) {
			memcpy(o, p + i, k);
			o += k;
			i += k;
		} else {
			memcpy(o, "\\ufffd", 6);
			o += 6;
			i++;
		}
	}
	*o++ = '"';
	return (size_t)(o - out);
}

/* ---- a minimal msgpack writer: what plugins produce needs nothing more ---- */

int mtd_buf_room(mtd_buf *b, size_t n)
{
	if (b->cap - b->len < n) {
		size_t cap = b->cap ? b->cap : 256;
		unsigned char *d;
		while (cap - b->len < n) {
			if (cap > SIZE_MAX / 2)
				return -1;
			cap *= 2;
		}
		if (!(d = realloc(b->data, cap)))
			return -1;
		b->data = d;
		b->cap = cap;
	}
	return 0;
}

int mtd_buf_put(mtd_buf *b, const void *p, size_t n)
{
	if (mtd_buf_room(b, n))
		return -1;
	if (n)
		memcpy(b->data + b->len, p, n);
	b->len += n;
	return 0;
}

static int put(mtd_buf *b, const void *p, size_t n)
{
	return mtd_buf_put(b, p, n);
}

static int put_be(mtd_buf *b, unsigned char tag, uint64_t v, int bytes)
{
	unsigned char t[9];
	t[0] = tag;
	for (int i = 0; i < bytes; i++)
		t[1 + i] = (unsigned char)(v >> (8 * (bytes - 1 - i)));
	return put(b, t, 1 + (size_t)bytes);
}

int mtd_mp_str(mtd_buf *b, const char *s, size_t n)
{
	int rc;
	if (n < 32) {
		unsigned char t = (unsigned char)(0xa0 | n);
		rc = put(b, &t, 1);
	} else if (n <= 0xff)
		rc = put_be(b, 0xd9, n, 1);
	else if (n <= 0xffff)
		rc = put_be(b, 0xda, n, 2);
	else if (n <= 0xffffffffu)
		rc = put_be(b, 0xdb, n, 4);
	else
		return -1;
	return rc ? rc : put(b, s, n);
}

static int mp_cstr(mtd_buf *b, const char *s)
{
	return mtd_mp_str(b, s, strlen(s));
}

int mtd_mp_int(mtd_buf *b, int64_t v)
{
	if (v >= 0) {
		if (v < 128) {
			unsigned char t = (unsigned char)v;
			return put(b, &t, 1);
		}
		if (v <= 0xff)
			return put_be(b, 0xcc, (uint64_t)v, 1);
		if (v <= 0xffff)
			return put_be(b, 0xcd, (uint64_t)v, 2);
		if (v <= 0xffffffffLL)
			return put_be(b, 0xce, (uint64_t)v, 4);
		return put_be(b, 0xcf, (uint64_t)v, 8);
	}
	if (v >= -32) {
		unsigned char t = (unsigned char)(int8_t)v;
		return put(b, &t, 1);
	}
	if (v >= INT8_MIN)
		return put_be(b, 0xd0, (uint64_t)(uint8_t)(int8_t)v, 1);
	if (v >= INT16_MIN)
		return put_be(b, 0xd1, (uint64_t)(uint16_t)(int16_t)v, 2);
	if (v >= INT32_MIN)
		return put_be(b, 0xd2, (uint64_t)(uint32_t)(int32_t)v, 4);
	return put_be(b, 0xd3, (uint64_t)v, 8);
}

int mtd_mp_container(mtd_buf *b, int map, size_t n)
{
	if (n < 16) {
		unsigned char t = (unsigned char)((map ? 0x80 : 0x90) | n);
		return put(b, &t, 1);
	}
	if (n <= 0xffff)
		return put_be(b, map ? 0xde : 0xdc, n, 2);
	if (n <= 0xffffffffu)
		return put_be(b, map ? 0xdf : 0xdd, n, 4);
	return -1;
}

int mtd_mp_bool(mtd_buf *b, int v)
{
	unsigned char t = v ? 0xc3 : 0xc2;
	return put(b, &t, 1);
}

int mtd_mp_nil(mtd_buf *b)
{
	unsigned char t = 0xc0;
	return put(b, &t, 1);
}

int mtd_mp_double(mtd_buf *b, double d)
{
	uint64_t u;
	memcpy(&u, &d, sizeof u);
	return put_be(b, 0xcb, u, 8);
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

int mtd_sdk_emit(const mtd_host_api *host, void *sink, const mtd_sdk_msg *m)
{
	mtd_buf b = {0};
	int threat = strcmp(m->type, "threat") == 0;
	int event = strcmp(m->type, "threat_event") == 0;
	int error = strcmp(m->type, "error") == 0;
	size_t nref = 0, nkeys = 2; /* type, at */
	int rc = -1;

	if (threat || event) {
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
	if ((threat || event) && put_device(&b, m, nref))
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
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	one_line(msg);
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
