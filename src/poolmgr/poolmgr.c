/*
 * hsd-poolmgr: how the whole server starts, and the one process that
 * outlives the others (the WAS role of IIS 6).  It reads the config, binds
 * the listening sockets, creates every channel, spawns the listener and
 * each pool's workers (pool.c does the pools), restarts the listener
 * when it dies (supervise.c), runs the FastCGI applications the
 * configuration names a command for (fastcgi.c), and stops everything
 * in order on SIGTERM/SIGINT.
 *
 * Peers:
 *	listener	hands it the listening sockets, each worker's channel
 *			and each pool's state; asks it for status
 *	worker		one channel each: pings, shutdown, a new listener's
 *			channel; it says ready, answers pings and asks to be
 *			recycled (pool.c)
 *	hsdctl		the control socket in run_dir (ctl.c)
 *	FastCGI		no channel: a listening socket each group accepts
 *			on, and exit statuses (fastcgi.c)
 */
#include "config.h"

#include <sys/queue.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <netinet/in.h>
#include <arpa/inet.h>

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>

#include "chan.h"
#include "clock.h"
#include "conf.h"
#include "log.h"
#include "msg.h"
#include "poolmgr.h"
#include "proc.h"

struct poolmgr_env	*penv;

static void	poolmgr_dispatch_listener(struct chan *, const struct msg_hdr *,
		    const void *, int, void *);
static void	poolmgr_child_chan_gone(struct chan *, void *);

char *
poolmgr_read_file(const char *path)
{
	struct stat	 st;
	char		*text = NULL;
	ssize_t		 n;
	size_t		 off = 0;
	int		 fd;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1) {
		log_warn("%s", path);
		return NULL;
	}
	if (fstat(fd, &st) == -1) {
		log_warn("%s: fstat", path);
		goto fail;
	}
	if ((text = malloc(st.st_size + 1)) == NULL) {
		log_warn("poolmgr_read_file: malloc");
		goto fail;
	}
	while (off < (size_t)st.st_size) {
		if ((n = read(fd, text + off, st.st_size - off)) <= 0) {
			if (n == -1 && errno == EINTR)
				continue;
			if (n == 0)
				break;
			log_warn("%s: read", path);
			goto fail;
		}
		off += n;
	}
	text[off] = '\0';
	close(fd);
	return text;
fail:
	free(text);
	close(fd);
	return NULL;
}

void
poolmgr_addr_text(const struct conf_listen *ls, char *buf, size_t len)
{
	char	ip[INET6_ADDRSTRLEN] = "?";

	if (ls->ls_addr.ss_family == AF_INET6) {
		inet_ntop(AF_INET6,
		    &((const struct sockaddr_in6 *)&ls->ls_addr)->sin6_addr,
		    ip, sizeof(ip));
		snprintf(buf, len, "[%s]:%u", ip, ls->ls_port);
	} else {
		inet_ntop(AF_INET,
		    &((const struct sockaddr_in *)&ls->ls_addr)->sin_addr,
		    ip, sizeof(ip));
		snprintf(buf, len, "%s:%u", ls->ls_any ? "*" : ip,
		    ls->ls_port);
	}
}

/* A listening socket on ls, or -1 after logging why not. */
int
poolmgr_bind_one(const struct conf_listen *ls)
{
	char	text[80];
	int	fd, one = 1;

	poolmgr_addr_text(ls, text, sizeof(text));
	fd = socket(ls->ls_addr.ss_family, SOCK_STREAM | SOCK_NONBLOCK |
	    SOCK_CLOEXEC, 0);
	if (fd == -1) {
		log_warn("cannot listen on %s: socket", text);
		return -1;
	}
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (ls->ls_addr.ss_family == AF_INET6)
		setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
	if (bind(fd, (const struct sockaddr *)&ls->ls_addr,
	    ls->ls_addrlen) == -1) {
		log_warn("cannot listen on %s: bind", text);
		close(fd);
		return -1;
	}
	if (listen(fd, 511) == -1) {
		log_warn("cannot listen on %s: listen", text);
		close(fd);
		return -1;
	}
	log_info("listening on %s", text);
	return fd;
}

