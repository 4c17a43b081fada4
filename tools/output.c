/* Record output for every command (cli.h, "output"): --output table|json|csv,
 * tables sized to their data, RFC 4180 CSV, JSON lines, NO_COLOR. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"

/* Rows a table holds back to size its columns; later rows are written as
 * they come in the widths found (a longer cell then pushes its row only). */
#define TABLE_HOLD 10000

int cli_output(opts *o, const char *cmd, cli_format *fmt)
{
	int bad = 0, json = has_flag(o, "--json");
	const char *v = flag_value(o, "--output", &bad); /* -o arrives as --output */
	if (bad)
		return usage_error("%s: --output needs table, json or csv", cmd);
	if (v && json && strcmp(v, "json"))
		return usage_error("%s: --json and --output %s exclude each other", cmd, esc(v));
	if (!v)
		*fmt = json ? CLI_JSON : CLI_TABLE;
	else if (!strcmp(v, "table"))
		*fmt = CLI_TABLE;
	else if (!strcmp(v, "json"))
		*fmt = CLI_JSON;
	else if (!strcmp(v, "csv"))
		*fmt = CLI_CSV;
	else
		return usage_error("%s: --output '%s': expected table, json or csv", cmd, esc(v));
	return 0;
}

int cli_color(cli_format fmt)
{
	const char *term = getenv("TERM");
	if (fmt != CLI_TABLE || getenv("NO_COLOR") || !isatty(STDOUT_FILENO))
		return 0;
	return !term || strcmp(term, "dumb");
}

/* ---- CSV (RFC 4180) ---- */

int cli_csv_field(mtd_buf *b, const char *s)
{
	if (!s)
		return 0;
	if (!s[strcspn(s, ",\"\r\n")])
		return buf_lit(b, s);
	if (buf_lit(b, "\""))
		return -1;
	for (const char *p = s; *p;) {
		size_t n = strcspn(p, "\"");
		if (mtd_buf_put(b, p, n))
			return -1;
		p += n;
		if (*p == '"') {
			if (buf_lit(b, "\"\""))
				return -1;
			p++;
		}
	}
	return buf_lit(b, "\"");
}

/* ---- tables ---- */

struct cli_table {
	cli_format fmt;
	const cli_col *cols;
	size_t ncols;
	size_t *width;   /* table: display width of each column so far */
	mtd_buf held;    /* table: held rows' escaped cells, each NUL-ended */
	size_t nheld;    /* rows in held */
	int streaming;   /* table: header written, rows written as they come */
	mtd_buf line;    /* the line being written, reused */
};

/* Display width of UTF-8 text: its code points (esc() leaves no controls). */
static size_t text_width(const char *s)
{
	size_t w = 0;
	for (; *s; s++)
		w += ((unsigned char)*s & 0xC0) != 0x80;
	return w;
}

static int put_line(cli_table *t)
{
	return fwrite(t->line.data, 1, t->line.len, stdout) == t->line.len ? 0 : MTD_EIO;
}

/* One table line of cells (already escaped): padded to the widths, no
 * trailing blanks, two spaces between columns. */
static int table_line(cli_table *t, const char *const *cells)
{
	t->line.len = 0;
	for (size_t i = 0; i < t->ncols; i++) {
		size_t w = text_width(cells[i]), pad = w < t->width[i] ? t->width[i] - w : 0;
		int last = i + 1 == t->ncols, right = (t->cols[i].flags & CLI_COL_NUM) != 0;
		if (i && buf_lit(&t->line, "  "))
			return MTD_ENOMEM;
		for (size_t k = 0; right && k < pad; k++)
			if (buf_lit(&t->line, " "))
				return MTD_ENOMEM;
		if (buf_lit(&t->line, cells[i]))
			return MTD_ENOMEM;
		for (size_t k = 0; !right && !last && k < pad; k++)
			if (buf_lit(&t->line, " "))
				return MTD_ENOMEM;
	}
	return buf_lit(&t->line, "\n") ? MTD_ENOMEM : put_line(t);
}

