"""
Handler modules (handler = "module", <hsd/module.h>), with the example
module modules/hello: its greeting from module_args and the name from the
query, one init() per file and argument list; the request as the
accessors show it; a status and fields of its own, and those refused;
request bodies (Content-Length, chunked, 2 MB, 100-continue) streamed to
body(); a timer answering later while the worker serves others; 1 MiB
streamed, paced by the client through hsd_resp_on_drain(); cgi_timeout
aborting a module that never answers; a module that crashes its worker:
the GET is handed to the next worker, which it crashes too, until the
listener gives up with 502, and the pool serves on; files that are no
module (missing, another API, no request function, no hsd_module, an
init() that refuses) stop the worker at start, logged by name, and
rapid-fail protection takes their pool offline; a reload that changes
module_args recycles the pool; and a module built out of the tree
against the installed header with pkg-config.
"""

import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import hsdtest as T  # noqa: E402

HELLO = os.path.join(T.BUILDDIR, 'modules', 'hello', 'hello.so')
HSDCTL = os.path.join(T.BUILDDIR, 'hsdctl')

CONF = '''pool "default" { workers = 1 }
pool "mods" { workers = 1  start = "always"  rapid_fail_max = 20
	       shutdown_timeout = "1s" }
site "s" {
	bindings = {"127.0.0.1:@PORT@"}
	root = "@ROOT@"
	application "/m" { pool = "mods"  handler = "module"
			   module = "@HELLO@"  module_args = {"greeting=Hi"}
			   max_body_size = 4000000 }
	application "/plain" { pool = "mods"  handler = "module"
			       module = "@HELLO@" }
	application "/short" { pool = "mods"  handler = "module"
			       module = "@HELLO@"  module_args = {"greeting=Hi"}
			       cgi_timeout = "1s" }
	application "/hold" { pool = "mods"  handler = "module"
			      module = "@HELLO@"  module_args = {"greeting=Hi"}
			      cgi_timeout = "3s" }
	application "/files" { pool = "mods" }
}
'''

FILES = {'index.html': 'static\n', 'files/f.txt': 'a file\n'}


def conf(text=CONF, hello=HELLO):
    return text.replace('@HELLO@', hello)


def server(text=CONF, **kw):
    if not os.path.exists(HELLO):
        raise AssertionError('%s is not built' % HELLO)
    return T.Server(conf(text), files=FILES, **kw)


def ask(c, *a, **kw):
    kw.setdefault('chunked', True)
    return c.request(*a, **kw)


def fnv(data):
    """FNV-1a, 64 bits, as hello computes it over a body."""
    h = 0xcbf29ce484222325
    for b in data:
        h = ((h ^ b) * 0x100000001b3) & 0xffffffffffffffff
    return h


def digest(data):
    return b'%d %016x\n' % (len(data), fnv(data))


def fields(body):
    out = {}
    for line in body.decode().splitlines():
        k, _, v = line.partition('=')
        out.setdefault(k, v)
    return out


def test_hello_args_and_query():
    with server() as s, T.Client(s.port) as c:
        r = ask(c, 'GET', '/m/')
        T.assert_eq((r.status, r.body), (200, b'Hi, world\n'), 'greeting')
        T.assert_eq((r.header('Content-Length'), r.header('Content-Type')),
                    ('10', 'text/plain; charset=utf-8'),
                    'whole at its end: a Content-Length')
        r = ask(c, 'GET', '/m/x/y?name=Bob%20B&z=1')
        T.assert_eq(r.body, b'Hi, Bob B\n', 'name from the query')
        r = ask(c, 'GET', '/plain/?name=Al')
        T.assert_eq(r.body, b'Hello, Al\n', 'no arguments: the default')
        r = ask(c, 'GET', '/short/')
        T.assert_eq(r.body, b'Hi, world\n', 'the same arguments')
        r = ask(c, 'HEAD', '/m/')
        T.assert_eq((r.status, r.body), (200, b''), 'HEAD')
        T.assert_eq(ask(c, 'GET', '/files/f.txt').body, b'a file\n',
                    'a static application of the same pool')
        T.assert_eq(ask(c, 'GET', '/m/?name=again').body, b'Hi, again\n',
                    'the connection goes on')
        # Pipelined: both answered, in order.
        c.send(T.req('GET', '/m/?name=one') + T.req('GET', '/m/?name=two'))
        T.assert_eq((c.response(chunked=True).body,
                     c.response(chunked=True).body),
                    (b'Hi, one\n', b'Hi, two\n'), 'pipelined')
        # One init() per file and argument list: /m and /short share one.
        T.wait_for(lambda: s.log().count('hello: ready') == 2, 5, 'inits')
        T.assert_eq(s.log().count('hello: ready, greeting "Hi"'), 1,
                    'greeting Hi initialised once')
        T.assert_eq(s.log().count('hello: ready, greeting "Hello"'), 1,
                    'greeting Hello initialised once')


