/* Unit tests of core/codec: input framing (JSON lines, msgpack streams) with
 * positions and recovery, and the validating decoders of messages, device
 * records and app records. */
#include "testutil.h"

#include <msgpack.h>

#include "codec.h"
#include "mtdgate/mtdgate.h"
#include "mtdgate/sdk.h"

#define T_REF INT64_C(1736941754) /* 2025-01-15T11:49:14Z */

/* ---- reader helpers ---- */

typedef struct rd {
	FILE *f;
	mtd_reader *r;
	mtd_record rec;
	char err[512];
	char *owned;
} rd;

/* Readers still open when an assertion jumps out of a test (the rd itself
 * lived on that test's stack): closed by the teardown, so that a failure does
 * not also show up as a leak. */
static struct live {
	FILE *f;
	mtd_reader *r;
	char *owned;
} live[4];

static void live_close(struct live *l)
{
	mtd_reader_free(l->r);
	if (l->f)
		fclose(l->f);
	free(l->owned);
	memset(l, 0, sizeof *l);
}

static int rd_teardown(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof live / sizeof *live; i++)
		if (live[i].f)
			live_close(&live[i]);
	return 0;
}

static void rd_open(rd *x, const void *data, size_t len, const char *name)
{
	memset(x, 0, sizeof *x);
	if (len == 0) {
		x->f = fopen("/dev/null", "rb");
	} else {
		/* fmemopen reads from a private copy, so the caller's buffer may go */
		x->owned = malloc(len);
		assert_non_null(x->owned);
		memcpy(x->owned, data, len);
		x->f = fmemopen(x->owned, len, "rb");
	}
	assert_non_null(x->f);
	x->r = mtd_reader_new(x->f, name);
	assert_non_null(x->r);
	for (size_t i = 0; i < sizeof live / sizeof *live; i++)
		if (!live[i].f) {
			live[i].f = x->f;
			live[i].r = x->r;
			live[i].owned = x->owned;
			break;
		}
}

static void rd_close(rd *x)
{
	for (size_t i = 0; i < sizeof live / sizeof *live; i++)
		if (live[i].f == x->f) {
			live_close(&live[i]);
			return;
		}
	mtd_reader_free(x->r);
	fclose(x->f);
	free(x->owned);
}

static int rd_next(rd *x, int parse)
{
	x->err[0] = '\0';
	memset(&x->rec, 0, sizeof x->rec);
	return mtd_reader_next(x->r, &x->rec, parse, x->err, sizeof x->err);
}

/* Expect a good record. */
#define NEXT_OK(x, parse)                                                             \
	do {                                                                          \
		int rc_ = rd_next((x), (parse));                                      \
		if (rc_ != 1)                                                         \
			fail_msg("expected a record, got %d (%s) at %s", rc_, (x)->err,  \
				 mtd_reader_where((x)->r));                           \
	} while (0)

#define NEXT_BAD(x, parse, why, where)                                                \
	do {                                                                          \
		int rc_ = rd_next((x), (parse));                                      \
		if (rc_ != MTD_EMALFORMED)                                            \
			fail_msg("expected MTD_EMALFORMED (%s), got %d", (why), rc_);   \
		assert_contains((x)->err, (why));                                     \
		assert_string_equal(mtd_reader_where((x)->r), (where));               \
		assert_one_line((x)->err);                                            \
	} while (0)

#define NEXT_END(x)                                                                   \
	do {                                                                          \
		int rc_ = rd_next((x), 1);                                            \
		if (rc_ != 0)                                                         \
			fail_msg("expected the end of input, got %d (%s)", rc_, (x)->err); \
	} while (0)

static int str_is(const msgpack_object *o, const char *s)
{
	return o && o->type == MSGPACK_OBJECT_STR && o->via.str.size == strlen(s) &&
	       !memcmp(o->via.str.ptr, s, o->via.str.size);
}

/* ---- JSON lines ---- */

static void json_lines_blank_and_crlf(void **state)
{
	const char in[] = "{\"n\":1}\n"
			  "\n"
			  "{\"n\":2}\r\n"
			  "   \t \r\n"
			  "{\"n\":3}  \n"
			  "{\"n\":4}"; /* no final newline */
	rd x;
	(void)state;

	rd_open(&x, in, sizeof in - 1, "in.jsonl");
	assert_int_equal(mtd_reader_format(x.r), 0);
	NEXT_OK(&x, 1);
	assert_int_equal(mtd_reader_format(x.r), MTD_FMT_JSON);
	assert_int_equal(x.rec.line, 1);
	assert_int_equal(x.rec.offset, 0);
	assert_string_equal(mtd_reader_where(x.r), "in.jsonl line 1");
	assert_int_equal(mtd_map_get(x.rec.obj, "n")->via.u64, 1);
	assert_int_equal(x.rec.raw_len, 7);
	assert_memory_equal(x.rec.raw, "{\"n\":1}", 7);

	NEXT_OK(&x, 1);
	assert_int_equal(x.rec.line, 3);
	assert_string_equal(mtd_reader_where(x.r), "in.jsonl line 3");
	assert_int_equal(x.rec.offset, 9);
	assert_int_equal(x.rec.raw_len, 7); /* CR not part of the record */
	assert_int_equal(mtd_map_get(x.rec.obj, "n")->via.u64, 2);

	NEXT_OK(&x, 1);
	assert_int_equal(x.rec.line, 5);
	assert_string_equal(mtd_reader_where(x.r), "in.jsonl line 5");
	assert_int_equal(mtd_map_get(x.rec.obj, "n")->via.u64, 3);

	NEXT_OK(&x, 1);
	assert_int_equal(x.rec.line, 6);
	assert_int_equal(mtd_map_get(x.rec.obj, "n")->via.u64, 4);
	NEXT_END(&x);
	NEXT_END(&x); /* and stays at the end */
	rd_close(&x);
}

static void json_malformed_line_does_not_stop(void **state)
{
	const char in[] = "{\"n\":1}\n"
			  "{\"n\":\n"
			  "42\n"
			  "\"text\"\n"
			  "{\"n\":2} trailing\n"
			  "{\"n\":3}\n";
	rd x;
	(void)state;

	rd_open(&x, in, sizeof in - 1, "feed.jsonl");
	NEXT_OK(&x, 1);
	/* an open document takes the lines up to the next one: one bad record */
	NEXT_BAD(&x, 1, "not a complete JSON document", "feed.jsonl line 2");
	NEXT_BAD(&x, 1, "trailing characters", "feed.jsonl line 5");
	NEXT_OK(&x, 1);
	assert_int_equal(x.rec.line, 6);
	assert_int_equal(mtd_map_get(x.rec.obj, "n")->via.u64, 3);
	NEXT_END(&x);
	rd_close(&x);
}

static void json_leading_whitespace(void **state)
{
	/* Whitespace before a JSON value is still JSON (RFC 8259 "ws value"). */
	const char in[] = "  {\"n\":1}\n\t{\"n\":2}\n";
	rd x;
	(void)state;

	rd_open(&x, in, sizeof in - 1, "ws.jsonl");
	NEXT_OK(&x, 1);
	assert_int_equal(mtd_map_get(x.rec.obj, "n")->via.u64, 1);
	NEXT_OK(&x, 1);
	assert_int_equal(mtd_map_get(x.rec.obj, "n")->via.u64, 2);
	NEXT_END(&x);
	rd_close(&x);
}

static void json_frame_only(void **state)
{
	const char in[] = "not json at all\n{\"n\":1}\n";
	rd x;
	(void)state;

	rd_open(&x, in, sizeof in - 1, "raw");
	NEXT_OK(&x, 0);
	assert_null(x.rec.obj);
	assert_int_equal(x.rec.raw_len, 15);
	assert_memory_equal(x.rec.raw, "not json at all", 15);
	assert_int_equal(x.rec.index, 1);
	NEXT_OK(&x, 0);
	assert_null(x.rec.obj);
	assert_int_equal(x.rec.offset, 16);
	assert_int_equal(x.rec.index, 2);
	NEXT_END(&x);
	rd_close(&x);
}

/* Pretty-printed documents (jq ., the Graph explorer), one after another:
 * each is a record, positioned at the line where it starts. */
static void json_pretty_documents(void **state)
{
	const char in[] = "{\n"
			  "  \"n\": 1,\n"
			  "  \"s\": \"a } ] { [\",\n"
			  "  \"o\": {\n"
			  "    \"value\": [\n"
			  "      {\"x\": 1}\n"
			  "    ]\n"
			  "  }\n"
			  "}\n"
			  "{\n"
			  "  \"n\": 2\n"
			  "}{\"n\":3}  {\"n\":4}\n"
			  "\n"
			  "{\n"
			  "  \"n\": \"broken\",\n"
			  "{\n"
			  "  \"n\": 5\n"
			  "}\n"
			  "{\"n\": 6\n";
	rd x;
	(void)state;

	rd_open(&x, in, sizeof in - 1, "page.json");
	NEXT_OK(&x, MTD_READ_TREE);
	assert_int_equal(mtd_reader_format(x.r), MTD_FMT_JSON);
	assert_string_equal(mtd_reader_where(x.r), "page.json line 1");
	assert_int_equal(mtd_map_get(x.rec.obj, "n")->via.u64, 1);
	assert_true(str_is(mtd_map_get(x.rec.obj, "s"), "a } ] { ["));
	assert_int_equal(x.rec.offset, 0);
	NEXT_OK(&x, MTD_READ_TREE);
	assert_string_equal(mtd_reader_where(x.r), "page.json line 10");
	assert_int_equal(x.rec.line, 10);
	assert_int_equal(mtd_map_get(x.rec.obj, "n")->via.u64, 2);
	NEXT_OK(&x, MTD_READ_TREE);
	assert_string_equal(mtd_reader_where(x.r), "page.json line 12");
	assert_int_equal(mtd_map_get(x.rec.obj, "n")->via.u64, 3);
	NEXT_OK(&x, MTD_READ_TREE);
	assert_int_equal(mtd_map_get(x.rec.obj, "n")->via.u64, 4);
	NEXT_BAD(&x, MTD_READ_TREE, "not a complete JSON document", "page.json line 14");
	NEXT_OK(&x, MTD_READ_TREE);
	assert_string_equal(mtd_reader_where(x.r), "page.json line 16");
	assert_int_equal(mtd_map_get(x.rec.obj, "n")->via.u64, 5);
	NEXT_BAD(&x, MTD_READ_TREE, "ends inside", "page.json line 19");
	NEXT_END(&x);
	rd_close(&x);

	/* framed only, a document's bytes are handed on as they are */
	rd_open(&x, in, sizeof in - 1, "page.json");
	NEXT_OK(&x, MTD_READ_FRAME);
	assert_int_equal(x.rec.raw_len, (size_t)(strstr(in, "}\n{\n  \"n\": 2") - in + 1));
	assert_memory_equal(x.rec.raw, in, x.rec.raw_len);
	rd_close(&x);
}

/* A top-level array: each element is a record, positioned by its index;
 * an array inside a document stays part of it. */
static void json_array_of_records(void **state)
{
	const char in[] = "\xef\xbb\xbf[\n"
			  "  {\"n\": 0},\n"
			  "  {\n"
			  "    \"n\": 1, \"a\": [1, 2]\n"
			  "  },\n"
			  "  42,\n"
			  "  {\"n\": 3}\n"
			  "]\n"
			  "[{\"n\": 0}, {\"n\": 1},]\n"
			  "[{\"n\": 7} {\"n\": 8}]\n";
	rd x;
	(void)state;

	rd_open(&x, in, sizeof in - 1, "list.json");
	NEXT_OK(&x, MTD_READ_TREE);
	assert_string_equal(mtd_reader_where(x.r), "list.json [0] (line 2)");
	assert_int_equal(mtd_map_get(x.rec.obj, "n")->via.u64, 0);
	assert_int_equal(x.rec.raw_len, 8);
	NEXT_OK(&x, MTD_READ_TREE);
	assert_string_equal(mtd_reader_where(x.r), "list.json [1] (line 3)");
	assert_int_equal(mtd_map_get(x.rec.obj, "a")->via.array.size, 2);
	NEXT_BAD(&x, MTD_READ_TREE, "not a JSON value", "list.json [2] (line 6)");
	NEXT_OK(&x, MTD_READ_TREE);
	assert_string_equal(mtd_reader_where(x.r), "list.json [3] (line 7)");
	NEXT_OK(&x, MTD_READ_TREE);
	assert_string_equal(mtd_reader_where(x.r), "list.json [0] (line 9)");
	NEXT_OK(&x, MTD_READ_TREE);
	assert_string_equal(mtd_reader_where(x.r), "list.json [1] (line 9)");
	NEXT_BAD(&x, MTD_READ_TREE, "','", "list.json [2] (line 9)");
	NEXT_OK(&x, MTD_READ_TREE);
	assert_int_equal(mtd_map_get(x.rec.obj, "n")->via.u64, 7);
	NEXT_BAD(&x, MTD_READ_TREE, "expected ',' or ']'", "list.json [1] (line 10)");
	/* then read as documents: {"n": 8}] has trailing characters */
	NEXT_BAD(&x, MTD_READ_TREE, "trailing", "list.json line 10");
	NEXT_END(&x);
	rd_close(&x);

	/* JSON lines whose first record is a document: a later array is one
	 * record, as before */
	rd_open(&x, "{\"n\":1}\n[1,2,3]\n", 16, "l.jsonl");
	NEXT_OK(&x, MTD_READ_FRAME);
	NEXT_OK(&x, MTD_READ_FRAME);
	assert_int_equal(x.rec.raw_len, 7);
	assert_string_equal(mtd_reader_where(x.r), "l.jsonl line 2");
	NEXT_END(&x);
	rd_close(&x);

	/* not closed */
	rd_open(&x, "[{\"n\":1},\n{\"n\":2}", 17, "cut.json");
	NEXT_OK(&x, MTD_READ_TREE);
	NEXT_OK(&x, MTD_READ_TREE);
	assert_string_equal(mtd_reader_where(x.r), "cut.json [1] (line 2)");
	NEXT_BAD(&x, MTD_READ_TREE, "no ']'", "cut.json [2] (line 2)");
	NEXT_END(&x);
	rd_close(&x);
}

