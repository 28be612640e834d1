/*
 * The listener's seccomp filter, after the privilege drop: the listener
 * is the process every client talks to, so a bug in it must not become a
 * way to open files, make connections, start programs or map code.  What
 * stays allowed is what the client, queue and send paths and libevent
 * use on fds the listener already holds; arguments are narrowed where a
 * call could do more than that (no executable mappings, no path lookups,
 * a few ioctls).  The list was read off strace of the whole test suite,
 * which runs with the filter on.
 *
 * A call outside the list is trapped rather than killed outright, so the
 * listener can say which one it was before it dies of SIGSYS: the pool
 * manager sees that signal, and the number is in the log.
 */
#include "config.h"

#include <signal.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "sandbox.h"

#ifdef HAVE_SECCOMP

#include <sys/ioctl.h>
#include <sys/mman.h>

#include <linux/sockios.h>

#include <errno.h>
#include <fcntl.h>
#include <seccomp.h>

/* si_code of a SIGSYS from a filter; the kernel's, which glibc lacks. */
#ifndef SYS_SECCOMP
#define SYS_SECCOMP	1
#endif

static const int sandbox_calls[] = {
	/* Clients, peers and handed-back files, on fds already held. */
	SCMP_SYS(accept4),
	SCMP_SYS(accept),
	SCMP_SYS(read),
	SCMP_SYS(readv),
	SCMP_SYS(recvfrom),
	SCMP_SYS(recvmsg),
	SCMP_SYS(write),
	SCMP_SYS(writev),
	SCMP_SYS(sendto),
	SCMP_SYS(sendmsg),
	SCMP_SYS(sendfile),
	SCMP_SYS(shutdown),
	SCMP_SYS(close),
	SCMP_SYS(fcntl),
	SCMP_SYS(fstat),
	SCMP_SYS(setsockopt),
	SCMP_SYS(getsockopt),
	SCMP_SYS(getsockname),
	SCMP_SYS(getpeername),
	/* The slot table of each worker (queue.c). */
	SCMP_SYS(memfd_create),
	SCMP_SYS(ftruncate),
	SCMP_SYS(munmap),
	/* malloc. */
	SCMP_SYS(brk),
	SCMP_SYS(mremap),
	SCMP_SYS(madvise),
	/* libevent's loop, clock and signal handling. */
	SCMP_SYS(epoll_wait),
	SCMP_SYS(epoll_pwait),
	SCMP_SYS(epoll_ctl),
	SCMP_SYS(clock_gettime),
	SCMP_SYS(clock_getres),
	SCMP_SYS(gettimeofday),
	SCMP_SYS(time),
	SCMP_SYS(rt_sigreturn),
	SCMP_SYS(rt_sigprocmask),
	SCMP_SYS(restart_syscall),
	/* Log lines carry the pid; leaving. */
	SCMP_SYS(getpid),
	SCMP_SYS(exit),
	SCMP_SYS(exit_group),
};

/* ioctl() requests: the send queue (queue.c), and libevent's; TCGETS
 * only reads terminal settings: libconfuse's scanner asks isatty() of
 * the text a reload brings (reload.c). */
static const unsigned long sandbox_ioctls[] = {
	SIOCOUTQ,
	FIONREAD,
	FIONBIO,
	TCGETS,
};

/* "N" in decimal into buf, without stdio: this runs in a signal handler. */
static size_t
sandbox_utoa(char *buf, unsigned long n)
{
	char	tmp[24];
	size_t	i = 0, len;

	do {
		tmp[i++] = '0' + n % 10;
		n /= 10;
	} while (n > 0 && i < sizeof(tmp));
	for (len = 0; len < i; len++)
		buf[len] = tmp[i - 1 - len];
	return len;
}

static void
sandbox_append(char *buf, size_t *len, size_t cap, const char *s)
{
	size_t	n = strlen(s);

	if (n > cap - *len)
		n = cap - *len;
	memcpy(buf + *len, s, n);
	*len += n;
}

/*
 * SA_RESETHAND and SA_NODEFER: the handler runs once, and the SIGSYS it
 * sends itself then takes the default action at once.
 */
