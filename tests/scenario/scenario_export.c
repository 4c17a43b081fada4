/* Scenarios for the fleet out (issue 18): decisions readable with plain
 * SQL by the real sqlite3 program, OCSF and RFC 5424 syslog from the
 * audit log, pruning into archives and anchors. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <spawn.h>
#include <sys/wait.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <sqlite3.h>

#include "harness.h"
#include "store.h"

extern char **environ;

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

/* Run the sqlite3 program (Debian's, no mtdgate code) on file with the
 * arguments given; its stdout, owned by s. Fails the test unless it exits
 * 0. */
static char *sqlite3_cli(scen *s, const char *file, ...)
{
	const char *argv[16] = {"sqlite3", "-readonly", "-bail"};
	int n = 3, status, fd;
	const char *out = scen_path(s, "sqlite3.out");
	posix_spawn_file_actions_t fa;
	va_list ap;
	pid_t pid;
	char *text;

	va_start(ap, file);
	for (const char *a; (a = va_arg(ap, const char *)) && n < 13;)
		argv[n++] = a;
	va_end(ap);
	argv[n++] = file;
	/* the statement is the last argument: pass it through the vararg order */
	{
		const char *sql = argv[n - 2];
		argv[n - 2] = file;
		argv[n - 1] = sql;
	}
	argv[n] = NULL;
	fd = open(out, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	assert_true(fd >= 0);
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_adddup2(&fa, fd, 1);
	assert_int_equal(posix_spawnp(&pid, "sqlite3", &fa, NULL, (char *const *)argv, environ), 0);
	posix_spawn_file_actions_destroy(&fa);
	close(fd);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
		fail_msg("sqlite3 %s '%s' failed (status %d)", file, argv[n - 1], status);
	text = scen_own(s, scen_slurp(out, NULL));
	assert_non_null(text);
	return text;
}

/* A device id no SQL, CSV, JSON or syslog writer may take for syntax, as
 * JSON text: ev\"il,'; DROP TABLE decisions;--] */
#define HOSTILE_ID "ev\\\\\\\"il,'; DROP TABLE decisions;--]"

static const char fleet_hostile[] =
	"{\"id\":\"" HOSTILE_ID "\",\"platform\":\"android\",\"os_version\":\"14\","
	"\"ownership\":\"corporate\",\"management\":\"enrolled\",\"user\":\"h@example.com\"}\n";

/* ---- decisions with plain SQL ---- */

static void export_sql_plain_tables(void **state)
{
	scen *s = *state;
	const char *exp = scen_path(s, "decisions.db");
	json_t *rows, *bob;
	char *out, *all;
	size_t i;

	SETUP(s, SCEN_FLEET);
	RUN_IN(s, 0, scen_writes(s, "h.jsonl", fleet_hostile), "device", "import", "-");
	RUN(s, 0, "connector", "set", "generic", "ios=on", "android=on", "windows=on");
	scen_day(s, 0, 3600);
	INGEST(s, THREAT("ios-bob", "high", "\"2024-03-01T00:30:00Z\"")
		  THREAT(HOSTILE_ID, "low", "\"2024-03-01T00:30:00Z\""));
	RUN(s, 0, "evaluate");
	RUN(s, 0, "export", "sql", exp);
	OUT_HAS(s, "exported 8 decisions");

	/* every device's decision as report --json has it, read by sqlite3 alone */
	out = sqlite3_cli(s, exp, "-json",
			  "SELECT device, platform, state, level, access, app_protection, evaluated_at,"
			  " json(reasons_json) AS reasons FROM decisions ORDER BY device", NULL);
	rows = scen_ownj(s, json_loads(out, 0, NULL));
	assert_true(json_is_array(rows));
	assert_int_equal(json_array_size(rows), 8);
	all = REPORT_ALL(s);
	assert_non_null(all);
	for (i = 0; i < json_array_size(rows); i++) {
		json_t *r = json_array_get(rows, i);
		json_t *rep = REPORT(s, jstr(r, "device"));
		const char *f[] = {"platform", "state", "level", "access", "app_protection"};
		for (size_t k = 0; k < 5; k++)
			FIELD(s, rep, f[k], jstr(r, f[k]));
		assert_string_equal(jstr(r, "evaluated_at"), "2024-03-01T01:00:00Z");
		assert_true(json_equal(json_object_get(rep, "reasons"),
				       scen_ownj(s, json_loads(jstr(r, "reasons"), 0, NULL))));
	}
	bob = REPORT(s, "ios-bob");
	FIELD(s, bob, "state", "noncompliant");
	/* the hostile id is data, both in a query parameter and in a result */
	out = sqlite3_cli(s, exp, "-list",
			  "SELECT d.state || '|' || v.vendor || '|' || v.level FROM decisions d"
			  " JOIN decision_vendors v USING (device) WHERE d.device = '"
			  "ev\\\"il,''; DROP TABLE decisions;--]'", NULL);
	assert_string_equal(out, "compliant|generic|low\n");
	out = sqlite3_cli(s, exp, "-list",
			  "SELECT count(*) FROM decisions WHERE access = 'block';"
			  "SELECT reason FROM decision_reasons WHERE device = 'ios-bob' AND n = 1", NULL);
	assert_true(!strncmp(out, "1\n", 2));
	assert_non_null(strstr(out, "high"));
	out = sqlite3_cli(s, exp, "-list", "SELECT value FROM sqlfile_info WHERE key = 'exported_at'",
			  NULL);
	assert_string_equal(out, "2024-03-01T01:00:00Z\n");

	/* refreshed: bob's remediation shows in the next export */
	scen_day(s, 0, 7200);
	INGEST(s, THREAT("ios-bob", "secured", "\"2024-03-01T01:30:00Z\""));
	RUN(s, 0, "evaluate");
	RUN(s, 0, "export", "sql", exp);
	out = sqlite3_cli(s, exp, "-list", "SELECT state FROM decisions WHERE device = 'ios-bob'",
			  NULL);
	assert_string_equal(out, "compliant\n");
	/* never over a file that is not an export, nor over the store */
	RUN(s, 69, "export", "sql", scen_writes(s, "precious.txt", "keep me\n"));
	ERR_HAS(s, "not an mtdgate export");
	assert_string_equal(scen_own(s, scen_slurp(scen_path(s, "precious.txt"), NULL)), "keep me\n");
	RUN(s, 69, "export", "sql", s->db);
	RUN(s, 64, "export", "csv", exp);
	RUN(s, 0, "audit", "verify");
}


/* ---- OCSF against the schema's required attributes ---- */

/* The checked-in list (fixtures/ocsf-1.8.0-required.txt): "class UID
 * NAME: ATTR..." and "object NAME: ATTR... [one-of A,B,...]". */
typedef struct reqlist {
	char line[32][512];
	size_t n;
} reqlist;

static void req_load(reqlist *l)
{
	char *text = scen_slurp(MTD_FIXTURES_DIR "/ocsf-1.8.0-required.txt", NULL), *save = NULL;
	assert_non_null(text);
	l->n = 0;
	for (char *ln = strtok_r(text, "\n", &save); ln; ln = strtok_r(NULL, "\n", &save))
		if (ln[0] != '#' && l->n < 32)
			snprintf(l->line[l->n++], sizeof l->line[0], "%s", ln);
	free(text);
	assert_true(l->n >= 10);
}

/* The list's line that starts with prefix, NULL when none. */
static const char *req_find(const reqlist *l, const char *prefix)
{
	for (size_t i = 0; i < l->n; i++)
		if (!strncmp(l->line[i], prefix, strlen(prefix)))
			return l->line[i];
	return NULL;
}

/* Every attribute the line after its colon names is in o (not null), and
 * one of its one-of list when it has one. */
static void req_check(const char *line, json_t *o, const char *what, const char *text)
{
	char buf[512], *save = NULL, *tok;
	int oneof = 0, any = 0, has_oneof = 0;
	if (!json_is_object(o))
		fail_msg("%s: not an object in %s", what, text);
	snprintf(buf, sizeof buf, "%s", strchr(line, ':') + 1);
	for (tok = strtok_r(buf, " ", &save); tok; tok = strtok_r(NULL, " ", &save)) {
		if (!strcmp(tok, "one-of")) {
			oneof = has_oneof = 1;
			continue;
		}
		if (oneof) {
			char *s2 = NULL;
			for (char *a = strtok_r(tok, ",", &s2); a; a = strtok_r(NULL, ",", &s2))
				if (json_object_get(o, a) && !json_is_null(json_object_get(o, a)))
					any = 1;
			continue;
		}
		if (!json_object_get(o, tok) || json_is_null(json_object_get(o, tok)))
			fail_msg("%s: required attribute '%s' missing in %s", what, tok, text);
	}
	if (has_oneof && !any)
		fail_msg("%s: none of its at-least-one attributes in %s", what, text);
}

static void ocsf_check(const reqlist *l, const char *text, int *classes)
{
	json_t *ev = json_loads(text, 0, NULL);
	char prefix[32];
	const char *cl;
	json_int_t cls, act;
	if (!ev)
		fail_msg("not JSON: %s", text);
	cls = json_integer_value(json_object_get(ev, "class_uid"));
	act = json_integer_value(json_object_get(ev, "activity_id"));
	snprintf(prefix, sizeof prefix, "class %lld ", (long long)cls);
	if (!(cl = req_find(l, prefix)))
		fail_msg("class_uid %lld is not a class we checked: %s", (long long)cls, text);
	req_check(cl, ev, prefix, text);
	assert_int_equal(json_integer_value(json_object_get(ev, "category_uid")), cls / 1000);
	assert_int_equal(json_integer_value(json_object_get(ev, "type_uid")), cls * 100 + act);
	assert_true(json_is_integer(json_object_get(ev, "time")));
	assert_true(json_integer_value(json_object_get(ev, "time")) >= SCEN_T0 * 1000);
	req_check(req_find(l, "object metadata:"), json_object_get(ev, "metadata"), "metadata", text);
	assert_string_equal(jstr(json_object_get(ev, "metadata"), "version"), "1.8.0");
	req_check(req_find(l, "object product:"),
		  json_object_get(json_object_get(ev, "metadata"), "product"), "product", text);
	if (cls == 2003 || cls == 2004) {
		req_check(req_find(l, "object finding_info:"), json_object_get(ev, "finding_info"),
			  "finding_info", text);
		req_check(req_find(l, "object device:"), json_object_get(ev, "device"), "device",
			  text);
	}
	if (cls == 2003)
		assert_true(json_is_object(json_object_get(ev, "compliance")));
	if (cls == 6003) {
		req_check(req_find(l, "object actor:"), json_object_get(ev, "actor"), "actor", text);
		req_check(req_find(l, "object api:"), json_object_get(ev, "api"), "api", text);
		req_check(req_find(l, "object src_endpoint:"), json_object_get(ev, "src_endpoint"),
			  "src_endpoint", text);
	}
	classes[cls == 2003 ? 0 : cls == 2004 ? 1 : 2]++;
	json_decref(ev);
}

/* A fleet with a hostile id decided twice: every kind of record. */
static void decided_fleet(scen *s)
{
	SETUP(s, SCEN_FLEET);
	RUN_IN(s, 0, scen_writes(s, "h.jsonl", fleet_hostile), "device", "import", "-");
	RUN(s, 0, "connector", "set", "generic", "ios=on", "android=on", "windows=on");
	scen_day(s, 0, 3600);
	INGEST(s, THREAT("ios-bob", "high", "\"2024-03-01T00:30:00Z\"")
		  THREAT(HOSTILE_ID, "high", "\"2024-03-01T00:30:00Z\""));
	RUN(s, 0, "evaluate");
}

static void audit_show_ocsf(void **state)
{
	scen *s = *state;
	reqlist l;
	int classes[3] = {0, 0, 0};
	char *save = NULL, *out;
	size_t n = 0;

	req_load(&l);
	decided_fleet(s);
	RUN(s, 0, "audit", "show", "--output", "ocsf");
	out = scen_own(s, strdup(s->out));
	for (char *ln = strtok_r(out, "\n", &save); ln; ln = strtok_r(NULL, "\n", &save), n++)
		ocsf_check(&l, ln, classes);
	assert_true(n > 20);
	assert_true(classes[0] >= 8); /* every device's first decision */
	assert_int_equal(classes[1], 2); /* the two threat reports */
	assert_true(classes[2] > 0);
	/* the hostile device's decision: its id as it is, failing */
	RUN(s, 0, "audit", "show", "--output", "ocsf", "--kind", "decision");
	OUT_HAS(s, "\"uid\":\"ev\\\\\\\"il,'; DROP TABLE decisions;--]\"");
	OUT_HAS(s, "\"status_id\":3,\"status\":\"Fail\"");
	RUN(s, 64, "audit", "show", "--output", "xml");
}

/* ---- RFC 5424 ---- */

#define MAXP 12
typedef struct sdparams {
	int pri;
	char host[256], app[64], msgid[64], sdid[64];
	char name[MAXP][40], value[MAXP][1024];
	int n;
	const char *msg; /* into the line */
} sdparams;

static int printus(int c)
{
	return c >= 33 && c <= 126;
}

/* A field of 1 to max PRINTUSASCII or "-", then SP. */
static const char *field5424(const char *p, size_t max, char *out, size_t cap)
{
	size_t n = 0;
	while (printus((unsigned char)p[n]))
		n++;
	if (n == 0 || n > max || p[n] != ' ' || n >= cap)
		return NULL;
	memcpy(out, p, n);
	out[n] = '\0';
	return p + n + 1;
}

static int digits(const char *p, int n)
{
	for (int i = 0; i < n; i++)
		if (p[i] < '0' || p[i] > '9')
			return 0;
	return 1;
}

/* Well-formed UTF-8 (RFC 3629) of n bytes. */
static int utf8_ok(const unsigned char *p, size_t n)
{
	for (size_t i = 0; i < n;) {
		unsigned c = p[i];
		size_t k = c < 0x80 ? 0 : (c & 0xE0) == 0xC0 ? 1 : (c & 0xF0) == 0xE0 ? 2
						: (c & 0xF8) == 0xF0 ? 3 : 9;
		if (k == 9 || (k == 1 && c < 0xC2) || i + k >= n + (k ? 0 : 1))
			return 0;
		for (size_t j = 1; j <= k; j++)
			if ((p[i + j] & 0xC0) != 0x80)
				return 0;
		i += k + 1;
	}
	return 1;
}

/* Parse one message strictly by RFC 5424's ABNF (section 6), with our
 * SD-ID's own form NAME@DIGITS; the values unescaped. 0, or fails the
 * test naming what is wrong. */
static void parse5424(const char *line, size_t len, sdparams *sp)
{
	const char *p = line, *end = line + len;
	char ts[64], procid[160];
	int v = 0, i;
	memset(sp, 0, sizeof *sp);
	if (*p++ != '<')
		fail_msg("no PRI: %s", line);
	for (i = 0; i < 3 && *p >= '0' && *p <= '9'; i++)
		v = v * 10 + (*p++ - '0');
	if (i == 0 || *p++ != '>' || v > 191 || (i > 1 && line[1] == '0'))
		fail_msg("bad PRI: %s", line);
	sp->pri = v;
	if (*p++ != '1' || *p++ != ' ')
		fail_msg("VERSION is not 1: %s", line);
	if (!(p = field5424(p, 64, ts, sizeof ts)))
		fail_msg("bad TIMESTAMP: %s", line);
	/* FULL-DATE "T" PARTIAL-TIME TIME-OFFSET, no fraction here, Z */
	if (strlen(ts) != 20 || !digits(ts, 4) || ts[4] != '-' || !digits(ts + 5, 2) || ts[7] != '-' ||
	    !digits(ts + 8, 2) || ts[10] != 'T' || !digits(ts + 11, 2) || ts[13] != ':' ||
	    !digits(ts + 14, 2) || ts[16] != ':' || !digits(ts + 17, 2) || ts[19] != 'Z')
		fail_msg("TIMESTAMP '%s' is not RFC 3339 as RFC 5424 allows it", ts);
	if (!(p = field5424(p, 255, sp->host, sizeof sp->host)) ||
	    !(p = field5424(p, 48, sp->app, sizeof sp->app)) ||
	    !(p = field5424(p, 128, procid, sizeof procid)) ||
	    !(p = field5424(p, 32, sp->msgid, sizeof sp->msgid)))
		fail_msg("bad HOSTNAME, APP-NAME, PROCID or MSGID: %s", line);
	if (*p != '[')
		fail_msg("STRUCTURED-DATA is not our element: %s", line);
	p++;
	for (i = 0; p < end && printus((unsigned char)*p) && *p != '=' && *p != ']' && *p != '"'; i++)
		sp->sdid[i < 63 ? i : 63] = *p++;
	if (i == 0 || i > 32)
		fail_msg("bad SD-ID: %s", line);
	{
		char *at = strchr(sp->sdid, '@');
		if (!at || at == sp->sdid || !at[1] || !digits(at + 1, (int)strlen(at + 1)))
			fail_msg("SD-ID '%s' is not NAME@PEN", sp->sdid);
	}
	while (*p == ' ') {
		char *val;
		size_t k = 0;
		const char *name = ++p;
		if (sp->n == MAXP)
			fail_msg("too many SD-PARAMs: %s", line);
		while (p < end && printus((unsigned char)*p) && *p != '=' && *p != ']' && *p != '"')
			p++;
		if (p == name || p - name > 32 || *p != '=' || p[1] != '"')
			fail_msg("bad PARAM-NAME at '%s'", name);
		snprintf(sp->name[sp->n], sizeof sp->name[0], "%.*s", (int)(p - name), name);
		p += 2;
		val = sp->value[sp->n];
		{
			const char *vstart = p;
			while (p < end && *p != '"') {
				if (*p == ']')
					fail_msg("unescaped ']' in PARAM-VALUE: %s", line);
				if (*p == '\\') {
					if (p[1] != '"' && p[1] != '\\' && p[1] != ']')
						fail_msg("a lone backslash in PARAM-VALUE: %s", line);
					p++;
				}
				if (k < 1023)
					val[k++] = *p;
				p++;
			}
			if (p >= end)
				fail_msg("PARAM-VALUE not closed: %s", line);
			if (!utf8_ok((const unsigned char *)vstart, (size_t)(p - vstart)))
				fail_msg("PARAM-VALUE is not UTF-8: %s", line);
		}
		val[k] = '\0';
		p++;
		sp->n++;
	}
	if (*p++ != ']')
		fail_msg("SD-ELEMENT not closed: %s", line);
	if (p < end) {
		if (*p++ != ' ')
			fail_msg("no SP before MSG: %s", line);
		if (end - p >= 3 && !memcmp(p, "\xEF\xBB\xBF", 3))
			fail_msg("MSG starts with a BOM: %s", line);
		if (memchr(p, '\n', (size_t)(end - p)))
			fail_msg("MSG spans lines: %s", line);
		sp->msg = p;
	}
}

static const char *sdval(const sdparams *sp, const char *name)
{
	for (int i = 0; i < sp->n; i++)
		if (!strcmp(sp->name[i], name))
			return sp->value[i];
	return NULL;
}

static void audit_show_syslog(void **state)
{
	scen *s = *state;
	char *save = NULL, *out;
	int decisions = 0, hostile = 0;

	decided_fleet(s);
	RUN(s, 0, "audit", "show", "--output", "syslog");
	out = scen_own(s, strdup(s->out));
	for (char *ln = strtok_r(out, "\n", &save); ln; ln = strtok_r(NULL, "\n", &save)) {
		sdparams sp;
		parse5424(ln, strlen(ln), &sp);
		assert_string_equal(sp.app, "mtdgate");
		assert_string_equal(sp.sdid, "mtdgate@32473");
		assert_string_equal(sdval(&sp, "kind"), sp.msgid);
		assert_int_equal(sp.pri / 8, 13);
		if (!strcmp(sp.msgid, "decision")) {
			decisions++;
			if (!strcmp(sdval(&sp, "device") ? sdval(&sp, "device") : "",
				    "ev\\\"il,'; DROP TABLE decisions;--]")) {
				hostile++;
				assert_string_equal(sdval(&sp, "state"), "noncompliant");
				assert_int_equal(sp.pri % 8, 4); /* blocked: warning */
			}
		}
	}
	assert_true(decisions >= 8);
	assert_int_equal(hostile, 1);
	/* the parser is strict: an unescaped ']' in a value is refused */
	{
		sdparams sp;
		const char ok[] = "<110>1 2024-03-01T00:00:00Z h mtdgate 1 x [a@1 v=\"q\\]\"]";
		parse5424(ok, strlen(ok), &sp);
		assert_string_equal(sdval(&sp, "v"), "q]");
	}
}

/* ---- forwarding from serve ---- */

static int64_t ms_now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void serve_forwards(void **state)
{
	scen *s = *state;
	struct sockaddr_in a = {.sin_family = AF_INET};
	socklen_t alen = sizeof a;
	char now[32], target[64], line[256];
	int u = socket(AF_INET, SOCK_DGRAM, 0), p[2], st, got_decision = 0, got_other = 0;
	int64_t deadline;
	size_t n = 0;
	pid_t pid;

	decided_fleet(s);
	inet_pton(AF_INET, "127.0.0.1", &a.sin_addr);
	assert_true(u >= 0);
	assert_int_equal(bind(u, (struct sockaddr *)&a, sizeof a), 0);
	assert_int_equal(getsockname(u, (struct sockaddr *)&a, &alen), 0);
	snprintf(target, sizeof target, "udp://127.0.0.1:%d", ntohs(a.sin_port));
	snprintf(now, sizeof now, "%lld", (long long)s->now);
	assert_int_equal(pipe(p), 0);
	fflush(NULL);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		const char *args[] = {MTDGATE_BIN, "--db", s->db, "--plugins", MTD_PLUGIN_DIR, "--rules",
				      s->rules, "--now", now, "serve", "--listen", "127.0.0.1:0",
				      "--syslog", target, NULL};
		int null = open("/dev/null", O_RDWR);
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		dup2(null, 0);
		dup2(p[1], 1);
		close(p[0]);
		close(p[1]);
		execv(MTDGATE_BIN, (char *const *)args);
		_exit(127);
	}
	close(p[1]);
	deadline = ms_now() + 10000;
	while (n < sizeof line - 1 && !memchr(line, '\n', n)) {
		struct pollfd pf = {p[0], POLLIN, 0};
		ssize_t r;
		if (deadline <= ms_now() || poll(&pf, 1, (int)(deadline - ms_now())) <= 0)
			break;
		if ((r = read(p[0], line + n, sizeof line - 1 - n)) <= 0)
			break;
		n += (size_t)r;
		line[n] = '\0';
	}
	line[n] = '\0';
	if (!strstr(line, "listening on"))
		fail_msg("serve did not start: '%s'", line);
	/* a batch command on the same store while serve runs: its records are
	 * forwarded, and nothing from before serve started */
	scen_day(s, 0, 7200);
	INGEST(s, THREAT("ios-bob", "secured", "\"2024-03-01T01:30:00Z\""));
	RUN(s, 0, "evaluate");
	deadline = ms_now() + 15000;
	while (!got_decision && ms_now() < deadline) {
		struct pollfd pf = {u, POLLIN, 0};
		char dg[9000];
		ssize_t r;
		sdparams sp;
		if (poll(&pf, 1, (int)(deadline - ms_now())) <= 0)
			break;
		r = recv(u, dg, sizeof dg - 1, 0);
		assert_true(r > 0);
		dg[r] = '\0';
		parse5424(dg, (size_t)r, &sp);
		assert_true(strcmp(sp.msgid, "seal") && strcmp(sp.msgid, "row"));
		if (!strcmp(sp.msgid, "decision")) {
			assert_string_equal(sdval(&sp, "device"), "ios-bob");
			assert_string_equal(sdval(&sp, "state"), "compliant");
			got_decision = 1;
		} else {
			/* the message and the evaluation, never the first run's */
			assert_true(strcmp(sdval(&sp, "device") ? sdval(&sp, "device") : "",
					   "ev\\\"il,'; DROP TABLE decisions;--]"));
			got_other++;
		}
	}
	kill(pid, SIGTERM);
	waitpid(pid, &st, 0);
	close(p[0]);
	close(u);
	assert_true(got_decision);
	assert_true(got_other >= 1);
	assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	RUN(s, 64, "serve", "--syslog", "tcp://x:1");
}

