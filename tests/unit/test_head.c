/*
 * head_check(): the RFC 9112 rules the listener and the worker both
 * apply to every request head.  One table of heads and the status each
 * must get, both sides of every rule, then checks that the verdict never
 * depends on bytes past the head and that what it reports points into it.
 */
#include "config.h"

#include <sys/types.h>

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <check.h>

#include "fixtures.h"
#include "head.h"

struct head_case {
	const char	*what;
	const char	*head;
	size_t		 len;		/* 0: strlen(head) */
	int		 status;
};

#define H(x)	"Host: x\r\n" x
#define GET(x)	"GET / HTTP/1.1\r\n" x "\r\n"
#define POST(x)	"POST / HTTP/1.1\r\nHost: x\r\n" x "\r\n"
#define TE(x)	POST("Transfer-Encoding: " x "\r\n")

static const struct head_case head_cases[] = {
	/* Request line. */
	{ "plain", GET(H("")), 0, 0 },
	{ "HTTP/1.0 without Host", "GET / HTTP/1.0\r\n\r\n", 0, 0 },
	{ "HTTP/1.2 is 1.x", "GET / HTTP/1.2\r\nHost: x\r\n\r\n", 0, 0 },
	{ "empty lines first", "\r\n\nGET / HTTP/1.1\r\nHost: x\r\n\r\n", 0, 0 },
	{ "absolute-form", "GET http://a/b HTTP/1.1\r\nHost: a\r\n\r\n", 0, 0 },
	{ "high bytes in target", "GET /\xc3\xa9 HTTP/1.1\r\nHost: x\r\n\r\n",
	  0, 0 },
	{ "no version", "GET /\r\n\r\n", 0, 400 },
	{ "no version, fields", "GET /\r\nHost: x\r\n\r\n", 0, 400 },
	{ "extra part", "GET / HTTP/1.1 x\r\nHost: x\r\n\r\n", 0, 400 },
	{ "extra part in the middle", "GET / / HTTP/1.1\r\nHost: x\r\n\r\n",
	  0, 400 },
	{ "trailing space", "GET / HTTP/1.1 \r\nHost: x\r\n\r\n", 0, 400 },
	{ "two spaces before target", "GET  / HTTP/1.1\r\nHost: x\r\n\r\n",
	  0, 400 },
	{ "two spaces before version", "GET /  HTTP/1.1\r\nHost: x\r\n\r\n",
	  0, 400 },
	{ "tab separator", "GET\t/ HTTP/1.1\r\nHost: x\r\n\r\n", 0, 400 },
	{ "no target", "GET  HTTP/1.1\r\nHost: x\r\n\r\n", 0, 400 },
	{ "lower-case version", "GET / http/1.1\r\nHost: x\r\n\r\n", 0, 400 },
	{ "two-digit major", "GET / HTTP/11.0\r\nHost: x\r\n\r\n", 0, 400 },
	{ "version without minor", "GET / HTTP/1\r\nHost: x\r\n\r\n", 0, 400 },
	{ "bare CR first", "\rGET / HTTP/1.1\r\nHost: x\r\n\r\n", 0, 400 },
	{ "CR in target", "GET /a\rb HTTP/1.1\r\nHost: x\r\n\r\n", 0, 400 },
	{ "HTTP/2.0", "GET / HTTP/2.0\r\nHost: x\r\n\r\n", 0, 505 },
	{ "HTTP/0.9 spelled out", "GET / HTTP/0.9\r\n\r\n", 0, 505 },
	{ "HTTP/3.1, bad fields too", "GET / HTTP/3.1\r\n Host: x\r\n\r\n",
	  0, 505 },
	{ "OPTIONS *", "OPTIONS * HTTP/1.1\r\nHost: x\r\n\r\n", 0, 0 },
	{ "GET *", "GET * HTTP/1.1\r\nHost: x\r\n\r\n", 0, 400 },
	{ "OPTIONS *x", "OPTIONS *x HTTP/1.1\r\nHost: x\r\n\r\n", 0, 0 },

	/* Line endings. */
	{ "bare LF throughout", "GET / HTTP/1.1\nHost: x\nA: b\n\n", 0, 0 },
	{ "bare LF in a CRLF head", "GET / HTTP/1.1\r\nHost: x\nA: b\r\n\r\n",
	  0, 400 },
	{ "CRLF in an LF head", "GET / HTTP/1.1\nHost: x\r\n\n", 0, 400 },
	{ "CRLF end of an LF head", "GET / HTTP/1.1\nHost: x\n\r\n", 0, 400 },
	{ "no empty line", "GET / HTTP/1.1\r\nHost: x\r\n", 0, 400 },
	{ "bytes after the head", GET(H("")) "GET", 0, 400 },
	{ "empty", "", 0, 400 },

	/* Field lines. */
	{ "obs-fold", GET(H("A: b\r\n c\r\n")), 0, 400 },
	{ "obs-fold with tab", GET(H("A: b\r\n\tc\r\n")), 0, 400 },
	{ "space before the first field", GET(" Host: x\r\n"), 0, 400 },
	{ "space before colon", GET("Host : x\r\n"), 0, 400 },
	{ "tab before colon", GET(H("A\t: b\r\n")), 0, 400 },
	{ "no colon", GET(H("No colon here\r\n")), 0, 400 },
	{ "empty name", GET(H(": b\r\n")), 0, 400 },
	{ "name with ()", GET(H("A(b): c\r\n")), 0, 400 },
	{ "name with /", GET(H("A/b: c\r\n")), 0, 400 },
	{ "name with @", GET(H("A@b: c\r\n")), 0, 400 },
	{ "name with a high byte", GET(H("A\xc3\xa9: c\r\n")), 0, 400 },
	{ "every tchar", GET(H("!#$%&'*+-.^_`|~09azAZ: c\r\n")), 0, 0 },
	{ "empty value", GET(H("A:\r\n")), 0, 0 },
	{ "value spaces and tabs", GET(H("A: \t b \t c \t\r\n")), 0, 0 },
	{ "obs-text in value", GET(H("A: \x80\xff\r\n")), 0, 0 },
	{ "every VCHAR in value", GET(H("A: !\"#$%&'()*+,-./09:;<=>?@AZ[\\]^_`az"
	  "{|}~\r\n")), 0, 0 },
	{ "NUL in value", GET(H("A: b\0c\r\n")), sizeof(GET(H("A: b\0c\r\n"))) - 1,
	  400 },
	{ "CR in value", GET(H("A: b\rc: d\r\n")), 0, 400 },
	{ "CR at value's end", GET(H("A: b\r\r\n")), 0, 400 },
	{ "LF in value", GET(H("A: b\nc: d\r\n")), 0, 400 },
	{ "control in value", GET(H("A: b\x01\r\n")), 0, 400 },
	{ "DEL in value", GET(H("A: b\x7f\r\n")), 0, 400 },

	/* Host. */
	{ "no Host in 1.1", GET(""), 0, 400 },
	{ "absolute-form without Host",
	  "GET http://a/b HTTP/1.1\r\n\r\n", 0, 400 },
	{ "two Hosts", GET("Host: a\r\nHost: a\r\n"), 0, 400 },
	{ "an empty Host, then one", GET("Host:\r\nHost: a\r\n"), 0, 400 },
	{ "two Hosts in 1.0", "GET / HTTP/1.0\r\nHost: a\r\nhost: b\r\n\r\n",
	  0, 400 },
	{ "Host in any case", GET("hOsT: a\r\n"), 0, 0 },
	{ "empty Host", GET("Host:\r\n"), 0, 0 },
	{ "reg-name", GET("Host: www.example.org\r\n"), 0, 0 },
	{ "reg-name, port", GET("Host: www.example.org:8080\r\n"), 0, 0 },
	{ "empty port", GET("Host: example.org:\r\n"), 0, 0 },
	{ "trailing dot", GET("Host: example.org.\r\n"), 0, 0 },
	{ "sub-delims, pct", GET("Host: a-b_c~!$&'()*+,;=%41\r\n"), 0, 0 },
	{ "IPv4", GET("Host: 127.0.0.1:80\r\n"), 0, 0 },
	{ "IPv6", GET("Host: [::1]\r\n"), 0, 0 },
	{ "IPv6, port", GET("Host: [::1]:8080\r\n"), 0, 0 },
	{ "IPv6 with IPv4", GET("Host: [::ffff:10.0.0.1]:80\r\n"), 0, 0 },
	{ "spaces around Host", GET("Host: \t a:1 \t\r\n"), 0, 0 },
	{ "space in Host", GET("Host: a b\r\n"), 0, 400 },
	{ "slash in Host", GET("Host: a/b\r\n"), 0, 400 },
	{ "userinfo in Host", GET("Host: u@a\r\n"), 0, 400 },
	{ "bad pct in Host", GET("Host: a%4\r\n"), 0, 400 },
	{ "letter in port", GET("Host: a:8o\r\n"), 0, 400 },
	{ "two ports", GET("Host: a:1:2\r\n"), 0, 400 },
	{ "bare IPv6", GET("Host: ::1\r\n"), 0, 400 },
	{ "bad IPv6", GET("Host: [::g]\r\n"), 0, 400 },
	{ "unclosed IPv6", GET("Host: [::1\r\n"), 0, 400 },
	{ "empty brackets", GET("Host: []\r\n"), 0, 400 },
	{ "IPvFuture", GET("Host: [v1.x]\r\n"), 0, 400 },
	{ "junk after IPv6", GET("Host: [::1]x\r\n"), 0, 400 },
	{ "quote in Host", GET("Host: \"a\"\r\n"), 0, 400 },

	/* Transfer-Encoding. */
	{ "chunked", TE("chunked"), 0, 0 },
	{ "CHUNKED", TE("CHUNKED"), 0, 0 },
	{ "gzip, chunked", TE("gzip, chunked"), 0, 0 },
	{ "gzip,chunked", TE("gzip,chunked"), 0, 0 },
	{ "x-gzip , deflate,  chunked ", TE("x-gzip , deflate,  chunked "),
	  0, 0 },
	{ "parameter before chunked", TE("gzip;q=1 ; a=b, chunked"), 0, 0 },
	{ "two fields make a list",
	  POST("Transfer-Encoding: gzip\r\nTransfer-Encoding: chunked\r\n"),
	  0, 0 },
	{ "TE in HTTP/1.0", "POST / HTTP/1.0\r\n"
	  "Transfer-Encoding: chunked\r\n\r\n", 0, 400 },
	{ "chunked, gzip", TE("chunked, gzip"), 0, 400 },
	{ "gzip, deflate", TE("gzip, deflate"), 0, 400 },
	{ "chunked twice", TE("chunked, chunked"), 0, 400 },
	{ "chunked in two fields",
	  POST("Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n"),
	  0, 400 },
	{ "chunked, then gzip in a field",
	  POST("Transfer-Encoding: chunked\r\nTransfer-Encoding: gzip\r\n"),
	  0, 400 },
	{ "empty TE", TE(""), 0, 400 },
	{ "empty TE after chunked",
	  POST("Transfer-Encoding: chunked\r\nTransfer-Encoding:\r\n"), 0, 400 },
	{ "trailing comma", TE("chunked,"), 0, 400 },
	{ "leading comma", TE(",chunked"), 0, 400 },
	{ "empty element", TE("gzip,,chunked"), 0, 400 },
	{ "tab after chunked", TE("chunked\t"), 0, 400 },
	{ "parameter on chunked", TE("chunked;a=b"), 0, 400 },
	{ "quoted parameter", TE("gzip;a=\"b\", chunked"), 0, 400 },
	{ "not a token", TE("a b, chunked"), 0, 400 },
	{ "xchunked", TE("xchunked"), 0, 501 },
	{ "gzip alone", TE("gzip"), 0, 501 },
	{ "unknown alone", TE("foo"), 0, 501 },
	{ "unknown, chunked", TE("foo, chunked"), 0, 501 },
	{ "identity", TE("identity"), 0, 501 },
	{ "Transfer-Encodingx is another field", POST("Transfer-Encodingx: foo\r\n"),
	  0, 0 },
};

