"""
Peers are hostile: a worker that sends garbage on its channels -- records
too short, of another protocol version, with lengths that lie, DONE for
requests it never held, several fds at once, oversized, random bytes --
must not crash or confuse the listener or the pool manager.  The worker
here is the real hsd-worker behind a prelude that sends the garbage first
and then execs it, so the server must go on serving afterwards.
"""

import os
import sys

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import hsdtest as T  # noqa: E402

CONF = '''pool "default" { workers = 2 }
site "s" { bindings = {"127.0.0.1:@PORT@"} root = "@ROOT@" }
'''

BODY = b'still serving\n'

# Runs as "hsd-worker" with the real worker's fds (3: pool manager,
# 4: config, 5: listener), sends garbage on 3 and 5, then execs the real
# worker with the same argv.
PRELUDE = r'''#!/usr/bin/env python3
import os, random, socket, struct, sys

def hdr(version, mtype, length, ident=0):
    return struct.pack('<HHIII', version, mtype, length, ident, 0)

def done(conn, slot, status=200, nbytes=10, flags=1, rest=0, out=0,
         foff=0, flen=0, discard=0):
    return struct.pack('<IHHQIIIIQQQ', conn, slot, status, nbytes, flags,
                       rest, out, 0, foff, flen, discard)

DL = len(done(0, 0))

V, DONE, READY = int(os.environ['HSD_MSG_VERSION']), 400, 550
devnull = os.open('/dev/null', os.O_RDONLY)
rng = random.Random(int(sys.argv[-1]) if sys.argv[-1].isdigit() else 1)

lsn = socket.socket(fileno=os.dup(5))
records = [
    b'abc',
    hdr(99, DONE, DL) + done(1, 0),
    hdr(V, DONE, 100) + done(1, 0),
    hdr(V, DONE, DL) + done(1, 9999),
    hdr(V, DONE, DL) + done(777777, 0),
    hdr(V, DONE, DL) + done(1, 0, rest=1000000),
    hdr(V, DONE, DL) + done(1, 0, discard=1 << 62),
    hdr(V, DONE, 4) + b'\0\0\0\0',
    hdr(V, 12345, 0),
    hdr(V, DONE, 200000) + b'\0' * 200000,
]
records += [bytes(rng.randrange(256) for _ in range(rng.randrange(1, 64)))
            for _ in range(50)]
for r in records:
    lsn.send(r)
lsn.sendmsg([hdr(V, DONE, DL) + done(1, 0)],
            [(socket.SOL_SOCKET, socket.SCM_RIGHTS,
              struct.pack('ii', devnull, devnull))])
lsn.detach()

pm = socket.socket(fileno=os.dup(3))
for r in [b'x', hdr(99, READY, 0), hdr(V, 4242, 0), hdr(V, READY, 8, 1)]:
    pm.send(r)
pm.sendmsg([hdr(V, 4242, 0)],
           [(socket.SOL_SOCKET, socket.SCM_RIGHTS, struct.pack('i', devnull))])
pm.detach()
os.close(devnull)
os.execv(os.environ['HSD_REAL_WORKER'], sys.argv)
'''


def hostile_libexec():
    return T.worker_libexec(PRELUDE)


def serves(s, n=20):
    with T.Client(s.port) as c:
        for i in range(n):
            r = c.request('GET', '/a.txt')
            T.assert_eq(r.status, 200, 'status of keep-alive request %d' % i)
            T.assert_eq(r.body, BODY, 'body of keep-alive request %d' % i)
    r = T.get(s.port, '/a.txt')
    T.assert_eq(r.body, BODY, 'body on a new connection')


def test_garbage_from_workers():
    libexec = hostile_libexec()
    with T.Server(CONF, files={'a.txt': BODY}, workers=2,
                  libexec=libexec) as s:
        listener = s.listener()
        T.wait_for(lambda: s.log().count('does not match a request') >= 4,
                   10, 'the listener to reject the bogus DONEs')
        serves(s)
        # Killed workers come back through the same prelude, and the
        # listener and pool manager are still the original ones.
        old = s.children('hsd-worker')
        for pid in old:
            T.kill_quietly(pid)
        T.wait_for(lambda: len(set(s.children('hsd-worker')) - set(old))
                   == 2, 10, 'two new workers')
        serves(s)
        T.assert_eq(s.listener(), listener, 'listener pid')
        assert s.running(), 'the pool manager died'
        log = s.log()
        for what in ('dropped a', 'version 99', 'unexpected message type',
                     'does not match a request'):
            assert what in log, 'no %r in the log: garbage not seen?' % what
    T.assert_eq(s.rc, 0, 'pool manager exit status')


if __name__ == '__main__':
    T.main()
