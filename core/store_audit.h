/* store, audit part: the SQL and typed rows of audit.c's reads and
 * writes: the chain, show, verify, prune, archives.
 * Part of the store (store.h): the SQL text lives in store_audit.c or in
 * store.c's statement table; callers never see a column number. */
#ifndef MTD_STORE_AUDIT_H
#define MTD_STORE_AUDIT_H

#include "store.h"
#include "tbuf.h"


/* ---- look-ups ----
 * Each copies what it found (the statement is reset before it returns). */

/* The external id of device row id (what = MTD_AUDIT_DEVICE) or the vendor
 * of connector row id (MTD_AUDIT_CONNECTOR) into out, replacing it: 1, 0
 * when there is none (out untouched), MTD_ENOMEM or MTD_ESTORE. */
enum { MTD_AUDIT_DEVICE, MTD_AUDIT_CONNECTOR };
int mtd_store_audit_name(mtd_store *s, int what, int64_t id, tbuf *out);
/* The row id of the connector of vendor: 0, MTD_ENOTFOUND or MTD_ESTORE. */
int mtd_store_audit_connector_id(mtd_store *s, const char *vendor, int64_t *id);

/* The last audit record: seq, at, and its hash when it is 32 bytes long
 * (has_hash; hash untouched otherwise). */
typedef struct mtd_audit_last {
	int64_t seq, at;
	int has_hash;
	unsigned char hash[32];
} mtd_audit_last;
/* 1 with the last record in *out, 0 when the log is empty, MTD_ESTORE. */
int mtd_store_audit_last(mtd_store *s, mtd_audit_last *out);

/* Outcome seq's numbers into o (its texts are not set) and its reasons
 * (JSON; "[]" when NULL) copied into reasons (unless NULL): 1, 0 when
 * there is no such outcome (o and reasons untouched), MTD_ENOMEM or
 * MTD_ESTORE. */
int mtd_store_audit_outcome(mtd_store *s, int64_t seq, mtd_outcome_row *o, tbuf *reasons);

/* The latest 'pruned' record (audit prune's point, see audit.c): 1 with its
 * seq and its detail copied into detail ("" when NULL), 0 when the log was
 * never pruned, MTD_ENOMEM or MTD_ESTORE. */
int mtd_store_audit_last_pruned(mtd_store *s, int64_t *seq, tbuf *detail);

/* SQLite's integrity check of every page (the first 5 problems): 0 when
 * it finds none; 1 with its findings joined by "; " into msg (size n), or
 * SQLite's message when the check failed midway; 2 with SQLite's message
 * when it could not start. */
int mtd_store_audit_pages(mtd_store *s, char *msg, size_t n);

/* A person's name for the row (k1, k2, ktext) of covered table into buf
 * (size n, NUL-terminated): 1, or 0 when the table's label gave none (buf
 * untouched). ktext NULL: none. */
int mtd_store_audit_row_label(mtd_store *s, int table, int64_t k1, int64_t k2,
			      const char *ktext, char *buf, size_t n);

/* A row of a covered table's scan (mtd_row_scan_sql), borrowed until the
 * statement steps. */
typedef struct mtd_covered_row {
	int64_t k1, k2;
	const char *ktext; /* NULL when NULL */
	size_t nktext;
	int64_t device;    /* MTD_ROW_DEVICE_IDS: the device the identifier is of */
	unsigned char digest[MTD_ROW_DIGEST]; /* as mtd_row_digest */
} mtd_covered_row;
/* The scan of every row of covered table, prepared for this caller, who
 * sqlite3_finalize()s it; NULL on failure (mtd_store_errmsg says). */
sqlite3_stmt *mtd_store_covered_scan(mtd_store *s, int table);
/* Its next row into *row: 1, 0 at the end, MTD_EMALFORMED when SQLite
 * finds the table's pages damaged (SQLITE_CORRUPT), MTD_ESTORE on another
 * error (mtd_store_errmsg says). */
int mtd_store_covered_next(sqlite3_stmt *st, int table, mtd_covered_row *row);

/* The entries of row_log's blocks, newest block first (entries in order
 * within one): fn gets each entry decoded (borrowed for the call); a block
 * whose entry does not decode is left there, the walk goes on with the
 * next. fn's nonzero result stops and is returned; 0, or MTD_ESTORE when
 * the scan could not start. */