START_TEST(test_head_table)
{
	const struct head_case	*c = &head_cases[_i];
	size_t			 len = c->len ? c->len : strlen(c->head);
	char			*buf;
	int			 status;

	/* An exact-size copy, so a read past the head is ASan's to see. */
	buf = malloc(len ? len : 1);
	ck_assert_ptr_nonnull(buf);
	memcpy(buf, c->head, len);
	status = head_check(buf, len, NULL);
	ck_assert_msg(status == c->status, "case %d (%s): %d, expected %d",
	    _i, c->what, status, c->status);
	free(buf);
}
END_TEST

/* Every proper prefix of a good head is refused: the verdict is about the
 * bytes given, never about what may follow them. */
START_TEST(test_head_prefixes)
{
	static const char	 good[] = "\r\nOPTIONS * HTTP/1.1\r\n"
				    "Host: [::1]:80\r\nTransfer-Encoding: gzip, "
				    "chunked\r\nA: b\r\n\r\n";
	struct head_info	 hi;
	size_t			 n;
	char			*buf;

	ck_assert_int_eq(head_check(good, sizeof(good) - 1, &hi), 0);
	for (n = 0; n < sizeof(good) - 1; n++) {
		buf = malloc(n ? n : 1);
		ck_assert_ptr_nonnull(buf);
		memcpy(buf, good, n);
		ck_assert_msg(head_check(buf, n, NULL) == 400,
		    "prefix of %zu bytes accepted", n);
		free(buf);
	}
}
END_TEST

