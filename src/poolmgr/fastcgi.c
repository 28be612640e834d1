/*
 * FastCGI applications the pool manager runs itself (fastcgi_command),
 * as IIS's FastCGI module runs php-cgi: for each group
 * (conf_fastcgi_group()) a listening unix socket the pool manager owns,
 * at conf_fastcgi_socket(), where the pool's workers connect, and
 * fastcgi_processes copies of the command, each accept()ing on that
 * socket as its fd 0 (FCGI_LISTENSOCK_FILENO, how php-cgi finds it).
 *
 * The processes run as the user and group of the pool that serves the
 * group's paths, dropped to as its workers drop (proc_privdrop()), never
 * chrooted (conf.c refuses a command in a chrooted pool).  The socket is
 * that user's, mode 0600, in <run_dir>/fcgi (root's, 0711), so nobody
 * else but root can connect.  Their stdout goes to /dev/null; stderr is
 * the pool manager's, the error log, where an application's errors
 * belong.
 *
 * A process that exits is replaced: at once if it ran for
 * FCGI_QUICK_MS or more (php-cgi exits 0 after PHP_FCGI_MAX_REQUESTS
 * requests: a recycle, not a failure), after a pause that doubles from
 * FCGI_BACKOFF_MIN_MS to FCGI_BACKOFF_MAX_MS otherwise, so a command
 * that cannot start does not make the pool manager fork in a loop.  A
 * crash (a signal, or a status other than 0) is a failure of the pool
 * for rapid-fail protection, as a worker's death is; a pool that is
 * offline or stopped has no FastCGI processes either, until it is
 * started again (fastcgi_pool_state()).
 *
 * A reload keeps a group whose socket, command, arguments, environment,
 * count and user are unchanged, processes and all; any other is stopped
 * (its socket unlinked, its processes told to stop with SIGTERM, which
 * php-cgi takes as "finish the request you have, then exit", and killed
 * after the pool's shutdown_timeout) and a new one started, which may
 * bind the very same path.  A server stop stops them once the workers,
 * their only clients, are gone.
 *
 * The processes are pool manager children like the others (struct
 * pm_child, PM_FASTCGI), without a channel: the reaping, the kill at the
 * server's shutdown_timeout and hsdctl status find them there.
 */
#include "config.h"

#include <sys/queue.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <sys/un.h>
#include <sys/wait.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>

#include "clock.h"
#include "conf.h"
#include "log.h"
#include "msg.h"
#include "poolmgr.h"
#include "proc.h"

/* A process that ran this long exited of its own accord, not because it
 * cannot run: it is replaced at once. */
#define FCGI_QUICK_MS		1000
#define FCGI_BACKOFF_MIN_MS	1000
#define FCGI_BACKOFF_MAX_MS	30000
/* php-fpm's listen.backlog on Linux. */
#define FCGI_BACKLOG		1024
/*
 * Everything the processes find in their environment but fastcgi_env.
 * PHP_FCGI_MAX_REQUESTS=0: php-cgi would otherwise exit after 500
 * requests, closing a connection a worker keeps alive just as it may be
 * sending the next request there -- which a POST could not survive.
 * php-fpm's own default (pm.max_requests = 0) is the same.
 */
#define FCGI_PATH		"PATH=/usr/local/bin:/usr/bin:/bin"
#define FCGI_PHP_MAX		"PHP_FCGI_MAX_REQUESTS=0"

struct fcgi_group {
	char			*fg_name;	/* "site" or "site[/prefix]" */
	char			*fg_path;	/* its socket */
	int			 fg_fd;		/* listening; -1: none (yet) */
	uint32_t		 fg_pool;	/* current config; POOL_GONE */
	char			*fg_pool_name;
	struct conf_ident	 fg_ident;	/* the pool's: its processes' */
	uint64_t		 fg_shutdown_ms; /* its pool's shutdown_timeout */
	char			*fg_command;
	char			**fg_argv;	/* command, fastcgi_args */
	char			**fg_envp;	/* FCGI_PATH, fastcgi_env */
	uint32_t		 fg_processes;	/* wanted */
	uint32_t		 fg_running;	/* alive and not told to stop */
	uint32_t		 fg_children;	/* alive */
	int			 fg_gone;	/* stopped for good */
	uint32_t		 fg_quick;	/* short lives in a row */
	struct event		*fg_restart;
	TAILQ_ENTRY(fcgi_group)	 fg_entry;
};

