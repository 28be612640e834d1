/*
 * uri_normalize(): the listener's guard against paths that escape a
 * document root.  A table of paths with known answers, then random bytes
 * to show that nothing it accepts can still climb or hide a NUL, CR or LF.
 */
#include "config.h"

#include <sys/types.h>

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <check.h>

#include "fixtures.h"
#include "uri.h"

struct uri_case {
	const char	*in;
	size_t		 len;		/* 0: strlen(in) */
	const char	*out;		/* NULL: rejected */
};

static const struct uri_case uri_cases[] = {
	{ "/", 0, "/" },
	{ "/index.html", 0, "/index.html" },
	{ "/a/b/c", 0, "/a/b/c" },
	{ "/dir/", 0, "/dir/" },
	{ "/a/b/", 0, "/a/b/" },
	{ "//a///b", 0, "/a/b" },
	{ "//", 0, "/" },
	{ "///a//", 0, "/a/" },
	{ "/.", 0, "/" },
	{ "/./", 0, "/" },
	{ "/a/.", 0, "/a/" },
	{ "/a/./b", 0, "/a/b" },
	{ "/a/..", 0, "/" },
	{ "/a/../", 0, "/" },
	{ "/a/b/..", 0, "/a/" },
	{ "/a/b/../c", 0, "/a/c" },
	{ "/a/b/../../c/", 0, "/c/" },
	{ "/a/./../b/./c/..", 0, "/b/" },
	{ "/...", 0, "/..." },
	{ "/..a/a..", 0, "/..a/a.." },
	{ "/.hidden", 0, "/.hidden" },
	{ "/a%20b", 0, "/a b" },
	{ "/%41%62c", 0, "/Abc" },
	{ "/%7e%7E", 0, "/~~" },
	{ "/a+b", 0, "/a+b" },
	{ "/%25", 0, "/%" },
	{ "/%2541", 0, "/%41" },
	{ "/a%2fb", 0, "/a/b" },
	{ "/a%2F..%2Fb", 0, "/b" },
	{ "/a/%2e", 0, "/a/" },
	{ "/a/%2e%2e", 0, "/" },
	{ "/a/b/%2E%2e/", 0, "/a/" },
	{ "/\xc3\xa9t\xc3\xa9", 0, "/\xc3\xa9t\xc3\xa9" },

	/* Climbing above the root, plain or encoded. */
	{ "/..", 0, NULL },
	{ "/../", 0, NULL },
	{ "/../x", 0, NULL },
	{ "/a/../../x", 0, NULL },
	{ "/a/b/../../../x", 0, NULL },
	{ "/./../x", 0, NULL },
	{ "//../x", 0, NULL },
	{ "/%2e%2e/x", 0, NULL },
	{ "/%2E%2E", 0, NULL },
	{ "/a/%2E%2E/%2e%2e/x", 0, NULL },
	{ "/%2e%2e%2fx", 0, NULL },
	{ "/.%2e/x", 0, NULL },

	/* Bad escapes, NULs, CR and LF. */
	{ "/%2", 0, NULL },
	{ "/%", 0, NULL },
	{ "/a%", 0, NULL },
	{ "/%zz", 0, NULL },
	{ "/%g0", 0, NULL },
	{ "/%0g", 0, NULL },
	{ "/% 1", 0, NULL },
	{ "/a%00b", 0, NULL },
	{ "/a\0b", 4, NULL },
	{ "/\0", 2, NULL },
	{ "/a%0d%0ab", 0, NULL },
	{ "/a%0Db", 0, NULL },
	{ "/a%0Ab", 0, NULL },
	{ "/%0a", 0, NULL },
	{ "/a\rb", 0, NULL },
	{ "/a\nb", 0, NULL },
	{ "/a%09b", 0, "/a\tb" },

	/* Not a path. */
	{ "", 0, NULL },
	{ "a/b", 0, NULL },
	{ "%2fa", 0, NULL },
	{ "*", 0, NULL },
	{ "http://x/", 0, NULL },
};

START_TEST(test_uri_table)
{
	const struct uri_case	*c = &uri_cases[_i];
	size_t			 len = c->len ? c->len : strlen(c->in);
	char			 out[256];
	ssize_t			 n;

	memset(out, 'X', sizeof(out));
	n = uri_normalize(c->in, len, out, len + 1);
	if (c->out == NULL) {
		ck_assert_msg(n == -1, "case %d \"%s\": accepted as \"%s\"",
		    _i, c->in, out);
	} else {
		ck_assert_msg(n >= 0, "case %d \"%s\": rejected", _i, c->in);
		ck_assert_str_eq(out, c->out);
		ck_assert_int_eq(n, strlen(c->out));
	}
}
END_TEST

