/* What the pull scenarios share (scenario_pull.c, scenario_pull_vendors.c):
 * a scenario with the test server (mockapi.h), every output kept for the
 * secret grep, kills at chosen points of `mtdgate pull` (MTD_TEST_STOP_AT),
 * and the count of messages the store logged. */
#ifndef MTD_PULLTEST_H
#define MTD_PULLTEST_H

#include <stdint.h>
#include <sys/types.h>

#include "harness.h"
#include "mockapi.h"

#define SECRET "s3cr3t-Pull-0f-Test-7e1d"
#define CLIENT "client-4711"

typedef struct pctx {
	scen *s;
	mock *m;
	const char *secret_file;
	int64_t base; /* messages logged before the first pull (the provision) */
	char *seen;   /* every output of every run, for the secret grep */
	size_t nseen;
	const char *vid; /* set before pull_start: device i also has the id
			    "vendor:<vid>" = "<vid>-i" (vendors that name
			    devices by their own id only) */
} pctx;

/* cmocka setup and teardown: a pctx in *state, fast retries, no proxy. */
int pull_setup(void **state);
int pull_teardown(void **state);
/* The environment every mtdgate a test starts inherits: fast retries, an
 * idle timeout of 1 s, a quiet stream given up after stream_idle_ms, no
 * proxy for the test servers. pull_setup sets it (3000). */
void pull_test_env(const char *stream_idle_ms);

/* Keep what the last run printed, for the secret grep. */
void pull_keep(pctx *c);
#define PRUN(c, want, ...)                                                                         \
	do {                                                                                       \
		RUN((c)->s, want, __VA_ARGS__);                                                    \
		pull_keep(c);                                                                      \
	} while (0)

/* n devices dev-0.. with an Entra id aad-i (and, vid not NULL, the id
 * "vendor:<vid>" = "<vid>-i"), of platform; platform NULL: iOS for even i,
 * Android for odd. Returns the file's path. */
const char *pull_devices(scen *s, int n, const char *platform, const char *vid);
/* The file "secret" holding secret, of mode. */
const char *pull_secret_file(scen *s, const char *secret, mode_t mode);

/* A store with ndev devices (pull_devices' platform), the vendor's
 * connector provisioned, platforms on (NULL-terminated "ios=on"s), a server for mock_vendor with n events in pages of per_page
 * (SECRET, CLIENT), then the connector's settings: api_url (the server's
 * URL), ca_file, secret_file and the NULL-terminated extra
 * ("token_url=@/oauth2/token", "client_id=..."; a value starting with '@'
 * is the server's URL followed by the rest; an "api_url=..." of extra
 * replaces the server's, "api_url=-" sets none). Now is day 1. */
void pull_start(pctx *c, const char *vendor, int mock_vendor, int n, int per_page, int ndev,
		const char *platform, const char *const *on, const char *const *extra);

/* Messages the store has logged since the provision (each applied message
 * is one entry of the sealed message log: one that came twice counts twice). */
int64_t pull_logged(pctx *c);
/* Start `mtdgate pull vendor --once` stopping at point; kill it there. */
void pull_kill_at(pctx *c, const char *vendor, const char *point);
/* The secret in no output, not in the store (nor its WAL). */
void pull_secret_nowhere(pctx *c);
/* Device dev's level from vendor, as `report --json` says it. */
const char *pull_level(pctx *c, const char *dev, const char *vendor);

#endif
