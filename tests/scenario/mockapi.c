/* The local HTTPS vendor API of the pull tests (mockapi.h). */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "mockapi.h"

#define TOKEN_PREFIX "tok-"

struct mock {
	struct MHD_Daemon *d;
	pthread_mutex_t mu;
	int vendor, n, per_page, ndev;
	char client_id[128], secret[256];
	char url[64];
	char *key, *cert;
	int req, tokens, valid_token; /* the token generation that is valid */
	mock_faults f;
};

static char *slurp(const char *path)
{
	FILE *f = fopen(path, "rb");
	char *b;
	long n;
	if (!f)
		return NULL;
	fseek(f, 0, SEEK_END);
	n = ftell(f);
	rewind(f);
	b = malloc((size_t)n + 1);
	if (b && fread(b, 1, (size_t)n, f) != (size_t)n) {
		free(b);
		b = NULL;
	}
	if (b)
		b[n] = '\0';
	fclose(f);
	return b;
}

const char *mock_level_name(int vendor, int i)
{
	static const char *const def[] = {"secured", "low", "medium", "high"};
	static const char *const lk[] = {"low", "medium", "high"};
	return vendor == MOCK_DEFENDER ? def[i % 4] : lk[i % 3];
}

/* ---- bodies ---- */

void mock_put(mock_buf *o, const char *fmt, ...)
{
	va_list ap;
	int k;
	for (;;) {
		va_start(ap, fmt);
		k = vsnprintf(o->p ? o->p + o->n : NULL, o->p ? o->cap - o->n : 0, fmt, ap);
		va_end(ap);
		if (o->p && (size_t)k < o->cap - o->n) {
			o->n += (size_t)k;
			return;
		}
		o->cap = (o->cap + (size_t)k + 1) * 2;
		o->p = realloc(o->p, o->cap);
		if (!o->p)
			abort();
	}
}

static void machines_page(mock *m, int skip, mock_buf *o)
{
	static const char *const risk[] = {"None", "Low", "Medium", "High"};
	int end = skip + m->per_page < m->n ? skip + m->per_page : m->n;
	mock_put(o, "{\"@odata.context\":\"%s/api/$metadata#Machines\",\"value\":[", m->url);
	for (int i = skip; i < end; i++)
		mock_put(o, "%s{\"id\":\"m-%d\",\"computerDnsName\":\"pc-%d\",\"aadDeviceId\":\"aad-%d\","
		    "\"osPlatform\":\"Windows10\",\"healthStatus\":\"Active\",\"onboardingStatus\":"
		    "\"onboarded\",\"riskScore\":\"%s\",\"exposureLevel\":\"Low\","
		    "\"lastSeen\":\"2024-03-01T00:00:00Z\",\"firstSeen\":\"2024-01-01T00:00:00Z\"}",
		    i > skip ? "," : "", i, i, i, risk[i % 4]);
	mock_put(o, "]");
	if (end < m->n)
		mock_put(o, ",\"@odata.nextLink\":\"%s/api/machines?$top=%d&$skip=%d\"", m->url, m->per_page,
		    end);
	mock_put(o, "}");
}

static void lookout_event(mock *m, int j, mock_buf *o)
{
	static const char *const sev[] = {"LOW", "MEDIUM", "HIGH"};
	if (j < m->ndev)
		mock_put(o, "{\"id\":\"e-%d\",\"enterprise_guid\":\"ent\",\"created_time\":"
		    "\"2024-03-01T00:00:%02d.000+00:00\",\"type\":\"DEVICE\",\"change_type\":\"UPDATED\","
		    "\"device\":{\"guid\":\"g-%d\",\"platform\":\"IOS\",\"info\":{\"external_id\":"
		    "\"dev-%d\"},\"status\":{\"security_status\":\"SECURE\",\"activation_status\":"
		    "\"ACTIVATED\",\"protection_status\":\"PROTECTED\"}}}",
		    j, j % 60, j, j);
	else
		mock_put(o, "{\"id\":\"e-%d\",\"enterprise_guid\":\"ent\",\"created_time\":"
		    "\"2024-03-01T01:00:%02d.000+00:00\",\"type\":\"THREAT\",\"change_type\":\"CREATED\","
		    "\"threat\":{\"guid\":\"t-%d\",\"status\":\"OPEN\",\"severity\":\"%s\","
		    "\"type\":\"APPLICATION\",\"classifications\":[\"TROJAN\"]},"
		    "\"actor\":{\"guid\":\"g-%d\",\"type\":\"DEVICE\"},\"target\":{\"guid\":\"t-%d\","
		    "\"type\":\"THREAT\"}}",
		    j, j % 60, j, sev[j % 3], j % m->ndev, j);
}

