/* Scenarios: the fetching connectors of the vendors beyond Defender and
 * Lookout (issue 16). `mtdgate pull` against the test server's flow of
 * each vendor (tests/scenario/mock_VENDOR.c, following the requests the
 * vendor documents): every event in exactly once across SIGKILLs mid-run
 * (MTD_TEST_STOP_AT), a 429 with Retry-After, a 500 burst, a token that
 * ends early, a truncated body and a slow answer; each device with its
 * level; the secret in no output and not in the store.
 *
 * One test function per vendor flow, each with its own server and store. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "pulltest.h"

/* ---- Zimperium: devices by scroll, threats after a time ---- */

static void zimperium_start(pctx *c, int n, int per_page, int ndev)
{
	static const char *const on[] = {"ios=on", "android=on", NULL};
	static const char *const extra[] = {"client_id=" CLIENT, NULL};
	pull_start(c, "zimperium", MOCK_ZIMPERIUM, n, per_page, ndev, NULL, on, extra);
}

/* The vendors whose test data give event j (0..n-1) to device j % ndev
 * with a severity by j % 3: each device at its worst, rank[j % 3] indexing
 * low, medium, high (NULL: j % 3 itself); a device without an event at
 * none ("secured"), or not looked at (NULL). */
static void worst_levels(pctx *c, const char *vendor, int n, int ndev, const int *rank,
			 const char *none)
{
	static const char *const lv[] = {"low", "medium", "high"};
	for (int d = 0; d < ndev; d++) {
		char dev[32];
		const char *got, *want;
		int w = -1;
		for (int j = d; j < n; j += ndev) {
			int r = rank ? rank[j % 3] : j % 3;
			w = r > w ? r : w;
		}
		if (w < 0 && !none)
			continue;
		want = w < 0 ? none : lv[w];
		snprintf(dev, sizeof dev, "dev-%d", d);
		if (strcmp(got = pull_level(c, dev, vendor), want))
			fail_msg("%s: %s level %s, expected %s", dev, vendor, got, want);
	}
}

/* mock_zimperium.c: device d's threats are j = d, d + ndev, ... < n, of
 * severity j % 3 (LOW, ELEVATED, CRITICAL); none: NORMAL. */
static void zimperium_levels(pctx *c, int n, int ndev)
{
	worst_levels(c, "zimperium", n, ndev, NULL, "secured");
}

/* 30 devices in scroll pages of 20 (then an empty page), 300 threats in
 * pages of 20, each page after the first asked from a millisecond before
 * the newest threat seen, so it starts with that threat again. Killed
 * before the second commit (inside the device scroll), then after the
 * fifth (inside the threats), then to the end: every threat once; the
 * device snapshots once per pull that reads them. */
static void zimperium_kills(void **state)
{
	pctx *c = *state;
	zimperium_start(c, 300, 20, 30);
	pull_kill_at(c, "zimperium", "pull-before-commit:2");
	assert_int_equal(pull_logged(c), 20); /* the first device page */
	pull_kill_at(c, "zimperium", "pull-committed:5");
	/* the scroll resumed: 10 devices, an empty page, threat pages of 20,
	 * 19 and 19 new */
	assert_int_equal(pull_logged(c), 20 + 10 + 20 + 19 + 19);
	PRUN(c, 0, "pull", "zimperium", "--once");
	OUT_HAS(c->s, "evaluated 30 devices");
	/* the devices read again from the start (snapshots), the threats
	 * from where the killed run committed */
	assert_int_equal(pull_logged(c), 30 + 30 + 300);
	zimperium_levels(c, 300, 30);
	/* nothing new: the newest threat is asked for again and recognized */
	PRUN(c, 0, "pull", "zimperium", "--once");
	OUT_HAS(c->s, "1 replayed events not counted again");
	assert_int_equal(pull_logged(c), 30 + 30 + 300 + 30);
	PRUN(c, 0, "audit", "verify");
	pull_secret_nowhere(c);
}

/* A 429 with Retry-After, a 500 burst, the token revoked (one login
 * again), a truncated body and a slow answer: every event once, devices
 * without threats secured. */
static void zimperium_faults(void **state)
{
	pctx *c = *state;
	mock_faults f = {.r429 = 2, .r500 = 4, .n500 = 3, .expire = 8, .trunc = 10, .slow = 12};
	zimperium_start(c, 20, 5, 30);
	mock_set_faults(c->m, &f);
	PRUN(c, 0, "pull", "zimperium", "--once");
	assert_int_equal(pull_logged(c), 30 + 20);
	assert_int_equal(mock_tokens(c->m), 2);
	zimperium_levels(c, 20, 30);
	/* a wrong secret: the login's refusal, said clearly */
	scen_writes(c->s, "secret", "not-the-secret\n");
	PRUN(c, 69, "pull", "zimperium", "--once");
	ERR_HAS(c->s, "refused the credentials (HTTP 401)");
	pull_secret_nowhere(c);
}

