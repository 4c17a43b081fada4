/* Security tasks: applying task messages, listing them, the typed reader the
 * engine uses. (A device removed takes its tasks with it: fleet.c.) */
#include <stdlib.h>
#include <string.h>

#include "mtd_int.h"
#include "store_rows.h"
#include "tasks.h"

int mtd_task_apply(mtd_store *s, int64_t now, int64_t conn, int64_t dev, const mtd_msg *m,
		   int *written)
{
	const mtd_task *t = &m->task;
	int open = m->state == MTD_EVENT_OPEN, was_open, rc;
	int64_t last;

	*written = 0;
	rc = mtd_store_task_state(s, dev, conn, t->id.p, t->id.n, &was_open, &last);
	if (rc == 0) {
		/* an older word on the task lost; at the same time a resolve wins */
		if (last > m->at || (last == m->at && (!was_open || open)))
			return 0;
	} else if (rc != MTD_ENOTFOUND) {
		return MTD_ESTORE;
	}
	if (mtd_store_task_put(s, now, dev, conn, t, open, m->at))
		return MTD_ESTORE;
	*written = 1;
	return 0;
}

/* A copy of t (NULL stays NULL); *oom set when it cannot be made. */
static char *dup(const char *t, int *oom)
{
	char *c = t ? strdup(t) : NULL;
	*oom |= t && !c;
	return c;
}

void mtd_task_rows_free(mtd_task_row *v, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free(v[i].id);
		free(v[i].cve);
		free(v[i].software);
		free(v[i].version);
	}
	free(v);
}

int mtd_task_next_ages(mtd_store *s, int64_t from, int (*fn)(void *ud, int64_t dev, int64_t at),
		       void *ud)
{
	sqlite3_stmt *st = mtd_store_stmt(s, SQL_TASKS_NEXT_AGE);
	int step, rc = 0;
	if (!st)
		return MTD_ESTORE;
	sqlite3_bind_int64(st, 1, from);
	while ((step = sqlite3_step(st)) == SQLITE_ROW) {
		mtd_task_age_row r;
		mtd_task_age_read(st, &r);
		if ((rc = fn(ud, r.device, r.at)))
			break;
	}
	sqlite3_reset(st);
	return rc ? rc : step == SQLITE_DONE ? 0 : MTD_ESTORE;
}

int mtd_task_rows_open(mtd_store *s, int64_t dev, mtd_task_row **out, size_t *n)
{
	sqlite3_stmt *st = mtd_store_stmt(s, SQL_TASKS_OPEN_OF);
	mtd_task_row *v = NULL;
	size_t k = 0, cap = 0;
	int step = SQLITE_DONE, oom = 0;

	*out = NULL;
	*n = 0;
	if (!st)
		return MTD_ESTORE;
	sqlite3_bind_int64(st, 1, dev);
	while (!oom && (step = sqlite3_step(st)) == SQLITE_ROW) {
		mtd_task_open_row row;
		mtd_task_row *r;
		if (k == cap) {
			size_t nc = cap ? 2 * cap : 8;
			mtd_task_row *nv = realloc(v, nc * sizeof *v);
			if (!nv) {
				oom = 1;
				break;
			}
			v = nv;
			cap = nc;
		}
		mtd_task_open_read(st, &row);
		r = &v[k++];
		memset(r, 0, sizeof *r);
		r->connector = row.connector;
		r->id = dup(row.t.id, &oom);
		r->kind = row.t.kind;
		r->cve = dup(row.t.cve, &oom);
		r->software = dup(row.t.software, &oom);
		r->version = dup(row.t.version, &oom);
		r->severity = row.t.severity;
		r->first_seen = row.t.first_seen;
		oom |= !r->id;
	}
	sqlite3_reset(st);
	if (oom || step != SQLITE_DONE) {
		mtd_task_rows_free(v, k);
		return oom ? MTD_ENOMEM : MTD_ESTORE;
	}
	*out = v;
	*n = k;
	return 0;
}

/* ---- listing ---- */

int mtd_tasks(mtd_t *h, const char *device, mtd_task_fn fn, void *ud)
{
	sqlite3_stmt *st;
	int rc = mtd_need_store_read(h), step; /* a reader: never writes */
	int64_t dev = 0;

	if (rc)
		return rc;
	/* one read transaction: a consistent listing while others write */
	if (mtd_store_read_begin(h->store))
		return mtd_fail(h, MTD_ESTORE, "%s", mtd_store_errmsg(h->store));
	if (device && (rc = mtd_store_device_id(h->store, device, &dev))) {
		rc = rc == MTD_ENOTFOUND ? mtd_fail(h, MTD_ENOTFOUND, "no device '%s'", device)
					 : mtd_fail(h, MTD_ESTORE, "%s", mtd_store_errmsg(h->store));
		goto out;
	}
	if (!(st = mtd_store_stmt(h->store, SQL_TASKS_LIST))) {
		rc = mtd_fail(h, MTD_ESTORE, "%s", mtd_store_errmsg(h->store));
		goto out;
	}
	if (device)
		sqlite3_bind_int64(st, 1, dev);
	while (!rc && (step = sqlite3_step(st)) == SQLITE_ROW) {
		mtd_task_list_row r;
		mtd_task_info t;
		mtd_task_list_read(st, &r);
		t.device = r.device;
		t.vendor = r.vendor;
		t.id = r.t.id;
		t.kind = mtd_task_kind_name(r.t.kind);
		t.cve = r.t.cve;
		t.software = r.t.software;
		t.version = r.t.version;
		t.severity = mtd_task_severity_name(r.t.severity);
		t.first_seen = r.t.first_seen;
		t.state = r.open ? "open" : "resolved";
		t.updated_at = r.at;
		t.received = r.received;
		if (!t.device || !t.vendor || !t.id) {
			rc = mtd_fail(h, MTD_ENOMEM, "out of memory");
			break;
		}
		rc = fn(ud, &t);
	}
	if (!rc && step != SQLITE_DONE)
		rc = mtd_fail(h, MTD_ESTORE, "%s", mtd_store_errmsg(h->store));
out:
	mtd_store_read_end(h->store);
	return rc;
}
