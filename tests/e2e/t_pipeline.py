"""
Pipelined keep-alive connections: every request a client pipelines is
answered, in order, with the exact body, however the bytes of the next
request travel (read by the listener, or read by the worker with a body and
handed back in DONE), at few and at many connections, run after run.
"""

import os
import random
import selectors
import socket
import sys
import time

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import hsdtest as T  # noqa: E402

CONF = '''limits { connection_timeout = "20s" }
pool "default" { workers = 2 }
site "s" {
	bindings = {"127.0.0.1:@PORT@"}
	root = "@ROOT@"
}
'''

FILES = {
    'a.txt': 'AAA\n',
    '1k.html': T.Random(1024, seed=1),
    '20k.bin': T.Random(20 * 1024, seed=2),
    '100k.bin': T.Random(100 * 1024, seed=3),
}


def server():
    return T.Server(CONF, files=FILES, workers=2)


def contents(s):
    out = {}
    for name in FILES:
        with open(s.path(name), 'rb') as f:
            out['/' + name] = f.read()
    return out


def test_rest_handed_back_with_the_socket_empty():
    # The worker reads a chunked body and, in the same recv(), the next
    # request; it hands those bytes back with DONE.  The listener saw the
    # socket's edge while the worker held it, and finds the socket empty
    # when DONE comes: it must still parse what it was handed.
    with server() as s, T.Client(s.port) as c:
        c.send(T.req('POST', '/a.txt', headers={
            'Transfer-Encoding': 'chunked', 'Expect': '100-continue'}))
        r = c.response()
        T.assert_eq(r.status, 100, 'interim response: the worker has it')
        c.send(b'5\r\nhello\r\n0\r\n\r\n' + T.req('GET', '/a.txt'))
        r = c.response()
        T.assert_eq(r.status, 405, 'POST to a static file')
        r = c.response(timeout=5)
        T.assert_eq((r.status, r.body), (200, b'AAA\n'),
                    'the request handed back')
        r = c.request('GET', '/1k.html')
        T.assert_eq(r.status, 200, 'next request on the connection')


def test_rest_handed_back_then_more_bytes():
    # The same, with the next request split: its first half comes back in
    # DONE, its second half arrives on the socket afterwards.
    with server() as s, T.Client(s.port) as c:
        c.send(T.req('POST', '/a.txt', headers={
            'Transfer-Encoding': 'chunked', 'Expect': '100-continue'}))
        T.assert_eq(c.response().status, 100, 'interim response')
        nxt = T.req('GET', '/a.txt')
        c.send(b'5\r\nhello\r\n0\r\n\r\n' + nxt[:7])
        T.assert_eq(c.response().status, 405, 'POST to a static file')
        c.send(nxt[7:])
        r = c.response(timeout=5)
        T.assert_eq((r.status, r.body), (200, b'AAA\n'), 'split request')


class PipeConn:
    """One client connection that keeps `depth` requests in flight."""

    def __init__(self, port, paths, depth, want):
        self.sock = socket.create_connection(('127.0.0.1', port))
        self.sock.setblocking(False)
        self.todo = list(paths)
        self.sent = []		# paths whose responses are outstanding
        self.depth = depth
        self.want = want
        self.inbuf = b''
        self.out = b''
        self.done = 0
        self.bad = []

    def fill(self):
        while self.todo and len(self.sent) < self.depth:
            p = self.todo.pop()
            self.sent.append(p)
            self.out += ('GET %s HTTP/1.1\r\nHost: x\r\n\r\n' % p).encode()

    def finished(self):
        return not self.todo and not self.sent

    def parse(self):
        while self.sent:
            i = self.inbuf.find(b'\r\n\r\n')
            if i < 0:
                return
            head = self.inbuf[:i].decode('latin-1')
            n = None
            for line in head.split('\r\n')[1:]:
                k, _, v = line.partition(':')
                if k.strip().lower() == 'content-length':
                    n = int(v)
            if n is None:
                raise AssertionError('no Content-Length: %r' % head)
            if len(self.inbuf) < i + 4 + n:
                return
            body = self.inbuf[i + 4:i + 4 + n]
            self.inbuf = self.inbuf[i + 4 + n:]
            path = self.sent.pop(0)
            status = head.split(' ', 2)[1]
            if status != '200' or body != self.want[path]:
                self.bad.append((path, head.split('\r\n')[0], len(body)))
            self.done += 1


