/*
 * hsd-cached's entries (src/cached/store.c): lookups by key and id, the
 * memory accounting, LRU eviction in hit order, expiry in time order,
 * the scavenger, purges by site, the activity table's period and its
 * bound, and inotify: a change, a removal or a rename of an entry's file
 * drops every entry of that file and no other, within the loop's next
 * round.  Drops the listener would be told of are recorded here, in
 * place of hsd-cached's channel.
 */
#include "config.h"

#include <sys/types.h>

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <check.h>
#include <event2/event.h>

#include "fixtures.h"
#include "cached.h"
#include "conf.h"
#include "msg.h"
#include "purge.h"
#include "store.h"

/* What the listener would have been told. */
static uint32_t	told[8192];
static size_t	ntold;

void
cached_tell_drop(uint32_t id)
{
	ck_assert_uint_lt(ntold, sizeof(told) / sizeof(told[0]));
	told[ntold++] = id;
}

static int
was_told(uint32_t id)
{
	size_t	i;

	for (i = 0; i < ntold; i++)
		if (told[i] == id)
			return 1;
	return 0;
}

static struct event_base	*base;

static void
setup(void)
{
	ntold = 0;
	ck_assert_ptr_nonnull(base = event_base_new());
	ck_assert_int_eq(store_init(base), 0);
}

static void
teardown(void)
{
	store_clear(0);
	event_base_free(base);
}

/* An entry of site 0, host "h", path p, size and expiry as given. */
static struct store_entry *
add(const char *path, uint64_t size, uint64_t expires_ms, uint64_t hit_ms)
{
	struct store_entry	*e;

	e = store_new(0, "h", 1, path, strlen(path));
	ck_assert_ptr_nonnull(e);
	e->se_size = size;
	e->se_created_ms = 0;
	e->se_expires_ms = expires_ms;
	e->se_hit_ms = hit_ms;
	ck_assert_int_eq(store_insert(e), 0);
	return e;
}

static struct msg_cache_stats
stats(void)
{
	struct msg_cache_stats	cs;

	memset(&cs, 0, sizeof(cs));
	store_stats(&cs);
	return cs;
}

START_TEST(test_store_lookup)
{
	struct store_entry	*a, *b, *c;
	uint32_t		 id;

	a = add("/a", 10, 1000, 0);
	b = add("/b", 20, 1000, 0);
	c = store_new(1, "h", 1, "/a", 2);
	c->se_size = 30;
	c->se_expires_ms = 1000;
	ck_assert_int_eq(store_insert(c), 0);
	ck_assert(a->se_id != b->se_id && b->se_id != c->se_id &&
	    a->se_id != 0);
	ck_assert_ptr_eq(store_find(0, "h", 1, "/a", 2), a);
	ck_assert_ptr_eq(store_find(1, "h", 1, "/a", 2), c);
	ck_assert_ptr_null(store_find(0, "h", 1, "/c", 2));
	ck_assert_ptr_null(store_find(0, "x", 1, "/a", 2));
	/* The key is host and path apart: "h/a" split another way. */
	ck_assert_ptr_null(store_find(0, "h/", 2, "a", 1));
	ck_assert_ptr_eq(store_find_id(b->se_id), b);
	ck_assert_uint_eq(stats().cs_entries, 3);
	ck_assert_uint_eq(stats().cs_memory, 60);

	id = a->se_id;
	store_drop(a, 1);
	ck_assert_ptr_null(store_find(0, "h", 1, "/a", 2));
	ck_assert_ptr_null(store_find_id(id));
	ck_assert(was_told(id));
	store_drop(b, 0);
	ck_assert_uint_eq(ntold, 1);
	ck_assert_uint_eq(stats().cs_entries, 1);
	ck_assert_uint_eq(stats().cs_memory, 30);
	ck_assert_uint_eq(stats().cs_dropped, 2);
	ck_assert_ptr_eq(store_find(1, "h", 1, "/a", 2), c);
}
END_TEST

/*
 * Thousands of entries: the tables grow and every one is still found;
 * with a third of them dropped from anywhere in the expiry order,
 * expiry takes the rest exactly in time order, whatever the order they
 * came in.
 */