/* An array far larger than a record is read element by element, within
 * the reader's bounded buffer; an element over the limit costs itself. */
static void json_huge_array_streamed(void **state)
{
	mtd_buf b = {0};
	const size_t nel = 60000; /* ~2.4 MB of elements */
	char el[64];
	size_t big_at = 30000, k = 0;
	rd x;
	(void)state;

	assert_int_equal(mtd_buf_put(&b, "[", 1), 0);
	for (size_t i = 0; i < nel; i++) {
		int l = snprintf(el, sizeof el, "%s{\"n\":%zu,\"pad\":\"0123456789\"}", i ? ",\n" : "", i);
		assert_int_equal(mtd_buf_put(&b, el, (size_t)l), 0);
		if (i == big_at) { /* an element of 1 MiB + 100 bytes */
			assert_int_equal(mtd_buf_put(&b, ",{\"s\":\"", 7), 0);
			assert_int_equal(mtd_buf_room(&b, MTD_MAX_RECORD + 100), 0);
			memset(b.data + b.len, 'x', MTD_MAX_RECORD + 100);
			b.len += MTD_MAX_RECORD + 100;
			assert_int_equal(mtd_buf_put(&b, "\"}", 2), 0);
		}
	}
	assert_int_equal(mtd_buf_put(&b, "]\n", 2), 0);
	rd_open(&x, b.data, b.len, "huge.json");
	mtd_buf_free(&b);
	for (size_t i = 0; i < nel; i++, k++) {
		NEXT_OK(&x, MTD_READ_TREE);
		assert_int_equal(mtd_map_get(x.rec.obj, "n")->via.u64, i);
		if (i == big_at) {
			char where[64];
			snprintf(where, sizeof where, "huge.json [%zu] (line %zu)", big_at + 1,
				 big_at + 1);
			NEXT_BAD(&x, MTD_READ_TREE, "exceeds", where);
			k++;
		}
	}
	NEXT_END(&x);
	assert_int_equal(k, nel + 1);
	rd_close(&x);
}

/* text/event-stream: data lines joined, other fields, comments and
 * keep-alives skipped, each event positioned by its number. */
static void sse_stream(void **state)
{
	const char in[] = ": connected\n"
			  "\n"
			  "event: events\n"
			  "id: 17\n"
			  "data: {\"events\":[{\"n\":1},\n"
			  "data: {\"n\":2}]}\n"
			  "\n"
			  ":keep-alive\n"
			  "\n"
			  "retry: 5000\n"
			  "\n"
			  "data:{\"n\":3}\r\n"
			  "\r\n"
			  "data: not json\n"
			  "\n"
			  "event: heartbeat\n"
			  "data:\n"
			  "\n"
			  "data: {\"n\":4}\n"; /* no blank line at the end */
	rd x;
	(void)state;

	rd_open(&x, in, sizeof in - 1, "stream.sse");
	NEXT_OK(&x, MTD_READ_TREE);
	assert_int_equal(mtd_reader_format(x.r), MTD_FMT_SSE);
	assert_string_equal(mtd_reader_where(x.r), "stream.sse event 1 (line 5)");
	assert_int_equal(x.rec.raw_len, strlen("{\"events\":[{\"n\":1},\n{\"n\":2}]}"));
	assert_memory_equal(x.rec.raw, "{\"events\":[{\"n\":1},\n{\"n\":2}]}", x.rec.raw_len);
	assert_int_equal(mtd_map_get(x.rec.obj, "events")->via.array.size, 2);
	NEXT_OK(&x, MTD_READ_TREE);
	assert_string_equal(mtd_reader_where(x.r), "stream.sse event 2 (line 12)");
	assert_int_equal(mtd_map_get(x.rec.obj, "n")->via.u64, 3);
	NEXT_BAD(&x, MTD_READ_TREE, "not a JSON value", "stream.sse event 3 (line 14)");
	NEXT_OK(&x, MTD_READ_TREE);
	assert_string_equal(mtd_reader_where(x.r), "stream.sse event 4 (line 19)");
	assert_int_equal(mtd_map_get(x.rec.obj, "n")->via.u64, 4);
	NEXT_END(&x);
	rd_close(&x);

	/* framed only, an event's data goes to the plugin as it is */
	rd_open(&x, "data: hello\ndata: world\n\n", 25, "s");
	NEXT_OK(&x, MTD_READ_FRAME);
	assert_int_equal(x.rec.raw_len, 11);
	assert_memory_equal(x.rec.raw, "hello\nworld", 11);
	NEXT_END(&x);
	rd_close(&x);
}

/* An event's data over the limit costs that event only. */
static void sse_oversized_event(void **state)
{
	mtd_buf b = {0};
	rd x;
	(void)state;
	assert_int_equal(mtd_buf_put(&b, "data: {\"n\":1}\n\ndata: \"", 22), 0);
	for (int i = 0; i < 3; i++) { /* three lines of 400 KiB: too much together */
		assert_int_equal(mtd_buf_room(&b, 400 * 1024 + 8), 0);
		memset(b.data + b.len, 'x', 400 * 1024);
		b.len += 400 * 1024;
		assert_int_equal(mtd_buf_put(&b, "\ndata: ", 7), 0);
	}
	assert_int_equal(mtd_buf_put(&b, "\"\n\ndata: {\"n\":2}\n\n", 19), 0);
	rd_open(&x, b.data, b.len, "big.sse");
	mtd_buf_free(&b);
	NEXT_OK(&x, MTD_READ_TREE);
	NEXT_BAD(&x, MTD_READ_TREE, "exceeds", "big.sse event 2 (line 3)");
	NEXT_OK(&x, MTD_READ_TREE);
	assert_int_equal(mtd_map_get(x.rec.obj, "n")->via.u64, 2);
	assert_string_equal(mtd_reader_where(x.r), "big.sse event 3 (line 8)");
	NEXT_END(&x);
	rd_close(&x);
}

static char *long_line_input(size_t body, size_t *len)
{
	/* {"n":1}\n{"s":"xxxx...x"}\n{"n":3}\n with a string of body bytes */
	const char *a = "{\"n\":1}\n{\"s\":\"", *b = "\"}\n{\"n\":3}\n";
	size_t la = strlen(a), lb = strlen(b);
	char *s = malloc(la + body + lb);
	assert_non_null(s);
	memcpy(s, a, la);
	memset(s + la, 'x', body);
	memcpy(s + la + body, b, lb);
	*len = la + body + lb;
	return s;
}

static void json_overlong_line(void **state)
{
	size_t len;
	char *in = long_line_input(MTD_MAX_RECORD + 10, &len);
	rd x;
	(void)state;

	rd_open(&x, in, len, "big.jsonl");
	free(in);
	NEXT_OK(&x, 1);
	NEXT_BAD(&x, 1, "exceeds", "big.jsonl line 2");
	NEXT_OK(&x, 1);
	assert_int_equal(x.rec.line, 3);
	assert_int_equal(mtd_map_get(x.rec.obj, "n")->via.u64, 3);
	NEXT_END(&x);
	rd_close(&x);

	/* several times the limit, and as the last line without a newline */
	in = long_line_input(3 * MTD_MAX_RECORD, &len);
	rd_open(&x, in, len - strlen("\n{\"n\":3}\n"), "big2.jsonl");
	free(in);
	NEXT_OK(&x, 1);
	NEXT_BAD(&x, 1, "exceeds", "big2.jsonl line 2");
	NEXT_END(&x);
	rd_close(&x);
}

static void json_large_line_within_limit(void **state)
{
	size_t len;
	char *in = long_line_input(1000 * 1000, &len);
	rd x;
	(void)state;

	rd_open(&x, in, len, "large.jsonl");
	free(in);
	NEXT_OK(&x, 1);
	NEXT_OK(&x, 1);
	assert_int_equal(mtd_map_get(x.rec.obj, "s")->via.str.size, 1000 * 1000);
	NEXT_OK(&x, 1);
	NEXT_END(&x);
	rd_close(&x);
}

/* The limit is inclusive: a record of exactly MTD_MAX_RECORD bytes (README
 * "Limits on input": 1 MiB) is read, one byte more is refused. */
static void json_line_at_limit(void **state)
{
	size_t len;
	/* {"n":1}\n{"s":"x...x"}\n{"n":3}\n: the middle line is body + 8 bytes */
	char *in = long_line_input(MTD_MAX_RECORD - 8, &len);
	rd x;
	(void)state;

	rd_open(&x, in, len, "limit.jsonl");
	free(in);
	NEXT_OK(&x, 1);
	NEXT_OK(&x, 1);
	assert_int_equal(x.rec.raw_len, MTD_MAX_RECORD);
	NEXT_OK(&x, 1);
	NEXT_END(&x);
	rd_close(&x);

	in = long_line_input(MTD_MAX_RECORD - 7, &len);
	rd_open(&x, in, len, "limit.jsonl");
	free(in);
	NEXT_OK(&x, 1);
	NEXT_BAD(&x, 1, "exceeds", "limit.jsonl line 2");
	NEXT_OK(&x, 1);
	NEXT_END(&x);
	rd_close(&x);
}

/* Long runs of blank lines: before the first record (while the format is
 * being detected) and between records. Neither may fail, loop or grow the
 * stack per line. 2,000,000 blank lines is twice the record limit. */
static int blank_lines_child(void *arg)
{
	int before = *(const int *)arg;
	size_t nblank = 2u * 1000 * 1000, len = 0;
	char *in = malloc(nblank + 32);
	rd x;
	int rc, ok = 1;
	if (!in)
		return 2;
	if (!before) {
		memcpy(in, "{\"n\":0}\n", 8);
		len = 8;
	}
	memset(in + len, '\n', nblank);
	len += nblank;
	memcpy(in + len, "{\"n\":1}\n", 8);
	len += 8;
	rd_open(&x, in, len, "blank.jsonl");
	free(in);
	if (!before)
		ok = rd_next(&x, 1) == 1 && x.rec.line == 1;
	rc = rd_next(&x, 1);
	ok = ok && rc == 1 && x.rec.line == nblank + (before ? 1 : 2) &&
	     mtd_map_get(x.rec.obj, "n")->via.u64 == 1;
	ok = ok && rd_next(&x, 1) == 0;
	rd_close(&x);
	return ok ? 0 : 3;
}

static void json_many_blank_lines_first(void **state)
{
	int before = 1;
	(void)state;
	assert_child_ok(tu_run_child(blank_lines_child, &before, 20),
			"2,000,000 blank lines, then a record");
}

static void json_many_blank_lines_between(void **state)
{
	int before = 0;
	(void)state;
	assert_child_ok(tu_run_child(blank_lines_child, &before, 20),
			"a record, 2,000,000 blank lines, then a record");
}

static void empty_input(void **state)
{
	rd x;
	(void)state;
	rd_open(&x, "", 0, "empty");
	NEXT_END(&x);
	rd_close(&x);
	rd_open(&x, " \n\r\n\t\n", 6, "blank");
	NEXT_END(&x);
	rd_close(&x);
}

/* ---- msgpack streams ---- */

typedef struct mp {
	msgpack_sbuffer sb;
	msgpack_packer pk;
} mp;

static void mp_init(mp *m)
{
	msgpack_sbuffer_init(&m->sb);
	msgpack_packer_init(&m->pk, &m->sb, msgpack_sbuffer_write);
}

static void mp_str(mp *m, const char *s)
{
	msgpack_pack_str(&m->pk, strlen(s));
	msgpack_pack_str_body(&m->pk, s, strlen(s));
}

/* {"type":"heartbeat","at":T_REF+i,"pad":"..."} */
static void mp_record(mp *m, int i)
{
	msgpack_pack_map(&m->pk, 3);
	mp_str(m, "type");
	mp_str(m, "heartbeat");
	mp_str(m, "at");
	msgpack_pack_int64(&m->pk, T_REF + i);
	mp_str(m, "pad");
	mp_str(m, i % 2 ? "odd" : "an even record with a longer padding string");
}

