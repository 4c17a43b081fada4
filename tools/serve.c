/* mtdgate serve: the HTTP interface of SPEC 4.5 on GNU libmicrohttpd.
 *
 * Access decisions come from an in-memory index of the current decisions
 * (device id -> state, level, access, protected resources, first reason),
 * never from a query per request. The index is rebuilt from the store when
 * another process commits (PRAGMA data_version, polled every 200 ms).
 *
 * Threads: libmicrohttpd's one internal thread answers every request; the
 * main thread waits for signals and polls the store. The handle (h) is used
 * under hlock only; the index is swapped under ilock and read under it. */
#define _GNU_SOURCE /* strcasestr not used; struct ucred, accept4 in MHD */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "siem.h"

#define MAX_LISTEN 8
#define REASON_MAX 200 /* bytes of X-Mtdgate-Reason */
#define ID_MAX 1024    /* longest device id looked up */
#define BODY_MAX (64u << 20) /* bytes of one pushed body */
#define ERRORS_MAX 100 /* per-element errors in an ingest answer */
/* A connection's memory in libmicrohttpd: its read buffer (half of it at
 * first, and a request's head must fit there) and the parsed request.
 * libmicrohttpd 0.9.75 zeroes the whole pool after every request of a
 * keep-alive connection, and the read buffer's half again when it shrinks:
 * with 64 KiB that was ~96 KiB written per /v1/access answer (callgrind:
 * 98,500 of its 113,000 instructions; natively ~1.6 us of a ~10 us answer,
 * and the cache swept). 32 KiB halves that and still takes a request head
 * of ~16 KiB, twice nginx's default limit for one header line, since a
 * proxy's auth request forwards its client's headers (tested:
 * access_big_head in scenario_serve). */
#define CONN_MEMORY (32u << 10)

/* ---- the index of current decisions ---- */

/* What /v1/access answers for a decision, shared by every device decided
 * alike (a fleet has few: 1,000,000 devices had a handful), so a device
 * costs its id and a pointer. Interned and counted under hlock; read under
 * ilock through the entries that hold it. */
typedef struct ishape {
	struct ishape *next; /* in its hash chain */
	uint64_t hash;
	size_t refs;
	const char *state, *level, *access; /* library constants */
	char *reason;                       /* sanitized, one line, ASCII */
	char **resources;                   /* in the same allocation */
	size_t nresources;
	/* /v1/access's answers for it, made at first use under ilock and
	 * queued again for every device of this shape (libmicrohttpd counts
	 * a response's users): [SHAPE_ANSWER] its decision, [SHAPE_UNLISTED]
	 * a resource it does not name. Building one per request (a response
	 * and four headers: 13 allocations, header checks) was ~15% of an
	 * answer's instructions. */
	struct MHD_Response *answer[2];
} ishape;
enum { SHAPE_ANSWER, SHAPE_UNLISTED };

typedef struct ientry {
	char *device;
	ishape *s;
} ientry;

typedef struct dindex {
	ientry *e;
	size_t n, cap;
	uint32_t *slot; /* open addressing: entry index + 1, 0 = empty */
	size_t nslot;   /* power of two */
} dindex;

static uint64_t hash_str(const char *s)
{
	uint64_t x = 1469598103934665603ull; /* FNV-1a */
	for (; *s; s++)
		x = (x ^ (unsigned char)*s) * 1099511628211ull;
	return x;
}

static void entry_free(ientry *e);

/* The shapes in use, chained by hash (hlock). */
static struct {
	ishape **b;
	size_t nb, n; /* buckets (a power of two), shapes */
} shapes;

static uint64_t hash_mix(uint64_t x, const char *s)
{
	for (; *s; s++)
		x = (x ^ (unsigned char)*s) * 1099511628211ull;
	return (x ^ 0xff) * 1099511628211ull; /* a separator: "ab","c" != "a","bc" */
}

static int shape_is(const ishape *p, const mtd_decision_info *d, const char *reason)
{
	if (strcmp(p->state, d->state) || strcmp(p->level, d->level) ||
	    strcmp(p->access, d->access) || strcmp(p->reason, reason) ||
	    p->nresources != d->nresources)
		return 0;
	for (size_t k = 0; k < d->nresources; k++)
		if (strcmp(p->resources[k], d->resources[k]))
			return 0;
	return 1;
}

/* The shape of decision d with its reason made a header (reason), counted
 * once more; NULL when memory ran out. */
static ishape *shape_get(const mtd_decision_info *d, const char *reason)
{
	uint64_t h = hash_mix(hash_mix(hash_mix(hash_mix(1469598103934665603ull, d->state),
						d->level), d->access), reason);
	size_t len = sizeof(ishape) + d->nresources * sizeof(char *) + strlen(reason) + 1;
	ishape *p;
	char *at;
	for (size_t k = 0; k < d->nresources; k++) {
		h = hash_mix(h, d->resources[k]);
		len += strlen(d->resources[k]) + 1;
	}
	if (shapes.nb)
		for (p = shapes.b[h & (shapes.nb - 1)]; p; p = p->next)
			if (p->hash == h && shape_is(p, d, reason)) {
				p->refs++;
				return p;
			}
	if (shapes.n >= shapes.nb) { /* grown: at most one shape a bucket on average */
		size_t nb = shapes.nb ? shapes.nb * 2 : 64;
		ishape **b = calloc(nb, sizeof *b);
		if (!b)
			return NULL;
		for (size_t i = 0; i < shapes.nb; i++)
			while ((p = shapes.b[i])) {
				shapes.b[i] = p->next;
				p->next = b[p->hash & (nb - 1)];
				b[p->hash & (nb - 1)] = p;
			}
		free(shapes.b);
		shapes.b = b;
		shapes.nb = nb;
	}
	if (!(p = malloc(len)))
		return NULL;
	p->hash = h;
	p->refs = 1;
	p->state = d->state;
	p->level = d->level;
	p->access = d->access;
	p->resources = (char **)(p + 1);
	p->nresources = d->nresources;
	at = (char *)(p->resources + d->nresources);
	for (size_t k = 0; k < d->nresources; k++) {
		p->resources[k] = at;
		at = stpcpy(at, d->resources[k]) + 1;
	}
	p->reason = at;
	strcpy(at, reason);
	p->answer[SHAPE_ANSWER] = p->answer[SHAPE_UNLISTED] = NULL;
	p->next = shapes.b[h & (shapes.nb - 1)];
	shapes.b[h & (shapes.nb - 1)] = p;
	shapes.n++;
	return p;
}

static void shape_put(ishape *p)
{
	ishape **at;
	if (!p || --p->refs)
		return;
	for (at = &shapes.b[p->hash & (shapes.nb - 1)]; *at != p; at = &(*at)->next)
		;
	*at = p->next;
	shapes.n--;
	for (int i = 0; i < 2; i++)
		if (p->answer[i]) /* freed by MHD once no connection sends it */
			MHD_destroy_response(p->answer[i]);
	free(p);
}

/* The entries and table of ix, not ix itself. */
static void index_free_entries(dindex *ix)
{
	for (size_t i = 0; i < ix->n; i++)
		entry_free(&ix->e[i]);
	free(ix->e);
	free(ix->slot);
	memset(ix, 0, sizeof *ix);
}

static void index_free(dindex *ix)
{
	if (!ix)
		return;
	index_free_entries(ix);
	free(ix);
}

static const ientry *index_find(const dindex *ix, const char *device)
{
	size_t m;
	if (!ix || !ix->nslot)
		return NULL;
	m = ix->nslot - 1;
	for (size_t i = hash_str(device) & m;; i = (i + 1) & m) {
		uint32_t k = ix->slot[i];
		if (!k)
			return NULL;
		if (!strcmp(ix->e[k - 1].device, device))
			return &ix->e[k - 1];
	}
}

/* s made one printable ASCII line of at most REASON_MAX bytes in out
 * (REASON_MAX + 1 bytes): mtd_escape, then any byte outside 0x20..0x7e as
 * '?'. */
static void header_text(char *out, const char *s)
{
	mtd_escape(out, REASON_MAX + 1, s, strlen(s));
	for (char *p = out; *p; p++)
		if ((unsigned char)*p < 0x20 || (unsigned char)*p > 0x7e)
			*p = '?';
}

static int index_add(void *ud, const mtd_decision_info *d)
{
	dindex *ix = ud;
	char reason[REASON_MAX + 1];
	ientry *e;
	if (ix->n == ix->cap) {
		size_t cap = ix->cap ? ix->cap * 2 : 1024;
		ientry *ne = realloc(ix->e, cap * sizeof *ne);
		if (!ne)
			return MTD_ENOMEM;
		ix->e = ne;
		ix->cap = cap;
	}
	e = &ix->e[ix->n];
	header_text(reason, d->nreasons ? d->reasons[0] : "");
	e->device = strdup(d->device);
	e->s = shape_get(d, reason);
	ix->n++; /* freed by index_free whatever failed */
	return e->device && e->s ? 0 : MTD_ENOMEM;
}

/* Put ix's slot for entry j (its device not in the table yet). */
static void index_slot(dindex *ix, size_t j)
{
	size_t i = hash_str(ix->e[j].device) & (ix->nslot - 1);
	while (ix->slot[i])
		i = (i + 1) & (ix->nslot - 1);
	ix->slot[i] = (uint32_t)(j + 1);
}

static int index_hash(dindex *ix)
{
	size_t n = 16;
	while (n < ix->n * 2)
		n *= 2;
	if (!(ix->slot = calloc(n, sizeof *ix->slot)))
		return MTD_ENOMEM;
	ix->nslot = n;
	for (size_t j = 0; j < ix->n; j++)
		index_slot(ix, j);
	return 0;
}

static void entry_free(ientry *e)
{
	free(e->device);
	shape_put(e->s);
}

/* The entries of chg (new decisions) moved into ix: an entry of the same
 * device replaced, a new device added (the table grown when half full).
 * chg is left empty. Called with ilock held: a lookup never sees half an
 * entry. */
static int index_merge(dindex *ix, dindex *chg)
{
	int rc = 0;
	for (size_t j = 0; j < chg->n; j++) {
		ientry *e = (ientry *)index_find(ix, chg->e[j].device);
		if (e) {
			entry_free(e);
			*e = chg->e[j];
			continue;
		}
		if (ix->n == ix->cap) {
			size_t cap = ix->cap ? ix->cap * 2 : 1024;
			ientry *ne = realloc(ix->e, cap * sizeof *ne);
			if (!ne) {
				rc = MTD_ENOMEM;
				entry_free(&chg->e[j]);
				continue;
			}
			ix->e = ne;
			ix->cap = cap;
		}
		ix->e[ix->n++] = chg->e[j];
		if (2 * ix->n > ix->nslot) {
			free(ix->slot);
			ix->slot = NULL;
			if (index_hash(ix)) { /* the table is gone: rebuilt by the caller */
				rc = MTD_ENOMEM;
				ix->nslot = 0;
			}
		} else {
			index_slot(ix, ix->n - 1);
		}
	}
	chg->n = 0;
	return rc;
}

/* ---- the server ---- */

