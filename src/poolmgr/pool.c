/*
 * The pool manager's application pools: starting each pool's workers,
 * restarting them when they die (with a back-off for workers that cannot
 * start), replacing the ones the listener gives up on, and stopping them;
 * rapid-fail protection, and what an operator asks through hsdctl (stop,
 * start and recycle a pool).
 *
 * Health, as IIS's WAS does it: a worker must be ready within
 * startup_timeout, answer a ping every ping_interval within ping_timeout
 * (the answer comes from its event loop, so a worker stopped or stuck in
 * a loop does not answer), and exit within shutdown_timeout when told to
 * stop; otherwise it is killed, and the usual death path replaces it.
 *
 * Recycling is overlapped: when a worker reaches recycle_requests,
 * recycle_time, a recycle_at time or recycle_memory, its replacement is
 * started first, beside it, and only once that one is ready is the old
 * one retired (pool_retire(): the listener stops handing it requests and
 * tells it so, and it finishes what it has).  If the replacement cannot
 * start, the old worker serves on and the recycle is tried again at its
 * next ping tick.
 */
#include "config.h"

#include <sys/queue.h>
#include <sys/types.h>
#include <sys/wait.h>

#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
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
static void	pool_recycle_at_timer(evutil_socket_t, short, void *);
static void	pool_recycle_at_arm(uint32_t);
static void	pool_health_start(struct pm_child *);
static int	pool_start_worker(uint32_t, struct pm_child *);
static void	pool_idle_check(struct pm_child *);
static void	pool_kill_child(evutil_socket_t, short, void *);
static void	pool_retire_all(uint32_t, const char *);

void
pool_init(void)
{
	uint32_t	i;

	if ((penv->pe_pools = calloc(penv->pe_conf->cf_npools,
	    sizeof(*penv->pe_pools))) == NULL)
		fatal("pool_init: calloc");
	for (i = 0; i < penv->pe_conf->cf_npools; i++)
		pool_init_one(i);
}

/* The bookkeeping of pool i of the current configuration, new. */
void
pool_init_one(uint32_t i)
{
	const struct conf_pool	*cp = &penv->pe_conf->cf_pools[i];
	struct pm_pool		*pp = &penv->pe_pools[i];

	memset(pp, 0, sizeof(*pp));
	if ((pp->pp_restart = evtimer_new(penv->pe_base, pool_restart_timer,
	    pp)) == NULL)
		fatalx("pool_init_one: evtimer_new failed");
	/* start = "demand": none until the listener asks.  With isolation =
	 * "shared" no request is routed to another pool than "default", so
	 * none starts for them. */
	if (cp->pl_start_always && (!penv->pe_conf->cf_shared ||
	    strcmp(cp->pl_name, "default") == 0))
		pp->pp_wanted = cp->pl_workers;
	pp->pp_state = POOL_RUNNING;
	if (cp->pl_rapid_fail_max > 0 && (pp->pp_fails_at = calloc(
	    cp->pl_rapid_fail_max, sizeof(uint64_t))) == NULL)
		fatal("pool_init_one: calloc");
	if (cp->pl_nrecycle_at == 0)
		return;
	if ((pp->pp_recycle_at = evtimer_new(penv->pe_base,
	    pool_recycle_at_timer, pp)) == NULL)
		fatalx("pool_init_one: evtimer_new failed");
	pool_recycle_at_arm(i);
}

void
pool_free_one(struct pm_pool *pp)
{
	if (pp->pp_restart != NULL)
		event_free(pp->pp_restart);
	if (pp->pp_recycle_at != NULL)
		event_free(pp->pp_recycle_at);
	free(pp->pp_fails_at);
}

/* A reload removes pool j (of the configuration still current): no
 * more workers for it, and the ones it has finish what they hold. */
void
pool_remove(uint32_t j)
{
	struct pm_pool	*pp = &penv->pe_pools[j];

	pp->pp_state = POOL_STOPPED;	/* pool_fill() starts none */
	evtimer_del(pp->pp_restart);
	pool_retire_all(j, "its pool was removed by a reload");
}

/*
 * A reload made penv->pe_conf new: old pool j is new pool newidx[j] (-1:
 * removed), and the pools' bookkeeping and the workers' indices follow.
 * A kept pool keeps its state, its workers' counts and back-off; its
 * rapid-fail record too unless rapid_fail_max changed.  Its timers are
 * made again for their new place, recycle_at by the new times.
 */
