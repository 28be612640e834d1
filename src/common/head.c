/*
 * Request heads against RFC 9112, in one pass over the bytes and without
 * allocating: it runs on every request, in the listener and again in the
 * worker.  http-parser 2.9 accepts more than RFC 9112 allows: a request
 * line without a version (as HTTP/0.9), runs of spaces between its parts,
 * obs-fold, whitespace before the first field or before a colon, any Host
 * and any number of them, Transfer-Encoding in HTTP/1.0 or without chunked
 * last.  What one parser lets through another (a proxy in front of us, a
 * handler behind us) may read differently, so the grammar of the whole
 * head is checked here, strictly; what http-parser refuses already costs
 * nothing extra to refuse again.
 *
 * Line endings: RFC 9112 2.2 lets a server take a bare LF for CRLF, and
 * http-parser does, so we do too, but for a whole head only: the request
 * line's ending sets the rule for every line after it.  A bare LF inside a
 * CRLF head is what a smuggler sends to a chain where one hop ends lines
 * at LF and another does not.  A bare CR never ends a line.
 */
#include "config.h"

#include <sys/types.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <arpa/inet.h>

#include <string.h>
#include <strings.h>

#include "head.h"

#define HEAD_TOKEN	0x01	/* tchar (RFC 9110 5.6.2) */
#define HEAD_VALUE	0x02	/* field-vchar, SP, HTAB, obs-text */
#define HEAD_HOST	0x04	/* reg-name: unreserved, sub-delims */

static const uint8_t head_chars[256] = {
	0, 0, 0, 0, 0, 0, 0, 0, 0, 2, 0, 0, 0, 0, 0, 0,	/* 0x00 */
	0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,	/* 0x10 */
	2, 7, 2, 3, 7, 3, 7, 7, 6, 6, 7, 7, 6, 7, 7, 2,	/* 0x20 */
	7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 2, 6, 2, 6, 2, 2,	/* 0x30 */
	2, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7,	/* 0x40 */
	7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 2, 2, 2, 3, 7,	/* 0x50 */
	3, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7,	/* 0x60 */
	7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 2, 3, 2, 7, 0,	/* 0x70 */
	2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2,	/* 0x80 */
	2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2,	/* 0x90 */
	2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2,	/* 0xa0 */
	2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2,	/* 0xb0 */
	2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2,	/* 0xc0 */
	2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2,	/* 0xd0 */
	2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2,	/* 0xe0 */
	2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2,	/* 0xf0 */
};

/* Transfer-Encoding, over all its field lines: they make one list. */
struct head_te {
	unsigned	te_n;		/* codings seen */
	unsigned	te_bad;		/* not a list we can read */
	unsigned	te_inner_chunked; /* chunked, then another coding */
	unsigned	te_last_chunked;
	unsigned	te_unknown;	/* a coding nobody registered */
};

#define HEAD_DIGIT(c)	((c) >= '0' && (c) <= '9')
#define HEAD_XDIGIT(c)	(HEAD_DIGIT(c) || (((c) | 0x20) >= 'a' && \
			    ((c) | 0x20) <= 'f'))

/* The end of the line at p, or NULL if p is not at a line ending. */
static const unsigned char *
head_eol(const unsigned char *p, const unsigned char *e, int crlf)
{
	if (crlf)
		return e - p >= 2 && p[0] == '\r' && p[1] == '\n' ? p + 2 : NULL;
	return p < e && p[0] == '\n' ? p + 1 : NULL;
}

/* uri-host [ ":" port ] (RFC 9110 7.2); both parts may be empty. */
static int
head_host_ok(const unsigned char *p, size_t len)
{
	const unsigned char	*e = p + len, *q;
	char			 addr[INET6_ADDRSTRLEN];
	struct in6_addr		 in6;

	if (p < e && *p == '[') {
		/* IP-literal: IPv6 only, IPvFuture names nothing we bind. */
		if ((q = memchr(p, ']', len)) == NULL ||
		    (size_t)(q - p - 1) >= sizeof(addr))
			return 0;
		memcpy(addr, p + 1, q - p - 1);
		addr[q - p - 1] = '\0';
		if (inet_pton(AF_INET6, addr, &in6) != 1)
			return 0;
		p = q + 1;
	} else {
		/* reg-name, which takes in IPv4address too */
		while (p < e) {
			if (head_chars[*p] & HEAD_HOST)
				p++;
			else if (*p == '%' && e - p >= 3 &&
			    HEAD_XDIGIT(p[1]) && HEAD_XDIGIT(p[2]))
				p += 3;
			else
				break;
		}
	}
	if (p < e && *p == ':')
		for (p++; p < e && HEAD_DIGIT(*p); p++)
			;
	return p == e;
}

