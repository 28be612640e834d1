/*
 * hsd-listener: the process that owns every client connection and never
 * runs application code (HTTP.sys's role).  It takes its listening sockets
 * and its workers' channels from the pool manager; conn.c does the clients,
 * queue.c the pools, send.c what workers hand back.
 *
 * Peers:
 *	poolmgr		fd 3: listening sockets, workers, workers to retire,
 *			pool states, new configurations (reload.c), shutdown,
 *			status requests; we report workers we give up on,
 *			ask for pools' workers and answer status requests
 *	worker		one channel each, passed by the pool manager
 */
#include "config.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>

#include "chan.h"
#include "conf.h"
#include "listener.h"
#include "log.h"
#include "msg.h"
#include "proc.h"
#include "sandbox.h"

struct listener_env	*lenv;

static void	listener_dispatch_parent(struct chan *, const struct msg_hdr *,
		    const void *, int, void *);
static void	listener_parent_gone(struct chan *, void *);

/*
 * A common timeout (one list for every timer of that duration) for ms.
 * libevent has room for 256 of them a base; a server reloaded with ever
 * new timeouts could run out, and is then given *fallback, filled, as an
 * ordinary timeout.
 */
static const struct timeval *
listener_common_timeout(uint64_t ms, struct timeval *fallback)
{
	const struct timeval	*ct;

	conf_timeval(ms, fallback);
	if ((ct = event_base_init_common_timeout(lenv->le_base,
	    fallback)) != NULL)
		return ct;
	log_warnx("listener_common_timeout: none left for %llu ms",
	    (unsigned long long)ms);
	return fallback;
}

/* The common timeouts of the current configuration's limits; timers
 * armed before a reload keep the ones they were armed with. */
void
listener_timeouts(void)
{
	static struct timeval	header, conn;

	lenv->le_tv_header = listener_common_timeout(
	    lenv->le_conf->cf_limits.header_wait_timeout_ms, &header);
	lenv->le_tv_conn = listener_common_timeout(
	    lenv->le_conf->cf_limits.connection_timeout_ms, &conn);
}

/* Graceful stop: no new connections, idle ones closed, the rest finish. */
static void
listener_stop(void)
{
	if (lenv->le_stopping)
		return;
	log_debug("listener_stop: %u connections to finish", lenv->le_nconns);
	lenv->le_stopping = 1;
	conn_stop_accepting();
	conn_close_idle();
	listener_check_drained();
}

void
listener_check_drained(void)
{
	if (!lenv->le_stopping || lenv->le_nconns > 0 || lenv->le_stopping > 1)
		return;
	/* Every record with the logger first (or given up on). */
	if (!logbuf_drained())
		return;
	lenv->le_stopping = 2;
	chan_send(lenv->le_parent, MSG_LSN_DRAINED, 0, NULL, 0, -1);
	event_base_loopexit(lenv->le_base, NULL);
}

static void
listener_signal(evutil_socket_t sig, short ev, void *arg)
{
	(void)ev;
	(void)arg;
	if (sig == SIGTERM)
		listener_stop();
}

