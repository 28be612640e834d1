/*
 * The static-file handler: maps a request path below its document root,
 * evaluates conditionals and a single byte range, and builds the response
 * in the request slot's output buffer.  Small bodies go right behind the
 * headers so worker.c sends the whole response with one send(); larger
 * ones are left as an open file and a range for sendfile().  Files are
 * opened with openat2(RESOLVE_BENEATH) on the root's directory fd, so no
 * symlink can lead a request out of its root.  A file served once is
 * answered from the open-file cache (filecache.c) until it changes: no
 * open, no stat, no read.
 */
#include "config.h"

#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/types.h>

#include <linux/openat2.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "conf.h"
#include "head.h"
#include "httpdate.h"
#include "log.h"
#include "worker.h"

#define STATIC_SERVER	"Server: hsd/" PACKAGE_VERSION "\r\n"
#define STATIC_DATE_LEN	HTTPDATE_LEN

struct static_buf {
	char	*sb_pos;
	char	*sb_end;
	int	 sb_full;
};

static const struct {
	const char	*ct_ext;
	const char	*ct_type;
} static_types[] = {
	{ "html",	"text/html" },
	{ "htm",	"text/html" },
	{ "css",	"text/css" },
	{ "js",		"application/javascript" },
	{ "mjs",	"application/javascript" },
	{ "json",	"application/json" },
	{ "txt",	"text/plain" },
	{ "xml",	"text/xml" },
	{ "svg",	"image/svg+xml" },
	{ "png",	"image/png" },
	{ "jpg",	"image/jpeg" },
	{ "jpeg",	"image/jpeg" },
	{ "gif",	"image/gif" },
	{ "webp",	"image/webp" },
	{ "ico",	"image/x-icon" },
	{ "pdf",	"application/pdf" },
	{ "woff",	"font/woff" },
	{ "woff2",	"font/woff2" },
	{ "ttf",	"font/ttf" },
	{ "wasm",	"application/wasm" },
	{ "mp4",	"video/mp4" },
	{ "webm",	"video/webm" },
	{ "mp3",	"audio/mpeg" },
	{ "zip",	"application/zip" },
	{ "gz",		"application/gzip" },
	{ "tar",	"application/x-tar" },
};

/* The Date header changes once a second; most responses reuse it. */
static char	 static_date_buf[STATIC_DATE_LEN + 1];
static time_t	 static_date_sec = -1;

/* Files of one deployment share an mtime: one entry saves most gmtime_r(). */
static char	 static_mtime_buf[STATIC_DATE_LEN + 1];
static time_t	 static_mtime_sec;
static int	 static_mtime_set;

const char *
static_reason(int status)
{
	switch (status) {
	case 200:	return "OK";
	case 206:	return "Partial Content";
	case 301:	return "Moved Permanently";
	case 304:	return "Not Modified";
	case 400:	return "Bad Request";
	case 403:	return "Forbidden";
	case 404:	return "Not Found";
	case 405:	return "Method Not Allowed";
	case 408:	return "Request Timeout";
	case 413:	return "Content Too Large";
	case 416:	return "Range Not Satisfiable";
	case 502:	return "Bad Gateway";
	case 503:	return "Service Unavailable";
	case 504:	return "Gateway Timeout";
	default:	return "Internal Server Error";
	}
}

const char *
static_date(void)
{
	time_t	now = time(NULL);

	if (now != static_date_sec) {
		httpdate_format(static_date_buf, now);
		static_date_sec = now;
	}
	return static_date_buf;
}

static void
static_mtime(struct wrk_file *f)
{
	if (!static_mtime_set || static_mtime_sec != f->wf_st.st_mtime) {
		httpdate_format(static_mtime_buf, f->wf_st.st_mtime);
		static_mtime_sec = f->wf_st.st_mtime;
		static_mtime_set = 1;
	}
	memcpy(f->wf_mtime, static_mtime_buf, sizeof(f->wf_mtime));
}

/* An HTTP-date in any of its forms (httpdate.h); -1 if it is none. */
static time_t
static_parse_date(const char *s, size_t len)
{
	time_t	t;

	return httpdate_parse(s, len, &t) == 0 ? t : -1;
}

