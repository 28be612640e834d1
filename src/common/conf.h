/*
 * The configuration: one schema (libconfuse) for every process.  The pool
 * manager parses the operator's file; children parse the very same text,
 * handed to them in a memfd, so every process sees one configuration.
 * After conf_load_*() the result is fully validated and resolved: pools
 * and sites refer to each other by index, bindings are parsed addresses,
 * durations are milliseconds and sizes bytes.
 */
#ifndef HSD_CONF_H
#define HSD_CONF_H

#include <sys/socket.h>
#include <sys/types.h>
#include <stddef.h>
#include <stdint.h>

struct conf_limits {
	uint32_t	 max_connections;	/* 0: unlimited */
	uint64_t	 connection_timeout_ms;
	uint64_t	 header_wait_timeout_ms;
	uint64_t	 max_request_bytes;	/* request line + headers */
	uint64_t	 max_field_length;	/* one header line */
	/* The whole body, counted from the end of the head; not re-armed. */
	uint64_t	 entity_body_timeout_ms;
	uint64_t	 min_body_rate;		/* bytes/s on average; 0: off */
	uint64_t	 min_send_rate;		/* bytes/s on average; 0: off */
};

/*
 * The request bytes the listener holds for one connection: a head of up
 * to max_request_bytes plus CONF_BODY_SLACK bytes of body that arrive
 * with it.  All of it, with the path (at most max_field_length), must fit
 * in one handoff message; conf_load_*() refuses limits that do not, so
 * every process can rely on it.
 */
#define CONF_BODY_SLACK		16384
#define conf_request_buf(lm)	((lm)->max_request_bytes + CONF_BODY_SLACK)

/* Who a process runs as when started as root. */
#define CONF_USER	"www-data"
#define CONF_CHROOT_DIR	"/var/empty/hsd"

struct conf_ident {
	char		*id_user;
	char		*id_group;
	uid_t		 id_uid;
	gid_t		 id_gid;
	/* Where user and group were written; 0: not written (a default). */
	int		 id_user_line;
	int		 id_group_line;
};

struct conf_pool {
	char		*pl_name;
	uint32_t	 pl_workers;
	uint32_t	 pl_queue_length;
	uint32_t	 pl_concurrency;	/* requests one worker holds at once */
	/* CGI programs one worker runs at once; more requests wait. */
	uint32_t	 pl_cgi_max_children;
	int		 pl_start_always;	/* start = "always"; else on demand */
	struct conf_ident pl_ident;		/* its workers run as */
	/*
	 * Its workers' chroot: absolute, normalised, NULL: none.  Every root
	 * its workers serve lies below it, as conf_load_*() checked.
	 */
	char		*pl_chroot;
	int		 pl_chroot_line;	/* where it was written */

	/* Health (IIS's pinging and time limits), milliseconds. */
	uint64_t	 pl_ping_interval_ms;
	uint64_t	 pl_ping_timeout_ms;
	uint64_t	 pl_startup_timeout_ms;
	uint64_t	 pl_shutdown_timeout_ms;
	/* Recycling; 0: that condition is off. */
	uint32_t	 pl_recycle_requests;
	uint64_t	 pl_recycle_time_ms;
	uint64_t	 pl_recycle_memory;	/* resident bytes */
	uint16_t	*pl_recycle_at;		/* local minutes after midnight */
	uint32_t	 pl_nrecycle_at;
	/* A worker that served nothing this long is stopped and not
	 * replaced until a request asks; 0: never. */
	uint64_t	 pl_idle_timeout_ms;
	/* A FastCGI server that refuses connections is tried again for
	 * this long before the request gets 503; 0: 503 at once. */
	uint64_t	 pl_fastcgi_retry_ms;
	/* Rapid-fail protection: this many worker failures within the
	 * interval take the pool offline; 0: off. */
	uint32_t	 pl_rapid_fail_max;
	uint64_t	 pl_rapid_fail_interval_ms;
};

