/* fuzz_msg: the normalized channel decoder. The input is one input file
 * (JSON text: lines, pretty or concatenated documents, a top-level array;
 * a text/event-stream; or a msgpack stream: the reader detects which), read record by
 * record with mtd_reader and each record decoded from its bytes with
 * mtd_decode_msg, and checked against msgpack-c's reading of the same bytes;
 * and read as 'mtdgate ingest --normalized' does (MTD_READ_MSG: framed and
 * decoded in one walk), which must agree with the two steps. Checked beyond "no crash": the reader
 * ends, errors are one NUL-terminated line, framing does not depend on
 * parsing, and what the decoder accepts meets SPEC 4.1 and the README's
 * limits. */
#include <stdlib.h>
#include <string.h>

#include "codec.h"
#include "fuzz.h"
#include "mtdgate/mtdgate.h"

/* An error message: NUL-terminated inside its buffer, one line, not empty. */
static void check_err(const char *err, size_t n)
{
	FUZZ_CHECK(memchr(err, '\0', n) != NULL);
	FUZZ_CHECK(err[0] != '\0');
	FUZZ_CHECK(strchr(err, '\n') == NULL);
}

/* The message as msgpack-c sees it agrees with what the byte decoder
 * accepted: an independent reading of the same bytes. */
static int str_is(const msgpack_object *o, const char *p, size_t n)
{
	return o && o->type == MSGPACK_OBJECT_STR && o->via.str.size == n &&
	       (n == 0 || !memcmp(o->via.str.ptr, p, n));
}

static void check_tree(const void *mp, size_t len, const mtd_msg *m)
{
	msgpack_zone z;
	msgpack_object o;
	const msgpack_object *a;
	size_t off = 0;

	FUZZ_CHECK(msgpack_zone_init(&z, 1024));
	FUZZ_CHECK(msgpack_unpack(mp, len, &off, &z, &o) == MSGPACK_UNPACK_SUCCESS && off == len);
	FUZZ_CHECK(o.type == MSGPACK_OBJECT_MAP);
	FUZZ_CHECK(str_is(mtd_map_get(&o, "type"), mtd_msg_type_name(m->type),
			  strlen(mtd_msg_type_name(m->type))));
	if (m->refs) {
		const msgpack_object *r = mtd_map_get(&o, "device_ref");
		FUZZ_CHECK(r && r->type == MSGPACK_OBJECT_MAP);
		for (int k = 0; k < MTD_NREF; k++)
			if (m->refs >> k & 1)
				FUZZ_CHECK(str_is(mtd_map_get(r, mtd_ref_name(k)), m->ref[k].p,
						  m->ref[k].n));
			else
				FUZZ_CHECK(!mtd_map_get(r, mtd_ref_name(k)));
	} else if (m->type == MTD_MSG_THREAT || m->type == MTD_MSG_THREAT_EVENT) {
		FUZZ_CHECK(str_is(mtd_map_get(&o, "device"), m->device.p, m->device.n));
	}
	if (m->type == MTD_MSG_THREAT_EVENT)
		FUZZ_CHECK(str_is(mtd_map_get(mtd_map_get(&o, "threat"), "id"), m->event.id.p,
				  m->event.id.n));
	if (m->type == MTD_MSG_THREAT) {
		FUZZ_CHECK(str_is(mtd_map_get(&o, "level"), mtd_level_name(m->level),
				  strlen(mtd_level_name(m->level))));
		a = mtd_map_get(&o, "threats");
		if (m->threats)
			FUZZ_CHECK(a && a->type == MSGPACK_OBJECT_ARRAY &&
				   a->via.array.size == m->nthreats);
		else
			FUZZ_CHECK(!a || a->type == MSGPACK_OBJECT_NIL);
	}
	if (m->type == MTD_MSG_ERROR)
		FUZZ_CHECK(str_is(mtd_map_get(&o, "code"), m->code.p, m->code.n));
	msgpack_zone_destroy(&z);
}

