/*
 * The configuration: libconfuse reads the text against one schema, then
 * conf_build() turns what it read into the plain structs of conf.h, with
 * every cross-reference resolved and checked.  Every error names the file,
 * the line and the key, so an operator can fix a file from the message
 * alone.  libconfuse knows the line only while it is reading, so the
 * validation callbacks note where each key and section was written, and
 * the checks that need the whole file (pool references, duplicate
 * bindings, roots) look their lines up afterwards.
 *
 * libconfuse keeps global lexer state, so parsing is not reentrant; the
 * callbacks find the parse in progress through conf_cur.
 */
#include "config.h"

#include <sys/types.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/un.h>
#include <netinet/in.h>
#include <arpa/inet.h>

#include <ctype.h>
#include <errno.h>
#include <grp.h>
#include <limits.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <confuse.h>

#include "conf.h"
#include "log.h"
#include "msg.h"
#include "uri.h"

/* Index of the mark that records where a section starts. */
#define CONF_START	UINT_MAX

struct conf_mark {
	const void	*cm_key;	/* cfg_opt_t; cfg_t for CONF_START */
	unsigned int	 cm_index;	/* value index, or CONF_START */
	int		 cm_line;
};

struct conf_parse {
	const char		*cp_name;
	cfg_t			*cp_root;
	struct conf_mark	*cp_marks;
	size_t			 cp_nmarks;
	size_t			 cp_marksz;
	int			 cp_errors;
	int			 cp_nomem;
	int			 cp_flags;	/* CONF_LOAD_* */
};

static struct conf_parse	*conf_cur;

struct conf_range {
	const char	*cr_name;
	long		 cr_min;
	long		 cr_max;
};

static const struct conf_range conf_ranges[] = {
	{ "max_connections",	0,	UINT32_MAX },
	{ "workers",		1,	256 },
	{ "queue_length",	1,	1000000 },
	{ "concurrency",	1,	4096 },
	{ "cgi_max_children",	1,	4096 },
	{ "max_request_bytes",	256,	65536 },
	{ "max_field_length",	64,	65536 },
	/* A zero timeout would close every connection at once. */
	{ "connection_timeout",	1,	LONG_MAX },
	{ "header_wait_timeout", 1,	LONG_MAX },
	{ "entity_body_timeout", 1,	LONG_MAX },
	{ "min_body_rate",	0,	UINT32_MAX },
	{ "min_send_rate",	0,	UINT32_MAX },
	{ "max_body_size",	0,	LONG_MAX },
	{ "shutdown_timeout",	0,	LONG_MAX },
	/* Zero would ping, or give up on a worker, continuously. */
	{ "ping_interval",	1,	LONG_MAX },
	{ "ping_timeout",	1,	LONG_MAX },
	{ "startup_timeout",	1,	LONG_MAX },
	{ "recycle_requests",	0,	UINT32_MAX },
	{ "rapid_fail_max",	0,	CONF_RAPID_FAIL_MAX_MAX },
	{ "rapid_fail_interval", 1,	LONG_MAX },
	/* A CGI program without a time limit is not offered. */
	{ "cgi_timeout",	1,	LONG_MAX },
	/* Copies of one FastCGI command; 1024 bounds typing mistakes. */
	{ "fastcgi_processes",	1,	1024 },
	/* Kept connections per worker to an external FastCGI server. */
	{ "fastcgi_connections", 0,	1024 },
	/* Logging: an empty file could not roll over, a buffer too small
	 * would hold no request with long headers, and a zero interval
	 * would flush continuously. */
	{ "max_size",		1,	LONG_MAX },
	{ "httperr_max_size",	1,	LONG_MAX },
	{ "log_buffer",		65536,	LONG_MAX },
	{ "flush_interval",	1,	LONG_MAX },
	/*
	 * The cache.  A status line with Date, Content-Type,
	 * Content-Length, Last-Modified and ETag comes near 256 bytes, so a
	 * smaller head limit would keep nearly everything out; 64K and 64G
	 * bound typing mistakes, not needs.  Under a second, the scavenger
	 * would run, and entries expire, nearly continuously.
	 * max_entry_size must also fit in max_memory (conf_check_cache()).
	 */
	{ "max_memory",		1,	64L << 30 },
	{ "max_entry_size",	1,	LONG_MAX },
	{ "max_header_size",	256,	65536 },
	{ "scavenger_period",	1000,	LONG_MAX },
	{ "max_ttl",		1000,	LONG_MAX },
};

static cfg_opt_t conf_limits_opts[] = {
	CFG_INT("max_connections", 10000, CFGF_NONE),
	CFG_STR("connection_timeout", "120s", CFGF_NONE),
	CFG_STR("header_wait_timeout", "30s", CFGF_NONE),
	CFG_STR("max_request_bytes", "16384", CFGF_NONE),
	CFG_STR("max_field_length", "16384", CFGF_NONE),
	/* IIS's Timer_EntityBody and MinBytesPerSecond defaults. */
	CFG_STR("entity_body_timeout", "120s", CFGF_NONE),
	CFG_INT("min_body_rate", 240, CFGF_NONE),
	CFG_INT("min_send_rate", 240, CFGF_NONE),
	CFG_END()
};

static cfg_opt_t conf_pool_opts[] = {
	/* The implicit pool "default" takes these four by index. */
	CFG_INT("workers", 1, CFGF_NONE),
	CFG_INT("queue_length", 1000, CFGF_NONE),
	CFG_INT("concurrency", 64, CFGF_NONE),
	/* Per worker. */
	CFG_INT("cgi_max_children", 16, CFGF_NONE),
	/* NULL: the server-wide identity. */
	CFG_STR("user", NULL, CFGF_NONE),
	CFG_STR("group", NULL, CFGF_NONE),
	/* NULL: no chroot. */
	CFG_STR("chroot", NULL, CFGF_NONE),
	/* IIS: a pool's first worker starts with its first request. */
	CFG_STR("start", "demand", CFGF_NONE),
	/* Health and recycling, with IIS 6.0's defaults. */
	CFG_STR("ping_interval", "30s", CFGF_NONE),
	CFG_STR("ping_timeout", "90s", CFGF_NONE),
	CFG_STR("startup_timeout", "90s", CFGF_NONE),
	/* NULL: the server-wide shutdown_timeout if the file sets one,
	 * else CONF_POOL_SHUTDOWN. */
	CFG_STR("shutdown_timeout", NULL, CFGF_NONE),
	CFG_INT("recycle_requests", 0, CFGF_NONE),
	CFG_STR("recycle_time", "29h", CFGF_NONE),
	/* IIS: a worker that served nothing this long is stopped; 0: never. */
	CFG_STR("idle_timeout", "20m", CFGF_NONE),
	CFG_STR_LIST("recycle_at", NULL, CFGF_NONE),
	CFG_STR("recycle_memory", "0", CFGF_NONE),
	CFG_INT("rapid_fail_max", CONF_RAPID_FAIL_MAX, CFGF_NONE),
	CFG_STR("rapid_fail_interval", CONF_RAPID_FAIL_INTERVAL, CFGF_NONE),
	/* A FastCGI server that refuses connections: 0, 503 at once. */
	CFG_STR("fastcgi_retry_timeout", "0s", CFGF_NONE),
	CFG_END()
};

#define CONF_POOL_SHUTDOWN	"90s"	/* IIS's ShutdownTimeLimit */

/*
 * A site's and an application's FastCGI keys, the same in both: whether
 * an application wrote any is what decides whether it has its own
 * settings (libconfuse marks each written option CFGF_MODIFIED), not
 * whether a value differs from a default.
 */
#define CONF_FASTCGI_OPTS						\
	CFG_STR("fastcgi_address", NULL, CFGF_NONE),			\
	CFG_STR("fastcgi_command", NULL, CFGF_NONE),			\
	CFG_STR_LIST("fastcgi_args", NULL, CFGF_NONE),			\
	CFG_STR_LIST("fastcgi_env", NULL, CFGF_NONE),			\
	CFG_INT("fastcgi_processes", CONF_FASTCGI_PROCESSES, CFGF_NONE),	\
	CFG_INT("fastcgi_connections", 0, CFGF_NONE),			\
	CFG_STR_LIST("fastcgi_params", NULL, CFGF_NONE)

static const char *const conf_fastcgi_keys[] = {
	"fastcgi_address", "fastcgi_command", "fastcgi_args", "fastcgi_env",
	"fastcgi_processes", "fastcgi_connections", "fastcgi_params",
};

/* The same for a handler module: the file and its arguments go together. */
#define CONF_MODULE_OPTS						\
	CFG_STR("module", NULL, CFGF_NONE),				\
	CFG_STR_LIST("module_args", NULL, CFGF_NONE)

static const char *const conf_module_keys[] = { "module", "module_args" };

/* Script maps: the two lists go together, as the FastCGI keys do. */
#define CONF_EXTMAP_OPTS						\
	CFG_STR_LIST("cgi_extensions", NULL, CFGF_NONE),		\
	CFG_STR_LIST("fastcgi_extensions", NULL, CFGF_NONE)

static const char *const conf_extmap_keys[] = {
	"cgi_extensions", "fastcgi_extensions",
};

static cfg_opt_t conf_app_opts[] = {
	CFG_STR("pool", NULL, CFGF_NONE),
	CFG_STR("root", NULL, CFGF_NONE),
	/* NULL: the site's. */
	CFG_STR("max_body_size", NULL, CFGF_NONE),
	/* Unset: the site's. */
	CFG_BOOL("cache", cfg_true, CFGF_NODEFAULT),
	/* NULL: the site's. */
	CFG_STR("handler", NULL, CFGF_NONE),
	CFG_STR("cgi_timeout", NULL, CFGF_NONE),
	/* Not the site's: a site's is below its own prefix, not this one. */
	CFG_STR("front_controller", NULL, CFGF_NONE),
	/* None written: the site's, all five (conf_build_fastcgi()). */
	CONF_FASTCGI_OPTS,
	/* Neither written: the site's, both (conf_build_module()). */
	CONF_MODULE_OPTS,
	/* Neither written: the site's, both (conf_build_extmap()). */
	CONF_EXTMAP_OPTS,
	CFG_END()
};

/*
 * Logging.  The top-level section holds the server-wide values and
 * defaults; a site's section sets only what differs, so its keys have no
 * defaults and an unset one takes the top-level value.  The fields' list
 * has none either: CONF_W3C_DEFAULT_FIELDS is its default, one place.
 */
#define CONF_LOG_DIR	"/var/log/hsd"

static cfg_opt_t conf_log_opts[] = {
	CFG_STR("format", "w3c", CFGF_NONE),
	CFG_STR("dir", CONF_LOG_DIR, CFGF_NONE),
	CFG_STR_LIST("fields", NULL, CFGF_NONE),
	CFG_STR("rollover", "daily", CFGF_NONE),
	CFG_STR("max_size", "20M", CFGF_NONE),
	CFG_BOOL("local_time", cfg_false, CFGF_NONE),
	/* Server-wide only. */
	CFG_STR("httperr_max_size", "1M", CFGF_NONE),
	CFG_STR("log_buffer", "4M", CFGF_NONE),
	CFG_STR("flush_interval", "1s", CFGF_NONE),
	CFG_END()
};

static cfg_opt_t conf_site_log_opts[] = {
	CFG_STR("format", NULL, CFGF_NODEFAULT),
	CFG_STR("dir", NULL, CFGF_NODEFAULT),
	CFG_STR_LIST("fields", NULL, CFGF_NODEFAULT),
	CFG_STR("rollover", NULL, CFGF_NODEFAULT),
	CFG_STR("max_size", NULL, CFGF_NODEFAULT),
	CFG_BOOL("local_time", cfg_false, CFGF_NODEFAULT),
	CFG_END()
};

static cfg_opt_t conf_site_opts[] = {
	CFG_STR_LIST("bindings", NULL, CFGF_NONE),
	CFG_STR("root", NULL, CFGF_NONE),
	CFG_STR("pool", "default", CFGF_NONE),
	/* IIS's maxAllowedContentLength. */
	CFG_STR("max_body_size", "30M", CFGF_NONE),
	CFG_SEC("application", conf_app_opts,
	    CFGF_MULTI | CFGF_TITLE | CFGF_NO_TITLE_DUPES),
	CFG_SEC("log", conf_site_log_opts, CFGF_NONE),
	CFG_BOOL("cache", cfg_true, CFGF_NONE),
	CFG_STR("handler", "static", CFGF_NONE),
	/* IIS's CGITimeout. */
	CFG_STR("cgi_timeout", "5m", CFGF_NONE),
	CFG_STR("front_controller", NULL, CFGF_NONE),
	CONF_FASTCGI_OPTS,
	CONF_MODULE_OPTS,
	CONF_EXTMAP_OPTS,
	CFG_END()
};

/*
 * The response cache, with HTTP.sys's defaults where it has one: 256K
 * bodies, 1K heads, a URL cached once asked twice within 10s, entries
 * dropped after 120s without a hit.
 */
static cfg_opt_t conf_cache_opts[] = {
	CFG_BOOL("enabled", cfg_true, CFGF_NONE),
	CFG_STR("max_memory", "64M", CFGF_NONE),
	CFG_STR("max_entry_size", "256K", CFGF_NONE),
	CFG_STR("max_header_size", "1K", CFGF_NONE),
	/* "0": cached on its first request. */
	CFG_STR("activity_period", "10s", CFGF_NONE),
	CFG_STR("scavenger_period", "120s", CFGF_NONE),
	CFG_STR("max_ttl", "1h", CFGF_NONE),
	CFG_BOOL("allow_query", cfg_false, CFGF_NONE),
	CFG_BOOL("allow_cookies", cfg_false, CFGF_NONE),
	CFG_END()
};

static cfg_opt_t conf_opts[] = {
	/* NULL: depends on who runs it, see conf_default_run_dir(). */
	CFG_STR("run_dir", NULL, CFGF_NONE),
	CFG_STR("libexec_dir", LIBEXECDIR, CFGF_NONE),
	CFG_STR("body_temp_dir", "/var/tmp", CFGF_NONE),
	CFG_STR("shutdown_timeout", "10s", CFGF_NONE),
	/* NULL: CONF_USER; the group NULL: the user's primary group. */
	CFG_STR("user", NULL, CFGF_NONE),
	CFG_STR("group", NULL, CFGF_NONE),
	CFG_STR("chroot_dir", CONF_CHROOT_DIR, CFGF_NONE),
	/* "pools": IIS 6.0's worker process isolation; "shared": IIS 5.0
	 * isolation mode, one queue and one set of workers for all. */
	CFG_STR("isolation", "pools", CFGF_NONE),
	CFG_SEC("limits", conf_limits_opts, CFGF_NONE),
	CFG_SEC("log", conf_log_opts, CFGF_NONE),
	CFG_SEC("cache", conf_cache_opts, CFGF_NONE),
	CFG_SEC("pool", conf_pool_opts,
	    CFGF_MULTI | CFGF_TITLE | CFGF_NO_TITLE_DUPES),
	CFG_SEC("site", conf_site_opts,
	    CFGF_MULTI | CFGF_TITLE | CFGF_NO_TITLE_DUPES),
	CFG_END()
};

static int	conf_v_key(cfg_t *, cfg_opt_t *);
static int	conf_v_int(cfg_t *, cfg_opt_t *);
static int	conf_v_duration(cfg_t *, cfg_opt_t *);
static int	conf_v_size(cfg_t *, cfg_opt_t *);
static int	conf_v_binding(cfg_t *, cfg_opt_t *);
static int	conf_v_section(cfg_t *, cfg_opt_t *);
static int	conf_v_once(cfg_t *, cfg_opt_t *);
static int	conf_v_user(cfg_t *, cfg_opt_t *);
static int	conf_v_group(cfg_t *, cfg_opt_t *);
static int	conf_v_abspath(cfg_t *, cfg_opt_t *);
static int	conf_v_choice(cfg_t *, cfg_opt_t *);
static int	conf_v_clock(cfg_t *, cfg_opt_t *);
static int	conf_v_bool(cfg_t *, cfg_opt_t *);
static int	conf_v_logdir(cfg_t *, cfg_opt_t *);
static int	conf_v_fields(cfg_t *, cfg_opt_t *);
static int	conf_v_list(cfg_t *, cfg_opt_t *);
static int	conf_v_fastcgi_address(cfg_t *, cfg_opt_t *);
static int	conf_v_fastcgi_env(cfg_t *, cfg_opt_t *);
static int	conf_v_module_args(cfg_t *, cfg_opt_t *);
static int	conf_v_extension(cfg_t *, cfg_opt_t *);
static int	conf_v_urlpath(cfg_t *, cfg_opt_t *);

