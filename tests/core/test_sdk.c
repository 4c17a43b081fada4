/* Unit tests of the plugin SDK (plugins/sdk): times, levels, payload
 * parsing with its limits, JSON -> msgpack, message emission (device_ref,
 * threat_event), element errors and the ABI 1.1 capability tests. */
#include "testutil.h"

#include <msgpack.h>

#include "codec.h"
#include "mtdgate/mtdgate.h"
#include "mtdgate/sdk.h"

#define T_REF INT64_C(1736941754) /* 2025-01-15T11:49:14Z */

static int64_t parse_ok(const char *s)
{
	int64_t t = -12345;
	int rc = mtd_time_parse(s, strlen(s), &t);
	if (rc != 0)
		fail_msg("mtd_time_parse(\"%s\") refused a valid time", s);
	return t;
}

static void parse_bad(const char *s)
{
	int64_t t = -12345;
	if (mtd_time_parse(s, strlen(s), &t) != -1)
		fail_msg("mtd_time_parse(\"%s\") accepted an invalid time as %lld", s,
			 (long long)t);
}

/* ---- times ---- */

static void time_rfc3339(void **state)
{
	(void)state;
	assert_int_equal(parse_ok("2025-01-15T11:49:14Z"), T_REF);
	assert_int_equal(parse_ok("2025-01-15t11:49:14z"), T_REF);
	assert_int_equal(parse_ok("2025-01-15T11:49:14.479Z"), T_REF);
	assert_int_equal(parse_ok("2025-01-15T11:49:14.479+00:00"), T_REF);
	assert_int_equal(parse_ok("2025-01-15T11:49:14.123456789-00:00"), T_REF);
	assert_int_equal(parse_ok("2025-01-15T12:49:14+01:00"), T_REF);
	assert_int_equal(parse_ok("2025-01-15T12:49:14+0100"), T_REF);
	assert_int_equal(parse_ok("2025-01-15T06:49:14-05:00"), T_REF);
	assert_int_equal(parse_ok("2025-01-16T01:19:14+13:30"), T_REF);
	/* an offset crossing midnight backwards */
	assert_int_equal(parse_ok("2025-01-14T23:49:14-12:00"), T_REF);
}

static void time_other_forms(void **state)
{
	(void)state;
	assert_int_equal(parse_ok("2025-01-15 11:49:14"), T_REF);
	assert_int_equal(parse_ok("2025-01-15 11:49:14Z"), T_REF);
	assert_int_equal(parse_ok("2025-01-15 11:49:14.5"), T_REF);
	assert_int_equal(parse_ok("2025-01-15 11:49:14 UTC"), T_REF);
	assert_int_equal(parse_ok("2025-01-15 11:49:14 +0000"), T_REF);
	assert_int_equal(parse_ok("2025-01-15 12:49:14 +0100"), T_REF);
	assert_int_equal(parse_ok("01/15/2025 11:49:14"), T_REF);
	assert_int_equal(parse_ok("1736941754"), T_REF);
	assert_int_equal(parse_ok("0"), 0);
	assert_int_equal(parse_ok("2025-01-15"), T_REF - (11 * 3600 + 49 * 60 + 14));
	assert_int_equal(parse_ok("2024-02-29T00:00:00Z"), INT64_C(1709164800));
	assert_int_equal(parse_ok("2000-02-29T12:00:00Z"), INT64_C(951825600));
	assert_int_equal(parse_ok("9999-12-31T23:59:59Z"), INT64_C(253402300799));
	/* a leap second is clamped, not refused */
	assert_int_equal(parse_ok("2016-12-31T23:59:60Z"), INT64_C(1483228799));
}

static void time_not_nul_terminated(void **state)
{
	int64_t t = 0;
	const char buf[] = "2025-01-15T11:49:14Zjunk";
	const char num[] = "17369417549999";
	(void)state;
	assert_int_equal(mtd_time_parse(buf, 20, &t), 0);
	assert_int_equal(t, T_REF);
	assert_int_equal(mtd_time_parse(buf, 10, &t), 0); /* the date alone */
	assert_int_equal(t, T_REF - (11 * 3600 + 49 * 60 + 14));
	assert_int_equal(mtd_time_parse(num, 10, &t), 0);
	assert_int_equal(t, T_REF);
	assert_int_equal(mtd_time_parse(buf, 19 + 5, &t), -1); /* with the junk */
	assert_int_equal(mtd_time_parse(NULL, 0, &t), -1);
	assert_int_equal(mtd_time_parse(buf, 0, &t), -1);
}

static void time_invalid(void **state)
{
	static const char *const bad[] = {
		"2025-02-30T00:00:00Z", /* no Feb 30 */
		"2025-02-29T00:00:00Z", /* 2025 is not a leap year */
		"1900-02-29T00:00:00Z", /* nor is 1900 */
		"2025-04-31T00:00:00Z",
		"2025-01-15T24:00:00Z", /* hour 24 */
		"2025-01-15T23:60:00Z",
		"2025-01-15T23:59:61Z",
		"2025-13-01T00:00:00Z",
		"2025-00-10T00:00:00Z",
		"2025-01-00T00:00:00Z",
		"2025-01-32T00:00:00Z",
		"2025-1-15T11:49:14Z",
		"2025-01-15T11:49Z",
		"2025-01-15T11:49:14+25:00",
		"2025-01-15T11:49:14+01:60",
		"2025-01-15T11:49:14+1",
		"2025-01-15T11:49:14X",
		"2025-01-15T11:49:14.Z",  /* a dot without digits */
		"2025-01-15T11:49:14ZZ",
		"2025-01-15X11:49:14Z",
		"1969-12-31T23:59:59Z", /* before the epoch */
		"02/30/2025 11:49:14",
		"13/01/2025 11:49:14",
		"01/15/2025 24:00:00",
		"01/15/2025",
		"garbage",
		"yesterday",
		"-1",
		"+1736941754",
		"1736941754.5",
		" 1736941754",
		"12345678901234", /* more digits than any time of ours */
		"2025-01-15T11:49:14Z and some more text after the time, far too long to be one",
	};
	(void)state;
	for (size_t i = 0; i < sizeof bad / sizeof *bad; i++)
		parse_bad(bad[i]);
	parse_bad("");
}

static void time_format_round_trip(void **state)
{
	char buf[32];
	int64_t t;
	(void)state;
	assert_string_equal(mtd_time_format(T_REF, buf, sizeof buf), "2025-01-15T11:49:14Z");
	assert_string_equal(mtd_time_format(0, buf, sizeof buf), "1970-01-01T00:00:00Z");
	assert_string_equal(mtd_time_format(951825600, buf, sizeof buf),
			    "2000-02-29T12:00:00Z");
	assert_string_equal(mtd_time_format(INT64_C(253402300799), buf, sizeof buf),
			    "9999-12-31T23:59:59Z");
	assert_string_equal(mtd_time_format(-1, buf, sizeof buf), "1969-12-31T23:59:59Z");
	/* every formatted time parses back to itself: 1970..2100 in uneven steps
	 * that visit every month, day and leap day */
	for (t = 0; t < INT64_C(4102444800); t += 86400 * 3 + 3607) {
		int64_t back = -1;
		mtd_time_format(t, buf, sizeof buf);
		if (mtd_time_parse(buf, strlen(buf), &back) != 0 || back != t)
			fail_msg("%lld formats as %s, which parses back as %lld", (long long)t,
				 buf, (long long)back);
	}
}

/* ---- levels ---- */

