/* store, audit part: the SQL and typed rows of audit.c's reads and writes: the chain, show, verify, prune, archive, erase.
 * Part of the store (store.h): the SQL text lives in store_audit.c or in
 * store.c's statement table; callers never see a column number. */
#ifndef MTD_STORE_AUDIT_H
#define MTD_STORE_AUDIT_H

#include "store.h"

#endif
