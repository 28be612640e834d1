/*
 * The CGI handler (RFC 3875): a request routed to a site or application
 * with handler = "cgi" runs the program its path names below the root.
 *
 * The worker forks the child with three pipes.  The request body is
 * streamed to its standard input as it arrives, never more than
 * CGI_BODY_HIGH bytes ahead of what the child has read; what it writes
 * to standard error becomes lines of the error log; its standard output
 * is the response: CGI header lines, a blank line, the body.  The worker
 * turns the header lines into an HTTP head and relays the body to the
 * client, with the client's socket pacing the child (no more than
 * CGI_SEND_HIGH bytes queued).  A body of unknown length goes chunked to
 * an HTTP/1.1 client and ends the connection for HTTP/1.0.
 *
 * A response is whole only if the child said so: its Content-Length
 * reached, or for a body of unknown length, the child exiting by itself.
 * A child killed by a signal (a crash, not cgi_timeout) before its head
 * was complete costs the client nothing it could notice when the
 * request can be run again (GET or HEAD, no body): it is, up to twice
 * (CGI_TRIES); else the client gets 502.  After the head went out, the
 * connection is reset (DONE_INCOMPLETE): a cut response must never look
 * complete.
 *
 * Each child is a session leader with the worker as its parent-death
 * signal, so a timeout kills what it started too, and a worker that dies
 * takes its children with it.  At most the pool's cgi_max_children run
 * at once per worker; other requests wait for one to end, within their
 * cgi_timeout.
 *
 * A chunked request body is the exception to streaming: RFC 3875 has
 * the server give CONTENT_LENGTH, and PHP reads no body without it (an
 * upload would arrive empty, with a 200).  So it is read whole first,
 * held in memory up to CGI_BODY_HIGH bytes and beyond that in an
 * unlinked file in body_temp_dir, as nginx buffers it for FastCGI.
 */
#include "config.h"

#include <sys/types.h>
#include <sys/prctl.h>
#include <sys/queue.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>

#include <linux/openat2.h>

#include <sys/un.h>

#include <arpa/inet.h>
#include <netinet/in.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/event.h>

#include "clock.h"
#include "conf.h"
#include "gateway.h"
#include "head.h"
#include "log.h"
#include "proc.h"
#include "worker.h"

/* The child's header block may be this large. */
#define CGI_HEAD_MAX	(16 * 1024)
/* One line of its stderr, longer ones are cut. */
#define CGI_ERRLINE_MAX	1000
/*
 * A request whose child crashed before any output is run this often in
 * all, as the listener runs a GET whose worker dies (QUEUE_REDISPATCH_MAX
 * hands it on twice).  With slow pages and processes dying often, one
 * run again was caught by a second death too; a request that kills
 * every process it reaches costs three.
 */
#define CGI_TRIES	3

#define CGI_PATH	"/usr/local/bin:/usr/bin:/bin"

static TAILQ_HEAD(, cgi_run) cgi_queue = TAILQ_HEAD_INITIALIZER(cgi_queue);
static LIST_HEAD(, cgi_run) cgi_live = LIST_HEAD_INITIALIZER(cgi_live);
static uint32_t		 cgi_running;	/* children not yet reaped */
static uint32_t		 cgi_max = 16;
static struct event	*cgi_sigchld;
static int		 cgi_spool_dir = -1;	/* body_temp_dir */
static const char	*cgi_spool_path;	/* NULL: not below the chroot */
static int		 cgi_spool_errno;

static void	cgi_spawn(struct cgi_run *);
static void	fcgi_start(struct cgi_run *);
static void	fcgi_feed(struct cgi_run *);
static void	fcgi_close(struct fcgi_conn *);
static void	fcgi_detach(struct cgi_run *, int keep);
static int	cgi_crashed(const struct cgi_run *);
static int	cgi_rerunnable(const struct wrk_req *);
static void	cgi_wake(void);
static void	cgi_output_pause(struct cgi_run *);
static void	cgi_output_resume(struct cgi_run *);
static void	cgi_start(struct cgi_run *);
static void	cgi_flush(struct cgi_run *);
static void	cgi_kill(struct cgi_run *, const char *);
static void	cgi_spool_pump(struct cgi_run *);

/* Reap every child that ended; each frees a place for one that waits. */
static void
cgi_reap(evutil_socket_t sig, short ev, void *arg)
{
	struct cgi_run	*cg;
	struct wrk_req	*rq;
	pid_t		 pid;
	int		 st;

	(void)sig;
	(void)ev;
	(void)arg;
	while ((pid = waitpid(-1, &st, WNOHANG)) > 0) {
		if (cgi_running > 0)
			cgi_running--;
		/* A request that ended first killed it: nothing to do. */
		LIST_FOREACH(cg, &cgi_live, cg_live)
			if (cg->cg_pid == pid)
				break;
		if (cg == NULL)
			continue;
		LIST_REMOVE(cg, cg_live);
		cg->cg_pid = -1;
		cg->cg_wstatus = st;
		if (cg->cg_done)
			continue;
		rq = cg->cg_rq;
		if (WIFSIGNALED(st) && !cg->cg_timed_out)
			log_warnx("cgi: conn %u: %s killed by signal %d",
			    rq->rq_conn, cg->cg_script, WTERMSIG(st));
		else if (WIFEXITED(st) && WEXITSTATUS(st) != 0)
			log_info("cgi: conn %u: %s exited with status %d",
			    rq->rq_conn, cg->cg_script, WEXITSTATUS(st));
		cgi_progress(cg);
	}
	cgi_wake();
}

void
cgi_init(struct event_base *base, uint32_t max_children, const char *dir)
{
	cgi_max = max_children > 0 ? max_children : 1;
	/* Where chunked bodies go: opened once, as the pool's user, in
	 * its chroot.  Without it such a request gets 500, and the error
	 * log says why (a pool that never needs it says nothing). */
	cgi_spool_path = dir;
	if (dir == NULL)
		cgi_spool_errno = ENOENT;
	else if ((cgi_spool_dir = open(dir, O_PATH | O_DIRECTORY |
	    O_CLOEXEC)) == -1)
		cgi_spool_errno = errno;
	if ((cgi_sigchld = evsignal_new(base, SIGCHLD, cgi_reap, NULL)) ==
	    NULL || evsignal_add(cgi_sigchld, NULL) == -1)
		fatalx("cgi_init: SIGCHLD event setup failed");
}

/*
 * Called before the handed bytes are parsed, so that body bytes among
 * them are kept for the child.  path: what runs, the request's path or
 * its front controller (conf_front_controller()); handler: by what.
 */
int
cgi_new(struct wrk_req *rq, const char *path, size_t len, int handler)
{
	struct cgi_run	*cg;

	if ((cg = calloc(1, sizeof(*cg))) == NULL) {
		log_warn("cgi_new");
		return -1;
	}
	cg->cg_rq = rq;
	cg->cg_in = cg->cg_out = cg->cg_err = cg->cg_spool = -1;
	cg->cg_clen = -1;
	/* What runs, and by what (worker_gateway_path()). */
	cg->cg_path = path;
	cg->cg_path_len = len;
	cg->cg_fastcgi = handler == CONF_HANDLER_FASTCGI;
	cg->cg_module = handler == CONF_HANDLER_MODULE;
	rq->rq_cgi = cg;
	if ((cg->cg_body = evbuffer_new()) == NULL ||
	    (cg->cg_resp = evbuffer_new()) == NULL ||
	    (cg->cg_sendq = evbuffer_new()) == NULL ||
	    (cg->cg_errline = evbuffer_new()) == NULL ||
	    (cg->cg_fields = evbuffer_new()) == NULL) {
		log_warnx("cgi_new: evbuffer_new failed");
		cgi_free(rq);
		return -1;
	}
	if (cg->cg_module && module_new(cg) == -1) {
		cgi_free(rq);
		return -1;
	}
	return 0;
}

/* Body bytes the parser found: for the child, unless it stopped reading. */
int
cgi_body(struct wrk_req *rq, const char *at, size_t len)
{
	struct cgi_run	*cg = rq->rq_cgi;

	if (cg->cg_stdin_gone)
		return 0;
	return evbuffer_add(cg->cg_body, at, len);
}

static void
cgi_close_fd(int *fd, struct event **ev)
{
	if (*ev != NULL) {
		event_free(*ev);
		*ev = NULL;
	}
	if (*fd != -1) {
		close(*fd);
		*fd = -1;
	}
}

/* The request is over (worker_release()): a child still running is
 * killed, and reaped when it is gone; a module still on it is told. */
void
cgi_free(struct wrk_req *rq)
{
	struct cgi_run	*cg = rq->rq_cgi;

	if (cg == NULL)
		return;
	if (cg->cg_waiting)
		TAILQ_REMOVE(&cgi_queue, cg, cg_entry);
	if (cg->cg_pid > 0) {
		kill(-cg->cg_pid, SIGKILL);
		LIST_REMOVE(cg, cg_live);
	}
	if (cg->cg_fc != NULL) {
		fcgi_detach(cg, 0);
		cgi_wake();
	}
	module_free(cg);
	cgi_close_fd(&cg->cg_in, &cg->cg_in_ev);
	cgi_close_fd(&cg->cg_out, &cg->cg_out_ev);
	cgi_close_fd(&cg->cg_err, &cg->cg_err_ev);
	if (cg->cg_spool != -1)
		close(cg->cg_spool);
	if (cg->cg_sock_ev != NULL)
		event_free(cg->cg_sock_ev);
	if (cg->cg_timer != NULL)
		event_free(cg->cg_timer);
	if (cg->cg_fc_retry != NULL)
		event_free(cg->cg_fc_retry);
	if (cg->cg_body != NULL)
		evbuffer_free(cg->cg_body);
	if (cg->cg_resp != NULL)
		evbuffer_free(cg->cg_resp);
	if (cg->cg_sendq != NULL)
		evbuffer_free(cg->cg_sendq);
	if (cg->cg_errline != NULL)
		evbuffer_free(cg->cg_errline);
	if (cg->cg_fields != NULL)
		evbuffer_free(cg->cg_fields);
	free(cg->cg_env);
	free(cg->cg_envp);
	free(cg);
	rq->rq_cgi = NULL;
}

/* An answer of the worker's own before any byte of the child's. */
void
cgi_answer(struct wrk_req *rq, int status)
{
	struct cgi_run	*cg = rq->rq_cgi;

	/* From here the child's doings do not matter; it is killed. */
	if (cg != NULL) {
		cg->cg_done = 1;
		if (cg->cg_pid > 0)
			kill(-cg->cg_pid, SIGKILL);
		if (cg->cg_waiting) {
			TAILQ_REMOVE(&cgi_queue, cg, cg_entry);
			cg->cg_waiting = 0;
		}
		cgi_close_fd(&cg->cg_in, &cg->cg_in_ev);
		cgi_close_fd(&cg->cg_out, &cg->cg_out_ev);
		cgi_close_fd(&cg->cg_err, &cg->cg_err_ev);
		if (cg->cg_fc != NULL) {
			fcgi_detach(cg, 0);
			cgi_wake();
		}
		if (cg->cg_mod != NULL)
			module_stop(cg);
		if (cg->cg_sock_ev != NULL)
			event_del(cg->cg_sock_ev);
		if (cg->cg_timer != NULL)
			event_del(cg->cg_timer);
		if (cg->cg_fc_retry != NULL)
			event_del(cg->cg_fc_retry);
	}
	/* A body not read to its end: a Content-Length one the listener
	 * throws away, a chunked one ends the connection. */
	if (!rq->rq_msg_done) {
		if (rq->rq_parser.flags & F_CHUNKED)
			rq->rq_close = 1;
		else
			rq->rq_discard = rq->rq_parser.content_length;
	}
	static_error(rq, status);
	worker_start_response(rq);
}

/* The response cannot be finished: the listener resets the connection. */
void
cgi_cut(struct wrk_req *rq)
{
	rq->rq_resp_len = UINT64_MAX;
	worker_finish(rq, 0);
}

