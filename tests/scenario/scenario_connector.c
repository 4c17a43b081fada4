/* Scenarios: connector lifecycle (R2) and settings (R3) as shown by
 * `connector list --json`, and how the CLI refuses bad settings. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "harness.h"

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

static const char *const switches[] = {
	"android", "ios", "windows", "macos", "mam_android", "mam_ios", "mam_windows",
	"appsync_ios", "appsync_personal_ios", "block_unsupported_os", "block_missing_data", NULL};

/* Every R3 setting under its own name: switches true only for those in on. */
static void assert_settings(scen *s, const json_t *c, const char *const *on, int days)
{
	const char *text = scen_jtext(s, c);
	const json_t *d = json_object_get(c, "unresponsive_days");
	for (int i = 0; switches[i]; i++) {
		const json_t *v = json_object_get(c, switches[i]);
		int want = 0;
		for (int k = 0; on && on[k]; k++)
			want |= !strcmp(on[k], switches[i]);
		if (!json_is_boolean(v))
			fail_msg("connector list --json: \"%s\" missing or not true/false: %s", switches[i],
				 text);
		if (json_is_true(v) != want)
			fail_msg("connector list --json: \"%s\" should be %s: %s", switches[i],
				 want ? "true" : "false", text);
	}
	if (!json_is_integer(d) || json_integer_value(d) != days)
		fail_msg("connector list --json: \"unresponsive_days\" should be %d: %s", days, text);
	if (!json_object_get(c, "last_contact") || !json_object_get(c, "vendor") ||
	    !json_object_get(c, "state"))
		fail_msg("connector list --json: vendor, state or last_contact missing: %s", text);
}

/* 3. not_set_up -> available -> enabled -> available, with the R3 keys. */
static void lifecycle_states(void **state)
{
	scen *s = *state;
	const char *dev = scen_writes(s, "devices.jsonl", SCEN_FLEET);
	const char *prov = scen_writes(s, "p.jsonl", "{\"type\":\"provision\",\"at\":1709251200}\n");
	static const char *const ios[] = {"ios", NULL};
	static const char *const win[] = {"windows", NULL};
	static const char *const winmam[] = {"windows", "mam_android", NULL};
	json_t *c;

	RUN(s, 0, "init");
	RUN(s, 0, "device", "import", dev);
	RUN(s, 0, "connector", "list", "--json");
	assert_int_equal(scen_json_lines_(s, __FILE__, __LINE__), 0);

	RUN(s, 0, "connector", "add", "generic");
	c = CONNECTOR(s, "generic");
	FIELD(s, c, "vendor", "generic");
	FIELD(s, c, "state", "not_set_up");
	assert_settings(s, c, NULL, 7);
	assert_true(json_is_null(json_object_get(c, "last_contact")));

	scen_day(s, 0, 60);
	RUN(s, 0, "ingest", "generic", prov);
	c = CONNECTOR(s, "generic");
	FIELD(s, c, "state", "available");
	FIELD(s, c, "last_contact", "2024-03-01T00:01:00Z");
	assert_settings(s, c, NULL, 7);

	RUN(s, 0, "connector", "set", "generic", "ios=on");
	c = CONNECTOR(s, "generic");
	FIELD(s, c, "state", "enabled");
	assert_settings(s, c, ios, 7);

	RUN(s, 0, "connector", "set", "generic", "ios=off");
	c = CONNECTOR(s, "generic");
	FIELD(s, c, "state", "available");
	assert_settings(s, c, NULL, 7);

	/* Enabled while any platform is on. */
	RUN(s, 0, "connector", "set", "generic", "ios=on", "windows=on");
	RUN(s, 0, "connector", "set", "generic", "ios=off");
	c = CONNECTOR(s, "generic");
	FIELD(s, c, "state", "enabled");
	assert_settings(s, c, win, 7);
	RUN(s, 0, "connector", "set", "generic", "mam_android=on", "unresponsive_days=30");
	c = CONNECTOR(s, "generic");
	assert_settings(s, c, winmam, 30);
	RUN(s, 0, "connector", "set", "generic", "windows=off", "mam_android=off");
	c = CONNECTOR(s, "generic");
	FIELD(s, c, "state", "available");
}

