/* tools/output.c: colour only on a terminal and never with NO_COLOR (any
 * value) or --output json/csv; CSV fields per RFC 4180; tables sized to
 * their data with every cell escaped. */
#define _XOPEN_SOURCE 700
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h" /* before cmocka.h, whose fail() is a macro */

#include <cmocka.h>

/* stdout redirected to fd for the duration; returns the saved stdout. */
static int stdout_to(int fd)
{
	int saved;
	fflush(stdout);
	saved = dup(STDOUT_FILENO);
	assert_true(saved >= 0);
	assert_true(dup2(fd, STDOUT_FILENO) >= 0);
	return saved;
}

static void stdout_back(int saved)
{
	fflush(stdout);
	assert_true(dup2(saved, STDOUT_FILENO) >= 0);
	close(saved);
}

static void no_color(void **state)
{
	int master, slave, saved, null;
	(void)state;
	master = posix_openpt(O_RDWR | O_NOCTTY);
	assert_true(master >= 0);
	assert_int_equal(grantpt(master), 0);
	assert_int_equal(unlockpt(master), 0);
	slave = open(ptsname(master), O_RDWR | O_NOCTTY);
	assert_true(slave >= 0);

	saved = stdout_to(slave);
	setenv("TERM", "xterm", 1);
	unsetenv("NO_COLOR");
	int table = cli_color(CLI_TABLE), json = cli_color(CLI_JSON), csv = cli_color(CLI_CSV);
	setenv("NO_COLOR", "1", 1);
	int set = cli_color(CLI_TABLE);
	setenv("NO_COLOR", "", 1); /* any value, even empty */
	int empty = cli_color(CLI_TABLE);
	unsetenv("NO_COLOR");
	setenv("TERM", "dumb", 1);
	int dumb = cli_color(CLI_TABLE);
	setenv("TERM", "xterm", 1);
	stdout_back(saved);

	null = open("/dev/null", O_WRONLY);
	saved = stdout_to(null);
	int pipe_ = cli_color(CLI_TABLE);
	stdout_back(saved);
	close(null);
	close(slave);
	close(master);

	assert_int_equal(table, 1); /* the case colour is for: the test can fail */
	assert_int_equal(json, 0);
	assert_int_equal(csv, 0);
	assert_int_equal(set, 0);
	assert_int_equal(empty, 0);
	assert_int_equal(dumb, 0);
	assert_int_equal(pipe_, 0);
}

static const char *field(const char *s)
{
	static mtd_buf b;
	b.len = 0;
	assert_int_equal(cli_csv_field(&b, s), 0);
	assert_int_equal(mtd_buf_put(&b, "", 1), 0);
	return (const char *)b.data;
}

static void csv_fields(void **state)
{
	(void)state;
	assert_string_equal(field("plain"), "plain");
	assert_string_equal(field(NULL), "");
	assert_string_equal(field("a,b"), "\"a,b\"");
	assert_string_equal(field("say \"hi\""), "\"say \"\"hi\"\"\"");
	assert_string_equal(field("two\r\nlines"), "\"two\r\nlines\"");
	assert_string_equal(field("lf\n"), "\"lf\n\"");
	/* data, not terminal text: nothing else changes */
	assert_string_equal(field("=1+2"), "=1+2");
	assert_string_equal(field("@x"), "@x");
	assert_string_equal(field("-1"), "-1");
	assert_string_equal(field("\x1b[31m"), "\x1b[31m");
}

/* What the table writes for rows, read back. */
static char *table_text(cli_format fmt, const char *const (*rows)[3], size_t n)
{
	static const cli_col cols[] = {{"ID", "id", 0}, {"N", "n", CLI_COL_NUM},
				       {"NOTE", "note", 0}};
	FILE *tmp = tmpfile();
	int saved;
	long len;
	char *text;
	assert_non_null(tmp);
	saved = stdout_to(fileno(tmp));
	cli_table *t = cli_table_new(fmt, cols, 3);
	assert_non_null(t);
	for (size_t i = 0; i < n; i++)
		assert_int_equal(cli_table_row(t, rows[i]), 0);
	assert_int_equal(cli_table_end(t, 0), 0);
	stdout_back(saved);
	len = ftell(tmp);
	text = calloc(1, (size_t)len + 1);
	rewind(tmp);
	assert_int_equal(fread(text, 1, (size_t)len, tmp), (size_t)len);
	fclose(tmp);
	return text;
}

static void tables(void **state)
{
	static const char *const rows[][3] = {
		{"4f0c2a9e-6b1d-4c3e-9a8f-2d7e5b1c0a93", "7", "intune"},
		{"b", "12345", NULL},
		{"evil\x1b[31m", "1", "x"},
	};
	char *t;
	(void)state;
	t = table_text(CLI_TABLE, rows, 3);
	assert_string_equal(t, "ID                                        N  NOTE\n"
			       "4f0c2a9e-6b1d-4c3e-9a8f-2d7e5b1c0a93      7  intune\n"
			       "b                                     12345  -\n"
			       "evil\\x1b[31m                              1  x\n");
	free(t);
	t = table_text(CLI_CSV, rows, 2);
	assert_string_equal(t, "id,n,note\r\n4f0c2a9e-6b1d-4c3e-9a8f-2d7e5b1c0a93,7,intune\r\n"
			       "b,12345,\r\n");
	free(t);
	t = table_text(CLI_JSON, rows, 2);
	assert_string_equal(t, "{\"id\":\"4f0c2a9e-6b1d-4c3e-9a8f-2d7e5b1c0a93\",\"n\":\"7\","
			       "\"note\":\"intune\"}\n{\"id\":\"b\",\"n\":\"12345\",\"note\":null}\n");
	free(t);
	/* no rows: no table at all; a CSV keeps its header */
	t = table_text(CLI_TABLE, rows, 0);
	assert_string_equal(t, "");
	free(t);
	t = table_text(CLI_CSV, rows, 0);
	assert_string_equal(t, "id,n,note\r\n");
	free(t);
}

/* Past the rows a table holds back (10,000), rows are written as they come
 * in the widths found (d0..d9999: 5 wide; a longer id later pushes only its
 * own row): the header and every row, in order. */
static void long_tables(void **state)
{
	enum { N = 10005 };
	const char *(*rows)[3] = calloc(N, sizeof *rows);
	static char ids[N][16];
	char *t, *p;
	size_t lines = 0;
	(void)state;
	assert_non_null(rows);
	for (int i = 0; i < N; i++) {
		snprintf(ids[i], sizeof ids[i], i == N - 1 ? "last-longer-id" : "d%d", i);
		rows[i][0] = ids[i];
		rows[i][1] = "1";
		rows[i][2] = "n";
	}
	t = table_text(CLI_TABLE, (const char *const (*)[3])rows, N);
	for (p = t; (p = strchr(p, '\n')); p++)
		lines++;
	assert_int_equal(lines, N + 1);
	assert_non_null(strstr(t, "\nd0     1  n\n"));
	assert_non_null(strstr(t, "\nd10003  1  n\n"));
	assert_non_null(strstr(t, "\nlast-longer-id  1  n\n"));
	free(t);
	free(rows);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(no_color),
		cmocka_unit_test(csv_fields),
		cmocka_unit_test(tables),
		cmocka_unit_test(long_tables),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
