/*
 * hsd-cached's entries (store.h).  Each entry is on four structures at
 * once: two hash tables (key, for offers; id, for reports), the LRU list
 * (least recently hit first: eviction and the scavenger take from its
 * head) and a min-heap on expiry time; an entry of a static file is also
 * on its inotify watch's list.  Several entries may share a watch (one
 * file behind two URLs): the kernel gives the same descriptor for the
 * same inode, and the watch goes when its last entry does.
 *
 * Keys are hashed with a random seed, so a client choosing URLs cannot
 * make the chains long.  The activity table keeps only each key's hash:
 * a collision makes a URL cached one request early, nothing worse, and
 * the table's memory stays fixed however long the URLs.
 */
#include "config.h"

#include <sys/inotify.h>
#include <sys/queue.h>
#include <sys/stat.h>
#include <sys/random.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>

#include "cached.h"
#include "conf.h"
#include "log.h"
#include "msg.h"
#include "purge.h"
#include "store.h"

#define STORE_BUCKETS_MIN	256
#define STORE_WATCH_BUCKETS	1024
/* What makes a watched file's entries stale.  IN_ATTRIB comes with an
 * unlink (the link count) and a rename over the file, too. */
#define STORE_WATCH_MASK	(IN_MODIFY | IN_ATTRIB | IN_MOVE_SELF | \
				IN_DELETE_SELF | IN_CLOSE_WRITE)

struct store_watch {
	int			 sw_wd;
	int			 sw_gone;	/* the kernel removed it */
	size_t			 sw_count;	/* entries on sw_entries */
	TAILQ_HEAD(, store_entry) sw_entries;
	struct store_watch	*sw_next;
};

struct store_seen {
	uint64_t		 ss_hash;
	uint64_t		 ss_ms;
	int			 ss_used;
	struct store_seen	*ss_next;	/* hash chain */
	TAILQ_ENTRY(store_seen)	 ss_age;	/* least recently offered first */
};

static struct {
	uint64_t		 seed;
	struct store_entry	**by_key;
	struct store_entry	**by_id;
	size_t			 nbuckets;	/* of each; a power of two */
	TAILQ_HEAD(store_lru, store_entry) lru;
	struct store_entry	**heap;
	size_t			 heap_len;
	size_t			 heap_cap;
	uint64_t		 count;
	uint64_t		 memory;
	uint64_t		 dropped;
	uint32_t		 next_id;

	int			 ifd;		/* inotify; -1: none */
	struct event		*iev;
	struct store_watch	*watches[STORE_WATCH_BUCKETS];

	struct store_seen	 seen[STORE_ACTIVITY_KEYS];
	struct store_seen	*seen_buckets[STORE_ACTIVITY_KEYS];
	TAILQ_HEAD(, store_seen) seen_age;
} st = { .ifd = -1 };

static void	store_inotify(evutil_socket_t, short, void *);

/* FNV-1a over the key, from the seed. */
static uint64_t
store_hash(uint32_t site, const char *host, size_t host_len,
    const char *path, size_t path_len)
{
	const unsigned char	*p;
	uint64_t		 h = st.seed ^ 0xcbf29ce484222325ULL;
	size_t			 i;
	unsigned char		 sep[8];

	/* The lengths go in too: ("ab", "/") is not ("a", "b/"). */
	sep[0] = site;
	sep[1] = site >> 8;
	sep[2] = site >> 16;
	sep[3] = site >> 24;
	sep[4] = host_len;
	sep[5] = host_len >> 8;
	sep[6] = path_len;
	sep[7] = path_len >> 8;
	for (i = 0; i < sizeof(sep); i++)
		h = (h ^ sep[i]) * 0x100000001b3ULL;
	for (p = (const unsigned char *)host, i = 0; i < host_len; i++)
		h = (h ^ p[i]) * 0x100000001b3ULL;
	for (p = (const unsigned char *)path, i = 0; i < path_len; i++)
		h = (h ^ p[i]) * 0x100000001b3ULL;
	return h;
}

static size_t
store_id_bucket(uint32_t id, size_t n)
{
	return (size_t)((id * 0x9e3779b97f4a7c15ULL) >> 32) & (n - 1);
}

/* Both tables rebuilt with n buckets from the LRU list, which holds
 * every entry; on failure the old ones stay, only slower. */
