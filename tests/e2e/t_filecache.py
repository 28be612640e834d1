"""
The worker's open-file cache: a file served once is answered without
opening, stat-ing or reading it again, and is never served stale -- a file
modified in place (even with its mtime put back), truncated, deleted,
renamed away, replaced by a rename over it, made unreadable, or whose
directory is swapped for another is served as it now is, on the same
keep-alive connection (so by the same worker: the pool has one), once the
worker has read the change from inotify (polled for up to 1 s); a change
made before a request was sent, by that very request; after the event
queue overflowed, too.  Names reached through a symlink are not cached.
More files than the cache holds are all served right, within its caps.
A hot file costs the worker four system calls per request (strace -c).
"""

import os
import re
import shutil
import signal
import subprocess
import sys
import time

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import hsdtest as T  # noqa: E402

# The response cache off: these tests watch the worker's own file cache,
# which sees a change before the next request (hsd-cached has a second).
CONF = '''pool "default" { workers = 1 }
cache { enabled = false }
site "s" {
	bindings = {"127.0.0.1:@PORT@"}
	root = "@ROOT@"
}
'''

FC_MAX_ENTRIES = 1024		# src/worker/filecache.c
FC_MAX_BYTES = 16 << 20
ONE_K = bytes(range(256)) * 4
BIG = 200 * 1024

FILES = {
    'a.txt': 'the first a\n',
    '1k.txt': ONE_K,
    'dir/index.html': '<p>first index</p>\n',
    'dir/b.txt': 'b in dir\n',
    'deep/er/c.txt': 'c, two levels down\n',
    'target1.txt': 'target one\n',
    'target2.txt': 'target two\n',
    'link.txt': T.Symlink('target1.txt'),
    'big.bin': T.Random(BIG, seed=3),
}


def server(files=None, conf=CONF):
    return T.Server(conf, files=FILES if files is None else files,
                    workers=1)


def write(path, data):
    with open(path, 'wb') as f:
        f.write(data)


def replace(path, data):
    """Another file renamed over path, as deployment tools do."""
    write(path + '.tmp', data)
    os.rename(path + '.tmp', path)


def fresh(c, path, status, body=None, what='', timeout=1.0,
          lastmod=None):
    """Request path on c until it answers status (and body, and
    Last-Modified), within timeout: the worker reads the change
    asynchronously."""
    deadline = time.monotonic() + timeout
    while True:
        r = c.request('GET', path)
        if r.status == status and (body is None or r.body == body) and \
                (lastmod is None or r.header('last-modified') == lastmod):
            return r
        if time.monotonic() > deadline:
            raise AssertionError('%s: %s still answers %d %r (%s), '
                                 'expected %d %r' % (
                                     what, path, r.status, r.body[:80],
                                     r.header('last-modified'), status,
                                     body[:80] if body else None))
        time.sleep(0.02)


def worker(s):
    (pid,) = s.workers().keys()
    return pid


def watches(pid):
    """The inodes the worker's inotify instance watches, or None if it
    has none (/proc/PID/fdinfo of its inotify fd)."""
    for fd in os.listdir('/proc/%d/fd' % pid):
        try:
            if os.readlink('/proc/%d/fd/%s' % (pid, fd)) != \
                    'anon_inode:inotify':
                continue
            with open('/proc/%d/fdinfo/%s' % (pid, fd)) as f:
                return [int(m.group(1), 16) for m in
                        re.finditer(r'^inotify wd:[0-9a-f]+ ino:([0-9a-f]+)',
                                    f.read(), re.M)]
        except OSError:
            continue
    return None


def assert_cached(s, rel, what):
    """The worker watches rel's inode: it holds an entry for it."""
    ino = os.stat(s.path(rel)).st_ino
    w = watches(worker(s))
    assert w is not None, 'the worker has no inotify instance; log:\n%s' \
        % s.log()
    assert ino in w, '%s: %s (inode %d) is not watched: %r' % (
        what, rel, ino, w)