static void levels(void **state)
{
	(void)state;
	assert_int_equal(mtd_level_from_name("secured", 7), MTD_LEVEL_SECURED);
	assert_int_equal(mtd_level_from_name("low", 3), MTD_LEVEL_LOW);
	assert_int_equal(mtd_level_from_name("medium", 6), MTD_LEVEL_MEDIUM);
	assert_int_equal(mtd_level_from_name("high", 4), MTD_LEVEL_HIGH);
	assert_int_equal(mtd_level_from_name("highway", 4), MTD_LEVEL_HIGH);
	assert_int_equal(mtd_level_from_name("high", 3), -1);
	assert_int_equal(mtd_level_from_name("High", 4), -1);
	assert_int_equal(mtd_level_from_name("HIGH", 4), -1);
	assert_int_equal(mtd_level_from_name("none", 4), -1);
	assert_int_equal(mtd_level_from_name("severe", 6), -1);
	assert_int_equal(mtd_level_from_name("", 0), -1);
	assert_int_equal(mtd_level_from_name(NULL, 0), -1);
	assert_true(MTD_LEVEL_NONE < MTD_LEVEL_SECURED && MTD_LEVEL_SECURED < MTD_LEVEL_LOW &&
		    MTD_LEVEL_LOW < MTD_LEVEL_MEDIUM && MTD_LEVEL_MEDIUM < MTD_LEVEL_HIGH);
	assert_string_equal(mtd_level_name(MTD_LEVEL_NONE), "none");
	assert_string_equal(mtd_level_name(MTD_LEVEL_SECURED), "secured");
	assert_string_equal(mtd_level_name(MTD_LEVEL_LOW), "low");
	assert_string_equal(mtd_level_name(MTD_LEVEL_MEDIUM), "medium");
	assert_string_equal(mtd_level_name(MTD_LEVEL_HIGH), "high");
	assert_string_equal(mtd_level_name(5), "?");
	assert_string_equal(mtd_level_name(-1), "?");
	for (int l = MTD_LEVEL_SECURED; l <= MTD_LEVEL_HIGH; l++)
		assert_int_equal(mtd_level_from_name(mtd_level_name(l), strlen(mtd_level_name(l))),
				 l);
}

/* ---- parse ---- */

static json_t *parse_str(const char *s, char *err, size_t n)
{
	return mtd_sdk_parse(s, strlen(s), err, n);
}

static void parse_json(void **state)
{
	char err[256] = "";
	json_t *v;
	int64_t t = 0;
	(void)state;

	v = parse_str(" \r\n{\"device\":{\"info\":{\"id\":\"d1\"}},\"at\":\"2025-01-15T11:49:14Z\","
		      "\"ms\":1736941754000,\"s\":1736941754,\"neg\":-5,\"n\":null}\n",
		      err, sizeof err);
	if (!v)
		fail_msg("valid JSON refused: %s", err);
	assert_string_equal(mtd_sdk_str(v, "device.info.id"), "d1");
	assert_null(mtd_sdk_str(v, "device.info.missing"));
	assert_null(mtd_sdk_str(v, "device.info.id.deeper"));
	assert_null(mtd_sdk_str(v, "device.info")); /* an object, not a string */
	assert_null(mtd_sdk_path(v, "device..info"));
	assert_non_null(mtd_sdk_path(v, "device.info"));
	assert_int_equal(mtd_sdk_time(v, "at", &t), 0);
	assert_int_equal(t, T_REF);
	assert_int_equal(mtd_sdk_time(v, "ms", &t), 0); /* milliseconds */
	assert_int_equal(t, T_REF);
	assert_int_equal(mtd_sdk_time(v, "s", &t), 0);
	assert_int_equal(t, T_REF);
	assert_int_equal(mtd_sdk_time(v, "neg", &t), -1);
	assert_int_equal(mtd_sdk_time(v, "n", &t), -1);
	assert_int_equal(mtd_sdk_time(v, "missing", &t), -1);
	assert_int_equal(mtd_sdk_time(v, "device", &t), -1);
	json_decref(v);

	v = parse_str("[1,2,3]", err, sizeof err);
	assert_non_null(v);
	assert_int_equal(json_array_size(v), 3);
	json_decref(v);
}

static void parse_json_bad(void **state)
{
	static const char *const bad[] = {
		"{\"a\":1",          /* truncated */
		"{\"a\":1} x",       /* trailing garbage */
		"{\"a\":1}{\"b\":2}", /* two documents */
		"{\"a\":1,\"a\":2}",  /* duplicate key */
		"{a:1}",
		"[1,]",
		"{\"a\":\"\\u0000\"}", /* NUL inside a string */
	};
	char err[256];
	(void)state;
	for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
		json_t *v;
		err[0] = '\0';
		v = parse_str(bad[i], err, sizeof err);
		if (v) {
			json_decref(v);
			fail_msg("invalid JSON accepted: %s", bad[i]);
		}
		assert_true(err[0] != '\0');
		assert_one_line(err);
	}
	err[0] = '\0';
	assert_null(mtd_sdk_parse("", 0, err, sizeof err));
	assert_contains(err, "empty");
	assert_null(mtd_sdk_parse(NULL, 0, err, sizeof err));
	/* err may be NULL */
	assert_null(mtd_sdk_parse("{", 1, NULL, 0));
}

/* msgpack helpers */
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

static void parse_msgpack(void **state)
{
	mp m;
	char err[256] = "";
	json_t *v, *a;
	(void)state;

	mp_init(&m);
	msgpack_pack_map(&m.pk, 4);
	mp_str(&m, "device");
	mp_str(&m, "d1");
	mp_str(&m, "list");
	msgpack_pack_array(&m.pk, 6);
	msgpack_pack_true(&m.pk);
	msgpack_pack_nil(&m.pk);
	mp_str(&m, "x");
	msgpack_pack_int64(&m.pk, -5);
	msgpack_pack_double(&m.pk, 1.5);
	msgpack_pack_float(&m.pk, 0.25f);
	mp_str(&m, "big");
	msgpack_pack_uint64(&m.pk, UINT64_C(1) << 40);
	mp_str(&m, "inner");
	msgpack_pack_map(&m.pk, 1);
	mp_str(&m, "k");
	msgpack_pack_false(&m.pk);

	v = mtd_sdk_parse(m.sb.data, m.sb.size, err, sizeof err);
	if (!v)
		fail_msg("valid msgpack refused: %s", err);
	assert_string_equal(mtd_sdk_str(v, "device"), "d1");
	a = json_object_get(v, "list");
	assert_int_equal(json_array_size(a), 6);
	assert_true(json_is_true(json_array_get(a, 0)));
	assert_true(json_is_null(json_array_get(a, 1)));
	assert_string_equal(json_string_value(json_array_get(a, 2)), "x");
	assert_int_equal(json_integer_value(json_array_get(a, 3)), -5);
	assert_true(json_real_value(json_array_get(a, 4)) == 1.5);
	assert_true(json_real_value(json_array_get(a, 5)) == 0.25);
	assert_int_equal(json_integer_value(json_object_get(v, "big")), (json_int_t)1 << 40);
	assert_true(json_is_false(mtd_sdk_path(v, "inner.k")));
	json_decref(v);

	/* truncated: every proper prefix is refused */
	for (size_t n = 1; n < m.sb.size; n++) {
		err[0] = '\0';
		v = mtd_sdk_parse(m.sb.data, n, err, sizeof err);
		if (v) {
			json_decref(v);
			fail_msg("msgpack truncated to %zu of %zu bytes accepted", n, m.sb.size);
		}
		assert_true(err[0] != '\0');
	}
	v = mtd_sdk_parse(m.sb.data, m.sb.size - 1, err, sizeof err);
	assert_null(v);
	assert_contains(err, "truncated");

	/* trailing bytes: a second object after the first */
	msgpack_pack_int(&m.pk, 1);
	err[0] = '\0';
	v = mtd_sdk_parse(m.sb.data, m.sb.size, err, sizeof err);
	assert_null(v);
	assert_contains(err, "trailing");
	msgpack_sbuffer_destroy(&m.sb);
}

static void parse_msgpack_refused_types(void **state)
{
	char err[256];
	json_t *v;
	mp m;
	(void)state;

	/* binary value */
	mp_init(&m);
	msgpack_pack_map(&m.pk, 1);
	mp_str(&m, "b");
	msgpack_pack_bin(&m.pk, 3);
	msgpack_pack_bin_body(&m.pk, "abc", 3);
	err[0] = '\0';
	v = mtd_sdk_parse(m.sb.data, m.sb.size, err, sizeof err);
	assert_null(v);
	assert_contains(err, "binary");
	msgpack_sbuffer_destroy(&m.sb);

	/* extension value */
	mp_init(&m);
	msgpack_pack_array(&m.pk, 1);
	msgpack_pack_ext(&m.pk, 4, 7);
	msgpack_pack_ext_body(&m.pk, "abcd", 4);
	err[0] = '\0';
	v = mtd_sdk_parse(m.sb.data, m.sb.size, err, sizeof err);
	assert_null(v);
	assert_contains(err, "extension");
	msgpack_sbuffer_destroy(&m.sb);

	/* a map key that is not a string */
	mp_init(&m);
	msgpack_pack_map(&m.pk, 1);
	msgpack_pack_int(&m.pk, 1);
	msgpack_pack_int(&m.pk, 2);
	err[0] = '\0';
	v = mtd_sdk_parse(m.sb.data, m.sb.size, err, sizeof err);
	assert_null(v);
	assert_contains(err, "key");
	msgpack_sbuffer_destroy(&m.sb);

	/* a map key holding a NUL byte */
	mp_init(&m);
	msgpack_pack_map(&m.pk, 1);
	msgpack_pack_str(&m.pk, 3);
	msgpack_pack_str_body(&m.pk, "a\0b", 3);
	msgpack_pack_int(&m.pk, 2);
	v = mtd_sdk_parse(m.sb.data, m.sb.size, err, sizeof err);
	assert_null(v);
	msgpack_sbuffer_destroy(&m.sb);

	/* an unsigned integer above INT64_MAX */
	mp_init(&m);
	msgpack_pack_array(&m.pk, 1);
	msgpack_pack_uint64(&m.pk, UINT64_MAX);
	err[0] = '\0';
	v = mtd_sdk_parse(m.sb.data, m.sb.size, err, sizeof err);
	assert_null(v);
	assert_contains(err, "range");
	msgpack_sbuffer_destroy(&m.sb);

	/* 0xc1 is never msgpack */
	err[0] = '\0';
	assert_null(mtd_sdk_parse("\xc1", 1, err, sizeof err));
	assert_true(err[0] != '\0');
}

