"""
Access and HTTPERR logs as hsd-logd writes them: every W3C field of GET
(with a query), HEAD, POST, 304, 206 and 404 requests checked against what
the client sent and received; NCSA common and combined lines parsed with
Apache's exact format; an HTTPERR line with its reason for each error the
listener answers or drops itself; rollover by size and, with the
HSD_LOG_PERIOD_SECONDS test hook, by day; a new #Fields block when a
reload changes the fields; and GoAccess reading the W3C file.
"""

import calendar
import json
import os
import re
import signal
import socket
import subprocess
import sys
import time

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import hsdtest as T  # noqa: E402

HSDCTL = os.path.join(T.BUILDDIR, 'hsdctl')

BODY = b''.join(b'%04d a line of the file\n' % i for i in range(40))
FILES = {'a.txt': BODY, 'index.html': '<p>hi</p>\n'}

DEFAULT_FIELDS = ['date', 'time', 's-ip', 'cs-method', 'cs-uri-stem',
                  'cs-uri-query', 's-port', 'cs-username', 'c-ip',
                  'cs(User-Agent)', 'cs(Referer)', 'sc-status',
                  'sc-substatus', 'sc-win32-status', 'time-taken']
ALL_FIELDS = ['date', 'time', 's-sitename', 's-computername', 's-ip',
              'cs-method', 'cs-uri-stem', 'cs-uri-query', 's-port',
              'cs-username', 'c-ip', 'cs-version', 'cs(User-Agent)',
              'cs(Cookie)', 'cs(Referer)', 'cs-host', 'sc-status',
              'sc-substatus', 'sc-win32-status', 'sc-bytes', 'cs-bytes',
              'time-taken']
HTTPERR_FIELDS = ['date', 'time', 'c-ip', 'c-port', 's-ip', 's-port',
                  'cs-version', 'cs-method', 'cs-uri', 'sc-status',
                  's-siteid', 's-reason', 's-queuename']

# cs-bytes of a request with a body: the head and the body, as IIS counts.
CS_BYTES_WITH_BODY = True

UA = 'hsd test agent/1.0 (logs)'
REFERER = 'http://example.com/from?x=1'

# Apache's "%h %l %u %t \"%r\" %>s %b" and combined's
# "... \"%{Referer}i\" \"%{User-agent}i\"".
NCSA_RE = re.compile(
    r'^(?P<h>\S+) (?P<l>\S+) (?P<u>\S+) '
    r'\[(?P<t>\d{2}/(?:Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec)/'
    r'\d{4}:\d{2}:\d{2}:\d{2} [+-]\d{4})\] '
    r'"(?P<r>(?:[^"\\]|\\.)*)" (?P<s>\d{3}) (?P<b>-|\d+)'
    r'(?: "(?P<ref>(?:[^"\\]|\\.)*)" "(?P<ua>(?:[^"\\]|\\.)*)")?$')


def ctl(s, *args):
    p = subprocess.run([HSDCTL, '-s', os.path.join(s.run_dir, 'hsd.sock')]
                       + list(args), stdin=subprocess.DEVNULL,
                       capture_output=True, text=True, timeout=30)
    T.assert_eq(p.returncode, 0, 'hsdctl %s (stderr %r)'
                % (' '.join(args), p.stderr))
    return p.stdout


def log_dir(s, site='s'):
    return os.path.join(s.dir, 'log', site)


def log_files(d):
    """The files of a log directory, oldest name first."""
    if not os.path.isdir(d):
        return []
    return sorted(os.listdir(d), key=lambda n: (len(n), n))


def read_lines(path):
    with open(path, 'rb') as f:
        data = f.read()
    assert data == b'' or data.endswith(b'\n'), \
        '%s does not end with a whole line: %r' % (path, data[-100:])
    text = data.decode('ascii')  # every byte is printable ASCII
    return text.split('\n')[:-1]


def w3c_parse(lines, what):
    """[(fields, values)] for every record line of a W3C file, checking
    each #Software/#Version/#Date/#Fields block.  The file must start
    with one."""
    out = []
    fields = None
    i = 0
    assert lines and lines[0].startswith('#Software: hsd '), \
        '%s does not start with #Software: %r' % (what, lines[:4])
    while i < len(lines):
        line = lines[i]
        if line.startswith('#Software: '):
            assert re.match(r'^#Software: hsd \S+$', line), line
            T.assert_eq(lines[i + 1], '#Version: 1.0', what + ' #Version')
            m = re.match(r'^#Date: (\d{4}-\d\d-\d\d \d\d:\d\d:\d\d)$',
                         lines[i + 2])
            assert m, '%s: bad #Date %r' % (what, lines[i + 2])
            assert lines[i + 3].startswith('#Fields: '), lines[i + 3]
            fields = lines[i + 3][len('#Fields: '):].split(' ')
            i += 4
            continue
        if line.startswith('#'):
            i += 1
            continue
        assert fields is not None, '%s: a line before #Fields' % what
        values = line.split(' ')
        T.assert_eq(len(values), len(fields), '%s: fields of %r'
                    % (what, line))
        out.append((fields, values))
        i += 1
    return out


