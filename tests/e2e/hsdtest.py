"""
hsdtest: the harness every end-to-end test file shares.

A test file defines test_* functions and ends with `hsdtest.main()`.  Each
test starts the real hsd-poolmgr from $HSD_BUILDDIR on loopback with a
config written for it (Server), talks to it as a client does (Client, curl,
wrk) and looks at the processes it started (/proc).  Everything a test
starts is found again and ended when the test is over, even when it fails:
the pool manager runs with a marker in its environment that every child
inherits, so a leftover child is found by that marker, never by its name.

Only the Python standard library is used.  Exit status: 0 all passed,
1 something failed, 77 every test was skipped (a needed program is missing).
"""

import atexit
import os
import random
import re
import select
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import traceback

BUILDDIR = os.path.abspath(os.environ.get('HSD_BUILDDIR') or os.getcwd())
# configure's verdict on the listener's seccomp filter (make check sets it).
SECCOMP = os.environ.get('HSD_SECCOMP', 'yes') == 'yes'
SRCDIR = os.path.abspath(os.environ.get('HSD_SRCDIR') or
                         os.path.join(os.path.dirname(__file__), '..', '..'))
POOLMGR = os.path.join(BUILDDIR, 'hsd-poolmgr')
CHILD_NAMES = ('hsd-listener', 'hsd-worker', 'hsd-logd', 'hsd-cached')
MARK_VAR = 'HSD_E2E_MARK'
E2EDIR = os.path.dirname(os.path.abspath(__file__))

# Servers not stopped yet; cleaned after every test and at exit.
_live = []
# Servers started during the current test, for printing their logs.
_started = []


class Skip(Exception):
    """Raised by a test that cannot run here (a program is missing)."""


def need_program(name):
    """The path of an external program, or skip the current test."""
    path = shutil.which(name)
    if path is None:
        raise Skip('%s not found in PATH (install the Debian package %s)'
                   % (name, name))
    return path


def set_nofile(pid, n):
    """prlimit(1) pid's RLIMIT_NOFILE to n:n.  A child that dropped to
    another user is changed as that user: without CAP_SYS_RESOURCE (as in
    many containers) only a process with its uids and gids may."""
    argv = [need_program('prlimit'), '--pid', str(pid),
            '--nofile=%d:%d' % (n, n)]
    st = proc_status(pid)
    uid, gid = int(st['Uid'].split()[0]), int(st['Gid'].split()[0])
    if (uid, gid) != (os.geteuid(), os.getegid()):
        argv = [need_program('setpriv'), '--reuid=%d' % uid,
                '--regid=%d' % gid, '--clear-groups'] + argv
    subprocess.check_call(argv)


def proc_sockets(pid):
    """The sockets pid holds, as /proc names them ('socket:[INODE]');
    none if it is gone."""
    out = set()
    try:
        fds = os.listdir('/proc/%d/fd' % pid)
    except OSError:
        return out
    for fd in fds:
        try:
            link = os.readlink('/proc/%d/fd/%s' % (pid, fd))
        except OSError:
            continue
        if link.startswith('socket:['):
            out.add(link)
    return out


def tcp_sockets(pid):
    """How many TCP sockets pid holds (a worker's channels are AF_UNIX,
    so for a worker: how many clients it has)."""
    inodes = set(link[8:-1] for link in proc_sockets(pid))
    if not inodes:
        return 0
    n = 0
    for table in ('tcp', 'tcp6'):
        try:
            with open('/proc/%d/net/%s' % (pid, table)) as f:
                for line in f.readlines()[1:]:
                    if line.split()[9] in inodes:
                        n += 1
        except OSError:
            pass
    return n


def proc_status(pid):
    """/proc/PID/status as a dict of its fields (values as written)."""
    out = {}
    with open('/proc/%d/status' % pid) as f:
        for line in f:
            k, _, v = line.partition(':')
            out[k] = v.strip()
    return out


# ---------------------------------------------------------------- waiting

def wait_for(cond, timeout=10.0, what='condition', interval=0.02):
    """Poll cond() until it returns something true; fail after timeout."""
    deadline = time.monotonic() + timeout
    while True:
        v = cond()
        if v:
            return v
        if time.monotonic() >= deadline:
            raise AssertionError('timed out after %.1fs waiting for %s'
                                 % (timeout, what))
        time.sleep(interval)


# ---------------------------------------------------------------- /proc

def proc_stat(pid):
    """(comm, state, ppid) of pid, or None if it does not exist."""
    try:
        with open('/proc/%d/stat' % pid, 'rb') as f:
            data = f.read().decode('utf-8', 'replace')
    except (FileNotFoundError, ProcessLookupError):
        return None
    except OSError:
        return None
    lp = data.find('(')
    rp = data.rfind(')')
    if lp < 0 or rp < 0:
        return None
    comm = data[lp + 1:rp]
    rest = data[rp + 2:].split()
    return comm, rest[0], int(rest[1])


def alive(pid):
    """True if pid exists and is not a zombie."""
    st = proc_stat(pid)
    return st is not None and st[1] not in ('Z', 'X')


def all_pids():
    out = []
    for name in os.listdir('/proc'):
        if name.isdigit():
            out.append(int(name))
    return out


def proc_cmdline(pid):
    try:
        with open('/proc/%d/cmdline' % pid, 'rb') as f:
            return [a.decode('utf-8', 'replace')
                    for a in f.read().split(b'\0')[:-1]]
    except OSError:
        return []


