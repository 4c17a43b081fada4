/* fleet: the device lifecycle (issue 18): devices listed and shown, and
 * removed with their personal data erased from the store file (README,
 * "Removing a device"): their rows deleted (each deletion in the row log),
 * the audit records that name them erased (schema 10: the chain keeps only
 * a salted digest of what they held), SQLite's secure_delete on for it and
 * the WAL folded in and truncated after, so that the bytes are gone. */
#define _GNU_SOURCE /* memmem */
#include <stdlib.h>
#include <string.h>

#include "codec.h"
#include "mtd_int.h"

/* Kinds of audit record that never hold a device's data: not searched. */
static const char *const plain_kinds[] = {"seal",          "baseline",       "checkpoint",
					  "evaluate",      "import",         "init",
					  "connector_add", "connector_set",  "connector_remove",
					  "connector_state", "connector_token", "device_removed",
					  "appsync",       "appsync_refused", NULL};

static int is_plain_kind(const char *k)
{
	for (size_t i = 0; k && plain_kinds[i]; i++)
		if (!strcmp(k, plain_kinds[i]))
			return 1;
	return 0;
}

/* The texts by which a device can be named: its id, user, identifiers. */
typedef struct names {
	char *v[MTD_MAX_IDS + 2];
	size_t n;
} names;

static void names_free(names *nm)
{
	for (size_t i = 0; i < nm->n; i++)
		free(nm->v[i]);
	nm->n = 0;
}

static int names_add(names *nm, const unsigned char *s)
{
	if (!s || !*s || nm->n == sizeof nm->v / sizeof *nm->v)
		return 0;
	if (!(nm->v[nm->n] = strdup((const char *)s)))
		return MTD_ENOMEM;
	nm->n++;
	return 0;
}

/* 1 when p[0..n) holds one of the names: a JSON string ("...", in an audit
 * detail) or its bytes (a parked message, msgpack). */
static int names_in(const names *nm, const void *p, size_t n, int json)
{
	for (size_t i = 0; i < nm->n; i++) {
		char q[MTD_JSON_STR_MAX(MTD_MAX_STR) + 1];
		size_t k = strlen(nm->v[i]);
		const char *needle = nm->v[i];
		if (json && k <= MTD_MAX_STR) {
			k = mtd_json_str(q, nm->v[i], k);
			needle = q;
		}
		if (k && n >= k && memmem(p, n, needle, k))
			return 1;
	}
	return 0;
}

typedef struct rm {
	mtd_t *h;
	sqlite3 *db;
	mtd_remove_stats *st;
	int64_t *erased; /* audit records erased by this removal */
	size_t nerased, cap;
} rm;

static int sfail(rm *r)
{
	return mtd_fail(r->h, MTD_ESTORE, "removing a device: %s", sqlite3_errmsg(r->db));
}

/* Delete the rows of table whose device is dev, each deletion logged:
 * sql selects the key (k2 as an integer or NULL, ktext or NULL); del
 * deletes them all. */
