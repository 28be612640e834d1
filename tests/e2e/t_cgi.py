"""
The CGI handler (handler = "cgi", RFC 3875): real programs (sh and
python3 scripts) run by the worker.  Meta-variables, the header block
mapped to HTTP (Status, Location, Content-Length, chunked when none),
request bodies streamed to stdin (Content-Length, chunked, 100-continue,
413), stderr in the error log, the errors a client can cause (404, 403),
and the failure rules: a program that crashes before its answer is run
again for a GET and gets 502 for a POST; one that dies mid-body, or
breaks its own Content-Length, gets the connection reset, never a
response that looks whole; cgi_timeout kills it and what it started;
cgi_max_children holds; a worker killed mid-request is failed over.
A static site with cgi_extensions runs its .cgi files and serves the
rest.
"""

import hashlib
import os
import select
import signal
import sys
import tempfile
import threading
import time

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import hsdtest as T  # noqa: E402

ENV = '''#!/bin/sh
printf 'Content-Type: text/plain\\r\\n\\r\\n'
env | sort
'''

# Reads the body (CONTENT_LENGTH bytes, or to EOF), answers its length
# and digest: a body of any size goes through without the client reading
# while it sends.
DIGEST = '''#!/usr/bin/python3
import hashlib, os, sys
n = os.environ.get('CONTENT_LENGTH')
data = sys.stdin.buffer.read(int(n)) if n else sys.stdin.buffer.read()
out = ('%d %s %s\\n' % (len(data), hashlib.sha256(data).hexdigest(),
                        n if n is not None else '-')).encode()
sys.stdout.buffer.write(b'Content-Type: text/plain\\r\\n'
                        b'Content-Length: %d\\r\\n\\r\\n' % len(out) + out)
'''

HEADERS = '''#!/bin/sh
case "$QUERY_STRING" in
status) printf 'Status: 404 Nowhere Here\\nContent-Type: text/plain\\n\\nnope\\n' ;;
location) printf 'Location: /elsewhere\\n\\n' ;;
length) printf 'Content-Type: text/plain\\nContent-Length: 6\\nX-Mine: 1\\n\\nsized\\n' ;;
hop) printf 'Connection: close\\nTransfer-Encoding: gzip\\nContent-Type: text/plain\\n\\nhop\\n' ;;
bad) printf 'this is not a header\\n\\nbody\\n' ;;
split) printf 'X-A: 1\\rX-B: 2\\n\\nbody\\n' ;;
none) exit 0 ;;
esac
'''

BIG = '''#!/usr/bin/python3
import sys
sys.stdout.buffer.write(b'Content-Type: application/octet-stream\\r\\n\\r\\n')
for i in range(64):
    sys.stdout.buffer.write(bytes([65 + i % 26]) * 65536)
'''

# Dies by SIGKILL before any output the first time it runs for a given
# marker (the first two times for one starting "twice"), answers after.
CRASH_ONCE = '''#!/bin/sh
m="$DOCUMENT_ROOT/../marks/$QUERY_STRING"
n=1
case "$QUERY_STRING" in twice*) n=2 ;; esac
if [ "$(cat "$m" 2>/dev/null | wc -l)" -lt $n ]; then
	echo died >> "$m"
	kill -9 $$
fi
[ $n = 1 ] && run=second || run=third
printf 'Content-Type: text/plain\\n\\n%s run\\n' $run
'''

CRASH = '''#!/bin/sh
cat > /dev/null
kill -9 $$
'''

# 100000 bytes: more than the worker holds back (64 KiB), so the head
# is out before the program's end.
CUT = '''#!/bin/sh
case "$QUERY_STRING" in
chunked) printf 'Content-Type: text/plain\\n\\n'; head -c 100000 /dev/zero
	sleep 0.3; kill -9 $$ ;;
short) printf 'Content-Type: text/plain\\nContent-Length: 200000\\n\\n'
	head -c 100000 /dev/zero ;;
small-short) printf 'Content-Type: text/plain\\nContent-Length: 100\\n\\nonly ten.\\n' ;;
small-crash) printf 'Content-Type: text/plain\\n\\nfirst part\\n'; kill -9 $$ ;;
long) printf 'Content-Type: text/plain\\nContent-Length: 5\\n\\nfive and more\\n' ;;
esac
'''

