/* tasks: security tasks (contracts: "Security tasks"): what a vendor's
 * vulnerability management asks to be fixed on a device (Defender's
 * vulnerabilities and security recommendations), one row per (device,
 * connector, task id), resolved ones kept for history. */
#ifndef MTD_TASKS_H
#define MTD_TASKS_H

#include <stddef.h>
#include <stdint.h>

#include "codec.h"
#include "store.h"

/* Apply task message m of connector conn to device row dev, received at now,
 * in the order of the time it carries: one older than what is stored of the
 * task changes nothing (at the same time a resolve wins, as for threat
 * events). Each write is row-logged (MTD_ROW_TASKS). 0, or MTD_ESTORE (the
 * store's errmsg says). *written: 1 when the row was written. */
int mtd_task_apply(mtd_store *s, int64_t now, int64_t conn, int64_t dev, const mtd_msg *m,
		   int *written);

/* One open task as the engine hands it to the rules. Strings owned by the
 * array (mtd_task_rows_free); cve, software, version may be NULL. */
typedef struct mtd_task_row {
	int64_t connector;
	char *id, *cve, *software, *version;
	int kind, severity; /* MTD_TASK_*, MTD_SEV_* */
	int64_t first_seen;
} mtd_task_row;
/* The open tasks of device row dev, by connector then id: 0 with *out (NULL
 * when none) and *n, MTD_ENOMEM, or MTD_ESTORE. */
int mtd_task_rows_open(mtd_store *s, int64_t dev, mtd_task_row **out, size_t *n);
void mtd_task_rows_free(mtd_task_row *v, size_t n);

/* When an open task's age next reaches a whole number of days, or one
 * second past it (first_seen + k * 86400 and + 1, k >= 0), after from: a
 * rule comparing a task's age with a number of days (>= or >) can change
 * its decision only then. fn gets each device with open tasks and its
 * earliest such time, in device order; a nonzero return stops (returned).
 * MTD_ESTORE on a store error. */
int mtd_task_next_ages(mtd_store *s, int64_t from, int (*fn)(void *ud, int64_t dev, int64_t at),
		       void *ud);

#endif