static void msgpack_record_at_limit(void **state)
{
	mp m;
	rd x;
	size_t body;
	char *s;
	(void)state;

	/* {"s":"x...x"}: 1 + 2 + 5 (str32 header) + body bytes */
	body = MTD_MAX_RECORD - 8;
	s = malloc(body);
	assert_non_null(s);
	memset(s, 'x', body);
	mp_init(&m);
	msgpack_pack_map(&m.pk, 1);
	mp_str(&m, "s");
	msgpack_pack_str(&m.pk, body);
	msgpack_pack_str_body(&m.pk, s, body);
	assert_int_equal(m.sb.size, MTD_MAX_RECORD);
	mp_record(&m, 1);
	rd_open(&x, m.sb.data, m.sb.size, "limit.mp");
	NEXT_OK(&x, 1);
	assert_int_equal(x.rec.raw_len, MTD_MAX_RECORD);
	NEXT_OK(&x, 1);
	NEXT_END(&x);
	rd_close(&x);
	msgpack_sbuffer_destroy(&m.sb);
	free(s);
}

static void msgpack_stream_positions(void **state)
{
	mp m;
	size_t offs[4];
	rd x;
	char where[128];
	(void)state;

	mp_init(&m);
	for (int i = 0; i < 4; i++) {
		offs[i] = m.sb.size;
		mp_record(&m, i);
	}
	rd_open(&x, m.sb.data, m.sb.size, "feed.mp");
	for (int i = 0; i < 4; i++) {
		NEXT_OK(&x, 1);
		assert_int_equal(mtd_reader_format(x.r), MTD_FMT_MSGPACK);
		assert_int_equal(x.rec.index, (uint64_t)i + 1);
		assert_int_equal(x.rec.offset, offs[i]);
		assert_int_equal(x.rec.line, 0);
		assert_int_equal(x.rec.raw_len, (i < 3 ? offs[i + 1] : m.sb.size) - offs[i]);
		assert_memory_equal(x.rec.raw, m.sb.data + offs[i], x.rec.raw_len);
		assert_int_equal(mtd_map_get(x.rec.obj, "at")->via.u64, (uint64_t)(T_REF + i));
		snprintf(where, sizeof where, "feed.mp record %d (byte %zu)", i + 1, offs[i]);
		assert_string_equal(mtd_reader_where(x.r), where);
	}
	NEXT_END(&x);
	rd_close(&x);
	msgpack_sbuffer_destroy(&m.sb);
}

static void msgpack_truncated_last_record(void **state)
{
	mp m;
	size_t third;
	char where[128];
	rd x;
	(void)state;

	mp_init(&m);
	mp_record(&m, 0);
	mp_record(&m, 1);
	third = m.sb.size;
	mp_record(&m, 2);
	/* cut the third record at every possible point */
	for (size_t cut = third + 1; cut < m.sb.size; cut++) {
		rd_open(&x, m.sb.data, cut, "cut.mp");
		NEXT_OK(&x, 1);
		NEXT_OK(&x, 1);
		snprintf(where, sizeof where, "cut.mp record 3 (byte %zu)", third);
		NEXT_BAD(&x, 1, "truncated", where);
		NEXT_END(&x);
		rd_close(&x);
	}
	msgpack_sbuffer_destroy(&m.sb);
}

static void msgpack_hostile_header(void **state)
{
	static const unsigned char hdr[][5] = {
		{0xdd, 0xff, 0xff, 0xff, 0xff}, /* array32 of 2^32 - 1 */
		{0xdf, 0xff, 0xff, 0xff, 0xff}, /* map32 of 2^32 - 1 */
		{0xdb, 0xff, 0xff, 0xff, 0xff}, /* str32 of 4 GiB */
		{0xc6, 0xff, 0xff, 0xff, 0xff}, /* bin32 of 4 GiB */
	};
	mp m;
	char where[128];
	rd x;
	(void)state;

	for (size_t i = 0; i < sizeof hdr / sizeof *hdr; i++) {
		size_t first;
		mp_init(&m);
		mp_record(&m, 0);
		first = m.sb.size;
		msgpack_sbuffer_write(&m.sb, (const char *)hdr[i], 5);
		mp_record(&m, 1); /* unreachable: the stream cannot resynchronize */
		rd_open(&x, m.sb.data, m.sb.size, "evil.mp");
		NEXT_OK(&x, 1);
		snprintf(where, sizeof where, "evil.mp record 2 (byte %zu)", first);
		if (rd_next(&x, 1) != MTD_EMALFORMED)
			fail_msg("hostile header %zu not refused", i);
		assert_string_equal(mtd_reader_where(x.r), where);
		assert_one_line(x.err);
		NEXT_END(&x);
		rd_close(&x);
		msgpack_sbuffer_destroy(&m.sb);
	}

	/* alone, as the whole input */
	rd_open(&x, hdr[0], 5, "evil.mp");
	NEXT_BAD(&x, 1, "", "evil.mp record 1 (byte 0)");
	NEXT_END(&x);
	rd_close(&x);

	/* a claim the limit allows but the input does not hold: truncated */
	{
		static const unsigned char big[] = {0xdd, 0x00, 0x0f, 0xff, 0xff, 0x01, 0x02};
		rd_open(&x, big, sizeof big, "short.mp");
		NEXT_BAD(&x, 1, "truncated", "short.mp record 1 (byte 0)");
		NEXT_END(&x);
		rd_close(&x);
	}
}

static void msgpack_depth_and_garbage(void **state)
{
	mp m;
	rd x;
	size_t r3, r4;
	char where[96];
	(void)state;

	/* 32 nested arrays: fine */
	mp_init(&m);
	for (int i = 0; i < MTD_SDK_MAX_DEPTH; i++)
		msgpack_pack_array(&m.pk, i == MTD_SDK_MAX_DEPTH - 1 ? 0 : 1);
	mp_record(&m, 1);
	rd_open(&x, m.sb.data, m.sb.size, "deep.mp");
	NEXT_OK(&x, 1);
	NEXT_OK(&x, 1);
	NEXT_END(&x);
	rd_close(&x);
	msgpack_sbuffer_destroy(&m.sb);

	/* 33, and 100,000: refused, skipped by their extent (19.6), and the
	 * record after them read */
	mp_init(&m);
	mp_record(&m, 0);
	for (int i = 0; i < MTD_SDK_MAX_DEPTH + 1; i++)
		msgpack_pack_array(&m.pk, i == MTD_SDK_MAX_DEPTH ? 0 : 1);
	r3 = m.sb.size;
	for (int i = 0; i < 100000; i++)
		msgpack_pack_array(&m.pk, i == 99999 ? 0 : 1);
	r4 = m.sb.size;
	mp_record(&m, 1);
	rd_open(&x, m.sb.data, m.sb.size, "deeper.mp");
	NEXT_OK(&x, 1);
	if (rd_next(&x, 1) != MTD_EMALFORMED)
		fail_msg("msgpack nested %d deep accepted", MTD_SDK_MAX_DEPTH + 1);
	assert_contains(x.err, "nested deeper than 32 levels: skipped");
	snprintf(where, sizeof where, "deeper.mp record 3 (byte %zu)", r3);
	NEXT_BAD(&x, 1, "nested deeper", where);
	NEXT_OK(&x, 1);
	snprintf(where, sizeof where, "deeper.mp record 4 (byte %zu)", r4);
	assert_string_equal(mtd_reader_where(x.r), where);
	NEXT_END(&x);
	rd_close(&x);
	msgpack_sbuffer_destroy(&m.sb);

	/* 0xc1 (never used) after a good record */
	mp_init(&m);
	mp_record(&m, 0);
	msgpack_sbuffer_write(&m.sb, "\xc1", 1);
	mp_record(&m, 1);
	rd_open(&x, m.sb.data, m.sb.size, "junk.mp");
	NEXT_OK(&x, 1);
	if (rd_next(&x, 1) != MTD_EMALFORMED)
		fail_msg("0xc1 accepted as msgpack");
	assert_contains(x.err, "msgpack");
	NEXT_END(&x);
	rd_close(&x);
	msgpack_sbuffer_destroy(&m.sb);
}

static void format_detection(void **state)
{
	rd x;
	mp m;
	(void)state;

	/* leading blank lines, then JSON */
	rd_open(&x, "\n\n{\"a\":1}\n", 10, "j");
	NEXT_OK(&x, 1);
	assert_int_equal(mtd_reader_format(x.r), MTD_FMT_JSON);
	assert_int_equal(x.rec.line, 3);
	rd_close(&x);

	/* an empty map is a msgpack record */
	rd_open(&x, "\x80\x80", 2, "m");
	NEXT_OK(&x, 1);
	assert_int_equal(mtd_reader_format(x.r), MTD_FMT_MSGPACK);
	assert_int_equal(x.rec.obj->type, MSGPACK_OBJECT_MAP);
	NEXT_OK(&x, 1);
	NEXT_END(&x);
	rd_close(&x);

	/* an array16 header starts msgpack too */
	mp_init(&m);
	msgpack_pack_array(&m.pk, 20);
	for (int i = 0; i < 20; i++)
		msgpack_pack_int(&m.pk, i);
	rd_open(&x, m.sb.data, m.sb.size, "a");
	NEXT_OK(&x, 1);
	assert_int_equal(mtd_reader_format(x.r), MTD_FMT_MSGPACK);
	assert_int_equal(x.rec.obj->via.array.size, 20);
	rd_close(&x);
	msgpack_sbuffer_destroy(&m.sb);
}

/* ---- decoders ---- */

/* A msgpack object from JSON text written with ' for " (kept until the next
 * call). */
static struct {
	msgpack_zone z;
	mtd_buf b;
	msgpack_object o;
	int live;
} J_;

static const msgpack_object *J(const char *text)
{
	char *t = strdup(text), err[256];
	json_t *v;
	size_t off = 0;
	for (char *p = t; *p; p++)
		if (*p == '\'')
			*p = '"';
	if (J_.live)
		msgpack_zone_destroy(&J_.z);
	J_.b.len = 0;
	v = mtd_sdk_parse(t, strlen(t), err, sizeof err);
	if (!v)
		fail_msg("bad test JSON %s: %s", t, err);
	free(t);
	assert_int_equal(mtd_sdk_json_to_msgpack(v, &J_.b), 0);
	json_decref(v);
	msgpack_zone_init(&J_.z, 1024);
	J_.live = 1;
	assert_int_equal(msgpack_unpack((const char *)J_.b.data, J_.b.len, &off, &J_.z, &J_.o),
			 MSGPACK_UNPACK_SUCCESS);
	return &J_.o;
}

static int J_teardown(void **state)
{
	(void)state;
	if (J_.live)
		msgpack_zone_destroy(&J_.z);
	J_.live = 0;
	mtd_buf_free(&J_.b);
	return 0;
}

static char err_[512];

static void msg_bad(const char *json, const char *why)
{
	mtd_msg m;
	err_[0] = '\0';
	J(json);
	if (mtd_decode_msg(J_.b.data, J_.b.len, &m, err_, sizeof err_) != MTD_EMALFORMED)
		fail_msg("message accepted: %s (expected: %s)", json, why);
	assert_contains(err_, why);
	assert_one_line(err_);
}

static void msg_ok(const char *json, mtd_msg *m)
{
	err_[0] = '\0';
	J(json);
	if (mtd_decode_msg(J_.b.data, J_.b.len, m, err_, sizeof err_) != 0)
		fail_msg("message refused: %s: %s", json, err_);
}

#define DEV_BASE_ "'id':'dev-1','platform':'ios','ownership':'corporate','management':'enrolled'"
#define THREAT_OK "{'type':'threat','device':'d1','level':'high','at':'2025-01-15T11:49:14Z'"

