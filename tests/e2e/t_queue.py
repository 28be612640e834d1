"""
The pool queue: with one worker holding one request, later requests park
(unanswered) up to queue_length, one more gets 503 at once, a client that
leaves the queue frees its place, parked requests are served in order
when the worker is free, and a request parked longer than
connection_timeout gets 503.
"""

import os
import signal
import sys
import threading
import time

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import hsdtest as T  # noqa: E402

BIG = 64 << 20

CONF = '''limits { connection_timeout = "%s" }
pool "default" { workers = 1  concurrency = 1  queue_length = 2 }
site "s" { bindings = {"127.0.0.1:@PORT@"} root = "@ROOT@" }
'''

FILES = {'big.bin': T.Sparse(BIG), 'small.txt': 'small\n'}


def occupy(s, method='GET'):
    """The only worker, stopped, holding one request (concurrency 1):
    nothing else can be handed to it.  A worker writes no response
    slowly any more -- it hands a slow reader's response back to the
    listener -- so a stopped worker is what keeps it busy."""
    (w,) = s.children('hsd-worker')
    # Nothing in flight at it first (a stop between a response's last
    # byte and its DONE would leave it busy).
    T.get_to_eof(s.port, '/small.txt')
    os.kill(w, signal.SIGSTOP)
    c = T.Client(s.port, timeout=10)
    c.send(T.req(method, '/small.txt', body=b'x' if method == 'POST'
                 else b''))
    assert c.is_quiet(0.3), 'answered by a stopped worker'
    c.worker = w
    return c


def release(c, status=200):
    """Let the worker go on; the occupying request is answered."""
    os.kill(c.worker, signal.SIGCONT)
    r = c.response(timeout=10)
    T.assert_eq(r.status, status, 'status of the occupying request')


def drain_big(c):
    got = len(c.buf)
    c.buf = b''
    while got < BIG:
        data = c.sock.recv(1 << 20)
        assert data, 'connection closed after %d of %d bytes' % (got, BIG)
        got += len(data)
    T.assert_eq(got, BIG, 'bytes of the big file')


def park(s, path='/small.txt'):
    c = T.Client(s.port, timeout=15, rcvbuf=65536)
    c.send(T.req('GET', path))
    return c


def test_queue():
    with T.Server(CONF % '60s', files=FILES, workers=1) as s:
        clients = []
        try:
            slow = occupy(s)
            clients.append(slow)
            p1 = park(s)
            p2 = park(s, '/big.bin')
            clients += [p1, p2]
            for n, c in (('first', p1), ('second', p2)):
                assert c.is_quiet(1.0), \
                    'the %s parked request was answered while the only ' \
                    'worker is busy' % n
            # Queue full (2 parked): the next one is refused at once.
            with T.Client(s.port) as p3:
                p3.send(T.req('GET', '/small.txt'))
                T.assert_listener_error(p3, p3.response(timeout=3), 503)
            # A parked client leaves: its place is free again.
            p1.close()
            # Give the listener a moment to see the close; there is no
            # observable to wait for.
            time.sleep(0.3)
            p4 = park(s)
            clients.append(p4)
            assert p4.is_quiet(1.0), \
                'a request parked after a queued client left was ' \
                'answered (503?) while the worker is busy: %r' \
                % (p4.buf or p4.sock.recv(200))
            assert p2.is_quiet(0.1), 'p2 answered while the worker is busy'
            # Free the worker: both parked requests are served.
            release(slow)
            r = p2.read_head(timeout=10)
            T.assert_eq(r.status, 200, 'status of the first parked request')
            drain_big(p2)
            r = p4.response(timeout=10)
            T.assert_eq(r.status, 200, 'status of the last parked request')
            T.assert_eq(r.body, b'small\n', 'its body')
            # The occupying client's connection is usable again.
            r = slow.request('GET', '/small.txt')
            T.assert_eq(r.body, b'small\n', 'next request after it')
        finally:
            for c in clients:
                if getattr(c, 'worker', None):
                    T.kill_quietly(c.worker, signal.SIGCONT)
                c.close()


def test_queue_many_leave():
    # Clients that leave the queue (even all at once, with RST) never
    # count against it later.
    with T.Server(CONF % '60s', files=FILES, workers=1) as s:
        clients = []
        try:
            slow = occupy(s)
            clients.append(slow)
            lsn = s.listener()
            base = len(os.listdir('/proc/%d/fd' % lsn))
            for _ in range(3):
                a, b = park(s), park(s)
                for c in (a, b):
                    assert c.is_quiet(0.3), 'parked request answered ' \
                        'while the worker is busy: %r' % c.sock.recv(200)
                a.reset()
                b.close()
                # Their sockets close in the listener once it saw them go.
                T.wait_for(lambda: len(os.listdir('/proc/%d/fd' % lsn)) ==
                           base, 5, 'the listener to drop both')
            p = park(s)
            clients.append(p)
            assert p.is_quiet(1.0), 'refused after clients left the queue'
            release(slow)
            r = p.response(timeout=10)
            T.assert_eq(r.status, 200, 'status of the parked request')
        finally:
            for c in clients:
                if getattr(c, 'worker', None):
                    T.kill_quietly(c.worker, signal.SIGCONT)
                c.close()


def test_parked_too_long():
    # The worker holds a POST (whose body gives it entity_body_timeout
    # before the listener may take it for hung), so the parked request
    # is the one that times out.
    with T.Server(CONF % '2s', files=FILES, workers=1) as s:
        clients = []
        try:
            slow = occupy(s, 'POST')
            clients.append(slow)
            p = park(s)
            clients.append(p)
            assert p.is_quiet(1.0), 'answered at once, not parked'
            r = p.response(timeout=8)
            T.assert_listener_error(p, r, 503)
            release(slow, 405)
        finally:
            for c in clients:
                if getattr(c, 'worker', None):
                    T.kill_quietly(c.worker, signal.SIGCONT)
                c.close()


if __name__ == '__main__':
    T.main()
