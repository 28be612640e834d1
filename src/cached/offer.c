/*
 * Offers (MSG_CACHE_OFFER): a response a worker made, in a memfd, with
 * the request's key from the listener.  The worker is hostile by
 * assumption: every length is checked against the message, the memfd is
 * sealed before a byte of it is read (so what is checked is what the
 * listener will serve), and a static file's entry is only made when the
 * file, watched first, is still the one the worker read.
 *
 * The checks go cheapest first: the message, the site, the sizes, the
 * seals, the head, the activity period, the file.  A key that has an
 * entry already is not counted at all: the listener offered it only
 * because the entry had not reached its index yet.
 */
#include "config.h"

#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/uio.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "admit.h"
#include "cache.h"
#include "cached.h"
#include "chan.h"
#include "clock.h"
#include "conf.h"
#include "log.h"
#include "msg.h"
#include "store.h"

#define OFFER_SEALS	(F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE | \
			F_SEAL_SEAL)
/* How much of a key a log line shows. */
#define OFFER_LOG_KEY	200

/* An offer as read from its message. */
struct offer {
	struct msg_cache_offer	 of_co;
	const char		*of_host;	/* not NUL-terminated */
	const char		*of_path;
	const char		*of_name;
	int			 of_key_ok;	/* the lengths above fit */
	int			 of_fd;
	uint64_t		 of_size;	/* the memfd's: head and body */
	struct admit_info	 of_ai;
	const char		*of_why;	/* the rule that refused it */
};

/* The key, printable, for a log line. */
static const char *
offer_key(const struct offer *of, char *buf, size_t len)
{
	size_t	i;

	if (!of->of_key_ok)
		return "(a malformed offer)";
	snprintf(buf, len, "%.*s%.*s", (int)of->of_co.co_host_len,
	    of->of_host, (int)of->of_co.co_path_len, of->of_path);
	for (i = 0; buf[i] != '\0'; i++)
		if ((unsigned char)buf[i] < ' ' || buf[i] == 0x7f)
			buf[i] = '?';
	return buf;
}

static void
offer_refuse(struct offer *of, int reason)
{
	char	key[OFFER_LOG_KEY];

	cd.stats.cs_refused[reason]++;
	if (reason == CR_INVALID)
		log_info("offer_refuse: %s: invalid: %s",
		    offer_key(of, key, sizeof(key)), of->of_why);
	else
		log_debug("offer_refuse: %s: %s%s%s",
		    offer_key(of, key, sizeof(key)),
		    cache_reason_names[reason], of->of_why ? ": " : "",
		    of->of_why ? of->of_why : "");
}

/* The message: a struct msg_cache_offer and exactly its strings. */
static int
offer_parse(const struct msg_hdr *hdr, const void *data, struct offer *of)
{
	const struct msg_cache_offer	*co = &of->of_co;
	const char			*p;

	of->of_why = "a malformed message";
	if (MSG_CHECK_SIZE(hdr->mh_len, *co) == -1)
		return -1;
	memcpy(&of->of_co, data, sizeof(of->of_co));
	p = (const char *)data + sizeof(*co);
	of->of_host = p;
	of->of_path = p + co->co_host_len;
	of->of_name = of->of_path + co->co_path_len;
	if (hdr->mh_len != sizeof(*co) + (size_t)co->co_host_len +
	    co->co_path_len + co->co_name_len ||
	    co->co_path_len == 0 || of->of_path[0] != '/' ||
	    co->co_app < -1 || co->co_fid_ok > 1 ||
	    memchr(p, '\0', hdr->mh_len - sizeof(*co)) != NULL)
		return -1;
	of->of_key_ok = 1;
	/* A response over max_entry_size comes without its bytes, to be
	 * counted (offer_check()). */
	if (of->of_fd == -1 && (hdr->mh_flags & MH_FD_LOST ||
	    co->co_body_len <= cd.conf->cf_cache.cc_max_entry)) {
		of->of_why = hdr->mh_flags & MH_FD_LOST ? "its memfd was lost "
		    "(out of fds)" : "no memfd";
		return -1;
	}
	if (co->co_head_len == 0 ||
	    co->co_body_len > UINT64_MAX - co->co_head_len) {
		of->of_why = "no head, or an impossible size";
		return -1;
	}
	of->of_size = co->co_head_len + co->co_body_len;
	return 0;
}

/* Caching is on for its site and application, in our configuration. */
static int
offer_site(struct offer *of)
{
	const struct msg_cache_offer	*co = &of->of_co;
	const struct conf_site		*site;

	if (co->co_gen != cd.gen) {
		of->of_why = "another configuration's";
		return -1;
	}
	if (co->co_site >= cd.conf->cf_nsites) {
		of->of_why = "no such site";
		return -1;
	}
	site = &cd.conf->cf_sites[co->co_site];
	if (co->co_app >= 0 && (uint32_t)co->co_app >= site->st_napps) {
		of->of_why = "no such application";
		return -1;
	}
	of->of_why = NULL;
	return conf_cacheable(cd.conf, site, co->co_app) ? 0 : -1;
}

