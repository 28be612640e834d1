"""
Slow readers hold no worker: when a client's socket would block, the
worker hands the rest of the response back to the listener, which sends
it as the client reads (HTTP.sys's part), and takes its next request.
So slow readers do not starve the pool, a worker killed after the
handback costs its clients nothing, a client that reads too slowly
(min_send_rate) or not at all (connection_timeout) is reset, and a
worker cannot hand back something the listener cannot send.
"""

import os
import socket
import sys
import time

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import hsdtest as T  # noqa: E402

# Workers are killed over and over: rapid-fail protection
# (t_rapid_fail.py) would take the pool offline, so it is off here.
CONF = '''limits {
	connection_timeout = "@TIMEOUT@"
	min_send_rate = @RATE@
}
pool "default" { workers = @WORKERS@  concurrency = @CONC@
	rapid_fail_max = 0 }
site "s" { bindings = {"127.0.0.1:@PORT@"} root = "@ROOT@" }
'''

SMALL = b'small and quick\n'
FILES = {
    'a.txt': SMALL,
    'big.bin': T.Random(1024 * 1024, seed=7),
    'huge.bin': T.Random(4 * 1024 * 1024, seed=8),
    'zeros.bin': T.Sparse(32 * 1024 * 1024),
}


def server(timeout='30s', rate=240, workers=1, conc=8, libexec=None):
    conf = (CONF.replace('@TIMEOUT@', timeout).replace('@RATE@', str(rate))
            .replace('@WORKERS@', str(workers))
            .replace('@CONC@', str(conc)))
    return T.Server(conf, files=FILES, workers=workers, libexec=libexec)


def content(s, name):
    with open(s.path(name), 'rb') as f:
        return f.read()


def slow_client(s, path, rcvbuf=4096):
    c = T.Client(s.port, timeout=30, rcvbuf=rcvbuf)
    c.send(T.req('GET', path))
    return c


def quick_get(s, what):
    t0 = time.monotonic()
    r = T.get(s.port, '/a.txt', timeout=5)
    took = time.monotonic() - t0
    T.assert_eq((r.status, r.body), (200, SMALL), what)
    return took


def read_body(c, n):
    """The n body bytes behind a 200 head, read efficiently."""
    r = c.read_head(timeout=30)
    T.assert_eq(r.status, 200, 'status')
    T.assert_eq(int(r.header('content-length')), n, 'Content-Length')
    out = bytearray(c.buf)
    c.buf = b''
    c.sock.settimeout(30)
    while len(out) < n:
        data = c.sock.recv(1 << 20)
        if not data:
            raise AssertionError('closed after %d of %d bytes'
                                 % (len(out), n))
        out += data
    return bytes(out)


def test_slow_readers_do_not_starve_the_pool():
    # 200 clients that read nothing of a 4 MiB answer (more than the
    # socket buffers take), against one worker with 8 slots: a normal GET
    # still goes straight through.
    with server(conc=8) as s:
        want = content(s, 'huge.bin')
        slow = []
        try:
            for i in range(200):
                slow.append(slow_client(s, '/huge.bin'))
                if i % 50 == 49:
                    quick_get(s, 'GET among %d slow readers' % (i + 1))
            time.sleep(0.5)
            worst = max(quick_get(s, 'GET %d with 200 slow readers' % i)
                        for i in range(10))
            print('#   slowest of 10 GETs beside 200 slow readers: %.3fs'
                  % worst)
            assert worst < 2.0, 'a GET took %.1fs' % worst
            # The slow readers still get their whole answers.
            for i in range(0, 200, 20):
                assert read_body(slow[i], len(want)) == want, \
                    'slow reader %d: body differs' % i
        finally:
            for c in slow:
                c.close()


def test_pipelined_behind_handed_back_responses():
    # Requests pipelined behind a response the listener finishes are
    # answered after it, in order, on the same connection.
    with server() as s:
        big, huge = content(s, 'big.bin'), content(s, 'huge.bin')
        order = ['/big.bin', '/a.txt', '/huge.bin', '/a.txt', '/big.bin']
        want = {'/big.bin': big, '/huge.bin': huge, '/a.txt': SMALL}
        with T.Client(s.port, timeout=30, rcvbuf=8192) as c:
            c.send(b''.join(T.req('GET', p) for p in order))
            time.sleep(0.5)		# let the worker hand them back
            for i, p in enumerate(order):
                r = c.response(timeout=30)
                T.assert_eq(r.status, 200, 'status of %d (%s)' % (i, p))
                assert r.body == want[p], 'body of %d (%s) differs' % (i, p)
            r = c.request('GET', '/a.txt')
            T.assert_eq(r.body, SMALL, 'the connection goes on')


