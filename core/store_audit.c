/* store, audit part: see store_audit.h. */
#include "store_audit.h"
