#define _DEFAULT_SOURCE /* syscall(2), for the Landlock probe */
/* Plugins contained (issue 19, findings 2 and 8): plugins that attack the
 * process they run in, through the mtdgate binary. Each is contained with a
 * clear error; each attack is also shown to work with --plugin-isolation
 * none, so these tests can fail. Plugin and rules directories and the store
 * are refused when others own or can write them. */
#include <linux/landlock.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "harness.h"

#define HD MTD_HOSTILE_PLUGIN_DIR
#define G(s) "--db", (s)->db, "--plugins", HD, "--now", "2024-03-01T00:00:00Z"

static int setup(void **state)
{
	*state = scen_new();
	return *state ? 0 : -1;
}

static int teardown(void **state)
{
	scen_free(*state);
	return 0;
}

/* A store with the connector for vendor, provisioned. */
static void connector(scen *s, const char *vendor)
{
	const char *prov = scen_writes(s, "prov.jsonl",
		"{\"type\":\"provision\",\"at\":\"2024-03-01T00:00:00Z\"}\n");
	RUN_RAW(s, 0, G(s), "init");
	RUN_RAW(s, 0, G(s), "connector", "add", vendor);
	RUN_RAW(s, 0, G(s), "ingest", vendor, "--normalized", prov);
}

/* 1 when some line of text starts with prefix. */
static int line_starts(const char *text, const char *prefix)
{
	size_t n = strlen(prefix);
	for (const char *p = text; p; p = strchr(p, '\n'), p = p ? p + 1 : NULL)
		if (!strncmp(p, prefix, n))
			return 1;
	return 0;
}

/* A constructor that exits 0 ran inside mtdgate: `plugin check` "passed". */
static void constructor_exit_contained(void **state)
{
	scen *s = *state;
	const char *so = HD "/ctor_exit.so";

	RUN_RAW(s, 65, "plugin", "check", so);
	OUT_HAS(s, "did not load: its process ended (exit status 0) while loading");
	OUT_HAS(s, "does not pass");
	RUN_RAW(s, 65, "--plugin-isolation", "none", "plugin", "check", so); /* always isolated */
	/* listing goes on past it and names it */
	RUN_RAW(s, 0, "--plugins", HD, "plugin", "list");
	ERR_HAS(s, "ctor_exit.so: the plugin did not load");
	OUT_HAS(s, "pid_teller");
	RUN_RAW(s, 0, G(s), "init");
	RUN_RAW(s, 70, G(s), "connector", "add", "ctor_exit");
	ERR_HAS(s, "ctor_exit plugin:");
	ERR_HAS(s, "did not load");
	/* in-process, the constructor ends mtdgate itself, "successfully" */
	RUN_RAW(s, 0, G(s), "--plugin-isolation", "none", "connector", "add", "ctor_exit");
	assert_null(strstr(s->out, "ctor_exit"));
}

/* 20,000 records on stdin; the plugin reads 64 KiB of fd 0 at load and at
 * every payload. */
static const char *thief_input(scen *s)
{
	size_t n = 20000, len = strlen("{\"n\":12345}\n");
	char *buf = scen_own(s, malloc(n * len + 1));
	for (size_t i = 0; i < n; i++)
		memcpy(buf + i * len, "{\"n\":12345}\n", len);
	return scen_write(s, "stolen.jsonl", buf, n * len);
}

static void stdin_thief_contained(void **state)
{
	scen *s = *state;
	const char *input = thief_input(s);
	const char *args[] = {"--db", s->db, "--plugins", HD, "--now", "2024-03-01T00:00:00Z",
			      "ingest", "stdin_thief", "-", NULL};
	const char *none[] = {"--db", s->db, "--plugins", HD, "--now", "2024-03-01T00:00:00Z",
			      "--plugin-isolation", "none", "ingest", "stdin_thief", "-", NULL};

	connector(s, "stdin_thief");
	assert_int_equal(scen_runv(s, input, 1, args), 0);
	OUT_HAS(s, "stdin_thief: 20000 records, 20000 accepted, 0 rejected, 0 malformed");
	/* in-process it steals mtdgate's input: records vanish */
	scen_runv(s, input, 1, none);
	assert_null(strstr(s->out, "20000 records, 20000 accepted"));
}

static void forger_contained(void **state)
{
	scen *s = *state;
	const char *input = scen_writes(s, "forge.jsonl", "{\"ok\":1}\n{\"lie\":1}\n");

	connector(s, "forger");
	RUN_RAW(s, 65, G(s), "ingest", "forger", input);
	OUT_HAS(s, "forger: 2 records, 1 accepted, 0 rejected, 1 malformed");
	assert_false(line_starts(s->out, "forger: 1 records"));
	assert_false(line_starts(s->out, "acked 999999"));
	assert_false(line_starts(s->err, "forger: 1 records"));
	assert_false(line_starts(s->err, "forger: 7 records"));
	assert_false(line_starts(s->err, "acked 999999"));
	ERR_HAS(s, "line 2: forger plugin: bad"); /* its text, on one line */
	/* in-process its lines reach mtdgate's own output */
	RUN_RAW(s, 65, G(s), "--plugin-isolation", "none", "ingest", "forger", input);
	assert_true(line_starts(s->out, "acked 999999"));
}

