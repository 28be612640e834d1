/*
 * The configuration module: a full file read into the expected structs,
 * the defaults, every rejection (with the file, line and key the message
 * must name), the value parsers, bindings and the listening sockets they
 * share, and the routing functions the listener and worker call, with
 * the FastCGI settings and socket paths the pool manager and the worker
 * both read.
 *
 * Config texts are templates: '@' stands for the scratch directory, whose
 * www/, api/, file and link -> www the roots point at.
 */
#include "config.h"

#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>
#include <netinet/in.h>
#include <arpa/inet.h>

#include <grp.h>
#include <limits.h>
#include <pwd.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <check.h>

#include "conf.h"
#include "fixtures.h"
#include "msg.h"

#define CONF_NAME	"t.conf"
#define ONE_SITE \
	"site \"s\" { bindings = {\"*:8080\"} root = \"@/www\" }\n"

static struct hsd_config *
load_ok(const char *tmpl)
{
	struct hsd_config	*cf = NULL;
	char			*text = fx_subst(tmpl);
	int			 rv;

	rv = conf_load_buf(text, CONF_NAME, &cf);
	ck_assert_msg(rv == 0, "config rejected:\n%s", text);
	ck_assert_ptr_nonnull(cf);
	free(text);
	return cf;
}

/* Loads a config that must be rejected; returns what was logged. */
static char *
load_err(const char *tmpl)
{
	struct hsd_config	*cf = (struct hsd_config *)&cf;
	char			*text = fx_subst(tmpl), *log;
	int			 rv;

	fx_capture_start();
	rv = conf_load_buf(text, CONF_NAME, &cf);
	log = fx_capture_end();
	ck_assert_msg(rv == -1, "config accepted:\n%s", text);
	ck_assert_ptr_null(cf);
	free(text);
	return log;
}

static void
assert_logged(const char *log, const char *want_tmpl)
{
	char	*want;

	if (want_tmpl == NULL)
		return;
	want = fx_subst(want_tmpl);
	ck_assert_msg(strstr(log, want) != NULL,
	    "expected \"%s\" in the log, got:\n%s", want, log);
	free(want);
}

static char *
real(const char *tmpl)
{
	char	*p = fx_subst(tmpl), *r;

	r = realpath(p, NULL);
	ck_assert_ptr_nonnull(r);
	free(p);
	return r;
}

static void
assert_sin(const struct sockaddr_storage *ss, const char *ip, int port)
{
	const struct sockaddr_in	*sin = (const struct sockaddr_in *)ss;
	struct in_addr			 a;

	ck_assert_int_eq(ss->ss_family, AF_INET);
	ck_assert_int_eq(inet_pton(AF_INET, ip, &a), 1);
	ck_assert_uint_eq(sin->sin_addr.s_addr, a.s_addr);
	ck_assert_int_eq(ntohs(sin->sin_port), port);
}

static void
assert_sin6(const struct sockaddr_storage *ss, const char *ip, int port)
{
	const struct sockaddr_in6	*sin6 = (const struct sockaddr_in6 *)ss;
	struct in6_addr			 a;

	ck_assert_int_eq(ss->ss_family, AF_INET6);
	ck_assert_int_eq(inet_pton(AF_INET6, ip, &a), 1);
	ck_assert(memcmp(&sin6->sin6_addr, &a, sizeof(a)) == 0);
	ck_assert_int_eq(ntohs(sin6->sin6_port), port);
}

/* A whole file. */

static const char conf_full[] =
	"# hsd test config\n"					/* 1 */
	"run_dir = \"/var/run/hsd-test\"\n"
	"libexec_dir = \"/opt/hsd/libexec\"\n"
	"shutdown_timeout = 2500ms\n"
	"limits {\n"						/* 5 */
	"  max_connections = 0\n"
	"  connection_timeout = \"2m\"\n"
	"  header_wait_timeout = 15\n"
	"  max_request_bytes = 8K\n"
	"  max_field_length = \"1024\"\n"			/* 10 */
	"}\n"
	"pool \"other\" {\n"
	"  workers = 4\n"
	"  queue_length = 10\n"
	"  concurrency = 8\n"					/* 15 */
	"}\n"
	"site \"main\" {\n"
	"  bindings = {\"*:8080\", \"127.0.0.1:8081:Example.COM\"}\n"
	"  root = \"@/www/\"\n"
	"  application \"/api/\" {\n"				/* 20 */
	"    pool = \"other\"\n"
	"    root = \"@/api\"\n"
	"  }\n"
	"  application \"/static\" {\n"
	"  }\n"							/* 25 */
	"}\n"
	"site \"second\" {\n"
	"  bindings = {\"[::1]:8080:v6.example\"}\n"
	"  root = \"@/link\"\n"
	"  pool = other\n"					/* 30 */
	"}\n";

START_TEST(test_conf_full)
{
	struct hsd_config	*cf = load_ok(conf_full);
	const struct conf_site	*st;
	const struct conf_binding *bd;
	char			*www = real("@/www"), *api = real("@/api");

	ck_assert_str_eq(cf->cf_run_dir, "/var/run/hsd-test");
	ck_assert_str_eq(cf->cf_libexec_dir, "/opt/hsd/libexec");
	ck_assert_uint_eq(cf->cf_shutdown_timeout_ms, 2500);
	ck_assert_uint_eq(cf->cf_limits.max_connections, 0);
	ck_assert_uint_eq(cf->cf_limits.connection_timeout_ms, 120000);
	ck_assert_uint_eq(cf->cf_limits.header_wait_timeout_ms, 15000);
	ck_assert_uint_eq(cf->cf_limits.max_request_bytes, 8192);
	ck_assert_uint_eq(cf->cf_limits.max_field_length, 1024);

	ck_assert_uint_eq(cf->cf_npools, 2);
	ck_assert_str_eq(cf->cf_pools[0].pl_name, "default");
	ck_assert_uint_eq(cf->cf_pools[0].pl_workers, 1);
	ck_assert_uint_eq(cf->cf_pools[0].pl_queue_length, 1000);
	ck_assert_uint_eq(cf->cf_pools[0].pl_concurrency, 64);
	ck_assert_str_eq(cf->cf_pools[1].pl_name, "other");
	ck_assert_uint_eq(cf->cf_pools[1].pl_workers, 4);
	ck_assert_uint_eq(cf->cf_pools[1].pl_queue_length, 10);
	ck_assert_uint_eq(cf->cf_pools[1].pl_concurrency, 8);

	ck_assert_uint_eq(cf->cf_nsites, 2);
	st = &cf->cf_sites[0];
	ck_assert_str_eq(st->st_name, "main");
	ck_assert_str_eq(st->st_root, www);
	ck_assert_uint_eq(st->st_pool, 0);
	ck_assert_uint_eq(st->st_napps, 2);
	ck_assert_str_eq(st->st_apps[0].ap_prefix, "/api");
	ck_assert_uint_eq(st->st_apps[0].ap_prefix_len, 4);
	ck_assert_uint_eq(st->st_apps[0].ap_pool, 1);
	ck_assert_str_eq(st->st_apps[0].ap_root, api);
	ck_assert_str_eq(st->st_apps[1].ap_prefix, "/static");
	ck_assert_uint_eq(st->st_apps[1].ap_prefix_len, 7);
	ck_assert_uint_eq(st->st_apps[1].ap_pool, 0);
	ck_assert_ptr_null(st->st_apps[1].ap_root);
	st = &cf->cf_sites[1];
	ck_assert_str_eq(st->st_name, "second");
	ck_assert_str_eq(st->st_root, www);	/* through the symlink */
	ck_assert_uint_eq(st->st_pool, 1);
	ck_assert_uint_eq(st->st_napps, 0);

	ck_assert_uint_eq(cf->cf_nbindings, 3);
	bd = &cf->cf_bindings[0];
	ck_assert_str_eq(bd->bd_text, "*:8080");
	ck_assert(bd->bd_any);
	ck_assert_int_eq(bd->bd_port, 8080);
	ck_assert_ptr_null(bd->bd_host);
	ck_assert_uint_eq(bd->bd_site, 0);
	ck_assert_uint_eq(bd->bd_listen, 0);
	assert_sin(&bd->bd_addr, "0.0.0.0", 8080);
	bd = &cf->cf_bindings[1];
	ck_assert_str_eq(bd->bd_text, "127.0.0.1:8081:Example.COM");
	ck_assert(!bd->bd_any);
	ck_assert_str_eq(bd->bd_host, "example.com");
	ck_assert_uint_eq(bd->bd_site, 0);
	ck_assert_uint_eq(bd->bd_listen, 1);
	assert_sin(&bd->bd_addr, "127.0.0.1", 8081);
	ck_assert_uint_eq(bd->bd_addrlen, sizeof(struct sockaddr_in));
	bd = &cf->cf_bindings[2];
	ck_assert(!bd->bd_any);
	ck_assert_str_eq(bd->bd_host, "v6.example");
	ck_assert_uint_eq(bd->bd_site, 1);
	ck_assert_uint_eq(bd->bd_listen, 2);
	assert_sin6(&bd->bd_addr, "::1", 8080);
	ck_assert_uint_eq(bd->bd_addrlen, sizeof(struct sockaddr_in6));

	ck_assert_uint_eq(cf->cf_nlistens, 3);
	ck_assert(cf->cf_listens[0].ls_any);
	ck_assert_int_eq(cf->cf_listens[0].ls_port, 8080);
	assert_sin(&cf->cf_listens[0].ls_addr, "0.0.0.0", 8080);
	ck_assert_uint_eq(cf->cf_listens[0].ls_addrlen,
	    sizeof(struct sockaddr_in));
	ck_assert(!cf->cf_listens[1].ls_any);
	assert_sin(&cf->cf_listens[1].ls_addr, "127.0.0.1", 8081);
	ck_assert(!cf->cf_listens[2].ls_any);
	assert_sin6(&cf->cf_listens[2].ls_addr, "::1", 8080);
	ck_assert_uint_eq(cf->cf_listens[2].ls_addrlen,
	    sizeof(struct sockaddr_in6));

	free(www);
	free(api);
	conf_free(cf);
}
END_TEST

START_TEST(test_conf_defaults)
{
	struct hsd_config	*cf = load_ok(ONE_SITE);
	char			*www = real("@/www");

	if (geteuid() == 0)
		ck_assert_str_eq(cf->cf_run_dir, "/run/hsd");
	else
		ck_assert_str_ne(cf->cf_run_dir, "/tmp/hsd");
	ck_assert_str_eq(cf->cf_libexec_dir, LIBEXECDIR);
	ck_assert_str_eq(cf->cf_body_temp_dir, "/var/tmp");
	ck_assert_uint_eq(cf->cf_shutdown_timeout_ms, 10000);
	ck_assert_uint_eq(cf->cf_limits.max_connections, 10000);
	ck_assert_uint_eq(cf->cf_limits.connection_timeout_ms, 120000);
	ck_assert_uint_eq(cf->cf_limits.header_wait_timeout_ms, 30000);
	ck_assert_uint_eq(cf->cf_limits.max_request_bytes, 16384);
	ck_assert_uint_eq(cf->cf_limits.max_field_length, 16384);
	ck_assert_uint_eq(cf->cf_limits.entity_body_timeout_ms, 120000);
	ck_assert_uint_eq(cf->cf_limits.min_body_rate, 240);
	ck_assert_uint_eq(cf->cf_limits.min_send_rate, 240);
	ck_assert_uint_eq(cf->cf_sites[0].st_max_body, 30 << 20);
	ck_assert_uint_eq(conf_max_body(&cf->cf_sites[0], -1), 30 << 20);
	ck_assert_uint_eq(cf->cf_npools, 1);
	ck_assert_str_eq(cf->cf_pools[0].pl_name, "default");
	ck_assert_uint_eq(cf->cf_pools[0].pl_workers, 1);
	ck_assert_uint_eq(cf->cf_pools[0].pl_queue_length, 1000);
	ck_assert_uint_eq(cf->cf_pools[0].pl_concurrency, 64);
	ck_assert_uint_eq(cf->cf_pools[0].pl_cgi_max_children, 16);
	ck_assert_uint_eq(cf->cf_pools[0].pl_rapid_fail_max, 5);
	ck_assert_uint_eq(cf->cf_pools[0].pl_rapid_fail_interval_ms, 300000);
	ck_assert_uint_eq(cf->cf_pools[0].pl_fastcgi_retry_ms, 0);
	ck_assert_int_eq(cf->cf_sites[0].st_handler, CONF_HANDLER_STATIC);
	ck_assert_int_eq(conf_handler(&cf->cf_sites[0], -1),
	    CONF_HANDLER_STATIC);
	ck_assert_uint_eq(cf->cf_sites[0].st_cgi_timeout_ms, 300000);
	ck_assert_uint_eq(conf_cgi_timeout(&cf->cf_sites[0], -1), 300000);
	ck_assert_uint_eq(cf->cf_nsites, 1);
	ck_assert_str_eq(cf->cf_sites[0].st_name, "s");
	ck_assert_str_eq(cf->cf_sites[0].st_root, www);
	ck_assert_uint_eq(cf->cf_sites[0].st_pool, 0);
	ck_assert_uint_eq(cf->cf_sites[0].st_napps, 0);
	ck_assert_uint_eq(cf->cf_nbindings, 1);
	ck_assert_uint_eq(cf->cf_nlistens, 1);
	free(www);
	conf_free(cf);
	/* The identities are asserted in test_conf_identity. */

	/* Empty sections and quoted or bare values mean the same. */
	cf = load_ok("limits {}\n"
	    "limits { connection_timeout = \"120\" }\n"
	    "pool \"p\" {}\n" ONE_SITE);
	ck_assert_uint_eq(cf->cf_limits.connection_timeout_ms, 120000);
	ck_assert_uint_eq(cf->cf_npools, 2);
	ck_assert_uint_eq(cf->cf_pools[1].pl_workers, 1);
	ck_assert_uint_eq(cf->cf_pools[1].pl_cgi_max_children, 16);
	ck_assert_uint_eq(cf->cf_pools[1].pl_rapid_fail_max, 5);
	ck_assert_uint_eq(cf->cf_pools[1].pl_rapid_fail_interval_ms, 300000);
	ck_assert_uint_eq(cf->cf_pools[1].pl_fastcgi_retry_ms, 0);
	conf_free(cf);

	/* Rapid-fail protection: written, and off. */
	cf = load_ok("pool \"p\" { rapid_fail_max = 0 "
	    "rapid_fail_interval = \"90s\" fastcgi_retry_timeout = \"20s\" }\n"
	    "pool \"q\" { rapid_fail_max = 10000 }\n" ONE_SITE);
	ck_assert_uint_eq(cf->cf_pools[1].pl_rapid_fail_max, 0);
	ck_assert_uint_eq(cf->cf_pools[1].pl_rapid_fail_interval_ms, 90000);
	ck_assert_uint_eq(cf->cf_pools[1].pl_fastcgi_retry_ms, 20000);
	ck_assert_uint_eq(cf->cf_pools[2].pl_rapid_fail_max, 10000);
	conf_free(cf);
}
END_TEST

/*
 * Who each process runs as: the server-wide user (www-data, its primary
 * group) unless written, pools inherit it, a user written without a group
 * brings its primary group, and what was written is told from defaults.
 * www-data, nobody and nogroup exist on Debian.
 */
START_TEST(test_conf_identity)
{
	struct hsd_config	*cf;
	struct passwd		 www, nobody, *pw;
	struct group		 nogroup, *gr;

	/* Copies: getpwnam() returns the same static buffer each time. */
	ck_assert_ptr_nonnull(pw = getpwnam("www-data"));
	www = *pw;
	ck_assert_ptr_nonnull(pw = getpwnam("nobody"));
	nobody = *pw;
	ck_assert_ptr_nonnull(gr = getgrnam("nogroup"));
	nogroup = *gr;

	cf = load_ok(ONE_SITE);
	ck_assert_str_eq(cf->cf_chroot_dir, "/var/empty/hsd");
	ck_assert_str_eq(cf->cf_ident.id_user, "www-data");
	ck_assert_uint_eq(cf->cf_ident.id_uid, www.pw_uid);
	ck_assert_uint_eq(cf->cf_ident.id_gid, www.pw_gid);
	ck_assert_int_eq(cf->cf_ident.id_user_line, 0);
	ck_assert_int_eq(cf->cf_ident.id_group_line, 0);
	ck_assert_str_eq(cf->cf_pools[0].pl_ident.id_user, "www-data");
	ck_assert_uint_eq(cf->cf_pools[0].pl_ident.id_uid, www.pw_uid);
	ck_assert_uint_eq(cf->cf_pools[0].pl_ident.id_gid, www.pw_gid);
	ck_assert_int_eq(cf->cf_pools[0].pl_ident.id_user_line, 0);
	conf_free(cf);

	cf = load_ok("chroot_dir = \"/srv/empty\"\n"
	    "user = \"nobody\"\n"
	    "pool \"a\" {}\n"
	    "pool \"b\" {\n"
	    "  user = \"www-data\"\n"
	    "}\n"
	    "pool \"c\" {\n"
	    "  group = \"www-data\"\n"
	    "}\n" ONE_SITE);
	ck_assert_str_eq(cf->cf_chroot_dir, "/srv/empty");
	ck_assert_uint_eq(cf->cf_ident.id_uid, nobody.pw_uid);
	ck_assert_uint_eq(cf->cf_ident.id_gid, nobody.pw_gid);
	ck_assert_str_eq(cf->cf_ident.id_group, "nogroup");
	ck_assert_int_eq(cf->cf_ident.id_user_line, 2);
	ck_assert_int_eq(cf->cf_ident.id_group_line, 0);
	/* The implicit pool "default" comes first and inherits. */
	ck_assert_str_eq(cf->cf_pools[0].pl_name, "default");
	ck_assert_uint_eq(cf->cf_pools[0].pl_ident.id_uid, nobody.pw_uid);
	ck_assert_str_eq(cf->cf_pools[1].pl_name, "a");
	ck_assert_uint_eq(cf->cf_pools[1].pl_ident.id_uid, nobody.pw_uid);
	ck_assert_uint_eq(cf->cf_pools[1].pl_ident.id_gid, nogroup.gr_gid);
	ck_assert_int_eq(cf->cf_pools[1].pl_ident.id_user_line, 0);
	ck_assert_uint_eq(cf->cf_pools[2].pl_ident.id_uid, www.pw_uid);
	ck_assert_uint_eq(cf->cf_pools[2].pl_ident.id_gid, www.pw_gid);
	ck_assert_str_eq(cf->cf_pools[2].pl_ident.id_group, "www-data");
	ck_assert_int_eq(cf->cf_pools[2].pl_ident.id_user_line, 5);
	ck_assert_int_eq(cf->cf_pools[2].pl_ident.id_group_line, 0);
	ck_assert_uint_eq(cf->cf_pools[3].pl_ident.id_uid, nobody.pw_uid);
	ck_assert_uint_eq(cf->cf_pools[3].pl_ident.id_gid, www.pw_gid);
	ck_assert_int_eq(cf->cf_pools[3].pl_ident.id_user_line, 0);
	ck_assert_int_eq(cf->cf_pools[3].pl_ident.id_group_line, 8);
	conf_free(cf);

	/* A group alone keeps the default user. */
	cf = load_ok("group = \"nogroup\"\n" ONE_SITE);
	ck_assert_uint_eq(cf->cf_ident.id_uid, www.pw_uid);
	ck_assert_uint_eq(cf->cf_ident.id_gid, nogroup.gr_gid);
	ck_assert_int_eq(cf->cf_ident.id_group_line, 1);
	ck_assert_uint_eq(cf->cf_pools[0].pl_ident.id_gid, nogroup.gr_gid);
	conf_free(cf);
}
END_TEST

/* Never one directory shared by every user in a world-writable place. */
START_TEST(test_conf_default_run_dir)
{
	static const struct {
		uid_t		 uid;
		const char	*xdg;
		const char	*want;
	} cases[] = {
		{ 0, NULL, "/run/hsd" },
		{ 0, "/run/user/0", "/run/hsd" },
		{ 1000, "/run/user/1000", "/run/user/1000/hsd" },
		{ 1000, NULL, "/tmp/hsd-1000" },
		{ 1000, "", "/tmp/hsd-1000" },
		{ 1000, "run/user/1000", "/tmp/hsd-1000" },
		{ 4294967294U, NULL, "/tmp/hsd-4294967294" },
	};
	struct hsd_config	*cf;
	char			*dir;
	size_t			 i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		dir = conf_default_run_dir(cases[i].uid, cases[i].xdg);
		ck_assert_ptr_nonnull(dir);
		ck_assert_str_eq(dir, cases[i].want);
		free(dir);
	}

	/* Computed when the file is loaded, from who loads it. */
	ck_assert_int_eq(setenv("XDG_RUNTIME_DIR", "/run/user/4242", 1), 0);
	cf = load_ok(ONE_SITE);
	dir = conf_default_run_dir(geteuid(), "/run/user/4242");
	ck_assert_str_eq(cf->cf_run_dir, dir);
	if (geteuid() == 0)
		ck_assert_str_eq(cf->cf_run_dir, "/run/hsd");
	else
		ck_assert_str_eq(cf->cf_run_dir, "/run/user/4242/hsd");
	free(dir);
	conf_free(cf);
	unsetenv("XDG_RUNTIME_DIR");

	/* The key overrides it; trailing slashes go. */
	cf = load_ok("run_dir = \"/var/run/x//\"\n" ONE_SITE);
	ck_assert_str_eq(cf->cf_run_dir, "/var/run/x");
	conf_free(cf);
	cf = load_ok("run_dir = \"/\"\n" ONE_SITE);
	ck_assert_str_eq(cf->cf_run_dir, "/");
	conf_free(cf);
}
END_TEST

START_TEST(test_conf_default_pool)
{
	struct hsd_config	*cf;

	/* Implicit: first, then the written ones in file order. */
	cf = load_ok("pool \"b\" { workers = 2 }\n"
	    "pool \"a\" { workers = 3 }\n" ONE_SITE);
	ck_assert_uint_eq(cf->cf_npools, 3);
	ck_assert_str_eq(cf->cf_pools[0].pl_name, "default");
	ck_assert_uint_eq(cf->cf_pools[0].pl_workers, 1);
	ck_assert_str_eq(cf->cf_pools[1].pl_name, "b");
	ck_assert_uint_eq(cf->cf_pools[1].pl_workers, 2);
	ck_assert_str_eq(cf->cf_pools[2].pl_name, "a");
	ck_assert_uint_eq(cf->cf_pools[2].pl_workers, 3);
	conf_free(cf);

	/* Written: its settings, at its place; sites find it by name. */
	cf = load_ok("pool \"b\" {}\n"
	    "pool \"default\" { workers = 7 queue_length = 5 }\n" ONE_SITE);
	ck_assert_uint_eq(cf->cf_npools, 2);
	ck_assert_str_eq(cf->cf_pools[0].pl_name, "b");
	ck_assert_str_eq(cf->cf_pools[1].pl_name, "default");
	ck_assert_uint_eq(cf->cf_pools[1].pl_workers, 7);
	ck_assert_uint_eq(cf->cf_pools[1].pl_queue_length, 5);
	ck_assert_uint_eq(cf->cf_pools[1].pl_concurrency, 64);
	ck_assert_uint_eq(cf->cf_pools[1].pl_cgi_max_children, 16);
	ck_assert_uint_eq(cf->cf_sites[0].st_pool, 1);
	conf_free(cf);

	/* Limits of the ranges are accepted. */
	cf = load_ok("pool \"p\" { workers = 256 queue_length = 1000000 "
	    "concurrency = 4096 cgi_max_children = 4096 }\n"
	    "pool \"q\" { workers = 1 queue_length = 1 concurrency = 1 "
	    "cgi_max_children = 1 }\n"
	    "limits { max_request_bytes = 64K max_field_length = 64 }\n"
	    ONE_SITE);
	ck_assert_uint_eq(cf->cf_pools[1].pl_workers, 256);
	ck_assert_uint_eq(cf->cf_pools[1].pl_queue_length, 1000000);
	ck_assert_uint_eq(cf->cf_pools[1].pl_concurrency, 4096);
	ck_assert_uint_eq(cf->cf_pools[1].pl_cgi_max_children, 4096);
	ck_assert_uint_eq(cf->cf_pools[2].pl_cgi_max_children, 1);
	ck_assert_uint_eq(cf->cf_limits.max_request_bytes, 65536);
	ck_assert_uint_eq(cf->cf_limits.max_field_length, 64);
	conf_free(cf);
}
END_TEST

/* Logging: the top-level section's defaults, and a site's. */
START_TEST(test_conf_log_defaults)
{
	struct hsd_config	*cf;
	const struct conf_log	*lg;
	int			 i, j;

	cf = load_ok(ONE_SITE);
	lg = &cf->cf_log;
	ck_assert_int_eq(lg->lg_format, CONF_LOG_W3C);
	ck_assert_str_eq(lg->lg_dir, "/var/log/hsd");
	ck_assert_uint_eq(lg->lg_fields, CONF_W3C_DEFAULT_FIELDS);
	ck_assert_int_eq(lg->lg_rollover, CONF_ROLL_DAILY);
	ck_assert_uint_eq(lg->lg_max_size, 20 << 20);
	ck_assert_int_eq(lg->lg_local_time, 0);
	ck_assert_str_eq(cf->cf_httperr_dir, "/var/log/hsd/HTTPERR");
	ck_assert_uint_eq(cf->cf_httperr_max_size, 1 << 20);
	ck_assert_uint_eq(cf->cf_log_buffer, 4 << 20);
	ck_assert_uint_eq(cf->cf_flush_interval_ms, 1000);
	/* A site takes them all, in a directory of its own. */
	lg = &cf->cf_sites[0].st_log;
	ck_assert_int_eq(lg->lg_format, CONF_LOG_W3C);
	ck_assert_str_eq(lg->lg_dir, "/var/log/hsd/s");
	ck_assert_uint_eq(lg->lg_fields, CONF_W3C_DEFAULT_FIELDS);
	ck_assert_int_eq(lg->lg_rollover, CONF_ROLL_DAILY);
	ck_assert_uint_eq(lg->lg_max_size, 20 << 20);
	ck_assert_int_eq(lg->lg_local_time, 0);
	conf_free(cf);

	/* An empty section, at the top or in a site, is no section. */
	cf = load_ok("log {}\n"
	    "site \"s\" { bindings = {\"*:8080\"} root = \"@/www\" log {} }\n");
	ck_assert_str_eq(cf->cf_log.lg_dir, "/var/log/hsd");
	ck_assert_uint_eq(cf->cf_log.lg_fields, CONF_W3C_DEFAULT_FIELDS);
	ck_assert_str_eq(cf->cf_sites[0].st_log.lg_dir, "/var/log/hsd/s");
	ck_assert_uint_eq(cf->cf_sites[0].st_log.lg_fields,
	    CONF_W3C_DEFAULT_FIELDS);
	conf_free(cf);

	/* Every field has a name of its own. */
	for (i = 0; i < W3C_NFIELDS; i++) {
		ck_assert_ptr_nonnull(conf_w3c_names[i]);
		ck_assert_msg(strlen(conf_w3c_names[i]) > 0, "field %d", i);
	}
	for (i = 0; i < W3C_NFIELDS; i++)
		for (j = i + 1; j < W3C_NFIELDS; j++)
			ck_assert_str_ne(conf_w3c_names[i], conf_w3c_names[j]);
	ck_assert_str_eq(conf_w3c_names[W3C_DATE], "date");
	ck_assert_str_eq(conf_w3c_names[W3C_CS_USER_AGENT], "cs(User-Agent)");
	ck_assert_str_eq(conf_w3c_names[W3C_TIME_TAKEN], "time-taken");
}
END_TEST

