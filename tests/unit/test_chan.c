/*
 * Channels: messages and fds arrive as sent and in order, a peer that
 * does not read makes the sender queue rather than block, and a hostile
 * peer writing raw records can neither reach the message callback with a
 * malformed one nor leak an fd into the receiver.  Freeing a channel from
 * inside its own callbacks must be safe (run this under ASan too).
 */
#include "config.h"

#include <sys/types.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <sys/socket.h>
#include <sys/uio.h>

#include <errno.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <check.h>
#include <event2/event.h>

#include "chan.h"
#include "fixtures.h"
#include "msg.h"
#include "proc.h"

#define RECV_MAX	256

struct recvd {
	uint16_t	 type;
	uint32_t	 id;
	uint32_t	 len;
	uint32_t	 flags;
	int		 fd;
	unsigned char	*data;
};

/* What one channel's callbacks saw. */
struct sink {
	struct recvd	 msgs[RECV_MAX];
	int		 nmsgs;
	int		 ncloses;
	int		 free_on_msg;	/* chan_free() in the msg callback */
	int		 free_on_close;	/* chan_free() in the close callback */
	int		 keep_data;	/* copy payloads */
	struct chan	*chan;
};

static void
sink_msg(struct chan *c, const struct msg_hdr *hdr, const void *payload,
    int fd, void *arg)
{
	struct sink	*s = arg;
	struct recvd	*r;

	ck_assert_ptr_eq(c, s->chan);
	ck_assert_int_lt(s->nmsgs, RECV_MAX);
	r = &s->msgs[s->nmsgs++];
	r->type = hdr->mh_type;
	r->id = hdr->mh_id;
	r->len = hdr->mh_len;
	r->flags = hdr->mh_flags;
	r->fd = fd;
	r->data = NULL;
	if (s->keep_data) {
		r->data = malloc(hdr->mh_len + 1);
		ck_assert_ptr_nonnull(r->data);
		memcpy(r->data, payload, hdr->mh_len);
	}
	if (s->free_on_msg) {
		chan_free(c);
		s->chan = NULL;
	}
}

static void
sink_close(struct chan *c, void *arg)
{
	struct sink	*s = arg;

	ck_assert_ptr_eq(c, s->chan);
	s->ncloses++;
	if (s->free_on_close) {
		chan_free(c);
		s->chan = NULL;
	}
}

static void
sink_clear(struct sink *s)
{
	int	i;

	for (i = 0; i < s->nmsgs; i++) {
		free(s->msgs[i].data);
		if (s->msgs[i].fd != -1)
			close(s->msgs[i].fd);
	}
	s->nmsgs = 0;
}

static struct sink	*wait_sink;
static int		 wait_n;

static int
sink_has_n(void *arg)
{
	(void)arg;
	return wait_sink->nmsgs >= wait_n;
}

static int
sink_closed(void *arg)
{
	(void)arg;
	return wait_sink->ncloses > 0;
}

static void
wait_msgs(struct event_base *base, struct sink *s, int n)
{
	wait_sink = s;
	wait_n = n;
	ck_assert_msg(fx_run_until(base, sink_has_n, NULL, 5000) == 0,
	    "%d of %d messages arrived", s->nmsgs, n);
}

/* A channel pair on one event base: a sends, b's sink receives. */
struct pair {
	struct event_base	*base;
	int			 fds[2];
	struct chan		*a, *b;
	struct sink		 sa, sb;
};

/* with: 1 a only, 2 b only, 3 both; the other end stays a raw socket. */
static void	pair_open_b(struct pair *);

static void
pair_open(struct pair *p, int with)
{
	memset(p, 0, sizeof(*p));
	ck_assert_ptr_nonnull(p->base = event_base_new());
	ck_assert_int_eq(proc_channel(p->fds), 0);
	if (with & 1) {
		p->a = chan_new(p->base, p->fds[0], "a", sink_msg, sink_close,
		    &p->sa);
		ck_assert_ptr_nonnull(p->a);
		p->sa.chan = p->a;
	}
	if (with & 2)
		pair_open_b(p);
}

