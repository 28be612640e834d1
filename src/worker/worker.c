/*
 * hsd-worker: runs one application pool's requests.  The listener hands it
 * a client socket plus the bytes it already read; the handler (static.c,
 * or cgi.c and module.c for an application) builds the response, the
 * worker writes it to the socket itself and tells the listener DONE,
 * handing back any bytes that belong to the next request.  What it
 * cannot write in one go -- a body over WRK_SMALL_BODY, which a kill
 * between two writes would cut, or whatever the client's socket will not
 * take -- it hands to the listener with DONE (DONE_HANDBACK) and takes
 * its next request.
 *
 * The static handler decides on the head alone, so a body is never waited
 * for with a slot held: what is left of a Content-Length body is the
 * listener's to throw away (DONE's dn_discard); of a chunked body the
 * worker takes what has already arrived, up to WORKER_BODY_BOUND, and
 * closes the connection if the body does not end there.  Only a client
 * that asked for 100 Continue before sending a chunked body is waited for,
 * as a handler that wants a body would be: under the entity-body rules
 * (a deadline from the handoff, min_body_rate), answered 408 if it breaks
 * them and 413 past max_body_size.
 *
 * Peers: the pool manager (fd 3), which pings it, tells it to stop and
 * sends it a channel to a new listener when the last one died, and which
 * it tells when recycle_requests is reached; and the listener (fd 5 at
 * first), which sends work and says when no more will come (retired).
 * Requests live in a fixed table of slots, one per unit of the pool's
 * concurrency, allocated at start-up so the request path does not
 * allocate.  Everything runs in one libevent
 * loop; only local file I/O blocks.
 *
 * Static files come from an open-file cache (filecache.c) that inotify
 * keeps current.  A change made before a request was sent must be heard
 * of before the request is answered: change notices run at a higher
 * priority than the channels, and a handoff read from the channel after
 * the first record of one read (so perhaps after the change notice came)
 * waits for the next poll, which does not block.
 */
#include "config.h"

#include <sys/types.h>
#include <sys/mman.h>
#include <sys/sendfile.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/uio.h>

#include <linux/openat2.h>

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <event2/event.h>
#include <http_parser.h>

#include "chan.h"
#include "clock.h"
#include "conf.h"
#include "head.h"
#include "log.h"
#include "msg.h"
#include "proc.h"
#include "worker.h"

/* Bytes one request may write per readiness before others get a turn. */
#define WORKER_WRITE_BUDGET	(1024 * 1024)
/* Body bytes read per readiness; leftovers must fit a DONE message. */
#define WORKER_READ_MAX		(MSG_PAYLOAD_MAX - sizeof(struct msg_done))
/* A chunked body nobody wants is read this far, and no further. */
#define WORKER_BODY_BOUND	(64 * 1024)

static void	worker_dispatch_poolmgr(struct chan *, const struct msg_hdr *,
		    const void *, int, void *);
static void	worker_dispatch_listener(struct chan *, const struct msg_hdr *,
		    const void *, int, void *);
static void	worker_peer_closed(struct chan *, void *);

enum { PEER_POOLMGR, PEER_LISTENER, PEER_COUNT };

static struct worker_peer {
	const char	*wp_name;
	int		 wp_fd;
	chan_msg_cb	 wp_dispatch;
	struct chan	*wp_chan;
} worker_peers[PEER_COUNT] = {
	{ "poolmgr",	PROC_FD_PARENT,	worker_dispatch_poolmgr,	NULL },
	{ "listener",	PROC_FD_PEER,	worker_dispatch_listener,	NULL },
};

struct hsd_config	*wrk_conf;

static struct event_base *worker_base;
static uint32_t		 worker_pool;
static uint32_t		 worker_id;
static uint32_t		 worker_conc;
static struct wrk_req	*worker_reqs;
static uint32_t		 worker_busy;
static struct wrk_slot	*worker_slots;
static size_t		 worker_slots_size;
static int		*worker_site_fd;
static int		**worker_app_fd;
/* Where proc_privdrop() chrooted us, NULL: nowhere, roots are host paths. */
static const char	*worker_chroot;
static struct timeval	 worker_tv;
static const struct timeval *worker_timeout;	/* NULL: none */
static size_t		 worker_read_max;
static int		 worker_stopping;
static struct event	*worker_stop_ev;	/* shutdown deadline */
static struct event	*worker_drain_ev;	/* DONEs still queued */
static uint64_t		 worker_requests;	/* DONEs sent */
static uint64_t		 worker_recycle_at;	/* recycle_requests, 0: off */
static struct event	*worker_batch_ev;	/* a channel read is over */
static int		 worker_batch_open;	/* ... not yet */

static int	worker_on_url(http_parser *, const char *, size_t);
static int	worker_on_header_field(http_parser *, const char *, size_t);
static int	worker_on_header_value(http_parser *, const char *, size_t);
static int	worker_on_headers_complete(http_parser *);
static int	worker_on_body(http_parser *, const char *, size_t);
static int	worker_on_message_complete(http_parser *);

static const http_parser_settings worker_parser_settings = {
	.on_url = worker_on_url,
	.on_header_field = worker_on_header_field,
	.on_header_value = worker_on_header_value,
	.on_headers_complete = worker_on_headers_complete,
	.on_body = worker_on_body,
	.on_message_complete = worker_on_message_complete,
};

static const struct {
	const char	*hn_name;
	size_t		 hn_len;
} worker_hdr_names[WH_COUNT] = {
	[WH_IF_NONE_MATCH] =		{ "If-None-Match", 13 },
	[WH_IF_MODIFIED_SINCE] =	{ "If-Modified-Since", 17 },
	[WH_RANGE] =			{ "Range", 5 },
	[WH_IF_RANGE] =			{ "If-Range", 8 },
	[WH_EXPECT] =			{ "Expect", 6 },
};

static void	worker_respond(struct wrk_req *);
static void	worker_handoff_run(struct wrk_req *);
static void	worker_handoff_later(evutil_socket_t, short, void *);
static void	worker_batch_over(evutil_socket_t, short, void *);
static void	worker_release(struct wrk_req *);
static void	worker_maybe_exit(void);
static void	worker_new_listener(int);
static void	worker_listener_lost(void);
static void	worker_listener_gone_later(void);
static void	worker_say_ready(void);
static void	worker_recycle_due(void);
static void	worker_stop(const char *);
static int	worker_open_root(const char *, int);

static __attribute__((noreturn)) void
usage(void)
{
	fprintf(stderr, "usage: hsd-worker -p pool -w worker-id [-v]\n");
	exit(1);
}

/* Parser callbacks: the head is contiguous, so each field comes whole. */

static int
worker_on_url(http_parser *p, const char *at, size_t len)
{
	struct wrk_req	*rq = p->data;
	const char	*q, *h;

	if ((q = memchr(at, '?', len)) != NULL) {
		h = memchr(q, '#', at + len - q);
		rq->rq_query = q;
		rq->rq_query_len = (h != NULL ? h : at + len) - q;
	}
	return 0;
}

static int
worker_on_header_field(http_parser *p, const char *at, size_t len)
{
	struct wrk_req	*rq = p->data;
	int		 i;

	rq->rq_hcur = -1;
	if (rq->rq_head_done)
		return 0;	/* chunked trailers */
	for (i = 0; i < WH_COUNT; i++)
		if (len == worker_hdr_names[i].hn_len &&
		    strncasecmp(at, worker_hdr_names[i].hn_name, len) == 0) {
			rq->rq_hcur = i;
			break;
		}
	return 0;
}

