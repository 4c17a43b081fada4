/* mtdgate evaluate [--dry-run] [--output table|json|csv]: decide every
 * device; a dry run is a plan to review, the dangerous changes first. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

/* The fields of a decision a plan compares, in the order it shows them. */
enum { F_STATE, F_LEVEL, F_ACCESS, F_APP, F_RESOURCES, F_VENDORS, F_REASONS, NFIELDS };
static const char *const field_names[NFIELDS] = {
	"state", "level", "access", "app_protection", "resources", "vendors", "reasons"};

/* One way a decision changes (many devices share one): what the plan shows
 * of it, built once. Every string owned. */
typedef struct diff {
	int kind;            /* MTD_CHANGE_* */
	char *json;          /* "kind":..,"changed":[..],"before":{..},"after":{..} */
	char *transition;    /* "compliant/allow/none -> noncompliant/block/none" */
	unsigned changed;    /* bit per F_* */
	char *was[NFIELDS], *now[NFIELDS]; /* as text; lists joined with ", " */
	size_t nreasons;
	char **reasons;      /* the new decision's */
	uint64_t hash;
} diff;

typedef struct change {
	char *device; /* owned */
	size_t diff;
} change;

typedef struct plan {
	int dry, all;         /* all: keep every change, else wipes and blocks only */
	diff *d;
	size_t nd, dcap;
	size_t *slot;         /* open addressing: diff index + 1 */
	size_t nslot;         /* a power of two, kept over twice nd */
	change *c[MTD_NCHANGE_KINDS];
	size_t nc[MTD_NCHANGE_KINDS], ccap[MTD_NCHANGE_KINDS];
	mtd_buf key;          /* the diff being looked up */
	int rc;
} plan;

static uint64_t fnv(const void *p, size_t n)
{
	const unsigned char *s = p;
	uint64_t h = UINT64_C(1469598103934665603);
	for (size_t i = 0; i < n; i++)
		h = (h ^ s[i]) * UINT64_C(1099511628211);
	return h;
}

static int same_list(const char *const *a, size_t na, const char *const *b, size_t nb)
{
	if (na != nb)
		return 0;
	for (size_t i = 0; i < na; i++)
		if (strcmp(a[i], b[i]))
			return 0;
	return 1;
}

static int same_vendors(const mtd_decision_info *a, const mtd_decision_info *b)
{
	return same_list(a->vendor_names, a->nvendors, b->vendor_names, b->nvendors) &&
	       same_list(a->vendor_levels, a->nvendors, b->vendor_levels, b->nvendors);
}

static unsigned changed_fields(const mtd_decision_info *a, const mtd_decision_info *b)
{
	return (unsigned)(!!strcmp(a->state, b->state) << F_STATE |
			  !!strcmp(a->level, b->level) << F_LEVEL |
			  !!strcmp(a->access, b->access) << F_ACCESS |
			  !!strcmp(a->app_protection, b->app_protection) << F_APP |
			  !same_list(a->resources, a->nresources, b->resources, b->nresources)
				  << F_RESOURCES |
			  !same_vendors(a, b) << F_VENDORS |
			  !same_list(a->reasons, a->nreasons, b->reasons, b->nreasons) << F_REASONS);
}

static int json_list(mtd_buf *b, const char *const *v, size_t n)
{
	int rc = buf_lit(b, "[");
	for (size_t i = 0; i < n && !rc; i++)
		rc = (i && buf_lit(b, ",")) || buf_str(b, v[i]);
	return rc || buf_lit(b, "]");
}

/* d's fields as a JSON object (SPEC 4.3's names). */
static int json_side(mtd_buf *b, const mtd_decision_info *d)
{
	int rc = buf_lit(b, "{\"state\":") || buf_str(b, d->state) || buf_lit(b, ",\"level\":") ||
		 buf_str(b, d->level) || buf_lit(b, ",\"access\":") || buf_str(b, d->access) ||
		 buf_lit(b, ",\"app_protection\":") || buf_str(b, d->app_protection) ||
		 buf_lit(b, ",\"resources\":") || json_list(b, d->resources, d->nresources) ||
		 buf_lit(b, ",\"vendors\":{");
	for (size_t i = 0; i < d->nvendors && !rc; i++)
		rc = (i && buf_lit(b, ",")) || buf_str(b, d->vendor_names[i]) || buf_lit(b, ":") ||
		     buf_str(b, d->vendor_levels[i]);
	return rc || buf_lit(b, "},\"reasons\":") || json_list(b, d->reasons, d->nreasons) ||
	       buf_lit(b, "}");
}

