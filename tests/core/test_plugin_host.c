/* Unit tests of core/plugin_host: loading real shared objects broken on
 * purpose (tests/plugins), files that are not plugins at all, and the
 * descriptor validation rules one by one. */
#include "testutil.h"

#include "mtdgate/mtdgate.h"
#include "mtdgate/plugin.h"
#include "plugin_host.h"

#ifndef MTD_TEST_PLUGIN_DIR
#error "MTD_TEST_PLUGIN_DIR must name the directory of the broken plugins"
#endif

static char err_[1024];

/* Load dir/<variant>.so expecting rc, a one-line message naming the file and
 * containing why. */
static void load_refused(const char *variant, const char *want_id, int rc, const char *why)
{
	const mtd_plugin *p = (const mtd_plugin *)0x1;
	char file[600];
	int got;

	snprintf(file, sizeof file, "%s/%s.so", MTD_TEST_PLUGIN_DIR, variant);
	err_[0] = '\0';
	got = mtd_plugin_load(file, want_id, &p, err_, sizeof err_);
	if (got != rc)
		fail_msg("%s: got %d (%s), expected %d", file, got, err_, rc);
	assert_ptr_equal(p, (const mtd_plugin *)0x1); /* *out untouched on failure */
	assert_contains(err_, file);
	assert_contains(err_, why);
	assert_one_line(err_);
}

static void good_plugin_loads(void **state)
{
	const mtd_plugin *p = NULL, *q = NULL;
	char file[600];
	void *inst = (void *)0x1;
	(void)state;

	snprintf(file, sizeof file, "%s/good.so", MTD_TEST_PLUGIN_DIR);
	err_[0] = '\0';
	if (mtd_plugin_load(file, "good", &p, err_, sizeof err_) != 0)
		fail_msg("the good plugin was refused: %s", err_);
	assert_non_null(p);
	assert_string_equal(p->id, "good");
	assert_int_equal(p->abi_version, MTD_PLUGIN_ABI_VERSION);
	assert_int_equal(p->platforms, MTD_PLUGIN_ANDROID | MTD_PLUGIN_IOS);
	assert_int_equal(p->capabilities, MTD_PLUGIN_CAP_THREAT);
	assert_null(p->appsync_translate);
	/* its functions are callable */
	assert_int_equal(p->open(NULL, NULL, &inst, err_, sizeof err_), 0);
	assert_int_equal(p->decode(inst, NULL, NULL, "x", 1, err_, sizeof err_), 0);
	p->close(inst);
	/* without an expected id, and again: the same descriptor */
	assert_int_equal(mtd_plugin_load(file, NULL, &q, err_, sizeof err_), 0);
	assert_ptr_equal(p, q);
	/* found by id in a directory */
	q = NULL;
	assert_int_equal(mtd_plugin_find(MTD_TEST_PLUGIN_DIR, "good", &q, err_, sizeof err_), 0);
	assert_ptr_equal(p, q);
}

static void no_entry_symbol(void **state)
{
	(void)state;
	load_refused("no_entry", "no_entry", MTD_EPLUGIN, MTD_PLUGIN_ENTRY_SYMBOL);
}

static void entry_returns_null(void **state)
{
	(void)state;
	load_refused("null_entry", "null_entry", MTD_EPLUGIN, "refused plugin ABI 1.");
}

static void abi_major_mismatch(void **state)
{
	(void)state;
	load_refused("abi_major2", "abi_major2", MTD_EPLUGIN, "ABI 2.0");
}

static void abi_minor_newer(void **state)
{
	char want[64];
	(void)state;
	snprintf(want, sizeof want, "ABI %u.%u", MTD_PLUGIN_ABI_MAJOR, MTD_PLUGIN_ABI_MINOR + 1);
	load_refused("abi_minor_new", "abi_minor_new", MTD_EPLUGIN, want);
	assert_contains(err_, "newer");
}

