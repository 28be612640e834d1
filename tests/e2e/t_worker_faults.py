"""
A worker must never be able to hurt the listener or a client: a worker
that shrinks the shared slot table, one that runs out of fds and cannot
take a handoff, one that dies while starting, one that hangs with a
request, and one that gives up half-way through a response.  In each case
the listener survives, the client gets a whole answer or a reset (never a
cut response that looks complete), and the pool is back to strength.
"""

import os
import signal
import sys
import time

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import hsdtest as T  # noqa: E402

CONF = '''limits { connection_timeout = "@TIMEOUT@" }
pool "default" { workers = 1 }
site "s" { bindings = {"127.0.0.1:@PORT@"} root = "@ROOT@" }
'''

BODY = b'whole answer\n'
BIG = 32 * 1024 * 1024

# What the hostile workers do (hsdtest.FAULT_PRELUDE comes first).
ROLES = r'''
if role == 'die-while-starting':
    say('started')
    time.sleep(1.0)
    say('exiting')
    os._exit(3)

ready()
while True:
    kind, fds, msg = recv_record()
    if role == 'truncate-slots' and kind == 300:     # MSG_REQ_SLOTS
        try:
            os.ftruncate(fds[0], 0)
            say('truncated')
        except OSError as e:
            say('ftruncate: ' + errno.errorcode[e.errno])
    elif role == 'truncate-slots' and kind == 301:   # MSG_REQ_HANDOFF
        say('handoff')
        os._exit(4)                                   # die holding it
    elif role == 'write-half-and-die' and kind == 301:
        os.write(fds[0], b'HTTP/1.1 200 OK\r\nContent-Length: 1000'
                 b'\r\n\r\n' + b'z' * 300)
        say('wrote half')
        os._exit(5)
    for fd in fds:
        os.close(fd)
'''


arm = T.fault_arm
report = T.fault_report


def server(timeout='10s', libexec=None, files=None):
    return T.Server(CONF.replace('@TIMEOUT@', timeout),
                    files=files or {'a.txt': BODY}, workers=1,
                    libexec=libexec)


def replace_worker(s):
    """Kill the worker; return once its replacement runs."""
    (old,) = s.children('hsd-worker')
    T.kill_quietly(old)
    T.wait_for(lambda: [p for p in s.children('hsd-worker') if p != old],
               10, 'a new worker')
    return old


def test_slot_table_sealed():
    # A worker that shrinks the slot table and dies with a request must
    # not make the listener read past the mapping (SIGBUS): the listener
    # sealed the memfd before passing it.
    libexec, marker = T.fault_libexec(ROLES)
    with server(libexec=libexec) as s:
        listener = s.listener()
        arm(marker, 'truncate-slots')
        replace_worker(s)
        r = T.get(s.port, '/a.txt', timeout=15)
        T.assert_eq((r.status, r.body), (200, BODY),
                    'the request the hostile worker died with')
        rep = report(marker)
        assert 'handoff' in rep, rep
        assert 'ftruncate: EPERM' in rep, 'the table could be shrunk: %r' % rep
        T.assert_eq(s.listener(), listener, 'listener pid')
        assert s.running(), 'the pool manager died'


def lowest_free_fd(pid):
    used = set(int(x) for x in os.listdir('/proc/%d/fd' % pid))
    n = 0
    while n in used:
        n += 1
    return n


def test_handoff_without_fd_is_handed_on():
    # A worker out of fds receives the handoff without its socket
    # (MSG_CTRUNC).  It says so; the listener gives the request, even a
    # POST, to a new worker, and the pool manager replaces the old one.
    with server() as s:
        (w,) = s.children('hsd-worker')
        # Counted while the worker may still hold the harness's first
        # request, its limit would leave room for one more socket.
        T.wait_for(lambda: T.tcp_sockets(w) == 0, 5, 'an idle worker')
        n = lowest_free_fd(w)
        T.set_nofile(w, n)
        s.expect_leak_check_failure(w)
        with T.Client(s.port) as c:
            r = c.request('POST', '/a.txt', body=b'hello')
            T.assert_eq(r.status, 405, 'POST answered by the new worker')
            r = c.request('GET', '/a.txt')
            T.assert_eq((r.status, r.body), (200, BODY), 'GET after it')
        T.wait_for(lambda: not T.alive(w), 10, 'the broken worker to exit')
        T.assert_eq(len(s.children('hsd-worker')), 1, 'workers')
        log = s.log()
        assert 'out of fds; refused' in log, log
        assert 'is broken' in log, log