TAILQ_HEAD(fcgi_groups, fcgi_group);

static struct fcgi_groups	fastcgi_groups =
    TAILQ_HEAD_INITIALIZER(fastcgi_groups);

static void	fastcgi_restart_timer(evutil_socket_t, short, void *);

static void
fastcgi_strv_free(char **v)
{
	size_t	i;

	for (i = 0; v != NULL && v[i] != NULL; i++)
		free(v[i]);
	free(v);
}

static int
fastcgi_strv_same(char *const *a, char *const *b)
{
	size_t	i;

	for (i = 0; a[i] != NULL && b[i] != NULL; i++)
		if (strcmp(a[i], b[i]) != 0)
			return 0;
	return a[i] == NULL && b[i] == NULL;
}

static void
fastcgi_group_free(struct fcgi_group *fg)
{
	if (fg->fg_fd != -1)
		close(fg->fg_fd);
	if (fg->fg_restart != NULL)
		event_free(fg->fg_restart);
	free(fg->fg_name);
	free(fg->fg_path);
	free(fg->fg_pool_name);
	free(fg->fg_ident.id_user);
	free(fg->fg_ident.id_group);
	free(fg->fg_command);
	fastcgi_strv_free(fg->fg_argv);
	fastcgi_strv_free(fg->fg_envp);
	free(fg);
}

/*
 * The environment the command starts with: a PATH and
 * PHP_FCGI_MAX_REQUESTS, then fastcgi_env in order, a name written again
 * replacing the value before, so an operator can set them too.  Built before fork(), so the child only
 * has to exec.
 */
static char **
fastcgi_envp(char *const *env)
{
	char		**v;
	size_t		 i, j, n, len;

	for (n = 0; env[n] != NULL; n++)
		;
	if ((v = calloc(n + 3, sizeof(*v))) == NULL ||
	    (v[0] = strdup(FCGI_PATH)) == NULL ||
	    (v[1] = strdup(FCGI_PHP_MAX)) == NULL)
		goto fail;
	for (i = 0, n = 2; env[i] != NULL; i++) {
		/* conf.c refused a value without '='. */
		len = strchr(env[i], '=') - env[i] + 1;
		for (j = 0; j < n && strncmp(v[j], env[i], len) != 0; j++)
			;
		if (j < n)
			free(v[j]);
		else
			n++;
		if ((v[j] = strdup(env[i])) == NULL)
			goto fail;
	}
	return v;
fail:
	log_warn("fastcgi_envp");
	fastcgi_strv_free(v);
	return NULL;
}

static char **
fastcgi_argv(const char *command, char *const *args)
{
	char		**v;
	size_t		 i, n;

	for (n = 0; args[n] != NULL; n++)
		;
	if ((v = calloc(n + 2, sizeof(*v))) == NULL ||
	    (v[0] = strdup(command)) == NULL)
		goto fail;
	for (i = 0; i < n; i++)
		if ((v[i + 1] = strdup(args[i])) == NULL)
			goto fail;
	return v;
fail:
	log_warn("fastcgi_argv");
	fastcgi_strv_free(v);
	return NULL;
}

/*
 * Group app (-1: the site's) of site sidx of cf, as it would run: every
 * setting copied, since it may outlive cf by a reload.  No socket yet.
 */
