/* Scenario harness: runs the mtdgate binary in a child process (fork/exec),
 * captures stdout and stderr through pipes, and gives the tests parsed
 * views of `report --json` and `connector list --json`. */
#include "harness.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <sqlite3.h>

#include "store.h" /* the decision blocks' codec, for dslot() */

#ifndef MTDGATE_BIN
#error "MTDGATE_BIN must name the built mtdgate binary"
#endif
#ifndef MTD_PLUGIN_DIR
#error "MTD_PLUGIN_DIR must name the built plugin directory"
#endif
#ifndef MTD_RULES_DIR
#error "MTD_RULES_DIR must name the default rules directory"
#endif

/* A run that takes longer than this is a hang, not a slow machine: the
 * instruction budget of the rules stops a runaway script in well under a
 * second. */
#define WATCHDOG_MS 60000
#define MAX_ARGS 64

scen *scen_new(void)
{
	scen *s = calloc(1, sizeof *s);
	const char *tmp = getenv("TMPDIR");
	if (!s)
		return NULL;
	snprintf(s->dir, sizeof s->dir, "%s/mtdscen.XXXXXX", tmp && *tmp ? tmp : "/tmp");
	if (!mkdtemp(s->dir)) {
		free(s);
		return NULL;
	}
	snprintf(s->db, sizeof s->db, "%s/m.db", s->dir);
	snprintf(s->rules, sizeof s->rules, "%s", MTD_RULES_DIR);
	s->now = SCEN_T0;
	s->out = strdup("");
	s->err = strdup("");
	return s;
}

static void rm_rf(const char *path)
{
	struct stat sb;
	if (lstat(path, &sb) != 0)
		return;
	if (S_ISDIR(sb.st_mode)) {
		DIR *d = opendir(path);
		struct dirent *e;
		while (d && (e = readdir(d))) {
			char sub[1024];
			if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
				continue;
			snprintf(sub, sizeof sub, "%s/%s", path, e->d_name);
			rm_rf(sub);
		}
		if (d)
			closedir(d);
		rmdir(path);
	} else {
		unlink(path);
	}
}

void scen_free(scen *s)
{
	if (!s)
		return;
	if (getenv("MTD_SCENARIO_KEEP"))
		fprintf(stderr, "scenario directory kept: %s\n", s->dir);
	else
		rm_rf(s->dir);
	for (size_t i = 0; i < s->nowned; i++)
		free(s->owned[i]);
	free(s->owned);
	for (size_t i = 0; i < s->njsons; i++)
		json_decref(s->jsons[i]);
	free(s->jsons);
	free(s->out);
	free(s->err);
	free(s);
}

void scen_day(scen *s, int d, int sec)
{
	s->now = SCEN_T0 + (int64_t)d * SCEN_DAY + sec;
}

void *scen_own(scen *s, void *p)
{
	void **no;
	if (!p)
		fail_msg("out of memory");
	no = realloc(s->owned, (s->nowned + 1) * sizeof *no);
	if (!no) {
		free(p);
		fail_msg("out of memory");
	}
	s->owned = no;
	s->owned[s->nowned++] = p;
	return p;
}

json_t *scen_ownj(scen *s, json_t *v)
{
	json_t **nj;
	if (!v)
		return NULL;
	nj = realloc(s->jsons, (s->njsons + 1) * sizeof *nj);
	if (!nj) {
		json_decref(v);
		fail_msg("out of memory");
	}
	s->jsons = nj;
	s->jsons[s->njsons++] = v;
	return v;
}

const char *scen_jtext(scen *s, const json_t *o)
{
	char *t = o ? json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER) : strdup("(null)");
	return scen_own(s, t);
}

const char *scen_path(scen *s, const char *name)
{
	size_t n = strlen(s->dir) + strlen(name) + 2;
	char *p = scen_own(s, malloc(n));
	snprintf(p, n, "%s/%s", s->dir, name);
	return p;
}

const char *scen_write(scen *s, const char *name, const void *data, size_t len)
{
	const char *p = scen_path(s, name);
	FILE *f;
	assert_non_null(p);
	f = fopen(p, "wb");
	if (!f)
		fail_msg("cannot write %s: %s", p, strerror(errno));
	if (len && fwrite(data, 1, len, f) != len)
		fail_msg("cannot write %s", p);
	assert_int_equal(fclose(f), 0);
	return p;
}