/* msgpack-c hands out a NULL pointer for an empty string (in an array, or
 * as the whole payload): still an empty string, not "out of memory". */
static void parse_msgpack_empty_string(void **state)
{
	static const struct {
		const char *bytes;
		size_t len;
	} cases[] = {{"\x91\xa0", 2}, {"\x92\xa0\x80", 3}, {"\x81\xa1k\xa0", 4}};
	(void)state;
	for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
		char err[256] = "";
		json_t *v = mtd_sdk_parse(cases[i].bytes, cases[i].len, err, sizeof err);
		json_t *s;
		if (!v)
			fail_msg("msgpack case %zu with an empty string refused: %s", i, err);
		s = json_is_array(v) ? json_array_get(v, 0) : json_object_get(v, "k");
		assert_true(json_is_string(s));
		assert_int_equal(json_string_length(s), 0);
		json_decref(v);
	}
}

/* n nested arrays around `inner` (NULL: the innermost array is empty) */
static char *nested_json(int n, const char *inner)
{
	size_t il = inner ? strlen(inner) : 0;
	char *s = malloc(2 * (size_t)n + il + 1), *p = s;
	assert_non_null(s);
	for (int i = 0; i < n; i++)
		*p++ = '[';
	memcpy(p, inner ? inner : "", il);
	p += il;
	for (int i = 0; i < n; i++)
		*p++ = ']';
	*p = '\0';
	return s;
}

static void nested_mp(mp *m, int n, int with_scalar)
{
	mp_init(m);
	for (int i = 0; i < n; i++)
		msgpack_pack_array(&m->pk, i == n - 1 && !with_scalar ? 0 : 1);
	if (with_scalar)
		msgpack_pack_int(&m->pk, 1);
}

static void expect_depth(int n, int with_scalar, int accepted)
{
	char err[256] = "";
	char *j = nested_json(n, with_scalar ? "1" : NULL);
	json_t *v = parse_str(j, err, sizeof err);
	mp m;

	if (accepted && !v)
		fail_msg("JSON nested %d deep (%s) refused: %s", n,
			 with_scalar ? "with a value inside" : "empty inside", err);
	if (!accepted && v)
		fail_msg("JSON nested %d deep (%s) accepted; the limit is %d", n,
			 with_scalar ? "with a value inside" : "empty inside", MTD_SDK_MAX_DEPTH);
	if (!accepted)
		assert_contains(err, "nested");
	json_decref(v);
	free(j);

	nested_mp(&m, n, with_scalar);
	err[0] = '\0';
	v = mtd_sdk_parse(m.sb.data, m.sb.size, err, sizeof err);
	if (accepted && !v)
		fail_msg("msgpack nested %d deep (%s) refused: %s", n,
			 with_scalar ? "with a value inside" : "empty inside", err);
	if (!accepted && v)
		fail_msg("msgpack nested %d deep (%s) accepted; the limit is %d", n,
			 with_scalar ? "with a value inside" : "empty inside", MTD_SDK_MAX_DEPTH);
	json_decref(v);
	msgpack_sbuffer_destroy(&m.sb);
}

static void parse_depth_limit(void **state)
{
	(void)state;
	/* MTD_SDK_MAX_DEPTH is the nesting of arrays/maps: 32 containers deep
	 * is fine, 33 is not, whatever the innermost holds. */
	expect_depth(MTD_SDK_MAX_DEPTH, 1, 1);
	expect_depth(MTD_SDK_MAX_DEPTH, 0, 1);
	expect_depth(MTD_SDK_MAX_DEPTH + 1, 1, 0);
	expect_depth(MTD_SDK_MAX_DEPTH + 1, 0, 0);
	expect_depth(MTD_SDK_MAX_DEPTH + 10, 1, 0);
	expect_depth(1000, 0, 0);
}

static void parse_size_limit(void **state)
{
	size_t n = MTD_SDK_MAX_PAYLOAD;
	char *s = malloc(n + 2);
	char err[256] = "";
	json_t *v;
	(void)state;

	assert_non_null(s);
	/* ["xxx...x"] of exactly the limit: accepted */
	s[0] = '[';
	s[1] = '"';
	memset(s + 2, 'x', n - 4);
	s[n - 2] = '"';
	s[n - 1] = ']';
	v = mtd_sdk_parse(s, n, err, sizeof err);
	if (!v)
		fail_msg("a payload of exactly %zu bytes refused: %s", n, err);
	json_decref(v);
	/* one byte more: refused, whatever it holds */
	s[n - 1] = 'x';
	s[n] = ']';
	v = mtd_sdk_parse(s, n + 1, err, sizeof err);
	assert_null(v);
	assert_contains(err, "exceeds");
	free(s);
}

/* A hostile 5-byte msgpack header claiming 2^32 - 1 elements (or bytes)
 * must be refused, quickly and without bringing the process down (run in a
 * child so that a crash fails this test only). */
static int hostile_child(void *arg)
{
	static const unsigned char hdr[][5] = {{0xdd, 0xff, 0xff, 0xff, 0xff},
					       {0xdf, 0xff, 0xff, 0xff, 0xff},
					       {0xdb, 0xff, 0xff, 0xff, 0xff}};
	char err[256];
	(void)arg;
	for (size_t i = 0; i < sizeof hdr / sizeof *hdr; i++) {
		json_t *v = mtd_sdk_parse(hdr[i], sizeof hdr[i], err, sizeof err);
		if (v)
			return 10 + (int)i;
	}
	return 0;
}

static void parse_hostile_header(void **state)
{
	(void)state;
	assert_child_ok(tu_run_child(hostile_child, NULL, 10),
			"mtd_sdk_parse of a 5-byte header claiming 2^32 elements");
}

/* ---- JSON -> msgpack ---- */

static void json_to_msgpack_round_trip(void **state)
{
	const char *text =
		"{\"s\":\"h\\u00e9llo \\u2603\",\"e\":\"\",\"i\":-9007199254740993,"
		"\"u\":18446744073709551615e-10,\"big\":9223372036854775807,"
		"\"small\":-128,\"r\":2.5,\"t\":true,\"f\":false,\"n\":null,"
		"\"a\":[1,[2,[3]],{\"k\":\"v\"},[]],\"o\":{},"
		"\"long\":\"0123456789012345678901234567890123456789\"}";
	char err[256] = "";
	json_t *orig = parse_str(text, err, sizeof err), *back;
	mtd_buf b = {0};
	msgpack_zone z;
	msgpack_object o;
	size_t off = 0;
	(void)state;

	assert_non_null(orig);
	assert_int_equal(mtd_sdk_json_to_msgpack(orig, &b), 0);
	assert_true(b.len > 0);
	back = mtd_sdk_parse(b.data, b.len, err, sizeof err);
	if (!back)
		fail_msg("msgpack made from JSON refused: %s", err);
	assert_true(json_equal(orig, back));
	json_decref(back);

	/* the msgpack is what msgpack-c reads, with integer types kept */
	msgpack_zone_init(&z, 1024);
	assert_int_equal(msgpack_unpack((const char *)b.data, b.len, &off, &z, &o),
			 MSGPACK_UNPACK_SUCCESS);
	assert_int_equal(off, b.len);
	assert_int_equal(o.type, MSGPACK_OBJECT_MAP);
	assert_int_equal(mtd_map_get(&o, "i")->type, MSGPACK_OBJECT_NEGATIVE_INTEGER);
	assert_int_equal(mtd_map_get(&o, "i")->via.i64, INT64_C(-9007199254740993));
	assert_int_equal(mtd_map_get(&o, "big")->via.u64, (uint64_t)INT64_MAX);
	assert_int_equal(mtd_map_get(&o, "small")->via.i64, -128);
	assert_int_equal(mtd_map_get(&o, "r")->type, MSGPACK_OBJECT_FLOAT64);
	assert_int_equal(mtd_map_get(&o, "n")->type, MSGPACK_OBJECT_NIL);
	assert_int_equal(mtd_map_get(&o, "s")->via.str.size, strlen("h\xc3\xa9llo \xe2\x98\x83"));
	assert_memory_equal(mtd_map_get(&o, "s")->via.str.ptr, "h\xc3\xa9llo \xe2\x98\x83",
			    strlen("h\xc3\xa9llo \xe2\x98\x83"));
	msgpack_zone_destroy(&z);

	/* appending: a second encoding follows the first */
	{
		size_t first = b.len;
		json_t *one = json_integer(1);
		assert_int_equal(mtd_sdk_json_to_msgpack(one, &b), 0);
		assert_int_equal(b.len, first + 1);
		assert_int_equal(b.data[first], 0x01);
		json_decref(one);
	}
	json_decref(orig);
	mtd_buf_free(&b);
	assert_null(b.data);
	assert_int_equal(b.len, 0);
}

