/* The Pradeo Security API v2 flow of the test server (mockapi.h), as
 * vendors/pradeo/pradeo.c documents it with its sources: no token, every
 * request carries x-access-key (the connector's client_id) and
 * x-secret-key (the secret); GET /v2/devices?take=T&skip=S answers
 * {"total", "items": [...]} with at most T (and the server's own page
 * size) devices from S on.
 *
 * The generated data, for the tests' expectations: device d (0..ndev-1)
 * has Pradeo id "pd-d", serialNumber "SN-d" (the store's devices carry
 * it: pulltest.c), platform ios for even d, android for odd, riskLevel
 * low, medium, high by d % 3, lastSyncAt 2024-03-01T01:00:00Z + d s. After
 * mock_pradeo_change(1), devices d % 4 == 0 synced again an hour later
 * with riskLevel high, and the last device reports riskLevel "critical"
 * (a value the API documents nowhere). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "mockapi.h"

#define T0 1709254800LL /* 2024-03-01T01:00:00Z */

static int changed;

void mock_pradeo_change(int on)
{
	changed = on;
}

static const char *const risk[] = {"low", "medium", "high"};

static int pd_auth(const mock_req *r, mock_buf *o)
{
	(void)r, (void)o;
	return 0; /* no token requests: every call carries both keys */
}

static int pd_authorized(const mock_req *r)
{
	const char *ak = mock_header(r, "x-access-key"), *sk = mock_header(r, "x-secret-key");
	return ak && sk && !strcmp(ak, mock_client_id(r->m)) && !strcmp(sk, mock_secret(r->m)) &&
	       !mock_header(r, "Authorization");
}

static void device(const mock *m, int d, mock_buf *o)
{
	int again = changed && d % 4 == 0, odd = changed && d == mock_ndev(m) - 1;
	time_t t = (time_t)(T0 + d + (again ? 3600 : 0) + (odd ? 7200 : 0));
	struct tm tm;
	char iso[40];
	gmtime_r(&t, &tm);
	strftime(iso, sizeof iso, "%Y-%m-%dT%H:%M:%SZ", &tm);
	mock_put(o, "{\"id\":\"pd-%d\",\"name\":\"phone %d\",\"deviceGroupId\":\"g-1\","
		 "\"platform\":\"%s\",\"osVersion\":\"17.2\",\"manufacturer\":\"Apple\","
		 "\"model\":\"iPhone 14\",\"serialNumber\":\"SN-%d\",\"imei\":\"35%013d\","
		 "\"agentVersion\":\"3.2.1\",\"agentStatus\":\"online\",\"lastSyncAt\":\"%s\","
		 "\"enrolledAt\":\"2024-01-01T09:00:00Z\",\"riskLevel\":\"%s\","
		 "\"securityStatus\":\"secured\",\"tags\":[],\"customFields\":{}}",
		 d, d, d % 2 ? "android" : "ios", d, d, iso,
		 odd ? "critical" : again ? "high" : risk[d % 3]);
}

static int pd_api(const mock_req *r, mock_buf *o)
{
	const char *take = mock_query(r, "take"), *skip = mock_query(r, "skip");
	int per = mock_per_page(r->m), n = mock_ndev(r->m), from, end;
	if (strcmp(r->method, "GET") || strcmp(r->path, "/v2/devices"))
		return 0;
	if (!take || atoi(take) < 1 || atoi(take) > 500 || (skip && atoi(skip) < 0)) {
		mock_put(o, "{\"statusCode\":400,\"message\":\"take must be 1..500\"}");
		return 400;
	}
	if (atoi(take) < per)
		per = atoi(take);
	from = skip ? atoi(skip) : 0;
	end = from + per < n ? from + per : n;
	mock_put(o, "{\"total\":%d,\"items\":[", n);
	for (int d = from; d < end; d++) {
		if (d > from)
			mock_put(o, ",");
		device(r->m, d, o);
	}
	mock_put(o, "]}");
	return 200;
}

const mock_flow mock_pradeo_flow = {.auth = pd_auth, .authorized = pd_authorized, .api = pd_api};