SLOW = '''#!/bin/sh
echo "slow $$" >&2
sleep 30 &
echo $! > "$DOCUMENT_ROOT/../marks/child"
case "$QUERY_STRING" in
head) printf 'Content-Type: text/plain\\n\\n'; head -c 100000 /dev/zero ;;
esac
wait
printf 'Content-Type: text/plain\\n\\nlate\\n'
'''

STDERR = '''#!/bin/sh
echo "cgi-stderr-marker $QUERY_STRING" >&2
printf 'Content-Type: text/plain\\n\\nok\\n'
'''

# Never two at once: mkdir is atomic.
ONE = '''#!/bin/sh
lock="$DOCUMENT_ROOT/../marks/lock"
if ! mkdir "$lock" 2>/dev/null; then
	printf 'Content-Type: text/plain\\n\\noverlap\\n'
	exit 0
fi
sleep 0.2
rmdir "$lock"
printf 'Content-Type: text/plain\\n\\nalone\\n'
'''

WAIT = '''#!/bin/sh
echo $$ > "$DOCUMENT_ROOT/../marks/wait.$QUERY_STRING"
while [ ! -e "$DOCUMENT_ROOT/../marks/go" ]; do sleep 0.05; done
printf 'Content-Type: text/plain\\n\\nwaited\\n'
'''

# Its whole output a byte per write, a pause between: the header block
# (CRLF and LF lines, its end split) and the body arrive across many reads.
TRICKLE = '''#!/usr/bin/python3
import sys, time
out = (b'Status: 201 Made\\r\\nContent-Type: text/plain\\nX-Split: yes'
       b'\\r\\n\\r\\nbyte by byte\\n')
for b in out:
    sys.stdout.buffer.write(bytes([b]))
    sys.stdout.buffer.flush()
    time.sleep(0.002)
'''

SCRIPTS = {
    'cgi/env.sh': ENV, 'cgi/digest.py': DIGEST, 'cgi/headers.sh': HEADERS,
    'cgi/big.py': BIG, 'cgi/crash_once.sh': CRASH_ONCE,
    'cgi/crash.sh': CRASH, 'cgi/cut.sh': CUT, 'cgi/stderr.sh': STDERR,
    'slow/slow.sh': SLOW, 'one/one.sh': ONE, 'cgi/wait.sh': WAIT,
    'cgi/plain.txt': 'not a program\n', 'cgi/trickle.py': TRICKLE,
    'cgi/sub/x.sh': ENV,
    'index.html': 'static\n',
}

CONF = '''pool "default" { workers = 2 }
pool "one" { workers = 1  cgi_max_children = 1 }
site "s" {
	bindings = {"127.0.0.1:@PORT@"}
	root = "@ROOT@"
	application "/cgi" { handler = "cgi"  max_body_size = 4000000 }
	application "/slow" { handler = "cgi"  cgi_timeout = "1s" }
	application "/one" { handler = "cgi"  pool = "one" }
	application "/hold" { handler = "cgi"  pool = "one"  root = "@ROOT@/cgi"
			      cgi_timeout = "4s" }
	application "/queued" { handler = "cgi"  pool = "one"  root = "@ROOT@/one"
				cgi_timeout = "1s" }
}
'''


def server(conf=CONF):
    s = T.Server(conf, files=SCRIPTS)
    for rel in SCRIPTS:
        if rel.endswith(('.sh', '.py')):
            os.chmod(s.path(rel), 0o755)
    marks = os.path.join(s.dir, 'marks')
    os.makedirs(marks)
    os.chmod(marks, 0o777)
    # For the applications rooted one level down (/hold, /queued).
    os.symlink(marks, os.path.join(s.root, 'marks'))
    os.chmod(s.dir, 0o755)
    return s


