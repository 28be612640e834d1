/*
 * Diagnostics for every hsd process: one line per message on stderr, tagged
 * with the process name and pid, so the pool manager's terminal (or the
 * service manager's journal) shows all processes interleaved.  Request logs
 * are not written here: they belong to hsd-logd.
 */
#ifndef HSD_LOG_H
#define HSD_LOG_H

#include <stdarg.h>
#include <stddef.h>

void	log_init(const char *procname, int verbose);
void	log_setverbose(int verbose);
int	log_getverbose(void);
const char *log_procname(void);
/* Keep every message from now on in buf too (a line each, cut at len),
 * as well as logging it; NULL or 0 stops. */
void	log_capture(char *buf, size_t len);

void	log_warn(const char *, ...) __attribute__((format(printf, 1, 2)));
void	log_warnx(const char *, ...) __attribute__((format(printf, 1, 2)));
void	log_info(const char *, ...) __attribute__((format(printf, 1, 2)));
void	log_debug(const char *, ...) __attribute__((format(printf, 1, 2)));
void	fatal(const char *, ...)
	    __attribute__((format(printf, 1, 2), noreturn));
void	fatalx(const char *, ...)
	    __attribute__((format(printf, 1, 2), noreturn));

#endif
