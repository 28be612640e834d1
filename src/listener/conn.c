/*
 * Client connections in the listener: accept, read and parse the request
 * head (http-parser), enforce the header limits and timers, route, and hand
 * the request to queue.c.  Requests the listener refuses itself get a
 * complete error response and a lingering close, so the client reads the
 * answer instead of a reset.
 */
#include "config.h"

#include <sys/socket.h>
#include <sys/types.h>
#include <netinet/in.h>
#include <netinet/tcp.h>

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>
#include <event2/listener.h>
#include <http_parser.h>

#include "clock.h"
#include "conf.h"
#include "head.h"
#include "listener.h"
#include "log.h"
#include "logrec.h"
#include "uri.h"

#define CONN_LINGER_MAX		(64 * 1024)	/* bytes discarded before close */
#define CONN_BUF_FREE_MAX	256		/* idle buffers kept for reuse */
#define CONN_LISTEN_MAX		64
#define CONN_ACCEPT_PAUSE_MS	100	/* after accept() ran out of fds */
#define CONN_DISCARD_BUDGET	(1024 * 1024)	/* per readiness, then others */

static struct evconnlistener	*conn_listeners[CONN_LISTEN_MAX];
static int			 conn_nlisteners;
static uint32_t			 conn_listen_lids[CONN_LISTEN_MAX];
static uint32_t			 conn_next_lid;	/* each socket's cn_lid */
static char			*conn_buf_free[CONN_BUF_FREE_MAX];
static int			 conn_nbuf_free;
static http_parser_settings	 conn_settings;

static void	conn_readable(evutil_socket_t, short, void *);
static void	conn_read(struct conn *);
static void	conn_timeout(evutil_socket_t, short, void *);
static void	conn_parse(struct conn *);
static void	conn_options(struct conn *);
static int	conn_discard_check(struct conn *);

/* Request buffers: data area, then room for the normalised path. */
static size_t
conn_buf_size(void)
{
	return lenv->le_data_cap + lenv->le_conf->cf_limits.max_field_length +
	    2;
}

int
conn_buf_take(struct conn *c)
{
	if (c->cn_buf != NULL)
		return 0;
	if (conn_nbuf_free > 0)
		c->cn_buf = conn_buf_free[--conn_nbuf_free];
	else if ((c->cn_buf = malloc(conn_buf_size())) == NULL) {
		log_warn("conn_buf_take: malloc");
		return -1;
	}
	c->cn_path = c->cn_buf + lenv->le_data_cap;
	return 0;
}

void
conn_buf_release(struct conn *c)
{
	if (c->cn_buf == NULL)
		return;
	if (conn_nbuf_free < CONN_BUF_FREE_MAX)
		conn_buf_free[conn_nbuf_free++] = c->cn_buf;
	else
		free(c->cn_buf);
	c->cn_buf = NULL;
	c->cn_path = NULL;
	c->cn_len = 0;
}

static const char *
conn_reason(int status)
{
	switch (status) {
	case 400: return "Bad Request";
	case 408: return "Request Timeout";
	case 413: return "Content Too Large";
	case 414: return "URI Too Long";
	case 431: return "Request Header Fields Too Large";
	case 500: return "Internal Server Error";
	case 501: return "Not Implemented";
	case 502: return "Bad Gateway";
	case 503: return "Service Unavailable";
	case 505: return "HTTP Version Not Supported";
	default: return "Error";
	}
}

/* ------------------------------------------------------------------ */
/* The head parser */

static int
conn_on_message_begin(http_parser *p)
{
	struct conn	*c = p->data;

	c->cn_url_len = 0;
	c->cn_name_len = c->cn_line_len = 0;
	c->cn_in_value = 0;
	c->cn_req_start = clock_ms();
	c->cn_body_len = 0;
	c->cn_resp_head = 0;
	c->cn_site = UINT32_MAX;	/* not routed yet: logged without one */
	return 0;
}

static int
conn_on_url(http_parser *p, const char *at, size_t len)
{
	struct conn	*c = p->data;

	if (c->cn_url_len == 0)
		c->cn_url_off = at - c->cn_buf;
	c->cn_url_len += len;
	if (c->cn_url_len > lenv->le_conf->cf_limits.max_field_length) {
		c->cn_err = 414;
		return -1;
	}
	return 0;
}

static int
conn_line_check(struct conn *c, size_t len)
{
	c->cn_line_len += len;
	if (c->cn_line_len > lenv->le_conf->cf_limits.max_field_length) {
		c->cn_err = 431;
		return -1;
	}
	return 0;
}