def ask(c, *a, **kw):
    """A request and its response, which may be chunked."""
    kw.setdefault('chunked', True)
    return c.request(*a, **kw)


def envmap(body):
    out = {}
    for line in body.decode().splitlines():
        k, _, v = line.partition('=')
        out[k] = v
    return out


def test_meta_variables():
    with server() as s, T.Client(s.port) as c:
        c.send(T.req('GET', '/cgi/env.sh/extra/path?a=1&b=2', host='h.test:8',
                     headers={'X-Test': 'one', 'x-test': 'two',
                              'Proxy': 'http://evil', 'X_Under': 'u',
                              'Authorization': 'Basic Zm9vOmJhcg=='}))
        r = c.response(chunked=True)
        T.assert_eq(r.status, 200, 'status')
        # Held until the program ended: its length is known.
        T.assert_eq((r.header('Transfer-Encoding'),
                     r.header('Content-Length')),
                    (None, str(len(r.body))), 'Content-Length')
        e = envmap(r.body)
        want = {
            'GATEWAY_INTERFACE': 'CGI/1.1',
            'REQUEST_METHOD': 'GET',
            'SERVER_PROTOCOL': 'HTTP/1.1',
            'SCRIPT_NAME': '/cgi/env.sh',
            'PATH_INFO': '/extra/path',
            'PATH_TRANSLATED': s.root + '/extra/path',
            'QUERY_STRING': 'a=1&b=2',
            'REQUEST_URI': '/cgi/env.sh/extra/path?a=1&b=2',
            'SCRIPT_FILENAME': s.path('cgi/env.sh'),
            'DOCUMENT_ROOT': s.root,
            'SERVER_NAME': 'h.test',
            'SERVER_PORT': str(s.port),
            'REMOTE_ADDR': '127.0.0.1',
            'REMOTE_PORT': str(c.sock.getsockname()[1]),
            'HTTP_HOST': 'h.test:8',
            'HTTP_X_TEST': 'one, two',
            'REDIRECT_STATUS': '200',
            'PWD': s.path('cgi'),
        }
        for k, v in want.items():
            T.assert_eq(e.get(k), v, k)
        for k in ('HTTP_PROXY', 'HTTP_X_UNDER', 'HTTP_AUTHORIZATION',
                  'CONTENT_LENGTH', 'CONTENT_TYPE'):
            T.assert_eq(e.get(k), None, k + ' is not passed')
        # The connection goes on.
        c.send(T.req('GET', '/cgi/sub/x.sh?again'))
        r = c.response(chunked=True)
        T.assert_eq(envmap(r.body).get('QUERY_STRING'), 'again',
                    'second request on the connection')
        T.assert_eq(envmap(r.body).get('SCRIPT_NAME'), '/cgi/sub/x.sh',
                    'a program in a subdirectory')
        # The static part of the site is untouched.
        r = ask(c, 'GET', '/index.html')
        T.assert_eq((r.status, r.body), (200, b'static\n'), 'static file')