/*
 * Find the program: the longest leading part of the path below the root
 * that is not a directory; what follows it is PATH_INFO.  openat2() with
 * RESOLVE_BENEATH keeps the search below the root.  0 or a status.
 *
 * Where a script map (cgi_extensions, fastcgi_extensions) chose the
 * handler, the file found must carry one of its extensions itself: a
 * file before the mapped component ("/upload/a.jpg/x.php") is not run
 * with the rest as its PATH_INFO, the hole PHP's cgi.fix_pathinfo left
 * behind other servers' script maps.
 */
static int
cgi_locate(struct wrk_req *rq, const char **pathinfo, size_t *scriptlen)
{
	const struct conf_site	*site = &wrk_conf->cf_sites[rq->rq_site];
	struct cgi_run		*cg = rq->rq_cgi;
	struct open_how		 how;
	struct stat		 st;
	const char		*root, *rel, *rootpath, *end, *base;
	char			 name[PATH_MAX];
	size_t			 len;
	int			 dirfd, fd, n, mapped;

	mapped = conf_handler(site, rq->rq_app) == CONF_HANDLER_STATIC;
	rel = conf_map_path(site, rq->rq_app, cg->cg_path, &root);
	if (rel == NULL || root == NULL || (dirfd = worker_rootfd(rq,
	    root)) == -1 || (rootpath = worker_root_path(root)) == NULL)
		return 404;
	memset(&how, 0, sizeof(how));
	how.flags = O_PATH | O_CLOEXEC;
	how.resolve = RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS;
	/* Most paths name the file itself: one look first. */
	for (end = rel; *end == '/'; end++)
		;
	len = strlen(end);
	if (len > 0 && len < sizeof(name) && end[len - 1] != '/') {
		memcpy(name, end, len + 1);
		if ((fd = syscall(SYS_openat2, dirfd, name, &how,
		    sizeof(how))) != -1) {
			n = fstat(fd, &st);
			close(fd);
			if (n == 0 && S_ISREG(st.st_mode)) {
				end += len;
				goto found;
			}
		}
	}
	end = rel;
	len = 0;
	name[0] = '\0';
	for (;;) {
		/* The next component's end. */
		while (*end == '/')
			end++;
		if (*end == '\0') {
			/* A directory: nothing to run, but for FastCGI its
			 * index.php, as nginx's fastcgi_index. */
			if (!cg->cg_fastcgi ||
			    len + sizeof("/index.php") > sizeof(name))
				return 403;
			/* At the root, no '/' before it. */
			if (len > 0)
				memcpy(name + len, "/index.php",
				    sizeof("/index.php"));
			else
				memcpy(name, "index.php", sizeof("index.php"));
			if ((fd = syscall(SYS_openat2, dirfd, name, &how,
			    sizeof(how))) == -1)
				return 403;
			n = fstat(fd, &st);
			close(fd);
			if (n == -1 || !S_ISREG(st.st_mode))
				return 403;
			cg->cg_index = 1;
			break;
		}
		while (*end != '\0' && *end != '/')
			end++;
		len = end - rel;
		while (len > 0 && rel[0] == '/') {
			rel++;
			len--;
		}
		if (len + 1 > sizeof(name))
			return 404;
		memcpy(name, rel, len);
		name[len] = '\0';
		if ((fd = syscall(SYS_openat2, dirfd, name, &how,
		    sizeof(how))) == -1)
			return errno == EACCES ? 403 : 404;
		n = fstat(fd, &st);
		close(fd);
		if (n == -1)
			return 404;
		if (S_ISDIR(st.st_mode))
			continue;
		break;
	}
found:
	base = strrchr(name, '/') != NULL ? strrchr(name, '/') + 1 : name;
	if (mapped && conf_handler_path(site, rq->rq_app, base,
	    strlen(base)) != (cg->cg_fastcgi ? CONF_HANDLER_FASTCGI :
	    CONF_HANDLER_CGI)) {
		log_info("cgi: conn %u: %s/%s is not a mapped script",
		    rq->rq_conn, rootpath, name);
		return 404;
	}
	/* A FastCGI application reads the file; a CGI one runs. */
	if (!S_ISREG(st.st_mode) || (!cg->cg_fastcgi &&
	    (st.st_mode & (S_IXUSR | S_IXGRP | S_IXOTH)) == 0)) {
		log_info("cgi: conn %u: %s/%s is not an executable file",
		    rq->rq_conn, rootpath, name);
		return 403;
	}
	*pathinfo = end;
	*scriptlen = cg->cg_path_len - strlen(end);
	n = snprintf(cg->cg_script, sizeof(cg->cg_script), "%s%s%s",
	    rootpath, strcmp(rootpath, "/") == 0 ? "" : "/", name);
	if (n < 0 || (size_t)n >= sizeof(cg->cg_script))
		return 404;
	memcpy(cg->cg_dir, cg->cg_script, n + 1);
	*strrchr(cg->cg_dir, '/') = '\0';
	if (cg->cg_dir[0] == '\0')
		memcpy(cg->cg_dir, "/", 2);
	if (cg->cg_fastcgi && *end == '\0')
		*scriptlen = cg->cg_path_len;	/* an index.php or the file */
	return 0;
}

/*
 * A field's value from *v to ve (its line's end), without the blanks
 * around it or the CR of a CRLF: moves *v, returns the new end.
 */
const char *
cgi_trim(const char **v, const char *ve)
{
	while (*v < ve && (**v == ' ' || **v == '\t'))
		(*v)++;
	while (ve > *v && (ve[-1] == ' ' || ve[-1] == '\t' || ve[-1] == '\r'))
		ve--;
	return ve;
}

/* The environment: a growing NUL-separated block, then pointers. */
struct cgi_envbuf {
	struct evbuffer	*eb;
	int		 n;
	int		 failed;
};

static void
cgi_setenv(struct cgi_envbuf *e, const char *name, const char *val,
    size_t vlen)
{
	if (evbuffer_add_printf(e->eb, "%s=", name) == -1 ||
	    evbuffer_add(e->eb, val, vlen) == -1 ||
	    evbuffer_add(e->eb, "", 1) == -1)
		e->failed = 1;
	e->n++;
}

static void
cgi_setenvs(struct cgi_envbuf *e, const char *name, const char *val)
{
	cgi_setenv(e, name, val, strlen(val));
}

static void
cgi_setenvu(struct cgi_envbuf *e, const char *name, uint64_t v)
{
	char	buf[24];

	snprintf(buf, sizeof(buf), "%llu", (unsigned long long)v);
	cgi_setenvs(e, name, buf);
}

static void
cgi_addr(const struct sockaddr_storage *ss, char *host, size_t hostlen,
    unsigned int *port)
{
	const struct sockaddr_in	*sin = (const void *)ss;
	const struct sockaddr_in6	*sin6 = (const void *)ss;

	host[0] = '\0';
	*port = 0;
	if (ss->ss_family == AF_INET) {
		inet_ntop(AF_INET, &sin->sin_addr, host, hostlen);
		*port = ntohs(sin->sin_port);
	} else if (ss->ss_family == AF_INET6) {
		inet_ntop(AF_INET6, &sin6->sin6_addr, host, hostlen);
		*port = ntohs(sin6->sin6_port);
	}
}

/*
 * A request header as HTTP_NAME: letters upper-cased, '-' as '_'.
 * Headers whose names have '_' (which would pass for '-') are dropped,
 * as Apache and nginx do, and so are Authorization (RFC 3875 4.1) and
 * Proxy (it would become HTTP_PROXY, which programs take for a proxy).
 * Repeated headers are joined with ", " (RFC 3875 4.1.18): the same
 * name's values are gathered in one pass per name.
 */
static void
cgi_env_headers(struct cgi_envbuf *e, const char *head, size_t headlen,
    int auth)
{
	const char	*p = head, *end = head + headlen, *line, *eol, *colon;
	const char	*q, *v, *ve, *seen;
	char		 name[128 + 6];
	size_t		 nlen, i;
	int		 first;

	/* Past any empty lines and the request line. */
	while (p < end && (*p == '\r' || *p == '\n'))
		p++;
	if ((p = memchr(p, '\n', end - p)) == NULL)
		return;
	for (line = p + 1; line < end; line = eol + 1) {
		if ((eol = memchr(line, '\n', end - line)) == NULL)
			break;
		if (eol == line || (eol == line + 1 && *line == '\r'))
			break;
		if ((colon = memchr(line, ':', eol - line)) == NULL)
			continue;
		nlen = colon - line;
		if (nlen == 0 || nlen > 128 || memchr(line, '_', nlen) != NULL)
			continue;
		if ((nlen == 14 && strncasecmp(line, "Content-Length", 14) ==
		    0) || (nlen == 12 && strncasecmp(line, "Content-Type",
		    12) == 0) || (!auth && nlen == 13 && strncasecmp(line,
		    "Authorization", 13) == 0) || (nlen == 5 &&
		    strncasecmp(line, "Proxy", 5) == 0))
			continue;
		/* Only the first line of each name does the work. */
		for (seen = p + 1; seen < line; seen = q + 1) {
			if ((q = memchr(seen, '\n', line - seen)) == NULL)
				break;
			if ((size_t)(q - seen) > nlen && seen[nlen] == ':' &&
			    strncasecmp(seen, line, nlen) == 0)
				break;
		}
		if (seen < line)
			continue;
		memcpy(name, "HTTP_", 5);
		for (i = 0; i < nlen; i++)
			name[5 + i] = line[i] == '-' ? '_' :
			    (line[i] >= 'a' && line[i] <= 'z') ?
			    line[i] - 'a' + 'A' : line[i];
		name[5 + nlen] = '\0';
		if (evbuffer_add_printf(e->eb, "%s=", name) == -1)
			e->failed = 1;
		first = 1;
		for (q = line; q < end; q = ve + 1) {
			if ((ve = memchr(q, '\n', end - q)) == NULL ||
			    ve == q || (ve == q + 1 && *q == '\r'))
				break;
			if ((size_t)(ve - q) <= nlen || q[nlen] != ':' ||
			    strncasecmp(q, line, nlen) != 0)
				continue;
			v = q + nlen + 1;
			eol = cgi_trim(&v, ve);
			if (!first && evbuffer_add(e->eb, ", ", 2) == -1)
				e->failed = 1;
			if (evbuffer_add(e->eb, v, eol - v) == -1)
				e->failed = 1;
			first = 0;
		}
		if (evbuffer_add(e->eb, "", 1) == -1)
			e->failed = 1;
		e->n++;
		/* Go on after the line this pass started from. */
		eol = memchr(line, '\n', end - line);
	}
}

/* The value of request header name (first one), NULL if none. */
static const char *
cgi_header(const char *head, size_t headlen, const char *name, size_t *vlen)
{
	const char	*p, *end = head + headlen, *eol, *v, *ve;
	size_t		 nlen = strlen(name);

	if ((p = memchr(head, '\n', headlen)) == NULL)
		return NULL;
	for (p++; p < end; p = eol + 1) {
		if ((eol = memchr(p, '\n', end - p)) == NULL)
			return NULL;
		if ((size_t)(eol - p) > nlen && p[nlen] == ':' &&
		    strncasecmp(p, name, nlen) == 0) {
			v = p + nlen + 1;
			ve = cgi_trim(&v, eol);
			*vlen = ve - v;
			return v;
		}
	}
	return NULL;
}

