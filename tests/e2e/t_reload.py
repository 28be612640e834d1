"""
Applying a configuration without a restart (hsdctl reload, SIGHUP): a
pool, site and binding added are served on the new port while an open
keep-alive connection on the old one goes on and the other pool keeps its
workers; a pool whose site changed has its workers recycled under a
keep-alive load without one failed request, every body the old or the
new content, then only the new, while an untouched pool keeps its pids
(twice in a row); a pool, site and binding removed while a slow client
downloads from it finish that download byte for byte, refuse new
connections and close the idle ones; a key only a restart can change and
a binding that cannot be bound are refused with nothing changed, the
cache's keys are applied without replacing a process; SIGHUP
applies a file and logs what changed; a request parked in a queue is
answered after its pool changed, and one whose site moved to another pool
is answered by that pool; sites reordered leave every pool as it was, a
stopped pool stays stopped, a limits key changes every pool; eight
reloads in a row under load leave no worker of an older configuration;
a listener killed after a reload (or during its recycle) comes
back with the new configuration.
"""

import grp
import hashlib
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import hsdtest as T  # noqa: E402

HSDCTL = os.path.join(T.BUILDDIR, 'hsdctl')

STAYS = 'the running configuration stays'


# ---------------------------------------------------------------- helpers

def ctl(s, *args):
    """Run hsdctl -f CONF ARGS; (status, stdout, stderr)."""
    p = subprocess.run([HSDCTL, '-f', s.conf] + list(args),
                       stdin=subprocess.DEVNULL, capture_output=True,
                       text=True, timeout=60)
    return p.returncode, p.stdout, p.stderr


def status(s):
    rc, out, err = ctl(s, 'status', '--json')
    T.assert_eq(rc, 0, 'exit status of hsdctl status (stderr %r)' % err)
    return json.loads(out)


def pool_of(st, name):
    found = [p for p in st['pools'] if p['name'] == name]
    T.assert_eq(len(found), 1, 'pools named %s in %r' % (name, st['pools']))
    return found[0]


def pool_names(s):
    return [p['name'] for p in status(s)['pools']]


def pool_pids(s, name):
    """pids of pool name's workers, as hsdctl status gives them."""
    return sorted(w['pid'] for w in pool_of(status(s), name)['workers'])


def all_ready(s):
    T.wait_for(lambda: all(w['state'] == 'ready' for p in status(s)['pools']
                           for w in p['workers']), 10, 'ready workers')


def gone(pids):
    return not any(T.alive(p) for p in pids)


def rewrite(s, conf):
    """Write conf over the server's file, with the placeholders Server
    knows (@PORT@ @PORT2@ ..., @NAME@ roots, @DIR@) filled in the same."""
    text = conf
    for i, p in enumerate(s.ports):
        text = text.replace('@PORT%s@' % ('' if i == 0 else i + 1), str(p))
    for name, path in s.roots.items():
        text = text.replace('@%s@' % name, path)
    text = text.replace('@DIR@', s.dir)
    T.write_conf(s.dir, text)


def reload(s, n, *changes):
    """hsdctl reload succeeds as configuration n and names every one of
    changes on a line of its own; returns the lines after the first."""
    rc, out, err = ctl(s, 'reload')
    T.assert_eq(rc, 0, 'exit status of hsdctl reload (stdout %r, stderr %r)'
                % (out, err))
    lines = out.splitlines()
    T.assert_eq(lines[:1], ['reloaded %s (configuration %d)' % (s.conf, n)],
                'first line of the answer %r' % out)
    for c in changes:
        assert c in lines[1:], 'no line %r in %r' % (c, out)
    # hsdctl answers once the listener runs the new configuration
    # (test_answer_waits_for_the_listener).
    return lines[1:]


def refused(s, *words):
    """hsdctl reload fails, says the running configuration stays and
    names every one of words; returns its stderr."""
    rc, out, err = ctl(s, 'reload')
    T.assert_eq((rc, out), (1, ''), 'reload refused (stderr %r)' % err)
    assert STAYS in err, err
    for w in words:
        assert w in err, 'no %r in %r' % (w, err)
    return err


def body_of(port, path, want, what):
    r = T.get(port, path, timeout=30)
    T.assert_eq((r.status, r.body), (200, want), what)


def sha(data):
    return hashlib.sha256(data).hexdigest()


def file_bytes(s, rel, root='ROOT'):
    with open(s.path(rel, root), 'rb') as f:
        return f.read()


# ---------------------------------------------------------------- add

BASE = '''limits { connection_timeout = "30s" }
pool "default" { workers = 2  start = "always" }
site "s" { bindings = {"127.0.0.1:@PORT@"} root = "@ROOT@" }
'''

NEW = '''pool "new" { workers = 1  start = "always" }
site "n" { bindings = {"127.0.0.1:@PORT2@"} root = "@NEW@"  pool = "new" }
'''

A_BODY = b'the first site\n' * 20
N_BODY = b'the site added by a reload\n' * 20