/* ---- anchors ---- */

/* Behind mtdgate's back: record seq's detail changed and the whole chain
 * hashed again from there, as one who can write the store could. */
static void rewrite_chain(scen *s, int64_t seq, const char *detail)
{
	sqlite3 *db = scen_sql_open(s->db);
	sqlite3_stmt *st, *up;
	unsigned char prev[32] = {0};
	assert_int_equal(sqlite3_exec(db, "DROP TRIGGER audit_no_update", NULL, NULL, NULL), 0);
	assert_int_equal(sqlite3_prepare_v2(db, "UPDATE audit SET detail = ?2 WHERE seq = ?1", -1,
					    &up, NULL), 0);
	sqlite3_bind_int64(up, 1, seq);
	sqlite3_bind_text(up, 2, detail, -1, SQLITE_STATIC);
	assert_int_equal(sqlite3_step(up), SQLITE_DONE);
	sqlite3_finalize(up);
	assert_int_equal(sqlite3_prepare_v2(db, "SELECT seq, at, kind, vendor, device, detail, pd, salt"
					    " FROM audit ORDER BY seq", -1, &st, NULL), 0);
	assert_int_equal(sqlite3_prepare_v2(db, "UPDATE audit SET hash = ?2, pd = ?3 WHERE seq = ?1",
					    -1, &up, NULL), 0);
	while (sqlite3_step(st) == SQLITE_ROW) {
		unsigned char h[32], pd[32];
		int with_pd = sqlite3_column_type(st, 6) != SQLITE_NULL; /* since schema 10 */
		if (with_pd) {
			mtd_audit_pdigest(sqlite3_column_blob(st, 7), (const char *)sqlite3_column_text(st, 4),
					  (const char *)sqlite3_column_text(st, 5), pd);
			mtd_audit_hash_pd(prev, sqlite3_column_int64(st, 0), sqlite3_column_int64(st, 1),
					  (const char *)sqlite3_column_text(st, 2),
					  (const char *)sqlite3_column_text(st, 3), pd, h);
		} else {
			mtd_audit_hash(prev, sqlite3_column_int64(st, 0), sqlite3_column_int64(st, 1),
				       (const char *)sqlite3_column_text(st, 2),
				       (const char *)sqlite3_column_text(st, 3),
				       (const char *)sqlite3_column_text(st, 4),
				       (const char *)sqlite3_column_text(st, 5), h);
		}
		sqlite3_reset(up);
		sqlite3_bind_int64(up, 1, sqlite3_column_int64(st, 0));
		sqlite3_bind_blob(up, 2, h, 32, SQLITE_TRANSIENT);
		if (with_pd)
			sqlite3_bind_blob(up, 3, pd, 32, SQLITE_TRANSIENT);
		assert_int_equal(sqlite3_step(up), SQLITE_DONE);
		memcpy(prev, h, 32);
	}
	sqlite3_finalize(st);
	sqlite3_finalize(up);
	sqlite3_exec(db, "CREATE TRIGGER audit_no_update BEFORE UPDATE ON audit"
		     " BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;", NULL, NULL, NULL);
	sqlite3_close(db);
}