/* ---- Check Point Harmony Mobile: an API key login, alerts since a time ---- */

static void checkpoint_start(pctx *c, int n, int per_page, int ndev)
{
	static const char *const on[] = {"ios=on", "android=on", NULL};
	static const char *const extra[] = {"client_id=" CLIENT, NULL};
	pull_start(c, "checkpoint", MOCK_CHECKPOINT, n, per_page, ndev, NULL, on, extra);
}

/* mock_checkpoint.c: device d's alerts are j = d, d + ndev, ... < n, each
 * opening its own threat of severity j % 3 (Warning, Critical, Low risk:
 * medium, high, low); the device's level is the highest open one. */
static void checkpoint_levels(pctx *c, int n, int ndev)
{
	static const int rank[] = {1, 2, 0};
	worst_levels(c, "checkpoint", n, ndev, rank, "secured");
}

/* 250 alerts on 20 devices in pages of 25, their next links paths under
 * /app/SBM. Killed before the third commit, then after the sixth (in a
 * second run), then to the end: every alert once, each device at its
 * highest open threat. A pull again asks from the newest alert's second:
 * that alert comes again and is recognized, nothing is applied twice. */
static void checkpoint_kills(void **state)
{
	pctx *c = *state;
	checkpoint_start(c, 250, 25, 20);
	pull_kill_at(c, "checkpoint", "pull-before-commit:3");
	assert_int_equal(pull_logged(c), 50);
	pull_kill_at(c, "checkpoint", "pull-committed:3");
	assert_int_equal(pull_logged(c), 125);
	PRUN(c, 0, "pull", "checkpoint", "--once");
	OUT_HAS(c->s, "125 accepted");
	assert_int_equal(pull_logged(c), 250);
	checkpoint_levels(c, 250, 20);
	PRUN(c, 0, "pull", "checkpoint", "--once");
	OUT_HAS(c->s, "0 accepted");
	OUT_HAS(c->s, "1 replayed events not counted again");
	assert_int_equal(pull_logged(c), 250);
	PRUN(c, 0, "audit", "verify");
	pull_secret_nowhere(c);
}

/* A 429 with Retry-After, a 500 burst, the token revoked (one login
 * again), a truncated body and a slow answer: every alert once. A wrong
 * secret: the login's refusal, said clearly. */
static void checkpoint_faults(void **state)
{
	pctx *c = *state;
	mock_faults f = {.r429 = 2, .r500 = 4, .n500 = 3, .expire = 8, .trunc = 10, .slow = 12};
	checkpoint_start(c, 120, 10, 12);
	mock_set_faults(c->m, &f);
	PRUN(c, 0, "pull", "checkpoint", "--once");
	OUT_HAS(c->s, "120 accepted, 0 rejected, 0 malformed");
	assert_int_equal(pull_logged(c), 120);
	assert_int_equal(mock_tokens(c->m), 2);
	checkpoint_levels(c, 120, 12);
	scen_writes(c->s, "secret", "not-the-secret\n");
	PRUN(c, 69, "pull", "checkpoint", "--once");
	ERR_HAS(c->s, "refused the credentials (HTTP 401)");
	pull_secret_nowhere(c);
}

/* ---- Sophos Central: whoami's data region, a SIEM cursor ---- */

static void sophos_start(pctx *c, int n, int per_page, int ndev)
{
	static const char *const on[] = {"ios=on", "android=on", NULL};
	/* no api_url: the data region whoami names is the API (the server
	 * under the name localhost), the token and whoami on 127.0.0.1 */
	static const char *const extra[] = {"api_url=-", "token_url=@/api/v2/oauth2/token",
					    "whoami_url=@/whoami/v1", "client_id=" CLIENT, NULL};
	c->vid = "sophos";
	pull_start(c, "sophos", MOCK_SOPHOS, n, per_page, ndev, NULL, on, extra);
}

/* mock_sophos.c: device d's open threats are j = d, d + ndev, ... < n, of
 * severity low, medium, high by j % 3. */
static void sophos_levels(pctx *c, int n, int ndev)
{
	worst_levels(c, "sophos", n, ndev, NULL, NULL);
}

/* 300 events in pages of 40 on 30 devices known by their Sophos ids:
 * killed before the third commit, then after the fifth, then to the end:
 * every event once, every request to the data region with the tenant's
 * header (the server refuses any other); nothing new: nothing applied. */
