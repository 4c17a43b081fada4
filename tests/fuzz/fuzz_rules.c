/* fuzz_rules: rules loading. The input is the content of groups.lua in a
 * scratch rules directory that also holds the default policy.lua (or, when
 * the input has a line "--@@ policy.lua", what follows that line is
 * policy.lua instead). mtd_rules_open runs with small limits (8 MiB,
 * 100,000 instructions); when it opens, every fixed device below is
 * evaluated once, the first one twice (the second from the policy cache);
 * the first has an app inventory for policies that ask for it.
 * Errors are expected; a crash, an abort, a hang or a result outside the
 * API's ranges is a finding. */
#include <msgpack.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "mtdgate/mtdgate.h"
#include "mtdgate/sdk.h"
#include "rules.h"

#ifndef MTD_FUZZ_RULES_DIR
#error "MTD_FUZZ_RULES_DIR (the default rules) must be defined"
#endif

#define POLICY_MARK "--@@ policy.lua\n"

static char *default_policy;
static size_t default_policy_len;
static msgpack_sbuffer threats;

static void init(void)
{
	FILE *f = fopen(MTD_FUZZ_RULES_DIR "/policy.lua", "rb");
	msgpack_packer pk;
	long n;

	if (!f || fseek(f, 0, SEEK_END) || (n = ftell(f)) < 0 || fseek(f, 0, SEEK_SET) ||
	    !(default_policy = malloc((size_t)n + 1)) ||
	    fread(default_policy, 1, (size_t)n, f) != (size_t)n) {
		fprintf(stderr, "fuzz_rules: cannot read %s/policy.lua\n", MTD_FUZZ_RULES_DIR);
		exit(2);
	}
	fclose(f);
	default_policy_len = (size_t)n;
	/* [{"id":"t1","category":"app","name":"trojan","level":"high"}] */
	msgpack_sbuffer_init(&threats);
	msgpack_packer_init(&pk, &threats, msgpack_sbuffer_write);
	msgpack_pack_array(&pk, 1);
	msgpack_pack_map(&pk, 4);
	msgpack_pack_str_with_body(&pk, "id", 2);
	msgpack_pack_str_with_body(&pk, "t1", 2);
	msgpack_pack_str_with_body(&pk, "category", 8);
	msgpack_pack_str_with_body(&pk, "app", 3);
	msgpack_pack_str_with_body(&pk, "name", 4);
	msgpack_pack_str_with_body(&pk, "trojan", 6);
	msgpack_pack_str_with_body(&pk, "level", 5);
	msgpack_pack_str_with_body(&pk, "high", 4);
}

static void check_err(const char *err, size_t n)
{
	FUZZ_CHECK(memchr(err, '\0', n) != NULL);
	FUZZ_CHECK(err[0] != '\0');
}

