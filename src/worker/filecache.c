/*
 * The worker's open-file cache: what static.c needs to answer a request
 * for a file it served before -- its stat, the response head's lines that
 * do not change per request, and a small file's bytes or a large file's
 * open fd -- so that a hit makes no system call.  Entries are keyed by
 * (root directory fd, the name static_lookup() opens below it), bounded
 * in number, bytes and fds, and evicted least recently used first.
 *
 * An entry must never outlive the file it describes, so every entry is
 * watched with inotify: the file for its content, attributes (which is
 * also how an unlink or a rename over it shows) and its own moves, and
 * each directory between the root and the file for being moved, deleted
 * or changing mode.  Any event on a watch drops the entries that depend
 * on it, and the next request opens the file again; an overflowed event
 * queue drops everything.  Watches are added by path, in this worker's
 * view of the file system (its chroot), so an entry is only made once
 * that path, looked at after the watches were in place, still leads to
 * the inode that was opened, from the root that was opened.  A name that
 * is reached through a symlink is not cached at all: the link, and the
 * directories it leads through, are not on the path the watches follow.
 * Nor is a file on a network file system, where inotify hears only of
 * the changes made through this machine.  Whatever cannot be watched is
 * served uncached, as before.
 */
#include "config.h"

#include <sys/inotify.h>
#include <sys/queue.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/vfs.h>

#include <linux/magic.h>

#include <errno.h>
#include <limits.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>

#include "log.h"
#include "worker.h"

/* Per worker: the index of a large site is hot, the rest is not. */
#define FC_MAX_ENTRIES		1024
#define FC_MAX_BYTES		(16 * 1024 * 1024)
#define FC_BUCKETS		2048		/* a power of 2 */
#define FC_WATCH_BUCKETS	1024		/* a power of 2 */
/* Directories between the root and a file that are watched, at most. */
#define FC_MAX_DIRS		32

#define FC_FILE_EVENTS	(IN_MODIFY | IN_ATTRIB | IN_CLOSE_WRITE | \
			    IN_MOVE_SELF | IN_DELETE_SELF)
#define FC_DIR_EVENTS	(IN_ATTRIB | IN_MOVE_SELF | IN_DELETE_SELF)

#ifndef GFS2_MAGIC
#define GFS2_MAGIC	0x01161970	/* linux/gfs2_ondisk.h */
#endif

/* File systems other machines change behind inotify's back. */
static const unsigned long fc_remote_fs[] = {
	NFS_SUPER_MAGIC, SMB_SUPER_MAGIC, CIFS_SUPER_MAGIC, SMB2_SUPER_MAGIC,
	FUSE_SUPER_MAGIC, CEPH_SUPER_MAGIC, V9FS_MAGIC, AFS_SUPER_MAGIC,
	AFS_FS_MAGIC, CODA_SUPER_MAGIC, OCFS2_SUPER_MAGIC, GFS2_MAGIC,
};

struct fc_entry;

/* One inotify watch, shared by every entry whose file or path it is on. */
struct fc_watch {
	struct fc_watch		*fw_next;	/* hash chain by wd */
	int			 fw_wd;
	int			 fw_dir;
	int			 fw_gone;	/* the kernel removed it */
	uint32_t		 fw_refs;
	LIST_HEAD(, fc_link)	 fw_links;
};

struct fc_link {
	LIST_ENTRY(fc_link)	 fl_next;
	struct fc_watch		*fl_watch;
	struct fc_entry		*fl_entry;
};

struct fc_entry {
	struct fc_entry		*fe_next;	/* hash chain */
	TAILQ_ENTRY(fc_entry)	 fe_lru;
	uint32_t		 fe_hash;
	int			 fe_rootfd;
	char			*fe_key;
	size_t			 fe_bytes;	/* against the cap */
	int			 fe_live;	/* in the table */
	uint32_t		 fe_refs;	/* requests using it */
	int			 fe_nlinks;
	struct fc_link		*fe_links;
	struct wrk_file		 fe_file;
};