def w3c_records(s, site='s'):
    """Every record of a site's W3C log files, as dicts, in order."""
    recs = []
    d = log_dir(s, site)
    for name in log_files(d):
        for fields, values in w3c_parse(read_lines(os.path.join(d, name)),
                                        name):
            recs.append(dict(zip(fields, values)))
    return recs


def httperr_records(s):
    d = os.path.join(s.dir, 'log', 'HTTPERR')
    recs = []
    for name in log_files(d):
        for fields, values in w3c_parse(read_lines(os.path.join(d, name)),
                                        name):
            T.assert_eq(fields, HTTPERR_FIELDS, 'HTTPERR #Fields')
            recs.append(dict(zip(fields, values)))
    return recs


def mine(recs):
    """Without the harness's readiness probes (GET /)."""
    return [r for r in recs if not (r.get('cs-method') == 'GET' and
                                    r.get('cs-uri-stem') == '/' and
                                    r.get('cs-uri-query', '-') == '-')]


def exchange(port, method, target, headers=(), body=b''):
    """One request on its own connection (closed by the server after it);
    (response, bytes received, bytes sent, time before, time after)."""
    headers = list(headers) + [('Connection', 'close')]
    data = T.req(method, target, headers=headers, body=body)
    t0 = time.time()
    with T.Client(port) as c:
        c.send(data)
        r = c.response(method=method)
        rest, _ = c.read_all()
        assert rest == b'', 'bytes after the response: %r' % rest[:100]
    t1 = time.time()
    got = len(r.head) + 4 + len(r.body)
    return r, got, len(data), t0, t1


def check_time(rec, t0, t1):
    """The record's UTC date and time lie between t0 and t1 (to the
    second)."""
    stamp = '%s %s' % (rec['date'], rec['time'])
    secs = calendar.timegm(time.strptime(stamp, '%Y-%m-%d %H:%M:%S'))
    assert int(t0) <= secs <= int(t1) + 1, \
        'logged time %s not between %s and %s' % (
            stamp, time.strftime('%H:%M:%S', time.gmtime(t0)),
            time.strftime('%H:%M:%S', time.gmtime(t1)))


def do_requests(port):
    """The requests of the field tests; a list of what each expects."""
    out = []

    def one(method, target, headers=(), body=b''):
        r, got, sent, t0, t1 = exchange(port, method, target, headers, body)
        out.append(dict(method=method, target=target, status=r.status,
                        got=got, sent=sent, t0=t0, t1=t1, resp=r,
                        body_len=len(body)))
        return r

    ua = [('User-Agent', UA), ('Referer', REFERER)]
    r = one('GET', '/a.txt?x=1&y=two%20words', ua)
    T.assert_eq(r.status, 200, 'GET')
    T.assert_eq(r.body, BODY, 'GET body')
    etag = r.header('etag')
    assert etag, 'no ETag in %r' % r
    T.assert_eq(one('HEAD', '/a.txt', ua).status, 200, 'HEAD')
    post = one('POST', '/a.txt', ua, body=b'hello=1')
    assert post.status >= 400, 'POST to a static file: %r' % post
    T.assert_eq(one('GET', '/a.txt', ua + [('If-None-Match', etag)]).status,
                304, 'conditional GET')
    T.assert_eq(one('GET', '/a.txt', ua + [('Range', 'bytes=5-14')]).status,
                206, 'range')
    T.assert_eq(one('GET', '/missing.txt?q', ua).status, 404, '404')
    return out


def split_target(target):
    stem, sep, query = target.partition('?')
    return stem, (query if sep and query else '-')


