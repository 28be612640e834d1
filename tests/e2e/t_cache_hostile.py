"""
A hostile worker offers the response cache what it must refuse: a memfd
it still maps writable, an fd that is no memfd, a size that lies, a
Content-Length that lies, a body over max_entry_size, offers for a
request it does not hold, a truncated offer; and well-formed responses
each against one admission rule (Set-Cookie, no-store, private,
Pragma: no-cache, Vary, an Expires past, a head over max_header_size,
a status other than 200).  Nothing is admitted,
each refusal is counted, no process crashes, and the real worker's
responses are cached and served afterwards.

The worker is a prelude that takes the first handoff itself, sends the
offers, answers the client, holds its writable mapping a second (so
hsd-cached sees it), and execs the real hsd-worker.
"""

import os
import re
import subprocess
import sys

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import hsdtest as T  # noqa: E402

HSDCTL = os.path.join(T.BUILDDIR, 'hsdctl')

CONF = '''pool "default" { workers = 1  start = "always" }
cache { activity_period = "0" }
site "s" { bindings = {"127.0.0.1:@PORT@"} root = "@ROOT@" }
'''

BODY = b'<p>the real one</p>\n'

PRELUDE = r'''#!/usr/bin/env python3
import mmap, os, select, socket, struct, sys, time

V = int(os.environ['HSD_MSG_VERSION'])
HANDOFF, DONE, READY, OFFER = 301, 400, 401, 410
marker = os.environ['HSD_HOSTILE_MARKER']

def run():
    lsn = socket.socket(fileno=os.dup(5))

    def send(mtype, payload, ident=0, fd=None):
        h = struct.pack('<HHIII', V, mtype, len(payload), ident, 0)
        if fd is None:
            lsn.send(h + payload)
        else:
            lsn.sendmsg([h + payload], [(socket.SOL_SOCKET,
                        socket.SCM_RIGHTS, struct.pack('i', fd))])

    send(READY, b'')
    while True:
        # Non-blocking, as the real worker wants its channel.
        select.select([lsn], [], [])
        try:
            msg, anc, _, _ = lsn.recvmsg(300000, socket.CMSG_SPACE(16))
        except BlockingIOError:
            continue
        fds = []
        for lvl, typ, data in anc:
            if lvl == socket.SOL_SOCKET and typ == socket.SCM_RIGHTS:
                fds += list(struct.unpack('%di' % (len(data) // 4),
                                          data[:len(data) - len(data) % 4]))
        if struct.unpack_from('<HHIII', msg)[1] == HANDOFF:
            break
        for fd in fds:
            os.close(fd)
    conn, slot = struct.unpack_from('<IH', msg, 16)
    client = fds[0]

    def memfd(data):
        fd = os.memfd_create('hostile', os.MFD_ALLOW_SEALING)
        os.write(fd, data)
        return fd

    def offer(fd, head_len, body_len, c=conn, s=slot, name=b'a.html'):
        p = struct.pack('<IHHIIQQQQqq', c, s, len(name), head_len, 0,
                        body_len, 0, 0, 0, 0, 0) + name
        send(OFFER, p, c, None if fd == -1 else fd)

    head = b'HTTP/1.1 200 OK\r\nContent-Type: text/html\r\n' \
           b'Content-Length: 8\r\n'
    body = b'hostile\n'
    held = memfd(head + body)
    mapping = mmap.mmap(held, len(head + body))      # writable, kept
    offer(held, len(head), len(body))
    null = os.open('/dev/null', os.O_RDONLY)
    offer(null, len(head), len(body))                # not a memfd
    offer(memfd(head + body), len(head), len(body) + 100)   # size lies
    h = head.replace(b'Length: 8', b'Length: 9')
    offer(memfd(h + body), len(h), len(body))        # Content-Length lies
    big = b'x' * 300000
    h = b'HTTP/1.1 200 OK\r\nContent-Length: 300000\r\n'
    offer(memfd(h + big), len(h), len(big))          # over max_entry_size
    # Well-formed, and each against one rule of the response's side.
    for extra in (b'Set-Cookie: a=b\r\n', b'Cache-Control: no-store\r\n',
                  b'Cache-Control: private, max-age=60\r\n',
                  b'Pragma: no-cache\r\n', b'Vary: Cookie\r\n',
                  b'Expires: Thu, 01 Jan 1970 00:00:00 GMT\r\n',
                  b'X-Pad: ' + b'p' * 2000 + b'\r\n'):
        h = head + extra
        offer(memfd(h + body), len(h), len(body))
    h = head.replace(b'200 OK', b'404 Not Found')
    offer(memfd(h + body), len(h), len(body))
    fd = memfd(head + body)
    offer(fd, len(head), len(body), c=conn + 1000)   # not its request
    offer(-1, len(head), len(body), c=conn + 1000)   # nor with no fd
    offer(fd, len(head), len(body), s=999)           # not its slot
    send(OFFER, b'\0' * 10, conn, fd)                # truncated
    resp = b'HTTP/1.1 200 OK\r\nContent-Length: 8\r\n' \
           b'Connection: close\r\n\r\n' + body
    os.write(client, resp)
    send(DONE, struct.pack('<IHHQIIIIQQQ', conn, slot, 200, len(resp), 0,
                           0, 0, 0, 0, 0, 0), conn)
    os.close(client)
    time.sleep(1.0)
    mapping.close()
    lsn.detach()

if not os.path.exists(marker):
    open(marker, 'w').close()
    run()
os.execv(os.environ['HSD_REAL_WORKER'], sys.argv)
'''


