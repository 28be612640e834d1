/*
 * Handler modules (handler = "module", <hsd/module.h>): shared objects
 * loaded into the worker that answer requests in its own loop.
 *
 * A module's request is a struct cgi_run like a CGI program's, a third
 * transport behind the same rules (gateway.h): the body reaches it in
 * body() calls from the same window, its status, fields and writes go
 * into the same head and response buffers, hsd_resp_end() is the clean
 * end of a program, and cgi_timeout, a failing module (a non-zero
 * return) and a client gone end it with abort().  What is left to this
 * file is loading the files, the module's side of the request
 * (struct hsd_req) and the functions the module calls.
 *
 * Those functions never act at once: they change the request and
 * schedule its kick, an event that runs cgi_progress() on the loop's
 * next turn.  So no call a module makes can end the request, free r or
 * call back into the module while the module is still running, and a
 * module may call them from anywhere -- its callbacks or its own events
 * -- in any order.
 *
 * The files are opened before the worker drops its privileges (below
 * its chroot neither they nor their libraries could be found), each
 * once; init() runs after, as the pool's user, once per instance: a
 * file with one list of arguments.  hsd-worker exports the functions
 * with --dynamic-list=module.sym and nothing else.
 */
#include "config.h"

#include <sys/types.h>
#include <sys/queue.h>
#include <sys/socket.h>

#include <arpa/inet.h>
#include <netinet/in.h>

#include <dlfcn.h>
#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <event2/buffer.h>
#include <event2/event.h>

#include "conf.h"
#include "gateway.h"
#include "log.h"
#include "worker.h"

#include "hsd/module.h"

/* A file, opened once however many instances use it. */
struct mod_file {
	char			*mf_path;
	void			*mf_handle;
	const struct hsd_module	*mf_mod;
	SLIST_ENTRY(mod_file)	 mf_entry;
};

/* A file with one list of arguments: one init(), one ctx. */
struct mod_inst {
	struct mod_file		*mi_file;
	char *const		*mi_args;	/* the configuration's */
	void			*mi_ctx;
	int			 mi_ready;	/* init() succeeded */
	SLIST_ENTRY(mod_inst)	 mi_entry;
};

/* The module's side of a request. */
struct hsd_req {
	struct cgi_run		*r_cg;
	struct mod_inst		*r_inst;
	void			*r_data;	/* the module's */
	struct event		*r_kick;	/* cgi_progress() next turn */
	void			(*r_drain)(struct hsd_req *, void *);
	void			*r_drain_arg;
	char			*r_query;	/* NUL-terminated copy */
	char			 r_addr[INET6_ADDRSTRLEN];
	int			 r_addr_done;
	int			 r_started;	/* request() was called */
	int			 r_body_ended;	/* body_end() was called */
	int			 r_ended;	/* hsd_resp_end() */
	int			 r_gone;	/* ended without it: abort() */
	int			 r_paused;	/* the client is behind */
	int			 r_listed;	/* on mod_live */
	LIST_ENTRY(hsd_req)	 r_live;
};

static SLIST_HEAD(, mod_file) mod_files = SLIST_HEAD_INITIALIZER(mod_files);
static SLIST_HEAD(, mod_inst) mod_insts = SLIST_HEAD_INITIALIZER(mod_insts);
static LIST_HEAD(, hsd_req) mod_live = LIST_HEAD_INITIALIZER(mod_live);
/* The instance of each site (index) and application (index + 1). */
static struct mod_inst	***mod_route;
static uint32_t		 mod_nsites;

static const char *
mod_name(const struct mod_inst *mi)
{
	const char	*name = mi->mi_file->mf_mod->name;

	return name != NULL && name[0] != '\0' ? name : mi->mi_file->mf_path;
}

