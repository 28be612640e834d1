"""
Reload, each interleaving with a worker's life made deterministic: a
reload that lands while a pool's replacement worker is still starting
(the starting one, of the old configuration, is replaced, and the old
ready one is recycled into the new configuration); a worker that dies
holding a request after a reload moved the request's site to another
pool (the request is served there); one that dies holding a request
whose site the reload removed (503, never a hang); and a reload while a
request is parked for a pool whose only worker is stopped.
"""

import json
import os
import signal
import subprocess
import sys

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import hsdtest as T  # noqa: E402

HSDCTL = os.path.join(T.BUILDDIR, 'hsdctl')

A = b'served from root A\n'
B = b'served from root B, which is longer\n'
ROOTS = {'A': {'x.txt': A}, 'B': {'x.txt': B}}

# Hostile workers (hsdtest.FAULT_PRELUDE first): one that never says it
# is ready.
ROLES = r'''
say('pid %d' % os.getpid())
if role == 'never-ready':
    time.sleep(600)
os._exit(0)
'''


def ctl(s, *args):
    p = subprocess.run([HSDCTL, '-s', os.path.join(s.run_dir, 'hsd.sock')]
                       + list(args), stdin=subprocess.DEVNULL,
                       capture_output=True, text=True, timeout=30)
    return p.returncode, p.stdout, p.stderr


def reload(s, text):
    """Write text as the server's file (the harness's tail kept) and
    reload; the report hsdctl printed."""
    with open(s.conf) as f:
        whole = f.read()
    with open(s.conf, 'w') as f:
        f.write(whole.replace(s.conf_text, text))
    s.conf_text = text
    rc, out, err = ctl(s, 'reload')
    T.assert_eq(rc, 0, 'hsdctl reload (stderr %r)' % err)
    return out


def subst(s, text):
    text = text.replace('@PORT@', str(s.ports[0]))
    if len(s.ports) > 1:
        text = text.replace('@PORT2@', str(s.ports[1]))
    for name, path in s.roots.items():
        text = text.replace('@%s@' % name, path)
    return text


def fault_pid(marker):
    for line in T.fault_report(marker):
        if line.startswith('pid '):
            return int(line[4:])
    return None


def test_reload_while_a_replacement_starts():
    # hsdctl recycle starts a replacement that never gets ready; a reload
    # that changes the pool then replaces that one (it would run the old
    # configuration) and recycles the ready old worker into the new one.
    libexec, marker = T.fault_libexec(ROLES)
    conf = '''pool "default" { workers = 1  start = "always"
                 startup_timeout = "60s"  shutdown_timeout = "500ms" }
site "s" { bindings = {"127.0.0.1:@PORT@"} root = "@A@" }
'''
    with T.Server(conf, roots=ROOTS, libexec=libexec, workers=1) as s:
        T.assert_eq(T.get(s.port, '/x.txt').body, A, 'before')
        (old,) = s.children('hsd-worker')
        T.fault_arm(marker, 'never-ready')
        rc, out, err = ctl(s, 'recycle', 'default')
        T.assert_eq(rc, 0, 'recycle: %r' % err)
        T.wait_for(lambda: fault_pid(marker) is not None, 10,
                   'the replacement that never gets ready')
        starting = fault_pid(marker)
        out = reload(s, conf.replace('@A@', s.roots['B'])
                     .replace('@PORT@', str(s.port)))
        assert 'pool default: changed; its workers are recycled' in out, out
        T.wait_for(lambda: not T.alive(starting), 10,
                   'the starting replacement gone')
        T.wait_for(lambda: not T.alive(old), 10, 'the old worker gone')
        T.assert_eq(T.get(s.port, '/x.txt').body, B, 'after')
        (new,) = s.children('hsd-worker')
        assert new not in (old, starting), (new, old, starting)
        log = s.log()
        assert ('(pid %d) of pool default retired (its configuration was '
                'replaced before it was ready)' % starting) in log, log
        # Due a recycle already (hsdctl's), it is replaced once a worker
        # of the new configuration is ready.
        assert ('(pid %d) of pool default retired (hsdctl recycle; worker '
                '3 (pid %d) took over)' % (old, new)) in log, log


def stopped_worker_holding(s, port, path):
    """SIGSTOP the only worker, then hand it a request on a new
    connection; the connection."""
    (pid,) = s.children('hsd-worker')
    # Idle first, so it is not stopped between its response and DONE.
    T.get_to_eof(port, path)
    os.kill(pid, signal.SIGSTOP)
    c = T.Client(port, timeout=20)
    c.send(T.req('GET', path))
    return pid, c


def b_ready(s):
    rc, out, err = ctl(s, 'status', '--json')
    pools = json.loads(out)['pools'] if rc == 0 else []
    return any(p['name'] == 'b' and p['workers'] and
               all(w['state'] == 'ready' for w in p['workers'])
               for p in pools)


