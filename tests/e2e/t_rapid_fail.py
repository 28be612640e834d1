"""
Rapid-fail protection: rapid_fail_max worker failures within
rapid_fail_interval (workers that crash at start, or are killed again and
again) take the pool offline.  Then the listener answers its requests,
parked ones too, with 503 at once, no worker is started any more, a log
line says why, and other pools go on; `hsdctl start POOL` brings it back.
Failures further apart than the interval, or with rapid_fail_max = 0, do
not.  Bad values of the keys are refused naming file, line and key.
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

HSDCTL = os.path.join(T.BUILDDIR, 'hsdctl')

CONF = '''pool "default" { workers = 1  concurrency = 1  start = "always"
	rapid_fail_max = @MAX@  rapid_fail_interval = "@INTERVAL@" }
pool "other" { workers = 1  start = "always" }
site "s" {
	bindings = {"127.0.0.1:@PORT@"}
	root = "@ROOT@"
	application "/o" { pool = "other" }
}
'''

FILES = {'a.txt': 'aaa\n', 'o/o.txt': 'ooo\n'}

# A worker that crashes while it starts, and arms the next one to do the
# same, until the test removes the marker (the "fix").
ROLES = r'''
if role == 'crash':
    with open(marker, 'w') as f:
        f.write('crash')
    say('crash %d' % os.getpid())
    os._exit(3)
'''

OFFLINE_LINE = ('pool default: %d failures within %s; taking it offline '
                '(rapid-fail protection); hsdctl start default brings it '
                'back')


def conf(maxn=3, interval='5m'):
    return CONF.replace('@MAX@', str(maxn)).replace('@INTERVAL@', interval)


def ctl(s, *args):
    p = subprocess.run([HSDCTL, '-s', os.path.join(s.run_dir, 'hsd.sock')]
                       + list(args), capture_output=True, text=True,
                       timeout=30)
    return p.returncode, p.stdout, p.stderr


def pool_status(s, name='default'):
    rc, out, err = ctl(s, 'status', '--json')
    T.assert_eq(rc, 0, 'hsdctl status: ' + err)
    (p,) = [p for p in json.loads(out)['pools'] if p['name'] == name]
    return p


def all_ready(s):
    """Every worker ready: past the fault prelude, so arming the marker
    cannot make a crasher of another pool's worker still starting."""
    T.wait_for(lambda: all(w['state'] == 'ready'
                           for p in json.loads(ctl(s, 'status', '--json')[1])
                           ['pools'] for w in p['workers']), 10,
               'ready workers')


def default_workers(s):
    return sorted(pid for pid, (p, _) in s.workers().items() if p == '0')


def kill_worker(s):
    """Kill the default pool's worker; return once a new one is ready."""
    (old,) = default_workers(s)
    T.kill_quietly(old)
    T.wait_for(lambda: [w for w in pool_status(s)['workers']
                        if w['pid'] != old and w['state'] == 'ready'],
               10, 'a new ready worker')


def assert_offline(s, maxn, interval):
    T.wait_for(lambda: OFFLINE_LINE % (maxn, interval) in s.log(), 10,
               'the offline log line')
    T.assert_eq(s.log().count('taking it offline'), 1, 'said once')
    st = pool_status(s)
    T.assert_eq(st['state'], 'offline', 'state')
    # New requests: 503 at once, though no worker will ever come.
    with T.Client(s.port) as c:
        c.send(T.req('GET', '/a.txt'))
        T.assert_listener_error(c, c.response(timeout=5), 503)
    assert 'pool default is offline (rapid-fail protection); 503 ' \
        '(AppOffline)' in s.log(), s.log()
    # The other pool is not affected.
    T.assert_eq(T.get(s.port, '/o/o.txt').body, b'ooo\n', 'other pool')


def assert_no_starts(s, marker):
    """No worker of the pool runs or is started any more."""
    T.wait_for(lambda: not default_workers(s), 10, 'no worker')
    crashes = len([x for x in T.fault_report(marker) if x])
    started = s.log().count('(pid')
    time.sleep(1.5)      # longer than any restart back-off so far
    T.assert_eq(default_workers(s), [], 'workers of the offline pool')
    T.assert_eq(len([x for x in T.fault_report(marker) if x]), crashes,
                'workers started while offline')
    T.assert_eq(s.log().count('(pid'), started, 'log lines while offline')
    T.assert_eq(pool_status(s)['workers'], [], 'status shows no worker')


def start_again(s):
    rc, out, err = ctl(s, 'start', 'default')
    T.assert_eq((rc, out), (0, 'pool default: started\n'), err)
    T.wait_for(lambda: [w for w in pool_status(s)['workers']
                        if w['state'] == 'ready'], 10, 'a ready worker')
    T.assert_eq(T.get(s.port, '/a.txt').body, b'aaa\n', 'served again')
    st = pool_status(s)
    T.assert_eq((st['state'], st['failures']), ('running', 0),
                'state and failures after start')