static void anchor_finds_rewrite(void **state)
{
	scen *s = *state;
	const char *file = scen_path(s, "anchors.txt");
	char head[65], *text;
	int64_t first_import;

	decided_fleet(s);
	RUN(s, 0, "audit", "anchor");
	OUT_HAS(s, "mtdgate-anchor seq=");
	RUN(s, 0, "audit", "anchor", "--append", file);
	RUN(s, 0, "audit", "anchor", "--append", file); /* appended, not replaced */
	text = scen_own(s, scen_slurp(file, NULL));
	assert_non_null(text);
	assert_non_null(strstr(strstr(text, "\n") + 1, "mtdgate-anchor seq="));
	assert_int_equal(sscanf(strstr(text, "head=") + 5, "%64[0-9a-f]", head), 1);
	RUN(s, 0, "audit", "verify", "--expect-head", head);
	/* the whole chain rewritten consistently: it verifies on its own, the
	 * anchor kept elsewhere finds it */
	first_import = scen_q_int(s, "SELECT min(seq) FROM audit WHERE kind = 'import'");
	assert_true(first_import > 0);
	rewrite_chain(s, first_import, "{\"records\":0,\"imported\":0}");
	RUN(s, 0, "audit", "verify");
	RUN(s, 65, "audit", "verify", "--expect-head", head);
	OUT_HAS(s, "does not contain the expected head");
	/* and a broken log is never anchored */
	{
		sqlite3 *db = scen_sql_open(s->db);
		sqlite3_exec(db, "DROP TRIGGER audit_no_update; UPDATE audit SET at = at + 1 WHERE seq = 2",
			     NULL, NULL, NULL);
		sqlite3_close(db);
	}
	RUN(s, 65, "audit", "anchor", "--append", file);
	OUT_HAS(s, "not anchored");
	RUN(s, 64, "audit", "anchor", "--append", file, "--syslog", "udp://127.0.0.1:9");
}