def test_modified_in_place():
    with server() as s, T.Client(s.port) as c:
        r = c.request('GET', '/a.txt')
        T.assert_eq(r.body, b'the first a\n', 'body')
        etag = r.header('etag')
        assert_cached(s, 'a.txt', 'after one GET')
        with open(s.path('a.txt'), 'ab') as f:
            f.write(b'more\n')
        r = fresh(c, '/a.txt', 200, b'the first a\nmore\n', 'appended')
        T.assert_eq(r.header('content-length'), '17', 'Content-Length')
        assert r.header('etag') != etag, 'the ETag did not change'
        # Same size, mtime put back (cp -p, rsync --inplace): only the
        # content tells, and the cache does not look at the stat.
        st = os.stat(s.path('a.txt'))
        c.request('GET', '/a.txt')
        with open(s.path('a.txt'), 'r+b') as f:
            f.write(b'THE')
        os.utime(s.path('a.txt'), ns=(st.st_atime_ns, st.st_mtime_ns))
        fresh(c, '/a.txt', 200, b'THE first a\nmore\n', 'rewritten, '
              'same mtime')


def test_change_before_the_request_is_seen_by_it():
    # A change the client made before it sent the request is in the
    # worker's inotify queue before the handoff is in its channel: the
    # worker reads it first, so no polling is needed -- even when the
    # handoff comes in the same read of the channel as the DONE before
    # it went out (keep-alive, one request after another).
    def changes(c, n, what, renames=True):
        for i in range(n):
            body = ('%s %d\n' % (what, i)).encode()
            if i % 2 or not renames:
                write(s.path('a.txt'), body)
            else:
                replace(s.path('a.txt'), body)
            r = c.request('GET', '/a.txt')
            T.assert_eq(r.body, body, '%s: body right after change %d'
                        % (what, i))
    with server() as s, T.Client(s.port) as c:
        changes(c, 500, 'version')
        # A worker slowed down by strace reads the next handoff with
        # the DONE before it nearly every time.
        with Traced(worker(s)):
            changes(c, 300, 'traced', renames=False)


def test_truncated():
    with server() as s, T.Client(s.port) as c:
        T.assert_eq(c.request('GET', '/1k.txt').body, ONE_K, 'body')
        assert_cached(s, '1k.txt', 'after one GET')
        os.truncate(s.path('1k.txt'), 100)
        r = fresh(c, '/1k.txt', 200, ONE_K[:100], 'truncated')
        T.assert_eq(r.header('content-length'), '100', 'Content-Length')
        os.truncate(s.path('1k.txt'), 0)
        r = fresh(c, '/1k.txt', 200, b'', 'truncated to nothing')
        T.assert_eq(r.header('content-length'), '0', 'Content-Length')


def test_deleted():
    with server() as s, T.Client(s.port) as c:
        T.assert_eq(c.request('GET', '/a.txt').status, 200, 'status')
        os.unlink(s.path('a.txt'))
        fresh(c, '/a.txt', 404, what='deleted')
        write(s.path('a.txt'), b'back again\n')
        fresh(c, '/a.txt', 200, b'back again\n', 'created again')


def test_renamed_away():
    with server() as s, T.Client(s.port) as c:
        T.assert_eq(c.request('GET', '/a.txt').status, 200, 'status')
        os.rename(s.path('a.txt'), s.path('moved.txt'))
        fresh(c, '/a.txt', 404, what='renamed away')
        r = c.request('GET', '/moved.txt')
        T.assert_eq((r.status, r.body), (200, b'the first a\n'),
                    'under its new name')


def test_replaced_by_rename():
    with server() as s, T.Client(s.port) as c:
        etag = c.request('GET', '/a.txt').header('etag')
        # One byte longer than before, so the ETag differs even if both
        # mtimes fall in one second.
        replace(s.path('a.txt'), b'the second a!\n')
        r = fresh(c, '/a.txt', 200, b'the second a!\n', 'replaced')
        assert r.header('etag') != etag, 'the ETag did not change'
        r = c.request('GET', '/a.txt', headers={'If-None-Match': etag})
        T.assert_eq(r.status, 200, 'the old ETag no longer matches')


def test_attributes():
    with server() as s, T.Client(s.port) as c:
        T.assert_eq(c.request('GET', '/a.txt').status, 200, 'a.txt')
        T.assert_eq(c.request('GET', '/dir/b.txt').status, 200, 'b.txt')
        os.utime(s.path('a.txt'), (1600000000, 1600000000))
        fresh(c, '/a.txt', 200, b'the first a\n', 'touched',
              lastmod='Sun, 13 Sep 2020 12:26:40 GMT')
        # Mode 000 shuts out the owner too, and a worker is never root.
        os.chmod(s.path('a.txt'), 0)
        fresh(c, '/a.txt', 403, what='mode 000')
        os.chmod(s.path('a.txt'), 0o644)
        fresh(c, '/a.txt', 200, b'the first a\n', 'readable again')
        if os.geteuid() == 0:
            # Started as root the worker is www-data, which may not
            # pass through a directory of root's with mode 700.
            os.chmod(s.path('dir'), 0o700)
            fresh(c, '/dir/b.txt', 403, what='directory mode 700')


