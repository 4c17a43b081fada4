/* gendoc: the man pages and the bash completion, made at build time from
 * the runner's own command table ('mtdgate --dump-commands' on stdin), so
 * --help, the man pages and the completion cannot disagree.
 *
 *   mtdgate --dump-commands | gendoc OUTDIR
 *
 * writes OUTDIR/mtdgate.1, OUTDIR/mtdgate-COMMAND.1 for every command and
 * OUTDIR/mtdgate.bash (bash completion). The dump: "@mtdgate VERSION", then
 * "@main" and "@command NAME" sections of "|"-prefixed help text lines; a
 * command's section may end with "@subcommands WORD..." and lines
 * "@option --NAME VALUE" (VALUE "-" for a flag) from its option table. */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { MAX_LINE = 1024, MAX_LINES = 4096, MAX_SECTIONS = 64, MAX_WORDS = 256 };

typedef struct section {
	char name[64];
	int first, n; /* lines[first .. first+n) */
	char subs[512];          /* "@subcommands" */
	char opt[64][160];       /* "@option" lines, "--name VALUE" */
	int nopt;
} section;

static char lines[MAX_LINES][MAX_LINE];
static int nlines;
static section sections[MAX_SECTIONS]; /* [0] is main */
static int nsections;
static char version[64] = "unknown";

static void die(const char *msg, const char *arg)
{
	fprintf(stderr, "gendoc: %s%s\n", msg, arg ? arg : "");
	exit(1);
}

/* A string into a fixed buffer, or the end of the run: truncated names
 * would make wrong pages. */
static void copy(char *dst, size_t n, const char *src)
{
	size_t len = strlen(src);
	if (len >= n)
		die("too long: ", src);
	memcpy(dst, src, len + 1);
}

static void read_dump(void)
{
	char buf[MAX_LINE + 2];
	section *cur = NULL;
	while (fgets(buf, sizeof buf, stdin)) {
		size_t n = strlen(buf);
		if (n && buf[n - 1] == '\n')
			buf[--n] = '\0';
		else if (n >= MAX_LINE)
			die("line too long: ", buf);
		if (!strncmp(buf, "@mtdgate ", 9)) {
			copy(version, sizeof version, buf + 9);
		} else if (!strcmp(buf, "@main") || !strncmp(buf, "@command ", 9)) {
			if (nsections == MAX_SECTIONS)
				die("too many commands", NULL);
			if ((buf[1] == 'm') != (nsections == 0))
				die("@main must come first, once", NULL);
			cur = &sections[nsections++];
			copy(cur->name, sizeof cur->name, buf[1] == 'm' ? "" : buf + 9);
			cur->first = nlines;
		} else if (!strncmp(buf, "@subcommands ", 13) && cur && nsections > 1) {
			copy(cur->subs, sizeof cur->subs, buf + 13);
		} else if (!strncmp(buf, "@option --", 10) && cur && nsections > 1) {
			if (cur->nopt == (int)(sizeof cur->opt / sizeof cur->opt[0]))
				die("too many options of ", cur->name);
			copy(cur->opt[cur->nopt++], sizeof cur->opt[0], buf + 8);
		} else if (buf[0] == '|' && cur) {
			if (nlines == MAX_LINES)
				die("too many lines", NULL);
			copy(lines[nlines++], MAX_LINE, buf + 1);
			cur->n++;
		} else {
			die("not a command dump: ", buf);
		}
	}
	if (nsections < 2)
		die("no commands in the dump (mtdgate --dump-commands | gendoc DIR)", NULL);
}

static FILE *create(const char *dir, const char *name)
{
	char path[4096];
	FILE *f;
	snprintf(path, sizeof path, "%s/%s", dir, name);
	if (!(f = fopen(path, "w")))
		die("cannot write ", path);
	return f;
}

static void finish(FILE *f)
{
	if (ferror(f) | fclose(f))
		die("write error", NULL);
}

/* ---- man pages ---- */

/* Roff-escaped text: backslashes and minus signs; a leading '.' or '\''
 * would be a request. */
static void roff(FILE *f, const char *s)
{
	if (*s == '.' || *s == '\'')
		fputs("\\&", f);
	for (; *s; s++) {
		if (*s == '\\')
			fputs("\\e", f);
		else if (*s == '-')
			fputs("\\-", f);
		else
			fputc(*s, f);
	}
	fputc('\n', f);
}