static struct fcgi_group *
fastcgi_group_new(const struct hsd_config *cf, uint32_t sidx, int app)
{
	const struct conf_site		*st = &cf->cf_sites[sidx];
	const struct conf_fastcgi	*fc = conf_fastcgi(st, app);
	const struct conf_pool		*pl;
	struct fcgi_group		*fg;
	char				 path[PATH_MAX];
	uint32_t			 pool = conf_route_pool(st, app);
	int				 n;

	pl = &cf->cf_pools[pool];
	if (conf_fastcgi_socket(cf, sidx, app, path, sizeof(path)) == -1) {
		/* conf.c checked it fits. */
		log_warnx("fastcgi_group_new: site %s: no socket path",
		    st->st_name);
		return NULL;
	}
	if ((fg = calloc(1, sizeof(*fg))) == NULL) {
		log_warn("fastcgi_group_new: calloc");
		return NULL;
	}
	fg->fg_fd = -1;
	fg->fg_pool = pool;
	fg->fg_shutdown_ms = pl->pl_shutdown_timeout_ms;
	fg->fg_ident.id_uid = pl->pl_ident.id_uid;
	fg->fg_ident.id_gid = pl->pl_ident.id_gid;
	fg->fg_processes = fc->fc_processes;
	if (app < 0)
		n = asprintf(&fg->fg_name, "%s", st->st_name);
	else
		n = asprintf(&fg->fg_name, "%s[%s]", st->st_name,
		    st->st_apps[app].ap_prefix_len > 0 ?
		    st->st_apps[app].ap_prefix : "/");
	if (n == -1) {
		fg->fg_name = NULL;
		goto fail;
	}
	if ((fg->fg_path = strdup(path)) == NULL ||
	    (fg->fg_pool_name = strdup(pl->pl_name)) == NULL ||
	    (fg->fg_ident.id_user = strdup(pl->pl_ident.id_user)) == NULL ||
	    (fg->fg_ident.id_group = strdup(pl->pl_ident.id_group)) == NULL ||
	    (fg->fg_command = strdup(fc->fc_command)) == NULL ||
	    (fg->fg_argv = fastcgi_argv(fc->fc_command, fc->fc_args)) ==
	    NULL || (fg->fg_envp = fastcgi_envp(fc->fc_env)) == NULL)
		goto fail;
	return fg;
fail:
	log_warnx("fastcgi_group_new: site %s: out of memory", st->st_name);
	fastcgi_group_free(fg);
	return NULL;
}

/* Whether running group a is what b asks for: then it stays. */
static int
fastcgi_group_same(const struct fcgi_group *a, const struct fcgi_group *b)
{
	return strcmp(a->fg_path, b->fg_path) == 0 &&
	    strcmp(a->fg_pool_name, b->fg_pool_name) == 0 &&
	    a->fg_ident.id_uid == b->fg_ident.id_uid &&
	    a->fg_ident.id_gid == b->fg_ident.id_gid &&
	    a->fg_processes == b->fg_processes &&
	    fastcgi_strv_same(a->fg_argv, b->fg_argv) &&
	    fastcgi_strv_same(a->fg_envp, b->fg_envp);
}

/*
 * Every group cf asks for, in order: the site's once, for its own paths
 * and those of the applications that share it, and each application's
 * own.  Only paths the "fastcgi" handler answers with a command count,
 * or that fastcgi_extensions sends to one.
 */
static int
fastcgi_groups_of(const struct hsd_config *cf, struct fcgi_groups *out)
{
	const struct conf_site	*st;
	struct fcgi_group	*fg;
	uint32_t		 s;
	int			 r, g, site_done;

	TAILQ_INIT(out);
	for (s = 0; s < cf->cf_nsites; s++) {
		st = &cf->cf_sites[s];
		site_done = 0;
		for (r = -1; r < (int)st->st_napps; r++) {
			if (!conf_uses(st, r, CONF_HANDLER_FASTCGI) ||
			    conf_fastcgi(st, r)->fc_command == NULL)
				continue;
			if ((g = conf_fastcgi_group(st, r)) < 0) {
				if (site_done)
					continue;
				site_done = 1;
			}
			if ((fg = fastcgi_group_new(cf, s, g)) == NULL)
				return -1;
			TAILQ_INSERT_TAIL(out, fg, fg_entry);
		}
	}
	return 0;
}

/* Whether the user and group ids may search directory st. */
static int
fastcgi_searchable(const struct stat *st, uid_t uid, gid_t gid)
{
	if (uid == 0)
		return 1;
	if (st->st_uid == uid)
		return (st->st_mode & S_IXUSR) != 0;
	if (st->st_gid == gid)
		return (st->st_mode & S_IXGRP) != 0;
	return (st->st_mode & S_IXOTH) != 0;
}

/*
 * <run_dir>/fcgi, made when missing: ours, 0711, so the pools' users can
 * reach their sockets by name but not list them, and nobody else can
 * put anything there.  run_dir itself (0700 as made) must let the
 * group's user through: if it does not, it is opened up to 0711, once,
 * loudly, rather than leaving the workers unable to connect.
 */
