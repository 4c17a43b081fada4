/* siem: OCSF and RFC 5424 syslog from audit records, and a syslog sender
 * (siem.h). */
#define _GNU_SOURCE /* struct addrinfo in strict C mode */
#include <errno.h>
#include <jansson.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "siem.h"

/* ---- shared ---- */

static int put(mtd_buf *b, const char *s)
{
	return mtd_buf_put(b, s, strlen(s));
}

/* s through mtd_escape: printable UTF-8, one line, whatever s holds. The
 * result is malloc'ed (NULL when memory runs out). */
static char *escaped(const char *s)
{
	size_t n = strlen(s), need = mtd_escape(NULL, 0, s, n) + 1;
	char *p = malloc(need);
	if (p)
		mtd_escape(p, need, s, n);
	return p;
}

/* A JSON string of s: valid UTF-8 is kept as it is, anything else is
 * escaped first. NULL s: JSON null. */
static json_t *jstr(const char *s)
{
	json_t *v;
	char *e;
	if (!s)
		return json_null();
	if ((v = json_string(s)))
		return v;
	if (!(e = escaped(s)))
		return NULL;
	v = json_string(e);
	free(e);
	return v;
}

static const char *field(json_t *o, const char *k1, const char *k2)
{
	json_t *v = json_object_get(o, k1);
	if (k2)
		v = json_object_get(v, k2);
	return json_is_string(v) ? json_string_value(v) : NULL;
}

/* OCSF severity_id of a threat level name. */
static int severity_of(const char *level)
{
	if (!level)
		return 1;
	if (!strcmp(level, "low"))
		return 2;
	if (!strcmp(level, "medium"))
		return 3;
	if (!strcmp(level, "high"))
		return 4;
	return 1; /* none, secured: Informational */
}

static const char *const severity_names[] = {"Unknown", "Informational", "Low", "Medium",
					     "High"};

/* ---- OCSF ---- */

static int is_threat_message(const mtd_audit_rec *r, json_t *d)
{
	const char *t = field(d, "type", NULL);
	return !strcmp(r->kind, "message") && t && (!strcmp(t, "threat") || !strcmp(t, "threat_event"));
}

/* OCSF api_activity activity of a record kind: 1 Create, 3 Update,
 * 4 Delete, 99 Other. */
static int api_activity(const char *kind)
{
	static const char *const create[] = {"init", "import", "connector_add", "inventory",
					     "parked", "id_learned", "checkpoint", "baseline"};
	static const char *const update[] = {"connector_set", "connector_state", "connector_token",
					     "unparked", "evaluate"};
	for (size_t i = 0; i < sizeof create / sizeof *create; i++)
		if (!strcmp(kind, create[i]))
			return 1;
	for (size_t i = 0; i < sizeof update / sizeof *update; i++)
		if (!strcmp(kind, update[i]))
			return 3;
	if (strstr(kind, "remove") || strstr(kind, "expired") || strstr(kind, "prune"))
		return 4;
	return 99;
}

