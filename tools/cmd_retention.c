/* mtdgate audit anchor | prune | verify --archive: retention of the audit
 * log (issue 18). Called by cmd_audit.c for these subcommands. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "siem.h"

/* Append line to path (created 0600), durable when it returns 0. */
static int append_line(const char *path, const char *line)
{
	size_t n = strlen(line);
	int fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600), rc = 0;
	if (fd < 0)
		return -1;
	if (write(fd, line, n) != (ssize_t)n || fsync(fd) != 0)
		rc = -1;
	if (close(fd) != 0)
		rc = -1;
	return rc;
}

static int anchor(mtd_t *h, opts *o)
{
	char head[65], vhead[65], line[256], when[40], detail[200], why[300];
	const char *file, *target;
	uint64_t n;
	int64_t seq, at;
	int bad = 0, rc;

	file = flag_value(o, "--append", &bad);
	target = flag_value(o, "--syslog", &bad);
	if (bad || (file && target))
		return usage_error("audit anchor: --append FILE or --syslog TARGET, not both");
	if ((rc = no_more(o, 2, "audit anchor")))
		return rc;
	/* never anchor a log that does not verify */
	if ((rc = mtd_audit_verify(h, &n, vhead))) {
		if (rc == MTD_EMALFORMED) {
			printf("audit log BROKEN: %s\nnot anchored\n", esc(mtd_errmsg(h)));
			return EX_DATAERR_;
		}
		return fail(h, rc);
	}
	if ((rc = mtd_audit_head(h, &seq, &at, head)))
		return fail(h, rc);
	if (strcmp(head, vhead)) {
		fprintf(stderr, "%s: the log grew while it was verified: run the anchor again\n", prog);
		return EX_TEMPFAIL_;
	}
	snprintf(line, sizeof line, "mtdgate-anchor seq=%lld head=%s at=%s\n", (long long)seq, head,
		 mtd_time_format(at, when, sizeof when));
	if (file) {
		if (append_line(file, line)) {
			fprintf(stderr, "%s: %s: %s\n", prog, esc(file), strerror(errno));
			return EX_INTERNAL_;
		}
		printf("anchored to %s: %s", file, line);
		return EX_OK;
	}
	if (target) {
		mtd_siem_target *t;
		mtd_audit_rec r = {seq, at, "anchor", NULL, NULL, detail};
		mtd_buf b = {0};
		char host[256];
		if (mtd_siem_open(target, &t, why, sizeof why))
			return usage_error("audit anchor: --syslog %s", why);
		snprintf(detail, sizeof detail, "{\"seq\":%lld,\"head\":\"%s\"}", (long long)seq, head);
		mtd_siem_hostname(host, sizeof host);
		rc = mtd_siem_syslog(&b, &r, host, (long)getpid(), MTD_SYSLOG_MAX) ||
		     mtd_siem_send(t, b.data, b.len);
		mtd_buf_free(&b);
		mtd_siem_close(t);
		if (rc) {
			fprintf(stderr, "%s: %s: %s\n", prog, esc(target), strerror(errno));
			return EX_INTERNAL_;
		}
		printf("anchored to %s: %s", target, line);
		return EX_OK;
	}
	fputs(line, stdout);
	return EX_OK;
}

static int prune(mtd_t *h, opts *o)
{
	mtd_prune_stats ps;
	const char *before, *archive;
	char t[40];
	int64_t when;
	int bad = 0, rc;

	before = flag_value(o, "--before", &bad);
	archive = flag_value(o, "--archive", &bad);
	if (bad || !before || !archive)
		return usage_error("audit prune: --before TIME and --archive FILE are required");
	if (mtd_time_parse(before, strlen(before), &when) || when <= 0)
		return usage_error("audit prune: --before needs an RFC 3339 time or Unix seconds");
	if ((rc = no_more(o, 2, "audit prune")))
		return rc;
	if ((rc = mtd_audit_prune(h, when, archive, &ps))) {
		if (rc == MTD_EMALFORMED) {
			printf("audit log BROKEN: %s\nnothing pruned\n", esc(mtd_errmsg(h)));
			return EX_DATAERR_;
		}
		return fail(h, rc);
	}
	if (!ps.archived) {
		printf("nothing to prune before %s\n", mtd_time_format(when, t, sizeof t));
		return EX_OK;
	}
	printf("archived records %lld to %lld (%llu) to %s, head %s; %llu kept below the prune "
	       "point\n", (long long)ps.first, (long long)ps.last, (unsigned long long)ps.archived,
	       archive, ps.head, (unsigned long long)ps.kept);
	return EX_OK;
}

int cli_audit_retention(mtd_t *h, opts *o, const char *sub)
{
	if (!strcmp(sub, "anchor"))
		return anchor(h, o);
	if (!strcmp(sub, "prune"))
		return prune(h, o);
	return -1;
}

/* audit verify --archive FILE: the archive on its own. */
int cli_audit_verify_archive(mtd_t *h, const char *file)
{
	mtd_archive_info ai;
	int rc = mtd_audit_verify_archive(h, file, &ai);
	if (rc == MTD_EMALFORMED) {
		printf("archive BROKEN: %s\n", esc(mtd_errmsg(h)));
		return EX_DATAERR_;
	}
	if (rc)
		return fail(h, rc);
	printf("archive intact: records %lld to %lld (%llu), chained from %s, head %s\n",
	       (long long)ai.first, (long long)ai.last, (unsigned long long)ai.records, ai.prev,
	       ai.head);
	return EX_OK;
}
