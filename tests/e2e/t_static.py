"""
Static files, as the worker serves them: status, headers and exact bytes
for GET/HEAD, conditional requests, ranges, redirects and index files,
what is refused (directories without index, fifos, symlinks out of the
root, other methods), and files big enough to take many writes.
"""

import email.utils
import os
import subprocess
import sys
import urllib.parse

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import hsdtest as T  # noqa: E402

# The response cache off: these are the worker's answers, and some tests
# change a file and ask at once (t_cache.py tests the cache).
CONF = '''pool "default" { workers = 2 }
cache { enabled = false }
site "s" {
	bindings = {"127.0.0.1:@PORT@"}
	root = "@ROOT@"
}
'''

MTIME = 1600000000	# Sun, 13 Sep 2020 12:26:40 GMT
A_TXT = b'hello world\n'

FILES = {
    'index.html': '<html><body>root index</body></html>\n',
    'a.txt': A_TXT,
    's.css': 'body { color: red }\n',
    'i.png': b'\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR',
    'd.bin': b'\x00\x01\x02\x03',
    'noext': 'no extension\n',
    'dir/index.html': '<p>dir index</p>\n',
    'dir/b.txt': 'b in dir\n',
    'empty': T.Dir(),
    'fifo': T.Fifo(),
    'link_in.txt': T.Symlink('a.txt'),
    'link_dir': T.Symlink('dir'),
    'link_out': T.Symlink('/etc/passwd'),
    'link_root': T.Symlink('/'),
    'link_up': T.Symlink('..'),
    'big.bin': T.Random(1 << 20, seed=7),
    'mid.bin': T.Random(100 << 10, seed=8),
}


def server():
    s = T.Server(CONF, files=FILES, workers=2)
    os.utime(s.path('a.txt'), (MTIME, MTIME))
    return s


def content(s, rel):
    with open(s.path(rel), 'rb') as f:
        return f.read()


def check_next_request_works(c):
    """The connection is still in step: nothing extra was sent."""
    r = c.request('GET', '/dir/b.txt')
    T.assert_eq(r.status, 200, 'status of the next request on the '
                'connection')
    T.assert_eq(r.body, b'b in dir\n', 'body of the next request')


def test_get():
    with server() as s, T.Client(s.port) as c:
        r = c.request('GET', '/a.txt')
        T.assert_eq(r.status, 200, 'status')
        T.assert_eq(r.body, A_TXT, 'body')
        T.assert_eq(r.header('content-length'), str(len(A_TXT)),
                    'Content-Length')
        T.assert_eq(r.media_type(), 'text/plain', 'Content-Type')
        T.assert_eq(r.header('server'), 'hsd/0.1.0', 'Server')
        T.assert_eq(r.header('last-modified'),
                    email.utils.formatdate(MTIME, usegmt=True),
                    'Last-Modified')
        assert r.header('etag'), 'no ETag in %r' % r
        r = c.request('GET', '/')
        T.assert_eq(r.status, 200, 'status of /')
        T.assert_eq(r.body, content(s, 'index.html'), 'body of /')
        T.assert_eq(r.media_type(), 'text/html', 'Content-Type of /')


def test_content_types():
    with server() as s, T.Client(s.port) as c:
        for path, mt in (('/index.html', 'text/html'),
                         ('/a.txt', 'text/plain'),
                         ('/s.css', 'text/css'),
                         ('/i.png', 'image/png'),
                         ('/d.bin', 'application/octet-stream'),
                         ('/noext', 'application/octet-stream')):
            r = c.request('GET', path)
            T.assert_eq(r.status, 200, 'status of %s' % path)
            T.assert_eq(r.media_type(), mt, 'Content-Type of %s' % path)
            T.assert_eq(r.body, content(s, path[1:]), 'body of %s' % path)


