"""
hsdctl and the pool manager's control socket: status (text and JSON) tells
the truth about the real processes, the queue and the requests served,
and does not hang on a stuck listener; stop POOL answers that pool's
requests (parked ones too) with 503 while other pools go on; start POOL
serves it again; recycle POOL replaces the workers without a failed
request; stop-server stops the server; no server, an unknown pool or
command give a message and exit 1; the socket is 0600, a stale one is
replaced and anything else in its place refused; a peer of another uid is
refused; garbage on the socket does not hurt the server.
"""

import json
import os
import pwd
import signal
import socket
import stat
import subprocess
import sys
import threading
import time

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import hsdtest as T  # noqa: E402

HSDCTL = os.path.join(T.BUILDDIR, 'hsdctl')

# The response cache off: the request counts are the workers'.
CONF = '''pool "default" { workers = 1  concurrency = 1  start = "always" }
cache { enabled = false }
pool "b" { workers = 1  concurrency = 1  start = "always" }
site "s" {
	bindings = {"127.0.0.1:@PORT@"}
	root = "@ROOT@"
	application "/b" { pool = "b" }
}
'''

FILES = {'a.txt': 'aaa\n', 'b/b.txt': 'bbb\n'}


def sock_path(s):
    return os.path.join(s.run_dir, 'hsd.sock')


def ctl(s, *args, wrap=(), timeout=30):
    """Run hsdctl -s SOCKET ARGS; (status, stdout, stderr)."""
    path = sock_path(s) if hasattr(s, 'run_dir') else s
    p = subprocess.run(list(wrap) + [HSDCTL, '-s', path] + list(args),
                       stdin=subprocess.DEVNULL, capture_output=True,
                       text=True, timeout=timeout)
    return p.returncode, p.stdout, p.stderr


def ok(s, *args):
    rc, out, err = ctl(s, *args)
    T.assert_eq(rc, 0, 'exit status of hsdctl %s (stderr %r)'
                % (' '.join(args), err))
    return out


def status(s):
    return json.loads(ok(s, 'status', '--json'))


def pool_of(st, name):
    (p,) = [p for p in st['pools'] if p['name'] == name]
    return p


def all_ready(s):
    """Wait until every worker says it is ready (the harness waits only
    for the processes): one stopped before it is ready never is."""
    T.wait_for(lambda: all(w['state'] == 'ready' for p in status(s)['pools']
                           for w in p['workers']), 10, 'ready workers')


def worker_pids(s, pool):
    """pids of the hsd-worker children of pool index `pool`."""
    return sorted(pid for pid, (p, _) in s.workers().items()
                  if p == str(pool))