static int
conn_on_header_field(http_parser *p, const char *at, size_t len)
{
	struct conn	*c = p->data;

	(void)at;
	if (c->cn_in_value || c->cn_name_len == 0) {
		/* A new header line starts. */
		c->cn_in_value = 0;
		c->cn_line_len = 0;
		c->cn_name_len = 0;
	}
	c->cn_name_len += len;
	return conn_line_check(c, len);
}

/* What a field says is head_check()'s to judge, once the head is whole. */
static int
conn_on_header_value(http_parser *p, const char *at, size_t len)
{
	struct conn	*c = p->data;

	(void)at;
	c->cn_in_value = 1;
	return conn_line_check(c, len);
}

static int
conn_on_headers_complete(http_parser *p)
{
	/* The listener reads heads only; the worker reads the body. */
	http_parser_pause(p, 1);
	return 0;
}

/* A method token we do not know is 501, anything else 400. */
static int
conn_bad_method_status(const struct conn *c)
{
	size_t	i;

	for (i = 0; i < c->cn_len; i++) {
		char ch = c->cn_buf[i];

		if (ch == ' ')
			return i > 0 ? 501 : 400;
		if (ch == '\r' || ch == '\n') {
			if (i == 0)
				continue;
			return 400;
		}
		if (!((ch >= 'A' && ch <= 'Z') || ch == '-' || ch == '_'))
			return 400;
	}
	return c->cn_len > 0 ? 501 : 400;
}

static int
conn_parse_status(const struct conn *c)
{
	if (c->cn_err)
		return c->cn_err;
	switch (HTTP_PARSER_ERRNO(&c->cn_parser)) {
	case HPE_INVALID_METHOD:
		return conn_bad_method_status(c);
	case HPE_HEADER_OVERFLOW:
		return 431;
	default:
		return 400;
	}
}

/* c's site, application and pool for its Host (NULL: none) and path,
 * by the current configuration; -1 if no site takes it. */
static int
conn_route_host(struct conn *c, const char *host, size_t hostlen)
{
	const struct hsd_config	*conf = lenv->le_conf;
	int			 site;

	site = conf_route_site(conf, (struct sockaddr *)&c->cn_local, host,
	    hostlen);
	if (site < 0)
		return -1;
	c->cn_site = site;
	c->cn_app = conf_route_app(&conf->cf_sites[site], c->cn_path,
	    c->cn_path_len);
	c->cn_pool = conf_route_pool(&conf->cf_sites[site], c->cn_app);
	return 0;
}

/* The Host a complete head names: the absolute-form target's authority
 * wins over the header (RFC 9112 3.2.2).  0, or -1 if the URL is bad. */
static int
conn_host(struct conn *c, const struct head_info *hi, const char **host,
    size_t *hostlen, struct http_parser_url *u)
{
	const char	*url = c->cn_buf + c->cn_url_off;

	*host = NULL;
	*hostlen = 0;
	http_parser_url_init(u);
	if (c->cn_url_len == 0 ||
	    http_parser_parse_url(url, c->cn_url_len, 0, u) != 0 ||
	    !(u->field_set & (1 << UF_PATH)))
		return -1;
	if (u->field_set & (1 << UF_HOST)) {
		*host = url + u->field_data[UF_HOST].off;
		*hostlen = u->field_data[UF_HOST].len;
	} else if (hi->hi_has_host) {
		*host = c->cn_buf + hi->hi_host_off;
		*hostlen = hi->hi_host_len;
	}
	return 0;
}

/*
 * Route again, by a configuration a reload just made current, a request
 * whose head was routed by the one before (it is parked, or at a worker).
 * -1 if no site takes it now.
 */
int
conn_route(struct conn *c)
{
	struct http_parser_url	 u;
	struct head_info	 hi;
	const char		*host;
	size_t			 hostlen;

	if (head_check(c->cn_buf, c->cn_head_len, &hi) != 0 ||
	    conn_host(c, &hi, &host, &hostlen, &u) == -1)
		return -1;
	return conn_route_host(c, host, hostlen);
}

