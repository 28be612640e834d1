/*
 * What hsd-cached's files share: the process's state (cached.c owns it)
 * and the calls between them.  store.c keeps the entries, offer.c
 * admits them, admit.c and purge.c are the pure rules.
 */
#ifndef HSD_CACHED_H
#define HSD_CACHED_H

#include <sys/queue.h>

#include <stdint.h>

#include "msg.h"

struct chan;
struct event;
struct event_base;
struct hsd_config;

/* A purge waiting for the listener to confirm it serves them no more. */
struct cached_purge {
	TAILQ_ENTRY(cached_purge) cp_entry;
	uint32_t		 cp_pm_serial;	/* the pool manager's */
	uint32_t		 cp_sync;	/* our MSG_CACHE_SYNC's */
	uint64_t		 cp_entries;
};

struct cached_state {
	struct event_base	*base;
	struct hsd_config	*conf;
	uint32_t		 gen;		/* conf's number (msg.h) */
	struct chan		*parent;
	struct chan		*listener;	/* NULL: none now */
	struct event		*tick;
	/* Counted here: hits, misses, admitted, refused; store.c has
	 * the rest. */
	struct msg_cache_stats	 stats;
	TAILQ_HEAD(, cached_purge) purges;
	uint32_t		 sync_serial;
};

extern struct cached_state cd;

/* cached.c: MSG_CACHE_DROP for entry id to the listener. */
void	cached_tell_drop(uint32_t id);

/* offer.c: a MSG_CACHE_OFFER; fd is the worker's memfd, taken. */
void	offer_take(const struct msg_hdr *hdr, const void *data, int fd);

#endif
