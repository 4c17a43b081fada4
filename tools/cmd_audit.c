/* mtdgate audit verify|keygen|checkpoint|show. */
#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "siem.h"

typedef struct auditctx {
	cli_format fmt;
	cli_table *t; /* table and csv */
	mtd_buf line; /* json, ocsf, syslog: reused for every record */
	int siem;     /* --output ocsf|syslog (AUDIT_OCSF, AUDIT_SYSLOG); 0: fmt */
	char host[256];
} auditctx;
enum { AUDIT_OCSF = 1, AUDIT_SYSLOG };

/* --output ocsf|syslog (siem.h), taken out of o before cli_output sees the
 * formats it knows: AUDIT_OCSF, AUDIT_SYSLOG or 0. */
static int siem_output(opts *o)
{
	for (int i = o->npos; i + 1 < o->argc; i++)
		if (!strcmp(o->argv[i], "--output") &&
		    (!strcmp(o->argv[i + 1], "ocsf") || !strcmp(o->argv[i + 1], "syslog"))) {
			int which = o->argv[i + 1][0] == 'o' ? AUDIT_OCSF : AUDIT_SYSLOG, bad = 0;
			flag_value(o, "--output", &bad);
			return which;
		}
	return 0;
}

static const cli_col audit_cols[] = {
	{"SEQ", "seq", CLI_COL_NUM}, {"AT", "at", 0},         {"KIND", "kind", 0},
	{"VENDOR", "vendor", 0},     {"DEVICE", "device", 0}, {"DETAIL", "detail", 0},
};

static int print_audit(void *ud, const mtd_audit_rec *r)
{
	auditctx *a = ud;
	char t[40];
	char num[32];
	if (a->siem) { /* one OCSF object or RFC 5424 message a line */
		a->line.len = 0;
		if (a->siem == AUDIT_OCSF ? mtd_siem_ocsf(&a->line, r, a->host)
					  : mtd_siem_syslog(&a->line, r, a->host, (long)getpid(), 0))
			return MTD_ENOMEM;
		return buf_line(&a->line);
	}
	snprintf(num, sizeof num, "%lld", (long long)r->seq);
	if (a->fmt == CLI_JSON) { /* ids are bytes (not always UTF-8): written, not packed */
		mtd_buf *bp = &a->line;
		json_t *d = json_loads(r->detail, 0, NULL);
		char *ds = d ? json_dumps(d, JSON_COMPACT | JSON_PRESERVE_ORDER | JSON_ENCODE_ANY)
			     : NULL;
		int rc;
		bp->len = 0;
		rc = buf_lit(bp, "{\"seq\":") || buf_lit(bp, num) || buf_lit(bp, ",\"at\":") ||
		     buf_str(bp, mtd_time_format(r->at, t, sizeof t)) || buf_lit(bp, ",\"kind\":") ||
		     buf_str(bp, r->kind) || buf_lit(bp, ",\"vendor\":") ||
		     buf_str_or_null(bp, r->vendor) || buf_lit(bp, ",\"device\":") ||
		     buf_str_or_null(bp, r->device) || buf_lit(bp, ",\"detail\":") ||
		     (ds ? buf_lit(bp, ds) : buf_str(bp, r->detail)) || buf_lit(bp, "}");
		free(ds);
		json_decref(d);
		return rc ? MTD_ENOMEM : buf_line(bp);
	}
	const char *cells[] = {num, mtd_time_format(r->at, t, sizeof t), r->kind, r->vendor,
			       r->device, r->detail};
	return cli_table_row(a->t, cells);
}

/* audit verify's result as one JSON object or CSV row: intact, records
 * (the intact ones when broken), head, error, and what was expected. */