static int
cgi_env(struct wrk_req *rq, const char *pathinfo, size_t scriptlen)
{
	const struct conf_site	*site = &wrk_conf->cf_sites[rq->rq_site];
	struct cgi_run		*cg = rq->rq_cgi;
	struct cgi_envbuf	 e;
	struct sockaddr_storage	 ss;
	struct head_info	 hi;
	socklen_t		 slen;
	const char		*head = rq->rq_data, *root, *rootpath, *v, *sp;
	const char		*target, *tend;
	char			 host[INET6_ADDRSTRLEN], proto[32], *p;
	size_t			 headlen = rq->rq_ho.ho_head_len, vlen, len;
	unsigned int		 port;
	int			 i;

	memset(&e, 0, sizeof(e));
	if ((e.eb = evbuffer_new()) == NULL)
		return -1;
	cgi_setenvs(&e, "GATEWAY_INTERFACE", "CGI/1.1");
	cgi_setenvs(&e, "SERVER_SOFTWARE", "hsd/" PACKAGE_VERSION);
	snprintf(proto, sizeof(proto), "HTTP/%u.%u", rq->rq_major % 10,
	    rq->rq_minor % 10);
	cgi_setenvs(&e, "SERVER_PROTOCOL", proto);
	cgi_setenvs(&e, "REQUEST_METHOD", http_method_str(rq->rq_method));
	cgi_setenvs(&e, "PATH", CGI_PATH);
	cgi_setenvs(&e, "REDIRECT_STATUS", "200");	/* php-cgi asks */

	/* Names: the URL's, the file's. */
	/* A directory's index.php is named, as nginx's fastcgi_index
	 * makes $fastcgi_script_name "/blog/index.php" for "/blog/". */
	if (cg->cg_index) {
		if (evbuffer_add_printf(e.eb, "SCRIPT_NAME=%.*s%sindex.php",
		    (int)scriptlen, cg->cg_path, scriptlen > 0 &&
		    cg->cg_path[scriptlen - 1] == '/' ? "" : "/") == -1 ||
		    evbuffer_add(e.eb, "", 1) == -1)
			e.failed = 1;
		e.n++;
	} else
		cgi_setenv(&e, "SCRIPT_NAME", cg->cg_path, scriptlen);
	cgi_setenvs(&e, "PATH_INFO", pathinfo);
	(void)conf_map_path(site, rq->rq_app, cg->cg_path, &root);
	rootpath = worker_root_path(root);
	cgi_setenvs(&e, "DOCUMENT_ROOT", rootpath);
	cgi_setenvs(&e, "SCRIPT_FILENAME", cg->cg_script);
	if (*pathinfo != '\0') {
		if (evbuffer_add_printf(e.eb, "PATH_TRANSLATED=%s%s",
		    strcmp(rootpath, "/") == 0 ? "" : rootpath, pathinfo) ==
		    -1 || evbuffer_add(e.eb, "", 1) == -1)
			e.failed = 1;
		e.n++;
	}
	cgi_setenv(&e, "QUERY_STRING", rq->rq_query != NULL ?
	    rq->rq_query + 1 : "", rq->rq_query != NULL ?
	    rq->rq_query_len - 1 : 0);
	/* The request-target as sent. */
	sp = head;
	while (sp < head + headlen && (*sp == '\r' || *sp == '\n'))
		sp++;
	if ((target = memchr(sp, ' ', head + headlen - sp)) != NULL &&
	    (tend = memchr(target + 1, ' ', head + headlen - target - 1)) !=
	    NULL)
		cgi_setenv(&e, "REQUEST_URI", target + 1, tend - target - 1);

	/* The body. */
	if (rq->rq_parser.flags & F_CONTENTLENGTH)
		cgi_setenvu(&e, "CONTENT_LENGTH", rq->rq_cl);
	else if (rq->rq_parser.flags & F_CHUNKED)	/* read whole */
		cgi_setenvu(&e, "CONTENT_LENGTH", cg->cg_spool_len +
		    evbuffer_get_length(cg->cg_body));
	if ((v = cgi_header(head, headlen, "Content-Type", &vlen)) != NULL)
		cgi_setenv(&e, "CONTENT_TYPE", v, vlen);

	/* The connection's ends. */
	slen = sizeof(ss);
	if (getpeername(rq->rq_sock, (struct sockaddr *)&ss, &slen) == 0) {
		cgi_addr(&ss, host, sizeof(host), &port);
		cgi_setenvs(&e, "REMOTE_ADDR", host);
		cgi_setenvu(&e, "REMOTE_PORT", port);
	}
	slen = sizeof(ss);
	port = 0;
	if (getsockname(rq->rq_sock, (struct sockaddr *)&ss, &slen) == 0) {
		cgi_addr(&ss, host, sizeof(host), &port);
		cgi_setenvs(&e, "SERVER_ADDR", host);
		cgi_setenvu(&e, "SERVER_PORT", port);
	}
	/* SERVER_NAME: the Host the client asked for, without its port. */
	if (head_check(head, headlen, &hi) == 0 && hi.hi_host_len > 0) {
		v = head + hi.hi_host_off;
		len = hi.hi_host_len;
		if (v[0] == '[') {
			if ((sp = memchr(v, ']', len)) != NULL)
				len = sp - v + 1;
		} else if ((sp = memchr(v, ':', len)) != NULL)
			len = sp - v;
		cgi_setenv(&e, "SERVER_NAME", v, len);
	} else
		cgi_setenvs(&e, "SERVER_NAME", site->st_name);
	/* PHP and its kin read HTTP_AUTHORIZATION, as nginx passes it. */
	cgi_env_headers(&e, head, headlen, cg->cg_fastcgi);

	if (e.failed || (cg->cg_envp = calloc(e.n + 1,
	    sizeof(char *))) == NULL) {
		evbuffer_free(e.eb);
		return -1;
	}
	len = evbuffer_get_length(e.eb);
	if ((cg->cg_env = malloc(len)) == NULL) {
		evbuffer_free(e.eb);
		return -1;
	}
	evbuffer_remove(e.eb, cg->cg_env, len);
	evbuffer_free(e.eb);
	for (i = 0, p = cg->cg_env; i < e.n && p < cg->cg_env + len; i++) {
		cg->cg_envp[i] = p;
		p += strlen(p) + 1;
	}
	cg->cg_envp[i] = NULL;
	return 0;
}

/* In the child, between fork() and exec: system calls only. */
static __attribute__((noreturn)) void
cgi_child(struct cgi_run *cg, int in, int out, int err, pid_t parent)
{
	static const char	 msg[] = "hsd-worker: cannot run the CGI program\n";
	char			*argv[2];
	sigset_t		 none;
	int			 sig;

	setsid();
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	if (getppid() != parent)
		_exit(127);
	if (dup2(in, 0) == -1 || dup2(out, 1) == -1 || dup2(err, 2) == -1)
		_exit(127);
	for (sig = 1; sig < NSIG; sig++)
		if (sig != SIGKILL && sig != SIGSTOP)
			signal(sig, SIG_DFL);
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	syscall(SYS_close_range, 3, ~0U, 0);
	if (chdir(cg->cg_dir) == -1)
		_exit(127);
	argv[0] = cg->cg_script;
	argv[1] = NULL;
	execve(cg->cg_script, argv, cg->cg_envp);
	(void)!write(2, msg, sizeof(msg) - 1);
	_exit(127);
}

static void	cgi_in_ready(evutil_socket_t, short, void *);
static void	cgi_out_ready(evutil_socket_t, short, void *);
static void	cgi_err_ready(evutil_socket_t, short, void *);

static void
cgi_spawn(struct cgi_run *cg)
{
	struct wrk_req		*rq = cg->cg_rq;
	struct event_base	*base = worker_evbase();
	int			 pin[2], pout[2], perr[2];
	pid_t			 pid, self = getpid();

	if (cgi_running >= cgi_max) {
		cg->cg_waiting = 1;
		TAILQ_INSERT_TAIL(&cgi_queue, cg, cg_entry);
		return;
	}
	pin[0] = pin[1] = pout[0] = pout[1] = perr[0] = perr[1] = -1;
	if (pipe2(pin, O_CLOEXEC) == -1 || pipe2(pout, O_CLOEXEC) == -1 ||
	    pipe2(perr, O_CLOEXEC) == -1) {
		log_warn("cgi_spawn: conn %u: pipe", rq->rq_conn);
		goto fail;
	}
	if ((pid = proc_fork()) == -1) {
		log_warn("cgi_spawn: conn %u: fork", rq->rq_conn);
		goto fail;
	}
	if (pid == 0)
		cgi_child(cg, pin[0], pout[1], perr[1], self);
	cgi_running++;
	cg->cg_pid = pid;
	cg->cg_tries++;
	LIST_INSERT_HEAD(&cgi_live, cg, cg_live);
	close(pin[0]);
	close(pout[1]);
	close(perr[1]);
	cg->cg_in = pin[1];
	cg->cg_out = pout[0];
	cg->cg_err = perr[0];
	if (fcntl(cg->cg_in, F_SETFL, O_NONBLOCK) == -1 ||
	    fcntl(cg->cg_out, F_SETFL, O_NONBLOCK) == -1 ||
	    fcntl(cg->cg_err, F_SETFL, O_NONBLOCK) == -1 ||
	    (cg->cg_in_ev = event_new(base, cg->cg_in, EV_WRITE,
	    cgi_in_ready, cg)) == NULL ||
	    (cg->cg_out_ev = event_new(base, cg->cg_out, EV_READ | EV_PERSIST,
	    cgi_out_ready, cg)) == NULL ||
	    (cg->cg_err_ev = event_new(base, cg->cg_err, EV_READ | EV_PERSIST,
	    cgi_err_ready, cg)) == NULL ||
	    event_add(cg->cg_out_ev, NULL) == -1 ||
	    event_add(cg->cg_err_ev, NULL) == -1) {
		log_warnx("cgi_spawn: conn %u: event setup failed",
		    rq->rq_conn);
		cgi_answer(rq, 502);
		return;
	}
	log_debug("cgi_spawn: conn %u: %s, pid %d", rq->rq_conn,
	    cg->cg_script, (int)pid);
	cgi_pump_body(cg);
	return;
fail:
	close(pin[0]);
	close(pin[1]);
	close(pout[0]);
	close(pout[1]);
	close(perr[0]);
	close(perr[1]);
	cgi_answer(rq, 502);
}

/* Kill the child (and what it started); its death finishes the request. */
static void
cgi_kill(struct cgi_run *cg, const char *why)
{
	if (why != NULL)
		log_warnx("cgi: conn %u: %s: %s", cg->cg_rq->rq_conn,
		    cg->cg_script, why);
	if (cg->cg_pid > 0)
		kill(-cg->cg_pid, SIGKILL);
	/* Its output no longer matters: EOF comes with its death.  A
	 * FastCGI request ends with its connection, a module's with
	 * abort(). */
	if (cg->cg_fc != NULL) {
		fcgi_detach(cg, 0);
		cg->cg_fc_lost = cg->cg_fc_ended = 1;
		cgi_wake();
	}
	if (cg->cg_mod != NULL)
		module_stop(cg);
}

static void
cgi_timeout(evutil_socket_t fd, short ev, void *arg)
{
	struct cgi_run	*cg = arg;
	struct wrk_req	*rq = cg->cg_rq;

	(void)fd;
	(void)ev;
	/* A module that ended its response is only waiting for the client. */
	if (cg->cg_done || (cg->cg_module && module_ended(cg)))
		return;
	if (cg->cg_waiting) {
		TAILQ_REMOVE(&cgi_queue, cg, cg_entry);
		cg->cg_waiting = 0;
		log_warnx("cgi: conn %u: no CGI process free within "
		    "cgi_timeout", rq->rq_conn);
		cgi_answer(rq, 503);
		return;
	}
	if (cg->cg_fc_retry != NULL && evtimer_pending(cg->cg_fc_retry,
	    NULL)) {
		log_warnx("cgi: conn %u: %s: no connection to %s within "
		    "cgi_timeout", rq->rq_conn, cg->cg_script, cg->cg_fc_addr);
		cgi_answer(rq, 503);
		return;
	}
	if (cg->cg_spooling) {
		/* Nothing started yet: the client was too slow. */
		log_info("cgi: conn %u: cgi_timeout reached while the chunked "
		    "body was read", rq->rq_conn);
		cgi_answer(rq, 408);
		return;
	}
	cg->cg_timed_out = 1;
	cgi_kill(cg, cg->cg_module ? "cgi_timeout reached; aborted" :
	    "cgi_timeout reached; killed");
	if (cg->cg_fastcgi) {
		cg->cg_fc_lost = cg->cg_fc_ended = 1;
		cgi_progress(cg);
	} else if (cg->cg_module)
		cgi_progress(cg);
}

/* The client's socket: read more body, or send more response. */
static void
cgi_sock_ready(evutil_socket_t fd, short ev, void *arg)
{
	struct cgi_run	*cg = arg;

	(void)fd;
	cg->cg_sock_wait = 0;
	if (ev & EV_WRITE)
		cgi_flush(cg);
	else if (cg->cg_spooling)
		cgi_spool_pump(cg);
	else
		cgi_pump_body(cg);
}

