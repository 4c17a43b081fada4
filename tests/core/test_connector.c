/* Unit tests of core/connector: the R2 lifecycle derived by
 * mtd_conn_state_at, R1 gating, R3 settings with plugin and cloud refusals,
 * and the stored connector (load, save, audit of state changes). */
#include "testutil.h"

#include <sqlite3.h>

#include "codec.h"
#include "connector.h"
#include "mtdgate/mtdgate.h"
#include "store.h"
#include "store_rows.h"

#define DAY INT64_C(86400)
#define T0 INT64_C(1709251200) /* 2024-03-01T00:00:00Z */

/* ---- fake plugins ---- */

static int p_open(const mtd_host_api *h, const char *const *s, void **st, char *e, size_t n)
{
	(void)h;
	(void)s;
	(void)e;
	(void)n;
	*st = NULL;
	return 0;
}

static int p_decode(void *st, const mtd_host_api *h, void *sink, const void *d, size_t l,
		    char *e, size_t n)
{
	(void)st;
	(void)h;
	(void)sink;
	(void)d;
	(void)l;
	(void)e;
	(void)n;
	return 0;
}

static void p_close(void *st)
{
	(void)st;
}

/* Android, iOS and Windows; app protection on Android and iOS; no App Sync,
 * no government cloud. */
static const mtd_plugin partial = {
	MTD_PLUGIN_ABI_VERSION,
	sizeof(mtd_plugin),
	"partial",
	"Partial Vendor",
	MTD_PLUGIN_ANDROID | MTD_PLUGIN_IOS | MTD_PLUGIN_WINDOWS,
	MTD_PLUGIN_ANDROID | MTD_PLUGIN_IOS,
	MTD_PLUGIN_CAP_THREAT | MTD_PLUGIN_CAP_APP_PROTECTION,
	p_open,
	p_decode,
	p_close,
	NULL,
	NULL,
	NULL,
};

/* Everything. */
static const mtd_plugin full = {
	MTD_PLUGIN_ABI_VERSION,
	sizeof(mtd_plugin),
	"full",
	"Full Vendor",
	MTD_PLUGIN_ANDROID | MTD_PLUGIN_IOS | MTD_PLUGIN_WINDOWS | MTD_PLUGIN_MACOS,
	MTD_PLUGIN_ANDROID | MTD_PLUGIN_IOS | MTD_PLUGIN_WINDOWS,
	MTD_PLUGIN_CAP_THREAT | MTD_PLUGIN_CAP_APP_PROTECTION | MTD_PLUGIN_CAP_APPSYNC |
		MTD_PLUGIN_CAP_GOV_CLOUD,
	p_open,
	p_decode,
	p_close,
	NULL,
	NULL,
	NULL,
};

/* Nothing but Android threat reports. */
static const mtd_plugin minimal = {
	MTD_PLUGIN_ABI_VERSION,
	sizeof(mtd_plugin),
	"minimal",
	"Minimal Vendor",
	MTD_PLUGIN_ANDROID,
	0,
	MTD_PLUGIN_CAP_THREAT,
	p_open,
	p_decode,
	p_close,
	NULL,
	NULL,
	NULL,
};

static mtd_conn fresh(void)
{
	mtd_conn c;
	memset(&c, 0, sizeof c);
	snprintf(c.vendor, sizeof c.vendor, "partial");
	c.unresponsive_days = 7;
	c.added_at = T0;
	c.state = MTD_CS_NOT_SET_UP;
	return c;
}

#define STATE(c, now, want)                                                             \
	do {                                                                            \
		int got_ = mtd_conn_state_at(&(c), (now));                              \
		if (got_ != (want))                                                     \
			fail_msg("state at %+lld s: %s, expected %s",                   \
				 (long long)((now)-T0), mtd_conn_state_name(got_),      \
				 mtd_conn_state_name(want));                            \
	} while (0)

/* ---- R2 ---- */