static const struct {
	const char		*cv_path;
	cfg_validate_callback_t	 cv_func;
} conf_validators[] = {
	{ "run_dir",				conf_v_key },
	{ "libexec_dir",			conf_v_key },
	{ "body_temp_dir",			conf_v_abspath },
	{ "shutdown_timeout",			conf_v_duration },
	{ "user",				conf_v_user },
	{ "group",				conf_v_group },
	{ "chroot_dir",				conf_v_abspath },
	{ "isolation",				conf_v_choice },
	{ "limits",				conf_v_section },
	{ "limits|max_connections",		conf_v_int },
	{ "limits|connection_timeout",		conf_v_duration },
	{ "limits|header_wait_timeout",		conf_v_duration },
	{ "limits|max_request_bytes",		conf_v_size },
	{ "limits|max_field_length",		conf_v_size },
	{ "limits|entity_body_timeout",		conf_v_duration },
	{ "limits|min_body_rate",		conf_v_int },
	{ "limits|min_send_rate",		conf_v_int },
	{ "log",				conf_v_section },
	{ "log|format",				conf_v_choice },
	{ "log|dir",				conf_v_logdir },
	{ "log|fields",				conf_v_fields },
	{ "log|rollover",			conf_v_choice },
	{ "log|max_size",			conf_v_size },
	{ "log|local_time",			conf_v_bool },
	{ "log|httperr_max_size",		conf_v_size },
	{ "log|log_buffer",			conf_v_size },
	{ "log|flush_interval",			conf_v_duration },
	{ "cache",				conf_v_once },
	{ "cache|enabled",			conf_v_bool },
	{ "cache|max_memory",			conf_v_size },
	{ "cache|max_entry_size",		conf_v_size },
	{ "cache|max_header_size",		conf_v_size },
	{ "cache|activity_period",		conf_v_duration },
	{ "cache|scavenger_period",		conf_v_duration },
	{ "cache|max_ttl",			conf_v_duration },
	{ "cache|allow_query",			conf_v_bool },
	{ "cache|allow_cookies",		conf_v_bool },
	{ "pool",				conf_v_section },
	{ "pool|workers",			conf_v_int },
	{ "pool|queue_length",			conf_v_int },
	{ "pool|concurrency",			conf_v_int },
	{ "pool|cgi_max_children",		conf_v_int },
	{ "pool|user",				conf_v_user },
	{ "pool|group",				conf_v_group },
	{ "pool|chroot",			conf_v_abspath },
	{ "pool|start",				conf_v_choice },
	{ "pool|ping_interval",			conf_v_duration },
	{ "pool|ping_timeout",			conf_v_duration },
	{ "pool|startup_timeout",		conf_v_duration },
	{ "pool|shutdown_timeout",		conf_v_duration },
	{ "pool|recycle_requests",		conf_v_int },
	{ "pool|recycle_time",			conf_v_duration },
	{ "pool|idle_timeout",			conf_v_duration },
	{ "pool|fastcgi_retry_timeout",		conf_v_duration },
	{ "pool|recycle_at",			conf_v_clock },
	{ "pool|recycle_memory",		conf_v_size },
	{ "pool|rapid_fail_max",		conf_v_int },
	{ "pool|rapid_fail_interval",		conf_v_duration },
	{ "site",				conf_v_section },
	{ "site|bindings",			conf_v_binding },
	{ "site|root",				conf_v_key },
	{ "site|pool",				conf_v_key },
	{ "site|max_body_size",			conf_v_size },
	{ "site|application",			conf_v_section },
	{ "site|application|pool",		conf_v_key },
	{ "site|application|root",		conf_v_key },
	{ "site|application|max_body_size",	conf_v_size },
	{ "site|application|cache",		conf_v_bool },
	{ "site|application|handler",		conf_v_choice },
	{ "site|application|cgi_timeout",	conf_v_duration },
	{ "site|application|front_controller",	conf_v_urlpath },
	{ "site|application|fastcgi_address",	conf_v_fastcgi_address },
	{ "site|application|fastcgi_command",	conf_v_abspath },
	{ "site|application|fastcgi_args",	conf_v_list },
	{ "site|application|fastcgi_env",	conf_v_fastcgi_env },
	{ "site|application|fastcgi_processes",	conf_v_int },
	{ "site|application|fastcgi_connections", conf_v_int },
	{ "site|application|fastcgi_params",	conf_v_fastcgi_env },
	{ "site|application|module",		conf_v_abspath },
	{ "site|application|module_args",	conf_v_module_args },
	{ "site|application|cgi_extensions",	conf_v_extension },
	{ "site|application|fastcgi_extensions", conf_v_extension },
	{ "site|log",				conf_v_section },
	{ "site|log|format",			conf_v_choice },
	{ "site|log|dir",			conf_v_logdir },
	{ "site|log|fields",			conf_v_fields },
	{ "site|log|rollover",			conf_v_choice },
	{ "site|log|max_size",			conf_v_size },
	{ "site|log|local_time",		conf_v_bool },
	{ "site|cache",				conf_v_bool },
	{ "site|handler",			conf_v_choice },
	{ "site|cgi_timeout",			conf_v_duration },
	{ "site|front_controller",		conf_v_urlpath },
	{ "site|fastcgi_address",		conf_v_fastcgi_address },
	{ "site|fastcgi_command",		conf_v_abspath },
	{ "site|fastcgi_args",			conf_v_list },
	{ "site|fastcgi_env",			conf_v_fastcgi_env },
	{ "site|fastcgi_processes",		conf_v_int },
	{ "site|fastcgi_connections",		conf_v_int },
	{ "site|fastcgi_params",		conf_v_fastcgi_env },
	{ "site|module",			conf_v_abspath },
	{ "site|module_args",			conf_v_module_args },
	{ "site|cgi_extensions",		conf_v_extension },
	{ "site|fastcgi_extensions",		conf_v_extension },
};

const char *const conf_w3c_names[W3C_NFIELDS] = {
	[W3C_DATE] =		"date",
	[W3C_TIME] =		"time",
	[W3C_S_SITENAME] =	"s-sitename",
	[W3C_S_COMPUTERNAME] =	"s-computername",
	[W3C_S_IP] =		"s-ip",
	[W3C_CS_METHOD] =	"cs-method",
	[W3C_CS_URI_STEM] =	"cs-uri-stem",
	[W3C_CS_URI_QUERY] =	"cs-uri-query",
	[W3C_S_PORT] =		"s-port",
	[W3C_CS_USERNAME] =	"cs-username",
	[W3C_C_IP] =		"c-ip",
	[W3C_CS_VERSION] =	"cs-version",
	[W3C_CS_USER_AGENT] =	"cs(User-Agent)",
	[W3C_CS_COOKIE] =	"cs(Cookie)",
	[W3C_CS_REFERER] =	"cs(Referer)",
	[W3C_CS_HOST] =		"cs-host",
	[W3C_SC_STATUS] =	"sc-status",
	[W3C_SC_SUBSTATUS] =	"sc-substatus",
	[W3C_SC_WIN32_STATUS] =	"sc-win32-status",
	[W3C_SC_BYTES] =	"sc-bytes",
	[W3C_CS_BYTES] =	"cs-bytes",
	[W3C_TIME_TAKEN] =	"time-taken",
};

/* Where a key was written. */

static struct conf_mark *
conf_find_mark(const void *key, unsigned int idx)
{
	size_t	i;

	if (conf_cur == NULL)
		return NULL;
	for (i = 0; i < conf_cur->cp_nmarks; i++)
		if (conf_cur->cp_marks[i].cm_key == key &&
		    conf_cur->cp_marks[i].cm_index == idx)
			return &conf_cur->cp_marks[i];
	return NULL;
}

static void
conf_mark(const void *key, unsigned int idx, int line, int overwrite)
{
	struct conf_parse	*cp = conf_cur;
	struct conf_mark	*m;
	size_t			 nsz;

	if (cp == NULL)
		return;
	if ((m = conf_find_mark(key, idx)) != NULL) {
		if (overwrite)
			m->cm_line = line;
		return;
	}
	if (cp->cp_nmarks == cp->cp_marksz) {
		nsz = cp->cp_marksz ? cp->cp_marksz * 2 : 64;
		if ((m = reallocarray(cp->cp_marks, nsz, sizeof(*m))) == NULL) {
			/* Only the line numbers in messages would suffer. */
			cp->cp_nomem = 1;
			return;
		}
		cp->cp_marks = m;
		cp->cp_marksz = nsz;
	}
	m = &cp->cp_marks[cp->cp_nmarks++];
	m->cm_key = key;
	m->cm_index = idx;
	m->cm_line = line;
}

static cfg_t *
conf_last_site(void)
{
	unsigned int	n;

	if (conf_cur == NULL)
		return NULL;
	if ((n = cfg_size(conf_cur->cp_root, "site")) == 0)
		return NULL;
	return cfg_getnsec(conf_cur->cp_root, "site", n - 1);
}

/*
 * The site a section being read lies in: an application's or a log
 * section's (a site's "log", not the top-level one), else NULL.
 */
static cfg_t *
conf_enclosing_site(cfg_t *sec)
{
	cfg_t	*site;

	if (sec == NULL || cfg_name(sec) == NULL)
		return NULL;
	if (strcmp(cfg_name(sec), "application") == 0)
		return conf_last_site();
	if (strcmp(cfg_name(sec), "log") == 0 &&
	    (site = conf_last_site()) != NULL && cfg_getsec(site, "log") == sec)
		return site;
	return NULL;
}

/*
 * While libconfuse reads a section it counts lines in the section's own
 * cfg_t and leaves the parent's count at the line of the opening brace;
 * the section's count ends on its closing brace.  So the parent's count,
 * read while a key of the section is being validated, is where the
 * section starts.
 */
static void
conf_note_section(cfg_t *sec)
{
	cfg_t	*parent;

	if (conf_cur == NULL || sec == conf_cur->cp_root ||
	    conf_find_mark(sec, CONF_START) != NULL)
		return;
	if ((parent = conf_enclosing_site(sec)) == NULL)
		parent = conf_cur->cp_root;
	conf_mark(sec, CONF_START, parent ? parent->line : sec->line, 0);
}

static int
conf_sec_line(cfg_t *sec)
{
	struct conf_mark	*m;

	if ((m = conf_find_mark(sec, CONF_START)) != NULL)
		return m->cm_line;
	return sec->line;
}

static int
conf_key_line(cfg_t *sec, const char *key, unsigned int idx)
{
	struct conf_mark	*m;

	if ((m = conf_find_mark(cfg_getopt(sec, key), idx)) != NULL)
		return m->cm_line;
	return conf_sec_line(sec);
}

/* Messages. */

static void
conf_where(cfg_t *sec, cfg_t *site, char *buf, size_t sz)
{
	const char	*name = cfg_name(sec);

	buf[0] = '\0';
	if (sec == NULL || name == NULL || strcmp(name, "root") == 0)
		return;
	if (strcmp(name, "application") == 0 && site != NULL)
		snprintf(buf, sz, "site \"%s\": application \"%s\": ",
		    cfg_title(site), cfg_title(sec));
	else if (site != NULL)
		snprintf(buf, sz, "site \"%s\": %s: ", cfg_title(site), name);
	else if (cfg_title(sec) != NULL)
		snprintf(buf, sz, "%s \"%s\": ", name, cfg_title(sec));
	else
		snprintf(buf, sz, "%s: ", name);
}

static void
conf_vlog(int line, cfg_t *sec, cfg_t *site, const char *fmt, va_list ap)
{
	char	 where[512], msg[1024];

	vsnprintf(msg, sizeof(msg), fmt, ap);
	conf_where(sec, site, where, sizeof(where));
	if (line > 0)
		log_warnx("%s:%d: %s%s", conf_cur->cp_name, line, where, msg);
	else
		log_warnx("%s: %s%s", conf_cur->cp_name, where, msg);
	conf_cur->cp_errors++;
}

static void __attribute__((format(printf, 4, 5)))
conf_err(int line, cfg_t *sec, cfg_t *site, const char *fmt, ...)
{
	va_list	ap;

	va_start(ap, fmt);
	conf_vlog(line, sec, site, fmt, ap);
	va_end(ap);
}

/* Which kind of section a duplicate title belongs to, for the message. */
static const char *
conf_dup_kind(cfg_t *cfg, const char *title)
{
	int	pool, site;

	if (strcmp(cfg_name(cfg), "site") == 0)
		return "application";
	pool = cfg_gettsec(cfg, "pool", title) != NULL;
	site = cfg_gettsec(cfg, "site", title) != NULL;
	if (pool && !site)
		return "pool";
	if (site && !pool)
		return "site";
	return "pool or site";
}

/* libconfuse's messages, and ours raised through cfg_error(). */
static void
conf_cfg_error(cfg_t *cfg, const char *fmt, va_list ap)
{
	cfg_t		*site = NULL;
	const char	*title;
	va_list		 aq;

	if (conf_cur == NULL) {
		vfprintf(stderr, fmt, ap);
		fputc('\n', stderr);
		return;
	}
	site = conf_enclosing_site(cfg);
	if (cfg != NULL && strncmp(fmt, "found duplicate title", 21) == 0) {
		va_copy(aq, ap);
		title = va_arg(aq, const char *);
		va_end(aq);
		conf_err(cfg->line, cfg, site, "%s \"%s\" is defined twice",
		    conf_dup_kind(cfg, title), title);
		return;
	}
	conf_vlog(cfg ? cfg->line : 0, cfg, site, fmt, ap);
}

/* Values. */

int
conf_parse_duration(const char *s, uint64_t *ms)
{
	uint64_t	 v = 0, mult;
	const char	*p = s;

	if (s == NULL || !isdigit((unsigned char)*p))
		return -1;
	for (; isdigit((unsigned char)*p); p++) {
		if (v > (UINT64_MAX - (uint64_t)(*p - '0')) / 10)
			return -1;
		v = v * 10 + (uint64_t)(*p - '0');
	}
	if (*p == '\0' || strcmp(p, "s") == 0)
		mult = 1000;
	else if (strcmp(p, "ms") == 0)
		mult = 1;
	else if (strcmp(p, "m") == 0)
		mult = 60 * 1000;
	else if (strcmp(p, "h") == 0)
		mult = 60 * 60 * 1000;
	else if (strcmp(p, "d") == 0)
		mult = 24 * 60 * 60 * 1000;
	else
		return -1;
	if (v > UINT64_MAX / mult)
		return -1;
	*ms = v * mult;
	return 0;
}

int
conf_parse_size(const char *s, uint64_t *bytes)
{
	uint64_t	 v = 0, mult;
	const char	*p = s;

	if (s == NULL || !isdigit((unsigned char)*p))
		return -1;
	for (; isdigit((unsigned char)*p); p++) {
		if (v > (UINT64_MAX - (uint64_t)(*p - '0')) / 10)
			return -1;
		v = v * 10 + (uint64_t)(*p - '0');
	}
	switch (*p) {
	case '\0':
		mult = 1;
		break;
	case 'K':
	case 'k':
		mult = 1024;
		break;
	case 'M':
	case 'm':
		mult = 1024 * 1024;
		break;
	case 'G':
	case 'g':
		mult = 1024 * 1024 * 1024;
		break;
	default:
		return -1;
	}
	if (*p != '\0' && p[1] != '\0')
		return -1;
	if (v > UINT64_MAX / mult)
		return -1;
	*bytes = v * mult;
	return 0;
}

int
conf_parse_clock(const char *s, uint16_t *min)
{
	unsigned int	h, m;

	if (s == NULL || strlen(s) != 5 || !isdigit((unsigned char)s[0]) ||
	    !isdigit((unsigned char)s[1]) || s[2] != ':' ||
	    !isdigit((unsigned char)s[3]) || !isdigit((unsigned char)s[4]))
		return -1;
	h = (s[0] - '0') * 10 + (s[1] - '0');
	m = (s[3] - '0') * 10 + (s[4] - '0');
	if (h > 23 || m > 59)
		return -1;
	*min = h * 60 + m;
	return 0;
}

/* A Host as a binding may name it: a DNS name or a bracketed IPv6 literal. */
static int
conf_valid_host(const char *h, size_t len)
{
	size_t	i;

	if (len == 0 || len > 253 || h[0] == '.')
		return 0;
	if (h[0] == '[') {
		if (len < 3 || h[len - 1] != ']')
			return 0;
		for (i = 1; i < len - 1; i++)
			if (!isxdigit((unsigned char)h[i]) && h[i] != ':' &&
			    h[i] != '.')
				return 0;
		return 1;
	}
	for (i = 0; i < len; i++)
		if (!isalnum((unsigned char)h[i]) && h[i] != '-' &&
		    h[i] != '.' && h[i] != '_')
			return 0;
	return 1;
}

