/*
 * hsd-logd: all of hsd's text logging, as HTTP.sys does it for IIS.  The
 * listener sends a record for every request it finished or answered
 * itself (logrec.h), in numbered batches; hsd-logd formats each into its
 * site's access log (W3C extended, NCSA or combined) or the HTTPERR log
 * (format.c), and writes them in rounds: when enough is waiting, every
 * flush_interval, before a reopen and before it exits.  After a round it
 * acknowledges the batches that are now wholly in files, and the
 * listener forgets them; the journal (logjournal.h) makes a round killed
 * half-way undone, so nothing is lost or written twice.
 *
 * It opens nothing: the pool manager opens each file it asks for
 * (MSG_LOG_OPEN) and passes the fd.  Files roll over by time (the
 * record's) or size, with IIS's names.
 *
 * Peers:
 *	poolmgr		fd 3: the listener's channel, files, reopen, reload,
 *			shutdown; we ask for files
 *	listener	batches in, acknowledgements out
 *
 * HSD_LOG_PERIOD_SECONDS (tests only): a rollover period lasts that many
 * seconds of real time, so a test sees days and hours go by.
 */
#include "config.h"

#include <sys/mman.h>
#include <sys/queue.h>
#include <sys/stat.h>
#include <sys/types.h>

#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/event.h>

#include "chan.h"
#include "clock.h"
#include "conf.h"
#include "format.h"
#include "log.h"
#include "logjournal.h"
#include "logrec.h"
#include "msg.h"
#include "proc.h"

#define LOGD_FD_JOURNAL		PROC_FD_PEER
/* Write as soon as this much waits, flush_interval or not. */
#define LOGD_ROUND_BYTES	(64 * 1024)
#define LOGD_RETRY_MS		1000
/* At exit, files still being opened get this long. */
#define LOGD_EXIT_WAIT_MS	3000

/* One file being written: where the lines of one log go now. */
struct logd_file {
	TAILQ_ENTRY(logd_file)	 lf_entry;
	char			*lf_dir;
	char			 lf_name[64];
	int			 lf_fd;		/* -1: not open (yet) */
	uint32_t		 lf_req;	/* MSG_LOG_OPEN waiting, 0: none */
	uint64_t		 lf_retry_ms;	/* open again after this */
	uint64_t		 lf_size;	/* bytes in the file */
	struct evbuffer		*lf_out;	/* lines not yet written */
	uint32_t		 lf_fields;	/* #Fields written here, or ~0 */
	int			 lf_current;	/* its log still writes here */
};

TAILQ_HEAD(logd_files, logd_file);

/* A log: a site's, HTTPERR, or for records of sites no longer known. */
struct logd_log {
	TAILQ_ENTRY(logd_log)	 lg_entry;
	char			*lg_site;	/* NULL: HTTPERR */
	struct logd_file	*lg_file;	/* where lines go now */
	time_t			 lg_period_end;	/* time rollover */
	unsigned int		 lg_seq;	/* size rollover: N of the name */
};

static struct {
	struct event_base	*base;
	struct hsd_config	*conf;
	struct chan		*parent;
	struct chan		*listener;
	struct logjournal	*journal;
	struct logd_files	 files;
	TAILQ_HEAD(, logd_log)	 logs;
	struct event		*tick;
	uint64_t		 epoch;		/* of the batches received */
	uint64_t		 recv_seq;	/* highest batch formatted */
	uint64_t		 acked_seq;
	size_t			 pending;	/* bytes in every lf_out */
	uint32_t		 next_req;
	int			 stopping;
	uint64_t		 stop_ms;
	char			 computer[256];
	/* HSD_LOG_PERIOD_SECONDS: file time runs fast from start. */
	uint64_t		 period_s;
	time_t			 start;
} ld;

static void	logd_round(void);
static void	logd_check_exit(void);

/* The time files are named and rolled by: real, or sped up for tests. */
static time_t
logd_file_time(time_t t, enum conf_rollover r)
{
	uint64_t	len;

	if (ld.period_s == 0 || t < ld.start)
		return t;
	len = r == CONF_ROLL_HOURLY ? 3600 : r == CONF_ROLL_DAILY ? 86400 :
	    r == CONF_ROLL_WEEKLY ? 7 * 86400 : 31 * 86400;
	return ld.start + (time_t)((uint64_t)(t - ld.start) * len /
	    ld.period_s);
}