static void
store_rehash(size_t n)
{
	struct store_entry	**by_key, **by_id, *e;
	size_t			  b;

	if ((by_key = calloc(n, sizeof(*by_key))) == NULL ||
	    (by_id = calloc(n, sizeof(*by_id))) == NULL) {
		free(by_key);
		return;
	}
	TAILQ_FOREACH(e, &st.lru, se_lru) {
		b = e->se_keyhash & (n - 1);
		e->se_key_next = by_key[b];
		by_key[b] = e;
		b = store_id_bucket(e->se_id, n);
		e->se_id_next = by_id[b];
		by_id[b] = e;
	}
	free(st.by_key);
	free(st.by_id);
	st.by_key = by_key;
	st.by_id = by_id;
	st.nbuckets = n;
}

int
store_init(struct event_base *base)
{
	size_t	i;

	TAILQ_INIT(&st.lru);
	TAILQ_INIT(&st.seen_age);
	for (i = 0; i < STORE_ACTIVITY_KEYS; i++)
		TAILQ_INSERT_TAIL(&st.seen_age, &st.seen[i], ss_age);
	if (getrandom(&st.seed, sizeof(st.seed), GRND_NONBLOCK) !=
	    sizeof(st.seed))
		st.seed = (uint64_t)getpid() * 0x9e3779b97f4a7c15ULL;
	st.next_id = 1;
	store_rehash(STORE_BUCKETS_MIN);
	if (st.by_key == NULL)
		fatalx("store_init: out of memory");
	if ((st.ifd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC)) == -1) {
		log_warn("store_init: inotify_init1; static files will not "
		    "be cached");
		return -1;
	}
	if ((st.iev = event_new(base, st.ifd, EV_READ | EV_PERSIST,
	    store_inotify, NULL)) == NULL || event_add(st.iev, NULL) == -1)
		fatalx("store_init: event setup failed");
	return 0;
}

/* The expiry heap: the soonest at [0]; se_heap follows each move. */
static void
store_heap_set(size_t i, struct store_entry *e)
{
	st.heap[i] = e;
	e->se_heap = i;
}

static void
store_heap_up(size_t i)
{
	struct store_entry	*e = st.heap[i];
	size_t			 parent;

	while (i > 0) {
		parent = (i - 1) / 2;
		if (st.heap[parent]->se_expires_ms <= e->se_expires_ms)
			break;
		store_heap_set(i, st.heap[parent]);
		i = parent;
	}
	store_heap_set(i, e);
}

static void
store_heap_down(size_t i)
{
	struct store_entry	*e = st.heap[i];
	size_t			 c;

	for (;;) {
		c = 2 * i + 1;
		if (c >= st.heap_len)
			break;
		if (c + 1 < st.heap_len && st.heap[c + 1]->se_expires_ms <
		    st.heap[c]->se_expires_ms)
			c++;
		if (e->se_expires_ms <= st.heap[c]->se_expires_ms)
			break;
		store_heap_set(i, st.heap[c]);
		i = c;
	}
	store_heap_set(i, e);
}

static void
store_heap_remove(struct store_entry *e)
{
	size_t			 i = e->se_heap;
	struct store_entry	*last = st.heap[--st.heap_len];

	if (last == e)
		return;
	store_heap_set(i, last);
	store_heap_down(i);
	store_heap_up(last->se_heap);
}

struct store_entry *
store_new(uint32_t site, const char *host, size_t host_len, const char *path,
    size_t path_len)
{
	struct store_entry	*e;
	char			*key;

	if (host_len > UINT16_MAX || path_len > UINT16_MAX ||
	    (e = calloc(1, sizeof(*e) + host_len + path_len + 2)) == NULL)
		return NULL;
	key = (char *)(e + 1);
	memcpy(key, host, host_len);
	memcpy(key + host_len + 1, path, path_len);
	e->se_host = key;
	e->se_path = key + host_len + 1;
	e->se_host_len = host_len;
	e->se_path_len = path_len;
	e->se_site = site;
	e->se_keyhash = store_hash(site, host, host_len, path, path_len);
	/* Ids are never 0 and never shared, even once they wrap. */
	do {
		e->se_id = st.next_id++;
	} while (e->se_id == 0 || store_find_id(e->se_id) != NULL);
	return e;
}