static void lifecycle(void **state)
{
	mtd_conn c = fresh();
	(void)state;

	/* add -> not_set_up, however much time passes */
	STATE(c, T0, MTD_CS_NOT_SET_UP);
	STATE(c, T0 + 365 * DAY, MTD_CS_NOT_SET_UP);
	/* the partner provisions -> available */
	c.provisioned = 1;
	c.last_contact = T0 + 3600;
	STATE(c, T0 + 3600, MTD_CS_AVAILABLE);
	/* a platform on -> enabled; app protection alone enables too */
	c.platforms = MTD_PLUGIN_IOS;
	STATE(c, T0 + 3600, MTD_CS_ENABLED);
	c.platforms = 0;
	c.mam_platforms = MTD_PLUGIN_ANDROID;
	STATE(c, T0 + 3600, MTD_CS_ENABLED);
	/* all off -> available */
	c.mam_platforms = 0;
	STATE(c, T0 + 3600, MTD_CS_AVAILABLE);
	c.platforms = MTD_PLUGIN_ANDROID | MTD_PLUGIN_IOS;
	STATE(c, T0 + 3600, MTD_CS_ENABLED);
	/* silence: exactly unresponsive_days is not yet unresponsive */
	STATE(c, T0 + 3600 + 7 * DAY, MTD_CS_ENABLED);
	STATE(c, T0 + 3600 + 7 * DAY + 1, MTD_CS_UNRESPONSIVE);
	STATE(c, T0 + 3600 + 300 * DAY, MTD_CS_UNRESPONSIVE);
	/* contact again -> back to enabled */
	c.last_contact = T0 + 10 * DAY;
	STATE(c, T0 + 10 * DAY, MTD_CS_ENABLED);
	/* an available connector goes unresponsive too, and comes back available */
	c.platforms = 0;
	STATE(c, T0 + 18 * DAY, MTD_CS_UNRESPONSIVE);
	c.last_contact = T0 + 18 * DAY;
	STATE(c, T0 + 18 * DAY, MTD_CS_AVAILABLE);
	c.platforms = MTD_PLUGIN_ANDROID;
	/* a partner error -> error, whatever the contact, until cleared */
	snprintf(c.error_code, sizeof c.error_code, "E_AUTH");
	STATE(c, T0 + 18 * DAY, MTD_CS_ERROR);
	STATE(c, T0 + 100 * DAY, MTD_CS_ERROR);
	c.error_code[0] = '\0';
	STATE(c, T0 + 18 * DAY, MTD_CS_ENABLED);
	/* remove -> unavailable, over everything else */
	c.removed = 1;
	STATE(c, T0 + 18 * DAY, MTD_CS_UNAVAILABLE);
	snprintf(c.error_code, sizeof c.error_code, "E_AUTH");
	STATE(c, T0 + 18 * DAY, MTD_CS_UNAVAILABLE);
	STATE(c, T0 + 100 * DAY, MTD_CS_UNAVAILABLE);
	c.provisioned = 0;
	STATE(c, T0 + 18 * DAY, MTD_CS_UNAVAILABLE);
	/* provisioned again -> available (switches off) */
	c.removed = 0;
	c.provisioned = 1;
	c.error_code[0] = '\0';
	c.platforms = c.mam_platforms = 0;
	c.last_contact = T0 + 20 * DAY;
	STATE(c, T0 + 20 * DAY, MTD_CS_AVAILABLE);
}

static void unresponsive_threshold(void **state)
{
	mtd_conn c = fresh();
	(void)state;
	c.provisioned = 1;
	c.platforms = MTD_PLUGIN_ANDROID;
	c.last_contact = T0;
	for (int days = 1; days <= 365; days += 91) {
		c.unresponsive_days = days;
		STATE(c, T0 + days * DAY, MTD_CS_ENABLED);
		STATE(c, T0 + days * DAY + 1, MTD_CS_UNRESPONSIVE);
	}
	/* contact in the future of now (clock skew) is still contact */
	c.unresponsive_days = 7;
	STATE(c, T0 - 3600, MTD_CS_ENABLED);
}

