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

enum { MOCK_DEFENDER, MOCK_LOOKOUT };

typedef struct mock_faults {
	int r429;         /* this request: 429 with Retry-After: 1 */
	int r500, n500;   /* from this request, n500 requests: 500 */
	int expire;       /* at this request: the current token is revoked (401) */
	int slow;         /* this request: no byte for 3 s (past an idle timeout of 1 s) */
	int trunc;        /* this request: the body cut short, the connection closed */
	int drop_after;   /* stream: the connection drops after this many pages */
	int replay_back;  /* stream: a resume starts this many pages before Last-Event-ID */
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

#endif
