/*
 * admit_head() (src/cached/admit.c): the response head rules of the
 * cache.  One table of heads with the verdict and TTL each must get,
 * both sides of every rule -- status line, CRLF and field syntax, the
 * fields the listener writes, Content-Length, the size limits,
 * Set-Cookie, every form of Cache-Control and Pragma, Vary, and the TTL
 * from s-maxage, max-age, Expires or the cap -- then where the
 * validators are found, and that every prefix of a good head is
 * refused.
 */
#include "config.h"

#include <sys/types.h>

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <check.h>

#include "fixtures.h"
#include "admit.h"
#include "cache.h"
#include "conf.h"
#include "msg.h"

#define OK		(-1)
#define NOW		((time_t)784111777)	/* Sun, 06 Nov 1994 08:49:37 */
#define MAX_TTL		3600000
#define S200		"HTTP/1.1 200 OK\r\n"
#define F(x)		S200 x "\r\n"

struct admit_case {
	const char	*what;
	const char	*head;
	size_t		 len;		/* 0: strlen(head) */
	uint64_t	 body_len;
	int		 reason;	/* OK: admitted */
	uint64_t	 ttl_ms;	/* when admitted */
};

static const struct admit_case admit_cases[] = {
	/* Status line. */
	{ "plain", F("Content-Type: text/html"), 0, 10, OK, MAX_TTL },
	{ "status line alone", S200, 0, 0, OK, MAX_TTL },
	{ "HTTP/1.0", "HTTP/1.0 200 OK\r\n", 0, 0, OK, MAX_TTL },
	{ "no reason phrase", "HTTP/1.1 200\r\n", 0, 0, OK, MAX_TTL },
	{ "empty reason phrase", "HTTP/1.1 200 \r\n", 0, 0, OK, MAX_TTL },
	{ "any reason phrase", "HTTP/1.1 200 Fine \x80\r\n", 0, 0, OK,
	  MAX_TTL },
	{ "404", "HTTP/1.1 404 Not Found\r\n", 0, 0, CR_STATUS, 0 },
	{ "206", "HTTP/1.1 206 Partial Content\r\n", 0, 0, CR_STATUS, 0 },
	{ "304", "HTTP/1.1 304 Not Modified\r\n", 0, 0, CR_STATUS, 0 },
	{ "201", "HTTP/1.1 201 Created\r\n", 0, 0, CR_STATUS, 0 },
	{ "2000", "HTTP/1.1 2000 OK\r\n", 0, 0, CR_STATUS, 0 },
	{ "200OK", "HTTP/1.1 200OK\r\n", 0, 0, CR_STATUS, 0 },
	{ "HTTP/2", "HTTP/2 200 OK\r\n", 0, 0, CR_STATUS, 0 },
	{ "HTTP/1.2", "HTTP/1.2 200 OK\r\n", 0, 0, CR_STATUS, 0 },
	{ "lower-case version", "http/1.1 200 OK\r\n", 0, 0, CR_STATUS, 0 },
	{ "space first", " HTTP/1.1 200 OK\r\n", 0, 0, CR_STATUS, 0 },
	{ "two spaces", "HTTP/1.1  200 OK\r\n", 0, 0, CR_STATUS, 0 },
	{ "empty head", "", 0, 0, CR_STATUS, 0 },
	{ "a field first", "Content-Type: x\r\n" S200, 0, 0, CR_STATUS, 0 },
	{ "not 200, bad syntax too", "HTTP/1.1 500 x\r\nA b\r\n", 0, 0,
	  CR_STATUS, 0 },

	/* Lines. */
	{ "no CRLF at the end", S200 "A: b", 0, 0, CR_INVALID, 0 },
	{ "status line without CRLF", "HTTP/1.1 200 OK", 0, 0, CR_INVALID,
	  0 },
	{ "CR at the end", S200 "A: b\r", 0, 0, CR_INVALID, 0 },
	{ "LF at the end", S200 "A: b\n", 0, 0, CR_INVALID, 0 },
	{ "bare LF", "HTTP/1.1 200 OK\nA: b\r\n", 0, 0, CR_INVALID, 0 },
	{ "bare LF in a value", F("A: b\nC: d"), 0, 0, CR_INVALID, 0 },
	{ "bare CR in a value", F("A: b\rC: d"), 0, 0, CR_INVALID, 0 },
	{ "NUL in a value", F("A: b\0c"), sizeof(F("A: b\0c")) - 1, 0,
	  CR_INVALID, 0 },
	{ "NUL in the reason", "HTTP/1.1 200 O\0K\r\n",
	  sizeof("HTTP/1.1 200 O\0K\r\n") - 1, 0, CR_INVALID, 0 },
	{ "control byte in a value", F("A: b\x01"), 0, 0, CR_INVALID, 0 },
	{ "DEL in a value", F("A: b\x7f"), 0, 0, CR_INVALID, 0 },
	{ "tab and obs-text in a value", F("A: b\tc\x80\xff"), 0, 0, OK,
	  MAX_TTL },
	{ "empty line inside", S200 "\r\nA: b\r\n", 0, 0, CR_INVALID, 0 },
	{ "final empty line", F("A: b") "\r\n", 0, 0, CR_INVALID, 0 },
	{ "obs-fold", F("A: b") " c\r\n", 0, 0, CR_INVALID, 0 },
	{ "space before colon", F("A : b"), 0, 0, CR_INVALID, 0 },
	{ "no colon", F("A b"), 0, 0, CR_INVALID, 0 },
	{ "empty name", F(": b"), 0, 0, CR_INVALID, 0 },
	{ "name with /", F("A/b: c"), 0, 0, CR_INVALID, 0 },
	{ "name with a high byte", F("A\xc3\xa9: c"), 0, 0, CR_INVALID, 0 },
	{ "every tchar", F("!#$%&'*+-.^_`|~09azAZ: c"), 0, 0, OK, MAX_TTL },
	{ "empty value", F("A:"), 0, 0, OK, MAX_TTL },

	/* Fields the listener writes itself. */
	{ "Date", F("Date: Sun, 06 Nov 1994 08:49:37 GMT"), 0, 0, CR_INVALID,
	  0 },
	{ "date", F("date: x"), 0, 0, CR_INVALID, 0 },
	{ "Connection", F("Connection: close"), 0, 0, CR_INVALID, 0 },
	{ "Keep-Alive", F("Keep-Alive: timeout=5"), 0, 0, CR_INVALID, 0 },
	{ "Transfer-Encoding", F("Transfer-Encoding: chunked"), 0, 0,
	  CR_INVALID, 0 },
	{ "Dates is another field", F("Dates: x"), 0, 0, OK, MAX_TTL },
	{ "Connections is another field", F("Connections: x"), 0, 0, OK,
	  MAX_TTL },

	/* Content-Length. */
	{ "Content-Length", F("Content-Length: 10"), 0, 10, OK, MAX_TTL },
	{ "Content-Length 0", F("Content-Length: 0"), 0, 0, OK, MAX_TTL },
	{ "Content-Length with OWS", F("content-length: \t10 "), 0, 10, OK,
	  MAX_TTL },
	{ "two equal Content-Lengths", F("Content-Length: 10\r\n"
	  "Content-Length: 10"), 0, 10, OK, MAX_TTL },
	{ "Content-Length too small", F("Content-Length: 9"), 0, 10,
	  CR_INVALID, 0 },
	{ "Content-Length too large", F("Content-Length: 11"), 0, 10,
	  CR_INVALID, 0 },
	{ "two Content-Lengths", F("Content-Length: 10\r\n"
	  "Content-Length: 11"), 0, 10, CR_INVALID, 0 },
	{ "Content-Length list", F("Content-Length: 10, 10"), 0, 10,
	  CR_INVALID, 0 },
	{ "Content-Length +10", F("Content-Length: +10"), 0, 10, CR_INVALID,
	  0 },
	{ "Content-Length empty", F("Content-Length:"), 0, 0, CR_INVALID, 0 },
	{ "Content-Length overflow", F("Content-Length: "
	  "18446744073709551626"), 0, 10, CR_INVALID, 0 },

	/* Sizes: 1024 bytes of head and 1000 of body at most. */
	{ "body at the limit", S200, 0, 1000, OK, MAX_TTL },
	{ "body over the limit", S200, 0, 1001, CR_SIZE, 0 },
	{ "body over, bad head", "junk", 0, 1001, CR_SIZE, 0 },

	/* Set-Cookie. */
	{ "Set-Cookie", F("Set-Cookie: a=b"), 0, 0, CR_SET_COOKIE, 0 },
	{ "set-cookie", F("set-cookie: a=b"), 0, 0, CR_SET_COOKIE, 0 },
	{ "Set-Cookie2", F("Set-Cookie2: a=b"), 0, 0, CR_SET_COOKIE, 0 },
	{ "Set-Cookie, then bad syntax", F("Set-Cookie: a=b\r\nA b"), 0, 0,
	  CR_INVALID, 0 },
	{ "Set-Cookie, then Vary", F("Set-Cookie: a\r\nVary: *"), 0, 0,
	  CR_SET_COOKIE, 0 },
	{ "Vary, then Set-Cookie", F("Vary: *\r\nSet-Cookie: a"), 0, 0,
	  CR_VARY, 0 },

	/* Cache-Control. */
	{ "no-store", F("Cache-Control: no-store"), 0, 0, CR_NO_STORE, 0 },
	{ "NO-STORE", F("Cache-Control: NO-STORE"), 0, 0, CR_NO_STORE, 0 },
	{ "private", F("Cache-Control: private"), 0, 0, CR_NO_STORE, 0 },
	{ "private=\"Set-Cookie\"", F("Cache-Control: private=\"Set-Cookie\""),
	  0, 0, CR_NO_STORE, 0 },
	{ "no-cache", F("Cache-Control: no-cache"), 0, 0, CR_NO_STORE, 0 },
	{ "no-cache=\"x, y\"", F("Cache-Control: no-cache=\"x, y\""), 0, 0,
	  CR_NO_STORE, 0 },
	{ "no-cache=x", F("Cache-Control: no-cache=x"), 0, 0, CR_NO_STORE,
	  0 },
	{ "public, no-cache", F("Cache-Control: public, no-cache"), 0, 0,
	  CR_NO_STORE, 0 },
	{ "max-age=60,no-store", F("Cache-Control: max-age=60,no-store"), 0,
	  0, CR_NO_STORE, 0 },
	{ "spaces and empty elements", F("Cache-Control: , public ,\t,"
	  " private , "), 0, 0, CR_NO_STORE, 0 },
	{ "in a second field", F("Cache-Control: public\r\n"
	  "Cache-Control: no-store"), 0, 0, CR_NO_STORE, 0 },
	{ "public", F("Cache-Control: public"), 0, 0, OK, MAX_TTL },
	{ "no-storex is another", F("Cache-Control: no-storex"), 0, 0, OK,
	  MAX_TTL },
	{ "xprivate is another", F("Cache-Control: xprivate"), 0, 0, OK,
	  MAX_TTL },
	{ "no-store quoted in another's value",
	  F("Cache-Control: x=\"no-store\""), 0, 0, OK, MAX_TTL },
	{ "a list quoted in another's value",
	  F("Cache-Control: x=\"a, no-store\", public"), 0, 0, OK, MAX_TTL },
	{ "an escaped quote", F("Cache-Control: x=\"a\\\", no-store\""), 0, 0,
	  OK, MAX_TTL },
	{ "an unterminated quote", F("Cache-Control: no-cache=\"x"), 0, 0,
	  CR_INVALID, 0 },
	{ "a quote escaping the end", F("Cache-Control: x=\"a\\"), 0, 0,
	  CR_INVALID, 0 },
	{ "no name", F("Cache-Control: =x"), 0, 0, CR_INVALID, 0 },
	{ "no value", F("Cache-Control: max-age="), 0, 0, CR_INVALID, 0 },
	{ "junk after a value", F("Cache-Control: max-age=60 x"), 0, 0,
	  CR_INVALID, 0 },
	{ "not a token", F("Cache-Control: a/b"), 0, 0, CR_INVALID, 0 },
	{ "Cache-Control empty", F("Cache-Control:"), 0, 0, OK, MAX_TTL },

	/* Pragma. */
	{ "Pragma: no-cache", F("Pragma: no-cache"), 0, 0, CR_NO_STORE, 0 },
	{ "Pragma: x, NO-CACHE", F("Pragma: x, NO-CACHE"), 0, 0, CR_NO_STORE,
	  0 },
	{ "Pragma: x", F("Pragma: x"), 0, 0, OK, MAX_TTL },
	{ "Pragma: no-cachex", F("Pragma: no-cachex"), 0, 0, OK, MAX_TTL },

	/* Vary. */
	{ "Vary: Accept-Encoding", F("Vary: Accept-Encoding"), 0, 0, OK,
	  MAX_TTL },
	{ "Vary: accept-encoding twice", F("Vary: accept-encoding, "
	  "ACCEPT-ENCODING"), 0, 0, OK, MAX_TTL },
	{ "Vary empty", F("Vary:"), 0, 0, OK, MAX_TTL },
	{ "Vary: *", F("Vary: *"), 0, 0, CR_VARY, 0 },
	{ "Content-Encoding: gzip", F("Vary: Accept-Encoding\r\n"
	  "Content-Encoding: gzip"), 0, 0, CR_VARY, 0 },
	{ "Content-Encoding: identity", F("Content-Encoding: identity"), 0, 0,
	  OK, MAX_TTL },
	{ "Vary: Cookie", F("Vary: Cookie"), 0, 0, CR_VARY, 0 },
	{ "Vary: Accept-Encoding, User-Agent", F("Vary: Accept-Encoding, "
	  "User-Agent"), 0, 0, CR_VARY, 0 },
	{ "Vary in two fields", F("Vary: Accept-Encoding\r\n"
	  "Vary: Accept-Language"), 0, 0, CR_VARY, 0 },
	{ "Vary: Accept-Encodings", F("Vary: Accept-Encodings"), 0, 0,
	  CR_VARY, 0 },
	{ "Vary: Accept-Encoding, *", F("Vary: Accept-Encoding,*"), 0, 0,
	  CR_VARY, 0 },

	/* TTL: now is NOW, the cap an hour. */
	{ "s-maxage", F("Cache-Control: s-maxage=60"), 0, 0, OK, 60000 },
	{ "max-age", F("Cache-Control: max-age=120"), 0, 0, OK, 120000 },
	{ "s-maxage before max-age", F("Cache-Control: max-age=120, "
	  "s-maxage=30"), 0, 0, OK, 30000 },
	{ "s-maxage over a lower max-age", F("Cache-Control: max-age=10, "
	  "s-maxage=30"), 0, 0, OK, 30000 },
	{ "S-MAXAGE", F("Cache-Control: S-MAXAGE=5"), 0, 0, OK, 5000 },
	{ "quoted max-age", F("Cache-Control: max-age=\"60\""), 0, 0, OK,
	  60000 },
	{ "two max-ages: the least", F("Cache-Control: max-age=60\r\n"
	  "Cache-Control: max-age=30"), 0, 0, OK, 30000 },
	{ "max-age over the cap", F("Cache-Control: max-age=86400"), 0, 0,
	  OK, MAX_TTL },
	{ "max-age beyond 2^31", F("Cache-Control: max-age="
	  "99999999999999999999999"), 0, 0, OK, MAX_TTL },
	{ "max-age of 2^64 + 5", F("Cache-Control: max-age="
	  "18446744073709551621"), 0, 0, OK, MAX_TTL },
	{ "max-age=0", F("Cache-Control: max-age=0"), 0, 0, CR_EXPIRED, 0 },
	{ "s-maxage=0 beats max-age", F("Cache-Control: s-maxage=0, "
	  "max-age=60"), 0, 0, CR_EXPIRED, 0 },
	{ "max-age not a number", F("Cache-Control: max-age=abc"), 0, 0,
	  CR_EXPIRED, 0 },
	{ "max-age negative", F("Cache-Control: max-age=\"-1\""), 0, 0,
	  CR_EXPIRED, 0 },
	{ "max-age without a value", F("Cache-Control: max-age"), 0, 0,
	  CR_EXPIRED, 0 },
	{ "Expires ahead", F("Expires: Sun, 06 Nov 1994 08:51:17 GMT"), 0, 0,
	  OK, 100000 },
	{ "Expires ahead, RFC 850", F("Expires: Sunday, 06-Nov-94 08:51:17 "
	  "GMT"), 0, 0, OK, 100000 },
	{ "Expires ahead, asctime", F("Expires: Sun Nov  6 08:51:17 1994"),
	  0, 0, OK, 100000 },
	{ "Expires far ahead: the cap", F("Expires: Thu, 01 Jan 2037 "
	  "00:00:00 GMT"), 0, 0, OK, MAX_TTL },
	{ "Expires now", F("Expires: Sun, 06 Nov 1994 08:49:37 GMT"), 0, 0,
	  CR_EXPIRED, 0 },
	{ "Expires past", F("Expires: Sun, 06 Nov 1994 08:49:36 GMT"), 0, 0,
	  CR_EXPIRED, 0 },
	{ "Expires: 0", F("Expires: 0"), 0, 0, CR_EXPIRED, 0 },
	{ "Expires empty", F("Expires:"), 0, 0, CR_EXPIRED, 0 },
	{ "two Expires: the earliest", F("Expires: Sun, 06 Nov 1994 08:59:37 "
	  "GMT\r\nExpires: Sun, 06 Nov 1994 08:50:37 GMT"), 0, 0, OK, 60000 },
	{ "two Expires, one invalid", F("Expires: Sun, 06 Nov 1994 08:59:37 "
	  "GMT\r\nExpires: soon"), 0, 0, CR_EXPIRED, 0 },
	{ "max-age beats Expires", F("Expires: Sun, 06 Nov 1994 08:49:36 GMT"
	  "\r\nCache-Control: max-age=60"), 0, 0, OK, 60000 },
	{ "max-age beats a bad Expires", F("Expires: 0\r\n"
	  "Cache-Control: max-age=60"), 0, 0, OK, 60000 },
	{ "s-maxage beats Expires", F("Expires: Sun, 06 Nov 1994 08:51:17 GMT"
	  "\r\nCache-Control: s-maxage=7"), 0, 0, OK, 7000 },

	/* Validators. */
	{ "two ETags", F("ETag: \"a\"\r\nETag: \"b\""), 0, 0, CR_INVALID, 0 },
	{ "two Last-Modified", F("Last-Modified: a\r\nLast-Modified: b"), 0,
	  0, CR_INVALID, 0 },
	{ "an unparseable Last-Modified", F("Last-Modified: yesterday"), 0, 0,
	  OK, MAX_TTL },
};

