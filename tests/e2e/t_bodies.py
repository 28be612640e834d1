"""
Request bodies: max_body_size (413 from the listener for a Content-Length
over it, from the worker for a chunked body that passes it), the
entity-body rules (entity_body_timeout is a deadline, min_body_rate an
average), a static path that answers 405 without waiting for a body, and
the point of it all: clients trickling bodies hold no slot of the pool,
which goes on serving everybody else.
"""

import os
import select
import socket
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


def trickle(c, start, interval, limit, piece=b'x'):
    """Send piece every interval seconds until the server closes the
    connection or limit seconds from start have passed.  Returns (seconds
    from start to the close or None, bytes received)."""
    got = b''
    nxt = time.monotonic()
    while time.monotonic() - start < limit:
        now = time.monotonic()
        if now >= nxt:
            try:
                c.sock.send(piece)
            except OSError:
                return time.monotonic() - start, got
            nxt = now + interval
        r, _, _ = select.select([c.sock], [], [], max(0, nxt - now))
        if r:
            try:
                d = c.sock.recv(65536)
            except ConnectionResetError:
                d = b''
            if not d:
                return time.monotonic() - start, got
            got += d
    return None, got


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


def test_413_chunked_from_the_worker():
    with server() as s:
        # The whole body arrives with the head.
        with T.Client(s.port) as c:
            c.send(CHUNKED_HEAD + b'\r\n' + chunk(b'z' * 600) +
                   chunk(b'z' * 600) + b'0\r\n\r\n')
            r = c.response()
            T.assert_eq(r.reason, 'Content Too Large', 'reason')
            T.assert_listener_error(c, r, 413)
        # It passes the limit while the worker reads it.
        with T.Client(s.port) as c:
            c.send(CHUNKED_HEAD + b'Expect: 100-continue\r\n\r\n')
            T.assert_eq(c.response().status, 100, 'interim response')
            c.send(chunk(b'z' * 600))
            time.sleep(0.2)
            c.send(chunk(b'z' * 600))
            T.assert_listener_error(c, c.response(), 413)
        # Within it, the connection goes on.
        with T.Client(s.port) as c:
            c.send(CHUNKED_HEAD + b'\r\n' + chunk(b'z' * 1000) +
                   b'0\r\n\r\n')
            r = c.response()
            T.assert_eq(r.status, 405, 'chunked body of max_body_size')
            expect_ok(c, '/a.txt')


# ---------------------------------------------------------------- 405

def test_405_before_a_large_body():
    size = 10 * 1000 * 1000
    conf = '''pool "default" { workers = 1 }
site "s" { bindings = {"127.0.0.1:@PORT@"} root = "@ROOT@" }
'''
    with server(conf=conf) as s, T.Client(s.port) as c:
        c.send(post_head('/a.txt', size))
        # The answer comes on the head: nothing of the body was sent.
        r = c.response(timeout=3)
        T.assert_eq(r.status, 405, 'status before the body')
        T.assert_eq(r.header('connection'), None, 'Connection header')
        c.send(b'x' * size)
        expect_ok(c, '/a.txt')
        # Again, with the next request right behind the body's last byte.
        c.send(post_head('/a.txt', 300000))
        T.assert_eq(c.response(timeout=3).status, 405, 'second POST')
        c.send(b'x' * 300000 + T.req('GET', '/b.txt'))
        r = c.response()
        T.assert_eq((r.status, r.body), (200, b'BBB bb\n'),
                    'the request behind the discarded body')
        expect_ok(c, '/a.txt')


def test_expect_100_continue_then_405_then_discard():
    conf = '''pool "default" { workers = 1 }
site "s" { bindings = {"127.0.0.1:@PORT@"} root = "@ROOT@" }
'''
    with server(conf=conf) as s, T.Client(s.port) as c:
        c.send(post_head('/a.txt', 100000, 'Expect: 100-continue\r\n'))
        r = c.response(timeout=3)
        T.assert_eq(r.status, 100, 'interim response')
        r = c.response(timeout=3)
        T.assert_eq(r.status, 405, 'final response')
        T.assert_eq(r.header('connection'), None, 'Connection header')
        c.send(b'x' * 100000)
        expect_ok(c, '/a.txt')
        # Body and next request in one write.
        c.send(post_head('/a.txt', 5000, 'Expect: 100-continue\r\n'))
        T.assert_eq(c.response(timeout=3).status, 100, 'interim response')
        T.assert_eq(c.response(timeout=3).status, 405, 'final response')
        c.send(b'x' * 5000 + T.req('GET', '/b.txt'))
        r = c.response()
        T.assert_eq((r.status, r.body), (200, b'BBB bb\n'), 'next request')


def test_chunked_body_not_waited_for():
    with server() as s:
        # All of it came with the head: the connection is kept.
        with T.Client(s.port) as c:
            c.send(CHUNKED_HEAD + b'\r\n' + chunk(b'hello') + b'0\r\n\r\n')
            r = c.response()
            T.assert_eq(r.status, 405, 'status')
            T.assert_eq(r.header('connection'), None, 'Connection header')
            expect_ok(c, '/a.txt')
        # Not all of it: answered at once, and closed.
        with T.Client(s.port) as c:
            t0 = time.monotonic()
            c.send(CHUNKED_HEAD + b'\r\n' + chunk(b'hello'))
            r = c.response(timeout=3)
            T.assert_eq(r.status, 405, 'status')
            T.assert_eq(r.header('connection'), 'close', 'Connection header')
            assert time.monotonic() - t0 < 1.5, 'the worker waited'
            c.expect_closed(4)