static void parent_killer_contained(void **state)
{
	scen *s = *state;
	const char *input = scen_writes(s, "kill.jsonl", "{\"a\":1}\n{\"kill\":1}\n{\"b\":1}\n");

	connector(s, "parent_killer");
	RUN_RAW(s, 65, G(s), "ingest", "parent_killer", input);
	OUT_HAS(s, "parent_killer: 3 records, 2 accepted, 0 rejected, 1 malformed");
	ERR_HAS(s, "line 2: parent_killer plugin: the plugin failed on this payload: the sandbox "
		   "stopped its process: it made a system call plugins may not make");
	RUN_RAW(s, 0, G(s), "audit", "verify");
	/* (in-process, its parent would be this test) */
}

static void store_writer_contained(void **state)
{
	scen *s = *state;
	char line[600], head[16];
	const char *input, *write_input;
	FILE *f;

	connector(s, "store_writer");
	snprintf(line, sizeof line, "{\"p\":\"open:%s\"}\n{\"ok\":1}\n", s->db);
	input = write_input = scen_writes(s, "write.jsonl", line);
	RUN_RAW(s, 65, G(s), "ingest", "store_writer", input);
	OUT_HAS(s, "store_writer: 2 records, 1 accepted, 0 rejected, 1 malformed");
	ERR_HAS(s, "line 1: store_writer plugin: the plugin failed on this payload: the sandbox "
		   "stopped its process");
	assert_non_null(f = fopen(s->db, "rb"));
	assert_int_equal(fread(head, 1, sizeof head, f), sizeof head);
	fclose(f);
	assert_memory_equal(head, "SQLite format 3", 16);
	RUN_RAW(s, 0, G(s), "audit", "verify");
	/* reading the store is Landlock's to refuse, where the kernel has it */
	snprintf(line, sizeof line, "{\"p\":\"read:%s\"}\n", s->db);
	input = scen_writes(s, "read.jsonl", line);
	RUN_RAW(s, 65, G(s), "ingest", "store_writer", input);
	if (syscall(SYS_landlock_create_ruleset, NULL, 0, LANDLOCK_CREATE_RULESET_VERSION) > 0)
		ERR_HAS(s, "for reading: refused");
	else
		fprintf(stderr, "no Landlock in this kernel: the read is not refused here\n");
	RUN_RAW(s, 65, G(s), "--plugin-isolation", "none", "ingest", "store_writer", input);
	ERR_HAS(s, "for reading: done");
	/* in-process it writes into the store's file */
	RUN_RAW(s, 65, G(s), "--plugin-isolation", "none", "ingest", "store_writer", write_input);
	ERR_HAS(s, "for writing: done");
}

/* The pids a pid_teller run reported: load, open, decode. */
static void told_pids(scen *s, long pid[3])
{
	const char *p = strstr(s->err, "line 1: pids: load=");
	assert_non_null(p);
	assert_int_equal(sscanf(p, "line 1: pids: load=%ld open=%ld decode=%ld", &pid[0], &pid[1],
				&pid[2]), 3);
}

/* No plugin code runs in the process that holds the store: by pid. */
static void no_plugin_code_in_mtdgate(void **state)
{
	scen *s = *state;
	const char *input = scen_writes(s, "one.jsonl", "{\"x\":1}\n");
	long pid[3];

	connector(s, "pid_teller");
	RUN_RAW(s, 65, G(s), "ingest", "pid_teller", input); /* 65: a bad element */
	OUT_HAS(s, "pid_teller: 1 records, 1 accepted, 0 rejected, 0 malformed, 1 bad element");
	told_pids(s, pid);
	assert_true(pid[0] > 0 && pid[0] == pid[1] && pid[1] == pid[2]);
	assert_true(pid[0] != s->pid);
	/* the same test sees it when the plugin runs in mtdgate */
	RUN_RAW(s, 65, G(s), "--plugin-isolation", "none", "ingest", "pid_teller", input);
	told_pids(s, pid);
	assert_true(pid[0] == s->pid && pid[2] == s->pid);
}

/* A directory of our own with a copy of a plugin in it. */
static const char *plugin_copy(scen *s, const char *dirname, const char *id)
{
	char src[600], dst[600];
	const char *dir = scen_path(s, dirname);
	size_t len;
	char *data;
	FILE *f;

	snprintf(src, sizeof src, "%s/%s.so", HD, id);
	mkdir(dir, 0755);
	data = scen_own(s, scen_slurp(src, &len));
	assert_non_null(data);
	snprintf(dst, sizeof dst, "%s/%s.so", dir, id);
	assert_non_null(f = fopen(dst, "wb"));
	assert_int_equal(fwrite(data, 1, len, f), len);
	fclose(f);
	chmod(dst, 0644);
	return dir;
}