const char *scen_writes(scen *s, const char *name, const char *text)
{
	return scen_write(s, name, text, strlen(text));
}

int scen_exists(const char *path)
{
	struct stat sb;
	return lstat(path, &sb) == 0;
}

char *scen_slurp(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	char *b = NULL;
	size_t n = 0, cap = 0;
	if (!f)
		return NULL;
	for (;;) {
		size_t got;
		if (cap - n < 4096) {
			char *nb = realloc(b, cap + 65536);
			if (!nb) {
				free(b);
				fclose(f);
				return NULL;
			}
			b = nb;
			cap += 65536;
		}
		got = fread(b + n, 1, cap - n - 1, f);
		n += got;
		if (got == 0)
			break;
	}
	fclose(f);
	b[n] = '\0';
	if (len)
		*len = n;
	return b;
}

/* ---- running mtdgate ---- */

typedef struct sbuf {
	char *p;
	size_t n, cap;
} sbuf;

static int sbuf_add(sbuf *b, const char *data, size_t n)
{
	if (b->n + n + 1 > b->cap) {
		size_t cap = b->cap ? b->cap : 4096;
		char *np;
		while (cap < b->n + n + 1)
			cap *= 2;
		if (!(np = realloc(b->p, cap)))
			return -1;
		b->p = np;
		b->cap = cap;
	}
	memcpy(b->p + b->n, data, n);
	b->n += n;
	b->p[b->n] = '\0';
	return 0;
}

static int64_t ms_now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void set_last(scen *s, int status, sbuf *o, sbuf *e)
{
	free(s->out);
	free(s->err);
	s->out = o->p ? o->p : strdup("");
	s->err = e->p ? e->p : strdup("");
	s->status = status;
}

int scen_runv(scen *s, const char *stdin_path, int raw, const char *const *argv)
{
	const char *args[MAX_ARGS + 12];
	char now[32];
	int po[2] = {-1, -1}, pe[2] = {-1, -1}, k = 0, status = -1;
	size_t used = 0;
	sbuf o = {0}, e = {0};
	pid_t pid;
	int64_t deadline;

	snprintf(now, sizeof now, "%lld", (long long)s->now);
	args[k++] = MTDGATE_BIN;
	if (!raw) {
		args[k++] = "--db";
		args[k++] = s->db;
		args[k++] = "--plugins";
		args[k++] = MTD_PLUGIN_DIR;
		args[k++] = "--rules";
		args[k++] = s->rules;
		args[k++] = "--now";
		args[k++] = now;
	}
	for (size_t i = 0; argv[i] && i < MAX_ARGS; i++)
		args[k++] = argv[i];
	args[k] = NULL;

	s->cmd[0] = '\0';
	for (int i = 0; i < k; i++) {
		int w = snprintf(s->cmd + used, sizeof s->cmd - used, "%s%s", i ? " " : "",
				 i == 0 ? "mtdgate" : args[i]);
		if (w < 0 || (size_t)w >= sizeof s->cmd - used)
			break;
		used += (size_t)w;
	}
	if (stdin_path && used + 4 < sizeof s->cmd)
		snprintf(s->cmd + used, sizeof s->cmd - used, " < %s", stdin_path);

	if (pipe(po) || pipe(pe)) {
		fprintf(stderr, "pipe: %s\n", strerror(errno));
		goto done;
	}
	fflush(NULL);
	pid = fork();
	if (pid < 0) {
		fprintf(stderr, "fork: %s\n", strerror(errno));
		goto done;
	}
	if (pid == 0) {
		int in = open(stdin_path ? stdin_path : "/dev/null", O_RDONLY);
		if (in < 0 || chdir(s->dir) != 0 || dup2(in, 0) < 0 || dup2(po[1], 1) < 0 ||
		    dup2(pe[1], 2) < 0)
			_exit(127);
		close(in);
		close(po[0]);
		close(pe[0]);
		close(po[1]);
		close(pe[1]);
		execv(MTDGATE_BIN, (char *const *)args);
		_exit(127);
	}
	s->pid = (int)pid;
	close(po[1]);
	close(pe[1]);
	po[1] = pe[1] = -1;
	deadline = ms_now() + WATCHDOG_MS;
	{
		struct pollfd fds[2] = {{po[0], POLLIN, 0}, {pe[0], POLLIN, 0}};
		int open_fds = 2, killed = 0;
		while (open_fds > 0) {
			int64_t left = deadline - ms_now();
			int r;
			if (left <= 0) {
				kill(pid, SIGKILL);
				killed = 1;
				break;
			}
			r = poll(fds, 2, (int)left);
			if (r < 0 && errno == EINTR)
				continue;
			if (r < 0)
				break;
			for (int i = 0; i < 2; i++) {
				char buf[8192];
				ssize_t got;
				if (fds[i].fd < 0 || !(fds[i].revents & (POLLIN | POLLHUP | POLLERR)))
					continue;
				got = read(fds[i].fd, buf, sizeof buf);
				if (got > 0) {
					sbuf_add(i ? &e : &o, buf, (size_t)got);
				} else if (got == 0 || errno != EINTR) {
					close(fds[i].fd);
					if (i == 0)
						po[0] = -1;
					else
						pe[0] = -1;
					fds[i].fd = -1;
					open_fds--;
				}
			}
		}
		while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
			;
		if (killed) {
			char m[128];
			snprintf(m, sizeof m, "\n[harness: killed after %d ms: a hang]\n", WATCHDOG_MS);
			sbuf_add(&e, m, strlen(m));
			status = -1;
		} else if (WIFEXITED(status)) {
			status = WEXITSTATUS(status);
		} else if (WIFSIGNALED(status)) {
			status = 128 + WTERMSIG(status);
		} else {
			status = -1;
		}
	}
done:
	for (int i = 0; i < 2; i++) {
		if (po[i] >= 0)
			close(po[i]);
		if (pe[i] >= 0)
			close(pe[i]);
	}
	set_last(s, status, &o, &e);
	return status;
}