static void
static_put(struct static_buf *b, const char *s, size_t len)
{
	if (b->sb_full || (size_t)(b->sb_end - b->sb_pos) < len) {
		b->sb_full = 1;
		return;
	}
	memcpy(b->sb_pos, s, len);
	b->sb_pos += len;
}

static void
static_puts(struct static_buf *b, const char *s)
{
	static_put(b, s, strlen(s));
}

static void
static_putu(struct static_buf *b, uint64_t v)
{
	char	 tmp[24], *p = tmp + sizeof(tmp);

	do {
		*--p = '0' + v % 10;
		v /= 10;
	} while (v != 0);
	static_put(b, p, tmp + sizeof(tmp) - p);
}

/* A path in a Location header: escape what may not appear there raw. */
static void
static_put_path(struct static_buf *b, const char *s, size_t len)
{
	static const char	 hex[] = "0123456789ABCDEF";
	unsigned char		 c;
	size_t			 i;

	for (i = 0; i < len && !b->sb_full; i++) {
		c = s[i];
		if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		    (c >= '0' && c <= '9') || strchr("-._~!$&'()*+,;=:@/",
		    c) != NULL) {
			static_put(b, (const char *)&c, 1);
		} else {
			char	esc[3] = { '%', hex[c >> 4], hex[c & 15] };

			static_put(b, esc, 3);
		}
	}
}

/* Status line, Server, Date and the Connection header the request needs. */
static void
static_put_head(struct wrk_req *rq, struct static_buf *b, int status)
{
	int	keepalive = rq->rq_keepalive && !rq->rq_close;

	/* The client waits for it before it sends the body that the
	 * listener is to read and throw away. */
	if (rq->rq_continue && keepalive)
		static_puts(b, "HTTP/1.1 100 Continue\r\n\r\n");
	static_puts(b, "HTTP/1.1 ");
	static_putu(b, status);
	static_put(b, " ", 1);
	static_puts(b, static_reason(status));
	static_puts(b, "\r\n" STATIC_SERVER "Date: ");
	static_put(b, static_date(), STATIC_DATE_LEN);
	static_put(b, "\r\n", 2);
	if (!keepalive && (rq->rq_major > 1 ||
	    (rq->rq_major == 1 && rq->rq_minor >= 1)))
		static_puts(b, "Connection: close\r\n");
	else if (keepalive && rq->rq_major == 1 && rq->rq_minor == 0)
		static_puts(b, "Connection: keep-alive\r\n");
	rq->rq_close = !keepalive;
}

void
static_reset(struct wrk_req *rq)
{
	/* A cache entry's fd is the entry's to close. */
	if (rq->rq_file != -1 && rq->rq_fent == NULL)
		close(rq->rq_file);
	rq->rq_file = -1;
	if (rq->rq_fent != NULL) {
		filecache_put(rq->rq_fent);
		rq->rq_fent = NULL;
	}
	rq->rq_out_len = 0;
	rq->rq_out_off = 0;
	rq->rq_file_off = 0;
	rq->rq_file_end = 0;
	rq->rq_resp_len = 0;
	rq->rq_fid_ok = 0;
	rq->rq_body_at = 0;
	rq->rq_body_off = 0;
	rq->rq_body_end = 0;
	rq->rq_resp_head = 0;
}

static void
static_fileid(const struct stat *st, struct msg_fileid *id)
{
	memset(id, 0, sizeof(*id));
	id->fi_dev = st->st_dev;
	id->fi_ino = st->st_ino;
	id->fi_size = st->st_size;
	id->fi_mtime_ns = (int64_t)st->st_mtim.tv_sec * 1000000000 +
	    st->st_mtim.tv_nsec;
	id->fi_ctime_ns = (int64_t)st->st_ctim.tv_sec * 1000000000 +
	    st->st_ctim.tv_nsec;
}