static void
pair_open_b(struct pair *p)
{
	p->b = chan_new(p->base, p->fds[1], "b", sink_msg, sink_close, &p->sb);
	ck_assert_ptr_nonnull(p->b);
	p->sb.chan = p->b;
}

/* Drop a's channel (closing its socket), as a peer that goes away. */
static void
pair_free_a(struct pair *p)
{
	chan_free(p->sa.chan);
	p->sa.chan = NULL;
}

static void
pair_close(struct pair *p)
{
	sink_clear(&p->sa);
	sink_clear(&p->sb);
	if (p->sa.chan != NULL)
		chan_free(p->sa.chan);
	else if (p->a == NULL)
		close(p->fds[0]);
	if (p->sb.chan != NULL)
		chan_free(p->sb.chan);
	else if (p->b == NULL)
		close(p->fds[1]);
	event_base_free(p->base);
}

START_TEST(test_chan_roundtrip)
{
	struct pair	 p;
	struct iovec	 iov[3];
	unsigned char	*big;
	size_t		 i;

	pair_open(&p, 3);
	p.sb.keep_data = 1;
	ck_assert_int_eq(chan_send(p.a, MSG_PM_SHUTDOWN, 7, NULL, 0, -1), 0);
	ck_assert_int_eq(chan_send(p.a, MSG_REQ_DONE, 0xdeadbeef, "hello", 5,
	    -1), 0);
	iov[0].iov_base = "ab";
	iov[0].iov_len = 2;
	iov[1].iov_base = "";
	iov[1].iov_len = 0;
	iov[2].iov_base = "cdef";
	iov[2].iov_len = 4;
	ck_assert_int_eq(chan_sendv(p.a, MSG_REQ_HANDOFF, 3, iov, 3, -1), 0);
	big = malloc(MSG_PAYLOAD_MAX);
	for (i = 0; i < MSG_PAYLOAD_MAX; i++)
		big[i] = (unsigned char)(i * 7);
	ck_assert_int_eq(chan_send(p.a, MSG_REQ_SLOTS, 4, big,
	    MSG_PAYLOAD_MAX, -1), 0);
	/* Too large is refused at the sender. */
	errno = 0;
	ck_assert_int_eq(chan_send(p.a, MSG_REQ_SLOTS, 5, big,
	    MSG_PAYLOAD_MAX + 1, -1), -1);
	ck_assert_int_eq(errno, EMSGSIZE);

	wait_msgs(p.base, &p.sb, 4);
	fx_run_for(p.base, 50);
	ck_assert_int_eq(p.sb.nmsgs, 4);
	ck_assert_int_eq(p.sb.msgs[0].type, MSG_PM_SHUTDOWN);
	ck_assert_uint_eq(p.sb.msgs[0].id, 7);
	ck_assert_uint_eq(p.sb.msgs[0].len, 0);
	ck_assert_int_eq(p.sb.msgs[0].fd, -1);
	ck_assert_int_eq(p.sb.msgs[1].type, MSG_REQ_DONE);
	ck_assert_uint_eq(p.sb.msgs[1].id, 0xdeadbeef);
	ck_assert_uint_eq(p.sb.msgs[1].len, 5);
	ck_assert(memcmp(p.sb.msgs[1].data, "hello", 5) == 0);
	ck_assert_int_eq(p.sb.msgs[2].type, MSG_REQ_HANDOFF);
	ck_assert_uint_eq(p.sb.msgs[2].len, 6);
	ck_assert(memcmp(p.sb.msgs[2].data, "abcdef", 6) == 0);
	ck_assert_int_eq(p.sb.msgs[3].type, MSG_REQ_SLOTS);
	ck_assert_uint_eq(p.sb.msgs[3].len, MSG_PAYLOAD_MAX);
	ck_assert(memcmp(p.sb.msgs[3].data, big, MSG_PAYLOAD_MAX) == 0);

	/* And the other way. */
	ck_assert_int_eq(chan_send(p.b, MSG_LSN_DRAINED, 9, "x", 1, -1), 0);
	wait_msgs(p.base, &p.sa, 1);
	ck_assert_int_eq(p.sa.msgs[0].type, MSG_LSN_DRAINED);
	ck_assert_uint_eq(p.sa.msgs[0].id, 9);

	ck_assert_int_eq(chan_fd(p.a), p.fds[0]);
	ck_assert_str_eq(chan_peer(p.a), "a");
	ck_assert_uint_eq(chan_queued(p.a), 0);
	free(big);
	pair_close(&p);
}
END_TEST