/* Bind every listening address before anything starts, so a port in use
 * stops the server at once with a clear message. */
static int
poolmgr_bind(void)
{
	const struct hsd_config	*conf = penv->pe_conf;
	uint32_t		 i;

	if ((penv->pe_listen_fds = calloc(conf->cf_nlistens ?
	    conf->cf_nlistens : 1, sizeof(int))) == NULL)
		fatal("poolmgr_bind: calloc");
	for (i = 0; i < conf->cf_nlistens; i++)
		if ((penv->pe_listen_fds[i] = poolmgr_bind_one(
		    &conf->cf_listens[i])) == -1)
			return -1;
	return 0;
}

static void
poolmgr_close_listeners(void)
{
	uint32_t	i;

	for (i = 0; penv->pe_listen_fds && i < penv->pe_conf->cf_nlistens; i++) {
		if (penv->pe_listen_fds[i] != -1)
			close(penv->pe_listen_fds[i]);
		penv->pe_listen_fds[i] = -1;
	}
}

char *
poolmgr_binary(const char *name)
{
	char	*path;

	if (asprintf(&path, "%s/%s", penv->pe_conf->cf_libexec_dir, name) == -1)
		fatal("poolmgr_binary: asprintf");
	return path;
}

/*
 * Start libexec_dir/name with argv (room for "-v" left at its first
 * NULL, set when we log verbosely), its channel on fd 3, the
 * configuration on fd 4 and extra_fd (-1: none) on fd 5.  Returns our
 * end of the channel, with *pid set, or -1.
 */
int
poolmgr_spawn(const char *name, char *argv[], int extra_fd, pid_t *pid)
{
	char	*path = poolmgr_binary(name);
	int	 ch[2], fds[3], i;

	if (log_getverbose()) {
		for (i = 0; argv[i] != NULL; i++)
			;
		argv[i] = "-v";
	}
	if (proc_channel(ch) == -1) {
		free(path);
		return -1;
	}
	fds[0] = ch[1];
	fds[1] = penv->pe_conf_fd;
	fds[2] = extra_fd;
	*pid = proc_spawn(path, argv, fds, extra_fd == -1 ? 2 : 3);
	close(ch[1]);
	free(path);
	if (*pid == -1) {
		close(ch[0]);
		return -1;
	}
	return ch[0];
}

/*
 * A channel of their own for two children, whenever either has
 * (re)started and both are there: a gets one end with type_a, b the
 * other with type_b.
 */
void
poolmgr_connect(struct pm_child *a, uint16_t type_a, struct pm_child *b,
    uint16_t type_b)
{
	int	ch[2];

	if (a == NULL || a->pc_chan == NULL || b == NULL || b->pc_chan == NULL)
		return;
	if (proc_channel(ch) == -1)
		return;
	if (chan_send(a->pc_chan, type_a, 0, NULL, 0, ch[0]) == -1 ||
	    chan_send(b->pc_chan, type_b, 0, NULL, 0, ch[1]) == -1)
		log_warn("poolmgr_connect: passing the channel");
	close(ch[0]);
	close(ch[1]);
}

/* chanfd -1: a child without a channel (a FastCGI process). */
struct pm_child *
poolmgr_child_new(enum pm_kind kind, uint32_t pool, pid_t pid, int chanfd)
{
	struct pm_child	*c;

	if ((c = calloc(1, sizeof(*c))) == NULL)
		fatal("poolmgr_child_new: calloc");
	c->pc_kind = kind;
	c->pc_pool = pool;
	c->pc_pid = pid;
	c->pc_started_ms = clock_ms();
	TAILQ_INSERT_TAIL(&penv->pe_children, c, pc_entry);
	if (chanfd == -1)
		return c;
	c->pc_chan = chan_new(penv->pe_base, chanfd,
	    kind == PM_LISTENER ? "listener" : kind == PM_LOGGER ? "logger" :
	    kind == PM_CACHED ? "cache" : "worker",
	    kind == PM_LISTENER ? poolmgr_dispatch_listener :
	    kind == PM_LOGGER ? logger_dispatch :
	    kind == PM_CACHED ? cache_dispatch : pool_dispatch_worker,
	    poolmgr_child_chan_gone, c);
	if (c->pc_chan == NULL)
		fatalx("poolmgr_child_new: no channel for pid %d", (int)pid);
	return c;
}