static int delete_logged(rm *r, int table, int64_t dev, const char *sql, const char *del)
{
	sqlite3_stmt *st = NULL;
	int rc = 0, step;
	struct key {
		int64_t k2;
		char *kt;
		size_t nkt;
	} *keys = NULL;
	size_t nkeys = 0, cap = 0;

	if (sqlite3_prepare_v2(r->db, sql, -1, &st, NULL) != SQLITE_OK)
		return sfail(r);
	sqlite3_bind_int64(st, 1, dev);
	while (!rc && (step = sqlite3_step(st)) == SQLITE_ROW) {
		const void *kt = sqlite3_column_blob(st, 1);
		size_t nkt = (size_t)sqlite3_column_bytes(st, 1);
		if (nkeys == cap) {
			struct key *nk = realloc(keys, (cap = cap ? 2 * cap : 16) * sizeof *nk);
			if (!nk) {
				rc = MTD_ENOMEM;
				break;
			}
			keys = nk;
		}
		keys[nkeys].k2 = sqlite3_column_int64(st, 0);
		keys[nkeys].kt = NULL;
		keys[nkeys].nkt = nkt;
		if (kt && !(keys[nkeys].kt = malloc(nkt + 1))) {
			rc = MTD_ENOMEM;
			break;
		}
		if (kt)
			memcpy(keys[nkeys].kt, kt, nkt);
		nkeys++;
	}
	sqlite3_finalize(st);
	if (!rc && sqlite3_prepare_v2(r->db, del, -1, &st, NULL) == SQLITE_OK) {
		sqlite3_bind_int64(st, 1, dev);
		rc = sqlite3_step(st) == SQLITE_DONE ? 0 : MTD_ESTORE;
		sqlite3_finalize(st);
	} else if (!rc) {
		rc = MTD_ESTORE;
	}
	for (size_t i = 0; !rc && i < nkeys; i++) {
		rc = mtd_store_row_logged(r->h->store, r->h->now, table, dev, keys[i].k2, keys[i].kt,
					  keys[i].nkt);
		r->st->rows++;
	}
	for (size_t i = 0; i < nkeys; i++)
		free(keys[i].kt);
	free(keys);
	return rc == MTD_ENOMEM ? mtd_fail(r->h, rc, "out of memory") : rc ? sfail(r) : 0;
}

/* Parked messages that name the device by one of its names. */
static int delete_parked(rm *r, const names *nm)
{
	sqlite3_stmt *st = NULL, *del = NULL;
	int rc = 0, step;
	int64_t *ids = NULL;
	size_t n = 0, cap = 0;
	if (sqlite3_prepare_v2(r->db, "SELECT id, msg FROM parked", -1, &st, NULL) != SQLITE_OK)
		return sfail(r);
	while ((step = sqlite3_step(st)) == SQLITE_ROW) {
		const void *msg = sqlite3_column_blob(st, 1);
		if (!msg || !names_in(nm, msg, (size_t)sqlite3_column_bytes(st, 1), 0))
			continue;
		if (n == cap) {
			int64_t *v = realloc(ids, (cap = cap ? 2 * cap : 16) * sizeof *v);
			if (!v) {
				rc = MTD_ENOMEM;
				break;
			}
			ids = v;
		}
		ids[n++] = sqlite3_column_int64(st, 0);
	}
	sqlite3_finalize(st);
	if (!rc && sqlite3_prepare_v2(r->db, "DELETE FROM parked WHERE id = ?1", -1, &del, NULL))
		rc = MTD_ESTORE;
	for (size_t i = 0; !rc && i < n; i++) {
		sqlite3_reset(del);
		sqlite3_bind_int64(del, 1, ids[i]);
		if (sqlite3_step(del) != SQLITE_DONE ||
		    mtd_store_row_logged(r->h->store, r->h->now, MTD_ROW_PARKED, ids[i], 0, NULL, 0))
			rc = MTD_ESTORE;
		r->st->rows++;
	}
	sqlite3_finalize(del);
	free(ids);
	return rc == MTD_ENOMEM ? mtd_fail(r->h, rc, "out of memory") : rc ? sfail(r) : 0;
}

/* Erase the personal part of every audit record that names the device:
 * by its id in the record's device, or one of its names in the detail. */