START_TEST(test_chan_fd_passing)
{
	struct pair	 p;
	int		 pp[2], fd;
	char		 buf[16];

	pair_open(&p, 3);
	ck_assert_int_eq(pipe(pp), 0);
	ck_assert_int_eq(chan_send(p.a, MSG_PM_LISTEN_SOCK, 1, "l", 1, pp[1]),
	    0);
	/* The sender keeps its fd; it may close it at once. */
	close(pp[1]);
	wait_msgs(p.base, &p.sb, 1);
	fd = p.sb.msgs[0].fd;
	ck_assert_int_ge(fd, 0);
	ck_assert_int_ne(fd, pp[0]);
	ck_assert_int_eq(write(fd, "through", 7), 7);
	close(fd);
	p.sb.msgs[0].fd = -1;
	memset(buf, 0, sizeof(buf));
	ck_assert_int_eq(read(pp[0], buf, sizeof(buf)), 7);
	ck_assert_str_eq(buf, "through");
	/* Every write end is closed now: EOF. */
	ck_assert_int_eq(read(pp[0], buf, sizeof(buf)), 0);
	close(pp[0]);
	pair_close(&p);
}
END_TEST

/*
 * A receiver out of fds: the kernel drops the fd (MSG_CTRUNC) but the
 * record is whole.  It arrives with fd -1 and MH_FD_LOST, so the receiver
 * can tell its peer instead of losing the message; whatever flags the
 * sender put in the header are not believed.
 */
START_TEST(test_chan_fd_lost)
{
	struct pair	 p;
	struct rlimit	 rl;
	struct msg_hdr	 hdr;
	int		 pp[2], fill[64], nfill = 0, i;

	pair_open(&p, 3);
	ck_assert_int_eq(pipe(pp), 0);
	memset(&hdr, 0, sizeof(hdr));
	hdr.mh_version = MSG_VERSION;
	hdr.mh_type = MSG_PM_SHUTDOWN;
	hdr.mh_flags = MH_FD_LOST;	/* a lie */
	ck_assert_int_eq(send(p.fds[0], &hdr, sizeof(hdr), 0), sizeof(hdr));
	wait_msgs(p.base, &p.sb, 1);
	ck_assert_uint_eq(p.sb.msgs[0].flags, 0);

	/* Use up every fd below a low limit. */
	ck_assert_int_eq(getrlimit(RLIMIT_NOFILE, &rl), 0);
	rl.rlim_cur = pp[1] + 8;
	ck_assert_int_eq(setrlimit(RLIMIT_NOFILE, &rl), 0);
	while (nfill < 64 && (fill[nfill] = dup(0)) != -1)
		nfill++;
	ck_assert_int_eq(errno, EMFILE);
	ck_assert_int_eq(chan_send(p.a, MSG_PM_LISTEN_SOCK, 2, "l", 1, pp[1]),
	    0);
	ck_assert_int_eq(chan_send(p.a, MSG_PM_SHUTDOWN, 3, NULL, 0, -1), 0);
	wait_msgs(p.base, &p.sb, 3);
	ck_assert_int_eq(p.sb.msgs[1].type, MSG_PM_LISTEN_SOCK);
	ck_assert_uint_eq(p.sb.msgs[1].id, 2);
	ck_assert_int_eq(p.sb.msgs[1].fd, -1);
	ck_assert_uint_eq(p.sb.msgs[1].flags, MH_FD_LOST);
	/* The channel goes on. */
	ck_assert_int_eq(p.sb.msgs[2].type, MSG_PM_SHUTDOWN);
	ck_assert_uint_eq(p.sb.msgs[2].flags, 0);
	for (i = 0; i < nfill; i++)
		close(fill[i]);
	close(pp[0]);
	close(pp[1]);
	pair_close(&p);
}
END_TEST

