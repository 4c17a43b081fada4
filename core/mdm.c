/* Microsoft Graph pages and CSV into SPEC 4.2 records (mdm.h). Graph's
 * resources as documented at Microsoft Learn (README, "Imports from an
 * MDM"): managedDevice, detectedApp, group members (device, user). */
#define _GNU_SOURCE /* fopencookie: a stream over peeked bytes and the rest */
#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "codec.h"
#include "mdm.h"
#include "mtdgate/mtdgate.h"
#include "mtdgate/wire.h"

#define MAX_PAGE (64u << 20) /* bytes of one Graph page (a JSON document) */
#define MAX_CSV_ROW MTD_MAX_RECORD
#define MAX_CSV_COLS 64

/* ---- format detection ---- */

typedef struct peeked {
	FILE *in;
	unsigned char buf[4096];
	size_t n, pos;
} peeked;

static ssize_t peeked_read(void *c, char *out, size_t size)
{
	peeked *p = c;
	if (p->pos < p->n) {
		size_t k = p->n - p->pos < size ? p->n - p->pos : size;
		memcpy(out, p->buf + p->pos, k);
		p->pos += k;
		return (ssize_t)k;
	}
	size = fread(out, 1, size, p->in);
	return size == 0 && ferror(p->in) ? -1 : (ssize_t)size;
}

static int peeked_close(void *c)
{
	free(c);
	return 0;
}

static int classify(const unsigned char *b, size_t n)
{
	size_t i = 0, eol;
	if (n >= 3 && b[0] == 0xef && b[1] == 0xbb && b[2] == 0xbf)
		i = 3;
	while (i < n && (b[i] == ' ' || b[i] == '\t' || b[i] == '\r' || b[i] == '\n'))
		i++;
	if (i == n)
		return MTD_FORMAT_RECORDS;
	if (b[i] == '{') {
		for (i++; i < n && isspace(b[i]); i++)
			;
		if (i + 8 <= n && (!memcmp(b + i, "\"@odata.", 8) || !memcmp(b + i, "\"value\"", 7)))
			return MTD_FORMAT_GRAPH;
		return MTD_FORMAT_RECORDS;
	}
	if (b[i] == '[' || b[i] == ':' || b[i] >= 0x80)
		return MTD_FORMAT_RECORDS;
	for (eol = i; eol < n && b[eol] != '\n'; eol++)
		if (b[eol] == ',')
			return MTD_FORMAT_CSV;
	return MTD_FORMAT_RECORDS;
}

int mtd_mdm_detect(FILE *in, int *format, FILE **out)
{
	peeked *p = calloc(1, sizeof *p);
	long at = ftell(in);
	if (!p)
		return MTD_ENOMEM;
	p->in = in;
	p->n = fread(p->buf, 1, sizeof p->buf, in);
	if (p->n < sizeof p->buf && ferror(in)) {
		free(p);
		return MTD_EIO;
	}
	*format = classify(p->buf, p->n);
	if (at >= 0 && fseek(in, at, SEEK_SET) == 0) {
		free(p);
		*out = in;
		return 0;
	}
	clearerr(in);
	*out = fopencookie(p, "rb", (cookie_io_functions_t){.read = peeked_read, .close = peeked_close});
	if (!*out) {
		free(p);
		return MTD_ENOMEM;
	}
	return 0;
}

/* ---- values ---- */

/* A Graph string property as present: NULL for null, absent or "". */
static const char *jstr(const json_t *o, const char *key)
{
	const char *s = json_string_value(json_object_get(o, key));
	return s && *s ? s : NULL;
}

/* Intune writes zeros for an identifier it does not have
 * ("00000000-0000-0000-0000-000000000000", "000000000000"). */
static int all_zero(const char *s)
{
	int digits = 0;
	for (; *s; s++) {
		if (*s == '0')
			digits++;
		else if (*s != '-' && *s != ':' && *s != ' ')
			return 0;
	}
	return digits > 0;
}

/* GUIDs compare without case (Graph writes them in lowercase, vendors not
 * always): a GUID-shaped value is kept in lowercase. */
static void guid_lower(char *s)
{
	static const int dash[] = {8, 13, 18, 23};
	size_t n = strlen(s);
	if (n != 36)
		return;
	for (size_t i = 0, d = 0; i < n; i++) {
		if (d < 4 && (size_t)dash[d] == i) {
			if (s[i] != '-')
				return;
			d++;
		} else if (!isxdigit((unsigned char)s[i])) {
			return;
		}
	}
	for (size_t i = 0; i < n; i++)
		s[i] = (char)tolower((unsigned char)s[i]);
}

/* A Wi-Fi MAC as 12 hex digits (Graph's form, or with ':' or '-') into
 * aa:bb:cc:dd:ee:ff in out (18 bytes); other text is copied as it is. */