static int erase_audit(rm *r, const names *nm, const char *ext)
{
	sqlite3_stmt *st = NULL, *up = NULL;
	int rc = 0, step;
	size_t first = r->nerased;
	if (sqlite3_prepare_v2(r->db, "SELECT seq, kind, device, detail, pd IS NOT NULL FROM audit"
				      " WHERE salt IS NOT NULL OR pd IS NULL ORDER BY seq",
			       -1, &st, NULL) != SQLITE_OK)
		return sfail(r);
	while (!rc && (step = sqlite3_step(st)) == SQLITE_ROW) {
		const char *kind = (const char *)sqlite3_column_text(st, 1);
		const char *dev = (const char *)sqlite3_column_text(st, 2);
		const char *detail = (const char *)sqlite3_column_text(st, 3);
		if (is_plain_kind(kind))
			continue;
		if (!(dev && !strcmp(dev, ext)) &&
		    !(detail && names_in(nm, detail, strlen(detail), 1)))
			continue;
		if (!sqlite3_column_int(st, 4)) { /* before schema 10: its hash is over it */
			r->st->legacy++;
			continue;
		}
		if (r->nerased == r->cap) {
			int64_t *v = realloc(r->erased, (r->cap = r->cap ? 2 * r->cap : 64) * sizeof *v);
			if (!v) {
				rc = MTD_ENOMEM;
				break;
			}
			r->erased = v;
		}
		r->erased[r->nerased++] = sqlite3_column_int64(st, 0);
	}
	sqlite3_finalize(st);
	if (rc)
		return mtd_fail(r->h, rc, "out of memory");
	if (sqlite3_prepare_v2(r->db, "UPDATE audit SET device = NULL, salt = NULL, detail = '"
				      MTD_AUDIT_ERASED "' WHERE seq = ?1",
			       -1, &up, NULL) != SQLITE_OK)
		return sfail(r);
	for (size_t i = first; !rc && i < r->nerased; i++) {
		sqlite3_reset(up);
		sqlite3_bind_int64(up, 1, r->erased[i]);
		if (sqlite3_step(up) != SQLITE_DONE)
			rc = MTD_ESTORE;
	}
	sqlite3_finalize(up);
	r->st->erased += r->nerased - first;
	return rc ? sfail(r) : 0;
}

/* The device's decision: its slot emptied, and the change logged (to
 * outcome 0: none), so that audit verify expects none. */
static int drop_decision(rm *r, int64_t dev)
{
	mtd_dslot slots[MTD_DBLOCK_SLOTS];
	int64_t blk = dev / MTD_DBLOCK_SLOTS;
	int rc = mtd_store_dblock_get(r->h->store, blk, slots);
	mtd_dslot *sl = &slots[dev % MTD_DBLOCK_SLOTS];
	if (rc == MTD_ENOTFOUND || (!rc && !sl->outcome))
		return 0;
	if (rc || mtd_store_log_decision(r->h->store, r->h->now, dev, 0, sl->outcome))
		return mtd_fail(r->h, MTD_ESTORE, "%s", mtd_store_errmsg(r->h->store));
	memset(sl, 0, sizeof *sl);
	if (mtd_store_dblock_put(r->h->store, blk, 1, slots))
		return mtd_fail(r->h, MTD_ESTORE, "%s", mtd_store_errmsg(r->h->store));
	return 0;
}

