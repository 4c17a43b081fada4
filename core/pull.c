/* pull: connectors that fetch (issue 16). The vendor's plugin describes its
 * API (plugin ABI 1.2) and decodes what comes back in its sandboxed child;
 * every request is made here, with libcurl: TLS verified against the system
 * CAs or the connector's ca_file, proxies from the environment, connect and
 * idle timeouts, Retry-After on 429 and 503, exponential backoff with jitter
 * on 5xx and transport errors, one token refresh on 401, bounded responses.
 * Each page is applied with its resume point in one transaction (feed.h).
 *
 * The secret (the content of secret_file) is read at pull time from a file
 * only the running user may read, held while the pull needs it with the
 * process non-dumpable, wiped (explicit_bzero) after; it is never stored,
 * printed, logged or put into a message. */
#define _GNU_SOURCE /* explicit_bzero */
#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "connector.h"
#include "feed.h"
#include "mtd_int.h"
#include "mtdgate/wire.h"
#include "plugin_api.h"
#include "pull.h"
#include "store_ingest.h"

#define MAX_BODY (32u << 20)   /* bytes of one response */
#define MAX_SECRET 8192        /* bytes of a secret file */
#define MAX_ATTEMPTS 6         /* tries of one request (429, 5xx, transport) */
#define MAX_PAGES 1000000      /* pages of one endpoint in one pull */
#define MAX_WAIT_MS 300000     /* the longest Retry-After honoured */

/* Settings of a connector that fetches, besides the plugin's own. */
static const char *const base_keys[] = {"api_url",     "token_url", "whoami_url",   "client_id",
					"secret_file", "ca_file",   "poll_seconds", NULL};

typedef struct pull {
	mtd_t *h;
	const char *vendor;
	mtd_feed *feed;
	mtd_api_desc api;
	mtd_pull_stats *ps;
	char root[1100];     /* the API root, no trailing '/' */
	char token_url[1100];
	char whoami_url[1100]; /* the whoami_url setting, or "" */
	char client_id[300], secret_file[1100], ca_file[1100];
	char extra[MTD_API_MAX_SETTINGS][300]; /* the plugin's settings, by api.settings */
	char *secret;        /* held while needed, wiped */
	size_t nsecret;
	char *token;         /* the access token, wiped */
	long long token_until; /* monotonic ms */
	int was_dumpable;
	int root_set;        /* the root is the connector's api_url setting */
	char disc_header[700]; /* discovery's header line for every API request, or "" */
	int once;
	int fatal;           /* a store failure inside a stream callback */
	char err[1024];
} pull;

static long long mono_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* mtd_pull_stop was called on the pull's handle. */
static int stopped(const pull *p)
{
	return atomic_load_explicit(&p->h->pull_stop, memory_order_relaxed);
}

/* Wait ms, in slices of 100 ms that end early once the pull is stopped. */
static void sleep_ms(const pull *p, long long ms)
{
	while (ms > 0 && !stopped(p)) {
		long long k = ms < 100 ? ms : 100;
		struct timespec ts = {0, (long)k * 1000000};
		while (nanosleep(&ts, &ts) && errno == EINTR)
			;
		ms -= k;
	}
}

static long env_num(const char *name, long def, long lo, long hi)
{
	const char *e = getenv(name);
	long v = e && *e ? strtol(e, NULL, 10) : def;
	return v < lo ? lo : v > hi ? hi : v;
}

/* ---- the secret ---- */

int mtd_pull_secret_file_ok(const char *path, char *err, size_t n)
{
	struct stat sb;
	int fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0) {
		mtd_err(err, n, "secret_file %s: %s%s", path, strerror(errno),
			errno == ELOOP ? " (a symbolic link is not followed)" : "");
		return errno == ENOENT ? MTD_ENOTFOUND : MTD_EREFUSED;
	}
	if (fstat(fd, &sb)) {
		mtd_err(err, n, "secret_file %s: %s", path, strerror(errno));
		close(fd);
		return MTD_EIO;
	}
	close(fd);
	if (!S_ISREG(sb.st_mode)) {
		mtd_err(err, n, "secret_file %s: not a regular file", path);
		return MTD_EREFUSED;
	}
	if (sb.st_uid != geteuid()) {
		mtd_err(err, n, "secret_file %s: owned by uid %u, not by the user running mtdgate "
			"(uid %u)", path, (unsigned)sb.st_uid, (unsigned)geteuid());
		return MTD_EREFUSED;
	}
	if (sb.st_mode & 077) {
		mtd_err(err, n, "secret_file %s: mode %04o lets %s read or write it; make it "
			"readable by its owner only (chmod 600)", path, (unsigned)(sb.st_mode & 07777),
			(sb.st_mode & 070) && (sb.st_mode & 07) ? "group and others"
			: (sb.st_mode & 070) ? "the group" : "others");
		return MTD_EREFUSED;
	}
	if (sb.st_size <= 0 || sb.st_size > MAX_SECRET) {
		mtd_err(err, n, "secret_file %s: %s", path,
			sb.st_size <= 0 ? "empty" : "larger than 8 KiB");
		return MTD_EREFUSED;
	}
	return 0;
}

static void secret_drop(pull *p)
{
	if (p->secret) {
		explicit_bzero(p->secret, p->nsecret);
		free(p->secret);
		p->secret = NULL;
		p->nsecret = 0;
	}
	if (p->token) {
		explicit_bzero(p->token, strlen(p->token));
		free(p->token);
		p->token = NULL;
	}
	if (p->was_dumpable > 0) {
		prctl(PR_SET_DUMPABLE, 1, 0, 0, 0);
		p->was_dumpable = 0;
	}
}

/* Read the secret: the file checked again (it may have changed since it
 * was set), the process non-dumpable from before the first byte is read. */
static int secret_read(pull *p)
{
	char why[1300];
	int rc, fd;
	ssize_t k;
	size_t len = 0;

	if (p->secret)
		return 0;
	if (!p->secret_file[0])
		return mtd_fail(p->h, MTD_EREFUSED, "%s: no secret_file set (connector set %s "
				"secret_file=PATH)", p->vendor, p->vendor);
	if ((rc = mtd_pull_secret_file_ok(p->secret_file, why, sizeof why)))
		return mtd_fail(p->h, rc == MTD_ENOTFOUND ? MTD_EREFUSED : rc, "%s: %s", p->vendor,
				why);
	if (!p->was_dumpable) {
		p->was_dumpable = prctl(PR_GET_DUMPABLE, 0, 0, 0, 0) > 0 ? 1 : -1;
		prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
	}
	if (!(p->secret = malloc(MAX_SECRET + 1)))
		return mtd_fail(p->h, MTD_ENOMEM, "out of memory");
	p->nsecret = MAX_SECRET + 1;
	if ((fd = open(p->secret_file, O_RDONLY | O_NOFOLLOW | O_CLOEXEC)) < 0)
		return mtd_fail(p->h, MTD_EIO, "%s: secret_file %s: %s", p->vendor, p->secret_file,
				strerror(errno));
	while (len < MAX_SECRET && (k = read(fd, p->secret + len, MAX_SECRET - len)) != 0) {
		if (k < 0 && errno == EINTR)
			continue;
		if (k < 0) {
			close(fd);
			return mtd_fail(p->h, MTD_EIO, "%s: secret_file %s: %s", p->vendor,
					p->secret_file, strerror(errno));
		}
		len += (size_t)k;
	}
	close(fd);
	while (len && (p->secret[len - 1] == '\n' || p->secret[len - 1] == '\r' ||
		       p->secret[len - 1] == ' '))
		len--;
	p->secret[len] = '\0';
	if (!len || memchr(p->secret, '\n', len) || strlen(p->secret) != len)
		return mtd_fail(p->h, MTD_EREFUSED, "%s: secret_file %s: not one line of text",
				p->vendor, p->secret_file);
	return 0;
}

