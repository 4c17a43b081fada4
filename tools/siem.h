/* siem: audit records for the tools a security team already runs (issue
 * 18): OCSF 1.8.0 JSON events and RFC 5424 syslog messages, and a syslog
 * sender (UDP, RFC 5426, or a Unix datagram socket). Uses only the public
 * API's mtd_audit_rec. */
#ifndef MTD_SIEM_H
#define MTD_SIEM_H

#include "mtdgate/mtdgate.h"
#include "mtdgate/wire.h"

/* Our structured data's SD-ID: the IANA private enterprise number for
 * documentation (RFC 5612), until the project registers its own. */
#define MTD_SYSLOG_SDID "mtdgate@32473"
#define MTD_OCSF_VERSION "1.8.0"

/* r as one OCSF event (a JSON object, no newline) appended to b: decision
 * changes as Compliance Finding (2003), threat reports as Detection
 * Finding (2004), every other record as API Activity (6003); the record
 * itself under unmapped.mtdgate. host names this machine (src_endpoint).
 * 0, or -1 when memory runs out. */
int mtd_siem_ocsf(mtd_buf *b, const mtd_audit_rec *r, const char *host);
/* r as one RFC 5424 message (no newline) appended to b: facility 13 (log
 * audit), APP-NAME mtdgate, MSGID the record's kind, structured data
 * [mtdgate@32473 seq= kind= vendor= device= ...] and the detail as MSG
 * (no BOM; controls escaped as mtd_escape does, so it is one line). At
 * most max bytes (the detail is cut at a character boundary to fit; 0: no
 * limit). 0, or -1 when memory runs out. */
int mtd_siem_syslog(mtd_buf *b, const mtd_audit_rec *r, const char *host, long pid, size_t max);
/* This machine's name as RFC 5424 HOSTNAME wants it (printable ASCII, at
 * most 255 bytes, "-" when unknown) into buf (n >= 2). */
void mtd_siem_hostname(char *buf, size_t n);

/* A syslog target: "udp://HOST:PORT" (IPv6 as [ADDR]:PORT) or
 * "unix:PATH" (a datagram socket such as /dev/log). */
typedef struct mtd_siem_target mtd_siem_target;
/* 0, or -1 with the reason in err (n bytes). */
int mtd_siem_open(const char *spec, mtd_siem_target **out, char *err, size_t n);
/* One message, one datagram. 0, or -1 (errno says). */
int mtd_siem_send(mtd_siem_target *t, const void *p, size_t n);
void mtd_siem_close(mtd_siem_target *t);
/* The largest message a target gets (bytes). */
#define MTD_SYSLOG_MAX 8192

/* Forwarding as it happens (serve --syslog): the records after the last
 * one sent, each as a syslog datagram. Kinds row, outcome and seal (the
 * log's own bookkeeping) are not sent. */
typedef struct mtd_siem_forward {
	mtd_siem_target *target;
	int64_t last_seq; /* the last record forwarded (or skipped) */
	char host[256];
	long pid;
	mtd_buf line;
	uint64_t sent, failed;
} mtd_siem_forward;
/* Start at the log's current end: only what happens from now on is sent.
 * 0, or an MTD_E* code (mtd_errmsg). */
int mtd_siem_forward_start(mtd_t *h, mtd_siem_forward *f, mtd_siem_target *t);
/* Send what was committed since the last call. 0, or an MTD_E* code. */
int mtd_siem_forward_poll(mtd_t *h, mtd_siem_forward *f);
void mtd_siem_forward_stop(mtd_siem_forward *f);

#endif
