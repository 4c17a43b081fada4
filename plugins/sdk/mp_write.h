/* Minimal msgpack writer used inside the SDK (not part of the SDK API). */
#ifndef MTD_SDK_MP_WRITE_H
#define MTD_SDK_MP_WRITE_H
#include "mtdgate/sdk.h"
int mtd_mp_str(mtd_buf *b, const char *s, size_t n);
int mtd_mp_int(mtd_buf *b, int64_t v);
int mtd_mp_container(mtd_buf *b, int map, size_t n);
int mtd_mp_bool(mtd_buf *b, int v);
int mtd_mp_nil(mtd_buf *b);
int mtd_mp_double(mtd_buf *b, double d);
#endif
