"""
Routing: binding + Host picks the site (named host beats none, port and
case of Host ignored, no match is a 400), the longest application prefix
on a segment boundary picks the pool, and an application's own root maps
its prefix away.  That a request really went to the other pool is seen by
stopping one pool's workers: only that pool's requests wait.
"""

import os
import signal
import sys

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import hsdtest as T  # noqa: E402

# Port 1: two named sites only.  Port 2: a named site and a fallback.
# Tests count both pools' workers: they start with the server.
CONF = '''pool "default" { workers = 1  start = "always" }
pool "api" { workers = 1  start = "always" }
site "a" {
	bindings = {"127.0.0.1:@PORT@:a.example", "127.0.0.1:@PORT2@:a.example"}
	root = "@ROOT@"
	application "/api" { pool = "api"  root = "@API@" }
	application "/noroot" { pool = "api" }
}
site "b" {
	bindings = {"127.0.0.1:@PORT@:b.example"}
	root = "@B@"
}
site "c" {
	bindings = {"127.0.0.1:@PORT2@"}
	root = "@C@"
}
'''

ROOTS = {
    'ROOT': {'who.txt': 'site a\n', 'apix.txt': 'apix in a\n',
             'x.txt': 'x in a\n', 'noroot/n.txt': 'noroot in a\n',
             'api.txt': 'api.txt in a\n'},
    'API': {'who.txt': 'api app\n', 'x.txt': 'x in api\n',
            'index.html': 'api index\n'},
    'B': {'who.txt': 'site b\n'},
    'C': {'who.txt': 'site c\n'},
}


def server():
    return T.Server(CONF, roots=ROOTS, nports=2, workers=2,
                    ready_host='a.example')


def body_of(port, path, host):
    r = T.get(port, path, host=host)
    T.assert_eq(r.status, 200, 'status of %s with Host %s' % (path, host))
    return r.body


def test_host_routing():
    with server() as s:
        p = s.port
        T.assert_eq(body_of(p, '/who.txt', 'a.example'), b'site a\n', 'a')
        T.assert_eq(body_of(p, '/who.txt', 'b.example'), b'site b\n', 'b')
        T.assert_eq(body_of(p, '/who.txt', 'A.EXAMPLE'), b'site a\n',
                    'uppercase Host')
        T.assert_eq(body_of(p, '/who.txt', 'b.example:%d' % p), b'site b\n',
                    'Host with port')
        T.assert_eq(body_of(p, '/who.txt', 'B.Example:80'), b'site b\n',
                    'Host with another port and mixed case')


def test_no_matching_host():
    with server() as s:
        for host in ('c.example', 'a.example.org', 'example'):
            with T.Client(s.port) as c:
                r = c.request('GET', '/who.txt', host=host)
                T.assert_listener_error(c, r, 400)
        # HTTP/1.0 without Host matches no named site either.
        with T.Client(s.port) as c:
            c.send(b'GET /who.txt HTTP/1.0\r\n\r\n')
            T.assert_listener_error(c, c.response(), 400)


def test_fallback_site():
    with server() as s:
        p = s.ports[1]
        T.assert_eq(body_of(p, '/who.txt', 'a.example'), b'site a\n',
                    'named host on port 2')
        T.assert_eq(body_of(p, '/who.txt', 'zzz.example'), b'site c\n',
                    'fallback on port 2')
        T.assert_eq(body_of(p, '/who.txt', 'b.example'), b'site c\n',
                    'b.example is not bound on port 2')
        with T.Client(p) as c:
            c.send(b'GET /who.txt HTTP/1.0\r\n\r\n')
            r = c.response()
            T.assert_eq(r.status, 200, 'HTTP/1.0 without Host on port 2')
            T.assert_eq(r.body, b'site c\n', 'HTTP/1.0 without Host')


def test_keepalive_across_hosts():
    # Each request on one connection is routed by its own Host.
    with server() as s, T.Client(s.port) as c:
        for host, body in (('a.example', b'site a\n'),
                           ('b.example', b'site b\n'),
                           ('a.example', b'site a\n')):
            r = c.request('GET', '/who.txt', host=host)
            T.assert_eq(r.body, body, 'body for %s' % host)


def test_application_root():
    with server() as s:
        p = s.port
        T.assert_eq(body_of(p, '/api/who.txt', 'a.example'), b'api app\n',
                    '/api/who.txt')
        T.assert_eq(body_of(p, '/api/x.txt', 'a.example'), b'x in api\n',
                    '/api/x.txt')
        T.assert_eq(body_of(p, '/api/', 'a.example'), b'api index\n',
                    '/api/')
        T.assert_eq(body_of(p, '/x.txt', 'a.example'), b'x in a\n',
                    '/x.txt')
        # Segment boundary: /apix.txt and /api.txt are not under /api.
        T.assert_eq(body_of(p, '/apix.txt', 'a.example'), b'apix in a\n',
                    '/apix.txt')
        T.assert_eq(body_of(p, '/api.txt', 'a.example'), b'api.txt in a\n',
                    '/api.txt')
        # Without its own root, an application maps into the site's root.
        T.assert_eq(body_of(p, '/noroot/n.txt', 'a.example'),
                    b'noroot in a\n', '/noroot/n.txt')
        # Site b has no applications.
        r = T.get(p, '/api/who.txt', host='b.example')
        T.assert_eq(r.status, 404, '/api/who.txt on site b')


def _pending(port, path, host):
    c = T.Client(port, timeout=10)
    c.send(T.req('GET', path, host=host))
    return c


def test_pools_are_separate():
    """Stopping one pool's worker holds exactly that pool's requests."""
    with server() as s:
        groups = {}
        for pid, (pool, _) in s.workers().items():
            groups.setdefault(pool, []).append(pid)
        T.assert_eq(len(groups), 2, 'pools with workers (%r)' % groups)
        blocked = []
        for pool, pids in sorted(groups.items()):
            for pid in pids:
                os.kill(pid, signal.SIGSTOP)
            try:
                site = _pending(s.port, '/who.txt', 'a.example')
                app = _pending(s.port, '/api/who.txt', 'a.example')
                noroot = _pending(s.port, '/noroot/n.txt', 'a.example')
                try:
                    # Whichever is not held answers at once.
                    T.wait_for(lambda: site.readable() or app.readable(),
                               5, 'an answer from the running pool')
                    waiting = [n for n, c in (('site', site), ('app', app),
                                              ('noroot', noroot))
                               if c.is_quiet(0.5)]
                    blocked.append(tuple(waiting))
                finally:
                    for pid in pids:
                        os.kill(pid, signal.SIGCONT)
                # Once running again, everything is answered.
                T.assert_eq(site.response().body, b'site a\n', 'site body')
                T.assert_eq(app.response().body, b'api app\n', 'app body')
                T.assert_eq(noroot.response().body, b'noroot in a\n',
                            'noroot body')
                site.close()
                app.close()
                noroot.close()
            finally:
                for pid in pids:
                    T.kill_quietly(pid, signal.SIGCONT)
        T.assert_eq(sorted(blocked), [('app', 'noroot'), ('site',)],
                    'requests held when each pool was stopped')


if __name__ == '__main__':
    T.main()