START_TEST(test_store_many)
{
	struct store_entry	*e;
	char			 path[32];
	uint32_t		 ids[3000];
	uint64_t		 exp[3000], t;
	int			 i, n = 3000, left;
	size_t			 before;

	for (i = 0; i < n; i++) {
		snprintf(path, sizeof(path), "/%d", i);
		/* Expiry times scrambled: (i * 7919) % n, all distinct. */
		exp[i] = 1 + (uint64_t)(i * 7919) % n;
		e = add(path, 1, exp[i], 0);
		ids[i] = e->se_id;
	}
	for (i = 0; i < n; i++) {
		snprintf(path, sizeof(path), "/%d", i);
		e = store_find(0, "h", 1, path, strlen(path));
		ck_assert_ptr_nonnull(e);
		ck_assert_ptr_eq(store_find_id(ids[i]), e);
	}
	for (i = 0; i < n; i += 3) {
		store_drop(store_find_id(ids[i]), 0);
		exp[i] = 0;
	}
	before = ntold;
	for (t = 1; t <= (uint64_t)n + 1; t += 97) {
		store_tick(t, 0);
		for (i = 0, left = 0; i < n; i++) {
			e = store_find_id(ids[i]);
			ck_assert_msg((e != NULL) == (exp[i] > t),
			    "entry %d expiring at %llu, at %llu", i,
			    (unsigned long long)exp[i], (unsigned long long)t);
			left += e != NULL;
		}
		ck_assert_uint_eq(stats().cs_entries, left);
	}
	store_tick(n, 0);
	ck_assert_uint_eq(stats().cs_entries, 0);
	ck_assert_uint_eq(ntold - before, n - (n + 2) / 3);
}
END_TEST

START_TEST(test_store_expiry)
{
	struct store_entry	*a, *b, *c;
	uint32_t		 ida, idb, idc;

	a = add("/a", 1, 500, 0);
	b = add("/b", 1, 300, 0);
	c = add("/c", 1, 900, 0);
	ida = a->se_id;
	idb = b->se_id;
	idc = c->se_id;
	store_tick(299, 0);
	ck_assert_uint_eq(ntold, 0);
	store_tick(300, 0);
	ck_assert_uint_eq(ntold, 1);
	ck_assert_uint_eq(told[0], idb);
	/* Dropped otherwise, it is out of the expiry order too. */
	store_drop(a, 1);
	store_tick(899, 0);
	ck_assert_uint_eq(ntold, 2);
	ck_assert_uint_eq(told[1], ida);
	store_tick(10000, 0);
	ck_assert_uint_eq(ntold, 3);
	ck_assert_uint_eq(told[2], idc);
}
END_TEST

/* The least recently hit go first; a hit moves an entry to the back. */
START_TEST(test_store_lru)
{
	struct store_entry	*a, *b, *c;
	uint32_t		 ida, idb, idc;

	a = add("/a", 100, 100000, 0);
	b = add("/b", 100, 100000, 0);
	c = add("/c", 100, 100000, 0);
	ida = a->se_id;
	idb = b->se_id;
	idc = c->se_id;
	store_hit(ida, 3, 10);
	ck_assert_uint_eq(a->se_hits, 3);
	store_hit(12345678, 1, 10);		/* unknown: ignored */
	ck_assert_int_eq(store_make_room(100, 400), 0);
	ck_assert_uint_eq(ntold, 0);
	ck_assert_int_eq(store_make_room(100, 300), 0);
	ck_assert_uint_eq(ntold, 1);
	ck_assert_uint_eq(told[0], idb);
	ck_assert_int_eq(store_make_room(150, 300), 0);
	ck_assert_uint_eq(ntold, 2);
	ck_assert_uint_eq(told[1], idc);
	ck_assert_ptr_eq(store_find_id(ida), a);
	ck_assert_int_eq(store_make_room(301, 300), -1);
	ck_assert_uint_eq(ntold, 2);
	ck_assert_int_eq(store_make_room(300, 300), 0);
	ck_assert_uint_eq(ntold, 3);
	ck_assert_uint_eq(stats().cs_memory, 0);
}
END_TEST