/* The file at path, opened and checked; exits if it is no module. */
static struct mod_file *
mod_open(const char *path)
{
	struct mod_file		*mf;
	const struct hsd_module	*mod;
	void			*h;

	SLIST_FOREACH(mf, &mod_files, mf_entry)
		if (strcmp(mf->mf_path, path) == 0)
			return mf;
	if ((h = dlopen(path, RTLD_NOW | RTLD_LOCAL)) == NULL)
		fatalx("mod_open: cannot load module %s: %s", path, dlerror());
	if ((mod = dlsym(h, "hsd_module")) == NULL)
		fatalx("mod_open: %s is no hsd module: it has no hsd_module "
		    "symbol", path);
	/* api is first in every version of the struct; nothing else is
	 * read before it matches. */
	if (mod->api != HSD_MODULE_API)
		fatalx("mod_open: %s is built for module API %d, this "
		    "hsd-worker has API %d: rebuild it against this hsd's "
		    "<hsd/module.h>", path, mod->api, HSD_MODULE_API);
	if (mod->request == NULL)
		fatalx("mod_open: %s (%s) has no request function", path,
		    mod->name != NULL ? mod->name : "no name");
	if ((mf = calloc(1, sizeof(*mf))) == NULL ||
	    (mf->mf_path = strdup(path)) == NULL)
		fatal("mod_open");
	mf->mf_handle = h;
	mf->mf_mod = mod;
	SLIST_INSERT_HEAD(&mod_files, mf, mf_entry);
	log_debug("mod_open: %s (%s)", path, mod->name);
	return mf;
}

static int
mod_args_same(char *const *a, char *const *b)
{
	size_t	i;

	for (i = 0; a[i] != NULL && b[i] != NULL; i++)
		if (strcmp(a[i], b[i]) != 0)
			return 0;
	return a[i] == NULL && b[i] == NULL;
}

static struct mod_inst *
mod_instance(const struct conf_module *md)
{
	struct mod_file	*mf = mod_open(md->md_path);
	struct mod_inst	*mi;

	SLIST_FOREACH(mi, &mod_insts, mi_entry)
		if (mi->mi_file == mf && mod_args_same(mi->mi_args,
		    md->md_args))
			return mi;
	if ((mi = calloc(1, sizeof(*mi))) == NULL)
		fatal("mod_instance");
	mi->mi_file = mf;
	mi->mi_args = md->md_args;
	SLIST_INSERT_HEAD(&mod_insts, mi, mi_entry);
	return mi;
}

/*
 * Open the modules of the paths this worker's pool serves, before the
 * worker drops its privileges: their files and the libraries they need
 * are found as the configuration names them, outside any chroot.
 */
void
module_load(const struct hsd_config *cf, uint32_t pool)
{
	const struct conf_site	*st;
	uint32_t		 i;
	int			 r;

	mod_nsites = cf->cf_nsites;
	if ((mod_route = calloc(mod_nsites + 1, sizeof(*mod_route))) == NULL)
		fatal("module_load: calloc");
	for (i = 0; i < cf->cf_nsites; i++) {
		st = &cf->cf_sites[i];
		if ((mod_route[i] = calloc(st->st_napps + 1,
		    sizeof(**mod_route))) == NULL)
			fatal("module_load: calloc");
		for (r = -1; r < (int)st->st_napps; r++)
			if (conf_route_pool(st, r) == pool &&
			    conf_handler(st, r) == CONF_HANDLER_MODULE)
				mod_route[i][r + 1] =
				    mod_instance(conf_module(st, r));
	}
}

/* Each instance's init(), as the pool's user, with the worker's loop. */
void
module_init(struct event_base *base)
{
	struct mod_inst		*mi;
	struct hsd_module_args	 a;
	struct hsd_module_arg	*args;
	const struct hsd_module	*mod;
	char			 err[512], *eq;
	size_t			 i, n;

	SLIST_FOREACH(mi, &mod_insts, mi_entry) {
		mod = mi->mi_file->mf_mod;
		for (n = 0; mi->mi_args[n] != NULL; n++)
			;
		if ((args = calloc(n + 1, sizeof(*args))) == NULL)
			fatal("module_init: calloc");
		for (i = 0; i < n; i++) {
			/* conf_load_*() checked that each has an '='. */
			if ((args[i].key = strdup(mi->mi_args[i])) == NULL)
				fatal("module_init: strdup");
			eq = strchr(args[i].key, '=');
			*eq = '\0';
			args[i].value = eq + 1;
		}
		memset(&a, 0, sizeof(a));
		a.path = mi->mi_file->mf_path;
		a.args = args;
		a.base = base;
		err[0] = '\0';
		a.err = err;
		a.errlen = sizeof(err);
		if (mod->init != NULL && mod->init(&a, &mi->mi_ctx) != 0) {
			err[sizeof(err) - 1] = '\0';
			fatalx("module_init: %s (%s) refused to start%s%s",
			    mi->mi_file->mf_path, mod_name(mi),
			    err[0] != '\0' ? ": " : "", err);
		}
		mi->mi_ready = 1;
		for (i = 0; i < n; i++)
			free((char *)args[i].key);
		free(args);
		log_debug("module_init: %s (%s) ready", mi->mi_file->mf_path,
		    mod_name(mi));
	}
}