static void show_last(scen *s)
{
	print_error("command: %s\nexit status: %d\n--- stdout ---\n%s--- stderr ---\n%s--------------\n",
		    s->cmd, s->status, s->out, s->err);
}

void scen_expect_(scen *s, int want, const char *stdin_path, int raw, const char *file,
		  int line, ...)
{
	const char *argv[MAX_ARGS + 1];
	size_t n = 0;
	va_list ap;
	va_start(ap, line);
	for (const char *a; (a = va_arg(ap, const char *)) != NULL && n < MAX_ARGS;)
		argv[n++] = a;
	va_end(ap);
	argv[n] = NULL;
	if (scen_runv(s, stdin_path, raw, argv) != want) {
		print_error("%s:%d: expected exit status %d\n", file, line, want);
		show_last(s);
		_fail(file, line);
	}
}

void scen_contains_(scen *s, const char *hay, const char *needle, const char *what,
		    const char *file, int line)
{
	if (hay && strstr(hay, needle))
		return;
	print_error("%s:%d: %s does not contain \"%s\"\n", file, line, what, needle);
	show_last(s);
	_fail(file, line);
}

/* ---- JSON views ---- */

size_t scen_json_lines_(scen *s, const char *file, int line)
{
	size_t n = 0;
	for (char *p = s->out; *p;) {
		char *nl = strchr(p, '\n');
		size_t l = nl ? (size_t)(nl - p) : strlen(p);
		if (l) {
			json_error_t je;
			json_t *v = json_loadb(p, l, 0, &je);
			if (!json_is_object(v)) {
				json_decref(v);
				v = NULL;
				print_error("%s:%d: not a JSON object line: %.*s\n", file, line, (int)l, p);
				show_last(s);
				_fail(file, line);
			}
			json_decref(v);
			n++;
		}
		p += l + (nl ? 1 : 0);
	}
	return n;
}

/* The object among stdout's JSON lines whose field key equals val. */
static json_t *find_line(scen *s, const char *key, const char *val)
{
	for (char *p = s->out; *p;) {
		char *nl = strchr(p, '\n');
		size_t l = nl ? (size_t)(nl - p) : strlen(p);
		if (l) {
			json_t *v = json_loadb(p, l, 0, NULL);
			if (v && json_is_string(json_object_get(v, key)) &&
			    !strcmp(json_string_value(json_object_get(v, key)), val))
				return v;
			json_decref(v);
		}
		p += l + (nl ? 1 : 0);
	}
	return NULL;
}

json_t *scen_report_(scen *s, const char *device, const char *file, int line)
{
	json_t *v;
	scen_expect_(s, 0, NULL, 0, file, line, "report", "--json", "--device", device,
		     (const char *)NULL);
	if (scen_json_lines_(s, file, line) != 1) {
		print_error("%s:%d: report --device %s: expected one JSON line\n", file, line, device);
		show_last(s);
		_fail(file, line);
	}
	v = scen_ownj(s, find_line(s, "device", device));
	if (!v) {
		print_error("%s:%d: report has no object for device %s\n", file, line, device);
		show_last(s);
		_fail(file, line);
	}
	return v;
}

