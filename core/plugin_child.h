/* plugin_child: a vendor plugin's decoder in a child process, behind pipes,
 * with resource limits, so a plugin that crashes, hangs or floods cannot
 * take mtdgate (or its store) with it. Frames are [u32 length][bytes]. */
#ifndef MTD_PLUGIN_CHILD_H
#define MTD_PLUGIN_CHILD_H

#include <stddef.h>

#define MTD_CHILD_TIMEOUT_MS 10000      /* per payload */
#define MTD_CHILD_MEMORY (512u << 20)   /* address space of the child */
#define MTD_CHILD_MAX_MESSAGES 10000    /* emitted per payload */

typedef struct mtd_child mtd_child;

/* Fork a child that loads the plugin at path (id = file name) and opens an
 * instance. The parent never runs the plugin's code for decoding. */
int mtd_child_start(const char *path, const char *id, mtd_child **out, char *err, size_t n);
/* Decode one payload in the child; every message it emits is handed to
 * emit(ud, bytes, len) (bytes borrowed). Returns the plugin's decode result
 * (< 0: malformed, err filled), or MTD_EPLUGIN when the child crashed, hung
 * or broke the protocol: then it has been replaced by a fresh one and err
 * says what happened. */
int mtd_child_decode(mtd_child *c, const void *data, size_t len,
		     int (*emit)(void *ud, const void *data, size_t len), void *ud,
		     char *err, size_t n);
void mtd_child_stop(mtd_child *c);

#endif