static void decode_msg_valid(void **state)
{
	mtd_msg m;
	(void)state;

	msg_ok(THREAT_OK ",'threats':[{'id':'t1','category':'app','name':'Bad app','level':'high'},"
			 "{'category':'network','level':'low'}],'os_supported':true,'extra':1}",
	       &m);
	assert_int_equal(m.type, MTD_MSG_THREAT);
	assert_int_equal(m.at, T_REF);
	assert_int_equal(m.device.n, 2);
	assert_memory_equal(m.device.p, "d1", 2);
	assert_int_equal(m.level, MTD_LEVEL_HIGH);
	assert_int_equal(m.os_supported, 1);
	assert_non_null(m.threats);
	assert_int_equal(m.nthreats, 2);

	msg_ok(THREAT_OK "}", &m);
	assert_null(m.threats);
	assert_int_equal(m.os_supported, -1);
	msg_ok(THREAT_OK ",'threats':null,'os_supported':null}", &m);
	assert_null(m.threats);
	assert_int_equal(m.os_supported, -1);
	msg_ok(THREAT_OK ",'os_supported':false,'threats':[]}", &m);
	assert_int_equal(m.os_supported, 0);

	msg_ok("{'type':'heartbeat','at':1736941754}", &m);
	assert_int_equal(m.type, MTD_MSG_HEARTBEAT);
	assert_int_equal(m.at, T_REF);
	msg_ok("{'type':'provision','at':'2025-01-15 12:49:14 +0100'}", &m);
	assert_int_equal(m.type, MTD_MSG_PROVISION);
	assert_int_equal(m.at, T_REF);
	msg_ok("{'type':'appsync_request','at':0}", &m);
	assert_int_equal(m.type, MTD_MSG_APPSYNC_REQUEST);
	assert_int_equal(m.at, 0);
	msg_ok("{'type':'error','code':'E_AUTH_FAILED','at':'2025-01-15T11:49:14Z'}", &m);
	assert_int_equal(m.type, MTD_MSG_ERROR);
	assert_int_equal(m.code.n, 13);
	assert_memory_equal(m.code.p, "E_AUTH_FAILED", 13);
	/* a heartbeat does not care about threat fields */
	msg_ok("{'type':'heartbeat','at':1,'level':'severe','device':5}", &m);

	assert_string_equal(mtd_msg_type_name(MTD_MSG_THREAT), "threat");
	assert_string_equal(mtd_msg_type_name(MTD_MSG_APPSYNC_REQUEST), "appsync_request");
	assert_string_equal(mtd_msg_type_name(0), "?");
	assert_string_equal(mtd_msg_type_name(99), "?");
}

static char json_buf_[1024];

/* device_ref (SPEC 4.1 extension): any message naming a device may name it
 * by identifiers instead of "device". */
static void decode_msg_device_ref(void **state)
{
	mtd_msg m;
	(void)state;

	msg_ok("{'type':'threat','device_ref':{'vendor_device_id':'g-1','serial':'S1',"
	       "'platform':'ios'},'level':'low','at':1}",
	       &m);
	assert_int_equal(m.type, MTD_MSG_THREAT);
	assert_null(m.device.p);
	assert_int_equal(m.refs, 1u << MTD_REF_VENDOR | 1u << MTD_REF_SERIAL);
	assert_int_equal(m.ref_platform, MTD_PLAT_IOS);
	assert_int_equal(m.ref[MTD_REF_VENDOR].n, 3);
	assert_memory_equal(m.ref[MTD_REF_VENDOR].p, "g-1", 3);
	assert_memory_equal(m.ref[MTD_REF_SERIAL].p, "S1", 2);
	assert_int_equal(m.level, MTD_LEVEL_LOW);

	/* every kind, in resolution order; the names round-trip */
	msg_ok("{'type':'threat','level':'low','at':1,'device_ref':{'intune':'a','entra':'b',"
	       "'udid':'c','serial':'d','imei':'e','meid':'f','mdm':'g','wifi_mac':'h',"
	       "'vendor_device_id':'i','user':'j@example.com','platform':'android'}}",
	       &m);
	assert_int_equal(m.refs, (1u << MTD_NREF) - 1);
	for (int k = 0; k < MTD_NREF - 1; k++) {
		assert_int_equal(m.ref[k].n, 1);
		assert_int_equal(m.ref[k].p[0], 'a' + k);
	}
	assert_string_equal(mtd_ref_name(MTD_REF_INTUNE), "intune");
	assert_string_equal(mtd_ref_name(MTD_REF_VENDOR), "vendor_device_id");
	assert_string_equal(mtd_ref_name(MTD_REF_USER), "user");
	assert_string_equal(mtd_ref_name(MTD_NREF), "?");

	/* a message naming "device" has no refs, and a null device_ref is absent */
	msg_ok(THREAT_OK ",'device_ref':null}", &m);
	assert_int_equal(m.refs, 0);
	assert_int_equal(m.ref_platform, -1);
	msg_ok("{'type':'threat','device':null,'device_ref':{'imei':'35'},'level':'low','at':1}",
	       &m);
	assert_int_equal(m.refs, 1u << MTD_REF_IMEI);
	/* messages that name no device do not look at it */
	msg_ok("{'type':'heartbeat','at':1,'device_ref':5}", &m);

	msg_bad(THREAT_OK ",'device_ref':{'serial':'S1'}}", "not both");
	msg_bad("{'type':'threat','device_ref':{},'level':'low','at':1}", "no identifier");
	msg_bad("{'type':'threat','device_ref':{'platform':'ios'},'level':'low','at':1}",
		"no identifier");
	msg_bad("{'type':'threat','device_ref':{'serial':'S1','color':'red'},'level':'low','at':1}",
		"unknown identifier kind 'color'");
	msg_bad("{'type':'threat','device_ref':{'vendor:lookout':'x'},'level':'low','at':1}",
		"unknown identifier kind");
	msg_bad("{'type':'threat','device_ref':{'serial':''},'level':'low','at':1}",
		"'device_ref.serial': empty");
	msg_bad("{'type':'threat','device_ref':{'serial':null},'level':'low','at':1}",
		"'device_ref.serial': missing");
	msg_bad("{'type':'threat','device_ref':{'serial':7},'level':'low','at':1}",
		"'device_ref.serial': not a string");
	{ /* duplicate keys (JSON parsing keeps one: msgpack written by hand) */
		static const char *const dups[] = {"imei", "platform"};
		for (int i = 0; i < 2; i++) {
			msgpack_sbuffer sb;
			msgpack_packer pk;
			char why[256] = "";
			msgpack_sbuffer_init(&sb);
			msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
			msgpack_pack_map(&pk, 4);
			msgpack_pack_str_with_body(&pk, "type", 4);
			msgpack_pack_str_with_body(&pk, "threat", 6);
			msgpack_pack_str_with_body(&pk, "level", 5);
			msgpack_pack_str_with_body(&pk, "low", 3);
			msgpack_pack_str_with_body(&pk, "at", 2);
			msgpack_pack_int(&pk, 1);
			msgpack_pack_str_with_body(&pk, "device_ref", 10);
			msgpack_pack_map(&pk, 3);
			msgpack_pack_str_with_body(&pk, "serial", 6);
			msgpack_pack_str_with_body(&pk, "S", 1);
			for (int k = 0; k < 2; k++) {
				msgpack_pack_str_with_body(&pk, dups[i], strlen(dups[i]));
				msgpack_pack_str_with_body(&pk, "ios", 3);
			}
			assert_int_equal(mtd_decode_msg(sb.data, sb.size, &m, why, sizeof why),
					 MTD_EMALFORMED);
			assert_contains(why, "duplicate key");
			msgpack_sbuffer_destroy(&sb);
		}
	}
	msg_bad("{'type':'threat','device_ref':{'serial':'S1','platform':'tizen'},'level':'low',"
		"'at':1}",
		"tizen");
	msg_bad("{'type':'threat','device_ref':{'user':'a@b.c'},'level':'low','at':1}",
		"needs 'platform'");
	msg_bad("{'type':'threat','device_ref':['serial','S1'],'level':'low','at':1}",
		"'device_ref': not a map");
	msg_bad("{'type':'threat','device_ref':'S1','level':'low','at':1}", "not a map");
	msg_bad("{'type':'threat','device_ref':{'serial':'S\\u0001'},'level':'low','at':1}",
		"control");
	{
		char big[400];
		memset(big, 'x', 129);
		big[129] = '\0';
		snprintf(json_buf_, sizeof json_buf_,
			 "{'type':'threat','device_ref':{'udid':'%s'},'level':'low','at':1}", big);
		msg_bad(json_buf_, "'device_ref.udid': 129 bytes");
		big[128] = '\0';
		snprintf(json_buf_, sizeof json_buf_,
			 "{'type':'threat','device_ref':{'udid':'%s'},'level':'low','at':1}", big);
		msg_ok(json_buf_, &m);
		assert_int_equal(m.ref[MTD_REF_UDID].n, 128);
	}
}

#define EVENT_OPEN "{'type':'threat_event','device':'d1','at':5,'state':'open'"

static void decode_msg_threat_event(void **state)
{
	mtd_msg m;
	(void)state;

	msg_ok(EVENT_OPEN ",'threat':{'id':'t1','category':'app','name':'Bad app','level':'high'}}",
	       &m);
	assert_int_equal(m.type, MTD_MSG_THREAT_EVENT);
	assert_string_equal(mtd_msg_type_name(MTD_MSG_THREAT_EVENT), "threat_event");
	assert_int_equal(m.at, 5);
	assert_memory_equal(m.device.p, "d1", 2);
	assert_int_equal(m.state, MTD_EVENT_OPEN);
	assert_memory_equal(m.event.id.p, "t1", 2);
	assert_memory_equal(m.event.category.p, "app", 3);
	assert_memory_equal(m.event.name.p, "Bad app", 7);
	assert_int_equal(m.event.level, MTD_LEVEL_HIGH);
	assert_null(m.threats);

	/* a resolve needs only the id */
	msg_ok("{'type':'threat_event','device_ref':{'vendor_device_id':'g'},'at':6,"
	       "'state':'resolved','threat':{'id':'t1'}}",
	       &m);
	assert_int_equal(m.state, MTD_EVENT_RESOLVED);
	assert_int_equal(m.event.level, -1);
	assert_null(m.event.category.p);
	assert_null(m.event.name.p);
	assert_int_equal(m.refs, 1u << MTD_REF_VENDOR);
	/* what else it carries is checked */
	msg_ok("{'type':'threat_event','device':'d','at':6,'state':'resolved',"
	       "'threat':{'id':'t1','level':'low','category':'os'}}",
	       &m);
	assert_int_equal(m.event.level, MTD_LEVEL_LOW);
	msg_bad("{'type':'threat_event','device':'d','at':6,'state':'resolved',"
		"'threat':{'id':'t1','level':'bad'}}",
		"'threat.level'");
	msg_bad("{'type':'threat_event','device':'d','at':6,'state':'resolved',"
		"'threat':{'id':'t1','category':'cloud'}}",
		"'threat.category': 'cloud'");

	msg_bad(EVENT_OPEN ",'threat':{'category':'app','level':'high'}}", "'threat.id': missing");
	msg_bad(EVENT_OPEN ",'threat':{'id':'','category':'app','level':'high'}}",
		"'threat.id': empty");
	msg_bad(EVENT_OPEN ",'threat':{'id':'t','level':'high'}}", "'threat.category': missing");
	msg_bad(EVENT_OPEN ",'threat':{'id':'t','category':'app'}}", "'threat.level': missing");
	msg_bad(EVENT_OPEN ",'threat':{'id':'t','category':'app','level':'critical'}}", "critical");
	msg_bad(EVENT_OPEN ",'threat':{'id':5,'category':'app','level':'low'}}", "'threat.id'");
	msg_bad(EVENT_OPEN ",'threat':{'id':'t','name':1,'category':'app','level':'low'}}",
		"'threat.name'");
	msg_bad(EVENT_OPEN "}", "'threat': missing");
	msg_bad(EVENT_OPEN ",'threat':[1]}", "'threat': not a map");
	msg_bad("{'type':'threat_event','device':'d1','at':5,'threat':{'id':'t'}}", "'state': missing");
	msg_bad("{'type':'threat_event','device':'d1','at':5,'state':'closed','threat':{'id':'t'}}",
		"closed");
	msg_bad("{'type':'threat_event','at':5,'state':'resolved','threat':{'id':'t'}}", "'device'");
	msg_bad("{'type':'threat_event','device':'d','state':'resolved','threat':{'id':'t'}}",
		"'at'");
}

#define TASK_MSG(task) "{'type':'task','device':'d1','at':'2026-12-01T10:00:00Z','task':{" task "}}"
#define TASK_OK "'id':'CVE-2024-3094','kind':'vulnerability','severity':'critical','first_seen':100,'state':'open'"