static struct conf_cache
limits(void)
{
	struct conf_cache	cc;

	memset(&cc, 0, sizeof(cc));
	cc.cc_enabled = 1;
	cc.cc_max_header = 1024;
	cc.cc_max_entry = 1000;
	cc.cc_max_memory = 1 << 20;
	cc.cc_max_ttl_ms = MAX_TTL;
	return cc;
}

/* admit_head() on an exact-size copy, so a read past it is ASan's. */
static int
admit(const char *head, size_t len, uint64_t body_len,
    const struct conf_cache *cc, struct admit_info *ai)
{
	char	*buf;
	int	 rv;

	buf = malloc(len ? len : 1);
	ck_assert_ptr_nonnull(buf);
	memcpy(buf, head, len);
	rv = admit_head(buf, len, body_len, NOW, cc, ai);
	free(buf);
	return rv;
}

START_TEST(test_admit_table)
{
	const struct admit_case	*c = &admit_cases[_i];
	struct conf_cache	 cc = limits();
	struct admit_info	 ai;
	size_t			 len = c->len ? c->len : strlen(c->head);
	int			 rv;

	rv = admit(c->head, len, c->body_len, &cc, &ai);
	if (c->reason == OK) {
		ck_assert_msg(rv == 0, "case %d (%s) refused: %s (%s)", _i,
		    c->what, cache_reason_names[ai.ai_reason], ai.ai_why);
		ck_assert_msg(ai.ai_ttl_ms == c->ttl_ms,
		    "case %d (%s): TTL %llu, expected %llu", _i, c->what,
		    (unsigned long long)ai.ai_ttl_ms,
		    (unsigned long long)c->ttl_ms);
	} else {
		ck_assert_msg(rv == -1, "case %d (%s) admitted", _i, c->what);
		ck_assert_msg(ai.ai_reason == c->reason,
		    "case %d (%s): %s (%s), expected %s", _i, c->what,
		    cache_reason_names[ai.ai_reason], ai.ai_why,
		    cache_reason_names[c->reason]);
		ck_assert_ptr_nonnull(ai.ai_why);
	}
}
END_TEST