static int remove_one(rm *r, int64_t dev, const char *ext)
{
	names nm = {{0}, 0};
	sqlite3_stmt *st = NULL;
	int rc = 0, step;

	/* its names, before they go */
	rc = names_add(&nm, (const unsigned char *)ext);
	if (!rc && sqlite3_prepare_v2(r->db, "SELECT user FROM devices WHERE id = ?1 UNION ALL"
					     " SELECT value FROM device_ids WHERE device = ?1",
				      -1, &st, NULL) != SQLITE_OK)
		rc = MTD_ESTORE;
	if (!rc) {
		sqlite3_bind_int64(st, 1, dev);
		while (!rc && (step = sqlite3_step(st)) == SQLITE_ROW)
			rc = names_add(&nm, sqlite3_column_text(st, 0));
	}
	sqlite3_finalize(st);
	if (rc) {
		names_free(&nm);
		return rc == MTD_ENOMEM ? mtd_fail(r->h, rc, "out of memory") : sfail(r);
	}
	if ((rc = delete_logged(r, MTD_ROW_APPS, dev, "SELECT 0, app_id FROM apps WHERE device = ?1",
				"DELETE FROM apps WHERE device = ?1")) ||
	    (rc = delete_logged(r, MTD_ROW_REPORTS, dev,
				"SELECT connector, NULL FROM reports WHERE device = ?1",
				"DELETE FROM reports WHERE device = ?1")) ||
	    (rc = delete_logged(r, MTD_ROW_THREAT_EVENTS, dev,
				"SELECT connector, id FROM threat_events WHERE device = ?1",
				"DELETE FROM threat_events WHERE device = ?1")) ||
	    (rc = delete_logged(r, MTD_ROW_TASKS, dev,
				"SELECT connector, id FROM tasks WHERE device = ?1",
				"DELETE FROM tasks WHERE device = ?1")) ||
	    /* identifiers are logged under keys salted with the device's salt:
	     * before the salt goes */
	    (rc = delete_logged(r, MTD_ROW_DEVICE_IDS, dev,
				"SELECT 0, kind || char(31) || value FROM device_ids WHERE device = ?1",
				"DELETE FROM device_ids WHERE device = ?1")) ||
	    (rc = delete_parked(r, &nm)) ||
	    (rc = delete_logged(r, MTD_ROW_DEVICE_SALTS, dev,
				"SELECT 0, NULL FROM device_salts WHERE device = ?1",
				"DELETE FROM device_salts WHERE device = ?1")) ||
	    (rc = drop_decision(r, dev)) ||
	    (rc = delete_logged(r, MTD_ROW_DEVICES, dev, "SELECT 0, NULL FROM devices WHERE id = ?1",
				"DELETE FROM devices WHERE id = ?1")) ||
	    (rc = erase_audit(r, &nm, ext))) {
		names_free(&nm);
		return rc;
	}
	names_free(&nm);
	r->st->devices++;
	return 0;
}

/* device_removed: the rows removed and, in order, every record erased. */
static int record_removal(rm *r, const int64_t *rows, size_t n)
{
	mtd_buf b = {0};
	char num[32];
	int rc = mtd_buf_put(&b, "{\"rows\":[", 9);
	for (size_t i = 0; !rc && i < n; i++) {
		int k = snprintf(num, sizeof num, "%s%lld", i ? "," : "", (long long)rows[i]);
		rc = mtd_buf_put(&b, num, (size_t)k);
	}
	rc = rc || mtd_buf_put(&b, "],\"erased\":[", 12);
	for (size_t i = 0; !rc && i < r->nerased; i++) {
		int k = snprintf(num, sizeof num, "%s%lld", i ? "," : "", (long long)r->erased[i]);
		rc = mtd_buf_put(&b, num, (size_t)k);
	}
	snprintf(num, sizeof num, "],\"legacy\":%llu}", (unsigned long long)r->st->legacy);
	rc = rc || mtd_buf_put(&b, num, strlen(num) + 1);
	if (rc) {
		mtd_buf_free(&b);
		return mtd_fail(r->h, MTD_ENOMEM, "out of memory");
	}
	rc = mtd_store_audit(r->h->store, r->h->now, "device_removed", NULL, NULL,
			     (const char *)b.data);
	mtd_buf_free(&b);
	return rc ? mtd_fail(r->h, MTD_ESTORE, "%s", mtd_store_errmsg(r->h->store)) : 0;
}

static int cmp64(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
	return x < y ? -1 : x > y;
}