static int
worker_on_header_value(http_parser *p, const char *at, size_t len)
{
	struct wrk_req	*rq = p->data;
	struct wrk_hval	*h;

	if (rq->rq_hcur < 0)
		return 0;
	h = &rq->rq_hdr[rq->rq_hcur];
	if (h->hv_ptr == NULL) {
		h->hv_ptr = at;
		h->hv_len = len;
	} else if (h->hv_ptr + h->hv_len == at)
		h->hv_len += len;
	/* A repeated header: the first one counts. */
	return 0;
}

static int
worker_on_headers_complete(http_parser *p)
{
	struct wrk_req	*rq = p->data;

	rq->rq_head_done = 1;
	rq->rq_hcur = -1;
	rq->rq_method = p->method;
	rq->rq_major = p->http_major;
	rq->rq_minor = p->http_minor;
	rq->rq_keepalive = http_should_keep_alive(p);
	rq->rq_cl = (p->flags & F_CONTENTLENGTH) ? p->content_length : 0;
	return 0;
}

/* Count the body against max_body_size: only a chunked one can pass it
 * here, the listener refuses a Content-Length that would.  A CGI program
 * gets the bytes. */
static int
worker_on_body(http_parser *p, const char *at, size_t len)
{
	struct wrk_req	*rq = p->data;

	rq->rq_body_len += len;
	if (rq->rq_body_max != 0 && rq->rq_body_len > rq->rq_body_max) {
		rq->rq_too_large = 1;
		return -1;
	}
	if (rq->rq_cgi != NULL && cgi_body(rq, at, len) == -1)
		return -1;
	return 0;
}

/* Stop right behind the request: what follows is the next one. */
static int
worker_on_message_complete(http_parser *p)
{
	struct wrk_req	*rq = p->data;

	rq->rq_msg_done = 1;
	http_parser_pause(p, 1);
	return 0;
}

/* Bytes of buf that belong to the request, -1 on a parse error. */
ssize_t
worker_parse(struct wrk_req *rq, const char *buf, size_t len)
{
	size_t		n;
	enum http_errno	err;

	n = http_parser_execute(&rq->rq_parser, &worker_parser_settings, buf,
	    len);
	err = HTTP_PARSER_ERRNO(&rq->rq_parser);
	if (err == HPE_PAUSED && rq->rq_msg_done)
		return n;
	if (err != HPE_OK || n != len) {
		log_debug("worker_parse: conn %u: %s", rq->rq_conn,
		    http_errno_description(err));
		return -1;
	}
	return n;
}

/* The directory fd of a root conf_map_path() returned, -1 if none. */
int
worker_rootfd(const struct wrk_req *rq, const char *root)
{
	const struct conf_site	*site = &wrk_conf->cf_sites[rq->rq_site];
	int			*fdp = NULL;

	if (root == site->st_root || strcmp(root, site->st_root) == 0)
		fdp = &worker_site_fd[rq->rq_site];
	else if (rq->rq_app >= 0 && site->st_apps[rq->rq_app].ap_root != NULL &&
	    (root == site->st_apps[rq->rq_app].ap_root ||
	    strcmp(root, site->st_apps[rq->rq_app].ap_root) == 0))
		fdp = &worker_app_fd[rq->rq_site][rq->rq_app];
	if (fdp == NULL) {
		log_warnx("worker_rootfd: %s is no root of site %s", root,
		    site->st_name);
		return -1;
	}
	/* A root missing at start-up may have appeared since. */
	if (*fdp == -1)
		*fdp = worker_open_root(root, 1);
	return *fdp;
}

/*
 * The file names roots as host paths; a chrooted worker finds them below
 * its chroot.  The one place that maps them: for opening a root, and for
 * the paths the file cache watches.  NULL if it is not below.
 */
const char *
worker_root_path(const char *root)
{
	if (worker_chroot == NULL)
		return root;
	return conf_chroot_path(worker_chroot, root);
}

static int
worker_open_root(const char *root, int quiet)
{
	const char	*path;
	int		 fd;

	/* conf_load_*() made sure this pool's roots are below. */
	if ((path = worker_root_path(root)) == NULL) {
		if (!quiet)
			log_warnx("worker_open_root: %s is not below the "
			    "chroot %s", root, worker_chroot);
		return -1;
	}
	if ((fd = open(path, O_PATH | O_DIRECTORY | O_CLOEXEC)) == -1 &&
	    !quiet)
		log_warn("worker_open_root: %s%s%s", root,
		    worker_chroot ? " in the chroot " : "",
		    worker_chroot ? worker_chroot : "");
	return fd;
}

/*
 * Whether requests routed to this worker's pool are served from the
 * site's root (app -1) or from application app's own.  Only those are
 * opened: a chrooted worker could not reach the others.
 */
static int
worker_serves_root(const struct conf_site *site, int app)
{
	uint32_t	j;

	if (app >= 0)
		return site->st_apps[app].ap_root != NULL &&
		    site->st_apps[app].ap_pool == worker_pool;
	if (site->st_pool == worker_pool)
		return 1;
	for (j = 0; j < site->st_napps; j++)
		if (site->st_apps[j].ap_root == NULL &&
		    site->st_apps[j].ap_pool == worker_pool)
			return 1;
	return 0;
}

static void
worker_init_roots(void)
{
	const struct conf_site	*site;
	struct open_how		 how;
	uint32_t		 i, j;
	int			 fd;

	/* Without openat2() there is no safe way to stay below a root. */
	memset(&how, 0, sizeof(how));
	how.flags = O_PATH | O_DIRECTORY | O_CLOEXEC;
	how.resolve = RESOLVE_BENEATH;
	if ((fd = syscall(SYS_openat2, AT_FDCWD, ".", &how, sizeof(how))) == -1 &&
	    errno == ENOSYS)
		fatalx("worker_init_roots: the kernel has no openat2()");
	if (fd != -1)
		close(fd);

	if ((worker_site_fd = calloc(wrk_conf->cf_nsites + 1,
	    sizeof(*worker_site_fd))) == NULL ||
	    (worker_app_fd = calloc(wrk_conf->cf_nsites + 1,
	    sizeof(*worker_app_fd))) == NULL)
		fatal("worker_init_roots: calloc");
	for (i = 0; i < wrk_conf->cf_nsites; i++) {
		site = &wrk_conf->cf_sites[i];
		worker_site_fd[i] = !worker_serves_root(site, -1) ? -1 :
		    worker_open_root(site->st_root, 0);
		if ((worker_app_fd[i] = calloc(site->st_napps + 1,
		    sizeof(int))) == NULL)
			fatal("worker_init_roots: calloc");
		for (j = 0; j < site->st_napps; j++)
			worker_app_fd[i][j] = !worker_serves_root(site, j) ?
			    -1 : worker_open_root(site->st_apps[j].ap_root, 0);
	}
}

static void
worker_init_reqs(void)
{
	struct wrk_req	*rq;
	uint32_t	 i;

	if ((worker_reqs = calloc(worker_conc, sizeof(*worker_reqs))) == NULL)
		fatal("worker_init_reqs: calloc");
	for (i = 0; i < worker_conc; i++) {
		rq = &worker_reqs[i];
		rq->rq_slot = i;
		rq->rq_sock = -1;
		rq->rq_file = -1;
		/* Path, NUL, data: exactly what a handoff can carry. */
		if ((rq->rq_path = malloc(MSG_PAYLOAD_MAX + 1)) == NULL ||
		    (rq->rq_out = malloc(WRK_OUT_SIZE)) == NULL)
			fatal("worker_init_reqs: malloc");
		if ((rq->rq_ev = event_new(worker_base, -1, 0, NULL,
		    NULL)) == NULL)
			fatalx("worker_init_reqs: event_new failed");
	}
}