/* ---- a streamed or delayed body ---- */

typedef struct stream {
	mock *m;
	mock_buf body;       /* a fixed body (with trunc: cut) */
	size_t pos;
	int slow, trunc;
	int sse, page, pages, drop_after, sent_pages;
} stream;

static ssize_t reader(void *cls, uint64_t posi, char *buf, size_t max)
{
	stream *s = cls;
	(void)posi;
	if (s->slow) {
		s->slow = 0;
		sleep(3);
	}
	if (s->sse && s->pos == s->body.n) {
		/* the next page of events, a heartbeat before it */
		int per = s->m->per_page, from = s->page * per;
		if (s->page >= s->pages)
			return MHD_CONTENT_READER_END_OF_STREAM;
		if (s->drop_after && s->sent_pages >= s->drop_after)
			return MHD_CONTENT_READER_END_WITH_ERROR;
		s->body.n = s->pos = 0;
		mock_put(&s->body, "event:heartbeat\ndata:{}\n\nid:p%d\nevent:events\ndata:{\"events\":[",
		    s->page);
		for (int j = from; j < from + per && j < s->m->n; j++) {
			if (j > from)
				mock_put(&s->body, ",");
			lookout_event(s->m, j, &s->body);
		}
		mock_put(&s->body, "]}\n\n");
		s->page++;
		s->sent_pages++;
	}
	if (s->pos >= s->body.n)
		return s->trunc ? MHD_CONTENT_READER_END_WITH_ERROR : MHD_CONTENT_READER_END_OF_STREAM;
	{
		size_t left = s->body.n - s->pos, k;
		if (s->trunc && s->pos >= s->body.n / 2)
			return MHD_CONTENT_READER_END_WITH_ERROR;
		k = left < max ? left : max;
		if (s->trunc && s->pos + k > s->body.n / 2)
			k = s->body.n / 2 - s->pos;
		memcpy(buf, s->body.p + s->pos, k);
		s->pos += k;
		return (ssize_t)k;
	}
}

static void stream_free(void *cls)
{
	stream *s = cls;
	free(s->body.p);
	free(s);
}

static enum MHD_Result reply(struct MHD_Connection *c, unsigned status, const char *type,
			     const char *body, const char *retry_after)
{
	struct MHD_Response *r = MHD_create_response_from_buffer(strlen(body), (void *)body,
								  MHD_RESPMEM_MUST_COPY);
	enum MHD_Result ok;
	MHD_add_response_header(r, "Content-Type", type);
	if (retry_after)
		MHD_add_response_header(r, "Retry-After", retry_after);
	ok = MHD_queue_response(c, status, r);
	MHD_destroy_response(r);
	return ok;
}

/* ---- requests ---- */

/* The vendors whose flows live in their own files, by MOCK_ value. */
static const mock_flow *const flows[] = {
	[MOCK_ZIMPERIUM] = &mock_zimperium_flow,
	[MOCK_CHECKPOINT] = &mock_checkpoint_flow,
	[MOCK_SOPHOS] = &mock_sophos_flow,
	[MOCK_PRADEO] = &mock_pradeo_flow,
	[MOCK_WANDERA] = &mock_wandera_flow,
};

typedef struct upload {
	mock_buf body;
} upload;

int mock_token_ok(const mock *m, const char *tok)
{
	char want[32];
	snprintf(want, sizeof want, TOKEN_PREFIX "%d", m->valid_token);
	return tok && m->valid_token && !strcmp(tok, want);
}