static struct logd_file *
logd_file_new(const char *dir, const char *name)
{
	struct logd_file	*f;

	if ((f = calloc(1, sizeof(*f))) == NULL ||
	    (f->lf_dir = strdup(dir)) == NULL ||
	    (f->lf_out = evbuffer_new()) == NULL)
		fatal("logd_file_new");
	snprintf(f->lf_name, sizeof(f->lf_name), "%s", name);
	f->lf_fd = -1;
	f->lf_fields = UINT32_MAX;
	f->lf_current = 1;
	TAILQ_INSERT_TAIL(&ld.files, f, lf_entry);
	return f;
}

static void
logd_file_free(struct logd_file *f)
{
	TAILQ_REMOVE(&ld.files, f, lf_entry);
	if (f->lf_fd != -1)
		close(f->lf_fd);
	evbuffer_free(f->lf_out);
	free(f->lf_dir);
	free(f);
}

/* Ask the pool manager for f's fd. */
static void
logd_file_open(struct logd_file *f)
{
	struct msg_log_open	lo;
	struct iovec		iov[3];

	if (f->lf_req != 0)
		return;
	if ((f->lf_req = ++ld.next_req) == 0)
		f->lf_req = ++ld.next_req;
	memset(&lo, 0, sizeof(lo));
	lo.lo_dirlen = strlen(f->lf_dir);
	lo.lo_namelen = strlen(f->lf_name);
	iov[0].iov_base = &lo;
	iov[0].iov_len = sizeof(lo);
	iov[1].iov_base = f->lf_dir;
	iov[1].iov_len = lo.lo_dirlen;
	iov[2].iov_base = f->lf_name;
	iov[2].iov_len = lo.lo_namelen;
	if (chan_sendv(ld.parent, MSG_LOG_OPEN, f->lf_req, iov, 3, -1) == -1) {
		log_warn("logd_file_open: asking for %s/%s", f->lf_dir,
		    f->lf_name);
		f->lf_req = 0;
		f->lf_retry_ms = clock_ms() + LOGD_RETRY_MS;
	}
}

/* The log the lines of a site go to (site NULL: HTTPERR). */
static struct logd_log *
logd_log_find(const char *site, size_t len)
{
	struct logd_log	*lg;

	TAILQ_FOREACH(lg, &ld.logs, lg_entry) {
		if (site == NULL ? lg->lg_site == NULL : (lg->lg_site != NULL &&
		    strlen(lg->lg_site) == len &&
		    memcmp(lg->lg_site, site, len) == 0))
			return lg;
	}
	if ((lg = calloc(1, sizeof(*lg))) == NULL)
		fatal("logd_log_find: calloc");
	if (site != NULL && (lg->lg_site = strndup(site, len)) == NULL)
		fatal("logd_log_find: strndup");
	lg->lg_seq = 1;
	TAILQ_INSERT_TAIL(&ld.logs, lg, lg_entry);
	return lg;
}

/* Lines of lg go to file name in dir from now on. */
static void
logd_log_switch(struct logd_log *lg, const char *dir, const char *name)
{
	if (lg->lg_file != NULL) {
		if (strcmp(lg->lg_file->lf_dir, dir) == 0 &&
		    strcmp(lg->lg_file->lf_name, name) == 0)
			return;
		/* Freed once its lines are written. */
		lg->lg_file->lf_current = 0;
	}
	lg->lg_file = logd_file_new(dir, name);
	logd_file_open(lg->lg_file);
}

/*
 * The file a record of time t goes to in lg, under settings lc (NULL:
 * HTTPERR), rolled over by time or size; NULL if its name cannot be
 * made.
 */
