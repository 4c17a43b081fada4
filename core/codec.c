/* codec: framing and validated decoding of everything that enters mtdgate. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "codec.h"
#include "mtdgate/mtdgate.h"

struct mtd_reader {
	FILE *f;
	char *name;
	unsigned char *buf;
	size_t cap, pos, len; /* unread bytes are buf[pos..len) */
	int eof, format, dead;
	uint64_t offset;      /* file offset of buf[0] */
	uint64_t index, line;
	msgpack_zone zone;
	msgpack_object obj;
	mtd_buf conv;         /* JSON record converted to msgpack */
	uint64_t w_line, w_index, w_byte; /* the position where() describes */
	char where[300];                  /* formatted on request */
};

mtd_reader *mtd_reader_new(FILE *f, const char *name)
{
	mtd_reader *r = calloc(1, sizeof *r);
	if (!r)
		return NULL;
	r->f = f;
	r->name = strdup(name ? name : "-");
	r->cap = 1 << 16;
	r->buf = malloc(r->cap);
	if (!r->name || !r->buf || !msgpack_zone_init(&r->zone, 4096)) {
		free(r->name);
		free(r->buf);
		free(r);
		return NULL;
	}
	return r;
}

void mtd_reader_free(mtd_reader *r)
{
	if (!r)
		return;
	msgpack_zone_destroy(&r->zone);
	mtd_buf_free(&r->conv);
	free(r->buf);
	free(r->name);
	free(r);
}

int mtd_reader_format(const mtd_reader *r)
{
	return r->format;
}

uint64_t mtd_reader_offset(const mtd_reader *r)
{
	return r->offset + r->pos;
}

const char *mtd_reader_where(mtd_reader *r)
{
	if (r->format == MTD_FMT_JSON)
		snprintf(r->where, sizeof r->where, "%s line %llu", r->name,
			 (unsigned long long)r->w_line);
	else
		snprintf(r->where, sizeof r->where, "%s record %llu (byte %llu)", r->name,
			 (unsigned long long)r->w_index, (unsigned long long)r->w_byte);
	return r->where;
}

/* Room for a record of MTD_MAX_RECORD bytes with its line end, so that the
 * limit is exact: longer records are found by their length, not by a full
 * buffer. */
#define BUF_MAX (MTD_MAX_RECORD + (1u << 16))

/* Read more bytes; keeps buf[pos..len), growing up to BUF_MAX. */
static int fill(mtd_reader *r)
{
	size_t got;

	if (r->eof)
		return 0;
	if (r->pos > 0) {
		memmove(r->buf, r->buf + r->pos, r->len - r->pos);
		r->offset += r->pos;
		r->len -= r->pos;
		r->pos = 0;
	}
	if (r->len == r->cap) {
		size_t cap = r->cap * 2;
		unsigned char *b;
		if (r->cap >= BUF_MAX)
			return -2; /* caller handles an oversized record */
		if (cap > BUF_MAX)
			cap = BUF_MAX;
		b = realloc(r->buf, cap);
		if (!b)
			return MTD_ENOMEM;
		r->buf = b;
		r->cap = cap;
	}
	got = fread(r->buf + r->len, 1, r->cap - r->len, r->f);
	if (got == 0) {
		if (ferror(r->f))
			return MTD_EIO;
		r->eof = 1;
		return 0;
	}
	r->len += got;
	return 1;
}

/* The current record's position, for mtd_reader_where (formatted only
 * when asked: most records are never reported). */
static void set_where(mtd_reader *r)
{
	r->w_line = r->line;
	r->w_index = r->index;
	r->w_byte = r->offset + r->pos;
}

