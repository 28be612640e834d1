/*
 * hsd-logd's formatter (src/logd/format.c): exact lines for records
 * filled in by hand -- W3C extended with all fields and with the default
 * set, NCSA common and combined, HTTPERR -- every escape, empty values,
 * IPv4 and IPv6, absolute-form targets, NCSA's local time in a fixed
 * zone, and IIS's file names and period ends across month, year and DST
 * boundaries.  Times are given as UTC calendar dates (timegm()).
 */
#include "config.h"

#include <sys/socket.h>
#include <netinet/in.h>
#include <arpa/inet.h>

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <check.h>
#include <event2/buffer.h>

#include "fixtures.h"
#include "conf.h"
#include "format.h"
#include "logrec.h"

Suite	*suite_logfmt(void);

#define ALL_FIELDS	((1u << W3C_NFIELDS) - 1)

static time_t
utc(int year, int mon, int mday, int hour, int min, int sec)
{
	struct tm	tm;

	memset(&tm, 0, sizeof(tm));
	tm.tm_year = year - 1900;
	tm.tm_mon = mon - 1;
	tm.tm_mday = mday;
	tm.tm_hour = hour;
	tm.tm_min = min;
	tm.tm_sec = sec;
	return timegm(&tm);
}

/* A string of the record, len bytes (NULs and all). */
static void
rec_strn(struct logrec_view *v, enum logrec_str i, const char *s, size_t len)
{
	v->lv_str[i] = s;
	v->lv_slen[i] = len;
	v->lv_rec.lr_slen[i] = (uint16_t)len;
}

static void
rec_str(struct logrec_view *v, enum logrec_str i, const char *s)
{
	rec_strn(v, i, s, strlen(s));
}

static void
rec_addrs(struct logrec_view *v, int family, const char *caddr,
    const char *saddr)
{
	v->lv_rec.lr_family = (uint8_t)family;
	memset(v->lv_rec.lr_caddr, 0, sizeof(v->lv_rec.lr_caddr));
	memset(v->lv_rec.lr_saddr, 0, sizeof(v->lv_rec.lr_saddr));
	if (family == 0)
		return;
	ck_assert_int_eq(inet_pton(family, caddr, v->lv_rec.lr_caddr), 1);
	ck_assert_int_eq(inet_pton(family, saddr, v->lv_rec.lr_saddr), 1);
}

/*
 * A typical GET: 2024-03-05 14:07:09.654321 UTC, 192.0.2.7:51234 to
 * 198.51.100.1:80, HTTP/1.1, 200, every header set.
 */
static void
rec_get(struct logrec_view *v)
{
	unsigned int	i;

	memset(v, 0, sizeof(*v));
	for (i = 0; i < LRS_NSTR; i++)
		rec_str(v, i, "");
	v->lv_rec.lr_kind = LR_ACCESS;
	rec_addrs(v, AF_INET, "192.0.2.7", "198.51.100.1");
	v->lv_rec.lr_http_major = 1;
	v->lv_rec.lr_http_minor = 1;
	v->lv_rec.lr_status = 200;
	v->lv_rec.lr_cport = 51234;
	v->lv_rec.lr_sport = 80;
	v->lv_rec.lr_time_us = (int64_t)utc(2024, 3, 5, 14, 7, 9) * 1000000 +
	    654321;
	v->lv_rec.lr_taken_ms = 15;
	v->lv_rec.lr_sc_bytes = 5120;
	v->lv_rec.lr_cs_bytes = 412;
	rec_str(v, LRS_METHOD, "GET");
	rec_str(v, LRS_TARGET, "/docs/index.html?lang=en&x=1");
	rec_str(v, LRS_USER_AGENT, "Mozilla/5.0 (X11; Linux x86_64)");
	rec_str(v, LRS_REFERER, "http://example.com/start");
	rec_str(v, LRS_COOKIE, "sid=abc; theme=dark");
	rec_str(v, LRS_HOST, "www.example.com");
	rec_str(v, LRS_SITE, "Default Web Site");
	rec_str(v, LRS_QUEUE, "DefaultAppPool");
}

/* What the formatter wrote, NUL-terminated; the buffer is freed. */
static char *
take(struct evbuffer *b)
{
	size_t	 len = evbuffer_get_length(b);
	char	*s;

	s = malloc(len + 1);
	ck_assert_ptr_nonnull(s);
	ck_assert_int_eq(evbuffer_remove(b, s, len), (int)len);
	s[len] = '\0';
	evbuffer_free(b);
	return s;
}

#define CHECK_OUT(call, want) do {					\
	struct evbuffer	*b_ = evbuffer_new();				\
	char		*s_;						\
									\
	ck_assert_ptr_nonnull(b_);					\
	call;								\
	s_ = take(b_);							\
	ck_assert_str_eq(s_, want);					\
	free(s_);							\
} while (0)
#define W3C(v, f, cn, want)	CHECK_OUT(logfmt_w3c(b_, v, f, cn), want)
#define NCSA(v, c, want)	CHECK_OUT(logfmt_ncsa(b_, v, c), want)
#define HTTPERR(v, want)	CHECK_OUT(logfmt_httperr(b_, v), want)

/* TZ for one test; check forks each test, but CK_FORK=no must work too. */
static char	*tz_saved;
static int	 tz_had;

static void
tz_set(const char *tz)
{
	const char	*old = getenv("TZ");

	tz_had = old != NULL;
	tz_saved = old != NULL ? strdup(old) : NULL;
	ck_assert_int_eq(setenv("TZ", tz, 1), 0);
	tzset();
}

static void
tz_restore(void)
{
	if (tz_had)
		setenv("TZ", tz_saved, 1);
	else
		unsetenv("TZ");
	free(tz_saved);
	tz_saved = NULL;
	tzset();
}

START_TEST(test_w3c_all_fields)
{
	struct logrec_view	v;

	rec_get(&v);
	v.lv_rec.lr_substatus = 3;
	v.lv_rec.lr_win32 = 64;
	W3C(&v, ALL_FIELDS, "WEB01",
	    "2024-03-05 14:07:09 Default+Web+Site WEB01 198.51.100.1 GET "
	    "/docs/index.html lang=en&x=1 80 - 192.0.2.7 HTTP/1.1 "
	    "Mozilla/5.0+(X11;+Linux+x86_64) sid=abc;+theme=dark "
	    "http://example.com/start www.example.com 200 3 64 5120 412 15\n");
}
END_TEST