def test_add_pool_site_binding():
    with T.Server(BASE, files={'a.txt': A_BODY},
                  roots={'NEW': {'n.txt': N_BODY}}, nports=2,
                  workers=2) as s:
        all_ready(s)
        port2 = s.ports[1]
        before = pool_pids(s, 'default')
        assert not T.port_open(port2), 'port %d served before' % port2
        with T.Client(s.port, timeout=30) as kept:
            T.assert_eq(kept.request('GET', '/a.txt').body, A_BODY,
                        'before the reload')
            rewrite(s, BASE + NEW)
            lines = reload(s, 2, 'pool new: added',
                           'listening on 127.0.0.1:%d' % port2)
            assert not [x for x in lines if x.startswith('pool default')], \
                'the unchanged pool listed: %r' % lines
            # The new port, the new site, a worker of the new pool.
            T.wait_for(lambda: len(pool_pids(s, 'new')) == 1, 10,
                       'the new pool\'s worker')
            T.assert_eq(pool_names(s), ['default', 'new'], 'pools')
            body_of(port2, '/n.txt', N_BODY, 'the new site')
            served = pool_of(status(s), 'new')['workers'][0]['requests']
            T.assert_eq(served, 1, 'requests of the new pool\'s worker')
            # Not the old site on the new port, nor the new on the old.
            T.assert_eq(T.get(port2, '/a.txt').status, 404, 'a.txt on 2')
            T.assert_eq(T.get(s.port, '/n.txt').status, 404, 'n.txt on 1')
            # The connection opened before the reload goes on.
            r = kept.request('GET', '/a.txt')
            T.assert_eq((r.status, r.body), (200, A_BODY),
                        'the kept connection after the reload')
        T.assert_eq(pool_pids(s, 'default'), before,
                    'workers of the unchanged pool')
        T.assert_eq(sorted(p for p in s.children('hsd-worker')
                           if p not in before), pool_pids(s, 'new'),
                    'worker processes besides the first pool\'s')


# ---------------------------------------------------------------- change

CHANGE = '''limits { connection_timeout = "30s" }
pool "default" { workers = 2  concurrency = 4  start = "always"
                 ping_interval = "200ms" }
pool "other" { workers = 1  start = "always" }
site "s" { bindings = {"127.0.0.1:@PORT@"} root = "@ROOT@" }
site "o" { bindings = {"127.0.0.1:@PORT2@"} root = "@O@"  pool = "other" }
'''

CONTENT = {'A': b'A: the first content\n' * 30,
           'B': b'B: the second content, longer\n' * 30,
           'C': b'C: the third\n' * 30}
O_BODY = b'the other pool\'s site\n'
CLIENTS = 4


def change_under_load(s, root, n, old_body, new_body):
    """Switch site s to root while CLIENTS keep-alive clients ask for
    f.txt: every answer old_body or new_body, only new_body once the old
    workers are gone; the changed pool's workers all new, the other
    pool's kept."""
    old = pool_pids(s, 'default')
    other = pool_pids(s, 'other')
    T.assert_eq(len(old), 2, 'workers of default')
    stop = threading.Event()
    errors = []
    seen = []          # (time sent, body)
    counts = [0] * CLIENTS
    reconnects = [0]
    lock = threading.Lock()

    def client(i):
        c = None
        try:
            while not stop.is_set():
                if c is None:
                    c = T.Client(s.port, timeout=20)
                t = time.monotonic()
                try:
                    r = c.request('GET', '/f.txt')
                except Exception as e:    # noqa: BLE001
                    errors.append('client %d: %r' % (i, e))
                    c.close()
                    c = None
                    continue
                if r.status != 200 or r.body not in (old_body, new_body):
                    errors.append('client %d: %d %r' % (i, r.status,
                                                         r.body[:60]))
                with lock:
                    seen.append((t, r.body))
                counts[i] += 1
                if (r.header('connection') or '').lower() == 'close':
                    reconnects[0] += 1
                    c.close()
                    c = None
        finally:
            if c is not None:
                c.close()

    threads = [threading.Thread(target=client, args=(i,))
               for i in range(CLIENTS)]
    for t in threads:
        t.start()
    try:
        T.wait_for(lambda: min(counts) > 10, 10, 'load on every client')
        rewrite(s, CHANGE.replace('@ROOT@', '@%s@' % root))
        lines = reload(s, n, 'pool default: changed; its workers are '
                       'recycled')
        assert not [x for x in lines if x.startswith('pool other')], \
            'the unchanged pool listed: %r' % lines
        T.wait_for(lambda: gone(old), 20, 'the old workers gone')
        settled = time.monotonic()
        m = sum(counts)
        T.wait_for(lambda: sum(counts) > m + 40, 10, 'load after')
    finally:
        stop.set()
        for t in threads:
            t.join()
    print('#   configuration %d: %d requests, %d closed by the server'
          % (n, sum(counts), reconnects[0]))
    assert not errors, '%d errors, first: %s' % (len(errors), errors[:5])
    bodies = [b for _, b in seen]
    assert old_body in bodies, 'no answer with the old content'
    late = [b for t, b in seen if t > settled]
    T.assert_eq(set(late), {new_body},
                'contents served after the old workers were gone')
    new = pool_pids(s, 'default')
    T.assert_eq(len(new), 2, 'workers of default after')
    T.assert_eq(set(new) & set(old), set(), 'old workers in %r' % new)
    T.assert_eq(pool_pids(s, 'other'), other, 'workers of the other pool')
    body_of(s.ports[1], '/o.txt', O_BODY, 'the other site')


def test_changed_pool_recycled_under_load():
    roots = dict((k, {'f.txt': v}) for k, v in CONTENT.items())
    roots['O'] = {'o.txt': O_BODY}
    with T.Server(CHANGE.replace('@ROOT@', '@A@'), roots=roots, nports=2,
                  workers=3) as s:
        all_ready(s)
        body_of(s.port, '/f.txt', CONTENT['A'], 'before')
        change_under_load(s, 'B', 2, CONTENT['A'], CONTENT['B'])
        change_under_load(s, 'C', 3, CONTENT['B'], CONTENT['C'])
        for bad in ('queue_orphan', 'killing it', ' 502', 'restarting'):
            assert bad not in s.log(), '%r in the log:\n%s' % (bad, s.log())


