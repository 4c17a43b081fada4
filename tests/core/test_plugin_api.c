/* Unit tests of plugin ABI 1.2: a plugin's vendor API description crossing
 * the process boundary (core/plugin_api, plugin_child), api_decode in the
 * sandboxed child and in-process, and the SDK's helpers for it. */
#include "testutil.h"

#include "mtdgate/mtdgate.h"
#include "mtdgate/sdk.h"
#include "plugin_api.h"
#include "plugin_child.h"

#ifndef MTD_TEST_VENDOR_DIR
#error "MTD_TEST_VENDOR_DIR must name the directory of the vendor plugins"
#endif

static char err_[1024];

/* What a decode handed the host. */
typedef struct got {
	int msgs, elems;
	char ids[8][130];
	int nids;
	char names[8][32], values[8][128];
	int nvalues;
} got;

static int g_emit(void *ud, const void *data, size_t len)
{
	(void)data, (void)len;
	((got *)ud)->msgs++;
	return 0;
}

static int g_elem(void *ud, const char *path, const char *msg)
{
	(void)path, (void)msg;
	((got *)ud)->elems++;
	return 0;
}

static int g_value(void *ud, const char *name, const char *value)
{
	got *g = ud;
	if (g->nvalues < 8) {
		snprintf(g->names[g->nvalues], sizeof g->names[0], "%s", name);
		snprintf(g->values[g->nvalues], sizeof g->values[0], "%s", value);
		g->nvalues++;
	}
	return 0;
}

static int g_event(void *ud, const char *id)
{
	got *g = ud;
	if (g->nids < 8)
		snprintf(g->ids[g->nids++], sizeof g->ids[0], "%s", id);
	return 0;
}

static const char *value_of(const got *g, const char *name)
{
	for (int i = 0; i < g->nvalues; i++)
		if (!strcmp(g->names[i], name))
			return g->values[i];
	return NULL;
}

#define TOKEN_OK "{\"access_token\":\"tok-SECRET-1\",\"token_type\":\"Bearer\",\"expires_at\":1692308926918,\"expires_in\":7039}"
#define PAGE                                                                                      \
	"{\"events\":[{\"id\":\"ev-1\",\"created_time\":\"2024-03-01T00:00:00+00:00\","            \
	"\"type\":\"DEVICE\",\"change_type\":\"UPDATED\",\"device\":{\"guid\":\"g-1\","                \
	"\"platform\":\"IOS\",\"status\":{\"security_status\":\"THREATS_HIGH\"}}},"                   \
	"{\"id\":\"ev-2\",\"created_time\":\"2024-03-01T00:01:00+00:00\",\"type\":\"THREAT\","        \
	"\"change_type\":\"CREATED\",\"threat\":{\"guid\":\"t-1\",\"status\":\"OPEN\","               \
	"\"severity\":\"HIGH\",\"type\":\"APPLICATION\",\"classifications\":[\"TROJAN\"]},"           \
	"\"actor\":{\"guid\":\"g-1\",\"type\":\"DEVICE\"}}]}"

/* Lookout's description and decodes, in a sandboxed child (flags
 * MTD_CHILD_ISOLATE) and in-process (0): the same answers. */