/* Every top-level value, taken by a site that sets none, and overridden
 * key by key by one that sets its own. */
static const char conf_log_text[] =
	"log {\n"
	"  format = \"ncsa\"\n"
	"  dir = \"/srv//logs/./hsd/\"\n"
	"  fields = {\"time-taken\", \"c-ip\", \"date\"}\n"
	"  rollover = \"size\"\n"
	"  max_size = \"5M\"\n"
	"  local_time = true\n"
	"  httperr_max_size = \"64K\"\n"
	"  log_buffer = \"64K\"\n"
	"  flush_interval = \"250ms\"\n"
	"}\n"
	"site \"plain\" { bindings = {\"*:8080\"} root = \"@/www\" }\n"
	"site \"own\" {\n"
	"  bindings = {\"*:8081\"}\n"
	"  root = \"@/www\"\n"
	"  log {\n"
	"    format = \"combined\"\n"
	"    dir = \"/var/log/own/\"\n"
	"    fields = {\"cs(Cookie)\", \"sc-bytes\", \"s-sitename\"}\n"
	"    rollover = \"hourly\"\n"
	"    max_size = 1G\n"
	"    local_time = false\n"
	"  }\n"
	"}\n"
	"site \"some\" {\n"
	"  bindings = {\"*:8082\"}\n"
	"  root = \"@/www\"\n"
	"  log { format = \"off\" rollover = \"monthly\" }\n"
	"}\n"
	"site \"weekly\" {\n"
	"  bindings = {\"*:8083\"}\n"
	"  root = \"@/www\"\n"
	"  log { format = w3c rollover = weekly local_time = no }\n"
	"}\n";

START_TEST(test_conf_log_inherit)
{
	struct hsd_config	*cf = load_ok(conf_log_text);
	const struct conf_log	*lg;
	const uint32_t		 top = 1u << W3C_DATE | 1u << W3C_C_IP |
				    1u << W3C_TIME_TAKEN;

	lg = &cf->cf_log;
	ck_assert_int_eq(lg->lg_format, CONF_LOG_NCSA);
	ck_assert_str_eq(lg->lg_dir, "/srv/logs/hsd");
	ck_assert_uint_eq(lg->lg_fields, top);
	ck_assert_int_eq(lg->lg_rollover, CONF_ROLL_SIZE);
	ck_assert_uint_eq(lg->lg_max_size, 5 << 20);
	ck_assert_int_eq(lg->lg_local_time, 1);
	ck_assert_str_eq(cf->cf_httperr_dir, "/srv/logs/hsd/HTTPERR");
	ck_assert_uint_eq(cf->cf_httperr_max_size, 65536);
	ck_assert_uint_eq(cf->cf_log_buffer, 65536);
	ck_assert_uint_eq(cf->cf_flush_interval_ms, 250);

	ck_assert_str_eq(cf->cf_sites[0].st_name, "plain");
	lg = &cf->cf_sites[0].st_log;
	ck_assert_int_eq(lg->lg_format, CONF_LOG_NCSA);
	ck_assert_str_eq(lg->lg_dir, "/srv/logs/hsd/plain");
	ck_assert_uint_eq(lg->lg_fields, top);
	ck_assert_int_eq(lg->lg_rollover, CONF_ROLL_SIZE);
	ck_assert_uint_eq(lg->lg_max_size, 5 << 20);
	ck_assert_int_eq(lg->lg_local_time, 1);

	ck_assert_str_eq(cf->cf_sites[1].st_name, "own");
	lg = &cf->cf_sites[1].st_log;
	ck_assert_int_eq(lg->lg_format, CONF_LOG_COMBINED);
	ck_assert_str_eq(lg->lg_dir, "/var/log/own");
	ck_assert_uint_eq(lg->lg_fields, 1u << W3C_S_SITENAME |
	    1u << W3C_CS_COOKIE | 1u << W3C_SC_BYTES);
	ck_assert_int_eq(lg->lg_rollover, CONF_ROLL_HOURLY);
	ck_assert_uint_eq(lg->lg_max_size, 1 << 30);
	ck_assert_int_eq(lg->lg_local_time, 0);

	/* Only what it sets differs. */
	ck_assert_str_eq(cf->cf_sites[2].st_name, "some");
	lg = &cf->cf_sites[2].st_log;
	ck_assert_int_eq(lg->lg_format, CONF_LOG_OFF);
	ck_assert_int_eq(lg->lg_rollover, CONF_ROLL_MONTHLY);
	ck_assert_str_eq(lg->lg_dir, "/srv/logs/hsd/some");
	ck_assert_uint_eq(lg->lg_fields, top);
	ck_assert_uint_eq(lg->lg_max_size, 5 << 20);
	ck_assert_int_eq(lg->lg_local_time, 1);

	lg = &cf->cf_sites[3].st_log;
	ck_assert_int_eq(lg->lg_format, CONF_LOG_W3C);
	ck_assert_int_eq(lg->lg_rollover, CONF_ROLL_WEEKLY);
	ck_assert_int_eq(lg->lg_local_time, 0);
	ck_assert_uint_eq(lg->lg_fields, top);
	conf_free(cf);
}
END_TEST

/*
 * The fields: any order in the file, IIS's order in the bits; each name
 * is the bit of its enum value.
 */
START_TEST(test_conf_log_fields)
{
	struct hsd_config	*cf;
	char			 text[4096];
	size_t			 len;
	int			 i;

	/* Every field, written last to first. */
	len = snprintf(text, sizeof(text), "log { fields = {");
	for (i = W3C_NFIELDS - 1; i >= 0; i--)
		len += snprintf(text + len, sizeof(text) - len, "\"%s\"%s",
		    conf_w3c_names[i], i > 0 ? ", " : "");
	len += snprintf(text + len, sizeof(text) - len, "} }\n" ONE_SITE);
	ck_assert_uint_lt(len, sizeof(text));
	cf = load_ok(text);
	ck_assert_uint_eq(cf->cf_log.lg_fields, (1u << W3C_NFIELDS) - 1);
	ck_assert_uint_eq(cf->cf_sites[0].st_log.lg_fields,
	    (1u << W3C_NFIELDS) - 1);
	conf_free(cf);

	/* Each alone is its own bit. */
	for (i = 0; i < W3C_NFIELDS; i++) {
		snprintf(text, sizeof(text), "site \"s\" { bindings = "
		    "{\"*:8080\"} root = \"@/www\" log { fields = "
		    "{\"%s\"} } }\n", conf_w3c_names[i]);
		cf = load_ok(text);
		ck_assert_msg(cf->cf_sites[0].st_log.lg_fields == 1u << i,
		    "%s: %#x", conf_w3c_names[i],
		    cf->cf_sites[0].st_log.lg_fields);
		/* A site's list is its own: the top level keeps its own. */
		ck_assert_uint_eq(cf->cf_log.lg_fields,
		    CONF_W3C_DEFAULT_FIELDS);
		conf_free(cf);
	}

	/* IIS's default set, written out in another order. */
	cf = load_ok("log { fields = {\"time-taken\", \"sc-win32-status\",\n"
	    "  \"sc-substatus\", \"sc-status\", \"cs(Referer)\",\n"
	    "  \"cs(User-Agent)\", \"c-ip\", \"cs-username\", \"s-port\",\n"
	    "  \"cs-uri-query\", \"cs-uri-stem\", \"cs-method\", \"s-ip\",\n"
	    "  \"time\", \"date\"} }\n" ONE_SITE);
	ck_assert_uint_eq(cf->cf_log.lg_fields, CONF_W3C_DEFAULT_FIELDS);
	conf_free(cf);

	/* "+=" adds to what the section wrote before. */
	cf = load_ok("log {\n  fields = {\"date\"}\n  fields += {\"time\"}\n}\n"
	    ONE_SITE);
	ck_assert_uint_eq(cf->cf_log.lg_fields,
	    1u << W3C_DATE | 1u << W3C_TIME);
	conf_free(cf);
}
END_TEST

/*
 * A site's directory when it names none: the top-level one, then the
 * site's name made one safe path component.  Nothing is looked up on the
 * filesystem, with or without CONF_LOAD_NOFS.
 */
START_TEST(test_conf_log_site_dir)
{
	static const struct {
		const char	*name;		/* as written, escaped */
		const char	*want;
	} cases[] = {
		{ "example.com", "/l/example.com" },
		{ "A-z_0.9", "/l/A-z_0.9" },
		{ "a b", "/l/a_b" },
		{ "../etc", "/l/.._etc" },
		{ "a/b", "/l/a_b" },
		{ "..", "/l/_" },
		{ ".", "/l/_" },
		{ "...", "/l/..." },
		{ "caf\303\251", "/l/caf__" },
		{ "x:y*z?", "/l/x_y_z_" },
		{ "tab\tnl", "/l/tab_nl" },
	};
	struct hsd_config	*cf;
	char			 text[512], *t;
	size_t			 i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		snprintf(text, sizeof(text), "log { dir = \"/l/\" }\n"
		    "site \"%s\" { bindings = {\"*:8080\"} "
		    "root = \"@/www\" }\n", cases[i].name);
		cf = load_ok(text);
		ck_assert_msg(strcmp(cf->cf_sites[0].st_log.lg_dir,
		    cases[i].want) == 0, "site \"%s\": %s", cases[i].name,
		    cf->cf_sites[0].st_log.lg_dir);
		conf_free(cf);
	}

	/* The root directory: no "//". */
	cf = load_ok("log { dir = \"//\" }\n" ONE_SITE);
	ck_assert_str_eq(cf->cf_log.lg_dir, "/");
	ck_assert_str_eq(cf->cf_httperr_dir, "/HTTPERR");
	ck_assert_str_eq(cf->cf_sites[0].st_log.lg_dir, "/s");
	conf_free(cf);

	/* A site's own directory is not made its name's. */
	cf = load_ok("site \"s\" { bindings = {\"*:8080\"} root = \"@/www\"\n"
	    "  log { dir = \"/var/log/./s.d//\" } }\n");
	ck_assert_str_eq(cf->cf_sites[0].st_log.lg_dir, "/var/log/s.d");
	ck_assert_str_eq(cf->cf_log.lg_dir, "/var/log/hsd");
	conf_free(cf);

	/* Directories that do not exist: taken as written, both ways. */
	t = fx_subst("log { dir = \"/no/such/log\" }\n"
	    "site \"s\" { bindings = {\"*:8080\"} root = \"@/www\" }\n"
	    "site \"t\" { bindings = {\"*:8081\"} root = \"@/www\"\n"
	    "  log { dir = \"/no/such/t\" } }\n");
	ck_assert_int_eq(conf_load_buf(t, CONF_NAME, &cf), 0);
	ck_assert_str_eq(cf->cf_sites[0].st_log.lg_dir, "/no/such/log/s");
	ck_assert_str_eq(cf->cf_sites[1].st_log.lg_dir, "/no/such/t");
	conf_free(cf);
	ck_assert_int_eq(conf_load_text(t, CONF_NAME, CONF_LOAD_NOFS, &cf), 0);
	ck_assert_str_eq(cf->cf_httperr_dir, "/no/such/log/HTTPERR");
	ck_assert_str_eq(cf->cf_sites[0].st_log.lg_dir, "/no/such/log/s");
	ck_assert_str_eq(cf->cf_sites[1].st_log.lg_dir, "/no/such/t");
	conf_free(cf);
	free(t);
}
END_TEST

/* Rejections: the config, then what the log must say. */
struct conf_reject {
	const char	*text;
	const char	*want;
	const char	*want2;
};