def check_w3c(recs, reqs, port, fields):
    T.assert_eq(len(recs), len(reqs), 'log lines (%r)' % recs)
    for rec, q in zip(recs, reqs):
        what = '%s %s: %r' % (q['method'], q['target'], rec)
        T.assert_eq(list(rec), fields, 'fields of ' + what)
        check_time(rec, q['t0'], q['t1'])
        stem, query = split_target(q['target'])
        want = {
            's-ip': '127.0.0.1', 'c-ip': '127.0.0.1', 's-port': str(port),
            'cs-method': q['method'], 'cs-uri-stem': stem,
            'cs-uri-query': query, 'cs-username': '-',
            'cs(User-Agent)': UA.replace(' ', '+'),
            'cs(Referer)': REFERER, 'sc-status': str(q['status']),
            'sc-substatus': '0', 'sc-win32-status': '0',
            's-sitename': 's', 's-computername': socket.gethostname(),
            'cs-version': 'HTTP/1.1', 'cs(Cookie)': '-',
            'cs-host': 'localhost', 'sc-bytes': str(q['got']),
        }
        for k, v in want.items():
            if k in rec:
                T.assert_eq(rec[k], v, k + ' of ' + what)
        assert re.match(r'^\d{1,4}$', rec['time-taken']), what
        if 'cs-bytes' in rec and (q['body_len'] == 0 or
                                  CS_BYTES_WITH_BODY):
            T.assert_eq(int(rec['cs-bytes']), q['sent'],
                        'cs-bytes of ' + what)


def test_w3c_default_fields():
    conf = '''pool "default" { workers = 1 }
site "s" { bindings = {"127.0.0.1:@PORT@"} root = "@ROOT@" }
'''
    t_start = time.time()
    with T.Server(conf, files=FILES, workers=1) as s:
        reqs = do_requests(s.port)
        s.stop()
        t_stop = time.time()
        d = log_dir(s)
        names = log_files(d)
        T.assert_eq(names, ['u_ex%s.log' % time.strftime(
            '%y%m%d', time.gmtime(reqs[0]['t0']))], 'files of the site')
        lines = read_lines(os.path.join(d, names[0]))
        T.assert_eq(sum(1 for x in lines if x.startswith('#Software')), 1,
                    'header blocks in %r' % lines[:6])
        T.assert_eq(lines[3], '#Fields: ' + ' '.join(DEFAULT_FIELDS),
                    '#Fields')
        # #Date: when the file was started, in UTC.
        date = calendar.timegm(time.strptime(lines[2], '#Date: %Y-%m-%d '
                                             '%H:%M:%S'))
        assert int(t_start) <= date <= int(t_stop) + 1, lines[2]
        check_w3c(mine(w3c_records(s)), reqs, s.port, DEFAULT_FIELDS)


def test_w3c_all_fields():
    conf = '''pool "default" { workers = 1 }
site "s" { bindings = {"127.0.0.1:@PORT@"} root = "@ROOT@"
    log { fields = {%s} } }
''' % ', '.join('"%s"' % f for f in reversed(ALL_FIELDS))
    with T.Server(conf, files=FILES, workers=1) as s:
        reqs = do_requests(s.port)
        s.stop()
        check_w3c(mine(w3c_records(s)), reqs, s.port, ALL_FIELDS)


def ncsa_check(fmt):
    conf = '''pool "default" { workers = 1 }
site "s" { bindings = {"127.0.0.1:@PORT@"} root = "@ROOT@"
    log { format = "%s" } }
''' % fmt
    with T.Server(conf, files=FILES, workers=1) as s:
        reqs = do_requests(s.port)
        s.stop()
        d = log_dir(s)
        names = log_files(d)
        T.assert_eq(names, ['nc%s.log' % time.strftime(
            '%y%m%d', time.gmtime(reqs[0]['t0']))], 'files of the site')
        lines = [x for x in read_lines(os.path.join(d, names[0]))
                 if '"GET / HTTP/1.1"' not in x]
        T.assert_eq(len(lines), len(reqs), 'lines %r' % lines)
        for line, q in zip(lines, reqs):
            m = NCSA_RE.match(line)
            assert m, '%s line does not parse: %r' % (fmt, line)
            T.assert_eq((m.group('h'), m.group('l'), m.group('u')),
                        ('127.0.0.1', '-', '-'), 'host ident user')
            t = time.strptime(m.group('t'), '%d/%b/%Y:%H:%M:%S %z')
            secs = calendar.timegm(t) - t.tm_gmtoff
            assert int(q['t0']) <= secs <= int(q['t1']) + 1, line
            # Local time: the zone of the local time then.
            T.assert_eq(m.group('t')[-5:], time.strftime(
                '%z', time.localtime(secs)), 'zone in ' + line)
            T.assert_eq(m.group('r'), '%s %s HTTP/1.1' % (q['method'],
                                                          q['target']),
                        'request line')
            T.assert_eq(m.group('s'), str(q['status']), 'status')
            # Apache's %b: the body's bytes, '-' for none.
            body = len(q['resp'].body)
            T.assert_eq(m.group('b'), str(body) if body else '-',
                        '%b of ' + line)
            if fmt == 'combined':
                T.assert_eq((m.group('ref'), m.group('ua')), (REFERER, UA),
                            'referer and agent')
            else:
                T.assert_eq(m.group('ref'), None, 'common has no referer')