/* Not hit for scavenger_ms: dropped; hit since: kept. */
START_TEST(test_store_scavenger)
{
	struct store_entry	*a, *b;
	uint32_t		 ida, idb;

	a = add("/a", 1, 1000000, 1000);
	b = add("/b", 1, 1000000, 1000);
	ida = a->se_id;
	idb = b->se_id;
	store_hit(idb, 1, 5000);
	store_tick(100000, 0);			/* 0: no scavenger */
	ck_assert_uint_eq(ntold, 0);
	store_tick(1000 + 9999, 10000);
	ck_assert_uint_eq(ntold, 0);
	store_tick(1000 + 10000, 10000);
	ck_assert_uint_eq(ntold, 1);
	ck_assert_uint_eq(told[0], ida);
	store_tick(5000 + 10000, 10000);
	ck_assert_uint_eq(ntold, 2);
	ck_assert_uint_eq(told[1], idb);
}
END_TEST

START_TEST(test_store_purge)
{
	struct conf_site	 sites[2];
	struct hsd_config	 conf;
	struct purge		 pg;
	struct store_entry	*e;

	memset(sites, 0, sizeof(sites));
	memset(&conf, 0, sizeof(conf));
	sites[0].st_name = "www";
	sites[1].st_name = "api";
	conf.cf_sites = sites;
	conf.cf_nsites = 2;
	add("/a", 1, 1000, 0);
	add("/b", 1, 1000, 0);
	e = store_new(1, "h", 1, "/a", 2);
	e->se_expires_ms = 1000;
	ck_assert_int_eq(store_insert(e), 0);
	/* A site index the configuration no longer has: no name. */
	e = store_new(7, "h", 1, "/z", 2);
	e->se_expires_ms = 1000;
	ck_assert_int_eq(store_insert(e), 0);

	ck_assert_int_eq(purge_parse("api", 3, &pg), 0);
	ck_assert_uint_eq(store_purge(&pg, &conf), 1);
	purge_free(&pg);
	ck_assert_ptr_null(store_find(1, "h", 1, "/a", 2));
	ck_assert_ptr_nonnull(store_find(0, "h", 1, "/a", 2));
	ck_assert_int_eq(purge_parse("/b", 2, &pg), 0);
	ck_assert_uint_eq(store_purge(&pg, &conf), 1);
	ck_assert_uint_eq(store_purge(&pg, &conf), 0);
	purge_free(&pg);
	ck_assert_uint_eq(ntold, 2);
	ck_assert_int_eq(purge_parse("all", 3, &pg), 0);
	ck_assert_uint_eq(store_purge(&pg, &conf), 2);
	purge_free(&pg);
	ck_assert_uint_eq(stats().cs_entries, 0);
	ck_assert_uint_eq(ntold, 4);
}
END_TEST

START_TEST(test_store_activity)
{
	char	path[32];
	int	i;

	ck_assert_int_eq(store_activity(0, "h", 1, "/a", 2, 1000, 0), 1);
	ck_assert_int_eq(store_activity(0, "h", 1, "/a", 2, 1000, 10000), 0);
	ck_assert_int_eq(store_activity(0, "h", 1, "/a", 2, 11000, 10000), 1);
	/* Another site, host or path is another key. */
	ck_assert_int_eq(store_activity(1, "h", 1, "/a", 2, 11000, 10000), 0);
	ck_assert_int_eq(store_activity(0, "g", 1, "/a", 2, 11000, 10000), 0);
	ck_assert_int_eq(store_activity(0, "h", 1, "/b", 2, 11000, 10000), 0);
	/* Too long ago: refused, and remembered anew. */
	ck_assert_int_eq(store_activity(0, "h", 1, "/a", 2, 21001, 10000), 0);
	ck_assert_int_eq(store_activity(0, "h", 1, "/a", 2, 21002, 10000), 1);

	/* The table holds STORE_ACTIVITY_KEYS keys: the oldest go. */
	for (i = 0; i < STORE_ACTIVITY_KEYS; i++) {
		snprintf(path, sizeof(path), "/k%d", i);
		ck_assert_int_eq(store_activity(0, "h", 1, path, strlen(path),
		    30000, 10000), 0);
	}
	ck_assert_int_eq(store_activity(0, "h", 1, "/a", 2, 30001, 10000), 0);
	ck_assert_int_eq(store_activity(0, "h", 1, "/k4095", 6, 30001, 10000),
	    1);
	ck_assert_int_eq(store_activity(0, "h", 1, "/k100", 5, 30001, 10000),
	    1);
	store_activity_clear();
	ck_assert_int_eq(store_activity(0, "h", 1, "/k100", 5, 30002, 10000),
	    0);
}
END_TEST