def test_header_block_to_http():
    with server() as s, T.Client(s.port) as c:
        r = ask(c, 'GET', '/cgi/headers.sh?status')
        T.assert_eq((r.status, r.reason, r.body),
                    (404, 'Nowhere Here', b'nope\n'), 'Status:')
        r = ask(c, 'GET', '/cgi/headers.sh?location')
        T.assert_eq((r.status, r.header('Location')), (302, '/elsewhere'),
                    'Location: without Status')
        r = ask(c, 'GET', '/cgi/headers.sh?length')
        T.assert_eq((r.status, r.body, r.header('X-Mine'),
                     r.header('Transfer-Encoding')),
                    (200, b'sized\n', '1', None), 'Content-Length:')
        # Hop-by-hop fields are the server's: dropped.
        c.send(T.req('GET', '/cgi/headers.sh?hop'))
        r = c.response(chunked=True)
        T.assert_eq((r.body, r.header('Connection')), (b'hop\n', None),
                    'Connection and Transfer-Encoding from the program')
        # HEAD: the head only, the connection goes on.
        r = ask(c, 'HEAD', '/cgi/headers.sh?length')
        T.assert_eq((r.status, r.header('Content-Length')), (200, '6'),
                    'HEAD')
        r = ask(c, 'GET', '/cgi/headers.sh?length')
        T.assert_eq(r.body, b'sized\n', 'after HEAD')
    with server() as s:
        for q in ('bad', 'split', 'none'):
            with T.Client(s.port) as c:
                r = ask(c, 'GET', '/cgi/headers.sh?' + q)
                T.assert_eq(r.status, 502, 'header block %s' % q)
        T.wait_for(lambda: 'malformed or too large header block' in s.log(),
                   5, 'the malformed block logged')
        # HTTP/1.0 and no length: the body ends with the connection.
        with T.Client(s.port) as c:
            c.send(T.req('GET', '/cgi/env.sh', version='HTTP/1.0'))
            r = c.response(chunked=True)
            T.assert_eq((r.status, r.header('Transfer-Encoding')),
                        (200, None), 'HTTP/1.0: not chunked')
            T.assert_eq(envmap(r.body).get('SERVER_PROTOCOL'), 'HTTP/1.0',
                        'SERVER_PROTOCOL')
            c.expect_closed()


def test_split_across_reads():
    with server() as s, T.Client(s.port) as c:
        # The program's output, a byte per write.
        r = ask(c, 'GET', '/cgi/trickle.py')
        T.assert_eq((r.status, r.reason, r.header('X-Split'), r.body),
                    (201, 'Made', 'yes', b'byte by byte\n'),
                    'a header block and body written a byte at a time')
        # The client's chunked body, a byte per send: chunk sizes,
        # CRLFs and data split everywhere.
        body = b'0123456789abcdef' * 3
        wire = (b'POST /cgi/digest.py HTTP/1.1\r\nHost: x\r\n'
                b'Transfer-Encoding: chunked\r\n\r\n' +
                b''.join(b'%x\r\n%s\r\n' % (len(body[i:i + 7]),
                                              body[i:i + 7])
                         for i in range(0, len(body), 7)) + b'0\r\n\r\n')
        head_end = wire.index(b'\r\n\r\n') + 4
        c.send(wire[:head_end])
        for b in wire[head_end:]:
            c.send(bytes([b]))
            time.sleep(0.002)
        r = c.response(chunked=True)
        T.assert_eq(r.body, b'%d %s %d\n' % (len(body), hashlib.sha256(body)
                    .hexdigest().encode(), len(body)),
                    'a chunked body a byte a send')
        T.assert_eq(ask(c, 'GET', '/cgi/headers.sh?length').body,
                    b'sized\n', 'the connection goes on')


def test_not_found_and_forbidden():
    with server() as s, T.Client(s.port) as c:
        T.assert_eq(ask(c, 'GET', '/cgi/nothing.sh').status, 404,
                    'no such program')
        T.assert_eq(ask(c, 'GET', '/cgi/plain.txt').status, 403,
                    'not executable')
        T.assert_eq(ask(c, 'GET', '/cgi/sub/').status, 403,
                    'a directory')
        T.assert_eq(ask(c, 'GET', '/cgi/env.sh').status, 200,
                    'the connection goes on')