static int			 fc_fd = -1;	/* inotify; -1: off */
static struct event		*fc_ev;
static struct fc_entry		*fc_table[FC_BUCKETS];
static struct fc_watch		*fc_watches[FC_WATCH_BUCKETS];
static TAILQ_HEAD(fc_lru_head, fc_entry) fc_lru =
				    TAILQ_HEAD_INITIALIZER(fc_lru);
static uint32_t			 fc_nentries;
static size_t			 fc_bytes;
static uint32_t			 fc_nfds;
static uint32_t			 fc_max_fds;
static int			 fc_said_full;	/* watch limit logged */
static char			 fc_path[PATH_MAX];

static void	filecache_notified(evutil_socket_t, short, void *);

static uint32_t
fc_hash(int rootfd, const char *key)
{
	uint32_t	h = 2166136261u ^ (uint32_t)rootfd;

	while (*key != '\0')
		h = (h ^ (unsigned char)*key++) * 16777619u;
	return h;
}

static struct fc_watch *
fc_watch_find(int wd)
{
	struct fc_watch	*w;

	for (w = fc_watches[wd & (FC_WATCH_BUCKETS - 1)]; w != NULL;
	    w = w->fw_next)
		if (w->fw_wd == wd)
			return w;
	return NULL;
}

/* Watch path (a directory or the file); one more reference, or NULL. */
static struct fc_watch *
fc_watch_get(const char *path, int dir)
{
	struct fc_watch	*w, **wp;
	uint32_t	 mask;
	int		 wd;

	/* Neither follows a symlink: none is on a path that is cached,
	 * so one found there now was put there since the file was opened. */
	mask = IN_DONT_FOLLOW | (dir ? FC_DIR_EVENTS | IN_ONLYDIR :
	    FC_FILE_EVENTS);
	if ((wd = inotify_add_watch(fc_fd, path, mask)) == -1) {
		/* Gone or replaced since it was opened, or a directory
		 * the pool may pass through but not read: not cached. */
		if (errno == ENOENT || errno == ENOTDIR || errno == EACCES)
			return NULL;
		if (errno != ENOSPC)
			log_warn("fc_watch_get: inotify_add_watch %s", path);
		else if (!fc_said_full) {
			log_warnx("fc_watch_get: the inotify watch limit is "
			    "reached (fs.inotify.max_user_watches); files "
			    "are served uncached");
			fc_said_full = 1;
		}
		return NULL;
	}
	/* The same inode has one watch, whatever the path to it. */
	if ((w = fc_watch_find(wd)) != NULL && !w->fw_gone) {
		w->fw_refs++;
		return w;
	}
	if ((w = calloc(1, sizeof(*w))) == NULL) {
		log_warn("fc_watch_get: calloc");
		if (fc_watch_find(wd) == NULL)
			inotify_rm_watch(fc_fd, wd);
		return NULL;
	}
	w->fw_wd = wd;
	w->fw_dir = dir;
	w->fw_refs = 1;
	LIST_INIT(&w->fw_links);
	wp = &fc_watches[wd & (FC_WATCH_BUCKETS - 1)];
	w->fw_next = *wp;
	*wp = w;
	return w;
}

static void
fc_watch_put(struct fc_watch *w)
{
	struct fc_watch	**wp;

	if (--w->fw_refs > 0)
		return;
	for (wp = &fc_watches[w->fw_wd & (FC_WATCH_BUCKETS - 1)]; *wp != w;
	    wp = &(*wp)->fw_next)
		;
	*wp = w->fw_next;
	/* EINVAL: the kernel removed it (the file is gone), and the
	 * IN_IGNORED that says so is still queued. */
	if (!w->fw_gone && inotify_rm_watch(fc_fd, w->fw_wd) == -1 &&
	    errno != EINVAL)
		log_warn("fc_watch_put: inotify_rm_watch");
	free(w);
}

static void
fc_free(struct fc_entry *e)
{
	if (e->fe_file.wf_fd != -1)
		close(e->fe_file.wf_fd);
	free(e);
}