char *scen_report_all_(scen *s, const char *file, int line)
{
	char *r;
	scen_expect_(s, 0, NULL, 0, file, line, "report", "--json", (const char *)NULL);
	scen_json_lines_(s, file, line);
	r = scen_own(s, strdup(s->out));
	return r;
}

json_t *scen_connector_(scen *s, const char *vendor, const char *file, int line)
{
	json_t *v;
	scen_expect_(s, 0, NULL, 0, file, line, "connector", "list", "--json", (const char *)NULL);
	scen_json_lines_(s, file, line);
	v = scen_ownj(s, find_line(s, "vendor", vendor));
	if (!v) {
		print_error("%s:%d: connector list --json has no connector %s\n", file, line, vendor);
		show_last(s);
		_fail(file, line);
	}
	return v;
}

const char *jstr(const json_t *o, const char *key)
{
	const json_t *v = json_object_get(o, key);
	return json_is_string(v) ? json_string_value(v) : "<missing>";
}

int jsize(const json_t *o, const char *key)
{
	const json_t *v = json_object_get(o, key);
	return json_is_object(v) ? (int)json_object_size(v) : -1;
}

int has_reason(const json_t *o, ...)
{
	const json_t *rs = json_object_get(o, "reasons");
	const char *needles[16];
	size_t nn = 0, i;
	json_t *r;
	va_list ap;
	va_start(ap, o);
	for (const char *a; (a = va_arg(ap, const char *)) != NULL && nn < 16;)
		needles[nn++] = a;
	va_end(ap);
	json_array_foreach(rs, i, r)
	{
		size_t k;
		if (!json_is_string(r))
			continue;
		for (k = 0; k < nn; k++)
			if (!strstr(json_string_value(r), needles[k]))
				break;
		if (k == nn)
			return 1;
	}
	return 0;
}

void scen_field_(scen *s, const json_t *o, const char *key, const char *want, const char *file,
		 int line)
{
	const char *got = jstr(o, key);
	if (!strcmp(got, want))
		return;
	print_error("%s:%d: field \"%s\": expected \"%s\", got \"%s\"\nobject: %s\n", file, line, key,
		    want, got, scen_jtext(s, o));
	_fail(file, line);
}

/* ---- common steps ---- */

void scen_setup_(scen *s, const char *devices, const char *file, int line)
{
	const char *dev = scen_writes(s, "devices.jsonl", devices);
	const char *prov = scen_writes(s, "provision.jsonl", "{\"type\":\"provision\",\"at\":\"2024-03-01T00:00:00Z\"}\n");
	scen_expect_(s, 0, NULL, 0, file, line, "init", (const char *)NULL);
	scen_expect_(s, 0, NULL, 0, file, line, "device", "import", dev, (const char *)NULL);
	scen_expect_(s, 0, NULL, 0, file, line, "connector", "add", "generic", (const char *)NULL);
	/* The partner completes setup: through the plugin, as a partner would. */
	scen_expect_(s, 0, NULL, 0, file, line, "ingest", "generic", prov, (const char *)NULL);
}

void scen_ingest_(scen *s, int want, const char *jsonl, const char *file, int line)
{
	static unsigned seq;
	char name[64];
	const char *p;
	snprintf(name, sizeof name, "msg%u.jsonl", ++seq);
	p = scen_writes(s, name, jsonl);
	scen_expect_(s, want, NULL, 0, file, line, "ingest", "generic", "--normalized", p,
		     (const char *)NULL);
}

