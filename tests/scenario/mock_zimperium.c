/* The Zimperium zConsole v2 API flow of the test server (mockapi.h), as
 * vendors/zimperium/zimperium.c documents it with its sources: a login with
 * {"clientId", "secret"} giving accessToken and refreshToken; devices by
 * start-scroll then scroll/{scrollId} until a page has no content; threats as
 * Spring pages asked with module=ZIPS, size, sort=timestamp,asc and after (an
 * ISO-8601 time, inclusive here), the server's own page size the smaller.
 *
 * The generated data, for the tests' expectations: device i (0..ndev-1) is
 * zdeviceId "z-i", MDM id "dev-i", iOS for even i, Android for odd; threat
 * j (0..n-1) is "zt-j" on device j % ndev, at 2024-03-01T01:00:00Z + j
 * seconds, severity LOW, ELEVATED, CRITICAL by j % 3, open; only even j name
 * the MDM id (the others only the zdeviceId, as real threats often do). A
 * device's riskPosture is the worst severity of its threats, NORMAL when it
 * has none. */
#define _GNU_SOURCE /* timegm */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "mockapi.h"

#define T0 1709254800000LL /* 2024-03-01T01:00:00Z, ms */
#define SCROLL "/api/devices/public/v2/devices/scroll/"

static const char *const sev[] = {"LOW", "ELEVATED", "CRITICAL"};

static int z_auth(const mock_req *r, mock_buf *o)
{
	char want[600], tok[32];
	if (strcmp(r->path, "/api/auth/v1/api_keys/login"))
		return 0;
	/* the body exactly as the host writes it: JSON, clientId then secret */
	snprintf(want, sizeof want, "{\"clientId\":\"%s\",\"secret\":\"%s\"}",
		 mock_client_id(r->m), mock_secret(r->m));
	if (strcmp(r->method, "POST") || strcmp(r->body, want) ||
	    !mock_header(r, "Content-Type") ||
	    strcmp(mock_header(r, "Content-Type"), "application/json")) {
		mock_put(o, "{\"message\":\"Invalid credentials\"}");
		return 401;
	}
	mock_token_issue(r->m, tok, sizeof tok);
	mock_put(o, "{\"accessToken\":\"%s\",\"refreshToken\":\"r-%s\"}", tok, tok);
	return 200;
}

/* the worst severity of device d's threats, -1: none */
static int worst(const mock *m, int d)
{
	int w = -1;
	for (int j = d; j < mock_n(m); j += mock_ndev(m))
		if (j % 3 > w)
			w = j % 3;
	return w;
}

static void device(const mock *m, int i, mock_buf *o)
{
	int w = worst(m, i);
	mock_put(o, "{\"id\":\"zid-%d\",\"riskPosture\":%d,\"riskPostureName\":\"%s\","
		 "\"lastSeen\":%lld,\"os\":{\"name\":\"%s\",\"version\":\"17.4\"},"
		 "\"deviceOwner\":{\"email\":\"user%d@example.com\"},\"zdeviceId\":\"z-%d\","
		 "\"mdmDeviceId\":\"dev-%d\",\"deleted\":false,\"appStatus\":\"ACTIVE\"}",
		 i, w + 1, w < 0 ? "NORMAL" : sev[w], T0 - 1800000, i % 2 ? "android" : "ios", i, i,
		 i);
}

/* a page of devices from skip on, its scroll id naming where the next starts */
static int devices(const mock_req *r, int skip, mock_buf *o)
{
	const char *ps = mock_query(r, "pageSize");
	int per = ps && atoi(ps) > 0 && atoi(ps) < mock_per_page(r->m) ? atoi(ps)
									: mock_per_page(r->m);
	int nd = mock_ndev(r->m), end = skip + per < nd ? skip + per : nd;
	/* an opaque id with characters a path must escape */
	mock_put(o, "{\"totalHits\":%d,\"totalHitsRelation\":\"EQUAL_TO\",\"scrollId\":\"c2M+%d==\","
		 "\"content\":[", nd, end);
	for (int i = skip; i < end; i++) {
		if (i > skip)
			mock_put(o, ",");
		device(r->m, i, o);
	}
	mock_put(o, "]}");
	return 200;
}

