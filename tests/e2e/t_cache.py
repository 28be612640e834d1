"""
The response cache (hsd-cached and the listener's index): a URL asked
twice within activity_period is admitted, and from then on answered by
the listener alone -- with every worker SIGSTOPped -- with a current
Date and an Age, HEAD and 304s included, pipelined and kept alive.  Each
request-side admission rule keeps a request out; a per-application
cache = false does too.  A file modified, deleted or renamed over is
never served stale a second after; the memory cap holds; max_ttl and the
scavenger drop entries; hsdctl cache counts and hsdctl purge drops;
hsd-cached killed under load costs no request.
"""

import os
import re
import signal
import subprocess
import sys
import time

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import hsdtest as T  # noqa: E402

HSDCTL = os.path.join(T.BUILDDIR, 'hsdctl')

CONF = '''pool "default" { workers = 2  start = "always" }
cache { %s }
site "s" {
	bindings = {"127.0.0.1:@PORT@"}
	root = "@ROOT@"
	application "/nocache" { cache = false }
}
'''

ONE_K = bytes((i * 7 + 3) % 251 for i in range(1024))
BIG = bytes((i * 13 + 5) % 253 for i in range(200 * 1024))
FILES = {
    'a.html': '<p>a</p>\n',
    'b.html': '<p>b</p>\n',
    'c.html': 'version one\n',
    'd.html': 'to be deleted\n',
    'e.html': 'old inode\n',
    'dir/index.html': 'an index\n',
    '1k.bin': ONE_K,
    '200k.bin': BIG,
    'nocache/x.html': 'not cached\n',
    'rel/v.html': 'release one\n',
}


def server(cache='', files=FILES, workers=2):
    return T.Server(CONF % cache, files=files, workers=workers)


def ctl(s, *args):
    p = subprocess.run([HSDCTL, '-s', os.path.join(s.run_dir, 'hsd.sock')] +
                       list(args), stdin=subprocess.DEVNULL,
                       capture_output=True, text=True, timeout=30)
    T.assert_eq(p.returncode, 0, 'hsdctl %s (stderr %r)'
                % (' '.join(args), p.stderr))
    return p.stdout


def stats(s):
    """hsdctl cache, as a dict; refused is a dict of its own."""
    out = ctl(s, 'cache')
    d = {}
    for line in out.splitlines():
        k, _, v = line.partition(':')
        if k == 'refused':
            d['refused'] = dict((a, int(b)) for a, b in
                                (x.split('=') for x in v.split()))
        elif k == 'memory':
            d['memory'] = int(v.split()[0])
            d['max_memory'] = int(v.split()[2])
        else:
            d[k] = int(v)
    return d


def is_hit(r):
    return r.header('Age') is not None


def warm(s, path, headers=()):
    """Ask for path until the listener answers it from the cache."""
    seen = []

    def hit():
        r = T.get(s.port, path, headers=headers)
        seen.append(r.status)
        return r.status == 200 and is_hit(r)
    T.wait_for(hit, 5, '%s answered from the cache (statuses %r)'
               % (path, seen[-5:]), interval=0.05)


def stopped_workers(s):
    """SIGSTOP every worker; returns a function that continues them."""
    pids = s.children('hsd-worker')
    for p in pids:
        os.kill(p, signal.SIGSTOP)

    def cont():
        for p in pids:
            T.kill_quietly(p, signal.SIGCONT)
    return cont


