/*
 * hsd-logd, the pool manager's side: starting it (supervise.c restarts
 * it), connecting it to the listener, opening the log files it asks for
 * (it opens nothing itself), telling it to reopen them (hsdctl reopen,
 * SIGUSR1) and to take a reloaded configuration, and undoing the write
 * round of one that died in the middle of it (logjournal.h).
 *
 * A file is opened only in a directory a configuration named for logs
 * and only by a plain name, so a logger that misbehaves can append to
 * log files and nothing else.
 */
#include "config.h"

#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/types.h>

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>

#include "chan.h"
#include "conf.h"
#include "log.h"
#include "logjournal.h"
#include "msg.h"
#include "poolmgr.h"
#include "proc.h"

void
logger_init(void)
{
	struct logjournal	lj;

	if ((penv->pe_log_journal = memfd_create("hsd-logjournal",
	    MFD_CLOEXEC)) == -1)
		fatal("logger_init: memfd_create");
	memset(&lj, 0, sizeof(lj));
	lj.lj_magic = LJ_MAGIC;
	if (pwrite(penv->pe_log_journal, &lj, sizeof(lj), 0) != sizeof(lj))
		fatal("logger_init: writing the journal");
	logger_note_dirs(penv->pe_conf);
}

/*
 * Every directory a configuration of this server's life has written logs
 * to: after a reload moved a log, the logger may still have lines for a
 * file in the old place, and they are written there.
 */
static char	**logger_dirs;
static size_t	  logger_ndirs;

static void
logger_note_dir(const char *dir)
{
	char	**d;
	size_t	  i;

	if (dir == NULL)
		return;
	for (i = 0; i < logger_ndirs; i++)
		if (strcmp(logger_dirs[i], dir) == 0)
			return;
	if ((d = reallocarray(logger_dirs, logger_ndirs + 1,
	    sizeof(*d))) == NULL || (d[logger_ndirs] = strdup(dir)) == NULL) {
		if (d != NULL)
			logger_dirs = d;
		log_warn("logger_note_dir: %s", dir);
		return;
	}
	logger_dirs = d;
	logger_ndirs++;
}

/* The log directories of cf join those the logger may write to. */
void
logger_note_dirs(const struct hsd_config *cf)
{
	uint32_t	i;

	logger_note_dir(cf->cf_log.lg_dir);
	logger_note_dir(cf->cf_httperr_dir);
	for (i = 0; i < cf->cf_nsites; i++)
		logger_note_dir(cf->cf_sites[i].st_log.lg_dir);
}

/* Whether dir (len bytes) is a log directory. */
static int
logger_dir_ok(const char *dir, size_t len)
{
	size_t	i;

	for (i = 0; i < logger_ndirs; i++)
		if (strlen(logger_dirs[i]) == len &&
		    memcmp(logger_dirs[i], dir, len) == 0)
			return 1;
	return 0;
}

/* A file name of ours: letters, digits, '.', '_', '-', not "." or "..". */
static int
logger_name_ok(const char *name, size_t len)
{
	size_t	i;

	if (len == 0 || len > 255 || name[0] == '.')
		return 0;
	for (i = 0; i < len; i++)
		if (!((name[i] >= 'a' && name[i] <= 'z') ||
		    (name[i] >= 'A' && name[i] <= 'Z') ||
		    (name[i] >= '0' && name[i] <= '9') ||
		    name[i] == '.' || name[i] == '_' || name[i] == '-'))
			return 0;
	return 1;
}

/* mkdir -p, 0755: log directories are made as needed. */
static int
logger_mkdirs(const char *dir)
{
	char	path[LJ_PATH_MAX], *p;

	if (snprintf(path, sizeof(path), "%s", dir) >= (int)sizeof(path)) {
		errno = ENAMETOOLONG;
		return -1;
	}
	for (p = path + 1; *p != '\0'; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(path, 0755) == -1 && errno != EEXIST)
			return -1;
		*p = '/';
	}
	if (mkdir(path, 0755) == -1 && errno != EEXIST)
		return -1;
	return 0;
}

/*
 * At start: every log directory must exist or be made, and take files.
 * Each one that cannot is logged with its path; -1 if any.
 */