static void state_names(void **state)
{
	static const char *const names[] = {"unavailable", "not_set_up", "available",
					    "enabled", "unresponsive", "error"};
	(void)state;
	for (int i = MTD_CS_UNAVAILABLE; i <= MTD_CS_ERROR; i++)
		assert_string_equal(mtd_conn_state_name(i), names[i]);
	assert_string_equal(mtd_conn_state_name(-1), "?");
	assert_string_equal(mtd_conn_state_name(6), "?");
}

/* ---- R1 ---- */

static void gating_table(void **state)
{
	static const int types[] = {MTD_MSG_THREAT, MTD_MSG_HEARTBEAT, MTD_MSG_PROVISION,
				    MTD_MSG_ERROR, MTD_MSG_APPSYNC_REQUEST};
	(void)state;
	for (int s = MTD_CS_UNAVAILABLE; s <= MTD_CS_ERROR; s++) {
		for (size_t t = 0; t < sizeof types / sizeof *types; t++) {
			int want = types[t] == MTD_MSG_PROVISION ||
				   (s != MTD_CS_UNAVAILABLE && s != MTD_CS_NOT_SET_UP);
			int got = mtd_conn_accepts(s, types[t]);
			if (!!got != want)
				fail_msg("state %s, message %s: %s, expected %s",
					 mtd_conn_state_name(s), mtd_msg_type_name(types[t]),
					 got ? "accepted" : "rejected", want ? "accepted" : "rejected");
		}
	}
}

/* ---- R3 ---- */

static char err_[512];

static int apply(mtd_conn *c, const char *kv, const mtd_plugin *p, int gcc_high)
{
	err_[0] = '\0';
	return mtd_conn_apply(c, kv, p, gcc_high, err_, sizeof err_);
}

/* Refused: the code, a message containing `why`, and c untouched. */
static void apply_bad(mtd_conn *c, const char *kv, const mtd_plugin *p, int gcc_high, int rc,
		      const char *why)
{
	mtd_conn before = *c;
	int got = apply(c, kv, p, gcc_high);
	if (got != rc)
		fail_msg("'%s' on %s%s: got %d (%s), expected %d", kv, p->id,
			 gcc_high ? " in gcc_high" : "", got, err_, rc);
	assert_contains(err_, why);
	assert_one_line(err_);
	assert_memory_equal(&before, c, sizeof before);
}

static void apply_ok(mtd_conn *c, const char *kv, const mtd_plugin *p, int gcc_high)
{
	int got = apply(c, kv, p, gcc_high);
	if (got != 0)
		fail_msg("'%s' on %s%s refused (%d): %s", kv, p->id, gcc_high ? " in gcc_high" : "",
			 got, err_);
}

static void settings_usage_errors(void **state)
{
	mtd_conn c = fresh();
	(void)state;

	apply_bad(&c, "colour=on", &full, 0, MTD_EUSAGE, "colour");
	apply_bad(&c, "Android=on", &full, 0, MTD_EUSAGE, "Android");
	apply_bad(&c, "android_x=on", &full, 0, MTD_EUSAGE, "android_x");
	apply_bad(&c, "andro=on", &full, 0, MTD_EUSAGE, "andro");
	apply_bad(&c, "android", &full, 0, MTD_EUSAGE, "KEY=VALUE");
	apply_bad(&c, "=on", &full, 0, MTD_EUSAGE, "KEY=VALUE");
	apply_bad(&c, "", &full, 0, MTD_EUSAGE, "KEY=VALUE");
	apply_bad(&c, "android=yes", &full, 0, MTD_EUSAGE, "yes");
	apply_bad(&c, "android=ON", &full, 0, MTD_EUSAGE, "ON");
	apply_bad(&c, "android=", &full, 0, MTD_EUSAGE, "android");
	apply_bad(&c, "android=1", &full, 0, MTD_EUSAGE, "android");
	apply_bad(&c, "android=on=off", &full, 0, MTD_EUSAGE, "android");
	apply_bad(&c, "block_missing_data=maybe", &full, 0, MTD_EUSAGE, "maybe");
	c.unresponsive_days = 9;
	apply_bad(&c, "unresponsive_days=0", &full, 0, MTD_EUSAGE, "unresponsive_days");
	apply_bad(&c, "unresponsive_days=366", &full, 0, MTD_EUSAGE, "366");
	apply_bad(&c, "unresponsive_days=abc", &full, 0, MTD_EUSAGE, "abc");
	apply_bad(&c, "unresponsive_days=", &full, 0, MTD_EUSAGE, "unresponsive_days");
	apply_bad(&c, "unresponsive_days=7x", &full, 0, MTD_EUSAGE, "7x");
	apply_bad(&c, "unresponsive_days=-7", &full, 0, MTD_EUSAGE, "-7");
	apply_bad(&c, "unresponsive_days=on", &full, 0, MTD_EUSAGE, "on");
	apply_bad(&c, "unresponsive_days=99999999999999999999", &full, 0, MTD_EUSAGE, "9999");
	assert_int_equal(c.unresponsive_days, 9);
}

