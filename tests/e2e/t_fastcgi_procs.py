"""
FastCGI processes run by hsd-poolmgr (handler = "fastcgi" with
fastcgi_command): fastcgi_processes copies of the command, as the user
of the pool that serves the application, accepting on a socket the pool
manager owns (mode 0600, that user's) as their fd 0; a real php-cgi
answers FastCGI spoken to that socket by the test itself.  A process
killed is replaced; a command that exits at once is restarted with a
growing pause, not in a loop, and without disturbing the rest of the
server; crashes count towards the pool's rapid-fail protection, a
php-cgi that exits 0 after PHP_FCGI_MAX_REQUESTS does not; hsdctl status
lists them; a reload replaces a changed group and leaves an unchanged
one alone; a stop leaves no process and no socket; -t refuses each
invalid FastCGI setting with its line.
"""

import json
import os
import re
import shutil
import signal
import socket
import stat
import struct
import subprocess
import sys
import tempfile
import threading
import time

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import hsdtest as T  # noqa: E402

PHP_CGI = '/usr/bin/php-cgi'
HSDCTL = os.path.join(T.BUILDDIR, 'hsdctl')

# Who served it: the process and the user, and a computed value so a
# page sent as text would not pass.
PAGE = '''<?php
echo "sum=", 6 * 7, " pid=", getmypid(), " uid=", posix_geteuid(),
    " method=", $_SERVER["REQUEST_METHOD"], "\\n";
'''

FILES = {'index.html': 'static\n', 'php/page.php': PAGE}

# The pool "php" starts its worker with the server, so there is one to
# compare the FastCGI processes' user with (the harness's first request
# starts one of pool default's: two workers).  The marker in fastcgi_env
# lets the harness find any php-cgi left over (their environment is
# otherwise only what hsd gives them).
CONF = '''
pool "php" {
\tstart = "always"
\trapid_fail_max = %(rf)d
}
site "s" {
\tbindings = {"127.0.0.1:@PORT@"}
\troot = "@ROOT@"
\tapplication "/php" {
\t\tpool = "php"
\t\thandler = "fastcgi"
\t\tfastcgi_command = "%(cmd)s"
\t\tfastcgi_processes = %(n)d
\t\tfastcgi_env = {"HSD_E2E_MARK=@DIR@"%(env)s}
\t}
}
'''


def conf(cmd=PHP_CGI, n=3, rf=5, env=''):
    return CONF % {'cmd': cmd, 'n': n, 'rf': rf, 'env': env}


def need_php():
    if not os.access(PHP_CGI, os.X_OK):
        raise T.Skip('%s not found (install the Debian package php-cgi)'
                     % PHP_CGI)


# ---------------------------------------------------------------- FastCGI

FCGI_BEGIN_REQUEST, FCGI_END_REQUEST, FCGI_PARAMS = 1, 3, 4
FCGI_STDIN, FCGI_STDOUT, FCGI_STDERR = 5, 6, 7
FCGI_RESPONDER = 1


def fcgi_record(kind, content, rid=1):
    pad = -len(content) % 8
    return struct.pack('>BBHHBx', 1, kind, rid, len(content), pad) + \
        content + b'\0' * pad


def fcgi_length(n):
    return bytes([n]) if n < 128 else struct.pack('>I', n | 0x80000000)


def fcgi_params(params):
    out = b''
    for k, v in params.items():
        k, v = k.encode(), v.encode()
        out += fcgi_length(len(k)) + fcgi_length(len(v)) + k + v
    return out