static int
cgi_sock_arm(struct cgi_run *cg, short what)
{
	struct wrk_req	*rq = cg->cg_rq;

	if (cg->cg_sock_wait == what)
		return 0;
	if (cg->cg_sock_ev != NULL)
		event_free(cg->cg_sock_ev);
	cg->cg_sock_wait = 0;
	if ((cg->cg_sock_ev = event_new(worker_evbase(), rq->rq_sock, what,
	    cgi_sock_ready, cg)) == NULL || event_add(cg->cg_sock_ev,
	    NULL) == -1) {
		log_warnx("cgi: conn %u: event setup failed", rq->rq_conn);
		return -1;
	}
	cg->cg_sock_wait = what;
	return 0;
}

/*
 * More of the body from the client: 1 when bytes were parsed (the body
 * may be complete), 0 when the socket has none yet (its event is armed,
 * with the body rules' deadline), -1 when the request ended (answered,
 * or the connection cut).  A body that breaks the entity-body rules or
 * max_body_size ends the request.
 */
static int
cgi_recv_body(struct cgi_run *cg)
{
	struct wrk_req	*rq = cg->cg_rq;
	char		*buf = rq->rq_data + rq->rq_head_len;
	size_t		 cap = rq->rq_data_cap - rq->rq_head_len;
	struct timeval	 tv;
	ssize_t		 n, m;
	uint64_t	 wait;

	if (cap > worker_read_limit())
		cap = worker_read_limit();
	do
		n = recv(rq->rq_sock, buf, cap, MSG_DONTWAIT);
	while (n == -1 && errno == EINTR);
	if (n == -1 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
		if (conf_body_check(&wrk_conf->cf_limits, rq->rq_body_start,
		    clock_ms(), rq->rq_body_got, &wait) == -1) {
			log_info("cgi: conn %u: body too slow (%llu bytes)",
			    rq->rq_conn, (unsigned long long)rq->rq_body_got);
			goto refuse408;
		}
		if (cgi_sock_arm(cg, EV_READ) == -1)
			goto cut;
		/* The rules' deadline: a timer of its own. */
		conf_timeval(wait, &tv);
		event_del(cg->cg_sock_ev);
		event_add(cg->cg_sock_ev, &tv);
		return 0;
	}
	if (n <= 0) {
		if (n == -1 && errno != ECONNRESET)
			log_warn("cgi: conn %u: recv", rq->rq_conn);
		rq->rq_close = 1;
		rq->rq_status = 400;
		cgi_kill(cg, NULL);
		goto cut;
	}
	rq->rq_read_sock = 1;
	rq->rq_body_got += n;
	if ((m = worker_parse(rq, buf, n)) == -1) {
		if (cg->cg_committed)
			goto cut;
		cgi_answer(rq, rq->rq_too_large ? 413 : 400);
		return -1;
	}
	if (rq->rq_msg_done) {
		rq->rq_rest = buf + m;
		rq->rq_rest_len = n - m;
	}
	return 1;
refuse408:
	if (!cg->cg_committed) {
		cgi_answer(rq, 408);
		return -1;
	}
cut:
	cgi_cut(rq);
	return -1;
}

/* Body bytes in the file not yet moved to cg_body. */
static uint64_t
cgi_spool_left(const struct cgi_run *cg)
{
	return cg->cg_spool == -1 ? 0 : cg->cg_spool_len - cg->cg_spool_off;
}

/* The whole body is held or on its way to the application. */
static int
cgi_body_read(const struct cgi_run *cg)
{
	return cg->cg_rq->rq_msg_done && cgi_spool_left(cg) == 0;
}

/* From the file into cg_body, up to CGI_BODY_HIGH held; -1: failed. */
static int
cgi_spool_refill(struct cgi_run *cg)
{
	char		 buf[16384];
	size_t		 held;
	uint64_t	 want;
	ssize_t		 n;

	while (cgi_spool_left(cg) > 0 &&
	    (held = evbuffer_get_length(cg->cg_body)) < CGI_BODY_HIGH) {
		want = CGI_BODY_HIGH - held;
		if (want > sizeof(buf))
			want = sizeof(buf);
		if (want > cgi_spool_left(cg))
			want = cgi_spool_left(cg);
		n = pread(cg->cg_spool, buf, want, cg->cg_spool_off);
		if (n == -1 && errno == EINTR)
			continue;
		if (n <= 0 || evbuffer_add(cg->cg_body, buf, n) == -1) {
			log_warn("cgi: conn %u: reading the request body back "
			    "from %s", cg->cg_rq->rq_conn, cgi_spool_path);
			return -1;
		}
		cg->cg_spool_off += n;
	}
	return 0;
}