/* IIS 6's defaults: 5 failures within 5 minutes. */
#define CONF_RAPID_FAIL_MAX		5
#define CONF_RAPID_FAIL_MAX_MAX		10000
#define CONF_RAPID_FAIL_INTERVAL	"5m"

/* One distinct listening address; bindings share it when ip:port match. */
struct conf_listen {
	struct sockaddr_storage	 ls_addr;
	socklen_t		 ls_addrlen;
	int			 ls_any;	/* bound to the wildcard address */
	uint16_t		 ls_port;
};

struct conf_binding {
	struct sockaddr_storage	 bd_addr;	/* port set; address unset if bd_any */
	socklen_t		 bd_addrlen;
	int			 bd_any;	/* "*": any local address */
	uint16_t		 bd_port;
	char			*bd_host;	/* lowercase, NULL: any Host */
	uint32_t		 bd_site;	/* site index */
	uint32_t		 bd_listen;	/* index in conf_listen */
	char			*bd_text;	/* as written, for messages */
};

/*
 * What answers a site's or an application's requests: its files, the
 * CGI/1.1 program (RFC 3875) each path names, a FastCGI application
 * (struct conf_fastcgi), or a handler module loaded into the worker
 * (struct conf_module).  The words of the handler key, in this order.
 */
enum conf_handler {
	CONF_HANDLER_STATIC,	/* "static" */
	CONF_HANDLER_CGI,	/* "cgi" */
	CONF_HANDLER_FASTCGI,	/* "fastcgi" */
	CONF_HANDLER_MODULE,	/* "module" */
};

/*
 * A FastCGI application: a server of its own the workers connect to
 * (fc_address), or a command hsd-poolmgr runs fc_processes copies of,
 * each accept()ing on fd 0, a listening socket it owns
 * (conf_fastcgi_socket()).  Read it through conf_fastcgi(): there
 * fc_args, fc_env and fc_params are never NULL.  Where the handler is "fastcgi",
 * exactly one of fc_address and fc_command is set (conf_load_*()
 * checked it).
 */
struct conf_fastcgi {
	char		*fc_address;	/* "unix:/path" or "host:port"; NULL with fc_command */
	char		*fc_command;	/* absolute; NULL: fc_address is an external server */
	char		**fc_args;	/* NULL-terminated */
	char		**fc_env;	/* NULL-terminated "NAME=value" */
	char		**fc_params;	/* more PARAMS per request, the same */
	uint32_t	 fc_processes;
	uint32_t	 fc_connections; /* fc_address: kept per worker; 0: one per request */
	int		 fc_set;	/* the section wrote any fastcgi_ key */
};

#define CONF_FASTCGI_PROCESSES	4

/*
 * A handler module: the shared object each worker of the pool loads
 * (<hsd/module.h>) and the "key=value" arguments its init() gets.  Read
 * it through conf_module(): there md_args is never NULL.  Where the
 * handler is "module", md_path is set (conf_load_*() checked it).
 */
struct conf_module {
	char		*md_path;	/* absolute; NULL: none written */
	char		**md_args;	/* NULL-terminated "key=value" */
	int		 md_set;	/* the section wrote a module key */
};
#define CONF_FASTCGI_DIR	"fcgi"	/* below run_dir: the groups' sockets */

/*
 * Script maps, as IIS has them: where the handler is "static", a path
 * with a component ending in one of these extensions (".php", compared
 * case-sensitively) is answered by CGI or FastCGI instead.  Each list is
 * NULL-terminated; no extension is in both.  An application that writes
 * neither key has both NULL and follows its site (conf_handler_path());
 * one that writes either takes nothing of its site's.
 */
struct conf_extmap {
	char		**em_cgi;	/* cgi_extensions */
	char		**em_fastcgi;	/* fastcgi_extensions */
};

