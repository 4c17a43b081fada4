/* Payload parsing (JSON or msgpack -> jansson tree) and JSON -> msgpack. */
#include <math.h>
#include <msgpack.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mp_write.h"
#include "mtdgate/sdk.h"

static json_t *from_mp(const msgpack_object *o, int depth, char *err,
		       size_t errlen)
{
	json_t *v = NULL;

	if (depth > MTD_SDK_MAX_DEPTH) {
		mtd_sdk_err(err, errlen, "nested deeper than %d levels",
			    MTD_SDK_MAX_DEPTH);
		return NULL;
	}
	switch (o->type) {
	case MSGPACK_OBJECT_NIL:
		return json_null();
	case MSGPACK_OBJECT_BOOLEAN:
		return json_boolean(o->via.boolean);
	case MSGPACK_OBJECT_POSITIVE_INTEGER:
		if (o->via.u64 > (uint64_t)INT64_MAX) {
			mtd_sdk_err(err, errlen, "integer out of range");
			return NULL;
		}
		return json_integer((json_int_t)o->via.u64);
	case MSGPACK_OBJECT_NEGATIVE_INTEGER:
		return json_integer((json_int_t)o->via.i64);
	case MSGPACK_OBJECT_FLOAT32:
	case MSGPACK_OBJECT_FLOAT64:
		if (!isfinite(o->via.f64)) { /* JSON has no NaN or infinity */
			mtd_sdk_err(err, errlen, "number is not finite");
			return NULL;
		}
		v = json_real(o->via.f64);
		break;
	case MSGPACK_OBJECT_STR:
		/* msgpack-c gives an empty string a NULL pointer */
		v = json_stringn_nocheck(o->via.str.size ? o->via.str.ptr : "", o->via.str.size);
		break;
	case MSGPACK_OBJECT_ARRAY:
		v = json_array();
		for (uint32_t i = 0; v && i < o->via.array.size; i++) {
			json_t *e = from_mp(&o->via.array.ptr[i], depth + 1, err,
					    errlen);
			if (!e || json_array_append_new(v, e)) {
				json_decref(v);
				return NULL;
			}
		}
		break;
	case MSGPACK_OBJECT_MAP:
		v = json_object();
		for (uint32_t i = 0; v && i < o->via.map.size; i++) {
			const msgpack_object_kv *kv = &o->via.map.ptr[i];
			char key[256];
			json_t *e;
			if (kv->key.type != MSGPACK_OBJECT_STR ||
			    kv->key.via.str.size >= sizeof key ||
			    (kv->key.via.str.size && /* ptr is NULL when empty */
			     memchr(kv->key.via.str.ptr, 0, kv->key.via.str.size))) {
				mtd_sdk_err(err, errlen,
					    "map key is not a short string");
				json_decref(v);
				return NULL;
			}
			if (kv->key.via.str.size)
				memcpy(key, kv->key.via.str.ptr, kv->key.via.str.size);
			key[kv->key.via.str.size] = '\0';
			if (json_object_get(v, key)) { /* as JSON_REJECT_DUPLICATES */
				mtd_sdk_err(err, errlen, "duplicate key '%.64s'", key);
				json_decref(v);
				return NULL;
			}
			e = from_mp(&kv->val, depth + 1, err, errlen);
			if (!e || json_object_set_new_nocheck(v, key, e)) {
				json_decref(v);
				return NULL;
			}
		}
		break;
	default:
		mtd_sdk_err(err, errlen, "binary and extension values are not accepted");
		return NULL;
	}
	if (!v)
		mtd_sdk_err(err, errlen, "out of memory");
	return v;
}