static void mac_norm(const char *s, char out[64])
{
	char hex[12];
	size_t k = 0;
	for (const char *p = s; *p; p++) {
		if (isxdigit((unsigned char)*p) && k < 12)
			hex[k++] = (char)tolower((unsigned char)*p);
		else if (*p != ':' && *p != '-') {
			k = 99;
			break;
		}
	}
	if (k != 12) {
		snprintf(out, 64, "%s", s);
		return;
	}
	for (size_t i = 0; i < 6; i++)
		snprintf(out + 3 * i, 4, "%c%c%s", hex[2 * i], hex[2 * i + 1], i < 5 ? ":" : "");
}

static int ieq(const char *a, const char *b)
{
	return a && b && strcasecmp(a, b) == 0;
}

/* ---- groups ---- */

typedef struct gm {
	int kind; /* GM_* */
	char *key;
	char *group;
} gm;
enum { GM_ENTRA, GM_USER_ID, GM_UPN };

struct mtd_mdm_groups {
	gm *v;
	size_t n, cap;
};

void mtd_mdm_groups_free(mtd_mdm_groups *g)
{
	if (!g)
		return;
	for (size_t i = 0; i < g->n; i++) {
		free(g->v[i].key);
		free(g->v[i].group);
	}
	free(g->v);
	free(g);
}

static int gm_add(mtd_mdm_groups *g, int kind, const char *key, const char *group)
{
	gm *e;
	if (g->n == g->cap) {
		size_t cap = g->cap ? 2 * g->cap : 64;
		gm *v = realloc(g->v, cap * sizeof *v);
		if (!v)
			return MTD_ENOMEM;
		g->v = v;
		g->cap = cap;
	}
	e = &g->v[g->n];
	e->kind = kind;
	e->key = strdup(key);
	e->group = strdup(group);
	if (!e->key || !e->group) {
		free(e->key);
		free(e->group);
		return MTD_ENOMEM;
	}
	for (char *p = e->key; *p; p++) /* GUIDs and UPNs compare without case */
		*p = (char)tolower((unsigned char)*p);
	g->n++;
	return 0;
}

/* ---- Graph pages: one JSON document at a time ---- */

struct mtd_mdm {
	FILE *in;
	char *name;
	int format, apps;
	const mtd_mdm_groups *groups;
	uint64_t offset, line;
	int eof, more_pages;
	char where[400];
	/* Graph */
	char *doc;
	size_t ndoc, cap;
	uint64_t page, page_line;
	json_t *items;  /* the page's elements (a borrowed "value" or the document) */
	json_t *root;   /* the page */
	size_t item, sub; /* next element; apps: next entry of its list */
	/* CSV */
	char **head;
	size_t nhead;
	int csv_dead;
	/* the record handed out */
	mtd_buf mp;
	msgpack_zone zone;
	msgpack_object obj;
};

static int get(mtd_mdm *m)
{
	int c = getc(m->in);
	if (c != EOF) {
		m->offset++;
		if (c == '\n')
			m->line++;
	}
	return c;
}

/* The next JSON document into m->doc (bracket depth outside strings),
 * skipping white space and a BOM. 1, 0 at the end, MTD_EMALFORMED (err;
 * the rest of the input is not read), MTD_EIO. */
static int next_doc(mtd_mdm *m, char *err, size_t n)
{
	int c, depth = 0, str = 0, esc = 0;
	m->ndoc = 0;
	do {
		c = get(m);
		if (c == 0xef && m->offset == 1) { /* a BOM */
			if (get(m) != 0xbb || get(m) != 0xbf)
				goto bad;
			c = ' ';
		}
	} while (c == ' ' || c == '\t' || c == '\r' || c == '\n');
	if (c == EOF)
		return ferror(m->in) ? MTD_EIO : 0;
	m->page_line = m->line + 1;
	if (c != '{' && c != '[')
		goto bad;
	for (;; c = get(m)) {
		if (c == EOF) {
			if (ferror(m->in))
				return MTD_EIO;
			snprintf(m->where, sizeof m->where, "%s line %llu", m->name,
				 (unsigned long long)m->page_line);
			mtd_err(err, n, "the JSON document ends before it is complete");
			return MTD_EMALFORMED;
		}
		if (m->ndoc == m->cap) {
			size_t cap = m->cap ? 2 * m->cap : 1 << 16;
			char *d;
			if (cap > MAX_PAGE + 1 || !(d = realloc(m->doc, cap))) {
				snprintf(m->where, sizeof m->where, "%s line %llu", m->name,
					 (unsigned long long)m->page_line);
				mtd_err(err, n, "a page of more than %u bytes", MAX_PAGE);
				return MTD_EMALFORMED;
			}
			m->doc = d;
			m->cap = cap;
		}
		m->doc[m->ndoc++] = (char)c;
		if (str) {
			if (esc)
				esc = 0;
			else if (c == '\\')
				esc = 1;
			else if (c == '"')
				str = 0;
		} else if (c == '"') {
			str = 1;
		} else if (c == '{' || c == '[') {
			depth++;
		} else if ((c == '}' || c == ']') && --depth == 0) {
			return 1;
		}
	}
bad:
	snprintf(m->where, sizeof m->where, "%s line %llu", m->name, (unsigned long long)m->line + 1);
	mtd_err(err, n, "not a JSON document (a Graph page starts with '{')");
	return MTD_EMALFORMED;
}

