"""
Configuration checking: a bad file is rejected with exit status 1 and a
message naming FILE:LINE and the key, before anything is bound or started;
-t checks a file without starting anything; the defaults (pool "default"
exists without being declared); the cache's keys are checked the same and
every process starts with them written.
"""

import os
import re
import shutil
import socket
import sys
import tempfile

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import hsdtest as T  # noqa: E402


class Holder:
    """A temp dir and a loopback port we hold listening ourselves: if
    hsd-poolmgr tried to bind it before rejecting the file, bind() would
    fail and it would say so instead of naming the config error."""

    def __init__(self):
        self.dir = tempfile.mkdtemp(prefix='hsd-e2e-conf-')
        self.sock = socket.socket()
        self.sock.bind(('127.0.0.1', 0))
        self.sock.listen(1)
        self.port = self.sock.getsockname()[1]
        self.root = os.path.join(self.dir, 'www')
        os.makedirs(self.root)

    def conf(self, body, name='hsd.conf'):
        body = body.replace('@PORT@', str(self.port))
        body = body.replace('@ROOT@', self.root)
        return T.write_conf(self.dir, body, name)

    def close(self):
        self.sock.close()
        shutil.rmtree(self.dir, ignore_errors=True)


def rejected(body, line, key, also=(), args=()):
    """body must be rejected: status 1, "FILE:LINE" and key on stderr,
    nothing started, no pid file, our port untouched."""
    h = Holder()
    try:
        path = h.conf(body)
        rc, out, spawned = T.run_poolmgr(path, args)
        print('#   %s -> %d: %s' % (key, rc, out.strip().replace('\n', ' | ')))
        T.assert_eq(rc, 1, 'exit status for a bad %s' % key)
        assert path in out, 'message does not name the file %s: %r' \
            % (path, out)
        lines = line if isinstance(line, (list, tuple)) else [line]
        assert any('%s:%d' % (path, n) in out for n in lines), \
            'message does not name %s:%s: %r' % (path, lines, out)
        assert re.search(r'\b%s\b' % key, out), \
            'message does not name the key %r: %r' % (key, out)
        for a in also:
            assert a in out, 'message does not mention %r: %r' % (a, out)
        assert not spawned, 'processes were started: %r' % spawned
        assert 'in use' not in out.lower(), \
            'it tried to bind the port before rejecting the file: %r' % out
        assert not os.path.exists(os.path.join(h.dir, 'run',
                                               'hsd-poolmgr.pid')), \
            'pid file written for a rejected config'
        # Our listening socket still owns the port: nothing took it.
        c = socket.create_connection(('127.0.0.1', h.port), timeout=2)
        a, _ = h.sock.accept()
        a.close()
        c.close()
    finally:
        h.close()


GOOD = '''pool "default" {
	workers = 1
}
site "s" {
	bindings = {"127.0.0.1:@PORT@"}
	root = "@ROOT@"
}
'''


def test_unknown_key():
    rejected('pool "default" {\n'
             '\tworkers = 1\n'
             '\tbogus_key = 3\n'
             '}\n'
             'site "s" {\n'
             '\tbindings = {"127.0.0.1:@PORT@"}\n'
             '\troot = "@ROOT@"\n'
             '}\n', 3, 'bogus_key')


def test_unknown_top_level_key():
    rejected(GOOD + 'frobnicate = "yes"\n', 8, 'frobnicate')


def test_bad_duration():
    rejected('limits {\n'
             '\tmax_connections = 10\n'
             '\theader_wait_timeout = "12x"\n'
             '}\n' + GOOD, 3, 'header_wait_timeout', also=('12x',))


def test_bad_top_duration():
    rejected(GOOD + 'shutdown_timeout = "12x"\n', 8, 'shutdown_timeout')


def test_bad_size():
    rejected('limits {\n'
             '\tmax_request_bytes = "16Q"\n'
             '}\n' + GOOD, 2, 'max_request_bytes')


def test_limits_too_big_for_a_handoff():
    # Each within its range, too big together: -t says so, naming both
    # keys, instead of a listener that refuses to start later.
    body = ('limits {\n'
            '\tmax_request_bytes = "64K"\n'
            '\tmax_field_length = "64K"\n'
            '}\n' + GOOD)
    rejected(body, 3, 'max_field_length', also=('max_request_bytes',),
             args=('-t',))
    rejected(body, 3, 'max_field_length', also=('max_request_bytes',))


def test_unknown_pool():
    # The site is written on one line: whether the message points at the
    # option or at its section, it is this line.
    rejected('pool "default" { workers = 1 }\n'
             '\n'
             'site "s" { bindings = {"127.0.0.1:@PORT@"} root = "@ROOT@" '
             'pool = "nosuch" }\n', 3, 'pool', also=('nosuch',))