static void insecure_plugin_dirs_refused(void **state)
{
	scen *s = *state;
	const char *dir = plugin_copy(s, "plugins", "pid_teller");
	char so[700], parent[700];

	snprintf(so, sizeof so, "%s/pid_teller.so", dir);
	RUN_RAW(s, 0, "--db", s->db, "--plugins", dir, "init");
	RUN_RAW(s, 0, "--db", s->db, "--plugins", dir, "plugin", "list");
	OUT_HAS(s, "pid_teller");
	assert_int_equal(chmod(dir, 0777), 0);
	RUN_RAW(s, 69, "--db", s->db, "--plugins", dir, "plugin", "list");
	ERR_HAS(s, "is writable by others (mode 0777)");
	ERR_HAS(s, "--insecure-plugins");
	RUN_RAW(s, 69, "--db", s->db, "--plugins", dir, "connector", "add", "pid_teller");
	RUN_RAW(s, 69, "plugin", "check", so);
	OUT_HAS(s, "writable by others");
	RUN_RAW(s, 0, "--db", s->db, "--plugins", dir, "--insecure-plugins", "plugin", "list");
	OUT_HAS(s, "pid_teller");
	ERR_HAS(s, "warning:");
	RUN_RAW(s, 0, "--db", s->db, "--plugins", dir, "--allow-insecure-dirs", "connector", "add",
		"pid_teller");
	/* group-writable, a writable parent, a writable file */
	assert_int_equal(chmod(dir, 0775), 0);
	RUN_RAW(s, 69, "--db", s->db, "--plugins", dir, "plugin", "list");
	ERR_HAS(s, "writable by its group");
	assert_int_equal(chmod(dir, 0755), 0);
	snprintf(parent, sizeof parent, "%s", s->dir);
	assert_int_equal(chmod(parent, 0777), 0);
	RUN_RAW(s, 69, "--db", s->db, "--plugins", dir, "plugin", "list");
	assert_int_equal(chmod(parent, 0700), 0);
	assert_int_equal(chmod(so, 0666), 0);
	RUN_RAW(s, 69, "--db", s->db, "--plugins", dir, "plugin", "list");
	ERR_HAS(s, "pid_teller.so is writable by others (mode 0666)");
	assert_int_equal(chmod(so, 0644), 0);
	if (geteuid() == 0) { /* owned by someone else */
		assert_int_equal(chown(dir, 4242, 4242), 0);
		RUN_RAW(s, 69, "--db", s->db, "--plugins", dir, "plugin", "list");
		ERR_HAS(s, "is owned by uid 4242");
		assert_int_equal(chown(dir, 0, 0), 0);
	}
	RUN_RAW(s, 0, "--db", s->db, "--plugins", dir, "plugin", "list");
}

/* init on a store file made by someone else, or readable by others. */
static void store_made_by_others_refused(void **state)
{
	scen *s = *state;
	int fd = open(s->db, O_CREAT | O_WRONLY | O_EXCL, 0666);
	assert_true(fd >= 0);
	close(fd);
	assert_int_equal(chmod(s->db, 0666), 0);
	RUN(s, 69, "init");
	ERR_HAS(s, "refused: a store must be owned by the user running mtdgate");
	ERR_HAS(s, "mode 0666");
	assert_null(strstr(s->out, "ready"));
	if (geteuid() == 0) {
		assert_int_equal(chmod(s->db, 0600), 0);
		assert_int_equal(chown(s->db, 4242, 4242), 0);
		RUN(s, 69, "init");
		ERR_HAS(s, "owned by uid 4242");
	}
	assert_int_equal(unlink(s->db), 0);
	RUN(s, 0, "init");
	assert_int_equal(chmod(s->db, 0640), 0); /* checked on every open */
	RUN(s, 69, "report");
	ERR_HAS(s, "mode 0640");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(constructor_exit_contained, setup, teardown),
		cmocka_unit_test_setup_teardown(stdin_thief_contained, setup, teardown),
		cmocka_unit_test_setup_teardown(forger_contained, setup, teardown),
		cmocka_unit_test_setup_teardown(parent_killer_contained, setup, teardown),
		cmocka_unit_test_setup_teardown(store_writer_contained, setup, teardown),
		cmocka_unit_test_setup_teardown(no_plugin_code_in_mtdgate, setup, teardown),
		cmocka_unit_test_setup_teardown(insecure_plugin_dirs_refused, setup, teardown),
		cmocka_unit_test_setup_teardown(store_made_by_others_refused, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
