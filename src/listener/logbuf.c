/*
 * The listener's side of logging: a record for every request it finished
 * (logbuf_access()) or answered or dropped itself (logbuf_httperr()),
 * kept in numbered batches until hsd-logd says they are written
 * (logjournal.h).  The listener never waits for the logger: while it is
 * slow or gone the batches wait here, up to log_buffer bytes; a record
 * that does not fit is counted, and once there is room again one record
 * says how many were lost.  A new logger is sent every batch not yet
 * acknowledged.
 */
#include "config.h"

#include <sys/queue.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <netinet/in.h>

#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/event.h>
#include <http_parser.h>

#include "chan.h"
#include "clock.h"
#include "conf.h"
#include "listener.h"
#include "log.h"
#include "logrec.h"
#include "msg.h"

/* A batch is sent when it holds this much, or after LB_DELAY_MS. */
#define LB_BATCH_BYTES		(32 * 1024)
#define LB_DELAY_MS		50
/* At a stop, unacknowledged records are waited for this long. */
#define LB_STOP_WAIT_MS		3000

struct lb_batch {
	TAILQ_ENTRY(lb_batch)	 bt_entry;
	uint64_t		 bt_seq;
	uint32_t		 bt_count;
	size_t			 bt_len;	/* records, after the header */
	unsigned char		*bt_data;	/* msg_log_batch + records */
};

static struct {
	TAILQ_HEAD(, lb_batch)	 batches;	/* unacknowledged, in order */
	struct evbuffer		*cur;		/* the batch being filled */
	uint32_t		 cur_count;
	uint64_t		 next_seq;
	uint64_t		 epoch;
	size_t			 held;		/* bytes in batches and cur */
	uint64_t		 held_records;
	uint64_t		 dropped;	/* since the last report */
	uint64_t		 dropped_total;
	int64_t			 dropped_since_us;
	struct chan		*chan;
	struct event		*timer;
	struct event		*stop_timer;
	int			 stop_expired;
} lb;

static void	logbuf_close_batch(void);