START_TEST(test_w3c_default_fields)
{
	struct logrec_view	v;

	rec_get(&v);
	W3C(&v, CONF_W3C_DEFAULT_FIELDS, "WEB01",
	    "2024-03-05 14:07:09 198.51.100.1 GET /docs/index.html "
	    "lang=en&x=1 80 - 192.0.2.7 Mozilla/5.0+(X11;+Linux+x86_64) "
	    "http://example.com/start 200 0 0 15\n");
	CHECK_OUT(logfmt_w3c_header(b_, CONF_W3C_DEFAULT_FIELDS,
	    utc(2024, 3, 5, 0, 0, 1)),
	    "#Software: hsd " PACKAGE_VERSION "\n"
	    "#Version: 1.0\n"
	    "#Date: 2024-03-05 00:00:01\n"
	    "#Fields: date time s-ip cs-method cs-uri-stem cs-uri-query "
	    "s-port cs-username c-ip cs(User-Agent) cs(Referer) sc-status "
	    "sc-substatus sc-win32-status time-taken\n");
}
END_TEST

START_TEST(test_w3c_header_all_and_few)
{
	CHECK_OUT(logfmt_w3c_header(b_, ALL_FIELDS,
	    utc(1999, 12, 31, 23, 59, 59)),
	    "#Software: hsd " PACKAGE_VERSION "\n"
	    "#Version: 1.0\n"
	    "#Date: 1999-12-31 23:59:59\n"
	    "#Fields: date time s-sitename s-computername s-ip cs-method "
	    "cs-uri-stem cs-uri-query s-port cs-username c-ip cs-version "
	    "cs(User-Agent) cs(Cookie) cs(Referer) cs-host sc-status "
	    "sc-substatus sc-win32-status sc-bytes cs-bytes time-taken\n");
	/* Enum order whatever the order of the bits asked. */
	CHECK_OUT(logfmt_w3c_header(b_,
	    (1u << W3C_TIME_TAKEN) | (1u << W3C_CS_HOST) | (1u << W3C_DATE),
	    utc(2024, 1, 1, 0, 0, 0)),
	    "#Software: hsd " PACKAGE_VERSION "\n"
	    "#Version: 1.0\n"
	    "#Date: 2024-01-01 00:00:00\n"
	    "#Fields: date cs-host time-taken\n");
}
END_TEST

START_TEST(test_w3c_field_subsets)
{
	struct logrec_view	v;

	rec_get(&v);
	W3C(&v, 1u << W3C_TIME, NULL, "14:07:09\n");
	W3C(&v, (1u << W3C_SC_BYTES) | (1u << W3C_DATE), NULL,
	    "2024-03-05 5120\n");
	/* Bits past the last field are not fields. */
	W3C(&v, (1u << W3C_CS_METHOD) | (1u << 30), NULL, "GET\n");
	W3C(&v, 1u << W3C_S_COMPUTERNAME, NULL, "-\n");
	W3C(&v, 1u << W3C_S_COMPUTERNAME, "", "-\n");
	W3C(&v, 1u << W3C_S_COMPUTERNAME, "web 01", "web+01\n");
}
END_TEST

START_TEST(test_w3c_ipv6)
{
	struct logrec_view	v;

	rec_get(&v);
	rec_addrs(&v, AF_INET6, "2001:db8::7", "::1");
	v.lv_rec.lr_sport = 8443;
	W3C(&v, (1u << W3C_S_IP) | (1u << W3C_S_PORT) | (1u << W3C_C_IP),
	    NULL, "::1 8443 2001:db8::7\n");
	rec_addrs(&v, AF_INET6, "::ffff:192.0.2.9", "fe80::1:2:3:4");
	W3C(&v, (1u << W3C_S_IP) | (1u << W3C_C_IP), NULL,
	    "fe80::1:2:3:4 ::ffff:192.0.2.9\n");
	tz_set("UTC");
	NCSA(&v, 0, "::ffff:192.0.2.9 - - [05/Mar/2024:14:07:09 +0000] "
	    "\"GET /docs/index.html?lang=en&x=1 HTTP/1.1\" 200 5120\n");
	tz_restore();
}
END_TEST

struct target_case {
	const char	*target;
	const char	*stem_query;
};

static const struct target_case target_cases[] = {
	{ "/", "/ -" },
	{ "/a/b.html", "/a/b.html -" },
	{ "/a?", "/a -" },
	{ "/a?b", "/a b" },
	{ "/a?b?c=d", "/a b?c=d" },
	{ "/a%20b?q=%2F", "/a%20b q=%2F" },
	{ "/a+b?x+y", "/a+b x+y" },
	{ "http://example.com/p?q", "/p q" },
	{ "http://example.com/p/q.html", "/p/q.html -" },
	{ "HTTP://Example.COM:8080/a/?x=1", "/a/ x=1" },
	{ "https://h", "/ -" },
	{ "http://h?x", "/ x" },
	{ "http://user@h:1/p", "/p -" },
	{ "*", "* -" },
	{ "example.com:443", "example.com:443 -" },
	{ "", "- -" },
	{ "?q", "- q" },
	{ "a/b://c", "a/b://c -" },
};

START_TEST(test_w3c_targets)
{
	struct logrec_view	 v;
	char			 want[256];

	rec_get(&v);
	rec_str(&v, LRS_TARGET, target_cases[_i].target);
	snprintf(want, sizeof(want), "%s\n", target_cases[_i].stem_query);
	W3C(&v, (1u << W3C_CS_URI_STEM) | (1u << W3C_CS_URI_QUERY), NULL,
	    want);
}
END_TEST