static int is_usage(const char *l)
{
	return !strncmp(l, "usage: ", 7) || !strncmp(l, "       mtdgate ", 15);
}

/* A synopsis line: a usage line, or a deeper-indented line right after one
 * (the rest of a long usage). */
static int in_synopsis(const section *s, int i)
{
	if (is_usage(lines[i]))
		return 1;
	return i > s->first && !strncmp(lines[i], "        ", 8) && in_synopsis(s, i - 1);
}

/* A synopsis line for .nf: from "mtdgate", or a continuation as indented. */
static const char *synopsis_text(const char *l)
{
	return is_usage(l) ? l + 7 + strspn(l + 7, " ") : l + 7;
}

/* A help text: runs of indented lines stay as they are (.nf), others are
 * filled paragraphs; usage lines are the SYNOPSIS, not repeated. */
static void body(FILE *f, const section *s)
{
	int nf = 0, para = 0;
	for (int i = s->first; i < s->first + s->n; i++) {
		const char *l = lines[i];
		if (in_synopsis(s, i))
			continue;
		if (!*l) {
			if (nf)
				fputs(".fi\n", f);
			nf = para = 0;
			continue;
		}
		if (l[0] == ' ') {
			if (!nf)
				fputs(".nf\n", f);
			nf = 1;
		} else {
			if (nf)
				fputs(".fi\n", f);
			if (!para || nf)
				fputs(".PP\n", f);
			nf = 0;
			para = 1;
		}
		roff(f, l);
	}
	if (nf)
		fputs(".fi\n", f);
}

static void synopsis(FILE *f, const section *s)
{
	fputs(".SH SYNOPSIS\n.nf\n", f);
	for (int i = s->first; i < s->first + s->n; i++)
		if (in_synopsis(s, i))
			roff(f, synopsis_text(lines[i]));
	fputs(".fi\n", f);
}

/* The one-line summaries of a command in main's command list ("  NAME ...
 * <two or more spaces> summary"), joined with "; ". */
static void summary(const char *name, char *out, size_t n)
{
	const section *m = &sections[0];
	size_t len = strlen(name), used = 0;
	out[0] = '\0';
	for (int i = m->first; i < m->first + m->n; i++) {
		const char *l = lines[i], *gap = NULL;
		if (strncmp(l, "  ", 2) || strncmp(l + 2, name, len) || (l[2 + len] && l[2 + len] != ' '))
			continue;
		for (const char *p = l + 2 + len; *p; p++)
			if (p[0] == ' ' && p[1] == ' ' && p[2] && p[2] != ' ')
				gap = p + 2;
		if (gap && used + strlen(gap) + 3 < n)
			used += (size_t)snprintf(out + used, n - used, "%s%s", used ? "; " : "", gap);
	}
	if (!used)
		snprintf(out, n, "the %s command", name);
}

static void header(FILE *f, const char *title)
{
	fprintf(f, ".\\\" Generated by tools/gendoc from 'mtdgate --dump-commands'; edit the\n"
		   ".\\\" help texts in tools/cmd_*.c and tools/mtdgate.c instead.\n"
		   ".TH %s 1 \"\" \"mtdgate %s\" \"mtdgate Manual\"\n",
		title, version);
}