/* max_header_size: a head of exactly the limit is taken, one more byte
 * is not, whatever it says. */
START_TEST(test_admit_head_size)
{
	struct conf_cache	 cc = limits();
	struct admit_info	 ai;
	char			 head[2048];
	size_t			 fill;

	/* S200 + "X: " + fill + CRLF == 1024 */
	fill = 1024 - strlen(S200) - 5;
	memcpy(head, S200 "X: ", strlen(S200) + 3);
	memset(head + strlen(S200) + 3, 'a', fill);
	memcpy(head + 1024 - 2, "\r\n", 2);
	ck_assert_int_eq(admit(head, 1024, 0, &cc, &ai), 0);
	memset(head + strlen(S200) + 3, 'a', fill + 1);
	memcpy(head + 1025 - 2, "\r\n", 2);
	ck_assert_int_eq(admit(head, 1025, 0, &cc, &ai), -1);
	ck_assert_int_eq(ai.ai_reason, CR_HEAD_SIZE);
	cc.cc_max_header = 2048;
	ck_assert_int_eq(admit(head, 1025, 0, &cc, &ai), 0);
	/* Checked before the syntax: a huge head is never parsed. */
	cc.cc_max_header = 4;
	ck_assert_int_eq(admit("junk junk", 9, 0, &cc, &ai), -1);
	ck_assert_int_eq(ai.ai_reason, CR_HEAD_SIZE);
}
END_TEST