static void decode_msg_task(void **state)
{
	mtd_msg m;
	(void)state;

	msg_ok(TASK_MSG(TASK_OK ",'cve':'CVE-2024-3094','software':'xz-utils','version':'5.6.0'"), &m);
	assert_int_equal(m.type, MTD_MSG_TASK);
	assert_string_equal(mtd_msg_type_name(MTD_MSG_TASK), "task");
	assert_memory_equal(m.device.p, "d1", 2);
	assert_memory_equal(m.task.id.p, "CVE-2024-3094", 13);
	assert_int_equal(m.task.kind, MTD_TASK_VULNERABILITY);
	assert_int_equal(m.task.severity, MTD_SEV_CRITICAL);
	assert_int_equal(m.task.first_seen, 100);
	assert_int_equal(m.state, MTD_EVENT_OPEN);
	assert_memory_equal(m.task.cve.p, "CVE-2024-3094", 13);
	assert_memory_equal(m.task.software.p, "xz-utils", 8);
	assert_memory_equal(m.task.version.p, "5.6.0", 5);
	{
		json_t *j = mtd_msg_json(&m);
		char *t = json_dumps(j, JSON_COMPACT | JSON_SORT_KEYS);
		assert_string_equal(t, "{\"at\":1796119200,\"device\":\"d1\",\"task\":{\"cve\":\"CVE-2024-3094\","
				       "\"first_seen\":100,\"id\":\"CVE-2024-3094\",\"kind\":\"vulnerability\","
				       "\"severity\":\"critical\",\"software\":\"xz-utils\",\"state\":\"open\","
				       "\"version\":\"5.6.0\"},\"type\":\"task\"}");
		free(t);
		json_decref(j);
	}
	/* a recommendation without a CVE, named by Defender's machine id */
	msg_ok("{'type':'task','device_ref':{'vendor_device_id':'m1','entra':'e1'},'at':5,"
	       "'task':{'id':'va-_-microsoft-_-windows_10','kind':'recommendation','severity':'low',"
	       "'first_seen':'2026-11-01T00:00:00Z','state':'resolved'}}",
	       &m);
	assert_int_equal(m.task.kind, MTD_TASK_RECOMMENDATION);
	assert_int_equal(m.task.severity, MTD_SEV_LOW);
	assert_int_equal(m.state, MTD_EVENT_RESOLVED);
	assert_null(m.task.cve.p);
	assert_null(m.task.software.p);
	assert_int_equal(m.refs, (1u << MTD_REF_VENDOR) | (1u << MTD_REF_ENTRA));

	msg_bad("{'type':'task','device':'d1','at':5}", "'task': missing");
	msg_bad("{'type':'task','device':'d1','at':5,'task':[1]}", "'task': not a map");
	msg_bad("{'type':'task','at':5,'task':{" TASK_OK "}}", "'device'");
	msg_bad("{'type':'task','device':'d1','task':{" TASK_OK "}}", "'at'");
	msg_bad(TASK_MSG("'kind':'vulnerability','severity':'low','first_seen':1,'state':'open'"),
		"'task.id': missing");
	msg_bad(TASK_MSG("'id':'','kind':'vulnerability','severity':'low','first_seen':1,'state':'open'"),
		"'task.id': empty");
	msg_bad(TASK_MSG("'id':5,'kind':'vulnerability','severity':'low','first_seen':1,'state':'open'"),
		"'task.id': not a string");
	msg_bad(TASK_MSG("'id':'a\\u202eb','kind':'vulnerability','severity':'low','first_seen':1,"
			 "'state':'open'"),
		"'task.id'");
	msg_bad(TASK_MSG("'id':'t','kind':'patch','severity':'low','first_seen':1,'state':'open'"),
		"'task.kind': 'patch' is not vulnerability or recommendation");
	msg_bad(TASK_MSG("'id':'t','severity':'low','first_seen':1,'state':'open'"),
		"'task.kind': missing");
	msg_bad(TASK_MSG("'id':'t','kind':'vulnerability','severity':'severe','first_seen':1,"
			 "'state':'open'"),
		"'task.severity': 'severe' is not low, medium, high or critical");
	msg_bad(TASK_MSG("'id':'t','kind':'vulnerability','first_seen':1,'state':'open'"),
		"'task.severity': missing");
	msg_bad(TASK_MSG("'id':'t','kind':'vulnerability','severity':'low','state':'open'"),
		"'task.first_seen': missing");
	msg_bad(TASK_MSG("'id':'t','kind':'vulnerability','severity':'low','first_seen':'yesterday',"
			 "'state':'open'"),
		"'task.first_seen'");
	msg_bad(TASK_MSG("'id':'t','kind':'vulnerability','severity':'low','first_seen':1"),
		"'task.state': missing");
	msg_bad(TASK_MSG("'id':'t','kind':'vulnerability','severity':'low','first_seen':1,"
			 "'state':'fixed'"),
		"'task.state': 'fixed' is not open or resolved");
	msg_bad(TASK_MSG(TASK_OK ",'cve':'cve-2024-3094'"), "'task.cve': 'cve-2024-3094' is not a CVE id");
	msg_bad(TASK_MSG(TASK_OK ",'cve':'CVE-24-3094'"), "not a CVE id");
	msg_bad(TASK_MSG(TASK_OK ",'cve':'CVE-2024-30x4'"), "not a CVE id");
	msg_bad(TASK_MSG(TASK_OK ",'cve':'CVE-2024-123'"), "not a CVE id");
	msg_bad(TASK_MSG(TASK_OK ",'software':7"), "'task.software': not a string");
	msg_bad(TASK_MSG(TASK_OK ",'version':'1\\u0007'"), "'task.version'");
	/* a key twice in the task refuses the message (JSON refuses it before) */
	{
		msgpack_sbuffer sb;
		msgpack_packer pk;
		char why[256];
		static const char *const kv[] = {"id", "t", "kind", "vulnerability", "severity",
						 "low", "first_seen", NULL, "state", "open",
						 "severity", "high"};
		msgpack_sbuffer_init(&sb);
		msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
		msgpack_pack_map(&pk, 4);
		msgpack_pack_str_with_body(&pk, "type", 4);
		msgpack_pack_str_with_body(&pk, "task", 4);
		msgpack_pack_str_with_body(&pk, "at", 2);
		msgpack_pack_int(&pk, 1);
		msgpack_pack_str_with_body(&pk, "device", 6);
		msgpack_pack_str_with_body(&pk, "d", 1);
		msgpack_pack_str_with_body(&pk, "task", 4);
		msgpack_pack_map(&pk, 6);
		for (int i = 0; i < 12; i++)
			if (kv[i])
				msgpack_pack_str_with_body(&pk, kv[i], strlen(kv[i]));
			else
				msgpack_pack_int(&pk, 1);
		assert_int_equal(mtd_decode_msg(sb.data, sb.size, &m, why, sizeof why), MTD_EMALFORMED);
		assert_contains(why, "field 'task': duplicate key 'severity'");
		msgpack_sbuffer_destroy(&sb);
	}
	{
		char big[700];
		memset(big, 'x', 513);
		big[513] = '\0';
		snprintf(json_buf_, sizeof json_buf_, TASK_MSG(TASK_OK ",'software':'%s'"), big);
		msg_bad(json_buf_, "'task.software': 513 bytes");
		memset(big, 'v', 129);
		big[129] = '\0';
		snprintf(json_buf_, sizeof json_buf_, TASK_MSG(TASK_OK ",'version':'%s'"), big);
		msg_bad(json_buf_, "'task.version': 129 bytes");
		snprintf(json_buf_, sizeof json_buf_,
			 TASK_MSG("'id':'%s','kind':'vulnerability','severity':'low','first_seen':1,"
				  "'state':'open'"),
			 big);
		msg_bad(json_buf_, "'task.id': 129 bytes");
	}
}

static void decode_msg_missing_fields(void **state)
{
	(void)state;
	msg_bad("{'device':'d1','level':'high','at':1}", "'type'");
	msg_bad("{'type':'threat','device':'d1','level':'high'}", "'at'");
	msg_bad("{'type':'threat','level':'high','at':1}", "'device'");
	msg_bad("{'type':'threat','device':'d1','at':1}", "'level'");
	msg_bad("{'type':'heartbeat'}", "'at'");
	msg_bad("{'type':'provision'}", "'at'");
	msg_bad("{'type':'appsync_request'}", "'at'");
	msg_bad("{'type':'error','at':1}", "'code'");
	msg_bad("{'type':'error','at':1,'code':''}", "'code'");
	msg_bad("{'type':'threat','device':'','level':'high','at':1}", "'device'");
	msg_bad("{'type':'threat','device':null,'level':'high','at':1}", "'device'");
	msg_bad("{}", "'type'");
	msg_bad("[1,2]", "map");
	msg_bad(THREAT_OK ",'threats':[{'category':'app'}]}", "threats[0]");
	msg_bad(THREAT_OK ",'threats':[{'level':'low'}]}", "'category'");
}

static void decode_msg_wrong_types(void **state)
{
	mtd_msg m;
	(void)state;
	msg_bad("{'type':1,'at':1}", "'type'");
	msg_bad("{'type':'heartbeat','at':true}", "'at'");
	msg_bad("{'type':'heartbeat','at':-1}", "'at'");
	msg_bad("{'type':'heartbeat','at':1.5}", "'at'");
	msg_bad("{'type':'heartbeat','at':[1]}", "'at'");
	msg_bad("{'type':'heartbeat','at':'yesterday'}", "yesterday");
	msg_bad("{'type':'heartbeat','at':'2025-02-30T00:00:00Z'}", "2025-02-30");
	msg_bad("{'type':'heartbeat','at':253402300800}", "'at'"); /* year 10000 */
	msg_bad("{'type':'threat','device':7,'level':'high','at':1}", "'device'");
	msg_bad("{'type':'threat','device':'d1','level':4,'at':1}", "'level'");
	msg_bad(THREAT_OK ",'os_supported':'yes'}", "'os_supported'");
	msg_bad(THREAT_OK ",'os_supported':1}", "'os_supported'");
	msg_bad(THREAT_OK ",'threats':{'id':'t1'}}", "'threats'");
	msg_bad(THREAT_OK ",'threats':'none'}", "'threats'");
	msg_bad(THREAT_OK ",'threats':[{'category':'app','level':'low'},5]}", "threats[1]");
	msg_bad(THREAT_OK ",'threats':[{'category':'app','level':'low','id':3}]}", "'id'");
	msg_bad(THREAT_OK ",'threats':[{'category':'app','level':'low','name':[]}]}", "'name'");
	msg_bad("{'type':'error','at':1,'code':42}", "'code'");

	/* the last good one still decodes: nothing sticky */
	msg_ok(THREAT_OK "}", &m);
}

static void decode_msg_unknown_values(void **state)
{
	(void)state;
	msg_bad("{'type':'threat','device':'d1','level':'severe','at':1}", "severe");
	msg_bad("{'type':'threat','device':'d1','level':'none','at':1}", "'none'");
	msg_bad("{'type':'threat','device':'d1','level':'High','at':1}", "High");
	msg_bad("{'type':'hello','at':1}", "hello");
	msg_bad("{'type':'Threat','at':1}", "Threat");
	msg_bad("{'type':'','at':1}", "'type'");
	msg_bad(THREAT_OK ",'threats':[{'category':'cloud','level':'low'}]}", "cloud");
	msg_bad(THREAT_OK ",'threats':[{'category':'app','level':'critical'}]}", "critical");
}

static char *threats_json(int n)
{
	size_t cap = 64 + (size_t)n * 48;
	char *s = malloc(cap), *p = s;
	assert_non_null(s);
	p += sprintf(p, "%s,'threats':[", THREAT_OK);
	for (int i = 0; i < n; i++)
		p += sprintf(p, "%s{'category':'os','level':'low'}", i ? "," : "");
	strcpy(p, "]}");
	return s;
}

static char *str_of(char c, size_t n)
{
	char *s = malloc(n + 1);
	assert_non_null(s);
	memset(s, c, n);
	s[n] = '\0';
	return s;
}

static void decode_msg_limits(void **state)
{
	char *j, buf[4096], *s;
	mtd_msg m;
	(void)state;

	j = threats_json(MTD_MAX_THREATS);
	msg_ok(j, &m);
	assert_int_equal(m.nthreats, MTD_MAX_THREATS);
	free(j);
	j = threats_json(MTD_MAX_THREATS + 1);
	msg_bad(j, "257");
	free(j);

	s = str_of('d', MTD_MAX_ID);
	snprintf(buf, sizeof buf, "{'type':'threat','device':'%s','level':'low','at':1}", s);
	msg_ok(buf, &m);
	assert_int_equal(m.device.n, MTD_MAX_ID);
	free(s);
	s = str_of('d', MTD_MAX_ID + 1);
	snprintf(buf, sizeof buf, "{'type':'threat','device':'%s','level':'low','at':1}", s);
	msg_bad(buf, "limit");
	free(s);

	s = str_of('n', MTD_MAX_STR + 1);
	snprintf(buf, sizeof buf, THREAT_OK ",'threats':[{'category':'app','level':'low','name':'%s'}]}",
		 s);
	msg_bad(buf, "'name'");
	free(s);
	s = str_of('c', MTD_MAX_ID + 1);
	snprintf(buf, sizeof buf, "{'type':'error','at':1,'code':'%s'}", s);
	msg_bad(buf, "'code'");
	free(s);
}

static void decode_msg_control_chars(void **state)
{
	(void)state;
	msg_bad("{'type':'threat','device':'d1\\n','level':'low','at':1}", "control");
	msg_bad("{'type':'threat','device':'d\\u0001','level':'low','at':1}", "control");
	msg_bad("{'type':'threat','device':'d\\u001b[31m','level':'low','at':1}", "control");
	msg_bad("{'type':'threat','device':'d\\u007f','level':'low','at':1}", "control");
	msg_bad("{'type':'error','at':1,'code':'E\\r\\nX'}", "control");
	msg_bad(THREAT_OK ",'threats':[{'category':'app','level':'low','name':'a\\tb'}]}",
		"control");
}

/* Every position of a long id, so that the checks of eight bytes at a time
 * and of the tail see each bad byte: below 0x20 and 0x7f refused; space,
 * '~' and UTF-8 (bytes of 0x80 and above) kept. */