START_TEST(test_w3c_escaping)
{
	struct logrec_view	v;

	rec_get(&v);
	rec_str(&v, LRS_USER_AGENT, "a b  c");
	W3C(&v, 1u << W3C_CS_USER_AGENT, NULL, "a+b++c\n");
	rec_str(&v, LRS_USER_AGENT, " ");
	W3C(&v, 1u << W3C_CS_USER_AGENT, NULL, "+\n");
	rec_strn(&v, LRS_USER_AGENT, "x\ty\r\nz\0!\x1f\x7f", 10);
	W3C(&v, 1u << W3C_CS_USER_AGENT, NULL, "x%09y%0D%0Az%00!%1F%7F\n");
	rec_str(&v, LRS_USER_AGENT, "caf\xc3\xa9 \xff");
	W3C(&v, 1u << W3C_CS_USER_AGENT, NULL, "caf%C3%A9+%FF\n");
	/* '%', '+', '"', '\' and '-' are printable: as sent. */
	rec_str(&v, LRS_USER_AGENT, "100%+\"q\"\\-");
	W3C(&v, 1u << W3C_CS_USER_AGENT, NULL, "100%+\"q\"\\-\n");
	rec_str(&v, LRS_USER_AGENT, "-");
	W3C(&v, 1u << W3C_CS_USER_AGENT, NULL, "-\n");
	/* In the stem and the query too, and in names from the config. */
	rec_str(&v, LRS_TARGET, "/a b\x01/\xe2\x82\xac?x=a b&y=\n");
	rec_str(&v, LRS_SITE, "My Site\t2");
	W3C(&v, (1u << W3C_S_SITENAME) | (1u << W3C_CS_URI_STEM) |
	    (1u << W3C_CS_URI_QUERY), NULL,
	    "My+Site%092 /a+b%01/%E2%82%AC x=a+b&y=%0A\n");
	rec_str(&v, LRS_METHOD, "G T\x80");
	rec_str(&v, LRS_HOST, "h\x7f:80");
	rec_str(&v, LRS_COOKIE, "a=\"b c\"");
	W3C(&v, (1u << W3C_CS_METHOD) | (1u << W3C_CS_COOKIE) |
	    (1u << W3C_CS_HOST), NULL, "G+T%80 a=\"b+c\" h%7F:80\n");
}
END_TEST

START_TEST(test_w3c_empty)
{
	struct logrec_view	v;
	unsigned int		i;

	/* Nothing known: no addresses, no request line, nothing sent. */
	memset(&v, 0, sizeof(v));
	for (i = 0; i < LRS_NSTR; i++)
		rec_str(&v, i, "");
	v.lv_rec.lr_kind = LR_ACCESS;
	W3C(&v, ALL_FIELDS, "",
	    "1970-01-01 00:00:00 - - - - - - - - - - - - - - - 0 0 0 0 0\n");
	W3C(&v, 0, "WEB01", "\n");
}
END_TEST

START_TEST(test_w3c_time_rounding)
{
	struct logrec_view	v;

	rec_get(&v);
	v.lv_rec.lr_time_us = (int64_t)utc(2023, 12, 31, 23, 59, 59) *
	    1000000 + 999999;
	W3C(&v, (1u << W3C_DATE) | (1u << W3C_TIME), NULL,
	    "2023-12-31 23:59:59\n");
	v.lv_rec.lr_time_us++;
	W3C(&v, (1u << W3C_DATE) | (1u << W3C_TIME), NULL,
	    "2024-01-01 00:00:00\n");
	/* Before 1970, a clock gone wrong: the second is still rounded down. */
	v.lv_rec.lr_time_us = -1;
	W3C(&v, (1u << W3C_DATE) | (1u << W3C_TIME), NULL,
	    "1969-12-31 23:59:59\n");
	v.lv_rec.lr_time_us = (int64_t)utc(2038, 1, 19, 3, 14, 8) * 1000000;
	W3C(&v, (1u << W3C_DATE) | (1u << W3C_TIME), NULL,
	    "2038-01-19 03:14:08\n");
}
END_TEST

START_TEST(test_w3c_numbers)
{
	struct logrec_view	v;

	rec_get(&v);
	v.lv_rec.lr_status = 0;
	v.lv_rec.lr_substatus = 65535;
	v.lv_rec.lr_win32 = 4294967295u;
	v.lv_rec.lr_sc_bytes = UINT64_MAX;
	v.lv_rec.lr_cs_bytes = 0;
	v.lv_rec.lr_taken_ms = 120000;
	v.lv_rec.lr_http_major = 1;
	v.lv_rec.lr_http_minor = 0;
	W3C(&v, (1u << W3C_CS_VERSION) | (1u << W3C_SC_STATUS) |
	    (1u << W3C_SC_SUBSTATUS) | (1u << W3C_SC_WIN32_STATUS) |
	    (1u << W3C_SC_BYTES) | (1u << W3C_CS_BYTES) |
	    (1u << W3C_TIME_TAKEN), NULL,
	    "HTTP/1.0 - 65535 4294967295 18446744073709551615 0 120000\n");
}
END_TEST

START_TEST(test_ncsa_common_combined)
{
	struct logrec_view	v;

	tz_set("UTC");
	rec_get(&v);
	NCSA(&v, 0, "192.0.2.7 - - [05/Mar/2024:14:07:09 +0000] "
	    "\"GET /docs/index.html?lang=en&x=1 HTTP/1.1\" 200 5120\n");
	NCSA(&v, 1, "192.0.2.7 - - [05/Mar/2024:14:07:09 +0000] "
	    "\"GET /docs/index.html?lang=en&x=1 HTTP/1.1\" 200 5120 "
	    "\"http://example.com/start\" "
	    "\"Mozilla/5.0 (X11; Linux x86_64)\"\n");
	rec_str(&v, LRS_USERNAME, "alice");
	rec_str(&v, LRS_REFERER, "");
	rec_str(&v, LRS_USER_AGENT, "");
	/* %b is the body: the head's bytes are not counted, and a
	 * response of nothing but a head is "-". */
	v.lv_rec.lr_sc_head = 120;
	NCSA(&v, 0, "192.0.2.7 - alice [05/Mar/2024:14:07:09 +0000] "
	    "\"GET /docs/index.html?lang=en&x=1 HTTP/1.1\" 200 5000\n");
	v.lv_rec.lr_sc_bytes = 120;
	NCSA(&v, 0, "192.0.2.7 - alice [05/Mar/2024:14:07:09 +0000] "
	    "\"GET /docs/index.html?lang=en&x=1 HTTP/1.1\" 200 -\n");
	v.lv_rec.lr_sc_head = 0;
	v.lv_rec.lr_sc_bytes = 0;
	v.lv_rec.lr_status = 304;
	NCSA(&v, 1, "192.0.2.7 - alice [05/Mar/2024:14:07:09 +0000] "
	    "\"GET /docs/index.html?lang=en&x=1 HTTP/1.1\" 304 - "
	    "\"-\" \"-\"\n");
	tz_restore();
}
END_TEST