void
poolmgr_child_free(struct pm_child *c)
{
	TAILQ_REMOVE(&penv->pe_children, c, pc_entry);
	if (c->pc_kind == PM_WORKER)
		pool_child_free(c);
	if (c->pc_kill != NULL)
		event_free(c->pc_kill);
	if (c->pc_chan != NULL)
		chan_free(c->pc_chan);
	if (c == penv->pe_listener)
		penv->pe_listener = NULL;
	if (c == penv->pe_logger)
		penv->pe_logger = NULL;
	if (c == penv->pe_cached)
		penv->pe_cached = NULL;
	free(c);
}

void
poolmgr_describe_exit(int status, char *buf, size_t len)
{
	if (WIFSIGNALED(status) && WTERMSIG(status) == SIGSYS)
		snprintf(buf, len, "killed by signal %d (SIGSYS: a system "
		    "call its seccomp filter refuses)", SIGSYS);
	else if (WIFSIGNALED(status))
		snprintf(buf, len, "killed by signal %d%s", WTERMSIG(status),
		    WCOREDUMP(status) ? " (core dumped)" : "");
	else
		snprintf(buf, len, "exited with status %d",
		    WEXITSTATUS(status));
}

/* Whether a worker is left; FastCGI processes serve only them. */
static int
poolmgr_workers_left(void)
{
	struct pm_child	*c;

	TAILQ_FOREACH(c, &penv->pe_children, pc_entry)
		if (c->pc_kind == PM_WORKER)
			return 1;
	return 0;
}

static void
poolmgr_reap(void)
{
	struct pm_child	*c;
	pid_t		 pid;
	int		 status;

	while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
		TAILQ_FOREACH(c, &penv->pe_children, pc_entry)
			if (c->pc_pid == pid)
				break;
		if (c == NULL)
			continue;
		if (c->pc_kind == PM_WORKER) {
			pool_worker_exited(c, status);
			poolmgr_child_free(c);
		} else if (c->pc_kind == PM_FASTCGI) {
			fastcgi_exited(c, status);
			poolmgr_child_free(c);
		} else
			supervise_exited(c, status);
	}
	if (penv->pe_stopping) {
		if (penv->pe_listener == NULL) {
			pool_stop_workers();
			/* Every record the listener had is with it now. */
			logger_stop();
			cache_stop();
		}
		if (!poolmgr_workers_left())
			fastcgi_stop();
		if (TAILQ_EMPTY(&penv->pe_children))
			event_base_loopexit(penv->pe_base, NULL);
	}
}

static void
poolmgr_kill_all(evutil_socket_t fd, short ev, void *arg)
{
	struct pm_child	*c;

	(void)fd;
	(void)ev;
	(void)arg;
	TAILQ_FOREACH(c, &penv->pe_children, pc_entry) {
		log_warnx("pid %d did not stop within shutdown_timeout; "
		    "killing it", (int)c->pc_pid);
		kill(c->pc_pid, SIGKILL);
	}
}

/* Graceful stop: the listener stops accepting and drains, then the workers
 * are told to finish, then the FastCGI processes that served them;
 * whatever is left after shutdown_timeout is killed. */
