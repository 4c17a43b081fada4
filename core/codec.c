/* codec: framing and validated decoding of everything that enters mtdgate. */
#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "codec.h"
#include "mtdgate/wire_json.h"
#include "mtdgate/mtdgate.h"

struct mtd_reader {
	FILE *f;
	char *name;
	unsigned char *buf;
	size_t cap, pos, len; /* unread bytes are buf[pos..len) */
	int eof, format, dead;
	uint64_t offset;      /* file offset of buf[0] */
	uint64_t index, line;
	msgpack_zone zone;
	msgpack_object obj;
	mtd_buf conv;         /* JSON record converted to msgpack */
	mtd_msg msg;          /* MTD_READ_MSG: the current record's */
	uint64_t w_line, w_index, w_byte; /* the position where() describes */
	uint64_t w_elem;                  /* W_ELEM: the element's index */
	int w_kind;                       /* W_* */
	char where[300];                  /* formatted on request */
	/* JSON text */
	int arrays;       /* the input starts with an array: top-level arrays
			   * hold records, one per element */
	int in_array;     /* in such an array: 1 after '[', 2 after an
			   * element, 3 after ',' */
	uint64_t elem;    /* index of the array's next element */
	/* text/event-stream */
	mtd_buf sse;      /* the event's data lines, joined with "\n" */
	uint64_t event;   /* events with data so far */
};

/* What a position names: a line, an array element, an event, a record. */
enum { W_LINE, W_ELEM, W_EVENT, W_RECORD };

mtd_reader *mtd_reader_new(FILE *f, const char *name)
{
	mtd_reader *r = calloc(1, sizeof *r);
	if (!r)
		return NULL;
	r->f = f;
	r->name = strdup(name ? name : "-");
	r->cap = 1 << 16;
	r->buf = malloc(r->cap);
	if (!r->name || !r->buf || !msgpack_zone_init(&r->zone, 4096)) {
		free(r->name);
		free(r->buf);
		free(r);
		return NULL;
	}
	return r;
}

void mtd_reader_free(mtd_reader *r)
{
	if (!r)
		return;
	msgpack_zone_destroy(&r->zone);
	mtd_buf_free(&r->conv);
	mtd_buf_free(&r->sse);
	free(r->buf);
	free(r->name);
	free(r);
}

int mtd_reader_format(const mtd_reader *r)
{
	return r->format;
}

uint64_t mtd_reader_offset(const mtd_reader *r)
{
	return r->offset + r->pos;
}

const char *mtd_reader_where(mtd_reader *r)
{
	switch (r->w_kind) {
	case W_LINE:
		snprintf(r->where, sizeof r->where, "%s line %llu", r->name,
			 (unsigned long long)r->w_line);
		break;
	case W_ELEM:
		snprintf(r->where, sizeof r->where, "%s [%llu] (line %llu)", r->name,
			 (unsigned long long)r->w_elem, (unsigned long long)r->w_line);
		break;
	case W_EVENT:
		snprintf(r->where, sizeof r->where, "%s event %llu (line %llu)", r->name,
			 (unsigned long long)r->event, (unsigned long long)r->w_line);
		break;
	default:
		snprintf(r->where, sizeof r->where, "%s record %llu (byte %llu)", r->name,
			 (unsigned long long)r->w_index, (unsigned long long)r->w_byte);
	}
	return r->where;
}

/* Room for a record of MTD_MAX_RECORD bytes with its line end, so that the
 * limit is exact: longer records are found by their length, not by a full
 * buffer. */
#define BUF_MAX (MTD_MAX_RECORD + (1u << 16))

/* Read more bytes; keeps buf[pos..len), growing up to BUF_MAX. */
static int fill(mtd_reader *r)
{
	size_t got;

	if (r->eof)
		return 0;
	if (r->pos > 0) {
		memmove(r->buf, r->buf + r->pos, r->len - r->pos);
		r->offset += r->pos;
		r->len -= r->pos;
		r->pos = 0;
	}
	if (r->len == r->cap) {
		size_t cap = r->cap * 2;
		unsigned char *b;
		if (r->cap >= BUF_MAX)
			return -2; /* caller handles an oversized record */
		if (cap > BUF_MAX)
			cap = BUF_MAX;
		b = realloc(r->buf, cap);
		if (!b)
			return MTD_ENOMEM;
		r->buf = b;
		r->cap = cap;
	}
	got = fread(r->buf + r->len, 1, r->cap - r->len, r->f);
	if (got == 0) {
		if (ferror(r->f))
			return MTD_EIO;
		r->eof = 1;
		return 0;
	}
	r->len += got;
	return 1;
}

/* The current record's position, for mtd_reader_where (formatted only
 * when asked: most records are never reported). */
static void set_where(mtd_reader *r)
{
	r->w_kind = W_RECORD;
	r->w_line = r->line;
	r->w_index = r->index;
	r->w_byte = r->offset + r->pos;
}

static int decode_msg(const void *mp, size_t len, size_t *used, mtd_msg *m, char *err,
		      size_t n);
static int peek(mtd_reader *r, size_t k);
static int dup_keys(const void *mp, size_t len, char *err, size_t n);

/* MTD_READ_MSG over msgpack: the message at r->pos decoded from the bytes
 * buffered, in the walk that also frames it (within the same bounds). 1
 * when it decodes (rec filled, the record consumed); 0 when it does not, or
 * runs past the bytes buffered so far: the record is then framed first, as
 * any other, and decoded from its frame, which says why. */
static int msg_in_place(mtd_reader *r, mtd_record *rec)
{
	size_t used;
	if (r->pos == r->len ||
	    decode_msg(r->buf + r->pos, r->len - r->pos, &used, &r->msg, NULL, 0) ||
	    used > MTD_MAX_RECORD)
		return 0;
	r->index++;
	set_where(r);
	rec->obj = NULL;
	rec->mp = rec->raw = r->buf + r->pos;
	rec->mp_len = rec->raw_len = used;
	rec->offset = r->offset + r->pos;
	rec->index = r->index;
	rec->line = 0;
	rec->msg = &r->msg;
	r->pos += used;
	return 1;
}

/* Past the msgpack object at r->pos, whatever its depth and size, dropping
 * its bytes as they are read: only a count of the values still to come is
 * kept, so neither depth nor claimed sizes cost memory. 1 with its length
 * in *ext; 0 when the input ends inside it or a byte cannot start a value
 * (0xc1), the stream then lost (*ext: bytes dropped); < 0 on a read error. */
static int mp_skip(mtd_reader *r, uint64_t *ext)
{
	uint64_t pending = 1;
	*ext = 0;
	while (pending) {
		uint64_t skip, count;
		int c = peek(r, 0), lb, mult, h;
		if (c < 0)
			return c == -1 ? 0 : c;
		if (mtd_mp_head((unsigned)c, &lb, &skip, &count, &mult))
			return 0; /* 0xc1 */
		for (h = 1; h <= lb; h++) {
			int b = peek(r, (size_t)h);
			if (b < 0)
				return b == -1 ? 0 : b;
			if (mult)
				count = count << 8 | (uint64_t)b;
			else
				skip += (uint64_t)b << (8 * (lb - h));
		}
		r->pos += (size_t)h;
		*ext += (uint64_t)h;
		pending = pending - 1 + count * (uint64_t)mult;
		while (skip) {
			size_t avail = r->len - r->pos, take;
			if (avail == 0) {
				int rc = fill(r);
				if (rc <= 0)
					return rc == 0 ? 0 : rc;
				continue;
			}
			take = avail < skip ? avail : (size_t)skip;
			r->pos += take;
			*ext += take;
			skip -= take;
		}
	}
	return 1;
}

static int next_msgpack(mtd_reader *r, mtd_record *rec, int parse, char *err, size_t n)
{
	size_t flen = 0, off = 0;
	uint64_t ext;
	int k, rc;

	if (parse == MTD_READ_MSG && msg_in_place(r, rec))
		return 1;
	for (;;) {
		k = mtd_msgpack_frame(r->buf + r->pos, r->len - r->pos, &flen);
		if (k != 0)
			break;
		rc = fill(r);
		if (rc < 0 && rc != -2)
			return rc;
		if (rc == -2) {
			k = -2;
			break;
		}
		if (rc == 0) {
			if (r->len == r->pos)
				return 0;
			r->index++;
			set_where(r);
			r->dead = 1;
			mtd_err(err, n, "truncated msgpack: the stream ends inside a record");
			return MTD_EMALFORMED;
		}
	}
	r->index++;
	set_where(r);
	if (k > 0 && flen > MTD_MAX_RECORD)
		k = -2;
	if (k < 0) {
		/* Too deep or too big for a record, or not msgpack: skipped by its
		 * extent when that can be known (19.6), else the stream is lost
		 * from here and the rest is not read. */
		if ((rc = mp_skip(r, &ext)) < 0)
			return rc;
		if (rc == 0) {
			r->dead = 1;
			mtd_err(err, n, "not msgpack from byte %llu on: cannot resynchronize, "
				    "the rest of the input was not read",
				    (unsigned long long)r->w_byte);
			return MTD_EMALFORMED;
		}
		if (ext > MTD_MAX_RECORD)
			mtd_err(err, n, "record of %llu bytes exceeds %u bytes: skipped",
				    (unsigned long long)ext, MTD_MAX_RECORD);
		else
			mtd_err(err, n, "nested deeper than %u levels: skipped", MTD_WIRE_MAX_DEPTH);
		return MTD_EMALFORMED;
	}
	rec->obj = NULL;
	rec->msg = NULL;
	if (parse == MTD_READ_TREE && /* as bytes, a message's decoder checks them */
	    dup_keys(r->buf + r->pos, flen, err, n)) {
		r->pos += flen; /* framed: the next record is after it */
		return MTD_EMALFORMED;
	}
	if (parse == MTD_READ_TREE) {
		msgpack_zone_clear(&r->zone);
		if (msgpack_unpack((const char *)r->buf + r->pos, flen, &off, &r->zone,
				   &r->obj) != MSGPACK_UNPACK_SUCCESS) {
			r->pos += flen; /* framed: the next record is after it */
			mtd_err(err, n, "invalid msgpack");
			return MTD_EMALFORMED;
		}
		rec->obj = &r->obj;
	}
	rec->mp = parse ? r->buf + r->pos : NULL;
	rec->mp_len = parse ? flen : 0;
	rec->raw = r->buf + r->pos;
	rec->raw_len = flen;
	rec->offset = r->offset + r->pos;
	rec->index = r->index;
	rec->line = 0;
	r->pos += flen;
	return 1;
}

