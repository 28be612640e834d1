/*
 * The pool manager's control socket, run_dir/hsd.sock, where hsdctl asks
 * for status and has pools stopped, started and recycled.  Only root and
 * the pool manager's own user may use it: the socket is 0600 in a run_dir
 * nobody else may write to, and the peer's credentials are checked too,
 * so a socket reached some other way (a passed fd, a capability) is still
 * refused.
 *
 * The protocol is text, one command per connection: the client sends
 * "COMMAND [ARG]\n" (at most CTL_LINE_MAX bytes, within CTL_TIMEOUT_MS)
 * and gets "ok\n" or "error: WHY\n", then the answer's text, then EOF.
 * A client is as hostile as any peer: one that sends garbage gets an error
 * and is closed, one that never finishes its line or never reads its
 * answer is closed after CTL_TIMEOUT_MS, and none of it ever blocks the
 * pool manager.
 *
 * status needs what only the listener knows (queue lengths, requests each
 * worker was handed): it asks with MSG_PM_STATUS and answers the client
 * when MSG_LSN_STATUS comes back, or after CTL_LISTENER_WAIT_MS without
 * those numbers, so a stuck listener does not hang hsdctl.
 */
#include "config.h"

#include <sys/queue.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/un.h>

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/listener.h>

#include "cache.h"
#include "chan.h"
#include "clock.h"
#include "conf.h"
#include "log.h"
#include "msg.h"
#include "poolmgr.h"

/* Room for what a reload's check says about a bad file. */
#define CTL_RELOAD_ERR	8192

#define CTL_SOCKET		"hsd.sock"
#define CTL_LINE_MAX		512
#define CTL_TIMEOUT_MS		5000
#define CTL_LISTENER_WAIT_MS	2000
#define CTL_CONNS_MAX		32

struct ctl_conn {
	struct bufferevent	*cc_bev;
	struct event		*cc_wait;	/* for the listener's numbers */
	uint32_t		 cc_serial;	/* MSG_PM_STATUS sent, 0: none */
	/* A reload's answer, held until the listener applied it. */
	uint32_t		 cc_reload_gen;
	char			*cc_report;
	int			 cc_json;
	/* A cache or purge request's serial at hsd-cached, 0: none. */
	uint32_t		 cc_cache_serial;
	TAILQ_ENTRY(ctl_conn)	 cc_entry;
};

static TAILQ_HEAD(, ctl_conn)	 ctl_conns = TAILQ_HEAD_INITIALIZER(ctl_conns);
static unsigned int		 ctl_nconns;
static struct evconnlistener	*ctl_listener;
static int			 ctl_fd = -1;
static int			 ctl_bound;	/* ctl_path is ours to unlink */
static char			*ctl_path;

static void	ctl_free(struct ctl_conn *);

/* Is a server listening on the socket at sun?  A stale one refuses. */
static int
ctl_alive(const struct sockaddr_un *sun)
{
	int	fd, alive;

	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC,
	    0)) == -1)
		return 0;
	/* EAGAIN: someone listens, with a full backlog. */
	alive = connect(fd, (const struct sockaddr *)sun, sizeof(*sun)) == 0 ||
	    errno == EAGAIN;
	close(fd);
	return alive;
}

/*
 * Made before the pid file and before daemon(), so a refusal is seen by
 * whoever started the server.  run_dir is checked already: ours, and
 * nobody else may write in it.  What sits at the path is replaced only if
 * it is a socket nobody answers on (a stale one of a server that did not
 * stop cleanly); anything else is the operator's to look at.
 */
int
ctl_open(void)
{
	struct sockaddr_un	 sun;
	struct stat		 st;
	mode_t			 mask;
	int			 fd;

	if (asprintf(&ctl_path, "%s/" CTL_SOCKET,
	    penv->pe_conf->cf_run_dir) == -1)
		fatal("ctl_open: asprintf");
	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	if (strlen(ctl_path) >= sizeof(sun.sun_path)) {
		log_warnx("control socket %s: the path is too long (at most "
		    "%zu bytes); choose a shorter run_dir", ctl_path,
		    sizeof(sun.sun_path) - 1);
		return -1;
	}
	memcpy(sun.sun_path, ctl_path, strlen(ctl_path));
	if (lstat(ctl_path, &st) == 0) {
		if (S_ISLNK(st.st_mode) || !S_ISSOCK(st.st_mode)) {
			log_warnx("control socket %s: %s is there; refusing "
			    "to replace it", ctl_path, S_ISLNK(st.st_mode) ?
			    "a symbolic link" : "something not a socket");
			return -1;
		}
		if (ctl_alive(&sun)) {
			log_warnx("control socket %s: another hsd-poolmgr "
			    "answers on it; refusing to start", ctl_path);
			return -1;
		}
		if (unlink(ctl_path) == -1) {
			log_warn("ctl_open: unlink stale %s", ctl_path);
			return -1;
		}
	} else if (errno != ENOENT) {
		log_warn("ctl_open: lstat %s", ctl_path);
		return -1;
	}
	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC,
	    0)) == -1) {
		log_warn("ctl_open: socket");
		return -1;
	}
	/* Created 0600: there is no moment it is open to others. */
	mask = umask(0177);
	if (bind(fd, (struct sockaddr *)&sun, sizeof(sun)) == -1) {
		umask(mask);
		log_warn("ctl_open: bind %s", ctl_path);
		close(fd);
		return -1;
	}
	umask(mask);
	ctl_bound = 1;
	if (listen(fd, 16) == -1) {
		log_warn("ctl_open: listen %s", ctl_path);
		close(fd);
		return -1;
	}
	ctl_fd = fd;
	return 0;
}

