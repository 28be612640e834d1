/*
 * hsdctl: the operator's tool.  It finds the pool manager's control
 * socket (run_dir/hsd.sock, run_dir read from the configuration with the
 * server's own loader, or the socket named with -s), sends one command
 * line, and prints the answer.  The protocol is the pool manager's
 * (src/poolmgr/ctl.c): "COMMAND [ARG]\n" out, "ok\n" or "error: WHY\n"
 * and the answer's text back, then EOF.
 *
 * Exit status: 0 when the server did it, 1 otherwise (no server, an
 * unknown pool or command, a refusal), with the reason on stderr.
 */
#include "config.h"

#include <sys/socket.h>
#include <sys/types.h>
#include <sys/un.h>

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "conf.h"
#include "log.h"

#define HSDCTL_SOCKET		"hsd.sock"
/* Longer than the pool manager waits for its listener, so status always
 * gets its answer. */
#define HSDCTL_TIMEOUT_MS	15000
#define HSDCTL_ANSWER_MAX	(16 * 1024 * 1024)

static void
usage(void)
{
	fprintf(stderr,
	    "usage: hsdctl [-f file | -s socket] command [argument]\n"
	    "commands:\n"
	    "  status [--json]   pools, workers, the listener\n"
	    "  stop POOL         answer the pool's requests 503, stop its "
	    "workers\n"
	    "  start POOL        start a stopped or offline pool again\n"
	    "  recycle POOL      replace the pool's workers, overlapped\n"
	    "  stop-server       stop the whole server\n"
	    "  reload            apply the server's configuration file again\n"
	    "  reopen            reopen every log file (after rotating them)\n"
	    "  cache             the response cache: entries, memory, hits, "
	    "refusals\n"
	    "  purge WHAT        drop cached responses: all, a site's name, "
	    "/path,\n"
	    "                    or http://host[:port]/path\n");
	exit(1);
}

/* The control socket's path from the configuration's run_dir. */
static char *
hsdctl_socket_from_conf(const char *file)
{
	struct hsd_config	*conf;
	char			*path;

	if (conf_load_file(file, &conf) == -1) {
		fprintf(stderr, "hsdctl: cannot read the configuration %s; "
		    "name it with -f or the socket with -s\n", file);
		exit(1);
	}
	if (asprintf(&path, "%s/" HSDCTL_SOCKET, conf->cf_run_dir) == -1) {
		fprintf(stderr, "hsdctl: out of memory\n");
		exit(1);
	}
	conf_free(conf);
	return path;
}

static int
hsdctl_connect(const char *path)
{
	struct sockaddr_un	sun;
	int			fd;

	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	if (strlen(path) >= sizeof(sun.sun_path)) {
		fprintf(stderr, "hsdctl: cannot connect to %s: the path is "
		    "too long\n", path);
		exit(1);
	}
	memcpy(sun.sun_path, path, strlen(path));
	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) == -1 ||
	    connect(fd, (struct sockaddr *)&sun, sizeof(sun)) == -1) {
		fprintf(stderr, "hsdctl: cannot connect to %s: %s%s\n", path,
		    strerror(errno), errno == ENOENT || errno == ECONNREFUSED ?
		    " (is hsd-poolmgr running?)" : "");
		exit(1);
	}
	return fd;
}