def test_reloads_in_quick_succession():
    # Eight reloads, each right after the last, the root switched back
    # and forth while two keep-alive clients load the server: recycles
    # overlap; every answer is A's or B's, then only the last one's, and
    # no worker of an older configuration is left behind.
    roots = dict((k, {'f.txt': v}) for k, v in CONTENT.items())
    roots['O'] = {'o.txt': O_BODY}
    with T.Server(CHANGE.replace('@ROOT@', '@A@'), roots=roots, nports=2,
                  workers=3) as s:
        all_ready(s)
        other = pool_pids(s, 'other')
        stop = threading.Event()
        errors = []
        seen = []
        lock = threading.Lock()

        def client():
            try:
                with T.Client(s.port, timeout=20) as c:
                    while not stop.is_set():
                        t = time.monotonic()
                        r = c.request('GET', '/f.txt')
                        if r.status != 200 or \
                                r.body not in (CONTENT['A'], CONTENT['B']):
                            errors.append('%d %r' % (r.status, r.body[:60]))
                        with lock:
                            seen.append((t, r.body))
            except Exception as e:    # noqa: BLE001
                errors.append(repr(e))

        threads = [threading.Thread(target=client) for _ in range(2)]
        for t in threads:
            t.start()
        try:
            for n in range(2, 10):
                before = set(s.children('hsd-worker'))
                rewrite(s, CHANGE.replace('@ROOT@', '@B@' if n % 2 == 0
                                          else '@A@'))
                reload(s, n, 'pool default: changed; its workers are '
                       'recycled')
            last = CONTENT['A']         # configuration 9
            T.wait_for(lambda: gone(before - set(other)), 20,
                       'the workers of older configurations gone')
            settled = time.monotonic()
            m = len(seen)
            T.wait_for(lambda: len(seen) > m + 40, 10, 'load after')
        finally:
            stop.set()
            for t in threads:
                t.join()
        assert not errors, '%d errors, first: %s' % (len(errors), errors[:5])
        T.assert_eq(set(b for t, b in seen if t > settled), {last},
                    'contents served after the last recycle')
        T.wait_for(lambda: len(pool_pids(s, 'default')) == 2, 10,
                   'two workers of default')
        T.assert_eq(len(s.children('hsd-worker')), 3, 'workers in all')
        T.assert_eq(pool_pids(s, 'other'), other, 'workers of other')


# ---------------------------------------------------------------- remove

REMOVE = '''limits { connection_timeout = "30s" }
pool "default" { workers = 1  start = "always" }
site "s" { bindings = {"127.0.0.1:@PORT@"} root = "@ROOT@" }
'''

GONE = '''pool "gone" { workers = 1  start = "always" }
site "g" { bindings = {"127.0.0.1:@PORT2@"} root = "@G@"  pool = "gone" }
'''

BIG = 6 * 1024 * 1024


def test_removed_pool_finishes_its_download():
    with T.Server(REMOVE + GONE, files={'a.txt': A_BODY},
                  roots={'G': {'big.bin': T.Random(BIG, seed=5),
                               'small.txt': b'small\n'}},
                  nports=2, workers=2) as s:
        all_ready(s)
        port2 = s.ports[1]
        want = file_bytes(s, 'big.bin', 'G')
        (worker,) = pool_pids(s, 'gone')
        idle = T.Client(port2, timeout=30)
        slow = T.Client(port2, timeout=30, rcvbuf=4096)
        try:
            T.assert_eq(idle.request('GET', '/small.txt').body, b'small\n',
                        'the idle connection\'s first request')
            slow.send(T.req('GET', '/big.bin'))
            head = slow.read_head(timeout=30)
            T.assert_eq(head.status, 200, 'status of the download')
            T.assert_eq(int(head.header('content-length')), BIG,
                        'Content-Length')
            got = bytearray(slow.buf)
            slow.buf = b''
            while len(got) < 65536:
                data = slow.sock.recv(4096)
                assert data, 'download closed after %d bytes' % len(got)
                got += data
            rewrite(s, REMOVE)
            lines = reload(s, 2, 'pool gone: removed; its workers finish '
                           'what they have',
                           'no longer listening on 127.0.0.1:%d' % port2)
            assert not [x for x in lines if x.startswith('pool default')], \
                'the unchanged pool listed: %r' % lines
            assert not T.port_open(port2), \
                'port %d still accepts after the reload' % port2
            # The idle keep-alive connection is closed at once.
            idle.expect_closed(5)
            # The download goes on, slowly, to its last byte.
            at, t0 = len(got), time.monotonic()
            slow.sock.settimeout(30)
            while len(got) < BIG:
                data = slow.sock.recv(16384)
                if not data:
                    raise AssertionError('download closed after %d of %d '
                                         'bytes' % (len(got), BIG))
                got += data
                time.sleep(0.001)
            print('#   %d bytes read at the reload, the rest in %.1fs'
                  % (at, time.monotonic() - t0))
            T.assert_eq(sha(bytes(got[:BIG])), sha(want),
                        'sha256 of the download (%d bytes)' % len(got))
            # Then its connection is closed: the binding is gone.
            slow.expect_closed(5)
        finally:
            idle.close()
            slow.close()
        T.wait_for(lambda: not T.alive(worker), 10,
                   'the removed pool\'s worker to exit')
        T.assert_eq(pool_names(s), ['default'], 'pools')
        body_of(s.port, '/a.txt', A_BODY, 'the pool that stays')