/* Out of the table: no request finds it again. */
static void
fc_drop(struct fc_entry *e)
{
	struct fc_entry	**ep;
	int		  i;

	for (ep = &fc_table[e->fe_hash & (FC_BUCKETS - 1)]; *ep != e;
	    ep = &(*ep)->fe_next)
		;
	*ep = e->fe_next;
	TAILQ_REMOVE(&fc_lru, e, fe_lru);
	for (i = 0; i < e->fe_nlinks; i++) {
		LIST_REMOVE(&e->fe_links[i], fl_next);
		fc_watch_put(e->fe_links[i].fl_watch);
	}
	fc_nentries--;
	fc_bytes -= e->fe_bytes;
	if (e->fe_file.wf_fd != -1)
		fc_nfds--;
	e->fe_live = 0;
	/* A request still sending from its fd closes it when it is done. */
	if (e->fe_refs == 0)
		fc_free(e);
}

/* Everything a watch's event may have made stale. */
static void
fc_watch_fired(struct fc_watch *w)
{
	struct fc_link	*l;

	w->fw_refs++;
	while ((l = LIST_FIRST(&w->fw_links)) != NULL)
		fc_drop(l->fl_entry);
	fc_watch_put(w);
}

static void
fc_flush(void)
{
	struct fc_entry	*e;

	while ((e = TAILQ_FIRST(&fc_lru)) != NULL)
		fc_drop(e);
}

/* The least recently used entry that holds an fd. */
static struct fc_entry *
fc_lru_fd(void)
{
	struct fc_entry	*e;

	TAILQ_FOREACH_REVERSE(e, &fc_lru, fc_lru_head, fe_lru)
		if (e->fe_file.wf_fd != -1)
			return e;
	return NULL;
}

void
filecache_init(struct event_base *base, uint32_t fds_kept)
{
	struct rlimit	rl;

	if ((fc_fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC)) == -1) {
		log_warn("filecache_init: inotify_init1; files are served "
		    "uncached");
		return;
	}
	/* Large files keep their fd open: only as many as the worker can
	 * spare beside the sockets and files its requests hold. */
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur > fds_kept)
		fc_max_fds = (rl.rlim_cur - fds_kept) / 2;
	if (fc_max_fds > FC_MAX_ENTRIES)
		fc_max_fds = FC_MAX_ENTRIES;
	/* Ahead of requests that become ready in the same turn: a change
	 * the worker has heard of is never answered from the cache. */
	if ((fc_ev = event_new(base, fc_fd, EV_READ | EV_PERSIST,
	    filecache_notified, NULL)) == NULL ||
	    event_priority_set(fc_ev, 0) == -1 || event_add(fc_ev, NULL) == -1)
		fatalx("filecache_init: event setup failed");
}

static void
filecache_notified(evutil_socket_t fd, short ev, void *arg)
{
	static char			 buf[16384]
	    __attribute__((aligned(__alignof__(struct inotify_event))));
	const struct inotify_event	*ie;
	struct fc_watch			*w;
	ssize_t				 n, i;

	(void)ev;
	(void)arg;
	if ((n = read(fd, buf, sizeof(buf))) == -1) {
		if (errno == EAGAIN || errno == EINTR)
			return;
		/* Changes may go unseen from now on: stop caching. */
		log_warn("filecache_notified: read; files are served uncached");
		fc_flush();
		event_del(fc_ev);
		close(fc_fd);
		fc_fd = -1;
		return;
	}
	for (i = 0; i + (ssize_t)sizeof(*ie) <= n;
	    i += sizeof(*ie) + ie->len) {
		ie = (const struct inotify_event *)(buf + i);
		if (ie->mask & IN_Q_OVERFLOW) {
			log_info("filecache_notified: inotify queue overflow; "
			    "cache dropped");
			fc_flush();
			continue;
		}
		if ((w = fc_watch_find(ie->wd)) == NULL)
			continue;
		/* A directory's attribute events also come for each file
		 * in it, by name: those files have watches of their own. */
		if (w->fw_dir && ie->len > 0)
			continue;
		if (ie->mask & IN_IGNORED)
			w->fw_gone = 1;
		fc_watch_fired(w);
	}
}