int
conf_parse_binding(const char *s, struct conf_binding *bd)
{
	struct sockaddr_in	*sin;
	struct sockaddr_in6	*sin6;
	char			 addr[INET6_ADDRSTRLEN + 1];
	const char		*p, *end;
	unsigned long		 port = 0;
	size_t			 alen, hlen, i;
	int			 family;

	memset(bd, 0, sizeof(*bd));
	if (s == NULL)
		return -1;
	if (s[0] == '[') {
		if ((end = strchr(s, ']')) == NULL || end[1] != ':')
			return -1;
		family = AF_INET6;
		alen = end - (s + 1);
		if (alen == 0 || alen >= sizeof(addr))
			return -1;
		memcpy(addr, s + 1, alen);
		p = end + 2;
	} else {
		if ((end = strchr(s, ':')) == NULL)
			return -1;
		family = AF_INET;
		alen = end - s;
		if (alen == 0 || alen >= sizeof(addr))
			return -1;
		memcpy(addr, s, alen);
		p = end + 1;
	}
	addr[alen] = '\0';

	for (i = 0; isdigit((unsigned char)p[i]) && i < 6; i++)
		port = port * 10 + (p[i] - '0');
	if (i == 0 || i == 6 || port < 1 || port > 65535 ||
	    (p[i] != '\0' && p[i] != ':'))
		return -1;
	bd->bd_port = (uint16_t)port;
	p += i;

	if (family == AF_INET) {
		sin = (struct sockaddr_in *)&bd->bd_addr;
		sin->sin_family = AF_INET;
		sin->sin_port = htons(bd->bd_port);
		bd->bd_addrlen = sizeof(*sin);
		if (strcmp(addr, "*") != 0 &&
		    inet_pton(AF_INET, addr, &sin->sin_addr) != 1)
			return -1;
		bd->bd_any = sin->sin_addr.s_addr == htonl(INADDR_ANY);
	} else {
		sin6 = (struct sockaddr_in6 *)&bd->bd_addr;
		sin6->sin6_family = AF_INET6;
		sin6->sin6_port = htons(bd->bd_port);
		bd->bd_addrlen = sizeof(*sin6);
		if (inet_pton(AF_INET6, addr, &sin6->sin6_addr) != 1)
			return -1;
		bd->bd_any = IN6_IS_ADDR_UNSPECIFIED(&sin6->sin6_addr);
	}

	if (*p == ':') {
		p++;
		hlen = strlen(p);
		/* "example.com." and "example.com" are one host. */
		if (hlen > 1 && p[hlen - 1] == '.')
			hlen--;
		if (hlen > 0) {
			if (!conf_valid_host(p, hlen))
				return -1;
			if ((bd->bd_host = strndup(p, hlen)) == NULL)
				return -1;
			for (i = 0; i < hlen; i++)
				bd->bd_host[i] = tolower(
				    (unsigned char)bd->bd_host[i]);
		}
	}
	if ((bd->bd_text = strdup(s)) == NULL) {
		free(bd->bd_host);
		bd->bd_host = NULL;
		return -1;
	}
	return 0;
}

/* A port as written after an address: 1 to 65535, digits only. */
static int
conf_parse_port(const char *p, uint16_t *port)
{
	unsigned long	v = 0;
	size_t		i;

	for (i = 0; isdigit((unsigned char)p[i]) && i < 6; i++)
		v = v * 10 + (p[i] - '0');
	if (i == 0 || i == 6 || p[i] != '\0' || v < 1 || v > 65535)
		return -1;
	*port = (uint16_t)v;
	return 0;
}

int
conf_parse_fastcgi_address(const char *s, struct sockaddr_storage *ss,
    socklen_t *len)
{
	struct sockaddr_un	*sun;
	struct sockaddr_in	*sin;
	struct sockaddr_in6	*sin6;
	char			 addr[INET6_ADDRSTRLEN + 1];
	const char		*end;
	size_t			 alen;
	uint16_t		 port;

	memset(ss, 0, sizeof(*ss));
	if (s == NULL)
		return -1;
	if (strncmp(s, "unix:", 5) == 0) {
		sun = (struct sockaddr_un *)ss;
		s += 5;
		/* A relative path would depend on each worker's directory. */
		if (s[0] != '/' || strlen(s) >= sizeof(sun->sun_path))
			return -1;
		sun->sun_family = AF_UNIX;
		memcpy(sun->sun_path, s, strlen(s) + 1);
		*len = sizeof(*sun);
		return 0;
	}
	if (s[0] == '[') {
		if ((end = strchr(s, ']')) == NULL || end[1] != ':')
			return -1;
		alen = end - (s + 1);
		if (alen == 0 || alen >= sizeof(addr))
			return -1;
		memcpy(addr, s + 1, alen);
		addr[alen] = '\0';
		sin6 = (struct sockaddr_in6 *)ss;
		if (inet_pton(AF_INET6, addr, &sin6->sin6_addr) != 1 ||
		    conf_parse_port(end + 2, &port) == -1)
			return -1;
		sin6->sin6_family = AF_INET6;
		sin6->sin6_port = htons(port);
		*len = sizeof(*sin6);
		return 0;
	}
	if ((end = strrchr(s, ':')) == NULL)
		return -1;
	alen = end - s;
	if (alen == 0 || alen >= sizeof(addr))
		return -1;
	memcpy(addr, s, alen);
	addr[alen] = '\0';
	sin = (struct sockaddr_in *)ss;
	if (inet_pton(AF_INET, addr, &sin->sin_addr) != 1 ||
	    conf_parse_port(end + 1, &port) == -1)
		return -1;
	sin->sin_family = AF_INET;
	sin->sin_port = htons(port);
	*len = sizeof(*sin);
	return 0;
}

char *
conf_default_run_dir(uid_t euid, const char *xdg)
{
	char	*dir;

	if (euid == 0)
		return strdup("/run/hsd");
	if (xdg != NULL && xdg[0] == '/') {
		if (asprintf(&dir, "%s/hsd", xdg) == -1)
			return NULL;
	} else if (asprintf(&dir, "/tmp/hsd-%u", (unsigned int)euid) == -1)
		return NULL;
	return dir;
}

/* Validation callbacks: run by libconfuse as each value is read. */

static void
conf_note_key(cfg_t *cfg, cfg_opt_t *opt)
{
	unsigned int	n = cfg_opt_size(opt);

	conf_note_section(cfg);
	if (n == 0)
		return;
	/*
	 * A list calls back after each value and once more at its closing
	 * brace; keep the line of the value, not the brace's.
	 */
	conf_mark(opt, n - 1, cfg->line, !(opt->flags & CFGF_LIST));
}

static const struct conf_range *
conf_range(const char *name)
{
	size_t	i;

	for (i = 0; i < sizeof(conf_ranges) / sizeof(conf_ranges[0]); i++)
		if (strcmp(conf_ranges[i].cr_name, name) == 0)
			return &conf_ranges[i];
	return NULL;
}

static int
conf_v_key(cfg_t *cfg, cfg_opt_t *opt)
{
	const char	*s;

	conf_note_key(cfg, opt);
	s = cfg_opt_getnstr(opt, 0);
	if (s == NULL || *s == '\0') {
		cfg_error(cfg, "%s: must not be empty", cfg_opt_name(opt));
		return -1;
	}
	return 0;
}

/*
 * Keys that take one of a few words.  The words are in the order of the
 * enum each is read into, so a word's index is its value.
 */
#define CONF_MAX_WORDS	5

static const struct {
	const char	*cc_name;
	const char	*cc_words[CONF_MAX_WORDS + 1];	/* NULL-terminated */
} conf_choices[] = {
	/* When a pool's workers start: with its first request, or with the
	 * server. */
	{ "start",	{ "demand", "always" } },
	{ "isolation",	{ "pools", "shared" } },
	/* enum conf_log_format */
	{ "format",	{ "off", "w3c", "ncsa", "combined" } },
	/* enum conf_rollover */
	{ "rollover",	{ "hourly", "daily", "weekly", "monthly", "size" } },
	/* enum conf_handler */
	{ "handler",	{ "static", "cgi", "fastcgi", "module" } },
};

static const char *const *
conf_choice_words(const char *name)
{
	size_t	i;

	for (i = 0; i < sizeof(conf_choices) / sizeof(conf_choices[0]); i++)
		if (strcmp(conf_choices[i].cc_name, name) == 0)
			return conf_choices[i].cc_words;
	return NULL;
}

/* The index of word s among key name's words, -1 if it is none of them. */
static int
conf_choice(const char *name, const char *s)
{
	const char *const	*w = conf_choice_words(name);
	int			 i;

	if (w == NULL || s == NULL)
		return -1;
	for (i = 0; w[i] != NULL; i++)
		if (strcmp(w[i], s) == 0)
			return i;
	return -1;
}

static int
conf_v_choice(cfg_t *cfg, cfg_opt_t *opt)
{
	const char *const	*w;
	const char		*s, *name = cfg_opt_name(opt);
	char			 list[256];
	size_t			 i, len;

	conf_note_key(cfg, opt);
	s = cfg_opt_getnstr(opt, 0);
	if ((w = conf_choice_words(name)) == NULL) {
		cfg_error(cfg, "%s: no choices known", name);
		return -1;
	}
	if (conf_choice(name, s) != -1)
		return 0;
	if (w[2] == NULL) {
		cfg_error(cfg, "%s: \"%s\" is neither \"%s\" nor \"%s\"", name,
		    s ? s : "", w[0], w[1]);
		return -1;
	}
	/* "a", "b", "c" or "d" */
	list[0] = '\0';
	for (i = 0, len = 0; w[i] != NULL && len < sizeof(list); i++)
		len += snprintf(list + len, sizeof(list) - len, "%s\"%s\"",
		    i == 0 ? "" : w[i + 1] == NULL ? " or " : ", ", w[i]);
	cfg_error(cfg, "%s: \"%s\" is not %s", name, s ? s : "", list);
	return -1;
}

static int
conf_v_int(cfg_t *cfg, cfg_opt_t *opt)
{
	const struct conf_range	*r = conf_range(cfg_opt_name(opt));
	long			 v = cfg_opt_getnint(opt, 0);

	conf_note_key(cfg, opt);
	if (r != NULL && (v < r->cr_min || v > r->cr_max)) {
		cfg_error(cfg, "%s: %ld is out of range (%ld..%ld)",
		    cfg_opt_name(opt), v, r->cr_min, r->cr_max);
		return -1;
	}
	return 0;
}

static int
conf_v_duration(cfg_t *cfg, cfg_opt_t *opt)
{
	const struct conf_range	*r = conf_range(cfg_opt_name(opt));
	const char		*s = cfg_opt_getnstr(opt, 0);
	uint64_t		 ms;

	conf_note_key(cfg, opt);
	if (conf_parse_duration(s, &ms) == -1) {
		cfg_error(cfg, "%s: bad duration \"%s\"", cfg_opt_name(opt),
		    s ? s : "");
		return -1;
	}
	if (r != NULL && ms < (uint64_t)r->cr_min) {
		if (r->cr_min == 1)
			cfg_error(cfg, "%s: must be more than 0",
			    cfg_opt_name(opt));
		else if (r->cr_min % 1000 == 0)
			cfg_error(cfg, "%s: \"%s\" is less than %lds",
			    cfg_opt_name(opt), s, r->cr_min / 1000);
		else
			cfg_error(cfg, "%s: \"%s\" is less than %ldms",
			    cfg_opt_name(opt), s, r->cr_min);
		return -1;
	}
	return 0;
}

static int
conf_v_size(cfg_t *cfg, cfg_opt_t *opt)
{
	const struct conf_range	*r = conf_range(cfg_opt_name(opt));
	const char		*s = cfg_opt_getnstr(opt, 0);
	uint64_t		 v;

	conf_note_key(cfg, opt);
	if (conf_parse_size(s, &v) == -1) {
		cfg_error(cfg, "%s: bad size \"%s\"", cfg_opt_name(opt),
		    s ? s : "");
		return -1;
	}
	/*
	 * Only a minimum, or 0 where 1 is: say so, not
	 * "(65536..9223372036854775807)".
	 */
	if (r != NULL && v < (uint64_t)r->cr_min &&
	    (r->cr_max == LONG_MAX || r->cr_min == 1)) {
		if (r->cr_min == 1)
			cfg_error(cfg, "%s: must be more than 0",
			    cfg_opt_name(opt));
		else
			cfg_error(cfg, "%s: %s is less than %ld bytes",
			    cfg_opt_name(opt), s, r->cr_min);
		return -1;
	}
	if (r != NULL && (v < (uint64_t)r->cr_min || v > (uint64_t)r->cr_max)) {
		cfg_error(cfg, "%s: %s is out of range (%ld..%ld)",
		    cfg_opt_name(opt), s, r->cr_min, r->cr_max);
		return -1;
	}
	return 0;
}

/* Every value of a list of local times, "HH:MM". */
static int
conf_v_clock(cfg_t *cfg, cfg_opt_t *opt)
{
	const char	*s;
	unsigned int	 i, n = cfg_opt_size(opt);
	uint16_t	 min;

	conf_note_key(cfg, opt);
	for (i = 0; i < n; i++) {
		s = cfg_opt_getnstr(opt, i);
		if (conf_parse_clock(s, &min) == -1) {
			cfg_error(cfg, "%s: \"%s\" is not a local time "
			    "\"HH:MM\" (00:00 to 23:59)", cfg_opt_name(opt),
			    s ? s : "");
			return -1;
		}
	}
	return 0;
}

static int
conf_v_binding(cfg_t *cfg, cfg_opt_t *opt)
{
	struct conf_binding	 bd;
	unsigned int		 n = cfg_opt_size(opt);
	const char		*s;

	conf_note_key(cfg, opt);
	if (n == 0)
		return 0;
	s = cfg_opt_getnstr(opt, n - 1);
	if (conf_parse_binding(s, &bd) == -1) {
		cfg_error(cfg, "%s: bad binding \"%s\" (want ip:port[:host], "
		    "*:port[:host] or [ipv6]:port[:host])", cfg_opt_name(opt),
		    s ? s : "");
		return -1;
	}
	free(bd.bd_host);
	free(bd.bd_text);
	return 0;
}

/* Runs in the parent when a section closes. */
static int
conf_v_section(cfg_t *cfg, cfg_opt_t *opt)
{
	unsigned int	 n = cfg_opt_size(opt);
	cfg_t		*sec;

	conf_note_section(cfg);
	if (n == 0 || (sec = cfg_opt_getnsec(opt, n - 1)) == NULL)
		return 0;
	/* An empty section: its closing line is all there is. */
	conf_mark(sec, CONF_START, sec->line, 0);
	if ((opt->flags & CFGF_TITLE) && (cfg_title(sec) == NULL ||
	    *cfg_title(sec) == '\0')) {
		cfg_error(cfg, "%s: the name must not be empty",
		    cfg_opt_name(opt));
		return -1;
	}
	return 0;
}

/*
 * A section that may be written once.  libconfuse would read a second
 * one into the first, key by key, so that each value could come from
 * either; refused instead.  The section's cfg_t is reused, so the mark
 * that the first was read goes on the option.  libconfuse calls nothing
 * when a section opens, so the second is named by the line it ends on,
 * where the parent's count stands when this runs.
 */
static int
conf_v_once(cfg_t *cfg, cfg_opt_t *opt)
{
	struct conf_mark	*m;
	cfg_t			*sec;

	if (conf_v_section(cfg, opt) == -1)
		return -1;
	if ((sec = cfg_opt_getnsec(opt, 0)) == NULL)
		return 0;
	if ((m = conf_find_mark(opt, CONF_START)) != NULL) {
		cfg_error(cfg, "%s: the section is defined twice (first on "
		    "line %d)", cfg_opt_name(opt), m->cm_line);
		return -1;
	}
	conf_mark(opt, CONF_START, conf_sec_line(sec), 0);
	return 0;
}

/*
 * Names are resolved as they are read, so "hsd-poolmgr -t" refuses a user
 * or group that does not exist, with the line that names it.
 */
static int
conf_v_user(cfg_t *cfg, cfg_opt_t *opt)
{
	const char	*s = cfg_opt_getnstr(opt, 0);
	struct passwd	*pw;

	if (conf_v_key(cfg, opt) == -1)
		return -1;
	if (conf_cur->cp_flags & CONF_LOAD_NOFS)
		return 0;
	if ((pw = getpwnam(s)) == NULL) {
		cfg_error(cfg, "%s: no such user \"%s\"", cfg_opt_name(opt), s);
		return -1;
	}
	/* Its children would keep every privilege, and their start-up
	 * check that root cannot be regained would stop each of them. */
	if (pw->pw_uid == 0) {
		cfg_error(cfg, "%s: \"%s\" is the superuser; name an "
		    "unprivileged user", cfg_opt_name(opt), s);
		return -1;
	}
	return 0;
}

static int
conf_v_group(cfg_t *cfg, cfg_opt_t *opt)
{
	const char	*s = cfg_opt_getnstr(opt, 0);

	if (conf_v_key(cfg, opt) == -1)
		return -1;
	if (conf_cur->cp_flags & CONF_LOAD_NOFS)
		return 0;
	if (getgrnam(s) == NULL) {
		cfg_error(cfg, "%s: no such group \"%s\"", cfg_opt_name(opt),
		    s);
		return -1;
	}
	return 0;
}

/* chroot(2) of a relative path would depend on the start directory. */
static int
conf_v_abspath(cfg_t *cfg, cfg_opt_t *opt)
{
	const char	*s = cfg_opt_getnstr(opt, 0);

	if (conf_v_key(cfg, opt) == -1)
		return -1;
	if (s[0] != '/') {
		cfg_error(cfg, "%s: \"%s\" is not an absolute path",
		    cfg_opt_name(opt), s);
		return -1;
	}
	return 0;
}

/*
 * A URL path as it is routed: from the root, to a file ("/index.php"):
 * no query, no "." or ".." component, no empty one, no trailing '/'.
 */
