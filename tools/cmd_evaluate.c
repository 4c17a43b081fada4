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

/* The plan being written: each change rendered as it comes into the spool
 * of its kind (a temporary file each, so a fleet's plan costs disk, not
 * memory), then the spools in order: the most dangerous kind first. */
typedef struct plan {
	int dry, all; /* all: every change, else the wipes and blocks only */
	cli_format fmt;
	int color;
	FILE *spool[MTD_NCHANGE_KINDS];
	mtd_buf b; /* the change being rendered */
	int rc;    /* what went wrong: MTD_ENOMEM or MTD_EIO */
} plan;

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

/* ---- writing the plan ---- */

static int danger(int kind)
{
	return kind == MTD_CHANGE_WIPE || kind == MTD_CHANGE_BLOCK;
}

static const char *const label[MTD_NCHANGE_KINDS] = {"WIPE", "BLOCK", "worse", "better",
						     "other"};

/* The change as people read it: a line with the mark, kind, device and
 * state/access/apps before and after, a line per field that changes, then
 * the new reasons. */
static int render_table(plan *p, int k, unsigned ch, const mtd_decision_info *a,
			const mtd_decision_info *b)
{
	static const char *const paint[MTD_NCHANGE_KINDS] = {"\033[1;31m", "\033[1;33m", "", "",
							     ""};
	FILE *f = p->spool[k];
	int hi = p->color && paint[k][0];
	fprintf(f, "%s%s %-6s%s %s: %s/%s/%s -> %s/%s/%s\n", hi ? paint[k] : "",
		danger(k) ? "!" : " ", label[k], hi ? "\033[0m" : "", esc(b->device), a->state,
		a->access, a->app_protection, b->state, b->access, b->app_protection);
	for (int fi = 0; fi < F_REASONS; fi++) {
		char *was, *now;
		if (!(ch >> fi & 1))
			continue;
		was = field_text(a, fi);
		now = field_text(b, fi);
		if (was && now)
			fprintf(f, "    %s: %s -> %s\n", field_names[fi], was[0] ? esc(was) : "(none)",
				now[0] ? esc(now) : "(none)");
		free(was);
		free(now);
		if (!was || !now)
			return MTD_ENOMEM;
	}
	if (b->nreasons)
		fprintf(f, "    why%s:\n", ch >> F_REASONS & 1 ? " (changed)" : "");
	for (size_t r = 0; r < b->nreasons; r++)
		fprintf(f, "      %s\n", esc(b->reasons[r]));
	return 0;
}

/* {"type":"change","device","kind","changed":[..],"before":{..},"after":{..}} */
static int render_json(plan *p, int k, unsigned ch, const mtd_decision_info *a,
		       const mtd_decision_info *b)
{
	mtd_buf *o = &p->b;
	int rc;
	o->len = 0;
	rc = buf_lit(o, "{\"type\":\"change\",\"device\":") || buf_str(o, b->device) ||
	     buf_lit(o, ",\"kind\":") || buf_str(o, mtd_change_kind_name(k)) ||
	     buf_lit(o, ",\"changed\":[");
	for (int f = 0, n = 0; f < NFIELDS && !rc; f++)
		if (ch >> f & 1)
			rc = (n++ && buf_lit(o, ",")) || buf_str(o, field_names[f]);
	rc = rc || buf_lit(o, "],\"before\":") || json_side(o, a) || buf_lit(o, ",\"after\":") ||
	     json_side(o, b) || buf_lit(o, "}\n");
	return rc ? MTD_ENOMEM : 0;
}

/* A CSV row per changed field: device,kind,field,before,after. */
static int render_csv(plan *p, int k, unsigned ch, const mtd_decision_info *a,
		      const mtd_decision_info *b)
{
	mtd_buf *o = &p->b;
	int rc = 0;
	o->len = 0;
	for (int f = 0; f < NFIELDS && !rc; f++) {
		char *was, *now;
		if (!(ch >> f & 1))
			continue;
		was = field_text(a, f);
		now = field_text(b, f);
		rc = !was || !now || cli_csv_field(o, b->device) || buf_lit(o, ",") ||
		     cli_csv_field(o, mtd_change_kind_name(k)) || buf_lit(o, ",") ||
		     cli_csv_field(o, field_names[f]) || buf_lit(o, ",") || cli_csv_field(o, was) ||
		     buf_lit(o, ",") || cli_csv_field(o, now) || buf_lit(o, "\r\n");
		free(was);
		free(now);
	}
	return rc ? MTD_ENOMEM : 0;
}