typedef struct server {
	mtd_t *h;
	pthread_mutex_t hlock, ilock;
	dindex *ix;
	int64_t version; /* data_version the index was built at */
	struct MHD_Daemon *d[MAX_LISTEN];
	size_t nd;
	mtd_buf *errors; /* the running ingest's "errors" array, or NULL */
	size_t nerrors;
	/* incremental evaluation (under hlock) */
	dindex *chg;     /* decisions changed by the evaluation at hand */
	int64_t seq;     /* the audit sequence number picked up to */
	int64_t due;     /* when a decision changes by itself next (0 none) */
	int due_known;   /* due is up to date */
	int64_t due_from; /* what was due by then is decided (0: nothing yet: every
			     device with open tasks is due at start) */
	/* /v1/events followers, under elock (taken after hlock, never before) */
	pthread_mutex_t elock;
	struct follower *followers;
	size_t events_buffer; /* bytes a follower may have waiting */
	unsigned keepalive;   /* seconds between keep-alive comments */
	int stopping;
} server;

/* A POST being received. */
/* A request with a body being received, or one the store worker answers
 * (its *con_cls either way). */
typedef struct upload {
	mtd_buf body;
	int too_big;
	/* the store worker's part (see "the store worker") */
	struct upload *next;         /* in the worker's queue */
	struct MHD_Connection *c;    /* suspended while the worker has it */
	const char *url;             /* MHD's, valid while c is suspended */
	int op, state;               /* OP_*, JOB_* */
	struct MHD_Response *answer; /* the worker's, queued by MHD's thread */
	unsigned status;
	int64_t t0;                  /* when it was handed over */
} upload;
enum { JOB_NONE, JOB_QUEUED, JOB_DONE };
enum { OP_INGEST, OP_DEVICE, OP_APPSYNC, OP_METRICS };

static volatile sig_atomic_t got_term, got_hup, got_hup_pulls;

static int pull_sync(struct server *sv);
static void pull_stop_all(void);
static int64_t mono_ns(void);

/* The handle given back (hlock held): first the read snapshot its last call
 * may have left open is ended (mtd_data_version), so that the next reader
 * or writer, here or in the main loop, sees the store as it is. */
static void hunlock(server *sv)
{
	int64_t v;
	mtd_data_version(sv->h, &v);
	pthread_mutex_unlock(&sv->hlock);
}

static void on_signal(int sig)
{
	if (sig == SIGHUP)
		got_hup = got_hup_pulls = 1;
	else
		got_term = 1;
}

/* A new index from the store, swapped in. Called with hlock held. */
static int rebuild(server *sv)
{
	dindex *ix = calloc(1, sizeof *ix), *old;
	int rc;
	if (!ix)
		return MTD_ENOMEM;
	rc = mtd_report(sv->h, NULL, index_add, ix);
	if (!rc)
		rc = index_hash(ix);
	if (rc) {
		index_free(ix);
		return rc;
	}
	pthread_mutex_lock(&sv->ilock);
	old = sv->ix;
	sv->ix = ix;
	pthread_mutex_unlock(&sv->ilock);
	index_free(old);
	return 0;
}

/* A changed decision (after), kept for the index (ud: the server). */
static int collect(void *ud, const mtd_decision_info *before, const mtd_decision_info *after)
{
	server *sv = ud;
	/* into or out of a grace period: when the next one ends moves */
	if (!strcmp(before->state, "in_grace_period") || !strcmp(after->state, "in_grace_period"))
		sv->due_known = 0;
	return index_add(sv->chg, after);
}

/* The decisions in sv->chg into the index (a rebuild when memory ran
 * short on the way). */
static int apply_changes(server *sv)
{
	int rc = 0;
	if (sv->chg->n) {
		pthread_mutex_lock(&sv->ilock);
		rc = index_merge(sv->ix, sv->chg);
		pthread_mutex_unlock(&sv->ilock);
		if (rc)
			rc = rebuild(sv);
	}
	index_free_entries(sv->chg);
	return rc;
}

/* Decide the devices of set (every device when it says all), then put the
 * changed decisions into the index, only those. Called with hlock held. */
static int decide(server *sv, mtd_devset *set)
{
	mtd_devset own = {0};
	int rc = 0;
	if (set->all || set->n)
		rc = mtd_evaluate_set(sv->h, set, collect, sv, NULL, NULL);
	/* what the evaluation wrote itself (a connector's state it audited)
	 * is decided with it */
	if (!rc)
		rc = mtd_touched(sv->h, &own);
	mtd_devset_free(&own);
	if (rc)
		index_free_entries(sv->chg);
	return rc ? rc : apply_changes(sv);
}

/* Decide the devices that this handle's committed writes touched. */
static int decide_touched(server *sv)
{
	mtd_devset set = {0};
	int rc = mtd_touched(sv->h, &set);
	if (!rc)
		rc = decide(sv, &set);
	mtd_devset_free(&set);
	return rc;
}

/* Devices decided by another writer beyond which the index is rebuilt
 * rather than updated one by one. */
#define PICKUP_MAX 20000

/* What other writers committed since sv->seq (since the last evaluation
 * when sv->seq < 0): the devices whose inputs changed decided, the
 * decisions they wrote into the index. Called with hlock held. */
static int pick_up(server *sv)
{
	mtd_devset touched = {0}, decided = {0};
	int rc = mtd_changes_since(sv->h, &sv->seq, &touched, &decided);
	if (!rc)
		rc = decide(sv, &touched);
	if (!rc && (decided.all || decided.n > PICKUP_MAX)) {
		rc = rebuild(sv);
	} else if (!rc && decided.n) {
		rc = mtd_report_set(sv->h, &decided, index_add, sv->chg);
		rc = rc ? rc : apply_changes(sv);
		index_free_entries(sv->chg);
	}
	mtd_devset_free(&touched);
	mtd_devset_free(&decided);
	sv->due_known = 0;
	return rc;
}

/* The loop's work (every 200 ms, hlock held): the rules read again on
 * SIGHUP and every device decided with them; what other writers committed
 * picked up; what time makes due (a connector's silence, a grace period's
 * end) decided at its time. */
static int poll_store(server *sv)
{
	mtd_t *h = sv->h;
	int64_t v, seq, now = mtd_tick(h);
	int rc, all;
	if (got_hup_pulls) {
		got_hup_pulls = 0;
		if ((rc = pull_sync(sv)))
			return rc;
	}
	if (got_hup) {
		mtd_devset every = {.all = 1};
		got_hup = 0;
		sv->due_known = 0;
		if ((rc = decide(sv, &every)))
			return rc;
	}
	/* the last number first: a commit by another after it changes v */
	if ((rc = mtd_last_seq(h, &seq)) || (rc = mtd_data_version(h, &v)))
		return rc;
	if (v == sv->version) {
		sv->seq = seq; /* only this handle wrote since */
	} else {
		sv->version = v;
		if ((rc = pick_up(sv)))
			return rc;
	}
	if (!sv->due_known) {
		if ((rc = mtd_next_due_since(h, sv->due_from, &sv->due, &all, NULL)))
			return rc;
		sv->due_known = 1;
	}
	if (sv->due && now >= sv->due) {
		mtd_devset set = {0};
		if (!(rc = mtd_next_due_since(h, sv->due_from, &sv->due, &all, &set))) {
			set.all = all;
			rc = decide(sv, &set);
		}
		if (!rc)
			sv->due_from = now;
		mtd_devset_free(&set);
		sv->due_known = 0;
	}
	return rc;
}

/* ---- pulls: serve fetches every connector with API settings (issue 16) ----
 *
 * One thread per connector that fetches, with its own handle on the store
 * (mtd_open_again): it pulls every poll_seconds, or holds the vendor's
 * event stream open (mtd_pull without MTD_PULL_ONCE resumes a dropped
 * stream with backoff) and starts it again when it ends. Each page is
 * committed with its resume point, as by `mtdgate pull`; the main loop
 * sees the commits as any other writer's (pick_up) and decides the devices
 * they touched. A pull that fails is tried again with backoff, at the
 * latest after poll_seconds; its connector hears nothing and turns
 * unresponsive at its due time (R2, the loop's timer). SIGHUP reads the
 * connectors' settings again; SIGTERM stops every pull (mtd_pull_stop: a
 * page being applied is committed with its resume point, nothing after
 * it) before serve ends. */

#define MAX_PULLERS 64

typedef struct puller {
	char vendor[64];
	mtd_t *h;                  /* the thread's own */
	pthread_t t;
	atomic_int stop;
	atomic_llong poll_ms;
	/* for /metrics, counted as each pull ends */
	atomic_ullong pulls, errors, events;
	int seen;                  /* in the last listing (pull_sync) */
} puller;

static struct {
	pthread_mutex_t lock; /* the list (the counters are atomic) */
	puller *p[MAX_PULLERS];
	size_t n;
} pullers = {.lock = PTHREAD_MUTEX_INITIALIZER};

static void pull_diag(void *ud, const char *msg)
{
	char line[600];
	mtd_escape(line, sizeof line, msg, strlen(msg));
	fprintf(stderr, "mtdgate: serve: pull %s: %s\n", ((puller *)ud)->vendor, line);
}

/* Wait ms, ending early when p is stopped. */
static void pull_wait(puller *p, long long ms)
{
	while (ms > 0 && !atomic_load(&p->stop)) {
		long long k = ms < 100 ? ms : 100;
		struct timespec ts = {0, (long)k * 1000000};
		nanosleep(&ts, NULL);
		ms -= k;
	}
}

static void *pull_main(void *arg)
{
	puller *p = arg;
	int fails = 0;
	while (!atomic_load(&p->stop)) {
		mtd_pull_stats ps;
		int64_t v;
		long long start = mono_ns() / 1000000, wait, poll = atomic_load(&p->poll_ms);
		int rc;
		mtd_tick(p->h);
		rc = mtd_pull(p->h, p->vendor, 0, &ps);
		mtd_data_version(p->h, &v); /* no read snapshot held while waiting */
		if (rc && atomic_load(&p->stop))
			break;
		atomic_fetch_add(&p->pulls, 1);
		atomic_fetch_add(&p->events, ps.st.accepted);
		if (rc) {
			char line[600];
			const char *m = mtd_errmsg(p->h);
			atomic_fetch_add(&p->errors, 1);
			mtd_escape(line, sizeof line, m, strlen(m));
			fprintf(stderr, "mtdgate: serve: pull %s: %s\n", p->vendor, line);
			fails++;
		} else {
			fails = 0;
		}
		/* again poll_seconds after this one started; after a failure
		 * sooner, 1, 2, 4... s, never later than poll_seconds */
		wait = poll - (mono_ns() / 1000000 - start);
		if (fails) {
			long long b = 1000LL << (fails < 10 ? fails - 1 : 9);
			wait = b < poll ? b : poll;
		}
		pull_wait(p, wait);
	}
	return NULL;
}

static void puller_free(puller *p)
{
	atomic_store(&p->stop, 1);
	mtd_pull_stop(p->h);
	pthread_join(p->t, NULL);
	mtd_close(p->h);
	free(p);
}

