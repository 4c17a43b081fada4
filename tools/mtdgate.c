/* mtdgate: the command-line runner. Parses arguments, calls libmtdgate,
 * decides what the user sees and the exit status (SPEC 4.3). */
#include <errno.h>
#include <jansson.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "mtdgate/mtdgate.h"
#include "mtdgate/plugin.h"
#include "mtdgate/wire.h"
#include "cli.h"

enum { EX_OK = 0, EX_USAGE_ = 64, EX_DATAERR_ = 65, EX_REFUSED_ = 69, EX_INTERNAL_ = 70 };

typedef struct opts {
	mtd_config cfg;
	char rules_buf[PATH_MAX], plugins_buf[PATH_MAX];
	int argc;     /* command words and their options, globals removed */
	char **argv;
} opts;

static const char *prog = "mtdgate";

static int usage_error(const char *fmt, ...)
{
	va_list ap;
	fprintf(stderr, "%s: ", prog);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\n(see '%s --help')\n", prog);
	return EX_USAGE_;
}

static int exit_for(int rc)
{
	switch (rc) {
	case MTD_EOK: return EX_OK;
	case MTD_EUSAGE:
	case MTD_ENOTFOUND: return EX_USAGE_;
	case MTD_EMALFORMED: return EX_DATAERR_;
	case MTD_EREFUSED: return EX_REFUSED_;
	default: return EX_INTERNAL_;
	}
}

/* s (may be NULL: "-") escaped for a terminal with mtd_escape, which every
 * human output passes what it prints from data through (19.5). The result
 * lives in one of a few rotating buffers: valid for the next 7 calls, enough
 * for one printf. NULL only when memory runs out ("?" is returned then). */
static const char *esc(const char *s)
{
	static struct {
		char *p;
		size_t cap;
	} ring[8];
	static unsigned next;
	size_t n, need;
	unsigned k = next++ % 8;
	if (!s)
		return "-";
	n = strlen(s);
	need = mtd_escape(NULL, 0, s, n) + 1;
	if (need > ring[k].cap) {
		char *p = realloc(ring[k].p, need);
		if (!p)
			return "?";
		ring[k].p = p;
		ring[k].cap = need;
	}
	mtd_escape(ring[k].p, ring[k].cap, s, n);
	return ring[k].p;
}

static int fail(mtd_t *h, int rc)
{
	fprintf(stderr, "%s: %s\n", prog, mtd_errmsg(h)[0] ? esc(mtd_errmsg(h)) : mtd_strerror(rc));
	return exit_for(rc);
}

static void diag(void *ud, const char *msg)
{
	(void)ud;
	fprintf(stderr, "%s: %s\n", prog, esc(msg));
}

/* ---- progress on a terminal (stderr only; quiet when not a terminal) ---- */

typedef struct progress {
	struct timespec start, last;
	int drawn, tty, acks;
} progress;
static progress bar;

static double since(const struct timespec *a, const struct timespec *b)
{
	return (double)(b->tv_sec - a->tv_sec) + (double)(b->tv_nsec - a->tv_nsec) / 1e9;
}

static void on_progress(void *ud, const char *what, uint64_t done, uint64_t total,
			uint64_t records)
{
	progress *p = ud;
	struct timespec now;
	if (!strcmp(what, "committed")) {
		if (p->acks) {
			printf("acknowledged %llu records\n", (unsigned long long)records);
			fflush(stdout);
		}
		return;
	}
	if (!p->tty)
		return;
	double el, rate;
	int final = total && done >= total;
	clock_gettime(CLOCK_MONOTONIC, &now);
	if (!p->start.tv_sec && !p->start.tv_nsec)
		p->start = p->last = now;
	if (!final && since(&p->last, &now) < 0.2)
		return;
	p->last = now;
	el = since(&p->start, &now);
	if (el < 0.5 && !p->drawn)
		return; /* short runs need no bar */
	rate = el > 0 ? (double)records / el : 0;
	if (total) {
		double frac = (double)done / (double)total;
		int w = (int)(frac * 30);
		double eta = frac > 0 ? el / frac - el : 0;
		fprintf(stderr, "\r%-9s [%.*s%*s] %3.0f%%  %llu records  %.0f/s  ETA %d:%02d ", what, w,
			"##############################", 30 - w, "", frac * 100,
			(unsigned long long)records, rate, (int)eta / 60, (int)eta % 60);
	} else {
		fprintf(stderr, "\r%-9s %llu records  %.0f/s ", what, (unsigned long long)records, rate);
	}
	p->drawn = 1;
	if (final)
		fputc('\n', stderr);
}

/* ---- help ---- */

static const char *const main_help =
	"usage: mtdgate [GLOBAL OPTIONS] COMMAND [ARGS]\n"
	"\n"
	"Mobile Threat Defense policy engine: turns MTD vendors' threat reports into\n"
	"compliance, conditional access and app protection decisions.\n"
	"\n"
	"Global options (anywhere on the line):\n"
	"  --db FILE        the store [./mtdgate.db]\n"
	"  --rules DIR      Lua rules (groups.lua, policy.lua) [installed default rules]\n"
	"  --plugins DIR    vendor plugins <id>.so [the plugins installed with mtdgate]\n"
	"  --now TIME       the time to act at, RFC 3339 or Unix seconds [the clock]\n"
	"  --plugin-isolation auto|process|none\n"
	"                   run every plugin operation (loading it included) in a\n"
	"                   sandboxed child process: a crash or hang costs one record,\n"
	"                   and the plugin cannot touch the store, mtdgate's input or\n"
	"                   output; auto = process [auto]; none = in-process\n"
	"  --insecure-plugins, --insecure-rules, --allow-insecure-dirs (both)\n"
	"                   accept plugins or rules from a directory (or above it)\n"
	"                   that others own or can write, with a warning; refused\n"
	"                   otherwise (69)\n"
	"  --rules-memory BYTES        memory cap of the rules sandbox [67108864]\n"
	"  --rules-instructions N      Lua instructions per rule call [10000000]\n"
	"  --rules-cpu-ms MS           CPU time per rule call [2000]\n"
	"  --rules-eval-cpu-ms MS      CPU time of all rule calls of one run [600000]\n"
	"  --max-skew SECONDS          how far after its receipt a message may be\n"
	"                              dated; later ones are refused (R13) [300]\n"
	"  --batch N        records per committed batch of imports and ingest [50000];\n"
	"                   smaller is acknowledged sooner, larger loads faster\n"
	"  -h, --help       help (also after a command: 'mtdgate ingest --help')\n"
	"  --version        print the version\n"
	"\n"
	"Commands:\n"
	"  init [--cloud commercial|gcc_high]     create the store\n"
	"  device import FILE|-                   import device records\n"
	"  inventory import FILE|-                import app inventory records\n"
	"  connector add VENDOR                   add a connector (state not_set_up)\n"
	"  connector set VENDOR KEY=VALUE...      change connector settings\n"
	"  connector remove VENDOR                deprovision a connector (unavailable)\n"
	"  connector list [--json]                list connectors and their settings\n"
	"  connector token VENDOR                 a bearer token for the vendor's pushes\n"
	"  ingest VENDOR [--normalized] [--acks] FILE|-  ingest payloads or normalized messages\n"
	"  plugin list [--json]                   list vendor plugins\n"
	"  plugin check FILE.so [--fixtures DIR]  conformance check of a plugin\n"
	"  evaluate [--dry-run]                   decide every device with the rules\n"
	"  rules check [DIR]                      validate and exercise rules\n"
	"  rules test [DIR]                       run the rules' own tests (DIR/tests.lua)\n"
	"  report [--json] [--device ID] [--state STATE]  show decisions\n"
	"  appsync VENDOR [--json|--native]       answer the vendor's App Sync request\n"
	"  parked [--json]                        messages waiting for their device\n"
	"  audit verify [--expect-head HASH] [--pubkey FILE [--checkpoint FILE]]\n"
	"                                         check the audit log and what it covers\n"
	"  audit keygen --key FILE                make a checkpoint signing key\n"
	"  audit checkpoint --key FILE [--out FILE]  sign the log's head\n"
	"  audit show [--device ID] [--vendor V] [--kind K] [--since T] [--until T] [--json]\n"
	"  serve [--listen HOST:PORT|unix:PATH]...  HTTP access decisions (SPEC 4.5)\n"
	"  export sql FILE                        decisions as plain SQLite tables\n"
	"  help [COMMAND]                         this help, or a command's\n"
	"\n"
	"Input framing is detected from the content: JSON lines, pretty-printed or\n"
	"concatenated JSON documents, a top-level JSON array (each element a record),\n"
	"a text/event-stream (each event's data a record) or a msgpack stream.\n"
	"Records are named by line, [index] (line), event number or byte.\n"
	"Exit status: 0 done; 64 usage error; 65 some input records were malformed\n"
	"(the valid ones were processed); 69 refused by a connector's state or\n"
	"settings; 70 internal error, a failing rule script included.\n";

