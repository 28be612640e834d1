/*
 * hsd-cached: the response cache (see msg.h, "The response cache").
 * This is its skeleton: it runs under supervision, takes the listener's
 * channel and answers the pool manager, but admits nothing yet: every
 * offer is refused as CR_INVALID.
 *
 * Peers:
 *	poolmgr		fd 3: the listener's channel, stats, purge, reload,
 *			shutdown
 *	listener	offers and reports in; entries, drops, syncs out
 */
#include "config.h"

#include <sys/types.h>

#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>

#include "chan.h"
#include "conf.h"
#include "log.h"
#include "msg.h"
#include "proc.h"

static struct {
	struct event_base	*base;
	struct hsd_config	*conf;
	struct chan		*parent;
	struct chan		*listener;
	struct msg_cache_stats	 stats;
	uint32_t		 gen;		/* the configuration it runs */
} cd;

static void
cached_listener_msg(struct chan *ch, const struct msg_hdr *hdr,
    const void *data, int fd, void *arg)
{
	(void)ch;
	(void)data;
	(void)arg;
	if (fd != -1)
		close(fd);
	switch (hdr->mh_type) {
	case MSG_CACHE_OFFER:
		cd.stats.cs_refused[CR_INVALID]++;
		break;
	case MSG_CACHE_REPORT:
	case MSG_CACHE_SYNCED:
		break;
	default:
		log_warnx("cached_listener_msg: unexpected message type %u",
		    hdr->mh_type);
	}
}

static void
cached_listener_gone(struct chan *ch, void *arg)
{
	(void)arg;
	if (ch == cd.listener)
		cd.listener = NULL;
	chan_free(ch);
}

static void
cached_parent_msg(struct chan *ch, const struct msg_hdr *hdr,
    const void *data, int fd, void *arg)
{
	struct msg_cache_purged	cp;

	(void)ch;
	(void)data;
	(void)arg;
	switch (hdr->mh_type) {
	case MSG_PM_CACHE_LISTENER:
		if (fd == -1)
			break;
		if (cd.listener != NULL)
			chan_free(cd.listener);
		if ((cd.listener = chan_new(cd.base, fd, "listener",
		    cached_listener_msg, cached_listener_gone, NULL)) == NULL)
			log_warnx("cached_parent_msg: no channel to the "
			    "listener");
		return;
	case MSG_PM_CACHE_STATS:
		cd.stats.cs_max_memory = cd.conf->cf_cache.cc_max_memory;
		chan_send(cd.parent, MSG_CACHE_STATS, hdr->mh_id, &cd.stats,
		    sizeof(cd.stats), -1);
		break;
	case MSG_PM_CACHE_PURGE:
		memset(&cp, 0, sizeof(cp));
		chan_send(cd.parent, MSG_CACHE_PURGED, hdr->mh_id, &cp,
		    sizeof(cp), -1);
		break;
	case MSG_PM_RELOAD:
		break;
	case MSG_PM_SHUTDOWN:
		event_base_loopexit(cd.base, NULL);
		break;
	default:
		log_warnx("cached_parent_msg: unexpected message type %u",
		    hdr->mh_type);
		break;
	}
	if (fd != -1)
		close(fd);
}

static void
cached_parent_gone(struct chan *ch, void *arg)
{
	(void)ch;
	(void)arg;
	log_warnx("cached_parent_gone: the pool manager is gone; exiting");
	exit(0);
}

static void
cached_signal(evutil_socket_t sig, short ev, void *arg)
{
	(void)sig;
	(void)ev;
	(void)arg;
	event_base_loopexit(cd.base, NULL);
}

static void
usage(void)
{
	log_warnx("usage: hsd-cached [-g generation] [-v]");
	exit(1);
}

int
main(int argc, char *argv[])
{
	struct event	*sigterm;
	int		 ch, verbose = 0;

	cd.gen = 1;
	while ((ch = getopt(argc, argv, "g:v")) != -1) {
		switch (ch) {
		case 'g':
			/* The configuration's number (msg.h, MSG_PM_RELOAD). */
			if (proc_parse_u32(optarg, &cd.gen) == -1 ||
			    cd.gen == 0)
				usage();
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
	cd.conf = proc_child_start("hsd-cached", verbose);
	/* Not chrooted: it watches the files it caches by their paths. */
	proc_privdrop(NULL, &cd.conf->cf_ident);
	if ((cd.base = event_base_new()) == NULL)
		fatalx("main: event_base_new failed");
	signal(SIGHUP, SIG_IGN);
	if ((sigterm = evsignal_new(cd.base, SIGTERM, cached_signal,
	    NULL)) == NULL || evsignal_add(sigterm, NULL) == -1)
		fatalx("main: signal setup failed");
	if ((cd.parent = chan_new(cd.base, PROC_FD_PARENT, "poolmgr",
	    cached_parent_msg, cached_parent_gone, NULL)) == NULL)
		fatalx("main: no channel to the pool manager");
	log_debug("main: ready");
	event_base_dispatch(cd.base);
	return 0;
}
