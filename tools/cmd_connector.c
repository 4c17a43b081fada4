/* mtdgate connector add|set|remove|list|token. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

/* What a connector that fetches has done (mtd_pull_list), by vendor. */
typedef struct pulled {
	char vendor[40], error[600];
	int64_t last_success, last_error_at, lag;
} pulled;

typedef struct listctx {
	cli_format fmt;
	cli_table *t; /* table and csv */
	pulled *p;    /* issue 16: the connectors' pulls */
	size_t np;
} listctx;

static const cli_col conn_cols[] = {
	{"VENDOR", "vendor", 0},           {"STATE", "state", 0},
	{"LAST CONTACT", "last_contact", 0}, {"ERROR", "error_code", 0},
	{"SETTINGS", "settings", 0},         {"PULL", "pull", 0},
};

static int add_pulled(void *ud, const mtd_pull_info *i)
{
	listctx *l = ud;
	pulled *p = realloc(l->p, (l->np + 1) * sizeof *p);
	if (!p)
		return -1;
	l->p = p;
	p += l->np++;
	snprintf(p->vendor, sizeof p->vendor, "%s", i->vendor);
	snprintf(p->error, sizeof p->error, "%s", i->last_error ? i->last_error : "");
	p->last_success = i->last_success;
	p->last_error_at = i->last_error_at;
	p->lag = i->lag;
	return 0;
}

static const pulled *pulled_of(const listctx *l, const char *vendor)
{
	for (size_t i = 0; i < l->np; i++)
		if (!strcmp(l->p[i].vendor, vendor))
			return &l->p[i];
	return NULL;
}

/* The pull's JSON object, or its text for a table: "last success T (lag
 * Ns); last error T: MSG". */
static int pull_text(mtd_buf *b, const pulled *p, int json)
{
	char t[40], t2[40], lag[32];
	const char *ok = p->last_success ? mtd_time_format(p->last_success, t, sizeof t) : NULL;
	const char *bad = p->last_error_at ? mtd_time_format(p->last_error_at, t2, sizeof t2) : NULL;
	snprintf(lag, sizeof lag, "%lld", (long long)p->lag);
	if (json)
		return buf_lit(b, "{\"last_success\":") || buf_str_or_null(b, ok) ||
		       buf_lit(b, ",\"lag_seconds\":") || buf_lit(b, p->lag >= 0 ? lag : "null") ||
		       buf_lit(b, ",\"last_error_at\":") || buf_str_or_null(b, bad) ||
		       buf_lit(b, ",\"last_error\":") ||
		       buf_str_or_null(b, p->error[0] ? p->error : NULL) || buf_lit(b, "}");
	return buf_lit(b, "last success ") || buf_lit(b, ok ? ok : "never") ||
	       (p->lag >= 0 && (buf_lit(b, " (lag ") || buf_lit(b, lag) || buf_lit(b, "s)"))) ||
	       (bad && (buf_lit(b, "; last error ") || buf_lit(b, bad) || buf_lit(b, ": ") ||
			buf_lit(b, p->error))) ||
	       mtd_buf_put(b, "", 1);
}

static int print_connector(void *ud, const mtd_connector_info *c)
{
	listctx *l = ud;
	const pulled *p = pulled_of(l, c->vendor);
	char t[40];
	if (l->fmt == CLI_JSON) { /* SPEC 4.3; an error code is the partner's bytes: any */
		mtd_buf b = {0};
		int rc = buf_lit(&b, "{\"vendor\":") || buf_str(&b, c->vendor) ||
			 buf_lit(&b, ",\"state\":") || buf_str(&b, c->state);
		for (size_t i = 0; !rc && i < c->nsettings; i++) {
			char num[32];
			snprintf(num, sizeof num, "%lld", atoll(c->setting_values[i]));
			rc = buf_lit(&b, ",") || buf_str(&b, c->setting_names[i]) || buf_lit(&b, ":") ||
			     buf_lit(&b, !c->setting_is_bool[i] ? num
					 : !strcmp(c->setting_values[i], "true") ? "true" : "false");
		}
		rc = rc || buf_lit(&b, ",\"last_contact\":") ||
		     buf_str_or_null(&b, c->last_contact ? mtd_time_format(c->last_contact, t, sizeof t)
							 : NULL) ||
		     (c->error_code && (buf_lit(&b, ",\"error_code\":") || buf_str(&b, c->error_code))) ||
		     (p && (buf_lit(&b, ",\"pull\":") || pull_text(&b, p, 1))) || buf_lit(&b, "}");
		rc = rc ? MTD_ENOMEM : buf_line(&b);
		mtd_buf_free(&b);
		return rc;
	}
	/* the settings that are on, and the numbers: "android ios unresponsive_days=7" */
	mtd_buf s = {0};
	int rc = buf_lit(&s, "");
	for (size_t i = 0; !rc && i < c->nsettings; i++) {
		if (c->setting_is_bool[i] && strcmp(c->setting_values[i], "true"))
			continue;
		rc = (s.len && buf_lit(&s, " ")) || buf_lit(&s, c->setting_names[i]) ||
		     (!c->setting_is_bool[i] &&
		      (buf_lit(&s, "=") || buf_lit(&s, c->setting_values[i])));
	}
	rc = rc || mtd_buf_put(&s, "", 1);
	mtd_buf pt = {0};
	rc = rc || (p && pull_text(&pt, p, 0));
	if (!rc) {
		const char *cells[] = {c->vendor, c->state,
				       c->last_contact ? mtd_time_format(c->last_contact, t, sizeof t)
				       : l->fmt == CLI_CSV ? NULL : "never",
				       c->error_code,
				       (const char *)s.data,
				       p ? (const char *)pt.data : NULL};
		rc = cli_table_row(l->t, cells);
	} else {
		rc = MTD_ENOMEM;
	}
	mtd_buf_free(&s);
	mtd_buf_free(&pt);
	return rc;
}

