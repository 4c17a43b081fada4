/* store, ingest part: the SQL and typed rows of ingest.c and pull.c: the
 * device map, reports, threat events, parking, pull state.
 * Part of the store (store.h): the SQL text lives in store_ingest.c or in
 * store.c's statement table; callers never see a column number. */
#ifndef MTD_STORE_INGEST_H
#define MTD_STORE_INGEST_H

#include "codec.h" /* mtd_str, mtd_device_rec, mtd_app_rec, mtd_threat */
#include "store.h"

/* ---- devices (device import, the device map) ---- */

/* Each device's row id and external id (ext[0..n), borrowed for the call)
 * to fn: in ext_id's order (SQLite's BINARY collation, memcmp) when by_ext,
 * else as stored. fn's nonzero result stops the walk and is returned; else
 * 0, or MTD_ESTORE. */
int mtd_store_device_scan(mtd_store *s, int by_ext,
			  int (*fn)(void *ud, int64_t id, const char *ext, size_t n), void *ud);
/* The id of the group set key[0..k) (its groups' names sorted, each
 * followed by '\n'; "" for none) into *id, made when the store has none,
 * with the groups of groups[0..ngroups) that are new: each write with its
 * row log entry at time at. 0 or MTD_ESTORE. */
int mtd_store_groupset(mtd_store *s, int64_t at, const char *key, size_t k, const mtd_str *groups,
		       size_t ngroups, int64_t *id);
/* Write device d (a new row, or an update of the device with its id; a
 * new device gets its salt) in group set gs at time at, each write with its
 * row log entry: its row id into *id. 0 or MTD_ESTORE. */
int mtd_store_device_put(mtd_store *s, int64_t at, const mtd_device_rec *d, int64_t gs,
			 int64_t *id);

/* ---- a device by name (4.1, 4.2: identity) ---- */

enum { MTD_DEV_ERROR = -1, MTD_DEV_SEVERAL = -2 };
/* The row id of the device whose external id is p[0..n): > 0, 0 for none,
 * or MTD_DEV_ERROR (errmsg). The statement stays on its row until the
 * store's next one (no reset: this is a message's hot path). */
int64_t mtd_store_device_of_ext(mtd_store *s, const char *p, size_t n);
/* The row id of the device with the identifier (kind, p[0..n)): as
 * mtd_store_device_of_ext. */
int64_t mtd_store_device_of_ident(mtd_store *s, const char *kind, const char *p, size_t n);
/* The one device of user p[0..n) on platform: as mtd_store_device_of_ext,
 * or MTD_DEV_SEVERAL when there are more. */
int64_t mtd_store_device_of_user(mtd_store *s, const char *p, size_t n, int platform);
/* Delete device dev's identifiers of kind[0..nkind), each value deleted to
 * fn (borrowed for the call; fn logs it: mtd_store_row_logged); fn's
 * nonzero result stops and is returned. 0 or MTD_ESTORE. */
int mtd_store_ids_delete_kind(mtd_store *s, int64_t dev, const char *kind, size_t nkind,
			      int (*fn)(void *ud, const char *value, size_t n), void *ud);
/* The identifier (kind, value) now names device dev (the caller logs the
 * row). 0 or MTD_ESTORE. */
int mtd_store_ids_put(mtd_store *s, const char *kind, size_t nkind, const char *value,
		      size_t nvalue, int64_t dev);

/* ---- app inventory ---- */

/* Delete device dev's apps (the caller logs each). 0 or MTD_ESTORE. */
int mtd_store_apps_delete(mtd_store *s, int64_t dev);
/* Add app a of device dev, with its row log entry at time at. 0 or
 * MTD_ESTORE. */
int mtd_store_app_put(mtd_store *s, int64_t at, int64_t dev, const mtd_app_rec *a);

/* ---- reports and threat events: a device's state from a vendor ---- */

/* Pages of WAL after which a commit copies them into the database
 * (SQLite's wal_autocheckpoint; its default is 1,000): for bulk runs. */
void mtd_store_wal_pages(mtd_store *s, int pages);

/* The snapshot m (a threat message) as the report of (dev, conn),
 * received at received, unless the stored one is newer or the pair has
 * threat events (every column set: mtd_report_digest gives the written
 * row's digest). 1 written, 0 not, or MTD_ESTORE. The statement is left
 * bound for the next call (a message's hot path). m->threats is borrowed
 * until the next call steps it. */
int mtd_store_report_upsert(mtd_store *s, int64_t dev, int64_t conn, int64_t received,
			    const mtd_msg *m);

/* The report of (dev, conn) as the event path needs it: with events
 * (nevents > 0) the snapshot is in the snap_* columns, without it is the
 * report itself. snap_threats is borrowed until the store's next
 * statement; NULL unless a blob. */
typedef struct mtd_report_state {
	int nevents;
	int os_supported; /* -1 unknown */
	int has_snap;     /* 0: the snap_* fields are unset */
	int snap_level;
	int64_t snap_at;
	const void *snap_threats;
	size_t nsnap_threats;
} mtd_report_state;
/* 1 and *row, 0 when the pair has no report, or MTD_ESTORE. */
int mtd_store_report_state(mtd_store *s, int64_t dev, int64_t conn, mtd_report_state *row);