static int
fastcgi_dir(const struct fcgi_group *fg)
{
	const char	*run_dir = penv->pe_conf->cf_run_dir;
	struct stat	 st;
	char		 dir[PATH_MAX];
	mode_t		 mode;
	int		 fd;

	if (stat(run_dir, &st) == -1) {
		log_warn("fastcgi: run_dir %s", run_dir);
		return -1;
	}
	if (!fastcgi_searchable(&st, fg->fg_ident.id_uid,
	    fg->fg_ident.id_gid)) {
		mode = (st.st_mode & 07777) | S_IXGRP | S_IXOTH;
		log_warnx("run_dir %s (mode %03o) does not let user %s of pool "
		    "%s reach the FastCGI socket of %s below it; adding "
		    "search permission for group and others (mode %03o)",
		    run_dir, (unsigned int)(st.st_mode & 0777),
		    fg->fg_ident.id_user, fg->fg_pool_name, fg->fg_name,
		    (unsigned int)(mode & 0777));
		if (chmod(run_dir, mode) == -1) {
			log_warn("fastcgi: chmod %s", run_dir);
			return -1;
		}
	}
	snprintf(dir, sizeof(dir), "%s/%s", run_dir, CONF_FASTCGI_DIR);
	if (mkdir(dir, 0711) == -1 && errno != EEXIST) {
		log_warn("fastcgi: mkdir %s", dir);
		return -1;
	}
	if ((fd = open(dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW |
	    O_CLOEXEC)) == -1) {
		log_warn("fastcgi: open %s", dir);
		return -1;
	}
	if (fstat(fd, &st) == -1) {
		log_warn("fastcgi: fstat %s", dir);
		goto fail;
	}
	if (st.st_uid != geteuid()) {
		log_warnx("%s is owned by uid %u, not by uid %u that runs "
		    "hsd-poolmgr; refusing to use it", dir,
		    (unsigned int)st.st_uid, (unsigned int)geteuid());
		goto fail;
	}
	if ((st.st_mode & 07777) != 0711 && fchmod(fd, 0711) == -1) {
		log_warn("fastcgi: chmod %s", dir);
		goto fail;
	}
	close(fd);
	return 0;
fail:
	close(fd);
	return -1;
}

/*
 * The group's listening socket: whatever is at its path goes (a stale
 * socket of an earlier run, or of the group this one replaces), and the
 * new one is created 0600 and given to the pool's user.  Blocking: the
 * processes accept() on it and wait there.
 */
static int
fastcgi_listen(struct fcgi_group *fg)
{
	struct sockaddr_un	 sun;
	mode_t			 old;
	int			 fd, rv;

	if (fastcgi_dir(fg) == -1)
		return -1;
	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	if (strlen(fg->fg_path) >= sizeof(sun.sun_path)) {
		log_warnx("fastcgi %s: socket path %s is too long",
		    fg->fg_name, fg->fg_path);
		return -1;
	}
	memcpy(sun.sun_path, fg->fg_path, strlen(fg->fg_path) + 1);
	if (unlink(fg->fg_path) == -1 && errno != ENOENT) {
		log_warn("fastcgi %s: unlink %s", fg->fg_name, fg->fg_path);
		return -1;
	}
	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) == -1) {
		log_warn("fastcgi %s: socket", fg->fg_name);
		return -1;
	}
	/* Never connectable by anyone else, not even for a moment. */
	old = umask(0177);
	rv = bind(fd, (struct sockaddr *)&sun, sizeof(sun));
	umask(old);
	if (rv == -1) {
		log_warn("fastcgi %s: bind %s", fg->fg_name, fg->fg_path);
		goto fail;
	}
	if (geteuid() == 0 && lchown(fg->fg_path, fg->fg_ident.id_uid,
	    fg->fg_ident.id_gid) == -1) {
		log_warn("fastcgi %s: chown %s", fg->fg_name, fg->fg_path);
		goto fail;
	}
	if (chmod(fg->fg_path, 0600) == -1) {
		log_warn("fastcgi %s: chmod %s", fg->fg_name, fg->fg_path);
		goto fail;
	}
	if (listen(fd, FCGI_BACKLOG) == -1) {
		log_warn("fastcgi %s: listen", fg->fg_name);
		goto fail;
	}
	fg->fg_fd = fd;
	return 0;
fail:
	close(fd);
	unlink(fg->fg_path);
	return -1;
}

/*
 * In the child, between fork() and exec.  The pool manager runs one
 * thread, so what proc_privdrop() calls is safe here.  The parent-death
 * signal is set after the drop, which clears it.
 */
