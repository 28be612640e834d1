/*
 * What "hsdctl cache purge" names (msg.h, MSG_PM_CACHE_PURGE): the text
 * read once, then matched against each entry's key.  Pure, for tests.
 */
#ifndef HSD_PURGE_H
#define HSD_PURGE_H

#include <stddef.h>

/* The longest purge text taken. */
#define PURGE_TEXT_MAX	8192

enum purge_kind {
	PURGE_ALL,	/* "all" (a site named "all" is purged by it too) */
	PURGE_SITE,	/* a site's name */
	PURGE_PATH,	/* "/path": that path on every site and host */
	PURGE_URL,	/* "http://host[:port]/path" */
};

/*
 * Paths are URL paths: %XX decoded and normalised as the listener does
 * a request's (uri.h), so they compare with the keys; a query ("?...")
 * is kept as written.  A URL without a path means "/".
 */
struct purge {
	enum purge_kind	 pg_kind;
	char		*pg_site;	/* PURGE_SITE */
	char		*pg_host;	/* PURGE_URL: lowercase, as given */
	size_t		 pg_host_len;
	int		 pg_host_port;	/* a port was given: match exactly */
	char		*pg_path;	/* PURGE_PATH, PURGE_URL */
	size_t		 pg_path_len;
};

/* text, len bytes, not NUL-terminated: 0 with pg filled in (purge_free()
 * it), or -1 if it is not a purge text (or out of memory). */
int	purge_parse(const char *text, size_t len, struct purge *pg);
void	purge_free(struct purge *pg);

/*
 * Whether the entry of site (its name), host (the Host header as sent,
 * lowercase) and path is purged.  A URL without a port matches host with
 * and without one: "http://a/x" purges the keys "a" and "a:8080".
 */
int	purge_match(const struct purge *pg, const char *site, const char *host,
	    size_t host_len, const char *path, size_t path_len);

#endif