/* The peer does not read: the sender queues, then drains in order. */
START_TEST(test_chan_queueing)
{
	struct pair	 p;
	unsigned char	*buf;
	int		 i, n = 150, pp[2], withfd = 0;
	size_t		 len = 64 * 1024;

	pair_open(&p, 1);
	buf = malloc(len);
	ck_assert_int_eq(pipe(pp), 0);
	for (i = 0; i < n; i++) {
		memset(buf, i, len);
		/* Some carry an fd, which must survive the queue. */
		ck_assert_int_eq(chan_send(p.a, MSG_REQ_HANDOFF, i, buf, len,
		    i % 10 == 0 ? pp[1] : -1), 0);
	}
	/* More than the socket holds was sent, so some of it waits. */
	ck_assert_uint_gt(chan_queued(p.a), 0);
	close(pp[1]);

	pair_open_b(&p);
	p.sb.keep_data = 1;
	wait_msgs(p.base, &p.sb, n);
	fx_run_for(p.base, 50);
	ck_assert_int_eq(p.sb.nmsgs, n);
	ck_assert_uint_eq(chan_queued(p.a), 0);
	for (i = 0; i < n; i++) {
		ck_assert_uint_eq(p.sb.msgs[i].id, i);
		ck_assert_uint_eq(p.sb.msgs[i].len, len);
		ck_assert_int_eq(p.sb.msgs[i].data[0], (unsigned char)i);
		ck_assert_int_eq(p.sb.msgs[i].data[len - 1], (unsigned char)i);
		if (i % 10 == 0) {
			ck_assert_int_ge(p.sb.msgs[i].fd, 0);
			ck_assert_int_eq(write(p.sb.msgs[i].fd, "x", 1), 1);
			withfd++;
		} else
			ck_assert_int_eq(p.sb.msgs[i].fd, -1);
	}
	ck_assert_int_eq(withfd, n / 10);
	sink_clear(&p.sb);
	/* The queued dups are gone too: only our read end is left. */
	{
		char	c[64];

		ck_assert_int_eq(read(pp[0], c, sizeof(c)), withfd);
		ck_assert_int_eq(read(pp[0], c, sizeof(c)), 0);
	}
	close(pp[0]);
	free(buf);
	pair_close(&p);
}
END_TEST

START_TEST(test_chan_queue_limit)
{
	struct pair	 p;
	unsigned char	*buf;
	size_t		 len = MSG_PAYLOAD_MAX;
	int		 i, rv = 0, fds0;
	char		*log;

	pair_open(&p, 1);
	buf = calloc(1, len);
	fx_capture_start();
	for (i = 0; i < 1000 && (rv = chan_send(p.a, 1, i, buf, len, -1)) == 0;
	    i++)
		;
	log = fx_capture_end();
	ck_assert_int_eq(rv, -1);
	ck_assert_int_eq(errno, ENOBUFS);
	ck_assert_uint_le(chan_queued(p.a), CHAN_QUEUE_MAX);
	ck_assert_ptr_nonnull(strstr(log, "full"));
	free(log);
	/* Freeing a channel with a full queue releases it (ASan checks). */
	fds0 = fx_count_fds();
	pair_free_a(&p);
	ck_assert_int_eq(fx_count_fds(), fds0 - 1);
	free(buf);
	pair_close(&p);
}
END_TEST

static void
raw_send(int fd, const void *data, size_t len)
{
	ck_assert_int_eq(send(fd, data, len, MSG_DONTWAIT), (ssize_t)len);
}

static void
raw_hdr(struct msg_hdr *h, uint16_t version, uint16_t type, uint32_t len,
    uint32_t id)
{
	memset(h, 0, sizeof(*h));
	h->mh_version = version;
	h->mh_type = type;
	h->mh_len = len;
	h->mh_id = id;
}

