/* store, rows part: the typed rows of tasks.c, connector.c, events.c and
 * appsync.c.
 * Part of the store (store.h): the SQL text lives in store_rows.c or in
 * store.c's statement table; callers never see a column number.
 *
 * Each reader fills a struct from the current row of the statement it
 * names (the caller got it with mtd_store_stmt, bound and stepped it to
 * SQLITE_ROW). Texts and blobs are borrowed from the statement until it
 * steps again or is reset; NULL stands for SQL NULL. */
#ifndef MTD_STORE_ROWS_H
#define MTD_STORE_ROWS_H

#include "codec.h" /* mtd_task */
#include "store.h"

/* ---- security tasks (tasks.c) ---- */

/* A task's state as stored, by key: into *open and *at. 0, MTD_ENOTFOUND
 * when there is no such task, or MTD_ESTORE (errmsg says). For a writer in
 * a transaction: the statement (SQL_TASK_GET) is left to the next
 * mtd_store_stmt to reset. id (nid bytes) is borrowed for the call. */
int mtd_store_task_state(mtd_store *s, int64_t dev, int64_t conn, const char *id, size_t nid,
			 int *open, int64_t *at);

/* Write task t of device row dev from connector conn (SQL_TASK_PUT: an
 * insert, or an update of the stored row) with its state open, the time its
 * message carries (at) and now as received, and row-log it: 0, or
 * MTD_ESTORE (errmsg says). t's texts are borrowed for the call. */
int mtd_store_task_put(mtd_store *s, int64_t now, int64_t dev, int64_t conn, const mtd_task *t,
		       int open, int64_t at);

/* What the stored task says, in the column order both task scans share. */
typedef struct mtd_task_fields {
	const char *id;                      /* NOT NULL in the schema; NULL: out of memory */
	const char *cve, *software, *version; /* NULL when not given */
	int kind, severity;                  /* MTD_TASK_*, MTD_SEV_* */
	int64_t first_seen;
} mtd_task_fields;

/* A row of SQL_TASKS_OPEN_OF: an open task of the device, by connector. */
typedef struct mtd_task_open_row {
	int64_t connector;
	mtd_task_fields t;
} mtd_task_open_row;
void mtd_task_open_read(sqlite3_stmt *st, mtd_task_open_row *row);

/* A row of SQL_TASKS_LIST: a task with its device's external id and its
 * connector's vendor (NOT NULL in the schema; NULL: out of memory). */
typedef struct mtd_task_list_row {
	const char *device, *vendor;
	mtd_task_fields t;
	int open;
	int64_t at, received;
} mtd_task_list_row;
void mtd_task_list_read(sqlite3_stmt *st, mtd_task_list_row *row);

/* A row of SQL_TASKS_NEXT_AGE: a device with open tasks and the next time
 * one of them reaches a whole number of days (or a second past it). */
typedef struct mtd_task_age_row {
	int64_t device, at;
} mtd_task_age_row;
void mtd_task_age_read(sqlite3_stmt *st, mtd_task_age_row *row);

/* ---- connectors (connector.c) ---- */

/* A row of SQL_CONN_GET or SQL_CONN_ALL: a connector's columns as stored
 * (vendor and state NOT NULL in the schema, NULL: out of memory;
 * error_code NULL when none; last_contact 0 when never). */
typedef struct mtd_conn_row {
	int64_t id;
	const char *vendor, *state, *error_code;
	int provisioned, removed;
	int64_t last_contact, added_at;
	uint32_t platforms, mam_platforms;
	int appsync_ios, appsync_personal_ios, block_unsupported_os, block_missing_data;
	int unresponsive_days, parked_days;
	int64_t rejected;
} mtd_conn_row;
void mtd_conn_row_read(sqlite3_stmt *st, mtd_conn_row *row);

/* A new connector's row (SQL_CONN_INSERT: vendor, state, added_at; the
 * other columns their defaults), row-logged at added_at. 0, or MTD_ESTORE
 * (errmsg says: SQLite's message when the insert failed). Strings are
 * borrowed for the call. */
int mtd_store_conn_insert(mtd_store *s, const char *vendor, const char *state, int64_t added_at);

/* ---- decision changes for followers (events.c) ---- */

/* The sequence number of the decision log's last entry into *seq (0 when
 * the log is empty): 0, or MTD_ESTORE (errmsg says). */
int mtd_store_decision_head(mtd_store *s, int64_t *seq);

/* What a follower shows of a SQL_OUTCOME_GET row: mtd_stored_outcome_read
 * without seq, vendors and resources, and reasons only when asked (NULL
 * otherwise, or when out of memory): SQLite copies each text it hands
 * out, and a follower reads two outcomes an event. */
typedef struct mtd_outcome_shown {
	int state, level, access, app_action;
	const char *reasons;
} mtd_outcome_shown;
void mtd_outcome_shown_read(sqlite3_stmt *st, int reasons, mtd_outcome_shown *row);

/* A row of SQL_DECISION_LOG_EVENTS: a block of n decision log entries
 * numbered seq .. seq + n - 1, written at at; entries (nentries bytes) as
 * mtd_log_entry_decode reads them, NULL when empty or not stored. */
typedef struct mtd_decision_block {
	int64_t seq, n, at;
	const unsigned char *entries;
	size_t nentries;
} mtd_decision_block;
void mtd_decision_block_read(sqlite3_stmt *st, mtd_decision_block *row);

/* ---- App Sync (appsync.c) ---- */

/* A row of SQL_APPSYNC_SCAN: a device's external id and one app of its
 * inventory, MTD_APPSYNC_FIELDS fields in column order: the texts, the
 * sizes, the flags. nulls has bit i set when field i is NULL (its value
 * below is then NULL or 0). */
#define MTD_APPSYNC_TEXTS 5 /* device, app_id, version, short_version, name */
#define MTD_APPSYNC_SIZES 2 /* bundle_size, dynamic_size */
#define MTD_APPSYNC_FLAGS 6 /* adhoc_signed, app_store, beta, vpp, validated, managed */
#define MTD_APPSYNC_FIELDS (MTD_APPSYNC_TEXTS + MTD_APPSYNC_SIZES + MTD_APPSYNC_FLAGS)
typedef struct mtd_appsync_row {
	const char *text[MTD_APPSYNC_TEXTS];
	size_t ntext[MTD_APPSYNC_TEXTS];
	int64_t size[MTD_APPSYNC_SIZES];
	int flag[MTD_APPSYNC_FLAGS]; /* 0 or 1 */
	unsigned nulls;
} mtd_appsync_row;
void mtd_appsync_row_read(sqlite3_stmt *st, mtd_appsync_row *row);

#endif