/* The next page's elements into m->items. 1, 0 at the end, or an error as
 * next_doc; a page that is not one (an error answer, bad JSON) is
 * MTD_EMALFORMED, and reading goes on. */
static int next_page(mtd_mdm *m, char *err, size_t n)
{
	json_error_t je;
	json_t *v;
	int rc;

	json_decref(m->root);
	m->root = m->items = NULL;
	m->item = m->sub = 0;
	if ((rc = next_doc(m, err, n)) <= 0) {
		if (rc < 0)
			m->eof = 1;
		return rc;
	}
	m->page++;
	snprintf(m->where, sizeof m->where, "%s page %llu (line %llu)", m->name,
		 (unsigned long long)m->page, (unsigned long long)m->page_line);
	m->root = json_loadb(m->doc, m->ndoc, JSON_REJECT_DUPLICATES, &je);
	if (!m->root) {
		mtd_err(err, n, "not JSON: %s (line %d of the page)", je.text, je.line);
		return MTD_EMALFORMED;
	}
	if (json_is_array(m->root)) { /* the elements alone, or pages in an array */
		m->items = m->root;
		return 1;
	}
	m->more_pages = jstr(m->root, "@odata.nextLink") != NULL;
	if ((v = json_object_get(m->root, "error"))) {
		mtd_err(err, n, "an error answer, not a page: %s",
			jstr(v, "message") ? jstr(v, "message") : "(no message)");
		return MTD_EMALFORMED;
	}
	v = json_object_get(m->root, "value");
	if (json_is_array(v)) {
		m->items = v;
	} else if (v) {
		mtd_err(err, n, "field 'value': not an array");
		return MTD_EMALFORMED;
	} else { /* one resource (GET .../managedDevices/{id}) */
		m->items = json_array();
		if (!m->items || json_array_append(m->items, m->root)) {
			json_decref(m->items);
			return MTD_ENOMEM;
		}
		json_decref(m->root);
		m->root = m->items;
	}
	return 1;
}

/* Field names in decode errors, as the source spells them. */
static void rename_field(char *err, size_t n, const char *const (*names)[2])
{
	char rest[600];
	for (size_t i = 0; names[i][0]; i++) {
		size_t k = strlen(names[i][0]);
		if (!strncmp(err, "field '", 7) && !strncmp(err + 7, names[i][0], k) &&
		    (err[7 + k] == '\'' || err[7 + k] == '[' || err[7 + k] == '.')) {
			snprintf(rest, sizeof rest, "%s", err + 7 + k);
			snprintf(err, n, "field '%s%s", names[i][1], rest);
			return;
		}
	}
}

static const char *const graph_device_names[][2] = {
	{"id", "id"}, {"os_version", "osVersion"}, {"user", "userPrincipalName"},
	{"ids.intune", "id"}, {"ids.entra", "azureADDeviceId"}, {"ids.serial", "serialNumber"},
	{"ids.imei", "imei"}, {"ids.meid", "meid"}, {"ids.udid", "udid"},
	{"ids.wifi_mac", "wiFiMacAddress"}, {"app_id", "id"}, {"name", "displayName"},
	{"bundle_size", "sizeInByte"}, {"version", "version"}, {NULL, NULL}};

/* Unpack m->mp into m->obj and check it with the record's decoder. */
static int hand_over(mtd_mdm *m, char *err, size_t n, const char *const (*names)[2])
{
	size_t off = 0;
	msgpack_zone_clear(&m->zone);
	if (msgpack_unpack((const char *)m->mp.data, m->mp.len, &off, &m->zone, &m->obj) !=
	    MSGPACK_UNPACK_SUCCESS)
		return MTD_ENOMEM;
	if (m->apps) {
		mtd_app_rec a;
		if (mtd_decode_app(&m->obj, &a, err, n) == 0)
			return 1;
	} else {
		mtd_device_rec d;
		if (mtd_decode_device(&m->obj, &d, err, n) == 0)
			return 1;
	}
	if (names)
		rename_field(err, n, names);
	return MTD_EMALFORMED;
}

static int put_kv(mtd_buf *b, const char *k, const char *v)
{
	return mtd_mp_str(b, k, strlen(k)) || mtd_mp_str(b, v, strlen(v));
}