def test_workers_killed_during_handed_back_downloads():
    # Every worker is killed, again and again, while the listener sends
    # what they handed back: every download completes, exact.
    with server(workers=2) as s:
        huge = content(s, 'huge.bin')
        clients = [slow_client(s, '/huge.bin', rcvbuf=16384)
                   for _ in range(20)]
        try:
            # Once the workers hold no client socket, every download is
            # the listener's.
            T.wait_for(lambda: all(T.tcp_sockets(p) == 0 for p in
                                   s.children('hsd-worker')), 10,
                       'the workers to hand every download back')
            bufs = [bytearray() for _ in clients]
            kills = 0
            deadline = time.monotonic() + 60
            last_kill = 0
            done = [False] * len(clients)
            while not all(done) and time.monotonic() < deadline:
                if kills < 10 and time.monotonic() - last_kill > 0.2:
                    for pid in s.children('hsd-worker'):
                        T.kill_quietly(pid)
                        kills += 1
                    last_kill = time.monotonic()
                time.sleep(0.02)
                for i, c in enumerate(clients):
                    if done[i]:
                        continue
                    c.sock.settimeout(0.001)
                    try:
                        data = c.sock.recv(32768)
                    except socket.timeout:
                        continue
                    except ConnectionResetError:
                        raise AssertionError('download %d reset' % i)
                    if not data:
                        raise AssertionError('download %d closed after %d '
                                             'bytes' % (i, len(bufs[i])))
                    bufs[i] += data
                    j = bufs[i].find(b'\r\n\r\n', 0, 400)
                    if j >= 0 and len(bufs[i]) - j - 4 >= len(huge):
                        done[i] = True
            print('#   %d worker kills during 20 downloads' % kills)
            assert kills >= 10, 'only %d kills' % kills
            for i, b in enumerate(bufs):
                j = b.find(b'\r\n\r\n')
                T.assert_eq(b[:12], b'HTTP/1.1 200', 'status of %d' % i)
                assert b[j + 4:] == huge, 'download %d: %d of %d bytes, ' \
                    'or different' % (i, len(b) - j - 4, len(huge))
        finally:
            for c in clients:
                c.close()
        T.wait_for(lambda: len(s.children('hsd-worker')) == 2, 10,
                   'two workers')


def test_reader_that_stops_is_reset():
    # A client that stops reading is reset after connection_timeout: the
    # cut response must not end with a FIN.
    with server(timeout='1s', rate=0) as s:
        c = slow_client(s, '/huge.bin')
        with c:
            t0 = time.monotonic()
            T.wait_for(lambda: 'took nothing' in s.log(), 10,
                       'the listener to give up on the client')
            took = time.monotonic() - t0
            data, how = c.read_all(10)
            T.assert_eq(how, 'reset', 'end of the cut response')
            assert len(data) < len(content(s, 'huge.bin'))
            print('#   given up after %.1fs' % took)
        quick_get(s, 'the pool still serves')


def test_reader_slower_than_min_send_rate_is_reset():
    # 32 MiB at min_send_rate 10 MB/s is due within connection_timeout
    # (1 s) plus about 3.4 s: a client reading about 20 KB/s is cut then,
    # one reading at full speed is not.  (The file is larger than what
    # the socket buffers hold, so the listener is still sending.)
    size = 32 * 1024 * 1024
    with server(timeout='1s', rate=10000000) as s:
        with T.Client(s.port, timeout=30) as fast:
            fast.send(T.req('GET', '/zeros.bin'))
            r = fast.read_head()
            T.assert_eq(r.status, 200, 'fast reader')
            got, buf = len(fast.buf), bytearray(1 << 20)
            while got < size:
                n = fast.sock.recv_into(buf)
                assert n > 0, 'fast reader cut after %d bytes' % got
                got += n
            T.assert_eq(got, size, 'bytes to the fast reader')
        c = slow_client(s, '/zeros.bin', rcvbuf=4096)
        with c:
            got, how = 0, None
            t0 = time.monotonic()
            while time.monotonic() - t0 < 30:
                try:
                    data = c.sock.recv(2048)
                except ConnectionResetError:
                    how = 'reset'
                    break
                if not data:
                    how = 'eof'
                    break
                got += len(data)
                time.sleep(0.1)
            print('#   slow reader: %d bytes in %.1fs, then %s'
                  % (got, time.monotonic() - t0, how))
            T.assert_eq(how, 'reset', 'how the slow reader was cut')
            assert got < size
        assert 'slower than min_send_rate' in s.log(), s.log()


