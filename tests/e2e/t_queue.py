"""
The pool queue: with one worker holding one request, later requests park
(unanswered) up to queue_length, one more gets 503 at once, a client that
leaves the queue frees its place, parked requests are served in order
when the worker is free, and a request parked longer than
connection_timeout gets 503.
"""

import os
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


def occupy(s):
    """A client that asked for the big file and reads nothing more than
    the response head: the only worker stays busy writing to it."""
    c = T.Client(s.port, timeout=10, rcvbuf=65536)
    c.send(T.req('GET', '/big.bin'))
    r = c.read_head()
    T.assert_eq(r.status, 200, 'status of the big file')
    T.assert_eq(r.header('content-length'), str(BIG), 'its Content-Length')
    return c


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
            # Free the worker: p2 (first in the queue) is served, and
            # holds the worker again, so p4 still waits.
            drain_big(slow)
            r = p2.read_head(timeout=10)
            T.assert_eq(r.status, 200, 'status of the first parked request')
            assert p4.is_quiet(1.0), \
                'the later parked request was served before the earlier one'
            drain_big(p2)
            r = p4.response(timeout=10)
            T.assert_eq(r.status, 200, 'status of the last parked request')
            T.assert_eq(r.body, b'small\n', 'its body')
            # The slow client's connection is usable again.
            r = slow.request('GET', '/small.txt')
            T.assert_eq(r.body, b'small\n', 'next request after the big one')
        finally:
            for c in clients:
                c.close()


def test_queue_many_leave():
    # Clients that leave the queue (even all at once, with RST) never
    # count against it later.
    with T.Server(CONF % '60s', files=FILES, workers=1) as s:
        clients = []
        try:
            slow = occupy(s)
            clients.append(slow)
            for _ in range(3):
                a, b = park(s), park(s)
                assert a.is_quiet(0.5) and b.is_quiet(0.1), \
                    'parked requests answered while the worker is busy'
                a.reset()
                b.close()
                time.sleep(0.3)
            p = park(s)
            clients.append(p)
            assert p.is_quiet(1.0), 'refused after clients left the queue'
            drain_big(slow)
            r = p.response(timeout=10)
            T.assert_eq(r.status, 200, 'status of the parked request')
        finally:
            for c in clients:
                c.close()


def test_parked_too_long():
    with T.Server(CONF % '2s', files=FILES, workers=1) as s:
        clients = []
        stop = threading.Event()
        t = None
        try:
            slow = occupy(s)
            clients.append(slow)

            # The slow client keeps reading a little: the worker makes
            # progress, so it keeps the request (a client that reads
            # nothing for connection_timeout may be given up on).
            def trickle():
                while not stop.wait(0.2):
                    try:
                        if not slow.sock.recv(32768):
                            return
                    except OSError:
                        return
            t = threading.Thread(target=trickle)
            t.start()
            p = park(s)
            clients.append(p)
            assert p.is_quiet(1.0), 'answered at once, not parked'
            r = p.response(timeout=8)
            T.assert_listener_error(p, r, 503)
            assert t.is_alive(), 'the slow response ended early'
        finally:
            stop.set()
            if t is not None:
                t.join()
            for c in clients:
                c.close()


if __name__ == '__main__':
    T.main()
