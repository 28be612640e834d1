/*
 * hsd-logd's formats (format.h): log records as IIS's W3C extended and
 * HTTPERR lines and Apache's common and combined lines, and the names of
 * the files they go to.  Pure functions: the record, the field set and
 * the clock are arguments, the only state is libc's time zone.  Every
 * byte a client sent goes through one of two escapes, so a record is one
 * line of printable ASCII whatever it held.
 */
#include "config.h"

#include <sys/socket.h>
#include <netinet/in.h>
#include <arpa/inet.h>

#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <event2/buffer.h>

#include "conf.h"
#include "logrec.h"
#include "format.h"

/* English whatever the locale: NCSA analysers parse these. */
static const char *const logfmt_months[12] = {
	"Jan", "Feb", "Mar", "Apr", "May", "Jun",
	"Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
};

static const char logfmt_hex_upper[] = "0123456789ABCDEF";
static const char logfmt_hex_lower[] = "0123456789abcdef";

#define LOGFMT_HTTPERR_FIELDS						\
	"date time c-ip c-port s-ip s-port cs-version cs-method cs-uri "	\
	"sc-status s-siteid s-reason s-queuename"

/*
 * A W3C field: '-' if empty (W3C's "no value"), spaces as '+' (IIS's
 * way; fields are space-separated), control bytes and bytes from 0x7f
 * as %XX.  '%' and '+' stay: a percent-encoded URL stays readable and
 * what the client sent is not rewritten beyond what a line needs.
 */
static void
logfmt_w3c_str(struct evbuffer *b, const char *s, size_t len)
{
	const unsigned char	*p = (const unsigned char *)s;
	size_t			 i, run;
	char			 esc[3];

	if (len == 0) {
		evbuffer_add(b, "-", 1);
		return;
	}
	for (i = 0; i < len; ) {
		for (run = i; run < len && p[run] > 0x20 && p[run] < 0x7f;
		    run++)
			;
		if (run > i)
			evbuffer_add(b, p + i, run - i);
		if (run == len)
			break;
		if (p[run] == ' ')
			evbuffer_add(b, "+", 1);
		else {
			esc[0] = '%';
			esc[1] = logfmt_hex_upper[p[run] >> 4];
			esc[2] = logfmt_hex_upper[p[run] & 0xf];
			evbuffer_add(b, esc, 3);
		}
		i = run + 1;
	}
}

static void
logfmt_w3c_cstr(struct evbuffer *b, const char *s)
{
	logfmt_w3c_str(b, s, s == NULL ? 0 : strlen(s));
}

/*
 * Apache's ap_escape_logitem(): inside NCSA's quoted strings '"' and
 * '\' get a backslash, \b \n \r \t \v are written so, every other byte
 * that is not printable ASCII as \xhh.  Spaces stay.
 */
static void
logfmt_ncsa_str(struct evbuffer *b, const char *s, size_t len)
{
	const unsigned char	*p = (const unsigned char *)s;
	size_t			 i, run;
	char			 esc[4];
	size_t			 n;

	for (i = 0; i < len; ) {
		for (run = i; run < len && p[run] >= 0x20 && p[run] < 0x7f &&
		    p[run] != '"' && p[run] != '\\'; run++)
			;
		if (run > i)
			evbuffer_add(b, p + i, run - i);
		if (run == len)
			break;
		esc[0] = '\\';
		n = 2;
		switch (p[run]) {
		case '\b':
			esc[1] = 'b';
			break;
		case '\n':
			esc[1] = 'n';
			break;
		case '\r':
			esc[1] = 'r';
			break;
		case '\t':
			esc[1] = 't';
			break;
		case '\v':
			esc[1] = 'v';
			break;
		case '"':
		case '\\':
			esc[1] = (char)p[run];
			break;
		default:
			esc[1] = 'x';
			esc[2] = logfmt_hex_lower[p[run] >> 4];
			esc[3] = logfmt_hex_lower[p[run] & 0xf];
			n = 4;
			break;
		}
		evbuffer_add(b, esc, n);
		i = run + 1;
	}
}