/* ---- text: JSON documents, arrays of records, event streams ---- */

/* The byte k after r->pos, reading more as needed: -1 at the end of input,
 * -2 when the buffer cannot hold k + 1 bytes, another negative code on a
 * read error. */
static int peek(mtd_reader *r, size_t k)
{
	while (r->len - r->pos <= k) {
		int rc = fill(r);
		if (rc == 0)
			return -1;
		if (rc < 0)
			return rc;
	}
	return r->buf[r->pos + k];
}

/* Past whitespace (counting lines). 1 when a byte follows, 0 at the end. */
static int skip_ws(mtd_reader *r)
{
	for (;;) {
		int c = peek(r, 0);
		if (c < 0)
			return c == -1 ? 0 : c;
		if (c == '\n')
			r->line++;
		else if (c != ' ' && c != '\t' && c != '\r')
			return 1;
		r->pos++;
	}
}

/* The JSON value that starts at r->pos, framed without being parsed:
 * brackets counted outside strings. A value also ends, broken, where JSON
 * cannot go on: a raw newline inside a string, a '{' or '[' at the start
 * of a line while brackets are open (where the next document of JSON lines
 * or of a pretty-printed stream starts), or the end of input. *len: its
 * bytes from r->pos; when it is longer than the buffer can hold (*big),
 * the bytes scanned were dropped on the way and *len counts from r->pos as
 * it is then. *nl: its newlines. 1 complete, 0 broken (*why says how),
 * negative on a read error. */
static int scan_value(mtd_reader *r, size_t *len, uint64_t *nl, int *big, const char **why)
{
	size_t i = 0;
	int depth = 0, str = 0, esc = 0, first = r->buf[r->pos], scalar, c;

	*nl = 0;
	*big = 0;
	*why = NULL;
	scalar = first != '{' && first != '[' && first != '"';
	for (;; i++) {
		c = peek(r, i);
		if (c == -2) { /* longer than any record: drop what was scanned */
			r->pos += i;
			i = 0;
			*big = 1;
			c = peek(r, 0);
		}
		if (c < -2)
			return c;
		if (c == -1) {
			if (scalar)
				break;
			*why = "the input ends inside this JSON document";
			*len = i;
			return 0;
		}
		if (str) {
			if (esc) {
				esc = 0;
			} else if (c == '\\') {
				esc = 1;
			} else if (c == '"') {
				str = 0;
				if (depth == 0) { /* a string on its own */
					i++;
					break;
				}
			} else if (c == '\n') {
				*why = "a string runs past the end of its line";
				*len = i;
				return 0;
			}
			continue;
		}
		if (scalar) {
			if (c == ',' || c == ']' || c == '}' || c == ' ' || c == '\t' || c == '\r' ||
			    c == '\n')
				break;
			continue;
		}
		switch (c) {
		case '"':
			str = 1;
			break;
		case '\n':
			++*nl;
			if (depth > 0) {
				int d = peek(r, i + 1);
				if (d == -2) {
					r->pos += i;
					i = 0;
					*big = 1;
					d = peek(r, 1);
				}
				if (d == '{' || d == '[') {
					*why = "not a complete JSON document (the next line starts another)";
					*len = i + 1;
					return 0;
				}
			}
			break;
		case '{':
		case '[':
			depth++;
			break;
		case '}':
		case ']':
			if (--depth == 0) {
				i++;
				goto done;
			}
			break;
		default:
			break;
		}
	}
done:
	*len = i;
	if (i > MTD_MAX_RECORD)
		*big = 1;
	return 1;
}

/* After a document that ends at r->pos + from: the rest of its line must be
 * blank or start the next document. *extra: 0 when it is, else the bytes to
 * the end of the line (they are part of the bad record). */
static int rest_of_line(mtd_reader *r, size_t from, size_t *extra)
{
	size_t i = from;
	int junk = 0;
	for (;; i++) {
		int c = peek(r, i);
		if (c == -2 || c == -1 || c == '\n')
			break;
		if (c < 0)
			return c;
		if (c == ' ' || c == '\t' || c == '\r')
			continue;
		if ((c == '{' || c == '[') && !junk)
			break;
		junk = 1;
	}
	*extra = junk ? i - from : 0;
	return 0;
}

/* A text record (a JSON document, an array element or an event's data):
 * rec filled, parsed as asked. */
static int text_record(mtd_reader *r, mtd_record *rec, const unsigned char *p, size_t n,
		       uint64_t offset, int parse, char *err, size_t en)
{
	rec->raw = p;
	rec->raw_len = n;
	rec->offset = offset;
	rec->index = r->index;
	rec->line = r->w_line;
	rec->obj = NULL;
	rec->msg = NULL;
	rec->mp = NULL;
	rec->mp_len = 0;
	if (parse) {
		json_t *v;
		size_t off = 0;
		int rc;
		if (n == 0 || (p[0] != '{' && p[0] != '[')) {
			mtd_err(err, en, "not a JSON value");
			return MTD_EMALFORMED;
		}
		v = mtd_wire_parse(p, n, err, en);
		if (!v)
			return MTD_EMALFORMED;
		r->conv.len = 0;
		rc = mtd_wire_json_to_msgpack(v, &r->conv);
		json_decref(v);
		if (rc)
			return MTD_ENOMEM;
		rec->mp = r->conv.data;
		rec->mp_len = r->conv.len;
		if (parse == MTD_READ_TREE) {
			msgpack_zone_clear(&r->zone);
			if (msgpack_unpack((const char *)r->conv.data, r->conv.len, &off,
					   &r->zone, &r->obj) != MSGPACK_UNPACK_SUCCESS)
				return MTD_EINTERNAL;
			rec->obj = &r->obj;
		}
	}
	return 1;
}

/* A record starts at r->pos: its number and position. */
static void text_where(mtd_reader *r, int kind)
{
	r->index++;
	r->w_kind = kind;
	r->w_line = r->line + 1;
	r->w_index = r->index;
	r->w_byte = r->offset + r->pos;
	r->w_elem = r->elem;
}

/* Next record of JSON text: documents one after another (JSON lines,
 * pretty-printed, concatenated), the elements of top-level arrays when the
 * input starts with one, and anything else a line at a time (a record that
 * is not JSON, for a plugin that reads lines of its own format). */