static void
sandbox_trapped(int sig, siginfo_t *si, void *uc)
{
	char		 line[160], num[24];
	size_t		 len = 0;
	ssize_t		 w;
	int		 saved = errno;

	(void)uc;
	if (si->si_code == SYS_SECCOMP) {
		sandbox_append(line, &len, sizeof(line), log_procname());
		sandbox_append(line, &len, sizeof(line), "[");
		num[sandbox_utoa(num, (unsigned long)getpid())] = '\0';
		sandbox_append(line, &len, sizeof(line), num);
		sandbox_append(line, &len, sizeof(line),
		    "]: seccomp: system call ");
		num[sandbox_utoa(num, (unsigned long)si->si_syscall)] = '\0';
		sandbox_append(line, &len, sizeof(line), num);
		sandbox_append(line, &len, sizeof(line),
		    " is not allowed in the listener; killed\n");
		w = write(STDERR_FILENO, line, len);
		(void)w;
	}
	errno = saved;
	kill(getpid(), sig);
}

static void
sandbox_rule(scmp_filter_ctx ctx, int call, unsigned int n,
    const struct scmp_arg_cmp *cmp)
{
	int	rc;

	if ((rc = seccomp_rule_add_array(ctx, SCMP_ACT_ALLOW, call, n,
	    cmp)) < 0)
		fatalx("sandbox_listener: seccomp_rule_add for system call %d: "
		    "%s", call, strerror(-rc));
}

void
sandbox_listener(void)
{
	struct sigaction	 sa;
	struct scmp_arg_cmp	 cmp[2];
	scmp_filter_ctx		 ctx;
	size_t			 i;
	int			 rc;

	memset(&sa, 0, sizeof(sa));
	sa.sa_sigaction = sandbox_trapped;
	sa.sa_flags = SA_SIGINFO | SA_RESETHAND | SA_NODEFER;
	sigemptyset(&sa.sa_mask);
	if (sigaction(SIGSYS, &sa, NULL) == -1)
		fatal("sandbox_listener: sigaction SIGSYS");

	if ((ctx = seccomp_init(SCMP_ACT_TRAP)) == NULL)
		fatalx("sandbox_listener: seccomp_init failed");
	for (i = 0; i < sizeof(sandbox_calls) / sizeof(sandbox_calls[0]); i++)
		sandbox_rule(ctx, sandbox_calls[i], 0, NULL);
	/* Memory, never executable: no code can be mapped in. */
	cmp[0] = SCMP_A2(SCMP_CMP_MASKED_EQ, PROT_EXEC, 0);
	sandbox_rule(ctx, SCMP_SYS(mmap), 1, cmp);
	sandbox_rule(ctx, SCMP_SYS(mprotect), 1, cmp);
	/* fstat() of an fd; no lookup of a path. */
	cmp[0] = SCMP_A3(SCMP_CMP_MASKED_EQ, AT_EMPTY_PATH, AT_EMPTY_PATH);
	sandbox_rule(ctx, SCMP_SYS(newfstatat), 1, cmp);
	for (i = 0; i < sizeof(sandbox_ioctls) / sizeof(sandbox_ioctls[0]);
	    i++) {
		cmp[0] = SCMP_A1(SCMP_CMP_EQ, sandbox_ioctls[i]);
		sandbox_rule(ctx, SCMP_SYS(ioctl), 1, cmp);
	}
	/* The trap handler's own death, and nothing else by signal. */
	cmp[0] = SCMP_A0(SCMP_CMP_EQ, (scmp_datum_t)getpid());
	cmp[1] = SCMP_A1(SCMP_CMP_EQ, SIGSYS);
	sandbox_rule(ctx, SCMP_SYS(kill), 2, cmp);

	if ((rc = seccomp_load(ctx)) < 0)
		fatalx("sandbox_listener: seccomp_load: %s", strerror(-rc));
	seccomp_release(ctx);
	log_debug("sandbox_listener: seccomp filter on");
}

int
sandbox_available(void)
{
	return 1;
}

#else /* !HAVE_SECCOMP */

void
sandbox_listener(void)
{
	log_info("sandbox_listener: built with --disable-seccomp; the "
	    "listener runs without a system call filter");
}

int
sandbox_available(void)
{
	return 0;
}

#endif
