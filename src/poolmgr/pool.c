/*
 * The pool manager's application pools: starting each pool's workers,
 * restarting them when they die (with a back-off for workers that cannot
 * start), replacing the ones the listener gives up on, and stopping them;
 * rapid-fail protection, and what an operator asks through hsdctl (stop,
 * start and recycle a pool).
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
#include "clock.h"
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
static void	pool_kill_child(evutil_socket_t, short, void *);

void
pool_init(void)
{
	const struct conf_pool	*cp;
	uint32_t		 i;

	if ((penv->pe_pools = calloc(penv->pe_conf->cf_npools,
	    sizeof(*penv->pe_pools))) == NULL)
		fatal("pool_init: calloc");
	for (i = 0; i < penv->pe_conf->cf_npools; i++) {
		cp = &penv->pe_conf->cf_pools[i];
		penv->pe_pools[i].pp_restart = evtimer_new(penv->pe_base,
		    pool_restart_timer, &penv->pe_pools[i]);
		if (penv->pe_pools[i].pp_restart == NULL)
			fatalx("pool_init: evtimer_new failed");
		penv->pe_pools[i].pp_state = POOL_RUNNING;
		if (cp->pl_rapid_fail_max > 0 &&
		    (penv->pe_pools[i].pp_fail_ms = calloc(
		    cp->pl_rapid_fail_max, sizeof(uint64_t))) == NULL)
			fatal("pool_init: calloc");
	}
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

/* 0 if a worker was spawned; -1 if not, with a retry scheduled when one
 * can help. */