static puller *puller_of(const char *vendor)
{
	for (size_t i = 0; i < pullers.n; i++)
		if (!strcmp(pullers.p[i]->vendor, vendor))
			return pullers.p[i];
	return NULL;
}

/* A listed connector that fetches: its puller kept (its poll_seconds
 * taken) or started. */
static int pull_listed(void *ud, const mtd_pull_info *i)
{
	server *sv = ud;
	puller *p;
	if (!i->configured || strlen(i->vendor) >= sizeof p->vendor)
		return 0;
	if ((p = puller_of(i->vendor))) {
		p->seen = 1;
		atomic_store(&p->poll_ms, (long long)i->poll_seconds * 1000);
		return 0;
	}
	if (pullers.n >= MAX_PULLERS || !(p = calloc(1, sizeof *p))) {
		fprintf(stderr, "mtdgate: serve: %s is not pulled (more than %d connectors that "
			"fetch, or out of memory)\n", i->vendor, MAX_PULLERS);
		return 0;
	}
	snprintf(p->vendor, sizeof p->vendor, "%s", i->vendor);
	atomic_init(&p->poll_ms, (long long)i->poll_seconds * 1000);
	p->seen = 1;
	if (mtd_open_again(sv->h, &p->h)) {
		fprintf(stderr, "mtdgate: serve: pull %s: %s\n", p->vendor, mtd_errmsg(p->h));
		mtd_close(p->h);
		free(p);
		return 0;
	}
	mtd_set_diag(p->h, pull_diag, p);
	/* the pulls hold secrets in threads side by side: the process stays
	 * non-dumpable from the first one on (each pull's own switch and restore
	 * is process-wide, and one thread's restore would expose another's) */
	prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
	if (pthread_create(&p->t, NULL, pull_main, p)) {
		fprintf(stderr, "mtdgate: serve: pull %s: no thread\n", p->vendor);
		mtd_close(p->h);
		free(p);
		return 0;
	}
	pullers.p[pullers.n++] = p;
	return 0;
}

/* The pulls as the connectors' settings say (at start and on SIGHUP):
 * new ones started, those without API settings any more stopped. Called
 * with hlock held. */
static int pull_sync(server *sv)
{
	int rc;
	pthread_mutex_lock(&pullers.lock);
	for (size_t i = 0; i < pullers.n; i++)
		pullers.p[i]->seen = 0;
	rc = mtd_pull_list(sv->h, pull_listed, sv);
	for (size_t i = 0; !rc && i < pullers.n;) {
		if (pullers.p[i]->seen) {
			i++;
			continue;
		}
		puller_free(pullers.p[i]);
		pullers.p[i] = pullers.p[--pullers.n];
	}
	pthread_mutex_unlock(&pullers.lock);
	return rc;
}

/* SIGTERM: every pull stopped (all asked first, then each waited for). */
static void pull_stop_all(void)
{
	pthread_mutex_lock(&pullers.lock);
	for (size_t i = 0; i < pullers.n; i++) {
		atomic_store(&pullers.p[i]->stop, 1);
		mtd_pull_stop(pullers.p[i]->h);
	}
	for (size_t i = 0; i < pullers.n; i++)
		puller_free(pullers.p[i]);
	pullers.n = 0;
	pthread_mutex_unlock(&pullers.lock);
}

/* ---- /metrics: counters kept as requests are answered ----
 *
 * Plain counters, atomic (MHD may run several threads), read without a lock:
 * a scrape sees each counter at some moment of its own. */

enum { EP_ACCESS, EP_DEVICES, EP_INGEST, EP_APPSYNC, EP_EVENTS, EP_HEALTHZ, EP_METRICS,
       EP_OTHER, EP__COUNT };
static const char *const ep_name[EP__COUNT] = {"access",  "devices", "ingest",  "appsync",
					       "events",  "healthz", "metrics", "other"};
static const unsigned codes[] = {200, 400, 401, 403, 404, 405, 413, 500, 0 /* other */};
#define NCODES (sizeof codes / sizeof *codes)
/* upper bounds of the latency buckets, seconds (the last is +Inf) */
static const double bucket_le[] = {0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005,
				   0.01,    0.025,  0.05,    0.1,    0.25,  0.5,    1,
				   2.5,     10};
#define NBUCKETS (sizeof bucket_le / sizeof *bucket_le + 1)

typedef struct histo {
	_Atomic uint64_t b[NBUCKETS]; /* not cumulative; summed when shown */
	_Atomic uint64_t sum_ns, n;
} histo;

#define MVENDORS 64 /* vendors counted by name; more go to "other" */
enum { MSG_ACCEPTED, MSG_REJECTED, MSG_MALFORMED, MSG_PARKED, MSG__COUNT };
static const char *const msg_outcome[MSG__COUNT] = {"accepted", "rejected", "malformed",
						    "parked"};

static struct metrics {
	_Atomic uint64_t requests[EP__COUNT][NCODES];
	histo latency[EP__COUNT];
	histo evaluation; /* deciding what a push touched */
	pthread_mutex_t vlock; /* the vendor table's names */
	char vendor[MVENDORS + 1][65];
	size_t nvendors;
	_Atomic uint64_t messages[MVENDORS + 1][MSG__COUNT];
} metrics = {.vlock = PTHREAD_MUTEX_INITIALIZER};

/* The status of the response queued by this thread's request at hand. */
static _Thread_local unsigned queued_status;

static enum MHD_Result queue(struct MHD_Connection *c, unsigned status, struct MHD_Response *r)
{
	queued_status = status;
	return MHD_queue_response(c, status, r);
}

static int64_t mono_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static void histo_add(histo *h, int64_t ns)
{
	size_t i = 0;
	double sec = (double)ns / 1e9;
	while (i < NBUCKETS - 1 && sec > bucket_le[i])
		i++;
	atomic_fetch_add_explicit(&h->b[i], 1, memory_order_relaxed);
	atomic_fetch_add_explicit(&h->sum_ns, (uint64_t)(ns > 0 ? ns : 0), memory_order_relaxed);
	atomic_fetch_add_explicit(&h->n, 1, memory_order_relaxed);
}

static void count_request(int ep, unsigned status, int64_t ns)
{
	size_t k = 0;
	while (codes[k] && codes[k] != status)
		k++;
	atomic_fetch_add_explicit(&metrics.requests[ep][k], 1, memory_order_relaxed);
	histo_add(&metrics.latency[ep], ns);
}

/* A push's counts under its vendor's name (vendor: at most 64 bytes). */
static void count_messages(const char *vendor, const mtd_stats *st)
{
	size_t i;
	pthread_mutex_lock(&metrics.vlock);
	for (i = 0; i < metrics.nvendors && strcmp(metrics.vendor[i], vendor); i++)
		;
	if (i == metrics.nvendors && i < MVENDORS)
		snprintf(metrics.vendor[metrics.nvendors++], 65, "%s", vendor);
	pthread_mutex_unlock(&metrics.vlock); /* i == MVENDORS: "other" */
	atomic_fetch_add_explicit(&metrics.messages[i][MSG_ACCEPTED], st->accepted,
				  memory_order_relaxed);
	atomic_fetch_add_explicit(&metrics.messages[i][MSG_REJECTED], st->rejected,
				  memory_order_relaxed);
	atomic_fetch_add_explicit(&metrics.messages[i][MSG_MALFORMED],
				  st->malformed + st->bad_elements, memory_order_relaxed);
	atomic_fetch_add_explicit(&metrics.messages[i][MSG_PARKED], st->parked,
				  memory_order_relaxed);
}

