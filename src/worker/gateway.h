/*
 * hsd-worker: what the handlers that put an application between the
 * client and the response share (cgi.c: a CGI program or a FastCGI
 * application; module.c: a handler module).  One request, one struct
 * cgi_run: the request body streamed to the application through a window
 * of CGI_BODY_HIGH bytes, its answer parsed into a status and header
 * fields, held until it is whole or CGI_HOLD bytes of body came, then
 * relayed with the client's socket pacing it, and one set of rules for
 * an application that fails (cgi_progress()).  The transports differ
 * only in how bytes reach the application and come back.
 */
#ifndef HSD_GATEWAY_H
#define HSD_GATEWAY_H

#include <sys/types.h>
#include <sys/queue.h>
#include <sys/socket.h>

#include <limits.h>
#include <stddef.h>
#include <stdint.h>

struct event;
struct evbuffer;
struct fcgi_conn;
struct hsd_req;
struct wrk_req;

/* Body bytes held for the application before the socket is left alone. */
#define CGI_BODY_HIGH	(64 * 1024)
/* Response bytes queued for the client before the application waits. */
#define CGI_SEND_HIGH	(64 * 1024)
/* A response is held until the application ends, up to this much body. */
#define CGI_HOLD	(64 * 1024)

struct cgi_run {
	struct wrk_req	*cg_rq;
	pid_t		 cg_pid;	/* 0: not started, -1: reaped */
	int		 cg_wstatus;	/* wait status, once reaped */
	int		 cg_tries;
	int		 cg_in;		/* its stdin, -1: closed */
	int		 cg_out;	/* its stdout, -1: at EOF */
	int		 cg_err;	/* its stderr, -1: at EOF */
	struct event	*cg_in_ev;
	struct event	*cg_out_ev;
	struct event	*cg_err_ev;
	struct event	*cg_sock_ev;	/* client socket: body or writable */
	struct event	*cg_timer;	/* cgi_timeout */
	struct evbuffer	*cg_body;	/* request body for its stdin */
	struct evbuffer	*cg_resp;	/* its stdout not yet relayed */
	struct evbuffer	*cg_sendq;	/* for the client */
	struct evbuffer	*cg_errline;	/* a stderr line so far */
	int		 cg_timed_out;
	int		 cg_stdin_gone;	/* the child closed it: discard */
	int		 cg_sock_wait;	/* 0, EV_READ or EV_WRITE */
	int		 cg_head_done;	/* its header block is parsed */
	int		 cg_committed;	/* the HTTP head is queued */
	struct evbuffer	*cg_fields;	/* its header fields, as sent */
	int		 cg_status;
	char		 cg_reason[64];
	int		 cg_no_body;	/* HEAD, 204, 304: body not sent */
	int		 cg_chunked;
	int64_t		 cg_clen;	/* its Content-Length, -1: none */
	uint64_t	 cg_body_out;	/* body bytes relayed */
	int		 cg_ending;	/* the last bytes are queued */
	int		 cg_waiting;	/* on cgi_queue for a child slot */
	int		 cg_done;	/* answered without it: ignore it */
	/* FastCGI (handler "fastcgi"): a connection instead of a child. */
	int		 cg_fastcgi;
	struct fcgi_conn *cg_fc;	/* NULL: none (yet, or any more) */
	int		 cg_fc_ended;	/* FCGI_END_REQUEST, or the end */
	int		 cg_fc_lost;	/* ... the connection's, without it */
	int		 cg_fc_keep;	/* a supervised group: keep-alive */
	uint32_t	 cg_fc_cap;	/* connections to it, at most */
	struct sockaddr_storage cg_fc_sa;
	socklen_t	 cg_fc_salen;
	char		 cg_fc_addr[128];	/* for messages and matching */
	struct event	*cg_fc_retry;	/* refused: the next try */
	uint64_t	 cg_fc_retry_end; /* ... until then (clock_ms()) */
	/*
	 * A chunked request body for CGI or FastCGI: read whole before the
	 * application starts, so that CONTENT_LENGTH can be given (PHP reads
	 * no body without it), in cg_body up to CGI_BODY_HIGH bytes, else
	 * in an unlinked file in body_temp_dir.
	 */
	int		 cg_spooling;	/* still reading it */
	int		 cg_spool;	/* the file, -1: none */
	uint64_t	 cg_spool_len;	/* bytes in it */
	uint64_t	 cg_spool_off;	/* of them, moved to cg_body */
	/* The path run: the request's, or its front controller's. */
	const char	*cg_path;
	size_t		 cg_path_len;
	const char	*cg_pathinfo;	/* cgi_locate()'s, for cgi_env() */
	int		 cg_index;	/* ... found a directory's index.php */
	size_t		 cg_scriptlen;
	/* A handler module (handler "module"): calls instead of bytes. */
	int		 cg_module;
	struct hsd_req	*cg_mod;	/* module.c's side */
	TAILQ_ENTRY(cgi_run) cg_entry;
	LIST_ENTRY(cgi_run) cg_live;	/* on cgi_live while cg_pid > 0 */
	char		 cg_script[PATH_MAX];	/* as the child execs it */
	char		 cg_dir[PATH_MAX];	/* its working directory */
	char		*cg_env;		/* NUL-separated, then NULL-ended */
	char		**cg_envp;
};

/*
 * cgi_progress(): where the request stands, after output or the
 * application's end.  cgi_pump_body(): move the request body along.
 * cgi_answer(): an answer of the worker's own (an error status) before
 * any byte of the application's; cgi_cut(): a response that cannot be
 * finished, the connection is reset.  cgi_token(): is s a token (RFC
 * 9110 5.6.2)?
 */
void	cgi_progress(struct cgi_run *);
void	cgi_pump_body(struct cgi_run *);
void	cgi_answer(struct wrk_req *, int status);
void	cgi_cut(struct wrk_req *);
int	cgi_token(const char *, size_t);
const char *cgi_trim(const char **, const char *);
void	cgi_set_status(struct cgi_run *, int status, const char *reason,
	    size_t rlen);

/*
 * module.c: the module's side of cgi.c's steps.  module_new() in
 * cgi_new(), module_start() runs request(), module_feed() passes the
 * body held on, module_running() / module_ended() / module_failed()
 * say where it stands, module_pause() / module_resume() follow the
 * client, module_stop() ends it with abort() unless the module ended
 * it, module_free() in cgi_free().
 */
int	module_new(struct cgi_run *);
void	module_start(struct cgi_run *);
void	module_feed(struct cgi_run *);
int	module_running(const struct cgi_run *);
int	module_ended(const struct cgi_run *);
int	module_failed(const struct cgi_run *);
void	module_pause(struct cgi_run *);
void	module_resume(struct cgi_run *);
void	module_stop(struct cgi_run *);
void	module_free(struct cgi_run *);

#endif
