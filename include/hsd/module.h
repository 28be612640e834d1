/*
 * hsd handler modules: a shared object that answers requests inside
 * hsd-worker, the process of an application pool (handler = "module" in
 * hsd.conf(5)).
 *
 * A module exports one symbol, a struct hsd_module named hsd_module:
 *
 *	const struct hsd_module hsd_module = {
 *		.api = HSD_MODULE_API,
 *		.name = "hello",
 *		.request = hello_request,
 *		.body_end = hello_body_end,
 *	};
 *
 * and calls the hsd_* functions below, which the hsd-worker executable
 * exports: a module links against nothing of hsd's (build it with
 * `cc -shared -fPIC $(pkg-config --cflags hsd-module)`).
 *
 * Life of a module.  Each worker of the pool opens the file with
 * dlopen() when it starts, as the user hsd-poolmgr runs as and before it
 * drops its privileges (so a module serves a chrooted pool from outside
 * the chroot); a file that cannot be loaded, has no hsd_module, another
 * api or no request function stops the worker, and the pool manager's
 * rapid-fail rules apply.  Then, as the pool's user, init() runs once for
 * each combination of file and module_args the pool's sites and
 * applications use: applications with the same file and the same
 * arguments share one ctx, other arguments make another.  fini() runs
 * when the worker exits normally.
 *
 * Life of a request.  request() is called when the request's head is
 * parsed; the body (if any) then comes in body() calls, and body_end()
 * says it is all there -- for a request without a body right after
 * request().  The worker reads more of the body from the client only as
 * body() returns, at most 64 KiB ahead of it.  The module answers when
 * it likes, from these callbacks or later from its own libevent
 * callbacks: hsd_resp_status(), hsd_resp_header(), any number of
 * hsd_resp_write(), and hsd_resp_end() once the response is whole.
 * After hsd_resp_end() nothing more is called for the request and r
 * must not be used again.  If the request ends otherwise -- the client
 * went away (as hsd finds when it writes to it), cgi_timeout passed, the module returned non-zero, the
 * worker is stopping -- abort() is called instead, once, and r must not
 * be used after it.  Each request gets exactly one of hsd_resp_end()
 * (by the module) or abort() (by hsd): that is where a module frees
 * what it keeps for the request.
 *
 * The response.  What a module writes is held until hsd_resp_end() or
 * until HSD_RESP_HOLD bytes of body were written, whichever comes first;
 * then the head goes out: with a Content-Length if the response was
 * whole by then (or the module set one), else chunked (HTTP/1.1) or to
 * the connection's end (HTTP/1.0).  Until then hsd_resp_status() and
 * hsd_resp_header() may be called in any order; after it they fail.
 * Should the module fail before the head went out, the client gets a
 * 500 (a module's own error) or 502 (cgi_timeout) and never a part of
 * its response; after, the connection is reset, so that a cut response
 * never looks whole.
 *
 * Never block.  The worker serves all of its pool's requests from one
 * thread and one libevent loop (hsd_module_args.base); a module that
 * waits holds up every other request of the worker.  Timers, sockets
 * and other work go through that loop.  Every hsd_* function returns at
 * once and none of them calls back into the module: the work they start
 * happens on the loop's next turn.  Call them from the loop's thread
 * only.
 *
 * A crash.  A module runs in the worker: a module that crashes takes the
 * worker with it.  The requests the worker held then follow hsd's
 * failover rules: a GET or HEAD with no response byte sent is handed to
 * another worker (and may crash that one too: after two such hand-overs
 * the client gets 502), anything else gets 502 or a reset.  The pool
 * manager starts a new worker, and too many crashes in a row take the
 * pool offline (rapid_fail_max).
 */
#ifndef HSD_MODULE_H
#define HSD_MODULE_H