static int putf(mtd_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int putf(mtd_buf *b, const char *fmt, ...)
{
	char t[512];
	va_list ap;
	int n;
	va_start(ap, fmt);
	n = vsnprintf(t, sizeof t, fmt, ap);
	va_end(ap);
	return n < 0 || (size_t)n >= sizeof t || mtd_buf_put(b, t, (size_t)n) ? -1 : 0;
}

/* A label value of data (a vendor id): backslash, quote and line breaks
 * escaped as the text format wants, anything else non-printable as '?'. */
static void label(char *out, size_t n, const char *s)
{
	size_t k = 0;
	for (; *s && k + 3 < n; s++) {
		unsigned char ch = (unsigned char)*s;
		if (ch == '\\' || ch == '"') {
			out[k++] = '\\';
			out[k++] = (char)ch;
		} else if (ch == '\n') {
			out[k++] = '\\';
			out[k++] = 'n';
		} else {
			out[k++] = ch < 0x20 || ch > 0x7e ? '?' : (char)ch;
		}
	}
	out[k] = '\0';
}

static int histo_put(mtd_buf *b, const char *name, const char *labels, const histo *h)
{
	uint64_t cum = 0;
	int rc = 0;
	for (size_t i = 0; i < NBUCKETS && !rc; i++) {
		cum += atomic_load_explicit(&h->b[i], memory_order_relaxed);
		if (i < NBUCKETS - 1)
			rc = putf(b, "%s_bucket{%s%sle=\"%g\"} %llu\n", name, labels, *labels ? "," : "",
				  bucket_le[i], (unsigned long long)cum);
		else
			rc = putf(b, "%s_bucket{%s%sle=\"+Inf\"} %llu\n", name, labels,
				  *labels ? "," : "", (unsigned long long)cum);
	}
	return rc || putf(b, "%s_sum%s%s%s %.9f\n%s_count%s%s%s %llu\n", name, *labels ? "{" : "",
			  labels, *labels ? "}" : "",
			  (double)atomic_load_explicit(&h->sum_ns, memory_order_relaxed) / 1e9, name,
			  *labels ? "{" : "", labels, *labels ? "}" : "",
			  (unsigned long long)atomic_load_explicit(&h->n, memory_order_relaxed));
}

/* The store worker's request at hand: an answer made for it is kept there
 * for MHD's thread to queue (MHD_queue_response belongs to that thread). */
static _Thread_local upload *deferred;

static enum MHD_Result send_text(struct MHD_Connection *c, unsigned status, const char *type,
				 const char *body, size_t len)
{
	struct MHD_Response *r =
		MHD_create_response_from_buffer(len, (void *)body, MHD_RESPMEM_MUST_COPY);
	enum MHD_Result ok;
	if (!r)
		return MHD_NO;
	MHD_add_response_header(r, "Content-Type", type);
	MHD_add_response_header(r, "Cache-Control", "no-store");
	if (deferred) {
		deferred->answer = r;
		deferred->status = status;
		return MHD_YES;
	}
	ok = queue(c, status, r);
	MHD_destroy_response(r);
	return ok;
}

static enum MHD_Result send_plain(struct MHD_Connection *c, unsigned status, const char *msg)
{
	return send_text(c, status, "text/plain; charset=utf-8", msg, strlen(msg));
}

/* What the metrics of one scrape read: the connectors' pulls as the store
 * lists them (vendor strings copied). */
typedef struct pullrow {
	char vendor[64];
	int64_t last_success, last_error_at, lag;
} pullrow;

typedef struct mctx {
	mtd_buf *b;
	size_t fn;
	int err;
	pullrow *pr;
	size_t npr;
} mctx;

/* The per-connector block: one function per source of connector metrics,
 * each writing its lines for connector ci (and, once, their HELP/TYPE when
 * ci is NULL). Others append theirs. */
typedef int (*connector_metric_fn)(mtd_buf *b, const mtd_connector_info *ci, const mctx *m);

static int connector_basic(mtd_buf *b, const mtd_connector_info *ci, const mctx *m)
{
	(void)m;
	char v[200];
	if (!ci)
		return putf(b, "# HELP mtdgate_connector_state The connector's state (R1), 1 for the "
			       "current one.\n# TYPE mtdgate_connector_state gauge\n"
			       "# HELP mtdgate_connector_last_contact_seconds When the partner was last "
			       "heard from (Unix seconds; 0 never).\n"
			       "# TYPE mtdgate_connector_last_contact_seconds gauge\n");
	label(v, sizeof v, ci->vendor);
	return putf(b, "mtdgate_connector_state{vendor=\"%s\",state=\"%s\"} 1\n", v, ci->state) ||
	       putf(b, "mtdgate_connector_last_contact_seconds{vendor=\"%s\"} %lld\n", v,
		    (long long)ci->last_contact);
}

/* A connector that fetches: when its last pull succeeded and failed (the
 * store's record, whoever pulled), the lag (now minus the last success:
 * a held stream succeeds with every event it commits), and serve's own
 * counts of pulls, failed pulls and messages accepted from them (counted
 * as each pull ends). Nothing for a connector without API settings. */
static int connector_pull(mtd_buf *b, const mtd_connector_info *ci, const mctx *m)
{
	const pullrow *r = NULL;
	unsigned long long n[3] = {0, 0, 0};
	char v[200];
	puller *p;
	if (!ci)
		return putf(b, "# HELP mtdgate_pull_last_success_timestamp_seconds When a pull of the "
			       "connector last succeeded (Unix seconds; 0 never).\n"
			       "# TYPE mtdgate_pull_last_success_timestamp_seconds gauge\n") ||
		       putf(b, "# HELP mtdgate_pull_last_error_timestamp_seconds When a pull of the "
			       "connector last failed (Unix seconds; 0 never).\n"
			       "# TYPE mtdgate_pull_last_error_timestamp_seconds gauge\n") ||
		       putf(b, "# HELP mtdgate_pull_lag_seconds Seconds since the last successful pull "
			       "(a held stream: since its last event); absent before the first.\n"
			       "# TYPE mtdgate_pull_lag_seconds gauge\n") ||
		       putf(b, "# HELP mtdgate_pulls_total Pulls serve ended, by vendor.\n"
			       "# TYPE mtdgate_pulls_total counter\n"
			       "# HELP mtdgate_pull_errors_total Pulls serve ended with an error.\n"
			       "# TYPE mtdgate_pull_errors_total counter\n") ||
		       putf(b, "# HELP mtdgate_pull_events_total Messages accepted from serve's pulls.\n"
			       "# TYPE mtdgate_pull_events_total counter\n");
	for (size_t i = 0; i < m->npr && !r; i++)
		if (!strcmp(m->pr[i].vendor, ci->vendor))
			r = &m->pr[i];
	if (!r)
		return 0;
	pthread_mutex_lock(&pullers.lock);
	if ((p = puller_of(ci->vendor))) {
		n[0] = atomic_load(&p->pulls);
		n[1] = atomic_load(&p->errors);
		n[2] = atomic_load(&p->events);
	}
	pthread_mutex_unlock(&pullers.lock);
	label(v, sizeof v, ci->vendor);
	return putf(b, "mtdgate_pull_last_success_timestamp_seconds{vendor=\"%s\"} %lld\n", v,
		    (long long)r->last_success) ||
	       putf(b, "mtdgate_pull_last_error_timestamp_seconds{vendor=\"%s\"} %lld\n", v,
		    (long long)r->last_error_at) ||
	       (r->lag >= 0 &&
		putf(b, "mtdgate_pull_lag_seconds{vendor=\"%s\"} %lld\n", v, (long long)r->lag)) ||
	       putf(b, "mtdgate_pulls_total{vendor=\"%s\"} %llu\n", v, n[0]) ||
	       putf(b, "mtdgate_pull_errors_total{vendor=\"%s\"} %llu\n", v, n[1]) ||
	       putf(b, "mtdgate_pull_events_total{vendor=\"%s\"} %llu\n", v, n[2]);
}

static const connector_metric_fn connector_metrics[] = {connector_basic, connector_pull};
#define NCONNECTOR_METRICS (sizeof connector_metrics / sizeof *connector_metrics)

static int connector_lines(void *ud, const mtd_connector_info *ci)
{
	mctx *m = ud;
	if (connector_metrics[m->fn](m->b, ci, m))
		m->err = 1;
	return 0;
}

/* A connector that fetches, copied for the scrape (ud: its mctx). */
static int pull_row(void *ud, const mtd_pull_info *i)
{
	mctx *m = ud;
	pullrow *r;
	if (!i->configured)
		return 0;
	if (!(r = realloc(m->pr, (m->npr + 1) * sizeof *r))) {
		m->err = 1;
		return 1;
	}
	m->pr = r;
	r += m->npr++;
	snprintf(r->vendor, sizeof r->vendor, "%s", i->vendor);
	r->last_success = i->last_success;
	r->last_error_at = i->last_error_at;
	r->lag = i->lag;
	return 0;
}

/* GET /metrics: Prometheus text format 0.0.4. */
static enum MHD_Result do_metrics(server *sv, struct MHD_Connection *c)
{
	mtd_buf b = {0};
	mctx m = {&b, 0, 0, NULL, 0};
	uint64_t bytes = 0;
	size_t ndev = 0, nv;
	int rc = 0;
	enum MHD_Result ok;

	pthread_mutex_lock(&sv->ilock);
	ndev = sv->ix ? sv->ix->n : 0;
	pthread_mutex_unlock(&sv->ilock);
	rc = putf(&b, "# HELP mtdgate_http_requests_total Requests answered, by endpoint and "
		      "status.\n# TYPE mtdgate_http_requests_total counter\n");
	for (int e = 0; e < EP__COUNT && !rc; e++)
		for (size_t k = 0; k < NCODES && !rc; k++) {
			uint64_t n = atomic_load_explicit(&metrics.requests[e][k], memory_order_relaxed);
			if (n || (codes[k] == 200 && e != EP_OTHER))
				rc = codes[k] ? putf(&b, "mtdgate_http_requests_total{endpoint=\"%s\","
							 "code=\"%u\"} %llu\n", ep_name[e], codes[k],
						     (unsigned long long)n)
					      : putf(&b, "mtdgate_http_requests_total{endpoint=\"%s\","
							 "code=\"other\"} %llu\n", ep_name[e],
						     (unsigned long long)n);
		}
	rc = rc || putf(&b, "# HELP mtdgate_http_request_duration_seconds Time to answer a "
			    "request (an event stream: to start it).\n"
			    "# TYPE mtdgate_http_request_duration_seconds histogram\n");
	for (int e = 0; e < EP__COUNT && !rc; e++) {
		char l[64];
		snprintf(l, sizeof l, "endpoint=\"%s\"", ep_name[e]);
		rc = histo_put(&b, "mtdgate_http_request_duration_seconds", l, &metrics.latency[e]);
	}
	rc = rc || putf(&b, "# HELP mtdgate_messages_total Messages pushed to /v1/ingest, by "
			    "vendor and outcome.\n# TYPE mtdgate_messages_total counter\n");
	pthread_mutex_lock(&metrics.vlock);
	nv = metrics.nvendors;
	for (size_t i = 0; i <= MVENDORS && !rc; i++) {
		char v[200];
		if (i >= nv && i < MVENDORS)
			continue;
		label(v, sizeof v, i < MVENDORS ? metrics.vendor[i] : "other");
		for (int o = 0; o < MSG__COUNT && !rc; o++) {
			uint64_t n = atomic_load_explicit(&metrics.messages[i][o], memory_order_relaxed);
			if (i < MVENDORS || n)
				rc = putf(&b, "mtdgate_messages_total{vendor=\"%s\",outcome=\"%s\"} %llu\n",
					  v, msg_outcome[o], (unsigned long long)n);
		}
	}
	pthread_mutex_unlock(&metrics.vlock);
	rc = rc || putf(&b, "# HELP mtdgate_evaluation_duration_seconds Time to decide the "
			    "devices a push touched, before it is answered.\n"
			    "# TYPE mtdgate_evaluation_duration_seconds histogram\n") ||
	     histo_put(&b, "mtdgate_evaluation_duration_seconds", "", &metrics.evaluation);
	pthread_mutex_lock(&sv->hlock);
	if (!rc && !mtd_db_bytes(sv->h, &bytes))
		rc = putf(&b, "# HELP mtdgate_store_bytes Size of the store's database file.\n"
			      "# TYPE mtdgate_store_bytes gauge\nmtdgate_store_bytes %llu\n",
			  (unsigned long long)bytes);
	mtd_tick(sv->h); /* the lag at this moment */
	rc = rc || mtd_pull_list(sv->h, pull_row, &m) || m.err;
	for (m.fn = 0; m.fn < NCONNECTOR_METRICS && !rc; m.fn++)
		if (!(rc = connector_metrics[m.fn](&b, NULL, &m)))
			rc = mtd_connector_list(sv->h, connector_lines, &m) || m.err;
	hunlock(sv);
	free(m.pr);
	rc = rc || putf(&b, "# HELP mtdgate_devices Devices in serve's index of decisions.\n"
			    "# TYPE mtdgate_devices gauge\nmtdgate_devices %zu\n", ndev);
	if (rc)
		ok = send_plain(c, 500, "internal error\n");
	else
		ok = send_text(c, 200, "text/plain; version=0.0.4; charset=utf-8",
			       (const char *)b.data, b.len);
	mtd_buf_free(&b);
	return ok;
}

static int buf_write(void *ud, const void *data, size_t len)
{
	return mtd_buf_put(ud, data, len) ? MTD_ENOMEM : 0;
}

/* GET /v1/appsync/VENDOR with the vendor's bearer token: the App Sync
 * answer (R9) as JSON lines; 401 bad token, 403 refused (R1, appsync_ios
 * off: audited as mtdgate appsync does). */
static enum MHD_Result do_appsync(server *sv, struct MHD_Connection *c, const char *vendor)
{
	const char *auth = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Authorization");
	mtd_buf b = {0};
	char msg[300];
	uint64_t n = 0;
	enum MHD_Result ok;
	int rc;

	if (!*vendor || strlen(vendor) > 64 || !auth || strncmp(auth, "Bearer ", 7))
		return send_plain(c, 401, "bearer token required\n");
	pthread_mutex_lock(&sv->hlock);
	mtd_tick(sv->h); /* received now */
	if ((rc = mtd_connector_auth(sv->h, vendor, auth + 7))) {
		hunlock(sv);
		return send_plain(c, rc == MTD_EREFUSED ? 401 : 500,
				  rc == MTD_EREFUSED ? "bad token\n" : "internal error\n");
	}
	rc = mtd_appsync(sv->h, vendor, MTD_APPSYNC_JSON, buf_write, &b, &n);
	snprintf(msg, sizeof msg - 1, "%s", mtd_errmsg(sv->h));
	hunlock(sv);
	if (rc == MTD_EREFUSED) {
		char line[320];
		mtd_escape(line, sizeof line - 1, msg, strlen(msg));
		strcat(line, "\n");
		ok = send_plain(c, 403, line);
	} else if (rc) {
		ok = send_plain(c, 500, "internal error\n");
	} else {
		ok = send_text(c, 200, "application/x-ndjson", b.data ? (const char *)b.data : "",
			       b.len);
	}
	mtd_buf_free(&b);
	return ok;
}

/* An empty /v1/access answer with the decision's headers; NULL when
 * memory ran out. */
static struct MHD_Response *access_answer(const char *state, const char *level,
					  const char *reason)
{
	struct MHD_Response *r =
		MHD_create_response_from_buffer(0, (void *)"", MHD_RESPMEM_PERSISTENT);
	if (r && (MHD_add_response_header(r, "X-Mtdgate-State", state) != MHD_YES ||
		  MHD_add_response_header(r, "X-Mtdgate-Level", level) != MHD_YES ||
		  MHD_add_response_header(r, "X-Mtdgate-Reason", reason) != MHD_YES ||
		  MHD_add_response_header(r, "Cache-Control", "no-store") != MHD_YES)) {
		MHD_destroy_response(r);
		r = NULL;
	}
	return r;
}

/* /v1/access: 200 allow, 403 block; unknown, never evaluated, or a
 * resource (?resource=, else the X-Mtdgate-Resource header) the device's
 * decision does not name: 403. A known device is
 * answered with its shape's response (made once, under ilock, which also
 * keeps the shape while it is queued). */
static enum MHD_Result do_access(server *sv, struct MHD_Connection *c)
{
	const char *dev = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "X-Device-Id");
	const char *res = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "resource");
	const char *reason;
	struct MHD_Response *r;
	enum MHD_Result ok;
	const ientry *e;

	if (!res) /* a proxy that cannot add a query argument (Envoy) */
		res = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "X-Mtdgate-Resource");
	if (!dev || !*dev)
		dev = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "device");
	if (!dev || !*dev) {
		reason = "no device id (X-Device-Id or ?device=)";
	} else if (strlen(dev) > ID_MAX) {
		reason = "device id too long";
	} else {
		pthread_mutex_lock(&sv->ilock);
		e = index_find(sv->ix, dev);
		if (e) {
			ishape *p = e->s;
			int evaluated = strcmp(p->state, "not_evaluated") != 0, k = SHAPE_ANSWER;
			unsigned status = evaluated && !strcmp(p->access, "allow") ? 200 : 403;
			if (evaluated && res) {
				size_t j;
				for (j = 0; j < p->nresources && strcmp(p->resources[j], res); j++)
					;
				if (j == p->nresources) {
					k = SHAPE_UNLISTED;
					status = 403;
				}
			}
			if (!p->answer[k])
				p->answer[k] = access_answer(
					p->state, p->level,
					k == SHAPE_UNLISTED ? "resource is not protected for this device"
					: evaluated	    ? p->reason
							    : "device not evaluated");
			ok = p->answer[k] ? queue(c, status, p->answer[k]) : MHD_NO;
			pthread_mutex_unlock(&sv->ilock);
			return ok;
		}
		pthread_mutex_unlock(&sv->ilock);
		reason = "unknown device";
	}
	if (!(r = access_answer("unknown", "none", reason)))
		return MHD_NO;
	ok = queue(c, 403, r);
	MHD_destroy_response(r);
	return ok;
}