/*
 * The worker is exiting: what is still in flight is aborted, then each
 * instance's fini().
 */
void
module_exit(void)
{
	struct mod_inst	*mi;
	struct hsd_req	*r;

	while ((r = LIST_FIRST(&mod_live)) != NULL)
		module_stop(r->r_cg);
	SLIST_FOREACH(mi, &mod_insts, mi_entry)
		if (mi->mi_ready && mi->mi_file->mf_mod->fini != NULL) {
			mi->mi_ready = 0;
			mi->mi_file->mf_mod->fini(mi->mi_ctx);
		}
}

/* Where the request stands, on the loop's next turn; then a drain. */
static void
module_kick(evutil_socket_t fd, short ev, void *arg)
{
	struct hsd_req	*r = arg;
	struct cgi_run	*cg = r->r_cg;
	struct wrk_req	*rq = cg->cg_rq;
	void		(*cb)(struct hsd_req *, void *);

	(void)fd;
	(void)ev;
	cgi_progress(cg);
	if (rq->rq_cgi != cg)
		return;		/* finished: r is gone */
	if (r->r_drain != NULL && !r->r_paused && !r->r_ended &&
	    !r->r_gone) {
		cb = r->r_drain;
		r->r_drain = NULL;
		cb(r, r->r_drain_arg);
	}
}

static void
mod_kick(struct hsd_req *r)
{
	event_active(r->r_kick, EV_TIMEOUT, 1);
}

/* At cgi_new(): the instance routed to, and the module's side. */
int
module_new(struct cgi_run *cg)
{
	struct wrk_req	*rq = cg->cg_rq;
	struct mod_inst	*mi = NULL;
	struct hsd_req	*r;

	if (rq->rq_site < mod_nsites)
		mi = mod_route[rq->rq_site][rq->rq_app + 1];
	if (mi == NULL || !mi->mi_ready) {
		log_warnx("module_new: conn %u: no module loaded for this "
		    "path", rq->rq_conn);
		return -1;
	}
	if ((r = calloc(1, sizeof(*r))) == NULL) {
		log_warn("module_new");
		return -1;
	}
	r->r_cg = cg;
	r->r_inst = mi;
	if ((r->r_kick = event_new(worker_evbase(), -1, 0, module_kick,
	    r)) == NULL) {
		log_warnx("module_new: event_new failed");
		free(r);
		return -1;
	}
	cg->cg_mod = r;
	/* For the messages cgi.c writes about it. */
	snprintf(cg->cg_script, sizeof(cg->cg_script), "%s",
	    mi->mi_file->mf_path);
	LIST_INSERT_HEAD(&mod_live, r, r_live);
	r->r_listed = 1;
	return 0;
}

/* request() or body() failed: 500, or a reset if the head is out. */
static void
mod_fail(struct cgi_run *cg, const char *what, int rv)
{
	struct hsd_req	*r = cg->cg_mod;

	log_warnx("module %s: conn %u: %s returned %d; the request fails",
	    mod_name(r->r_inst), cg->cg_rq->rq_conn, what, rv);
	if (cg->cg_committed) {
		module_stop(cg);
		cgi_cut(cg->cg_rq);
	} else
		cgi_answer(cg->cg_rq, 500);
}