static int verify_result(mtd_t *h, cli_format fmt, int rc, uint64_t n, const char *head,
			 const mtd_audit_expect *x)
{
	static const cli_col cols[] = {
		{"", "intact", CLI_COL_RAW},      {"", "records", CLI_COL_RAW},
		{"", "head", 0},                  {"", "error", 0},
		{"", "expected_head", 0},         {"", "checkpoint", 0},
		{"", "checkpoint_last_seq", CLI_COL_RAW}, {"", "checkpoint_signed_at", 0},
		{"", "pubkey", 0},                {"", "checkpoints", CLI_COL_RAW},
	};
	char num[24], seq[24], cps[24], at[40];
	int ok = rc == 0, wrc;
	snprintf(num, sizeof num, "%llu", (unsigned long long)n);
	snprintf(seq, sizeof seq, "%lld", (long long)x->last_seq);
	snprintf(cps, sizeof cps, "%llu", (unsigned long long)x->checkpoints);
	const char *cells[] = {ok ? "true" : "false",
			       num,
			       ok ? head : NULL,
			       ok ? NULL : mtd_errmsg(h),
			       x->head,
			       x->checkpoint,
			       ok && x->checkpoint ? seq : NULL,
			       ok && x->checkpoint ? mtd_time_format(x->last_at, at, sizeof at) : NULL,
			       x->pubkey,
			       ok && x->pubkey ? cps : NULL};
	cli_table *t = cli_table_new(fmt, cols, sizeof cols / sizeof *cols);
	if ((wrc = cli_table_end(t, t ? cli_table_row(t, cells) : MTD_ENOMEM)))
		return fail(h, wrc);
	return ok ? EX_OK : EX_DATAERR_;
}

static int time_flag(opts *o, const char *flag, int64_t *out)
{
	int bad = 0;
	const char *v = flag_value(o, flag, &bad);
	if (bad || (v && mtd_time_parse(v, strlen(v), out)))
		return usage_error("audit show: %s needs an RFC 3339 time or Unix seconds", flag);
	return 0;
}