# A worker that writes a head itself and hands back a "file" the
# listener must refuse: a pipe, or a range past the end of a real file
# (hsdtest.FAULT_PRELUDE comes first).
ROLES = r'''
HO = struct.Struct('<IHHIiII')
DONE = struct.Struct('<IHHQIIIIQQQ')
ready()
while True:
    kind, fds, msg = recv_record()
    if kind != 301:
        for fd in fds:
            os.close(fd)
        continue
    conn, slot = HO.unpack_from(msg, HDR.size)[:2]
    head = b'HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n'
    os.write(fds[0], head)
    if role == 'handback-pipe':
        src, w = os.pipe()
        os.write(w, b'x' * 100)
        off = 0
    elif role == 'handback-and-die':
        path = marker + '.body'
        with open(path, 'wb') as f:
            f.write(b'0123456789' * 11)
        src = os.open(path, os.O_RDONLY)
        off = 10
    else:
        path = marker + '.small'
        with open(path, 'wb') as f:
            f.write(b'y' * 50)
        src = os.open(path, os.O_RDONLY)
        off = 10
    done = DONE.pack(conn, slot, 200, len(head), 1 | 4, 0, 0, 0, off, 100,
                     0)
    lsn.sendmsg([HDR.pack(V, 400, len(done), conn, 0) + done],
               [(socket.SOL_SOCKET, socket.SCM_RIGHTS,
                 struct.pack('i', src))])
    os.close(fds[0])
    say('handed back')
    if role == 'handback-and-die':
        os._exit(6)     # the DONE is in the channel, unread
'''


def play(s, marker, role):
    """Replace the worker with one that plays role.  No need to wait for
    it to be ready: requests park until it says so."""
    T.fault_arm(marker, role)
    (old,) = s.children('hsd-worker')
    T.kill_quietly(old)
    T.wait_for(lambda: [p for p in s.children('hsd-worker') if p != old],
               10, 'the hostile worker')


def hostile_handback(role):
    libexec, marker = T.fault_libexec(ROLES)
    with server(libexec=libexec) as s:
        listener = s.listener()
        play(s, marker, role)
        with T.Client(s.port) as c:
            c.send(T.req('GET', '/a.txt'))
            data, how = c.read_all(10)
            T.assert_eq(how, 'reset', 'end of a response that cannot '
                        'be finished (got %r)' % data[:80])
        T.assert_eq(s.listener(), listener, 'listener pid')
        assert 'no usable file range' in s.log(), s.log()


def test_worker_dies_right_after_the_handback():
    # The worker hands a response back and exits at once: its DONE is
    # still in the channel when the listener learns of the death, and the
    # client gets the whole response, then goes on with its connection.
    libexec, marker = T.fault_libexec(ROLES)
    with server(libexec=libexec) as s:
        play(s, marker, 'handback-and-die')
        with T.Client(s.port) as c:
            r = c.request('GET', '/a.txt')
            T.assert_eq((r.status, r.body), (200, b'0123456789' * 10),
                        'the handed-back response')
            T.wait_for(lambda: 'handed back' in T.fault_report(marker),
                       5, 'the hostile worker to have handed back')
            r = c.request('GET', '/a.txt')
            T.assert_eq((r.status, r.body), (200, SMALL),
                        'the next request, from the new worker')


def test_hostile_handback_of_a_pipe():
    hostile_handback('handback-pipe')


def test_hostile_handback_past_the_end():
    hostile_handback('handback-past-end')


if __name__ == '__main__':
    T.main()
