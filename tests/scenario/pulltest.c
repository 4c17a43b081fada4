/* What the pull scenarios share (pulltest.h). */
#define _GNU_SOURCE /* memmem */
#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <spawn.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "pulltest.h"

extern char **environ;

int pull_setup(void **state)
{
	pctx *c = calloc(1, sizeof *c);
	if (!c || !(c->s = scen_new())) {
		free(c);
		return -1;
	}
	pull_test_env("3000");
	*state = c;
	return 0;
}

void pull_test_env(const char *stream_idle_ms)
{
	/* fast retries; the server's slowness is past an idle of 1 s */
	setenv("MTDGATE_PULL_BACKOFF_MS", "20", 1);
	setenv("MTDGATE_PULL_IDLE_SECONDS", "1", 1);
	setenv("MTDGATE_PULL_STREAM_IDLE_MS", stream_idle_ms, 1);
	setenv("no_proxy", "127.0.0.1,localhost", 1);
	setenv("NO_PROXY", "127.0.0.1,localhost", 1);
}

int pull_teardown(void **state)
{
	pctx *c = *state;
	mock_stop(c->m);
	scen_free(c->s);
	free(c->seen);
	free(c);
	return 0;
}

void pull_keep(pctx *c)
{
	size_t a = strlen(c->s->out), b = strlen(c->s->err);
	c->seen = realloc(c->seen, c->nseen + a + b + 1);
	assert_non_null(c->seen);
	memcpy(c->seen + c->nseen, c->s->out, a);
	memcpy(c->seen + c->nseen + a, c->s->err, b);
	c->nseen += a + b;
	c->seen[c->nseen] = '\0';
}

const char *pull_devices(scen *s, int n, const char *platform, const char *vid)
{
	size_t cap = (size_t)n * 300 + 1, o = 0;
	char *b = scen_own(s, malloc(cap));
	for (int i = 0; i < n; i++) {
		o += (size_t)snprintf(b + o, cap - o,
				      "{\"id\":\"dev-%d\",\"platform\":\"%s\",\"os_version\":\"17.4\","
				      "\"ownership\":\"corporate\",\"management\":\"enrolled\","
				      "\"ids\":{\"entra\":\"aad-%d\",\"serial\":\"SN-%d\"",
				      i, platform ? platform : i % 2 ? "android" : "ios", i, i);
		if (vid)
			o += (size_t)snprintf(b + o, cap - o, ",\"vendor:%s\":\"%s-%d\"", vid, vid, i);
		o += (size_t)snprintf(b + o, cap - o, "}}\n");
	}
	return scen_writes(s, "devices.jsonl", b);
}

const char *pull_secret_file(scen *s, const char *secret, mode_t mode)
{
	const char *p = scen_writes(s, "secret", secret);
	assert_int_equal(chmod(p, mode), 0);
	return p;
}

int64_t pull_logged(pctx *c)
{
	return scen_q_int(c->s, "SELECT coalesce(sum(n), 0) FROM message_log") - c->base;
}

void pull_start(pctx *c, const char *vendor, int mock_vendor, int n, int per_page, int ndev,
		const char *platform, const char *const *on, const char *const *extra)
{
	scen *s = c->s;
	const char *argv[24] = {"connector", "set", vendor};
	char api[200], ca[400], sf[400], ex[8][600];
	size_t k = 3;
	int own_api = 0;
	c->m = mock_start(s->dir, mock_vendor, n, per_page, ndev, CLIENT, SECRET);
	assert_non_null(c->m);
	c->secret_file = pull_secret_file(s, SECRET "\n", 0600);
	snprintf(ca, sizeof ca, "ca_file=%s/ca.pem", s->dir);
	snprintf(sf, sizeof sf, "secret_file=%s", c->secret_file);
	PRUN(c, 0, "init");
	PRUN(c, 0, "device", "import", pull_devices(s, ndev, platform, c->vid));
	PRUN(c, 0, "connector", "add", vendor);
	PRUN(c, 0, "ingest", vendor, "--normalized",
	     scen_writes(s, "prov.jsonl", "{\"type\":\"provision\",\"at\":\"2024-03-01T00:00:00Z\"}\n"));
	for (size_t i = 0; on && on[i]; i++)
		PRUN(c, 0, "connector", "set", vendor, on[i]);
	snprintf(api, sizeof api, "api_url=%s", mock_url(c->m));
	for (size_t i = 0; extra && extra[i]; i++)
		own_api |= !strncmp(extra[i], "api_url=", 8);
	if (!own_api)
		argv[k++] = api;
	argv[k++] = ca;
	argv[k++] = sf;
	for (size_t i = 0; extra && extra[i] && i < 8; i++) {
		const char *eq = strchr(extra[i], '=');
		if (!strcmp(extra[i], "api_url=-"))
			continue;
		if (eq && eq[1] == '@')
			snprintf(ex[i], sizeof ex[i], "%.*s%s%s", (int)(eq + 1 - extra[i]), extra[i],
				 mock_url(c->m), eq + 2);
		else
			snprintf(ex[i], sizeof ex[i], "%s", extra[i]);
		argv[k++] = ex[i];
	}
	argv[k] = NULL;
	assert_int_equal(scen_runv(s, NULL, 0, argv), 0);
	pull_keep(c);
	scen_day(s, 1, 0);
	c->base = pull_logged(c);
}

void pull_kill_at(pctx *c, const char *vendor, const char *point)
{
	scen *s = c->s;
	const char *argv[] = {MTDGATE_BIN, "--db", s->db, "--plugins", MTD_PLUGIN_DIR, "--rules",
			      s->rules, "--now", "2024-03-02T00:00:00Z", "pull", vendor, "--once",
			      NULL};
	char env[128], **envp;
	size_t ne = 0, n = 0;
	posix_spawn_file_actions_t fa;
	pid_t pid;
	int st;
	while (environ[ne])
		ne++;
	envp = calloc(ne + 2, sizeof *envp);
	assert_non_null(envp);
	for (size_t i = 0; i < ne; i++)
		if (strncmp(environ[i], "MTD_TEST_STOP_AT=", 17))
			envp[n++] = environ[i];
	snprintf(env, sizeof env, "MTD_TEST_STOP_AT=%s", point);
	envp[n++] = env;
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
	posix_spawn_file_actions_addopen(&fa, 2, "/dev/null", O_WRONLY, 0);
	assert_int_equal(posix_spawn(&pid, MTDGATE_BIN, &fa, NULL, (char **)argv, envp), 0);
	posix_spawn_file_actions_destroy(&fa);
	free(envp);
	while (waitpid(pid, &st, WUNTRACED) < 0)
		;
	if (!WIFSTOPPED(st))
		fail_msg("mtdgate pull did not stop at %s (status %d)", point, st);
	assert_int_equal(kill(pid, SIGKILL), 0);
	while (waitpid(pid, &st, 0) < 0)
		;
	assert_true(WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL);
}

void pull_secret_nowhere(pctx *c)
{
	char path[400];
	size_t n;
	char *b;
	assert_null(strstr(c->seen, SECRET));
	for (int i = 0; i < 2; i++) {
		snprintf(path, sizeof path, "%s%s", c->s->db, i ? "-wal" : "");
		if (!(b = scen_slurp(path, &n)))
			continue;
		assert_null(memmem(b, n, SECRET, strlen(SECRET)));
		free(b);
	}
}

const char *pull_level(pctx *c, const char *dev, const char *vendor)
{
	json_t *r = REPORT(c->s, dev);
	return jstr(json_object_get(r, "vendors"), vendor);
}
