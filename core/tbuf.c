/* tbuf: growable text buffer and JSON string helpers. */
#include <stdlib.h>
#include <string.h>

#include "mtdgate/wire.h"
#include "tbuf.h"

/* Room for n more bytes and a NUL (the SDK's buffer does the growing). */
static int tb_room(tbuf *b, size_t n)
{
	mtd_buf m = {(unsigned char *)b->p, b->n, b->cap};
	if (mtd_buf_room(&m, n + 1))
		return -1;
	b->p = (char *)m.data;
	b->cap = m.cap;
	return 0;
}

int tb_put(tbuf *b, const char *s, size_t n)
{
	if (tb_room(b, n))
		return -1;
	if (n)
		memcpy(b->p + b->n, s, n);
	b->n += n;
	b->p[b->n] = '\0';
	return 0;
}

int tb_set(tbuf *b, const char *s)
{
	b->n = 0;
	return tb_put(b, s ? s : "", s ? strlen(s) : 0);
}

/* s as a JSON string (quotes, escapes; non-ASCII bytes kept as UTF-8). */
int tb_jstr(tbuf *b, const char *s)
{
	size_t n = strlen(s);
	if (tb_room(b, MTD_JSON_STR_MAX(n)))
		return -1;
	b->n += mtd_json_str(b->p + b->n, s, n);
	b->p[b->n] = '\0';
	return 0;
}

int tb_jarray(tbuf *b, const char *const *v, size_t n)
{
	b->n = 0;
	if (tb_put(b, "[", 1))
		return -1;
	for (size_t i = 0; i < n; i++)
		if ((i && tb_put(b, ",", 1)) || tb_jstr(b, v[i]))
			return -1;
	return tb_put(b, "]", 1);
}

