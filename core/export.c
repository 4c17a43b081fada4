/* export: the current decisions as plain SQLite tables in a file of their
 * own, for sqlite3 and BI tools that cannot read the store's packed blocks
 * (README, "Exports"). Read through mtd_report; written by sqlfile. */
#include <stdlib.h>
#include <string.h>

#include "mtdgate/wire.h"
#include "sqlfile.h"
#include "store_fleet.h"
#include "tbuf.h"

#define EXPORT_TAG "mtdgate-export 1"

typedef struct exporter {
	mtd_export_stmts st;
	tbuf vendors, reasons, resources;
	uint64_t rows;
} exporter;

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
	char when[40];
	int rc;

	if (vendors_json(&x->vendors, d) || tb_jarray(&x->reasons, d->reasons, d->nreasons) ||
	    tb_jarray(&x->resources, d->resources, d->nresources))
		return MTD_ENOMEM;
	if ((rc = mtd_export_put(&x->st, d, x->vendors.p, x->vendors.n, x->reasons.p, x->reasons.n,
				 x->resources.p, x->resources.n,
				 d->evaluated_at ? mtd_time_format(d->evaluated_at, when, sizeof when)
						 : NULL)))
		return rc;
	x->rows++;
	return 0;
}

int mtd_export_sql(mtd_t *h, const char *path, uint64_t *rows)
{
	mtd_sqlfile f;
	exporter x = {0};
	char when[40], count[24];
	int rc;

	if (rows)
		*rows = 0;
	if (!path)
		return mtd_fail(h, MTD_EUSAGE, "export: no file");
	if ((rc = mtd_sqlfile_begin(h, &f, path, EXPORT_TAG, mtd_export_schema)))
		return rc;
	if (mtd_export_prepare(f.db, &x.st)) {
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
	if (mtd_store_file_info_put(f.db, "format", EXPORT_TAG) ||
	    mtd_store_file_info_put(f.db, "exported_at", mtd_time_format(h->now, when, sizeof when)) ||
	    mtd_store_file_info_put(f.db, "devices", count)) {
		rc = mtd_fail(h, MTD_EIO, "%s: %s", path, sqlite3_errmsg(f.db));
		goto out;
	}
out:
	mtd_export_finalize(&x.st);
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