int mtd_mp_head(unsigned c, int *lb, uint64_t *len, uint64_t *count, int *mult)
{
	*lb = *mult = 0;
	*len = *count = 0;
	if (c <= 0x7f || c >= 0xe0 || c == 0xc0 || c == 0xc2 || c == 0xc3)
		return 0;
	if (c >= 0xa0 && c <= 0xbf) {
		*len = c & 0x1f;
		return 0;
	}
	if (c >= 0x80 && c <= 0x9f) {
		*count = c & 0x0f;
		*mult = c <= 0x8f ? 2 : 1;
		return 0;
	}
	switch (c) {
	case 0xc4: case 0xd9: *lb = 1; break; /* bin8 str8 */
	case 0xc5: case 0xda: *lb = 2; break;
	case 0xc6: case 0xdb: *lb = 4; break;
	case 0xc7: *lb = 1; *len = 1; break;  /* ext: +type byte */
	case 0xc8: *lb = 2; *len = 1; break;
	case 0xc9: *lb = 4; *len = 1; break;
	case 0xcc: case 0xd0: *len = 1; break;
	case 0xcd: case 0xd1: *len = 2; break;
	case 0xca: case 0xce: case 0xd2: *len = 4; break;
	case 0xcb: case 0xcf: case 0xd3: *len = 8; break;
	case 0xd4: *len = 2; break; /* fixext */
	case 0xd5: *len = 3; break;
	case 0xd6: *len = 5; break;
	case 0xd7: *len = 9; break;
	case 0xd8: *len = 17; break;
	case 0xdc: *lb = 2; *mult = 1; break;
	case 0xdd: *lb = 4; *mult = 1; break;
	case 0xde: *lb = 2; *mult = 2; break;
	case 0xdf: *lb = 4; *mult = 2; break;
	default: return -1; /* 0xc1 */
	}
	return 0;
}

/* Check that p[0..n) starts with one complete msgpack object of bounded
 * nesting, and that no container claims more elements than bytes remain
 * (so a 5-byte message cannot make the decoder allocate gigabytes).
 * Returns 1 and its length in *out, 0 when more bytes are needed, -1 when
 * the bytes cannot be msgpack. */
int mtd_sdk_msgpack_frame(const void *data, size_t n, size_t *out)
{
	return mtd_mp_frame(data, n, 0, out);
}

int mtd_mp_frame(const void *data, size_t n, int outer, size_t *out)
{
	const unsigned char *p = data;
	const int max = MTD_SDK_MAX_DEPTH - outer;
	uint64_t todo[MTD_SDK_MAX_DEPTH + 2];
	int depth = 0;
	size_t i = 0;

	todo[0] = 1;
	while (depth >= 0) {
		unsigned char c;
		uint64_t len = 0, count = 0;
		int lb = 0, mult = 0;

		if (todo[depth] == 0) {
			depth--;
			continue;
		}
		todo[depth]--;
		if (i >= n)
			return 0;
		c = p[i++];
		if (mtd_mp_head(c, &lb, &len, &count, &mult))
			return -1; /* 0xc1 */
		if (lb) {
			uint64_t v = 0;
			if (n - i < (size_t)lb)
				return 0;
			for (int k = 0; k < lb; k++)
				v = v << 8 | p[i++];
			if (mult)
				count = v;
			else
				len += v;
		}
		if (mult) {
			if (depth + 1 > max)
				return -1;
			if (count * mult > MTD_SDK_MAX_PAYLOAD)
				return -1;
			todo[++depth] = count * mult;
			continue;
		}
		if (len > MTD_SDK_MAX_PAYLOAD)
			return -1;
		if (n - i < len)
			return 0;
		i += len;
	}
	*out = i;
	return 1;
}

/* A string key of a map being checked for duplicates. */
typedef struct mkey {
	const unsigned char *p;
	size_t n;
} mkey;

static int mkey_cmp(const void *a, const void *b)
{
	const mkey *x = a, *y = b;
	int c = memcmp(x->p, y->p, x->n < y->n ? x->n : y->n);
	return c ? c : (x->n > y->n) - (x->n < y->n);
}

/* The string at p[0..n) (after a framed object's bounds were checked): 1
 * with it in *k and its total length in *len, 0 when it is not a string. */
