/*
 * Purge texts (src/cached/purge.c): what each form parses to, the texts
 * refused, and a table of texts against keys -- "all", a site, a path on
 * every site and host, a URL with and without a port (IPv6 too), case,
 * percent-encoding, dot segments and queries.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include <check.h>

#include "fixtures.h"
#include "purge.h"

static int
match(const char *text, const char *site, const char *host, const char *path)
{
	struct purge	pg;
	int		rv;

	ck_assert_msg(purge_parse(text, strlen(text), &pg) == 0,
	    "\"%s\" refused", text);
	rv = purge_match(&pg, site, host, strlen(host), path, strlen(path));
	purge_free(&pg);
	return rv;
}

struct purge_case {
	const char	*text;
	const char	*site;
	const char	*host;
	const char	*path;
	int		 match;
};

static const struct purge_case purge_cases[] = {
	{ "all", "www", "a", "/x", 1 },
	{ "all", NULL, "", "/", 1 },
	{ " all\t", "www", "a", "/x", 1 },

	{ "www", "www", "a", "/x", 1 },
	{ "www", "api", "a", "/x", 0 },
	{ "www", "www2", "a", "/x", 0 },
	{ "WWW", "www", "a", "/x", 0 },
	{ "www", NULL, "a", "/x", 0 },
	{ "ALL", "ALL", "a", "/x", 1 },

	{ "/x", "www", "a", "/x", 1 },
	{ "/x", "api", "b:8080", "/x", 1 },
	{ "/x", "www", "a", "/x/", 0 },
	{ "/x", "www", "a", "/xy", 0 },
	{ "/x", "www", "a", "/", 0 },
	{ "/", "www", "a", "/", 1 },
	{ "/a%20b", "www", "a", "/a b", 1 },
	{ "/a/../b//c/./d", "www", "a", "/b/c/d", 1 },
	{ "/x?q=1", "www", "a", "/x?q=1", 1 },
	{ "/x?q=1", "www", "a", "/x", 0 },
	{ "/x?q=%41", "www", "a", "/x?q=%41", 1 },

	{ "http://a/x", "www", "a", "/x", 1 },
	{ "http://a/x", "www", "a:8080", "/x", 1 },
	{ "http://a/x", "www", "a:", "/x", 1 },
	{ "http://a/x", "www", "ab", "/x", 0 },
	{ "http://a/x", "www", "ab:80", "/x", 0 },
	{ "http://a/x", "www", "b", "/x", 0 },
	{ "http://a/x", "www", "a", "/y", 0 },
	{ "http://a/x", "www", "a:80x", "/x", 0 },
	{ "http://A.Example/x", "www", "a.example", "/x", 1 },
	{ "HTTP://a/x", "www", "a", "/x", 1 },
	{ "http://a.example/x", "www", "A.Example:81", "/x", 1 },
	{ "http://a:8080/x", "www", "a:8080", "/x", 1 },
	{ "http://a:8080/x", "www", "a", "/x", 0 },
	{ "http://a:8080/x", "www", "a:80", "/x", 0 },
	{ "http://a:80/x", "www", "a:8080", "/x", 0 },
	{ "http://127.0.0.1:8080/x", "www", "127.0.0.1:8080", "/x", 1 },
	{ "http://127.0.0.1/x", "www", "127.0.0.1:8080", "/x", 1 },
	{ "http://[::1]/x", "www", "[::1]:8080", "/x", 1 },
	{ "http://[::1]/x", "www", "[::1]", "/x", 1 },
	{ "http://[::1]:8080/x", "www", "[::1]:8080", "/x", 1 },
	{ "http://[::1]:8080/x", "www", "[::1]", "/x", 0 },
	{ "http://a", "www", "a", "/", 1 },
	{ "http://a", "www", "a", "/x", 0 },
	{ "http://a?q", "www", "a", "/?q", 1 },
	{ "http://a/%7euser/", "www", "a", "/~user/", 1 },
	{ "http://a/b/../c", "www", "a", "/c", 1 },
};

START_TEST(test_purge_table)
{
	const struct purge_case	*c = &purge_cases[_i];

	ck_assert_msg(match(c->text, c->site, c->host, c->path) == c->match,
	    "case %d: \"%s\" against %s %s%s: expected %d", _i, c->text,
	    c->site ? c->site : "(no site)", c->host, c->path, c->match);
}
END_TEST

START_TEST(test_purge_parse)
{
	struct purge	pg;

	ck_assert_int_eq(purge_parse("all", 3, &pg), 0);
	ck_assert_int_eq(pg.pg_kind, PURGE_ALL);
	purge_free(&pg);
	/* Only len bytes count. */
	ck_assert_int_eq(purge_parse("allx", 3, &pg), 0);
	ck_assert_int_eq(pg.pg_kind, PURGE_ALL);
	purge_free(&pg);
	ck_assert_int_eq(purge_parse("wwwx", 3, &pg), 0);
	ck_assert_int_eq(pg.pg_kind, PURGE_SITE);
	ck_assert_str_eq(pg.pg_site, "www");
	purge_free(&pg);
	ck_assert_int_eq(purge_parse("/a/./b", 6, &pg), 0);
	ck_assert_int_eq(pg.pg_kind, PURGE_PATH);
	ck_assert_str_eq(pg.pg_path, "/a/b");
	ck_assert_int_eq(pg.pg_path_len, 4);
	purge_free(&pg);
	ck_assert_int_eq(purge_parse("http://WWW.A:81/%41?Q", 21, &pg), 0);
	ck_assert_int_eq(pg.pg_kind, PURGE_URL);
	ck_assert_str_eq(pg.pg_host, "www.a:81");
	ck_assert_int_eq(pg.pg_host_len, 8);
	ck_assert_int_eq(pg.pg_host_port, 1);
	ck_assert_str_eq(pg.pg_path, "/A?Q");
	purge_free(&pg);
	ck_assert_int_eq(purge_parse("http://a", 8, &pg), 0);
	ck_assert_int_eq(pg.pg_host_port, 0);
	ck_assert_str_eq(pg.pg_path, "/");
	purge_free(&pg);
}
END_TEST