struct chan *
worker_listener_chan(void)
{
	return worker_peers[PEER_LISTENER].wp_chan;
}

struct event_base *
worker_evbase(void)
{
	return worker_base;
}

uint32_t
worker_pool_index(void)
{
	return worker_pool;
}

/* The most one read of a body may take (see main()). */
size_t
worker_read_limit(void)
{
	return worker_read_max;
}

/* The listener's view of a slot: see struct wrk_slot in msg.h. */
static struct wrk_slot *
worker_slot(const struct wrk_req *rq)
{
	if (worker_slots == NULL || rq->rq_read_sock)
		return NULL;
	return &worker_slots[rq->rq_slot];
}

/*
 * DONE for rq.  With DONE_HANDBACK it also carries what is left of the
 * response: the unsent part of rq_out inline and the file range with its
 * fd.  A DONE that cannot go leaves the client waiting on a channel that
 * no longer works: exit, so the listener fails every request held here
 * over by its rules.
 */
static void
worker_send_done(const struct wrk_req *rq, uint32_t flags)
{
	struct msg_done	dn;
	struct iovec	iov[3];
	struct chan	*c = worker_peers[PEER_LISTENER].wp_chan;
	struct linger	lg = { 1, 0 };
	int		n = 1, fd = -1;

	memset(&dn, 0, sizeof(dn));
	dn.dn_conn = rq->rq_conn;
	dn.dn_slot = rq->rq_slot;
	dn.dn_status = rq->rq_status;
	dn.dn_bytes = rq->rq_bytes;
	dn.dn_flags = flags;
	dn.dn_head_len = rq->rq_pre + rq->rq_resp_head;
	iov[0].iov_base = &dn;
	iov[0].iov_len = sizeof(dn);
	/* Leftovers only matter to a connection that goes on. */
	if (flags & DONE_KEEPALIVE)
		dn.dn_discard = rq->rq_discard;
	if ((flags & DONE_KEEPALIVE) && rq->rq_rest_len > 0) {
		dn.dn_rest_len = rq->rq_rest_len;
		iov[n].iov_base = (void *)rq->rq_rest;
		iov[n++].iov_len = rq->rq_rest_len;
	}
	if (flags & DONE_HANDBACK) {
		dn.dn_out_len = rq->rq_out_len - rq->rq_out_off;
		if (dn.dn_out_len > 0) {
			iov[n].iov_base = rq->rq_out + rq->rq_out_off;
			iov[n++].iov_len = dn.dn_out_len;
		}
		if (rq->rq_file_off < rq->rq_file_end) {
			dn.dn_file_off = rq->rq_file_off;
			dn.dn_file_len = rq->rq_file_end - rq->rq_file_off;
			fd = rq->rq_file;
		}
	}
	if (c != NULL && chan_sendv(c, MSG_REQ_DONE, rq->rq_conn, iov, n,
	    fd) == 0) {
		if (++worker_requests == worker_recycle_at)
			worker_recycle_due();
		return;
	}
	/*
	 * The listener died and its EOF is still unread: the connection
	 * goes with it (worker_listener_lost() does the rest).  What is not
	 * a whole response is reset, never closed as if it were.
	 */
	if (c != NULL && (errno == EPIPE || errno == ECONNRESET ||
	    errno == ENOTCONN)) {
		if (flags & (DONE_HANDBACK | DONE_INCOMPLETE))
			setsockopt(rq->rq_sock, SOL_SOCKET, SO_LINGER, &lg,
			    sizeof(lg));
		worker_listener_gone_later();
		return;
	}
	fatal("worker_send_done: conn %u: exiting", rq->rq_conn);
}

/* The request is over: report it, release the slot and the socket. */
void
worker_finish(struct wrk_req *rq, int keepalive)
{
	uint32_t	flags = keepalive ? DONE_KEEPALIVE : 0;

	event_del(rq->rq_ev);
	/* A response begun and not finished must not be passed off as
	 * whole: the listener resets the connection. */
	if (rq->rq_bytes > 0 && rq->rq_bytes < rq->rq_resp_len)
		flags = DONE_INCOMPLETE;
	worker_send_done(rq, flags);
	worker_release(rq);
}

/* After DONE: free the slot for the next request. */
static void
worker_release(struct wrk_req *rq)
{
	/* The slot keeps saying RESPONDING: the DONE may still be in the
	 * channel's output queue, and if this process dies before it leaves,
	 * the slot is what lets the listener keep the connection.  The next
	 * handoff to the slot clears it. */
	cgi_free(rq);
	close(rq->rq_sock);
	rq->rq_sock = -1;
	static_reset(rq);
	rq->rq_busy = 0;
	worker_busy--;
	if (worker_stopping)
		worker_maybe_exit();
}

static void
worker_writable(evutil_socket_t fd, short ev, void *arg)
{
	struct wrk_req	*rq = arg;

	(void)fd;
	if (ev & EV_TIMEOUT) {
		log_info("worker_writable: conn %u: client too slow, gave up "
		    "after %llu bytes", rq->rq_conn,
		    (unsigned long long)rq->rq_bytes);
		worker_finish(rq, 0);
		return;
	}
	worker_respond(rq);
}

static void
worker_wait_writable(struct wrk_req *rq)
{
	event_del(rq->rq_ev);
	event_assign(rq->rq_ev, worker_base, rq->rq_sock, EV_WRITE,
	    worker_writable, rq);
	if (event_add(rq->rq_ev, worker_timeout) == -1) {
		log_warnx("worker_wait_writable: event_add failed");
		worker_finish(rq, 0);
	}
}

/* sendfile() must not block on a socket the listener also holds. */
int
worker_nonblock(struct wrk_req *rq)
{
	int	fl;

	if (rq->rq_nonblock)
		return 0;
	if ((fl = fcntl(rq->rq_sock, F_GETFL)) == -1 ||
	    ((fl & O_NONBLOCK) == 0 &&
	    fcntl(rq->rq_sock, F_SETFL, fl | O_NONBLOCK) == -1)) {
		log_warn("worker_nonblock: fcntl");
		return -1;
	}
	rq->rq_nonblock = 1;
	return 0;
}

/*
 * The client's socket would block: hand the rest of the response to the
 * listener, which sends it, and take the next request -- a slow reader
 * must not hold a slot of the pool.  Only when the rest and the bytes of
 * the next request do not fit one message does the worker wait for the
 * socket itself.
 */
static int
worker_handback_fits(const struct wrk_req *rq)
{
	return sizeof(struct msg_done) + (rq->rq_close ? 0 : rq->rq_rest_len) +
	    (rq->rq_out_len - rq->rq_out_off) <= MSG_PAYLOAD_MAX;
}

static void
worker_handback(struct wrk_req *rq)
{
	if (!worker_handback_fits(rq)) {
		worker_wait_writable(rq);
		return;
	}
	event_del(rq->rq_ev);
	worker_send_done(rq, DONE_HANDBACK |
	    (rq->rq_close ? 0 : DONE_KEEPALIVE));
	worker_release(rq);
}

/*
 * Write what is left of the response: the buffer (headers, maybe the whole
 * body), then the file range.
 */
