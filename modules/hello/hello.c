/*
 * hello: the example handler module (<hsd/module.h>), and the one the
 * tests load.  Configured as
 *
 *	application "/hello" {
 *		handler = "module"
 *		module = "/usr/local/lib/hsd/hello.so"
 *		module_args = { "greeting=Hi" }
 *	}
 *
 * it answers, by the last segment of the path:
 *
 *	anything else	"<greeting>, <name>", name from ?name=... ("world");
 *			with a request body, its length and FNV-1a hash
 *	.../echo	what the request looks like through the accessors
 *	.../headers	a status and fields of its own, and those refused
 *	.../late	a field set once the head went out (refused)
 *	.../early	an answer before the request body, which is not read
 *	.../slow	the greeting 100 ms later (?ms=... sets it), from a
 *			libevent timer: the worker serves other requests
 *			meanwhile
 *	.../big		1 MiB (?mib=... sets it) in 16 KiB writes, paced by
 *			the client (hsd_resp_on_drain()); ?length gives it a
 *			Content-Length
 *	.../hang	nothing, ever: cgi_timeout aborts it
 *	.../crash	abort(), on purpose: the worker dies
 *
 * Arguments: greeting (default "Hello"); fail=<text> makes init() fail
 * with that text.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>

#include <hsd/module.h>

#define HELLO_MIB	(1024 * 1024)
#define HELLO_CHUNK	(16 * 1024)

struct hello {
	char			*greeting;
	struct event_base	*base;
};

/* What one request needs kept between calls. */
struct hello_req {
	struct hello	*h;
	uint64_t	 len;		/* body bytes */
	uint64_t	 fnv;		/* their FNV-1a, 64 bits */
	struct event	*timer;		/* /slow */
	size_t		 size;		/* /big */
	size_t		 sent;
	ssize_t		 most;		/* ... the most hsd held */
	int		 waits;		/* ... drains waited for */
};

static int
hello_init(const struct hsd_module_args *a, void **ctx)
{
	struct hello	*h;
	const char	*v;

	if ((v = hsd_module_arg(a, "fail")) != NULL) {
		snprintf(a->err, a->errlen, "told to fail: %s", v);
		return -1;
	}
	if ((v = hsd_module_arg(a, "greeting")) == NULL)
		v = "Hello";
	if ((h = calloc(1, sizeof(*h))) == NULL ||
	    (h->greeting = strdup(v)) == NULL) {
		free(h);
		snprintf(a->err, a->errlen, "out of memory");
		return -1;
	}
	h->base = a->base;
	*ctx = h;
	hsd_log(NULL, "hello: ready, greeting \"%s\"", h->greeting);
	return 0;
}

static void
hello_fini(void *ctx)
{
	struct hello	*h = ctx;

	free(h->greeting);
	free(h);
}

/* The request is over for the module, one way or the other. */
static void
hello_done(struct hsd_req *r)
{
	struct hello_req	*hr = hsd_req_get_data(r);

	if (hr->timer != NULL)
		event_free(hr->timer);
	free(hr);
	hsd_req_set_data(r, NULL);
}

/* A whole text/plain answer. */
static void
hello_answer(struct hsd_req *r, const char *text)
{
	hsd_resp_header(r, "Content-Type", "text/plain; charset=utf-8");
	hsd_resp_write(r, text, strlen(text));
	hello_done(r);
	hsd_resp_end(r);
}

/* Does the path's last segment say what? */
static int
hello_is(struct hsd_req *r, const char *what)
{
	const char	*p = hsd_req_path(r), *slash = strrchr(p, '/');

	return slash != NULL && strcmp(slash + 1, what) == 0;
}