static int
conf_v_urlpath(cfg_t *cfg, cfg_opt_t *opt)
{
	const char	*s = cfg_opt_getnstr(opt, 0), *c, *e;

	if (conf_v_key(cfg, opt) == -1)
		return -1;
	if (s[0] != '/' || s[1] == '\0' || strpbrk(s, "?#%\\") != NULL)
		goto bad;
	for (c = s + 1;; c = e + 1) {
		e = strchrnul(c, '/');
		if (e == c || (e - c == 1 && c[0] == '.') ||
		    (e - c == 2 && c[0] == '.' && c[1] == '.'))
			goto bad;
		if (*e == '\0')
			return 0;
	}
bad:
	cfg_error(cfg, "%s: \"%s\" is not a path to a file from the site's "
	    "root, such as \"/index.php\"", cfg_opt_name(opt), s);
	return -1;
}

/* libconfuse checks the word; this notes where it was written. */
static int
conf_v_bool(cfg_t *cfg, cfg_opt_t *opt)
{
	conf_note_key(cfg, opt);
	return 0;
}

/*
 * Whether path has a ".." component.  Where one leads depends on the
 * symlinks before it, and the paths of the file are compared and joined
 * as written.
 */
static int
conf_has_dotdot(const char *path)
{
	const char	*p;

	for (p = path; (p = strstr(p, "..")) != NULL; p += 2)
		if ((p == path || p[-1] == '/') && (p[2] == '\0' || p[2] == '/'))
			return 1;
	return 0;
}

/*
 * A log directory: absolute and without "..".  Whether it exists is the
 * pool manager's business when it starts hsd-logd, not the parser's: the
 * listener parses the file where the filesystem is out of reach.
 */
static int
conf_v_logdir(cfg_t *cfg, cfg_opt_t *opt)
{
	const char	*s = cfg_opt_getnstr(opt, 0);

	if (conf_v_abspath(cfg, opt) == -1)
		return -1;
	if (conf_has_dotdot(s)) {
		cfg_error(cfg, "%s: \"%s\" must not contain \"..\"",
		    cfg_opt_name(opt), s);
		return -1;
	}
	return 0;
}

static int
conf_w3c_field(const char *name)
{
	int	i;

	for (i = 0; i < W3C_NFIELDS; i++)
		if (strcmp(conf_w3c_names[i], name) == 0)
			return i;
	return -1;
}

/*
 * The W3C fields, checked value by value as the list is read, so an
 * error carries the line of the value at fault.  The order they are
 * written in does not matter (they are logged in IIS's order), so a name
 * written twice is a mistake, not a wish to log it twice.
 */
static int
conf_v_fields(cfg_t *cfg, cfg_opt_t *opt)
{
	unsigned int	 i, n = cfg_opt_size(opt);
	const char	*s;
	int		 f;

	conf_note_key(cfg, opt);
	if (n == 0) {
		cfg_error(cfg, "%s: name at least one field", cfg_opt_name(opt));
		return -1;
	}
	s = cfg_opt_getnstr(opt, n - 1);
	if (s == NULL || (f = conf_w3c_field(s)) == -1) {
		cfg_error(cfg, "%s: unknown W3C field \"%s\"", cfg_opt_name(opt),
		    s ? s : "");
		return -1;
	}
	for (i = 0; i + 1 < n; i++)
		if (strcmp(cfg_opt_getnstr(opt, i), s) == 0) {
			cfg_error(cfg, "%s: \"%s\" is named twice",
			    cfg_opt_name(opt), s);
			return -1;
		}
	return 0;
}

/* A list whose values need no check: only where it was written. */
static int
conf_v_list(cfg_t *cfg, cfg_opt_t *opt)
{
	conf_note_key(cfg, opt);
	return 0;
}

static int
conf_v_fastcgi_address(cfg_t *cfg, cfg_opt_t *opt)
{
	struct sockaddr_storage	 ss;
	socklen_t		 len;
	const char		*s = cfg_opt_getnstr(opt, 0);

	if (conf_v_key(cfg, opt) == -1)
		return -1;
	if (conf_parse_fastcgi_address(s, &ss, &len) == 0)
		return 0;
	if (strncmp(s, "unix:/", 6) == 0)
		cfg_error(cfg, "%s: \"%s\": the path is longer than %zu bytes, "
		    "the most a socket address holds", cfg_opt_name(opt), s,
		    sizeof(((struct sockaddr_un *)NULL)->sun_path) - 1);
	else
		cfg_error(cfg, "%s: bad address \"%s\" (want "
		    "unix:/absolute/path, ipv4:port or [ipv6]:port)",
		    cfg_opt_name(opt), s);
	return -1;
}

/*
 * A list of "name=value" strings, checked value by value as the list is
 * read, so an error carries the line of the value at fault; what calls
 * the name says ("NAME" for an environment, "key" for arguments).
 */
static int
conf_v_pairs(cfg_t *cfg, cfg_opt_t *opt, const char *what)
{
	unsigned int	 n = cfg_opt_size(opt);
	const char	*s;

	conf_note_key(cfg, opt);
	if (n == 0)
		return 0;
	s = cfg_opt_getnstr(opt, n - 1);
	if (s == NULL || strchr(s, '=') == NULL) {
		cfg_error(cfg, "%s: \"%s\" is not %s=value",
		    cfg_opt_name(opt), s ? s : "", what);
		return -1;
	}
	if (s[0] == '=') {
		cfg_error(cfg, "%s: \"%s\" has an empty %s",
		    cfg_opt_name(opt), s, strcmp(what, "NAME") == 0 ? "name" :
		    what);
		return -1;
	}
	return 0;
}

/* The environment of a FastCGI command; PARAMS of each request. */
static int
conf_v_fastcgi_env(cfg_t *cfg, cfg_opt_t *opt)
{
	return conf_v_pairs(cfg, opt, "NAME");
}

/* A handler module's arguments (the value may be empty or hold '='). */
static int
conf_v_module_args(cfg_t *cfg, cfg_opt_t *opt)
{
	return conf_v_pairs(cfg, opt, "key");
}

/*
 * A script map's extension, checked value by value as the list is read:
 * ".php", the '.' and at least one byte after it, all within one path
 * component, since that is what conf_handler_path() compares.
 */
static int
conf_v_extension(cfg_t *cfg, cfg_opt_t *opt)
{
	unsigned int	 n = cfg_opt_size(opt);
	const char	*s;

	conf_note_key(cfg, opt);
	if (n == 0)
		return 0;
	s = cfg_opt_getnstr(opt, n - 1);
	if (s == NULL || s[0] != '.' || s[1] == '\0' ||
	    strchr(s, '/') != NULL) {
		cfg_error(cfg, "%s: \"%s\" is not an extension such as "
		    "\".php\" (a '.', then at least one byte, no '/')",
		    cfg_opt_name(opt), s ? s : "");
		return -1;
	}
	return 0;
}

/* Building the result. */

static char *
conf_strdup(const char *s)
{
	char	*d;

	if ((d = strdup(s)) == NULL)
		log_warn("conf_strdup");
	return d;
}

static int
conf_find_pool(const struct hsd_config *cf, const char *name, uint32_t *idx)
{
	uint32_t	i;
	int		k;

	if ((k = conf_pool_index(cf, name)) == -1)
		return -1;
	*idx = k;
	/* IIS 5.0 isolation mode: the pool named must exist, but every
	 * request goes to the one shared pool, "default". */
	if (cf->cf_shared) {
		for (i = 0; i < cf->cf_npools; i++)
			if (strcmp(cf->cf_pools[i].pl_name, "default") == 0)
				*idx = i;
	}
	return 0;
}

/*
 * IIS 5.0 isolation mode has no health monitoring and no recycling: the
 * shared workers run until they die.  0 turns each off.
 */
static void
conf_shared_pools(struct hsd_config *cf)
{
	struct conf_pool	*pl;
	uint32_t		 i;

	for (i = 0; i < cf->cf_npools; i++) {
		pl = &cf->cf_pools[i];
		pl->pl_ping_interval_ms = 0;
		pl->pl_ping_timeout_ms = 0;
		pl->pl_startup_timeout_ms = 0;
		pl->pl_recycle_requests = 0;
		pl->pl_recycle_time_ms = 0;
		pl->pl_recycle_memory = 0;
		pl->pl_nrecycle_at = 0;
		pl->pl_idle_timeout_ms = 0;
	}
}

/* An existing directory, absolute and without symlinks or trailing '/'. */
static char *
conf_dir(const char *path, int line, cfg_t *sec, cfg_t *site)
{
	struct stat	 st;
	char		*rp;

	/* Checked by the pool manager, which resolved it; taken as written. */
	if (conf_cur->cp_flags & CONF_LOAD_NOFS)
		return conf_strdup(path);
	if ((rp = realpath(path, NULL)) == NULL) {
		conf_err(line, sec, site, "root: \"%s\": %s", path,
		    strerror(errno));
		return NULL;
	}
	if (stat(rp, &st) == -1) {
		conf_err(line, sec, site, "root: \"%s\": %s", path,
		    strerror(errno));
		free(rp);
		return NULL;
	}
	if (!S_ISDIR(st.st_mode)) {
		conf_err(line, sec, site, "root: \"%s\" is not a directory",
		    path);
		free(rp);
		return NULL;
	}
	return rp;
}

/*
 * The identity a section names.  A user written without a group brings
 * its primary group; what is not written comes from def (NULL: the
 * server-wide default user).  Lines are kept so a check made at start can
 * point at what was written.
 */
static int
conf_build_ident(cfg_t *sec, const struct conf_ident *def,
    struct conf_ident *id)
{
	struct passwd	*pw;
	struct group	*gr;
	const char	*user, *group;
	char		 num[32];

	/* sec NULL: the implicit pool "default", which writes nothing. */
	user = sec ? cfg_getstr(sec, "user") : NULL;
	group = sec ? cfg_getstr(sec, "group") : NULL;
	if (conf_cur->cp_flags & CONF_LOAD_NOFS) {
		/* Names only: nobody who parses this way runs as them. */
		if (user == NULL)
			user = def != NULL ? def->id_user : CONF_USER;
		if (group == NULL)
			group = def != NULL ? def->id_group : "";
		return (id->id_user = conf_strdup(user)) == NULL ||
		    (id->id_group = conf_strdup(group)) == NULL ? -1 : 0;
	}
	if (user == NULL && def != NULL) {
		if ((id->id_user = conf_strdup(def->id_user)) == NULL)
			return -1;
		id->id_uid = def->id_uid;
		id->id_gid = def->id_gid;
		if (group == NULL)
			return (id->id_group = conf_strdup(def->id_group)) ==
			    NULL ? -1 : 0;
	} else {
		if (user != NULL)
			id->id_user_line = conf_key_line(sec, "user", 0);
		else
			user = CONF_USER;
		/* Checked as it was read; it may have gone since. */
		if ((pw = getpwnam(user)) == NULL) {
			conf_err(id->id_user_line, sec, NULL, "user: no such "
			    "user \"%s\"%s", user, id->id_user_line ? "" :
			    " (the default; set user)");
			return -1;
		}
		if ((id->id_user = conf_strdup(user)) == NULL)
			return -1;
		id->id_uid = pw->pw_uid;
		id->id_gid = pw->pw_gid;
	}
	if (group != NULL) {
		id->id_group_line = conf_key_line(sec, "group", 0);
		if ((gr = getgrnam(group)) == NULL) {
			conf_err(id->id_group_line, sec, NULL, "group: no such "
			    "group \"%s\"", group);
			return -1;
		}
		id->id_gid = gr->gr_gid;
	} else if ((gr = getgrgid(id->id_gid)) != NULL)
		group = gr->gr_name;
	else {
		snprintf(num, sizeof(num), "%u", (unsigned int)id->id_gid);
		group = num;
	}
	if ((id->id_group = conf_strdup(group)) == NULL)
		return -1;
	return 0;
}

/*
 * An absolute path as written, normalised so that paths are compared and
 * joined by components: "//" and "." go, and so does a trailing '/'.
 * ".." is the caller's to refuse first (conf_has_dotdot()).
 */
static char *
conf_norm_path(const char *s)
{
	const char	*p, *e;
	char		*d, *o;
	size_t		 n;

	if ((d = malloc(strlen(s) + 2)) == NULL) {
		log_warn("conf_norm_path: malloc");
		return NULL;
	}
	o = d;
	for (p = s; *p != '\0'; p = e) {
		while (*p == '/')
			p++;
		for (e = p; *e != '\0' && *e != '/'; e++)
			;
		n = e - p;
		if (n == 0 || (n == 1 && p[0] == '.'))
			continue;
		*o++ = '/';
		memcpy(o, p, n);
		o += n;
	}
	if (o == d)
		*o++ = '/';
	*o = '\0';
	return d;
}

/*
 * A pool's chroot as written, normalised so that roots are compared with
 * it by components.  ".." is refused, since where it leads depends on the
 * symlinks before it, and so is a path through a symlink, since roots are
 * compared as realpath() gives them.  One that does not exist is the pool
 * manager's to refuse.
 */
static char *
conf_chroot_dir(const char *s, int line, cfg_t *sec)
{
	char		*d, *rp;

	if (conf_has_dotdot(s)) {
		conf_err(line, sec, NULL, "chroot: \"%s\" must not "
		    "contain \"..\"", s);
		return NULL;
	}
	if ((d = conf_norm_path(s)) == NULL)
		return NULL;
	if (!(conf_cur->cp_flags & CONF_LOAD_NOFS) &&
	    (rp = realpath(d, NULL)) != NULL) {
		if (strcmp(rp, d) != 0) {
			conf_err(line, sec, NULL, "chroot: \"%s\" leads "
			    "through a symbolic link; write its real path "
			    "\"%s\"", s, rp);
			free(rp);
			goto fail;
		}
		free(rp);
	}
	return d;
fail:
	free(d);
	return NULL;
}

/* A pool key's value in sec, or its default when sec is NULL (the pool
 * "default" nobody declared). */
static const char *
conf_pool_str(cfg_t *sec, const char *key)
{
	size_t	i;

	if (sec != NULL)
		return cfg_getstr(sec, key);
	for (i = 0; conf_pool_opts[i].name != NULL; i++)
		if (strcmp(conf_pool_opts[i].name, key) == 0)
			return conf_pool_opts[i].def.string;
	return NULL;
}

/*
 * The pool's health and recycling keys.  Its shutdown_timeout defaults to
 * the server-wide one when the file sets that, so one line still sets
 * every pool's, and to IIS's 90 s otherwise.
 */
static int
conf_build_health(cfg_t *root, cfg_t *sec, struct conf_pool *pl)
{
	const char	*s;
	unsigned int	 i, n;

	if (conf_parse_duration(conf_pool_str(sec, "ping_interval"),
	    &pl->pl_ping_interval_ms) == -1 ||
	    conf_parse_duration(conf_pool_str(sec, "ping_timeout"),
	    &pl->pl_ping_timeout_ms) == -1 ||
	    conf_parse_duration(conf_pool_str(sec, "startup_timeout"),
	    &pl->pl_startup_timeout_ms) == -1 ||
	    conf_parse_duration(conf_pool_str(sec, "recycle_time"),
	    &pl->pl_recycle_time_ms) == -1 ||
	    conf_parse_duration(conf_pool_str(sec, "idle_timeout"),
	    &pl->pl_idle_timeout_ms) == -1 ||
	    conf_parse_duration(conf_pool_str(sec, "fastcgi_retry_timeout"),
	    &pl->pl_fastcgi_retry_ms) == -1 ||
	    conf_parse_size(conf_pool_str(sec, "recycle_memory"),
	    &pl->pl_recycle_memory) == -1)
		return -1;
	if ((s = conf_pool_str(sec, "shutdown_timeout")) == NULL) {
		if (conf_find_mark(cfg_getopt(root, "shutdown_timeout"), 0) !=
		    NULL)
			s = cfg_getstr(root, "shutdown_timeout");
		else
			s = CONF_POOL_SHUTDOWN;
	}
	if (conf_parse_duration(s, &pl->pl_shutdown_timeout_ms) == -1)
		return -1;
	if (sec == NULL)
		return 0;
	pl->pl_recycle_requests = cfg_getint(sec, "recycle_requests");
	if ((n = cfg_size(sec, "recycle_at")) == 0)
		return 0;
	if ((pl->pl_recycle_at = calloc(n, sizeof(*pl->pl_recycle_at))) ==
	    NULL) {
		log_warn("conf_build_health: calloc");
		return -1;
	}
	for (i = 0; i < n; i++)
		if (conf_parse_clock(cfg_getnstr(sec, "recycle_at", i),
		    &pl->pl_recycle_at[pl->pl_nrecycle_at++]) == -1)
			return -1;
	return 0;
}