static struct logd_file *
logd_file_for(struct logd_log *lg, const struct conf_log *lc, time_t t)
{
	enum conf_rollover	 r = lc ? lc->lg_rollover : CONF_ROLL_SIZE;
	uint64_t		 max = lc ? lc->lg_max_size :
				    ld.conf->cf_httperr_max_size;
	const char		*dir = lc ? lc->lg_dir : ld.conf->cf_httperr_dir;
	struct logd_file	*f = lg->lg_file;
	time_t			 ft = logd_file_time(t, r);
	char			 name[64];
	int			 rv;

	if (r == CONF_ROLL_SIZE) {
		/* Lines waiting for the file count as in it: a burst that
		 * comes while it is being opened rolls over too. */
		if (f != NULL &&
		    f->lf_size + evbuffer_get_length(f->lf_out) >= max)
			lg->lg_seq++;
	} else if (f == NULL || ft >= lg->lg_period_end)
		lg->lg_period_end = logfmt_period_end(r, lc->lg_local_time,
		    ft);
	if (lc == NULL)
		rv = logfmt_httperr_name(name, sizeof(name), lg->lg_seq);
	else
		rv = logfmt_file_name(name, sizeof(name), lc->lg_format, r,
		    lc->lg_local_time, ft, lg->lg_seq);
	if (rv == -1)
		return NULL;
	logd_log_switch(lg, dir, name);
	return lg->lg_file;
}

/* One record into the lines of its file. */
static void
logd_record(const struct logrec_view *v)
{
	const struct conf_log	*lc = NULL;
	struct logd_log		*lg;
	struct logd_file	*f;
	time_t			 t = v->lv_rec.lr_time_us / 1000000;
	size_t			 before;
	int			 site;
	char			 text[256], when[64];
	char			 name[LOGREC_STR_MAX + 1];
	struct tm		 tm;
	time_t			 since;

	if (v->lv_rec.lr_kind == LR_ACCESS) {
		memcpy(name, v->lv_str[LRS_SITE], v->lv_slen[LRS_SITE]);
		name[v->lv_slen[LRS_SITE]] = '\0';
		site = conf_find_site(ld.conf, name);
		/* A site a reload took away: the server-wide log. */
		lc = site >= 0 ? &ld.conf->cf_sites[site].st_log :
		    &ld.conf->cf_log;
		if (lc->lg_format == CONF_LOG_OFF)
			return;
		lg = logd_log_find(v->lv_str[LRS_SITE], v->lv_slen[LRS_SITE]);
	} else
		lg = logd_log_find(NULL, 0);
	if ((f = logd_file_for(lg, lc, t)) == NULL) {
		log_warnx("logd_record: no file name for a record");
		return;
	}
	before = evbuffer_get_length(f->lf_out);
	switch (v->lv_rec.lr_kind) {
	case LR_ACCESS:
		if (lc->lg_format == CONF_LOG_W3C) {
			if (f->lf_fields != lc->lg_fields) {
				logfmt_w3c_header(f->lf_out, lc->lg_fields,
				    time(NULL));
				f->lf_fields = lc->lg_fields;
			}
			logfmt_w3c(f->lf_out, v, lc->lg_fields, ld.computer);
		} else
			logfmt_ncsa(f->lf_out, v,
			    lc->lg_format == CONF_LOG_COMBINED);
		break;
	case LR_HTTPERR:
	case LR_DROPPED:
		if (f->lf_fields == UINT32_MAX) {
			logfmt_httperr_header(f->lf_out, time(NULL));
			f->lf_fields = 0;
		}
		if (v->lv_rec.lr_kind == LR_HTTPERR) {
			logfmt_httperr(f->lf_out, v);
			break;
		}
		since = v->lv_rec.lr_dropped_since_us / 1000000;
		gmtime_r(&since, &tm);
		strftime(when, sizeof(when), "%Y-%m-%d %H:%M:%S", &tm);
		snprintf(text, sizeof(text), "hsd-listener dropped %llu log "
		    "records from %s UTC on: its log_buffer was full",
		    (unsigned long long)v->lv_rec.lr_dropped, when);
		logfmt_remark(f->lf_out, text);
		log_warnx("%s", text);
		break;
	}
	ld.pending += evbuffer_get_length(f->lf_out) - before;
}

