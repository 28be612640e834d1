/*
 * The pool manager's application pools: starting each pool's workers,
 * restarting them when they die (with a back-off for workers that cannot
 * start), replacing the ones the listener gives up on, and stopping them.
 */
#include "config.h"

#include <sys/queue.h>
#include <sys/types.h>
#include <sys/wait.h>

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>

#include "chan.h"
#include "conf.h"
#include "log.h"
#include "msg.h"
#include "poolmgr.h"
#include "proc.h"

/* A worker that dies before it says it is ready failed to start; after
 * POOL_START_FAILS such failures in a row the pool's restarts back off,
 * so a worker that cannot start is not forked in a tight loop.  A worker
 * that dies after it was ready is replaced at once.  A worker that could
 * not even be spawned (no fds, no memory for fork) always waits for the
 * timer: retrying at once cannot succeed and would never return to the
 * event loop. */
#define POOL_START_FAILS	3
#define POOL_BACKOFF_MIN_MS	1000
#define POOL_BACKOFF_MAX_MS	30000

static void	pool_restart_timer(evutil_socket_t, short, void *);

void
pool_init(void)
{
	uint32_t	i;

	if ((penv->pe_pools = calloc(penv->pe_conf->cf_npools,
	    sizeof(*penv->pe_pools))) == NULL)
		fatal("pool_init: calloc");
	for (i = 0; i < penv->pe_conf->cf_npools; i++) {
		penv->pe_pools[i].pp_restart = evtimer_new(penv->pe_base,
		    pool_restart_timer, &penv->pe_pools[i]);
		if (penv->pe_pools[i].pp_restart == NULL)
			fatalx("pool_init: evtimer_new failed");
		/* start = "demand": none until the listener asks. */
		if (penv->pe_conf->cf_pools[i].pl_start_always)
			penv->pe_pools[i].pp_wanted =
			    penv->pe_conf->cf_pools[i].pl_workers;
	}
}

/*
 * A request waits for a pool without workers (MSG_LSN_DEMAND): start
 * them.  Said again while they start, it changes nothing.
 */
void
pool_demand(const struct msg_hdr *hdr)
{
	const struct conf_pool	*cp;
	struct pm_pool		*pp;

	if (hdr->mh_id >= penv->pe_conf->cf_npools) {
		log_warnx("pool_demand: no pool %u", hdr->mh_id);
		return;
	}
	cp = &penv->pe_conf->cf_pools[hdr->mh_id];
	pp = &penv->pe_pools[hdr->mh_id];
	if (pp->pp_wanted < cp->pl_workers) {
		log_info("pool %s: a request is waiting; starting %u worker%s",
		    cp->pl_name, cp->pl_workers - pp->pp_running,
		    cp->pl_workers - pp->pp_running == 1 ? "" : "s");
		pp->pp_wanted = cp->pl_workers;
	}
	pool_fill(hdr->mh_id);
}

/* How long a pool waits before its next start, after pp_start_fails
 * failed starts in a row: 0 for the first few, then 1 s doubling to 30 s. */
static uint64_t
pool_backoff_ms(const struct pm_pool *pp)
{
	uint32_t	n;

	if (pp->pp_start_fails < POOL_START_FAILS)
		return 0;
	n = pp->pp_start_fails - POOL_START_FAILS;
	/* 1000 << 5 is past the cap already; larger shifts would overflow. */
	if (n >= 5)
		return POOL_BACKOFF_MAX_MS;
	return POOL_BACKOFF_MIN_MS << n;
}

static void
pool_restart_later(uint32_t pool, uint64_t ms)
{
	struct timeval	tv;

	conf_timeval(ms, &tv);
	if (evtimer_add(penv->pe_pools[pool].pp_restart, &tv) == -1)
		log_warnx("pool_restart_later: evtimer_add failed; pool "
		    "%s stays short of workers",
		    penv->pe_conf->cf_pools[pool].pl_name);
}

/* The listener gets its end of worker c's channel, fd (closed here). */
static void
pool_introduce(struct pm_child *c, int fd)
{
	const struct conf_pool	*cp = &penv->pe_conf->cf_pools[c->pc_pool];
	struct msg_worker	 mw;

	memset(&mw, 0, sizeof(mw));
	mw.mw_pool = c->pc_pool;
	mw.mw_concurrency = cp->pl_concurrency;
	mw.mw_pid = c->pc_pid;
	if (chan_send(penv->pe_listener->pc_chan, MSG_PM_WORKER_UP, c->pc_id,
	    &mw, sizeof(mw), fd) == -1)
		log_warn("pool_introduce: telling the listener about worker %u",
		    c->pc_id);
	close(fd);
}