static void struct_too_small(void **state)
{
	(void)state;
	load_refused("small_struct", "small_struct", MTD_EPLUGIN, "too small");
}

static void id_with_capitals(void **state)
{
	(void)state;
	load_refused("caps_id", "caps_id", MTD_EPLUGIN, "id");
	load_refused("caps_id", NULL, MTD_EPLUGIN, "[a-z0-9_]");
}

static void id_mismatch(void **state)
{
	const mtd_plugin *p = NULL;
	(void)state;
	load_refused("wrong_id", "wrong_id", MTD_EPLUGIN, "someone_else");
	assert_contains(err_, "does not match");
	/* through the directory lookup, the file name is the expected id */
	err_[0] = '\0';
	assert_int_equal(mtd_plugin_find(MTD_TEST_PLUGIN_DIR, "wrong_id", &p, err_, sizeof err_),
			 MTD_EPLUGIN);
	assert_null(p);
	assert_contains(err_, "wrong_id.so");
	assert_contains(err_, "someone_else");
	/* nor can the descriptor's own id be used to reach it */
	err_[0] = '\0';
	assert_int_equal(mtd_plugin_find(MTD_TEST_PLUGIN_DIR, "someone_else", &p, err_, sizeof err_),
			 MTD_ENOTFOUND);
}

static void missing_decode(void **state)
{
	(void)state;
	load_refused("no_decode", "no_decode", MTD_EPLUGIN, "decode");
}

static void mam_not_subset(void **state)
{
	(void)state;
	load_refused("mam_not_subset", "mam_not_subset", MTD_EPLUGIN, "platforms");
}

/* Files that are no plugin at all. */
typedef struct fx {
	char dir[256];
} fx;

static int setup(void **state)
{
	fx *f = calloc(1, sizeof *f);
	if (!f)
		return -1;
	tu_mkdtemp(f->dir, "plugin");
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	fx *f = *state;
	tu_rmtree(f->dir);
	free(f);
	return 0;
}

static void not_elf(void **state)
{
	fx *f = *state;
	const mtd_plugin *p = NULL;
	const char *path = tu_path(f->dir, "garbage.so");
	char junk[4096];

	for (size_t i = 0; i < sizeof junk; i++)
		junk[i] = (char)(i * 131 + 7);
	memcpy(junk, "\x7f" "ELF", 4); /* even with the ELF magic in front */
	tu_write(f->dir, "garbage.so", junk, sizeof junk);
	err_[0] = '\0';
	assert_int_equal(mtd_plugin_load(path, "garbage", &p, err_, sizeof err_), MTD_EPLUGIN);
	assert_null(p);
	assert_contains(err_, path);
	assert_contains(err_, "cannot load");
	assert_one_line(err_);

	tu_write_str(f->dir, "text.so", "#!/bin/sh\necho not a plugin\n");
	path = tu_path(f->dir, "text.so");
	err_[0] = '\0';
	assert_int_equal(mtd_plugin_load(path, NULL, &p, err_, sizeof err_), MTD_EPLUGIN);
	assert_contains(err_, path);
	assert_one_line(err_);

	tu_write(f->dir, "empty.so", "", 0);
	path = tu_path(f->dir, "empty.so");
	err_[0] = '\0';
	assert_int_equal(mtd_plugin_load(path, NULL, &p, err_, sizeof err_), MTD_EPLUGIN);
	assert_contains(err_, path);
	assert_null(p);
}