# ---------------------------------------------------------------- kept

# Each site has its own root with an f.txt of its own: a worker that took
# one site for another would answer with the wrong one.
SITES = '''limits { connection_timeout = "30s" }
pool "default" { workers = 1  start = "always" }
pool "b" { workers = 1  start = "always" }
pool "c" { workers = 1  start = "always" }
@SITES@'''

SITE_S = '''site "s" { bindings = {"127.0.0.1:@PORT@"} root = "@S@"
           application "/b" { pool = "b" } }
'''
SITE_T = 'site "t" { bindings = {"127.0.0.1:@PORT2@"} root = "@T@" ' \
    'pool = "c" }\n'

S_BODY = b'site s, pool default\n' * 10
SB_BODY = b'site s, application /b, pool b\n' * 10
T_BODY = b'site t, pool c\n' * 10
SITE_ROOTS = {'S': {'f.txt': S_BODY, 'b/f.txt': SB_BODY},
              'T': {'f.txt': T_BODY}}


def check_sites(s, b_stopped=False):
    for _ in range(3):
        body_of(s.port, '/f.txt', S_BODY, 'site s')
        body_of(s.ports[1], '/f.txt', T_BODY, 'site t')
        if b_stopped:
            with T.Client(s.port) as c:
                c.send(T.req('GET', '/b/f.txt'))
                T.assert_listener_error(c, c.response(), 503)
        else:
            body_of(s.port, '/b/f.txt', SB_BODY, 'application /b')


def test_sites_reordered_and_stopped_pool_kept():
    # Sites reordered and a pool added: no pool changes, the workers
    # started under the first configuration serve the right sites, and a
    # stopped pool stays stopped.
    with T.Server(SITES.replace('@SITES@', SITE_S + SITE_T),
                  roots=SITE_ROOTS, nports=2, workers=3) as s:
        all_ready(s)
        check_sites(s)
        pids = dict((p, pool_pids(s, p)) for p in ('default', 'c'))
        rc, out, err = ctl(s, 'stop', 'b')
        T.assert_eq((rc, out), (0, 'pool b: stopped\n'), 'hsdctl stop b')
        T.wait_for(lambda: not pool_pids(s, 'b'), 10, 'b has no worker')
        rewrite(s, SITES.replace('@SITES@', SITE_T + SITE_S) +
                'pool "d" { workers = 1  start = "always" }\n')
        lines = reload(s, 2, 'pool d: added')
        T.assert_eq(lines, ['pool d: added'], 'changes')
        T.wait_for(lambda: len(pool_pids(s, 'd')) == 1, 10, 'd\'s worker')
        T.assert_eq(pool_names(s), ['default', 'b', 'c', 'd'], 'pools')
        check_sites(s, b_stopped=True)
        st = status(s)
        T.assert_eq((pool_of(st, 'b')['state'], pool_of(st, 'b')['workers']),
                    ('stopped', []), 'pool b')
        for p, want in pids.items():
            T.assert_eq(pool_pids(s, p), want, 'workers of ' + p)
        # Stopped, and changed: still stopped.
        rewrite(s, SITES.replace('@SITES@', SITE_T + SITE_S).replace(
            'pool "b" { workers = 1', 'pool "b" { workers = 2') +
            'pool "d" { workers = 1  start = "always" }\n')
        reload(s, 3)
        time.sleep(0.3)
        T.assert_eq(pool_pids(s, 'b'), [], 'b has no worker')
        T.assert_eq(pool_of(status(s), 'b')['state'], 'stopped', 'b')
        check_sites(s, b_stopped=True)
        rc, out, err = ctl(s, 'start', 'b')
        T.assert_eq((rc, out), (0, 'pool b: started\n'), 'hsdctl start b')
        T.wait_for(lambda: len(pool_pids(s, 'b')) == 2, 10,
                   'b\'s two workers (its new workers key)')
        check_sites(s)
        for p, want in pids.items():
            T.assert_eq(pool_pids(s, p), want, 'workers of ' + p)


def test_limits_change_every_pool():
    with T.Server(SITES.replace('@SITES@', SITE_S + SITE_T),
                  roots=SITE_ROOTS, nports=2, workers=3) as s:
        all_ready(s)
        old = sorted(s.children('hsd-worker'))
        rewrite(s, SITES.replace('@SITES@', SITE_S + SITE_T).replace(
            '"30s"', '"40s"'))
        lines = reload(s, 2)
        T.assert_eq(sorted(lines), ['pool %s: changed; its workers are '
                                    'recycled' % p
                                    for p in ('b', 'c', 'default')],
                    'changes')
        T.wait_for(lambda: gone(old), 10, 'the old workers gone')
        T.wait_for(lambda: len(s.children('hsd-worker')) == 3, 10,
                   'three new workers')
        check_sites(s)