static int cmd_connector(mtd_t *h, opts *o)
{
	const char *sub = o->npos > 1 ? o->argv[1] : "";
	int rc;

	if (!strcmp(sub, "list")) {
		listctx l = {0};
		if ((rc = cli_output(o, "connector list", &l.fmt)) ||
		    (rc = no_more(o, 2, "connector list")))
			return rc;
		if (l.fmt != CLI_JSON && !(l.t = cli_table_new(l.fmt, conn_cols, 6)))
			return fail(h, MTD_ENOMEM);
		rc = mtd_pull_list(h, add_pulled, &l);
		rc = cli_table_end(l.t, rc ? rc : mtd_connector_list(h, print_connector, &l));
		free(l.p);
		return rc ? fail(h, rc) : EX_OK;
	}
	if (!strcmp(sub, "add") || !strcmp(sub, "remove")) {
		if ((rc = no_more(o, 3, sub[0] == 'a' ? "connector add" : "connector remove")))
			return rc;
		rc = sub[0] == 'a' ? mtd_connector_add(h, o->argv[2]) : mtd_connector_remove(h, o->argv[2]);
		if (rc)
			return fail_vendor(h, rc, o->argv[2]);
		printf("connector %s: %s\n", o->argv[2], sub[0] == 'a' ? "added (not_set_up)" : "removed (unavailable)");
		return EX_OK;
	}
	if (!strcmp(sub, "set")) {
		if (o->argc > o->npos)
			return usage_error("connector set: unknown option '%s'", o->argv[o->npos]);
		if (o->npos < 4)
			return usage_error("connector set: expected VENDOR KEY=VALUE...");
		if ((rc = mtd_connector_set(h, o->argv[2], (const char *const *)&o->argv[3],
					    (size_t)(o->npos - 3))))
			return fail_vendor(h, rc, o->argv[2]);
		printf("connector %s: updated\n", o->argv[2]);
		return EX_OK;
	}
	if (!strcmp(sub, "token")) {
		char token[65];
		if ((rc = no_more(o, 3, "connector token")))
			return rc;
		if ((rc = mtd_connector_token(h, o->argv[2], token)))
			return fail_vendor(h, rc, o->argv[2]);
		printf("%s\n", token);
		memset(token, 0, sizeof token);
		return EX_OK;
	}
	return usage_error("connector: expected add, set, remove, list or token");
}

static const cli_option connector_options[] = {
	CLI_OPT_OUTPUT("list"),
	{0},
};

const cli_command cli_cmd_connector = {
	.name = "connector",
	.summary = "  connector add VENDOR                   add a connector (state not_set_up)\n"
		"  connector set VENDOR KEY=VALUE...      change connector settings\n"
		"  connector remove VENDOR                deprovision a connector (unavailable)\n"
		"  connector list [--json]                list connectors and their settings\n"
		"  connector token VENDOR                 a bearer token for the vendor's pushes\n",
	.help = "usage: mtdgate connector add VENDOR\n"
		"       mtdgate connector set VENDOR KEY=VALUE...\n"
		"       mtdgate connector remove VENDOR\n"
		"       mtdgate connector list [--json]\n"
		"       mtdgate connector token VENDOR\n\n"
		"One connector per vendor. States: not_set_up (added) -> available (the\n"
		"partner provisioned it) -> enabled (a platform switched on); unresponsive\n"
		"after unresponsive_days without contact; error when the partner reports\n"
		"one, until a healthy heartbeat; unavailable after remove, until the partner\n"
		"provisions it again. Messages to not_set_up or unavailable connectors are\n"
		"refused and audited.\n\n"
		"Settings (on|off unless noted, all off by default):\n"
		"  android ios windows macos      use this vendor for compliance on it\n"
		"  mam_android mam_ios mam_windows  use it for app protection\n"
		"  appsync_ios                    share iOS app inventory with the vendor\n"
		"  appsync_personal_ios           include personally-owned iOS devices\n"
		"  block_unsupported_os           noncompliant when the vendor reports an\n"
		"                                 unsupported OS\n"
		"  block_missing_data             noncompliant without a report from it\n"
		"  unresponsive_days=N            days without contact before unresponsive [7]\n"
		"  parked_days=N                  days a parked message waits for its device\n"
		"                                 before it expires (audited) [30]\n"
		"A setting the vendor's plugin or the cloud does not allow is refused (69).\n\n"
		"token makes a new bearer token for the vendor's pushes to 'mtdgate serve'\n"
		"(POST /v1/ingest/VENDOR, GET /v1/appsync/VENDOR) and prints it once; only\n"
		"its SHA-256 is stored, and the earlier token stops working.\n\n"
		"Exit 0 done; 64 usage error, no store or unknown vendor; 69 refused (a\n"
		"setting the plugin or the cloud does not allow); 70 internal error.\n",
	.run = cmd_connector,
	.subcommands = "add set remove list token",
	.options = connector_options,
};