/* MSG_LOG_BATCH */
static void
logd_batch(const struct msg_hdr *hdr, const void *data)
{
	struct msg_log_batch	 lb;
	struct msg_log_ack	 la;
	struct logrec_view	 v;
	const unsigned char	*p;
	size_t			 left;
	uint32_t		 n = 0;

	if (hdr->mh_len < sizeof(lb)) {
		log_warnx("logd_batch: %u byte batch", hdr->mh_len);
		return;
	}
	memcpy(&lb, data, sizeof(lb));
	if (lb.lb_epoch != ld.epoch) {
		/* A new listener counts from 1; the one we followed before
		 * we started, from what the journal says is written. */
		ld.epoch = lb.lb_epoch;
		ld.recv_seq = ld.acked_seq = 0;
		if (ld.journal->lj_epoch != lb.lb_epoch) {
			/* The numbers first: dead here, the old epoch with
			 * nothing written only makes us do this again. */
			ld.journal->lj_done_seq = ld.journal->lj_writing_seq =
			    0;
			__atomic_store_n(&ld.journal->lj_epoch, lb.lb_epoch,
			    __ATOMIC_SEQ_CST);
		} else
			ld.recv_seq = ld.acked_seq =
			    logjournal_done(ld.journal);
	}
	if (lb.lb_seq <= ld.recv_seq) {
		/* Sent again; written already if acknowledged. */
		if (lb.lb_seq <= ld.acked_seq) {
			la.la_epoch = ld.epoch;
			la.la_seq = ld.acked_seq;
			chan_send(ld.listener, MSG_LOG_ACK, 0, &la, sizeof(la),
			    -1);
		}
		return;
	}
	p = (const unsigned char *)data + sizeof(lb);
	left = hdr->mh_len - sizeof(lb);
	while (left > 0 && logrec_next(&p, &left, &v) == 0) {
		logd_record(&v);
		n++;
	}
	if (left > 0 || n != lb.lb_count)
		log_warnx("logd_batch: batch %llu: %u of %u records readable",
		    (unsigned long long)lb.lb_seq, n, lb.lb_count);
	ld.recv_seq = lb.lb_seq;
	if (ld.pending >= LOGD_ROUND_BYTES || (lb.lb_flags & LB_FLUSH))
		logd_round();
}

/*
 * A write round: every file with lines and an fd gets them, under the
 * journal (at most LJ_FILES files a round; more rounds for more).  Then
 * the batches wholly written are acknowledged.
 */
static void
logd_round(void)
{
	struct logjournal	*lj = ld.journal;
	struct logd_file	*f, *next, *round[LJ_FILES];
	struct msg_log_ack	 la;
	uint32_t		 i, n;
	ssize_t			 w;
	int			 all, failed;

	for (;;) {
		/* This round's files; all: nothing else waits, so the round
		 * completes every batch received. */
		n = 0;
		all = 1;
		TAILQ_FOREACH(f, &ld.files, lf_entry) {
			if (evbuffer_get_length(f->lf_out) == 0)
				continue;
			if (f->lf_fd != -1 && n < LJ_FILES)
				round[n++] = f;
			else
				all = 0;
		}
		if (n == 0)
			break;
		lj->lj_nfiles = n;
		for (i = 0; i < n; i++) {
			lj->lj_files[i].lf_size = round[i]->lf_size;
			snprintf(lj->lj_files[i].lf_path, LJ_PATH_MAX, "%s/%s",
			    round[i]->lf_dir, round[i]->lf_name);
		}
		lj->lj_done_seq = logjournal_done(lj);
		lj->lj_writing_seq = all ? ld.recv_seq : lj->lj_done_seq;
		__atomic_store_n(&lj->lj_state, LJ_WRITING, __ATOMIC_SEQ_CST);
		failed = 0;
		for (i = 0; i < n; i++) {
			f = round[i];
			while (evbuffer_get_length(f->lf_out) > 0) {
				w = evbuffer_write(f->lf_out, f->lf_fd);
				if (w <= 0) {
					log_warn("logd_round: %s/%s",
					    f->lf_dir, f->lf_name);
					/* Kept, and tried again. */
					failed = 1;
					break;
				}
				f->lf_size += w;
				ld.pending -= w;
			}
		}
		if (failed)
			lj->lj_writing_seq = lj->lj_done_seq;
		/* The one store that makes the round done. */
		__atomic_store_n(&lj->lj_state, LJ_IDLE, __ATOMIC_SEQ_CST);
		if (failed || all)
			break;
	}

	/* Files a log no longer writes to, written out, go. */
	for (f = TAILQ_FIRST(&ld.files); f != NULL; f = next) {
		next = TAILQ_NEXT(f, lf_entry);
		if (evbuffer_get_length(f->lf_out) == 0 && !f->lf_current &&
		    f->lf_req == 0)
			logd_file_free(f);
	}
	if (logjournal_done(lj) <= ld.acked_seq)
		return;
	ld.acked_seq = logjournal_done(lj);
	if (ld.listener != NULL) {
		memset(&la, 0, sizeof(la));
		la.la_epoch = ld.epoch;
		la.la_seq = ld.acked_seq;
		if (chan_send(ld.listener, MSG_LOG_ACK, 0, &la, sizeof(la),
		    -1) == -1)
			log_warn("logd_round: acknowledging");
	}
}