void mock_token_issue(mock *m, char *t, size_t n)
{
	m->valid_token = ++m->tokens;
	snprintf(t, n, TOKEN_PREFIX "%d", m->valid_token);
}

static int bearer_ok(mock *m, struct MHD_Connection *c)
{
	const char *a = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Authorization");
	return a && !strncmp(a, "Bearer ", 7) && mock_token_ok(m, a + 7);
}

int mock_form(const char *body, const char *name, char *v, size_t n)
{
	size_t k = strlen(name);
	for (const char *p = body; p && *p; p = strchr(p, '&') ? strchr(p, '&') + 1 : NULL) {
		if (!strncmp(p, name, k) && p[k] == '=') {
			size_t e = strcspn(p + k + 1, "&");
			snprintf(v, n, "%.*s", (int)e, p + k + 1);
			MHD_http_unescape(v);
			return 1;
		}
	}
	return 0;
}

static enum MHD_Result token(mock *m, struct MHD_Connection *c, const char *body)
{
	char v[300], id[300], resp[400];
	int ok;
	if (m->vendor == MOCK_DEFENDER)
		ok = mock_form(body, "grant_type", v, sizeof v) && !strcmp(v, "client_credentials") &&
		     mock_form(body, "client_id", id, sizeof id) && !strcmp(id, m->client_id) &&
		     mock_form(body, "client_secret", v, sizeof v) && !strcmp(v, m->secret) &&
		     mock_form(body, "scope", v, sizeof v) &&
		     !strcmp(v, "https://api.securitycenter.microsoft.com/.default");
	else {
		const char *a = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Authorization");
		snprintf(v, sizeof v, "Bearer %s", m->secret);
		ok = a && !strcmp(a, v) && mock_form(body, "grant_type", id, sizeof id) &&
		     !strcmp(id, "client_credentials");
	}
	if (!ok)
		return reply(c, 401, "application/json", "{\"error\":\"invalid_client\"}", NULL);
	mock_token_issue(m, id, sizeof id);
	snprintf(resp, sizeof resp,
		 "{\"token_type\":\"Bearer\",\"expires_in\":3599,\"expires_at\":4102444800000,"
		 "\"access_token\":\"%s\"}", id);
	return reply(c, 200, "application/json", resp, NULL);
}

/* A request to a vendor flow of its own file (mockapi.h). */
static enum MHD_Result flow_answer(mock *m, const mock_flow *fl, struct MHD_Connection *c,
				   const char *url, const char *method, const char *body, int n)
{
	mock_req rq = {m, c, method, url, body};
	struct MHD_Response *r;
	enum MHD_Result ok;
	stream *s;
	int status;
	if (!(s = calloc(1, sizeof *s)))
		return MHD_NO;
	s->m = m;
	if ((status = fl->auth(&rq, &s->body)) == 0) {
		if (!(fl->authorized ? fl->authorized(&rq) : bearer_ok(m, c)))
			status = 401, mock_put(&s->body, "{\"error\":\"invalid token\"}");
		else if ((status = fl->api(&rq, &s->body)) == 0)
			status = 404, mock_put(&s->body, "{\"error\":\"not found\"}");
		else if (status == 200) {
			s->slow = n == m->f.slow;
			s->trunc = n == m->f.trunc;
		}
	}
	if (!s->body.p)
		mock_put(&s->body, "%s", "");
	r = MHD_create_response_from_callback(s->body.n, 65536, reader, s, stream_free);
	MHD_add_response_header(r, "Content-Type", "application/json");
	ok = MHD_queue_response(c, (unsigned)status, r);
	MHD_destroy_response(r);
	return ok;
}

