"""
HTTP as the listener speaks it: keep-alive, pipelining, HTTP/1.0, every
error status it decides itself (each followed by a close), connection
limits and timeouts, request bodies on a keep-alive connection, and bad
bytes that must not hurt the next client.
"""

import os
import random
import sys
import time

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import hsdtest as T  # noqa: E402

CONF = '''limits {
	max_field_length = 1024
	max_request_bytes = 4096
}
pool "default" { workers = 2 }
site "s" {
	bindings = {"127.0.0.1:@PORT@"}
	root = "@ROOT@"
}
'''

FILES = {
    'a.txt': 'AAA\n',
    'b.txt': 'BBB bb\n',
    'c.txt': 'CCC ccc\n',
    'index.html': '<p>index</p>\n',
}

PASSWD = b'root:x:0:0'


def server(conf=CONF):
    return T.Server(conf, files=FILES, workers=2)


def expect_ok(r, path):
    T.assert_eq(r.status, 200, 'status of %s' % path)
    T.assert_eq(r.body, FILES[path.lstrip('/')].encode(), 'body of %s' % path)


def still_serving(s):
    r = T.get(s.port, '/a.txt')
    expect_ok(r, '/a.txt')


def test_keepalive():
    with server() as s, T.Client(s.port) as c:
        for path in ('/a.txt', '/b.txt', '/c.txt'):
            r = c.request('GET', path)
            expect_ok(r, path)
            assert (r.header('connection') or '').lower() != 'close', \
                'keep-alive response says Connection: close'
        assert c.is_quiet(0.3), 'connection closed or extra bytes'


def test_pipelining():
    with server() as s, T.Client(s.port) as c:
        c.send(T.req('GET', '/a.txt') + T.req('GET', '/b.txt') +
               T.req('GET', '/c.txt'))
        for path in ('/a.txt', '/b.txt', '/c.txt'):
            expect_ok(c.response(), path)
        # HEAD in the middle of a pipeline, the last asking to close.
        c.send(T.req('GET', '/c.txt') + T.req('HEAD', '/b.txt') +
               T.req('GET', '/a.txt', headers={'Connection': 'close'}))
        expect_ok(c.response(), '/c.txt')
        r = c.response('HEAD')
        T.assert_eq(r.status, 200, 'HEAD status')
        T.assert_eq(r.header('content-length'), str(len(FILES['b.txt'])),
                    'HEAD Content-Length')
        expect_ok(c.response(), '/a.txt')
        c.expect_closed(3)


def test_pipelining_byte_by_byte():
    # The same requests arriving in odd pieces.
    with server() as s, T.Client(s.port) as c:
        data = T.req('GET', '/b.txt') + T.req('GET', '/a.txt')
        for i in range(0, len(data), 7):
            c.send(data[i:i + 7])
            time.sleep(0.005)
        expect_ok(c.response(), '/b.txt')
        expect_ok(c.response(), '/a.txt')


def test_http10_closes():
    with server() as s, T.Client(s.port) as c:
        c.send(b'GET /a.txt HTTP/1.0\r\n\r\n')
        expect_ok(c.response(), '/a.txt')
        c.expect_closed(3)


def test_http10_keepalive():
    with server() as s, T.Client(s.port) as c:
        for path in ('/a.txt', '/b.txt'):
            c.send(('GET %s HTTP/1.0\r\nConnection: keep-alive\r\n\r\n'
                    % path).encode())
            expect_ok(c.response(), path)
        assert c.is_quiet(0.3), 'HTTP/1.0 keep-alive connection closed'
        c.send(b'GET /c.txt HTTP/1.0\r\n\r\n')
        expect_ok(c.response(), '/c.txt')
        c.expect_closed(3)


def error_case(s, data, status, what):
    with T.Client(s.port) as c:
        c.send(data)
        try:
            r = c.response()
        except T.ConnectionClosed as e:
            raise AssertionError('%s: connection closed without a %d '
                                 '(got %r)' % (what, status, e.data[:100]))
        assert PASSWD not in r.body, '%s: /etc/passwd served' % what
        try:
            T.assert_listener_error(c, r, status)
        except AssertionError as e:
            raise AssertionError('%s: %s' % (what, e))