#include <sys/types.h>

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#ifdef __cplusplus
extern "C" {
#endif

/* The version of this interface; a module built for another is refused. */
#define HSD_MODULE_API		1

/* Response body bytes held before the head goes out (see above). */
#define HSD_RESP_HOLD		(64 * 1024)
/* Bytes held for a client beyond which a producer should wait for
 * hsd_resp_on_drain() before writing more. */
#define HSD_RESP_HIGH		(64 * 1024)

struct event_base;
struct hsd_req;

/* One of module_args, "key=value" split at its first '='. */
struct hsd_module_arg {
	const char	*key;
	const char	*value;		/* may be "" */
};

/* What init() gets; valid during the call only (copy what you keep). */
struct hsd_module_args {
	const char			*path;	/* the file, as configured */
	const struct hsd_module_arg	*args;	/* ended by a NULL key */
	struct event_base		*base;	/* the worker's libevent loop */
	char				*err;	/* init()'s reason for failing */
	size_t				 errlen;	/* ... at most, with NUL */
};

struct hsd_module {
	int		 api;		/* HSD_MODULE_API */
	const char	*name;		/* for messages */
	/*
	 * Once per instance, at worker start (may be NULL: ctx is NULL).
	 * Non-zero refuses: the worker exits, logging the file and what
	 * init() wrote to args->err.
	 */
	int		(*init)(const struct hsd_module_args *args, void **ctx);
	/* At a normal exit of the worker (may be NULL). */
	void		(*fini)(void *ctx);
	/* The request's head is parsed (required).  Non-zero: 500. */
	int		(*request)(void *ctx, struct hsd_req *r);
	/* Request body bytes, in order (may be NULL: they are dropped).
	 * data is valid during the call only.  Non-zero: 500. */
	int		(*body)(void *ctx, struct hsd_req *r, const char *data,
			    size_t len);
	/* The body is all there (may be NULL).  Non-zero: 500. */
	int		(*body_end)(void *ctx, struct hsd_req *r);
	/* The request is gone without hsd_resp_end() (may be NULL).  r
	 * may still be read during the call (hsd_req_*(), hsd_log()), not
	 * answered. */
	void		(*abort)(void *ctx, struct hsd_req *r);
};

/*
 * The request.  Strings stay valid until the request ends.
 *
 * hsd_req_method(): "GET", "POST", ...
 * hsd_req_path(): the path routed on: percent-decoded and normalised
 * (no "." or ".." segments, no "//"), without the query.
 * hsd_req_query(): what followed '?' in the request target, as sent
 * (still percent-encoded), NUL-terminated; NULL if there was no '?'.
 * hsd_req_header(): the value of the first header field called name
 * (case-insensitive), without surrounding white space, NOT
 * NUL-terminated: *len is its length.  NULL if there is none.
 * hsd_req_header_next(): each header field in turn: *pos starts at 0;
 * returns 1 with the name and value (not NUL-terminated) of the next
 * field, 0 after the last one.
 * hsd_req_remote_addr(): the client's address, "192.0.2.1" or
 * "2001:db8::1"; "" if unknown.
 * hsd_req_content_length(): the request body's length, 0 without a
 * body, -1 if it is not known in advance (chunked).
 * hsd_req_set_data(), hsd_req_get_data(): one pointer of the module's
 * per request, NULL at first.
 */
const char	*hsd_req_method(const struct hsd_req *r);
const char	*hsd_req_path(const struct hsd_req *r);
const char	*hsd_req_query(const struct hsd_req *r);
const char	*hsd_req_header(const struct hsd_req *r, const char *name,
		    size_t *len);
int		 hsd_req_header_next(const struct hsd_req *r, size_t *pos,
		    const char **name, size_t *namelen, const char **value,
		    size_t *valuelen);
const char	*hsd_req_remote_addr(const struct hsd_req *r);
int64_t		 hsd_req_content_length(const struct hsd_req *r);
void		 hsd_req_set_data(struct hsd_req *r, void *data);
void		*hsd_req_get_data(const struct hsd_req *r);

/*
 * The response.  Each returns -1 (and changes nothing) once the response
 * can no longer change -- after hsd_resp_end(), in abort() -- or when
 * memory runs out.
 *
 * hsd_resp_status(): status 200..999, 200 if never called; reason NULL
 * for the usual phrase.  -1 once the head is out, or for a reason with
 * control characters.
 * hsd_resp_header(): add a header field.  -1 once the head is out, for
 * a name that is not a token or a value with control characters (CR,
 * LF, ...), and for the fields hsd writes itself: Connection,
 * Keep-Alive, Proxy-Connection, Transfer-Encoding, TE, Trailer,
 * Upgrade, Date and Server.  Content-Length, once and as digits, says
 * how long the body will be: more is not sent, less is a failed
 * response (502, or a reset once the head is out).
 * hsd_resp_write(): append len bytes of body (dropped for HEAD, 204 and
 * 304).  Returns how many bytes hsd now holds for this response, not
 * yet taken by the client: a producer writes while that is below
 * HSD_RESP_HIGH, then waits for hsd_resp_on_drain().
 * hsd_resp_on_drain(): call cb(r, arg) once, from the loop, as soon as
 * hsd wants more: on the loop's next turn if the client is not behind,
 * else once it has taken what was queued for it.  A later call replaces
 * one not yet made; none is made after hsd_resp_end() or abort().
 * hsd_resp_end(): the response is whole.  r must not be used after it.
 */
int		 hsd_resp_status(struct hsd_req *r, int status,
		    const char *reason);
int		 hsd_resp_header(struct hsd_req *r, const char *name,
		    const char *value);
ssize_t		 hsd_resp_write(struct hsd_req *r, const void *data,
		    size_t len);
int		 hsd_resp_on_drain(struct hsd_req *r,
		    void (*cb)(struct hsd_req *r, void *arg), void *arg);
int		 hsd_resp_end(struct hsd_req *r);

/* A line in hsd's error log, naming the request's module and connection
 * (r may be NULL: then neither). */
void		 hsd_log(const struct hsd_req *r, const char *fmt, ...)
		    __attribute__((format(printf, 2, 3)));

/* The value of module argument key, NULL if it was not given. */
static inline const char *
hsd_module_arg(const struct hsd_module_args *a, const char *key)
{
	const struct hsd_module_arg	*p;

	for (p = a->args; p->key != NULL; p++)
		if (strcmp(p->key, key) == 0)
			return p->value;
	return NULL;
}

#ifdef __cplusplus
}
#endif

#endif