def test_ncsa_common():
    ncsa_check('ncsa')


def test_ncsa_combined():
    ncsa_check('combined')


# ---------------------------------------------------------------- HTTPERR

ERR_CONF = '''limits { header_wait_timeout = "1s"  connection_timeout = "2s"
          max_field_length = 256  max_request_bytes = 1024
          max_connections = 12 }
log { dir = "@DIR@/log"  flush_interval = "100ms" }
pool "default" { workers = 1  concurrency = 1  queue_length = 1 }
pool "b" { workers = 1  start = "always" }
site "s" {
	bindings = {"127.0.0.1:@PORT@"}
	root = "@ROOT@"
	max_body_size = 1000
	application "/b" { pool = "b" }
}
site "h" { bindings = {"127.0.0.1:@PORT2@:named.example"} root = "@ROOT@" }
'''


def occupy(s, pool='0'):
    """The pool's only worker, stopped, holding a POST (its body gives it
    entity_body_timeout before the listener may take it for hung)."""
    (w,) = [p for p, (i, _) in s.workers().items() if i == pool]
    T.get_to_eof(s.port, '/a.txt')
    os.kill(w, signal.SIGSTOP)
    c = T.Client(s.port, timeout=10)
    c.send(T.req('POST', '/a.txt?held', body=b'x'))
    assert c.is_quiet(0.3), 'answered by a stopped worker'
    c.worker = w
    return c


def errcase(c, data, status, close=True):
    """Send data on c; the listener's answer has status.  Returns the
    client's port."""
    c.send(data)
    r = c.response(timeout=10)
    if close:
        T.assert_listener_error(c, r, status)
    else:
        T.assert_eq(r.status, status, 'status')
    return c.sock.getsockname()[1]


def test_httperr_reasons():
    # Lines refused before routing (Hostname, RequestLength, Verb) name
    # no site and no pool.
    httperr_reasons('-')