/* A name below a root: relative, no empty, "." or ".." segment. */
static int
offer_name_ok(const char *name, size_t len)
{
	const char	*seg, *end = name + len, *slash;
	size_t		 n;

	if (len == 0 || name[0] == '/')
		return 0;
	for (seg = name; seg <= end; seg = slash + 1) {
		if ((slash = memchr(seg, '/', end - seg)) == NULL)
			slash = end;
		n = slash - seg;
		if (n == 0 || (n == 1 && seg[0] == '.') ||
		    (n == 2 && seg[0] == '.' && seg[1] == '.'))
			return 0;
	}
	return 1;
}

/*
 * Seal the memfd, then check its size: only sealed can it not change
 * under us, or under the listener once it is published.  Already fully
 * sealed is fine (F_ADD_SEALS would fail on F_SEAL_SEAL).
 */
static int
offer_seal(struct offer *of)
{
	struct stat	sb;
	int		seals;

	if ((seals = fcntl(of->of_fd, F_GET_SEALS)) == -1) {
		of->of_why = "not a memfd";
		return -1;
	}
	if ((seals & OFFER_SEALS) != OFFER_SEALS &&
	    fcntl(of->of_fd, F_ADD_SEALS, OFFER_SEALS & ~seals) == -1) {
		of->of_why = errno == EBUSY ? "still mapped writable" :
		    "cannot be sealed";
		return -1;
	}
	if ((seals = fcntl(of->of_fd, F_GET_SEALS)) == -1 ||
	    (seals & OFFER_SEALS) != OFFER_SEALS) {
		of->of_why = "not sealed";
		return -1;
	}
	if (fstat(of->of_fd, &sb) == -1 || !S_ISREG(sb.st_mode) ||
	    (uint64_t)sb.st_size != of->of_size) {
		of->of_why = "not the size offered";
		return -1;
	}
	return 0;
}

/* The head rules, on the sealed memfd's first co_head_len bytes. */
static int
offer_head(struct offer *of)
{
	void	*head;
	int	 rv;

	if ((head = mmap(NULL, of->of_co.co_head_len, PROT_READ, MAP_SHARED,
	    of->of_fd, 0)) == MAP_FAILED) {
		log_warn("offer_head: mmap");
		of->of_ai.ai_reason = CR_INVALID;
		of->of_why = "cannot be mapped";
		return -1;
	}
	rv = admit_head(head, of->of_co.co_head_len, of->of_co.co_body_len,
	    time(NULL), &cd.conf->cf_cache, &of->of_ai);
	munmap(head, of->of_co.co_head_len);
	of->of_why = of->of_ai.ai_why;
	return rv;
}

/*
 * Watch the file, then compare it with what the worker read: watched
 * first, a change after the worker's read is either seen by stat() here
 * or an event that drops the entry.
 */
static int
offer_file(struct offer *of, struct store_entry *e)
{
	const struct conf_site	*site = &cd.conf->cf_sites[of->of_co.co_site];
	const char		*root;
	char			 rpath[PATH_MAX], path[PATH_MAX];
	struct stat		 sb;
	int			 n;

	of->of_why = "path too long";
	if (of->of_co.co_path_len >= sizeof(rpath))
		return -1;
	memcpy(rpath, of->of_path, of->of_co.co_path_len);
	rpath[of->of_co.co_path_len] = '\0';
	conf_map_path(site, of->of_co.co_app, rpath, &root);
	n = snprintf(path, sizeof(path), "%s/%.*s", root,
	    (int)of->of_co.co_name_len, of->of_name);
	if (root == NULL || root[0] != '/' || n < 0 ||
	    (size_t)n >= sizeof(path))
		return -1;
	if (store_watch(e, path) == -1) {
		log_debug("offer_file: inotify_add_watch %s: %s", path,
		    strerror(errno));
		of->of_why = "cannot be watched";
		return -1;
	}
	if (stat(path, &sb) == -1 || !store_same_file(&sb, &of->of_co.co_fid)) {
		of->of_why = "changed since the worker read it";
		return -1;
	}
	e->se_fid = of->of_co.co_fid;
	return 0;
}