void
poolmgr_stop(int sig)
{
	struct timeval	tv;
	uint64_t	ms = penv->pe_conf->cf_shutdown_timeout_ms;

	if (penv->pe_stopping) {
		if (sig != 0) {
			log_warnx("second signal: stopping now");
			poolmgr_kill_all(-1, 0, NULL);
		}
		return;
	}
	if (sig != 0)
		log_info("signal %d: stopping (at most %llu ms)", sig,
		    (unsigned long long)ms);
	penv->pe_stopping = 1;
	supervise_stop();
	poolmgr_close_listeners();
	if (penv->pe_listener != NULL && penv->pe_listener->pc_chan != NULL)
		chan_send(penv->pe_listener->pc_chan, MSG_PM_SHUTDOWN, 0, NULL,
		    0, -1);
	else
		pool_stop_workers();
	if (!poolmgr_workers_left())
		fastcgi_stop();
	conf_timeval(ms, &tv);
	evtimer_add(penv->pe_kill_timer, &tv);
	if (TAILQ_EMPTY(&penv->pe_children))
		event_base_loopexit(penv->pe_base, NULL);
}

static void
poolmgr_signal(evutil_socket_t sig, short ev, void *arg)
{
	char	 err[1024], *report;

	(void)ev;
	(void)arg;
	switch (sig) {
	case SIGCHLD:
		poolmgr_reap();
		break;
	case SIGTERM:
	case SIGINT:
		poolmgr_stop(sig);
		break;
	case SIGUSR1:
		logger_reopen();
		break;
	case SIGHUP:
		/* reload_run() logs what it did, or why it did nothing. */
		if (!penv->pe_stopping &&
		    reload_run(&report, err, sizeof(err)) == 0)
			free(report);
		break;
	}
}

static void
poolmgr_dispatch_listener(struct chan *ch, const struct msg_hdr *hdr,
    const void *data, int fd, void *arg)
{
	(void)ch;
	(void)arg;
	if (fd != -1)
		close(fd);
	switch (hdr->mh_type) {
	case MSG_LSN_DRAINED:
		log_debug("poolmgr_dispatch_listener: listener drained");
		pool_stop_workers();
		break;
	case MSG_LSN_WORKER_FAILED:
		pool_worker_failed(hdr, data);
		break;
	case MSG_LSN_DEMAND:
		pool_demand(hdr, data);
		break;
	case MSG_LSN_STATUS:
		ctl_listener_status(hdr, data);
		break;
	case MSG_LSN_RELOADED:
		ctl_listener_reloaded(hdr->mh_id);
		break;
	default:
		log_warnx("poolmgr_dispatch_listener: unexpected message type "
		    "%u", hdr->mh_type);
		break;
	}
}

/* The channel closing is the first sign of a dying child; the exit status
 * arrives with SIGCHLD.  Only drop the channel here. */
static void
poolmgr_child_chan_gone(struct chan *ch, void *arg)
{
	struct pm_child	*c = arg;

	chan_free(ch);
	c->pc_chan = NULL;
	if (c == penv->pe_listener && penv->pe_stopping)
		pool_stop_workers();
}

/*
 * run_dir holds the pid file: whoever may write in it can put a link
 * there and have the pool manager, root perhaps, write through it.  So
 * it must be a directory of ours that nobody else may write to; it is
 * created so when missing, and refused, not repaired, otherwise.  The
 * checks are made on the open directory, and the pid file is opened
 * relative to it, so the directory cannot be swapped in between.
 */
static int
poolmgr_open_run_dir(const char *dir)
{
	struct stat	st;
	int		fd;

	if (mkdir(dir, 0700) == -1 && errno != EEXIST) {
		log_warn("run_dir: mkdir %s", dir);
		return -1;
	}
	if ((fd = open(dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW |
	    O_CLOEXEC)) == -1) {
		/* O_DIRECTORY with O_NOFOLLOW says ENOTDIR for a link. */
		if ((errno == ELOOP || errno == ENOTDIR) &&
		    lstat(dir, &st) == 0 && S_ISLNK(st.st_mode))
			log_warnx("run_dir %s is a symbolic link; refusing to "
			    "use it", dir);
		else if (errno == ENOTDIR)
			log_warnx("run_dir %s is not a directory", dir);
		else
			log_warn("run_dir: open %s", dir);
		return -1;
	}
	if (fstat(fd, &st) == -1) {
		log_warn("run_dir: fstat %s", dir);
		goto fail;
	}
	if (st.st_uid != geteuid()) {
		log_warnx("run_dir %s is owned by uid %u, not by uid %u that "
		    "runs hsd-poolmgr; refusing to use it", dir,
		    (unsigned int)st.st_uid, (unsigned int)geteuid());
		goto fail;
	}
	if (st.st_mode & (S_IWGRP | S_IWOTH)) {
		log_warnx("run_dir %s is writable by its group or by others "
		    "(mode %03o); refusing to use it", dir,
		    (unsigned int)(st.st_mode & 0777));
		goto fail;
	}
	return fd;
fail:
	close(fd);
	return -1;
}