static const char *const purge_bad[] = {
	"",
	" \t ",
	"http://",
	"http:///x",
	"http://a:/x",
	"http://:80/x",
	"http://a:8o/x",
	"http://a:80:81/x",
	"http://u@a/x",
	"http://[::1/x",
	"http://[::1]x/x",
	"http://[::1]:/x",
	"/..",
	"/a/../..",
	"/a%2",
	"/a%zz",
	"/a%00b",
	"/a\rb",
	"www\n",
	"w\x01w",
	"w\x7fw",
	"http://a/%0a",
};

START_TEST(test_purge_bad)
{
	struct purge	pg;

	ck_assert_msg(purge_parse(purge_bad[_i], strlen(purge_bad[_i]),
	    &pg) == -1, "\"%s\" taken", purge_bad[_i]);
}
END_TEST

START_TEST(test_purge_limits)
{
	struct purge	 pg;
	char		*text;

	ck_assert_ptr_nonnull(text = malloc(PURGE_TEXT_MAX + 1));
	text[0] = '/';
	memset(text + 1, 'a', PURGE_TEXT_MAX);
	ck_assert_int_eq(purge_parse(text, PURGE_TEXT_MAX, &pg), 0);
	ck_assert_int_eq(pg.pg_path_len, PURGE_TEXT_MAX);
	purge_free(&pg);
	ck_assert_int_eq(purge_parse(text, PURGE_TEXT_MAX + 1, &pg), -1);
	/* A NUL in the text is not the end of it. */
	ck_assert_int_eq(purge_parse("www\0x", 5, &pg), -1);
	free(text);
}
END_TEST

Suite *
suite_purge(void)
{
	Suite	*s = suite_create("purge");
	TCase	*tc = tcase_create("purge");

	tcase_add_loop_test(tc, test_purge_table, 0,
	    sizeof(purge_cases) / sizeof(purge_cases[0]));
	tcase_add_test(tc, test_purge_parse);
	tcase_add_loop_test(tc, test_purge_bad, 0,
	    sizeof(purge_bad) / sizeof(purge_bad[0]));
	tcase_add_test(tc, test_purge_limits);
	suite_add_tcase(s, tc);
	return s;
}