struct conf_app {
	char		*ap_prefix;	/* "/api", no trailing slash */
	size_t		 ap_prefix_len;
	uint32_t	 ap_pool;	/* pool index */
	char		*ap_root;	/* NULL: the site's root + full path */
	uint64_t	 ap_max_body;	/* 0: no limit; unset: the site's */
	int		 ap_cache;	/* cache = on/off; -1: the site's */
	int		 ap_handler;	/* enum conf_handler; -1: the site's */
	/* Unset: the site's, copied when loaded, so never 0. */
	uint64_t	 ap_cgi_timeout_ms;
	char		*ap_front;	/* front_controller, NULL: none */
	/* fc_set 0: none written, the site's applies (conf_fastcgi()). */
	struct conf_fastcgi ap_fastcgi;
	/* md_set 0: none written, the site's applies (conf_module()). */
	struct conf_module ap_module;
	/* Both lists NULL: neither written, the site's apply. */
	struct conf_extmap ap_extmap;
};

/*
 * Access logging (a site's log section, defaults from the top-level
 * one).  W3C fields are a bit set, written in IIS's order, the order of
 * enum conf_w3c_field.
 */
enum conf_log_format {
	CONF_LOG_OFF,
	CONF_LOG_W3C,
	CONF_LOG_NCSA,		/* Apache's common */
	CONF_LOG_COMBINED,	/* Apache's combined */
};

enum conf_rollover {
	CONF_ROLL_HOURLY,
	CONF_ROLL_DAILY,
	CONF_ROLL_WEEKLY,
	CONF_ROLL_MONTHLY,
	CONF_ROLL_SIZE,
};

enum conf_w3c_field {
	W3C_DATE,		/* "date" */
	W3C_TIME,		/* "time" */
	W3C_S_SITENAME,		/* "s-sitename" */
	W3C_S_COMPUTERNAME,	/* "s-computername" */
	W3C_S_IP,		/* "s-ip" */
	W3C_CS_METHOD,		/* "cs-method" */
	W3C_CS_URI_STEM,	/* "cs-uri-stem" */
	W3C_CS_URI_QUERY,	/* "cs-uri-query" */
	W3C_S_PORT,		/* "s-port" */
	W3C_CS_USERNAME,	/* "cs-username" */
	W3C_C_IP,		/* "c-ip" */
	W3C_CS_VERSION,		/* "cs-version" */
	W3C_CS_USER_AGENT,	/* "cs(User-Agent)" */
	W3C_CS_COOKIE,		/* "cs(Cookie)" */
	W3C_CS_REFERER,		/* "cs(Referer)" */
	W3C_CS_HOST,		/* "cs-host" */
	W3C_SC_STATUS,		/* "sc-status" */
	W3C_SC_SUBSTATUS,	/* "sc-substatus" */
	W3C_SC_WIN32_STATUS,	/* "sc-win32-status" */
	W3C_SC_BYTES,		/* "sc-bytes" */
	W3C_CS_BYTES,		/* "cs-bytes" */
	W3C_TIME_TAKEN,		/* "time-taken", milliseconds */
	W3C_NFIELDS
};

/* The names above, as written in the file and in #Fields. */
extern const char *const conf_w3c_names[W3C_NFIELDS];

/* What current IIS versions write by default. */
#define CONF_W3C_DEFAULT_FIELDS						\
	((1u << W3C_DATE) | (1u << W3C_TIME) | (1u << W3C_S_IP) |	\
	(1u << W3C_CS_METHOD) | (1u << W3C_CS_URI_STEM) |		\
	(1u << W3C_CS_URI_QUERY) | (1u << W3C_S_PORT) |			\
	(1u << W3C_CS_USERNAME) | (1u << W3C_C_IP) |			\
	(1u << W3C_CS_USER_AGENT) | (1u << W3C_CS_REFERER) |		\
	(1u << W3C_SC_STATUS) | (1u << W3C_SC_SUBSTATUS) |		\
	(1u << W3C_SC_WIN32_STATUS) | (1u << W3C_TIME_TAKEN))

