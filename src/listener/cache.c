/*
 * The listener's side of the response cache (msg.h, "The response
 * cache"): the index of the entries hsd-cached published, hits answered
 * straight from their read-only mappings -- no other process involved,
 * as HTTP.sys answers from its kernel-mode cache -- and the offers of
 * workers passed on to hsd-cached with what only the listener knows of
 * the request.
 *
 * The listener never makes an entry: it maps what hsd-cached sealed,
 * checks the seals and every offset itself, and drops an entry when
 * told, when it expires, on a reload and when a new hsd-cached starts.
 * An entry being sent to a slow client is held until that send ends.
 */
#include "config.h"

#include <sys/mman.h>
#include <sys/queue.h>
#include <sys/sendfile.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/uio.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>

#include "cache.h"
#include "chan.h"
#include "clock.h"
#include "conf.h"
#include "head.h"
#include "httpdate.h"
#include "listener.h"
#include "log.h"
#include "logrec.h"
#include "msg.h"

#define LC_SEALS	(F_SEAL_WRITE | F_SEAL_SHRINK | F_SEAL_GROW)
#define LC_REPORT_MS	1000
#define LC_HASH_MIN	1024
/* A body this large goes out with sendfile() from the entry's memfd,
 * without a copy through the socket's send(); smaller ones go with the
 * head in one sendmsg(). */
#define LC_SENDFILE_MIN	(32 * 1024)
#define LC_304		"HTTP/1.1 304 Not Modified\r\nServer: hsd/" \
			    PACKAGE_VERSION "\r\n"

struct lc_entry {
	uint32_t		 e_id;
	uint32_t		 e_site;
	uint32_t		 e_hash;
	char			*e_host;	/* lowercase */
	uint16_t		 e_host_len;
	char			*e_path;
	uint16_t		 e_path_len;
	const char		*e_map;		/* read-only, sealed */
	size_t			 e_size;
	int			 e_fd;		/* the memfd, for sendfile(); -1 */
	uint32_t		 e_head_len;
	uint64_t		 e_body_len;
	uint32_t		 e_etag_off, e_etag_len;
	uint32_t		 e_lm_off, e_lm_len;
	int64_t			 e_lm_time;
	uint64_t		 e_created_ms;
	uint64_t		 e_expires_ms;
	uint32_t		 e_refs;	/* the index, and sends */
	uint32_t		 e_hits;	/* since the last report */
	int			 e_indexed;
	struct lc_entry		*e_next;	/* hash chain by key */
	struct lc_entry		*e_idnext;	/* hash chain by id */
	TAILQ_ENTRY(lc_entry)	 e_hitentry;	/* hit since the last report */
};

static struct {
	struct chan		*chan;		/* to hsd-cached, NULL: none */
	struct lc_entry		**bykey;
	struct lc_entry		**byid;
	size_t			 nbuckets;
	size_t			 nentries;
	TAILQ_HEAD(, lc_entry)	 hitlist;
	struct event		*report;
	uint64_t		 hits, misses;
	uint64_t		 refused[CR_NREASONS];
	int			 dirty;		/* something to report */
	time_t			 date_t;
	char			 date[HTTPDATE_LEN + 1];
} lc;

static void	lc_report(evutil_socket_t, short, void *);

static uint32_t
lc_hash(uint32_t site, const char *host, size_t hostlen, const char *path,
    size_t pathlen)
{
	uint32_t	h = 2166136261u ^ site;
	size_t		i;

	for (i = 0; i < hostlen; i++) {
		unsigned char	ch = host[i];

		if (ch >= 'A' && ch <= 'Z')
			ch += 'a' - 'A';
		h = (h ^ ch) * 16777619u;
	}
	h = (h ^ '/') * 16777619u;
	for (i = 0; i < pathlen; i++)
		h = (h ^ (unsigned char)path[i]) * 16777619u;
	return h;
}