static void json_to_msgpack_sizes(void **state)
{
	/* strings and containers around the msgpack size class boundaries */
	static const size_t sizes[] = {0, 15, 16, 31, 32, 255, 256, 65535, 65536};
	(void)state;
	for (size_t i = 0; i < sizeof sizes / sizeof *sizes; i++) {
		size_t n = sizes[i];
		char *s = malloc(n + 1);
		json_t *arr = json_array(), *obj = json_object(), *back;
		mtd_buf b = {0};
		char err[128];
		memset(s, 'a', n);
		s[n] = '\0';
		json_array_append_new(arr, json_stringn(s, n));
		for (size_t k = 0; k < (n < 300 ? n : 300); k++) {
			char key[16];
			snprintf(key, sizeof key, "k%zu", k);
			json_object_set_new(obj, key, json_integer((json_int_t)k * 1000 - 70000));
		}
		json_array_append_new(arr, obj);
		assert_int_equal(mtd_sdk_json_to_msgpack(arr, &b), 0);
		back = mtd_sdk_parse(b.data, b.len, err, sizeof err);
		if (!back || !json_equal(arr, back))
			fail_msg("round trip failed for size %zu: %s", n, back ? "differs" : err);
		json_decref(back);
		json_decref(arr);
		mtd_buf_free(&b);
		free(s);
	}
}

/* ---- emit ---- */

typedef struct sink {
	unsigned char data[4096];
	size_t len;
	int calls;
	int ret;
} sink;

static int sink_emit(void *ud, const void *data, size_t len)
{
	sink *s = ud;
	s->calls++;
	if (len > sizeof s->data)
		return -100;
	memcpy(s->data, data, len);
	s->len = len;
	return s->ret;
}

static const mtd_host_api host = {MTD_PLUGIN_ABI_VERSION, sizeof(mtd_host_api), sink_emit,
				  NULL, NULL, NULL, NULL};

static void unpack(const sink *s, msgpack_zone *z, msgpack_object *o)
{
	size_t off = 0;
	msgpack_zone_init(z, 1024);
	assert_int_equal(msgpack_unpack((const char *)s->data, s->len, &off, z, o),
			 MSGPACK_UNPACK_SUCCESS);
	assert_int_equal(off, s->len);
	assert_int_equal(o->type, MSGPACK_OBJECT_MAP);
}

static int str_is(const msgpack_object *o, const char *s)
{
	return o && o->type == MSGPACK_OBJECT_STR && o->via.str.size == strlen(s) &&
	       !memcmp(o->via.str.ptr, s, o->via.str.size);
}

static void emit_threat(void **state)
{
	mtd_sdk_threat th[2] = {{"t-1", "app", "Sideloaded app", MTD_LEVEL_HIGH},
				{NULL, "network", NULL, MTD_LEVEL_LOW}};
	mtd_sdk_msg m = {0};
	sink s = {.ret = 0};
	msgpack_zone z;
	msgpack_object o;
	const msgpack_object *a;
	mtd_msg dm;
	char err[256] = "";
	(void)state;

	m.type = "threat";
	m.device = "dev-1";
	m.level = MTD_LEVEL_HIGH;
	m.at = T_REF;
	m.threats = th;
	m.nthreats = 2;
	m.os_supported = 0;
	m.code = "ignored";
	assert_int_equal(mtd_sdk_emit(&host, &s, &m), 0);
	assert_int_equal(s.calls, 1);
	unpack(&s, &z, &o);
	assert_int_equal(o.via.map.size, 6); /* type at device level threats os_supported */
	assert_true(str_is(mtd_map_get(&o, "type"), "threat"));
	assert_int_equal(mtd_map_get(&o, "at")->via.u64, (uint64_t)T_REF);
	assert_true(str_is(mtd_map_get(&o, "device"), "dev-1"));
	assert_true(str_is(mtd_map_get(&o, "level"), "high"));
	assert_null(mtd_map_get(&o, "code"));
	assert_int_equal(mtd_map_get(&o, "os_supported")->type, MSGPACK_OBJECT_BOOLEAN);
	assert_false(mtd_map_get(&o, "os_supported")->via.boolean);
	a = mtd_map_get(&o, "threats");
	assert_int_equal(a->type, MSGPACK_OBJECT_ARRAY);
	assert_int_equal(a->via.array.size, 2);
	assert_int_equal(a->via.array.ptr[0].via.map.size, 4);
	assert_true(str_is(mtd_map_get(&a->via.array.ptr[0], "id"), "t-1"));
	assert_true(str_is(mtd_map_get(&a->via.array.ptr[0], "category"), "app"));
	assert_true(str_is(mtd_map_get(&a->via.array.ptr[0], "name"), "Sideloaded app"));
	assert_true(str_is(mtd_map_get(&a->via.array.ptr[0], "level"), "high"));
	assert_int_equal(a->via.array.ptr[1].via.map.size, 2);
	assert_null(mtd_map_get(&a->via.array.ptr[1], "id"));
	assert_true(str_is(mtd_map_get(&a->via.array.ptr[1], "level"), "low"));
	/* and the host's validator accepts what the SDK emits */
	if (mtd_decode_msg(s.data, s.len, &dm, err, sizeof err) != 0)
		fail_msg("the host refuses the SDK's own threat message: %s", err);
	assert_int_equal(dm.type, MTD_MSG_THREAT);
	assert_int_equal(dm.level, MTD_LEVEL_HIGH);
	assert_int_equal(dm.at, T_REF);
	assert_int_equal(dm.os_supported, 0);
	assert_int_equal(dm.nthreats, 2);
	{
		mtd_threat t;
		size_t pos = 0;
		assert_int_equal(mtd_msg_threat(&dm, &pos, &t), 1);
		assert_int_equal(t.id.n, 3);
		assert_memory_equal(t.id.p, "t-1", 3);
		assert_int_equal(t.level, MTD_LEVEL_HIGH);
		assert_int_equal(mtd_msg_threat(&dm, &pos, &t), 1);
		assert_null(t.id.p);
		assert_int_equal(t.category.n, strlen("network"));
		assert_int_equal(t.level, MTD_LEVEL_LOW);
		assert_int_equal(mtd_msg_threat(&dm, &pos, &t), 0);
	}
	msgpack_zone_destroy(&z);

	/* os_supported absent when -1 */
	m.os_supported = -1;
	m.nthreats = 0;
	m.threats = NULL;
	assert_int_equal(mtd_sdk_emit(&host, &s, &m), 0);
	unpack(&s, &z, &o);
	assert_int_equal(o.via.map.size, 5);
	assert_null(mtd_map_get(&o, "os_supported"));
	assert_int_equal(mtd_map_get(&o, "threats")->via.array.size, 0);
	assert_int_equal(mtd_decode_msg(s.data, s.len, &dm, err, sizeof err), 0);
	assert_int_equal(dm.os_supported, -1);
	msgpack_zone_destroy(&z);
}