def test_hits_need_no_worker():
    with server() as s:
        r1 = T.get(s.port, '/1k.bin')
        T.assert_eq((r1.status, r1.body, is_hit(r1)), (200, ONE_K, False),
                    'the first GET, from a worker')
        warm(s, '/1k.bin')
        st = stats(s)
        T.assert_eq(st['entries'], 1, 'entries')
        assert st['admitted'] >= 1 and st['hits'] >= 0, st
        cont = stopped_workers(s)
        try:
            r = T.get(s.port, '/1k.bin')
            T.assert_eq((r.status, r.body), (200, ONE_K), 'a hit')
            T.assert_eq(r.header('Content-Length'), '1024', 'its length')
            T.assert_eq(r.header('Content-Type'), 'application/octet-stream',
                        'its type')
            assert r.header('Connection') is None, r.head
            date = r.header('Date')
            assert date and abs(time.mktime(time.strptime(
                date, '%a, %d %b %Y %H:%M:%S GMT')) - time.mktime(
                time.gmtime())) <= 2, 'a current Date: %r' % date
            assert int(r.header('Age')) >= 0, r.head
            etag, lm = r.header('ETag'), r.header('Last-Modified')
            assert etag and lm, r.head
            h = T.get(s.port, '/1k.bin', method='HEAD')
            T.assert_eq((h.status, h.body, h.header('Content-Length'),
                         is_hit(h)), (200, b'', '1024', True), 'HEAD')
            for hdrs in ({'If-None-Match': etag},
                         {'If-None-Match': '"nope", ' + etag},
                         {'If-Modified-Since': lm}):
                n = T.get(s.port, '/1k.bin', headers=hdrs)
                T.assert_eq((n.status, n.body, n.header('ETag'), is_hit(n)),
                            (304, b'', etag, True), '304 for %r' % hdrs)
            n = T.get(s.port, '/1k.bin', headers={'If-None-Match': '"x"'})
            T.assert_eq((n.status, n.body), (200, ONE_K),
                        'If-None-Match of another tag')
            # Pipelined and kept alive, HTTP/1.0 too.
            with T.Client(s.port) as c:
                c.send(b''.join(T.req('GET', '/1k.bin') for _ in range(20)))
                for i in range(20):
                    r = c.response()
                    T.assert_eq((r.status, r.body, is_hit(r)),
                                (200, ONE_K, True), 'pipelined %d' % i)
                c.send(T.req('GET', '/1k.bin', version='HTTP/1.0',
                             headers={'Connection': 'keep-alive'}))
                r = c.response()
                T.assert_eq((r.body, r.header('Connection')),
                            (ONE_K, 'keep-alive'), 'HTTP/1.0 keep-alive')
                c.send(T.req('GET', '/1k.bin',
                             headers={'Connection': 'close'}))
                r = c.response()
                T.assert_eq((r.body, r.header('Connection')),
                            (ONE_K, 'close'), 'Connection: close')
                c.expect_closed()
            # Not cached: it waits for a worker, and none runs.
            with T.Client(s.port) as c:
                c.send(T.req('GET', '/a.html'))
                assert c.is_quiet(1.0), 'a miss answered with workers stopped'
        finally:
            cont()
        T.assert_eq(T.get(s.port, '/a.html').status, 200, 'workers go on')
        T.wait_for(lambda: stats(s)['hits'] >= 25, 5, 'hits reported')


def test_large_hits_and_slow_readers():
    """A 200 KiB entry (sent with sendfile()) whole, to a fast reader and
    to one whose socket takes a little at a time (the rest is sent as it
    drains, the entry held), kept alive and pipelined behind."""
    with server() as s:
        warm(s, '/200k.bin')
        warm(s, '/1k.bin')
        cont = stopped_workers(s)
        try:
            r = T.get(s.port, '/200k.bin')
            T.assert_eq((r.body == BIG, is_hit(r)), (True, True), 'a hit')
            with T.Client(s.port, rcvbuf=4096) as c:
                c.send(T.req('GET', '/200k.bin') + T.req('GET', '/1k.bin') +
                       T.req('HEAD', '/200k.bin'))
                time.sleep(0.5)
                r = c.response()
                T.assert_eq((len(r.body), r.body == BIG), (len(BIG), True),
                            'a slow reader\'s body')
                r = c.response()
                T.assert_eq(r.body, ONE_K, 'the pipelined request behind')
                r = c.response(method='HEAD')
                T.assert_eq((r.status, r.body, r.header('Content-Length')),
                            (200, b'', str(len(BIG))), 'HEAD behind')
            # A purge while a slow reader is being sent the entry: it
            # gets the whole response all the same.
            with T.Client(s.port, rcvbuf=4096) as c:
                c.send(T.req('GET', '/200k.bin'))
                time.sleep(0.3)
                ctl(s, 'purge', 'all')
                r = c.response()
                T.assert_eq(r.body == BIG, True, 'body sent across a purge')
        finally:
            cont()