/* An NCSA field outside quotes: '-' when empty. */
static void
logfmt_ncsa_field(struct evbuffer *b, const char *s, size_t len)
{
	if (len == 0)
		evbuffer_add(b, "-", 1);
	else
		logfmt_ncsa_str(b, s, len);
}

/* A quoted NCSA string: "-" inside the quotes when empty, as Apache. */
static void
logfmt_ncsa_quoted(struct evbuffer *b, const char *s, size_t len)
{
	evbuffer_add(b, "\"", 1);
	logfmt_ncsa_field(b, s, len);
	evbuffer_add(b, "\"", 1);
}

static void
logfmt_addr(struct evbuffer *b, int family, const uint8_t *addr)
{
	char	buf[INET6_ADDRSTRLEN];

	if ((family != AF_INET && family != AF_INET6) ||
	    inet_ntop(family, addr, buf, sizeof(buf)) == NULL) {
		evbuffer_add(b, "-", 1);
		return;
	}
	evbuffer_add(b, buf, strlen(buf));
}

/* A port is only meaningful next to an address. */
static void
logfmt_port(struct evbuffer *b, int family, unsigned int port)
{
	if (family != AF_INET && family != AF_INET6)
		evbuffer_add(b, "-", 1);
	else
		evbuffer_add_printf(b, "%u", port);
}

static void
logfmt_version(struct evbuffer *b, const struct logrec *lr)
{
	if (lr->lr_http_major == 0 && lr->lr_http_minor == 0)
		evbuffer_add(b, "-", 1);
	else
		evbuffer_add_printf(b, "HTTP/%u.%u", lr->lr_http_major,
		    lr->lr_http_minor);
}

static void
logfmt_status(struct evbuffer *b, unsigned int status)
{
	if (status == 0)
		evbuffer_add(b, "-", 1);
	else
		evbuffer_add_printf(b, "%u", status);
}

/* The record's second, rounded down (also before 1970). */
static time_t
logfmt_rec_time(const struct logrec *lr)
{
	int64_t	us = lr->lr_time_us;
	int64_t	s = us / 1000000;

	if (us % 1000000 < 0)
		s--;
	return (time_t)s;
}

/* "YYYY-MM-DD" sep "HH:MM:SS" in UTC; "-" sep "-" if t cannot be. */
static void
logfmt_utc(struct evbuffer *b, time_t t, int want_date, int want_time,
    const char *sep)
{
	struct tm	tm;
	int		ok;

	ok = gmtime_r(&t, &tm) != NULL;
	if (want_date) {
		if (ok)
			evbuffer_add_printf(b, "%04d-%02d-%02d",
			    tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday);
		else
			evbuffer_add(b, "-", 1);
	}
	if (want_date && want_time)
		evbuffer_add(b, sep, strlen(sep));
	if (want_time) {
		if (ok)
			evbuffer_add_printf(b, "%02d:%02d:%02d",
			    tm.tm_hour, tm.tm_min, tm.tm_sec);
		else
			evbuffer_add(b, "-", 1);
	}
}

static void
logfmt_directives(struct evbuffer *b, time_t now)
{
	evbuffer_add_printf(b, "#Software: hsd %s\n#Version: 1.0\n#Date: ",
	    PACKAGE_VERSION);
	logfmt_utc(b, now, 1, 1, " ");
	evbuffer_add(b, "\n", 1);
}

/*
 * The stem and query of a request target.  An absolute-form target
 * ("http://host/p?q") loses its scheme and authority, as IIS logs it: the
 * stem is "/p" ("/" when the path is empty).  Anything else (origin-form,
 * "*", a CONNECT's authority-form) is the stem as it stands.
 */