struct conf_log {
	enum conf_log_format	 lg_format;
	char			*lg_dir;	/* absolute, normalised */
	uint32_t		 lg_fields;	/* 1 << W3C_* */
	enum conf_rollover	 lg_rollover;
	uint64_t		 lg_max_size;	/* bytes, for CONF_ROLL_SIZE */
	int			 lg_local_time;	/* file names by local time */
};

struct conf_site {
	char		*st_name;
	char		*st_root;	/* absolute, no trailing slash */
	uint32_t	 st_pool;
	struct conf_app	*st_apps;
	uint32_t	 st_napps;
	uint64_t	 st_max_body;	/* bytes, 0: no limit */
	struct conf_log	 st_log;
	int		 st_cache;	/* cache = on/off (default on) */
	int		 st_handler;	/* enum conf_handler */
	/* A CGI program still running after this long is killed; never 0. */
	uint64_t	 st_cgi_timeout_ms;
	char		*st_front;	/* front_controller, NULL: none */
	struct conf_fastcgi st_fastcgi;
	struct conf_module st_module;
	struct conf_extmap st_extmap;	/* never NULL, maybe empty */
};

/*
 * The response cache (hsd-cached; the cache section).  Defaults are
 * HTTP.sys's: 256K entries, 1K of headers, the URL asked twice within
 * 10s, entries not hit for 120s dropped.
 */
struct conf_cache {
	int		 cc_enabled;		/* enabled = true */
	uint64_t	 cc_max_memory;		/* all entries' bytes: 64M */
	uint64_t	 cc_max_entry;		/* one response's body: 256K */
	uint64_t	 cc_max_header;		/* one response's head: 1K */
	uint64_t	 cc_activity_ms;	/* asked twice within: 10s; 0: once */
	uint64_t	 cc_scavenger_ms;	/* dropped when not hit for: 120s */
	uint64_t	 cc_max_ttl_ms;		/* no entry lives longer: 1h */
	int		 cc_allow_query;	/* URLs with a query string */
	int		 cc_allow_cookies;	/* requests with Cookie */
};

struct hsd_config {
	char			*cf_run_dir;
	char			*cf_libexec_dir;
	char			*cf_chroot_dir;		/* the listener's */
	char			*cf_body_temp_dir;	/* chunked bodies for CGI */
	/* isolation = "shared": every site and application is served by
	 * pool "default", with no health monitoring or recycling. */
	int			 cf_shared;
	struct conf_ident	 cf_ident;		/* server-wide user/group */
	/* The whole server's stop; a pool's own is pl_shutdown_timeout_ms. */
	uint64_t		 cf_shutdown_timeout_ms;
	struct conf_limits	 cf_limits;
	struct conf_pool	*cf_pools;
	uint32_t		 cf_npools;
	struct conf_site	*cf_sites;
	uint32_t		 cf_nsites;
	struct conf_binding	*cf_bindings;
	uint32_t		 cf_nbindings;
	struct conf_listen	*cf_listens;
	uint32_t		 cf_nlistens;

	/* Logging: the top-level log section (each site's defaults), the
	 * HTTPERR log, and the listener's record buffer. */
	struct conf_log		 cf_log;
	char			*cf_httperr_dir;	/* cf_log.lg_dir/HTTPERR */
	uint64_t		 cf_httperr_max_size;
	uint64_t		 cf_log_buffer;
	uint64_t		 cf_flush_interval_ms;

	struct conf_cache	 cf_cache;
};

/* 0 on success; on failure -1 after logging "FILE:LINE: ..." naming the key. */
int	conf_load_file(const char *path, struct hsd_config **);
int	conf_load_buf(const char *text, const char *name, struct hsd_config **);
/*
 * CONF_LOAD_NOFS: for text the pool manager has checked already, parsed
 * where the filesystem is out of reach (the listener, chrooted and under
 * seccomp): roots are taken as written, users and groups are not looked
 * up (ids 0), chroot checks are skipped and run_dir defaults to "".
 */
#define CONF_LOAD_NOFS	0x1
int	conf_load_text(const char *text, const char *name, int flags,
	    struct hsd_config **);
void	conf_free(struct hsd_config *);