def test_status():
    with T.Server(CONF, files=FILES, workers=2) as s:
        all_ready(s)
        st = status(s)
        T.assert_eq(st['listener'], {'pid': s.listener(), 'answered': True},
                    'listener')
        T.assert_eq(st['isolation'], 'pools', 'isolation mode')
        T.assert_eq((st['cache'], st['logger']),
                    ({'pid': s.children('hsd-cached')[0]},
                     {'pid': s.children('hsd-logd')[0]}),
                    'cache and logger')
        T.assert_eq(set(st['log_records']), {'buffered', 'dropped'},
                    'the listener\'s log records')
        T.assert_eq([p['name'] for p in st['pools']], ['default', 'b'],
                    'pools')
        for i, name in enumerate(('default', 'b')):
            p = pool_of(st, name)
            T.assert_eq(p['state'], 'running', 'state of ' + name)
            T.assert_eq(p['queue'], 0, 'queue of ' + name)
            T.assert_eq(sorted(w['pid'] for w in p['workers']),
                        worker_pids(s, i), 'worker pids of ' + name)
            for w in p['workers']:
                T.assert_eq(w['state'], 'ready', 'worker state')
                assert w['rss_kb'] > 0 and w['uptime_s'] >= 0, w
        # Requests served, from the listener.
        before = pool_of(status(s), 'default')['workers'][0]['requests']
        for _ in range(3):
            T.assert_eq(T.get(s.port, '/a.txt').body, b'aaa\n', 'body')
        after = pool_of(status(s), 'default')['workers'][0]['requests']
        T.assert_eq(after, before + 3, 'requests after 3 more')

        # The text form says the same.
        text = ok(s, 'status')
        assert 'listener: pid %d\n' % s.listener() in text, text
        assert 'pool default: running, queue 0' in text, text
        for pid in worker_pids(s, 0) + worker_pids(s, 1):
            assert 'pid %d, ready' % pid in text, text
        assert '%d requests' % after in text, text

        # A request parked behind a stopped worker shows in the queue.
        all_ready(s)
        (w,) = worker_pids(s, 0)
        os.kill(w, signal.SIGSTOP)
        held = T.Client(s.port)
        parked = T.Client(s.port)
        try:
            held.send(T.req('GET', '/a.txt'))
            T.wait_for(lambda: pool_of(status(s), 'default')['workers'][0]
                       ['requests'] == after + 1, 10, 'the handoff')
            parked.send(T.req('GET', '/a.txt'))
            T.wait_for(lambda: pool_of(status(s), 'default')['queue'] == 1,
                       10, 'queue 1')
            assert 'pool default: running, queue 1' in ok(s, 'status')
            T.assert_eq(pool_of(status(s), 'b')['queue'], 0, 'queue of b')
            os.kill(w, signal.SIGCONT)
            for c in (held, parked):
                T.assert_eq(c.response().body, b'aaa\n', 'body')
            T.wait_for(lambda: pool_of(status(s), 'default')['queue'] == 0,
                       10, 'queue 0')
        finally:
            T.kill_quietly(w, signal.SIGCONT)
            held.close()
            parked.close()

        # Found through the configuration too.
        p = subprocess.run([HSDCTL, '-f', s.conf, 'status'],
                           capture_output=True, text=True, timeout=30)
        T.assert_eq(p.returncode, 0, 'hsdctl -f: %s' % p.stderr)
        assert 'listener: pid %d' % s.listener() in p.stdout, p.stdout


def test_status_stuck_listener():
    """A listener that does not answer costs hsdctl status a timeout, not
    a hang: it answers without the listener's numbers."""
    with T.Server(CONF, files=FILES, workers=2) as s:
        lsn = s.listener()
        os.kill(lsn, signal.SIGSTOP)
        try:
            st = status(s)
            T.assert_eq(st['listener'], {'pid': lsn, 'answered': False},
                        'listener')
            T.assert_eq(pool_of(st, 'default')['queue'], None, 'queue')
            T.assert_eq(pool_of(st, 'default')['workers'][0]['requests'],
                        None, 'requests')
            assert 'did not answer' in ok(s, 'status')
        finally:
            os.kill(lsn, signal.SIGCONT)
        # Its late answers are dropped; the next status is whole again.
        T.assert_eq(status(s)['listener']['answered'], True, 'answered')
        T.assert_eq(T.get(s.port, '/a.txt').status, 200, 'served')