def test_request_bodies():
    with server() as s:
        body = os.urandom(1500000)
        want = b'%d %s %d\n' % (len(body), hashlib.sha256(body).hexdigest()
                                .encode(), len(body))
        with T.Client(s.port) as c:
            r = ask(c, 'POST', '/cgi/digest.py', body=body,
                          headers={'Content-Type': 'application/x-test'})
            T.assert_eq((r.status, r.body), (200, want),
                        'Content-Length body of 1.5 MB')
            # Chunked: read whole first (into body_temp_dir past 64 KiB),
            # so that the program gets its CONTENT_LENGTH.
            r = T.send_chunked(c, '/cgi/digest.py', body, part=100000)
            T.assert_eq(r.body, want, 'chunked body')
            # 100-continue: nothing is sent before the interim answer.
            c.send(b'POST /cgi/digest.py HTTP/1.1\r\nHost: x\r\n'
                   b'Content-Length: 5\r\nExpect: 100-continue\r\n\r\n')
            T.assert_eq(c.response(chunked=True).status, 100,
                        'interim response')
            c.send(b'hello')
            r = c.response(chunked=True)
            T.assert_eq(r.body, b'5 %s 5\n' % hashlib.sha256(b'hello')
                        .hexdigest().encode(), 'after 100 Continue')
            # The connection is still good.
            T.assert_eq(ask(c, 'GET', '/cgi/headers.sh?length').body,
                        b'sized\n', 'after the bodies')
        # Over the application's max_body_size, chunked: 413.
        with T.Client(s.port) as c:
            T.assert_eq(T.post_chunked(c, '/cgi/digest.py').status, 413,
                        'chunked over the limit')


def digest(body):
    return b'%d %s %d\n' % (len(body), hashlib.sha256(body).hexdigest()
                            .encode(), len(body))


def test_chunked_bodies_read_whole():
    """A chunked body is read whole before the program starts, so that it
    gets CONTENT_LENGTH: up to 64 KiB held, past that in an unlinked file
    in body_temp_dir, which keeps no name of it.  Without a usable
    body_temp_dir, a larger chunked body gets 500 and the log says why;
    smaller ones, and bodies with a Content-Length, still go through."""
    d = tempfile.mkdtemp(prefix='hsd-bodies-')
    os.chmod(d, 0o1777)
    with server('body_temp_dir = "%s"\n' % d + CONF) as s, \
            T.Client(s.port) as c:
        for size in (100, 65536, 65537, 300000):
            body = os.urandom(size)
            r = T.send_chunked(c, '/cgi/digest.py', body)
            T.assert_eq((r.status, r.body), (200, digest(body)),
                        'chunked body of %d bytes' % size)
        T.assert_eq(os.listdir(d), [], 'no file left in body_temp_dir')
        # Still coming at cgi_timeout (1s for /slow), at a rate the body
        # rules allow: 408.
        with T.Client(s.port) as c2:
            c2.send(b'POST /slow/slow.sh HTTP/1.1\r\nHost: x\r\n'
                    b'Transfer-Encoding: chunked\r\n\r\n')
            t0 = time.monotonic()
            while not select.select([c2.sock], [], [], 0.1)[0]:
                assert time.monotonic() - t0 < 10, 'no answer'
                c2.send(b'64\r\n%s\r\n' % (b'x' * 100))
            r = c2.response(chunked=True)
            T.assert_eq(r.status, 408, 'a body still coming at cgi_timeout')
        T.wait_for(lambda: 'cgi_timeout reached while the chunked body '
                   'was read' in s.log(), 5, 'logged')
    with server('body_temp_dir = "%s/none"\n' % d + CONF) as s:
        with T.Client(s.port) as c:
            body = os.urandom(300000)
            T.assert_eq(T.send_chunked(c, '/cgi/digest.py', body).status,
                        500, 'no body_temp_dir: a large chunked body')
        T.wait_for(lambda: 'cannot be read whole: no body_temp_dir: '
                   '%s/none: No such file or directory' % d in s.log(), 5,
                   'logged')
        with T.Client(s.port) as c:
            T.assert_eq(T.send_chunked(c, '/cgi/digest.py', body[:1000]).body,
                        digest(body[:1000]), 'a small chunked body')
            r = ask(c, 'POST', '/cgi/digest.py', body=body)
            T.assert_eq(r.body, digest(body), 'a Content-Length body')


