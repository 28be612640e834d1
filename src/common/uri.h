/*
 * Request paths as the file system will see them.  The listener decodes and
 * normalises every path before routing, so a path that could escape a
 * document root never reaches a worker; the worker checks again.
 */
#ifndef HSD_URI_H
#define HSD_URI_H

#include <stddef.h>
#include <sys/types.h>

/*
 * Decode %XX escapes, then resolve "." and ".." segments and collapse
 * repeated slashes.  in is the path part of a request target (no query),
 * len bytes, starting with '/'.  Writes a NUL-terminated path starting
 * with '/' to out (outsz must be > len) and returns its length, or -1 when
 * the path is not acceptable: not starting with '/', a bad or truncated
 * escape, an encoded or raw NUL, CR or LF, or ".." that would climb above
 * "/".
 * A trailing slash is kept ("/dir/" stays "/dir/", "/a/.." gives "/").
 */
ssize_t	uri_normalize(const char *in, size_t len, char *out, size_t outsz);

#endif