static int next_json(mtd_reader *r, mtd_record *rec, int parse, char *err, size_t n)
{
	size_t len, extra = 0;
	uint64_t nl, start;
	int rc, c, big;
	const char *why;

	for (;;) {
		if ((rc = skip_ws(r)) <= 0) {
			if (rc == 0 && r->in_array) {
				r->in_array = 0;
				text_where(r, W_ELEM);
				mtd_err(err, n, "the input ends inside the array (no ']')");
				return MTD_EMALFORMED;
			}
			return rc;
		}
		c = r->buf[r->pos];
		if (r->in_array == 2) { /* after an element */
			if (c == ',') {
				r->pos++;
				r->in_array = 3;
				continue;
			}
			r->in_array = 0;
			if (c == ']') {
				r->pos++;
				continue;
			}
			text_where(r, W_ELEM);
			mtd_err(err, n, "expected ',' or ']' after element [%llu] of the array",
				    (unsigned long long)(r->elem - 1));
			return MTD_EMALFORMED; /* what follows is read as documents */
		}
		if (r->in_array && c == ']') {
			int trailing = r->in_array == 3;
			r->pos++;
			r->in_array = 0;
			if (trailing) {
				text_where(r, W_ELEM);
				mtd_err(err, n, "a ',' before the array's ']'");
				return MTD_EMALFORMED;
			}
			continue;
		}
		if (r->in_array && c == ',') { /* "[," or ",,": an element left out */
			r->pos++;
			r->in_array = 3;
			text_where(r, W_ELEM);
			mtd_err(err, n, "element [%llu] of the array is empty",
				    (unsigned long long)r->elem++);
			return MTD_EMALFORMED;
		}
		if (!r->in_array && c == '[' && (r->arrays || r->index == 0)) {
			r->arrays = 1;
			r->in_array = 1;
			r->elem = 0;
			r->pos++;
			continue;
		}
		break;
	}
	text_where(r, r->in_array ? W_ELEM : W_LINE);
	start = r->offset + r->pos;
	if (!r->in_array && c != '{' && c != '[') {
		/* not JSON: the rest of the line is the record */
		size_t i = 0;
		big = 0;
		for (;; i++) {
			c = peek(r, i);
			if (c == -2) {
				r->pos += i;
				i = 0;
				big = 1;
				c = peek(r, 0);
			}
			if (c < -2)
				return c;
			if (c == -1 || c == '\n')
				break;
		}
		len = i;
		while (len > 0 && (r->buf[r->pos + len - 1] == '\r' || r->buf[r->pos + len - 1] == ' ' ||
				   r->buf[r->pos + len - 1] == '\t'))
			len--;
		if (big || len > MTD_MAX_RECORD) {
			mtd_err(err, n, "record exceeds %u bytes", MTD_MAX_RECORD);
			rc = MTD_EMALFORMED;
		} else {
			rc = text_record(r, rec, r->buf + r->pos, len, start, parse, err, n);
		}
		r->pos += i;
		return rc;
	}
	if ((rc = scan_value(r, &len, &nl, &big, &why)) < 0)
		return rc;
	if (r->in_array) {
		r->elem++;
		r->in_array = 2;
	}
	if (rc == 0) { /* broken: all of it is one bad record */
		r->in_array = 0; /* what follows is read as documents */
		if (big) {
			mtd_err(err, n, "record exceeds %u bytes", MTD_MAX_RECORD);
			rc = MTD_EMALFORMED;
		} else if (parse) {
			mtd_err(err, n, "%s", why);
			rc = MTD_EMALFORMED;
		} else { /* framed only: the plugin says what is wrong with it */
			size_t rl = len;
			while (rl > 0 && strchr(" \t\r\n", r->buf[r->pos + rl - 1]))
				rl--;
			if (rl) {
				rc = text_record(r, rec, r->buf + r->pos, rl, start, parse, err, n);
			} else { /* nothing to hand on: no record is empty */
				mtd_err(err, n, "%s", why);
				rc = MTD_EMALFORMED;
			}
		}
		r->pos += len;
		r->line += nl;
		return rc;
	}
	if (!r->in_array && !big && (rc = rest_of_line(r, len, &extra)) < 0)
		return rc;
	if (big || len + extra > MTD_MAX_RECORD) {
		r->pos += len + extra;
		r->line += nl;
		mtd_err(err, n, "record exceeds %u bytes", MTD_MAX_RECORD);
		return MTD_EMALFORMED;
	}
	if (extra && parse) {
		mtd_err(err, n, "trailing characters after the JSON document");
		rc = MTD_EMALFORMED;
	} else {
		rc = text_record(r, rec, r->buf + r->pos, len + extra, start, parse, err, n);
	}
	r->pos += len + extra;
	r->line += nl;
	return rc;
}

/* One line of an event stream, without its end (LF, CRLF or CR): 1 with
 * it in *p and *len, and its byte offset in *at (*big when it was longer than a
 * record: then dropped, *p NULL), 0 at the end of input. *p is valid until
 * the next read. */
static int sse_line(mtd_reader *r, const unsigned char **p, size_t *len, uint64_t *at,
		    int *big)
{
	size_t i = 0, end;
	int c;
	*big = 0;
	*p = NULL;
	*at = r->offset + r->pos;
	if ((c = peek(r, 0)) == -1)
		return 0;
	if (c < -2)
		return c;
	for (;; i++) {
		c = peek(r, i);
		if (c == -2) {
			r->pos += i;
			i = 0;
			*big = 1;
			c = peek(r, 0);
		}
		if (c < -2)
			return c;
		if (c == -1 || c == '\n' || c == '\r')
			break;
	}
	end = c == -1 ? 0 : 1;
	if (c == '\r') {
		int d = peek(r, i + 1);
		if (d == -2) { /* the line fills the buffer: the LF stays unread */
			d = -1;
		}
		if (d < -2)
			return d;
		if (d == '\n')
			end = 2;
	}
	*len = i;
	if (!*big)
		*p = r->buf + r->pos;
	r->pos += i + end;
	r->line++;
	return 1;
}

/* Next record of a text/event-stream (WHATWG HTML "server-sent events"):
 * each event's data, its data lines joined with "\n", is one record; the
 * event's other fields, comments and events without data (keep-alives)
 * are skipped. An event not ended by a blank line at the end of input
 * still counts: nothing sent is dropped. */
static int next_sse(mtd_reader *r, mtd_record *rec, int parse, char *err, size_t n)
{
	int have = 0, big = 0;
	uint64_t first = 0, first_at = 0;

	r->sse.len = 0;
	for (;;) {
		size_t len = 0, i, vs;
		int lbig, rc;
		uint64_t at;
		const unsigned char *p;
		if ((rc = sse_line(r, &p, &len, &at, &lbig)) < 0)
			return rc;
		if (rc == 0 || (!lbig && len == 0)) { /* the end of an event */
			if (!have || (!big && r->sse.len == 0)) { /* nothing, or a keep-alive */
				if (rc == 0)
					return 0;
				have = 0;
				r->sse.len = 0;
				continue;
			}
			r->event++;
			r->index++;
			r->w_kind = W_EVENT;
			r->w_line = first;
			r->w_index = r->index;
			r->w_byte = first_at;
			if (big) {
				mtd_err(err, n, "record exceeds %u bytes", MTD_MAX_RECORD);
				return MTD_EMALFORMED;
			}
			return text_record(r, rec, r->sse.data, r->sse.len, first_at, parse, err, n);
		}
		if (lbig) { /* too long for any field: only data matters */
			if (!have)
				first = r->line, first_at = at;
			have = big = 1;
			continue;
		}
		if (p[0] == ':')
			continue; /* a comment (keep-alive) */
		for (i = 0; i < len && p[i] != ':'; i++)
			;
		if (i != 4 || memcmp(p, "data", 4))
			continue; /* event, id, retry, and fields nobody knows */
		vs = i < len ? i + 1 : len;
		if (vs < len && p[vs] == ' ')
			vs++;
		if (!have) {
			first = r->line;
			first_at = at;
		} else if (!big && mtd_buf_put(&r->sse, "\n", 1)) {
			return MTD_ENOMEM;
		}
		have = 1;
		if (big || r->sse.len + (len - vs) > MTD_MAX_RECORD) {
			big = 1;
			continue;
		}
		if (mtd_buf_put(&r->sse, p + vs, len - vs))
			return MTD_ENOMEM;
	}
}

/* Whether the text at r->pos starts with a field of an event stream:
 * "data", "event", "id" or "retry", then ':' or the line's end. */
static int sse_field(mtd_reader *r)
{
	static const char *const names[] = {"data", "event", "id", "retry"};
	for (size_t k = 0; k < sizeof names / sizeof *names; k++) {
		size_t l = strlen(names[k]), i;
		int c;
		for (i = 0; i < l && peek(r, i) == names[k][i]; i++)
			;
		if (i == l && ((c = peek(r, l)) == ':' || c == '\n' || c == '\r'))
			return 1;
	}
	return 0;
}

int mtd_reader_next(mtd_reader *r, mtd_record *rec, int parse, char *err,
		    size_t errlen)
{
	if (r->dead)
		return 0;
	if (!r->format) {
		int rc = skip_ws(r), c;
		if (rc <= 0)
			return rc; /* empty input, or a read error */
		c = r->buf[r->pos];
		if (c == 0xef && peek(r, 1) == 0xbb && peek(r, 2) == 0xbf) {
			r->pos += 3; /* a UTF-8 byte order mark */
			if ((rc = skip_ws(r)) <= 0)
				return rc;
			c = r->buf[r->pos];
		}
		/* A msgpack stream of records starts with a map or array header,
		 * bytes no text starts with; an event stream with a comment or
		 * one of its fields; anything else is JSON text. */
		if ((c >= 0x80 && c <= 0x9f) || (c >= 0xdc && c <= 0xdf))
			r->format = MTD_FMT_MSGPACK;
		else if (c == ':' || sse_field(r))
			r->format = MTD_FMT_SSE;
		else
			r->format = MTD_FMT_JSON;
	}
	{
		int rc = r->format == MTD_FMT_JSON  ? next_json(r, rec, parse, err, errlen)
			 : r->format == MTD_FMT_SSE ? next_sse(r, rec, parse, err, errlen)
						    : next_msgpack(r, rec, parse, err, errlen);
		if (rc != 1 || parse != MTD_READ_MSG || rec->msg)
			return rc;
		rec->msg = &r->msg;
		return mtd_decode_msg(rec->mp, rec->mp_len, &r->msg, err, errlen) ? MTD_EMALFORMED
										  : 1;
	}
}

/* ------------------------------------------------------------------------ */

const msgpack_object *mtd_map_get(const msgpack_object *map, const char *key)
{
	size_t kl = strlen(key);
	if (!map || map->type != MSGPACK_OBJECT_MAP)
		return NULL;
	for (uint32_t i = 0; i < map->via.map.size; i++) {
		const msgpack_object *k = &map->via.map.ptr[i].key;
		if (k->type == MSGPACK_OBJECT_STR && k->via.str.size == kl &&
		    memcmp(k->via.str.ptr, key, kl) == 0)
			return &map->via.map.ptr[i].val;
	}
	return NULL;
}

static int bad(char *err, size_t n, const char *field, const char *why)
{
	mtd_err(err, n, "field '%s': %s", field, why);
	return MTD_EMALFORMED;
}

/* ---- field values ----
 * A field's value as the validators see it, whether it comes from a
 * msgpack-c tree (records) or straight from msgpack bytes (messages): the
 * checks of a field are written once. Kinds follow msgpack-c's: an integer
 * encoded signed but not negative is an unsigned one. */
