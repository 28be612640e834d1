/*
 * The response head rules of the cache (admit.h).  A worker is hostile
 * by assumption, so the head it offers is checked as strictly as a
 * client's request: one malformed byte and nothing is cached.  Beyond
 * the syntax, the rules follow HTTP.sys's and RFC 9111's for a shared
 * cache: only 200s, nothing private or per-user, nothing that varies
 * on more than Accept-Encoding, and never longer than the operator's
 * max_ttl.
 */
#include "config.h"

#include <stdint.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "admit.h"
#include "conf.h"
#include "httpdate.h"
#include "msg.h"

/* RFC 9111 1.2.2: a larger delta-seconds is taken as this. */
#define ADMIT_DELTA_MAX		2147483648ULL

/* One element of a comma list: name [ "=" ( token / quoted-string ) ]. */
struct admit_elem {
	const char	*ae_name;
	size_t		 ae_name_len;
	const char	*ae_val;	/* NULL: no "="; quotes stripped */
	size_t		 ae_val_len;
	int		 ae_quoted;
};

/* What the fields say, gathered in one pass over them. */
struct admit_state {
	int		 as_policy;	/* first policy reason, -1: none */
	const char	*as_why;
	int		 as_s_maxage_set;
	uint64_t	 as_s_maxage;	/* seconds; the least of them */
	int		 as_max_age_set;
	uint64_t	 as_max_age;
	int		 as_expires_set;
	int		 as_expires_bad;
	time_t		 as_expires;	/* the earliest */
	int		 as_etag_set;
	int		 as_lm_set;
};

static int
admit_tchar(unsigned char c)
{
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') ||
	    (c >= 'A' && c <= 'Z') || (c != '\0' &&
	    strchr("!#$%&'*+-.^_`|~", c) != NULL);
}

static int
admit_is(const char *s, size_t len, const char *name)
{
	return strlen(name) == len && strncasecmp(s, name, len) == 0;
}

static void
admit_policy(struct admit_state *as, int reason, const char *why)
{
	if (as->as_policy == -1) {
		as->as_policy = reason;
		as->as_why = why;
	}
}

/*
 * The next element of the list v (len bytes) from *pos: 1 with it in e,
 * 0 at the end, -1 if the list is malformed.  Empty elements are
 * skipped, as RFC 9110 5.6.1 asks of recipients.
 */
static int
admit_list_next(const char *v, size_t len, size_t *pos, struct admit_elem *e)
{
	size_t	i = *pos;

	while (i < len && (v[i] == ' ' || v[i] == '\t' || v[i] == ','))
		i++;
	if (i == len)
		return 0;
	memset(e, 0, sizeof(*e));
	e->ae_name = v + i;
	while (i < len && admit_tchar((unsigned char)v[i]))
		i++;
	if ((e->ae_name_len = v + i - e->ae_name) == 0)
		return -1;
	if (i < len && v[i] == '=') {
		i++;
		if (i < len && v[i] == '"') {
			e->ae_quoted = 1;
			e->ae_val = v + ++i;
			for (; i < len && v[i] != '"'; i++)
				if (v[i] == '\\' && ++i == len)
					return -1;
			if (i == len)
				return -1;
			e->ae_val_len = v + i - e->ae_val;
			i++;
		} else {
			e->ae_val = v + i;
			while (i < len && admit_tchar((unsigned char)v[i]))
				i++;
			if ((e->ae_val_len = v + i - e->ae_val) == 0)
				return -1;
		}
	}
	while (i < len && (v[i] == ' ' || v[i] == '\t'))
		i++;
	if (i < len && v[i] != ',')
		return -1;
	*pos = i;
	return 1;
}

/* delta-seconds; an invalid one reads as 0, which makes it stale (RFC
 * 9111 4.2.1: a cache that cannot read it must not reuse it). */
static uint64_t
admit_delta(const struct admit_elem *e)
{
	uint64_t	v = 0;
	size_t		i;

	if (e->ae_val == NULL || e->ae_val_len == 0)
		return 0;
	for (i = 0; i < e->ae_val_len; i++) {
		if (e->ae_val[i] < '0' || e->ae_val[i] > '9')
			return 0;
		if (v <= ADMIT_DELTA_MAX)
			v = v * 10 + (e->ae_val[i] - '0');
	}
	return v > ADMIT_DELTA_MAX ? ADMIT_DELTA_MAX : v;
}

