/*
 * Responses the listener finishes for a worker, as HTTP.sys sends what IIS
 * hands it: when a client's socket would block, the worker hands back what
 * is left (a few bytes of buffer and a file range with the open file) and
 * takes its next request, so a slow reader holds no slot of the pool.  The
 * listener sends the rest with sendfile() as the socket drains, holding the
 * client to min_send_rate and connection_timeout, and then carries on with
 * the connection as the worker's DONE said.  A worker that dies after the
 * handback costs the client nothing: the listener owns the file.
 */
#include "config.h"

#include <sys/sendfile.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <linux/tcp.h>
#include <netinet/in.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>

#include "clock.h"
#include "conf.h"
#include "listener.h"
#include "log.h"
#include "logrec.h"

/* Bytes one connection may send per readiness before others get a turn. */
#define SEND_BUDGET	(1024 * 1024)

/* Bytes of this connection the client has acknowledged: what it read. */
int
send_bytes_acked(int fd, uint64_t *out)
{
	struct tcp_info	ti;
	socklen_t	len = sizeof(ti);

	memset(&ti, 0, sizeof(ti));
	if (getsockopt(fd, IPPROTO_TCP, TCP_INFO, &ti, &len) == -1)
		return -1;
	*out = ti.tcpi_bytes_acked;
	return 0;
}

void
send_free(struct conn *c)
{
	if (c->cn_file != -1) {
		close(c->cn_file);
		c->cn_file = -1;
	}
	free(c->cn_outbuf);
	c->cn_outbuf = NULL;
	c->cn_out = NULL;
	c->cn_out_len = c->cn_out_off = 0;
	c->cn_mem = NULL;
	c->cn_mem_len = 0;
	cache_release(c);
}

/* The next request's bytes wait in cn_buf; the response goes out. */
static void
send_go(struct conn *c, const char *rest, size_t restlen)
{
	if (restlen > 0) {
		if (conn_buf_take(c) == -1) {
			conn_reset(c);
			return;
		}
		memmove(c->cn_buf, rest, restlen);
	} else
		conn_buf_release(c);
	c->cn_len = restlen;
	c->cn_send_deadline = 0;
	send_flush(c);
}

/*
 * Take over the rest of a response.  rest (the next request's bytes) is
 * kept in cn_buf and parsed only once the response is out.  A file range
 * that is not a regular file's, or lies past its end, came from a worker
 * that is broken or hostile: the client gets a reset, since its response
 * cannot be finished.
 */
void
send_start(struct conn *c, const char *out, size_t outlen, int fd,
    uint64_t off, uint64_t len, int keepalive, const char *rest,
    size_t restlen)
{
	struct stat		 st;
	ssize_t			 n;

	c->cn_state = CN_SENDING;
	c->cn_file = fd;
	if (fd != -1 && (fstat(fd, &st) == -1 || !S_ISREG(st.st_mode) ||
	    off > (uint64_t)st.st_size || len > (uint64_t)st.st_size - off ||
	    len == 0)) {
		log_warnx("send_start: connection %u: the worker handed back "
		    "no usable file range; resetting", c->cn_id);
		conn_reset(c);
		return;
	}
	if (fd == -1 && len != 0) {
		log_warnx("send_start: connection %u: a file range without a "
		    "file; resetting", c->cn_id);
		conn_reset(c);
		return;
	}
	c->cn_file_off = off;
	c->cn_file_end = off + len;
	c->cn_send_keep = keepalive;
	/* The head usually goes at once, straight from the message: only
	 * what the socket does not take is copied.  An error shows again
	 * in send_flush(). */
	if (outlen > 0 && (n = send(c->cn_fd, out, outlen, MSG_DONTWAIT |
	    MSG_NOSIGNAL | (len > 0 ? MSG_MORE : 0))) > 0) {
		out += n;
		outlen -= n;
		c->cn_sent += n;
	}
	if (outlen > 0) {
		if ((c->cn_outbuf = malloc(outlen)) == NULL) {
			log_warn("send_start: malloc");
			conn_reset(c);
			return;
		}
		memcpy(c->cn_outbuf, out, outlen);
	}
	c->cn_out = c->cn_outbuf;
	c->cn_out_len = outlen;
	c->cn_out_off = 0;
	send_go(c, rest, restlen);
}

/*
 * The rest of a cache hit (cache.c): head, a malloc()ed copy now owned
 * here, then body, in the entry c->cn_cache holds.
 */
void
send_start_mem(struct conn *c, char *head, size_t headlen, const char *body,
    size_t bodylen, int keepalive, const char *rest, size_t restlen)
{
	c->cn_state = CN_SENDING;
	c->cn_file = -1;
	c->cn_file_off = c->cn_file_end = 0;
	c->cn_send_keep = keepalive;
	c->cn_outbuf = head;
	c->cn_out = head;
	c->cn_out_len = headlen;
	c->cn_out_off = 0;
	c->cn_mem = body;
	c->cn_mem_len = bodylen;
	send_go(c, rest, restlen);
}

