/*
 * hsd-worker: what worker.c (process, channels, request life cycle),
 * static.c (the static-file handler) and filecache.c (its open-file
 * cache) share.  A request lives in one of a fixed number of request
 * slots, one per unit of the pool's concurrency, each with its buffers
 * allocated once at start-up.
 */
#ifndef HSD_WORKER_H
#define HSD_WORKER_H

#include <sys/types.h>
#include <sys/stat.h>

#include <stddef.h>
#include <stdint.h>

#include <http_parser.h>

#include "msg.h"

struct cgi_run;
struct chan;
struct event;
struct event_base;
struct fc_entry;
struct hsd_config;

/* Headers the static handler looks at; pointers into the handed data. */
enum wrk_hdr {
	WH_IF_NONE_MATCH,
	WH_IF_MODIFIED_SINCE,
	WH_RANGE,
	WH_IF_RANGE,
	WH_EXPECT,
	WH_COUNT
};

struct wrk_hval {
	const char	*hv_ptr;
	size_t		 hv_len;
};

/* Headers and a 64 KiB body go out in one send(). */
#define WRK_SMALL_BODY		(64 * 1024)
#define WRK_OUT_SIZE		(WRK_SMALL_BODY + 16 * 1024)

#define WRK_DATE_LEN		29	/* HTTPDATE_LEN (httpdate.h) */
#define WRK_ETAG_MAX		40
/* A 200's header lines after Connection: type, length, validators. */
#define WRK_TAIL_MAX		256

/* A file to answer from: opened for one request, or a cache entry's. */
struct wrk_file {
	int		 wf_fd;		/* -1: the body is wf_body */
	const char	*wf_name;	/* below its root, as opened */
	struct stat	 wf_st;
	const char	*wf_body;	/* a cached small file's bytes */
	const char	*wf_type;
	char		 wf_etag[WRK_ETAG_MAX];
	size_t		 wf_etag_len;
	char		 wf_mtime[WRK_DATE_LEN + 1];
	char		 wf_tail[WRK_TAIL_MAX];
	size_t		 wf_tail_len;	/* 0: did not fit */
};

struct wrk_req {
	int		 rq_busy;
	uint16_t	 rq_slot;
	uint32_t	 rq_conn;
	int		 rq_sock;		/* client socket, -1 when idle */
	struct event	*rq_ev;			/* read body / wait for EV_WRITE */

	/* The request as handed over; rq_buf holds path, NUL, data. */
	uint32_t	 rq_site;
	int		 rq_app;
	char		*rq_path;
	size_t		 rq_path_len;
	char		*rq_data;		/* handed data, then socket reads */
	size_t		 rq_data_cap;
	size_t		 rq_consumed;		/* handed bytes of this request */
	const char	*rq_rest;		/* bytes past the request */
	size_t		 rq_rest_len;
	int		 rq_read_sock;		/* read from the socket itself */
	struct msg_handoff rq_ho;		/* as the listener sent it */
	size_t		 rq_head_len;		/* body reads go behind it */

	/* The body (see worker.c). */
	uint64_t	 rq_body_max;		/* max_body_size, 0: none */
	uint64_t	 rq_body_len;		/* body bytes parsed */
	uint64_t	 rq_body_got;		/* bytes received after the head */
	uint64_t	 rq_body_start;		/* monotonic ms, at the handoff */
	int		 rq_too_large;		/* passed rq_body_max */
	uint64_t	 rq_cl;			/* Content-Length, 0: none */
	uint64_t	 rq_discard;		/* left for the listener to drop */

	/* Parsed head. */
	http_parser	 rq_parser;
	int		 rq_head_done;
	int		 rq_msg_done;
	unsigned int	 rq_method;		/* enum http_method */
	unsigned short	 rq_major, rq_minor;
	int		 rq_keepalive;		/* the client asked for it */
	int		 rq_hcur;		/* header being parsed, -1: none */
	struct wrk_hval	 rq_hdr[WH_COUNT];
	const char	*rq_query;		/* "?..." of the target, or NULL */
	size_t		 rq_query_len;