/* A valid header and payload with the given fds, in ncmsg control blocks. */
static void
raw_send_fds(int sock, const int *fds, int nfds, int ncmsg)
{
	struct msg_hdr	 h;
	struct msghdr	 mh;
	struct iovec	 iov;
	struct cmsghdr	*cm;
	union {
		struct cmsghdr	hdr;
		unsigned char	buf[2 * CMSG_SPACE(2 * sizeof(int))];
	} cbuf;
	int		 i, per = nfds / ncmsg;

	raw_hdr(&h, MSG_VERSION, MSG_PM_WORKER_UP, 0, 66);
	memset(&mh, 0, sizeof(mh));
	memset(&cbuf, 0, sizeof(cbuf));
	iov.iov_base = &h;
	iov.iov_len = sizeof(h);
	mh.msg_iov = &iov;
	mh.msg_iovlen = 1;
	mh.msg_control = cbuf.buf;
	mh.msg_controllen = ncmsg * CMSG_SPACE(per * sizeof(int));
	cm = CMSG_FIRSTHDR(&mh);
	for (i = 0; i < ncmsg; i++) {
		cm->cmsg_len = CMSG_LEN(per * sizeof(int));
		cm->cmsg_level = SOL_SOCKET;
		cm->cmsg_type = SCM_RIGHTS;
		memcpy(CMSG_DATA(cm), fds + i * per, per * sizeof(int));
		cm = CMSG_NXTHDR(&mh, cm);
	}
	ck_assert_int_eq(sendmsg(sock, &mh, MSG_DONTWAIT), sizeof(h));
}

/*
 * Raw records written straight on the peer's socket: each malformed one
 * is dropped without a callback, and the valid one after it arrives.
 */
START_TEST(test_chan_hostile)
{
	struct pair	 p;
	struct msg_hdr	 h;
	unsigned char	*rec;
	size_t		 reclen;
	int		 pp[2], nfds, bad = 0, good = 0, valid_id = 1000;
	char		*log;

	pair_open(&p, 2);
	p.sb.keep_data = 1;
	rec = calloc(1, sizeof(h) + MSG_PAYLOAD_MAX + 4096);

	nfds = fx_count_fds();
	fx_capture_start();

#define VALID() do {							\
	raw_hdr(&h, MSG_VERSION, MSG_REQ_DONE, 3, valid_id + good);	\
	memcpy(rec, &h, sizeof(h));					\
	memcpy(rec + sizeof(h), "ok!", 3);				\
	raw_send(p.fds[0], rec, sizeof(h) + 3);				\
	good++;								\
} while (0)

	/* Shorter than a header. */
	raw_send(p.fds[0], "\x01\x00\x2c\x01", 4);
	bad++;
	VALID();
	/* Another version. */
	raw_hdr(&h, MSG_VERSION + 1, MSG_REQ_DONE, 0, 1);
	raw_send(p.fds[0], &h, sizeof(h));
	bad++;
	VALID();
	/* mh_len larger, then smaller, than the payload. */
	raw_hdr(&h, MSG_VERSION, MSG_REQ_DONE, 10, 2);
	memcpy(rec, &h, sizeof(h));
	raw_send(p.fds[0], rec, sizeof(h) + 5);
	bad++;
	raw_hdr(&h, MSG_VERSION, MSG_REQ_DONE, 2, 3);
	memcpy(rec, &h, sizeof(h));
	raw_send(p.fds[0], rec, sizeof(h) + 5);
	bad++;
	raw_hdr(&h, MSG_VERSION, MSG_REQ_DONE, UINT32_MAX, 4);
	raw_send(p.fds[0], &h, sizeof(h));
	bad++;
	VALID();
	/* Two fds in one record, in one control block and in two. */
	ck_assert_int_eq(pipe(pp), 0);
	raw_send_fds(p.fds[0], pp, 2, 1);
	close(pp[0]);
	close(pp[1]);
	bad++;
	VALID();
	ck_assert_int_eq(pipe(pp), 0);
	raw_send_fds(p.fds[0], pp, 2, 2);
	close(pp[0]);
	close(pp[1]);
	bad++;
	VALID();
	/* Oversize: one byte over the limit, with a matching mh_len... */
	reclen = sizeof(h) + MSG_PAYLOAD_MAX + 1;
	raw_hdr(&h, MSG_VERSION, MSG_REQ_HANDOFF, MSG_PAYLOAD_MAX + 1, 5);
	memcpy(rec, &h, sizeof(h));
	raw_send(p.fds[0], rec, reclen);
	bad++;
	VALID();
	/* ...and well over it. */
	reclen = sizeof(h) + MSG_PAYLOAD_MAX + 4096;
	raw_hdr(&h, MSG_VERSION, MSG_REQ_HANDOFF, MSG_PAYLOAD_MAX + 4096, 6);
	memcpy(rec, &h, sizeof(h));
	raw_send(p.fds[0], rec, reclen);
	bad++;
	VALID();
