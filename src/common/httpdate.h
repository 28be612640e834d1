/*
 * HTTP-date (RFC 9110 5.6.7): IMF-fixdate written, and read along with
 * the two obsolete forms a recipient must accept.
 */
#ifndef HSD_HTTPDATE_H
#define HSD_HTTPDATE_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

/* "Sun, 06 Nov 1994 08:49:37 GMT" */
#define HTTPDATE_LEN	29

/* buf gets HTTPDATE_LEN characters and a NUL. */
void	httpdate_format(time_t, char *buf);
/* Seconds since the epoch, or -1 if s is not an HTTP-date. */
int64_t	httpdate_parse(const char *s, size_t len);

#endif