static __attribute__((noreturn)) void
fastcgi_child(const struct fcgi_group *fg, pid_t parent)
{
	sigset_t	none;
	int		sig, fd;

	for (sig = 1; sig < NSIG; sig++)
		if (sig != SIGKILL && sig != SIGSTOP)
			signal(sig, SIG_DFL);
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	/* A ^C at the pool manager's terminal is not for it. */
	setsid();
	if (fg->fg_fd == 0)
		fcntl(0, F_SETFD, 0);
	else if (dup2(fg->fg_fd, 0) == -1)
		_exit(127);
	if ((fd = open("/dev/null", O_WRONLY)) == -1 ||
	    (fd != 1 && dup2(fd, 1) == -1))
		_exit(127);
	syscall(SYS_close_range, 3, ~0U, 0);
	/* Not wherever the pool manager was started: its user may not be
	 * able to read there. */
	if (chdir("/") == -1)
		_exit(127);
	proc_privdrop(NULL, &fg->fg_ident);
	if (prctl(PR_SET_PDEATHSIG, SIGTERM) == -1 || getppid() != parent)
		_exit(127);
	execve(fg->fg_command, fg->fg_argv, fg->fg_envp);
	log_warn("fastcgi %s: exec %s", fg->fg_name, fg->fg_command);
	_exit(127);
}

static int
fastcgi_spawn(struct fcgi_group *fg)
{
	struct pm_child	*c;
	pid_t		 pid, self = getpid();

	switch (pid = proc_fork()) {
	case -1:
		log_warn("fastcgi %s: fork", fg->fg_name);
		return -1;
	case 0:
		fastcgi_child(fg, self);
	default:
		break;
	}
	c = poolmgr_child_new(PM_FASTCGI, fg->fg_pool, pid, -1);
	c->pc_fcgi = fg;
	fg->fg_running++;
	fg->fg_children++;
	log_debug("fastcgi %s pid %d: started", fg->fg_name, (int)pid);
	return 0;
}

static uint64_t
fastcgi_backoff_ms(const struct fcgi_group *fg)
{
	uint32_t	n = fg->fg_quick > 0 ? fg->fg_quick - 1 : 0;

	/* 1000 << 5 is past the cap already. */
	return n >= 5 ? FCGI_BACKOFF_MAX_MS : FCGI_BACKOFF_MIN_MS << n;
}

static void
fastcgi_later(struct fcgi_group *fg, uint64_t ms)
{
	struct timeval	tv;

	conf_timeval(ms, &tv);
	if (evtimer_add(fg->fg_restart, &tv) == -1)
		log_warnx("fastcgi %s: evtimer_add failed; it stays short of "
		    "processes", fg->fg_name);
}

static int
fastcgi_pool_running(const struct fcgi_group *fg)
{
	return fg->fg_pool != POOL_GONE &&
	    penv->pe_pools[fg->fg_pool].pp_state == POOL_RUNNING;
}

/* Bring the group up to its count, as far as forks succeed. */
static void
fastcgi_fill(struct fcgi_group *fg)
{
	if (fg->fg_gone || penv->pe_stopping || !fastcgi_pool_running(fg) ||
	    evtimer_pending(fg->fg_restart, NULL))
		return;
	/* A socket that could not be made at a reload is tried again. */
	if (fg->fg_fd == -1 && fastcgi_listen(fg) == -1) {
		fg->fg_quick++;
		log_warnx("fastcgi %s: no socket; trying again in %llu ms",
		    fg->fg_name, (unsigned long long)fastcgi_backoff_ms(fg));
		fastcgi_later(fg, fastcgi_backoff_ms(fg));
		return;
	}
	while (fg->fg_running < fg->fg_processes)
		if (fastcgi_spawn(fg) == -1) {
			fastcgi_later(fg, FCGI_BACKOFF_MIN_MS);
			return;
		}
}

static void
fastcgi_restart_timer(evutil_socket_t fd, short ev, void *arg)
{
	(void)fd;
	(void)ev;
	fastcgi_fill(arg);
}

static void
fastcgi_kill(evutil_socket_t fd, short ev, void *arg)
{
	struct pm_child	*c = arg;

	(void)fd;
	(void)ev;
	log_warnx("fastcgi %s pid %d did not stop within shutdown_timeout "
	    "(%llu ms); killing it", c->pc_fcgi->fg_name, (int)c->pc_pid,
	    (unsigned long long)c->pc_fcgi->fg_shutdown_ms);
	kill(c->pc_pid, SIGKILL);
}