static struct store_watch *
store_watch_find(int wd)
{
	struct store_watch	*w;

	for (w = st.watches[(unsigned int)wd % STORE_WATCH_BUCKETS];
	    w != NULL; w = w->sw_next)
		if (w->sw_wd == wd)
			return w;
	return NULL;
}

/* w lost an entry: with none left, the watch goes. */
static void
store_watch_release(struct store_watch *w)
{
	struct store_watch	**wp;

	if (w->sw_count > 0)
		return;
	/* EINVAL: the kernel removed it already (IN_IGNORED is queued). */
	if (!w->sw_gone && inotify_rm_watch(st.ifd, w->sw_wd) == -1 &&
	    errno != EINVAL)
		log_warn("store_watch_release: inotify_rm_watch");
	for (wp = &st.watches[(unsigned int)w->sw_wd % STORE_WATCH_BUCKETS];
	    *wp != w; wp = &(*wp)->sw_next)
		;
	*wp = w->sw_next;
	free(w);
}

int
store_watch(struct store_entry *e, const char *path)
{
	struct store_watch	*w;
	int			 wd, saved;

	if (st.ifd == -1) {
		errno = ENOSYS;
		return -1;
	}
	if ((e->se_fpath = strdup(path)) == NULL)
		return -1;
	if ((wd = inotify_add_watch(st.ifd, path, STORE_WATCH_MASK)) == -1)
		return -1;
	if ((w = store_watch_find(wd)) == NULL) {
		if ((w = calloc(1, sizeof(*w))) == NULL) {
			saved = errno;
			inotify_rm_watch(st.ifd, wd);
			errno = saved;
			return -1;
		}
		w->sw_wd = wd;
		TAILQ_INIT(&w->sw_entries);
		w->sw_next = st.watches[(unsigned int)wd % STORE_WATCH_BUCKETS];
		st.watches[(unsigned int)wd % STORE_WATCH_BUCKETS] = w;
	}
	e->se_watch = w;
	return 0;
}

void
store_discard(struct store_entry *e)
{
	if (e->se_watch != NULL)
		store_watch_release(e->se_watch);
	free(e->se_fpath);
	free(e);
}

int
store_same_file(const struct stat *sb, const struct msg_fileid *fi)
{
	return (uint64_t)sb->st_dev == fi->fi_dev &&
	    (uint64_t)sb->st_ino == fi->fi_ino &&
	    (uint64_t)sb->st_size == fi->fi_size &&
	    (int64_t)sb->st_mtim.tv_sec * 1000000000 + sb->st_mtim.tv_nsec ==
	    fi->fi_mtime_ns &&
	    (int64_t)sb->st_ctim.tv_sec * 1000000000 + sb->st_ctim.tv_nsec ==
	    fi->fi_ctime_ns;
}

void
store_revalidate(void)
{
	struct store_entry	*e, *prev;
	struct stat		 sb;
	size_t			 n = 0;

	for (e = TAILQ_LAST(&st.lru, store_lru); e != NULL &&
	    n < STORE_REVALIDATE_MAX; e = prev) {
		prev = TAILQ_PREV(e, store_lru, se_lru);
		if (e->se_fpath == NULL)
			continue;
		n++;
		if (stat(e->se_fpath, &sb) == -1 ||
		    !store_same_file(&sb, &e->se_fid)) {
			log_debug("store_revalidate: entry %u: %s is another "
			    "file now", e->se_id, e->se_fpath);
			store_drop(e, 1);
		}
	}
}

int
store_insert(struct store_entry *e)
{
	struct store_entry	**heap;
	size_t			  b, cap;

	if (st.heap_len == st.heap_cap) {
		cap = st.heap_cap ? st.heap_cap * 2 : 256;
		if ((heap = reallocarray(st.heap, cap, sizeof(*heap))) == NULL)
			return -1;
		st.heap = heap;
		st.heap_cap = cap;
	}
	st.heap_len++;
	store_heap_set(st.heap_len - 1, e);
	store_heap_up(st.heap_len - 1);
	TAILQ_INSERT_TAIL(&st.lru, e, se_lru);
	if (e->se_watch != NULL) {
		TAILQ_INSERT_TAIL(&e->se_watch->sw_entries, e, se_file);
		e->se_watch->sw_count++;
	}
	b = e->se_keyhash & (st.nbuckets - 1);
	e->se_key_next = st.by_key[b];
	st.by_key[b] = e;
	b = store_id_bucket(e->se_id, st.nbuckets);
	e->se_id_next = st.by_id[b];
	st.by_id[b] = e;
	st.count++;
	st.memory += e->se_size;
	if (st.count > st.nbuckets)
		store_rehash(st.nbuckets * 2);
	return 0;
}