def test_request_accessors():
    with server() as s, T.Client(s.port) as c:
        r = ask(c, 'GET', '/m/a/./b/../c%20d/echo?x=1&y=%41',
                headers={'X-Test': '  spaced value  ', 'X-Other': 'o'})
        f = fields(r.body)
        want = {
            'method': 'GET',
            'path': '/m/a/c d/echo',
            'query': 'x=1&y=%41',
            'remote': '127.0.0.1',
            'content-length': '0',
            'x-test': 'spaced value',
            'fields': '3',
        }
        for k, v in want.items():
            T.assert_eq(f.get(k), v, k)
        T.assert_eq([ln for ln in r.body.decode().splitlines()
                     if ln.startswith('field=')],
                    ['field=Host: localhost', 'field=X-Test: spaced value',
                     'field=X-Other: o'], 'the fields in order')
        r = ask(c, 'POST', '/m/echo', body=b'12345')
        T.assert_eq((fields(r.body)['method'],
                     fields(r.body)['content-length'],
                     fields(r.body)['query']), ('POST', '5', '(none)'),
                    'POST, its length, no query')
        c.send(b'POST /m/echo HTTP/1.1\r\nHost: x\r\n'
               b'Transfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n')
        T.assert_eq(fields(c.response(chunked=True).body)['content-length'],
                    '-1', 'chunked: unknown length')


def test_status_and_fields():
    with server() as s, T.Client(s.port) as c:
        r = ask(c, 'GET', '/m/headers')
        T.assert_eq((r.status, r.reason, r.body),
                    (201, 'Made Here', b'refused 6\n'), 'status and body')
        T.assert_eq(r.header('X-Module'), 'hello', 'a field, trimmed')
        T.assert_eq([v for k, v in r.header_list if k == 'Set-Cookie'],
                    ['a=1', 'b=2'], 'a field twice')
        T.assert_eq([k for k, _ in r.header_list
                     if k in ('X-Injected', 'Bad Name', 'X-Split')], [],
                    'refused fields not sent')
        T.assert_eq(r.header('Connection'), None, 'Connection is hsd\'s')
        T.assert_eq(r.header('Content-Length'), '10', 'its length')
        # Once 64 KiB are written the head is settled: later fields and
        # statuses are refused (the module ended before the loop's next
        # turn, so the response went out whole all the same).
        r = ask(c, 'GET', '/m/late')
        T.assert_eq((r.status, r.header('X-Late')), (200, None), 'late')
        T.assert_eq(r.body, b'x' * 70000 +
                    b'\nlate field: -1, late status: -1\n', 'late body')
        T.assert_eq(ask(c, 'GET', '/m/').body, b'Hi, world\n', 'goes on')


