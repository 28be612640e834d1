/*
 * The pool side of the listener: each pool's workers and FIFO queue, the
 * handoff of a client socket to the worker with the most spare capacity,
 * DONE, and what happens to requests in flight when a worker dies -- the
 * reason hsd exists: a request that can be replayed is replayed, a request
 * that cannot gets a 502, and a response cut in half is never passed off
 * as complete.
 */
#include "config.h"

#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <linux/sockios.h>
#include <linux/tcp.h>
#include <netinet/in.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>
#include <http_parser.h>

#include "chan.h"
#include "conf.h"
#include "listener.h"
#include "log.h"
#include "logrec.h"
#include "msg.h"

/* A request whose handling killed this many workers is not tried again. */
#define QUEUE_REDISPATCH_MAX	2
/* Nor is a cut response resumed more often than this. */
#define QUEUE_RESUME_MAX	3
/* After a handoff failed for want of fds or memory in the listener. */
#define QUEUE_RETRY_MS		100

static void	queue_worker_msg(struct chan *, const struct msg_hdr *,
		    const void *, int, void *);
static void	queue_worker_gone(struct chan *, void *);
static void	queue_retry(evutil_socket_t, short, void *);
static void	queue_deadline_arm(struct conn *);

struct lsn_pool *
queue_pool_new(uint32_t index)
{
	struct lsn_pool	*pl;

	if ((pl = calloc(1, sizeof(*pl))) == NULL) {
		log_warn("queue_pool_new: calloc");
		return NULL;
	}
	pl->pl_index = index;
	TAILQ_INIT(&pl->pl_queue);
	TAILQ_INIT(&pl->pl_workers);
	if ((pl->pl_retry = evtimer_new(lenv->le_base, queue_retry,
	    pl)) == NULL) {
		log_warnx("queue_pool_new: evtimer_new failed");
		free(pl);
		return NULL;
	}
	return pl;
}

/* A pool with nothing queued and no worker. */
void
queue_pool_free(struct lsn_pool *pl)
{
	event_free(pl->pl_retry);
	free(pl);
}

void
queue_init(void)
{
	const struct hsd_config	*conf = lenv->le_conf;
	uint32_t		 i;

	if ((lenv->le_pools = calloc(conf->cf_npools,
	    sizeof(*lenv->le_pools))) == NULL)
		fatal("queue_init: calloc");
	lenv->le_npools = conf->cf_npools;
	for (i = 0; i < conf->cf_npools; i++)
		if ((lenv->le_pools[i] = queue_pool_new(i)) == NULL)
			fatalx("queue_init: no memory for the pools");
	if ((lenv->le_gone = queue_pool_new(UINT32_MAX)) == NULL)
		fatalx("queue_init: no memory for the pools");
	lenv->le_gone->pl_state = POOL_STOPPED;
}

/*
 * The worker is no use any more (it refused a handoff, its channel failed,
 * or a request at it made no progress): take no more requests to it and
 * have the pool manager replace it.  What it holds follows the failover
 * rules when it exits.
 */
static void
queue_worker_failed(struct lsn_worker *w, uint32_t reason, const char *why)
{
	struct msg_wfailed	wf;

	if (w->wk_broken >= (int)reason)
		return;
	log_warnx("queue_worker_failed: worker %u (pid %d): %s; asking for a "
	    "replacement", w->wk_id, w->wk_pid, why);
	w->wk_broken = reason;
	memset(&wf, 0, sizeof(wf));
	wf.wf_reason = reason;
	if (chan_send(lenv->le_parent, MSG_LSN_WORKER_FAILED, w->wk_id, &wf,
	    sizeof(wf), -1) == -1)
		log_warn("queue_worker_failed: telling the pool manager");
}

static void
queue_worker_free(struct lsn_worker *w)
{
	if (w->wk_chan != NULL)
		chan_free(w->wk_chan);
	if (w->wk_slots != NULL)
		munmap(w->wk_slots, w->wk_slots_size);
	free(w->wk_slot_conn);
	free(w->wk_free);
	if (w->wk_gen != NULL)
		reload_gen_unref(w->wk_gen);
	free(w);
}