static void man_pages(const char *dir)
{
	char file[128], title[128], sum[1024];
	FILE *f = create(dir, "mtdgate.1");
	header(f, "MTDGATE");
	fputs(".SH NAME\nmtdgate \\- Mobile Threat Defense policy engine\n", f);
	synopsis(f, &sections[0]);
	fputs(".SH DESCRIPTION\n", f);
	body(f, &sections[0]);
	fputs(".SH COMMANDS\n", f);
	for (int c = 1; c < nsections; c++) {
		fputs(".SS ", f);
		roff(f, sections[c].name);
		fputs(".nf\n", f);
		for (int i = sections[c].first; i < sections[c].first + sections[c].n; i++)
			if (in_synopsis(&sections[c], i))
				roff(f, synopsis_text(lines[i]));
		fputs(".fi\n", f);
		body(f, &sections[c]);
	}
	fputs(".SH SEE ALSO\n", f);
	for (int c = 1; c < nsections; c++)
		fprintf(f, ".BR mtdgate\\-%s (1)%s\n", sections[c].name, c + 1 < nsections ? "," : "");
	finish(f);

	for (int c = 1; c < nsections; c++) {
		const char *name = sections[c].name;
		snprintf(file, sizeof file, "mtdgate-%s.1", name);
		snprintf(title, sizeof title, "MTDGATE-%s", name);
		for (char *p = title; *p; p++)
			*p = (char)toupper((unsigned char)*p);
		summary(name, sum, sizeof sum);
		f = create(dir, file);
		header(f, title);
		fputs(".SH NAME\n", f);
		fprintf(f, "mtdgate\\-%s \\- ", name);
		roff(f, sum);
		synopsis(f, &sections[c]);
		fputs(".SH DESCRIPTION\n", f);
		body(f, &sections[c]);
		fputs(".PP\nGlobal options (\\fB\\-\\-db\\fR, \\fB\\-\\-rules\\fR, ...) and the exit "
		      "statuses are in\n.BR mtdgate (1).\n.SH SEE ALSO\n.BR mtdgate (1)\n",
		      f);
		finish(f);
	}
}

/* ---- bash completion ---- */

typedef struct word_list {
	char w[MAX_WORDS][64];
	int n;
} word_list;

static void add_word(word_list *l, const char *w, size_t len)
{
	if (len == 0 || len >= sizeof l->w[0])
		return;
	for (int i = 0; i < l->n; i++)
		if (strlen(l->w[i]) == len && !strncmp(l->w[i], w, len))
			return;
	if (l->n == MAX_WORDS)
		die("too many words", NULL);
	memcpy(l->w[l->n], w, len);
	l->w[l->n++][len] = '\0';
}

static void put_words(FILE *f, const word_list *l, const char *sep)
{
	for (int i = 0; i < l->n; i++)
		fprintf(f, "%s%s", i ? sep : "", l->w[i]);
}

/* An option's value: file, dir, a list of choices (a|b|c), or anything. */
typedef struct optval {
	char opt[64], kind[8], choices[256];
} optval;
static optval vals[MAX_WORDS];
static int nvals;

static void add_value(const char *opt, const char *v)
{
	optval *o;
	for (int i = 0; i < nvals; i++)
		if (!strcmp(vals[i].opt, opt))
			return;
	if (nvals == MAX_WORDS)
		die("too many options", NULL);
	o = &vals[nvals++];
	snprintf(o->opt, sizeof o->opt, "%s", opt);
	if (strchr(v, '|') && islower((unsigned char)v[0])) {
		snprintf(o->kind, sizeof o->kind, "choice");
		snprintf(o->choices, sizeof o->choices, "%s", v);
		for (char *p = o->choices; *p; p++)
			if (*p == '|')
				*p = ' ';
	} else {
		snprintf(o->kind, sizeof o->kind, "%s",
			 !strcmp(v, "FILE") ? "file" : !strcmp(v, "DIR") ? "dir" : "any");
	}
}

/* A token with its brackets taken off. */
static size_t token(const char *s, const char **start)
{
	size_t n;
	s += strspn(s, " [");
	n = strcspn(s, " ");
	*start = s;
	while (n && (s[n - 1] == ']'))
		n--;
	return n;
}

/* An option's value in a synopsis: a placeholder (FILE, DIR, ID) or choices
 * (a|b). "FILE|-" after a flag is a positional argument. */
static int is_value(const char *t, size_t n)
{
	int upper = 1, bar = 0, lower = n && islower((unsigned char)t[0]);
	if (!n)
		return 0;
	for (size_t i = 0; i < n; i++) {
		bar |= t[i] == '|';
		upper &= isupper((unsigned char)t[i]) || t[i] == '_';
		lower &= islower((unsigned char)t[i]) || t[i] == '_' || t[i] == '|';
	}
	return upper || (bar && lower);
}

/* Options of a synopsis line ("--opt", "--opt VALUE", "[--opt a|b]") from
 * position s on; value-taking ones are noted in vals[]. */
