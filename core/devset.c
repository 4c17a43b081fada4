/* devset: sets of devices by store row id, for incremental evaluation
 * (mtdgate.h, mtd_devset). */
#include <stdlib.h>
#include <string.h>

#include "mtd_int.h"

void mtd_devset_free(mtd_devset *s)
{
	if (!s)
		return;
	free(s->ids);
	memset(s, 0, sizeof *s);
}

int mtd_devset_add(mtd_devset *s, int64_t id)
{
	if (s->all)
		return 0; /* holds every device already */
	if (s->n && s->ids[s->n - 1] == id)
		return 0; /* the same device again, as a run of its messages */
	if (s->n == s->cap) {
		size_t cap = s->cap ? s->cap * 2 : 64;
		int64_t *v = realloc(s->ids, cap * sizeof *v);
		if (!v) {
			s->all = 1; /* still right, only slower */
			return MTD_ENOMEM;
		}
		s->ids = v;
		s->cap = cap;
	}
	s->ids[s->n++] = id;
	return 0;
}

static int cmp_id(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
	return (x > y) - (x < y);
}

void mtd_devset_normalize(mtd_devset *s)
{
	size_t w = 0;
	if (s->all) {
		s->n = 0;
		return;
	}
	if (s->n < 2)
		return;
	qsort(s->ids, s->n, sizeof *s->ids, cmp_id);
	for (size_t i = 0; i < s->n; i++)
		if (!w || s->ids[w - 1] != s->ids[i])
			s->ids[w++] = s->ids[i];
	s->n = w;
}

int mtd_devset_merge(mtd_devset *into, mtd_devset *from)
{
	int rc = 0;
	into->all |= from->all;
	for (size_t i = 0; !rc && i < from->n; i++)
		rc = mtd_devset_add(into, from->ids[i]);
	from->n = 0;
	from->all = 0;
	return rc;
}

int mtd_devset_add_ext(mtd_t *h, mtd_devset *s, const char *device)
{
	int64_t id;
	int rc = mtd_need_store(h);
	if (rc)
		return rc;
	if ((rc = mtd_store_device_id(h->store, device, &id)) == MTD_ENOTFOUND)
		return mtd_fail(h, MTD_EUSAGE, "unknown device '%s'", device);
	if (rc)
		return mtd_fail(h, rc, "%s", mtd_store_errmsg(h->store));
	return mtd_devset_add(s, id) ? mtd_fail(h, MTD_ENOMEM, "out of memory") : 0;
}

int mtd_track_touched(mtd_t *h, int on)
{
	int rc = mtd_need_store(h);
	if (!rc)
		mtd_store_track(h->store, on);
	h->mixed = on;
	return rc;
}

int mtd_touched(mtd_t *h, mtd_devset *out)
{
	int rc = mtd_need_store(h);
	if (rc)
		return rc;
	if (mtd_store_touched(h->store, out))
		return mtd_fail(h, MTD_ENOMEM, "out of memory");
	mtd_devset_normalize(out);
	return 0;
}

int mtd_changes_since(mtd_t *h, int64_t *seq, mtd_devset *touched, mtd_devset *decided)
{
	int rc = mtd_need_store(h);
	if (rc)
		return rc;
	/* one read transaction: the logs as of the last commit */
	mtd_store_idle(h->store);
	if (mtd_store_read_begin(h->store))
		return mtd_fail(h, MTD_ESTORE, "%s", mtd_store_errmsg(h->store));
	rc = mtd_store_changes_since(h->store, seq, touched, decided);
	mtd_store_read_end(h->store);
	mtd_devset_normalize(touched);
	if (decided)
		mtd_devset_normalize(decided);
	return rc ? mtd_fail(h, rc, "reading the logs: %s", mtd_store_errmsg(h->store)) : 0;
}

int mtd_last_seq(mtd_t *h, int64_t *seq)
{
	int rc = mtd_need_store(h);
	if (rc)
		return rc;
	return mtd_store_last_seq(h->store, seq)
		       ? mtd_fail(h, MTD_ESTORE, "%s", mtd_store_errmsg(h->store))
		       : 0;
}