void
queue_worker_up(uint32_t id, uint32_t pool, uint32_t gen, int pid, int fd)
{
	const struct hsd_config	*conf = lenv->le_conf;
	struct lsn_worker	*w = NULL;
	struct msg_wfailed	 wf;
	uint32_t		 i, n;
	int			 mfd = -1;

	/* MSG_PM_RELOAD comes before any worker of the configuration it
	 * brings, so a new worker is always of the current one. */
	if (pool >= conf->cf_npools || gen != lenv->le_gen->lg_gen) {
		log_warnx("queue_worker_up: worker %u: no pool %u in "
		    "configuration %u", id, pool, gen);
		goto fail;
	}
	n = conf->cf_pools[pool].pl_concurrency;
	if ((w = calloc(1, sizeof(*w))) == NULL ||
	    (w->wk_slot_conn = calloc(n, sizeof(*w->wk_slot_conn))) == NULL ||
	    (w->wk_free = calloc(n, sizeof(*w->wk_free))) == NULL) {
		log_warn("queue_worker_up: calloc");
		goto fail;
	}
	w->wk_id = id;
	w->wk_pool = lenv->le_pools[pool];
	w->wk_gen = lenv->le_gen;
	w->wk_gen->lg_refs++;
	w->wk_pid = pid;
	w->wk_concurrency = n;
	for (i = 0; i < n; i++)
		w->wk_free[i] = n - 1 - i;

	/* The slot table the worker fills in before each response. */
	w->wk_slots_size = n * sizeof(struct wrk_slot);
	if ((mfd = memfd_create("hsd-slots", MFD_CLOEXEC |
	    MFD_ALLOW_SEALING)) == -1) {
		log_warn("queue_worker_up: memfd_create");
		goto fail;
	}
	if (ftruncate(mfd, w->wk_slots_size) == -1) {
		log_warn("queue_worker_up: ftruncate");
		goto fail;
	}
	/* The worker writes the table but must not resize it: a worker that
	 * shrank it and died would make the listener read past its mapping
	 * (SIGBUS) and take every connection down with it. */
	if (fcntl(mfd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW |
	    F_SEAL_SEAL) == -1) {
		log_warn("queue_worker_up: F_ADD_SEALS");
		goto fail;
	}
	w->wk_slots = mmap(NULL, w->wk_slots_size, PROT_READ, MAP_SHARED, mfd,
	    0);
	if (w->wk_slots == MAP_FAILED) {
		w->wk_slots = NULL;
		log_warn("queue_worker_up: mmap");
		goto fail;
	}
	if ((w->wk_chan = chan_new(lenv->le_base, fd, "worker",
	    queue_worker_msg, queue_worker_gone, w)) == NULL)
		goto fail;
	fd = -1;
	if (chan_send(w->wk_chan, MSG_REQ_SLOTS, id, NULL, 0, mfd) == -1) {
		log_warn("queue_worker_up: sending the slot table");
		goto fail;
	}
	close(mfd);
	TAILQ_INSERT_TAIL(&w->wk_pool->pl_workers, w, wk_entry);
	w->wk_pool->pl_demanded = 0;
	log_debug("queue_worker_up: worker %u (pid %d) of pool %s", id, pid,
	    conf->cf_pools[pool].pl_name);
	queue_run(w->wk_pool);
	return;
fail:
	if (mfd != -1)
		close(mfd);
	if (fd != -1)
		close(fd);
	if (w != NULL)
		queue_worker_free(w);
	/* Its channel is gone with it: without a word the worker would wait
	 * for a listener that is already there. */
	memset(&wf, 0, sizeof(wf));
	wf.wf_reason = WFAIL_BROKEN;
	if (chan_send(lenv->le_parent, MSG_LSN_WORKER_FAILED, id, &wf,
	    sizeof(wf), -1) == -1)
		log_warn("queue_worker_up: telling the pool manager");
}

/*
 * The pool manager retires worker id (a recycle, say): it gets no more
 * requests, and is told so on its own channel, behind every handoff it
 * was ever sent, so that it may exit once it has finished what it holds.
 * Its DONEs are taken as before.  Requests that come meanwhile go to the
 * pool's other workers, or wait for them.
 */
void
queue_worker_retire(uint32_t id)
{
	struct lsn_worker	*w = NULL;
	uint32_t		 i;

	for (i = 0; i <= lenv->le_npools && w == NULL; i++)
		TAILQ_FOREACH(w, &(i < lenv->le_npools ? lenv->le_pools[i] :
		    lenv->le_gone)->pl_workers, wk_entry)
			if (w->wk_id == id)
				break;
	if (w == NULL || w->wk_retiring) {
		log_debug("queue_worker_retire: worker %u is gone already", id);
		return;
	}
	w->wk_retiring = 1;
	log_debug("queue_worker_retire: worker %u (pid %d), %u requests in "
	    "flight", w->wk_id, w->wk_pid, w->wk_inflight);
	/* If it cannot be told, the pool manager's kill timer ends it. */
	if (chan_send(w->wk_chan, MSG_REQ_RETIRE, id, NULL, 0, -1) == -1)
		log_warn("queue_worker_retire: telling worker %u", id);
	/* Retired for idleness as a request came in: ask for another. */
	queue_demand(w->wk_pool);
}

/*
 * The worker of the pool with the most spare capacity that can serve c,
 * NULL if all are full.  One started with an older configuration serves
 * only the sites it knows as the current one routes them.
 */
static struct lsn_worker *
queue_pick(struct lsn_pool *pl, const struct conn *c)
{
	struct lsn_worker	*w, *best = NULL;
	uint32_t		 spare, best_spare = 0;

	TAILQ_FOREACH(w, &pl->pl_workers, wk_entry) {
		if (!w->wk_ready || w->wk_broken || w->wk_retiring)
			continue;
		if (w->wk_gen->lg_site_map != NULL &&
		    w->wk_gen->lg_site_map[c->cn_site] < 0)
			continue;
		spare = w->wk_concurrency - w->wk_inflight;
		if (spare > best_spare) {
			best = w;
			best_spare = spare;
		}
	}
	return best;
}

