/*
 * The listener's seccomp filter (src/listener/sandbox.c), installed in a
 * forked child: what the listener needs keeps working, and each kind of
 * thing it must never do kills it with SIGSYS after a log line naming the
 * system call.  The end-to-end suite runs the real listener under the
 * same filter on every path it has.
 */
#include "config.h"

#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <sys/wait.h>

#include <linux/sockios.h>

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <check.h>

#include "fixtures.h"
#include "log.h"
#include "sandbox.h"

/*
 * Run fn in a child under the filter, its stderr into a pipe.  Returns
 * the wait status; *out gets what it logged.
 */
static int
sandboxed(void (*fn)(int), int arg, char *out, size_t outlen)
{
	int	p[2], status;
	pid_t	pid;
	ssize_t	n;
	size_t	off = 0;

	ck_assert_int_eq(pipe(p), 0);
	if ((pid = fork()) == 0) {
		close(p[0]);
		if (dup2(p[1], STDERR_FILENO) == -1)
			_exit(90);
		log_init("hsd-listener", 0);
		sandbox_listener();
		fn(arg);
		_exit(0);
	}
	ck_assert_int_gt(pid, 0);
	close(p[1]);
	while (off + 1 < outlen &&
	    (n = read(p[0], out + off, outlen - 1 - off)) > 0)
		off += n;
	out[off] = '\0';
	close(p[0]);
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	return status;
}

/* What the listener does all day, and malloc with it. */
static void
everyday_calls(int fd)
{
	struct timespec	 ts;
	struct stat	 st;
	char		*big, buf[4];
	void		*m;
	ssize_t		 n;
	int		 outq, one = 1;

	if (clock_gettime(CLOCK_MONOTONIC, &ts) == -1 || getpid() <= 0)
		_exit(20);
	if ((big = malloc(8 << 20)) == NULL)
		_exit(21);
	memset(big, 'x', 8 << 20);
	if ((big = realloc(big, 16 << 20)) == NULL)
		_exit(22);
	free(big);
	m = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS,
	    -1, 0);
	if (m == MAP_FAILED || munmap(m, 4096) == -1)
		_exit(23);
	if (fstat(fd, &st) == -1)
		_exit(24);
	if (write(fd, "ok", 2) != 2 || read(fd, buf, sizeof(buf)) != 2)
		_exit(25);
	if (ioctl(fd, SIOCOUTQ, &outq) == -1)
		_exit(26);
	if (setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &one, sizeof(one)) == -1)
		_exit(27);
	/* Nothing more to read: EAGAIN, or EOF once the echo has gone. */
	if (fcntl(fd, F_SETFL, O_NONBLOCK) == -1)
		_exit(28);
	n = read(fd, buf, sizeof(buf));
	if (n > 0 || (n == -1 && errno != EAGAIN))
		_exit(28);
	if (close(fd) == -1)
		_exit(29);
	log_warnx("still here");
}

START_TEST(test_sandbox_allows_the_listener)
{
	char	out[512];
	int	sv[2], status;
	pid_t	pid;

	/* The loopback end echoes what the child writes. */
	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	if ((pid = fork()) == 0) {
		char	b[2];

		close(sv[0]);
		if (read(sv[1], b, 2) == 2)
			(void)!write(sv[1], b, 2);
		_exit(0);
	}
	close(sv[1]);
	status = sandboxed(everyday_calls, sv[0], out, sizeof(out));
	close(sv[0]);
	waitpid(pid, NULL, 0);
	ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0,
	    "the filter stopped an everyday call: status %#x, log: %s",
	    status, out);
	ck_assert_ptr_nonnull(strstr(out, "still here"));
}
END_TEST

/* Each thing the listener must not do, by raw system call number. */
struct refused {
	const char	*what;
	long		 nr;
	long		 a[4];
};

static const struct refused refused[] = {
	{ "open a file", SYS_openat, { AT_FDCWD, (long)"/etc/passwd",
	    O_RDONLY, 0 } },
	{ "look up a path", SYS_newfstatat, { AT_FDCWD, (long)"/", 0, 0 } },
	{ "make a socket", SYS_socket, { AF_INET, SOCK_STREAM, 0, 0 } },
	{ "make a socket pair", SYS_socketpair, { AF_UNIX, SOCK_STREAM, 0,
	    0 } },
	{ "connect", SYS_connect, { 0, 0, 0, 0 } },
	{ "start a program", SYS_execve, { (long)"/bin/true", 0, 0, 0 } },
	{ "fork", SYS_fork, { 0, 0, 0, 0 } },
	{ "map code", SYS_mmap, { 0, 4096, PROT_READ | PROT_EXEC,
	    MAP_PRIVATE | MAP_ANONYMOUS } },
	{ "make memory executable", SYS_mprotect, { 0, 4096,
	    PROT_READ | PROT_EXEC, 0 } },
	{ "signal another process", SYS_kill, { 1, SIGTERM, 0, 0 } },
	{ "an unlisted ioctl", SYS_ioctl, { 0, TIOCSTI, 0, 0 } },
	{ "ptrace", SYS_ptrace, { 0, 0, 0, 0 } },
	{ "change identity", SYS_setuid, { 0, 0, 0, 0 } },
};

static void
refused_call(int i)
{
	const struct refused	*r = &refused[i];

	syscall(r->nr, r->a[0], r->a[1], r->a[2], r->a[3], 0L, 0L);
	_exit(40);
}

START_TEST(test_sandbox_kills_and_names_the_call)
{
	const struct refused	*r = &refused[_i];
	char			 out[512], want[64];
	int			 status;

	status = sandboxed(refused_call, _i, out, sizeof(out));
	ck_assert_msg(WIFSIGNALED(status) && WTERMSIG(status) == SIGSYS,
	    "%s under the filter: status %#x, log: %s", r->what, status, out);
	snprintf(want, sizeof(want), "seccomp: system call %ld is not allowed",
	    r->nr);
	ck_assert_msg(strstr(out, want) != NULL,
	    "%s: the log does not say \"%s\": %s", r->what, want, out);
	ck_assert_ptr_nonnull(strstr(out, "hsd-listener["));
}
END_TEST

START_TEST(test_sandbox_configured_out)
{
	char	*out;

	fx_capture_start();
	sandbox_listener();
	out = fx_capture_end();
	ck_assert_ptr_nonnull(strstr(out, "--disable-seccomp"));
	free(out);
}
END_TEST

Suite *
suite_sandbox(void)
{
	Suite	*s = suite_create("sandbox");
	TCase	*tc = tcase_create("listener");

	if (sandbox_available()) {
		tcase_add_test(tc, test_sandbox_allows_the_listener);
		tcase_add_loop_test(tc, test_sandbox_kills_and_names_the_call,
		    0, sizeof(refused) / sizeof(refused[0]));
	} else
		tcase_add_test(tc, test_sandbox_configured_out);
	suite_add_tcase(s, tc);
	return s;
}