/* max_ttl: it caps every TTL and is the TTL when nothing says one; 0
 * caches nothing. */
START_TEST(test_admit_max_ttl)
{
	struct conf_cache	 cc = limits();
	struct admit_info	 ai;
	const char		*h = F("Cache-Control: max-age=60");

	cc.cc_max_ttl_ms = 5000;
	ck_assert_int_eq(admit(h, strlen(h), 0, &cc, &ai), 0);
	ck_assert_int_eq(ai.ai_ttl_ms, 5000);
	ck_assert_int_eq(admit(S200, strlen(S200), 0, &cc, &ai), 0);
	ck_assert_int_eq(ai.ai_ttl_ms, 5000);
	cc.cc_max_ttl_ms = 1500;
	h = F("Expires: Sun, 06 Nov 1994 08:49:38 GMT");
	ck_assert_int_eq(admit(h, strlen(h), 0, &cc, &ai), 0);
	ck_assert_int_eq(ai.ai_ttl_ms, 1000);
	h = F("Expires: Sun, 06 Nov 1994 08:49:39 GMT");
	ck_assert_int_eq(admit(h, strlen(h), 0, &cc, &ai), 0);
	ck_assert_int_eq(ai.ai_ttl_ms, 1500);
	cc.cc_max_ttl_ms = 0;
	ck_assert_int_eq(admit(S200, strlen(S200), 0, &cc, &ai), -1);
	ck_assert_int_eq(ai.ai_reason, CR_EXPIRED);
}
END_TEST