/* An unlinked file in body_temp_dir, for a body too large to hold. */
static int
cgi_spool_open(struct cgi_run *cg)
{
	char	name[64];
	int	fd, i;

	if (cgi_spool_dir == -1) {
		log_warnx("cgi: conn %u: a chunked request body cannot be "
		    "read whole: no body_temp_dir: %s%s%s", cg->cg_rq->rq_conn,
		    cgi_spool_path != NULL ? cgi_spool_path : "not below the "
		    "pool's chroot", cgi_spool_path != NULL ? ": " : "",
		    cgi_spool_path != NULL ? strerror(cgi_spool_errno) : "");
		return -1;
	}
	fd = openat(cgi_spool_dir, ".", O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
	/* A file system without O_TMPFILE: a name, removed at once. */
	for (i = 0; fd == -1 && (errno == EOPNOTSUPP || errno == EISDIR ||
	    errno == EEXIST) && i < 10; i++) {
		snprintf(name, sizeof(name), ".hsd-body.%ld.%u.%d",
		    (long)getpid(), cg->cg_rq->rq_conn, i);
		if ((fd = openat(cgi_spool_dir, name, O_CREAT | O_EXCL |
		    O_RDWR | O_CLOEXEC | O_NOFOLLOW, 0600)) != -1)
			unlinkat(cgi_spool_dir, name, 0);
	}
	if (fd == -1) {
		log_warn("cgi: conn %u: a file for the request body in %s",
		    cg->cg_rq->rq_conn, cgi_spool_path);
		return -1;
	}
	cg->cg_spool = fd;
	return 0;
}

/*
 * A chunked body: read it whole, into cg_body and past CGI_BODY_HIGH
 * into the file, then start the application with its length.
 */
static void
cgi_spool_pump(struct cgi_run *cg)
{
	struct wrk_req	*rq = cg->cg_rq;
	int		 n;

	for (;;) {
		if (cg->cg_spool == -1 &&
		    evbuffer_get_length(cg->cg_body) >= CGI_BODY_HIGH &&
		    !rq->rq_msg_done && cgi_spool_open(cg) == -1) {
			cgi_answer(rq, 500);
			return;
		}
		while (cg->cg_spool != -1 &&
		    evbuffer_get_length(cg->cg_body) > 0) {
			n = evbuffer_write(cg->cg_body, cg->cg_spool);
			if (n == -1 && errno == EINTR)
				continue;
			if (n <= 0) {
				log_warn("cgi: conn %u: writing the request "
				    "body to %s", rq->rq_conn, cgi_spool_path);
				cgi_answer(rq, 500);
				return;
			}
			cg->cg_spool_len += n;
		}
		if (rq->rq_msg_done) {
			cg->cg_spooling = 0;
			if (cgi_env(rq, cg->cg_pathinfo, cg->cg_scriptlen) ==
			    -1) {
				cgi_answer(rq, 500);
				return;
			}
			cgi_start(cg);
			return;
		}
		if (cgi_recv_body(cg) <= 0)
			return;
	}
}

/*
 * Move the body along: held bytes into the child's stdin (or FastCGI
 * STDIN records, or the module), more from the client -- or from the
 * file a chunked body was read into -- while not too many are held, EOF
 * to the child at the body's end.
 */
void
cgi_pump_body(struct cgi_run *cg)
{
	struct wrk_req	*rq = cg->cg_rq;
	ssize_t		 n;

	if (cg->cg_module ? !module_running(cg) : cg->cg_fastcgi ?
	    cg->cg_fc == NULL : cg->cg_pid <= 0)
		return;		/* waiting for a place, or ended */
	for (;;) {
		if (cgi_spool_refill(cg) == -1) {
			if (cg->cg_committed)
				cgi_cut(rq);
			else {
				cgi_kill(cg, NULL);
				cgi_answer(rq, 500);
			}
			return;
		}
		if (cg->cg_fastcgi) {
			fcgi_feed(cg);
			if (rq->rq_cgi != cg || cg->cg_fc == NULL)
				return;
		} else if (cg->cg_module) {
			/* It takes all there is, or fails (and is over). */
			module_feed(cg);
			if (rq->rq_cgi != cg)
				return;
		}
		while (cg->cg_in != -1 && evbuffer_get_length(cg->cg_body) >
		    0) {
			n = evbuffer_write(cg->cg_body, cg->cg_in);
			if (n == -1 && errno == EINTR)
				continue;
			if (n == -1 && (errno == EAGAIN ||
			    errno == EWOULDBLOCK)) {
				event_add(cg->cg_in_ev, NULL);
				break;
			}
			if (n == -1) {
				/* It stopped reading: the rest is dropped. */
				if (errno != EPIPE)
					log_warn("cgi: conn %u: stdin",
					    rq->rq_conn);
				cgi_close_fd(&cg->cg_in, &cg->cg_in_ev);
				cg->cg_stdin_gone = 1;
				evbuffer_drain(cg->cg_body,
				    evbuffer_get_length(cg->cg_body));
				cg->cg_spool_off = cg->cg_spool_len;
			}
		}
		if (rq->rq_msg_done) {
			/* All written, more in the file: the next part. */
			if (!cg->cg_fastcgi && cg->cg_in != -1 &&
			    evbuffer_get_length(cg->cg_body) == 0 &&
			    cgi_spool_left(cg) > 0)
				continue;
			if (!cg->cg_fastcgi && cgi_body_read(cg) &&
			    evbuffer_get_length(cg->cg_body) == 0)
				cgi_close_fd(&cg->cg_in, &cg->cg_in_ev);
			return;
		}
		if (evbuffer_get_length(cg->cg_body) >= CGI_BODY_HIGH)
			return;		/* cgi_in_ready() comes back */
		if (cg->cg_sock_wait == EV_WRITE)
			return;		/* the response first */
		if (cgi_recv_body(cg) <= 0)
			return;
	}
}

static void
cgi_in_ready(evutil_socket_t fd, short ev, void *arg)
{
	(void)fd;
	(void)ev;
	cgi_pump_body(arg);
}

/* Is name a token (RFC 9110 5.6.2)? */
int
cgi_token(const char *s, size_t len)
{
	size_t	i;

	if (len == 0)
		return 0;
	for (i = 0; i < len; i++)
		if (s[i] <= ' ' || s[i] >= 127 ||
		    strchr("\"(),/:;<=>?@[\\]{}", s[i]) != NULL)
			return 0;
	return 1;
}

/*
 * The response's status and reason phrase (rlen bytes of reason; none:
 * the usual one), and whether it has a body at all.
 */
void
cgi_set_status(struct cgi_run *cg, int status, const char *reason,
    size_t rlen)
{
	if (reason == NULL || rlen == 0) {
		reason = static_reason(status);
		rlen = strlen(reason);
	}
	if (rlen >= sizeof(cg->cg_reason))
		rlen = sizeof(cg->cg_reason) - 1;
	memcpy(cg->cg_reason, reason, rlen);
	cg->cg_reason[rlen] = '\0';
	cg->cg_status = status;
	cg->cg_no_body = cg->cg_rq->rq_method == HTTP_HEAD || status == 204 ||
	    status == 304;
}

/*
 * The child's header block (RFC 3875 6.3), parsed: Status and Location
 * decide the status; Date, Server, Connection and the framing are the
 * worker's; everything else passes through if it is a well-formed field.
 * -1 if the block is not acceptable (502).
 */
static int
cgi_head(struct cgi_run *cg, const char *blk, size_t len)
{
	struct evbuffer	*fields = cg->cg_fields;
	const char	*p = blk, *end = blk + len, *eol, *colon, *v, *ve;
	const char	*reason = NULL;
	size_t		 nlen, rlen = 0;
	int		 status = 0, location = 0;
	char		*ep;
	long		 l;
	unsigned long long cl;

	for (; p < end; p = eol + 1) {
		if ((eol = memchr(p, '\n', end - p)) == NULL)
			eol = end;
		ve = eol;
		if (ve > p && ve[-1] == '\r')
			ve--;
		if (ve == p)
			break;
		if ((colon = memchr(p, ':', ve - p)) == NULL ||
		    !cgi_token(p, colon - p))
			goto bad;
		nlen = colon - p;
		v = colon + 1;
		ve = cgi_trim(&v, ve);
		if (memchr(v, '\r', ve - v) != NULL ||
		    memchr(v, '\0', ve - v) != NULL)
			goto bad;
		if (nlen == 6 && strncasecmp(p, "Status", 6) == 0) {
			if (ve - v < 3)
				goto bad;
			errno = 0;
			l = strtol(v, &ep, 10);
			if (ep != v + 3 || l < 200 || l > 999 ||
			    (ep < ve && *ep != ' '))
				goto bad;
			status = l;
			while (ep < ve && *ep == ' ')
				ep++;
			reason = ep;
			rlen = ve - ep;
			continue;
		}
		if ((nlen == 10 && strncasecmp(p, "Connection", 10) == 0) ||
		    (nlen == 10 && strncasecmp(p, "Keep-Alive", 10) == 0) ||
		    (nlen == 17 && strncasecmp(p, "Transfer-Encoding",
		    17) == 0) || (nlen == 16 && strncasecmp(p,
		    "Proxy-Connection", 16) == 0) || (nlen == 2 &&
		    strncasecmp(p, "TE", 2) == 0) || (nlen == 7 &&
		    strncasecmp(p, "Trailer", 7) == 0) || (nlen == 7 &&
		    strncasecmp(p, "Upgrade", 7) == 0) || (nlen == 4 &&
		    strncasecmp(p, "Date", 4) == 0) || (nlen == 6 &&
		    strncasecmp(p, "Server", 6) == 0))
			continue;
		if (nlen == 14 && strncasecmp(p, "Content-Length", 14) == 0) {
			if (v == ve || cg->cg_clen != -1)
				goto bad;
			errno = 0;
			cl = strtoull(v, &ep, 10);
			if (ep != ve || errno != 0 || *v < '0' || *v > '9' ||
			    cl > INT64_MAX)
				goto bad;
			cg->cg_clen = cl;
			continue;
		}
		if (nlen == 8 && strncasecmp(p, "Location", 8) == 0)
			location = 1;
		if (evbuffer_add(fields, p, nlen) == -1 ||
		    evbuffer_add(fields, ": ", 2) == -1 ||
		    evbuffer_add(fields, v, ve - v) == -1 ||
		    evbuffer_add(fields, "\r\n", 2) == -1)
			goto bad;
	}
	if (status == 0)
		status = location ? 302 : 200;
	cgi_set_status(cg, status, reason, rlen);
	cg->cg_head_done = 1;
	return 0;
bad:
	return -1;
}

/*
 * The HTTP head into cg_sendq.  whole: the program has ended and
 * cg_resp is all of its body, so its length is known even if it gave
 * none; else the body streams, chunked to an HTTP/1.1 client when the
 * program gave no length, to the connection's end for HTTP/1.0.
 */
static int
cgi_commit(struct cgi_run *cg, int whole)
{
	struct wrk_req	*rq = cg->cg_rq;
	int		 keepalive;

	if (whole && !cg->cg_no_body && cg->cg_clen == -1)
		cg->cg_clen = evbuffer_get_length(cg->cg_resp);
	/*
	 * The connection goes on only if the body's end will be known, and
	 * if the request's body has been read to its end (else the listener
	 * would have to wait for the rest to throw it away).
	 */
	keepalive = rq->rq_keepalive && !rq->rq_close && rq->rq_msg_done;
	if (!cg->cg_no_body && cg->cg_clen == -1) {
		if (rq->rq_major == 1 && rq->rq_minor >= 1)
			cg->cg_chunked = 1;
		else
			keepalive = 0;
	}
	rq->rq_close = !keepalive;
	rq->rq_status = cg->cg_status;
	if (evbuffer_add_printf(cg->cg_sendq, "HTTP/1.1 %d %s\r\n"
	    "Server: hsd/" PACKAGE_VERSION "\r\nDate: %s\r\n",
	    cg->cg_status, cg->cg_reason, static_date()) == -1)
		return -1;
	if (!keepalive && (rq->rq_major > 1 || rq->rq_minor >= 1))
		evbuffer_add_printf(cg->cg_sendq, "Connection: close\r\n");
	else if (keepalive && rq->rq_major == 1 && rq->rq_minor == 0)
		evbuffer_add_printf(cg->cg_sendq, "Connection: keep-alive\r\n");
	if (cg->cg_clen != -1)
		evbuffer_add_printf(cg->cg_sendq, "Content-Length: %lld\r\n",
		    (long long)cg->cg_clen);
	else if (cg->cg_chunked)
		evbuffer_add_printf(cg->cg_sendq,
		    "Transfer-Encoding: chunked\r\n");
	evbuffer_add_buffer(cg->cg_sendq, cg->cg_fields);
	if (evbuffer_add(cg->cg_sendq, "\r\n", 2) == -1)
		return -1;
	rq->rq_resp_head = evbuffer_get_length(cg->cg_sendq);
	cg->cg_committed = 1;
	return 0;
}

/* Find the end of the header block in cg_resp; parse it once whole. */
static int
cgi_head_scan(struct cgi_run *cg)
{
	struct evbuffer_ptr	 pe;
	size_t			 len, skip;
	char			*blk;
	int			 r;

	pe = evbuffer_search(cg->cg_resp, "\n\n", 2, NULL);
	skip = 2;
	{
		struct evbuffer_ptr pc = evbuffer_search(cg->cg_resp,
		    "\r\n\r\n", 4, NULL);

		if (pc.pos != -1 && (pe.pos == -1 || pc.pos < pe.pos)) {
			pe = pc;
			skip = 4;
		}
	}
	if (pe.pos == -1) {
		/* "\n\r\n" too: lines may end either way. */
		pe = evbuffer_search(cg->cg_resp, "\n\r\n", 3, NULL);
		skip = 3;
	} else {
		struct evbuffer_ptr pm = evbuffer_search(cg->cg_resp,
		    "\n\r\n", 3, NULL);

		if (pm.pos != -1 && pm.pos < pe.pos) {
			pe = pm;
			skip = 3;
		}
	}
	if (pe.pos == -1)
		return evbuffer_get_length(cg->cg_resp) > CGI_HEAD_MAX ? -1 : 0;
	if ((size_t)pe.pos + skip > CGI_HEAD_MAX)
		return -1;
	len = pe.pos + 1;	/* the block and its last line's LF */
	if ((blk = malloc(len)) == NULL)
		return -1;
	evbuffer_remove(cg->cg_resp, blk, len);
	evbuffer_drain(cg->cg_resp, skip - 1);
	r = cgi_head(cg, blk, len);
	free(blk);
	return r == -1 ? -1 : 1;
}

/* The child's output after the head, framed, into cg_sendq. */
static void
cgi_relay(struct cgi_run *cg)
{
	size_t	len = evbuffer_get_length(cg->cg_resp);

	if (len == 0)
		return;
	if (cg->cg_no_body) {
		evbuffer_drain(cg->cg_resp, len);
		return;
	}
	if (cg->cg_clen != -1 && cg->cg_body_out + len > (uint64_t)cg->cg_clen) {
		/* More than it announced: the extra bytes are not sent. */
		if (cg->cg_body_out < (uint64_t)cg->cg_clen)
			log_warnx("cgi: conn %u: %s wrote more than its "
			    "Content-Length", cg->cg_rq->rq_conn,
			    cg->cg_script);
		len = (uint64_t)cg->cg_clen - cg->cg_body_out;
		evbuffer_remove_buffer(cg->cg_resp, cg->cg_sendq, len);
		evbuffer_drain(cg->cg_resp, evbuffer_get_length(cg->cg_resp));
		cg->cg_body_out += len;
		return;
	}
	if (cg->cg_chunked)
		evbuffer_add_printf(cg->cg_sendq, "%zx\r\n", len);
	evbuffer_add_buffer(cg->cg_sendq, cg->cg_resp);
	if (cg->cg_chunked)
		evbuffer_add(cg->cg_sendq, "\r\n", 2);
	cg->cg_body_out += len;
}

/* Is what the child wrote a whole response? */
static int
cgi_whole(const struct cgi_run *cg)
{
	if (cg->cg_no_body)
		return 1;
	if (cg->cg_clen != -1)
		return cg->cg_body_out == (uint64_t)cg->cg_clen;
	/* Of unknown length: whole only if it ended by itself. */
	return !cgi_crashed(cg);
}

/*
 * What is queued in b to the client, without blocking and without
 * SIGPIPE whatever the socket's flags (it is the listener's too): no
 * fcntl() per request.  As write(2).
 */
static ssize_t
cgi_send(struct evbuffer *b, int fd)
{
	struct evbuffer_iovec	 v[16];
	struct iovec		 iov[16];
	struct msghdr		 mh;
	ssize_t			 n;
	int			 i, nv;

	nv = evbuffer_peek(b, -1, NULL, v, 16);
	if (nv > 16)
		nv = 16;
	for (i = 0; i < nv; i++) {
		iov[i].iov_base = v[i].iov_base;
		iov[i].iov_len = v[i].iov_len;
	}
	memset(&mh, 0, sizeof(mh));
	mh.msg_iov = iov;
	mh.msg_iovlen = nv;
	if ((n = sendmsg(fd, &mh, MSG_DONTWAIT | MSG_NOSIGNAL)) > 0)
		evbuffer_drain(b, n);
	return n;
}

/* A read into b of at most max bytes, as read(2): no FIONREAD first. */
static ssize_t
cgi_read(struct evbuffer *b, int fd, size_t max)
{
	struct evbuffer_iovec	 v[2];
	struct iovec		 iov[2];
	ssize_t			 n, got;
	int			 i, nv;

	if ((nv = evbuffer_reserve_space(b, max, v, 2)) <= 0)
		return -1;
	for (i = 0; i < nv; i++) {
		iov[i].iov_base = v[i].iov_base;
		iov[i].iov_len = v[i].iov_len;
	}
	if ((got = readv(fd, iov, nv)) <= 0) {
		evbuffer_commit_space(b, v, 0);
		return got;
	}
	/* Commit what was filled: whole vectors, then part of one. */
	for (n = got, i = 0; i < nv; i++) {
		if ((size_t)n <= v[i].iov_len) {
			v[i].iov_len = n;
			nv = i + 1;
			break;
		}
		n -= v[i].iov_len;
	}
	evbuffer_commit_space(b, v, nv);
	return got;
}

/* Send what is queued; at the end, finish the request. */
static void
cgi_flush(struct cgi_run *cg)
{
	struct wrk_req	*rq = cg->cg_rq;
	ssize_t		 n;

	if (rq->rq_bytes == 0 && evbuffer_get_length(cg->cg_sendq) > 0) {
		/* The slot says a response is on its way, of no known
		 * length until the last bytes are queued. */
		if (!cg->cg_ending)
			rq->rq_resp_len = UINT64_MAX;
		worker_slot_record(rq);
	}
	while (evbuffer_get_length(cg->cg_sendq) > 0) {
		n = cgi_send(cg->cg_sendq, rq->rq_sock);
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
			if (cgi_sock_arm(cg, EV_WRITE) == -1) {
				cgi_kill(cg, NULL);
				cgi_cut(rq);
				return;
			}
			/* The program waits while the client catches up. */
			cgi_output_pause(cg);
			return;
		}
		if (n <= 0) {
			if (errno != EPIPE && errno != ECONNRESET)
				log_warn("cgi: conn %u: send", rq->rq_conn);
			cgi_kill(cg, NULL);
			cgi_cut(rq);
			return;
		}
		rq->rq_bytes += n;
	}
	if (cg->cg_ending) {
		worker_finish(rq, !rq->rq_close);
		return;
	}
	cgi_output_resume(cg);
	if (!rq->rq_msg_done && cg->cg_sock_wait == 0)
		cgi_pump_body(cg);
}