static void
logfmt_split_target(const char *t, size_t len, const char **stem,
    size_t *stem_len, const char **query, size_t *query_len)
{
	const char	*q;
	size_t		 i, path;

	q = memchr(t, '?', len);
	*stem = t;
	*stem_len = q == NULL ? len : (size_t)(q - t);
	*query = q == NULL ? "" : q + 1;
	*query_len = q == NULL ? 0 : len - (size_t)(q - t) - 1;

	/* scheme "://" authority, the scheme starting with a letter. */
	if (*stem_len == 0 || !((t[0] | 0x20) >= 'a' && (t[0] | 0x20) <= 'z'))
		return;
	for (i = 1; i < *stem_len; i++) {
		unsigned char	c = (unsigned char)t[i];

		if (!(((c | 0x20) >= 'a' && (c | 0x20) <= 'z') ||
		    (c >= '0' && c <= '9') || c == '+' || c == '-' ||
		    c == '.'))
			break;
	}
	if (i + 3 > *stem_len || memcmp(t + i, "://", 3) != 0)
		return;
	for (path = i + 3; path < *stem_len && t[path] != '/'; path++)
		;
	if (path == *stem_len) {
		*stem = "/";
		*stem_len = 1;
	} else {
		*stem = t + path;
		*stem_len -= path;
	}
}

void
logfmt_w3c_header(struct evbuffer *b, uint32_t fields, time_t now)
{
	unsigned int	i;

	logfmt_directives(b, now);
	evbuffer_add(b, "#Fields:", 8);
	for (i = 0; i < W3C_NFIELDS; i++)
		if (fields & (1u << i))
			evbuffer_add_printf(b, " %s", conf_w3c_names[i]);
	evbuffer_add(b, "\n", 1);
}

void
logfmt_w3c(struct evbuffer *b, const struct logrec_view *v, uint32_t fields,
    const char *computername)
{
	const struct logrec	*lr = &v->lv_rec;
	const char		*stem, *query;
	size_t			 stem_len, query_len;
	time_t			 t;
	unsigned int		 i, n = 0;

	t = logfmt_rec_time(lr);
	logfmt_split_target(v->lv_str[LRS_TARGET], v->lv_slen[LRS_TARGET],
	    &stem, &stem_len, &query, &query_len);
	for (i = 0; i < W3C_NFIELDS; i++) {
		if (!(fields & (1u << i)))
			continue;
		if (n++ > 0)
			evbuffer_add(b, " ", 1);
		switch ((enum conf_w3c_field)i) {
		case W3C_DATE:
			logfmt_utc(b, t, 1, 0, "");
			break;
		case W3C_TIME:
			logfmt_utc(b, t, 0, 1, "");
			break;
		case W3C_S_SITENAME:
			logfmt_w3c_str(b, v->lv_str[LRS_SITE],
			    v->lv_slen[LRS_SITE]);
			break;
		case W3C_S_COMPUTERNAME:
			logfmt_w3c_cstr(b, computername);
			break;
		case W3C_S_IP:
			logfmt_addr(b, lr->lr_family, lr->lr_saddr);
			break;
		case W3C_CS_METHOD:
			logfmt_w3c_str(b, v->lv_str[LRS_METHOD],
			    v->lv_slen[LRS_METHOD]);
			break;
		case W3C_CS_URI_STEM:
			logfmt_w3c_str(b, stem, stem_len);
			break;
		case W3C_CS_URI_QUERY:
			logfmt_w3c_str(b, query, query_len);
			break;
		case W3C_S_PORT:
			logfmt_port(b, lr->lr_family, lr->lr_sport);
			break;
		case W3C_CS_USERNAME:
			logfmt_w3c_str(b, v->lv_str[LRS_USERNAME],
			    v->lv_slen[LRS_USERNAME]);
			break;
		case W3C_C_IP:
			logfmt_addr(b, lr->lr_family, lr->lr_caddr);
			break;
		case W3C_CS_VERSION:
			logfmt_version(b, lr);
			break;
		case W3C_CS_USER_AGENT:
			logfmt_w3c_str(b, v->lv_str[LRS_USER_AGENT],
			    v->lv_slen[LRS_USER_AGENT]);
			break;
		case W3C_CS_COOKIE:
			logfmt_w3c_str(b, v->lv_str[LRS_COOKIE],
			    v->lv_slen[LRS_COOKIE]);
			break;
		case W3C_CS_REFERER:
			logfmt_w3c_str(b, v->lv_str[LRS_REFERER],
			    v->lv_slen[LRS_REFERER]);
			break;
		case W3C_CS_HOST:
			logfmt_w3c_str(b, v->lv_str[LRS_HOST],
			    v->lv_slen[LRS_HOST]);
			break;
		case W3C_SC_STATUS:
			logfmt_status(b, lr->lr_status);
			break;
		case W3C_SC_SUBSTATUS:
			evbuffer_add_printf(b, "%u", lr->lr_substatus);
			break;
		case W3C_SC_WIN32_STATUS:
			evbuffer_add_printf(b, "%" PRIu32, lr->lr_win32);
			break;
		case W3C_SC_BYTES:
			evbuffer_add_printf(b, "%" PRIu64, lr->lr_sc_bytes);
			break;
		case W3C_CS_BYTES:
			evbuffer_add_printf(b, "%" PRIu64, lr->lr_cs_bytes);
			break;
		case W3C_TIME_TAKEN:
			evbuffer_add_printf(b, "%" PRIu64, lr->lr_taken_ms);
			break;
		case W3C_NFIELDS:
			break;
		}
	}
	evbuffer_add(b, "\n", 1);
}

