/*
 * Channels: the one way hsd's processes talk.  A channel is one end of an
 * AF_UNIX SOCK_SEQPACKET socketpair (made by proc.c), driven by libevent.
 * Each message is one record: struct msg_hdr + payload, at most one fd.
 *
 * Sending never blocks: chan_send() writes at once when it can and
 * otherwise copies the message (and dup()s its fd) into the channel's output
 * queue, drained when the socket turns writable.  The caller keeps its fd.
 *
 * Receiving treats the peer as hostile: records that are truncated, carry
 * more than one fd or other control data, have another MSG_VERSION or a
 * length that does not match the header are logged and dropped (their fds
 * closed).  The message callback owns the fd it is given (-1 if none) and
 * must close or keep it; it still has to check mh_type and mh_len against
 * what it expects (see MSG_CHECK_SIZE).  The payload pointer is valid only
 * during the callback.
 *
 * When the peer is gone (EOF, reset) the close callback runs once; the
 * owner then calls chan_free(), which is safe from inside either callback.
 */
#ifndef HSD_CHAN_H
#define HSD_CHAN_H

#include <stddef.h>
#include <stdint.h>

struct event_base;
struct iovec;
struct msg_hdr;
struct chan;

typedef void	(*chan_msg_cb)(struct chan *, const struct msg_hdr *,
		    const void *payload, int fd, void *arg);
typedef void	(*chan_close_cb)(struct chan *, void *arg);

/* Largest output queue before chan_send() refuses with ENOBUFS. */
#define CHAN_QUEUE_MAX		(16 * 1024 * 1024)

struct chan	*chan_new(struct event_base *, int fd, const char *peer,
		    chan_msg_cb, chan_close_cb, void *arg);
void		 chan_free(struct chan *);
int		 chan_send(struct chan *, uint16_t type, uint32_t id,
		    const void *data, size_t len, int fd);
int		 chan_sendv(struct chan *, uint16_t type, uint32_t id,
		    const struct iovec *iov, int iovcnt, int fd);
int		 chan_fd(const struct chan *);
const char	*chan_peer(const struct chan *);
size_t		 chan_queued(const struct chan *);
void		 chan_set_arg(struct chan *, void *arg);

/* For a receiver: 0 if a payload of len bytes can hold a struct of type t. */
#define MSG_CHECK_SIZE(len, t)	((len) >= sizeof(t) ? 0 : -1)

#endif