/* ---- HTTP ---- */

typedef struct resp {
	mtd_buf body;
	long status;
	long long retry_after_ms; /* -1: none */
	int too_large;
	/* streaming: each chunk to on_data instead of body (returns 0 to stop) */
	size_t (*on_data)(void *ud, const char *p, size_t n);
	void *ud;
	int stream;      /* a transport error is the caller's to retry (it resumes) */
	CURL *c;         /* the exchange under way */
} resp;

static size_t w_body(char *ptr, size_t size, size_t nm, void *ud)
{
	resp *r = ud;
	size_t n = size * nm;
	if (r->on_data) { /* only a success's body is the stream */
		long status = 0;
		curl_easy_getinfo(r->c, CURLINFO_RESPONSE_CODE, &status);
		if (status >= 200 && status < 300)
			return r->on_data(r->ud, ptr, n);
	}
	if (r->body.len + n > MAX_BODY) {
		r->too_large = 1;
		return 0;
	}
	return mtd_buf_put(&r->body, ptr, n) ? 0 : n;
}

static size_t w_header(char *ptr, size_t size, size_t nm, void *ud)
{
	resp *r = ud;
	size_t n = size * nm;
	if (n > 12 && !strncasecmp(ptr, "retry-after:", 12)) {
		char v[128];
		size_t k = n - 12 < sizeof v - 1 ? n - 12 : sizeof v - 1;
		char *s = v, *e;
		long long secs;
		memcpy(v, ptr + 12, k);
		v[k] = '\0';
		while (*s == ' ' || *s == '\t')
			s++;
		for (e = s + strlen(s); e > s && (e[-1] == '\r' || e[-1] == '\n' || e[-1] == ' ');)
			*--e = '\0';
		secs = strtoll(s, &e, 10);
		if (e != s && !*e && secs >= 0)
			r->retry_after_ms = secs * 1000;
		else {
			time_t t = curl_getdate(s, NULL);
			if (t > 0)
				r->retry_after_ms = (t - time(NULL)) * 1000LL;
		}
		if (r->retry_after_ms > MAX_WAIT_MS)
			r->retry_after_ms = MAX_WAIT_MS;
		if (r->retry_after_ms < -1)
			r->retry_after_ms = 0;
	}
	return n;
}

/* The URL without its query, for messages (a cursor may be long). */
static void url_text(const char *url, char *out, size_t n)
{
	size_t k = strcspn(url, "?");
	snprintf(out, n, "%.*s", (int)(k > 300 ? 300 : k), url);
}

static void wipe_list(struct curl_slist *l)
{
	for (struct curl_slist *i = l; i; i = i->next)
		explicit_bzero(i->data, strlen(i->data));
	curl_slist_free_all(l);
}

/* libcurl's progress callback: a nonzero return ends the transfer. */
static int on_progress(void *ud, curl_off_t dt, curl_off_t dn, curl_off_t ut, curl_off_t un)
{
	(void)dt, (void)dn, (void)ut, (void)un;
	return stopped(ud);
}

/* One HTTP exchange. Returns CURLE_OK or the transport error; r->status. */
static CURLcode http_once(pull *p, const char *method, const char *url, const char *body,
			  struct curl_slist *hdrs, resp *r, long idle_s)
{
	CURL *c = curl_easy_init();
	CURLcode cc;
	if (!c)
		return CURLE_OUT_OF_MEMORY;
	r->status = 0;
	r->retry_after_ms = -1;
	r->too_large = 0;
	r->body.len = 0;
	r->c = c;
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c, CURLOPT_NOPROGRESS, 0L);
	curl_easy_setopt(c, CURLOPT_XFERINFOFUNCTION, on_progress);
	curl_easy_setopt(c, CURLOPT_XFERINFODATA, p);
#if CURL_AT_LEAST_VERSION(7, 85, 0)
	curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "https");
#endif
	curl_easy_setopt(c, CURLOPT_SSL_VERIFYPEER, 1L);
	curl_easy_setopt(c, CURLOPT_SSL_VERIFYHOST, 2L);
	if (p->ca_file[0])
		curl_easy_setopt(c, CURLOPT_CAINFO, p->ca_file);
	curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 0L); /* never carry a token elsewhere */
	curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS,
			 env_num("MTDGATE_PULL_CONNECT_MS", 10000, 100, 120000));
	/* idle: less than a byte a second for idle_s seconds */
	curl_easy_setopt(c, CURLOPT_LOW_SPEED_LIMIT, 1L);
	curl_easy_setopt(c, CURLOPT_LOW_SPEED_TIME, idle_s);
	curl_easy_setopt(c, CURLOPT_USERAGENT, "mtdgate");
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, w_body);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, r);
	curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, w_header);
	curl_easy_setopt(c, CURLOPT_HEADERDATA, r);
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, hdrs);
	if (!strcmp(method, "POST")) {
		curl_easy_setopt(c, CURLOPT_POST, 1L);
		curl_easy_setopt(c, CURLOPT_POSTFIELDS, body ? body : "");
	}
	cc = curl_easy_perform(c);
	curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &r->status);
	curl_easy_cleanup(c);
	r->c = NULL;
	p->ps->requests++;
	return cc;
}

/* Backoff before attempt a (1..): base * 2^(a-1), capped, with jitter in
 * its upper half. */
static long long backoff_ms(int a)
{
	long long base = env_num("MTDGATE_PULL_BACKOFF_MS", 1000, 1, 60000), d = base;
	unsigned r = 0;
	for (int i = 1; i < a && d < 60000; i++)
		d *= 2;
	if (d > 60000)
		d = 60000;
	if (getrandom(&r, sizeof r, 0) != sizeof r)
		r = (unsigned)mono_ms();
	return d / 2 + (long long)(r % (unsigned)(d / 2 + 1));
}

static int get_token(pull *p);