/*
 * FastCGI (handler "fastcgi"): the same request, the same header block
 * and the same rules, carried in FastCGI records over a connection to
 * the application -- one the pool manager supervises (fastcgi_command,
 * a unix socket it owns) or an external server (fastcgi_address).  One
 * request per connection at a time (no multiplexing).
 *
 * Connections to a supervised group are kept alive (FCGI_KEEP_CONN):
 * each worker uses at most its share of the group's processes
 * (fastcgi_processes / workers), so a connection it keeps idle never
 * holds a process another worker needs.  An external server's processes
 * are shared with whoever else uses it, and a kept connection pins one
 * each, starving the connections queued behind them: there, each request
 * has a connection of its own, at most cgi_max_children at once per
 * worker, unless the operator, who knows the server's size, says how many
 * each worker may keep (fastcgi_connections).
 */
#define FCGI_VERSION		1
#define FCGI_BEGIN_REQUEST	1
#define FCGI_END_REQUEST	3
#define FCGI_PARAMS		4
#define FCGI_STDIN		5
#define FCGI_STDOUT		6
#define FCGI_STDERR		7
#define FCGI_RESPONDER		1
#define FCGI_KEEP_CONN		1
#define FCGI_REQUEST_COMPLETE	0
#define FCGI_OVERLOADED		2
#define FCGI_HDR_LEN		8
#define FCGI_RID		1	/* the one request id used */
/* Request body bytes per STDIN record, and queued to the application. */
#define FCGI_STDIN_REC		32768
#define FCGI_OUT_HIGH		(64 * 1024)
/* An idle kept connection is closed after this, as nginx's upstream
 * keepalive_timeout: a server shared with others gets its process back. */
static const struct timeval fcgi_idle_tv = { 60, 0 };
/* A server that refused a connection is tried again this often. */
#define FCGI_RETRY_MS		250

struct fcgi_conn {
	int		 fc_fd;
	struct event	*fc_rev;
	struct event	*fc_wev;
	struct evbuffer	*fc_in;
	struct evbuffer	*fc_out;
	struct cgi_run	*fc_cg;		/* NULL: idle */
	int		 fc_connecting;
	int		 fc_stdin_done;	/* the empty STDIN record is queued */
	int		 fc_keep;
	char		 fc_addr[128];
	TAILQ_ENTRY(fcgi_conn) fc_entry;
};

static TAILQ_HEAD(, fcgi_conn) fcgi_conns = TAILQ_HEAD_INITIALIZER(fcgi_conns);

static void	fcgi_readable(evutil_socket_t, short, void *);
static void	fcgi_writable(evutil_socket_t, short, void *);

/* Connections to addr: all, and one idle if there is one. */
static uint32_t
fcgi_count(const char *addr, struct fcgi_conn **idle)
{
	struct fcgi_conn	*fc;
	uint32_t		 n = 0;

	if (idle != NULL)
		*idle = NULL;
	TAILQ_FOREACH(fc, &fcgi_conns, fc_entry)
		if (strcmp(fc->fc_addr, addr) == 0) {
			n++;
			if (fc->fc_cg == NULL && idle != NULL && *idle == NULL)
				*idle = fc;
		}
	return n;
}

static void
fcgi_close(struct fcgi_conn *fc)
{
	TAILQ_REMOVE(&fcgi_conns, fc, fc_entry);
	if (fc->fc_rev != NULL)
		event_free(fc->fc_rev);
	if (fc->fc_wev != NULL)
		event_free(fc->fc_wev);
	if (fc->fc_in != NULL)
		evbuffer_free(fc->fc_in);
	if (fc->fc_out != NULL)
		evbuffer_free(fc->fc_out);
	if (fc->fc_fd != -1)
		close(fc->fc_fd);
	free(fc);
}

/* An idle kept connection the application has not closed or written on. */
static int
fcgi_alive(const struct fcgi_conn *fc)
{
	char	c;

	return recv(fc->fc_fd, &c, 1, MSG_PEEK | MSG_DONTWAIT) == -1 &&
	    (errno == EAGAIN || errno == EWOULDBLOCK);
}

/* The request lets go of its connection: kept idle if keep, else closed. */
static void
fcgi_detach(struct cgi_run *cg, int keep)
{
	struct fcgi_conn	*fc = cg->cg_fc;

	if (fc == NULL)
		return;
	cg->cg_fc = NULL;
	fc->fc_cg = NULL;
	if (!keep || !fc->fc_keep || evbuffer_get_length(fc->fc_in) > 0 ||
	    evbuffer_get_length(fc->fc_out) > 0) {
		fcgi_close(fc);
		return;
	}
	/* Idle: its read event stays, to hear the application go away,
	 * and closes it when nothing has used it for a while. */
	event_add(fc->fc_rev, &fcgi_idle_tv);
	event_del(fc->fc_wev);
}

/* One record's header and content (len <= 65535) into b. */
static int
fcgi_record(struct evbuffer *b, int type, const void *data, size_t len)
{
	unsigned char	h[FCGI_HDR_LEN];
	unsigned char	pad = (8 - len % 8) % 8;
	static const unsigned char zeros[8];

	h[0] = FCGI_VERSION;
	h[1] = type;
	h[2] = FCGI_RID >> 8;
	h[3] = FCGI_RID & 0xff;
	h[4] = len >> 8;
	h[5] = len & 0xff;
	h[6] = pad;
	h[7] = 0;
	if (evbuffer_add(b, h, sizeof(h)) == -1 ||
	    (len > 0 && evbuffer_add(b, data, len) == -1) ||
	    (pad > 0 && evbuffer_add(b, zeros, pad) == -1))
		return -1;
	return 0;
}

static void
fcgi_putlen(unsigned char **p, size_t len)
{
	if (len < 128)
		*(*p)++ = len;
	else {
		*(*p)++ = 0x80 | ((len >> 24) & 0x7f);
		*(*p)++ = (len >> 16) & 0xff;
		*(*p)++ = (len >> 8) & 0xff;
		*(*p)++ = len & 0xff;
	}
}

/* One name-value pair of the PARAMS stream, from "NAME=value". */
static int
fcgi_pair(struct evbuffer *params, const char *e)
{
	unsigned char	 pair[8], *p = pair;
	const char	*eq;
	size_t		 nlen, vlen;

	if ((eq = strchr(e, '=')) == NULL)
		return 0;
	nlen = eq - e;
	vlen = strlen(eq + 1);
	fcgi_putlen(&p, nlen);
	fcgi_putlen(&p, vlen);
	if (evbuffer_add(params, pair, p - pair) == -1 ||
	    evbuffer_add(params, e, nlen) == -1 ||
	    evbuffer_add(params, eq + 1, vlen) == -1)
		return -1;
	return 0;
}

/* Is the name of "NAME=value" e one of the "NAME=value" in v? */
static int
fcgi_named_in(const char *e, char *const *v)
{
	size_t	nlen = strcspn(e, "=");

	for (; *v != NULL; v++)
		if (strncmp(*v, e, nlen) == 0 && (*v)[nlen] == '=')
			return 1;
	return 0;
}

/*
 * BEGIN_REQUEST and the PARAMS stream: the environment cgi_env() made,
 * then fastcgi_params, which replace a variable of the same name.
 */
static int
fcgi_begin(struct fcgi_conn *fc, struct cgi_run *cg)
{
	unsigned char	 begin[8] = { 0, FCGI_RESPONDER, 0, 0, 0, 0, 0, 0 };
	struct wrk_req	*rq = cg->cg_rq;
	char *const	*more = conf_fastcgi(&wrk_conf->cf_sites[rq->rq_site],
			    rq->rq_app)->fc_params;
	struct evbuffer	*params;
	size_t		 chunk;
	char		 buf[65528];
	char		**ep;

	begin[2] = fc->fc_keep ? FCGI_KEEP_CONN : 0;
	if (fcgi_record(fc->fc_out, FCGI_BEGIN_REQUEST, begin,
	    sizeof(begin)) == -1 || (params = evbuffer_new()) == NULL)
		return -1;
	for (ep = cg->cg_envp; *ep != NULL; ep++)
		if ((more[0] == NULL || !fcgi_named_in(*ep, more)) &&
		    fcgi_pair(params, *ep) == -1) {
			evbuffer_free(params);
			return -1;
		}
	for (; *more != NULL; more++)
		if (fcgi_pair(params, *more) == -1) {
			evbuffer_free(params);
			return -1;
		}
	while ((chunk = evbuffer_remove(params, buf, sizeof(buf))) > 0 &&
	    chunk != (size_t)-1)
		if (fcgi_record(fc->fc_out, FCGI_PARAMS, buf, chunk) == -1) {
			evbuffer_free(params);
			return -1;
		}
	evbuffer_free(params);
	return fcgi_record(fc->fc_out, FCGI_PARAMS, NULL, 0);
}

/* Send what is queued; wait for the socket if it would block. */
static int
fcgi_send(struct fcgi_conn *fc)
{
	int	n;

	if (fc->fc_connecting)
		return 0;
	while (evbuffer_get_length(fc->fc_out) > 0) {
		n = cgi_send(fc->fc_out, fc->fc_fd);
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
			event_add(fc->fc_wev, NULL);
			return 0;
		}
		if (n <= 0)
			return -1;
	}
	event_del(fc->fc_wev);
	return 0;
}

/* The connection failed under its request: the request decides. */
static void
fcgi_lost(struct fcgi_conn *fc, const char *why)
{
	struct cgi_run	*cg = fc->fc_cg;

	if (cg == NULL) {
		fcgi_close(fc);
		return;
	}
	log_warnx("cgi: conn %u: %s: FastCGI connection to %s %s",
	    cg->cg_rq->rq_conn, cg->cg_script, fc->fc_addr, why);
	fcgi_detach(cg, 0);
	cg->cg_fc_lost = cg->cg_fc_ended = 1;
	cgi_wake();
	cgi_progress(cg);
}

/* Request body into STDIN records, the empty one at its end. */
static void
fcgi_feed(struct cgi_run *cg)
{
	struct fcgi_conn	*fc = cg->cg_fc;
	char			 buf[FCGI_STDIN_REC];
	size_t			 n;

	if (fc == NULL || fc->fc_connecting)
		return;
	/* Until the body held is all sent or the connection is full. */
	do {
		if (cgi_spool_refill(cg) == -1) {
			fcgi_lost(fc, "failed (the request body could not be "
			    "read back)");
			return;
		}
		while (evbuffer_get_length(fc->fc_out) < FCGI_OUT_HIGH &&
		    (n = evbuffer_remove(cg->cg_body, buf, sizeof(buf))) > 0 &&
		    n != (size_t)-1)
			if (fcgi_record(fc->fc_out, FCGI_STDIN, buf, n) == -1) {
				fcgi_lost(fc, "failed (out of memory)");
				return;
			}
		if (cgi_body_read(cg) && evbuffer_get_length(cg->cg_body) == 0 &&
		    !fc->fc_stdin_done) {
			fc->fc_stdin_done = 1;
			if (fcgi_record(fc->fc_out, FCGI_STDIN, NULL, 0) == -1) {
				fcgi_lost(fc, "failed (out of memory)");
				return;
			}
		}
		if (fcgi_send(fc) == -1) {
			fcgi_lost(fc, "failed while sending");
			return;
		}
	} while (evbuffer_get_length(fc->fc_out) == 0 &&
	    (evbuffer_get_length(cg->cg_body) > 0 || cgi_spool_left(cg) > 0));
}

static void
fcgi_writable(evutil_socket_t fd, short ev, void *arg)
{
	struct fcgi_conn	*fc = arg;
	struct cgi_run		*cg = fc->fc_cg;
	int			 err = 0;
	socklen_t		 len = sizeof(err);

	(void)ev;
	if (fc->fc_connecting) {
		if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) == -1)
			err = errno;
		if (err != 0) {
			errno = err;
			fcgi_lost(fc, "could not be made");
			return;
		}
		fc->fc_connecting = 0;
		event_add(fc->fc_rev, NULL);
	}
	if (cg == NULL) {
		fcgi_close(fc);
		return;
	}
	/* More of the body fits now. */
	fcgi_feed(cg);
	if (cg->cg_fc != NULL && cg->cg_sock_wait == 0 &&
	    !cg->cg_rq->rq_msg_done &&
	    evbuffer_get_length(cg->cg_body) < CGI_BODY_HIGH)
		cgi_pump_body(cg);
}

