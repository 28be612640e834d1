/*
 * The RFC 9112 rules for a request head that http-parser leaves to us.
 * The listener checks every head before it routes one, and the worker
 * checks the head it is handed again, with this same function, so the
 * two can never disagree on what a request is.
 */
#ifndef HSD_HEAD_H
#define HSD_HEAD_H

#include <stddef.h>
#include <stdint.h>

/* What the callers need to know besides the verdict. */
struct head_info {
	uint32_t	hi_host_off;	/* the Host value, OWS trimmed, */
	uint32_t	hi_host_len;	/* as an offset into the head */
	uint8_t		hi_has_host;	/* a Host field, maybe empty */
	uint8_t		hi_options_any;	/* "OPTIONS * HTTP/1.x" */
	/* For the response cache: fields that keep a request from it, and
	 * the conditionals a hit answers (the first of each; a second one
	 * sets HI_MANY). */
	uint16_t	hi_flags;	/* HI_* */
	uint32_t	hi_inm_off;	/* If-None-Match value */
	uint32_t	hi_inm_len;
	uint32_t	hi_ims_off;	/* If-Modified-Since value */
	uint32_t	hi_ims_len;
};

#define HI_AUTH		0x01	/* Authorization */
#define HI_COOKIE	0x02	/* Cookie */
#define HI_RANGE	0x04	/* Range or If-Range */
#define HI_TE		0x08	/* Transfer-Encoding: a body */
#define HI_INM		0x10	/* If-None-Match */
#define HI_IMS		0x20	/* If-Modified-Since */
#define HI_MANY		0x40	/* a conditional twice */

/*
 * head is a complete request head of exactly len bytes: any empty lines
 * before the request line, the request line, the header lines and the
 * empty line that ends them.  Returns 0 if it is acceptable, else the
 * status to answer (400, 501, 505).  info may be NULL; it is filled in
 * only when 0 is returned.
 */
int	head_check(const char *head, size_t len, struct head_info *info);

/*
 * Does the entity-tag list s (If-None-Match, or If-Range's single tag)
 * name etag (a quoted opaque tag, "x")?  "*" matches anything when
 * star_ok; a weak tag W/"x" matches only when weak_ok (the weak
 * comparison, RFC 9110 8.8.3.2).  Anything malformed matches nothing.
 * The worker and the listener's cache hits answer conditionals alike.
 */
int	head_etag_match(const char *s, size_t len, const char *etag,
	    size_t etlen, int weak_ok, int star_ok);

#endif
