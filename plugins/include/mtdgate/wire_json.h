/*
 * mtdgate wire layer, jansson part: one payload (JSON text or one msgpack
 * object) to a jansson tree, and a tree to msgpack. The host reads JSON
 * records with it and the SDK hands plugins the same trees, so both sides
 * bound and convert a payload identically. Part of mtdgate_wire; needs
 * jansson (and the library links msgpack-c).
 *
 * Ownership: mtd_wire_parse returns a new reference the caller releases
 * with json_decref(); out of mtd_wire_json_to_msgpack is the caller's.
 */
#ifndef MTDGATE_WIRE_JSON_H
#define MTDGATE_WIRE_JSON_H

#include <jansson.h>

#include "mtdgate/wire.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Parse one payload, JSON text or one msgpack object (detected from the first
 * byte), into a jansson tree. Bounded by MTD_WIRE_MAX_PAYLOAD and
 * MTD_WIRE_MAX_DEPTH; duplicate JSON keys refused; msgpack map keys must be
 * strings, binary/ext values are refused. Returns a new reference, or NULL
 * with a message in err. */
json_t *mtd_wire_parse(const void *data, size_t len, char *err, size_t errlen);

/* Encode a JSON tree as msgpack (maps, arrays, strings, integers, reals,
 * booleans, null), appending to out. Returns 0, or -1 when out of memory or
 * nested deeper than MTD_WIRE_MAX_DEPTH. */
int mtd_wire_json_to_msgpack(const json_t *v, mtd_buf *out);

#ifdef __cplusplus
}
#endif
#endif /* MTDGATE_WIRE_JSON_H */
