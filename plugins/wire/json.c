/* Wire layer, jansson part: payload (JSON or msgpack) -> jansson tree, and
 * JSON tree -> msgpack (see mtdgate/wire_json.h). */
#include <math.h>
#include <msgpack.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mtdgate/wire_json.h"

static json_t *from_mp(const msgpack_object *o, int depth, char *err,
		       size_t errlen)
{
	json_t *v = NULL;

	if (depth > MTD_WIRE_MAX_DEPTH) {
		mtd_err(err, errlen, "nested deeper than %d levels",
			    MTD_WIRE_MAX_DEPTH);
		return NULL;
	}
	switch (o->type) {
	case MSGPACK_OBJECT_NIL:
		return json_null();
	case MSGPACK_OBJECT_BOOLEAN:
		return json_boolean(o->via.boolean);
	case MSGPACK_OBJECT_POSITIVE_INTEGER:
		if (o->via.u64 > (uint64_t)INT64_MAX) {
			mtd_err(err, errlen, "integer out of range");
			return NULL;
		}
		return json_integer((json_int_t)o->via.u64);
	case MSGPACK_OBJECT_NEGATIVE_INTEGER:
		return json_integer((json_int_t)o->via.i64);
	case MSGPACK_OBJECT_FLOAT32:
	case MSGPACK_OBJECT_FLOAT64:
		if (!isfinite(o->via.f64)) { /* JSON has no NaN or infinity */
			mtd_err(err, errlen, "number is not finite");
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
				mtd_err(err, errlen,
					    "map key is not a short string");
				json_decref(v);
				return NULL;
			}
			if (kv->key.via.str.size)
				memcpy(key, kv->key.via.str.ptr, kv->key.via.str.size);
			key[kv->key.via.str.size] = '\0';
			if (json_object_get(v, key)) { /* as JSON_REJECT_DUPLICATES */
				mtd_err(err, errlen, "duplicate key '%.64s'", key);
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
		mtd_err(err, errlen, "binary and extension values are not accepted");
		return NULL;
	}
	if (!v)
		mtd_err(err, errlen, "out of memory");
	return v;
}


/* jansson bounds nesting at 2048 itself; ours is tighter. The limit counts
 * arrays and maps, as mtd_msgpack_frame does: `depth` containers
 * enclose v. */
static int too_deep(json_t *v, int depth)
{
	size_t i;
	const char *k;
	json_t *e;

	if (!json_is_array(v) && !json_is_object(v))
		return 0;
	if (depth + 1 > MTD_WIRE_MAX_DEPTH)
		return 1;
	if (json_is_array(v))
		json_array_foreach(v, i, e) if (too_deep(e, depth + 1)) return 1;
	if (json_is_object(v))
		json_object_foreach(v, k, e) if (too_deep(e, depth + 1)) return 1;
	return 0;
}

json_t *mtd_wire_parse(const void *data, size_t len, char *err, size_t errlen)
{
	const unsigned char *p = data;
	size_t i = 0;

	if (!data || len == 0) {
		mtd_err(err, errlen, "empty payload");
		return NULL;
	}
	if (len > MTD_WIRE_MAX_PAYLOAD) {
		mtd_err(err, errlen, "payload of %zu bytes exceeds %u", len,
			    MTD_WIRE_MAX_PAYLOAD);
		return NULL;
	}
	while (i < len && (p[i] == ' ' || p[i] == '\t' || p[i] == '\r' || p[i] == '\n'))
		i++;
	if (i < len && (p[i] == '{' || p[i] == '[')) {
		json_error_t je;
		json_t *v = json_loadb((const char *)data, len,
				       JSON_REJECT_DUPLICATES, &je);
		if (!v) {
			mtd_err(err, errlen, "invalid JSON at column %d: %s",
				    je.column, je.text);
			return NULL;
		}
		if (too_deep(v, 0)) {
			json_decref(v);
			mtd_err(err, errlen, "nested deeper than %d levels",
				    MTD_WIRE_MAX_DEPTH);
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
			mtd_err(err, errlen, "out of memory");
			return NULL;
		}
		{
			size_t flen = 0;
			int k = mtd_msgpack_frame(data, len, &flen);
			if (k <= 0) {
				mtd_err(err, errlen, k == 0 ? "truncated msgpack"
						  : "neither JSON nor msgpack within the limits");
				msgpack_zone_destroy(&zone);
				return NULL;
			}
		}
		r = msgpack_unpack((const char *)data, len, &off, &zone, &obj);
		if (r == MSGPACK_UNPACK_SUCCESS && off == len)
			v = from_mp(&obj, 0, err, errlen);
		else if (r == MSGPACK_UNPACK_SUCCESS || r == MSGPACK_UNPACK_EXTRA_BYTES)
			mtd_err(err, errlen, "trailing bytes after the msgpack object");
		else if (r == MSGPACK_UNPACK_CONTINUE)
			mtd_err(err, errlen, "truncated msgpack");
		else
			mtd_err(err, errlen, "neither JSON nor valid msgpack");
		msgpack_zone_destroy(&zone);
		return v;
	}
}

static int to_mp(const json_t *v, mtd_buf *b, int depth)
{
	if (depth > MTD_WIRE_MAX_DEPTH)
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

int mtd_wire_json_to_msgpack(const json_t *v, mtd_buf *out)
{
	return to_mp(v, out, 0);
}