def test_head():
    with server() as s, T.Client(s.port) as c:
        g = c.request('GET', '/a.txt')
        r = c.request('HEAD', '/a.txt')
        T.assert_eq(r.status, 200, 'status')
        T.assert_eq(r.header('content-length'), str(len(A_TXT)),
                    'Content-Length of HEAD')
        for h in ('content-type', 'last-modified', 'etag'):
            T.assert_eq(r.header(h), g.header(h), '%s of HEAD vs GET' % h)
        # A HEAD response has no body: the next response starts right
        # after its head.
        check_next_request_works(c)


def test_304_etag():
    with server() as s, T.Client(s.port) as c:
        etag = c.request('GET', '/a.txt').header('etag')
        r = c.request('GET', '/a.txt', headers={'If-None-Match': etag})
        T.assert_eq(r.status, 304, 'status with a matching If-None-Match')
        check_next_request_works(c)
        r = c.request('GET', '/a.txt',
                      headers={'If-None-Match': '"no-such-etag"'})
        T.assert_eq(r.status, 200, 'status with another If-None-Match')
        T.assert_eq(r.body, A_TXT, 'body')
        # Changing the file changes the ETag.
        with open(s.path('a.txt'), 'ab') as f:
            f.write(b'more\n')
        r = c.request('GET', '/a.txt', headers={'If-None-Match': etag})
        T.assert_eq(r.status, 200, 'status after the file changed')
        T.assert_eq(r.body, A_TXT + b'more\n', 'body after the change')
        assert r.header('etag') != etag, 'ETag did not change'


def test_304_if_modified_since():
    with server() as s, T.Client(s.port) as c:
        lm = email.utils.formatdate(MTIME, usegmt=True)
        r = c.request('GET', '/a.txt', headers={'If-Modified-Since': lm})
        T.assert_eq(r.status, 304, 'status, If-Modified-Since = mtime')
        check_next_request_works(c)
        later = email.utils.formatdate(MTIME + 86400, usegmt=True)
        r = c.request('GET', '/a.txt', headers={'If-Modified-Since': later})
        T.assert_eq(r.status, 304, 'status, If-Modified-Since after mtime')
        earlier = email.utils.formatdate(MTIME - 86400, usegmt=True)
        r = c.request('GET', '/a.txt',
                      headers={'If-Modified-Since': earlier})
        T.assert_eq(r.status, 200, 'status, If-Modified-Since before mtime')
        T.assert_eq(r.body, A_TXT, 'body')


def test_range():
    with server() as s, T.Client(s.port) as c:
        for rng, body, cr in (('bytes=2-5', b'llo ', 'bytes 2-5/12'),
                              ('bytes=-3', b'ld\n', 'bytes 9-11/12'),
                              ('bytes=6-', b'world\n', 'bytes 6-11/12'),
                              ('bytes=5-100', b' world\n', 'bytes 5-11/12'),
                              ('bytes=0-0', b'h', 'bytes 0-0/12')):
            r = c.request('GET', '/a.txt', headers={'Range': rng})
            T.assert_eq(r.status, 206, 'status for %s' % rng)
            T.assert_eq(r.body, body, 'body for %s' % rng)
            T.assert_eq(r.header('content-range'), cr,
                        'Content-Range for %s' % rng)
            T.assert_eq(r.header('content-length'), str(len(body)),
                        'Content-Length for %s' % rng)
        big = content(s, 'big.bin')
        r = c.request('GET', '/big.bin', headers={'Range': 'bytes=1000-1999'})
        T.assert_eq(r.status, 206, 'status of a range of big.bin')
        T.assert_eq(r.body, big[1000:2000], 'range of big.bin')
        check_next_request_works(c)


def test_range_unsatisfiable():
    with server() as s:
        for rng in ('bytes=12-20', 'bytes=100-'):
            r = T.get(s.port, '/a.txt', headers={'Range': rng})
            T.assert_eq(r.status, 416, 'status for %s' % rng)
            assert A_TXT not in r.body, 'file content in a 416'


def test_multi_range_gets_full():
    with server() as s:
        r = T.get(s.port, '/a.txt', headers={'Range': 'bytes=0-1,4-5'})
        T.assert_eq(r.status, 200, 'status for a multi-range request')
        T.assert_eq(r.body, A_TXT, 'body')


