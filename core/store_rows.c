/* store, rows part: see store_rows.h. */
#include "store_rows.h"