int mtd_siem_ocsf(mtd_buf *b, const mtd_audit_rec *r, const char *host)
{
	json_t *d = json_loads(r->detail ? r->detail : "{}", JSON_DECODE_ANY, NULL);
	json_t *ev = json_object(), *meta = json_object(), *prod = json_object(), *un = json_object();
	json_t *rec = json_object();
	char uid[64], *text = NULL;
	int cls, act, sev = 1, rc = -1;
	const char *cname, *aname;

	if (!ev || !meta || !prod || !un || !rec)
		goto out;
	if (!d)
		d = json_null();
	snprintf(uid, sizeof uid, "%lld", (long long)r->seq);
	json_object_set_new(prod, "name", json_string("mtdgate"));
	json_object_set_new(prod, "vendor_name", json_string("mtdgate"));
	json_object_set_new(prod, "version", json_string(MTD_VERSION));
	json_object_set_new(meta, "version", json_string(MTD_OCSF_VERSION));
	json_object_set_new(meta, "product", prod);
	prod = NULL;
	json_object_set_new(meta, "uid", json_string(uid));
	json_object_set_new(meta, "log_name", json_string("audit"));
	if (!strcmp(r->kind, "decision")) {
		const char *from = field(d, "from", "state"), *to = field(d, "to", "state");
		json_t *fi = json_object(), *co = json_object(), *dev = json_object();
		json_t *reasons = json_object_get(d, "reasons");
		char title[160];
		int st = to && !strcmp(to, "compliant") ? 1 : to && !strcmp(to, "noncompliant") ? 3 : 2;
		cls = 2003;
		cname = "Compliance Finding";
		act = !from || !strcmp(from, "not_evaluated") ? 1 : 2;
		aname = act == 1 ? "Create" : "Update";
		sev = severity_of(field(d, "to", "level"));
		snprintf(uid, sizeof uid, "mtdgate-decision-%lld", (long long)r->seq);
		json_object_set_new(fi, "uid", json_string(uid));
		snprintf(title, sizeof title, "MTD compliance: %s -> %s", from ? from : "?",
			 to ? to : "?");
		json_object_set_new(fi, "title", json_string(title));
		if (json_is_array(reasons) && json_array_size(reasons))
			json_object_set_new(fi, "desc", jstr(json_string_value(json_array_get(reasons, 0))));
		json_object_set_new(fi, "types", json_pack("[s]", "mtd_decision"));
		json_object_set_new(co, "status_id", json_integer(st));
		json_object_set_new(co, "status", json_string(st == 1 ? "Pass" : st == 3 ? "Fail"
										: "Warning"));
		json_object_set_new(co, "standards", json_pack("[s]", "mtdgate MTD policy"));
		json_object_set_new(co, "control", json_string("device threat level"));
		if (json_is_array(reasons))
			json_object_set(co, "status_details", reasons);
		json_object_set_new(dev, "type_id", json_integer(0));
		json_object_set_new(dev, "type", json_string("Unknown"));
		json_object_set_new(dev, "uid", jstr(r->device ? r->device : "?"));
		json_object_set_new(ev, "finding_info", fi);
		json_object_set_new(ev, "compliance", co);
		json_object_set_new(ev, "device", dev);
	} else if (is_threat_message(r, d)) {
		json_t *fi = json_object(), *dev = json_object();
		char title[160];
		cls = 2004;
		cname = "Detection Finding";
		act = 1;
		aname = "Create";
		sev = severity_of(field(d, "level", NULL));
		snprintf(uid, sizeof uid, "mtdgate-message-%lld", (long long)r->seq);
		json_object_set_new(fi, "uid", json_string(uid));
		snprintf(title, sizeof title, "MTD report: level %s",
			 field(d, "level", NULL) ? field(d, "level", NULL) : "none");
		json_object_set_new(fi, "title", json_string(title));
		json_object_set_new(fi, "types", json_pack("[s]", "mtd_threat_report"));
		json_object_set_new(fi, "product", json_pack("{s:o}", "name", jstr(r->vendor)));
		json_object_set_new(dev, "type_id", json_integer(0));
		json_object_set_new(dev, "type", json_string("Unknown"));
		json_object_set_new(dev, "uid", jstr(r->device ? r->device : "?"));
		json_object_set_new(ev, "finding_info", fi);
		json_object_set_new(ev, "device", dev);
	} else {
		cls = 6003;
		cname = "API Activity";
		act = api_activity(r->kind);
		aname = act == 1 ? "Create" : act == 3 ? "Update" : act == 4 ? "Delete" : "Other";
		if (!strcmp(r->kind, "message_rejected") || !strcmp(r->kind, "app_wipe"))
			sev = 3;
		json_object_set_new(ev, "actor", json_pack("{s:s}", "app_name", "mtdgate"));
		json_object_set_new(ev, "api", json_pack("{s:o,s:{s:s}}", "operation", jstr(r->kind),
							 "service", "name", "mtdgate"));
		json_object_set_new(ev, "src_endpoint", json_pack("{s:o}", "hostname", jstr(host)));
	}
	json_object_set_new(ev, "category_uid", json_integer(cls / 1000));
	json_object_set_new(ev, "category_name",
			    json_string(cls / 1000 == 2 ? "Findings" : "Application Activity"));
	json_object_set_new(ev, "class_uid", json_integer(cls));
	json_object_set_new(ev, "class_name", json_string(cname));
	json_object_set_new(ev, "activity_id", json_integer(act));
	json_object_set_new(ev, "activity_name", json_string(aname));
	json_object_set_new(ev, "type_uid", json_integer((json_int_t)cls * 100 + act));
	{
		char tn[80];
		snprintf(tn, sizeof tn, "%s: %s", cname, aname);
		json_object_set_new(ev, "type_name", json_string(tn));
	}
	json_object_set_new(ev, "severity_id", json_integer(sev));
	json_object_set_new(ev, "severity", json_string(severity_names[sev]));
	json_object_set_new(ev, "time", json_integer((json_int_t)r->at * 1000));
	json_object_set_new(ev, "metadata", meta);
	meta = NULL;
	json_object_set_new(rec, "seq", json_integer((json_int_t)r->seq));
	json_object_set_new(rec, "kind", jstr(r->kind));
	json_object_set_new(rec, "vendor", jstr(r->vendor));
	json_object_set_new(rec, "device", jstr(r->device));
	json_object_set(rec, "detail", d);
	json_object_set_new(un, "mtdgate", rec);
	rec = NULL;
	json_object_set_new(ev, "unmapped", un);
	un = NULL;
	text = json_dumps(ev, JSON_COMPACT | JSON_PRESERVE_ORDER | JSON_ENCODE_ANY);
	rc = text ? put(b, text) : -1;
out:
	free(text);
	json_decref(d);
	json_decref(ev);
	json_decref(meta);
	json_decref(prod);
	json_decref(un);
	json_decref(rec);
	return rc;
}