static void check_msg(const void *mp, size_t len)
{
	mtd_msg m;
	char *err = malloc(600), *small = malloc(8);
	int rc, rc2;

	FUZZ_CHECK(err && small);
	err[0] = '\0';
	rc = mtd_decode_msg(mp, len, &m, err, 600);
	FUZZ_CHECK(rc == 0 || rc == MTD_EMALFORMED);
	if (rc) {
		check_err(err, 600);
	} else {
		FUZZ_CHECK(m.type >= MTD_MSG_THREAT && m.type <= MTD_MSG_LAST);
		if (m.type == MTD_MSG_THREAT || m.type == MTD_MSG_THREAT_EVENT) {
			/* a device, or identifiers, never both */
			FUZZ_CHECK(!m.device.p != !m.refs);
			for (int k = 0; k < MTD_NREF; k++)
				FUZZ_CHECK(!(m.refs >> k & 1) ||
					   (m.ref[k].n >= 1 && m.ref[k].n <= MTD_MAX_ID &&
					    fuzz_ctl_bytes(m.ref[k].p, m.ref[k].n) == 0));
			FUZZ_CHECK(!(m.refs >> MTD_REF_USER & 1) || m.ref_platform >= 0);
		}
		if (m.type == MTD_MSG_THREAT_EVENT) {
			FUZZ_CHECK(m.state == MTD_EVENT_OPEN || m.state == MTD_EVENT_RESOLVED);
			FUZZ_CHECK(m.event.id.p && m.event.id.n >= 1 && m.event.id.n <= MTD_MAX_ID);
			FUZZ_CHECK(m.state != MTD_EVENT_OPEN ||
				   (m.event.category.p && m.event.level >= MTD_LEVEL_SECURED));
		}
		FUZZ_CHECK(strcmp(mtd_msg_type_name(m.type), "?") != 0);
		if (m.type == MTD_MSG_THREAT) {
			mtd_threat t;
			size_t pos = 0;
			uint32_t k = 0;
			FUZZ_CHECK(m.refs || (m.device.p && m.device.n >= 1 && m.device.n <= MTD_MAX_ID));
			FUZZ_CHECK(!m.device.p || fuzz_ctl_bytes(m.device.p, m.device.n) == 0);
			FUZZ_CHECK(!m.device.p || !mtd_str_check(m.device.p, m.device.n, MTD_STR_ID));
			FUZZ_CHECK(m.level >= MTD_LEVEL_SECURED && m.level <= MTD_LEVEL_HIGH);
			FUZZ_CHECK(m.os_supported >= -1 && m.os_supported <= 1);
			FUZZ_CHECK(m.nthreats <= MTD_MAX_THREATS);
			/* the kept bytes lie inside the message */
			FUZZ_CHECK(!m.threats ||
				   ((const char *)m.threats >= (const char *)mp &&
				    (const char *)m.threats + m.threats_len <= (const char *)mp + len));
			while (mtd_msg_threat(&m, &pos, &t)) {
				FUZZ_CHECK(t.category.p && t.category.n >= 2 && t.category.n <= 7);
				FUZZ_CHECK(t.level >= MTD_LEVEL_SECURED && t.level <= MTD_LEVEL_HIGH);
				FUZZ_CHECK(!t.id.p || fuzz_ctl_bytes(t.id.p, t.id.n) == 0);
				k++;
			}
			FUZZ_CHECK(k == m.nthreats);
			FUZZ_CHECK(!m.nthreats || pos == m.threats_len); /* all of it read */
		}
		if (m.type == MTD_MSG_ERROR) {
			FUZZ_CHECK(m.code.p && m.code.n >= 1 && m.code.n <= MTD_MAX_ID);
			FUZZ_CHECK(fuzz_ctl_bytes(m.code.p, m.code.n) == 0);
			FUZZ_CHECK(!mtd_str_check(m.code.p, m.code.n, MTD_STR_ID));
		}
		check_tree(mp, len, &m);
	}
	/* A tiny error buffer changes nothing but the message's length. */
	rc2 = mtd_decode_msg(mp, len, &m, small, 8);
	FUZZ_CHECK(rc2 == rc);
	if (rc2)
		FUZZ_CHECK(memchr(small, '\0', 8) != NULL);
	free(err);
	free(small);
}

/* Read every record; returns how many records (good or bad) there were. */
static uint64_t read_all(const uint8_t *data, size_t size, int parse)
{
	FILE *f = fuzz_memfile(data, size);
	mtd_reader *r = mtd_reader_new(f, "fuzz.in");
	mtd_record rec;
	char err[600];
	uint64_t n = 0, last_index = 0;
	int k;

	FUZZ_CHECK(r != NULL);
	for (;;) {
		memset(&rec, 0, sizeof rec);
		err[0] = '\0';
		k = mtd_reader_next(r, &rec, parse, err, sizeof err);
		if (k == 0)
			break;
		FUZZ_CHECK(k == 1 || k == MTD_EMALFORMED || k == MTD_ENOMEM);
		if (k == MTD_ENOMEM)
			break;
		n++;
		/* Every record uses at least one byte: the reader must end. */
		FUZZ_CHECK(n <= (uint64_t)size + 1);
		FUZZ_CHECK(mtd_reader_where(r)[0] != '\0');
		FUZZ_CHECK(mtd_reader_format(r) == MTD_FMT_JSON ||
			   mtd_reader_format(r) == MTD_FMT_MSGPACK ||
			   mtd_reader_format(r) == MTD_FMT_SSE);
		if (k == MTD_EMALFORMED) {
			check_err(err, sizeof err);
			continue;
		}
		/* (JSON: blank lines count too, so index is not always n) */
		FUZZ_CHECK(rec.index >= n && rec.index > last_index);
		last_index = rec.index;
		FUZZ_CHECK(rec.raw && rec.raw_len > 0 && rec.raw_len <= MTD_MAX_RECORD);
		if (mtd_reader_format(r) == MTD_FMT_SSE) {
			/* an event's data lines, joined: all of them from the input */
			FUZZ_CHECK(rec.offset < size && rec.raw_len <= size);
		} else {
			FUZZ_CHECK(rec.offset + rec.raw_len <= size);
			FUZZ_CHECK(!memcmp(rec.raw, data + rec.offset, rec.raw_len));
		}
		FUZZ_CHECK((rec.obj != NULL) == (parse == MTD_READ_TREE));
		FUZZ_CHECK((rec.mp != NULL) == (parse != MTD_READ_FRAME));
		if (rec.mp)
			check_msg(rec.mp, rec.mp_len);
	}
	mtd_reader_free(r);
	fclose(f);
	return n;
}