static int
lc_grow(void)
{
	struct lc_entry	**bykey, **byid, *e, *next;
	size_t		  n = lc.nbuckets ? lc.nbuckets * 2 : LC_HASH_MIN, i;

	if ((bykey = calloc(n, sizeof(*bykey))) == NULL ||
	    (byid = calloc(n, sizeof(*byid))) == NULL) {
		free(bykey);
		return -1;
	}
	for (i = 0; i < lc.nbuckets; i++) {
		for (e = lc.bykey[i]; e != NULL; e = next) {
			next = e->e_next;
			e->e_next = bykey[e->e_hash & (n - 1)];
			bykey[e->e_hash & (n - 1)] = e;
		}
		for (e = lc.byid[i]; e != NULL; e = next) {
			next = e->e_idnext;
			e->e_idnext = byid[e->e_id & (n - 1)];
			byid[e->e_id & (n - 1)] = e;
		}
	}
	free(lc.bykey);
	free(lc.byid);
	lc.bykey = bykey;
	lc.byid = byid;
	lc.nbuckets = n;
	return 0;
}

static void
lc_unref(struct lc_entry *e)
{
	if (--e->e_refs > 0)
		return;
	munmap((void *)e->e_map, e->e_size);
	if (e->e_fd != -1)
		close(e->e_fd);
	free(e);
}

/* Out of the index; what is being sent from it is sent whole. */
static void
lc_unindex(struct lc_entry *e)
{
	struct lc_entry	**pp;

	if (!e->e_indexed)
		return;
	for (pp = &lc.bykey[e->e_hash & (lc.nbuckets - 1)]; *pp != e;
	    pp = &(*pp)->e_next)
		;
	*pp = e->e_next;
	for (pp = &lc.byid[e->e_id & (lc.nbuckets - 1)]; *pp != e;
	    pp = &(*pp)->e_idnext)
		;
	*pp = e->e_idnext;
	/* Its hits are reported no more: the entry is gone there too. */
	if (e->e_hits > 0) {
		TAILQ_REMOVE(&lc.hitlist, e, e_hitentry);
		e->e_hits = 0;
	}
	e->e_indexed = 0;
	lc.nentries--;
	lc_unref(e);
}

static struct lc_entry *
lc_find_id(uint32_t id)
{
	struct lc_entry	*e;

	if (lc.nbuckets == 0)
		return NULL;
	for (e = lc.byid[id & (lc.nbuckets - 1)]; e != NULL; e = e->e_idnext)
		if (e->e_id == id)
			return e;
	return NULL;
}

static struct lc_entry *
lc_find(uint32_t site, const char *host, size_t hostlen, const char *path,
    size_t pathlen)
{
	struct lc_entry	*e;
	uint32_t	 h;

	if (lc.nentries == 0)
		return NULL;
	h = lc_hash(site, host, hostlen, path, pathlen);
	for (e = lc.bykey[h & (lc.nbuckets - 1)]; e != NULL; e = e->e_next)
		if (e->e_hash == h && e->e_site == site &&
		    e->e_host_len == hostlen && e->e_path_len == pathlen &&
		    strncasecmp(e->e_host, host, hostlen) == 0 &&
		    memcmp(e->e_path, path, pathlen) == 0)
			return e;
	return NULL;
}

/* Every entry out of the index: a reload, a new hsd-cached. */
void
cache_flush(void)
{
	struct lc_entry	*e;
	size_t		 i;

	for (i = 0; i < lc.nbuckets; i++)
		while ((e = lc.bykey[i]) != NULL)
			lc_unindex(e);
}

/* ------------------------------------------------------------------ */
/* Messages from hsd-cached */

/*
 * MSG_CACHE_ENTRY: checked as if hsd-cached were hostile too -- the
 * seals, the size, every offset -- since what is mapped here goes to
 * clients as it is.
 */