/*
 * Not started as root, every process runs as whoever started us; a user
 * or group the file names that is not that one cannot be honoured, and
 * running anyway would silently serve files with other permissions than
 * the operator chose.
 */
static int
poolmgr_check_ident(const char *file, const char *where,
    const struct conf_ident *id)
{
	int	rv = 0;

	if (id->id_user_line > 0 && id->id_uid != geteuid()) {
		log_warnx("%s:%d: %suser \"%s\": not started as root, every "
		    "process runs as uid %u", file, id->id_user_line, where,
		    id->id_user, (unsigned int)geteuid());
		rv = -1;
	}
	if (id->id_group_line > 0 && id->id_gid != getegid()) {
		log_warnx("%s:%d: %sgroup \"%s\": not started as root, every "
		    "process runs as gid %u", file, id->id_group_line, where,
		    id->id_group, (unsigned int)getegid());
		rv = -1;
	}
	return rv;
}

static int
poolmgr_check_privsep(const struct hsd_config *cf, const char *file)
{
	char			 where[256];
	uint32_t		 i;
	int			 rv = 0;

	if (geteuid() == 0)
		return 0;
	rv = poolmgr_check_ident(file, "", &cf->cf_ident);
	for (i = 0; i < cf->cf_npools; i++) {
		snprintf(where, sizeof(where), "pool \"%s\": ",
		    cf->cf_pools[i].pl_name);
		if (poolmgr_check_ident(file, where,
		    &cf->cf_pools[i].pl_ident) == -1)
			rv = -1;
	}
	return rv;
}

/*
 * A directory a child is chrooted to must be one nobody but root can
 * change: whoever could write to it could give that child files to find.
 * Refused, not repaired.  what names it in the messages.
 */
static int
poolmgr_check_root_dir(const char *what, const char *dir)
{
	struct stat	st;

	if (lstat(dir, &st) == -1) {
		log_warn("%s: lstat %s", what, dir);
		return -1;
	}
	if (!S_ISDIR(st.st_mode)) {
		log_warnx("%s %s is not a directory", what, dir);
		return -1;
	}
	if (st.st_uid != 0) {
		log_warnx("%s %s is owned by uid %u, not root; "
		    "refusing to use it", what, dir, (unsigned int)st.st_uid);
		return -1;
	}
	if (st.st_mode & (S_IWGRP | S_IWOTH)) {
		log_warnx("%s %s is writable by its group or by others "
		    "(mode %03o); refusing to use it", what, dir,
		    (unsigned int)(st.st_mode & 0777));
		return -1;
	}
	return 0;
}

/*
 * The listener's chroot_dir is an empty directory of hsd's own, created
 * when missing as run_dir is.  A pool's chroot holds its sites' files,
 * so it is the operator's to make and is only checked.  Not started as
 * root, nobody is chrooted.
 */
