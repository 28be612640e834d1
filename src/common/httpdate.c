#include "config.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "httpdate.h"

static const char httpdate_days[7][4] = {
	"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"
};
static const char httpdate_months[12][4] = {
	"Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct",
	"Nov", "Dec"
};

void
httpdate_format(time_t t, char *buf)
{
	struct tm	tm;
	char		tmp[64];

	gmtime_r(&t, &tm);
	snprintf(tmp, sizeof(tmp), "%s, %02d %s %04d %02d:%02d:%02d GMT",
	    httpdate_days[tm.tm_wday], tm.tm_mday,
	    httpdate_months[tm.tm_mon], tm.tm_year + 1900, tm.tm_hour,
	    tm.tm_min, tm.tm_sec);
	memcpy(buf, tmp, HTTPDATE_LEN);
	buf[HTTPDATE_LEN] = '\0';
}

static int
httpdate_num(const char *s, int n, int *v)
{
	int	i;

	*v = 0;
	for (i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		*v = *v * 10 + (s[i] - '0');
	}
	return 0;
}

static int
httpdate_month(const char *s)
{
	int	i;

	for (i = 0; i < 12; i++)
		if (memcmp(s, httpdate_months[i], 3) == 0)
			return i;
	return -1;
}

/* Days from 1970-01-01 to y-m-d (proleptic Gregorian). */
static int64_t
httpdate_days_from_civil(int y, int m, int d)
{
	int64_t	era, yoe, doy, doe;

	y -= m <= 2;
	era = (y >= 0 ? y : y - 399) / 400;
	yoe = y - era * 400;
	doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
	doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + doe - 719468;
}

static int64_t
httpdate_make(int y, int mon, int d, int hh, int mm, int ss)
{
	if (mon < 0 || d < 1 || d > 31 || hh > 23 || mm > 59 || ss > 60)
		return -1;
	return httpdate_days_from_civil(y, mon + 1, d) * 86400 + hh * 3600 +
	    mm * 60 + ss;
}

static int
httpdate_clock(const char *s, int *hh, int *mm, int *ss)
{
	if (s[2] != ':' || s[5] != ':' || httpdate_num(s, 2, hh) == -1 ||
	    httpdate_num(s + 3, 2, mm) == -1 || httpdate_num(s + 6, 2, ss) == -1)
		return -1;
	return 0;
}

int64_t
httpdate_parse(const char *s, size_t len)
{
	const char	*c;
	int		 d, y, hh, mm, ss, mon;

	/* IMF-fixdate: "Sun, 06 Nov 1994 08:49:37 GMT" */
	if (len == 29 && s[3] == ',' && s[4] == ' ' && s[7] == ' ' &&
	    s[11] == ' ' && s[16] == ' ' && memcmp(s + 25, " GMT", 4) == 0) {
		if (httpdate_num(s + 5, 2, &d) == -1 ||
		    (mon = httpdate_month(s + 8)) == -1 ||
		    httpdate_num(s + 12, 4, &y) == -1 ||
		    httpdate_clock(s + 17, &hh, &mm, &ss) == -1)
			return -1;
		return httpdate_make(y, mon, d, hh, mm, ss);
	}
	/* asctime: "Sun Nov  6 08:49:37 1994" */
	if (len == 24 && s[3] == ' ' && s[7] == ' ' && s[10] == ' ' &&
	    s[19] == ' ') {
		if ((mon = httpdate_month(s + 4)) == -1 ||
		    httpdate_num(s + 8 + (s[8] == ' '), 2 - (s[8] == ' '),
		    &d) == -1 || httpdate_clock(s + 11, &hh, &mm, &ss) == -1 ||
		    httpdate_num(s + 20, 4, &y) == -1)
			return -1;
		return httpdate_make(y, mon, d, hh, mm, ss);
	}
	/* RFC 850: "Sunday, 06-Nov-94 08:49:37 GMT" */
	if ((c = memchr(s, ',', len)) != NULL && len - (c - s) == 24 &&
	    c[1] == ' ' && c[4] == '-' && c[8] == '-' && c[11] == ' ' &&
	    memcmp(c + 20, " GMT", 4) == 0) {
		if (httpdate_num(c + 2, 2, &d) == -1 ||
		    (mon = httpdate_month(c + 5)) == -1 ||
		    httpdate_num(c + 9, 2, &y) == -1 ||
		    httpdate_clock(c + 12, &hh, &mm, &ss) == -1)
			return -1;
		/* RFC 9110 5.6.7: more than 50 years ahead is the past. */
		y += y < 70 ? 2000 : 1900;
		return httpdate_make(y, mon, d, hh, mm, ss);
	}
	return -1;
}
