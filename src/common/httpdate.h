/*
 * HTTP-date (RFC 9110 5.6.7): what Expires, Last-Modified and
 * If-Modified-Since carry.  Every process that reads or writes one uses
 * these, so the cache (hsd-cached) and the listener serving its entries
 * read a date alike.  Computed without the time zone database, which a
 * chrooted process cannot load.
 */
#ifndef HSD_HTTPDATE_H
#define HSD_HTTPDATE_H

#include <stddef.h>
#include <time.h>

/* "Sun, 06 Nov 1994 08:49:37 GMT" */
#define HTTPDATE_LEN	29

/*
 * s (len bytes, surrounding spaces and tabs ignored) as seconds since
 * the epoch: IMF-fixdate, or the obsolete RFC 850 ("Sunday, 06-Nov-94
 * 08:49:37 GMT") and asctime ("Sun Nov  6 08:49:37 1994") forms that
 * recipients must still accept.  An RFC 850 year more than 50 years
 * ahead of now is taken to be in the past century.  The day name is
 * checked to be one, not to fit the date.  0, or -1 if s is none of them.
 */
int	 httpdate_parse(const char *s, size_t len, time_t *t);

/* t as IMF-fixdate into buf, which takes HTTPDATE_LEN + 1 bytes; a time
 * outside years 0 to 9999 is written as the epoch.  Returns buf. */
char	*httpdate_format(char *buf, time_t t);

#endif