static void settings_values(void **state)
{
	mtd_conn c = fresh();
	char buf[32];
	int is_bool;
	(void)state;

	apply_ok(&c, "unresponsive_days=1", &full, 0);
	assert_int_equal(c.unresponsive_days, 1);
	apply_ok(&c, "unresponsive_days=365", &full, 0);
	assert_int_equal(c.unresponsive_days, 365);
	apply_ok(&c, "unresponsive_days=14", &minimal, 1);
	assert_int_equal(c.unresponsive_days, 14);
	apply_ok(&c, "parked_days=90", &minimal, 1);
	assert_int_equal(c.parked_days, 90);
	assert_int_equal(c.unresponsive_days, 14); /* each its own */
	apply_bad(&c, "parked_days=0", &full, 0, MTD_EUSAGE, "parked_days");
	apply_bad(&c, "parked_days=x", &full, 0, MTD_EUSAGE, "parked_days");
	assert_int_equal(c.parked_days, 90);

	apply_ok(&c, "android=on", &full, 0);
	apply_ok(&c, "ios=true", &full, 0);
	apply_ok(&c, "windows=on", &full, 0);
	apply_ok(&c, "macos=on", &full, 0);
	assert_int_equal(c.platforms, MTD_PLUGIN_ANDROID | MTD_PLUGIN_IOS | MTD_PLUGIN_WINDOWS |
					      MTD_PLUGIN_MACOS);
	assert_int_equal(c.mam_platforms, 0);
	apply_ok(&c, "ios=off", &full, 0);
	apply_ok(&c, "macos=false", &full, 0);
	assert_int_equal(c.platforms, MTD_PLUGIN_ANDROID | MTD_PLUGIN_WINDOWS);
	apply_ok(&c, "android=on", &full, 0); /* idempotent */
	assert_int_equal(c.platforms, MTD_PLUGIN_ANDROID | MTD_PLUGIN_WINDOWS);

	apply_ok(&c, "mam_android=on", &full, 0);
	apply_ok(&c, "mam_ios=on", &full, 0);
	apply_ok(&c, "mam_windows=on", &full, 0);
	assert_int_equal(c.mam_platforms, MTD_PLUGIN_ANDROID | MTD_PLUGIN_IOS | MTD_PLUGIN_WINDOWS);
	assert_int_equal(c.platforms, MTD_PLUGIN_ANDROID | MTD_PLUGIN_WINDOWS); /* separate */
	apply_ok(&c, "mam_ios=off", &full, 0);
	assert_int_equal(c.mam_platforms, MTD_PLUGIN_ANDROID | MTD_PLUGIN_WINDOWS);

	apply_ok(&c, "appsync_ios=on", &full, 0);
	apply_ok(&c, "appsync_personal_ios=on", &full, 0);
	apply_ok(&c, "block_unsupported_os=on", &full, 0);
	apply_ok(&c, "block_missing_data=true", &full, 0);
	assert_int_equal(c.appsync_ios, 1);
	assert_int_equal(c.appsync_personal_ios, 1);
	assert_int_equal(c.block_unsupported_os, 1);
	assert_int_equal(c.block_missing_data, 1);
	apply_ok(&c, "block_missing_data=off", &full, 0);
	assert_int_equal(c.block_missing_data, 0);
	assert_int_equal(c.block_unsupported_os, 1);

	/* listing: R3 order, booleans as true/false, days as a number */
	static const char *const want_names[MTD_CONN_NSETTINGS] = {
		"android", "ios", "windows", "macos", "mam_android", "mam_ios", "mam_windows",
		"appsync_ios", "appsync_personal_ios", "block_unsupported_os",
		"block_missing_data", "unresponsive_days", "parked_days"};
	static const char *const want_values[MTD_CONN_NSETTINGS] = {
		"true", "false", "true", "false", "true", "false", "true",
		"true", "true", "true", "false", "14", "90"};
	for (int i = 0; i < MTD_CONN_NSETTINGS; i++) {
		assert_string_equal(mtd_conn_setting_names[i], want_names[i]);
		mtd_conn_setting_value(&c, i, buf, sizeof buf, &is_bool);
		if (strcmp(buf, want_values[i]))
			fail_msg("setting %s lists as '%s', expected '%s'", want_names[i], buf,
				 want_values[i]);
		assert_int_equal(is_bool, i < MTD_CONN_NSETTINGS - 2);
	}
}