static void
lc_entry_new(const struct msg_hdr *hdr, const void *data, int fd)
{
	struct msg_cache_entry	 ce;
	struct lc_entry		*e = NULL, *old;
	struct stat		 st;
	const char		*key = (const char *)data + sizeof(ce);
	void			*map;
	int			 seals;

	if (hdr->mh_len < sizeof(ce))
		goto bad;
	memcpy(&ce, data, sizeof(ce));
	if (hdr->mh_len != sizeof(ce) + ce.ce_host_len + ce.ce_path_len ||
	    ce.ce_path_len == 0 || fd == -1)
		goto bad;
	if (ce.ce_gen != lenv->le_gen->lg_gen ||
	    ce.ce_site >= lenv->le_conf->cf_nsites) {
		/* Made for a configuration before a reload. */
		close(fd);
		return;
	}
	if ((seals = fcntl(fd, F_GET_SEALS)) == -1 ||
	    (seals & LC_SEALS) != LC_SEALS || fstat(fd, &st) == -1 ||
	    ce.ce_head_len < 16 || ce.ce_body_len > (uint64_t)st.st_size ||
	    (uint64_t)st.st_size != ce.ce_head_len + ce.ce_body_len ||
	    (ce.ce_etag_len > 0 && (ce.ce_etag_off > ce.ce_head_len ||
	    ce.ce_etag_len > ce.ce_head_len - ce.ce_etag_off)) ||
	    (ce.ce_lm_len > 0 && (ce.ce_lm_off > ce.ce_head_len ||
	    ce.ce_lm_len > ce.ce_head_len - ce.ce_lm_off)))
		goto bad;
	map = mmap(NULL, st.st_size, PROT_READ, MAP_SHARED, fd, 0);
	if (ce.ce_body_len < LC_SENDFILE_MIN) {
		close(fd);
		fd = -1;
	}
	if (map == MAP_FAILED) {
		log_warn("lc_entry_new: mmap");
		if (fd != -1)
			close(fd);
		return;
	}
	if (memcmp(map, "HTTP/1.", 7) != 0 ||
	    memcmp((char *)map + 8, " 200", 4) != 0 ||
	    memcmp((char *)map + ce.ce_head_len - 2, "\r\n", 2) != 0 ||
	    (e = calloc(1, sizeof(*e) + ce.ce_host_len + ce.ce_path_len +
	    2)) == NULL || (lc.nentries + 1 > lc.nbuckets &&
	    lc_grow() == -1)) {
		if (e != NULL)
			free(e);
		munmap(map, st.st_size);
		if (fd != -1)
			close(fd);
		log_warnx("lc_entry_new: entry %u refused", ce.ce_id);
		return;
	}
	e->e_fd = fd;
	e->e_id = ce.ce_id;
	e->e_site = ce.ce_site;
	e->e_host = (char *)(e + 1);
	e->e_host_len = ce.ce_host_len;
	memcpy(e->e_host, key, ce.ce_host_len);
	e->e_path = e->e_host + ce.ce_host_len + 1;
	e->e_path_len = ce.ce_path_len;
	memcpy(e->e_path, key + ce.ce_host_len, ce.ce_path_len);
	e->e_map = map;
	e->e_size = st.st_size;
	e->e_head_len = ce.ce_head_len;
	e->e_body_len = ce.ce_body_len;
	e->e_etag_off = ce.ce_etag_off;
	e->e_etag_len = ce.ce_etag_len;
	e->e_lm_off = ce.ce_lm_off;
	e->e_lm_len = ce.ce_lm_len;
	e->e_lm_time = ce.ce_lm_time;
	e->e_created_ms = ce.ce_created_ms;
	e->e_expires_ms = ce.ce_expires_ms;
	e->e_hash = lc_hash(e->e_site, e->e_host, e->e_host_len, e->e_path,
	    e->e_path_len);
	if ((old = lc_find(e->e_site, e->e_host, e->e_host_len, e->e_path,
	    e->e_path_len)) != NULL)
		lc_unindex(old);
	if ((old = lc_find_id(e->e_id)) != NULL)
		lc_unindex(old);
	e->e_refs = 1;
	e->e_indexed = 1;
	e->e_next = lc.bykey[e->e_hash & (lc.nbuckets - 1)];
	lc.bykey[e->e_hash & (lc.nbuckets - 1)] = e;
	e->e_idnext = lc.byid[e->e_id & (lc.nbuckets - 1)];
	lc.byid[e->e_id & (lc.nbuckets - 1)] = e;
	lc.nentries++;
	log_debug("lc_entry_new: entry %u: %.*s%.*s, %llu bytes", e->e_id,
	    (int)e->e_host_len, e->e_host, (int)e->e_path_len, e->e_path,
	    (unsigned long long)e->e_size);
	return;
bad:
	log_warnx("lc_entry_new: a malformed entry (%u bytes); dropped",
	    hdr->mh_len);
	if (fd != -1)
		close(fd);
}