static void threat(const mock *m, int j, mock_buf *o)
{
	int d = j % mock_ndev(m);
	char mdm[32] = "";
	if (j % 2 == 0)
		snprintf(mdm, sizeof mdm, "dev-%d", d);
	mock_put(o, "{\"id\":\"zt-%d\",\"deviceId\":\"zid-%d\",\"device\":{\"id\":\"zid-%d\","
		 "\"mdmDeviceId\":\"%s\",\"os\":{\"name\":\"%s\",\"version\":\"17.4\"},"
		 "\"zdeviceId\":\"z-%d\"},\"timestamp\":%lld,\"threatTypeName\":\"UNKNOWN SOURCES ON\","
		 "\"severity\":%d,\"severityName\":\"%s\",\"vector\":2,\"vectorName\":\"Device\","
		 "\"state\":1,\"mitigationEvents\":[],\"simulated\":false,"
		 "\"deviceOwner\":\"user%d@example.com\"}",
		 j, d, d, mdm, d % 2 ? "ANDROID" : "IOS", d,
		 T0 + (long long)j * 1000, j % 3 + 1, sev[j % 3], d);
}

/* "2024-03-01T01:00:05.999000Z" as ms; -1 when it is not such a time */
static long long iso_ms(const char *s)
{
	struct tm tm = {0};
	int us = 0, k = 0;
	if (sscanf(s, "%4d-%2d-%2dT%2d:%2d:%2d.%6dZ%n", &tm.tm_year, &tm.tm_mon, &tm.tm_mday,
		   &tm.tm_hour, &tm.tm_min, &tm.tm_sec, &us, &k) != 7 || s[k])
		return -1;
	tm.tm_year -= 1900;
	tm.tm_mon -= 1;
	return (long long)timegm(&tm) * 1000 + us / 1000;
}

static int threats(const mock_req *r, mock_buf *o)
{
	const char *after = mock_query(r, "after"), *size = mock_query(r, "size");
	const char *sort = mock_query(r, "sort"), *module = mock_query(r, "module");
	int per = mock_per_page(r->m), n = mock_n(r->m), from = 0, end;
	if (!module || strcmp(module, "ZIPS") || !sort || strcmp(sort, "timestamp,asc") || !size ||
	    atoi(size) < 1) {
		mock_put(o, "{\"message\":\"bad request\"}");
		return 400;
	}
	if (atoi(size) < per)
		per = atoi(size);
	if (after) {
		long long t = iso_ms(after);
		if (t < 0) {
			mock_put(o, "{\"message\":\"after: not a date\"}");
			return 400;
		}
		while (from < n && T0 + (long long)from * 1000 < t)
			from++;
	}
	end = from + per < n ? from + per : n;
	mock_put(o, "{\"content\":[");
	for (int j = from; j < end; j++) {
		if (j > from)
			mock_put(o, ",");
		threat(r->m, j, o);
	}
	mock_put(o, "],\"pageable\":{\"pageSize\":%d,\"pageNumber\":0,\"offset\":0,\"paged\":true},"
		 "\"totalPages\":%d,\"totalElements\":%d,\"last\":%s,\"first\":true,"
		 "\"numberOfElements\":%d,\"size\":%d,\"number\":0,\"empty\":%s}",
		 per, (n - from + per - 1) / per, n - from, end >= n ? "true" : "false", end - from,
		 per, end > from ? "false" : "true");
	return 200;
}

static int z_api(const mock_req *r, mock_buf *o)
{
	if (strcmp(r->method, "GET"))
		return 0;
	if (!strcmp(r->path, "/api/devices/public/v2/devices/start-scroll"))
		return devices(r, 0, o);
	if (!strncmp(r->path, SCROLL, strlen(SCROLL))) {
		int skip, k = 0;
		/* MHD gives the path unescaped: "c2M+N==" */
		if (sscanf(r->path + strlen(SCROLL), "c2M+%d==%n", &skip, &k) != 1 ||
		    r->path[strlen(SCROLL) + (size_t)k] || skip < 0) {
			mock_put(o, "{\"message\":\"unknown scroll\"}");
			return 404;
		}
		return devices(r, skip, o);
	}
	if (!strcmp(r->path, "/api/threats/public/v1/threats"))
		return threats(r, o);
	return 0;
}

const mock_flow mock_zimperium_flow = {.auth = z_auth, .api = z_api};
