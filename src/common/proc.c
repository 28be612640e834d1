/*
 * socketpair(), fork() and exec of children; the shape of OpenSMTPD's
 * start_child() and httpd's proc.c.  A child is always a fresh exec of its
 * own binary so its name is its role and it shares no heap with its parent.
 */
#include "config.h"

#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/types.h>

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "conf.h"
#include "log.h"
#include "proc.h"

int
proc_channel(int fds[2])
{
	int	sz = 1024 * 1024;

	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC | SOCK_NONBLOCK,
	    0, fds) == -1) {
		log_warn("proc_channel: socketpair");
		return -1;
	}
	/* Room for bursts of handoffs before the output queue takes over. */
	setsockopt(fds[0], SOL_SOCKET, SO_SNDBUF, &sz, sizeof(sz));
	setsockopt(fds[1], SOL_SOCKET, SO_SNDBUF, &sz, sizeof(sz));
	return 0;
}

/*
 * fork() with every signal blocked across it.  A child inherits its
 * parent's handlers, and libevent's write the signal's number into a
 * socketpair the parent shares: a signal sent to a child before it had
 * reset them was taken by the parent as its own -- a SIGTERM meant for a
 * FastCGI process just started (its pool going offline) stopped the pool
 * manager.  The child returns with every caught signal back at SIG_DFL
 * (what exec would do; ignored ones stay ignored) and then the mask it
 * had, so a signal sent meanwhile is delivered to it, as to itself; the
 * parent returns with its mask back.
 */
pid_t
proc_fork(void)
{
	struct sigaction	 sa;
	sigset_t		 all, old;
	pid_t			 pid;
	int			 sig, saved;

	sigfillset(&all);
	sigprocmask(SIG_BLOCK, &all, &old);
	if ((pid = fork()) == 0) {
		for (sig = 1; sig < NSIG; sig++)
			if (sig != SIGKILL && sig != SIGSTOP &&
			    sigaction(sig, NULL, &sa) == 0 &&
			    sa.sa_handler != SIG_DFL &&
			    sa.sa_handler != SIG_IGN)
				signal(sig, SIG_DFL);
		sigprocmask(SIG_SETMASK, &old, NULL);
		return 0;
	}
	saved = errno;
	sigprocmask(SIG_SETMASK, &old, NULL);
	errno = saved;
	return pid;
}

pid_t
proc_spawn(const char *path, char *const argv[], const int *fds, int nfds)
{
	pid_t		 pid, parent = getpid();
	int		 i, tmp[3], fl;
	sigset_t	 all;

	if (nfds < 0 || nfds > 3) {
		errno = EINVAL;
		return -1;
	}
	switch (pid = proc_fork()) {
	case -1:
		log_warn("proc_spawn: fork");
		return -1;
	case 0:
		break;
	default:
		return pid;
	}

	/* Child.  Only async-signal-safe calls until exec. */
	if (prctl(PR_SET_PDEATHSIG, SIGTERM) == -1 || getppid() != parent)
		_exit(1);
	/* Move the fds out of the way first so 3..5 can be filled in any order. */
	for (i = 0; i < nfds; i++) {
		tmp[i] = -1;
		if (fds[i] != -1 &&
		    (tmp[i] = fcntl(fds[i], F_DUPFD, 10)) == -1)
			_exit(1);
	}
	for (i = 0; i < nfds; i++) {
		if (tmp[i] == -1) {
			close(PROC_FD_PARENT + i);
			continue;
		}
		if (dup2(tmp[i], PROC_FD_PARENT + i) == -1)
			_exit(1);
		fl = fcntl(PROC_FD_PARENT + i, F_GETFD);
		fcntl(PROC_FD_PARENT + i, F_SETFD, fl & ~FD_CLOEXEC);
		close(tmp[i]);
	}
	sigemptyset(&all);
	sigprocmask(SIG_SETMASK, &all, NULL);
	signal(SIGPIPE, SIG_DFL);
	signal(SIGCHLD, SIG_DFL);
	execv(path, argv);
	{
		static const char msg[] = "hsd: exec of a child failed\n";
		ssize_t w = write(STDERR_FILENO, msg, sizeof(msg) - 1);
		(void)w;
	}
	_exit(127);
}

int
proc_memfd(const char *name, const void *data, size_t len)
{
	const char	*p = data;
	ssize_t		 n;
	size_t		 off = 0;
	int		 fd;

	if ((fd = memfd_create(name, MFD_CLOEXEC | MFD_ALLOW_SEALING)) == -1) {
		log_warn("proc_memfd: memfd_create");
		return -1;
	}
	while (off < len) {
		if ((n = write(fd, p + off, len - off)) == -1) {
			if (errno == EINTR)
				continue;
			log_warn("proc_memfd: write");
			goto fail;
		}
		off += n;
	}
	if (fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW |
	    F_SEAL_WRITE | F_SEAL_SEAL) == -1) {
		log_warn("proc_memfd: F_ADD_SEALS");
		goto fail;
	}
	return fd;
