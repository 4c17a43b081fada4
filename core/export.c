/* export: the current decisions as plain SQLite tables in a file of their
 * own, for sqlite3 and BI tools that cannot read the store's packed blocks
 * (README, "Exports"). Read through mtd_report; written by sqlfile. */
#include <stdlib.h>
#include <string.h>

#include "mtdgate/wire.h"
#include "sqlfile.h"
#include "tbuf.h"

#define EXPORT_TAG "mtdgate-export 1"

static const char export_schema[] =
	"CREATE TABLE sqlfile_info(key TEXT PRIMARY KEY, value TEXT NOT NULL);"
	"CREATE TABLE decisions(device TEXT PRIMARY KEY, platform TEXT NOT NULL,"
	" management TEXT NOT NULL, state TEXT NOT NULL, level TEXT NOT NULL,"
	" access TEXT NOT NULL, app_protection TEXT NOT NULL, vendors_json TEXT NOT NULL,"
	" reasons_json TEXT NOT NULL, resources_json TEXT NOT NULL, evaluated_at TEXT,"
	" evaluated_unix INTEGER);"
	"CREATE TABLE decision_vendors(device TEXT NOT NULL, vendor TEXT NOT NULL,"
	" level TEXT NOT NULL, PRIMARY KEY(device, vendor));"
	"CREATE TABLE decision_reasons(device TEXT NOT NULL, n INTEGER NOT NULL,"
	" reason TEXT NOT NULL, PRIMARY KEY(device, n));"
	"CREATE TABLE decision_resources(device TEXT NOT NULL, resource TEXT NOT NULL,"
	" PRIMARY KEY(device, resource));";

enum { ST_DECISION, ST_VENDOR, ST_REASON, ST_RESOURCE, NST };
static const char *const export_sql[NST] = {
	"INSERT INTO decisions VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)",
	"INSERT INTO decision_vendors VALUES(?1, ?2, ?3)",
	"INSERT INTO decision_reasons VALUES(?1, ?2, ?3)",
	/* a resource named twice by the rules is one row */
	"INSERT OR IGNORE INTO decision_resources VALUES(?1, ?2)",
};

typedef struct exporter {
	sqlite3_stmt *st[NST];
	tbuf vendors, reasons, resources;
	uint64_t rows;
} exporter;

static int done(sqlite3_stmt *st)
{
	int rc = sqlite3_step(st);
	sqlite3_reset(st);
	return rc == SQLITE_DONE ? 0 : MTD_EIO;
}

static int vendors_json(tbuf *b, const mtd_decision_info *d)
{
	if (tb_set(b, "{"))
		return -1;
	for (size_t i = 0; i < d->nvendors; i++)
		if ((i && tb_put(b, ",", 1)) || tb_jstr(b, d->vendor_names[i]) || tb_put(b, ":", 1) ||
		    tb_jstr(b, d->vendor_levels[i]))
			return -1;
	return tb_put(b, "}", 1);
}