/* The head is complete: check what http-parser leaves to us, then route. */
static void
conn_head_complete(struct conn *c)
{
	const struct hsd_config	*conf = lenv->le_conf;
	http_parser		*p = &c->cn_parser;
	struct http_parser_url	 u;
	struct head_info	 hi;
	const char		*url = c->cn_buf + c->cn_url_off;
	const char		*host;
	size_t			 hostlen;
	ssize_t			 n;
	uint64_t		 max;
	int			 status;

	if ((status = head_check(c->cn_buf, c->cn_head_len, &hi)) != 0) {
		conn_fail(c, status, HE_NONE);
		return;
	}
	if (p->method == HTTP_CONNECT) {
		conn_fail(c, 501, HE_VERB);
		return;
	}
	if (hi.hi_options_any) {
		conn_options(c);
		return;
	}
	if (conn_host(c, &hi, &host, &hostlen, &u) == -1) {
		conn_fail(c, 400, HE_URL);
		return;
	}
	n = uri_normalize(url + u.field_data[UF_PATH].off,
	    u.field_data[UF_PATH].len, c->cn_path, conf->cf_limits.max_field_length + 2);
	if (n < 0) {
		conn_fail(c, 400, HE_URL);
		return;
	}
	c->cn_path_len = n;

	if (conn_route_host(c, host, hostlen) == -1) {
		conn_fail(c, 400, HE_HOSTNAME);
		return;
	}
	/* A body announced too large is refused before any of it is read
	 * or any worker sees it (HTTP.sys's maxAllowedContentLength). */
	max = conf_max_body(&conf->cf_sites[c->cn_site], c->cn_app);
	if (max != 0 && (p->flags & F_CONTENTLENGTH) &&
	    p->content_length > max) {
		conn_fail(c, 413, HE_ENTITY_TOO_LARGE);
		return;
	}
	c->cn_keepalive = http_should_keep_alive(p) ? 1 : 0;
	c->cn_body_len = (p->flags & F_CONTENTLENGTH) ? p->content_length : 0;
	c->cn_redispatched = 0;
	if (cache_eligible(c, &hi, host, hostlen,
	    (u.field_set & (1 << UF_QUERY)) ? url + u.field_data[UF_QUERY].off :
	    NULL, u.field_data[UF_QUERY].len) && cache_lookup(c, &hi))
		return;
	queue_dispatch(c);
}

/* Feed whatever arrived to the parser; act when the head is complete. */
static void
conn_parse(struct conn *c)
{
	const struct conf_limits *lim = &lenv->le_conf->cf_limits;
	size_t			 n;

	if (c->cn_parsed == 0 && c->cn_len > 0)
		event_add(c->cn_timer, lenv->le_tv_header);
	n = http_parser_execute(&c->cn_parser, &conn_settings,
	    c->cn_buf + c->cn_parsed, c->cn_len - c->cn_parsed);
	c->cn_parsed += n;
	if (HTTP_PARSER_ERRNO(&c->cn_parser) == HPE_PAUSED) {
		/* Paused on the head's final LF, which is not counted. */
		if (c->cn_parsed < c->cn_len && c->cn_buf[c->cn_parsed] == '\n')
			c->cn_parsed++;
		c->cn_head_len = c->cn_parsed;
		if (c->cn_head_len > lim->max_request_bytes)
			conn_fail(c, 431, HE_REQUEST_LENGTH);
		else
			conn_head_complete(c);
		return;
	}
	if (HTTP_PARSER_ERRNO(&c->cn_parser) != HPE_OK) {
		conn_fail(c, conn_parse_status(c), HE_NONE);
		return;
	}
	if (c->cn_parsed > lim->max_request_bytes) {
		/* Still in the request line means the target is too long. */
		conn_fail(c, c->cn_name_len == 0 ? 414 : 431, HE_NONE);
		return;
	}
}

/* ------------------------------------------------------------------ */
/* Connection life cycle */

static void
conn_request_reset(struct conn *c)
{
	http_parser_init(&c->cn_parser, HTTP_REQUEST);
	c->cn_parser.data = c;
	c->cn_parsed = 0;
	c->cn_head_len = 0;
	c->cn_err = 0;
}

static void
conn_accept(struct evconnlistener *l, evutil_socket_t fd,
    struct sockaddr *peer, int peerlen, void *arg)
{
	struct conn	*c;
	socklen_t	 len;
	int		 one = 1, max;

	(void)l;
	if ((c = calloc(1, sizeof(*c))) == NULL) {
		log_warn("conn_accept: calloc");
		close(fd);
		return;
	}
	c->cn_fd = fd;
	c->cn_file = -1;
	c->cn_lid = (uint32_t)(uintptr_t)arg;
	if (peerlen > 0 && (size_t)peerlen <= sizeof(c->cn_peer))
		memcpy(&c->cn_peer, peer, peerlen);
	c->cn_id = ++lenv->le_next_id ? lenv->le_next_id : ++lenv->le_next_id;
	len = sizeof(c->cn_local);
	if (getsockname(fd, (struct sockaddr *)&c->cn_local, &len) == -1)
		log_warn("conn_accept: getsockname");
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	/* One edge-triggered read event for the connection's whole life:
	 * no epoll_ctl per request.  While a worker holds the connection the
	 * listener only notes that bytes arrived (cn_pending). */
	c->cn_ev = event_new(lenv->le_base, fd, EV_READ | EV_PERSIST | EV_ET,
	    conn_readable, c);
	c->cn_timer = evtimer_new(lenv->le_base, conn_timeout, c);
	if (c->cn_ev == NULL || c->cn_timer == NULL) {
		log_warnx("conn_accept: event_new failed");
		if (c->cn_ev)
			event_free(c->cn_ev);
		if (c->cn_timer)
			event_free(c->cn_timer);
		close(fd);
		free(c);
		return;
	}
	TAILQ_INSERT_TAIL(&lenv->le_conns, c, cn_entry);
	lenv->le_nconns++;
	conn_request_reset(c);
	c->cn_state = CN_READING;