/* Headers of an API request: Accept, the auth, extra (may be NULL). */
static struct curl_slist *api_headers(pull *p, const char *accept, const char *extra)
{
	struct curl_slist *l = NULL, *t;
	char *line = NULL;
	size_t n;
	const char *acc = accept ? accept : "application/json";
	if (!(n = strlen(acc) + 16) || !(line = malloc(n + MAX_SECRET + 600)))
		return NULL;
	snprintf(line, n, "Accept: %s", acc);
	if (!(l = curl_slist_append(NULL, line)))
		goto fail;
	if (p->api.auth == MTD_API_AUTH_KEY) {
		snprintf(line, MAX_SECRET + 600, "%s: %s%s",
			 p->api.key_header ? p->api.key_header : "Authorization",
			 p->api.key_prefix ? p->api.key_prefix : "", p->secret);
	} else if (p->api.auth != MTD_API_AUTH_NONE && p->token) {
		snprintf(line, MAX_SECRET + 600, "Authorization: Bearer %s", p->token);
	} else
		line[0] = '\0';
	if (line[0] && !(t = curl_slist_append(l, line)))
		goto fail;
	/* a second key, the client id, in a header of its own (Pradeo) */
	if (p->api.auth == MTD_API_AUTH_KEY && p->api.id_header) {
		snprintf(line, MAX_SECRET + 600, "%s: %s", p->api.id_header, p->client_id);
		if (!(t = curl_slist_append(l, line)))
			goto fail;
	}
	if (extra && !(t = curl_slist_append(l, extra)))
		goto fail;
	if (p->disc_header[0] && !(t = curl_slist_append(l, p->disc_header)))
		goto fail;
	explicit_bzero(line, MAX_SECRET + 600);
	free(line);
	return l;
fail:
	explicit_bzero(line, MAX_SECRET + 600);
	free(line);
	wipe_list(l);
	return NULL;
}

/* A request with the retry policy. auth: an API request (token kinds get
 * a token first, and one refresh on 401); 0: the token request itself.
 * On success r->status is 2xx; otherwise h's message says what failed. */
static int request(pull *p, const char *method, const char *url, const char *body,
		   struct curl_slist *token_hdrs, const char *accept, const char *extra,
		   int auth, resp *r, long idle_s)
{
	char u[400];
	int refreshed = 0, tokens = auth && p->api.auth != MTD_API_AUTH_NONE &&
				    p->api.auth != MTD_API_AUTH_KEY;
	url_text(url, u, sizeof u);
	for (int a = 1;; a++) {
		struct curl_slist *hdrs = token_hdrs;
		CURLcode cc;
		int rc;
		if (tokens && (!p->token || mono_ms() >= p->token_until) && (rc = get_token(p)))
			return rc;
		/* a static key goes on every request (no plugin used one before
		 * Pradeo, and the key was never read: every request said "(null)") */
		if (auth && p->api.auth == MTD_API_AUTH_KEY && (rc = secret_read(p)))
			return rc;
		if (auth && !(hdrs = api_headers(p, accept, extra)))
			return mtd_fail(p->h, MTD_ENOMEM, "out of memory");
		cc = http_once(p, method, url, body, hdrs, r, idle_s);
		if (auth)
			wipe_list(hdrs);
		if (p->fatal)
			return p->fatal;
		if (stopped(p))
			return mtd_fail(p->h, MTD_EIO, "%s: stopped", p->vendor);
		if (r->too_large)
			return mtd_fail(p->h, MTD_EMALFORMED, "%s: a response of %s is larger than "
					"%u MiB", p->vendor, u, MAX_BODY >> 20);
		if (cc == CURLE_OK && r->status >= 200 && r->status < 300)
			return 0;
		if (r->stream && r->status >= 200 && r->status < 300) /* it dropped */
			return mtd_fail(p->h, MTD_EIO, "%s: %s: %s", p->vendor, u,
					curl_easy_strerror(cc));
		if (cc == CURLE_OK && r->status == 401 && tokens && !refreshed) {
			refreshed = 1; /* once: a token may end before its time */
			secret_drop(p);
			p->token_until = 0;
			a--;
			continue;
		}
		if (cc == CURLE_OK && (r->status == 401 || r->status == 403))
			return mtd_fail(p->h, MTD_EREFUSED, "%s: HTTP %ld from %s%s: the credentials "
					"are refused (check client_id and the secret file)", p->vendor,
					r->status, u, refreshed ? " with a fresh token" : "");
		if (cc == CURLE_OK && r->status != 429 && r->status < 500)
			return mtd_fail(p->h, MTD_EIO, "%s: HTTP %ld from %s", p->vendor, r->status, u);
		if (cc == CURLE_SSL_CACERT || cc == CURLE_PEER_FAILED_VERIFICATION ||
		    cc == CURLE_SSL_CACERT_BADFILE || cc == CURLE_UNSUPPORTED_PROTOCOL ||
		    cc == CURLE_URL_MALFORMAT)
			return mtd_fail(p->h, MTD_EIO, "%s: %s: %s", p->vendor, u,
					curl_easy_strerror(cc));
		if (a >= MAX_ATTEMPTS) {
			if (cc != CURLE_OK)
				return mtd_fail(p->h, MTD_EIO, "%s: %s: %s (after %d attempts)", p->vendor,
						u, curl_easy_strerror(cc), a);
			return mtd_fail(p->h, MTD_EIO, "%s: HTTP %ld from %s (after %d attempts)",
					p->vendor, r->status, u, a);
		}
		p->ps->retries++;
		if (cc == CURLE_OK && (r->status == 429 || r->status == 503) &&
		    r->retry_after_ms >= 0)
			sleep_ms(p, r->retry_after_ms);
		else
			sleep_ms(p, backoff_ms(a));
	}
}

/* ---- the token ---- */

typedef struct tok {
	char *token;
	long long in_s, at_s;
} tok;

static int tok_value(void *ud, const char *name, const char *value)
{
	tok *t = ud;
	if (!strcmp(name, MTD_API_V_TOKEN)) {
		if (t->token) {
			explicit_bzero(t->token, strlen(t->token));
			free(t->token);
		}
		t->token = strdup(value);
	} else if (!strcmp(name, MTD_API_V_EXPIRES_IN))
		t->in_s = strtoll(value, NULL, 10);
	else if (!strcmp(name, MTD_API_V_EXPIRES_AT))
		t->at_s = strtoll(value, NULL, 10);
	return 0;
}

/* form-encode s (NUL-terminated) appended to b */
static int form_put(mtd_buf *b, const char *s)
{
	static const char hex[] = "0123456789ABCDEF";
	for (const unsigned char *c = (const unsigned char *)s; *c; c++) {
		char e[3] = {'%', hex[*c >> 4], hex[*c & 15]};
		int ok = (*c >= 'A' && *c <= 'Z') || (*c >= 'a' && *c <= 'z') ||
			 (*c >= '0' && *c <= '9') || *c == '-' || *c == '.' || *c == '_' || *c == '~';
		if (ok ? mtd_buf_put(b, c, 1) : mtd_buf_put(b, e, 3))
			return -1;
	}
	return 0;
}

static void buf_wipe(mtd_buf *b)
{
	if (b->data)
		explicit_bzero(b->data, b->cap);
	mtd_buf_free(b);
}