/*
 * run_dir when the file does not set it: /run/hsd for root, else
 * $XDG_RUNTIME_DIR/hsd (xdg as getenv() gives it; used if absolute) or
 * /tmp/hsd-UID.  A private directory per user, never one shared one in a
 * world-writable place.  NULL if out of memory; free() it.
 */
char	*conf_default_run_dir(uid_t euid, const char *xdg);

/* "500ms", "90s", "20m", "29h", "2d"; a bare number is seconds. */
int	conf_parse_duration(const char *, uint64_t *ms);
/* A duration in milliseconds as the struct timeval libevent takes. */
struct timeval;
void	conf_timeval(uint64_t ms, struct timeval *);
/* "03:00": *min = 180.  Exactly HH:MM, 00:00 to 23:59. */
int	conf_parse_clock(const char *, uint16_t *min);
/* "16384", "16K", "4M", "1G". */
int	conf_parse_size(const char *, uint64_t *bytes);
/* "ip:port[:host]", "*:port[:host]", "[v6]:port[:host]". */
int	conf_parse_binding(const char *, struct conf_binding *);

/*
 * Routing.  conf_route_site() picks the site for a connection accepted on
 * local address `local` with the request's Host (port and case ignored,
 * host may be NULL): exact address beats wildcard, named host beats any.
 * Returns the site index or -1.  conf_route_app() returns the application
 * index whose prefix is the longest match for path ("/api" matches "/api"
 * and "/api/x" but not "/apix"), or -1.
 */
int	conf_route_site(const struct hsd_config *, const struct sockaddr *local,
	    const char *host, size_t hostlen);
int	conf_route_app(const struct conf_site *, const char *path, size_t len);
uint32_t conf_route_pool(const struct conf_site *, int app);
/*
 * max_body_size for a request routed to site/app (app -1: none): the
 * largest request body accepted, in bytes; 0 means no limit.
 */
uint64_t conf_max_body(const struct conf_site *, int app);
/* 1 if responses for site/app (app -1: none) may be cached: the cache
 * is enabled and the application's (else the site's) cache key is on. */
int	conf_cacheable(const struct hsd_config *, const struct conf_site *,
	    int app);
/*
 * The handler (enum conf_handler) and the CGI time limit, in
 * milliseconds, for a request routed to site/app (app -1: none): the
 * application's if it sets them, else the site's.
 */
int	conf_handler(const struct conf_site *, int app);
uint64_t conf_cgi_timeout(const struct conf_site *, int app);
/* The script that answers a path naming nothing there; NULL: none. */
const char *conf_front_controller(const struct conf_site *, int app);
/*
 * conf_handler_path(): the handler for a request for path (len bytes,
 * normalised, no query) routed to site/app: conf_handler(), unless that
 * is static and a component of path ends in an extension of
 * cgi_extensions or fastcgi_extensions (struct conf_extmap): then the
 * handler of the first such component, whether that names a file or a
 * directory (cgi_locate() answers for what is there).  No allocation:
 * the listener calls it for every request it hands on.
 * conf_uses(): 1 if some request routed to site/app can be answered by
 * handler: it is the path's, or a script map sends some paths to it.
 */
int	conf_handler_path(const struct conf_site *, int app,
	    const char *path, size_t len);
int	conf_uses(const struct conf_site *, int app, int handler);

/*
 * FastCGI.  conf_fastcgi(): the settings for a request routed to
 * site/app (app -1: none): the application's if it writes any fastcgi_
 * key, else the site's.
 *
 * A command (fc_command) runs as a group of processes per site, and per
 * application that writes fastcgi_ keys of its own or is served by
 * another pool than its site (its processes run as that pool's user).
 * conf_fastcgi_group() says which group serves site/app: -1 the site's,
 * else that application's.
 *
 * conf_fastcgi_socket() writes the path of that group's listening
 * socket to buf: <run_dir>/fcgi/<site index>.<group>.sock, the group
 * "site" for -1, else the application's index.  The pool manager binds
 * it, the workers connect to it: both call this, so it must stay a pure
 * function of the configuration (run_dir is resolved when the text is
 * loaded, and every process loads it as the user hsd-poolmgr runs as).
 * 0, or -1 if it does not fit in len bytes.
 *
 * conf_parse_fastcgi_address(): a fastcgi_address as the socket address
 * to connect to: "unix:/absolute/path", "ipv4:port" or "[ipv6]:port",
 * numeric only (a worker never waits for a name lookup).  0 or -1.
 */
