"""
Overlapped recycling: workers recycled by request count, by age and by
resident memory while several keep-alive clients load the server, with
no failed request and every body checked; the log shows each recycle
with its reason and the workers' pids change.  And the recycle keys'
checks at hsd-poolmgr -t: recycle_at times, ranges, units.
"""

import os
import re
import sys
import tempfile
import threading
import time
import shutil

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import hsdtest as T  # noqa: E402

SMALL = b''.join(b'%06d small body line\n' % i for i in range(60))
BIG = T.Random(200 * 1024, seed=7)   # handed back to the listener
FILES = {'small.txt': SMALL, 'big.bin': BIG}

# The response cache off: recycle_requests counts requests workers served.
CONF = '''limits { connection_timeout = "30s" }
cache { enabled = false }
pool "default" { workers = 2  concurrency = 4  ping_interval = "100ms"
                 @POOL@ }
site "s" { bindings = {"127.0.0.1:@PORT@"} root = "@ROOT@" }
'''

CLIENTS = 6


def load(s, seconds):
    """CLIENTS keep-alive clients, each asking for the files in turn for
    `seconds`, a new connection only when the server closes one.  Returns
    (requests, errors, worker pids seen while it ran)."""
    with open(s.path('big.bin'), 'rb') as f:
        bodies = {'/small.txt': SMALL, '/big.bin': f.read()}
    stop = time.monotonic() + seconds
    counts = [0] * CLIENTS
    errors = []
    pids = set()

    def client(i):
        c = None
        n = 0
        try:
            while time.monotonic() < stop:
                path = '/big.bin' if n % 5 == 4 else '/small.txt'
                n += 1
                if c is None:
                    c = T.Client(s.port, timeout=20)
                try:
                    r = c.request('GET', path)
                except Exception as e:    # noqa: BLE001
                    errors.append('%s: %r' % (path, e))
                    c.close()
                    c = None
                    continue
                if r.status != 200 or r.body != bodies[path]:
                    errors.append('%s: status %d, %d body bytes'
                                  % (path, r.status, len(r.body)))
                counts[i] += 1
                if (r.header('connection') or '').lower() == 'close':
                    c.close()
                    c = None
        finally:
            if c is not None:
                c.close()

    threads = [threading.Thread(target=client, args=(i,))
               for i in range(CLIENTS)]
    for t in threads:
        t.start()
    while any(t.is_alive() for t in threads):
        pids.update(s.children('hsd-worker'))
        time.sleep(0.05)
    for t in threads:
        t.join()
    return sum(counts), errors, pids


def check_recycled(s, reason, at_least, before):
    """The log names at least `at_least` recycles for `reason`, each
    followed by a retirement, and nothing failed over or was killed."""
    log = s.log()
    recycles = re.findall(r'worker \d+ \(pid \d+\) of pool default: '
                          r'recycling \(%s' % re.escape(reason), log)
    retired = re.findall(r'of pool default retired \(%s[^)]*; worker \d+ '
                         r'\(pid \d+\) took over\)' % re.escape(reason), log)
    assert len(recycles) >= at_least, \
        '%d recycles (%s), expected %d or more:\n%s' % (
            len(recycles), reason, at_least, log[-3000:])
    assert len(retired) >= at_least, \
        '%d retirements, expected %d or more:\n%s' % (
            len(retired), at_least, log[-3000:])
    for bad in ('queue_orphan', 'killing it', 'restarting', ' 502',
                'before it was ready'):
        assert bad not in log, '%r in the log:\n%s' % (bad, log[-3000:])
    after = set(s.children('hsd-worker'))
    assert not (after & before), 'workers %r still the first ones %r' % (
        after, before)