/* The entry to the listener, with the sealed memfd. */
static int
offer_publish(struct offer *of, struct store_entry *e)
{
	struct msg_cache_entry	ce;
	struct iovec		iov[3];

	if (cd.listener == NULL)
		return -1;
	memset(&ce, 0, sizeof(ce));
	ce.ce_id = e->se_id;
	ce.ce_gen = cd.gen;
	ce.ce_site = e->se_site;
	ce.ce_host_len = e->se_host_len;
	ce.ce_path_len = e->se_path_len;
	ce.ce_head_len = of->of_co.co_head_len;
	ce.ce_etag_off = of->of_ai.ai_etag_off;
	ce.ce_etag_len = of->of_ai.ai_etag_len;
	ce.ce_lm_off = of->of_ai.ai_lm_off;
	ce.ce_lm_len = of->of_ai.ai_lm_len;
	ce.ce_lm_time = of->of_ai.ai_lm_time;
	ce.ce_body_len = of->of_co.co_body_len;
	ce.ce_created_ms = e->se_created_ms;
	ce.ce_expires_ms = e->se_expires_ms;
	iov[0].iov_base = &ce;
	iov[0].iov_len = sizeof(ce);
	iov[1].iov_base = (void *)e->se_host;
	iov[1].iov_len = e->se_host_len;
	iov[2].iov_base = (void *)e->se_path;
	iov[2].iov_len = e->se_path_len;
	if (chan_sendv(cd.listener, MSG_CACHE_ENTRY, e->se_id, iov, 3,
	    of->of_fd) == -1) {
		log_warn("offer_publish: entry %u to the listener", e->se_id);
		return -1;
	}
	return 0;
}

/* Everything checked: make it an entry, room made, and publish it. */
static void
offer_admit(struct offer *of)
{
	const struct msg_cache_offer	*co = &of->of_co;
	struct store_entry		*e;
	char				 key[OFFER_LOG_KEY];

	of->of_why = "out of memory";
	if ((e = store_new(co->co_site, of->of_host, co->co_host_len,
	    of->of_path, co->co_path_len)) == NULL) {
		offer_refuse(of, CR_MEMORY);
		return;
	}
	if (co->co_fid_ok && offer_file(of, e) == -1) {
		store_discard(e);
		offer_refuse(of, CR_CHANGED);
		return;
	}
	e->se_size = of->of_size;
	e->se_created_ms = e->se_hit_ms = clock_ms();
	e->se_expires_ms = e->se_created_ms + of->of_ai.ai_ttl_ms;
	if (store_make_room(e->se_size, cd.conf->cf_cache.cc_max_memory) ==
	    -1 || store_insert(e) == -1) {
		store_discard(e);
		offer_refuse(of, CR_MEMORY);
		return;
	}
	if (offer_publish(of, e) == -1) {
		/* The listener never had it: nothing to tell. */
		store_drop(e, 0);
		return;
	}
	cd.stats.cs_admitted++;
	log_debug("offer_admit: entry %u: %s, %llu bytes, for %llu ms",
	    e->se_id, offer_key(of, key, sizeof(key)),
	    (unsigned long long)e->se_size,
	    (unsigned long long)of->of_ai.ai_ttl_ms);
}

/* After the message and the site, the checks up to the head: the
 * reason to refuse, or -1 to go on. */
static int
offer_check(struct offer *of)
{
	const struct conf_cache	*cc = &cd.conf->cf_cache;

	of->of_why = NULL;
	if (of->of_co.co_head_len > cc->cc_max_header)
		return CR_HEAD_SIZE;
	if (of->of_co.co_body_len > cc->cc_max_entry)
		return CR_SIZE;
	if (of->of_size > cc->cc_max_memory)
		return CR_MEMORY;
	of->of_why = "a bad file name";
	if (of->of_co.co_fid_ok && !offer_name_ok(of->of_name,
	    of->of_co.co_name_len))
		return CR_INVALID;
	if (offer_seal(of) == -1)
		return CR_INVALID;
	if (offer_head(of) == -1)
		return of->of_ai.ai_reason;
	return -1;
}

void
offer_take(const struct msg_hdr *hdr, const void *data, int fd)
{
	const struct msg_cache_offer	*co;
	struct offer			 of;
	int				 reason;

	memset(&of, 0, sizeof(of));
	of.of_fd = fd;
	co = &of.of_co;
	if (offer_parse(hdr, data, &of) == -1)
		reason = CR_INVALID;
	else if (offer_site(&of) == -1)
		reason = CR_OFF;
	else if (store_find(co->co_site, of.of_host, co->co_host_len,
	    of.of_path, co->co_path_len) != NULL)
		goto done;	/* not yet in the listener's index */
	else if ((reason = offer_check(&of)) == -1 &&
	    !store_activity(co->co_site, of.of_host, co->co_host_len,
	    of.of_path, co->co_path_len, clock_ms(),
	    cd.conf->cf_cache.cc_activity_ms)) {
		of.of_why = "asked once";
		reason = CR_ACTIVITY;
	}
	if (reason != -1)
		offer_refuse(&of, reason);
	else
		offer_admit(&of);
done:
	if (fd != -1)
		close(fd);
}