/* STDERR bytes: lines of the error log, as a child's stderr. */
static void
fcgi_stderr(struct cgi_run *cg, struct evbuffer *in, size_t len)
{
	struct evbuffer	*b = cg->cg_errline;
	char		*line;
	size_t		 n;

	evbuffer_remove_buffer(in, b, len);
	while ((line = evbuffer_readln(b, &n, EVBUFFER_EOL_ANY)) != NULL) {
		log_warnx("cgi: %s: %.*s", cg->cg_script,
		    n > CGI_ERRLINE_MAX ? CGI_ERRLINE_MAX : (int)n, line);
		free(line);
	}
	if ((n = evbuffer_get_length(b)) > CGI_ERRLINE_MAX) {
		line = (char *)evbuffer_pullup(b, -1);
		log_warnx("cgi: %s: %.*s", cg->cg_script, CGI_ERRLINE_MAX,
		    line);
		evbuffer_drain(b, n);
	}
}

static void
fcgi_readable(evutil_socket_t fd, short ev, void *arg)
{
	struct fcgi_conn	*fc = arg;
	struct cgi_run		*cg = fc->fc_cg;
	unsigned char		 h[FCGI_HDR_LEN], end[8];
	size_t			 clen, total;
	int			 n, ended = 0;

	if ((ev & EV_TIMEOUT) && cg == NULL) {
		fcgi_close(fc);		/* idle too long */
		return;
	}
	n = cgi_read(fc->fc_in, fd, 65536);
	if (n == -1 && (errno == EAGAIN || errno == EINTR))
		return;
	if (cg == NULL) {
		/* Idle: the application closed it, or sent what nobody
		 * asked for. */
		fcgi_close(fc);
		return;
	}
	while (evbuffer_copyout(fc->fc_in, h, sizeof(h)) ==
	    (ssize_t)sizeof(h)) {
		clen = (size_t)h[4] << 8 | h[5];
		total = sizeof(h) + clen + h[6];
		if (h[0] != FCGI_VERSION || (h[2] << 8 | h[3]) != FCGI_RID) {
			fcgi_lost(fc, "sent a record that is not FastCGI/1 "
			    "for this request");
			return;
		}
		if (evbuffer_get_length(fc->fc_in) < total)
			break;
		evbuffer_drain(fc->fc_in, sizeof(h));
		switch (h[1]) {
		case FCGI_STDOUT:
			evbuffer_remove_buffer(fc->fc_in, cg->cg_resp, clen);
			break;
		case FCGI_STDERR:
			fcgi_stderr(cg, fc->fc_in, clen);
			break;
		case FCGI_END_REQUEST:
			if (clen < sizeof(end)) {
				fcgi_lost(fc, "sent a short END_REQUEST");
				return;
			}
			evbuffer_remove(fc->fc_in, end, sizeof(end));
			evbuffer_drain(fc->fc_in, clen - sizeof(end));
			if (end[4] != FCGI_REQUEST_COMPLETE) {
				evbuffer_drain(fc->fc_in, h[6]);
				fcgi_lost(fc, end[4] == FCGI_OVERLOADED ?
				    "says it is overloaded" :
				    "refused the request");
				return;
			}
			ended = 1;
			break;
		default:
			evbuffer_drain(fc->fc_in, clen);
			break;
		}
		evbuffer_drain(fc->fc_in, h[6]);
		if (ended)
			break;
	}
	if (ended) {
		cg->cg_fc_ended = 1;
		fcgi_detach(cg, 1);
		cgi_wake();
	} else if (n <= 0) {
		fcgi_lost(fc, n == 0 ? "closed before the end of the request" :
		    "failed");
		return;
	}
	cgi_progress(cg);
}

/*
 * Where to connect: the group's socket (kept alive, this worker's share
 * of its processes), or the configured address (cgi_max_children).
 */
static int
fcgi_address(struct cgi_run *cg)
{
	struct wrk_req		*rq = cg->cg_rq;
	const struct conf_fastcgi *f = conf_fastcgi(
	    &wrk_conf->cf_sites[rq->rq_site], rq->rq_app);
	struct sockaddr_un	*sun = (struct sockaddr_un *)&cg->cg_fc_sa;
	uint32_t		 workers;

	memset(&cg->cg_fc_sa, 0, sizeof(cg->cg_fc_sa));
	if (f->fc_command == NULL) {
		if (f->fc_address == NULL || conf_parse_fastcgi_address(
		    f->fc_address, &cg->cg_fc_sa, &cg->cg_fc_salen) == -1)
			return -1;
		cg->cg_fc_keep = f->fc_connections > 0;
		cg->cg_fc_cap = cg->cg_fc_keep ? f->fc_connections : cgi_max;
		snprintf(cg->cg_fc_addr, sizeof(cg->cg_fc_addr), "%s",
		    f->fc_address);
		return 0;
	}
	if (conf_fastcgi_socket(wrk_conf, rq->rq_site, rq->rq_app,
	    sun->sun_path, sizeof(sun->sun_path)) == -1)
		return -1;
	sun->sun_family = AF_UNIX;
	cg->cg_fc_salen = sizeof(*sun);
	cg->cg_fc_keep = 1;
	workers = wrk_conf->cf_pools[worker_pool_index()].pl_workers;
	cg->cg_fc_cap = f->fc_processes / (workers > 0 ? workers : 1);
	if (cg->cg_fc_cap == 0)
		cg->cg_fc_cap = 1;
	snprintf(cg->cg_fc_addr, sizeof(cg->cg_fc_addr), "unix:%s",
	    sun->sun_path);
	return 0;
}

static void
fcgi_retry_timer(evutil_socket_t fd, short ev, void *arg)
{
	struct cgi_run	*cg = arg;

	(void)fd;
	(void)ev;
	fcgi_start(cg);
}

/*
 * The application refused the connection (restarting, say): 1 if cg
 * tries again in a while, within the pool's fastcgi_retry_timeout of
 * the first refusal.  Nothing was sent, so any request may.
 */
static int
fcgi_retry(struct cgi_run *cg)
{
	uint64_t	 wait, now = clock_ms();
	struct timeval	 tv;

	wait = wrk_conf->cf_pools[worker_pool_index()].pl_fastcgi_retry_ms;
	if (wait == 0 || cg->cg_committed)
		return 0;
	if (cg->cg_fc_retry_end == 0) {
		cg->cg_fc_retry_end = now + wait;
		log_info("cgi: conn %u: trying again for up to %llu ms "
		    "(fastcgi_retry_timeout)", cg->cg_rq->rq_conn,
		    (unsigned long long)wait);
	}
	if (now >= cg->cg_fc_retry_end) {
		log_warnx("cgi: conn %u: %s: no connection to %s within "
		    "fastcgi_retry_timeout", cg->cg_rq->rq_conn,
		    cg->cg_script, cg->cg_fc_addr);
		return 0;
	}
	if (cg->cg_fc_retry == NULL && (cg->cg_fc_retry = evtimer_new(
	    worker_evbase(), fcgi_retry_timer, cg)) == NULL)
		return 0;
	wait = cg->cg_fc_retry_end - now;
	conf_timeval(wait < FCGI_RETRY_MS ? wait : FCGI_RETRY_MS, &tv);
	if (evtimer_add(cg->cg_fc_retry, &tv) == -1)
		return 0;
	cg->cg_tries--;		/* it was never sent */
	return 1;
}

/* A connection for cg (kept, or new) and its request on it. */
static void
fcgi_start(struct cgi_run *cg)
{
	struct wrk_req		*rq = cg->cg_rq;
	struct fcgi_conn	*fc;
	struct event_base	*base = worker_evbase();
	int			 fd;

	if (fcgi_count(cg->cg_fc_addr, &fc) >= cg->cg_fc_cap && fc == NULL) {
		cg->cg_waiting = 1;
		TAILQ_INSERT_TAIL(&cgi_queue, cg, cg_entry);
		return;
	}
	/*
	 * A kept connection the application has closed since (a process
	 * that retired, as php-fpm's do after pm.max_requests, or died)
	 * must not take the request: one closed before is known now,
	 * without sending anything.  One closing just as the request goes
	 * out cannot be told from a process that died under it, so a
	 * request that could not be run again (a POST), and one being run
	 * again, take a new connection, whose process finishes it whatever
	 * it does after.
	 */
	if (fc != NULL && (cg->cg_tries > 0 || !cgi_rerunnable(rq) ||
	    !fcgi_alive(fc))) {
		fcgi_close(fc);
		fc = NULL;
	} else if (fc != NULL)
		event_add(fc->fc_rev, NULL);	/* no idle timeout */
	cg->cg_tries++;
	cg->cg_fc_ended = cg->cg_fc_lost = 0;
	if (fc == NULL) {
		if ((fc = calloc(1, sizeof(*fc))) == NULL) {
			log_warn("fcgi_start");
			cgi_answer(rq, 500);
			return;
		}
		fc->fc_fd = -1;
		fc->fc_keep = cg->cg_fc_keep;
		memcpy(fc->fc_addr, cg->cg_fc_addr, sizeof(fc->fc_addr));
		TAILQ_INSERT_TAIL(&fcgi_conns, fc, fc_entry);
		if ((fd = socket(cg->cg_fc_sa.ss_family, SOCK_STREAM |
		    SOCK_NONBLOCK | SOCK_CLOEXEC, 0)) == -1) {
			log_warn("fcgi_start: socket");
			fcgi_close(fc);
			cgi_answer(rq, 500);
			return;
		}
		fc->fc_fd = fd;
		if ((fc->fc_in = evbuffer_new()) == NULL ||
		    (fc->fc_out = evbuffer_new()) == NULL ||
		    (fc->fc_rev = event_new(base, fd, EV_READ | EV_PERSIST,
		    fcgi_readable, fc)) == NULL ||
		    (fc->fc_wev = event_new(base, fd, EV_WRITE,
		    fcgi_writable, fc)) == NULL) {
			log_warnx("fcgi_start: event setup failed");
			fcgi_close(fc);
			cgi_answer(rq, 500);
			return;
		}
		if (connect(fd, (struct sockaddr *)&cg->cg_fc_sa,
		    cg->cg_fc_salen) == -1) {
			if (errno != EINPROGRESS) {
				/* Down (refused, no socket) or full: tried
				 * again if the pool says so, else the
				 * client learns it at once. */
				log_warn("cgi: conn %u: %s: cannot connect to "
				    "the FastCGI application at %s",
				    rq->rq_conn, cg->cg_script, fc->fc_addr);
				fcgi_close(fc);
				cgi_wake();
				if (fcgi_retry(cg))
					return;
				if (cg->cg_committed)
					cgi_cut(rq);
				else
					cgi_answer(rq, 503);
				return;
			}
			fc->fc_connecting = 1;
			event_add(fc->fc_wev, NULL);
		} else
			event_add(fc->fc_rev, NULL);
	}
	fc->fc_cg = cg;
	fc->fc_stdin_done = 0;
	cg->cg_fc = fc;
	if (fcgi_begin(fc, cg) == -1) {
		fcgi_lost(fc, "failed (out of memory)");
		return;
	}
	log_debug("fcgi_start: conn %u: %s via %s", rq->rq_conn,
	    cg->cg_script, fc->fc_addr);
	cgi_pump_body(cg);
}

/* A place came free: start what waits for one, in order. */
static void
cgi_wake(void)
{
	struct cgi_run	*cg, *next;
	struct fcgi_conn *idle;

	for (cg = TAILQ_FIRST(&cgi_queue); cg != NULL; cg = next) {
		next = TAILQ_NEXT(cg, cg_entry);
		if (cg->cg_fastcgi ? fcgi_count(cg->cg_fc_addr, &idle) >=
		    cg->cg_fc_cap && idle == NULL : cgi_running >= cgi_max)
			continue;
		TAILQ_REMOVE(&cgi_queue, cg, cg_entry);
		cg->cg_waiting = 0;
		cgi_start(cg);
	}
}

