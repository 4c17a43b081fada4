/* store, ingest part: see store_ingest.h. */
#include "store_ingest.h"