static const struct conf_reject conf_rejects[] = {
	/* Comments of every kind before an error: its own line still
	 * (libconfuse 3.3 alone counts comment lines more than once). */
	{ "# one\n# two\n// three\n/* four\nfive */\n"
	  "site \"s\" {\n"
	  "  bindings = {\"*:8080\", # a comment in a list\n"
	  "              \"*:8081\"} // and after it\n"
	  "  root = \"@/www\" /* one line */\n"
	  "  bogus = \"#not a comment\"\n"
	  "}\n",
	  "t.conf:10: site \"s\": no such option 'bogus'", NULL },
	{ "site \"s\" { bindings = {\"*:8080\"}\n"
	  "  root = \"@/www/#x//y\" }\n",
	  "t.conf:2: site \"s\": root: \"@/www/#x//y\"", NULL },
	/* Unknown keys and syntax. */
	{ "bogus = 1\n" ONE_SITE,
	  "t.conf:1: no such option 'bogus'", NULL },
	{ "site \"s\" {\n"
	  "  bindings = {\"*:8080\"}\n"
	  "  root = \"@/www\"\n"
	  "  bogus = \"x\"\n"
	  "}\n",
	  "t.conf:4: site \"s\": no such option 'bogus'", NULL },
	{ "limits {\n"
	  "  max_conn = 5\n"
	  "}\n" ONE_SITE,
	  "t.conf:2: limits: no such option 'max_conn'", NULL },
	{ ONE_SITE "site \"t\" {\n"
	  "  bindings = {\"*:8081\"}\n"
	  "  application \"/a\" { bogus = 1 }\n"
	  "}\n",
	  "t.conf:4: site \"t\": application \"/a\": no such option 'bogus'",
	  NULL },
	{ "site \"s\" {\n"
	  "  root = \"@/www\"\n"
	  "  bindings = {\"*:8080\"\n",
	  "t.conf:", "premature end of file" },
	{ "site \"s\"\n"
	  "  bindings = {\"*:8080\"}\n",
	  "t.conf:2: missing opening brace for section 'site'", NULL },
	{ ONE_SITE "}\n", "t.conf:2: unexpected closing brace", NULL },
	{ ONE_SITE "run_dir \"/x\"\n", "t.conf:2: missing equal sign", NULL },

	/* Values. */
	{ "limits {\n"
	  "  max_connections = 5\n"
	  "  connection_timeout = 12x\n"
	  "}\n" ONE_SITE,
	  "t.conf:3: limits: connection_timeout: bad duration \"12x\"", NULL },
	{ "shutdown_timeout = \"-1s\"\n" ONE_SITE,
	  "t.conf:1: shutdown_timeout: bad duration \"-1s\"", NULL },
	{ ONE_SITE "shutdown_timeout = 1.5s\n",
	  "t.conf:2: shutdown_timeout: bad duration \"1.5s\"", NULL },
	{ "limits { header_wait_timeout = 0 }\n" ONE_SITE,
	  "t.conf:1: limits: header_wait_timeout: must be more than 0", NULL },
	{ "limits { connection_timeout = 0ms }\n" ONE_SITE,
	  "t.conf:1: limits: connection_timeout: must be more than 0", NULL },
	{ "limits { max_request_bytes = 100 }\n" ONE_SITE,
	  "t.conf:1: limits: max_request_bytes: 100 is out of range "
	  "(256..65536)", NULL },
	{ "limits { max_request_bytes = \"65537\" }\n" ONE_SITE,
	  "t.conf:1: limits: max_request_bytes: 65537 is out of range", NULL },
	{ "limits { max_request_bytes = \"1X\" }\n" ONE_SITE,
	  "t.conf:1: limits: max_request_bytes: bad size \"1X\"", NULL },
	{ "limits { max_field_length = 32 }\n" ONE_SITE,
	  "t.conf:1: limits: max_field_length: 32 is out of range (64..65536)",
	  NULL },
	{ "limits {\n"
	  "  max_request_bytes = 64K\n"
	  "  max_field_length = 64K\n"
	  "}\n" ONE_SITE,
	  "t.conf:3: limits: max_request_bytes (65536) and max_field_length "
	  "(65536) together must not exceed", NULL },
	{ "limits {\n"
	  "  max_field_length = 64K\n"
	  "  connection_timeout = 5\n"
	  "  max_request_bytes = 65536\n"
	  "}\n" ONE_SITE,
	  "t.conf:4: limits: max_request_bytes", "max_field_length" },
	{ "limits {\n  entity_body_timeout = 0\n}\n" ONE_SITE,
	  "t.conf:2: limits: entity_body_timeout: must be more than 0", NULL },
	{ "limits { entity_body_timeout = 2x }\n" ONE_SITE,
	  "t.conf:1: limits: entity_body_timeout: bad duration \"2x\"", NULL },
	{ "limits { min_body_rate = -1 }\n" ONE_SITE,
	  "t.conf:1: limits: min_body_rate: -1 is out of range (0..4294967295)",
	  NULL },
	{ "limits {\n\n  min_send_rate = 4294967296\n}\n" ONE_SITE,
	  "t.conf:3: limits: min_send_rate: 4294967296 is out of range", NULL },
	{ "limits { min_send_rate = \"1K\" }\n" ONE_SITE,
	  "t.conf:1: limits:", "'min_send_rate'" },
	{ "site \"s\" {\n"
	  "  bindings = {\"*:8080\"}\n"
	  "  max_body_size = \"1T\"\n"
	  "  root = \"@/www\"\n"
	  "}\n",
	  "t.conf:3: site \"s\": max_body_size: bad size \"1T\"", NULL },
	{ "site \"s\" {\n"
	  "  bindings = {\"*:8080\"}\n"
	  "  root = \"@/www\"\n"
	  "  application \"/up\" {\n"
	  "    max_body_size = -1\n"
	  "  }\n"
	  "}\n",
	  "t.conf:5: site \"s\": application \"/up\": max_body_size: bad size "
	  "\"-1\"", NULL },
	{ "site \"s\" { bindings = {\"*:1\"} root = \"@/www\"\n"
	  "  max_body_size = 9223372036854775808 }\n",
	  "t.conf:2: site \"s\": max_body_size: 9223372036854775808 is out of "
	  "range", NULL },
	{ "limits { max_connections = -1 }\n" ONE_SITE,
	  "t.conf:1: limits: max_connections: -1 is out of range", NULL },
	{ "pool \"p\" { workers = 0 }\n" ONE_SITE,
	  "t.conf:1: pool \"p\": workers: 0 is out of range (1..256)", NULL },
	{ "pool \"p\" {\n  workers = 257\n}\n" ONE_SITE,
	  "t.conf:2: pool \"p\": workers: 257 is out of range (1..256)", NULL },
	{ "pool \"p\" { queue_length = 0 }\n" ONE_SITE,
	  "t.conf:1: pool \"p\": queue_length: 0 is out of range "
	  "(1..1000000)", NULL },
	{ "pool \"p\" { concurrency = 4097 }\n" ONE_SITE,
	  "t.conf:1: pool \"p\": concurrency: 4097 is out of range (1..4096)",
	  NULL },
	{ "pool \"p\" { workers = abc }\n" ONE_SITE,
	  "t.conf:1: pool \"p\":", "'workers'" },
	{ "run_dir = \"\"\n" ONE_SITE,
	  "t.conf:1: run_dir: must not be empty", NULL },

	/* Identities: resolved as read, so -t refuses them. */
	{ "\nuser = \"hsd-no-such-user\"\n" ONE_SITE,
	  "t.conf:2: user: no such user \"hsd-no-such-user\"", NULL },
	{ "group = \"hsd-no-such-group\"\n" ONE_SITE,
	  "t.conf:1: group: no such group \"hsd-no-such-group\"", NULL },
	{ "pool \"p\" {\n  workers = 1\n  user = \"hsd-no-such-user\"\n}\n"
	  ONE_SITE,
	  "t.conf:3: pool \"p\": user: no such user \"hsd-no-such-user\"",
	  NULL },
	{ "pool \"p\" {\n  group = \"hsd-no-such-group\"\n}\n" ONE_SITE,
	  "t.conf:2: pool \"p\": group: no such group \"hsd-no-such-group\"",
	  NULL },
	{ "user = \"\"\n" ONE_SITE,
	  "t.conf:1: user: must not be empty", NULL },
	{ "user = \"root\"\n" ONE_SITE,
	  "t.conf:1: user: \"root\" is the superuser; name an unprivileged "
	  "user", NULL },
	{ "pool \"p\" {\n  user = \"root\"\n}\n" ONE_SITE,
	  "t.conf:2: pool \"p\": user: \"root\" is the superuser; name an "
	  "unprivileged user", NULL },
	{ "chroot_dir = \"var/empty\"\n" ONE_SITE,
	  "t.conf:1: chroot_dir: \"var/empty\" is not an absolute path", NULL },
	{ "body_temp_dir = \"tmp\"\n" ONE_SITE,
	  "t.conf:1: body_temp_dir: \"tmp\" is not an absolute path", NULL },

	/* References. */
	{ "pool \"a\" { }\n"
	  "site \"a\" {\n"
	  "  bindings = {\"*:8080\"}\n"
	  "  root = \"@/www\"\n"
	  "  pool = \"nope\"\n"
	  "}\n",
	  "t.conf:5: site \"a\": pool \"nope\" is not defined", NULL },
	{ "site \"s\" {\n"
	  "  bindings = {\"*:8080\"}\n"
	  "  root = \"@/www\"\n"
	  "  application \"/api\" {\n"
	  "    pool = \"nope\"\n"
	  "  }\n"
	  "}\n",
	  "t.conf:5: site \"s\": application \"/api\": pool \"nope\" is not "
	  "defined", NULL },

	/* Bindings. */
	{ "site \"s\" {\n"
	  "  bindings = {\n"
	  "    \"*:8080\",\n"
	  "    \"*:8080\"\n"
	  "  }\n"
	  "  root = \"@/www\"\n"
	  "}\n",
	  "t.conf:4: site \"s\": bindings: \"*:8080\" is already bound on "
	  "line 3 (site \"s\")", NULL },
	{ "site \"a\" {\n"
	  "  bindings = {\"*:8080:Example.com\"}\n"
	  "  root = \"@/www\"\n"
	  "}\n"
	  "site \"b\" {\n"
	  "  root = \"@/www\"\n"
	  "  bindings = {\"*:8081\", \"*:8080:example.COM.\"}\n"
	  "}\n",
	  "t.conf:7: site \"b\": bindings: \"*:8080:example.COM.\" is already "
	  "bound on line 2 (site \"a\")", NULL },
	{ ONE_SITE "site \"t\" { root = \"@/www\"\n"
	  "bindings = {\"0.0.0.0:8080\"} }\n",
	  "t.conf:3: site \"t\": bindings: \"0.0.0.0:8080\" is already bound "
	  "on line 1", NULL },
	{ "site \"s\" { root = \"@/www\" bindings = {\"[::]:80\", "
	  "\"[0::0]:80\"} }\n",
	  "t.conf:1: site \"s\": bindings: \"[0::0]:80\" is already bound",
	  NULL },
	{ "site \"s\" { root = \"@/www\" bindings = {\"1.2.3.4:80:h\", "
	  "\"1.2.3.4:80:H\"} }\n",
	  "\"1.2.3.4:80:H\" is already bound", NULL },
	{ "site \"s\" {\n"
	  "  bindings = {\"*:80\", \"8080\"}\n"
	  "  root = \"@/www\"\n"
	  "}\n",
	  "t.conf:2: site \"s\": bindings: bad binding \"8080\"", NULL },
	{ "site \"s\" {\n"
	  "  root = \"@/www\"\n"
	  "  bindings = \"*:80:bad host\"\n"
	  "}\n",
	  "t.conf:3: site \"s\": bindings: bad binding \"*:80:bad host\"",
	  NULL },
	{ "pool \"p\" {}\n"
	  "site \"s\" {\n"
	  "  root = \"@/www\"\n"
	  "}\n",
	  "t.conf:2: site \"s\": bindings: a site needs at least one binding",
	  NULL },
	{ "site \"s\" {\n"
	  "  root = \"@/www\"\n"
	  "  bindings = {}\n"
	  "}\n",
	  "t.conf:1: site \"s\": bindings: a site needs at least one binding",
	  NULL },

	/* Roots. */
	{ "site \"s\" {\n"
	  "  bindings = {\"*:8080\"}\n"
	  "  root = \"@/nope\"\n"
	  "}\n",
	  "t.conf:3: site \"s\": root: \"@/nope\": No such file or directory",
	  NULL },
	{ "site \"s\" {\n"
	  "  bindings = {\"*:8080\"}\n"
	  "  root = \"@/file\"\n"
	  "}\n",
	  "t.conf:3: site \"s\": root: \"@/file\" is not a directory", NULL },
	{ "site \"s\" {\n"
	  "  bindings = {\"*:8080\"}\n"
	  "  root = \"@/www\"\n"
	  "  application \"/api\" { root = \"@/nope\" }\n"
	  "}\n",
	  "t.conf:4: site \"s\": application \"/api\": root: \"@/nope\": "
	  "No such file or directory", NULL },
	{ "site \"s\" {\n"
	  "  bindings = {\"*:8080\"}\n"
	  "}\n",
	  "t.conf:1: site \"s\": root: a site needs a root directory", NULL },

	/* Sites, pools and applications. */
	{ "pool \"p\" {}\n", "t.conf: no site is defined", NULL },
	{ "", "t.conf: no site is defined", NULL },
	{ "# nothing but a comment\n", "t.conf: no site is defined", NULL },
	{ "site \"s\" {\n"
	  "  bindings = {\"*:8080\"}\n"
	  "  root = \"@/www\"\n"
	  "  application \"/api\" { }\n"
	  "  application \"/api/\" {\n"
	  "    pool = \"default\"\n"
	  "  }\n"
	  "}\n",
	  "t.conf:5: site \"s\": application \"/api/\": the prefix is already "
	  "used by application \"/api\" on line 4", NULL },
	{ "site \"s\" {\n"
	  "  bindings = {\"*:8080\"}\n"
	  "  root = \"@/www\"\n"
	  "  application \"/api\" { }\n"
	  "  application \"/api\" { }\n"
	  "}\n",
	  "t.conf:5: site \"s\": application \"/api\" is defined twice", NULL },
	{ "site \"s\" {\n"
	  "  bindings = {\"*:8080\"}\n"
	  "  root = \"@/www\"\n"
	  "  application \"api\" { }\n"
	  "}\n",
	  "t.conf:4: site \"s\": application \"api\": the URL prefix must be",
	  NULL },
	{ "site \"s\" {\n"
	  "  bindings = {\"*:8080\"}\n"
	  "  root = \"@/www\"\n"
	  "  application \"/a/../b\" {\n"
	  "    root = \"@/api\"\n"
	  "  }\n"
	  "}\n",
	  "t.conf:4: site \"s\": application \"/a/../b\": the URL prefix must "
	  "be", NULL },
	{ "site \"s\" { bindings = {\"*:1\"} root = \"@/www\"\n"
	  "  application \"/a//b\" { } }\n",
	  "t.conf:2: site \"s\": application \"/a//b\": the URL prefix", NULL },
	{ "pool \"a\" {}\n"
	  "pool \"a\" {}\n" ONE_SITE,
	  "t.conf:2: pool \"a\" is defined twice", NULL },
	{ ONE_SITE
	  "pool \"s\" {}\n"
	  "site \"s\" { bindings = {\"*:1\"} root = \"@/www\" }\n",
	  "t.conf:3: ", "\"s\" is defined twice" },
	{ "pool \"p\" {}\n" ONE_SITE
	  "site \"s\" { bindings = {\"*:1\"} root = \"@/www\" }\n",
	  "t.conf:3: site \"s\" is defined twice", NULL },
	{ "site \"\" { bindings = {\"*:1\"} root = \"@/www\" }\n",
	  "t.conf:1: site: the name must not be empty", NULL },

	/* A pool's chroot, and the roots its workers serve. */
	{ "pool \"p\" { chroot = \"www\" }\n" ONE_SITE,
	  "t.conf:1: pool \"p\": chroot: \"www\" is not an absolute path",
	  NULL },
	{ "pool \"p\" { chroot = \"\" }\n" ONE_SITE,
	  "t.conf:1: pool \"p\": chroot: must not be empty", NULL },
	{ "pool \"p\" {\n  chroot = \"@/api/../www\"\n}\n" ONE_SITE,
	  "t.conf:2: pool \"p\": chroot: \"@/api/../www\" must not "
	  "contain \"..\"", NULL },
	{ "pool \"p\" { chroot = \"@/link\" }\n" ONE_SITE,
	  "t.conf:1: pool \"p\": chroot: \"@/link\" leads through a "
	  "symbolic link; write its real path \"@/www\"", NULL },
	{ "pool \"p\" { chroot = \"@/api\" }\n"
	  "site \"s\" {\n  bindings = {\"*:1\"}\n  pool = \"p\"\n"
	  "  root = \"@/www\"\n}\n",
	  "t.conf:5: site \"s\": root \"@/www\" is not below chroot "
	  "\"@/api\" of pool \"p\" (line 1)", NULL },
	/* Components, not string prefixes. */
	{ "pool \"p\" {\n  chroot = \"@/ww/\"\n}\n"
	  "site \"s\" { bindings = {\"*:1\"} pool = \"p\" root = \"@/www\" }\n",
	  "t.conf:4: site \"s\": root \"@/www\" is not below chroot "
	  "\"@/ww\" of pool \"p\" (line 2)", NULL },
	{ "pool \"p\" { chroot = \"@/www\" }\n"
	  "site \"s\" {\n  bindings = {\"*:1\"}\n  root = \"@/www\"\n"
	  "  application \"/a\" {\n    pool = \"p\"\n    root = \"@/api\"\n"
	  "  }\n}\n",
	  "t.conf:7: site \"s\": application \"/a\": root \"@/api\" is not "
	  "below chroot \"@/www\" of pool \"p\"", NULL },
	/* Without a root of its own an application serves the site's. */
	{ "pool \"p\" { chroot = \"@/api\" }\n"
	  "site \"s\" {\n  bindings = {\"*:1\"}\n  root = \"@/www\"\n"
	  "  application \"/a\" {\n    pool = \"p\"\n  }\n}\n",
	  "t.conf:6: site \"s\": application \"/a\": the site's root "
	  "\"@/www\" is not below chroot \"@/api\" of pool \"p\"", NULL },
	/* Rapid-fail protection. */
	{ "pool \"p\" {\n  rapid_fail_max = 10001\n}\n" ONE_SITE,
	  "t.conf:2: pool \"p\": rapid_fail_max: 10001 is out of range "
	  "(0..10000)", NULL },
	{ "pool \"p\" { rapid_fail_interval = \"0s\" }\n" ONE_SITE,
	  "t.conf:1: pool \"p\": rapid_fail_interval: must be more than 0",
	  NULL },
	{ "pool \"p\" { rapid_fail_interval = \"5 minutes\" }\n" ONE_SITE,
	  "t.conf:1: pool \"p\": rapid_fail_interval: bad duration "
	  "\"5 minutes\"", NULL },

	/* Logging: the top-level section. */
	{ "log {\n  format = \"xml\"\n}\n" ONE_SITE,
	  "t.conf:2: log: format: \"xml\" is not \"off\", \"w3c\", \"ncsa\" "
	  "or \"combined\"", NULL },
	{ "log { format = \"W3C\" }\n" ONE_SITE,
	  "t.conf:1: log: format: \"W3C\" is not", NULL },
	{ "log {\n\n  rollover = \"yearly\"\n}\n" ONE_SITE,
	  "t.conf:3: log: rollover: \"yearly\" is not \"hourly\", \"daily\", "
	  "\"weekly\", \"monthly\" or \"size\"", NULL },
	{ "log {\n"
	  "  fields = {\"date\",\n"
	  "    \"time\",\n"
	  "    \"cs-referer\"}\n"
	  "}\n" ONE_SITE,
	  "t.conf:4: log: fields: unknown W3C field \"cs-referer\"", NULL },
	{ "log { fields = {\"Date\"} }\n" ONE_SITE,
	  "t.conf:1: log: fields: unknown W3C field \"Date\"", NULL },
	{ "log {\n"
	  "  fields = {\"date\", \"time\",\n"
	  "    \"c-ip\", \"time\"}\n"
	  "}\n" ONE_SITE,
	  "t.conf:3: log: fields: \"time\" is named twice", NULL },
	{ "log {\n  fields = {}\n}\n" ONE_SITE,
	  "t.conf:", "log: fields: name at least one field" },
	{ "log { dir = \"var/log/hsd\" }\n" ONE_SITE,
	  "t.conf:1: log: dir: \"var/log/hsd\" is not an absolute path", NULL },
	{ "log { dir = \"\" }\n" ONE_SITE,
	  "t.conf:1: log: dir: must not be empty", NULL },
	{ "log {\n  dir = \"/var/log/../tmp\"\n}\n" ONE_SITE,
	  "t.conf:2: log: dir: \"/var/log/../tmp\" must not contain \"..\"",
	  NULL },
	{ "log { dir = \"/var/log/hsd/..\" }\n" ONE_SITE,
	  "t.conf:1: log: dir: \"/var/log/hsd/..\" must not contain", NULL },
	{ "log { max_size = 0 }\n" ONE_SITE,
	  "t.conf:1: log: max_size: must be more than 0", NULL },
	{ "log { max_size = \"20MB\" }\n" ONE_SITE,
	  "t.conf:1: log: max_size: bad size \"20MB\"", NULL },
	{ "log {\n  httperr_max_size = \"0K\"\n}\n" ONE_SITE,
	  "t.conf:2: log: httperr_max_size: must be more than 0", NULL },
	{ "log { log_buffer = 65535 }\n" ONE_SITE,
	  "t.conf:1: log: log_buffer: 65535 is less than 65536 bytes", NULL },
	{ "log { log_buffer = 0 }\n" ONE_SITE,
	  "t.conf:1: log: log_buffer: 0 is less than 65536 bytes", NULL },
	{ "log { flush_interval = 0ms }\n" ONE_SITE,
	  "t.conf:1: log: flush_interval: must be more than 0", NULL },
	{ "log { flush_interval = \"1 s\" }\n" ONE_SITE,
	  "t.conf:1: log: flush_interval: bad duration \"1 s\"", NULL },
	{ "log {\n  local_time = \"maybe\"\n}\n" ONE_SITE,
	  "t.conf:2: log: ", "'local_time'" },
	{ "log { local_time = 1 }\n" ONE_SITE,
	  "t.conf:1: log: ", "'local_time'" },
	{ "log { site = \"s\" }\n" ONE_SITE,
	  "t.conf:1: log: no such option 'site'", NULL },

	/* A site's log section: the same checks, named by site. */
	{ ONE_SITE "site \"t\" {\n"
	  "  bindings = {\"*:8081\"}\n"
	  "  root = \"@/www\"\n"
	  "  log {\n"
	  "    format = \"common\"\n"
	  "  }\n"
	  "}\n",
	  "t.conf:6: site \"t\": log: format: \"common\" is not", NULL },
	{ "site \"s\" { bindings = {\"*:8080\"} root = \"@/www\"\n"
	  "  log { rollover = \"never\" } }\n",
	  "t.conf:2: site \"s\": log: rollover: \"never\" is not", NULL },
	{ "site \"s\" { bindings = {\"*:8080\"} root = \"@/www\"\n"
	  "  log { fields = {\"s-ip\", \"bogus\"} } }\n",
	  "t.conf:2: site \"s\": log: fields: unknown W3C field \"bogus\"",
	  NULL },
	{ "site \"s\" { bindings = {\"*:8080\"} root = \"@/www\"\n"
	  "  log { fields = {\"s-ip\", \"s-ip\"} } }\n",
	  "t.conf:2: site \"s\": log: fields: \"s-ip\" is named twice", NULL },
	{ "site \"s\" { bindings = {\"*:8080\"} root = \"@/www\"\n"
	  "  log {\n    dir = \"logs/s\"\n  }\n}\n",
	  "t.conf:3: site \"s\": log: dir: \"logs/s\" is not an absolute path",
	  NULL },
	{ "site \"s\" { bindings = {\"*:8080\"} root = \"@/www\"\n"
	  "  log { dir = \"/var/log/hsd/../s\" } }\n",
	  "t.conf:2: site \"s\": log: dir: \"/var/log/hsd/../s\" must not "
	  "contain \"..\"", NULL },
	{ "site \"s\" { bindings = {\"*:8080\"} root = \"@/www\"\n"
	  "  log { max_size = \"0M\" } }\n",
	  "t.conf:2: site \"s\": log: max_size: must be more than 0", NULL },
	{ "site \"s\" { bindings = {\"*:8080\"} root = \"@/www\"\n"
	  "  log { local_time = \"sometimes\" } }\n",
	  "t.conf:2: site \"s\": log: ", "'local_time'" },
	/* Server-wide keys are not a site's to set. */
	{ "site \"s\" { bindings = {\"*:8080\"} root = \"@/www\"\n"
	  "  log {\n    httperr_max_size = 2M\n  }\n}\n",
	  "t.conf:3: site \"s\": log: no such option 'httperr_max_size'", NULL },
	{ "site \"s\" { bindings = {\"*:8080\"} root = \"@/www\"\n"
	  "  log { log_buffer = 8M } }\n",
	  "t.conf:2: site \"s\": log: no such option 'log_buffer'", NULL },
	{ "site \"s\" { bindings = {\"*:8080\"} root = \"@/www\"\n"
	  "  log { flush_interval = 5s } }\n",
	  "t.conf:2: site \"s\": log: no such option 'flush_interval'", NULL },
	/* Nor is a log section an application's. */
	{ "site \"s\" { bindings = {\"*:8080\"} root = \"@/www\"\n"
	  "  application \"/a\" { log { format = \"off\" } } }\n",
	  "t.conf:2: site \"s\": application \"/a\": no such option 'log'",
	  NULL },

	/* The cache section: every key, and the section itself. */
	{ "cache {\n  enabled = \"maybe\"\n}\n" ONE_SITE,
	  "t.conf:2: cache: ", "'enabled'" },
	{ "cache { enabled = 1 }\n" ONE_SITE,
	  "t.conf:1: cache: ", "'enabled'" },
	{ "cache {\n\n  max_memory = 65G\n}\n" ONE_SITE,
	  "t.conf:3: cache: max_memory: 65G is out of range "
	  "(1..68719476736)", NULL },
	{ "cache { max_memory = 68719476737 }\n" ONE_SITE,
	  "t.conf:1: cache: max_memory: 68719476737 is out of range", NULL },
	{ "cache {\n  max_memory = 0\n}\n" ONE_SITE,
	  "t.conf:2: cache: max_memory: must be more than 0", NULL },
	{ "cache { max_memory = \"64MB\" }\n" ONE_SITE,
	  "t.conf:1: cache: max_memory: bad size \"64MB\"", NULL },
	{ "cache {\n  max_entry_size = \"0K\"\n}\n" ONE_SITE,
	  "t.conf:2: cache: max_entry_size: must be more than 0", NULL },
	{ "cache { max_entry_size = \"-1\" }\n" ONE_SITE,
	  "t.conf:1: cache: max_entry_size: bad size \"-1\"", NULL },
	/* Larger than max_memory: the default one, or either written
	 * first; the key written last is named. */
	{ "cache {\n  max_entry_size = \"65M\"\n}\n" ONE_SITE,
	  "t.conf:2: cache: max_entry_size (68157440) must not exceed "
	  "max_memory (67108864)", NULL },
	{ "cache {\n  max_memory = \"1M\"\n  allow_query = true\n"
	  "  max_entry_size = \"1025K\"\n}\n" ONE_SITE,
	  "t.conf:4: cache: max_entry_size (1049600) must not exceed "
	  "max_memory (1048576)", NULL },
	{ "cache {\n  max_entry_size = \"2M\"\n  max_memory = \"1M\"\n}\n"
	  ONE_SITE,
	  "t.conf:3: cache: max_entry_size (2097152) must not exceed "
	  "max_memory (1048576)", NULL },
	{ "cache {\n  max_memory = \"100K\"\n}\n" ONE_SITE,
	  "t.conf:2: cache: max_entry_size (262144) must not exceed "
	  "max_memory (102400)", NULL },
	{ "cache {\n  max_header_size = 255\n}\n" ONE_SITE,
	  "t.conf:2: cache: max_header_size: 255 is out of range (256..65536)",
	  NULL },
	{ "cache { max_header_size = \"65537\" }\n" ONE_SITE,
	  "t.conf:1: cache: max_header_size: 65537 is out of range "
	  "(256..65536)", NULL },
	{ "cache { max_header_size = 1M }\n" ONE_SITE,
	  "t.conf:1: cache: max_header_size: 1M is out of range", NULL },
	{ "cache { max_header_size = \"1 K\" }\n" ONE_SITE,
	  "t.conf:1: cache: max_header_size: bad size \"1 K\"", NULL },
	{ "cache {\n  activity_period = \"-1s\"\n}\n" ONE_SITE,
	  "t.conf:2: cache: activity_period: bad duration \"-1s\"", NULL },
	{ "cache { activity_period = \"10 s\" }\n" ONE_SITE,
	  "t.conf:1: cache: activity_period: bad duration \"10 s\"", NULL },
	{ "cache {\n  scavenger_period = 0\n}\n" ONE_SITE,
	  "t.conf:2: cache: scavenger_period: \"0\" is less than 1s", NULL },
	{ "cache { scavenger_period = 999ms }\n" ONE_SITE,
	  "t.conf:1: cache: scavenger_period: \"999ms\" is less than 1s",
	  NULL },
	{ "cache { scavenger_period = \"2x\" }\n" ONE_SITE,
	  "t.conf:1: cache: scavenger_period: bad duration \"2x\"", NULL },
	{ "cache {\n\n  max_ttl = \"0s\"\n}\n" ONE_SITE,
	  "t.conf:3: cache: max_ttl: \"0s\" is less than 1s", NULL },
	{ "cache { max_ttl = 500ms }\n" ONE_SITE,
	  "t.conf:1: cache: max_ttl: \"500ms\" is less than 1s", NULL },
	{ "cache { max_ttl = \"1w\" }\n" ONE_SITE,
	  "t.conf:1: cache: max_ttl: bad duration \"1w\"", NULL },
	{ "cache {\n  allow_query = 2\n}\n" ONE_SITE,
	  "t.conf:2: cache: ", "'allow_query'" },
	{ "cache { allow_cookies = \"sometimes\" }\n" ONE_SITE,
	  "t.conf:1: cache: ", "'allow_cookies'" },
	{ "cache {\n  max_entries = 10\n}\n" ONE_SITE,
	  "t.conf:2: cache: no such option 'max_entries'", NULL },
	{ "cache = false\n" ONE_SITE,
	  "t.conf:1: missing opening brace for section 'cache'", NULL },
	/* Written twice, even alike: named where the second one ends. */
	{ "cache { max_ttl = 5s }\n" ONE_SITE
	  "cache {\n  max_ttl = 5s\n}\n",
	  "t.conf:5: cache: the section is defined twice (first on line 1)",
	  NULL },
	{ "\ncache {\n}\ncache { }\n" ONE_SITE,
	  "t.conf:4: cache: the section is defined twice (first on line 3)",
	  NULL },
	/* The cache's keys are the section's, not a site's. */
	{ "site \"s\" { bindings = {\"*:8080\"} root = \"@/www\"\n"
	  "  max_ttl = 5s }\n",
	  "t.conf:2: site \"s\": no such option 'max_ttl'", NULL },
	/* A site's and an application's cache key: a boolean. */
	{ "site \"s\" { bindings = {\"*:8080\"} root = \"@/www\"\n"
	  "  cache = \"maybe\" }\n",
	  "t.conf:2: site \"s\": ", "'cache'" },
	{ "site \"s\" { bindings = {\"*:8080\"} root = \"@/www\"\n"
	  "  application \"/a\" {\n    cache = 3\n  }\n}\n",
	  "t.conf:3: site \"s\": application \"/a\": ", "'cache'" },
	{ "site \"s\" { bindings = {\"*:8080\"} root = \"@/www\"\n"
	  "  cache { enabled = false } }\n",
	  "t.conf:2: ", "'cache'" },

	/* A handler is one of its words, as written. */
	{ "site \"s\" { bindings = {\"*:8080\"} root = \"@/www\"\n"
	  "  handler = \"php\" }\n",
	  "t.conf:2: site \"s\": handler: \"php\" is not \"static\", "
	  "\"cgi\", \"fastcgi\" or \"module\"", NULL },
	{ "site \"s\" {\n  bindings = {\"*:8080\"}\n  root = \"@/www\"\n"
	  "  application \"/cgi-bin\" {\n    handler = \"fcgi\"\n  }\n}\n",
	  "t.conf:5: site \"s\": application \"/cgi-bin\": handler: "
	  "\"fcgi\" is not \"static\", \"cgi\", \"fastcgi\" or \"module\"",
	  NULL },
	{ "site \"s\" { bindings = {\"*:8080\"} root = \"@/www\"\n"
	  "  handler = modules }\n",
	  "t.conf:2: site \"s\": handler: \"modules\" is not", NULL },
	{ "site \"s\" { bindings = {\"*:8080\"} root = \"@/www\"\n"
	  "  application \"/a\" { handler = \"CGI\" } }\n",
	  "t.conf:2: site \"s\": application \"/a\": handler: \"CGI\" is "
	  "not", NULL },
	{ "site \"s\" { bindings = {\"*:8080\"} root = \"@/www\"\n"
	  "  handler = \"\" }\n",
	  "t.conf:2: site \"s\": handler: \"\" is not", NULL },
	/* A CGI program always has a time limit. */
	{ "site \"s\" { bindings = {\"*:8080\"} root = \"@/www\"\n"
	  "  cgi_timeout = 0 }\n",
	  "t.conf:2: site \"s\": cgi_timeout: must be more than 0", NULL },
	{ "site \"s\" {\n  bindings = {\"*:8080\"}\n  root = \"@/www\"\n"
	  "  application \"/cgi-bin\" {\n    handler = \"cgi\"\n"
	  "    cgi_timeout = \"0ms\"\n  }\n}\n",
	  "t.conf:6: site \"s\": application \"/cgi-bin\": cgi_timeout: "
	  "must be more than 0", NULL },
	{ "site \"s\" { bindings = {\"*:8080\"} root = \"@/www\"\n"
	  "  cgi_timeout = \"5 minutes\" }\n",
	  "t.conf:2: site \"s\": cgi_timeout: bad duration \"5 minutes\"",
	  NULL },
	{ "site \"s\" { bindings = {\"*:8080\"} root = \"@/www\"\n"
	  "  application \"/a\" { cgi_timeout = \"-1s\" } }\n",
	  "t.conf:2: site \"s\": application \"/a\": cgi_timeout: bad "
	  "duration \"-1s\"", NULL },
	{ "pool \"p\" { cgi_max_children = 0 }\n" ONE_SITE,
	  "t.conf:1: pool \"p\": cgi_max_children: 0 is out of range "
	  "(1..4096)", NULL },
	{ "pool \"p\" {\n  cgi_max_children = 4097\n}\n" ONE_SITE,
	  "t.conf:2: pool \"p\": cgi_max_children: 4097 is out of range "
	  "(1..4096)", NULL },
	{ "pool \"p\" { cgi_max_children = -1 }\n" ONE_SITE,
	  "t.conf:1: pool \"p\": cgi_max_children: -1 is out of range", NULL },
	{ "pool \"p\" { cgi_max_children = many }\n" ONE_SITE,
	  "t.conf:1: pool \"p\":", "'cgi_max_children'" },
	/* Each key in its own sections only. */
	{ "pool \"p\" { handler = \"cgi\" }\n" ONE_SITE,
	  "t.conf:1: pool \"p\": no such option 'handler'", NULL },
	{ "cgi_timeout = \"1m\"\n" ONE_SITE,
	  "t.conf:1: no such option 'cgi_timeout'", NULL },
	{ "site \"s\" { bindings = {\"*:8080\"} root = \"@/www\"\n"
	  "  cgi_max_children = 4 }\n",
	  "t.conf:2: site \"s\": no such option 'cgi_max_children'", NULL },

	/* FastCGI: an address or a command where the handler is
	 * "fastcgi", never both, on the path's own line. */
	{ "site \"s\" {\n  bindings = {\"*:8080\"}\n  root = \"@/www\"\n"
	  "  handler = \"fastcgi\"\n}\n",
	  "t.conf:4: site \"s\": handler \"fastcgi\" needs fastcgi_address "
	  "or fastcgi_command", NULL },
	{ "site \"s\" {\n  bindings = {\"*:8080\"}\n  root = \"@/www\"\n"
	  "  handler = \"fastcgi\"\n"
	  "  fastcgi_command = \"/usr/bin/php-cgi\"\n"
	  "  fastcgi_address = \"127.0.0.1:9000\"\n}\n",
	  "t.conf:6: site \"s\": handler \"fastcgi\" needs fastcgi_address "
	  "or fastcgi_command, not both", NULL },
	/* An application that writes a fastcgi_ key takes none of the
	 * site's: its own section is named. */
	{ "site \"s\" {\n  bindings = {\"*:8080\"}\n  root = \"@/www\"\n"
	  "  handler = \"fastcgi\"\n"
	  "  fastcgi_command = \"/usr/bin/php-cgi\"\n"
	  "  application \"/a\" {\n    fastcgi_processes = 2\n  }\n}\n",
	  "t.conf:6: site \"s\": application \"/a\": handler \"fastcgi\" "
	  "needs fastcgi_address or fastcgi_command", NULL },
	{ "site \"s\" {\n  bindings = {\"*:8080\"}\n  root = \"@/www\"\n"
	  "  application \"/a\" {\n    handler = \"fastcgi\"\n  }\n}\n",
	  "t.conf:5: site \"s\": application \"/a\": handler \"fastcgi\" "
	  "needs fastcgi_address or fastcgi_command", NULL },
	{ "site \"s\" {\n  bindings = {\"*:8080\"}\n  root = \"@/www\"\n"
	  "  application \"/a\" {\n    handler = \"fastcgi\"\n"
	  "    fastcgi_address = \"unix:/run/php/php8.2-fpm.sock\"\n"
	  "    fastcgi_command = \"/usr/bin/php-cgi\"\n  }\n}\n",
	  "t.conf:7: site \"s\": application \"/a\": handler \"fastcgi\" "
	  "needs fastcgi_address or fastcgi_command, not both", NULL },
	/* Both in the site, used by an application only: the site's
	 * lines are at fault. */
	{ "site \"s\" {\n  bindings = {\"*:8080\"}\n  root = \"@/www\"\n"
	  "  fastcgi_address = \"127.0.0.1:9000\"\n"
	  "  fastcgi_command = \"/usr/bin/php-cgi\"\n"
	  "  application \"/a\" { handler = \"fastcgi\" }\n}\n",
	  "t.conf:5: site \"s\": handler \"fastcgi\" needs "
	  "fastcgi_address or fastcgi_command, not both", NULL },
	/* Addresses. */
	{ "site \"s\" { bindings = {\"*:8080\"} root = \"@/www\"\n"
	  "  fastcgi_address = \"unix:run/php.sock\" }\n",
	  "t.conf:2: site \"s\": fastcgi_address: bad address "
	  "\"unix:run/php.sock\" (want unix:/absolute/path, ipv4:port or "
	  "[ipv6]:port)", NULL },
	{ "site \"s\" { bindings = {\"*:8080\"} root = \"@/www\"\n"
	  "  fastcgi_address = \"unix:/" 
	  "0123456789012345678901234567890123456789012345678901234567890123"
	  "4567890123456789012345678901234567890123456\" }\n",
	  "t.conf:2: site \"s\": fastcgi_address: \"unix:/0123",
	  "\": the path is longer than 107 bytes, the most a socket address "
	  "holds" },
	{ "site \"s\" { bindings = {\"*:8080\"} root = \"@/www\"\n"
	  "  application \"/a\" {\n"
	  "    fastcgi_address = \"localhost:9000\" } }\n",
	  "t.conf:3: site \"s\": application \"/a\": fastcgi_address: bad "
	  "address \"localhost:9000\"", NULL },
	{ "site \"s\" { bindings = {\"*:8080\"} root = \"@/www\"\n"
	  "  fastcgi_address = \"127.0.0.1\" }\n",
	  "t.conf:2: site \"s\": fastcgi_address: bad address", NULL },
	{ "site \"s\" { bindings = {\"*:8080\"} root = \"@/www\"\n"
	  "  fastcgi_address = \"127.0.0.1:65536\" }\n",
	  "t.conf:2: site \"s\": fastcgi_address: bad address", NULL },
	{ "site \"s\" { bindings = {\"*:8080\"} root = \"@/www\"\n"
	  "  fastcgi_address = \"::1:9000\" }\n",
	  "t.conf:2: site \"s\": fastcgi_address: bad address", NULL },
	{ "site \"s\" { bindings = {\"*:8080\"} root = \"@/www\"\n"
	  "  fastcgi_address = \"\" }\n",
	  "t.conf:2: site \"s\": fastcgi_address: must not be empty", NULL },
	/* The command, its environment, its copies. */
	{ "site \"s\" { bindings = {\"*:8080\"} root = \"@/www\"\n"
	  "  fastcgi_command = \"php-cgi\" }\n",
	  "t.conf:2: site \"s\": fastcgi_command: \"php-cgi\" is not an "
	  "absolute path", NULL },
	{ "site \"s\" { bindings = {\"*:8080\"} root = \"@/www\"\n"
	  "  fastcgi_env = {\"A=1\",\n"
	  "    \"PHP_FCGI_MAX_REQUESTS\"} }\n",
	  "t.conf:3: site \"s\": fastcgi_env: \"PHP_FCGI_MAX_REQUESTS\" is "
	  "not NAME=value", NULL },
	{ "site \"s\" { bindings = {\"*:8080\"} root = \"@/www\"\n"
	  "  application \"/a\" { fastcgi_env = {\"=1\"} } }\n",
	  "t.conf:2: site \"s\": application \"/a\": fastcgi_env: \"=1\" "
	  "has an empty name", NULL },
	{ "site \"s\" { bindings = {\"*:8080\"} root = \"@/www\"\n"
	  "  fastcgi_processes = 0 }\n",
	  "t.conf:2: site \"s\": fastcgi_processes: 0 is out of range "
	  "(1..1024)", NULL },
	{ "site \"s\" { bindings = {\"*:8080\"} root = \"@/www\"\n"
	  "  application \"/a\" {\n    fastcgi_processes = 1025 } }\n",
	  "t.conf:3: site \"s\": application \"/a\": fastcgi_processes: "
	  "1025 is out of range (1..1024)", NULL },
	{ "site \"s\" { bindings = {\"*:8080\"} root = \"@/www\"\n"
	  "  fastcgi_params = {\"HTTPS\"} }\n",
	  "t.conf:2: site \"s\": fastcgi_params: \"HTTPS\" is not NAME=value",
	  NULL },
	{ "site \"s\" { bindings = {\"*:8080\"} root = \"@/www\"\n"
	  "  application \"/a\" {\n    fastcgi_connections = 1025 } }\n",
	  "t.conf:3: site \"s\": application \"/a\": fastcgi_connections: "
	  "1025 is out of range (0..1024)", NULL },
	/* Kept connections are for a server of the operator's: a
	 * command's processes are shared out among the workers. */
	{ "site \"s\" {\n  bindings = {\"*:8080\"}\n  root = \"@/www\"\n"
	  "  handler = \"fastcgi\"\n"
	  "  fastcgi_command = \"/usr/bin/php-cgi\"\n"
	  "  fastcgi_connections = 2\n}\n",
	  "t.conf:6: site \"s\": fastcgi_connections is for fastcgi_address: "
	  "the processes of fastcgi_command are shared out among the workers",
	  NULL },
	/* A command runs outside any chroot. */
	{ "pool \"jail\" {\n  chroot = \"@\"\n}\n"
	  "site \"s\" {\n  bindings = {\"*:8080\"}\n  root = \"@/www\"\n"
	  "  pool = \"jail\"\n  handler = \"fastcgi\"\n"
	  "  fastcgi_command = \"/usr/bin/php-cgi\"\n}\n",
	  "t.conf:9: site \"s\": fastcgi_command is not supported in a "
	  "chrooted pool (pool \"jail\" has chroot \"@\", line 2)", NULL },
	{ "pool \"jail\" {\n  chroot = \"@\"\n}\n"
	  "site \"s\" {\n  bindings = {\"*:8080\"}\n  root = \"@/www\"\n"
	  "  fastcgi_command = \"/usr/bin/php-cgi\"\n"
	  "  application \"/php\" {\n    handler = \"fastcgi\"\n"
	  "    pool = \"jail\"\n  }\n}\n",
	  "t.conf:10: site \"s\": application \"/php\": fastcgi_command is "
	  "not supported in a chrooted pool", NULL },
	/* Its socket must fit a socket address. */
	{ "run_dir = \"/tmp/"
	  "0123456789012345678901234567890123456789012345678901234567890123"
	  "4567890123456789012345\"\n"
	  "site \"s\" {\n  bindings = {\"*:8080\"}\n  root = \"@/www\"\n"
	  "  handler = \"fastcgi\"\n"
	  "  fastcgi_command = \"/usr/bin/php-cgi\"\n}\n",
	  "t.conf:6: site \"s\": fastcgi_command: its socket in run_dir "
	  "\"/tmp/0123", "would be longer than 107 bytes" },
	/* Site and application keys only. */
	{ "pool \"p\" { fastcgi_processes = 2 }\n" ONE_SITE,
	  "t.conf:1: pool \"p\": no such option 'fastcgi_processes'", NULL },
	{ "fastcgi_command = \"/usr/bin/php-cgi\"\n" ONE_SITE,
	  "t.conf:1: no such option 'fastcgi_command'", NULL },

	/* A module handler needs its file, on the path's own line. */
	{ "site \"s\" {\n  bindings = {\"*:8080\"}\n  root = \"@/www\"\n"
	  "  handler = \"module\"\n}\n",
	  "t.conf:4: site \"s\": handler \"module\" needs module, the "
	  "shared object to load", NULL },
	{ "site \"s\" { bindings = {\"*:8080\"} root = \"@/www\"\n"
	  "  application \"/m\" {\n    handler = \"module\"\n"
	  "    module_args = {\"a=1\"}\n  }\n}\n",
	  "t.conf:3: site \"s\": application \"/m\": handler \"module\" "
	  "needs module", NULL },
	/* An application that writes module_args takes none of the site's
	 * keys, its file neither. */
	{ "site \"s\" { bindings = {\"*:8080\"} root = \"@/www\"\n"
	  "  handler = \"module\"\n"
	  "  module = \"/usr/local/lib/hsd/hello.so\"\n"
	  "  application \"/a\" {\n    module_args = {}\n  }\n}\n",
	  "t.conf:6: site \"s\": application \"/a\": handler \"module\" "
	  "needs module", NULL },
	{ "site \"s\" { bindings = {\"*:8080\"} root = \"@/www\"\n"
	  "  module = \"hello.so\" }\n",
	  "t.conf:2: site \"s\": module: \"hello.so\" is not an absolute "
	  "path", NULL },
	{ "site \"s\" { bindings = {\"*:8080\"} root = \"@/www\"\n"
	  "  application \"/a\" { module = \"\" } }\n",
	  "t.conf:2: site \"s\": application \"/a\": module: must not be "
	  "empty", NULL },
	{ "site \"s\" { bindings = {\"*:8080\"} root = \"@/www\"\n"
	  "  module_args = {\"greeting=hi\",\n"
	  "    \"verbose\"} }\n",
	  "t.conf:3: site \"s\": module_args: \"verbose\" is not "
	  "key=value", NULL },
	{ "site \"s\" { bindings = {\"*:8080\"} root = \"@/www\"\n"
	  "  application \"/a\" { module_args = {\"=1\"} } }\n",
	  "t.conf:2: site \"s\": application \"/a\": module_args: \"=1\" "
	  "has an empty key", NULL },
	/* A front controller: a path to a file, below its application's
	 * prefix, that CGI or FastCGI runs. */
	{ "site \"s\" { bindings = {\"*:8080\"} root = \"@/www\"\n"
	  "  front_controller = \"index.php\" }\n",
	  "t.conf:2: site \"s\": front_controller: \"index.php\" is not a "
	  "path to a file from the site's root, such as \"/index.php\"",
	  NULL },
	{ "site \"s\" { bindings = {\"*:8080\"} root = \"@/www\"\n"
	  "  front_controller = \"/a/../index.php\" }\n",
	  "t.conf:2: site \"s\": front_controller: \"/a/../index.php\" is "
	  "not a path", NULL },
	{ "site \"s\" { bindings = {\"*:8080\"} root = \"@/www\"\n"
	  "  front_controller = \"/index.php?x=1\" }\n",
	  "t.conf:2: site \"s\": front_controller: \"/index.php?x=1\" is "
	  "not a path", NULL },
	{ "site \"s\" { bindings = {\"*:8080\"} root = \"@/www\"\n"
	  "  front_controller = \"/dir/\" }\n",
	  "t.conf:2: site \"s\": front_controller: \"/dir/\" is not a "
	  "path", NULL },
	{ "site \"s\" {\n  bindings = {\"*:8080\"}\n  root = \"@/www\"\n"
	  "  front_controller = \"/index.php\"\n}\n",
	  "t.conf:4: site \"s\": front_controller \"/index.php\" would not "
	  "be run: it needs handler \"fastcgi\" or \"cgi\", or a script map "
	  "for its extension", NULL },
	{ "site \"s\" {\n  bindings = {\"*:8080\"}\n  root = \"@/www\"\n"
	  "  application \"/app\" {\n    handler = \"cgi\"\n"
	  "    front_controller = \"/index.cgi\"\n  }\n}\n",
	  "t.conf:6: site \"s\": application \"/app\": front_controller "
	  "\"/index.cgi\" is not below the application's prefix \"/app\"",
	  NULL },
	{ "site \"s\" {\n  bindings = {\"*:8080\"}\n  root = \"@/www\"\n"
	  "  application \"/app\" {\n    handler = \"cgi\"\n"
	  "    front_controller = \"/apple/x.cgi\"\n  }\n}\n",
	  "t.conf:6: site \"s\": application \"/app\": front_controller "
	  "\"/apple/x.cgi\" is not below", NULL },
	/* Script maps: extensions as written, in one list each, and
	 * FastCGI settings where fastcgi_extensions applies, the line at
	 * fault that of the list that asked for them. */
	{ "site \"s\" { bindings = {\"*:8080\"} root = \"@/www\"\n"
	  "  cgi_extensions = {\".cgi\", \"pl\"} }\n",
	  "t.conf:2: site \"s\": cgi_extensions: \"pl\" is not an "
	  "extension such as \".php\" (a '.', then at least one byte, "
	  "no '/')", NULL },
	{ "site \"s\" { bindings = {\"*:8080\"} root = \"@/www\"\n"
	  "  fastcgi_extensions = {\".\"} }\n",
	  "t.conf:2: site \"s\": fastcgi_extensions: \".\" is not an "
	  "extension", NULL },
	{ "site \"s\" { bindings = {\"*:8080\"} root = \"@/www\"\n"
	  "  application \"/a\" {\n"
	  "    cgi_extensions = {\".cgi\",\n\".x/y\"} } }\n",
	  "t.conf:4: site \"s\": application \"/a\": cgi_extensions: "
	  "\".x/y\" is not an extension", NULL },
	{ "site \"s\" { bindings = {\"*:8080\"} root = \"@/www\"\n"
	  "  cgi_extensions = {\"\"} }\n",
	  "t.conf:2: site \"s\": cgi_extensions: \"\" is not an "
	  "extension", NULL },
	{ "site \"s\" {\n  bindings = {\"*:8080\"}\n  root = \"@/www\"\n"
	  "  fastcgi_address = \"127.0.0.1:9000\"\n"
	  "  cgi_extensions = {\".cgi\", \".php\"}\n"
	  "  fastcgi_extensions = {\".php\"}\n}\n",
	  "t.conf:6: site \"s\": \".php\" is in both cgi_extensions and "
	  "fastcgi_extensions", NULL },
	{ "site \"s\" {\n  bindings = {\"*:8080\"}\n  root = \"@/www\"\n"
	  "  application \"/a\" {\n"
	  "    fastcgi_extensions = {\".php\"}\n"
	  "    cgi_extensions = {\".php\"}\n  }\n}\n",
	  "t.conf:6: site \"s\": application \"/a\": \".php\" is in both "
	  "cgi_extensions and fastcgi_extensions", NULL },
	{ "site \"s\" {\n  bindings = {\"*:8080\"}\n  root = \"@/www\"\n"
	  "  fastcgi_extensions = {\".php\"}\n}\n",
	  "t.conf:4: site \"s\": fastcgi_extensions needs fastcgi_address "
	  "or fastcgi_command", NULL },
	{ "site \"s\" {\n  bindings = {\"*:8080\"}\n  root = \"@/www\"\n"
	  "  fastcgi_extensions = {\".php\"}\n"
	  "  fastcgi_command = \"/usr/bin/php-cgi\"\n"
	  "  fastcgi_address = \"127.0.0.1:9000\"\n}\n",
	  "t.conf:6: site \"s\": fastcgi_extensions needs fastcgi_address "
	  "or fastcgi_command, not both", NULL },
	/* Inherited by an application with FastCGI settings of its own
	 * that name nothing to run: the site's list is at fault... */
	{ "site \"s\" {\n  bindings = {\"*:8080\"}\n  root = \"@/www\"\n"
	  "  fastcgi_extensions = {\".php\"}\n"
	  "  fastcgi_command = \"/usr/bin/php-cgi\"\n"
	  "  application \"/a\" {\n    fastcgi_processes = 2\n  }\n}\n",
	  "t.conf:4: site \"s\": fastcgi_extensions needs fastcgi_address "
	  "or fastcgi_command", NULL },
	/* ...and an application's own where it writes one. */
	{ "site \"s\" {\n  bindings = {\"*:8080\"}\n  root = \"@/www\"\n"
	  "  application \"/a\" {\n"
	  "    fastcgi_extensions = {\".php\"}\n  }\n}\n",
	  "t.conf:5: site \"s\": application \"/a\": fastcgi_extensions "
	  "needs fastcgi_address or fastcgi_command", NULL },
	/* FastCGI commands run outside any chroot, mapped or not. */
	{ "pool \"c\" { chroot = \"@\" }\n"
	  "site \"s\" {\n  bindings = {\"*:8080\"}\n  root = \"@/www\"\n"
	  "  pool = \"c\"\n  fastcgi_extensions = {\".php\"}\n"
	  "  fastcgi_command = \"/usr/bin/php-cgi\"\n}\n",
	  "fastcgi_command is not supported in a chrooted pool", NULL },
	{ "pool \"p\" { cgi_extensions = {\".cgi\"} }\n" ONE_SITE,
	  "t.conf:1: pool \"p\": no such option 'cgi_extensions'", NULL },
	{ "fastcgi_extensions = {\".php\"}\n" ONE_SITE,
	  "t.conf:1: no such option 'fastcgi_extensions'", NULL },
	{ "pool \"p\" { module = \"/a.so\" }\n" ONE_SITE,
	  "t.conf:1: pool \"p\": no such option 'module'", NULL },
	{ "module_args = {\"a=1\"}\n" ONE_SITE,
	  "t.conf:1: no such option 'module_args'", NULL },
};