static void
store_unhash(struct store_entry *e)
{
	struct store_entry	**ep;

	for (ep = &st.by_key[e->se_keyhash & (st.nbuckets - 1)]; *ep != e;
	    ep = &(*ep)->se_key_next)
		;
	*ep = e->se_key_next;
	for (ep = &st.by_id[store_id_bucket(e->se_id, st.nbuckets)]; *ep != e;
	    ep = &(*ep)->se_id_next)
		;
	*ep = e->se_id_next;
}

void
store_drop(struct store_entry *e, int tell)
{
	struct store_watch	*w = e->se_watch;

	if (tell)
		cached_tell_drop(e->se_id);
	store_unhash(e);
	store_heap_remove(e);
	TAILQ_REMOVE(&st.lru, e, se_lru);
	if (w != NULL) {
		TAILQ_REMOVE(&w->sw_entries, e, se_file);
		w->sw_count--;
		store_watch_release(w);
	}
	st.count--;
	st.memory -= e->se_size;
	st.dropped++;
	free(e->se_fpath);
	free(e);
}

struct store_entry *
store_find(uint32_t site, const char *host, size_t host_len, const char *path,
    size_t path_len)
{
	struct store_entry	*e;
	uint64_t		 h;

	h = store_hash(site, host, host_len, path, path_len);
	for (e = st.by_key[h & (st.nbuckets - 1)]; e != NULL;
	    e = e->se_key_next)
		if (e->se_keyhash == h && e->se_site == site &&
		    e->se_host_len == host_len && e->se_path_len == path_len &&
		    memcmp(e->se_host, host, host_len) == 0 &&
		    memcmp(e->se_path, path, path_len) == 0)
			return e;
	return NULL;
}

struct store_entry *
store_find_id(uint32_t id)
{
	struct store_entry	*e;

	for (e = st.by_id[store_id_bucket(id, st.nbuckets)]; e != NULL;
	    e = e->se_id_next)
		if (e->se_id == id)
			return e;
	return NULL;
}

int
store_make_room(uint64_t size, uint64_t max)
{
	if (size > max)
		return -1;
	while ((st.memory + size > max || st.count >= STORE_MAX_ENTRIES) &&
	    !TAILQ_EMPTY(&st.lru))
		store_drop(TAILQ_FIRST(&st.lru), 1);
	return 0;
}

void
store_hit(uint32_t id, uint32_t hits, uint64_t now_ms)
{
	struct store_entry	*e;

	if ((e = store_find_id(id)) == NULL)
		return;
	e->se_hits += hits;
	e->se_hit_ms = now_ms;
	TAILQ_REMOVE(&st.lru, e, se_lru);
	TAILQ_INSERT_TAIL(&st.lru, e, se_lru);
}

void
store_tick(uint64_t now_ms, uint64_t scavenger_ms)
{
	struct store_entry	*e;

	while (st.heap_len > 0 && st.heap[0]->se_expires_ms <= now_ms)
		store_drop(st.heap[0], 1);
	if (scavenger_ms == 0)
		return;
	/* The LRU list is in hit order: the first one hit recently ends
	 * the walk. */
	while ((e = TAILQ_FIRST(&st.lru)) != NULL &&
	    now_ms - e->se_hit_ms >= scavenger_ms)
		store_drop(e, 1);
}

void
store_clear(int tell)
{
	while (!TAILQ_EMPTY(&st.lru))
		store_drop(TAILQ_FIRST(&st.lru), tell);
}

uint64_t
store_purge(const struct purge *pg, const struct hsd_config *conf)
{
	struct store_entry	*e, *next;
	const char		*site;
	uint64_t		 n = 0;

	for (e = TAILQ_FIRST(&st.lru); e != NULL; e = next) {
		next = TAILQ_NEXT(e, se_lru);
		site = e->se_site < conf->cf_nsites ?
		    conf->cf_sites[e->se_site].st_name : NULL;
		if (purge_match(pg, site, e->se_host, e->se_host_len,
		    e->se_path, e->se_path_len)) {
			store_drop(e, 1);
			n++;
		}
	}
	return n;
}