static uint64_t
hsdctl_now_ms(void)
{
	struct timespec	ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Send line, read the answer to EOF; the answer, NUL-terminated. */
static char *
hsdctl_ask(const char *path, int fd, const char *line)
{
	struct pollfd	 pfd;
	uint64_t	 deadline = hsdctl_now_ms() + HSDCTL_TIMEOUT_MS, now;
	char		*buf = NULL, *nbuf;
	size_t		 len = 0, sz = 0, off = 0, want = strlen(line);
	ssize_t		 n;

	while (off < want) {
		if ((n = send(fd, line + off, want - off, MSG_NOSIGNAL)) ==
		    -1) {
			if (errno == EINTR)
				continue;
			/* Refused before it read the command: the answer
			 * says why. */
			if (errno == EPIPE || errno == ECONNRESET)
				break;
			fprintf(stderr, "hsdctl: %s: send: %s\n", path,
			    strerror(errno));
			exit(1);
		}
		off += n;
	}
	for (;;) {
		if ((now = hsdctl_now_ms()) >= deadline) {
			fprintf(stderr, "hsdctl: %s: no answer within %d s\n",
			    path, HSDCTL_TIMEOUT_MS / 1000);
			exit(1);
		}
		pfd.fd = fd;
		pfd.events = POLLIN;
		if (poll(&pfd, 1, (int)(deadline - now)) == -1) {
			if (errno == EINTR)
				continue;
			fprintf(stderr, "hsdctl: poll: %s\n", strerror(errno));
			exit(1);
		}
		if (pfd.revents == 0)
			continue;
		if (sz - len < 4096) {
			sz = sz ? sz * 2 : 16384;
			if (sz > HSDCTL_ANSWER_MAX ||
			    (nbuf = realloc(buf, sz)) == NULL) {
				fprintf(stderr, "hsdctl: %s: the answer is too "
				    "long\n", path);
				exit(1);
			}
			buf = nbuf;
		}
		if ((n = read(fd, buf + len, sz - len - 1)) == -1) {
			if (errno == EINTR)
				continue;
			/* A refusal may come with a reset: use what came. */
			if (errno == ECONNRESET && len > 0)
				break;
			fprintf(stderr, "hsdctl: %s: read: %s\n", path,
			    strerror(errno));
			exit(1);
		}
		if (n == 0)
			break;
		len += n;
	}
	if (buf == NULL || len == 0) {
		fprintf(stderr, "hsdctl: %s: the server closed the connection "
		    "without an answer\n", path);
		exit(1);
	}
	buf[len] = '\0';
	return buf;
}

/* The answer's text on stdout, or its error on stderr; the exit status. */
static int
hsdctl_print(const char *sock, char *answer)
{
	char	*nl;

	if ((nl = strchr(answer, '\n')) == NULL) {
		fprintf(stderr, "hsdctl: %s: an answer without a status "
		    "line\n", sock);
		return 1;
	}
	*nl = '\0';
	if (strcmp(answer, "ok") == 0) {
		fputs(nl + 1, stdout);
		if (fflush(stdout) == EOF) {
			fprintf(stderr, "hsdctl: stdout: %s\n",
			    strerror(errno));
			return 1;
		}
		return 0;
	}
	if (strncmp(answer, "error: ", 7) == 0) {
		/* Any text after the status line explains it. */
		fprintf(stderr, "hsdctl: %s\n%s", answer + 7, nl + 1);
	}
	else
		fprintf(stderr, "hsdctl: %s: an answer hsdctl does not "
		    "understand\n", sock);
	return 1;
}

int
main(int argc, char *argv[])
{
	const char	*file = SYSCONFDIR "/hsd/hsd.conf", *cmd;
	char		*sock = NULL, *sockarg = NULL, *answer, *line;
	int		 ch, fd, json = 0, fflag = 0, nargs, rv;

	log_init("hsdctl", 0);
	while ((ch = getopt(argc, argv, "+f:s:")) != -1) {
		switch (ch) {
		case 'f':
			file = optarg;
			fflag = 1;
			break;
		case 's':
			sock = sockarg = optarg;
			break;
		default:
			usage();
		}
	}
	argc -= optind;
	argv += optind;
	if (argc < 1 || (fflag && sock != NULL))
		usage();
	cmd = argv[0];
	nargs = argc - 1;

	/* Checked here, so a typo needs no server to be told so. */
	if (strcmp(cmd, "status") == 0) {
		if (nargs == 1 && strcmp(argv[1], "--json") == 0)
			json = 1;
		else if (nargs != 0)
			usage();
	} else if (strcmp(cmd, "stop") == 0 || strcmp(cmd, "start") == 0 ||
	    strcmp(cmd, "recycle") == 0 || strcmp(cmd, "purge") == 0) {
		if (nargs != 1)
			usage();
		if (argv[1][0] == '\0' || strpbrk(argv[1], "\r\n") != NULL) {
			fprintf(stderr, "hsdctl: bad %s\n",
			    strcmp(cmd, "purge") == 0 ? "purge argument" :
			    "pool name");
			exit(1);
		}
	} else if (strcmp(cmd, "stop-server") == 0 ||
	    strcmp(cmd, "reload") == 0 || strcmp(cmd, "reopen") == 0 ||
	    strcmp(cmd, "cache") == 0) {
		if (nargs != 0)
			usage();
	} else {
		fprintf(stderr, "hsdctl: unknown command \"%s\"\n", cmd);
		usage();
	}

	if (sock == NULL)
		sock = hsdctl_socket_from_conf(file);
	fd = hsdctl_connect(sock);
	if ((json ? asprintf(&line, "status-json\n") : nargs == 1 ?
	    asprintf(&line, "%s %s\n", cmd, argv[1]) :
	    asprintf(&line, "%s\n", cmd)) == -1) {
		fprintf(stderr, "hsdctl: out of memory\n");
		exit(1);
	}
	answer = hsdctl_ask(sock, fd, line);
	close(fd);
	free(line);
	rv = hsdctl_print(sock, answer);
	free(answer);
	if (sock != sockarg)
		free(sock);
	return rv;
}