def fcgi_get(path, script, timeout=15.0):
    """One FastCGI GET of script on unix socket path, as a web server
    sends it: BEGIN_REQUEST (responder), PARAMS, empty PARAMS, empty
    STDIN.  Returns (stdout, stderr, app status, protocol status)."""
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(timeout)
    try:
        s.connect(path)
        s.sendall(fcgi_record(FCGI_BEGIN_REQUEST,
                              struct.pack('>HB5x', FCGI_RESPONDER, 0)) +
                  fcgi_record(FCGI_PARAMS, fcgi_params({
                      'SCRIPT_FILENAME': script,
                      'REQUEST_METHOD': 'GET',
                      'REDIRECT_STATUS': '200',
                      'GATEWAY_INTERFACE': 'CGI/1.1',
                      'SERVER_PROTOCOL': 'HTTP/1.1',
                  })) +
                  fcgi_record(FCGI_PARAMS, b'') +
                  fcgi_record(FCGI_STDIN, b''))
        buf, out, err = b'', b'', b''
        while True:
            while len(buf) >= 8:
                _, kind, rid, clen, plen = struct.unpack('>BBHHBx', buf[:8])
                if len(buf) < 8 + clen + plen:
                    break
                content = buf[8:8 + clen]
                buf = buf[8 + clen + plen:]
                T.assert_eq(rid, 1, 'request id of a record')
                if kind == FCGI_STDOUT:
                    out += content
                elif kind == FCGI_STDERR:
                    err += content
                elif kind == FCGI_END_REQUEST:
                    app, proto = struct.unpack('>IB3x', content)
                    return out, err, app, proto
            data = s.recv(65536)
            if not data:
                raise AssertionError('FastCGI connection closed before '
                                     'END_REQUEST; stdout so far %r' % out)
            buf += data
    finally:
        s.close()


def php_answer(srv, path):
    """The page's line, checked to be a whole FastCGI answer."""
    out, err, app, proto = fcgi_get(path, srv.path('php/page.php'))
    T.assert_eq((app, proto), (0, 0), 'END_REQUEST statuses (stderr %r)'
                % err)
    head, sep, body = out.partition(b'\r\n\r\n')
    assert sep and b'Content-type: text/html' in head, out
    m = re.match(rb'sum=42 pid=(\d+) uid=(\d+) method=GET\n$', body)
    assert m, 'not the page run by PHP: %r' % out
    return int(m.group(1)), int(m.group(2))


# ---------------------------------------------------------------- helpers

def socket_path(srv, name='0.0.sock'):
    return os.path.join(srv.run_dir, 'fcgi', name)


def php_pids(srv, name='php-cgi'):
    return srv.children(name)


def wait_count(srv, n, name='php-cgi'):
    return T.wait_for(lambda: php_pids(srv, name) if
                      len(php_pids(srv, name)) == n else None, 10,
                      '%d %s children' % (n, name))


def fd_links(pid, lowest):
    out = []
    for fd in os.listdir('/proc/%d/fd' % pid):
        if int(fd) >= lowest:
            try:
                out.append(os.readlink('/proc/%d/fd/%s' % (pid, fd)))
            except OSError:
                pass
    return out


def ids(pid):
    st = T.proc_status(pid)
    return int(st['Uid'].split()[0]), int(st['Gid'].split()[0])


def ctl(srv, *args):
    p = subprocess.run([HSDCTL, '-f', srv.conf] + list(args),
                       stdin=subprocess.DEVNULL, capture_output=True,
                       text=True, timeout=60)
    return p.returncode, p.stdout, p.stderr


def status_pool(srv, name):
    rc, out, err = ctl(srv, 'status', '--json')
    T.assert_eq(rc, 0, 'hsdctl status (stderr %r)' % err)
    pools = [p for p in json.loads(out)['pools'] if p['name'] == name]
    T.assert_eq(len(pools), 1, 'pools named %s' % name)
    return pools[0]


def exits(srv, group):
    return len(re.findall(r'fastcgi %s pid \d+ exited with status'
                          % re.escape(group), srv.log()))


def rewrite(srv, text):
    for i, p in enumerate(srv.ports):
        text = text.replace('@PORT%s@' % ('' if i == 0 else i + 1), str(p))
    for name, path in srv.roots.items():
        text = text.replace('@%s@' % name, path)
    T.write_conf(srv.dir, text.replace('@DIR@', srv.dir))


# ---------------------------------------------------------------- tests

