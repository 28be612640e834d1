"""
The FastCGI handler (handler = "fastcgi") against the real PHP of Debian:
php-fpm as an external server (fastcgi_address, unix and TCP), started
by the test.  PARAMS as PHP reads them, request bodies, headers and
status from header(), large responses, the
server down (503 at once), and a PHP process that dies: a GET is run
again and the client never knows; a POST gets 502.  A static site with
fastcgi_extensions runs its .php files by php-cgi and serves the rest.
"""

import hashlib
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import hsdtest as T  # noqa: E402

FPM = '/usr/sbin/php-fpm8.2'

INFO = r'''<?php
header('Content-Type: text/plain');
foreach (['SCRIPT_FILENAME', 'SCRIPT_NAME', 'PATH_INFO', 'QUERY_STRING',
          'REQUEST_METHOD', 'REQUEST_URI', 'DOCUMENT_ROOT', 'SERVER_NAME',
          'SERVER_PORT', 'REMOTE_ADDR', 'HTTP_X_TEST', 'HTTP_AUTHORIZATION',
          'SERVER_PROTOCOL', 'GATEWAY_INTERFACE'] as $k)
    echo $k, '=', $_SERVER[$k] ?? '(unset)', "\n";
echo 'GET_a=', $_GET['a'] ?? '(unset)', "\n";
'''

POST = r'''<?php
header('Content-Type: text/plain');
$in = file_get_contents('php://input');
echo strlen($in), ' ', hash('sha256', $in), ' ', $_POST['k'] ?? '-', "\n";
'''

HEADERS = r'''<?php
http_response_code(404);
header('X-From-PHP: yes');
setcookie('c', 'v');
error_log('php-stderr-marker ' . ($_GET['m'] ?? ''));
echo "not here\n";
'''

BIG = r'''<?php
header('Content-Type: application/octet-stream');
for ($i = 0; $i < 40; $i++) { echo str_repeat(chr(65 + $i % 26), 65536); flush(); }
'''

CRASH = r'''<?php
$m = __DIR__ . '/../marks/' . ($_GET['m'] ?? 'x');
if (isset($_GET['once']) && file_exists($m)) { echo "second run\n"; exit; }
touch($m);
file_get_contents('php://input');
posix_kill(getmypid(), 9);
'''

# The sockets of the PHP process: the one php-fpm listens on, and the
# connection the request came on.
SOCKS = r'''<?php
header('Content-Type: text/plain');
foreach (scandir('/proc/self/fd') as $f) {
    $l = @readlink("/proc/self/fd/$f");
    if ($l !== false && strncmp($l, 'socket:', 7) == 0)
        echo $l, "\n";
}
'''

FILES = {
    'app/info.php': INFO, 'app/socks.php': SOCKS, 'app/post.php': POST,
    'app/headers.php': HEADERS,
    'app/big.php': BIG, 'app/crash.php': CRASH,
    'app/index.php':
        '<?php echo "index of ", $_SERVER["SCRIPT_FILENAME"], "\\n";',
    'static.txt': 'static\n',
}

CONF = '''pool "default" { workers = 2 }
site "s" {
	bindings = {"127.0.0.1:@PORT@"}
	root = "@ROOT@"
	application "/app" { handler = "fastcgi"  fastcgi_address = "%s" }
}
'''