def test_removed_binding_request_at_a_worker():
    # A request the removed pool's worker holds (stopped) when its pool,
    # site and binding go: answered whole, then the connection is closed
    # and the worker exits.
    with T.Server(REMOVE + GONE, files={'a.txt': A_BODY},
                  roots={'G': {'small.txt': b'small\n' * 100}},
                  nports=2, workers=2) as s:
        all_ready(s)
        port2 = s.ports[1]
        (w,) = pool_pids(s, 'gone')
        before = pool_of(status(s), 'gone')['workers'][0]['requests']
        os.kill(w, signal.SIGSTOP)
        busy = T.Client(port2, timeout=30)
        try:
            busy.send(T.req('GET', '/small.txt'))
            T.wait_for(lambda: pool_of(status(s), 'gone')['workers'][0]
                       ['requests'] == before + 1, 10, 'the handoff')
            rewrite(s, REMOVE)
            reload(s, 2, 'pool gone: removed; its workers finish what they '
                   'have', 'no longer listening on 127.0.0.1:%d' % port2)
            assert not T.port_open(port2), 'port %d accepts' % port2
            T.assert_eq(busy.is_quiet(0.3), True, 'the busy connection')
            T.assert_eq(T.alive(w), True, 'the removed pool\'s worker')
            os.kill(w, signal.SIGCONT)
            r = busy.response(timeout=20)
            T.assert_eq((r.status, r.body), (200, b'small\n' * 100),
                        'the request the worker held')
            busy.expect_closed(5)
        finally:
            T.kill_quietly(w, signal.SIGCONT)
            busy.close()
        T.wait_for(lambda: not T.alive(w), 10, 'the worker to exit')
        T.assert_eq(pool_names(s), ['default'], 'pools')


def test_answer_waits_for_the_listener():
    # hsdctl reload answers only once the listener runs the new
    # configuration: with the listener stopped it waits, and the moment
    # it answers a removed port refuses.
    with T.Server(REMOVE + GONE, files={'a.txt': A_BODY},
                  roots={'G': {'small.txt': b'small\n' * 100}},
                  nports=2, workers=2) as s:
        all_ready(s)
        port2 = s.ports[1]
        lsn = s.listener()
        rewrite(s, REMOVE)
        os.kill(lsn, signal.SIGSTOP)
        done = []
        try:
            t = threading.Thread(target=lambda: done.append(ctl(s, 'reload')))
            t.start()
            t.join(1.0)
            T.assert_eq(done, [], 'the answer while the listener is stopped')
        finally:
            os.kill(lsn, signal.SIGCONT)
        t.join(30)
        rc, out, err = done[0]
        T.assert_eq((rc, err), (0, ''), 'hsdctl reload')
        assert 'no longer listening on 127.0.0.1:%d' % port2 in out, out
        assert 'has not said' not in out, out
        assert not T.port_open(port2), 'port %d accepts' % port2
        T.assert_eq(T.get(s.port, '/a.txt').body, A_BODY, 'the kept site')


BODY_SIZE = '''limits { connection_timeout = "30s" }
pool "default" { workers = 1  start = "always" }
site "s" { bindings = {"127.0.0.1:@PORT@"} root = "@ROOT@"
           max_body_size = "1K" }
'''


def post_status(s, n):
    with T.Client(s.port) as c:
        r = c.request('POST', '/a.txt', body=b'x' * n)
        return r.status


def test_max_body_size_changed():
    with T.Server(BODY_SIZE, files={'a.txt': A_BODY}, workers=1) as s:
        all_ready(s)
        old = pool_pids(s, 'default')
        st = post_status(s, 500)
        assert st != 413, 'a 500-byte body under 1K: %d' % st
        rewrite(s, BODY_SIZE.replace('"1K"', '"100"'))
        reload(s, 2, 'pool default: changed; its workers are recycled')
        with T.Client(s.port) as c:
            c.send(T.req('POST', '/a.txt', body=b'x' * 500))
            T.assert_listener_error(c, c.response(), 413)
        T.assert_eq(post_status(s, 50), st, 'a 50-byte body')
        T.wait_for(lambda: gone(old), 10, 'the old worker gone')
        body_of(s.port, '/a.txt', A_BODY, 'GET')


# ---------------------------------------------------------------- refused

RESTART = '''limits { connection_timeout = "30s"
         max_request_bytes = 4096  max_field_length = 4096 }
pool "default" { workers = 1  start = "always" }
site "s" { bindings = {"127.0.0.1:@PORT@"} root = "@ROOT@" }
'''


def long_header_get(s):
    """A GET with a 3000-byte header line: within limits of 4096,
    beyond limits of 2048."""
    with T.Client(s.port) as c:
        r = c.request('GET', '/a.txt', headers={'X-Long': 'x' * 2990})
    T.assert_eq((r.status, r.body), (200, A_BODY), 'long header')


def test_restart_only_keys_refused():
    with T.Server(RESTART, files={'a.txt': A_BODY}, workers=1) as s:
        all_ready(s)
        pids = sorted(s.children('hsd-worker'))
        lsn = s.listener()
        long_header_get(s)
        for key, text in (
                ('max_request_bytes',
                 RESTART.replace('max_request_bytes = 4096',
                                 'max_request_bytes = 2048')),
                ('max_field_length',
                 RESTART.replace('max_field_length = 4096',
                                 'max_field_length = 2048')),
                ('isolation', RESTART + 'isolation = "shared"\n'),
                ('chroot_dir',
                 RESTART + 'chroot_dir = "@DIR@/empty2"\n'),
                ('user', RESTART + 'user = "nobody"\n')):
            rewrite(s, text)
            err = refused(s, key, 'restart')
            print('#   %s: %s' % (key, err.strip()))
            long_header_get(s)
            T.assert_eq(sorted(s.children('hsd-worker')), pids,
                        'workers after %s' % key)
            T.assert_eq(s.listener(), lsn, 'listener after %s' % key)
        # The server's own file again: nothing to change.
        rewrite(s, RESTART)
        T.assert_eq(reload(s, 2), [], 'changes')
        T.assert_eq(sorted(s.children('hsd-worker')), pids, 'workers')
        long_header_get(s)