enum { FV_ABSENT, FV_NIL, FV_STR, FV_UINT, FV_BOOL, FV_ARRAY, FV_MAP, FV_OTHER };
typedef struct fval {
	int kind;
	const char *s; /* FV_STR: borrowed, not NUL-terminated */
	uint32_t n;    /* FV_STR: bytes; FV_ARRAY, FV_MAP: elements */
	uint64_t u;    /* FV_UINT; FV_BOOL: 0/1 */
	size_t at;     /* from msgpack bytes (mp_fields): offset of the value */
} fval;

/* The value v of a tree (NULL: absent). */
static fval obj_val_of(const msgpack_object *v)
{
	fval f = {FV_ABSENT, NULL, 0, 0, 0};
	if (!v)
		return f;
	switch (v->type) {
	case MSGPACK_OBJECT_NIL: f.kind = FV_NIL; break;
	case MSGPACK_OBJECT_STR: f.kind = FV_STR; f.s = v->via.str.ptr; f.n = v->via.str.size; break;
	case MSGPACK_OBJECT_POSITIVE_INTEGER: f.kind = FV_UINT; f.u = v->via.u64; break;
	case MSGPACK_OBJECT_BOOLEAN: f.kind = FV_BOOL; f.u = v->via.boolean; break;
	case MSGPACK_OBJECT_ARRAY: f.kind = FV_ARRAY; f.n = v->via.array.size; break;
	case MSGPACK_OBJECT_MAP: f.kind = FV_MAP; f.n = v->via.map.size; break;
	default: f.kind = FV_OTHER; break;
	}
	return f;
}

static fval obj_val(const msgpack_object *map, const char *key)
{
	return obj_val_of(mtd_map_get(map, key));
}

/* Whether s[0..n) is plain ASCII without control bytes (below 0x20, 0x7f),
 * as almost every id is: eight bytes at a time, a byte's high bit set in
 * the mask when it is a control byte or not ASCII. Anything else is looked
 * at byte by byte (mtd_str_check). */
static int plain_ascii(const char *s, size_t n)
{
	const uint64_t ones = 0x0101010101010101ull, highs = 0x8080808080808080ull;
	size_t i = 0;
	for (; i + 8 <= n; i += 8) {
		uint64_t x, del;
		memcpy(&x, s + i, sizeof x);
		del = x ^ (0x7f * ones);
		if ((((x - 0x20 * ones) | (del - ones)) & ~x & highs) | (x & highs))
			return 0;
	}
	for (; i < n; i++)
		if ((unsigned char)s[i] < 0x20 || (unsigned char)s[i] >= 0x7f)
			return 0;
	return 1;
}

int mtd_utf8_next(const char *str, size_t n, uint32_t *out)
{
	const unsigned char *s = (const unsigned char *)str;
	unsigned c, len, k;
	uint32_t cp, min;
	if (n == 0)
		return 0;
	c = s[0];
	if (c < 0x80) {
		*out = c;
		return 1;
	}
	if (c >= 0xc2 && c <= 0xdf)
		len = 2, cp = c & 0x1f, min = 0x80;
	else if (c >= 0xe0 && c <= 0xef)
		len = 3, cp = c & 0x0f, min = 0x800;
	else if (c >= 0xf0 && c <= 0xf4)
		len = 4, cp = c & 0x07, min = 0x10000;
	else
		return 0;
	if (n < len)
		return 0;
	for (k = 1; k < len; k++) {
		if ((s[k] & 0xc0) != 0x80)
			return 0;
		cp = cp << 6 | (s[k] & 0x3f);
	}
	if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
		return 0;
	*out = cp;
	return (int)len;
}

int mtd_cp_is_c1_or_bidi(uint32_t cp)
{
	return (cp >= 0x80 && cp <= 0x9f) || cp == 0x61c || cp == 0x200e || cp == 0x200f ||
	       (cp >= 0x202a && cp <= 0x202e) || (cp >= 0x2066 && cp <= 0x2069);
}

const char *mtd_str_check(const char *str, size_t n, int what)
{
	size_t i = 0;

	if (plain_ascii(str, n))
		return NULL;
	while (i < n) {
		uint32_t cp;
		int len = mtd_utf8_next(str + i, n - i, &cp);
		if (len == 0)
			return "is not valid UTF-8";
		if (cp < 0x20 || cp == 0x7f)
			return "contains a control character";
		if (what == MTD_STR_ID && mtd_cp_is_c1_or_bidi(cp))
			return cp <= 0x9f ? "contains a C1 control character"
					  : "contains a bidirectional control character";
		i += (size_t)len;
	}
	return NULL;
}

/* A string field of at most max bytes: an identifier (MTD_STR_ID) or free
 * text (MTD_STR_TEXT), as mtd_str_check says. */
static int str_check_val(const fval *v, const char *key, int required, size_t max, int what,
			 mtd_str *out, char *err, size_t n)
{
	const char *why;
	out->p = NULL;
	out->n = 0;
	if (v->kind == FV_ABSENT || v->kind == FV_NIL)
		return required ? bad(err, n, key, "missing") : 0;
	if (v->kind != FV_STR)
		return bad(err, n, key, "not a string");
	if (v->n > max) {
		mtd_err(err, n, "field '%s': %u bytes, more than the limit of %zu", key, v->n,
			    max);
		return MTD_EMALFORMED;
	}
	if ((why = mtd_str_check(v->s, v->n, what)))
		return bad(err, n, key, why);
	if (required && v->n == 0)
		return bad(err, n, key, "empty");
	out->p = v->s;
	out->n = v->n;
	return 0;
}

/* An identifier (or a name from a fixed set) of at most max bytes. */
static int str_val(const fval *v, const char *key, int required, size_t max, mtd_str *out,
		   char *err, size_t n)
{
	return str_check_val(v, key, required, max, MTD_STR_ID, out, err, n);
}

/* Free text (names, users, versions) of at most max bytes. */
static int text_val(const fval *v, const char *key, int required, size_t max, mtd_str *out,
		    char *err, size_t n)
{
	return str_check_val(v, key, required, max, MTD_STR_TEXT, out, err, n);
}

static int time_val(const fval *v, const char *key, int64_t *out, char *err, size_t n)
{
	if (v->kind == FV_ABSENT)
		return bad(err, n, key, "missing");
	if (v->kind == FV_UINT && v->u < 253402300800ull) {
		*out = (int64_t)v->u;
		return 0;
	}
	if (v->kind == FV_STR && mtd_time_parse(v->s, v->n, out) == 0)
		return 0;
	if (v->kind == FV_STR) {
		mtd_err(err, n, "field '%s': '%.*s' is not an RFC 3339 time", key,
			    (int)(v->n > 64 ? 64 : v->n), v->s);
		return MTD_EMALFORMED;
	}
	return bad(err, n, key, "not a time (RFC 3339 string or Unix seconds)");
}

/* -1 absent, 0/1; error when present and not a boolean. */
static int bool_val(const fval *v, const char *key, int *out, char *err, size_t n)
{
	*out = -1;
	if (v->kind == FV_ABSENT || v->kind == FV_NIL)
		return 0;
	if (v->kind != FV_BOOL)
		return bad(err, n, key, "not a boolean");
	*out = (int)v->u;
	return 0;
}

static int level_val(const fval *v, const char *key, int *out, char *err, size_t n)
{
	mtd_str s;
	int rc;
	/* a level's name passes every check of str_val: those are for the
	 * error of anything else */
	if (v->kind == FV_STR && (*out = mtd_level_from_name(v->s, v->n)) >= 0)
		return 0;
	if ((rc = str_val(v, key, 1, 16, &s, err, n)))
		return rc;
	*out = mtd_level_from_name(s.p, s.n);
	if (*out < 0) {
		mtd_err(err, n, "field '%s': '%.*s' is not a threat level (secured, low, medium, high)",
			    key, (int)s.n, s.p);
		return MTD_EMALFORMED;
	}
	return 0;
}

static int get_str(const msgpack_object *m, const char *key, int required, size_t max,
		   mtd_str *out, char *err, size_t n)
{
	fval v = obj_val(m, key);
	return str_val(&v, key, required, max, out, err, n);
}

static int get_text(const msgpack_object *m, const char *key, int required, size_t max,
		    mtd_str *out, char *err, size_t n)
{
	fval v = obj_val(m, key);
	return text_val(&v, key, required, max, out, err, n);
}

static int get_bool(const msgpack_object *m, const char *key, int *out, char *err, size_t n)
{
	fval v = obj_val(m, key);
	return bool_val(&v, key, out, err, n);
}

/* ---- msgpack bytes ----
 * A cursor over untrusted bytes. Every read is bounded by n; a value is
 * skipped by framing it (mtd_msgpack_frame: bounded depth and sizes). */
typedef struct mpc {
	const unsigned char *p;
	size_t n, i;
	int depth;    /* containers around the value at i */
	int dup;      /* mp_fields failed on a duplicate key: */
	char key[68]; /* that key (cut), for the error */
} mpc;

static uint64_t be(const unsigned char *p, int k)
{
	uint64_t v = 0;
	for (int j = 0; j < k; j++)
		v = v << 8 | p[j];
	return v;
}

/* The value at c->i without moving: its kind (and string, count or
 * number) and its header's length in *hdr. -1 when the bytes end first. */