static int next_msgpack(mtd_reader *r, mtd_record *rec, char *err, size_t n)
{
	size_t flen = 0, off = 0;
	int k, rc;

	for (;;) {
		k = mtd_sdk_msgpack_frame(r->buf + r->pos, r->len - r->pos, &flen);
		if (k != 0)
			break;
		rc = fill(r);
		if (rc < 0 && rc != -2)
			return rc;
		if (rc == -2) {
			k = -2;
			break;
		}
		if (rc == 0) {
			if (r->len == r->pos)
				return 0;
			r->index++;
			set_where(r);
			r->dead = 1;
			mtd_sdk_err(err, n, "truncated msgpack: the stream ends inside a record");
			return MTD_EMALFORMED;
		}
	}
	r->index++;
	set_where(r);
	if (k > 0 && flen > MTD_MAX_RECORD)
		k = -2;
	if (k < 0) {
		r->dead = 1;
		mtd_sdk_err(err, n, k == -2 ? "record exceeds %u bytes"
				  : "not msgpack (or nested deeper than %u), cannot resynchronize",
			    k == -2 ? MTD_MAX_RECORD : MTD_SDK_MAX_DEPTH);
		return MTD_EMALFORMED;
	}
	msgpack_zone_clear(&r->zone);
	if (msgpack_unpack((const char *)r->buf + r->pos, flen, &off, &r->zone,
			   &r->obj) != MSGPACK_UNPACK_SUCCESS) {
		r->dead = 1;
		mtd_sdk_err(err, n, "invalid msgpack");
		return MTD_EMALFORMED;
	}
	rec->obj = &r->obj;
	rec->raw = r->buf + r->pos;
	rec->raw_len = flen;
	rec->offset = r->offset + r->pos;
	rec->index = r->index;
	rec->line = 0;
	r->pos += flen;
	return 1;
}

static int next_json(mtd_reader *r, mtd_record *rec, int parse, char *err,
		     size_t n)
{
	unsigned char *nl;
	size_t start, llen;
	int rc;

	for (;;) { /* until a line that is not blank */
		int skipping = 0;
		size_t s = 0;

		for (;;) {
			nl = memchr(r->buf + r->pos, '\n', r->len - r->pos);
			if (nl || r->eof)
				break;
			rc = fill(r);
			if (rc == -2) { /* oversized line: drop what we have, keep scanning */
				skipping = 1;
				r->offset += r->len;
				r->pos = r->len = 0;
				continue;
			}
			if (rc < 0)
				return rc;
		}
		start = r->pos;
		llen = nl ? (size_t)(nl - (r->buf + r->pos)) : r->len - r->pos;
		if (!nl && llen == 0 && !skipping)
			return 0;
		r->pos += llen + (nl ? 1 : 0);
		r->line++;
		r->index++;
		set_where(r);
		if (llen > 0 && r->buf[start + llen - 1] == '\r')
			llen--;
		if (skipping || llen > MTD_MAX_RECORD) {
			mtd_sdk_err(err, n, "record exceeds %u bytes", MTD_MAX_RECORD);
			return MTD_EMALFORMED;
		}
		while (llen > 0 && (r->buf[start + llen - 1] == ' ' ||
				    r->buf[start + llen - 1] == '\t' ||
				    r->buf[start + llen - 1] == '\r'))
			llen--;
		while (s < llen && (r->buf[start + s] == ' ' || r->buf[start + s] == '\t'))
			s++;
		if (s < llen) { /* RFC 8259: whitespace around a value is still JSON */
			start += s;
			llen -= s;
			break;
		}
	}
	rec->raw = r->buf + start;
	rec->raw_len = llen;
	rec->offset = r->offset + start;
	rec->index = r->index;
	rec->line = r->line;
	rec->obj = NULL;
	if (parse) {
		json_t *v;
		size_t off = 0;
		if (r->buf[start] != '{' && r->buf[start] != '[') {
			mtd_sdk_err(err, n, "not a JSON value");
			return MTD_EMALFORMED;
		}
		v = mtd_sdk_parse(r->buf + start, llen, err, n);
		if (!v)
			return MTD_EMALFORMED;
		r->conv.len = 0;
		rc = mtd_sdk_json_to_msgpack(v, &r->conv);
		json_decref(v);
		if (rc)
			return MTD_ENOMEM;
		msgpack_zone_clear(&r->zone);
		if (msgpack_unpack((const char *)r->conv.data, r->conv.len, &off,
				   &r->zone, &r->obj) != MSGPACK_UNPACK_SUCCESS)
			return MTD_EINTERNAL;
		rec->obj = &r->obj;
	}
	return 1;
}

