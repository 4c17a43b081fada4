/*
 * mtdgate wire layer: what the host (core/) and the plugin SDK must agree on,
 * and nothing more: threat level names, times, msgpack framing and writing,
 * JSON string escaping, error messages and a byte buffer. Like lua.h beside
 * lauxlib.h, the core includes this header and never the SDK's (sdk.h
 * includes this one and adds the conveniences for plugin authors on top).
 *
 * Built as the static, position-independent library mtdgate_wire, which the
 * core links and which is linked into the installed SDK library, so an
 * out-of-tree plugin links mtdgate_sdk alone. C standard headers only.
 *
 * Ownership: every function works in buffers the caller owns and passes in;
 * nothing here keeps a pointer after it returns. mtd_buf memory belongs to
 * the caller (mtd_buf_free). Names returned by mtd_level_name are static.
 */
#ifndef MTDGATE_WIRE_H
#define MTDGATE_WIRE_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ---- threat levels ---- */

/* Threat levels, lowest to highest. The numbers match Microsoft Graph's
 * deviceThreatProtectionLevel. MTD_LEVEL_NONE means "no connector in force". */
enum {
	MTD_LEVEL_NONE = 0,
	MTD_LEVEL_SECURED = 1,
	MTD_LEVEL_LOW = 2,
	MTD_LEVEL_MEDIUM = 3,
	MTD_LEVEL_HIGH = 4
};

/* "secured", "low", "medium", "high" (exact, lower case) -> MTD_LEVEL_*;
 * anything else, "none" included, -> -1. s (n bytes) need not be
 * NUL-terminated; NULL is no level. */
int mtd_level_from_name(const char *s, size_t n);
/* Name of a level (static), "none" for MTD_LEVEL_NONE, "?" when out of range. */
const char *mtd_level_name(int level);

/* ---- platforms and message types ---- */

/* Device platforms (SPEC 4.2), numbered from 0. */
enum { MTD_PLAT_ANDROID = 0, MTD_PLAT_IOS, MTD_PLAT_WINDOWS, MTD_PLAT_MACOS, MTD_NPLAT };
/* Name of a platform (static), "?" when out of range. */
const char *mtd_platform_name(int p);
/* "android", "ios", "windows", "macos" (exact) -> MTD_PLAT_*; -1 otherwise.
 * s need not be NUL-terminated. */
int mtd_platform_from_name(const char *s, size_t n);

/* Normalized message types (SPEC 4.1), numbered from 1. */
enum {
	MTD_MSG_THREAT = 1,
	MTD_MSG_HEARTBEAT,
	MTD_MSG_PROVISION,
	MTD_MSG_ERROR,
	MTD_MSG_APPSYNC_REQUEST,
	MTD_MSG_THREAT_EVENT, /* SPEC 4.1 extension (2026-12) */
	MTD_MSG_TASK          /* security task (contracts: "Security tasks") */
};
#define MTD_MSG_LAST MTD_MSG_TASK
/* Name of a message type (static), "?" when out of range. */
const char *mtd_msg_type_name(int type);
/* A message type's name (exact) -> MTD_MSG_*; -1 otherwise. s need not be
 * NUL-terminated. */
int mtd_msg_type_from_name(const char *s, size_t n);

/* ---- times ---- */

/* Parse a time: RFC 3339 ("2025-01-15T11:49:14.479+00:00", "...Z", a space
 * instead of 'T' accepted, fraction ignored), "YYYY-MM-DD hh:mm:ss[.f][ +0000| UTC]",
 * "MM/DD/YYYY hh:mm:ss" (UTC), or a decimal integer of Unix seconds.
 * Stores Unix seconds in *out; returns 0, or -1 when s is not such a time.
 * s need not be NUL-terminated. */
int mtd_time_parse(const char *s, size_t n, int64_t *out);
/* Format Unix seconds as RFC 3339 UTC ("2025-01-15T11:49:14Z") into buf
 * (the caller's, at least 32 bytes). Returns buf. */
char *mtd_time_format(int64_t t, char *buf, size_t n);

/* ---- one-line messages ---- */

/* Write a one-line message into err (the caller's, errlen bytes; always
 * NUL-terminated when errlen > 0; control characters, such as a newline in
 * a quoted hostile value, become spaces). Nothing when err is NULL. */