def test_stop_start():
    # The stopped worker must still be there when it is let go on.
    conf = CONF + 'shutdown_timeout = "20s"\n'
    with T.Server(conf, files=FILES, workers=2) as s:
        all_ready(s)
        (wb,) = worker_pids(s, 1)
        # One request of pool b at its (stopped) worker, one parked.
        os.kill(wb, signal.SIGSTOP)
        held = T.Client(s.port)
        parked = T.Client(s.port)
        try:
            held.send(T.req('GET', '/b/b.txt'))
            T.wait_for(lambda: pool_of(status(s), 'b')['workers'][0]
                       ['requests'] == 1, 10, 'the handoff')
            parked.send(T.req('GET', '/b/b.txt'))
            T.wait_for(lambda: pool_of(status(s), 'b')['queue'] == 1, 10,
                       'queue 1')
            T.assert_eq(ok(s, 'stop', 'b'), 'pool b: stopped\n', 'answer')
            # The parked one is answered at once, though nobody runs.
            T.assert_listener_error(parked, parked.response(timeout=5), 503)
            # The one at the worker is finished by it.
            os.kill(wb, signal.SIGCONT)
            T.assert_eq(held.response(timeout=10).body, b'bbb\n',
                        'the request the stopped pool\'s worker held')
        finally:
            T.kill_quietly(wb, signal.SIGCONT)
            held.close()
            parked.close()
        T.wait_for(lambda: not worker_pids(s, 1), 10, 'b has no worker')
        with T.Client(s.port) as c:
            c.send(T.req('GET', '/b/b.txt'))
            T.assert_listener_error(c, c.response(timeout=5), 503)
        assert 'pool b is stopped; 503 (Disabled)' in s.log(), s.log()
        # Other pools go on.
        T.assert_eq(T.get(s.port, '/a.txt').body, b'aaa\n', 'default')
        st = status(s)
        T.assert_eq(pool_of(st, 'b')['state'], 'stopped', 'state')
        T.assert_eq(pool_of(st, 'b')['workers'], [], 'workers')
        T.assert_eq(pool_of(st, 'default')['state'], 'running', 'default')
        # Nothing restarts it behind the operator's back.
        time.sleep(0.5)
        T.assert_eq(worker_pids(s, 1), [], 'b still has no worker')
        rc, _, err = ctl(s, 'stop', 'b')
        T.assert_eq(rc, 1, 'stop a stopped pool')
        assert 'stopped already' in err, err
        rc, _, err = ctl(s, 'recycle', 'b')
        T.assert_eq(rc, 1, 'recycle a stopped pool')

        T.assert_eq(ok(s, 'start', 'b'), 'pool b: started\n', 'answer')
        T.wait_for(lambda: len(worker_pids(s, 1)) == 1, 10, 'b\'s worker')
        T.assert_eq(T.get(s.port, '/b/b.txt').body, b'bbb\n', 'b again')
        T.assert_eq(pool_of(status(s), 'b')['state'], 'running', 'state')
        rc, _, err = ctl(s, 'start', 'b')
        T.assert_eq(rc, 1, 'start a running pool')
        assert 'running already' in err, err


def test_recycle():
    """Overlapped recycling under a light load: new pids, every request
    answered whole."""
    conf = CONF.replace('pool "default" { workers = 1  concurrency = 1  '
                        'start = "always" }',
                        'pool "default" { workers = 2  start = "always" }')
    with T.Server(conf, files=FILES, workers=3) as s:
        old = worker_pids(s, 0)
        T.assert_eq(len(old), 2, 'two workers')
        stop = threading.Event()
        errors = []
        counts = [0]

        def load(keepalive):
            c = None
            while not stop.is_set():
                try:
                    if c is None:
                        c = T.Client(s.port)
                    r = c.request('GET', '/a.txt', headers={} if keepalive
                                  else {'Connection': 'close'})
                    if r.status != 200 or r.body != b'aaa\n':
                        errors.append('%d %r' % (r.status, r.body))
                    counts[0] += 1
                    if not keepalive:
                        c.close()
                        c = None
                except Exception as e:
                    errors.append(repr(e))
                    if c is not None:
                        c.close()
                    c = None
                time.sleep(0.005)
            if c is not None:
                c.close()
        threads = [threading.Thread(target=load, args=(k,))
                   for k in (True, False)]
        for t in threads:
            t.start()
        try:
            T.wait_for(lambda: counts[0] > 20, 10, 'some load')
            T.assert_eq(ok(s, 'recycle', 'default'),
                        'pool default: recycling\n', 'answer')
            T.wait_for(lambda: len(worker_pids(s, 0)) == 2 and
                       not set(worker_pids(s, 0)) & set(old), 15,
                       'two new workers, no old one')
            n = counts[0]
            T.wait_for(lambda: counts[0] > n + 20, 10, 'more load after')
        finally:
            stop.set()
            for t in threads:
                t.join()
        T.assert_eq(errors, [], 'failed requests during the recycle')
        # Each old worker retired only once its replacement was ready.
        for pid in old:
            assert '(pid %d) of pool default retired (hsdctl recycle; ' \
                'worker ' % pid in s.log(), s.log()
        st = pool_of(status(s), 'default')
        T.assert_eq(sorted(w['pid'] for w in st['workers']),
                    worker_pids(s, 0), 'status shows the new workers')
        T.assert_eq([w['state'] for w in st['workers']], ['ready'] * 2,
                    'states')