/*
 * A listener has started (at start-up, or after the last one died): each
 * worker still taking requests gets a new channel to it, whose other end
 * goes to the listener as at the worker's start, and the pools are
 * topped up.  Workers on their way out get none; without a listener they
 * have nothing left to finish and exit.
 */
void
pool_listener_up(void)
{
	struct pm_child	*c;
	uint32_t	 i;
	int		 lw[2];

	TAILQ_FOREACH(c, &penv->pe_children, pc_entry) {
		if (c->pc_kind != PM_WORKER || c->pc_retiring ||
		    c->pc_stop_sent || c->pc_chan == NULL)
			continue;
		if (proc_channel(lw) == -1) {
			/* Without a channel it is of no use: replace it. */
			kill(c->pc_pid, SIGKILL);
			continue;
		}
		if (chan_send(c->pc_chan, MSG_WRK_LISTENER, 0, NULL, 0,
		    lw[1]) == -1) {
			log_warn("pool_listener_up: worker %u", c->pc_id);
			close(lw[0]);
			close(lw[1]);
			kill(c->pc_pid, SIGKILL);
			continue;
		}
		close(lw[1]);
		pool_introduce(c, lw[0]);
	}
	for (i = 0; i < penv->pe_conf->cf_npools; i++)
		pool_fill(i);
}

/* 0 if a worker was spawned; -1 if not, with a retry scheduled when one
 * can help. */
static int
pool_start_worker(uint32_t pool)
{
	const struct conf_pool	*cp = &penv->pe_conf->cf_pools[pool];
	struct pm_pool		*pp = &penv->pe_pools[pool];
	struct pm_child		*c;
	char			*path;
	char			 poolarg[16], idarg[16];
	char			*argv[] = { "hsd-worker", "-p", poolarg, "-w",
				    idarg, NULL, NULL };
	int			 pm[2], lw[2], fds[3];
	pid_t			 pid;
	uint32_t		 id;
	uint64_t		 delay_ms;

	/* No listener to hand the worker to: pool_listener_up() fills the
	 * pools once a new one is there. */
	if (penv->pe_listener == NULL || penv->pe_listener->pc_chan == NULL)
		return -1;
	path = poolmgr_binary("hsd-worker");
	/* Taken only by a worker that runs: ids in the log stay dense. */
	id = penv->pe_next_worker + 1;
	snprintf(poolarg, sizeof(poolarg), "%u", pool);
	snprintf(idarg, sizeof(idarg), "%u", id);
	if (log_getverbose())
		argv[5] = "-v";
	if (proc_channel(pm) == -1)
		goto fail;
	if (proc_channel(lw) == -1) {
		close(pm[0]);
		close(pm[1]);
		goto fail;
	}
	fds[0] = pm[1];
	fds[1] = penv->pe_conf_fd;
	fds[2] = lw[1];
	pid = proc_spawn(path, argv, fds, 3);
	close(pm[1]);
	close(lw[1]);
	if (pid == -1) {
		close(pm[0]);
		close(lw[0]);
		goto fail;
	}
	c = poolmgr_child_new(PM_WORKER, pool, pid, pm[0]);
	c->pc_id = penv->pe_next_worker = id;
	pp->pp_running++;
	pool_introduce(c, lw[0]);
	log_debug("pool_start_worker: worker %u (pid %d) of pool %s",
	    id, (int)pid, cp->pl_name);
	free(path);
	return 0;
fail:
	/* A spawn that fails is a failed start like a worker that dies
	 * before it is ready: it counts towards the back-off. */
	pp->pp_start_fails++;
	delay_ms = pool_backoff_ms(pp);
	if (delay_ms < POOL_BACKOFF_MIN_MS)
		delay_ms = POOL_BACKOFF_MIN_MS;
	log_warnx("pool_start_worker: cannot start a worker for pool %s; "
	    "retrying in %llu ms", cp->pl_name, (unsigned long long)delay_ms);
	pool_restart_later(pool, delay_ms);
	free(path);
	return -1;
}

/* Bring a pool back to its configured number of workers, or as close as
 * starts succeed; a failed start has scheduled its own retry. */
void
pool_fill(uint32_t pool)
{
	struct pm_pool	*pp = &penv->pe_pools[pool];

	while (!penv->pe_stopping && pp->pp_running < pp->pp_wanted)
		if (pool_start_worker(pool) == -1)
			break;
}

static void
pool_restart_timer(evutil_socket_t fd, short ev, void *arg)
{
	struct pm_pool	*pp = arg;

	(void)fd;
	(void)ev;
	pool_fill(pp - penv->pe_pools);
}

