/*
 * hsd-listener: owns every client connection.  listener.c is the process
 * (peers, dispatch of their messages), conn.c the client side (accept,
 * read and parse the head, timers, error responses, closing), queue.c the
 * pool side (workers, the per-pool FIFO, handoff, DONE, failover), send.c
 * the rest of responses workers hand back.
 */
#ifndef HSD_LISTENER_H
#define HSD_LISTENER_H

#include <sys/queue.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <stdint.h>

#include <event2/util.h>
#include <http_parser.h>

#include "msg.h"

struct chan;
struct event;
struct event_base;
struct hsd_config;
struct wrk_slot;

enum conn_state {
	CN_READING,	/* waiting for (the rest of) a request head */
	CN_QUEUED,	/* parked in its pool's queue */
	CN_WORKER,	/* handed to a worker; not watched */
	CN_SENDING,	/* sending what a worker handed back (send.c) */
	CN_CLOSING,	/* writing a final response, then lingering close */
	CN_ANSWERING,	/* writing an answer of our own, then the next request */
};

struct head_info;
struct lc_entry;
struct lsn_worker;
struct lb_pending;

struct conn {
	uint32_t		 cn_id;
	int			 cn_fd;
	enum conn_state		 cn_state;
	struct sockaddr_storage	 cn_local;
	struct sockaddr_storage	 cn_peer;
	uint64_t		 cn_req_start;	/* monotonic ms, its first byte */
	uint64_t		 cn_body_len;	/* Content-Length, 0 if none */
	uint32_t		 cn_resp_head;	/* the response head's bytes */
	/* A handed-back response's access record, logged once it is out
	 * (logbuf.c). */
	struct lb_pending	*cn_logpend;
	struct event		*cn_ev;		/* read, edge-triggered, for life */
	struct event		*cn_wev;	/* write, while a final answer waits */
	struct event		*cn_timer;
	TAILQ_ENTRY(conn)	 cn_entry;	/* all connections */
	TAILQ_ENTRY(conn)	 cn_qentry;	/* its pool's queue */

	/* The request being read or served.  cn_buf holds every byte read
	 * for it (head first) until the worker says DONE, so a request can
	 * be handed to another worker if the first one dies. */
	char			*cn_buf;
	size_t			 cn_len;
	size_t			 cn_parsed;	/* fed to the parser so far */
	size_t			 cn_head_len;	/* set once the head is complete */
	http_parser		 cn_parser;
	uint32_t		 cn_url_off, cn_url_len;
	uint32_t		 cn_line_len;	/* current header line so far */
	uint32_t		 cn_name_len;
	uint16_t		 cn_err;	/* status a callback decided */
	uint8_t			 cn_in_value;
	uint8_t			 cn_keepalive;	/* to be kept after DONE */
	uint8_t			 cn_pending;	/* the socket may hold unread bytes */
	/* Its listening address is gone (a reload): closed at the next
	 * request boundary. */
	uint8_t			 cn_doomed;
	uint32_t		 cn_lid;	/* the listening socket it came from */

	/* Body bytes still to come that nobody wants (DONE's dn_discard):
	 * thrown away as they arrive, before the next request is read. */
	uint64_t		 cn_discard;
	uint64_t		 cn_discard_got;
	uint64_t		 cn_discard_start;	/* monotonic ms */

	/* Routing result, in the current configuration's indices; a reload
	 * routes again every request it holds.  cn_site is UINT32_MAX for
	 * one at a worker whose site the reload took away. */
	uint32_t		 cn_site;
	int32_t			 cn_app;
	uint32_t		 cn_pool;
	char			*cn_path;	/* normalised, in cn_buf after the data */
	uint32_t		 cn_path_len;

	/* While at a worker. */
	struct lsn_worker	*cn_worker;
	uint16_t		 cn_slot;
	uint64_t		 cn_sent;	/* response bytes on this connection so far */
	uint64_t		 cn_progress;	/* bytes written when the deadline was armed */
	unsigned		 cn_redispatched;