START_TEST(test_ncsa_no_request_line)
{
	struct logrec_view	v;
	unsigned int		i;

	tz_set("UTC");
	memset(&v, 0, sizeof(v));
	for (i = 0; i < LRS_NSTR; i++)
		rec_str(&v, i, "");
	rec_addrs(&v, AF_INET, "203.0.113.5", "198.51.100.1");
	v.lv_rec.lr_time_us = (int64_t)utc(2024, 7, 4, 3, 2, 1) * 1000000;
	v.lv_rec.lr_status = 408;
	NCSA(&v, 0, "203.0.113.5 - - [04/Jul/2024:03:02:01 +0000] \"-\" "
	    "408 -\n");
	NCSA(&v, 1, "203.0.113.5 - - [04/Jul/2024:03:02:01 +0000] \"-\" "
	    "408 - \"-\" \"-\"\n");
	/* Nothing at all: no address, nothing sent. */
	rec_addrs(&v, 0, NULL, NULL);
	v.lv_rec.lr_status = 0;
	NCSA(&v, 0, "- - - [04/Jul/2024:03:02:01 +0000] \"-\" - -\n");
	tz_restore();
}
END_TEST

START_TEST(test_ncsa_escaping)
{
	struct logrec_view	v;

	tz_set("UTC");
	rec_get(&v);
	rec_str(&v, LRS_TARGET, "/a\"b\\c d");
	rec_str(&v, LRS_REFERER, "x\"y\\z");
	rec_strn(&v, LRS_USER_AGENT, "\b\n\r\t\v\x01\0\x1b\x7f", 9);
	NCSA(&v, 1, "192.0.2.7 - - [05/Mar/2024:14:07:09 +0000] "
	    "\"GET /a\\\"b\\\\c d HTTP/1.1\" 200 5120 \"x\\\"y\\\\z\" "
	    "\"\\b\\n\\r\\t\\v\\x01\\x00\\x1b\\x7f\"\n");
	rec_str(&v, LRS_TARGET, "/caf\xc3\xa9%20+");
	rec_str(&v, LRS_USER_AGENT, "\xff\xfe");
	rec_str(&v, LRS_USERNAME, "bob \"b\"");
	rec_str(&v, LRS_METHOD, "G\nT");
	NCSA(&v, 1, "192.0.2.7 - bob \\\"b\\\" [05/Mar/2024:14:07:09 +0000] "
	    "\"G\\nT /caf\\xc3\\xa9%20+ HTTP/1.1\" 200 5120 "
	    "\"x\\\"y\\\\z\" \"\\xff\\xfe\"\n");
	tz_restore();
}
END_TEST

START_TEST(test_ncsa_local_time)
{
	struct logrec_view	v;

	tz_set("America/New_York");
	rec_get(&v);
	/* Winter: EST. */
	NCSA(&v, 0, "192.0.2.7 - - [05/Mar/2024:09:07:09 -0500] "
	    "\"GET /docs/index.html?lang=en&x=1 HTTP/1.1\" 200 5120\n");
	/* Summer: EDT. */
	v.lv_rec.lr_time_us = (int64_t)utc(2024, 7, 4, 3, 2, 1) * 1000000;
	NCSA(&v, 0, "192.0.2.7 - - [03/Jul/2024:23:02:01 -0400] "
	    "\"GET /docs/index.html?lang=en&x=1 HTTP/1.1\" 200 5120\n");
	/* The year before, in local time. */
	v.lv_rec.lr_time_us = (int64_t)utc(2024, 1, 1, 3, 0, 0) * 1000000;
	NCSA(&v, 0, "192.0.2.7 - - [31/Dec/2023:22:00:00 -0500] "
	    "\"GET /docs/index.html?lang=en&x=1 HTTP/1.1\" 200 5120\n");
	/* W3C stays UTC whatever the zone. */
	W3C(&v, (1u << W3C_DATE) | (1u << W3C_TIME), NULL,
	    "2024-01-01 03:00:00\n");
	tz_restore();

	/* A half-hour zone east of UTC. */
	tz_set("Asia/Kolkata");
	v.lv_rec.lr_time_us = (int64_t)utc(2024, 10, 1, 20, 0, 0) * 1000000;
	NCSA(&v, 0, "192.0.2.7 - - [02/Oct/2024:01:30:00 +0530] "
	    "\"GET /docs/index.html?lang=en&x=1 HTTP/1.1\" 200 5120\n");
	tz_restore();
}
END_TEST

/* Every month's English abbreviation, whatever LC_TIME says. */
START_TEST(test_ncsa_months)
{
	static const char *const months[12] = { "Jan", "Feb", "Mar", "Apr",
	    "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec" };
	struct logrec_view	 v;
	char			 want[256];

	tz_set("UTC");
	rec_get(&v);
	rec_str(&v, LRS_METHOD, "");
	v.lv_rec.lr_time_us = (int64_t)utc(2025, _i + 1, 9, 8, 7, 6) *
	    1000000;
	snprintf(want, sizeof(want), "192.0.2.7 - - [09/%s/2025:08:07:06 "
	    "+0000] \"-\" 200 5120\n", months[_i]);
	NCSA(&v, 0, want);
	tz_restore();
}
END_TEST

START_TEST(test_httperr_header)
{
	CHECK_OUT(logfmt_httperr_header(b_, utc(2024, 3, 5, 14, 7, 9)),
	    "#Software: hsd " PACKAGE_VERSION "\n"
	    "#Version: 1.0\n"
	    "#Date: 2024-03-05 14:07:09\n"
	    "#Fields: date time c-ip c-port s-ip s-port cs-version "
	    "cs-method cs-uri sc-status s-siteid s-reason s-queuename\n");
}
END_TEST

