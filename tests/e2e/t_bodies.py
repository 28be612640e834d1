"""
Request bodies: max_body_size, answered 413 by the listener for a
Content-Length over it; a worker reading a body for longer than
connection_timeout is not taken for hung.
"""

import os
import sys
import time

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import hsdtest as T  # noqa: E402

FILES = {'a.txt': 'AAA\n', 'b.txt': 'BBB bb\n'}

LIMITS = '''limits { %s }
pool "default" { workers = 1 }
site "s" {
	bindings = {"127.0.0.1:@PORT@"}
	root = "@ROOT@"
	max_body_size = 1000
	application "/small" { max_body_size = 100 }
}
'''


def server(limits='', conf=None, **kw):
    return T.Server(conf or LIMITS % limits, files=FILES, **kw)


def expect_ok(c, path):
    r = c.request('GET', path)
    T.assert_eq((r.status, r.body), (200, FILES[path[1:]].encode()),
                'GET %s on the same connection' % path)


def post_head(path, length, extra=''):
    return ('POST %s HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n%s\r\n'
            % (path, length, extra)).encode()


CHUNKED_HEAD = (b'POST /a.txt HTTP/1.1\r\nHost: x\r\n'
                b'Transfer-Encoding: chunked\r\n')


def chunk(data):
    return b'%x\r\n%s\r\n' % (len(data), data)


# ---------------------------------------------------------------- 413

def test_413_content_length_from_the_listener():
    with server() as s:
        # Over the site's limit: refused on the head, before any body.
        with T.Client(s.port) as c:
            c.send(post_head('/a.txt', 1001))
            T.assert_listener_error(c, c.response(), 413)
        # Over the application's own, smaller, limit.
        with T.Client(s.port) as c:
            c.send(post_head('/small/x', 101))
            r = c.response()
            T.assert_eq(r.reason, 'Content Too Large', 'reason')
            T.assert_listener_error(c, r, 413)
        # The same size elsewhere on the site is fine.
        with T.Client(s.port) as c:
            r = c.request('POST', '/a.txt', body=b'y' * 101)
            T.assert_eq(r.status, 405, 'POST of 101 bytes to the site')
            expect_ok(c, '/b.txt')
        # Exactly at the limits: the worker's 405 for a static file.
        with T.Client(s.port) as c:
            r = c.request('POST', '/a.txt', body=b'y' * 1000)
            T.assert_eq(r.status, 405, 'POST of max_body_size bytes')
            expect_ok(c, '/a.txt')
            r = c.request('POST', '/small/x', body=b'y' * 100)
            T.assert_eq(r.status, 405, 'POST of the application\'s limit')
            expect_ok(c, '/b.txt')


# ---------------------------------------------------------------- timers

def test_worker_reading_a_body_is_not_hung():
    # The listener's deadline for a request with a body allows for
    # entity_body_timeout: a worker reading one for longer than
    # connection_timeout is not killed as hung.
    limits = ('connection_timeout = "1s"  entity_body_timeout = "4s"  '
              'min_body_rate = 0')
    with server(limits, workers=1) as s, T.Client(s.port) as c:
        worker = s.children('hsd-worker')
        c.send(CHUNKED_HEAD + b'Expect: 100-continue\r\n\r\n')
        T.assert_eq(c.response().status, 100, 'interim response')
        for _ in range(9):
            c.send(chunk(b'x'))
            time.sleep(0.3)
        c.send(b'0\r\n\r\n')
        r = c.response(timeout=5)
        T.assert_eq(r.status, 405, 'status after a slow body')
        expect_ok(c, '/a.txt')
        T.assert_eq(s.children('hsd-worker'), worker, 'worker pids')


if __name__ == '__main__':
    T.main()