def marked_pids(mark):
    """Live processes whose environment carries our marker."""
    needle = ('%s=%s' % (MARK_VAR, mark)).encode() + b'\0'
    out = []
    me = os.getpid()
    for pid in all_pids():
        if pid == me:
            continue
        try:
            with open('/proc/%d/environ' % pid, 'rb') as f:
                env = b'\0' + f.read()
        except OSError:
            continue
        if (b'\0' + needle) in env and alive(pid):
            out.append(pid)
    return out


def kill_quietly(pid, sig=signal.SIGKILL):
    try:
        os.kill(pid, sig)
    except ProcessLookupError:
        pass


# ---------------------------------------------------------------- files

class Fifo:
    """A named pipe in the www root."""


class Symlink:
    def __init__(self, target):
        self.target = target


class Dir:
    """An empty directory."""


class Random:
    """size random bytes (reproducible by seed)."""
    def __init__(self, size, seed=1):
        self.size = size
        self.seed = seed


class Sparse:
    """size zero bytes without writing them."""
    def __init__(self, size):
        self.size = size


def make_tree(root, files):
    os.makedirs(root, exist_ok=True)
    for rel, spec in (files or {}).items():
        path = os.path.join(root, rel)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        if isinstance(spec, Fifo):
            os.mkfifo(path)
        elif isinstance(spec, Symlink):
            os.symlink(spec.target, path)
        elif isinstance(spec, Dir):
            os.makedirs(path, exist_ok=True)
        elif isinstance(spec, Random):
            rnd = random.Random(spec.seed)
            with open(path, 'wb') as f:
                left = spec.size
                while left > 0:
                    n = min(left, 1 << 20)
                    f.write(rnd.getrandbits(8 * n).to_bytes(n, 'little'))
                    left -= n
        elif isinstance(spec, Sparse):
            with open(path, 'wb') as f:
                f.truncate(spec.size)
        else:
            if isinstance(spec, str):
                spec = spec.encode()
            with open(path, 'wb') as f:
                f.write(spec)


def free_ports(n):
    """n distinct loopback TCP ports that were free a moment ago."""
    socks = []
    try:
        for _ in range(n):
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            s.bind(('127.0.0.1', 0))
            socks.append(s)
        return [s.getsockname()[1] for s in socks]
    finally:
        for s in socks:
            s.close()


def port_open(port, host='127.0.0.1'):
    """True if something accepts connections on port."""
    try:
        s = socket.create_connection((host, port), timeout=1)
    except OSError:
        return False
    s.close()
    return True


_CONF_TOKEN = re.compile(r'"(?:[^"\\\n]|\\.)*"'   # a quoted string
                         r"|'[^']*'"                   # single-quoted
                         r'|#[^\n]*|//[^\n]*'          # comments
                         r'|/\*.*?\*/'                  # block comment
                         r'|[{}=]|[^\s{}"\'#=,]+', re.S)


def has_top_section(body, name):
    """Whether config text body has section name at the top level (not
    one of that name inside a site): the name followed by '{' outside
    every brace, strings and comments."""
    depth = 0
    prev = None
    for m in _CONF_TOKEN.finditer(body):
        tok = m.group(0)
        if tok[0] in '"\'#' or tok.startswith(('//', '/*')):
            prev = None
            continue
        if tok == '{':
            if depth == 0 and prev == name:
                return True
            depth += 1
        elif tok == '}':
            depth = max(depth - 1, 0)
        prev = tok
    return False


def conf_tail(dirpath, body, libexec=None):
    """What the harness appends to every config: the run, libexec and
    chroot dirs, and the log directory unless the test writes its own
    top-level log section.
    Appended, not prepended, so line numbers in the test's text stay."""
    tail = '\nrun_dir = "%s"\nlibexec_dir = "%s"\n' % (
        os.path.join(dirpath, 'run'), libexec or BUILDDIR)
    # The test's own, so no test writes to /var/log/hsd.
    if not has_top_section(body, 'log'):
        tail += 'log {\n\tdir = "%s"\n}\n' % os.path.join(dirpath, 'log')
    # The listener's chroot, made by hsd-poolmgr: the test's own, so no
    # test depends on /var/empty.
    if 'chroot_dir' not in body:
        tail += 'chroot_dir = "%s"\n' % os.path.join(dirpath, 'empty')
    if 'shutdown_timeout' not in body:
        tail += 'shutdown_timeout = "5s"\n'
    return tail


def write_conf(dirpath, body, name='hsd.conf', tail=True, libexec=None):
    """Write body (plus the harness tail) to dirpath/name; return its path."""
    # Private whatever the umask: hsd-poolmgr refuses a run_dir others
    # may write to.
    os.makedirs(os.path.join(dirpath, 'run'), 0o700, exist_ok=True)
    # mkdtemp() makes it 0700; started as root, the workers run as
    # www-data and must reach the roots below it.
    os.chmod(dirpath, 0o755)
    path = os.path.join(dirpath, name)
    with open(path, 'w') as f:
        f.write(body)
        if tail:
            f.write(conf_tail(dirpath, body, libexec))
    return path


# ---------------------------------------------------------------- client

class ConnectionClosed(Exception):
    """The peer closed (or reset) before a full response arrived."""
    def __init__(self, msg, data=b''):
        Exception.__init__(self, msg)
        self.data = data