START_TEST(test_httperr_lines)
{
	struct logrec_view	v;

	rec_get(&v);
	v.lv_rec.lr_kind = LR_HTTPERR;
	v.lv_rec.lr_status = 503;
	v.lv_rec.lr_reason = HE_QUEUE_FULL;
	HTTPERR(&v, "2024-03-05 14:07:09 192.0.2.7 51234 198.51.100.1 80 "
	    "HTTP/1.1 GET /docs/index.html?lang=en&x=1 503 Default+Web+Site "
	    "QueueFull DefaultAppPool\n");

	/* A connection timed out before a request line: 0 status. */
	rec_str(&v, LRS_METHOD, "");
	rec_str(&v, LRS_TARGET, "");
	rec_str(&v, LRS_SITE, "");
	rec_str(&v, LRS_QUEUE, "");
	v.lv_rec.lr_http_major = 0;
	v.lv_rec.lr_http_minor = 0;
	v.lv_rec.lr_status = 0;
	v.lv_rec.lr_reason = HE_TIMER_CONNECTION_IDLE;
	HTTPERR(&v, "2024-03-05 14:07:09 192.0.2.7 51234 198.51.100.1 80 "
	    "- - - - - Timer_ConnectionIdle -\n");

	/* IPv6, absolute-form target kept whole, escaping. */
	rec_addrs(&v, AF_INET6, "2001:db8::1", "2001:db8::2");
	v.lv_rec.lr_cport = 1;
	v.lv_rec.lr_sport = 65535;
	v.lv_rec.lr_http_major = 1;
	v.lv_rec.lr_http_minor = 0;
	rec_str(&v, LRS_METHOD, "BREW");
	rec_str(&v, LRS_TARGET, "http://h/a b?\x01\xc3\xa9");
	v.lv_rec.lr_status = 400;
	v.lv_rec.lr_reason = HE_VERB;
	HTTPERR(&v, "2024-03-05 14:07:09 2001:db8::1 1 2001:db8::2 65535 "
	    "HTTP/1.0 BREW http://h/a+b?%01%C3%A9 400 - Verb -\n");

	/* No addresses: no ports either. */
	rec_addrs(&v, 0, NULL, NULL);
	v.lv_rec.lr_reason = HE_INTERNAL;
	v.lv_rec.lr_status = 500;
	HTTPERR(&v, "2024-03-05 14:07:09 - - - - HTTP/1.0 BREW "
	    "http://h/a+b?%01%C3%A9 500 - Internal -\n");
}
END_TEST

static const char *const reason_names[] = {
	"-", "Timer_ConnectionIdle", "Timer_HeaderWait", "Timer_EntityBody",
	"Timer_AppPool", "Timer_MinBytesPerSecond", "BadRequest", "Verb",
	"URL", "Header", "Hostname", "FieldLength", "RequestLength",
	"URL_Length", "LengthRequired", "EntityTooLarge", "QueueFull",
	"AppOffline", "Disabled", "ConnLimit",
	"Connection_Abandoned_By_AppPool", "Connection_Dropped", "Internal",
	"N/I",
	"-",		/* HE_NREASONS: out of range */
	"-",		/* 65535 */
};

START_TEST(test_httperr_reasons)
{
	struct logrec_view	v;
	char			want[256];

	ck_assert_uint_eq(sizeof(reason_names) / sizeof(reason_names[0]),
	    HE_NREASONS + 2);
	rec_get(&v);
	v.lv_rec.lr_kind = LR_HTTPERR;
	v.lv_rec.lr_status = 400;
	rec_str(&v, LRS_SITE, "s1");
	rec_str(&v, LRS_QUEUE, "p1");
	v.lv_rec.lr_reason = _i <= HE_NREASONS ? (uint16_t)_i : 65535;
	snprintf(want, sizeof(want), "2024-03-05 14:07:09 192.0.2.7 51234 "
	    "198.51.100.1 80 HTTP/1.1 GET /docs/index.html?lang=en&x=1 400 "
	    "s1 %s p1\n", reason_names[_i]);
	HTTPERR(&v, want);
}
END_TEST

START_TEST(test_remark)
{
	CHECK_OUT(logfmt_remark(b_, "12 records lost: buffer full"),
	    "#Remark: 12 records lost: buffer full\n");
	CHECK_OUT(logfmt_remark(b_, "a\nb\r\tc\x7f\xc3\xa9 100%"),
	    "#Remark: a%0Ab%0D%09c%7F%C3%A9 100%\n");
	CHECK_OUT(logfmt_remark(b_, ""), "#Remark: \n");
}
END_TEST

struct name_case {
	enum conf_log_format	 format;
	enum conf_rollover	 roll;
	time_t			 t;
	unsigned int		 seq;
	const char		*want;
};

START_TEST(test_file_names_utc)
{
	const struct name_case	cases[] = {
		{ CONF_LOG_W3C, CONF_ROLL_DAILY, utc(2024, 3, 5, 14, 7, 9), 0,
		  "u_ex240305.log" },
		{ CONF_LOG_W3C, CONF_ROLL_HOURLY, utc(2024, 3, 5, 14, 7, 9),
		  0, "u_ex24030514.log" },
		{ CONF_LOG_W3C, CONF_ROLL_HOURLY, utc(2024, 3, 5, 0, 0, 0),
		  0, "u_ex24030500.log" },
		{ CONF_LOG_W3C, CONF_ROLL_WEEKLY, utc(2024, 3, 5, 14, 7, 9),
		  0, "u_ex240301.log" },
		{ CONF_LOG_W3C, CONF_ROLL_MONTHLY, utc(2024, 3, 5, 14, 7, 9),
		  0, "u_ex2403.log" },
		{ CONF_LOG_W3C, CONF_ROLL_SIZE, utc(2024, 3, 5, 14, 7, 9), 1,
		  "u_extend1.log" },
		{ CONF_LOG_W3C, CONF_ROLL_SIZE, 0, 123, "u_extend123.log" },
		{ CONF_LOG_NCSA, CONF_ROLL_DAILY, utc(2024, 3, 5, 14, 7, 9),
		  0, "nc240305.log" },
		{ CONF_LOG_COMBINED, CONF_ROLL_HOURLY,
		  utc(2024, 3, 5, 14, 7, 9), 0, "nc24030514.log" },
		{ CONF_LOG_NCSA, CONF_ROLL_WEEKLY, utc(2024, 3, 5, 14, 7, 9),
		  0, "nc240301.log" },
		{ CONF_LOG_COMBINED, CONF_ROLL_MONTHLY,
		  utc(2024, 3, 5, 14, 7, 9), 0, "nc2403.log" },
		{ CONF_LOG_NCSA, CONF_ROLL_SIZE, 0, 7, "ncextend7.log" },
		{ CONF_LOG_COMBINED, CONF_ROLL_SIZE, 0, 0, "ncextend0.log" },
		/* Year and month ends. */
		{ CONF_LOG_W3C, CONF_ROLL_DAILY, utc(2023, 12, 31, 23, 59, 59),
		  0, "u_ex231231.log" },
		{ CONF_LOG_W3C, CONF_ROLL_DAILY, utc(2024, 1, 1, 0, 0, 0), 0,
		  "u_ex240101.log" },
		{ CONF_LOG_W3C, CONF_ROLL_HOURLY,
		  utc(2023, 12, 31, 23, 59, 59), 0, "u_ex23123123.log" },
		{ CONF_LOG_W3C, CONF_ROLL_MONTHLY,
		  utc(2023, 12, 31, 23, 59, 59), 0, "u_ex2312.log" },
		{ CONF_LOG_W3C, CONF_ROLL_MONTHLY, utc(2024, 1, 1, 0, 0, 0),
		  0, "u_ex2401.log" },
		{ CONF_LOG_W3C, CONF_ROLL_DAILY, utc(2024, 2, 29, 23, 30, 0),
		  0, "u_ex240229.log" },
		{ CONF_LOG_W3C, CONF_ROLL_DAILY, utc(2000, 1, 1, 0, 0, 0), 0,
		  "u_ex000101.log" },
		/* Weeks of the month: 1-7, 8-14, 15-21, 22-28, 29-31. */
		{ CONF_LOG_W3C, CONF_ROLL_WEEKLY, utc(2024, 5, 1, 0, 0, 0), 0,
		  "u_ex240501.log" },
		{ CONF_LOG_W3C, CONF_ROLL_WEEKLY, utc(2024, 5, 7, 23, 59, 59),
		  0, "u_ex240501.log" },
		{ CONF_LOG_W3C, CONF_ROLL_WEEKLY, utc(2024, 5, 8, 0, 0, 0), 0,
		  "u_ex240502.log" },
		{ CONF_LOG_W3C, CONF_ROLL_WEEKLY, utc(2024, 5, 15, 0, 0, 0),
		  0, "u_ex240503.log" },
		{ CONF_LOG_W3C, CONF_ROLL_WEEKLY, utc(2024, 5, 28, 0, 0, 0),
		  0, "u_ex240504.log" },
		{ CONF_LOG_W3C, CONF_ROLL_WEEKLY, utc(2024, 5, 29, 0, 0, 0),
		  0, "u_ex240505.log" },
		{ CONF_LOG_W3C, CONF_ROLL_WEEKLY, utc(2024, 5, 31, 12, 0, 0),
		  0, "u_ex240505.log" },
		{ CONF_LOG_W3C, CONF_ROLL_WEEKLY, utc(2024, 2, 29, 23, 30, 0),
		  0, "u_ex240205.log" },
		{ CONF_LOG_NCSA, CONF_ROLL_WEEKLY,
		  utc(2023, 12, 31, 23, 59, 59), 0, "nc231205.log" },
	};
	char		buf[64];
	unsigned int	i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		ck_assert_msg(logfmt_file_name(buf, sizeof(buf),
		    cases[i].format, cases[i].roll, 0, cases[i].t,
		    cases[i].seq) == 0, "case %u failed", i);
		ck_assert_msg(strcmp(buf, cases[i].want) == 0,
		    "case %u: \"%s\", want \"%s\"", i, buf, cases[i].want);
	}
}
END_TEST