static void lookout_api(unsigned flags)
{
	char path[600];
	mtd_child *c = NULL;
	mtd_plugin_desc d;
	mtd_api_desc a;
	got g = {0};
	mtd_child_sink sink = {.emit = g_emit, .element_error = g_elem, .api_value = g_value,
			       .event_id = g_event, .ud = &g};

	snprintf(path, sizeof path, "%s/lookout.so", MTD_TEST_VENDOR_DIR);
	if (mtd_child_start(path, "lookout", flags, &c, &d, err_, sizeof err_))
		fail_msg("lookout did not start: %s", err_);
	assert_true(d.fns & MTD_DESC_API);
	if (mtd_child_api(c, &a, err_, sizeof err_))
		fail_msg("no api description: %s", err_);
	assert_string_equal(a.base_url, "https://api.lookout.com");
	assert_int_equal(a.auth, MTD_API_AUTH_KEY_TOKEN);
	assert_string_equal(a.token_url, "/oauth2/token");
	assert_int_equal(a.nep, 1);
	assert_string_equal(a.ep[0].name, "events");
	assert_int_equal(a.ep[0].paging, MTD_API_PAGE_SSE);
	assert_string_equal(a.ep[0].sse_event, "events");
	assert_ptr_equal(mtd_api_find_ep(&a, "events"), &a.ep[0]);
	assert_null(mtd_api_find_ep(&a, "nothing"));
	mtd_api_free(&a);

	/* a token response: the token and its lifetime */
	assert_int_equal(mtd_child_api_decode(c, MTD_API_DECODE_TOKEN, 0, TOKEN_OK,
					      strlen(TOKEN_OK), &sink, err_, sizeof err_), 0);
	assert_string_equal(value_of(&g, "token"), "tok-SECRET-1");
	assert_string_equal(value_of(&g, "expires_in"), "7039");
	assert_int_equal(g.msgs, 0);
	/* one without a token: malformed, and the message quotes nothing of it */
	memset(&g, 0, sizeof g);
	assert_int_equal(mtd_child_api_decode(c, MTD_API_DECODE_TOKEN, 0,
					      "{\"token\":\"tok-SECRET-2\"}", 24, &sink, err_,
					      sizeof err_), MTD_PLUGIN_EMALFORMED);
	assert_contains(err_, "access_token");
	assert_not_contains(err_, "SECRET");
	assert_int_equal(g.nvalues, 0);

	/* a page: its messages, each after its event id */
	memset(&g, 0, sizeof g);
	assert_int_equal(mtd_child_api_decode(c, MTD_API_DECODE_PAGE, 0, PAGE, strlen(PAGE), &sink,
					      err_, sizeof err_), 0);
	assert_int_equal(g.msgs, 2);
	assert_int_equal(g.nids, 2);
	assert_string_equal(g.ids[0], "ev-1");
	assert_string_equal(g.ids[1], "ev-2");
	assert_int_equal(g.elems, 0);
	mtd_child_stop(c);
}

static void lookout_api_isolated(void **state)
{
	(void)state;
	lookout_api(MTD_CHILD_ISOLATE);
}

static void lookout_api_in_process(void **state)
{
	(void)state;
	lookout_api(0);
}

/* A plugin without an api: not found, and it says how data comes in. */
static void no_api(void **state)
{
	char path[600];
	mtd_child *c = NULL;
	mtd_plugin_desc d;
	mtd_api_desc a;
	(void)state;
	snprintf(path, sizeof path, "%s/symantec.so", MTD_TEST_VENDOR_DIR);
	if (mtd_child_start(path, "symantec", MTD_CHILD_ISOLATE, &c, &d, err_, sizeof err_))
		fail_msg("symantec did not start: %s", err_);
	assert_false(d.fns & MTD_DESC_API);
	assert_int_equal(mtd_child_api(c, &a, err_, sizeof err_), MTD_ENOTFOUND);
	assert_contains(err_, "push or file ingest");
	mtd_child_stop(c);
}

/* Descriptions the host refuses, each with the reason. */
static int read_back(const mtd_api *api, mtd_api_desc *d)
{
	mtd_buf b = {0};
	int rc;
	assert_int_equal(mtd_api_flatten(api, &b), 0);
	rc = mtd_api_read(b.data, b.len, d, err_, sizeof err_);
	mtd_buf_free(&b);
	return rc;
}

static void refused(const mtd_api *api, const char *why)
{
	mtd_api_desc d;
	err_[0] = '\0';
	if (read_back(api, &d) != MTD_EPLUGIN)
		fail_msg("accepted a description that is wrong: expected '%s'", why);
	assert_contains(err_, why);
	assert_one_line(err_);
	mtd_api_free(&d);
}

