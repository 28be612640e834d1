/*
 * Every message hsd's processes exchange.  A message is a struct msg_hdr
 * followed by mh_len bytes of payload, sent as one SOCK_SEQPACKET record
 * with at most one fd attached (see chan.h).  Types are grouped by who
 * receives them; MSG_VERSION changes whenever a type or a payload layout
 * does, and a receiver drops any message of another version.
 *
 * Payload structs are fixed-size and carry their variable part (paths,
 * request bytes) after the struct; receivers check both sizes.
 */
#ifndef HSD_MSG_H
#define HSD_MSG_H

#include <stdint.h>

#define MSG_VERSION		9
/* The largest payload: a handoff carries up to max_request_bytes of head
 * plus whatever body bytes arrived with it. */
#define MSG_PAYLOAD_MAX		(128 * 1024)

struct msg_hdr {
	uint16_t	mh_version;
	uint16_t	mh_type;
	uint32_t	mh_len;		/* payload bytes after the header */
	uint32_t	mh_id;		/* sender-defined: pool, worker or conn id */
	uint32_t	mh_flags;	/* MH_*: set by the receiving channel */
};

/* The record carried an fd the receiver could not take (it is out of fds:
 * MSG_CTRUNC); the message arrives with fd -1 so its receiver can say so. */
#define MH_FD_LOST		0x01

enum msg_type {
	MSG_NONE = 0,

	/* pool manager -> listener */
	MSG_PM_LISTEN_SOCK = 100,	/* fd: bound listening socket; struct msg_listen */
	MSG_PM_WORKER_UP,		/* fd: listener end of a worker channel; struct msg_worker */
	MSG_PM_SHUTDOWN,		/* stop accepting, finish in-flight requests, exit */
	MSG_PM_WORKER_RETIRE = 110,	/* mh_id: worker id; no more requests to it */
	MSG_PM_POOL_STATE = 120,	/* mh_id: pool index; struct msg_pool_state */
	MSG_PM_STATUS,			/* mh_id: serial; answer with MSG_LSN_STATUS */
	MSG_PM_RELOAD = 130,		/* mh_id: generation; fd: memfd, the new config text (also to hsd-logd) */
	MSG_PM_LOGGER = 140,		/* fd: channel to hsd-logd, a new one each time either starts */
	MSG_PM_CACHED = 145,		/* fd: channel to hsd-cached, a new one each time either starts */

	/* pool manager -> hsd-logd */
	MSG_PM_LOG_LISTENER = 150,	/* fd: channel to the listener */
	MSG_PM_LOG_FILE,		/* mh_id: the MSG_LOG_OPEN's; struct msg_log_file; fd unless it failed */
	MSG_PM_LOG_REOPEN,		/* open every file again (external rotation) */

	/* pool manager -> hsd-cached (also MSG_PM_RELOAD, MSG_PM_SHUTDOWN) */
	MSG_PM_CACHE_LISTENER = 160,	/* fd: channel to the listener */
	MSG_PM_CACHE_STATS,		/* mh_id: serial; answer MSG_CACHE_STATS */
	MSG_PM_CACHE_PURGE,		/* mh_id: serial; the purge text (below); answer MSG_CACHE_PURGED */

	/* listener -> pool manager */
	MSG_LSN_DRAINED = 200,		/* graceful stop: nothing left in flight */
	MSG_LSN_WORKER_FAILED,		/* mh_id: worker id; struct msg_wfailed */
	MSG_LSN_STATUS = 230,		/* mh_id: the request's serial; struct msg_status */
	MSG_LSN_RELOADED = 235,		/* mh_id: the configuration now applied (MSG_PM_RELOAD) */
	MSG_LSN_DEMAND = 240,		/* mh_id: pool; struct msg_demand: a request parked and it has no worker */

	/* listener -> worker */
	MSG_REQ_SLOTS = 300,		/* fd: memfd holding the worker's struct wrk_slot table */
	MSG_REQ_HANDOFF,		/* fd: client socket; struct msg_handoff + path + data */
	MSG_REQ_RETIRE = 310,		/* no handoff follows: finish what you have, exit */

