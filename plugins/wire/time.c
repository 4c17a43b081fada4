/* Time parsing and formatting shared by the host and plugins. */
#include <stdio.h>
#include <string.h>

#include "mtdgate/wire.h"

/* Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's
 * algorithm); valid for every year we accept. */
static int64_t days_from_civil(int64_t y, int m, int d)
{
	y -= m <= 2;
	int64_t era = (y >= 0 ? y : y - 399) / 400;
	int64_t yoe = y - era * 400;
	int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
	int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + doe - 719468;
}

static int is_leap(int64_t y)
{
	return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

static int mdays(int64_t y, int m)
{
	static const int d[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
	return m == 2 && is_leap(y) ? 29 : d[m - 1];
}

/* Read exactly n digits at *p (bounded by end). */
static int digits(const char **p, const char *end, int n, int *out)
{
	int v = 0;
	for (int i = 0; i < n; i++) {
		if (*p >= end || (**p < '0' || **p > '9'))
			return -1;
		v = v * 10 + (**p - '0');
		(*p)++;
	}
	*out = v;
	return 0;
}

static int expect(const char **p, const char *end, char c)
{
	if (*p >= end || **p != c)
		return -1;
	(*p)++;
	return 0;
}

static int finish(int y, int mo, int d, int h, int mi, int s, int64_t off,
		  int64_t *out)
{
	if (y < 1970 || y > 9999 || mo < 1 || mo > 12 || d < 1 ||
	    d > mdays(y, mo) || h > 23 || mi > 59 || s > 60)
		return -1;
	if (s == 60)
		s = 59; /* leap second: clamp rather than refuse */
	*out = days_from_civil(y, mo, d) * 86400 + h * 3600 + mi * 60 + s - off;
	return 0;
}

/* Optional fraction, then an optional zone: Z, +hh:mm, +hhmm, " +0000", " UTC". */
static int zone(const char **p, const char *end, int64_t *off, int required)
{
	*off = 0;
	if (*p < end && **p == '.') {
		(*p)++;
		int n = 0;
		while (*p < end && **p >= '0' && **p <= '9' && n < 18) {
			(*p)++;
			n++;
		}
		if (n == 0)
			return -1;
	}
	if (*p < end && **p == ' ')
		(*p)++;
	if (*p == end)
		return required ? -1 : 0;
	if (**p == 'Z' || **p == 'z') {
		(*p)++;
		return 0;
	}
	if (end - *p >= 3 && memcmp(*p, "UTC", 3) == 0) {
		*p += 3;
		return 0;
	}
	if (**p == '+' || **p == '-') {
		int sign = **p == '-' ? -1 : 1, hh, mm;
		(*p)++;
		if (digits(p, end, 2, &hh))
			return -1;
		if (*p < end && **p == ':')
			(*p)++;
		if (digits(p, end, 2, &mm) || hh > 23 || mm > 59)
			return -1;
		*off = sign * (int64_t)(hh * 3600 + mm * 60);
		return 0;
	}
	return -1;
}

int mtd_time_parse(const char *s, size_t n, int64_t *out)
{
	const char *p = s, *end = s + n;
	int y, mo, d, h, mi, sec;
	int64_t off;

	if (!s || n == 0 || n > 64)
		return -1;
	/* Unix seconds as a decimal integer. */
	if (*p >= '0' && *p <= '9') {
		size_t i = 0;
		int64_t v = 0;
		while (i < n && s[i] >= '0' && s[i] <= '9' && i < 12)
			v = v * 10 + (s[i++] - '0');
		if (i == n) {
			*out = v;
			return 0;
		}
	}
	/* MM/DD/YYYY hh:mm:ss (Check Point), taken as UTC. */
	if (n >= 19 && s[2] == '/' && s[5] == '/') {
		if (digits(&p, end, 2, &mo) || expect(&p, end, '/') ||
		    digits(&p, end, 2, &d) || expect(&p, end, '/') ||
		    digits(&p, end, 4, &y) || expect(&p, end, ' ') ||
		    digits(&p, end, 2, &h) || expect(&p, end, ':') ||
		    digits(&p, end, 2, &mi) || expect(&p, end, ':') ||
		    digits(&p, end, 2, &sec) || zone(&p, end, &off, 0) || p != end)
			return -1;
		return finish(y, mo, d, h, mi, sec, off, out);
	}
	if (digits(&p, end, 4, &y) || expect(&p, end, '-') ||
	    digits(&p, end, 2, &mo) || expect(&p, end, '-') ||
	    digits(&p, end, 2, &d))
		return -1;
	if (p == end)
		return finish(y, mo, d, 0, 0, 0, 0, out);
	if (*p != 'T' && *p != 't' && *p != ' ')
		return -1;
	p++;
	if (digits(&p, end, 2, &h) || expect(&p, end, ':') ||
	    digits(&p, end, 2, &mi) || expect(&p, end, ':') ||
	    digits(&p, end, 2, &sec) || zone(&p, end, &off, 0) || p != end)
		return -1;
	return finish(y, mo, d, h, mi, sec, off, out);
}

char *mtd_time_format(int64_t t, char *buf, size_t n)
{
	int64_t days = t >= 0 ? t / 86400 : (t - 86399) / 86400;
	int64_t rem = t - days * 86400;
	/* civil_from_days */
	int64_t z = days + 719468;
	int64_t era = (z >= 0 ? z : z - 146096) / 146097;
	int64_t doe = z - era * 146097;
	int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	int64_t y = yoe + era * 400;
	int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	int64_t mp = (5 * doy + 2) / 153;
	int64_t d = doy - (153 * mp + 2) / 5 + 1;
	int64_t m = mp < 10 ? mp + 3 : mp - 9;
	y += m <= 2;
	snprintf(buf, n, "%04lld-%02lld-%02lldT%02lld:%02lld:%02lldZ", (long long)y,
		 (long long)m, (long long)d, (long long)(rem / 3600),
		 (long long)(rem % 3600 / 60), (long long)(rem % 60));
	return buf;
}