def log_records(s):
    """(method, stem, status, sc-bytes) of the site's W3C log lines."""
    d = os.path.join(s.dir, 'log', 's')
    out = []
    for name in sorted(os.listdir(d)) if os.path.isdir(d) else []:
        fields = None
        with open(os.path.join(d, name)) as f:
            for line in f.read().splitlines():
                if line.startswith('#Fields: '):
                    fields = line[9:].split()
                elif not line.startswith('#'):
                    r = dict(zip(fields, line.split()))
                    out.append((r['cs-method'], r['cs-uri-stem'],
                                r['sc-status']))
    return out


def test_hits_are_logged_and_reload_empties():
    with server('activity_period = "0"') as s:
        warm(s, '/a.html')
        cont = stopped_workers(s)
        try:
            for _ in range(5):
                assert is_hit(T.get(s.port, '/a.html'))
            etag = T.get(s.port, '/a.html').header('ETag')
            assert T.get(s.port, '/a.html',
                         headers={'If-None-Match': etag}).status == 304
            assert is_hit(T.get(s.port, '/a.html', method='HEAD'))
        finally:
            cont()
        T.wait_for(lambda: log_records(s).count(('GET', '/a.html', '200'))
                   >= 7 and ('GET', '/a.html', '304') in log_records(s) and
                   ('HEAD', '/a.html', '200') in log_records(s), 10,
                   'every hit in the access log')
        ctl(s, 'reload')
        assert not is_hit(T.get(s.port, '/a.html')), 'a hit after reload'
        T.wait_for(lambda: stats(s)['entries'] == 1, 5,
                   'admitted again (period 0)')


def test_stopped_pool_is_not_served():
    """hsdctl stop answers a pool's requests 503, cached ones too; once
    started again its entries are served."""
    with server() as s:
        warm(s, '/a.html')
        ctl(s, 'stop', 'default')
        r = T.get(s.port, '/a.html')
        T.assert_eq((r.status, is_hit(r)), (503, False), 'a stopped pool')
        ctl(s, 'start', 'default')
        T.wait_for(lambda: is_hit(T.get(s.port, '/a.html')), 5,
                   'served from the cache again')


def test_activity_period():
    with server('activity_period = "1s"') as s:
        T.get(s.port, '/a.html')
        time.sleep(1.3)
        r = T.get(s.port, '/a.html')
        assert not is_hit(r)
        T.wait_for(lambda: stats(s)['refused'].get('activity') == 2, 5,
                   'two offers refused: not twice within 1s')
        T.assert_eq(stats(s)['admitted'], 0, 'admitted')
        T.get(s.port, '/a.html')
        T.wait_for(lambda: stats(s)['admitted'] == 1, 5, 'admitted')
        warm(s, '/a.html')
    with server('activity_period = "0"') as s:
        T.get(s.port, '/b.html')
        T.wait_for(lambda: stats(s)['admitted'] == 1, 5,
                   'admitted on its first request')


def test_request_rules():
    cases = [
        ('query', '/a.html?x=1', {}),
        ('authorization', '/a.html', {'Authorization': 'Basic YTpi'}),
        ('cookie', '/a.html', {'Cookie': 'a=b'}),
        ('range', '/a.html', {'Range': 'bytes=0-1'}),
        ('range', '/a.html', {'If-Range': '"x"'}),
        ('off', '/nocache/x.html', {}),
    ]
    with server() as s:
        for reason, path, hdrs in cases:
            before = stats(s)['refused'].get(reason, 0)
            for _ in range(3):
                r = T.get(s.port, path, headers=hdrs)
                assert r.status in (200, 206), (path, hdrs, r.status)
                assert not is_hit(r), (path, hdrs)
            T.wait_for(lambda: stats(s)['refused'].get(reason, 0) ==
                       before + 3, 5, '%s counted for %s %r'
                       % (reason, path, hdrs))
        T.assert_eq(stats(s)['entries'], 0, 'nothing admitted')
        # A cached URL is not answered from the cache to such requests.
        warm(s, '/a.html')
        for _, path, hdrs in cases[1:5]:
            r = T.get(s.port, '/a.html', headers=hdrs)
            assert not is_hit(r), 'a hit for %r' % hdrs
    with server('allow_query = true  allow_cookies = true') as s:
        warm(s, '/a.html?x=1')
        r = T.get(s.port, '/a.html?x=2')
        assert not is_hit(r), 'the query is part of the key'
        warm(s, '/b.html', headers={'Cookie': 'a=b'})