START_TEST(test_head_info)
{
	static const char	 a[] = "GET / HTTP/1.1\r\nA: b\r\n"
				    "hOST: \t[::1]:8080 \t\r\n\r\n";
	static const char	 b[] = "OPTIONS * HTTP/1.0\r\n\r\n";
	static const char	 c[] = "GET / HTTP/1.1\r\nHost:\r\n\r\n";
	struct head_info	 hi;

	ck_assert_int_eq(head_check(a, sizeof(a) - 1, &hi), 0);
	ck_assert(hi.hi_has_host && !hi.hi_options_any);
	ck_assert_int_eq(hi.hi_host_len, 10);
	ck_assert(memcmp(a + hi.hi_host_off, "[::1]:8080", 10) == 0);

	ck_assert_int_eq(head_check(b, sizeof(b) - 1, &hi), 0);
	ck_assert(!hi.hi_has_host && hi.hi_options_any);
	ck_assert_int_eq(hi.hi_host_len, 0);

	ck_assert_int_eq(head_check(c, sizeof(c) - 1, &hi), 0);
	ck_assert(hi.hi_has_host && !hi.hi_options_any);
	ck_assert_int_eq(hi.hi_host_len, 0);

	/* OPTIONS with a path is an ordinary request. */
	ck_assert_int_eq(head_check("OPTIONS /* HTTP/1.0\r\n\r\n", 23, &hi), 0);
	ck_assert(!hi.hi_options_any);
}
END_TEST