	event_add(c->cn_ev, NULL);
	max = lenv->le_conf->cf_limits.max_connections;
	if (max > 0 && lenv->le_nconns > (uint32_t)max) {
		conn_fail(c, 503, HE_CONN_LIMIT);
		return;
	}
	event_add(c->cn_timer, lenv->le_tv_header);
}

static void
conn_accept_resume(evutil_socket_t fd, short ev, void *arg)
{
	int	i;

	(void)fd;
	(void)ev;
	(void)arg;
	for (i = 0; i < conn_nlisteners; i++)
		evconnlistener_enable(conn_listeners[i]);
}

/*
 * Out of fds or memory: the listening sockets stay readable, so retrying
 * at once would spin.  Pause accepting briefly; the connections wait in
 * the backlog, and the ones already open go on being served.
 */
static void
conn_accept_error(struct evconnlistener *l, void *arg)
{
	static struct event	*resume;
	struct timeval		 tv = { 0, CONN_ACCEPT_PAUSE_MS * 1000 };
	int			 i;

	(void)arg;
	log_warn("conn_accept_error: accept on fd %d; pausing for %d ms",
	    (int)evconnlistener_get_fd(l), CONN_ACCEPT_PAUSE_MS);
	if (resume == NULL &&
	    (resume = evtimer_new(lenv->le_base, conn_accept_resume,
	    NULL)) == NULL)
		return;
	for (i = 0; i < conn_nlisteners; i++)
		evconnlistener_disable(conn_listeners[i]);
	evtimer_add(resume, &tv);
}

int
conn_listen(int fd)
{
	struct evconnlistener	*l;

	if (conn_nlisteners == CONN_LISTEN_MAX) {
		log_warnx("conn_listen: too many listening sockets");
		close(fd);
		return -1;
	}
	if (conn_settings.on_url == NULL) {
		conn_settings.on_message_begin = conn_on_message_begin;
		conn_settings.on_url = conn_on_url;
		conn_settings.on_header_field = conn_on_header_field;
		conn_settings.on_header_value = conn_on_header_value;
		conn_settings.on_headers_complete = conn_on_headers_complete;
	}
	/* backlog 0: the pool manager already called listen().  Its
	 * connections know it by a number, for when a reload closes it. */
	l = evconnlistener_new(lenv->le_base, conn_accept,
	    (void *)(uintptr_t)++conn_next_lid,
	    LEV_OPT_CLOSE_ON_FREE | LEV_OPT_CLOSE_ON_EXEC, 0, fd);
	if (l == NULL) {
		log_warnx("conn_listen: evconnlistener_new failed for fd %d", fd);
		close(fd);
		return -1;
	}
	evconnlistener_set_error_cb(l, conn_accept_error);
	conn_listen_lids[conn_nlisteners] = conn_next_lid;
	conn_listeners[conn_nlisteners++] = l;
	return 0;
}

/*
 * c is closed if it is between requests.  One still throwing a body away
 * has its answer but maybe not yet acknowledged: closing on unread bytes
 * would reset it, so it gets a lingering close.
 */
static void
conn_close_if_idle(struct conn *c)
{
	if (c->cn_state != CN_READING || c->cn_len != 0)
		return;
	if (c->cn_discard > 0) {
		c->cn_discard = 0;
		conn_close_graceful(c);
	} else
		conn_close(c);
}

/*
 * After a reload: every listening socket whose address the configuration
 * no longer has is closed, and so are its connections, each at its next
 * request boundary: at once if it is between requests, else once its
 * response is out (conn_resume()).
 */