static void emit_other_types(void **state)
{
	static const char *const types[] = {"heartbeat", "provision", "appsync_request"};
	mtd_sdk_msg m = {0};
	sink s = {.ret = 0};
	msgpack_zone z;
	msgpack_object o;
	mtd_msg dm;
	char err[256];
	(void)state;

	for (size_t i = 0; i < 3; i++) {
		memset(&m, 0, sizeof m);
		m.type = types[i];
		m.at = T_REF + (int64_t)i;
		m.device = "not-emitted";
		m.code = "not-emitted";
		m.os_supported = 1;
		assert_int_equal(mtd_sdk_emit(&host, &s, &m), 0);
		unpack(&s, &z, &o);
		assert_int_equal(o.via.map.size, 2);
		assert_true(str_is(mtd_map_get(&o, "type"), types[i]));
		assert_int_equal(mtd_map_get(&o, "at")->via.u64, (uint64_t)(T_REF + (int64_t)i));
		assert_int_equal(mtd_decode_msg(s.data, s.len, &dm, err, sizeof err), 0);
		msgpack_zone_destroy(&z);
	}
	memset(&m, 0, sizeof m);
	m.type = "error";
	m.at = T_REF;
	m.code = "E_AUTH";
	assert_int_equal(mtd_sdk_emit(&host, &s, &m), 0);
	unpack(&s, &z, &o);
	assert_int_equal(o.via.map.size, 3);
	assert_true(str_is(mtd_map_get(&o, "code"), "E_AUTH"));
	assert_int_equal(mtd_decode_msg(s.data, s.len, &dm, err, sizeof err), 0);
	assert_int_equal(dm.type, MTD_MSG_ERROR);
	msgpack_zone_destroy(&z);

	/* emit passes the host's verdict through */
	s.ret = -3;
	assert_int_equal(mtd_sdk_emit(&host, &s, &m), -3);
}

/* A task message: exactly the map the contract names (the optional cve,
 * software and version only when given), which the host decodes. */
static void emit_task(void **state)
{
	mtd_sdk_task t = {.id = "CVE-2024-3094/xz/5.6.0", .kind = "vulnerability",
			  .cve = "CVE-2024-3094", .software = "xz", .version = "5.6.0",
			  .severity = "critical", .first_seen = T_REF - 86400, .state = "open"};
	mtd_sdk_ref ref = {"vendor_device_id", "m-1"};
	mtd_sdk_msg m = {.type = "task", .at = T_REF, .refs = &ref, .nrefs = 1, .task = &t};
	sink s = {.ret = 0};
	msgpack_zone z;
	msgpack_object o;
	mtd_msg dm;
	char err[256];
	(void)state;

	assert_int_equal(mtd_sdk_emit(&host, &s, &m), 0);
	unpack(&s, &z, &o);
	assert_int_equal(o.via.map.size, 4); /* type, at, device_ref, task */
	assert_int_equal(mtd_map_get(&o, "task")->via.map.size, 8);
	assert_int_equal(mtd_decode_msg(s.data, s.len, &dm, err, sizeof err), 0);
	assert_int_equal(dm.type, MTD_MSG_TASK);
	assert_int_equal(dm.task.severity, MTD_SEV_CRITICAL);
	assert_int_equal(dm.task.first_seen, T_REF - 86400);
	msgpack_zone_destroy(&z);

	/* without the optional fields: the five the contract requires */
	t = (mtd_sdk_task){.id = "sca-_-scid-2000", .kind = "recommendation", .severity = "low",
			   .first_seen = T_REF, .state = "resolved"};
	assert_int_equal(mtd_sdk_emit(&host, &s, &m), 0);
	unpack(&s, &z, &o);
	assert_int_equal(mtd_map_get(&o, "task")->via.map.size, 5);
	assert_int_equal(mtd_decode_msg(s.data, s.len, &dm, err, sizeof err), 0);
	assert_int_equal(dm.task.kind, MTD_TASK_RECOMMENDATION);
	assert_null(dm.task.cve.p);
	msgpack_zone_destroy(&z);

	/* a required field missing: nothing emitted */
	s.calls = 0;
	t.state = NULL;
	assert_int_equal(mtd_sdk_emit(&host, &s, &m), -1);
	assert_int_equal(s.calls, 0);
}

/* api_value and the time helper, through a host that has api_value */
static char got_name[64], got_value[128];
static int sink_api_value(void *ud, const char *name, const char *value)
{
	(void)ud;
	snprintf(got_name, sizeof got_name, "%s", name);
	snprintf(got_value, sizeof got_value, "%s", value);
	return 0;
}

static void api_time(void **state)
{
	static const mtd_host_api h12 = {MTD_PLUGIN_ABI_VERSION, sizeof(mtd_host_api), sink_emit,
					 NULL, NULL, sink_api_value, NULL};
	(void)state;
	assert_int_equal(mtd_sdk_api_time(&h12, NULL, MTD_API_V_RESUME, 1709254805), 0);
	assert_string_equal(got_name, "resume");
	assert_string_equal(got_value, "2024-03-01T01:00:05Z");
	/* a host without api_value: not given */
	assert_int_equal(mtd_sdk_api_time(&host, NULL, MTD_API_V_RESUME, 1709254805), -1);
}

/* The emitted bytes, exactly: a reader that knows msgpack but not our
 * writer sees the map the contract describes (device_ref in the refs'
 * order, empty refs skipped, resolved events without a level). */
static void emit_device_ref_and_events(void **state)
{
	static const unsigned char want_open[] =
		"\x85\xa4\x74\x79\x70\x65\xac\x74\x68\x72\x65\x61\x74\x5f\x65\x76"
		"\x65\x6e\x74\xa2\x61\x74\xce\x67\x87\xa0\xba\xaa\x64\x65\x76\x69"
		"\x63\x65\x5f\x72\x65\x66\x82\xb0\x76\x65\x6e\x64\x6f\x72\x5f\x64"
		"\x65\x76\x69\x63\x65\x5f\x69\x64\xa3\x67\x2d\x31\xa8\x70\x6c\x61"
		"\x74\x66\x6f\x72\x6d\xa3\x69\x6f\x73\xa6\x74\x68\x72\x65\x61\x74"
		"\x83\xa2\x69\x64\xa2\x74\x31\xa8\x63\x61\x74\x65\x67\x6f\x72\x79"
		"\xa3\x61\x70\x70\xa5\x6c\x65\x76\x65\x6c\xa4\x68\x69\x67\x68\xa5"
		"\x73\x74\x61\x74\x65\xa4\x6f\x70\x65\x6e";
	static const unsigned char want_resolved[] =
		"\x85\xa4\x74\x79\x70\x65\xac\x74\x68\x72\x65\x61\x74\x5f\x65\x76"
		"\x65\x6e\x74\xa2\x61\x74\xce\x67\x87\xa0\xba\xa6\x64\x65\x76\x69"
		"\x63\x65\xa3\x64\x2d\x39\xa6\x74\x68\x72\x65\x61\x74\x81\xa2\x69"
		"\x64\xa2\x74\x31\xa5\x73\x74\x61\x74\x65\xa8\x72\x65\x73\x6f\x6c"
		"\x76\x65\x64";
	static const unsigned char want_threat[] =
		"\x85\xa4\x74\x79\x70\x65\xa6\x74\x68\x72\x65\x61\x74\xa2\x61\x74"
		"\xce\x67\x87\xa0\xba\xaa\x64\x65\x76\x69\x63\x65\x5f\x72\x65\x66"
		"\x81\xa3\x6d\x64\x6d\xa3\x6d\x2d\x37\xa5\x6c\x65\x76\x65\x6c\xa3"
		"\x6c\x6f\x77\xa7\x74\x68\x72\x65\x61\x74\x73\x90";
	const mtd_sdk_ref refs[] = {{"vendor_device_id", "g-1"}, {"mdm", ""},
				    {"serial", NULL}, {"platform", "ios"}};
	const mtd_sdk_ref mdm[] = {{"intune", ""}, {"mdm", "m-7"}};
	mtd_sdk_threat th = {"t1", "app", NULL, MTD_LEVEL_HIGH};
	mtd_sdk_threat gone = {"t1", NULL, NULL, MTD_LEVEL_NONE};
	mtd_sdk_msg m = {0};
	sink s = {.ret = 0};
	(void)state;

	m.type = "threat_event";
	m.at = T_REF;
	m.refs = refs;
	m.nrefs = 4;
	m.threat = &th;
	m.state = "open";
	m.level = MTD_LEVEL_LOW;    /* not a threat_event's field */
	m.os_supported = 1;         /* nor this */
	assert_int_equal(mtd_sdk_emit(&host, &s, &m), 0);
	assert_int_equal(s.len, sizeof want_open - 1);
	assert_memory_equal(s.data, want_open, s.len);

	/* a resolved event needs only the id; device wins over refs */
	m.device = "d-9";
	m.threat = &gone;
	m.state = "resolved";
	assert_int_equal(mtd_sdk_emit(&host, &s, &m), 0);
	assert_int_equal(s.len, sizeof want_resolved - 1);
	assert_memory_equal(s.data, want_resolved, s.len);

	/* a threat message names its device by refs too */
	memset(&m, 0, sizeof m);
	m.type = "threat";
	m.at = T_REF;
	m.level = MTD_LEVEL_LOW;
	m.os_supported = -1;
	m.refs = mdm;
	m.nrefs = 2;
	assert_int_equal(mtd_sdk_emit(&host, &s, &m), 0);
	assert_int_equal(s.len, sizeof want_threat - 1);
	assert_memory_equal(s.data, want_threat, s.len);
}