/*
 * The group's processes are told to stop and no longer count; kill_ms
 * later (0: the server's stop, whose own timer kills what is left) they
 * are killed.
 */
static void
fastcgi_terminate(struct fcgi_group *fg, uint64_t kill_ms)
{
	struct pm_child	*c;
	struct timeval	 tv;

	evtimer_del(fg->fg_restart);
	TAILQ_FOREACH(c, &penv->pe_children, pc_entry) {
		if (c->pc_kind != PM_FASTCGI || c->pc_fcgi != fg ||
		    c->pc_stop_sent)
			continue;
		c->pc_stop_sent = 1;
		fg->fg_running--;
		kill(c->pc_pid, SIGTERM);
		if (kill_ms == 0)
			continue;
		conf_timeval(kill_ms, &tv);
		if ((c->pc_kill == NULL && (c->pc_kill = evtimer_new(
		    penv->pe_base, fastcgi_kill, c)) == NULL) ||
		    evtimer_add(c->pc_kill, &tv) == -1)
			kill(c->pc_pid, SIGKILL);
	}
}

/* The group is over: no more connections, no more processes. */
static void
fastcgi_group_stop(struct fcgi_group *fg, uint64_t kill_ms)
{
	if (fg->fg_gone)
		return;
	fg->fg_gone = 1;
	fg->fg_pool = POOL_GONE;
	if (fg->fg_fd != -1) {
		close(fg->fg_fd);
		fg->fg_fd = -1;
		unlink(fg->fg_path);
	}
	fastcgi_terminate(fg, kill_ms);
	TAILQ_REMOVE(&fastcgi_groups, fg, fg_entry);
	if (fg->fg_children == 0)
		fastcgi_group_free(fg);
}

/* fg joins the running groups; its processes start with start. */
static void
fastcgi_group_add(struct fcgi_group *fg)
{
	if ((fg->fg_restart = evtimer_new(penv->pe_base,
	    fastcgi_restart_timer, fg)) == NULL)
		fatalx("fastcgi_group_add: evtimer_new failed");
	TAILQ_INSERT_TAIL(&fastcgi_groups, fg, fg_entry);
}

/*
 * At start-up, before the pool manager becomes a daemon: every group's
 * socket, so one that cannot be made stops the server where whoever
 * started it sees why.  Its processes come with fastcgi_start().
 */
int
fastcgi_open(void)
{
	struct fcgi_groups	 want;
	struct fcgi_group	*fg;
	int			 rv = 0;

	if (fastcgi_groups_of(penv->pe_conf, &want) == -1)
		rv = -1;
	while ((fg = TAILQ_FIRST(&want)) != NULL) {
		TAILQ_REMOVE(&want, fg, fg_entry);
		if (rv == 0 && fastcgi_listen(fg) == -1)
			rv = -1;
		/* Events come with the event base. */
		TAILQ_INSERT_TAIL(&fastcgi_groups, fg, fg_entry);
	}
	if (rv == -1)
		fastcgi_close();
	return rv;
}

static void
fastcgi_group_started(const struct fcgi_group *fg, const char *how)
{
	log_info("fastcgi %s: %s %u process%s of %s as %s:%s, on %s",
	    fg->fg_name, how, fg->fg_processes,
	    fg->fg_processes == 1 ? "" : "es",
	    fg->fg_command, fg->fg_ident.id_user, fg->fg_ident.id_group,
	    fg->fg_path);
}

void
fastcgi_start(void)
{
	struct fcgi_group	*fg;

	TAILQ_FOREACH(fg, &fastcgi_groups, fg_entry) {
		if ((fg->fg_restart = evtimer_new(penv->pe_base,
		    fastcgi_restart_timer, fg)) == NULL)
			fatalx("fastcgi_start: evtimer_new failed");
		fastcgi_group_started(fg, "starting");
		fastcgi_fill(fg);
	}
}

/* Sockets gone, for a start that failed or a server that stopped. */
void
fastcgi_close(void)
{
	struct fcgi_group	*fg;

	TAILQ_FOREACH(fg, &fastcgi_groups, fg_entry)
		if (fg->fg_fd != -1) {
			close(fg->fg_fd);
			fg->fg_fd = -1;
			unlink(fg->fg_path);
		}
}