def httperr_reasons(UNROUTED):
    """UNROUTED: the site and pool expected for a request refused
    before it was routed, or None not to check them."""
    want = []   # (client port, {field: value})

    def expect(port, status, reason, method='-', uri='-', version='-',
               site='-', queue='-', sport=None):
        want.append((port, {'c-ip': '127.0.0.1', 's-ip': '127.0.0.1',
                            's-port': str(sport or s.port),
                            'cs-version': version, 'cs-method': method,
                            'cs-uri': uri, 'sc-status': str(status),
                            's-siteid': site, 's-reason': reason,
                            's-queuename': queue}))
    with T.Server(ERR_CONF, files=FILES, nports=2, workers=2) as s:
        with T.Client(s.port) as c:
            expect(errcase(c, b'\x01garbage\r\n\r\n', 400), 400,
                   'BadRequest')
        with T.Client(s.ports[1]) as c:
            expect(errcase(c, T.req('GET', '/a.txt?h', host='other.example'),
                           400), 400, 'Hostname', 'GET', '/a.txt?h',
                   'HTTP/1.1', UNROUTED, UNROUTED, sport=s.ports[1])
        long_url = '/' + 'u' * 300
        with T.Client(s.port) as c:
            expect(errcase(c, T.req('GET', long_url), 414), 414,
                   'URL_Length', 'GET', long_url)
        with T.Client(s.port) as c:
            expect(errcase(c, T.req('GET', '/a.txt?f', headers={
                'X-Long': 'v' * 300}), 431), 431, 'FieldLength', 'GET',
                '/a.txt?f')
        with T.Client(s.port) as c:
            expect(errcase(c, T.req('GET', '/a.txt?r', headers=[
                ('X-H%d' % i, 'v' * 100) for i in range(12)]), 431), 431,
                'RequestLength', 'GET', '/a.txt?r', 'HTTP/1.1', UNROUTED,
                UNROUTED)
        with T.Client(s.port) as c:
            expect(errcase(c, T.req('POST', '/a.txt?big', headers={
                'Content-Length': '5000'}), 413), 413, 'EntityTooLarge',
                'POST', '/a.txt?big', 'HTTP/1.1', 's', 'default')
        with T.Client(s.port) as c:
            expect(errcase(c, b'CONNECT example.com:443 HTTP/1.1\r\n'
                           b'Host: example.com:443\r\n\r\n', 501), 501,
                   'Verb', 'CONNECT', 'example.com:443', 'HTTP/1.1',
                   UNROUTED, UNROUTED)

        # A partial head, then nothing: 408 after header_wait_timeout.
        with T.Client(s.port) as c:
            c.send(b'GET /a.txt?hw HTTP/1.1\r\nHost: lo')
            expect(c.sock.getsockname()[1], 408, 'Timer_HeaderWait',
                   'GET', '/a.txt?hw')
            T.assert_listener_error(c, c.response(timeout=5), 408)
        # An idle keep-alive connection, closed after connection_timeout.
        with T.Client(s.port) as c:
            T.assert_eq(c.request('GET', '/a.txt?idle').status, 200, 'GET')
            expect(c.sock.getsockname()[1], '-', 'Timer_ConnectionIdle')
            c.expect_closed(6)

        # The queue: one held, one parked, one more is refused; the parked
        # one waits past connection_timeout.
        slow = occupy(s)
        try:
            p = T.Client(s.port)
            p.send(T.req('GET', '/a.txt?parked'))
            assert p.is_quiet(0.5), 'not parked'
            with T.Client(s.port) as c:
                expect(errcase(c, T.req('GET', '/a.txt?full'), 503), 503,
                       'QueueFull', 'GET', '/a.txt?full', 'HTTP/1.1', 's',
                       'default')
            expect(p.sock.getsockname()[1], 503, 'Timer_AppPool', 'GET',
                   '/a.txt?parked', 'HTTP/1.1', 's', 'default')
            T.assert_listener_error(p, p.response(timeout=8), 503)
            p.close()
            # The held POST's worker dies: the listener answers 502.
            T.kill_quietly(slow.worker)
            expect(slow.sock.getsockname()[1], 502,
                   'Connection_Abandoned_By_AppPool', 'POST',
                   '/a.txt?held', 'HTTP/1.1', 's', 'default')
            T.assert_listener_error(slow, slow.response(timeout=10), 502)
        finally:
            T.kill_quietly(slow.worker, signal.SIGCONT)
            slow.close()

        # max_connections: the one past it gets 503.
        T.wait_for(lambda: T.tcp_sockets(s.listener()) <= 2, 10,
                   'connections to close')
        held = []
        try:
            for _ in range(30):
                c = T.Client(s.port)
                held.append(c)
                c.send(T.req('GET', '/a.txt?cl'))
                r = c.response(timeout=10)
                if r.status == 503:
                    expect(c.sock.getsockname()[1], 503, 'ConnLimit')
                    break
            else:
                raise AssertionError('no 503 past max_connections')
        finally:
            for c in held:
                c.close()

        # A stopped pool.
        ctl(s, 'stop', 'b')
        with T.Client(s.port) as c:
            expect(errcase(c, T.req('GET', '/b/x?off'), 503), 503,
                   'Disabled', 'GET', '/b/x?off', 'HTTP/1.1', 's', 'b')
        s.stop()
        recs = httperr_records(s)
    by_port = {}
    for r in recs:
        by_port.setdefault(r['c-port'], []).append(r)
    bad = []
    for port, fields in want:
        got = by_port.get(str(port), [])
        if len(got) != 1:
            bad.append('%d HTTPERR lines for client port %d (%s): %r'
                       % (len(got), port, fields['s-reason'], got))
            continue
        diff = dict((k, (got[0][k], v)) for k, v in fields.items()
                    if v is not None and got[0][k] != v)
        if diff:
            bad.append('%s line: {field: (got, expected)} %r'
                       % (fields['s-reason'], diff))
    assert not bad, '\n'.join(bad)


MORE_CONF = '''limits { entity_body_timeout = "1s"  connection_timeout = "1s"
          min_send_rate = 10000000 }
log { dir = "@DIR@/log"  flush_interval = "100ms" }
pool "default" { workers = 1  concurrency = 1  start = "always" }
site "s" { bindings = {"127.0.0.1:@PORT@"} root = "@ROOT@" }
'''