static int mp_head(const mpc *c, fval *v, size_t *hdr)
{
	const unsigned char *p = c->p + c->i;
	size_t left = c->n - c->i, h = 1;
	unsigned b;
	int lb = 0;

	v->s = NULL;
	v->n = 0;
	v->u = 0;
	if (left == 0)
		return -1;
	b = p[0];
	switch (b >> 4) {
	case 0x8: v->kind = FV_MAP; v->n = b & 0x0f; break;
	case 0x9: v->kind = FV_ARRAY; v->n = b & 0x0f; break;
	case 0xa: case 0xb: v->kind = FV_STR; v->n = b & 0x1f; break;
	case 0xc: case 0xd:
		switch (b) {
		case 0xc0: v->kind = FV_NIL; break;
		case 0xc2: case 0xc3: v->kind = FV_BOOL; v->u = b == 0xc3; break;
		case 0xd9: v->kind = FV_STR; lb = 1; break;
		case 0xda: v->kind = FV_STR; lb = 2; break;
		case 0xdb: v->kind = FV_STR; lb = 4; break;
		case 0xdc: v->kind = FV_ARRAY; lb = 2; break;
		case 0xdd: v->kind = FV_ARRAY; lb = 4; break;
		case 0xde: v->kind = FV_MAP; lb = 2; break;
		case 0xdf: v->kind = FV_MAP; lb = 4; break;
		case 0xcc: case 0xcd: case 0xce: case 0xcf:
		case 0xd0: case 0xd1: case 0xd2: case 0xd3: {
			int k = 1 << (b & 3);
			uint64_t u;
			if (left < 1 + (size_t)k)
				return -1;
			u = be(p + 1, k);
			h += (size_t)k;
			if (b <= 0xcf || !(u >> (8 * k - 1))) /* signed, not negative */
				v->kind = FV_UINT, v->u = u;
			else
				v->kind = FV_OTHER;
			break;
		}
		case 0xc1: return -1;
		default: v->kind = FV_OTHER; break; /* bin, ext, float */
		}
		break;
	case 0xe: case 0xf: v->kind = FV_OTHER; break; /* negative fixint */
	default: v->kind = FV_UINT; v->u = b; break;   /* positive fixint */
	}
	if (lb) {
		if (left < 1 + (size_t)lb)
			return -1;
		v->n = (uint32_t)be(p + 1, lb);
		h += (size_t)lb;
	}
	if (v->kind == FV_STR) {
		if (left - h < v->n)
			return -1;
		v->s = (const char *)p + h;
	}
	*hdr = h;
	return 0;
}

/* mp_head, with short strings (most keys and values) read in line. */
static inline int mp_head_str(const mpc *c, fval *v, size_t *hdr)
{
	if (c->i < c->n && (c->p[c->i] & 0xe0) == 0xa0) {
		uint32_t len = c->p[c->i] & 0x1f;
		if (c->n - c->i - 1 < len)
			return -1;
		v->kind = FV_STR;
		v->s = (const char *)c->p + c->i + 1;
		v->n = len;
		v->u = 0;
		*hdr = 1;
		return 0;
	}
	return mp_head(c, v, hdr);
}

/* Past the value at c->i, whose head mp_head read into v and h: the common
 * scalars by their length, anything else by framing it. */
static int mp_pass(mpc *c, const fval *v, size_t h)
{
	size_t len;
	switch (v->kind) {
	case FV_STR: c->i += h + v->n; return 0;
	case FV_UINT: case FV_NIL: case FV_BOOL: c->i += h; return 0;
	default: break;
	}
	if (mtd_mp_frame(c->p + c->i, c->n - c->i, c->depth, &len) != 1)
		return -1;
	c->i += len;
	return 0;
}

/* A key looked for, with its length (compared first: most keys differ). */
typedef struct fkey {
	const char *s;
	uint32_t n;
} fkey;
#define FKEY(lit) {lit, sizeof lit - 1}

/* The index in names[0..n) of the one that is s[0..len), or -1. */
static int fkey_index(const fkey *names, int n, const char *s, size_t len)
{
	for (int i = 0; i < n; i++)
		if (names[i].n == len && names[i].s && !memcmp(names[i].s, s, len))
			return i;
	return -1;
}

/* Whether the string key k was seen before in seen[0..n): then c->dup and
 * c->key say which. */
static int key_seen(mpc *c, const fval *seen, size_t n, const fval *k)
{
	for (size_t j = 0; j < n; j++)
		if (seen[j].n == k->n && !memcmp(seen[j].s, k->s, k->n)) {
			c->dup = 1;
			snprintf(c->key, sizeof c->key, "%.*s", (int)(k->n < 64 ? k->n : 64), k->s);
			return 1;
		}
	return 0;
}

/* The map of count entries at c->i (after its header): in out[j] the value
 * of each of the nk keys that are present (its head, with its offset in
 * at), kind FV_ABSENT for the others; c->i ends after the map. -1 on bad
 * bytes, or on a key that comes twice, here or in a map inside a value
 * nobody reads field by field (c->dup set: refused as JSON's are, 19.7).
 * Each byte is read once, but for containers, which are framed. */
static int mp_fields(mpc *c, uint32_t count, const fkey *keys, int nk, fval *out)
{
	fval small[16], *seen = small;
	size_t nseen = 0;
	int rc = -1;

	for (int j = 0; j < nk; j++)
		out[j].kind = FV_ABSENT;
	if (count > sizeof small / sizeof *small &&
	    (count > c->n - c->i || !(seen = malloc(count * sizeof *seen))))
		return -1; /* each entry takes two bytes at least */
	for (uint32_t e = 0; e < count; e++) {
		fval k, v;
		size_t h;
		int j = nk;
		if (mp_head_str(c, &k, &h))
			goto out;
		if (k.kind == FV_STR) {
			if (key_seen(c, seen, nseen, &k))
				goto out;
			seen[nseen++] = k;
			c->i += h + k.n;
			for (j = 0; j < nk; j++)
				if (keys[j].n == k.n && keys[j].s[0] == k.s[0] && /* n >= 1 */
				    !memcmp(keys[j].s, k.s, k.n))
					break;
		} else if (mp_pass(c, &k, h)) {
			goto out;
		}
		if (mp_head_str(c, &v, &h))
			goto out;
		v.at = c->i;
		if (j < nk)
			out[j] = v;
		if (mp_pass(c, &v, h))
			goto out;
		if (j == nk && (v.kind == FV_MAP || v.kind == FV_ARRAY)) {
			/* a value read by nobody: its maps are checked here */
			int u = mtd_mp_unique_keys(c->p + v.at, c->i - v.at, c->key, sizeof c->key);
			if (u) {
				c->dup = u == 1;
				goto out;
			}
		}
	}
	rc = 0;
out:
	if (seen != small)
		free(seen);
	return rc;
}

/* MTD_EMALFORMED when a map anywhere in the msgpack object mp[0..len) has a
 * key twice (records read as a tree): refused on every path, as
 * JSON's are (19.7). */
static int dup_keys(const void *mp, size_t len, char *err, size_t n)
{
	char key[80];
	int rc = mtd_mp_unique_keys(mp, len, key, sizeof key);
	if (rc == 0)
		return 0;
	if (rc == 1)
		mtd_err(err, n, "duplicate key '%s'", key);
	else
		mtd_err(err, n, "not one msgpack object");
	return MTD_EMALFORMED;
}

/* ---- normalized messages ---- */

static const fkey categories[] = {FKEY("network"), FKEY("app"), FKEY("os"), FKEY("device")};

/* A threat's category (already a valid string s, named field). */
static int category_val(const mtd_str *s, const char *field, char *err, size_t n)
{
	if (fkey_index(categories, (int)(sizeof categories / sizeof *categories), s->p, s->n) >= 0)
		return 0;
	mtd_err(err, n, "field '%s': '%.*s' is not one of network, app, os, device", field,
		    (int)s->n, s->p);
	return MTD_EMALFORMED;
}

/* The threat (index i) at c->i; c->i ends after it. */
static int read_threat(mpc *c, uint32_t i, mtd_threat *t, char *err, size_t n)
{
	static const fkey keys[] = {FKEY("id"), FKEY("name"), FKEY("level"), FKEY("category")};
	size_t h;
	fval m, v[4];
	char sub[256];
	int rc;

	if (mp_head(c, &m, &h) || m.kind != FV_MAP) {
		mtd_err(err, n, "field 'threats[%u]': not a map", i);
		return MTD_EMALFORMED;
	}
	c->i += h;
	c->depth++;
	rc = mp_fields(c, m.n, keys, 4, v);
	c->depth--;
	if (rc) {
		if (c->dup)
			mtd_err(err, n, "field 'threats[%u]': duplicate key '%s'", i, c->key);
		else
			mtd_err(err, n, "field 'threats[%u]': not msgpack", i);
		return MTD_EMALFORMED;
	}
	if ((rc = str_val(&v[0], "id", 0, MTD_MAX_ID, &t->id, sub, sizeof sub)) ||
	    (rc = text_val(&v[1], "name", 0, MTD_MAX_STR, &t->name, sub, sizeof sub)) ||
	    (rc = level_val(&v[2], "level", &t->level, sub, sizeof sub)) ||
	    (rc = str_val(&v[3], "category", 1, 16, &t->category, sub, sizeof sub))) {
		mtd_err(err, n, "threats[%u]: %s", i, sub);
		return rc;
	}
	if ((rc = category_val(&t->category, "category", sub, sizeof sub))) {
		mtd_err(err, n, "threats[%u]: %s", i, sub);
		return rc;
	}
	return 0;
}