int mtd_reader_next(mtd_reader *r, mtd_record *rec, int parse, char *err,
		    size_t errlen)
{
	if (r->dead)
		return 0;
	if (!r->format) {
		int rc;
		size_t i;
		for (;;) {
			for (i = r->pos; i < r->len; i++)
				if (!strchr(" \t\r\n", r->buf[i]))
					break;
			if (i < r->len || r->eof)
				break;
			/* only blank lines so far: consume them (counting them)
			 * so that a long run cannot fill the buffer */
			for (i = r->pos; i < r->len; i++)
				if (r->buf[i] == '\n') {
					r->line++;
					r->pos = i + 1;
				}
			if ((rc = fill(r)) < 0)
				return rc == -2 ? MTD_EMALFORMED : rc;
		}
		if (i == r->len)
			return 0; /* empty input */
		/* A msgpack stream of records starts with a map or array header,
		 * bytes no text starts with; anything else is read as lines. */
		{
			unsigned char b = r->buf[i];
			r->format = (b >= 0x80 && b <= 0x9f) || (b >= 0xdc && b <= 0xdf)
					    ? MTD_FMT_MSGPACK
					    : MTD_FMT_JSON;
		}
	}
	return r->format == MTD_FMT_JSON ? next_json(r, rec, parse, err, errlen)
					 : next_msgpack(r, rec, err, errlen);
}

/* ------------------------------------------------------------------------ */

int mtd_unpack_one(const void *data, size_t len, msgpack_zone *zone,
		   msgpack_object *obj)
{
	size_t flen = 0, off = 0;
	if (!data || mtd_sdk_msgpack_frame(data, len, &flen) != 1 || flen != len)
		return -1;
	return msgpack_unpack(data, len, &off, zone, obj) == MSGPACK_UNPACK_SUCCESS &&
			       off == len
		       ? 0
		       : -1;
}

const msgpack_object *mtd_map_get(const msgpack_object *map, const char *key)
{
	size_t kl = strlen(key);
	if (!map || map->type != MSGPACK_OBJECT_MAP)
		return NULL;
	for (uint32_t i = 0; i < map->via.map.size; i++) {
		const msgpack_object *k = &map->via.map.ptr[i].key;
		if (k->type == MSGPACK_OBJECT_STR && k->via.str.size == kl &&
		    memcmp(k->via.str.ptr, key, kl) == 0)
			return &map->via.map.ptr[i].val;
	}
	return NULL;
}

static int bad(char *err, size_t n, const char *field, const char *why)
{
	mtd_sdk_err(err, n, "field '%s': %s", field, why);
	return MTD_EMALFORMED;
}

/* A string field: printable (no control bytes), at most max bytes. */
static int get_str(const msgpack_object *m, const char *key, int required,
		   size_t max, mtd_str *out, char *err, size_t n)
{
	const msgpack_object *v = mtd_map_get(m, key);
	out->p = NULL;
	out->n = 0;
	if (!v || v->type == MSGPACK_OBJECT_NIL)
		return required ? bad(err, n, key, "missing") : 0;
	if (v->type != MSGPACK_OBJECT_STR)
		return bad(err, n, key, "not a string");
	if (v->via.str.size > max) {
		mtd_sdk_err(err, n, "field '%s': %u bytes, more than the limit of %zu",
			    key, v->via.str.size, max);
		return MTD_EMALFORMED;
	}
	for (uint32_t i = 0; i < v->via.str.size; i++)
		if ((unsigned char)v->via.str.ptr[i] < 0x20 || v->via.str.ptr[i] == 0x7f)
			return bad(err, n, key, "contains a control character");
	if (required && v->via.str.size == 0)
		return bad(err, n, key, "empty");
	out->p = v->via.str.ptr;
	out->n = v->via.str.size;
	return 0;
}

