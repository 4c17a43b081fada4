/* fleetgen: deterministic synthetic tenant for the demo and the benchmark.
 *
 *   fleetgen [--devices N] [--seed S] [--format json|msgpack] OUTDIR
 *
 * Writes OUTDIR/devices, OUTDIR/inventory (iOS apps), OUTDIR/day1 (provision,
 * heartbeat and a threat report for every device, some of them above the
 * default thresholds) and OUTDIR/day2 (a newer report that remediates about
 * half of the devices that were above "low"). Files get the extension
 * .jsonl or .msgpack. Same seed, same files. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mtdgate/sdk.h"

static uint64_t rng_state;

static uint32_t rnd(void)
{
	/* splitmix64: small, fast, good enough for synthetic data */
	uint64_t z = (rng_state += 0x9e3779b97f4a7c15ull);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return (uint32_t)((z ^ (z >> 31)) >> 32);
}

static int msgpack_out;

/* Emit one JSON object as a line, or as msgpack. Takes the reference. */
static int put(FILE *f, json_t *o)
{
	int rc = 0;
	if (!o)
		return -1;
	if (msgpack_out) {
		mtd_buf b = {0};
		rc = mtd_sdk_json_to_msgpack(o, &b) || fwrite(b.data, 1, b.len, f) != b.len;
		mtd_buf_free(&b);
	} else {
		rc = json_dumpf(o, f, JSON_COMPACT | JSON_PRESERVE_ORDER) || fputc('\n', f) == EOF;
	}
	json_decref(o);
	return rc ? -1 : 0;
}

static FILE *open_out(const char *dir, const char *name)
{
	char path[4096];
	FILE *f;
	snprintf(path, sizeof path, "%s/%s.%s", dir, name, msgpack_out ? "msgpack" : "jsonl");
	f = fopen(path, "wb");
	if (!f)
		perror(path);
	return f;
}

static const char *const platforms[] = {"android", "ios", "windows", "macos"};
static const char *const groups[] = {"Executives", "Sales", "Engineering", "Finance", "Contractors"};
static const char *const levels[] = {"secured", "low", "medium", "high"};
static const char *const apps[][3] = {
	{"com.microsoft.Office.Outlook", "Microsoft Outlook", "4.2405.0"},
	{"com.microsoft.teams", "Microsoft Teams", "6.8.1"},
	{"com.example.expenses", "Expenses", "2.1.0"},
	{"com.example.sideloaded.tool", "Field Tool (ad hoc)", "0.9.3"},
	{"net.whatsapp.WhatsApp", "WhatsApp", "24.10.75"},
	{"com.example.beta.crm", "CRM (TestFlight)", "3.0.0b4"},
};

static int platform_of(uint32_t r)
{
	r %= 100;
	return r < 42 ? 0 : r < 84 ? 1 : r < 96 ? 2 : 3;
}

/* The report's level for a device on day 1: mostly secured or low. */
static int day1_level(uint32_t r)
{
	r %= 100;
	return r < 60 ? 0 : r < 82 ? 1 : r < 92 ? 2 : 3;
}

int main(int argc, char **argv)
{
	long n = 300;
	uint64_t seed = 2026;
	const char *dir = NULL;
	FILE *fd, *fi, *f1, *f2;
	const int64_t t0 = 1795000000; /* 2026-11-18T... */

	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--devices") && i + 1 < argc)
			n = atol(argv[++i]);
		else if (!strcmp(argv[i], "--seed") && i + 1 < argc)
			seed = strtoull(argv[++i], NULL, 10);
		else if (!strcmp(argv[i], "--format") && i + 1 < argc)
			msgpack_out = !strcmp(argv[++i], "msgpack");
		else if (argv[i][0] != '-' && !dir)
			dir = argv[i];
		else {
			fprintf(stderr, "usage: fleetgen [--devices N] [--seed S] [--format json|msgpack] OUTDIR\n");
			return 64;
		}
	}
	if (!dir || n < 1) {
		fprintf(stderr, "usage: fleetgen [--devices N] [--seed S] [--format json|msgpack] OUTDIR\n");
		return 64;
	}
	rng_state = seed;
	if (!(fd = open_out(dir, "devices")) || !(fi = open_out(dir, "inventory")) ||
	    !(f1 = open_out(dir, "day1")) || !(f2 = open_out(dir, "day2")))
		return 70;
	put(f1, json_pack("{s:s, s:I}", "type", "provision", "at", (json_int_t)t0));
	put(f2, json_pack("{s:s, s:I}", "type", "heartbeat", "at", (json_int_t)(t0 + 86400)));
	for (long i = 0; i < n; i++) {
		char id[32], user[48];
		int p = platform_of(rnd()), enrolled = rnd() % 100 < 88 || p >= 2;
		int corporate = rnd() % 100 < 70, lvl = day1_level(rnd());
		json_t *gs = json_array();
		uint32_t g1 = rnd() % 100, g2 = rnd() % 100;
		snprintf(id, sizeof id, "dev-%06ld", i + 1);
		snprintf(user, sizeof user, "user%05ld@contoso.example", i / 2 + 1);
		/* One department for most users, Executives for a few. */
		if (g1 < 85)
			json_array_append_new(gs, json_string(groups[1 + g1 % 4]));
		if (g2 < 6)
			json_array_append_new(gs, json_string(groups[0]));
		if (put(fd, json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:o}", "id", id, "platform",
				      platforms[p], "os_version",
				      p == 0 ? "14" : p == 1 ? "17.5" : p == 2 ? "10.0.22631" : "14.5",
				      "ownership", corporate ? "corporate" : "personal", "management",
				      enrolled ? "enrolled" : "unenrolled", "user", user, "groups", gs)))
			return 70;
		if (p == 1)
			for (int a = 0; a < 6; a++) {
				if (rnd() % 3 == 0)
					continue;
				put(fi, json_pack("{s:s, s:s, s:s, s:s, s:s, s:I, s:I, s:b, s:b, s:b, s:b, s:b, s:b}",
						  "device", id, "app_id", apps[a][0], "version", apps[a][2],
						  "short_version", apps[a][2], "name", apps[a][1],
						  "bundle_size", (json_int_t)(20000000 + rnd() % 90000000),
						  "dynamic_size", (json_int_t)(rnd() % 50000000),
						  "adhoc_signed", a == 3, "app_store", a != 3 && a != 5,
						  "beta", a == 5, "vpp", corporate && a < 3, "validated", a != 3,
						  "managed", a < 3));
			}
		{
			json_t *th = json_array();
			if (lvl > 0)
				json_array_append_new(th, json_pack("{s:s, s:s, s:s, s:s}", "id", "t1",
					"category", lvl == 3 ? "device" : lvl == 2 ? "app" : "network",
					"name", lvl == 3 ? "jailbroken / rooted" : lvl == 2 ? "riskware app" : "unsecured Wi-Fi",
					"level", levels[lvl]));
			put(f1, json_pack("{s:s, s:s, s:s, s:I, s:o}", "type", "threat", "device", id,
					  "level", levels[lvl], "at", (json_int_t)(t0 + 3600 + i % 3600),
					  "threats", th));
		}
		if (lvl >= 2 && rnd() % 2 == 0)
			put(f2, json_pack("{s:s, s:s, s:s, s:I, s:[]}", "type", "threat", "device", id,
					  "level", "secured", "at", (json_int_t)(t0 + 86400 + i % 3600),
					  "threats"));
	}
	if (fclose(fd) || fclose(fi) || fclose(f1) || fclose(f2))
		return 70;
	return 0;
}