/* A hit, with a reference the caller returns with filecache_put(). */
struct fc_entry *
filecache_get(int rootfd, const char *key)
{
	struct fc_entry	*e;
	uint32_t	 h;

	if (fc_nentries == 0)
		return NULL;
	h = fc_hash(rootfd, key);
	for (e = fc_table[h & (FC_BUCKETS - 1)]; e != NULL; e = e->fe_next)
		if (e->fe_hash == h && e->fe_rootfd == rootfd &&
		    strcmp(e->fe_key, key) == 0)
			break;
	if (e == NULL)
		return NULL;
	if (TAILQ_FIRST(&fc_lru) != e) {
		TAILQ_REMOVE(&fc_lru, e, fe_lru);
		TAILQ_INSERT_HEAD(&fc_lru, e, fe_lru);
	}
	e->fe_refs++;
	return e;
}

void
filecache_put(struct fc_entry *e)
{
	if (--e->fe_refs == 0 && !e->fe_live)
		fc_free(e);
}

const struct wrk_file *
filecache_file(const struct fc_entry *e)
{
	return &e->fe_file;
}

int
filecache_enabled(void)
{
	return fc_fd != -1;
}

/*
 * Watch the directories of fname below rootpath, then fname itself:
 * w[0..*nw), each with a reference.  fc_path holds the file's path after.
 */
static int
fc_watch_path(const char *rootpath, const char *fname, struct fc_watch **w,
    int *nw)
{
	size_t	 rlen = strlen(rootpath), i, start;
	char	*p;

	*nw = 0;
	while (rlen > 0 && rootpath[rlen - 1] == '/')
		rlen--;
	if (rlen + 1 + strlen(fname) >= sizeof(fc_path))
		return -1;
	memcpy(fc_path, rootpath, rlen);
	fc_path[rlen] = '/';
	strcpy(fc_path + rlen + 1, fname);
	p = fc_path + rlen + 1;
	for (i = start = 0;; i++) {
		if (p[i] != '/' && p[i] != '\0')
			continue;
		/* Only plain names: "", "." and ".." would make the path
		 * the watches follow another than the one opened. */
		if (i == start || (i - start == 1 && p[start] == '.') ||
		    (i - start == 2 && p[start] == '.' && p[start + 1] == '.'))
			return -1;
		if (p[i] == '\0')
			break;
		if (*nw == FC_MAX_DIRS)
			return -1;
		p[i] = '\0';
		w[*nw] = fc_watch_get(fc_path, 1);
		p[i] = '/';
		if (w[*nw] == NULL)
			return -1;
		(*nw)++;
		start = i + 1;
	}
	if ((w[*nw] = fc_watch_get(fc_path, 0)) == NULL)
		return -1;
	(*nw)++;
	return 0;
}

/* Does the path now lead to what was opened, from the root opened? */
static int
fc_same_file(int rootfd, const char *rootpath, const struct stat *opened)
{
	struct stat	st, rst;

	if (lstat(fc_path, &st) == -1 || st.st_dev != opened->st_dev ||
	    st.st_ino != opened->st_ino)
		return 0;
	if (stat(rootpath, &st) == -1 || fstat(rootfd, &rst) == -1 ||
	    st.st_dev != rst.st_dev || st.st_ino != rst.st_ino)
		return 0;
	return 1;
}

/* Is fd's file on a file system inotify cannot keep track of? */
static int
fc_remote(int fd)
{
	struct statfs	sfs;
	size_t		i;

	if (fstatfs(fd, &sfs) == -1) {
		log_warn("fc_remote: fstatfs");
		return 1;
	}
	for (i = 0; i < sizeof(fc_remote_fs) / sizeof(fc_remote_fs[0]); i++)
		if ((unsigned long)sfs.f_type == fc_remote_fs[i])
			return 1;
	return 0;
}