	/* A worker died part-way through the file body of the response:
	 * the next handoff asks another worker for the rest (queue.c). */
	uint8_t			 cn_resume;
	unsigned		 cn_resumes;	/* of this request so far */
	uint16_t		 cn_resume_status;
	uint64_t		 cn_resume_off;
	uint64_t		 cn_resume_end;
	struct msg_fileid	 cn_resume_id;

	/* While sending a handed-back response (send.c): cn_out first, then
	 * the file range; cn_buf holds the next request's bytes meanwhile. */
	int			 cn_file;	/* -1: none */
	off_t			 cn_file_off;
	off_t			 cn_file_end;
	uint8_t			 cn_send_keep;	/* DONE said keep-alive */
	uint64_t		 cn_send_acked;	/* client's bytes at the last check */
	uint64_t		 cn_send_deadline; /* monotonic ms: min_send_rate */

	/* The response cache (cache.c): may it be answered from it or
	 * offered to it, and its key, the Host in cn_buf and the path with
	 * any query in cn_path; a hit being sent holds its entry, and
	 * send.c sends [cn_mem, cn_mem + cn_mem_len) after cn_out. */
	uint8_t			 cn_cacheable;
	uint32_t		 cn_key_host_off;
	uint32_t		 cn_key_host_len;
	uint32_t		 cn_key_len;
	struct lc_entry		*cn_cache;
	const char		*cn_mem;
	size_t			 cn_mem_len;

	/* While closing, or sending. */
	const char		*cn_out;
	size_t			 cn_out_len;
	size_t			 cn_out_off;
	size_t			 cn_drained;
	char			*cn_outbuf;	/* owned copy of cn_out */
};

TAILQ_HEAD(conn_list, conn);

/*
 * A configuration some worker was started with.  A reload makes a new
 * current one; an older one lives while workers started with it do, and
 * lg_site_map translates the current site indices to its own: -1 where
 * its workers do not know the site as the current one routes it, so
 * they are not handed its requests (reload.c).
 */
struct lsn_gen {
	uint32_t		 lg_gen;
	struct hsd_config	*lg_conf;
	int32_t			*lg_site_map;	/* NULL: the current one */
	uint32_t		 lg_refs;	/* workers started with it */
	TAILQ_ENTRY(lsn_gen)	 lg_entry;
};

struct lsn_worker {
	uint32_t		 wk_id;
	struct lsn_pool		*wk_pool;	/* le_gone: its pool was removed */
	struct lsn_gen		*wk_gen;
	int			 wk_pid;
	uint32_t		 wk_concurrency;
	uint32_t		 wk_inflight;
	int			 wk_ready;	/* said MSG_REQ_READY: may take requests */
	int			 wk_broken;	/* reported failed: takes no more */
	int			 wk_retiring;	/* told MSG_REQ_RETIRE: takes no more */
	uint64_t		 wk_requests;	/* handed to it, for hsdctl status */
	struct chan		*wk_chan;
	struct wrk_slot		*wk_slots;	/* shared with the worker */
	size_t			 wk_slots_size;
	struct conn		**wk_slot_conn;
	uint16_t		*wk_free;	/* stack of free slot numbers */
	TAILQ_ENTRY(lsn_worker)	 wk_entry;
};

struct lsn_pool {
	uint32_t			 pl_index;
	uint32_t			 pl_queued;
	struct conn_list		 pl_queue;
	TAILQ_HEAD(, lsn_worker)	 pl_workers;
	struct event			*pl_retry;	/* handoff failed for want of fds */
	int				 pl_demanded;	/* MSG_LSN_DEMAND sent, no worker yet */
	uint32_t			 pl_state;	/* POOL_*, from the pool manager */
};