typedef struct devctx {
	mtd_buf b;
	int found, err;
} devctx;

static int device_json(void *ud, const mtd_decision_info *d)
{
	devctx *x = ud;
	x->found = 1;
	x->b.len = 0;
	if (mtd_cli_report_json(&x->b, d) || mtd_buf_put(&x->b, "\n", 1))
		x->err = 1;
	return 0;
}

/* GET /v1/devices/ID: report --json of one device, through mtd_report. */
static enum MHD_Result do_device(server *sv, struct MHD_Connection *c, const char *id)
{
	devctx x = {0};
	enum MHD_Result ok;
	int rc;
	if (!*id || strlen(id) > ID_MAX)
		return send_plain(c, 404, "not found\n");
	pthread_mutex_lock(&sv->hlock);
	rc = mtd_report(sv->h, id, device_json, &x);
	hunlock(sv);
	if (!x.found && (!rc || rc == MTD_EUSAGE || rc == MTD_ENOTFOUND))
		ok = send_plain(c, 404, "not found\n");
	else if (rc || x.err)
		ok = send_plain(c, 500, "internal error\n");
	else
		ok = send_text(c, 200, "application/json", (const char *)x.b.data, x.b.len);
	mtd_buf_free(&x.b);
	return ok;
}

/* ---- /v1/events: decision changes as server-sent events ----
 *
 * A follower starts after Last-Event-ID (or at the newest change) and
 * catches up by reading the decision log in steps as MHD asks for bytes;
 * once it has read to the end it is live: after every commit serve makes or
 * notices, events_publish reads the new changes once and appends each to
 * every live follower that has not had it. A live follower whose waiting
 * bytes would pass events_buffer is dropped after what it has (its client
 * resumes with Last-Event-ID: nothing is lost, memory stays bounded). An
 * idle follower's connection is suspended in MHD and resumed when there is
 * something to send. */

#define EVENTS_STEP 256 /* changes read per catch-up step */

typedef struct follower {
	struct follower *next;
	server *sv;
	struct MHD_Connection *c;
	mtd_buf out;  /* bytes not yet handed to MHD, from off */
	size_t off;
	int64_t sent; /* sequence number of the last event in out or sent */
	int live, suspended, closing;
} follower;

/* The SSE text of one event appended to b: 0 or -1 (out of memory). */
static int event_text(mtd_buf *b, const mtd_decision_event *e)
{
	char t[640], at[40];
	const mtd_decision_state *side[2] = {&e->before, &e->after};
	int n = snprintf(t, sizeof t, "event: decision\nid: %lld\ndata: {\"device\":",
			 (long long)e->seq);
	if (mtd_buf_put(b, t, (size_t)n))
		return -1;
	if (!e->device) {
		if (mtd_buf_put(b, "null", 4))
			return -1;
	} else {
		size_t len = strlen(e->device);
		if (mtd_buf_room(b, MTD_JSON_STR_MAX(len)))
			return -1;
		b->len += mtd_json_str((char *)b->data + b->len, e->device, len);
	}
	for (int i = 0; i < 2; i++) {
		n = snprintf(t, sizeof t,
			     ",\"%s\":{\"state\":\"%s\",\"level\":\"%s\",\"access\":\"%s\","
			     "\"app_protection\":\"%s\"}",
			     i ? "after" : "before", side[i]->state, side[i]->level, side[i]->access,
			     side[i]->app_protection);
		if (mtd_buf_put(b, t, (size_t)n))
			return -1;
	}
	/* the reasons are JSON the store wrote: no raw line break in it, which
	 * would end the data: field */
	n = snprintf(t, sizeof t, ",\"at\":\"%s\"}\n\n", mtd_time_format(e->at, at, sizeof at));
	if (mtd_buf_put(b, ",\"reasons\":", 11) ||
	    mtd_buf_put(b, e->reasons_json, strlen(e->reasons_json)) || mtd_buf_put(b, t, (size_t)n))
		return -1;
	return 0;
}

/* Resume f's connection if it waits (elock held). */
static void follower_wake(follower *f)
{
	if (f->suspended) {
		f->suspended = 0;
		MHD_resume_connection(f->c);
	}
}

/* The events of a publish pass, gathered and handed to the followers in
 * steps of up to PUBLISH_STEP events, each under one elock: a follower
 * gets a step at once, as it did when publishing ran in MHD's own thread
 * (a burst beyond its buffer drops it), while MHD's thread, which the
 * store worker publishes beside, waits for elock at most one step. */
#define PUBLISH_STEP 256

typedef struct publish {
	server *sv;
	mtd_buf text;
	size_t end[PUBLISH_STEP]; /* where each event's text ends */
	int64_t seq[PUBLISH_STEP];
	size_t n;
} publish;

static publish pub; /* under hlock; its text buffer kept from pass to pass */

static void publish_step(publish *p)
{
	pthread_mutex_lock(&p->sv->elock);
	for (follower *f = p->sv->followers; f; f = f->next) {
		int put = 0;
		if (!f->live || f->closing)
			continue;
		for (size_t i = 0; i < p->n; i++) {
			size_t from = i ? p->end[i - 1] : 0, len = p->end[i] - from;
			if (p->seq[i] <= f->sent)
				continue;
			put = 1;
			if (f->out.len - f->off + len > p->sv->events_buffer ||
			    mtd_buf_put(&f->out, p->text.data + from, len)) {
				f->closing = 1; /* dropped after what it has */
				break;
			}
			f->sent = p->seq[i];
		}
		if (put)
			follower_wake(f);
	}
	pthread_mutex_unlock(&p->sv->elock);
	p->n = 0;
	p->text.len = 0;
}

static int publish_one(void *ud, const mtd_decision_event *e)
{
	publish *p = ud;
	if (event_text(&p->text, e))
		return MTD_ENOMEM;
	p->end[p->n] = p->text.len;
	p->seq[p->n++] = e->seq;
	if (p->n == PUBLISH_STEP)
		publish_step(p);
	return 0;
}

/* The changes committed since the live followers' last one, to each of
 * them. Called with hlock held after every commit serve makes or notices. */
static void events_publish(server *sv)
{
	publish *p = &pub;
	int64_t from = INT64_MAX;
	int rc;
	pthread_mutex_lock(&sv->elock);
	for (follower *f = sv->followers; f; f = f->next)
		if (f->live && !f->closing && f->sent < from)
			from = f->sent;
	pthread_mutex_unlock(&sv->elock);
	if (from == INT64_MAX)
		return; /* nobody follows live */
	p->sv = sv;
	p->n = 0;
	p->text.len = 0;
	if ((rc = mtd_decision_events(sv->h, from, 0, publish_one, p, NULL)))
		fprintf(stderr, "mtdgate: serve: events: %s\n", mtd_errmsg(sv->h));
	if (p->n)
		publish_step(p);
}

typedef struct catchup {
	mtd_buf text;
	size_t n;
} catchup;

static int catchup_one(void *ud, const mtd_decision_event *e)
{
	catchup *k = ud;
	k->n++;
	return event_text(&k->text, e) ? MTD_ENOMEM : 0;
}