START_TEST(test_conf_reject)
{
	const struct conf_reject	*r = &conf_rejects[_i];
	char				*log = load_err(r->text);

	assert_logged(log, r->want);
	assert_logged(log, r->want2);
	free(log);
}
END_TEST

/* Request body limits: units, inheritance, the effective value. */
START_TEST(test_conf_body_limits)
{
	struct hsd_config	*cf;
	const struct conf_site	*st;

	cf = load_ok("limits {\n"
	    "  entity_body_timeout = 500ms\n"
	    "  min_body_rate = 0\n"
	    "  min_send_rate = 4294967295\n"
	    "}\n"
	    "site \"s\" {\n"
	    "  bindings = {\"*:8080\"}\n"
	    "  root = \"@/www\"\n"
	    "  max_body_size = 1G\n"
	    "  application \"/nolimit\" { max_body_size = 0 }\n"
	    "  application \"/inherit\" { }\n"
	    "  application \"/small\" { max_body_size = \"64k\" }\n"
	    "}\n"
	    "site \"t\" {\n"
	    "  bindings = {\"*:8081\"}\n"
	    "  root = \"@/www\"\n"
	    "  max_body_size = 0\n"
	    "  application \"/a\" { }\n"
	    "  application \"/b\" { max_body_size = 1000 }\n"
	    "}\n"
	    "site \"u\" {\n"
	    "  bindings = {\"*:8082\"}\n"
	    "  root = \"@/www\"\n"
	    "  application \"/a\" { }\n"
	    "}\n");
	ck_assert_uint_eq(cf->cf_limits.entity_body_timeout_ms, 500);
	ck_assert_uint_eq(cf->cf_limits.min_body_rate, 0);
	ck_assert_uint_eq(cf->cf_limits.min_send_rate, 4294967295ULL);

	st = &cf->cf_sites[0];
	ck_assert_uint_eq(st->st_max_body, 1ULL << 30);
	ck_assert_uint_eq(st->st_apps[0].ap_max_body, 0);
	ck_assert_uint_eq(st->st_apps[1].ap_max_body, 1ULL << 30);
	ck_assert_uint_eq(st->st_apps[2].ap_max_body, 65536);
	ck_assert_uint_eq(conf_max_body(st, -1), 1ULL << 30);
	ck_assert_uint_eq(conf_max_body(st, 0), 0);
	ck_assert_uint_eq(conf_max_body(st, 1), 1ULL << 30);
	ck_assert_uint_eq(conf_max_body(st, 2), 65536);
	/* An index past the applications is the site. */
	ck_assert_uint_eq(conf_max_body(st, 3), 1ULL << 30);
	/* As routing gives it. */
	ck_assert_uint_eq(conf_max_body(st, conf_route_app(st, "/small/x",
	    8)), 65536);
	ck_assert_uint_eq(conf_max_body(st, conf_route_app(st, "/other",
	    6)), 1ULL << 30);

	st = &cf->cf_sites[1];
	ck_assert_uint_eq(conf_max_body(st, -1), 0);
	ck_assert_uint_eq(conf_max_body(st, 0), 0);
	ck_assert_uint_eq(conf_max_body(st, 1), 1000);

	/* The default, inherited. */
	st = &cf->cf_sites[2];
	ck_assert_uint_eq(conf_max_body(st, -1), 30 << 20);
	ck_assert_uint_eq(conf_max_body(st, 0), 30 << 20);
	conf_free(cf);
}
END_TEST

/* The response cache: HTTP.sys's defaults, on for every site. */
START_TEST(test_conf_cache_defaults)
{
	static const char *const texts[] = {
		ONE_SITE,
		/* An empty section is the defaults. */
		"cache {}\n" ONE_SITE,
		"cache {\n}\n" ONE_SITE,
	};
	struct hsd_config	*cf;
	const struct conf_cache	*cc;
	size_t			 i;

	for (i = 0; i < sizeof(texts) / sizeof(texts[0]); i++) {
		cf = load_ok(texts[i]);
		cc = &cf->cf_cache;
		ck_assert_int_eq(cc->cc_enabled, 1);
		ck_assert_uint_eq(cc->cc_max_memory, 64 << 20);
		ck_assert_uint_eq(cc->cc_max_entry, 256 << 10);
		ck_assert_uint_eq(cc->cc_max_header, 1024);
		ck_assert_uint_eq(cc->cc_activity_ms, 10000);
		ck_assert_uint_eq(cc->cc_scavenger_ms, 120000);
		ck_assert_uint_eq(cc->cc_max_ttl_ms, 3600000);
		ck_assert_int_eq(cc->cc_allow_query, 0);
		ck_assert_int_eq(cc->cc_allow_cookies, 0);
		ck_assert_int_eq(cf->cf_sites[0].st_cache, 1);
		ck_assert_int_eq(conf_cacheable(cf, &cf->cf_sites[0], -1), 1);
		conf_free(cf);
	}
}
END_TEST

/* Every key written, in the forms each kind of value takes. */
START_TEST(test_conf_cache_keys)
{
	static const char text[] =
	    "cache {\n"
	    "  enabled = off\n"
	    "  max_memory = 2G\n"
	    "  max_entry_size = \"1m\"\n"
	    "  max_header_size = 4K\n"
	    "  activity_period = 0\n"
	    "  scavenger_period = \"90s\"\n"
	    "  max_ttl = 2d\n"
	    "  allow_query = yes\n"
	    "  allow_cookies = on\n"
	    "}\n" ONE_SITE;
	struct hsd_config	*cf;
	const struct conf_cache	*cc;
	char			*t;
	int			 pass;

	/* The listener parses without the filesystem: the same values. */
	t = fx_subst(text);
	for (pass = 0; pass < 2; pass++) {
		ck_assert_int_eq(conf_load_text(t, CONF_NAME,
		    pass ? CONF_LOAD_NOFS : 0, &cf), 0);
		cc = &cf->cf_cache;
		ck_assert_int_eq(cc->cc_enabled, 0);
		ck_assert_uint_eq(cc->cc_max_memory, 2ULL << 30);
		ck_assert_uint_eq(cc->cc_max_entry, 1 << 20);
		ck_assert_uint_eq(cc->cc_max_header, 4096);
		ck_assert_uint_eq(cc->cc_activity_ms, 0);
		ck_assert_uint_eq(cc->cc_scavenger_ms, 90000);
		ck_assert_uint_eq(cc->cc_max_ttl_ms, 2 * 86400000ULL);
		ck_assert_int_eq(cc->cc_allow_query, 1);
		ck_assert_int_eq(cc->cc_allow_cookies, 1);
		conf_free(cf);
	}
	free(t);

	/* The other words libconfuse takes, and each bound itself. */
	cf = load_ok("cache {\n"
	    "  enabled = yes\n"
	    "  max_memory = \"64G\"\n"
	    "  max_entry_size = 68719476736\n"
	    "  max_header_size = 256\n"
	    "  activity_period = \"0ms\"\n"
	    "  scavenger_period = 1000ms\n"
	    "  max_ttl = 1\n"
	    "  allow_query = false\n"
	    "  allow_cookies = no\n"
	    "}\n" ONE_SITE);
	cc = &cf->cf_cache;
	ck_assert_int_eq(cc->cc_enabled, 1);
	ck_assert_uint_eq(cc->cc_max_memory, 64ULL << 30);
	ck_assert_uint_eq(cc->cc_max_entry, 64ULL << 30);
	ck_assert_uint_eq(cc->cc_max_header, 256);
	ck_assert_uint_eq(cc->cc_activity_ms, 0);
	ck_assert_uint_eq(cc->cc_scavenger_ms, 1000);
	ck_assert_uint_eq(cc->cc_max_ttl_ms, 1000);
	ck_assert_int_eq(cc->cc_allow_query, 0);
	ck_assert_int_eq(cc->cc_allow_cookies, 0);
	conf_free(cf);

	cf = load_ok("cache {\n"
	    "  enabled = true\n"
	    "  max_memory = 1\n"
	    "  max_entry_size = 1\n"
	    "  max_header_size = \"64k\"\n"
	    "  activity_period = 500ms\n"
	    "  allow_query = true\n"
	    "  allow_cookies = off\n"
	    "}\n" ONE_SITE);
	cc = &cf->cf_cache;
	ck_assert_int_eq(cc->cc_enabled, 1);
	ck_assert_uint_eq(cc->cc_max_memory, 1);
	ck_assert_uint_eq(cc->cc_max_entry, 1);
	ck_assert_uint_eq(cc->cc_max_header, 65536);
	ck_assert_uint_eq(cc->cc_activity_ms, 500);
	ck_assert_uint_eq(cc->cc_scavenger_ms, 120000);
	ck_assert_int_eq(cc->cc_allow_query, 1);
	ck_assert_int_eq(cc->cc_allow_cookies, 0);
	conf_free(cf);
}
END_TEST

/*
 * Who may be cached: a site's key (default on), an application's (default
 * its site's), and enabled = false over both.
 */
#define CACHE_SITES \
	"site \"on\" {\n" \
	"  bindings = {\"*:8080\"}\n" \
	"  root = \"@/www\"\n" \
	"  application \"/off\" { cache = off }\n" \
	"  application \"/on\" { cache = yes }\n" \
	"  application \"/inherit\" { }\n" \
	"}\n" \
	"site \"off\" {\n" \
	"  bindings = {\"*:8081\"}\n" \
	"  root = \"@/www\"\n" \
	"  cache = false\n" \
	"  application \"/on\" { cache = true }\n" \
	"  application \"/inherit\" { }\n" \
	"  application \"/off\" { cache = no }\n" \
	"}\n"

START_TEST(test_conf_cacheable)
{
	struct hsd_config	*cf;
	const struct conf_site	*on, *off;

	cf = load_ok(CACHE_SITES);
	on = &cf->cf_sites[0];
	off = &cf->cf_sites[1];
	ck_assert_int_eq(on->st_cache, 1);
	ck_assert_int_eq(on->st_apps[0].ap_cache, 0);
	ck_assert_int_eq(on->st_apps[1].ap_cache, 1);
	ck_assert_int_eq(on->st_apps[2].ap_cache, -1);
	ck_assert_int_eq(off->st_cache, 0);
	ck_assert_int_eq(off->st_apps[0].ap_cache, 1);
	ck_assert_int_eq(off->st_apps[1].ap_cache, -1);
	ck_assert_int_eq(off->st_apps[2].ap_cache, 0);

	ck_assert_int_eq(conf_cacheable(cf, on, -1), 1);
	ck_assert_int_eq(conf_cacheable(cf, on, 0), 0);
	ck_assert_int_eq(conf_cacheable(cf, on, 1), 1);
	ck_assert_int_eq(conf_cacheable(cf, on, 2), 1);
	ck_assert_int_eq(conf_cacheable(cf, off, -1), 0);
	ck_assert_int_eq(conf_cacheable(cf, off, 0), 1);
	ck_assert_int_eq(conf_cacheable(cf, off, 1), 0);
	ck_assert_int_eq(conf_cacheable(cf, off, 2), 0);
	/* An index past the applications is the site. */
	ck_assert_int_eq(conf_cacheable(cf, on, 3), 1);
	ck_assert_int_eq(conf_cacheable(cf, off, 3), 0);
	/* As routing gives it. */
	ck_assert_int_eq(conf_cacheable(cf, off,
	    conf_route_app(off, "/on/x.html", 10)), 1);
	ck_assert_int_eq(conf_cacheable(cf, off,
	    conf_route_app(off, "/inherit/x", 10)), 0);
	ck_assert_int_eq(conf_cacheable(cf, on,
	    conf_route_app(on, "/offx", 5)), 1);
	ck_assert_int_eq(conf_cacheable(cf, on,
	    conf_route_app(on, "/off/x", 6)), 0);
	conf_free(cf);

	/* enabled = false: nothing, whatever the sites and applications
	 * say, which are still read as written. */
	cf = load_ok("cache { enabled = false }\n" CACHE_SITES);
	on = &cf->cf_sites[0];
	off = &cf->cf_sites[1];
	ck_assert_int_eq(on->st_cache, 1);
	ck_assert_int_eq(on->st_apps[1].ap_cache, 1);
	ck_assert_int_eq(off->st_apps[0].ap_cache, 1);
	ck_assert_int_eq(conf_cacheable(cf, on, -1), 0);
	ck_assert_int_eq(conf_cacheable(cf, on, 1), 0);
	ck_assert_int_eq(conf_cacheable(cf, on, 2), 0);
	ck_assert_int_eq(conf_cacheable(cf, off, 0), 0);
	conf_free(cf);
}
END_TEST

/*
 * The handler and the CGI time limit: a site's (default "static" and
 * 5m), an application's (default its site's).
 */
#define CGI_SITES \
	"site \"st\" {\n" \
	"  bindings = {\"*:8080\"}\n" \
	"  root = \"@/www\"\n" \
	"  application \"/cgi-bin\" { handler = \"cgi\" }\n" \
	"  application \"/slow\" { handler = cgi cgi_timeout = \"1h\" }\n" \
	"  application \"/inherit\" { }\n" \
	"}\n" \
	"site \"cgi\" {\n" \
	"  bindings = {\"*:8081\"}\n" \
	"  root = \"@/www\"\n" \
	"  handler = \"cgi\"\n" \
	"  cgi_timeout = 30\n" \
	"  application \"/static\" { handler = \"static\" }\n" \
	"  application \"/inherit\" { }\n" \
	"  application \"/fast\" { cgi_timeout = 500ms }\n" \
	"}\n"

