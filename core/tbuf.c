/* tbuf: growable text buffer and JSON string helpers. */
#include <stdlib.h>
#include <string.h>

#include "tbuf.h"

int tb_put(tbuf *b, const char *s, size_t n)
{
	if (b->cap - b->n < n + 1) {
		size_t cap = b->cap ? b->cap : 256;
		char *np;
		while (cap - b->n < n + 1)
			cap *= 2;
		if (!(np = realloc(b->p, cap)))
			return -1;
		b->p = np;
		b->cap = cap;
	}
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
	static const char hex[] = "0123456789abcdef";
	if (tb_put(b, "\"", 1))
		return -1;
	for (const char *p = s; *p; p++) {
		unsigned char c = (unsigned char)*p;
		char esc[7] = {'\\', 'u', '0', '0', hex[c >> 4], hex[c & 15], 0};
		if (c == '"' || c == '\\') {
			char e2[2] = {'\\', (char)c};
			if (tb_put(b, e2, 2))
				return -1;
		} else if (c < 0x20) {
			if (tb_put(b, esc, 6))
				return -1;
		} else {
			const char *q = p;
			while (q[1] && (unsigned char)q[1] >= 0x20 && q[1] != '"' && q[1] != '\\')
				q++;
			if (tb_put(b, p, (size_t)(q - p) + 1))
				return -1;
			p = q;
		}
	}
	return tb_put(b, "\"", 1);
}

/* A JSON array of strings. */
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