/* MHD asks for bytes of f's stream. */
static ssize_t events_read(void *cls, uint64_t pos, char *buf, size_t max)
{
	follower *f = cls;
	server *sv = f->sv;
	size_t n;
	(void)pos;
	pthread_mutex_lock(&sv->elock);
	if (f->out.len == f->off && !f->live && !f->closing) {
		/* one step of catching up, read outside elock (hlock first) */
		catchup k = {{0}, 0};
		int64_t last = f->sent;
		int rc;
		pthread_mutex_unlock(&sv->elock);
		pthread_mutex_lock(&sv->hlock);
		rc = mtd_decision_events(sv->h, last, EVENTS_STEP, catchup_one, &k, &last);
		pthread_mutex_lock(&sv->elock);
		hunlock(sv);
		if (rc) {
			f->closing = 1;
		} else {
			f->out.len = f->off = 0;
			if (mtd_buf_put(&f->out, k.text.data, k.text.len))
				f->closing = 1;
			else
				f->sent = last;
			if (k.n < EVENTS_STEP)
				f->live = 1; /* at the end: the publisher takes over */
		}
		mtd_buf_free(&k.text);
	}
	if (f->out.len == f->off) {
		f->out.len = f->off = 0;
		if (f->closing || sv->stopping) {
			pthread_mutex_unlock(&sv->elock);
			return MHD_CONTENT_READER_END_OF_STREAM;
		}
		if (f->live) { /* nothing to send: wait for events_publish */
			MHD_suspend_connection(f->c);
			f->suspended = 1;
		}
		pthread_mutex_unlock(&sv->elock);
		return 0;
	}
	n = f->out.len - f->off;
	if (n > max)
		n = max;
	memcpy(buf, f->out.data + f->off, n);
	f->off += n;
	pthread_mutex_unlock(&sv->elock);
	return (ssize_t)n;
}

static void events_free(void *cls)
{
	follower *f = cls, **pp;
	pthread_mutex_lock(&f->sv->elock);
	for (pp = &f->sv->followers; *pp && *pp != f; pp = &(*pp)->next)
		;
	if (*pp)
		*pp = f->next;
	pthread_mutex_unlock(&f->sv->elock);
	mtd_buf_free(&f->out);
	free(f);
}

/* GET /v1/events: after Last-Event-ID (a sequence number), or from now. */
static enum MHD_Result do_events(server *sv, struct MHD_Connection *c)
{
	const char *lei = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Last-Event-ID");
	struct MHD_Response *r;
	enum MHD_Result ok;
	follower *f;
	int64_t after = 0;

	if (lei && *lei) {
		char *end;
		errno = 0;
		long long v = strtoll(lei, &end, 10);
		if (*end || errno || v < 0 || lei[0] < '0' || lei[0] > '9')
			return send_plain(c, 400, "Last-Event-ID: not an event id\n");
		after = v;
	} else {
		int rc;
		pthread_mutex_lock(&sv->hlock);
		rc = mtd_decision_head(sv->h, &after);
		hunlock(sv);
		if (rc)
			return send_plain(c, 500, "internal error\n");
	}
	if (!(f = calloc(1, sizeof *f)))
		return MHD_NO;
	f->sv = sv;
	f->c = c;
	f->sent = after;
	/* the reconnection delay for EventSource clients, and something to
	 * send at once so that the headers go out */
	if (mtd_buf_put(&f->out, "retry: 1000\n\n", 13)) {
		free(f);
		return MHD_NO;
	}
	r = MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, 16384, events_read, f, events_free);
	if (!r) {
		mtd_buf_free(&f->out);
		free(f);
		return MHD_NO;
	}
	pthread_mutex_lock(&sv->elock);
	f->next = sv->followers;
	sv->followers = f;
	pthread_mutex_unlock(&sv->elock);
	MHD_add_response_header(r, "Content-Type", "text/event-stream");
	MHD_add_response_header(r, "Cache-Control", "no-store");
	MHD_add_response_header(r, "X-Accel-Buffering", "no"); /* nginx: pass each event on */
	ok = queue(c, 200, r);
	MHD_destroy_response(r);
	return ok;
}

/* A comment to every live follower with nothing waiting (so that proxies
 * keep the connection and a vanished client is noticed). */
static void events_keepalive(server *sv)
{
	pthread_mutex_lock(&sv->elock);
	for (follower *f = sv->followers; f; f = f->next)
		if (f->live && !f->closing && f->out.len == f->off &&
		    !mtd_buf_put(&f->out, ": keep-alive\n\n", 14))
			follower_wake(f);
	pthread_mutex_unlock(&sv->elock);
}

/* Every follower ended (at shutdown): none may stay suspended when MHD
 * stops. Waits up to 2 s for their connections to be resumed. */
static void events_stop(server *sv)
{
	for (int i = 0; i < 200; i++) {
		int waiting = 0;
		struct timespec ts = {0, 10 * 1000 * 1000};
		pthread_mutex_lock(&sv->elock);
		sv->stopping = 1;
		for (follower *f = sv->followers; f; f = f->next) {
			f->closing = 1;
			follower_wake(f);
			waiting = 1;
		}
		pthread_mutex_unlock(&sv->elock);
		if (!waiting)
			return;
		nanosleep(&ts, NULL);
	}
}

/* Diagnostics: into the running ingest's answer, else to stderr. */
static void on_diag(void *ud, const char *msg)
{
	server *sv = ud;
	char line[600];
	if (!sv->errors) {
		mtd_escape(line, sizeof line, msg, strlen(msg));
		fprintf(stderr, "mtdgate: serve: %s\n", line);
		return;
	}
	if (sv->nerrors++ >= ERRORS_MAX)
		return;
	if (mtd_buf_room(sv->errors, MTD_JSON_STR_MAX(strlen(msg)) + 1))
		return;
	if (sv->nerrors > 1)
		sv->errors->data[sv->errors->len++] = ',';
	sv->errors->len += mtd_json_str((char *)sv->errors->data + sv->errors->len, msg,
					   strlen(msg));
}

typedef struct connstate {
	const char *vendor;
	int refused; /* the connector's state refuses messages (R1) */
} connstate;

static int conn_state(void *ud, const mtd_connector_info *ci)
{
	connstate *cs = ud;
	if (!strcmp(ci->vendor, cs->vendor))
		cs->refused = !strcmp(ci->state, "not_set_up") || !strcmp(ci->state, "unavailable");
	return 0;
}

/* POST /v1/ingest/VENDOR: the body as `mtdgate ingest VENDOR` takes it,
 * answered after commit and after the devices are decided again: 401 bad
 * token; 403 (with the counts: the refusals are audited) when the
 * connector's state refuses messages (R1). */
static enum MHD_Result do_ingest(server *sv, struct MHD_Connection *c, const char *vendor,
				 upload *u)
{
	const char *auth = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Authorization");
	const char *norm = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "normalized");
	mtd_buf errors = {0}, ans = {0};
	mtd_stats st;
	connstate cs = {vendor, 0};
	char head[400], msg[300];
	enum MHD_Result ok;
	FILE *in;
	int rc;

	if (u->too_big)
		return send_plain(c, 413, "body too large\n");
	if (!*vendor || strlen(vendor) > 64 || !auth || strncmp(auth, "Bearer ", 7))
		return send_plain(c, 401, "bearer token required\n");
	if (!u->body.len)
		return send_plain(c, 400, "empty body\n");
	if (!(in = fmemopen(u->body.data, u->body.len, "r")))
		return send_plain(c, 500, "internal error\n");
	pthread_mutex_lock(&sv->hlock);
	mtd_tick(sv->h); /* received now */
	if ((rc = mtd_connector_auth(sv->h, vendor, auth + 7))) {
		hunlock(sv);
		fclose(in);
		return send_plain(c, rc == MTD_EREFUSED ? 401 : 500,
				  rc == MTD_EREFUSED ? "bad token\n" : "internal error\n");
	}
	if ((rc = mtd_connector_list(sv->h, conn_state, &cs))) {
		hunlock(sv);
		fclose(in);
		return send_plain(c, 500, "internal error\n");
	}
	sv->errors = &errors;
	sv->nerrors = 0;
	mtd_buf_put(&errors, "[", 1);
	rc = mtd_ingest(sv->h, vendor, in, "body", norm && !strcmp(norm, "1"), &st);
	sv->errors = NULL;
	fclose(in);
	/* the devices it touched (in the batches it committed, also when it
	 * failed later) are decided before it is acknowledged */
	count_messages(vendor, &st);
	{
		int64_t t0 = mono_ns();
		int rc2 = decide_touched(sv);
		histo_add(&metrics.evaluation, mono_ns() - t0);
		if (!rc)
			rc = rc2;
	}
	mtd_escape(msg, sizeof msg, mtd_errmsg(sv->h), strlen(mtd_errmsg(sv->h)));
	events_publish(sv); /* what it committed, also when it failed later */
	hunlock(sv);
	if (rc) {
		mtd_buf_free(&errors);
		return send_plain(c, rc == MTD_EREFUSED ? 403 : rc == MTD_EMALFORMED ? 400 : 500, msg);
	}
	snprintf(head, sizeof head,
		 "{\"records\":%llu,\"accepted\":%llu,\"rejected\":%llu,\"malformed\":%llu,"
		 "\"parked\":%llu,\"errors\":",
		 (unsigned long long)st.records, (unsigned long long)st.accepted,
		 (unsigned long long)st.rejected, (unsigned long long)st.malformed,
		 (unsigned long long)st.parked);
	if (mtd_buf_put(&ans, head, strlen(head)) || mtd_buf_put(&ans, errors.data, errors.len) ||
	    mtd_buf_put(&ans, "]}\n", 3))
		ok = send_plain(c, 500, "out of memory\n");
	else
		ok = send_text(c, cs.refused ? 403 : 200, "application/json", (const char *)ans.data, ans.len);
	mtd_buf_free(&errors);
	mtd_buf_free(&ans);
	return ok;
}

/* ---- the store worker ----
 *
 * Every request that needs the store handle (a push, /v1/devices,
 * /v1/appsync, /metrics) is answered by one thread of its own, so that
 * MHD's thread, which answers /v1/access from the index, never waits for
 * hlock: a GET is no longer queued behind a push being committed and
 * decided. MHD's thread suspends the request's connection and queues it
 * here; the worker runs the handler as before (under hlock, on serve's one
 * handle), keeps the answer in the request (send_text) and resumes the
 * connection; MHD's thread, called again, queues the answer. A push is
 * still answered after its commit and after the devices it touched are
 * decided and in the index, so the next /v1/access sees it. A suspended
 * connection is not touched by MHD (nor timed out) until resumed, so the
 * worker may read its headers and URL. At shutdown the queue is drained
 * and every answer sent before MHD stops (jobs_stop). */

static struct {
	pthread_mutex_t lock;
	pthread_cond_t more, idle;
	upload *head, *tail;
	int busy;     /* a request is being answered */
	int closing;  /* no more requests taken (answered 503) */
	int stop;     /* the worker ends once the queue is empty */
	int started;
	pthread_t t;
	atomic_int open; /* requests handed over and not yet completed */
} jobs = {.lock = PTHREAD_MUTEX_INITIALIZER,
	  .more = PTHREAD_COND_INITIALIZER,
	  .idle = PTHREAD_COND_INITIALIZER};

static enum MHD_Result do_ingest(server *sv, struct MHD_Connection *c, const char *vendor,
				 upload *u);

#ifdef MTD_TEST_HOOKS
/* Test builds: while the file MTD_TEST_WORKER_GATE names exists (at most
 * 10 s), the worker waits before each request, so that a test can ask
 * /v1/access while a push is held in the middle of being answered. */