static int get_time(const msgpack_object *m, const char *key, int64_t *out,
		    char *err, size_t n)
{
	const msgpack_object *v = mtd_map_get(m, key);
	if (!v)
		return bad(err, n, key, "missing");
	if (v->type == MSGPACK_OBJECT_POSITIVE_INTEGER && v->via.u64 < 253402300800ull) {
		*out = (int64_t)v->via.u64;
		return 0;
	}
	if (v->type == MSGPACK_OBJECT_STR &&
	    mtd_time_parse(v->via.str.ptr, v->via.str.size, out) == 0)
		return 0;
	if (v->type == MSGPACK_OBJECT_STR) {
		mtd_sdk_err(err, n, "field '%s': '%.*s' is not an RFC 3339 time", key,
			    (int)(v->via.str.size > 64 ? 64 : v->via.str.size),
			    v->via.str.ptr);
		return MTD_EMALFORMED;
	}
	return bad(err, n, key, "not a time (RFC 3339 string or Unix seconds)");
}

/* -1 absent, 0/1; error when present and not a boolean. */
static int get_bool(const msgpack_object *m, const char *key, int *out,
		    char *err, size_t n)
{
	const msgpack_object *v = mtd_map_get(m, key);
	*out = -1;
	if (!v || v->type == MSGPACK_OBJECT_NIL)
		return 0;
	if (v->type != MSGPACK_OBJECT_BOOLEAN)
		return bad(err, n, key, "not a boolean");
	*out = v->via.boolean;
	return 0;
}

static int get_level(const msgpack_object *m, const char *key, int *out,
		     char *err, size_t n)
{
	mtd_str s;
	int rc = get_str(m, key, 1, 16, &s, err, n);
	if (rc)
		return rc;
	*out = mtd_level_from_name(s.p, s.n);
	if (*out < 0) {
		mtd_sdk_err(err, n, "field '%s': '%.*s' is not a threat level (secured, low, medium, high)",
			    key, (int)s.n, s.p);
		return MTD_EMALFORMED;
	}
	return 0;
}

static const char *const msg_types[] = {NULL, "threat", "heartbeat", "provision",
					"error", "appsync_request"};

const char *mtd_msg_type_name(int type)
{
	return type >= MTD_MSG_THREAT && type <= MTD_MSG_APPSYNC_REQUEST
		       ? msg_types[type]
		       : "?";
}

static const char *const categories[] = {"network", "app", "os", "device"};

static int check_threats(const msgpack_object *a, char *err, size_t n)
{
	if (a->type != MSGPACK_OBJECT_ARRAY)
		return bad(err, n, "threats", "not an array");
	if (a->via.array.size > MTD_MAX_THREATS) {
		mtd_sdk_err(err, n, "field 'threats': %u threats, more than the limit of %d",
			    a->via.array.size, MTD_MAX_THREATS);
		return MTD_EMALFORMED;
	}
	for (uint32_t i = 0; i < a->via.array.size; i++) {
		const msgpack_object *t = &a->via.array.ptr[i];
		mtd_str s;
		int lvl, rc, ok = 0;
		char sub[256];
		if (t->type != MSGPACK_OBJECT_MAP) {
			mtd_sdk_err(err, n, "field 'threats[%u]': not a map", i);
			return MTD_EMALFORMED;
		}
		if ((rc = get_str(t, "id", 0, MTD_MAX_ID, &s, sub, sizeof sub)) ||
		    (rc = get_str(t, "name", 0, MTD_MAX_STR, &s, sub, sizeof sub)) ||
		    (rc = get_level(t, "level", &lvl, sub, sizeof sub)) ||
		    (rc = get_str(t, "category", 1, 16, &s, sub, sizeof sub))) {
			mtd_sdk_err(err, n, "threats[%u]: %s", i, sub);
			return rc;
		}
		for (size_t c = 0; c < sizeof categories / sizeof *categories; c++)
			ok |= strlen(categories[c]) == s.n && !memcmp(categories[c], s.p, s.n);
		if (!ok) {
			mtd_sdk_err(err, n, "threats[%u]: field 'category': '%.*s' is not one of network, app, os, device",
				    i, (int)s.n, s.p);
			return MTD_EMALFORMED;
		}
	}
	return 0;
}