	/* worker -> listener */
	MSG_REQ_DONE = 400,		/* struct msg_done + bytes read past the request */
	MSG_REQ_READY,			/* initialised: requests may be handed to it */
	MSG_REQ_REFUSED,		/* struct msg_refused: a handoff it could not take */
	MSG_REQ_OFFER = 410,		/* fd: memfd; struct msg_offer + name: a response to cache */

	/* pool manager -> worker */
	MSG_WRK_SHUTDOWN = 500,		/* finish in-flight requests and exit */
	MSG_WRK_PING = 510,		/* struct msg_ping: answer with MSG_WRK_PONG */
	MSG_WRK_LISTENER = 520,		/* fd: channel to a new listener; the old one is gone */

	/* worker -> pool manager */
	MSG_WRK_READY = 550,		/* initialised: a death from now on is a crash, not a failed start */
	MSG_WRK_PONG = 560,		/* struct msg_pong: the loop is alive */
	MSG_WRK_RECYCLE,		/* struct msg_recycle: recycle_requests reached */

	/* listener <-> hsd-logd */
	MSG_LOG_BATCH = 600,		/* struct msg_log_batch + records (logrec.h) */
	MSG_LOG_ACK = 610,		/* struct msg_log_ack: every batch up to la_seq is written */

	/* hsd-logd -> pool manager */
	MSG_LOG_OPEN = 620,		/* mh_id: request id; struct msg_log_open + dir + name */

	/* listener -> hsd-cached */
	MSG_CACHE_OFFER = 700,		/* fd: the worker's memfd; struct msg_cache_offer + host + path + name */
	MSG_CACHE_REPORT = 710,		/* struct msg_cache_report + cr_n struct msg_cache_hit */
	MSG_CACHE_SYNCED = 720,		/* mh_id: the MSG_CACHE_SYNC's: everything before it is applied */

	/* hsd-cached -> listener */
	MSG_CACHE_ENTRY = 750,		/* fd: sealed memfd; struct msg_cache_entry + host + path */
	MSG_CACHE_DROP,			/* mh_id: entry id: serve it no more */
	MSG_CACHE_SYNC,			/* mh_id: serial; answer MSG_CACHE_SYNCED */

	/* hsd-cached -> pool manager */
	MSG_CACHE_STATS = 780,		/* mh_id: the request's serial; struct msg_cache_stats */
	MSG_CACHE_PURGED,		/* mh_id: the request's serial; struct msg_cache_purged */

	MSG_CTL_BASE = 800,		/* reserved: hsdctl <-> pool manager */
};

/*
 * Retiring a worker (overlapped recycling, and anything else that stops
 * one worker while its pool goes on): the pool manager tells the listener
 * MSG_PM_WORKER_RETIRE; the listener hands the worker nothing more and
 * sends it MSG_REQ_RETIRE on the worker's own channel, after every
 * handoff it ever sent there, so the worker knows no request is still on
 * its way when it sees it.  The worker finishes what it holds and exits;
 * the pool manager kills it after the pool's shutdown_timeout.
 */

/* MSG_WRK_PING / MSG_WRK_PONG: pp_seq is echoed; a pong also carries the
 * requests the worker has finished, for the pool manager to show. */
struct msg_ping {
	uint32_t	pp_seq;
};

struct msg_pong {
	uint32_t	po_seq;
	uint32_t	po_busy;	/* requests in flight now */
	uint64_t	po_requests;	/* finished since it started */
};

/* MSG_WRK_RECYCLE: sent once, by the worker whose DONE count reached its
 * pool's recycle_requests; the count is exact with no per-request
 * message to the pool manager. */
struct msg_recycle {
	uint64_t	rc_requests;
};

/* MSG_PM_LISTEN_SOCK */
struct msg_listen {
	uint32_t	ml_index;	/* index of the listening address in the config */
};