	/* The response: rq_out[0..rq_out_len), then the file range. */
	uint16_t	 rq_status;
	int		 rq_close;		/* Connection: close was sent */
	int		 rq_continue;		/* 100 Continue goes first */
	size_t		 rq_pre;		/* interim bytes sent before it */
	char		*rq_out;
	size_t		 rq_out_len;
	size_t		 rq_out_off;
	int		 rq_file;		/* -1: no file part */
	struct fc_entry	*rq_fent;		/* rq_file is this entry's */
	off_t		 rq_file_off;
	off_t		 rq_file_end;
	uint64_t	 rq_resp_len;		/* all bytes the response takes */
	uint64_t	 rq_bytes;		/* written so far */
	int		 rq_nonblock;		/* O_NONBLOCK checked for sendfile */
	int		 rq_cache;		/* HO_CACHE: offer the response */
	struct cgi_run	*rq_cgi;		/* cgi, fastcgi, module: cgi.c's */

	/* A body that is a file's range says which file, so that another
	 * worker can finish it if this one dies (struct wrk_slot). */
	int		 rq_fid_ok;
	struct msg_fileid rq_fid;
	size_t		 rq_body_at;		/* bytes of rq_out before the body */
	uint32_t	 rq_resp_head;		/* the response head's bytes (logs) */
	off_t		 rq_body_off;		/* the body's range of the file */
	off_t		 rq_body_end;
};

/* worker.c */
extern struct hsd_config	*wrk_conf;
int		 worker_rootfd(const struct wrk_req *, const char *root);
struct chan	*worker_listener_chan(void);
struct event_base *worker_evbase(void);
size_t		 worker_read_limit(void);
uint32_t	 worker_pool_index(void);
ssize_t		 worker_parse(struct wrk_req *, const char *, size_t);
int		 worker_expects_continue(const struct wrk_req *);
int		 worker_send_continue(struct wrk_req *);
int		 worker_nonblock(struct wrk_req *);
void		 worker_slot_record(struct wrk_req *);
void		 worker_start_response(struct wrk_req *);
void		 worker_finish(struct wrk_req *, int keepalive);

/* cgi.c */
void		 cgi_init(struct event_base *, uint32_t max_children,
		    const char *body_temp_dir);
int		 cgi_new(struct wrk_req *, const char *path, size_t len,
		    int handler);
int		 cgi_body(struct wrk_req *, const char *, size_t);
void		 cgi_serve(struct wrk_req *);
void		 cgi_free(struct wrk_req *);

/*
 * module.c: handler modules.  module_load() before the worker drops its
 * privileges, module_init() once its loop exists, module_exit() before
 * it exits.
 */
void		 module_load(const struct hsd_config *, uint32_t pool);
void		 module_init(struct event_base *);
void		 module_exit(void);

/* offer.c */
void		 offer_response(struct wrk_req *, const char *name);
const char	*worker_root_path(const char *root);

/* static.c */
const char	*static_reason(int status);
const char	*static_date(void);
void		 static_serve(struct wrk_req *);
void		 static_error(struct wrk_req *, int status);
void		 static_reset(struct wrk_req *);
int		 static_resume(struct wrk_req *, const struct msg_handoff *);
void		 static_describe(struct wrk_file *, const char *name);

/* filecache.c */
void		 filecache_init(struct event_base *, uint32_t fds_kept);
int		 filecache_enabled(void);
struct fc_entry	*filecache_get(int rootfd, const char *key);
struct fc_entry	*filecache_add(int rootfd, const char *key,
		    const char *rootpath, const char *fname, struct wrk_file *);
void		 filecache_put(struct fc_entry *);
const struct wrk_file *filecache_file(const struct fc_entry *);

#endif
