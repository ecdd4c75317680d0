/* when.c - the ISO-8601 instants of BRANCH@WHEN (see history.h). */
#include <errno.h>
#include <stddef.h>
#include <time.h>

#include "history.h"
#include "banned.h"

/* N digits at S as a number, or -1. */
static int num(const char *s, int n)
{
	int v = 0;

	for (int i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		v = v * 10 + (s[i] - '0');
	}
	return v;
}

int idx_parse_when(const char *s, size_t len, int64_t *out)
{
	struct tm tm = { 0 };
	const char *p = s, *end = s + len;
	int off = 0, year;

	/* YYYY-MM-DD, then optionally THH:MM, then optionally :SS[.fff] */
	if (len < 10 || s[4] != '-' || s[7] != '-')
		return -EINVAL;
	year = num(s, 4);
	tm.tm_year = year - 1900;
	tm.tm_mon = num(s + 5, 2) - 1;
	tm.tm_mday = num(s + 8, 2);
	if (year < 0 || tm.tm_mon < 0 || tm.tm_mon > 11 || tm.tm_mday < 1 ||
	    tm.tm_mday > 31)
		return -EINVAL;
	p += 10;
	if (p < end && (*p == 'T' || *p == 't' || *p == ' ')) {
		if (end - p < 6 || p[3] != ':')
			return -EINVAL;
		tm.tm_hour = num(p + 1, 2);
		tm.tm_min = num(p + 4, 2);
		if (tm.tm_hour < 0 || tm.tm_hour > 23 || tm.tm_min < 0 ||
		    tm.tm_min > 59)
			return -EINVAL;
		p += 6;
		if (p < end && *p == ':') {
			if (end - p < 3 || (tm.tm_sec = num(p + 1, 2)) < 0 ||
			    tm.tm_sec > 60)
				return -EINVAL;
			p += 3;
			if (p < end && *p == '.') /* fractions: <= WHEN still */
				for (p++; p < end && *p >= '0' && *p <= '9';
				     p++)
					;
		}
	}
	if (p < end && (*p == 'Z' || *p == 'z')) {
		p++;
	} else if (p < end && (*p == '+' || *p == '-')) {
		int sign = *p == '-' ? -1 : 1, h, m = 0;

		if (end - p < 3 || (h = num(p + 1, 2)) < 0 || h > 23)
			return -EINVAL;
		p += 3;
		if (p < end && *p == ':')
			p++;
		if (end - p >= 2 && (m = num(p, 2)) >= 0 && m <= 59)
			p += 2;
		else if (p < end)
			return -EINVAL;
		off = sign * (h * 3600 + m * 60);
	}
	if (p != end)
		return -EINVAL;
	*out = (int64_t)timegm(&tm) - off;
	return 0;
}

void idx_format_when(char out[IDX_WHEN_SZ], int64_t when)
{
	time_t t = (time_t)when;
	struct tm tm;

	gmtime_r(&t, &tm);
	strftime(out, IDX_WHEN_SZ, "%Y-%m-%dT%H:%M:%SZ", &tm);
}