static int
poolmgr_check_chroot(const struct hsd_config *cf, const char *file)
{
	const struct conf_pool	*pl;
	const char		*dir = cf->cf_chroot_dir;
	char			 path[PATH_MAX], what[512], *p, c;
	uint32_t		 i;
	int			 rv = 0;

	if (geteuid() != 0)
		return 0;
	/* Debian has no /var/empty: make the parents as mkdir -p would. */
	if ((size_t)snprintf(path, sizeof(path), "%s", dir) >= sizeof(path)) {
		log_warnx("chroot_dir %s: too long", dir);
		return -1;
	}
	for (p = path + 1;; p++) {
		if (*p != '/' && *p != '\0')
			continue;
		c = *p;
		*p = '\0';
		if (mkdir(path, 0755) == -1 && errno != EEXIST) {
			log_warn("chroot_dir: mkdir %s", path);
			return -1;
		}
		if ((*p = c) == '\0')
			break;
	}
	if (poolmgr_check_root_dir("chroot_dir", dir) == -1)
		rv = -1;
	for (i = 0; i < cf->cf_npools; i++) {
		pl = &cf->cf_pools[i];
		if (pl->pl_chroot == NULL)
			continue;
		snprintf(what, sizeof(what), "%s:%d: pool \"%s\": chroot",
		    file, pl->pl_chroot_line, pl->pl_name);
		if (poolmgr_check_root_dir(what, pl->pl_chroot) == -1)
			rv = -1;
	}
	return rv;
}

/* Opened before daemon(), so a refusal is seen by whoever started us;
 * written after it, with the daemon's pid. */
/*
 * What the configuration asks of this machine that conf_load_*() cannot
 * tell: users the server can switch to, chroot directories fit for use,
 * FastCGI commands that are there to run.
 * Each problem is logged with the file's line; -1 if any.
 */
int
poolmgr_check_conf(const struct hsd_config *cf, const char *file)
{
	int	rv = 0;

	if (poolmgr_check_privsep(cf, file) == -1)
		rv = -1;
	if (poolmgr_check_chroot(cf, file) == -1)
		rv = -1;
	if (logger_check_dirs(cf, file) == -1)
		rv = -1;
	if (fastcgi_check_conf(cf, file) == -1)
		rv = -1;
	return rv;
}

static int
poolmgr_open_pidfile(int dirfd)
{
	struct stat	st;
	int		fd;

	if (asprintf(&penv->pe_pidfile, "%s/hsd-poolmgr.pid",
	    penv->pe_conf->cf_run_dir) == -1)
		fatal("poolmgr_open_pidfile: asprintf");
	/* O_NONBLOCK: a FIFO put there must not hang the start. */
	if ((fd = openat(dirfd, "hsd-poolmgr.pid", O_WRONLY | O_CREAT |
	    O_TRUNC | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC, 0644)) == -1) {
		if (errno == ELOOP)
			log_warnx("%s is a symbolic link; refusing to write "
			    "through it", penv->pe_pidfile);
		else
			log_warn("%s", penv->pe_pidfile);
		return -1;
	}
	if (fstat(fd, &st) == -1) {
		log_warn("%s: fstat", penv->pe_pidfile);
		goto fail;
	}
	if (!S_ISREG(st.st_mode)) {
		log_warnx("%s is not a regular file; refusing to use it",
		    penv->pe_pidfile);
		goto fail;
	}
	return fd;
fail:
	close(fd);
	return -1;
}

static void
poolmgr_write_pidfile(int fd)
{
	if (dprintf(fd, "%d\n", (int)getpid()) < 0)
		log_warn("%s: write", penv->pe_pidfile);
	close(fd);
}

static void
usage(void)
{
	fprintf(stderr, "usage: hsd-poolmgr [-dtv] [-f file]\n");
	exit(1);
}

