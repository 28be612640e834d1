/*
 * Message channels over SOCK_SEQPACKET with fd passing; see chan.h for the
 * contract.  One record per message keeps framing in the kernel: a short or
 * oversized record is visible as such (MSG_TRUNC) and never desynchronises
 * the stream.
 */
#include "config.h"

#include <sys/types.h>
#include <sys/socket.h>
#include <sys/uio.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>

#include "chan.h"
#include "log.h"
#include "msg.h"

/* Messages read per readiness before yielding to other events. */
#define CHAN_READ_BATCH		64

struct chan_out {
	struct chan_out	*co_next;
	size_t		 co_len;	/* header + payload */
	int		 co_fd;		/* dup'd, -1 if none */
	unsigned char	 co_data[];
};

struct chan {
	int		 ch_fd;
	char		 ch_peer[32];
	struct event	*ch_rev;
	struct event	*ch_wev;
	chan_msg_cb	 ch_msg;
	chan_close_cb	 ch_close;
	void		*ch_arg;
	struct chan_out	*ch_head;
	struct chan_out	**ch_tail;
	size_t		 ch_queued;
	int		 ch_dispatching;
	int		 ch_freed;
	int		 ch_closed;
};

/* One receive buffer per process: callbacks never nest across channels. */
static unsigned char chan_rbuf[sizeof(struct msg_hdr) + MSG_PAYLOAD_MAX + 1];

static void	chan_readable(evutil_socket_t, short, void *);
static void	chan_writable(evutil_socket_t, short, void *);

struct chan *
chan_new(struct event_base *base, int fd, const char *peer, chan_msg_cb msgcb,
    chan_close_cb closecb, void *arg)
{
	struct chan	*c;
	int		 fl;

	if ((fl = fcntl(fd, F_GETFL)) == -1 ||
	    fcntl(fd, F_SETFL, fl | O_NONBLOCK) == -1) {
		log_warn("chan_new: fcntl");
		return NULL;
	}
	if ((c = calloc(1, sizeof(*c))) == NULL) {
		log_warn("chan_new: calloc");
		return NULL;
	}
	c->ch_fd = fd;
	snprintf(c->ch_peer, sizeof(c->ch_peer), "%s", peer);
	c->ch_msg = msgcb;
	c->ch_close = closecb;
	c->ch_arg = arg;
	c->ch_tail = &c->ch_head;
	c->ch_rev = event_new(base, fd, EV_READ | EV_PERSIST, chan_readable, c);
	c->ch_wev = event_new(base, fd, EV_WRITE | EV_PERSIST, chan_writable, c);
	if (c->ch_rev == NULL || c->ch_wev == NULL ||
	    event_add(c->ch_rev, NULL) == -1) {
		log_warnx("chan_new: event setup failed for %s", peer);
		if (c->ch_rev)
			event_free(c->ch_rev);
		if (c->ch_wev)
			event_free(c->ch_wev);
		free(c);
		return NULL;
	}
	return c;
}

static void
chan_release(struct chan *c)
{
	struct chan_out	*o;

	while ((o = c->ch_head) != NULL) {
		c->ch_head = o->co_next;
		if (o->co_fd != -1)
			close(o->co_fd);
		free(o);
	}
	free(c);
}

void
chan_free(struct chan *c)
{
	if (c == NULL || c->ch_freed)
		return;
	c->ch_freed = 1;
	event_free(c->ch_rev);
	event_free(c->ch_wev);
	close(c->ch_fd);
	c->ch_fd = -1;
	if (c->ch_dispatching == 0)
		chan_release(c);
}

int
chan_fd(const struct chan *c)
{
	return c->ch_fd;
}

const char *
chan_peer(const struct chan *c)
{
	return c->ch_peer;
}

size_t
chan_queued(const struct chan *c)
{
	return c->ch_queued;
}

void
chan_set_arg(struct chan *c, void *arg)
{
	c->ch_arg = arg;
}

static ssize_t
chan_sendmsg(int sock, const struct iovec *iov, int iovcnt, int fd)
{
	struct msghdr	 mh;
	union {
		struct cmsghdr	hdr;
		unsigned char	buf[CMSG_SPACE(sizeof(int))];
	} cmsgbuf;
	struct cmsghdr	*cm;

	memset(&mh, 0, sizeof(mh));
	mh.msg_iov = (struct iovec *)iov;
	mh.msg_iovlen = iovcnt;
	if (fd != -1) {
		memset(&cmsgbuf, 0, sizeof(cmsgbuf));
		mh.msg_control = cmsgbuf.buf;
		mh.msg_controllen = sizeof(cmsgbuf.buf);
		cm = CMSG_FIRSTHDR(&mh);
		cm->cmsg_len = CMSG_LEN(sizeof(int));
		cm->cmsg_level = SOL_SOCKET;
		cm->cmsg_type = SCM_RIGHTS;
		memcpy(CMSG_DATA(cm), &fd, sizeof(int));
	}
	return sendmsg(sock, &mh, MSG_DONTWAIT | MSG_NOSIGNAL);
}