/*
 * Requests wait and the pool has no worker at all: its workers start on
 * demand (start = "demand"), or the last one just went.  Once until a
 * worker comes up; the pool manager starts what the pool lacks, and a
 * pool it keeps full anyway loses nothing by being asked.
 */
void
queue_demand(struct lsn_pool *pl)
{
	struct lsn_worker	*w;
	struct msg_demand	 dm;

	if (pl->pl_demanded || TAILQ_EMPTY(&pl->pl_queue))
		return;
	/* One on its way out (retired, broken) takes no more requests. */
	TAILQ_FOREACH(w, &pl->pl_workers, wk_entry)
		if (!w->wk_retiring && !w->wk_broken)
			return;
	pl->pl_demanded = 1;
	log_debug("queue_demand: pool %s: a request waits and no worker runs",
	    lenv->le_conf->cf_pools[pl->pl_index].pl_name);
	memset(&dm, 0, sizeof(dm));
	dm.dm_gen = lenv->le_gen->lg_gen;
	if (chan_send(lenv->le_parent, MSG_LSN_DEMAND, pl->pl_index, &dm,
	    sizeof(dm), -1) == -1)
		log_warn("queue_demand: telling the pool manager");
}

void
queue_park(struct lsn_pool *pl, struct conn *c, int front)
{
	c->cn_state = CN_QUEUED;
	if (front)
		TAILQ_INSERT_HEAD(&pl->pl_queue, c, cn_qentry);
	else
		TAILQ_INSERT_TAIL(&pl->pl_queue, c, cn_qentry);
	pl->pl_queued++;
	conn_parked(c);
	queue_demand(pl);
}

void
queue_unpark(struct conn *c)
{
	struct lsn_pool	*pl = lenv->le_pools[c->cn_pool];

	TAILQ_REMOVE(&pl->pl_queue, c, cn_qentry);
	pl->pl_queued--;
	c->cn_state = CN_READING;
}

/*
 * A pool that is offline (rapid-fail protection) or stopped (by an
 * operator) answers at once, as HTTP.sys does, with IIS's reasons
 * AppOffline and Disabled in the log: a client must not wait out
 * connection_timeout for a worker that nobody will start.
 */
static void
queue_refuse(struct lsn_pool *pl, struct conn *c)
{
	log_info("queue_refuse: connection %u: pool %s is %s; 503 (%s)",
	    c->cn_id, lenv->le_conf->cf_pools[pl->pl_index].pl_name,
	    pl->pl_state == POOL_OFFLINE ? "offline (rapid-fail protection)" :
	    "stopped", pl->pl_state == POOL_OFFLINE ? "AppOffline" :
	    "Disabled");
	conn_fail(c, 503, pl->pl_state == POOL_OFFLINE ? HE_APP_OFFLINE :
	    HE_DISABLED);
}

/* Hand c to w: the fd, the normalised path and every byte read so far. */
static int
queue_handoff(struct lsn_worker *w, struct conn *c)
{
	struct msg_handoff	ho;
	struct iovec		iov[3];
	uint16_t		slot;

	slot = w->wk_free[w->wk_concurrency - w->wk_inflight - 1];
	memset(&ho, 0, sizeof(ho));
	ho.ho_conn = c->cn_id;
	ho.ho_slot = slot;
	ho.ho_path_len = c->cn_path_len;
	ho.ho_site = w->wk_gen->lg_site_map != NULL ?
	    (uint32_t)w->wk_gen->lg_site_map[c->cn_site] : c->cn_site;
	ho.ho_app = c->cn_app;
	ho.ho_head_len = c->cn_head_len;
	ho.ho_data_len = c->cn_len;
	if (c->cn_cacheable)
		ho.ho_flags = HO_CACHE;
	if (c->cn_resume) {
		ho.ho_flags = HO_RESUME;
		ho.ho_resume_status = c->cn_resume_status;
		ho.ho_resume_id = c->cn_resume_id;
		ho.ho_resume_off = c->cn_resume_off;
		ho.ho_resume_end = c->cn_resume_end;
	}
	iov[0].iov_base = &ho;
	iov[0].iov_len = sizeof(ho);
	iov[1].iov_base = c->cn_path;
	iov[1].iov_len = c->cn_path_len;
	iov[2].iov_base = c->cn_buf;
	iov[2].iov_len = c->cn_len;
	if (chan_sendv(w->wk_chan, MSG_REQ_HANDOFF, c->cn_id, iov, 3,
	    c->cn_fd) == -1) {
		/* ETOOMANYREFS: fds in flight over this user's limit. */
		if (errno == EMFILE || errno == ENFILE || errno == ENOMEM ||
		    errno == ETOOMANYREFS) {
			/* The listener's own want, not the worker's fault:
			 * try again shortly. */
			log_warn("queue_handoff: to worker %u; retrying",
			    w->wk_id);
			struct timeval tv = { 0, QUEUE_RETRY_MS * 1000 };

			evtimer_add(w->wk_pool->pl_retry, &tv);
		} else {
			log_warn("queue_handoff: to worker %u", w->wk_id);
			queue_worker_failed(w, WFAIL_BROKEN,
			    "its channel failed");
		}
		return -1;
	}
	w->wk_inflight++;
	w->wk_requests++;
	w->wk_slot_conn[slot] = c;
	c->cn_worker = w;
	c->cn_slot = slot;
	c->cn_state = CN_WORKER;
	queue_deadline_arm(c);
	return 0;
}