static int64_t
logbuf_now_us(void)
{
	struct timespec	ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static void
logbuf_timer(evutil_socket_t fd, short ev, void *arg)
{
	(void)fd;
	(void)ev;
	(void)arg;
	logbuf_close_batch();
}

static void
logbuf_stop_expired(evutil_socket_t fd, short ev, void *arg)
{
	(void)fd;
	(void)ev;
	(void)arg;
	log_warnx("logbuf_stop_expired: %llu log records were not written "
	    "by the logger within %d ms; exiting without them",
	    (unsigned long long)lb.held_records, LB_STOP_WAIT_MS);
	lb.stop_expired = 1;
	listener_check_drained();
}

void
logbuf_init(void)
{
	TAILQ_INIT(&lb.batches);
	if ((lb.cur = evbuffer_new()) == NULL ||
	    (lb.timer = evtimer_new(lenv->le_base, logbuf_timer,
	    NULL)) == NULL ||
	    (lb.stop_timer = evtimer_new(lenv->le_base, logbuf_stop_expired,
	    NULL)) == NULL)
		fatalx("logbuf_init: no memory");
	/* Tells this listener's batches from an earlier one's. */
	lb.epoch = ((uint64_t)getpid() << 40) ^ (uint64_t)logbuf_now_us();
	lb.next_seq = 1;
}

static void
logbuf_send(struct lb_batch *bt)
{
	if (lb.chan == NULL)
		return;
	if (chan_send(lb.chan, MSG_LOG_BATCH, 0, bt->bt_data,
	    sizeof(struct msg_log_batch) + bt->bt_len, -1) == -1)
		log_warn("logbuf_send: batch %llu", (unsigned long long)
		    bt->bt_seq);
}

/* The records gathered so far become a batch, sent if a logger is
 * there. */
static void
logbuf_close_batch(void)
{
	struct lb_batch		*bt;
	struct msg_log_batch	 hd;
	size_t			 len = evbuffer_get_length(lb.cur);

	evtimer_del(lb.timer);
	if (len == 0)
		return;
	if ((bt = calloc(1, sizeof(*bt))) == NULL ||
	    (bt->bt_data = malloc(sizeof(hd) + len)) == NULL) {
		/* Left in cur: the next batch takes them. */
		log_warn("logbuf_close_batch: malloc");
		free(bt);
		return;
	}
	bt->bt_seq = lb.next_seq++;
	bt->bt_count = lb.cur_count;
	bt->bt_len = len;
	memset(&hd, 0, sizeof(hd));
	hd.lb_epoch = lb.epoch;
	hd.lb_seq = bt->bt_seq;
	hd.lb_count = bt->bt_count;
	/* A listener that stops waits for it: no flush_interval delay. */
	if (lenv->le_stopping)
		hd.lb_flags = LB_FLUSH;
	memcpy(bt->bt_data, &hd, sizeof(hd));
	evbuffer_remove(lb.cur, bt->bt_data + sizeof(hd), len);
	lb.cur_count = 0;
	TAILQ_INSERT_TAIL(&lb.batches, bt, bt_entry);
	logbuf_send(bt);
}

/*
 * Add a record: r's fixed part (lengths filled in here) and its strings.
 * over: it may go past log_buffer (the record saying what was lost).
 */
static void
logbuf_add(struct logrec *r, const char *const str[LRS_NSTR],
    const size_t len[LRS_NSTR], int over)
{
	struct timeval	tv;
	size_t		total = sizeof(*r);
	unsigned int	i;

	for (i = 0; i < LRS_NSTR; i++) {
		r->lr_slen[i] = len[i] > LOGREC_STR_MAX ? LOGREC_STR_MAX :
		    len[i];
		total += r->lr_slen[i];
	}
	r->lr_len = total;
	if (!over && lb.held + total > lenv->le_conf->cf_log_buffer) {
		if (lb.dropped++ == 0)
			lb.dropped_since_us = r->lr_time_us;
		lb.dropped_total++;
		return;
	}
	if (evbuffer_expand(lb.cur, total) == -1) {
		if (lb.dropped++ == 0)
			lb.dropped_since_us = r->lr_time_us;
		lb.dropped_total++;
		return;
	}
	evbuffer_add(lb.cur, r, sizeof(*r));
	for (i = 0; i < LRS_NSTR; i++)
		evbuffer_add(lb.cur, str[i], r->lr_slen[i]);
	lb.cur_count++;
	lb.held += total;
	lb.held_records++;
	if (evbuffer_get_length(lb.cur) >= LB_BATCH_BYTES ||
	    lenv->le_stopping)
		logbuf_close_batch();
	else if (!evtimer_pending(lb.timer, NULL)) {
		conf_timeval(LB_DELAY_MS, &tv);
		evtimer_add(lb.timer, &tv);
	}
}

/* Room again after a loss: one record says how many. */
static void
logbuf_report_dropped(void)
{
	struct logrec	 r;
	const char	*str[LRS_NSTR] = { 0 };
	size_t		 len[LRS_NSTR] = { 0 };

	if (lb.dropped == 0 || lb.chan == NULL)
		return;
	memset(&r, 0, sizeof(r));
	r.lr_kind = LR_DROPPED;
	r.lr_time_us = logbuf_now_us();
	r.lr_dropped = lb.dropped;
	r.lr_dropped_since_us = lb.dropped_since_us;
	for (unsigned int i = 0; i < LRS_NSTR; i++)
		str[i] = "";
	lb.dropped = 0;
	logbuf_add(&r, str, len, 1);
}

/* ------------------------------------------------------- the records */

/* The value of header name in c's head, OWS trimmed; NULL if none. */
static const char *
logbuf_header(const struct conn *c, const char *name, size_t *vlen)
{
	const char	*p = c->cn_buf, *end = c->cn_buf + c->cn_head_len;
	const char	*eol, *v, *ve;
	size_t		 nlen = strlen(name);

	/* Past the request line. */
	if ((p = memchr(p, '\n', end - p)) == NULL)
		return NULL;
	for (p++; p < end; p = eol + 1) {
		if ((eol = memchr(p, '\n', end - p)) == NULL)
			return NULL;
		if ((size_t)(eol - p) <= nlen || p[nlen] != ':' ||
		    strncasecmp(p, name, nlen) != 0)
			continue;
		v = p + nlen + 1;
		ve = eol;
		if (ve > v && ve[-1] == '\r')
			ve--;
		while (v < ve && (*v == ' ' || *v == '\t'))
			v++;
		while (ve > v && (ve[-1] == ' ' || ve[-1] == '\t'))
			ve--;
		*vlen = ve - v;
		return v;
	}
	return NULL;
}

static void
logbuf_addr(const struct sockaddr_storage *ss, uint8_t *addr, uint16_t *port,
    uint8_t *family)
{
	const struct sockaddr_in	*s4 = (const struct sockaddr_in *)ss;
	const struct sockaddr_in6	*s6 = (const struct sockaddr_in6 *)ss;

	if (ss->ss_family == AF_INET) {
		memcpy(addr, &s4->sin_addr, 4);
		*port = ntohs(s4->sin_port);
		*family = AF_INET;
	} else if (ss->ss_family == AF_INET6) {
		memcpy(addr, &s6->sin6_addr, 16);
		*port = ntohs(s6->sin6_port);
		*family = AF_INET6;
	}
}

/*
 * A record of c's request: what its head says if it was read whole
 * (head = 1), else as much as is known.
 */
static void
logbuf_fill(const struct conn *c, struct logrec *r, const char **str,
    size_t *len, int head)
{
	const http_parser	*p = &c->cn_parser;
	const char		*name;
	uint8_t			 fam = 0;
	unsigned int		 i;

	memset(r, 0, sizeof(*r));
	for (i = 0; i < LRS_NSTR; i++) {
		str[i] = "";
		len[i] = 0;
	}
	r->lr_time_us = logbuf_now_us();
	r->lr_sc_head = c->cn_resp_head;
	if (c->cn_req_start != 0)
		r->lr_taken_ms = clock_ms() - c->cn_req_start;
	logbuf_addr(&c->cn_peer, r->lr_caddr, &r->lr_cport, &fam);
	logbuf_addr(&c->cn_local, r->lr_saddr, &r->lr_sport, &r->lr_family);
	if (fam != r->lr_family)
		r->lr_family = 0;
	if (c->cn_url_len > 0 && c->cn_buf != NULL) {
		name = http_method_str(p->method);
		str[LRS_METHOD] = name;
		len[LRS_METHOD] = strlen(name);
		str[LRS_TARGET] = c->cn_buf + c->cn_url_off;
		len[LRS_TARGET] = c->cn_url_len;
	}
	if (!head || c->cn_buf == NULL || c->cn_head_len == 0)
		return;
	r->lr_http_major = p->http_major;
	r->lr_http_minor = p->http_minor;
	/* The head and the body it announced (a chunked body's size is
	 * the worker's to know). */
	r->lr_cs_bytes = c->cn_head_len + c->cn_body_len;
	str[LRS_USER_AGENT] = logbuf_header(c, "User-Agent",
	    &len[LRS_USER_AGENT]);
	str[LRS_REFERER] = logbuf_header(c, "Referer", &len[LRS_REFERER]);
	str[LRS_COOKIE] = logbuf_header(c, "Cookie", &len[LRS_COOKIE]);
	str[LRS_HOST] = logbuf_header(c, "Host", &len[LRS_HOST]);
	for (i = 0; i < LRS_NSTR; i++)
		if (str[i] == NULL) {
			str[i] = "";
			len[i] = 0;
		}
	if (c->cn_site < lenv->le_conf->cf_nsites) {
		str[LRS_SITE] = lenv->le_conf->cf_sites[c->cn_site].st_name;
		len[LRS_SITE] = strlen(str[LRS_SITE]);
		str[LRS_QUEUE] = lenv->le_conf->cf_pools[c->cn_pool].pl_name;
		len[LRS_QUEUE] = strlen(str[LRS_QUEUE]);
	}
}

/* A response a worker sent, sc_bytes of it, for c's request. */
void
logbuf_access(const struct conn *c, int status, uint64_t sc_bytes,
    uint32_t win32)
{
	struct logrec	 r;
	const char	*str[LRS_NSTR];
	size_t		 len[LRS_NSTR];

	if (c->cn_head_len == 0 || c->cn_buf == NULL)
		return;
	logbuf_fill(c, &r, str, len, 1);
	r.lr_kind = LR_ACCESS;
	r.lr_status = status;
	r.lr_sc_bytes = sc_bytes;
	r.lr_win32 = win32;
	logbuf_add(&r, str, len, 0);
}

/*
 * A handed-back response (send.c) is logged when it is out, but its
 * request's head is gone by then: the record is made now, kept on c,
 * and finished (time, bytes) by logbuf_finish().
 */
struct lb_pending {
	struct logrec	 lp_rec;
	uint64_t	 lp_start;
	size_t		 lp_len[LRS_NSTR];
	char		*lp_str[LRS_NSTR];
};

void
logbuf_defer(struct conn *c, int status, uint64_t sc_bytes)
{
	struct lb_pending	*lp;
	const char		*str[LRS_NSTR];
	unsigned int		 i;

	if (c->cn_head_len == 0 || c->cn_buf == NULL || c->cn_logpend != NULL)
		return;
	if ((lp = calloc(1, sizeof(*lp))) == NULL) {
		log_warn("logbuf_defer: calloc");
		return;
	}
	logbuf_fill(c, &lp->lp_rec, str, lp->lp_len, 1);
	for (i = 0; i < LRS_NSTR; i++) {
		if (lp->lp_len[i] > LOGREC_STR_MAX)
			lp->lp_len[i] = LOGREC_STR_MAX;
		if ((lp->lp_str[i] = malloc(lp->lp_len[i] + 1)) == NULL) {
			while (i-- > 0)
				free(lp->lp_str[i]);
			free(lp);
			log_warn("logbuf_defer: malloc");
			return;
		}
		memcpy(lp->lp_str[i], str[i], lp->lp_len[i]);
	}
	lp->lp_rec.lr_kind = LR_ACCESS;
	lp->lp_rec.lr_status = status;
	lp->lp_rec.lr_sc_bytes = sc_bytes;
	lp->lp_start = c->cn_req_start;
	c->cn_logpend = lp;
}

/* c's handed-back response is out (win32 0) or cut (64). */
void
logbuf_finish(struct conn *c, uint64_t sc_bytes, uint32_t win32)
{
	struct lb_pending	*lp = c->cn_logpend;
	const char		*str[LRS_NSTR];
	unsigned int		 i;

	if (lp == NULL)
		return;
	c->cn_logpend = NULL;
	lp->lp_rec.lr_time_us = logbuf_now_us();
	if (lp->lp_start != 0)
		lp->lp_rec.lr_taken_ms = clock_ms() - lp->lp_start;
	if (sc_bytes != 0)
		lp->lp_rec.lr_sc_bytes = sc_bytes;
	lp->lp_rec.lr_win32 = win32;
	for (i = 0; i < LRS_NSTR; i++)
		str[i] = lp->lp_str[i];
	logbuf_add(&lp->lp_rec, str, lp->lp_len, 0);
	for (i = 0; i < LRS_NSTR; i++)
		free(lp->lp_str[i]);
	free(lp);
}

/*
 * The listener answered c with status (0: nothing, the connection was
 * dropped) for reason; head: whether c holds a whole head it read.
 */
void
logbuf_httperr(const struct conn *c, int status, int reason, int head)
{
	struct logrec	 r;
	const char	*str[LRS_NSTR];
	size_t		 len[LRS_NSTR];

	logbuf_fill(c, &r, str, len, head && c->cn_head_len > 0);
	r.lr_kind = LR_HTTPERR;
	r.lr_status = status;
	r.lr_reason = reason;
	logbuf_add(&r, str, len, 0);
}

/* ---------------------------------------------------- the logger side */

static void
logbuf_ack(const struct msg_hdr *hdr, const void *data)
{
	struct msg_log_ack	 la;
	struct lb_batch		*bt;

	if (hdr->mh_len != sizeof(la))
		return;
	memcpy(&la, data, sizeof(la));
	if (la.la_epoch != lb.epoch)
		return;
	while ((bt = TAILQ_FIRST(&lb.batches)) != NULL &&
	    bt->bt_seq <= la.la_seq) {
		TAILQ_REMOVE(&lb.batches, bt, bt_entry);
		lb.held -= bt->bt_len;
		lb.held_records -= bt->bt_count;
		free(bt->bt_data);
		free(bt);
	}
	logbuf_report_dropped();
	listener_check_drained();
}

static void
logbuf_msg(struct chan *ch, const struct msg_hdr *hdr, const void *data,
    int fd, void *arg)
{
	(void)ch;
	(void)arg;
	if (fd != -1)
		close(fd);
	if (hdr->mh_type == MSG_LOG_ACK)
		logbuf_ack(hdr, data);
	else
		log_warnx("logbuf_msg: unexpected message type %u",
		    hdr->mh_type);
}

static void
logbuf_gone(struct chan *ch, void *arg)
{
	(void)arg;
	chan_free(ch);
	if (ch == lb.chan) {
		log_warnx("logbuf_gone: the logger is gone; %llu records wait "
		    "for the next one", (unsigned long long)lb.held_records);
		lb.chan = NULL;
	}
}

/* MSG_PM_LOGGER: a (new) logger; it gets what is not written yet. */
void
logbuf_logger(int fd)
{
	struct lb_batch	*bt;

	if (lb.chan != NULL)
		chan_free(lb.chan);
	if ((lb.chan = chan_new(lenv->le_base, fd, "logger", logbuf_msg,
	    logbuf_gone, NULL)) == NULL) {
		log_warnx("logbuf_logger: no channel");
		return;
	}
	TAILQ_FOREACH(bt, &lb.batches, bt_entry)
		logbuf_send(bt);
	logbuf_report_dropped();
}

/* A stop: everything out now; 1 once written (or given up on). */
int
logbuf_drained(void)
{
	struct timeval	tv;

	logbuf_close_batch();
	if (TAILQ_EMPTY(&lb.batches) || lb.stop_expired)
		return 1;
	if (!evtimer_pending(lb.stop_timer, NULL)) {
		conf_timeval(LB_STOP_WAIT_MS, &tv);
		evtimer_add(lb.stop_timer, &tv);
	}
	return 0;
}

void
logbuf_status(uint64_t *buffered, uint64_t *dropped)
{
	*buffered = lb.held_records;
	*dropped = lb.dropped_total;
}
