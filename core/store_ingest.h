/* store, ingest part: the SQL and typed rows of ingest.c and pull.c: the device map, parking, reports, pull state.
 * Part of the store (store.h): the SQL text lives in store_ingest.c or in
 * store.c's statement table; callers never see a column number. */
#ifndef MTD_STORE_INGEST_H
#define MTD_STORE_INGEST_H

#include "store.h"

#endif
