"""
The process tree and its life: who the children are, the pid file, a
graceful stop on SIGTERM/SIGINT (no new connections, in-flight requests
finish, exit 0, nothing left), and children that go away by themselves
when the pool manager is killed outright.
"""

import hashlib
import os
import resource
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import hsdtest as T  # noqa: E402

CONF = '''shutdown_timeout = "%s"
pool "default" { workers = 2  start = "always" }
pool "other" { workers = 1  start = "always" }
site "s" {
	bindings = {"127.0.0.1:@PORT@"}
	root = "@ROOT@"
	application "/o" { pool = "other" }
}
'''

BIG = 32 << 20
FILES = {'a.txt': 'aaa\n', 'o/b.txt': 'bbb\n',
         'big.bin': T.Random(BIG, seed=11)}


def server(shutdown='20s', **kw):
    return T.Server(CONF % shutdown, files=FILES, workers=3, **kw)


def refused(port):
    try:
        s = socket.create_connection(('127.0.0.1', port), timeout=1)
    except ConnectionRefusedError:
        return True
    except OSError:
        return False
    s.close()
    return False


def test_children():
    with server() as s:
        kids = s.children()
        names = sorted((T.proc_stat(p) or ('?',))[0] for p in kids)
        T.assert_eq(names, ['hsd-cached', 'hsd-listener', 'hsd-logd',
                            'hsd-worker',
                            'hsd-worker', 'hsd-worker'],
                    'comm of the direct children')
        ws = s.workers()
        for pid, (pool, wid) in ws.items():
            argv = T.proc_cmdline(pid)
            assert pool is not None and wid is not None, \
                'worker argv without -p/-w: %r' % argv
            assert pool.isdigit() and wid.isdigit(), 'worker argv %r' % argv
        by_pool = {}
        for pool, wid in ws.values():
            by_pool.setdefault(pool, []).append(wid)
        T.assert_eq(sorted(len(v) for v in by_pool.values()), [1, 2],
                    'workers per pool index (%r)' % by_pool)
        T.assert_eq(sorted(by_pool), ['0', '1'], 'pool indexes')
        # Every process of ours is the pool manager or a direct child.
        mine = set(T.marked_pids(s.dir))
        T.assert_eq(mine, set(kids) | {s.pid},
                    'processes started (no grandchildren, no strays)')
        # They serve: both pools answer.
        T.assert_eq(T.get(s.port, '/a.txt').body, b'aaa\n', '/a.txt')
        T.assert_eq(T.get(s.port, '/o/b.txt').body, b'bbb\n', '/o/b.txt')


def test_pid_file():
    with server() as s:
        path = s.pidfile()
        T.wait_for(lambda: os.path.exists(path), 5, 'the pid file')
        with open(path) as f:
            text = f.read().strip()
        T.assert_eq(text, str(s.pid), 'pid file contents')