static int get_token(pull *p)
{
	mtd_buf body = {0};
	struct curl_slist *hdrs = NULL;
	resp r = {0};
	tok t = {0};
	char line[MAX_SECRET + 64], u[400];
	mtd_child_sink sink = {.api_value = tok_value, .ud = &t};
	int rc, e = 0;

	if ((rc = secret_read(p)))
		return rc;
	if (p->token) {
		explicit_bzero(p->token, strlen(p->token));
		free(p->token);
		p->token = NULL;
	}
	hdrs = curl_slist_append(NULL, "Accept: application/json");
	switch (p->api.auth) {
	case MTD_API_AUTH_OAUTH2:
		e |= mtd_buf_put(&body, "grant_type=client_credentials&client_id=", 40);
		e |= form_put(&body, p->client_id);
		e |= mtd_buf_put(&body, "&client_secret=", 15);
		e |= form_put(&body, p->secret);
		if (p->api.scope) {
			e |= mtd_buf_put(&body, "&scope=", 7);
			e |= form_put(&body, p->api.scope);
		}
		hdrs = curl_slist_append(hdrs, "Content-Type: application/x-www-form-urlencoded");
		break;
	case MTD_API_AUTH_KEY_TOKEN:
		e |= mtd_buf_put(&body, "grant_type=client_credentials", 29);
		hdrs = curl_slist_append(hdrs, "Content-Type: application/x-www-form-urlencoded");
		snprintf(line, sizeof line, "Authorization: Bearer %s", p->secret);
		hdrs = curl_slist_append(hdrs, line);
		explicit_bzero(line, sizeof line);
		break;
	case MTD_API_AUTH_BASIC_TOKEN: {
		/* "Authorization: Basic " base64(client_id ":" secret), wiped */
		static const char b64[] =
			"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
		size_t ni = strlen(p->client_id), ns = strlen(p->secret), n = ni + 1 + ns, o;
		unsigned char *in = malloc(n + 1);
		if (!in || 21 + (n + 2) / 3 * 4 >= sizeof line) {
			free(in);
			e = 1;
			break;
		}
		memcpy(in, p->client_id, ni);
		in[ni] = ':';
		memcpy(in + ni + 1, p->secret, ns);
		o = (size_t)snprintf(line, sizeof line, "Authorization: Basic ");
		for (size_t i = 0; i < n; i += 3) {
			unsigned v = (unsigned)in[i] << 16 | (i + 1 < n ? (unsigned)in[i + 1] << 8 : 0) |
				     (i + 2 < n ? in[i + 2] : 0);
			line[o++] = b64[v >> 18 & 63];
			line[o++] = b64[v >> 12 & 63];
			line[o++] = i + 1 < n ? b64[v >> 6 & 63] : '=';
			line[o++] = i + 2 < n ? b64[v & 63] : '=';
		}
		line[o] = '\0';
		explicit_bzero(in, n);
		free(in);
		hdrs = curl_slist_append(hdrs, line);
		explicit_bzero(line, sizeof line);
		break;
	}
	case MTD_API_AUTH_LOGIN: {
		char *q = malloc(MTD_JSON_STR_MAX(MAX_SECRET + 1100));
		if (!q) {
			e = 1;
			break;
		}
		e |= mtd_buf_put(&body, "{", 1);
		e |= mtd_buf_put(&body, q, mtd_json_str(q, p->api.id_field, strlen(p->api.id_field)));
		e |= mtd_buf_put(&body, ":", 1);
		e |= mtd_buf_put(&body, q, mtd_json_str(q, p->client_id, strlen(p->client_id)));
		e |= mtd_buf_put(&body, ",", 1);
		e |= mtd_buf_put(&body, q,
				 mtd_json_str(q, p->api.secret_field, strlen(p->api.secret_field)));
		e |= mtd_buf_put(&body, ":", 1);
		e |= mtd_buf_put(&body, q, mtd_json_str(q, p->secret, p->nsecret ? strlen(p->secret) : 0));
		e |= mtd_buf_put(&body, "}", 1);
		explicit_bzero(q, MTD_JSON_STR_MAX(MAX_SECRET + 1100));
		free(q);
		hdrs = curl_slist_append(hdrs, "Content-Type: application/json");
		break;
	}
	default:
		break;
	}
	e |= mtd_buf_put(&body, "", 1); /* NUL */
	if (e || !hdrs) {
		buf_wipe(&body);
		wipe_list(hdrs);
		return mtd_fail(p->h, MTD_ENOMEM, "out of memory");
	}
	rc = request(p, "POST", p->token_url, (const char *)body.data, hdrs, NULL, NULL, 0, &r,
		     env_num("MTDGATE_PULL_IDLE_SECONDS", 30, 1, 3600));
	buf_wipe(&body);
	wipe_list(hdrs);
	url_text(p->token_url, u, sizeof u);
	if (rc) {
		/* the message names the token endpoint, nothing of the request */
		if (r.status == 400 || r.status == 401 || r.status == 403)
			rc = mtd_fail(p->h, MTD_EREFUSED, "%s: the token endpoint %s refused the "
				      "credentials (HTTP %ld): check client_id and the secret file",
				      p->vendor, u, r.status);
		buf_wipe(&r.body);
		return rc;
	}
	rc = mtd_child_api_decode(mtd_feed_plugin(p->feed), MTD_API_DECODE_TOKEN, 0, r.body.data,
				  r.body.len, &sink, p->err, sizeof p->err);
	buf_wipe(&r.body);
	if (rc || !t.token) {
		if (t.token) {
			explicit_bzero(t.token, strlen(t.token));
			free(t.token);
		}
		return mtd_fail(p->h, MTD_EIO, "%s: the token response of %s could not be read: %s",
				p->vendor, u, rc ? p->err : "no token in it");
	}
	p->token = t.token;
	if (t.in_s <= 0 && t.at_s > 0) {
		long long left = t.at_s - (long long)time(NULL);
		t.in_s = left > 0 ? left : 1;
	}
	if (t.in_s <= 0)
		t.in_s = 3600;
	/* a minute early, so a request does not carry a token about to end */
	p->token_until = mono_ms() + (t.in_s > 120 ? t.in_s - 60 : t.in_s / 2 + 1) * 1000;
	return 0;
}

/* ---- URLs ---- */

/* tpl with {NAME} replaced by the plugin's setting NAME. */
static int expand(pull *p, const char *tpl, char *out, size_t n)
{
	size_t o = 0;
	for (const char *c = tpl; *c;) {
		const char *val = NULL, *q;
		if (*c == '{' && (q = strchr(c, '}'))) {
			for (size_t i = 0; i < p->api.nsettings; i++)
				if (strlen(p->api.settings[i]) == (size_t)(q - c - 1) &&
				    !strncmp(p->api.settings[i], c + 1, (size_t)(q - c - 1)))
					val = p->extra[i];
			if (!val || !*val)
				return mtd_fail(p->h, MTD_EREFUSED, "%s: the URL %s needs the setting "
						"%.*s (connector set %s %.*s=...)", p->vendor, tpl,
						(int)(q - c - 1), c + 1, p->vendor, (int)(q - c - 1),
						c + 1);
			if (o + strlen(val) >= n)
				return mtd_fail(p->h, MTD_EUSAGE, "%s: URL too long", p->vendor);
			memcpy(out + o, val, strlen(val));
			o += strlen(val);
			c = q + 1;
			continue;
		}
		if (o + 1 >= n)
			return mtd_fail(p->h, MTD_EUSAGE, "%s: URL too long", p->vendor);
		out[o++] = *c++;
	}
	out[o] = '\0';
	return 0;
}

/* A next link the API gave: absolute on the API's own origin, or a path. */
static int link_url(pull *p, const char *next, char *out, size_t n)
{
	size_t origin = 0;
	const char *s = p->root + 8;
	origin = 8 + strcspn(s, "/");
	if (next[0] == '/')
		return snprintf(out, n, "%.*s%s", (int)origin, p->root, next) < (int)n ? 0
		       : mtd_fail(p->h, MTD_EMALFORMED, "%s: next link too long", p->vendor);
	if (strncmp(next, p->root, origin) || (next[origin] != '/' && next[origin] != '\0'))
		return mtd_fail(p->h, MTD_EMALFORMED, "%s: the API's next link leaves its origin "
				"(%.*s): not followed", p->vendor, (int)origin, p->root);
	return snprintf(out, n, "%s", next) < (int)n ? 0
	       : mtd_fail(p->h, MTD_EMALFORMED, "%s: next link too long", p->vendor);
}