int
main(int argc, char *argv[])
{
	const char	*file = SYSCONFDIR "/hsd/hsd.conf";
	struct passwd	*pw;
	struct event	*ev;
	char		*text, *path;
	int		 ch, daemonize = 0, testonly = 0, verbose = 0;
	int		 rundir, pidfd;
	int		 sigs[] = { SIGCHLD, SIGTERM, SIGINT, SIGHUP, SIGUSR1 };
	uint32_t	 i;

	log_init("hsd-poolmgr", 0);
	while ((ch = getopt(argc, argv, "df:tv")) != -1) {
		switch (ch) {
		case 'd':
			daemonize = 1;
			break;
		case 'f':
			file = optarg;
			break;
		case 't':
			testonly = 1;
			break;
		case 'v':
			verbose++;
			break;
		default:
			usage();
		}
	}
	if (optind != argc)
		usage();
	log_setverbose(verbose);

	if ((penv = calloc(1, sizeof(*penv))) == NULL)
		fatal("main: calloc");
	TAILQ_INIT(&penv->pe_children);
	penv->pe_conf_path = file;
	if ((text = penv->pe_conf_text = poolmgr_read_file(file)) == NULL)
		exit(1);
	if (conf_load_buf(text, file, &penv->pe_conf) == -1)
		exit(1);
	if (testonly) {
		printf("%s: configuration ok\n", file);
		exit(0);
	}
	for (i = 0; i < 3; i++) {
		path = poolmgr_binary(i == 0 ? "hsd-listener" : i == 1 ?
		    "hsd-worker" : "hsd-logd");
		if (access(path, X_OK) == -1)
			fatal("%s (libexec_dir in %s)", path, file);
		free(path);
	}

	if (geteuid() != 0) {
		pw = getpwuid(geteuid());
		log_info("privilege separation is off: running as %s",
		    pw ? pw->pw_name : "(unknown)");
	}
	if (poolmgr_check_conf(penv->pe_conf, file) == -1)
		exit(1);

	signal(SIGPIPE, SIG_IGN);
	if ((rundir = poolmgr_open_run_dir(penv->pe_conf->cf_run_dir)) == -1)
		exit(1);
	/* After bind(): a second instance on the same ports stops there,
	 * without truncating the first one's pid file. */
	if (poolmgr_bind() == -1)
		exit(1);
	/* Likewise before the pid file: a server that answers on the
	 * control socket keeps its pid file. */
	if (ctl_open() == -1)
		exit(1);
	/* After the control socket: a server already running keeps its
	 * FastCGI sockets. */
	if (fastcgi_open() == -1) {
		ctl_close();
		exit(1);
	}
	if ((pidfd = poolmgr_open_pidfile(rundir)) == -1) {
		fastcgi_close();
		ctl_close();
		exit(1);
	}
	close(rundir);
	/* Stay in the start directory: children re-read the config and
	 * resolve relative roots the same way. */
	if (daemonize && daemon(1, 1) == -1)
		fatal("daemon");
	if ((penv->pe_conf_fd = proc_memfd("hsd.conf", text, strlen(text))) ==
	    -1)
		exit(1);
	free(text);
	penv->pe_conf_text = NULL;

	if ((penv->pe_base = event_base_new()) == NULL)
		fatalx("main: event_base_new failed");
	for (i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++) {
		if ((ev = evsignal_new(penv->pe_base, sigs[i], poolmgr_signal,
		    NULL)) == NULL || evsignal_add(ev, NULL) == -1)
			fatalx("main: signal setup failed");
	}
	/* Only now: whoever reads the pid file may signal us at once. */
	poolmgr_write_pidfile(pidfd);
	if ((penv->pe_kill_timer = evtimer_new(penv->pe_base, poolmgr_kill_all,
	    NULL)) == NULL)
		fatalx("main: evtimer_new failed");
	reload_init();
	logger_init();
	pool_init();
	supervise_init();
	ctl_start();

	/* The listener, then the workers once it is there to take them. */
	supervise_start_all();
	fastcgi_start();
	if (penv->pe_conf->cf_shared)
		log_info("started: isolation \"shared\" (IIS 5.0 isolation "
		    "mode): every request goes to pool default, without "
		    "health monitoring or recycling; %u sites",
		    penv->pe_conf->cf_nsites);
	else
		log_info("started: %u pools, %u sites",
		    penv->pe_conf->cf_npools, penv->pe_conf->cf_nsites);

	event_base_dispatch(penv->pe_base);

	fastcgi_close();
	ctl_close();
	if (penv->pe_pidfile != NULL)
		unlink(penv->pe_pidfile);
	log_info("stopped");
	return penv->pe_exit_status;
}