static void scan_options(const char *s, word_list *opts)
{
	const char *t, *v;
	size_t n, vn;
	while (*s) {
		n = token(s, &t);
		s = t + strcspn(t, " ");
		if (n > 2 && t[0] == '-' && t[1] == '-' && isalpha((unsigned char)t[2])) {
			/* "--json|--native": either one */
			for (size_t k = 0, m; k < n; k += m + 1) {
				m = strcspn(t + k, "|");
				if (m > n - k)
					m = n - k;
				add_word(opts, t + k, m);
			}
			if (t[n] != ']' && (vn = token(s, &v)) && is_value(v, vn)) {
				char o[64], val[256];
				snprintf(o, sizeof o, "%.*s", (int)n, t);
				snprintf(val, sizeof val, "%.*s", (int)vn, v);
				add_value(o, val);
			}
		}
	}
}

/* Subcommands and options of command c: its usage lines and its lines in
 * main's command list. */
static void command_words(int c, word_list *subs, word_list *opts)
{
	int names_commands = 0;
	const char *name = sections[c].name;
	size_t len = strlen(name);
	for (int i = 0; i < nlines; i++) {
		const char *l = lines[i], *rest = NULL;
		int mine = i >= sections[c].first && i < sections[c].first + sections[c].n;
		if (mine && is_usage(l))
			rest = synopsis_text(l) + strlen("mtdgate ");
		else if (mine && in_synopsis(&sections[c], i))
			rest = NULL; /* a continuation: options only */
		else if (i >= sections[0].first && i < sections[0].first + sections[0].n &&
			 !strncmp(l, "  ", 2) && isalpha((unsigned char)l[2]))
			rest = l + 2;
		else
			continue;
		if (!rest) {
			scan_options(l, opts);
			continue;
		}
		if (strncmp(rest, name, len) || (rest[len] && rest[len] != ' '))
			continue;
		rest += len + strspn(rest + len, " ");
		{
			size_t n = strcspn(rest, " ");
			int literal = n > 0;
			for (size_t k = 0; k < n; k++)
				literal &= islower((unsigned char)rest[k]) || rest[k] == '-';
			if (literal && rest[0] != '-')
				add_word(subs, rest, n);
			/* "help [COMMAND]": the commands are its words */
			names_commands |= !strncmp(rest, "COMMAND", 7) || !strncmp(rest, "[COMMAND]", 9);
		}
		/* the summary of main's list is prose, not options */
		{
			char line[MAX_LINE];
			const char *gap = strstr(rest, "  ");
			size_t n = gap ? (size_t)(gap - rest) : strlen(rest);
			snprintf(line, sizeof line, "%.*s", (int)n, rest);
			scan_options(line, opts);
		}
	}
	if (names_commands)
		for (int k = 1; k < nsections; k++)
			add_word(subs, sections[k].name, strlen(sections[k].name));
	/* the command's own table: its subcommands and options */
	for (const char *p = sections[c].subs; *p;) {
		size_t n = strcspn(p, " ");
		add_word(subs, p, n);
		p += n + (p[n] == ' ');
	}
	for (int k = 0; k < sections[c].nopt; k++) {
		const char *o = sections[c].opt[k], *v = strchr(o, ' ');
		char oname[64];
		if (!v || (size_t)(v - o) >= sizeof oname)
			die("bad @option line: ", o);
		snprintf(oname, sizeof oname, "%.*s", (int)(v - o), o);
		add_word(opts, oname, strlen(oname));
		if (strcmp(v + 1, "-"))
			add_value(oname, v + 1);
	}
}