/* A list as one text: "a, b" ("" when empty), owned. */
static char *joined(const char *const *v, const char *const *w, size_t n)
{
	size_t len = 1;
	char *s, *p;
	for (size_t i = 0; i < n; i++)
		len += strlen(v[i]) + 2 + (w ? strlen(w[i]) + 1 : 0);
	if (!(s = p = malloc(len)))
		return NULL;
	*p = '\0';
	for (size_t i = 0; i < n; i++)
		p += w ? sprintf(p, "%s%s %s", i ? ", " : "", v[i], w[i])
		       : sprintf(p, "%s%s", i ? ", " : "", v[i]);
	return s;
}

static char *field_text(const mtd_decision_info *d, int f)
{
	switch (f) {
	case F_STATE: return strdup(d->state);
	case F_LEVEL: return strdup(d->level);
	case F_ACCESS: return strdup(d->access);
	case F_APP: return strdup(d->app_protection);
	case F_RESOURCES: return joined(d->resources, NULL, d->nresources);
	case F_VENDORS: return joined(d->vendor_names, d->vendor_levels, d->nvendors);
	default: return joined(d->reasons, NULL, d->nreasons);
	}
}

static void diff_free(diff *d)
{
	free(d->json);
	free(d->transition);
	for (int f = 0; f < NFIELDS; f++) {
		free(d->was[f]);
		free(d->now[f]);
	}
	for (size_t i = 0; i < d->nreasons; i++)
		free(d->reasons[i]);
	free(d->reasons);
}

static int diff_make(diff *d, int kind, unsigned ch, const mtd_decision_info *a,
		     const mtd_decision_info *b, const mtd_buf *key, uint64_t hash)
{
	char t[200];
	memset(d, 0, sizeof *d);
	d->kind = kind;
	d->changed = ch;
	d->hash = hash;
	snprintf(t, sizeof t, "%s/%s/%s -> %s/%s/%s", a->state, a->access, a->app_protection,
		 b->state, b->access, b->app_protection);
	if (!(d->json = strndup((const char *)key->data, key->len)) || !(d->transition = strdup(t)))
		return MTD_ENOMEM;
	for (int f = 0; f < NFIELDS; f++)
		if ((ch >> f & 1) && (!(d->was[f] = field_text(a, f)) || !(d->now[f] = field_text(b, f))))
			return MTD_ENOMEM;
	if (b->nreasons && !(d->reasons = calloc(b->nreasons, sizeof *d->reasons)))
		return MTD_ENOMEM;
	for (; d->nreasons < b->nreasons; d->nreasons++)
		if (!(d->reasons[d->nreasons] = strdup(b->reasons[d->nreasons])))
			return MTD_ENOMEM;
	return 0;
}

/* The index of the diff of key, added when new. */
static int intern(plan *p, int kind, unsigned ch, const mtd_decision_info *a,
		  const mtd_decision_info *b, size_t *out)
{
	uint64_t h = fnv(p->key.data, p->key.len);
	size_t i, *sl;
	int rc;
	if (2 * (p->nd + 1) > p->nslot) { /* grow, rehash */
		size_t n = p->nslot ? 2 * p->nslot : 256;
		if (!(sl = calloc(n, sizeof *sl)))
			return MTD_ENOMEM;
		for (size_t k = 0; k < p->nd; k++) {
			for (i = p->d[k].hash & (n - 1); sl[i]; i = (i + 1) & (n - 1))
				;
			sl[i] = k + 1;
		}
		free(p->slot);
		p->slot = sl;
		p->nslot = n;
	}
	for (i = h & (p->nslot - 1); p->slot[i]; i = (i + 1) & (p->nslot - 1)) {
		const diff *d = &p->d[p->slot[i] - 1];
		if (d->hash == h && strlen(d->json) == p->key.len &&
		    !memcmp(d->json, p->key.data, p->key.len)) {
			*out = p->slot[i] - 1;
			return 0;
		}
	}
	if (p->nd == p->dcap) {
		size_t cap = p->dcap ? 2 * p->dcap : 64;
		diff *v = realloc(p->d, cap * sizeof *v);
		if (!v)
			return MTD_ENOMEM;
		p->d = v;
		p->dcap = cap;
	}
	rc = diff_make(&p->d[p->nd], kind, ch, a, b, &p->key, h);
	p->nd++; /* freed with the others, also when half made */
	if (rc)
		return rc;
	p->slot[i] = p->nd;
	*out = p->nd - 1;
	return 0;
}