#undef VALID

	wait_msgs(p.base, &p.sb, good);
	fx_run_for(p.base, 50);
	log = fx_capture_end();
	ck_assert_int_eq(p.sb.nmsgs, good);
	for (int i = 0; i < good; i++) {
		ck_assert_uint_eq(p.sb.msgs[i].id, valid_id + i);
		ck_assert_int_eq(p.sb.msgs[i].type, MSG_REQ_DONE);
		ck_assert_uint_eq(p.sb.msgs[i].len, 3);
		ck_assert(memcmp(p.sb.msgs[i].data, "ok!", 3) == 0);
		ck_assert_int_eq(p.sb.msgs[i].fd, -1);
	}
	/* Every fd that came with a dropped record was closed. */
	ck_assert_int_eq(fx_count_fds(), nfds);
	ck_assert_int_ge(fx_count_str(log, "dropped"), bad);
	ck_assert_int_eq(p.sb.ncloses, 0);
	free(log);
	free(rec);
	pair_close(&p);
}
END_TEST

/* EOF calls the close callback exactly once. */
START_TEST(test_chan_eof)
{
	struct pair	p;

	pair_open(&p, 3);
	ck_assert_int_eq(chan_send(p.a, 1, 1, "x", 1, -1), 0);
	pair_free_a(&p);
	wait_sink = &p.sb;
	ck_assert_int_eq(fx_run_until(p.base, sink_closed, NULL, 5000), 0);
	fx_run_for(p.base, 100);
	ck_assert_int_eq(p.sb.ncloses, 1);
	/* What was sent before the close still arrived, first. */
	ck_assert_int_eq(p.sb.nmsgs, 1);
	/* A closed channel refuses to send. */
	ck_assert_int_eq(chan_send(p.b, 1, 2, "y", 1, -1), -1);
	ck_assert_int_eq(errno, EPIPE);
	pair_close(&p);
}
END_TEST

START_TEST(test_chan_free_in_msg)
{
	struct pair	p;
	int		i;

	pair_open(&p, 3);
	p.sb.free_on_msg = 1;
	for (i = 0; i < 5; i++)
		ck_assert_int_eq(chan_send(p.a, 1, i, "z", 1, -1), 0);
	wait_msgs(p.base, &p.sb, 1);
	fx_run_for(p.base, 50);
	/* Freed after the first: the rest are never delivered to it. */
	ck_assert_int_eq(p.sb.nmsgs, 1);
	ck_assert_ptr_null(p.sb.chan);
	/* The other end sees the close. */
	wait_sink = &p.sa;
	ck_assert_int_eq(fx_run_until(p.base, sink_closed, NULL, 5000), 0);
	ck_assert_int_eq(p.sa.ncloses, 1);
	pair_close(&p);
}
END_TEST