static int
conf_build_pools(cfg_t *root, struct hsd_config *cf)
{
	struct conf_pool	*pl;
	cfg_t			*sec;
	const char		*s;
	unsigned int		 n, i;
	int			 implicit;

	n = cfg_size(root, "pool");
	implicit = cfg_gettsec(root, "pool", "default") == NULL;
	if ((cf->cf_pools = calloc(n + implicit, sizeof(*pl))) == NULL) {
		log_warn("conf_build_pools: calloc");
		return -1;
	}
	if (implicit) {
		pl = &cf->cf_pools[cf->cf_npools++];
		if ((pl->pl_name = conf_strdup("default")) == NULL)
			return -1;
		/* The schema's defaults, so there is one place to read them. */
		pl->pl_workers = conf_pool_opts[0].def.number;
		pl->pl_queue_length = conf_pool_opts[1].def.number;
		pl->pl_concurrency = conf_pool_opts[2].def.number;
		pl->pl_cgi_max_children = conf_pool_opts[3].def.number;
		pl->pl_start_always = 0;
		pl->pl_rapid_fail_max = CONF_RAPID_FAIL_MAX;
		if (conf_parse_duration(CONF_RAPID_FAIL_INTERVAL,
		    &pl->pl_rapid_fail_interval_ms) == -1)
			return -1;
		if (conf_build_ident(NULL, &cf->cf_ident, &pl->pl_ident) ==
		    -1 || conf_build_health(root, NULL, pl) == -1)
			return -1;
	}
	for (i = 0; i < n; i++) {
		sec = cfg_getnsec(root, "pool", i);
		pl = &cf->cf_pools[cf->cf_npools++];
		if ((pl->pl_name = conf_strdup(cfg_title(sec))) == NULL)
			return -1;
		pl->pl_workers = cfg_getint(sec, "workers");
		pl->pl_queue_length = cfg_getint(sec, "queue_length");
		pl->pl_concurrency = cfg_getint(sec, "concurrency");
		pl->pl_cgi_max_children = cfg_getint(sec, "cgi_max_children");
		pl->pl_start_always = strcmp(cfg_getstr(sec, "start"),
		    "always") == 0;
		pl->pl_rapid_fail_max = cfg_getint(sec, "rapid_fail_max");
		/* Passed conf_v_duration() or is the default. */
		if (conf_parse_duration(cfg_getstr(sec, "rapid_fail_interval"),
		    &pl->pl_rapid_fail_interval_ms) == -1)
			return -1;
		if (conf_build_ident(sec, &cf->cf_ident, &pl->pl_ident) ==
		    -1 || conf_build_health(root, sec, pl) == -1)
			return -1;
		if ((s = cfg_getstr(sec, "chroot")) != NULL) {
			pl->pl_chroot_line = conf_key_line(sec, "chroot", 0);
			if ((pl->pl_chroot = conf_chroot_dir(s,
			    pl->pl_chroot_line, sec)) == NULL)
				return -1;
		}
	}
	return 0;
}

/*
 * A chrooted worker sees nothing outside its chroot, so a root it serves
 * must lie below it.  Roots stay written as host paths, as every path in
 * the file is; the worker finds each one inside through
 * conf_chroot_path().  whose: what the message calls the root.
 */
static int
conf_check_chroot(const struct hsd_config *cf, uint32_t pool,
    const char *root, const char *whose, int line, cfg_t *sec, cfg_t *site)
{
	const struct conf_pool	*pl = &cf->cf_pools[pool];

	/* Roots are as written, not resolved: nothing to compare. */
	if (conf_cur->cp_flags & CONF_LOAD_NOFS)
		return 0;
	if (pl->pl_chroot == NULL ||
	    conf_chroot_path(pl->pl_chroot, root) != NULL)
		return 0;
	conf_err(line, sec, site, "%s \"%s\" is not below chroot \"%s\" of "
	    "pool \"%s\" (line %d), so its workers could not reach it", whose,
	    root, pl->pl_chroot, pl->pl_name, pl->pl_chroot_line);
	return -1;
}

static int
conf_same_addr(const struct sockaddr_storage *a,
    const struct sockaddr_storage *b)
{
	const struct sockaddr_in	*a4, *b4;
	const struct sockaddr_in6	*a6, *b6;

	if (a->ss_family != b->ss_family)
		return 0;
	if (a->ss_family == AF_INET) {
		a4 = (const struct sockaddr_in *)a;
		b4 = (const struct sockaddr_in *)b;
		return a4->sin_addr.s_addr == b4->sin_addr.s_addr;
	}
	a6 = (const struct sockaddr_in6 *)a;
	b6 = (const struct sockaddr_in6 *)b;
	return memcmp(&a6->sin6_addr, &b6->sin6_addr,
	    sizeof(a6->sin6_addr)) == 0;
}

static int
conf_same_binding(const struct conf_binding *a, const struct conf_binding *b)
{
	if (a->bd_port != b->bd_port || a->bd_any != b->bd_any ||
	    a->bd_addr.ss_family != b->bd_addr.ss_family)
		return 0;
	if (!a->bd_any && !conf_same_addr(&a->bd_addr, &b->bd_addr))
		return 0;
	if (a->bd_host == NULL || b->bd_host == NULL)
		return a->bd_host == b->bd_host;
	return strcasecmp(a->bd_host, b->bd_host) == 0;
}

static int
conf_build_bindings(cfg_t *site, uint32_t sidx, struct hsd_config *cf,
    int *lines)
{
	struct conf_binding	*bd;
	unsigned int		 n, i;
	uint32_t		 j;
	int			 line;

	n = cfg_size(site, "bindings");
	if (n == 0) {
		conf_err(conf_sec_line(site), site, NULL, "bindings: "
		    "a site needs at least one binding");
		return -1;
	}
	for (i = 0; i < n; i++) {
		line = conf_key_line(site, "bindings", i);
		bd = &cf->cf_bindings[cf->cf_nbindings];
		if (conf_parse_binding(cfg_getnstr(site, "bindings", i),
		    bd) == -1) {
			conf_err(line, site, NULL, "bindings: bad binding "
			    "\"%s\"", cfg_getnstr(site, "bindings", i));
			return -1;
		}
		cf->cf_nbindings++;
		bd->bd_site = sidx;
		lines[cf->cf_nbindings - 1] = line;
		for (j = 0; j + 1 < cf->cf_nbindings; j++) {
			if (!conf_same_binding(&cf->cf_bindings[j], bd))
				continue;
			conf_err(line, site, NULL, "bindings: \"%s\" is "
			    "already bound on line %d (site \"%s\")",
			    bd->bd_text, lines[j],
			    cf->cf_sites[cf->cf_bindings[j].bd_site].st_name);
			return -1;
		}
	}
	return 0;
}

/* A list key's values as a NULL-terminated array, never NULL itself. */
static char **
conf_strv(cfg_t *sec, const char *key)
{
	unsigned int	 i, n = cfg_size(sec, key);
	char		**v;

	if ((v = calloc(n + 1, sizeof(*v))) == NULL) {
		log_warn("conf_strv: calloc");
		return NULL;
	}
	for (i = 0; i < n; i++)
		if ((v[i] = conf_strdup(cfg_getnstr(sec, key, i))) == NULL)
			goto fail;
	return v;
fail:
	while (i-- > 0)
		free(v[i]);
	free(v);
	return NULL;
}

static void
conf_strv_free(char **v)
{
	size_t	i;

	for (i = 0; v != NULL && v[i] != NULL; i++)
		free(v[i]);
	free(v);
}

static void
conf_fastcgi_free(struct conf_fastcgi *fc)
{
	free(fc->fc_address);
	free(fc->fc_command);
	conf_strv_free(fc->fc_args);
	conf_strv_free(fc->fc_env);
	conf_strv_free(fc->fc_params);
}

/* Does the section write any of the n keys? */
static int
conf_written(cfg_t *sec, const char *const *keys, size_t n)
{
	cfg_opt_t	*opt;
	size_t		 i;

	for (i = 0; i < n; i++)
		if ((opt = cfg_getopt(sec, keys[i])) != NULL &&
		    (opt->flags & CFGF_MODIFIED))
			return 1;
	return 0;
}

/*
 * A section's FastCGI keys, every value checked as it was read.  An
 * application that writes none keeps fc_set 0 and nothing else: it
 * follows its site through conf_fastcgi().  One that writes any takes
 * none of its site's, so what its processes get is what it says.
 */
static int
conf_build_fastcgi(cfg_t *sec, int app, struct conf_fastcgi *fc)
{
	const char	*s;

	fc->fc_set = conf_written(sec, conf_fastcgi_keys,
	    sizeof(conf_fastcgi_keys) / sizeof(conf_fastcgi_keys[0]));
	if (app && !fc->fc_set)
		return 0;
	if ((s = cfg_getstr(sec, "fastcgi_address")) != NULL &&
	    (fc->fc_address = conf_strdup(s)) == NULL)
		return -1;
	if ((s = cfg_getstr(sec, "fastcgi_command")) != NULL &&
	    (fc->fc_command = conf_strdup(s)) == NULL)
		return -1;
	if ((fc->fc_args = conf_strv(sec, "fastcgi_args")) == NULL ||
	    (fc->fc_env = conf_strv(sec, "fastcgi_env")) == NULL ||
	    (fc->fc_params = conf_strv(sec, "fastcgi_params")) == NULL)
		return -1;
	fc->fc_processes = cfg_getint(sec, "fastcgi_processes");
	fc->fc_connections = cfg_getint(sec, "fastcgi_connections");
	return 0;
}

static void
conf_module_free(struct conf_module *md)
{
	free(md->md_path);
	conf_strv_free(md->md_args);
}

/*
 * A section's module keys, as conf_build_fastcgi() does its own: an
 * application that writes neither follows its site through
 * conf_module(); one that writes either takes nothing of its site's, so
 * arguments meant for one module never reach another.
 */
static int
conf_build_module(cfg_t *sec, int app, struct conf_module *md)
{
	const char	*s;

	md->md_set = conf_written(sec, conf_module_keys,
	    sizeof(conf_module_keys) / sizeof(conf_module_keys[0]));
	if (app && !md->md_set)
		return 0;
	if ((s = cfg_getstr(sec, "module")) != NULL &&
	    (md->md_path = conf_strdup(s)) == NULL)
		return -1;
	if ((md->md_args = conf_strv(sec, "module_args")) == NULL)
		return -1;
	return 0;
}

/*
 * A front controller answers for the paths below its site or application
 * that name nothing: it must be below that prefix, and be run, by the
 * handler or a script map, by CGI or FastCGI.
 */
static int
conf_check_front(cfg_t *site, const struct conf_site *st)
{
	const struct conf_app	*ap;
	const char		*fc;
	cfg_t			*sec;
	int			 r, h;

	for (r = -1; r < (int)st->st_napps; r++) {
		if ((fc = conf_front_controller(st, r)) == NULL)
			continue;
		sec = r < 0 ? site : cfg_getnsec(site, "application", r);
		ap = r < 0 ? NULL : &st->st_apps[r];
		if (ap != NULL && (strncmp(fc, ap->ap_prefix,
		    ap->ap_prefix_len) != 0 || (ap->ap_prefix_len > 1 &&
		    fc[ap->ap_prefix_len] != '/'))) {
			conf_err(conf_key_line(sec, "front_controller", 0), sec,
			    site, "front_controller \"%s\" is not below the "
			    "application's prefix \"%s\"", fc, ap->ap_prefix);
			return -1;
		}
		h = conf_handler_path(st, r, fc, strlen(fc));
		if (h != CONF_HANDLER_CGI && h != CONF_HANDLER_FASTCGI) {
			conf_err(conf_key_line(sec, "front_controller", 0), sec,
			    r < 0 ? NULL : site, "front_controller \"%s\" would "
			    "not be run: it needs handler \"fastcgi\" or \"cgi\", "
			    "or a script map for its extension", fc);
			return -1;
		}
	}
	return 0;
}

/* Each path of site st that the "module" handler answers names its file. */
static int
conf_check_module(cfg_t *site, const struct conf_site *st)
{
	cfg_t	*rsec;
	int	 r;

	for (r = -1; r < (int)st->st_napps; r++) {
		if (conf_handler(st, r) != CONF_HANDLER_MODULE ||
		    conf_module(st, r)->md_path != NULL)
			continue;
		rsec = r < 0 ? site : cfg_getnsec(site, "application", r);
		conf_err(conf_key_line(rsec, "handler", 0), rsec,
		    rsec == site ? NULL : site, "handler \"module\" needs "
		    "module, the shared object to load");
		return -1;
	}
	return 0;
}

/* The later of two keys' lines in sec: the one that made them clash. */
static int
conf_later_line(cfg_t *sec, const char *k1, const char *k2)
{
	int	l1 = conf_key_line(sec, k1, 0), l2 = conf_key_line(sec, k2, 0);

	return l1 > l2 ? l1 : l2;
}

static void
conf_extmap_free(struct conf_extmap *em)
{
	conf_strv_free(em->em_cgi);
	conf_strv_free(em->em_fastcgi);
}

/*
 * A section's script maps, as conf_build_fastcgi() does its settings:
 * an application that writes neither list follows its site; one that
 * writes either takes nothing of its site's, so "cgi_extensions = {}"
 * turns the site's maps off below its prefix.  An extension in both
 * lists would leave the handler to chance: refused.
 */
static int
conf_build_extmap(cfg_t *sec, cfg_t *site, int app, struct conf_extmap *em)
{
	size_t	 i, j;

	if (app && !conf_written(sec, conf_extmap_keys,
	    sizeof(conf_extmap_keys) / sizeof(conf_extmap_keys[0])))
		return 0;
	if ((em->em_cgi = conf_strv(sec, "cgi_extensions")) == NULL ||
	    (em->em_fastcgi = conf_strv(sec, "fastcgi_extensions")) == NULL)
		return -1;
	for (i = 0; em->em_fastcgi[i] != NULL; i++)
		for (j = 0; em->em_cgi[j] != NULL; j++) {
			if (strcmp(em->em_fastcgi[i], em->em_cgi[j]) != 0)
				continue;
			conf_err(conf_later_line(sec, "cgi_extensions",
			    "fastcgi_extensions"), sec, app ? site : NULL,
			    "\"%s\" is in both cgi_extensions and "
			    "fastcgi_extensions", em->em_cgi[j]);
			return -1;
		}
	return 0;
}

/*
 * Each path of site st (sidx, section site) that the "fastcgi" handler
 * answers, or that fastcgi_extensions sends to it, has one kind of
 * FastCGI application: an address or a command, never both.  A command
 * runs as its pool's user but outside any chroot (a program such as
 * php-cgi needs its libraries and its own files, which a chroot made for
 * static files does not hold), so a chrooted pool cannot have one.  Its
 * socket's path must fit a socket address.
 */
static int
conf_check_fastcgi(const struct hsd_config *cf, cfg_t *site, uint32_t sidx,
    const struct conf_site *st)
{
	const struct conf_fastcgi	*fc;
	const struct conf_pool		*pl;
	struct sockaddr_un		 sun;
	cfg_t				*rsec, *fsec, *wsec;
	const char			*what, *key;
	char				 path[PATH_MAX];
	int				 r, line;

	for (r = -1; r < (int)st->st_napps; r++) {
		if (!conf_uses(st, r, CONF_HANDLER_FASTCGI))
			continue;
		/* The section written for the path, and the one its
		 * FastCGI settings come from: the site's when it has none. */
		rsec = r < 0 ? site : cfg_getnsec(site, "application", r);
		fc = conf_fastcgi(st, r);
		fsec = fc == &st->st_fastcgi ? site : rsec;
		/* What asked for FastCGI, and where: the handler, else the
		 * script map, written by the application or its site. */
		what = "handler \"fastcgi\"";
		key = "handler";
		wsec = rsec;
		if (conf_handler(st, r) != CONF_HANDLER_FASTCGI) {
			what = key = "fastcgi_extensions";
			if (r >= 0 && st->st_apps[r].ap_extmap.em_fastcgi ==
			    NULL)
				wsec = site;
		}
		if (fc->fc_address != NULL && fc->fc_command != NULL) {
			conf_err(conf_later_line(fsec, "fastcgi_address",
			    "fastcgi_command"), fsec, fsec == site ? NULL :
			    site, "%s needs fastcgi_address or "
			    "fastcgi_command, not both", what);
			return -1;
		}
		if (fc->fc_address == NULL && fc->fc_command == NULL) {
			conf_err(conf_key_line(wsec, key, 0), wsec,
			    wsec == site ? NULL : site, "%s needs "
			    "fastcgi_address or fastcgi_command", what);
			return -1;
		}
		if (fc->fc_command == NULL)
			continue;
		if (fc->fc_connections > 0) {
			conf_err(conf_key_line(fsec, "fastcgi_connections", 0),
			    fsec, fsec == site ? NULL : site,
			    "fastcgi_connections is for fastcgi_address: the "
			    "processes of fastcgi_command are shared out among "
			    "the workers");
			return -1;
		}
		pl = &cf->cf_pools[conf_route_pool(st, r)];
		if (pl->pl_chroot != NULL) {
			line = fsec == rsec ? conf_key_line(fsec,
			    "fastcgi_command", 0) : conf_key_line(rsec, "pool",
			    0);
			conf_err(line, rsec, rsec == site ? NULL : site,
			    "fastcgi_command is not supported in a chrooted "
			    "pool (pool \"%s\" has chroot \"%s\", line %d)",
			    pl->pl_name, pl->pl_chroot, pl->pl_chroot_line);
			return -1;
		}
		/* run_dir is not known without the filesystem. */
		if (conf_cur->cp_flags & CONF_LOAD_NOFS)
			continue;
		if (conf_fastcgi_socket(cf, sidx, r, path, sizeof(path)) ==
		    -1 || strlen(path) >= sizeof(sun.sun_path)) {
			conf_err(conf_key_line(fsec, "fastcgi_command", 0),
			    fsec, fsec == site ? NULL : site, "fastcgi_command: "
			    "its socket in run_dir \"%s\" would be longer "
			    "than %zu bytes, the most a socket address holds; "
			    "a shorter run_dir makes room", cf->cf_run_dir,
			    sizeof(sun.sun_path) - 1);
			return -1;
		}
	}
	return 0;
}

