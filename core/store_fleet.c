/* store, fleet part: see store_fleet.h. */
#include "store_fleet.h"