/* Codings that exist, even if we decode none of them. */
static int
head_te_known(const unsigned char *s, size_t n)
{
	static const char *const known[] = {
		"gzip", "x-gzip", "deflate", "compress", "x-compress"
	};
	size_t	i;

	for (i = 0; i < sizeof(known) / sizeof(known[0]); i++)
		if (n == strlen(known[i]) &&
		    strncasecmp((const char *)s, known[i], n) == 0)
			return 1;
	return 0;
}

static const unsigned char *
head_token(const unsigned char *p, const unsigned char *e)
{
	while (p < e && (head_chars[*p] & HEAD_TOKEN))
		p++;
	return p;
}

/*
 * One Transfer-Encoding value: 1#( token *( OWS ";" OWS token "=" token ) ).
 * Stricter than RFC 9112 where http-parser is: it frames the body, and it
 * takes chunked as final only when nothing but spaces follows "chunked",
 * so empty list elements, HTAB, quoted parameter values and parameters on
 * chunked are refused rather than read two ways.
 */
static void
head_te(struct head_te *te, const unsigned char *p, const unsigned char *e)
{
	const unsigned char	*c, *q;

	for (;;) {
		c = p;
		if ((p = head_token(p, e)) == c) {
			te->te_bad = 1;
			return;
		}
		if (te->te_last_chunked)
			te->te_inner_chunked = 1;
		te->te_n++;
		te->te_last_chunked = p - c == 7 &&
		    strncasecmp((const char *)c, "chunked", 7) == 0;
		if (!te->te_last_chunked && !head_te_known(c, p - c))
			te->te_unknown = 1;
		for (;;) {
			for (q = p; q < e && *q == ' '; q++)
				;
			if (q == e || *q != ';')
				break;
			if (te->te_last_chunked) {
				te->te_bad = 1;
				return;
			}
			for (p = q + 1; p < e && *p == ' '; p++)
				;
			c = p;
			if ((p = head_token(p, e)) == c || p == e ||
			    *p != '=' || (c = ++p, p = head_token(p, e)) == c) {
				te->te_bad = 1;
				return;
			}
		}
		while (p < e && *p == ' ')
			p++;
		if (p == e)
			return;
		if (*p++ != ',') {
			te->te_bad = 1;
			return;
		}
		while (p < e && *p == ' ')
			p++;
	}
}

/* What the response cache needs to know of a field. */
static void
head_cache_field(struct head_info *hi, const char *head,
    const unsigned char *name, size_t nlen, const unsigned char *v,
    const unsigned char *ve)
{
	const char	*n = (const char *)name;

	while (ve > v && (ve[-1] == ' ' || ve[-1] == '\t'))
		ve--;
	if (nlen == 13 && strncasecmp(n, "authorization", 13) == 0)
		hi->hi_flags |= HI_AUTH;
	else if (nlen == 6 && strncasecmp(n, "cookie", 6) == 0)
		hi->hi_flags |= HI_COOKIE;
	else if ((nlen == 5 && strncasecmp(n, "range", 5) == 0) ||
	    (nlen == 8 && strncasecmp(n, "if-range", 8) == 0))
		hi->hi_flags |= HI_RANGE;
	else if (nlen == 13 && strncasecmp(n, "if-none-match", 13) == 0) {
		if (hi->hi_flags & HI_INM)
			hi->hi_flags |= HI_MANY;
		hi->hi_flags |= HI_INM;
		hi->hi_inm_off = v - (const unsigned char *)head;
		hi->hi_inm_len = ve - v;
	} else if (nlen == 17 && strncasecmp(n, "if-modified-since", 17) == 0) {
		if (hi->hi_flags & HI_IMS)
			hi->hi_flags |= HI_MANY;
		hi->hi_flags |= HI_IMS;
		hi->hi_ims_off = v - (const unsigned char *)head;
		hi->hi_ims_len = ve - v;
	}
}