/* The head is parsed (cgi_start()): the module has it. */
void
module_start(struct cgi_run *cg)
{
	struct hsd_req		*r = cg->cg_mod;
	struct wrk_req		*rq = cg->cg_rq;
	const struct hsd_module	*mod = r->r_inst->mi_file->mf_mod;
	int			 rv;

	cg->cg_status = 200;
	snprintf(cg->cg_reason, sizeof(cg->cg_reason), "%s",
	    static_reason(200));
	cg->cg_no_body = rq->rq_method == HTTP_HEAD;
	if (rq->rq_query != NULL && (r->r_query = strndup(rq->rq_query + 1,
	    rq->rq_query_len - 1)) == NULL) {
		log_warn("module_start");
		cgi_answer(rq, 500);
		return;
	}
	r->r_started = 1;
	if ((rv = mod->request(r->r_inst->mi_ctx, r)) != 0 && !r->r_ended) {
		mod_fail(cg, "request()", rv);
		return;
	}
	cgi_pump_body(cg);
}

/* Is request() done and the module still on it? */
int
module_running(const struct cgi_run *cg)
{
	const struct hsd_req	*r = cg->cg_mod;

	return r->r_started && !r->r_ended && !r->r_gone;
}

/*
 * The body bytes held, to body(), then body_end() once the body is all
 * there.  Those of a module that has ended the request are dropped.  A
 * failure ends the request here: the caller checks rq_cgi.
 */
void
module_feed(struct cgi_run *cg)
{
	struct hsd_req		*r = cg->cg_mod;
	struct wrk_req		*rq = cg->cg_rq;
	const struct hsd_module	*mod = r->r_inst->mi_file->mf_mod;
	struct evbuffer_iovec	 v;
	int			 rv;

	while (module_running(cg) && evbuffer_get_length(cg->cg_body) > 0) {
		if (mod->body == NULL)
			break;
		if (evbuffer_peek(cg->cg_body, -1, NULL, &v, 1) < 1)
			break;
		rv = mod->body(r->r_inst->mi_ctx, r, v.iov_base, v.iov_len);
		evbuffer_drain(cg->cg_body, v.iov_len);
		if (rv != 0 && !r->r_ended) {
			mod_fail(cg, "body()", rv);
			return;
		}
	}
	if (!module_running(cg) || mod->body == NULL) {
		/* Nobody to read the rest: cgi_body() drops it. */
		evbuffer_drain(cg->cg_body, evbuffer_get_length(cg->cg_body));
		if (!module_running(cg))
			cg->cg_stdin_gone = 1;
	}
	if (module_running(cg) && rq->rq_msg_done && !r->r_body_ended) {
		r->r_body_ended = 1;
		if (mod->body_end != NULL && (rv = mod->body_end(
		    r->r_inst->mi_ctx, r)) != 0 && !r->r_ended)
			mod_fail(cg, "body_end()", rv);
	}
}

/* The response is whole (hsd_resp_end()), or the request failed. */
int
module_ended(const struct cgi_run *cg)
{
	return cg->cg_mod->r_ended || cg->cg_mod->r_gone;
}

int
module_failed(const struct cgi_run *cg)
{
	return cg->cg_mod->r_gone;
}

/* The client is behind (cgi_output_pause()): drains wait. */
void
module_pause(struct cgi_run *cg)
{
	cg->cg_mod->r_paused = 1;
}

void
module_resume(struct cgi_run *cg)
{
	struct hsd_req	*r = cg->cg_mod;

	r->r_paused = 0;
	if (r->r_drain != NULL)
		mod_kick(r);
}

/*
 * The request ends without the module having ended it: abort(), once.
 * From the loop only, never from a function a module called.
 */
void
module_stop(struct cgi_run *cg)
{
	struct hsd_req		*r = cg->cg_mod;
	const struct hsd_module	*mod = r->r_inst->mi_file->mf_mod;

	if (r->r_listed) {
		LIST_REMOVE(r, r_live);
		r->r_listed = 0;
	}
	if (r->r_ended || r->r_gone)
		return;
	r->r_gone = 1;
	if (r->r_started && mod->abort != NULL)
		mod->abort(r->r_inst->mi_ctx, r);
}

/* At cgi_free(). */
void
module_free(struct cgi_run *cg)
{
	struct hsd_req	*r = cg->cg_mod;

	if (r == NULL)
		return;
	module_stop(cg);
	event_free(r->r_kick);
	free(r->r_query);
	free(r);
	cg->cg_mod = NULL;
}

/* The functions a module calls (<hsd/module.h>). */

const char *
hsd_req_method(const struct hsd_req *r)
{
	return http_method_str(r->r_cg->cg_rq->rq_method);
}