class Response:
    def __init__(self, version, status, reason, header_list, body, head):
        self.version = version
        self.status = status
        self.reason = reason
        self.header_list = header_list
        self.headers = {}
        for k, v in header_list:
            self.headers[k.lower()] = v
        self.body = body
        self.head = head

    def header(self, name, default=None):
        return self.headers.get(name.lower(), default)

    def media_type(self):
        v = self.headers.get('content-type')
        return None if v is None else v.split(';')[0].strip().lower()

    def __repr__(self):
        return '<Response %d %s, %d body bytes, headers %r>' % (
            self.status, self.reason, len(self.body), self.headers)


def req(method='GET', path='/', host='localhost', version='HTTP/1.1',
        headers=(), body=b''):
    """The bytes of one request.  host=None sends no Host header; a
    Content-Length is added for a body unless headers give one."""
    if isinstance(headers, dict):
        headers = list(headers.items())
    if isinstance(body, str):
        body = body.encode()
    lines = ['%s %s %s' % (method, path, version)]
    if host is not None:
        lines.append('Host: %s' % host)
    names = [k.lower() for k, _ in headers]
    for k, v in headers:
        lines.append('%s: %s' % (k, v))
    if body and 'content-length' not in names and \
            'transfer-encoding' not in names:
        lines.append('Content-Length: %d' % len(body))
    return ('\r\n'.join(lines) + '\r\n\r\n').encode('latin-1') + body


class Client:
    """One raw TCP connection to the server."""

    def __init__(self, port, host='127.0.0.1', timeout=10.0, rcvbuf=None):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        if rcvbuf is not None:
            # Small and fixed: no autotuning, so a client that reads
            # nothing really stops the sender.
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
        self.sock.settimeout(timeout)
        self.sock.connect((host, port))
        self.timeout = timeout
        self.buf = b''
        self.eof = None		# None, 'eof' or 'reset'

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass

    def reset(self):
        """Close with an RST (SO_LINGER 0)."""
        try:
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                                 b'\x01\x00\x00\x00\x00\x00\x00\x00')
        except OSError:
            pass
        self.close()

    def __enter__(self):
        return self

    def __exit__(self, *a):
        self.close()

    def send(self, data):
        if isinstance(data, str):
            data = data.encode('latin-1')
        self.sock.sendall(data)

    def request(self, *a, chunked=False, timeout=None, **kw):
        """Send req(*a, **kw) and read its response."""
        self.send(req(*a, **kw))
        method = a[0] if a else kw.get('method', 'GET')
        return self.response(method=method, timeout=timeout, chunked=chunked)

    def _fill(self, deadline):
        """Read more bytes into buf; False on EOF/reset."""
        if self.eof:
            return False
        left = deadline - time.monotonic()
        if left <= 0:
            raise socket.timeout('timed out waiting for data')
        self.sock.settimeout(left)
        try:
            data = self.sock.recv(262144)
        except ConnectionResetError:
            self.eof = 'reset'
            return False
        finally:
            self.sock.settimeout(self.timeout)
        if not data:
            self.eof = 'eof'
            return False
        self.buf += data
        return True

    def response(self, method='GET', timeout=None, chunked=False):
        """Read one complete response (Content-Length, to EOF, or, if
        chunked, a chunked body, decoded; its Response has .chunks)."""
        deadline = time.monotonic() + (timeout or self.timeout)
        while b'\r\n\r\n' not in self.buf:
            if not self._fill(deadline):
                raise ConnectionClosed('connection %s before a full response '
                                       'head (got %r)' % (self.eof,
                                                          self.buf[:200]),
                                       self.buf)
        i = self.buf.index(b'\r\n\r\n')
        head = self.buf[:i].decode('latin-1')
        self.buf = self.buf[i + 4:]
        lines = head.split('\r\n')
        parts = lines[0].split(' ', 2)
        if len(parts) < 2 or not parts[0].startswith('HTTP/'):
            raise AssertionError('bad status line %r' % lines[0])
        version, status = parts[0], int(parts[1])
        reason = parts[2] if len(parts) > 2 else ''
        hl = []
        for line in lines[1:]:
            k, sep, v = line.partition(':')
            if not sep:
                raise AssertionError('bad header line %r' % line)
            hl.append((k.strip(), v.strip()))
        hdrs = dict((k.lower(), v) for k, v in hl)
        if method == 'HEAD' or status in (204, 304) or 100 <= status < 200:
            n = 0
        elif 'transfer-encoding' in hdrs:
            if not chunked or hdrs['transfer-encoding'] != 'chunked':
                raise AssertionError('chunked responses are not expected: '
                                     '%r' % head)
            r = Response(version, status, reason, hl,
                         self._chunked_body(deadline), head)
            return r
        elif 'content-length' in hdrs:
            n = int(hdrs['content-length'])
        else:
            n = None
        if n is None:
            while self._fill(deadline):
                pass
            body, self.buf = self.buf, b''
        else:
            while len(self.buf) < n:
                if not self._fill(deadline):
                    raise ConnectionClosed(
                        'connection %s after %d of %d body bytes'
                        % (self.eof, len(self.buf), n), self.buf)
            body, self.buf = self.buf[:n], self.buf[n:]
        return Response(version, status, reason, hl, body, head)

    def _line(self, deadline):
        while b'\r\n' not in self.buf:
            if not self._fill(deadline):
                raise ConnectionClosed('connection %s inside a chunked body'
                                       % self.eof, self.buf)
        line, _, self.buf = self.buf.partition(b'\r\n')
        return line

    def _chunked_body(self, deadline):
        """A chunked body to its last chunk and trailer section; a body
        cut anywhere raises ConnectionClosed."""
        parts = []
        while True:
            size = int(self._line(deadline).split(b';')[0], 16)
            if size == 0:
                while self._line(deadline) != b'':
                    pass
                return b''.join(parts)
            while len(self.buf) < size + 2:
                if not self._fill(deadline):
                    raise ConnectionClosed('connection %s inside a chunk'
                                           % self.eof,
                                           b''.join(parts) + self.buf)
            if self.buf[size:size + 2] != b'\r\n':
                raise AssertionError('chunk of %d bytes not followed by '
                                     'CRLF' % size)
            parts.append(self.buf[:size])
            self.buf = self.buf[size + 2:]

    def read_head(self, timeout=None):
        """Read just a response head, leaving the body unread."""
        deadline = time.monotonic() + (timeout or self.timeout)
        while b'\r\n\r\n' not in self.buf:
            if not self._fill(deadline):
                raise ConnectionClosed('closed before a response head',
                                       self.buf)
        i = self.buf.index(b'\r\n\r\n')
        head = self.buf[:i].decode('latin-1')
        lines = head.split('\r\n')
        hl = []
        for line in lines[1:]:
            k, _, v = line.partition(':')
            hl.append((k.strip(), v.strip()))
        parts = lines[0].split(' ', 2)
        r = Response(parts[0], int(parts[1]),
                     parts[2] if len(parts) > 2 else '', hl, b'', head)
        self.buf = self.buf[i + 4:]
        return r

    def read_all(self, timeout=None):
        """Read until EOF/reset; return (bytes, 'eof'|'reset')."""
        deadline = time.monotonic() + (timeout or self.timeout)
        while self._fill(deadline):
            pass
        data, self.buf = self.buf, b''
        return data, self.eof

    def read_exactly(self, n, timeout=None):
        deadline = time.monotonic() + (timeout or self.timeout)
        while len(self.buf) < n:
            if not self._fill(deadline):
                raise ConnectionClosed('connection %s after %d of %d bytes'
                                       % (self.eof, len(self.buf), n),
                                       self.buf)
        data, self.buf = self.buf[:n], self.buf[n:]
        return data

    def expect_closed(self, timeout=3.0):
        """Assert the server closes the connection (EOF or reset) within
        timeout without sending anything more."""
        try:
            data, how = self.read_all(timeout)
        except socket.timeout:
            raise AssertionError('connection still open after %.1fs'
                                 % timeout)
        if data:
            raise AssertionError('unexpected bytes before close: %r'
                                 % data[:200])
        return how

    def is_quiet(self, timeout=1.0):
        """True if nothing arrives (and no close) within timeout."""
        if self.buf or self.eof:
            return False
        r, _, _ = select.select([self.sock], [], [], timeout)
        return not r

    def readable(self, timeout=0.0):
        if self.buf or self.eof:
            return True
        r, _, _ = select.select([self.sock], [], [], timeout)
        return bool(r)


