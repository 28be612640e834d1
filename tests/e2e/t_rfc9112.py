"""
RFC 9112 rules the listener enforces itself (head_check()): a request line
that is not exactly three parts, obs-fold, bad field names and values, a
bad or repeated Host, Transfer-Encoding it cannot frame, decoded CR/LF in
a path.  Each is answered by the listener, which closes, and none reaches
a worker: every target is a file that exists, so a worker would have
answered 200, and the error page is the listener's own.  Then OPTIONS *,
which the listener answers itself on a connection it keeps.
"""

import os
import sys

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import hsdtest as T  # noqa: E402

# No Host in the binding: any Host routes, so only head_check() stands
# between a bad Host and the worker.
CONF = '''pool "default" { workers = 1 }
site "s" {
	bindings = {"127.0.0.1:@PORT@"}
	root = "@ROOT@"
}
'''

FILES = {
    'a.txt': 'AAA\n',
    'b.txt': 'BBB bb\n',
    'a\r\nb.txt': 'crlf\n',
}

REASONS = {400: 'Bad Request', 501: 'Not Implemented',
           505: 'HTTP Version Not Supported'}


def server():
    return T.Server(CONF, files=FILES, workers=1)


def expect_ok(r, path):
    T.assert_eq(r.status, 200, 'status of %s' % path)
    T.assert_eq(r.body, FILES[path.lstrip('/')].encode(), 'body of %s' % path)


def listener_refuses(s, data, status, what):
    """data gets status from the listener itself, then a close."""
    with T.Client(s.port) as c:
        c.send(data)
        try:
            r = c.response()
        except T.ConnectionClosed as e:
            raise AssertionError('%s: closed without a %d (got %r)'
                                 % (what, status, e.data[:100]))
        try:
            T.assert_listener_error(c, r, status)
            # The listener's page, not a worker's (which has <center>).
            page = '%d %s' % (status, REASONS[status])
            T.assert_eq(r.body, ('<html><head><title>%s</title></head>'
                                 '<body><h1>%s</h1></body></html>\n'
                                 % (page, page)).encode(), 'error page')
        except AssertionError as e:
            raise AssertionError('%s: %s' % (what, e))


def still_serving(s):
    expect_ok(T.get(s.port, '/a.txt'), '/a.txt')


def refuse_all(cases, status=400):
    with server() as s:
        for what, data in cases:
            listener_refuses(s, data, status, what)
        still_serving(s)


def test_request_line():
    with server() as s:
        # 505 is for a well-formed line of another major version only.
        listener_refuses(s, b'GET /a.txt HTTP/2.0\r\nHost: x\r\n\r\n', 505,
                         'HTTP/2.0')
        listener_refuses(s, b'GET /a.txt HTTP/0.9\r\n\r\n', 505, 'HTTP/0.9')
    refuse_all([
        ('no version', b'GET /a.txt\r\n\r\n'),
        ('no version, then fields', b'GET /a.txt\r\nHost: x\r\n\r\n'),
        ('extra part', b'GET /a.txt HTTP/1.1 x\r\nHost: x\r\n\r\n'),
        ('two spaces before the target',
         b'GET  /a.txt HTTP/1.1\r\nHost: x\r\n\r\n'),
        ('two spaces before the version',
         b'GET /a.txt  HTTP/1.1\r\nHost: x\r\n\r\n'),
        ('asterisk-form with GET', b'GET * HTTP/1.1\r\nHost: x\r\n\r\n'),
    ])


def test_field_lines():
    # RFC 9112 2.2 lets a server take LF for CRLF; a whole LF head is fine.
    with server() as s, T.Client(s.port) as c:
        c.send(b'GET /a.txt HTTP/1.1\nHost: x\nX-A: a\n\n')
        expect_ok(c.response(), '/a.txt')
    refuse_all([
        ('obs-fold', b'GET /a.txt HTTP/1.1\r\nHost: x\r\nX-A: a\r\n b\r\n\r\n'),
        ('whitespace before the first field',
         b'GET /a.txt HTTP/1.1\r\n X-A: a\r\nHost: x\r\n\r\n'),
        ('space before colon', b'GET /a.txt HTTP/1.1\r\nHost: x\r\n'
         b'X-A : a\r\n\r\n'),
        ('name not a token', b'GET /a.txt HTTP/1.1\r\nHost: x\r\n'
         b'X(A): a\r\n\r\n'),
        ('NUL in a value', b'GET /a.txt HTTP/1.1\r\nHost: x\r\n'
         b'X-A: a\0b\r\n\r\n'),
        ('CR in a value', b'GET /a.txt HTTP/1.1\r\nHost: x\r\n'
         b'X-A: a\rb\r\n\r\n'),
        ('LF in a value of a CRLF head', b'GET /a.txt HTTP/1.1\r\nHost: x\r\n'
         b'X-A: a\nX-B: b\r\n\r\n'),
    ])


def test_host():
    with server() as s:
        for host in ('[::1]:8080', 'example.org', 'example.org:',
                     '127.0.0.1:1', 'a-b_c~%41', ''):
            expect_ok(T.get(s.port, '/a.txt', host=host), '/a.txt')
    refuse_all([
        ('two Hosts', b'GET /a.txt HTTP/1.1\r\nHost: x\r\nHost: x\r\n\r\n'),
        ('an empty Host, then one',
         b'GET /a.txt HTTP/1.1\r\nHost:\r\nHost: x\r\n\r\n'),
        ('space in Host', b'GET /a.txt HTTP/1.1\r\nHost: a b\r\n\r\n'),
        ('path in Host', b'GET /a.txt HTTP/1.1\r\nHost: a/b\r\n\r\n'),
        ('userinfo in Host', b'GET /a.txt HTTP/1.1\r\nHost: u@a\r\n\r\n'),
        ('bad port', b'GET /a.txt HTTP/1.1\r\nHost: a:b\r\n\r\n'),
        ('bad IPv6', b'GET /a.txt HTTP/1.1\r\nHost: [::g]:80\r\n\r\n'),
        ('no Host, absolute-form',
         b'GET http://127.0.0.1/a.txt HTTP/1.1\r\n\r\n'),
    ])