def test_httperr_more_reasons():
    """URL, N/I, Connection_Dropped, Timer_EntityBody and
    Timer_MinBytesPerSecond: one line each, with the client's port."""
    files = dict(FILES)
    files['zeros.bin'] = T.Sparse(32 * 1024 * 1024)
    want = {}
    with T.Server(MORE_CONF, files=files, workers=1) as s:
        # A path that does not normalise (it climbs above the root).
        with T.Client(s.port) as c:
            c.send(T.req('GET', '/a/../../etc/passwd'))
            T.assert_listener_error(c, c.response(timeout=5), 400)
            want[c.sock.getsockname()[1]] = ('400', 'URL', 'GET')
        # A transfer coding hsd does not implement.
        with T.Client(s.port) as c:
            c.send(T.req('POST', '/a.txt', headers={
                'Transfer-Encoding': 'gzip'}))
            T.assert_listener_error(c, c.response(timeout=5), 501)
            want[c.sock.getsockname()[1]] = ('501', 'N/I', 'POST')
        # A body answered on its head and never sent: the listener
        # throws it away and gives up after entity_body_timeout.
        with T.Client(s.port) as c:
            c.send(T.req('POST', '/a.txt', headers={
                'Content-Length': '500'}))
            T.assert_eq(c.response(timeout=5).status, 405, 'POST')
            c.expect_closed(5)
            want[c.sock.getsockname()[1]] = ('-', 'Timer_EntityBody', '-')
        # A reader slower than min_send_rate.
        c = T.Client(s.port, timeout=30, rcvbuf=4096)
        c.send(T.req('GET', '/zeros.bin'))
        t0 = time.monotonic()
        try:
            while time.monotonic() - t0 < 30:
                if not c.sock.recv(2048):
                    break
                time.sleep(0.1)
        except ConnectionResetError:
            pass
        want[c.sock.getsockname()[1]] = ('-', 'Timer_MinBytesPerSecond',
                                         '-')
        c.close()
        # A client that leaves while its request waits in the queue.
        (w,) = s.children('hsd-worker')
        T.get_to_eof(s.port, '/a.txt')
        os.kill(w, signal.SIGSTOP)
        try:
            held = T.Client(s.port)
            held.send(T.req('GET', '/a.txt?held'))
            gone = T.Client(s.port)
            gone.send(T.req('GET', '/a.txt?gone'))
            assert gone.is_quiet(0.3), 'not parked'
            want[gone.sock.getsockname()[1]] = ('-', 'Connection_Dropped',
                                                'GET')
            gone.close()
            T.wait_for(lambda: 'Connection_Dropped' in ''.join(
                open(f).read() for f in [os.path.join(
                    s.dir, 'log', 'HTTPERR', 'httperr1.log')]), 10,
                'the dropped connection logged')
        finally:
            os.kill(w, signal.SIGCONT)
        held.close()
        s.stop()
        recs = httperr_records(s)
    by_port = {}
    for r in recs:
        by_port.setdefault(int(r['c-port']), []).append(r)
    for port, (status, reason, method) in want.items():
        # By port and reason: a client port freed by one connection may
        # be the next connection's (the server closed first, so the
        # client side is free to reuse it at once).
        got = [r for r in by_port.get(port, []) if r['s-reason'] == reason]
        T.assert_eq(len(got), 1, '%s lines for port %d: %r'
                    % (reason, port, by_port.get(port, [])))
        T.assert_eq((got[0]['sc-status'], got[0]['s-reason'],
                     got[0]['cs-method']), (status, reason, method),
                    reason + ' line')


def test_httperr_app_offline():
    """A pool taken offline by rapid-fail protection: AppOffline."""
    conf = '''pool "default" { workers = 1  start = "always"
    rapid_fail_max = 1  rapid_fail_interval = "5m" }
site "s" { bindings = {"127.0.0.1:@PORT@"} root = "@ROOT@" }
'''
    with T.Server(conf, files=FILES, workers=1) as s:
        (w,) = s.children('hsd-worker')
        T.kill_quietly(w)
        T.wait_for(lambda: 'taking it offline' in s.log(), 10,
                   'the pool offline')
        with T.Client(s.port) as c:
            port = errcase(c, T.req('GET', '/a.txt?offline'), 503)
        s.stop()
        got = [r for r in httperr_records(s) if r['c-port'] == str(port)]
        T.assert_eq(len(got), 1, 'HTTPERR lines %r' % got)
        want = {'c-ip': '127.0.0.1', 's-ip': '127.0.0.1',
                's-port': str(s.port), 'cs-version': 'HTTP/1.1',
                'cs-method': 'GET', 'cs-uri': '/a.txt?offline',
                'sc-status': '503', 's-siteid': 's',
                's-reason': 'AppOffline', 's-queuename': 'default'}
        T.assert_eq(dict((k, got[0][k]) for k in want), want, 'the line')


# ---------------------------------------------------------------- rollover

def query_counts(recs):
    """{query: how many records have it} of the records with a query."""
    out = {}
    for r in recs:
        q = r.get('cs-uri-query', '-')
        if q != '-':
            out[q] = out.get(q, 0) + 1
    return out


def test_rollover_size():
    # Spread over write rounds, and all in one round (lines that wait
    # for a file being opened roll over too).
    rollover_size(paced=True)
    rollover_size(paced=False)