/* root + path, with param (a name, or a template holding {}) = value. */
static int page_url(pull *p, const mtd_api_ep *e, const char *value, char *out, size_t n)
{
	int k = snprintf(out, n, "%s%s", p->root, e->path);
	char *esc;
	const char *param = e->resume_param;
	if (k < 0 || (size_t)k >= n)
		return mtd_fail(p->h, MTD_EUSAGE, "%s: URL too long", p->vendor);
	if (!value || !*value || !param)
		return 0;
	if (!(esc = curl_easy_escape(NULL, value, 0)))
		return mtd_fail(p->h, MTD_ENOMEM, "out of memory");
	{
		const char *hole = strstr(param, "{}");
		size_t at = (size_t)k;
		int m;
		if (hole) {
			char *pe = curl_easy_escape(NULL, param, (int)(hole - param));
			char *pt = curl_easy_escape(NULL, hole + 2, 0);
			m = pe && pt ? snprintf(out + at, n - at, "%c%s%s%s", strchr(out, '?') ? '&' : '?',
						pe, esc, pt)
				     : -1;
			/* the parameter's own '=' stays one */
			if (m > 0) {
				char *eq = strstr(out + at, "%3D");
				if (eq) {
					*eq = '=';
					memmove(eq + 1, eq + 3, strlen(eq + 3) + 1);
				}
			}
			curl_free(pe);
			curl_free(pt);
		} else
			m = snprintf(out + at, n - at, "%c%s=%s", strchr(out, '?') ? '&' : '?', param, esc);
		curl_free(esc);
		if (m < 0 || (size_t)m >= n - at)
			return mtd_fail(p->h, MTD_EUSAGE, "%s: URL too long", p->vendor);
	}
	return 0;
}

/* ---- discovery (mtd_api.whoami_url) ---- */

typedef struct disc {
	char api_url[1100], name[80], value[600];
	int bad;
} disc;

static int disc_value(void *ud, const char *name, const char *value)
{
	disc *d = ud;
	char *dst = !strcmp(name, MTD_API_V_API_URL)	      ? d->api_url
		    : !strcmp(name, MTD_API_V_HEADER_NAME)  ? d->name
		    : !strcmp(name, MTD_API_V_HEADER_VALUE) ? d->value
							     : NULL;
	size_t cap = dst == d->api_url ? sizeof d->api_url : dst == d->name ? sizeof d->name
										: sizeof d->value;
	if (!dst)
		return 0;
	if (strlen(value) >= cap) {
		d->bad = 1;
		return -1;
	}
	memcpy(dst, value, strlen(value) + 1);
	return 0;
}

/* Ask whoami_url who the credentials are: the API root of this pull
 * (unless the api_url setting gave it) and a header for every later
 * request. Nothing of it is stored. */
static int discover(pull *p)
{
	char url[1100], u[400];
	resp r = {0};
	disc d;
	mtd_child_sink sink = {.api_value = disc_value, .ud = &d};
	int rc;

	memset(&d, 0, sizeof d);
	if (p->whoami_url[0])
		snprintf(url, sizeof url, "%s", p->whoami_url);
	else if ((rc = expand(p, p->api.whoami_url, url, sizeof url)))
		return rc;
	url_text(url, u, sizeof u);
	rc = request(p, "GET", url, NULL, NULL, NULL, NULL, 1, &r,
		     env_num("MTDGATE_PULL_IDLE_SECONDS", 30, 1, 3600));
	if (!rc && (rc = mtd_child_api_decode(mtd_feed_plugin(p->feed), MTD_API_DECODE_WHOAMI, 0,
					      r.body.data, r.body.len, &sink, p->err,
					      sizeof p->err)))
		rc = mtd_fail(p->h, MTD_EIO, "%s: the answer of %s could not be read: %s", p->vendor,
			      u, p->err);
	buf_wipe(&r.body);
	if (rc)
		return rc;
	if (d.bad || (!p->root_set && (strncmp(d.api_url, "https://", 8) || strlen(d.api_url) < 9 ||
				       strpbrk(d.api_url, " ?#"))))
		return mtd_fail(p->h, MTD_EIO, "%s: %s gave no usable API URL (an https URL)",
				p->vendor, u);
	if (!d.name[0] != !d.value[0] || strspn(d.name, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklm"
					      "nopqrstuvwxyz0123456789-") != strlen(d.name))
		return mtd_fail(p->h, MTD_EIO, "%s: %s gave a header without a name or value, or "
				"a name that is not [A-Za-z0-9-]", p->vendor, u);
	if (!p->root_set) {
		snprintf(p->root, sizeof p->root, "%s", d.api_url);
		while (strlen(p->root) > 8 && p->root[strlen(p->root) - 1] == '/')
			p->root[strlen(p->root) - 1] = '\0';
	}
	if (d.name[0])
		snprintf(p->disc_header, sizeof p->disc_header, "%s: %s", d.name, d.value);
	return 0;
}

/* ---- pages ---- */

typedef struct pagectx {
	pull *p;
	const mtd_api_ep *e;
	const char *sse_id; /* SSE: the event's id (the resume point) */
	const char *asked;  /* SINCE, EVENT_ID: the resume value the pull asked with;
			       OFFSET: the offset asked */
	char *off_next;     /* OFFSET: the next page's offset ("" after the last), MTD_FEED_VALUE + 1 */
} pagectx;

static int key_of(char *out, size_t n, const mtd_api_ep *e, const char *what)
{
	return snprintf(out, n, "ep:%s:%s", e->name, what);
}

/* Numbered pagings: the host moves the position on, by the items a page
 * held (OFFSET) or by one page (NUMBER), until an empty page or the total. */
static int numbered(const mtd_api_ep *e)
{
	return e->paging == MTD_API_PAGE_OFFSET || e->paging == MTD_API_PAGE_NUMBER;
}