def test_slow_body_gets_408():
    conf = CONF.replace('pool "default" { workers = 2 }',
                        'limits { entity_body_timeout = "1s" '
                        'min_body_rate = 0 }\npool "default" { workers = 2 }')
    s = T.Server(conf, files=SCRIPTS)
    for rel in SCRIPTS:
        if rel.endswith(('.sh', '.py')):
            os.chmod(s.path(rel), 0o755)
    with s, T.Client(s.port) as c:
        # Half the body, then nothing: the program waits for the rest,
        # the client gets 408 at entity_body_timeout.
        c.send(b'POST /cgi/digest.py HTTP/1.1\r\nHost: x\r\n'
               b'Content-Length: 1000\r\n\r\n' + b'a' * 500)
        t0 = time.monotonic()
        r = c.response(chunked=True, timeout=10)
        T.assert_eq(r.status, 408, 'a body that stopped coming')
        assert time.monotonic() - t0 < 8, 'bounded by the deadline'
        c.expect_closed()
        with T.Client(s.port) as c2:
            T.assert_eq(ask(c2, 'GET', '/cgi/headers.sh?length').body,
                        b'sized\n', 'others are served')
        # The same while a chunked body is read whole, before the
        # program starts.
        with T.Client(s.port) as c3:
            c3.send(b'POST /cgi/digest.py HTTP/1.1\r\nHost: x\r\n'
                    b'Transfer-Encoding: chunked\r\n\r\n1f4\r\n' +
                    b'a' * 500)
            r = c3.response(chunked=True, timeout=10)
            T.assert_eq(r.status, 408, 'a chunked body that stopped coming')
            c3.expect_closed()


def test_large_response_streamed():
    with server() as s, T.Client(s.port, rcvbuf=65536) as c:
        c.send(T.req('GET', '/cgi/big.py'))
        time.sleep(0.5)		# the program waits for the client
        r = c.response(chunked=True)
        want = b''.join(bytes([65 + i % 26]) * 65536 for i in range(64))
        T.assert_eq(len(r.body), len(want), 'length')
        T.assert_eq(r.body == want, True, 'the bytes')


def test_crash_before_the_answer():
    with server() as s:
        # GET: run again, and the client never knows.
        with T.Client(s.port) as c:
            r = ask(c, 'GET', '/cgi/crash_once.sh?a')
            T.assert_eq((r.status, r.body), (200, b'second run\n'),
                        'a GET whose program crashed once')
            # Twice (slow pages, processes dying often): the third run.
            r = ask(c, 'GET', '/cgi/crash_once.sh?twice-a')
            T.assert_eq((r.status, r.body), (200, b'third run\n'),
                        'a GET whose program crashed twice')
        T.wait_for(lambda: 'died before its answer was sent; run again' in
                   s.log(),
                   5, 'the retry logged')
        # Crashing every time: 502 after the third run.
        with T.Client(s.port) as c:
            r = ask(c, 'GET', '/cgi/crash.sh')
            T.assert_eq(r.status, 502, 'a GET whose program always crashes')
            # A POST is not run again: the body went to the first one.
            r = ask(c, 'POST', '/cgi/crash.sh', body=b'data')
            T.assert_eq(r.status, 502, 'POST')
            T.assert_eq(ask(c, 'GET', '/cgi/headers.sh?length').body,
                        b'sized\n', 'the connection goes on after 502')
        n = s.log().count('crash.sh killed by signal 9')
        T.assert_eq(n, 4, 'the crashes logged (3 for the GET, 1 POST)')


def test_cut_responses_are_reset():
    with server() as s:
        # Held back, a response cut short is never sent: 502 (a GET
        # that crashed was run a second time first).
        with T.Client(s.port) as c:
            T.assert_eq(ask(c, 'GET', '/cgi/cut.sh?small-short').status,
                        502, 'short of its Content-Length, nothing sent')
            T.assert_eq(ask(c, 'GET', '/cgi/cut.sh?small-crash').status,
                        502, 'crashed after its head, nothing sent')
        T.wait_for(lambda: 'ended short of its Content-Length' in s.log(),
                   5, 'logged')
        for q, what in (('chunked', 'died mid-body'),
                        ('short', 'fewer bytes than its Content-Length')):
            with T.Client(s.port) as c:
                c.send(T.req('GET', '/cgi/cut.sh?' + q))
                try:
                    r = c.response(chunked=True)
                except T.ConnectionClosed:
                    pass
                else:
                    raise AssertionError('%s: a whole response %r'
                                         % (what, r.body))
                T.assert_eq(c.eof, 'reset', what + ': reset')
        # More than its Content-Length: the extra is not sent.
        with T.Client(s.port) as c:
            r = ask(c, 'GET', '/cgi/cut.sh?long')
            T.assert_eq(r.body, b'five ', 'the announced bytes only')
            T.assert_eq(ask(c, 'GET', '/cgi/headers.sh?length').body,
                        b'sized\n', 'and nothing else on the connection')