static int mp_strval(const unsigned char *p, size_t n, mkey *k, size_t *len)
{
	size_t h = 1, sl;
	if (n == 0)
		return 0;
	if ((p[0] & 0xe0) == 0xa0)
		sl = p[0] & 0x1f;
	else if (p[0] == 0xd9 && n >= 2)
		sl = p[1], h = 2;
	else if (p[0] == 0xda && n >= 3)
		sl = (size_t)p[1] << 8 | p[2], h = 3;
	else if (p[0] == 0xdb && n >= 5)
		sl = (size_t)p[1] << 24 | (size_t)p[2] << 16 | (size_t)p[3] << 8 | p[4], h = 5;
	else
		return 0;
	if (n - h < sl)
		return 0;
	k->p = p + h;
	k->n = sl;
	*len = h + sl;
	return 1;
}

/* The object at p[0..n), nested depth deep: walked to its end (*len), each
 * map's string keys compared. 1 (the key in dup) on a duplicate, 0 when
 * none, -1 on bad bytes or no memory. */
static int uniq_walk(const unsigned char *p, size_t n, int depth, size_t *len, mkey *dup)
{
	size_t i, count, h = 1, vl;
	int map, rc = 0;
	mkey small[16], *keys = small;
	size_t nkeys = 0;

	if (n == 0)
		return -1;
	if ((p[0] & 0xe0) == 0x80 && p[0] <= 0x9f) {
		map = p[0] < 0x90;
		count = p[0] & 0x0f;
	} else if (p[0] >= 0xdc && p[0] <= 0xdf) {
		map = p[0] >= 0xde;
		if (p[0] & 1) {
			if (n < 5)
				return -1;
			count = (size_t)p[1] << 24 | (size_t)p[2] << 16 | (size_t)p[3] << 8 | p[4];
			h = 5;
		} else {
			if (n < 3)
				return -1;
			count = (size_t)p[1] << 8 | p[2];
			h = 3;
		}
	} else {
		return mtd_mp_frame(p, n, depth, len) == 1 ? 0 : -1; /* not a container */
	}
	if (map && count > sizeof small / sizeof *small &&
	    !(keys = malloc(count * sizeof *keys)))
		return -1;
	i = h;
	for (size_t e = 0; e < count * (map ? 2 : 1); e++) {
		mkey k;
		if (map && e % 2 == 0 && mp_strval(p + i, n - i, &k, &vl)) {
			keys[nkeys++] = k;
			if (keys == small)
				for (size_t j = 0; j + 1 < nkeys; j++)
					if (!mkey_cmp(&keys[j], &k)) {
						*dup = k;
						rc = 1;
						goto out;
					}
			i += vl;
			continue;
		}
		if ((rc = uniq_walk(p + i, n - i, depth + 1, &vl, dup)))
			goto out;
		i += vl;
	}
	if (keys != small && nkeys > 1) {
		qsort(keys, nkeys, sizeof *keys, mkey_cmp);
		for (size_t j = 1; j < nkeys; j++)
			if (!mkey_cmp(&keys[j - 1], &keys[j])) {
				*dup = keys[j];
				rc = 1;
				goto out;
			}
	}
	*len = i;
out:
	if (keys != small)
		free(keys);
	return rc;
}

int mtd_mp_unique_keys(const void *data, size_t n, char *key, size_t keylen)
{
	mkey dup = {NULL, 0};
	size_t len;
	int rc;
	if (mtd_mp_frame(data, n, 0, &len) != 1)
		return -1;
	rc = uniq_walk(data, len, 0, &len, &dup);
	if (rc == 1 && key && keylen)
		snprintf(key, keylen, "%.*s", (int)(dup.n < keylen ? dup.n : keylen - 1),
			 (const char *)dup.p);
	return rc;
}

/* jansson bounds nesting at 2048 itself; ours is tighter. The limit counts
 * arrays and maps, as mtd_sdk_msgpack_frame does: `depth` containers
 * enclose v. */
static int too_deep(json_t *v, int depth)
{
	size_t i;
	const char *k;
	json_t *e;

	if (!json_is_array(v) && !json_is_object(v))
		return 0;
	if (depth + 1 > MTD_SDK_MAX_DEPTH)
		return 1;
	if (json_is_array(v))
		json_array_foreach(v, i, e) if (too_deep(e, depth + 1)) return 1;
	if (json_is_object(v))
		json_object_foreach(v, k, e) if (too_deep(e, depth + 1)) return 1;
	return 0;
}