START_TEST(test_file_names_local)
{
	const struct name_case	cases[] = {
		/* 2024-01-01 03:00 UTC is 2023-12-31 22:00 in New York. */
		{ CONF_LOG_W3C, CONF_ROLL_DAILY, utc(2024, 1, 1, 3, 0, 0), 0,
		  "u_ex231231.log" },
		{ CONF_LOG_W3C, CONF_ROLL_HOURLY, utc(2024, 1, 1, 3, 0, 0), 0,
		  "u_ex23123122.log" },
		{ CONF_LOG_W3C, CONF_ROLL_WEEKLY, utc(2024, 1, 1, 3, 0, 0), 0,
		  "u_ex231205.log" },
		{ CONF_LOG_W3C, CONF_ROLL_MONTHLY, utc(2024, 1, 1, 3, 0, 0), 0,
		  "u_ex2312.log" },
		{ CONF_LOG_NCSA, CONF_ROLL_MONTHLY, utc(2024, 1, 1, 5, 0, 0),
		  0, "nc2401.log" },
		{ CONF_LOG_COMBINED, CONF_ROLL_DAILY, utc(2024, 3, 1, 4, 59, 59),
		  0, "nc240229.log" },
		{ CONF_LOG_COMBINED, CONF_ROLL_WEEKLY,
		  utc(2024, 3, 1, 4, 59, 59), 0, "nc240205.log" },
		{ CONF_LOG_COMBINED, CONF_ROLL_WEEKLY,
		  utc(2024, 3, 1, 5, 0, 0), 0, "nc240301.log" },
		/* Summer: 4 hours behind. */
		{ CONF_LOG_W3C, CONF_ROLL_HOURLY, utc(2024, 7, 4, 3, 2, 1), 0,
		  "u_ex24070323.log" },
		/* The repeated hour of November 3rd, both times. */
		{ CONF_LOG_W3C, CONF_ROLL_HOURLY, utc(2024, 11, 3, 5, 30, 0),
		  0, "u_ex24110301.log" },
		{ CONF_LOG_W3C, CONF_ROLL_HOURLY, utc(2024, 11, 3, 6, 30, 0),
		  0, "u_ex24110301.log" },
		/* Size names know no time. */
		{ CONF_LOG_W3C, CONF_ROLL_SIZE, utc(2024, 1, 1, 3, 0, 0), 2,
		  "u_extend2.log" },
	};
	char		buf[64];
	unsigned int	i;

	tz_set("America/New_York");
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		ck_assert_msg(logfmt_file_name(buf, sizeof(buf),
		    cases[i].format, cases[i].roll, 1, cases[i].t,
		    cases[i].seq) == 0, "case %u failed", i);
		ck_assert_msg(strcmp(buf, cases[i].want) == 0,
		    "case %u: \"%s\", want \"%s\"", i, buf, cases[i].want);
	}
	/* The same instant by UTC. */
	ck_assert_int_eq(logfmt_file_name(buf, sizeof(buf), CONF_LOG_W3C,
	    CONF_ROLL_DAILY, 0, utc(2024, 1, 1, 3, 0, 0), 0), 0);
	ck_assert_str_eq(buf, "u_ex240101.log");
	tz_restore();
}
END_TEST