def test_unknown_pool_in_application():
    rejected('site "s" {\n'
             '\tbindings = {"127.0.0.1:@PORT@"}\n'
             '\troot = "@ROOT@"\n'
             '\tapplication "/api" { pool = "nosuch" }\n'
             '}\n', 4, 'pool', also=('nosuch',))


def test_duplicate_binding():
    rejected('site "a" { bindings = {"127.0.0.1:@PORT@"} root = "@ROOT@" }\n'
             'site "b" { bindings = {"127.0.0.1:@PORT@"} root = "@ROOT@" }\n',
             [1, 2], 'bindings?')


def test_missing_root():
    rejected('pool "default" { workers = 1 }\n'
             'site "s" { bindings = {"127.0.0.1:@PORT@"} }\n', 2, 'root')


def test_bad_binding():
    rejected('site "s" {\n'
             '\troot = "@ROOT@"\n'
             '\tbindings = {"nope:80"}\n'
             '}\n', [1, 3], 'bindings?', also=('nope:80',))


def test_bad_cache_values():
    # The cache section and a site's cache key are checked like the
    # rest, with -t and at start alike.
    rejected('cache {\n'
             '\tenabled = true\n'
             '\tmax_header_size = "100"\n'
             '}\n' + GOOD, 3, 'max_header_size', also=('256..65536',))
    rejected('cache {\n'
             '\tmax_memory = "1M"\n'
             '\tmax_entry_size = "2M"\n'
             '}\n' + GOOD, 3, 'max_entry_size', also=('max_memory',),
             args=('-t',))
    rejected('cache { max_ttl = "0" }\n' + GOOD, 1, 'max_ttl')
    rejected(GOOD + 'site "t" {\n'
             '\tbindings = {"127.0.0.1:@PORT@:t.example"}\n'
             '\troot = "@ROOT@"\n'
             '\tcache = "sometimes"\n'
             '}\n', 11, 'cache')


def test_bad_ones_with_t():
    # -t rejects the same way.
    rejected(GOOD + 'frobnicate = "yes"\n', 8, 'frobnicate', args=('-t',))


def test_missing_file():
    h = Holder()
    try:
        path = os.path.join(h.dir, 'no-such.conf')
        rc, out, spawned = T.run_poolmgr(path)
        T.assert_eq(rc, 1, 'exit status for a missing file')
        assert path in out, 'message does not name %s: %r' % (path, out)
        assert not spawned, 'processes were started: %r' % spawned
    finally:
        h.close()


def test_check_good_file():
    h = Holder()
    try:
        path = h.conf(GOOD)
        rc, out, spawned = T.run_poolmgr(path, ['-t'])
        T.assert_eq(rc, 0, 'exit status of -t on a good file (%r)' % out)
        assert '%s: configuration ok' % path in out, \
            'no "%s: configuration ok" in %r' % (path, out)
        assert not spawned, '-t started processes: %r' % spawned
        assert not os.path.exists(os.path.join(h.dir, 'run',
                                               'hsd-poolmgr.pid')), \
            '-t wrote a pid file'
    finally:
        h.close()


def test_check_full_example():
    # Every key of the documented example, with sizes and durations in
    # each accepted form.
    h = Holder()
    try:
        os.makedirs(os.path.join(h.dir, 'api'))
        path = h.conf('''shutdown_timeout = "10s"
limits {
	max_connections = 10000
	connection_timeout = 120
	header_wait_timeout = "500ms"
	max_request_bytes = "16K"
	max_field_length = 16384
	entity_body_timeout = "2m"
	min_body_rate = 240
	min_send_rate = 0
}
pool "default" { workers = 2  queue_length = 1000  concurrency = 64 }
pool "other" { workers = 1 }
site "default" {
	bindings = {"*:@PORT@", "127.0.0.1:@PORT@:www.example.org"}
	root = "@ROOT@"
	pool = "default"
	max_body_size = "30M"
	cache = true
	application "/api" { pool = "other"  root = "%s/api"  max_body_size = 0
			     cache = false }
	application "/app" { pool = "other" }
}
cache {
	enabled = true
	max_memory = "64M"
	max_entry_size = "256K"
	max_header_size = "1K"
	activity_period = "10s"
	scavenger_period = "120s"
	max_ttl = "1h"
	allow_query = false
	allow_cookies = false
}
''' % h.dir)
        rc, out, _ = T.run_poolmgr(path, ['-t'])
        T.assert_eq(rc, 0, 'exit status of -t on the example (%r)' % out)
        for dur in ('"90s"', '"20m"', '"29h"', '"2d"', '30'):
            p2 = h.conf(GOOD + 'shutdown_timeout = %s\n' % dur, 'd.conf')
            rc, out, _ = T.run_poolmgr(p2, ['-t'])
            T.assert_eq(rc, 0, 'shutdown_timeout = %s rejected (%r)'
                        % (dur, out))
        p3 = h.conf('limits { max_request_bytes = "32K" }\n' + GOOD, 's.conf')
        rc, out, _ = T.run_poolmgr(p3, ['-t'])
        T.assert_eq(rc, 0, 'max_request_bytes = "32K" rejected (%r)' % out)
    finally:
        h.close()