/* Build an error page for status (and extra header lines, CRLF-ended). */
static void
static_error_extra(struct wrk_req *rq, int status, const char *extra,
    size_t extralen, const char *loc, size_t loclen)
{
	static const char	 p1[] = "<html>\r\n<head><title>";
	static const char	 p2[] = "</title></head>\r\n<body>\r\n<center><h1>";
	static const char	 p3[] = "</h1></center>\r\n<hr><center>hsd</center>\r\n"
				    "</body>\r\n</html>\r\n";
	struct static_buf	 b;
	const char		*reason;
	size_t			 titlelen, bodylen;

	static_reset(rq);
	/* After these the request's end is unknown or unwanted. */
	if (status == 400 || status == 408 || status == 413 || status == 500)
		rq->rq_close = 1;
	rq->rq_status = status;
	reason = static_reason(status);
	titlelen = 4 + strlen(reason);	/* "404 " */
	bodylen = sizeof(p1) - 1 + sizeof(p2) - 1 + sizeof(p3) - 1 +
	    2 * titlelen;

	b.sb_pos = rq->rq_out;
	b.sb_end = rq->rq_out + WRK_OUT_SIZE;
	b.sb_full = 0;
	static_put_head(rq, &b, status);
	static_puts(&b, "Content-Type: text/html\r\nContent-Length: ");
	static_putu(&b, bodylen);
	static_put(&b, "\r\n", 2);
	if (loc != NULL) {
		static_puts(&b, "Location: ");
		static_put_path(&b, loc, loclen);
		static_put(&b, "/", 1);
		if (rq->rq_query != NULL)
			static_put(&b, rq->rq_query, rq->rq_query_len);
		static_put(&b, "\r\n", 2);
	}
	if (extra != NULL)
		static_put(&b, extra, extralen);
	static_put(&b, "\r\n", 2);
	rq->rq_resp_head = b.sb_pos - rq->rq_out;
	if (rq->rq_method != HTTP_HEAD) {
		static_put(&b, p1, sizeof(p1) - 1);
		static_putu(&b, status);
		static_put(&b, " ", 1);
		static_puts(&b, reason);
		static_put(&b, p2, sizeof(p2) - 1);
		static_putu(&b, status);
		static_put(&b, " ", 1);
		static_puts(&b, reason);
		static_put(&b, p3, sizeof(p3) - 1);
	}
	if (b.sb_full) {
		/* Only a very long Location gets here. */
		log_warnx("static_error: response %d does not fit", status);
		static_error_extra(rq, 500, NULL, 0, NULL, 0);
		return;
	}
	rq->rq_out_len = b.sb_pos - rq->rq_out;
	rq->rq_resp_len = rq->rq_out_len;
}

void
static_error(struct wrk_req *rq, int status)
{
	if (status == 405) {
		static const char allow[] = "Allow: GET, HEAD\r\n";

		static_error_extra(rq, status, allow, sizeof(allow) - 1,
		    NULL, 0);
	} else
		static_error_extra(rq, status, NULL, 0, NULL, 0);
}

static int
static_open_errno(int err, const char *name)
{
	switch (err) {
	case ENOENT:
	case ENOTDIR:
	case EXDEV:
	case ELOOP:
	case ENAMETOOLONG:
		return 404;
	case EACCES:
	case EPERM:
		return 403;
	default:
		errno = err;
		log_warn("static_open: openat2 %s", name);
		return 500;
	}
}

/*
 * Open name below dirfd without leaving it; 0 or an HTTP status.  With
 * *cachep set, a symlink on the way is first refused, and *cachep cleared
 * when the name needs one: the cache cannot watch what a link leads
 * through.
 */