int
head_check(const char *head, size_t len, struct head_info *info)
{
	const unsigned char	*p = (const unsigned char *)head, *e = p + len;
	const unsigned char	*m, *t, *name, *v, *ve;
	struct head_info	 hi;
	struct head_te		 te;
	size_t			 mlen, tlen, nlen;
	int			 crlf, major, minor, nhost = 0, nte = 0;

	memset(&hi, 0, sizeof(hi));
	memset(&te, 0, sizeof(te));

	/* Empty lines before the request line are ignored (RFC 9112 2.2). */
	for (;;) {
		if (p < e && p[0] == '\n')
			p++;
		else if (e - p >= 2 && p[0] == '\r' && p[1] == '\n')
			p += 2;
		else
			break;
	}

	/* method SP request-target SP HTTP-version, one SP each */
	m = p;
	if ((p = head_token(p, e)) == m || p == e || *p != ' ')
		return 400;
	mlen = p - m;
	for (t = ++p; p < e && *p > ' ' && *p != 0x7f; p++)
		;
	if (p == t || p == e || *p != ' ')
		return 400;
	tlen = p - t;
	p++;
	if (e - p < 8 || memcmp(p, "HTTP/", 5) != 0 || !HEAD_DIGIT(p[5]) ||
	    p[6] != '.' || !HEAD_DIGIT(p[7]))
		return 400;
	major = p[5] - '0';
	minor = p[7] - '0';
	crlf = e - p > 8 && p[8] == '\r';
	if ((p = head_eol(p + 8, e, crlf)) == NULL)
		return 400;
	/* A well-formed line of another major version: its fields are not
	 * ours to judge. */
	if (major != 1)
		return 505;
	if (tlen == 1 && *t == '*') {
		/* asterisk-form is for OPTIONS alone (RFC 9112 3.2.4) */
		if (mlen != 7 || memcmp(m, "OPTIONS", 7) != 0)
			return 400;
		hi.hi_options_any = 1;
	}

	for (;;) {
		if (p == e)
			return 400;
		if (*p == '\r' || *p == '\n')
			break;
		/* obs-fold, or whitespace before the first field: RFC 9112
		 * 5.2 and 2.2 allow rejecting both, and a fold would join
		 * lines that another parser keeps apart. */
		if (*p == ' ' || *p == '\t')
			return 400;
		name = p;
		if ((p = head_token(p, e)) == name || p == e || *p != ':')
			return 400;	/* not a token, or space before ':' */
		nlen = p - name;
		for (p++; p < e && (*p == ' ' || *p == '\t'); p++)
			;
		for (v = p; p < e && (head_chars[*p] & HEAD_VALUE); p++)
			;
		ve = p;
		/* Anything but the line's end here is a NUL, a control, a
		 * bare CR, or a bare LF in a CRLF head. */
		if ((p = head_eol(p, e, crlf)) == NULL)
			return 400;
		if (nlen == 4 && strncasecmp((const char *)name, "host", 4) == 0) {
			while (ve > v && (ve[-1] == ' ' || ve[-1] == '\t'))
				ve--;
			if (nhost++ > 0 || !head_host_ok(v, ve - v))
				return 400;
			hi.hi_host_off = v - (const unsigned char *)head;
			hi.hi_host_len = ve - v;
			hi.hi_has_host = 1;
		} else if (nlen == 17 && strncasecmp((const char *)name,
		    "transfer-encoding", 17) == 0) {
			nte++;
			hi.hi_flags |= HI_TE;
			head_te(&te, v, ve);
		} else
			head_cache_field(&hi, head, name, nlen, v, ve);
	}
	if ((p = head_eol(p, e, crlf)) == NULL || p != e)
		return 400;

	/* RFC 9112 3.2: every HTTP/1.1 request has exactly one Host. */
	if (minor >= 1 && !hi.hi_has_host)
		return 400;
	if (nte > 0) {
		/* RFC 9112 6.1: an HTTP/1.0 recipient may not know the
		 * coding, so its framing cannot be trusted. */
		if (minor == 0 || te.te_bad || te.te_inner_chunked)
			return 400;
		/* Without chunked last the body has no end (RFC 9112 6.3),
		 * but a lone coding is one we do not implement (6.1). */
		if (!te.te_last_chunked)
			return te.te_n == 1 ? 501 : 400;
		if (te.te_unknown)
			return 501;
	}
	if (info != NULL)
		*info = hi;
	return 0;
}

static size_t
head_skip_ows(const char *s, size_t i, size_t len)
{
	while (i < len && (s[i] == ' ' || s[i] == '\t'))
		i++;
	return i;
}

/*
 * Does an entity-tag list (If-None-Match, or If-Range's single tag) name
 * our tag?  "*" matches anything where allowed; a weak tag W/"x" matches
 * only in the weak comparison.  Anything malformed matches nothing.
 */
int
head_etag_match(const char *s, size_t len, const char *etag, size_t etlen,
    int weak_ok, int star_ok)
{
	size_t	i = 0, start;
	int	weak;

	for (;;) {
		i = head_skip_ows(s, i, len);
		while (i < len && s[i] == ',')
			i = head_skip_ows(s, i + 1, len);
		if (i >= len)
			return 0;
		if (s[i] == '*') {
			if (star_ok)
				return 1;
			i++;
		} else {
			weak = 0;
			if (len - i >= 2 && s[i] == 'W' && s[i + 1] == '/') {
				weak = 1;
				i += 2;
			}
			if (i >= len || s[i] != '"')
				return 0;
			start = i++;
			while (i < len && s[i] != '"')
				i++;
			if (i >= len)
				return 0;
			i++;
			if ((weak_ok || !weak) && i - start == etlen &&
			    memcmp(s + start, etag, etlen) == 0)
				return 1;
		}
		i = head_skip_ows(s, i, len);
		if (i < len && s[i] != ',')
			return 0;
	}
}