void
pool_reindex(const struct hsd_config *old, const int *newidx)
{
	const struct hsd_config	*cf = penv->pe_conf;
	struct pm_pool		*pools, *op, *np;
	struct pm_child		*c;
	struct timeval		 tv;
	uint32_t		 j, k;
	int			 restart;

	if ((pools = calloc(cf->cf_npools ? cf->cf_npools : 1,
	    sizeof(*pools))) == NULL)
		fatal("pool_reindex: calloc");
	for (j = 0; j < old->cf_npools; j++) {
		op = &penv->pe_pools[j];
		if (newidx[j] < 0) {
			pool_free_one(op);
			continue;
		}
		np = &pools[newidx[j]];
		restart = evtimer_pending(op->pp_restart, NULL);
		if (old->cf_pools[j].pl_rapid_fail_max !=
		    cf->cf_pools[newidx[j]].pl_rapid_fail_max) {
			free(op->pp_fails_at);
			op->pp_fails_at = NULL;
			op->pp_fail_count = op->pp_fail_next = 0;
			if (cf->cf_pools[newidx[j]].pl_rapid_fail_max > 0 &&
			    (op->pp_fails_at = calloc(cf->cf_pools[newidx[j]].
			    pl_rapid_fail_max, sizeof(uint64_t))) == NULL)
				fatal("pool_reindex: calloc");
		}
		*np = *op;
		op->pp_fails_at = NULL;
		pool_free_one(op);
		np->pp_recycle_at = NULL;
		if ((np->pp_restart = evtimer_new(penv->pe_base,
		    pool_restart_timer, np)) == NULL)
			fatalx("pool_reindex: evtimer_new failed");
		if (restart) {
			conf_timeval(POOL_BACKOFF_MIN_MS, &tv);
			evtimer_add(np->pp_restart, &tv);
		}
	}
	free(penv->pe_pools);
	penv->pe_pools = pools;
	for (k = 0; k < cf->cf_npools; k++) {
		for (j = 0; j < old->cf_npools && newidx[j] != (int)k; j++)
			;
		if (j == old->cf_npools) {
			pool_init_one(k);
			continue;
		}
		if (cf->cf_pools[k].pl_nrecycle_at == 0)
			continue;
		if ((pools[k].pp_recycle_at = evtimer_new(penv->pe_base,
		    pool_recycle_at_timer, &pools[k])) == NULL)
			fatalx("pool_reindex: evtimer_new failed");
		pool_recycle_at_arm(k);
	}
	TAILQ_FOREACH(c, &penv->pe_children, pc_entry)
		if (c->pc_kind == PM_WORKER && c->pc_pool != POOL_GONE)
			c->pc_pool = newidx[c->pc_pool] < 0 ? POOL_GONE :
			    (uint32_t)newidx[c->pc_pool];
}

/* c's pool's bookkeeping; NULL if a reload removed the pool. */
static struct pm_pool *
pool_of(const struct pm_child *c)
{
	return c->pc_pool == POOL_GONE ? NULL : &penv->pe_pools[c->pc_pool];
}

/*
 * A request waits for a pool without workers (MSG_LSN_DEMAND): start
 * them.  Said again while they start, it changes nothing.
 */