static void
lc_msg(struct chan *ch, const struct msg_hdr *hdr, const void *data, int fd,
    void *arg)
{
	struct lc_entry	*e;

	(void)arg;
	if (ch != lc.chan) {
		if (fd != -1)
			close(fd);
		return;
	}
	switch (hdr->mh_type) {
	case MSG_CACHE_ENTRY:
		lc_entry_new(hdr, data, fd);
		return;
	case MSG_CACHE_DROP:
		if ((e = lc_find_id(hdr->mh_id)) != NULL)
			lc_unindex(e);
		break;
	case MSG_CACHE_SYNC:
		/* Everything before it is applied: a purge is done. */
		if (chan_send(lc.chan, MSG_CACHE_SYNCED, hdr->mh_id, NULL, 0,
		    -1) == -1)
			log_warn("lc_msg: answering a sync");
		break;
	default:
		log_warnx("lc_msg: unexpected message type %u", hdr->mh_type);
		break;
	}
	if (fd != -1)
		close(fd);
}

static void
lc_gone(struct chan *ch, void *arg)
{
	(void)arg;
	/* What is mapped is served on until a new one says otherwise. */
	if (ch == lc.chan) {
		log_warnx("lc_gone: hsd-cached is gone; serving the entries "
		    "held");
		lc.chan = NULL;
	}
	chan_free(ch);
}

/* MSG_PM_CACHED: a new hsd-cached, or a new us: it starts empty. */
void
cache_connect(int fd)
{
	if (lc.chan != NULL)
		chan_free(lc.chan);
	cache_flush();
	if ((lc.chan = chan_new(lenv->le_base, fd, "cache", lc_msg, lc_gone,
	    NULL)) == NULL)
		log_warnx("cache_connect: no channel to hsd-cached");
}

void
cache_init(void)
{
	struct timeval	tv;

	TAILQ_INIT(&lc.hitlist);
	conf_timeval(LC_REPORT_MS, &tv);
	if ((lc.report = event_new(lenv->le_base, -1, EV_PERSIST, lc_report,
	    NULL)) == NULL || event_add(lc.report, &tv) == -1)
		fatalx("cache_init: timer setup failed");
}

/* Hits and misses since the last report, for LRU, the scavenger and
 * hsdctl cache. */
static void
lc_report(evutil_socket_t fd, short ev, void *arg)
{
	struct msg_cache_report	 cr;
	struct msg_cache_hit	 hits[1024];
	struct iovec		 iov[2];
	struct lc_entry		*e;
	uint32_t		 n;

	(void)fd;
	(void)ev;
	(void)arg;
	if (!lc.dirty || lc.chan == NULL)
		return;
	do {
		memset(&cr, 0, sizeof(cr));
		cr.cr_hits = lc.hits;
		cr.cr_misses = lc.misses;
		memcpy(cr.cr_refused, lc.refused, sizeof(cr.cr_refused));
		lc.hits = lc.misses = 0;
		memset(lc.refused, 0, sizeof(lc.refused));
		for (n = 0; n < sizeof(hits) / sizeof(hits[0]) &&
		    (e = TAILQ_FIRST(&lc.hitlist)) != NULL; n++) {
			TAILQ_REMOVE(&lc.hitlist, e, e_hitentry);
			hits[n].ch_id = e->e_id;
			hits[n].ch_hits = e->e_hits;
			e->e_hits = 0;
		}
		cr.cr_n = n;
		iov[0].iov_base = &cr;
		iov[0].iov_len = sizeof(cr);
		iov[1].iov_base = hits;
		iov[1].iov_len = n * sizeof(hits[0]);
		if (chan_sendv(lc.chan, MSG_CACHE_REPORT, 0, iov, 2, -1) == -1) {
			log_warn("lc_report");
			break;
		}
	} while (!TAILQ_EMPTY(&lc.hitlist));
	lc.dirty = 0;
}

/* ------------------------------------------------------------------ */
/* Requests */

/*
 * May c's request be answered from the cache, or its response offered to
 * it?  The request's side of admission; the reason it may not be is
 * counted.  The key is the site, the Host as sent and the normalised
 * path (with the query, where allow_query lets one in).
 */
