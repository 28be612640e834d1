/*
 * Diagnostics to stderr, in the style of OpenBSD's log.c: log_warn() adds
 * strerror(errno), fatal() exits.  Each line carries the process name and
 * pid because every hsd process shares the pool manager's stderr.
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"

static const char	*log_name = "hsd";
static int		 log_verbose;
/* log_capture(): messages are also kept here, a line each. */
static char		*log_cap;
static size_t		 log_cap_len, log_cap_off;

void
log_init(const char *procname, int verbose)
{
	log_name = procname;
	log_verbose = verbose;
}

void
log_setverbose(int verbose)
{
	log_verbose = verbose;
}

int
log_getverbose(void)
{
	return log_verbose;
}

const char *
log_procname(void)
{
	return log_name;
}

void
log_capture(char *buf, size_t len)
{
	log_cap = len > 0 ? buf : NULL;
	log_cap_len = len;
	log_cap_off = 0;
	if (log_cap != NULL)
		log_cap[0] = '\0';
}

static void
log_vemit(const char *level, const char *fmt, va_list ap, int errnum)
{
	char	msg[1024];
	int	n;

	vsnprintf(msg, sizeof(msg), fmt, ap);
	if (log_cap != NULL && log_cap_off < log_cap_len) {
		n = snprintf(log_cap + log_cap_off, log_cap_len - log_cap_off,
		    "%s%s%s%s\n", level, msg, errnum ? ": " : "",
		    errnum ? strerror(errnum) : "");
		if (n > 0)
			log_cap_off += (size_t)n;
	}
	if (errnum)
		fprintf(stderr, "%s[%d]: %s%s: %s\n", log_name, (int)getpid(),
		    level, msg, strerror(errnum));
	else
		fprintf(stderr, "%s[%d]: %s%s\n", log_name, (int)getpid(),
		    level, msg);
}

void
log_warn(const char *fmt, ...)
{
	int	saved = errno;
	va_list	ap;

	va_start(ap, fmt);
	log_vemit("", fmt, ap, saved);
	va_end(ap);
	errno = saved;
}

void
log_warnx(const char *fmt, ...)
{
	va_list	ap;

	va_start(ap, fmt);
	log_vemit("", fmt, ap, 0);
	va_end(ap);
}

void
log_info(const char *fmt, ...)
{
	va_list	ap;

	va_start(ap, fmt);
	log_vemit("", fmt, ap, 0);
	va_end(ap);
}

void
log_debug(const char *fmt, ...)
{
	va_list	ap;

	if (!log_verbose)
		return;
	va_start(ap, fmt);
	log_vemit("debug: ", fmt, ap, 0);
	va_end(ap);
}

void
fatal(const char *fmt, ...)
{
	int	saved = errno;
	va_list	ap;

	va_start(ap, fmt);
	log_vemit("fatal: ", fmt, ap, saved);
	va_end(ap);
	exit(1);
}

void
fatalx(const char *fmt, ...)
{
	va_list	ap;

	va_start(ap, fmt);
	log_vemit("fatal: ", fmt, ap, 0);
	va_end(ap);
	exit(1);
}