int mtd_device_remove(mtd_t *h, const char *const *ids, size_t n, mtd_remove_stats *st)
{
	rm r = {.h = h, .st = st};
	int64_t *rows = NULL;
	sqlite3_stmt *q = NULL;
	int rc = mtd_need_store(h), ckpt_log = 0, ckpt_done = 0;

	memset(st, 0, sizeof *st);
	if (rc)
		return rc;
	r.db = mtd_store_db(h->store);
	if (!n)
		return 0;
	if (!(rows = calloc(n, sizeof *rows)))
		return mtd_fail(h, MTD_ENOMEM, "out of memory");
	/* every byte a deletion frees is overwritten with zeros */
	if (sqlite3_exec(r.db, "PRAGMA secure_delete = ON", NULL, NULL, NULL) != SQLITE_OK) {
		free(rows);
		return mtd_fail(h, MTD_ESTORE, "%s", mtd_store_errmsg(h->store));
	}
	if ((rc = mtd_begin(h))) { /* waits for the write lock (--wait), MTD_EBUSY */
		sqlite3_exec(r.db, "PRAGMA secure_delete = FAST", NULL, NULL, NULL);
		free(rows);
		return rc;
	}
	if (sqlite3_prepare_v2(r.db, "SELECT id FROM devices WHERE ext_id = ?1", -1, &q, NULL))
		rc = sfail(&r);
	/* all known, or none removed */
	for (size_t i = 0; !rc && i < n; i++) {
		sqlite3_reset(q);
		sqlite3_bind_text(q, 1, ids[i], -1, SQLITE_STATIC);
		if (sqlite3_step(q) != SQLITE_ROW)
			rc = mtd_fail(h, MTD_ENOTFOUND, "no device '%s'", ids[i]);
		else
			rows[i] = sqlite3_column_int64(q, 0);
		for (size_t j = 0; !rc && j < i; j++)
			if (rows[j] == rows[i])
				rc = mtd_fail(h, MTD_EUSAGE, "device '%s' named twice", ids[i]);
	}
	sqlite3_finalize(q);
	for (size_t i = 0; !rc && i < n; i++)
		rc = remove_one(&r, rows[i], ids[i]);
	if (!rc) { /* row ids are not used again (store.c, SQL_DEVICE_UPSERT) */
		int64_t top = 0;
		char t[32], cur[32];
		for (size_t i = 0; i < n; i++)
			top = rows[i] > top ? rows[i] : top;
		snprintf(t, sizeof t, "%lld", (long long)top);
		if ((mtd_store_meta_get(h->store, "device_floor", cur, sizeof cur) != 0 ||
		     atoll(cur) < top) &&
		    (mtd_store_meta_set(h->store, "device_floor", t) ||
		     mtd_store_row_logged(h->store, h->now, MTD_ROW_META, 0, 0, "device_floor", 12)))
			rc = mtd_fail(h, MTD_ESTORE, "%s", mtd_store_errmsg(h->store));
	}
	if (!rc) {
		if (r.nerased)
			qsort(r.erased, r.nerased, sizeof *r.erased, cmp64);
		rc = record_removal(&r, rows, n);
	}
	if (!rc && mtd_store_commit(h->store))
		rc = mtd_fail(h, MTD_ESTORE, "%s", mtd_store_errmsg(h->store));
	if (rc) {
		mtd_store_rollback(h->store);
		memset(st, 0, sizeof *st);
	} else if (sqlite3_wal_checkpoint_v2(r.db, NULL, SQLITE_CHECKPOINT_TRUNCATE, &ckpt_log,
					     &ckpt_done) != SQLITE_OK ||
		   ckpt_log != 0) {
		/* a reader (serve, another command) holds the WAL: the old pages
		 * in it go at the next checkpoint that gets through */
		st->wal_left = 1;
	}
	sqlite3_exec(r.db, "PRAGMA secure_delete = FAST", NULL, NULL, NULL);
	free(r.erased);
	free(rows);
	return rc;
}

/* ---- list and show ---- */

#define MAX_LIST_IDS MTD_MAX_IDS
#define MAX_THREATS 256

