/*
 * Whether a response head may be cached, and for how long: the rules
 * hsd-cached applies to the head a worker offers (msg.h, "The response
 * cache").  Pure: the bytes, the limits and the time in, the verdict
 * out, so every rule can be tested on its own.
 */
#ifndef HSD_ADMIT_H
#define HSD_ADMIT_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

struct conf_cache;

/* What the entry needs from its head, when admitted; why not, when not. */
struct admit_info {
	uint64_t	 ai_ttl_ms;	/* > 0, at most cc_max_ttl_ms */
	uint32_t	 ai_etag_off;	/* ETag's value (OWS trimmed), */
	uint32_t	 ai_etag_len;	/* as an offset into the head; 0: none */
	uint32_t	 ai_lm_off;	/* Last-Modified's, alike */
	uint32_t	 ai_lm_len;
	int64_t		 ai_lm_time;	/* it parsed; -1: none or unparseable */
	int		 ai_reason;	/* enum cache_reason, when refused */
	const char	*ai_why;	/* the rule that refused, for the log */
};

/*
 * head is the offered head, len bytes: a status line and header lines,
 * each ending in CRLF, no empty line.  body_len is the body's length,
 * now the wall clock (for Expires).  0 if it may be cached (info filled
 * in), else -1 with ai_reason and ai_why set.  A head that breaks the
 * syntax is CR_INVALID whatever else it says; otherwise the first rule
 * broken, in the order of the head, gives the reason.
 */
int	admit_head(const char *head, size_t len, uint64_t body_len, time_t now,
	    const struct conf_cache *, struct admit_info *info);

#endif