def _graceful(sig):
    with server() as s:
        want = hashlib.sha256(open(s.path('big.bin'), 'rb').read()).digest()
        kids = s.children()
        c = T.Client(s.port, timeout=30, rcvbuf=65536)
        try:
            c.send(T.req('GET', '/big.bin'))
            r = c.read_head()
            T.assert_eq(r.status, 200, 'status of the big file')
            T.assert_eq(int(r.header('content-length')), BIG,
                        'Content-Length')
            # An idle keep-alive connection, open before the stop.
            idle = T.Client(s.port, timeout=10)
            T.assert_eq(idle.request('GET', '/a.txt').status, 200, 'idle')
            s.send_signal(sig)
            T.wait_for(lambda: refused(s.port), 5,
                       'new connections to be refused after the signal')
            assert s.running(), \
                'hsd-poolmgr exited with a response still in flight'
            # Read the rest, slowly at first.
            h = hashlib.sha256()
            body = c.buf
            c.buf = b''
            h.update(body)
            got = len(body)
            t_end = time.monotonic() + 1.0
            while got < BIG:
                try:
                    data = c.sock.recv(65536 if time.monotonic() < t_end
                                       else 1 << 20)
                except ConnectionResetError:
                    data = b''
                if not data:
                    raise AssertionError('in-flight response cut after %d '
                                         'of %d bytes by the stop'
                                         % (got, BIG))
                h.update(data)
                got += len(data)
                if time.monotonic() < t_end:
                    time.sleep(0.01)
            T.assert_eq(got, BIG, 'bytes of the in-flight response')
            assert h.digest() == want, 'in-flight response body differs'
            idle.close()
        finally:
            c.close()
        try:
            rc = s.proc.wait(15)
        except subprocess.TimeoutExpired:
            raise AssertionError('hsd-poolmgr did not exit after the '
                                 'in-flight request finished')
        # Right when it exits, no child of it is still running.
        left = [p for p in kids if T.alive(p)] + \
            [p for p in T.marked_pids(s.dir) if p != s.pid]
        assert not left, 'children still running when hsd-poolmgr exited: ' \
            '%r' % left
        T.assert_eq(rc, 0, 'exit status after signal %d' % sig)
        T.assert_eq(s.stop(), 0, 'exit status')
        assert refused(s.port), 'port still open after exit'


def test_sigterm_graceful():
    _graceful(signal.SIGTERM)


def test_sigint_graceful():
    _graceful(signal.SIGINT)


def test_sigterm_idle():
    with server() as s:
        kids = s.children()
        T.assert_eq(s.stop(signal.SIGTERM, timeout=10, grace=0), 0,
                    'exit status')
        assert not [p for p in kids if T.alive(p)], 'children left'


def test_shutdown_timeout_bounds_the_stop():
    # A client that never reads cannot hold the stop past shutdown_timeout.
    with server(shutdown='2s') as s:
        c = T.Client(s.port, timeout=30, rcvbuf=65536)
        try:
            c.send(T.req('GET', '/big.bin'))
            T.assert_eq(c.read_head().status, 200, 'status')
            s.send_signal(signal.SIGTERM)
            try:
                s.proc.wait(15)
            except subprocess.TimeoutExpired:
                raise AssertionError('hsd-poolmgr still running 15s after '
                                     'SIGTERM with shutdown_timeout 2s')
            data, how = c.read_all(10)
            assert len(data) < BIG, 'the stuck response completed?'
        finally:
            c.close()
        s.stop()


def test_sigkill_poolmgr():
    with server() as s:
        kids = s.children()
        T.assert_eq(len(kids), 6, 'children')
        os.kill(s.pid, signal.SIGKILL)
        s.proc.wait(5)
        T.wait_for(lambda: not [p for p in kids if T.alive(p)] and
                   not T.marked_pids(s.dir), 5,
                   'every child to exit after the pool manager was killed')
        T.wait_for(lambda: refused(s.port), 5, 'the port to close')
        s.stop()


# One worker and a short connection_timeout: a request parked for a pool
# that has no worker is answered 503 within a second.
CONF_ONE = '''limits { connection_timeout = "1s" }
pool "default" { workers = 1 }
site "s" {
	bindings = {"127.0.0.1:@PORT@"}
	root = "@ROOT@"
}
'''


def _libexec_copy():
    """A private libexec_dir holding copies of the real children, so a
    test can break one without touching the build."""
    d = tempfile.mkdtemp(prefix='hsd-e2e-libexec-')
    for name in T.CHILD_NAMES:
        shutil.copy2(os.path.join(T.BUILDDIR, name), os.path.join(d, name))
    return d


def _log_lines(s):
    return s.log().count('\n')


