"""
Health monitoring, as IIS's WAS does it: a worker that stops answering
pings (SIGSTOP'd) is killed after ping_timeout and replaced, and the
requests it held and those parked for its pool are served by the
replacement; a worker that never says it is ready is killed after
startup_timeout as a failed start; a worker that ignores being retired
is killed after its pool's shutdown_timeout.
"""

import os
import signal
import sys
import threading

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import hsdtest as T  # noqa: E402

A = b'the answer in flight\n'
B = b'the parked answer\n'

# What the hostile workers do (hsdtest.FAULT_PRELUDE comes first).
ROLES = r'''
say('pid %d' % os.getpid())
if role == 'never-ready':
    time.sleep(600)
    os._exit(0)

DONE = struct.Struct('<IHHQIIIIQQQ')    # struct msg_done
HANDOFF = struct.Struct('<IHHIiII')     # struct msg_handoff

def answer(fds, msg):
    # Serve the handoff with a fixed response, as a worker would.
    conn, slot = HANDOFF.unpack_from(msg, HDR.size)[:2]
    out = (b'HTTP/1.1 200 OK\r\nContent-Length: 6\r\n'
           b'Connection: close\r\n\r\nfault\n')
    os.write(fds[0], out)
    dn = DONE.pack(conn, slot, 200, len(out), 0, 0, 0, 0, 0, 0, 0)
    lsn.send(HDR.pack(V, 400, len(dn), conn, 0) + dn)   # MSG_REQ_DONE

ready()
asked = False
while True:
    kind, fds, msg = recv_record()
    if kind == 301:                                      # MSG_REQ_HANDOFF
        answer(fds, msg)
        if role == 'ignore-retire' and not asked:
            # MSG_WRK_RECYCLE: recycle_requests (1000) reached
            pm.send(HDR.pack(V, 561, 8, 0, 0) + struct.pack('<Q', 1000))
            asked = True
            say('asked to be recycled')
    elif kind == 310:                                    # MSG_REQ_RETIRE
        say('retire ignored')
    for fd in fds:
        os.close(fd)
'''


def fault_pid(marker):
    for line in T.fault_report(marker):
        if line.startswith('pid '):
            return int(line[4:])
    return None


def test_stopped_worker_replaced_after_ping_timeout():
    # The pool's only worker, with room for one request, is stopped: one
    # request goes to it and hangs there, the next is parked.  Only the
    # pings can tell (connection_timeout is far away): after ping_timeout
    # the worker is killed, the request it held is handed on and the
    # parked one is served, both by the replacement, with their bodies.
    conf = '''limits { connection_timeout = "120s" }
pool "default" { workers = 1  concurrency = 1
                 ping_interval = "100ms"  ping_timeout = "2s" }
site "s" { bindings = {"127.0.0.1:@PORT@"} root = "@ROOT@" }
'''
    with T.Server(conf, files={'a.txt': A, 'b.txt': B}, workers=1) as s:
        (old,) = s.children('hsd-worker')
        # It answers pings while it runs: nothing is killed.
        T.assert_eq(T.get_to_eof(s.port, '/a.txt').body, A, 'body before')
        os.kill(old, signal.SIGSTOP)
        try:
            got = {}

            def fetch(path):
                try:
                    got[path] = T.get(s.port, path, timeout=60)
                except Exception as e:    # noqa: BLE001
                    got[path] = e
            # Both go out at once, long before ping_timeout: whichever the
            # listener reads first is handed to the stopped worker (it
            # has room for one), the other is parked.
            threads = [threading.Thread(target=fetch, args=(p,))
                       for p in ('/a.txt', '/b.txt')]
            for t in threads:
                t.start()
            for t in threads:
                t.join(90)
        finally:
            T.kill_quietly(old, signal.SIGCONT)
        for path, body in (('/a.txt', A), ('/b.txt', B)):
            r = got.get(path)
            assert not isinstance(r, Exception) and r is not None, \
                '%s: %r' % (path, r)
            T.assert_eq(r.status, 200, path + ' status')
            T.assert_eq(r.body, body, path + ' body')
        log = s.log()
        assert ('(pid %d) of pool default did not answer a ping within '
                '2000 ms (ping_timeout)' % old) in log, log
        # The one at the stopped worker was handed on when it died.
        assert 'died; request handed on' in log, log
        T.wait_for(lambda: not T.alive(old), 10, 'the stopped worker gone')
        new = s.children('hsd-worker')
        assert len(new) == 1 and new[0] != old, 'workers %r' % new
        T.assert_eq(T.get(s.port, '/b.txt').body, B, 'body after')


def test_worker_never_ready_killed_after_startup_timeout():
    # A worker that never says it is ready is killed after
    # startup_timeout and counted as a failed start; its replacement
    # serves, including the request that waited for a ready worker.
    libexec, marker = T.fault_libexec(ROLES)
    T.fault_arm(marker, 'never-ready')
    conf = '''pool "default" { workers = 1  startup_timeout = "500ms" }
site "s" { bindings = {"127.0.0.1:@PORT@"} root = "@ROOT@" }
'''
    with T.Server(conf, files={'a.txt': A}, libexec=libexec) as s:
        T.assert_eq(T.get(s.port, '/a.txt').body, A, 'body')
        pid = fault_pid(marker)
        assert pid is not None, 'the fault worker did not start: %r' % \
            T.fault_report(marker)
        T.wait_for(lambda: not T.alive(pid), 10, 'the fault worker gone')
        log = s.log()
        assert ('(pid %d) of pool default was not ready within '
                'startup_timeout' % pid) in log, log
        assert ('(pid %d) of pool default killed by signal 9 before it '
                'was ready' % pid) in log, log
        assert pid not in s.children('hsd-worker')


def test_worker_ignoring_retire_killed_after_shutdown_timeout():
    # A worker that asks to be recycled and then ignores being retired
    # is killed after its pool's shutdown_timeout, once its replacement
    # serves; nobody waits for it.
    libexec, marker = T.fault_libexec(ROLES)
    T.fault_arm(marker, 'ignore-retire')
    conf = '''pool "default" { workers = 1  recycle_requests = 1000
                 ping_timeout = "60s"  shutdown_timeout = "500ms" }
site "s" { bindings = {"127.0.0.1:@PORT@"} root = "@ROOT@" }
'''
    with T.Server(conf, files={'a.txt': A}, libexec=libexec) as s:
        pid = fault_pid(marker)
        assert pid is not None, 'no fault worker: %r' % \
            T.fault_report(marker)
        T.wait_for(lambda: 'retire ignored' in T.fault_report(marker), 10,
                   'the fault worker told to retire')
        T.wait_for(lambda: not T.alive(pid), 10, 'the fault worker gone')
        log = s.log()
        assert ('(pid %d) of pool default did not stop within '
                'shutdown_timeout (500 ms); killing it' % pid) in log, log
        assert 'recycling (recycle_requests 1000 reached)' in log, log
        T.assert_eq(T.get(s.port, '/a.txt').body, A, 'body after')
        (new,) = s.children('hsd-worker')
        assert new != pid


T.main()