START_TEST(test_chan_free_in_close)
{
	struct pair	p;
	unsigned char	buf[4096];
	int		i;

	pair_open(&p, 3);
	p.sb.free_on_close = 1;
	/* b has output queued when its peer goes: freeing must release it. */
	memset(buf, 0, sizeof(buf));
	for (i = 0; i < 2000 && chan_queued(p.b) == 0; i++)
		ck_assert_int_eq(chan_send(p.b, 1, i, buf, sizeof(buf), -1), 0);
	ck_assert_uint_gt(chan_queued(p.b), 0);
	pair_free_a(&p);
	wait_sink = &p.sb;
	ck_assert_int_eq(fx_run_until(p.base, sink_closed, NULL, 5000), 0);
	fx_run_for(p.base, 50);
	ck_assert_int_eq(p.sb.ncloses, 1);
	ck_assert_ptr_null(p.sb.chan);
	pair_close(&p);
}
END_TEST

/* A message and EOF in one read batch, freed in the message callback. */
START_TEST(test_chan_free_in_msg_then_eof)
{
	struct pair	p;

	pair_open(&p, 3);
	p.sb.free_on_msg = 1;
	ck_assert_int_eq(chan_send(p.a, 1, 1, "a", 1, -1), 0);
	ck_assert_int_eq(chan_send(p.a, 1, 2, "b", 1, -1), 0);
	pair_free_a(&p);
	wait_msgs(p.base, &p.sb, 1);
	fx_run_for(p.base, 50);
	ck_assert_int_eq(p.sb.nmsgs, 1);
	ck_assert_int_eq(p.sb.ncloses, 0);
	pair_close(&p);
}
END_TEST

static void
count_signal(evutil_socket_t sig, short ev, void *arg)
{
	(void)sig;
	(void)ev;
	(*(int *)arg)++;
}

/*
 * proc_fork(): a signal the child gets is the child's.  With fork(), the
 * child ran the parent's libevent handler, which wrote the signal into
 * the socketpair the parent reads: the parent took it for its own (a
 * SIGTERM for a FastCGI process just started stopped the pool manager).
 */
START_TEST(test_proc_fork_signals)
{
	struct event_base	*base;
	struct event		*ev;
	struct timeval		 tv = { 0, 200000 };
	pid_t			 pid;
	int			 got = 0, st;

	ck_assert_ptr_nonnull(base = event_base_new());
	ck_assert_ptr_nonnull(ev = evsignal_new(base, SIGUSR1, count_signal,
	    &got));
	ck_assert_int_eq(event_add(ev, NULL), 0);
	ck_assert_int_ne(pid = proc_fork(), -1);
	if (pid == 0) {
		raise(SIGUSR1);		/* the default: it dies of it */
		_exit(0);
	}
	ck_assert_int_eq(waitpid(pid, &st, 0), pid);
	ck_assert(WIFSIGNALED(st) && WTERMSIG(st) == SIGUSR1);
	event_base_loopexit(base, &tv);
	event_base_dispatch(base);
	ck_assert_int_eq(got, 0);
	/* The parent's own are still its. */
	raise(SIGUSR1);
	event_base_loopexit(base, &tv);
	event_base_dispatch(base);
	ck_assert_int_eq(got, 1);
	event_free(ev);
	event_base_free(base);
}
END_TEST

Suite *
suite_chan(void)
{
	Suite	*s = suite_create("chan");
	TCase	*tc = tcase_create("chan");

	tcase_add_test(tc, test_chan_roundtrip);
	tcase_add_test(tc, test_chan_fd_passing);
	tcase_add_test(tc, test_chan_fd_lost);
	tcase_add_test(tc, test_chan_queueing);
	tcase_add_test(tc, test_chan_queue_limit);
	tcase_add_test(tc, test_chan_hostile);
	tcase_add_test(tc, test_chan_eof);
	tcase_add_test(tc, test_chan_free_in_msg);
	tcase_add_test(tc, test_proc_fork_signals);
	tcase_add_test(tc, test_chan_free_in_close);
	tcase_add_test(tc, test_chan_free_in_msg_then_eof);
	tcase_set_timeout(tc, 30);
	suite_add_tcase(s, tc);
	return s;
}