static void
listener_dispatch_parent(struct chan *ch, const struct msg_hdr *hdr,
    const void *data, int fd, void *arg)
{
	struct msg_listen	ml;
	struct msg_worker	mw;
	struct msg_pool_state	ps;

	(void)ch;
	(void)arg;
	switch (hdr->mh_type) {
	case MSG_PM_LISTEN_SOCK:
		if (fd == -1 || hdr->mh_len != sizeof(ml))
			goto bad;
		memcpy(&ml, data, sizeof(ml));
		if (lenv->le_stopping) {
			close(fd);
			return;
		}
		conn_listen(fd);
		return;
	case MSG_PM_WORKER_UP:
		if (fd == -1 || hdr->mh_len != sizeof(mw))
			goto bad;
		memcpy(&mw, data, sizeof(mw));
		queue_worker_up(hdr->mh_id, mw.mw_pool, mw.mw_gen, mw.mw_pid,
		    fd);
		return;
	case MSG_PM_RELOAD:
		if (fd == -1 || hdr->mh_len != 0)
			goto bad;
		reload_apply(hdr->mh_id, fd);
		return;
	case MSG_PM_SHUTDOWN:
		if (fd != -1)
			close(fd);
		listener_stop();
		return;
	case MSG_PM_WORKER_RETIRE:
		if (fd != -1 || hdr->mh_len != 0)
			goto bad;
		queue_worker_retire(hdr->mh_id);
		return;
	case MSG_PM_POOL_STATE:
		if (fd != -1 || hdr->mh_len != sizeof(ps))
			goto bad;
		memcpy(&ps, data, sizeof(ps));
		queue_pool_state(hdr->mh_id, ps.ps_state);
		return;
	case MSG_PM_LOGGER:
		if (fd == -1 || hdr->mh_len != 0)
			goto bad;
		logbuf_logger(fd);
		return;
	case MSG_PM_CACHED:
		if (fd == -1 || hdr->mh_len != 0)
			goto bad;
		cache_connect(fd);
		return;
	case MSG_PM_STATUS:
		if (fd != -1 || hdr->mh_len != 0)
			goto bad;
		queue_status(hdr->mh_id);
		return;
	default:
		break;
	}
bad:
	log_warnx("listener_dispatch_parent: bad message type %u, %u bytes%s",
	    hdr->mh_type, hdr->mh_len, fd == -1 ? "" : ", with an fd");
	if (fd != -1)
		close(fd);
}

static void
listener_parent_gone(struct chan *ch, void *arg)
{
	(void)ch;
	(void)arg;
	log_warnx("listener_parent_gone: the pool manager is gone; exiting");
	exit(0);
}

static void
usage(void)
{
	fprintf(stderr, "usage: hsd-listener [-v] [-g generation]  (started by "
	    "hsd-poolmgr)\n");
	exit(1);
}

int
main(int argc, char *argv[])
{
	struct hsd_config	*conf;
	static struct timeval	 linger;
	struct event		*sigterm;
	uint32_t		 gen = 1;
	int			 ch, verbose = 0;

	while ((ch = getopt(argc, argv, "g:v")) != -1) {
		switch (ch) {
		case 'g':
			/* The configuration's number (msg.h, MSG_PM_RELOAD). */
			if (proc_parse_u32(optarg, &gen) == -1 || gen == 0)
				usage();
			break;
		case 'v':
			verbose++;
			break;
		default:
			usage();
		}
	}
	conf = proc_child_start("hsd-listener", verbose);
	/* Everything the listener uses from here on is an fd it was given. */
	proc_privdrop(conf->cf_chroot_dir, &conf->cf_ident);

	if ((lenv = calloc(1, sizeof(*lenv))) == NULL)
		fatal("main: calloc");
	lenv->le_conf = conf;
	TAILQ_INIT(&lenv->le_conns);
	TAILQ_INIT(&lenv->le_gens);
	if ((lenv->le_gen = reload_gen_new(gen, conf)) == NULL)
		fatal("main: calloc");
	/* conf_load_buf() checked that this and a path fit in a handoff. */
	lenv->le_data_cap = conf_request_buf(&conf->cf_limits);
	if ((lenv->le_base = event_base_new()) == NULL)
		fatalx("main: event_base_new failed");
	listener_timeouts();
	lenv->le_tv_linger = listener_common_timeout(2000, &linger);

	signal(SIGHUP, SIG_IGN);
	if ((sigterm = evsignal_new(lenv->le_base, SIGTERM, listener_signal,
	    NULL)) == NULL || evsignal_add(sigterm, NULL) == -1)
		fatalx("main: signal setup failed");

	queue_init();
	logbuf_init();
	cache_init();
	if ((lenv->le_parent = chan_new(lenv->le_base, PROC_FD_PARENT,
	    "poolmgr", listener_dispatch_parent, listener_parent_gone,
	    NULL)) == NULL)
		fatalx("main: no channel to the pool manager");

	/* Last: from here on only the calls the loop needs. */
	sandbox_listener();
	log_debug("main: ready");
	event_base_dispatch(lenv->le_base);
	log_debug("main: drained; exiting");
	return 0;
}
