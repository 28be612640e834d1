/*
 * hsd-logd's formats: log records (logrec.h) as the lines IIS and Apache
 * write, and the names of the files they go to.  Pure functions of their
 * arguments (the clock is an argument), so tests can pin every byte.
 *
 *	W3C extended	IIS's: a #Software, #Version, #Date, #Fields block
 *			at the top of each file and whenever the fields
 *			change; UTC; a field's spaces written as '+', an
 *			empty field as '-'.
 *	NCSA		Apache's common and combined formats, local time.
 *	HTTPERR		IIS's error log: W3C-style, fixed fields.
 *
 * Lines end with "\n".  Bytes a client sent that are not printable ASCII
 * are written escaped, so one record is always exactly one line.
 */
#ifndef HSD_LOGD_FORMAT_H
#define HSD_LOGD_FORMAT_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "conf.h"

struct evbuffer;
struct logrec_view;

/* The directives that open a W3C file (or a new field set): #Software,
 * #Version: 1.0, #Date: (now, UTC), #Fields: (fields, in enum order). */
void	logfmt_w3c_header(struct evbuffer *, uint32_t fields, time_t now);
/* One W3C line of the fields set in fields.  computername is for
 * s-computername, the site name comes from the record. */
void	logfmt_w3c(struct evbuffer *, const struct logrec_view *,
	    uint32_t fields, const char *computername);
/* One NCSA line: common, or combined (Referer and User-Agent added),
 * its time in the local time zone, as Apache writes it. */
void	logfmt_ncsa(struct evbuffer *, const struct logrec_view *,
	    int combined);
/* The HTTPERR file's directives, and one of its lines. */
void	logfmt_httperr_header(struct evbuffer *, time_t now);
void	logfmt_httperr(struct evbuffer *, const struct logrec_view *);
/* "#Remark: text" -- a W3C directive every analyser skips. */
void	logfmt_remark(struct evbuffer *, const char *text);

/*
 * The name of the file a record of time t goes to, IIS's names: W3C
 * u_exYYMMDD.log (daily), u_exYYMMDDHH.log (hourly), u_exYYMMWW.log
 * (weekly, WW the week of the month, 01 to 05), u_exYYMM.log (monthly),
 * u_extendN.log (size, N = seq); NCSA and combined the same with "nc"
 * for "u_ex" and ncextendN.log.  By local time if local_time, else UTC.
 * 0, or -1 if it does not fit.
 */
int	logfmt_file_name(char *buf, size_t len, enum conf_log_format,
	    enum conf_rollover, int local_time, time_t t, unsigned int seq);
/* When the period holding t ends (the next file's start); for
 * CONF_ROLL_SIZE, (time_t)-1: it never ends by time. */
time_t	logfmt_period_end(enum conf_rollover, int local_time, time_t t);
/* "httperr1.log", "httperr2.log", ... */
int	logfmt_httperr_name(char *buf, size_t len, unsigned int seq);

#endif
