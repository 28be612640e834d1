/*
 * hsd-poolmgr's state: its children (the listener, every worker, the
 * FastCGI processes it runs) and each pool's bookkeeping for restarts.
 */
#ifndef HSD_POOLMGR_H
#define HSD_POOLMGR_H

#include <sys/queue.h>
#include <sys/types.h>
#include <stdint.h>
#include <stdio.h>

struct chan;
struct conf_listen;
struct conf_pool;
struct event;
struct event_base;
struct fcgi_group;
struct hsd_config;
struct msg_hdr;

/*
 * A configuration, numbered as msg.h says: the current one, and each
 * older one while a worker started with it runs (it runs with that one's
 * settings and sites: see reload.c).
 */
struct pm_conf {
	uint32_t		 pf_gen;
	struct hsd_config	*pf_conf;
	uint32_t		 pf_refs;	/* workers started with it */
	TAILQ_ENTRY(pm_conf)	 pf_entry;
};

/* pc_pool of a worker whose pool a reload removed: it is retiring. */
#define POOL_GONE	UINT32_MAX

enum pm_kind {
	PM_LISTENER,
	PM_WORKER,
	PM_LOGGER,
	PM_CACHED,
	PM_FASTCGI,	/* no channel; fastcgi.c */
};

struct pm_child {
	enum pm_kind		 pc_kind;
	pid_t			 pc_pid;
	uint32_t		 pc_id;		/* worker id */
	uint32_t		 pc_pool;	/* index in the current config */
	/* A worker's configuration, and its pool's settings there. */
	struct pm_conf		*pc_cfg;
	const struct conf_pool	*pc_cp;
	struct chan		*pc_chan;	/* NULL once the child closed it */
	int			 pc_stop_sent;
	int			 pc_ready;	/* a worker said MSG_WRK_READY */
	int			 pc_retiring;	/* replaced already; no longer counted */
	int			 pc_fail_counted; /* towards rapid-fail already */
	uint64_t		 pc_started_ms;	/* monotonic, for uptime */
	struct event		*pc_kill;	/* SIGKILL if not gone by then */
	struct fcgi_group	*pc_fcgi;	/* a FastCGI process's group */
	TAILQ_ENTRY(pm_child)	 pc_entry;

	/* Health and recycling (pool.c); workers only. */
	struct event		*pc_startup;	/* startup_timeout */
	struct event		*pc_tick;	/* every ping_interval once ready */
	struct event		*pc_pong;	/* ping_timeout of the ping out */
	struct event		*pc_uptime;	/* recycle_time */
	uint32_t		 pc_ping_seq;
	int			 pc_ping_out;	/* a ping is unanswered */
	uint64_t		 pc_requests;	/* as its last pong or recycle said */
	uint64_t		 pc_active_ms;	/* when a pong last showed work */
	char			 pc_recycle_why[96]; /* "": no recycle due */
	/* Overlapped recycling: the worker starting to take this one's
	 * place, and, on that one, the worker it is to replace once ready.
	 * A replacement is not counted in pp_running until it takes over. */
	struct pm_child		*pc_replacement;
	struct pm_child		*pc_replaces;
};

struct pm_pool {
	uint32_t		 pp_running;
	uint32_t		 pp_wanted;	/* workers it should have now */
	uint32_t		 pp_start_fails;	/* deaths before ready, in a row */
	uint64_t		 pp_fail_ms;		/* monotonic, the last of them */
	struct event		*pp_restart;
	struct event		*pp_recycle_at;		/* the next recycle_at time */
	uint32_t		 pp_state;	/* POOL_* (msg.h) */
	/* Rapid-fail protection: when the last pl_rapid_fail_max worker
	 * failures happened (monotonic ms), a ring; pp_fail_next is the
	 * oldest once pp_fail_count is full. */
	uint64_t		*pp_fails_at;
	uint32_t		 pp_fail_next;
	uint32_t		 pp_fail_count;
};

struct poolmgr_env {
	struct event_base	*pe_base;
	struct hsd_config	*pe_conf;	/* pe_cur's */
	struct pm_conf		*pe_cur;
	TAILQ_HEAD(, pm_conf)	 pe_confs;	/* every one alive, pe_cur too */
	int			 pe_conf_fd;	/* memfd with the config text */
	/* The text until it is in the memfd; held here so a refusal that
	 * exit()s before then leaves nothing for LeakSanitizer to report. */
	char			*pe_conf_text;
	int			*pe_listen_fds;
	struct pm_pool		*pe_pools;
	TAILQ_HEAD(, pm_child)	 pe_children;
	struct pm_child		*pe_listener;
	struct pm_child		*pe_logger;
	struct pm_child		*pe_cached;
	int			 pe_log_journal;	/* memfd, logjournal.h */
	uint32_t		 pe_next_worker;
	int			 pe_stopping;
	int			 pe_exit_status;
	struct event		*pe_kill_timer;
	char			*pe_pidfile;
	const char		*pe_conf_path;	/* the file it was started with */
	uint32_t		 pe_status_serial;	/* last MSG_PM_STATUS sent */
};