def wrk_killing(wrk, args, url, expected, every, victims, timeout=60):
    """Run wrk with check_body.lua (every response must be a 200 with
    the bytes of file expected) on url, while every `every` seconds the
    pids victims() returns are SIGKILLed.  wrk's output is printed.
    Returns a dict: rc, out, kills (pids killed), errs (connect, read,
    write, timeout socket errors), non2xx, bad and total (from
    check_body.lua; None if it printed no count), requests (wrk's count).
    An exception in the killing thread is raised once wrk is done."""
    stop = threading.Event()
    kills = []
    errors = []

    def killer():
        try:
            while not stop.wait(every):
                for pid in victims():
                    kill_quietly(pid)
                    kills.append(pid)
        except Exception as e:	# noqa: BLE001 -- raised below
            errors.append(e)
    t = threading.Thread(target=killer)
    t.start()
    try:
        p = subprocess.run(
            [wrk] + list(args) + ['--timeout', '5s', '-s',
                                  os.path.join(E2EDIR, 'check_body.lua'),
                                  url, '--', expected],
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
            timeout=timeout)
    finally:
        stop.set()
        t.join()
    out = p.stdout.decode('utf-8', 'replace')
    for line in out.rstrip().split('\n'):
        print('#   wrk: ' + line)
    if errors:
        raise AssertionError('killer thread: %r' % errors)
    n = re.search(r'(\d+) requests in', out)
    sock = re.search(r'Socket errors: connect (\d+), read (\d+), '
                     r'write (\d+), timeout (\d+)', out)
    m = re.search(r'Non-2xx or 3xx responses: (\d+)', out)
    b = re.search(r'bad (\d+) total (\d+)', out)
    return {
        'rc': p.returncode, 'out': out, 'kills': kills,
        'errs': tuple(int(x) for x in sock.groups()) if sock else
        (0, 0, 0, 0),
        'non2xx': int(m.group(1)) if m else 0,
        'bad': int(b.group(1)) if b else None,
        'total': int(b.group(2)) if b else None,
        'requests': int(n.group(1)) if n else None,
    }


