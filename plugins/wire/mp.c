/* Wire layer: msgpack framing (bounded depth and sizes) and duplicate-key
 * checks, without decoding (see mtdgate/wire.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mtdgate/wire.h"

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
int mtd_msgpack_frame(const void *data, size_t n, size_t *out)
{
	return mtd_mp_frame(data, n, 0, out);
}

int mtd_mp_frame(const void *data, size_t n, int outer, size_t *out)
{
	const unsigned char *p = data;
	const int max = MTD_WIRE_MAX_DEPTH - outer;
	uint64_t todo[MTD_WIRE_MAX_DEPTH + 2];
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
			if (count * mult > MTD_WIRE_MAX_PAYLOAD)
				return -1;
			todo[++depth] = count * mult;
			continue;
		}
		if (len > MTD_WIRE_MAX_PAYLOAD)
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