static void
worker_respond(struct wrk_req *rq)
{
	size_t		 budget = WORKER_WRITE_BUDGET, left;
	ssize_t		 n;
	int		 flags, sending;

	for (;;) {
		if (rq->rq_out_off < rq->rq_out_len) {
			flags = MSG_DONTWAIT | MSG_NOSIGNAL;
			if (rq->rq_file_off < rq->rq_file_end)
				flags |= MSG_MORE;
			sending = 1;
			n = send(rq->rq_sock, rq->rq_out + rq->rq_out_off,
			    rq->rq_out_len - rq->rq_out_off, flags);
		} else if (rq->rq_file_off < rq->rq_file_end) {
			if (worker_nonblock(rq) == -1) {
				worker_finish(rq, 0);
				return;
			}
			sending = 0;
			left = rq->rq_file_end - rq->rq_file_off;
			n = sendfile(rq->rq_sock, rq->rq_file, &rq->rq_file_off,
			    left < budget ? left : budget);
			if (n == 0) {
				log_warnx("worker_respond: conn %u: file "
				    "shrank while sent", rq->rq_conn);
				worker_finish(rq, 0);
				return;
			}
		} else {
			worker_finish(rq, !rq->rq_close);
			return;
		}
		if (n == -1) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN || errno == EWOULDBLOCK) {
				worker_handback(rq);
				return;
			}
			if (errno == EPIPE || errno == ECONNRESET)
				log_debug("worker_respond: conn %u: client gone",
				    rq->rq_conn);
			else
				log_warn("worker_respond: conn %u: %s",
				    rq->rq_conn, sending ? "send" : "sendfile");
			worker_finish(rq, 0);
			return;
		}
		if (sending)
			rq->rq_out_off += n;
		rq->rq_bytes += n;
		if ((size_t)n >= budget) {
			/* Enough for one turn: the listener sends the rest,
			 * and this slot takes the next request. */
			worker_handback(rq);
			return;
		}
		budget -= n;
	}
}

/*
 * The first write of a response.  Just before it, tell the listener's slot
 * what DONE will say, in case this process dies between the last byte and
 * the message; only when the handed bytes were all the worker saw, since
 * the listener cannot know what was read from the socket.
 */
void
worker_start_response(struct wrk_req *rq)
{
	/* A 100 Continue sent while the body was awaited is part of it. */
	rq->rq_resp_len += rq->rq_pre;
	worker_slot_record(rq);
	/*
	 * A body too large to go out with the head in one send() is not
	 * started here at all: a worker killed between two writes would cut
	 * the response.  The listener sends it whole, as HTTP.sys sends what
	 * IIS hands it, and a worker that dies now costs the client nothing.
	 */
	if (rq->rq_file != -1 && worker_handback_fits(rq)) {
		worker_handback(rq);
		return;
	}
	worker_respond(rq);
}

/* What DONE would say, in the slot the listener reads if we die. */
void
worker_slot_record(struct wrk_req *rq)
{
	struct wrk_slot	*s;

	if ((s = worker_slot(rq)) != NULL) {
		/* Said again (a CGI response's length, once known): a death
		 * halfway through leaves it saying nothing. */
		__atomic_store_n(&s->ws_state, WS_IDLE, __ATOMIC_RELEASE);
		s->ws_conn = rq->rq_conn;
		s->ws_resp_len = rq->rq_resp_len;
		s->ws_consumed = rq->rq_consumed;
		s->ws_status = rq->rq_status;
		s->ws_flags = rq->rq_close ? 0 : DONE_KEEPALIVE;
		s->ws_discard = rq->rq_close ? 0 : rq->rq_discard;
		s->ws_fid_ok = rq->rq_fid_ok;
		s->ws_body_at = rq->rq_pre + rq->rq_body_at;
		s->ws_file_off = rq->rq_body_off;
		s->ws_file_end = rq->rq_body_end;
		s->ws_fid = rq->rq_fid;
		__atomic_store_n(&s->ws_state, WS_RESPONDING, __ATOMIC_RELEASE);
	}
}

/* The body will not be read to its end: a complete answer, then close. */
static void
worker_body_refuse(struct wrk_req *rq, int status)
{
	event_del(rq->rq_ev);
	rq->rq_close = 1;
	static_error(rq, status);
	worker_start_response(rq);
}

/*
 * The entity-body rules while the worker waits for a body: a deadline
 * from the handoff that arriving bytes do not push back (the event's
 * timeout is set anew each time, never simply re-armed), and
 * min_body_rate.  A client that breaks them gets a real 408.
 */
static void
worker_body_arm(struct wrk_req *rq)
{
	struct timeval	tv;
	uint64_t	wait;

	if (conf_body_check(&wrk_conf->cf_limits, rq->rq_body_start,
	    clock_ms(), rq->rq_body_got, &wait) == -1) {
		log_debug("worker_body_arm: conn %u: body too slow (%llu bytes)",
		    rq->rq_conn, (unsigned long long)rq->rq_body_got);
		worker_body_refuse(rq, 408);
		return;
	}
	conf_timeval(wait, &tv);
	if (event_add(rq->rq_ev, &tv) == -1) {
		log_warnx("worker_body_arm: event_add failed");
		rq->rq_status = 500;
		worker_finish(rq, 0);
	}
}

/*
 * Read a chunked body from the socket behind the head (so the header
 * values the handler looks at stay where they are), never past
 * WORKER_BODY_BOUND.  The body's end answers the request on a connection
 * that goes on, with what follows it handed back.  Waiting (rq_ev set up)
 * is for a body the client was told to send; otherwise what has not
 * arrived yet is not waited for: the answer says Connection: close and
 * the listener's lingering close takes the rest.
 */
static void
worker_body_read(struct wrk_req *rq, int wait)
{
	char	*buf = rq->rq_data + rq->rq_head_len;
	size_t	 cap = rq->rq_data_cap - rq->rq_head_len;
	ssize_t	 n, m;

	if (cap > worker_read_max)
		cap = worker_read_max;
	while (rq->rq_body_got < WORKER_BODY_BOUND) {
		n = recv(rq->rq_sock, buf, cap, MSG_DONTWAIT);
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
			if (wait) {
				worker_body_arm(rq);
				return;
			}
			break;
		}
		if (n <= 0) {
			/* Gone, or done sending: nobody to answer. */
			if (n == -1 && errno != ECONNRESET)
				log_warn("worker_body_read: conn %u: recv",
				    rq->rq_conn);
			rq->rq_status = 400;
			worker_finish(rq, 0);
			return;
		}
		rq->rq_read_sock = 1;
		rq->rq_body_got += n;
		if ((m = worker_parse(rq, buf, n)) == -1) {
			worker_body_refuse(rq, rq->rq_too_large ? 413 : 400);
			return;
		}
		if (rq->rq_msg_done) {
			event_del(rq->rq_ev);
			rq->rq_rest = buf + m;
			rq->rq_rest_len = n - m;
			static_serve(rq);
			worker_start_response(rq);
			return;
		}
	}
	event_del(rq->rq_ev);
	rq->rq_close = 1;
	static_serve(rq);
	worker_start_response(rq);
}

static void
worker_body_readable(evutil_socket_t fd, short ev, void *arg)
{
	struct wrk_req	*rq = arg;

	(void)fd;
	if (ev & EV_TIMEOUT)
		worker_body_arm(rq);
	else
		worker_body_read(rq, 1);
}

/*
 * 100 Continue, before a body the handler wants: it counts as the start
 * of the response (rq_pre).  -1 if it could not go, and the request is
 * over.
 */