def test_no_dispatch_before_ready():
    # A worker that dies while it starts must not take requests with it:
    # they wait in the queue for a worker that said it is ready.  A POST
    # handed to the dying one would have come back as a 502.
    libexec, marker = T.fault_libexec(ROLES)
    with server(libexec=libexec) as s:
        arm(marker, 'die-while-starting')
        replace_worker(s)
        T.wait_for(lambda: 'started' in report(marker), 5,
                   'the slow worker to start')
        with T.Client(s.port) as c:
            c.send(T.req('POST', '/a.txt', body=b'hello'))
            r = c.response(timeout=15)
            T.assert_eq(r.status, 405, 'POST after a failed start')
            assert 'exiting' in report(marker), report(marker)
            r = c.request('GET', '/a.txt')
            T.assert_eq(r.body, BODY, 'GET after it')


def test_hung_worker_request_deadline():
    # A worker that hangs with a request (here: stopped) cannot hold the
    # client: after connection_timeout without progress the listener has
    # it killed and the request goes to its replacement.
    with server(timeout='1s') as s:
        (w,) = s.children('hsd-worker')
        os.kill(w, signal.SIGSTOP)
        try:
            t0 = time.monotonic()
            r = T.get(s.port, '/a.txt', timeout=15)
            T.assert_eq((r.status, r.body), (200, BODY),
                        'request the hung worker held')
            print('#   answered after %.1fs' % (time.monotonic() - t0))
        finally:
            T.kill_quietly(w)
        assert 'is hung' in s.log(), s.log()


def test_cut_response_not_complete():
    # A worker that dies half-way through a response: the client must see
    # a reset, never a FIN that would make the 300 bytes look complete.
    libexec, marker = T.fault_libexec(ROLES)
    with server(libexec=libexec) as s:
        arm(marker, 'write-half-and-die')
        replace_worker(s)
        with T.Client(s.port) as c:
            c.send(T.req('GET', '/a.txt'))
            data, how = c.read_all(10)
            T.assert_eq(how, 'reset', 'end of the cut response')
            # What arrived before the reset is some of the 300 bytes (a
            # reset may discard what the client had not read yet).
            assert b'z' * 301 not in data, len(data)
        assert 'wrote half' in report(marker)
        r = T.get(s.port, '/a.txt')
        T.assert_eq(r.body, BODY, 'the next worker serves')


def test_incomplete_response_is_reset():
    # The file shrinks while it is sent: the worker cannot finish the
    # response it announced, and the client must see a reset, not a FIN
    # that would make the short body look complete.
    with server(files={'big.bin': T.Sparse(BIG), 'a.txt': BODY}) as s:
        with T.Client(s.port, timeout=20, rcvbuf=65536) as c:
            c.send(T.req('GET', '/big.bin'))
            r = c.read_head()
            T.assert_eq(int(r.header('content-length')), BIG, 'length')
            T.wait_for(lambda: c.readable(), 5, 'body bytes')
            time.sleep(0.3)		# let the sender fill the socket
            os.truncate(s.path('big.bin'), 1024 * 1024)
            data, how = c.read_all(20)
            print('#   got %d of %d body bytes, then %s'
                  % (len(data), BIG, how))
            assert len(data) < BIG
            T.assert_eq(how, 'reset', 'how the cut response ended')
        r = T.get(s.port, '/a.txt')
        T.assert_eq(r.body, BODY, 'the pool still serves')


if __name__ == '__main__':
    T.main()