int
cache_eligible(struct conn *c, const struct head_info *hi,
    const char *host, size_t hostlen, const char *query, size_t querylen)
{
	const struct hsd_config	*cf = lenv->le_conf;
	const struct conf_cache	*cc = &cf->cf_cache;
	int			 reason = -1;

	c->cn_cacheable = 0;
	if (!cc->cc_enabled)
		return 0;
	if ((c->cn_parser.method != HTTP_GET &&
	    c->cn_parser.method != HTTP_HEAD) || c->cn_body_len > 0 ||
	    (hi->hi_flags & HI_TE))
		reason = CR_METHOD;
	else if (query != NULL && !cc->cc_allow_query)
		reason = CR_QUERY;
	else if (hi->hi_flags & HI_AUTH)
		reason = CR_AUTH;
	else if ((hi->hi_flags & HI_COOKIE) && !cc->cc_allow_cookies)
		reason = CR_COOKIE;
	else if (hi->hi_flags & HI_RANGE)
		reason = CR_RANGE;
	else if (!conf_cacheable(cf, &cf->cf_sites[c->cn_site], c->cn_app))
		reason = CR_OFF;
	else if (c->cn_path_len + (query != NULL ? querylen : 0) >
	    UINT16_MAX || hostlen > UINT16_MAX)
		reason = CR_SIZE;
	if (reason != -1) {
		lc.refused[reason]++;
		lc.dirty = 1;
		return 0;
	}
	c->cn_cacheable = 1;
	c->cn_key_host_off = host != NULL ? host - c->cn_buf : 0;
	c->cn_key_host_len = hostlen;
	/* The query goes right behind the path, which has room for it. */
	c->cn_key_len = c->cn_path_len;
	if (query != NULL) {
		c->cn_path[c->cn_path_len] = '?';
		memcpy(c->cn_path + c->cn_path_len + 1, query, querylen);
		c->cn_key_len += 1 + querylen;
	}
	return 1;
}

static const char *
lc_date(void)
{
	time_t	now = time(NULL);

	if (now != lc.date_t) {
		httpdate_format(lc.date, now);
		lc.date_t = now;
	}
	return lc.date;
}

/* 1 if the client's copy is current: 304, as the worker decides it. */
static int
lc_not_modified(const struct conn *c, const struct head_info *hi,
    const struct lc_entry *e)
{
	const char	*etag = e->e_map + e->e_etag_off;
	size_t		 etlen = e->e_etag_len;
	time_t		 t;

	/* If-None-Match compares weakly (RFC 9110 13.1.2): W/ aside. */
	if (etlen > 2 && etag[0] == 'W' && etag[1] == '/') {
		etag += 2;
		etlen -= 2;
	}
	if (hi->hi_flags & HI_INM)
		return etlen > 0 && head_etag_match(c->cn_buf +
		    hi->hi_inm_off, hi->hi_inm_len, etag, etlen, 1, 1);
	if ((hi->hi_flags & HI_IMS) && e->e_lm_time >= 0) {
		return httpdate_parse(c->cn_buf + hi->hi_ims_off,
		    hi->hi_ims_len, &t) == 0 && e->e_lm_time <= t;
	}
	return 0;
}

static size_t
lc_put(char *buf, size_t off, size_t cap, const char *s, size_t len)
{
	if (off < cap) {
		if (len > cap - off)
			len = cap - off;
		memcpy(buf + off, s, len);
	}
	return off + len;
}

/*
 * A hit: the whole response in one sendmsg() where the socket takes it --
 * the entry's head, the fields that change (Date, Age, Connection), the
 * body -- and on to the next request.  What the socket does not take is
 * sent by send.c with the entry held.
 */