/* The threats field a (from mp_fields over msg): a validated array, or none. */
static int read_threats(const mpc *msg, const fval *a, mtd_msg *m, char *err, size_t n)
{
	mpc c = {.p = msg->p, .n = msg->n, .i = a->at, .depth = msg->depth + 1}; /* the threats */
	fval head;
	size_t h;
	mtd_threat t;
	int rc;

	if (a->kind == FV_ABSENT || a->kind == FV_NIL)
		return 0;
	if (a->kind != FV_ARRAY)
		return bad(err, n, "threats", "not an array");
	if (a->n > MTD_MAX_THREATS) {
		mtd_err(err, n, "field 'threats': %u threats, more than the limit of %d", a->n,
			    MTD_MAX_THREATS);
		return MTD_EMALFORMED;
	}
	mp_head(&c, &head, &h);
	c.i += h;
	for (uint32_t i = 0; i < a->n; i++)
		if ((rc = read_threat(&c, i, &t, err, n)))
			return rc;
	m->threats = msg->p + a->at;
	m->threats_len = c.i - a->at;
	m->nthreats = a->n;
	return 0;
}

int mtd_msg_threat(const mtd_msg *m, size_t *pos, mtd_threat *t)
{
	mpc c = {.p = m->threats, .n = m->threats_len, .i = *pos, .depth = 1};
	fval a;
	size_t h;
	char err[8];

	if (!m->threats)
		return 0;
	if (*pos == 0) {
		if (mp_head(&c, &a, &h))
			return 0;
		c.i = h;
	}
	if (c.i >= c.n || read_threat(&c, 0, t, err, sizeof err))
		return 0;
	*pos = c.i;
	return 1;
}

/* ---- device_ref and threat_event (SPEC 4.1 extensions) ---- */

/* The keys of a device_ref: the kinds (MTD_REF_*), then the qualifier. */
static const fkey ref_keys[MTD_NREF + 1] = {
#define X(k, name) FKEY(name),
	MTD_REF_KINDS(X)
#undef X
	FKEY("platform")};

const char *mtd_ref_name(int k)
{
	return k >= 0 && k < MTD_NREF ? ref_keys[k].s : "?";
}

/* The device_ref field r (from mp_fields over msg) into m->refs, m->ref
 * and m->ref_platform. */
static int read_ref(const mpc *msg, const fval *r, mtd_msg *m, char *err, size_t n)
{
	mpc c = {.p = msg->p, .n = msg->n, .i = r->at, .depth = msg->depth + 1};
	fval head;
	size_t h;
	int seen_platform = 0, rc;

	if (r->kind != FV_MAP)
		return bad(err, n, "device_ref", "not a map");
	mp_head(&c, &head, &h);
	c.i += h;
	for (uint32_t e = 0; e < r->n; e++) {
		fval k, v;
		int j;
		char field[48];
		mtd_str s;

		if (mp_head_str(&c, &k, &h))
			return bad(err, n, "device_ref", "not msgpack");
		if (k.kind != FV_STR)
			return bad(err, n, "device_ref", "a key that is not a string");
		c.i += h + k.n;
		j = fkey_index(ref_keys, MTD_NREF + 1, k.s, k.n);
		if (j < 0) {
			if (k.n <= 32 && plain_ascii(k.s, k.n))
				mtd_err(err, n, "field 'device_ref': unknown identifier kind '%.*s'",
					    (int)k.n, k.s);
			else
				mtd_err(err, n, "field 'device_ref': unknown identifier kind");
			return MTD_EMALFORMED;
		}
		if (j < MTD_NREF ? (int)(m->refs >> j & 1) : seen_platform) {
			mtd_err(err, n, "field 'device_ref': duplicate key '%s'", ref_keys[j].s);
			return MTD_EMALFORMED;
		}
		if (mp_head_str(&c, &v, &h))
			return bad(err, n, "device_ref", "not msgpack");
		snprintf(field, sizeof field, "device_ref.%s", ref_keys[j].s);
		if (j == MTD_NREF) {
			if ((rc = str_val(&v, field, 1, 16, &s, err, n)))
				return rc;
			if ((m->ref_platform = mtd_platform_from_name(s.p, s.n)) < 0) {
				mtd_err(err, n, "field '%s': '%.*s' is not android, ios, windows or macos",
					    field, (int)s.n, s.p);
				return MTD_EMALFORMED;
			}
			seen_platform = 1;
		} else {
			if ((rc = str_val(&v, field, 1, MTD_MAX_ID, &m->ref[j], err, n)))
				return rc;
			m->refs |= 1u << j;
		}
		if (mp_pass(&c, &v, h))
			return bad(err, n, "device_ref", "not msgpack");
	}
	if (!m->refs)
		return bad(err, n, "device_ref", "no identifier (a platform alone names no device)");
	if ((m->refs >> MTD_REF_USER & 1) && m->ref_platform < 0)
		return bad(err, n, "device_ref",
			   "'user' needs 'platform' (a user names a device only on one platform)");
	return 0;
}

/* The device a message names: "device" or "device_ref", exactly one. */
static int read_device(const mpc *msg, const fval *dev, const fval *ref, mtd_msg *m, char *err,
		       size_t n)
{
	if (ref->kind == FV_ABSENT || ref->kind == FV_NIL)
		return str_val(dev, "device", 1, MTD_MAX_ID, &m->device, err, n);
	if (dev->kind != FV_ABSENT && dev->kind != FV_NIL) {
		mtd_err(err, n, "fields 'device' and 'device_ref': a message names its device by one of them, not both");
		return MTD_EMALFORMED;
	}
	return read_ref(msg, ref, m, err, n);
}

/* The threat and state of a threat_event (from mp_fields over msg). */
static int read_event(const mpc *msg, const fval *th, const fval *state, mtd_msg *m, char *err,
		      size_t n)
{
	static const fkey keys[] = {FKEY("id"), FKEY("name"), FKEY("level"), FKEY("category")};
	static const fkey states[] = {FKEY("resolved"), FKEY("open")}; /* MTD_EVENT_* */
	mpc c = {.p = msg->p, .n = msg->n, .i = th->at, .depth = msg->depth + 1};
	mtd_threat *t = &m->event;
	fval head, v[4];
	size_t h;
	mtd_str s;
	int rc;

	if ((rc = str_val(state, "state", 1, 16, &s, err, n)))
		return rc;
	if ((m->state = fkey_index(states, 2, s.p, s.n)) < 0) {
		mtd_err(err, n, "field 'state': '%.*s' is not open or resolved", (int)s.n, s.p);
		return MTD_EMALFORMED;
	}
	if (th->kind == FV_ABSENT || th->kind == FV_NIL)
		return bad(err, n, "threat", "missing");
	if (th->kind != FV_MAP)
		return bad(err, n, "threat", "not a map");
	mp_head(&c, &head, &h);
	c.i += h;
	if (mp_fields(&c, head.n, keys, 4, v)) {
		if (c.dup)
			mtd_err(err, n, "field 'threat': duplicate key '%s'", c.key);
		return c.dup ? MTD_EMALFORMED : bad(err, n, "threat", "not msgpack");
	}
	t->level = -1;
	/* a resolve needs only the id; whatever else it carries is checked */
	if ((rc = str_val(&v[0], "threat.id", 1, MTD_MAX_ID, &t->id, err, n)) ||
	    (rc = text_val(&v[1], "threat.name", 0, MTD_MAX_STR, &t->name, err, n)))
		return rc;
	if ((m->state == MTD_EVENT_OPEN || (v[2].kind != FV_ABSENT && v[2].kind != FV_NIL)) &&
	    (rc = level_val(&v[2], "threat.level", &t->level, err, n)))
		return rc;
	if ((rc = str_val(&v[3], "threat.category", m->state == MTD_EVENT_OPEN, 16, &t->category,
			  err, n)))
		return rc;
	return t->category.p ? category_val(&t->category, "threat.category", err, n) : 0;
}

/* ---- security tasks (contracts: "Security tasks") ---- */

static const fkey task_kinds[] = {FKEY("vulnerability"), FKEY("recommendation")}; /* MTD_TASK_* */
static const fkey severities[MTD_NSEV] = {FKEY("low"), FKEY("medium"), FKEY("high"),
					  FKEY("critical")};

const char *mtd_task_kind_name(int kind)
{
	return kind >= 0 && kind < 2 ? task_kinds[kind].s : "?";
}

const char *mtd_task_severity_name(int sev)
{
	return sev >= 0 && sev < MTD_NSEV ? severities[sev].s : "?";
}

/* "CVE-", a four-digit year, "-", four or more digits (CVE's own syntax,
 * 2014 on), in at most MTD_MAX_CVE bytes. */
static int cve_ok(const mtd_str *s)
{
	size_t i;
	if (s->n < 13 || s->n > MTD_MAX_CVE || memcmp(s->p, "CVE-", 4) || s->p[8] != '-')
		return 0;
	for (i = 4; i < s->n; i++)
		if (i != 8 && (s->p[i] < '0' || s->p[i] > '9'))
			return 0;
	return 1;
}

/* The task of a task message (from mp_fields over msg): its fields, and its
 * state into m->state. */
