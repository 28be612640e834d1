"""
Demand start (issue 7): a pool with start = "demand" (the default) runs
no worker until a request for it parks; then its workers start and every
request that arrived meanwhile is served, none refused.  start = "always"
starts them with the server.  A pool whose last worker dies is asked
for again by the next request.
"""

import os
import signal
import sys
import threading

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import hsdtest as T  # noqa: E402

# The harness's readiness request names no site (Host localhost), so the
# listener answers it alone and no pool is asked for.
CONF = '''pool "default" { workers = 2 }
pool "eager" { workers = 1  start = "always" }
site "s" {
	bindings = {"127.0.0.1:@PORT@:s.example"}
	root = "@ROOT@"
	application "/e" { pool = "eager" }
}
'''

BODY = 'on demand\n' * 50
FILES = {'a.txt': BODY, 'e/b.txt': 'eager\n'}


def pool_workers(s, pool):
    return sorted(pid for pid, (p, _) in s.workers().items() if p == pool)


def get(s, path):
    return T.get(s.port, path, host='s.example', timeout=30)


def test_demand_start():
    with T.Server(CONF, files=FILES) as s:
        T.wait_for(lambda: pool_workers(s, '1'), 10, 'the eager worker')
        T.assert_eq(pool_workers(s, '0'), [], 'no worker before a request')
        r = get(s, '/a.txt')
        T.assert_eq(r.status, 200, 'the first request')
        T.assert_eq(r.body.decode(), BODY, 'its body')
        T.wait_for(lambda: len(pool_workers(s, '0')) == 2, 10,
                   'the whole web garden')
        assert 'pool default: a request is waiting; starting 2 workers' \
            in s.log(), s.log()
        T.assert_eq(get(s, '/e/b.txt').body, b'eager\n', 'eager pool')


def test_requests_while_starting_are_parked():
    with T.Server(CONF, files=FILES) as s:
        results = []
        lock = threading.Lock()

        def one():
            try:
                r = get(s, '/a.txt')
                out = (r.status, r.body.decode() == BODY)
            except Exception as e:  # noqa: BLE001
                out = repr(e)
            with lock:
                results.append(out)
        threads = [threading.Thread(target=one) for _ in range(30)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
        T.assert_eq(results, [(200, True)] * 30, 'thirty cold requests')
        T.assert_eq(s.log().count('a request is waiting'), 1,
                    'one demand for the burst')


def test_last_worker_gone_asked_again():
    """Workers of a pool that was demanded are replaced when they die,
    like any others."""
    with T.Server(CONF, files=FILES) as s:
        T.assert_eq(get(s, '/a.txt').status, 200, 'started')
        T.wait_for(lambda: len(pool_workers(s, '0')) == 2, 10, 'two')
        for pid in pool_workers(s, '0'):
            os.kill(pid, signal.SIGKILL)
        T.wait_for(lambda: len(pool_workers(s, '0')) == 2, 10,
                   'both replaced')
        r = get(s, '/a.txt')
        T.assert_eq((r.status, r.body.decode()), (200, BODY), 'served')


def test_start_key_checked():
    T.check_refused_at('pool "p" {\n\tstart = "sometimes"\n}\n', 2,
                       'start', 'sometimes')


# The response cache off: an idle worker is one no request reached.
IDLE = '''cache { enabled = false }
pool "default" {
	workers = 2
	idle_timeout = "600ms"
	ping_interval = "100ms"
}
site "s" {
	bindings = {"127.0.0.1:@PORT@:s.example"}
	root = "@ROOT@"
}
'''


def test_idle_timeout_then_demand():
    """Workers that served nothing for idle_timeout are stopped and not
    replaced; the next request starts them again.  Workers kept busy are
    left alone."""
    with T.Server(IDLE, files=FILES) as s:
        T.assert_eq(get(s, '/a.txt').status, 200, 'first request')
        T.wait_for(lambda: len(pool_workers(s, '0')) == 2, 10, 'two')
        first = pool_workers(s, '0')
        # One request at a time for three idle periods: the listener
        # gives them all to one worker, which is kept, while the other,
        # serving nothing, is stopped (the web garden shrinks).
        deadline = T.time.monotonic() + 2.0
        while T.time.monotonic() < deadline:
            T.assert_eq(get(s, '/a.txt').body.decode(), BODY, 'body')
            T.time.sleep(0.05)
        T.wait_for(lambda: len(pool_workers(s, '0')) == 1, 5,
                   'the unused worker to stop')
        (busy,) = pool_workers(s, '0')
        assert busy in first, (busy, first)
        T.assert_eq(s.log().count('idle for idle_timeout 600 ms'), 1,
                    'idle retirements while busy')
        # Then idle: the other stops too, and none is started instead.
        T.wait_for(lambda: pool_workers(s, '0') == [], 10,
                   'idle workers to stop')
        assert s.log().count('idle for idle_timeout 600 ms') == 2, s.log()
        T.time.sleep(1.0)
        T.assert_eq(pool_workers(s, '0'), [], 'none restarted by itself')
        r = get(s, '/a.txt')
        T.assert_eq((r.status, r.body.decode()), (200, BODY),
                    'the next request')
        T.wait_for(lambda: len(pool_workers(s, '0')) == 2, 10,
                   'the pool started again')
        T.assert_eq(s.log().count('a request is waiting'), 2,
                    'demanded twice')


if __name__ == '__main__':
    T.main()