def test_transfer_encoding():
    body = b'0\r\n\r\n'
    with server() as s:
        listener_refuses(s, b'GET /a.txt HTTP/1.0\r\n'
                         b'Transfer-Encoding: chunked\r\n\r\n' + body, 400,
                         'TE in HTTP/1.0')
        listener_refuses(s, b'GET /a.txt HTTP/1.1\r\nHost: x\r\n'
                         b'Transfer-Encoding: chunked, gzip\r\n\r\n', 400,
                         'chunked, gzip')
        listener_refuses(s, b'GET /a.txt HTTP/1.1\r\nHost: x\r\n'
                         b'Transfer-Encoding: chunked\r\n'
                         b'Transfer-Encoding: chunked\r\n\r\n' + body, 400,
                         'chunked twice')
        listener_refuses(s, b'GET /a.txt HTTP/1.1\r\nHost: x\r\n'
                         b'Transfer-Encoding: foo\r\n\r\n', 501, 'foo')
        # Chunked last: the worker reads the body and answers.
        with T.Client(s.port) as c:
            c.send(b'GET /a.txt HTTP/1.1\r\nHost: x\r\n'
                   b'Transfer-Encoding: gzip, CHUNKED\r\n\r\n' + body)
            expect_ok(c.response(), '/a.txt')
            expect_ok(c.request('GET', '/b.txt'), '/b.txt')
        still_serving(s)


def test_decoded_crlf_in_path():
    # The file exists, so only the listener's refusal keeps it from a worker
    # (and, later, CR/LF from the logs).
    refuse_all([
        ('%0d%0a', b'GET /a%0d%0ab.txt HTTP/1.1\r\nHost: x\r\n\r\n'),
        ('%0A', b'GET /a%0Ab.txt HTTP/1.1\r\nHost: x\r\n\r\n'),
        ('%0D', b'GET /a%0Db.txt HTTP/1.1\r\nHost: x\r\n\r\n'),
        ('%00', b'GET /a.txt%00 HTTP/1.1\r\nHost: x\r\n\r\n'),
    ])


OPTIONS = b'OPTIONS * HTTP/1.1\r\nHost: x\r\n\r\n'


def expect_options(r, close=False):
    T.assert_eq(r.status, 200, 'OPTIONS * status')
    T.assert_eq(r.header('allow'), 'GET, HEAD, OPTIONS', 'Allow')
    T.assert_eq(r.header('content-length'), '0', 'Content-Length')
    T.assert_eq(r.body, b'', 'OPTIONS * body')
    assert r.header('server', '').startswith('hsd'), 'Server: %r' % r
    assert r.header('date') is not None, 'no Date in %r' % r
    T.assert_eq((r.header('connection') or '').lower() == 'close', close,
                'Connection: close')


def test_options_asterisk():
    with server() as s, T.Client(s.port) as c:
        # With a GET right behind it in the same segment.
        c.send(OPTIONS + T.req('GET', '/a.txt'))
        expect_options(c.response())
        expect_ok(c.response(), '/a.txt')
        # Again, and alone, on the same connection.
        c.send(OPTIONS)
        expect_options(c.response())
        assert c.is_quiet(0.3), 'OPTIONS * connection closed'
        expect_ok(c.request('GET', '/b.txt'), '/b.txt')
        # The path form still goes to the worker.
        r = c.request('OPTIONS', '/a.txt')
        T.assert_eq(r.status, 405, 'OPTIONS /a.txt')
        assert c.is_quiet(0.3), 'connection closed after OPTIONS /a.txt'


def test_options_asterisk_pipelined_many():
    # Each answer is written from the event loop: a long pipeline of them
    # is a loop in the listener, not a recursion.
    n = 1000
    with server() as s, T.Client(s.port) as c:
        c.send(OPTIONS * n + T.req('GET', '/a.txt'))
        for _ in range(n):
            expect_options(c.response())
        expect_ok(c.response(), '/a.txt')
        T.assert_eq(len(s.children('hsd-listener')), 1, 'listeners')


def test_options_asterisk_closes():
    with server() as s:
        for what, data in [
                ('Connection: close', b'OPTIONS * HTTP/1.1\r\nHost: x\r\n'
                 b'Connection: close\r\n\r\n'),
                ('HTTP/1.0', b'OPTIONS * HTTP/1.0\r\n\r\n'),
                ('a body', b'OPTIONS * HTTP/1.1\r\nHost: x\r\n'
                 b'Content-Length: 3\r\n\r\nabc'),
                ('a chunked body', b'OPTIONS * HTTP/1.1\r\nHost: x\r\n'
                 b'Transfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n')]:
            with T.Client(s.port) as c:
                c.send(data)
                try:
                    expect_options(c.response(), close=True)
                    c.expect_closed(3)
                except AssertionError as e:
                    raise AssertionError('%s: %s' % (what, e))
        # HTTP/1.0 asking to keep the connection gets it kept.
        with T.Client(s.port) as c:
            c.send(b'OPTIONS * HTTP/1.0\r\nConnection: keep-alive\r\n\r\n')
            r = c.response()
            expect_options(r)
            T.assert_eq(r.header('connection'), 'keep-alive', 'Connection')
            assert c.is_quiet(0.3), 'HTTP/1.0 keep-alive connection closed'
        still_serving(s)


if __name__ == '__main__':
    T.main()