/* Hand queued requests to workers while any has room. */
void
queue_run(struct lsn_pool *pl)
{
	struct lsn_worker	*w;
	struct conn		*c;

	/* Requests that came back to the queue (a worker that died with
	 * them, a refusal) of a pool that is not running get its 503 too. */
	if (pl->pl_state != POOL_RUNNING) {
		while ((c = TAILQ_FIRST(&pl->pl_queue)) != NULL)
			queue_refuse(pl, c);
		return;
	}
	while ((c = TAILQ_FIRST(&pl->pl_queue)) != NULL &&
	    (w = queue_pick(pl, c)) != NULL) {
		queue_unpark(c);
		if (queue_handoff(w, c) == -1) {
			/* Keep the request first in line. */
			queue_park(pl, c, 1);
			if (!w->wk_broken)
				break;	/* pl_retry brings it back */
		}
	}
}

/* A complete head, routed: to a worker now, or into the pool's queue. */
void
queue_dispatch(struct conn *c)
{
	const struct conf_pool	*cp = &lenv->le_conf->cf_pools[c->cn_pool];
	struct lsn_pool		*pl = lenv->le_pools[c->cn_pool];
	struct lsn_worker	*w;

	evtimer_del(c->cn_timer);
	c->cn_resume = 0;
	c->cn_resumes = 0;
	if (pl->pl_state != POOL_RUNNING) {
		queue_refuse(pl, c);
		return;
	}
	/* The common case: nobody waiting and a worker with room. */
	if (TAILQ_EMPTY(&pl->pl_queue) && (w = queue_pick(pl, c)) != NULL &&
	    queue_handoff(w, c) == 0)
		return;
	if (pl->pl_queued >= cp->pl_queue_length) {
		log_debug("queue_dispatch: pool %s: queue full", cp->pl_name);
		conn_fail(c, 503, HE_QUEUE_FULL);
		return;
	}
	queue_park(pl, c, 0);
	queue_run(pl);
}

/* Bytes the application has written to a TCP socket since it was opened:
 * acknowledged plus still queued (unsent or unacknowledged). */
static int
queue_bytes_written(int fd, uint64_t *out)
{
	struct tcp_info	ti;
	socklen_t	len;
	uint64_t	acked;
	int		outq, tries;

	for (tries = 0; tries < 5; tries++) {
		len = sizeof(ti);
		memset(&ti, 0, sizeof(ti));
		if (getsockopt(fd, IPPROTO_TCP, TCP_INFO, &ti, &len) == -1)
			return -1;
		acked = ti.tcpi_bytes_acked;
		if (ioctl(fd, SIOCOUTQ, &outq) == -1)
			return -1;
		len = sizeof(ti);
		if (getsockopt(fd, IPPROTO_TCP, TCP_INFO, &ti, &len) == -1)
			return -1;
		if (ti.tcpi_bytes_acked == acked) {
			*out = acked + (uint64_t)outq;
			return 0;
		}
	}
	return -1;
}

/*
 * A request at a worker has a deadline, so that a worker that hangs or
 * drops it (a DONE it could not send) cannot hold the client forever: each
 * connection_timeout the response must have moved on.  A request whose
 * response makes no progress for that long counts against the worker,
 * which is killed; the request then follows the failover rules.
 */
static void
queue_deadline_arm(struct conn *c)
{
	const struct conf_limits *lim = &lenv->le_conf->cf_limits;
	const http_parser	*p = &c->cn_parser;
	struct timeval		 tv;

	const struct conf_site	*st;
	uint64_t		 ms = 0;

	/* cn_sent is what the socket had written at the handoff: no system
	 * call on the request path. */
	c->cn_progress = c->cn_sent;
	/* A worker may read a body for up to entity_body_timeout before it
	 * writes a byte, and a CGI or FastCGI application may think for up
	 * to its cgi_timeout (the worker enforces it): that is not a hang.
	 * Where a front controller may answer, any path may be one's (the
	 * listener cannot look at the files). */
	if ((p->flags & F_CHUNKED) || ((p->flags & F_CONTENTLENGTH) &&
	    p->content_length > 0))
		ms += lim->entity_body_timeout_ms;
	if (c->cn_site < lenv->le_conf->cf_nsites) {
		st = &lenv->le_conf->cf_sites[c->cn_site];
		if (conf_handler_path(st, c->cn_app, c->cn_path,
		    c->cn_path_len) != CONF_HANDLER_STATIC ||
		    conf_front_controller(st, c->cn_app) != NULL)
			ms += conf_cgi_timeout(st, c->cn_app);
	}
	if (ms > 0) {
		conf_timeval(ms + lim->connection_timeout_ms, &tv);
		event_add(c->cn_timer, &tv);
	} else
		event_add(c->cn_timer, lenv->le_tv_conn);
}