def send_chunked(c, path, body, part=7777, headers=b''):
    """POST body chunked (part bytes a chunk, then the last chunk) on
    client c, as far as the server takes it (it may answer and close
    first), and return the response.  headers: more header lines, each
    ending in CRLF."""
    c.send(b'POST %s HTTP/1.1\r\nHost: x\r\n%s'
           b'Transfer-Encoding: chunked\r\n\r\n' % (path.encode(), headers))
    try:
        for i in range(0, len(body), part):
            c.send(b'%x\r\n%s\r\n' % (len(body[i:i + part]),
                                        body[i:i + part]))
        c.send(b'0\r\n\r\n')
    except OSError:
        pass
    return c.response(chunked=True)


def post_chunked(c, path, parts=5, size=1000000):
    """POST a chunked body of parts chunks of size bytes on client c,
    as far as the server takes it (it may refuse and close first), and
    return the response."""
    c.send(('POST %s HTTP/1.1\r\nHost: x\r\n'
            'Transfer-Encoding: chunked\r\n\r\n' % path).encode())
    part = b'z' * size
    try:
        for _ in range(parts):
            c.send(b'%x\r\n%s\r\n' % (len(part), part))
    except OSError:
        pass
    return c.response(chunked=True)


def get(port, path='/', host='localhost', headers=(), method='GET',
        body=b'', timeout=10.0):
    """One request on a fresh connection; returns the Response."""
    with Client(port, timeout=timeout) as c:
        return c.request(method, path, host=host, headers=headers, body=body)


def check_refused_at(head, line, *words):
    """hsd-poolmgr -t refuses head (config text before a minimal site)
    at line, naming every one of words, and starts nothing."""
    d = tempfile.mkdtemp(prefix='hsd-e2e-check-')
    try:
        os.makedirs(os.path.join(d, 'www'))
        path = write_conf(d, head + 'site "s" {\n\tbindings = '
                          '{"127.0.0.1:1"}\n\troot = "%s"\n}\n'
                          % os.path.join(d, 'www'))
        rc, out, spawned = run_poolmgr(path, ('-t',))
        assert_eq(rc, 1, 'exit status of -t')
        assert '%s:%d' % (path, line) in out, out
        for w in words:
            assert w in out, 'no %r in %r' % (w, out)
        assert not spawned, spawned
    finally:
        shutil.rmtree(d, ignore_errors=True)


def get_to_eof(port, path='/', host='localhost'):
    """A GET on a closing connection, read to EOF; its response.  The
    listener closes only once the worker's DONE is in, so afterwards the
    worker holds nothing (a test that stops a worker right after a
    response it read by Content-Length may stop it before its DONE)."""
    with Client(port) as c:
        c.send(req('GET', path, host=host, headers={'Connection': 'close'}))
        r = c.response()
        c.read_all()
        return r


def assert_eq(a, b, what=''):
    if a != b:
        ra, rb = repr(a), repr(b)
        if len(ra) > 300:
            ra = ra[:300] + '...(%d)' % len(a)
        if len(rb) > 300:
            rb = rb[:300] + '...(%d)' % len(b)
        raise AssertionError('%s: got %s, expected %s' % (what, ra, rb))


def assert_listener_error(c, r, status):
    """A listener error response: the status, Connection: close, a small
    text/html body matching Content-Length, then the connection closes."""
    assert_eq(r.status, status, 'status')
    assert_eq((r.header('connection') or '').lower(), 'close',
              'Connection header of a %d' % status)
    assert r.header('content-length') is not None, \
        'no Content-Length in %r' % r
    assert_eq(int(r.header('content-length')), len(r.body), 'body length')
    assert_eq(r.media_type(), 'text/html', 'Content-Type of a %d' % status)
    c.expect_closed(3.0)


# A leak check that could not run ("LeakSanitizer has encountered a fatal
# error", e.g. no /proc in a chroot) is a report too: it hides leaks.
# The listener's seccomp filter trapping a call is one too: every test
# runs the listener under the filter, so any path it does not allow shows.
SANITIZER_MARKS = ('ERROR: AddressSanitizer', 'ERROR: LeakSanitizer',
                   'LeakSanitizer has encountered', 'runtime error:',
                   'is not allowed in the listener')


def sanitizer_reports(text):
    """Problems for every sanitizer or seccomp report in a server log: a
    child's report must fail the test even when the client saw nothing
    wrong."""
    return ['sanitizer or seccomp report in the server log: ' + line.strip()
            for line in text.splitlines()
            if any(m in line for m in SANITIZER_MARKS)]


