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
#include "store_fleet.h"

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

static int names_add(void *ud, const char *s)
{
	names *nm = ud;
	if (!s || !*s || nm->n == sizeof nm->v / sizeof *nm->v)
		return 0;
	if (!(nm->v[nm->n] = strdup(s)))
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
	mtd_remove_stats *st;
	int64_t *erased; /* audit records erased by this removal */
	size_t nerased, cap;
} rm;

static int sfail(rm *r)
{
	return mtd_fail(r->h, MTD_ESTORE, "removing a device: %s", mtd_store_errmsg(r->h->store));
}

/* Delete the device's rows of table, each deletion logged. */
static int delete_rows(rm *r, int table, int64_t dev)
{
	int rc = mtd_store_device_rows_delete(r->h->store, r->h->now, table, dev, &r->st->rows);
	return rc == MTD_ENOMEM ? mtd_fail(r->h, rc, "out of memory") : rc ? sfail(r) : 0;
}

static int parked_names(void *ud, const void *msg, size_t n)
{
	return names_in(ud, msg, n, 0);
}

/* Parked messages that name the device by one of its names. */
static int delete_parked(rm *r, const names *nm)
{
	int rc = mtd_store_parked_delete_if(r->h->store, r->h->now, parked_names, (void *)nm,
					    &r->st->rows);
	return rc == MTD_ENOMEM ? mtd_fail(r->h, rc, "out of memory") : rc ? sfail(r) : 0;
}

/* Erase the personal part of every audit record that names the device:
 * by its id in the record's device, or one of its names in the detail. */
typedef struct erasing {
	rm *r;
	const names *nm;
	const char *ext;
} erasing;

static int erase_one(void *ud, const mtd_audit_personal *a)
{
	erasing *e = ud;
	rm *r = e->r;
	if (is_plain_kind(a->kind))
		return 0;
	if (!(a->device && !strcmp(a->device, e->ext)) &&
	    !(a->detail && names_in(e->nm, a->detail, strlen(a->detail), 1)))
		return 0;
	if (!a->erasable) { /* before schema 10: its hash is over it */
		r->st->legacy++;
		return 0;
	}
	if (r->nerased == r->cap) {
		int64_t *v = realloc(r->erased, (r->cap = r->cap ? 2 * r->cap : 64) * sizeof *v);
		if (!v)
			return MTD_ENOMEM;
		r->erased = v;
	}
	r->erased[r->nerased++] = a->seq;
	return 0;
}