/* The client is slow: the program waits (its output is not read). */
static void
cgi_output_pause(struct cgi_run *cg)
{
	if (cg->cg_out_ev != NULL)
		event_del(cg->cg_out_ev);
	if (cg->cg_fc != NULL && !cg->cg_fc->fc_connecting)
		event_del(cg->cg_fc->fc_rev);
	if (cg->cg_mod != NULL)
		module_pause(cg);
}

static void
cgi_output_resume(struct cgi_run *cg)
{
	if (cg->cg_out_ev != NULL && cg->cg_out != -1)
		event_add(cg->cg_out_ev, NULL);
	if (cg->cg_fc != NULL && !cg->cg_fc->fc_connecting)
		event_add(cg->cg_fc->fc_rev, NULL);
	if (cg->cg_mod != NULL)
		module_resume(cg);
}

/* Before running it again: nothing of the last run is left. */
static void
cgi_reset_run(struct cgi_run *cg)
{
	cgi_close_fd(&cg->cg_in, &cg->cg_in_ev);
	cgi_close_fd(&cg->cg_err, &cg->cg_err_ev);
	if (cg->cg_fc != NULL)
		fcgi_detach(cg, 0);
	cg->cg_pid = 0;
	cg->cg_fc_ended = cg->cg_fc_lost = 0;
	cg->cg_head_done = 0;
	cg->cg_no_body = 0;
	cg->cg_clen = -1;
	evbuffer_drain(cg->cg_resp, evbuffer_get_length(cg->cg_resp));
	evbuffer_drain(cg->cg_fields, evbuffer_get_length(cg->cg_fields));
	evbuffer_drain(cg->cg_errline, evbuffer_get_length(cg->cg_errline));
}

/* Has the program ended, its output all read? */
static int
cgi_ended(const struct cgi_run *cg)
{
	if (cg->cg_module)
		return module_ended(cg);
	if (cg->cg_fastcgi)
		return cg->cg_fc_ended;
	return cg->cg_out == -1 && cg->cg_pid == -1;
}

/*
 * Whether the request may be run again if the application dies before
 * its answer: a GET or HEAD without a body, which the application
 * cannot have acted on in a way a second run would repeat.
 */
static int
cgi_rerunnable(const struct wrk_req *rq)
{
	return (rq->rq_method == HTTP_GET || rq->rq_method == HTTP_HEAD) &&
	    !(rq->rq_parser.flags & F_CHUNKED) && rq->rq_cl == 0;
}

/* Did it end without finishing (killed, timed out, connection lost)? */
static int
cgi_crashed(const struct cgi_run *cg)
{
	if (cg->cg_timed_out)
		return 1;
	if (cg->cg_module)
		return module_failed(cg);
	if (cg->cg_fastcgi)
		return cg->cg_fc_lost;
	return WIFSIGNALED(cg->cg_wstatus);
}

/* Run it (again): a child, or a FastCGI request; a module's, once. */
static void
cgi_start(struct cgi_run *cg)
{
	if (cg->cg_module)
		module_start(cg);
	else if (cg->cg_fastcgi)
		fcgi_start(cg);
	else
		cgi_spawn(cg);
}

/*
 * Where the request stands: after output, after its end.  The response
 * is held until the program ends (then its length is known) or until
 * CGI_HOLD bytes of body came: a program that dies before that costs the
 * client nothing it can see -- a GET is run again, anything else is 502.
 */
void
cgi_progress(struct cgi_run *cg)
{
	struct wrk_req	*rq = cg->cg_rq;
	int		 ended, crashed;

	/* Answered without it, or its last bytes already queued. */
	if (cg->cg_done || cg->cg_ending)
		return;
	/* A module's head is its calls, settled at its end or CGI_HOLD. */
	if (!cg->cg_head_done && !cg->cg_module && cgi_head_scan(cg) == -1) {
		log_warnx("cgi: conn %u: %s: malformed or too large header "
		    "block", rq->rq_conn, cg->cg_script);
		cgi_answer(rq, 502);
		return;
	}
	ended = cgi_ended(cg);
	if (cg->cg_head_done && !cg->cg_committed && !ended &&
	    (cg->cg_no_body || evbuffer_get_length(cg->cg_resp) >= CGI_HOLD) &&
	    cgi_commit(cg, 0) == -1) {
		cgi_answer(rq, 500);
		return;
	}
	if (cg->cg_committed)
		cgi_relay(cg);
	if (!ended) {
		/* Still running: send what there is. */
		if (evbuffer_get_length(cg->cg_sendq) > 0) {
			cgi_flush(cg);
			if (rq->rq_cgi == cg &&
			    evbuffer_get_length(cg->cg_sendq) >= CGI_SEND_HIGH)
				cgi_output_pause(cg);
		}
		return;
	}

	/* It is over, and all its output is here. */
	crashed = cgi_crashed(cg);
	if (!cg->cg_committed && crashed) {
		/* A module failed, it did not crash: not again. */
		if (!cg->cg_timed_out && !cg->cg_module &&
		    cg->cg_tries < CGI_TRIES && cgi_rerunnable(rq)) {
			log_info("cgi: conn %u: %s died before its answer was "
			    "sent; run again", rq->rq_conn, cg->cg_script);
			cgi_reset_run(cg);
			cgi_start(cg);
			return;
		}
		log_warnx("cgi: conn %u: %s %s before its answer was sent",
		    rq->rq_conn, cg->cg_script, cg->cg_timed_out ?
		    "timed out" : "died");
		cgi_answer(rq, 502);
		return;
	}
	if (!cg->cg_head_done) {
		log_warnx("cgi: conn %u: %s ended without a header block",
		    rq->rq_conn, cg->cg_script);
		cgi_answer(rq, 502);
		return;
	}
	if (!cg->cg_committed) {
		if (cg->cg_clen != -1 && !cg->cg_no_body &&
		    evbuffer_get_length(cg->cg_resp) < (size_t)cg->cg_clen) {
			log_warnx("cgi: conn %u: %s ended short of its "
			    "Content-Length", rq->rq_conn, cg->cg_script);
			cgi_answer(rq, 502);
			return;
		}
		if (cgi_commit(cg, 1) == -1) {
			cgi_answer(rq, 500);
			return;
		}
		cgi_relay(cg);
	}
	if (!cgi_whole(cg)) {
		log_warnx("cgi: conn %u: %s %s after %llu body bytes; the "
		    "response is cut", rq->rq_conn, cg->cg_script,
		    cg->cg_timed_out ? "timed out" : crashed ? "died" :
		    "ended short", (unsigned long long)cg->cg_body_out);
		cgi_cut(rq);
		return;
	}
	if (cg->cg_chunked)
		evbuffer_add(cg->cg_sendq, "0\r\n\r\n", 5);
	cg->cg_ending = 1;
	/* The last bytes: now the slot can say how long it all is. */
	rq->rq_resp_len = rq->rq_bytes + evbuffer_get_length(cg->cg_sendq);
	if (rq->rq_bytes > 0)
		worker_slot_record(rq);
	cgi_flush(cg);
}

static void
cgi_out_ready(evutil_socket_t fd, short ev, void *arg)
{
	struct cgi_run	*cg = arg;
	int		 n;

	(void)fd;
	(void)ev;
	n = cgi_read(cg->cg_resp, cg->cg_out, 65536);
	if (n == -1 && (errno == EAGAIN || errno == EINTR))
		return;
	if (n <= 0) {
		if (n == -1)
			log_warn("cgi: conn %u: stdout", cg->cg_rq->rq_conn);
		cgi_close_fd(&cg->cg_out, &cg->cg_out_ev);
	}
	cgi_progress(cg);
}

/* Its stderr, a line at a time, into the error log. */
static void
cgi_err_ready(evutil_socket_t fd, short ev, void *arg)
{
	struct cgi_run	*cg = arg;
	struct evbuffer	*b = cg->cg_errline;
	char		*line;
	size_t		 len;
	int		 n;

	(void)fd;
	(void)ev;
	n = evbuffer_read(b, cg->cg_err, 4096);
	if (n == -1 && (errno == EAGAIN || errno == EINTR))
		return;
	while ((line = evbuffer_readln(b, &len, EVBUFFER_EOL_ANY)) != NULL) {
		log_warnx("cgi: %s: %.*s", cg->cg_script,
		    len > CGI_ERRLINE_MAX ? CGI_ERRLINE_MAX : (int)len, line);
		free(line);
	}
	if (n <= 0 || evbuffer_get_length(b) > CGI_ERRLINE_MAX) {
		len = evbuffer_get_length(b);
		if (len > 0) {
			line = (char *)evbuffer_pullup(b, -1);
			log_warnx("cgi: %s: %.*s", cg->cg_script,
			    len > CGI_ERRLINE_MAX ? CGI_ERRLINE_MAX : (int)len,
			    line);
			evbuffer_drain(b, len);
		}
	}
	if (n <= 0)
		cgi_close_fd(&cg->cg_err, &cg->cg_err_ev);
}

/*
 * A request for the CGI handler, its head parsed (and any body bytes that
 * came with it held for the child): find the program and run it.
 */
/*
 * The path names no program: its front controller answers, if the site
 * or application has one (and this is not it already), by whichever of
 * CGI and FastCGI runs it.  1 if it does.
 */
static int
cgi_front(struct cgi_run *cg)
{
	struct wrk_req		*rq = cg->cg_rq;
	const struct conf_site	*site = &wrk_conf->cf_sites[rq->rq_site];
	const char		*fc;
	int			 h;

	if ((fc = conf_front_controller(site, rq->rq_app)) == NULL ||
	    cg->cg_path == fc)
		return 0;
	h = conf_handler_path(site, rq->rq_app, fc, strlen(fc));
	if (h != CONF_HANDLER_CGI && h != CONF_HANDLER_FASTCGI)
		return 0;
	cg->cg_path = fc;
	cg->cg_path_len = strlen(fc);
	cg->cg_fastcgi = h == CONF_HANDLER_FASTCGI;
	return 1;
}

void
cgi_serve(struct wrk_req *rq)
{
	struct cgi_run	*cg = rq->rq_cgi;
	const char	*pathinfo;
	size_t		 scriptlen;
	struct timeval	 tv;
	int		 status;

	/* A module answers for any path, from its own view of it. */
	if (!cg->cg_module && (status = cgi_locate(rq, &pathinfo,
	    &scriptlen)) == 404 && cgi_front(cg))
		status = cgi_locate(rq, &pathinfo, &scriptlen);
	if (!cg->cg_module && status != 0) {
		cgi_answer(rq, status);
		return;
	}
	if (cg->cg_fastcgi && fcgi_address(cg) == -1) {
		log_warnx("cgi_serve: conn %u: no FastCGI address to use",
		    rq->rq_conn);
		cgi_answer(rq, 500);
		return;
	}
	conf_timeval(conf_cgi_timeout(&wrk_conf->cf_sites[rq->rq_site],
	    rq->rq_app), &tv);
	if ((cg->cg_timer = evtimer_new(worker_evbase(), cgi_timeout, cg)) ==
	    NULL || evtimer_add(cg->cg_timer, &tv) == -1) {
		cgi_answer(rq, 500);
		return;
	}
	/* Told to go ahead, the client sends the body the child reads. */
	if (!rq->rq_msg_done && worker_expects_continue(rq) &&
	    rq->rq_ho.ho_head_len == rq->rq_ho.ho_data_len &&
	    worker_send_continue(rq) == -1)
		return;
	if (cg->cg_module) {
		cgi_start(cg);
		return;
	}
	cg->cg_pathinfo = pathinfo;
	cg->cg_scriptlen = scriptlen;
	if (rq->rq_parser.flags & F_CHUNKED) {
		cg->cg_spooling = 1;
		cgi_spool_pump(cg);
		return;
	}
	if (cgi_env(rq, pathinfo, scriptlen) == -1) {
		log_warnx("cgi_serve: conn %u: no memory for the environment",
		    rq->rq_conn);
		cgi_answer(rq, 500);
		return;
	}
	cgi_start(cg);
}