START_TEST(test_file_names_bounds)
{
	char	buf[64];

	/* "u_ex240305.log" is 14 bytes: 15 fit, 14 do not. */
	ck_assert_int_eq(logfmt_file_name(buf, 15, CONF_LOG_W3C,
	    CONF_ROLL_DAILY, 0, utc(2024, 3, 5, 0, 0, 0), 0), 0);
	ck_assert_str_eq(buf, "u_ex240305.log");
	ck_assert_int_eq(logfmt_file_name(buf, 14, CONF_LOG_W3C,
	    CONF_ROLL_DAILY, 0, utc(2024, 3, 5, 0, 0, 0), 0), -1);
	ck_assert_int_eq(logfmt_file_name(buf, 13, CONF_LOG_W3C,
	    CONF_ROLL_SIZE, 0, 0, 4294967295u), -1);
	ck_assert_int_eq(logfmt_file_name(buf, sizeof(buf), CONF_LOG_W3C,
	    CONF_ROLL_SIZE, 0, 0, 4294967295u), 0);
	ck_assert_str_eq(buf, "u_extend4294967295.log");
	/* Logging off has no file. */
	ck_assert_int_eq(logfmt_file_name(buf, sizeof(buf), CONF_LOG_OFF,
	    CONF_ROLL_DAILY, 0, 0, 0), -1);

	ck_assert_int_eq(logfmt_httperr_name(buf, sizeof(buf), 1), 0);
	ck_assert_str_eq(buf, "httperr1.log");
	ck_assert_int_eq(logfmt_httperr_name(buf, sizeof(buf), 12), 0);
	ck_assert_str_eq(buf, "httperr12.log");
	ck_assert_int_eq(logfmt_httperr_name(buf, 13, 1), 0);
	ck_assert_int_eq(logfmt_httperr_name(buf, 12, 1), -1);
}
END_TEST

struct end_case {
	enum conf_rollover	 roll;
	time_t			 t;
	time_t			 want;
};

static void
check_ends(const struct end_case *cases, size_t n, int local_time)
{
	char		a[64], b[64];
	size_t		i;
	time_t		end;

	for (i = 0; i < n; i++) {
		end = logfmt_period_end(cases[i].roll, local_time,
		    cases[i].t);
		ck_assert_msg(end == cases[i].want, "case %zu: %lld, want %lld",
		    i, (long long)end, (long long)cases[i].want);
		/* Consistent with the names: t and end - 1 share a file. */
		ck_assert_int_eq(logfmt_file_name(a, sizeof(a), CONF_LOG_W3C,
		    cases[i].roll, local_time, cases[i].t, 0), 0);
		ck_assert_int_eq(logfmt_file_name(b, sizeof(b), CONF_LOG_W3C,
		    cases[i].roll, local_time, end - 1, 0), 0);
		ck_assert_msg(strcmp(a, b) == 0, "case %zu: %s, %s", i, a, b);
		ck_assert_int_eq(logfmt_file_name(b, sizeof(b), CONF_LOG_W3C,
		    cases[i].roll, local_time, end, 0), 0);
		ck_assert_msg(strcmp(a, b) != 0, "case %zu: %s, %s", i, a, b);
	}
}

START_TEST(test_period_end_utc)
{
	const struct end_case	cases[] = {
		{ CONF_ROLL_HOURLY, utc(2024, 3, 5, 14, 7, 9),
		  utc(2024, 3, 5, 15, 0, 0) },
		{ CONF_ROLL_HOURLY, utc(2024, 3, 5, 14, 0, 0),
		  utc(2024, 3, 5, 15, 0, 0) },
		{ CONF_ROLL_HOURLY, utc(2023, 12, 31, 23, 59, 59),
		  utc(2024, 1, 1, 0, 0, 0) },
		{ CONF_ROLL_DAILY, utc(2024, 3, 5, 14, 7, 9),
		  utc(2024, 3, 6, 0, 0, 0) },
		{ CONF_ROLL_DAILY, utc(2024, 2, 28, 0, 0, 0),
		  utc(2024, 2, 29, 0, 0, 0) },
		{ CONF_ROLL_DAILY, utc(2024, 2, 29, 23, 30, 0),
		  utc(2024, 3, 1, 0, 0, 0) },
		{ CONF_ROLL_DAILY, utc(2023, 12, 31, 23, 59, 59),
		  utc(2024, 1, 1, 0, 0, 0) },
		{ CONF_ROLL_WEEKLY, utc(2024, 5, 1, 0, 0, 0),
		  utc(2024, 5, 8, 0, 0, 0) },
		{ CONF_ROLL_WEEKLY, utc(2024, 5, 7, 23, 59, 59),
		  utc(2024, 5, 8, 0, 0, 0) },
		{ CONF_ROLL_WEEKLY, utc(2024, 5, 8, 0, 0, 0),
		  utc(2024, 5, 15, 0, 0, 0) },
		{ CONF_ROLL_WEEKLY, utc(2024, 5, 20, 0, 0, 0),
		  utc(2024, 5, 22, 0, 0, 0) },
		{ CONF_ROLL_WEEKLY, utc(2024, 5, 22, 0, 0, 0),
		  utc(2024, 5, 29, 0, 0, 0) },
		{ CONF_ROLL_WEEKLY, utc(2024, 5, 31, 12, 0, 0),
		  utc(2024, 6, 1, 0, 0, 0) },
		{ CONF_ROLL_WEEKLY, utc(2024, 6, 30, 4, 0, 0),
		  utc(2024, 7, 1, 0, 0, 0) },
		/* Week 4 of a 28-day February is its last. */
		{ CONF_ROLL_WEEKLY, utc(2023, 2, 28, 12, 0, 0),
		  utc(2023, 3, 1, 0, 0, 0) },
		{ CONF_ROLL_WEEKLY, utc(2024, 2, 28, 12, 0, 0),
		  utc(2024, 2, 29, 0, 0, 0) },
		{ CONF_ROLL_WEEKLY, utc(2024, 2, 29, 23, 30, 0),
		  utc(2024, 3, 1, 0, 0, 0) },
		{ CONF_ROLL_WEEKLY, utc(2023, 12, 31, 23, 59, 59),
		  utc(2024, 1, 1, 0, 0, 0) },
		{ CONF_ROLL_MONTHLY, utc(2024, 3, 5, 14, 7, 9),
		  utc(2024, 4, 1, 0, 0, 0) },
		{ CONF_ROLL_MONTHLY, utc(2024, 2, 1, 0, 0, 0),
		  utc(2024, 3, 1, 0, 0, 0) },
		{ CONF_ROLL_MONTHLY, utc(2023, 12, 31, 23, 59, 59),
		  utc(2024, 1, 1, 0, 0, 0) },
	};

	/* Pinned once as numbers, so utc() is not the only witness. */
	ck_assert_int_eq(utc(2024, 3, 5, 14, 7, 9), 1709647629);
	ck_assert_int_eq(logfmt_period_end(CONF_ROLL_DAILY, 0, 1709647629),
	    1709683200);
	check_ends(cases, sizeof(cases) / sizeof(cases[0]), 0);
	ck_assert_int_eq(logfmt_period_end(CONF_ROLL_SIZE, 0,
	    utc(2024, 3, 5, 14, 7, 9)), (time_t)-1);
	ck_assert_int_eq(logfmt_period_end(CONF_ROLL_SIZE, 1,
	    utc(2024, 3, 5, 14, 7, 9)), (time_t)-1);
}
END_TEST