START_TEST(test_uri_outsz)
{
	char	out[16];

	/* outsz must be > len. */
	ck_assert_int_eq(uri_normalize("/abc", 4, out, 4), -1);
	ck_assert_int_eq(uri_normalize("/abc", 4, out, 5), 4);
	ck_assert_str_eq(out, "/abc");
	ck_assert_int_eq(uri_normalize("/abc", 0, out, sizeof(out)), -1);
	/* len, not the NUL, bounds the input. */
	ck_assert_int_eq(uri_normalize("/abc/def", 4, out, sizeof(out)), 4);
	ck_assert_str_eq(out, "/abc");
	ck_assert_int_eq(uri_normalize("/a%41", 4, out, sizeof(out)), -1);
}
END_TEST

START_TEST(test_uri_long)
{
	size_t	 n = 64 * 1024, i;
	char	*in, *out;
	ssize_t	 r;

	in = malloc(n + 1);
	out = malloc(n + 1);
	ck_assert_ptr_nonnull(in);
	ck_assert_ptr_nonnull(out);

	for (i = 0; i < n; i += 2)
		memcpy(in + i, "/a", 2);
	r = uri_normalize(in, n, out, n + 1);
	ck_assert_int_eq(r, n);
	ck_assert(memcmp(in, out, n) == 0 && out[n] == '\0');

	/* Deep, then all the way back up: exactly the root. */
	for (i = 0; i < n / 4; i += 2)
		memcpy(in + i, "/a", 2);
	for (; i + 3 <= n; i += 3)
		memcpy(in + i, "/..", 3);
	r = uri_normalize(in, i, out, n + 1);
	/* n/8 segments down, n/4 ".." up. */
	ck_assert_int_eq(r, -1);

	for (i = 0; i < 3000; i += 2)
		memcpy(in + i, "/a", 2);
	for (; i < 3000 + 1500 * 3; i += 3)
		memcpy(in + i, "/..", 3);
	r = uri_normalize(in, i, out, n + 1);
	ck_assert_int_eq(r, 1);
	ck_assert_str_eq(out, "/");

	/* A long run of escapes decodes to a third of its length. */
	for (i = 1; i + 3 <= n; i += 3)
		memcpy(in + i, "%61", 3);
	in[0] = '/';
	r = uri_normalize(in, i, out, n + 1);
	ck_assert_int_eq(r, 1 + (i - 1) / 3);
	free(in);
	free(out);
}
END_TEST

/* What no accepted output may contain. */
static void
uri_check_safe(const char *in, size_t len, const char *out, ssize_t n)
{
	char	again[600];
	ssize_t	m;

	ck_assert_msg(n >= 1 && (size_t)n <= len, "length %zd for %zu", n, len);
	ck_assert(out[0] == '/');
	ck_assert_msg(strlen(out) == (size_t)n, "a NUL inside the output");
	ck_assert_msg(strpbrk(out, "\r\n") == NULL, "CR or LF in the output");
	ck_assert(strstr(out, "//") == NULL);
	ck_assert(strstr(out, "/./") == NULL);
	ck_assert(strstr(out, "/../") == NULL);
	ck_assert(!(n >= 2 && strcmp(out + n - 2, "/.") == 0));
	ck_assert(!(n >= 3 && strcmp(out + n - 3, "/..") == 0));
	(void)in;
	/* Normalising a normal path changes nothing (unless '%' appeared). */
	if (strchr(out, '%') == NULL) {
		m = uri_normalize(out, n, again, sizeof(again));
		ck_assert_int_eq(m, n);
		ck_assert_str_eq(again, out);
	}
}

START_TEST(test_uri_random)
{
	/* Bytes that matter, weighted over the rest. */
	static const char	 alpha[] = "/./..%2e2E%fF0aAdD/\0\xff \r\n";
	char			 in[512], out[513];
	unsigned int		 seed = 12345 + _i;
	size_t			 len, i;
	ssize_t			 n;
	int			 round, accepted = 0;

	for (round = 0; round < 20000; round++) {
		len = 1 + rand_r(&seed) % (sizeof(in) - 1);
		if (round % 4 == 0)
			len = 1 + rand_r(&seed) % 12;
		for (i = 0; i < len; i++) {
			if (rand_r(&seed) % 4 == 0)
				in[i] = (char)(rand_r(&seed) & 0xff);
			else
				in[i] = alpha[rand_r(&seed) %
				    (sizeof(alpha) - 1)];
		}
		if (rand_r(&seed) % 8 != 0)
			in[0] = '/';
		memset(out, 'X', sizeof(out));
		n = uri_normalize(in, len, out, len + 1);
		if (n == -1)
			continue;
		accepted++;
		uri_check_safe(in, len, out, n);
	}
	/* The generator must exercise the accepting path too. */
	ck_assert_int_gt(accepted, 1000);
}
END_TEST

Suite *
suite_uri(void)
{
	Suite	*s = suite_create("uri");
	TCase	*tc = tcase_create("normalize");

	tcase_add_loop_test(tc, test_uri_table, 0,
	    sizeof(uri_cases) / sizeof(uri_cases[0]));
	tcase_add_test(tc, test_uri_outsz);
	tcase_add_test(tc, test_uri_long);
	tcase_add_loop_test(tc, test_uri_random, 0, 4);
	tcase_set_timeout(tc, 60);
	suite_add_tcase(s, tc);
	return s;
}
