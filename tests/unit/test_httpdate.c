/*
 * HTTP-date (src/common/httpdate.c): the three forms RFC 9110 makes
 * recipients read, each field's range and the calendar (leap years,
 * month lengths), the separators, and what surrounds a date; then
 * formatting, and that parse and format agree with each other and with
 * the C library's timegm()/gmtime_r() over centuries of dates.
 */
#include "config.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <check.h>

#include "fixtures.h"
#include "httpdate.h"

struct date_case {
	const char	*text;
	int		 ok;
	time_t		 t;		/* when ok */
};

/* 784111777 is RFC 9110's example, Sun, 06 Nov 1994 08:49:37 GMT. */
static const struct date_case date_cases[] = {
	{ "Sun, 06 Nov 1994 08:49:37 GMT", 1, 784111777 },
	{ "Sunday, 06-Nov-94 08:49:37 GMT", 1, 784111777 },
	{ "Sun Nov  6 08:49:37 1994", 1, 784111777 },
	{ "Sun Nov 16 08:49:37 1994", 1, 784111777 + 10 * 86400 },
	{ " \tSun, 06 Nov 1994 08:49:37 GMT\t ", 1, 784111777 },
	/* The day name is one, not necessarily the right one. */
	{ "Mon, 06 Nov 1994 08:49:37 GMT", 1, 784111777 },
	{ "Thu, 01 Jan 1970 00:00:00 GMT", 1, 0 },
	{ "Wed, 31 Dec 1969 23:59:59 GMT", 1, -1 },
	{ "Fri, 31 Dec 9999 23:59:59 GMT", 1, 253402300799 },
	{ "Tue, 29 Feb 2000 12:00:00 GMT", 1, 951825600 },
	{ "Thu, 29 Feb 2024 00:00:00 GMT", 1, 1709164800 },
	{ "Sat, 31 Dec 2016 23:59:60 GMT", 1, 1483228800 },
	{ "Sun, 31 Dec 2000 23:59:59 GMT", 1, 978307199 },

	{ "", 0, 0 },
	{ "   ", 0, 0 },
	{ "Sun", 0, 0 },
	{ "Sun, 06 Nov 1994 08:49:37", 0, 0 },
	{ "Sun, 06 Nov 1994 08:49:37 UTC", 0, 0 },
	{ "Sun, 06 Nov 1994 08:49:37 gmt", 0, 0 },
	{ "Sun, 06 Nov 1994 08:49:37 GMTx", 0, 0 },
	{ "Sun, 6 Nov 1994 08:49:37 GMT", 0, 0 },
	{ "Sun, 06 nov 1994 08:49:37 GMT", 0, 0 },
	{ "Sun, 06 Nox 1994 08:49:37 GMT", 0, 0 },
	{ "sun, 06 Nov 1994 08:49:37 GMT", 0, 0 },
	{ "Xyz, 06 Nov 1994 08:49:37 GMT", 0, 0 },
	{ "Sun,06 Nov 1994 08:49:37 GMT ", 0, 0 },
	{ "Sun, 06 Nov 94 08:49:37 GMT", 0, 0 },
	{ "Sun, 06 Nov 1994 8:49:37 GMT", 0, 0 },
	{ "Sun, 06 Nov 1994 08-49-37 GMT", 0, 0 },
	{ "Sun, 06 Nov 1994 08:49:3x GMT", 0, 0 },
	{ "Sun, 06 Nov 1994 24:00:00 GMT", 0, 0 },
	{ "Sun, 06 Nov 1994 23:60:00 GMT", 0, 0 },
	{ "Sun, 06 Nov 1994 23:59:61 GMT", 0, 0 },
	{ "Sun, 00 Nov 1994 08:49:37 GMT", 0, 0 },
	{ "Sun, 31 Nov 1994 08:49:37 GMT", 0, 0 },
	{ "Sun, 32 Jan 1994 08:49:37 GMT", 0, 0 },
	{ "Sun, 29 Feb 1900 08:49:37 GMT", 0, 0 },
	{ "Sun, 29 Feb 2023 08:49:37 GMT", 0, 0 },
	{ "Sun, 30 Feb 2024 08:49:37 GMT", 0, 0 },
	{ "Sun, 06 Nov -994 08:49:37 GMT", 0, 0 },
	{ "Sun, 06 Nov 1994 08:49:37 GMT, x", 0, 0 },
	{ "Sun, 06 Nov 1994\r08:49:37 GMT", 0, 0 },

	{ "Sun, 06-Nov-94 08:49:37 GMT", 0, 0 },
	{ "Sunday, 06 Nov 1994 08:49:37 GMT", 0, 0 },
	{ "Sunday, 06-Nov-1994 08:49:37 GMT", 0, 0 },
	{ "Sunday, 6-Nov-94 08:49:37 GMT", 0, 0 },
	{ "Sunnyday, 06-Nov-94 08:49:37 GMT", 0, 0 },
	{ "Sunday, 06-Nov-94 08:49:37 UTC", 0, 0 },
	{ "Sunday, 31-Apr-94 08:49:37 GMT", 0, 0 },
	{ "Sunday,", 0, 0 },

	{ "Sun Nov 6 08:49:37 1994", 0, 0 },
	{ "Sun Nov 06 08:49:37 1994", 1, 784111777 },
	{ "Sun Nov  6 08:49:37 94", 0, 0 },
	{ "Sun Nov  6 08:49:37 1994 GMT", 0, 0 },
	{ "Sun Nov  0 08:49:37 1994", 0, 0 },
	{ "Sunday Nov  6 08:49:37 1994", 0, 0 },
};