def test_cache_keys_reach_every_process():
    # Every process parses the same text: the listener and the workers
    # start, and serve, with the cache section and the per-site and
    # per-application keys written.
    conf = ('cache {\n'
            '\tenabled = false\n'
            '\tmax_memory = "1G"\n'
            '\tmax_entry_size = "1M"\n'
            '\tmax_header_size = "2K"\n'
            '\tactivity_period = "0"\n'
            '\tscavenger_period = "30s"\n'
            '\tmax_ttl = "10m"\n'
            '\tallow_query = yes\n'
            '\tallow_cookies = on\n'
            '}\n'
            'site "s" {\n'
            '\tbindings = {"127.0.0.1:@PORT@"}\n'
            '\troot = "@ROOT@"\n'
            '\tcache = off\n'
            '\tapplication "/app" { cache = on }\n'
            '}\n')
    with T.Server(conf, files={'index.html': 'cachekeys\n',
                               'app/x.txt': 'app\n'}) as s:
        r = T.wait_for(lambda: _ok(s.port), 10, 'a 200 for /')
        T.assert_eq(r.body, b'cachekeys\n', 'body of /')
        r = T.get(s.port, '/app/x.txt')
        T.assert_eq((r.status, r.body), (200, b'app\n'), '/app/x.txt')


def test_implicit_default_pool():
    # No pool declared anywhere; the site names "default" explicitly.
    conf = ('site "s" {\n'
            '\tbindings = {"127.0.0.1:@PORT@"}\n'
            '\troot = "@ROOT@"\n'
            '\tpool = "default"\n'
            '}\n')
    with T.Server(conf, files={'index.html': 'implicit\n'}) as s:
        r = T.wait_for(lambda: _ok(s.port), 10, 'a 200 for /')
        T.assert_eq(r.body, b'implicit\n', 'body')
        ws = T.wait_for(s.workers, 10, 'hsd-worker children')
        pools = set(p for p, _ in ws.values())
        T.assert_eq(pools, {'0'}, 'pool index of the workers (argv -p)')


def test_site_without_pool():
    conf = ('site "s" { bindings = {"127.0.0.1:@PORT@"} root = "@ROOT@" }\n')
    with T.Server(conf, files={'index.html': 'nopool\n'}) as s:
        r = T.wait_for(lambda: _ok(s.port), 10, 'a 200 for /')
        T.assert_eq(r.body, b'nopool\n', 'body')
        assert s.workers(), 'no hsd-worker children'


def test_default_pool_configured():
    conf = ('pool "default" { workers = 3 }\n'
            'site "s" { bindings = {"127.0.0.1:@PORT@"} root = "@ROOT@" }\n')
    with T.Server(conf, files={'index.html': 'x'}, workers=3) as s:
        ws = s.workers()
        T.assert_eq(len(ws), 3, 'workers')
        T.assert_eq(sorted(set(p for p, _ in ws.values())), ['0'],
                    'pool indexes')
        T.assert_eq(len(set(w for _, w in ws.values())), 3,
                    'distinct worker ids (argv -w)')


def test_default_limits():
    # max_field_length and max_request_bytes default to 16384: a 10000
    # byte header passes, a 20000 byte one does not.
    conf = ('pool "default" { workers = 1 }\n'
            'site "s" { bindings = {"127.0.0.1:@PORT@"} root = "@ROOT@" }\n')
    with T.Server(conf, files={'a.txt': 'a'}, workers=1) as s:
        r = T.get(s.port, '/a.txt', headers={'X-Pad': 'p' * 10000})
        T.assert_eq(r.status, 200, 'status with a 10000-byte header')
        with T.Client(s.port) as c:
            r = c.request('GET', '/a.txt', headers={'X-Pad': 'p' * 20000})
            T.assert_listener_error(c, r, 431)


def _ok(port):
    try:
        r = T.get(port, '/')
    except OSError:
        return None
    return r if r.status == 200 else None


if __name__ == '__main__':
    T.main()