START_TEST(test_period_end_local)
{
	/* America/New_York: UTC-5 in winter, UTC-4 in summer. */
	const struct end_case	cases[] = {
		/* 2023-12-31 22:00 EST. */
		{ CONF_ROLL_HOURLY, utc(2024, 1, 1, 3, 0, 0),
		  utc(2024, 1, 1, 4, 0, 0) },
		{ CONF_ROLL_DAILY, utc(2024, 1, 1, 3, 0, 0),
		  utc(2024, 1, 1, 5, 0, 0) },
		{ CONF_ROLL_WEEKLY, utc(2024, 1, 1, 3, 0, 0),
		  utc(2024, 1, 1, 5, 0, 0) },
		{ CONF_ROLL_MONTHLY, utc(2024, 1, 1, 3, 0, 0),
		  utc(2024, 1, 1, 5, 0, 0) },
		/* 2024-02-29 19:00 EST: week 5 of a leap February. */
		{ CONF_ROLL_WEEKLY, utc(2024, 3, 1, 0, 0, 0),
		  utc(2024, 3, 1, 5, 0, 0) },
		/* 2024-05-07 19:59:59 EDT. */
		{ CONF_ROLL_WEEKLY, utc(2024, 5, 7, 23, 59, 59),
		  utc(2024, 5, 8, 4, 0, 0) },
		/* Spring forward, March 10th: 02:00 EST is 03:00 EDT. */
		{ CONF_ROLL_HOURLY, utc(2024, 3, 10, 6, 30, 0),
		  utc(2024, 3, 10, 7, 0, 0) },
		{ CONF_ROLL_HOURLY, utc(2024, 3, 10, 7, 30, 0),
		  utc(2024, 3, 10, 8, 0, 0) },
		{ CONF_ROLL_DAILY, utc(2024, 3, 10, 6, 30, 0),
		  utc(2024, 3, 11, 4, 0, 0) },
		{ CONF_ROLL_DAILY, utc(2024, 3, 9, 12, 0, 0),
		  utc(2024, 3, 10, 5, 0, 0) },
		/*
		 * Fall back, November 3rd: 01:00-02:00 twice, first EDT
		 * then EST; both go to the 01 file, which ends at 02:00 EST.
		 */
		{ CONF_ROLL_HOURLY, utc(2024, 11, 3, 4, 30, 0),
		  utc(2024, 11, 3, 5, 0, 0) },
		{ CONF_ROLL_HOURLY, utc(2024, 11, 3, 5, 30, 0),
		  utc(2024, 11, 3, 7, 0, 0) },
		{ CONF_ROLL_HOURLY, utc(2024, 11, 3, 6, 30, 0),
		  utc(2024, 11, 3, 7, 0, 0) },
		{ CONF_ROLL_DAILY, utc(2024, 11, 3, 4, 30, 0),
		  utc(2024, 11, 4, 5, 0, 0) },
		{ CONF_ROLL_MONTHLY, utc(2024, 10, 15, 0, 0, 0),
		  utc(2024, 11, 1, 4, 0, 0) },
		{ CONF_ROLL_MONTHLY, utc(2024, 11, 15, 0, 0, 0),
		  utc(2024, 12, 1, 5, 0, 0) },
	};

	tz_set("America/New_York");
	check_ends(cases, sizeof(cases) / sizeof(cases[0]), 1);
	tz_restore();
}
END_TEST

START_TEST(test_period_end_local_half_hour)
{
	/* Asia/Kolkata, UTC+5:30: local hours start at :30 UTC. */
	const struct end_case	cases[] = {
		{ CONF_ROLL_HOURLY, utc(2024, 10, 1, 20, 0, 0),
		  utc(2024, 10, 1, 20, 30, 0) },
		{ CONF_ROLL_DAILY, utc(2024, 10, 1, 20, 0, 0),
		  utc(2024, 10, 2, 18, 30, 0) },
		{ CONF_ROLL_MONTHLY, utc(2024, 10, 31, 18, 29, 59),
		  utc(2024, 10, 31, 18, 30, 0) },
	};

	tz_set("Asia/Kolkata");
	check_ends(cases, sizeof(cases) / sizeof(cases[0]), 1);
	tz_restore();
}
END_TEST

Suite *
suite_logfmt(void)
{
	Suite	*s = suite_create("logfmt");
	TCase	*tc;

	tc = tcase_create("w3c");
	tcase_add_test(tc, test_w3c_all_fields);
	tcase_add_test(tc, test_w3c_default_fields);
	tcase_add_test(tc, test_w3c_header_all_and_few);
	tcase_add_test(tc, test_w3c_field_subsets);
	tcase_add_test(tc, test_w3c_ipv6);
	tcase_add_loop_test(tc, test_w3c_targets, 0,
	    sizeof(target_cases) / sizeof(target_cases[0]));
	tcase_add_test(tc, test_w3c_escaping);
	tcase_add_test(tc, test_w3c_empty);
	tcase_add_test(tc, test_w3c_time_rounding);
	tcase_add_test(tc, test_w3c_numbers);
	tcase_add_test(tc, test_remark);
	suite_add_tcase(s, tc);

	tc = tcase_create("ncsa");
	tcase_add_test(tc, test_ncsa_common_combined);
	tcase_add_test(tc, test_ncsa_no_request_line);
	tcase_add_test(tc, test_ncsa_escaping);
	tcase_add_test(tc, test_ncsa_local_time);
	tcase_add_loop_test(tc, test_ncsa_months, 0, 12);
	suite_add_tcase(s, tc);

	tc = tcase_create("httperr");
	tcase_add_test(tc, test_httperr_header);
	tcase_add_test(tc, test_httperr_lines);
	tcase_add_loop_test(tc, test_httperr_reasons, 0,
	    sizeof(reason_names) / sizeof(reason_names[0]));
	suite_add_tcase(s, tc);

	tc = tcase_create("files");
	tcase_add_test(tc, test_file_names_utc);
	tcase_add_test(tc, test_file_names_local);
	tcase_add_test(tc, test_file_names_bounds);
	tcase_add_test(tc, test_period_end_utc);
	tcase_add_test(tc, test_period_end_local);
	tcase_add_test(tc, test_period_end_local_half_hour);
	suite_add_tcase(s, tc);
	return s;
}
