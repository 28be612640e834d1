"""
No log record lost or written twice: hsd-logd SIGKILLed three times
while keep-alive clients load the server (few and many connections, and
with wrk) leaves exactly one line per response; a rotation (rename, then
hsdctl reopen or SIGUSR1) puts the new lines in a new file and keeps the
old ones; hsd-logd stopped for a while holds the records in the listener
(hsdctl status counts them) and writes them all once it goes on, and
with a tiny log_buffer the records that did not fit are counted and
reported by one #Remark line; a log directory that cannot be written
at run time is retried while the records wait, and all are written
once it is back; and a log directory that cannot be made stops the
server at start, naming it.
"""

import json
import os
import re
import signal
import subprocess
import sys
import tempfile
import threading
import time

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import hsdtest as T  # noqa: E402

HSDCTL = os.path.join(T.BUILDDIR, 'hsdctl')
FILES = {'a.txt': b'a small file\n' * 8}

CONF = '''pool "default" { workers = 2  concurrency = 16 }
log { dir = "@DIR@/log"  flush_interval = "100ms" @LOG@ }
site "s" { bindings = {"127.0.0.1:@PORT@"} root = "@ROOT@" }
'''


def server(log=''):
    return T.Server(CONF.replace('@LOG@', log), files=FILES, workers=2)


def ctl(s, *args):
    p = subprocess.run([HSDCTL, '-s', os.path.join(s.run_dir, 'hsd.sock')]
                       + list(args), stdin=subprocess.DEVNULL,
                       capture_output=True, text=True, timeout=30)
    T.assert_eq(p.returncode, 0, 'hsdctl %s (stderr %r)'
                % (' '.join(args), p.stderr))
    return p.stdout


def status(s):
    return json.loads(ctl(s, 'status', '--json'))


def logd(s):
    (pid,) = s.children('hsd-logd')
    return pid


def site_dir(s):
    return os.path.join(s.dir, 'log', 's')


def record_lines(d):
    """{file name: its record (non-'#') lines} of a log directory."""
    out = {}
    for name in sorted(os.listdir(d)):
        with open(os.path.join(d, name), 'rb') as f:
            data = f.read()
        assert data == b'' or data.endswith(b'\n'), \
            '%s ends in a partial line: %r' % (name, data[-100:])
        out[name] = [x for x in data.decode('ascii').split('\n')[:-1]
                     if not x.startswith('#')]
    return out


def is_probe(line):
    """The harness's readiness probe, GET / without a query."""
    return ' GET / - ' in line


def queries(lines):
    """{query: count} of the lines' cs-uri-query (the 6th default field);
    the probes are left out."""
    out = {}
    for line in lines:
        if is_probe(line):
            continue
        q = line.split(' ')[5]
        out[q] = out.get(q, 0) + 1
    return out


def load(s, clients, seconds, during=None):
    """clients keep-alive clients doing GET /a.txt?i=C-N for `seconds`;
    during(), if given, runs meanwhile in this thread.  Returns the
    queries that got a 200."""
    stop = [False]
    done = [[] for _ in range(clients)]
    errors = []

    def client(i):
        c = None
        n = 0
        try:
            while not stop[0]:
                if c is None:
                    c = T.Client(s.port, timeout=20)
                q = 'i=%d-%d' % (i, n)
                n += 1
                r = c.request('GET', '/a.txt?' + q)
                if r.status != 200:
                    errors.append('%s: status %d' % (q, r.status))
                    return
                done[i].append(q)
        except Exception as e:    # noqa: BLE001
            errors.append('client %d: %r' % (i, e))
        finally:
            if c is not None:
                c.close()

    threads = [threading.Thread(target=client, args=(i,))
               for i in range(clients)]
    for t in threads:
        t.start()
    t0 = time.monotonic()
    try:
        if during is not None:
            during()
        left = seconds - (time.monotonic() - t0)
        if left > 0:
            time.sleep(left)
    finally:
        stop[0] = True
        for t in threads:
            t.join(30)
    assert not errors, errors[:5]
    return [q for d in done for q in d]


def kill_logd_three_times(s):
    def during():
        for _ in range(3):
            time.sleep(0.7)
            old = logd(s)
            os.kill(old, signal.SIGKILL)
            T.wait_for(lambda: s.children('hsd-logd') and
                       s.children('hsd-logd') != [old], 10,
                       'a new hsd-logd')
        time.sleep(0.7)
    return during


