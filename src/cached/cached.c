/*
 * hsd-cached: the response cache (msg.h, "The response cache"), HTTP.sys's
 * kernel-mode cache as a process of its own.  It decides which responses
 * workers offer become entries (offer.c), publishes them to the listener
 * as sealed memfds, and takes them back: on expiry, when not hit for
 * scavenger_period, to stay under max_memory, when their file changes,
 * on a purge or a reload (store.c).  It never serves a byte itself.
 *
 * The listener's index is only what we told it: a new listener starts
 * empty, so a new listener channel (or the old one closing) makes us
 * forget every entry without a word to anyone.
 *
 * Peers:
 *	poolmgr		fd 3: the listener's channel, stats, purge, reload,
 *			shutdown
 *	listener	offers, reports and syncs in; entries, drops and
 *			syncs out
 */
#include "config.h"

#include <sys/queue.h>
#include <sys/types.h>

#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>

#include "cached.h"
#include "chan.h"
#include "clock.h"
#include "conf.h"
#include "log.h"
#include "msg.h"
#include "proc.h"
#include "purge.h"
#include "store.h"

/* Expiry and the scavenger are looked at this often. */
#define CACHED_TICK_MS		1000

struct cached_state	cd;

void
cached_tell_drop(uint32_t id)
{
	if (cd.listener == NULL)
		return;
	if (chan_send(cd.listener, MSG_CACHE_DROP, id, NULL, 0, -1) == -1)
		log_warn("cached_tell_drop: entry %u", id);
}

static void
cached_purged(uint32_t pm_serial, uint64_t entries)
{
	struct msg_cache_purged	cp;

	memset(&cp, 0, sizeof(cp));
	cp.cp_entries = entries;
	if (chan_send(cd.parent, MSG_CACHE_PURGED, pm_serial, &cp,
	    sizeof(cp), -1) == -1)
		log_warn("cached_purged: answering purge %u", pm_serial);
}

/* The listener is gone or replaced: its index with it.  Purges waiting
 * for it are done, since nobody serves those entries any more. */
static void
cached_forget(void)
{
	struct cached_purge	*cp;

	store_clear(0);
	while ((cp = TAILQ_FIRST(&cd.purges)) != NULL) {
		TAILQ_REMOVE(&cd.purges, cp, cp_entry);
		cached_purged(cp->cp_pm_serial, cp->cp_entries);
		free(cp);
	}
}

/* MSG_CACHE_REPORT: counts, and each entry's hits for LRU and the
 * scavenger. */
static void
cached_report(const struct msg_hdr *hdr, const void *data)
{
	struct msg_cache_report	 cr;
	struct msg_cache_hit	 ch;
	const char		*p;
	uint64_t		 now = clock_ms();
	uint32_t		 i;

	if (MSG_CHECK_SIZE(hdr->mh_len, cr) == -1)
		goto bad;
	memcpy(&cr, data, sizeof(cr));
	if (cr.cr_n > (hdr->mh_len - sizeof(cr)) / sizeof(ch) ||
	    hdr->mh_len != sizeof(cr) + (size_t)cr.cr_n * sizeof(ch))
		goto bad;
	cd.stats.cs_hits += cr.cr_hits;
	cd.stats.cs_misses += cr.cr_misses;
	for (i = 0; i < CR_NREASONS; i++)
		cd.stats.cs_refused[i] += cr.cr_refused[i];
	p = (const char *)data + sizeof(cr);
	for (i = 0; i < cr.cr_n; i++, p += sizeof(ch)) {
		memcpy(&ch, p, sizeof(ch));
		store_hit(ch.ch_id, ch.ch_hits, now);
	}
	return;
bad:
	log_warnx("cached_report: a %u byte report", hdr->mh_len);
}

/* MSG_CACHE_SYNCED: the listener serves a purge's entries no more. */
static void
cached_synced(uint32_t serial)
{
	struct cached_purge	*cp;

	TAILQ_FOREACH(cp, &cd.purges, cp_entry)
		if (cp->cp_sync == serial)
			break;
	if (cp == NULL) {
		log_warnx("cached_synced: no sync %u was sent", serial);
		return;
	}
	TAILQ_REMOVE(&cd.purges, cp, cp_entry);
	cached_purged(cp->cp_pm_serial, cp->cp_entries);
	free(cp);
}

/*
 * MSG_PM_CACHE_PURGE: the entries go at once; the pool manager hears
 * so when the listener has applied the drops, which it confirms by
 * answering a MSG_CACHE_SYNC sent after them.
 */
static void
cached_purge(const struct msg_hdr *hdr, const void *data)
{
	struct purge		 pg;
	struct cached_purge	*cp;
	uint64_t		 n;

	if (hdr->mh_len > PURGE_TEXT_MAX ||
	    purge_parse(data, hdr->mh_len, &pg) == -1) {
		log_warnx("cached_purge: purge %u: not a purge text",
		    hdr->mh_id);
		cached_purged(hdr->mh_id, 0);
		return;
	}
	n = store_purge(&pg, cd.conf);
	purge_free(&pg);
	log_debug("cached_purge: purge %u: %llu entries", hdr->mh_id,
	    (unsigned long long)n);
	if (cd.listener == NULL) {
		cached_purged(hdr->mh_id, n);
		return;
	}
	if ((cp = calloc(1, sizeof(*cp))) == NULL) {
		log_warn("cached_purge: calloc");
		cached_purged(hdr->mh_id, n);
		return;
	}
	cp->cp_pm_serial = hdr->mh_id;
	cp->cp_entries = n;
	if ((cp->cp_sync = ++cd.sync_serial) == 0)
		cp->cp_sync = ++cd.sync_serial;
	if (chan_send(cd.listener, MSG_CACHE_SYNC, cp->cp_sync, NULL, 0,
	    -1) == -1) {
		log_warn("cached_purge: sync %u to the listener", cp->cp_sync);
		cached_purged(hdr->mh_id, n);
		free(cp);
		return;
	}
	TAILQ_INSERT_TAIL(&cd.purges, cp, cp_entry);
}

