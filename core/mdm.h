/* mdm: what MDMs export, read as SPEC 4.2 records for the device and
 * inventory imports: Microsoft Graph pages (managedDevices, detectedApps,
 * group members) and CSV with a header of 4.2 field names. Each record is
 * handed over as a msgpack object, the form mtd_decode_device and
 * mtd_decode_app take, so the imports validate every source the same way.
 * The README's "Imports from an MDM" documents the mapping and its source. */
#ifndef MTD_MDM_H
#define MTD_MDM_H

#include <msgpack.h>
#include <stdint.h>
#include <stdio.h>

/* A group membership export (--groups), loaded whole before the devices:
 * group names by Entra device id, by user object id and by user principal
 * name. Owns its memory; free with mtd_mdm_groups_free (NULL-safe). */
typedef struct mtd_mdm_groups mtd_mdm_groups;
/* Where a problem with one member or page goes (msg borrowed for the call). */
typedef void (*mtd_mdm_diag)(void *ud, const char *msg);
/* Add the members in, named name in positions, to *g (made when NULL).
 * group: the group every member page of in belongs to (from NAME=FILE), or
 * NULL: then in must hold groups with their members ($expand=members).
 * Members that are not devices or users, and pages that are not member
 * pages, go to diag and are counted in *bad. 0, MTD_ENOMEM, or MTD_EIO /
 * MTD_EMALFORMED with err saying why the file cannot be read at all. */
int mtd_mdm_groups_load(mtd_mdm_groups **g, FILE *in, const char *name, const char *group,
			mtd_mdm_diag diag, void *ud, uint64_t *bad, char *err, size_t n);
void mtd_mdm_groups_free(mtd_mdm_groups *g);

/* The input's format from its first bytes (after a UTF-8 BOM and white
 * space): MTD_FORMAT_GRAPH for a JSON object whose first key starts "@odata."
 * or is "value", MTD_FORMAT_CSV when the first line has a comma and does not
 * start like JSON, msgpack or an event stream, MTD_FORMAT_RECORDS otherwise.
 * *out reads the whole input from its first byte: in itself when in could be
 * rewound, else a new stream over the bytes peeked and then in (close it,
 * not in, when it differs from in). MTD_EIO or MTD_ENOMEM on failure. */
int mtd_mdm_detect(FILE *in, int *format, FILE **out);

/* A reader of one input in one format (MTD_FORMAT_GRAPH or MTD_FORMAT_CSV)
 * yielding device records (apps 0) or inventory records (apps 1). groups
 * (may be NULL) is borrowed for the reader's life and gives Graph devices
 * their groups. */
typedef struct mtd_mdm mtd_mdm;
mtd_mdm *mtd_mdm_new(FILE *in, const char *name, int format, int apps, const mtd_mdm_groups *groups);
void mtd_mdm_free(mtd_mdm *m);
/* The next record: 1 with *obj (borrowed until the next call), 0 at the
 * end, MTD_EMALFORMED for one bad record or element (err says which field
 * and why, by the source's own field names; reading goes on), MTD_EIO on a
 * read error. */
int mtd_mdm_next(mtd_mdm *m, const msgpack_object **obj, char *err, size_t n);
/* The position of the last record: "devices.json page 2 (line 57):
 * value[3]" or "devices.csv line 4". */
const char *mtd_mdm_where(const mtd_mdm *m);
/* Bytes read so far. */
uint64_t mtd_mdm_offset(const mtd_mdm *m);
/* Graph: 1 when the last page read has an @odata.nextLink (the export goes
 * on beyond what was given). */
int mtd_mdm_more_pages(const mtd_mdm *m);

#endif