/* ---- RFC 5424 ---- */

void mtd_siem_hostname(char *buf, size_t n)
{
	size_t j = 0;
	char h[256] = "";
	if (gethostname(h, sizeof h - 1) != 0)
		h[0] = '\0';
	for (size_t i = 0; h[i] && j + 1 < n && j < 255; i++)
		if (h[i] > 32 && h[i] < 127) /* PRINTUSASCII */
			buf[j++] = h[i];
	if (!j)
		buf[j++] = '-';
	buf[j] = '\0';
}

/* An SD-PARAM: name="value", the value's '"', '\' and ']' escaped with a
 * backslash (RFC 5424 6.3.3), controls as mtd_escape writes them. */
static int param(mtd_buf *b, const char *name, const char *value)
{
	char *e;
	int rc = 0;
	if (!value)
		return 0;
	if (!(e = escaped(value)))
		return -1;
	rc = put(b, " ") || put(b, name) || put(b, "=\"");
	for (const char *p = e; !rc && *p; p++)
		rc = ((*p == '"' || *p == '\\' || *p == ']') && put(b, "\\")) ||
		     mtd_buf_put(b, p, 1);
	free(e);
	return rc || put(b, "\"");
}

/* PRINTUSASCII, 1 to max bytes, or "-". */
static int token(mtd_buf *b, const char *s, size_t max)
{
	size_t n = 0;
	for (; s && *s && n < max; s++)
		if (*s > 32 && *s < 127 && mtd_buf_put(b, s, 1) == 0)
			n++;
	return n ? 0 : put(b, "-");
}

int mtd_siem_syslog(mtd_buf *b, const mtd_audit_rec *r, const char *host, long pid, size_t max)
{
	json_t *d = json_loads(r->detail ? r->detail : "{}", JSON_DECODE_ANY, NULL);
	const char *to = NULL, *access = NULL, *level = NULL;
	char head[80], when[40], num[32], *msg = NULL;
	size_t start = b->len, len;
	int sev = 6, rc;

	if (!strcmp(r->kind, "decision")) {
		to = field(d, "to", "state");
		access = field(d, "to", "access");
		level = field(d, "to", "level");
		sev = access && !strcmp(access, "block") ? 4 : 5; /* warning, notice */
	} else if (!strcmp(r->kind, "message_rejected") || !strcmp(r->kind, "app_wipe")) {
		sev = 4;
	}
	/* <PRI>1 TIMESTAMP HOSTNAME APP-NAME PROCID MSGID */
	snprintf(head, sizeof head, "<%d>1 %s ", 13 * 8 + sev, mtd_time_format(r->at, when,
									    sizeof when));
	snprintf(num, sizeof num, "%ld", pid);
	rc = put(b, head) || token(b, host, 255) || put(b, " mtdgate ") || token(b, num, 128) ||
	     put(b, " ") || token(b, r->kind, 32) || put(b, " [" MTD_SYSLOG_SDID);
	snprintf(num, sizeof num, "%lld", (long long)r->seq);
	rc = rc || param(b, "seq", num) || param(b, "kind", r->kind) || param(b, "vendor", r->vendor) ||
	     param(b, "device", r->device) || param(b, "state", to) || param(b, "level", level) ||
	     param(b, "access", access) || put(b, "]");
	json_decref(d);
	if (rc || !(msg = escaped(r->detail ? r->detail : "")))
		return -1;
	len = strlen(msg);
	if (max && b->len - start + 1 + len > max) {
		/* cut at a character boundary (escaped text is UTF-8) */
		size_t used = b->len - start, room = max > used + 1 ? max - used - 1 : 0;
		len = room < len ? room : len;
		while (len && ((unsigned char)msg[len] & 0xC0) == 0x80)
			len--;
	}
	rc = len ? put(b, " ") || mtd_buf_put(b, msg, len) : 0;
	free(msg);
	return rc ? -1 : 0;
}

/* ---- sending ---- */

struct mtd_siem_target {
	int fd;
};