/* Room for one more entry of bytes, holding an fd or not. */
static int
fc_make_room(size_t bytes, int fd)
{
	struct fc_entry	*e;

	if (fd && fc_max_fds == 0)
		return -1;
	while (fd && fc_nfds >= fc_max_fds && (e = fc_lru_fd()) != NULL)
		fc_drop(e);
	while ((fc_nentries >= FC_MAX_ENTRIES || fc_bytes + bytes >
	    FC_MAX_BYTES) && (e = TAILQ_LAST(&fc_lru, fc_lru_head)) != NULL)
		fc_drop(e);
	return 0;
}

/*
 * Cache f, just opened as fname below rootfd (rootpath in this worker's
 * view) for key.  On success the entry owns f's fd, and the caller holds
 * a reference to it; NULL leaves f as it was, to be served uncached.
 */
struct fc_entry *
filecache_add(int rootfd, const char *key, const char *rootpath,
    const char *fname, struct wrk_file *f)
{
	struct fc_watch	*w[FC_MAX_DIRS + 1];
	struct fc_entry	*e = NULL, **ep;
	struct stat	 st;
	size_t		 keylen = strlen(key), namelen = strlen(fname);
	size_t		 bodylen, bytes;
	ssize_t		 n;
	int		 i, nw = 0, small;

	if (fc_fd == -1 || rootpath == NULL || fc_remote(f->wf_fd))
		return NULL;
	if (fc_watch_path(rootpath, fname, w, &nw) == -1 ||
	    !fc_same_file(rootfd, rootpath, &f->wf_st))
		goto fail;
	/* Only what is seen from now on is sure to be evented. */
	if (fstat(f->wf_fd, &st) == -1) {
		log_warn("filecache_add: fstat %s", fname);
		goto fail;
	}
	if (!S_ISREG(st.st_mode))
		goto fail;
	small = st.st_size <= WRK_SMALL_BODY;
	bodylen = small ? (size_t)st.st_size : 0;
	bytes = sizeof(*e) + nw * sizeof(struct fc_link) + keylen + 1 +
	    namelen + 1 + bodylen;
	if (fc_make_room(bytes, !small) == -1)
		goto fail;
	if ((e = malloc(bytes)) == NULL) {
		log_warn("filecache_add: malloc");
		goto fail;
	}
	memset(e, 0, sizeof(*e));
	e->fe_links = (struct fc_link *)(e + 1);
	e->fe_key = (char *)(e->fe_links + nw);
	memcpy(e->fe_key, key, keylen + 1);
	e->fe_file.wf_name = e->fe_key + keylen + 1;
	memcpy((char *)e->fe_file.wf_name, fname, namelen + 1);
	e->fe_file.wf_st = st;
	e->fe_file.wf_fd = -1;
	if (bodylen > 0) {
		e->fe_file.wf_body = e->fe_file.wf_name + namelen + 1;
		n = pread(f->wf_fd, (char *)e->fe_file.wf_body, bodylen, 0);
		if (n != (ssize_t)bodylen) {
			if (n == -1)
				log_warn("filecache_add: pread %s", fname);
			goto fail;
		}
	}
	static_describe(&e->fe_file, fname);

	/* Its own from here on. */
	if (small)
		close(f->wf_fd);
	else {
		e->fe_file.wf_fd = f->wf_fd;
		fc_nfds++;
	}
	f->wf_fd = -1;
	e->fe_rootfd = rootfd;
	e->fe_hash = fc_hash(rootfd, key);
	e->fe_bytes = bytes;
	e->fe_live = 1;
	e->fe_refs = 1;
	e->fe_nlinks = nw;
	for (i = 0; i < nw; i++) {
		e->fe_links[i].fl_watch = w[i];
		e->fe_links[i].fl_entry = e;
		LIST_INSERT_HEAD(&w[i]->fw_links, &e->fe_links[i], fl_next);
	}
	ep = &fc_table[e->fe_hash & (FC_BUCKETS - 1)];
	e->fe_next = *ep;
	*ep = e;
	TAILQ_INSERT_HEAD(&fc_lru, e, fe_lru);
	fc_nentries++;
	fc_bytes += bytes;
	return e;
fail:
	free(e);
	for (i = 0; i < nw; i++)
		fc_watch_put(w[i]);
	return NULL;
}