static int
static_open(int dirfd, const char *name, struct wrk_file *f, int *cachep)
{
	struct open_how	how;

	memset(&how, 0, sizeof(how));
	how.flags = O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK;
	how.resolve = RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS;
	if (*cachep) {
		how.resolve |= RESOLVE_NO_SYMLINKS;
		f->wf_fd = syscall(SYS_openat2, dirfd, name, &how, sizeof(how));
		if (f->wf_fd == -1 && errno == ELOOP) {
			*cachep = 0;
			how.resolve &= ~RESOLVE_NO_SYMLINKS;
		}
	}
	if (!*cachep)
		f->wf_fd = syscall(SYS_openat2, dirfd, name, &how, sizeof(how));
	if (f->wf_fd == -1)
		return static_open_errno(errno, name);
	if (fstat(f->wf_fd, &f->wf_st) == -1) {
		log_warn("static_open: fstat %s", name);
		close(f->wf_fd);
		f->wf_fd = -1;
		return 500;
	}
	return 0;
}

static const char *
static_type(const char *name)
{
	const char	*dot = strrchr(name, '.');
	size_t		 i;

	if (dot == NULL || strchr(dot, '/') != NULL)
		return "application/octet-stream";
	dot++;
	for (i = 0; i < sizeof(static_types) / sizeof(static_types[0]); i++)
		if (strcasecmp(dot, static_types[i].ct_ext) == 0)
			return static_types[i].ct_type;
	return "application/octet-stream";
}

static size_t
static_skip_ows(const char *s, size_t i, size_t len)
{
	while (i < len && (s[i] == ' ' || s[i] == '\t'))
		i++;
	return i;
}

static int
static_parse_num(const char *s, size_t *ip, size_t len, off_t *v)
{
	size_t	i = *ip;
	off_t	n = 0;

	if (i >= len || s[i] < '0' || s[i] > '9')
		return -1;
	for (; i < len && s[i] >= '0' && s[i] <= '9'; i++) {
		if (n > (INT64_MAX - 9) / 10)
			return -1;
		n = n * 10 + (s[i] - '0');
	}
	*ip = i;
	*v = n;
	return 0;
}

/*
 * A single byte range against a file of size bytes: 1 with [*start, *end]
 * set, -1 if unsatisfiable (416), 0 to ignore it (several ranges, syntax
 * we do not take): the full file is then served.
 */
static int
static_range(const char *s, size_t len, off_t size, off_t *start, off_t *end)
{
	size_t	i;
	off_t	a, b;

	i = static_skip_ows(s, 0, len);
	if (len - i < 6 || strncasecmp(s + i, "bytes", 5) != 0)
		return 0;
	i = static_skip_ows(s, i + 5, len);
	if (i >= len || s[i] != '=')
		return 0;
	i = static_skip_ows(s, i + 1, len);
	if (i < len && s[i] == '-') {
		i++;
		if (static_parse_num(s, &i, len, &b) == -1)
			return 0;
		if (static_skip_ows(s, i, len) != len)
			return 0;
		if (b == 0 || size == 0)
			return -1;
		if (b > size)
			b = size;
		*start = size - b;
		*end = size - 1;
		return 1;
	}
	if (static_parse_num(s, &i, len, &a) == -1 || i >= len || s[i] != '-')
		return 0;
	i++;
	b = -1;
	if (i < len && s[i] >= '0' && s[i] <= '9' &&
	    static_parse_num(s, &i, len, &b) == -1)
		return 0;
	if (static_skip_ows(s, i, len) != len)
		return 0;
	if (b != -1 && b < a)
		return 0;
	if (a >= size)
		return -1;
	if (b == -1 || b >= size)
		b = size - 1;
	*start = a;
	*end = b;
	return 1;
}

/* 1 if If-Range lets the Range header apply. */
static int
static_if_range(const struct wrk_req *rq, const struct wrk_file *f)
{
	const struct wrk_hval	*h = &rq->rq_hdr[WH_IF_RANGE];
	size_t			 i;

	if (h->hv_ptr == NULL)
		return 1;
	i = static_skip_ows(h->hv_ptr, 0, h->hv_len);
	if (i < h->hv_len && (h->hv_ptr[i] == '"' || h->hv_ptr[i] == 'W'))
		return head_etag_match(h->hv_ptr, h->hv_len, f->wf_etag,
		    f->wf_etag_len, 0, 0);
	return static_parse_date(h->hv_ptr + i, h->hv_len - i) ==
	    f->wf_st.st_mtime;
}