# ---------------------------------------------------------------- timers

def test_entity_body_timeout_is_a_deadline():
    limits = 'entity_body_timeout = "2s"  min_body_rate = 0'
    with server(limits) as s, T.Client(s.port) as c:
        t0 = time.monotonic()
        c.send(post_head('/a.txt', 1000))
        # A byte every 0.3 s never lets the connection go idle.
        t, got = trickle(c, t0, 0.3, 8)
        assert t is not None, 'a trickling body kept the connection for 8s'
        assert got.startswith(b'HTTP/1.1 405 '), 'answer %r' % got[:100]
        assert 1.5 < t < 4, 'closed after %.1fs, not about 2s' % t
        T.get(s.port, '/a.txt')


def test_min_body_rate():
    limits = 'entity_body_timeout = "60s"  min_body_rate = 100'
    with server(limits) as s, T.Client(s.port) as c:
        t0 = time.monotonic()
        c.send(post_head('/a.txt', 1000))
        # About 10 bytes a second, where 100 are required.
        t, got = trickle(c, t0, 0.1, 10)
        assert t is not None, 'a body at 10 B/s kept the connection for 10s'
        assert got.startswith(b'HTTP/1.1 405 '), 'answer %r' % got[:100]
        assert 4.5 < t < 7.5, 'closed after %.1fs, not soon after 5s' % t


def test_worker_408_for_a_stalled_chunked_body():
    limits = 'entity_body_timeout = "2s"  min_body_rate = 0'
    with server(limits) as s:
        for first in (b'', chunk(b'hello')):
            with T.Client(s.port) as c:
                t0 = time.monotonic()
                c.send(CHUNKED_HEAD + b'Expect: 100-continue\r\n\r\n')
                T.assert_eq(c.response().status, 100, 'interim response')
                c.send(first)
                r = c.response(timeout=6)
                t = time.monotonic() - t0
                T.assert_eq(r.reason, 'Request Timeout', 'reason')
                T.assert_listener_error(c, r, 408)
                assert 1.5 < t < 4, '408 after %.1fs, not about 2s' % t
        T.get(s.port, '/a.txt')


def test_worker_408_for_a_slow_chunked_body():
    limits = 'entity_body_timeout = "60s"  min_body_rate = 100'
    with server(limits) as s, T.Client(s.port) as c:
        t0 = time.monotonic()
        c.send(CHUNKED_HEAD + b'Expect: 100-continue\r\n\r\n')
        T.assert_eq(c.response().status, 100, 'interim response')
        # 6 bytes every 0.2 s: 30 B/s.
        t, got = trickle(c, t0, 0.2, 10, chunk(b'x'))
        assert t is not None, 'a body at 30 B/s kept the connection for 10s'
        assert got.startswith(b'HTTP/1.1 408 '), 'answer %r' % got[:100]
        assert 4.5 < t < 7.5, 'closed after %.1fs, not soon after 5s' % t


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


# ---------------------------------------------------------------- the pool

def test_slow_bodies_do_not_hold_the_pool():
    conf = '''pool "default" { workers = 1  concurrency = 4 }
site "s" { bindings = {"127.0.0.1:@PORT@"} root = "@ROOT@" }
'''
    with server(conf=conf, workers=1) as s:
        slow = []
        try:
            for _ in range(40):
                c = T.Client(s.port)
                c.send(post_head('/a.txt', 1000000))
                slow.append(c)
            t0 = time.monotonic()
            nxt_byte = t0
            n = 0
            while time.monotonic() - t0 < 6:
                if time.monotonic() >= nxt_byte:
                    for c in slow:
                        try:
                            c.sock.send(b'x')
                        except OSError:
                            pass	# cut off by min_body_rate: fine
                    nxt_byte += 1
                t1 = time.monotonic()
                try:
                    r = T.get(s.port, '/a.txt', timeout=1)
                except (socket.timeout, T.ConnectionClosed) as e:
                    raise AssertionError('GET %d at %.1fs: no answer within '
                                         '1s (%s)' % (n, t1 - t0, e))
                T.assert_eq((r.status, r.body), (200, b'AAA\n'),
                            'GET %d at %.1fs' % (n, t1 - t0))
                n += 1
                time.sleep(max(0, 0.5 - (time.monotonic() - t1)))
            assert n >= 10, 'only %d GETs in 6s' % n
        finally:
            for c in slow:
                c.close()


def test_graceful_stop_while_discarding():
    conf = '''pool "default" { workers = 1 }
site "s" { bindings = {"127.0.0.1:@PORT@"} root = "@ROOT@" }
'''
    s = server(conf=conf)
    with s, T.Client(s.port) as c:
        c.send(post_head('/a.txt', 1000000))
        T.assert_eq(c.response(timeout=3).status, 405, 'status')
        c.send(b'x' * 1000)
        t0 = time.monotonic()
        s.stop()
        assert time.monotonic() - t0 < 4.5, 'the stop waited for the body'
        c.read_all(3)


if __name__ == '__main__':
    T.main()
