/* sha256: SHA-256 for the audit log's hash chain and its seals, from nettle
 * (Debian's nettle-dev), which uses the CPU's SHA instructions where there
 * are any. The seals hash every byte of the logs; a portable C loop of our
 * own was 8% of an evaluation's instructions and ~8x slower than this. */
#ifndef MTD_SHA256_H
#define MTD_SHA256_H
#include <stddef.h>

#include <nettle/sha2.h>

typedef struct sha256_ctx mtd_sha256;

static inline void mtd_sha256_init(mtd_sha256 *c)
{
	sha256_init(c);
}

static inline void mtd_sha256_update(mtd_sha256 *c, const void *data, size_t n)
{
	sha256_update(c, n, data);
}

/* The digest of what was hashed; c starts over (as after init). */
static inline void mtd_sha256_final(mtd_sha256 *c, unsigned char out[32])
{
	sha256_digest(c, SHA256_DIGEST_SIZE, out);
}
#endif