def _assert_calm_and_stoppable(s, before, what, restore=None):
    """After a worker can no longer be started: the pool manager logs a
    bounded number of lines, the listener still answers (503: the parked
    request times out, nobody can take it), and SIGTERM stops it all."""
    time.sleep(2.0)
    n = _log_lines(s) - before
    # One or two lines per attempt, a handful of attempts: a spin writes
    # hundreds of thousands.
    assert n < 60, '%d log lines in 2s after %s:\n%s' \
        % (n, what, '\n'.join(s.log().splitlines()[-20:]))
    with T.Client(s.port, timeout=10) as c:
        r = c.request('GET', '/a.txt')
        T.assert_listener_error(c, r, 503)
    if restore is not None:
        # The sanitizers' exit-time checks need fds of their own.
        restore()
    t0 = time.monotonic()
    T.assert_eq(s.stop(signal.SIGTERM, timeout=5), 0,
                'exit status after SIGTERM')
    took = time.monotonic() - t0
    assert took < 5, 'SIGTERM took %.1fs to stop the pool manager' % took


def test_spawn_failure_backs_off():
    # A pool manager out of fds cannot make a worker's channels: the spawn
    # fails in the pool manager itself.  That used to be retried in a loop
    # that never returned to the event loop: the log filled at full speed
    # and SIGTERM was never handled.
    with T.Server(CONF_ONE, files={'a.txt': 'a'}, workers=1) as s:
        worker = s.children('hsd-worker')[0]
        soft, hard = resource.prlimit(s.pid, resource.RLIMIT_NOFILE)
        # Below what it holds open already: every new fd fails (EMFILE).
        resource.prlimit(s.pid, resource.RLIMIT_NOFILE, (4, hard))
        before = _log_lines(s)
        os.kill(worker, signal.SIGKILL)
        T.wait_for(lambda: 'cannot start a worker' in s.log(), 5,
                   'the failed spawn to be logged')
        time.sleep(2.5)
        tries = s.log().count('cannot start a worker')
        assert tries >= 2, 'no retry after a failed spawn:\n%s' % s.log()
        # Once fds are there again, a retry brings the pool back.
        resource.prlimit(s.pid, resource.RLIMIT_NOFILE, (soft, hard))
        T.wait_for(lambda: s.children('hsd-worker'), 10,
                   'a worker once the pool manager has fds again')
        T.assert_eq(T.get(s.port, '/a.txt').status, 200, 'status')
        # Make it fail again and check the rest: few lines, the listener
        # answers, SIGTERM works.
        resource.prlimit(s.pid, resource.RLIMIT_NOFILE, (4, hard))
        before = _log_lines(s)
        os.kill(s.children('hsd-worker')[0], signal.SIGKILL)
        _assert_calm_and_stoppable(
            s, before, 'a failed spawn', lambda: resource.prlimit(
                s.pid, resource.RLIMIT_NOFILE, (soft, hard)))


def test_exec_failure_backs_off():
    # The worker binary replaced by something that is not a program: fork
    # works, exec fails, the child exits 127 before it is ready.  Those
    # failed starts back off too.
    lib = _libexec_copy()
    try:
        with T.Server(CONF_ONE, files={'a.txt': 'a'}, workers=1,
                      libexec=lib) as s:
            # Renamed over, not written into: the running worker holds it.
            tmp = os.path.join(lib, 'hsd-worker.new')
            with open(tmp, 'w') as f:
                f.write('not a program\n')
            os.chmod(tmp, 0o755)
            os.rename(tmp, os.path.join(lib, 'hsd-worker'))
            before = _log_lines(s)
            os.kill(s.children('hsd-worker')[0], signal.SIGKILL)
            T.wait_for(lambda: s.log().count('before it was ready') >= 3,
                       5, 'three failed starts')
            _assert_calm_and_stoppable(s, before, 'an exec failure')
    finally:
        shutil.rmtree(lib, ignore_errors=True)

# run_dir and the pid file: a directory others can write to, or a link
# where the pid file goes, would let the pool manager (root, perhaps)
# write wherever someone else chose.

