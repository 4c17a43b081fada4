/* codec: input framing (JSON text, an event stream or a msgpack stream,
 * detected from the content) and validated decoding of normalized messages
 * and records. */
#ifndef MTD_CODEC_H
#define MTD_CODEC_H

#include <jansson.h>
#include <msgpack.h>
#include <stdint.h>
#include <stdio.h>

#include "mtdgate/wire.h"

/* Documented input limits (README "Limits"). */
#define MTD_MAX_RECORD (1u << 20) /* bytes of one input record */
#define MTD_MAX_ID 128            /* device, app and threat ids */
#define MTD_MAX_STR 512           /* other strings */
#define MTD_MAX_THREATS 256       /* threats in one message */
#define MTD_MAX_GROUPS 64         /* groups of one device */

/* Input formats, detected from the content (SPEC 4.1 framing): JSON text
 * (JSON lines, pretty-printed or concatenated documents, a top-level array
 * of records), a msgpack stream, a text/event-stream. */
enum { MTD_FMT_JSON = 1, MTD_FMT_MSGPACK = 2, MTD_FMT_SSE = 3 };

/* A borrowed string: not NUL-terminated. */
typedef struct mtd_str {
	const char *p;
	size_t n;
} mtd_str;

typedef struct mtd_reader mtd_reader;

/* One input record. Everything is borrowed until the next mtd_reader_next. */
typedef struct mtd_record {
	const msgpack_object *obj; /* MTD_READ_TREE: the record's msgpack tree */
	const void *mp;            /* MTD_READ_TREE, MTD_READ_BYTES: the record as one
				    * msgpack object (JSON converted) */
	size_t mp_len;
	const void *raw;           /* the record's bytes as they were read */
	size_t raw_len;
	uint64_t index;            /* 1-based record number */
	uint64_t line;             /* JSON: line number; msgpack: 0 */
	uint64_t offset;           /* byte offset of the record */
	const struct mtd_msg *msg; /* MTD_READ_MSG: the record as a normalized message */
} mtd_record;

/* Start reading f (not closed by the reader). name labels positions. */
mtd_reader *mtd_reader_new(FILE *f, const char *name);
void mtd_reader_free(mtd_reader *r);
int mtd_reader_format(const mtd_reader *r); /* after the first next() */
/* What mtd_reader_next makes of a record besides framing it. */
enum {
	MTD_READ_FRAME = 0, /* rec->raw only */
	MTD_READ_TREE = 1,  /* and rec->mp, and rec->obj, a msgpack-c tree of it */
	MTD_READ_BYTES = 2, /* and rec->mp (JSON is parsed and converted) */
	MTD_READ_MSG = 3    /* and rec->msg: a record that mtd_decode_msg refuses is
			     * bad, with its error; msgpack is framed and decoded
			     * in one walk */
};
/* Next record. Returns 1 with *rec filled, 0 at the end, MTD_EMALFORMED when
 * this record is bad (err says why; reading can go on, unless the stream
 * cannot be resynchronized, in which case the next call returns 0),
 * or another negative code on I/O failure. parse is one of MTD_READ_*; a
 * JSON record that is not JSON is bad unless it is only framed. */
int mtd_reader_next(mtd_reader *r, mtd_record *rec, int parse, char *err,
		    size_t errlen);
/* Bytes of input consumed so far. */
uint64_t mtd_reader_offset(const mtd_reader *r);
/* "name line 3" / "name record 7 (byte 812)" of the last record. */
const char *mtd_reader_where(mtd_reader *r);

/* Message types (MTD_MSG_*) and platforms (MTD_PLAT_*) and their names: wire.h. */

/* The identifier kinds of a device_ref (SPEC 4.1 extension), in the order
 * a reference is resolved: strongest first. MTD_REF_VENDOR is the key
 * "vendor_device_id" (kept as ids kind "vendor:<connector's vendor>");
 * MTD_REF_MDM matches a device's own id, then its intune id; MTD_REF_USER
 * matches a device's user, only together with the platform qualifier. */
#define MTD_REF_KINDS(X)                                                                   \
	X(INTUNE, "intune") X(ENTRA, "entra") X(UDID, "udid") X(SERIAL, "serial")          \
	X(IMEI, "imei") X(MEID, "meid") X(MDM, "mdm") X(WIFI_MAC, "wifi_mac")               \
	X(VENDOR, "vendor_device_id") X(USER, "user")
enum {
#define X(k, name) MTD_REF_##k,
	MTD_REF_KINDS(X)
#undef X
	MTD_NREF
};
/* The key of kind k in a device_ref ("?" when k is not a kind). */
const char *mtd_ref_name(int k);

enum { MTD_EVENT_RESOLVED = 0, MTD_EVENT_OPEN = 1 };

/* One threat of a decoded message. */
typedef struct mtd_threat {
	mtd_str id, name, category; /* id, name: p NULL when absent */
	int level;                  /* MTD_LEVEL_*; threat_event resolved: -1 absent */
} mtd_threat;

/* Security tasks (contracts: "Security tasks"): what a vendor's
 * vulnerability management asks to be fixed on a device. */
enum { MTD_TASK_VULNERABILITY = 0, MTD_TASK_RECOMMENDATION = 1 };
enum { MTD_SEV_LOW = 0, MTD_SEV_MEDIUM, MTD_SEV_HIGH, MTD_SEV_CRITICAL, MTD_NSEV };
/* Names (static): "vulnerability", "recommendation"; "low" .. "critical";
 * "?" out of range. */