static int
pool_start_worker(uint32_t pool)
{
	const struct conf_pool	*cp = &penv->pe_conf->cf_pools[pool];
	struct pm_pool		*pp = &penv->pe_pools[pool];
	struct msg_worker	 mw;
	struct pm_child		*c;
	char			*path;
	char			 poolarg[16], idarg[16];
	char			*argv[] = { "hsd-worker", "-p", poolarg, "-w",
				    idarg, NULL, NULL };
	int			 pm[2], lw[2], fds[3];
	pid_t			 pid;
	uint32_t		 id;
	uint64_t		 delay_ms;

	/* No listener to hand the worker to: its channel closing comes
	 * before its exit status, and a worker that died with it must not be
	 * replaced in between.  The listener's exit stops the server, so
	 * there is nothing to retry. */
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

	/* The listener gets the other end of the worker's channel. */
	memset(&mw, 0, sizeof(mw));
	mw.mw_pool = pool;
	mw.mw_concurrency = cp->pl_concurrency;
	mw.mw_pid = pid;
	if (chan_send(penv->pe_listener->pc_chan, MSG_PM_WORKER_UP, id, &mw,
	    sizeof(mw), lw[0]) == -1)
		log_warn("pool_start_worker: telling the listener");
	close(lw[0]);
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

/*
 * The workers a pool should have running: its configured number, plus,
 * while it is being recycled, the old ones still waiting for their
 * replacement to be ready (they count in pp_running until retired).
 */
uint32_t
pool_wanted(uint32_t pool)
{
	struct pm_child	*c;
	uint32_t	 n = penv->pe_conf->cf_pools[pool].pl_workers;

	TAILQ_FOREACH(c, &penv->pe_children, pc_entry)
		if (c->pc_kind == PM_WORKER && c->pc_pool == pool &&
		    c->pc_recycle && !c->pc_retiring)
			n++;
	return n;
}

/* Bring a pool back to its configured number of workers, or as close as
 * starts succeed; a failed start has scheduled its own retry.  A pool
 * that is offline or stopped gets none. */
void
pool_fill(uint32_t pool)
{
	struct pm_pool	*pp = &penv->pe_pools[pool];

	while (!penv->pe_stopping && pp->pp_state == POOL_RUNNING &&
	    pp->pp_running < pool_wanted(pool))
		if (pool_start_worker(pool) == -1)
			break;
}

/* Tell the listener what becomes of the pool's requests. */
static void
pool_send_state(uint32_t pool)
{
	struct msg_pool_state	ps;

	if (penv->pe_listener == NULL || penv->pe_listener->pc_chan == NULL)
		return;
	memset(&ps, 0, sizeof(ps));
	ps.ps_state = penv->pe_pools[pool].pp_state;
	if (chan_send(penv->pe_listener->pc_chan, MSG_PM_POOL_STATE, pool, &ps,
	    sizeof(ps), -1) == -1)
		log_warn("pool_send_state: telling the listener");
}

/* Every pool's state, for a listener just started: the one place a
 * listener learns them, so a restarted one knows them too. */
void
pool_send_states(void)
{
	uint32_t	i;

	for (i = 0; i < penv->pe_conf->cf_npools; i++)
		pool_send_state(i);
}

/* "5m", "90s", "1500ms": a duration as an operator would write it. */
void
pool_duration_text(uint64_t ms, char *buf, size_t len)
{
	if (ms > 0 && ms % 3600000 == 0)
		snprintf(buf, len, "%lluh", (unsigned long long)(ms / 3600000));
	else if (ms > 0 && ms % 60000 == 0)
		snprintf(buf, len, "%llum", (unsigned long long)(ms / 60000));
	else if (ms % 1000 == 0)
		snprintf(buf, len, "%llus", (unsigned long long)(ms / 1000));
	else
		snprintf(buf, len, "%llums", (unsigned long long)ms);
}

/* Retire every worker of the pool that is not retiring already. */
static void
pool_retire_all(uint32_t pool, const char *why)
{
	struct pm_child	*c;

	TAILQ_FOREACH(c, &penv->pe_children, pc_entry)
		if (c->pc_kind == PM_WORKER && c->pc_pool == pool &&
		    !c->pc_retiring)
			pool_retire(c, why);
}

/* Failures within the pool's rapid_fail_interval up to now. */
uint32_t
pool_recent_failures(uint32_t pool)
{
	const struct conf_pool	*cp = &penv->pe_conf->cf_pools[pool];
	const struct pm_pool	*pp = &penv->pe_pools[pool];
	uint64_t		 now = clock_ms();
	uint32_t		 i, n = 0;

	for (i = 0; i < pp->pp_fail_count; i++)
		if (now - pp->pp_fail_ms[i] <= cp->pl_rapid_fail_interval_ms)
			n++;
	return n;
}

/*
 * Rapid-fail protection (IIS 6's): a worker of the pool failed -- it died,
 * failed to start, or the listener found it hung or broken.  When
 * rapid_fail_max failures fall within rapid_fail_interval the pool goes
 * offline: the listener answers its requests 503 at once, nothing is
 * restarted, and the workers it still has are retired, until an operator
 * starts it again.  Returns 1 if it went offline.
 */
static int
pool_failure(uint32_t pool)
{
	const struct conf_pool	*cp = &penv->pe_conf->cf_pools[pool];
	struct pm_pool		*pp = &penv->pe_pools[pool];
	uint64_t		 now = clock_ms();
	uint32_t		 max = cp->pl_rapid_fail_max;
	char			 interval[32];

	if (max == 0 || pp->pp_state != POOL_RUNNING || penv->pe_stopping)
		return 0;
	pp->pp_fail_ms[pp->pp_fail_next] = now;
	pp->pp_fail_next = (pp->pp_fail_next + 1) % max;
	if (pp->pp_fail_count < max)
		pp->pp_fail_count++;
	/* Full ring: pp_fail_next is the oldest of the last max. */
	if (pp->pp_fail_count < max ||
	    now - pp->pp_fail_ms[pp->pp_fail_next] >
	    cp->pl_rapid_fail_interval_ms)
		return 0;
	pool_duration_text(cp->pl_rapid_fail_interval_ms, interval,
	    sizeof(interval));
	log_warnx("pool %s: %u failures within %s; taking it offline "
	    "(rapid-fail protection); hsdctl start %s brings it back",
	    cp->pl_name, max, interval, cp->pl_name);
	pp->pp_state = POOL_OFFLINE;
	evtimer_del(pp->pp_restart);
	pool_send_state(pool);
	pool_retire_all(pool, "its pool was taken offline");
	return 1;
}

/* The pool index named name, -1 if none. */
int
pool_find(const char *name)
{
	uint32_t	i;

	for (i = 0; i < penv->pe_conf->cf_npools; i++)
		if (strcmp(penv->pe_conf->cf_pools[i].pl_name, name) == 0)
			return i;
	return -1;
}

/* hsdctl stop POOL: its requests get 503 (Disabled), its workers finish
 * what they hold and exit, and none is started until hsdctl start. */
int
pool_stop(uint32_t pool, char *err, size_t errlen)
{
	const struct conf_pool	*cp = &penv->pe_conf->cf_pools[pool];
	struct pm_pool		*pp = &penv->pe_pools[pool];

	if (pp->pp_state == POOL_STOPPED) {
		snprintf(err, errlen, "pool %s is stopped already",
		    cp->pl_name);
		return -1;
	}
	log_info("pool %s: stopped by an operator (hsdctl)", cp->pl_name);
	pp->pp_state = POOL_STOPPED;
	evtimer_del(pp->pp_restart);
	/* The listener first, so nothing more is handed to the workers. */
	pool_send_state(pool);
	pool_retire_all(pool, "its pool was stopped");
	return 0;
}

/* hsdctl start POOL: running again with a clean slate, whether it was
 * stopped or taken offline by rapid-fail protection. */
int
pool_start(uint32_t pool, char *err, size_t errlen)
{
	const struct conf_pool	*cp = &penv->pe_conf->cf_pools[pool];
	struct pm_pool		*pp = &penv->pe_pools[pool];

	if (pp->pp_state == POOL_RUNNING) {
		snprintf(err, errlen, "pool %s is running already",
		    cp->pl_name);
		return -1;
	}
	log_info("pool %s: started by an operator (hsdctl), was %s",
	    cp->pl_name, pp->pp_state == POOL_OFFLINE ?
	    "offline (rapid-fail protection)" : "stopped");
	pp->pp_state = POOL_RUNNING;
	pp->pp_fail_count = 0;
	pp->pp_fail_next = 0;
	pp->pp_start_fails = 0;
	pool_send_state(pool);
	pool_fill(pool);
	return 0;
}

/*
 * hsdctl recycle POOL, overlapped as IIS does it: the pool's workers are
 * marked old and as many new ones are started; each new one that says it
 * is ready retires one old one, so the pool never runs short.
 */
int
pool_recycle(uint32_t pool, char *err, size_t errlen)
{
	const struct conf_pool	*cp = &penv->pe_conf->cf_pools[pool];
	struct pm_pool		*pp = &penv->pe_pools[pool];
	struct pm_child		*c;
	uint32_t		 n = 0;

	if (pp->pp_state != POOL_RUNNING) {
		snprintf(err, errlen, "pool %s is not running (%s); hsdctl "
		    "start starts it", cp->pl_name,
		    pp->pp_state == POOL_OFFLINE ? "offline" : "stopped");
		return -1;
	}
	TAILQ_FOREACH(c, &penv->pe_children, pc_entry)
		if (c->pc_kind == PM_WORKER && c->pc_pool == pool &&
		    c->pc_recycle && !c->pc_retiring) {
			snprintf(err, errlen, "pool %s is being recycled "
			    "already", cp->pl_name);
			return -1;
		}
	TAILQ_FOREACH(c, &penv->pe_children, pc_entry)
		if (c->pc_kind == PM_WORKER && c->pc_pool == pool &&
		    !c->pc_retiring) {
			c->pc_recycle = 1;
			n++;
		}
	log_info("pool %s: recycling %u workers (hsdctl)", cp->pl_name, n);
	pool_fill(pool);
	return 0;
}

/* A new worker of the pool is ready: one old one it replaces may go. */
static void
pool_recycle_step(uint32_t pool)
{
	struct pm_child	*c;

	TAILQ_FOREACH(c, &penv->pe_children, pc_entry)
		if (c->pc_kind == PM_WORKER && c->pc_pool == pool &&
		    c->pc_recycle && !c->pc_retiring)
			break;
	if (c == NULL)
		return;
	pool_retire(c, "recycled; its replacement is ready");
	if (pool_wanted(pool) == penv->pe_conf->cf_pools[pool].pl_workers)
		log_info("pool %s: recycled",
		    penv->pe_conf->cf_pools[pool].pl_name);
	pool_fill(pool);
}

/*
 * Stop a worker gracefully: it takes no more requests, finishes what it
 * holds and exits, or is killed after shutdown_timeout.  It no longer
 * counts as one of its pool's workers; the caller refills the pool if it
 * wants a replacement.
 *
 * XXX A minimal version: the listener learns nothing and keeps handing
 * the worker requests until it is gone (those it had not started are
 * replayed when they can be).  The graceful retire of the health and
 * recycling work replaces this body.
 */
void
pool_retire(struct pm_child *c, const char *why)
{
	const struct conf_pool	*cp = &penv->pe_conf->cf_pools[c->pc_pool];
	struct timeval		 tv;

	if (c->pc_retiring)
		return;
	log_info("worker %u (pid %d) of pool %s: retiring: %s", c->pc_id,
	    (int)c->pc_pid, cp->pl_name, why);
	c->pc_retiring = 1;
	penv->pe_pools[c->pc_pool].pp_running--;
	c->pc_stop_sent = 1;
	if (c->pc_chan == NULL ||
	    chan_send(c->pc_chan, MSG_WRK_SHUTDOWN, 0, NULL, 0, -1) == -1)
		kill(c->pc_pid, SIGTERM);
	if (c->pc_kill != NULL)
		return;
	if ((c->pc_kill = evtimer_new(penv->pe_base, pool_kill_child,
	    c)) != NULL) {
		conf_timeval(penv->pe_conf->cf_shutdown_timeout_ms, &tv);
		evtimer_add(c->pc_kill, &tv);
	} else
		kill(c->pc_pid, SIGKILL);
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
	/* Gone: nothing is left to retire, and an old worker of a recycle
	 * has no replacement to wait for. */
	c->pc_retiring = 1;
	c->pc_recycle = 0;
	if (penv->pe_stopping)
		return;
	if (!c->pc_fail_counted && pool_failure(c->pc_pool)) {
		log_warnx("worker %u (pid %d) of pool %s %s%s", c->pc_id,
		    (int)c->pc_pid, cp->pl_name, how,
		    c->pc_ready ? "" : " before it was ready");
		return;
	}
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
		/* Its death is this failure, not another one. */
		if (!c->pc_retiring && !c->pc_fail_counted) {
			c->pc_fail_counted = 1;
			pool_failure(c->pc_pool);
		}
		return;
	}
	if (c->pc_retiring)
		return;
	log_warnx("worker %u (pid %d) of pool %s is broken (the listener "
	    "cannot use it); replacing it", c->pc_id, (int)c->pc_pid,
	    cp->pl_name);
	c->pc_fail_counted = 1;
	if (pool_failure(c->pc_pool))
		return;		/* retired with the rest of its pool */
	pool_retire(c, "broken");
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
		if (c->pc_ready)
			break;
		c->pc_ready = 1;
		if (!c->pc_recycle && !c->pc_retiring)
			pool_recycle_step(c->pc_pool);
		break;
	default:
		log_warnx("pool_dispatch_worker: worker %u: unexpected "
		    "message type %u", c->pc_id, hdr->mh_type);
		break;
	}
}