def run_poolmgr(conf_path, args=(), timeout=10.0, wrap=()):
    """Run hsd-poolmgr -f conf_path ARGS to completion (for configs that
    must be rejected or checked), through the command wrap if given (e.g.
    setpriv).  Returns (status, stdout+stderr, pids of any other process
    it started that were seen while it ran or after)."""
    mark = 'run-%d-%f' % (os.getpid(), time.time())
    env = dict(os.environ)
    env[MARK_VAR] = mark
    out = tempfile.TemporaryFile()
    p = subprocess.Popen(list(wrap) + [POOLMGR, '-f', conf_path] +
                         list(args),
                         stdin=subprocess.DEVNULL, stdout=out, stderr=out,
                         env=env, start_new_session=True)
    spawned = set()
    deadline = time.monotonic() + timeout

    def children():
        # A clone still named hsd-poolmgr is no child process of hsd's:
        # LeakSanitizer's tracer, in sanitizer builds, looks like that.
        return set(x for x in marked_pids(mark) if x != p.pid and
                   (proc_stat(x) or ('hsd-poolmgr',))[0] != 'hsd-poolmgr')
    try:
        while p.poll() is None:
            spawned.update(children())
            if time.monotonic() > deadline:
                raise AssertionError('hsd-poolmgr %s did not exit within '
                                     '%.0fs' % (' '.join(args), timeout))
        spawned.update(children())
    finally:
        if p.poll() is None:
            kill_quietly(p.pid)
            p.wait()
        for x in marked_pids(mark):
            kill_quietly(x)
    out.seek(0)
    text = out.read().decode('utf-8', 'replace')
    out.close()
    reports = sanitizer_reports(text)
    if reports:
        raise AssertionError('; '.join(reports))
    return p.returncode, text, sorted(spawned)


# ---------------------------------------------------------------- faults

# The start of a hostile worker (fault_libexec): the first instance started
# while the marker file exists plays the role written in it -- the code
# that follows, given `role`, the channels `lsn` (fd 5, the listener) and
# `pm` (fd 3), `recv_record()`, `ready()` and `say()` -- and every other
# instance is the real worker.
FAULT_PRELUDE = r"""#!@PYTHON@
import errno, os, socket, struct, sys, time

marker = os.environ['HSD_FAULT_MARKER']
try:
    with open(marker) as f:
        role = f.read().strip()
    os.unlink(marker)
except FileNotFoundError:
    role = None
if role is None:
    os.execv(os.environ['HSD_REAL_WORKER'], sys.argv)

V = int(os.environ['HSD_MSG_VERSION'])
HDR = struct.Struct('<HHIII')

def say(text):
    with open(marker + '.report', 'a') as f:
        f.write(text + '\n')

lsn = socket.socket(fileno=os.dup(5))
lsn.setblocking(True)
pm = socket.socket(fileno=os.dup(3))

def ready():
    pm.send(HDR.pack(V, 550, 0, 0, 0))      # MSG_WRK_READY
    lsn.send(HDR.pack(V, 401, 0, 0, 0))     # MSG_REQ_READY

def recv_record():
    # (type, fds, record) of the next message from the listener
    msg, anc, flags, _ = lsn.recvmsg(200000, socket.CMSG_SPACE(16))
    if not msg:
        os._exit(0)
    fds = []
    for level, kind, data in anc:
        if level == socket.SOL_SOCKET and kind == socket.SCM_RIGHTS:
            fds += list(struct.unpack('%di' % (len(data) // 4), data))
    return HDR.unpack_from(msg)[1], fds, msg

"""


def worker_libexec(text, mode=0o700):
    """A libexec dir with the real listener, logger and cache and an
    hsd-worker that is text (a script that may exec HSD_REAL_WORKER, the
    real one; HSD_MSG_VERSION is the build's protocol version, for
    well-formed records).  Returns the dir."""
    d = tempfile.mkdtemp(prefix='hsd-e2e-libexec-')
    if not os.environ.get('HSD_E2E_KEEP'):
        atexit.register(shutil.rmtree, d, True)
    for name in ('hsd-listener', 'hsd-logd', 'hsd-cached'):
        os.symlink(os.path.join(BUILDDIR, name), os.path.join(d, name))
    path = os.path.join(d, 'hsd-worker')
    with open(path, 'w') as f:
        f.write(text)
    os.chmod(path, mode)
    os.environ['HSD_REAL_WORKER'] = os.path.join(BUILDDIR, 'hsd-worker')
    with open(os.path.join(SRCDIR, 'src', 'common', 'msg.h')) as f:
        os.environ['HSD_MSG_VERSION'] = re.search(
            r'#define MSG_VERSION\s+(\d+)', f.read()).group(1)
    return d


def fault_libexec(role_code):
    """A libexec dir whose hsd-worker is FAULT_PRELUDE + role_code and
    the real listener.  Returns (dir, marker): write a role to marker
    (fault_arm) and the next worker started plays it."""
    # The interpreter itself, not a wrapper that would rename the
    # process: the harness finds workers by their name.
    d = worker_libexec(FAULT_PRELUDE.replace('@PYTHON@', sys.executable) +
                       role_code)
    marker = os.path.join(d, 'marker')
    os.environ['HSD_FAULT_MARKER'] = marker
    return d, marker


def fault_arm(marker, role):
    with open(marker, 'w') as f:
        f.write(role)


def fault_report(marker):
    """What the hostile worker said (say()), a line each."""
    try:
        with open(marker + '.report') as f:
            return f.read().split('\n')
    except FileNotFoundError:
        return []


# ---------------------------------------------------------------- server