const char *mtd_task_kind_name(int kind);
const char *mtd_task_severity_name(int sev);
#define MTD_MAX_CVE 32 /* "CVE-YYYY-N..." */

/* The task of a task message. */
typedef struct mtd_task {
	mtd_str id;                    /* the vendor's task id, unique per device */
	mtd_str cve, software, version; /* p NULL when absent */
	int kind;                      /* MTD_TASK_* */
	int severity;                  /* MTD_SEV_* */
	int64_t first_seen;
} mtd_task;

/* A validated normalized message (SPEC 4.1). Everything borrows from the
 * bytes it was decoded from. A message that names a device (threat,
 * threat_event, task) names it by device, or, when refs is not 0, by ref. */
typedef struct mtd_msg {
	int type;
	int64_t at;
	mtd_str device;      /* threat, threat_event, task: p NULL when named by ref */
	int level;           /* threat: MTD_LEVEL_* */
	int os_supported;    /* threat: -1 absent, 0, 1 */
	const void *threats; /* threat: the validated array's msgpack bytes as
			      * received (what the store keeps), or NULL */
	size_t threats_len;
	uint32_t nthreats;
	mtd_str code;        /* error */
	unsigned refs;       /* device_ref: bit k set when ref[k] is present */
	int ref_platform;    /* device_ref: MTD_PLAT_*, -1 absent */
	int state;           /* threat_event, task: MTD_EVENT_* */
	mtd_threat event;    /* threat_event: the threat (category p NULL when
			      * absent, as it may be when resolved) */
	mtd_task task;       /* task: the task; its state in state */
	/* Not cleared by the decoder: valid only where refs has the bit, so a
	 * message naming "device" pays nothing for them. */
	mtd_str ref[MTD_NREF];
} mtd_msg;
/* Decode and validate the normalized message mp[0..len), one msgpack object
 * (a record of mtd_reader, or bytes framed with mtd_msgpack_frame),
 * straight from its bytes: no tree is built and nothing is copied. Safe on
 * any bytes: truncated or trailing bytes are refused. 0, or MTD_EMALFORMED
 * with err saying which field and why. */
int mtd_decode_msg(const void *mp, size_t len, mtd_msg *m, char *err, size_t n);

/* Canonical JSON of a decoded message: what it means, not how it was
 * spelled (times as Unix seconds, fields in a fixed order); a new
 * reference, NULL when memory is short. */
json_t *mtd_msg_json(const mtd_msg *m);

/* The threats of m in order: *pos 0 before the first; returns 1 with *t
 * filled, 0 after the last (m was validated, so there is nothing else). */
int mtd_msg_threat(const mtd_msg *m, size_t *pos, mtd_threat *t);


#define MTD_MAX_IDS 32 /* identifiers of one device record */

/* A validated device record (SPEC 4.2). */
typedef struct mtd_device_rec {
	mtd_str id, os_version, user;
	int platform;
	int corporate; /* ownership */
	int enrolled;  /* management */
	size_t ngroups;
	mtd_str groups[MTD_MAX_GROUPS]; /* sorted, duplicates removed */
	/* ids (4.2 extension): kind intune, entra, serial, imei, meid, udid,
	 * wifi_mac or vendor:<vendor id>; each kind once. A null or empty
	 * value is no identifier (left out). */
	size_t nids;
	mtd_str id_kind[MTD_MAX_IDS], id_value[MTD_MAX_IDS];
} mtd_device_rec;
int mtd_decode_device(const msgpack_object *o, mtd_device_rec *d, char *err,
		      size_t n);

/* A validated app inventory record (SPEC 4.2). */
typedef struct mtd_app_rec {
	mtd_str device, app_id, version, short_version, name;
	int64_t bundle_size, dynamic_size;
	int adhoc_signed, app_store, beta, vpp, validated, managed;
} mtd_app_rec;
int mtd_decode_app(const msgpack_object *o, mtd_app_rec *a, char *err,
		   size_t n);

/* Identifiers (device, app, threat, vendor ids, group names, device_ref
 * values, error codes) and free text (names, users, versions). */
enum { MTD_STR_TEXT = 0, MTD_STR_ID = 1 };
/* NULL when s[0..n) is acceptable as what (MTD_STR_*): well-formed UTF-8
 * (RFC 3629) without C0 controls or DEL; an identifier also without C1
 * controls (U+0080..U+009F) or bidi controls (U+061C, U+200E, U+200F,
 * U+202A..U+202E, U+2066..U+2069). Otherwise a constant phrase saying why
 * ("is not valid UTF-8"), to follow "field 'x': ". */
const char *mtd_str_check(const char *s, size_t n, int what);
/* The code point that starts s[0..n) in *cp: its length in bytes (1..4),
 * or 0 when it is not well-formed UTF-8 (RFC 3629) or n is 0. */
int mtd_utf8_next(const char *s, size_t n, uint32_t *cp);
/* Whether cp is a C1 control (U+0080..U+009F) or a bidi control. */
int mtd_cp_is_c1_or_bidi(uint32_t cp);

/* Find key in a map object; NULL when absent. */
const msgpack_object *mtd_map_get(const msgpack_object *map, const char *key);

#endif