/* MSG_PM_LOG_FILE: an fd for the file asked for, or why not. */
static void
logd_file_ready(const struct msg_hdr *hdr, const void *data, int fd)
{
	struct msg_log_file	 lf;
	struct logd_file	*f;

	TAILQ_FOREACH(f, &ld.files, lf_entry)
		if (f->lf_req != 0 && f->lf_req == hdr->mh_id)
			break;
	if (f == NULL || hdr->mh_len != sizeof(lf)) {
		if (fd != -1)
			close(fd);
		return;
	}
	memcpy(&lf, data, sizeof(lf));
	f->lf_req = 0;
	if (lf.lf_errno != 0 || fd == -1) {
		errno = lf.lf_errno;
		log_warn("logd_file_ready: %s/%s cannot be opened; retrying in "
		    "%d ms", f->lf_dir, f->lf_name, LOGD_RETRY_MS);
		if (fd != -1)
			close(fd);
		f->lf_retry_ms = clock_ms() + LOGD_RETRY_MS;
		return;
	}
	if (f->lf_fd != -1)
		close(f->lf_fd);	/* a reopen: the new one from now on */
	f->lf_fd = fd;
	f->lf_size = lf.lf_size;
	if (ld.pending >= LOGD_ROUND_BYTES || ld.stopping)
		logd_round();
	logd_check_exit();
}

/* Reopen (external rotation): everything written, then new fds. */
static void
logd_reopen(void)
{
	struct logd_file	*f;

	logd_round();
	TAILQ_FOREACH(f, &ld.files, lf_entry) {
		if (f->lf_fd == -1)
			continue;
		close(f->lf_fd);
		f->lf_fd = -1;
		f->lf_fields = UINT32_MAX;	/* a new file gets its header */
		logd_file_open(f);
	}
}

static void
logd_reload(uint32_t gen, int fd)
{
	struct hsd_config	*cf;
	char			*text;

	text = proc_read_config(fd);
	close(fd);
	if (text == NULL || conf_load_text(text, "(reload from hsd-poolmgr)",
	    CONF_LOAD_NOFS, &cf) == -1) {
		log_warnx("logd_reload: cannot take configuration %u", gen);
		free(text);
		return;
	}
	free(text);
	conf_free(ld.conf);
	ld.conf = cf;
	log_debug("logd_reload: configuration %u", gen);
}

static void
logd_check_exit(void)
{
	struct logd_file	*f;

	if (!ld.stopping)
		return;
	TAILQ_FOREACH(f, &ld.files, lf_entry)
		if (evbuffer_get_length(f->lf_out) > 0 &&
		    clock_ms() - ld.stop_ms < LOGD_EXIT_WAIT_MS)
			return;
	log_debug("logd_check_exit: everything written");
	event_base_loopexit(ld.base, NULL);
}

static void
logd_tick(evutil_socket_t fd, short ev, void *arg)
{
	struct logd_file	*f;
	uint64_t		 now = clock_ms();

	(void)fd;
	(void)ev;
	(void)arg;
	TAILQ_FOREACH(f, &ld.files, lf_entry)
		if (f->lf_fd == -1 && f->lf_req == 0 && now >= f->lf_retry_ms)
			logd_file_open(f);
	logd_round();
	logd_check_exit();
}

static void
logd_stop(void)
{
	if (ld.stopping)
		return;
	ld.stopping = 1;
	ld.stop_ms = clock_ms();
	logd_round();
	logd_check_exit();
}

static void
logd_listener_msg(struct chan *ch, const struct msg_hdr *hdr,
    const void *data, int fd, void *arg)
{
	(void)ch;
	(void)arg;
	if (fd != -1)
		close(fd);
	if (hdr->mh_type == MSG_LOG_BATCH)
		logd_batch(hdr, data);
	else
		log_warnx("logd_listener_msg: unexpected message type %u",
		    hdr->mh_type);
}

static void
logd_listener_gone(struct chan *ch, void *arg)
{
	(void)arg;
	if (ch == ld.listener)
		ld.listener = NULL;
	chan_free(ch);
}