typedef struct shown {
	const char *groups[MTD_MAX_GROUPS + 1];
	char gbuf[MTD_MAX_GROUPS * (MTD_MAX_ID + 1) + 1];
	char *kinds[MAX_LIST_IDS], *values[MAX_LIST_IDS];
	char *tv[MAX_THREATS], *ti[MAX_THREATS], *tn[MAX_THREATS];
	const char *tl[MAX_THREATS];
	int64_t ts[MAX_THREATS];
} shown;

static void shown_free(shown *sh, mtd_device_info *d)
{
	for (size_t i = 0; i < d->nids; i++) {
		free(sh->kinds[i]);
		free(sh->values[i]);
	}
	for (size_t i = 0; i < d->nthreats; i++) {
		free(sh->tv[i]);
		free(sh->ti[i]);
		free(sh->tn[i]);
	}
	d->nids = d->nthreats = 0;
}

static char *dup_col(sqlite3_stmt *st, int i)
{
	const unsigned char *t = sqlite3_column_text(st, i);
	return strdup(t ? (const char *)t : "");
}

/* The device's identifiers and open threats into d (sh holds them). */
static int details(mtd_t *h, int64_t dev, shown *sh, mtd_device_info *d)
{
	sqlite3 *db = mtd_store_db(h->store);
	sqlite3_stmt *st = NULL;
	int rc = 0;
	if (sqlite3_prepare_v2(db, "SELECT kind, value FROM device_ids WHERE device = ?1 ORDER BY kind,"
				   " value", -1, &st, NULL) != SQLITE_OK)
		return MTD_ESTORE;
	sqlite3_bind_int64(st, 1, dev);
	while (!rc && d->nids < MAX_LIST_IDS && sqlite3_step(st) == SQLITE_ROW) {
		sh->kinds[d->nids] = dup_col(st, 0);
		sh->values[d->nids] = dup_col(st, 1);
		if (!sh->kinds[d->nids] || !sh->values[d->nids]) {
			free(sh->kinds[d->nids]);
			free(sh->values[d->nids]);
			rc = MTD_ENOMEM;
			break;
		}
		d->nids++;
	}
	sqlite3_finalize(st);
	if (rc || sqlite3_prepare_v2(db, "SELECT c.vendor, t.id, t.name, t.level, t.since FROM"
					 " threat_events t JOIN connectors c ON c.id = t.connector"
					 " WHERE t.device = ?1 AND t.open = 1 ORDER BY c.vendor, t.id",
				     -1, &st, NULL) != SQLITE_OK)
		return rc ? rc : MTD_ESTORE;
	sqlite3_bind_int64(st, 1, dev);
	while (!rc && d->nthreats < MAX_THREATS && sqlite3_step(st) == SQLITE_ROW) {
		size_t i = d->nthreats;
		sh->tv[i] = dup_col(st, 0);
		sh->ti[i] = dup_col(st, 1);
		sh->tn[i] = dup_col(st, 2);
		sh->tl[i] = mtd_level_name(sqlite3_column_int(st, 3));
		sh->ts[i] = sqlite3_column_int64(st, 4);
		if (!sh->tv[i] || !sh->ti[i] || !sh->tn[i]) {
			free(sh->tv[i]);
			free(sh->ti[i]);
			free(sh->tn[i]);
			rc = MTD_ENOMEM;
			break;
		}
		d->nthreats++;
	}
	sqlite3_finalize(st);
	d->id_kinds = (const char *const *)sh->kinds;
	d->id_values = (const char *const *)sh->values;
	d->threat_vendors = (const char *const *)sh->tv;
	d->threat_ids = (const char *const *)sh->ti;
	d->threat_names = (const char *const *)sh->tn;
	d->threat_levels = sh->tl;
	d->threat_since = sh->ts;
	return rc;
}

