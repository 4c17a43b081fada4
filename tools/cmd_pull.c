/* mtdgate pull: fetch from a vendor's API (issue 16). */
#include <stdio.h>
#include <string.h>

#include "cli.h"

typedef struct all {
	const char *names[256];
	char buf[256][40];
	size_t n;
} all;

static int add_vendor(void *ud, const mtd_pull_info *p)
{
	all *a = ud;
	if (p->configured && a->n < 256) {
		snprintf(a->buf[a->n], sizeof a->buf[0], "%s", p->vendor);
		a->names[a->n] = a->buf[a->n];
		a->n++;
	}
	return 0;
}

/* One vendor's pull and its lines (json: one object); the exit status it
 * asks for. */
static int pull_one(mtd_t *h, const char *vendor, unsigned flags, int *pulled, cli_format fmt)
{
	mtd_pull_stats ps;
	int rc = mtd_pull(h, vendor, flags, &ps);
	if ((ps.pages || !rc) && fmt == CLI_JSON) {
		mtd_buf b = {0};
		char t[400];
		snprintf(t, sizeof t,
			 ",\"pages\":%llu,\"accepted\":%llu,\"rejected\":%llu,\"malformed\":%llu,"
			 "\"bad_elements\":%llu,\"parked\":%llu,\"replayed\":%llu,\"requests\":%llu,"
			 "\"retries\":%llu}",
			 (unsigned long long)ps.pages, (unsigned long long)ps.st.accepted,
			 (unsigned long long)ps.st.rejected, (unsigned long long)ps.st.malformed,
			 (unsigned long long)ps.st.bad_elements, (unsigned long long)ps.st.parked,
			 (unsigned long long)ps.replayed, (unsigned long long)ps.requests,
			 (unsigned long long)ps.retries);
		if (buf_lit(&b, "{\"vendor\":") || buf_str(&b, vendor) || buf_lit(&b, t) ||
		    buf_line(&b)) {
			mtd_buf_free(&b);
			return fail(h, MTD_ENOMEM);
		}
		mtd_buf_free(&b);
	} else if (ps.pages || !rc) {
		print_stats(vendor, &ps.st, 1, fmt);
		if (fmt == CLI_TABLE)
			printf("%s: %llu pages, %llu replayed events not counted again, %llu "
			       "requests, %llu retried\n", esc(vendor), (unsigned long long)ps.pages,
			       (unsigned long long)ps.replayed, (unsigned long long)ps.requests,
			       (unsigned long long)ps.retries);
	}
	if (ps.pages)
		(*pulled)++;
	if (rc)
		return fail(h, rc);
	return ps.st.malformed || ps.st.bad_elements ? EX_DATAERR_ : EX_OK;
}

static int cmd_pull(mtd_t *h, opts *o)
{
	unsigned flags = has_flag(o, "--once") ? MTD_PULL_ONCE : 0;
	int every = has_flag(o, "--all"), rc = EX_OK, pulled = 0;
	int evaluate = !has_flag(o, "--no-evaluate");
	uint64_t evaluated = 0, changed = 0;
	cli_format fmt;

	if ((rc = cli_output(o, "pull", &fmt)))
		return rc;
	/* the devices the pages touch are recorded as they commit */
	if (evaluate && (rc = mtd_track_touched(h, 1)))
		return fail(h, rc);

	if (every) {
		all a = {0};
		int k;
		if ((k = no_more(o, 1, "pull")))
			return k;
		if ((k = mtd_pull_list(h, add_vendor, &a)))
			return fail(h, k);
		for (size_t i = 0; i < a.n; i++) {
			int r = pull_one(h, a.names[i], flags, &pulled, fmt);
			if (r > rc)
				rc = r;
		}
	} else {
		if ((rc = no_more(o, 2, "pull")))
			return rc;
		rc = pull_one(h, o->argv[1], flags, &pulled, fmt);
	}
	/* exactly the devices the committed pages touched decide again (with
	 * --all: once, for what every vendor's pages touched), and those whose
	 * inputs changed since the last evaluation (a pull killed after some
	 * pages committed left them undecided) */
	if (pulled && evaluate) {
		mtd_devset set = {0};
		int64_t seq = -1;
		int k = mtd_touched(h, &set);
		if (!k)
			k = mtd_changes_since(h, &seq, &set, NULL);
		if (!k && (set.all || set.n))
			k = mtd_evaluate_set(h, &set, NULL, NULL, &evaluated, &changed);
		mtd_devset_free(&set);
		if (k)
			return fail(h, k);
		if (fmt == CLI_TABLE)
			printf("evaluated %llu devices, %llu changed\n", (unsigned long long)evaluated,
			       (unsigned long long)changed);
		else if (fmt == CLI_JSON)
			printf("{\"evaluated\":%llu,\"changed\":%llu}\n",
			       (unsigned long long)evaluated, (unsigned long long)changed);
	}
	return rc;
}

static const cli_option pull_options[] = {
	{"--once", NULL, "read a stream until it has caught up, not hold it open", NULL, 0},
	{"--all", NULL, "every connector with API settings", NULL, 0},
	{"--no-evaluate", NULL, "fetch only; evaluate later", NULL, 0},
	CLI_OPT_OUTPUT(NULL),
	{0},
};

const cli_command cli_cmd_pull = {
	.name = "pull",
	.summary = "  pull VENDOR|--all [--once] [--no-evaluate]  fetch what is new from the vendor's API\n",
	.help = "usage: mtdgate pull VENDOR [--once] [--no-evaluate]\n"
		"       mtdgate pull --all [--once] [--no-evaluate]\n\n"
		"Fetch what is new from the vendor's API, as its plugin describes it (plugin\n"
		"ABI 1.2), from where the last pull stopped, then evaluate the devices its\n"
		"pages touched (with --all: once, after every vendor). Set it up first:\n"
		"  mtdgate connector set VENDOR client_id=ID secret_file=PATH\n"
		"      [api_url=https://...] [token_url=https://...] [whoami_url=https://...]\n"
		"      [ca_file=PATH] [poll_seconds=60]\n"
		"The secret file must be yours and readable by nobody else (chmod 600); the\n"
		"secret is read at each pull and never stored or printed. Each page is\n"
		"committed with the point the next pull resumes from, so a pull that is killed\n"
		"neither loses nor repeats an event; events the vendor sends again are\n"
		"recognized by their id and not counted twice. 429 and 503 are retried after\n"
		"Retry-After, 5xx and timeouts with backoff; a 401 gets one fresh token.\n"
		"--no-evaluate fetches only. --all pulls every connector with API settings;\n"
		"--once reads a stream until it has caught up instead of holding it open.\n"
		"'mtdgate connector list' shows each one's last success, lag and last error.\n"
		"--output json: one object per vendor, then (unless --no-evaluate) one\n"
		"{\"evaluated\":N,\"changed\":N} of the evaluation after the pull.\n"
		"\nExit 0 done; 64 usage; 65 a page or some of its events were malformed; 69\n"
		"refused (no connector, no API, missing settings, a secret file others can\n"
		"read, credentials refused); 70 the API could not be reached or kept failing;\n"
		"75 the store stayed busy longer than --wait.\n",
	.run = cmd_pull,
	.options = pull_options,
};