int
worker_send_continue(struct wrk_req *rq)
{
	static const char	 cont[] = "HTTP/1.1 100 Continue\r\n\r\n";
	ssize_t			 n;

	n = send(rq->rq_sock, cont, sizeof(cont) - 1,
	    MSG_DONTWAIT | MSG_NOSIGNAL);
	if (n > 0)
		rq->rq_bytes += n;
	if (n != sizeof(cont) - 1) {
		rq->rq_resp_len = sizeof(cont) - 1;
		worker_finish(rq, 0);
		return -1;
	}
	rq->rq_pre = n;
	return 0;
}

/* Expect: 100-continue on an HTTP/1.1 request. */
int
worker_expects_continue(const struct wrk_req *rq)
{
	const struct wrk_hval	*h = &rq->rq_hdr[WH_EXPECT];

	return h->hv_ptr != NULL && rq->rq_major == 1 && rq->rq_minor >= 1 &&
	    h->hv_len >= 12 && strncasecmp(h->hv_ptr, "100-continue", 12) == 0;
}

/* Tell the listener a handoff could not be taken; the socket was not
 * touched, so it hands the request to another worker. */
static void
worker_reject(uint32_t conn, uint16_t slot, int fd)
{
	struct msg_refused	 rf;
	struct chan		*c = worker_peers[PEER_LISTENER].wp_chan;

	if (fd != -1)
		close(fd);
	memset(&rf, 0, sizeof(rf));
	rf.rf_conn = conn;
	rf.rf_slot = slot;
	if (c == NULL || chan_send(c, MSG_REQ_REFUSED, conn, &rf, sizeof(rf),
	    -1) == -1)
		fatal("worker_reject: conn %u: exiting", conn);
}

/*
 * The rest of a response a dead worker cut (HO_RESUME): the request is
 * parsed as usual, for what follows it and whether the connection goes
 * on, but no byte of a head or an error page may go out -- the client has
 * half a response already.  What cannot be resumed is DONE_INCOMPLETE,
 * and the listener resets the connection.
 */
static void
worker_resume(struct wrk_req *rq, const struct msg_handoff *ho, ssize_t n)
{
	if (n == -1 || (!rq->rq_msg_done &&
	    (rq->rq_parser.flags & F_CHUNKED))) {
		/* The first worker served it from these bytes alone. */
		log_warnx("worker_resume: conn %u: not a request that was "
		    "served from its head", rq->rq_conn);
		goto fail;
	}
	if (rq->rq_msg_done) {
		rq->rq_consumed = n;
		rq->rq_rest = rq->rq_data + n;
		rq->rq_rest_len = ho->ho_data_len - n;
	} else
		rq->rq_discard = rq->rq_parser.content_length;
	if (static_resume(rq, ho) == -1)
		goto fail;
	log_debug("worker_resume: conn %u: %s from byte %llu", rq->rq_conn,
	    rq->rq_path, (unsigned long long)rq->rq_file_off);
	worker_start_response(rq);
	return;
fail:
	static_reset(rq);
	worker_send_done(rq, DONE_INCOMPLETE);
	worker_release(rq);
}

static void
worker_handoff(const struct msg_hdr *hdr, const unsigned char *payload,
    int fd, int polled)
{
	static const struct timeval zero = { 0, 0 };
	struct msg_handoff	 ho;
	struct wrk_req		*rq;
	const struct conf_site	*site;
	const char		*path, *data;

	if (MSG_CHECK_SIZE(hdr->mh_len, ho) == -1) {
		log_warnx("worker_handoff: %u byte payload is too short",
		    hdr->mh_len);
		worker_reject(hdr->mh_id, UINT16_MAX, fd);
		return;
	}
	memcpy(&ho, payload, sizeof(ho));
	if (fd == -1 && (hdr->mh_flags & MH_FD_LOST)) {
		log_warnx("worker_handoff: conn %u: out of fds; refused",
		    ho.ho_conn);
		worker_reject(ho.ho_conn, ho.ho_slot, fd);
		return;
	}
	path = (const char *)payload + sizeof(ho);
	data = path + ho.ho_path_len;
	site = ho.ho_site < wrk_conf->cf_nsites ?
	    &wrk_conf->cf_sites[ho.ho_site] : NULL;
	if (fd == -1 || (uint64_t)hdr->mh_len != sizeof(ho) +
	    (uint64_t)ho.ho_path_len + ho.ho_data_len ||
	    ho.ho_head_len == 0 || ho.ho_head_len > ho.ho_data_len ||
	    site == NULL || ho.ho_app < -1 ||
	    (ho.ho_app >= 0 && (uint32_t)ho.ho_app >= site->st_napps) ||
	    ho.ho_slot >= worker_conc || ho.ho_path_len == 0 ||
	    path[0] != '/' || memchr(path, '\0', ho.ho_path_len) != NULL ||
	    worker_reqs[ho.ho_slot].rq_busy) {
		log_warnx("worker_handoff: conn %u: invalid handoff (slot %u, "
		    "site %u, app %d, path %u, head %u, data %u bytes%s)",
		    ho.ho_conn, ho.ho_slot, ho.ho_site, ho.ho_app,
		    ho.ho_path_len, ho.ho_head_len, ho.ho_data_len,
		    fd == -1 ? ", no socket" : "");
		worker_reject(ho.ho_conn, ho.ho_slot, fd);
		return;
	}

	rq = &worker_reqs[ho.ho_slot];
	/* Whatever the slot said was about an earlier request. */
	if (worker_slots != NULL)
		__atomic_store_n(&worker_slots[ho.ho_slot].ws_state, WS_IDLE,
		    __ATOMIC_RELEASE);
	rq->rq_busy = 1;
	worker_busy++;
	rq->rq_conn = ho.ho_conn;
	rq->rq_sock = fd;
	rq->rq_site = ho.ho_site;
	rq->rq_app = ho.ho_app;
	memcpy(rq->rq_path, path, ho.ho_path_len);
	rq->rq_path[ho.ho_path_len] = '\0';
	rq->rq_path_len = ho.ho_path_len;
	rq->rq_data = rq->rq_path + ho.ho_path_len + 1;
	rq->rq_data_cap = MSG_PAYLOAD_MAX - ho.ho_path_len;
	memcpy(rq->rq_data, data, ho.ho_data_len);
	rq->rq_consumed = ho.ho_data_len;
	rq->rq_rest = NULL;
	rq->rq_rest_len = 0;
	rq->rq_read_sock = 0;
	rq->rq_head_len = ho.ho_head_len;
	rq->rq_body_max = conf_max_body(site, ho.ho_app);
	rq->rq_body_len = 0;
	rq->rq_body_got = ho.ho_data_len - ho.ho_head_len;
	rq->rq_body_start = clock_ms();
	rq->rq_too_large = 0;
	rq->rq_discard = 0;
	rq->rq_continue = 0;
	rq->rq_pre = 0;
	rq->rq_head_done = 0;
	rq->rq_msg_done = 0;
	rq->rq_method = HTTP_GET;
	rq->rq_major = 1;
	rq->rq_minor = 1;
	rq->rq_keepalive = 0;
	rq->rq_hcur = -1;
	memset(rq->rq_hdr, 0, sizeof(rq->rq_hdr));
	rq->rq_query = NULL;
	rq->rq_query_len = 0;
	rq->rq_status = 0;
	rq->rq_close = 0;
	rq->rq_bytes = 0;
	rq->rq_nonblock = 0;
	rq->rq_ho = ho;
	rq->rq_cache = (ho.ho_flags & HO_CACHE) != 0;
	rq->rq_cl = 0;
	rq->rq_cgi = NULL;
	static_reset(rq);

	/*
	 * A file change made before the listener sent this has been heard
	 * of only if the loop polled since it came (the file cache's events
	 * go first): a handoff read after the first record of this read of
	 * the channel waits for the next poll, which does not block.
	 */
	if (!polled) {
		event_assign(rq->rq_ev, worker_base, -1, 0,
		    worker_handoff_later, rq);
		if (evtimer_add(rq->rq_ev, &zero) == 0)
			return;
		log_warnx("worker_handoff: evtimer_add failed");
	}
	worker_handoff_run(rq);
}