static enum MHD_Result handle(void *cls, struct MHD_Connection *c, const char *url,
			      const char *method, const char *version, const char *data,
			      size_t *size, void **con_cls)
{
	mock *m = cls;
	upload *u = *con_cls;
	stream *s;
	struct MHD_Response *r;
	enum MHD_Result ok;
	int n, is_token, status = 200;
	(void)version;

	if (!u) { /* the first call of a request: its headers */
		if (!(u = calloc(1, sizeof *u)))
			return MHD_NO;
		*con_cls = u;
		return MHD_YES;
	}
	if (*size) {
		mock_put(&u->body, "%.*s", (int)*size, data);
		*size = 0;
		return MHD_YES;
	}
	pthread_mutex_lock(&m->mu);
	n = ++m->req;
	is_token = !strcmp(method, "POST");
	if (n == m->f.r429) {
		pthread_mutex_unlock(&m->mu);
		return reply(c, 429, "application/json", "{\"error\":\"too many requests\"}", "1");
	}
	if (n == m->f.r400) {
		pthread_mutex_unlock(&m->mu);
		return reply(c, 400, "application/json", "{\"error\":\"expired\"}", NULL);
	}
	if (m->f.n500 && n >= m->f.r500 && n < m->f.r500 + m->f.n500) {
		pthread_mutex_unlock(&m->mu);
		return reply(c, 500, "application/json", "{\"error\":\"internal\"}", NULL);
	}
	if (n == m->f.expire)
		m->valid_token = 0; /* the token ends before its time */
	if (m->vendor < (int)(sizeof flows / sizeof *flows) && flows[m->vendor]) {
		ok = flow_answer(m, flows[m->vendor], c, url, method, u->body.p ? u->body.p : "", n);
		pthread_mutex_unlock(&m->mu);
		return ok;
	}
	if (is_token) {
		ok = token(m, c, u->body.p ? u->body.p : "");
		pthread_mutex_unlock(&m->mu);
		return ok;
	}
	if (!bearer_ok(m, c)) {
		pthread_mutex_unlock(&m->mu);
		return reply(c, 401, "application/json", "{\"error\":\"invalid token\"}", NULL);
	}
	if (!(s = calloc(1, sizeof *s))) {
		pthread_mutex_unlock(&m->mu);
		return MHD_NO;
	}
	s->m = m;
	s->slow = n == m->f.slow;
	s->trunc = n == m->f.trunc;
	if (m->vendor == MOCK_DEFENDER && !strcmp(url, "/api/machines")) {
		const char *skip = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "$skip");
		machines_page(m, skip ? atoi(skip) : 0, &s->body);
	} else if (m->vendor == MOCK_LOOKOUT && !strcmp(url, "/mra/stream/v2/events")) {
		const char *last = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Last-Event-ID");
		s->sse = 1;
		s->pages = (m->n + m->per_page - 1) / m->per_page;
		s->page = last && last[0] == 'p' ? atoi(last + 1) + 1 - m->f.replay_back : 0;
		if (s->page < 0)
			s->page = 0;
		s->drop_after = m->f.drop_after;
		m->f.drop_after = 0; /* once */
		s->body.p = malloc(1);
		s->body.cap = 1;
	} else if (m->vendor == MOCK_DEFENDER &&
		   (s->body.p = mock_defender_tvm(m->url, url, c, m->ndev, m->per_page, &status))) {
		s->body.n = strlen(s->body.p);
		s->body.cap = s->body.n + 1;
	} else {
		pthread_mutex_unlock(&m->mu);
		free(s);
		return reply(c, 404, "application/json", "{\"error\":\"not found\"}", NULL);
	}
	pthread_mutex_unlock(&m->mu);
	r = MHD_create_response_from_callback(s->sse ? MHD_SIZE_UNKNOWN : s->body.n, 65536, reader, s,
					      stream_free);
	MHD_add_response_header(r, "Content-Type", s->sse ? "text/event-stream" : "application/json");
	ok = MHD_queue_response(c, (unsigned)status, r);
	MHD_destroy_response(r);
	return ok;
}

static void done(void *cls, struct MHD_Connection *c, void **con_cls,
		 enum MHD_RequestTerminationCode toe)
{
	upload *u = *con_cls;
	(void)cls, (void)c, (void)toe;
	if (u) {
		free(u->body.p);
		free(u);
	}
	*con_cls = NULL;
}