static void settings_plugin_refusals(void **state)
{
	mtd_conn c = fresh();
	(void)state;

	/* a platform the plugin does not report on */
	apply_bad(&c, "macos=on", &partial, 0, MTD_EREFUSED, "Partial Vendor");
	assert_contains(err_, "macOS");
	apply_bad(&c, "ios=on", &minimal, 0, MTD_EREFUSED, "iOS");
	apply_bad(&c, "windows=true", &minimal, 0, MTD_EREFUSED, "Windows");
	/* app protection on a platform outside mam_platforms */
	apply_bad(&c, "mam_windows=on", &partial, 0, MTD_EREFUSED, "app protection");
	apply_bad(&c, "mam_android=on", &minimal, 0, MTD_EREFUSED, "Minimal Vendor");
	/* App Sync without the capability */
	apply_bad(&c, "appsync_ios=on", &partial, 0, MTD_EREFUSED, "App Sync");
	apply_bad(&c, "appsync_personal_ios=on", &partial, 0, MTD_EREFUSED, "App Sync");
	apply_bad(&c, "appsync_ios=on", &minimal, 1, MTD_EREFUSED, "Minimal Vendor");
	/* and what the plugin does support */
	apply_ok(&c, "windows=on", &partial, 0);
	apply_ok(&c, "mam_ios=on", &partial, 0);
	apply_ok(&c, "block_unsupported_os=on", &minimal, 0);
	apply_ok(&c, "block_missing_data=on", &minimal, 0);
}

static void settings_gcc_high(void **state)
{
	mtd_conn c = fresh();
	(void)state;

	apply_bad(&c, "windows=on", &full, 1, MTD_EREFUSED, "gcc_high");
	apply_bad(&c, "macos=on", &full, 1, MTD_EREFUSED, "gcc_high");
	apply_bad(&c, "mam_windows=on", &full, 1, MTD_EREFUSED, "gcc_high");
	apply_bad(&c, "windows=true", &full, 1, MTD_EREFUSED, "windows");
	assert_int_equal(c.platforms, 0);
	assert_int_equal(c.mam_platforms, 0);
	apply_ok(&c, "android=on", &full, 1);
	apply_ok(&c, "ios=on", &full, 1);
	apply_ok(&c, "mam_android=on", &full, 1);
	apply_ok(&c, "mam_ios=on", &full, 1);
	assert_int_equal(c.platforms, MTD_PLUGIN_ANDROID | MTD_PLUGIN_IOS);
	assert_int_equal(c.mam_platforms, MTD_PLUGIN_ANDROID | MTD_PLUGIN_IOS);
	/* the same settings outside gcc_high are fine */
	apply_ok(&c, "windows=on", &full, 0);
	apply_ok(&c, "macos=on", &full, 0);
	apply_ok(&c, "mam_windows=on", &full, 0);
}