def rollover_size(paced):
    """paced: requests in groups of 5 with a pause longer than
    flush_interval between them, so each group is a write round of its
    own; else all in one round."""
    conf = '''pool "default" { workers = 1 }
log { dir = "@DIR@/log"  flush_interval = "100ms" }
site "s" { bindings = {"127.0.0.1:@PORT@"} root = "@ROOT@"
    log { rollover = "size"  max_size = "2K" } }
'''
    n = 60
    with T.Server(conf, files=FILES, workers=1) as s:
        with T.Client(s.port) as c:
            for i in range(n):
                T.assert_eq(c.request('GET', '/a.txt?i=%d' % i,
                                      headers={'User-Agent': UA}).status,
                            200, 'GET')
                if paced and i % 5 == 4:
                    time.sleep(0.4)
        s.stop()
        d = log_dir(s)
        names = log_files(d)
        assert len(names) >= 3, 'files %r' % names
        T.assert_eq(names, ['u_extend%d.log' % (i + 1)
                            for i in range(len(names))], 'file names')
        longest = 0
        for name in names:
            lines = read_lines(os.path.join(d, name))
            assert lines[0].startswith('#Software: '), (name, lines[:2])
            longest = max([longest] + [len(x) + 1 for x in lines])
        # A round's lines may go past the limit (paced: 5 lines).
        slack = longest * (5 if paced else 1)
        for name in names:
            size = os.path.getsize(os.path.join(d, name))
            assert size <= 2048 + slack, '%s is %d bytes' % (name, size)
        T.assert_eq(query_counts(w3c_records(s)),
                    dict(('i=%d' % i, 1) for i in range(n)),
                    'each request once')


def test_rollover_daily_fast():
    """HSD_LOG_PERIOD_SECONDS=2: a day lasts 2 s, so a new u_exYYMMDD.log
    every 2 s, named after consecutive days."""
    conf = '''pool "default" { workers = 1 }
log { dir = "@DIR@/log"  flush_interval = "100ms" }
site "s" { bindings = {"127.0.0.1:@PORT@"} root = "@ROOT@"
    log { rollover = "daily" } }
'''
    os.environ['HSD_LOG_PERIOD_SECONDS'] = '2'
    try:
        s = T.Server(conf, files=FILES, workers=1)
    finally:
        del os.environ['HSD_LOG_PERIOD_SECONDS']
    with s:
        n = 0
        end = time.monotonic() + 7
        with T.Client(s.port) as c:
            while time.monotonic() < end:
                T.assert_eq(c.request('GET', '/a.txt?i=%d' % n).status,
                            200, 'GET')
                n += 1
                time.sleep(0.1)
        s.stop()
        d = log_dir(s)
        names = log_files(d)
        assert len(names) >= 3, 'files %r' % names
        days = []
        for name in names:
            m = re.match(r'^u_ex(\d{6})\.log$', name)
            assert m, name
            days.append(calendar.timegm(time.strptime(m.group(1),
                                                      '%y%m%d')))
            lines = read_lines(os.path.join(d, name))
            assert lines[0].startswith('#Software: '), (name, lines[:2])
        T.assert_eq([b - a for a, b in zip(days, days[1:])],
                    [86400] * (len(days) - 1), 'consecutive days %r' % names)
        T.assert_eq(query_counts(w3c_records(s)),
                    dict(('i=%d' % i, 1) for i in range(n)),
                    'each request once')


def test_rollover_httperr():
    rollover_httperr(paced=True)
    rollover_httperr(paced=False)


def rollover_httperr(paced):
    conf = '''pool "default" { workers = 1 }
log { dir = "@DIR@/log"  httperr_max_size = "1K"  flush_interval = "100ms" }
site "s" { bindings = {"127.0.0.1:@PORT@"} root = "@ROOT@" }
'''
    n = 40
    with T.Server(conf, files=FILES, workers=1) as s:
        for i in range(n):
            with T.Client(s.port) as c:
                errcase(c, b'\x01bad %d\r\n\r\n' % i, 400)
            if paced and i % 3 == 2:
                time.sleep(0.4)
        s.stop()
        d = os.path.join(s.dir, 'log', 'HTTPERR')
        names = log_files(d)
        assert len(names) >= 3, 'files %r' % names
        T.assert_eq(names, ['httperr%d.log' % (i + 1)
                            for i in range(len(names))], 'file names')
        for name in names:
            lines = read_lines(os.path.join(d, name))
            assert lines[0].startswith('#Software: '), (name, lines[:2])
            size = os.path.getsize(os.path.join(d, name))
            assert size <= 1024 + (3 if paced else 1) * 100, \
                '%s is %d bytes' % (name, size)
        recs = httperr_records(s)
        T.assert_eq(len(recs), n, 'HTTPERR lines')
        T.assert_eq(set(r['s-reason'] for r in recs), {'BadRequest'},
                    'reasons')


