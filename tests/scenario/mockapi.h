/* A local HTTPS server of ours that follows vendors' documented API flows
 * (issue 16 tests): Microsoft Defender for Endpoint (Entra client
 * credentials, /api/machines with @odata.nextLink) and Lookout (the
 * application key exchanged for a token, the Mobile Risk API v2 event
 * stream with Last-Event-ID). libmicrohttpd with TLS, a CA and a
 * certificate for 127.0.0.1 made at test time with openssl; it listens on
 * 127.0.0.1 on a port of the kernel's choosing, in the test's own process,
 * and stops with the test (mock_stop, or the process's end).
 *
 * Faults are injected by request number (the API requests the server has
 * answered, token requests included, counted from 1). */
#ifndef MTD_MOCKAPI_H
#define MTD_MOCKAPI_H

#include <stddef.h>

/* The vendors; Defender and Lookout live in mockapi.c, every other
 * vendor's flow in its own mock_VENDOR.c (a mock_flow below). */
enum {
	MOCK_DEFENDER,
	MOCK_LOOKOUT,
	MOCK_ZIMPERIUM, /* mock_zimperium.c */
	MOCK_CHECKPOINT, /* mock_checkpoint.c */
	MOCK_SOPHOS,    /* mock_sophos.c */
	MOCK_PRADEO, /* mock_pradeo.c */
	MOCK_WANDERA,   /* mock_wandera.c (Jamf) */
};

typedef struct mock_faults {
	int r429;         /* this request: 429 with Retry-After: 1 */
	int r500, n500;   /* from this request, n500 requests: 500 */
	int expire;       /* at this request: the current token is revoked (401) */
	int slow;         /* this request: no byte for 3 s (past an idle timeout of 1 s) */
	int trunc;        /* this request: the body cut short, the connection closed */
	int drop_after;   /* stream: the connection drops after this many pages */
	int replay_back;  /* stream: a resume starts this many pages before Last-Event-ID */
	int r400;         /* this request: 400, as for a scroll id or cursor that expired */
} mock_faults;

typedef struct mock mock;

/* Start a server for vendor with n events (Defender: machines) in pages of
 * per_page over ndev devices, accepting secret (and client_id, Defender).
 * Writes the CA's certificate to <dir>/ca.pem. NULL when it cannot start. */
mock *mock_start(const char *dir, int vendor, int n, int per_page, int ndev,
		 const char *client_id, const char *secret);
/* https://127.0.0.1:PORT */
const char *mock_url(const mock *m);
/* Faults for the requests to come (counting goes on). */
void mock_set_faults(mock *m, const mock_faults *f);
int mock_requests(const mock *m);
int mock_tokens(const mock *m); /* tokens issued */
void mock_stop(mock *m);
/* The Defender page that starts at machine skip, as the server sends it
 * (malloc'ed JSON text): for a benchmark's file of the same data. */
char *mock_defender_page(mock *m, int skip);

/* What the generator sends, for the tests' expectations. Defender machine
 * i (0..n-1): id "m-i", aadDeviceId "aad-i" (device "dev-i"), riskScore
 * None, Low, Medium, High by i % 4. Lookout event j: j < ndev a DEVICE
 * event for "dev-j" (guid "g-j", external_id "dev-j", SECURE); else a
 * THREAT event "e-j" opening threat "t-j" of severity LOW, MEDIUM, HIGH by
 * j % 3 on device guid "g-(j % ndev)". */
const char *mock_level_name(int vendor, int i); /* mtdgate's level of item i */

/* mock_defender.c: Defender Vulnerability Management's exports (the
 * vulnerability snapshot and delta, the secure configurations) for the
 * Defender server's machines m-0 .. m-(ndev-1), in pages of per_page rows.
 * Machine i has CVE-2024-(10000+i) in app-i 1.i.0, of severity
 * mock_defender_tvm_severity(i) (critical when i % 4 == 0), first seen
 * 2024-01-01, and a program without a CVE; its configuration scid-(2000 +
 * i % 3) does not apply (i % 3 == 0), fails with impact 9 (critical, 1) or
 * passes (2). mock_defender_tvm answers url (malloc'ed body, *status), or
 * NULL when url is not one of them. */
struct MHD_Connection;
char *mock_defender_tvm(const char *root, const char *url, struct MHD_Connection *c, int ndev,
			int per_page, int *status);
/* Rows in the exports (off: every export an empty page, as a tenant
 * without vulnerability management sees). Off at the start. Either way
 * the last sinceTime is forgotten. */
void mock_defender_tvm_rows(int on);
/* From now on the critical vulnerabilities (machines i % 4 == 0) are fixed:
 * gone from the snapshot, "Fixed" in the delta on 2024-03-05 06:00. */
void mock_defender_tvm_fix(int on);
const char *mock_defender_tvm_since(void); /* the last sinceTime asked with */
const char *mock_defender_tvm_severity(int i);

/* ---- for the vendor flows in their own files (mock_VENDOR.c) ----
 * The server counts the request, applies the faults (429, 500s, a token
 * revoked, then, for an answered call, a slow or truncated body) and asks
 * the vendor's flow: first auth (a token or login request), then, when
 * the request carries "Authorization: Bearer " and the valid token (or
 * flow->authorized says yes), api. */

/* A growing text buffer (malloc'ed, p NUL-terminated; the caller frees p). */
typedef struct mock_buf {
	char *p;
	size_t n, cap;
} mock_buf;
void mock_put(mock_buf *o, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

typedef struct mock_req {
	mock *m;
	void *conn;         /* the MHD connection, for mock_query/mock_header */
	const char *method; /* "GET", "POST" */
	const char *path;   /* the URL's path, without the query */
	const char *body;   /* the request body, "" when none */
} mock_req;

typedef struct mock_flow {
	/* A token or login request: its answer into o, return the HTTP status
	 * (mock_token_issue gives the token); 0: not one, the request goes on. */
	int (*auth)(const mock_req *r, mock_buf *o);
	/* Optional: whether an API call carries valid credentials (NULL: the
	 * bearer token the server issued last). */
	int (*authorized)(const mock_req *r);
	/* An authorized API call: the JSON body into o, return the HTTP status;
	 * 0: no such resource (404). Called with the server's lock held. */
	int (*api)(const mock_req *r, mock_buf *o);
} mock_flow;

extern const mock_flow mock_zimperium_flow;
extern const mock_flow mock_checkpoint_flow;
extern const mock_flow mock_sophos_flow;
extern const mock_flow mock_pradeo_flow;
extern const mock_flow mock_wandera_flow;
/* mock_pradeo.c: on, some devices sync again with another level and one
 * with an undocumented one (see there). */
void mock_pradeo_change(int on);

/* What a flow reads of the request and the server. Strings are borrowed
 * (the request's or the server's), NULL when absent. */
const char *mock_query(const mock_req *r, const char *name);  /* URL-decoded */
const char *mock_header(const mock_req *r, const char *name);
/* name's value in a form body (URL-decoded into v); 0 when absent */
int mock_form(const char *body, const char *name, char *v, size_t n);
/* A new token made valid (the old one no longer is): "tok-N" into t. */
void mock_token_issue(mock *m, char *t, size_t n);
/* Whether tok is the valid token. */
int mock_token_ok(const mock *m, const char *tok);
int mock_n(const mock *m);
int mock_per_page(const mock *m);
int mock_ndev(const mock *m);
const char *mock_client_id(const mock *m);
const char *mock_secret(const mock *m);

#endif