static void missing_path(void **state)
{
	fx *f = *state;
	const mtd_plugin *p = NULL;
	const char *path = tu_path(f->dir, "nothing_here.so");

	err_[0] = '\0';
	assert_int_equal(mtd_plugin_load(path, NULL, &p, err_, sizeof err_), MTD_ENOTFOUND);
	assert_null(p);
	assert_contains(err_, path);
	assert_one_line(err_);

	/* a directory is not a plugin */
	mkdir(tu_path(f->dir, "dir.so"), 0700);
	path = tu_path(f->dir, "dir.so");
	err_[0] = '\0';
	assert_int_equal(mtd_plugin_load(path, NULL, &p, err_, sizeof err_), MTD_EPLUGIN);
	assert_contains(err_, "not a regular file");

	/* by id */
	err_[0] = '\0';
	assert_int_equal(mtd_plugin_find(f->dir, "nothing_here", &p, err_, sizeof err_),
			 MTD_ENOTFOUND);
	assert_contains(err_, "nothing_here");
	/* an id that is not one cannot reach outside the directory */
	err_[0] = '\0';
	assert_int_equal(mtd_plugin_find(MTD_TEST_PLUGIN_DIR, "../so/good", &p, err_, sizeof err_),
			 MTD_EUSAGE);
	assert_contains(err_, "../so/good");
	assert_int_equal(mtd_plugin_find(f->dir, "", &p, err_, sizeof err_), MTD_EUSAGE);
	assert_int_equal(mtd_plugin_find(f->dir, "Good", &p, err_, sizeof err_), MTD_EUSAGE);
	assert_null(p);
}

/* ---- validation, rule by rule, on in-memory descriptors ---- */

static int v_open(const mtd_host_api *h, const char *const *s, void **st, char *e, size_t n)
{
	(void)h;
	(void)s;
	(void)st;
	(void)e;
	(void)n;
	return 0;
}