mock *mock_start(const char *dir, int vendor, int n, int per_page, int ndev,
		 const char *client_id, const char *secret)
{
	char cmd[2048], path[512];
	mock *m = calloc(1, sizeof *m);
	const union MHD_DaemonInfo *info;
	if (!m)
		return NULL;
	snprintf(path, sizeof path, "%s/ca.pem", dir);
	if (access(path, R_OK)) {
		snprintf(cmd, sizeof cmd,
			 "(cd '%s' && printf 'subjectAltName=IP:127.0.0.1,DNS:localhost\\n' > san.ext && "
			 "openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes "
			 "-keyout ca.key -out ca.pem -days 2 -subj '/CN=mtdgate test CA' && "
			 "openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes "
			 "-keyout srv.key -out srv.csr -subj '/CN=127.0.0.1' && "
			 "openssl x509 -req -in srv.csr -CA ca.pem -CAkey ca.key -CAcreateserial "
			 "-out srv.pem -days 2 -extfile san.ext) >/dev/null 2>&1",
			 dir);
		if (system(cmd)) /* its messages go to the test's output */
			goto fail;
	}
	snprintf(path, sizeof path, "%s/srv.key", dir);
	m->key = slurp(path);
	snprintf(path, sizeof path, "%s/srv.pem", dir);
	m->cert = slurp(path);
	if (!m->key || !m->cert)
		goto fail;
	pthread_mutex_init(&m->mu, NULL);
	m->vendor = vendor;
	m->n = n;
	m->per_page = per_page;
	m->ndev = ndev;
	snprintf(m->client_id, sizeof m->client_id, "%s", client_id ? client_id : "");
	snprintf(m->secret, sizeof m->secret, "%s", secret);
	{
		struct sockaddr_in sa = {0};
		sa.sin_family = AF_INET;
		sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		sa.sin_port = 0;
		m->d = MHD_start_daemon(MHD_USE_THREAD_PER_CONNECTION | MHD_USE_INTERNAL_POLLING_THREAD |
						MHD_USE_TLS | MHD_USE_ERROR_LOG,
					0, NULL, NULL, handle, m, MHD_OPTION_SOCK_ADDR, &sa,
					MHD_OPTION_HTTPS_MEM_KEY, m->key, MHD_OPTION_HTTPS_MEM_CERT,
					m->cert, MHD_OPTION_NOTIFY_COMPLETED, done, m,
					MHD_OPTION_CONNECTION_TIMEOUT, 30u, MHD_OPTION_END);
	}
	if (!m->d || !(info = MHD_get_daemon_info(m->d, MHD_DAEMON_INFO_BIND_PORT)))
		goto fail;
	snprintf(m->url, sizeof m->url, "https://127.0.0.1:%u", (unsigned)info->port);
	return m;
fail:
	mock_stop(m);
	return NULL;
}

char *mock_defender_page(mock *m, int skip)
{
	mock_buf o = {0};
	machines_page(m, skip, &o);
	return o.p;
}

const char *mock_url(const mock *m)
{
	return m->url;
}

void mock_set_faults(mock *m, const mock_faults *f)
{
	pthread_mutex_lock(&m->mu);
	m->f = *f;
	pthread_mutex_unlock(&m->mu);
}

int mock_requests(const mock *m)
{
	return m->req;
}

int mock_tokens(const mock *m)
{
	return m->tokens;
}

const char *mock_query(const mock_req *r, const char *name)
{
	return MHD_lookup_connection_value(r->conn, MHD_GET_ARGUMENT_KIND, name);
}

const char *mock_header(const mock_req *r, const char *name)
{
	return MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND, name);
}

int mock_n(const mock *m)
{
	return m->n;
}

int mock_per_page(const mock *m)
{
	return m->per_page;
}

int mock_ndev(const mock *m)
{
	return m->ndev;
}

const char *mock_client_id(const mock *m)
{
	return m->client_id;
}

const char *mock_secret(const mock *m)
{
	return m->secret;
}

void mock_stop(mock *m)
{
	if (!m)
		return;
	if (m->d)
		MHD_stop_daemon(m->d);
	free(m->key);
	free(m->cert);
	free(m);
}