/*
 * The client cannot take it all at once: from now on it is held to
 * HTTP.sys's rule.  It must take what is left -- here, and what already
 * waits in the socket -- at min_send_rate, with connection_timeout to
 * spare; and it must take something every connection_timeout.  A client
 * that takes the whole response at once costs no timer and no system
 * call for this.
 */
static void
send_deadline_arm(struct conn *c)
{
	const struct conf_limits *lim = &lenv->le_conf->cf_limits;
	uint64_t		 left;

	left = (c->cn_out_len - c->cn_out_off) + c->cn_mem_len +
	    (uint64_t)(c->cn_file_end - c->cn_file_off);
	if (send_bytes_acked(c->cn_fd, &c->cn_send_acked) == -1)
		c->cn_send_acked = 0;
	if (c->cn_sent > c->cn_send_acked)
		left += c->cn_sent - c->cn_send_acked;
	c->cn_send_deadline = clock_ms() + lim->connection_timeout_ms;
	if (lim->min_send_rate > 0)
		c->cn_send_deadline += left * 1000 / lim->min_send_rate;
	else
		c->cn_send_deadline = UINT64_MAX;
	event_add(c->cn_timer, lenv->le_tv_conn);
}

static void
send_done(struct conn *c)
{
	if (c->cn_wev != NULL)
		event_del(c->cn_wev);
	send_free(c);
	logbuf_finish(c, 0, 0);
	if (c->cn_send_keep)
		conn_resume_held(c);
	else
		conn_close_graceful(c);
}

/* Send what the socket takes; called again when it drains. */
void
send_flush(struct conn *c)
{
	size_t	budget = SEND_BUDGET, left;
	ssize_t	n;
	int	flags;

	while (budget > 0) {
		if (c->cn_out_off < c->cn_out_len) {
			flags = MSG_DONTWAIT | MSG_NOSIGNAL;
			if (c->cn_file_off < c->cn_file_end ||
			    c->cn_mem_len > 0)
				flags |= MSG_MORE;
			n = send(c->cn_fd, c->cn_out + c->cn_out_off,
			    c->cn_out_len - c->cn_out_off, flags);
			if (n > 0)
				c->cn_out_off += n;
		} else if (c->cn_mem_len > 0) {
			n = send(c->cn_fd, c->cn_mem, c->cn_mem_len < budget ?
			    c->cn_mem_len : budget, MSG_DONTWAIT | MSG_NOSIGNAL);
			if (n > 0) {
				c->cn_mem += n;
				c->cn_mem_len -= n;
			}
		} else if (c->cn_file_off < c->cn_file_end) {
			left = c->cn_file_end - c->cn_file_off;
			n = sendfile(c->cn_fd, c->cn_file, &c->cn_file_off,
			    left < budget ? left : budget);
			if (n == 0) {
				log_warnx("send_flush: connection %u: the file "
				    "shrank while sent; resetting", c->cn_id);
				conn_reset(c);
				return;
			}
		} else {
			send_done(c);
			return;
		}
		if (n == -1) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				break;
			if (errno != EPIPE && errno != ECONNRESET)
				log_warn("send_flush: connection %u", c->cn_id);
			conn_reset(c);
			return;
		}
		c->cn_sent += n;
		budget -= (size_t)n < budget ? (size_t)n : budget;
	}
	/* The socket is full, or others get a turn: wait for it. */
	if (c->cn_send_deadline == 0)
		send_deadline_arm(c);
	if (c->cn_wev == NULL && (c->cn_wev = event_new(lenv->le_base,
	    c->cn_fd, EV_WRITE | EV_PERSIST, conn_writable, c)) == NULL) {
		conn_reset(c);
		return;
	}
	event_add(c->cn_wev, NULL);
}

/* Every connection_timeout while sending: is the client keeping up? */
void
send_timeout(struct conn *c)
{
	uint64_t	acked;

	if (send_bytes_acked(c->cn_fd, &acked) == -1 ||
	    acked == c->cn_send_acked) {
		log_info("send_timeout: connection %u: the client took nothing "
		    "for connection_timeout; resetting", c->cn_id);
		logbuf_httperr(c, 0, HE_TIMER_CONNECTION_IDLE, 0);
		conn_reset(c);
		return;
	}
	if (clock_ms() > c->cn_send_deadline) {
		log_info("send_timeout: connection %u: the client reads "
		    "slower than min_send_rate; resetting", c->cn_id);
		logbuf_httperr(c, 0, HE_TIMER_MIN_BYTES, 0);
		conn_reset(c);
		return;
	}
	c->cn_send_acked = acked;
	event_add(c->cn_timer, lenv->le_tv_conn);
}