static void
worker_handoff_later(evutil_socket_t fd, short ev, void *arg)
{
	(void)fd;
	(void)ev;
	worker_handoff_run(arg);
}

/* This channel read is over: the next handoff is first of its own. */
static void
worker_batch_over(evutil_socket_t fd, short ev, void *arg)
{
	(void)fd;
	(void)ev;
	(void)arg;
	worker_batch_open = 0;
}

/*
 * What the request's path names below its root: WRK_NAMES_FILE (or
 * anything the static handler should answer: a directory with its
 * index.html, a name it may not reach...), WRK_NAMES_DIR (a directory
 * without index.html) or WRK_NAMES_NOTHING.
 */
#define WRK_NAMES_NOTHING	0
#define WRK_NAMES_FILE		1
#define WRK_NAMES_DIR		2

static int
worker_path_names(struct wrk_req *rq)
{
	const struct conf_site	*site = &wrk_conf->cf_sites[rq->rq_site];
	struct open_how		 how;
	struct stat		 st;
	const char		*root, *rel;
	int			 dirfd, fd, idx;

	rel = conf_map_path(site, rq->rq_app, rq->rq_path, &root);
	if (rel == NULL || root == NULL || (dirfd = worker_rootfd(rq,
	    root)) == -1)
		return WRK_NAMES_FILE;
	while (*rel == '/')
		rel++;
	memset(&how, 0, sizeof(how));
	how.flags = O_PATH | O_CLOEXEC;
	how.resolve = RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS;
	if ((fd = syscall(SYS_openat2, dirfd, *rel == '\0' ? "." : rel, &how,
	    sizeof(how))) == -1)
		return errno == ENOENT || errno == ENOTDIR ?
		    WRK_NAMES_NOTHING : WRK_NAMES_FILE;
	if (fstat(fd, &st) == -1 || !S_ISDIR(st.st_mode)) {
		close(fd);
		return WRK_NAMES_FILE;
	}
	idx = syscall(SYS_openat2, fd, "index.html", &how, sizeof(how));
	close(fd);
	if (idx == -1)
		return WRK_NAMES_DIR;
	close(idx);
	return WRK_NAMES_FILE;
}

/*
 * The path a gateway (CGI, FastCGI, a module) runs for rq and its
 * handler, NULL if the static handler answers it: the request's own, by
 * its handler or a script map.  Where a front controller is set, as
 * nginx users write try_files $uri $uri/ /index.php: a directory
 * ("/blog/") without index.html goes to the controller's handler
 * (FastCGI runs its index.php), and a path that names nothing to the
 * controller.
 */
static const char *
worker_gateway_path(struct wrk_req *rq, size_t *len, int *handler)
{
	const struct conf_site	*site = &wrk_conf->cf_sites[rq->rq_site];
	const char		*fc;

	*len = rq->rq_path_len;
	if ((*handler = conf_handler_path(site, rq->rq_app, rq->rq_path,
	    rq->rq_path_len)) != CONF_HANDLER_STATIC)
		return rq->rq_path;
	if ((fc = conf_front_controller(site, rq->rq_app)) == NULL)
		return NULL;
	switch (worker_path_names(rq)) {
	case WRK_NAMES_NOTHING:
		*len = strlen(fc);
		*handler = conf_handler_path(site, rq->rq_app, fc, *len);
		return fc;
	case WRK_NAMES_DIR:
		/* Without its slash, the static handler's 301 adds it. */
		if (rq->rq_path[rq->rq_path_len - 1] != '/')
			return NULL;
		*handler = conf_handler_path(site, rq->rq_app, fc, strlen(fc));
		return rq->rq_path;
	default:
		return NULL;
	}
}

/* A handoff taken into its slot: parse it and answer it. */
static void
worker_handoff_run(struct wrk_req *rq)
{
	const struct msg_handoff *ho = &rq->rq_ho;
	const char		*path;
	size_t			 len;
	ssize_t			 n;
	int			 fd = rq->rq_sock, handler;

	http_parser_init(&rq->rq_parser, HTTP_REQUEST);
	rq->rq_parser.data = rq;
	/* A CGI program's body bytes are kept from the first parse on;
	 * the path decides, for a script map may send it to one, and so
	 * may a front controller where the path names nothing. */
	if (!(ho->ho_flags & HO_RESUME) && (path = worker_gateway_path(rq,
	    &len, &handler)) != NULL && cgi_new(rq, path, len, handler) ==
	    -1) {
		rq->rq_close = 1;
		static_error(rq, 500);
		worker_start_response(rq);
		return;
	}

	/* The listener checked the head with the same rules; a head that
	 * fails them here came some other way and is not served. */
	n = -1;
	if (head_check(rq->rq_data, ho->ho_head_len, NULL) == 0)
		n = worker_parse(rq, rq->rq_data, ho->ho_data_len);
	if (ho->ho_flags & HO_RESUME) {
		worker_resume(rq, ho, rq->rq_head_done ? n : -1);
		return;
	}
	if (n == -1 || !rq->rq_head_done) {
		rq->rq_close = 1;
		static_error(rq, rq->rq_too_large ? 413 : 400);
		worker_start_response(rq);
		return;
	}
	if (rq->rq_cgi != NULL) {
		if (rq->rq_msg_done) {
			rq->rq_consumed = n;
			rq->rq_rest = rq->rq_data + n;
			rq->rq_rest_len = ho->ho_data_len - n;
		}
		cgi_serve(rq);
		return;
	}
	if (rq->rq_msg_done) {
		static_serve(rq);
		rq->rq_consumed = n;
		rq->rq_rest = rq->rq_data + n;
		rq->rq_rest_len = ho->ho_data_len - n;
		worker_start_response(rq);
		return;
	}

	/* The rest of the body is still on its way. */
	if (!(rq->rq_parser.flags & F_CHUNKED)) {
		/*
		 * The answer does not need it: answer now, and leave what is
		 * left (the parser counted it down) for the listener to throw
		 * away.  A client waiting for 100 Continue gets it first, so
		 * that the body the listener expects does come.
		 */
		rq->rq_discard = rq->rq_parser.content_length;
		rq->rq_continue = worker_expects_continue(rq) &&
		    ho->ho_head_len == ho->ho_data_len;
		static_serve(rq);
		worker_start_response(rq);
		return;
	}
	if (worker_expects_continue(rq) && ho->ho_head_len == ho->ho_data_len) {
		/* Told to go ahead, the client sends the body: wait for it. */
		if (worker_send_continue(rq) == -1)
			return;
		event_assign(rq->rq_ev, worker_base, fd, EV_READ | EV_PERSIST,
		    worker_body_readable, rq);
		worker_body_read(rq, 1);
		return;
	}
	worker_body_read(rq, 0);
}