int mtd_store_audit_row_log_back(mtd_store *s, int (*fn)(void *ud, const mtd_log_entry *e),
				 void *ud);

/* A block of decision_log: its number (its first entry's) and count. */
typedef struct mtd_dlog_block {
	int64_t seq, n;
} mtd_dlog_block;
/* Entry i of block b to fn, decoded (borrowed for the call), or NULL when
 * it does not decode: the block's later entries are then skipped. fn's
 * nonzero result stops the walk and is returned. */
typedef int (*mtd_dlog_fn)(void *ud, const mtd_dlog_block *b, int64_t i, const mtd_log_entry *e);
/* Every entry of every decision_log block, in order, to fn: 0, fn's
 * nonzero result, or MTD_ESTORE. */
int mtd_store_audit_dlog_entries(mtd_store *s, mtd_dlog_fn fn, void *ud);

/* The rows audit prune keeps below from (decision_log blocks, then
 * outcomes, each in order), with verify's columns, into c
 * (mtd_log_hash_row) and *n; each entry of the blocks also to fn when
 * given. 0, fn's nonzero result (stops), or MTD_ESTORE. */
int mtd_store_audit_kept(mtd_store *s, int64_t from, mtd_sha256 *c, uint64_t *n, mtd_dlog_fn fn,
			 void *ud);

/* ---- the sequence, walked in order ----
 * The audit log is one sequence over five tables (store.h, "sealed logs"):
 * audit, outcomes and the block logs decision_log, message_log, row_log
 * (a row holds n entries numbered from its seq). A walk merges the five by
 * sequence number and gives one record at a time: an audit record, an
 * outcome, or one entry of a block. */
enum { MTD_SRC_AUDIT, MTD_SRC_OUTCOMES, MTD_SRC_DECISIONS, MTD_SRC_MESSAGES, MTD_SRC_ROWS,
       MTD_SRC__COUNT };

typedef struct mtd_audit_walk mtd_audit_walk;

/* The current record; valid until the walk steps. */
typedef struct mtd_walk_rec {
	int src;           /* MTD_SRC_* */
	int log;           /* MTD_LOG_* of src; -1 for audit */
	int block;         /* src's rows are blocks of entries */
	int64_t seq;       /* the record's number */
	int64_t at;        /* its row's time */
	uint32_t i, n;     /* blocks: entry i of the row's n (0 when unreadable) */
	int bad;           /* blocks: the row's entries do not decode into n */
	int64_t connector; /* messages: the block's connector */
	mtd_log_entry e;   /* blocks: the entry */
} mtd_walk_rec;

/* A verify walk of the store from record from on (verify's columns: every
 * one of each row), in the caller's transaction. A show walk of the
 * records f asks for (f->after_seq: blocks start early enough to hold it,
 * the caller skips what is at or before it; device filters audit records
 * only: the caller filters entries), vendor_id the row id of f->vendor
 * (-1: none). 0 with *out; MTD_ENOMEM (*out NULL) or MTD_ESTORE (*out set:
 * read mtd_audit_walk_errmsg, then close it). */
int mtd_audit_walk_verify(mtd_store *s, int64_t from, mtd_audit_walk **out);
int mtd_audit_walk_show(mtd_store *s, const mtd_audit_filter *f, int64_t vendor_id,
			mtd_audit_walk **out);
/* To the next record: 1 with *r (borrowed until the next call), 0 at the
 * end, MTD_ESTORE. */
int mtd_audit_walk_next(mtd_audit_walk *w, const mtd_walk_rec **r);
/* The current record's row (every column of a verify walk's row) into c,
 * as mtd_log_hash_row: what a seal covers. */
void mtd_audit_walk_hash_row(mtd_audit_walk *w, mtd_sha256 *c);
/* The current audit record (MTD_SRC_AUDIT); hash, pd and salt are a
 * verify walk's only. Borrowed until the walk steps. */