static void descriptions(void **state)
{
	static const char *const region[] = {"region", NULL};
	mtd_api_endpoint ep[17];
	mtd_api a = {.struct_size = sizeof(mtd_api), .endpoint_size = sizeof(mtd_api_endpoint),
		     .base_url = "https://{region}.api.example.com", .auth = MTD_API_AUTH_OAUTH2,
		     .token_url = "https://login.example.com/token", .scope = "read",
		     .endpoints = ep, .nendpoints = 2, .settings = region};
	mtd_api_desc d;
	(void)state;
	memset(ep, 0, sizeof ep);
	for (int i = 0; i < 17; i++) {
		static char names[17][8];
		snprintf(names[i], sizeof names[i], "ep%d", i);
		ep[i].name = names[i];
		ep[i].path = "/v1/things";
		ep[i].paging = MTD_API_PAGE_LINK;
	}
	ep[1].paging = MTD_API_PAGE_CURSOR;
	ep[1].resume_param = "cursor";
	ep[1].start = "0";
	assert_int_equal(read_back(&a, &d), 0);
	assert_int_equal(d.nsettings, 1);
	assert_string_equal(d.settings[0], "region");
	assert_string_equal(d.ep[1].resume_param, "cursor");
	assert_string_equal(d.ep[1].start, "0");
	assert_string_equal(d.scope, "read");
	mtd_api_free(&d);

	/* discovery: kept; a plugin whose mtd_api ends before it has none */
	a.whoami_url = "https://api.example.com/whoami/v1";
	assert_int_equal(read_back(&a, &d), 0);
	assert_string_equal(d.whoami_url, "https://api.example.com/whoami/v1");
	mtd_api_free(&d);
	a.struct_size = (uint32_t)offsetof(mtd_api, whoami_url);
	assert_int_equal(read_back(&a, &d), 0);
	assert_null(d.whoami_url);
	mtd_api_free(&d);
	a.struct_size = sizeof(mtd_api);
	a.whoami_url = "http://api.example.com/whoami/v1";
	refused(&a, "whoami_url");
	a.whoami_url = NULL;

	a.settings = NULL; /* {region} names no declared setting */
	refused(&a, "base_url");
	a.settings = region;
	a.base_url = "http://api.example.com";
	refused(&a, "base_url");
	a.base_url = "https://api.example.com";
	a.token_url = NULL;
	refused(&a, "token_url");
	a.auth = MTD_API_AUTH_LOGIN;
	a.token_url = "/login";
	refused(&a, "id_field");
	a.auth = MTD_API_AUTH_BASIC_TOKEN + 1;
	refused(&a, "unknown auth");
	a.auth = MTD_API_AUTH_KEY;
	ep[1].resume_param = NULL;
	refused(&a, "resume_param");
	ep[1].resume_param = "cursor";
	ep[1].path = "v1/no-slash";
	refused(&a, "path");
	ep[1].path = "/v1";
	ep[1].name = "ep0";
	refused(&a, "unique");
	ep[1].name = "ep1";
	ep[1].paging = MTD_API_PAGE_NUMBER + 1;
	refused(&a, "paging");
	ep[1].paging = MTD_API_PAGE_OFFSET; /* numbered items: needs the offset's parameter */
	ep[1].resume_param = NULL;
	refused(&a, "resume_param");
	ep[1].resume_param = "skip";
	assert_int_equal(read_back(&a, &d), 0);
	assert_int_equal(d.ep[1].paging, MTD_API_PAGE_OFFSET);
	mtd_api_free(&d);
	/* a second key in a header of its own: a static key's only, a header name */
	a.id_header = "x-access-key";
	a.key_header = "x-secret-key";
	assert_int_equal(read_back(&a, &d), 0);
	assert_string_equal(d.id_header, "x-access-key");
	mtd_api_free(&d);
	a.id_header = "x-access-key: injected";
	refused(&a, "id_header");
	a.id_header = "x-access-key";
	a.key_header = "bad\rheader";
	refused(&a, "control characters");
	a.key_header = "x secret";
	refused(&a, "key_header");
	a.key_header = NULL;
	a.auth = MTD_API_AUTH_OAUTH2;
	a.token_url = "/token";
	refused(&a, "id_header only with a static key");
	a.auth = MTD_API_AUTH_KEY;
	a.id_header = NULL;
	ep[1].paging = MTD_API_PAGE_NONE;
	a.nendpoints = 17;
	refused(&a, "more than 16");
	a.nendpoints = 0;
	refused(&a, "no endpoints");
	a.nendpoints = 1;
	a.struct_size = 8;
	refused(&a, "too small");
	a.struct_size = sizeof(mtd_api);
	a.base_url = "https://api.example.com/\x01";
	refused(&a, "control characters");
}

/* The SDK's helpers with a 1.2 host, and with one older than 1.2. */
static int h_emit(void *s, const void *d, size_t n)
{
	(void)s, (void)d, (void)n;
	return 0;
}