def test_names_escaped():
    """Whatever a pool's name holds, status --json is valid JSON that
    gives the name back, and hsdctl finds the pool by it."""
    name = 'q"uo\\te \u00e9\tx'
    quoted = '"%s"' % name.replace('\\', '\\\\').replace('"', '\\"') \
        .replace('\t', '\\t')
    conf = CONF.replace('pool "b"', 'pool ' + quoted) \
        .replace('pool = "b"', 'pool = ' + quoted)
    with T.Server(conf, files=FILES, workers=2) as s:
        st = status(s)
        T.assert_eq([p['name'] for p in st['pools']], ['default', name],
                    'names')
        T.assert_eq(ok(s, 'stop', name),
                    'pool q"uo\\te \u00e9?x: stopped\n',
                    'answer (control characters shown as ?)')
        T.assert_eq(pool_of(status(s), name)['state'], 'stopped', 'state')
        assert 'pool q"uo\\te \u00e9?x: stopped' in ok(s, 'status')


def test_stop_server():
    with T.Server(CONF, files=FILES, workers=2) as s:
        T.assert_eq(ok(s, 'stop-server'), 'stopping the server\n', 'answer')
        s.proc.wait(20)
        T.assert_eq(s.stop(), 0, 'exit status of hsd-poolmgr')
        assert not os.path.exists(sock_path(s)), 'socket left behind'
        assert not os.path.exists(s.pidfile()), 'pid file left behind'
        # No server now.
        rc, out, err = ctl(s, 'status')
        T.assert_eq(rc, 1, 'exit status with no server')
        assert err.startswith('hsdctl: cannot connect to %s: '
                              % sock_path(s)), err
        T.assert_eq(out, '', 'stdout with no server')


def test_reload_checks_the_file():
    """hsdctl reload and SIGHUP read the server's file again: a file
    that does not pass is reported, with what is wrong, and the running
    configuration stays; one that passes unchanged changes no worker.
    (t_reload.py tests what a reload applies.)"""
    with T.Server(CONF, files=FILES, workers=2) as s:
        all_ready(s)
        pids = sorted(s.children('hsd-worker'))
        with open(s.conf) as f:
            good = f.read()
        with open(s.conf, 'a') as f:
            f.write('bogus_key = 1\n')
        bad_line = good.count('\n') + 1
        rc, out, err = ctl(s, 'reload')
        T.assert_eq((rc, out), (1, ''), 'reload of a bad file')
        assert '%s is not valid; the running configuration stays' % s.conf \
            in err, err
        assert '%s:%d: no such option \'bogus_key\'' % (s.conf, bad_line) \
            in err, err
        s.send_signal(signal.SIGHUP)
        T.wait_for(lambda: s.log().count('reload: %s is not valid' % s.conf)
                   == 2, 10, 'SIGHUP to check the file')
        T.assert_eq(T.get(s.port, '/a.txt').status, 200, 'still serving')
        T.assert_eq(sorted(s.children('hsd-worker')), pids, 'same workers')
        with open(s.conf, 'w') as f:
            f.write(good)
        rc, out, err = ctl(s, 'reload')
        T.assert_eq((rc, out, err), (0, 'reloaded %s (configuration 2)\n'
                                     % s.conf, ''), 'reload of a good file')
        T.assert_eq(T.get(s.port, '/a.txt').body, b'aaa\n', 'serving')
        T.assert_eq(T.get(s.port, '/b/b.txt').body, b'bbb\n', 'pool b')
        T.assert_eq(sorted(s.children('hsd-worker')), pids, 'same workers')