void
conn_listen_prune(void)
{
	struct sockaddr_storage	 ss;
	struct conn		*c, *next;
	socklen_t		 len;
	uint32_t		 gone[CONN_LISTEN_MAX], lid;
	int			 i, j, ngone = 0, fd;

	for (i = 0; i < conn_nlisteners; ) {
		fd = evconnlistener_get_fd(conn_listeners[i]);
		len = sizeof(ss);
		if (getsockname(fd, (struct sockaddr *)&ss, &len) == -1 ||
		    conf_find_listen(lenv->le_conf, (struct sockaddr *)&ss) !=
		    -1) {
			i++;
			continue;
		}
		lid = conn_listen_lids[i];
		log_info("conn_listen_prune: no longer listening on fd %d", fd);
		evconnlistener_free(conn_listeners[i]);
		gone[ngone++] = lid;
		for (j = i + 1; j < conn_nlisteners; j++) {
			conn_listeners[j - 1] = conn_listeners[j];
			conn_listen_lids[j - 1] = conn_listen_lids[j];
		}
		conn_nlisteners--;
	}
	if (ngone == 0)
		return;
	for (c = TAILQ_FIRST(&lenv->le_conns); c != NULL; c = next) {
		next = TAILQ_NEXT(c, cn_entry);
		for (j = 0; j < ngone && gone[j] != c->cn_lid; j++)
			;
		if (j == ngone)
			continue;
		c->cn_doomed = 1;
		conn_close_if_idle(c);
	}
}

void
conn_stop_accepting(void)
{
	int	i;

	for (i = 0; i < conn_nlisteners; i++)
		evconnlistener_free(conn_listeners[i]);
	conn_nlisteners = 0;
}

void
conn_close(struct conn *c)
{
	/* A handed-back response that did not get out whole. */
	if (c->cn_logpend != NULL)
		logbuf_finish(c, 0, 64);
	if (c->cn_state == CN_QUEUED)
		queue_unpark(c);
	event_free(c->cn_ev);
	if (c->cn_wev != NULL)
		event_free(c->cn_wev);
	event_free(c->cn_timer);
	conn_buf_release(c);
	send_free(c);
	close(c->cn_fd);
	TAILQ_REMOVE(&lenv->le_conns, c, cn_entry);
	lenv->le_nconns--;
	free(c);
	listener_check_drained();
}

/* A half-sent response must never look complete: reset the connection. */
void
conn_reset(struct conn *c)
{
	struct linger	l = { 1, 0 };

	setsockopt(c->cn_fd, SOL_SOCKET, SO_LINGER, &l, sizeof(l));
	conn_close(c);
}

/* Close after our last byte: FIN first, then read until the client closes
 * (or a bound), so unread request bytes do not turn our close into a reset
 * that destroys the response in flight. */
static void
conn_linger(struct conn *c)
{
	c->cn_state = CN_CLOSING;
	c->cn_out = NULL;
	if (shutdown(c->cn_fd, SHUT_WR) == -1) {
		conn_close(c);
		return;
	}
	event_add(c->cn_timer, lenv->le_tv_linger);
	/* What is already there raises no new edge: discard it now. */
	conn_read(c);
}

void
conn_close_graceful(struct conn *c)
{
	c->cn_discard = 0;	/* lingering reads whatever comes */
	conn_buf_release(c);
	conn_linger(c);
}

static void
conn_flush(struct conn *c)
{
	ssize_t	n;

	while (c->cn_out_off < c->cn_out_len) {
		n = send(c->cn_fd, c->cn_out + c->cn_out_off,
		    c->cn_out_len - c->cn_out_off, MSG_NOSIGNAL);
		if (n == -1) {
			if (errno == EAGAIN || errno == EWOULDBLOCK) {
				if (c->cn_wev == NULL && (c->cn_wev = event_new(
				    lenv->le_base, c->cn_fd, EV_WRITE | EV_PERSIST,
				    conn_writable, c)) == NULL) {
					conn_close(c);
					return;
				}
				event_add(c->cn_wev, NULL);
				return;
			}
			if (errno == EINTR)
				continue;
			conn_close(c);
			return;
		}
		c->cn_out_off += n;
	}
	if (c->cn_wev != NULL)
		event_del(c->cn_wev);
	if (c->cn_state == CN_ANSWERING) {
		/* A keep-alive answer of our own is out: on to the next
		 * request, with any bytes that came behind this one. */
		c->cn_sent += c->cn_out_len;
		free(c->cn_outbuf);
		c->cn_outbuf = NULL;
		c->cn_out = NULL;
		conn_resume(c, c->cn_buf + c->cn_head_len,
		    c->cn_len - c->cn_head_len);
		return;
	}
	conn_linger(c);
}

/* The HTTPERR reason of a status the listener answers, unless the
 * caller knows better. */
static int
conn_status_reason(int status)
{
	switch (status) {
	case 408:
		return HE_TIMER_HEADER_WAIT;
	case 413:
		return HE_ENTITY_TOO_LARGE;
	case 414:
		return HE_URL_LENGTH;
	case 431:
		return HE_FIELD_LENGTH;
	case 501:
		return HE_NOT_IMPLEMENTED;
	case 502:
		return HE_ABANDONED;
	case 503:
		return HE_QUEUE_FULL;
	default:
		return HE_BAD_REQUEST;
	}
}