static int h_value(void *s, const char *name, const char *value)
{
	return g_value(s, name, value);
}

static int h_event(void *s, const char *id)
{
	return g_event(s, id);
}

static void sdk_helpers(void **state)
{
	mtd_host_api h = {MTD_PLUGIN_ABI_VERSION, sizeof(mtd_host_api), h_emit, NULL, NULL,
			  h_value, h_event};
	mtd_host_api old = h;
	got g = {0};
	json_t *page = json_pack("{s:s, s:n, s:i}", "@odata.nextLink",
				 "https://api.example.com/next?$skip=2", "empty", "bad", 3);
	(void)state;

	const char *tok = "{\"a\":{\"t\":\"x\",\"exp\":\"2030-01-01T00:00:00Z\"}}";
	assert_int_equal(mtd_sdk_api_token(&h, &g, tok, strlen(tok), "a.t", NULL, "a.exp", err_,
					   sizeof err_), 0);
	assert_string_equal(value_of(&g, "token"), "x");
	assert_string_equal(value_of(&g, "expires_at"), "1893456000");
	assert_int_equal(mtd_sdk_api_link(&h, &g, page, "@odata.nextLink", MTD_API_V_NEXT, err_,
					  sizeof err_), 0);
	assert_string_equal(value_of(&g, "next"), "https://api.example.com/next?$skip=2");
	g.nvalues = 0;
	assert_int_equal(mtd_sdk_api_link(&h, &g, page, "empty", MTD_API_V_NEXT, err_, sizeof err_),
			 0);
	assert_int_equal(mtd_sdk_api_link(&h, &g, page, "missing", MTD_API_V_NEXT, err_,
					  sizeof err_), 0);
	assert_int_equal(g.nvalues, 0); /* nothing given: the last page */
	assert_int_equal(mtd_sdk_api_link(&h, &g, page, "bad", MTD_API_V_NEXT, err_, sizeof err_),
			 -1);
	assert_contains(err_, "'bad'");
	assert_int_equal(mtd_sdk_event_id(&h, &g, "e-7"), 0);
	assert_int_equal(mtd_sdk_event_id(&h, &g, ""), -1);
	assert_int_equal(g.nids, 1);
	/* a discovery answer: the root and the tenant's header */
	{
		const char *who = "{\"id\":\"t-1\",\"idType\":\"tenant\",\"apiHosts\":"
				  "{\"dataRegion\":\"https://api-eu01.example.com\"}}";
		g.nvalues = 0;
		assert_int_equal(mtd_sdk_api_whoami(&h, &g, who, strlen(who), "apiHosts.dataRegion",
						    "X-Tenant-ID", "id", err_, sizeof err_),
				 0);
		assert_string_equal(value_of(&g, MTD_API_V_API_URL), "https://api-eu01.example.com");
		assert_string_equal(value_of(&g, MTD_API_V_HEADER_NAME), "X-Tenant-ID");
		assert_string_equal(value_of(&g, MTD_API_V_HEADER_VALUE), "t-1");
		assert_int_equal(mtd_sdk_api_whoami(&h, &g, who, strlen(who), "apiHosts.global",
						    NULL, NULL, err_, sizeof err_),
				 MTD_PLUGIN_EMALFORMED);
		assert_contains(err_, "'apiHosts.global'");
		assert_int_equal(mtd_sdk_api_whoami(&h, &g, who, strlen(who), "apiHosts.dataRegion",
						    "X-Tenant-ID", "tenant", err_, sizeof err_),
				 MTD_PLUGIN_EMALFORMED);
		assert_contains(err_, "'tenant'");
	}
	/* a 1.1 host: its table ends before api_value */
	old.struct_size = (uint32_t)offsetof(mtd_host_api, api_value);
	assert_int_equal(mtd_sdk_api_value(&old, &g, MTD_API_V_NEXT, "x"), -1);
	assert_int_equal(mtd_sdk_event_id(&old, &g, "e-8"), -1);
	assert_int_equal(g.nids, 1);
	json_decref(page);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(lookout_api_isolated),
		cmocka_unit_test(lookout_api_in_process),
		cmocka_unit_test(no_api),
		cmocka_unit_test(descriptions),
		cmocka_unit_test(sdk_helpers),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