static void
cached_stats(uint32_t serial)
{
	struct msg_cache_stats	cs;

	cs = cd.stats;
	store_stats(&cs);
	cs.cs_max_memory = cd.conf->cf_cache.cc_max_memory;
	if (chan_send(cd.parent, MSG_CACHE_STATS, serial, &cs, sizeof(cs),
	    -1) == -1)
		log_warn("cached_stats: answering %u", serial);
}

/*
 * MSG_PM_RELOAD: site indices and every rule may have changed, so every
 * entry and every key remembered goes.  A configuration we cannot read
 * leaves us on the old one, whose number no offer will carry: nothing is
 * cached until the next reload.
 */
static void
cached_reload(uint32_t gen, int fd)
{
	struct hsd_config	*cf;
	char			*text;

	text = proc_read_config(fd);
	close(fd);
	store_clear(1);
	store_activity_clear();
	if (text == NULL || conf_load_text(text, "(reload from hsd-poolmgr)",
	    CONF_LOAD_NOFS, &cf) == -1) {
		log_warnx("cached_reload: cannot take configuration %u; "
		    "caching nothing until the next", gen);
		free(text);
		return;
	}
	free(text);
	conf_free(cd.conf);
	cd.conf = cf;
	cd.gen = gen;
	log_debug("cached_reload: configuration %u", gen);
}

static void
cached_listener_msg(struct chan *ch, const struct msg_hdr *hdr,
    const void *data, int fd, void *arg)
{
	(void)arg;
	if (ch != cd.listener) {
		/* A listener replaced: nothing it says counts now. */
		if (fd != -1)
			close(fd);
		return;
	}
	if (hdr->mh_type == MSG_CACHE_OFFER) {
		offer_take(hdr, data, fd);
		return;
	}
	if (fd != -1)
		close(fd);
	switch (hdr->mh_type) {
	case MSG_CACHE_REPORT:
		cached_report(hdr, data);
		break;
	case MSG_CACHE_SYNCED:
		cached_synced(hdr->mh_id);
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
	if (ch == cd.listener) {
		log_debug("cached_listener_gone: forgetting every entry");
		cd.listener = NULL;
		cached_forget();
	}
	chan_free(ch);
}

static void
cached_new_listener(int fd)
{
	if (cd.listener != NULL)
		chan_free(cd.listener);
	cd.listener = NULL;
	cached_forget();
	if ((cd.listener = chan_new(cd.base, fd, "listener",
	    cached_listener_msg, cached_listener_gone, NULL)) == NULL) {
		log_warnx("cached_new_listener: no channel to the listener");
		close(fd);
	}
}

static void
cached_parent_msg(struct chan *ch, const struct msg_hdr *hdr,
    const void *data, int fd, void *arg)
{
	(void)ch;
	(void)arg;
	switch (hdr->mh_type) {
	case MSG_PM_CACHE_LISTENER:
		if (fd == -1) {
			log_warnx("cached_parent_msg: a listener without its "
			    "channel");
			break;
		}
		cached_new_listener(fd);
		return;
	case MSG_PM_RELOAD:
		if (fd == -1) {
			log_warnx("cached_parent_msg: a reload without its "
			    "configuration");
			break;
		}
		cached_reload(hdr->mh_id, fd);
		return;
	case MSG_PM_CACHE_STATS:
		cached_stats(hdr->mh_id);
		break;
	case MSG_PM_CACHE_PURGE:
		cached_purge(hdr, data);
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
cached_tick(evutil_socket_t fd, short ev, void *arg)
{
	(void)fd;
	(void)ev;
	(void)arg;
	store_tick(clock_ms(), cd.conf->cf_cache.cc_scavenger_ms);
	store_revalidate();
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
	log_warnx("usage: hsd-cached [-v] [-g generation]  (started by "
	    "hsd-poolmgr)");
	exit(1);
}

int
main(int argc, char *argv[])
{
	struct event	*sigterm;
	struct timeval	 tv;
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
	TAILQ_INIT(&cd.purges);
	/* Not chrooted: it watches the files it caches by their paths. */
	proc_privdrop(NULL, &cd.conf->cf_ident);
	if ((cd.base = event_base_new()) == NULL)
		fatalx("main: event_base_new failed");
	signal(SIGHUP, SIG_IGN);
	if ((sigterm = evsignal_new(cd.base, SIGTERM, cached_signal,
	    NULL)) == NULL || evsignal_add(sigterm, NULL) == -1)
		fatalx("main: signal setup failed");
	store_init(cd.base);
	conf_timeval(CACHED_TICK_MS, &tv);
	if ((cd.tick = event_new(cd.base, -1, EV_PERSIST, cached_tick,
	    NULL)) == NULL || event_add(cd.tick, &tv) == -1)
		fatalx("main: timer setup failed");
	if ((cd.parent = chan_new(cd.base, PROC_FD_PARENT, "poolmgr",
	    cached_parent_msg, cached_parent_gone, NULL)) == NULL)
		fatalx("main: no channel to the pool manager");
	log_debug("main: ready, configuration %u", cd.gen);
	event_base_dispatch(cd.base);
	return 0;
}