int mtd_decode_msg(const msgpack_object *o, mtd_msg *m, char *err, size_t n)
{
	mtd_str type;
	int rc;

	memset(m, 0, sizeof *m);
	m->os_supported = -1;
	if (!o || o->type != MSGPACK_OBJECT_MAP) {
		mtd_sdk_err(err, n, "a message must be a map");
		return MTD_EMALFORMED;
	}
	if ((rc = get_str(o, "type", 1, 32, &type, err, n)))
		return rc;
	for (int t = MTD_MSG_THREAT; t <= MTD_MSG_APPSYNC_REQUEST; t++)
		if (strlen(msg_types[t]) == type.n && !memcmp(msg_types[t], type.p, type.n))
			m->type = t;
	if (!m->type) {
		mtd_sdk_err(err, n, "field 'type': '%.*s' is not a message type", (int)type.n,
			    type.p);
		return MTD_EMALFORMED;
	}
	if ((rc = get_time(o, "at", &m->at, err, n)))
		return rc;
	if (m->type == MTD_MSG_ERROR)
		return get_str(o, "code", 1, MTD_MAX_ID, &m->code, err, n);
	if (m->type != MTD_MSG_THREAT)
		return 0;
	if ((rc = get_str(o, "device", 1, MTD_MAX_ID, &m->device, err, n)) ||
	    (rc = get_level(o, "level", &m->level, err, n)) ||
	    (rc = get_bool(o, "os_supported", &m->os_supported, err, n)))
		return rc;
	m->threats = mtd_map_get(o, "threats");
	if (m->threats && m->threats->type == MSGPACK_OBJECT_NIL)
		m->threats = NULL;
	if (m->threats && (rc = check_threats(m->threats, err, n)))
		return rc;
	return 0;
}

static const char *const platforms[] = {"android", "ios", "windows", "macos"};

const char *mtd_platform_name(int p)
{
	return p >= 0 && p < MTD_NPLAT ? platforms[p] : "?";
}

int mtd_platform_from_name(const char *s, size_t n)
{
	for (int i = 0; i < MTD_NPLAT; i++)
		if (strlen(platforms[i]) == n && !memcmp(platforms[i], s, n))
			return i;
	return -1;
}

static int one_of(const msgpack_object *o, const char *key, const char *a,
		  const char *b, int *out, char *err, size_t n)
{
	mtd_str s;
	int rc = get_str(o, key, 1, 32, &s, err, n);
	if (rc)
		return rc;
	if (strlen(a) == s.n && !memcmp(a, s.p, s.n))
		*out = 1;
	else if (strlen(b) == s.n && !memcmp(b, s.p, s.n))
		*out = 0;
	else {
		mtd_sdk_err(err, n, "field '%s': '%.*s' is not %s or %s", key,
			    (int)s.n, s.p, a, b);
		return MTD_EMALFORMED;
	}
	return 0;
}

static int str_cmp(const void *a, const void *b)
{
	const mtd_str *x = a, *y = b;
	size_t k = x->n < y->n ? x->n : y->n;
	int c = memcmp(x->p, y->p, k);
	return c ? c : (x->n > y->n) - (x->n < y->n);
}