static void decode_msg_control_every_position(void **state)
{
	static const char *const bad_bytes[] = {"\\u0001", "\\u001f", "\\u007f", "\\t"};
	static const char *const good_bytes[] = {" ", "~", "\xc3\xa9"};
	char buf[512];
	mtd_msg m;
	(void)state;
	for (int pos = 0; pos < 23; pos++) {
		for (size_t b = 0; b < sizeof bad_bytes / sizeof *bad_bytes; b++) {
			snprintf(buf, sizeof buf,
				 "{'type':'threat','device':'%.*s%s%.*s','level':'low','at':1}", pos,
				 "abcdefghijklmnopqrstuvw", bad_bytes[b], 22 - pos,
				 "ABCDEFGHIJKLMNOPQRSTUVW");
			msg_bad(buf, "control");
		}
		for (size_t b = 0; b < sizeof good_bytes / sizeof *good_bytes; b++) {
			snprintf(buf, sizeof buf,
				 "{'type':'threat','device':'%.*s%s%.*s','level':'low','at':1}", pos,
				 "abcdefghijklmnopqrstuvw", good_bytes[b], 22 - pos,
				 "ABCDEFGHIJKLMNOPQRSTUVW");
			msg_ok(buf, &m);
			assert_int_equal(m.device.n, 22 + strlen(good_bytes[b]));
		}
	}
}

static void decode_msg_times(void **state)
{
	mtd_msg a, b;
	(void)state;
	msg_ok("{'type':'heartbeat','at':1736941754}", &a);
	msg_ok("{'type':'heartbeat','at':'2025-01-15T11:49:14Z'}", &b);
	assert_int_equal(a.at, b.at);
	msg_ok("{'type':'heartbeat','at':'1736941754'}", &b);
	assert_int_equal(a.at, b.at);
	msg_ok("{'type':'heartbeat','at':'01/15/2025 11:49:14'}", &b);
	assert_int_equal(a.at, b.at);
	msg_ok("{'type':'heartbeat','at':253402300799}", &b);
	assert_int_equal(b.at, INT64_C(253402300799));
}

/* Messages as msgpack bytes written by hand: what JSON cannot spell. */
#define HB_TYPE 0xa4, 't', 'y', 'p', 'e', 0xa9, 'h', 'e', 'a', 'r', 't', 'b', 'e', 'a', 't'
#define HB_AT 0xa2, 'a', 't'

static int bytes_rc(const unsigned char *b, size_t n, mtd_msg *m)
{
	int rc;
	err_[0] = '\0';
	rc = mtd_decode_msg(b, n, m, err_, sizeof err_);
	if (rc)
		assert_one_line(err_);
	return rc;
}

/* The stream of one_walk_stream: messages of many sizes, so that records
 * straddle the reader's buffer (64 KiB at first), with bad ones among them
 * (a bad type, a control character, an unknown field of a container, one
 * nested as deep as allowed), then, last, one nested deeper: the framing
 * error, after which the stream cannot be read on. */
static void one_walk_input(mtd_buf *in)
{
	char json[2048];
	for (int i = 0; i < 6000; i++) {
		int pad = (i * 37) % 900;
		if (i % 97 == 5)
			snprintf(json, sizeof json, "{'type':'warning','at':%d}", i);
		else if (i % 89 == 7)
			snprintf(json, sizeof json,
				 "{'type':'threat','device':'d%d\\u0001','level':'low','at':%d}", i, i);
		else
			snprintf(json, sizeof json,
				 "{'type':'threat','device':'dev-%06d','level':'%s','at':%d,"
				 "'os_supported':%s,'x':{'pad':'%.*s'},'threats':[%s]}",
				 i, i % 3 ? "low" : "secured", 1000 + i, i % 2 ? "true" : "false", pad,
				 "", i % 4 ? "" : "{'category':'app','level':'low','name':'n'}");
		for (char *p = json; *p; p++)
			if (*p == '\'')
				*p = '"';
		/* the padding: JSON has no string repeat */
		{
			char *q = strstr(json, "\"pad\":\"");
			if (q) {
				size_t at = (size_t)(q - json) + 7, len = strlen(json);
				memmove(json + at + pad, json + at, len - at + 1);
				memset(json + at, 'p', (size_t)pad);
			}
		}
		{
			char err[256];
			json_t *v = mtd_sdk_parse(json, strlen(json), err, sizeof err);
			if (!v)
				fail_msg("bad test JSON %s: %s", json, err);
			assert_int_equal(mtd_sdk_json_to_msgpack(v, in), 0);
			json_decref(v);
		}
	}
	/* as deep as allowed: the message's map, then arrays, then nil */
	{
		unsigned char deep[64];
		size_t n = 0;
		deep[n++] = 0x83;
		memcpy(deep + n, "\xa4type\xa9heartbeat\xa2" "at\x05\xa1x", 21);
		n += 21;
		for (int d = 0; d < MTD_SDK_MAX_DEPTH - 1; d++)
			deep[n++] = 0x91;
		deep[n++] = 0xc0;
		assert_int_equal(mtd_buf_put(in, deep, n), 0);
		deep[n - 1] = 0x91; /* one more */
		deep[n++] = 0xc0;
		assert_int_equal(mtd_buf_put(in, deep, n), 0);
	}
}

/* MTD_READ_MSG frames and decodes a msgpack record in one walk: the same
 * records, messages and errors as MTD_READ_BYTES then mtd_decode_msg. */
static void reader_msg_one_walk(void **state)
{
	mtd_buf in = {0};
	rd a, b;
	uint64_t good = 0, bad = 0;
	char last[512] = "";
	(void)state;

	one_walk_input(&in);
	assert_true(in.len > 4 * (1u << 16));
	rd_open(&a, in.data, in.len, "in.msgpack");
	rd_open(&b, in.data, in.len, "in.msgpack");
	for (;;) {
		mtd_msg mb;
		int ka = rd_next(&a, MTD_READ_MSG), kb = rd_next(&b, MTD_READ_BYTES);
		if (kb == 1 && mtd_decode_msg(b.rec.mp, b.rec.mp_len, &mb, b.err, sizeof b.err))
			kb = MTD_EMALFORMED;
		assert_int_equal(ka, kb);
		if (ka == 0)
			break;
		assert_string_equal(mtd_reader_where(a.r), mtd_reader_where(b.r));
		if (ka == MTD_EMALFORMED) {
			assert_string_equal(a.err, b.err);
			snprintf(last, sizeof last, "%s", a.err);
			bad++;
			continue;
		}
		good++;
		assert_non_null(a.rec.msg);
		assert_true(a.rec.offset == b.rec.offset && a.rec.raw_len == b.rec.raw_len);
		assert_true(a.rec.mp_len == b.rec.mp_len &&
			    !memcmp(a.rec.mp, b.rec.mp, a.rec.mp_len));
		assert_int_equal(a.rec.msg->type, mb.type);
		assert_int_equal(a.rec.msg->at, mb.at);
		assert_int_equal(a.rec.msg->level, mb.level);
		assert_int_equal(a.rec.msg->os_supported, mb.os_supported);
		assert_int_equal(a.rec.msg->nthreats, mb.nthreats);
		assert_int_equal(a.rec.msg->threats_len, mb.threats_len);
		assert_int_equal(a.rec.msg->device.n, mb.device.n);
		if (mb.device.p)
			assert_memory_equal(a.rec.msg->device.p, mb.device.p, mb.device.n);
	}
	/* 6000 messages, 62 + 68 bad ones, the deep one good, the deeper one
	 * skipped, the last record of the stream (19.6) */
	assert_int_equal(good, 6000 - 62 - 68 + 1);
	assert_int_equal(bad, 62 + 68 + 1);
	assert_contains(last, "nested deeper than 32 levels: skipped");
	rd_close(&a);
	rd_close(&b);
	mtd_buf_free(&in);
}

static void decode_msg_bytes(void **state)
{
	static const unsigned char ok[] = {0x82, HB_TYPE, HB_AT, 0x05};
	static const unsigned char at64[] = {0x82, HB_TYPE, HB_AT, 0xd3, 0, 0, 0, 0, 0, 0, 0, 5};
	static const unsigned char atneg[] = {0x82, HB_TYPE, HB_AT, 0xd0, 0xff};
	static const unsigned char atflt[] = {0x82, HB_TYPE, HB_AT, 0xca, 0x40, 0xa0, 0, 0};
	static const unsigned char atbig[] = {0x82, HB_TYPE, HB_AT, 0xcf, 0xff, 0, 0, 0, 0, 0, 0, 0};
	static const unsigned char binty[] = {0x82, 0xa4, 't', 'y', 'p', 'e', 0xc4, 9, 'h', 'e', 'a',
					      'r', 't', 'b', 'e', 'a', 't', HB_AT, 0x05};
	/* keys that are not strings are skipped, whatever they hold */
	static const unsigned char oddkeys[] = {0x84, 0x01, 0xa1, 'x', 0x81, 0xa1, 'k', 0x90, 0xc0,
						HB_TYPE, HB_AT, 0x05};
	static const unsigned char dup1[] = {0x83, HB_TYPE, 0xa4, 't', 'y', 'p', 'e', 0xa1, 'z',
					     HB_AT, 0x05};
	static const unsigned char dup2[] = {0x83, 0xa4, 't', 'y', 'p', 'e', 0xa1, 'z', HB_TYPE,
					     HB_AT, 0x05};
	static const unsigned char str8big[] = {0x82, HB_TYPE, 0xd9, 0xff, 'a', 't', 0x05};
	static const unsigned char notmap[] = {0x92, 0x01, 0x02};
	static const unsigned char threat[] = {
		0x84, 0xa4, 't', 'y', 'p', 'e', 0xa6, 't', 'h', 'r', 'e', 'a', 't', HB_AT, 0x07,
		0xa6, 'd', 'e', 'v', 'i', 'c', 'e', 0xa2, 'd', '1', 0xa5, 'l', 'e', 'v', 'e', 'l',
		0xa3, 'l', 'o', 'w'};
	unsigned char buf[128], deep[80];
	mtd_msg m;
	mtd_threat t;
	size_t n, pos = 0;
	(void)state;

	assert_int_equal(bytes_rc(ok, sizeof ok, &m), 0);
	assert_int_equal(m.type, MTD_MSG_HEARTBEAT);
	assert_int_equal(m.at, 5);
	for (size_t k = 0; k < sizeof ok; k++) /* every truncation is refused */
		assert_int_equal(bytes_rc(ok, k, &m), MTD_EMALFORMED);
	memcpy(buf, ok, sizeof ok);
	buf[sizeof ok] = 0xc0;
	assert_int_equal(bytes_rc(buf, sizeof ok + 1, &m), MTD_EMALFORMED);
	assert_contains(err_, "one msgpack object");
	assert_int_equal(bytes_rc(NULL, 0, &m), MTD_EMALFORMED);
	assert_int_equal(bytes_rc(notmap, sizeof notmap, &m), MTD_EMALFORMED);
	assert_contains(err_, "must be a map");

	/* integers as msgpack-c reads them: signed encodings of non-negative
	 * values are integers like any other */
	assert_int_equal(bytes_rc(at64, sizeof at64, &m), 0);
	assert_int_equal(m.at, 5);
	assert_int_equal(bytes_rc(atneg, sizeof atneg, &m), MTD_EMALFORMED);
	assert_contains(err_, "not a time");
	assert_int_equal(bytes_rc(atflt, sizeof atflt, &m), MTD_EMALFORMED);
	assert_contains(err_, "not a time");
	assert_int_equal(bytes_rc(atbig, sizeof atbig, &m), MTD_EMALFORMED);
	assert_contains(err_, "not a time");
	assert_int_equal(bytes_rc(binty, sizeof binty, &m), MTD_EMALFORMED);
	assert_contains(err_, "'type': not a string");

	assert_int_equal(bytes_rc(oddkeys, sizeof oddkeys, &m), 0);
	assert_int_equal(m.type, MTD_MSG_HEARTBEAT);
	/* duplicate keys are refused, whichever comes first (19.7: as JSON's) */
	assert_int_equal(bytes_rc(dup1, sizeof dup1, &m), MTD_EMALFORMED);
	assert_contains(err_, "duplicate key 'type'");
	assert_int_equal(bytes_rc(dup2, sizeof dup2, &m), MTD_EMALFORMED);
	assert_contains(err_, "duplicate key 'type'");
	/* a string longer than the bytes left */
	assert_int_equal(bytes_rc(str8big, sizeof str8big, &m), MTD_EMALFORMED);

	/* an unknown field nested deeper than the framing limit */
	n = 0;
	deep[n++] = 0x83;
	memcpy(deep + n, (const unsigned char[]){HB_TYPE, HB_AT, 0x05}, 19);
	n += 19;
	deep[n++] = 0xa1;
	deep[n++] = 'x';
	for (int d = 0; d < MTD_SDK_MAX_DEPTH; d++)
		deep[n++] = 0x91;
	deep[n++] = 0xc0;
	/* with the message's own map, one container more than the framing
	 * limit: refused, as the reader's framing of the whole record does */
	assert_int_equal(bytes_rc(deep, n, &m), MTD_EMALFORMED);
	/* one level less: as deep as allowed */
	n--;
	deep[n - 1] = 0xc0;
	assert_int_equal(bytes_rc(deep, n, &m), 0);

	/* threats: the array's bytes are kept as received, and read back */
	memcpy(buf, threat, sizeof threat);
	n = sizeof threat;
	buf[0] = 0x85;
	memcpy(buf + n, (const unsigned char[]){0xa7, 't', 'h', 'r', 'e', 'a', 't', 's'}, 8);
	n += 8;
	{
		size_t a = n;
		const unsigned char arr[] = {0x92, 0x82, 0xa8, 'c', 'a', 't', 'e', 'g', 'o', 'r', 'y',
					     0xa2, 'o', 's', 0xa5, 'l', 'e', 'v', 'e', 'l', 0xa4,
					     'h', 'i', 'g', 'h', 0x83, 0xa2, 'i', 'd', 0xa2, 't',
					     '2', 0xa8, 'c', 'a', 't', 'e', 'g', 'o', 'r', 'y', 0xa3,
					     'a', 'p', 'p', 0xa5, 'l', 'e', 'v', 'e', 'l', 0xa3, 'l',
					     'o', 'w'};
		memcpy(buf + n, arr, sizeof arr);
		n += sizeof arr;
		assert_int_equal(bytes_rc(buf, n, &m), 0);
		assert_int_equal(m.type, MTD_MSG_THREAT);
		assert_int_equal(m.level, MTD_LEVEL_LOW);
		assert_ptr_equal(m.threats, buf + a);
		assert_int_equal(m.threats_len, sizeof arr);
		assert_int_equal(m.nthreats, 2);
	}
	assert_int_equal(mtd_msg_threat(&m, &pos, &t), 1);
	assert_null(t.id.p);
	assert_int_equal(t.level, MTD_LEVEL_HIGH);
	assert_int_equal(t.category.n, 2);
	assert_memory_equal(t.category.p, "os", 2);
	assert_int_equal(mtd_msg_threat(&m, &pos, &t), 1);
	assert_int_equal(t.id.n, 2);
	assert_memory_equal(t.id.p, "t2", 2);
	assert_int_equal(t.level, MTD_LEVEL_LOW);
	assert_int_equal(mtd_msg_threat(&m, &pos, &t), 0);
	assert_int_equal(bytes_rc(threat, sizeof threat, &m), 0);
	assert_null(m.threats);
	pos = 0;
	assert_int_equal(mtd_msg_threat(&m, &pos, &t), 0);
}