static void worker_gate(void)
{
	const char *g = getenv("MTD_TEST_WORKER_GATE");
	for (int i = 0; g && i < 1000 && !access(g, F_OK); i++) {
		struct timespec ts = {0, 10 * 1000 * 1000};
		nanosleep(&ts, NULL);
	}
}
#else
#define worker_gate() ((void)0)
#endif

static void *worker_main(void *arg)
{
	server *sv = arg;
	for (;;) {
		upload *u;
		enum MHD_Result ok = MHD_NO;
		pthread_mutex_lock(&jobs.lock);
		while (!jobs.head && !jobs.stop)
			pthread_cond_wait(&jobs.more, &jobs.lock);
		if (!(u = jobs.head)) {
			pthread_mutex_unlock(&jobs.lock);
			return NULL;
		}
		if (!(jobs.head = u->next))
			jobs.tail = NULL;
		jobs.busy = 1;
		pthread_mutex_unlock(&jobs.lock);
		worker_gate();
		deferred = u;
		switch (u->op) {
		case OP_INGEST:
			ok = do_ingest(sv, u->c, u->url + 11, u);
			break;
		case OP_DEVICE:
			ok = do_device(sv, u->c, u->url + 12);
			break;
		case OP_APPSYNC:
			ok = do_appsync(sv, u->c, u->url + 12);
			break;
		case OP_METRICS:
			ok = do_metrics(sv, u->c);
			break;
		}
		deferred = NULL;
		if (ok != MHD_YES && u->answer) { /* answered, then failed: closed */
			MHD_destroy_response(u->answer);
			u->answer = NULL;
		}
		u->state = JOB_DONE;
		pthread_mutex_lock(&jobs.lock);
		jobs.busy = 0;
		if (!jobs.head)
			pthread_cond_broadcast(&jobs.idle);
		pthread_mutex_unlock(&jobs.lock);
		/* u is MHD's again from here (it may be freed at once) */
		MHD_resume_connection(u->c);
	}
}

/* Hand request u (op) on c to the worker, or answer 503 when serve stops. */
static enum MHD_Result defer(struct MHD_Connection *c, const char *url, upload *u, int op)
{
	pthread_mutex_lock(&jobs.lock);
	if (jobs.closing || !jobs.started) {
		pthread_mutex_unlock(&jobs.lock);
		return send_plain(c, 503, "shutting down\n");
	}
	u->c = c;
	u->url = url;
	u->op = op;
	u->state = JOB_QUEUED;
	u->t0 = mono_ns();
	u->next = NULL;
	atomic_fetch_add(&jobs.open, 1);
	/* suspended before the worker can see it: it resumes what it took */
	MHD_suspend_connection(c);
	if (jobs.tail)
		jobs.tail->next = u;
	else
		jobs.head = u;
	jobs.tail = u;
	pthread_cond_signal(&jobs.more);
	pthread_mutex_unlock(&jobs.lock);
	return MHD_YES;
}

/* The worker's answer to u queued (MHD's thread, called again after the
 * worker resumed c); MHD_NO closes the connection when there is none. */
static enum MHD_Result answer_of(struct MHD_Connection *c, upload *u)
{
	enum MHD_Result ok = MHD_NO;
	if (u->answer) {
		ok = queue(c, u->status, u->answer);
		MHD_destroy_response(u->answer);
		u->answer = NULL;
	}
	return ok;
}

static int jobs_start(server *sv)
{
	if (pthread_create(&jobs.t, NULL, worker_main, sv))
		return -1;
	jobs.started = 1;
	return 0;
}

/* No more requests taken; those taken answered and, for up to 10 s, their
 * answers sent (MHD_stop_daemon would close connections whose answers
 * are still queued). */
static void jobs_stop(void)
{
	if (!jobs.started)
		return;
	pthread_mutex_lock(&jobs.lock);
	jobs.closing = 1;
	while (jobs.head || jobs.busy)
		pthread_cond_wait(&jobs.idle, &jobs.lock);
	jobs.stop = 1;
	pthread_cond_signal(&jobs.more);
	pthread_mutex_unlock(&jobs.lock);
	pthread_join(jobs.t, NULL);
	jobs.started = 0;
	for (int i = 0; i < 1000 && atomic_load(&jobs.open); i++) {
		struct timespec ts = {0, 10 * 1000 * 1000};
		nanosleep(&ts, NULL);
	}
}

/* A GET's first call seen (its *con_cls): the answer waits for the second
 * call. libmicrohttpd closes the connection after an answer queued in the
 * first call ("early": it refuses to read the rest of the request), so
 * answering there cost every proxy a new TCP connection per request. */
static char get_seen;

static void on_completed(void *cls, struct MHD_Connection *c, void **con_cls,
			 enum MHD_RequestTerminationCode why)
{
	upload *u = *con_cls;
	(void)cls;
	(void)c;
	(void)why;
	if (u == (void *)&get_seen) {
		*con_cls = NULL;
	} else if (u) {
		if (u->state != JOB_NONE)
			atomic_fetch_sub(&jobs.open, 1);
		if (u->answer)
			MHD_destroy_response(u->answer);
		mtd_buf_free(&u->body);
		free(u);
		*con_cls = NULL;
	}
}

/* /v1/access, or a path below it: Envoy's ext_authz (HTTP service) asks its
 * path_prefix followed by the original request's path, with the original
 * request's method (Traefik, Caddy and nginx's auth_request ask with GET). */
static int is_access(const char *url)
{
	return !strncmp(url, "/v1/access", 10) && (url[10] == '\0' || url[10] == '/');
}

static enum MHD_Result route(server *sv, struct MHD_Connection *c, const char *url,
			     const char *method, const char *upload_data, size_t *upload_data_size,
			     void **con_cls)
{
	upload *u = *con_cls;
	int op = -1;
	if (u && u != (void *)&get_seen && u->state == JOB_DONE)
		return answer_of(c, u);
	if (u && u != (void *)&get_seen && u->state == JOB_QUEUED)
		return MHD_YES; /* not expected: a suspended request is not called */
	if (is_access(url)) { /* any method: a proxy's check may carry the request's */
		if (!u) {
			*con_cls = &get_seen;
			return MHD_YES;
		}
		if (*upload_data_size) { /* a body is not the check's: dropped unread */
			*upload_data_size = 0;
			return MHD_YES;
		}
		return do_access(sv, c);
	}
	if (strcmp(method, "GET") && strcmp(method, "HEAD")) {
		if (!u) {
			if (!(u = calloc(1, sizeof *u)))
				return MHD_NO;
			*con_cls = u;
			return MHD_YES;
		}
		if (*upload_data_size) { /* kept up to BODY_MAX, the rest dropped */
			if (u->body.len + *upload_data_size > BODY_MAX ||
			    mtd_buf_put(&u->body, upload_data, *upload_data_size))
				u->too_big = 1;
			*upload_data_size = 0;
			return MHD_YES;
		}
		if (strcmp(method, "POST") || strncmp(url, "/v1/ingest/", 11))
			return send_plain(c, 405, "method not allowed\n");
		return defer(c, url, u, OP_INGEST);
	}
	if (!u) {
		*con_cls = &get_seen;
		return MHD_YES;
	}
	if (!strcmp(url, "/v1/events"))
		return do_events(sv, c);
	if (!strcmp(url, "/healthz"))
		return send_plain(c, 200, "ok\n");
	if (!strncmp(url, "/v1/devices/", 12))
		op = OP_DEVICE;
	else if (!strncmp(url, "/v1/appsync/", 12))
		op = OP_APPSYNC;
	else if (!strcmp(url, "/metrics"))
		op = OP_METRICS;
	else
		return send_plain(c, 404, "not found\n");
	if (!(u = calloc(1, sizeof *u)))
		return MHD_NO;
	*con_cls = u; /* freed by on_completed */
	return defer(c, url, u, op);
}

static int endpoint_of(const char *url)
{
	if (is_access(url))
		return EP_ACCESS;
	if (!strncmp(url, "/v1/devices/", 12))
		return EP_DEVICES;
	if (!strncmp(url, "/v1/ingest/", 11))
		return EP_INGEST;
	if (!strncmp(url, "/v1/appsync/", 12))
		return EP_APPSYNC;
	if (!strcmp(url, "/v1/events"))
		return EP_EVENTS;
	if (!strcmp(url, "/healthz"))
		return EP_HEALTHZ;
	if (!strcmp(url, "/metrics"))
		return EP_METRICS;
	return EP_OTHER;
}

/* Every request, counted when it is answered (a body's chunks are not). */
static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url,
				  const char *method, const char *version,
				  const char *upload_data, size_t *upload_data_size, void **con_cls)
{
	int64_t t0 = mono_ns();
	enum MHD_Result ok;
	(void)version;
	queued_status = 0;
	ok = route(cls, c, url, method, upload_data, upload_data_size, con_cls);
	if (queued_status) {
		const upload *u = *con_cls;
		if (u && u != (void *)&get_seen && u->state != JOB_NONE)
			t0 = u->t0; /* answered by the worker: from the hand-over */
		count_request(endpoint_of(url), queued_status, mono_ns() - t0);
	}
	return ok;
}

/* A listening socket for HOST:PORT (IPv4 dotted or [IPv6]) or unix:PATH;
 * -2 (a bad spec) or -1 (cannot listen) with a message on stderr. *shown: what it listens on, with the port
 * chosen when PORT was 0. */
