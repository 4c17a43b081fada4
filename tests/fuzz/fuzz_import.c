/* Record reading and store import shared by fuzz_device and fuzz_inventory. */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fuzz.h"
#include "fuzz_import.h"

/* Store re-created after this many imports: keeps the database small. */
#define FRESH_EVERY 2000

const char fuzz_import_devices[] =
	"{\"id\":\"dev-1\",\"platform\":\"ios\",\"ownership\":\"corporate\","
	"\"management\":\"enrolled\",\"groups\":[\"Executives\"]}\n"
	"{\"id\":\"dev-2\",\"platform\":\"android\",\"ownership\":\"personal\","
	"\"management\":\"unenrolled\"}\n"
	"{\"id\":\"dev-000003\",\"platform\":\"ios\",\"ownership\":\"personal\","
	"\"management\":\"enrolled\",\"groups\":[]}\n";

static void check_err(const char *err, size_t n)
{
	FUZZ_CHECK(memchr(err, '\0', n) != NULL);
	FUZZ_CHECK(err[0] != '\0');
	FUZZ_CHECK(strchr(err, '\n') == NULL);
}

void fuzz_read_records(const uint8_t *data, size_t size, fuzz_decode_fn decode)
{
	FILE *f = fuzz_memfile(data, size);
	mtd_reader *r = mtd_reader_new(f, "fuzz.in");
	mtd_record rec;
	char err[600];
	uint64_t n = 0;
	int k;

	FUZZ_CHECK(r != NULL);
	for (;;) {
		memset(&rec, 0, sizeof rec);
		err[0] = '\0';
		k = mtd_reader_next(r, &rec, 1, err, sizeof err);
		if (k == 0 || k == MTD_ENOMEM)
			break;
		FUZZ_CHECK(k == 1 || k == MTD_EMALFORMED);
		FUZZ_CHECK(++n <= (uint64_t)size + 1);
		if (k == MTD_EMALFORMED) {
			check_err(err, sizeof err);
			continue;
		}
		FUZZ_CHECK(rec.obj != NULL);
		{
			char *e = malloc(600), *small = malloc(8);
			int rc, rc2;
			FUZZ_CHECK(e && small);
			e[0] = '\0';
			rc = decode(rec.obj, e, 600);
			FUZZ_CHECK(rc == 0 || rc == MTD_EMALFORMED);
			if (rc)
				check_err(e, 600);
			rc2 = decode(rec.obj, small, 8);
			FUZZ_CHECK(rc2 == rc);
			if (rc2)
				FUZZ_CHECK(memchr(small, '\0', 8) != NULL);
			free(e);
			free(small);
		}
	}
	mtd_reader_free(r);
	fclose(f);
}

/* ---- store import ---- */

static mtd_t *h;
static unsigned long imports;
static uint64_t diag_lines;

static void on_diag(void *ud, const char *msg)
{
	(void)ud;
	FUZZ_CHECK(msg && msg[0] && !strchr(msg, '\n'));
	diag_lines++;
}

static void close_store(void)
{
	static const char *const files[] = {"mtdgate.db", "mtdgate.db-wal", "mtdgate.db-shm"};
	char p[1024];

	mtd_close(h);
	h = NULL;
	for (size_t i = 0; i < sizeof files / sizeof *files; i++) {
		snprintf(p, sizeof p, "%s/%s", fuzz_tmpdir(), files[i]);
		unlink(p);
	}
}

static void open_store(void)
{
	static int registered;
	char db[1024];
	mtd_config cfg = {0};
	mtd_stats st;
	FILE *f;

	snprintf(db, sizeof db, "%s/mtdgate.db", fuzz_tmpdir());
	cfg.db_path = db;
	cfg.rules_dir = fuzz_tmpdir();
	cfg.plugin_dir = fuzz_tmpdir();
	cfg.now = 1795000000;
	if (mtd_open(&cfg, &h) || mtd_init(h, "commercial")) {
		fprintf(stderr, "fuzz: cannot create the store %s: %s\n", db, mtd_errmsg(h));
		abort();
	}
	mtd_set_diag(h, on_diag, NULL);
	f = fuzz_memfile((const uint8_t *)fuzz_import_devices, strlen(fuzz_import_devices));
	if (mtd_device_import(h, f, "devices", &st) || st.accepted != 3) {
		fprintf(stderr, "fuzz: cannot import the base devices: %s\n", mtd_errmsg(h));
		abort();
	}
	fclose(f);
	if (!registered++)
		atexit(close_store);
}

void fuzz_import(const uint8_t *data, size_t size, int inventory)
{
	mtd_stats st;
	FILE *f;
	int rc;

	if (getenv("MTD_FUZZ_NO_STORE"))
		return;
	if (h && ++imports % FRESH_EVERY == 0)
		close_store();
	if (!h)
		open_store();
	diag_lines = 0;
	f = fuzz_memfile(data, size);
	rc = inventory ? mtd_inventory_import(h, f, "fuzz.in", &st)
		       : mtd_device_import(h, f, "fuzz.in", &st);
	fclose(f);
	if (getenv("MTD_FUZZ_VERBOSE"))
		fprintf(stderr, "fuzz: %s import: %llu records, %llu accepted, %llu malformed\n",
			inventory ? "inventory" : "device", (unsigned long long)st.records,
			(unsigned long long)st.accepted, (unsigned long long)st.malformed);
	if (rc)
		fprintf(stderr, "fuzz: import failed: %s: %s\n", mtd_errname(rc), mtd_errmsg(h));
	/* Bad records never fail the call; each is one diagnostic line. */
	FUZZ_CHECK(rc == 0);
	FUZZ_CHECK(st.rejected == 0);
	FUZZ_CHECK(st.records == st.accepted + st.malformed);
	FUZZ_CHECK(diag_lines == st.malformed);
}