static void eval(mtd_rules *r, const mtd_eval_in *in)
{
	mtd_eval_out out;
	char err[1024];
	int rc;

	err[0] = '\0';
	rc = mtd_rules_eval(r, in, &out, err, sizeof err);
	if (getenv("MTD_FUZZ_VERBOSE"))
		fprintf(stderr, "fuzz_rules: eval %s: %s\n", in->id,
			rc ? err : mtd_state_name(out.state));
	FUZZ_CHECK(rc == 0 || rc == MTD_ERULES || rc == MTD_ENOMEM);
	if (rc) {
		check_err(err, sizeof err);
		return;
	}
	FUZZ_CHECK(out.state >= MTD_ST_COMPLIANT && out.state <= MTD_ST_NOT_EVALUATED);
	FUZZ_CHECK(out.level >= MTD_LEVEL_NONE && out.level <= MTD_LEVEL_HIGH);
	FUZZ_CHECK(out.app_action >= MTD_APP_NONE && out.app_action <= MTD_APP_WIPE);
	FUZZ_CHECK(out.nreasons <= MTD_MAX_REASONS);
	for (size_t i = 0; i < out.nreasons; i++)
		FUZZ_CHECK(out.reasons[i] != NULL && strlen(out.reasons[i]) < (64u << 20));
	FUZZ_CHECK(out.nresources <= sizeof out.resources / sizeof *out.resources);
	for (size_t i = 0; i < out.nresources; i++)
		FUZZ_CHECK(out.resources[i] != NULL && strlen(out.resources[i]) < (64u << 20));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *const groups1[] = {"Executives", "Sales", "default"};
	const mtd_vreport vendors[] = {
		{.vendor = "defender", .os_supported = -1, .block_missing_data = 1},
		{.vendor = "lookout", .level = MTD_LEVEL_HIGH, .at = 1795000000, .os_supported = 0,
		 .threats = threats.data, .threats_len = threats.size, .block_unsupported_os = 1},
	};
	const mtd_app_view apps[] = {
		{.app_id = "com.example.tool", .version = "0.9", .short_version = "0.9",
		 .name = "Tool", .bundle_size = 42, .dynamic_size = -1, .adhoc_signed = 1,
		 .app_store = 0, .beta = -1, .vpp = -1, .validated = 0, .managed = 1},
		{.app_id = "net.whatsapp.WhatsApp", .bundle_size = -1, .dynamic_size = -1,
		 .adhoc_signed = -1, .app_store = -1, .beta = -1, .vpp = -1, .validated = -1,
		 .managed = -1},
	};
	const mtd_eval_in dev1 = {.id = "dev-1", .os_version = "17.5", .user = "ann@contoso.example",
				  .platform = 1, .corporate = 1, .enrolled = 1, .groupset = 1,
				  .groups = groups1, .ngroups = 3, .vendors = vendors, .nvendors = 2,
				  .app_vendors = vendors, .napp_vendors = 2, .apps = apps,
				  .napps = 2, .prev_state = MTD_ST_GRACE,
				  .prev_since = 1795000000 - 7200};
	const mtd_eval_in dev2 = {.id = "dev-2", .platform = 0, .groupset = 2,
				  .app_vendors = vendors + 1, .napp_vendors = 1, .prev_state = -1};
	const mtd_rules_limits lim = {8u << 20, 100000, 0, 0};
	const char *dir = fuzz_tmpdir();
	const uint8_t *mark = NULL;
	mtd_rules *r = NULL;
	char err[1024];
	int rc;

	if (!default_policy)
		init();
	for (size_t i = 0; i + sizeof POLICY_MARK - 1 <= size; i++)
		if ((i == 0 || data[i - 1] == '\n') &&
		    !memcmp(data + i, POLICY_MARK, sizeof POLICY_MARK - 1)) {
			mark = data + i;
			break;
		}
	if (mark) {
		size_t g = (size_t)(mark - data), p = g + sizeof POLICY_MARK - 1;
		fuzz_write_file(dir, "groups.lua", data, g);
		fuzz_write_file(dir, "policy.lua", data + p, size - p);
	} else {
		fuzz_write_file(dir, "groups.lua", data, size);
		fuzz_write_file(dir, "policy.lua", default_policy, default_policy_len);
	}
	err[0] = '\0';
	rc = mtd_rules_open(dir, &lim, "commercial", 1795000000, &r, err, sizeof err);
	if (getenv("MTD_FUZZ_VERBOSE"))
		fprintf(stderr, "fuzz_rules: open: %s\n", rc ? err : "ok");
	FUZZ_CHECK(rc == 0 || rc == MTD_ERULES || rc == MTD_ENOMEM);
	if (rc) {
		FUZZ_CHECK(r == NULL);
		if (rc == MTD_ERULES)
			check_err(err, sizeof err);
		return 0;
	}
	FUZZ_CHECK(r != NULL);
	(void)mtd_rules_wants_inventory(r);
	eval(r, &dev1);
	eval(r, &dev2);
	eval(r, &dev1);
	mtd_rules_close(r);
	return 0;
}