static int graph_platform(const char *os)
{
	if (!os)
		return -1;
	if (!strncasecmp(os, "android", 7))
		return MTD_PLAT_ANDROID;
	if (ieq(os, "ios") || ieq(os, "ipados"))
		return MTD_PLAT_IOS;
	if (!strncasecmp(os, "windows", 7))
		return MTD_PLAT_WINDOWS;
	if (ieq(os, "macos") || ieq(os, "mac os x") || ieq(os, "macmdm") || ieq(os, "mac"))
		return MTD_PLAT_MACOS;
	return -1;
}

/* Enrolled unless Intune manages it only through Exchange (or does not
 * know how), or it is being retired, wiped or deleted. */
static int graph_enrolled(const json_t *e)
{
	static const char *const out_states[] = {"retirePending", "retireIssued", "wipePending",
						 "wipeIssued", "deletePending", "discovered", NULL};
	const char *agent = jstr(e, "managementAgent"), *state = jstr(e, "managementState");
	if (agent && (ieq(agent, "eas") || ieq(agent, "unknown") || ieq(agent, "msSense")))
		return 0;
	for (size_t i = 0; state && out_states[i]; i++)
		if (ieq(state, out_states[i]))
			return 0;
	return 1;
}

/* A copy of the identifier property key of e, as kept: NULL when missing. */
static char *graph_id(const json_t *e, const char *key, char *buf, size_t n)
{
	const char *s = jstr(e, key);
	if (!s || all_zero(s))
		return NULL;
	snprintf(buf, n, "%s", s);
	guid_lower(buf);
	if (!strcmp(key, "imei") || !strcmp(key, "meid")) { /* "35 674108 123456 7" */
		size_t w = 0;
		for (size_t i = 0; buf[i]; i++)
			if (buf[i] != ' ' && buf[i] != '-')
				buf[w++] = buf[i];
		buf[w] = 0;
	}
	return buf;
}

static int graph_device(mtd_mdm *m, const json_t *e, char *err, size_t n)
{
	static const char *const idmap[][2] = {{"intune", "id"},           {"entra", "azureADDeviceId"},
					       {"serial", "serialNumber"}, {"imei", "imei"},
					       {"meid", "meid"},           {"udid", "udid"},
					       {"wifi_mac", "wiFiMacAddress"}};
	char ids[7][160], entra[160], uid[160], upn[600], mac[64];
	const char *idv[7], *groups[MTD_MAX_GROUPS + 1];
	const char *os = jstr(e, "operatingSystem"), *own = jstr(e, "managedDeviceOwnerType");
	const char *user = jstr(e, "userPrincipalName");
	size_t nids = 0, ng = 0, nkeys;
	int plat;
	mtd_buf *b = &m->mp;

	if (!json_is_object(e)) {
		mtd_err(err, n, "not an object");
		return MTD_EMALFORMED;
	}
	if (!jstr(e, "id")) {
		mtd_err(err, n, "field 'id': missing (a managedDevice has one)");
		return MTD_EMALFORMED;
	}
	if ((plat = graph_platform(os)) < 0) {
		mtd_err(err, n, "field 'operatingSystem': %s%s%s is not Android, iOS, iPadOS, Windows or macOS",
			os ? "'" : "", os ? os : "missing", os ? "'" : "");
		return MTD_EMALFORMED;
	}
	if (own && !ieq(own, "company") && !ieq(own, "personal") && !ieq(own, "unknown")) {
		mtd_err(err, n, "field 'managedDeviceOwnerType': '%s' is not company, personal or unknown", own);
		return MTD_EMALFORMED;
	}
	if (!graph_id(e, "id", ids[0], sizeof ids[0])) {
		mtd_err(err, n, "field 'id': '%s' is no identifier", jstr(e, "id"));
		return MTD_EMALFORMED;
	}
	for (size_t i = 0; i < 7; i++) {
		idv[i] = graph_id(e, idmap[i][1], ids[i], sizeof ids[i]);
		if (idv[i] && i == 6) {
			mac_norm(idv[i], mac);
			idv[i] = mac;
		}
		nids += idv[i] != NULL;
	}
	/* groups: by the device's Entra id, its user's object id, its UPN */
	if (m->groups) {
		const char *keys[3] = {graph_id(e, "azureADDeviceId", entra, sizeof entra),
				       graph_id(e, "userId", uid, sizeof uid), NULL};
		if (user) {
			snprintf(upn, sizeof upn, "%s", user);
			for (char *p = upn; *p; p++)
				*p = (char)tolower((unsigned char)*p);
			keys[2] = upn;
		}
		for (size_t i = 0; i < m->groups->n; i++) {
			const gm *g = &m->groups->v[i];
			int dup = 0;
			if (!keys[g->kind] || strcmp(keys[g->kind], g->key))
				continue;
			for (size_t j = 0; j < ng && !dup; j++)
				dup = !strcmp(groups[j], g->group);
			if (!dup && ng <= MTD_MAX_GROUPS)
				groups[ng++] = g->group; /* one more than allowed: refused below */
		}
	}
	nkeys = 4 + (jstr(e, "osVersion") != NULL) + (user != NULL) + (nids > 0) + (ng > 0);
	b->len = 0;
	if (mtd_mp_container(b, 1, nkeys) || put_kv(b, "id", ids[0]) ||
	    put_kv(b, "platform", mtd_platform_name(plat)) ||
	    put_kv(b, "ownership", ieq(own, "company") ? "corporate" : "personal") ||
	    put_kv(b, "management", graph_enrolled(e) ? "enrolled" : "unenrolled") ||
	    (jstr(e, "osVersion") && put_kv(b, "os_version", jstr(e, "osVersion"))) ||
	    (user && put_kv(b, "user", user)))
		return MTD_ENOMEM;
	if (nids) {
		if (mtd_mp_str(b, "ids", 3) || mtd_mp_container(b, 1, nids))
			return MTD_ENOMEM;
		for (size_t i = 0; i < 7; i++)
			if (idv[i] && put_kv(b, idmap[i][0], idv[i]))
				return MTD_ENOMEM;
	}
	if (ng) {
		if (mtd_mp_str(b, "groups", 6) || mtd_mp_container(b, 0, ng))
			return MTD_ENOMEM;
		for (size_t i = 0; i < ng; i++)
			if (mtd_mp_str(b, groups[i], strlen(groups[i])))
				return MTD_ENOMEM;
	}
	return hand_over(m, err, n, graph_device_names);
}