/* On the way out: the socket goes with the server. */
void
ctl_close(void)
{
	struct ctl_conn	*cc;

	while ((cc = TAILQ_FIRST(&ctl_conns)) != NULL)
		ctl_free(cc);
	if (ctl_listener != NULL)
		evconnlistener_free(ctl_listener);
	else if (ctl_fd != -1)
		close(ctl_fd);
	ctl_listener = NULL;
	ctl_fd = -1;
	if (ctl_bound && unlink(ctl_path) == -1 && errno != ENOENT)
		log_warn("ctl_close: unlink %s", ctl_path);
	ctl_bound = 0;
	free(ctl_path);
	ctl_path = NULL;
}

static void
ctl_free(struct ctl_conn *cc)
{
	TAILQ_REMOVE(&ctl_conns, cc, cc_entry);
	ctl_nconns--;
	if (cc->cc_wait != NULL)
		event_free(cc->cc_wait);
	bufferevent_free(cc->cc_bev);
	free(cc->cc_report);
	free(cc);
}

static void
ctl_written(struct bufferevent *bev, void *arg)
{
	if (evbuffer_get_length(bufferevent_get_output(bev)) == 0)
		ctl_free(arg);
}

static void
ctl_event(struct bufferevent *bev, short what, void *arg)
{
	(void)bev;
	if (what & BEV_EVENT_TIMEOUT)
		log_info("ctl_event: a control client timed out; closed");
	ctl_free(arg);
}

/* The answer is in the output buffer: close once it is out. */
static void
ctl_finish(struct ctl_conn *cc)
{
	bufferevent_disable(cc->cc_bev, EV_READ);
	bufferevent_setcb(cc->cc_bev, NULL, ctl_written, ctl_event, cc);
	bufferevent_enable(cc->cc_bev, EV_WRITE);
	ctl_written(cc->cc_bev, cc);
}

/* A string a client sent, fit to be echoed in a message: no control
 * characters, not too long. */
static void
ctl_printable(const char *s, char *buf, size_t len)
{
	size_t	i;

	for (i = 0; s[i] != '\0' && i + 1 < len; i++)
		buf[i] = (unsigned char)s[i] < 0x20 || s[i] == 0x7f ? '?' :
		    s[i];
	buf[i] = '\0';
}