START_TEST(test_conf_cgi)
{
	struct hsd_config	*cf;
	const struct conf_site	*st, *cgi;
	char			*t;
	int			 pass;

	/* The listener parses without the filesystem: the same values. */
	t = fx_subst(CGI_SITES);
	for (pass = 0; pass < 2; pass++) {
		ck_assert_int_eq(conf_load_text(t, CONF_NAME,
		    pass ? CONF_LOAD_NOFS : 0, &cf), 0);
		st = &cf->cf_sites[0];
		cgi = &cf->cf_sites[1];

		ck_assert_int_eq(st->st_handler, CONF_HANDLER_STATIC);
		ck_assert_uint_eq(st->st_cgi_timeout_ms, 300000);
		ck_assert_int_eq(st->st_apps[0].ap_handler, CONF_HANDLER_CGI);
		ck_assert_uint_eq(st->st_apps[0].ap_cgi_timeout_ms, 300000);
		ck_assert_int_eq(st->st_apps[1].ap_handler, CONF_HANDLER_CGI);
		ck_assert_uint_eq(st->st_apps[1].ap_cgi_timeout_ms, 3600000);
		ck_assert_int_eq(st->st_apps[2].ap_handler, -1);
		ck_assert_uint_eq(st->st_apps[2].ap_cgi_timeout_ms, 300000);
		ck_assert_int_eq(conf_handler(st, -1), CONF_HANDLER_STATIC);
		ck_assert_int_eq(conf_handler(st, 0), CONF_HANDLER_CGI);
		ck_assert_int_eq(conf_handler(st, 1), CONF_HANDLER_CGI);
		ck_assert_int_eq(conf_handler(st, 2), CONF_HANDLER_STATIC);
		ck_assert_uint_eq(conf_cgi_timeout(st, -1), 300000);
		ck_assert_uint_eq(conf_cgi_timeout(st, 0), 300000);
		ck_assert_uint_eq(conf_cgi_timeout(st, 1), 3600000);
		ck_assert_uint_eq(conf_cgi_timeout(st, 2), 300000);

		ck_assert_int_eq(cgi->st_handler, CONF_HANDLER_CGI);
		ck_assert_uint_eq(cgi->st_cgi_timeout_ms, 30000);
		ck_assert_int_eq(cgi->st_apps[0].ap_handler,
		    CONF_HANDLER_STATIC);
		ck_assert_int_eq(cgi->st_apps[1].ap_handler, -1);
		ck_assert_int_eq(cgi->st_apps[2].ap_handler, -1);
		ck_assert_uint_eq(cgi->st_apps[2].ap_cgi_timeout_ms, 500);
		ck_assert_int_eq(conf_handler(cgi, -1), CONF_HANDLER_CGI);
		ck_assert_int_eq(conf_handler(cgi, 0), CONF_HANDLER_STATIC);
		ck_assert_int_eq(conf_handler(cgi, 1), CONF_HANDLER_CGI);
		ck_assert_int_eq(conf_handler(cgi, 2), CONF_HANDLER_CGI);
		ck_assert_uint_eq(conf_cgi_timeout(cgi, -1), 30000);
		ck_assert_uint_eq(conf_cgi_timeout(cgi, 0), 30000);
		ck_assert_uint_eq(conf_cgi_timeout(cgi, 1), 30000);
		ck_assert_uint_eq(conf_cgi_timeout(cgi, 2), 500);

		/* An index past the applications is the site. */
		ck_assert_int_eq(conf_handler(st, 3), CONF_HANDLER_STATIC);
		ck_assert_int_eq(conf_handler(cgi, 3), CONF_HANDLER_CGI);
		ck_assert_uint_eq(conf_cgi_timeout(cgi, 3), 30000);
		/* As routing gives it. */
		ck_assert_int_eq(conf_handler(st, conf_route_app(st,
		    "/cgi-bin/env.sh", 15)), CONF_HANDLER_CGI);
		ck_assert_int_eq(conf_handler(st, conf_route_app(st,
		    "/cgi-binx", 9)), CONF_HANDLER_STATIC);
		ck_assert_uint_eq(conf_cgi_timeout(cgi, conf_route_app(cgi,
		    "/fast/x", 7)), 500);
		ck_assert_int_eq(conf_handler(cgi, conf_route_app(cgi,
		    "/static/a.css", 13)), CONF_HANDLER_STATIC);
		conf_free(cf);
	}
	free(t);
}
END_TEST

/*
 * Script maps: none by default; an application that writes neither list
 * follows its site, one that writes either has only what it writes.
 * They count only where the handler is static.
 */
#define EXTMAP_SITES \
	"site \"none\" { bindings = {\"*:8080\"} root = \"@/www\" }\n" \
	"site \"s\" {\n" \
	"  bindings = {\"*:8081\"}\n" \
	"  root = \"@/www\"\n" \
	"  cgi_extensions = {\".cgi\", \".pl\"}\n" \
	"  fastcgi_extensions = {\".php\", \".inc.cgi\"}\n" \
	"  fastcgi_address = \"127.0.0.1:9000\"\n" \
	"  application \"/inherit\" { }\n" \
	"  application \"/own\" { cgi_extensions = {\".sh\"} }\n" \
	"  application \"/off\" { fastcgi_extensions = {} }\n" \
	"  application \"/cgi\" { handler = \"cgi\" }\n" \
	"  application \"/mod\" { handler = \"module\" module = \"/m.so\" }\n" \
	"}\n"

/* conf_handler_path() on a NUL-terminated path. */
static int
hp(const struct conf_site *st, int app, const char *path)
{
	return conf_handler_path(st, app, path, strlen(path));
}

START_TEST(test_conf_extmap)
{
	struct hsd_config	*cf;
	const struct conf_site	*none, *st;
	char			*t;
	int			 pass;

	t = fx_subst(EXTMAP_SITES);
	for (pass = 0; pass < 2; pass++) {
		ck_assert_int_eq(conf_load_text(t, CONF_NAME,
		    pass ? CONF_LOAD_NOFS : 0, &cf), 0);
		none = &cf->cf_sites[0];
		st = &cf->cf_sites[1];

		/* Defaults: empty lists, never NULL, in a site. */
		ck_assert_ptr_nonnull(none->st_extmap.em_cgi);
		ck_assert_ptr_null(none->st_extmap.em_cgi[0]);
		ck_assert_ptr_nonnull(none->st_extmap.em_fastcgi);
		ck_assert_ptr_null(none->st_extmap.em_fastcgi[0]);
		ck_assert_int_eq(hp(none, -1, "/x.php"), CONF_HANDLER_STATIC);
		ck_assert_int_eq(conf_uses(none, -1, CONF_HANDLER_STATIC), 1);
		ck_assert_int_eq(conf_uses(none, -1, CONF_HANDLER_CGI), 0);
		ck_assert_int_eq(conf_uses(none, -1, CONF_HANDLER_FASTCGI), 0);

		ck_assert_str_eq(st->st_extmap.em_cgi[0], ".cgi");
		ck_assert_str_eq(st->st_extmap.em_cgi[1], ".pl");
		ck_assert_ptr_null(st->st_extmap.em_cgi[2]);
		ck_assert_str_eq(st->st_extmap.em_fastcgi[0], ".php");
		/* Unset in an application that writes neither... */
		ck_assert_ptr_null(st->st_apps[0].ap_extmap.em_cgi);
		ck_assert_ptr_null(st->st_apps[0].ap_extmap.em_fastcgi);
		/* ...both set in one that writes either. */
		ck_assert_str_eq(st->st_apps[1].ap_extmap.em_cgi[0], ".sh");
		ck_assert_ptr_null(st->st_apps[1].ap_extmap.em_fastcgi[0]);
		ck_assert_ptr_null(st->st_apps[2].ap_extmap.em_cgi[0]);
		ck_assert_ptr_null(st->st_apps[2].ap_extmap.em_fastcgi[0]);

		/* The site's paths. */
		ck_assert_int_eq(hp(st, -1, "/"), CONF_HANDLER_STATIC);
		ck_assert_int_eq(hp(st, -1, "/a.txt"), CONF_HANDLER_STATIC);
		ck_assert_int_eq(hp(st, -1, "/x.cgi"), CONF_HANDLER_CGI);
		ck_assert_int_eq(hp(st, -1, "/d/x.pl"), CONF_HANDLER_CGI);
		ck_assert_int_eq(hp(st, -1, "/blog/index.php/2026/12"),
		    CONF_HANDLER_FASTCGI);
		/* The first mapped component decides, not the last. */
		ck_assert_int_eq(hp(st, -1, "/x.cgi/y.php"), CONF_HANDLER_CGI);
		ck_assert_int_eq(hp(st, -1, "/x.php/y.cgi"),
		    CONF_HANDLER_FASTCGI);
		/* A directory x.php is mapped too: the path cannot say. */
		ck_assert_int_eq(hp(st, -1, "/x.php/"), CONF_HANDLER_FASTCGI);
		ck_assert_int_eq(hp(st, -1, "/x.php"), CONF_HANDLER_FASTCGI);
		/* The longest extension a component ends in wins. */
		ck_assert_int_eq(hp(st, -1, "/a.inc.cgi"),
		    CONF_HANDLER_FASTCGI);
		ck_assert_int_eq(hp(st, -1, "/a.cgi"), CONF_HANDLER_CGI);
		/* Case-sensitive, and the end of a component only. */
		ck_assert_int_eq(hp(st, -1, "/X.PHP"), CONF_HANDLER_STATIC);
		ck_assert_int_eq(hp(st, -1, "/x.php5"), CONF_HANDLER_STATIC);
		ck_assert_int_eq(hp(st, -1, "/x.phps/a"), CONF_HANDLER_STATIC);
		ck_assert_int_eq(hp(st, -1, "/xphp"), CONF_HANDLER_STATIC);
		/* Only len bytes count. */
		ck_assert_int_eq(conf_handler_path(st, -1, "/x.php", 5),
		    CONF_HANDLER_STATIC);
		ck_assert_int_eq(conf_handler_path(st, -1, "/x.cgi/a", 6),
		    CONF_HANDLER_CGI);
		ck_assert_int_eq(conf_uses(st, -1, CONF_HANDLER_CGI), 1);
		ck_assert_int_eq(conf_uses(st, -1, CONF_HANDLER_FASTCGI), 1);
		ck_assert_int_eq(conf_uses(st, -1, CONF_HANDLER_MODULE), 0);

		/* Inherited. */
		ck_assert_int_eq(hp(st, 0, "/inherit/a.php"),
		    CONF_HANDLER_FASTCGI);
		ck_assert_int_eq(hp(st, 0, "/inherit/a.pl"), CONF_HANDLER_CGI);
		/* Its own: none of the site's. */
		ck_assert_int_eq(hp(st, 1, "/own/a.sh"), CONF_HANDLER_CGI);
		ck_assert_int_eq(hp(st, 1, "/own/a.cgi"), CONF_HANDLER_STATIC);
		ck_assert_int_eq(hp(st, 1, "/own/a.php"), CONF_HANDLER_STATIC);
		ck_assert_int_eq(conf_uses(st, 1, CONF_HANDLER_CGI), 1);
		ck_assert_int_eq(conf_uses(st, 1, CONF_HANDLER_FASTCGI), 0);
		ck_assert_int_eq(hp(st, 2, "/off/a.php"), CONF_HANDLER_STATIC);
		ck_assert_int_eq(hp(st, 2, "/off/a.cgi"), CONF_HANDLER_STATIC);
		ck_assert_int_eq(conf_uses(st, 2, CONF_HANDLER_CGI), 0);
		ck_assert_int_eq(conf_uses(st, 2, CONF_HANDLER_FASTCGI), 0);
		ck_assert_int_eq(conf_uses(st, 2, CONF_HANDLER_STATIC), 1);
		/* Another handler: the lists do not count. */
		ck_assert_int_eq(hp(st, 3, "/cgi/a.php"), CONF_HANDLER_CGI);
		ck_assert_int_eq(hp(st, 3, "/cgi/a.txt"), CONF_HANDLER_CGI);
		ck_assert_int_eq(conf_uses(st, 3, CONF_HANDLER_FASTCGI), 0);
		ck_assert_int_eq(hp(st, 4, "/mod/a.php"), CONF_HANDLER_MODULE);
		ck_assert_int_eq(conf_uses(st, 4, CONF_HANDLER_MODULE), 1);
		ck_assert_int_eq(conf_uses(st, 4, CONF_HANDLER_FASTCGI), 0);
		ck_assert_int_eq(conf_uses(st, 4, CONF_HANDLER_CGI), 0);
		/* As routing gives it. */
		ck_assert_int_eq(hp(st, conf_route_app(st, "/own/x.php", 10),
		    "/own/x.php"), CONF_HANDLER_STATIC);
		ck_assert_int_eq(hp(st, conf_route_app(st, "/ownx.php", 9),
		    "/ownx.php"), CONF_HANDLER_FASTCGI);
		conf_free(cf);
	}
	free(t);
}
END_TEST

/*
 * FastCGI: a site's settings and their defaults (4 processes, no
 * arguments, no environment), an application's own when it writes any
 * fastcgi_ key, else its site's.
 */
#define FCGI_SITES \
	"pool \"other\" { }\n" \
	"site \"none\" { bindings = {\"*:8080\"} root = \"@/www\" }\n" \
	"site \"php\" {\n" \
	"  bindings = {\"*:8081\"}\n" \
	"  root = \"@/www\"\n" \
	"  handler = \"fastcgi\"\n" \
	"  fastcgi_command = \"/usr/bin/php-cgi\"\n" \
	"  fastcgi_args = {\"-d\", \"display_errors=0\", \"\"}\n" \
	"  fastcgi_env = {\"PHP_FCGI_MAX_REQUESTS=100\", \"X=a=b\", \"E=\"}\n" \
	"  application \"/inherit\" { }\n" \
	"  application \"/fpm\" {\n" \
	"    fastcgi_address = \"unix:/run/php/php8.2-fpm.sock\"\n" \
	"    fastcgi_connections = 3\n" \
	"    fastcgi_params = {\"HTTPS=on\", \"PHP_VALUE=a=b\"}\n" \
	"  }\n" \
	"  application \"/more\" {\n" \
	"    fastcgi_command = \"/usr/bin/php-cgi\"\n" \
	"    fastcgi_processes = 1024\n" \
	"  }\n" \
	"  application \"/static\" { handler = \"static\" }\n" \
	"  application \"/other\" { pool = \"other\" }\n" \
	"  application \"/empty\" {\n" \
	"    handler = \"static\"\n" \
	"    fastcgi_args = {}\n" \
	"  }\n" \
	"}\n"

START_TEST(test_conf_fastcgi)
{
	struct hsd_config		*cf;
	const struct conf_site		*none, *php;
	const struct conf_fastcgi	*fc;
	char				*t;
	int				 pass;

	t = fx_subst(FCGI_SITES);
	for (pass = 0; pass < 2; pass++) {
		ck_assert_int_eq(conf_load_text(t, CONF_NAME,
		    pass ? CONF_LOAD_NOFS : 0, &cf), 0);
		none = &cf->cf_sites[0];
		php = &cf->cf_sites[1];

		/* Nothing written: the defaults, lists empty, not NULL. */
		fc = conf_fastcgi(none, -1);
		ck_assert_ptr_eq(fc, &none->st_fastcgi);
		ck_assert_int_eq(fc->fc_set, 0);
		ck_assert_ptr_null(fc->fc_address);
		ck_assert_ptr_null(fc->fc_command);
		ck_assert_ptr_nonnull(fc->fc_args);
		ck_assert_ptr_null(fc->fc_args[0]);
		ck_assert_ptr_nonnull(fc->fc_env);
		ck_assert_ptr_null(fc->fc_env[0]);
		ck_assert_uint_eq(fc->fc_processes, 4);
		ck_assert_uint_eq(fc->fc_connections, 0);
		ck_assert_ptr_nonnull(fc->fc_params);
		ck_assert_ptr_null(fc->fc_params[0]);

		ck_assert_int_eq(php->st_handler, CONF_HANDLER_FASTCGI);
		fc = conf_fastcgi(php, -1);
		ck_assert_int_eq(fc->fc_set, 1);
		ck_assert_ptr_null(fc->fc_address);
		ck_assert_str_eq(fc->fc_command, "/usr/bin/php-cgi");
		ck_assert_str_eq(fc->fc_args[0], "-d");
		ck_assert_str_eq(fc->fc_args[1], "display_errors=0");
		ck_assert_str_eq(fc->fc_args[2], "");
		ck_assert_ptr_null(fc->fc_args[3]);
		ck_assert_str_eq(fc->fc_env[0], "PHP_FCGI_MAX_REQUESTS=100");
		ck_assert_str_eq(fc->fc_env[1], "X=a=b");
		ck_assert_str_eq(fc->fc_env[2], "E=");
		ck_assert_ptr_null(fc->fc_env[3]);
		ck_assert_uint_eq(fc->fc_processes, 4);

		/* /inherit: the site's, handler and all. */
		ck_assert_int_eq(php->st_apps[0].ap_fastcgi.fc_set, 0);
		ck_assert_ptr_eq(conf_fastcgi(php, 0), &php->st_fastcgi);
		ck_assert_int_eq(conf_handler(php, 0), CONF_HANDLER_FASTCGI);
		/* /fpm: its own, with nothing of the site's. */
		fc = conf_fastcgi(php, 1);
		ck_assert_ptr_eq(fc, &php->st_apps[1].ap_fastcgi);
		ck_assert_int_eq(fc->fc_set, 1);
		ck_assert_str_eq(fc->fc_address,
		    "unix:/run/php/php8.2-fpm.sock");
		ck_assert_ptr_null(fc->fc_command);
		ck_assert_ptr_null(fc->fc_args[0]);
		ck_assert_ptr_null(fc->fc_env[0]);
		ck_assert_uint_eq(fc->fc_processes, 4);
		ck_assert_uint_eq(fc->fc_connections, 3);
		ck_assert_str_eq(fc->fc_params[0], "HTTPS=on");
		ck_assert_str_eq(fc->fc_params[1], "PHP_VALUE=a=b");
		ck_assert_ptr_null(fc->fc_params[2]);
		/* /more: its own command and count. */
		fc = conf_fastcgi(php, 2);
		ck_assert_str_eq(fc->fc_command, "/usr/bin/php-cgi");
		ck_assert_uint_eq(fc->fc_processes, 1024);
		ck_assert_ptr_null(fc->fc_args[0]);
		/* /static, /other: the site's settings. */
		ck_assert_ptr_eq(conf_fastcgi(php, 3), &php->st_fastcgi);
		ck_assert_int_eq(conf_handler(php, 3), CONF_HANDLER_STATIC);
		ck_assert_ptr_eq(conf_fastcgi(php, 4), &php->st_fastcgi);
		/* An empty list written is a key written. */
		ck_assert_int_eq(php->st_apps[5].ap_fastcgi.fc_set, 1);
		ck_assert_ptr_eq(conf_fastcgi(php, 5),
		    &php->st_apps[5].ap_fastcgi);
		ck_assert_ptr_null(conf_fastcgi(php, 5)->fc_command);
		/* An index past the applications is the site. */
		ck_assert_ptr_eq(conf_fastcgi(php, 6), &php->st_fastcgi);
		/* As routing gives it. */
		ck_assert_ptr_eq(conf_fastcgi(php, conf_route_app(php,
		    "/fpm/index.php", 14)), &php->st_apps[1].ap_fastcgi);
		ck_assert_ptr_eq(conf_fastcgi(php, conf_route_app(php,
		    "/index.php", 10)), &php->st_fastcgi);
		conf_free(cf);
	}
	free(t);
}
END_TEST

/*
 * Handler modules: a site's file and arguments (none by default), an
 * application's own when it writes module or module_args, else its
 * site's, whatever its handler.
 */
#define MODULE_SITES \
	"site \"none\" { bindings = {\"*:8080\"} root = \"@/www\" }\n" \
	"site \"m\" {\n" \
	"  bindings = {\"*:8081\"}\n" \
	"  root = \"@/www\"\n" \
	"  handler = \"module\"\n" \
	"  module = \"/usr/local/lib/hsd/hello.so\"\n" \
	"  module_args = {\"greeting=Hi\", \"x=a=b\", \"empty=\"}\n" \
	"  cgi_timeout = 10s\n" \
	"  application \"/inherit\" { }\n" \
	"  application \"/other\" {\n" \
	"    module = \"/opt/other.so\"\n" \
	"  }\n" \
	"  application \"/args\" {\n" \
	"    module = \"/usr/local/lib/hsd/hello.so\"\n" \
	"    module_args = {\"greeting=Hello\"}\n" \
	"  }\n" \
	"  application \"/static\" { handler = \"static\" }\n" \
	"}\n" \
	"site \"a\" {\n" \
	"  bindings = {\"*:8082\"}\n" \
	"  root = \"@/www\"\n" \
	"  application \"/m\" {\n" \
	"    handler = \"module\"\n" \
	"    module = \"/usr/local/lib/hsd/hello.so\"\n" \
	"  }\n" \
	"}\n"

START_TEST(test_conf_module)
{
	struct hsd_config		*cf;
	const struct conf_site		*none, *m, *a;
	const struct conf_module	*md;
	char				*t;
	int				 pass;

	t = fx_subst(MODULE_SITES);
	for (pass = 0; pass < 2; pass++) {
		ck_assert_int_eq(conf_load_text(t, CONF_NAME,
		    pass ? CONF_LOAD_NOFS : 0, &cf), 0);
		none = &cf->cf_sites[0];
		m = &cf->cf_sites[1];
		a = &cf->cf_sites[2];

		/* Nothing written: no file, an empty list, not NULL. */
		md = conf_module(none, -1);
		ck_assert_ptr_eq(md, &none->st_module);
		ck_assert_int_eq(md->md_set, 0);
		ck_assert_ptr_null(md->md_path);
		ck_assert_ptr_nonnull(md->md_args);
		ck_assert_ptr_null(md->md_args[0]);

		ck_assert_int_eq(m->st_handler, CONF_HANDLER_MODULE);
		md = conf_module(m, -1);
		ck_assert_int_eq(md->md_set, 1);
		ck_assert_str_eq(md->md_path, "/usr/local/lib/hsd/hello.so");
		ck_assert_str_eq(md->md_args[0], "greeting=Hi");
		ck_assert_str_eq(md->md_args[1], "x=a=b");
		ck_assert_str_eq(md->md_args[2], "empty=");
		ck_assert_ptr_null(md->md_args[3]);
		ck_assert_uint_eq(conf_cgi_timeout(m, -1), 10000);
		/* /inherit: the site's, handler and all. */
		ck_assert_int_eq(m->st_apps[0].ap_module.md_set, 0);
		ck_assert_ptr_eq(conf_module(m, 0), &m->st_module);
		ck_assert_int_eq(conf_handler(m, 0), CONF_HANDLER_MODULE);
		ck_assert_uint_eq(conf_cgi_timeout(m, 0), 10000);
		/* /other: its file, none of the site's arguments. */
		md = conf_module(m, 1);
		ck_assert_ptr_eq(md, &m->st_apps[1].ap_module);
		ck_assert_str_eq(md->md_path, "/opt/other.so");
		ck_assert_ptr_null(md->md_args[0]);
		/* /args: the same file, its own arguments. */
		md = conf_module(m, 2);
		ck_assert_str_eq(md->md_path, "/usr/local/lib/hsd/hello.so");
		ck_assert_str_eq(md->md_args[0], "greeting=Hello");
		ck_assert_ptr_null(md->md_args[1]);
		/* /static: the site's keys, another handler. */
		ck_assert_ptr_eq(conf_module(m, 3), &m->st_module);
		ck_assert_int_eq(conf_handler(m, 3), CONF_HANDLER_STATIC);
		/* An index past the applications is the site. */
		ck_assert_ptr_eq(conf_module(m, 4), &m->st_module);
		/* As routing gives it. */
		ck_assert_ptr_eq(conf_module(m, conf_route_app(m, "/args/x",
		    7)), &m->st_apps[2].ap_module);
		/* A static site with one module application. */
		ck_assert_int_eq(conf_handler(a, -1), CONF_HANDLER_STATIC);
		ck_assert_int_eq(conf_handler(a, 0), CONF_HANDLER_MODULE);
		ck_assert_str_eq(conf_module(a, 0)->md_path,
		    "/usr/local/lib/hsd/hello.so");
		ck_assert_ptr_null(conf_module(a, 0)->md_args[0]);
		ck_assert_ptr_null(conf_module(a, -1)->md_path);
		conf_free(cf);
	}
	free(t);
}
END_TEST

/*
 * Which processes serve a path, and the socket both the pool manager
 * and the workers find them at: the site's group for the site and the
 * applications that follow it in its pool; an application's own for
 * one with settings of its own or another pool.
 */
START_TEST(test_conf_fastcgi_socket)
{
	struct hsd_config	*cf;
	const struct conf_site	*php;
	char			 buf[256], want[256], small[8];

	cf = load_ok("run_dir = \"/run/x\"\n" FCGI_SITES);
	php = &cf->cf_sites[1];
	ck_assert_int_eq(conf_fastcgi_group(php, -1), -1);
	ck_assert_int_eq(conf_fastcgi_group(php, 0), -1);
	ck_assert_int_eq(conf_fastcgi_group(php, 1), 1);
	ck_assert_int_eq(conf_fastcgi_group(php, 2), 2);
	ck_assert_int_eq(conf_fastcgi_group(php, 3), -1);
	ck_assert_int_eq(conf_fastcgi_group(php, 4), 4);
	ck_assert_int_eq(conf_fastcgi_group(php, 6), -1);

	ck_assert_int_eq(conf_fastcgi_socket(cf, 1, -1, buf, sizeof(buf)), 0);
	ck_assert_str_eq(buf, "/run/x/fcgi/1.site.sock");
	ck_assert_int_eq(conf_fastcgi_socket(cf, 1, 0, buf, sizeof(buf)), 0);
	ck_assert_str_eq(buf, "/run/x/fcgi/1.site.sock");
	ck_assert_int_eq(conf_fastcgi_socket(cf, 1, 2, buf, sizeof(buf)), 0);
	ck_assert_str_eq(buf, "/run/x/fcgi/1.2.sock");
	ck_assert_int_eq(conf_fastcgi_socket(cf, 1, 4, buf, sizeof(buf)), 0);
	ck_assert_str_eq(buf, "/run/x/fcgi/1.4.sock");
	ck_assert_int_eq(conf_fastcgi_socket(cf, 0, -1, buf, sizeof(buf)), 0);
	ck_assert_str_eq(buf, "/run/x/fcgi/0.site.sock");
	/* Exactly fitting, one byte short, no such site. */
	ck_assert_int_eq(conf_fastcgi_socket(cf, 1, 2, buf, 21), 0);
	ck_assert_int_eq(conf_fastcgi_socket(cf, 1, 2, buf, 20), -1);
	ck_assert_int_eq(conf_fastcgi_socket(cf, 1, 2, small, sizeof(small)),
	    -1);
	ck_assert_int_eq(conf_fastcgi_socket(cf, 2, -1, buf, sizeof(buf)), -1);
	conf_free(cf);

	/* A trailing '/' of run_dir is not doubled; the default run_dir. */
	cf = load_ok("run_dir = \"/run/x/\"\n" FCGI_SITES);
	ck_assert_int_eq(conf_fastcgi_socket(cf, 1, 1, buf, sizeof(buf)), 0);
	ck_assert_str_eq(buf, "/run/x/fcgi/1.1.sock");
	conf_free(cf);
	cf = load_ok(FCGI_SITES);
	snprintf(want, sizeof(want), "%s/fcgi/1.site.sock", cf->cf_run_dir);
	ck_assert_int_eq(conf_fastcgi_socket(cf, 1, 3, buf, sizeof(buf)), 0);
	ck_assert_str_eq(buf, want);
	conf_free(cf);
}
END_TEST