json_t *mtd_sdk_parse(const void *data, size_t len, char *err, size_t errlen)
{
	const unsigned char *p = data;
	size_t i = 0;

	if (!data || len == 0) {
		mtd_sdk_err(err, errlen, "empty payload");
		return NULL;
	}
	if (len > MTD_SDK_MAX_PAYLOAD) {
		mtd_sdk_err(err, errlen, "payload of %zu bytes exceeds %u", len,
			    MTD_SDK_MAX_PAYLOAD);
		return NULL;
	}
	while (i < len && (p[i] == ' ' || p[i] == '\t' || p[i] == '\r' || p[i] == '\n'))
		i++;
	if (i < len && (p[i] == '{' || p[i] == '[')) {
		json_error_t je;
		json_t *v = json_loadb((const char *)data, len,
				       JSON_REJECT_DUPLICATES, &je);
		if (!v) {
			mtd_sdk_err(err, errlen, "invalid JSON at column %d: %s",
				    je.column, je.text);
			return NULL;
		}
		if (too_deep(v, 0)) {
			json_decref(v);
			mtd_sdk_err(err, errlen, "nested deeper than %d levels",
				    MTD_SDK_MAX_DEPTH);
			return NULL;
		}
		return v;
	}
	{
		msgpack_zone zone;
		msgpack_object obj;
		size_t off = 0;
		json_t *v = NULL;
		msgpack_unpack_return r;

		if (!msgpack_zone_init(&zone, 2048)) {
			mtd_sdk_err(err, errlen, "out of memory");
			return NULL;
		}
		{
			size_t flen = 0;
			int k = mtd_sdk_msgpack_frame(data, len, &flen);
			if (k <= 0) {
				mtd_sdk_err(err, errlen, k == 0 ? "truncated msgpack"
						  : "neither JSON nor msgpack within the limits");
				msgpack_zone_destroy(&zone);
				return NULL;
			}
		}
		r = msgpack_unpack((const char *)data, len, &off, &zone, &obj);
		if (r == MSGPACK_UNPACK_SUCCESS && off == len)
			v = from_mp(&obj, 0, err, errlen);
		else if (r == MSGPACK_UNPACK_SUCCESS || r == MSGPACK_UNPACK_EXTRA_BYTES)
			mtd_sdk_err(err, errlen, "trailing bytes after the msgpack object");
		else if (r == MSGPACK_UNPACK_CONTINUE)
			mtd_sdk_err(err, errlen, "truncated msgpack");
		else
			mtd_sdk_err(err, errlen, "neither JSON nor valid msgpack");
		msgpack_zone_destroy(&zone);
		return v;
	}
}

static int to_mp(const json_t *v, mtd_buf *b, int depth)
{
	if (depth > MTD_SDK_MAX_DEPTH)
		return -1;
	switch (json_typeof(v)) {
	case JSON_OBJECT: {
		const char *k;
		json_t *e;
		if (mtd_mp_container(b, 1, json_object_size(v)))
			return -1;
		json_object_foreach((json_t *)v, k, e)
		{
			if (mtd_mp_str(b, k, strlen(k)) || to_mp(e, b, depth + 1))
				return -1;
		}
		return 0;
	}
	case JSON_ARRAY: {
		size_t i;
		json_t *e;
		if (mtd_mp_container(b, 0, json_array_size(v)))
			return -1;
		json_array_foreach(v, i, e)
		{
			if (to_mp(e, b, depth + 1))
				return -1;
		}
		return 0;
	}
	case JSON_STRING:
		return mtd_mp_str(b, json_string_value(v), json_string_length(v));
	case JSON_INTEGER:
		return mtd_mp_int(b, json_integer_value(v));
	case JSON_REAL:
		return mtd_mp_double(b, json_real_value(v));
	case JSON_TRUE:
		return mtd_mp_bool(b, 1);
	case JSON_FALSE:
		return mtd_mp_bool(b, 0);
	case JSON_NULL:
		return mtd_mp_nil(b);
	}
	return -1;
}

int mtd_sdk_json_to_msgpack(const json_t *v, mtd_buf *out)
{
	return to_mp(v, out, 0);
}