/* Two decodings of the same message: the same fields, borrowed from the
 * same places of their records (ma in a record at ra, mb at rb). */
static void same_msg(const mtd_msg *ma, const void *ra, const mtd_msg *mb, const void *rb)
{
	const char *a = ra, *b = rb;
	FUZZ_CHECK(ma->type == mb->type && ma->at == mb->at && ma->level == mb->level &&
		   ma->os_supported == mb->os_supported && ma->nthreats == mb->nthreats &&
		   ma->threats_len == mb->threats_len);
	FUZZ_CHECK(!ma->threats == !mb->threats);
	FUZZ_CHECK(!ma->threats || (const char *)ma->threats - a == (const char *)mb->threats - b);
	FUZZ_CHECK(ma->device.n == mb->device.n && !ma->device.p == !mb->device.p);
	FUZZ_CHECK(!ma->device.p || ma->device.p - a == mb->device.p - b);
	FUZZ_CHECK(ma->code.n == mb->code.n && !ma->code.p == !mb->code.p);
	FUZZ_CHECK(!ma->code.p || ma->code.p - a == mb->code.p - b);
	FUZZ_CHECK(ma->refs == mb->refs && ma->ref_platform == mb->ref_platform &&
		   ma->state == mb->state && ma->event.level == mb->event.level);
	for (int k = 0; k < MTD_NREF; k++)
		FUZZ_CHECK(!(ma->refs >> k & 1) || (ma->ref[k].n == mb->ref[k].n &&
						     ma->ref[k].p - a == mb->ref[k].p - b));
	FUZZ_CHECK(ma->event.id.n == mb->event.id.n && !ma->event.id.p == !mb->event.id.p);
	FUZZ_CHECK(!ma->event.id.p || ma->event.id.p - a == mb->event.id.p - b);
}

/* MTD_READ_MSG, which frames and decodes a msgpack record in one walk,
 * against MTD_READ_BYTES and mtd_decode_msg of each record, as ingest read
 * them before: the same records, messages and errors. */
static void read_msgs(const uint8_t *data, size_t size)
{
	FILE *fa = fuzz_memfile(data, size), *fb = fuzz_memfile(data, size);
	mtd_reader *a = mtd_reader_new(fa, "fuzz.in"), *b = mtd_reader_new(fb, "fuzz.in");
	mtd_record ra, rb;
	mtd_msg mb;
	char ea[600], eb[600];

	FUZZ_CHECK(a && b);
	for (;;) {
		int ka, kb;
		ea[0] = eb[0] = '\0';
		ka = mtd_reader_next(a, &ra, MTD_READ_MSG, ea, sizeof ea);
		kb = mtd_reader_next(b, &rb, MTD_READ_BYTES, eb, sizeof eb);
		if (kb == 1 && mtd_decode_msg(rb.mp, rb.mp_len, &mb, eb, sizeof eb))
			kb = MTD_EMALFORMED;
		FUZZ_CHECK(ka == kb);
		if (ka == 0 || ka == MTD_ENOMEM)
			break;
		FUZZ_CHECK(strcmp(mtd_reader_where(a), mtd_reader_where(b)) == 0);
		if (ka == MTD_EMALFORMED) {
			FUZZ_CHECK(strcmp(ea, eb) == 0);
			continue;
		}
		FUZZ_CHECK(ka == 1 && ra.msg && !rb.msg);
		FUZZ_CHECK(ra.index == rb.index && ra.offset == rb.offset && ra.raw_len == rb.raw_len &&
			   ra.mp_len == rb.mp_len && !memcmp(ra.mp, rb.mp, ra.mp_len));
		same_msg(ra.msg, ra.mp, &mb, rb.mp);
	}
	mtd_reader_free(a);
	mtd_reader_free(b);
	fclose(fa);
	fclose(fb);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	read_msgs(data, size);
	uint64_t tree = read_all(data, size, MTD_READ_TREE);
	uint64_t bytes = read_all(data, size, MTD_READ_BYTES);
	uint64_t framed = read_all(data, size, MTD_READ_FRAME);
	/* Parsing decides whether a record is good, never where it ends. */
	FUZZ_CHECK(tree == framed && bytes == framed);
	return 0;
}