/* ETag and Last-Modified: where their values are, OWS trimmed, and the
 * date read. */
START_TEST(test_admit_validators)
{
	static const char	 h[] = S200 "ETag:  \"abc\" \t\r\n"
				    "Content-Type: text/plain\r\n"
				    "last-modified: Sun, 06 Nov 1994 08:49:37 "
				    "GMT  \r\n";
	struct conf_cache	 cc = limits();
	struct admit_info	 ai;
	const char		*p;

	ck_assert_int_eq(admit(h, sizeof(h) - 1, 0, &cc, &ai), 0);
	ck_assert_int_eq(ai.ai_etag_len, 5);
	ck_assert_int_eq(memcmp(h + ai.ai_etag_off, "\"abc\"", 5), 0);
	ck_assert_int_eq(ai.ai_lm_len, 29);
	p = h + ai.ai_lm_off;
	ck_assert_int_eq(memcmp(p, "Sun, 06 Nov 1994 08:49:37 GMT", 29), 0);
	ck_assert_int_eq(ai.ai_lm_time, 784111777);

	ck_assert_int_eq(admit(S200, strlen(S200), 0, &cc, &ai), 0);
	ck_assert_int_eq(ai.ai_etag_len, 0);
	ck_assert_int_eq(ai.ai_lm_len, 0);
	ck_assert_int_eq(ai.ai_lm_time, -1);

	p = F("Last-Modified: yesterday\r\nETag: W/\"x\"");
	ck_assert_int_eq(admit(p, strlen(p), 0, &cc, &ai), 0);
	ck_assert_int_eq(ai.ai_lm_len, 9);
	ck_assert_int_eq(memcmp(p + ai.ai_lm_off, "yesterday", 9), 0);
	ck_assert_int_eq(ai.ai_lm_time, -1);
	ck_assert_int_eq(ai.ai_etag_len, 5);
	ck_assert_int_eq(memcmp(p + ai.ai_etag_off, "W/\"x\"", 5), 0);

	/* Before 1970 cannot be told from none. */
	p = F("Last-Modified: Wed, 31 Dec 1969 23:59:59 GMT");
	ck_assert_int_eq(admit(p, strlen(p), 0, &cc, &ai), 0);
	ck_assert_int_eq(ai.ai_lm_len, 29);
	ck_assert_int_eq(ai.ai_lm_time, -1);
}
END_TEST