class Fpm:
    """php-fpm, in the foreground, on a unix socket or a TCP port."""

    def __init__(self, d, listen, extra=''):
        self.dir = d
        self.conf = os.path.join(d, 'fpm.conf')
        with open(self.conf, 'w') as f:
            f.write('[global]\nerror_log = %s/fpm.log\ndaemonize = no\n'
                    'pid = %s/fpm.pid\n[www]\nuser = www-data\n'
                    'group = www-data\nlisten = %s\nlisten.mode = 0666\n'
                    'pm = static\npm.max_children = 4\n'
                    'catch_workers_output = yes\n%s' % (d, d, listen, extra))
        self.proc = subprocess.Popen([FPM, '-n', '-F', '-y', self.conf,
                                      '-d', 'extension=posix'],
                                     stdout=subprocess.DEVNULL,
                                     stderr=subprocess.DEVNULL,
                                     start_new_session=True)
        if listen.startswith('/'):
            T.wait_for(lambda: os.path.exists(listen), 10, 'php-fpm socket')
        else:
            T.wait_for(lambda: T.port_open(int(listen.split(':')[1])), 10,
                       'php-fpm port')

    def stop(self):
        try:
            os.killpg(self.proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        self.proc.wait()


def need_fpm():
    if not os.access(FPM, os.X_OK):
        raise T.Skip('%s is not installed (sh tools/deps.sh test)' % FPM)


def setup(addr_fn, fpm_extra='', conf=CONF):
    """A server whose /app is PHP through php-fpm; addr_fn(dir) gives
    (fpm listen, fastcgi_address)."""
    need_fpm()
    d = __import__('tempfile').mkdtemp(prefix='hsd-fpm-')
    os.chmod(d, 0o755)
    listen, address = addr_fn(d)
    fpm = Fpm(d, listen, fpm_extra)
    try:
        s = T.Server(conf % address, files=FILES)
    except BaseException:
        fpm.stop()
        raise
    os.chmod(s.dir, 0o755)
    marks = os.path.join(s.root, 'marks')
    os.makedirs(marks)
    os.chmod(marks, 0o777)
    return fpm, s


def unix_fpm(d):
    return os.path.join(d, 'fpm.sock'), 'unix:' + os.path.join(d, 'fpm.sock')


def tcp_fpm(d):
    (p,) = T.free_ports(1)
    return '127.0.0.1:%d' % p, '127.0.0.1:%d' % p


def ask(c, *a, **kw):
    kw.setdefault('chunked', True)
    return c.request(*a, **kw)


def lines(body):
    return dict(ln.split('=', 1) for ln in body.decode().splitlines()
                if '=' in ln)


def run_php_checks(s):
    with T.Client(s.port) as c:
        r = ask(c, 'GET', '/app/info.php/more/path?a=1&b=2',
                headers={'X-Test': 'yes',
                         'Authorization': 'Basic dTpw'})
        T.assert_eq(r.status, 200, 'status')
        e = lines(r.body)
        want = {
            'SCRIPT_FILENAME': s.path('app/info.php'),
            'SCRIPT_NAME': '/app/info.php',
            'PATH_INFO': '/more/path',
            'QUERY_STRING': 'a=1&b=2',
            'REQUEST_METHOD': 'GET',
            'REQUEST_URI': '/app/info.php/more/path?a=1&b=2',
            'DOCUMENT_ROOT': s.root,
            'SERVER_PORT': str(s.port),
            'REMOTE_ADDR': '127.0.0.1',
            'HTTP_X_TEST': 'yes',
            'HTTP_AUTHORIZATION': 'Basic dTpw',
            'SERVER_PROTOCOL': 'HTTP/1.1',
            'GATEWAY_INTERFACE': 'CGI/1.1',
            'GET_a': '1',
        }
        for k, v in want.items():
            T.assert_eq(e.get(k), v, k)
        T.assert_eq(r.header('Content-Length'), str(len(r.body)),
                    'a whole response gets its length')
        # A directory's index.php.
        r = ask(c, 'GET', '/app/')
        T.assert_eq(r.body, ('index of %s\n' % s.path('app/index.php'))
                    .encode(), 'index.php')
        # Status, headers and stderr.
        r = ask(c, 'GET', '/app/headers.php?m=abc')
        T.assert_eq((r.status, r.header('X-From-PHP'), r.body),
                    (404, 'yes', b'not here\n'), 'status and header')
        T.assert_eq(r.header('Set-Cookie', '').startswith('c=v'), True,
                    'Set-Cookie')
        # (php-fpm keeps PHP's messages in its own log; what a FastCGI
        # application sends as FCGI_STDERR is checked with php-cgi.)
        # Bodies: form, large, chunked.
        r = ask(c, 'POST', '/app/post.php', body=b'k=v1&z=2',
                headers={'Content-Type':
                         'application/x-www-form-urlencoded'})
        T.assert_eq(r.body, b'8 %s v1\n' % hashlib.sha256(b'k=v1&z=2')
                    .hexdigest().encode(), 'form POST')
        body = os.urandom(3000000)
        r = ask(c, 'POST', '/app/post.php', body=body,
                headers={'Content-Type': 'application/octet-stream'})
        T.assert_eq(r.body, b'%d %s -\n' % (len(body), hashlib.sha256(body)
                    .hexdigest().encode()), '3 MB POST')
        # Chunked: PHP reads no body without CONTENT_LENGTH (an upload
        # would arrive empty), so it is read whole first and given one.
        for body, ctype, k in ((b'k=chunked', 'application/'
                                'x-www-form-urlencoded', b'chunked'),
                               (os.urandom(2000000),
                                'application/octet-stream', b'-')):
            r = T.send_chunked(c, '/app/post.php', body, part=65000,
                               headers=b'Content-Type: %s\r\n' %
                               ctype.encode())
            T.assert_eq(r.body, b'%d %s %s\n' % (
                len(body), hashlib.sha256(body).hexdigest().encode(), k),
                'chunked POST of %d bytes' % len(body))
        # Larger than the worker holds back: streamed, chunked.
        r = ask(c, 'GET', '/app/big.php')
        want = b''.join(bytes([65 + i % 26]) * 65536 for i in range(40))
        T.assert_eq((len(r.body), r.body == want), (len(want), True),
                    'big response')
        T.assert_eq(r.header('Transfer-Encoding'), 'chunked', 'streamed')
        # The static part of the site.
        T.assert_eq(ask(c, 'GET', '/static.txt').body, b'static\n',
                    'static file')


def with_fpm(addr_fn, check, fpm_extra='', conf=CONF):
    """check(s) on a server in front of php-fpm, both stopped after."""
    fpm, s = setup(addr_fn, fpm_extra, conf)
    try:
        with s:
            check(s)
    finally:
        fpm.stop()


def test_php_fpm_unix():
    with_fpm(unix_fpm, run_php_checks)


def test_php_fpm_tcp():
    with_fpm(tcp_fpm, run_php_checks)


KEPT_CONF = CONF.replace('"%s" }', '"%s"  fastcgi_connections = %d }')


def kept_checks(fpm, s, post):
    """GETs (and POSTs if post), one after another and side by side:
    every answer right.  The connections the GETs came over, as PHP saw
    them: its sockets but those of php-fpm's master (the listening
    one)."""
    conns = []

    def client(n):
        with T.Client(s.port) as c:
            for i in range(n):
                r = ask(c, 'GET', '/app/socks.php')
                T.assert_eq(r.status, 200, 'GET %d' % i)
                conns.append(set(r.body.splitlines()))
                if not post:
                    continue
                body = b'k=%d' % i
                r = ask(c, 'POST', '/app/post.php', body=body,
                        headers={'Content-Type':
                                 'application/x-www-form-urlencoded'})
                T.assert_eq(r.body, b'%d %s %d\n' % (
                    len(body), hashlib.sha256(body).hexdigest().encode(), i),
                    'POST %d' % i)

    client(30)
    threads = [threading.Thread(target=client, args=(10,))
               for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    T.assert_eq(len(conns), 90, 'every GET answered')
    listening = set(x.encode() for x in T.proc_sockets(fpm.proc.pid))
    seen = set()
    for socks in conns:
        conn = socks - listening
        T.assert_eq(len(conn), 1, 'the request came on one connection')
        seen |= conn
    return seen


def with_fpm_kept(check, fpm_extra, n):
    fpm, s = setup(unix_fpm, fpm_extra, CONF.replace(
        '"%s" }', '"%%s"  fastcgi_connections = %d }' % n))
    try:
        with s:
            check(fpm, s)
    finally:
        fpm.stop()


def test_kept_connections():
    """fastcgi_connections = 1: two workers send 90 GETs over at most 2
    connections, and then GETs and POSTs (a POST takes a new one) are
    all answered; without it every GET has a connection of its own."""
    def check(fpm, s):
        seen = kept_checks(fpm, s, False)
        assert 1 <= len(seen) <= 2, \
            'GETs came over %d connections: %r' % (len(seen), seen)
        kept_checks(fpm, s, True)
    with_fpm_kept(check, '', 1)

    fpm, s = setup(unix_fpm)
    try:
        with s:
            seen = kept_checks(fpm, s, False)
            T.assert_eq(len(seen), 90,
                        'without fastcgi_connections: connections')
    finally:
        fpm.stop()


def test_kept_connections_retiring():
    """php-fpm processes retiring after every 3 requests (pm.max_requests)
    close the connections kept to them: no request is lost, GET or POST,
    one after another or side by side."""
    def check(fpm, s):
        seen = kept_checks(fpm, s, True)
        assert len(seen) >= 10, \
            'processes retired under %d connections' % len(seen)
    with_fpm_kept(check, 'pm.max_requests = 3\n', 2)


def test_kept_connection_closed_when_idle():
    """A kept connection nothing used for 60 s is closed, as nginx's
    upstream keepalive_timeout does: php-fpm's process is free again."""
    def check(fpm, s):
        with T.Client(s.port) as c:
            r = ask(c, 'GET', '/app/socks.php')
        master = T.proc_sockets(fpm.proc.pid)
        kept = set(r.body.decode().split()) - master

        def open_in_fpm():
            return kept & set().union(*(T.proc_sockets(p)
                                        for p in fpm_children(fpm)))
        assert kept and open_in_fpm() == kept, \
            'the connection is not kept: %r' % (kept,)
        T.wait_for(lambda: not open_in_fpm(), 90,
                   'the idle connection closed', interval=1)
        with T.Client(s.port) as c:
            T.assert_eq(ask(c, 'GET', '/app/info.php').status, 200,
                        'a request after')
    with_fpm_kept(check, '', 1)


def crash_checks(s):
    with T.Client(s.port) as c:
        # Killed before its answer, once: run again, unnoticed.
        r = ask(c, 'GET', '/app/crash.php?once=1&m=a')
        T.assert_eq((r.status, r.body), (200, b'second run\n'),
                    'a GET whose PHP process died once')
        # Every time: 502 after the third run.
        r = ask(c, 'GET', '/app/crash.php?m=b')
        T.assert_eq(r.status, 502, 'a GET whose PHP always dies')
        # A POST is never run twice.
        r = ask(c, 'POST', '/app/crash.php?once=1&m=c', body=b'x=1')
        T.assert_eq(r.status, 502, 'POST')
        T.assert_eq(ask(c, 'GET', '/app/info.php').status, 200,
                    'the connection goes on')


def test_php_crashes():
    with_fpm(unix_fpm, crash_checks)


def test_fpm_down():
    need_fpm()
    d = __import__('tempfile').mkdtemp(prefix='hsd-fpm-')
    with T.Server(CONF % ('unix:' + os.path.join(d, 'none.sock')),
                  files=FILES) as s, T.Client(s.port) as c:
        t0 = time.monotonic()
        r = ask(c, 'GET', '/app/info.php')
        T.assert_eq(r.status, 503, 'FastCGI server down')
        assert time.monotonic() - t0 < 5, 'answered at once'
        T.wait_for(lambda: 'cannot connect to the FastCGI application' in
                   s.log(), 5, 'logged')
        T.assert_eq(ask(c, 'GET', '/static.txt').body, b'static\n',
                    'the rest of the site')


def test_fastcgi_params():
    """fastcgi_params: PARAMS of the operator's in every request, one of
    hsd's replaced by one of the same name; php-fpm's PHP_VALUE sets an
    ini value per site, as nginx users do with fastcgi_param."""
    conf = CONF.replace('fastcgi_address = "%s" }', 'fastcgi_address = "%s"\n'
                        '\t\tfastcgi_params = {"HTTPS=on", "APP_ENV=staging",'
                        ' "SERVER_PORT=443",\n\t\t\t"PHP_VALUE=default_'
                        'mimetype=text/x-test"} }')
    script = ('<?php foreach (["HTTPS", "APP_ENV", "SERVER_PORT", '
              '"REQUEST_METHOD"] as $k) echo $k, "=", $_SERVER[$k], "\\n";')

    def check(s):
        with open(s.path('app/params.php'), 'w') as f:
            f.write(script)
        with T.Client(s.port) as c:
            r = ask(c, 'GET', '/app/params.php')
            T.assert_eq((r.status, lines(r.body)), (200, {
                'HTTPS': 'on', 'APP_ENV': 'staging', 'SERVER_PORT': '443',
                'REQUEST_METHOD': 'GET'}), 'PARAMS as PHP sees them')
            T.assert_eq(r.header('Content-Type').split(';')[0],
                        'text/x-test', 'PHP_VALUE applied')
    with_fpm(unix_fpm, check, conf=conf)


def test_fpm_down_requests_wait():
    """fastcgi_retry_timeout: requests for a FastCGI server that refuses
    connections (php-fpm restarting) wait for it, a GET and a POST
    alike, and are answered once it is up; one that is not up in time
    gets 503."""
    need_fpm()
    d = __import__('tempfile').mkdtemp(prefix='hsd-fpm-')
    os.chmod(d, 0o755)
    sock = os.path.join(d, 'fpm.sock')
    conf = CONF.replace('pool "default" { workers = 2 }',
                        'pool "default" { workers = 2  '
                        'fastcgi_retry_timeout = "%s" }')
    s = T.Server(conf % ('20s', 'unix:' + sock), files=FILES)
    fpm = None
    try:
        with s:
            got = {}

            def get():
                with T.Client(s.port, timeout=30) as c:
                    got['GET'] = ask(c, 'GET', '/app/info.php?a=w')

            def post():
                with T.Client(s.port, timeout=30) as c:
                    got['POST'] = ask(c, 'POST', '/app/post.php',
                                      body=b'k=waited', headers={
                                          'Content-Type': 'application/'
                                          'x-www-form-urlencoded'})
            threads = [threading.Thread(target=f) for f in (get, post)]
            for t in threads:
                t.start()
            T.wait_for(lambda: s.log().count('trying again for up to '
                                             '20000 ms') == 2, 10,
                       'both requests waiting')
            T.assert_eq(got, {}, 'answered while php-fpm was down')
            fpm = Fpm(d, sock)
            for t in threads:
                t.join()
            T.assert_eq((got['GET'].status,
                         lines(got['GET'].body).get('GET_a')), (200, 'w'),
                        'the GET, once php-fpm is up')
            T.assert_eq(got['POST'].body, b'8 %s waited\n' % hashlib.sha256(
                b'k=waited').hexdigest().encode(), 'the POST')
    finally:
        if fpm is not None:
            fpm.stop()
    with T.Server(conf % ('1s', 'unix:' + os.path.join(d, 'none.sock')),
                  files=FILES) as s, T.Client(s.port) as c:
        T.assert_eq(ask(c, 'GET', '/app/info.php').status, 503,
                    'not up within fastcgi_retry_timeout')
        T.wait_for(lambda: 'within fastcgi_retry_timeout' in s.log(), 5,
                   'logged')
    # cgi_timeout still bounds the whole request: reached while it
    # waits, 503 then, not after the 20 s.
    short = (conf % ('20s', 'unix:' + os.path.join(d, 'none.sock'))) \
        .replace('fastcgi_address', 'cgi_timeout = "1s"  fastcgi_address')
    with T.Server(short, files=FILES) as s, T.Client(s.port) as c:
        T.assert_eq(ask(c, 'GET', '/app/info.php').status, 503,
                    'cgi_timeout reached while waiting')
        T.wait_for(lambda: 'within cgi_timeout' in s.log(), 5, 'logged')


FRONT = r'''<?php
header('Content-Type: text/plain');
foreach (['SCRIPT_NAME', 'REQUEST_URI', 'QUERY_STRING', 'PATH_INFO',
          'REQUEST_METHOD'] as $k)
    echo $k, '=', $_SERVER[$k] ?? '(unset)', "\n";
echo 'POST_k=', $_POST['k'] ?? '(unset)', "\n";
if (isset($_GET['sleep'])) usleep(2500000);
'''

# connection_timeout: the listener takes a worker that writes nothing
# for that long for hung, unless the path may be an application's.
FRONT_CONF = '''limits { connection_timeout = "1s" }
pool "default" { workers = 2 }
site "s" {
	bindings = {"127.0.0.1:@PORT@"}
	root = "@ROOT@"
	fastcgi_address = "%s"
	fastcgi_extensions = {".php"}
	front_controller = "/index.php"
	application "/app" { handler = "fastcgi"  fastcgi_address = "%s"
			     front_controller = "/app/index.php" }
}
'''


def test_front_controller():
    """front_controller, as try_files $uri $uri/ /index.php: a path that
    names nothing runs the controller (a GET with its query, a POST with
    its form), with REQUEST_URI as asked; files are served, a directory
    with index.html too, one without it runs its index.php; the same in
    an application whose handler is fastcgi."""
    need_fpm()
    d = __import__('tempfile').mkdtemp(prefix='hsd-fpm-')
    os.chmod(d, 0o755)
    sock = os.path.join(d, 'fpm.sock')
    files = dict(FILES, **{'index.php': FRONT,
                           'other.php': '<?php echo "other\\n";',
                           'blog/index.php': '<?php echo "blog\\n";',
                           'sub/index.html': 'sub index\n'})
    fpm = Fpm(d, sock)
    try:
        with T.Server(FRONT_CONF % (('unix:' + sock,) * 2),
                      files=files) as s, T.Client(s.port) as c:
            r = ask(c, 'GET', '/2026/12/hello-world?x=1')
            T.assert_eq((r.status, lines(r.body)), (200, {
                'SCRIPT_NAME': '/index.php',
                'REQUEST_URI': '/2026/12/hello-world?x=1',
                'QUERY_STRING': 'x=1', 'PATH_INFO': '',
                'REQUEST_METHOD': 'GET', 'POST_k': '(unset)'}),
                'a path that names nothing')
            r = ask(c, 'POST', '/login', body=b'k=v', headers={
                'Content-Type': 'application/x-www-form-urlencoded'})
            T.assert_eq((lines(r.body)['REQUEST_URI'],
                         lines(r.body)['POST_k']), ('/login', 'v'),
                        'a POST to a path that names nothing')
            r = ask(c, 'GET', '/missing.php')
            T.assert_eq(lines(r.body).get('REQUEST_URI'), '/missing.php',
                        'a script that is not there')
            T.assert_eq(ask(c, 'GET', '/static.txt').body, b'static\n',
                        'a file')
            T.assert_eq(ask(c, 'GET', '/other.php').body, b'other\n',
                        'a script that is there')
            T.assert_eq(ask(c, 'GET', '/sub/').body, b'sub index\n',
                        'a directory with index.html')
            T.assert_eq(ask(c, 'GET', '/sub').status, 301,
                        'a directory without its slash')
            T.assert_eq(ask(c, 'GET', '/blog/').body, b'blog\n',
                        'a directory with index.php')
            r = ask(c, 'GET', '/')
            T.assert_eq((lines(r.body).get('SCRIPT_NAME'),
                         lines(r.body).get('REQUEST_URI')),
                        ('/index.php', '/'), 'the root: its index.php')
            r = ask(c, 'GET', '/app/no/such/route')
            T.assert_eq(r.body, ('index of %s\n' % s.path('app/index.php'))
                        .encode(), 'an application\'s controller')
            # Longer than connection_timeout: the listener waits, as
            # for any application (cgi_timeout).
            r = ask(c, 'GET', '/slow/route?sleep=1', timeout=15)
            T.assert_eq((r.status, lines(r.body).get('REQUEST_URI')),
                        (200, '/slow/route?sleep=1'), 'a slow controller')
    finally:
        fpm.stop()


PHP_CGI = '/usr/bin/php-cgi'

# Killing php-cgi on purpose every 300 ms would take the pool offline
# under rapid-fail protection (which t_fastcgi_procs.py tests).
CGI_CONF = '''pool "default" { workers = 2  rapid_fail_max = 0 }
site "s" {
	bindings = {"127.0.0.1:@PORT@"}
	root = "@ROOT@"
	application "/app" { handler = "fastcgi"  fastcgi_command = "%s"
			     fastcgi_processes = 4
			     fastcgi_args = {"-d", "extension=posix"} }
}
''' % PHP_CGI

HELLO = b'<?php echo str_repeat("hello from php-cgi\\n", 50);'


def php_cgi_server():
    if not os.access(PHP_CGI, os.X_OK):
        raise T.Skip('%s is not installed (sh tools/deps.sh test)' % PHP_CGI)
    files = dict(FILES)
    files['app/hello.php'] = HELLO
    s = T.Server(CGI_CONF, files=files)
    os.chmod(s.dir, 0o755)
    marks = os.path.join(s.root, 'marks')
    os.makedirs(marks)
    os.chmod(marks, 0o777)
    T.wait_for(lambda: len(s.children('php-cgi')) == 4, 10,
               '4 php-cgi processes')
    return s


def test_php_cgi_supervised():
    with php_cgi_server() as s:
        run_php_checks(s)
        with T.Client(s.port) as c:
            # php-cgi sends PHP's messages as FCGI_STDERR.
            ask(c, 'GET', '/app/headers.php?m=viacgi')
            T.wait_for(lambda: 'php-stderr-marker viacgi' in s.log(), 5,
                       'PHP\'s message in the error log')
            # Killed once before its answer: the GET is sent again.
            r = ask(c, 'GET', '/app/crash.php?once=1&m=k')
            T.assert_eq((r.status, r.body), (200, b'second run\n'),
                        'a GET whose php-cgi died once')


# A static site whose .php files are PHP (fastcgi_extensions, IIS's
# script maps), run by php-cgi processes the pool manager starts.
EXT_CONF = '''pool "default" { workers = 2 }
site "s" {
	bindings = {"127.0.0.1:@PORT@"}
	root = "@ROOT@"
	fastcgi_extensions = {".php"}
	fastcgi_command = "%s"
	fastcgi_processes = 2
}
''' % PHP_CGI


def test_fastcgi_extensions():
    if not os.access(PHP_CGI, os.X_OK):
        raise T.Skip('%s is not installed (sh tools/deps.sh test)' % PHP_CGI)
    files = dict(FILES)
    files['up/a.txt'] = '<?php echo "ran a.txt\\n";'
    files['d.php/inner.txt'] = 'inner\n'
    with T.Server(EXT_CONF, files=files) as s, T.Client(s.port) as c:
        os.chmod(s.dir, 0o755)
        T.wait_for(lambda: len(s.children('php-cgi')) == 2, 10,
                   '2 php-cgi processes for a static site')
        r = ask(c, 'GET', '/app/info.php?a=1')
        e = lines(r.body)
        T.assert_eq((r.status, e.get('SCRIPT_FILENAME'),
                     e.get('SCRIPT_NAME'), e.get('GET_a')),
                    (200, s.path('app/info.php'), '/app/info.php', '1'),
                    '/app/info.php ran')
        r = ask(c, 'GET', '/static.txt')
        T.assert_eq((r.status, r.body), (200, b'static\n'), 'a file')
        r = ask(c, 'GET', '/app/info.php/more')
        e = lines(r.body)
        T.assert_eq((r.status, e.get('SCRIPT_NAME'), e.get('PATH_INFO')),
                    (200, '/app/info.php', '/more'), 'PATH_INFO')
        # The file itself, not PHP's output, for another extension.
        r = ask(c, 'GET', '/up/a.txt')
        T.assert_eq(r.body, files['up/a.txt'].encode(), 'served as a file')
        # Never a file before the mapped component run as PHP.
        T.assert_eq(ask(c, 'GET', '/up/a.txt/x.php').status, 404,
                    'a.txt is no script')
        T.assert_eq(ask(c, 'GET', '/d.php/inner.txt').status, 404,
                    'a directory named d.php')
        T.assert_eq(ask(c, 'GET', '/nothing.php').status, 404,
                    'no such script')
        T.assert_eq(ask(c, 'GET', '/app/').status in (403, 404), True,
                    'a directory without a mapped component is static')
        r = ask(c, 'GET', '/app/info.php')
        T.assert_eq(r.status, 200, 'the connection goes on')


def test_php_cgi_killed_under_load():
    """The issue's anchor: nginx in front of php-fpm answers 502s and
    truncated 200s when PHP processes are killed under load.  Here
    php-cgi processes of the pool are killed every 300 ms under wrk on a
    PHP page whose every body is checked: none may fail."""
    wrk = T.need_program('wrk')
    with php_cgi_server() as s:
        expected = os.path.join(s.dir, 'expected')
        with open(expected, 'wb') as f:
            f.write(b'hello from php-cgi\n' * 50)
        T.assert_eq(T.get(s.port, '/app/hello.php').body,
                    b'hello from php-cgi\n' * 50, 'the page')
        # Few connections and many: a stall shows in either.
        for threads, conns, secs in ((1, 8, 4), (2, 50, 6)):
            killed_under_load(s, wrk, expected, threads, conns, secs)


def fpm_children(fpm):
    """The pids of php-fpm's pool processes (its master's children)."""
    out = []
    for d in os.listdir('/proc'):
        try:
            with open('/proc/%s/stat' % d) as f:
                if int(f.read().rsplit(')', 1)[1].split()[1]) == \
                        fpm.proc.pid:
                    out.append(int(d))
        except (OSError, ValueError, IndexError):
            pass
    return out


def test_php_fpm_killed_under_load():
    """The anchor again, with the PHP most people run: an external
    php-fpm, its pool processes killed every 300 ms under wrk, with hsd
    keeping connections to it (fastcgi_connections) and with a
    connection per request: every body checked, none may fail."""
    wrk = T.need_program('wrk')
    page = b'hello from php-fpm\n' * 50
    files = dict(FILES, **{'app/hello.php':
                           '<?php echo str_repeat("hello from php-fpm\\n", '
                           '50);'})
    for kept in (2, 0):
        conf = CONF if kept == 0 else CONF.replace(
            '"%s" }', '"%%s"  fastcgi_connections = %d }' % kept)
        need_fpm()
        d = __import__('tempfile').mkdtemp(prefix='hsd-fpm-')
        os.chmod(d, 0o755)
        fpm = Fpm(d, os.path.join(d, 'fpm.sock'))
        try:
            with T.Server(conf % ('unix:' + os.path.join(d, 'fpm.sock')),
                          files=files) as s:
                expected = os.path.join(s.dir, 'expected')
                with open(expected, 'wb') as f:
                    f.write(page)
                T.assert_eq(T.get(s.port, '/app/hello.php').body, page,
                            'the page')
                runs = ((1, 8, 4), (2, 50, 6)) if kept else ((2, 50, 4),)
                for threads, conns, secs in runs:
                    killed_under_load(s, wrk, expected, threads, conns,
                                      secs, lambda: fpm_children(fpm),
                                      'php-fpm (fastcgi_connections = %d)'
                                      % kept)
        finally:
            fpm.stop()


def killed_under_load(s, wrk, expected, threads, conns, secs, pids=None,
                      what='php-cgi'):
    rnd = __import__('random').Random(7)

    def victim():
        p = pids() if pids is not None else s.children('php-cgi')
        return [rnd.choice(p)] if p else []
    w = T.wrk_killing(wrk, ['-t%d' % threads, '-c%d' % conns,
                            '-d%ds' % secs],
                      'http://127.0.0.1:%d/app/hello.php' % s.port,
                      expected, 0.3, victim)
    T.assert_eq(w['rc'], 0, 'wrk exit status')
    assert w['bad'] is not None, 'no "bad N total M" line from check_body.lua'
    print('# -c%d: %d %s killed; %d responses, socket errors %r, '
          'non-2xx %d, bad bodies %d' % (conns, len(w['kills']), what,
                                          w['total'], w['errs'], w['non2xx'],
                                          w['bad']))
    T.assert_eq(w['errs'], (0, 0, 0, 0), 'socket errors')
    T.assert_eq(w['non2xx'], 0, 'non-2xx responses')
    T.assert_eq(w['bad'], 0, 'responses without status 200 and the body')
    assert w['total'] > 0 and len(w['kills']) >= 5, \
        'too few requests or kills'


class Responder:
    """A FastCGI responder written here to send its records in the ways
    a real one may: a byte per write, with padding, with STDERR between,
    or wrongly.  What it answers depends on QUERY_STRING.  It is a peer
    hsd must survive, not a stand-in for PHP (which the tests above run).
    """

    def __init__(self, path):
        self.path = path
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.bind(path)
        os.chmod(path, 0o666)
        self.sock.listen(64)
        self.seen = {}
        self.stop = False
        self.t = __import__('threading').Thread(target=self.run,
                                                 daemon=True)
        self.t.start()

    def run(self):
        while not self.stop:
            try:
                c, _ = self.sock.accept()
            except OSError:
                return
            __import__('threading').Thread(target=self.conn, args=(c,),
                                           daemon=True).start()

    @staticmethod
    def rec(t, data=b'', pad=0, version=1):
        return bytes([version, t, 0, 1, len(data) >> 8, len(data) & 255,
                      pad, 0]) + data + b'\0' * pad

    @staticmethod
    def params(data):
        out, i = {}, 0
        while i < len(data):
            ln = []
            for _ in range(2):
                if data[i] < 128:
                    ln.append(data[i])
                    i += 1
                else:
                    ln.append(int.from_bytes(data[i:i + 4], 'big') &
                              0x7fffffff)
                    i += 4
            out[data[i:i + ln[0]].decode()] = \
                data[i + ln[0]:i + ln[0] + ln[1]].decode()
            i += ln[0] + ln[1]
        return out

    def conn(self, c):
        buf, prm, body = b'', b'', b''
        try:
            while True:
                while len(buf) < 8 or len(buf) < 8 + (buf[4] << 8 |
                                                      buf[5]) + buf[6]:
                    d = c.recv(65536)
                    if not d:
                        return
                    buf += d
                n = buf[4] << 8 | buf[5]
                t, data = buf[1], buf[8:8 + n]
                buf = buf[8 + n + buf[6]:]
                if t == 4:
                    prm += data
                elif t == 5 and data:
                    body += data
                elif t == 5:
                    break
            self.answer(c, self.params(prm), body)
        finally:
            c.close()

    def answer(self, c, env, body):
        q = env.get('QUERY_STRING', '')
        n = self.seen[q] = self.seen.get(q, 0) + 1
        text = b'Content-Type: text/plain\r\n\r\nbody of %s, %d bytes in\n' \
            % (q.encode(), len(body))
        end = self.rec(3, bytes(8))
        if q == 'split':
            for b in self.rec(6, text, pad=3) + self.rec(6) + end:
                c.sendall(bytes([b]))
                time.sleep(0.001)
        elif q == 'stderr':
            c.sendall(self.rec(7, b'first line\nsecond ') +
                      self.rec(6, text[:10]) + self.rec(7, b'line\n') +
                      self.rec(6, text[10:]) + self.rec(6) + end)
        elif q == 'badversion':
            c.sendall(self.rec(6, text, version=2) + end)
        elif q == 'overloaded':
            c.sendall(self.rec(3, bytes([0, 0, 0, 0, 2, 0, 0, 0])))
        elif (q == 'close-once' and n == 1) or \
                (q == 'close-twice' and n <= 2):
            c.sendall(self.rec(6, text))	# then gone, no END_REQUEST
        else:
            c.sendall(self.rec(6, text) + self.rec(6) + end)

    def close(self):
        self.stop = True
        self.sock.close()


def test_records_as_they_come():
    d = __import__('tempfile').mkdtemp(prefix='hsd-fcgi-')
    os.chmod(d, 0o755)
    fc = Responder(os.path.join(d, 'r.sock'))
    try:
        with T.Server(CONF % ('unix:' + fc.path), files=FILES) as s, \
                T.Client(s.port) as c:
            # Every record split a byte per write, with padding.
            r = ask(c, 'POST', '/app/info.php?split', body=b'x' * 70000)
            T.assert_eq((r.status, r.body),
                        (200, b'body of split, 70000 bytes in\n'),
                        'records a byte at a time')
            # The client's chunked body a byte per send, into STDIN
            # records as it comes.
            wire = (b'POST /app/info.php?trickle HTTP/1.1\r\nHost: x\r\n'
                    b'Transfer-Encoding: chunked\r\n\r\n')
            c.send(wire)
            for b in b'5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n':
                c.send(bytes([b]))
                time.sleep(0.002)
            r = c.response(chunked=True)
            T.assert_eq(r.body, b'body of trickle, 11 bytes in\n',
                        'a chunked body a byte a send')
            # STDERR records between STDOUT ones, a line cut across two.
            r = ask(c, 'GET', '/app/info.php?stderr')
            T.assert_eq(r.body, b'body of stderr, 0 bytes in\n', 'body')
            T.wait_for(lambda: 'info.php: first line' in s.log() and
                       'info.php: second line' in s.log(), 5,
                       'STDERR lines in the error log')
            # Gone before END_REQUEST, once: a GET is sent again.
            r = ask(c, 'GET', '/app/info.php?close-once')
            T.assert_eq((r.status, r.body),
                        (200, b'body of close-once, 0 bytes in\n'),
                        'connection lost once')
            T.assert_eq(fc.seen['close-once'], 2, 'asked twice')
            r = ask(c, 'GET', '/app/info.php?close-twice')
            T.assert_eq((r.status, r.body),
                        (200, b'body of close-twice, 0 bytes in\n'),
                        'connection lost twice')
            T.assert_eq(fc.seen['close-twice'], 3, 'asked three times')
            # Not FastCGI/1, or overloaded: 502 (after two retries).
            for q in ('badversion', 'overloaded'):
                T.assert_eq(ask(c, 'GET', '/app/info.php?' + q).status,
                            502, q)
                T.assert_eq(fc.seen[q], 3, q + ': tried three times')
            T.assert_eq(ask(c, 'GET', '/static.txt').body, b'static\n',
                        'the connection goes on')
    finally:
        fc.close()


if __name__ == '__main__':
    T.main()