int
logger_check_dirs(const struct hsd_config *cf, const char *file)
{
	const char	*dirs[2];
	uint32_t	 i, n;
	int		 rv = 0;

	for (i = 0; i < cf->cf_nsites + 1; i++) {
		n = 0;
		if (i == cf->cf_nsites) {
			dirs[n++] = cf->cf_httperr_dir;
			dirs[n++] = cf->cf_log.lg_dir;
		} else if (cf->cf_sites[i].st_log.lg_format != CONF_LOG_OFF)
			dirs[n++] = cf->cf_sites[i].st_log.lg_dir;
		while (n-- > 0) {
			if (dirs[n] == NULL)
				continue;
			if (strlen(dirs[n]) >= LJ_PATH_MAX - 256) {
				log_warnx("%s: log directory %s: too long",
				    file, dirs[n]);
				rv = -1;
			} else if (logger_mkdirs(dirs[n]) == -1 ||
			    access(dirs[n], W_OK | X_OK) == -1) {
				log_warn("%s: log directory %s cannot be "
				    "written", file, dirs[n]);
				rv = -1;
			}
		}
	}
	return rv;
}

static void
logger_reply(uint32_t id, int err, int fd, uint64_t size)
{
	struct msg_log_file	lf;

	memset(&lf, 0, sizeof(lf));
	lf.lf_errno = err;
	lf.lf_size = size;
	if (penv->pe_logger == NULL || penv->pe_logger->pc_chan == NULL ||
	    chan_send(penv->pe_logger->pc_chan, MSG_PM_LOG_FILE, id, &lf,
	    sizeof(lf), fd) == -1)
		log_warnx("logger_reply: cannot answer the logger");
}

/* MSG_LOG_OPEN: dir and name, checked, opened for appending. */
static void
logger_open(const struct msg_hdr *hdr, const void *data)
{
	struct msg_log_open	 lo;
	struct stat		 st;
	const char		*dir, *name;
	char			 path[LJ_PATH_MAX];
	int			 fd;

	if (hdr->mh_len < sizeof(lo))
		goto bad;
	memcpy(&lo, data, sizeof(lo));
	if (hdr->mh_len != sizeof(lo) + (size_t)lo.lo_dirlen + lo.lo_namelen)
		goto bad;
	dir = (const char *)data + sizeof(lo);
	name = dir + lo.lo_dirlen;
	if (!logger_dir_ok(dir, lo.lo_dirlen) ||
	    !logger_name_ok(name, lo.lo_namelen) ||
	    snprintf(path, sizeof(path), "%.*s/%.*s", (int)lo.lo_dirlen, dir,
	    (int)lo.lo_namelen, name) >= (int)sizeof(path)) {
		/* A reload may have taken the directory away: not an attack
		 * for sure, but nothing to open either. */
		log_warnx("logger_open: refused %.*s/%.*s: not a log file of "
		    "the configuration", (int)(lo.lo_dirlen > 200 ? 200 :
		    lo.lo_dirlen), dir, (int)(lo.lo_namelen > 200 ? 200 :
		    lo.lo_namelen), name);
		logger_reply(hdr->mh_id, EPERM, -1, 0);
		return;
	}
	path[lo.lo_dirlen] = '\0';
	if (logger_mkdirs(path) == -1)
		log_warn("logger_open: mkdir %s", path);
	path[lo.lo_dirlen] = '/';
	if ((fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_NOFOLLOW |
	    O_CLOEXEC | O_NONBLOCK, 0640)) == -1 || fstat(fd, &st) == -1 ||
	    !S_ISREG(st.st_mode)) {
		if (fd != -1) {
			close(fd);
			errno = EINVAL;
		}
		log_warn("logger_open: %s", path);
		logger_reply(hdr->mh_id, errno, -1, 0);
		return;
	}
	logger_reply(hdr->mh_id, 0, fd, st.st_size);
	close(fd);
	return;
bad:
	log_warnx("logger_open: %u byte message", hdr->mh_len);
	logger_reply(hdr->mh_id, EINVAL, -1, 0);
}

void
logger_dispatch(struct chan *ch, const struct msg_hdr *hdr, const void *data,
    int fd, void *arg)
{
	(void)ch;
	(void)arg;
	if (fd != -1)
		close(fd);
	switch (hdr->mh_type) {
	case MSG_LOG_OPEN:
		logger_open(hdr, data);
		break;
	default:
		log_warnx("logger_dispatch: unexpected message type %u",
		    hdr->mh_type);
		break;
	}
}