static void
worker_map_slots(int fd)
{
	struct stat	 st;
	size_t		 need = (size_t)worker_conc * sizeof(struct wrk_slot);
	void		*p;

	if (fd == -1) {
		log_warnx("worker_map_slots: no memfd");
		return;
	}
	if (fstat(fd, &st) == -1) {
		log_warn("worker_map_slots: fstat");
		goto done;
	}
	if (st.st_size < 0 || (uint64_t)st.st_size < need) {
		log_warnx("worker_map_slots: %lld bytes, %zu needed",
		    (long long)st.st_size, need);
		goto done;
	}
	p = mmap(NULL, need, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (p == MAP_FAILED) {
		log_warn("worker_map_slots: mmap");
		goto done;
	}
	if (worker_slots != NULL)
		munmap(worker_slots, worker_slots_size);
	worker_slots = p;
	worker_slots_size = need;
done:
	close(fd);
}

/*
 * Whether this is the first record of the listener channel's current
 * read: that one was queued when the loop polled, those after it may have
 * come since.  worker_batch_ev runs once the read is over.
 */
static int
worker_batch_first(void)
{
	if (worker_batch_open)
		return 0;
	worker_batch_open = 1;
	event_active(worker_batch_ev, EV_TIMEOUT, 1);
	return 1;
}

static void
worker_dispatch_listener(struct chan *c, const struct msg_hdr *hdr,
    const void *payload, int fd, void *arg)
{
	int	polled = worker_batch_first();

	(void)c;
	(void)arg;
	switch (hdr->mh_type) {
	case MSG_REQ_HANDOFF:
		worker_handoff(hdr, payload, fd, polled);
		break;
	case MSG_REQ_SLOTS:
		worker_map_slots(fd);
		break;
	case MSG_REQ_RETIRE:
		if (fd != -1)
			close(fd);
		worker_stop("retired");
		break;
	default:
		log_warnx("worker_dispatch_listener: unexpected message %u",
		    hdr->mh_type);
		if (fd != -1)
			close(fd);
		break;
	}
}

static void
worker_exit_now(evutil_socket_t fd, short ev, void *arg)
{
	(void)fd;
	(void)ev;
	(void)arg;
	if (worker_busy > 0)
		log_warnx("worker_exit_now: shutdown timeout, %u requests "
		    "still in flight", worker_busy);
	module_exit();
	exit(0);
}

static void
worker_drain(evutil_socket_t fd, short ev, void *arg)
{
	(void)fd;
	(void)ev;
	(void)arg;
	worker_maybe_exit();
}

/* Exit once nothing is in flight and every DONE has left. */
static void
worker_maybe_exit(void)
{
	struct timeval	tv = { 0, 10000 };
	struct chan	*c = worker_peers[PEER_LISTENER].wp_chan;

	if (worker_busy > 0)
		return;
	if (c != NULL && chan_queued(c) > 0) {
		evtimer_add(worker_drain_ev, &tv);
		return;
	}
	module_exit();
	exit(0);
}

static void
worker_stop(const char *why)
{
	struct timeval	tv;
	uint64_t	ms = wrk_conf->cf_pools[worker_pool].pl_shutdown_timeout_ms;

	if (worker_stopping)
		return;
	worker_stopping = 1;
	log_debug("worker_stop: %s, %u requests in flight", why, worker_busy);
	/*
	 * The pool manager kills this worker once shutdown_timeout has
	 * passed since it said stop: exit a little before, so that the
	 * worker ends what is still in flight itself (and tells its
	 * handlers) rather than being cut off by SIGKILL.
	 */
	if (ms > 0) {
		ms -= ms / 10 < 1000 ? ms / 10 : 1000;
		conf_timeval(ms, &tv);
		evtimer_add(worker_stop_ev, &tv);
	}
	worker_maybe_exit();
}

/*
 * The pool's recycle_requests is reached: tell the pool manager, once.
 * It starts a replacement and retires this worker when that one is ready;
 * until then this one serves on.
 */
static void
worker_recycle_due(void)
{
	struct msg_recycle	rc;

	memset(&rc, 0, sizeof(rc));
	rc.rc_requests = worker_requests;
	if (chan_send(worker_peers[PEER_POOLMGR].wp_chan, MSG_WRK_RECYCLE,
	    worker_id, &rc, sizeof(rc), -1) == -1)
		log_warn("worker_recycle_due: telling the pool manager");
}

/* Answered from the loop, so a worker stuck anywhere does not answer. */
static void
worker_pong(const struct msg_hdr *hdr, const void *payload)
{
	struct msg_ping	pg;
	struct msg_pong	po;

	if (hdr->mh_len != sizeof(pg)) {
		log_warnx("worker_pong: %u byte ping", hdr->mh_len);
		return;
	}
	memcpy(&pg, payload, sizeof(pg));
	memset(&po, 0, sizeof(po));
	po.po_seq = pg.pp_seq;
	po.po_requests = worker_requests;
	po.po_busy = worker_busy;
	if (chan_send(worker_peers[PEER_POOLMGR].wp_chan, MSG_WRK_PONG,
	    worker_id, &po, sizeof(po), -1) == -1)
		log_warn("worker_pong: answering a ping");
}

static void
worker_dispatch_poolmgr(struct chan *c, const struct msg_hdr *hdr,
    const void *payload, int fd, void *arg)
{
	(void)c;
	(void)arg;
	switch (hdr->mh_type) {
	case MSG_WRK_SHUTDOWN:
		if (fd != -1)
			close(fd);
		worker_stop("shutdown requested");
		break;
	case MSG_WRK_LISTENER:
		worker_new_listener(fd);
		break;
	case MSG_WRK_PING:
		worker_pong(hdr, payload);
		break;
	default:
		log_warnx("worker_dispatch_poolmgr: unexpected message %u",
		    hdr->mh_type);
		if (fd != -1)
			close(fd);
		break;
	}
}

/*
 * The listener is gone (it died; the pool manager starts another).  What
 * it handed over dies with it: the connections were its, nobody can take
 * a DONE or a handback for them, and a new listener's conn ids and slots
 * mean other things.  A response not yet whole is reset rather than
 * closed, so that it cannot pass for complete.
 */
static void
worker_listener_lost(void)
{
	struct linger	 lg = { 1, 0 };
	struct wrk_req	*rq;
	uint32_t	 i, n = 0;

	if (worker_peers[PEER_LISTENER].wp_chan == NULL)
		return;
	chan_free(worker_peers[PEER_LISTENER].wp_chan);
	worker_peers[PEER_LISTENER].wp_chan = NULL;
	if (worker_slots != NULL) {
		munmap(worker_slots, worker_slots_size);
		worker_slots = NULL;
	}
	for (i = 0; i < worker_conc; i++) {
		rq = &worker_reqs[i];
		if (!rq->rq_busy)
			continue;
		event_del(rq->rq_ev);
		if (rq->rq_bytes < rq->rq_resp_len || rq->rq_resp_len == 0)
			setsockopt(rq->rq_sock, SOL_SOCKET, SO_LINGER, &lg,
			    sizeof(lg));
		n++;
		worker_release(rq);
	}
	if (n > 0)
		log_warnx("worker_listener_lost: the listener is gone; %u "
		    "requests in flight dropped", n);
	else
		log_debug("worker_listener_lost: the listener is gone");
	if (worker_stopping)
		worker_maybe_exit();
}

/* Which listener channel is current: one more for each new listener. */
static uintptr_t	worker_listener_gen;

static void
worker_listener_gone_cb(evutil_socket_t fd, short ev, void *arg)
{
	(void)fd;
	(void)ev;
	/* The channel that failed may have been replaced meanwhile (its EOF
	 * came, then the next listener's): that one is not gone. */
	if ((uintptr_t)arg == worker_listener_gen)
		worker_listener_lost();
}

/* From inside a request's own path, which must finish first. */
static void
worker_listener_gone_later(void)
{
	struct timeval	tv = { 0, 0 };

	if (event_base_once(worker_base, -1, EV_TIMEOUT,
	    worker_listener_gone_cb, (void *)worker_listener_gen, &tv) == -1)
		fatalx("worker_listener_gone_later: event_base_once failed");
}

/* Once, when the listener has its READY: from now on a death is a crash. */
static void
worker_say_ready(void)
{
	static int	said;

	if (said)
		return;
	said = 1;
	if (chan_send(worker_peers[PEER_POOLMGR].wp_chan, MSG_WRK_READY,
	    worker_id, NULL, 0, -1) == -1)
		fatal("worker_say_ready: telling the pool manager");
}

/* The pool manager's channel to a new listener, after the last one died. */
static void
worker_new_listener(int fd)
{
	struct chan	*c;

	if (fd == -1) {
		log_warnx("worker_new_listener: no channel");
		return;
	}
	/* Its end of the old channel may not have said EOF yet. */
	worker_listener_lost();
	if ((c = chan_new(worker_base, fd, "listener", worker_dispatch_listener,
	    worker_peer_closed, NULL)) == NULL) {
		close(fd);
		fatalx("worker_new_listener: no channel to the new listener");
	}
	worker_peers[PEER_LISTENER].wp_chan = c;
	worker_listener_gen++;
	/* That one may have died already: wait for the next. */
	if (chan_send(c, MSG_REQ_READY, worker_id, NULL, 0, -1) == -1) {
		log_warn("worker_new_listener: saying it is ready");
		worker_listener_lost();
		return;
	}
	worker_say_ready();
	log_debug("worker_new_listener: serving a new listener");
}

/* The pool manager gone means this worker has no purpose left. */
static void
worker_peer_closed(struct chan *c, void *arg)
{
	(void)arg;
	log_debug("worker_peer_closed: %s closed the channel", chan_peer(c));
	if (c == worker_peers[PEER_LISTENER].wp_chan) {
		worker_listener_lost();
		return;
	}
	module_exit();
	exit(0);
}

static void
worker_signal(evutil_socket_t sig, short ev, void *arg)
{
	(void)ev;
	(void)arg;
	(void)sig;
	worker_stop("SIGTERM");
}

int
main(int argc, char *argv[])
{
	struct event	*sigterm;
	uint64_t	 ms;
	int		 ch, verbose = 0, havepool = 0, haveid = 0;
	size_t		 i;

	while ((ch = getopt(argc, argv, "p:w:v")) != -1) {
		switch (ch) {
		case 'p':
			if (proc_parse_u32(optarg, &worker_pool) == -1)
				usage();
			havepool = 1;
			break;
		case 'w':
			if (proc_parse_u32(optarg, &worker_id) == -1)
				usage();
			haveid = 1;
			break;
		case 'v':
			verbose++;
			break;
		default:
			usage();
		}
	}
	if (optind != argc || !havepool || !haveid)
		usage();

	wrk_conf = proc_child_start("hsd-worker", verbose);
	if (worker_pool >= wrk_conf->cf_npools)
		fatalx("main: pool %u is not in the config", worker_pool);
	worker_conc = wrk_conf->cf_pools[worker_pool].pl_concurrency;
	worker_recycle_at = wrk_conf->cf_pools[worker_pool].pl_recycle_requests;
	if (worker_conc == 0 || worker_conc > UINT16_MAX)
		fatalx("main: pool %s: concurrency %u is out of range",
		    wrk_conf->cf_pools[worker_pool].pl_name, worker_conc);
	/*
	 * Handler modules are opened first, as the files and the libraries
	 * they need are named outside the pool's chroot; their init() runs
	 * below, with the pool's identity.
	 */
	module_load(wrk_conf, worker_pool);
	/* Before the roots are opened: files are served with the pool's
	 * own permissions, from inside its chroot.  Nothing is read by
	 * path after this but the roots and what is below them: logs go
	 * to the inherited stderr and dates are GMT (gmtime_r() reads no
	 * zone file). */
	worker_chroot = proc_privdrop(wrk_conf->cf_pools[worker_pool].pl_chroot,
	    &wrk_conf->cf_pools[worker_pool].pl_ident);
	ms = wrk_conf->cf_limits.connection_timeout_ms;
	if (ms > 0) {
		conf_timeval(ms, &worker_tv);
		worker_timeout = &worker_tv;
	}
	/*
	 * What is read past a chunked body goes back to the listener as the
	 * start of the next request, so it must not exceed what the
	 * listener holds for one: reads stay within max_request_bytes.
	 */
	worker_read_max = WORKER_READ_MAX;
	if (wrk_conf->cf_limits.max_request_bytes < worker_read_max)
		worker_read_max = wrk_conf->cf_limits.max_request_bytes;
	/* A head may be as large as a handoff can carry. */
	http_parser_set_max_header_size(MSG_PAYLOAD_MAX);

	/* Two priorities before any event exists: the file cache's change
	 * notices (0) go ahead of requests (1, the default). */
	if ((worker_base = event_base_new()) == NULL)
		fatalx("main: event_base_new failed");
	if (event_base_priority_init(worker_base, 2) == -1)
		fatalx("main: event_base_priority_init failed");
	sigterm = evsignal_new(worker_base, SIGTERM, worker_signal, NULL);
	worker_stop_ev = evtimer_new(worker_base, worker_exit_now, NULL);
	worker_drain_ev = evtimer_new(worker_base, worker_drain, NULL);
	/* Same priority as the channels: it runs after the read. */
	worker_batch_ev = event_new(worker_base, -1, 0, worker_batch_over,
	    NULL);
	/* SIGINT is ignored (proc_child_start): the pool manager decides. */
	if (sigterm == NULL || worker_stop_ev == NULL ||
	    worker_drain_ev == NULL || worker_batch_ev == NULL ||
	    event_add(sigterm, NULL) == -1)
		fatalx("main: event setup failed");
	for (i = 0; i < PEER_COUNT; i++) {
		worker_peers[i].wp_chan = chan_new(worker_base,
		    worker_peers[i].wp_fd, worker_peers[i].wp_name,
		    worker_peers[i].wp_dispatch, worker_peer_closed, NULL);
		if (worker_peers[i].wp_chan == NULL)
			fatalx("main: no channel to the %s on fd %d",
			    worker_peers[i].wp_name, worker_peers[i].wp_fd);
	}

	worker_init_roots();
	worker_init_reqs();
	cgi_init(worker_base,
	    wrk_conf->cf_pools[worker_pool].pl_cgi_max_children,
	    worker_root_path(wrk_conf->cf_body_temp_dir));
	/* Before READY: a module that refuses to start is a failed start. */
	module_init(worker_base);
	/* Each slot may hold a client socket and a file, the channels and
	 * libevent a few more. */
	filecache_init(worker_base, 2 * worker_conc + 64);
	/*
	 * The listener first: when the pool manager hears READY and retires
	 * the worker this one replaces, the listener has this one's READY
	 * already, so the pool is not a worker short in between.  A listener
	 * that died while this worker started: READY waits for the channel
	 * to the next one (worker_new_listener()), and a worker that never
	 * gets one is killed by startup_timeout as a failed start.
	 */
	if (chan_send(worker_peers[PEER_LISTENER].wp_chan, MSG_REQ_READY,
	    worker_id, NULL, 0, -1) == -1) {
		log_warn("main: saying it is ready to the listener");
		worker_listener_lost();
	} else
		worker_say_ready();
	log_debug("main: worker %u of pool %s up, %u slots", worker_id,
	    wrk_conf->cf_pools[worker_pool].pl_name, worker_conc);

	event_base_dispatch(worker_base);
	fatalx("main: event loop ended");
}