/* One app record: the device's Intune id, the detectedApp. */
static int graph_app(mtd_mdm *m, const char *device, const json_t *app, char *err, size_t n)
{
	json_t *size = json_object_get(app, "sizeInByte");
	const char *ver = jstr(app, "version"), *name = jstr(app, "displayName");
	char dev[160];
	mtd_buf *b = &m->mp;
	if (!json_is_object(app) || !jstr(app, "id")) {
		mtd_err(err, n, "field 'id': missing (a detectedApp has one)");
		return MTD_EMALFORMED;
	}
	snprintf(dev, sizeof dev, "%s", device);
	guid_lower(dev);
	b->len = 0;
	if (mtd_mp_container(b, 1, 2 + (ver != NULL) + (name != NULL) + json_is_integer(size)) ||
	    put_kv(b, "device", dev) || put_kv(b, "app_id", jstr(app, "id")) ||
	    (ver && put_kv(b, "version", ver)) || (name && put_kv(b, "name", name)) ||
	    (json_is_integer(size) && (mtd_mp_str(b, "bundle_size", 11) ||
				       mtd_mp_int(b, json_integer_value(size)))))
		return MTD_ENOMEM;
	return hand_over(m, err, n, graph_device_names);
}

static int graph_next(mtd_mdm *m, char *err, size_t n)
{
	int rc;
	for (;;) {
		json_t *e, *list;
		if (!m->items || m->item >= json_array_size(m->items)) {
			if (m->eof || (rc = next_page(m, err, n)) == 0)
				return 0;
			if (rc < 0)
				return rc;
			continue;
		}
		e = json_array_get(m->items, m->item);
		snprintf(m->where, sizeof m->where, "%s page %llu (line %llu): %s[%zu]", m->name,
			 (unsigned long long)m->page, (unsigned long long)m->page_line,
			 m->items == m->root ? "" : "value", m->item);
		if (!m->apps) {
			m->item++;
			return graph_device(m, e, err, n);
		}
		/* detectedApps with their managedDevices, or managedDevices with
		 * their detectedApps: one record per (device, app) */
		if ((list = json_object_get(e, "managedDevices"))) {
			if (!json_is_array(list) || m->sub >= json_array_size(list)) {
				m->item++;
				m->sub = 0;
				if (!json_is_array(list)) {
					mtd_err(err, n, "field 'managedDevices': not an array");
					return MTD_EMALFORMED;
				}
				continue;
			}
			snprintf(m->where + strlen(m->where), sizeof m->where - strlen(m->where),
				 ".managedDevices[%zu]", m->sub);
			{
				const json_t *d = json_array_get(list, m->sub++);
				if (!jstr(d, "id")) {
					mtd_err(err, n, "field 'id': missing (a managedDevice has one)");
					return MTD_EMALFORMED;
				}
				return graph_app(m, jstr(d, "id"), e, err, n);
			}
		}
		if ((list = json_object_get(e, "detectedApps"))) {
			if (!json_is_array(list) || m->sub >= json_array_size(list)) {
				m->item++;
				m->sub = 0;
				if (!json_is_array(list)) {
					mtd_err(err, n, "field 'detectedApps': not an array");
					return MTD_EMALFORMED;
				}
				continue;
			}
			snprintf(m->where + strlen(m->where), sizeof m->where - strlen(m->where),
				 ".detectedApps[%zu]", m->sub);
			if (!jstr(e, "id")) {
				m->item++;
				m->sub = 0;
				mtd_err(err, n, "field 'id': missing (a managedDevice has one)");
				return MTD_EMALFORMED;
			}
			return graph_app(m, jstr(e, "id"), json_array_get(list, m->sub++), err, n);
		}
		m->item++;
		mtd_err(err, n, "neither a detectedApp with 'managedDevices' ($expand=managedDevices) "
				"nor a managedDevice with 'detectedApps' ($expand=detectedApps)");
		return MTD_EMALFORMED;
	}
}