/* The entity-body rules: a deadline, and an average rate after 5 s. */
START_TEST(test_conf_body_check)
{
	struct conf_limits	lm;
	uint64_t		w;

	memset(&lm, 0, sizeof(lm));
	lm.entity_body_timeout_ms = 120000;
	lm.min_body_rate = 240;
	/* Before the grace period: next look at 5 s, whatever arrived. */
	ck_assert_int_eq(conf_body_check(&lm, 1000, 1000, 0, &w), 0);
	ck_assert_uint_eq(w, 5000);
	ck_assert_int_eq(conf_body_check(&lm, 1000, 5999, 0, &w), 0);
	ck_assert_uint_eq(w, 1);
	/* At 5 s: 1200 bytes are needed; then every second. */
	ck_assert_int_eq(conf_body_check(&lm, 1000, 6000, 1199, &w), -1);
	ck_assert_int_eq(conf_body_check(&lm, 1000, 6000, 1200, &w), 0);
	ck_assert_uint_eq(w, 1000);
	ck_assert_int_eq(conf_body_check(&lm, 1000, 6500, 1200, &w), 0);
	ck_assert_uint_eq(w, 500);
	ck_assert_int_eq(conf_body_check(&lm, 1000, 7000, 1200, &w), -1);
	/* The deadline holds however fast the body comes. */
	ck_assert_int_eq(conf_body_check(&lm, 1000, 120999, 1 << 30, &w), 0);
	ck_assert_uint_eq(w, 1);
	ck_assert_int_eq(conf_body_check(&lm, 1000, 121000, 1 << 30, &w), -1);
	/* Rate off: only the deadline. */
	lm.min_body_rate = 0;
	lm.entity_body_timeout_ms = 2000;
	ck_assert_int_eq(conf_body_check(&lm, 0, 500, 0, &w), 0);
	ck_assert_uint_eq(w, 1500);
	ck_assert_int_eq(conf_body_check(&lm, 0, 2000, 0, &w), -1);
	/* A deadline before the grace period ends comes first. */
	lm.min_body_rate = 100;
	ck_assert_int_eq(conf_body_check(&lm, 0, 0, 0, &w), 0);
	ck_assert_uint_eq(w, 2000);
	/* A clock that went backwards counts as no time. */
	ck_assert_int_eq(conf_body_check(&lm, 5000, 4000, 0, &w), 0);
	ck_assert_uint_eq(w, 2000);
	/* No overflow with the largest rate and a long body. */
	lm.min_body_rate = UINT32_MAX;
	lm.entity_body_timeout_ms = INT64_MAX;
	ck_assert_int_eq(conf_body_check(&lm, 0, (uint64_t)1 << 62,
	    UINT64_MAX - 1, &w), -1);
}
END_TEST

/*
 * The request buffer and the path must fit in one handoff: the largest
 * max_field_length that does with max_request_bytes = 64K is accepted, one
 * byte more is not.  Computed from msg.h so the test follows the protocol.
 */
START_TEST(test_conf_limits_handoff)
{
	struct hsd_config	*cf;
	uint64_t		 room, field;
	char			 text[512], *log;

	room = MSG_PAYLOAD_MAX - CONF_BODY_SLACK - sizeof(struct msg_handoff);
	field = room - 65536;
	snprintf(text, sizeof(text), "limits {\n  max_request_bytes = 64K\n"
	    "  max_field_length = %llu\n}\n" ONE_SITE,
	    (unsigned long long)field);
	cf = load_ok(text);
	ck_assert_uint_eq(cf->cf_limits.max_field_length, field);
	ck_assert_uint_eq(conf_request_buf(&cf->cf_limits),
	    65536 + CONF_BODY_SLACK);
	ck_assert_uint_le(conf_request_buf(&cf->cf_limits) +
	    cf->cf_limits.max_field_length + sizeof(struct msg_handoff),
	    MSG_PAYLOAD_MAX);
	conf_free(cf);

	snprintf(text, sizeof(text), "limits {\n  max_request_bytes = 64K\n"
	    "  max_field_length = %llu\n}\n" ONE_SITE,
	    (unsigned long long)field + 1);
	log = load_err(text);
	snprintf(text, sizeof(text), "t.conf:3: limits: max_request_bytes "
	    "(65536) and max_field_length (%llu) together must not exceed "
	    "%llu bytes", (unsigned long long)field + 1,
	    (unsigned long long)room);
	assert_logged(log, text);
	free(log);

	/* The defaults leave room. */
	cf = load_ok(ONE_SITE);
	ck_assert_uint_eq(conf_request_buf(&cf->cf_limits),
	    16384 + CONF_BODY_SLACK);
	conf_free(cf);
}
END_TEST

START_TEST(test_conf_file)
{
	struct hsd_config	*cf = NULL;
	char			*path = fx_subst("@/t.conf"), *text, *log;
	char			*want;

	text = fx_subst(ONE_SITE);
	fx_write_file(path, text);
	free(text);
	ck_assert_int_eq(conf_load_file(path, &cf), 0);
	ck_assert_ptr_nonnull(cf);
	ck_assert_uint_eq(cf->cf_nsites, 1);
	conf_free(cf);

	/* Messages name the file as it was given. */
	text = fx_subst("pool \"p\" {\n  workers = 0\n}\n" ONE_SITE);
	fx_write_file(path, text);
	free(text);
	fx_capture_start();
	ck_assert_int_eq(conf_load_file(path, &cf), -1);
	log = fx_capture_end();
	ck_assert_ptr_null(cf);
	if (asprintf(&want, "%s:2: pool \"p\": workers:", path) == -1)
		abort();
	ck_assert_msg(strstr(log, want) != NULL, "got: %s", log);
	free(want);
	free(log);
	unlink(path);

	/* Unreadable: the path and the reason. */
	fx_capture_start();
	ck_assert_int_eq(conf_load_file(path, &cf), -1);
	log = fx_capture_end();
	ck_assert_ptr_null(cf);
	ck_assert_ptr_nonnull(strstr(log, path));
	ck_assert_ptr_nonnull(strstr(log, "No such file or directory"));
	free(log);
	free(path);

	/* Directories are not config files. */
	fx_capture_start();
	ck_assert_int_eq(conf_load_file(fx_dir, &cf), -1);
	log = fx_capture_end();
	ck_assert_ptr_nonnull(strstr(log, fx_dir));
	free(log);
}
END_TEST

START_TEST(test_conf_buf_name)
{
	struct hsd_config	*cf;
	char			*text, *log;

	text = fx_subst("\n\nbogus = 1\n" ONE_SITE);
	fx_capture_start();
	ck_assert_int_eq(conf_load_buf(text, "(from hsd-poolmgr)", &cf), -1);
	log = fx_capture_end();
	ck_assert_ptr_nonnull(strstr(log, "(from hsd-poolmgr):3: no such "
	    "option 'bogus'"));
	free(log);
	free(text);

	/* A config can be loaded again and again (no state left behind). */
	cf = load_ok(conf_full);
	conf_free(cf);
	cf = load_ok(conf_full);
	conf_free(cf);
}
END_TEST

START_TEST(test_conf_roots)
{
	struct hsd_config	*cf;
	char			*www = real("@/www"), *rel, *cwd;

	cf = load_ok("site \"s\" { bindings = {\"*:1\"} root = \"@/www/\" }\n"
	    "site \"t\" { bindings = {\"*:2\"} root = \"@//www/./\" }\n"
	    "site \"u\" { bindings = {\"*:3\"} root = \"@/api/../link\" }\n"
	    "site \"v\" { bindings = {\"*:4\"} root = \"/\" }\n");
	ck_assert_str_eq(cf->cf_sites[0].st_root, www);
	ck_assert_str_eq(cf->cf_sites[1].st_root, www);
	ck_assert_str_eq(cf->cf_sites[2].st_root, www);
	ck_assert_str_eq(cf->cf_sites[3].st_root, "/");
	conf_free(cf);

	/* A relative root is made absolute. */
	cwd = getcwd(NULL, 0);
	ck_assert_int_eq(chdir(fx_dir), 0);
	cf = load_ok("site \"s\" { bindings = {\"*:1\"} root = www }\n");
	rel = cf->cf_sites[0].st_root;
	ck_assert_str_eq(rel, www);
	conf_free(cf);
	ck_assert_int_eq(chdir(cwd), 0);
	free(cwd);
	free(www);
}
END_TEST

START_TEST(test_conf_chroot)
{
	struct hsd_config	*cf;
	char			*www = real("@/www"), *top = real("@");

	/* Normalised; roots below it or the chroot itself pass. */
	cf = load_ok("pool \"p\" { chroot = \"@//./\" }\n"
	    "pool \"q\" { chroot = \"@/www/\" }\n"
	    "site \"s\" { bindings = {\"*:1\"} pool = \"p\" root = \"@/www\"\n"
	    "  application \"/a\" { pool = \"q\" }\n"
	    "  application \"/b\" { pool = \"default\" root = \"@/api\" }\n"
	    "}\n");
	ck_assert_str_eq(cf->cf_pools[0].pl_name, "default");
	ck_assert_ptr_null(cf->cf_pools[0].pl_chroot);
	ck_assert_str_eq(cf->cf_pools[1].pl_chroot, top);
	ck_assert_int_eq(cf->cf_pools[1].pl_chroot_line, 1);
	ck_assert_str_eq(cf->cf_pools[2].pl_chroot, www);
	ck_assert_int_eq(cf->cf_pools[2].pl_chroot_line, 2);
	conf_free(cf);
	/* "/" holds everything; a chroot need not exist to be read. */
	cf = load_ok("pool \"p\" { chroot = \"/\" }\n"
	    "pool \"q\" { chroot = \"@/none\" }\n"
	    "site \"s\" { bindings = {\"*:1\"} pool = \"p\" root = \"@/www\" }\n");
	ck_assert_str_eq(cf->cf_pools[1].pl_chroot, "/");
	conf_free(cf);
	free(www);
	free(top);
}
END_TEST

START_TEST(test_conf_chroot_path)
{
	ck_assert_str_eq(conf_chroot_path("/srv/www", "/srv/www/a/b"), "/a/b");
	ck_assert_str_eq(conf_chroot_path("/srv/www", "/srv/www"), "/");
	ck_assert_ptr_null(conf_chroot_path("/srv/www", "/srv/www2"));
	ck_assert_ptr_null(conf_chroot_path("/srv/www", "/srv/www2/a"));
	ck_assert_ptr_null(conf_chroot_path("/srv/www", "/srv/ww"));
	ck_assert_ptr_null(conf_chroot_path("/srv/www", "/srv"));
	ck_assert_ptr_null(conf_chroot_path("/srv/www", "/"));
	ck_assert_str_eq(conf_chroot_path("/", "/srv/www"), "/srv/www");
	ck_assert_str_eq(conf_chroot_path("/", "/"), "/");
}
END_TEST

/* Value parsers. */

struct conf_value {
	const char	*in;
	int		 ok;
	uint64_t	 v;
};

static const struct conf_value conf_durations[] = {
	{ "0", 1, 0 },
	{ "1", 1, 1000 },
	{ "120", 1, 120000 },
	{ "500ms", 1, 500 },
	{ "0ms", 1, 0 },
	{ "90s", 1, 90000 },
	{ "20m", 1, 1200000 },
	{ "29h", 1, 29ULL * 3600 * 1000 },
	{ "2d", 1, 2ULL * 86400 * 1000 },
	{ "007s", 1, 7000 },
	{ "18446744073709551615ms", 1, UINT64_MAX },
	{ "18446744073709551616ms", 0, 0 },
	{ "18446744073709551615s", 0, 0 },
	{ "213503982334601d", 0, 0 },
	{ "99999999999999999999999", 0, 0 },
	{ "", 0, 0 },
	{ "-1", 0, 0 },
	{ "-1s", 0, 0 },
	{ "+1s", 0, 0 },
	{ "1x", 0, 0 },
	{ "12x", 0, 0 },
	{ "1.5s", 0, 0 },
	{ " 1s", 0, 0 },
	{ "1s ", 0, 0 },
	{ "1 s", 0, 0 },
	{ "s", 0, 0 },
	{ "ms", 0, 0 },
	{ "1S", 0, 0 },
	{ "1sm", 0, 0 },
	{ "1ss", 0, 0 },
	{ "1mss", 0, 0 },
	{ "0x10", 0, 0 },
};

START_TEST(test_conf_duration)
{
	const struct conf_value	*c = &conf_durations[_i];
	uint64_t		 v = 12345;
	int			 rv = conf_parse_duration(c->in, &v);

	if (c->ok) {
		ck_assert_msg(rv == 0, "\"%s\" rejected", c->in);
		ck_assert_uint_eq(v, c->v);
	} else {
		ck_assert_msg(rv == -1, "\"%s\" accepted", c->in);
		ck_assert_uint_eq(v, 12345);
	}
}
END_TEST

static const struct conf_value conf_sizes[] = {
	{ "0", 1, 0 },
	{ "16384", 1, 16384 },
	{ "16K", 1, 16384 },
	{ "16k", 1, 16384 },
	{ "4M", 1, 4ULL << 20 },
	{ "1G", 1, 1ULL << 30 },
	{ "18446744073709551615", 1, UINT64_MAX },
	{ "17179869183G", 1, 17179869183ULL << 30 },
	{ "18446744073709551616", 0, 0 },
	{ "17179869184G", 0, 0 },
	{ "", 0, 0 },
	{ "-1", 0, 0 },
	{ "-1K", 0, 0 },
	{ "K", 0, 0 },
	{ "1KB", 0, 0 },
	{ "1.5K", 0, 0 },
	{ "1 K", 0, 0 },
	{ " 1", 0, 0 },
	{ "1T", 0, 0 },
	{ "abc", 0, 0 },
	{ "0x10", 0, 0 },
};

START_TEST(test_conf_size)
{
	const struct conf_value	*c = &conf_sizes[_i];
	uint64_t		 v = 12345;
	int			 rv = conf_parse_size(c->in, &v);

	if (c->ok) {
		ck_assert_msg(rv == 0, "\"%s\" rejected", c->in);
		ck_assert_uint_eq(v, c->v);
	} else {
		ck_assert_msg(rv == -1, "\"%s\" accepted", c->in);
		ck_assert_uint_eq(v, 12345);
	}
}
END_TEST

/* Health and recycling keys: IIS's defaults, a pool's own values, and
 * a pool's shutdown_timeout following the global one when that is set. */
START_TEST(test_conf_health)
{
	struct hsd_config	*cf = load_ok(ONE_SITE);
	const struct conf_pool	*pl = &cf->cf_pools[0];
	uint16_t		 min = 7;

	ck_assert_uint_eq(pl->pl_ping_interval_ms, 30000);
	ck_assert_uint_eq(pl->pl_ping_timeout_ms, 90000);
	ck_assert_uint_eq(pl->pl_startup_timeout_ms, 90000);
	ck_assert_uint_eq(pl->pl_shutdown_timeout_ms, 90000);
	ck_assert_uint_eq(pl->pl_recycle_requests, 0);
	ck_assert_uint_eq(pl->pl_recycle_time_ms, 29ULL * 3600 * 1000);
	ck_assert_uint_eq(pl->pl_recycle_memory, 0);
	ck_assert_uint_eq(pl->pl_nrecycle_at, 0);
	conf_free(cf);

	cf = load_ok("shutdown_timeout = \"7s\"\n"
	    "pool \"a\" { ping_interval = \"500ms\" ping_timeout = \"2s\"\n"
	    "  startup_timeout = \"1m\" shutdown_timeout = \"0\"\n"
	    "  recycle_requests = 4294967295 recycle_time = \"0\"\n"
	    "  recycle_at = {\"23:59\", \"00:00\", \"03:07\"}\n"
	    "  recycle_memory = \"512M\" }\n"
	    "pool \"b\" {}\n" ONE_SITE);
	pl = &cf->cf_pools[1];		/* "default" comes first */
	ck_assert_str_eq(pl->pl_name, "a");
	ck_assert_uint_eq(pl->pl_ping_interval_ms, 500);
	ck_assert_uint_eq(pl->pl_ping_timeout_ms, 2000);
	ck_assert_uint_eq(pl->pl_startup_timeout_ms, 60000);
	ck_assert_uint_eq(pl->pl_shutdown_timeout_ms, 0);
	ck_assert_uint_eq(pl->pl_recycle_requests, UINT32_MAX);
	ck_assert_uint_eq(pl->pl_recycle_time_ms, 0);
	ck_assert_uint_eq(pl->pl_recycle_memory, 512ULL << 20);
	ck_assert_uint_eq(pl->pl_nrecycle_at, 3);
	ck_assert_uint_eq(pl->pl_recycle_at[0], 23 * 60 + 59);
	ck_assert_uint_eq(pl->pl_recycle_at[1], 0);
	ck_assert_uint_eq(pl->pl_recycle_at[2], 3 * 60 + 7);
	ck_assert_uint_eq(cf->cf_pools[0].pl_shutdown_timeout_ms, 7000);
	ck_assert_uint_eq(cf->cf_pools[2].pl_shutdown_timeout_ms, 7000);
	ck_assert_uint_eq(cf->cf_shutdown_timeout_ms, 7000);
	conf_free(cf);

	ck_assert_int_eq(conf_parse_clock("00:00", &min), 0);
	ck_assert_uint_eq(min, 0);
	ck_assert_int_eq(conf_parse_clock("23:59", &min), 0);
	ck_assert_uint_eq(min, 1439);
	min = 7;
	ck_assert_int_eq(conf_parse_clock("24:00", &min), -1);
	ck_assert_int_eq(conf_parse_clock("12:60", &min), -1);
	ck_assert_int_eq(conf_parse_clock("1:00", &min), -1);
	ck_assert_int_eq(conf_parse_clock("01:00:00", &min), -1);
	ck_assert_int_eq(conf_parse_clock("-1:00", &min), -1);
	ck_assert_int_eq(conf_parse_clock("", &min), -1);
	ck_assert_int_eq(conf_parse_clock(NULL, &min), -1);
	ck_assert_uint_eq(min, 7);
}
END_TEST

START_TEST(test_conf_timeval)
{
	struct timeval	tv;

	conf_timeval(1500, &tv);
	ck_assert_int_eq(tv.tv_sec, 1);
	ck_assert_int_eq(tv.tv_usec, 500000);
	conf_timeval(999, &tv);
	ck_assert_int_eq(tv.tv_sec, 0);
	ck_assert_int_eq(tv.tv_usec, 999000);
	conf_timeval(120000, &tv);
	ck_assert_int_eq(tv.tv_sec, 120);
	ck_assert_int_eq(tv.tv_usec, 0);
}
END_TEST

START_TEST(test_conf_parse_null)
{
	uint64_t		v;
	struct conf_binding	bd;

	ck_assert_int_eq(conf_parse_duration(NULL, &v), -1);
	ck_assert_int_eq(conf_parse_size(NULL, &v), -1);
	ck_assert_int_eq(conf_parse_binding(NULL, &bd), -1);
}
END_TEST

/* Bindings. */

struct conf_bcase {
	const char	*in;
	int		 family;
	const char	*addr;
	int		 port;
	int		 any;
	const char	*host;
};

static const struct conf_bcase conf_bindings_ok[] = {
	{ "*:8080", AF_INET, "0.0.0.0", 8080, 1, NULL },
	{ "*:1", AF_INET, "0.0.0.0", 1, 1, NULL },
	{ "*:65535", AF_INET, "0.0.0.0", 65535, 1, NULL },
	{ "0.0.0.0:80", AF_INET, "0.0.0.0", 80, 1, NULL },
	{ "127.0.0.1:80", AF_INET, "127.0.0.1", 80, 0, NULL },
	{ "127.0.0.1:80:", AF_INET, "127.0.0.1", 80, 0, NULL },
	{ "10.1.2.3:8080:Example.COM", AF_INET, "10.1.2.3", 8080, 0,
	  "example.com" },
	{ "*:80:www.example.com.", AF_INET, "0.0.0.0", 80, 1,
	  "www.example.com" },
	{ "*:80:localhost", AF_INET, "0.0.0.0", 80, 1, "localhost" },
	{ "*:80:my_host-1", AF_INET, "0.0.0.0", 80, 1, "my_host-1" },
	{ "[::]:443", AF_INET6, "::", 443, 1, NULL },
	{ "[0::0]:443", AF_INET6, "::", 443, 1, NULL },
	{ "[::1]:8080", AF_INET6, "::1", 8080, 0, NULL },
	{ "[::1]:8080:V6.Example", AF_INET6, "::1", 8080, 0, "v6.example" },
	{ "[2001:db8::1]:80:[2001:DB8::1]", AF_INET6, "2001:db8::1", 80, 0,
	  "[2001:db8::1]" },
	{ "[::ffff:1.2.3.4]:80", AF_INET6, "::ffff:1.2.3.4", 80, 0, NULL },
	{ "*:0080", AF_INET, "0.0.0.0", 80, 1, NULL },
};

START_TEST(test_conf_binding_ok)
{
	const struct conf_bcase	*c = &conf_bindings_ok[_i];
	struct conf_binding	 bd;

	ck_assert_msg(conf_parse_binding(c->in, &bd) == 0, "\"%s\" rejected",
	    c->in);
	if (c->family == AF_INET) {
		assert_sin(&bd.bd_addr, c->addr, c->port);
		ck_assert_uint_eq(bd.bd_addrlen, sizeof(struct sockaddr_in));
	} else {
		assert_sin6(&bd.bd_addr, c->addr, c->port);
		ck_assert_uint_eq(bd.bd_addrlen, sizeof(struct sockaddr_in6));
	}
	ck_assert_int_eq(bd.bd_port, c->port);
	ck_assert_int_eq(!!bd.bd_any, c->any);
	if (c->host == NULL)
		ck_assert_ptr_null(bd.bd_host);
	else
		ck_assert_str_eq(bd.bd_host, c->host);
	ck_assert_str_eq(bd.bd_text, c->in);
	free(bd.bd_host);
	free(bd.bd_text);
}
END_TEST

/* fastcgi_address as the worker connects to it. */
START_TEST(test_conf_fastcgi_address)
{
	struct sockaddr_storage	 ss;
	const struct sockaddr_un *sun = (const struct sockaddr_un *)&ss;
	socklen_t		 len;
	char			 path[160];
	static const char	*bad[] = {
		NULL, "", "unix:", "unix:run/php.sock", "UNIX:/x",
		"127.0.0.1", "127.0.0.1:", "127.0.0.1:0", "127.0.0.1:65536",
		"127.0.0.1:9000x", "127.0.0.1:+900", "127.0.0.1:0009000",
		":9000", "*:9000", "localhost:9000", "::1:9000", "[::1]",
		"[::1]9000", "[]:9000", "[127.0.0.1]:9000", "[::1]:9000:x",
		"1.2.3:9000",
	};
	size_t			 i;

	ck_assert_int_eq(conf_parse_fastcgi_address("127.0.0.1:9000", &ss,
	    &len), 0);
	ck_assert_uint_eq(len, sizeof(struct sockaddr_in));
	assert_sin(&ss, "127.0.0.1", 9000);
	ck_assert_int_eq(conf_parse_fastcgi_address("[::1]:65535", &ss, &len),
	    0);
	ck_assert_uint_eq(len, sizeof(struct sockaddr_in6));
	assert_sin6(&ss, "::1", 65535);
	ck_assert_int_eq(conf_parse_fastcgi_address(
	    "unix:/run/php/php8.2-fpm.sock", &ss, &len), 0);
	ck_assert_int_eq(sun->sun_family, AF_UNIX);
	ck_assert_str_eq(sun->sun_path, "/run/php/php8.2-fpm.sock");
	ck_assert_uint_eq(len, sizeof(struct sockaddr_un));
	/* The longest path a socket address holds, and one more byte. */
	memset(path, 'a', sizeof(path));
	memcpy(path, "unix:/", 6);
	path[5 + sizeof(sun->sun_path) - 1] = '\0';
	ck_assert_int_eq(conf_parse_fastcgi_address(path, &ss, &len), 0);
	ck_assert_uint_eq(strlen(sun->sun_path), sizeof(sun->sun_path) - 1);
	path[5 + sizeof(sun->sun_path) - 1] = 'a';
	path[5 + sizeof(sun->sun_path)] = '\0';
	ck_assert_int_eq(conf_parse_fastcgi_address(path, &ss, &len), -1);
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		ck_assert_msg(conf_parse_fastcgi_address(bad[i], &ss, &len) ==
		    -1, "\"%s\" accepted", bad[i] ? bad[i] : "(null)");
}
END_TEST

static const char *conf_bindings_bad[] = {
	"", "8080", "*", "*:", "*:0", "*:65536", "*:123456", "*:-1", "*:+80",
	"*:80x", "*: 80", "1.2.3:80", "1.2.3.4.5:80", "256.1.1.1:80",
	"localhost:80", "[::1:80", "[::1]80", "[::1]", "[zz]:80", "[]:80",
	"[1.2.3.4]:80", ":80", "**:80", " *:80", "*:80:bad host", "*:80:a/b",
	"*:80:.", "*:80:..", "*:80:a:b", "*:80:[::1", "*:80:[x]", "[::1]:0",
	"*:80:h\xc3\xa9",
};

START_TEST(test_conf_binding_bad)
{
	struct conf_binding	bd;

	ck_assert_msg(conf_parse_binding(conf_bindings_bad[_i], &bd) == -1,
	    "\"%s\" accepted", conf_bindings_bad[_i]);
}
END_TEST