typedef struct mtd_audit_row {
	const char *kind, *vendor, *device, *detail; /* NULL when NULL */
	int device_null;                             /* device is SQL NULL */
	const unsigned char *hash, *pd, *salt;
	int nhash, npd, nsalt; /* their bytes; -1 when NULL */
} mtd_audit_row;
void mtd_audit_walk_audit(mtd_audit_walk *w, mtd_audit_row *r);
/* The current outcome (MTD_SRC_OUTCOMES) of a show walk; texts NULL when
 * NULL, digest 0; borrowed until the walk steps. */
void mtd_audit_walk_outcome(mtd_audit_walk *w, mtd_outcome_row *o);
const char *mtd_audit_walk_errmsg(mtd_audit_walk *w);
/* NULL-safe. */
void mtd_audit_walk_close(mtd_audit_walk *w);

/* ---- prune and archives ---- */

/* The tables of an audit archive (an SQL file, sqlfile.h): sqlfile_info
 * (store_fleet.h's mtd_store_file_info_* read and write it), the five of
 * the sequence with their store's columns, and the names (devices,
 * connectors) of the row ids their entries use. */
extern const char mtd_audit_archive_schema[];
#define MTD_AUDIT_ARCHIVE_TAG "mtdgate-audit-archive 1"

/* Copy the records from .. cut - 1 of the five tables into the archive
 * dst (open, in its transaction); *n counts them. 0; MTD_ESTORE (reading
 * s: SQLite's message) or MTD_EIO (writing dst: "archive: " and SQLite's
 * message) with the message into err (size nerr). */
int mtd_store_audit_archive_rows(mtd_store *s, sqlite3 *dst, int64_t from, int64_t cut,
				 uint64_t *n, char *err, size_t nerr);
/* Then every device's and connector's name (the row ids the entries use):
 * 0, or MTD_EIO with "PATH: why" (path: the archive's, for the message)
 * into err. */
int mtd_store_audit_archive_names(mtd_store *s, sqlite3 *dst, const char *path, char *err,
				  size_t nerr);

/* What a prune keeps below its cut (temp tables keep_blocks and
 * keep_outcomes, made when missing and emptied by open), with the
 * statements that fill and ask them. */
typedef struct mtd_audit_keep mtd_audit_keep;
/* 0 with *out, MTD_ENOMEM or MTD_ESTORE (mtd_store_errmsg says). */
int mtd_audit_keep_open(mtd_store *s, mtd_audit_keep **out);
/* Keep decision_log block seq (which MTD_KEEP_BLOCK) or outcome seq
 * (MTD_KEEP_OUTCOME); twice is once. 0 or MTD_ESTORE. */
enum { MTD_KEEP_BLOCK, MTD_KEEP_OUTCOME };
int mtd_audit_keep_add(mtd_audit_keep *k, int which, int64_t seq);
/* 1 when block seq is kept, 0 when not (or on an error). */
int mtd_audit_keep_has_block(mtd_audit_keep *k, int64_t seq);
/* NULL-safe; the tables stay for mtd_store_audit_prune_below. */
void mtd_audit_keep_close(mtd_audit_keep *k);
/* In the open transaction: every record below cut deleted from the five
 * tables, except the kept blocks and outcomes (the triggers that refuse
 * deletes lifted for this transaction only). 0 or MTD_ESTORE. */
int mtd_store_audit_prune_below(mtd_store *s, int64_t cut);

/* ---- an archive, read ---- */
typedef struct mtd_audit_archive mtd_audit_archive;
/* Open the archive at path read-only: 0, or MTD_EIO with "PATH: why" in
 * err (size n). */
int mtd_audit_archive_open(const char *path, mtd_audit_archive **out, char *err, size_t n);
/* Its read transaction: 0 or MTD_EIO. */
int mtd_audit_archive_begin(mtd_audit_archive *a);
/* Its sqlfile_info value of key copied into buf (size n): 1, or 0 when it
 * has none (or cannot say). */
int mtd_audit_archive_info(mtd_audit_archive *a, const char *key, char *buf, size_t n);
/* A verify walk of the archive's records (as mtd_audit_walk_verify). */
int mtd_audit_archive_walk(mtd_audit_archive *a, mtd_audit_walk **out);
/* NULL-safe. */
void mtd_audit_archive_close(mtd_audit_archive *a);

#endif