void
queue_deadline(struct conn *c)
{
	struct lsn_worker	*w = c->cn_worker;
	uint64_t		 written;
	char			 why[128];

	if (w == NULL)
		return;
	if (queue_bytes_written(c->cn_fd, &written) == 0 &&
	    written != c->cn_progress) {
		c->cn_progress = written;	/* a slow client, but moving */
		event_add(c->cn_timer, lenv->le_tv_conn);
		return;
	}
	snprintf(why, sizeof(why), "connection %u made no progress within "
	    "connection_timeout", c->cn_id);
	queue_worker_failed(w, WFAIL_HUNG, why);
	/* Its death orphans the request; until then, check again. */
	event_add(c->cn_timer, lenv->le_tv_conn);
}

static void
queue_retry(evutil_socket_t fd, short ev, void *arg)
{
	(void)fd;
	(void)ev;
	queue_run(arg);
}

static int
queue_replayable(const struct conn *c)
{
	const http_parser	*p = &c->cn_parser;

	if (p->method != HTTP_GET && p->method != HTTP_HEAD)
		return 0;
	if (p->flags & F_CHUNKED)
		return 0;
	if ((p->flags & F_CONTENTLENGTH) && p->content_length != 0)
		return 0;
	return c->cn_redispatched < QUEUE_REDISPATCH_MAX;
}

/* The worker holds c no more. */
static void
queue_release(struct lsn_worker *w, struct conn *c)
{
	w->wk_slot_conn[c->cn_slot] = NULL;
	w->wk_free[w->wk_concurrency - w->wk_inflight] = c->cn_slot;
	w->wk_inflight--;
	c->cn_worker = NULL;
	evtimer_del(c->cn_timer);
}

/*
 * How much of the body a worker says is still to come (and unwanted) is
 * checked against what the head announced and the listener handed over:
 * only a Content-Length body, with nothing of the next request before it.
 * A claim that does not fit gets the connection closed, not kept.
 */
static int
queue_discard_ok(const struct conn *c, uint64_t discard, size_t restlen)
{
	const http_parser	*p = &c->cn_parser;
	uint64_t		 handed;

	if (discard == 0)
		return 1;
	if (!(p->flags & F_CONTENTLENGTH) || (p->flags & F_CHUNKED) ||
	    p->content_length == ULLONG_MAX || restlen != 0)
		return 0;
	handed = c->cn_len - c->cn_head_len;
	if (handed > p->content_length)
		return 0;
	return discard <= p->content_length - handed;
}

static void
queue_finish(struct lsn_worker *w, struct conn *c, int status, int flags,
    uint64_t bytes, const char *rest, size_t restlen, uint64_t discard)
{
	queue_release(w, c);
	c->cn_sent += bytes;
	c->cn_discard = 0;
	logbuf_access(c, status, bytes, (flags & DONE_INCOMPLETE) ? 64 : 0);
	if (flags & DONE_HANDBACK) {
		log_warnx("queue_finish: connection %u: a handback without its "
		    "message; resetting", c->cn_id);
		conn_reset(c);
	} else if (flags & DONE_INCOMPLETE) {
		/* The worker gave up part-way: a cut response must not
		 * end with a FIN that makes it look whole. */
		log_info("queue_finish: connection %u: response incomplete "
		    "after %llu bytes; resetting", c->cn_id,
		    (unsigned long long)bytes);
		conn_reset(c);
	} else if ((flags & DONE_KEEPALIVE) && status != 0 && c->cn_keepalive) {
		c->cn_discard = discard;
		conn_resume(c, rest, restlen);
	} else
		conn_close_graceful(c);
}

