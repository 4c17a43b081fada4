/* Minimal msgpack writer used inside the SDK, and framing for the host's
 * codec (not part of the SDK API). */
#ifndef MTD_SDK_MP_WRITE_H
#define MTD_SDK_MP_WRITE_H
#include "mtdgate/sdk.h"
int mtd_mp_str(mtd_buf *b, const char *s, size_t n);
int mtd_mp_int(mtd_buf *b, int64_t v);
int mtd_mp_container(mtd_buf *b, int map, size_t n);
int mtd_mp_bool(mtd_buf *b, int v);
int mtd_mp_nil(mtd_buf *b);
int mtd_mp_double(mtd_buf *b, double d);
/* The msgpack header byte c: how many big-endian length bytes follow it
 * (*lb), the bytes of payload after those (*len, to which a str/bin/ext
 * length read from the *lb bytes is added), and for a container its element
 * count (*count, or read from the *lb bytes) and values per element (*mult:
 * 1 array, 2 map, 0 not a container). -1 for 0xc1, which no value starts
 * with. */
int mtd_mp_head(unsigned c, int *lb, uint64_t *len, uint64_t *count, int *mult);
/* mtd_sdk_msgpack_frame for a value that outer containers already enclose:
 * together they nest at most MTD_SDK_MAX_DEPTH deep. */
int mtd_mp_frame(const void *data, size_t n, int outer, size_t *len);
/* Whether every map in the msgpack object that starts data[0..n) has
 * distinct string keys (what JSON_REJECT_DUPLICATES asks of JSON, so that
 * one record means one thing on every path). 0 when they do; 1 on a
 * duplicate, copied into key (keylen bytes, NUL-terminated, may be cut);
 * -1 when the bytes are not one framed object, or memory ran out. */
int mtd_mp_unique_keys(const void *data, size_t n, char *key, size_t keylen);
#endif