static const struct help {
	const char *cmd, *text;
} helps[] = {
	{"init", "usage: mtdgate init [--cloud commercial|gcc_high]\n\n"
		 "Create the store (mode 0600), or check that an existing one is of the same\n"
		 "cloud. In gcc_high only vendors whose plugin declares government cloud\n"
		 "support can be added, and only Android and iOS can be switched on.\n"},
	{"device", "usage: mtdgate device import FILE|-\n\n"
		   "Import device records (JSON documents, lines, an array of them, or msgpack):\n"
		   "  {\"id\",\"platform\":\"android|ios|windows|macos\",\"os_version\",\n"
		   "   \"ownership\":\"corporate|personal\",\"management\":\"enrolled|unenrolled\",\n"
		   "   \"user\",\"groups\":[NAME,...],\"ids\":{KIND:VALUE,...}}\n"
		   "ids: the device's identifiers (intune entra serial imei meid udid wifi_mac,\n"
		   "vendor:<vendor id>), by which messages may name it; a value another device\n"
		   "has is refused with the record's position. Parked messages that now name\n"
		   "one device are applied after the import.\n"
		   "A known device is replaced as a whole. Bad records are reported with their\n"
		   "position and skipped (exit 65); the others are kept. Ids are UTF-8 without\n"
		   "control or bidi characters; a duplicate key refuses the record.\n"},
	{"inventory", "usage: mtdgate inventory import FILE|-\n\n"
		      "Import app inventory records:\n"
		      "  {\"device\",\"app_id\",\"version\",\"short_version\",\"name\",\"bundle_size\",\n"
		      "   \"dynamic_size\",\"adhoc_signed\",\"app_store\",\"beta\",\"vpp\",\"validated\",\"managed\"}\n"
		      "Each device in the input has its inventory replaced as a whole.\n"},
	{"connector", "usage: mtdgate connector add VENDOR\n"
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
		      "its SHA-256 is stored, and the earlier token stops working.\n"},
	{"ingest", "usage: mtdgate ingest VENDOR FILE|-\n"
		   "       mtdgate ingest VENDOR --normalized FILE|-\n\n"
		   "Feed the vendor's connector: vendor-native payloads decoded by its plugin,\n"
		   "or normalized channel messages:\n"
		   "  {\"type\":\"threat\",\"device\",\"level\",\"at\",\"threats\":[...],\"os_supported\"}\n"
		   "  {\"type\":\"heartbeat|provision|appsync_request\",\"at\"}\n"
		   "  {\"type\":\"error\",\"code\",\"at\"}\n"
		   "  {\"type\":\"threat_event\",\"device\",\"threat\":{\"id\",\"category\",\"name\",\"level\"},\n"
		   "   \"state\":\"open|resolved\",\"at\"}\n"
		   "A message may name its device by \"device_ref\":{KIND:VALUE,...} instead of\n"
		   "\"device\" (kinds intune entra udid serial imei meid mdm wifi_mac\n"
		   "vendor_device_id user, and platform with user). One that names no known\n"
		   "device, or several, is parked (see 'mtdgate parked'), not malformed.\n"
		   "Prints how many records were read and how many messages were accepted,\n"
		   "rejected (by the connector's state, or dated more than --max-skew seconds\n"
		   "after their receipt: R13, each named on stderr), malformed, or parked.\n"
		   "Accepted counts are committed: with --acks, a line 'acknowledged N records'\n"
		   "is printed as each\n"
		   "batch commits (--batch, 50,000 records by default), and a kill after it\n"
		   "loses none of them. Exit 65 when some were malformed, 69 when there is no\n"
		   "such connector.\n"},
	{"parked", "usage: mtdgate parked [--json]\n\n"
		   "List the parked messages, oldest first: messages that named a device\n"
		   "mtdgate does not know (by \"device\" or by every identifier of their\n"
		   "\"device_ref\"), or identifiers of different devices. Each is applied, in\n"
		   "the order received and audited, as soon as a device import or an identifier\n"
		   "learned from a later message makes it name one device; it expires after the\n"
		   "connector's parked_days (audited). With --json one object per line:\n"
		   "  {\"id\",\"vendor\",\"received\",\"reason\",\"message\"}\n"},
	{"plugin", "usage: mtdgate plugin list [--json]\n"
		   "       mtdgate plugin check FILE.so [--fixtures DIR]\n\n"
		   "list: the vendor plugins in the plugin directory: id, name, platforms,\n"
		   "app protection platforms and capabilities.\n\n"
		   "check: conformance check of one plugin file, refused in a directory others\n"
		   "can write (--insecure-plugins). Loads it in a sandboxed child process and\n"
		   "validates the descriptor it reports (ABI version, size, id = file name,\n"
		   "platforms, capabilities,\n"
		   "callbacks); decodes its fixtures (DIR, default <plugin dir>/fixtures/<id>/:\n"
		   "every NAME.in must produce the normalized messages of NAME.out, every record\n"
		   "of bad.in must be refused); then feeds the decoder truncated, mutated and\n"
		   "random payloads in a child process, so a crash or a hang is reported with\n"
		   "the payload saved. Exit 0 when it passes, 65 when a check fails (a plugin\n"
		   "that dies or lies while loading included), 64 when the file is not there,\n"
		   "69 when it is in a directory others can write.\n"},
	{"evaluate", "usage: mtdgate evaluate [--dry-run]\n\n"
		     "Decide every device with the rules (--rules DIR): compliance, access and\n"
		     "app protection. Only changed decisions are written and audited, all in one\n"
		     "transaction. With --dry-run nothing is written: each device whose decision\n"
		     "would change is printed old -> new with its reasons, then a count per\n"
		     "transition. A failing rule script changes nothing (exit 70).\n"},
	{"rules", "usage: mtdgate rules check [DIR]\n"
		  "       mtdgate rules test [DIR]\n\n"
		  "DIR defaults to --rules. check: load groups.lua and policy.lua in the sandbox,\n"
		  "refuse unknown levels, actions or keys and wrong types with file:line and\n"
		  "the offending value, then run the rules on example devices of every\n"
		  "platform so a script that fails at run time is caught (exit 70).\n"
		  "test: run the example devices with expected decisions in DIR/tests.lua\n"
		  "(format in rules/README.md); prints each case and 'N passed, M failed';\n"
		  "exit 65 when an expectation fails, 70 when the rules cannot run.\n"},
	{"audit", "usage: mtdgate audit verify [--expect-head HASH]\n"
		  "                          [--pubkey FILE [--checkpoint FILE]]\n"
		  "       mtdgate audit keygen --key FILE\n"
		  "       mtdgate audit checkpoint --key FILE [--out FILE]\n"
		  "       mtdgate audit show [--device ID] [--vendor V] [--kind K]\n"
		  "                          [--since TIME] [--until TIME] [--json]\n\n"
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
		  "checkpoint, app_wipe, evaluate, appsync, appsync_refused.\n"},
	{"export", "usage: mtdgate export sql FILE\n\n"
		   "Write the current decision of every device into FILE as plain SQLite tables\n"
		   "that sqlite3 and BI tools read without mtdgate: decisions (device, platform,\n"
		   "management, state, level, access, app_protection, vendors_json,\n"
		   "reasons_json, resources_json, evaluated_at, evaluated_unix),\n"
		   "decision_vendors, decision_reasons, decision_resources and sqlfile_info\n"
		   "(exported_at). FILE is written whole beside itself, fsynced and renamed\n"
		   "into place: readers see the last export or this one. An existing FILE is\n"
		   "replaced only when it is an earlier export. Run it again to refresh.\n"
		   "Exit 0 written; 64 usage or no store; 69 FILE exists and is not an\n"
		   "export (or is the store); 70 internal or I/O error.\n"},
	{"appsync", "usage: mtdgate appsync VENDOR [--json | --native]\n\n"
		    "Answer the vendor's App Sync request (iOS/iPadOS app inventory): the\n"
		    "inventory of corporate iOS devices, and of personal ones only when the\n"
		    "connector has appsync_personal_ios on; never other platforms. Written to\n"
		    "stdout as a msgpack stream of inventory records, or with --json one JSON\n"
		    "record per line, or with --native in the vendor's own format when its\n"
		    "plugin can translate. Refused (69) when the connector is not_set_up or\n"
		    "unavailable, or appsync_ios is off. Every answer and refusal is audited.\n"},
	{"report", "usage: mtdgate report [--json] [--device ID] [--state STATE]\n\n"
		   "Show the stored decisions as a table, or as one JSON object per device;\n"
		   "--state keeps only devices in that state. JSON objects:\n"
		   "  {\"device\",\"platform\",\"management\",\"state\",\"level\",\"vendors\",\n"
		   "   \"access\",\"app_protection\",\"reasons\",\"resources\"}\n"
		   "(resources, an extension: the protected resources of the device's groups,\n"
		   "each with the device's access.) With --device, also each vendor's latest\n"
		   "report: \"reports\":[{\"vendor\",\"level\",\"at\",\"received\"}] (at: the time\n"
		   "the report carries; received: when mtdgate received it).\n"},
	{"serve", "usage: mtdgate serve [--listen HOST:PORT|unix:PATH]...\n\n"
		  "Answer the HTTP interface (SPEC 4.5) on the store until SIGTERM or SIGINT\n"
		  "(requests in flight are answered first); default 127.0.0.1:8181, PORT 0\n"
		  "picks a free port. Prints 'listening on ADDRESS' per listener.\n"
		  "  GET /v1/access?resource=NAME  (device in X-Device-Id or ?device=ID)\n"
		  "      200 allow, 403 block (also an unknown or never-evaluated device, or a\n"
		  "      resource not protected for it); X-Mtdgate-State, -Level, -Reason\n"
		  "  GET /v1/devices/ID   the device's report --json object; 404 unknown\n"
		  "  POST /v1/ingest/VENDOR[?normalized=1]  (Authorization: Bearer TOKEN of\n"
		  "      'connector token') what 'ingest VENDOR' takes; answered after commit\n"
		  "      and evaluation: {records,accepted,rejected,malformed,parked,errors};\n"
		  "      401 bad token, 403 refused by the connector's state (R1)\n"
		  "  GET /healthz         200 ok\n"
		  "Decisions are answered from memory; changes committed by other commands\n"
		  "on the store are picked up within a second. SIGHUP reads the rules again\n"
		  "and decides every device with them.\n"},
	{"help", "usage: mtdgate help [COMMAND]\n\n"
		 "Print the help, or a command's (the same as 'mtdgate COMMAND --help').\n"
		 "Exit 64 when COMMAND is not a command.\n"},
};