static void sophos_kills(void **state)
{
	pctx *c = *state;
	sophos_start(c, 300, 40, 30);
	pull_kill_at(c, "sophos", "pull-before-commit:3");
	assert_int_equal(pull_logged(c), 80);
	pull_kill_at(c, "sophos", "pull-committed:3");
	assert_int_equal(pull_logged(c), 200);
	PRUN(c, 0, "pull", "sophos", "--once");
	OUT_HAS(c->s, "100 accepted");
	OUT_HAS(c->s, "evaluated 30 devices");
	assert_int_equal(pull_logged(c), 300);
	sophos_levels(c, 300, 30);
	PRUN(c, 0, "pull", "sophos", "--once");
	OUT_HAS(c->s, "0 accepted");
	assert_int_equal(pull_logged(c), 300);
	PRUN(c, 0, "audit", "verify");
	pull_secret_nowhere(c);
}

/* The faults of the other flows, whoami among the requests they hit. */
static void sophos_faults(void **state)
{
	pctx *c = *state;
	mock_faults f = {.r429 = 2, .r500 = 4, .n500 = 3, .expire = 8, .trunc = 10, .slow = 12};
	sophos_start(c, 40, 5, 30);
	mock_set_faults(c->m, &f);
	PRUN(c, 0, "pull", "sophos", "--once");
	assert_int_equal(pull_logged(c), 40);
	assert_int_equal(mock_tokens(c->m), 2);
	sophos_levels(c, 40, 30);
	pull_secret_nowhere(c);
}

/* ---- Pradeo: two static keys, devices by skip/take ---- */

static void pradeo_start(pctx *c, int ndev, int per_page)
{
	static const char *const on[] = {"ios=on", "android=on", NULL};
	static const char *const extra[] = {"client_id=" CLIENT, NULL};
	pull_start(c, "pradeo", MOCK_PRADEO, ndev, per_page, ndev, NULL, on, extra);
}

/* mock_pradeo.c: device d is at riskLevel d % 3 (low, medium, high);
 * after the change, d % 4 == 0 is high. */
static void pradeo_levels(pctx *c, int ndev, int changed)
{
	static const char *const lv[] = {"low", "medium", "high"};
	for (int d = 0; d < ndev - changed; d++) {
		char dev[32];
		const char *want = changed && d % 4 == 0 ? "high" : lv[d % 3], *got;
		snprintf(dev, sizeof dev, "dev-%d", d);
		if (strcmp(got = pull_level(c, dev, "pradeo"), want))
			fail_msg("%s: pradeo level %s, expected %s", dev, got, want);
	}
}

/* 47 devices in pages of 10 (the last one of 7), the keys in two headers
 * (the test server refuses anything else, a bearer token included). Killed
 * before the third commit, then after the second commit of a second run
 * (which resumes at skip=20), then to the end, where the page it stopped
 * before is refused (400, an expired position): the list again from its
 * start, every device once with its level. The next pull reads the list again: every device a replay. Then
 * 12 devices sync again, one with an undocumented riskLevel: 11 taken, that
 * one refused by name, the others kept. 429, a 500 burst, a truncated and a
 * slow answer on the way; a wrong secret refused. */
static void pradeo_keys(void **state)
{
	pctx *c = *state;
	mock_faults f = {.r429 = 13, .r500 = 14, .n500 = 2, .trunc = 17, .slow = 19}, expired = {0};
	pradeo_start(c, 47, 10);
	/* evaluated once: a pull then decides what its pages, and the pages of
	 * the killed pulls before it, touched (the store never evaluated, it
	 * leaves the rest to the first evaluate, as serve does) */
	PRUN(c, 0, "evaluate");
	pull_kill_at(c, "pradeo", "pull-before-commit:3");
	assert_int_equal(pull_logged(c), 20);
	pull_kill_at(c, "pradeo", "pull-committed:2");
	assert_int_equal(pull_logged(c), 40);
	/* the page the killed pull stopped before is gone when asked (400):
	 * the list again from its start, its first 40 devices replays */
	expired.r400 = mock_requests(c->m) + 1;
	mock_set_faults(c->m, &expired);
	PRUN(c, 0, "pull", "pradeo", "--once");
	ERR_HAS(c->s, "no longer has the page an earlier pull stopped before (HTTP 400)");
	OUT_HAS(c->s, "7 accepted");
	OUT_HAS(c->s, "40 replayed events not counted again");
	assert_int_equal(pull_logged(c), 47);
	pradeo_levels(c, 47, 0);
	mock_set_faults(c->m, &f);
	PRUN(c, 0, "pull", "pradeo", "--once");
	OUT_HAS(c->s, "0 accepted");
	OUT_HAS(c->s, "47 replayed events not counted again, 10 requests, 5 retried");
	assert_int_equal(pull_logged(c), 47);
	mock_pradeo_change(1);
	PRUN(c, 65, "pull", "pradeo", "--once");
	OUT_HAS(c->s, "12 accepted, 0 rejected, 0 malformed, 1 bad element");
	OUT_HAS(c->s, "34 replayed events not counted again");
	ERR_HAS(c->s, "items[6]: field 'riskLevel': unknown value 'critical'");
	mock_pradeo_change(0);
	assert_int_equal(pull_logged(c), 59);
	pradeo_levels(c, 47, 1);
	PRUN(c, 0, "audit", "verify");
	scen_writes(c->s, "secret", "not-the-secret\n");
	PRUN(c, 69, "pull", "pradeo", "--once");
	ERR_HAS(c->s, "HTTP 401");
	pull_secret_nowhere(c);
}