def test_errors():
    with T.Server(CONF, files=FILES, workers=2) as s:
        rc, out, err = ctl(s, 'stop', 'nope')
        T.assert_eq((rc, out), (1, ''), 'unknown pool')
        assert 'no pool named "nope"' in err, err
        rc, out, err = ctl(s, 'frobnicate')
        T.assert_eq((rc, out), (1, ''), 'unknown command')
        assert 'unknown command "frobnicate"' in err, err
        rc, out, err = ctl(s, 'stop')
        T.assert_eq(rc, 1, 'stop without a pool')
        assert 'usage' in err, err
        T.assert_eq(T.get(s.port, '/a.txt').status, 200, 'still serving')
    rc, out, err = ctl('/nonexistent/hsd.sock', 'status')
    T.assert_eq(rc, 1, 'no such socket')
    assert 'cannot connect to /nonexistent/hsd.sock' in err, err
    p = subprocess.run([HSDCTL, '-f', '/nonexistent.conf', 'status'],
                       capture_output=True, text=True, timeout=30)
    T.assert_eq(p.returncode, 1, 'no such config')
    assert '/nonexistent.conf' in p.stderr, p.stderr


def test_permissions():
    with T.Server(CONF, files=FILES, workers=2) as s:
        st = os.lstat(sock_path(s))
        assert stat.S_ISSOCK(st.st_mode), st
        T.assert_eq(oct(st.st_mode & 0o777), oct(0o600), 'mode')
        T.assert_eq(st.st_uid, os.geteuid(), 'owner')
        if os.geteuid() != 0:
            return
        setpriv = [T.need_program('setpriv'), '--reuid=nobody',
                   '--regid=nogroup', '--clear-groups']
        # The file's mode keeps another user out ...
        rc, out, err = ctl(s, 'status', wrap=setpriv)
        T.assert_eq((rc, out), (1, ''), 'nobody')
        assert 'cannot connect' in err and 'Permission denied' in err, err
        # ... and a peer that gets past it (CAP_DAC_OVERRIDE) is refused
        # by its credentials.
        caps = ['--inh-caps=+dac_override', '--ambient-caps=+dac_override']
        rc, out, err = ctl(s, 'stop', 'default', wrap=setpriv + caps)
        T.assert_eq((rc, out), (1, ''), 'nobody with dac_override')
        assert 'permission denied' in err, err
        assert 'refused a control client of uid %d' \
            % pwd.getpwnam('nobody').pw_uid in s.log(), s.log()
        # It did not stop anything.
        T.assert_eq(pool_of(status(s), 'default')['state'], 'running',
                    'state')
        T.assert_eq(T.get(s.port, '/a.txt').status, 200, 'served')


def raw(s, data, shut=False):
    """Send data on a fresh control connection; what comes back to EOF."""
    c = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    c.settimeout(15)
    c.connect(sock_path(s))
    try:
        try:
            c.sendall(data)
            if shut:
                c.shutdown(socket.SHUT_WR)
        except (BrokenPipeError, ConnectionResetError):
            pass        # answered and closed before it read everything
        out = b''
        while True:
            try:
                d = c.recv(65536)
            except ConnectionResetError:
                break
            if not d:
                break
            out += d
        return out
    finally:
        c.close()