START_TEST(test_httpdate_table)
{
	const struct date_case	*c = &date_cases[_i];
	size_t			 len = strlen(c->text);
	char			*buf;
	time_t			 t = 12345;
	int			 rv;

	/* An exact-size copy: a read past the date is ASan's to see. */
	buf = malloc(len ? len : 1);
	ck_assert_ptr_nonnull(buf);
	memcpy(buf, c->text, len);
	rv = httpdate_parse(buf, len, &t);
	if (c->ok) {
		ck_assert_msg(rv == 0, "case %d \"%s\" refused", _i, c->text);
		ck_assert_msg(t == c->t, "case %d \"%s\": %lld, expected %lld",
		    _i, c->text, (long long)t, (long long)c->t);
	} else {
		ck_assert_msg(rv == -1, "case %d \"%s\" taken as %lld", _i,
		    c->text, (long long)t);
		ck_assert_msg(t == 12345, "case %d: t written on failure", _i);
	}
	free(buf);
}
END_TEST

/* Only len bytes count: what follows them is not part of the date. */
START_TEST(test_httpdate_len)
{
	const char	*s = "Sun, 06 Nov 1994 08:49:37 GMT";
	time_t		 t;

	ck_assert_int_eq(httpdate_parse("Sun, 06 Nov 1994 08:49:37 GMTxyz",
	    HTTPDATE_LEN, &t), 0);
	ck_assert_int_eq(t, 784111777);
	ck_assert_int_eq(httpdate_parse(s, HTTPDATE_LEN - 1, &t), -1);
}
END_TEST

/* RFC 850's two-digit years: more than 50 years ahead is the century
 * before.  (Written for a clock between 1980 and 2044.) */
START_TEST(test_httpdate_rfc850_century)
{
	time_t	t;

	ck_assert_int_eq(httpdate_parse("Sunday, 06-Nov-94 08:49:37 GMT", 30,
	    &t), 0);
	ck_assert_int_eq(t, 784111777);
	ck_assert_int_eq(httpdate_parse("Friday, 01-Jan-30 00:00:00 GMT", 30,
	    &t), 0);
	ck_assert_int_eq(t, 1893456000);	/* 2030 */
	ck_assert_int_eq(httpdate_parse("Friday, 01-Jan-99 00:00:00 GMT", 30,
	    &t), 0);
	ck_assert_int_eq(t, 915148800);		/* 1999, not 2099 */
}
END_TEST