void
store_stats(struct msg_cache_stats *stats)
{
	stats->cs_entries = st.count;
	stats->cs_memory = st.memory;
	stats->cs_dropped = st.dropped;
}

/* Every entry of w goes; w with the last of them. */
static void
store_watch_drop(struct store_watch *w)
{
	size_t	n;

	for (n = w->sw_count; n > 0; n--)
		store_drop(TAILQ_FIRST(&w->sw_entries), 1);
}

/* Events lost: any file may have changed. */
static void
store_drop_files(void)
{
	struct store_entry	*e, *next;

	for (e = TAILQ_FIRST(&st.lru); e != NULL; e = next) {
		next = TAILQ_NEXT(e, se_lru);
		if (e->se_watch != NULL)
			store_drop(e, 1);
	}
}

static void
store_inotify_event(const struct inotify_event *ev)
{
	struct store_watch	*w;

	if (ev->mask & IN_Q_OVERFLOW) {
		log_warnx("store_inotify_event: events lost; dropping every "
		    "file's entries");
		store_drop_files();
		return;
	}
	/* Unknown: a watch we removed ourselves, its IN_IGNORED late. */
	if ((w = store_watch_find(ev->wd)) == NULL)
		return;
	if (ev->mask & IN_IGNORED)
		w->sw_gone = 1;
	log_debug("store_inotify_event: wd %d: event 0x%x; dropping %zu "
	    "entries", ev->wd, ev->mask, w->sw_count);
	store_watch_drop(w);
}

static void
store_inotify(evutil_socket_t fd, short ev, void *arg)
{
	char				 buf[4096]
	    __attribute__((aligned(__alignof__(struct inotify_event))));
	const struct inotify_event	*ie;
	ssize_t				 n;
	size_t				 off;

	(void)ev;
	(void)arg;
	for (;;) {
		if ((n = read(fd, buf, sizeof(buf))) == -1) {
			if (errno != EAGAIN && errno != EINTR)
				log_warn("store_inotify: read");
			if (errno != EINTR)
				return;
			continue;
		}
		for (off = 0; off + sizeof(*ie) <= (size_t)n;
		    off += sizeof(*ie) + ie->len) {
			ie = (const struct inotify_event *)(buf + off);
			store_inotify_event(ie);
		}
	}
}

static void
store_seen_unlink(struct store_seen *ss)
{
	struct store_seen	**sp;

	for (sp = &st.seen_buckets[ss->ss_hash % STORE_ACTIVITY_KEYS];
	    *sp != ss; sp = &(*sp)->ss_next)
		;
	*sp = ss->ss_next;
	ss->ss_used = 0;
}

int
store_activity(uint32_t site, const char *host, size_t host_len,
    const char *path, size_t path_len, uint64_t now_ms, uint64_t period_ms)
{
	struct store_seen	*ss;
	uint64_t		 h;
	size_t			 b;
	int			 active;

	if (period_ms == 0)
		return 1;
	h = store_hash(site, host, host_len, path, path_len);
	b = h % STORE_ACTIVITY_KEYS;
	for (ss = st.seen_buckets[b]; ss != NULL; ss = ss->ss_next)
		if (ss->ss_hash == h)
			break;
	if (ss == NULL) {
		/* The least recently offered key is forgotten. */
		ss = TAILQ_FIRST(&st.seen_age);
		if (ss->ss_used)
			store_seen_unlink(ss);
		ss->ss_hash = h;
		ss->ss_used = 1;
		ss->ss_next = st.seen_buckets[b];
		st.seen_buckets[b] = ss;
		active = 0;
	} else
		active = now_ms - ss->ss_ms <= period_ms;
	ss->ss_ms = now_ms;
	TAILQ_REMOVE(&st.seen_age, ss, ss_age);
	TAILQ_INSERT_TAIL(&st.seen_age, ss, ss_age);
	return active;
}

void
store_activity_clear(void)
{
	struct store_seen	*ss;

	TAILQ_FOREACH(ss, &st.seen_age, ss_age)
		if (ss->ss_used)
			store_seen_unlink(ss);
}