def test_changed_files_never_stale():
    with server() as s:
        for p in ('/c.html', '/d.html', '/e.html', '/dir/'):
            warm(s, p)
        with open(s.path('c.html'), 'w') as f:
            f.write('version two, longer\n')
        os.unlink(s.path('d.html'))
        tmp = s.path('e.tmp')
        with open(tmp, 'w') as f:
            f.write('new inode\n')
        os.rename(tmp, s.path('e.html'))
        with open(s.path('dir/index.html'), 'w') as f:
            f.write('a new index\n')
        time.sleep(1.0)
        cont = stopped_workers(s)
        try:
            # Nothing of these may be a hit now: each waits for a worker.
            for p in ('/c.html', '/d.html', '/e.html', '/dir/'):
                with T.Client(s.port) as c:
                    c.send(T.req('GET', p))
                    assert c.is_quiet(0.3), '%s answered from the cache ' \
                        'a second after its file changed' % p
        finally:
            cont()
        T.assert_eq(T.get(s.port, '/c.html').body, b'version two, longer\n',
                    'modified')
        T.assert_eq(T.get(s.port, '/d.html').status, 404, 'deleted')
        T.assert_eq(T.get(s.port, '/e.html').body, b'new inode\n',
                    'renamed over')
        T.assert_eq(T.get(s.port, '/dir/').body, b'a new index\n', 'index')
        warm(s, '/c.html')
        T.assert_eq(T.get(s.port, '/c.html').body, b'version two, longer\n',
                    'the new version cached')


def test_directory_swapped_above_a_file():
    """A deploy that swaps a directory: the cached file itself is not
    touched, inotify on it says nothing; the path is looked up again
    every second and leads elsewhere now."""
    with server() as s:
        warm(s, '/rel/v.html')
        os.rename(s.path('rel'), s.path('rel.old'))
        os.mkdir(s.path('rel'))
        with open(s.path('rel/v.html'), 'w') as f:
            f.write('release two\n')
        time.sleep(2.2)
        cont = stopped_workers(s)
        try:
            with T.Client(s.port) as c:
                c.send(T.req('GET', '/rel/v.html'))
                assert c.is_quiet(0.3), 'the old release served from ' \
                    'the cache after its directory was swapped'
        finally:
            cont()
        T.assert_eq(T.get(s.port, '/rel/v.html').body, b'release two\n',
                    'the new release')


def test_memory_cap():
    files = dict(('f%d.bin' % i, bytes([i]) * 10000) for i in range(12))
    with server('max_memory = "64K"  max_entry_size = "16K"',
                files=files) as s:
        for i in range(12):
            warm(s, '/f%d.bin' % i)
            st = stats(s)
            assert st['memory'] <= 65536, st
        st = stats(s)
        assert 1 <= st['entries'] <= 6, st
        for i in range(12):
            r = T.get(s.port, '/f%d.bin' % i)
            T.assert_eq(r.body, bytes([i]) * 10000, 'f%d.bin' % i)
    big = {'big.bin': b'x' * 20000}
    with server('max_entry_size = "16K"', files=big) as s:
        for _ in range(3):
            assert not is_hit(T.get(s.port, '/big.bin'))
        T.wait_for(lambda: stats(s)['refused'].get('size', 0) >= 1, 5,
                   'refused: size')


def test_ttl_and_scavenger():
    with server('max_ttl = "1s"') as s:
        warm(s, '/a.html')
        time.sleep(1.2)
        assert not is_hit(T.get(s.port, '/a.html')), 'expired entry served'
    with server('scavenger_period = "1s"') as s:
        warm(s, '/a.html')
        T.wait_for(lambda: stats(s)['entries'] == 0, 5,
                   'the scavenger to drop an entry not hit')