/* ---- group membership exports ---- */

/* The members of one group into g. */
static int members(mtd_mdm_groups *g, const json_t *list, const char *group, const char *where,
		   mtd_mdm_diag diag, void *ud, uint64_t *bad)
{
	char msg[700];
	size_t i;
	const json_t *e;
	json_array_foreach(list, i, e) {
		const char *type = jstr(e, "@odata.type");
		const char *dev = jstr(e, "deviceId"), *upn = jstr(e, "userPrincipalName");
		const char *id = jstr(e, "id");
		int rc = 0;
		if ((!type || ieq(type, "#microsoft.graph.device")) && dev && !all_zero(dev))
			rc = gm_add(g, GM_ENTRA, dev, group);
		else if ((!type || ieq(type, "#microsoft.graph.user")) && (upn || id)) {
			if (id)
				rc = gm_add(g, GM_USER_ID, id, group);
			if (!rc && upn)
				rc = gm_add(g, GM_UPN, upn, group);
		} else {
			snprintf(msg, sizeof msg,
				 "%s: member %zu of group '%s': %s%s, not a device with a deviceId or a user "
				 "(a nested group's members: export transitiveMembers)",
				 where, i, group, type ? "a " : "no @odata.type", type ? type : "");
			diag(ud, msg);
			++*bad;
		}
		if (rc)
			return rc;
	}
	return 0;
}

int mtd_mdm_groups_load(mtd_mdm_groups **gp, FILE *in, const char *name, const char *group,
			mtd_mdm_diag diag, void *ud, uint64_t *bad, char *err, size_t n)
{
	mtd_mdm *m;
	char msg[700];
	int rc = 0, k;

	if (!*gp && !(*gp = calloc(1, sizeof **gp)))
		return MTD_ENOMEM;
	if (!(m = mtd_mdm_new(in, name, MTD_FORMAT_GRAPH, 0, NULL)))
		return MTD_ENOMEM;
	while (!rc && (k = next_page(m, err, n)) != 0) {
		size_t i;
		json_t *e;
		if (k == MTD_EMALFORMED && !m->eof) {
			snprintf(msg, sizeof msg, "%s: %s", m->where, err);
			diag(ud, msg);
			++*bad;
			continue;
		}
		if (k < 0) {
			rc = k;
			break;
		}
		if (group) { /* member pages of one group */
			rc = members(*gp, m->items, group, m->where, diag, ud, bad);
			continue;
		}
		json_array_foreach(m->items, i, e) { /* groups with their members */
			const char *gname = jstr(e, "displayName");
			json_t *list = json_object_get(e, "members");
			char where[500];
			snprintf(where, sizeof where, "%s: value[%zu]", m->where, i);
			if (!gname || !json_is_array(list)) {
				snprintf(msg, sizeof msg,
					 "%s: not a group with 'displayName' and 'members' (export groups with "
					 "$expand=members, or give a group's member pages as NAME=FILE)",
					 where);
				diag(ud, msg);
				++*bad;
				continue;
			}
			if ((rc = members(*gp, list, gname, where, diag, ud, bad)))
				break;
			if (jstr(e, "members@odata.nextLink")) {
				snprintf(msg, sizeof msg,
					 "%s: group '%s' has more members than the export holds "
					 "(members@odata.nextLink): give its member pages as '%s=FILE'",
					 where, gname, gname);
				diag(ud, msg);
				++*bad;
			}
		}
	}
	if (!rc && m->more_pages) {
		snprintf(msg, sizeof msg, "%s: @odata.nextLink: the export goes on beyond this file", m->where);
		diag(ud, msg);
		++*bad;
	}
	mtd_mdm_free(m);
	return rc == MTD_EMALFORMED || rc == MTD_EIO ? rc : rc ? MTD_ENOMEM : 0;
}

/* ---- CSV (RFC 4180; LF alone, a BOM and a last line without its end
 * tolerated) ---- */

/* One row's fields into m->doc, NUL-separated, offsets into off. 1, 0 at
 * the end, MTD_EMALFORMED (err; the row is skipped), MTD_EIO. */