const struct conf_fastcgi *conf_fastcgi(const struct conf_site *, int app);
int	conf_fastcgi_group(const struct conf_site *, int app);
int	conf_fastcgi_socket(const struct hsd_config *, uint32_t site, int app,
	    char *buf, size_t len);
int	conf_parse_fastcgi_address(const char *, struct sockaddr_storage *,
	    socklen_t *);

/*
 * The handler module for a request routed to site/app (app -1: none):
 * the application's if it writes module or module_args, else the
 * site's.  cgi_timeout bounds its requests too.
 */
const struct conf_module *conf_module(const struct conf_site *, int app);

/*
 * The entity-body rules: a body whose reading started at start_ms, of
 * which got bytes arrived by now_ms (monotonic milliseconds), breaks them
 * when entity_body_timeout has passed, or when min_body_rate is set,
 * CONF_BODY_GRACE_MS have passed and the average is below it (judged on
 * whole seconds).  Returns -1 if broken, else 0 with *wait_ms set to when
 * they must be checked again.
 */
#define CONF_BODY_GRACE_MS	5000
int	conf_body_check(const struct conf_limits *, uint64_t start_ms,
	    uint64_t now_ms, uint64_t got, uint64_t *wait_ms);

/*
 * Where host path (absolute, normalised) is seen from inside chroot dir
 * (absolute, normalised): "/srv/www/a" in "/srv/www" is "/a", "/srv/www"
 * itself "/".  NULL if path is not below dir; "/srv/www2" is not below
 * "/srv/www".
 */
const char *conf_chroot_path(const char *dir, const char *path);

/*
 * The filesystem root and the part of path below it for a request routed
 * to site/app: an application with its own root strips its prefix.
 */
const char *conf_map_path(const struct conf_site *, int app, const char *path,
	    const char **root);

/*
 * Reload.  conf_restart_key(): the first key only a restart can change
 * that differs between a and b ("run_dir", "limits.max_request_bytes"),
 * NULL if none.  conf_site_routes_same(): site ai of a and bi of b have
 * the same name and route alike -- same pool, the same applications in
 * the same order (prefix, pool, whether each has a root of its own),
 * same max_body_size -- so a request's site and application indices in
 * one translate to the other; roots, handlers and cgi_timeouts are not
 * compared.
 * conf_pool_same(): pool ai of a and bi of b are the same for their
 * workers: every pool key, the limits, how every site either
 * configuration sends to the pool routes, and the roots, handlers,
 * script maps, cgi_timeouts, FastCGI settings (with the socket of a
 * FastCGI group) and handler modules with their arguments the pool
 * serves there
 * (roots as resolved: not for NOFS text).  No cache key counts in any
 * of the three: every reload flushes the cache instead.
 * conf_find_site() and conf_pool_index() are a site's and a pool's index
 * by name, -1 if none; conf_find_listen() the listening address a socket
 * is bound to, -1.
 */
const char *conf_restart_key(const struct hsd_config *,
	    const struct hsd_config *);
int	conf_site_routes_same(const struct hsd_config *, uint32_t ai,
	    const struct hsd_config *, uint32_t bi);
int	conf_pool_same(const struct hsd_config *, uint32_t ai,
	    const struct hsd_config *, uint32_t bi);
int	conf_find_site(const struct hsd_config *, const char *name);
int	conf_pool_index(const struct hsd_config *, const char *name);
int	conf_find_listen(const struct hsd_config *, const struct sockaddr *);

#endif