/* Apache's %t: [10/Oct/2000:13:55:36 -0700], local time. */
static void
logfmt_ncsa_time(struct evbuffer *b, time_t t)
{
	struct tm	tm;
	char		zone[16];

	if (localtime_r(&t, &tm) == NULL ||
	    strftime(zone, sizeof(zone), "%z", &tm) == 0) {
		evbuffer_add(b, "[-]", 3);
		return;
	}
	evbuffer_add_printf(b, "[%02d/%s/%04d:%02d:%02d:%02d %s]",
	    tm.tm_mday, logfmt_months[tm.tm_mon], tm.tm_year + 1900,
	    tm.tm_hour, tm.tm_min, tm.tm_sec, zone);
}

void
logfmt_ncsa(struct evbuffer *b, const struct logrec_view *v, int combined)
{
	const struct logrec	*lr = &v->lv_rec;
	uint64_t		 body;

	/* %h %l %u */
	logfmt_addr(b, lr->lr_family, lr->lr_caddr);
	evbuffer_add(b, " - ", 3);
	logfmt_ncsa_field(b, v->lv_str[LRS_USERNAME],
	    v->lv_slen[LRS_USERNAME]);
	evbuffer_add(b, " ", 1);
	logfmt_ncsa_time(b, logfmt_rec_time(lr));

	/* "%r": the request line as it came, "-" without one. */
	evbuffer_add(b, " \"", 2);
	if (v->lv_slen[LRS_METHOD] == 0)
		evbuffer_add(b, "-", 1);
	else {
		logfmt_ncsa_str(b, v->lv_str[LRS_METHOD],
		    v->lv_slen[LRS_METHOD]);
		evbuffer_add(b, " ", 1);
		logfmt_ncsa_str(b, v->lv_str[LRS_TARGET],
		    v->lv_slen[LRS_TARGET]);
		if (lr->lr_http_major != 0 || lr->lr_http_minor != 0)
			evbuffer_add_printf(b, " HTTP/%u.%u",
			    lr->lr_http_major, lr->lr_http_minor);
	}
	evbuffer_add(b, "\" ", 2);

	/* %>s %b: the body's bytes, the head's not counted */
	logfmt_status(b, lr->lr_status);
	body = lr->lr_sc_head <= lr->lr_sc_bytes ?
	    lr->lr_sc_bytes - lr->lr_sc_head : lr->lr_sc_bytes;
	if (body == 0)
		evbuffer_add(b, " -", 2);
	else
		evbuffer_add_printf(b, " %" PRIu64, body);

	if (combined) {
		evbuffer_add(b, " ", 1);
		logfmt_ncsa_quoted(b, v->lv_str[LRS_REFERER],
		    v->lv_slen[LRS_REFERER]);
		evbuffer_add(b, " ", 1);
		logfmt_ncsa_quoted(b, v->lv_str[LRS_USER_AGENT],
		    v->lv_slen[LRS_USER_AGENT]);
	}
	evbuffer_add(b, "\n", 1);
}