START_TEST(test_conf_listens)
{
	struct hsd_config	*cf;
	const struct conf_listen *ls;

	cf = load_ok("site \"a\" {\n"
	    "  root = \"@/www\"\n"
	    "  bindings = {\"127.0.0.1:8080:a\", \"*:8080\", \"[::1]:8080\",\n"
	    "    \"127.0.0.2:9090\", \"127.0.0.2:9090:b\",\n"
	    "    \"127.0.0.3:9090\"}\n"
	    "}\n"
	    "site \"b\" {\n"
	    "  root = \"@/www\"\n"
	    "  bindings = {\"*:8080:b\", \"[::]:8081\", \"[::1]:8081:b\",\n"
	    "    \"127.0.0.1:8081\"}\n"
	    "}\n");
	ck_assert_uint_eq(cf->cf_nbindings, 10);
	ck_assert_uint_eq(cf->cf_nlistens, 6);

	/* The v4 wildcard on 8080 takes 127.0.0.1:8080 too. */
	ls = &cf->cf_listens[0];
	ck_assert(ls->ls_any);
	assert_sin(&ls->ls_addr, "0.0.0.0", 8080);
	ck_assert_uint_eq(cf->cf_bindings[0].bd_listen, 0);
	ck_assert_uint_eq(cf->cf_bindings[1].bd_listen, 0);
	ck_assert_uint_eq(cf->cf_bindings[6].bd_listen, 0);
	/* Another family is another socket. */
	ls = &cf->cf_listens[1];
	ck_assert(!ls->ls_any);
	assert_sin6(&ls->ls_addr, "::1", 8080);
	ck_assert_uint_eq(cf->cf_bindings[2].bd_listen, 1);
	/* Same address and port, different hosts: one socket. */
	ls = &cf->cf_listens[2];
	ck_assert(!ls->ls_any);
	assert_sin(&ls->ls_addr, "127.0.0.2", 9090);
	ck_assert_uint_eq(cf->cf_bindings[3].bd_listen, 2);
	ck_assert_uint_eq(cf->cf_bindings[4].bd_listen, 2);
	ls = &cf->cf_listens[3];
	assert_sin(&ls->ls_addr, "127.0.0.3", 9090);
	ck_assert_uint_eq(cf->cf_bindings[5].bd_listen, 3);
	/* [::]:8081 takes [::1]:8081 but not 127.0.0.1:8081. */
	ls = &cf->cf_listens[4];
	ck_assert(ls->ls_any);
	assert_sin6(&ls->ls_addr, "::", 8081);
	ck_assert_uint_eq(cf->cf_bindings[7].bd_listen, 4);
	ck_assert_uint_eq(cf->cf_bindings[8].bd_listen, 4);
	ls = &cf->cf_listens[5];
	ck_assert(!ls->ls_any);
	assert_sin(&ls->ls_addr, "127.0.0.1", 8081);
	ck_assert_uint_eq(cf->cf_bindings[9].bd_listen, 5);
	conf_free(cf);

	/* A specific binding written before its wildcard still shares. */
	cf = load_ok("site \"a\" { root = \"@/www\" bindings = "
	    "{\"127.0.0.1:80\", \"10.0.0.1:80\", \"*:80:x\"} }\n");
	ck_assert_uint_eq(cf->cf_nlistens, 1);
	ck_assert(cf->cf_listens[0].ls_any);
	assert_sin(&cf->cf_listens[0].ls_addr, "0.0.0.0", 80);
	conf_free(cf);
}
END_TEST

START_TEST(test_conf_listens_v4_specific)
{
	struct hsd_config	*cf;

	cf = load_ok("site \"a\" { root = \"@/www\" bindings = "
	    "{\"127.0.0.1:8081\"} }\n"
	    "site \"b\" { root = \"@/www\" bindings = "
	    "{\"[::]:8081\", \"127.0.0.1:8082\"} }\n");
	ck_assert_uint_eq(cf->cf_nlistens, 3);
	ck_assert(!cf->cf_listens[0].ls_any);
	assert_sin(&cf->cf_listens[0].ls_addr, "127.0.0.1", 8081);
	ck_assert(cf->cf_listens[1].ls_any);
	assert_sin(&cf->cf_listens[2].ls_addr, "127.0.0.1", 8082);
	conf_free(cf);
}
END_TEST

/* Routing. */

static const char conf_routing[] =
	"site \"exact-host\" { root = \"@/www\"\n"
	"  bindings = {\"127.0.0.1:8080:example.com\"} }\n"
	"site \"exact-any\" { root = \"@/www\"\n"
	"  bindings = {\"127.0.0.1:8080\"} }\n"
	"site \"wild-host\" { root = \"@/www\"\n"
	"  bindings = {\"*:8080:example.com\", \"*:8080:other.org\"} }\n"
	"site \"wild-any\" { root = \"@/www\"\n"
	"  bindings = {\"*:8080\"} }\n"
	"site \"v6\" { root = \"@/www\"\n"
	"  bindings = {\"[::1]:8080\", \"[::]:8080:v6.example\"} }\n"
	"site \"only-host\" { root = \"@/www\"\n"
	"  bindings = {\"127.0.0.9:7070:x.org\"} }\n";

struct conf_rcase {
	const char	*ip;
	int		 port;
	const char	*host;
	int		 site;
};

static const struct conf_rcase conf_routes[] = {
	{ "127.0.0.1", 8080, "example.com", 0 },
	{ "127.0.0.1", 8080, "EXAMPLE.com:8080", 0 },
	{ "127.0.0.1", 8080, "example.com.", 0 },
	{ "127.0.0.1", 8080, "example.com.:8080", 0 },
	{ "127.0.0.1", 8080, "other.org", 1 },
	{ "127.0.0.1", 8080, "example.co", 1 },
	{ "127.0.0.1", 8080, "example.comm", 1 },
	{ "127.0.0.1", 8080, NULL, 1 },
	{ "127.0.0.1", 8080, "", 1 },
	{ "127.0.0.2", 8080, "example.com", 2 },
	{ "127.0.0.2", 8080, "Other.Org:80", 2 },
	{ "127.0.0.2", 8080, "nope", 3 },
	{ "127.0.0.2", 8080, NULL, 3 },
	{ "127.0.0.2", 8080, ":8080", 3 },
	{ "127.0.0.1", 9090, "example.com", -1 },
	{ "::1", 8080, "x", 4 },
	{ "::1", 8080, "[::1]:8080", 4 },
	{ "::2", 8080, "v6.example", 4 },
	{ "::2", 8080, "V6.EXAMPLE.:8080", 4 },
	{ "::2", 8080, "x", -1 },
	{ "::2", 8080, NULL, -1 },
	{ "::1", 8081, "x", -1 },
	{ "127.0.0.9", 7070, "x.org", 5 },
	{ "127.0.0.9", 7070, "y.org", -1 },
	{ "127.0.0.9", 7070, NULL, -1 },
};

START_TEST(test_conf_route_site)
{
	const struct conf_rcase	*c = &conf_routes[_i];
	struct hsd_config	*cf = load_ok(conf_routing);
	struct sockaddr_storage	 ss;
	struct sockaddr_in	*sin = (struct sockaddr_in *)&ss;
	struct sockaddr_in6	*sin6 = (struct sockaddr_in6 *)&ss;
	int			 site;

	memset(&ss, 0, sizeof(ss));
	if (strchr(c->ip, ':') != NULL) {
		sin6->sin6_family = AF_INET6;
		sin6->sin6_port = htons(c->port);
		ck_assert_int_eq(inet_pton(AF_INET6, c->ip,
		    &sin6->sin6_addr), 1);
	} else {
		sin->sin_family = AF_INET;
		sin->sin_port = htons(c->port);
		ck_assert_int_eq(inet_pton(AF_INET, c->ip, &sin->sin_addr), 1);
	}
	site = conf_route_site(cf, (struct sockaddr *)&ss, c->host,
	    c->host ? strlen(c->host) : 0);
	ck_assert_msg(site == c->site, "%s:%d Host %s: site %d, want %d",
	    c->ip, c->port, c->host ? c->host : "(none)", site, c->site);
	conf_free(cf);
}
END_TEST

START_TEST(test_conf_route_site_hostlen)
{
	struct hsd_config	*cf = load_ok(conf_routing);
	struct sockaddr_in	 sin;

	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_port = htons(8080);
	inet_pton(AF_INET, "127.0.0.1", &sin.sin_addr);
	/* hostlen bounds the host, which need not be NUL-terminated. */
	ck_assert_int_eq(conf_route_site(cf, (struct sockaddr *)&sin,
	    "example.comXYZ", 11), 0);
	ck_assert_int_eq(conf_route_site(cf, (struct sockaddr *)&sin,
	    "example.com", 7), 1);
	conf_free(cf);
}
END_TEST

static const char conf_apps[] =
	"pool \"p1\" {}\n"
	"pool \"p2\" {}\n"
	"site \"s\" {\n"
	"  bindings = {\"*:8080\"}\n"
	"  root = \"@/www\"\n"
	"  pool = \"p1\"\n"
	"  application \"/\" { }\n"
	"  application \"/api\" { pool = \"p2\" root = \"@/api\" }\n"
	"  application \"/api/v2\" { pool = \"default\" }\n"
	"  application \"/static/\" { root = \"@/api/\" }\n"
	"}\n"
	"site \"t\" {\n"
	"  bindings = {\"*:8081\"}\n"
	"  root = \"@/www\"\n"
	"  application \"/api\" { }\n"
	"}\n";

struct conf_acase {
	int		 site;
	const char	*path;
	int		 app;
};

static const struct conf_acase conf_app_routes[] = {
	{ 0, "/", 0 },
	{ 0, "/index.html", 0 },
	{ 0, "/api", 1 },
	{ 0, "/api/", 1 },
	{ 0, "/api/x", 1 },
	{ 0, "/apix", 0 },
	{ 0, "/ap", 0 },
	{ 0, "/api/v2", 2 },
	{ 0, "/api/v2/", 2 },
	{ 0, "/api/v2/x/y", 2 },
	{ 0, "/api/v20", 1 },
	{ 0, "/static", 3 },
	{ 0, "/static/a.css", 3 },
	{ 0, "/staticx", 0 },
	{ 1, "/", -1 },
	{ 1, "/apix", -1 },
	{ 1, "/api", 0 },
	{ 1, "/api/a", 0 },
	{ 1, "/API", -1 },
};

START_TEST(test_conf_route_app)
{
	const struct conf_acase	*c = &conf_app_routes[_i];
	struct hsd_config	*cf = load_ok(conf_apps);
	int			 app;

	app = conf_route_app(&cf->cf_sites[c->site], c->path,
	    strlen(c->path));
	ck_assert_msg(app == c->app, "site %d %s: app %d, want %d", c->site,
	    c->path, app, c->app);
	conf_free(cf);
}
END_TEST

START_TEST(test_conf_route_pool)
{
	struct hsd_config	*cf = load_ok(conf_apps);
	const struct conf_site	*s = &cf->cf_sites[0], *t = &cf->cf_sites[1];

	/* Pools: default 0, p1 1, p2 2. */
	ck_assert_uint_eq(cf->cf_npools, 3);
	ck_assert_uint_eq(conf_route_pool(s, -1), 1);
	ck_assert_uint_eq(conf_route_pool(s, 0), 1);	/* the site's */
	ck_assert_uint_eq(conf_route_pool(s, 1), 2);
	ck_assert_uint_eq(conf_route_pool(s, 2), 0);
	ck_assert_uint_eq(conf_route_pool(s, 3), 1);
	ck_assert_uint_eq(conf_route_pool(t, -1), 0);
	ck_assert_uint_eq(conf_route_pool(t, 0), 0);
	ck_assert_str_eq(s->st_apps[0].ap_prefix, "");
	ck_assert_uint_eq(s->st_apps[0].ap_prefix_len, 0);
	conf_free(cf);
}
END_TEST

START_TEST(test_conf_map_path)
{
	struct hsd_config	*cf = load_ok(conf_apps);
	const struct conf_site	*s = &cf->cf_sites[0];
	const char		*root, *p;
	char			*www = real("@/www"), *api = real("@/api");

	/* No application, or one without a root: the site's, path as is. */
	p = conf_map_path(s, -1, "/a/b.html", &root);
	ck_assert_str_eq(root, www);
	ck_assert_str_eq(p, "/a/b.html");
	p = conf_map_path(s, 0, "/a/b.html", &root);
	ck_assert_str_eq(root, www);
	ck_assert_str_eq(p, "/a/b.html");
	p = conf_map_path(s, 2, "/api/v2/x", &root);
	ck_assert_str_eq(root, www);
	ck_assert_str_eq(p, "/api/v2/x");

	/* Its own root: the prefix goes. */
	p = conf_map_path(s, 1, "/api/x.html", &root);
	ck_assert_str_eq(root, api);
	ck_assert_str_eq(p, "/x.html");
	p = conf_map_path(s, 1, "/api/", &root);
	ck_assert_str_eq(p, "/");
	p = conf_map_path(s, 1, "/api", &root);
	ck_assert_str_eq(p, "/");
	p = conf_map_path(s, 3, "/static/css/a.css", &root);
	ck_assert_str_eq(root, api);
	ck_assert_str_eq(p, "/css/a.css");
	free(www);
	free(api);
	conf_free(cf);
}
END_TEST

START_TEST(test_conf_map_path_root_app)
{
	struct hsd_config	*cf;
	const char		*root, *p;
	char			*api = real("@/api");

	cf = load_ok("site \"s\" { bindings = {\"*:1\"} root = \"@/www\"\n"
	    "  application \"/\" { root = \"@/api\" } }\n");
	ck_assert_int_eq(conf_route_app(&cf->cf_sites[0], "/x", 2), 0);
	p = conf_map_path(&cf->cf_sites[0], 0, "/x/y", &root);
	ck_assert_str_eq(root, api);
	ck_assert_str_eq(p, "/x/y");
	p = conf_map_path(&cf->cf_sites[0], 0, "/", &root);
	ck_assert_str_eq(p, "/");
	free(api);
	conf_free(cf);
}
END_TEST

/* Reload: what counts as a change. */

#define RL_BASE \
	"pool \"a\" { workers = 2 }\n" \
	"pool \"b\" { }\n" \
	"site \"s\" { bindings = {\"127.0.0.1:8080\"} root = \"@/www\"\n" \
	"  application \"/api\" { pool = \"b\" root = \"@/api\" } }\n" \
	"site \"t\" { bindings = {\"127.0.0.1:8081\"} root = \"@/www\" " \
	"pool = \"a\" }\n"

static int
rl_pool_same(const char *a, const char *b, const char *pool)
{
	struct hsd_config	*ca = load_ok(a), *cb = load_ok(b);
	int			 ia = conf_pool_index(ca, pool);
	int			 ib = conf_pool_index(cb, pool);
	int			 rv;

	ck_assert_int_ge(ia, 0);
	ck_assert_int_ge(ib, 0);
	rv = conf_pool_same(ca, ia, cb, ib);
	ck_assert_int_eq(rv, conf_pool_same(cb, ib, ca, ia));
	conf_free(ca);
	conf_free(cb);
	return rv;
}

START_TEST(test_conf_reload_pool_same)
{
	/* Identical, and the same with the sites and pools reordered. */
	ck_assert_int_eq(rl_pool_same(RL_BASE, RL_BASE, "a"), 1);
	ck_assert_int_eq(rl_pool_same(RL_BASE,
	    "pool \"b\" { }\npool \"a\" { workers = 2 }\n"
	    "site \"t\" { bindings = {\"127.0.0.1:8081\"} root = \"@/www\" "
	    "pool = \"a\" }\n"
	    "site \"s\" { bindings = {\"127.0.0.1:8080\"} root = \"@/www\"\n"
	    "  application \"/api\" { pool = \"b\" root = \"@/api\" } }\n",
	    "b"), 1);
	/* Where the workers keep chunked bodies: every pool's. */
	ck_assert_int_eq(rl_pool_same(RL_BASE, "body_temp_dir = \"/tmp\"\n"
	    RL_BASE, "b"), 0);
	ck_assert_int_eq(rl_pool_same(RL_BASE, "pool \"a\" { workers = 2 "
	    "fastcgi_retry_timeout = \"5s\" }\npool \"b\" { }\n" ONE_SITE,
	    "a"), 0);
	/* A pool key. */
	ck_assert_int_eq(rl_pool_same(RL_BASE,
	    "pool \"a\" { workers = 3 }\npool \"b\" { }\n"
	    ONE_SITE, "a"), 0);
	ck_assert_int_eq(rl_pool_same("pool \"a\" { }\n" ONE_SITE,
	    "pool \"a\" { ping_interval = \"1s\" }\n" ONE_SITE, "a"), 0);
	ck_assert_int_eq(rl_pool_same("pool \"a\" { }\n" ONE_SITE,
	    "pool \"a\" { recycle_at = {\"03:00\"} }\n" ONE_SITE, "a"), 0);
	/* A limit: every pool. */
	ck_assert_int_eq(rl_pool_same(RL_BASE,
	    "limits { connection_timeout = \"7s\" }\n" RL_BASE, "b"), 0);
	/* Binding changes do not concern workers. */
	ck_assert_int_eq(rl_pool_same(RL_BASE,
	    "pool \"a\" { workers = 2 }\npool \"b\" { }\n"
	    "site \"s\" { bindings = {\"127.0.0.1:9090\", \"*:9091\"} "
	    "root = \"@/www\"\n"
	    "  application \"/api\" { pool = \"b\" root = \"@/api\" } }\n"
	    "site \"t\" { bindings = {\"127.0.0.1:8081\"} root = \"@/www\" "
	    "pool = \"a\" }\n", "a"), 1);
	/* A root of a site the pool serves; the same root through a link
	 * is the same (roots are compared resolved). */
	ck_assert_int_eq(rl_pool_same(RL_BASE,
	    "pool \"a\" { workers = 2 }\npool \"b\" { }\n"
	    "site \"s\" { bindings = {\"127.0.0.1:8080\"} root = \"@/www\"\n"
	    "  application \"/api\" { pool = \"b\" root = \"@/api\" } }\n"
	    "site \"t\" { bindings = {\"127.0.0.1:8081\"} root = \"@/api\" "
	    "pool = \"a\" }\n", "a"), 0);
	ck_assert_int_eq(rl_pool_same(RL_BASE,
	    "pool \"a\" { workers = 2 }\npool \"b\" { }\n"
	    "site \"s\" { bindings = {\"127.0.0.1:8080\"} root = \"@/www\"\n"
	    "  application \"/api\" { pool = \"b\" root = \"@/api\" } }\n"
	    "site \"t\" { bindings = {\"127.0.0.1:8081\"} root = \"@/link\" "
	    "pool = \"a\" }\n", "a"), 1);
	/* An application's root: its pool b changes; default, which serves
	 * site s's other paths from the site's root, does not. */
#define RL_APIROOT \
	"pool \"a\" { workers = 2 }\npool \"b\" { }\n" \
	"site \"s\" { bindings = {\"127.0.0.1:8080\"} root = \"@/www\"\n" \
	"  application \"/api\" { pool = \"b\" root = \"@/www\" } }\n" \
	"site \"t\" { bindings = {\"127.0.0.1:8081\"} root = \"@/www\" " \
	"pool = \"a\" }\n"
	ck_assert_int_eq(rl_pool_same(RL_BASE, RL_APIROOT, "b"), 0);
	ck_assert_int_eq(rl_pool_same(RL_BASE, RL_APIROOT, "default"), 1);
	/* The site's root: default changes, b (its application has a root
	 * of its own) does not. */
	ck_assert_int_eq(rl_pool_same(RL_BASE,
	    "pool \"a\" { workers = 2 }\npool \"b\" { }\n"
	    "site \"s\" { bindings = {\"127.0.0.1:8080\"} root = \"@/api\"\n"
	    "  application \"/api\" { pool = \"b\" root = \"@/api\" } }\n"
	    "site \"t\" { bindings = {\"127.0.0.1:8081\"} root = \"@/www\" "
	    "pool = \"a\" }\n", "default"), 0);
	ck_assert_int_eq(rl_pool_same(RL_BASE,
	    "pool \"a\" { workers = 2 }\npool \"b\" { }\n"
	    "site \"s\" { bindings = {\"127.0.0.1:8080\"} root = \"@/api\"\n"
	    "  application \"/api\" { pool = \"b\" root = \"@/api\" } }\n"
	    "site \"t\" { bindings = {\"127.0.0.1:8081\"} root = \"@/www\" "
	    "pool = \"a\" }\n", "b"), 1);
	/* A site added for another pool leaves a alone; one for a does not. */
	ck_assert_int_eq(rl_pool_same(RL_BASE, RL_BASE
	    "site \"u\" { bindings = {\"127.0.0.1:8082\"} root = \"@/www\" "
	    "pool = \"b\" }\n", "a"), 1);
	ck_assert_int_eq(rl_pool_same(RL_BASE, RL_BASE
	    "site \"u\" { bindings = {\"127.0.0.1:8082\"} root = \"@/www\" "
	    "pool = \"a\" }\n", "a"), 0);
	/* A site removed from a pool. */
	ck_assert_int_eq(rl_pool_same(RL_BASE,
	    "pool \"a\" { workers = 2 }\npool \"b\" { }\n"
	    "site \"s\" { bindings = {\"127.0.0.1:8080\"} root = \"@/www\"\n"
	    "  application \"/api\" { pool = \"b\" root = \"@/api\" } }\n",
	    "b"), 1);
}
END_TEST

START_TEST(test_conf_reload_site_routes)
{
	struct hsd_config	*a, *b;

	a = load_ok(RL_BASE);
	/* Reordered: same by name.  Another root: still the same routes. */
	b = load_ok("pool \"a\" { workers = 2 }\npool \"b\" { }\n"
	    "site \"t\" { bindings = {\"*:8081\"} root = \"@/api\" "
	    "pool = \"a\" }\n"
	    "site \"s\" { bindings = {\"127.0.0.1:8080\"} root = \"@/www\"\n"
	    "  application \"/api\" { pool = \"b\" root = \"@/api\" } }\n");
	ck_assert_int_eq(conf_find_site(b, "s"), 1);
	ck_assert_int_eq(conf_find_site(b, "nope"), -1);
	ck_assert_int_eq(conf_site_routes_same(a, 0, b, 1), 1);
	ck_assert_int_eq(conf_site_routes_same(a, 1, b, 0), 1);
	ck_assert_int_eq(conf_site_routes_same(a, 0, b, 0), 0);
	conf_free(b);
	/* Another pool, application prefix, max_body_size or application
	 * set: not the same. */
	b = load_ok("pool \"a\" { workers = 2 }\npool \"b\" { }\n"
	    "site \"s\" { bindings = {\"127.0.0.1:8080\"} root = \"@/www\" "
	    "pool = \"b\"\n"
	    "  application \"/api\" { pool = \"b\" root = \"@/api\" } }\n");
	ck_assert_int_eq(conf_site_routes_same(a, 0, b, 0), 0);
	conf_free(b);
	b = load_ok("pool \"a\" { workers = 2 }\npool \"b\" { }\n"
	    "site \"s\" { bindings = {\"127.0.0.1:8080\"} root = \"@/www\"\n"
	    "  application \"/v2\" { pool = \"b\" root = \"@/api\" } }\n");
	ck_assert_int_eq(conf_site_routes_same(a, 0, b, 0), 0);
	conf_free(b);
	b = load_ok("pool \"a\" { workers = 2 }\npool \"b\" { }\n"
	    "site \"s\" { bindings = {\"127.0.0.1:8080\"} root = \"@/www\"\n"
	    "  max_body_size = \"1K\"\n"
	    "  application \"/api\" { pool = \"b\" root = \"@/api\" } }\n");
	ck_assert_int_eq(conf_site_routes_same(a, 0, b, 0), 0);
	conf_free(b);
	b = load_ok("pool \"a\" { workers = 2 }\npool \"b\" { }\n"
	    "site \"s\" { bindings = {\"127.0.0.1:8080\"} root = \"@/www\" }\n");
	ck_assert_int_eq(conf_site_routes_same(a, 0, b, 0), 0);
	conf_free(b);
	conf_free(a);
}
END_TEST

START_TEST(test_conf_reload_restart_keys)
{
	static const struct {
		const char	*text;
		const char	*key;
	} cases[] = {
		{ RL_BASE, NULL },
		{ "run_dir = \"/tmp/elsewhere\"\n" RL_BASE, "run_dir" },
		{ "libexec_dir = \"/tmp\"\n" RL_BASE, "libexec_dir" },
		{ "chroot_dir = \"/var/empty/other\"\n" RL_BASE, "chroot_dir" },
		{ "isolation = \"shared\"\n" RL_BASE, "isolation" },
		{ "limits { max_request_bytes = \"8K\" }\n" RL_BASE,
		    "limits.max_request_bytes" },
		{ "limits { max_field_length = \"4K\" }\n" RL_BASE,
		    "limits.max_field_length" },
		/* Applied by a reload. */
		{ "limits { connection_timeout = \"9s\" }\n" RL_BASE, NULL },
		{ "shutdown_timeout = \"3s\"\n" RL_BASE, NULL },
	};
	struct hsd_config	*a, *b;
	const char		*key;
	size_t			 i;

	a = load_ok("run_dir = \"/tmp/rd\"\n" RL_BASE);
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char	text[4096];

		/* run_dir is written in both, so its default does not
		 * depend on who runs the test. */
		snprintf(text, sizeof(text), "%s%s", strncmp(cases[i].text,
		    "run_dir", 7) == 0 ? "" : "run_dir = \"/tmp/rd\"\n",
		    cases[i].text);
		b = load_ok(text);
		key = conf_restart_key(a, b);
		if (cases[i].key == NULL)
			ck_assert_msg(key == NULL, "case %zu: %s", i, key);
		else
			ck_assert_msg(key != NULL &&
			    strcmp(key, cases[i].key) == 0, "case %zu: %s", i,
			    key ? key : "(none)");
		conf_free(b);
	}
	conf_free(a);
}
END_TEST

/*
 * The cache's keys need no restart, recycle no pool and change no route:
 * the cache is flushed on every reload instead.
 */
START_TEST(test_conf_reload_cache)
{
	struct hsd_config	*a, *b;
	const char		*pools[] = { "default", "a", "b" };
	size_t			 i;
	int			 ia, ib;

	a = load_ok("run_dir = \"/tmp/rd\"\n" RL_BASE);
	b = load_ok("run_dir = \"/tmp/rd\"\n"
	    "cache { enabled = false max_memory = 1G max_entry_size = 1M\n"
	    "  max_header_size = 2K activity_period = 0\n"
	    "  scavenger_period = 5s max_ttl = 1m allow_query = true\n"
	    "  allow_cookies = true }\n"
	    "pool \"a\" { workers = 2 }\n"
	    "pool \"b\" { }\n"
	    "site \"s\" { bindings = {\"127.0.0.1:8080\"} root = \"@/www\"\n"
	    "  cache = off\n"
	    "  application \"/api\" { pool = \"b\" root = \"@/api\" "
	    "cache = on } }\n"
	    "site \"t\" { bindings = {\"127.0.0.1:8081\"} root = \"@/www\" "
	    "pool = \"a\" cache = off }\n");
	ck_assert_int_ne(memcmp(&a->cf_cache, &b->cf_cache,
	    sizeof(a->cf_cache)), 0);
	ck_assert_ptr_null(conf_restart_key(a, b));
	ck_assert_int_eq(conf_site_routes_same(a, 0, b, 0), 1);
	ck_assert_int_eq(conf_site_routes_same(a, 1, b, 1), 1);
	for (i = 0; i < sizeof(pools) / sizeof(pools[0]); i++) {
		ia = conf_pool_index(a, pools[i]);
		ib = conf_pool_index(b, pools[i]);
		ck_assert_int_ge(ia, 0);
		ck_assert_int_ge(ib, 0);
		ck_assert_msg(conf_pool_same(a, ia, b, ib), "pool %s",
		    pools[i]);
	}
	conf_free(b);
	conf_free(a);
}
END_TEST