def test_recycle_requests_under_load():
    # Workers recycled every 100 requests while 6 keep-alive clients ask
    # for a small file and a large one (handed back to the listener):
    # not one failed request, every body exact.
    with T.Server(CONF.replace('@POOL@', 'recycle_requests = 100'),
                  files=FILES, workers=2) as s:
        before = set(s.children('hsd-worker'))
        n, errors, pids = load(s, 4)
        print('#   %d requests, %d worker pids seen, %d errors'
              % (n, len(pids), len(errors)))
        assert not errors, '%d errors, first: %s' % (len(errors),
                                                     errors[:5])
        assert n >= 200, 'only %d requests' % n
        check_recycled(s, 'recycle_requests 100 reached', 3, before)
        assert len(pids) >= 4, 'worker pids seen: %r' % sorted(pids)
        # Each worker counts exactly: retired after 100 (more may come
        # while its replacement starts, never fewer).
        for k in re.findall(r'retired \(recycle_requests[^)]*\)[^)]*\) '
                            r'after (\d+) requests', s.log()):
            assert int(k) >= 100, 'retired after %s requests' % k
        T.wait_for(lambda: len(s.children('hsd-worker')) == 2, 10,
                   'the pool back to 2 workers')


def test_recycle_time_under_load():
    # Workers recycled every 700 ms under the same load: no failed
    # request.
    with T.Server(CONF.replace('@POOL@', 'recycle_time = "700ms"'),
                  files=FILES, workers=2) as s:
        before = set(s.children('hsd-worker'))
        n, errors, pids = load(s, 3)
        print('#   %d requests, %d worker pids seen, %d errors'
              % (n, len(pids), len(errors)))
        assert not errors, '%d errors, first: %s' % (len(errors),
                                                     errors[:5])
        check_recycled(s, 'recycle_time 700 ms', 2, before)


def worker_rss(pid):
    with open('/proc/%d/statm' % pid) as f:
        return int(f.read().split()[1]) * os.sysconf('SC_PAGE_SIZE')