void
logfmt_httperr_header(struct evbuffer *b, time_t now)
{
	logfmt_directives(b, now);
	evbuffer_add(b, "#Fields: " LOGFMT_HTTPERR_FIELDS "\n",
	    strlen("#Fields: " LOGFMT_HTTPERR_FIELDS "\n"));
}

void
logfmt_httperr(struct evbuffer *b, const struct logrec_view *v)
{
	const struct logrec	*lr = &v->lv_rec;

	logfmt_utc(b, logfmt_rec_time(lr), 1, 1, " ");
	evbuffer_add(b, " ", 1);
	logfmt_addr(b, lr->lr_family, lr->lr_caddr);
	evbuffer_add(b, " ", 1);
	logfmt_port(b, lr->lr_family, lr->lr_cport);
	evbuffer_add(b, " ", 1);
	logfmt_addr(b, lr->lr_family, lr->lr_saddr);
	evbuffer_add(b, " ", 1);
	logfmt_port(b, lr->lr_family, lr->lr_sport);
	evbuffer_add(b, " ", 1);
	logfmt_version(b, lr);
	evbuffer_add(b, " ", 1);
	logfmt_w3c_str(b, v->lv_str[LRS_METHOD], v->lv_slen[LRS_METHOD]);
	evbuffer_add(b, " ", 1);
	logfmt_w3c_str(b, v->lv_str[LRS_TARGET], v->lv_slen[LRS_TARGET]);
	evbuffer_add(b, " ", 1);
	logfmt_status(b, lr->lr_status);
	evbuffer_add(b, " ", 1);
	logfmt_w3c_str(b, v->lv_str[LRS_SITE], v->lv_slen[LRS_SITE]);
	evbuffer_add(b, " ", 1);
	logfmt_w3c_cstr(b, logrec_reason_name(lr->lr_reason));
	evbuffer_add(b, " ", 1);
	logfmt_w3c_str(b, v->lv_str[LRS_QUEUE], v->lv_slen[LRS_QUEUE]);
	evbuffer_add(b, "\n", 1);
}

/* The text is ours, not a client's, but must stay one line all the same. */
void
logfmt_remark(struct evbuffer *b, const char *text)
{
	const unsigned char	*p = (const unsigned char *)text;
	char			 esc[3];

	evbuffer_add(b, "#Remark: ", 9);
	for (; p != NULL && *p != '\0'; p++) {
		if (*p >= 0x20 && *p < 0x7f)
			evbuffer_add(b, p, 1);
		else {
			esc[0] = '%';
			esc[1] = logfmt_hex_upper[*p >> 4];
			esc[2] = logfmt_hex_upper[*p & 0xf];
			evbuffer_add(b, esc, 3);
		}
	}
	evbuffer_add(b, "\n", 1);
}

static int
logfmt_tm(int local_time, time_t t, struct tm *tm)
{
	if (local_time)
		return localtime_r(&t, tm) == NULL ? -1 : 0;
	return gmtime_r(&t, tm) == NULL ? -1 : 0;
}

int
logfmt_file_name(char *buf, size_t len, enum conf_log_format format,
    enum conf_rollover rollover, int local_time, time_t t, unsigned int seq)
{
	struct tm	 tm;
	const char	*prefix, *size_prefix;
	int		 n;