def pipeline_load(port, want, conns, per_conn, depth, timeout=60):
    """conns connections, each pipelining per_conn requests depth at a
    time; every response checked.  Returns (answered, bad, stuck)."""
    rnd = random.Random(conns * 1000 + per_conn)
    names = sorted(want)
    sel = selectors.DefaultSelector()
    pcs = []
    for _ in range(conns):
        pc = PipeConn(port, [rnd.choice(names) for _ in range(per_conn)],
                      depth, want)
        pc.fill()
        sel.register(pc.sock, selectors.EVENT_READ | selectors.EVENT_WRITE,
                     pc)
        pcs.append(pc)
    deadline = time.monotonic() + timeout
    live = len(pcs)
    while live and time.monotonic() < deadline:
        for key, ev in sel.select(1.0):
            pc = key.data
            if ev & selectors.EVENT_WRITE and pc.out:
                try:
                    n = pc.sock.send(pc.out)
                    pc.out = pc.out[n:]
                except BlockingIOError:
                    pass
            if ev & selectors.EVENT_READ:
                try:
                    data = pc.sock.recv(262144)
                except BlockingIOError:
                    data = None
                if data == b'':
                    pc.bad.append(('closed', len(pc.sent), len(pc.todo)))
                    sel.unregister(pc.sock)
                    live -= 1
                    continue
                if data:
                    pc.inbuf += data
                    pc.parse()
                    pc.fill()
            if pc.finished():
                sel.unregister(pc.sock)
                live -= 1
            else:
                sel.modify(pc.sock, selectors.EVENT_READ |
                           (selectors.EVENT_WRITE if pc.out else 0), pc)
    answered = sum(pc.done for pc in pcs)
    bad = [b for pc in pcs for b in pc.bad]
    stuck = sum(1 for pc in pcs if not pc.finished())
    for pc in pcs:
        pc.sock.close()
    return answered, bad, stuck


def run_loads(conns, per_conn, runs):
    with server() as s:
        want = contents(s)
        for run in range(runs):
            answered, bad, stuck = pipeline_load(s.port, want, conns,
                                                 per_conn, 8)
            print('# run %d: %d connections, %d answered, %d bad, %d stuck'
                  % (run + 1, conns, answered, len(bad), stuck))
            T.assert_eq((stuck, bad[:5]), (0, []),
                        'run %d: stuck connections, bad responses'
                        % (run + 1))
            T.assert_eq(answered, conns * per_conn, 'responses')


def test_pipelined_depth_8_few_connections():
    run_loads(conns=4, per_conn=1000, runs=5)


def test_pipelined_depth_8_many_connections():
    run_loads(conns=200, per_conn=40, runs=5)


def test_pipelined_with_bodies_interleaved():
    # POSTs with chunked bodies between GETs: the worker reads the bytes
    # of the requests behind them and hands them back.
    with server() as s, T.Client(s.port) as c:
        want = contents(s)
        batch = b''
        expect = []
        for i in range(200):
            if i % 3 == 0:
                batch += T.req('POST', '/a.txt', headers={
                    'Transfer-Encoding': 'chunked'}) + \
                    b'3\r\nabc\r\n0\r\n\r\n'
                expect.append((405, None))
            else:
                p = ['/a.txt', '/1k.html', '/20k.bin'][i % 3]
                batch += T.req('GET', p)
                expect.append((200, want[p]))
        c.send(batch)
        for i, (status, body) in enumerate(expect):
            r = c.response(timeout=10)
            T.assert_eq(r.status, status, 'status of response %d' % i)
            if body is not None:
                T.assert_eq(r.body, body, 'body of response %d' % i)


if __name__ == '__main__':
    T.main()