def test_processes_socket_and_answers():
    need_php()
    with T.Server(conf(), files=FILES, workers=2) as s:
        pids = wait_count(s, 3)
        worker = [p for p, (pool, _) in s.workers().items() if pool == '1']
        T.assert_eq(len(worker), 1, 'workers of pool php')
        uid, gid = ids(worker[0])
        for p in pids:
            T.assert_eq(ids(p), (uid, gid), 'uid and gid of php-cgi %d, '
                        'as the pool\'s worker' % p)
            T.assert_eq(T.proc_cmdline(p), [PHP_CGI], 'argv of %d' % p)
            # fd 0 is the listening socket, 1 /dev/null, 2 the log.
            assert os.readlink('/proc/%d/fd/0' % p).startswith('socket:')
            T.assert_eq(os.readlink('/proc/%d/fd/1' % p), '/dev/null',
                        'fd 1 of %d' % p)
            # Nothing else of the pool manager's (PHP opens files of
            # its own).
            fds = set(fd_links(p, 3)) & set(fd_links(s.pid, 0))
            T.assert_eq(fds, set(), 'the pool manager\'s fds in %d' % p)
            with open('/proc/%d/environ' % p, 'rb') as f:
                env = sorted(f.read().split(b'\0')[:-1])
            T.assert_eq(env, [b'HSD_E2E_MARK=' + s.dir.encode(),
                              b'PATH=/usr/local/bin:/usr/bin:/bin',
                              b'PHP_FCGI_MAX_REQUESTS=0'],
                        'environment of %d' % p)
        path = socket_path(s)
        st = os.lstat(path)
        assert stat.S_ISSOCK(st.st_mode), oct(st.st_mode)
        T.assert_eq(stat.S_IMODE(st.st_mode), 0o600, 'socket mode')
        T.assert_eq((st.st_uid, st.st_gid), (uid, gid), 'socket owner')
        T.assert_eq(stat.S_IMODE(os.stat(os.path.dirname(path)).st_mode),
                    0o711, 'mode of run_dir/fcgi')
        if os.geteuid() == 0:
            # run_dir (0700 as made) must let www-data reach its socket.
            assert os.stat(s.run_dir).st_mode & stat.S_IXOTH
            assert 'adding search permission for group and others' in \
                s.log(), s.log()
        # Answered by the group's processes, as the pool's user, each of
        # them waiting in accept() on the one socket (which one takes a
        # connection is the kernel's choice).
        for _ in range(12):
            pid, puid = php_answer(s, path)
            T.assert_eq(puid, uid, 'uid PHP ran as')
            assert pid in pids, (pid, pids)
        # The rest of the server is as it was.
        T.assert_eq(T.get(s.port, '/index.html').body, b'static\n',
                    'a static file')
        fc = status_pool(s, 'php')['fastcgi']
        T.assert_eq(sorted(f['pid'] for f in fc), pids, 'hsdctl status')
        T.assert_eq(set(f['group'] for f in fc), {'s[/php]'}, 'group names')
        rc, out, _ = ctl(s, 'status')
        assert 'fastcgi s[/php]: pid %d, running' % pids[0] in out, out
        assert 'fastcgi s[/php]: starting 3 processes of %s' % PHP_CGI \
            in s.log()


def test_killed_process_replaced():
    need_php()
    with T.Server(conf(), files=FILES, workers=2) as s:
        pids = wait_count(s, 3)
        os.kill(pids[0], signal.SIGKILL)
        T.wait_for(lambda: pids[0] not in php_pids(s) and
                   len(php_pids(s)) == 3, 10, 'a replacement')
        now = php_pids(s)
        T.assert_eq(len(set(now) & set(pids)), 2, 'the others stay')
        assert re.search(r'fastcgi s\[/php\] pid %d killed by signal 9'
                         r'[^;\n]*; restarting it' % pids[0], s.log()), \
            s.log()
        # A crash is a failure of the pool, as a worker's death is.
        T.assert_eq(status_pool(s, 'php')['failures'], 1, 'failures')
        new = (set(now) - set(pids)).pop()
        T.assert_eq(ids(new), ids(pids[1]), 'the replacement\'s user')
        # It answers on the same socket.
        seen = set()
        T.wait_for(lambda: seen.add(php_answer(s, socket_path(s))[0]) or
                   new in seen, 10, 'an answer from the replacement')