static int csv_row(mtd_mdm *m, size_t *off, size_t *nf, char *err, size_t n)
{
	int c, q = 0, any = 0, bad = 0;
	m->ndoc = 0;
	*nf = 0;
	off[(*nf)++] = 0;
	snprintf(m->where, sizeof m->where, "%s line %llu", m->name, (unsigned long long)m->line + 1);
	for (;;) {
		c = get(m);
		if (c == 0xef && m->offset == 1) {
			if (get(m) != 0xbb || get(m) != 0xbf) {
				mtd_err(err, n, "not UTF-8 text");
				m->csv_dead = 1;
				return MTD_EMALFORMED;
			}
			continue;
		}
		if (c == EOF) {
			if (ferror(m->in))
				return MTD_EIO;
			if (q) {
				mtd_err(err, n, "a quoted field is not closed before the end of input");
				return MTD_EMALFORMED;
			}
			if (!any)
				return 0;
			break;
		}
		any = 1;
		if (q) {
			if (c == '"') {
				int d = get(m);
				if (d == '"') {
					c = '"';
				} else {
					q = 0;
					if (d == EOF)
						break;
					ungetc(d, m->in); /* re-read below */
					m->offset--;
					if (d == '\n')
						m->line--;
					continue;
				}
			}
		} else if (c == '"') {
			if (m->ndoc != off[*nf - 1])
				bad = 1; /* a quote inside an unquoted field */
			q = 1;
			continue;
		} else if (c == ',') {
			c = 0;
		} else if (c == '\r') {
			int d = get(m);
			if (d == '\n')
				break;
			if (d != EOF) {
				ungetc(d, m->in);
				m->offset--;
			}
			continue;
		} else if (c == '\n') {
			break;
		}
		if (m->ndoc + 2 > m->cap) {
			size_t cap = m->cap ? 2 * m->cap : 4096;
			char *d;
			if (cap > MAX_CSV_ROW * 2 || !(d = realloc(m->doc, cap))) {
				bad = 2;
				continue;
			}
			m->doc = d;
			m->cap = cap;
		}
		if (bad == 2)
			continue;
		m->doc[m->ndoc++] = (char)c;
		if (c == 0) {
			if (*nf == MAX_CSV_COLS) {
				bad = 3;
				continue;
			}
			off[(*nf)++] = m->ndoc;
		}
	}
	if (m->ndoc + 1 > m->cap) {
		char *d = realloc(m->doc, m->ndoc + 1);
		if (!d)
			return MTD_ENOMEM;
		m->doc = d;
		m->cap = m->ndoc + 1;
	}
	m->doc[m->ndoc] = 0;
	if (bad) {
		mtd_err(err, n, "%s", bad == 1 ? "a '\"' inside a field that does not start with one"
				      : bad == 2 ? "a row longer than 1 MiB"
						 : "more than 64 fields");
		return MTD_EMALFORMED;
	}
	return 1;
}

static const char *const csv_device_cols[] = {"id", "platform", "os_version", "ownership",
					      "management", "user", "groups", NULL};
static const char *const csv_app_cols[] = {"device", "app_id", "version", "short_version",
					   "name", "bundle_size", "dynamic_size", "adhoc_signed",
					   "app_store", "beta", "vpp", "validated", "managed", NULL};

static int csv_col_known(const mtd_mdm *m, const char *h)
{
	const char *const *cols = m->apps ? csv_app_cols : csv_device_cols;
	for (size_t i = 0; cols[i]; i++)
		if (!strcmp(h, cols[i]))
			return i < 5 || !m->apps ? 1 : i < 7 ? 2 : 3; /* 1 text, 2 size, 3 bool */
	if (!m->apps && !strncmp(h, "ids.", 4) && h[4])
		return 1;
	return 0;
}

static int csv_header(mtd_mdm *m, char *err, size_t n)
{
	size_t off[MAX_CSV_COLS + 1], nf;
	int rc = csv_row(m, off, &nf, err, n);
	if (rc <= 0) {
		m->csv_dead = 1;
		if (rc == 0) {
			mtd_err(err, n, "no header row");
			return MTD_EMALFORMED;
		}
		return rc;
	}
	if (!(m->head = calloc(nf, sizeof *m->head)))
		return MTD_ENOMEM;
	m->nhead = nf;
	for (size_t i = 0; i < nf; i++) {
		const char *h = m->doc + off[i];
		if (!csv_col_known(m, h)) {
			mtd_err(err, n, "header, column %zu: '%.100s' is not a field of %s (%s%s)", i + 1, h,
				m->apps ? "app records" : "device records",
				m->apps ? "device, app_id, version, short_version, name, bundle_size, dynamic_size, "
					  "adhoc_signed, app_store, beta, vpp, validated, managed"
					: "id, platform, os_version, ownership, management, user, groups",
				m->apps ? "" : ", ids.KIND");
			m->csv_dead = 1;
			return MTD_EMALFORMED;
		}
		for (size_t j = 0; j < i; j++)
			if (!strcmp(m->head[j], h)) {
				mtd_err(err, n, "header, column %zu: '%s' again", i + 1, h);
				m->csv_dead = 1;
				return MTD_EMALFORMED;
			}
		if (!(m->head[i] = strdup(h)))
			return MTD_ENOMEM;
	}
	return 0;
}