/* MSG_PM_WORKER_UP: mh_id is the worker id, unique for the server's life */
struct msg_worker {
	uint32_t	mw_pool;	/* pool index in the config */
	uint32_t	mw_concurrency;	/* requests it may hold at once */
	int32_t		mw_pid;
	uint32_t	mw_gen;		/* the configuration it was started with */
};

/*
 * Configurations are numbered: 1 is the one the server started with,
 * and each reload that applies makes the next.  The pool manager sends
 * MSG_PM_RELOAD before anything that refers to the new one (its pools'
 * indices, workers started with it); a listener started later is given
 * the current one's number as "-g N".  Pool indices in messages are the
 * current configuration's; a message the listener sent about an older
 * one (MSG_LSN_DEMAND, MSG_LSN_STATUS) says which.
 */
struct msg_demand {
	uint32_t	dm_gen;
};

/*
 * Logging (see logjournal.h).  A batch: lb_count records, in the order
 * the listener finished them, from listener lb_epoch; its seq counts up
 * from 1.  hsd-logd asks the pool manager for each file it writes, by
 * a directory of the configuration and a plain name (no '/'); the pool
 * manager opens it for appending, or says why it cannot.
 */
struct msg_log_batch {
	uint64_t	lb_epoch;
	uint64_t	lb_seq;
	uint32_t	lb_count;
	uint32_t	lb_flags;	/* LB_FLUSH: write it now (a stop) */
};

#define LB_FLUSH	0x1

struct msg_log_ack {
	uint64_t	la_epoch;
	uint64_t	la_seq;
};

struct msg_log_open {
	uint16_t	lo_dirlen;
	uint16_t	lo_namelen;
	uint32_t	lo_pad;
};

struct msg_log_file {
	int32_t		lf_errno;	/* 0: the fd comes with it */
	uint32_t	lf_pad;
	uint64_t	lf_size;	/* its size when opened */
};

/* What identifies a file's content, as far as fstat() can tell: a file
 * rewritten in place changes its ctime even when its mtime is put back. */
struct msg_fileid {
	uint64_t	fi_dev;
	uint64_t	fi_ino;
	uint64_t	fi_size;
	int64_t		fi_mtime_ns;
	int64_t		fi_ctime_ns;
};

/*
 * The response cache (hsd-cached, HTTP.sys's kernel-mode cache).
 *
 * The listener hands a worker a request it could answer from the cache
 * one day with HO_CACHE: GET, no body, no query string (unless
 * allow_query), no Authorization, no Cookie (unless allow_cookies), no
 * Range or If-Range, to a site and application whose cache is on.  The
 * worker then offers a 200 response it may cache (its own rules: no
 * Set-Cookie, ...), before its DONE, as MSG_REQ_OFFER: a memfd holding
 * the response head -- status line and header lines, each ending in
 * CRLF, without Date, Connection, Keep-Alive or the empty line -- then
 * the whole body; the worker keeps no mapping and closes its fd once
 * sent.  For a static file it names the file (below the root the
 * request maps to) and its identity.  A response over max_entry_size is
 * offered without a memfd, only to be counted as refused (CR_SIZE).
 *
 * The listener passes the offer on to hsd-cached with what it knows of
 * the request itself (MSG_CACHE_OFFER): the worker cannot offer for a
 * request it was not handed.  hsd-cached decides (admission, the
 * activity period), seals the memfd (F_SEAL_SEAL, WRITE, SHRINK, GROW;
 * refused if that fails: someone still maps it writable), watches the
 * file, and publishes the entry (MSG_CACHE_ENTRY), which the listener
 * maps read-only and serves until MSG_CACHE_DROP, its expiry, or a new
 * hsd-cached channel (the index starts empty).  The listener checks the
 * seals and every offset itself.  Hits and misses go back in
 * MSG_CACHE_REPORT, about once a second, for LRU, the scavenger and
 * hsdctl cache.
 */
#define HO_CACHE		0x02	/* may offer its response (see above) */