const char *scen_rules_copy(scen *s, const char *name, const char *inject, const char *groups)
{
	const char *dir = scen_path(s, name);
	char src[600], dst[600], *policy, *text;
	const char *anchor = "function M.compliance(device, policy, ctx)\n";
	size_t n;

	if (mkdir(dir, 0700) != 0)
		fail_msg("mkdir %s: %s", dir, strerror(errno));
	snprintf(src, sizeof src, "%s/policy.lua", MTD_RULES_DIR);
	policy = scen_own(s, scen_slurp(src, &n));
	if (inject) {
		char *at = strstr(policy, anchor);
		size_t head;
		if (!at)
			fail_msg("%s has no line \"%s\": the scenario cannot inject code", src, anchor);
		head = (size_t)(at - policy) + strlen(anchor);
		text = scen_own(s, malloc(n + strlen(inject) + 2));
		memcpy(text, policy, head);
		memcpy(text + head, inject, strlen(inject));
		text[head + strlen(inject)] = '\n';
		memcpy(text + head + strlen(inject) + 1, policy + head, n - head + 1);
		policy = text;
	}
	snprintf(dst, sizeof dst, "%s/policy.lua", name);
	scen_writes(s, dst, policy);
	snprintf(dst, sizeof dst, "%s/groups.lua", name);
	if (groups) {
		scen_writes(s, dst, groups);
	} else {
		snprintf(src, sizeof src, "%s/groups.lua", MTD_RULES_DIR);
		text = scen_own(s, scen_slurp(src, &n));
		scen_write(s, dst, text, n);
	}
	return dir;
}

/* The decoded block, slot and field of a dslot call; -1 (with the error
 * set) when they are not a block that decodes, a slot and a field. */
static int dslot_at(sqlite3_context *cx, sqlite3_value **argv, mtd_dslot *slots, int64_t **f)
{
	sqlite3_int64 slot = sqlite3_value_int64(argv[1]), field = sqlite3_value_int64(argv[2]);
	if (mtd_dblock_decode(sqlite3_value_blob(argv[0]), (size_t)sqlite3_value_bytes(argv[0]),
			      slots) || slot < 0 || slot >= MTD_DBLOCK_SLOTS || field < 0 || field > 3) {
		sqlite3_result_error(cx, "dslot: not a decision block, slot or field", -1);
		return -1;
	}
	*f = field == 0 ? &slots[slot].outcome : field == 1 ? &slots[slot].evaluated_at
		: field == 2 ? &slots[slot].since : &slots[slot].wiped_at;
	return 0;
}

static void dslot_fn(sqlite3_context *cx, int argc, sqlite3_value **argv)
{
	mtd_dslot slots[MTD_DBLOCK_SLOTS];
	int64_t *f;
	(void)argc;
	if (!dslot_at(cx, argv, slots, &f))
		sqlite3_result_int64(cx, *f);
}

static void dslot_set_fn(sqlite3_context *cx, int argc, sqlite3_value **argv)
{
	mtd_dslot slots[MTD_DBLOCK_SLOTS];
	unsigned char e[MTD_DBLOCK_MAX];
	int64_t *f;
	(void)argc;
	if (dslot_at(cx, argv, slots, &f))
		return;
	*f = sqlite3_value_int64(argv[3]);
	sqlite3_result_blob(cx, e, (int)mtd_dblock_encode(slots, e), SQLITE_TRANSIENT);
}

static int has_table(sqlite3 *db, const char *name)
{
	sqlite3_stmt *st;
	int yes = 0;
	if (sqlite3_prepare_v2(db, "SELECT 1 FROM main.sqlite_master WHERE type = 'table'"
			       " AND name = ?1", -1, &st, NULL) == SQLITE_OK) {
		sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
		yes = sqlite3_step(st) == SQLITE_ROW;
	}
	sqlite3_finalize(st);
	return yes;
}

sqlite3 *scen_sql_open(const char *path)
{
	sqlite3 *db = NULL;
	char *err = NULL;
	if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE, NULL) != SQLITE_OK ||
	    sqlite3_create_function(db, "dslot", 3, SQLITE_UTF8 | SQLITE_DETERMINISTIC, NULL,
				    dslot_fn, NULL, NULL) != SQLITE_OK ||
	    sqlite3_create_function(db, "dslot_set", 4, SQLITE_UTF8 | SQLITE_DETERMINISTIC, NULL,
				    dslot_set_fn, NULL, NULL) != SQLITE_OK)
		fail_msg("opening %s: %s", path, sqlite3_errmsg(db));
	/* only over a store that has blocks: a temporary view named like an
	 * older store's table would hide that table */
	if (has_table(db, "decision_blocks") &&
	    sqlite3_exec(db,
			 "CREATE TEMP VIEW decisions(device, outcome, evaluated_at, since, wiped_at)"
			 " AS WITH RECURSIVE k(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM k"
			 " WHERE i < 255) SELECT b.blk * 256 + k.i, dslot(b.entries, k.i, 0),"
			 " dslot(b.entries, k.i, 1), dslot(b.entries, k.i, 2),"
			 " dslot(b.entries, k.i, 3) FROM main.decision_blocks b, k"
			 " WHERE dslot(b.entries, k.i, 0) != 0",
			 NULL, NULL, &err) != SQLITE_OK)
		fail_msg("opening %s: %s", path, err ? err : sqlite3_errmsg(db));
	return db;
}

