/* The Sophos Central flow of the test server (mockapi.h), as
 * vendors/sophos/sophos.c documents it with its sources: an OAuth2 token
 * (form grant_type=client_credentials, client_id, client_secret,
 * scope=token) at /api/v2/oauth2/token; GET /whoami/v1 answering the
 * tenant id and its data region, which is this server under another name
 * (https://localhost:PORT, the whoami and token host being 127.0.0.1:PORT);
 * GET /siem/v1/events on the data region only, with "X-Tenant-ID", pages of
 * {"items", "has_more", "next_cursor"} asked with limit and cursor.
 *
 * The generated data, for the tests' expectations: event j (0..n-1) is
 * "ev-j", a threat detected on the mobile endpoint "sophos-(j % ndev)",
 * threat "Andr/Gen-j", severity low, medium, high by j % 3, at
 * 2024-03-01T01:00:00Z + j seconds. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mockapi.h"

#define TENANT "3c1f2b7e-1111-4a2b-9c3d-5e6f7a8b9c0d"

static const char *const sev[] = {"low", "medium", "high"};

static const char *port(const mock *m)
{
	const char *u = mock_url(m);
	return strrchr(u, ':') + 1;
}

static int s_auth(const mock_req *r, mock_buf *o)
{
	char v[300], tok[32];
	if (strcmp(r->path, "/api/v2/oauth2/token"))
		return 0;
	if (strcmp(r->method, "POST") || !mock_form(r->body, "grant_type", v, sizeof v) ||
	    strcmp(v, "client_credentials") || !mock_form(r->body, "client_id", v, sizeof v) ||
	    strcmp(v, mock_client_id(r->m)) || !mock_form(r->body, "client_secret", v, sizeof v) ||
	    strcmp(v, mock_secret(r->m)) || !mock_form(r->body, "scope", v, sizeof v) ||
	    strcmp(v, "token")) {
		mock_put(o, "{\"errorCode\":\"oauth.invalid_client_secret\",\"message\":\"Invalid "
			    "client secret\"}");
		return 401;
	}
	mock_token_issue(r->m, tok, sizeof tok);
	mock_put(o, "{\"access_token\":\"%s\",\"errorCode\":\"success\",\"expires_in\":3600,"
		    "\"message\":\"OK\",\"refresh_token\":\"r-%s\",\"token_type\":\"bearer\","
		    "\"trackingId\":\"trk-1\"}", tok, tok);
	return 200;
}

/* whoami on the global host, the events on the data region's */
static int host_is(const mock_req *r, const char *name)
{
	const char *h = mock_header(r, "Host");
	char want[64];
	snprintf(want, sizeof want, "%s:%s", name, port(r->m));
	return h && !strcmp(h, want);
}

static void event(const mock *m, int j, mock_buf *o)
{
	int d = j % mock_ndev(m);
	mock_put(o, "{\"when\":\"2024-03-01T%02d:%02d:%02d.000Z\",\"id\":\"ev-%d\","
		 "\"customer_id\":\"" TENANT "\",\"severity\":\"%s\",\"created_at\":"
		 "\"2024-03-01T%02d:%02d:%02d.100Z\",\"source_info\":{\"ip\":\"10.0.0.%d\"},"
		 "\"endpoint_type\":\"mobile\",\"endpoint_id\":\"sophos-%d\",\"origin\":\"SMC\","
		 "\"type\":\"Event::Endpoint::Threat::Detected\",\"location\":\"Phone %d\","
		 "\"source\":\"User %d\",\"group\":\"MALWARE\",\"name\":\"Malware detected: "
		 "'Andr/Gen-%d' at 'com.example.app%d'\",\"threat\":\"Andr/Gen-%d\"}",
		 1 + j / 3600, j / 60 % 60, j % 60, j, sev[j % 3], 1 + j / 3600, j / 60 % 60, j % 60,
		 d % 250, d, d, d, j, j, j);
}

static int events(const mock_req *r, mock_buf *o)
{
	const char *lim = mock_query(r, "limit"), *cur = mock_query(r, "cursor");
	const char *tid = mock_header(r, "X-Tenant-ID");
	int per = mock_per_page(r->m), n = mock_n(r->m), from = 0, end;
	if (!tid || strcmp(tid, TENANT)) {
		mock_put(o, "{\"error\":\"badRequest\",\"message\":\"X-Tenant-ID\"}");
		return 400;
	}
	if (!lim || atoi(lim) < 1) {
		mock_put(o, "{\"error\":\"badRequest\",\"message\":\"limit\"}");
		return 400;
	}
	if (atoi(lim) < per)
		per = atoi(lim);
	if (cur && (sscanf(cur, "Y3Vy%d", &from) != 1 || from < 0 || from > n)) {
		mock_put(o, "{\"error\":\"badRequest\",\"message\":\"cursor\"}");
		return 400;
	}
	end = from + per < n ? from + per : n;
	mock_put(o, "{\"has_more\":%s,\"items\":[", end < n ? "true" : "false");
	for (int j = from; j < end; j++) {
		if (j > from)
			mock_put(o, ",");
		event(r->m, j, o);
	}
	mock_put(o, "],\"next_cursor\":\"Y3Vy%d\"}", end);
	return 200;
}

static int s_api(const mock_req *r, mock_buf *o)
{
	if (strcmp(r->method, "GET"))
		return 0;
	if (!strcmp(r->path, "/whoami/v1") && host_is(r, "127.0.0.1")) {
		mock_put(o, "{\"id\":\"" TENANT "\",\"idType\":\"tenant\",\"apiHosts\":{\"global\":"
			    "\"https://127.0.0.1:%s\",\"dataRegion\":\"https://localhost:%s\"}}",
			 port(r->m), port(r->m));
		return 200;
	}
	if (!strcmp(r->path, "/siem/v1/events") && host_is(r, "localhost"))
		return events(r, o);
	return 0;
}

const mock_flow mock_sophos_flow = {.auth = s_auth, .api = s_api};
