/* sqlfile: self-contained SQLite files written whole, put in place
 * atomically (sqlfile.h). */
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "sqlfile.h"
#include "store_fleet.h"

/* 1 when the file at path is one of ours tagged tag, 0 when not. */
static int tagged(const char *path, const char *tag)
{
	sqlite3 *db = NULL;
	char v[64]; /* longer than any tag: a longer value, cut to fit, is not one */
	int ok = strlen(tag) < sizeof v - 1 &&
		 sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL) == SQLITE_OK &&
		 mtd_store_file_info_get(db, "format", v, sizeof v) && !strcmp(v, tag);
	sqlite3_close(db);
	return ok;
}

int mtd_sqlfile_begin(mtd_t *h, mtd_sqlfile *f, const char *path, const char *replace_tag,
		      const char *schema)
{
	struct stat sp, ss;
	size_t n = strlen(path);
	int fd;

	memset(f, 0, sizeof *f);
	if (!n)
		return mtd_fail(h, MTD_EUSAGE, "no file name");
	if (stat(path, &sp) == 0) {
		if (!S_ISREG(sp.st_mode))
			return mtd_fail(h, MTD_EREFUSED, "%s is not a regular file", path);
		if (h->db_path && stat(h->db_path, &ss) == 0 && ss.st_dev == sp.st_dev &&
		    ss.st_ino == sp.st_ino)
			return mtd_fail(h, MTD_EREFUSED, "%s is the store itself", path);
		if (!replace_tag)
			return mtd_fail(h, MTD_EREFUSED, "%s exists: it is never overwritten", path);
		if (!tagged(path, replace_tag))
			return mtd_fail(h, MTD_EREFUSED,
					"%s exists and is not an mtdgate export: not overwritten", path);
	} else if (errno != ENOENT) {
		return mtd_fail(h, MTD_EIO, "%s: %s", path, strerror(errno));
	}
	if (!(f->path = strdup(path)) || !(f->tmp = malloc(n + 12))) {
		mtd_sqlfile_abort(f);
		return mtd_fail(h, MTD_ENOMEM, "out of memory");
	}
	snprintf(f->tmp, n + 12, "%s.tmpXXXXXX", path);
	if ((fd = mkstemp(f->tmp)) < 0) { /* mode 0600 */
		int e = errno;
		free(f->tmp);
		f->tmp = NULL;
		mtd_sqlfile_abort(f);
		return mtd_fail(h, MTD_EIO, "%s: %s", path, strerror(e));
	}
	close(fd);
	/* No journal: the file is new and only put in place once complete. */
	if (sqlite3_open_v2(f->tmp, &f->db, SQLITE_OPEN_READWRITE, NULL) != SQLITE_OK ||
	    mtd_store_file_begin(f->db, schema)) {
		int rc = mtd_fail(h, MTD_EIO, "%s: %s", path,
				  f->db ? sqlite3_errmsg(f->db) : "cannot open");
		mtd_sqlfile_abort(f);
		return rc;
	}
	return 0;
}

int mtd_sqlfile_finish(mtd_t *h, mtd_sqlfile *f)
{
	char *dir;
	int fd, rc = 0;

	if (mtd_store_file_commit(f->db)) {
		rc = mtd_fail(h, MTD_EIO, "%s: %s", f->path, sqlite3_errmsg(f->db));
		mtd_sqlfile_abort(f);
		return rc;
	}
	sqlite3_close(f->db);
	f->db = NULL;
	/* durable before it is named, and the name durable before we say so */
	fd = open(f->tmp, O_RDONLY | O_CLOEXEC);
	if (fd < 0 || fsync(fd) != 0 || rename(f->tmp, f->path) != 0)
		rc = mtd_fail(h, MTD_EIO, "%s: %s", f->path, strerror(errno));
	if (fd >= 0)
		close(fd);
	if (!rc && (dir = strdup(f->path))) {
		int d = open(dirname(dir), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (d < 0 || fsync(d) != 0)
			rc = mtd_fail(h, MTD_EIO, "%s: %s", f->path, strerror(errno));
		if (d >= 0)
			close(d);
		free(dir);
	} else if (!rc) {
		rc = mtd_fail(h, MTD_ENOMEM, "out of memory");
	}
	if (!rc) {
		free(f->tmp);
		f->tmp = NULL;
	}
	mtd_sqlfile_abort(f);
	return rc;
}

void mtd_sqlfile_abort(mtd_sqlfile *f)
{
	if (!f)
		return;
	sqlite3_close(f->db);
	if (f->tmp)
		unlink(f->tmp);
	free(f->tmp);
	free(f->path);
	memset(f, 0, sizeof *f);
}