int
chan_sendv(struct chan *c, uint16_t type, uint32_t id, const struct iovec *iov,
    int iovcnt, int fd)
{
	struct msg_hdr	 hdr;
	struct iovec	 v[8];
	struct chan_out	*o;
	size_t		 len = 0, off;
	int		 i;
	ssize_t		 n;

	if (c->ch_freed || c->ch_closed) {
		errno = EPIPE;
		return -1;
	}
	if (iovcnt < 0 || iovcnt > 7) {
		errno = EINVAL;
		return -1;
	}
	for (i = 0; i < iovcnt; i++)
		len += iov[i].iov_len;
	if (len > MSG_PAYLOAD_MAX) {
		log_warnx("chan_sendv: %zu byte message to %s is too large",
		    len, c->ch_peer);
		errno = EMSGSIZE;
		return -1;
	}
	memset(&hdr, 0, sizeof(hdr));
	hdr.mh_version = MSG_VERSION;
	hdr.mh_type = type;
	hdr.mh_len = (uint32_t)len;
	hdr.mh_id = id;
	v[0].iov_base = &hdr;
	v[0].iov_len = sizeof(hdr);
	for (i = 0; i < iovcnt; i++)
		v[i + 1] = iov[i];

	if (c->ch_head == NULL) {
		n = chan_sendmsg(c->ch_fd, v, iovcnt + 1, fd);
		if (n >= 0)
			return 0;
		if (errno != EAGAIN && errno != EWOULDBLOCK && errno != ENOBUFS)
			return -1;
	}

	/* The peer is behind: keep a copy until the socket drains. */
	if (c->ch_queued + sizeof(hdr) + len > CHAN_QUEUE_MAX) {
		log_warnx("chan_sendv: output queue to %s is full", c->ch_peer);
		errno = ENOBUFS;
		return -1;
	}
	if ((o = malloc(sizeof(*o) + sizeof(hdr) + len)) == NULL) {
		log_warn("chan_sendv: malloc");
		return -1;
	}
	o->co_next = NULL;
	o->co_len = sizeof(hdr) + len;
	o->co_fd = -1;
	if (fd != -1 && (o->co_fd = fcntl(fd, F_DUPFD_CLOEXEC, 0)) == -1) {
		log_warn("chan_sendv: dup");
		free(o);
		return -1;
	}
	memcpy(o->co_data, &hdr, sizeof(hdr));
	off = sizeof(hdr);
	for (i = 0; i < iovcnt; i++) {
		memcpy(o->co_data + off, iov[i].iov_base, iov[i].iov_len);
		off += iov[i].iov_len;
	}
	*c->ch_tail = o;
	c->ch_tail = &o->co_next;
	c->ch_queued += o->co_len;
	event_add(c->ch_wev, NULL);
	return 0;
}

int
chan_send(struct chan *c, uint16_t type, uint32_t id, const void *data,
    size_t len, int fd)
{
	struct iovec	iov;

	iov.iov_base = (void *)data;
	iov.iov_len = len;
	return chan_sendv(c, type, id, &iov, len ? 1 : 0, fd);
}

static void
chan_peer_gone(struct chan *c)
{
	if (c->ch_closed)
		return;
	c->ch_closed = 1;
	event_del(c->ch_rev);
	event_del(c->ch_wev);
	if (c->ch_close != NULL)
		c->ch_close(c, c->ch_arg);
}

static void
chan_writable(evutil_socket_t fd, short ev, void *arg)
{
	struct chan	*c = arg;
	struct chan_out	*o;
	struct iovec	 iov;

	(void)fd;
	(void)ev;
	while ((o = c->ch_head) != NULL) {
		iov.iov_base = o->co_data;
		iov.iov_len = o->co_len;
		if (chan_sendmsg(c->ch_fd, &iov, 1, o->co_fd) == -1) {
			if (errno == EAGAIN || errno == EWOULDBLOCK ||
			    errno == ENOBUFS)
				return;
			log_warn("chan_writable: sendmsg to %s", c->ch_peer);
			c->ch_dispatching++;
			chan_peer_gone(c);
			if (--c->ch_dispatching == 0 && c->ch_freed)
				chan_release(c);
			return;
		}
		c->ch_head = o->co_next;
		if (c->ch_head == NULL)
			c->ch_tail = &c->ch_head;
		c->ch_queued -= o->co_len;
		if (o->co_fd != -1)
			close(o->co_fd);
		free(o);
	}
	event_del(c->ch_wev);
}

/* Close every fd in the control data; return the one fd if exactly one
 * SCM_RIGHTS fd arrived and nothing else, -2 if the control data was bad. */