def test_garbage():
    with T.Server(CONF, files=FILES, workers=2) as s:
        out = raw(s, b'\x00\xff\x01binary\x7f\n')
        assert out.startswith(b'error: '), out
        out = raw(s, b'status extra words\n')
        assert out.startswith(b'error: unknown command'), out
        out = raw(s, b'x' * 100000)
        T.assert_eq(out, b'error: command line too long\n', 'long line')
        # A half line and EOF: closed without an answer.
        T.assert_eq(raw(s, b'sta', shut=True), b'', 'half line')
        # A client that never finishes its line does not block anyone,
        # and is closed after a while.
        silent = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        silent.connect(sock_path(s))
        silent.sendall(b'stat')
        try:
            T.assert_eq(status(s)['pools'][0]['state'], 'running',
                        'status while a client idles')
            T.assert_eq(T.get(s.port, '/a.txt').status, 200, 'served')
            silent.settimeout(30)
            T.assert_eq(silent.recv(100), b'', 'the idle client closed')
        finally:
            silent.close()
        # Many clients at once.
        socks = []
        try:
            for _ in range(40):
                c = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
                c.connect(sock_path(s))
                socks.append(c)
        finally:
            for c in socks:
                c.close()
        T.wait_for(lambda: ctl(s, 'status')[0] == 0, 10, 'status again')
        T.assert_eq(T.get(s.port, '/a.txt').status, 200, 'still serving')
        assert s.running(), 'the pool manager died'


def run_until_status(conf):
    """Start hsd-poolmgr -f conf by hand (the harness makes a fresh
    run_dir for each Server), wait until hsdctl status answers, stop it;
    returns its exit status and log."""
    d = os.path.dirname(conf)
    env = dict(os.environ)
    env[T.MARK_VAR] = d
    with open(os.path.join(d, 'manual.log'), 'w+b') as log:
        p = subprocess.Popen([T.POOLMGR, '-f', conf], env=env,
                             stdin=subprocess.DEVNULL, stdout=log,
                             stderr=log, start_new_session=True)
        try:
            sock = os.path.join(d, 'run', 'hsd.sock')
            T.wait_for(lambda: ctl(sock, 'status')[0] == 0, 10,
                       'hsdctl status')
            p.send_signal(signal.SIGTERM)
            p.wait(20)
        finally:
            if p.poll() is None:
                T.kill_quietly(p.pid)
                p.wait()
            for x in T.marked_pids(d):
                T.kill_quietly(x)
        log.seek(0)
        return p.returncode, log.read().decode('utf-8', 'replace')


def test_socket_path():
    """A stale socket is replaced; a symbolic link or a file in its place
    is refused; a live server's socket is not taken over."""
    with T.Server(CONF, files=FILES, workers=2) as s:
        # A second server on the same run_dir (other ports) is refused
        # and leaves the first one's socket and pid file alone.
        conf2 = T.write_conf(s.dir, s.conf_text.replace(str(s.port),
                             str(T.free_ports(1)[0])), name='second.conf')
        rc, text, spawned = T.run_poolmgr(conf2)
        T.assert_eq(rc, 1, 'second server')
        assert 'another hsd-poolmgr answers on it' in text, text
        T.assert_eq(spawned, [], 'children of the second server')
        T.assert_eq(status(s)['listener']['pid'], s.listener(), 'first')
        with open(s.pidfile()) as f:
            T.assert_eq(f.read().strip(), str(s.pid), 'pid file kept')
    conf = s.conf
    target = sock_path(s)
    assert not os.path.exists(target), 'socket left behind'
    # Something else in its place: refused with a message, nothing started.
    for what in ('link', 'file'):
        if what == 'link':
            os.symlink('/tmp/elsewhere.sock', target)
        else:
            with open(target, 'w') as f:
                f.write('x')
        rc, text, spawned = T.run_poolmgr(conf)
        T.assert_eq(rc, 1, 'exit status with a %s at the socket' % what)
        assert 'refusing to replace it' in text, text
        T.assert_eq(spawned, [], 'children started')
        assert os.path.lexists(target), 'the %s was removed' % what
        os.unlink(target)
    # A stale socket (bound, nobody listening) is replaced.
    stale = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    stale.bind(target)
    stale.close()
    rc, text = run_until_status(conf)
    T.assert_eq(rc, 0, 'exit status after a stale socket; log:\n' + text)
    assert not os.path.exists(target), 'socket left behind'


if __name__ == '__main__':
    T.main()