def test_directory_redirect():
    with server() as s, T.Client(s.port) as c:
        r = c.request('GET', '/dir')
        T.assert_eq(r.status, 301, 'status for a directory without /')
        loc = r.header('location')
        assert loc, 'no Location in %r' % r
        T.assert_eq(urllib.parse.urlsplit(loc).path, '/dir/', 'Location')
        check_next_request_works(c)


def test_index_html():
    with server() as s:
        r = T.get(s.port, '/dir/')
        T.assert_eq(r.status, 200, 'status')
        T.assert_eq(r.body, b'<p>dir index</p>\n', 'body')
        T.assert_eq(r.media_type(), 'text/html', 'Content-Type')


def test_directory_without_index():
    with server() as s:
        r = T.get(s.port, '/empty/')
        T.assert_eq(r.status, 403, 'status')


def test_fifo():
    with server() as s:
        r = T.get(s.port, '/fifo', timeout=5)
        T.assert_eq(r.status, 403, 'status for a fifo')
        # The worker is not stuck on it.
        r = T.get(s.port, '/a.txt')
        T.assert_eq(r.status, 200, 'status after the fifo')


def test_not_found():
    with server() as s, T.Client(s.port) as c:
        for path in ('/nope.txt', '/dir/nope', '/a.txt/x'):
            r = c.request('GET', path)
            T.assert_eq(r.status, 404, 'status for %s' % path)
        check_next_request_works(c)


def test_method_not_allowed():
    with server() as s, T.Client(s.port) as c:
        for method, body in (('POST', b'abc'), ('PUT', b'x' * 1000),
                             ('DELETE', b'')):
            r = c.request(method, '/a.txt', body=body)
            T.assert_eq(r.status, 405, 'status for %s' % method)
            allow = set(m.strip() for m in
                        (r.header('allow') or '').split(','))
            T.assert_eq(allow, {'GET', 'HEAD'}, 'Allow for %s' % method)
            check_next_request_works(c)
        # The file is untouched.
        T.assert_eq(content(s, 'a.txt'), A_TXT, 'a.txt after PUT')


def test_symlinks():
    with server() as s, T.Client(s.port, timeout=5) as c:
        r = c.request('GET', '/link_in.txt')
        T.assert_eq(r.status, 200, 'status of a symlink within the root')
        T.assert_eq(r.body, A_TXT, 'body of a symlink within the root')
        r = c.request('GET', '/link_dir/b.txt')
        T.assert_eq(r.status, 200, 'status through a symlinked directory')
        for path in ('/link_out', '/link_root/etc/passwd',
                     '/link_up/stderr.log', '/link_up/hsd.conf'):
            r = T.get(s.port, path)
            T.assert_eq(r.status, 404, 'status of %s' % path)
            assert b'root:' not in r.body, 'content of /etc/passwd served'
            assert b'run_dir' not in r.body, 'content of hsd.conf served'


def test_big_file():
    with server() as s, T.Client(s.port, timeout=10) as c:
        r = c.request('GET', '/big.bin')
        T.assert_eq(r.status, 200, 'status')
        T.assert_eq(r.header('content-length'), str(1 << 20),
                    'Content-Length')
        assert r.body == content(s, 'big.bin'), 'body differs from the file'
        check_next_request_works(c)


def test_curl():
    curl = T.need_program('curl')
    with server() as s:
        out = os.path.join(s.dir, 'curl.out')
        p = subprocess.run([curl, '-sS', '-o', out, '-w', '%{http_code}',
                            'http://127.0.0.1:%d/mid.bin' % s.port],
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                           timeout=20)
        T.assert_eq(p.returncode, 0, 'curl status (%r)' % p.stderr)
        T.assert_eq(p.stdout, b'200', 'HTTP status seen by curl')
        with open(out, 'rb') as f:
            got = f.read()
        T.assert_eq(len(got), 100 << 10, 'bytes curl got')
        assert got == content(s, 'mid.bin'), 'curl body differs from file'


if __name__ == '__main__':
    T.main()