static int cmd_audit(mtd_t *h, opts *o)
{
	const char *sub = o->npos > 1 ? o->argv[1] : "";
	int rc;
	if ((rc = cli_audit_retention(h, o, sub)) >= 0) /* anchor, prune (cmd_retention.c) */
		return rc;
	if (!strcmp(sub, "verify")) {
		mtd_audit_expect x = {0};
		uint64_t n = 0;
		char head[65] = "", t[40];
		cli_format fmt;
		int bad = 0;
		const char *archive = flag_value(o, "--archive", &bad);
		if (archive) { /* an archive on its own (cmd_retention.c) */
			if ((rc = no_more(o, 2, "audit verify")))
				return rc;
			return cli_audit_verify_archive(h, archive);
		}
		if ((rc = cli_output(o, "audit verify", &fmt)))
			return rc;
		x.head = flag_value(o, "--expect-head", &bad);
		x.pubkey = flag_value(o, "--pubkey", &bad);
		x.checkpoint = flag_value(o, "--checkpoint", &bad);
		if (bad)
			return usage_error("audit verify: --expect-head, --pubkey and --checkpoint need a "
					   "value");
		if (x.checkpoint && !x.pubkey)
			return usage_error("audit verify: --checkpoint needs --pubkey (the key that "
					   "signed it)");
		if ((rc = no_more(o, 2, "audit verify")))
			return rc;
		rc = mtd_audit_verify_expect(h, &x, &n, head);
		if (fmt != CLI_TABLE && (!rc || rc == MTD_EMALFORMED))
			return verify_result(h, fmt, rc, n, head, &x);
		if (rc == MTD_EMALFORMED) {
			printf("audit log BROKEN after %llu intact records: %s\n", (unsigned long long)n,
			       esc(mtd_errmsg(h)));
			return EX_DATAERR_;
		}
		if (rc)
			return fail(h, rc);
		printf("audit log intact: %llu records, head %s\n", (unsigned long long)n, head);
		if (x.head)
			printf("expected head %s: in the chain\n", x.head);
		if (x.checkpoint)
			printf("checkpoint %s holds: records 1 to %lld as signed at %s\n", x.checkpoint,
			       (long long)x.last_seq, mtd_time_format(x.last_at, t, sizeof t));
		if (x.pubkey)
			printf("checkpoints in the log signed with %s: %llu, all hold\n", x.pubkey,
			       (unsigned long long)x.checkpoints);
		else
			printf("(keep the head somewhere else, or sign it: 'mtdgate audit checkpoint')\n");
		return EX_OK;
	}
	if (!strcmp(sub, "keygen")) {
		int bad = 0;
		const char *key = flag_value(o, "--key", &bad);
		if (bad || !key)
			return usage_error("audit keygen: --key FILE is required");
		if ((rc = no_more(o, 2, "audit keygen")))
			return rc;
		if ((rc = mtd_audit_keygen(h, key)))
			return fail(h, rc);
		printf("private key %s (mode 0600: keep it off the store's machine if you can)\n"
		       "public key  %s.pub (for 'audit verify --pubkey')\n", key, key);
		return EX_OK;
	}
	if (!strcmp(sub, "checkpoint")) {
		int bad = 0;
		const char *key = flag_value(o, "--key", &bad), *out = flag_value(o, "--out", &bad);
		char cp[512];
		if (bad || !key)
			return usage_error("audit checkpoint: --key FILE is required (--out needs a "
					   "value)");
		if ((rc = no_more(o, 2, "audit checkpoint")))
			return rc;
		if ((rc = mtd_audit_checkpoint(h, key, cp, sizeof cp))) {
			if (rc == MTD_EMALFORMED)
				printf("audit log BROKEN: %s\nnot signed\n", mtd_errmsg(h));
			return rc == MTD_EMALFORMED ? EX_DATAERR_ : fail(h, rc);
		}
		if (out) {
			FILE *f = fopen(out, "w");
			if (!f || fputs(cp, f) < 0 || fflush(f) || fsync(fileno(f))) {
				if (f)
					fclose(f);
				fprintf(stderr, "%s: %s: cannot write the checkpoint (it is recorded "
					"in the log): %s\n", prog, out, strerror(errno));
				return EX_INTERNAL_;
			}
			fclose(f);
			printf("checkpoint written to %s\n", out);
		} else {
			fputs(cp, stdout);
		}
		return EX_OK;
	}
	if (!strcmp(sub, "show")) {
		mtd_audit_filter f = {0};
		auditctx a = {0};
		int bad = 0;
		if (!(a.siem = siem_output(o)) && (rc = cli_output(o, "audit show", &a.fmt)))
			return rc;
		mtd_siem_hostname(a.host, sizeof a.host);
		f.device = flag_value(o, "--device", &bad);
		f.vendor = flag_value(o, "--vendor", &bad);
		f.kind = flag_value(o, "--kind", &bad);
		if (bad)
			return usage_error("audit show: --device, --vendor and --kind need a value");
		if ((rc = time_flag(o, "--since", &f.since)) || (rc = time_flag(o, "--until", &f.until)))
			return rc;
		if ((rc = no_more(o, 2, "audit show")))
			return rc;
		if (!a.siem && a.fmt != CLI_JSON && !(a.t = cli_table_new(a.fmt, audit_cols, 6)))
			return fail(h, MTD_ENOMEM);
		rc = cli_table_end(a.t, mtd_audit_show(h, &f, print_audit, &a));
		mtd_buf_free(&a.line);
		if (rc)
			return fail(h, rc);
		return EX_OK;
	}
	return usage_error("audit: expected verify, show, keygen or checkpoint");
}

static const cli_option audit_options[] = {
	{"--expect-head", "HASH", "a head kept elsewhere is in the chain", "verify", 0},
	{"--pubkey", "FILE", "the checkpoints of this key hold", "verify", 0},
	{"--checkpoint", "FILE", "an exported checkpoint (with --pubkey)", "verify", 0},
	{"--key", "FILE", "the key (public: FILE.pub)", "keygen checkpoint", 0},
	{"--out", "FILE", "write the checkpoint to FILE", "checkpoint", 0},
	{"--device", "ID", "records of this device", "show", 0},
	{"--vendor", "VENDOR", "records of this vendor", "show", 0},
	{"--kind", "KIND", "records of this kind", "show", 0},
	{"--since", "TIME", "records at or after TIME", "show", 0},
	{"--until", "TIME", "records at or before TIME", "show", 0},
	CLI_OPT_OUTPUT("verify show"),
	{"--archive", "FILE", "verify: an archive on its own; prune: the new archive",
	 "verify prune", 0},
	{"--before", "TIME", "prune the records dated before TIME", "prune", 0},
	{"--append", "FILE", "append the anchor line to FILE", "anchor", 0},
	{"--syslog", "udp://HOST:PORT|unix:PATH", "send the anchor as RFC 5424 syslog", "anchor", 0},
	{0},
};