const char *
hsd_req_path(const struct hsd_req *r)
{
	return r->r_cg->cg_rq->rq_path;
}

const char *
hsd_req_query(const struct hsd_req *r)
{
	return r->r_query;
}

/*
 * The header fields, a line at a time: *pos is where the next line
 * starts in the head, 0 before the first (the request line, and any
 * empty lines before it, are not fields).  The listener checked the
 * head (head_check()): no folded lines, every line a field.
 */
int
hsd_req_header_next(const struct hsd_req *r, size_t *pos, const char **name,
    size_t *namelen, const char **value, size_t *valuelen)
{
	const struct wrk_req	*rq = r->r_cg->cg_rq;
	const char		*head = rq->rq_data, *p, *end, *eol, *colon;
	const char		*v, *ve;

	end = head + rq->rq_ho.ho_head_len;
	p = head + *pos;
	if (*pos == 0) {
		while (p < end && (*p == '\r' || *p == '\n'))
			p++;
		if ((p = memchr(p, '\n', end - p)) == NULL)
			return 0;
		p++;
	}
	for (; p < end; p = eol + 1) {
		if ((eol = memchr(p, '\n', end - p)) == NULL ||
		    eol == p || (eol == p + 1 && *p == '\r'))
			return 0;
		if ((colon = memchr(p, ':', eol - p)) == NULL)
			continue;
		v = colon + 1;
		ve = cgi_trim(&v, eol);
		*name = p;
		*namelen = colon - p;
		*value = v;
		*valuelen = ve - v;
		*pos = eol + 1 - head;
		return 1;
	}
	return 0;
}

const char *
hsd_req_header(const struct hsd_req *r, const char *name, size_t *len)
{
	const char	*n, *v;
	size_t		 pos = 0, nlen, vlen, want = strlen(name);

	while (hsd_req_header_next(r, &pos, &n, &nlen, &v, &vlen))
		if (nlen == want && strncasecmp(n, name, nlen) == 0) {
			if (len != NULL)
				*len = vlen;
			return v;
		}
	return NULL;
}

const char *
hsd_req_remote_addr(const struct hsd_req *r)
{
	struct hsd_req			*w = (struct hsd_req *)r;
	struct sockaddr_storage		 ss;
	const struct sockaddr_in	*sin = (const void *)&ss;
	const struct sockaddr_in6	*sin6 = (const void *)&ss;
	socklen_t			 slen = sizeof(ss);

	/* Asked for, once: most modules never do. */
	if (w->r_addr_done)
		return w->r_addr;
	w->r_addr_done = 1;
	if (getpeername(r->r_cg->cg_rq->rq_sock, (struct sockaddr *)&ss,
	    &slen) == -1)
		return w->r_addr;
	if (ss.ss_family == AF_INET)
		inet_ntop(AF_INET, &sin->sin_addr, w->r_addr,
		    sizeof(w->r_addr));
	else if (ss.ss_family == AF_INET6)
		inet_ntop(AF_INET6, &sin6->sin6_addr, w->r_addr,
		    sizeof(w->r_addr));
	return w->r_addr;
}

int64_t
hsd_req_content_length(const struct hsd_req *r)
{
	const struct wrk_req	*rq = r->r_cg->cg_rq;

	if (rq->rq_parser.flags & F_CHUNKED)
		return -1;
	return (int64_t)rq->rq_cl;
}

void
hsd_req_set_data(struct hsd_req *r, void *data)
{
	r->r_data = data;
}

void *
hsd_req_get_data(const struct hsd_req *r)
{
	return r->r_data;
}

/* May the module still change its response? */
static int
mod_open_resp(const struct hsd_req *r)
{
	return r != NULL && r->r_started && !r->r_ended && !r->r_gone;
}

/* Field values and reasons: no control characters but HTAB. */
static int
mod_text_ok(const char *s)
{
	const unsigned char	*p;

	for (p = (const unsigned char *)s; *p != '\0'; p++)
		if ((*p < ' ' && *p != '\t') || *p == 0x7f)
			return 0;
	return 1;
}

/* The head is settled: at the end, or with CGI_HOLD bytes of body. */
static void
mod_settle(struct cgi_run *cg)
{
	cg->cg_head_done = 1;
}