struct msg_offer {
	uint32_t	of_conn;
	uint16_t	of_slot;
	uint16_t	of_name_len;	/* the file's name follows, no NUL */
	uint32_t	of_head_len;	/* memfd bytes [0, head_len): the head */
	uint32_t	of_fid_ok;	/* 1: a static file, of_fid is it */
	uint64_t	of_body_len;	/* then this many bytes of body */
	struct msg_fileid of_fid;
};

/* Why a response was not cached: the listener counts the request's
 * reasons (MSG_CACHE_REPORT), hsd-cached the response's. */
enum cache_reason {
	CR_METHOD,		/* not GET or HEAD, or a body */
	CR_QUERY,		/* a query string */
	CR_AUTH,		/* Authorization */
	CR_COOKIE,		/* Cookie */
	CR_RANGE,		/* Range or If-Range */
	CR_OFF,			/* the site's or application's cache is off */
	CR_STATUS,		/* not 200 */
	CR_SIZE,		/* body over max_entry_size */
	CR_HEAD_SIZE,		/* head over max_header_size */
	CR_NO_STORE,		/* Cache-Control no-store, private, no-cache; Pragma */
	CR_SET_COOKIE,		/* Set-Cookie */
	CR_VARY,		/* Vary other than Accept-Encoding */
	CR_EXPIRED,		/* a TTL of 0, Expires in the past */
	CR_ACTIVITY,		/* first asked: not twice within activity_period */
	CR_MEMORY,		/* larger than max_memory */
	CR_CHANGED,		/* the file changed, or cannot be watched */
	CR_INVALID,		/* a memfd that is not one, the wrong size, writable, a bad head */
	CR_NREASONS
};

/* MSG_CACHE_OFFER: co_host_len bytes of Host (lowercase, as sent, port
 * too), co_path_len of the normalised path, co_name_len of file name. */
struct msg_cache_offer {
	uint32_t	co_gen;		/* the listener's configuration */
	uint32_t	co_site;	/* site index there */
	int32_t		co_app;		/* application index, -1: none */
	uint32_t	co_head_len;
	uint64_t	co_body_len;
	uint16_t	co_host_len;
	uint16_t	co_path_len;
	uint16_t	co_name_len;
	uint16_t	co_pad;
	uint32_t	co_fid_ok;
	uint32_t	co_pad2;
	struct msg_fileid co_fid;
};

/*
 * MSG_CACHE_ENTRY: mh_id is ce_id, unique for hsd-cached's life;
 * followed by ce_host_len bytes of Host and ce_path_len of path, the
 * offer's key.  The memfd holds ce_head_len bytes of head (as offered),
 * then ce_body_len of body.  Offsets of the validators are into it; 0
 * lengths: none.  Times are CLOCK_MONOTONIC milliseconds.
 */
struct msg_cache_entry {
	uint32_t	ce_id;
	uint32_t	ce_gen;
	uint32_t	ce_site;
	uint16_t	ce_host_len;
	uint16_t	ce_path_len;
	uint32_t	ce_head_len;
	uint32_t	ce_etag_off;	/* the ETag value */
	uint32_t	ce_etag_len;
	uint32_t	ce_lm_off;	/* the Last-Modified value */
	uint32_t	ce_lm_len;
	uint32_t	ce_pad;
	int64_t		ce_lm_time;	/* it, in seconds since the epoch; -1 */
	uint64_t	ce_body_len;
	uint64_t	ce_created_ms;	/* for Age */
	uint64_t	ce_expires_ms;	/* not served from then on */
};

/* MSG_CACHE_REPORT: since the last report. */
struct msg_cache_report {
	uint64_t	cr_hits;
	uint64_t	cr_misses;	/* eligible, not in the index */
	uint64_t	cr_refused[CR_NREASONS];	/* the request's reasons */
	uint32_t	cr_n;		/* entries hit, struct msg_cache_hit each */
	uint32_t	cr_pad;
};

struct msg_cache_hit {
	uint32_t	ch_id;
	uint32_t	ch_hits;
};