unsigned char *scen_log_entries(scen *s, const char *table, int64_t seq, int *n, size_t *len)
{
	sqlite3 *db = NULL;
	sqlite3_stmt *st = NULL;
	unsigned char *b = NULL;
	char sql[128];
	snprintf(sql, sizeof sql, "SELECT n, entries FROM %s WHERE seq = ?1", table);
	if (sqlite3_open(s->db, &db) == SQLITE_OK &&
	    sqlite3_prepare_v2(db, sql, -1, &st, NULL) == SQLITE_OK &&
	    sqlite3_bind_int64(st, 1, seq) == SQLITE_OK && sqlite3_step(st) == SQLITE_ROW &&
	    sqlite3_column_bytes(st, 1) > 0) {
		*n = sqlite3_column_int(st, 0);
		*len = (size_t)sqlite3_column_bytes(st, 1);
		b = scen_own(s, malloc(*len));
		memcpy(b, sqlite3_column_blob(st, 1), *len);
	}
	sqlite3_finalize(st);
	sqlite3_close(db);
	if (!b)
		fail_msg("no row %lld in %s", (long long)seq, table);
	return b;
}

void scen_poke_log(scen *s, const char *table, int64_t seq, size_t off, unsigned char was,
		   unsigned char now)
{
	sqlite3 *db = NULL;
	sqlite3_stmt *st = NULL;
	int n;
	size_t len;
	unsigned char *b = scen_log_entries(s, table, seq, &n, &len);
	char sql[128];
	int ok;
	if (off >= len || b[off] != was)
		fail_msg("%s row %lld: byte %zu is not 0x%02x (%zu bytes)", table, (long long)seq, off,
			 was, len);
	b[off] = now;
	snprintf(sql, sizeof sql, "DROP TRIGGER %s_no_update", table);
	ok = sqlite3_open(s->db, &db) == SQLITE_OK &&
	     sqlite3_exec(db, sql, NULL, NULL, NULL) == SQLITE_OK;
	snprintf(sql, sizeof sql, "UPDATE %s SET entries = ?2 WHERE seq = ?1", table);
	ok = ok && sqlite3_prepare_v2(db, sql, -1, &st, NULL) == SQLITE_OK &&
	     sqlite3_bind_int64(st, 1, seq) == SQLITE_OK &&
	     sqlite3_bind_blob(st, 2, b, (int)len, SQLITE_STATIC) == SQLITE_OK &&
	     sqlite3_step(st) == SQLITE_DONE && sqlite3_changes(db) == 1;
	sqlite3_finalize(st);
	sqlite3_close(db);
	if (!ok)
		fail_msg("could not change %s row %lld", table, (long long)seq);
}

int64_t scen_q_int(scen *s, const char *sql)
{
	sqlite3 *db = scen_sql_open(s->db);
	sqlite3_stmt *st = NULL;
	int64_t v = -1;
	int ok = sqlite3_prepare_v2(db, sql, -1, &st, NULL) == SQLITE_OK;
	if (ok && sqlite3_step(st) == SQLITE_ROW)
		v = sqlite3_column_type(st, 0) == SQLITE_NULL ? 0 : sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	sqlite3_close(db);
	if (!ok)
		fail_msg("query failed: %s", sql);
	return v;
}

const char *scen_tasks_rules(scen *s)
{
	const char *dir = scen_rules_copy(s, "tasks-rules", NULL, NULL);
	char src[600], *text, *sw;
	size_t n;
	snprintf(src, sizeof src, "%s/tasks.lua", MTD_RULES_DIR);
	text = scen_own(s, scen_slurp(src, &n));
	scen_write(s, "tasks-rules/tasks.lua", text, n);
	snprintf(src, sizeof src, "%s/policy.lua", dir);
	text = scen_own(s, scen_slurp(src, &n));
	if (!(sw = strstr(text, "local USE_TASKS = false")))
		fail_msg("policy.lua has no 'local USE_TASKS = false'");
	memcpy(sw + strlen("local USE_TASKS = "), "true; ", 6);
	scen_write(s, "tasks-rules/policy.lua", text, n);
	return dir;
}