/* mtd_change_fn: each change, kept by kind (a real run keeps the wipes and
 * blocks it issued only). */
static int on_change(void *ud, const mtd_decision_info *a, const mtd_decision_info *b)
{
	plan *p = ud;
	int kind = mtd_change_kind(a, b), rc;
	unsigned ch;
	size_t di;
	change *c;
	if (!p->all && kind != MTD_CHANGE_WIPE && kind != MTD_CHANGE_BLOCK)
		return 0;
	ch = changed_fields(a, b);
	p->key.len = 0;
	rc = buf_lit(&p->key, "\"kind\":") || buf_str(&p->key, mtd_change_kind_name(kind)) ||
	     buf_lit(&p->key, ",\"changed\":[");
	for (int f = 0, n = 0; f < NFIELDS && !rc; f++)
		if (ch >> f & 1)
			rc = (n++ && buf_lit(&p->key, ",")) || buf_str(&p->key, field_names[f]);
	rc = rc || buf_lit(&p->key, "],\"before\":") || json_side(&p->key, a) ||
	     buf_lit(&p->key, ",\"after\":") || json_side(&p->key, b);
	if (rc || (rc = intern(p, kind, ch, a, b, &di)))
		return p->rc = MTD_ENOMEM;
	if (p->nc[kind] == p->ccap[kind]) {
		size_t cap = p->ccap[kind] ? 2 * p->ccap[kind] : 64;
		change *v = realloc(p->c[kind], cap * sizeof *v);
		if (!v)
			return p->rc = MTD_ENOMEM;
		p->c[kind] = v;
		p->ccap[kind] = cap;
	}
	c = &p->c[kind][p->nc[kind]];
	if (!(c->device = strdup(b->device)))
		return p->rc = MTD_ENOMEM;
	c->diff = di;
	p->nc[kind]++;
	return 0;
}

static void plan_free(plan *p)
{
	for (size_t i = 0; i < p->nd; i++)
		diff_free(&p->d[i]);
	free(p->d);
	free(p->slot);
	for (int k = 0; k < MTD_NCHANGE_KINDS; k++) {
		for (size_t i = 0; i < p->nc[k]; i++)
			free(p->c[k][i].device);
		free(p->c[k]);
	}
	mtd_buf_free(&p->key);
}

/* ---- writing the plan ---- */

static int danger(int kind)
{
	return kind == MTD_CHANGE_WIPE || kind == MTD_CHANGE_BLOCK;
}

static void print_table(const plan *p, int color)
{
	static const char *const label[MTD_NCHANGE_KINDS] = {"WIPE", "BLOCK", "worse", "better",
							     "other"};
	static const char *const paint[MTD_NCHANGE_KINDS] = {"\033[1;31m", "\033[1;33m", "", "",
							     ""};
	for (int k = 0; k < MTD_NCHANGE_KINDS; k++)
		for (size_t i = 0; i < p->nc[k]; i++) {
			const change *c = &p->c[k][i];
			const diff *d = &p->d[c->diff];
			int hi = color && paint[k][0];
			printf("%s%s %-6s%s %s: %s\n", hi ? paint[k] : "", danger(k) ? "!" : " ",
			       label[k], hi ? "\033[0m" : "", esc(c->device), d->transition);
			for (int f = 0; f < F_REASONS; f++)
				if (d->changed >> f & 1)
					printf("    %s: %s -> %s\n", field_names[f],
					       d->was[f][0] ? esc(d->was[f]) : "(none)",
					       d->now[f][0] ? esc(d->now[f]) : "(none)");
			if (d->nreasons)
				printf("    why%s:\n", d->changed >> F_REASONS & 1 ? " (changed)" : "");
			for (size_t r = 0; r < d->nreasons; r++)
				printf("      %s\n", esc(d->reasons[r]));
		}
}

static int print_json(const plan *p)
{
	mtd_buf b = {0};
	int rc = 0;
	for (int k = 0; k < MTD_NCHANGE_KINDS && !rc; k++)
		for (size_t i = 0; i < p->nc[k] && !rc; i++) {
			const change *c = &p->c[k][i];
			b.len = 0;
			rc = buf_lit(&b, "{\"type\":\"change\",\"device\":") || buf_str(&b, c->device) ||
			     buf_lit(&b, ",") || buf_lit(&b, p->d[c->diff].json) || buf_lit(&b, "}")
				     ? MTD_ENOMEM
				     : buf_line(&b);
		}
	mtd_buf_free(&b);
	return rc;
}