/* MSG_CACHE_STATS, for hsdctl cache. */
struct msg_cache_stats {
	uint64_t	cs_entries;
	uint64_t	cs_memory;	/* bytes of every entry's memfd */
	uint64_t	cs_max_memory;
	uint64_t	cs_hits;
	uint64_t	cs_misses;
	uint64_t	cs_admitted;
	uint64_t	cs_dropped;	/* expired, scavenged, evicted, changed, purged */
	uint64_t	cs_refused[CR_NREASONS];
};

/* MSG_PM_CACHE_PURGE's text: "all", a site's name, "/path" (every site
 * and host), or "http://host[:port]/path". */
struct msg_cache_purged {
	uint64_t	cp_entries;	/* dropped, and the listener serves them no more */
};

/* MSG_REQ_HANDOFF: followed by ho_path_len bytes of path (no NUL), then
 * ho_data_len bytes read from the client (head first, ho_head_len long). */
struct msg_handoff {
	uint32_t	ho_conn;	/* listener's connection id, echoed in DONE */
	uint16_t	ho_slot;	/* slot in the worker's table for this request */
	uint16_t	ho_path_len;	/* decoded, normalised path: "/a/b.html" */
	uint32_t	ho_site;	/* site index */
	int32_t		ho_app;		/* application index in the site, -1: none */
	uint32_t	ho_head_len;	/* request line + headers + CRLF */
	uint32_t	ho_data_len;	/* all bytes handed over, >= ho_head_len */
	uint32_t	ho_flags;	/* HO_* */
	uint16_t	ho_resume_status; /* HO_RESUME: the cut response's */
	uint16_t	ho_pad;
	/* HO_RESUME: the file must still be this one, and only the range
	 * [ho_resume_off, ho_resume_end) of it is sent (see below). */
	struct msg_fileid ho_resume_id;
	uint64_t	ho_resume_off;
	uint64_t	ho_resume_end;
};

/*
 * HO_RESUME: a worker died part-way through the static body of this
 * request's response, after its whole head reached the socket.  The
 * worker parses the request as usual but writes no head: it opens the
 * same path by the same rules and, if fstat() of the fd it opened still
 * gives ho_resume_id, hands the range back (DONE_HANDBACK, nothing
 * inline) so the listener sends the rest of the same representation.
 * Otherwise it answers DONE_INCOMPLETE and the listener resets the
 * connection: never bytes of another file after the first part.
 */
#define HO_RESUME		0x01

#define DONE_KEEPALIVE		0x01	/* connection may carry another request */
#define DONE_INCOMPLETE		0x02	/* gave up part-way through the response */
#define DONE_HANDBACK		0x04	/* the listener sends the rest: see below */

/*
 * MSG_REQ_DONE: mh_id is the conn id; followed by dn_rest_len bytes the
 * worker read that belong to the next request (pipelining), then
 * dn_out_len bytes of response still to send.
 *
 * With DONE_HANDBACK the client's socket would block and the worker hands
 * what is left of the response to the listener, as IIS hands a response to
 * HTTP.sys, and takes its next request: the listener sends the dn_out_len
 * bytes, then dn_file_len bytes from offset dn_file_off of the fd that
 * comes with the message (a regular file; none when dn_file_len is 0),
 * and only then acts on the rest of DONE.  This is the response's body
 * source; a sealed memfd or a pipe can take the file's place later.
 */
struct msg_done {
	uint32_t	dn_conn;
	uint16_t	dn_slot;
	uint16_t	dn_status;
	uint64_t	dn_bytes;	/* response bytes written to the socket */
	uint32_t	dn_flags;	/* DONE_* */
	uint32_t	dn_rest_len;
	uint32_t	dn_out_len;	/* DONE_HANDBACK: bytes to send first */
	uint32_t	dn_head_len;	/* the response head's bytes (logs) */
	uint64_t	dn_file_off;	/* DONE_HANDBACK: then this file range */
	uint64_t	dn_file_len;
	uint64_t	dn_discard;	/* DONE_KEEPALIVE: see below */
};