	/* IIS's: u_ex240305.log but u_extend1.log; nc240305.log and
	 * ncextend1.log. */
	switch (format) {
	case CONF_LOG_W3C:
		prefix = "u_ex";
		size_prefix = "u_extend";
		break;
	case CONF_LOG_NCSA:
	case CONF_LOG_COMBINED:
		prefix = "nc";
		size_prefix = "ncextend";
		break;
	default:
		return -1;
	}
	if (rollover == CONF_ROLL_SIZE)
		n = snprintf(buf, len, "%s%u.log", size_prefix, seq);
	else {
		if (logfmt_tm(local_time, t, &tm) == -1)
			return -1;
		switch (rollover) {
		case CONF_ROLL_HOURLY:
			n = snprintf(buf, len, "%s%02d%02d%02d%02d.log",
			    prefix, tm.tm_year % 100, tm.tm_mon + 1,
			    tm.tm_mday, tm.tm_hour);
			break;
		case CONF_ROLL_DAILY:
			n = snprintf(buf, len, "%s%02d%02d%02d.log", prefix,
			    tm.tm_year % 100, tm.tm_mon + 1, tm.tm_mday);
			break;
		case CONF_ROLL_WEEKLY:
			n = snprintf(buf, len, "%s%02d%02d%02d.log", prefix,
			    tm.tm_year % 100, tm.tm_mon + 1,
			    (tm.tm_mday - 1) / 7 + 1);
			break;
		case CONF_ROLL_MONTHLY:
			n = snprintf(buf, len, "%s%02d%02d.log", prefix,
			    tm.tm_year % 100, tm.tm_mon + 1);
			break;
		default:
			return -1;
		}
	}
	if (n < 0 || (size_t)n >= len)
		return -1;
	return 0;
}

/* Whether a and b go to the same file: the same period. */
static int
logfmt_same_period(enum conf_rollover rollover, int local_time, time_t a,
    time_t b)
{
	char	na[32], nb[32];

	if (logfmt_file_name(na, sizeof(na), CONF_LOG_W3C, rollover,
	    local_time, a, 0) == -1 ||
	    logfmt_file_name(nb, sizeof(nb), CONF_LOG_W3C, rollover,
	    local_time, b, 0) == -1)
		return 0;
	return strcmp(na, nb) == 0;
}

/*
 * The start of the next period, computed on the broken-down time and
 * normalised back by timegm() or mktime(): day 29 of a 28-day February
 * becomes March 1st, hour 24 the next day.  In local time the clock
 * time can be ambiguous or missing on a DST change, so mktime() is asked
 * for it as standard, daylight and "guess", and the answer is the first
 * that comes after t and is in another period (another file name): the
 * repeated hour goes on in the same file, a skipped one is skipped.
 */
time_t
logfmt_period_end(enum conf_rollover rollover, int local_time, time_t t)
{
	struct tm	tm, cand;
	time_t		end, c;
	int		week, isdst;

	if (rollover == CONF_ROLL_SIZE)
		return (time_t)-1;
	if (logfmt_tm(local_time, t, &tm) == -1)
		return (time_t)-1;
	tm.tm_sec = 0;
	tm.tm_min = 0;
	switch (rollover) {
	case CONF_ROLL_HOURLY:
		tm.tm_hour++;
		break;
	case CONF_ROLL_DAILY:
		tm.tm_hour = 0;
		tm.tm_mday++;
		break;
	case CONF_ROLL_WEEKLY:
		tm.tm_hour = 0;
		week = (tm.tm_mday - 1) / 7;
		if (week < 4)
			tm.tm_mday = (week + 1) * 7 + 1;
		else {
			tm.tm_mday = 1;
			tm.tm_mon++;
		}
		break;
	case CONF_ROLL_MONTHLY:
		tm.tm_hour = 0;
		tm.tm_mday = 1;
		tm.tm_mon++;
		break;
	default:
		return (time_t)-1;
	}
	if (!local_time) {
		end = timegm(&tm);
		return end > t ? end : (time_t)-1;
	}
	end = (time_t)-1;
	for (isdst = -1; isdst <= 1; isdst++) {
		cand = tm;
		cand.tm_isdst = isdst;
		if ((c = mktime(&cand)) == (time_t)-1 || c <= t ||
		    logfmt_same_period(rollover, 1, c, t))
			continue;
		if (end == (time_t)-1 || c < end)
			end = c;
	}
	return end;
}

int
logfmt_httperr_name(char *buf, size_t len, unsigned int seq)
{
	int	n;

	n = snprintf(buf, len, "httperr%u.log", seq);
	if (n < 0 || (size_t)n >= len)
		return -1;
	return 0;
}