int
hsd_resp_status(struct hsd_req *r, int status, const char *reason)
{
	struct cgi_run	*cg;
	const char	*rr = reason;

	if (!mod_open_resp(r) || r->r_cg->cg_head_done || status < 200 ||
	    status > 999 || (rr != NULL && !mod_text_ok(rr)))
		return -1;
	cg = r->r_cg;
	while (rr != NULL && (*rr == ' ' || *rr == '\t'))
		rr++;
	cgi_set_status(cg, status, rr, rr != NULL ? strlen(rr) : 0);
	/* Written before it was known that no body goes out. */
	if (cg->cg_no_body)
		evbuffer_drain(cg->cg_resp, evbuffer_get_length(cg->cg_resp));
	return 0;
}

int
hsd_resp_header(struct hsd_req *r, const char *name, const char *value)
{
	static const char *const ours[] = {
		"Connection", "Keep-Alive", "Proxy-Connection",
		"Transfer-Encoding", "TE", "Trailer", "Upgrade", "Date",
		"Server",
	};
	struct cgi_run		*cg;
	const char		*v, *ve;
	char			*ep;
	size_t			 i, nlen;
	unsigned long long	 cl;

	if (!mod_open_resp(r) || r->r_cg->cg_head_done || name == NULL ||
	    value == NULL || !cgi_token(name, strlen(name)) ||
	    !mod_text_ok(value))
		return -1;
	cg = r->r_cg;
	for (i = 0; i < sizeof(ours) / sizeof(ours[0]); i++)
		if (strcasecmp(name, ours[i]) == 0)
			return -1;
	nlen = strlen(name);
	v = value;
	ve = cgi_trim(&v, value + strlen(value));
	if (strcasecmp(name, "Content-Length") == 0) {
		if (cg->cg_clen != -1 || v == ve || *v < '0' || *v > '9')
			return -1;
		errno = 0;
		cl = strtoull(v, &ep, 10);
		if (ep != ve || errno != 0 || cl > INT64_MAX)
			return -1;
		cg->cg_clen = cl;
		return 0;
	}
	if (evbuffer_add(cg->cg_fields, name, nlen) == -1 ||
	    evbuffer_add(cg->cg_fields, ": ", 2) == -1 ||
	    evbuffer_add(cg->cg_fields, v, ve - v) == -1 ||
	    evbuffer_add(cg->cg_fields, "\r\n", 2) == -1)
		return -1;
	return 0;
}

ssize_t
hsd_resp_write(struct hsd_req *r, const void *data, size_t len)
{
	struct cgi_run	*cg;

	if (!mod_open_resp(r) || (data == NULL && len > 0))
		return -1;
	cg = r->r_cg;
	if (len > 0 && !cg->cg_no_body) {
		if (evbuffer_add(cg->cg_resp, data, len) == -1)
			return -1;
		if (!cg->cg_head_done &&
		    evbuffer_get_length(cg->cg_resp) >= CGI_HOLD)
			mod_settle(cg);
		/* Held until the head is settled; then it goes out. */
		if (cg->cg_head_done)
			mod_kick(r);
	}
	return evbuffer_get_length(cg->cg_resp) +
	    evbuffer_get_length(cg->cg_sendq);
}

int
hsd_resp_on_drain(struct hsd_req *r, void (*cb)(struct hsd_req *, void *),
    void *arg)
{
	if (!mod_open_resp(r) || cb == NULL)
		return -1;
	r->r_drain = cb;
	r->r_drain_arg = arg;
	if (!r->r_paused)
		mod_kick(r);
	return 0;
}

int
hsd_resp_end(struct hsd_req *r)
{
	if (!mod_open_resp(r))
		return -1;
	r->r_ended = 1;
	r->r_drain = NULL;
	mod_settle(r->r_cg);
	mod_kick(r);
	return 0;
}

void
hsd_log(const struct hsd_req *r, const char *fmt, ...)
{
	va_list	ap;
	char	msg[1000];

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (r == NULL)
		log_warnx("module: %s", msg);
	else
		log_warnx("module %s: conn %u: %s", mod_name(r->r_inst),
		    r->r_cg->cg_rq->rq_conn, msg);
}