def test_cache_keys_need_no_restart():
    # Every cache key, the section's and a site's, changed by a reload:
    # applied, with no restart asked for and no worker or listener
    # replaced (the cache is flushed on every reload instead).
    site = 'root = "@ROOT@" }'
    base = RESTART.replace(site, 'root = "@ROOT@"\n'
                           '  application "/x" { } }')
    with T.Server(base, files={'a.txt': A_BODY}, workers=1) as s:
        all_ready(s)
        pids = sorted(s.children('hsd-worker'))
        lsn = s.listener()
        rewrite(s, RESTART.replace(
            site, 'root = "@ROOT@"  cache = off\n'
            '  application "/x" { cache = on } }') +
            'cache { enabled = false  max_memory = "1G"\n'
            '  max_entry_size = "1M"  max_header_size = "2K"\n'
            '  activity_period = "0"  scavenger_period = "5s"\n'
            '  max_ttl = "1m"  allow_query = true  allow_cookies = true }\n')
        T.assert_eq(reload(s, 2), [], 'changes')
        T.assert_eq(sorted(s.children('hsd-worker')), pids, 'workers')
        T.assert_eq(s.listener(), lsn, 'listener')
        long_header_get(s)


def test_binding_that_cannot_be_bound():
    with T.Server(BASE, files={'a.txt': A_BODY}, nports=2, workers=2) as s:
        all_ready(s)
        pids = sorted(s.children('hsd-worker'))
        port2 = s.ports[1]
        taken = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        try:
            taken.bind(('127.0.0.1', port2))
            taken.listen(1)
            rewrite(s, BASE.replace('bindings = {"127.0.0.1:@PORT@"}',
                                    'bindings = {"127.0.0.1:@PORT@", '
                                    '"127.0.0.1:@PORT2@"}'))
            refused(s, 'cannot listen on', '127.0.0.1:%d' % port2)
            body_of(s.port, '/a.txt', A_BODY, 'the old binding')
            T.assert_eq(sorted(s.children('hsd-worker')), pids, 'workers')
            # Nobody of the server's took the port: our socket gets it.
            with socket.create_connection(('127.0.0.1', port2), 5):
                pass
            conn, _ = taken.accept()
            conn.close()
        finally:
            taken.close()
        # Free again: the same file applies.
        reload(s, 2, 'listening on 127.0.0.1:%d' % port2)
        body_of(port2, '/a.txt', A_BODY, 'the new binding')
        body_of(s.port, '/a.txt', A_BODY, 'the old binding')
        T.assert_eq(sorted(s.children('hsd-worker')), pids, 'workers')


# ---------------------------------------------------------------- SIGHUP

def test_sighup_applies_the_file():
    # The pool added starts on demand: no worker until a request.
    with T.Server(BASE, files={'a.txt': A_BODY},
                  roots={'NEW': {'n.txt': N_BODY}}, nports=2,
                  workers=2) as s:
        all_ready(s)
        port2 = s.ports[1]
        before = pool_pids(s, 'default')
        rewrite(s, BASE + NEW.replace('start = "always"', ''))
        s.send_signal(signal.SIGHUP)
        first = 'reload: reloaded %s (configuration 2)' % s.conf
        T.wait_for(lambda: first in s.log(), 10, 'the reload logged')
        for line in ('reload: pool new: added',
                     'reload: listening on 127.0.0.1:%d' % port2):
            T.wait_for(lambda: line in s.log(), 10, repr(line))
        T.assert_eq(pool_names(s), ['default', 'new'], 'pools')
        T.assert_eq(pool_pids(s, 'new'), [], 'demand start: no worker yet')
        body_of(port2, '/n.txt', N_BODY, 'the new site')
        T.wait_for(lambda: len(pool_pids(s, 'new')) == 1, 10,
                   'the new pool\'s worker')
        T.assert_eq(pool_pids(s, 'default'), before, 'default\'s workers')
        # And one more time, back to the first file.
        rewrite(s, BASE)
        s.send_signal(signal.SIGHUP)
        T.wait_for(lambda: 'reload: reloaded %s (configuration 3)' % s.conf
                   in s.log(), 10, 'the second reload logged')
        T.wait_for(lambda: 'reload: no longer listening on 127.0.0.1:%d'
                   % port2 in s.log(), 10, 'the binding removed')
        assert 'reload: pool new: removed' in s.log(), s.log()
        T.wait_for(lambda: not T.port_open(port2), 10, 'port 2 closed')
        T.assert_eq(pool_names(s), ['default'], 'pools')
        body_of(s.port, '/a.txt', A_BODY, 'the first site')


# ---------------------------------------------------------------- parked

PARKED = '''limits { connection_timeout = "30s" }
pool "default" { workers = 1  concurrency = 1  start = "always"
                 ping_interval = "20s" }
site "s" { bindings = {"127.0.0.1:@PORT@"} root = "@ROOT@" }
'''

P_FILES = {'held.txt': b'the request the worker holds\n',
           'parked.txt': b'the request in the queue\n' * 10}