/* What the SDK refuses to emit: the host is never called. */
static void emit_refused(void **state)
{
	const mtd_sdk_ref empty[] = {{"mdm", ""}, {"serial", NULL}, {NULL, "x"}};
	mtd_sdk_threat th = {"t1", "os", NULL, MTD_LEVEL_MEDIUM};
	mtd_sdk_threat noid = {NULL, "os", NULL, MTD_LEVEL_MEDIUM};
	mtd_sdk_msg m = {0};
	sink s = {.ret = 0};
	(void)state;

	m.type = "threat";
	m.at = T_REF;
	m.level = MTD_LEVEL_MEDIUM;
	m.refs = empty;
	m.nrefs = 3;
	assert_int_equal(mtd_sdk_emit(&host, &s, &m), -1);
	m.type = "threat_event";
	m.threat = &th;
	m.state = "open";
	assert_int_equal(mtd_sdk_emit(&host, &s, &m), -1);
	m.device = "d-1";
	m.threat = &noid;
	assert_int_equal(mtd_sdk_emit(&host, &s, &m), -1);
	m.threat = NULL;
	assert_int_equal(mtd_sdk_emit(&host, &s, &m), -1);
	m.threat = &th;
	m.state = NULL;
	assert_int_equal(mtd_sdk_emit(&host, &s, &m), -1);
	assert_int_equal(s.calls, 0);
	m.state = "open";
	assert_int_equal(mtd_sdk_emit(&host, &s, &m), 0);
	assert_int_equal(s.calls, 1);
}

typedef struct elem_sink {
	char path[300], msg[600];
	int calls, ret, emits;
} elem_sink;

static int elem_emit(void *ud, const void *data, size_t len)
{
	elem_sink *e = ud;
	(void)data, (void)len;
	e->emits++;
	return 0;
}

static int elem_error(void *ud, const char *path, const char *msg)
{
	elem_sink *e = ud;
	e->calls++;
	snprintf(e->path, sizeof e->path, "%s", path);
	snprintf(e->msg, sizeof e->msg, "%s", msg);
	return e->ret;
}

/* Element errors reach a 1.1 host in one line; an older host, whose table
 * ends before the field, is never called through it. */
static void element_error(void **state)
{
	mtd_host_api h = {MTD_PLUGIN_ABI_VERSION, sizeof(mtd_host_api), sink_emit, NULL,
			  elem_error, NULL, NULL};
	elem_sink e = {.ret = 0};
	char big[700];
	(void)state;

	assert_true(MTD_HOST_HAS(&h, element_error));
	assert_int_equal(mtd_sdk_element_error(&h, &e, "events[7].device",
					       "field '%s': %s", "guid", "bad\nvalue"),
			 0);
	assert_int_equal(e.calls, 1);
	assert_string_equal(e.path, "events[7].device");
	assert_string_equal(e.msg, "field 'guid': bad value");
	/* bounded: a long message is cut, not overrun */
	memset(big, 'x', sizeof big - 1);
	big[sizeof big - 1] = '\0';
	assert_int_equal(mtd_sdk_element_error(&h, &e, big, "%s", big), 0);
	assert_int_equal(strlen(e.path), 255);
	assert_int_equal(strlen(e.msg), 511);
	/* the host may refuse more */
	e.ret = -1;
	assert_int_equal(mtd_sdk_element_error(&h, &e, "x", "y"), -1);
	assert_int_equal(e.calls, 3);

	/* a 1.0 host: struct_size ends before element_error, whatever follows */
	e.ret = 0;
	h.abi_version = (MTD_PLUGIN_ABI_MAJOR << 16) | 0u;
	h.struct_size = (uint32_t)offsetof(mtd_host_api, element_error);
	assert_false(MTD_HOST_HAS(&h, element_error));
	assert_true(MTD_HOST_HAS(&h, emit));
	assert_int_equal(mtd_sdk_element_error(&h, &e, "x", "y"), -1);
	assert_int_equal(e.calls, 3);
	/* a 1.1 host without the service */
	h.struct_size = sizeof(mtd_host_api);
	h.element_error = NULL;
	assert_int_equal(mtd_sdk_element_error(&h, &e, "x", "y"), -1);
	assert_int_equal(mtd_sdk_element_error(NULL, &e, "x", "y"), -1);
	assert_int_equal(e.calls, 3);
}

/* A page's element decoder for the tests: an element is an object with a
 * string "dev"; anything else is refused. */
static int each_fn(void *ctx, const mtd_host_api *h, void *sk, json_t *e, char *err,
		   size_t errlen)
{
	mtd_sdk_msg m = {0};
	int *calls = ctx;
	(*calls)++;
	if (json_is_integer(e) && json_integer_value(e) == 99)
		return MTD_PLUGIN_ENOMEM;
	if (mtd_sdk_get_str(e, "dev", 1, MTD_SDK_MAX_ID, &m.device, err, errlen))
		return MTD_PLUGIN_EMALFORMED;
	m.type = "threat";
	m.level = MTD_LEVEL_LOW;
	m.os_supported = -1;
	mtd_sdk_emit(h, sk, &m);
	return MTD_PLUGIN_OK;
}

/* One bad element of a page: reported and skipped with a 1.1 host; with a
 * 1.0 host the page fails before anything of it is emitted. */
static void each_element(void **state)
{
	json_t *page = json_loads("[{\"dev\":\"a\"},{\"dev\":7},{\"dev\":\"c\"},{}]", 0, NULL);
	mtd_host_api h = {MTD_PLUGIN_ABI_VERSION, sizeof(mtd_host_api), elem_emit, NULL,
			  elem_error, NULL, NULL};
	elem_sink e = {.ret = 0};
	sink s = {.ret = 0};
	char err[256];
	int calls = 0;
	(void)state;

	assert_non_null(page);
	/* the sink is shared: emit and element_error see the same pointer */
	assert_int_equal(mtd_sdk_each(&h, &e, page, "events", 10, each_fn, &calls, err,
				      sizeof err),
			 0);
	assert_int_equal(calls, 4);
	assert_int_equal(e.emits, 2);
	assert_int_equal(e.calls, 2);
	assert_string_equal(e.path, "events[3]");
	assert_string_equal(e.msg, "field 'dev': missing");

	/* 1.0 host: nothing emitted, the first bad element named */
	h.struct_size = (uint32_t)offsetof(mtd_host_api, element_error);
	h.emit = sink_emit;
	calls = 0;
	assert_int_equal(mtd_sdk_each(&h, &s, page, "events", 10, each_fn, &calls, err,
				      sizeof err),
			 MTD_PLUGIN_EMALFORMED);
	assert_int_equal(s.calls, 0);
	assert_int_equal(calls, 2);
	assert_string_equal(err, "events[1]: field 'dev': not a string");
	/* a good page is emitted whole, once */
	json_array_remove(page, 3);
	json_array_remove(page, 1);
	calls = 0;
	assert_int_equal(mtd_sdk_each(&h, &s, page, "events", 10, each_fn, &calls, err,
				      sizeof err),
			 0);
	assert_int_equal(s.calls, 2);
	assert_int_equal(calls, 4); /* dry run and real run */
	/* too many, not an array, out of memory */
	assert_int_equal(mtd_sdk_each(&h, &s, page, "events", 1, each_fn, &calls, err,
				      sizeof err),
			 MTD_PLUGIN_EMALFORMED);
	assert_string_equal(err, "field 'events': not a list of up to 1 elements");
	assert_int_equal(mtd_sdk_each(&h, &s, json_object_get(json_array_get(page, 0), "dev"),
				      "events", 10, each_fn, &calls, err, sizeof err),
			 MTD_PLUGIN_EMALFORMED);
	json_array_append_new(page, json_integer(99));
	h.struct_size = sizeof(mtd_host_api);
	h.emit = elem_emit;
	assert_int_equal(mtd_sdk_each(&h, &e, page, "events", 10, each_fn, &calls, err,
				      sizeof err),
			 MTD_PLUGIN_ENOMEM);
	json_decref(page);
}