static int print_help(const char *cmd)
{
	for (size_t i = 0; cmd && i < sizeof helps / sizeof *helps; i++)
		if (!strcmp(helps[i].cmd, cmd)) {
			fputs(helps[i].text, stdout);
			return EX_OK;
		}
	fputs(main_help, stdout);
	return EX_OK;
}

/* ---- argument helpers ---- */

static int has_flag(opts *o, const char *flag)
{
	for (int i = 0; i < o->argc; i++)
		if (!strcmp(o->argv[i], flag)) {
			memmove(&o->argv[i], &o->argv[i + 1], (size_t)(o->argc - i - 1) * sizeof *o->argv);
			o->argc--;
			return 1;
		}
	return 0;
}

static const char *flag_value(opts *o, const char *flag, int *bad)
{
	for (int i = 0; i < o->argc; i++)
		if (!strcmp(o->argv[i], flag)) {
			const char *v;
			if (i + 1 >= o->argc) {
				*bad = 1;
				return NULL;
			}
			v = o->argv[i + 1];
			memmove(&o->argv[i], &o->argv[i + 2], (size_t)(o->argc - i - 2) * sizeof *o->argv);
			o->argc -= 2;
			return v;
		}
	return NULL;
}

static int no_more(opts *o, int want, const char *cmd)
{
	for (int i = 0; i < o->argc; i++)
		if (o->argv[i][0] == '-' && o->argv[i][1])
			return usage_error("%s: unknown option '%s'", cmd, o->argv[i]);
	if (o->argc != want)
		return usage_error("%s: expected %d argument(s), got %d", cmd, want - 1 > 0 ? want - 1 : 0,
				   o->argc - 1 > 0 ? o->argc - 1 : 0);
	return 0;
}

