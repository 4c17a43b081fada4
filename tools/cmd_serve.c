/* mtdgate serve: the HTTP interface (serve.c). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

static int cmd_serve(mtd_t *h, opts *o)
{
	return mtd_cli_serve(h, o->argc, o->argv);
}

static const cli_option serve_options[] = {
	{"--listen", "HOST:PORT|unix:PATH", "listen there (repeatable) [127.0.0.1:8181]", NULL, 0},
	{"--syslog", "udp://HOST:PORT|unix:PATH", "forward audit records as RFC 5424 syslog",
	 NULL, 0},
	{"--events-buffer", "BYTES", "bytes a /v1/events follower may have waiting [1048576]", NULL, 0},
	{"--keepalive", "SECONDS", "seconds between /v1/events keep-alive comments [15]", NULL, 0},
	{"--tls-cert", "FILE", "serve HTTPS with this PEM certificate (chain)", NULL, 0},
	{"--tls-key", "FILE", "its PEM private key (yours, mode 0600 or stricter)", NULL, 0},
	{0},
};

const cli_command cli_cmd_serve = {
	.name = "serve",
	.summary = "  serve [--listen HOST:PORT|unix:PATH]...  HTTP access decisions (SPEC 4.5)\n",
	.help = "usage: mtdgate serve [--listen HOST:PORT|unix:PATH]...\n"
		"                     [--syslog udp://HOST:PORT|unix:PATH]\n"
		"                     [--events-buffer BYTES] [--keepalive SECONDS]\n"
		"                     [--tls-cert FILE --tls-key FILE]\n\n"
		"Answer the HTTP interface (SPEC 4.5) on the store until SIGTERM or SIGINT\n"
		"(requests in flight are answered first); default 127.0.0.1:8181, PORT 0\n"
		"picks a free port. Prints 'listening on ADDRESS' per listener.\n"
		"With --tls-cert and --tls-key every listener speaks HTTPS (GnuTLS); the key\n"
		"must be yours and not readable by group or others (else 69).\n"
		"  GET /v1/access?resource=NAME  (device in X-Device-Id or ?device=ID)\n"
		"      200 allow, 403 block (also an unknown or never-evaluated device, or a\n"
		"      resource not protected for it); X-Mtdgate-State, -Level, -Reason.\n"
		"      Any method and any path below /v1/access ask the same (Envoy's\n"
		"      ext_authz); the resource may come in X-Mtdgate-Resource instead\n"
		"  GET /v1/devices/ID   the device's report --json object; 404 unknown\n"
		"  POST /v1/ingest/VENDOR[?normalized=1]  (Authorization: Bearer TOKEN of\n"
		"      'connector token') what 'ingest VENDOR' takes; answered after commit\n"
		"      and evaluation: {records,accepted,rejected,malformed,parked,errors};\n"
		"      401 bad token, 403 refused by the connector's state (R1)\n"
		"  GET /v1/events       server-sent events: 'decision' per decision change,\n"
		"      id: its audit sequence number, data: {device,before,after,reasons,at};\n"
		"      resumes after Last-Event-ID (from the audit log), else from now.\n"
		"      A follower with more than --events-buffer bytes [1048576] waiting is\n"
		"      dropped and resumes; a comment every --keepalive seconds [15]\n"
		"  GET /v1/appsync/VENDOR  (Bearer TOKEN of the vendor) the App Sync answer\n"
		"      (R9) as JSON lines; 401 bad token, 403 refused (R1, appsync_ios off)\n"
		"  GET /metrics         Prometheus text: requests and latencies by endpoint,\n"
		"      pushed messages by vendor and outcome, evaluation time, store size,\n"
		"      connectors, their pulls\n"
		"  GET /healthz         200 ok\n"
		"Every connector with API settings ('mtdgate help pull') is pulled by serve\n"
		"on its own, every poll_seconds [60], or its event stream held open; what\n"
		"the pulls commit is decided as it comes; /metrics shows each one's last\n"
		"success, last error and lag; SIGHUP reads the connectors' settings again.\n"
		"Decisions are answered from memory; changes committed by other commands\n"
		"on the store are picked up within a second. SIGHUP reads the rules again\n"
		"and decides every device with them.\n"
		"--syslog: every audit record and decision change, as it is committed (by\n"
		"serve or any other command), as an RFC 5424 message ('audit show --output\n"
		"syslog'), one datagram each, to a UDP syslog receiver (RFC 5426) or a Unix\n"
		"datagram socket such as /dev/log; the log's bookkeeping (row, outcome,\n"
		"seal) is not sent.\n\n"
		"Exit 0 stopped by SIGTERM or SIGINT; 64 usage error or no store; 69 an\n"
		"address cannot be listened on; 70 internal error.\n",
	.run = cmd_serve,
	.options = serve_options,
};