/*
 * The server stops: the workers, the only clients, are gone, so every
 * group goes.  What is still there at the server's shutdown_timeout is
 * killed with the rest (poolmgr_kill_all()).
 */
void
fastcgi_stop(void)
{
	struct fcgi_group	*fg;

	while ((fg = TAILQ_FIRST(&fastcgi_groups)) != NULL)
		fastcgi_group_stop(fg, 0);
}

/* A pool stopped or taken offline has no processes; started, it gets
 * them back, with a clean slate. */
void
fastcgi_pool_state(uint32_t pool)
{
	struct fcgi_group	*fg;

	TAILQ_FOREACH(fg, &fastcgi_groups, fg_entry) {
		if (fg->fg_pool != pool)
			continue;
		if (fastcgi_pool_running(fg)) {
			fg->fg_quick = 0;
			evtimer_del(fg->fg_restart);
			fastcgi_fill(fg);
		} else {
			if (fg->fg_running > 0)
				log_info("fastcgi %s: stopping its processes: "
				    "pool %s is not running", fg->fg_name,
				    fg->fg_pool_name);
			fastcgi_terminate(fg, fg->fg_shutdown_ms);
		}
	}
}

/*
 * hsdctl recycle POOL: the pool's FastCGI processes too.  New ones start
 * on the same socket at once, and the old ones are told to stop: php-cgi
 * finishes the request it has, then exits (a kept connection it closes
 * costs no request: the workers' rules for a process that retires), and
 * whatever is left after the pool's shutdown_timeout is killed.  The
 * number of groups recycled.
 */
uint32_t
fastcgi_pool_recycle(uint32_t pool)
{
	struct fcgi_group	*fg;
	uint32_t		 n = 0;

	TAILQ_FOREACH(fg, &fastcgi_groups, fg_entry) {
		if (fg->fg_pool != pool || fg->fg_gone)
			continue;
		log_info("fastcgi %s: recycling its processes (hsdctl)",
		    fg->fg_name);
		fastcgi_terminate(fg, fg->fg_shutdown_ms);
		fg->fg_quick = 0;
		fastcgi_fill(fg);
		n++;
	}
	return n;
}

/*
 * A reload made penv->pe_conf new, its pools indexed already: groups it
 * asks for as they run stay, the others are stopped and new ones
 * started.  rep tells hsdctl what changed.
 */
void
fastcgi_reload(FILE *rep)
{
	struct fcgi_groups	 want;
	struct fcgi_group	*fg, *next, *w;

	if (fastcgi_groups_of(penv->pe_conf, &want) == -1) {
		/* Out of memory: what runs, runs on. */
		while ((w = TAILQ_FIRST(&want)) != NULL) {
			TAILQ_REMOVE(&want, w, fg_entry);
			fastcgi_group_free(w);
		}
		fprintf(rep, "fastcgi: out of memory; the processes are left "
		    "as they were\n");
		return;
	}
	/* First the ones that go, so a new group can take their path. */
	for (fg = TAILQ_FIRST(&fastcgi_groups); fg != NULL; fg = next) {
		next = TAILQ_NEXT(fg, fg_entry);
		TAILQ_FOREACH(w, &want, fg_entry)
			if (fastcgi_group_same(fg, w))
				break;
		if (w != NULL) {
			fg->fg_pool = w->fg_pool;
			fg->fg_shutdown_ms = w->fg_shutdown_ms;
			TAILQ_REMOVE(&want, w, fg_entry);
			fastcgi_group_free(w);
			continue;
		}
		fprintf(rep, "fastcgi %s: changed or removed; its processes "
		    "finish what they have\n", fg->fg_name);
		log_info("fastcgi %s: stopping its processes (reload)",
		    fg->fg_name);
		fastcgi_group_stop(fg, fg->fg_shutdown_ms);
	}
	/* A socket that cannot be made is tried again by fastcgi_fill(). */
	while ((w = TAILQ_FIRST(&want)) != NULL) {
		TAILQ_REMOVE(&want, w, fg_entry);
		fastcgi_group_add(w);
		fprintf(rep, "fastcgi %s: started\n", w->fg_name);
		fastcgi_group_started(w, "starting");
		fastcgi_fill(w);
	}
}

