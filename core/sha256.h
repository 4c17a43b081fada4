/* sha256: FIPS 180-4 SHA-256, for the audit log's hash chain. */
#ifndef MTD_SHA256_H
#define MTD_SHA256_H
#include <stddef.h>
#include <stdint.h>

typedef struct mtd_sha256 {
	uint32_t h[8];
	uint64_t len;
	unsigned char buf[64];
	size_t nbuf;
} mtd_sha256;

void mtd_sha256_init(mtd_sha256 *c);
void mtd_sha256_update(mtd_sha256 *c, const void *data, size_t n);
void mtd_sha256_final(mtd_sha256 *c, unsigned char out[32]);
#endif