struct listener_env {
	struct event_base	*le_base;
	struct hsd_config	*le_conf;	/* le_gen's */
	struct lsn_gen		*le_gen;	/* the current configuration */
	TAILQ_HEAD(, lsn_gen)	 le_gens;	/* every one alive, le_gen too */
	struct chan		*le_parent;
	/* One per pool of the current configuration, in its order; a pool
	 * a reload keeps keeps its struct.  le_gone holds the workers of
	 * pools a reload removed: it never queues or dispatches. */
	struct lsn_pool		**le_pools;
	uint32_t		 le_npools;
	struct lsn_pool		*le_gone;
	struct conn_list	 le_conns;
	uint32_t		 le_nconns;
	uint32_t		 le_next_id;
	int			 le_stopping;
	const struct timeval	*le_tv_header;	/* common timeouts */
	const struct timeval	*le_tv_conn;
	const struct timeval	*le_tv_linger;
	size_t			 le_data_cap;	/* request bytes one conn holds */
};

extern struct listener_env *lenv;

/* listener.c */
void	listener_check_drained(void);
void	listener_timeouts(void);

/* reload.c */
void	reload_apply(uint32_t gen, int fd);
struct lsn_gen *reload_gen_new(uint32_t, struct hsd_config *);
void	reload_gen_unref(struct lsn_gen *);

/* conn.c */
int	conn_buf_take(struct conn *);
void	conn_buf_release(struct conn *);
int	conn_listen(int fd);
void	conn_stop_accepting(void);
void	conn_listen_prune(void);
int	conn_route(struct conn *);
void	conn_resume(struct conn *, const char *rest, size_t restlen);
void	conn_resume_held(struct conn *);
void	conn_writable(evutil_socket_t, short, void *);
void	conn_fail(struct conn *, int status, int reason);
void	conn_reset(struct conn *);
void	conn_close(struct conn *);
void	conn_close_graceful(struct conn *);
void	conn_parked(struct conn *);
void	conn_close_idle(void);

/* cache.c */
void	cache_init(void);
void	cache_connect(int fd);
void	cache_flush(void);
int	cache_eligible(struct conn *, const struct head_info *,
	    const char *host, size_t hostlen, const char *query,
	    size_t querylen);
int	cache_lookup(struct conn *, const struct head_info *);
void	cache_release(struct conn *);
void	cache_offer(struct lsn_worker *, const struct msg_hdr *, const void *,
	    int fd);

/* logbuf.c */
void	logbuf_init(void);
void	logbuf_logger(int fd);
int	logbuf_drained(void);
void	logbuf_status(uint64_t *buffered, uint64_t *dropped);
void	logbuf_access(const struct conn *, int status, uint64_t sc_bytes,
	    uint32_t win32);
void	logbuf_httperr(const struct conn *, int status, int reason, int head);
void	logbuf_defer(struct conn *, int status, uint64_t sc_bytes);
void	logbuf_finish(struct conn *, uint64_t sc_bytes, uint32_t win32);

/* send.c */
void	send_start(struct conn *, const char *out, size_t outlen, int fd,
	    uint64_t off, uint64_t len, int keepalive, const char *rest,
	    size_t restlen);
void	send_start_mem(struct conn *, char *head, size_t headlen,
	    const char *body, size_t bodylen, int keepalive, const char *rest,
	    size_t restlen);
void	send_flush(struct conn *);
void	send_timeout(struct conn *);
void	send_free(struct conn *);
int	send_bytes_acked(int fd, uint64_t *);

/* queue.c */
void	queue_init(void);
struct lsn_pool *queue_pool_new(uint32_t index);
void	queue_pool_free(struct lsn_pool *);
void	queue_park(struct lsn_pool *, struct conn *, int front);
void	queue_demand(struct lsn_pool *);
void	queue_worker_up(uint32_t id, uint32_t pool, uint32_t gen, int pid,
	    int fd);
void	queue_worker_retire(uint32_t id);
void	queue_dispatch(struct conn *);
void	queue_unpark(struct conn *);
void	queue_run(struct lsn_pool *);
void	queue_deadline(struct conn *);
void	queue_pool_state(uint32_t pool, uint32_t state);
void	queue_status(uint32_t serial);

#endif