int mtd_siem_open(const char *spec, mtd_siem_target **out, char *err, size_t n)
{
	mtd_siem_target *t;
	int fd = -1;

	*out = NULL;
	if (!strncmp(spec, "unix:", 5)) {
		struct sockaddr_un sa = {.sun_family = AF_UNIX};
		if (!spec[5] || strlen(spec + 5) >= sizeof sa.sun_path) {
			snprintf(err, n, "%s: no path, or a path too long for a socket", spec);
			return -1;
		}
		strcpy(sa.sun_path, spec + 5);
		fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
		if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof sa) != 0) {
			snprintf(err, n, "%s: %s", spec, strerror(errno));
			if (fd >= 0)
				close(fd);
			return -1;
		}
	} else if (!strncmp(spec, "udp://", 6)) {
		char host[256];
		const char *h = spec + 6, *colon, *port;
		struct addrinfo hints = {.ai_socktype = SOCK_DGRAM}, *ai = NULL, *a;
		int g;
		if (*h == '[') {
			const char *close_ = strchr(h, ']');
			if (!close_ || close_[1] != ':') {
				snprintf(err, n, "%s: expected udp://[ADDRESS]:PORT", spec);
				return -1;
			}
			snprintf(host, sizeof host, "%.*s", (int)(close_ - h - 1), h + 1);
			port = close_ + 2;
		} else {
			if (!(colon = strrchr(h, ':')) || colon == h || (size_t)(colon - h) >= sizeof host) {
				snprintf(err, n, "%s: expected udp://HOST:PORT", spec);
				return -1;
			}
			snprintf(host, sizeof host, "%.*s", (int)(colon - h), h);
			port = colon + 1;
		}
		if (!*port || strspn(port, "0123456789") != strlen(port)) {
			snprintf(err, n, "%s: the port is not a number", spec);
			return -1;
		}
		if ((g = getaddrinfo(host, port, &hints, &ai)) != 0) {
			snprintf(err, n, "%s: %s", spec, gai_strerror(g));
			return -1;
		}
		for (a = ai; a; a = a->ai_next) {
			fd = socket(a->ai_family, a->ai_socktype | SOCK_CLOEXEC, a->ai_protocol);
			if (fd >= 0 && connect(fd, a->ai_addr, a->ai_addrlen) == 0)
				break;
			if (fd >= 0)
				close(fd);
			fd = -1;
		}
		freeaddrinfo(ai);
		if (fd < 0) {
			snprintf(err, n, "%s: %s", spec, strerror(errno));
			return -1;
		}
	} else {
		snprintf(err, n, "'%s' is not udp://HOST:PORT or unix:PATH", spec);
		return -1;
	}
	if (!(t = malloc(sizeof *t))) {
		close(fd);
		snprintf(err, n, "out of memory");
		return -1;
	}
	t->fd = fd;
	*out = t;
	return 0;
}

int mtd_siem_send(mtd_siem_target *t, const void *p, size_t n)
{
	ssize_t w;
	do
		w = send(t->fd, p, n, MSG_NOSIGNAL);
	while (w < 0 && errno == EINTR);
	return w == (ssize_t)n ? 0 : -1;
}

void mtd_siem_close(mtd_siem_target *t)
{
	if (t) {
		close(t->fd);
		free(t);
	}
}

/* ---- forwarding ---- */

int mtd_siem_forward_start(mtd_t *h, mtd_siem_forward *f, mtd_siem_target *t)
{
	char head[65];
	int64_t at;
	int rc;
	memset(f, 0, sizeof *f);
	f->target = t;
	f->pid = (long)getpid();
	mtd_siem_hostname(f->host, sizeof f->host);
	rc = mtd_audit_head(h, &f->last_seq, &at, head);
	return rc == MTD_ENOTFOUND ? 0 : rc; /* an empty log: from its start */
}

static int forward_one(void *ud, const mtd_audit_rec *r)
{
	mtd_siem_forward *f = ud;
	f->last_seq = r->seq;
	if (!strcmp(r->kind, "row") || !strcmp(r->kind, "outcome") || !strcmp(r->kind, "seal"))
		return 0;
	f->line.len = 0;
	if (mtd_siem_syslog(&f->line, r, f->host, f->pid, MTD_SYSLOG_MAX))
		return MTD_ENOMEM;
	if (mtd_siem_send(f->target, f->line.data, f->line.len))
		f->failed++; /* a datagram lost, as syslog over UDP may lose any */
	else
		f->sent++;
	return 0;
}

int mtd_siem_forward_poll(mtd_t *h, mtd_siem_forward *f)
{
	mtd_audit_filter flt = {0};
	flt.after_seq = f->last_seq;
	return mtd_audit_show(h, &flt, forward_one, f);
}

void mtd_siem_forward_stop(mtd_siem_forward *f)
{
	mtd_buf_free(&f->line);
}