def marks(s, name):
    return os.path.join(s.dir, 'marks', name)


def test_cgi_timeout():
    with server() as s:
        # Nothing sent yet: 502, and what the program started is gone.
        with T.Client(s.port) as c:
            r = ask(c, 'GET', '/slow/slow.sh', timeout=10)
            T.assert_eq(r.status, 502, 'timed out before the answer')
        child = int(open(marks(s, 'child')).read())
        T.wait_for(lambda: not T.alive(child), 5,
                   'the program\'s own child killed')
        T.wait_for(lambda: 'cgi_timeout reached; killed' in s.log(), 5,
                   'the timeout logged')
        # The head was out: the connection is reset.
        with T.Client(s.port) as c:
            c.send(T.req('GET', '/slow/slow.sh?head'))
            try:
                c.response(chunked=True, timeout=10)
            except T.ConnectionClosed:
                pass
            else:
                raise AssertionError('a cut response looked whole')
            T.assert_eq(c.eof, 'reset', 'reset after the head')


def test_stderr_to_the_error_log():
    with server() as s, T.Client(s.port) as c:
        T.assert_eq(ask(c, 'GET', '/cgi/stderr.sh?xyz').body, b'ok\n',
                    'answer')
        T.wait_for(lambda: 'cgi-stderr-marker xyz' in s.log(), 5,
                   'the stderr line in the error log')
        line = [ln for ln in s.log().splitlines()
                if 'cgi-stderr-marker xyz' in ln][0]
        T.assert_eq('hsd-worker[' in line and 'stderr.sh' in line, True,
                    'the line names the worker and the program: %r' % line)


def test_max_children():
    with server() as s:
        out = []

        def one():
            with T.Client(s.port) as c:
                out.append(ask(c, 'GET', '/one/one.sh').body)
        ts = [threading.Thread(target=one) for _ in range(4)]
        for t in ts:
            t.start()
        for t in ts:
            t.join()
        T.assert_eq(sorted(out), [b'alone\n'] * 4,
                    'cgi_max_children = 1: never two at once')


def test_waiting_for_a_place():
    with server() as s:
        res = {}

        def go(name, path):
            with T.Client(s.port) as c:
                res[name] = ask(c, 'GET', path, timeout=15)
        a = threading.Thread(target=go, args=('a', '/hold/wait.sh?a'))
        a.start()
        T.wait_for(lambda: os.path.exists(marks(s, 'wait.a')), 5,
                   'the only place taken')
        # Its 1 s pass while the first holds the place (for up to 4 s).
        go('b', '/queued/one.sh')
        T.assert_eq(res['b'].status, 503, 'no place within cgi_timeout')
        T.wait_for(lambda: 'no CGI process free within cgi_timeout' in
                   s.log(), 5, 'logged')
        open(marks(s, 'go'), 'w').close()
        a.join()
        T.assert_eq(res['a'].body, b'waited\n', 'the first one')
        go('c', '/queued/one.sh')
        T.assert_eq(res['c'].body, b'alone\n', 'the place free again')


