/* Defender Vulnerability Management's exports on the test server
 * (mockapi.h): the documented flows of
 * MicrosoftDocs/defender-docs:defender-endpoint/api/
 * get-assessment-software-vulnerabilities.md (the snapshot and the delta
 * with sinceTime) and get-assessment-secure-config.md, OData pages followed
 * by @odata.nextLink. Our own rows in the documented layout: every machine
 * id "m-i" has one vulnerable program and one program without a CVE, and
 * one secure configuration row. */
#define _GNU_SOURCE
#include <microhttpd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mockapi.h"

static const char *const sev[] = {"Critical", "Low", "Medium", "High"};

static struct {
	int rows;        /* rows are sent (else every export is empty) */
	int fixed;       /* the critical vulnerabilities were fixed */
	char since[128]; /* the last sinceTime asked with */
} tvm;

void mock_defender_tvm_rows(int on)
{
	tvm.rows = on;
	tvm.since[0] = '\0';
}

void mock_defender_tvm_fix(int on)
{
	tvm.fixed = on;
}

const char *mock_defender_tvm_since(void)
{
	return tvm.since;
}

const char *mock_defender_tvm_severity(int i)
{
	static const char *const low[] = {"critical", "low", "medium", "high"};
	return low[i % 4];
}

/* Row r of an export (delta: only the fixed rows), or 0 when r is past it. */
static int vuln_row(mock_buf *o, int ndev, int r, int delta)
{
	int i, cve;
	if (delta) { /* the fixed ones: devices 0, 4, 8, ... */
		i = r * 4;
		if (!tvm.fixed || i >= ndev)
			return 0;
		cve = 1;
	} else {
		int n = 0;
		/* two rows per device: its CVE (gone once fixed), its plain program */
		for (i = 0; i < ndev; i++) {
			int rows = tvm.fixed && i % 4 == 0 ? 1 : 2;
			if (r < n + rows)
				break;
			n += rows;
		}
		if (i >= ndev)
			return 0;
		cve = r - n == 0 && !(tvm.fixed && i % 4 == 0);
	}
	if (cve)
		mock_put(o, "{\"id\":\"m-%d_app-%d_1.%d.0_CVE-2024-%d_\",\"deviceId\":\"m-%d\",\"rbacGroupName\":"
		    "\"Unassigned\",\"deviceName\":\"pc-%d.corp.example\",\"osPlatform\":\"Windows11\","
		    "\"osVersion\":\"10.0.22631\",\"osArchitecture\":\"x64\",\"softwareVendor\":\"contoso\","
		    "\"softwareName\":\"app-%d\",\"softwareVersion\":\"1.%d.0\",\"cveId\":\"CVE-2024-%d\","
		    "\"cvssScore\":9.8,\"vulnerabilitySeverityLevel\":\"%s\",\"recommendedSecurityUpdate\":"
		    "null,\"recommendedSecurityUpdateId\":null,\"recommendedSecurityUpdateUrl\":null,"
		    "\"diskPaths\":[\"C:\\\\Program Files\\\\app\\\\app.exe\"],\"registryPaths\":[],"
		    "\"lastSeenTimestamp\":\"2024-03-01 00:00:00\",\"firstSeenTimestamp\":"
		    "\"2024-01-01 00:00:00.1234567\",\"exploitabilityLevel\":\"ExploitIsPublic\","
		    "\"recommendationReference\":\"va-_-contoso-_-app-%d\",\"securityUpdateAvailable\":true%s}",
		    i, i, i, 10000 + i, i, i, i, i, 10000 + i, sev[i % 4], i,
		    delta ? ",\"isOnboarded\":true,\"status\":\"Fixed\",\"eventTimestamp\":"
			    "\"2024-03-05 06:00:00.0000000\""
			  : "");
	else
		mock_put(o, "{\"id\":\"m-%d_edge_120.0.0.0__\",\"deviceId\":\"m-%d\",\"rbacGroupName\":"
		    "\"Unassigned\",\"deviceName\":null,\"osPlatform\":\"Windows11\",\"softwareVendor\":"
		    "\"microsoft\",\"softwareName\":\"edge\",\"softwareVersion\":\"120.0.0.0\",\"cveId\":null,"
		    "\"vulnerabilitySeverityLevel\":null,\"diskPaths\":[],\"registryPaths\":[],"
		    "\"lastSeenTimestamp\":\"2024-03-01 00:00:00\",\"firstSeenTimestamp\":"
		    "\"2024-01-01 00:00:00\",\"exploitabilityLevel\":\"NoExploit\","
		    "\"recommendationReference\":\"va-_-microsoft-_-edge\",\"securityUpdateAvailable\":false}",
		    i, i);
	return 1;
}