/* mtd_change_fn: each change into the spool of its kind (a real run keeps
 * the wipes and blocks it issued only). */
static int on_change(void *ud, const mtd_decision_info *a, const mtd_decision_info *b)
{
	plan *p = ud;
	int k = mtd_change_kind(a, b), rc;
	unsigned ch;
	if (!p->all && !danger(k))
		return 0;
	ch = changed_fields(a, b);
	if (!p->spool[k] && !(p->spool[k] = tmpfile()))
		return p->rc = MTD_EIO;
	if (p->fmt == CLI_TABLE)
		rc = render_table(p, k, ch, a, b);
	else if (p->fmt == CLI_JSON)
		rc = render_json(p, k, ch, a, b);
	else
		rc = render_csv(p, k, ch, a, b);
	if (!rc && p->fmt != CLI_TABLE && fwrite(p->b.data, 1, p->b.len, p->spool[k]) != p->b.len)
		rc = MTD_EIO;
	if (!rc && ferror(p->spool[k]))
		rc = MTD_EIO;
	return rc ? (p->rc = rc) : 0;
}

/* The spools to stdout, the most dangerous kind first; closes them. */
static int plan_end(plan *p, int write)
{
	char buf[65536];
	int rc = 0;
	for (int k = 0; k < MTD_NCHANGE_KINDS; k++) {
		FILE *f = p->spool[k];
		size_t n;
		if (!f)
			continue;
		if (write && !rc && (fflush(f) || fseek(f, 0, SEEK_SET)))
			rc = MTD_EIO;
		while (write && !rc && (n = fread(buf, 1, sizeof buf, f)) > 0)
			if (fwrite(buf, 1, n, stdout) != n)
				rc = MTD_EIO;
		if (write && !rc && ferror(f))
			rc = MTD_EIO;
		fclose(f);
		p->spool[k] = NULL;
	}
	mtd_buf_free(&p->b);
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
	int rc, listed;
	p.dry = has_flag(o, "--dry-run");
	if ((rc = cli_output(o, "evaluate", &p.fmt)) || (rc = no_more(o, 1, "evaluate")))
		return rc;
	p.color = cli_color(p.fmt);
	/* A dry run lists every change. A real run is told only the counts
	 * (no decision built per change, the rules run under a read snapshot),
	 * unless json or csv is to list the wipes and blocks it issued: it is
	 * then told of each change as it is written. */
	listed = p.dry || p.fmt != CLI_TABLE;
	p.all = p.dry;
	rc = mtd_evaluate_summary(h, p.dry, listed ? on_change : NULL, &p, &s);
	if (rc) {
		plan_end(&p, 0);
		if (p.rc == MTD_EIO)
			fprintf(stderr, "%s: a temporary file for the plan: %s\n", prog, strerror(errno));
		return fail(h, rc);
	}
	if (p.fmt == CLI_TABLE)
		printf("%s %llu devices, %llu decisions %s\n", p.dry ? "dry run:" : "evaluated",
		       (unsigned long long)s.evaluated, (unsigned long long)s.changed,
		       p.dry ? "would change" : "changed");
	else if (p.fmt == CLI_CSV)
		fputs("device,kind,field,before,after\r\n", stdout);
	rc = plan_end(&p, 1);
	if (!rc && p.fmt == CLI_TABLE)
		print_summary_table(&p, &s);
	else if (!rc && p.fmt == CLI_JSON)
		rc = print_summary_json(&p, &s);
	if (!rc && fflush(stdout))
		rc = MTD_EIO;
	if (rc == MTD_EIO)
		fprintf(stderr, "%s: writing the plan: %s\n", prog, strerror(errno));
	else if (rc)
		fprintf(stderr, "%s: %s\n", prog, mtd_strerror(rc));
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
