"""
Failover: workers are killed under load and no client notices; a GET in
flight at a dead worker is served again, a POST gets 502, and the pool
manager brings killed workers back while parked requests wait for them.
(A response cut half-way is in t_worker_faults.py: a worker that hands
slow readers' responses back to the listener is hard to catch mid-write.)
"""

import os
import random
import signal
import sys
import time

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import hsdtest as T  # noqa: E402

# The workers are killed over and over: rapid-fail protection
# (t_rapid_fail.py) would take the pool offline, so it is off here.
CONF = '''limits { connection_timeout = "60s" }
pool "default" { workers = %d  concurrency = %d  queue_length = 100
	rapid_fail_max = 0 }
site "s" { bindings = {"127.0.0.1:@PORT@"} root = "@ROOT@" }
'''

ONE_K = bytes((ord('a') + i % 26) for i in range(1023)) + b'\n'
FILES = {'1k.txt': ONE_K, '100k.bin': T.Random(100 * 1024, seed=4)}


def server(workers, concurrency=64):
    return T.Server(CONF % (workers, concurrency), files=FILES,
                    workers=workers)


def wait_workers(s, n, old=()):
    """Wait until n workers run, none of them one of old."""
    def ok():
        w = s.children('hsd-worker')
        return w if len(w) == n and not (set(w) & set(old)) else None
    return T.wait_for(ok, 10, '%d new hsd-worker children' % n)


def test_kill_under_load():
    kill_under_load('1k.txt')


def test_kill_under_load_100k():
    # A body too large for one send() with its head is handed to the
    # listener before a byte is written: a kill can no longer cut it.
    kill_under_load('100k.bin')


def kill_under_load(name):
    wrk = T.need_program('wrk')
    with server(2) as s:
        expected = s.path(name)
        rnd = random.Random(5)

        def victim():
            w = s.children('hsd-worker')
            return [rnd.choice(w)] if w else []
        w = T.wrk_killing(wrk, ['-t2', '-c50', '-d10s'],
                          'http://127.0.0.1:%d/%s' % (s.port, name),
                          expected, 0.3, victim, timeout=40)
        kills = w['kills']
        T.assert_eq(w['rc'], 0, 'wrk exit status')
        assert w['requests'] is not None, 'no request count in wrk output'
        assert w['bad'] is not None, \
            'no "bad N total M" line from check_body.lua'
        errs, non2xx, bad, total = w['errs'], w['non2xx'], w['bad'], \
            w['total']
        print('# %d workers killed; %d requests, socket errors %r, '
              'non-2xx %d, bad bodies %d of %d'
              % (len(kills), w['requests'], errs, non2xx, bad, total))
        T.assert_eq(errs, (0, 0, 0, 0),
                    'socket errors (connect, read, write, timeout)')
        T.assert_eq(non2xx, 0, 'non-2xx responses')
        T.assert_eq(bad, 0, 'responses without status 200 and the body')
        # Zero errors is the assertion; how many requests and kills a
        # run gets depends on the machine, so they are only reported --
        # but there must have been some of each for the run to mean
        # anything.
        assert total > 0 and kills, 'no response checked, or no kill'
        wait_workers(s, 2)
        r = T.get(s.port, '/1k.txt')
        T.assert_eq(r.body, ONE_K, 'body after the run')


def stopped_then_killed(s, request):
    """Send request to the only worker while it is stopped, then kill it.
    Returns the client, its response not read yet."""
    (w,) = s.children('hsd-worker')
    os.kill(w, signal.SIGSTOP)
    c = None
    try:
        c = T.Client(s.port, timeout=10)
        c.send(request)
        # The listener hands the request to the (stopped) worker; nothing
        # can answer it meanwhile.
        assert c.is_quiet(0.7), 'answered while the only worker is stopped'
    finally:
        T.kill_quietly(w)
    return c, w