static FILE *open_input(const char *path)
{
	if (!strcmp(path, "-"))
		return stdin;
	return fopen(path, "rb");
}

static const char *input_name(const char *path)
{
	return strcmp(path, "-") ? path : "<stdin>";
}

static const char *bad_elements_text(uint64_t n)
{
	static char t[64];
	snprintf(t, sizeof t, ", %llu bad element%s", (unsigned long long)n, n == 1 ? "" : "s");
	return t;
}

static void print_stats(const char *what, const mtd_stats *st, int with_rejected)
{
	if (with_rejected)
		printf("%s: %llu records, %llu accepted, %llu rejected, %llu malformed%s, %llu parked",
		       what, (unsigned long long)st->records, (unsigned long long)st->accepted,
		       (unsigned long long)st->rejected, (unsigned long long)st->malformed,
		       st->bad_elements ? bad_elements_text(st->bad_elements) : "",
		       (unsigned long long)st->parked);
	else
		printf("%s: %llu records, %llu imported, %llu malformed", what,
		       (unsigned long long)st->records, (unsigned long long)st->accepted,
		       (unsigned long long)st->malformed);
	if (st->unparked)
		printf(", %llu parked before now applied", (unsigned long long)st->unparked);
	putchar('\n');
}

/* ---- commands ---- */

static void print_check(void *ud, int ok, const char *msg)
{
	(void)ud;
	printf("%s %s\n", ok ? "ok  " : "FAIL", esc(msg));
}

static int cmd_init(mtd_t *h, opts *o)
{
	int bad = 0, rc;
	const char *cloud = flag_value(o, "--cloud", &bad);
	if (bad)
		return usage_error("init: --cloud needs a value (commercial or gcc_high)");
	if ((rc = no_more(o, 1, "init")))
		return rc;
	if ((rc = mtd_init(h, cloud)))
		return fail(h, rc);
	printf("store %s ready (%s cloud)\n", o->cfg.db_path, cloud ? cloud : "commercial");
	return EX_OK;
}

static int cmd_import(mtd_t *h, opts *o, int inventory)
{
	const char *what = inventory ? "inventory" : "device";
	mtd_stats st;
	FILE *in;
	int rc;

	if (o->argc < 2 || strcmp(o->argv[1], "import"))
		return usage_error("%s: expected 'import FILE|-'", what);
	if ((rc = no_more(o, 3, what)))
		return rc;
	if (!(in = open_input(o->argv[2]))) {
		fprintf(stderr, "%s: %s: %s\n", prog, esc(o->argv[2]), strerror(errno));
		return EX_USAGE_;
	}
	rc = inventory ? mtd_inventory_import(h, in, input_name(o->argv[2]), &st)
		       : mtd_device_import(h, in, input_name(o->argv[2]), &st);
	if (in != stdin)
		fclose(in);
	if (rc)
		return fail(h, rc);
	print_stats(inventory ? "inventory" : "devices", &st, 0);
	return st.malformed ? EX_DATAERR_ : EX_OK;
}

/* ---- JSON lines, written directly ---- */

static int buf_lit(mtd_buf *b, const char *lit)
{
	return mtd_buf_put(b, lit, strlen(lit));
}

static int buf_str(mtd_buf *b, const char *s)
{
	size_t n = strlen(s);
	if (mtd_buf_room(b, MTD_JSON_STR_MAX(n)))
		return -1;
	b->len += mtd_json_str((char *)b->data + b->len, s, n);
	return 0;
}

/* A JSON value: the literal when non-NULL, else null. */
static int buf_str_or_null(mtd_buf *b, const char *s)
{
	return s ? buf_str(b, s) : buf_lit(b, "null");
}

/* b as one line on stdout. */
static int buf_line(mtd_buf *b)
{
	if (buf_lit(b, "\n"))
		return MTD_ENOMEM;
	return fwrite(b->data, 1, b->len, stdout) == b->len ? 0 : MTD_EIO;
}

static int print_connector(void *ud, const mtd_connector_info *c)
{
	int json = *(int *)ud;
	char t[40];
	if (json) { /* SPEC 4.3; an error code is the partner's bytes: any */
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
		     buf_lit(&b, "}");
		rc = rc ? MTD_ENOMEM : buf_line(&b);
		mtd_buf_free(&b);
		return rc;
	}
	printf("%-14s %-13s last contact %s\n", esc(c->vendor), c->state,
	       c->last_contact ? mtd_time_format(c->last_contact, t, sizeof t) : "never");
	printf("  ");
	for (size_t i = 0; i < c->nsettings; i++) {
		if (c->setting_is_bool[i] && !strcmp(c->setting_values[i], "true"))
			printf("%s ", c->setting_names[i]);
		else if (!c->setting_is_bool[i])
			printf("%s=%s ", c->setting_names[i], c->setting_values[i]);
	}
	if (c->error_code)
		printf("error_code=%s", esc(c->error_code));
	printf("\n");
	return 0;
}

static int cmd_connector(mtd_t *h, opts *o)
{
	const char *sub = o->argc > 1 ? o->argv[1] : "";
	int rc;

	if (!strcmp(sub, "list")) {
		int json = has_flag(o, "--json");
		if ((rc = no_more(o, 2, "connector list")))
			return rc;
		if ((rc = mtd_connector_list(h, print_connector, &json)))
			return fail(h, rc);
		return EX_OK;
	}
	if (!strcmp(sub, "add") || !strcmp(sub, "remove")) {
		if ((rc = no_more(o, 3, sub[0] == 'a' ? "connector add" : "connector remove")))
			return rc;
		rc = sub[0] == 'a' ? mtd_connector_add(h, o->argv[2]) : mtd_connector_remove(h, o->argv[2]);
		if (rc)
			return fail(h, rc);
		printf("connector %s: %s\n", o->argv[2], sub[0] == 'a' ? "added (not_set_up)" : "removed (unavailable)");
		return EX_OK;
	}
	if (!strcmp(sub, "set")) {
		if (o->argc < 4)
			return usage_error("connector set: expected VENDOR KEY=VALUE...");
		for (int i = 3; i < o->argc; i++)
			if (o->argv[i][0] == '-')
				return usage_error("connector set: unknown option '%s'", o->argv[i]);
		if ((rc = mtd_connector_set(h, o->argv[2], (const char *const *)&o->argv[3],
					    (size_t)(o->argc - 3))))
			return fail(h, rc);
		printf("connector %s: updated\n", o->argv[2]);
		return EX_OK;
	}
	if (!strcmp(sub, "token")) {
		char token[65];
		if ((rc = no_more(o, 3, "connector token")))
			return rc;
		if ((rc = mtd_connector_token(h, o->argv[2], token)))
			return fail(h, rc);
		printf("%s\n", token);
		memset(token, 0, sizeof token);
		return EX_OK;
	}
	return usage_error("connector: expected add, set, remove, list or token");
}