def test_purge():
    with server() as s:
        for p in ('/a.html', '/b.html', '/c.html'):
            warm(s, p)
        T.assert_eq(ctl(s, 'purge', '/a.html'), 'purged 1 entries\n',
                    'purge /a.html')
        # Answered once the listener serves it no more: at once a miss.
        assert not is_hit(T.get(s.port, '/a.html')), 'purged, still served'
        assert is_hit(T.get(s.port, '/b.html')), '/b.html purged too'
        T.assert_eq(ctl(s, 'purge', 'http://localhost/b.html'),
                    'purged 1 entries\n', 'purge by URL')
        assert not is_hit(T.get(s.port, '/b.html'))
        T.assert_eq(ctl(s, 'purge', 'http://otherhost/c.html'),
                    'purged 0 entries\n', 'purge of another host')
        T.assert_eq(ctl(s, 'purge', 'nosuchsite'), 'purged 0 entries\n',
                    'purge of another site')
        # Asked again within activity_period, the two came back.
        T.wait_for(lambda: stats(s)['entries'] == 3, 5, 'three entries')
        T.assert_eq(ctl(s, 'purge', 's'), 'purged 3 entries\n',
                    'purge the site')
        assert not is_hit(T.get(s.port, '/c.html'))
        T.wait_for(lambda: stats(s)['entries'] == 1, 5, 'one entry')
        T.assert_eq(ctl(s, 'purge', 'all'), 'purged 1 entries\n', 'all')
        T.assert_eq(stats(s)['entries'], 0, 'entries after purge all')
        assert not is_hit(T.get(s.port, '/c.html'))


def test_listener_serves_on_without_cached():
    """hsd-cached gone (and the pool manager held, so no new one comes):
    the listener answers what it has mapped; the next hsd-cached starts
    empty and the listener drops its index for it."""
    with server() as s:
        warm(s, '/1k.bin')
        (cached,) = s.children('hsd-cached')
        os.kill(s.pid, signal.SIGSTOP)
        try:
            T.kill_quietly(cached)
            T.wait_for(lambda: not T.alive(cached) or
                       T.proc_stat(cached)[1] == 'Z', 5, 'hsd-cached gone')
            cont = stopped_workers(s)
            try:
                for _ in range(3):
                    r = T.get(s.port, '/1k.bin')
                    T.assert_eq((r.body, is_hit(r)), (ONE_K, True),
                                'a hit with no hsd-cached')
            finally:
                cont()
        finally:
            os.kill(s.pid, signal.SIGCONT)
        T.wait_for(lambda: s.children('hsd-cached') not in ([], [cached]),
                   10, 'a new hsd-cached')
        T.wait_for(lambda: not is_hit(T.get(s.port, '/1k.bin')), 5,
                   'the index dropped for the new hsd-cached')
        warm(s, '/1k.bin')


def test_cache_killed_under_load():
    wrk = T.need_program('wrk')
    with server() as s:
        warm(s, '/1k.bin')
        w = T.wrk_killing(wrk, ['-t2', '-c50', '-d5s'],
                          'http://127.0.0.1:%d/1k.bin' % s.port,
                          s.path('1k.bin'), 0.7,
                          lambda: s.children('hsd-cached'), timeout=40)
        out, kills = w['out'], w['kills']
        T.assert_eq(w['rc'], 0, 'wrk exit status')
        assert len(kills) >= 3, 'hsd-cached killed %d times' % len(kills)
        assert not re.search(r'Socket errors', out), 'socket errors'
        assert not re.search(r'Non-2xx', out), 'non-2xx responses'
        m = re.search(r'bad (\d+) total (\d+)', out)
        assert m and int(m.group(1)) == 0 and int(m.group(2)) > 0, \
            'bad bodies: %r' % (m and m.groups())
        print('# hsd-cached killed %d times; %s requests' %
              (len(kills), m.group(2)))
        # A new one starts empty, and fills again.
        warm(s, '/1k.bin')


if __name__ == '__main__':
    T.main()