def test_crash_at_start():
    """A request parked when the pool goes offline, and one that was at
    the worker that died, get 503 at once; no worker is started until
    hsdctl start, which serves again once the cause is fixed."""
    libexec, marker = T.fault_libexec(ROLES)
    with T.Server(conf(3), files=FILES, workers=2, libexec=libexec) as s:
        all_ready(s)
        (w,) = default_workers(s)
        os.kill(w, signal.SIGSTOP)
        held = T.Client(s.port)
        parked = T.Client(s.port)
        try:
            held.send(T.req('GET', '/a.txt'))
            T.wait_for(lambda: pool_status(s)['workers'][0]['requests'] >= 1,
                       10, 'the handoff')
            parked.send(T.req('GET', '/a.txt'))
            T.wait_for(lambda: pool_status(s)['queue'] == 1, 10, 'parked')
            # Every worker started from now on crashes before it is ready.
            T.fault_arm(marker, 'crash')
            T.kill_quietly(w)
            # Death after ready + two failed starts = 3.
            for c in (held, parked):
                T.assert_listener_error(c, c.response(timeout=10), 503)
        finally:
            held.close()
            parked.close()
        assert_offline(s, 3, '5m')
        T.assert_eq(len([x for x in T.fault_report(marker) if x]), 2,
                    'crashed starts')
        assert_no_starts(s, marker)
        # Started while still broken: offline again after 3 failed
        # starts (the count starts afresh).
        rc, out, err = ctl(s, 'start', 'default')
        T.assert_eq(rc, 0, 'start: ' + err)
        T.wait_for(lambda: s.log().count('taking it offline') == 2, 10,
                   'offline again')
        T.assert_eq(len([x for x in T.fault_report(marker) if x]), 5,
                    'crashed starts')
        assert_no_starts(s, marker)
        # Fixed: started again, served.
        os.unlink(marker)
        start_again(s)


def test_killed_repeatedly():
    with T.Server(conf(3), files=FILES, workers=2) as s:
        for n in (1, 2):
            kill_worker(s)
            st = pool_status(s)
            T.assert_eq((st['state'], st['failures']), ('running', n),
                        'after %d kills' % n)
        (w,) = default_workers(s)
        T.kill_quietly(w)
        assert_offline(s, 3, '5m')
        T.wait_for(lambda: not default_workers(s), 10, 'no worker')
        time.sleep(1)
        T.assert_eq(default_workers(s), [], 'no worker started')
        start_again(s)
        # A fresh count: two more kills do not take it offline.
        for n in (1, 2):
            kill_worker(s)
        T.assert_eq(pool_status(s)['state'], 'running', 'state')


def test_hung_counts_once():
    """A hung worker the listener reports counts once, not twice (the
    report and its death)."""
    c = conf(2).replace('pool "default" {',
                        'limits { connection_timeout = "1s" }\n'
                        'pool "default" {')
    with T.Server(c, files=FILES, workers=2) as s:
        (w,) = default_workers(s)
        os.kill(w, signal.SIGSTOP)
        with T.Client(s.port) as cl:
            cl.send(T.req('GET', '/a.txt'))
            # Hung: killed; the request fails over to the replacement.
            T.assert_eq(cl.response(timeout=15).body, b'aaa\n', 'failover')
        T.wait_for(lambda: 'is hung' in s.log(), 10, 'hung')
        st = pool_status(s)
        T.assert_eq((st['state'], st['failures']), ('running', 1),
                    'one failure for a hung worker')


def test_interval_and_off():
    # Failures further apart than the interval do not add up.
    with T.Server(conf(2, '1s'), files=FILES, workers=2) as s:
        kill_worker(s)
        time.sleep(1.5)      # the first failure leaves the window
        kill_worker(s)
        # (Not the failure count: it may have left the window too.)
        T.assert_eq(pool_status(s)['state'], 'running', 'state')
        assert 'taking it offline' not in s.log(), s.log()
    # rapid_fail_max = 0: off.
    with T.Server(conf(0), files=FILES, workers=2) as s:
        for _ in range(4):
            kill_worker(s)
        T.assert_eq(pool_status(s)['state'], 'running', 'state')
        assert 'taking it offline' not in s.log(), s.log()


def test_bad_keys():
    d = T.tempfile.mkdtemp(prefix='hsd-e2e-')
    try:
        for body, want in (
                ('pool "p" {\n rapid_fail_max = -1\n}\n',
                 ':2: pool "p": rapid_fail_max: -1 is out of range'),
                ('pool "p" {\n rapid_fail_interval = "soon"\n}\n',
                 ':2: pool "p": rapid_fail_interval: bad duration "soon"'),
                ('pool "p" {\n rapid_fail_interval = "0s"\n}\n',
                 ':2: pool "p": rapid_fail_interval: must be more than 0')):
            path = T.write_conf(d, body)
            rc, text, _ = T.run_poolmgr(path, ('-t',))
            T.assert_eq(rc, 1, 'exit status for %r' % body)
            assert path + want in text, text
    finally:
        T.shutil.rmtree(d, True)


if __name__ == '__main__':
    T.main()
