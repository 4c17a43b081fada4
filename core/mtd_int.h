/* The handle behind the public API; shared by mtd.c, ingest.c, engine.c. */
#ifndef MTD_INT_H
#define MTD_INT_H

#include <stdatomic.h>

#include "mtdgate/mtdgate.h"
#include "plugin_child.h"
#include "store.h"

struct mtd {
	char *db_path, *rules_dir, *plugin_dir;
	int64_t now;
	int now_fixed; /* mtd_config.now was given: mtd_tick keeps it */
	int isolate_plugins;
	int insecure_plugins, insecure_rules; /* accept unsafe directories, warned */
	size_t rules_memory;
	uint64_t rules_instructions;
	uint64_t rules_cpu_ms, rules_eval_cpu_ms; /* 0: the defaults */
	int64_t max_skew; /* seconds; >= 0 */
	int64_t wait_ms;  /* for the write lock; >= 0 */
	uint64_t batch; /* records per committed batch */
	mtd_store *store;
	int store_readonly; /* opened with MTD_STORE_READONLY */
	int mixed; /* reads and writes interleave on this handle (mtd_track_touched): no query_only */
	char cloud[16];
	mtd_diag_fn diag;
	void *diag_ud;
	mtd_progress_fn progress;
	void *progress_ud;
	atomic_int pull_stop; /* mtd_pull_stop: set by another thread */
	char err[1024];
};

/* Set the handle's message; returns rc. */
int mtd_fail(mtd_t *h, int rc, const char *fmt, ...)
#if defined(__GNUC__)
	__attribute__((format(printf, 3, 4)))
#endif
	;
/* Send one diagnostic line. */
void mtd_diag(mtd_t *h, const char *fmt, ...)
#if defined(__GNUC__)
	__attribute__((format(printf, 2, 3)))
#endif
	;
/* Open the store if not yet open (and read the cloud); a store opened
 * read-only before is opened again for writing. */
int mtd_need_store(mtd_t *h);
/* Begin a write transaction on h's store: 0, or MTD_EBUSY (the lock stayed
 * held longer than --wait) or MTD_ESTORE, with h's message set. */
int mtd_begin(mtd_t *h);
/* Open for a command that only reads (list, report, show): every write on
 * the connection fails until the next mtd_need_store (PRAGMA query_only).
 * An older store is still migrated (with its backup) to be read. */
int mtd_need_store_read(mtd_t *h);
/* The same, read-only when not open yet (nothing is written, not even a
 * migration: for a store on read-only media). */
int mtd_need_store_readonly(mtd_t *h);
/* Bring every connector's state up to date at h->now (audited). */
int mtd_refresh_connectors(mtd_t *h);
/* Whoever can write rules or plugins decides who gets access: refuse path
 * (MTD_EREFUSED, h's message says why) unless it and every directory above it
 * are owned by root or the running user and writable by no one else; with
 * suffix, the same for each file in the directory path whose name ends so.
 * what: "rules" or "plugin"; its --insecure-* override turns the refusal
 * into a warning (diag). */
int mtd_check_trusted(mtd_t *h, const char *path, const char *what, const char *suffix);
/* Start the vendor's plugin from the plugin directory (checked as above),
 * in a child process unless isolation is off; flags: MTD_CHILD_NO_OPEN.
 * Errors in h. Stop *out with mtd_child_stop (NULL-safe) even on failure. */
int mtd_start_plugin(mtd_t *h, const char *vendor, unsigned flags, mtd_child **out,
		     mtd_plugin_desc *d);
/* v (an array of *n elements of size bytes, may be NULL) grown to hold
 * index i, doubling from 256 elements, the new elements zero: the array,
 * v itself when it already does, or NULL (v and *n unchanged) when memory
 * is short. */
void *mtd_grow_zeroed(void *v, size_t *n, size_t i, size_t size);
/* Test builds only (MTD_TEST_HOOKS): when the environment variable
 * MTD_TEST_STOP_AT names this point ("evaluate-before-commit"), or the
 * point and k ("ingest-committed:3"), the process stops itself with
 * SIGSTOP there (the first time only), so that a test can kill it exactly
 * at that point and know it did. Elsewhere nothing at all. */
#ifdef MTD_TEST_HOOKS
void mtd_test_stop(const char *point, uint64_t k);
#else
#define mtd_test_stop(point, k) ((void)0)
#endif
/* 64-bit FNV-1a, continued from seed. */
uint64_t mtd_fnv(uint64_t seed, const void *p, size_t n);
#define MTD_FNV_SEED 0xcbf29ce484222325ull

#endif