void mtd_err(char *err, size_t errlen, const char *fmt, ...)
#if defined(__GNUC__)
	__attribute__((format(printf, 3, 4)))
#endif
	;
/* mtd_err with a va_list. */
void mtd_errv(char *err, size_t errlen, const char *fmt, va_list ap)
#if defined(__GNUC__)
	__attribute__((format(printf, 3, 0)))
#endif
	;

/* ---- a growable byte buffer ---- */

/* Zero-initialize before first use; data belongs to the caller. */
typedef struct mtd_buf {
	unsigned char *data;
	size_t len;
	size_t cap;
} mtd_buf;
/* Free data and zero b (b may be reused). */
void mtd_buf_free(mtd_buf *b);
/* Room for n more bytes after len (len unchanged). 0, or -1 when out of
 * memory (b unchanged). */
int mtd_buf_room(mtd_buf *b, size_t n);
/* Append n bytes. 0, or -1 when out of memory. */
int mtd_buf_put(mtd_buf *b, const void *p, size_t n);

/* ---- JSON strings ---- */

/* s (n bytes) as a JSON string, with its quotes, into out (the caller's),
 * which has room for MTD_JSON_STR_MAX(n) bytes: '"' and '\\' escaped,
 * control characters as \n \t \r \b \f or \u00XX, and every byte that is not
 * part of well-formed UTF-8 as \ufffd, so the result is valid JSON whatever
 * s holds. Returns the bytes written (no NUL). */
#define MTD_JSON_STR_MAX(n) (6 * (size_t)(n) + 2)
size_t mtd_json_str(char *out, const char *s, size_t n);

/* ---- msgpack ---- */

/* Limits every reader of a payload enforces on hostile bytes. */
#define MTD_WIRE_MAX_PAYLOAD (1u << 20) /* 1 MiB per payload */
#define MTD_WIRE_MAX_DEPTH 32           /* nesting of arrays/maps */

/* Check that data[0..n) starts with one complete msgpack object nested at
 * most MTD_WIRE_MAX_DEPTH deep, in which no container claims more elements
 * and no string more bytes than MTD_WIRE_MAX_PAYLOAD (so a few hostile bytes
 * cannot make a decoder allocate gigabytes). Returns 1 with the object's
 * length in *len, 0 when more bytes are needed, -1 when it is not such an
 * object. Run it before handing bytes to a msgpack decoder. */
int mtd_msgpack_frame(const void *data, size_t n, size_t *len);
/* mtd_msgpack_frame for a value that `outer` containers already enclose:
 * together they nest at most MTD_WIRE_MAX_DEPTH deep. */
int mtd_mp_frame(const void *data, size_t n, int outer, size_t *len);
/* The msgpack header byte c: how many big-endian length bytes follow it
 * (*lb), the bytes of payload after those (*len, to which a str/bin/ext
 * length read from the *lb bytes is added), and for a container its element
 * count (*count, or read from the *lb bytes) and values per element (*mult:
 * 1 array, 2 map, 0 not a container). -1 for 0xc1, which no value starts
 * with. */
int mtd_mp_head(unsigned c, int *lb, uint64_t *len, uint64_t *count, int *mult);
/* Whether every map in the msgpack object that starts data[0..n) has
 * distinct string keys (what JSON_REJECT_DUPLICATES asks of JSON, so that
 * one record means one thing on every path). 0 when they do; 1 on a
 * duplicate, copied into key (keylen bytes, the caller's, NUL-terminated,
 * may be cut); -1 when the bytes are not one framed object, or memory ran
 * out. */
int mtd_mp_unique_keys(const void *data, size_t n, char *key, size_t keylen);

/* A minimal msgpack writer, appending to b: each returns 0, or -1 when out
 * of memory (b then holds a partial value the caller discards). */
int mtd_mp_str(mtd_buf *b, const char *s, size_t n);
int mtd_mp_int(mtd_buf *b, int64_t v);
/* A map (map != 0) of n pairs or an array of n values: the header only. */
int mtd_mp_container(mtd_buf *b, int map, size_t n);
int mtd_mp_bool(mtd_buf *b, int v);
int mtd_mp_nil(mtd_buf *b);
int mtd_mp_double(mtd_buf *b, double d);

#ifdef __cplusplus
}
#endif
#endif /* MTDGATE_WIRE_H */