/* A record that is one element or a page of them. */
static void decode_page(void **state)
{
	static const char page[] = "{\"events\":[{\"dev\":\"a\"},{\"dev\":1},{\"dev\":\"c\"}],\"n\":3}";
	static const char arr[] = "[{\"dev\":\"a\"},{\"dev\":\"b\"}]";
	static const char one[] = "{\"dev\":\"a\",\"events\":null}";
	static const char bad_one[] = "{\"dev\":[]}";
	static const char not_list[] = "{\"events\":\"x\"}";
	mtd_host_api h = {MTD_PLUGIN_ABI_VERSION, sizeof(mtd_host_api), elem_emit, NULL,
			  elem_error, NULL, NULL};
	elem_sink e = {.ret = 0};
	char err[256];
	int calls = 0;
	(void)state;

	assert_int_equal(mtd_sdk_decode_page(&h, &e, page, strlen(page), "events", 10, each_fn,
					     &calls, err, sizeof err),
			 0);
	assert_int_equal(e.emits, 2);
	assert_int_equal(e.calls, 1);
	assert_string_equal(e.path, "events[1]");
	assert_int_equal(mtd_sdk_decode_page(&h, &e, arr, strlen(arr), "events", 10, each_fn,
					     &calls, err, sizeof err),
			 0);
	assert_int_equal(e.emits, 4);
	assert_int_equal(mtd_sdk_decode_page(&h, &e, one, strlen(one), "events", 10, each_fn,
					     &calls, err, sizeof err),
			 0);
	assert_int_equal(e.emits, 5);
	/* one element that fails fails the record: no element error */
	assert_int_equal(mtd_sdk_decode_page(&h, &e, bad_one, strlen(bad_one), "events", 10,
					     each_fn, &calls, err, sizeof err),
			 MTD_PLUGIN_EMALFORMED);
	assert_string_equal(err, "field 'dev': not a string");
	assert_int_equal(mtd_sdk_decode_page(&h, &e, not_list, strlen(not_list), "events", 10,
					     each_fn, &calls, err, sizeof err),
			 MTD_PLUGIN_EMALFORMED);
	assert_int_equal(mtd_sdk_decode_page(&h, &e, "{", 1, "events", 10, each_fn, &calls, err,
					     sizeof err),
			 MTD_PLUGIN_EMALFORMED);
	assert_int_equal(e.calls, 1);
	assert_int_equal(e.emits, 5);
}

static void get_id(void **state)
{
	json_t *v = json_loads("{\"a\":\"dev-1\",\"z\":\"00000000-0000-0000-0000-0000000000\","
			       "\"e\":\"\",\"u\":\"Unknown\",\"n\":42,\"zero\":0,\"neg\":-1,\"b\":true,\"nul\":null,"
			       "\"c\":\"x\\u0001y\",\"d\":{\"id\":\"0-1\"}}",
			       0, NULL);
	char buf[MTD_SDK_ID_BUF], err[128];
	const char *id = "untouched";
	(void)state;

	assert_int_equal(mtd_sdk_get_id(v, "a", buf, &id, err, sizeof err), 0);
	assert_string_equal(id, "dev-1");
	assert_int_equal(mtd_sdk_get_id(v, "d.id", buf, &id, err, sizeof err), 0);
	assert_string_equal(id, "0-1");
	assert_int_equal(mtd_sdk_get_id(v, "n", buf, &id, err, sizeof err), 0);
	assert_ptr_equal(id, buf);
	assert_string_equal(id, "42");
	static const char *const none[] = {"z", "e", "u", "zero", "nul", "missing"};
	for (size_t i = 0; i < 6; i++) {
		id = "untouched";
		assert_int_equal(mtd_sdk_get_id(v, none[i], buf, &id, err, sizeof err), 0);
		assert_null(id);
	}
	assert_int_equal(mtd_sdk_get_id(v, "neg", buf, &id, err, sizeof err), -1);
	assert_int_equal(mtd_sdk_get_id(v, "b", buf, &id, err, sizeof err), -1);
	assert_string_equal(err, "field 'b': not a string or an integer");
	assert_int_equal(mtd_sdk_get_id(v, "c", buf, &id, err, sizeof err), -1);
	json_decref(v);
}

static void plugin_has(void **state)
{
	mtd_plugin p = {0};
	(void)state;
	p.struct_size = sizeof p;
	assert_false(MTD_PLUGIN_HAS(&p, appsync_translate));
	p.appsync_translate = (int (*)(void *, const mtd_host_api *, void *, const void *,
				       size_t, char *, size_t))1;
	assert_true(MTD_PLUGIN_HAS(&p, appsync_translate));
	p.struct_size = (uint32_t)offsetof(mtd_plugin, appsync_translate);
	assert_false(MTD_PLUGIN_HAS(&p, appsync_translate));
	p.struct_size = (uint32_t)(offsetof(mtd_plugin, appsync_translate) +
				   sizeof p.appsync_translate - 1);
	assert_false(MTD_PLUGIN_HAS(&p, appsync_translate));
}

/* The checked field readers plugins use: each failure names the field. */
static void field_readers(void **state)
{
	static const mtd_sdk_enum sev[] = {{"HIGH", MTD_LEVEL_HIGH}, {"LOW", MTD_LEVEL_LOW},
					   {NULL, 0}};
	char err[256];
	const char *s;
	int lv = -1;
	int64_t at = 0;
	json_t *v = parse_str("{\"d\":{\"id\":\"dev-1\",\"n\":7,\"e\":\"\",\"c\":\"a\\nb\","
			      "\"long\":\"abcdefghij\"},\"sev\":\"HIGH\",\"bad\":\"High\","
			      "\"t\":\"2025-01-15T11:49:14Z\",\"ms\":1736941754000,\"nt\":\"soon\"}",
			      err, sizeof err);
	(void)state;
	assert_non_null(v);

	assert_int_equal(mtd_sdk_get_str(v, "d.id", 1, MTD_SDK_MAX_ID, &s, err, sizeof err), 0);
	assert_string_equal(s, "dev-1");
	/* optional and missing, null or empty: fine, NULL */
	assert_int_equal(mtd_sdk_get_str(v, "d.none", 0, 10, &s, err, sizeof err), 0);
	assert_null(s);
	assert_int_equal(mtd_sdk_get_str(v, "d.e", 0, 10, &s, err, sizeof err), 0);
	assert_null(s);
	/* required and missing or empty */
	assert_int_equal(mtd_sdk_get_str(v, "d.none", 1, 10, &s, err, sizeof err), -1);
	assert_contains(err, "field 'd.none': missing");
	assert_int_equal(mtd_sdk_get_str(v, "d.e", 1, 10, &s, err, sizeof err), -1);
	assert_contains(err, "missing");
	/* wrong type, too long, control character: errors even when optional */
	assert_int_equal(mtd_sdk_get_str(v, "d.n", 0, 10, &s, err, sizeof err), -1);
	assert_contains(err, "field 'd.n': not a string");
	assert_int_equal(mtd_sdk_get_str(v, "d.long", 0, 9, &s, err, sizeof err), -1);
	assert_contains(err, "more than 9");
	assert_int_equal(mtd_sdk_get_str(v, "d.long", 0, 10, &s, err, sizeof err), 0);
	assert_int_equal(mtd_sdk_get_str(v, "d.c", 0, 10, &s, err, sizeof err), -1);
	assert_contains(err, "control character");

	assert_int_equal(mtd_sdk_get_enum(v, "sev", sev, &lv, err, sizeof err), 0);
	assert_int_equal(lv, MTD_LEVEL_HIGH);
	/* exact names: no case folding, unknown values quoted */
	assert_int_equal(mtd_sdk_get_enum(v, "bad", sev, &lv, err, sizeof err), -1);
	assert_contains(err, "field 'bad': unknown value 'High'");
	assert_int_equal(mtd_sdk_get_enum(v, "nothing", sev, &lv, err, sizeof err), -1);
	assert_contains(err, "missing");

	assert_int_equal(mtd_sdk_get_time(v, "t", &at, err, sizeof err), 0);
	assert_int_equal(at, 1736941754);
	assert_int_equal(mtd_sdk_get_time(v, "ms", &at, err, sizeof err), 0);
	assert_int_equal(at, 1736941754);
	assert_int_equal(mtd_sdk_get_time(v, "nt", &at, err, sizeof err), -1);
	assert_contains(err, "field 'nt': not a time");
	assert_int_equal(mtd_sdk_get_time(v, "gone", &at, err, sizeof err), -1);
	assert_contains(err, "field 'gone': missing");
	mtd_sdk_err_prefix(err, sizeof err, "events[%d]: ", 3);
	assert_string_equal(err, "events[3]: field 'gone': missing");
	json_decref(v);
}