static int open_listener(const char *spec, char *shown, size_t n)
{
	int fd = -1, one = 1;
	if (!strncmp(spec, "unix:", 5)) {
		struct sockaddr_un sa = {.sun_family = AF_UNIX};
		const char *path = spec + 5;
		if (!*path || strlen(path) >= sizeof sa.sun_path) {
			fprintf(stderr, "mtdgate: serve: --listen %s: bad socket path\n", spec);
			return -2;
		}
		strcpy(sa.sun_path, path);
		unlink(path); /* a stale socket of an earlier run */
		fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
		if (fd < 0 || bind(fd, (struct sockaddr *)&sa, sizeof sa) || listen(fd, 512))
			goto fail;
		snprintf(shown, n, "unix:%s", path);
		return fd;
	} else {
		const char *colon = strrchr(spec, ':');
		char host[64];
		char *end;
		long port;
		struct sockaddr_in6 a6 = {.sin6_family = AF_INET6};
		struct sockaddr_in a4 = {.sin_family = AF_INET};
		int v6;
		if (!colon || (size_t)(colon - spec) >= sizeof host)
			goto bad;
		port = strtol(colon + 1, &end, 10);
		if (!colon[1] || *end || port < 0 || port > 65535)
			goto bad;
		memcpy(host, spec, (size_t)(colon - spec));
		host[colon - spec] = '\0';
		v6 = host[0] == '[';
		if (v6) {
			size_t hl = strlen(host);
			if (hl < 3 || host[hl - 1] != ']')
				goto bad;
			host[hl - 1] = '\0';
			if (inet_pton(AF_INET6, host + 1, &a6.sin6_addr) != 1)
				goto bad;
			a6.sin6_port = htons((uint16_t)port);
		} else if (inet_pton(AF_INET, host, &a4.sin_addr) != 1) {
			goto bad;
		} else {
			a4.sin_port = htons((uint16_t)port);
		}
		fd = socket(v6 ? AF_INET6 : AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
		if (fd < 0)
			goto fail;
		setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
		if ((v6 ? bind(fd, (struct sockaddr *)&a6, sizeof a6)
			: bind(fd, (struct sockaddr *)&a4, sizeof a4)) ||
		    listen(fd, 512))
			goto fail;
		if (v6) {
			socklen_t l = sizeof a6;
			getsockname(fd, (struct sockaddr *)&a6, &l);
			snprintf(shown, n, "[%s]:%u", host + 1, ntohs(a6.sin6_port));
		} else {
			socklen_t l = sizeof a4;
			getsockname(fd, (struct sockaddr *)&a4, &l);
			snprintf(shown, n, "%s:%u", host, ntohs(a4.sin_port));
		}
		return fd;
	}
bad:
	fprintf(stderr, "mtdgate: serve: --listen '%s' is neither HOST:PORT nor unix:PATH\n", spec);
	return -2;
fail:
	fprintf(stderr, "mtdgate: serve: --listen %s: %s\n", spec, strerror(errno));
	if (fd >= 0)
		close(fd);
	return -1;
}

#define PEM_MAX (1u << 20) /* bytes of a certificate chain or key file */

/* A PEM file into a malloc'ed NUL-terminated buffer (*out), for --tls-cert
 * and --tls-key. With secret, refused unless a regular file of ours that
 * nobody else may read or write (as every private key mtdgate reads).
 * 0, or a message on stderr and 64 (unreadable) or 69 (refused). */
static int read_pem(const char *opt, const char *path, int secret, char **out)
{
	struct stat sb;
	char *buf;
	size_t n = 0;
	ssize_t k;
	int fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	*out = NULL;
	if (fd < 0) {
		fprintf(stderr, "mtdgate: serve: %s %s: %s\n", opt, path, strerror(errno));
		return 64;
	}
	if (fstat(fd, &sb) || !S_ISREG(sb.st_mode) || sb.st_size > PEM_MAX) {
		fprintf(stderr, "mtdgate: serve: %s %s: not a regular file of at most %u bytes\n",
			opt, path, PEM_MAX);
		close(fd);
		return 64;
	}
	if (secret && (sb.st_uid != geteuid() || (sb.st_mode & 077))) {
		fprintf(stderr,
			"mtdgate: serve: %s %s: a private key must be yours and readable by you alone "
			"(it is mode %04o, owner %u): refused (chmod 600 it)\n",
			opt, path, (unsigned)(sb.st_mode & 07777), (unsigned)sb.st_uid);
		close(fd);
		return 69;
	}
	if (!(buf = malloc((size_t)sb.st_size + 1))) {
		close(fd);
		return 70;
	}
	while (n < (size_t)sb.st_size && (k = read(fd, buf + n, (size_t)sb.st_size - n)) > 0)
		n += (size_t)k;
	close(fd);
	buf[n] = '\0';
	*out = buf;
	return 0;
}

/* A whole decimal number in [lo, hi] for option opt; else a message and -1. */
static int number_arg(const char *opt, const char *text, unsigned long long lo,
		      unsigned long long hi, unsigned long long *v)
{
	char *end;
	errno = 0;
	*v = strtoull(text, &end, 10);
	if (text[0] < '0' || text[0] > '9' || *end || errno || *v < lo || *v > hi) {
		fprintf(stderr, "mtdgate: serve: %s needs a number from %llu to %llu, not '%s'\n",
			opt, lo, hi, text);
		return -1;
	}
	return 0;
}

int mtd_cli_serve(mtd_t *h, int argc, char **argv)
{
	static server sv; /* static: the signal-driven loop below outlives nothing */
	static dindex chg;
	const char *specs[MAX_LISTEN], *syslog_to = NULL;
	static mtd_siem_forward fwd; /* --syslog: records forwarded as they commit */
	size_t nspecs = 0;
	struct sigaction sa = {.sa_handler = on_signal};
	int rc, status = 0;
	unsigned long long num;
	const char *tls_cert = NULL, *tls_key = NULL;
	char *cert_pem = NULL, *key_pem = NULL;
	time_t keepalive_at;

	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--listen") && i + 1 < argc && nspecs < MAX_LISTEN) {
			specs[nspecs++] = argv[++i];
		} else if (!strcmp(argv[i], "--syslog") && i + 1 < argc && !syslog_to) {
			syslog_to = argv[++i];
		} else if (!strcmp(argv[i], "--events-buffer") && i + 1 < argc) {
			if (number_arg("--events-buffer", argv[++i], 256, 1ull << 30, &num))
				return 64;
			sv.events_buffer = (size_t)num;
		} else if (!strcmp(argv[i], "--tls-cert") && i + 1 < argc) {
			tls_cert = argv[++i];
		} else if (!strcmp(argv[i], "--tls-key") && i + 1 < argc) {
			tls_key = argv[++i];
		} else if (!strcmp(argv[i], "--keepalive") && i + 1 < argc) {
			if (number_arg("--keepalive", argv[++i], 1, 3600, &num))
				return 64;
			sv.keepalive = (unsigned)num;
		} else {
			fprintf(stderr, "mtdgate: serve: unexpected '%s' (see 'mtdgate help serve')\n",
				argv[i]);
			return 64;
		}
	}
	if (!nspecs)
		specs[nspecs++] = "127.0.0.1:8181";
	if (!tls_cert != !tls_key) {
		fprintf(stderr, "mtdgate: serve: --tls-cert and --tls-key go together\n");
		return 64;
	}
	if (tls_cert && ((rc = read_pem("--tls-cert", tls_cert, 0, &cert_pem)) ||
			 (rc = read_pem("--tls-key", tls_key, 1, &key_pem)))) {
		free(cert_pem);
		return rc;
	}
	if (!sv.events_buffer)
		sv.events_buffer = 1u << 20;
	if (!sv.keepalive)
		sv.keepalive = 15;
	sv.h = h;
	mtd_set_diag(h, on_diag, &sv);
	if ((rc = mtd_track_touched(h, 1))) {
		fprintf(stderr, "mtdgate: serve: %s\n", mtd_errmsg(h));
		return rc == MTD_ENOTFOUND || rc == MTD_EUSAGE ? 64 : 70;
	}
	pthread_mutex_init(&sv.hlock, NULL);
	pthread_mutex_init(&sv.ilock, NULL);
	/* the index, then what was written since the last evaluation (by
	 * batch commands, or before a crash) decided */
	pthread_mutex_init(&sv.elock, NULL);
	sv.chg = &chg;
	sv.seq = -1;
	if ((rc = mtd_data_version(h, &sv.version)) || (rc = rebuild(&sv)) || (rc = pick_up(&sv))) {
		fprintf(stderr, "mtdgate: serve: %s\n", mtd_errmsg(h));
		return rc == MTD_ENOTFOUND || rc == MTD_EUSAGE ? 64 : 70;
	}
	if (syslog_to) {
		char why[300];
		mtd_siem_target *t;
		if (mtd_siem_open(syslog_to, &t, why, sizeof why)) {
			fprintf(stderr, "mtdgate: serve: --syslog %s\n", why);
			return 64;
		}
		if ((rc = mtd_siem_forward_start(h, &fwd, t))) {
			mtd_siem_close(t);
			fprintf(stderr, "mtdgate: serve: %s\n", mtd_errmsg(h));
			return 70;
		}
	}
	sigemptyset(&sa.sa_mask);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
	if (jobs_start(&sv)) {
		fprintf(stderr, "mtdgate: serve: cannot start a thread\n");
		status = 70;
		goto out;
	}
	for (size_t i = 0; i < nspecs; i++) {
		char shown[160];
		int fd = open_listener(specs[i], shown, sizeof shown);
		if (fd < 0) {
			status = fd == -2 ? 64 : 69;
			goto out;
		}
		sv.d[sv.nd] = MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL |
						       MHD_ALLOW_SUSPEND_RESUME |
						       (cert_pem ? MHD_USE_TLS : 0),
					       0, NULL, NULL, on_request, &sv,
					       MHD_OPTION_LISTEN_SOCKET, fd,
					       /* ignored without MHD_USE_TLS */
					       MHD_OPTION_HTTPS_MEM_CERT, cert_pem ? cert_pem : "",
					       MHD_OPTION_HTTPS_MEM_KEY, key_pem ? key_pem : "",
					       MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)60,
					       MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)CONN_MEMORY,
					       MHD_OPTION_NOTIFY_COMPLETED, on_completed, NULL,
					       MHD_OPTION_END);
		if (!sv.d[sv.nd]) {
			close(fd);
			fprintf(stderr, "mtdgate: serve: cannot start the HTTP server on %s\n", shown);
			status = 70;
			goto out;
		}
		sv.nd++;
		printf("listening on %s%s\n", shown, cert_pem ? " (TLS)" : "");
	}
	fflush(stdout);
	pthread_mutex_lock(&sv.hlock);
	if (pull_sync(&sv))
		fprintf(stderr, "mtdgate: serve: %s\n", mtd_errmsg(h));
	hunlock(&sv);
	keepalive_at = time(NULL) + sv.keepalive;
	while (!got_term) {
		struct timespec ts = {0, 200 * 1000 * 1000};
		nanosleep(&ts, NULL); /* a signal ends it early */
		if (got_term)
			break;
		pthread_mutex_lock(&sv.hlock);
		rc = poll_store(&sv);
		if (!rc && fwd.target)
			rc = mtd_siem_forward_poll(h, &fwd);
		if (rc)
			fprintf(stderr, "mtdgate: serve: %s\n", mtd_errmsg(h));
		events_publish(&sv); /* what the loop or another writer decided */
		hunlock(&sv);
		if (time(NULL) >= keepalive_at) {
			events_keepalive(&sv);
			keepalive_at = time(NULL) + sv.keepalive;
		}
	}
out:
	/* the requests taken answered (pushes committed and decided), then the
	 * pulls stopped, what they committed last decided */
	jobs_stop();
	pull_stop_all();
	if (sv.nd) {
		pthread_mutex_lock(&sv.hlock);
		if (poll_store(&sv))
			fprintf(stderr, "mtdgate: serve: %s\n", mtd_errmsg(h));
		events_publish(&sv);
		hunlock(&sv);
	}
	mtd_siem_close(fwd.target);
	mtd_siem_forward_stop(&fwd);
	events_stop(&sv);
	/* in-flight requests are answered before MHD_stop_daemon returns */
	for (size_t i = 0; i < sv.nd; i++)
		MHD_stop_daemon(sv.d[i]);
	index_free(sv.ix);
	sv.ix = NULL;
	free(shapes.b); /* every shape went with the index */
	mtd_buf_free(&pub.text);
	memset(&shapes, 0, sizeof shapes);
	pthread_mutex_destroy(&sv.hlock);
	pthread_mutex_destroy(&sv.ilock);
	pthread_mutex_destroy(&sv.elock);
	free(cert_pem);
	if (key_pem) {
		explicit_bzero(key_pem, strlen(key_pem));
		free(key_pem);
	}
	return status;
}