/* The header and the held rows, in the widths found. */
static int table_flush(cli_table *t)
{
	const char **cells = calloc(t->ncols, sizeof *cells);
	const char *p = (const char *)t->held.data;
	int rc;
	if (!cells)
		return MTD_ENOMEM;
	for (size_t i = 0; i < t->ncols; i++)
		cells[i] = t->cols[i].title;
	rc = table_line(t, cells);
	for (size_t r = 0; !rc && r < t->nheld; r++) {
		for (size_t i = 0; i < t->ncols; i++) {
			cells[i] = p;
			p += strlen(p) + 1;
		}
		rc = table_line(t, cells);
	}
	free(cells);
	t->streaming = 1;
	t->nheld = 0;
	t->held.len = 0;
	return rc;
}

cli_table *cli_table_new(cli_format fmt, const cli_col *cols, size_t ncols)
{
	cli_table *t = calloc(1, sizeof *t);
	if (!t)
		return NULL;
	t->fmt = fmt;
	t->cols = cols;
	t->ncols = ncols;
	if (!(t->width = calloc(ncols, sizeof *t->width))) {
		free(t);
		return NULL;
	}
	for (size_t i = 0; i < ncols; i++)
		t->width[i] = text_width(cols[i].title);
	if (fmt == CLI_CSV) { /* the header row: the keys */
		int rc = 0;
		for (size_t i = 0; !rc && i < ncols; i++)
			rc = (i && buf_lit(&t->line, ",")) || cli_csv_field(&t->line, cols[i].key);
		if (rc || buf_lit(&t->line, "\r\n") || put_line(t)) {
			cli_table_free(t);
			return NULL;
		}
	}
	return t;
}

int cli_table_row(cli_table *t, const char *const *cells)
{
	int rc = 0;
	t->line.len = 0;
	if (t->fmt == CLI_CSV) {
		for (size_t i = 0; !rc && i < t->ncols; i++)
			rc = (i && buf_lit(&t->line, ",")) || cli_csv_field(&t->line, cells[i]);
		return rc || buf_lit(&t->line, "\r\n") ? MTD_ENOMEM : put_line(t);
	}
	if (t->fmt == CLI_JSON) {
		rc = buf_lit(&t->line, "{");
		for (size_t i = 0; !rc && i < t->ncols; i++)
			rc = (i && buf_lit(&t->line, ",")) || buf_str(&t->line, t->cols[i].key) ||
			     buf_lit(&t->line, ":") ||
			     (!cells[i] ? buf_lit(&t->line, "null")
			      : t->cols[i].flags & CLI_COL_RAW ? buf_lit(&t->line, cells[i])
							       : buf_str(&t->line, cells[i]));
		return rc || buf_lit(&t->line, "}\n") ? MTD_ENOMEM : put_line(t);
	}
	if (t->streaming) {
		const char **e = calloc(t->ncols, sizeof *e);
		if (!e)
			return MTD_ENOMEM;
		for (size_t i = 0; i < t->ncols; i++) /* esc() keeps its last 8 */
			e[i] = strdup(esc(cells[i]));
		for (size_t i = 0; !rc && i < t->ncols; i++)
			rc = e[i] ? 0 : MTD_ENOMEM;
		rc = rc ? rc : table_line(t, e);
		for (size_t i = 0; i < t->ncols; i++)
			free((char *)e[i]);
		free(e);
		return rc;
	}
	for (size_t i = 0; i < t->ncols; i++) {
		const char *s = esc(cells[i]);
		size_t w = text_width(s);
		if (mtd_buf_put(&t->held, s, strlen(s) + 1))
			return MTD_ENOMEM;
		if (w > t->width[i])
			t->width[i] = w;
	}
	return ++t->nheld >= TABLE_HOLD ? table_flush(t) : 0;
}

int cli_table_end(cli_table *t, int rc)
{
	if (!t)
		return rc;
	if (!rc && t->fmt == CLI_TABLE && !t->streaming && t->nheld) /* no rows: nothing */
		rc = table_flush(t);
	cli_table_free(t);
	return rc;
}

void cli_table_free(cli_table *t)
{
	if (!t)
		return;
	mtd_buf_free(&t->held);
	mtd_buf_free(&t->line);
	free(t->width);
	free(t);
}