/*
 * Answer with status and close; the request is not going anywhere else.
 * The HTTPERR log gets it, with reason (HE_NONE: the usual one for the
 * status).
 */
void
conn_fail(struct conn *c, int status, int reason)
{
	static const char fmt[] =
	    "HTTP/1.1 %d %s\r\n"
	    "Server: " PACKAGE_NAME "/" PACKAGE_VERSION "\r\n"
	    "Date: %s\r\n"
	    "Content-Type: text/html\r\n"
	    "Content-Length: %d\r\n"
	    "Connection: close\r\n"
	    "\r\n"
	    "%s";
	char		 body[160], date[64];
	const char	*text = conn_reason(status);
	time_t		 now = time(NULL);
	struct tm	 tm;
	int		 n, blen;

	logbuf_httperr(c, c->cn_resume ? 0 : status, reason != HE_NONE ?
	    reason : conn_status_reason(status), c->cn_head_len > 0);
	if (c->cn_resume) {
		/* Half a response is out: an answer of our own behind it
		 * would be mixed bytes. */
		log_info("conn_fail: connection %u: %d with a response "
		    "half sent; resetting", c->cn_id, status);
		conn_reset(c);
		return;
	}
	log_debug("conn_fail: connection %u: %d %s", c->cn_id, status, text);
	if (c->cn_state == CN_QUEUED)
		queue_unpark(c);
	c->cn_state = CN_CLOSING;
	evtimer_del(c->cn_timer);
	conn_buf_release(c);

	gmtime_r(&now, &tm);
	strftime(date, sizeof(date), "%a, %d %b %Y %H:%M:%S GMT", &tm);
	blen = snprintf(body, sizeof(body),
	    "<html><head><title>%d %s</title></head><body><h1>%d %s</h1>"
	    "</body></html>\n", status, text, status, text);
	n = snprintf(NULL, 0, fmt, status, text, date, blen, body);
	free(c->cn_outbuf);
	if ((c->cn_outbuf = malloc(n + 1)) == NULL) {
		log_warn("conn_fail: malloc");
		conn_close(c);
		return;
	}
	snprintf(c->cn_outbuf, n + 1, fmt, status, text, date, blen, body);
	c->cn_out = c->cn_outbuf;
	c->cn_out_len = n;
	c->cn_out_off = 0;
	event_add(c->cn_timer, lenv->le_tv_conn);
	conn_flush(c);
}

/*
 * "OPTIONS *" asks about the server, not a resource, so no worker has
 * anything to add: the listener answers, and reads the next request when
 * the connection may be kept.  A body would have to be read and thrown
 * away first; a client that sends one with OPTIONS * gets the answer and
 * a close instead.
 */
static void
conn_options(struct conn *c)
{
	static const char fmt[] =
	    "HTTP/1.1 200 OK\r\n"
	    "Server: " PACKAGE_NAME "/" PACKAGE_VERSION "\r\n"
	    "Date: %s\r\n"
	    "Allow: GET, HEAD, OPTIONS\r\n"
	    "Content-Length: 0\r\n"
	    "%s"
	    "\r\n";
	http_parser	*p = &c->cn_parser;
	const char	*conn_hdr = "";
	char		 date[64];
	time_t		 now = time(NULL);
	struct tm	 tm;
	int		 n, keep;

	keep = http_should_keep_alive(p) && !(p->flags & F_CHUNKED) &&
	    (p->content_length == 0 || p->content_length == ULLONG_MAX);
	if (!keep)
		conn_hdr = "Connection: close\r\n";
	else if (p->http_minor == 0)
		conn_hdr = "Connection: keep-alive\r\n";
	log_debug("conn_options: connection %u: OPTIONS *%s", c->cn_id,
	    keep ? "" : ", closing");

	gmtime_r(&now, &tm);
	strftime(date, sizeof(date), "%a, %d %b %Y %H:%M:%S GMT", &tm);
	n = snprintf(NULL, 0, fmt, date, conn_hdr);
	free(c->cn_outbuf);
	if ((c->cn_outbuf = malloc(n + 1)) == NULL) {
		log_warn("conn_options: malloc");
		conn_close(c);
		return;
	}
	snprintf(c->cn_outbuf, n + 1, fmt, date, conn_hdr);
	c->cn_out = c->cn_outbuf;
	c->cn_out_len = n;
	c->cn_out_off = 0;
	/* Answered, not refused: the access log, the server-wide one (no
	 * site is asked for). */
	logbuf_access(c, 200, n, 0);
	/* connection_timeout bounds a client that never reads the answer. */
	event_add(c->cn_timer, lenv->le_tv_conn);
	if (!keep) {
		c->cn_state = CN_CLOSING;
		conn_buf_release(c);
		conn_flush(c);
		return;
	}
	/*
	 * Written from the write event, which fires at once on a socket with
	 * room, so the next request is parsed from the event loop and not
	 * from in here: a pipeline of many OPTIONS * makes a loop, not a
	 * recursion that could run out of stack.  Bytes that arrive
	 * meanwhile wait in the socket (cn_pending).
	 */
	c->cn_state = CN_ANSWERING;
	if (c->cn_wev == NULL && (c->cn_wev = event_new(lenv->le_base,
	    c->cn_fd, EV_WRITE | EV_PERSIST, conn_writable, c)) == NULL) {
		log_warnx("conn_options: event_new failed");
		conn_close(c);
		return;
	}
	event_add(c->cn_wev, NULL);
}