int mtd_decode_device(const msgpack_object *o, mtd_device_rec *d, char *err,
		      size_t n)
{
	mtd_str plat;
	const msgpack_object *g;
	int rc;

	memset(d, 0, sizeof *d);
	if (!o || o->type != MSGPACK_OBJECT_MAP) {
		mtd_sdk_err(err, n, "a device record must be a map");
		return MTD_EMALFORMED;
	}
	if ((rc = get_str(o, "id", 1, MTD_MAX_ID, &d->id, err, n)) ||
	    (rc = get_str(o, "platform", 1, 16, &plat, err, n)))
		return rc;
	d->platform = mtd_platform_from_name(plat.p, plat.n);
	if (d->platform < 0) {
		mtd_sdk_err(err, n, "field 'platform': '%.*s' is not android, ios, windows or macos",
			    (int)plat.n, plat.p);
		return MTD_EMALFORMED;
	}
	if ((rc = get_str(o, "os_version", 0, 64, &d->os_version, err, n)) ||
	    (rc = get_str(o, "user", 0, MTD_MAX_STR, &d->user, err, n)) ||
	    (rc = one_of(o, "ownership", "corporate", "personal", &d->corporate, err, n)) ||
	    (rc = one_of(o, "management", "enrolled", "unenrolled", &d->enrolled, err, n)))
		return rc;
	g = mtd_map_get(o, "groups");
	if (g && g->type != MSGPACK_OBJECT_NIL) {
		if (g->type != MSGPACK_OBJECT_ARRAY)
			return bad(err, n, "groups", "not an array");
		if (g->via.array.size > MTD_MAX_GROUPS) {
			mtd_sdk_err(err, n, "field 'groups': %u groups, more than the limit of %d",
				    g->via.array.size, MTD_MAX_GROUPS);
			return MTD_EMALFORMED;
		}
		for (uint32_t i = 0; i < g->via.array.size; i++) {
			const msgpack_object *e = &g->via.array.ptr[i];
			if (e->type != MSGPACK_OBJECT_STR || e->via.str.size == 0 ||
			    e->via.str.size > MTD_MAX_ID) {
				mtd_sdk_err(err, n, "field 'groups[%u]': not a group name (a string of 1 to %d bytes)",
					    i, MTD_MAX_ID);
				return MTD_EMALFORMED;
			}
			for (uint32_t k = 0; k < e->via.str.size; k++)
				if ((unsigned char)e->via.str.ptr[k] < 0x20) {
					mtd_sdk_err(err, n, "field 'groups[%u]': contains a control character", i);
					return MTD_EMALFORMED;
				}
			d->groups[d->ngroups].p = e->via.str.ptr;
			d->groups[d->ngroups++].n = e->via.str.size;
		}
		qsort(d->groups, d->ngroups, sizeof *d->groups, str_cmp);
		for (size_t i = 1, w = 1; i <= d->ngroups; i++) {
			if (i == d->ngroups) {
				d->ngroups = w;
				break;
			}
			if (str_cmp(&d->groups[i], &d->groups[w - 1]))
				d->groups[w++] = d->groups[i];
		}
	}
	return 0;
}

static int get_size(const msgpack_object *m, const char *key, int64_t *out,
		    char *err, size_t n)
{
	const msgpack_object *v = mtd_map_get(m, key);
	*out = -1;
	if (!v || v->type == MSGPACK_OBJECT_NIL)
		return 0;
	if (v->type != MSGPACK_OBJECT_POSITIVE_INTEGER || v->via.u64 > INT64_MAX)
		return bad(err, n, key, "not a non-negative integer");
	*out = (int64_t)v->via.u64;
	return 0;
}

int mtd_decode_app(const msgpack_object *o, mtd_app_rec *a, char *err,
		   size_t n)
{
	int rc;
	memset(a, 0, sizeof *a);
	if (!o || o->type != MSGPACK_OBJECT_MAP) {
		mtd_sdk_err(err, n, "an app record must be a map");
		return MTD_EMALFORMED;
	}
	if ((rc = get_str(o, "device", 1, MTD_MAX_ID, &a->device, err, n)) ||
	    (rc = get_str(o, "app_id", 1, MTD_MAX_STR, &a->app_id, err, n)) ||
	    (rc = get_str(o, "version", 0, 64, &a->version, err, n)) ||
	    (rc = get_str(o, "short_version", 0, 64, &a->short_version, err, n)) ||
	    (rc = get_str(o, "name", 0, MTD_MAX_STR, &a->name, err, n)) ||
	    (rc = get_size(o, "bundle_size", &a->bundle_size, err, n)) ||
	    (rc = get_size(o, "dynamic_size", &a->dynamic_size, err, n)) ||
	    (rc = get_bool(o, "adhoc_signed", &a->adhoc_signed, err, n)) ||
	    (rc = get_bool(o, "app_store", &a->app_store, err, n)) ||
	    (rc = get_bool(o, "beta", &a->beta, err, n)) ||
	    (rc = get_bool(o, "vpp", &a->vpp, err, n)) ||
	    (rc = get_bool(o, "validated", &a->validated, err, n)) ||
	    (rc = get_bool(o, "managed", &a->managed, err, n)))
		return rc;
	return 0;
}