def test_request_bodies():
    with server() as s:
        with T.Client(s.port) as c:
            r = ask(c, 'POST', '/m/', body=b'k=v1&z=2')
            T.assert_eq(r.body, digest(b'k=v1&z=2'), 'small body')
            body = os.urandom(2000000)
            r = ask(c, 'POST', '/m/upload', body=body,
                    headers={'Content-Type': 'application/octet-stream'})
            T.assert_eq(r.body, digest(body), '2 MB body')
            # Chunked, in pieces the client sends as it likes.
            c.send(b'POST /m/ HTTP/1.1\r\nHost: x\r\n'
                   b'Transfer-Encoding: chunked\r\n\r\n')
            for i in range(0, len(body), 300000):
                part = body[i:i + 300000]
                c.send(b'%x\r\n%s\r\n' % (len(part), part))
            c.send(b'0\r\n\r\n')
            T.assert_eq(c.response(chunked=True).body, digest(body),
                        'chunked body')
            # 100-continue: the interim answer before the body is sent.
            c.send(b'POST /m/ HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n'
                   b'Expect: 100-continue\r\n\r\n')
            T.assert_eq(c.response(chunked=True).status, 100, 'interim')
            c.send(b'hello')
            T.assert_eq(c.response(chunked=True).body, digest(b'hello'),
                        'after 100 Continue')
            T.assert_eq(ask(c, 'GET', '/m/').body, b'Hi, world\n',
                        'the connection goes on')
        # Over the application's max_body_size, chunked: 413, and the
        # module is told its request is gone.
        with T.Client(s.port) as c:
            T.assert_eq(T.post_chunked(c, '/m/').status, 413, 'too large')
        T.wait_for(lambda: 'aborted /m/' in s.log(), 5, 'abort() logged')
        # Answered before the body: the body is not read, the connection
        # ends with the answer.
        with T.Client(s.port) as c:
            c.send(T.req('POST', '/m/early',
                         headers={'Content-Length': '1000000'}) +
                   b'x' * 1000)
            r = c.response(chunked=True)
            T.assert_eq((r.status, r.body, r.header('Connection')),
                        (200, b'early\n', 'close'), 'an early answer')
            c.expect_closed()


def test_timer_does_not_hold_the_worker():
    with server() as s, T.Client(s.port) as slow, T.Client(s.port) as fast:
        # One worker: both requests are its.
        T.assert_eq(len([p for p, (pool, _) in s.workers().items()
                         if pool == '1']), 1, 'the pool\'s one worker')
        t0 = time.monotonic()
        slow.send(T.req('GET', '/m/slow?ms=1500&name=later'))
        fast.send(T.req('GET', '/m/?name=now'))
        r = fast.response(chunked=True)
        T.assert_eq(r.body, b'Hi, now\n', 'the other request')
        T.assert_eq(slow.readable(0), False,
                    'answered before the timer\'s (%.2fs)'
                    % (time.monotonic() - t0))
        r = slow.response(chunked=True)
        T.assert_eq(r.body, b'slow: Hi, later\n', 'the timer\'s answer')
        # The default 100 ms.
        T.assert_eq(ask(slow, 'GET', '/m/slow').body, b'slow: Hi, world\n',
                    'slow')


def big_want():
    return b''.join(bytes([65 + i % 26]) * 16384 for i in range(64))