static int csv_next(mtd_mdm *m, char *err, size_t n)
{
	size_t off[MAX_CSV_COLS + 1], nf, nkeys = 0, nids = 0;
	mtd_buf *b = &m->mp;
	int rc;

	if (m->csv_dead)
		return 0;
	if (!m->head && (rc = csv_header(m, err, n)))
		return rc;
	do {
		if ((rc = csv_row(m, off, &nf, err, n)) <= 0)
			return rc;
	} while (nf == 1 && !m->doc[0]); /* an empty line */
	if (nf != m->nhead) {
		mtd_err(err, n, "%zu fields, the header has %zu", nf, m->nhead);
		return MTD_EMALFORMED;
	}
	for (size_t i = 0; i < nf; i++)
		if (m->doc[off[i]]) {
			if (!strncmp(m->head[i], "ids.", 4))
				nids++;
			else
				nkeys++;
		}
	b->len = 0;
	if (mtd_mp_container(b, 1, nkeys + (nids > 0)))
		return MTD_ENOMEM;
	for (size_t i = 0; i < nf; i++) {
		const char *h = m->head[i], *v = m->doc + off[i];
		int kind = csv_col_known(m, h);
		if (!*v || !strncmp(h, "ids.", 4))
			continue;
		if (mtd_mp_str(b, h, strlen(h)))
			return MTD_ENOMEM;
		if (!strcmp(h, "groups")) { /* names separated by ';' */
			size_t k = 1;
			for (const char *p = v; *p; p++)
				k += *p == ';';
			if (mtd_mp_container(b, 0, k))
				return MTD_ENOMEM;
			for (const char *p = v;; p++) {
				size_t len = strcspn(p, ";");
				if (mtd_mp_str(b, p, len))
					return MTD_ENOMEM;
				p += len;
				if (!*p)
					break;
			}
		} else if (kind == 2) {
			char *end;
			unsigned long long u;
			errno = 0;
			u = strtoull(v, &end, 10);
			if (*end || errno || !isdigit((unsigned char)*v) || u > INT64_MAX) {
				mtd_err(err, n, "field '%s': '%.40s' is not a non-negative integer", h, v);
				return MTD_EMALFORMED;
			}
			if (mtd_mp_int(b, (int64_t)u))
				return MTD_ENOMEM;
		} else if (kind == 3) {
			int t = ieq(v, "true") || !strcmp(v, "1"), f = ieq(v, "false") || !strcmp(v, "0");
			if (!t && !f) {
				mtd_err(err, n, "field '%s': '%.40s' is not true or false", h, v);
				return MTD_EMALFORMED;
			}
			if (mtd_mp_bool(b, t))
				return MTD_ENOMEM;
		} else if (mtd_mp_str(b, v, strlen(v))) {
			return MTD_ENOMEM;
		}
	}
	if (nids) {
		if (mtd_mp_str(b, "ids", 3) || mtd_mp_container(b, 1, nids))
			return MTD_ENOMEM;
		for (size_t i = 0; i < nf; i++)
			if (m->doc[off[i]] && !strncmp(m->head[i], "ids.", 4) &&
			    (mtd_mp_str(b, m->head[i] + 4, strlen(m->head[i] + 4)) ||
			     mtd_mp_str(b, m->doc + off[i], strlen(m->doc + off[i]))))
				return MTD_ENOMEM;
	}
	return hand_over(m, err, n, NULL);
}

/* ---- the reader ---- */

mtd_mdm *mtd_mdm_new(FILE *in, const char *name, int format, int apps, const mtd_mdm_groups *groups)
{
	mtd_mdm *m = calloc(1, sizeof *m);
	if (!m)
		return NULL;
	m->in = in;
	m->format = format;
	m->apps = apps;
	m->groups = groups;
	if (!(m->name = strdup(name ? name : "-")) || !msgpack_zone_init(&m->zone, 4096)) {
		free(m->name);
		free(m);
		return NULL;
	}
	snprintf(m->where, sizeof m->where, "%s", m->name);
	return m;
}

void mtd_mdm_free(mtd_mdm *m)
{
	if (!m)
		return;
	json_decref(m->root);
	for (size_t i = 0; i < m->nhead; i++)
		free(m->head[i]);
	free(m->head);
	free(m->doc);
	free(m->name);
	mtd_buf_free(&m->mp);
	msgpack_zone_destroy(&m->zone);
	free(m);
}

int mtd_mdm_next(mtd_mdm *m, const msgpack_object **obj, char *err, size_t n)
{
	int rc = m->format == MTD_FORMAT_CSV ? csv_next(m, err, n) : graph_next(m, err, n);
	if (rc == 1)
		*obj = &m->obj;
	return rc;
}

const char *mtd_mdm_where(const mtd_mdm *m)
{
	return m->where;
}

uint64_t mtd_mdm_offset(const mtd_mdm *m)
{
	return m->offset;
}

int mtd_mdm_more_pages(const mtd_mdm *m)
{
	return m->more_pages;
}
