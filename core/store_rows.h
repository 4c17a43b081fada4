/* store, rows part: the SQL and typed rows of tasks.c, connector.c, events.c and appsync.c: their rows, typed.
 * Part of the store (store.h): the SQL text lives in store_rows.c or in
 * store.c's statement table; callers never see a column number. */
#ifndef MTD_STORE_ROWS_H
#define MTD_STORE_ROWS_H

#include "store.h"

#endif