def test_big_response_paced():
    with server() as s:
        with T.Client(s.port, rcvbuf=65536) as c:
            c.send(T.req('GET', '/m/big'))
            time.sleep(0.5)		# the module waits for the client
            r = c.response(chunked=True)
            T.assert_eq(r.header('Transfer-Encoding'), 'chunked',
                        'streamed, chunked')
            T.assert_eq(len(r.body), 1048576, 'length')
            T.assert_eq(r.body == big_want(), True, 'the bytes')
            r = ask(c, 'GET', '/m/big?length')
            T.assert_eq((r.header('Content-Length'),
                         r.header('Transfer-Encoding')), ('1048576', None),
                        'its own Content-Length')
            T.assert_eq(r.body == big_want(), True, 'the bytes, again')
        # HTTP/1.0: no chunks, the body ends with the connection.
        with T.Client(s.port) as c:
            c.send(T.req('GET', '/m/big', version='HTTP/1.0'))
            r = c.response()
            T.assert_eq((r.header('Transfer-Encoding'), len(r.body)),
                        (None, 1048576), 'HTTP/1.0')
        T.wait_for(lambda: s.log().count('big: 1048576 bytes') == 3, 5,
                   'the module\'s report')
        line = [ln for ln in s.log().splitlines()
                if 'big: 1048576 bytes' in ln][0]
        m = re.search(r'(\d+) waits for the client, at most (\d+) bytes '
                      r'held', line)
        waits, held = int(m.group(1)), int(m.group(2))
        T.assert_eq(waits > 0, True, 'it waited for the client: %r' % line)
        T.assert_eq(held <= 65536, True, 'never more than 64 KiB held: %r'
                    % line)
        # A client that leaves mid-way: the module is told.
        c = T.Client(s.port, rcvbuf=65536)
        # (More than the sockets' buffers take, so that hsd writes
        # after the client left.)
        c.send(T.req('GET', '/m/big?mib=64'))
        c.read_head()
        c.reset()
        T.wait_for(lambda: 'aborted /m/big' in s.log(), 10,
                   'abort() for the client gone')


def test_timeout_aborts():
    with server() as s, T.Client(s.port) as c:
        t0 = time.monotonic()
        r = ask(c, 'GET', '/short/hang', timeout=10)
        T.assert_eq(r.status, 502, 'cgi_timeout before the answer')
        T.assert_eq(time.monotonic() - t0 < 5, True, 'within about 1s')
        T.wait_for(lambda: 'aborted /short/hang' in s.log(), 5,
                   'abort() called')
        assert 'cgi_timeout reached; aborted' in s.log(), s.log()
        T.assert_eq(ask(c, 'GET', '/short/').body, b'Hi, world\n',
                    'the connection goes on')


def test_crash_fails_over():
    with server() as s:
        (first,) = [p for p, (pool, _) in s.workers().items() if pool == '1']
        with T.Client(s.port) as c:
            c.send(T.req('GET', '/m/crash'))
            r = c.response(timeout=20)
            # The GET went to a worker three times (handed on twice):
            # each died, then the listener answered itself.
            T.assert_listener_error(c, r, 502)
        T.wait_for(lambda: s.log().count('killed by signal 6') >= 3, 10,
                   'three workers crashed')
        T.assert_eq(s.log().count('request handed on'), 2, 'handed on twice')
        assert 'died with the request; 502' in s.log(), s.log()
        # A POST is not handed on: one crash, 502.
        with T.Client(s.port) as c:
            c.send(T.req('POST', '/m/crash', body=b'x'))
            T.assert_listener_error(c, c.response(timeout=20), 502)
        T.wait_for(lambda: s.log().count('killed by signal 6') == 4, 10,
                   'the fourth crash')
        # The pool serves on, its module and its files.
        T.assert_eq(T.get(s.port, '/files/f.txt', timeout=20).body,
                    b'a file\n', 'a file of the pool')
        T.assert_eq(T.get(s.port, '/m/?name=after').body, b'Hi, after\n',
                    'the module again')
        T.assert_eq(first in s.workers(), False, 'a new worker')
        T.assert_eq(T.get(s.port, '/').body, b'static\n', 'another pool')


# Modules that are no modules, built here with the installed header.
NOT_A_MODULE = 'int hsd_no_module_here = 1;\n'
WRONG_API = '''#include <hsd/module.h>
static int req(void *c, struct hsd_req *r) { (void)c; return hsd_resp_end(r); }
const struct hsd_module hsd_module = { .api = 99, .name = "future",
    .request = req };
'''
NO_REQUEST = '''#include <hsd/module.h>
const struct hsd_module hsd_module = { .api = HSD_MODULE_API,
    .name = "lazy" };
'''

BAD = '''pool "default" { workers = 1 }
@POOLS@
site "s" {
	bindings = {"127.0.0.1:@PORT@"}
	root = "@ROOT@"
	@APPS@
}
'''