static int
conf_build_apps(cfg_t *site, struct conf_site *st, struct hsd_config *cf)
{
	struct conf_app	*ap;
	cfg_t		*sec;
	const char	*title, *s;
	char		*norm = NULL;
	size_t		 len;
	ssize_t		 nlen;
	unsigned int	 n, i, j;

	n = cfg_size(site, "application");
	if (n == 0)
		return 0;
	if ((st->st_apps = calloc(n, sizeof(*ap))) == NULL) {
		log_warn("conf_build_apps: calloc");
		return -1;
	}
	for (i = 0; i < n; i++) {
		sec = cfg_getnsec(site, "application", i);
		title = cfg_title(sec);
		ap = &st->st_apps[st->st_napps++];
		len = strlen(title);
		if ((norm = malloc(len + 1)) == NULL) {
			log_warn("conf_build_apps: malloc");
			return -1;
		}
		/* A prefix must be what a normalised request path can be. */
		nlen = uri_normalize(title, len, norm, len + 1);
		if (nlen == -1 || (size_t)nlen != len ||
		    memcmp(norm, title, len) != 0) {
			conf_err(conf_sec_line(sec), sec, site, "the URL "
			    "prefix must be a normalised path starting with "
			    "'/'");
			goto fail;
		}
		/* "/api/" is "/api"; "/" is "" and so a prefix of anything. */
		if (nlen > 0 && norm[nlen - 1] == '/')
			norm[--nlen] = '\0';
		ap->ap_prefix = norm;
		ap->ap_prefix_len = nlen;
		norm = NULL;
		for (j = 0; j + 1 < st->st_napps; j++) {
			if (strcmp(st->st_apps[j].ap_prefix, ap->ap_prefix))
				continue;
			conf_err(conf_sec_line(sec), sec, site, "the prefix is "
			    "already used by application \"%s\" on line %d",
			    cfg_title(cfg_getnsec(site, "application", j)),
			    conf_sec_line(cfg_getnsec(site, "application", j)));
			return -1;
		}

		ap->ap_pool = st->st_pool;
		if ((s = cfg_getstr(sec, "pool")) != NULL &&
		    conf_find_pool(cf, s, &ap->ap_pool) == -1) {
			conf_err(conf_key_line(sec, "pool", 0), sec, site,
			    "pool \"%s\" is not defined", s);
			return -1;
		}
		if ((s = cfg_getstr(sec, "root")) != NULL &&
		    (ap->ap_root = conf_dir(s, conf_key_line(sec, "root", 0),
		    sec, site)) == NULL)
			return -1;
		/* Without a root of its own it serves the site's. */
		if (ap->ap_root != NULL) {
			if (conf_check_chroot(cf, ap->ap_pool, ap->ap_root,
			    "root", conf_key_line(sec, "root", 0), sec,
			    site) == -1)
				return -1;
		} else if (ap->ap_pool != st->st_pool &&
		    conf_check_chroot(cf, ap->ap_pool, st->st_root,
		    "the site's root", conf_key_line(sec, "pool", 0), sec,
		    site) == -1)
			return -1;
		/* Validated as it was read. */
		ap->ap_max_body = st->st_max_body;
		if ((s = cfg_getstr(sec, "max_body_size")) != NULL &&
		    conf_parse_size(s, &ap->ap_max_body) == -1)
			return -1;
		/* Unset: the site's, as conf_cacheable() reads it. */
		ap->ap_cache = -1;
		if (cfg_size(sec, "cache") > 0)
			ap->ap_cache = cfg_getbool(sec, "cache") == cfg_true;
		/* Unset: the site's, as conf_handler() reads it. */
		ap->ap_handler = -1;
		if ((s = cfg_getstr(sec, "handler")) != NULL &&
		    (ap->ap_handler = conf_choice("handler", s)) == -1)
			return -1;
		ap->ap_cgi_timeout_ms = st->st_cgi_timeout_ms;
		if ((s = cfg_getstr(sec, "cgi_timeout")) != NULL &&
		    conf_parse_duration(s, &ap->ap_cgi_timeout_ms) == -1)
			return -1;
		if ((s = cfg_getstr(sec, "front_controller")) != NULL &&
		    (ap->ap_front = conf_strdup(s)) == NULL)
			return -1;
		if (conf_build_fastcgi(sec, 1, &ap->ap_fastcgi) == -1 ||
		    conf_build_module(sec, 1, &ap->ap_module) == -1 ||
		    conf_build_extmap(sec, site, 1, &ap->ap_extmap) == -1)
			return -1;
	}
	return 0;
fail:
	free(norm);
	return -1;
}

/* dir/name, without doubling the '/' of dir "/". */
static char *
conf_join(const char *dir, const char *name)
{
	char	*p;

	if (asprintf(&p, "%s%s%s", dir, strcmp(dir, "/") == 0 ? "" : "/",
	    name) == -1) {
		log_warn("conf_join: asprintf");
		return NULL;
	}
	return p;
}

/*
 * A site's log directory when it names none: one below the top-level
 * directory, named after the site.  A site's name is any string, so
 * every byte that could make it more than one component, or one a shell
 * would trip on, becomes '_'.
 */