def test_failing_command_backs_off():
    # /bin/false exits at once: restarted after 1 s, 2 s, 4 s..., so a
    # handful of exits in 3 s, not thousands.  Rapid-fail protection off,
    # so it is the back-off that holds it.
    with T.Server(conf(cmd='/bin/false', n=1, rf=0), files=FILES,
                  workers=2) as s:
        T.wait_for(lambda: exits(s, 's[/php]') >= 1, 10, 'a first exit')
        first = exits(s, 's[/php]')
        time.sleep(3)
        n = exits(s, 's[/php]') - first
        assert 1 <= n <= 4, '%d exits within 3 s after the first:\n%s' % (
            n, s.log())
        assert 'exited with status 1' in s.log()
        assert 'restarting it in 1000 ms' in s.log(), s.log()
        assert 'restarting it in 2000 ms' in s.log(), s.log()
        # The socket stays, the server serves on.
        assert stat.S_ISSOCK(os.lstat(socket_path(s)).st_mode)
        T.assert_eq(T.get(s.port, '/index.html').body, b'static\n',
                    'a static file while the command fails')
        T.assert_eq(status_pool(s, 'php')['state'], 'running', 'pool state')


def test_crashes_take_the_pool_offline():
    with T.Server(conf(cmd='/bin/false', n=2, rf=3), files=FILES,
                  workers=2) as s:
        T.wait_for(lambda: status_pool(s, 'php')['state'] == 'offline', 10,
                   'pool php offline')
        assert 'pool php: 3 failures within 5m; taking it offline' in \
            s.log(), s.log()
        n = exits(s, 's[/php]')
        # Nothing is restarted while it is offline: the back-off would
        # have started another by now.
        time.sleep(1.5)
        T.assert_eq(exits(s, 's[/php]'), n, 'exits once offline')
        T.assert_eq(php_pids(s, 'false'), [], '/bin/false processes')
        T.assert_eq(T.get(s.port, '/php/x.php').status, 503,
                    'the pool\'s requests')
        T.assert_eq(T.get(s.port, '/index.html').status, 200,
                    'the other pool\'s')
        # Started again, it gets its processes back.
        T.assert_eq(ctl(s, 'start', 'php')[0], 0, 'hsdctl start php')
        T.wait_for(lambda: exits(s, 's[/php]') > n, 10, 'a new start')


def test_recycle_at_max_requests_is_no_failure():
    # php-cgi exits 0 by itself after PHP_FCGI_MAX_REQUESTS requests: a
    # recycle, never counted, or rapid_fail_max = 1 would take the pool
    # offline at the first.  Requests wait in the socket's backlog while
    # the next process starts.
    need_php()
    with T.Server(conf(n=1, rf=1, env=', "PHP_FCGI_MAX_REQUESTS=1"'),
                  files=FILES, workers=2) as s:
        wait_count(s, 1)
        served = [php_answer(s, socket_path(s))[0] for _ in range(3)]
        T.assert_eq(len(set(served)), 3, 'processes that served %r'
                    % served)
        T.assert_eq(status_pool(s, 'php')['state'], 'running', 'pool state')
        T.assert_eq(status_pool(s, 'php')['failures'], 0, 'failures')
        assert 'exited with status 0' in s.log(), s.log()
        wait_count(s, 1)


def test_hsdctl_recycle_replaces_processes():
    """hsdctl recycle POOL replaces its FastCGI processes as well as its
    workers, while two clients send GETs and POSTs through them: every
    request answered by PHP, none failed, no failure counted."""
    need_php()
    with T.Server(conf(n=2), files=FILES, workers=2) as s:
        old = wait_count(s, 2)
        stop = threading.Event()
        done, bad = [], []

        def client():
            with T.Client(s.port) as c:
                while not stop.is_set():
                    for m in ('GET', 'POST'):
                        r = c.request(m, '/php/page.php', body=b'x=1'
                                      if m == 'POST' else b'')
                        if r.status != 200 or not r.body.startswith(
                                b'sum=42 ') or b'method=%s' % m.encode() \
                                not in r.body:
                            bad.append((m, r.status, r.body))
                        done.append(int(r.body.split(b'pid=')[1].split()[0])
                                    if r.status == 200 else 0)

        threads = [threading.Thread(target=client) for _ in range(2)]
        for t in threads:
            t.start()
        try:
            T.wait_for(lambda: len(done) >= 20, 10, 'requests before')
            rc, out, err = ctl(s, 'recycle', 'php')
            T.assert_eq(rc, 0, 'hsdctl recycle php (%r %r)' % (out, err))
            T.wait_for(lambda: len(php_pids(s)) == 2 and
                       not set(php_pids(s)) & set(old), 10,
                       'two new processes, none of the old')
            new = php_pids(s)
            n = len(done)
            T.wait_for(lambda: set(done[n:]) & set(new), 10,
                       'answers from the new processes')
        finally:
            stop.set()
            for t in threads:
                t.join()
        T.assert_eq(bad, [], 'requests that failed')
        assert 'fastcgi s[/php]: recycling its processes (hsdctl)' in \
            s.log(), s.log()
        T.assert_eq(status_pool(s, 'php')['failures'], 0, 'failures')