extern struct poolmgr_env	*penv;

/* poolmgr.c */
char	*poolmgr_binary(const char *);
int	 poolmgr_spawn(const char *, char *[], int, pid_t *);
void	 poolmgr_connect(struct pm_child *, uint16_t, struct pm_child *,
	    uint16_t);
struct pm_child *poolmgr_child_new(enum pm_kind, uint32_t, pid_t, int);
void	 poolmgr_child_free(struct pm_child *);
void	 poolmgr_describe_exit(int, char *, size_t);
void	 poolmgr_stop(int);
char	*poolmgr_read_file(const char *);
void	 poolmgr_addr_text(const struct conf_listen *, char *, size_t);
int	 poolmgr_bind_one(const struct conf_listen *);
int	 poolmgr_check_conf(const struct hsd_config *, const char *);

/* cache.c */
int	 cache_start(void);
void	 cache_connect(void);
int	 cache_send(uint16_t, uint32_t, const void *, size_t, int);
void	 cache_reload(uint32_t, int);
void	 cache_stop(void);
void	 cache_dispatch(struct chan *, const struct msg_hdr *, const void *,
	    int, void *);

/* logger.c */
void	 logger_init(void);
void	 logger_note_dirs(const struct hsd_config *);
int	 logger_check_dirs(const struct hsd_config *, const char *);
int	 logger_start(void);
void	 logger_connect(void);
void	 logger_dispatch(struct chan *, const struct msg_hdr *, const void *,
	    int, void *);
void	 logger_undo(void);
void	 logger_reopen(void);
void	 logger_reload(uint32_t, int);
void	 logger_stop(void);

/* fastcgi.c */
int	 fastcgi_open(void);
void	 fastcgi_start(void);
void	 fastcgi_close(void);
void	 fastcgi_stop(void);
void	 fastcgi_exited(struct pm_child *, int);
void	 fastcgi_pool_state(uint32_t);
uint32_t fastcgi_pool_recycle(uint32_t);
void	 fastcgi_reload(FILE *);
int	 fastcgi_check_conf(const struct hsd_config *, const char *);
const char *fastcgi_child_group(const struct pm_child *);
uint32_t fastcgi_child_pool(const struct pm_child *);

/* reload.c */
void	 reload_init(void);
int	 reload_run(char **report, char *err, size_t errlen);
void	 reload_conf_unref(struct pm_conf *);

/* supervise.c */
void	 supervise_init(void);
void	 supervise_start_all(void);
void	 supervise_exited(struct pm_child *, int);
void	 supervise_stop(void);

/* pool.c */
void	 pool_init(void);
void	 pool_init_one(uint32_t);
void	 pool_free_one(struct pm_pool *);
void	 pool_recycle(struct pm_child *, const char *, ...)
	    __attribute__((format(printf, 2, 3)));
void	 pool_stop_direct(struct pm_child *);
void	 pool_remove(uint32_t);
void	 pool_reindex(const struct hsd_config *, const int *);
void	 pool_listener_up(void);
void	 pool_demand(const struct msg_hdr *, const void *);
void	 pool_fill(uint32_t);
void	 pool_worker_exited(struct pm_child *, int);
void	 pool_worker_failed(const struct msg_hdr *, const void *);
void	 pool_dispatch_worker(struct chan *, const struct msg_hdr *,
	    const void *, int, void *);
void	 pool_stop_workers(void);
void	 pool_retire(struct pm_child *, const char *why);
void	 pool_child_free(struct pm_child *);
void	 pool_send_states(void);
int	 pool_find(const char *name);
int	 pool_stop(uint32_t, char *err, size_t errlen);
int	 pool_start(uint32_t, char *err, size_t errlen);
int	 pool_recycle_pool(uint32_t, char *err, size_t errlen);
uint32_t pool_recent_failures(uint32_t);
int	 pool_failure(uint32_t);
void	 pool_duration_text(uint64_t ms, char *buf, size_t len);

/* ctl.c: the control socket hsdctl talks to */
int	 ctl_open(void);
void	 ctl_start(void);
void	 ctl_close(void);
void	 ctl_listener_status(const struct msg_hdr *, const void *);
void	 ctl_listener_reloaded(uint32_t);
struct msg_cache_stats;
struct msg_cache_purged;
void	 ctl_cache_answer(uint32_t, const struct msg_cache_stats *,
	    const struct msg_cache_purged *);

#endif