static void
queue_done(struct lsn_worker *w, const struct msg_hdr *hdr, const void *data,
    int fd)
{
	struct msg_done	 dn;
	struct conn	*c;
	const char	*rest = (const char *)data + sizeof(dn);

	if (hdr->mh_len < sizeof(dn)) {
		log_warnx("queue_done: worker %u: short DONE", w->wk_id);
		goto drop;
	}
	memcpy(&dn, data, sizeof(dn));
	if ((uint64_t)dn.dn_rest_len + dn.dn_out_len !=
	    hdr->mh_len - sizeof(dn) ||
	    dn.dn_rest_len > lenv->le_data_cap ||
	    dn.dn_slot >= w->wk_concurrency ||
	    (c = w->wk_slot_conn[dn.dn_slot]) == NULL ||
	    c->cn_id != dn.dn_conn) {
		log_warnx("queue_done: worker %u: DONE for slot %u, conn %u "
		    "does not match a request it holds", w->wk_id,
		    dn.dn_slot, dn.dn_conn);
		goto drop;
	}
	if (c->cn_resume) {
		c->cn_resume = 0;
		if (dn.dn_flags & DONE_INCOMPLETE)
			log_info("queue_done: connection %u: worker %u could "
			    "not resume the response (the file changed?)",
			    c->cn_id, w->wk_id);
	}
	c->cn_resp_head = dn.dn_head_len;
	if (!(dn.dn_flags & DONE_KEEPALIVE))
		dn.dn_discard = 0;	/* lingering close reads what comes */
	else if (!queue_discard_ok(c, dn.dn_discard, dn.dn_rest_len)) {
		log_warnx("queue_done: worker %u: connection %u: %llu body "
		    "bytes to discard do not fit the request; closing",
		    w->wk_id, c->cn_id, (unsigned long long)dn.dn_discard);
		dn.dn_flags &= ~DONE_KEEPALIVE;
		dn.dn_discard = 0;
	}
	if (!(dn.dn_flags & DONE_HANDBACK)) {
		if (fd != -1 || dn.dn_out_len != 0)
			log_warnx("queue_done: worker %u: a body source "
			    "without DONE_HANDBACK; ignored", w->wk_id);
		if (fd != -1)
			close(fd);
		queue_finish(w, c, dn.dn_status, dn.dn_flags, dn.dn_bytes,
		    rest, dn.dn_rest_len, dn.dn_discard);
		return;
	}
	/* The listener sends the rest (send.c); it owns fd from here.  The
	 * discard, if any, starts once the response is out. */
	queue_release(w, c);
	c->cn_sent += dn.dn_bytes;
	c->cn_discard = dn.dn_discard;
	logbuf_defer(c, dn.dn_status, dn.dn_bytes + dn.dn_out_len +
	    dn.dn_file_len);
	send_start(c, rest + dn.dn_rest_len, dn.dn_out_len, fd,
	    dn.dn_file_off, dn.dn_file_len,
	    (dn.dn_flags & DONE_KEEPALIVE) && c->cn_keepalive, rest,
	    dn.dn_rest_len);
	return;
drop:
	if (fd != -1)
		close(fd);
}

/*
 * A request a worker gave back, or died with, goes to the front of its
 * pool's queue -- unless a reload took its site away: then there is no
 * pool for it: a 503, or a reset for a response cut half-way.
 */
static void
queue_requeue(struct conn *c)
{
	struct lsn_pool	*pl;

	if (c->cn_site != UINT32_MAX) {
		/* Since a reload, perhaps not the pool of the worker that gave
		 * it back, which its caller runs: run this one. */
		pl = lenv->le_pools[c->cn_pool];
		queue_park(pl, c, 1);
		queue_run(pl);
		return;
	}
	log_info("queue_requeue: connection %u: its site is gone (reload)",
	    c->cn_id);
	if (c->cn_resume)
		conn_fail(c, 0, HE_INTERNAL);	/* a reset: half is out */
	else
		conn_fail(c, 503, HE_INTERNAL);
}

/*
 * The worker could not take a request (out of fds, say).  It never used
 * the socket, so the request goes back to the front of the queue whatever
 * its method -- unless the socket says otherwise -- and the worker, no use
 * as it is, is replaced.
 */
static void
queue_refused(struct lsn_worker *w, const struct msg_hdr *hdr,
    const void *data)
{
	struct msg_refused	 rf;
	struct conn		*c;
	uint64_t		 written;

	if (hdr->mh_len != sizeof(rf)) {
		log_warnx("queue_refused: worker %u: %u byte REFUSED",
		    w->wk_id, hdr->mh_len);
		return;
	}
	memcpy(&rf, data, sizeof(rf));
	if (rf.rf_slot >= w->wk_concurrency ||
	    (c = w->wk_slot_conn[rf.rf_slot]) == NULL ||
	    c->cn_id != rf.rf_conn) {
		log_warnx("queue_refused: worker %u: REFUSED for slot %u, conn "
		    "%u does not match a request it holds", w->wk_id,
		    rf.rf_slot, rf.rf_conn);
		return;
	}
	queue_release(w, c);
	queue_worker_failed(w, WFAIL_BROKEN, "it refused a request");
	c->cn_state = CN_READING;
	if (queue_bytes_written(c->cn_fd, &written) == -1 ||
	    written != c->cn_sent) {
		log_warnx("queue_refused: connection %u: the socket was "
		    "written to; resetting", c->cn_id);
		conn_reset(c);
	} else if (c->cn_redispatched >= QUEUE_REDISPATCH_MAX) {
		conn_fail(c, 502, HE_ABANDONED);	/* a reset if half is out */
	} else {
		c->cn_redispatched++;
		log_info("queue_refused: connection %u: request handed on",
		    c->cn_id);
		queue_requeue(c);
	}
}

static void
queue_worker_msg(struct chan *ch, const struct msg_hdr *hdr,
    const void *data, int fd, void *arg)
{
	struct lsn_worker	*w = arg;

	(void)ch;
	if (fd != -1 && hdr->mh_type != MSG_REQ_DONE &&
	    hdr->mh_type != MSG_REQ_OFFER) {
		close(fd);
		fd = -1;
	}
	switch (hdr->mh_type) {
	case MSG_REQ_DONE:
		queue_done(w, hdr, data, fd);
		queue_run(w->wk_pool);
		break;
	case MSG_REQ_READY:
		if (!w->wk_ready)
			log_debug("queue_worker_msg: worker %u ready",
			    w->wk_id);
		w->wk_ready = 1;
		queue_run(w->wk_pool);
		break;
	case MSG_REQ_REFUSED:
		queue_refused(w, hdr, data);
		queue_run(w->wk_pool);
		break;
	case MSG_REQ_OFFER:
		cache_offer(w, hdr, data, fd);
		return;
	default:
		log_warnx("queue_worker_msg: worker %u: unexpected message "
		    "type %u", w->wk_id, hdr->mh_type);
		break;
	}
}