def test_inflight_get_redispatched():
    with server(1) as s:
        c, w = stopped_then_killed(s, T.req('GET', '/1k.txt'))
        with c:
            r = c.response(timeout=10)
            T.assert_eq(r.status, 200, 'status of the GET')
            T.assert_eq(r.body, ONE_K, 'body of the GET')
            # Still a normal keep-alive connection.
            r = c.request('GET', '/1k.txt')
            T.assert_eq(r.body, ONE_K, 'body of the next GET')
        wait_workers(s, 1, [w])


def test_inflight_head_redispatched():
    with server(1) as s:
        c, w = stopped_then_killed(s, T.req('HEAD', '/1k.txt'))
        with c:
            r = c.response('HEAD', timeout=10)
            T.assert_eq(r.status, 200, 'status of the HEAD')
            T.assert_eq(r.header('content-length'), str(len(ONE_K)),
                        'Content-Length of the HEAD')


def test_inflight_post_502():
    with server(1) as s:
        c, w = stopped_then_killed(s, T.req('POST', '/1k.txt',
                                            body=b'hello'))
        with c:
            r = c.response(timeout=10)
            T.assert_listener_error(c, r, 502)
        wait_workers(s, 1, [w])
        r = T.get(s.port, '/1k.txt')
        T.assert_eq(r.body, ONE_K, 'body after the 502')


def test_workers_restarted():
    with server(2) as s:
        for round in range(3):
            old = s.children('hsd-worker')
            T.assert_eq(len(old), 2, 'workers before round %d' % round)
            for pid in old:
                T.kill_quietly(pid)
            new = wait_workers(s, 2, old)
            pools = set(p for p, _ in s.workers().values())
            T.assert_eq(pools, {'0'}, 'pool of the restarted workers')
            r = T.get(s.port, '/1k.txt')
            T.assert_eq(r.body, ONE_K, 'body after round %d' % round)
            assert set(new).isdisjoint(old)


def test_parked_requests_survive_killing_all():
    # Both workers stopped, each holding one request (concurrency 1),
    # three more parked; every worker is killed: the held requests are
    # handed on, the parked ones wait, and all five get their answers.
    with server(2, concurrency=1) as s:
        clients = []
        old = s.children('hsd-worker')
        try:
            for pid in old:
                os.kill(pid, signal.SIGSTOP)
            for _ in range(5):
                c = T.Client(s.port, timeout=20)
                clients.append(c)
                c.send(T.req('GET', '/1k.txt'))
            for c in clients:
                assert c.is_quiet(0.3), \
                    'answered while both workers are stopped'
            for pid in old:
                T.kill_quietly(pid)
            for i, c in enumerate(clients):
                r = c.response(timeout=15)
                T.assert_eq(r.status, 200, 'status of request %d' % i)
                T.assert_eq(r.body, ONE_K, 'body of request %d' % i)
            wait_workers(s, 2, old)
        finally:
            for c in clients:
                c.close()


def test_failed_starts_back_off():
    """A worker that dies before it is ready (here: its root vanished, so
    it cannot load the config) is restarted after a growing pause, not in
    a tight loop; once it can start again the pool serves again."""
    with server(1) as s:
        moved = s.root + '.away'
        os.rename(s.root, moved)
        try:
            T.kill_quietly(s.children('hsd-worker')[0])
            T.wait_for(lambda: 'restarting after a pause' in s.log(), 10,
                       'a paused restart')
            fails = s.log().count('before it was ready')
            assert fails >= 3, 'only %d failed starts logged' % fails
            T.wait_for(lambda: not s.children('hsd-worker'), 5,
                       'no worker while the restart is paused')
            # Pauses double from 1 s: far fewer than one start per 100 ms.
            before = s.log().count('before it was ready')
            time.sleep(2)
            after = s.log().count('before it was ready')
            assert after - before <= 2, \
                '%d failed starts in 2 s despite the back-off' % (
                    after - before)
        finally:
            os.rename(moved, s.root)
        wait_workers(s, 1)
        r = T.get(s.port, '/1k.txt', timeout=15)
        T.assert_eq(r.status, 200, 'status once the worker starts again')
        T.assert_eq(r.body, ONE_K, 'body once the worker starts again')


if __name__ == '__main__':
    T.main()