# ---------------------------------------------------------------- reload

def test_fields_change_on_reload():
    conf = '''pool "default" { workers = 1 }
log { dir = "@DIR@/log"  flush_interval = "100ms" }
site "s" { bindings = {"127.0.0.1:@PORT@"} root = "@ROOT@"
    log { fields = {"date", "time", "cs-uri-stem", "cs-uri-query"} } }
'''
    # Written in the canonical order whatever the order in the file.
    new_fields = ['time', 'cs-method', 'cs-uri-query', 'c-ip', 'sc-status',
                  'sc-bytes']
    with T.Server(conf, files=FILES, workers=1) as s:
        T.assert_eq(T.get(s.port, '/a.txt?before').status, 200, 'GET')
        d = log_dir(s)

        def blocks():
            (name,) = log_files(d)
            lines = read_lines(os.path.join(d, name))
            return [x for x in lines if x.startswith('#Fields: ')], lines
        T.wait_for(lambda: log_files(d) and
                   any(x.endswith(' before') for x in blocks()[1]), 5,
                   'the line before the reload in the file')
        with open(s.conf) as f:
            text = f.read()
        old = '{"date", "time", "cs-uri-stem", "cs-uri-query"}'
        assert old in text
        with open(s.conf, 'w') as f:
            f.write(text.replace(old, '{%s}' % ', '.join(
                '"%s"' % x for x in reversed(new_fields))))
        ctl(s, 'reload')
        # The listener applies it; a request after that is logged with
        # the new fields.
        T.wait_for(lambda: 'configuration 2: 1 pools' in s.log(), 5,
                   'the listener to apply the reload')
        r = T.get(s.port, '/a.txt?after')
        T.assert_eq(r.status, 200, 'GET after the reload')
        T.wait_for(lambda: any(' after ' in x for x in blocks()[1]), 5,
                   'the line after the reload')
        fields, lines = blocks()
        T.assert_eq(fields, ['#Fields: date time cs-uri-stem cs-uri-query',
                             '#Fields: ' + ' '.join(new_fields)],
                    '#Fields lines')
        i = lines.index(fields[1])
        assert lines[i - 3].startswith('#Software: '), lines
        after = [x for x in lines[i + 1:] if not x.startswith('#')]
        T.assert_eq(len(after), 1, 'lines after the new block: %r' % after)
        v = after[0].split(' ')
        T.assert_eq(len(v), len(new_fields), 'fields of %r' % after[0])
        T.assert_eq(v[1:5], ['GET', 'after', '127.0.0.1', '200'],
                    'values of %r' % after[0])
        T.assert_eq(int(v[5]), len(r.head) + 4 + len(r.body), 'sc-bytes')
        before = [x for x in lines[:i] if not x.startswith('#')]
        assert before[-1].endswith(' /a.txt before'), before


def test_goaccess():
    goaccess = T.need_program('goaccess')
    conf = '''pool "default" { workers = 1 }
site "s" { bindings = {"127.0.0.1:@PORT@"} root = "@ROOT@" }
'''
    with T.Server(conf, files=FILES, workers=1) as s:
        n = 0
        for i in range(17):
            r = T.get(s.port, '/a.txt?i=%d' % i,
                      headers={'User-Agent': UA})
            T.assert_eq(r.status, 200, 'GET')
            n += 1
        T.assert_eq(T.get(s.port, '/nothere').status, 404, '404')
        n += 1
        s.stop()
        (name,) = log_files(log_dir(s))
        path = os.path.join(log_dir(s), name)
        nlines = sum(1 for x in read_lines(path) if not x.startswith('#'))
        out = os.path.join(s.dir, 'report.json')
        p = subprocess.run([goaccess, path, '--log-format=W3C',
                            '--date-format=%Y-%m-%d', '--time-format=%T',
                            '--no-global-config', '-o', out],
                           stdin=subprocess.DEVNULL, capture_output=True,
                           text=True, timeout=60)
        T.assert_eq(p.returncode, 0, 'goaccess status (%s)' % p.stderr)
        with open(out) as f:
            report = json.load(f)
        g = report['general']
        # Every line of the file, the harness's probes included.
        T.assert_eq(g['total_requests'], nlines, 'requests goaccess read')
        T.assert_eq(g.get('failed_requests', 0), 0, 'lines goaccess failed')
        T.assert_eq(len(mine(w3c_records(s))), n, 'the test\'s lines')


if __name__ == '__main__':
    T.main()