def libexec():
    d = T.worker_libexec(PRELUDE, 0o755)
    os.chmod(d, 0o755)
    os.environ['HSD_HOSTILE_MARKER'] = os.path.join(d, 'marker')
    return d


def cache_stats(s):
    p = subprocess.run([HSDCTL, '-s', os.path.join(s.run_dir, 'hsd.sock'),
                        'cache'], capture_output=True, text=True, timeout=30)
    T.assert_eq(p.returncode, 0, 'hsdctl cache (stderr %r)' % p.stderr)
    out = p.stdout
    refused = dict((a, int(b)) for a, b in (
        x.split('=') for x in re.search(r'refused:(.*)', out).group(1).split()))
    entries = int(re.search(r'entries: (\d+)', out).group(1))
    return entries, refused


def test_hostile_offers():
    d = libexec()
    with T.Server(CONF, files={'a.html': BODY}, workers=1,
                  libexec=d) as s:
        listener = s.listener()
        (cached,) = s.children('hsd-cached')
        # The prelude took the first request (the harness's own).
        T.wait_for(lambda: cache_stats(s)[1].get('invalid', 0) >= 4 and
                   cache_stats(s)[1].get('size', 0) >= 1, 10,
                   'the offers refused')
        T.wait_for(lambda: cache_stats(s)[1].get('status', 0) >= 1, 10,
                   'the last offer refused')
        entries, refused = cache_stats(s)
        T.assert_eq((entries, refused['invalid'], refused['size']),
                    (0, 4, 1), 'entries, invalid and oversized offers')
        T.assert_eq(dict((k, refused[k]) for k in (
            'set_cookie', 'no_store', 'vary', 'expired', 'header_size',
            'status')), {'set_cookie': 1, 'no_store': 3, 'vary': 1,
                         'expired': 1, 'header_size': 1, 'status': 1},
            'each response-side rule')
        log = s.log()
        assert 'cache_offer: worker' in log and 'malformed offer' in log, \
            'the listener did not drop the offers for other requests'
        # The real worker now: served, admitted, answered from the cache.
        T.wait_for(lambda: T.get(s.port, '/a.html').body == BODY, 10,
                   'the real worker')
        T.wait_for(lambda: T.get(s.port, '/a.html').header('Age')
                   is not None, 10, 'a hit')
        r = T.get(s.port, '/a.html')
        T.assert_eq(r.body, BODY, 'the cached body')
        T.assert_eq((s.listener(), s.children('hsd-cached')),
                    (listener, [cached]), 'listener and hsd-cached pids')


if __name__ == '__main__':
    T.main()