static void dev_bad(const char *json, const char *why)
{
	mtd_device_rec d;
	err_[0] = '\0';
	if (mtd_decode_device(J(json), &d, err_, sizeof err_) != MTD_EMALFORMED)
		fail_msg("device accepted: %s (expected: %s)", json, why);
	assert_contains(err_, why);
	assert_one_line(err_);
}

static void dev_ok(const char *json, mtd_device_rec *d)
{
	err_[0] = '\0';
	if (mtd_decode_device(J(json), d, err_, sizeof err_) != 0)
		fail_msg("device refused: %s: %s", json, err_);
}

#define DEV_BASE "'id':'dev-1','platform':'ios','ownership':'corporate','management':'enrolled'"

static int grp_is(const mtd_device_rec *d, size_t i, const char *s)
{
	return i < d->ngroups && d->groups[i].n == strlen(s) && !memcmp(d->groups[i].p, s, d->groups[i].n);
}

static void decode_device_valid(void **state)
{
	mtd_device_rec d;
	(void)state;

	dev_ok("{" DEV_BASE ",'os_version':'17.4','user':'alice@example.com',"
	       "'groups':['Sales','Executives','Sales','All Staff','Executives','Sales']}",
	       &d);
	assert_int_equal(d.id.n, 5);
	assert_memory_equal(d.id.p, "dev-1", 5);
	assert_int_equal(d.platform, MTD_PLAT_IOS);
	assert_int_equal(d.corporate, 1);
	assert_int_equal(d.enrolled, 1);
	assert_int_equal(d.os_version.n, 4);
	assert_int_equal(d.user.n, strlen("alice@example.com"));
	/* sorted, duplicates removed */
	assert_int_equal(d.ngroups, 3);
	assert_true(grp_is(&d, 0, "All Staff"));
	assert_true(grp_is(&d, 1, "Executives"));
	assert_true(grp_is(&d, 2, "Sales"));

	dev_ok("{'id':'a','platform':'android','ownership':'personal','management':'unenrolled'}",
	       &d);
	assert_int_equal(d.platform, MTD_PLAT_ANDROID);
	assert_int_equal(d.corporate, 0);
	assert_int_equal(d.enrolled, 0);
	assert_int_equal(d.ngroups, 0);
	assert_null(d.os_version.p);
	assert_null(d.user.p);
	dev_ok("{'id':'w','platform':'windows','ownership':'corporate','management':'enrolled',"
	       "'groups':[]}",
	       &d);
	assert_int_equal(d.platform, MTD_PLAT_WINDOWS);
	dev_ok("{'id':'m','platform':'macos','ownership':'corporate','management':'enrolled',"
	       "'groups':null,'user':null}",
	       &d);
	assert_int_equal(d.platform, MTD_PLAT_MACOS);
	/* one group repeated: one left */
	dev_ok("{" DEV_BASE ",'groups':['x','x','x','x']}", &d);
	assert_int_equal(d.ngroups, 1);
	/* prefixes sort before longer names */
	dev_ok("{" DEV_BASE ",'groups':['ab','a','abc','b']}", &d);
	assert_int_equal(d.ngroups, 4);
	assert_true(grp_is(&d, 0, "a"));
	assert_true(grp_is(&d, 1, "ab"));
	assert_true(grp_is(&d, 2, "abc"));
	assert_true(grp_is(&d, 3, "b"));

	assert_string_equal(mtd_platform_name(MTD_PLAT_MACOS), "macos");
	assert_string_equal(mtd_platform_name(9), "?");
	assert_int_equal(mtd_platform_from_name("ios", 3), MTD_PLAT_IOS);
	assert_int_equal(mtd_platform_from_name("iOS", 3), -1);
	assert_int_equal(mtd_platform_from_name("io", 2), -1);
}

static void decode_device_bad(void **state)
{
	(void)state;
	dev_bad("{'platform':'ios','ownership':'corporate','management':'enrolled'}", "'id'");
	dev_bad("{'id':'d','ownership':'corporate','management':'enrolled'}", "'platform'");
	dev_bad("{'id':'d','platform':'ios','management':'enrolled'}", "'ownership'");
	dev_bad("{'id':'d','platform':'ios','ownership':'corporate'}", "'management'");
	dev_bad("{'id':'','platform':'ios','ownership':'corporate','management':'enrolled'}", "'id'");
	dev_bad("{'id':1,'platform':'ios','ownership':'corporate','management':'enrolled'}", "'id'");
	dev_bad("{'id':'d','platform':'blackberry','ownership':'corporate','management':'enrolled'}",
		"blackberry");
	dev_bad("{'id':'d','platform':'iOS','ownership':'corporate','management':'enrolled'}", "iOS");
	dev_bad("{'id':'d','platform':'ios','ownership':'shared','management':'enrolled'}", "shared");
	dev_bad("{'id':'d','platform':'ios','ownership':'corporate','management':'managed'}",
		"managed");
	dev_bad("{'id':'d','platform':'ios','ownership':true,'management':'enrolled'}", "'ownership'");
	dev_bad("{" DEV_BASE ",'groups':'Sales'}", "'groups'");
	dev_bad("{" DEV_BASE ",'groups':{'a':1}}", "'groups'");
	dev_bad("{" DEV_BASE ",'groups':['ok',5]}", "groups[1]");
	dev_bad("{" DEV_BASE ",'groups':['']}", "groups[0]");
	dev_bad("{" DEV_BASE ",'groups':['a\\nb']}", "control");
	dev_bad("{" DEV_BASE ",'os_version':17}", "'os_version'");
	dev_bad("{" DEV_BASE ",'user':['x']}", "'user'");
	dev_bad("{'id':'d\\u001f','platform':'ios','ownership':'corporate','management':'enrolled'}",
		"control");
	dev_bad("[]", "map");
}

static void decode_device_limits(void **state)
{
	char *j = malloc(64 * 1024), *p, *s;
	mtd_device_rec d;
	(void)state;

	assert_non_null(j);
	/* 64 distinct groups: fine; 65: refused */
	for (int n = MTD_MAX_GROUPS; n <= MTD_MAX_GROUPS + 1; n++) {
		p = j + sprintf(j, "{" DEV_BASE ",'groups':[");
		for (int i = 0; i < n; i++)
			p += sprintf(p, "%s'group-%03d'", i ? "," : "", n - i);
		strcpy(p, "]}");
		if (n == MTD_MAX_GROUPS) {
			dev_ok(j, &d);
			assert_int_equal(d.ngroups, MTD_MAX_GROUPS);
			assert_true(grp_is(&d, 0, "group-001"));
			assert_true(grp_is(&d, MTD_MAX_GROUPS - 1, "group-064"));
		} else {
			dev_bad(j, "65");
		}
	}
	s = str_of('g', MTD_MAX_ID + 1);
	sprintf(j, "{" DEV_BASE ",'groups':['%s']}", s);
	dev_bad(j, "groups[0]");
	free(s);
	s = str_of('i', MTD_MAX_ID + 1);
	sprintf(j, "{'id':'%s','platform':'ios','ownership':'corporate','management':'enrolled'}", s);
	dev_bad(j, "'id'");
	free(s);
	s = str_of('1', 65);
	sprintf(j, "{" DEV_BASE ",'os_version':'%s'}", s);
	dev_bad(j, "'os_version'");
	free(s);
	s = str_of('u', MTD_MAX_STR + 1);
	sprintf(j, "{" DEV_BASE ",'user':'%s'}", s);
	dev_bad(j, "'user'");
	free(s);
	free(j);
}

static void app_bad(const char *json, const char *why)
{
	mtd_app_rec a;
	err_[0] = '\0';
	if (mtd_decode_app(J(json), &a, err_, sizeof err_) != MTD_EMALFORMED)
		fail_msg("app accepted: %s (expected: %s)", json, why);
	assert_contains(err_, why);
	assert_one_line(err_);
}

static void decode_app(void **state)
{
	mtd_app_rec a;
	(void)state;

	err_[0] = '\0';
	assert_int_equal(mtd_decode_app(J("{'device':'d1','app_id':'com.example.mail','version':'1.2.3',"
					  "'short_version':'1.2','name':'Mail','bundle_size':1048576,"
					  "'dynamic_size':0,'adhoc_signed':false,'app_store':true,"
					  "'beta':false,'vpp':true,'validated':true,'managed':false}"),
				       &a, err_, sizeof err_),
			 0);
	assert_int_equal(a.device.n, 2);
	assert_int_equal(a.app_id.n, strlen("com.example.mail"));
	assert_int_equal(a.bundle_size, 1048576);
	assert_int_equal(a.dynamic_size, 0);
	assert_int_equal(a.adhoc_signed, 0);
	assert_int_equal(a.app_store, 1);
	assert_int_equal(a.beta, 0);
	assert_int_equal(a.vpp, 1);
	assert_int_equal(a.validated, 1);
	assert_int_equal(a.managed, 0);

	/* optional fields absent */
	assert_int_equal(mtd_decode_app(J("{'device':'d1','app_id':'x'}"), &a, err_, sizeof err_), 0);
	assert_int_equal(a.bundle_size, -1);
	assert_int_equal(a.dynamic_size, -1);
	assert_int_equal(a.beta, -1);
	assert_int_equal(a.managed, -1);
	assert_null(a.version.p);

	app_bad("{'app_id':'x'}", "'device'");
	app_bad("{'device':'d1'}", "'app_id'");
	app_bad("{'device':'d1','app_id':''}", "'app_id'");
	app_bad("{'device':'d1','app_id':'x','bundle_size':-1}", "'bundle_size'");
	app_bad("{'device':'d1','app_id':'x','dynamic_size':'12'}", "'dynamic_size'");
	app_bad("{'device':'d1','app_id':'x','bundle_size':1.5}", "'bundle_size'");
	app_bad("{'device':'d1','app_id':'x','beta':'no'}", "'beta'");
	app_bad("{'device':'d1','app_id':'x','managed':1}", "'managed'");
	app_bad("{'device':'d1','app_id':'x','name':'a\\u0007'}", "control");
	app_bad("{'device':'d1','app_id':'x','version':7}", "'version'");
	app_bad("[1]", "map");
}

/* 19.5: identifiers are valid UTF-8 without C0, C1 or bidi controls, on
 * every field that names something; free text is valid UTF-8 without C0. */
