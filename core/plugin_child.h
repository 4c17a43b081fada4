/* plugin_child: a vendor plugin behind a process boundary. Every operation
 * on a plugin (load, descriptor, decode, App Sync translation) runs in a child
 * process that has nothing of the parent's but two pipes: stdin, stdout and
 * stderr on /dev/null, every other descriptor closed, no new privileges,
 * resource limits, and a seccomp filter installed before the plugin's file is
 * even opened (its constructors run under it). The parent never dlopens the
 * plugin; it learns the descriptor over the pipe and validates it.
 * Frames are [u32 length][kind byte][bytes], big-endian length.
 *
 * The same interface also drives a plugin in-process (isolation "none"),
 * so callers have one way to use a plugin. */
#ifndef MTD_PLUGIN_CHILD_H
#define MTD_PLUGIN_CHILD_H

#include <stddef.h>
#include <stdint.h>

#include "plugin_host.h"

#define MTD_CHILD_TIMEOUT_MS 10000      /* per payload */
#define MTD_CHILD_MEMORY (512u << 20)   /* address space the plugin may add */
#define MTD_CHILD_MAX_MESSAGES 10000    /* emitted (or element errors) per payload */

typedef struct mtd_child mtd_child;

/* Where a plugin's output goes; any callback may be NULL (then refused).
 * Every buffer is borrowed for the call. element_error's path and msg are
 * NUL-terminated and, coming from a plugin, already stripped of control
 * characters. */
typedef struct mtd_child_sink {
	int (*emit)(void *ud, const void *data, size_t len);
	int (*element_error)(void *ud, const char *path, const char *msg);
	int (*write)(void *ud, const void *data, size_t len);
	/* ABI 1.2: a value of an API response (name, value NUL-terminated,
	 * cleaned of control characters), and the vendor event id the next
	 * messages come from */
	int (*api_value)(void *ud, const char *name, const char *value);
	int (*event_id)(void *ud, const char *id);
	void *ud;
	/* batches only: before payload i's output, and its result after it
	 * (rc and err as mtd_child_decode returns them) */
	void (*begin)(void *ud, size_t i);
	void (*end)(void *ud, size_t i, int rc, const char *err);
} mtd_child_sink;

typedef struct mtd_child_payload {
	const void *data;
	size_t len;
} mtd_child_payload;

#define MTD_CHILD_ISOLATE 1u /* in a child process (else in-process) */
#define MTD_CHILD_NO_OPEN 2u /* descriptor only: the plugin's open is not called */

/* Load the plugin at path (its id must equal id, the file name without .so)
 * and open an instance; *desc receives its validated descriptor. Errors are
 * one line (plugin text stripped of control characters); MTD_ENOTFOUND when
 * there is no such file. */
int mtd_child_start(const char *path, const char *id, unsigned flags, mtd_child **out,
		    mtd_plugin_desc *desc, char *err, size_t n);
/* Decode one payload; the plugin's messages and element errors go to sink.
 * Returns the plugin's result (0, or MTD_PLUGIN_E* with err filled), or
 * MTD_EPLUGIN when the plugin's process crashed, hung, was stopped by the
 * sandbox or broke the protocol: then a fresh one takes the next payload and
 * err says what happened. */
int mtd_child_decode(mtd_child *c, const void *data, size_t len, const mtd_child_sink *sink,
		     char *err, size_t n);
/* Decode np payloads in one exchange with the child (they are written
 * while it answers, so a pipe round trip is paid per batch, not per
 * payload). For each payload in order: sink->begin, its output, sink->end
 * with its result. A crash or hang costs the payload it happened on; the
 * ones after it go to a fresh process. Returns 0 (results are per payload). */
int mtd_child_decode_batch(mtd_child *c, size_t np, const mtd_child_payload *pl,
			   const mtd_child_sink *sink, char *err, size_t n);
/* Translate an App Sync answer (a msgpack stream of inventory records);
 * the plugin's output goes to sink->write. Same returns as decode. */
int mtd_child_translate(mtd_child *c, const void *data, size_t len, const mtd_child_sink *sink,
			char *err, size_t n);
/* ABI 1.2: the plugin's vendor API description, validated, into *d (free
 * with mtd_api_free); MTD_ENOTFOUND when the plugin declares none. */
struct mtd_api_desc;
int mtd_child_api(mtd_child *c, struct mtd_api_desc *d, char *err, size_t n);
/* ABI 1.2: api_decode a response (what: MTD_API_DECODE_*, endpoint its
 * index) in the plugin's process; messages, element errors, event ids and
 * values go to sink. Same returns as mtd_child_decode. */
int mtd_child_api_decode(mtd_child *c, uint32_t what, uint32_t endpoint, const void *data,
			 size_t len, const mtd_child_sink *sink, char *err, size_t n);
/* The plugin's process id (for tests), or -1 in-process / not running. */
int mtd_child_pid(const mtd_child *c);
/* Close the instance, end the process; c may be NULL. */
void mtd_child_stop(mtd_child *c);

/* Replace bytes that could forge output (C0 controls, DEL, C1 controls and
 * bidi overrides in UTF-8) in the NUL-terminated s with '?'. */
void mtd_child_clean_text(char *s);

#endif