def cc():
    for name in (os.environ.get('CC', ''), 'cc', 'gcc'):
        if name and shutil.which(name):
            return shutil.which(name)
    raise T.Skip('no C compiler to build test modules with')


def build_module(d, name, source, cflags=None):
    src = os.path.join(d, name + '.c')
    out = os.path.join(d, name + '.so')
    with open(src, 'w') as f:
        f.write(source)
    flags = cflags or ['-I' + os.path.join(T.SRCDIR, 'include')]
    subprocess.run([cc(), '-shared', '-fPIC', '-o', out, src] + flags,
                   check=True)
    return out


def test_refused_modules():
    d = tempfile.mkdtemp(prefix='hsd-e2e-mods-')
    try:
        bad = {
            'missing': os.path.join(d, 'nothere.so'),
            'notmod': build_module(d, 'notmod', NOT_A_MODULE),
            'api': build_module(d, 'api', WRONG_API),
            'noreq': build_module(d, 'noreq', NO_REQUEST),
            'fails': HELLO,
        }
        pools = ''.join('pool "%s" { workers = 1  rapid_fail_max = 1 }\n'
                        % k for k in bad)
        apps = ''.join('application "/%s" { pool = "%s"  handler = "module"'
                       '  module = "%s"%s }\n\t' % (
                           k, k, v, '  module_args = {"fail=no database"}'
                           if k == 'fails' else '')
                       for k, v in bad.items())
        text = BAD.replace('@POOLS@', pools).replace('@APPS@', apps)
        with server(text) as s:
            for k in bad:
                with T.Client(s.port) as c:
                    c.send(T.req('GET', '/%s/' % k))
                    T.assert_listener_error(c, c.response(timeout=20), 503)
            log = s.log()
            for line in (
                    'cannot load module %s: %s: cannot open shared object '
                    'file' % (bad['missing'], bad['missing']),
                    '%s is no hsd module: it has no hsd_module symbol'
                    % bad['notmod'],
                    '%s is built for module API 99, this hsd-worker has '
                    'API 1' % bad['api'],
                    '%s (lazy) has no request function' % bad['noreq'],
                    '%s (hello) refused to start: told to fail: no database'
                    % HELLO):
                assert line in log, 'no %r in the log:\n%s' % (line, log)
            for k in bad:
                assert ('pool %s: 1 failures within' % k) in log, log
            # The rest of the server is untouched.
            T.assert_eq(T.get(s.port, '/').body, b'static\n', 'served')
    finally:
        shutil.rmtree(d, ignore_errors=True)


def ctl(s, *args):
    p = subprocess.run([HSDCTL, '-f', s.conf] + list(args),
                       stdin=subprocess.DEVNULL, capture_output=True,
                       text=True, timeout=60)
    return p.returncode, p.stdout, p.stderr


def handed(s, pool):
    """Requests handed to the pool's workers, as hsdctl status says."""
    rc, out, err = ctl(s, 'status', '--json')
    T.assert_eq(rc, 0, 'hsdctl status: ' + err)
    return sum(w['requests'] for p in json.loads(out)['pools']
               if p['name'] == pool for w in p['workers'])


def pool_workers(s, index):
    return sorted(p for p, (pool, _) in s.workers().items()
                  if pool == str(index))