/* In the page's transaction: where the next page and the next pull start. */
static int save_point(void *ud, const mtd_feed_values *v)
{
	pagectx *c = ud;
	char k[80];
	int rc;
	key_of(k, sizeof k, c->e, "next");
	if (numbered(c->e)) {
		/* numbered items or pages: on by what the page held, to the end of
		 * the list (then a later pull reads it again from the start) */
		int items = c->e->paging == MTD_API_PAGE_OFFSET; /* else pages */
		long long at = strtoll(c->asked, NULL, 10), to = at + (items ? v->count : 1);
		/* a total counts items: it ends an OFFSET list, not a page number */
		if (v->count <= 0 || (items && v->total >= 0 && to >= v->total))
			c->off_next[0] = '\0';
		else
			snprintf(c->off_next, MTD_FEED_VALUE + 1, "%lld", to);
		return mtd_pull_state_set(c->p->h, c->p->vendor, k,
					  c->off_next[0] ? c->off_next : NULL);
	}
	if ((rc = mtd_pull_state_set(c->p->h, c->p->vendor, k, v->next[0] ? v->next : NULL)))
		return rc;
	/* a stream held open records its success with every event it commits
	 * (the pull itself may run for days) */
	if (c->sse_id) {
		char t[32];
		snprintf(t, sizeof t, "%lld", (long long)c->p->h->now);
		if ((rc = mtd_pull_state_set(c->p->h, c->p->vendor, "last_success", t)))
			return rc;
	}
	key_of(k, sizeof k, c->e, "resume");
	if (c->sse_id && *c->sse_id)
		return mtd_pull_state_set(c->p->h, c->p->vendor, k, c->sse_id);
	if (v->resume[0])
		return mtd_pull_state_set(c->p->h, c->p->vendor, k, v->resume);
	/* a page with nothing newer: the next pull asks from the same point (a
	 * start of "{now}" is kept, not taken again at the next pull's time) */
	if (c->asked && *c->asked)
		return mtd_pull_state_set(c->p->h, c->p->vendor, k, c->asked);
	if (c->e->paging == MTD_API_PAGE_CURSOR && v->next[0] && !strchr(v->next, '/'))
		return mtd_pull_state_set(c->p->h, c->p->vendor, k, v->next);
	return 0;
}

static int apply_page(pull *p, const mtd_api_ep *e, const void *data, size_t len,
		      const char *sse_id, const char *asked, char *off_next, mtd_feed_values *v)
{
	char where[200];
	pagectx c = {p, e, sse_id, asked, off_next};
	int rc;
	uint32_t idx = (uint32_t)(e - p->api.ep);
	snprintf(where, sizeof where, "%s %s page %llu", p->vendor, e->name,
		 (unsigned long long)p->ps->pages + 1);
	mtd_test_stop("pull-page", p->ps->pages + 1);
	if (sse_id)
		mtd_tick(p->h); /* a held stream's events arrive over days */
	rc = mtd_feed_page(p->feed, idx, data, len, where, save_point, &c, v);
	if (rc)
		return rc;
	p->ps->pages++;
	p->ps->replayed += v->replayed;
	mtd_test_stop("pull-committed", p->ps->pages);
	if (v->rc == MTD_EPLUGIN)
		return mtd_fail(p->h, MTD_EPLUGIN, "%s: %s", where, v->err);
	return 0;
}

static int pull_pages(pull *p, const mtd_api_ep *e)
{
	char url[8400], k[80], next[MTD_FEED_VALUE + 1] = "", resume[MTD_FEED_VALUE + 1] = "";
	char asked_off[MTD_FEED_VALUE + 1] = "0", off_next[MTD_FEED_VALUE + 1] = "";
	resp r = {0};
	int rc = 0, stored;
	long idle = env_num("MTDGATE_PULL_IDLE_SECONDS", 30, 1, 3600);

	key_of(k, sizeof k, e, "next");
	if (mtd_pull_state_get(p->h, p->vendor, k, next, sizeof next) == MTD_ESTORE)
		return MTD_ESTORE;
	stored = next[0] != '\0'; /* a page an earlier pull stopped before */
	key_of(k, sizeof k, e, "resume");
	if (mtd_pull_state_get(p->h, p->vendor, k, resume, sizeof resume) == MTD_ESTORE)
		return MTD_ESTORE;
	if (!resume[0] && e->start) {
		/* "{now}": a feed of changes that starts where mtdgate starts
		 * reading it (the full state comes from the vendor's snapshot
		 * endpoints), as an RFC 3339 time of the pull's clock */
		if (!strcmp(e->start, "{now}"))
			mtd_time_format(p->h->now, resume, sizeof resume);
		else
			snprintf(resume, sizeof resume, "%s", e->start);
	}
	for (unsigned long pages = 0; pages < MAX_PAGES; pages++) {
		mtd_feed_values *v = malloc(sizeof *v);
		if (!v) {
			rc = mtd_fail(p->h, MTD_ENOMEM, "out of memory");
			break;
		}
		if (numbered(e)) { /* from where the list stopped, or its start */
			snprintf(asked_off, sizeof asked_off, "%s",
				 next[0] ? next : e->start ? e->start : "0");
			rc = page_url(p, e, asked_off, url, sizeof url);
		} else if (next[0] && (next[0] == '/' || !strncmp(next, "https://", 8)))
			rc = link_url(p, next, url, sizeof url);
		else if (next[0]) /* a cursor */
			rc = page_url(p, e, next, url, sizeof url);
		else
			rc = page_url(p, e, e->paging == MTD_API_PAGE_LINK ||
						    e->paging == MTD_API_PAGE_NONE ? NULL : resume,
				      url, sizeof url);
		if (!rc)
			rc = request(p, "GET", url, NULL, NULL, e->accept, NULL, 1, &r, idle);
		if (rc == MTD_EIO && pages == 0 && stored && next[0] &&
		    (r.status == 400 || r.status == 404 || r.status == 410)) {
			/* the next page an earlier pull stopped before is no longer
			 * there (a scroll id or a cursor that expired while mtdgate
			 * was stopped): the list again from where the pull resumes;
			 * what comes twice is recognized by its event id */
			mtd_diag(p->h, "%s %s: the API no longer has the page an earlier pull stopped "
				       "before (HTTP %ld): reading from the start",
				 p->vendor, e->name, r.status);
			key_of(k, sizeof k, e, "next");
			rc = mtd_pull_state_set(p->h, p->vendor, k, NULL);
			stored = 0;
			next[0] = '\0';
			free(v);
			if (rc)
				break;
			pages--;
			continue;
		}
		if (!rc)
			rc = apply_page(p, e, r.body.data, r.body.len, NULL,
					e->paging == MTD_API_PAGE_SINCE ||
							e->paging == MTD_API_PAGE_EVENT_ID
						? resume
					: numbered(e) ? asked_off
						      : NULL,
					off_next, v);
		if (!rc && v->rc)
			rc = mtd_fail(p->h, MTD_EMALFORMED, "%s %s: a page the plugin could not read: %s",
				      p->vendor, e->name, v->err);
		if (!rc && numbered(e))
			snprintf(next, sizeof next, "%s", off_next);
		else if (!rc) {
			snprintf(next, sizeof next, "%s", v->next);
			if (v->resume[0])
				snprintf(resume, sizeof resume, "%s", v->resume);
		}
		free(v);
		if (rc || !next[0] || e->paging == MTD_API_PAGE_NONE)
			break;
	}
	buf_wipe(&r.body);
	return rc;
}

/* ---- server-sent events ---- */

typedef struct sse {
	pull *p;
	const mtd_api_ep *e;
	mtd_buf line, data;
	char event[64], id[MTD_FEED_VALUE + 1];
	char last_id[MTD_FEED_VALUE + 1]; /* committed */
	long long last_data_ms;           /* the last page event */
	int pages, ended, failed;
	long idle_ms;
} sse;