static char *
conf_site_log_dir(const char *dir, const char *site)
{
	char	*name, *d;
	size_t	 i;
	char	 c;

	if (*site == '\0' || strcmp(site, ".") == 0 || strcmp(site, "..") == 0)
		site = "_";
	if ((name = conf_strdup(site)) == NULL)
		return NULL;
	for (i = 0; (c = name[i]) != '\0'; i++)
		if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
		    (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-'))
			name[i] = '_';
	d = conf_join(dir, name);
	free(name);
	return d;
}

/* What the schema cannot hold: the default of a list. */
static const struct conf_log conf_log_builtin = {
	.lg_fields = CONF_W3C_DEFAULT_FIELDS,
};

/*
 * A log section: what it sets, the rest from def (the top-level section's
 * result for a site, whose keys have no defaults; conf_log_builtin for
 * the top-level section, whose schema has them).  Every value passed its
 * validation callback.  site: the site's section, NULL for the top level.
 */
static int
conf_build_log(cfg_t *sec, const struct conf_log *def, cfg_t *site,
    struct conf_log *lg)
{
	unsigned int	 i, n;
	int		 k;

	/* libconfuse calls no validator for "fields = {}". */
	if (cfg_size(sec, "fields") == 0 &&
	    (cfg_getopt(sec, "fields")->flags & CFGF_MODIFIED)) {
		conf_err(conf_key_line(sec, "fields", 0), sec, site,
		    "fields: name at least one field");
		return -1;
	}

	*lg = *def;
	lg->lg_dir = NULL;
	if (cfg_size(sec, "format") > 0) {
		if ((k = conf_choice("format", cfg_getstr(sec, "format"))) ==
		    -1)
			return -1;
		lg->lg_format = k;
	}
	if (cfg_size(sec, "rollover") > 0) {
		if ((k = conf_choice("rollover", cfg_getstr(sec, "rollover"))) ==
		    -1)
			return -1;
		lg->lg_rollover = k;
	}
	if ((n = cfg_size(sec, "fields")) > 0) {
		lg->lg_fields = 0;
		for (i = 0; i < n; i++) {
			if ((k = conf_w3c_field(cfg_getnstr(sec, "fields",
			    i))) == -1)
				return -1;
			lg->lg_fields |= 1u << k;
		}
	}
	if (cfg_size(sec, "max_size") > 0 &&
	    conf_parse_size(cfg_getstr(sec, "max_size"), &lg->lg_max_size) ==
	    -1)
		return -1;
	if (cfg_size(sec, "local_time") > 0)
		lg->lg_local_time = cfg_getbool(sec, "local_time") == cfg_true;
	if (cfg_size(sec, "dir") > 0)
		lg->lg_dir = conf_norm_path(cfg_getstr(sec, "dir"));
	else if (site != NULL && def->lg_dir != NULL)
		lg->lg_dir = conf_site_log_dir(def->lg_dir, cfg_title(site));
	else
		log_warnx("conf_build_log: no directory");
	return lg->lg_dir != NULL ? 0 : -1;
}

/* The top-level log section: the server-wide keys and the sites' defaults. */
static int
conf_build_logging(cfg_t *root, struct hsd_config *cf)
{
	cfg_t	*sec = cfg_getsec(root, "log");

	if (conf_build_log(sec, &conf_log_builtin, NULL, &cf->cf_log) == -1)
		return -1;
	if ((cf->cf_httperr_dir = conf_join(cf->cf_log.lg_dir, "HTTPERR")) ==
	    NULL)
		return -1;
	if (conf_parse_size(cfg_getstr(sec, "httperr_max_size"),
	    &cf->cf_httperr_max_size) == -1 ||
	    conf_parse_size(cfg_getstr(sec, "log_buffer"),
	    &cf->cf_log_buffer) == -1 ||
	    conf_parse_duration(cfg_getstr(sec, "flush_interval"),
	    &cf->cf_flush_interval_ms) == -1)
		return -1;
	return 0;
}

static int
conf_build_sites(cfg_t *root, struct hsd_config *cf)
{
	struct conf_site	*st;
	cfg_t			*site;
	const char		*s;
	unsigned int		 n, i, nbind = 0;
	int			*lines = NULL, rv = -1;

	if ((n = cfg_size(root, "site")) == 0) {
		conf_err(0, NULL, NULL, "no site is defined");
		return -1;
	}
	for (i = 0; i < n; i++)
		nbind += cfg_size(cfg_getnsec(root, "site", i), "bindings");
	if ((cf->cf_sites = calloc(n, sizeof(*st))) == NULL ||
	    (cf->cf_bindings = calloc(nbind ? nbind : 1,
	    sizeof(*cf->cf_bindings))) == NULL ||
	    (lines = calloc(nbind ? nbind : 1, sizeof(*lines))) == NULL) {
		log_warn("conf_build_sites: calloc");
		goto fail;
	}
	for (i = 0; i < n; i++) {
		site = cfg_getnsec(root, "site", i);
		st = &cf->cf_sites[cf->cf_nsites++];
		if ((st->st_name = conf_strdup(cfg_title(site))) == NULL)
			goto fail;
		if ((s = cfg_getstr(site, "root")) == NULL) {
			conf_err(conf_sec_line(site), site, NULL,
			    "root: a site needs a root directory");
			goto fail;
		}
		if ((st->st_root = conf_dir(s, conf_key_line(site, "root", 0),
		    site, NULL)) == NULL)
			goto fail;
		s = cfg_getstr(site, "pool");
		if (conf_find_pool(cf, s, &st->st_pool) == -1) {
			conf_err(conf_key_line(site, "pool", 0), site, NULL,
			    "pool \"%s\" is not defined", s);
			goto fail;
		}
		if (conf_check_chroot(cf, st->st_pool, st->st_root, "root",
		    conf_key_line(site, "root", 0), site, NULL) == -1)
			goto fail;
		if (conf_parse_size(cfg_getstr(site, "max_body_size"),
		    &st->st_max_body) == -1)
			goto fail;
		st->st_cache = cfg_getbool(site, "cache") == cfg_true;
		if ((s = cfg_getstr(site, "front_controller")) != NULL &&
		    (st->st_front = conf_strdup(s)) == NULL)
			goto fail;
		if ((st->st_handler = conf_choice("handler",
		    cfg_getstr(site, "handler"))) == -1 ||
		    conf_parse_duration(cfg_getstr(site, "cgi_timeout"),
		    &st->st_cgi_timeout_ms) == -1 ||
		    conf_build_fastcgi(site, 0, &st->st_fastcgi) == -1 ||
		    conf_build_module(site, 0, &st->st_module) == -1 ||
		    conf_build_extmap(site, NULL, 0, &st->st_extmap) == -1)
			goto fail;
		if (conf_build_bindings(site, i, cf, lines) == -1 ||
		    conf_build_apps(site, st, cf) == -1 ||
		    conf_check_front(site, st) == -1 ||
		    conf_check_fastcgi(cf, site, i, st) == -1 ||
		    conf_check_module(site, st) == -1)
			goto fail;
		if (conf_build_log(cfg_getsec(site, "log"), &cf->cf_log, site,
		    &st->st_log) == -1)
			goto fail;
	}
	rv = 0;
fail:
	free(lines);
	return rv;
}

/*
 * Linux will not bind a specific address and the wildcard on one port of
 * one family, so a specific binding rides on the wildcard's socket and
 * routing tells them apart by the connection's local address.
 */
static int
conf_build_listens(struct hsd_config *cf)
{
	struct conf_binding	*bd, *w;
	struct conf_listen	*ls;
	uint32_t		 i, j;
	int			 any;

	if ((cf->cf_listens = calloc(cf->cf_nbindings ? cf->cf_nbindings : 1,
	    sizeof(*ls))) == NULL) {
		log_warn("conf_build_listens: calloc");
		return -1;
	}
	for (i = 0; i < cf->cf_nbindings; i++) {
		bd = &cf->cf_bindings[i];
		any = bd->bd_any;
		for (j = 0; j < cf->cf_nbindings && !any; j++) {
			w = &cf->cf_bindings[j];
			if (w->bd_any && w->bd_port == bd->bd_port &&
			    w->bd_addr.ss_family == bd->bd_addr.ss_family)
				any = 1;
		}
		for (j = 0; j < cf->cf_nlistens; j++) {
			ls = &cf->cf_listens[j];
			if (ls->ls_port != bd->bd_port ||
			    ls->ls_addr.ss_family != bd->bd_addr.ss_family ||
			    ls->ls_any != any)
				continue;
			if (any || conf_same_addr(&ls->ls_addr, &bd->bd_addr))
				break;
		}
		if (j == cf->cf_nlistens) {
			ls = &cf->cf_listens[cf->cf_nlistens++];
			ls->ls_addr = bd->bd_addr;
			ls->ls_addrlen = bd->bd_addrlen;
			ls->ls_port = bd->bd_port;
			ls->ls_any = any;
			if (any) {
				/* The binding's port, the wildcard address. */
				if (ls->ls_addr.ss_family == AF_INET)
					((struct sockaddr_in *)&ls->ls_addr)->
					    sin_addr.s_addr = htonl(INADDR_ANY);
				else
					((struct sockaddr_in6 *)&ls->ls_addr)->
					    sin6_addr = in6addr_any;
			}
		}
		bd->bd_listen = j;
	}
	return 0;
}

/*
 * Limits that pass their own ranges can still fail together: the listener
 * hands a request over in one message.  Checked here, where -t and every
 * process load the file, rather than when the listener starts.
 */
static int
conf_check_limits(cfg_t *lim, const struct conf_limits *lm)
{
	uint64_t	room;
	int		line, l2;

	if (conf_request_buf(lm) + lm->max_field_length +
	    sizeof(struct msg_handoff) <= MSG_PAYLOAD_MAX)
		return 0;
	/* The key written last is the one that tipped it. */
	line = conf_key_line(lim, "max_request_bytes", 0);
	if ((l2 = conf_key_line(lim, "max_field_length", 0)) > line)
		line = l2;
	room = MSG_PAYLOAD_MAX - CONF_BODY_SLACK - sizeof(struct msg_handoff);
	conf_err(line, lim, NULL, "max_request_bytes (%llu) and "
	    "max_field_length (%llu) together must not exceed %llu bytes, "
	    "what one handoff to a worker can carry",
	    (unsigned long long)lm->max_request_bytes,
	    (unsigned long long)lm->max_field_length,
	    (unsigned long long)room);
	return -1;
}

/*
 * An entry's body must fit in the memory all entries share.  Checked once
 * the section is read, so it holds whichever key is written first.
 */
static int
conf_check_cache(cfg_t *sec, const struct conf_cache *cc)
{
	int	line, l2;

	if (cc->cc_max_entry <= cc->cc_max_memory)
		return 0;
	/* The key written last is the one that tipped it. */
	line = conf_key_line(sec, "max_entry_size", 0);
	if ((l2 = conf_key_line(sec, "max_memory", 0)) > line)
		line = l2;
	conf_err(line, sec, NULL, "max_entry_size (%llu) must not exceed "
	    "max_memory (%llu)", (unsigned long long)cc->cc_max_entry,
	    (unsigned long long)cc->cc_max_memory);
	return -1;
}

static int
conf_build_cache(cfg_t *root, struct conf_cache *cc)
{
	cfg_t	*sec = cfg_getsec(root, "cache");

	cc->cc_enabled = cfg_getbool(sec, "enabled") == cfg_true;
	cc->cc_allow_query = cfg_getbool(sec, "allow_query") == cfg_true;
	cc->cc_allow_cookies = cfg_getbool(sec, "allow_cookies") == cfg_true;
	/* Every value passed its validation callback or is a default. */
	if (conf_parse_size(cfg_getstr(sec, "max_memory"),
	    &cc->cc_max_memory) == -1 ||
	    conf_parse_size(cfg_getstr(sec, "max_entry_size"),
	    &cc->cc_max_entry) == -1 ||
	    conf_parse_size(cfg_getstr(sec, "max_header_size"),
	    &cc->cc_max_header) == -1 ||
	    conf_parse_duration(cfg_getstr(sec, "activity_period"),
	    &cc->cc_activity_ms) == -1 ||
	    conf_parse_duration(cfg_getstr(sec, "scavenger_period"),
	    &cc->cc_scavenger_ms) == -1 ||
	    conf_parse_duration(cfg_getstr(sec, "max_ttl"),
	    &cc->cc_max_ttl_ms) == -1)
		return -1;
	return conf_check_cache(sec, cc);
}

static int
conf_build(cfg_t *root, struct hsd_config *cf)
{
	struct conf_limits	*lm = &cf->cf_limits;
	cfg_t			*lim;
	const char		*s;
	size_t			 len;

	if ((s = cfg_getstr(root, "run_dir")) != NULL)
		cf->cf_run_dir = conf_strdup(s);
	else if (conf_cur->cp_flags & CONF_LOAD_NOFS)
		cf->cf_run_dir = conf_strdup("");
	else if ((cf->cf_run_dir = conf_default_run_dir(geteuid(),
	    getenv("XDG_RUNTIME_DIR"))) == NULL)
		log_warn("conf_build: run_dir");
	/* "/run/hsd/" would let open() follow a symlink despite O_NOFOLLOW. */
	if (cf->cf_run_dir != NULL) {
		len = strlen(cf->cf_run_dir);
		while (len > 1 && cf->cf_run_dir[len - 1] == '/')
			cf->cf_run_dir[--len] = '\0';
	}
	cf->cf_libexec_dir = conf_strdup(cfg_getstr(root, "libexec_dir"));
	cf->cf_chroot_dir = conf_strdup(cfg_getstr(root, "chroot_dir"));
	cf->cf_body_temp_dir = conf_strdup(cfg_getstr(root, "body_temp_dir"));
	if (cf->cf_run_dir == NULL || cf->cf_libexec_dir == NULL ||
	    cf->cf_chroot_dir == NULL || cf->cf_body_temp_dir == NULL)
		return -1;
	if (conf_build_ident(root, NULL, &cf->cf_ident) == -1)
		return -1;
	/* Every value below passed its validation callback or is a default. */
	if (conf_parse_duration(cfg_getstr(root, "shutdown_timeout"),
	    &cf->cf_shutdown_timeout_ms) == -1)
		return -1;
	lim = cfg_getsec(root, "limits");
	lm->max_connections = cfg_getint(lim, "max_connections");
	if (conf_parse_duration(cfg_getstr(lim, "connection_timeout"),
	    &lm->connection_timeout_ms) == -1 ||
	    conf_parse_duration(cfg_getstr(lim, "header_wait_timeout"),
	    &lm->header_wait_timeout_ms) == -1 ||
	    conf_parse_size(cfg_getstr(lim, "max_request_bytes"),
	    &lm->max_request_bytes) == -1 ||
	    conf_parse_size(cfg_getstr(lim, "max_field_length"),
	    &lm->max_field_length) == -1 ||
	    conf_parse_duration(cfg_getstr(lim, "entity_body_timeout"),
	    &lm->entity_body_timeout_ms) == -1)
		return -1;
	lm->min_body_rate = cfg_getint(lim, "min_body_rate");
	lm->min_send_rate = cfg_getint(lim, "min_send_rate");
	if (conf_check_limits(lim, lm) == -1)
		return -1;
	if (conf_build_cache(root, &cf->cf_cache) == -1)
		return -1;
	cf->cf_shared = strcmp(cfg_getstr(root, "isolation"), "shared") == 0;
	if (conf_build_pools(root, cf) == -1)
		return -1;
	if (cf->cf_shared)
		conf_shared_pools(cf);
	/* Before the sites, whose log sections default to it. */
	if (conf_build_logging(root, cf) == -1)
		return -1;
	if (conf_build_sites(root, cf) == -1 ||
	    conf_build_listens(cf) == -1)
		return -1;
	return 0;
}

/*
 * Comments blanked out, newlines kept: libconfuse 3.3 counts a comment's
 * line more than once, so every error after a comment named the wrong
 * line.  '#' and '//' to the end of the line and '/' '*' to '*' '/'
 * outside quoted strings, as libconfuse reads them.
 */
static void
conf_blank_comments(char *s)
{
	char	quote = 0;

	for (; *s != '\0'; s++) {
		if (quote) {
			if (*s == '\\' && s[1] != '\0')
				s++;
			else if (*s == quote)
				quote = 0;
		} else if (*s == '"' || *s == '\'')
			quote = *s;
		else if (*s == '#' || (s[0] == '/' && s[1] == '/')) {
			for (; *s != '\0' && *s != '\n'; s++)
				*s = ' ';
			if (*s == '\0')
				break;
		} else if (s[0] == '/' && s[1] == '*') {
			*s++ = ' ';
			*s = ' ';
			for (s++; *s != '\0' && !(s[0] == '*' && s[1] == '/');
			    s++)
				if (*s != '\n')
					*s = ' ';
			if (*s == '\0')
				break;
			*s++ = ' ';
			*s = ' ';
		}
	}
}

int
conf_load_buf(const char *text, const char *name, struct hsd_config **out)
{
	return conf_load_text(text, name, 0, out);
}

int
conf_load_text(const char *text, const char *name, int flags,
    struct hsd_config **out)
{
	struct conf_parse	 cp;
	struct hsd_config	*cf = NULL;
	cfg_t			*root = NULL;
	FILE			*fp = NULL;
	char			*copy = NULL;
	size_t			 i;
	int			 rv = -1, ret;

	*out = NULL;
	if (text == NULL)
		text = "";
	memset(&cp, 0, sizeof(cp));
	cp.cp_name = name;
	cp.cp_flags = flags;
	conf_cur = &cp;

	if ((root = cfg_init(conf_opts, CFGF_NONE)) == NULL) {
		log_warn("conf_load_text: cfg_init");
		goto fail;
	}
	cp.cp_root = root;
	cfg_set_error_function(root, conf_cfg_error);
	for (i = 0; i < sizeof(conf_validators) / sizeof(conf_validators[0]);
	    i++)
		cfg_set_validate_func(root, conf_validators[i].cv_path,
		    conf_validators[i].cv_func);

	/*
	 * cfg_parse_buf() would name the text "[buf]" in libconfuse's own
	 * bookkeeping; reading it as a stream keeps the name we were given.
	 */
	free(root->filename);
	if ((root->filename = strdup(name)) == NULL) {
		log_warn("conf_load_text: strdup");
		goto fail;
	}
	if (*text != '\0') {
		if ((copy = strdup(text)) == NULL) {
			log_warn("conf_load_text: strdup");
			goto fail;
		}
		conf_blank_comments(copy);
		if ((fp = fmemopen(copy, strlen(copy), "r")) == NULL) {
			log_warn("conf_load_text: fmemopen");
			goto fail;
		}
		ret = cfg_parse_fp(root, fp);
		fclose(fp);
		if (ret != CFG_SUCCESS) {
			if (cp.cp_errors == 0)
				log_warnx("%s: cannot be parsed", name);
			goto fail;
		}
	}

	if ((cf = calloc(1, sizeof(*cf))) == NULL) {
		log_warn("conf_load_text: calloc");
		goto fail;
	}
	if (conf_build(root, cf) == -1)
		goto fail;
	*out = cf;
	cf = NULL;
	rv = 0;
fail:
	conf_free(cf);
	if (root != NULL)
		cfg_free(root);
	free(copy);
	free(cp.cp_marks);
	conf_cur = NULL;
	return rv;
}

int
conf_load_file(const char *path, struct hsd_config **out)
{
	FILE	*fp;
	char	*text = NULL;
	size_t	 len = 0, sz = 0, n;
	int	 rv;

	*out = NULL;
	if ((fp = fopen(path, "r")) == NULL) {
		log_warn("conf_load_file: %s", path);
		return -1;
	}
	for (;;) {
		if (sz - len < 4096) {
			char *t;

			sz = sz ? sz * 2 : 16384;
			if ((t = realloc(text, sz)) == NULL) {
				log_warn("conf_load_file: realloc");
				goto fail;
			}
			text = t;
		}
		n = fread(text + len, 1, sz - len - 1, fp);
		len += n;
		if (n == 0)
			break;
	}
	if (ferror(fp)) {
		log_warn("conf_load_file: %s", path);
		goto fail;
	}
	text[len] = '\0';
	if (strlen(text) != len) {
		log_warnx("conf_load_file: %s: contains a NUL byte", path);
		goto fail;
	}
	fclose(fp);
	rv = conf_load_buf(text, path, out);
	free(text);
	return rv;
fail:
	fclose(fp);
	free(text);
	return -1;
}

void
conf_free(struct hsd_config *cf)
{
	struct conf_app	*ap;
	uint32_t	 i, j;

	if (cf == NULL)
		return;
	free(cf->cf_run_dir);
	free(cf->cf_libexec_dir);
	free(cf->cf_body_temp_dir);
	free(cf->cf_chroot_dir);
	free(cf->cf_ident.id_user);
	free(cf->cf_ident.id_group);
	free(cf->cf_log.lg_dir);
	free(cf->cf_httperr_dir);
	for (i = 0; i < cf->cf_npools; i++) {
		free(cf->cf_pools[i].pl_name);
		free(cf->cf_pools[i].pl_ident.id_user);
		free(cf->cf_pools[i].pl_ident.id_group);
		free(cf->cf_pools[i].pl_chroot);
		free(cf->cf_pools[i].pl_recycle_at);
	}
	free(cf->cf_pools);
	for (i = 0; i < cf->cf_nsites; i++) {
		free(cf->cf_sites[i].st_name);
		free(cf->cf_sites[i].st_root);
		free(cf->cf_sites[i].st_front);
		for (j = 0; j < cf->cf_sites[i].st_napps; j++) {
			ap = &cf->cf_sites[i].st_apps[j];
			free(ap->ap_prefix);
			free(ap->ap_root);
			free(ap->ap_front);
			conf_fastcgi_free(&ap->ap_fastcgi);
			conf_module_free(&ap->ap_module);
			conf_extmap_free(&ap->ap_extmap);
		}
		conf_fastcgi_free(&cf->cf_sites[i].st_fastcgi);
		conf_module_free(&cf->cf_sites[i].st_module);
		conf_extmap_free(&cf->cf_sites[i].st_extmap);
		free(cf->cf_sites[i].st_apps);
		free(cf->cf_sites[i].st_log.lg_dir);
	}
	free(cf->cf_sites);
	for (i = 0; i < cf->cf_nbindings; i++) {
		free(cf->cf_bindings[i].bd_host);
		free(cf->cf_bindings[i].bd_text);
	}
	free(cf->cf_bindings);
	free(cf->cf_listens);
	free(cf);
}

/* Routing: on the listener's hot path, so no allocation. */

static int
conf_local_match(const struct conf_binding *bd, const struct sockaddr *local)
{
	const struct sockaddr_in	*l4, *b4;
	const struct sockaddr_in6	*l6, *b6;

	if (local->sa_family != bd->bd_addr.ss_family)
		return 0;
	if (local->sa_family == AF_INET) {
		l4 = (const struct sockaddr_in *)local;
		b4 = (const struct sockaddr_in *)&bd->bd_addr;
		if (ntohs(l4->sin_port) != bd->bd_port)
			return 0;
		return bd->bd_any ? 1 :
		    (l4->sin_addr.s_addr == b4->sin_addr.s_addr ? 2 : 0);
	}
	if (local->sa_family == AF_INET6) {
		l6 = (const struct sockaddr_in6 *)local;
		b6 = (const struct sockaddr_in6 *)&bd->bd_addr;
		if (ntohs(l6->sin6_port) != bd->bd_port)
			return 0;
		return bd->bd_any ? 1 : (memcmp(&l6->sin6_addr,
		    &b6->sin6_addr, sizeof(l6->sin6_addr)) == 0 ? 2 : 0);
	}
	return 0;
}

int
conf_route_site(const struct hsd_config *cf, const struct sockaddr *local,
    const char *host, size_t hostlen)
{
	const struct conf_binding	*bd;
	const char			*end;
	uint32_t			 i;
	int				 m, rank, best = 0, site = -1;

	/* Host without its port: "example.com:8080", "[::1]:8080". */
	if (host == NULL)
		hostlen = 0;
	if (hostlen > 0 && host[0] == '[') {
		if ((end = memchr(host, ']', hostlen)) != NULL)
			hostlen = end - host + 1;
	} else if (hostlen > 0 && (end = memchr(host, ':', hostlen)) != NULL)
		hostlen = end - host;
	if (hostlen > 1 && host[hostlen - 1] == '.')
		hostlen--;

	for (i = 0; i < cf->cf_nbindings; i++) {
		bd = &cf->cf_bindings[i];
		if ((m = conf_local_match(bd, local)) == 0)
			continue;
		if (bd->bd_host == NULL)
			rank = m == 2 ? 3 : 1;
		else if (hostlen == strlen(bd->bd_host) &&
		    strncasecmp(host, bd->bd_host, hostlen) == 0)
			rank = m == 2 ? 4 : 2;
		else
			continue;
		if (rank > best) {
			best = rank;
			site = bd->bd_site;
		}
	}
	return site;
}

int
conf_route_app(const struct conf_site *st, const char *path, size_t len)
{
	const struct conf_app	*ap;
	uint32_t		 i;
	int			 app = -1;
	size_t			 best = 0;

	for (i = 0; i < st->st_napps; i++) {
		ap = &st->st_apps[i];
		if (len < ap->ap_prefix_len ||
		    memcmp(path, ap->ap_prefix, ap->ap_prefix_len) != 0)
			continue;
		/* On a segment boundary: "/api" is not a prefix of "/apix". */
		if (len > ap->ap_prefix_len && path[ap->ap_prefix_len] != '/')
			continue;
		if (app == -1 || ap->ap_prefix_len > best) {
			app = i;
			best = ap->ap_prefix_len;
		}
	}
	return app;
}

uint32_t
conf_route_pool(const struct conf_site *st, int app)
{
	if (app >= 0 && (uint32_t)app < st->st_napps)
		return st->st_apps[app].ap_pool;
	return st->st_pool;
}

uint64_t
conf_max_body(const struct conf_site *st, int app)
{
	if (app >= 0 && (uint32_t)app < st->st_napps)
		return st->st_apps[app].ap_max_body;
	return st->st_max_body;
}

/*
 * enabled = false wins over every site and application, so one line
 * turns the cache off everywhere; an application that does not say
 * follows its site, as its other keys do.
 */
int
conf_cacheable(const struct hsd_config *cf, const struct conf_site *st,
    int app)
{
	if (!cf->cf_cache.cc_enabled)
		return 0;
	if (app >= 0 && (uint32_t)app < st->st_napps &&
	    st->st_apps[app].ap_cache != -1)
		return st->st_apps[app].ap_cache != 0;
	return st->st_cache != 0;
}

int
conf_handler(const struct conf_site *st, int app)
{
	if (app >= 0 && (uint32_t)app < st->st_napps &&
	    st->st_apps[app].ap_handler != -1)
		return st->st_apps[app].ap_handler;
	return st->st_handler;
}

/* The script maps for site/app: the application's if it writes any. */
static const struct conf_extmap *
conf_extmap(const struct conf_site *st, int app)
{
	if (app >= 0 && (uint32_t)app < st->st_napps &&
	    st->st_apps[app].ap_extmap.em_cgi != NULL)
		return &st->st_apps[app].ap_extmap;
	return &st->st_extmap;
}

/*
 * The length of the longest extension of v that the len bytes at name
 * end in, 0 if none: of ".php" and ".inc.php", "a.inc.php" is the
 * second's.
 */
static size_t
conf_ext_match(char *const *v, const char *name, size_t len)
{
	size_t	i, n, best = 0;

	for (i = 0; v[i] != NULL; i++) {
		n = strlen(v[i]);
		if (n <= len && n > best &&
		    memcmp(name + len - n, v[i], n) == 0)
			best = n;
	}
	return best;
}

int
conf_handler_path(const struct conf_site *st, int app, const char *path,
    size_t len)
{
	const struct conf_extmap	*em;
	size_t				 end, c, f;
	int				 h;

	if ((h = conf_handler(st, app)) != CONF_HANDLER_STATIC)
		return h;
	em = conf_extmap(st, app);
	if (em->em_cgi[0] == NULL && em->em_fastcgi[0] == NULL)
		return h;
	/*
	 * Each component, by where it ends.  An extension holds no '/', so
	 * one that path[0..end) ends in lies within the last component;
	 * the bytes compared are the file system's, hence the case too.
	 */
	for (end = 1; end <= len; end++) {
		if (end < len && path[end] != '/')
			continue;
		c = conf_ext_match(em->em_cgi, path, end);
		f = conf_ext_match(em->em_fastcgi, path, end);
		if (c > 0 || f > 0)
			return c > f ? CONF_HANDLER_CGI : CONF_HANDLER_FASTCGI;
	}
	return h;
}

int
conf_uses(const struct conf_site *st, int app, int handler)
{
	const struct conf_extmap	*em;
	int				 h;

	if ((h = conf_handler(st, app)) == handler)
		return 1;
	if (h != CONF_HANDLER_STATIC)
		return 0;
	em = conf_extmap(st, app);
	if (handler == CONF_HANDLER_CGI)
		return em->em_cgi[0] != NULL;
	if (handler == CONF_HANDLER_FASTCGI)
		return em->em_fastcgi[0] != NULL;
	return 0;
}

const char *
conf_front_controller(const struct conf_site *st, int app)
{
	if (app >= 0)
		return st->st_apps[app].ap_front;
	return st->st_front;
}

uint64_t
conf_cgi_timeout(const struct conf_site *st, int app)
{
	if (app >= 0 && (uint32_t)app < st->st_napps)
		return st->st_apps[app].ap_cgi_timeout_ms;
	return st->st_cgi_timeout_ms;
}

const struct conf_fastcgi *
conf_fastcgi(const struct conf_site *st, int app)
{
	if (app >= 0 && (uint32_t)app < st->st_napps &&
	    st->st_apps[app].ap_fastcgi.fc_set)
		return &st->st_apps[app].ap_fastcgi;
	return &st->st_fastcgi;
}

const struct conf_module *
conf_module(const struct conf_site *st, int app)
{
	if (app >= 0 && (uint32_t)app < st->st_napps &&
	    st->st_apps[app].ap_module.md_set)
		return &st->st_apps[app].ap_module;
	return &st->st_module;
}

/*
 * An application that follows its site shares the site's processes,
 * unless another pool serves it: its workers run as another user, who
 * may not connect to the site's socket, and a pool's application code
 * runs as that pool's user, which is what pools are for.
 */
int
conf_fastcgi_group(const struct conf_site *st, int app)
{
	const struct conf_app	*ap;

	if (app < 0 || (uint32_t)app >= st->st_napps)
		return -1;
	ap = &st->st_apps[app];
	return ap->ap_fastcgi.fc_set || ap->ap_pool != st->st_pool ? app : -1;
}

/* The pool manager and the workers each call this: a pure function. */
int
conf_fastcgi_socket(const struct hsd_config *cf, uint32_t site, int app,
    char *buf, size_t len)
{
	int	group, n;

	if (site >= cf->cf_nsites)
		return -1;
	group = conf_fastcgi_group(&cf->cf_sites[site], app);
	if (group < 0)
		n = snprintf(buf, len, "%s/%s/%u.site.sock", cf->cf_run_dir,
		    CONF_FASTCGI_DIR, site);
	else
		n = snprintf(buf, len, "%s/%s/%u.%d.sock", cf->cf_run_dir,
		    CONF_FASTCGI_DIR, site, group);
	return n < 0 || (size_t)n >= len ? -1 : 0;
}

/*
 * One rule for every process that reads (or throws away) a body, so the
 * listener and the workers cut clients off alike.  The rate is an average
 * over the whole body so far, so a burst cannot buy time for a trickle;
 * it is only judged once CONF_BODY_GRACE_MS have passed, so a client is
 * not cut off for a slow start (IIS and nginx judge rates the same way).
 */
int
conf_body_check(const struct conf_limits *lm, uint64_t start_ms,
    uint64_t now_ms, uint64_t got, uint64_t *wait_ms)
{
	uint64_t	el, next, check, secs, need;

	el = now_ms > start_ms ? now_ms - start_ms : 0;
	if (el >= lm->entity_body_timeout_ms)
		return -1;
	next = lm->entity_body_timeout_ms;
	if (lm->min_body_rate > 0) {
		if (el >= CONF_BODY_GRACE_MS) {
			secs = el / 1000;
			need = secs > UINT64_MAX / lm->min_body_rate ?
			    UINT64_MAX : secs * lm->min_body_rate;
			if (got < need)
				return -1;
			check = (secs + 1) * 1000;
		} else
			check = CONF_BODY_GRACE_MS;
		if (check < next)
			next = check;
	}
	*wait_ms = next - el;
	return 0;
}

const char *
conf_chroot_path(const char *dir, const char *path)
{
	size_t	len = strlen(dir);

	if (len == 1 && dir[0] == '/')
		return path;
	if (strncmp(path, dir, len) != 0)
		return NULL;
	if (path[len] == '\0')
		return "/";
	return path[len] == '/' ? path + len : NULL;
}

const char *
conf_map_path(const struct conf_site *st, int app, const char *path,
    const char **root)
{
	const struct conf_app	*ap;

	if (app >= 0 && (uint32_t)app < st->st_napps &&
	    st->st_apps[app].ap_root != NULL) {
		ap = &st->st_apps[app];
		*root = ap->ap_root;
		path += ap->ap_prefix_len;
		return *path == '\0' ? "/" : path;
	}
	*root = st->st_root;
	return path;
}

void
conf_timeval(uint64_t ms, struct timeval *tv)
{
	tv->tv_sec = ms / 1000;
	tv->tv_usec = (ms % 1000) * 1000;
}

/* Reload: what changed between two configurations. */

static int
conf_str_same(const char *a, const char *b)
{
	if (a == NULL || b == NULL)
		return a == b;
	return strcmp(a, b) == 0;
}

int
conf_find_listen(const struct hsd_config *cf, const struct sockaddr *sa)
{
	const struct conf_listen	*ls;
	struct sockaddr_storage		 ss;
	uint16_t			 port;
	uint32_t			 i;

	if (sa->sa_family == AF_INET)
		port = ntohs(((const struct sockaddr_in *)sa)->sin_port);
	else if (sa->sa_family == AF_INET6)
		port = ntohs(((const struct sockaddr_in6 *)sa)->sin6_port);
	else
		return -1;
	memset(&ss, 0, sizeof(ss));
	memcpy(&ss, sa, sa->sa_family == AF_INET ?
	    sizeof(struct sockaddr_in) : sizeof(struct sockaddr_in6));
	for (i = 0; i < cf->cf_nlistens; i++) {
		ls = &cf->cf_listens[i];
		if (ls->ls_port == port && conf_same_addr(&ls->ls_addr, &ss))
			return i;
	}
	return -1;
}

int
conf_site_routes_same(const struct hsd_config *a, uint32_t ai,
    const struct hsd_config *b, uint32_t bi)
{
	const struct conf_site	*sa = &a->cf_sites[ai], *sb = &b->cf_sites[bi];
	const struct conf_app	*pa, *pb;
	uint32_t		 i;

	if (strcmp(sa->st_name, sb->st_name) != 0 ||
	    strcmp(a->cf_pools[sa->st_pool].pl_name,
	    b->cf_pools[sb->st_pool].pl_name) != 0 ||
	    sa->st_max_body != sb->st_max_body ||
	    sa->st_napps != sb->st_napps)
		return 0;
	for (i = 0; i < sa->st_napps; i++) {
		pa = &sa->st_apps[i];
		pb = &sb->st_apps[i];
		if (strcmp(pa->ap_prefix, pb->ap_prefix) != 0 ||
		    strcmp(a->cf_pools[pa->ap_pool].pl_name,
		    b->cf_pools[pb->ap_pool].pl_name) != 0 ||
		    (pa->ap_root == NULL) != (pb->ap_root == NULL) ||
		    pa->ap_max_body != pb->ap_max_body)
			return 0;
	}
	return 1;
}

int
conf_find_site(const struct hsd_config *cf, const char *name)
{
	uint32_t	i;

	for (i = 0; i < cf->cf_nsites; i++)
		if (strcmp(cf->cf_sites[i].st_name, name) == 0)
			return i;
	return -1;
}

int
conf_pool_index(const struct hsd_config *cf, const char *name)
{
	uint32_t	i;

	for (i = 0; i < cf->cf_npools; i++)
		if (strcmp(cf->cf_pools[i].pl_name, name) == 0)
			return i;
	return -1;
}

/* Whether site i of cf sends any request to the pool named pool. */
static int
conf_site_uses(const struct hsd_config *cf, uint32_t i, const char *pool)
{
	const struct conf_site	*st = &cf->cf_sites[i];
	uint32_t		 j;

	if (strcmp(cf->cf_pools[st->st_pool].pl_name, pool) == 0)
		return 1;
	for (j = 0; j < st->st_napps; j++)
		if (strcmp(cf->cf_pools[st->st_apps[j].ap_pool].pl_name,
		    pool) == 0)
			return 1;
	return 0;
}

static int
conf_strv_same(char *const *a, char *const *b)
{
	size_t	i;

	for (i = 0; a[i] != NULL && b[i] != NULL; i++)
		if (strcmp(a[i], b[i]) != 0)
			return 0;
	return a[i] == NULL && b[i] == NULL;
}

static int
conf_fastcgi_same(const struct conf_fastcgi *a, const struct conf_fastcgi *b)
{
	return conf_str_same(a->fc_address, b->fc_address) &&
	    conf_str_same(a->fc_command, b->fc_command) &&
	    conf_strv_same(a->fc_args, b->fc_args) &&
	    conf_strv_same(a->fc_env, b->fc_env) &&
	    a->fc_processes == b->fc_processes &&
	    a->fc_connections == b->fc_connections &&
	    conf_strv_same(a->fc_params, b->fc_params);
}

/*
 * Whether requests routed to site/app (app -1: none) are answered alike
 * in site ai of a and bi of b: the same handler, for a CGI the same time
 * limit, for FastCGI the same settings and, for a command, the same
 * socket: a worker connects to the path its own configuration gives.  A
 * module is loaded and given its arguments when a worker starts: the
 * same file, the same arguments in the same order, the same time limit.
 * Where the handler is static, the same script maps, and for the
 * handlers they send paths to, what those need.
 */
static int
conf_handler_same(const struct hsd_config *a, uint32_t ai,
    const struct hsd_config *b, uint32_t bi, int app)
{
	const struct conf_site	*sa = &a->cf_sites[ai], *sb = &b->cf_sites[bi];
	char			 pa[PATH_MAX], pb[PATH_MAX];

	if (conf_handler(sa, app) != conf_handler(sb, app) ||
	    !conf_str_same(conf_front_controller(sa, app),
	    conf_front_controller(sb, app)))
		return 0;
	switch (conf_handler(sa, app)) {
	case CONF_HANDLER_CGI:
		return conf_cgi_timeout(sa, app) == conf_cgi_timeout(sb, app);
	case CONF_HANDLER_STATIC:
		if (!conf_strv_same(conf_extmap(sa, app)->em_cgi,
		    conf_extmap(sb, app)->em_cgi) ||
		    !conf_strv_same(conf_extmap(sa, app)->em_fastcgi,
		    conf_extmap(sb, app)->em_fastcgi))
			return 0;
		if (conf_uses(sa, app, CONF_HANDLER_CGI) &&
		    conf_cgi_timeout(sa, app) != conf_cgi_timeout(sb, app))
			return 0;
		if (!conf_uses(sa, app, CONF_HANDLER_FASTCGI))
			return 1;
		/* FALLTHROUGH */
	case CONF_HANDLER_FASTCGI:
		if (!conf_fastcgi_same(conf_fastcgi(sa, app),
		    conf_fastcgi(sb, app)))
			return 0;
		if (conf_fastcgi(sa, app)->fc_command == NULL)
			return 1;
		return conf_fastcgi_socket(a, ai, app, pa, sizeof(pa)) == 0 &&
		    conf_fastcgi_socket(b, bi, app, pb, sizeof(pb)) == 0 &&
		    strcmp(pa, pb) == 0;
	case CONF_HANDLER_MODULE:
		return conf_cgi_timeout(sa, app) == conf_cgi_timeout(sb, app) &&
		    conf_str_same(conf_module(sa, app)->md_path,
		    conf_module(sb, app)->md_path) &&
		    conf_strv_same(conf_module(sa, app)->md_args,
		    conf_module(sb, app)->md_args);
	default:
		return 1;
	}
}

/*
 * Every site of a that uses the pool is in b and routes the same, and
 * the roots the pool's workers serve there are the same: the site's own
 * for the paths the pool serves, an application's for its prefix.  So
 * are the handlers, CGI time limits and FastCGI settings of those paths.
 * A root or a handler only another pool serves is that pool's business.
 */
static int
conf_sites_same_for(const struct hsd_config *a, const struct hsd_config *b,
    const char *pool)
{
	const struct conf_site	*sa, *sb;
	const char		*apool;
	uint32_t		 i, j;
	int			 k, own;

	for (i = 0; i < a->cf_nsites; i++) {
		if (!conf_site_uses(a, i, pool))
			continue;
		sa = &a->cf_sites[i];
		if ((k = conf_find_site(b, sa->st_name)) == -1 ||
		    !conf_site_routes_same(a, i, b, k))
			return 0;
		sb = &b->cf_sites[k];
		own = strcmp(a->cf_pools[sa->st_pool].pl_name, pool) == 0;
		if (own && !conf_handler_same(a, i, b, k, -1))
			return 0;
		for (j = 0; j < sa->st_napps; j++) {
			apool = a->cf_pools[sa->st_apps[j].ap_pool].pl_name;
			if (strcmp(apool, pool) != 0)
				continue;
			if (!conf_handler_same(a, i, b, k, j))
				return 0;
			if (sa->st_apps[j].ap_root == NULL)
				own = 1;	/* it serves the site's root */
			else if (strcmp(sa->st_apps[j].ap_root,
			    sb->st_apps[j].ap_root) != 0)
				return 0;
		}
		if (own && strcmp(sa->st_root, sb->st_root) != 0)
			return 0;
	}
	return 1;
}

int
conf_pool_same(const struct hsd_config *a, uint32_t ai,
    const struct hsd_config *b, uint32_t bi)
{
	const struct conf_pool	*pa = &a->cf_pools[ai], *pb = &b->cf_pools[bi];
	uint32_t		 i;

	if (memcmp(&a->cf_limits, &b->cf_limits, sizeof(a->cf_limits)) != 0 ||
	    a->cf_shared != b->cf_shared ||
	    strcmp(a->cf_body_temp_dir, b->cf_body_temp_dir) != 0)
		return 0;
	if (strcmp(pa->pl_name, pb->pl_name) != 0 ||
	    pa->pl_workers != pb->pl_workers ||
	    pa->pl_queue_length != pb->pl_queue_length ||
	    pa->pl_concurrency != pb->pl_concurrency ||
	    pa->pl_cgi_max_children != pb->pl_cgi_max_children ||
	    pa->pl_start_always != pb->pl_start_always ||
	    pa->pl_ident.id_uid != pb->pl_ident.id_uid ||
	    pa->pl_ident.id_gid != pb->pl_ident.id_gid ||
	    !conf_str_same(pa->pl_chroot, pb->pl_chroot) ||
	    pa->pl_ping_interval_ms != pb->pl_ping_interval_ms ||
	    pa->pl_ping_timeout_ms != pb->pl_ping_timeout_ms ||
	    pa->pl_startup_timeout_ms != pb->pl_startup_timeout_ms ||
	    pa->pl_shutdown_timeout_ms != pb->pl_shutdown_timeout_ms ||
	    pa->pl_recycle_requests != pb->pl_recycle_requests ||
	    pa->pl_recycle_time_ms != pb->pl_recycle_time_ms ||
	    pa->pl_recycle_memory != pb->pl_recycle_memory ||
	    pa->pl_nrecycle_at != pb->pl_nrecycle_at ||
	    pa->pl_idle_timeout_ms != pb->pl_idle_timeout_ms ||
	    pa->pl_fastcgi_retry_ms != pb->pl_fastcgi_retry_ms ||
	    pa->pl_rapid_fail_max != pb->pl_rapid_fail_max ||
	    pa->pl_rapid_fail_interval_ms != pb->pl_rapid_fail_interval_ms)
		return 0;
	for (i = 0; i < pa->pl_nrecycle_at; i++)
		if (pa->pl_recycle_at[i] != pb->pl_recycle_at[i])
			return 0;
	return conf_sites_same_for(a, b, pa->pl_name) &&
	    conf_sites_same_for(b, a, pa->pl_name);
}

const char *
conf_restart_key(const struct hsd_config *a, const struct hsd_config *b)
{
	if (strcmp(a->cf_run_dir, b->cf_run_dir) != 0)
		return "run_dir";
	if (strcmp(a->cf_libexec_dir, b->cf_libexec_dir) != 0)
		return "libexec_dir";
	if (strcmp(a->cf_chroot_dir, b->cf_chroot_dir) != 0)
		return "chroot_dir";
	if (a->cf_ident.id_uid != b->cf_ident.id_uid)
		return "user";
	if (a->cf_ident.id_gid != b->cf_ident.id_gid)
		return "group";
	if (a->cf_shared != b->cf_shared)
		return "isolation";
	if (a->cf_limits.max_request_bytes != b->cf_limits.max_request_bytes)
		return "limits.max_request_bytes";
	if (a->cf_limits.max_field_length != b->cf_limits.max_field_length)
		return "limits.max_field_length";
	return NULL;
}