def test_worker_killed_mid_request():
    with server() as s:
        res = {}

        def go(name):
            with T.Client(s.port) as c:
                try:
                    res[name] = ask(c, 'GET', '/cgi/wait.sh?' + name,
                                          timeout=15)
                except Exception as e:	# noqa: BLE001
                    res[name] = e
        t = threading.Thread(target=go, args=('g',))
        t.start()
        T.wait_for(lambda: os.path.exists(marks(s, 'wait.g')), 5,
                   'the program running')
        prog = int(open(marks(s, 'wait.g')).read())
        # The worker running it.
        ppid = T.proc_stat(prog)[2]
        T.assert_eq(ppid in s.workers(), True, 'run by a worker')
        os.kill(ppid, signal.SIGKILL)
        # Its program goes with it, and another worker runs the GET again.
        T.wait_for(lambda: not T.alive(prog), 5, 'the program killed too')
        T.wait_for(lambda: os.path.exists(marks(s, 'wait.g')) and
                   open(marks(s, 'wait.g')).read().strip() != str(prog),
                   10, 'run again elsewhere')
        open(marks(s, 'go'), 'w').close()
        t.join()
        r = res['g']
        if isinstance(r, Exception):
            raise r
        T.assert_eq((r.status, r.body), (200, b'waited\n'),
                    'the client saw one whole answer')


# A static site whose .cgi files are programs (cgi_extensions, IIS's
# script maps); everything else is a file.
EXT_CONF = '''pool "default" { workers = 2 }
site "s" {
	bindings = {"127.0.0.1:@PORT@"}
	root = "@ROOT@"
	cgi_extensions = {".cgi"}
}
'''

EXT_FILES = {
    'x.cgi': ENV, 'dir/x.cgi': ENV, 'x.txt': 'a file\n', 'X.CGI': ENV,
    'up/a.txt': ENV, 'd.cgi/inner.txt': 'inner\n', 'plain.cgi': ENV,
}


def test_cgi_extensions():
    s = T.Server(EXT_CONF, files=EXT_FILES)
    with s, T.Client(s.port) as c:
        for rel in ('x.cgi', 'dir/x.cgi', 'X.CGI', 'up/a.txt'):
            os.chmod(s.path(rel), 0o755)
        os.chmod(s.dir, 0o755)
        r = ask(c, 'GET', '/x.cgi?q=1')
        T.assert_eq(r.status, 200, '/x.cgi status')
        e = envmap(r.body)
        T.assert_eq((e.get('SCRIPT_NAME'), e.get('QUERY_STRING'),
                     e.get('PATH_INFO')), ('/x.cgi', 'q=1', ''),
                    '/x.cgi ran')
        r = ask(c, 'GET', '/x.txt')
        T.assert_eq((r.status, r.body), (200, b'a file\n'),
                    'another extension is a file')
        r = ask(c, 'GET', '/dir/x.cgi/extra/path')
        e = envmap(r.body)
        T.assert_eq((r.status, e.get('SCRIPT_NAME'), e.get('PATH_INFO'),
                     e.get('SCRIPT_FILENAME')),
                    (200, '/dir/x.cgi', '/extra/path', s.path('dir/x.cgi')),
                    'the mapped component and PATH_INFO')
        # Case-sensitive: X.CGI is a file, served as one, not run.
        r = ask(c, 'GET', '/X.CGI')
        T.assert_eq((r.status, r.body), (200, ENV.encode()),
                    'the extension compared case-sensitively')
        # A file before the mapped component is not run with the rest
        # as its PATH_INFO, executable or not.
        T.assert_eq(ask(c, 'GET', '/up/a.txt/x.cgi').status, 404,
                    'a.txt is no script')
        # A directory named d.cgi is mapped too: nothing to run there.
        T.assert_eq(ask(c, 'GET', '/d.cgi/').status, 403, 'a directory')
        T.assert_eq(ask(c, 'GET', '/d.cgi/inner.txt').status, 404,
                    'a file in it is no script')
        T.assert_eq(ask(c, 'GET', '/plain.cgi').status, 403,
                    'not executable')
        T.assert_eq(ask(c, 'GET', '/nothing.cgi').status, 404,
                    'no such program')
        r = ask(c, 'GET', '/x.cgi')
        T.assert_eq(r.status, 200, 'the connection goes on')
        T.wait_for(lambda: 'up/a.txt is not a mapped script' in s.log(), 5,
                   'the refused file logged')


if __name__ == '__main__':
    T.main()