def test_index_behind_a_directory():
    with server() as s, T.Client(s.port) as c:
        T.assert_eq(c.request('GET', '/dir/').body, b'<p>first index</p>\n',
                    'the index')
        assert_cached(s, 'dir/index.html', 'after GET /dir/')
        write(s.path('dir/index.html'), b'<p>second index</p>\n')
        fresh(c, '/dir/', 200, b'<p>second index</p>\n', 'index modified')
        replace(s.path('dir/index.html'), b'<p>third index</p>\n')
        fresh(c, '/dir/', 200, b'<p>third index</p>\n', 'index replaced')
        os.unlink(s.path('dir/index.html'))
        fresh(c, '/dir/', 403, what='index deleted')
        T.assert_eq(c.request('GET', '/dir').status, 301, 'no slash')


def test_directory_swapped():
    # The deployment that renames a directory away and puts another in
    # its place changes no file the cache holds: the directory's own
    # watch must tell.
    with server() as s, T.Client(s.port) as c:
        T.assert_eq(c.request('GET', '/dir/').body, b'<p>first index</p>\n',
                    'the index')
        T.assert_eq(c.request('GET', '/dir/b.txt').body, b'b in dir\n',
                    'b.txt')
        T.assert_eq(c.request('GET', '/deep/er/c.txt').body,
                    b'c, two levels down\n', 'c.txt')
        os.rename(s.path('dir'), s.path('dir.old'))
        T.make_tree(s.path('dir'), {'index.html': '<p>new dir</p>\n',
                                    'b.txt': 'new b\n'})
        fresh(c, '/dir/', 200, b'<p>new dir</p>\n', 'directory swapped')
        fresh(c, '/dir/b.txt', 200, b'new b\n', 'directory swapped')
        # Two levels up from the file.
        os.rename(s.path('deep'), s.path('deep.old'))
        fresh(c, '/deep/er/c.txt', 404, what='grandparent renamed away')
        T.make_tree(s.path('deep'), {'er/c.txt': 'another c\n'})
        fresh(c, '/deep/er/c.txt', 200, b'another c\n', 'grandparent back')


def test_symlinks_are_followed_afresh():
    # A name reached through a symlink is opened for every request, so
    # pointing the link elsewhere shows at once.
    with server() as s, T.Client(s.port) as c:
        T.assert_eq(c.request('GET', '/link.txt').body, b'target one\n',
                    'through the link')
        T.assert_eq(c.request('GET', '/link.txt').body, b'target one\n',
                    'through the link again')
        os.unlink(s.path('link.txt'))
        os.symlink('target2.txt', s.path('link.txt'))
        r = c.request('GET', '/link.txt')
        T.assert_eq(r.body, b'target two\n', 'the link pointed elsewhere')


def test_large_file_cached_and_changed():
    # Over 64 KiB: the cache keeps the fd, the listener sends the body
    # from its copy of it.
    with server() as s, T.Client(s.port, timeout=20) as c:
        want = open(s.path('big.bin'), 'rb').read()
        for _ in range(3):
            T.assert_eq(c.request('GET', '/big.bin').body, want, 'big.bin')
        assert_cached(s, 'big.bin', 'after three GETs')
        r = c.request('GET', '/big.bin', headers={'Range': 'bytes=100-199'})
        T.assert_eq((r.status, r.body), (206, want[100:200]), 'a range')
        r = c.request('GET', '/big.bin',
                      headers={'If-None-Match': r.header('etag')})
        T.assert_eq(r.status, 304, 'conditional')
        r = c.request('HEAD', '/big.bin')
        T.assert_eq((r.status, r.header('content-length')),
                    (200, str(BIG)), 'HEAD')
        with open(s.path('big.bin'), 'r+b') as f:
            f.seek(BIG - 4)
            f.write(b'TAIL')
        fresh(c, '/big.bin', 200, want[:-4] + b'TAIL', 'tail rewritten')
        replace(s.path('big.bin'), b'small now\n')
        fresh(c, '/big.bin', 200, b'small now\n', 'replaced by a small one')


