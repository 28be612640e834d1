/*
 * Supervision of the server's single processes: the listener, the logger
 * and the cache.  One table says how each is
 * started and what follows a start; a death outside a stop starts it
 * again, at once the first times and then after a pause that doubles up
 * to POOLMGR_SV_BACKOFF_MAX_MS, so a process that cannot stay up is not
 * forked in a tight loop.  Workers are the pools' business (pool.c).
 */
#include "config.h"

#include <sys/queue.h>
#include <sys/types.h>

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

/* A death within SV_QUICK_MS of the start is quick; after SV_QUICK_MAX
 * quick deaths in a row the restarts wait. */
#define SV_QUICK_MS		10000
#define SV_QUICK_MAX		3
#define SV_BACKOFF_MIN_MS	1000
#define SV_BACKOFF_MAX_MS	30000

struct pm_service {
	const char	*sv_name;
	enum pm_kind	 sv_kind;
	/* Spawn it and give it what it needs; -1 if it could not start. */
	int		(*sv_start)(void);
	/* After every start: reconnect what talks to it. */
	void		(*sv_up)(void);

	struct event	*sv_restart;
	uint64_t	 sv_started_ms;
	uint32_t	 sv_quick_deaths;
};

static int	supervise_start_listener(void);
static void	supervise_listener_up(void);

static struct pm_service supervise_table[] = {
	{ "listener", PM_LISTENER, supervise_start_listener,
	    supervise_listener_up, NULL, 0, 0 },
	{ "logger", PM_LOGGER, logger_start, logger_connect, NULL, 0, 0 },
	{ "cache", PM_CACHED, cache_start, cache_connect, NULL, 0, 0 },
};

#define SV_COUNT	(sizeof(supervise_table) / sizeof(supervise_table[0]))

/*
 * The listener: a fresh exec, the listening sockets the pool manager has
 * held since start-up (connections that arrived meanwhile wait in their
 * accept backlog), then each worker, from pool_listener_up().
 */
static int
supervise_start_listener(void)
{
	struct msg_listen	 ml;
	char			 gen[16];
	char			*argv[] = { "hsd-listener", "-g", gen, NULL,
				    NULL };
	pid_t			 pid;
	uint32_t		 i;
	int			 fd;

	/* The configuration in pe_conf_fd is this one (msg.h). */
	snprintf(gen, sizeof(gen), "%u", penv->pe_cur->pf_gen);
	if ((fd = poolmgr_spawn("hsd-listener", argv, -1, &pid)) == -1)
		return -1;
	penv->pe_listener = poolmgr_child_new(PM_LISTENER, 0, pid, fd);
	for (i = 0; i < penv->pe_conf->cf_nlistens; i++) {
		memset(&ml, 0, sizeof(ml));
		ml.ml_index = i;
		if (chan_send(penv->pe_listener->pc_chan, MSG_PM_LISTEN_SOCK, 0,
		    &ml, sizeof(ml), penv->pe_listen_fds[i]) == -1) {
			/* It cannot serve without them: start another. */
			log_warn("supervise_start_listener: passing a listening "
			    "socket");
			kill(pid, SIGKILL);
			return 0;
		}
	}
	return 0;
}

/* A new listener: its workers, then its channels to the logger and the
 * cache. */
static void
supervise_listener_up(void)
{
	pool_listener_up();
	logger_connect();
	cache_connect();
}

static struct pm_service *
supervise_find(enum pm_kind kind)
{
	size_t	i;

	for (i = 0; i < SV_COUNT; i++)
		if (supervise_table[i].sv_kind == kind)
			return &supervise_table[i];
	return NULL;
}

static void
supervise_later(struct pm_service *sv, uint64_t ms)
{
	struct timeval	tv;

	conf_timeval(ms, &tv);
	evtimer_add(sv->sv_restart, &tv);
}

static int
supervise_start(struct pm_service *sv)
{
	if (sv->sv_start() == -1)
		return -1;
	sv->sv_started_ms = clock_ms();
	sv->sv_up();
	return 0;
}

static void
supervise_restart_timer(evutil_socket_t fd, short ev, void *arg)
{
	struct pm_service	*sv = arg;

	(void)fd;
	(void)ev;
	if (penv->pe_stopping)
		return;
	if (supervise_start(sv) == -1) {
		log_warnx("cannot start the %s; retrying in %d ms",
		    sv->sv_name, SV_BACKOFF_MIN_MS);
		supervise_later(sv, SV_BACKOFF_MIN_MS);
	}
}

void
supervise_init(void)
{
	size_t	i;

	for (i = 0; i < SV_COUNT; i++) {
		supervise_table[i].sv_restart = evtimer_new(penv->pe_base,
		    supervise_restart_timer, &supervise_table[i]);
		if (supervise_table[i].sv_restart == NULL)
			fatalx("supervise_init: evtimer_new failed");
	}
}

/* At start-up a process that cannot be started at all stops the server. */
void
supervise_start_all(void)
{
	size_t	i;

	for (i = 0; i < SV_COUNT; i++)
		if (supervise_start(&supervise_table[i]) == -1)
			fatalx("cannot start the %s", supervise_table[i].sv_name);
}

/* Process c, one of the table's, has exited with status. */
void
supervise_exited(struct pm_child *c, int status)
{
	struct pm_service	*sv = supervise_find(c->pc_kind);
	uint64_t		 delay = 0;
	uint32_t		 n;
	pid_t			 pid = c->pc_pid;
	char			 how[128];

	poolmgr_describe_exit(status, how, sizeof(how));
	poolmgr_child_free(c);
	if (sv == NULL || penv->pe_stopping)
		return;
	if (clock_ms() - sv->sv_started_ms < SV_QUICK_MS)
		sv->sv_quick_deaths++;
	else
		sv->sv_quick_deaths = 0;
	if (sv->sv_quick_deaths > SV_QUICK_MAX) {
		n = sv->sv_quick_deaths - SV_QUICK_MAX - 1;
		delay = n >= 5 ? SV_BACKOFF_MAX_MS : SV_BACKOFF_MIN_MS << n;
	}
	if (delay == 0) {
		log_warnx("the %s (pid %d) %s; restarting it", sv->sv_name,
		    (int)pid, how);
		supervise_restart_timer(-1, 0, sv);
		return;
	}
	log_warnx("the %s (pid %d) %s, %u times in a row within %d s of its "
	    "start; restarting it in %llu ms", sv->sv_name, (int)pid, how,
	    sv->sv_quick_deaths, SV_QUICK_MS / 1000,
	    (unsigned long long)delay);
	supervise_later(sv, delay);
}

void
supervise_stop(void)
{
	size_t	i;

	for (i = 0; i < SV_COUNT; i++)
		evtimer_del(supervise_table[i].sv_restart);
}