def test_worker_dies_after_reload_moved_its_site():
    # The request at the worker was routed to pool a; a reload moves its
    # site to pool b and removes a; the worker dies without a byte
    # written: the request is handed on by the new routing, to b.
    conf = '''pool "a" { workers = 1  start = "always" }
site "s" { bindings = {"127.0.0.1:@PORT@"} root = "@A@" pool = "a" }
'''
    moved = '''pool "b" { workers = 1  start = "always" }
site "s" { bindings = {"127.0.0.1:@PORT@"} root = "@A@" pool = "b" }
'''
    with T.Server(conf, roots=ROOTS, workers=1) as s:
        pid, c = stopped_worker_holding(s, s.port, '/x.txt')
        try:
            out = reload(s, subst(s, moved))
            assert 'pool a: removed' in out and 'pool b: added' in out, out
            # Ready before the request comes back: nothing else wakes
            # pool b's queue for it.
            T.wait_for(lambda: b_ready(s), 10, "pool b's worker ready")
        finally:
            os.kill(pid, signal.SIGKILL)
        r = c.response()
        T.assert_eq((r.status, r.body), (200, A), 'the request, handed on')
        T.assert_eq(c.request('GET', '/x.txt').body, A, 'the next one')
        c.close()
        assert 'died; request handed on' in s.log(), s.log()


def test_worker_dies_after_reload_removed_its_site():
    # The same, but the reload removed the site and its binding: the
    # request has nowhere to go and gets 503 at once, and the connection
    # (its binding gone) is closed.
    conf = '''pool "a" { workers = 1  start = "always" }
pool "b" { workers = 1  start = "always" }
site "s" { bindings = {"127.0.0.1:@PORT@"} root = "@A@" pool = "a" }
site "t" { bindings = {"127.0.0.1:@PORT2@"} root = "@B@" pool = "b" }
'''
    removed = '''pool "b" { workers = 1  start = "always" }
site "t" { bindings = {"127.0.0.1:@PORT2@"} root = "@B@" pool = "b" }
'''
    with T.Server(conf, roots=ROOTS, nports=2, workers=2) as s:
        workers = s.workers()
        # Pool "default" is index 0, written or not.
        (pid,) = [p for p, (pool, _) in workers.items() if pool == '1']
        T.get_to_eof(s.port, '/x.txt')
        os.kill(pid, signal.SIGSTOP)
        c = T.Client(s.port, timeout=20)
        c.send(T.req('GET', '/x.txt'))
        try:
            out = reload(s, subst(s, removed))
            assert 'no longer listening on 127.0.0.1:%d' % s.port in out, \
                out
        finally:
            os.kill(pid, signal.SIGKILL)
        r = c.response()
        T.assert_eq(r.status, 503, 'nowhere to go')
        c.expect_closed()
        assert not T.port_open(s.port), 'the removed binding still listens'
        T.assert_eq(T.get(s.ports[1], '/x.txt').body, B, 'the other site')
        port = c.sock.getsockname()[1]
        s.stop()
        # HTTPERR says why: the listener had nowhere to send it.
        with open(os.path.join(s.dir, 'log', 'HTTPERR',
                               'httperr1.log')) as f:
            lines = [x.split() for x in f if not x.startswith('#')]
        mine = [x for x in lines if x[3] == str(port)]
        T.assert_eq([(x[9], x[11]) for x in mine], [('503', 'Internal')],
                    'the HTTPERR line of the request')


def test_parked_request_routed_again():
    # A request parked for pool a (its one worker stopped) when a reload
    # moves its site to pool b: routed again, b serves it from b's root.
    conf = '''pool "a" { workers = 1  concurrency = 1  start = "always" }
site "s" { bindings = {"127.0.0.1:@PORT@"} root = "@A@" pool = "a" }
'''
    moved = '''pool "a" { workers = 1  concurrency = 1  start = "always" }
pool "b" { workers = 1  start = "always" }
site "s" { bindings = {"127.0.0.1:@PORT@"} root = "@B@" pool = "b" }
'''
    with T.Server(conf, roots=ROOTS, workers=1) as s:
        pid, held = stopped_worker_holding(s, s.port, '/x.txt')
        try:
            parked = T.Client(s.port, timeout=20)
            parked.send(T.req('GET', '/x.txt'))
            T.wait_for(lambda: 'queue 1' in ctl(s, 'status')[1], 10,
                       'a parked request')
            out = reload(s, subst(s, moved))
            assert 'pool b: added' in out, out
            r = parked.response()
            T.assert_eq((r.status, r.body), (200, B), 'the parked request')
        finally:
            os.kill(pid, signal.SIGCONT)
        # The one at a's worker was routed under the old configuration
        # and finishes there, from its root.
        r = held.response()
        T.assert_eq((r.status, r.body), (200, A), 'the request at a')
        held.close()
        parked.close()


T.main()
