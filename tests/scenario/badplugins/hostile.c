/* hostile: plugins that attack the process they run in (issue 19, finding
 * 2), one MODULE per variant (HOSTILE_<NAME>, id = VARIANT_ID):
 *   ctor_exit     a constructor that ends the process with status 0 (so a
 *                 host that dlopens it in-process "passes" plugin check)
 *   stdin_thief   reads 64 KiB of fd 0 at load and at every payload
 *   forger        writes forged summary and --acks lines to fds 1 and 2
 *   parent_killer kill(getppid(), SIGKILL) on a payload saying "kill"
 *   store_writer  opens the file named by a payload ("open:PATH") for writing,
 *                 or ("read:PATH") for reading
 *   pid_teller    reports, as an element error, the pids it ran in: at
 *                 load (constructor), open and decode
 * Otherwise each emits one valid heartbeat per payload. Self-contained. */
#define _GNU_SOURCE
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "heartbeat.h"
#include "mtdgate/plugin.h"

static long ctor_pid, open_pid;

__attribute__((constructor)) static void on_load(void)
{
	ctor_pid = (long)getpid();
#ifdef HOSTILE_CTOR_EXIT
	_exit(0);
#endif
#ifdef HOSTILE_STDIN_THIEF
	{
		static char loot[65536];
		if (read(0, loot, sizeof loot) < 0)
			loot[0] = 0;
	}
#endif
#ifdef HOSTILE_FORGER
	{
		static const char forged[] = "forger: 1 records, 1 accepted, 0 rejected, 0 malformed\n"
					     "acked 999999 records\n";
		if (write(1, forged, sizeof forged - 1) < 0 || write(2, forged, sizeof forged - 1) < 0)
			ctor_pid = -ctor_pid;
	}
#endif
}

static int h_open(const mtd_host_api *h, const char *const *s, void **st, char *e, size_t n)
{
	(void)h, (void)s, (void)e, (void)n;
	open_pid = (long)getpid();
	*st = NULL;
	return 0;
}


static int h_decode(void *st, const mtd_host_api *h, void *sink, const void *d, size_t n, char *e,
		    size_t en)
{
	char text[4200];
	(void)st;
	snprintf(text, sizeof text, "%.*s", (int)(n < 4096 ? n : 4096), (const char *)d);
	(void)e, (void)en;
#ifdef HOSTILE_STDIN_THIEF
	{
		static char loot[65536];
		if (read(0, loot, sizeof loot) > 0)
			return MTD_PLUGIN_EINTERNAL; /* it got something: say so */
	}
#endif
#ifdef HOSTILE_FORGER
	{
		static const char forged[] = "\nforger: 1 records, 1 accepted, 0 rejected, 0 malformed\n";
		if (write(1, forged, sizeof forged - 1) < 0 || write(2, forged, sizeof forged - 1) < 0)
			e[0] = 0;
		snprintf(e, en, "bad\nforger: 7 records, 7 accepted, 0 rejected, 0 malformed");
		if (strstr(text, "lie"))
			return MTD_PLUGIN_EMALFORMED;
	}
#endif
#ifdef HOSTILE_PARENT_KILLER
	if (strstr(text, "kill"))
		kill(getppid(), SIGKILL);
#endif
#ifdef HOSTILE_STORE_WRITER
	{
		const char *p = strstr(text, "open:"), *r = strstr(text, "read:");
		if (r) { /* only reading the store: Landlock's part, not seccomp's */
			char path[4096];
			int fd;
			snprintf(path, sizeof path, "%s", r + 5);
			path[strcspn(path, "\"\n")] = '\0';
			fd = open(path, O_RDONLY);
			if (fd >= 0)
				close(fd);
			snprintf(e, en, "open %s for reading: %s", path, fd >= 0 ? "done" : "refused");
			return MTD_PLUGIN_EINTERNAL;
		}
		if (p) {
			char path[4096];
			int fd;
			snprintf(path, sizeof path, "%s", p + 5);
			path[strcspn(path, "\"\n")] = '\0';
			fd = open(path, O_RDWR);
			if (fd >= 0) {
				(void)!write(fd, "owned", 5);
				close(fd);
			}
			snprintf(e, en, "open %s for writing: %s", path, fd >= 0 ? "done" : "refused");
			return MTD_PLUGIN_EINTERNAL;
		}
	}
#endif
#ifdef HOSTILE_PID_TELLER
	if (MTD_HOST_HAS(h, element_error)) {
		char pids[96];
		snprintf(pids, sizeof pids, "load=%ld open=%ld decode=%ld", ctor_pid, open_pid,
			 (long)getpid());
		h->element_error(sink, "pids", pids);
	}
#endif
	return h->emit(sink, heartbeat, sizeof heartbeat) < 0 ? MTD_PLUGIN_EMALFORMED : MTD_PLUGIN_OK;
}

static void h_close(void *st)
{
	(void)st;
}

static const mtd_plugin plugin = {MTD_PLUGIN_ABI_VERSION, sizeof(mtd_plugin), VARIANT_ID,
				  "Hostile test plugin", MTD_PLUGIN_IOS, 0,
				  MTD_PLUGIN_CAP_THREAT, h_open, h_decode, h_close, NULL, NULL, NULL};

__attribute__((visibility("default"))) const mtd_plugin *mtd_plugin_entry(uint32_t v);
__attribute__((visibility("default"))) const mtd_plugin *mtd_plugin_entry(uint32_t v)
{
	(void)v;
	return &plugin;
}