static int put_decision(void *ud, const mtd_decision_info *d)
{
	exporter *x = ud;
	sqlite3_stmt *st = x->st[ST_DECISION];
	char when[40];
	int rc;

	if (vendors_json(&x->vendors, d) || tb_jarray(&x->reasons, d->reasons, d->nreasons) ||
	    tb_jarray(&x->resources, d->resources, d->nresources))
		return MTD_ENOMEM;
	sqlite3_bind_text(st, 1, d->device, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, d->platform, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 3, d->management, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 4, d->state, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 5, d->level, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 6, d->access, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 7, d->app_protection, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 8, x->vendors.p, (int)x->vendors.n, SQLITE_STATIC);
	sqlite3_bind_text(st, 9, x->reasons.p, (int)x->reasons.n, SQLITE_STATIC);
	sqlite3_bind_text(st, 10, x->resources.p, (int)x->resources.n, SQLITE_STATIC);
	if (d->evaluated_at) {
		sqlite3_bind_text(st, 11, mtd_time_format(d->evaluated_at, when, sizeof when), -1,
				  SQLITE_TRANSIENT);
		sqlite3_bind_int64(st, 12, d->evaluated_at);
	} else {
		sqlite3_bind_null(st, 11);
		sqlite3_bind_null(st, 12);
	}
	if ((rc = done(st)))
		return rc;
	for (size_t i = 0; i < d->nvendors; i++) {
		st = x->st[ST_VENDOR];
		sqlite3_bind_text(st, 1, d->device, -1, SQLITE_STATIC);
		sqlite3_bind_text(st, 2, d->vendor_names[i], -1, SQLITE_STATIC);
		sqlite3_bind_text(st, 3, d->vendor_levels[i], -1, SQLITE_STATIC);
		if ((rc = done(st)))
			return rc;
	}
	for (size_t i = 0; i < d->nreasons; i++) {
		st = x->st[ST_REASON];
		sqlite3_bind_text(st, 1, d->device, -1, SQLITE_STATIC);
		sqlite3_bind_int64(st, 2, (int64_t)i + 1);
		sqlite3_bind_text(st, 3, d->reasons[i], -1, SQLITE_STATIC);
		if ((rc = done(st)))
			return rc;
	}
	for (size_t i = 0; i < d->nresources; i++) {
		st = x->st[ST_RESOURCE];
		sqlite3_bind_text(st, 1, d->device, -1, SQLITE_STATIC);
		sqlite3_bind_text(st, 2, d->resources[i], -1, SQLITE_STATIC);
		if ((rc = done(st)))
			return rc;
	}
	x->rows++;
	return 0;
}

int mtd_export_sql(mtd_t *h, const char *path, uint64_t *rows)
{
	mtd_sqlfile f;
	exporter x = {0};
	char when[40], count[24];
	sqlite3_stmt *info = NULL;
	int rc, i;

	if (rows)
		*rows = 0;
	if (!path)
		return mtd_fail(h, MTD_EUSAGE, "export: no file");
	if ((rc = mtd_sqlfile_begin(h, &f, path, EXPORT_TAG, export_schema)))
		return rc;
	for (i = 0; i < NST; i++)
		if (sqlite3_prepare_v2(f.db, export_sql[i], -1, &x.st[i], NULL) != SQLITE_OK) {
			rc = mtd_fail(h, MTD_EIO, "%s: %s", path, sqlite3_errmsg(f.db));
			goto out;
		}
	h->err[0] = '\0';
	if ((rc = mtd_report(h, NULL, put_decision, &x))) {
		if (rc == MTD_EIO && !h->err[0])
			mtd_fail(h, rc, "%s: %s", path, sqlite3_errmsg(f.db));
		else if (rc == MTD_ENOMEM && !h->err[0])
			mtd_fail(h, rc, "out of memory");
		goto out;
	}
	snprintf(count, sizeof count, "%llu", (unsigned long long)x.rows);
	if (sqlite3_prepare_v2(f.db, "INSERT INTO sqlfile_info VALUES(?1, ?2)", -1, &info, NULL) ||
	    sqlite3_bind_text(info, 1, "format", -1, SQLITE_STATIC) ||
	    sqlite3_bind_text(info, 2, EXPORT_TAG, -1, SQLITE_STATIC) || done(info) ||
	    sqlite3_bind_text(info, 1, "exported_at", -1, SQLITE_STATIC) ||
	    sqlite3_bind_text(info, 2, mtd_time_format(h->now, when, sizeof when), -1,
			      SQLITE_STATIC) ||
	    done(info) || sqlite3_bind_text(info, 1, "devices", -1, SQLITE_STATIC) ||
	    sqlite3_bind_text(info, 2, count, -1, SQLITE_STATIC) || done(info)) {
		rc = mtd_fail(h, MTD_EIO, "%s: %s", path, sqlite3_errmsg(f.db));
		goto out;
	}
out:
	sqlite3_finalize(info);
	for (i = 0; i < NST; i++)
		sqlite3_finalize(x.st[i]);
	free(x.vendors.p);
	free(x.reasons.p);
	free(x.resources.p);
	if (rc) {
		mtd_sqlfile_abort(&f);
		return rc;
	}
	if ((rc = mtd_sqlfile_finish(h, &f)))
		return rc;
	if (rows)
		*rows = x.rows;
	return 0;
}