def test_parked_request_answered_after_its_pool_changed():
    with T.Server(PARKED, files=P_FILES, workers=1) as s:
        all_ready(s)
        (w,) = pool_pids(s, 'default')
        # The harness's first request went to it too.
        before = pool_of(status(s), 'default')['workers'][0]['requests']
        os.kill(w, signal.SIGSTOP)
        held = T.Client(s.port, timeout=30)
        parked = T.Client(s.port, timeout=30)
        try:
            held.send(T.req('GET', '/held.txt'))
            T.wait_for(lambda: pool_of(status(s), 'default')['workers'][0]
                       ['requests'] == before + 1, 10, 'the handoff')
            parked.send(T.req('GET', '/parked.txt'))
            T.wait_for(lambda: pool_of(status(s), 'default')['queue'] == 1,
                       10, 'a request in the queue')
            rewrite(s, PARKED.replace('"20s"', '"10s"'))
            reload(s, 2, 'pool default: changed; its workers are recycled')
            r = parked.response(timeout=20)
            T.assert_eq((r.status, r.body), (200, P_FILES['parked.txt']),
                        'the parked request')
            T.assert_eq(T.alive(w), True, 'the stopped worker still there')
            os.kill(w, signal.SIGCONT)
            r = held.response(timeout=20)
            T.assert_eq((r.status, r.body), (200, P_FILES['held.txt']),
                        'the request the old worker held')
        finally:
            T.kill_quietly(w, signal.SIGCONT)
            held.close()
            parked.close()
        T.wait_for(lambda: not T.alive(w), 10, 'the old worker gone')
        (new,) = pool_pids(s, 'default')
        assert new != w, 'same worker %d' % w
        body_of(s.port, '/parked.txt', P_FILES['parked.txt'], 'after')


# Pool default's workers run as nobody, who may not read parked.txt: only
# pool other's (www-data) can answer it.
MOVED = '''limits { connection_timeout = "30s" }
pool "default" { workers = 1  concurrency = 1  start = "always"
                 user = "nobody"  group = "nogroup" }
pool "other" { workers = 1  start = "always" }
site "s" { bindings = {"127.0.0.1:@PORT@"} root = "@ROOT@" }
'''


def test_parked_request_routed_to_its_new_pool():
    # The site moves to another pool while one of its requests waits in
    # the first pool's queue: the new pool answers it.
    if os.geteuid() != 0:
        raise T.Skip('pools of other users need root')
    with T.Server(MOVED, files=P_FILES, workers=2) as s:
        all_ready(s)
        os.chown(s.path('parked.txt'), 0, grp.getgrnam('www-data').gr_gid)
        os.chmod(s.path('parked.txt'), 0o640)
        T.assert_eq(T.get(s.port, '/parked.txt').status, 403,
                    'parked.txt from pool default')
        (w,) = pool_pids(s, 'default')
        before = pool_of(status(s), 'default')['workers'][0]['requests']
        os.kill(w, signal.SIGSTOP)
        held = T.Client(s.port, timeout=30)
        parked = T.Client(s.port, timeout=30)
        try:
            held.send(T.req('GET', '/held.txt'))
            T.wait_for(lambda: pool_of(status(s), 'default')['workers'][0]
                       ['requests'] == before + 1, 10, 'the handoff')
            parked.send(T.req('GET', '/parked.txt'))
            T.wait_for(lambda: pool_of(status(s), 'default')['queue'] == 1,
                       10, 'a request in the queue')
            rewrite(s, MOVED.replace('root = "@ROOT@"',
                                     'root = "@ROOT@"  pool = "other"'))
            reload(s, 2, 'pool other: changed; its workers are recycled')
            r = parked.response(timeout=20)
            T.assert_eq((r.status, r.body), (200, P_FILES['parked.txt']),
                        'the parked request')
            T.assert_eq(pool_of(status(s), 'default')['queue'], 0,
                        'queue of default')
            os.kill(w, signal.SIGCONT)
            r = held.response(timeout=20)
            T.assert_eq((r.status, r.body), (200, P_FILES['held.txt']),
                        'the request the stopped worker held')
        finally:
            T.kill_quietly(w, signal.SIGCONT)
            held.close()
            parked.close()
        body_of(s.port, '/parked.txt', P_FILES['parked.txt'], 'after')


REMOVED_POOL = '''limits { connection_timeout = "30s" }
pool "default" { workers = 1  start = "always" }
pool "p" { workers = 1  concurrency = 1  start = "always" }
site "s" { bindings = {"127.0.0.1:@PORT@"} root = "@ROOT@"  pool = "p" }
'''


def test_parked_request_of_a_removed_pool():
    # Its pool removed and the site given to pool default while a request
    # waits in the removed pool's queue: default answers it; the request
    # the removed pool's (stopped) worker holds is still finished by it.
    with T.Server(REMOVED_POOL, files=P_FILES, workers=2) as s:
        all_ready(s)
        (w,) = pool_pids(s, 'p')
        before = pool_of(status(s), 'p')['workers'][0]['requests']
        os.kill(w, signal.SIGSTOP)
        held = T.Client(s.port, timeout=30)
        parked = T.Client(s.port, timeout=30)
        try:
            held.send(T.req('GET', '/held.txt'))
            T.wait_for(lambda: pool_of(status(s), 'p')['workers'][0]
                       ['requests'] == before + 1, 10, 'the handoff')
            parked.send(T.req('GET', '/parked.txt'))
            T.wait_for(lambda: pool_of(status(s), 'p')['queue'] == 1,
                       10, 'a request in the queue')
            rewrite(s, REMOVED_POOL.replace(
                'pool "p" { workers = 1  concurrency = 1  start = "always" }'
                '\n', '').replace('  pool = "p"', ''))
            reload(s, 2, 'pool p: removed; its workers finish what they '
                   'have', 'pool default: changed; its workers are recycled')
            r = parked.response(timeout=20)
            T.assert_eq((r.status, r.body), (200, P_FILES['parked.txt']),
                        'the parked request')
            T.assert_eq(pool_names(s), ['default'], 'pools')
            os.kill(w, signal.SIGCONT)
            r = held.response(timeout=20)
            T.assert_eq((r.status, r.body), (200, P_FILES['held.txt']),
                        'the request the removed pool\'s worker held')
            # The connection goes on (its binding stays), with default.
            r = held.request('GET', '/parked.txt')
            T.assert_eq((r.status, r.body), (200, P_FILES['parked.txt']),
                        'the next request on that connection')
        finally:
            T.kill_quietly(w, signal.SIGCONT)
            held.close()
            parked.close()
        T.wait_for(lambda: not T.alive(w), 10, 'the removed pool\'s worker')