const cli_command cli_cmd_audit = {
	.name = "audit",
	.summary = "  audit verify [--expect-head HASH] [--pubkey FILE [--checkpoint FILE]]\n"
		"                                         check the audit log and what it covers\n"
		"  audit keygen --key FILE                make a checkpoint signing key\n"
		"  audit checkpoint --key FILE [--out FILE]  sign the log's head\n"
		"  audit show [--device ID] [--vendor V] [--kind K] [--since T] [--until T] [--json]\n"
		"  audit anchor [--append FILE|--syslog TARGET]  print or keep the log's head\n"
		"  audit prune --before TIME --archive FILE  move old records to an archive\n",
	.help = "usage: mtdgate audit verify [--expect-head HASH]\n"
		"                          [--pubkey FILE [--checkpoint FILE]]\n"
		"       mtdgate audit keygen --key FILE\n"
		"       mtdgate audit checkpoint --key FILE [--out FILE]\n"
		"       mtdgate audit show [--device ID] [--vendor V] [--kind K]\n"
		"                          [--since TIME] [--until TIME] [--json]\n"
		"       mtdgate audit anchor [--append FILE | --syslog udp://HOST:PORT|unix:PATH]\n"
		"       mtdgate audit prune --before TIME --archive FILE\n"
		"       mtdgate audit verify --archive FILE\n\n"
		"The audit log is append-only (the store refuses updates and deletes) and\n"
		"each record carries a SHA-256 hash chained to the one before. verify\n"
		"(read-only: works on read-only media) recomputes the chain, checks every\n"
		"decision and every row decisions are made from (devices, groups, reports,\n"
		"connectors, settings, inventory) against the entry that last wrote it and\n"
		"the store's pages, and names the first problem (exit 65); or prints the\n"
		"count and the head hash. --expect-head HASH: a head kept elsewhere must be\n"
		"in the chain. keygen makes an Ed25519 key pair, FILE (mode 0600) and\n"
		"FILE.pub; checkpoint verifies the log, signs its head with FILE (refused\n"
		"when others may read it), records it and prints it (or writes it to --out):\n"
		"keep it elsewhere. verify --pubkey FILE.pub checks every checkpoint of that\n"
		"key in the log (there must be one); with --checkpoint an exported one, which\n"
		"also finds a cut-off tail. show lists records, oldest first. Kinds: init,\n"
		"import, inventory, connector_add, connector_set, connector_remove,\n"
		"connector_state, message, message_rejected, decision, row, baseline,\n"
		"checkpoint, app_wipe, evaluate, appsync, appsync_refused.\n"
		"show --output ocsf: one OCSF " MTD_OCSF_VERSION " event a line (decision changes\n"
		"as Compliance Finding 2003, threat reports as Detection Finding 2004, the\n"
		"rest as API Activity 6003; the record itself under unmapped.mtdgate).\n"
		"show --output syslog: one RFC 5424 message a line, facility log audit,\n"
		"structured data [" MTD_SYSLOG_SDID " seq kind vendor device state level\n"
		"access], the detail as MSG.\n"
		"anchor verifies the log, then prints its head (one line: mtdgate-anchor\n"
		"seq=N head=HASH at=TIME), appends it to FILE (created 0600, fsynced) or\n"
		"sends it to a syslog receiver: kept elsewhere, 'verify --expect-head HASH'\n"
		"finds a rewrite of the whole chain.\n"
		"prune verifies the log, then moves the records dated before TIME into FILE (a\n"
		"new SQLite file, fsynced before anything is removed) and leaves a prune\n"
		"point in the chain, from where verify goes on; decision changes that are\n"
		"still a device's last, and outcomes in use, stay. verify --archive FILE\n"
		"checks an archive on its own: its chain, seals and head.\n\n"
		"Exit 0 intact, made or shown; 64 usage error or no store; 65 the log is\n"
		"broken (verify, checkpoint, anchor); 69 refused (a key others may read);\n"
		"70 internal error; 75 the log grew while anchor verified it.\n",
	.run = cmd_audit,
	.subcommands = "verify keygen checkpoint show anchor prune",
	.options = audit_options,
};