def test_400():
    cases = [
        ('no Host on 1.1', b'GET /a.txt HTTP/1.1\r\n\r\n'),
        ('header without colon',
         b'GET /a.txt HTTP/1.1\r\nHost: x\r\nNo colon here\r\n\r\n'),
        ('space in target', b'GET /a b HTTP/1.1\r\nHost: x\r\n\r\n'),
        ('CL and TE', b'POST /a.txt HTTP/1.1\r\nHost: x\r\n'
         b'Content-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\nabc'),
        ('CL abc', b'POST /a.txt HTTP/1.1\r\nHost: x\r\n'
         b'Content-Length: abc\r\n\r\n'),
        ('CL -1', b'POST /a.txt HTTP/1.1\r\nHost: x\r\n'
         b'Content-Length: -1\r\n\r\n'),
        ('two CLs', b'POST /a.txt HTTP/1.1\r\nHost: x\r\n'
         b'Content-Length: 3\r\nContent-Length: 4\r\n\r\nabcd'),
    ]
    for path in ('/../etc/passwd', '/%2e%2e/%2e%2e/etc/passwd',
                 '/a/..%2f..%2f..%2fetc/passwd', '/%00', '/a.txt%00',
                 '/%zz', '/%2', '/./../../etc/passwd',
                 '/dir/%2E%2E/%2e%2E/%2E./etc/passwd'):
        cases.append(('path %s' % path,
                      ('GET %s HTTP/1.1\r\nHost: x\r\n\r\n'
                       % path).encode()))
    with server() as s:
        for what, data in cases:
            error_case(s, data, 400, what)
        still_serving(s)


def test_414():
    with server() as s:
        error_case(s, T.req('GET', '/' + 'a' * 2000), 414,
                   'request line of 2000 bytes')
        still_serving(s)


def test_431():
    with server() as s:
        error_case(s, T.req('GET', '/a.txt', headers={'X-Long': 'v' * 2000}),
                   431, 'one header of 2000 bytes')
        many = [('X-H%d' % i, 'v' * 100) for i in range(60)]
        error_case(s, T.req('GET', '/a.txt', headers=many), 431,
                   '60 headers of 100 bytes')
        still_serving(s)


def test_header_limits_not_too_strict():
    # Just under both limits is fine.
    with server() as s:
        r = T.get(s.port, '/a.txt', headers={'X-Long': 'v' * 900})
        expect_ok(r, '/a.txt')
        many = [('X-H%d' % i, 'v' * 100) for i in range(25)]
        r = T.get(s.port, '/a.txt', headers=many)
        expect_ok(r, '/a.txt')


def test_501():
    with server() as s:
        error_case(s, b'POST /a.txt HTTP/1.1\r\nHost: x\r\n'
                   b'Transfer-Encoding: gzip\r\n\r\n', 501, 'TE: gzip')
        error_case(s, b'BREW /pot HTTP/1.1\r\nHost: x\r\n\r\n', 501,
                   'method BREW')
        still_serving(s)


def test_505():
    with server() as s:
        error_case(s, b'GET /a.txt HTTP/2.0\r\nHost: x\r\n\r\n', 505,
                   'HTTP/2.0')
        error_case(s, b'GET /a.txt HTTP/3.1\r\nHost: x\r\n\r\n', 505,
                   'HTTP/3.1')
        still_serving(s)


def test_error_after_good_request():
    # An error on a keep-alive connection still closes it, after the
    # earlier good response.
    with server() as s, T.Client(s.port) as c:
        expect_ok(c.request('GET', '/a.txt'), '/a.txt')
        c.send(b'GET /a.txt HTTP/2.0\r\nHost: x\r\n\r\n')
        T.assert_listener_error(c, c.response(), 505)


MAXCONN = '''limits { max_connections = 2 }
pool "default" { workers = 2 }
site "s" { bindings = {"127.0.0.1:@PORT@"} root = "@ROOT@" }
'''


def test_out_of_fds():
    """When accept() fails for want of fds the listener pauses accepting
    instead of spinning, keeps serving the connections it has, and takes
    the waiting ones from the backlog once fds are free again."""
    with server() as s:
        lsn = s.listener()
        first = T.Client(s.port)
        T.assert_eq(first.request('GET', '/a.txt').status, 200, 'first')
        nfds = len(os.listdir('/proc/%d/fd' % lsn))
        T.set_nofile(lsn, nfds + 3)
        held = []
        try:
            for _ in range(12):
                held.append(T.Client(s.port))   # the backlog takes them
            T.wait_for(lambda: 'conn_accept_error' in s.log(), 5,
                       'accept to fail')
            before = s.log().count('conn_accept_error')
            time.sleep(1)
            errors = s.log().count('conn_accept_error') - before
            assert errors < 50, '%d accept errors in 1 s: spinning' % errors
            r = first.request('GET', '/b.txt')
            T.assert_eq(r.body, b'BBB bb\n', 'a held connection still works')
            last = held[-1]
            for c in held[:-1]:
                c.close()
            first.close()
            last.send(T.req('GET', '/c.txt'))
            r = last.response(timeout=10)
            T.assert_eq(r.body, b'CCC ccc\n', 'a connection from the backlog')
        finally:
            for c in held:
                c.close()