/* One CSV row per changed field: device,kind,field,before,after. */
static int print_csv(const plan *p)
{
	mtd_buf b = {0};
	int rc = buf_lit(&b, "device,kind,field,before,after\r\n") ? MTD_ENOMEM : 0;
	for (int k = 0; k < MTD_NCHANGE_KINDS && !rc; k++)
		for (size_t i = 0; i < p->nc[k] && !rc; i++) {
			const change *c = &p->c[k][i];
			const diff *d = &p->d[c->diff];
			for (int f = 0; f < NFIELDS && !rc; f++)
				if (d->changed >> f & 1)
					rc = cli_csv_field(&b, c->device) || buf_lit(&b, ",") ||
					     cli_csv_field(&b, mtd_change_kind_name(k)) ||
					     buf_lit(&b, ",") || cli_csv_field(&b, field_names[f]) ||
					     buf_lit(&b, ",") || cli_csv_field(&b, d->was[f]) ||
					     buf_lit(&b, ",") || cli_csv_field(&b, d->now[f]) ||
					     buf_lit(&b, "\r\n")
						     ? MTD_ENOMEM
						     : 0;
			if (!rc && b.len > 65536) {
				rc = fwrite(b.data, 1, b.len, stdout) == b.len ? 0 : MTD_EIO;
				b.len = 0;
			}
		}
	if (!rc && b.len && fwrite(b.data, 1, b.len, stdout) != b.len)
		rc = MTD_EIO;
	mtd_buf_free(&b);
	return rc;
}

static int print_summary_json(const plan *p, const mtd_eval_summary *s)
{
	mtd_buf b = {0};
	char num[64];
	int rc;
	snprintf(num, sizeof num, "%llu,\"changed\":%llu", (unsigned long long)s->evaluated,
		 (unsigned long long)s->changed);
	rc = buf_lit(&b, "{\"type\":\"summary\",\"dry_run\":") ||
	     buf_lit(&b, p->dry ? "true" : "false") || buf_lit(&b, ",\"evaluated\":") ||
	     buf_lit(&b, num) || buf_lit(&b, ",\"kinds\":{");
	for (int k = 0; k < MTD_NCHANGE_KINDS && !rc; k++) {
		snprintf(num, sizeof num, "%s\"%s\":%llu", k ? "," : "", mtd_change_kind_name(k),
			 (unsigned long long)s->kinds[k]);
		rc = buf_lit(&b, num);
	}
	rc = rc || buf_lit(&b, "},\"transitions\":[");
	for (size_t i = 0; i < s->t.npairs && !rc; i++) {
		int from = s->t.pair[i] / MTD_NSTATES, to = s->t.pair[i] % MTD_NSTATES;
		snprintf(num, sizeof num, "%llu}", (unsigned long long)s->t.n[from][to]);
		rc = (i && buf_lit(&b, ",")) || buf_lit(&b, "{\"from\":") ||
		     buf_str(&b, mtd_state_name(from)) || buf_lit(&b, ",\"to\":") ||
		     buf_str(&b, mtd_state_name(to)) || buf_lit(&b, ",\"count\":") || buf_lit(&b, num);
	}
	rc = rc || buf_lit(&b, "]}") ? MTD_ENOMEM : buf_line(&b);
	mtd_buf_free(&b);
	return rc;
}

static void print_summary_table(const plan *p, const mtd_eval_summary *s)
{
	static const char *const what[MTD_NCHANGE_KINDS] = {
		"new selective wipe", "new block", "other worsening", "improvement", "other change"};
	for (size_t i = 0; i < s->t.npairs; i++) {
		int from = s->t.pair[i] / MTD_NSTATES, to = s->t.pair[i] % MTD_NSTATES;
		char key[80];
		snprintf(key, sizeof key, "%s -> %s", mtd_state_name(from), mtd_state_name(to));
		printf("  %-40s %llu\n", key, (unsigned long long)s->t.n[from][to]);
	}
	printf("%s", p->dry ? "would change:" : "changed:");
	for (int k = 0; k < MTD_NCHANGE_KINDS; k++)
		printf("%s %llu %s%s", k ? "," : "", (unsigned long long)s->kinds[k], what[k],
		       s->kinds[k] == 1 ? "" : "s");
	putchar('\n');
	if (!p->dry)
		printf("issued: %llu selective wipe%s, %llu block%s\n",
		       (unsigned long long)s->kinds[MTD_CHANGE_WIPE],
		       s->kinds[MTD_CHANGE_WIPE] == 1 ? "" : "s",
		       (unsigned long long)s->kinds[MTD_CHANGE_BLOCK],
		       s->kinds[MTD_CHANGE_BLOCK] == 1 ? "" : "s");
}