/* Random bytes around a good head: never a crash or a read out of bounds
 * (under ASan), and nothing accepted that has a CR or NUL in a field. */
START_TEST(test_head_random)
{
	static const char	 alpha[] = "GET / HTTP/1.1\r\nHost: a:1[]\t"
				    "Transfer-Encoding: chunked,;=\0\x80";
	char			 buf[256];
	unsigned int		 seed = 4242 + _i;
	size_t			 len, i;
	int			 round, st, accepted = 0;

	for (round = 0; round < 50000; round++) {
		static const char base[] = "GET / HTTP/1.1\r\nHost: a\r\n"
		    "Transfer-Encoding: chunked\r\n\r\n";

		len = sizeof(base) - 1;
		memcpy(buf, base, len);
		/* A few random changes to a good head. */
		for (i = rand_r(&seed) % 3; i < 3; i++)
			buf[rand_r(&seed) % len] = rand_r(&seed) % 4 == 0 ?
			    (char)rand_r(&seed) :
			    alpha[rand_r(&seed) % (sizeof(alpha) - 1)];
		st = head_check(buf, len, NULL);
		ck_assert(st == 0 || st == 400 || st == 501 || st == 505);
		if (st != 0)
			continue;
		accepted++;
		ck_assert(memchr(buf, '\0', len) == NULL);
		for (i = 0; i + 1 < len; i++)
			ck_assert_msg(buf[i] != '\r' || buf[i + 1] == '\n',
			    "bare CR accepted at %zu: %.*s", i, (int)len, buf);
	}
	ck_assert_int_gt(accepted, 100);
}
END_TEST

Suite *
suite_head(void)
{
	Suite	*s = suite_create("head");
	TCase	*tc = tcase_create("check");

	tcase_add_loop_test(tc, test_head_table, 0,
	    sizeof(head_cases) / sizeof(head_cases[0]));
	tcase_add_test(tc, test_head_prefixes);
	tcase_add_test(tc, test_head_info);
	tcase_add_loop_test(tc, test_head_random, 0, 2);
	tcase_set_timeout(tc, 60);
	suite_add_tcase(s, tc);
	return s;
}
