/*
 * HTTP-date parsing and formatting (httpdate.h).  Dates are turned into
 * seconds with the civil calendar's arithmetic rather than timegm(), so
 * the result depends on nothing but the bytes.
 */
#include "config.h"

#include <stdint.h>
#include <string.h>
#include <time.h>

#include "httpdate.h"

static const char *const httpdate_wday[7] = {
	"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"
};
static const char *const httpdate_wday_long[7] = {
	"Sunday", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday",
	"Saturday"
};
static const char *const httpdate_month[12] = {
	"Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct",
	"Nov", "Dec"
};

/* The fields of a date as read, before they are checked. */
struct httpdate_tm {
	int64_t	year;
	int	mon;		/* 1-12 */
	int	mday;
	int	hour;
	int	min;
	int	sec;
};

/* Days from 1970-01-01 to y-m-d, proleptic Gregorian (m 1-12). */
static int64_t
httpdate_days(int64_t y, int m, int d)
{
	int64_t	era, yoe, doy, doe;

	y -= m <= 2;
	era = (y >= 0 ? y : y - 399) / 400;
	yoe = y - era * 400;
	doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
	doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + doe - 719468;
}

static int
httpdate_leap(int64_t y)
{
	return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

/* n decimal digits at s, or -1. */
static int
httpdate_digits(const char *s, int n)
{
	int	v = 0;

	while (n-- > 0) {
		if (*s < '0' || *s > '9')
			return -1;
		v = v * 10 + (*s++ - '0');
	}
	return v;
}

/* The month whose three-letter name is at s (case as written), 1-12, or
 * -1. */
static int
httpdate_mon(const char *s)
{
	int	i;

	for (i = 0; i < 12; i++)
		if (memcmp(s, httpdate_month[i], 3) == 0)
			return i + 1;
	return -1;
}

static int
httpdate_is_wday(const char *s, size_t len, const char *const names[7])
{
	int	i;

	for (i = 0; i < 7; i++)
		if (strlen(names[i]) == len && memcmp(s, names[i], len) == 0)
			return 1;
	return 0;
}

/* "08:49:37" at s into tm. */
static int
httpdate_time(const char *s, struct httpdate_tm *tm)
{
	if (s[2] != ':' || s[5] != ':')
		return -1;
	tm->hour = httpdate_digits(s, 2);
	tm->min = httpdate_digits(s + 3, 2);
	tm->sec = httpdate_digits(s + 6, 2);
	return tm->hour < 0 || tm->min < 0 || tm->sec < 0 ? -1 : 0;
}

/* "Sun, 06 Nov 1994 08:49:37 GMT", exactly. */
static int
httpdate_imf(const char *s, size_t len, struct httpdate_tm *tm)
{
	int	year;

	if (len != HTTPDATE_LEN || !httpdate_is_wday(s, 3, httpdate_wday) ||
	    s[3] != ',' || s[4] != ' ' || s[7] != ' ' || s[11] != ' ' ||
	    s[16] != ' ' || s[25] != ' ' || memcmp(s + 26, "GMT", 3) != 0)
		return -1;
	tm->mday = httpdate_digits(s + 5, 2);
	tm->mon = httpdate_mon(s + 8);
	year = httpdate_digits(s + 12, 4);
	tm->year = year;
	return year < 0 || httpdate_time(s + 17, tm) == -1 ? -1 : 0;
}

/* "Sunday, 06-Nov-94 08:49:37 GMT". */
static int
httpdate_rfc850(const char *s, size_t len, struct httpdate_tm *tm)
{
	const char	*comma;
	struct tm	 now;
	time_t		 t;
	int		 yy;
	size_t		 n;

	if ((comma = memchr(s, ',', len)) == NULL)
		return -1;
	n = comma - s;
	if (!httpdate_is_wday(s, n, httpdate_wday_long) ||
	    len - n != 24)
		return -1;
	s = comma;
	/* ", 06-Nov-94 08:49:37 GMT" */
	if (s[1] != ' ' || s[4] != '-' || s[8] != '-' || s[11] != ' ' ||
	    s[20] != ' ' || memcmp(s + 21, "GMT", 3) != 0)
		return -1;
	tm->mday = httpdate_digits(s + 2, 2);
	tm->mon = httpdate_mon(s + 5);
	if ((yy = httpdate_digits(s + 9, 2)) < 0 ||
	    httpdate_time(s + 12, tm) == -1)
		return -1;
	/* RFC 9110: more than 50 years ahead means the century before. */
	t = time(NULL);
	if (gmtime_r(&t, &now) == NULL)
		return -1;
	tm->year = (now.tm_year + 1900) / 100 * 100 + yy;
	if (tm->year > now.tm_year + 1900 + 50)
		tm->year -= 100;
	return 0;
}

/* "Sun Nov  6 08:49:37 1994". */
static int
httpdate_asctime(const char *s, size_t len, struct httpdate_tm *tm)
{
	int	year;

	if (len != 24 || !httpdate_is_wday(s, 3, httpdate_wday) ||
	    s[3] != ' ' || s[7] != ' ' || s[10] != ' ' || s[19] != ' ')
		return -1;
	tm->mon = httpdate_mon(s + 4);
	tm->mday = s[8] == ' ' ? httpdate_digits(s + 9, 1) :
	    httpdate_digits(s + 8, 2);
	year = httpdate_digits(s + 20, 4);
	tm->year = year;
	return year < 0 || httpdate_time(s + 11, tm) == -1 ? -1 : 0;
}

int
httpdate_parse(const char *s, size_t len, time_t *t)
{
	static const int	 mdays[12] = {
		31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31
	};
	struct httpdate_tm	 tm;
	int			 rv, dim;

	while (len > 0 && (*s == ' ' || *s == '\t')) {
		s++;
		len--;
	}
	while (len > 0 && (s[len - 1] == ' ' || s[len - 1] == '\t'))
		len--;
	if (len < 4)
		return -1;
	memset(&tm, 0, sizeof(tm));
	if (s[3] == ',')
		rv = httpdate_imf(s, len, &tm);
	else if (s[3] == ' ')
		rv = httpdate_asctime(s, len, &tm);
	else
		rv = httpdate_rfc850(s, len, &tm);
	if (rv == -1 || tm.mon < 1 || tm.mday < 1)
		return -1;
	dim = mdays[tm.mon - 1] + (tm.mon == 2 && httpdate_leap(tm.year));
	/* A leap second (60) is allowed: it is the next minute's first. */
	if (tm.mday > dim || tm.hour > 23 || tm.min > 59 || tm.sec > 60)
		return -1;
	*t = (time_t)(httpdate_days(tm.year, tm.mon, tm.mday) * 86400 +
	    tm.hour * 3600 + tm.min * 60 + tm.sec);
	return 0;
}

/* v (< 10^n) as n digits at p. */
static void
httpdate_put(char *p, int v, int n)
{
	while (n-- > 0) {
		p[n] = '0' + v % 10;
		v /= 10;
	}
}

char *
httpdate_format(char *buf, time_t t)
{
	struct tm	tm;

	if (gmtime_r(&t, &tm) == NULL || tm.tm_year + 1900 > 9999 ||
	    tm.tm_year + 1900 < 0) {
		t = 0;
		gmtime_r(&t, &tm);
	}
	/* "Sun, 06 Nov 1994 08:49:37 GMT" */
	memcpy(buf, httpdate_wday[tm.tm_wday % 7], 3);
	memcpy(buf + 3, ", ", 2);
	httpdate_put(buf + 5, tm.tm_mday, 2);
	buf[7] = ' ';
	memcpy(buf + 8, httpdate_month[tm.tm_mon % 12], 3);
	buf[11] = ' ';
	httpdate_put(buf + 12, tm.tm_year + 1900, 4);
	buf[16] = ' ';
	httpdate_put(buf + 17, tm.tm_hour, 2);
	buf[19] = ':';
	httpdate_put(buf + 20, tm.tm_min, 2);
	buf[22] = ':';
	httpdate_put(buf + 23, tm.tm_sec, 2);
	memcpy(buf + 25, " GMT", 5);
	return buf;
}