/*
 * The handler and cgi_timeout of the paths a pool serves change what its
 * workers do, so they recycle it, as its cgi_max_children does; they
 * change no route.  RL_CGI(), all empty, is RL_BASE.
 */
#define RL_CGI(pa, ss, api, tt) \
	"pool \"a\" { workers = 2 " pa " }\n" \
	"pool \"b\" { }\n" \
	"site \"s\" { bindings = {\"127.0.0.1:8080\"} root = \"@/www\" " ss \
	"\n  application \"/api\" { pool = \"b\" root = \"@/api\" " api \
	" } }\n" \
	"site \"t\" { bindings = {\"127.0.0.1:8081\"} root = \"@/www\" " \
	"pool = \"a\" " tt " }\n"

START_TEST(test_conf_reload_cgi)
{
	struct hsd_config	*a, *b;

	ck_assert_int_eq(rl_pool_same(RL_BASE, RL_CGI("", "", "", ""), "a"),
	    1);
	/* A pool's own key. */
	ck_assert_int_eq(rl_pool_same(RL_BASE,
	    RL_CGI("cgi_max_children = 8", "", "", ""), "a"), 0);
	ck_assert_int_eq(rl_pool_same(RL_BASE,
	    RL_CGI("cgi_max_children = 8", "", "", ""), "b"), 1);
	/* Written as the default: no change. */
	ck_assert_int_eq(rl_pool_same(RL_BASE,
	    RL_CGI("cgi_max_children = 16", "handler = \"static\"",
	    "handler = \"static\"", "cgi_timeout = \"5m\""), "a"), 1);
	/* The site's handler: its pool, and b, whose application
	 * inherits it; not a, which serves another site. */
	ck_assert_int_eq(rl_pool_same(RL_BASE,
	    RL_CGI("", "handler = cgi", "", ""), "default"), 0);
	ck_assert_int_eq(rl_pool_same(RL_BASE,
	    RL_CGI("", "handler = cgi", "", ""), "b"), 0);
	ck_assert_int_eq(rl_pool_same(RL_BASE,
	    RL_CGI("", "handler = cgi", "", ""), "a"), 1);
	/* ... unless the application keeps its own. */
	ck_assert_int_eq(rl_pool_same(RL_BASE,
	    RL_CGI("", "handler = cgi", "handler = static", ""), "b"), 1);
	/* The application's: its pool only. */
	ck_assert_int_eq(rl_pool_same(RL_BASE,
	    RL_CGI("", "", "handler = cgi", ""), "b"), 0);
	ck_assert_int_eq(rl_pool_same(RL_BASE,
	    RL_CGI("", "", "handler = cgi", ""), "default"), 1);
	/* A time limit counts where a CGI runs, not for static files. */
	ck_assert_int_eq(rl_pool_same(RL_BASE,
	    RL_CGI("", "", "", "cgi_timeout = 1m"), "a"), 1);
	ck_assert_int_eq(rl_pool_same(RL_CGI("", "", "", "handler = cgi"),
	    RL_CGI("", "", "", "handler = cgi cgi_timeout = 1m"), "a"), 0);
	ck_assert_int_eq(rl_pool_same(RL_CGI("", "handler = cgi", "", ""),
	    RL_CGI("", "handler = cgi cgi_timeout = 10s", "", ""), "b"), 0);
	ck_assert_int_eq(rl_pool_same(RL_CGI("", "handler = cgi", "", ""),
	    RL_CGI("", "handler = cgi cgi_timeout = 10s",
	    "cgi_timeout = 5m", ""), "b"), 1);

	a = load_ok(RL_BASE);
	b = load_ok(RL_CGI("", "handler = cgi cgi_timeout = 1s",
	    "handler = static", "handler = cgi"));
	ck_assert_int_eq(conf_site_routes_same(a, 0, b, 0), 1);
	ck_assert_int_eq(conf_site_routes_same(a, 1, b, 1), 1);
	ck_assert_ptr_null(conf_restart_key(a, b));
	conf_free(b);
	conf_free(a);
}
END_TEST

/*
 * FastCGI settings of the paths a pool serves recycle it, every key, as
 * the handler does; where no FastCGI runs they count for nothing.  A
 * command's socket moves with its site's index, and workers started
 * with the old index would connect to the old path: that recycles too.
 */
#define RL_FCGI(ss, api) \
	"pool \"b\" { }\n" \
	"site \"s\" { bindings = {\"127.0.0.1:8080\"} root = \"@/www\" " ss \
	"\n  application \"/api\" { pool = \"b\" root = \"@/api\" " api \
	" } }\n"
#define RL_PHP	"handler = fastcgi fastcgi_command = \"/usr/bin/php-cgi\" "

/*
 * Script maps change what the workers of the pools serving those paths
 * run, as a handler does: a change of either list recycles them, and so
 * does what a mapped handler needs (cgi_timeout, FastCGI settings).
 * Where the handler is not static the lists count for nothing.
 */
START_TEST(test_conf_reload_extmap)
{
	/* The site's lists: its pool and b, whose application inherits
	 * them; not a. */
	ck_assert_int_eq(rl_pool_same(RL_BASE, RL_CGI("", "cgi_extensions = "
	    "{\".cgi\"}", "", ""), "default"), 0);
	ck_assert_int_eq(rl_pool_same(RL_BASE, RL_CGI("", "cgi_extensions = "
	    "{\".cgi\"}", "", ""), "b"), 0);
	ck_assert_int_eq(rl_pool_same(RL_BASE, RL_CGI("", "cgi_extensions = "
	    "{\".cgi\"}", "", ""), "a"), 1);
	/* An application's own: its pool only. */
	ck_assert_int_eq(rl_pool_same(RL_BASE, RL_CGI("", "", "cgi_extensions "
	    "= {\".pl\"}", ""), "b"), 0);
	ck_assert_int_eq(rl_pool_same(RL_BASE, RL_CGI("", "", "cgi_extensions "
	    "= {\".pl\"}", ""), "default"), 1);
	/* One entry more, or another order. */
	ck_assert_int_eq(rl_pool_same(RL_CGI("", "", "", "cgi_extensions = "
	    "{\".cgi\"}"), RL_CGI("", "", "", "cgi_extensions = "
	    "{\".cgi\", \".pl\"}"), "a"), 0);
	ck_assert_int_eq(rl_pool_same(RL_CGI("", "", "", "cgi_extensions = "
	    "{\".pl\", \".cgi\"}"), RL_CGI("", "", "", "cgi_extensions = "
	    "{\".cgi\", \".pl\"}"), "a"), 0);
	ck_assert_int_eq(rl_pool_same(RL_CGI("", "", "", "cgi_extensions = "
	    "{\".cgi\"}"), RL_CGI("", "", "", "cgi_extensions = "
	    "{\".cgi\"}"), "a"), 1);
	/* A static site's cgi_timeout counts once CGI may answer. */
	ck_assert_int_eq(rl_pool_same(RL_BASE, RL_CGI("", "", "",
	    "cgi_timeout = 10s"), "a"), 1);
	ck_assert_int_eq(rl_pool_same(RL_CGI("", "", "", "cgi_extensions = "
	    "{\".cgi\"}"), RL_CGI("", "", "", "cgi_extensions = {\".cgi\"} "
	    "cgi_timeout = 10s"), "a"), 0);
	/* FastCGI settings count once fastcgi_extensions sends paths to
	 * them. */
	ck_assert_int_eq(rl_pool_same(RL_CGI("", "", "", "fastcgi_address = "
	    "\"127.0.0.1:9000\""), RL_CGI("", "", "", "fastcgi_address = "
	    "\"127.0.0.1:9001\""), "a"), 1);
	ck_assert_int_eq(rl_pool_same(RL_CGI("", "", "", "fastcgi_extensions "
	    "= {\".php\"} fastcgi_address = \"127.0.0.1:9000\""),
	    RL_CGI("", "", "", "fastcgi_extensions = {\".php\"} "
	    "fastcgi_address = \"127.0.0.1:9001\""), "a"), 0);
	/* Not static: the lists are ignored. */
	ck_assert_int_eq(rl_pool_same(RL_CGI("", "handler = cgi", "", ""),
	    RL_CGI("", "handler = cgi cgi_extensions = {\".cgi\"}", "", ""),
	    "default"), 1);
	ck_assert_int_eq(rl_pool_same(RL_CGI("", "handler = cgi", "", ""),
	    RL_CGI("", "handler = cgi cgi_extensions = {\".cgi\"}", "", ""),
	    "b"), 1);
}
END_TEST

START_TEST(test_conf_reload_fastcgi)
{
	struct hsd_config	*a, *b;

	ck_assert_int_eq(rl_pool_same(RL_FCGI(RL_PHP, ""),
	    RL_FCGI(RL_PHP, ""), "default"), 1);
	ck_assert_int_eq(rl_pool_same(RL_FCGI(RL_PHP, ""),
	    RL_FCGI(RL_PHP "fastcgi_processes = 4 fastcgi_args = {}", ""),
	    "default"), 1);
	/* Each key of the site's: its pool, and b, whose application
	 * follows the site. */
	ck_assert_int_eq(rl_pool_same(RL_FCGI(RL_PHP, ""),
	    RL_FCGI(RL_PHP "fastcgi_processes = 2", ""), "default"), 0);
	ck_assert_int_eq(rl_pool_same(RL_FCGI(RL_PHP, ""),
	    RL_FCGI(RL_PHP "fastcgi_processes = 2", ""), "b"), 0);
	ck_assert_int_eq(rl_pool_same(RL_FCGI(RL_PHP, ""),
	    RL_FCGI(RL_PHP "fastcgi_args = {\"-c\", \"/etc/x.ini\"}", ""),
	    "default"), 0);
	ck_assert_int_eq(rl_pool_same(
	    RL_FCGI(RL_PHP "fastcgi_args = {\"-c\", \"/etc/x.ini\"}", ""),
	    RL_FCGI(RL_PHP "fastcgi_args = {\"-c\"}", ""), "default"), 0);
	ck_assert_int_eq(rl_pool_same(RL_FCGI(RL_PHP, ""),
	    RL_FCGI(RL_PHP "fastcgi_env = {\"A=1\"}", ""), "default"), 0);
	ck_assert_int_eq(rl_pool_same(RL_FCGI(RL_PHP "fastcgi_env = {\"A=1\"}",
	    ""), RL_FCGI(RL_PHP "fastcgi_env = {\"A=2\"}", ""), "default"),
	    0);
	ck_assert_int_eq(rl_pool_same(RL_FCGI(RL_PHP, ""),
	    RL_FCGI("handler = fastcgi fastcgi_command = \"/usr/bin/php\"",
	    ""), "default"), 0);
	ck_assert_int_eq(rl_pool_same(RL_FCGI(RL_PHP, ""),
	    RL_FCGI("handler = fastcgi fastcgi_address = \"127.0.0.1:9000\"",
	    ""), "default"), 0);
	ck_assert_int_eq(rl_pool_same(
	    RL_FCGI("handler = fastcgi fastcgi_address = \"127.0.0.1:9000\"",
	    ""),
	    RL_FCGI("handler = fastcgi fastcgi_address = \"127.0.0.1:9001\"",
	    ""), "default"), 0);
	ck_assert_int_eq(rl_pool_same(
	    RL_FCGI("handler = fastcgi fastcgi_address = \"127.0.0.1:9000\"",
	    ""),
	    RL_FCGI("handler = fastcgi fastcgi_address = \"127.0.0.1:9000\" "
	    "fastcgi_connections = 2", ""), "default"), 0);
	ck_assert_int_eq(rl_pool_same(
	    RL_FCGI("handler = fastcgi fastcgi_address = \"127.0.0.1:9000\"",
	    ""),
	    RL_FCGI("handler = fastcgi fastcgi_address = \"127.0.0.1:9000\" "
	    "fastcgi_params = {\"HTTPS=on\"}", ""), "default"), 0);
	/* A front controller, the site's or the application's. */
	ck_assert_int_eq(rl_pool_same(RL_FCGI(RL_PHP, RL_PHP),
	    RL_FCGI(RL_PHP "front_controller = \"/index.php\"", RL_PHP),
	    "default"), 0);
	ck_assert_int_eq(rl_pool_same(RL_FCGI(RL_PHP, RL_PHP),
	    RL_FCGI(RL_PHP "front_controller = \"/index.php\"", RL_PHP),
	    "b"), 1);
	ck_assert_int_eq(rl_pool_same(RL_FCGI(RL_PHP, RL_PHP),
	    RL_FCGI(RL_PHP, RL_PHP "front_controller = \"/api/i.php\""),
	    "b"), 0);
	a = load_ok(RL_FCGI(RL_PHP "front_controller = \"/index.php\"",
	    RL_PHP "front_controller = \"/api/i.php\""));
	ck_assert_str_eq(conf_front_controller(&a->cf_sites[0], -1),
	    "/index.php");
	ck_assert_str_eq(conf_front_controller(&a->cf_sites[0], 0),
	    "/api/i.php");
	conf_free(a);
	a = load_ok(RL_FCGI(RL_PHP "front_controller = \"/index.php\"",
	    RL_PHP));
	/* Not inherited: the site's is for paths outside "/api". */
	ck_assert_ptr_null(conf_front_controller(&a->cf_sites[0], 0));
	conf_free(a);
	/* ... unless the application has its own: then b stays. */
	ck_assert_int_eq(rl_pool_same(RL_FCGI(RL_PHP, RL_PHP),
	    RL_FCGI(RL_PHP "fastcgi_processes = 2", RL_PHP), "b"), 1);
	ck_assert_int_eq(rl_pool_same(RL_FCGI(RL_PHP, RL_PHP),
	    RL_FCGI(RL_PHP, RL_PHP "fastcgi_processes = 2"), "b"), 0);
	ck_assert_int_eq(rl_pool_same(RL_FCGI(RL_PHP, RL_PHP),
	    RL_FCGI(RL_PHP, RL_PHP "fastcgi_processes = 2"), "default"), 1);
	/* Where no FastCGI runs, its keys change nothing. */
	ck_assert_int_eq(rl_pool_same(RL_FCGI("", ""),
	    RL_FCGI("fastcgi_processes = 2", "fastcgi_env = {\"A=1\"}"),
	    "default"), 1);
	ck_assert_int_eq(rl_pool_same(RL_FCGI("", ""),
	    RL_FCGI("fastcgi_processes = 2", "fastcgi_env = {\"A=1\"}"),
	    "b"), 1);
	/* The handler itself. */
	ck_assert_int_eq(rl_pool_same(RL_FCGI("", ""), RL_FCGI(RL_PHP, ""),
	    "default"), 0);
	/* The site's index moves its socket: a site added before it. */
	ck_assert_int_eq(rl_pool_same(RL_FCGI(RL_PHP, ""),
	    "site \"first\" { bindings = {\"127.0.0.1:8081\"} "
	    "root = \"@/www\" pool = \"b\" }\n" RL_FCGI(RL_PHP, ""),
	    "default"), 0);
	/* ... which an external server does not have. */
	ck_assert_int_eq(rl_pool_same(
	    RL_FCGI("handler = fastcgi fastcgi_address = \"[::1]:9000\"", ""),
	    "pool \"c\" { }\n"
	    "site \"first\" { bindings = {\"127.0.0.1:8081\"} "
	    "root = \"@/www\" pool = \"c\" }\n"
	    RL_FCGI("handler = fastcgi fastcgi_address = \"[::1]:9000\"", ""),
	    "default"), 1);

	a = load_ok(RL_FCGI("", ""));
	b = load_ok(RL_FCGI(RL_PHP, RL_PHP "fastcgi_processes = 9"));
	ck_assert_int_eq(conf_site_routes_same(a, 0, b, 0), 1);
	ck_assert_ptr_null(conf_restart_key(a, b));
	conf_free(b);
	conf_free(a);
}
END_TEST

/*
 * A module is loaded and initialised when a worker starts: its file, its
 * arguments (in order) and its time limit recycle the pools that serve
 * it; where no module runs they count for nothing.
 */
#define RL_MOD(ss, api) \
	"pool \"b\" { }\n" \
	"site \"s\" { bindings = {\"127.0.0.1:8080\"} root = \"@/www\" " ss \
	"\n  application \"/api\" { pool = \"b\" root = \"@/api\" " api \
	" } }\n"
#define RL_HELLO "handler = module module = \"/usr/lib/hsd/hello.so\" "

START_TEST(test_conf_reload_module)
{
	struct hsd_config	*a, *b;

	ck_assert_int_eq(rl_pool_same(RL_MOD(RL_HELLO, ""),
	    RL_MOD(RL_HELLO "module_args = {}", ""), "default"), 1);
	/* The file: its pool, and b, whose application follows the site. */
	ck_assert_int_eq(rl_pool_same(RL_MOD(RL_HELLO, ""),
	    RL_MOD("handler = module module = \"/usr/lib/hsd/other.so\"",
	    ""), "default"), 0);
	ck_assert_int_eq(rl_pool_same(RL_MOD(RL_HELLO, ""),
	    RL_MOD("handler = module module = \"/usr/lib/hsd/other.so\"",
	    ""), "b"), 0);
	/* The arguments, their order, the time limit. */
	ck_assert_int_eq(rl_pool_same(RL_MOD(RL_HELLO, ""),
	    RL_MOD(RL_HELLO "module_args = {\"greeting=Hi\"}", ""),
	    "default"), 0);
	ck_assert_int_eq(rl_pool_same(
	    RL_MOD(RL_HELLO "module_args = {\"a=1\", \"b=2\"}", ""),
	    RL_MOD(RL_HELLO "module_args = {\"b=2\", \"a=1\"}", ""),
	    "default"), 0);
	ck_assert_int_eq(rl_pool_same(
	    RL_MOD(RL_HELLO "module_args = {\"a=1\", \"b=2\"}", ""),
	    RL_MOD(RL_HELLO "module_args = {\"a=1\", \"b=2\"}", ""),
	    "default"), 1);
	ck_assert_int_eq(rl_pool_same(RL_MOD(RL_HELLO, ""),
	    RL_MOD(RL_HELLO "cgi_timeout = 1m", ""), "default"), 0);
	/* ... unless the application has its own: then b stays. */
	ck_assert_int_eq(rl_pool_same(RL_MOD(RL_HELLO, RL_HELLO),
	    RL_MOD(RL_HELLO "module_args = {\"x=1\"}", RL_HELLO), "b"), 1);
	ck_assert_int_eq(rl_pool_same(RL_MOD(RL_HELLO, RL_HELLO),
	    RL_MOD(RL_HELLO, RL_HELLO "module_args = {\"x=1\"}"), "b"), 0);
	ck_assert_int_eq(rl_pool_same(RL_MOD(RL_HELLO, RL_HELLO),
	    RL_MOD(RL_HELLO, RL_HELLO "module_args = {\"x=1\"}"),
	    "default"), 1);
	/* Where no module runs, its keys change nothing. */
	ck_assert_int_eq(rl_pool_same(RL_MOD("", ""),
	    RL_MOD("module = \"/x.so\"", "module_args = {\"a=1\"}"),
	    "default"), 1);
	ck_assert_int_eq(rl_pool_same(RL_MOD("", ""),
	    RL_MOD("module = \"/x.so\"", "module_args = {\"a=1\"}"), "b"),
	    1);
	/* The handler itself. */
	ck_assert_int_eq(rl_pool_same(RL_MOD("", ""), RL_MOD(RL_HELLO, ""),
	    "default"), 0);

	a = load_ok(RL_MOD("", ""));
	b = load_ok(RL_MOD(RL_HELLO, RL_HELLO "module_args = {\"x=1\"}"));
	ck_assert_int_eq(conf_site_routes_same(a, 0, b, 0), 1);
	ck_assert_ptr_null(conf_restart_key(a, b));
	conf_free(b);
	conf_free(a);
}
END_TEST

/* The listener's parse: no filesystem, no user database. */
START_TEST(test_conf_reload_nofs)
{
	struct hsd_config	*cf;
	char			*text;

	text = fx_subst("user = \"no-such-user-here\"\n"
	    "pool \"a\" { group = \"no-such-group-here\" chroot = \"/nonexistent\" }\n"
	    "site \"s\" { bindings = {\"127.0.0.1:8080\"} "
	    "root = \"/no/such/dir\" pool = \"a\" }\n");
	fx_capture_start();
	ck_assert_int_eq(conf_load_buf(text, CONF_NAME, &cf), -1);
	free(fx_capture_end());
	ck_assert_int_eq(conf_load_text(text, CONF_NAME, CONF_LOAD_NOFS, &cf),
	    0);
	ck_assert_str_eq(cf->cf_sites[0].st_root, "/no/such/dir");
	ck_assert_int_ge(conf_pool_index(cf, "a"), 0);
	ck_assert_str_eq(cf->cf_run_dir, "");
	conf_free(cf);
	free(text);
}
END_TEST

START_TEST(test_conf_find_listen)
{
	struct hsd_config	*cf;
	struct sockaddr_in	 sin;

	cf = load_ok("site \"s\" { bindings = {\"127.0.0.1:8080\", "
	    "\"*:8081\", \"127.0.0.2:8081:h\"} root = \"@/www\" }\n");
	ck_assert_uint_eq(cf->cf_nlistens, 2);
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_port = htons(8080);
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	ck_assert_int_eq(conf_find_listen(cf, (struct sockaddr *)&sin), 0);
	sin.sin_port = htons(8081);
	ck_assert_int_eq(conf_find_listen(cf, (struct sockaddr *)&sin), -1);
	sin.sin_addr.s_addr = htonl(INADDR_ANY);
	ck_assert_int_eq(conf_find_listen(cf, (struct sockaddr *)&sin), 1);
	sin.sin_port = htons(8082);
	ck_assert_int_eq(conf_find_listen(cf, (struct sockaddr *)&sin), -1);
	conf_free(cf);
}
END_TEST

Suite *
suite_conf(void)
{
	Suite	*s = suite_create("conf");
	TCase	*tc;

	tc = tcase_create("load");
	tcase_add_unchecked_fixture(tc, fx_tree_setup, fx_tree_teardown);
	tcase_add_test(tc, test_conf_full);
	tcase_add_test(tc, test_conf_defaults);
	tcase_add_test(tc, test_conf_health);
	tcase_add_test(tc, test_conf_identity);
	tcase_add_test(tc, test_conf_default_run_dir);
	tcase_add_test(tc, test_conf_default_pool);
	tcase_add_test(tc, test_conf_log_defaults);
	tcase_add_test(tc, test_conf_log_inherit);
	tcase_add_test(tc, test_conf_log_fields);
	tcase_add_test(tc, test_conf_log_site_dir);
	tcase_add_loop_test(tc, test_conf_reject, 0,
	    sizeof(conf_rejects) / sizeof(conf_rejects[0]));
	tcase_add_test(tc, test_conf_limits_handoff);
	tcase_add_test(tc, test_conf_body_limits);
	tcase_add_test(tc, test_conf_cache_defaults);
	tcase_add_test(tc, test_conf_cache_keys);
	tcase_add_test(tc, test_conf_cacheable);
	tcase_add_test(tc, test_conf_cgi);
	tcase_add_test(tc, test_conf_extmap);
	tcase_add_test(tc, test_conf_fastcgi);
	tcase_add_test(tc, test_conf_fastcgi_socket);
	tcase_add_test(tc, test_conf_module);
	tcase_add_test(tc, test_conf_file);
	tcase_add_test(tc, test_conf_buf_name);
	tcase_add_test(tc, test_conf_roots);
	tcase_add_test(tc, test_conf_chroot);
	tcase_add_test(tc, test_conf_chroot_path);
	suite_add_tcase(s, tc);

	tc = tcase_create("values");
	tcase_add_loop_test(tc, test_conf_duration, 0,
	    sizeof(conf_durations) / sizeof(conf_durations[0]));
	tcase_add_loop_test(tc, test_conf_size, 0,
	    sizeof(conf_sizes) / sizeof(conf_sizes[0]));
	tcase_add_test(tc, test_conf_timeval);
	tcase_add_test(tc, test_conf_parse_null);
	tcase_add_test(tc, test_conf_body_check);
	tcase_add_loop_test(tc, test_conf_binding_ok, 0,
	    sizeof(conf_bindings_ok) / sizeof(conf_bindings_ok[0]));
	tcase_add_loop_test(tc, test_conf_binding_bad, 0,
	    sizeof(conf_bindings_bad) / sizeof(conf_bindings_bad[0]));
	tcase_add_test(tc, test_conf_fastcgi_address);
	suite_add_tcase(s, tc);

	tc = tcase_create("routing");
	tcase_add_unchecked_fixture(tc, fx_tree_setup, fx_tree_teardown);
	tcase_add_test(tc, test_conf_listens);
	tcase_add_test(tc, test_conf_listens_v4_specific);
	tcase_add_loop_test(tc, test_conf_route_site, 0,
	    sizeof(conf_routes) / sizeof(conf_routes[0]));
	tcase_add_test(tc, test_conf_route_site_hostlen);
	tcase_add_loop_test(tc, test_conf_route_app, 0,
	    sizeof(conf_app_routes) / sizeof(conf_app_routes[0]));
	tcase_add_test(tc, test_conf_route_pool);
	tcase_add_test(tc, test_conf_map_path);
	tcase_add_test(tc, test_conf_map_path_root_app);
	suite_add_tcase(s, tc);

	tc = tcase_create("reload");
	tcase_add_unchecked_fixture(tc, fx_tree_setup, fx_tree_teardown);
	tcase_add_test(tc, test_conf_reload_pool_same);
	tcase_add_test(tc, test_conf_reload_site_routes);
	tcase_add_test(tc, test_conf_reload_restart_keys);
	tcase_add_test(tc, test_conf_reload_nofs);
	tcase_add_test(tc, test_conf_reload_cache);
	tcase_add_test(tc, test_conf_reload_cgi);
	tcase_add_test(tc, test_conf_reload_fastcgi);
	tcase_add_test(tc, test_conf_reload_extmap);
	tcase_add_test(tc, test_conf_reload_module);
	tcase_add_test(tc, test_conf_find_listen);
	suite_add_tcase(s, tc);
	return s;
}