class Server:
    """hsd-poolmgr running a config written for one test.

    conf: the config text; the harness adds run_dir and libexec_dir (and a
    short shutdown_timeout unless conf sets one) after it.  Placeholders:
    @PORT@ @PORT2@ ... free loopback ports, @ROOT@ the www root made from
    `files`, @NAME@ the root made from roots['NAME'], @DIR@ the temp dir.
    workers: wait until that many hsd-worker children run.
    libexec: where the children are, if not the build dir.
    wrap: a command that execs hsd-poolmgr in its own pid (setpriv);
    run_owner: (uid, gid) to own the run dir, for a wrap that changes user.
    """

    def __init__(self, conf, files=None, roots=None, nports=1, args=(),
                 workers=None, ready_host='localhost', verbose=False,
                 libexec=None, wrap=(), run_owner=None):
        self.dir = tempfile.mkdtemp(prefix='hsd-e2e-')
        self.run_dir = os.path.join(self.dir, 'run')
        os.makedirs(self.run_dir, 0o700)
        if run_owner is not None:
            os.chown(self.run_dir, *run_owner)
            # Where conf_tail() puts the logs: the server makes what it
            # lacks, as the user it runs as.
            os.makedirs(os.path.join(self.dir, 'log'), 0o755)
            os.chown(os.path.join(self.dir, 'log'), *run_owner)
        self.roots = {}
        rootspecs = dict(roots or {})
        if files is not None or 'ROOT' not in rootspecs:
            rootspecs['ROOT'] = files or {}
        for name, spec in rootspecs.items():
            path = os.path.join(self.dir, 'www-' + name.lower())
            make_tree(path, spec)
            self.roots[name] = path
        self.root = self.roots['ROOT']
        self.ports = free_ports(nports)
        self.port = self.ports[0]
        text = conf
        for i, p in enumerate(self.ports):
            text = text.replace('@PORT%s@' % ('' if i == 0 else i + 1),
                                str(p))
        for name, path in self.roots.items():
            text = text.replace('@%s@' % name, path)
        text = text.replace('@DIR@', self.dir)
        self.conf_text = text
        self.conf = write_conf(self.dir, text, libexec=libexec)
        self.errpath = os.path.join(self.dir, 'stderr.log')
        self.seen = set()
        # Sanitizer lines a test causes on purpose (see
        # expect_leak_check_failure).
        self.expected_reports = []
        self.rc = None
        self.stopped = False
        self.ready_host = ready_host
        env = dict(os.environ)
        env[MARK_VAR] = self.dir
        argv = list(wrap) + [POOLMGR, '-f', self.conf] + list(args)
        if verbose or os.environ.get('HSD_E2E_VERBOSE'):
            argv.append('-v')
        self.errf = open(self.errpath, 'wb')
        self.proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL,
                                     stdout=self.errf, stderr=self.errf,
                                     env=env, start_new_session=True)
        self.pid = self.proc.pid
        _live.append(self)
        _started.append(self)
        try:
            self._wait_ready()
            # It answers before its last children (the cache) may have
            # reached exec: until then they are named hsd-poolmgr, and a
            # test looking for hsd-cached would not find it.
            try:
                wait_for(lambda: not self.children('hsd-poolmgr'), 5,
                         'children past exec')
            except AssertionError:
                pass
            if workers is not None:
                wait_for(lambda: len(self.children('hsd-worker')) == workers,
                         10, '%d hsd-worker children' % workers)
        except BaseException:
            self.kill()
            raise

    # -- context manager
    def __enter__(self):
        return self

    def __exit__(self, et, ev, tb):
        if et is None:
            self.stop()
        else:
            try:
                self.stop()
            except Exception as e:
                print('# (while cleaning up after the failure) %s' % e)
        return False

    def _wait_ready(self):
        deadline = time.monotonic() + 10
        while True:
            if self.proc.poll() is not None:
                raise AssertionError('hsd-poolmgr exited with %d before '
                                     'serving; log:\n%s'
                                     % (self.proc.returncode, self.log()))
            try:
                with Client(self.port, timeout=1) as c:
                    c.send(req('GET', '/', host=self.ready_host,
                               headers={'Connection': 'close'}))
                    c.read_head(timeout=1)
                    # To its end: only the listener closes a client's
                    # connection, once the worker's DONE is in, so the
                    # worker is idle again when a test starts.  Else a
                    # test that stops it at once (SIGSTOP) finds it still
                    # holding this request, and its own request queued
                    # behind it can wait out connection_timeout (503).
                    try:
                        c.read_all(timeout=5)
                    except socket.timeout:
                        pass
                return
            except (OSError, ConnectionClosed, ValueError, IndexError):
                pass
            if time.monotonic() > deadline:
                raise AssertionError('hsd-poolmgr did not answer on port %d '
                                     'within 10s; log:\n%s'
                                     % (self.port, self.log()))
            time.sleep(0.05)

    # -- looking at it
    def log(self):
        try:
            with open(self.errpath, 'rb') as f:
                return f.read().decode('utf-8', 'replace')
        except OSError:
            return ''

    def children(self, name=None):
        """pids of direct children of the pool manager named name (comm)."""
        out = []
        for pid in all_pids():
            st = proc_stat(pid)
            if st is None or st[2] != self.pid or st[1] in ('Z', 'X'):
                continue
            if name is None or st[0] == name:
                out.append(pid)
                if st[0] in CHILD_NAMES:
                    self.seen.add(pid)
        return sorted(out)

    def workers(self):
        """{pid: (pool index, worker id)} of the hsd-worker children."""
        out = {}
        for pid in self.children('hsd-worker'):
            argv = proc_cmdline(pid)
            pool = wid = None
            for i, a in enumerate(argv[:-1]):
                if a == '-p':
                    pool = argv[i + 1]
                elif a == '-w':
                    wid = argv[i + 1]
            out[pid] = (pool, wid)
        return out

    def expect_leak_check_failure(self, pid):
        """A test that leaves process pid without fds knows that, in an
        ASan build, its leak check cannot run when it exits."""
        self.expected_reports.append(
            '==%d==LeakSanitizer has encountered a fatal error' % pid)

    def expect_seccomp_kill(self, pid):
        """A test that makes listener pid break its filter on purpose."""
        self.expected_reports.append('hsd-listener[%d]: seccomp: ' % pid)

    def listener(self):
        l = self.children('hsd-listener')
        assert len(l) == 1, 'expected one hsd-listener child, found %r' % l
        return l[0]

    def pidfile(self):
        return os.path.join(self.run_dir, 'hsd-poolmgr.pid')

    def path(self, rel, root='ROOT'):
        return os.path.join(self.roots[root], rel)

    def running(self):
        return self.proc.poll() is None

    def leftovers(self):
        """Our processes (other than the pool manager) still alive."""
        left = set(marked_pids(self.dir))
        for pid in self.seen:
            st = proc_stat(pid)
            if st and st[0] in CHILD_NAMES and st[1] not in ('Z', 'X'):
                left.add(pid)
        left.discard(self.pid)
        return sorted(left)

    # -- stopping it
    def send_signal(self, sig):
        os.kill(self.pid, sig)

    def stop(self, sig=signal.SIGTERM, timeout=20.0, grace=3.0):
        """Signal the pool manager, wait for it, check no child is left
        (allowing `grace` seconds after it exits).  Returns its status."""
        if self.stopped:
            return self.rc
        self.stopped = True
        problems = []
        try:
            if self.proc.poll() is None:
                self.children()
                self.send_signal(sig)
                try:
                    self.proc.wait(timeout)
                except subprocess.TimeoutExpired:
                    problems.append('hsd-poolmgr did not exit within %.0fs '
                                    'of signal %d' % (timeout, sig))
                    kill_quietly(self.pid)
                    self.proc.wait()
            self.rc = self.proc.returncode
            if self.leftovers() and grace > 0:
                try:
                    wait_for(lambda: not self.leftovers(), grace, 'children')
                except AssertionError:
                    pass
            left = self.leftovers()
            if left:
                desc = ['%d %s' % (p, (proc_stat(p) or ('?',))[0])
                        for p in left]
                for p in left:
                    kill_quietly(p)
                problems.append('processes left after hsd-poolmgr exited: '
                                + ', '.join(desc))
            problems.extend(r for r in sanitizer_reports(self.log())
                            if not any(m in r for m in self.expected_reports))
        finally:
            self._finish()
        if problems:
            raise AssertionError('; '.join(problems))
        return self.rc

    def kill(self):
        """Kill everything without checks (cleanup after a failure)."""
        self.stopped = True
        if self.proc.poll() is None:
            kill_quietly(self.pid)
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                pass
        for p in self.leftovers():
            kill_quietly(p)
        self._finish()

    def _finish(self):
        if self in _live:
            _live.remove(self)
        try:
            self.errf.close()
        except OSError:
            pass

    def remove_dir(self):
        if not os.environ.get('HSD_E2E_KEEP'):
            shutil.rmtree(self.dir, ignore_errors=True)