static int list(mtd_t *h, const char *one, const char *group, const char *platform,
		mtd_device_fn fn, void *ud)
{
	sqlite3 *db;
	sqlite3_stmt *st = NULL;
	shown *sh;
	int rc = mtd_need_store_read(h), step, plat = -1, found = 0;
	if (rc)
		return rc;
	if (platform && (plat = mtd_platform_from_name(platform, strlen(platform))) < 0)
		return mtd_fail(h, MTD_EUSAGE, "'%s' is not a platform (android, ios, windows, macos)",
				platform);
	if (!(sh = calloc(1, sizeof *sh)))
		return mtd_fail(h, MTD_ENOMEM, "out of memory");
	db = mtd_store_db(h->store);
	/* one read transaction: a consistent list while others write */
	if (sqlite3_exec(db, "BEGIN", NULL, NULL, NULL) != SQLITE_OK ||
	    sqlite3_prepare_v2(db, "SELECT d.id, d.ext_id, d.platform, d.os_version, d.corporate,"
				   " d.enrolled, d.user, d.updated_at, g.key FROM devices d LEFT JOIN"
				   " groupsets g ON g.id = d.groupset WHERE (?1 IS NULL OR d.ext_id = ?1)"
				   " AND (?2 < 0 OR d.platform = ?2) ORDER BY d.ext_id",
			       -1, &st, NULL) != SQLITE_OK) {
		free(sh);
		sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
		return mtd_fail(h, MTD_ESTORE, "%s", sqlite3_errmsg(db));
	}
	if (one)
		sqlite3_bind_text(st, 1, one, -1, SQLITE_STATIC);
	sqlite3_bind_int(st, 2, plat);
	while (!rc && (step = sqlite3_step(st)) == SQLITE_ROW) {
		mtd_device_info d = {0};
		const char *key = (const char *)sqlite3_column_text(st, 8);
		int in_group = !group;
		snprintf(sh->gbuf, sizeof sh->gbuf, "%s", key ? key : "");
		for (char *p = sh->gbuf; *p && d.ngroups < MTD_MAX_GROUPS;) { /* "a\nb\n" */
			char *nl = strchr(p, '\n');
			if (nl)
				*nl = 0;
			sh->groups[d.ngroups++] = p;
			in_group |= group && !strcmp(p, group);
			if (!nl)
				break;
			p = nl + 1;
		}
		if (!in_group)
			continue;
		d.id = (const char *)sqlite3_column_text(st, 1);
		d.platform = mtd_platform_name(sqlite3_column_int(st, 2));
		d.os_version = (const char *)sqlite3_column_text(st, 3);
		d.ownership = sqlite3_column_int(st, 4) ? "corporate" : "personal";
		d.management = sqlite3_column_int(st, 5) ? "enrolled" : "unenrolled";
		d.user = (const char *)sqlite3_column_text(st, 6);
		d.updated_at = sqlite3_column_int64(st, 7);
		d.groups = sh->groups;
		found = 1;
		if (one && (rc = details(h, sqlite3_column_int64(st, 0), sh, &d)))
			rc = rc == MTD_ENOMEM ? mtd_fail(h, rc, "out of memory")
					      : mtd_fail(h, rc, "%s", sqlite3_errmsg(db));
		if (!rc)
			rc = fn(ud, &d);
		shown_free(sh, &d);
	}
	if (!rc && step != SQLITE_DONE)
		rc = mtd_fail(h, MTD_ESTORE, "%s", sqlite3_errmsg(db));
	sqlite3_finalize(st);
	sqlite3_exec(db, "COMMIT", NULL, NULL, NULL);
	free(sh);
	if (!rc && one && !found)
		rc = mtd_fail(h, MTD_ENOTFOUND, "no device '%s'", one);
	return rc;
}

int mtd_device_list(mtd_t *h, const char *group, const char *platform, mtd_device_fn fn, void *ud)
{
	return list(h, NULL, group, platform, fn, ud);
}

int mtd_device_get(mtd_t *h, const char *id, mtd_device_fn fn, void *ud)
{
	return list(h, id, NULL, NULL, fn, ud);
}