/* R2: a partner error puts the connector in error until a healthy
 * heartbeat. */
static void partner_error_until_heartbeat(void **state)
{
	scen *s = *state;
	json_t *c;

	SETUP(s, SCEN_FLEET);
	RUN(s, 0, "connector", "set", "generic", "ios=on");
	scen_day(s, 0, 60);
	INGEST(s, "{\"type\":\"error\",\"code\":\"E_TOKEN_EXPIRED\",\"at\":\"2024-03-01T00:01:00Z\"}\n");
	c = CONNECTOR(s, "generic");
	FIELD(s, c, "state", "error");
	/* Still accepts threat messages (R1). */
	INGEST(s, THREAT("ios-alice", "low", "\"2024-03-01T00:01:00Z\""));
	OUT_HAS(s, "1 accepted, 0 rejected");
	INGEST(s, "{\"type\":\"heartbeat\",\"at\":\"2024-03-01T00:02:00Z\"}\n");
	c = CONNECTOR(s, "generic");
	FIELD(s, c, "state", "enabled");
}

/* R2: remove -> unavailable; the partner provisions it again -> available
 * (the state the partner's provisioning leads to, whatever was switched on
 * before the removal). */
static void reprovision_after_remove(void **state)
{
	scen *s = *state;
	const char *prov = scen_writes(s, "p2.jsonl", "{\"type\":\"provision\",\"at\":1709254800}\n");
	json_t *c;

	SETUP(s, SCEN_FLEET);
	RUN(s, 0, "connector", "set", "generic", "ios=on");
	scen_day(s, 0, 1800);
	RUN(s, 0, "connector", "remove", "generic");
	OUT_HAS(s, "unavailable");
	c = CONNECTOR(s, "generic");
	FIELD(s, c, "state", "unavailable");
	/* Adding it again is not how it comes back. */
	RUN(s, 69, "connector", "add", "generic");
	c = CONNECTOR(s, "generic");
	FIELD(s, c, "state", "unavailable");

	scen_day(s, 0, 3600);
	RUN(s, 0, "ingest", "generic", prov);
	c = CONNECTOR(s, "generic");
	FIELD(s, c, "state", "available");
}

/* Bad settings and vendors are usage errors (64) and change nothing. */
static void settings_refused(void **state)
{
	scen *s = *state;
	json_t *c;

	SETUP(s, SCEN_FLEET);
	RUN(s, 64, "connector", "set", "generic", "colour=blue");
	ERR_HAS(s, "colour");
	RUN(s, 64, "connector", "set", "generic", "ios=maybe");
	ERR_HAS(s, "maybe");
	RUN(s, 64, "connector", "set", "generic", "unresponsive_days=0");
	ERR_HAS(s, "unresponsive_days");
	RUN(s, 64, "connector", "set", "generic", "unresponsive_days=soon");
	ERR_HAS(s, "soon");
	RUN(s, 64, "connector", "set", "generic", "ios");
	RUN(s, 64, "connector", "set", "generic");
	/* All settings are validated before any is applied. */
	RUN(s, 64, "connector", "set", "generic", "ios=on", "colour=blue");
	c = CONNECTOR(s, "generic");
	FIELD(s, c, "state", "available");
	assert_settings(s, c, NULL, 7);

	RUN(s, 64, "connector", "add", "nosuchvendor");
	ERR_HAS(s, "nosuchvendor");
	RUN(s, 0, "connector", "list", "--json");
	assert_int_equal(scen_json_lines_(s, __FILE__, __LINE__), 1);
	RUN(s, 64, "connector", "frobnicate", "generic");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(lifecycle_states, setup, teardown),
		cmocka_unit_test_setup_teardown(partner_error_until_heartbeat, setup, teardown),
		cmocka_unit_test_setup_teardown(reprovision_after_remove, setup, teardown),
		cmocka_unit_test_setup_teardown(settings_refused, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