static void anchor_to_syslog(void **state)
{
	scen *s = *state;
	struct sockaddr_in a = {.sin_family = AF_INET};
	socklen_t alen = sizeof a;
	char target[64], dg[2048];
	struct pollfd pf;
	sdparams sp;
	ssize_t r;
	int u = socket(AF_INET, SOCK_DGRAM, 0);

	decided_fleet(s);
	inet_pton(AF_INET, "127.0.0.1", &a.sin_addr);
	assert_int_equal(bind(u, (struct sockaddr *)&a, sizeof a), 0);
	assert_int_equal(getsockname(u, (struct sockaddr *)&a, &alen), 0);
	snprintf(target, sizeof target, "udp://127.0.0.1:%d", ntohs(a.sin_port));
	RUN(s, 0, "audit", "anchor", "--syslog", target);
	pf = (struct pollfd){u, POLLIN, 0};
	assert_int_equal(poll(&pf, 1, 10000), 1);
	r = recv(u, dg, sizeof dg - 1, 0);
	close(u);
	assert_true(r > 0);
	dg[r] = '\0';
	parse5424(dg, (size_t)r, &sp);
	assert_string_equal(sp.msgid, "anchor");
	{ /* the head sent is the one printed, and the chain holds it */
		char head[65] = "", want[80];
		assert_non_null(strstr(sp.msg, "\"head\":\""));
		assert_int_equal(sscanf(strstr(sp.msg, "\"head\":\"") + 8, "%64[0-9a-f]", head), 1);
		snprintf(want, sizeof want, "head=%s", head);
		OUT_HAS(s, want);
		RUN(s, 0, "audit", "verify", "--expect-head", head);
	}
}

