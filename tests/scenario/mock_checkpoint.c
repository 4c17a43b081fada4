/* The Check Point Harmony Mobile flow of the test server (mockapi.h), as
 * vendors/checkpoint/checkpoint.c documents it with its sources: an
 * Infinity Portal API key exchanged at POST /auth/external with the JSON
 * body {"clientId", "accessKey"} for {"success": true, "data": {"token",
 * "csrf", "expires", "expiresIn"}}; alerts at GET
 * /app/SBM/external_api/v3/alert/ asked with backend_last_updated__gte (an
 * ISO 8601 time, inclusive), limit and offset, answered {"meta": {"limit",
 * "next", "previous", "offset", "total_count"}, "objects": [...]}, meta.next
 * a path under /app/SBM as Sekoia's connector reads it, null on the last
 * page; the server's own page size the smaller.
 *
 * The generated data, for the tests' expectations: alert j (0..n-1) has id
 * j + 1, is on device j % ndev (Harmony device_id 7000 + d, an integer;
 * mdm_uuid "dev-d"; Android for odd d, an iPhone for even d), was updated
 * at 2024-03-01T01:00:00Z + j seconds (backend_last_updated in ISO 8601
 * with an offset, event_timestamp as "MM/DD/YYYY hh:mm:ss"), and detects a
 * threat of its own ("Factor-j") of severity Warning, Critical, "Low risk"
 * by j % 3 (medium, high, low). */
#define _GNU_SOURCE /* timegm */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "mockapi.h"

#define T0 1709254800LL /* 2024-03-01T01:00:00Z */
#define ALERTS "/app/SBM/external_api/v3/alert/"

static const char *const sev[] = {"Warning", "Critical", "Low risk"};

static int cp_auth(const mock_req *r, mock_buf *o)
{
	char want[600], tok[32];
	if (strcmp(r->path, "/auth/external"))
		return 0;
	snprintf(want, sizeof want, "{\"clientId\":\"%s\",\"accessKey\":\"%s\"}",
		 mock_client_id(r->m), mock_secret(r->m));
	if (strcmp(r->method, "POST") || strcmp(r->body, want) ||
	    !mock_header(r, "Content-Type") ||
	    strcmp(mock_header(r, "Content-Type"), "application/json")) {
		mock_put(o, "{\"success\":false,\"message\":\"Authentication required\"}");
		return 401;
	}
	mock_token_issue(r->m, tok, sizeof tok);
	mock_put(o, "{\"success\":true,\"data\":{\"token\":\"%s\",\"csrf\":\"csrf-%s\","
		 "\"tenantId\":\"t-1\",\"expires\":\"2099-01-01T00:00:00.000Z\",\"expiresIn\":1800}}",
		 tok, tok);
	return 200;
}

static void alert(const mock *m, int j, mock_buf *o)
{
	int d = j % mock_ndev(m);
	time_t t = (time_t)(T0 + j);
	struct tm tm;
	char iso[40], us[40];
	gmtime_r(&t, &tm);
	strftime(iso, sizeof iso, "%Y-%m-%dT%H:%M:%S+00:00", &tm);
	strftime(us, sizeof us, "%m/%d/%Y %H:%M:%S", &tm);
	mock_put(o, "{\"id\":%d,\"device_id\":%d,\"mdm_uuid\":\"dev-%d\",\"name\":\"phone %d\","
		 "\"number\":\"\",\"email\":\"user%d@example.com\",\"device_model\":\"%s\","
		 "\"os_version\":\"%s\",\"client_version\":\"4.8.1\",\"device_rooted\":\"False\","
		 "\"attack_vector\":\"Application\",\"threat_factors\":\"Factor-%d\","
		 "\"event\":\"Detected\",\"details\":\"a malicious app\",\"severity\":\"%s\","
		 "\"event_timestamp\":\"%s\",\"backend_last_updated\":\"%s\"}",
		 j + 1, 7000 + d, d, d, d, d % 2 ? "Android" : "Apple / iPhone 15 Pro",
		 d % 2 ? "14" : "17.4", j, sev[j % 3], us, iso);
}

/* "2024-03-01T01:00:05Z" (any fraction, "Z" or "+00:00") as Unix seconds;
 * -1 when it is not such a time */
static long long iso_s(const char *s)
{
	struct tm tm = {0};
	int k = 0;
	if (sscanf(s, "%4d-%2d-%2dT%2d:%2d:%2d%n", &tm.tm_year, &tm.tm_mon, &tm.tm_mday,
		   &tm.tm_hour, &tm.tm_min, &tm.tm_sec, &k) != 6)
		return -1;
	s += k;
	if (*s == '.')
		s += 1 + strspn(s + 1, "0123456789");
	if (strcmp(s, "Z") && strcmp(s, "+00:00"))
		return -1;
	tm.tm_year -= 1900;
	tm.tm_mon -= 1;
	return (long long)timegm(&tm);
}

static int alerts(const mock_req *r, mock_buf *o)
{
	const char *gte = mock_query(r, "backend_last_updated__gte");
	const char *lim = mock_query(r, "limit"), *off = mock_query(r, "offset");
	int per = mock_per_page(r->m), n = mock_n(r->m), from = 0, skip, end, total;
	long long t = 0;
	if (!lim || atoi(lim) < 1 || (gte && (t = iso_s(gte)) < 0)) {
		mock_put(o, "{\"error\":\"bad request\"}");
		return 400;
	}
	if (atoi(lim) < per)
		per = atoi(lim);
	while (gte && from < n && T0 + from < t)
		from++;
	skip = off ? atoi(off) : 0;
	total = n - from;
	from += skip;
	end = from + per < n ? from + per : n;
	mock_put(o, "{\"meta\":{\"limit\":%d,\"next\":", per);
	if (end < n)
		mock_put(o, "\"/external_api/v3/alert/?backend_last_updated__gte=%s&limit=%d&offset=%d\"",
			 gte ? gte : "", per, skip + per);
	else
		mock_put(o, "null");
	mock_put(o, ",\"previous\":null,\"offset\":%d,\"total_count\":%d},\"objects\":[", skip,
		 total);
	for (int j = from; j < end; j++) {
		if (j > from)
			mock_put(o, ",");
		alert(r->m, j, o);
	}
	mock_put(o, "]}");
	return 200;
}

static int cp_api(const mock_req *r, mock_buf *o)
{
	if (strcmp(r->method, "GET") || strcmp(r->path, ALERTS))
		return 0;
	return alerts(r, o);
}

const mock_flow mock_checkpoint_flow = {.auth = cp_auth, .api = cp_api};