/* The worker is done and the connection may carry another request. */
void
conn_resume(struct conn *c, const char *rest, size_t restlen)
{
	c->cn_state = CN_READING;
	c->cn_worker = NULL;
	conn_request_reset(c);
	if (lenv->le_stopping || c->cn_doomed) {
		conn_close_graceful(c);
		return;
	}
	if (restlen > 0) {
		if (conn_buf_take(c) == -1) {
			conn_close(c);
			return;
		}
		memmove(c->cn_buf, rest, restlen);
	} else
		conn_buf_release(c);
	c->cn_len = restlen;
	if (c->cn_discard > 0) {
		/* The body's bytes come first; the worker handed none of
		 * the next request's, since none can precede them. */
		c->cn_discard_start = clock_ms();
		c->cn_discard_got = 0;
		if (conn_discard_check(c) == -1)
			return;
	} else {
		/* Idle keep-alive time until the next request's first byte. */
		event_add(c->cn_timer, lenv->le_tv_conn);
	}
	if (c->cn_pending)
		conn_read(c);		/* bytes came while the worker had it */
	else if (restlen > 0)
		conn_parse(c);
}

/* A handed-back response is out: on to the next request, whose first
 * bytes (if any) wait in cn_buf. */
void
conn_resume_held(struct conn *c)
{
	size_t	len = c->cn_len;

	c->cn_len = 0;
	conn_resume(c, c->cn_buf, len);
}

/* Parked: bounded by connection_timeout; the read event still notices a
 * client that goes away. */
void
conn_parked(struct conn *c)
{
	event_add(c->cn_timer, lenv->le_tv_conn);
}

/* Graceful stop: connections between requests are closed now. */
void
conn_close_idle(void)
{
	struct conn	*c, *next;

	for (c = TAILQ_FIRST(&lenv->le_conns); c != NULL; c = next) {
		next = TAILQ_NEXT(c, cn_entry);
		conn_close_if_idle(c);
	}
}

/*
 * The entity-body rules for a body being thrown away: a deadline from the
 * start of the discard that bytes do not push back, and min_body_rate.
 * The client already has its answer, so one that breaks them is just
 * closed.  0: go on (the timer is armed), -1: closed.
 */
static int
conn_discard_check(struct conn *c)
{
	struct timeval	tv;
	uint64_t	wait;

	if (conf_body_check(&lenv->le_conf->cf_limits, c->cn_discard_start,
	    clock_ms(), c->cn_discard_got, &wait) == -1) {
		log_debug("conn_discard_check: connection %u: body too slow "
		    "(%llu bytes in %llu ms, %llu to go); closing", c->cn_id,
		    (unsigned long long)c->cn_discard_got,
		    (unsigned long long)(clock_ms() - c->cn_discard_start),
		    (unsigned long long)c->cn_discard);
		logbuf_httperr(c, 0, HE_TIMER_ENTITY_BODY, 0);
		conn_close(c);
		return -1;
	}
	conf_timeval(wait, &tv);
	event_add(c->cn_timer, &tv);
	return 0;
}

/*
 * Throw away body bytes as they arrive, never reading past the body: the
 * next request stays in the socket for conn_read().  1: wait for more
 * (the socket is drained, or others get a turn first), 0: the body is
 * gone, read on, -1: closed.
 */