static void settings_off_always_allowed(void **state)
{
	static const char *const offs[] = {"android=off", "ios=off", "windows=off", "macos=off",
					   "mam_android=off", "mam_ios=off", "mam_windows=off",
					   "appsync_ios=off", "appsync_personal_ios=off",
					   "block_unsupported_os=off", "block_missing_data=off",
					   "windows=false", "mam_windows=false"};
	const mtd_plugin *ps[] = {&minimal, &partial, &full};
	(void)state;

	for (size_t p = 0; p < 3; p++) {
		for (int g = 0; g <= 1; g++) {
			/* switches left on from before (another plugin build, another cloud) */
			mtd_conn c = fresh();
			c.platforms = c.mam_platforms = 0xf;
			c.appsync_ios = c.appsync_personal_ios = 1;
			c.block_unsupported_os = c.block_missing_data = 1;
			for (size_t i = 0; i < sizeof offs / sizeof *offs; i++)
				apply_ok(&c, offs[i], ps[p], g);
			assert_int_equal(c.platforms, 0);
			assert_int_equal(c.mam_platforms & 0x7, 0);
			assert_int_equal(c.appsync_ios + c.appsync_personal_ios, 0);
			assert_int_equal(c.block_unsupported_os + c.block_missing_data, 0);
		}
	}
}

/* ---- stored connectors ---- */

typedef struct fx {
	char dir[256];
	mtd_store *s;
} fx;

static int setup(void **state)
{
	fx *f = calloc(1, sizeof *f);
	char err[256];
	if (!f)
		return -1;
	tu_mkdtemp(f->dir, "conn");
	if (mtd_store_open(tu_path(f->dir, "mtd.db"), 1, &f->s, err, sizeof err)) {
		fprintf(stderr, "store: %s\n", err);
		return -1;
	}
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	fx *f = *state;
	mtd_store_close(f->s);
	tu_rmtree(f->dir);
	free(f);
	return 0;
}

static void insert_conn(mtd_store *s, const char *vendor, int64_t now)
{
	assert_int_equal(mtd_store_conn_insert(s, vendor, "not_set_up", now), 0);
}

static int64_t count_audit(mtd_store *s, const char *detail)
{
	sqlite3_stmt *st;
	int64_t n = -1;
	assert_int_equal(sqlite3_prepare_v2(mtd_store_db(s),
					    "SELECT count(*) FROM audit WHERE kind = 'connector_state'"
					    " AND vendor = 'lookout' AND (?1 IS NULL OR detail = ?1)",
					    -1, &st, NULL),
			 SQLITE_OK);
	if (detail)
		sqlite3_bind_text(st, 1, detail, -1, SQLITE_STATIC);
	if (sqlite3_step(st) == SQLITE_ROW)
		n = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	return n;
}

