/* Shared by fuzz_device and fuzz_inventory: a per-process store and the
 * checks every record reader shares. */
#ifndef MTD_FUZZ_IMPORT_H
#define MTD_FUZZ_IMPORT_H

#include <stddef.h>
#include <stdint.h>

#include "codec.h"
#include "mtdgate/mtdgate.h"

/* Decode callback: returns what the decoder returned. */
typedef int (*fuzz_decode_fn)(const msgpack_object *o, char *err, size_t n);

/* Read data as an input file with mtd_reader and pass every parsed record
 * to decode, checking the reader's and the decoder's contracts. */
void fuzz_read_records(const uint8_t *data, size_t size, fuzz_decode_fn decode);

/* Import data through the public API (mtd_device_import when inventory is
 * 0, mtd_inventory_import otherwise) into a store in fuzz_tmpdir(), created
 * on first use with the devices of fuzz_import_devices, and re-created now
 * and then so that it stays small. Checks that the call succeeds, that the
 * counts add up and that every bad record gets exactly one diagnostic line.
 * Skipped (returns at once) when MTD_FUZZ_NO_STORE is set. */
void fuzz_import(const uint8_t *data, size_t size, int inventory);

/* Devices every fresh store holds (JSON lines): the ids the inventory seeds
 * use. */
extern const char fuzz_import_devices[];

#endif