START_TEST(test_httpdate_format)
{
	char	buf[HTTPDATE_LEN + 1];

	memset(buf, 'x', sizeof(buf));
	ck_assert_str_eq(httpdate_format(buf, 784111777),
	    "Sun, 06 Nov 1994 08:49:37 GMT");
	ck_assert_str_eq(httpdate_format(buf, 0),
	    "Thu, 01 Jan 1970 00:00:00 GMT");
	ck_assert_str_eq(httpdate_format(buf, 951825600),
	    "Tue, 29 Feb 2000 12:00:00 GMT");
	ck_assert_str_eq(httpdate_format(buf, 253402300799),
	    "Fri, 31 Dec 9999 23:59:59 GMT");
	/* Past year 9999: the epoch, never a longer string. */
	ck_assert_str_eq(httpdate_format(buf, 253402300800),
	    "Thu, 01 Jan 1970 00:00:00 GMT");
	ck_assert_int_eq(strlen(buf), HTTPDATE_LEN);
}
END_TEST

/* Every two to ten days or so from 1900 to 2200: format() is gmtime_r()'s
 * date, and parse() of it gives the time back, in all three forms. */
START_TEST(test_httpdate_roundtrip)
{
	static const char *const wday[7] = { "Sunday", "Monday", "Tuesday",
	    "Wednesday", "Thursday", "Friday", "Saturday" };
	char		 buf[HTTPDATE_LEN + 1], ref[64], alt[64];
	struct tm	 tm;
	time_t		 t, back, end = 7258118400;	/* 2200 */
	unsigned int	 step = 1;
	int		 n = 0;

	for (t = -2208988800; t < end; t += 200000 + step % 800000) {
		step = step * 1103515245 + 12345;
		ck_assert_ptr_nonnull(gmtime_r(&t, &tm));
		strftime(ref, sizeof(ref), "%a, %d %b %Y %H:%M:%S GMT", &tm);
		ck_assert_str_eq(httpdate_format(buf, t), ref);
		ck_assert_int_eq(httpdate_parse(buf, HTTPDATE_LEN, &back), 0);
		ck_assert_int_eq(back, t);
		ck_assert_int_eq(timegm(&tm), t);
		strftime(alt, sizeof(alt), "%a %b %e %H:%M:%S %Y", &tm);
		ck_assert_int_eq(httpdate_parse(alt, strlen(alt), &back), 0);
		ck_assert_int_eq(back, t);
		/* RFC 850 only within its century window around now. */
		if (tm.tm_year >= 90 && tm.tm_year < 130) {
			snprintf(alt, sizeof(alt), "%s, %02d-%.3s-%02d "
			    "%02d:%02d:%02d GMT", wday[tm.tm_wday],
			    tm.tm_mday, ref + 8, tm.tm_year % 100,
			    tm.tm_hour, tm.tm_min, tm.tm_sec);
			ck_assert_int_eq(httpdate_parse(alt, strlen(alt),
			    &back), 0);
			ck_assert_int_eq(back, t);
		}
		n++;
	}
	ck_assert_int_gt(n, 8000);
}
END_TEST

Suite *
suite_httpdate(void)
{
	Suite	*s = suite_create("httpdate");
	TCase	*tc = tcase_create("httpdate");

	tcase_add_loop_test(tc, test_httpdate_table, 0,
	    sizeof(date_cases) / sizeof(date_cases[0]));
	tcase_add_test(tc, test_httpdate_len);
	tcase_add_test(tc, test_httpdate_rfc850_century);
	tcase_add_test(tc, test_httpdate_format);
	tcase_add_test(tc, test_httpdate_roundtrip);
	suite_add_tcase(s, tc);
	return s;
}