def test_reload_recycles():
    with server() as s, T.Client(s.port) as c:
        T.assert_eq(ask(c, 'GET', '/m/').body, b'Hi, world\n', 'before')
        mods, default = pool_workers(s, 1), pool_workers(s, 0)
        # A request in flight at the old worker when it must stop (1s
        # after it is retired) is aborted; the GET is handed on to the new
        # worker, where cgi_timeout (3s) ends it.
        hang = T.Client(s.port)
        try:
            hang.send(T.req('GET', '/hold/hang'))
            T.wait_for(lambda: handed(s, 'mods') >= 2, 10, 'the handoff')
            T.write_conf(s.dir, s.conf_text.replace('greeting=Hi',
                                                    'greeting=Howdy'))
            rc, out, err = ctl(s, 'reload')
            T.assert_eq(rc, 0, 'hsdctl reload: %r %r' % (out, err))
            assert 'pool mods: changed; its workers are recycled' in out, out
            T.wait_for(lambda: T.get(s.port, '/m/').body ==
                       b'Howdy, world\n', 10, 'the new arguments')
            T.wait_for(lambda: not any(T.alive(p) for p in mods), 10,
                       'the old worker gone')
            T.assert_eq(pool_workers(s, 0), default,
                        'the pool without modules keeps its worker')
            T.wait_for(lambda: 'aborted /hold/hang' in s.log(), 10,
                       'the old worker aborted what it held')
            r = hang.response(timeout=10)
            T.assert_eq(r.status, 502, 'timed out at the new worker')
            T.assert_eq(s.log().count('aborted /hold/hang'), 2,
                        'aborted at each worker')
        finally:
            hang.close()
        T.assert_eq(ask(c, 'GET', '/plain/').body, b'Hello, world\n',
                    'the other instance')


# The README's minimal module, built against the installed header.
MINIMAL = r'''#include <string.h>
#include <hsd/module.h>

static int
minimal_request(void *ctx, struct hsd_req *r)
{
	const char *text = "minimal\n";

	(void)ctx;
	hsd_resp_header(r, "Content-Type", "text/plain");
	hsd_resp_write(r, text, strlen(text));
	return hsd_resp_end(r);
}

const struct hsd_module hsd_module = {
	.api = HSD_MODULE_API,
	.name = "minimal",
	.request = minimal_request,
};
'''


def test_built_against_the_installed_header():
    if not shutil.which('pkg-config') or not shutil.which('make'):
        raise T.Skip('pkg-config or make not found')
    d = tempfile.mkdtemp(prefix='hsd-e2e-install-')
    try:
        env = dict(os.environ)
        for k in ('MAKEFLAGS', 'MFLAGS', 'MAKELEVEL', 'MAKEOVERRIDES'):
            env.pop(k, None)
        dest = os.path.join(d, 'dest')
        # Just what a module's author needs: no rebuild, nothing else.
        subprocess.run(['make', '-s', '-C', T.BUILDDIR, 'DESTDIR=' + dest,
                        'install-hsdincludeHEADERS', 'install-pkgconfigDATA',
                        'install-hsdmodulePROGRAMS'], check=True, env=env,
                       stdout=subprocess.DEVNULL)
        pcs = [os.path.join(root, f) for root, _, files in os.walk(dest)
               for f in files if f == 'hsd-module.pc']
        T.assert_eq(len(pcs), 1, 'one hsd-module.pc installed: %r' % pcs)
        pcdir = os.path.dirname(pcs[0])

        def pkg(*args):
            return subprocess.run(
                ['pkg-config', '--define-prefix'] + list(args) +
                ['hsd-module'], check=True, capture_output=True, text=True,
                env=dict(env, PKG_CONFIG_PATH=pcdir)).stdout.strip()
        cflags = pkg('--cflags')
        T.assert_eq(os.path.isfile(os.path.join(cflags[2:], 'hsd',
                                                'module.h')), True,
                    'the header where Cflags says: %r' % cflags)
        T.assert_eq(os.path.isfile(os.path.join(pkg('--variable=moduledir'),
                                                'hello.so')), True,
                    'hello.so in moduledir')
        mod = build_module(d, 'minimal', MINIMAL, cflags.split())
        with server(CONF.replace('module = "@HELLO@"  module_args = '
                                 '{"greeting=Hi"}\n\t\t\t   max_body',
                                 'module = "%s"\n\t\t\t   max_body' % mod)
                    ) as s:
            r = T.get(s.port, '/m/anything')
            T.assert_eq((r.status, r.body), (200, b'minimal\n'), 'served')
    finally:
        shutil.rmtree(d, ignore_errors=True)


if __name__ == '__main__':
    T.main()