def test_max_connections():
    with server(MAXCONN) as s:
        held = []
        try:
            for _ in range(2):
                def one():
                    c = T.Client(s.port)
                    try:
                        r = c.request('GET', '/a.txt')
                    except (OSError, T.ConnectionClosed):
                        c.close()
                        return None
                    if r.status != 200:
                        c.close()
                        return None
                    return c
                held.append(T.wait_for(one, 5, 'a connection with a 200'))
            c3 = T.Client(s.port)
            held.append(c3)
            r = c3.response(timeout=5)
            T.assert_listener_error(c3, r, 503)
            # The two held connections still work.
            for c in held[:2]:
                expect_ok(c.request('GET', '/b.txt'), '/b.txt')
            # Freeing one makes room.
            held[0].close()

            def fresh():
                try:
                    r = T.get(s.port, '/c.txt')
                except (OSError, T.ConnectionClosed):
                    return None
                return r if r.status == 200 else None
            T.wait_for(fresh, 5, 'a 200 after closing a connection')
        finally:
            for c in held:
                c.close()


TIMEOUTS = '''limits {
	header_wait_timeout = "1s"
	connection_timeout = "3s"
}
pool "default" { workers = 2 }
site "s" { bindings = {"127.0.0.1:@PORT@"} root = "@ROOT@" }
'''


def test_header_wait_timeout():
    with server(TIMEOUTS) as s, T.Client(s.port, timeout=10) as c:
        c.send(b'GET /a.txt HTTP/1.1\r\nHost: x\r\n')
        r = c.response(timeout=6)
        T.assert_listener_error(c, r, 408)


def test_idle_keepalive_closed():
    with server(TIMEOUTS) as s, T.Client(s.port, timeout=10) as c:
        expect_ok(c.request('GET', '/a.txt'), '/a.txt')
        # Idle, not a partial head: no 408 after header_wait_timeout...
        assert c.is_quiet(1.8), 'idle connection got bytes or closed ' \
            'before connection_timeout'
        # ...but closed silently after connection_timeout.
        c.expect_closed(6)


def test_post_body_discarded():
    with server() as s, T.Client(s.port) as c:
        for body in (b'abc', os.urandom(200000)):
            r = c.request('POST', '/a.txt', body=body)
            T.assert_eq(r.status, 405, 'status of a POST')
            expect_ok(c.request('GET', '/b.txt'), '/b.txt')


def test_post_body_in_second_write():
    with server() as s, T.Client(s.port) as c:
        body = b'0123456789' * 5000
        c.send(b'POST /a.txt HTTP/1.1\r\nHost: x\r\n'
               b'Content-Length: %d\r\n\r\n' % len(body))
        time.sleep(0.3)
        c.send(body[:100])
        time.sleep(0.2)
        c.send(body[100:])
        r = c.response()
        T.assert_eq(r.status, 405, 'status of a POST')
        expect_ok(c.request('GET', '/c.txt'), '/c.txt')
        # And a body pipelined with the next request in one write.
        c.send(T.req('POST', '/a.txt', body=b'xyz') + T.req('GET', '/b.txt'))
        T.assert_eq(c.response().status, 405, 'status of a POST')
        expect_ok(c.response(), '/b.txt')


def test_post_chunked_body_discarded():
    with server() as s:
        # The whole body came with the head: read, and the connection kept.
        with T.Client(s.port) as c:
            c.send(b'POST /a.txt HTTP/1.1\r\nHost: x\r\n'
                   b'Transfer-Encoding: chunked\r\n\r\n'
                   b'5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n')
            T.assert_eq(c.response().status, 405, 'status of a chunked POST')
            expect_ok(c.request('GET', '/b.txt'), '/b.txt')
        # The rest is not waited for: the answer closes the connection.
        with T.Client(s.port) as c:
            c.send(b'POST /a.txt HTTP/1.1\r\nHost: x\r\n'
                   b'Transfer-Encoding: chunked\r\n\r\n'
                   b'5\r\nhello\r\n')
            r = c.response()
            T.assert_eq(r.status, 405, 'status of a chunked POST')
            T.assert_eq(r.header('connection'), 'close', 'Connection')
            c.send(b'6\r\n world\r\n0\r\n\r\n')
            c.expect_closed(4)


def test_garbage():
    with server() as s:
        rnd = random.Random(42)
        for i in range(8):
            data = bytes(rnd.getrandbits(8) for _ in range(4096))
            if i % 2:
                data = b'GET /a.txt HTTP/1.1\r\nHost: x\r\n' + data
            with T.Client(s.port) as c:
                try:
                    c.send(data)
                except OSError:
                    pass		# reset while we were still sending
                try:
                    got, _ = c.read_all(5)
                except OSError as e:
                    raise AssertionError('garbage %d: connection still '
                                         'open after 5s (%s)' % (i, e))
                if got:
                    assert got.startswith(b'HTTP/1.'), \
                        'garbage %d: answer %r' % (i, got[:100])
                    status = int(got[9:12])
                    assert 400 <= status < 500, \
                        'garbage %d: status %d' % (i, status)
            still_serving(s)
        assert s.running(), 'hsd-poolmgr exited'
        T.assert_eq(len(s.children('hsd-listener')), 1, 'listeners')


if __name__ == '__main__':
    T.main()