static int
admit_cache_control(const char *v, size_t len, struct admit_state *as)
{
	struct admit_elem	e;
	size_t			pos = 0;
	uint64_t		d;
	int			rv;

	while ((rv = admit_list_next(v, len, &pos, &e)) == 1) {
		/* With or without field names: no-cache="Set-Cookie" keeps
		 * us from serving the response unrevalidated just the same. */
		if (admit_is(e.ae_name, e.ae_name_len, "no-store") ||
		    admit_is(e.ae_name, e.ae_name_len, "private") ||
		    admit_is(e.ae_name, e.ae_name_len, "no-cache"))
			admit_policy(as, CR_NO_STORE, "Cache-Control");
		else if (admit_is(e.ae_name, e.ae_name_len, "s-maxage")) {
			d = admit_delta(&e);
			if (!as->as_s_maxage_set || d < as->as_s_maxage)
				as->as_s_maxage = d;
			as->as_s_maxage_set = 1;
		} else if (admit_is(e.ae_name, e.ae_name_len, "max-age")) {
			d = admit_delta(&e);
			if (!as->as_max_age_set || d < as->as_max_age)
				as->as_max_age = d;
			as->as_max_age_set = 1;
		}
	}
	return rv;
}

static int
admit_pragma(const char *v, size_t len, struct admit_state *as)
{
	struct admit_elem	e;
	size_t			pos = 0;
	int			rv;

	while ((rv = admit_list_next(v, len, &pos, &e)) == 1)
		if (admit_is(e.ae_name, e.ae_name_len, "no-cache"))
			admit_policy(as, CR_NO_STORE, "Pragma: no-cache");
	return rv;
}

/* One entry serves every request for its URL: it may vary on nothing
 * the listener does not key on. */
static int
admit_vary(const char *v, size_t len, struct admit_state *as)
{
	struct admit_elem	e;
	size_t			pos = 0;
	int			rv;

	while ((rv = admit_list_next(v, len, &pos, &e)) == 1)
		if (e.ae_val != NULL || !admit_is(e.ae_name, e.ae_name_len,
		    "Accept-Encoding"))
			admit_policy(as, CR_VARY, "Vary");
	return rv;
}

static void
admit_expires(const char *v, size_t len, struct admit_state *as)
{
	time_t	t;

	if (httpdate_parse(v, len, &t) == -1) {
		/* RFC 9111 5.3: an invalid date means already expired. */
		as->as_expires_bad = 1;
	} else if (!as->as_expires_set || t < as->as_expires)
		as->as_expires = t;
	as->as_expires_set = 1;
}

static int
admit_content_length(const char *v, size_t len, uint64_t body_len)
{
	uint64_t	n = 0;
	size_t		i;

	if (len == 0 || len > 19)
		return -1;
	for (i = 0; i < len; i++) {
		if (v[i] < '0' || v[i] > '9')
			return -1;
		n = n * 10 + (v[i] - '0');
	}
	return n == body_len ? 0 : -1;
}

/*
 * One field line, its name already found to be a token.  -1 (with *why)
 * if it makes the head invalid; policy reasons go to as.
 */
static int
admit_field(const char *head, const char *name, size_t nlen, const char *v,
    size_t vlen, uint64_t body_len, struct admit_info *info,
    struct admit_state *as, const char **why)
{
	int	rv = 0;

	/* The listener adds these for each response it sends. */
	if (admit_is(name, nlen, "Date") ||
	    admit_is(name, nlen, "Connection") ||
	    admit_is(name, nlen, "Keep-Alive") ||
	    admit_is(name, nlen, "Transfer-Encoding")) {
		*why = "a field the listener writes";
		return -1;
	}
	if (admit_is(name, nlen, "Content-Length")) {
		*why = "Content-Length is not the body's";
		return admit_content_length(v, vlen, body_len);
	}
	if (admit_is(name, nlen, "ETag")) {
		*why = "two ETags";
		if (as->as_etag_set)
			return -1;
		as->as_etag_set = 1;
		info->ai_etag_off = v - head;
		info->ai_etag_len = vlen;
	} else if (admit_is(name, nlen, "Last-Modified")) {
		*why = "two Last-Modified";
		if (as->as_lm_set)
			return -1;
		as->as_lm_set = 1;
		info->ai_lm_off = v - head;
		info->ai_lm_len = vlen;
	} else if (admit_is(name, nlen, "Set-Cookie") ||
	    admit_is(name, nlen, "Set-Cookie2"))
		admit_policy(as, CR_SET_COOKIE, "Set-Cookie");
	else if (admit_is(name, nlen, "Cache-Control"))
		rv = admit_cache_control(v, vlen, as);
	else if (admit_is(name, nlen, "Pragma"))
		rv = admit_pragma(v, vlen, as);
	else if (admit_is(name, nlen, "Vary"))
		rv = admit_vary(v, vlen, as);
	else if (admit_is(name, nlen, "Content-Encoding") &&
	    !(vlen == 8 && strncasecmp(v, "identity", 8) == 0))
		/* A coded body goes only to clients that accept it, which
		 * the key does not say (IIS keeps such responses out too). */
		admit_policy(as, CR_VARY, "Content-Encoding");
	else if (admit_is(name, nlen, "Expires"))
		admit_expires(v, vlen, as);
	*why = "a malformed list";
	return rv == -1 ? -1 : 0;
}