/*
 * A worker died after written bytes of a response (since the handoff)
 * reached c's socket: if the slot says its body is a file's range and
 * the whole head is out, set c up to have another worker send the rest
 * of that range, and return 0.  A cut inside the head cannot be resumed:
 * the next worker would write a head of its own (another Date), and the
 * client would get mixed bytes.  The slot is the dead worker's word: the
 * next worker sends nothing unless the file is the one it names.
 */
static int
queue_resume(struct lsn_worker *w, struct conn *c, uint64_t written)
{
	struct wrk_slot	s;
	uint64_t	body;

	if (__atomic_load_n(&w->wk_slots[c->cn_slot].ws_state,
	    __ATOMIC_ACQUIRE) != WS_RESPONDING)
		return -1;
	memcpy(&s, &w->wk_slots[c->cn_slot], sizeof(s));
	if (s.ws_conn != c->cn_id || !s.ws_fid_ok ||
	    s.ws_file_off > s.ws_file_end ||
	    s.ws_body_at > s.ws_resp_len ||
	    s.ws_file_end - s.ws_file_off != s.ws_resp_len - s.ws_body_at ||
	    written >= s.ws_resp_len)
		return -1;
	if (written < s.ws_body_at) {
		log_info("queue_resume: connection %u: cut inside the response "
		    "head (%llu of %llu bytes); cannot resume", c->cn_id,
		    (unsigned long long)written,
		    (unsigned long long)s.ws_body_at);
		return -1;
	}
	if (c->cn_resumes >= QUEUE_RESUME_MAX) {
		log_info("queue_resume: connection %u: resumed %u times "
		    "already", c->cn_id, c->cn_resumes);
		return -1;
	}
	body = written - s.ws_body_at;
	c->cn_sent += written;
	c->cn_resume = 1;
	c->cn_resumes++;
	c->cn_resume_status = s.ws_status;
	c->cn_resume_id = s.ws_fid;
	c->cn_resume_off = s.ws_file_off + body;
	c->cn_resume_end = s.ws_file_end;
	log_info("queue_orphan: connection %u: worker %u died after %llu "
	    "response bytes; the rest resumed at body byte %llu (file "
	    "offset %llu)", c->cn_id, w->wk_id, (unsigned long long)written,
	    (unsigned long long)body,
	    (unsigned long long)c->cn_resume_off);
	return 0;
}

/*
 * What becomes of a request that was at a worker when it died.  The
 * socket tells how much was written since the handoff; the slot table
 * tells whether that was the whole response.
 */
static void
queue_orphan(struct lsn_worker *w, struct conn *c)
{
	const struct wrk_slot	*s = &w->wk_slots[c->cn_slot];
	uint64_t		 written, resp_len, discard;
	uint32_t		 state, conn, consumed;
	uint16_t		 status, flags;
	int			 resuming;

	w->wk_slot_conn[c->cn_slot] = NULL;
	c->cn_worker = NULL;
	evtimer_del(c->cn_timer);
	if (queue_bytes_written(c->cn_fd, &written) == -1) {
		log_warn("queue_orphan: connection %u: cannot tell what was "
		    "sent", c->cn_id);
		conn_reset(c);
		return;
	}
	written -= c->cn_sent;

	resuming = c->cn_resume;
	c->cn_resume = 0;
	if (resuming && written == 0) {
		/* It died before it sent a byte of the rest: ask again. */
		c->cn_state = CN_READING;
		c->cn_resume = 1;
		if (c->cn_resumes >= QUEUE_RESUME_MAX) {
			log_info("queue_orphan: connection %u: worker %u died "
			    "resuming a response, %u times; resetting",
			    c->cn_id, w->wk_id, c->cn_resumes);
			conn_reset(c);
			return;
		}
		c->cn_resumes++;
		log_info("queue_orphan: connection %u: worker %u died "
		    "resuming a response; resumed again", c->cn_id, w->wk_id);
		queue_requeue(c);
		return;
	}

	state = __atomic_load_n(&s->ws_state, __ATOMIC_ACQUIRE);
	conn = s->ws_conn;
	resp_len = s->ws_resp_len;
	consumed = s->ws_consumed;
	status = s->ws_status;
	flags = s->ws_flags;
	discard = s->ws_discard;
	if (written > 0 && state == WS_RESPONDING && conn == c->cn_id &&
	    resp_len == written && consumed <= c->cn_len &&
	    consumed >= c->cn_head_len) {
		/* Died after the last byte, before DONE: it was complete. */
		log_info("queue_orphan: connection %u: worker %u died after "
		    "a complete response", c->cn_id, w->wk_id);
		logbuf_access(c, status, written, 0);
		c->cn_sent += written;
		c->cn_state = CN_READING;
		if ((flags & DONE_KEEPALIVE) && status != 0 &&
		    c->cn_keepalive && queue_discard_ok(c, discard,
		    c->cn_len - consumed)) {
			c->cn_discard = discard;
			conn_resume(c, c->cn_buf + consumed, c->cn_len - consumed);
		} else
			conn_close_graceful(c);
		return;
	}
	c->cn_state = CN_READING;
	if (written > 0 && queue_resume(w, c, written) == 0) {
		queue_requeue(c);
	} else if (written > 0) {
		log_info("queue_orphan: connection %u: worker %u died after "
		    "%llu response bytes; resetting", c->cn_id, w->wk_id,
		    (unsigned long long)written);
		logbuf_httperr(c, 0, HE_ABANDONED, 1);
		conn_reset(c);
	} else if (queue_replayable(c)) {
		log_info("queue_orphan: connection %u: worker %u died; "
		    "request handed on", c->cn_id, w->wk_id);
		c->cn_redispatched++;
		queue_requeue(c);
	} else {
		log_info("queue_orphan: connection %u: worker %u died with "
		    "the request; 502", c->cn_id, w->wk_id);
		conn_fail(c, 502, HE_ABANDONED);
	}
}