/* Secure configuration row i: device i, not applicable when i % 3 == 0,
 * failed (impact 9) when 1, compliant (impact 5) when 2. */
static int config_row(mock_buf *o, int ndev, int i)
{
	if (i >= ndev)
		return 0;
	mock_put(o, "{\"deviceId\":\"m-%d\",\"rbacGroupName\":\"Unassigned\",\"deviceName\":null,"
	    "\"osPlatform\":\"Windows11\",\"osVersion\":\"10.0\",\"timestamp\":"
	    "\"2024-03-01 06:00:00.854\",\"configurationId\":\"scid-%d\",\"configurationCategory\":"
	    "\"Security controls\",\"configurationSubcategory\":\"Antivirus\",\"configurationImpact\":%s,"
	    "\"isCompliant\":%s,\"isApplicable\":%s,\"isExpectedUserImpact\":false,"
	    "\"configurationName\":\"Turn on real-time protection\",\"recommendationReference\":"
	    "\"sca-_-scid-%d\"}",
	    i, 2000 + i % 3, i % 3 == 1 ? "9" : "\"5\"", i % 3 == 1 ? "false" : "true",
	    i % 3 ? "true" : "false", 2000 + i % 3);
	return 1;
}

char *mock_defender_tvm(const char *root, const char *url, struct MHD_Connection *c, int ndev,
			int per_page, int *status)
{
	const char *tok = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "$skiptoken");
	const char *since = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "sinceTime");
	int skip = tok ? atoi(tok) : 0, kind, more = 0, k = 0;
	if (!tvm.rows)
		ndev = 0;
	mock_buf o = {0};

	if (!strcmp(url, "/api/machines/SoftwareVulnerabilitiesByMachine"))
		kind = 0;
	else if (!strcmp(url, "/api/machines/SoftwareVulnerabilityChangesByMachine"))
		kind = 1;
	else if (!strcmp(url, "/api/machines/SecureConfigurationsAssessmentByMachine"))
		kind = 2;
	else
		return NULL;
	*status = 200;
	if (kind == 1 && !tok) { /* documented as required */
		if (!since || !*since) {
			*status = 400;
			mock_put(&o, "{\"error\":{\"code\":\"BadRequest\",\"message\":\"sinceTime is required\"}}");
			return o.p;
		}
		snprintf(tvm.since, sizeof tvm.since, "%s", since);
	}
	mock_put(&o, "{\"@odata.context\":\"%s/api/$metadata#Collection(microsoft.windowsDefenderATP.api."
	    "%s)\",\"value\":[",
	    root, kind == 2 ? "AssetConfiguration" : kind ? "DeltaAssetVulnerability" : "AssetVulnerability");
	for (k = 0; k < per_page; k++) {
		size_t before = o.n;
		if (k)
			mock_put(&o, ",");
		if (!(kind == 2 ? config_row(&o, ndev, skip + k) : vuln_row(&o, ndev, skip + k, kind))) {
			o.n = before;
			o.p[o.n] = '\0';
			break;
		}
	}
	if (k == per_page) { /* more when the next row exists */
		mock_buf t = {0};
		more = kind == 2 ? config_row(&t, ndev, skip + k) : vuln_row(&t, ndev, skip + k, kind);
		free(t.p);
	}
	mock_put(&o, "]");
	if (more)
		mock_put(&o, ",\"@odata.nextLink\":\"%s%s?pageSize=%d%s%s&$skiptoken=%d\"", root, url, per_page,
		    kind == 1 ? "&sinceTime=" : "", kind == 1 ? tvm.since : "", skip + k);
	mock_put(&o, "}");
	return o.p;
}
