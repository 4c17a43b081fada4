/* store: the SQLite database. Owns the schema, its migrations and every SQL
 * statement (prepared once). Callers bind, step, and leave the statement to
 * be reset by the next mtd_store_stmt() call. */
#ifndef MTD_STORE_H
#define MTD_STORE_H

#include <sqlite3.h>
#include <stdint.h>

#define MTD_SCHEMA_VERSION 3

/* Every statement the engine runs; SQL text in store.c. */
enum mtd_sql {
	SQL_META_GET,
	SQL_META_SET,
	SQL_GROUP_UPSERT,
	SQL_GROUP_ID,
	SQL_GROUPSET_INSERT,
	SQL_GROUPSET_ID,
	SQL_GROUPSET_MEMBER,
	SQL_GROUPSET_ALL,
	SQL_DEVICE_UPSERT,
	SQL_DEVICE_BY_EXT,
	SQL_CONN_INSERT,
	SQL_CONN_GET,
	SQL_CONN_ALL,
	SQL_CONN_UPDATE,
	SQL_CONN_CONTACT,
	SQL_CONN_REJECTED,
	SQL_REPORT_UPSERT,
	SQL_APPS_DELETE_DEVICE,
	SQL_APP_INSERT,
	SQL_EVAL_SCAN,
	SQL_DECISION_UPSERT,
	SQL_DECISION_WIPED,
	SQL_REPORT_SCAN,
	SQL_AUDIT_INSERT,
	SQL_APPS_OF_DEVICE,
	SQL_AUDIT_LAST,
	SQL_AUDIT_SCAN,
	SQL_AUDIT_SHOW,
	SQL_APPSYNC_SCAN,
	SQL__COUNT
};

typedef struct mtd_store mtd_store;

/* Open the store at path. With create, make it (mode 0600) when missing and
 * bring the schema to MTD_SCHEMA_VERSION; without, a missing file is
 * MTD_ENOTFOUND. Message into err. */
int mtd_store_open(const char *path, int create, mtd_store **out, char *err,
		   size_t n);
void mtd_store_close(mtd_store *s);
sqlite3 *mtd_store_db(mtd_store *s);
/* The prepared statement, reset and unbound; NULL on failure (see errmsg). */
sqlite3_stmt *mtd_store_stmt(mtd_store *s, enum mtd_sql which);
const char *mtd_store_errmsg(mtd_store *s);

int mtd_store_begin(mtd_store *s);
int mtd_store_commit(mtd_store *s);
void mtd_store_rollback(mtd_store *s);

/* Meta values (e.g. "cloud"): copies into buf; MTD_ENOTFOUND when unset. */
int mtd_store_meta_get(mtd_store *s, const char *key, char *buf, size_t n);
int mtd_store_meta_set(mtd_store *s, const char *key, const char *value);

/* Append one audit record, chained by hash to the one before. vendor/device may be NULL. detail is a short
 * JSON object text. */
int mtd_store_audit(mtd_store *s, int64_t at, const char *kind,
		    const char *vendor, const char *device, const char *detail);

/* The hash that chains an audit record to the previous one (prev: 32 zero
 * bytes for the first): SHA-256 over prev, seq, at and the length-prefixed
 * kind, vendor, device, detail. */
void mtd_audit_hash(const unsigned char prev[32], int64_t seq, int64_t at, const char *kind,
		    const char *vendor, const char *device, const char *detail,
		    unsigned char out[32]);

/* Bind a text of known length, NULL pointer binds SQL NULL. */
int mtd_bind_text(sqlite3_stmt *st, int i, const char *p, size_t n);

#endif