void
pool_worker_exited(struct pm_child *c, int status)
{
	const struct conf_pool	*cp = &penv->pe_conf->cf_pools[c->pc_pool];
	struct pm_pool		*pp = &penv->pe_pools[c->pc_pool];
	uint64_t		 delay_ms;
	char			 how[128];

	poolmgr_describe_exit(status, how, sizeof(how));
	if (c->pc_retiring) {
		/* Replaced when it was retired: nothing more to do. */
		log_info("worker %u (pid %d) of pool %s, retired, %s", c->pc_id,
		    (int)c->pc_pid, cp->pl_name, how);
		return;
	}
	pp->pp_running--;
	if (penv->pe_stopping)
		return;
	if (!c->pc_ready)
		pp->pp_start_fails++;
	else
		pp->pp_start_fails = 0;
	delay_ms = pool_backoff_ms(pp);
	log_warnx("worker %u (pid %d) of pool %s %s%s; %s", c->pc_id,
	    (int)c->pc_pid, cp->pl_name, how,
	    c->pc_ready ? "" : " before it was ready",
	    delay_ms ? "restarting after a pause" : "restarting");
	if (delay_ms == 0) {
		pool_fill(c->pc_pool);
		return;
	}
	pool_restart_later(c->pc_pool, delay_ms);
}

void
pool_stop_workers(void)
{
	struct pm_child	*c;

	TAILQ_FOREACH(c, &penv->pe_children, pc_entry) {
		if (c->pc_kind != PM_WORKER || c->pc_stop_sent)
			continue;
		c->pc_stop_sent = 1;
		if (c->pc_chan == NULL ||
		    chan_send(c->pc_chan, MSG_WRK_SHUTDOWN, 0, NULL, 0, -1) == -1)
			kill(c->pc_pid, SIGTERM);
	}
}

static void
pool_kill_child(evutil_socket_t fd, short ev, void *arg)
{
	struct pm_child	*c = arg;

	(void)fd;
	(void)ev;
	log_warnx("worker %u (pid %d) did not stop within shutdown_timeout; "
	    "killing it", c->pc_id, (int)c->pc_pid);
	kill(c->pc_pid, SIGKILL);
}

/*
 * The listener gave up on a worker.  A hung one is killed at once: what
 * it held fails over when it is gone.  A broken one (it refused a request,
 * or its channel failed) is replaced at once and told to finish what it
 * has, within shutdown_timeout.  Either way the pool is back to strength.
 */
void
pool_worker_failed(const struct msg_hdr *hdr, const void *data)
{
	const struct conf_pool	*cp;
	struct msg_wfailed	 wf;
	struct pm_child		*c;
	struct timeval		 tv;

	if (hdr->mh_len != sizeof(wf)) {
		log_warnx("pool_worker_failed: %u byte message",
		    hdr->mh_len);
		return;
	}
	memcpy(&wf, data, sizeof(wf));
	TAILQ_FOREACH(c, &penv->pe_children, pc_entry)
		if (c->pc_kind == PM_WORKER && c->pc_id == hdr->mh_id)
			break;
	if (c == NULL || penv->pe_stopping)
		return;		/* gone already */
	cp = &penv->pe_conf->cf_pools[c->pc_pool];
	if (wf.wf_reason == WFAIL_HUNG) {
		log_warnx("worker %u (pid %d) of pool %s is hung (a request "
		    "made no progress); killing it", c->pc_id, (int)c->pc_pid,
		    cp->pl_name);
		kill(c->pc_pid, SIGKILL);
		return;
	}
	if (c->pc_retiring)
		return;
	log_warnx("worker %u (pid %d) of pool %s is broken (the listener "
	    "cannot use it); replacing it", c->pc_id, (int)c->pc_pid,
	    cp->pl_name);
	c->pc_retiring = 1;
	penv->pe_pools[c->pc_pool].pp_running--;
	c->pc_stop_sent = 1;
	if (c->pc_chan == NULL ||
	    chan_send(c->pc_chan, MSG_WRK_SHUTDOWN, 0, NULL, 0, -1) == -1)
		kill(c->pc_pid, SIGTERM);
	if ((c->pc_kill = evtimer_new(penv->pe_base, pool_kill_child,
	    c)) != NULL) {
		conf_timeval(penv->pe_conf->cf_shutdown_timeout_ms, &tv);
		evtimer_add(c->pc_kill, &tv);
	} else
		kill(c->pc_pid, SIGKILL);
	pool_fill(c->pc_pool);
}

void
pool_dispatch_worker(struct chan *ch, const struct msg_hdr *hdr,
    const void *data, int fd, void *arg)
{
	struct pm_child	*c = arg;

	(void)ch;
	(void)data;
	if (fd != -1)
		close(fd);
	switch (hdr->mh_type) {
	case MSG_WRK_READY:
		c->pc_ready = 1;
		break;
	default:
		log_warnx("pool_dispatch_worker: worker %u: unexpected "
		    "message type %u", c->pc_id, hdr->mh_type);
		break;
	}
}
