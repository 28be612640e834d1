/*
 * Offering a response to the response cache (msg.h, "The response
 * cache").  The listener flags a request whose response it could serve
 * from the cache one day (HO_CACHE); for a whole 200 to a GET of a file
 * the worker then hands the listener a copy -- the head without the
 * fields that change per response, and the body -- in a memfd it keeps
 * no mapping of, with the file's name and identity so that hsd-cached
 * can watch it.  hsd-cached decides; the offer costs a miss a few
 * system calls, and a hit never reaches a worker.
 */
#include "config.h"

#include <sys/mman.h>
#include <sys/sendfile.h>
#include <sys/types.h>
#include <sys/uio.h>

#include <errno.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "chan.h"
#include "conf.h"
#include "log.h"
#include "msg.h"
#include "worker.h"

/* Fields a cache hit writes itself. */
static int
offer_skip(const char *line, size_t len)
{
	static const char *const names[] = { "date:", "connection:",
	    "keep-alive:" };
	size_t	i, n;

	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		n = strlen(names[i]);
		if (len >= n && strncasecmp(line, names[i], n) == 0)
			return 1;
	}
	return 0;
}

/* Write all of buf to fd; -1 on failure. */
static int
offer_write(int fd, const char *buf, size_t len)
{
	ssize_t	n;

	while (len > 0) {
		if ((n = write(fd, buf, len)) == -1) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		buf += n;
		len -= n;
	}
	return 0;
}

/* The head as offered: each line of rq_out's but the skipped ones and
 * the empty line.  Its length, or -1. */
static ssize_t
offer_head(int fd, const struct wrk_req *rq)
{
	const char	*p = rq->rq_out, *e = rq->rq_out + rq->rq_resp_head;
	const char	*nl;
	size_t		 len, total = 0;

	while (p < e && (nl = memchr(p, '\n', e - p)) != NULL) {
		len = nl + 1 - p;
		if (len == 2)
			break;		/* the empty line: the end */
		if (!offer_skip(p, len)) {
			if (offer_write(fd, p, len) == -1)
				return -1;
			total += len;
		}
		p = nl + 1;
	}
	return total;
}

static int
offer_body(int fd, const struct wrk_req *rq, uint64_t len)
{
	off_t	off;
	ssize_t	n;

	if (rq->rq_file == -1)
		return offer_write(fd, rq->rq_out + rq->rq_body_at, len);
	off = rq->rq_file_off;
	while (len > 0) {
		if ((n = sendfile(fd, rq->rq_file, &off, len)) <= 0) {
			if (n == -1 && errno == EINTR)
				continue;
			return -1;
		}
		len -= n;
	}
	return 0;
}

void
offer_response(struct wrk_req *rq, const char *name)
{
	const struct conf_cache	*cc = &wrk_conf->cf_cache;
	struct msg_offer	 of;
	struct iovec		 iov[2];
	struct chan		*ch;
	uint64_t		 bodylen;
	ssize_t			 headlen;
	size_t			 namelen = strlen(name);
	int			 fd;

	if (!rq->rq_cache || rq->rq_status != 200 ||
	    rq->rq_method != HTTP_GET || !rq->rq_fid_ok ||
	    rq->rq_resp_head < 16 || memcmp(rq->rq_out, "HTTP/1.1 200 ", 13) ||
	    namelen > UINT16_MAX || (ch = worker_listener_chan()) == NULL)
		return;
	bodylen = rq->rq_body_end - rq->rq_body_off;
	/* Too large: offered without its bytes, so that hsd-cached counts
	 * why it is not cached. */
	fd = -1;
	headlen = rq->rq_resp_head;
	if (bodylen <= cc->cc_max_entry) {
		if ((fd = memfd_create("hsd-offer", MFD_CLOEXEC |
		    MFD_ALLOW_SEALING)) == -1) {
			log_warn("offer_response: memfd_create");
			return;
		}
		if ((headlen = offer_head(fd, rq)) == -1 ||
		    offer_body(fd, rq, bodylen) == -1) {
			log_warn("offer_response: %s", name);
			close(fd);
			return;
		}
	}
	memset(&of, 0, sizeof(of));
	of.of_conn = rq->rq_conn;
	of.of_slot = rq->rq_slot;
	of.of_name_len = namelen;
	of.of_head_len = headlen;
	of.of_fid_ok = 1;
	of.of_body_len = bodylen;
	of.of_fid = rq->rq_fid;
	iov[0].iov_base = &of;
	iov[0].iov_len = sizeof(of);
	iov[1].iov_base = (void *)name;
	iov[1].iov_len = namelen;
	if (chan_sendv(ch, MSG_REQ_OFFER, rq->rq_conn, iov, 2, fd) == -1)
		log_warn("offer_response: sending the offer");
	if (fd != -1)
		close(fd);
}