static int v_decode(void *st, const mtd_host_api *h, void *sink, const void *d, size_t l,
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

static void v_close(void *st)
{
	(void)st;
}

static mtd_plugin base(void)
{
	mtd_plugin p = {MTD_PLUGIN_ABI_VERSION,
			sizeof(mtd_plugin),
			"vendor_1",
			"Vendor One",
			MTD_PLUGIN_ANDROID | MTD_PLUGIN_WINDOWS,
			MTD_PLUGIN_ANDROID,
			MTD_PLUGIN_CAP_THREAT | MTD_PLUGIN_CAP_APP_PROTECTION,
			v_open,
			v_decode,
			v_close,
			NULL,
			NULL,
			NULL};
	return p;
}

static void valid(const mtd_plugin *p, const char *want_id)
{
	err_[0] = '\0';
	if (mtd_plugin_validate(p, want_id, err_, sizeof err_) != 0)
		fail_msg("a valid descriptor was refused: %s", err_);
}

static void invalid(const mtd_plugin *p, const char *want_id, const char *why)
{
	err_[0] = '\0';
	if (mtd_plugin_validate(p, want_id, err_, sizeof err_) != MTD_EPLUGIN)
		fail_msg("an invalid descriptor was accepted (expected: %s)", why);
	assert_contains(err_, why);
	assert_one_line(err_);
}

static void validate_rules(void **state)
{
	mtd_plugin p;
	char id32[33], id33[34], name64[65], name65[66];
	(void)state;

	p = base();
	valid(&p, NULL);
	valid(&p, "vendor_1");
	invalid(&p, "vendor_2", "does not match");

	/* versions */
	p = base();
	p.abi_version = (MTD_PLUGIN_ABI_MAJOR + 1) << 16;
	invalid(&p, NULL, "ABI 2.0");
	p.abi_version = 0;
	invalid(&p, NULL, "ABI 0.0");
	p.abi_version = (MTD_PLUGIN_ABI_MAJOR << 16) | (MTD_PLUGIN_ABI_MINOR + 1);
	invalid(&p, NULL, "newer");
	p.abi_version = MTD_PLUGIN_ABI_VERSION;
	/* sizes: at least up to close; appended fields are optional */
	p.struct_size = (uint32_t)offsetof(mtd_plugin, close);
	invalid(&p, NULL, "too small");
	p.struct_size = 8;
	invalid(&p, NULL, "too small");
	p.struct_size = (uint32_t)offsetof(mtd_plugin, appsync_translate);
	valid(&p, NULL);
	p.struct_size = (uint32_t)sizeof(mtd_plugin) + 64; /* a newer, longer struct */
	valid(&p, NULL);
	/* ABI 1.2: an api and its decoder, both or neither; a 1.1-sized
	 * descriptor has neither, whatever lies beyond its end */
	p = base();
	p.api = (const mtd_api *)&p;
	invalid(&p, NULL, "api without api_decode");
	p.api = NULL;
	p.api_decode = (void *)(uintptr_t)1;
	invalid(&p, NULL, "api_decode without api");
	p.struct_size = (uint32_t)offsetof(mtd_plugin, api);
	valid(&p, NULL);

	/* ids */
	memset(id32, 'a', 32);
	id32[32] = '\0';
	memset(id33, 'a', 33);
	id33[33] = '\0';
	p = base();
	p.id = id32;
	valid(&p, NULL);
	p.id = id33;
	invalid(&p, NULL, "id");
	p.id = "";
	invalid(&p, NULL, "id");
	p.id = NULL;
	invalid(&p, NULL, "id");
	p.id = "Vendor";
	invalid(&p, NULL, "id");
	p.id = "my-vendor";
	invalid(&p, NULL, "id");
	p.id = "../evil";
	invalid(&p, NULL, "id");
	p.id = "a b";
	invalid(&p, NULL, "id");
	p.id = "v_2_ok";
	valid(&p, NULL);

	/* names */
	memset(name64, 'n', 64);
	name64[64] = '\0';
	memset(name65, 'n', 65);
	name65[65] = '\0';
	p = base();
	p.name = name64;
	valid(&p, NULL);
	p.name = name65;
	invalid(&p, NULL, "name");
	p.name = "";
	invalid(&p, NULL, "name");
	p.name = NULL;
	invalid(&p, NULL, "name");

	/* platforms */
	p = base();
	p.platforms = 0;
	p.mam_platforms = 0;
	p.capabilities = MTD_PLUGIN_CAP_THREAT;
	invalid(&p, NULL, "platforms");
	p.platforms = MTD_PLUGIN_ANDROID | (1u << 4);
	invalid(&p, NULL, "platforms");
	p = base();
	p.mam_platforms = MTD_PLUGIN_ANDROID | MTD_PLUGIN_IOS; /* iOS not in platforms */
	invalid(&p, NULL, "platforms");

	/* capabilities */
	p = base();
	p.capabilities |= 1u << 7;
	invalid(&p, NULL, "capabilities");
	p = base();
	p.capabilities = MTD_PLUGIN_CAP_THREAT; /* mam_platforms without the capability */
	invalid(&p, NULL, "app protection");
	p.mam_platforms = 0;
	valid(&p, NULL);
	p.capabilities |= MTD_PLUGIN_CAP_APP_PROTECTION; /* the capability without platforms */
	invalid(&p, NULL, "app protection");
	p = base();
	p.capabilities |= MTD_PLUGIN_CAP_APPSYNC | MTD_PLUGIN_CAP_GOV_CLOUD;
	valid(&p, NULL);

	/* functions */
	p = base();
	p.open = NULL;
	invalid(&p, NULL, "open");
	p = base();
	p.decode = NULL;
	invalid(&p, NULL, "decode");
	p = base();
	p.close = NULL;
	invalid(&p, NULL, "close");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(good_plugin_loads),
		cmocka_unit_test(no_entry_symbol),
		cmocka_unit_test(entry_returns_null),
		cmocka_unit_test(abi_major_mismatch),
		cmocka_unit_test(abi_minor_newer),
		cmocka_unit_test(struct_too_small),
		cmocka_unit_test(id_with_capitals),
		cmocka_unit_test(id_mismatch),
		cmocka_unit_test(missing_decode),
		cmocka_unit_test(mam_not_subset),
		cmocka_unit_test_setup_teardown(not_elf, setup, teardown),
		cmocka_unit_test_setup_teardown(missing_path, setup, teardown),
		cmocka_unit_test(validate_rules),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