/* 1 if the conditionals say the client's copy is current (304). */
static int
static_not_modified(const struct wrk_req *rq, const struct wrk_file *f)
{
	const struct wrk_hval	*inm = &rq->rq_hdr[WH_IF_NONE_MATCH];
	const struct wrk_hval	*ims = &rq->rq_hdr[WH_IF_MODIFIED_SINCE];
	time_t			 t;

	if (inm->hv_ptr != NULL)
		return head_etag_match(inm->hv_ptr, inm->hv_len, f->wf_etag,
		    f->wf_etag_len, 1, 1);
	if (ims->hv_ptr != NULL) {
		t = static_parse_date(ims->hv_ptr, ims->hv_len);
		return t != -1 && f->wf_st.st_mtime <= t;
	}
	return 0;
}

/* The validators every response for the file carries. */
static void
static_put_validators(struct static_buf *b, const struct wrk_file *f)
{
	static_puts(b, "Last-Modified: ");
	static_put(b, f->wf_mtime, STATIC_DATE_LEN);
	static_puts(b, "\r\nETag: ");
	static_put(b, f->wf_etag, f->wf_etag_len);
	static_put(b, "\r\n", 2);
}

/* The header lines after Connection, and the empty line. */
static void
static_put_entity(struct static_buf *b, const struct wrk_file *f,
    int status, off_t start, off_t end)
{
	if (status != 304) {
		static_puts(b, "Content-Type: ");
		static_puts(b, f->wf_type);
		static_puts(b, "\r\nContent-Length: ");
		static_putu(b, end - start + 1);
		static_put(b, "\r\n", 2);
	}
	if (status == 206) {
		static_puts(b, "Content-Range: bytes ");
		static_putu(b, start);
		static_put(b, "-", 1);
		static_putu(b, end);
		static_put(b, "/", 1);
		static_putu(b, f->wf_st.st_size);
		static_put(b, "\r\n", 2);
	}
	static_put_validators(b, f);
	if (status != 304)
		static_puts(b, "Accept-Ranges: bytes\r\n");
	static_put(b, "\r\n", 2);
}

/*
 * What every response for the file says about it, worked out once: the
 * type (by name), the validators and a whole 200's header lines, which
 * a cache entry keeps for as long as the file does not change.
 */
void
static_describe(struct wrk_file *f, const char *name)
{
	struct static_buf	b;

	f->wf_type = static_type(name);
	f->wf_etag_len = snprintf(f->wf_etag, sizeof(f->wf_etag),
	    "\"%llx-%llx\"", (unsigned long long)f->wf_st.st_mtime,
	    (unsigned long long)f->wf_st.st_size);
	static_mtime(f);
	b.sb_pos = f->wf_tail;
	b.sb_end = f->wf_tail + sizeof(f->wf_tail);
	b.sb_full = 0;
	static_put_entity(&b, f, 200, 0, f->wf_st.st_size - 1);
	f->wf_tail_len = b.sb_full ? 0 : (size_t)(b.sb_pos - f->wf_tail);
}

/* Close what was opened for this request alone (not a cache entry's). */
static void
static_close(struct wrk_file *own)
{
	if (own->wf_fd != -1) {
		close(own->wf_fd);
		own->wf_fd = -1;
	}
}

/*
 * Find the request's file (a directory's index.html): a cache entry
 * (rq_fent), or opened into *own and, if it can be, cached.  *fp is what
 * to answer from.  0 or an HTTP status.  Without usecache the file is
 * opened and looked at afresh, and nothing is cached.
 */