def test_reload_replaces_only_changed_groups():
    need_php()
    two = conf() + '''
site "t" {
\tbindings = {"127.0.0.1:@PORT2@"}
\troot = "@ROOT@"
\thandler = "fastcgi"
\tfastcgi_command = "%s"
\tfastcgi_processes = %%d
\tfastcgi_env = {"HSD_E2E_MARK=@DIR@"}
}
''' % PHP_CGI
    with T.Server(two % 2, files=FILES, nports=2, workers=2) as s:
        wait_count(s, 5)
        site_t = socket_path(s, '1.site.sock')
        kept = sorted(p for p in php_pids(s) if p not in [
            f['pid'] for f in status_pool(s, 'default')['fastcgi']])
        old_t = sorted(f['pid'] for f in status_pool(s, 'default')['fastcgi'])
        T.assert_eq(len(old_t), 2, 'site t\'s processes')
        ino = os.lstat(site_t).st_ino
        rewrite(s, two % 1)
        rc, out, err = ctl(s, 'reload')
        T.assert_eq(rc, 0, 'hsdctl reload (%r)' % err)
        assert 'fastcgi t: changed or removed; its processes finish what ' \
            'they have' in out, out
        assert 'fastcgi t: started' in out, out
        assert 's[/php]' not in out, out
        T.wait_for(lambda: not any(T.alive(p) for p in old_t), 10,
                   'site t\'s old processes gone')
        new_t = T.wait_for(lambda: [f['pid'] for f in
                                    status_pool(s, 'default')['fastcgi']],
                           10, 'site t\'s new process')
        T.assert_eq(len(new_t), 1, 'site t\'s processes now')
        # The same path, a new socket; the other group untouched.
        assert os.lstat(site_t).st_ino != ino
        T.assert_eq(sorted(set(php_pids(s)) - set(new_t)), kept,
                    'site s\'s processes')
        php_answer(s, site_t)
        php_answer(s, socket_path(s))


def test_stop_leaves_nothing():
    need_php()
    s = T.Server(conf(), files=FILES, workers=2)
    try:
        pids = wait_count(s, 3)
        path = socket_path(s)
        assert os.path.exists(path)
    finally:
        # The harness fails the test if any process (php-cgi too, by the
        # marker in its environment) is left.
        s.stop()
    T.assert_eq([p for p in pids if T.alive(p)], [], 'php-cgi left')
    assert not os.path.exists(path), 'socket %s left' % path
    assert re.search(r'fastcgi s\[/php\] pid %d, told to stop, exited'
                     % pids[0], s.log()), s.log()


