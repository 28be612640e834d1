/*
 * Request paths as the file system will see them: percent-decoding and
 * dot-segment resolution in one pass over a private copy.  Decoding comes
 * first on purpose: "%2e%2e" is ".." to the file system, so it must be
 * ".." here too, or an encoded climb would walk out of a document root.
 */
#include "config.h"

#include <sys/types.h>

#include <string.h>

#include "uri.h"

static int
uri_hexval(unsigned char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* Decode %XX into out; returns the decoded length or -1. */
static ssize_t
uri_decode(const char *in, size_t len, char *out)
{
	size_t	i, n = 0;
	int	hi, lo, c;

	for (i = 0; i < len; i++) {
		c = (unsigned char)in[i];
		if (c == '%') {
			if (len - i < 3 ||
			    (hi = uri_hexval(in[i + 1])) == -1 ||
			    (lo = uri_hexval(in[i + 2])) == -1)
				return -1;
			c = hi << 4 | lo;
			i += 2;
		}
		/* A NUL would cut the path short at open(2); CR and LF
		 * would split a log line or a header we echo it in. */
		if (c == '\0' || c == '\r' || c == '\n')
			return -1;
		out[n++] = (char)c;
	}
	return n;
}

ssize_t
uri_normalize(const char *in, size_t len, char *out, size_t outsz)
{
	ssize_t	 dlen;
	size_t	 r, w, e, seglen;

	if (in == NULL || out == NULL || len == 0 || outsz <= len ||
	    in[0] != '/')
		return -1;
	if ((dlen = uri_decode(in, len, out)) == -1)
		return -1;

	/*
	 * Resolve in place: the write position never passes the read
	 * position, so each segment moves left or stays.  out[0..w) is
	 * always "/" followed by whole segments each ending in '/', except
	 * possibly the very last one.
	 */
	r = 1;
	w = 1;
	for (;;) {
		while (r < (size_t)dlen && out[r] == '/')
			r++;
		if (r >= (size_t)dlen)
			break;
		for (e = r; e < (size_t)dlen && out[e] != '/'; e++)
			;
		seglen = e - r;
		if (seglen == 1 && out[r] == '.') {
			/* "/a/." means the directory "/a/". */
		} else if (seglen == 2 && out[r] == '.' && out[r + 1] == '.') {
			if (w == 1)
				return -1;
			/* Drop the last segment and its slash. */
			w--;
			while (out[w - 1] != '/')
				w--;
		} else {
			memmove(out + w, out + r, seglen);
			w += seglen;
			if (e < (size_t)dlen)
				out[w++] = '/';
		}
		r = e;
	}
	out[w] = '\0';
	return w;
}