/*
 * A logger died: a write round it had begun is undone, each file cut
 * back to the size it had before (logjournal.h), so the batches the
 * listener sends again are written once.  Only files in the log
 * directories, and only ever shorter.
 */
void
logger_undo(void)
{
	struct logjournal	 lj;
	struct stat		 st;
	const char		*slash;
	uint32_t		 i;

	if (pread(penv->pe_log_journal, &lj, sizeof(lj), 0) != sizeof(lj) ||
	    lj.lj_magic != LJ_MAGIC) {
		log_warnx("logger_undo: the journal is unreadable; resetting "
		    "it");
		memset(&lj, 0, sizeof(lj));
		lj.lj_magic = LJ_MAGIC;
	} else if (lj.lj_state == LJ_WRITING) {
		for (i = 0; i < lj.lj_nfiles && i < LJ_FILES; i++) {
			lj.lj_files[i].lf_path[LJ_PATH_MAX - 1] = '\0';
			slash = strrchr(lj.lj_files[i].lf_path, '/');
			if (slash == NULL || !logger_dir_ok(
			    lj.lj_files[i].lf_path, slash -
			    lj.lj_files[i].lf_path) ||
			    !logger_name_ok(slash + 1, strlen(slash + 1))) {
				log_warnx("logger_undo: %s is not a log file",
				    lj.lj_files[i].lf_path);
				continue;
			}
			if (lstat(lj.lj_files[i].lf_path, &st) == -1 ||
			    !S_ISREG(st.st_mode) ||
			    (uint64_t)st.st_size <= lj.lj_files[i].lf_size)
				continue;
			log_info("logger_undo: %s back to %llu bytes (the "
			    "logger died writing; the listener sends them "
			    "again)", lj.lj_files[i].lf_path,
			    (unsigned long long)lj.lj_files[i].lf_size);
			if (truncate(lj.lj_files[i].lf_path,
			    lj.lj_files[i].lf_size) == -1)
				log_warn("logger_undo: truncate %s",
				    lj.lj_files[i].lf_path);
		}
		/* Undone: what the round would have completed was not. */
		lj.lj_writing_seq = lj.lj_done_seq;
		lj.lj_state = LJ_IDLE;
		lj.lj_nfiles = 0;
	} else
		return;
	if (pwrite(penv->pe_log_journal, &lj, sizeof(lj), 0) != sizeof(lj))
		log_warn("logger_undo: writing the journal");
}

/* Spawn hsd-logd: its channel, the configuration, the journal. */
int
logger_start(void)
{
	char	*argv[] = { "hsd-logd", NULL, NULL };
	pid_t	 pid;
	int	 fd;

	logger_undo();
	if ((fd = poolmgr_spawn("hsd-logd", argv, penv->pe_log_journal,
	    &pid)) == -1)
		return -1;
	penv->pe_logger = poolmgr_child_new(PM_LOGGER, 0, pid, fd);
	return 0;
}

/*
 * The listener and hsd-logd get a channel of their own, whenever either
 * has (re)started and both are there.
 */
void
logger_connect(void)
{
	poolmgr_connect(penv->pe_listener, MSG_PM_LOGGER, penv->pe_logger,
	    MSG_PM_LOG_LISTENER);
}

/* Tell hsd-logd something, if it is there: the next one starts with it. */
static void
logger_send(uint16_t type, uint32_t id, int fd)
{
	if (penv->pe_logger != NULL && penv->pe_logger->pc_chan != NULL &&
	    chan_send(penv->pe_logger->pc_chan, type, id, NULL, 0, fd) == -1)
		log_warn("logger_send: message %u", type);
}

void
logger_reopen(void)
{
	log_info("reopening the log files");
	logger_send(MSG_PM_LOG_REOPEN, 0, -1);
}

void
logger_reload(uint32_t gen, int memfd)
{
	logger_note_dirs(penv->pe_conf);
	logger_send(MSG_PM_RELOAD, gen, memfd);
}

/* The server stops, the listener is gone: write everything, exit. */
void
logger_stop(void)
{
	if (penv->pe_logger == NULL || penv->pe_logger->pc_stop_sent)
		return;
	penv->pe_logger->pc_stop_sent = 1;
	logger_send(MSG_PM_SHUTDOWN, 0, -1);
}