/* ---- retention: prune, archives ---- */

/* A copy of file (and nothing else) at name in s's directory: its path. */
static const char *copy_file(scen *s, const char *file, const char *name)
{
	size_t n;
	char *data = scen_slurp(file, &n);
	const char *path;
	assert_non_null(data);
	path = scen_write(s, name, data, n);
	free(data);
	return path;
}

static void sql_on(const char *file, const char *sql)
{
	sqlite3 *db;
	char *err = NULL;
	assert_int_equal(sqlite3_open(file, &db), SQLITE_OK);
	if (sqlite3_exec(db, sql, NULL, NULL, &err) != SQLITE_OK)
		fail_msg("%s: %s", sql, err);
	sqlite3_close(db);
}

/* Three days: decided on day 0, bob high on day 1, bob secured on day 2. */
static void three_days(scen *s)
{
	decided_fleet(s);
	scen_day(s, 1, 0);
	INGEST(s, THREAT("ios-alice", "high", "\"2024-03-01T23:59:00Z\""));
	RUN(s, 0, "evaluate");
	scen_day(s, 2, 0);
	INGEST(s, THREAT("ios-alice", "secured", "\"2024-03-02T23:59:00Z\""));
	RUN(s, 0, "evaluate");
}

static void prune_and_archive(void **state)
{
	scen *s = *state;
	const char *arch = scen_path(s, "a1.db");
	char head0[65], line[200], *report;
	int64_t cut, first_live;

	decided_fleet(s);
	RUN(s, 0, "audit", "anchor");
	assert_int_equal(sscanf(strstr(s->out, "head=") + 5, "%64[0-9a-f]", head0), 1);
	scen_day(s, 1, 0);
	INGEST(s, THREAT("ios-alice", "high", "\"2024-03-01T23:59:00Z\""));
	RUN(s, 0, "evaluate");
	scen_day(s, 2, 0);
	INGEST(s, THREAT("ios-alice", "secured", "\"2024-03-02T23:59:00Z\""));
	RUN(s, 0, "evaluate");
	report = scen_own(s, strdup(REPORT_ALL(s)));
	RUN(s, 0, "audit", "prune", "--before", "2024-03-02T00:00:00Z", "--archive", arch);
	OUT_HAS(s, "archived records 1 to ");
	snprintf(line, sizeof line, "head %s", head0); /* everything of day 0 went */
	OUT_HAS(s, line);
	cut = scen_q_int(s, "SELECT CAST(json_extract(detail, '$.from') AS INTEGER) FROM audit"
			    " WHERE kind = 'pruned'");
	assert_true(cut > 10);
	/* nothing of day 0 is left in the store but what still counts */
	assert_int_equal(scen_q_int(s, "SELECT count(*) FROM audit WHERE seq < (SELECT"
				       " json_extract(detail, '$.from') FROM audit WHERE kind = 'pruned')"),
			 0);
	assert_int_equal(scen_q_int(s, "SELECT count(*) FROM message_log WHERE seq < (SELECT"
				       " json_extract(detail, '$.from') FROM audit WHERE kind = 'pruned')"),
			 0);
	assert_true(scen_q_int(s, "SELECT count(*) FROM decision_log WHERE seq < (SELECT"
				  " json_extract(detail, '$.from') FROM audit WHERE kind = 'pruned')") > 0);
	first_live = scen_q_int(s, "SELECT min(m) FROM (SELECT min(seq) AS m FROM audit UNION ALL"
				   " SELECT min(seq) FROM message_log UNION ALL SELECT min(seq)"
				   " FROM row_log)");
	assert_int_equal(first_live, cut); /* the live log starts at the prune point */
	RUN(s, 0, "audit", "verify");
	RUN(s, 0, "audit", "verify", "--archive", arch);
	OUT_HAS(s, "archive intact: records 1 to ");
	OUT_HAS(s, line);
	assert_string_equal(REPORT_ALL(s), report);
	/* the store goes on: another day, still intact; a second prune chains on */
	scen_day(s, 3, 0);
	INGEST(s, THREAT("ios-bob", "secured", "\"2024-03-03T23:59:00Z\""));
	RUN(s, 0, "evaluate");
	RUN(s, 0, "audit", "verify");
	RUN(s, 0, "audit", "prune", "--before", "2024-03-02T00:00:00Z", "--archive",
	    scen_path(s, "none.db"));
	OUT_HAS(s, "nothing to prune");
	assert_false(scen_exists(scen_path(s, "none.db")));
	RUN(s, 0, "audit", "prune", "--before", "2024-03-03T00:00:00Z", "--archive",
	    scen_path(s, "a2.db"));
	RUN(s, 0, "audit", "verify");
	RUN(s, 0, "audit", "verify", "--archive", scen_path(s, "a2.db"));
	{ /* the second archive starts where the first ended */
		char want[120];
		snprintf(want, sizeof want, "records %lld to", (long long)cut);
		OUT_HAS(s, want);
	}
	/* an archive is never overwritten */
	RUN(s, 69, "audit", "prune", "--before", "2024-03-04T00:00:00Z", "--archive", arch);
	RUN(s, 0, "audit", "verify", "--archive", arch);
	RUN(s, 64, "audit", "prune", "--before", "2024-03-04T00:00:00Z");
}