static void
logd_parent_msg(struct chan *ch, const struct msg_hdr *hdr,
    const void *data, int fd, void *arg)
{
	(void)ch;
	(void)arg;
	switch (hdr->mh_type) {
	case MSG_PM_LOG_LISTENER:
		if (fd == -1)
			break;
		/* The listener before it is gone: what it sent is here. */
		if (ld.listener != NULL)
			chan_free(ld.listener);
		if ((ld.listener = chan_new(ld.base, fd, "listener",
		    logd_listener_msg, logd_listener_gone, NULL)) == NULL)
			log_warnx("logd_parent_msg: no channel to the "
			    "listener");
		return;
	case MSG_PM_LOG_FILE:
		logd_file_ready(hdr, data, fd);
		return;
	case MSG_PM_LOG_REOPEN:
		logd_reopen();
		break;
	case MSG_PM_RELOAD:
		if (fd == -1)
			break;
		logd_reload(hdr->mh_id, fd);
		return;
	case MSG_PM_SHUTDOWN:
		logd_stop();
		break;
	default:
		log_warnx("logd_parent_msg: unexpected message type %u",
		    hdr->mh_type);
		break;
	}
	if (fd != -1)
		close(fd);
}

static void
logd_parent_gone(struct chan *ch, void *arg)
{
	(void)ch;
	(void)arg;
	log_warnx("logd_parent_gone: the pool manager is gone; writing what "
	    "is here and exiting");
	logd_round();
	exit(0);
}

static void
logd_signal(evutil_socket_t sig, short ev, void *arg)
{
	(void)sig;
	(void)ev;
	(void)arg;
	logd_stop();
}

static void
usage(void)
{
	fprintf(stderr, "usage: hsd-logd [-v]  (started by hsd-poolmgr)\n");
	exit(1);
}

int
main(int argc, char *argv[])
{
	struct event	*sigterm;
	struct timeval	 tv;
	const char	*s;
	uint32_t	 n;
	int		 ch, verbose = 0;

	while ((ch = getopt(argc, argv, "v")) != -1) {
		switch (ch) {
		case 'v':
			verbose++;
			break;
		default:
			usage();
		}
	}
	if (optind != argc)
		usage();
	ld.conf = proc_child_start("hsd-logd", verbose);
	TAILQ_INIT(&ld.files);
	TAILQ_INIT(&ld.logs);
	ld.start = time(NULL);
	if ((s = getenv("HSD_LOG_PERIOD_SECONDS")) != NULL &&
	    proc_parse_u32(s, &n) == 0 && n > 0)
		ld.period_s = n;
	if (gethostname(ld.computer, sizeof(ld.computer) - 1) == -1)
		snprintf(ld.computer, sizeof(ld.computer), "-");
	ld.journal = mmap(NULL, sizeof(*ld.journal), PROT_READ | PROT_WRITE,
	    MAP_SHARED, LOGD_FD_JOURNAL, 0);
	if (ld.journal == MAP_FAILED || ld.journal->lj_magic != LJ_MAGIC)
		fatalx("main: no journal on fd %d", LOGD_FD_JOURNAL);
	close(LOGD_FD_JOURNAL);
	/* Only fds from here on: it runs like the listener. */
	proc_privdrop(ld.conf->cf_chroot_dir, &ld.conf->cf_ident);

	if ((ld.base = event_base_new()) == NULL)
		fatalx("main: event_base_new failed");
	signal(SIGHUP, SIG_IGN);
	if ((sigterm = evsignal_new(ld.base, SIGTERM, logd_signal,
	    NULL)) == NULL || evsignal_add(sigterm, NULL) == -1)
		fatalx("main: signal setup failed");
	if ((ld.parent = chan_new(ld.base, PROC_FD_PARENT, "poolmgr",
	    logd_parent_msg, logd_parent_gone, NULL)) == NULL)
		fatalx("main: no channel to the pool manager");
	conf_timeval(ld.conf->cf_flush_interval_ms < LOGD_RETRY_MS ?
	    ld.conf->cf_flush_interval_ms : LOGD_RETRY_MS, &tv);
	if ((ld.tick = event_new(ld.base, -1, EV_PERSIST, logd_tick,
	    NULL)) == NULL || event_add(ld.tick, &tv) == -1)
		fatalx("main: timer setup failed");
	log_debug("main: ready");
	event_base_dispatch(ld.base);
	logd_round();
	return 0;
}
