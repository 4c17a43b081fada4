/* The Jamf Security Cloud Risk API flow of the test server (mockapi.h), as
 * vendors/wandera/wandera.c documents it with its sources: POST /v1/login
 * with HTTP Basic (application id : secret) answering {"token"}; GET
 * /risk/v2/devices?page=N&pageSize=M, pages from 0 (the server's own page
 * size the smaller), an empty userDeviceList past the end.
 *
 * The generated data, for the tests' expectations: device i (0..ndev-1)
 * is guid "jamf-i" with the UEM id (externalId) "dev-i", iOS for even i,
 * Android for odd, riskCategory SECURE, LOW, MEDIUM, HIGH by i % 4. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mockapi.h"

static const char *const risk[] = {"SECURE", "LOW", "MEDIUM", "HIGH"};

/* "Basic " + base64(id ":" secret), as RFC 7617 writes it */
static void basic(const mock *m, char *out, size_t n)
{
	static const char b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	char in[600];
	size_t k = (size_t)snprintf(in, sizeof in, "%s:%s", mock_client_id(m), mock_secret(m));
	size_t o = (size_t)snprintf(out, n, "Basic ");
	for (size_t i = 0; i < k && o + 5 < n; i += 3) {
		unsigned v = (unsigned)(unsigned char)in[i] << 16 |
			     (i + 1 < k ? (unsigned)(unsigned char)in[i + 1] << 8 : 0) |
			     (i + 2 < k ? (unsigned char)in[i + 2] : 0);
		out[o++] = b64[v >> 18 & 63];
		out[o++] = b64[v >> 12 & 63];
		out[o++] = i + 1 < k ? b64[v >> 6 & 63] : '=';
		out[o++] = i + 2 < k ? b64[v & 63] : '=';
	}
	out[o] = '\0';
}

static int w_auth(const mock_req *r, mock_buf *o)
{
	char want[900], tok[32];
	const char *a = mock_header(r, "Authorization");
	if (strcmp(r->path, "/v1/login"))
		return 0;
	basic(r->m, want, sizeof want);
	if (strcmp(r->method, "POST") || !a || strcmp(a, want)) {
		mock_put(o, "{\"logref\":\"l-1\",\"message\":\"Bad credentials\",\"error\":"
			    "\"UNAUTHORIZED\",\"statusCode\":401}");
		return 401;
	}
	mock_token_issue(r->m, tok, sizeof tok);
	mock_put(o, "{\"token\":\"%s\"}", tok);
	return 200;
}

static int w_api(const mock_req *r, mock_buf *o)
{
	const char *pg = mock_query(r, "page"), *ps = mock_query(r, "pageSize");
	int per = mock_per_page(r->m), nd = mock_ndev(r->m), page, from, end;
	if (strcmp(r->method, "GET") || strcmp(r->path, "/risk/v2/devices"))
		return 0;
	if (!pg || !ps || atoi(pg) < 0 || atoi(ps) < 1 || atoi(ps) > 100) {
		mock_put(o, "{\"message\":\"page and pageSize (1..100) required\",\"statusCode\":400}");
		return 400;
	}
	if (atoi(ps) < per)
		per = atoi(ps);
	page = atoi(pg);
	from = page * per < nd ? page * per : nd;
	end = from + per < nd ? from + per : nd;
	mock_put(o, "{\"userDeviceList\":[");
	for (int i = from; i < end; i++)
		mock_put(o, "%s{\"guid\":\"jamf-%d\",\"externalId\":\"dev-%d\",\"user\":{\"name\":"
			 "\"User %d\",\"email\":\"user%d@example.com\"},\"info\":{\"device\":"
			 "{\"deviceName\":\"Phone %d\",\"deviceSystemVersion\":\"17.4\",\"osType\":"
			 "\"%s\",\"platform\":\"%s\"},\"app\":{\"name\":\"Jamf Trust\",\"version\":"
			 "\"8.1\"}},\"riskCategory\":\"%s\",\"lastUpdated\":\"2024-03-01T01:00:00Z\"}",
			 i > from ? "," : "", i, i, i, i, i, i % 2 ? "ANDROID" : "IOS",
			 i % 2 ? "Android" : "iPhone", risk[i % 4]);
	mock_put(o, "]}");
	return 200;
}

const mock_flow mock_wandera_flow = {.auth = w_auth, .api = w_api};