def test_event_queue_overflow_drops_everything():
    # Events for a.txt that are lost to an overflowing queue cannot
    # drop its entry: the overflow itself must.  The worker is stopped
    # while more changes than the queue holds are made to two other
    # cached files (alternating, so the kernel merges none), then a.txt.
    with open('/proc/sys/fs/inotify/max_queued_events') as f:
        limit = int(f.read())
    if limit > 200000:
        raise T.Skip('fs.inotify.max_queued_events is %d' % limit)
    with server() as s, T.Client(s.port) as c:
        for rel in ('a.txt', '1k.txt', 'target1.txt'):
            T.assert_eq(c.request('GET', '/' + rel).status, 200, rel)
        w = worker(s)
        fds = [os.open(s.path(rel), os.O_WRONLY)
               for rel in ('1k.txt', 'target1.txt')]
        os.kill(w, signal.SIGSTOP)
        try:
            for i in range(limit + 100):
                os.pwrite(fds[i % 2], b'x', 0)
            with open(s.path('a.txt'), 'r+b') as f:
                f.write(b'T')
        finally:
            os.kill(w, signal.SIGCONT)
            for fd in fds:
                os.close(fd)
        fresh(c, '/a.txt', 200, b'The first a\n', 'after an overflow')
        assert 'inotify queue overflow' in s.log(), s.log()