/*
 * Process c of a group exited with status; c is freed after.  One told
 * to stop is not replaced; any other is, at once or after the back-off,
 * and a crash counts towards its pool's rapid-fail protection.
 */
void
fastcgi_exited(struct pm_child *c, int status)
{
	struct fcgi_group	*fg = c->pc_fcgi;
	uint64_t		 ran = clock_ms() - c->pc_started_ms, delay;
	char			 how[128];
	int			 crash;

	poolmgr_describe_exit(status, how, sizeof(how));
	fg->fg_children--;
	if (c->pc_stop_sent || fg->fg_gone) {
		log_info("fastcgi %s pid %d, told to stop, %s", fg->fg_name,
		    (int)c->pc_pid, how);
		if (fg->fg_gone && fg->fg_children == 0)
			fastcgi_group_free(fg);
		return;
	}
	/* Gone already: nothing rapid-fail protection does may signal it. */
	c->pc_stop_sent = 1;
	fg->fg_running--;
	if (penv->pe_stopping) {
		log_info("fastcgi %s pid %d %s", fg->fg_name, (int)c->pc_pid,
		    how);
		return;
	}
	crash = WIFSIGNALED(status) || WEXITSTATUS(status) != 0;
	if (crash && pool_failure(fg->fg_pool)) {
		log_warnx("fastcgi %s pid %d %s; not replaced: pool %s is "
		    "offline", fg->fg_name, (int)c->pc_pid, how,
		    fg->fg_pool_name);
		return;
	}
	if (!fastcgi_pool_running(fg)) {
		log_warnx("fastcgi %s pid %d %s; not replaced: pool %s is not "
		    "running", fg->fg_name, (int)c->pc_pid, how,
		    fg->fg_pool_name);
		return;
	}
	if (ran >= FCGI_QUICK_MS) {
		fg->fg_quick = 0;
		if (crash)
			log_warnx("fastcgi %s pid %d %s; restarting it",
			    fg->fg_name, (int)c->pc_pid, how);
		else
			log_info("fastcgi %s pid %d %s after %llu s (a "
			    "recycle); restarting it", fg->fg_name,
			    (int)c->pc_pid, how,
			    (unsigned long long)ran / 1000);
		fastcgi_fill(fg);
		return;
	}
	/* Processes that die together wait for one restart, and the pause
	 * grows once for them all. */
	if (!evtimer_pending(fg->fg_restart, NULL)) {
		fg->fg_quick++;
		fastcgi_later(fg, fastcgi_backoff_ms(fg));
	}
	delay = fastcgi_backoff_ms(fg);
	log_warnx("fastcgi %s pid %d %s %llu ms after its start; restarting "
	    "it in %llu ms", fg->fg_name, (int)c->pc_pid, how,
	    (unsigned long long)ran, (unsigned long long)delay);
}

const char *
fastcgi_child_group(const struct pm_child *c)
{
	return c->pc_fcgi->fg_name;
}

/* The pool whose status lists c: POOL_GONE once its group is stopped. */
uint32_t
fastcgi_child_pool(const struct pm_child *c)
{
	return c->pc_fcgi->fg_pool;
}

/*
 * What the pool manager checks at start and on reload: a command that
 * is not there, or not a program, would only fail at every start.  No
 * line to give (the settings do not keep one): the section instead.
 */
int
fastcgi_check_conf(const struct hsd_config *cf, const char *file)
{
	struct fcgi_groups	 want;
	struct fcgi_group	*fg;
	struct stat		 st;
	int			 rv = 0;

	if (fastcgi_groups_of(cf, &want) == -1)
		rv = -1;
	while ((fg = TAILQ_FIRST(&want)) != NULL) {
		TAILQ_REMOVE(&want, fg, fg_entry);
		if (stat(fg->fg_command, &st) == -1) {
			log_warn("%s: fastcgi %s: fastcgi_command %s", file,
			    fg->fg_name, fg->fg_command);
			rv = -1;
		} else if (!S_ISREG(st.st_mode) ||
		    access(fg->fg_command, X_OK) == -1) {
			log_warnx("%s: fastcgi %s: fastcgi_command %s is not "
			    "an executable file", file, fg->fg_name,
			    fg->fg_command);
			rv = -1;
		}
		fastcgi_group_free(fg);
	}
	return rv;
}
