"""
IIS 5.0 isolation mode (isolation = "shared", issue 7): every request,
whatever pool its site or application names, goes to one queue served by
pool "default"'s workers; no worker runs for the other pools, and there
is no health monitoring and no recycling.  The default, "pools", is
what every other test runs.
"""

import json
import os
import signal
import subprocess
import sys
import time

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import hsdtest as T  # noqa: E402

# Health and recycling keys that would act at once in "pools" mode.
CONF = '''isolation = "shared"
pool "default" {
	workers = 1
	start = "always"
	ping_interval = "100ms"
	ping_timeout = "200ms"
	recycle_requests = 3
}
pool "api" { workers = 1  start = "always" }
site "s" {
	bindings = {"127.0.0.1:@PORT@"}
	root = "@ROOT@"
	application "/api" { pool = "api" }
}
'''

FILES = {'a.txt': 'site\n', 'api/b.txt': 'api\n'}


def test_one_set_of_workers_for_everything():
    with T.Server(CONF, files=FILES, workers=1) as s:
        assert 'isolation "shared" (IIS 5.0 isolation mode)' in s.log(), \
            s.log()
        (pid,) = s.children('hsd-worker')
        T.assert_eq(s.workers()[pid][0], '0', 'the worker is pool default\'s')
        for _ in range(10):
            T.assert_eq(T.get(s.port, '/api/b.txt').body, b'api\n', 'api')
            T.assert_eq(T.get(s.port, '/a.txt').body, b'site\n', 'site')
        # Twenty requests with recycle_requests = 3: no recycling.
        T.assert_eq(s.children('hsd-worker'), [pid], 'the same worker')
        # Stopped far longer than ping_timeout: not killed (no pings).
        os.kill(pid, signal.SIGSTOP)
        time.sleep(1.0)
        os.kill(pid, signal.SIGCONT)
        T.assert_eq(T.get(s.port, '/api/b.txt').body, b'api\n', 'after')
        T.assert_eq(s.children('hsd-worker'), [pid], 'still the same')
        # hsdctl says which mode runs.
        out = subprocess.run([os.path.join(T.BUILDDIR, 'hsdctl'), '-s',
                              os.path.join(s.run_dir, 'hsd.sock'), 'status',
                              '--json'], capture_output=True, text=True,
                             timeout=30).stdout
        st = json.loads(out)
        T.assert_eq(st['isolation'], 'shared', 'hsdctl status --json')
        T.assert_eq([w['pid'] for p in st['pools'] for w in p['workers']],
                    [pid], 'the one worker hsdctl shows')
        log = s.log()
        for what in ('retired', 'recycling (', 'did not answer a ping',
                     'killing'):
            assert what not in log, log


def test_api_requests_wait_for_the_shared_worker():
    """A request for the "api" application waits when the one shared
    worker is stopped: it has no workers of its own."""
    with T.Server(CONF.replace('recycle_requests = 3', ''), files=FILES,
                  workers=1) as s:
        (pid,) = s.children('hsd-worker')
        os.kill(pid, signal.SIGSTOP)
        try:
            c = T.Client(s.port)
            c.send(T.req('GET', '/api/b.txt'))
            assert c.is_quiet(0.5), 'answered while the worker is stopped'
        finally:
            os.kill(pid, signal.SIGCONT)
        T.assert_eq(c.response(timeout=10).body, b'api\n', 'then served')
        c.close()


def test_isolation_key_checked():
    T.check_refused_at('isolation = "iis5"\n', 1, 'isolation', 'iis5')


if __name__ == '__main__':
    T.main()