static int read_task(const mpc *msg, const fval *tv, mtd_msg *m, char *err, size_t n)
{
	enum { T_ID, T_KIND, T_CVE, T_SOFTWARE, T_VERSION, T_SEVERITY, T_FIRST, T_STATE, T_N };
	static const fkey keys[T_N] = {FKEY("id"),	 FKEY("kind"),	   FKEY("cve"),
				       FKEY("software"), FKEY("version"),  FKEY("severity"),
				       FKEY("first_seen"), FKEY("state")};
	static const fkey states[] = {FKEY("resolved"), FKEY("open")}; /* MTD_EVENT_* */
	mpc c = {.p = msg->p, .n = msg->n, .i = tv->at, .depth = msg->depth + 1};
	mtd_task *t = &m->task;
	fval head, v[T_N];
	size_t h;
	mtd_str s;
	int rc;

	if (tv->kind == FV_ABSENT || tv->kind == FV_NIL)
		return bad(err, n, "task", "missing");
	if (tv->kind != FV_MAP)
		return bad(err, n, "task", "not a map");
	mp_head(&c, &head, &h);
	c.i += h;
	if (mp_fields(&c, head.n, keys, T_N, v)) {
		if (c.dup)
			mtd_err(err, n, "field 'task': duplicate key '%s'", c.key);
		return c.dup ? MTD_EMALFORMED : bad(err, n, "task", "not msgpack");
	}
	if ((rc = str_val(&v[T_ID], "task.id", 1, MTD_MAX_ID, &t->id, err, n)) ||
	    (rc = str_val(&v[T_KIND], "task.kind", 1, 16, &s, err, n)))
		return rc;
	if ((t->kind = fkey_index(task_kinds, 2, s.p, s.n)) < 0) {
		mtd_err(err, n, "field 'task.kind': '%.*s' is not vulnerability or recommendation",
			(int)s.n, s.p);
		return MTD_EMALFORMED;
	}
	if ((rc = str_val(&v[T_SEVERITY], "task.severity", 1, 16, &s, err, n)))
		return rc;
	if ((t->severity = fkey_index(severities, MTD_NSEV, s.p, s.n)) < 0) {
		mtd_err(err, n, "field 'task.severity': '%.*s' is not low, medium, high or critical",
			(int)s.n, s.p);
		return MTD_EMALFORMED;
	}
	if ((rc = str_val(&v[T_CVE], "task.cve", 0, MTD_MAX_CVE + 32, &t->cve, err, n)))
		return rc;
	if (t->cve.p && !cve_ok(&t->cve)) {
		mtd_err(err, n, "field 'task.cve': '%.*s' is not a CVE id (CVE-YYYY-NNNN)",
			(int)t->cve.n, t->cve.p);
		return MTD_EMALFORMED;
	}
	if ((rc = text_val(&v[T_SOFTWARE], "task.software", 0, MTD_MAX_STR, &t->software, err,
			   n)) ||
	    (rc = text_val(&v[T_VERSION], "task.version", 0, MTD_MAX_ID, &t->version, err, n)) ||
	    (rc = time_val(&v[T_FIRST], "task.first_seen", &t->first_seen, err, n)) ||
	    (rc = str_val(&v[T_STATE], "task.state", 1, 16, &s, err, n)))
		return rc;
	if ((m->state = fkey_index(states, 2, s.p, s.n)) < 0) {
		mtd_err(err, n, "field 'task.state': '%.*s' is not open or resolved", (int)s.n, s.p);
		return MTD_EMALFORMED;
	}
	return 0;
}

enum { M_TYPE, M_AT, M_DEVICE, M_LEVEL, M_OS, M_THREATS, M_CODE, M_REF, M_THREAT, M_STATE,
       M_TASK, M_N };

/* The message that starts mp[0..len): its length in *used, or, when used
 * is NULL, the message that is all of it. */
static int decode_msg(const void *mp, size_t len, size_t *used, mtd_msg *m, char *err,
		      size_t n)
{
	static const fkey keys[M_N] = {
		FKEY("type"),	 FKEY("at"),	     FKEY("device"), FKEY("level"),
		FKEY("os_supported"), FKEY("threats"), FKEY("code"),	FKEY("device_ref"),
		FKEY("threat"),  FKEY("state"),	     FKEY("task")};
	mpc c = {.p = mp, .n = len, .i = 0, .depth = 0};
	size_t h;
	fval top, v[M_N];
	mtd_str type;
	int rc, t;

	memset(m, 0, offsetof(mtd_msg, ref)); /* ref: valid where refs says */
	m->os_supported = -1;
	m->ref_platform = -1;
	if (!mp || mp_head(&c, &top, &h) || top.kind != FV_MAP) {
		mtd_err(err, n, "a message must be a map");
		return MTD_EMALFORMED;
	}
	c.i = h;
	c.depth = 1;
	if (mp_fields(&c, top.n, keys, M_N, v) || (!used && c.i != len)) {
		if (c.dup)
			mtd_err(err, n, "duplicate key '%s'", c.key);
		else
			mtd_err(err, n, "a message must be one msgpack object");
		return MTD_EMALFORMED;
	}
	if (used)
		*used = c.i;
	/* as levels: a type's name passes every check of str_val, which are
	 * for the error of anything else */
	t = v[M_TYPE].kind == FV_STR
		    ? mtd_msg_type_from_name(v[M_TYPE].s, v[M_TYPE].n)
		    : -1;
	if (t < 0 && (rc = str_val(&v[M_TYPE], "type", 1, 32, &type, err, n)))
		return rc;
	if (t < 0) {
		mtd_err(err, n, "field 'type': '%.*s' is not a message type", (int)type.n,
			    type.p);
		return MTD_EMALFORMED;
	}
	m->type = t;
	if ((rc = time_val(&v[M_AT], "at", &m->at, err, n)))
		return rc;
	if (m->type == MTD_MSG_ERROR)
		return str_val(&v[M_CODE], "code", 1, MTD_MAX_ID, &m->code, err, n);
	if (m->type != MTD_MSG_THREAT && m->type != MTD_MSG_THREAT_EVENT &&
	    m->type != MTD_MSG_TASK)
		return 0;
	if ((rc = read_device(&c, &v[M_DEVICE], &v[M_REF], m, err, n)))
		return rc;
	if (m->type == MTD_MSG_TASK)
		return read_task(&c, &v[M_TASK], m, err, n);
	if (m->type == MTD_MSG_THREAT_EVENT)
		return read_event(&c, &v[M_THREAT], &v[M_STATE], m, err, n);
	if ((rc = level_val(&v[M_LEVEL], "level", &m->level, err, n)) ||
	    (rc = bool_val(&v[M_OS], "os_supported", &m->os_supported, err, n)))
		return rc;
	return read_threats(&c, &v[M_THREATS], m, err, n);
}

int mtd_decode_msg(const void *mp, size_t len, mtd_msg *m, char *err, size_t n)
{
	return decode_msg(mp, len, NULL, m, err, n);
}

json_t *mtd_msg_json(const mtd_msg *m)
{
	json_t *j;
	j = json_pack("{s:s, s:I}", "type", mtd_msg_type_name(m->type), "at", (json_int_t)m->at);
	if (!j)
		return NULL;
	if (m->type == MTD_MSG_ERROR)
		json_object_set_new(j, "code", json_stringn(m->code.p, m->code.n));
	if (m->refs) {
		json_t *r = json_object();
		for (int k = 0; k < MTD_NREF; k++)
			if (m->refs >> k & 1)
				json_object_set_new(r, mtd_ref_name(k),
						    json_stringn(m->ref[k].p, m->ref[k].n));
		if (m->ref_platform >= 0)
			json_object_set_new(r, "platform",
					    json_string(mtd_platform_name(m->ref_platform)));
		json_object_set_new(j, "device_ref", r);
	} else if (m->device.p) {
		json_object_set_new(j, "device", json_stringn(m->device.p, m->device.n));
	}
	if (m->type == MTD_MSG_THREAT_EVENT) {
		json_t *e = json_object();
		json_object_set_new(e, "id", json_stringn(m->event.id.p, m->event.id.n));
		if (m->event.category.p)
			json_object_set_new(e, "category",
					    json_stringn(m->event.category.p, m->event.category.n));
		if (m->event.name.p)
			json_object_set_new(e, "name", json_stringn(m->event.name.p, m->event.name.n));
		if (m->event.level >= 0)
			json_object_set_new(e, "level", json_string(mtd_level_name(m->event.level)));
		json_object_set_new(j, "threat", e);
		json_object_set_new(j, "state",
				    json_string(m->state == MTD_EVENT_OPEN ? "open" : "resolved"));
	}
	if (m->type == MTD_MSG_TASK) {
		const mtd_task *t = &m->task;
		json_t *e = json_pack("{s:s%, s:s}", "id", t->id.p, t->id.n, "kind",
				      mtd_task_kind_name(t->kind));
		if (e && t->cve.p)
			json_object_set_new(e, "cve", json_stringn(t->cve.p, t->cve.n));
		if (e && t->software.p)
			json_object_set_new(e, "software", json_stringn(t->software.p, t->software.n));
		if (e && t->version.p)
			json_object_set_new(e, "version", json_stringn(t->version.p, t->version.n));
		if (e) {
			json_object_set_new(e, "severity",
					    json_string(mtd_task_severity_name(t->severity)));
			json_object_set_new(e, "first_seen", json_integer((json_int_t)t->first_seen));
			json_object_set_new(e, "state",
					    json_string(m->state == MTD_EVENT_OPEN ? "open" : "resolved"));
		}
		json_object_set_new(j, "task", e ? e : json_null());
	}
	if (m->type == MTD_MSG_THREAT) {
		json_t *th = json_array();
		mtd_threat t;
		size_t pos = 0;
		json_object_set_new(j, "level", json_string(mtd_level_name(m->level)));
		if (m->os_supported >= 0)
			json_object_set_new(j, "os_supported", json_boolean(m->os_supported));
		while (mtd_msg_threat(m, &pos, &t)) {
			json_t *e = json_object();
			if (t.id.p)
				json_object_set_new(e, "id", json_stringn(t.id.p, t.id.n));
			json_object_set_new(e, "category", json_stringn(t.category.p, t.category.n));
			if (t.name.p)
				json_object_set_new(e, "name", json_stringn(t.name.p, t.name.n));
			json_object_set_new(e, "level", json_string(mtd_level_name(t.level)));
			json_array_append_new(th, e);
		}
		json_object_set_new(j, "threats", th);
	}
	return j;
}

