/* sqlfile: a self-contained SQLite file written whole and put in place
 * atomically (exports, audit archives): readers of path see the old file
 * or the new one, never half of one, and a kill at any moment leaves path
 * as it was. Not the store: it speaks SQL only to the file it writes, and
 * that SQL is the store's too (store_fleet.h, "SQL files"). Internal to
 * libmtdgate. */
#ifndef MTD_SQLFILE_H
#define MTD_SQLFILE_H

#include <sqlite3.h>

#include "mtd_int.h"

typedef struct mtd_sqlfile {
	sqlite3 *db;   /* the new file, in one open transaction */
	char *tmp;     /* its temporary name beside path; owned */
	char *path;    /* where it goes; owned */
} mtd_sqlfile;

/* Start a new file for path (mode 0600, in path's directory). With
 * replace_tag, an existing path is replaced only when it is such a file
 * whose table sqlfile_info has key 'format' = replace_tag (an export made
 * before); without, an existing path is refused (MTD_EREFUSED). The store
 * itself is always refused. schema is run first, in the transaction. */
int mtd_sqlfile_begin(mtd_t *h, mtd_sqlfile *f, const char *path, const char *replace_tag,
		      const char *schema);
/* Commit, fsync the file, rename it over path and fsync the directory:
 * durable when it returns 0. Always releases f. */
int mtd_sqlfile_finish(mtd_t *h, mtd_sqlfile *f);
/* Give up: the temporary file is removed, path untouched. NULL-safe. */
void mtd_sqlfile_abort(mtd_sqlfile *f);

#endif