def check_exact(s, got):
    lines = [x for v in record_lines(site_dir(s)).values() for x in v]
    probes = sum(1 for x in lines if is_probe(x))
    counts = queries(lines)
    twice = dict((q, n) for q, n in counts.items() if n != 1)
    assert not twice, 'logged more than once: %r' % list(twice.items())[:10]
    lost = set(got) - set(counts)
    assert not lost, '%d responses not logged, e.g. %r' % (
        len(lost), sorted(lost)[:10])
    extra = set(counts) - set(got)
    assert not extra, 'logged but never answered: %r' % sorted(extra)[:10]
    T.assert_eq(len(lines) - probes, len(got), 'record lines')


def logd_killed(clients):
    with server() as s:
        first = logd(s)
        got = load(s, clients, 3.5, kill_logd_three_times(s))
        assert len(got) > 100, 'only %d requests' % len(got)
        assert first not in s.children('hsd-logd')
        s.stop()
        check_exact(s, got)


def test_logd_killed_few_connections():
    logd_killed(2)


def test_logd_killed_many_connections():
    logd_killed(40)


def test_logd_killed_wrk():
    """wrk counts the responses it got; the requests it had in flight
    when it stopped may be answered and logged too, so the lines are
    between its count and its count plus one per connection."""
    wrk = T.need_program('wrk')
    conns = 20
    with server() as s:
        kill = kill_logd_three_times(s)
        p = subprocess.Popen([wrk, '-t2', '-c%d' % conns, '-d4s',
                              'http://127.0.0.1:%d/a.txt' % s.port],
                             stdout=subprocess.PIPE,
                             stderr=subprocess.STDOUT, text=True)
        try:
            kill()
        finally:
            out, _ = p.communicate(timeout=30)
        m = re.search(r'(\d+) requests in', out)
        assert m, out
        n = int(m.group(1))
        assert 'Non-2xx' not in out and 'errors' not in out, out
        s.stop()
        lines = [x for v in record_lines(site_dir(s)).values() for x in v
                 if not is_probe(x)]
        assert n <= len(lines) <= n + conns, \
            '%d lines for %d responses wrk counted' % (len(lines), n)


def test_reopen():
    with server() as s:
        d = site_dir(s)
        n = [0]

        def some(k):
            for _ in range(k):
                T.assert_eq(T.get(s.port, '/a.txt?i=%d' % n[0]).status,
                            200, 'GET')
                n[0] += 1

        def rotate(trigger, suffix):
            """Requests, all their lines in the file, the file renamed,
            trigger(): a new file of the same name."""
            some(5)
            want = n[0]
            T.wait_for(lambda: sum(len(queries(v)) for v in
                                   record_lines(d).values()) == want, 5,
                       'the lines in the file')
            (name,) = [x for x in os.listdir(d)
                       if re.match(r'^u_ex\d{6}\.log$', x)]
            os.rename(os.path.join(d, name), os.path.join(d, name + suffix))
            trigger()
            T.wait_for(lambda: os.path.exists(os.path.join(d, name)), 5,
                       'a new %s' % name)
            return name

        name = rotate(lambda: ctl(s, 'reopen'), '.1')
        some(5)
        name2 = rotate(lambda: s.send_signal(signal.SIGUSR1), '.2')
        T.assert_eq(name2, name, 'file name')
        some(5)
        s.stop()
        files = record_lines(d)
        T.assert_eq(sorted(files), [name, name + '.1', name + '.2'],
                    'files')
        T.assert_eq(queries(files[name + '.1']),
                    dict(('i=%d' % i, 1) for i in range(0, 5)),
                    'the first rotated file')
        T.assert_eq(queries(files[name + '.2']),
                    dict(('i=%d' % i, 1) for i in range(5, 15)),
                    'the second rotated file')
        T.assert_eq(queries(files[name]),
                    dict(('i=%d' % i, 1) for i in range(15, 20)),
                    'the new file')
        for k in files:
            with open(os.path.join(d, k)) as f:
                assert f.readline().startswith('#Software: '), k