def _rundir_conf(d, run_dir=None):
    """A config in d; run_dir None: the harness's d/run (made 0700)."""
    port = T.free_ports(1)[0]
    www = os.path.join(d, 'www')
    T.make_tree(www, {'a.txt': 'a'})
    body = ('pool "default" { workers = 1 }\n'
            'site "s" { bindings = {"127.0.0.1:%d"} root = "%s" }\n'
            % (port, www))
    if run_dir is None:
        return T.write_conf(d, body), port
    body += 'run_dir = "%s"\nlibexec_dir = "%s"\nshutdown_timeout = "5s"\n' \
        % (run_dir, T.BUILDDIR)
    # The test's own chroot, not /var/empty/hsd.
    body += 'chroot_dir = "%s"\n' % os.path.join(d, 'empty')
    return T.write_conf(d, body, tail=False), port


def _refused(conf, *words):
    rc, out, spawned = T.run_poolmgr(conf)
    print('#   -> %d: %s' % (rc, out.strip().replace('\n', ' | ')))
    T.assert_eq(rc, 1, 'exit status')
    for w in words:
        assert w in out, 'message does not mention %r: %r' % (w, out)
    assert not spawned, 'processes were started: %r' % spawned
    return out


def test_pid_file_symlink_not_followed():
    d = tempfile.mkdtemp(prefix='hsd-e2e-run-')
    try:
        conf, _ = _rundir_conf(d)
        target = os.path.join(d, 'target')
        with open(target, 'w') as f:
            f.write('untouched\n')
        pidfile = os.path.join(d, 'run', 'hsd-poolmgr.pid')
        os.symlink(target, pidfile)
        _refused(conf, pidfile, 'symbolic link')
        T.assert_eq(open(target).read(), 'untouched\n', 'the link target')
        assert os.path.islink(pidfile), 'the link was replaced or removed'
    finally:
        shutil.rmtree(d, ignore_errors=True)


def test_run_dir_group_writable_refused():
    d = tempfile.mkdtemp(prefix='hsd-e2e-run-')
    try:
        conf, _ = _rundir_conf(d)
        run = os.path.join(d, 'run')
        os.chmod(run, 0o770)
        _refused(conf, run, 'writable')
        os.chmod(run, 0o703)
        _refused(conf, run, 'writable')
        assert not os.listdir(run), 'files written in the refused run_dir'
    finally:
        shutil.rmtree(d, ignore_errors=True)


def test_run_dir_symlink_refused():
    d = tempfile.mkdtemp(prefix='hsd-e2e-run-')
    try:
        real = os.path.join(d, 'real')
        os.mkdir(real, 0o700)
        link = os.path.join(d, 'link')
        os.symlink(real, link)
        conf, _ = _rundir_conf(d, link)
        _refused(conf, link, 'symbolic link')
        # A trailing slash does not make open() follow it either.
        conf, _ = _rundir_conf(d, link + '/')
        _refused(conf, link, 'symbolic link')
        assert not os.listdir(real), 'files written through the link'
    finally:
        shutil.rmtree(d, ignore_errors=True)


def test_run_dir_of_another_user_refused():
    if os.geteuid() != 0:
        raise T.Skip('needs root to give the directory away')
    d = tempfile.mkdtemp(prefix='hsd-e2e-run-')
    try:
        conf, _ = _rundir_conf(d)
        run = os.path.join(d, 'run')
        os.chown(run, 65534, 65534)
        _refused(conf, run, 'owned by uid 65534')
        assert not os.listdir(run), 'files written in the refused run_dir'
        # Not a directory at all.
        conf, _ = _rundir_conf(d, os.path.join(d, 'www', 'a.txt'))
        _refused(conf, 'a.txt', 'not a directory')
    finally:
        shutil.rmtree(d, ignore_errors=True)