static void
queue_worker_gone(struct chan *ch, void *arg)
{
	struct lsn_worker	*w = arg;
	struct lsn_pool		*pl = w->wk_pool;
	struct conn		*c;
	uint32_t		 i;

	(void)ch;
	log_debug("queue_worker_gone: worker %u (pid %d), %u requests in "
	    "flight", w->wk_id, w->wk_pid, w->wk_inflight);
	TAILQ_REMOVE(&pl->pl_workers, w, wk_entry);
	/* Orphans go back to the queue's front in their original order. */
	for (i = w->wk_concurrency; i-- > 0; ) {
		if ((c = w->wk_slot_conn[i]) != NULL)
			queue_orphan(w, c);
	}
	queue_worker_free(w);
	queue_run(pl);
	queue_demand(pl);
}

/* The pool manager says whether the pool's requests go anywhere. */
void
queue_pool_state(uint32_t pool, uint32_t state)
{
	struct lsn_pool	*pl;
	const char	*name;

	if (pool >= lenv->le_npools || state > POOL_STOPPED) {
		log_warnx("queue_pool_state: no pool %u or no state %u", pool,
		    state);
		return;
	}
	pl = lenv->le_pools[pool];
	name = lenv->le_conf->cf_pools[pool].pl_name;
	if (pl->pl_state != state)
		log_info("queue_pool_state: pool %s: %s%s", name,
		    state == POOL_RUNNING ? "running" : state == POOL_OFFLINE ?
		    "offline (rapid-fail protection)" : "stopped",
		    state == POOL_RUNNING ? "" : "; its requests get 503");
	pl->pl_state = state;
	queue_run(pl);
}

/* Queue lengths and requests handed to each worker, for hsdctl status. */
void
queue_status(uint32_t serial)
{
	const struct hsd_config	*conf = lenv->le_conf;
	struct msg_status	 st;
	struct msg_status_worker sw;
	struct lsn_worker	*w;
	unsigned char		*buf;
	size_t			 off, max;
	uint32_t		 i, q;

	/* As many workers as fit in one message; st_truncated says so. */
	max = sizeof(st) + conf->cf_npools * sizeof(q);
	for (i = 0; i < conf->cf_npools; i++)
		TAILQ_FOREACH(w, &lenv->le_pools[i]->pl_workers, wk_entry)
			if (max + sizeof(sw) <= MSG_PAYLOAD_MAX)
				max += sizeof(sw);
	if ((buf = malloc(max)) == NULL) {
		log_warn("queue_status: malloc");
		return;		/* the pool manager's timeout answers */
	}
	memset(&st, 0, sizeof(st));
	st.st_npools = conf->cf_npools;
	st.st_gen = lenv->le_gen->lg_gen;
	logbuf_status(&st.st_log_buffered, &st.st_log_dropped);
	off = sizeof(st);
	for (i = 0; i < conf->cf_npools; i++) {
		q = lenv->le_pools[i]->pl_queued;
		memcpy(buf + off, &q, sizeof(q));
		off += sizeof(q);
	}
	for (i = 0; i < conf->cf_npools; i++) {
		TAILQ_FOREACH(w, &lenv->le_pools[i]->pl_workers, wk_entry) {
			if (off + sizeof(sw) > max) {
				st.st_truncated = 1;
				break;
			}
			memset(&sw, 0, sizeof(sw));
			sw.sw_id = w->wk_id;
			sw.sw_requests = w->wk_requests;
			memcpy(buf + off, &sw, sizeof(sw));
			off += sizeof(sw);
			st.st_nworkers++;
		}
	}
	memcpy(buf, &st, sizeof(st));
	if (chan_send(lenv->le_parent, MSG_LSN_STATUS, serial, buf, off,
	    -1) == -1)
		log_warn("queue_status: answering the pool manager");
	free(buf);
}