static void prune_tamper_archive(void **state)
{
	scen *s = *state;
	const char *arch = scen_path(s, "a.db"), *t;
	three_days(s);
	RUN(s, 0, "audit", "prune", "--before", "2024-03-02T00:00:00Z", "--archive", arch);
	RUN(s, 0, "audit", "verify", "--archive", arch);
	/* a message entry's byte */
	t = copy_file(s, arch, "t1.db");
	sql_on(t, "UPDATE message_log SET entries = substr(entries, 1, length(entries) - 1) ||"
		  " X'07' WHERE seq = (SELECT min(seq) FROM message_log)");
	RUN(s, 65, "audit", "verify", "--archive", t);
	OUT_HAS(s, "archive BROKEN");
	/* an audit record's detail */
	t = copy_file(s, arch, "t2.db");
	sql_on(t, "UPDATE audit SET detail = '{}' WHERE seq = (SELECT min(seq) FROM audit"
		  " WHERE kind = 'import')");
	RUN(s, 65, "audit", "verify", "--archive", t);
	OUT_HAS(s, "does not match its hash");
	/* a record removed */
	t = copy_file(s, arch, "t3.db");
	sql_on(t, "DELETE FROM outcomes WHERE seq = (SELECT max(seq) FROM outcomes)");
	RUN(s, 65, "audit", "verify", "--archive", t);
	/* the tail cut off */
	t = copy_file(s, arch, "t4.db");
	sql_on(t, "DELETE FROM audit WHERE seq = (SELECT max(seq) FROM audit)");
	RUN(s, 65, "audit", "verify", "--archive", t);
	/* not an archive */
	RUN(s, 65, "audit", "verify", "--archive", s->db);
}