static int sse_dispatch(sse *s)
{
	int rc = 0;
	if (!strcmp(s->event, "end") || !strcmp(s->event, "reconnect"))
		s->ended = 1;
	else if (s->data.len && (!s->e->sse_event || !strcmp(s->event, s->e->sse_event) ||
				 (!s->event[0] && !strcmp(s->e->sse_event, "message")))) {
		mtd_feed_values *v = malloc(sizeof *v);
		if (!v)
			return mtd_fail(s->p->h, MTD_ENOMEM, "out of memory");
		rc = apply_page(s->p, s->e, s->data.data, s->data.len - 1 /* the last \n */,
				s->id, NULL, NULL, v);
		if (!rc && v->rc)
			mtd_diag(s->p->h, "%s %s event %s: %s", s->p->vendor, s->e->name,
				 s->id[0] ? s->id : "(no id)", v->err);
		free(v);
		if (!rc && s->id[0])
			snprintf(s->last_id, sizeof s->last_id, "%s", s->id);
		s->pages++;
		s->last_data_ms = mono_ms();
	}
	s->data.len = 0;
	s->event[0] = '\0';
	return rc;
}

/* One line of the stream (without its end). */
static int sse_line(sse *s, const char *l, size_t n)
{
	const char *v;
	size_t vn, fn;
	if (n == 0)
		return sse_dispatch(s);
	if (l[0] == ':')
		return 0; /* a comment */
	v = memchr(l, ':', n);
	fn = v ? (size_t)(v - l) : n;
	v = v ? v + 1 : l + n;
	if (v < l + n && *v == ' ')
		v++;
	vn = (size_t)(l + n - v);
	if (fn == 4 && !memcmp(l, "data", 4)) {
		if (s->data.len + vn + 1 > MAX_BODY)
			return mtd_fail(s->p->h, MTD_EMALFORMED, "%s: an event larger than %u MiB",
					s->p->vendor, MAX_BODY >> 20);
		return mtd_buf_put(&s->data, v, vn) || mtd_buf_put(&s->data, "\n", 1)
			       ? mtd_fail(s->p->h, MTD_ENOMEM, "out of memory") : 0;
	}
	if (fn == 5 && !memcmp(l, "event", 5))
		snprintf(s->event, sizeof s->event, "%.*s", (int)vn, v);
	else if (fn == 2 && !memcmp(l, "id", 2) && vn <= MTD_FEED_VALUE && !memchr(v, 0, vn))
		snprintf(s->id, sizeof s->id, "%.*s", (int)vn, v);
	return 0;
}

static size_t sse_data(void *ud, const char *b, size_t n)
{
	sse *s = ud;
	for (size_t i = 0; i < n; i++) {
		if (b[i] == '\n' || b[i] == '\r') {
			int rc;
			size_t len = s->line.len;
			if (b[i] == '\n' && len == 0 && i > 0 && b[i - 1] == '\r')
				continue;
			rc = sse_line(s, (const char *)s->line.data, len);
			s->line.len = 0;
			if (rc) {
				s->p->fatal = rc;
				return 0;
			}
			if (s->ended)
				return 0;
			continue;
		}
		if (s->line.len >= MAX_BODY || mtd_buf_put(&s->line, b + i, 1)) {
			s->p->fatal = mtd_fail(s->p->h, MTD_EMALFORMED, "%s: a stream line too long",
					       s->p->vendor);
			return 0;
		}
	}
	/* --once: the stream has caught up when no page came for a while */
	if (s->p->once && s->idle_ms && mono_ms() - s->last_data_ms > s->idle_ms) {
		s->ended = 1;
		return 0;
	}
	return n;
}

static int pull_stream(pull *p, const mtd_api_ep *e)
{
	sse s = {.p = p, .e = e};
	char url[8400], k[80], hdr[MTD_FEED_VALUE + 32];
	int rc = 0, fails = 0;
	long idle = env_num("MTDGATE_PULL_IDLE_SECONDS", 30, 1, 3600);

	s.idle_ms = env_num("MTDGATE_PULL_STREAM_IDLE_MS", 10000, 100, 3600000);
	key_of(k, sizeof k, e, "resume");
	if (mtd_pull_state_get(p->h, p->vendor, k, s.last_id, sizeof s.last_id) == MTD_ESTORE)
		return MTD_ESTORE;
	for (;;) {
		resp r = {.on_data = sse_data, .ud = &s, .stream = 1};
		int before = s.pages;
		const char *resume = s.last_id[0] ? s.last_id : e->start;
		s.line.len = s.data.len = 0;
		s.event[0] = s.id[0] = '\0';
		s.ended = 0;
		s.last_data_ms = mono_ms();
		if ((rc = page_url(p, e, resume, url, sizeof url)))
			break;
		if (resume && *resume)
			snprintf(hdr, sizeof hdr, "Last-Event-ID: %s", resume);
		rc = request(p, "GET", url, NULL, NULL, e->accept ? e->accept : "text/event-stream",
			     resume && *resume ? hdr : NULL, 1, &r, idle);
		if (p->fatal) {
			rc = p->fatal;
			break;
		}
		if (s.ended || (!rc && p->once))
			rc = 0; /* caught up, or the server ended it */
		if (s.ended || (!rc && p->once))
			break;
		if (stopped(p)) {
			rc = mtd_fail(p->h, MTD_EIO, "%s: stopped", p->vendor);
			break;
		}
		/* the stream dropped: again from the last committed id, backing
		 * off unless it brought something */
		fails = s.pages > before ? 0 : fails + 1;
		if (fails >= MAX_ATTEMPTS) {
			if (!rc)
				rc = mtd_fail(p->h, MTD_EIO, "%s: the %s stream keeps ending without "
					      "events", p->vendor, e->name);
			break;
		}
		mtd_diag(p->h, "%s: the %s stream ended%s; resuming after %s", p->vendor, e->name,
			 rc ? " with an error" : "", s.last_id[0] ? s.last_id : "the start");
		p->ps->retries++;
		if (!s.pages || s.pages == before)
			sleep_ms(p, backoff_ms(fails ? fails : 1));
	}
	mtd_buf_free(&s.line);
	mtd_buf_free(&s.data);
	return rc;
}

/* ---- settings and the pull ---- */

int mtd_pull_base_key(const char *key)
{
	for (size_t i = 0; base_keys[i]; i++)
		if (!strcmp(base_keys[i], key))
			return 1;
	return 0;
}