/* ---- Jamf (wandera): the Risk API's numbered pages ---- */

static void jamf_start(pctx *c, int per_page, int ndev)
{
	static const char *const on[] = {"ios=on", "android=on", NULL};
	static const char *const extra[] = {"client_id=" CLIENT, NULL};
	pull_start(c, "wandera", MOCK_WANDERA, 0, per_page, ndev, NULL, on, extra);
}

/* mock_wandera.c: device d's riskCategory is SECURE, LOW, MEDIUM, HIGH by
 * d % 4. */
static void jamf_levels(pctx *c, int ndev)
{
	static const char *const lv[] = {"secured", "low", "medium", "high"};
	for (int d = 0; d < ndev; d++) {
		char dev[32];
		const char *got;
		snprintf(dev, sizeof dev, "dev-%d", d);
		if (strcmp(got = pull_level(c, dev, "wandera"), lv[d % 4]))
			fail_msg("%s: wandera level %s, expected %s", dev, got, lv[d % 4]);
	}
}

/* 250 devices in pages of 40 (pages 0..6, then an empty page 7): killed
 * before the third commit, then after the third commit of a second run
 * (pages 2..4), then to the end: every device once. A pull again reads the
 * whole list from page 0 (a posture snapshot, not a feed). */
static void jamf_kills(void **state)
{
	pctx *c = *state;
	jamf_start(c, 40, 250);
	/* decided once, as scenario_pull's defender_kills: what the killed
	 * pulls commit is then due again at the next pull */
	PRUN(c, 0, "evaluate");
	pull_kill_at(c, "wandera", "pull-before-commit:3");
	assert_int_equal(pull_logged(c), 80);
	pull_kill_at(c, "wandera", "pull-committed:3");
	assert_int_equal(pull_logged(c), 200);
	PRUN(c, 0, "pull", "wandera", "--once");
	OUT_HAS(c->s, "wandera: 3 records, 50 accepted");
	assert_int_equal(pull_logged(c), 250);
	jamf_levels(c, 250);
	PRUN(c, 0, "pull", "wandera", "--once");
	OUT_HAS(c->s, "wandera: 8 records, 250 accepted");
	assert_int_equal(pull_logged(c), 500);
	PRUN(c, 0, "audit", "verify");
	pull_secret_nowhere(c);
}

/* The faults; the Basic login again after the token is revoked; a wrong
 * secret refused clearly. */
static void jamf_faults(void **state)
{
	pctx *c = *state;
	mock_faults f = {.r429 = 2, .r500 = 4, .n500 = 3, .expire = 8, .trunc = 10, .slow = 12};
	jamf_start(c, 5, 30);
	mock_set_faults(c->m, &f);
	PRUN(c, 0, "pull", "wandera", "--once");
	assert_int_equal(pull_logged(c), 30);
	assert_int_equal(mock_tokens(c->m), 2);
	jamf_levels(c, 30);
	scen_writes(c->s, "secret", "not-the-secret\n");
	PRUN(c, 69, "pull", "wandera", "--once");
	ERR_HAS(c->s, "refused the credentials (HTTP 401)");
	pull_secret_nowhere(c);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(zimperium_kills, pull_setup, pull_teardown),
		cmocka_unit_test_setup_teardown(zimperium_faults, pull_setup, pull_teardown),
		cmocka_unit_test_setup_teardown(checkpoint_kills, pull_setup, pull_teardown),
		cmocka_unit_test_setup_teardown(checkpoint_faults, pull_setup, pull_teardown),
		cmocka_unit_test_setup_teardown(sophos_kills, pull_setup, pull_teardown),
		cmocka_unit_test_setup_teardown(sophos_faults, pull_setup, pull_teardown),
		cmocka_unit_test_setup_teardown(pradeo_keys, pull_setup, pull_teardown),
		cmocka_unit_test_setup_teardown(jamf_kills, pull_setup, pull_teardown),
		cmocka_unit_test_setup_teardown(jamf_faults, pull_setup, pull_teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