static int one_of(const msgpack_object *o, const char *key, const char *a,
		  const char *b, int *out, char *err, size_t n)
{
	mtd_str s;
	int rc = get_str(o, key, 1, 32, &s, err, n);
	if (rc)
		return rc;
	if (strlen(a) == s.n && !memcmp(a, s.p, s.n))
		*out = 1;
	else if (strlen(b) == s.n && !memcmp(b, s.p, s.n))
		*out = 0;
	else {
		mtd_err(err, n, "field '%s': '%.*s' is not %s or %s", key,
			    (int)s.n, s.p, a, b);
		return MTD_EMALFORMED;
	}
	return 0;
}

static int str_cmp(const void *a, const void *b)
{
	const mtd_str *x = a, *y = b;
	size_t k = x->n < y->n ? x->n : y->n;
	int c = memcmp(x->p, y->p, k);
	return c ? c : (x->n > y->n) - (x->n < y->n);
}

/* The kinds of a device record's ids (4.2 extension), besides vendor:<id>. */
static const fkey id_kinds[] = {FKEY("intune"), FKEY("entra"), FKEY("serial"), FKEY("imei"),
				FKEY("meid"),	FKEY("udid"),	FKEY("wifi_mac")};

/* A vendor id after "vendor:": as plugin ids, [a-z0-9_], 1 to 32 bytes. */
static int vendor_kind(const char *s, size_t len)
{
	if (len <= 7 || len > 7 + 32 || memcmp(s, "vendor:", 7))
		return 0;
	for (size_t i = 7; i < len; i++)
		if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= '0' && s[i] <= '9') || s[i] == '_'))
			return 0;
	return 1;
}

static int decode_ids(const msgpack_object *ids, mtd_device_rec *d, char *err, size_t n)
{
	if (!ids || ids->type == MSGPACK_OBJECT_NIL)
		return 0;
	if (ids->type != MSGPACK_OBJECT_MAP)
		return bad(err, n, "ids", "not a map");
	if (ids->via.map.size > MTD_MAX_IDS) {
		mtd_err(err, n, "field 'ids': %u identifiers, more than the limit of %d",
			    ids->via.map.size, MTD_MAX_IDS);
		return MTD_EMALFORMED;
	}
	for (uint32_t i = 0; i < ids->via.map.size; i++) {
		const msgpack_object *k = &ids->via.map.ptr[i].key;
		const msgpack_object *v = &ids->via.map.ptr[i].val;
		char field[64];
		mtd_str kind, val;
		fval fv;
		int rc;

		if (k->type != MSGPACK_OBJECT_STR)
			return bad(err, n, "ids", "a key that is not a string");
		kind.p = k->via.str.ptr;
		kind.n = k->via.str.size;
		if (fkey_index(id_kinds, (int)(sizeof id_kinds / sizeof *id_kinds), kind.p, kind.n) < 0 &&
		    !vendor_kind(kind.p, kind.n)) {
			if (kind.n <= 48 && !mtd_str_check(kind.p, kind.n, MTD_STR_ID))
				mtd_err(err, n, "field 'ids': '%.*s' is not an identifier kind (intune, entra, serial, imei, meid, udid, wifi_mac, vendor:<vendor id>)",
					    (int)kind.n, kind.p);
			else
				mtd_err(err, n, "field 'ids': a key that is not an identifier kind");
			return MTD_EMALFORMED;
		}
		for (size_t j = 0; j < d->nids; j++)
			if (d->id_kind[j].n == kind.n && !memcmp(d->id_kind[j].p, kind.p, kind.n)) {
				mtd_err(err, n, "field 'ids': kind '%.*s' twice", (int)kind.n,
					    kind.p);
				return MTD_EMALFORMED;
			}
		snprintf(field, sizeof field, "ids.%.*s", (int)kind.n, kind.p);
		fv = obj_val_of(v);
		if (fv.kind == FV_STR && fv.n == 0)
			continue; /* empty: no identifier, as null */
		if ((rc = str_val(&fv, field, 0, MTD_MAX_ID, &val, err, n)))
			return rc;
		if (!val.p)
			continue;
		d->id_kind[d->nids] = kind;
		d->id_value[d->nids++] = val;
	}
	return 0;
}

int mtd_decode_device(const msgpack_object *o, mtd_device_rec *d, char *err,
		      size_t n)
{
	mtd_str plat;
	const msgpack_object *g;
	int rc;

	memset(d, 0, sizeof *d);
	if (!o || o->type != MSGPACK_OBJECT_MAP) {
		mtd_err(err, n, "a device record must be a map");
		return MTD_EMALFORMED;
	}
	if ((rc = get_str(o, "id", 1, MTD_MAX_ID, &d->id, err, n)) ||
	    (rc = get_str(o, "platform", 1, 16, &plat, err, n)))
		return rc;
	d->platform = mtd_platform_from_name(plat.p, plat.n);
	if (d->platform < 0) {
		mtd_err(err, n, "field 'platform': '%.*s' is not android, ios, windows or macos",
			    (int)plat.n, plat.p);
		return MTD_EMALFORMED;
	}
	if ((rc = get_text(o, "os_version", 0, 64, &d->os_version, err, n)) ||
	    (rc = get_text(o, "user", 0, MTD_MAX_STR, &d->user, err, n)) ||
	    (rc = one_of(o, "ownership", "corporate", "personal", &d->corporate, err, n)) ||
	    (rc = one_of(o, "management", "enrolled", "unenrolled", &d->enrolled, err, n)))
		return rc;
	g = mtd_map_get(o, "groups");
	if (g && g->type != MSGPACK_OBJECT_NIL) {
		if (g->type != MSGPACK_OBJECT_ARRAY)
			return bad(err, n, "groups", "not an array");
		if (g->via.array.size > MTD_MAX_GROUPS) {
			mtd_err(err, n, "field 'groups': %u groups, more than the limit of %d",
				    g->via.array.size, MTD_MAX_GROUPS);
			return MTD_EMALFORMED;
		}
		for (uint32_t i = 0; i < g->via.array.size; i++) {
			const msgpack_object *e = &g->via.array.ptr[i];
			const char *why;
			if (e->type != MSGPACK_OBJECT_STR || e->via.str.size == 0 ||
			    e->via.str.size > MTD_MAX_ID) {
				mtd_err(err, n, "field 'groups[%u]': not a group name (a string of 1 to %d bytes)",
					    i, MTD_MAX_ID);
				return MTD_EMALFORMED;
			}
			if ((why = mtd_str_check(e->via.str.ptr, e->via.str.size, MTD_STR_ID))) {
				mtd_err(err, n, "field 'groups[%u]': %s", i, why);
				return MTD_EMALFORMED;
			}
			d->groups[d->ngroups].p = e->via.str.ptr;
			d->groups[d->ngroups++].n = e->via.str.size;
		}
		qsort(d->groups, d->ngroups, sizeof *d->groups, str_cmp);
		for (size_t i = 1, w = 1; i <= d->ngroups; i++) {
			if (i == d->ngroups) {
				d->ngroups = w;
				break;
			}
			if (str_cmp(&d->groups[i], &d->groups[w - 1]))
				d->groups[w++] = d->groups[i];
		}
	}
	return decode_ids(mtd_map_get(o, "ids"), d, err, n);
}

static int get_size(const msgpack_object *m, const char *key, int64_t *out,
		    char *err, size_t n)
{
	fval v = obj_val(m, key);
	*out = -1;
	if (v.kind == FV_ABSENT || v.kind == FV_NIL)
		return 0;
	if (v.kind != FV_UINT || v.u > INT64_MAX)
		return bad(err, n, key, "not a non-negative integer");
	*out = (int64_t)v.u;
	return 0;
}

int mtd_decode_app(const msgpack_object *o, mtd_app_rec *a, char *err,
		   size_t n)
{
	int rc;
	memset(a, 0, sizeof *a);
	if (!o || o->type != MSGPACK_OBJECT_MAP) {
		mtd_err(err, n, "an app record must be a map");
		return MTD_EMALFORMED;
	}
	if ((rc = get_str(o, "device", 1, MTD_MAX_ID, &a->device, err, n)) ||
	    (rc = get_str(o, "app_id", 1, MTD_MAX_STR, &a->app_id, err, n)) ||
	    (rc = get_text(o, "version", 0, 64, &a->version, err, n)) ||
	    (rc = get_text(o, "short_version", 0, 64, &a->short_version, err, n)) ||
	    (rc = get_text(o, "name", 0, MTD_MAX_STR, &a->name, err, n)) ||
	    (rc = get_size(o, "bundle_size", &a->bundle_size, err, n)) ||
	    (rc = get_size(o, "dynamic_size", &a->dynamic_size, err, n)) ||
	    (rc = get_bool(o, "adhoc_signed", &a->adhoc_signed, err, n)) ||
	    (rc = get_bool(o, "app_store", &a->app_store, err, n)) ||
	    (rc = get_bool(o, "beta", &a->beta, err, n)) ||
	    (rc = get_bool(o, "vpp", &a->vpp, err, n)) ||
	    (rc = get_bool(o, "validated", &a->validated, err, n)) ||
	    (rc = get_bool(o, "managed", &a->managed, err, n)))
		return rc;
	return 0;
}
