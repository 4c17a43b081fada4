/* mtdgate-pull-bench: a pull of N events over HTTPS from the local vendor
 * server of the tests (tests/scenario/mockapi.c, Defender's flow, pages of
 * 1,000 machines) against an ingest of the same pages from a file, each on
 * a fresh store with the same N devices, neither evaluating. The issue's
 * goal: pull rate >= 0.5 x ingest rate. A program, not a ctest test:
 *   build/bin/mtdgate-pull-bench [N]        (default 100000) */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "mockapi.h"

static char dir[256];

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int run(const char *db, const char *args)
{
	char cmd[4096];
	snprintf(cmd, sizeof cmd,
		 "%s --db %s --plugins %s --rules %s --now 2024-03-02T00:00:00Z %s >%s/last.out 2>&1",
		 MTDGATE_BIN, db, MTD_PLUGIN_DIR, MTD_RULES_DIR, args, dir);
	return system(cmd);
}

static void store(const char *db, const char *devices)
{
	char a[1024];
	snprintf(a, sizeof a, "device import %s", devices);
	if (run(db, "init") || run(db, a) || run(db, "connector add defender"))
		exit(1);
	snprintf(a, sizeof a, "ingest defender --normalized %s/prov.jsonl", dir);
	if (run(db, a) || run(db, "connector set defender windows=on"))
		exit(1);
}

int main(int argc, char **argv)
{
	int n = argc > 1 ? atoi(argv[1]) : 100000;
	char path[512], a[2048], dbp[300], dbi[300];
	FILE *f;
	mock *m;
	double t0, tp, ti;

	snprintf(dir, sizeof dir, "/tmp/mtd-pull-bench.XXXXXX");
	if (n < 1000 || !mkdtemp(dir))
		return 2;
	if (!(m = mock_start(dir, MOCK_DEFENDER, n, 1000, n, "bench", "bench-secret-0"))) {
		fprintf(stderr, "the server did not start\n");
		return 1;
	}
	snprintf(path, sizeof path, "%s/devices.jsonl", dir);
	f = fopen(path, "w");
	for (int i = 0; f && i < n; i++)
		fprintf(f, "{\"id\":\"dev-%d\",\"platform\":\"windows\",\"os_version\":\"10.0\","
			"\"ownership\":\"corporate\",\"management\":\"enrolled\","
			"\"ids\":{\"entra\":\"aad-%d\"}}\n", i, i);
	fclose(f);
	snprintf(a, sizeof a, "%s/prov.jsonl", dir);
	f = fopen(a, "w");
	fprintf(f, "{\"type\":\"provision\",\"at\":\"2024-03-01T00:00:00Z\"}\n");
	fclose(f);
	snprintf(a, sizeof a, "%s/pages.jsonl", dir); /* the same pages, one a line */
	f = fopen(a, "w");
	for (int skip = 0; f && skip < n; skip += 1000) {
		char *p = mock_defender_page(m, skip);
		fprintf(f, "%s\n", p);
		free(p);
	}
	fclose(f);
	snprintf(a, sizeof a, "%s/secret", dir);
	f = fopen(a, "w");
	fprintf(f, "bench-secret-0\n");
	fclose(f);
	chmod(a, 0600);

	snprintf(dbp, sizeof dbp, "%s/pull.db", dir);
	snprintf(dbi, sizeof dbi, "%s/ingest.db", dir);
	store(dbp, path);
	store(dbi, path);
	snprintf(a, sizeof a,
		 "connector set defender api_url=%s token_url=%s/t/oauth2/v2.0/token "
		 "ca_file=%s/ca.pem secret_file=%s/secret client_id=bench",
		 mock_url(m), mock_url(m), dir, dir);
	if (run(dbp, a))
		return 1;

	t0 = now_s();
	snprintf(a, sizeof a, "ingest defender %s/pages.jsonl", dir);
	if (run(dbi, a))
		return 1;
	ti = now_s() - t0;
	t0 = now_s();
	if (run(dbp, "pull defender --once --no-evaluate"))
		return 1;
	tp = now_s() - t0;
	printf("%d machines in %d pages of 1,000\n", n, (n + 999) / 1000);
	printf("ingest from a file: %.2f s (%.0f events/s)\n", ti, n / ti);
	printf("pull over HTTPS:    %.2f s (%.0f events/s)\n", tp, n / tp);
	printf("pull / ingest rate: %.2fx (goal >= 0.5x)\n", ti / tp);
	mock_stop(m);
	snprintf(a, sizeof a, "rm -rf %s", dir);
	return system(a) ? 1 : 0;
}