void
pool_demand(const struct msg_hdr *hdr, const void *data)
{
	const struct conf_pool	*cp;
	struct pm_pool		*pp;
	struct msg_demand	 dm;

	if (hdr->mh_len != sizeof(dm)) {
		log_warnx("pool_demand: %u byte message", hdr->mh_len);
		return;
	}
	memcpy(&dm, data, sizeof(dm));
	/* About pool indices of a configuration since replaced: the
	 * listener asks again, by the new ones, once it takes the reload. */
	if (dm.dm_gen != penv->pe_cur->pf_gen)
		return;
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
	const struct conf_pool	*cp = c->pc_cp;
	struct msg_worker	 mw;

	memset(&mw, 0, sizeof(mw));
	mw.mw_pool = c->pc_pool;
	mw.mw_concurrency = cp->pl_concurrency;
	mw.mw_pid = c->pc_pid;
	mw.mw_gen = c->pc_cfg->pf_gen;
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

	/* Before any worker: what becomes of each pool's requests. */
	pool_send_states();
	TAILQ_FOREACH(c, &penv->pe_children, pc_entry) {
		if (c->pc_kind != PM_WORKER || c->pc_retiring ||
		    c->pc_stop_sent || c->pc_chan == NULL)
			continue;
		/* A listener knows only the current configuration: a worker
		 * started with an older one is replaced (pool_fill() below). */
		if (c->pc_cfg != penv->pe_cur) {
			pool_stop_direct(c);
			continue;
		}
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
 * can help.  With replaces, the worker is that one's overlapped
 * replacement: not counted in the pool until it takes over. */
static int
pool_start_worker(uint32_t pool, struct pm_child *replaces)
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
	c->pc_cfg = penv->pe_cur;
	c->pc_cfg->pf_refs++;
	c->pc_cp = cp;
	if (replaces != NULL) {
		c->pc_replaces = replaces;
		replaces->pc_replacement = c;
	} else
		pp->pp_running++;
	pool_health_start(c);
	pool_introduce(c, lw[0]);
	log_debug("pool_start_worker: worker %u (pid %d) of pool %s",
	    id, (int)pid, cp->pl_name);
	free(path);
	return 0;
fail:
	/* A spawn that fails is a failed start like a worker that dies
	 * before it is ready: it counts towards the back-off. */
	pp->pp_start_fails++;
	pp->pp_fail_ms = clock_ms();
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
 * starts succeed; a failed start has scheduled its own retry.  A pool
 * that is offline or stopped gets none. */
void
pool_fill(uint32_t pool)
{
	struct pm_pool	*pp = &penv->pe_pools[pool];

	while (!penv->pe_stopping && pp->pp_state == POOL_RUNNING &&
	    pp->pp_running < pp->pp_wanted)
		if (pool_start_worker(pool, NULL) == -1)
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
		if (now - pp->pp_fails_at[i] <= cp->pl_rapid_fail_interval_ms)
			n++;
	return n;
}

/*
 * Rapid-fail protection (IIS 6's): a worker of the pool failed -- it died,
 * failed to start, or the listener found it hung or broken -- or one of
 * the FastCGI processes it runs crashed.  When rapid_fail_max failures
 * fall within rapid_fail_interval the pool goes offline: the listener
 * answers its requests 503 at once, nothing is restarted, and the
 * workers and FastCGI processes it still has are stopped, until an
 * operator starts it again.  Returns 1 if it went offline.
 */
int
pool_failure(uint32_t pool)
{
	const struct conf_pool	*cp = &penv->pe_conf->cf_pools[pool];
	struct pm_pool		*pp = &penv->pe_pools[pool];
	uint64_t		 now = clock_ms();
	uint32_t		 max = cp->pl_rapid_fail_max;
	char			 interval[32];

	if (max == 0 || pp->pp_state != POOL_RUNNING || penv->pe_stopping)
		return 0;
	pp->pp_fails_at[pp->pp_fail_next] = now;
	pp->pp_fail_next = (pp->pp_fail_next + 1) % max;
	if (pp->pp_fail_count < max)
		pp->pp_fail_count++;
	/* Full ring: pp_fail_next is the oldest of the last max. */
	if (pp->pp_fail_count < max ||
	    now - pp->pp_fails_at[pp->pp_fail_next] >
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
	fastcgi_pool_state(pool);
	return 1;
}

/* The pool index named name, -1 if none. */
int
pool_find(const char *name)
{
	return conf_pool_index(penv->pe_conf, name);
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
	fastcgi_pool_state(pool);
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
	fastcgi_pool_state(pool);
	return 0;
}

/*
 * hsdctl recycle POOL: every worker of the pool is recycled as recycling
 * does it, overlapped (pool_recycle()): its replacement starts beside it,
 * and it is retired once that one is ready, so the pool never runs short.
 * Its FastCGI processes are replaced too (fastcgi_pool_recycle()).
 */
int
pool_recycle_pool(uint32_t pool, char *err, size_t errlen)
{
	const struct conf_pool	*cp = &penv->pe_conf->cf_pools[pool];
	struct pm_pool		*pp = &penv->pe_pools[pool];
	struct pm_child		*c, *next;
	uint32_t		 n = 0;

	if (pp->pp_state != POOL_RUNNING) {
		snprintf(err, errlen, "pool %s is not running (%s); hsdctl "
		    "start starts it", cp->pl_name,
		    pp->pp_state == POOL_OFFLINE ? "offline" : "stopped");
		return -1;
	}
	TAILQ_FOREACH(c, &penv->pe_children, pc_entry)
		if (c->pc_kind == PM_WORKER && c->pc_pool == pool &&
		    !c->pc_retiring && c->pc_recycle_why[0] != '\0') {
			snprintf(err, errlen, "pool %s is being recycled "
			    "already", cp->pl_name);
			return -1;
		}
	log_info("pool %s: recycling its workers (hsdctl)", cp->pl_name);
	/* Replacements join the list as they start: skip them. */
	for (c = TAILQ_FIRST(&penv->pe_children); c != NULL; c = next) {
		next = TAILQ_NEXT(c, pc_entry);
		if (c->pc_kind != PM_WORKER || c->pc_pool != pool ||
		    c->pc_retiring || c->pc_replaces != NULL)
			continue;
		n++;
		pool_recycle(c, "hsdctl recycle");
	}
	n += fastcgi_pool_recycle(pool);
	if (n == 0) {
		snprintf(err, errlen, "pool %s has no worker to recycle",
		    cp->pl_name);
		return -1;
	}
	return 0;
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
	const struct conf_pool	*cp = c->pc_cp;
	struct pm_pool		*pp = pool_of(c);
	struct pm_child		*other;
	uint64_t		 delay_ms;
	char			 how[128];

	poolmgr_describe_exit(status, how, sizeof(how));
	if (pp == NULL) {
		/* Its pool is gone (a reload): it was retired then. */
		log_info("worker %u (pid %d) of removed pool %s, retired, %s",
		    c->pc_id, (int)c->pc_pid, cp->pl_name, how);
		return;
	}
	if ((other = c->pc_replaces) != NULL) {
		/* A replacement that never became ready: the worker it was
		 * to replace serves on, and its recycle is tried again. */
		other->pc_replacement = NULL;
		c->pc_replaces = NULL;
		if (penv->pe_stopping)
			return;
		pp->pp_start_fails++;
		pp->pp_fail_ms = clock_ms();
		log_warnx("worker %u (pid %d) of pool %s, started to replace "
		    "worker %u, %s before it was ready; worker %u serves on",
		    c->pc_id, (int)c->pc_pid, cp->pl_name, other->pc_id, how,
		    other->pc_id);
		return;
	}
	if ((other = c->pc_replacement) != NULL) {
		/* Its replacement, still starting, takes its place. */
		other->pc_replaces = NULL;
		c->pc_replacement = NULL;
		pp->pp_running++;
	}
	if (c->pc_retiring) {
		/* Replaced when it was retired: nothing more to do. */
		log_info("worker %u (pid %d) of pool %s, retired, %s", c->pc_id,
		    (int)c->pc_pid, cp->pl_name, how);
		return;
	}
	pp->pp_running--;
	/* Gone: nothing is left to retire. */
	c->pc_retiring = 1;
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
	log_warnx("worker %u (pid %d) of pool %s did not stop within "
	    "shutdown_timeout (%llu ms); killing it", c->pc_id, (int)c->pc_pid,
	    c->pc_cp->pl_name,
	    (unsigned long long)c->pc_cp->
	    pl_shutdown_timeout_ms);
	kill(c->pc_pid, SIGKILL);
}

/* c was told to stop: kill it if it is still there after its pool's
 * shutdown_timeout. */
static void
pool_arm_kill(struct pm_child *c)
{
	struct timeval	tv;

	if (c->pc_kill == NULL && (c->pc_kill = evtimer_new(penv->pe_base,
	    pool_kill_child, c)) == NULL) {
		kill(c->pc_pid, SIGKILL);
		return;
	}
	conf_timeval(c->pc_cp->pl_shutdown_timeout_ms,
	    &tv);
	if (evtimer_add(c->pc_kill, &tv) == -1)
		kill(c->pc_pid, SIGKILL);
}

/* c no longer counts towards its pool's workers; a replacement of it
 * that is still starting counts instead. */
static void
pool_uncount(struct pm_child *c)
{
	struct pm_pool	*pp = pool_of(c);
	struct pm_child	*r;

	c->pc_retiring = 1;
	if (pp == NULL)
		return;
	if ((r = c->pc_replaces) != NULL) {
		/* A replacement never counted: the worker it was to replace
		 * serves on, and its recycle is tried again. */
		r->pc_replacement = NULL;
		c->pc_replaces = NULL;
		return;
	}
	if ((r = c->pc_replacement) != NULL) {
		r->pc_replaces = NULL;
		c->pc_replacement = NULL;
		pp->pp_running++;
	}
	pp->pp_running--;
}

/* c stops taking part in its pool and is told to finish what it holds,
 * by the pool manager itself: the listener cannot order it (it gave up
 * on c, or does not know c). */
void
pool_stop_direct(struct pm_child *c)
{
	pool_uncount(c);
	c->pc_stop_sent = 1;
	if (c->pc_chan == NULL ||
	    chan_send(c->pc_chan, MSG_WRK_SHUTDOWN, 0, NULL, 0, -1) == -1)
		kill(c->pc_pid, SIGTERM);
	pool_arm_kill(c);
}

/*
 * Stop worker c gracefully while its pool goes on: the listener hands it
 * no more requests and tells it so on its own channel, after every
 * handoff it sent there, so no request can be on its way to it; it
 * finishes what it holds and exits, or is killed after shutdown_timeout.
 * Requests that come meanwhile go to the pool's other workers, and the
 * pool is filled up again if c was needed.  why is for the log.
 */
void
pool_retire(struct pm_child *c, const char *why)
{
	const struct conf_pool	*cp = c->pc_cp;

	if (c->pc_kind != PM_WORKER || c->pc_retiring)
		return;
	log_info("worker %u (pid %d) of pool %s retired (%s) after %llu "
	    "requests; it finishes what it has", c->pc_id, (int)c->pc_pid,
	    cp->pl_name, why, (unsigned long long)c->pc_requests);
	pool_uncount(c);
	c->pc_stop_sent = 1;
	/* Without the listener there is nobody to order the message after
	 * handoffs, and none will come: tell the worker itself. */
	if (penv->pe_listener == NULL || penv->pe_listener->pc_chan == NULL ||
	    chan_send(penv->pe_listener->pc_chan, MSG_PM_WORKER_RETIRE,
	    c->pc_id, NULL, 0, -1) == -1) {
		if (c->pc_chan == NULL || chan_send(c->pc_chan,
		    MSG_WRK_SHUTDOWN, 0, NULL, 0, -1) == -1)
			kill(c->pc_pid, SIGTERM);
	}
	pool_arm_kill(c);
	pool_fill(c->pc_pool);
}

/* ------------------------------------------------------------ health */

static void
pool_startup_expired(evutil_socket_t fd, short ev, void *arg)
{
	struct pm_child	*c = arg;

	(void)fd;
	(void)ev;
	if (c->pc_ready)
		return;
	/* Its death is a failed start: the back-off counts it. */
	log_warnx("worker %u (pid %d) of pool %s was not ready within "
	    "startup_timeout (%llu ms); killing it", c->pc_id, (int)c->pc_pid,
	    c->pc_cp->pl_name,
	    (unsigned long long)c->pc_cp->
	    pl_startup_timeout_ms);
	kill(c->pc_pid, SIGKILL);
}

static void
pool_pong_expired(evutil_socket_t fd, short ev, void *arg)
{
	struct pm_child	*c = arg;

	(void)fd;
	(void)ev;
	/* Killed, its requests fail over in the listener and the death
	 * path replaces it (or, retiring, it is not replaced). */
	log_warnx("worker %u (pid %d) of pool %s did not answer a ping within "
	    "%llu ms (ping_timeout); killing it", c->pc_id, (int)c->pc_pid,
	    c->pc_cp->pl_name,
	    (unsigned long long)c->pc_cp->
	    pl_ping_timeout_ms);
	kill(c->pc_pid, SIGKILL);
}

/* Resident bytes of pid from /proc, 0 if it cannot be read. */
static uint64_t
pool_rss(pid_t pid)
{
	char			 path[64], buf[128];
	unsigned long long	 size, res;
	ssize_t			 n;
	long			 page;
	int			 fd;

	snprintf(path, sizeof(path), "/proc/%d/statm", (int)pid);
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1)
		return 0;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return 0;
	buf[n] = '\0';
	if (sscanf(buf, "%llu %llu", &size, &res) != 2 ||
	    (page = sysconf(_SC_PAGESIZE)) <= 0)
		return 0;
	return (uint64_t)res * (uint64_t)page;
}

/*
 * Start c's replacement, if c is due a recycle and none is starting.
 * After failed starts the pool's back-off applies; the next ping tick
 * tries again.
 */
static void
pool_recycle_start(struct pm_child *c)
{
	struct pm_pool	*pp = pool_of(c);

	if (c->pc_recycle_why[0] == '\0' || c->pc_replacement != NULL ||
	    c->pc_replaces != NULL || c->pc_retiring || !c->pc_ready ||
	    penv->pe_stopping || pp == NULL)
		return;
	if (pp->pp_start_fails > 0 &&
	    clock_ms() - pp->pp_fail_ms < pool_backoff_ms(pp))
		return;
	pool_start_worker(c->pc_pool, c);
}

/* c reached a recycle condition: say why, once, and replace it. */
void
pool_recycle(struct pm_child *c, const char *fmt, ...)
{
	va_list	ap;

	/* A replacement still starting keeps the reason for when it is
	 * ready; its start is not held against it. */
	if (c->pc_retiring || penv->pe_stopping)
		return;
	if (c->pc_recycle_why[0] == '\0') {
		va_start(ap, fmt);
		vsnprintf(c->pc_recycle_why, sizeof(c->pc_recycle_why), fmt,
		    ap);
		va_end(ap);
		log_info("worker %u (pid %d) of pool %s: recycling (%s); "
		    "starting its replacement", c->pc_id, (int)c->pc_pid,
		    c->pc_cp->pl_name,
		    c->pc_recycle_why);
	}
	pool_recycle_start(c);
}

static void
pool_tick(evutil_socket_t fd, short ev, void *arg)
{
	const struct conf_pool	*cp;
	struct pm_child		*c = arg;
	struct msg_ping		 pg;
	struct timeval		 tv;
	uint64_t		 rss;

	(void)fd;
	(void)ev;
	cp = c->pc_cp;
	if (!c->pc_ping_out && c->pc_chan != NULL) {
		memset(&pg, 0, sizeof(pg));
		pg.pp_seq = ++c->pc_ping_seq;
		if (chan_send(c->pc_chan, MSG_WRK_PING, c->pc_id, &pg,
		    sizeof(pg), -1) == 0) {
			c->pc_ping_out = 1;
			conf_timeval(cp->pl_ping_timeout_ms, &tv);
			evtimer_add(c->pc_pong, &tv);
		}
	}
	if (cp->pl_recycle_memory > 0 && c->pc_recycle_why[0] == '\0' &&
	    (rss = pool_rss(c->pc_pid)) > cp->pl_recycle_memory)
		pool_recycle(c, "resident memory %llu KiB is over "
		    "recycle_memory %llu KiB", (unsigned long long)rss / 1024,
		    (unsigned long long)cp->pl_recycle_memory / 1024);
	else
		pool_recycle_start(c);
}

static void
pool_uptime_expired(evutil_socket_t fd, short ev, void *arg)
{
	struct pm_child	*c = arg;

	(void)fd;
	(void)ev;
	pool_recycle(c, "recycle_time %llu ms",
	    (unsigned long long)c->pc_cp->
	    pl_recycle_time_ms);
}

/* A new worker: the startup and recycle_time clocks start now. */
static void
pool_health_start(struct pm_child *c)
{
	const struct conf_pool	*cp = c->pc_cp;
	struct timeval		 tv;

	if ((c->pc_startup = evtimer_new(penv->pe_base, pool_startup_expired,
	    c)) == NULL ||
	    (c->pc_tick = event_new(penv->pe_base, -1, EV_PERSIST, pool_tick,
	    c)) == NULL ||
	    (c->pc_pong = evtimer_new(penv->pe_base, pool_pong_expired,
	    c)) == NULL ||
	    (c->pc_uptime = evtimer_new(penv->pe_base, pool_uptime_expired,
	    c)) == NULL)
		fatalx("pool_health_start: evtimer_new failed");
	/* 0: isolation = "shared", no health monitoring. */
	if (cp->pl_startup_timeout_ms > 0) {
		conf_timeval(cp->pl_startup_timeout_ms, &tv);
		evtimer_add(c->pc_startup, &tv);
	}
	if (cp->pl_recycle_time_ms > 0) {
		conf_timeval(cp->pl_recycle_time_ms, &tv);
		evtimer_add(c->pc_uptime, &tv);
	}
}

/* c said it is ready: pings start, and a replacement takes over. */
static void
pool_worker_ready(struct pm_child *c)
{
	const struct conf_pool	*cp = c->pc_cp;
	struct pm_child		*old;
	struct timeval		 tv;
	char			 why[160];

	if (c->pc_ready)
		return;
	c->pc_ready = 1;
	c->pc_active_ms = clock_ms();
	evtimer_del(c->pc_startup);
	if (cp->pl_ping_interval_ms > 0) {
		conf_timeval(cp->pl_ping_interval_ms, &tv);
		event_add(c->pc_tick, &tv);
	}
	if ((old = c->pc_replaces) == NULL)
		return;
	c->pc_replaces = NULL;
	old->pc_replacement = NULL;
	penv->pe_pools[c->pc_pool].pp_running++;
	snprintf(why, sizeof(why), "%s; worker %u (pid %d) took over",
	    old->pc_recycle_why, c->pc_id, (int)c->pc_pid);
	pool_retire(old, why);
}

static void
pool_pong(struct pm_child *c, const struct msg_hdr *hdr, const void *data)
{
	struct msg_pong	po;

	if (hdr->mh_len != sizeof(po)) {
		log_warnx("pool_pong: worker %u: %u byte pong", c->pc_id,
		    hdr->mh_len);
		return;
	}
	memcpy(&po, data, sizeof(po));
	if (!c->pc_ping_out || po.po_seq != c->pc_ping_seq)
		return;		/* not the ping we wait for */
	c->pc_ping_out = 0;
	evtimer_del(c->pc_pong);
	if (po.po_busy > 0 || po.po_requests != c->pc_requests)
		c->pc_active_ms = clock_ms();
	c->pc_requests = po.po_requests;
	pool_idle_check(c);
}

/*
 * idle_timeout: a worker that finished no request and held none for that
 * long (as its pongs tell, so to within ping_interval) is retired, and
 * the pool wants one worker fewer until a request asks for it again
 * (pool_demand()).  One recycling, or replacing another, is left alone.
 */
static void
pool_idle_check(struct pm_child *c)
{
	const struct conf_pool	*cp = c->pc_cp;
	struct pm_pool		*pp = pool_of(c);
	char			 why[64];

	if (cp->pl_idle_timeout_ms == 0 || !c->pc_ready || c->pc_retiring ||
	    pp == NULL ||
	    c->pc_replaces != NULL || c->pc_replacement != NULL ||
	    clock_ms() - c->pc_active_ms < cp->pl_idle_timeout_ms)
		return;
	snprintf(why, sizeof(why), "idle for idle_timeout %llu ms",
	    (unsigned long long)cp->pl_idle_timeout_ms);
	if (pp->pp_wanted > 0)
		pp->pp_wanted--;
	pool_retire(c, why);
}

/* The worker says it reached recycle_requests; a worker can only have
 * itself recycled, and only when the pool recycles on requests. */
static void
pool_recycle_requested(struct pm_child *c, const struct msg_hdr *hdr,
    const void *data)
{
	const struct conf_pool	*cp = c->pc_cp;
	struct msg_recycle	 rc;

	if (hdr->mh_len != sizeof(rc)) {
		log_warnx("pool_recycle_requested: worker %u: %u byte "
		    "message", c->pc_id, hdr->mh_len);
		return;
	}
	memcpy(&rc, data, sizeof(rc));
	if (cp->pl_recycle_requests == 0 ||
	    rc.rc_requests < cp->pl_recycle_requests) {
		log_warnx("pool_recycle_requested: worker %u: asks to be "
		    "recycled after %llu requests; ignored", c->pc_id,
		    (unsigned long long)rc.rc_requests);
		return;
	}
	c->pc_requests = rc.rc_requests;
	pool_recycle(c, "recycle_requests %u reached",
	    cp->pl_recycle_requests);
}

/*
 * When the pool's next recycle_at time comes, in seconds from now: the
 * first of its local times after `from`, today or tomorrow (mktime()
 * settles daylight saving).
 */
static time_t
pool_recycle_at_next(const struct conf_pool *cp, time_t now, time_t from)
{
	struct tm	tm, t;
	time_t		when, best = 0;
	uint32_t	i;
	int		day;

	localtime_r(&from, &tm);
	for (i = 0; i < cp->pl_nrecycle_at; i++) {
		for (day = 0; day < 2; day++) {
			t = tm;
			t.tm_mday += day;
			t.tm_hour = cp->pl_recycle_at[i] / 60;
			t.tm_min = cp->pl_recycle_at[i] % 60;
			t.tm_sec = 0;
			t.tm_isdst = -1;
			if ((when = mktime(&t)) != (time_t)-1 && when > from)
				break;
		}
		if (when > from && (best == 0 || when < best))
			best = when;
	}
	if (best == 0)
		return 24 * 60 * 60;
	return best - now;
}

static void
pool_recycle_at_arm(uint32_t pool)
{
	time_t		now = time(NULL);
	struct timeval	tv;

	/* A minute on, so a timer that fires a little early cannot
	 * recycle the pool twice for one time. */
	tv.tv_sec = pool_recycle_at_next(&penv->pe_conf->cf_pools[pool], now,
	    now + 60);
	tv.tv_usec = 0;
	evtimer_add(penv->pe_pools[pool].pp_recycle_at, &tv);
}

static void
pool_recycle_at_timer(evutil_socket_t fd, short ev, void *arg)
{
	struct pm_pool	*pp = arg;
	struct pm_child	*c;
	uint32_t	 pool = pp - penv->pe_pools;
	struct tm	 tm;
	time_t		 now = time(NULL);

	(void)fd;
	(void)ev;
	localtime_r(&now, &tm);
	/* Replacements started here are not ready, and are skipped. */
	TAILQ_FOREACH(c, &penv->pe_children, pc_entry)
		if (c->pc_kind == PM_WORKER && c->pc_pool == pool &&
		    c->pc_ready)
			pool_recycle(c, "recycle_at %02d:%02d", tm.tm_hour,
			    tm.tm_min);
	pool_recycle_at_arm(pool);
}

/* c is being freed: its timers go, and no worker points at it. */
void
pool_child_free(struct pm_child *c)
{
	if (c->pc_replacement != NULL)
		c->pc_replacement->pc_replaces = NULL;
	if (c->pc_replaces != NULL)
		c->pc_replaces->pc_replacement = NULL;
	if (c->pc_startup != NULL)
		event_free(c->pc_startup);
	if (c->pc_tick != NULL)
		event_free(c->pc_tick);
	if (c->pc_pong != NULL)
		event_free(c->pc_pong);
	if (c->pc_uptime != NULL)
		event_free(c->pc_uptime);
	if (c->pc_cfg != NULL)
		reload_conf_unref(c->pc_cfg);
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
	struct pm_pool		*pp;
	uint64_t		 delay_ms;

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
	cp = c->pc_cp;
	pp = pool_of(c);
	if (wf.wf_reason == WFAIL_HUNG) {
		log_warnx("worker %u (pid %d) of pool %s is hung (a request "
		    "made no progress); killing it", c->pc_id, (int)c->pc_pid,
		    cp->pl_name);
		kill(c->pc_pid, SIGKILL);
		/* Its death is this failure, not another one. */
		if (!c->pc_retiring && !c->pc_fail_counted && pp != NULL) {
			c->pc_fail_counted = 1;
			pool_failure(c->pc_pool);
		}
		return;
	}
	if (c->pc_retiring || pp == NULL)
		return;
	log_warnx("worker %u (pid %d) of pool %s is broken (the listener "
	    "cannot use it); replacing it", c->pc_id, (int)c->pc_pid,
	    cp->pl_name);
	c->pc_fail_counted = 1;
	if (pool_failure(c->pc_pool))
		return;		/* retired with the rest of its pool */
	pool_stop_direct(c);
	/* One the listener could not take at its start is a failed start,
	 * under the back-off, or a listener short of fds would make the
	 * pool manager fork in a loop. */
	if (!c->pc_ready) {
		pp->pp_start_fails++;
		pp->pp_fail_ms = clock_ms();
		if ((delay_ms = pool_backoff_ms(pp)) > 0) {
			pool_restart_later(c->pc_pool, delay_ms);
			return;
		}
	}
	pool_fill(c->pc_pool);
}

void
pool_dispatch_worker(struct chan *ch, const struct msg_hdr *hdr,
    const void *data, int fd, void *arg)
{
	struct pm_child	*c = arg;

	(void)ch;
	if (fd != -1)
		close(fd);
	switch (hdr->mh_type) {
	case MSG_WRK_READY:
		pool_worker_ready(c);
		break;
	case MSG_WRK_PONG:
		pool_pong(c, hdr, data);
		break;
	case MSG_WRK_RECYCLE:
		pool_recycle_requested(c, hdr, data);
		break;
	default:
		log_warnx("pool_dispatch_worker: worker %u: unexpected "
		    "message type %u", c->pc_id, hdr->mh_type);
		break;
	}
}