static void
ctl_error(struct ctl_conn *cc, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void
ctl_error(struct ctl_conn *cc, const char *fmt, ...)
{
	struct evbuffer	*out = bufferevent_get_output(cc->cc_bev);
	va_list		 ap;

	evbuffer_add_printf(out, "error: ");
	va_start(ap, fmt);
	evbuffer_add_vprintf(out, fmt, ap);
	va_end(ap);
	evbuffer_add_printf(out, "\n");
	ctl_finish(cc);
}

/* ------------------------------------------------------------------ */
/* status */

/* A valid UTF-8 sequence's length at p, 0 if there is none. */
static size_t
ctl_utf8_len(const unsigned char *p)
{
	uint32_t	cp;
	size_t		n, i;

	if (p[0] < 0x80)
		return 1;
	if ((p[0] & 0xe0) == 0xc0) {
		n = 2;
		cp = p[0] & 0x1f;
	} else if ((p[0] & 0xf0) == 0xe0) {
		n = 3;
		cp = p[0] & 0x0f;
	} else if ((p[0] & 0xf8) == 0xf0) {
		n = 4;
		cp = p[0] & 0x07;
	} else
		return 0;
	for (i = 1; i < n; i++) {
		/* The NUL that ends the string fails this too. */
		if ((p[i] & 0xc0) != 0x80)
			return 0;
		cp = cp << 6 | (p[i] & 0x3f);
	}
	if ((n == 2 && cp < 0x80) || (n == 3 && cp < 0x800) ||
	    (n == 4 && (cp < 0x10000 || cp > 0x10ffff)) ||
	    (cp >= 0xd800 && cp <= 0xdfff))
		return 0;
	return n;
}

/* s as a JSON string: whatever bytes a config's names hold, valid JSON
 * comes out (bytes that are not UTF-8 become U+FFFD). */
static void
ctl_json_str(struct evbuffer *out, const char *s)
{
	const unsigned char	*p = (const unsigned char *)s;
	size_t			 n;

	evbuffer_add(out, "\"", 1);
	while (*p != '\0') {
		if (*p == '"' || *p == '\\') {
			evbuffer_add_printf(out, "\\%c", *p);
			p++;
		} else if (*p < 0x20 || *p == 0x7f) {
			evbuffer_add_printf(out, "\\u%04x", *p);
			p++;
		} else if ((n = ctl_utf8_len(p)) == 0) {
			evbuffer_add_printf(out, "\\ufffd");
			p++;
		} else {
			evbuffer_add(out, p, n);
			p += n;
		}
	}
	evbuffer_add(out, "\"", 1);
}

/* s for a terminal: control characters shown as '?'. */
static void
ctl_text_str(struct evbuffer *out, const char *s)
{
	char	buf[256];

	ctl_printable(s, buf, sizeof(buf));
	evbuffer_add(out, buf, strlen(buf));
}

/* Resident memory of pid in kB, from /proc/PID/statm; -1 if unknown. */
static long long
ctl_rss_kb(pid_t pid)
{
	char		 path[64];
	FILE		*f;
	unsigned long	 size, resident;
	long		 page = sysconf(_SC_PAGESIZE);
	int		 n;

	snprintf(path, sizeof(path), "/proc/%d/statm", (int)pid);
	if ((f = fopen(path, "re")) == NULL)
		return -1;
	n = fscanf(f, "%lu %lu", &size, &resident);
	fclose(f);
	if (n != 2 || page <= 0)
		return -1;
	return (long long)resident * (page / 1024);
}

/* What the listener said, checked already; NULL: it said nothing. */
struct ctl_lsn {
	const unsigned char	*cl_data;
	struct msg_status	 cl_st;
};

static long long
ctl_lsn_queue(const struct ctl_lsn *cl, uint32_t pool)
{
	uint32_t	q;

	if (cl == NULL)
		return -1;
	memcpy(&q, cl->cl_data + sizeof(cl->cl_st) + pool * sizeof(q),
	    sizeof(q));
	return q;
}

static long long
ctl_lsn_requests(const struct ctl_lsn *cl, uint32_t id)
{
	struct msg_status_worker	 sw;
	const unsigned char		*p;
	uint32_t			 i;

	if (cl == NULL)
		return -1;
	p = cl->cl_data + sizeof(cl->cl_st) +
	    cl->cl_st.st_npools * sizeof(uint32_t);
	for (i = 0; i < cl->cl_st.st_nworkers; i++, p += sizeof(sw)) {
		memcpy(&sw, p, sizeof(sw));
		if (sw.sw_id == id)
			return (long long)sw.sw_requests;
	}
	/* Gone from the listener already: it is on its way out. */
	return cl->cl_st.st_truncated ? -1 : 0;
}

static const char *
ctl_pool_state(uint32_t state)
{
	switch (state) {
	case POOL_RUNNING:
		return "running";
	case POOL_OFFLINE:
		return "offline";
	default:
		return "stopped";
	}
}

static const char *
ctl_worker_state(const struct pm_child *c)
{
	if (c->pc_retiring || c->pc_stop_sent)
		return "retiring";
	return c->pc_ready ? "ready" : "starting";
}

static void
ctl_json_num(struct evbuffer *out, const char *key, long long v)
{
	if (v < 0)
		evbuffer_add_printf(out, "\"%s\": null", key);
	else
		evbuffer_add_printf(out, "\"%s\": %lld", key, v);
}

static void
ctl_status_json(struct evbuffer *out, const struct ctl_lsn *cl)
{
	const struct hsd_config	*cf = penv->pe_conf;
	const struct pm_child	*c;
	uint64_t		 now = clock_ms();
	uint32_t		 i;
	int			 first;

	evbuffer_add_printf(out, "{\"isolation\": \"%s\",\n \"pools\": [",
	    cf->cf_shared ? "shared" : "pools");
	for (i = 0; i < cf->cf_npools; i++) {
		evbuffer_add_printf(out, "%s\n  {\"name\": ", i ? "," : "");
		ctl_json_str(out, cf->cf_pools[i].pl_name);
		evbuffer_add_printf(out, ", \"state\": \"%s\", ",
		    ctl_pool_state(penv->pe_pools[i].pp_state));
		ctl_json_num(out, "queue", ctl_lsn_queue(cl, i));
		evbuffer_add_printf(out, ", \"workers_wanted\": %u, "
		    "\"failures\": %u, \"rapid_fail_max\": %u, "
		    "\"workers\": [", penv->pe_pools[i].pp_wanted,
		    pool_recent_failures(i), cf->cf_pools[i].pl_rapid_fail_max);
		first = 1;
		TAILQ_FOREACH(c, &penv->pe_children, pc_entry) {
			if (c->pc_kind != PM_WORKER || c->pc_pool != i)
				continue;
			evbuffer_add_printf(out, "%s\n    {\"id\": %u, "
			    "\"pid\": %d, \"state\": \"%s\", ",
			    first ? "" : ",", c->pc_id, (int)c->pc_pid,
			    ctl_worker_state(c));
			ctl_json_num(out, "requests",
			    ctl_lsn_requests(cl, c->pc_id));
			evbuffer_add_printf(out, ", ");
			ctl_json_num(out, "rss_kb", ctl_rss_kb(c->pc_pid));
			evbuffer_add_printf(out, ", \"uptime_s\": %llu}",
			    (unsigned long long)(now - c->pc_started_ms) /
			    1000);
			first = 0;
		}
		evbuffer_add_printf(out, "], \"fastcgi\": [");
		first = 1;
		TAILQ_FOREACH(c, &penv->pe_children, pc_entry) {
			if (c->pc_kind != PM_FASTCGI ||
			    fastcgi_child_pool(c) != i)
				continue;
			evbuffer_add_printf(out, "%s\n    {\"group\": ",
			    first ? "" : ",");
			ctl_json_str(out, fastcgi_child_group(c));
			evbuffer_add_printf(out, ", \"pid\": %d, \"state\": "
			    "\"%s\", \"uptime_s\": %llu}", (int)c->pc_pid,
			    c->pc_stop_sent ? "stopping" : "running",
			    (unsigned long long)(now - c->pc_started_ms) /
			    1000);
			first = 0;
		}
		evbuffer_add_printf(out, "]}");
	}
	evbuffer_add_printf(out, "],\n \"listener\": ");
	if (penv->pe_listener != NULL)
		evbuffer_add_printf(out, "{\"pid\": %d, \"answered\": %s}",
		    (int)penv->pe_listener->pc_pid, cl ? "true" : "false");
	else
		evbuffer_add_printf(out, "null");
	evbuffer_add_printf(out, ",\n \"cache\": ");
	if (penv->pe_cached != NULL)
		evbuffer_add_printf(out, "{\"pid\": %d}", (int)
		    penv->pe_cached->pc_pid);
	else
		evbuffer_add_printf(out, "null");
	evbuffer_add_printf(out, ",\n \"logger\": ");
	if (penv->pe_logger != NULL)
		evbuffer_add_printf(out, "{\"pid\": %d}", (int)
		    penv->pe_logger->pc_pid);
	else
		evbuffer_add_printf(out, "null");
	/* The listener's: records not yet written, and lost ones. */
	if (cl != NULL)
		evbuffer_add_printf(out, ",\n \"log_records\": {\"buffered\": "
		    "%llu, \"dropped\": %llu}", (unsigned long long)
		    cl->cl_st.st_log_buffered, (unsigned long long)
		    cl->cl_st.st_log_dropped);
	evbuffer_add_printf(out, "}\n");
}

static void
ctl_status_text(struct evbuffer *out, const struct ctl_lsn *cl)
{
	const struct hsd_config	*cf = penv->pe_conf;
	const struct conf_pool	*cp;
	const struct pm_child	*c;
	uint64_t		 now = clock_ms();
	long long		 v;
	char			 interval[32];
	uint32_t		 i;

	evbuffer_add_printf(out, "isolation: %s\n", cf->cf_shared ?
	    "shared (IIS 5.0 isolation mode: every request to pool default)" :
	    "pools");
	if (penv->pe_listener != NULL)
		evbuffer_add_printf(out, "listener: pid %d%s\n",
		    (int)penv->pe_listener->pc_pid, cl ? "" :
		    " (did not answer: queues and requests unknown)");
	else
		evbuffer_add_printf(out, "listener: none\n");
	if (penv->pe_cached != NULL)
		evbuffer_add_printf(out, "cache: pid %d\n", (int)
		    penv->pe_cached->pc_pid);
	else
		evbuffer_add_printf(out, "cache: none (restarting)\n");
	if (penv->pe_logger != NULL)
		evbuffer_add_printf(out, "logger: pid %d", (int)
		    penv->pe_logger->pc_pid);
	else
		evbuffer_add_printf(out, "logger: none (restarting)");
	if (cl != NULL)
		evbuffer_add_printf(out, ", %llu records waiting, %llu "
		    "dropped (log_buffer full)", (unsigned long long)
		    cl->cl_st.st_log_buffered, (unsigned long long)
		    cl->cl_st.st_log_dropped);
	evbuffer_add_printf(out, "\n");
	for (i = 0; i < cf->cf_npools; i++) {
		cp = &cf->cf_pools[i];
		evbuffer_add_printf(out, "pool ");
		ctl_text_str(out, cp->pl_name);
		evbuffer_add_printf(out, ": %s, ",
		    ctl_pool_state(penv->pe_pools[i].pp_state));
		if ((v = ctl_lsn_queue(cl, i)) >= 0)
			evbuffer_add_printf(out, "queue %lld, ", v);
		else
			evbuffer_add_printf(out, "queue ?, ");
		pool_duration_text(cp->pl_rapid_fail_interval_ms, interval,
		    sizeof(interval));
		evbuffer_add_printf(out, "%u workers wanted, %u failures "
		    "within %s", penv->pe_pools[i].pp_wanted,
		    pool_recent_failures(i),
		    interval);
		if (cp->pl_rapid_fail_max > 0)
			evbuffer_add_printf(out, " (offline at %u)\n",
			    cp->pl_rapid_fail_max);
		else
			evbuffer_add_printf(out, " (rapid-fail protection "
			    "off)\n");
		TAILQ_FOREACH(c, &penv->pe_children, pc_entry) {
			if (c->pc_kind != PM_WORKER || c->pc_pool != i)
				continue;
			evbuffer_add_printf(out, "  worker %u: pid %d, %s, "
			    "up %llus, ", c->pc_id, (int)c->pc_pid,
			    ctl_worker_state(c),
			    (unsigned long long)(now - c->pc_started_ms) /
			    1000);
			if ((v = ctl_lsn_requests(cl, c->pc_id)) >= 0)
				evbuffer_add_printf(out, "%lld requests, ", v);
			else
				evbuffer_add_printf(out, "? requests, ");
			if ((v = ctl_rss_kb(c->pc_pid)) >= 0)
				evbuffer_add_printf(out, "%lld kB resident\n",
				    v);
			else
				evbuffer_add_printf(out, "? kB resident\n");
		}
		TAILQ_FOREACH(c, &penv->pe_children, pc_entry) {
			if (c->pc_kind != PM_FASTCGI ||
			    fastcgi_child_pool(c) != i)
				continue;
			evbuffer_add_printf(out, "  fastcgi ");
			ctl_text_str(out, fastcgi_child_group(c));
			evbuffer_add_printf(out, ": pid %d, %s, up %llus\n",
			    (int)c->pc_pid, c->pc_stop_sent ? "stopping" :
			    "running", (unsigned long long)(now -
			    c->pc_started_ms) / 1000);
		}
	}
}

static void
ctl_status_answer(struct ctl_conn *cc, const struct ctl_lsn *cl)
{
	struct evbuffer	*out = bufferevent_get_output(cc->cc_bev);

	cc->cc_serial = 0;
	if (cc->cc_wait != NULL)
		evtimer_del(cc->cc_wait);
	evbuffer_add_printf(out, "ok\n");
	if (cc->cc_json)
		ctl_status_json(out, cl);
	else
		ctl_status_text(out, cl);
	ctl_finish(cc);
}

static void
ctl_status_timeout(evutil_socket_t fd, short ev, void *arg)
{
	(void)fd;
	(void)ev;
	log_warnx("ctl_status_timeout: the listener did not answer a status "
	    "request within %d ms", CTL_LISTENER_WAIT_MS);
	ctl_status_answer(arg, NULL);
}

static void
ctl_status(struct ctl_conn *cc, int json)
{
	struct timeval	tv;
	uint32_t	serial;

	cc->cc_json = json;
	if (penv->pe_listener == NULL || penv->pe_listener->pc_chan == NULL) {
		ctl_status_answer(cc, NULL);
		return;
	}
	if ((serial = ++penv->pe_status_serial) == 0)
		serial = ++penv->pe_status_serial;
	if ((cc->cc_wait = evtimer_new(penv->pe_base, ctl_status_timeout,
	    cc)) == NULL || chan_send(penv->pe_listener->pc_chan,
	    MSG_PM_STATUS, serial, NULL, 0, -1) == -1) {
		log_warnx("ctl_status: cannot ask the listener");
		ctl_status_answer(cc, NULL);
		return;
	}
	cc->cc_serial = serial;
	conf_timeval(CTL_LISTENER_WAIT_MS, &tv);
	evtimer_add(cc->cc_wait, &tv);
}

/* MSG_LSN_STATUS: the listener's numbers for the clients waiting. */
void
ctl_listener_status(const struct msg_hdr *hdr, const void *data)
{
	struct ctl_lsn	 cl;
	struct ctl_conn	*cc, *next;

	if (hdr->mh_len < sizeof(cl.cl_st)) {
		log_warnx("ctl_listener_status: %u byte message", hdr->mh_len);
		return;
	}
	memcpy(&cl.cl_st, data, sizeof(cl.cl_st));
	cl.cl_data = data;
	/* Sent before the listener took a reload: the request was too, and
	 * its client gets the answer its timeout gives. */
	if (cl.cl_st.st_gen != penv->pe_cur->pf_gen) {
		log_debug("ctl_listener_status: about configuration %u",
		    cl.cl_st.st_gen);
		return;
	}
	if (cl.cl_st.st_npools != penv->pe_conf->cf_npools ||
	    (uint64_t)hdr->mh_len != sizeof(cl.cl_st) +
	    (uint64_t)cl.cl_st.st_npools * sizeof(uint32_t) +
	    (uint64_t)cl.cl_st.st_nworkers *
	    sizeof(struct msg_status_worker)) {
		log_warnx("ctl_listener_status: %u pools, %u workers do not "
		    "fit %u bytes", cl.cl_st.st_npools, cl.cl_st.st_nworkers,
		    hdr->mh_len);
		return;
	}
	/* An answer may free its client. */
	for (cc = TAILQ_FIRST(&ctl_conns); cc != NULL; cc = next) {
		next = TAILQ_NEXT(cc, cc_entry);
		if (cc->cc_serial != 0 && cc->cc_serial == hdr->mh_id)
			ctl_status_answer(cc, &cl);
	}
}

/* ------------------------------------------------------------------ */
/* Commands */

static void
ctl_pool_command(struct ctl_conn *cc, const char *cmd, const char *name)
{
	char	err[256], shown[128];
	int	pool, rv;

	ctl_printable(name, shown, sizeof(shown));
	if ((pool = pool_find(name)) == -1) {
		ctl_error(cc, "no pool named \"%s\"", shown);
		return;
	}
	if (penv->pe_stopping) {
		ctl_error(cc, "the server is stopping");
		return;
	}
	log_info("hsdctl: %s %s", cmd, shown);
	if (strcmp(cmd, "stop") == 0)
		rv = pool_stop(pool, err, sizeof(err));
	else if (strcmp(cmd, "start") == 0)
		rv = pool_start(pool, err, sizeof(err));
	else
		rv = pool_recycle_pool(pool, err, sizeof(err));
	if (rv == -1) {
		ctl_error(cc, "%s", err);
		return;
	}
	evbuffer_add_printf(bufferevent_get_output(cc->cc_bev), "ok\n"
	    "pool %s: %s\n", shown, strcmp(cmd, "stop") == 0 ? "stopped" :
	    strcmp(cmd, "start") == 0 ? "started" : "recycling");
	ctl_finish(cc);
}

static void
ctl_reload_answer(struct ctl_conn *cc, const char *note)
{
	evbuffer_add_printf(bufferevent_get_output(cc->cc_bev), "ok\n%s%s",
	    cc->cc_report, note);
	free(cc->cc_report);
	cc->cc_report = NULL;
	cc->cc_reload_gen = 0;
	if (cc->cc_wait != NULL)
		evtimer_del(cc->cc_wait);
	ctl_finish(cc);
}

static void
ctl_reload_timeout(evutil_socket_t fd, short ev, void *arg)
{
	(void)fd;
	(void)ev;
	log_warnx("ctl_reload_timeout: the listener did not say it applied "
	    "the reload within %d ms", CTL_TIMEOUT_MS);
	ctl_reload_answer(arg, "(the listener has not said yet that it "
	    "applied it)\n");
}

/* MSG_LSN_RELOADED: the listener runs configuration gen now. */
void
ctl_listener_reloaded(uint32_t gen)
{
	struct ctl_conn	*cc, *next;

	for (cc = TAILQ_FIRST(&ctl_conns); cc != NULL; cc = next) {
		next = TAILQ_NEXT(cc, cc_entry);
		if (cc->cc_reload_gen != 0 && cc->cc_reload_gen <= gen)
			ctl_reload_answer(cc, "");
	}
}

/*
 * The file is read again and applied (reload.c): what changed on stdout,
 * once the listener says it runs the new configuration (new requests
 * are routed by it, removed addresses refuse), or why nothing changed.
 */
static void
ctl_reload(struct ctl_conn *cc)
{
	struct evbuffer	*out = bufferevent_get_output(cc->cc_bev);
	struct timeval	 tv;
	char		*err, *report;

	log_info("hsdctl: reload");
	if (penv->pe_stopping) {
		ctl_error(cc, "the server is stopping");
		return;
	}
	if ((err = malloc(CTL_RELOAD_ERR)) == NULL) {
		ctl_error(cc, "out of memory");
		return;
	}
	if (reload_run(&report, err, CTL_RELOAD_ERR) == -1) {
		evbuffer_add_printf(out, "error: %s", err);
		free(err);
		ctl_finish(cc);
		return;
	}
	free(err);
	cc->cc_report = report;
	/* Without a listener, the next one starts with it. */
	if (penv->pe_listener == NULL || penv->pe_listener->pc_chan == NULL ||
	    (cc->cc_wait = evtimer_new(penv->pe_base, ctl_reload_timeout,
	    cc)) == NULL) {
		ctl_reload_answer(cc, "");
		return;
	}
	cc->cc_reload_gen = penv->pe_cur->pf_gen;
	conf_timeval(CTL_TIMEOUT_MS, &tv);
	evtimer_add(cc->cc_wait, &tv);
}

/* ------------------------------------------------------------------ */
/* The response cache: hsdctl cache and purge, answered by hsd-cached. */

static uint32_t	ctl_cache_serial;

static void
ctl_cache_timeout(evutil_socket_t fd, short ev, void *arg)
{
	struct ctl_conn	*cc = arg;

	(void)fd;
	(void)ev;
	cc->cc_cache_serial = 0;
	ctl_error(cc, "the cache did not answer within %d ms",
	    CTL_TIMEOUT_MS);
}

static void
ctl_cache_ask(struct ctl_conn *cc, uint16_t type, const char *arg)
{
	struct timeval	tv;
	uint32_t	serial;

	if ((serial = ++ctl_cache_serial) == 0)
		serial = ++ctl_cache_serial;
	if ((cc->cc_wait = evtimer_new(penv->pe_base, ctl_cache_timeout,
	    cc)) == NULL) {
		ctl_error(cc, "out of memory");
		return;
	}
	if (cache_send(type, serial, arg, arg != NULL ? strlen(arg) : 0,
	    -1) == -1) {
		ctl_error(cc, "no cache process runs (it is restarting)");
		return;
	}
	cc->cc_cache_serial = serial;
	conf_timeval(CTL_TIMEOUT_MS, &tv);
	evtimer_add(cc->cc_wait, &tv);
}

static void
ctl_cache_stats(struct evbuffer *out, const struct msg_cache_stats *cs)
{
	int	i;

	evbuffer_add_printf(out, "entries: %llu\nmemory: %llu of %llu bytes\n"
	    "hits: %llu\nmisses: %llu\nadmitted: %llu\ndropped: %llu\n"
	    "refused:", (unsigned long long)cs->cs_entries,
	    (unsigned long long)cs->cs_memory,
	    (unsigned long long)cs->cs_max_memory,
	    (unsigned long long)cs->cs_hits,
	    (unsigned long long)cs->cs_misses,
	    (unsigned long long)cs->cs_admitted,
	    (unsigned long long)cs->cs_dropped);
	for (i = 0; i < CR_NREASONS; i++)
		evbuffer_add_printf(out, " %s=%llu", cache_reason_names[i],
		    (unsigned long long)cs->cs_refused[i]);
	evbuffer_add_printf(out, "\n");
}

/* hsd-cached's answer to request serial: stats or a purge's count. */
void
ctl_cache_answer(uint32_t serial, const struct msg_cache_stats *stats,
    const struct msg_cache_purged *purged)
{
	struct ctl_conn	*cc;
	struct evbuffer	*out;

	TAILQ_FOREACH(cc, &ctl_conns, cc_entry)
		if (cc->cc_cache_serial != 0 && cc->cc_cache_serial == serial)
			break;
	if (cc == NULL)
		return;
	cc->cc_cache_serial = 0;
	evtimer_del(cc->cc_wait);
	out = bufferevent_get_output(cc->cc_bev);
	evbuffer_add_printf(out, "ok\n");
	if (stats != NULL)
		ctl_cache_stats(out, stats);
	else
		evbuffer_add_printf(out, "purged %llu entries\n",
		    (unsigned long long)purged->cp_entries);
	ctl_finish(cc);
}

static void
ctl_command(struct ctl_conn *cc, char *line)
{
	char	*arg, shown[64];

	if ((arg = strchr(line, ' ')) != NULL)
		*arg++ = '\0';
	if (strcmp(line, "status") == 0 && arg == NULL)
		ctl_status(cc, 0);
	else if (strcmp(line, "status-json") == 0 && arg == NULL)
		ctl_status(cc, 1);
	else if ((strcmp(line, "stop") == 0 || strcmp(line, "start") == 0 ||
	    strcmp(line, "recycle") == 0) && arg != NULL && *arg != '\0')
		ctl_pool_command(cc, line, arg);
	else if (strcmp(line, "stop-server") == 0 && arg == NULL) {
		log_info("hsdctl: stop-server");
		evbuffer_add_printf(bufferevent_get_output(cc->cc_bev),
		    "ok\nstopping the server\n");
		ctl_finish(cc);
		poolmgr_stop(0);
	} else if (strcmp(line, "reload") == 0 && arg == NULL)
		ctl_reload(cc);
	else if (strcmp(line, "cache") == 0 && arg == NULL)
		ctl_cache_ask(cc, MSG_PM_CACHE_STATS, NULL);
	else if (strcmp(line, "purge") == 0 && arg != NULL && *arg != '\0') {
		ctl_printable(arg, shown, sizeof(shown));
		log_info("hsdctl: purge %s", shown);
		ctl_cache_ask(cc, MSG_PM_CACHE_PURGE, arg);
	} else if (strcmp(line, "reopen") == 0 && arg == NULL) {
		log_info("hsdctl: reopen");
		if (penv->pe_logger == NULL) {
			ctl_error(cc, "no logger runs (it is restarting)");
			return;
		}
		logger_reopen();
		evbuffer_add_printf(bufferevent_get_output(cc->cc_bev),
		    "ok\nreopening the log files\n");
		ctl_finish(cc);
	}
	else {
		ctl_printable(line, shown, sizeof(shown));
		ctl_error(cc, "unknown command \"%s\"%s", shown,
		    arg != NULL ? " (or wrong arguments)" : "");
	}
}

static void
ctl_read(struct bufferevent *bev, void *arg)
{
	struct ctl_conn	*cc = arg;
	struct evbuffer	*in = bufferevent_get_input(bev);
	char		*line;
	size_t		 len;

	if ((line = evbuffer_readln(in, &len, EVBUFFER_EOL_LF)) == NULL) {
		/* The high watermark stops reading past CTL_LINE_MAX + 1. */
		if (evbuffer_get_length(in) > CTL_LINE_MAX)
			ctl_error(cc, "command line too long");
		return;
	}
	/* One command per connection: nothing more is read. */
	bufferevent_disable(bev, EV_READ);
	if (len > 0 && line[len - 1] == '\r')
		line[--len] = '\0';
	if (len > CTL_LINE_MAX)
		ctl_error(cc, "command line too long");
	else if (memchr(line, '\0', len) != NULL)
		ctl_error(cc, "a NUL byte in the command");
	else
		ctl_command(cc, line);
	free(line);
}

static void
ctl_accept(struct evconnlistener *l, evutil_socket_t fd,
    struct sockaddr *sa, int salen, void *arg)
{
	static const char	 refused[] = "error: permission denied\n";
	static const char	 busy[] = "error: too many control clients\n";
	struct ctl_conn		*cc;
	struct ucred		 cr;
	socklen_t		 len = sizeof(cr);
	struct timeval		 tv;

	(void)l;
	(void)sa;
	(void)salen;
	(void)arg;
	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cr, &len) == -1) {
		log_warn("ctl_accept: SO_PEERCRED");
		close(fd);
		return;
	}
	if (cr.uid != 0 && cr.uid != geteuid()) {
		log_warnx("ctl_accept: refused a control client of uid %u "
		    "(pid %d): only root and uid %u may control the server",
		    (unsigned int)cr.uid, (int)cr.pid,
		    (unsigned int)geteuid());
		(void)send(fd, refused, sizeof(refused) - 1,
		    MSG_DONTWAIT | MSG_NOSIGNAL);
		close(fd);
		return;
	}
	if (ctl_nconns >= CTL_CONNS_MAX) {
		log_warnx("ctl_accept: %u control clients already; refused",
		    ctl_nconns);
		(void)send(fd, busy, sizeof(busy) - 1,
		    MSG_DONTWAIT | MSG_NOSIGNAL);
		close(fd);
		return;
	}
	if ((cc = calloc(1, sizeof(*cc))) == NULL) {
		log_warn("ctl_accept: calloc");
		close(fd);
		return;
	}
	if ((cc->cc_bev = bufferevent_socket_new(penv->pe_base, fd,
	    BEV_OPT_CLOSE_ON_FREE)) == NULL) {
		log_warnx("ctl_accept: bufferevent_socket_new failed");
		close(fd);
		free(cc);
		return;
	}
	TAILQ_INSERT_TAIL(&ctl_conns, cc, cc_entry);
	ctl_nconns++;
	bufferevent_setcb(cc->cc_bev, ctl_read, NULL, ctl_event, cc);
	bufferevent_setwatermark(cc->cc_bev, EV_READ, 0, CTL_LINE_MAX + 1);
	conf_timeval(CTL_TIMEOUT_MS, &tv);
	bufferevent_set_timeouts(cc->cc_bev, &tv, &tv);
	bufferevent_enable(cc->cc_bev, EV_READ);
}