def test_recycle_memory():
    # A limit just under what a worker holds resident gets it recycled
    # at its next ping; a limit well over it does not.
    with T.Server(CONF.replace('@POOL@', ''), files=FILES, workers=2) as s:
        T.assert_eq(T.get(s.port, '/small.txt').body, SMALL, 'body')
        rss = min(worker_rss(p) for p in s.children('hsd-worker'))
    print('#   a worker holds %d KiB resident' % (rss // 1024))
    limit = max(rss - 256 * 1024, 64 * 1024) // 1024
    with T.Server(CONF.replace('@POOL@', 'recycle_memory = "%dK"' % limit),
                  files=FILES, workers=2) as s:
        before = set(s.children('hsd-worker'))
        T.wait_for(lambda: 'took over' in s.log() and
                   not (set(s.children('hsd-worker')) & before), 10,
                   'both first workers recycled')
        assert re.search(r'recycling \(resident memory \d+ KiB is over '
                         r'recycle_memory %d KiB\)' % limit, s.log()), \
            s.log()
        T.assert_eq(T.get(s.port, '/small.txt').body, SMALL, 'body after')
    with T.Server(CONF.replace('@POOL@', 'recycle_memory = "1G"'),
                  files=FILES, workers=2) as s:
        before = set(s.children('hsd-worker'))
        # Ten pings' worth of time: nothing is recycled.
        time.sleep(1.0)
        T.assert_eq(set(s.children('hsd-worker')), before, 'workers')
        assert 'recycling' not in s.log(), s.log()


def test_replacement_that_cannot_start_leaves_the_old_worker():
    # The replacement of a worker due for recycling never becomes ready:
    # it is killed after startup_timeout, the old worker serves on all
    # the while, and the recycle is tried again and then completes.
    libexec, marker = T.fault_libexec('say("pid %d" % os.getpid())\n'
                                      'time.sleep(600)\n')
    conf = CONF.replace('workers = 2', 'workers = 1').replace(
        '@POOL@', 'recycle_requests = 5  startup_timeout = "500ms"')
    with T.Server(conf, files=FILES, workers=1, libexec=libexec) as s:
        (old,) = s.children('hsd-worker')
        T.fault_arm(marker, 'never-ready')
        with T.Client(s.port) as c:
            while 'recycling' not in s.log():
                r = c.request('GET', '/small.txt')
                T.assert_eq(r.body, SMALL, 'body before')
            T.wait_for(lambda: 'serves on' in s.log(), 10,
                       'the failed replacement')
            # Still the old worker, on the same connection.
            T.assert_eq(s.children('hsd-worker')[0], old, 'worker')
            T.assert_eq(c.request('GET', '/small.txt').body, SMALL,
                        'body while its replacement failed')
        bad = [int(l[4:]) for l in T.fault_report(marker)
               if l.startswith('pid ')]
        assert bad, T.fault_report(marker)
        log = s.log()
        assert re.search(r'\(pid %d\) of pool default, started to replace '
                         r'worker \d+, killed by signal 9 before it was '
                         r'ready; worker \d+ serves on' % bad[0], log), log
        T.wait_for(lambda: 'took over' in s.log(), 10, 'a second try')
        T.wait_for(lambda: old not in s.children('hsd-worker'), 10,
                   'the old worker retired')
        T.assert_eq(T.get(s.port, '/small.txt').body, SMALL, 'body after')


def check(body):
    """(status, output) of hsd-poolmgr -t on body."""
    d = tempfile.mkdtemp(prefix='hsd-e2e-recycle-')
    try:
        os.makedirs(os.path.join(d, 'www'))
        path = T.write_conf(d, body.replace('@ROOT@',
                                            os.path.join(d, 'www')))
        rc, out, spawned = T.run_poolmgr(path, ['-t'])
        assert not spawned, 'started %r' % spawned
        return rc, out.replace(path, 'FILE')
    finally:
        shutil.rmtree(d, ignore_errors=True)


SITE = '\nsite "s" { bindings = {"127.0.0.1:1"} root = "@ROOT@" }\n'


def rejected(pool_body, key, what=''):
    rc, out = check('pool "p" {\n' + pool_body + '\n}' + SITE)
    print('#   %s -> %d: %s' % (pool_body, rc, out.strip()))
    T.assert_eq(rc, 1, 'exit status for %r' % pool_body)
    assert 'FILE:2:' in out and re.search(r'\b%s\b' % key, out), \
        'message does not name FILE:2 and %s: %r' % (key, out)
    assert what in out, '%r not in %r' % (what, out)


def test_recycle_at_checked():
    for bad in ('"25:00"', '"3:00"', '"03:60"', '"0300"', '"03:00 "',
                '""', '"ab:cd"'):
        rejected('recycle_at = {"01:00", %s}' % bad, 'recycle_at',
                 'is not a local time "HH:MM"')
    rc, out = check('pool "p" {\nrecycle_at = {"00:00", "03:00", "23:59"}'
                    '\n}' + SITE)
    T.assert_eq(rc, 0, 'good recycle_at: ' + out)


def test_health_keys_checked():
    rejected('ping_interval = "0"', 'ping_interval', 'more than 0')
    rejected('ping_timeout = "0ms"', 'ping_timeout', 'more than 0')
    rejected('startup_timeout = "0s"', 'startup_timeout', 'more than 0')
    rejected('shutdown_timeout = "soon"', 'shutdown_timeout',
             'bad duration')
    rejected('recycle_time = "1y"', 'recycle_time', 'bad duration')
    rejected('recycle_requests = -1', 'recycle_requests', 'out of range')
    rejected('recycle_requests = 4294967296', 'recycle_requests',
             'out of range')
    rejected('recycle_memory = "12Q"', 'recycle_memory', 'bad size')
    rc, out = check('pool "p" {\nping_interval = "500ms" ping_timeout = '
                    '"2s" startup_timeout = "1m" shutdown_timeout = "0" '
                    'recycle_requests = 4294967295 recycle_time = "0" '
                    'recycle_memory = "512M"\n}' + SITE)
    T.assert_eq(rc, 0, 'good keys: ' + out)


T.main()