static void completion(const char *dir)
{
	word_list globals = {0}, cmds = {0}, value_opts = {0};
	static word_list subs[MAX_SECTIONS], opts[MAX_SECTIONS];
	const section *m = &sections[0];
	int in_globals = 0;
	FILE *f;

	/* Global options: the indented lines under "Global options". */
	for (int i = m->first; i < m->first + m->n; i++) {
		const char *l = lines[i];
		if (!strncmp(l, "Global options", 14)) {
			in_globals = 1;
			continue;
		}
		if (!*l)
			in_globals = 0;
		if (in_globals && !strncmp(l, "  -", 3)) {
			char line[MAX_LINE];
			const char *gap = strstr(l + 2, "  ");
			size_t n = gap ? (size_t)(gap - l) : strlen(l);
			if (!strncmp(l, "  -h, ", 6))
				add_word(&globals, "-h", 2);
			snprintf(line, sizeof line, "%.*s", (int)n, l);
			scan_options(line, &globals);
		}
	}
	if (!globals.n)
		die("no global options found in the main help", NULL);
	for (int c = 1; c < nsections; c++) {
		add_word(&cmds, sections[c].name, strlen(sections[c].name));
		command_words(c, &subs[c], &opts[c]);
	}
	for (int i = 0; i < nvals; i++)
		add_word(&value_opts, vals[i].opt, strlen(vals[i].opt));

	f = create(dir, "mtdgate.bash");
	fputs("# bash completion for mtdgate. Generated by tools/gendoc from\n"
	      "# 'mtdgate --dump-commands'; edit the help texts in tools/cmd_*.c instead.\n"
	      "_mtdgate()\n{\n"
	      "\tlocal cur=${COMP_WORDS[COMP_CWORD]} prev=${COMP_WORDS[COMP_CWORD-1]}\n"
	      "\tlocal i w cmd= sub= opts= subs=\n\tlocal globals='",
	      f);
	put_words(f, &globals, " ");
	fputs("'\n\tcase $prev in\n", f);
	for (int i = 0; i < nvals; i++) {
		fprintf(f, "\t%s)\n\t\t", vals[i].opt);
		if (!strcmp(vals[i].kind, "file"))
			fputs("COMPREPLY=($(compgen -f -- \"$cur\"))", f);
		else if (!strcmp(vals[i].kind, "dir"))
			fputs("COMPREPLY=($(compgen -d -- \"$cur\"))", f);
		else if (!strcmp(vals[i].kind, "choice"))
			fprintf(f, "COMPREPLY=($(compgen -W '%s' -- \"$cur\"))", vals[i].choices);
		else
			fputs("COMPREPLY=()", f);
		fputs("\n\t\treturn ;;\n", f);
	}
	fputs("\tesac\n\tfor ((i = 1; i < COMP_CWORD; i++)); do\n\t\tw=${COMP_WORDS[i]}\n"
	      "\t\tcase $w in\n\t\t",
	      f);
	put_words(f, &value_opts, "|");
	fputs(") ((i++)) ;;\n\t\t-*) ;;\n"
	      "\t\t*) if [[ -z $cmd ]]; then cmd=$w; elif [[ -z $sub ]]; then sub=$w; fi ;;\n"
	      "\t\tesac\n\tdone\n\tcase $cmd in\n\t'')\n\t\tif [[ $cur == -* ]]; then\n"
	      "\t\t\tCOMPREPLY=($(compgen -W \"$globals\" -- \"$cur\"))\n\t\telse\n"
	      "\t\t\tCOMPREPLY=($(compgen -W '",
	      f);
	put_words(f, &cmds, " ");
	fputs("' -- \"$cur\"))\n\t\tfi\n\t\treturn ;;\n", f);
	for (int c = 1; c < nsections; c++) {
		fprintf(f, "\t%s) subs='", sections[c].name);
		put_words(f, &subs[c], " ");
		fputs("' opts='", f);
		put_words(f, &opts[c], " ");
		fputs("' ;;\n", f);
	}
	fputs("\t*) return ;;\n\tesac\n"
	      "\tif [[ $cur == -* ]]; then\n"
	      "\t\tCOMPREPLY=($(compgen -W \"$opts $globals\" -- \"$cur\"))\n"
	      "\telif [[ -n $subs && -z $sub ]]; then\n"
	      "\t\tCOMPREPLY=($(compgen -W \"$subs\" -- \"$cur\"))\n"
	      "\telse\n\t\tCOMPREPLY=($(compgen -f -- \"$cur\"))\n\tfi\n}\n"
	      "complete -o filenames -F _mtdgate mtdgate\n",
	      f);
	finish(f);
}

int main(int argc, char **argv)
{
	if (argc != 2) {
		fputs("usage: mtdgate --dump-commands | gendoc OUTDIR\n", stderr);
		return 64;
	}
	read_dump();
	man_pages(argv[1]);
	completion(argv[1]);
	return 0;
}