static int cmd_ingest(mtd_t *h, opts *o)
{
	int normalized = has_flag(o, "--normalized"), rc;
	mtd_stats st;
	FILE *in;


	if ((rc = no_more(o, 3, "ingest")))
		return rc;
	if (!(in = open_input(o->argv[2]))) {
		fprintf(stderr, "%s: %s: %s\n", prog, esc(o->argv[2]), strerror(errno));
		return EX_USAGE_;
	}
	rc = mtd_ingest(h, o->argv[1], in, input_name(o->argv[2]), normalized, &st);
	if (in != stdin)
		fclose(in);
	if (rc) {
		if (st.records)
			print_stats(o->argv[1], &st, 1);
		return fail(h, rc);
	}
	print_stats(o->argv[1], &st, 1);
	return st.malformed || st.bad_elements ? EX_DATAERR_ : EX_OK;
}

static int print_parked(void *ud, const mtd_parked_info *p)
{
	char when[32];
	if (*(int *)ud) {
		json_t *j = json_pack("{s:I, s:s, s:I, s:s}", "id", (json_int_t)p->id, "vendor",
				      p->vendor, "received", (json_int_t)p->received, "reason",
				      p->reason);
		json_t *m = json_loads(p->message, 0, NULL);
		char *text;
		if (!j)
			return MTD_ENOMEM;
		json_object_set_new(j, "message", m ? m : json_null());
		text = json_dumps(j, JSON_COMPACT);
		json_decref(j);
		if (!text)
			return MTD_ENOMEM;
		puts(text);
		free(text);
		return 0;
	}
	mtd_time_format(p->received, when, sizeof when);
	printf("%lld\t%s\t%s\t%s\n\t%s\n", (long long)p->id, esc(p->vendor), when, esc(p->reason),
	       esc(p->message));
	return 0;
}

static int cmd_parked(mtd_t *h, opts *o)
{
	int json = has_flag(o, "--json"), rc;
	if ((rc = no_more(o, 1, "parked")))
		return rc;
	if ((rc = mtd_parked(h, print_parked, &json)))
		return fail(h, rc);
	return EX_OK;
}

static json_t *bits_json(uint32_t bits, const char *const *names, int n)
{
	json_t *a = json_array();
	for (int i = 0; i < n; i++)
		if (bits & (1u << i))
			json_array_append_new(a, json_string(names[i]));
	return a;
}

static void bits_text(char *buf, size_t n, uint32_t bits, const char *const *names, int count)
{
	size_t k = 0;
	buf[0] = '\0';
	for (int i = 0; i < count; i++)
		if (bits & (1u << i))
			k += (size_t)snprintf(buf + k, n - k, "%s%s", k ? "," : "", names[i]);
	if (!k)
		snprintf(buf, n, "-");
}

static const char *const plat_names[] = {"android", "ios", "windows", "macos"};
static const char *const cap_names[] = {"threat", "app_protection", "appsync", "gov_cloud"};

static int print_plugin(void *ud, const mtd_plugin_info *p)
{
	int json = *(int *)ud;
	if (json) {
		json_t *o = json_object();
		char abi[16], *s;
		snprintf(abi, sizeof abi, "%u.%u", MTD_PLUGIN_ABI_MAJOR_OF(p->abi_version),
			 MTD_PLUGIN_ABI_MINOR_OF(p->abi_version));
		json_object_set_new(o, "id", json_string(p->id));
		json_object_set_new(o, "name", json_string(p->name));
		json_object_set_new(o, "platforms", bits_json(p->platforms, plat_names, 4));
		json_object_set_new(o, "mam_platforms", bits_json(p->mam_platforms, plat_names, 4));
		json_object_set_new(o, "capabilities", bits_json(p->capabilities, cap_names, 4));
		json_object_set_new(o, "abi", json_string(abi));
		json_object_set_new(o, "path", json_string(p->path));
		s = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER);
		json_decref(o);
		if (!s)
			return MTD_ENOMEM;
		puts(s);
		free(s);
	} else {
		char a[64], b[64], c[80];
		bits_text(a, sizeof a, p->platforms, plat_names, 4);
		bits_text(b, sizeof b, p->mam_platforms, plat_names, 4);
		bits_text(c, sizeof c, p->capabilities, cap_names, 4);
		printf("%-13s %-40s platforms=%s mam=%s capabilities=%s\n", esc(p->id), esc(p->name),
		       a, b, c);
	}
	return 0;
}

static int cmd_plugin(mtd_t *h, opts *o)
{
	const char *sub = o->argc > 1 ? o->argv[1] : "";
	int rc;
	if (!strcmp(sub, "check")) {
		int bad = 0;
		const char *fixtures = flag_value(o, "--fixtures", &bad);
		if (bad)
			return usage_error("plugin check: --fixtures needs a directory");
		if ((rc = no_more(o, 3, "plugin check")))
			return rc;
		rc = mtd_plugin_check(h, o->argv[2], fixtures, print_check, NULL);
		if (rc == MTD_EPLUGIN) {
			printf("%s: does not pass\n", esc(o->argv[2]));
			return EX_DATAERR_;
		}
		if (rc) {
			fflush(stdout);
			fprintf(stderr, "%s: plugin check: %s cannot be checked\n", prog, esc(o->argv[2]));
			return rc == MTD_EUSAGE ? EX_USAGE_ : rc == MTD_EREFUSED ? EX_REFUSED_ : EX_INTERNAL_;
		}
		printf("%s: passes\n", esc(o->argv[2]));
		return EX_OK;
	}
	if (!strcmp(sub, "list")) {
		int json = has_flag(o, "--json");
		if ((rc = no_more(o, 2, "plugin list")))
			return rc;
		if ((rc = mtd_plugin_list(h, print_plugin, &json)))
			return fail(h, rc);
		return EX_OK;
	}
	return usage_error("plugin: expected list or check");
}

/* ---- rules ---- */

static int cmd_rules(mtd_t *h, opts *o)
{
	const char *sub = o->argc > 1 ? o->argv[1] : "";
	const char *dir;
	unsigned passed = 0, failed = 0;
	int rc;

	if (strcmp(sub, "check") && strcmp(sub, "test"))
		return usage_error("rules: expected check or test");
	for (int i = 2; i < o->argc; i++)
		if (o->argv[i][0] == '-')
			return usage_error("rules %s: unknown option '%s'", sub, o->argv[i]);
	if (o->argc > 3)
		return usage_error("rules %s: expected at most one directory", sub);
	dir = o->argc == 3 ? o->argv[2] : NULL;
	if (!strcmp(sub, "check")) {
		if ((rc = mtd_rules_check(h, dir, print_check, NULL)))
			return exit_for(rc);
		printf("rules %s: ok\n", dir ? dir : o->cfg.rules_dir);
		return EX_OK;
	}
	rc = mtd_rules_test(h, dir, print_check, NULL, &passed, &failed);
	printf("%u passed, %u failed\n", passed, failed);
	if (rc && failed)
		return EX_DATAERR_;
	return rc ? fail(h, rc) : EX_OK;
}

/* ---- audit ---- */

typedef struct auditctx {
	int json;
	mtd_buf line; /* reused for every record */
} auditctx;