/* Every proper prefix of a good head that does not end a line is
 * refused: the verdict is about the bytes given, never about what may
 * follow them. */
START_TEST(test_admit_prefixes)
{
	static const char	 good[] = S200 "ETag: \"a\"\r\n"
				    "Cache-Control: max-age=60\r\n";
	struct conf_cache	 cc = limits();
	struct admit_info	 ai;
	size_t			 len;

	ck_assert_int_eq(admit(good, sizeof(good) - 1, 0, &cc, &ai), 0);
	for (len = 0; len < sizeof(good) - 1; len++) {
		/* One ending a line is a whole head of its own. */
		if (len > 0 && good[len - 1] == '\n') {
			ck_assert_int_eq(admit(good, len, 0, &cc, &ai), 0);
			continue;
		}
		ck_assert_msg(admit(good, len, 0, &cc, &ai) == -1,
		    "a %zu byte prefix admitted", len);
		ck_assert(ai.ai_reason == CR_STATUS ||
		    ai.ai_reason == CR_INVALID);
	}
}
END_TEST

Suite *
suite_admit(void)
{
	Suite	*s = suite_create("admit");
	TCase	*tc = tcase_create("admit");

	tcase_add_loop_test(tc, test_admit_table, 0,
	    sizeof(admit_cases) / sizeof(admit_cases[0]));
	tcase_add_test(tc, test_admit_head_size);
	tcase_add_test(tc, test_admit_max_ttl);
	tcase_add_test(tc, test_admit_validators);
	tcase_add_test(tc, test_admit_prefixes);
	suite_add_tcase(s, tc);
	return s;
}
