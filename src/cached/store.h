/*
 * hsd-cached's entries: what it has published to the listener, by key
 * (site, host, path) and by id, least recently hit first, soonest
 * expiring first, and by the inotify watch of the file each came from;
 * and the activity table that remembers keys offered once.  An entry
 * keeps no memory of its response: the listener holds the mapping, the
 * entry only its size, for the memory cap.
 */
#ifndef HSD_STORE_H
#define HSD_STORE_H

#include <sys/queue.h>

#include <stddef.h>
#include <stdint.h>

#include "msg.h"

struct event_base;
struct hsd_config;
struct msg_cache_stats;
struct purge;
struct store_watch;

struct store_entry {
	uint32_t		 se_id;
	uint32_t		 se_site;
	uint64_t		 se_keyhash;
	const char		*se_host;	/* stored after the struct */
	const char		*se_path;
	uint16_t		 se_host_len;
	uint16_t		 se_path_len;
	uint64_t		 se_size;	/* its memfd's bytes: its cost */
	uint64_t		 se_created_ms;	/* CLOCK_MONOTONIC, as in msg.h */
	uint64_t		 se_expires_ms;
	uint64_t		 se_hit_ms;	/* admitted, or last reported hit */
	uint64_t		 se_hits;
	size_t			 se_heap;	/* index in the expiry heap */
	struct store_watch	*se_watch;	/* its file's; NULL: none */
	char			*se_fpath;	/* that file's path */
	struct msg_fileid	 se_fid;	/* and what it was */
	TAILQ_ENTRY(store_entry) se_lru;
	TAILQ_ENTRY(store_entry) se_file;	/* on se_watch's list */
	struct store_entry	*se_key_next;	/* hash chains */
	struct store_entry	*se_id_next;
};

/* The activity table's size: older keys are forgotten first. */
#define STORE_ACTIVITY_KEYS	4096

/*
 * Watches the files of entries with inotify from base's loop.  -1 if
 * inotify is not available (logged): entries of files are then refused.
 */
int	 store_init(struct event_base *base);

/* A new entry with its key and id, in nothing yet; NULL if out of memory.
 * Either store_insert() it or store_discard() it. */
struct store_entry *store_new(uint32_t site, const char *host,
	    size_t host_len, const char *path, size_t path_len);
void	 store_discard(struct store_entry *);
/* Watch path, the file e's response is; -1 (errno set) if it cannot be. */
int	 store_watch(struct store_entry *e, const char *path);
/* 1 if sb is the file fi says. */
struct stat;
int	 store_same_file(const struct stat *sb, const struct msg_fileid *fi);
/*
 * What inotify on the file cannot see -- a directory above it renamed or
 * replaced, a symlink on its path pointed elsewhere -- is seen here: the
 * path of each of the most recently hit file entries (at most
 * STORE_REVALIDATE_MAX a call) looked up again; one that no longer
 * leads to the file it was goes.
 */
#define STORE_REVALIDATE_MAX	8192
void	 store_revalidate(void);
/* e becomes an entry: published, counted; -1 if out of memory (then
 * discard it). */
int	 store_insert(struct store_entry *e);
/*
 * e is gone: freed, and the listener told (MSG_CACHE_DROP) if tell.
 * Every way an entry ends comes here.
 */
void	 store_drop(struct store_entry *e, int tell);

struct store_entry *store_find(uint32_t site, const char *host,
	    size_t host_len, const char *path, size_t path_len);
struct store_entry *store_find_id(uint32_t id);

/*
 * Drop the least recently hit entries until size more bytes fit under
 * max, and one more entry under STORE_MAX_ENTRIES; -1 if they cannot.
 * The listener maps each entry: the count keeps it well inside the
 * kernel's vm.max_map_count (65530 by default).
 */
#define STORE_MAX_ENTRIES	32768
int	 store_make_room(uint64_t size, uint64_t max);
/* A report's hits for id (unknown ids are ignored). */
void	 store_hit(uint32_t id, uint32_t hits, uint64_t now_ms);
/* Expired entries, and those not hit for scavenger_ms (0: never), go. */
void	 store_tick(uint64_t now_ms, uint64_t scavenger_ms);
/* Every entry goes; tell: the listener is told of each. */
void	 store_clear(int tell);
/* Entries pg names go, the listener told; how many went. */
uint64_t store_purge(const struct purge *pg, const struct hsd_config *conf);
/* entries, memory and dropped into stats. */
void	 store_stats(struct msg_cache_stats *stats);

/*
 * The activity period: 1 if the key was offered within period_ms before
 * now (or period_ms is 0), else 0; either way it is remembered as
 * offered now.
 */
int	 store_activity(uint32_t site, const char *host, size_t host_len,
	    const char *path, size_t path_len, uint64_t now_ms,
	    uint64_t period_ms);
void	 store_activity_clear(void);

#endif
