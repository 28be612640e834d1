/*
 * Purge texts (purge.h).  Hosts compare as the listener keys them: the
 * Host header as the client sent it, lowercased, port and all.  The
 * operator may leave the port out to mean any.
 */
#include "config.h"

#include <sys/types.h>

#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "purge.h"
#include "uri.h"

/* A URL path (with any query) as the listener keys it, into pg. */
static int
purge_path(const char *p, size_t len, struct purge *pg)
{
	const char	*q;
	size_t		 plen;
	ssize_t		 n;

	q = memchr(p, '?', len);
	plen = q != NULL ? (size_t)(q - p) : len;
	if ((pg->pg_path = malloc(len + 2)) == NULL)
		return -1;
	if (plen == 0)
		n = uri_normalize("/", 1, pg->pg_path, 2);
	else
		n = uri_normalize(p, plen, pg->pg_path, plen + 1);
	if (n == -1)
		return -1;
	/* The query is not decoded: the listener keys it as sent. */
	memcpy(pg->pg_path + n, p + plen, len - plen);
	pg->pg_path_len = n + (len - plen);
	pg->pg_path[pg->pg_path_len] = '\0';
	return 0;
}

/* "host[:port]" or "[v6][:port]", len bytes: lowercase into pg. */
static int
purge_host(const char *h, size_t len, struct purge *pg)
{
	const char	*port = NULL, *end = h + len;
	size_t		 i;

	if (len == 0 || memchr(h, '@', len) != NULL)
		return -1;
	if (h[0] == '[') {
		if ((port = memchr(h, ']', len)) == NULL)
			return -1;
		port++;
		if (port == end)
			port = NULL;
		else if (*port != ':')
			return -1;
	} else
		port = memchr(h, ':', len);
	if (port != NULL) {
		if (port + 1 == end || port == h)
			return -1;
		for (i = 1; port + i < end; i++)
			if (!isdigit((unsigned char)port[i]))
				return -1;
		pg->pg_host_port = 1;
	}
	if ((pg->pg_host = malloc(len + 1)) == NULL)
		return -1;
	for (i = 0; i < len; i++)
		pg->pg_host[i] = tolower((unsigned char)h[i]);
	pg->pg_host[len] = '\0';
	pg->pg_host_len = len;
	return 0;
}

static int
purge_url(const char *t, size_t len, struct purge *pg)
{
	size_t	hlen;

	t += 7;
	len -= 7;
	for (hlen = 0; hlen < len && t[hlen] != '/' && t[hlen] != '?'; hlen++)
		;
	pg->pg_kind = PURGE_URL;
	if (purge_host(t, hlen, pg) == -1)
		return -1;
	return purge_path(t + hlen, len - hlen, pg);
}

int
purge_parse(const char *text, size_t len, struct purge *pg)
{
	size_t	i;

	memset(pg, 0, sizeof(*pg));
	while (len > 0 && (*text == ' ' || *text == '\t')) {
		text++;
		len--;
	}
	while (len > 0 && (text[len - 1] == ' ' || text[len - 1] == '\t'))
		len--;
	if (len == 0 || len > PURGE_TEXT_MAX)
		return -1;
	for (i = 0; i < len; i++)
		if ((unsigned char)text[i] < ' ' || text[i] == 0x7f)
			return -1;
	if (len == 3 && memcmp(text, "all", 3) == 0) {
		pg->pg_kind = PURGE_ALL;
		return 0;
	}
	if (text[0] == '/') {
		pg->pg_kind = PURGE_PATH;
		if (purge_path(text, len, pg) == -1)
			goto fail;
		return 0;
	}
	if (len >= 7 && strncasecmp(text, "http://", 7) == 0) {
		if (purge_url(text, len, pg) == -1)
			goto fail;
		return 0;
	}
	pg->pg_kind = PURGE_SITE;
	if ((pg->pg_site = strndup(text, len)) == NULL)
		return -1;
	return 0;
fail:
	purge_free(pg);
	return -1;
}

void
purge_free(struct purge *pg)
{
	free(pg->pg_site);
	free(pg->pg_host);
	free(pg->pg_path);
	memset(pg, 0, sizeof(*pg));
}

/* host is pg's host, with or without a port when pg gave none. */
static int
purge_host_match(const struct purge *pg, const char *host, size_t len)
{
	size_t	i;

	/* Keys are lowercase already; a key that is not stays purgeable. */
	if (len < pg->pg_host_len ||
	    strncasecmp(host, pg->pg_host, pg->pg_host_len) != 0)
		return 0;
	if (len == pg->pg_host_len)
		return 1;
	if (pg->pg_host_port || host[pg->pg_host_len] != ':')
		return 0;
	for (i = pg->pg_host_len + 1; i < len; i++)
		if (!isdigit((unsigned char)host[i]))
			return 0;
	return 1;
}

int
purge_match(const struct purge *pg, const char *site, const char *host,
    size_t host_len, const char *path, size_t path_len)
{
	switch (pg->pg_kind) {
	case PURGE_ALL:
		return 1;
	case PURGE_SITE:
		return site != NULL && strcmp(site, pg->pg_site) == 0;
	case PURGE_PATH:
		return path_len == pg->pg_path_len &&
		    memcmp(path, pg->pg_path, path_len) == 0;
	case PURGE_URL:
		return path_len == pg->pg_path_len &&
		    memcmp(path, pg->pg_path, path_len) == 0 &&
		    purge_host_match(pg, host, host_len);
	}
	return 0;
}