/*
 * dn_discard: bytes of a Content-Length body still to come on the socket
 * that nobody wants (the answer was decided on the head).  The listener
 * throws them away as they arrive, under the entity-body rules, before it
 * reads the next request, so no worker slot waits on a slow body.
 */

/* MSG_REQ_REFUSED: mh_id is the conn id.  The worker never had the socket
 * (or never used it): nothing was read or written, so the listener can hand
 * the request to another worker whatever its method. */
struct msg_refused {
	uint32_t	rf_conn;
	uint16_t	rf_slot;
	uint16_t	rf_pad;
};

/*
 * MSG_PM_POOL_STATE: whether the listener dispatches the pool's requests.
 * Offline (rapid-fail protection) and stopped (an operator's "hsdctl stop")
 * pools get every request, parked ones too, answered 503 at once.  The
 * pool manager sends every pool's state to a listener it starts, so a new
 * listener needs nothing else to know them.
 */
#define POOL_RUNNING	0
#define POOL_OFFLINE	1	/* rapid-fail protection: IIS's AppOffline */
#define POOL_STOPPED	2	/* by an operator: IIS's Disabled */

struct msg_pool_state {
	uint32_t	ps_state;	/* POOL_* */
};

/*
 * MSG_LSN_STATUS: what only the listener knows, for "hsdctl status":
 * st_npools queue lengths (uint32_t, in pool order), then st_nworkers
 * struct msg_status_worker.  A listener with more workers than fit in one
 * message sends the first ones and sets st_truncated.
 */
struct msg_status {
	uint32_t	st_npools;
	uint32_t	st_nworkers;
	uint32_t	st_truncated;
	uint32_t	st_gen;		/* pool indices are this configuration's */
	uint64_t	st_log_buffered; /* records not yet written by hsd-logd */
	uint64_t	st_log_dropped;	/* records lost to a full buffer, ever */
};

struct msg_status_worker {
	uint32_t	sw_id;		/* worker id */
	uint32_t	sw_pad;
	uint64_t	sw_requests;	/* requests handed to it */
};

/* MSG_LSN_WORKER_FAILED: what the listener saw. */
#define WFAIL_HUNG	1	/* a request made no progress: kill it now */
#define WFAIL_BROKEN	2	/* refused a handoff or its channel failed:
				   replace it, let it finish what it has */

struct msg_wfailed {
	uint32_t	wf_reason;	/* WFAIL_* */
};

/*
 * The worker's slot table, shared (memfd) between the worker, which writes
 * it, and the listener, which reads it only after the worker died.  Just
 * before the worker starts writing a response it records what DONE would
 * say; if it dies between the last response byte and DONE, the listener
 * sees that exactly ws_resp_len bytes reached the socket and carries on as
 * if DONE had arrived, instead of cutting a complete response off.
 * The listener trusts none of it beyond that one comparison.
 *
 * A response whose body is a static file's range also says which file
 * (ws_fid_ok): if the worker dies after at least ws_body_at bytes (the
 * head) reached the socket but before the last, the listener asks another
 * worker to resume from the byte the socket accepted (HO_RESUME), which
 * sends nothing unless the file is still the same.
 */
#define WS_IDLE		0
#define WS_RESPONDING	1	/* fields below are valid for ws_conn */

struct wrk_slot {
	uint32_t	ws_state;	/* WS_*, written last (release) */
	uint32_t	ws_conn;
	uint64_t	ws_resp_len;	/* bytes the whole response takes */
	uint32_t	ws_consumed;	/* handed-over bytes that belonged to the request */
	uint16_t	ws_status;
	uint16_t	ws_flags;	/* DONE_KEEPALIVE */
	uint64_t	ws_discard;	/* what DONE's dn_discard would say */
	uint32_t	ws_fid_ok;	/* 1: the body is the file range below */
	uint32_t	ws_pad;
	uint64_t	ws_body_at;	/* response bytes before the body */
	uint64_t	ws_file_off;	/* the body: this range of the file */
	uint64_t	ws_file_end;
	struct msg_fileid ws_fid;
};

#endif