def test_run_dir_created_private():
    d = tempfile.mkdtemp(prefix='hsd-e2e-run-')
    run = os.path.join(d, 'fresh')
    env = dict(os.environ)
    env[T.MARK_VAR] = d
    try:
        conf, port = _rundir_conf(d, run)
        with open(os.path.join(d, 'out.log'), 'wb') as out:
            p = subprocess.Popen([T.POOLMGR, '-f', conf], env=env,
                                 stdin=subprocess.DEVNULL, stdout=out,
                                 stderr=out, start_new_session=True)
        pidfile = os.path.join(run, 'hsd-poolmgr.pid')
        try:
            T.wait_for(lambda: p.poll() is not None or
                       (os.path.exists(pidfile) and
                        open(pidfile).read().strip() == str(p.pid)), 10,
                       'the pid file')
            assert p.poll() is None, 'hsd-poolmgr exited: %r' \
                % open(os.path.join(d, 'out.log')).read()
            st = os.lstat(run)
            T.assert_eq(oct(st.st_mode & 0o7777), oct(0o700),
                        'mode of the run_dir it created')
            st = os.lstat(pidfile)
            assert not st.st_mode & 0o022, \
                'pid file writable by others: %o' % st.st_mode
            os.kill(p.pid, signal.SIGTERM)
            T.assert_eq(p.wait(15), 0, 'exit status')
            assert not os.path.exists(pidfile), 'pid file left behind'
        finally:
            if p.poll() is None:
                T.kill_quietly(p.pid)
                p.wait()
    finally:
        for x in T.marked_pids(d):
            T.kill_quietly(x)
        shutil.rmtree(d, ignore_errors=True)


def test_daemon():
    # -d: the command returns 0, the daemon's pid is in the pid file, it
    # serves, and SIGTERM stops it.
    d = tempfile.mkdtemp(prefix='hsd-e2e-d-')
    port = T.free_ports(1)[0]
    www = os.path.join(d, 'www')
    T.make_tree(www, {'a.txt': 'daemon\n'})
    conf = T.write_conf(d, 'pool "default" { workers = 1 }\n'
                        'site "s" { bindings = {"127.0.0.1:%d"} root = "%s" }\n'
                        % (port, www))
    env = dict(os.environ)
    env[T.MARK_VAR] = d
    try:
        # A file, not a pipe: the daemon may keep its stderr.
        with open(os.path.join(d, 'out.log'), 'wb') as out:
            p = subprocess.Popen([T.POOLMGR, '-f', conf, '-d'], env=env,
                                 stdin=subprocess.DEVNULL, stdout=out,
                                 stderr=out)
        try:
            rc = p.wait(10)
        except subprocess.TimeoutExpired:
            raise AssertionError('hsd-poolmgr -d did not return')
        T.assert_eq(rc, 0, 'status of hsd-poolmgr -d (%r)'
                    % open(os.path.join(d, 'out.log')).read())
        pidfile = os.path.join(d, 'run', 'hsd-poolmgr.pid')
        T.wait_for(lambda: os.path.exists(pidfile) and
                   open(pidfile).read().strip().isdigit(), 5, 'the pid file')
        pid = int(open(pidfile).read())
        st = T.proc_stat(pid)
        assert st and st[0] == 'hsd-poolmgr', 'pid file names %r' % (st,)

        def ok():
            try:
                return T.get(port, '/a.txt').body == b'daemon\n'
            except (OSError, T.ConnectionClosed):
                return False
        T.wait_for(ok, 10, 'the daemon to serve')
        mine = T.marked_pids(d)
        assert pid in mine, 'daemon pid %d not among our processes %r' \
            % (pid, mine)
        T.assert_eq(len(mine), 5,
                    'daemon, listener, logger, cache and one worker')
        os.kill(pid, signal.SIGTERM)
        T.wait_for(lambda: not T.marked_pids(d), 15,
                   'every process of the daemon to exit')
    finally:
        for x in T.marked_pids(d):
            T.kill_quietly(x)
        shutil.rmtree(d, ignore_errors=True)


if __name__ == '__main__':
    T.main()