static int
static_lookup(struct wrk_req *rq, struct wrk_file *own,
    const struct wrk_file **fp, int usecache)
{
	static char	 idxpath[PATH_MAX];
	const struct conf_site *site = &wrk_conf->cf_sites[rq->rq_site];
	const char	*root, *rel, *name, *key;
	size_t		 len;
	int		 dirfd, status;

	own->wf_fd = -1;
	rel = conf_map_path(site, rq->rq_app, rq->rq_path, &root);
	if (rel == NULL || root == NULL)
		return 404;
	if ((dirfd = worker_rootfd(rq, root)) == -1)
		return 404;
	name = rel[0] == '/' ? rel + 1 : rel;
	if (*name == '\0')
		name = ".";
	usecache = usecache && filecache_enabled();
	if (usecache && (rq->rq_fent = filecache_get(dirfd, name)) != NULL) {
		*fp = filecache_file(rq->rq_fent);
		return 0;
	}
	key = name;
	if ((status = static_open(dirfd, name, own, &usecache)) != 0)
		return status;
	if (S_ISDIR(own->wf_st.st_mode)) {
		static_close(own);
		if (rq->rq_path[rq->rq_path_len - 1] != '/')
			return 301;
		/* Through the root again so index.html may be a symlink
		 * to anywhere inside it. */
		len = strcmp(name, ".") == 0 ? 0 : strlen(name);
		if (len + sizeof("index.html") > sizeof(idxpath))
			return 404;
		memcpy(idxpath, name, len);
		memcpy(idxpath + len, "index.html", sizeof("index.html"));
		name = idxpath;
		if ((status = static_open(dirfd, name, own, &usecache)) != 0)
			return status == 404 ? 403 : status;
	}
	if (!S_ISREG(own->wf_st.st_mode)) {
		static_close(own);
		return 403;
	}
	if (usecache && (rq->rq_fent = filecache_add(dirfd, key,
	    worker_root_path(root), name, own)) != NULL) {
		*fp = filecache_file(rq->rq_fent);
		return 0;
	}
	static_describe(own, name);
	own->wf_name = name;
	*fp = own;
	return 0;
}

void
static_serve(struct wrk_req *rq)
{
	struct wrk_file		 own;
	const struct wrk_file	*f;
	struct static_buf	 b;
	off_t			 start = 0, end = -1, size;
	size_t			 bodylen;
	ssize_t			 n;
	int			 status, r = 0;

	static_reset(rq);
	if (rq->rq_method != HTTP_GET && rq->rq_method != HTTP_HEAD) {
		static_error(rq, 405);
		return;
	}
	if ((status = static_lookup(rq, &own, &f, 1)) != 0) {
		if (status == 301)
			static_error_extra(rq, 301, NULL, 0, rq->rq_path,
			    rq->rq_path_len);
		else
			static_error(rq, status);
		return;
	}
	size = f->wf_st.st_size;

	if (static_not_modified(rq, f))
		status = 304;
	else {
		status = 200;
		if (rq->rq_method == HTTP_GET &&
		    rq->rq_hdr[WH_RANGE].hv_ptr != NULL &&
		    static_if_range(rq, f))
			r = static_range(rq->rq_hdr[WH_RANGE].hv_ptr,
			    rq->rq_hdr[WH_RANGE].hv_len, size, &start, &end);
		if (r == 1)
			status = 206;
		else if (r == -1) {
			char	cr[64];
			int	crlen;

			static_close(&own);
			crlen = snprintf(cr, sizeof(cr),
			    "Content-Range: bytes */%llu\r\n",
			    (unsigned long long)size);
			static_error_extra(rq, 416, cr, crlen, NULL, 0);
			return;
		} else {
			start = 0;
			end = size - 1;
		}
	}

	rq->rq_status = status;
	b.sb_pos = rq->rq_out;
	b.sb_end = rq->rq_out + WRK_OUT_SIZE;
	b.sb_full = 0;
	static_put_head(rq, &b, status);
	if (status == 200 && f->wf_tail_len > 0)
		static_put(&b, f->wf_tail, f->wf_tail_len);
	else
		static_put_entity(&b, f, status, start, end);
	if (b.sb_full) {
		static_close(&own);
		log_warnx("static_serve: headers for %s do not fit",
		    rq->rq_path);
		static_error(rq, 500);
		return;
	}
	rq->rq_out_len = b.sb_pos - rq->rq_out;
	rq->rq_resp_head = rq->rq_out_len;
	bodylen = 0;
	if (rq->rq_method != HTTP_HEAD && status != 304)
		bodylen = end - start + 1;
	rq->rq_resp_len = rq->rq_out_len + bodylen;
	if (bodylen > 0) {
		/* What another worker needs to finish the body. */
		static_fileid(&f->wf_st, &rq->rq_fid);
		rq->rq_fid_ok = 1;
		rq->rq_body_at = rq->rq_out_len;
		rq->rq_body_off = start;
		rq->rq_body_end = end + 1;
	}

	if (bodylen > 0 && f->wf_fd == -1) {
		/* A cached small file: its bytes, as they were when the
		 * stat the head describes was taken. */
		if (bodylen > WRK_OUT_SIZE - rq->rq_out_len) {
			log_warnx("static_serve: %s does not fit behind its "
			    "headers", rq->rq_path);
			static_error(rq, 500);
			return;
		}
		memcpy(rq->rq_out + rq->rq_out_len, f->wf_body + start,
		    bodylen);
		rq->rq_out_len += bodylen;
	} else if (bodylen > 0 && bodylen <= WRK_SMALL_BODY &&
	    bodylen <= WRK_OUT_SIZE - rq->rq_out_len) {
		/* Behind the headers: one send() for the whole response. */
		n = pread(f->wf_fd, rq->rq_out + rq->rq_out_len, bodylen,
		    start);
		static_close(&own);
		if (n != (ssize_t)bodylen) {
			if (n == -1)
				log_warn("static_serve: pread %s", rq->rq_path);
			else
				log_warnx("static_serve: %s changed while read",
				    rq->rq_path);
			static_error(rq, 500);
			return;
		}
		rq->rq_out_len += bodylen;
	} else if (bodylen > 0) {
		/* Ours to close now, or the cache entry's (rq_fent). */
		rq->rq_file = f->wf_fd;
		own.wf_fd = -1;
		rq->rq_file_off = start;
		rq->rq_file_end = end + 1;
	} else
		static_close(&own);
	offer_response(rq, f->wf_name);
}