static void
lc_serve(struct conn *c, const struct head_info *hi, struct lc_entry *e)
{
	char		 extra[512], num[32];
	struct iovec	 iov[3];
	struct msghdr	 mh;
	const char	*date = lc_date(), *rest;
	uint64_t	 now = clock_ms(), age, total, bytes;
	size_t		 xl = 0, restlen, off;
	ssize_t		 n;
	int		 status = 200, keepalive, niov = 0, http10;

	http10 = c->cn_parser.http_major == 1 && c->cn_parser.http_minor == 0;
	keepalive = c->cn_keepalive && !lenv->le_stopping && !c->cn_doomed;
	age = now > e->e_created_ms ? (now - e->e_created_ms) / 1000 : 0;
	if (lc_not_modified(c, hi, e)) {
		status = 304;
		xl = lc_put(extra, xl, sizeof(extra), LC_304,
		    sizeof(LC_304) - 1);
		if (e->e_lm_len > 0) {
			xl = lc_put(extra, xl, sizeof(extra),
			    "Last-Modified: ", 15);
			xl = lc_put(extra, xl, sizeof(extra),
			    e->e_map + e->e_lm_off, e->e_lm_len);
			xl = lc_put(extra, xl, sizeof(extra), "\r\n", 2);
		}
		if (e->e_etag_len > 0) {
			xl = lc_put(extra, xl, sizeof(extra), "ETag: ", 6);
			xl = lc_put(extra, xl, sizeof(extra),
			    e->e_map + e->e_etag_off, e->e_etag_len);
			xl = lc_put(extra, xl, sizeof(extra), "\r\n", 2);
		}
	} else {
		iov[niov].iov_base = (void *)e->e_map;
		iov[niov++].iov_len = e->e_head_len;
	}
	xl = lc_put(extra, xl, sizeof(extra), "Date: ", 6);
	xl = lc_put(extra, xl, sizeof(extra), date, HTTPDATE_LEN);
	xl = lc_put(extra, xl, sizeof(extra), "\r\nAge: ", 7);
	n = snprintf(num, sizeof(num), "%llu\r\n", (unsigned long long)age);
	xl = lc_put(extra, xl, sizeof(extra), num, n);
	if (!keepalive && !http10)
		xl = lc_put(extra, xl, sizeof(extra),
		    "Connection: close\r\n", 19);
	else if (keepalive && http10)
		xl = lc_put(extra, xl, sizeof(extra),
		    "Connection: keep-alive\r\n", 24);
	xl = lc_put(extra, xl, sizeof(extra), "\r\n", 2);
	if (xl > sizeof(extra)) {
		/* Cannot happen with the lengths checked: a miss, then. */
		c->cn_cacheable = 0;
		queue_dispatch(c);
		return;
	}
	iov[niov].iov_base = extra;
	iov[niov++].iov_len = xl;
	c->cn_resp_head = (status == 200 ? e->e_head_len : 0) + xl;
	if (status == 200 && c->cn_parser.method == HTTP_GET &&
	    e->e_body_len > 0) {
		iov[niov].iov_base = (void *)(e->e_map + e->e_head_len);
		iov[niov++].iov_len = e->e_body_len;
	}
	total = c->cn_resp_head + (niov == 3 ? e->e_body_len : 0);
	memset(&mh, 0, sizeof(mh));
	mh.msg_iov = iov;
	mh.msg_iovlen = niov;
	/* A large body: the head now, then the body by sendfile(). */
	if (niov == 3 && e->e_fd != -1)
		mh.msg_iovlen = 2;
	e->e_hits++;
	if (e->e_hits == 1) {
		TAILQ_INSERT_TAIL(&lc.hitlist, e, e_hitentry);
	}
	lc.hits++;
	lc.dirty = 1;
	event_del(c->cn_timer);
	n = sendmsg(c->cn_fd, &mh, MSG_DONTWAIT | MSG_NOSIGNAL |
	    (mh.msg_iovlen < (size_t)niov ? MSG_MORE : 0));
	if (n == -1 && errno != EAGAIN && errno != EWOULDBLOCK &&
	    errno != EINTR) {
		logbuf_access(c, status, 0, 64);
		conn_close(c);
		return;
	}
	bytes = n > 0 ? (uint64_t)n : 0;
	if (mh.msg_iovlen < (size_t)niov && bytes == c->cn_resp_head) {
		off_t	foff = e->e_head_len;

		n = sendfile(c->cn_fd, e->e_fd, &foff, e->e_body_len);
		if (n > 0)
			bytes += n;
	}
	rest = c->cn_buf + c->cn_head_len;
	restlen = c->cn_len - c->cn_head_len;
	if (bytes == total) {
		c->cn_sent += bytes;
		logbuf_access(c, status, bytes, 0);
		if (keepalive)
			conn_resume(c, rest, restlen);
		else
			conn_close_graceful(c);
		return;
	}
	/* The socket is full: send.c sends the rest, the entry held. */
	c->cn_sent += bytes;
	logbuf_defer(c, status, total);
	e->e_refs++;
	c->cn_cache = e;
	off = bytes;
	if (off < c->cn_resp_head) {
		/* The head's rest is copied: part of it is on the stack. */
		char	*head = malloc(c->cn_resp_head - off);
		size_t	 i, k = 0, nhead = niov == 3 ? 2 : niov;

		if (head == NULL) {
			conn_reset(c);
			return;
		}
		for (i = 0; i < nhead; i++) {
			if (off >= iov[i].iov_len) {
				off -= iov[i].iov_len;
				continue;
			}
			memcpy(head + k, (char *)iov[i].iov_base + off,
			    iov[i].iov_len - off);
			k += iov[i].iov_len - off;
			off = 0;
		}
		send_start_mem(c, head, k, e->e_map + e->e_head_len,
		    niov == 3 ? e->e_body_len : 0, keepalive, rest, restlen);
		return;
	}
	off -= c->cn_resp_head;
	send_start_mem(c, NULL, 0, e->e_map + e->e_head_len + off,
	    e->e_body_len - off, keepalive, rest, restlen);
}