static int
chan_take_fd(struct msghdr *mh)
{
	struct cmsghdr	*cm;
	int		 fd = -1, bad = 0, n, i, f;

	for (cm = CMSG_FIRSTHDR(mh); cm != NULL; cm = CMSG_NXTHDR(mh, cm)) {
		if (cm->cmsg_level != SOL_SOCKET || cm->cmsg_type != SCM_RIGHTS) {
			bad = 1;
			continue;
		}
		n = (cm->cmsg_len - CMSG_LEN(0)) / sizeof(int);
		for (i = 0; i < n; i++) {
			memcpy(&f, CMSG_DATA(cm) + i * sizeof(int), sizeof(int));
			if (fd == -1 && !bad)
				fd = f;
			else {
				close(f);
				bad = 1;
			}
		}
	}
	if (bad) {
		if (fd != -1)
			close(fd);
		return -2;
	}
	return fd;
}

static void
chan_readable(evutil_socket_t sock, short ev, void *arg)
{
	struct chan	*c = arg;
	struct msghdr	 mh;
	struct iovec	 iov;
	struct msg_hdr	 hdr;
	union {
		struct cmsghdr	hdr;
		unsigned char	buf[CMSG_SPACE(sizeof(int) * 4)];
	} cmsgbuf;
	ssize_t		 n;
	int		 fd, i, lost, reset = 0;

	(void)ev;
	c->ch_dispatching++;
	for (i = 0; i < CHAN_READ_BATCH && !c->ch_freed && !c->ch_closed; i++) {
		memset(&mh, 0, sizeof(mh));
		iov.iov_base = chan_rbuf;
		iov.iov_len = sizeof(chan_rbuf);
		mh.msg_iov = &iov;
		mh.msg_iovlen = 1;
		mh.msg_control = cmsgbuf.buf;
		mh.msg_controllen = sizeof(cmsgbuf.buf);
		n = recvmsg(sock, &mh, MSG_DONTWAIT | MSG_CMSG_CLOEXEC);
		if (n == -1) {
			if (errno == EAGAIN || errno == EWOULDBLOCK ||
			    errno == EINTR)
				break;
			/* A peer that died with our messages unread makes
			 * the first recvmsg() fail, but what it sent before
			 * dying is still queued behind the error: read it. */
			if (errno == ECONNRESET && !reset) {
				reset = 1;
				continue;
			}
			if (errno != ECONNRESET)
				log_warn("chan_readable: recvmsg from %s",
				    c->ch_peer);
			chan_peer_gone(c);
			break;
		}
		if (n == 0) {
			chan_peer_gone(c);
			break;
		}
		fd = chan_take_fd(&mh);
		/* Control data cut short with no fd in it: the receiver had
		 * no fd free for the one that was sent.  The record is
		 * whole, so it is delivered, flagged, for its receiver to
		 * answer; cut short with fds in it, the sender sent more
		 * than one. */
		lost = fd == -1 && (mh.msg_flags & MSG_CTRUNC) &&
		    mh.msg_controllen == 0;
		if (fd == -2 || (mh.msg_flags & MSG_TRUNC) ||
		    ((mh.msg_flags & MSG_CTRUNC) && !lost)) {
			if (fd >= 0)
				close(fd);
			log_warnx("chan_readable: dropped a malformed record "
			    "from %s (%zd bytes%s%s%s)", c->ch_peer, n,
			    mh.msg_flags & MSG_TRUNC ? ", truncated" : "",
			    mh.msg_flags & MSG_CTRUNC ? ", control truncated" : "",
			    fd == -2 ? ", bad control data" : "");
			continue;
		}
		if ((size_t)n < sizeof(hdr)) {
			if (fd != -1)
				close(fd);
			log_warnx("chan_readable: dropped a %zd byte record "
			    "from %s: shorter than a header", n, c->ch_peer);
			continue;
		}
		memcpy(&hdr, chan_rbuf, sizeof(hdr));
		/* The buffer holds one byte more than the largest record,
		 * so a record one byte too long arrives whole: check. */
		if (hdr.mh_version != MSG_VERSION ||
		    hdr.mh_len > MSG_PAYLOAD_MAX ||
		    hdr.mh_len != (size_t)n - sizeof(hdr)) {
			if (fd != -1)
				close(fd);
			log_warnx("chan_readable: dropped a record from %s: "
			    "version %u, length %u in a %zd byte record",
			    c->ch_peer, hdr.mh_version, hdr.mh_len, n);
			continue;
		}
		if (lost)
			log_warnx("chan_readable: a message from %s lost its "
			    "fd: out of fds", c->ch_peer);
		hdr.mh_flags = lost ? MH_FD_LOST : 0;
		c->ch_msg(c, &hdr, chan_rbuf + sizeof(hdr), fd, c->ch_arg);
	}
	if (--c->ch_dispatching == 0 && c->ch_freed)
		chan_release(c);
}
