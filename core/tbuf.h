/* tbuf: a growable text buffer for building JSON on hot paths; reused, so
 * a warm path allocates nothing. Internal to libmtdgate. */
#ifndef MTD_TBUF_H
#define MTD_TBUF_H
#include <stddef.h>

typedef struct tbuf {
	char *p; /* NUL-terminated once anything was put; owned, free(p) */
	size_t n, cap;
} tbuf;

/* Append n bytes (and keep a NUL after them). -1 when out of memory. */
int tb_put(tbuf *b, const char *s, size_t n);
/* Replace the contents with s (NULL: empty). */
int tb_set(tbuf *b, const char *s);
/* Append s as a JSON string (mtd_json_str: valid JSON for any bytes). */
int tb_jstr(tbuf *b, const char *s);
/* Replace the contents with a JSON array of the n strings. */
int tb_jarray(tbuf *b, const char *const *v, size_t n);
#endif