static int print_audit(void *ud, const mtd_audit_rec *r)
{
	auditctx *a = ud;
	char t[40];
	if (a->json) { /* ids are bytes (not always UTF-8): written, not packed */
		mtd_buf *bp = &a->line;
		json_t *d = json_loads(r->detail, 0, NULL);
		char *ds = d ? json_dumps(d, JSON_COMPACT | JSON_PRESERVE_ORDER | JSON_ENCODE_ANY)
			     : NULL;
		char num[32];
		int rc;
		snprintf(num, sizeof num, "%lld", (long long)r->seq);
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
	printf("%6lld %s %-17s %-12s %-20s %s\n", (long long)r->seq, mtd_time_format(r->at, t, sizeof t),
	       esc(r->kind), esc(r->vendor), esc(r->device), esc(r->detail));
	return 0;
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
	const char *sub = o->argc > 1 ? o->argv[1] : "";
	int rc;
	if (!strcmp(sub, "verify")) {
		mtd_audit_expect x = {0};
		uint64_t n;
		char head[65], t[40];
		int bad = 0;
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
		auditctx a = {has_flag(o, "--json"), {0}};
		int bad = 0;
		f.device = flag_value(o, "--device", &bad);
		f.vendor = flag_value(o, "--vendor", &bad);
		f.kind = flag_value(o, "--kind", &bad);
		if (bad)
			return usage_error("audit show: --device, --vendor and --kind need a value");
		if ((rc = time_flag(o, "--since", &f.since)) || (rc = time_flag(o, "--until", &f.until)))
			return rc;
		if ((rc = no_more(o, 2, "audit show")))
			return rc;
		rc = mtd_audit_show(h, &f, print_audit, &a);
		mtd_buf_free(&a.line);
		if (rc)
			return fail(h, rc);
		return EX_OK;
	}
	return usage_error("audit: expected verify, show, keygen or checkpoint");
}

/* ---- appsync ---- */

static int write_stdout(void *ud, const void *data, size_t len)
{
	(void)ud;
	return fwrite(data, 1, len, stdout) == len ? 0 : -1;
}

static int cmd_appsync(mtd_t *h, opts *o)
{
	int json = has_flag(o, "--json"), native = has_flag(o, "--native"), rc;
	uint64_t n = 0;
	if ((rc = no_more(o, 2, "appsync")))
		return rc;
	if (json && native)
		return usage_error("appsync: --json and --native exclude each other");
	if (!json && !native && isatty(STDOUT_FILENO))
		return usage_error("appsync: the answer is binary msgpack; redirect it to a file or "
				   "a pipe, or use --json");
	rc = mtd_appsync(h, o->argv[1], json ? MTD_APPSYNC_JSON : native ? MTD_APPSYNC_NATIVE
								  : MTD_APPSYNC_MSGPACK,
			 write_stdout, NULL, &n);
	if (fflush(stdout) && !rc)
		return fail(h, MTD_EIO);
	if (rc)
		return fail(h, rc);
	fprintf(stderr, "%s: appsync %s: %llu inventory records\n", prog, o->argv[1],
		(unsigned long long)n);
	return EX_OK;
}

/* ---- evaluate ---- */

/* A dry run's change, as the administrator reads it. */
static int on_change(void *ud, const mtd_decision_info *a, const mtd_decision_info *b)
{
	(void)ud;
	printf("%s: %s/%s/%s -> %s/%s/%s\n", esc(b->device), a->state, a->access, a->app_protection,
	       b->state, b->access, b->app_protection);
	for (size_t k = 0; k < b->nreasons; k++)
		printf("    %s\n", esc(b->reasons[k]));
	return 0;
}

static int cmd_evaluate(mtd_t *h, opts *o)
{
	mtd_transitions t;
	uint64_t n = 0, c = 0;
	int dry = has_flag(o, "--dry-run"), rc;
	if ((rc = no_more(o, 1, "evaluate")))
		return rc;
	/* a real run is told only the counts: no decision built per change */
	if ((rc = mtd_evaluate_counted(h, dry, dry ? on_change : NULL, NULL, &n, &c, &t)))
		return fail(h, rc);
	printf("%s %llu devices, %llu decisions %s\n", dry ? "dry run:" : "evaluated",
	       (unsigned long long)n, (unsigned long long)c, dry ? "would change" : "changed");
	for (size_t i = 0; i < t.npairs; i++) {
		int from = t.pair[i] / MTD_NSTATES, to = t.pair[i] % MTD_NSTATES;
		char key[80];
		snprintf(key, sizeof key, "%s -> %s", mtd_state_name(from), mtd_state_name(to));
		printf("  %-40s %llu\n", key, (unsigned long long)t.n[from][to]);
	}
	return EX_OK;
}

/* ---- report ---- */

typedef struct repctx {
	int json;
	const char *state; /* only devices in this state, when set */
	uint64_t n, by_state[4];
	mtd_buf line;      /* the JSON line being written, reused */
} repctx;

int mtd_cli_report_json(mtd_buf *b, const mtd_decision_info *d)
{
	int rc;
	rc = buf_lit(b, "{\"device\":") || buf_str(b, d->device) || buf_lit(b, ",\"platform\":") ||
	     buf_str(b, d->platform) || buf_lit(b, ",\"management\":") || buf_str(b, d->management) ||
	     buf_lit(b, ",\"state\":") || buf_str(b, d->state) || buf_lit(b, ",\"level\":") ||
	     buf_str(b, d->level) || buf_lit(b, ",\"vendors\":{");
	for (size_t i = 0; !rc && i < d->nvendors; i++)
		rc = (i && buf_lit(b, ",")) || buf_str(b, d->vendor_names[i]) || buf_lit(b, ":") ||
		     buf_str(b, d->vendor_levels[i]);
	rc = rc || buf_lit(b, "},\"access\":") || buf_str(b, d->access) ||
	     buf_lit(b, ",\"app_protection\":") || buf_str(b, d->app_protection) ||
	     buf_lit(b, ",\"reasons\":[");
	for (size_t i = 0; !rc && i < d->nreasons; i++)
		rc = (i && buf_lit(b, ",")) || buf_str(b, d->reasons[i]);
	/* extension: the device's protected resources, each at access */
	rc = rc || buf_lit(b, "],\"resources\":{");
	for (size_t i = 0; !rc && i < d->nresources; i++)
		rc = (i && buf_lit(b, ",")) || buf_str(b, d->resources[i]) || buf_lit(b, ":") ||
		     buf_str(b, d->access);
	rc = rc || buf_lit(b, "}");
	/* extension, report of one device: the vendors' latest reports, each
	 * with the time it carries and when it was received (R13) */
	if (!rc && d->report_vendors) {
		char at[40], rcv[40];
		rc = buf_lit(b, ",\"reports\":[");
		for (size_t i = 0; !rc && i < d->nreports; i++)
			rc = (i && buf_lit(b, ",")) || buf_lit(b, "{\"vendor\":") ||
			     buf_str(b, d->report_vendors[i]) || buf_lit(b, ",\"level\":") ||
			     buf_str(b, d->report_levels[i]) || buf_lit(b, ",\"at\":") ||
			     buf_str(b, mtd_time_format(d->report_at[i], at, sizeof at)) ||
			     buf_lit(b, ",\"received\":") ||
			     buf_str(b, mtd_time_format(d->report_received[i], rcv, sizeof rcv)) ||
			     buf_lit(b, "}");
		rc = rc || buf_lit(b, "]");
	}
	rc = rc || buf_lit(b, "}");
	return rc ? -1 : 0;
}

/* SPEC 4.3's report object, one line; written directly (building a JSON
 * tree per device was nine tenths of report --json). */
static int report_json(repctx *r, const mtd_decision_info *d)
{
	r->line.len = 0;
	return mtd_cli_report_json(&r->line, d) ? MTD_ENOMEM : buf_line(&r->line);
}

static int print_decision(void *ud, const mtd_decision_info *d)
{
	repctx *r = ud;
	static const char *const states[] = {"compliant", "noncompliant", "in_grace_period",
					     "not_evaluated"};
	if (r->state && strcmp(r->state, d->state))
		return 0;
	for (int i = 0; i < 4; i++)
		if (!strcmp(d->state, states[i]))
			r->by_state[i]++;
	r->n++;
	if (r->json)
		return report_json(r, d);
	if (r->n == 1)
		printf("%-20s %-8s %-10s %-15s %-8s %-6s %-5s %s\n", "DEVICE", "PLATFORM", "MGMT",
		       "STATE", "LEVEL", "ACCESS", "APP", "REASON");
	printf("%-20s %-8s %-10s %-15s %-8s %-6s %-5s %s\n", esc(d->device), d->platform,
	       d->management, d->state, d->level, d->access, d->app_protection,
	       d->nreasons ? esc(d->reasons[0]) : "");
	for (size_t i = 1; i < d->nreasons; i++)
		printf("%-82s %s\n", "", esc(d->reasons[i]));
	for (size_t i = 0; i < d->nreports; i++) {
		char at[40], rcv[40];
		printf("  report from %s: %s, dated %s, received %s\n", esc(d->report_vendors[i]),
		       d->report_levels[i], mtd_time_format(d->report_at[i], at, sizeof at),
		       mtd_time_format(d->report_received[i], rcv, sizeof rcv));
	}
	return 0;
}

static int cmd_report(mtd_t *h, opts *o)
{
	repctx r = {0};
	int bad = 0, rc;
	const char *dev;
	r.json = has_flag(o, "--json");
	dev = flag_value(o, "--device", &bad);
	if (bad)
		return usage_error("report: --device needs an id");
	r.state = flag_value(o, "--state", &bad);
	if (bad || (r.state && strcmp(r.state, "compliant") && strcmp(r.state, "noncompliant") &&
		    strcmp(r.state, "in_grace_period") && strcmp(r.state, "not_evaluated")))
		return usage_error("report: --state needs compliant, noncompliant, in_grace_period "
				   "or not_evaluated");
	if ((rc = no_more(o, 1, "report")))
		return rc;
	rc = mtd_report(h, dev, print_decision, &r);
	mtd_buf_free(&r.line);
	if (rc)
		return fail(h, rc);
	if (!r.json)
		printf("\n%llu devices: %llu compliant, %llu noncompliant, %llu in grace period, "
		       "%llu not evaluated\n",
		       (unsigned long long)r.n, (unsigned long long)r.by_state[0],
		       (unsigned long long)r.by_state[1], (unsigned long long)r.by_state[2],
		       (unsigned long long)r.by_state[3]);
	return EX_OK;
}

/* ---- defaults and main ---- */

/* The directory of the running executable, for install-relative defaults. */
static int exe_dir(char *buf, size_t n)
{
	ssize_t k = readlink("/proc/self/exe", buf, n - 1);
	char *slash;
	if (k <= 0)
		return -1;
	buf[k] = '\0';
	slash = strrchr(buf, '/');
	if (!slash)
		return -1;
	*slash = '\0';
	return 0;
}

/* Default plugin and rules directories, relative to the binary's own
 * directory (paths computed at configure time from the install layout; the
 * build tree mirrors it), so the same binary works from the build tree and
 * from any prefix. No build-tree path is compiled in; when the binary's
 * directory is unknown, --plugins (and --rules) must be given. */
static int defaults(opts *o)
{
	char dir[PATH_MAX];
	int have_dir = exe_dir(dir, sizeof dir) == 0;
	if (!o->cfg.db_path)
		o->cfg.db_path = "mtdgate.db";
	if (!o->cfg.rules_dir) {
		if (!MTD_RULES_DIR_RELATIVE) {
			o->cfg.rules_dir = MTD_DEFAULT_RULES_DIR;
		} else if (have_dir && (size_t)snprintf(o->rules_buf, sizeof o->rules_buf, "%s/%s", dir,
							MTD_DEFAULT_RULES_DIR) < sizeof o->rules_buf) {
			o->cfg.rules_dir = o->rules_buf;
		} else {
			fprintf(stderr, "%s: cannot locate the default rules; give --rules DIR\n", prog);
			return EX_INTERNAL_;
		}
	}
	if (!o->cfg.plugin_dir) {
		if (have_dir && (size_t)snprintf(o->plugins_buf, sizeof o->plugins_buf, "%s/%s", dir,
						 MTD_REL_PLUGIN_DIR) < sizeof o->plugins_buf) {
			o->cfg.plugin_dir = o->plugins_buf;
		} else {
			fprintf(stderr, "%s: cannot locate the plugin directory; give --plugins DIR\n",
				prog);
			return EX_INTERNAL_;
		}
	}
	return 0;
}

static const char *help_text(const char *name)
{
	for (size_t i = 0; i < sizeof helps / sizeof *helps; i++)
		if (!strcmp(helps[i].cmd, name))
			return helps[i].text;
	return NULL;
}

static int cmd_device(mtd_t *h, opts *o)
{
	return cmd_import(h, o, 0);
}

static int cmd_inventory(mtd_t *h, opts *o)
{
	return cmd_import(h, o, 1);
}

static int cmd_serve(mtd_t *h, opts *o)
{
	return mtd_cli_serve(h, o->argc, o->argv);
}

static int cmd_export(mtd_t *h, opts *o)
{
	return mtd_cli_export(h, o->argc, o->argv);
}

/* Needs no store: main() runs it before opening one. */
static int cmd_help(mtd_t *h, opts *o)
{
	if (o->argc > 2)
		return usage_error("help: expected at most one command");
	if (o->argc == 2 && !help_text(o->argv[1]))
		return usage_error("help: '%s' is not a command", o->argv[1]);
	return print_help(o->argc == 2 ? o->argv[1] : NULL);
}

/* Every command, in the order of main_help. Its help text is helps[]'s:
 * --dump-commands refuses a command without one (and the build, which makes
 * the man pages and the completion from that dump, fails). */
static const struct command {
	const char *name;
	int (*fn)(mtd_t *h, opts *o);
} commands[] = {
	{"init", cmd_init},         {"device", cmd_device},     {"inventory", cmd_inventory},
	{"connector", cmd_connector}, {"ingest", cmd_ingest},     {"plugin", cmd_plugin},
	{"evaluate", cmd_evaluate}, {"rules", cmd_rules},       {"report", cmd_report},
	{"appsync", cmd_appsync},   {"parked", cmd_parked},     {"audit", cmd_audit},
	{"serve", cmd_serve},       {"export", cmd_export},     {"help", cmd_help},
};

static const struct command *find_command(const char *name)
{
	for (size_t i = 0; i < sizeof commands / sizeof *commands; i++)
		if (!strcmp(commands[i].name, name))
			return &commands[i];
	return NULL;
}

static void dump_text(const char *text)
{
	for (const char *line = text; *line;) {
		size_t n = strcspn(line, "\n");
		printf("|%.*s\n", (int)n, line);
		line += n + (line[n] == '\n');
	}
}

/* Hidden: the command table for tools/gendoc (man pages, bash completion),
 * one line per text line, "|"-prefixed, under "@main" and "@command NAME". */
static int dump_commands(void)
{
	printf("@mtdgate %s\n@main\n", MTD_VERSION);
	dump_text(main_help);
	for (size_t i = 0; i < sizeof commands / sizeof *commands; i++) {
		const char *text = help_text(commands[i].name);
		if (!text) {
			fprintf(stderr, "%s: command '%s' has no help text\n", prog, commands[i].name);
			return EX_INTERNAL_;
		}
		printf("@command %s\n", commands[i].name);
		dump_text(text);
	}
	for (size_t i = 0; i < sizeof helps / sizeof *helps; i++)
		if (!find_command(helps[i].cmd)) {
			fprintf(stderr, "%s: help for '%s', which is no command\n", prog, helps[i].cmd);
			return EX_INTERNAL_;
		}
	return fflush(stdout) ? EX_INTERNAL_ : EX_OK;
}

int main(int argc, char **argv)
{
	const struct command *run;
	static opts o;
	const char *isolation = "auto";
	mtd_t *h = NULL;
	const char *cmd;
	int rc, help = 0;

	o.argv = calloc((size_t)argc + 1, sizeof *o.argv);
	if (!o.argv)
		return EX_INTERNAL_;
	/* Global options may stand anywhere; what is left is the command line. */
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		const char **slot = !strcmp(a, "--db") ? &o.cfg.db_path
				    : !strcmp(a, "--rules") ? &o.cfg.rules_dir
				    : !strcmp(a, "--plugins") ? &o.cfg.plugin_dir
							     : NULL;
		if (!strcmp(a, "--batch")) {
			char *end;
			unsigned long long v;
			if (i + 1 >= argc)
				return usage_error("--batch needs a value");
			v = strtoull(argv[++i], &end, 10);
			if (!*argv[i] || *end || v == 0 || v > 10000000)
				return usage_error("--batch: '%s' is not a number of records from 1 to "
						   "10000000", argv[i]);
			o.cfg.batch = v;
			continue;
		}
		if (!strcmp(a, "--rules-cpu-ms") || !strcmp(a, "--rules-eval-cpu-ms") ||
		    !strcmp(a, "--max-skew")) {
			char *end;
			unsigned long long v;
			int skew = a[2] == 'm';
			if (i + 1 >= argc)
				return usage_error("%s needs a value", a);
			v = strtoull(argv[++i], &end, 10);
			if (!*argv[i] || *end || argv[i][0] == '-' || (!skew && v == 0) ||
			    v > (skew ? 10ull * 366 * 86400 : 86400000ull))
				return usage_error("%s: '%s' is not a number from %d to %s", a, argv[i],
						   !skew, skew ? "316224000 (seconds)" : "86400000 (ms)");
			if (skew)
				o.cfg.max_skew = v ? (int64_t)v : -1; /* -1: none at all */
			else if (a[8] == 'c')
				o.cfg.rules_cpu_ms = v;
			else
				o.cfg.rules_eval_cpu_ms = v;
			continue;
		}
		if (!strcmp(a, "--rules-memory") || !strcmp(a, "--rules-instructions")) {
			char *end;
			unsigned long long v;
			if (i + 1 >= argc)
				return usage_error("%s needs a value", a);
			v = strtoull(argv[++i], &end, 10);
			if (!*argv[i] || *end || v == 0)
				return usage_error("%s: '%s' is not a positive number", a, argv[i]);
			if (a[8] == 'm') {
				if (v < 1048576 || v > (1ull << 34))
					return usage_error("--rules-memory: from 1 MiB to 16 GiB, in bytes");
				o.cfg.rules_memory = (size_t)v;
			} else {
				o.cfg.rules_instructions = v;
			}
			continue;
		}
		if (slot || !strcmp(a, "--now")) {
			if (i + 1 >= argc)
				return usage_error("%s needs a value", a);
			if (slot) {
				*slot = argv[++i];
			} else {
				int64_t t;
				if (mtd_time_parse(argv[i + 1], strlen(argv[i + 1]), &t))
					return usage_error("--now: '%s' is not an RFC 3339 time or Unix seconds",
							   argv[i + 1]);
				o.cfg.now = t ? t : 1;
				i++;
			}
		} else if (!strcmp(a, "--plugin-isolation")) {
			if (i + 1 >= argc || (strcmp(argv[i + 1], "auto") && strcmp(argv[i + 1], "process") &&
					      strcmp(argv[i + 1], "none")))
				return usage_error("--plugin-isolation needs auto, process or none");
			isolation = argv[++i];
		} else if (!strcmp(a, "--insecure-plugins") || !strcmp(a, "--allow-insecure-dirs") ||
			   !strcmp(a, "--insecure-rules")) {
			if (strcmp(a, "--insecure-rules"))
				o.cfg.insecure_plugins = 1;
			if (strcmp(a, "--insecure-plugins"))
				o.cfg.insecure_rules = 1;
		} else if (!strcmp(a, "--acks")) {
			bar.acks = 1; /* ingest/import: print each committed batch */
		} else if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
			help = 1;
		} else if (!strcmp(a, "--dump-commands")) {
			free(o.argv);
			return dump_commands();
		} else if (!strcmp(a, "--version")) {
			printf("mtdgate %s (plugin ABI %u.%u)\n", MTD_VERSION, MTD_PLUGIN_ABI_MAJOR,
			       MTD_PLUGIN_ABI_MINOR);
			return EX_OK;
		} else {
			o.argv[o.argc++] = argv[i];
		}
	}
	cmd = o.argc ? o.argv[0] : NULL;
	if (help || !cmd)
		return help ? print_help(cmd) : (fputs(main_help, stderr), EX_USAGE_);
	if (!(run = find_command(cmd)))
		return usage_error("unknown command '%s'", cmd);
	if (run->fn == cmd_help) {
		rc = cmd_help(NULL, &o);
		free(o.argv);
		return rc;
	}
	/* Every plugin runs in its own sandboxed process unless told otherwise
	 * (README, "Trust boundaries"). */
	if ((rc = defaults(&o)))
		return rc;
	o.cfg.isolate_plugins = strcmp(isolation, "none") != 0;
	if (mtd_open(&o.cfg, &h)) {
		fprintf(stderr, "%s: %s\n", prog, esc(mtd_errmsg(h)));
		mtd_close(h);
		return EX_INTERNAL_;
	}
	mtd_set_diag(h, diag, NULL);
	bar.tty = isatty(STDERR_FILENO);
	if (bar.tty || bar.acks)
		mtd_set_progress(h, on_progress, &bar);
	rc = run->fn(h, &o);
	mtd_close(h);
	free(o.argv);
	return rc;
}