/*
 * The rest of a body another worker began (HO_RESUME): the same path by
 * the same rules, and only if the fd opened is still the file that worker
 * sent from -- checked with fstat() on that very fd, never a cache
 * entry's stat, so what is sent is what was checked.  No head: the client
 * has it.  0 with the range set up in rq_file, -1 (and nothing set up) if
 * it cannot be resumed.
 */
int
static_resume(struct wrk_req *rq, const struct msg_handoff *ho)
{
	struct wrk_file		 own;
	const struct wrk_file	*f;
	struct msg_fileid	 id;
	int			 status;

	static_reset(rq);
	rq->rq_status = ho->ho_resume_status;
	/* The Connection header the first worker sent said the same. */
	rq->rq_close = !(rq->rq_keepalive && !rq->rq_close);
	if (rq->rq_method != HTTP_GET) {
		log_info("static_resume: conn %u: not a GET", rq->rq_conn);
		return -1;
	}
	if ((status = static_lookup(rq, &own, &f, 0)) != 0) {
		log_info("static_resume: conn %u: %s: no longer a file (%d)",
		    rq->rq_conn, rq->rq_path, status);
		return -1;
	}
	static_fileid(&own.wf_st, &id);
	if (memcmp(&id, &ho->ho_resume_id, sizeof(id)) != 0 ||
	    ho->ho_resume_off >= ho->ho_resume_end ||
	    ho->ho_resume_end > (uint64_t)own.wf_st.st_size) {
		log_info("static_resume: conn %u: %s changed since the "
		    "response began", rq->rq_conn, rq->rq_path);
		static_close(&own);
		return -1;
	}
	rq->rq_file = own.wf_fd;
	rq->rq_file_off = ho->ho_resume_off;
	rq->rq_file_end = ho->ho_resume_end;
	rq->rq_resp_len = ho->ho_resume_end - ho->ho_resume_off;
	/* Cut again, it can be resumed again. */
	rq->rq_fid = id;
	rq->rq_fid_ok = 1;
	rq->rq_body_at = 0;
	rq->rq_body_off = rq->rq_file_off;
	rq->rq_body_end = rq->rq_file_end;
	return 0;
}