static void
ctl_accept_resume(evutil_socket_t fd, short ev, void *arg)
{
	(void)fd;
	(void)ev;
	(void)arg;
	if (ctl_listener != NULL)
		evconnlistener_enable(ctl_listener);
}

/* Out of fds, say: the socket stays readable, so retrying at once would
 * spin the pool manager.  Pause; clients wait in the backlog. */
static void
ctl_accept_error(struct evconnlistener *l, void *arg)
{
	static struct event	*resume;
	struct timeval		 tv = { 1, 0 };

	(void)arg;
	log_warn("ctl_accept_error: accept on the control socket; pausing "
	    "for 1 s");
	if (resume == NULL && (resume = evtimer_new(penv->pe_base,
	    ctl_accept_resume, NULL)) == NULL)
		return;
	evconnlistener_disable(l);
	evtimer_add(resume, &tv);
}

void
ctl_start(void)
{
	if (ctl_fd == -1)
		return;
	if ((ctl_listener = evconnlistener_new(penv->pe_base, ctl_accept,
	    NULL, LEV_OPT_CLOSE_ON_FREE | LEV_OPT_CLOSE_ON_EXEC, 0,
	    ctl_fd)) == NULL)
		fatalx("ctl_start: evconnlistener_new failed");
	evconnlistener_set_error_cb(ctl_listener, ctl_accept_error);
}