fail:
	close(fd);
	return -1;
}

char *
proc_read_config(int fd)
{
	struct stat	 st;
	char		*text = NULL;
	void		*p;

	/* mmap(), not read(): the listener's seccomp filter allows it. */
	if (fstat(fd, &st) == -1) {
		log_warn("proc_read_config: fstat");
		return NULL;
	}
	if (st.st_size <= 0 || st.st_size > 64 * 1024 * 1024) {
		log_warnx("proc_read_config: %lld bytes", (long long)st.st_size);
		return NULL;
	}
	if ((p = mmap(NULL, st.st_size, PROT_READ, MAP_PRIVATE, fd, 0)) ==
	    MAP_FAILED) {
		log_warn("proc_read_config: mmap");
		return NULL;
	}
	if ((text = malloc(st.st_size + 1)) != NULL) {
		memcpy(text, p, st.st_size);
		text[st.st_size] = '\0';
	} else
		log_warn("proc_read_config: malloc");
	munmap(p, st.st_size);
	return text;
}

struct hsd_config *
proc_child_start(const char *procname, int verbose)
{
	struct hsd_config	*conf;
	char			*text;

	log_init(procname, verbose);
	if (getppid() == 1)
		fatalx("proc_child_start: the pool manager is gone");
	signal(SIGPIPE, SIG_IGN);
	/* ^C at a terminal reaches the whole process group; the pool
	 * manager alone decides how its children stop. */
	signal(SIGINT, SIG_IGN);
	if (fcntl(PROC_FD_PARENT, F_GETFD) == -1)
		fatalx("proc_child_start: no channel on fd %d; %s is started "
		    "by hsd-poolmgr", PROC_FD_PARENT, procname);
	fcntl(PROC_FD_PARENT, F_SETFD, FD_CLOEXEC);
	if ((text = proc_read_config(PROC_FD_CONFIG)) == NULL)
		fatalx("proc_child_start: no config on fd %d", PROC_FD_CONFIG);
	close(PROC_FD_CONFIG);
	if (conf_load_buf(text, "(from hsd-poolmgr)", &conf) == -1)
		fatalx("proc_child_start: the config handed over does not parse");
	free(text);
	return conf;
}

/*
 * httpd's proc_run() order: chroot, then groups, gid, uid, each checked
 * and any failure fatal, since a child that runs on with more than it
 * should is worse than one that does not run.  no_new_privs keeps an
 * exec (CGI, later) from gaining anything back; setuid(0) must fail
 * afterwards or the drop did not happen.  Not started as root there is
 * nothing to drop, and the pool manager has said so.
 */
const char *
proc_privdrop(const char *dir, const struct conf_ident *id)
{
	gid_t	gid = id->id_gid;
	uid_t	uid = id->id_uid;

	/* strftime() loads the zone on first use, which a chroot (or the
	 * listener's seccomp filter) would refuse later. */
	tzset();
	if (geteuid() != 0) {
		if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) == -1)
			fatal("proc_privdrop: prctl PR_SET_NO_NEW_PRIVS");
		return NULL;
	}
	if (dir != NULL) {
#ifdef __SANITIZE_ADDRESS__
		/* LeakSanitizer's check at exit reads /proc/self. */
		log_info("proc_privdrop: not chrooted to %s: built with "
		    "AddressSanitizer, whose leak check needs /proc", dir);
		dir = NULL;
#else
		if (chroot(dir) == -1)
			fatal("proc_privdrop: chroot %s", dir);
		if (chdir("/") == -1)
			fatal("proc_privdrop: chdir /");
#endif
	}
	if (setgroups(1, &gid) == -1)
		fatal("proc_privdrop: setgroups");
	if (setresgid(gid, gid, gid) == -1)
		fatal("proc_privdrop: setresgid %u", (unsigned int)gid);
	if (setresuid(uid, uid, uid) == -1)
		fatal("proc_privdrop: setresuid %u", (unsigned int)uid);
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) == -1)
		fatal("proc_privdrop: prctl PR_SET_NO_NEW_PRIVS");
	if (setuid(0) != -1)
		fatalx("proc_privdrop: still able to become root as %s",
		    id->id_user);
#ifdef __SANITIZE_ADDRESS__
	/* The uid change made us undumpable, and LeakSanitizer ptraces. */
	if (prctl(PR_SET_DUMPABLE, 1, 0, 0, 0) == -1)
		fatal("proc_privdrop: prctl PR_SET_DUMPABLE");
#endif
	log_debug("proc_privdrop: running as %s:%s%s%s", id->id_user,
	    id->id_group, dir ? ", chrooted to " : "", dir ? dir : "");
	return dir;
}

int
proc_parse_u32(const char *s, uint32_t *v)
{
	char		*end;
	unsigned long	 n;

	errno = 0;
	n = strtoul(s, &end, 10);
	if (*s == '\0' || *end != '\0' || errno != 0 || n > UINT32_MAX)
		return -1;
	*v = n;
	return 0;
}