def test_more_files_than_the_cache_holds():
    # More entries than the cap, and more bytes (300 of 60 KiB: 18 MiB
    # over a 16 MiB cap): every one is right, first time and again, and
    # what is cached (each entry watches its file, and the one directory
    # they are in) stays within the caps.
    files = {}
    for i in range(FC_MAX_ENTRIES + 100):
        files['s/%04d.txt' % i] = ('small file %d\n' % i).encode()
    for i in range(300):
        files['m/%03d.bin' % i] = bytes([i % 251]) * (60 * 1024 - i)
    # Round one ends with the small files, round two with the others.
    names = sorted(files)
    rounds = (('first', names, FC_MAX_ENTRIES),
              ('second', names[::-1], FC_MAX_BYTES // (60 * 1024 - 299)))
    with server(files) as s, T.Client(s.port, timeout=20) as c:
        for rnd, order, cap in rounds:
            for rel in order:
                r = c.request('GET', '/' + rel)
                if r.status != 200 or r.body != files[rel]:
                    raise AssertionError('%s round, /%s: %d, %d bytes (%d '
                                         'expected)' % (rnd, rel, r.status,
                                                        len(r.body),
                                                        len(files[rel])))
            n = len(watches(worker(s)) or ())
            print('#   %s round: %d watches' % (rnd, n))
            assert cap * 3 // 4 <= n <= cap + 1, \
                '%s round: %d watches, expected up to %d' % (rnd, n, cap)
        # The last one served is still cached, and still watched.
        write(s.path('m/000.bin'), b'changed\n')
        fresh(c, '/m/000.bin', 200, b'changed\n', 'one of many')


def test_chrooted_worker():
    # The watches are added by path in the worker's own view of the
    # file system: inside its chroot.
    if os.geteuid() != 0:
        raise T.Skip('a pool chroot needs root')
    old = os.umask(0o022)
    try:
        jail = os.path.realpath(T.tempfile.mkdtemp(prefix='hsd-e2e-jail-'))
        os.chmod(jail, 0o755)
        T.make_tree(jail, {'htdocs/a.txt': 'in the jail\n',
                           'htdocs/d/index.html': 'jail index\n'})
    finally:
        os.umask(old)
    conf = '''pool "jail" {
	workers = 1
	chroot = "%s"
}
site "s" {
	bindings = {"127.0.0.1:@PORT@"}
	pool = "jail"
	root = "%s/htdocs"
}
''' % (jail, jail)
    try:
        with T.Server(conf, files={}, workers=1) as s, \
                T.Client(s.port) as c:
            w = worker(s)
            if os.readlink('/proc/%d/root' % w) != jail:
                raise T.Skip('the worker is not chrooted (ASan build?)')
            T.assert_eq(c.request('GET', '/a.txt').body, b'in the jail\n',
                        'a.txt')
            T.assert_eq(c.request('GET', '/d/').body, b'jail index\n',
                        'the index')
            ino = os.stat(os.path.join(jail, 'htdocs/a.txt')).st_ino
            assert ino in (watches(w) or []), \
                'a.txt is not watched inside the chroot'
            replace(os.path.join(jail, 'htdocs/a.txt'), b'new in jail\n')
            fresh(c, '/a.txt', 200, b'new in jail\n', 'in the chroot')
            write(os.path.join(jail, 'htdocs/d/index.html'), b'new index\n')
            fresh(c, '/d/', 200, b'new index\n', 'index in the chroot')
    finally:
        shutil.rmtree(jail, ignore_errors=True)


STRACE_LINE = re.compile(r'^\s*[\d.]+\s+[\d.]+\s+\d+\s+(\d+)\s+(?:(\d+)\s+)?'
                         r'(\w+)\s*$')


class Traced:
    """strace -f attached to pid while the block runs (skip the test if
    ptrace is not permitted); with summary, .counts is then {call:
    (calls, errors)} from strace -c."""

    def __init__(self, pid, summary=False):
        self.pid = pid
        self.summary = summary
        self.counts = None

    def __enter__(self):
        strace = T.need_program('strace')
        out = T.tempfile.NamedTemporaryFile(prefix='hsd-e2e-strace-',
                                            delete=False)
        out.close()
        self.out = out.name
        argv = [strace, '-f', '-o', self.out, '-p', str(self.pid)]
        if self.summary:
            argv.insert(1, '-c')
        self.p = subprocess.Popen(argv, stderr=subprocess.PIPE)
        line = self.p.stderr.readline().decode('utf-8', 'replace')
        if 'attached' not in line:
            self.p.wait(5)
            os.unlink(self.out)
            if 'Operation not permitted' in line:
                raise T.Skip('ptrace is not permitted here: %s'
                             % line.strip())
            raise AssertionError('strace did not attach: %r' % line)
        return self

    def __exit__(self, et, ev, tb):
        try:
            self.p.send_signal(signal.SIGINT)
            self.p.communicate(timeout=10)
            self.counts = {}
            with open(self.out) as f:
                for line in f:
                    m = STRACE_LINE.match(line) if self.summary else None
                    if m and m.group(3) != 'total':
                        self.counts[m.group(3)] = (int(m.group(1)),
                                                   int(m.group(2) or 0))
        finally:
            if self.p.poll() is None:
                self.p.kill()
                self.p.wait()
            os.unlink(self.out)
        return False


def strace_counts(pid, n, fn):
    """Run fn() n times with strace -c attached to pid; {call: (calls,
    errors)}."""
    with Traced(pid, summary=True) as t:
        for _ in range(n):
            fn()
    return t.counts


def check_calls(counts, n, most, what):
    """At most `most` calls per request, not counting the event loop's
    waiting: epoll_wait, and the recvmsg() that finds the channel empty
    before it (chan_readable() reads until EAGAIN, once per wakeup)."""
    waits = counts.get('epoll_wait', (0, 0))[0]
    probes = counts.get('recvmsg', (0, 0))[1]
    work = sum(c - e for name, (c, e) in counts.items()
               if name != 'epoll_wait')
    print('#   %s: %r; %.2f calls per request besides epoll_wait and %d '
          'empty recvmsg' % (what, sorted(counts.items()), work / n, probes))
    assert work <= most * n, '%s: %d calls for %d requests (%r)' % (
        what, work, n, counts)
    # Failed calls are only those probes, one per wakeup at most.
    others = sum(e for name, (c, e) in counts.items() if name != 'recvmsg')
    T.assert_eq(others, 0, '%s: failed calls other than recvmsg' % what)
    assert probes <= waits + 1, '%s: %d empty recvmsg for %d wakeups' % (
        what, probes, waits)


def test_system_calls_per_request():
    N = 2000
    with server() as s, T.Client(s.port, timeout=20) as c:
        for _ in range(20):
            c.request('GET', '/1k.txt')
            c.request('GET', '/big.bin')

        def small():
            r = c.request('GET', '/1k.txt')
            if r.status != 200 or r.body != ONE_K:
                raise AssertionError('1k.txt: %r' % r)
        counts = strace_counts(worker(s), N, small)
        # recvmsg (the handoff), one send, sendmsg (DONE), close.
        check_calls(counts, N, 4, '1k.txt')
        T.assert_eq(counts.get('sendto', (0, 0))[0], N, 'sends of 1k.txt')
        for call in ('openat2', 'openat', 'newfstatat', 'fstat', 'pread64',
                     'read'):
            assert call not in counts, '%s for a hot file: %r' % (call,
                                                                   counts)

        def big():
            r = c.request('GET', '/big.bin')
            if r.status != 200 or len(r.body) != BIG:
                raise AssertionError('big.bin: %r' % r)
        # recvmsg, sendmsg (DONE with the cached fd), close: the
        # listener sends it.
        check_calls(strace_counts(worker(s), N // 4, big), N // 4, 3,
                    'big.bin')


T.main()