static int load_settings(pull *p)
{
	char v[1100];
	int rc;
#define GET_(key, dst)                                                                        \
	if ((rc = mtd_pull_state_get(p->h, p->vendor, "set:" key, dst, sizeof dst)) &&         \
	    rc != MTD_ENOTFOUND)                                                                \
		return rc;
	GET_("client_id", p->client_id)
	GET_("secret_file", p->secret_file)
	GET_("ca_file", p->ca_file)
	GET_("whoami_url", p->whoami_url)
	for (size_t i = 0; i < p->api.nsettings; i++) {
		char key[64];
		snprintf(key, sizeof key, "set:%s", p->api.settings[i]);
		if ((rc = mtd_pull_state_get(p->h, p->vendor, key, p->extra[i], sizeof p->extra[i])) &&
		    rc != MTD_ENOTFOUND)
			return rc;
	}
	v[0] = '\0';
	GET_("api_url", v)
	p->root_set = v[0] != '\0';
	if ((rc = v[0] ? (snprintf(p->root, sizeof p->root, "%s", v), 0)
		       : expand(p, p->api.base_url, p->root, sizeof p->root)))
		return rc;
	while (strlen(p->root) > 8 && p->root[strlen(p->root) - 1] == '/')
		p->root[strlen(p->root) - 1] = '\0';
	v[0] = '\0';
	GET_("token_url", v)
#undef GET_
	if (v[0])
		snprintf(p->token_url, sizeof p->token_url, "%s", v);
	else if (p->api.token_url && p->api.token_url[0] == '/')
		snprintf(p->token_url, sizeof p->token_url, "%s%s", p->root, p->api.token_url);
	else if (p->api.token_url && (rc = expand(p, p->api.token_url, p->token_url,
						  sizeof p->token_url)))
		return rc;
	if ((p->api.auth == MTD_API_AUTH_OAUTH2 || p->api.auth == MTD_API_AUTH_LOGIN ||
	     p->api.auth == MTD_API_AUTH_BASIC_TOKEN ||
	     (p->api.auth == MTD_API_AUTH_KEY && p->api.id_header)) &&
	    !p->client_id[0])
		return mtd_fail(p->h, MTD_EREFUSED, "%s: no client_id set (connector set %s "
				"client_id=ID secret_file=PATH)", p->vendor, p->vendor);
	if (p->api.auth != MTD_API_AUTH_NONE && !p->secret_file[0])
		return mtd_fail(p->h, MTD_EREFUSED, "%s: no secret_file set (connector set %s "
				"secret_file=PATH)", p->vendor, p->vendor);
	return 0;
}

/* The outcome, in its own transaction: last success, or last error. */
static void record(pull *p, int rc)
{
	char t[32];
	snprintf(t, sizeof t, "%lld", (long long)mtd_tick(p->h));
	if (mtd_begin(p->h))
		return;
	if (!rc)
		rc = mtd_pull_state_set(p->h, p->vendor, "last_success", t);
	else {
		char msg[1024];
		snprintf(msg, sizeof msg, "%s", mtd_errmsg(p->h));
		rc = mtd_pull_state_set(p->h, p->vendor, "last_error", msg) ||
		     mtd_pull_state_set(p->h, p->vendor, "last_error_at", t);
		snprintf(p->h->err, sizeof p->h->err, "%s", msg); /* kept for the caller */
	}
	if (rc || mtd_store_commit(p->h->store))
		mtd_store_rollback(p->h->store);
}

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;
static int curl_ready;

static void curl_start(void)
{
	curl_ready = curl_global_init(CURL_GLOBAL_DEFAULT) == CURLE_OK;
}

void mtd_pull_stop(mtd_t *h)
{
	atomic_store(&h->pull_stop, 1);
}

int mtd_pull(mtd_t *h, const char *vendor, unsigned flags, mtd_pull_stats *ps)
{
	pull *p;
	int rc;

	memset(ps, 0, sizeof *ps);
	if (atomic_load(&h->pull_stop))
		return mtd_fail(h, MTD_EIO, "%s: stopped", vendor);
	/* once per process, whichever thread pulls first */
	pthread_once(&curl_once, curl_start);
	if (!curl_ready)
		return mtd_fail(h, MTD_EINTERNAL, "libcurl did not initialize");
	if (!(p = calloc(1, sizeof *p)))
		return mtd_fail(h, MTD_ENOMEM, "out of memory");
	p->h = h;
	p->vendor = vendor;
	p->ps = ps;
	p->once = !!(flags & MTD_PULL_ONCE);
	rc = mtd_feed_open(h, vendor, &ps->st, &p->feed);
	if (!rc && (rc = mtd_child_api(mtd_feed_plugin(p->feed), &p->api, p->err, sizeof p->err)))
		rc = mtd_fail(h, rc == MTD_ENOTFOUND ? MTD_EREFUSED : rc, "%s", p->err);
	if (!rc)
		rc = load_settings(p);
	if (!rc && p->api.whoami_url)
		rc = discover(p);
	for (size_t i = 0; !rc && i < p->api.nep; i++)
		rc = p->api.ep[i].paging == MTD_API_PAGE_SSE ? pull_stream(p, &p->api.ep[i])
							     : pull_pages(p, &p->api.ep[i]);
	secret_drop(p);
	if (rc != MTD_EUSAGE && p->api.nep && !(rc && stopped(p)))
		record(p, rc);
	mtd_feed_close(p->feed);
	mtd_api_free(&p->api);
	free(p);
	return rc;
}

struct pull_list {
	mtd_t *h;
	mtd_pull_fn fn;
	void *ud;
};

static int pull_list_one(void *ud, const mtd_pull_state_row *row)
{
	struct pull_list *l = ud;
	mtd_pull_info i = {0};
	i.vendor = row->vendor;
	i.poll_seconds = row->poll_seconds ? strtoll(row->poll_seconds, NULL, 10) : 60;
	i.last_success = row->last_success;
	i.last_error = row->last_error;
	i.last_error_at = row->last_error_at;
	i.configured = row->configured;
	i.lag = i.last_success ? l->h->now - i.last_success : -1;
	return l->fn(l->ud, &i);
}

int mtd_pull_list(mtd_t *h, mtd_pull_fn fn, void *ud)
{
	struct pull_list l = {h, fn, ud};
	int rc = mtd_need_store_read(h);
	if (rc)
		return rc;
	return mtd_store_pull_states(h->store, pull_list_one, &l)
		       ? mtd_fail(h, MTD_ESTORE, "%s", mtd_store_errmsg(h->store))
		       : 0;
}

static int printable(const char *s, size_t max)
{
	size_t n = strlen(s);
	if (n < 1 || n > max)
		return 0;
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)s[i] < 0x21 || s[i] == 0x7f)
			return 0;
	return 1;
}

int mtd_pull_setting(mtd_t *h, const char *vendor, const char *key, const char *value)
{
	char why[1300], k[80];
	int rc;
	if (!strcmp(key, "api_url") || !strcmp(key, "token_url") || !strcmp(key, "whoami_url")) {
		if (strncmp(value, "https://", 8) || !printable(value, 1024) || strlen(value) < 9)
			return mtd_fail(h, MTD_EUSAGE, "%s: %s must be an https:// URL", vendor, key);
	} else if (!strcmp(key, "poll_seconds")) {
		char *e;
		long v = strtol(value, &e, 10);
		if (*e || e == value || v < 1 || v > 86400)
			return mtd_fail(h, MTD_EUSAGE, "%s: poll_seconds must be 1..86400", vendor);
	} else if (!strcmp(key, "secret_file") || !strcmp(key, "ca_file")) {
		if (value[0] != '/')
			return mtd_fail(h, MTD_EUSAGE, "%s: %s must be an absolute path", vendor, key);
		if (!strcmp(key, "secret_file") &&
		    (rc = mtd_pull_secret_file_ok(value, why, sizeof why)))
			return mtd_fail(h, rc == MTD_ENOTFOUND ? MTD_EUSAGE : rc, "%s: %s", vendor, why);
		if (!strcmp(key, "ca_file") && access(value, R_OK))
			return mtd_fail(h, MTD_EUSAGE, "%s: ca_file %s: %s", vendor, value,
					strerror(errno));
	} else if (!printable(value, 256)) {
		return mtd_fail(h, MTD_EUSAGE, "%s: %s must be 1..256 printable characters without "
				"spaces", vendor, key);
	}
	snprintf(k, sizeof k, "set:%s", key);
	return mtd_pull_state_set(h, vendor, k, value);
}
