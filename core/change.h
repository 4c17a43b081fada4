/* change: what a decision change does, for reviewing an evaluation (the
 * plan of evaluate --dry-run) and counting what a real one issued. */
#ifndef MTD_CHANGE_H
#define MTD_CHANGE_H

/* The kind (MTD_CHANGE_*, mtdgate.h) of a change from (state, level,
 * access, app action) before to after: MTD_ST_*, MTD_LEVEL_*, 1 = block,
 * MTD_APP_*. A device with no decision before is not_evaluated, none,
 * blocked, none. */
int mtd_change_kind_of(int state0, int level0, int access0, int app0, int state1, int level1,
		       int access1, int app1);

#endif