/* "HTTP/1.1 200 ..." or "HTTP/1.0 200 ...", up to the line's end. */
static int
admit_status(const char *head, size_t len)
{
	if (len < 13 || (memcmp(head, "HTTP/1.1 ", 9) != 0 &&
	    memcmp(head, "HTTP/1.0 ", 9) != 0) ||
	    memcmp(head + 9, "200", 3) != 0)
		return -1;
	return head[12] == ' ' || head[12] == '\r' ? 0 : -1;
}

/* Bytes a line may hold: RFC 9110's field-vchar, SP and HTAB. */
static int
admit_line_char(unsigned char c)
{
	return c == '\t' || (c >= ' ' && c != 0x7f);
}

/* TTL in milliseconds by s-maxage, max-age, Expires, else the cap. */
static uint64_t
admit_ttl(const struct admit_state *as, time_t now, uint64_t max_ttl_ms)
{
	uint64_t	ttl;

	if (as->as_s_maxage_set)
		ttl = as->as_s_maxage * 1000;
	else if (as->as_max_age_set)
		ttl = as->as_max_age * 1000;
	else if (as->as_expires_set) {
		if (as->as_expires_bad || as->as_expires <= now)
			ttl = 0;
		else if ((uint64_t)(as->as_expires - now) > max_ttl_ms / 1000)
			ttl = max_ttl_ms;
		else
			ttl = (uint64_t)(as->as_expires - now) * 1000;
	} else
		ttl = max_ttl_ms;
	return ttl < max_ttl_ms ? ttl : max_ttl_ms;
}

/* The end (its CR) of the line at pos; -1 if the line does not end in
 * CRLF or holds a byte no line may. */
static int
admit_line_end(const char *head, size_t len, size_t pos, size_t *end,
    const char **why)
{
	size_t	i;

	for (i = pos; i < len && admit_line_char((unsigned char)head[i]); i++)
		;
	if (i + 1 >= len || head[i] != '\r' || head[i + 1] != '\n') {
		*why = i == len ? "no CRLF at the end" :
		    "a control byte, CR or LF";
		return -1;
	}
	*end = i;
	return 0;
}

/* The header line [pos, end): a token, ':', the value with OWS around. */
static int
admit_field_line(const char *head, size_t pos, size_t end, uint64_t body_len,
    struct admit_info *info, struct admit_state *as, const char **why)
{
	const char	*name = head + pos, *v, *e = head + end;
	size_t		 nlen;

	*why = "a field name that is not a token";
	for (nlen = 0; name + nlen < e &&
	    admit_tchar((unsigned char)name[nlen]); nlen++)
		;
	if (nlen == 0 || name + nlen == e || name[nlen] != ':')
		return -1;
	for (v = name + nlen + 1; v < e && (*v == ' ' || *v == '\t'); v++)
		;
	while (e > v && (e[-1] == ' ' || e[-1] == '\t'))
		e--;
	return admit_field(head, name, nlen, v, e - v, body_len, info, as,
	    why);
}

static int
admit_refuse(struct admit_info *info, int reason, const char *why)
{
	info->ai_reason = reason;
	info->ai_why = why;
	return -1;
}

int
admit_head(const char *head, size_t len, uint64_t body_len, time_t now,
    const struct conf_cache *cc, struct admit_info *info)
{
	struct admit_state	 as;
	const char		*why = NULL;
	size_t			 pos, end;
	time_t			 t;

	memset(info, 0, sizeof(*info));
	info->ai_lm_time = -1;
	if (len > cc->cc_max_header)
		return admit_refuse(info, CR_HEAD_SIZE,
		    "head over max_header_size");
	if (body_len > cc->cc_max_entry)
		return admit_refuse(info, CR_SIZE, "body over max_entry_size");
	if (admit_status(head, len) == -1)
		return admit_refuse(info, CR_STATUS, "not a 200");

	memset(&as, 0, sizeof(as));
	as.as_policy = -1;
	for (pos = 0; pos < len; pos = end + 2) {
		if (admit_line_end(head, len, pos, &end, &why) == -1)
			return admit_refuse(info, CR_INVALID, why);
		if (pos == 0)
			continue;	/* the status line */
		if (end == pos)
			return admit_refuse(info, CR_INVALID, "an empty line");
		if (admit_field_line(head, pos, end, body_len, info, &as,
		    &why) == -1)
			return admit_refuse(info, CR_INVALID, why);
	}
	if (as.as_policy != -1)
		return admit_refuse(info, as.as_policy, as.as_why);
	if ((info->ai_ttl_ms = admit_ttl(&as, now, cc->cc_max_ttl_ms)) == 0)
		return admit_refuse(info, CR_EXPIRED, "a TTL of 0");
	/* Before 1970 reads as none: -1 means that already. */
	if (info->ai_lm_len > 0 && httpdate_parse(head + info->ai_lm_off,
	    info->ai_lm_len, &t) == 0 && t >= 0)
		info->ai_lm_time = t;
	return 0;
}