static void stored_round_trip(void **state)
{
	fx *f = *state;
	mtd_conn c, d;
	mtd_conn *all = NULL;
	size_t n = 0;

	assert_int_equal(mtd_conn_load(f->s, "lookout", &c), MTD_ENOTFOUND);
	insert_conn(f->s, "lookout", T0);
	insert_conn(f->s, "defender", T0);
	/* one connector a vendor: refused with SQLite's word for it */
	assert_int_equal(mtd_store_conn_insert(f->s, "lookout", "not_set_up", T0), MTD_ESTORE);
	assert_non_null(strstr(mtd_store_errmsg(f->s), "UNIQUE constraint failed"));
	assert_int_equal(mtd_conn_load(f->s, "lookout", &c), 0);
	assert_string_equal(c.vendor, "lookout");
	assert_int_equal(c.state, MTD_CS_NOT_SET_UP);
	assert_int_equal(c.unresponsive_days, 7); /* the R3 default */
	assert_int_equal(c.platforms, 0);
	assert_int_equal(c.last_contact, 0);
	assert_int_equal(c.added_at, T0);
	assert_string_equal(c.error_code, "");

	/* unchanged state: saved without an audit record */
	assert_int_equal(mtd_conn_save(f->s, &c, T0), 0);
	assert_int_equal(count_audit(f->s, NULL), 0);

	/* provisioned: available, and the change is audited */
	c.provisioned = 1;
	c.last_contact = T0 + 60;
	assert_int_equal(mtd_conn_save(f->s, &c, T0 + 60), 0);
	assert_int_equal(c.state, MTD_CS_AVAILABLE);
	assert_int_equal(count_audit(f->s, "{\"from\":\"not_set_up\",\"to\":\"available\"}"), 1);

	/* every field survives a save and a load */
	c.platforms = MTD_PLUGIN_IOS | MTD_PLUGIN_MACOS;
	c.mam_platforms = MTD_PLUGIN_IOS;
	c.appsync_ios = 1;
	c.block_missing_data = 1;
	c.unresponsive_days = 3;
	c.rejected = 42;
	snprintf(c.error_code, sizeof c.error_code, "E_QUOTA");
	assert_int_equal(mtd_conn_save(f->s, &c, T0 + 120), 0);
	assert_int_equal(c.state, MTD_CS_ERROR);
	assert_int_equal(mtd_conn_load(f->s, "lookout", &d), 0);
	assert_int_equal(d.id, c.id);
	assert_int_equal(d.state, MTD_CS_ERROR);
	assert_int_equal(d.provisioned, 1);
	assert_int_equal(d.removed, 0);
	assert_string_equal(d.error_code, "E_QUOTA");
	assert_int_equal(d.last_contact, T0 + 60);
	assert_int_equal(d.platforms, MTD_PLUGIN_IOS | MTD_PLUGIN_MACOS);
	assert_int_equal(d.mam_platforms, MTD_PLUGIN_IOS);
	assert_int_equal(d.appsync_ios, 1);
	assert_int_equal(d.appsync_personal_ios, 0);
	assert_int_equal(d.block_missing_data, 1);
	assert_int_equal(d.block_unsupported_os, 0);
	assert_int_equal(d.unresponsive_days, 3);
	assert_int_equal(d.rejected, 42);
	assert_int_equal(count_audit(f->s, "{\"from\":\"available\",\"to\":\"error\"}"), 1);

	/* error cleared, then silence past the threshold: unresponsive */
	d.error_code[0] = '\0';
	assert_int_equal(mtd_conn_save(f->s, &d, T0 + 60 + 3 * DAY + 1), 0);
	assert_int_equal(d.state, MTD_CS_UNRESPONSIVE);
	/* removed */
	d.removed = 1;
	assert_int_equal(mtd_conn_save(f->s, &d, T0 + 5 * DAY), 0);
	assert_int_equal(mtd_conn_load(f->s, "lookout", &c), 0);
	assert_int_equal(c.state, MTD_CS_UNAVAILABLE);
	assert_string_equal(c.error_code, "");
	assert_int_equal(count_audit(f->s, NULL), 4);

	/* all, sorted by vendor */
	assert_int_equal(mtd_conn_load_all(f->s, &all, &n), 0);
	assert_int_equal(n, 2);
	assert_string_equal(all[0].vendor, "defender");
	assert_string_equal(all[1].vendor, "lookout");
	assert_int_equal(all[1].state, MTD_CS_UNAVAILABLE);
	free(all);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(lifecycle),
		cmocka_unit_test(unresponsive_threshold),
		cmocka_unit_test(state_names),
		cmocka_unit_test(gating_table),
		cmocka_unit_test(settings_usage_errors),
		cmocka_unit_test(settings_values),
		cmocka_unit_test(settings_plugin_refusals),
		cmocka_unit_test(settings_gcc_high),
		cmocka_unit_test(settings_off_always_allowed),
		cmocka_unit_test_setup_teardown(stored_round_trip, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