static int
hello_hex(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* Query parameter key, percent-decoded into buf; NULL if absent. */
static const char *
hello_param(struct hsd_req *r, const char *key, char *buf, size_t len)
{
	const char	*q = hsd_req_query(r), *p, *end;
	size_t		 klen = strlen(key), n = 0;
	int		 hi, lo;

	for (p = q; p != NULL && *p != '\0'; p = *end ? end + 1 : end) {
		if ((end = strchr(p, '&')) == NULL)
			end = p + strlen(p);
		if ((size_t)(end - p) < klen || strncmp(p, key, klen) != 0 ||
		    (p[klen] != '=' && p + klen != end))
			continue;
		for (p += klen + (p + klen < end); p < end && n + 1 < len;
		    p++) {
			if (*p == '%' && p + 2 < end &&
			    (hi = hello_hex(p[1])) != -1 &&
			    (lo = hello_hex(p[2])) != -1) {
				buf[n++] = hi << 4 | lo;
				p += 2;
			} else
				buf[n++] = *p == '+' ? ' ' : *p;
		}
		buf[n] = '\0';
		return buf;
	}
	return NULL;
}

static void
hello_greet(struct hsd_req *r, const char *prefix)
{
	struct hello_req	*hr = hsd_req_get_data(r);
	char			 name[256], text[512];

	if (hello_param(r, "name", name, sizeof(name)) == NULL)
		snprintf(name, sizeof(name), "world");
	snprintf(text, sizeof(text), "%s%s, %s\n", prefix, hr->h->greeting,
	    name);
	hello_answer(r, text);
}

static void
hello_slow_fire(evutil_socket_t fd, short ev, void *arg)
{
	(void)fd;
	(void)ev;
	hello_greet(arg, "slow: ");
}

/* Write /big while hsd holds little, else wait for the client. */
static void
hello_big_more(struct hsd_req *r, void *arg)
{
	struct hello_req	*hr = arg;
	char			 chunk[HELLO_CHUNK];
	ssize_t			 held;

	while (hr->sent < hr->size) {
		memset(chunk, 'A' + hr->sent / HELLO_CHUNK % 26,
		    sizeof(chunk));
		if ((held = hsd_resp_write(r, chunk, sizeof(chunk))) == -1) {
			/* Out of memory: cgi_timeout will abort it. */
			hsd_log(r, "big: write failed");
			return;
		}
		hr->sent += sizeof(chunk);
		if (held > hr->most)
			hr->most = held;
		if (held >= HSD_RESP_HIGH && hr->sent < hr->size) {
			hr->waits++;
			hsd_resp_on_drain(r, hello_big_more, hr);
			return;
		}
	}
	hsd_log(r, "big: %zu bytes, %d waits for the client, at most %zd "
	    "bytes held", hr->size, hr->waits, hr->most);
	hello_done(r);
	hsd_resp_end(r);
}

static void
hello_echo(struct hsd_req *r)
{
	char		 text[4096];
	const char	*q = hsd_req_query(r), *x, *n, *v;
	size_t		 xlen, nlen, vlen, pos = 0;
	int		 len, fields = 0;

	x = hsd_req_header(r, "x-test", &xlen);
	len = snprintf(text, sizeof(text), "method=%s\npath=%s\nquery=%s\n"
	    "remote=%s\ncontent-length=%lld\nx-test=%.*s\n",
	    hsd_req_method(r), hsd_req_path(r), q != NULL ? q : "(none)",
	    hsd_req_remote_addr(r), (long long)hsd_req_content_length(r),
	    x != NULL ? (int)xlen : 6, x != NULL ? x : "(none)");
	while (hsd_req_header_next(r, &pos, &n, &nlen, &v, &vlen) &&
	    len > 0 && (size_t)len < sizeof(text)) {
		fields++;
		len += snprintf(text + len, sizeof(text) - len,
		    "field=%.*s: %.*s\n", (int)nlen, n, (int)vlen, v);
	}
	if (len > 0 && (size_t)len < sizeof(text))
		snprintf(text + len, sizeof(text) - len, "fields=%d\n",
		    fields);
	hello_answer(r, text);
}

static void
hello_headers(struct hsd_req *r)
{
	char	text[64];
	int	refused = 0;

	refused += hsd_resp_header(r, "Bad Name", "x") == -1;
	refused += hsd_resp_header(r, "X-Split", "a\r\nX-Injected: 1") == -1;
	refused += hsd_resp_header(r, "Connection", "close") == -1;
	refused += hsd_resp_header(r, "content-length", "12x") == -1;
	refused += hsd_resp_status(r, 99, NULL) == -1;
	refused += hsd_resp_status(r, 200, "Bad\nReason") == -1;
	hsd_resp_status(r, 201, "Made Here");
	hsd_resp_header(r, "X-Module", "  hello  ");
	hsd_resp_header(r, "Set-Cookie", "a=1");
	hsd_resp_header(r, "Set-Cookie", "b=2");
	snprintf(text, sizeof(text), "refused %d\n", refused);
	hello_answer(r, text);
}

/* A field after the head went out (64 KiB of body) is refused. */
static void
hello_late(struct hsd_req *r)
{
	char	buf[70000], text[64];

	memset(buf, 'x', sizeof(buf));
	hsd_resp_write(r, buf, sizeof(buf));
	snprintf(text, sizeof(text), "\nlate field: %d, late status: %d\n",
	    hsd_resp_header(r, "X-Late", "1"), hsd_resp_status(r, 404, NULL));
	hsd_resp_write(r, text, strlen(text));
	hello_done(r);
	hsd_resp_end(r);
}

static int
hello_request(void *ctx, struct hsd_req *r)
{
	struct hello_req	*hr;

	if ((hr = calloc(1, sizeof(*hr))) == NULL)
		return -1;
	hr->h = ctx;
	hr->fnv = 0xcbf29ce484222325ULL;
	hsd_req_set_data(r, hr);
	if (hello_is(r, "early"))
		hello_answer(r, "early\n");
	return 0;
}

static int
hello_body(void *ctx, struct hsd_req *r, const char *data, size_t len)
{
	struct hello_req	*hr = hsd_req_get_data(r);
	size_t			 i;

	(void)ctx;
	hr->len += len;
	for (i = 0; i < len; i++) {
		hr->fnv ^= (unsigned char)data[i];
		hr->fnv *= 0x100000001b3ULL;
	}
	return 0;
}

static int
hello_body_end(void *ctx, struct hsd_req *r)
{
	struct hello		*h = ctx;
	struct hello_req	*hr = hsd_req_get_data(r);
	struct timeval		 tv;
	char			 text[64];
	long			 ms = 100;

	if (hello_is(r, "crash"))
		abort();
	if (hello_is(r, "hang"))
		return 0;
	if (hello_is(r, "slow")) {
		if (hello_param(r, "ms", text, sizeof(text)) != NULL)
			ms = strtol(text, NULL, 10);
		tv.tv_sec = ms / 1000;
		tv.tv_usec = ms % 1000 * 1000;
		if ((hr->timer = evtimer_new(h->base, hello_slow_fire,
		    r)) == NULL || evtimer_add(hr->timer, &tv) == -1)
			return -1;
		return 0;
	}
	if (hello_is(r, "big")) {
		hr->size = HELLO_MIB;
		if (hello_param(r, "mib", text, sizeof(text)) != NULL)
			hr->size = strtoul(text, NULL, 10) * HELLO_MIB;
		hsd_resp_header(r, "Content-Type", "application/octet-stream");
		if (hello_param(r, "length", text, sizeof(text)) != NULL) {
			snprintf(text, sizeof(text), "%zu", hr->size);
			hsd_resp_header(r, "Content-Length", text);
		}
		hello_big_more(r, hr);
		return 0;
	}
	if (hello_is(r, "echo"))
		hello_echo(r);
	else if (hello_is(r, "headers"))
		hello_headers(r);
	else if (hello_is(r, "late"))
		hello_late(r);
	else if (hsd_req_content_length(r) != 0) {
		snprintf(text, sizeof(text), "%llu %016llx\n",
		    (unsigned long long)hr->len, (unsigned long long)hr->fnv);
		hello_answer(r, text);
	} else
		hello_greet(r, "");
	return 0;
}

static void
hello_abort(void *ctx, struct hsd_req *r)
{
	(void)ctx;
	hsd_log(r, "aborted %s", hsd_req_path(r));
	hello_done(r);
}

const struct hsd_module hsd_module = {
	.api = HSD_MODULE_API,
	.name = "hello",
	.init = hello_init,
	.fini = hello_fini,
	.request = hello_request,
	.body = hello_body,
	.body_end = hello_body_end,
	.abort = hello_abort,
};