static void strict_identifiers(void **state)
{
	static const char *const c1_bidi[] = {"\\u0080", "\\u0085", "\\u009f", "\\u061c",
					      "\\u200e", "\\u200f", "\\u202a", "\\u202e",
					      "\\u2066", "\\u2069"};
	static const struct { const char *s; const char *why; } raw[] = {
		{"\xff", "not valid UTF-8"},     {"\xc3", "not valid UTF-8"},
		{"\xc0\xaf", "not valid UTF-8"}, {"\xe0\x80\xaf", "not valid UTF-8"},
		{"\xed\xa0\x80", "not valid UTF-8"}, {"\xf4\x90\x80\x80", "not valid UTF-8"},
		{"\xc2\x9b", "C1 control"},      {"\xe2\x80\xae", "bidirectional"},
	};
	char buf[512];
	mtd_msg m;
	const char *why;
	(void)state;

	for (size_t i = 0; i < sizeof c1_bidi / sizeof *c1_bidi; i++) {
		const char *w = i < 3 ? "C1 control" : "bidirectional control";
		snprintf(buf, sizeof buf, "{'type':'threat','device':'col%s','level':'low','at':1}",
			 c1_bidi[i]);
		msg_bad(buf, w);
		snprintf(buf, sizeof buf, "{'type':'error','at':1,'code':'E%s'}", c1_bidi[i]);
		msg_bad(buf, w);
		snprintf(buf, sizeof buf, THREAT_OK ",'threats':[{'id':'x%s','category':'app','level':'low'}]}",
			 c1_bidi[i]);
		msg_bad(buf, w);
		snprintf(buf, sizeof buf, "{" DEV_BASE_ ",'groups':['g%s']}", c1_bidi[i]);
		dev_bad(buf, w);
		/* free text: a bidi control may be part of a name */
		snprintf(buf, sizeof buf, THREAT_OK ",'threats':[{'name':'n%s','category':'app','level':'low'}]}",
			 c1_bidi[i]);
		msg_ok(buf, &m);
	}
	for (size_t i = 0; i < sizeof raw / sizeof *raw; i++) {
		assert_non_null(why = mtd_str_check(raw[i].s, strlen(raw[i].s), MTD_STR_ID));
		assert_contains(why, raw[i].why);
		why = mtd_str_check(raw[i].s, strlen(raw[i].s), MTD_STR_TEXT);
		if (strstr(raw[i].why, "UTF-8"))
			assert_non_null(why);
		else
			assert_null(why);
	}
	assert_null(mtd_str_check("caf\xc3\xa9-\xf0\x9f\x93\xb1-\xe2\x80\x8b", 14, MTD_STR_ID));
	assert_null(mtd_str_check("", 0, MTD_STR_ID));
	assert_non_null(mtd_str_check("abcdefgh\x1b", 9, MTD_STR_TEXT));
	assert_non_null(mtd_str_check("abcdefghij\x7f", 11, MTD_STR_TEXT));
}

/* 19.7: a duplicate key anywhere in a message or record is refused. */
static void duplicate_keys(void **state)
{
	/* {"type":"heartbeat","at":5,"x":{"k":1,"k":2}} */
	static const unsigned char nested[] = {0x83, HB_TYPE, HB_AT, 0x05, 0xa1, 'x', 0x82,
					       0xa1, 'k', 0x01, 0xa1, 'k', 0x02};
	/* the same key as fixstr and as str8 */
	static const unsigned char enc[] = {0x83, HB_TYPE, HB_AT, 0x05, 0xd9, 0x02, 'a', 't', 0x06};
	unsigned char big[1 + 2 + 40 * 4 + 8];
	size_t k = 0;
	mtd_msg m;
	char err[200];
	json_t *v;
	(void)state;

	assert_int_equal(bytes_rc(nested, sizeof nested, &m), MTD_EMALFORMED);
	assert_contains(err_, "duplicate key 'k'");
	assert_int_equal(bytes_rc(enc, sizeof enc, &m), MTD_EMALFORMED);
	assert_contains(err_, "duplicate key 'at'");
	/* inside a threat, read field by field */
	{
		msgpack_sbuffer sb;
		msgpack_packer pk;
		msgpack_sbuffer_init(&sb);
		msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
		msgpack_pack_map(&pk, 5);
		msgpack_pack_str_with_body(&pk, "type", 4);
		msgpack_pack_str_with_body(&pk, "threat", 6);
		msgpack_pack_str_with_body(&pk, "device", 6);
		msgpack_pack_str_with_body(&pk, "d", 1);
		msgpack_pack_str_with_body(&pk, "level", 5);
		msgpack_pack_str_with_body(&pk, "low", 3);
		msgpack_pack_str_with_body(&pk, "at", 2);
		msgpack_pack_int(&pk, 1);
		msgpack_pack_str_with_body(&pk, "threats", 7);
		msgpack_pack_array(&pk, 1);
		msgpack_pack_map(&pk, 3);
		msgpack_pack_str_with_body(&pk, "category", 8);
		msgpack_pack_str_with_body(&pk, "app", 3);
		msgpack_pack_str_with_body(&pk, "level", 5);
		msgpack_pack_str_with_body(&pk, "low", 3);
		msgpack_pack_str_with_body(&pk, "category", 8);
		msgpack_pack_str_with_body(&pk, "os", 2);
		assert_int_equal(mtd_decode_msg(sb.data, sb.size, &m, err, sizeof err), MTD_EMALFORMED);
		assert_contains(err, "threats[0]': duplicate key 'category'");
		msgpack_sbuffer_destroy(&sb);
	}
	/* a map of more than 16 keys (sorted, not compared pairwise) */
	big[k++] = 0xde;
	big[k++] = 0;
	big[k++] = 41;
	for (int i = 0; i < 40; i++) {
		big[k++] = 0xa2;
		big[k++] = (unsigned char)('a' + i / 26);
		big[k++] = (unsigned char)('a' + i % 26);
		big[k++] = 0xc0;
	}
	big[k++] = 0xa2, big[k++] = 'b', big[k++] = 'c', big[k++] = 0x01; /* = key 28 */
	assert_int_equal(mtd_sdk_msgpack_frame(big, k, &(size_t){0}), 1);
	v = mtd_sdk_parse(big, k, err, sizeof err);
	assert_null(v);
	assert_contains(err, "duplicate key 'bc'");
	v = mtd_sdk_parse(nested, sizeof nested, err, sizeof err);
	assert_null(v);
	assert_contains(err, "duplicate key 'k'");
	v = mtd_sdk_parse("{\"x\":{\"k\":1,\"k\":2}}", 19, err, sizeof err);
	assert_null(v);
	assert_contains(err, "duplicate");
	/* a device record read from msgpack */
	{
		rd x;
		static const unsigned char two[] = {0x82, 0xa2, 'i', 'd', 0xa1, 'a', 0xa2, 'i', 'd', 0xa1, 'b',
						    0x81, 0xa2, 'i', 'd', 0xa1, 'c'};
		rd_open(&x, two, sizeof two, "d.mp");
		NEXT_BAD(&x, MTD_READ_TREE, "duplicate key 'id'", "d.mp record 1 (byte 0)");
		NEXT_OK(&x, MTD_READ_TREE);
		assert_true(str_is(mtd_map_get(x.rec.obj, "id"), "c"));
		NEXT_END(&x);
		rd_close(&x);
	}
}

/* 19.5 output: one escaping for every human output; distinct texts stay
 * distinct, and a cut never splits an escape or a character. */
static void escape_text(void **state)
{
	static const struct { const char *in; const char *out; } cases[] = {
		{"plain id-1", "plain id-1"},
		{"caf\xc3\xa9 \xf0\x9f\x93\xb1", "caf\xc3\xa9 \xf0\x9f\x93\xb1"},
		{"a\nb\tc\rd\x7f", "a\\x0ab\\x09c\\x0dd\\x7f"},
		{"\x1b]0;t\x07\x1b[31m", "\\x1b]0;t\\x07\\x1b[31m"},
		{"\xc2\x85\xc2\x9b", "\\u0085\\u009b"},
		{"\xe2\x80\xae\xe2\x81\xa6\xd8\x9c\xe2\x80\xa8", "\\u202e\\u2066\\u061c\\u2028"},
		{"col\xff", "col\\xff"},
		{"col\xfe", "col\\xfe"},
		{"col\xef\xbf\xbd", "col\xef\xbf\xbd"},
		{"col\\xff", "col\\xff"}, /* a backslash stays: JSON text stays readable */
	};
	char out[64];
	(void)state;
	for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
		size_t n = mtd_escape(out, sizeof out, cases[i].in, strlen(cases[i].in));
		assert_string_equal(out, cases[i].out);
		assert_int_equal(n, strlen(cases[i].out));
		assert_int_equal(mtd_escape(NULL, 0, cases[i].in, strlen(cases[i].in)), n);
	}
	/* cut: whole escapes and characters only */
	assert_int_equal(mtd_escape(out, 6, "ab\x1b" "cd", 5), 8);
	assert_string_equal(out, "ab");
	assert_int_equal(mtd_escape(out, 4, "a\xc3\xa9", 3), 3);
	assert_string_equal(out, "a\xc3\xa9");
	assert_int_equal(mtd_escape(out, 3, "a\xc3\xa9", 3), 3);
	assert_string_equal(out, "a");
}

static void map_get(void **state)
{
	const msgpack_object *o;
	(void)state;
	o = J("{'a':1,'ab':2,'b':null}");
	assert_int_equal(mtd_map_get(o, "a")->via.u64, 1);
	assert_int_equal(mtd_map_get(o, "ab")->via.u64, 2);
	assert_int_equal(mtd_map_get(o, "b")->type, MSGPACK_OBJECT_NIL);
	assert_null(mtd_map_get(o, "c"));
	assert_null(mtd_map_get(o, ""));
	assert_null(mtd_map_get(NULL, "a"));
	assert_null(mtd_map_get(J("[1]"), "a"));
	assert_true(str_is(mtd_map_get(J("{'k':'v'}"), "k"), "v"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_teardown(json_lines_blank_and_crlf, rd_teardown),
		cmocka_unit_test_teardown(json_malformed_line_does_not_stop, rd_teardown),
		cmocka_unit_test_teardown(json_leading_whitespace, rd_teardown),
		cmocka_unit_test_teardown(json_frame_only, rd_teardown),
		cmocka_unit_test_teardown(json_pretty_documents, rd_teardown),
		cmocka_unit_test_teardown(json_array_of_records, rd_teardown),
		cmocka_unit_test_teardown(json_huge_array_streamed, rd_teardown),
		cmocka_unit_test_teardown(sse_stream, rd_teardown),
		cmocka_unit_test_teardown(sse_oversized_event, rd_teardown),
		cmocka_unit_test_teardown(json_overlong_line, rd_teardown),
		cmocka_unit_test_teardown(json_large_line_within_limit, rd_teardown),
		cmocka_unit_test_teardown(json_line_at_limit, rd_teardown),
		cmocka_unit_test(json_many_blank_lines_first),
		cmocka_unit_test(json_many_blank_lines_between),
		cmocka_unit_test_teardown(empty_input, rd_teardown),
		cmocka_unit_test_teardown(msgpack_stream_positions, rd_teardown),
		cmocka_unit_test_teardown(msgpack_record_at_limit, rd_teardown),
		cmocka_unit_test_teardown(msgpack_truncated_last_record, rd_teardown),
		cmocka_unit_test_teardown(msgpack_hostile_header, rd_teardown),
		cmocka_unit_test_teardown(msgpack_depth_and_garbage, rd_teardown),
		cmocka_unit_test_teardown(format_detection, rd_teardown),
		cmocka_unit_test_teardown(decode_msg_valid, J_teardown),
		cmocka_unit_test_teardown(decode_msg_device_ref, J_teardown),
		cmocka_unit_test_teardown(decode_msg_threat_event, J_teardown),
		cmocka_unit_test_teardown(decode_msg_missing_fields, J_teardown),
		cmocka_unit_test_teardown(decode_msg_wrong_types, J_teardown),
		cmocka_unit_test_teardown(decode_msg_unknown_values, J_teardown),
		cmocka_unit_test_teardown(decode_msg_limits, J_teardown),
		cmocka_unit_test_teardown(decode_msg_control_every_position, J_teardown),
		cmocka_unit_test_teardown(decode_msg_control_chars, J_teardown),
		cmocka_unit_test_teardown(decode_msg_times, J_teardown),
		cmocka_unit_test_teardown(strict_identifiers, J_teardown),
		cmocka_unit_test_teardown(duplicate_keys, rd_teardown),
		cmocka_unit_test(decode_msg_bytes),
		cmocka_unit_test_teardown(reader_msg_one_walk, rd_teardown),
		cmocka_unit_test_teardown(decode_device_valid, J_teardown),
		cmocka_unit_test_teardown(decode_msg_task, J_teardown),
		cmocka_unit_test_teardown(decode_device_bad, J_teardown),
		cmocka_unit_test_teardown(decode_device_limits, J_teardown),
		cmocka_unit_test_teardown(decode_app, J_teardown),
		cmocka_unit_test_teardown(map_get, J_teardown),
		cmocka_unit_test(escape_text),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