static int cmd_evaluate(mtd_t *h, opts *o)
{
	mtd_eval_summary s;
	plan p = {0};
	cli_format fmt;
	int rc, listed;
	p.dry = has_flag(o, "--dry-run");
	if ((rc = cli_output(o, "evaluate", &fmt)) || (rc = no_more(o, 1, "evaluate")))
		return rc;
	/* A dry run lists every change. A real run is told only the counts
	 * (no decision built per change, the rules run under a read snapshot),
	 * unless json or csv is to list the wipes and blocks it issued: it is
	 * then told of each change as it is written. */
	listed = p.dry || fmt != CLI_TABLE;
	p.all = p.dry;
	rc = mtd_evaluate_summary(h, p.dry, listed ? on_change : NULL, &p, &s);
	if (rc) {
		plan_free(&p);
		return fail(h, rc);
	}
	if (fmt == CLI_TABLE) {
		printf("%s %llu devices, %llu decisions %s\n", p.dry ? "dry run:" : "evaluated",
		       (unsigned long long)s.evaluated, (unsigned long long)s.changed,
		       p.dry ? "would change" : "changed");
		print_table(&p, cli_color(fmt));
		print_summary_table(&p, &s);
	} else if (fmt == CLI_JSON) {
		rc = print_json(&p);
		rc = rc ? rc : print_summary_json(&p, &s);
	} else {
		rc = print_csv(&p);
	}
	plan_free(&p);
	if (rc == MTD_EIO)
		fprintf(stderr, "%s: writing the output: %s\n", prog, strerror(errno));
	return rc ? EX_INTERNAL_ : EX_OK;
}

static const cli_option evaluate_options[] = {
	{"--dry-run", NULL, "write nothing; show the plan of what would change", NULL, 0},
	CLI_OPT_OUTPUT(NULL),
	{0},
};

const cli_command cli_cmd_evaluate = {
	.name = "evaluate",
	.summary = "  evaluate [--dry-run] [-o FORMAT]       decide every device with the rules\n",
	.help = "usage: mtdgate evaluate [--dry-run] [--output table|json|csv]\n\n"
		"Decide every device with the rules (--rules DIR): compliance, access and\n"
		"app protection. Only changed decisions are written and audited, all in one\n"
		"transaction. A failing rule script changes nothing (exit 70).\n\n"
		"With --dry-run nothing is written and the output is a plan to review: each\n"
		"device whose decision would change, its fields that change (state, level,\n"
		"access, app_protection, resources, vendors: 'field: before -> after') and its\n"
		"new reasons, the most dangerous first, marked '!': new selective wipes, then\n"
		"new blocks (access or apps), then other worsening, improvements, other\n"
		"changes (reasons only, ...). It ends with a count per transition of state and\n"
		"a count per kind. A real run prints the counts and the wipes and blocks it\n"
		"issued.\n\n"
		"--output json: one object per changed device, {\"type\":\"change\",\"device\",\n"
		"\"kind\":\"wipe|block|worse|better|other\",\"changed\":[FIELD...],\"before\":{..},\n"
		"\"after\":{..}} (before/after: state, level, access, app_protection, resources,\n"
		"vendors, reasons), then one {\"type\":\"summary\",\"dry_run\",\"evaluated\",\n"
		"\"changed\",\"kinds\":{KIND:N},\"transitions\":[{\"from\",\"to\",\"count\"}]}. A real\n"
		"run lists only the devices it issued a wipe or a block for (and is then told\n"
		"of each change as it writes it, under the write lock). --output csv: one row\n"
		"per changed field, device,kind,field,before,after (lists joined by \", \").\n\n"
		"Exit 0 done; 64 usage error or no store; 70 internal error, a failing\n"
		"rule script included (nothing changed); 75 the store stayed busy longer\n"
		"than --wait.\n",
	.run = cmd_evaluate,
	.options = evaluate_options,
};