static char	wdir[PATH_MAX];

static void
wpath(char *buf, size_t len, const char *name)
{
	snprintf(buf, len, "%s/%s", wdir, name);
}

static struct store_entry *
add_file(const char *key, const char *name)
{
	struct store_entry	*e;
	char			 path[PATH_MAX + 64];

	wpath(path, sizeof(path), name);
	e = store_new(0, "h", 1, key, strlen(key));
	ck_assert_ptr_nonnull(e);
	e->se_expires_ms = 1000000;
	ck_assert_int_eq(store_watch(e, path), 0);
	ck_assert_int_eq(store_insert(e), 0);
	return e;
}

static void
watch_setup(void)
{
	char	path[PATH_MAX + 64];

	setup();
	snprintf(wdir, sizeof(wdir), "/tmp/hsd-store-XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(wdir));
	wpath(path, sizeof(path), "f");
	fx_write_file(path, "one\n");
	wpath(path, sizeof(path), "g");
	fx_write_file(path, "two\n");
}

static void
watch_teardown(void)
{
	char	path[PATH_MAX + 64];

	teardown();
	wpath(path, sizeof(path), "f");
	unlink(path);
	wpath(path, sizeof(path), "g");
	unlink(path);
	wpath(path, sizeof(path), "h");
	unlink(path);
	rmdir(wdir);
}

static size_t	want_told;

static int
told_enough(void *arg)
{
	(void)arg;
	return ntold >= want_told;
}

/* Two keys for f, one for g: a write to f drops f's two, not g's. */
START_TEST(test_store_watch_modify)
{
	struct store_entry	*f1, *f2, *g;
	uint32_t		 id1, id2;
	char			 path[PATH_MAX + 64];
	FILE			*fp;

	f1 = add_file("/f1", "f");
	f2 = add_file("/f2", "f");
	g = add_file("/g", "g");
	ck_assert_ptr_eq(f1->se_watch, f2->se_watch);
	ck_assert_ptr_ne(f1->se_watch, g->se_watch);
	id1 = f1->se_id;
	id2 = f2->se_id;
	fx_run_for(base, 50);
	ck_assert_uint_eq(ntold, 0);

	wpath(path, sizeof(path), "f");
	ck_assert_ptr_nonnull(fp = fopen(path, "a"));
	fputs("more\n", fp);
	fclose(fp);
	want_told = 2;
	ck_assert_int_eq(fx_run_until(base, told_enough, NULL, 500), 0);
	ck_assert(was_told(id1) && was_told(id2));
	fx_run_for(base, 50);
	ck_assert_uint_eq(ntold, 2);
	ck_assert_ptr_eq(store_find(0, "h", 1, "/g", 2), g);
	ck_assert_uint_eq(stats().cs_entries, 1);

	/* The watch went with them: f again, and nothing happens. */
	fx_write_file(path, "again\n");
	fx_run_for(base, 50);
	ck_assert_uint_eq(ntold, 2);
	/* A new entry of f gets a watch of its own. */
	f1 = add_file("/f1", "f");
	fx_write_file(path, "and again\n");
	want_told = 3;
	ck_assert_int_eq(fx_run_until(base, told_enough, NULL, 500), 0);
	ck_assert_ptr_null(store_find(0, "h", 1, "/f1", 3));
}
END_TEST

START_TEST(test_store_watch_unlink)
{
	struct store_entry	*g;
	char			 path[PATH_MAX + 64];

	add_file("/f", "f");
	g = add_file("/g", "g");
	wpath(path, sizeof(path), "f");
	ck_assert_int_eq(unlink(path), 0);
	want_told = 1;
	ck_assert_int_eq(fx_run_until(base, told_enough, NULL, 500), 0);
	fx_run_for(base, 50);
	ck_assert_uint_eq(ntold, 1);
	ck_assert_ptr_eq(store_find(0, "h", 1, "/g", 2), g);
}
END_TEST

/* A file replaced by a rename over it: the old one's entry goes. */
START_TEST(test_store_watch_rename_over)
{
	char	from[PATH_MAX + 64], to[PATH_MAX + 64];

	add_file("/f", "f");
	wpath(from, sizeof(from), "h");
	fx_write_file(from, "new\n");
	wpath(to, sizeof(to), "f");
	ck_assert_int_eq(rename(from, to), 0);
	want_told = 1;
	ck_assert_int_eq(fx_run_until(base, told_enough, NULL, 500), 0);
}
END_TEST

/* The file itself renamed away: its path is no longer it. */
START_TEST(test_store_watch_move)
{
	char	from[PATH_MAX + 64], to[PATH_MAX + 64];

	add_file("/f", "f");
	wpath(from, sizeof(from), "f");
	wpath(to, sizeof(to), "h");
	ck_assert_int_eq(rename(from, to), 0);
	want_told = 1;
	ck_assert_int_eq(fx_run_until(base, told_enough, NULL, 500), 0);
}
END_TEST

/* chmod, touch: attributes changed, entries dropped. */
START_TEST(test_store_watch_attrib)
{
	char	path[PATH_MAX + 64];

	add_file("/f", "f");
	wpath(path, sizeof(path), "f");
	ck_assert_int_eq(chmod(path, 0600), 0);
	want_told = 1;
	ck_assert_int_eq(fx_run_until(base, told_enough, NULL, 500), 0);
}
END_TEST

/* Dropped for other reasons, the watch goes with the last entry, and a
 * discarded entry that was never inserted leaves no watch behind. */
START_TEST(test_store_watch_release)
{
	struct store_entry	*f, *e;
	char			 path[PATH_MAX + 64];

	/* Two entries of f, one dropped: the other keeps the watch. */
	f = add_file("/f", "f");
	e = add_file("/f2", "f");
	store_drop(e, 1);
	wpath(path, sizeof(path), "f");
	fx_write_file(path, "changed\n");
	want_told = 2;
	ck_assert_int_eq(fx_run_until(base, told_enough, NULL, 500), 0);
	ck_assert_ptr_null(store_find(0, "h", 1, "/f", 2));

	ntold = 0;
	f = add_file("/f", "f");
	e = store_new(0, "h", 1, "/x", 2);
	wpath(path, sizeof(path), "g");
	ck_assert_int_eq(store_watch(e, path), 0);
	store_discard(e);
	store_drop(f, 1);
	ck_assert_uint_eq(ntold, 1);
	wpath(path, sizeof(path), "f");
	fx_write_file(path, "changed\n");
	wpath(path, sizeof(path), "g");
	fx_write_file(path, "changed\n");
	fx_run_for(base, 100);
	ck_assert_uint_eq(ntold, 1);
	/* A file that is not there cannot be watched. */
	e = store_new(0, "h", 1, "/y", 2);
	wpath(path, sizeof(path), "nonexistent");
	ck_assert_int_eq(store_watch(e, path), -1);
	store_discard(e);
}
END_TEST

Suite *
suite_store(void)
{
	Suite	*s = suite_create("store");
	TCase	*tc = tcase_create("store");
	TCase	*tw = tcase_create("watch");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_store_lookup);
	tcase_add_test(tc, test_store_many);
	tcase_add_test(tc, test_store_expiry);
	tcase_add_test(tc, test_store_lru);
	tcase_add_test(tc, test_store_scavenger);
	tcase_add_test(tc, test_store_purge);
	tcase_add_test(tc, test_store_activity);
	suite_add_tcase(s, tc);
	tcase_add_checked_fixture(tw, watch_setup, watch_teardown);
	tcase_add_test(tw, test_store_watch_modify);
	tcase_add_test(tw, test_store_watch_unlink);
	tcase_add_test(tw, test_store_watch_rename_over);
	tcase_add_test(tw, test_store_watch_move);
	tcase_add_test(tw, test_store_watch_attrib);
	tcase_add_test(tw, test_store_watch_release);
	suite_add_tcase(s, tw);
	return s;
}