def cleanup_all():
    for s in list(_live):
        try:
            s.kill()
        except Exception:
            pass


def _on_signal(sig, frame):
    cleanup_all()
    sys.exit(1)


atexit.register(cleanup_all)


# ---------------------------------------------------------------- runner

def main():
    """Run the calling file's test_* functions in order (or those named on
    the command line) and exit 0/1/77."""
    signal.signal(signal.SIGTERM, _on_signal)
    signal.signal(signal.SIGHUP, _on_signal)
    ns = sys.modules['__main__'].__dict__
    tests = [(n, f) for n, f in list(ns.items())
             if n.startswith('test_') and callable(f)]
    if len(sys.argv) > 1:
        tests = [(n, f) for n, f in tests if n in sys.argv[1:]]
    passed = failed = skipped = 0
    if not os.access(POOLMGR, os.X_OK):
        print('not ok - %s is not built (HSD_BUILDDIR=%s)'
              % (POOLMGR, BUILDDIR))
        sys.exit(1)
    for name, fn in tests:
        del _started[:]
        t0 = time.monotonic()
        ok = False
        try:
            fn()
            ok = True
            print('ok - %s (%.1fs)' % (name, time.monotonic() - t0))
            passed += 1
        except Skip as e:
            print('ok - %s # SKIP %s' % (name, e))
            skipped += 1
        except KeyboardInterrupt:
            cleanup_all()
            raise
        except BaseException:
            failed += 1
            print('not ok - %s (%.1fs)' % (name, time.monotonic() - t0))
            for line in traceback.format_exc().rstrip().split('\n'):
                print('#   ' + line)
        cleanup_all()
        for s in _started:
            if not ok:
                lines = s.log().rstrip().split('\n')
                print('#   --- log of hsd-poolmgr %d (%s), last lines:'
                      % (s.pid, s.dir))
                for line in lines[-30:]:
                    print('#   | ' + line)
            s.remove_dir()
        sys.stdout.flush()
    print('# %d passed, %d failed, %d skipped' % (passed, failed, skipped))
    if failed:
        sys.exit(1)
    if skipped and not passed:
        sys.exit(77)
    sys.exit(0)