static void prune_tamper_live(void **state)
{
	scen *s = *state;
	char orig[300];
	const char *cases[][2] = {
		/* what stayed below the prune point */
		{"DROP TRIGGER outcomes_no_update; UPDATE outcomes SET reasons = '[]' WHERE seq ="
		 " (SELECT min(seq) FROM outcomes)", "kept below record"},
		/* the prune record itself */
		{"DROP TRIGGER audit_no_update; UPDATE audit SET detail = replace(detail, '\"kept\":',"
		 " '\"kept\": ') WHERE kind = 'pruned'", "does not match its hash"},
		/* a device row, whose last write was archived */
		{"UPDATE devices SET user = 'mallory@example.com' WHERE ext_id = 'ios-exec'",
		 "is not what the audit log recorded"},
		/* the first live record */
		{"DROP TRIGGER audit_no_delete; DELETE FROM audit WHERE seq = (SELECT min(seq)"
		 " FROM audit)", "missing"},
	};
	three_days(s);
	RUN(s, 0, "audit", "prune", "--before", "2024-03-02T00:00:00Z", "--archive",
	    scen_path(s, "a.db"));
	RUN(s, 0, "audit", "verify");
	snprintf(orig, sizeof orig, "%s", s->db);
	for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
		char name[32];
		snprintf(name, sizeof name, "live%zu.db", i);
		snprintf(s->db, sizeof s->db, "%s", copy_file(s, orig, name));
		sql_on(s->db, cases[i][0]);
		RUN(s, 65, "audit", "verify");
		OUT_HAS(s, cases[i][1]);
	}
	snprintf(s->db, sizeof s->db, "%s", orig);
	RUN(s, 0, "audit", "verify");
}