static int
conn_discard(struct conn *c)
{
	static char	 sink[64 * 1024];
	size_t		 want, budget = CONN_DISCARD_BUDGET;
	ssize_t		 n;

	while (c->cn_discard > 0) {
		want = c->cn_discard < sizeof(sink) ? c->cn_discard :
		    sizeof(sink);
		if ((n = recv(c->cn_fd, sink, want, 0)) == -1) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				return 1;	/* drained: a new edge comes */
			conn_close(c);
			return -1;
		}
		if (n == 0) {
			conn_close(c);
			return -1;
		}
		c->cn_discard -= n;
		c->cn_discard_got += n;
		budget -= (size_t)n < budget ? (size_t)n : budget;
		if (c->cn_discard > 0 && budget == 0) {
			/* Bytes left in the socket raise no new edge: come
			 * back from the loop once others had their turn. */
			event_active(c->cn_ev, EV_READ, 1);
			return 1;
		}
	}
	log_debug("conn_discard: connection %u: body discarded", c->cn_id);
	if (lenv->le_stopping) {
		conn_close_graceful(c);
		return -1;
	}
	/* Idle keep-alive time until the next request's first byte. */
	event_add(c->cn_timer, lenv->le_tv_conn);
	return 0;
}

/*
 * Read what the socket holds.  The read event is edge-triggered, so this
 * reads until a short read (the socket is drained: new bytes raise a new
 * edge) unless the buffer fills, in which case cn_pending says more may be
 * waiting.  Parsing may hand the connection on or free it: nothing
 * touches c after conn_parse().
 */
static void
conn_read(struct conn *c)
{
	char	 scratch[4096];
	size_t	 room;
	ssize_t	 n;

	c->cn_pending = 0;
	switch (c->cn_state) {
	case CN_WORKER:
	case CN_SENDING:
	case CN_ANSWERING:
		c->cn_pending = 1;	/* the worker's bytes, or the next request */
		return;
	case CN_CLOSING:
		/* Lingering: discard until the client closes. */
		for (;;) {
			n = recv(c->cn_fd, scratch, sizeof(scratch), 0);
			if (n == -1 && (errno == EAGAIN || errno == EINTR))
				return;
			if (n <= 0 || (c->cn_drained += n) > CONN_LINGER_MAX) {
				conn_close(c);
				return;
			}
		}
	case CN_READING:
	case CN_QUEUED:
		break;
	}
	if (c->cn_discard > 0 && conn_discard(c) != 0)
		return;
	if (conn_buf_take(c) == -1) {
		conn_close(c);
		return;
	}
	if ((room = lenv->le_data_cap - c->cn_len) == 0)
		c->cn_pending = 1;	/* parked with a full buffer */
	else if ((n = recv(c->cn_fd, c->cn_buf + c->cn_len, room, 0)) == -1) {
		if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) {
			conn_close(c);
			return;
		}
	} else if (n == 0) {
		/* Gone: between requests, half-way through a head, or parked;
		 * one whose request waited is IIS's Connection_Dropped. */
		if (c->cn_state == CN_QUEUED)
			logbuf_httperr(c, 0, HE_DROPPED, 1);
		conn_close(c);
		return;
	} else {
		c->cn_len += n;
		if ((size_t)n == room)
			c->cn_pending = 1;
	}
	if (c->cn_len == 0) {
		conn_buf_release(c);
		return;
	}
	/*
	 * Parse whatever is unparsed, new or not: bytes a worker handed back
	 * with DONE raise no edge, and the socket may be empty by now (the
	 * edge that set cn_pending may have been for bytes read since, or
	 * read by the worker).
	 */
	if (c->cn_state == CN_READING && c->cn_parsed < c->cn_len)
		conn_parse(c);
}

static void
conn_readable(evutil_socket_t fd, short ev, void *arg)
{
	(void)fd;
	(void)ev;
	conn_read(arg);
}

void
conn_writable(evutil_socket_t fd, short ev, void *arg)
{
	struct conn	*c = arg;

	(void)fd;
	(void)ev;
	if (c->cn_state == CN_SENDING)
		send_flush(c);
	else
		conn_flush(c);
}

static void
conn_timeout(evutil_socket_t fd, short ev, void *arg)
{
	struct conn	*c = arg;

	(void)fd;
	(void)ev;
	switch (c->cn_state) {
	case CN_READING:
		if (c->cn_discard > 0)
			conn_discard_check(c);	/* a body thrown away */
		else if (c->cn_len == 0) {
			/* idle keep-alive: IIS logs it too */
			logbuf_httperr(c, 0, HE_TIMER_CONNECTION_IDLE, 0);
			conn_close(c);
		} else				/* head never completed */
			conn_fail(c, 408, HE_TIMER_HEADER_WAIT);
		break;
	case CN_QUEUED:				/* waited too long in the queue */
		conn_fail(c, 503, HE_TIMER_APP_POOL);
		break;
	case CN_CLOSING:
	case CN_ANSWERING:		/* the client does not read our answer */
		conn_close(c);
		break;
	case CN_WORKER:
		queue_deadline(c);		/* the worker's deadline */
		break;
	case CN_SENDING:
		send_timeout(c);		/* is the client keeping up? */
		break;
	}
}