static void sdk_err_truncates(void **state)
{
	char err[8];
	(void)state;
	mtd_sdk_err(err, sizeof err, "%s", "a long message");
	assert_string_equal(err, "a long ");
	mtd_sdk_err(NULL, 0, "%s", "ignored");
	err[0] = 'x';
	mtd_sdk_err(err, 0, "%s", "ignored");
	assert_int_equal(err[0], 'x');
}

/* ---- JSON strings ---- */

/* s (n bytes) through mtd_sdk_json_str, NUL-terminated in a static buffer. */
static const char *jstr(const char *s, size_t n)
{
	static char out[MTD_JSON_STR_MAX(64) + 1];
	size_t k;
	assert_true(n <= 64);
	memset(out, 'X', sizeof out);
	k = mtd_sdk_json_str(out, s, n);
	assert_true(k <= MTD_JSON_STR_MAX(n));
	out[k] = '\0';
	return out;
}

static void json_str_escapes(void **state)
{
	(void)state;
	assert_string_equal(jstr("", 0), "\"\"");
	assert_string_equal(jstr("dev-1", 5), "\"dev-1\"");
	assert_string_equal(jstr("a\"b\\c/d", 7), "\"a\\\"b\\\\c/d\"");
	assert_string_equal(jstr("\n\t\r\b\f", 5), "\"\\n\\t\\r\\b\\f\"");
	assert_string_equal(jstr("\x01\x1f\x7f", 3), "\"\\u0001\\u001f\x7f\"");
	/* an embedded NUL is data, not the end */
	assert_string_equal(jstr("a\0b", 3), "\"a\\u0000b\"");
}

static void json_str_utf8(void **state)
{
	(void)state;
	/* well-formed: kept as it is (2, 3 and 4 bytes, the edges of each) */
	assert_string_equal(jstr("\xc3\xa9", 2), "\"\xc3\xa9\"");
	assert_string_equal(jstr("\xe2\x82\xac\xef\xbf\xbf", 6), "\"\xe2\x82\xac\xef\xbf\xbf\"");
	assert_string_equal(jstr("\xf0\x9f\x93\xb1\xf4\x8f\xbf\xbf", 8),
			    "\"\xf0\x9f\x93\xb1\xf4\x8f\xbf\xbf\"");
	/* not UTF-8: each offending byte becomes U+FFFD, the rest stays */
	assert_string_equal(jstr("\xff", 1), "\"\\ufffd\"");
	assert_string_equal(jstr("a\x80z", 3), "\"a\\ufffdz\"");
	assert_string_equal(jstr("\xc0\xaf", 2), "\"\\ufffd\\ufffd\"");         /* overlong '/' */
	assert_string_equal(jstr("\xe0\x80\xaf", 3), "\"\\ufffd\\ufffd\\ufffd\""); /* overlong */
	assert_string_equal(jstr("\xed\xa0\x80", 3), "\"\\ufffd\\ufffd\\ufffd\""); /* surrogate */
	assert_string_equal(jstr("\xf4\x90\x80\x80", 4),
			    "\"\\ufffd\\ufffd\\ufffd\\ufffd\""); /* above U+10FFFF */
	assert_string_equal(jstr("\xe2\x82", 2), "\"\\ufffd\\ufffd\"");         /* truncated */
	assert_string_equal(jstr("\xc3\xa9\xc3", 3), "\"\xc3\xa9\\ufffd\"");
}

/* The worst case fits the stated bound exactly. */
static void json_str_bound(void **state)
{
	char in[64], out[MTD_JSON_STR_MAX(64) + 1];
	(void)state;
	memset(in, 0x01, sizeof in);
	assert_int_equal(mtd_sdk_json_str(out, in, sizeof in), MTD_JSON_STR_MAX(64));
	memset(in, 0xff, sizeof in);
	assert_int_equal(mtd_sdk_json_str(out, in, sizeof in), MTD_JSON_STR_MAX(64));
}

/* One meaning of an empty string (sdk.h): "" reads as a missing member, in
 * every reader, for an optional and for a required value alike. */
static void empty_string_is_absent(void **state)
{
	char err[256], idbuf[MTD_SDK_ID_BUF];
	char err_missing[256], err_empty[256];
	const char *s = "unset";
	mtd_sdk_ref refs[2];
	int64_t t = 7;
	int e = 9;
	static const mtd_sdk_enum table[] = {{"a", 1}, {NULL, 0}};
	json_t *v;
	(void)state;

	v = parse_str("{\"x\":\"\",\"n\":null}", err, sizeof err);
	if (!v)
		fail_msg("valid JSON refused: %s", err);
	assert_null(mtd_sdk_str(v, "x"));
	assert_int_equal(mtd_sdk_get_str(v, "x", 0, 64, &s, err, sizeof err), 0);
	assert_null(s);
	s = "unset";
	assert_int_equal(mtd_sdk_get_id(v, "x", idbuf, &s, err, sizeof err), 0);
	assert_null(s);
	assert_int_equal(mtd_sdk_time(v, "x", &t), -1);
	assert_int_equal(t, 7);
	assert_true(mtd_sdk_id_blank(""));
	assert_int_equal(mtd_sdk_ref_add(refs, 0, 2, "serial", ""), 0);
	/* required: the same message as for a member that is not there */
	assert_int_equal(mtd_sdk_get_str(v, "x", 1, 64, &s, err_empty, sizeof err_empty), -1);
	assert_int_equal(mtd_sdk_get_str(v, "y", 1, 64, &s, err_missing, sizeof err_missing), -1);
	assert_string_equal(err_empty, "field 'x': missing");
	assert_string_equal(err_missing, "field 'y': missing");
	assert_int_equal(mtd_sdk_get_time(v, "x", &t, err, sizeof err), -1);
	assert_string_equal(err, "field 'x': missing");
	assert_int_equal(mtd_sdk_get_time(v, "n", &t, err, sizeof err), -1);
	assert_string_equal(err, "field 'n': missing");
	assert_int_equal(mtd_sdk_get_enum(v, "x", table, &e, err, sizeof err), -1);
	assert_string_equal(err, "field 'x': missing");
	assert_int_equal(e, 9);
	json_decref(v);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(empty_string_is_absent),
		cmocka_unit_test(json_str_escapes),
		cmocka_unit_test(json_str_utf8),
		cmocka_unit_test(json_str_bound),
		cmocka_unit_test(time_rfc3339),
		cmocka_unit_test(time_other_forms),
		cmocka_unit_test(time_not_nul_terminated),
		cmocka_unit_test(time_invalid),
		cmocka_unit_test(time_format_round_trip),
		cmocka_unit_test(levels),
		cmocka_unit_test(parse_json),
		cmocka_unit_test(parse_json_bad),
		cmocka_unit_test(parse_msgpack),
		cmocka_unit_test(parse_msgpack_refused_types),
		cmocka_unit_test(parse_msgpack_empty_string),
		cmocka_unit_test(parse_depth_limit),
		cmocka_unit_test(parse_size_limit),
		cmocka_unit_test(parse_hostile_header),
		cmocka_unit_test(json_to_msgpack_round_trip),
		cmocka_unit_test(json_to_msgpack_sizes),
		cmocka_unit_test(emit_threat),
		cmocka_unit_test(emit_other_types),
		cmocka_unit_test(emit_task),
		cmocka_unit_test(api_time),
		cmocka_unit_test(emit_device_ref_and_events),
		cmocka_unit_test(emit_refused),
		cmocka_unit_test(element_error),
		cmocka_unit_test(plugin_has),
		cmocka_unit_test(each_element),
		cmocka_unit_test(get_id),
		cmocka_unit_test(decode_page),
		cmocka_unit_test(sdk_err_truncates),
		cmocka_unit_test(field_readers),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