/* The report of (dev, conn) rebuilt from its snapshot and its events, as
 * SQL_REPORT_PUT writes it: -1 / NULL for SQL NULL (os_supported, the
 * blobs, snap_level (snap_at then ignored), cause). */
typedef struct mtd_report_put {
	int level;
	int64_t at;
	int os_supported;
	const void *threats;
	size_t nthreats;
	int64_t nevents;
	int snap_level;
	int64_t snap_at;
	const void *snap_threats;
	size_t nsnap_threats;
	int cause;
} mtd_report_put;
/* Write it, received at received (the caller logs it with the message):
 * 0 or MTD_ESTORE. The blobs are borrowed for the call. */
int mtd_store_report_put(mtd_store *s, int64_t dev, int64_t conn, int64_t received,
			 const mtd_report_put *row);

/* A threat event of a pair; texts borrowed for the callback (category,
 * name NULL when NULL); level -1 when NULL. */
typedef struct mtd_event_row {
	const char *id, *category, *name;
	int open, level;
	int64_t at, since;
} mtd_event_row;
/* Each threat event of (dev, conn) in id order to fn; fn's nonzero result
 * stops and is returned. 0 or MTD_ESTORE. */
int mtd_store_events_of(mtd_store *s, int64_t dev, int64_t conn,
			int (*fn)(void *ud, const mtd_event_row *row), void *ud);
/* The threat event id[0..n) of (dev, conn): 1 with *open, *at and *since,
 * 0 when there is none, or MTD_ESTORE. */
int mtd_store_event_get(mtd_store *s, int64_t dev, int64_t conn, const char *id, size_t n,
			int *open, int64_t *at, int64_t *since);
/* Write threat event t of (dev, conn) (open or resolved, dated at, open
 * since since; a category, name or level t lacks keeps the stored one),
 * with its row log entry at time now. 0 or MTD_ESTORE. */
int mtd_store_event_put(mtd_store *s, int64_t now, int64_t dev, int64_t conn, const mtd_threat *t,
			int open, int64_t at, int64_t since);
/* Delete the threat events of (dev, conn) dated before before (a snapshot
 * at before holds them), each with its row log entry at time now. 0 or
 * MTD_ESTORE. */
int mtd_store_events_delete_before(mtd_store *s, int64_t now, int64_t dev, int64_t conn,
				   int64_t before);

/* ---- parked messages (they name no device, or several) ---- */

/* Park message mp[0..len) (msgpack, borrowed for the call) of connector
 * conn, received at now, for why; vendor_id (NULL: none) is the vendor's
 * device id it names. With its row log entry; its row id into *id. 0 or
 * MTD_ESTORE. */
int mtd_store_park(mtd_store *s, int64_t now, int64_t conn, const char *why,
		   const mtd_str *vendor_id, const void *mp, size_t len, int64_t *id);
/* Delete parked message id (row log entry at time now): 1, 0 when it is
 * gone already (nothing logged), or MTD_ESTORE. */
int mtd_store_park_delete(mtd_store *s, int64_t now, int64_t id);
/* A row of SQL_PARK_ALL, SQL_PARK_BY_VENDOR_ID or SQL_PARK_EXPIRED; reason
 * and msg (len bytes) borrowed until the statement steps or resets. */
typedef struct mtd_parked_row {
	int64_t id, conn, received;
	const char *reason;
	const void *msg;
	size_t len;
} mtd_parked_row;
void mtd_parked_row_read(sqlite3_stmt *st, mtd_parked_row *row);

/* ---- pull state (pull_state: a vendor's settings and progress) ---- */

/* The value of (vendor, key) copied into buf (n bytes, truncated): 0,
 * MTD_ENOTFOUND, or MTD_ESTORE (mtd_store_errmsg says why). */
int mtd_store_pull_state_get(mtd_store *s, const char *vendor, const char *key, char *buf,
			     size_t n);
/* Set (vendor, key) to value, or remove it when value is NULL: 0 or
 * MTD_ESTORE. */
int mtd_store_pull_state_set(mtd_store *s, const char *vendor, const char *key,
			     const char *value);

/* What `pull list` shows of a vendor: its texts (NULL when unset) are
 * borrowed for the callback only; the times are 0 when unset; configured
 * is 1 when an API setting (URL, secret file, client id) is set. */
typedef struct mtd_pull_state_row {
	const char *vendor, *poll_seconds, *last_error;
	int64_t last_success, last_error_at;
	int configured;
} mtd_pull_state_row;
/* Each vendor with pull state, in vendor order, to fn; fn's nonzero result
 * stops the walk (and 0 is returned). 0 or MTD_ESTORE. */
int mtd_store_pull_states(mtd_store *s, int (*fn)(void *ud, const mtd_pull_state_row *row),
			  void *ud);

/* ---- pull_seen: the window of a vendor's event ids already applied ---- */

/* The highest number an event id of vendor was given (0 none) into *n: 0
 * or MTD_ESTORE. */
int mtd_store_pull_seen_max(mtd_store *s, const char *vendor, int64_t *n);
/* Event id of vendor: 1 when seen before (nothing written), 0 when it is
 * remembered now with number n, MTD_ESTORE. */
int mtd_store_pull_seen_add(mtd_store *s, const char *vendor, const char *id, int64_t n);
/* Forget vendor's event ids numbered upto and below: 0 or MTD_ESTORE. */
int mtd_store_pull_seen_trim(mtd_store *s, const char *vendor, int64_t upto);

#endif