/*
 * A complete, routed head: answered here if the index has it (1), else
 * 0 and the request goes to a worker -- flagged, if it may be cached,
 * so the worker offers its response.
 */
int
cache_lookup(struct conn *c, const struct head_info *hi)
{
	struct lc_entry	*e;

	if (!c->cn_cacheable)
		return 0;
	/* Two of a conditional, in any way: the worker judges. */
	if (hi->hi_flags & HI_MANY)
		return 0;
	/* A pool stopped by an operator or taken offline by rapid-fail
	 * protection answers 503 (queue.c), from the cache too. */
	if (lenv->le_pools[c->cn_pool]->pl_state != POOL_RUNNING)
		return 0;
	e = lc_find(c->cn_site, c->cn_buf + c->cn_key_host_off,
	    c->cn_key_host_len, c->cn_path, c->cn_key_len);
	if (e != NULL && clock_ms() >= e->e_expires_ms) {
		lc_unindex(e);
		e = NULL;
	}
	if (e == NULL) {
		lc.misses++;
		lc.dirty = 1;
		return 0;
	}
	lc_serve(c, hi, e);
	return 1;
}

void
cache_release(struct conn *c)
{
	if (c->cn_cache != NULL) {
		lc_unref(c->cn_cache);
		c->cn_cache = NULL;
	}
}

/*
 * MSG_REQ_OFFER from worker w: passed on to hsd-cached only for a
 * request the listener handed w flagged HO_CACHE, with the key the
 * listener made, so a worker cannot put anything under another URL.
 */
void
cache_offer(struct lsn_worker *w, const struct msg_hdr *hdr,
    const void *data, int fd)
{
	struct msg_offer	 of;
	struct msg_cache_offer	 co;
	struct iovec		 iov[4];
	struct conn		*c;

	/* No fd: a response too large to cache, offered to be counted. */
	if (hdr->mh_len < sizeof(of))
		goto bad;
	memcpy(&of, data, sizeof(of));
	if (hdr->mh_len != sizeof(of) + of.of_name_len ||
	    of.of_slot >= w->wk_concurrency ||
	    (c = w->wk_slot_conn[of.of_slot]) == NULL ||
	    c->cn_id != of.of_conn || c->cn_state != CN_WORKER)
		goto bad;
	if (!c->cn_cacheable || c->cn_site == UINT32_MAX || lc.chan == NULL) {
		if (fd != -1)
			close(fd);
		return;
	}
	memset(&co, 0, sizeof(co));
	co.co_gen = lenv->le_gen->lg_gen;
	co.co_site = c->cn_site;
	co.co_app = c->cn_app;
	co.co_head_len = of.of_head_len;
	co.co_body_len = of.of_body_len;
	co.co_host_len = c->cn_key_host_len;
	co.co_path_len = c->cn_key_len;
	co.co_name_len = of.of_name_len;
	co.co_fid_ok = of.of_fid_ok;
	co.co_fid = of.of_fid;
	iov[0].iov_base = &co;
	iov[0].iov_len = sizeof(co);
	iov[1].iov_base = c->cn_buf + c->cn_key_host_off;
	iov[1].iov_len = c->cn_key_host_len;
	iov[2].iov_base = c->cn_path;
	iov[2].iov_len = c->cn_key_len;
	iov[3].iov_base = (char *)data + sizeof(of);
	iov[3].iov_len = of.of_name_len;
	if (chan_sendv(lc.chan, MSG_CACHE_OFFER, c->cn_id, iov, 4, fd) == -1)
		log_warn("cache_offer: passing an offer on");
	if (fd != -1)
		close(fd);
	return;
bad:
	log_warnx("cache_offer: worker %u: a malformed offer; dropped",
	    w->wk_id);
	if (fd != -1)
		close(fd);
}
