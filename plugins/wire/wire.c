/* Wire layer: level names, one-line messages, mtd_buf, JSON string
 * escaping and the msgpack writer (see mtdgate/wire.h). */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mtdgate/wire.h"

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

static const char *const platform_names[MTD_NPLAT] = {"android", "ios", "windows", "macos"};

const char *mtd_platform_name(int p)
{
	return p >= 0 && p < MTD_NPLAT ? platform_names[p] : "?";
}

/* names[i] for i in [first, last] equal to s[0..n), or -1; lengths first,
 * as a message's type is looked up for every message */
static int name_index(const char *const *names, const unsigned char *lens, int first, int last,
		      const char *s, size_t n)
{
	for (int i = first; i <= last; i++)
		if (lens[i] == n && !memcmp(names[i], s, n))
			return i;
	return -1;
}

static const unsigned char platform_lens[MTD_NPLAT] = {7, 3, 7, 5};

int mtd_platform_from_name(const char *s, size_t n)
{
	return name_index(platform_names, platform_lens, 0, MTD_NPLAT - 1, s, n);
}

static const char *const msg_type_names[MTD_MSG_LAST + 1] = {
	"?", "threat", "heartbeat", "provision", "error", "appsync_request", "threat_event",
	"task"};
static const unsigned char msg_type_lens[MTD_MSG_LAST + 1] = {0, 6, 9, 9, 5, 15, 12, 4};

const char *mtd_msg_type_name(int type)
{
	return type >= MTD_MSG_THREAT && type <= MTD_MSG_LAST ? msg_type_names[type] : "?";
}

int mtd_msg_type_from_name(const char *s, size_t n)
{
	return name_index(msg_type_names, msg_type_lens, MTD_MSG_THREAT, MTD_MSG_LAST, s, n);
}

/* One line, whatever a hostile payload put in the values a message quotes:
 * control characters become spaces. */
static void one_line(char *s)
{
	for (unsigned char *p = (unsigned char *)s; *p; p++)
		if (*p < 0x20 || *p == 0x7f)
			*p = ' ';
}

void mtd_errv(char *err, size_t errlen, const char *fmt, va_list ap)
{
	if (!err || errlen == 0)
		return;
	vsnprintf(err, errlen, fmt, ap);
	one_line(err);
}

void mtd_err(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	mtd_errv(err, errlen, fmt, ap);
	va_end(ap);
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

size_t mtd_json_str(char *out, const char *s, size_t n)
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
