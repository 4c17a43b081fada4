/* store, fleet part: the SQL and typed rows of fleet.c, export.c and sqlfile.c: device removal and show, export, SQL files.
 * Part of the store (store.h): the SQL text lives in store_fleet.c or in
 * store.c's statement table; callers never see a column number. */
#ifndef MTD_STORE_FLEET_H
#define MTD_STORE_FLEET_H

#include "store.h"

#endif