static int erase_audit(rm *r, const names *nm, const char *ext)
{
	erasing e = {r, nm, ext};
	size_t first = r->nerased;
	int rc = mtd_store_audit_personal_each(r->h->store, erase_one, &e);
	if (rc == MTD_ENOMEM)
		return mtd_fail(r->h, rc, "out of memory");
	if (rc || mtd_store_audit_erase(r->h->store, r->erased + first, r->nerased - first))
		return sfail(r);
	r->st->erased += r->nerased - first;
	return 0;
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
	int rc;

	/* its names, before they go */
	if ((rc = names_add(&nm, ext)) ||
	    (rc = mtd_store_device_names(r->h->store, dev, names_add, &nm))) {
		names_free(&nm);
		return rc == MTD_ENOMEM ? mtd_fail(r->h, rc, "out of memory") : sfail(r);
	}
	if ((rc = delete_rows(r, MTD_ROW_APPS, dev)) || (rc = delete_rows(r, MTD_ROW_REPORTS, dev)) ||
	    (rc = delete_rows(r, MTD_ROW_THREAT_EVENTS, dev)) ||
	    (rc = delete_rows(r, MTD_ROW_TASKS, dev)) ||
	    /* identifiers are logged under keys salted with the device's salt:
	     * before the salt goes */
	    (rc = delete_rows(r, MTD_ROW_DEVICE_IDS, dev)) || (rc = delete_parked(r, &nm)) ||
	    (rc = delete_rows(r, MTD_ROW_DEVICE_SALTS, dev)) || (rc = drop_decision(r, dev)) ||
	    (rc = delete_rows(r, MTD_ROW_DEVICES, dev)) || (rc = erase_audit(r, &nm, ext))) {
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
	int rc = mtd_need_store(h);

	memset(st, 0, sizeof *st);
	if (rc)
		return rc;
	if (!n)
		return 0;
	if (!(rows = calloc(n, sizeof *rows)))
		return mtd_fail(h, MTD_ENOMEM, "out of memory");
	/* every byte a deletion frees is overwritten with zeros */
	if (mtd_store_secure_delete(h->store, 1)) {
		free(rows);
		return mtd_fail(h, MTD_ESTORE, "%s", mtd_store_errmsg(h->store));
	}
	if ((rc = mtd_begin(h))) { /* waits for the write lock (--wait), MTD_EBUSY */
		mtd_store_secure_delete(h->store, 0);
		free(rows);
		return rc;
	}
	/* all known, or none removed */
	for (size_t i = 0; !rc && i < n; i++) {
		if ((rc = mtd_store_device_id(h->store, ids[i], &rows[i])) == MTD_ENOTFOUND)
			rc = mtd_fail(h, MTD_ENOTFOUND, "no device '%s'", ids[i]);
		else if (rc)
			rc = sfail(&r);
		for (size_t j = 0; !rc && j < i; j++)
			if (rows[j] == rows[i])
				rc = mtd_fail(h, MTD_EUSAGE, "device '%s' named twice", ids[i]);
	}
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
	} else if (mtd_store_wal_truncate(h->store)) {
		/* a reader (serve, another command) holds the WAL: the old pages
		 * in it go at the next checkpoint that gets through */
		st->wal_left = 1;
	}
	mtd_store_secure_delete(h->store, 0);
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

static char *dup_text(const char *t)
{
	return strdup(t ? t : "");
}

/* The device's identifiers and open threats into d (sh holds them). */
static int details(mtd_t *h, int64_t dev, shown *sh, mtd_device_info *d)
{
	sqlite3_stmt *st = mtd_store_stmt(h->store, SQL_FLEET_DEVICE_IDS);
	int rc = 0;
	if (!st)
		return MTD_ESTORE;
	sqlite3_bind_int64(st, 1, dev);
	while (!rc && d->nids < MAX_LIST_IDS && sqlite3_step(st) == SQLITE_ROW) {
		mtd_fleet_id id;
		mtd_fleet_id_read(st, &id);
		sh->kinds[d->nids] = dup_text(id.kind);
		sh->values[d->nids] = dup_text(id.value);
		if (!sh->kinds[d->nids] || !sh->values[d->nids]) {
			free(sh->kinds[d->nids]);
			free(sh->values[d->nids]);
			rc = MTD_ENOMEM;
			break;
		}
		d->nids++;
	}
	sqlite3_reset(st);
	if (rc || !(st = mtd_store_stmt(h->store, SQL_FLEET_OPEN_THREATS)))
		return rc ? rc : MTD_ESTORE;
	sqlite3_bind_int64(st, 1, dev);
	while (!rc && d->nthreats < MAX_THREATS && sqlite3_step(st) == SQLITE_ROW) {
		size_t i = d->nthreats;
		mtd_fleet_threat t;
		mtd_fleet_threat_read(st, &t);
		sh->tv[i] = dup_text(t.vendor);
		sh->ti[i] = dup_text(t.id);
		sh->tn[i] = dup_text(t.name);
		sh->tl[i] = mtd_level_name(t.level);
		sh->ts[i] = t.since;
		if (!sh->tv[i] || !sh->ti[i] || !sh->tn[i]) {
			free(sh->tv[i]);
			free(sh->ti[i]);
			free(sh->tn[i]);
			rc = MTD_ENOMEM;
			break;
		}
		d->nthreats++;
	}
	sqlite3_reset(st);
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
	/* one read transaction: a consistent list while others write */
	if (mtd_store_read_begin(h->store) ||
	    !(st = mtd_store_stmt(h->store, SQL_FLEET_DEVICES))) {
		free(sh);
		rc = mtd_fail(h, MTD_ESTORE, "%s", mtd_store_errmsg(h->store));
		mtd_store_rollback(h->store);
		return rc;
	}
	if (one)
		sqlite3_bind_text(st, 1, one, -1, SQLITE_STATIC);
	sqlite3_bind_int(st, 2, plat);
	while (!rc && (step = sqlite3_step(st)) == SQLITE_ROW) {
		mtd_device_info d = {0};
		mtd_fleet_device row;
		int in_group = !group;
		mtd_fleet_device_read(st, &row);
		snprintf(sh->gbuf, sizeof sh->gbuf, "%s", row.groups ? row.groups : "");
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
		d.id = row.ext_id;
		d.platform = mtd_platform_name(row.platform);
		d.os_version = row.os_version;
		d.ownership = row.corporate ? "corporate" : "personal";
		d.management = row.enrolled ? "enrolled" : "unenrolled";
		d.user = row.user;
		d.updated_at = row.updated_at;
		d.groups = sh->groups;
		found = 1;
		if (one && (rc = details(h, mtd_fleet_device_id(st), sh, &d)))
			rc = rc == MTD_ENOMEM ? mtd_fail(h, rc, "out of memory")
					      : mtd_fail(h, rc, "%s", mtd_store_errmsg(h->store));
		if (!rc)
			rc = fn(ud, &d);
		shown_free(sh, &d);
	}
	if (!rc && step != SQLITE_DONE)
		rc = mtd_fail(h, MTD_ESTORE, "%s", mtd_store_errmsg(h->store));
	sqlite3_reset(st);
	mtd_store_read_end(h->store);
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