/* A kill after the archive is durable and before the removal commits loses
 * nothing: the store is as it was, the archive verifies, prune runs again. */
static void prune_killed(void **state)
{
	scen *s = *state;
	const char *arch = scen_path(s, "k.db");
	char now[32], envvar[] = "MTD_TEST_STOP_AT=prune-archived";
	const char *argv[] = {MTDGATE_BIN, "--db", s->db, "--plugins", MTD_PLUGIN_DIR, "--rules",
			      s->rules, "--now", now, "audit", "prune", "--before",
			      "2024-03-02T00:00:00Z", "--archive", arch, NULL};
	char *envp[] = {envvar, NULL};
	int64_t before;
	int status;
	pid_t pid;

	three_days(s);
	before = scen_q_int(s, "SELECT count(*) FROM audit");
	snprintf(now, sizeof now, "%lld", (long long)s->now);
	assert_int_equal(posix_spawn(&pid, MTDGATE_BIN, NULL, NULL, (char **)argv, envp), 0);
	assert_int_equal(waitpid(pid, &status, WUNTRACED), pid);
	assert_true(WIFSTOPPED(status)); /* at the stop point, archive written */
	kill(pid, SIGKILL);
	waitpid(pid, &status, 0);
	assert_int_equal(scen_q_int(s, "SELECT count(*) FROM audit"), before);
	RUN(s, 0, "audit", "verify");
	RUN(s, 0, "audit", "verify", "--archive", arch);
	RUN(s, 0, "audit", "prune", "--before", "2024-03-02T00:00:00Z", "--archive",
	    scen_path(s, "k2.db"));
	RUN(s, 0, "audit", "verify");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(export_sql_plain_tables, setup, teardown),
		cmocka_unit_test_setup_teardown(audit_show_ocsf, setup, teardown),
		cmocka_unit_test_setup_teardown(audit_show_syslog, setup, teardown),
		cmocka_unit_test_setup_teardown(serve_forwards, setup, teardown),
		cmocka_unit_test_setup_teardown(anchor_finds_rewrite, setup, teardown),
		cmocka_unit_test_setup_teardown(anchor_to_syslog, setup, teardown),
		cmocka_unit_test_setup_teardown(prune_and_archive, setup, teardown),
		cmocka_unit_test_setup_teardown(prune_tamper_archive, setup, teardown),
		cmocka_unit_test_setup_teardown(prune_tamper_live, setup, teardown),
		cmocka_unit_test_setup_teardown(prune_killed, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