def test_logd_stopped():
    with server() as s:
        pid = logd(s)
        T.wait_for(lambda: status(s)['log_records']['buffered'] == 0, 5,
                   'nothing buffered')
        os.kill(pid, signal.SIGSTOP)
        try:
            for i in range(30):
                T.assert_eq(T.get(s.port, '/a.txt?i=%d' % i).status, 200,
                            'GET')
            T.wait_for(lambda: status(s)['log_records']['buffered'] >= 30,
                       5, 'the records buffered')
            st = status(s)
            T.assert_eq(st['log_records']['dropped'], 0, 'dropped')
        finally:
            os.kill(pid, signal.SIGCONT)
        T.wait_for(lambda: status(s)['log_records']['buffered'] == 0, 10,
                   'the records written')
        T.assert_eq(queries([x for v in record_lines(site_dir(s)).values()
                             for x in v]),
                    dict(('i=%d' % i, 1) for i in range(30)),
                    'lines after SIGCONT')
        s.stop()


def test_log_buffer_full():
    ua = 'u' * 1000
    n = 300
    with server('log_buffer = "64K"') as s:
        pid = logd(s)
        T.wait_for(lambda: status(s)['log_records']['buffered'] == 0, 5,
                   'nothing buffered')
        os.kill(pid, signal.SIGSTOP)
        try:
            with T.Client(s.port) as c:
                for i in range(n):
                    T.assert_eq(c.request('GET', '/a.txt?i=%d' % i,
                                          headers={'User-Agent': ua}
                                          ).status, 200, 'GET')
            st = status(s)['log_records']
            assert st['dropped'] > 0, st
            dropped = st['dropped']
        finally:
            os.kill(pid, signal.SIGCONT)
        T.wait_for(lambda: status(s)['log_records']['buffered'] == 0, 10,
                   'the records written')
        s.stop()
        lines = [x for v in record_lines(site_dir(s)).values() for x in v]
        counts = queries(lines)
        T.assert_eq(set(counts.values()), {1}, 'each line once')
        with open(os.path.join(s.dir, 'log', 'HTTPERR',
                               'httperr1.log')) as f:
            remarks = [x for x in f.read().split('\n')
                       if x.startswith('#Remark:')]
        T.assert_eq(len(remarks), 1, 'remarks %r' % remarks)
        m = re.match(r'^#Remark: hsd-listener dropped (\d+) log records',
                     remarks[0])
        assert m, remarks
        T.assert_eq(int(m.group(1)), dropped, 'dropped, by the remark')
        T.assert_eq(int(m.group(1)) + len(counts), n,
                    'dropped + lines (%d lines)' % len(counts))


def test_dir_unwritable_at_run_time():
    # The site's log directory turns into a file while the server runs,
    # and the files are reopened: the logger cannot open its file, says
    # so and tries again, the server serves on, the records wait; once
    # the directory is back every record is written, once.
    with server() as s:
        d = site_dir(s)
        T.assert_eq(T.get(s.port, '/a.txt?i=before').status, 200, 'GET')
        T.wait_for(lambda: status(s)['log_records']['buffered'] == 0, 10,
                   'the first record written')
        os.rename(d, d + '.away')
        with open(d, 'w') as f:
            f.write('not a directory\n')
        ctl(s, 'reopen')
        for i in range(20):
            T.assert_eq(T.get(s.port, '/a.txt?i=%d' % i).status, 200,
                        'GET while the logs cannot be written')
        T.wait_for(lambda: 'cannot be opened; retrying' in s.log(), 10,
                   'the logger to say it cannot open its file')
        time.sleep(1.5)
        T.assert_eq(status(s)['log_records']['buffered'] >= 20, True,
                    'the records wait in the listener')
        os.unlink(d)
        os.rename(d + '.away', d)
        T.wait_for(lambda: status(s)['log_records']['buffered'] == 0, 10,
                   'the records written once the directory is back')
        want = dict(('i=%d' % i, 1) for i in range(20))
        want['i=before'] = 1
        T.assert_eq(queries([x for v in record_lines(d).values()
                             for x in v]), want, 'every record once')
        s.stop()


def test_unwritable_dir():
    d = tempfile.mkdtemp(prefix='hsd-e2e-logdir-')
    try:
        os.makedirs(os.path.join(d, 'www'))
        path = T.write_conf(d, '''pool "default" { workers = 1 }
site "s" { bindings = {"127.0.0.1:%d"} root = "%s"
    log { dir = "/proc/nonexistent" } }
''' % (T.free_ports(1)[0], os.path.join(d, 'www')))
        rc, out, _ = T.run_poolmgr(path)
        assert rc != 0, 'hsd-poolmgr started: %r' % out
        assert '/proc/nonexistent' in out, out
    finally:
        import shutil
        shutil.rmtree(d, ignore_errors=True)


if __name__ == '__main__':
    T.main()