# Each invalid setting, refused by -t with its line and its words.
REFUSED = [
    ('\thandler = "fastcgi"\n', 4,
     'handler "fastcgi" needs fastcgi_address or fastcgi_command'),
    ('\thandler = "fastcgi"\n\tfastcgi_command = "/usr/bin/php-cgi"\n'
     '\tfastcgi_address = "127.0.0.1:9000"\n', 6,
     'needs fastcgi_address or fastcgi_command, not both'),
    ('\tfastcgi_address = "unix:php.sock"\n', 4,
     'fastcgi_address: bad address "unix:php.sock"'),
    ('\tfastcgi_address = "localhost:9000"\n', 4,
     'fastcgi_address: bad address "localhost:9000"'),
    ('\tfastcgi_address = "[::1]:99999"\n', 4,
     'fastcgi_address: bad address "[::1]:99999"'),
    ('\tfastcgi_address = "unix:/%s"\n' % ('x' * 107), 4,
     'the path is longer than 107 bytes'),
    ('\tfastcgi_command = "php-cgi"\n', 4,
     'fastcgi_command: "php-cgi" is not an absolute path'),
    ('\tfastcgi_env = {"A=1",\n\t\t"NOVALUE"}\n', 5,
     'fastcgi_env: "NOVALUE" is not NAME=value'),
    ('\tfastcgi_env = {"=1"}\n', 4, 'fastcgi_env: "=1" has an empty name'),
    ('\tfastcgi_processes = 0\n', 4,
     'fastcgi_processes: 0 is out of range (1..1024)'),
    ('\tfastcgi_processes = 1025\n', 4,
     'fastcgi_processes: 1025 is out of range (1..1024)'),
    ('\tpool = "jail"\n\thandler = "fastcgi"\n'
     '\tfastcgi_command = "/usr/bin/php-cgi"\n', 6,
     'fastcgi_command is not supported in a chrooted pool'),
    ('\tapplication "/a" {\n\t\tfastcgi_processes = 2\n'
     '\t\thandler = "fastcgi"\n\t}\n', 6,
     'application "/a": handler "fastcgi" needs fastcgi_address or '
     'fastcgi_command'),
]


def test_check_refuses_bad_settings():
    d = tempfile.mkdtemp(prefix='hsd-e2e-fcgi-')
    try:
        os.makedirs(os.path.join(d, 'www'))
        for keys, line, words in REFUSED:
            # Line 1: the pool, 2: the site, 3: its root, 4: the keys.
            path = T.write_conf(d, 'pool "jail" { chroot = "%s" }\n'
                                'site "s" {\n\troot = "%s/www"\n%s'
                                '\tbindings = {"127.0.0.1:1"}\n}\n'
                                % (d, d, keys))
            rc, out, spawned = T.run_poolmgr(path, ('-t',))
            T.assert_eq(rc, 1, 'exit status of -t for %r (%r)'
                        % (keys, out))
            assert '%s:%d: site "s": ' % (path, line) in out, \
                'no %s:%d in %r' % (path, line, out)
            assert words in out, 'no %r in %r' % (words, out)
            assert not spawned, spawned
        # And the good ones pass.
        path = T.write_conf(d, 'site "s" {\n\troot = "%s/www"\n'
                            '\tbindings = {"127.0.0.1:1"}\n'
                            '\thandler = "fastcgi"\n'
                            '\tfastcgi_address = "unix:/run/php/fpm.sock"\n'
                            '\tapplication "/a" {\n'
                            '\t\tfastcgi_address = "[::1]:9000"\n\t}\n'
                            '\tapplication "/b" {\n'
                            '\t\tfastcgi_command = "/usr/bin/php-cgi"\n'
                            '\t\tfastcgi_args = {"-d", "x=1"}\n'
                            '\t\tfastcgi_env = {"A=b=c", "E="}\n'
                            '\t\tfastcgi_processes = 1024\n\t}\n}\n' % d)
        rc, out, _ = T.run_poolmgr(path, ('-t',))
        T.assert_eq(rc, 0, 'exit status of -t for a good file (%r)' % out)
    finally:
        shutil.rmtree(d, ignore_errors=True)


def test_missing_command_refused_at_start():
    d = tempfile.mkdtemp(prefix='hsd-e2e-fcgi-')
    try:
        os.makedirs(os.path.join(d, 'www'))
        path = T.write_conf(d, 'site "s" {\n\troot = "%s/www"\n'
                            '\tbindings = {"127.0.0.1:1"}\n'
                            '\thandler = "fastcgi"\n'
                            '\tfastcgi_command = "%s/no-such-program"\n}\n'
                            % (d, d))
        rc, out, spawned = T.run_poolmgr(path)
        T.assert_eq(rc, 1, 'exit status (%r)' % out)
        assert 'fastcgi s: fastcgi_command %s/no-such-program: No such ' \
            'file or directory' % d in out, out
        assert not spawned, spawned
    finally:
        shutil.rmtree(d, ignore_errors=True)


if __name__ == '__main__':
    T.main()