DEMAND = '''limits { connection_timeout = "30s" }
pool "default" { workers = 1  start = "always" }
pool "d" { workers = 1 }
site "s" { bindings = {"127.0.0.1:@PORT@"} root = "@ROOT@"
           application "/d" { pool = "d"  root = "@A@" } }
'''


def test_demand_pool_changed_before_and_after_its_first_request():
    roots = dict((k, {'f.txt': v}) for k, v in CONTENT.items())
    with T.Server(DEMAND, files={'a.txt': A_BODY}, roots=roots,
                  workers=1) as s:
        all_ready(s)
        # (Pool default serves site s, whose application changes: the
        # server takes it for changed too, and recycles it.)
        # Changed before any request: still no worker, then B's.
        rewrite(s, DEMAND.replace('@A@', '@B@'))
        reload(s, 2, 'pool d: changed; its workers are recycled')
        time.sleep(0.3)
        T.assert_eq(pool_pids(s, 'd'), [], 'a worker of d before a request')
        body_of(s.port, '/d/f.txt', CONTENT['B'], 'the first request')
        T.wait_for(lambda: len(pool_pids(s, 'd')) == 1, 10, 'd\'s worker')
        (first,) = pool_pids(s, 'd')
        # Changed with its worker running: recycled, C's.
        rewrite(s, DEMAND.replace('@A@', '@C@'))
        reload(s, 3, 'pool d: changed; its workers are recycled')
        T.wait_for(lambda: not T.alive(first), 10, 'd\'s first worker gone')
        body_of(s.port, '/d/f.txt', CONTENT['C'], 'after the recycle')
        T.assert_eq(len(pool_pids(s, 'd')), 1, 'workers of d')
        # An application's prefix moved: /d is default's (site root) now.
        rewrite(s, DEMAND.replace('@A@', '@C@').replace('"/d"', '"/e"'))
        reload(s, 4, 'pool d: changed; its workers are recycled')
        T.assert_eq(T.get(s.port, '/d/f.txt').status, 404, '/d/f.txt')
        body_of(s.port, '/e/f.txt', CONTENT['C'], '/e/f.txt')
        body_of(s.port, '/a.txt', A_BODY, 'the site')


# ---------------------------------------------------------------- listener

LSN_ROOTS = {'A': {'f.txt': CONTENT['A']}, 'B': {'f.txt': CONTENT['B']},
             'NEW': {'n.txt': N_BODY}}


def kill_listener(s):
    old = s.listener()
    os.kill(old, signal.SIGKILL)
    T.wait_for(lambda: [p for p in s.children('hsd-listener') if p != old],
               10, 'a new listener')


def reload_a_to_b(s):
    """Site s from root A to B, pool new with site n on port 2 added;
    the pids of pool default before."""
    old = pool_pids(s, 'default')
    rewrite(s, BASE.replace('@ROOT@', '@B@') + NEW)
    reload(s, 2, 'pool new: added', 'pool default: changed; its '
           'workers are recycled', 'listening on 127.0.0.1:%d' % s.ports[1])
    return old


def check_b(s):
    """The new listener has the configuration now running, not the one
    the server started with."""
    for _ in range(5):
        body_of(s.port, '/f.txt', CONTENT['B'], 'the changed site')
        body_of(s.ports[1], '/n.txt', N_BODY, 'the new site')
    T.assert_eq(T.get(s.port, '/n.txt').status, 404, 'n.txt on 1')
    T.assert_eq(pool_names(s), ['default', 'new'], 'pools')
    T.assert_eq(status(s)['listener']['answered'], True, 'listener')


def test_listener_restarted_after_a_reload():
    with T.Server(BASE.replace('@ROOT@', '@A@'), roots=LSN_ROOTS,
                  nports=2, workers=2) as s:
        all_ready(s)
        old = reload_a_to_b(s)
        T.wait_for(lambda: gone(old), 10, 'the old workers of default')
        T.wait_for(lambda: len(pool_pids(s, 'new')) == 1, 10,
                   'the new pool\'s worker')
        body_of(s.port, '/f.txt', CONTENT['B'], 'the changed site')
        body_of(s.ports[1], '/n.txt', N_BODY, 'the new site')
        kill_listener(s)
        check_b(s)


def test_listener_killed_during_the_recycle():
    # Killed right after the reload, while default's first workers (of
    # the first configuration) may still serve: answers are A's or B's
    # until they are gone, then B's only.
    with T.Server(BASE.replace('@ROOT@', '@A@'), roots=LSN_ROOTS,
                  nports=2, workers=2) as s:
        all_ready(s)
        old = reload_a_to_b(s)
        print('#   %d of default\'s first workers alive at the kill'
              % sum(T.alive(p) for p in old))
        kill_listener(s)
        while not gone(old):
            r = T.get(s.port, '/f.txt', timeout=30)
            T.assert_eq(r.status, 200, 'status')
            assert r.body in (CONTENT['A'], CONTENT['B']), r.body[:100]
            time.sleep(0.01)
        check_b(s)


T.main()
