"""
Supervision of the listener (issue 7): when it dies the pool manager
starts another on the same listening sockets and gives every worker a
channel to it.  The workers keep running; connections waiting in the
accept backlog are served; a stream of new connections sees none refused;
only connections the dead listener held may be lost.  A listener that
keeps dying at start is restarted after a growing pause, and the server
stays up.
"""

import errno
import os
import signal
import socket
import sys
import threading
import time

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import hsdtest as T  # noqa: E402

CONF = '''pool "default" { workers = 2  start = "always" }
site "s" {
	bindings = {"127.0.0.1:@PORT@"}
	root = "@ROOT@"
}
'''

BODY = 'supervised\n' * 100
FILES = {'a.txt': BODY}


def new_listener(s, old):
    """Wait for the listener that replaces pid old; its pid."""
    def other():
        pids = s.children('hsd-listener')
        return pids[0] if len(pids) == 1 and pids[0] != old else None
    return T.wait_for(other, 10, 'a new listener')


def check_body(port):
    r = T.get(port, '/a.txt', timeout=40)
    T.assert_eq(r.status, 200, 'status')
    T.assert_eq(r.body.decode(), BODY, 'body')


def test_listener_restarted_workers_kept():
    with T.Server(CONF, files=FILES, workers=2) as s:
        check_body(s.port)
        workers = sorted(s.workers())
        old = s.listener()
        os.kill(old, signal.SIGKILL)
        new = new_listener(s, old)
        for _ in range(20):
            check_body(s.port)
        T.assert_eq(sorted(s.workers()), workers,
                    'the same workers serve the new listener')
        log = s.log()
        assert 'the listener (pid %d) killed by signal 9; restarting it' \
            % old in log, log
        # Keep-alive through the new listener.
        with T.Client(s.port) as c:
            for _ in range(3):
                r = c.request('GET', '/a.txt')
                T.assert_eq(r.status, 200, 'keep-alive status')
                T.assert_eq(r.body.decode(), BODY, 'keep-alive body')
        # And again: each restart reconnects the workers.
        os.kill(new, signal.SIGKILL)
        new_listener(s, new)
        check_body(s.port)
        T.assert_eq(sorted(s.workers()), workers, 'still the same workers')


def test_backlog_served_by_the_next_listener():
    """Connections made while no listener accepts wait in the backlog of
    the sockets the pool manager holds, and the next listener serves
    them."""
    with T.Server(CONF, files=FILES, workers=2) as s:
        check_body(s.port)
        old = s.listener()
        os.kill(old, signal.SIGSTOP)
        clients = []
        try:
            for _ in range(20):
                c = T.Client(s.port)
                c.send(T.req('GET', '/a.txt',
                             headers={'Connection': 'close'}))
                clients.append(c)
        finally:
            os.kill(old, signal.SIGKILL)
        new_listener(s, old)
        for c in clients:
            r = c.response(timeout=10)
            T.assert_eq(r.status, 200, 'a backlogged connection')
            T.assert_eq(r.body.decode(), BODY, 'its body')
            c.close()


def test_worker_finishes_a_request_of_a_dead_listener():
    """The interleaving where a worker learns of the listener's death by
    its DONE failing, not by the channel's EOF: the handoff is in the
    stopped worker's channel when the listener dies, so the worker reads
    it first, answers the client, and then finds nobody to tell.  It must
    not die of that, and it serves the next listener."""
    one = CONF.replace('workers = 2', 'workers = 1')
    with T.Server(one, files=FILES, workers=1) as s:
        T.get_to_eof(s.port, '/a.txt')
        (w,) = s.children('hsd-worker')
        old = s.listener()
        os.kill(w, signal.SIGSTOP)
        try:
            c = T.Client(s.port)
            c.send(T.req('GET', '/a.txt'))
            assert c.is_quiet(0.3), 'answered by a stopped worker'
            os.kill(old, signal.SIGKILL)
            new_listener(s, old)
        finally:
            os.kill(w, signal.SIGCONT)
        # The worker had the socket and answered; the connection then
        # ends, since nobody can carry it on.
        r = c.response(timeout=10)
        T.assert_eq((r.status, r.body.decode()), (200, BODY),
                    'the request the dead listener handed over')
        c.close()
        check_body(s.port)
        T.assert_eq(s.children('hsd-worker'), [w], 'the same worker')
        assert 'fatal' not in s.log(), s.log()


def stream(port, stop, results, lock):
    """New connections one after another until stop: each GET's outcome."""
    while not stop.is_set():
        outcome = 'ok'
        try:
            with T.Client(port, timeout=10) as c:
                r = c.request('GET', '/a.txt',
                              headers={'Connection': 'close'})
                if r.status != 200 or r.body.decode() != BODY:
                    outcome = 'bad: %d %r' % (r.status, r.body[:60])
        except ConnectionRefusedError:
            outcome = 'refused'
        except OSError as e:
            outcome = 'refused' if e.errno == errno.ECONNREFUSED else \
                'lost'
        except T.ConnectionClosed:
            outcome = 'lost'
        with lock:
            results.append(outcome)


def kill_under_stream(nclients, kills):
    with T.Server(CONF, files=FILES, workers=2) as s:
        stop = threading.Event()
        lock = threading.Lock()
        results = []
        threads = [threading.Thread(target=stream,
                                    args=(s.port, stop, results, lock))
                   for _ in range(nclients)]
        for t in threads:
            t.start()
        try:
            for _ in range(kills):
                T.wait_for(lambda: len(results) > 20, 20, 'traffic')
                with lock:
                    before = len(results)
                old = s.listener()
                os.kill(old, signal.SIGKILL)
                new_listener(s, old)
                T.wait_for(lambda: results[before:].count('ok') > 20, 20,
                           'requests served by the new listener')
        finally:
            stop.set()
            for t in threads:
                t.join(30)
        refused = results.count('refused')
        lost = results.count('lost')
        bad = [r for r in results if r not in ('ok', 'refused', 'lost')]
        print('# %d clients, %d kills: %d requests, %d lost' %
              (nclients, kills, len(results), lost))
        T.assert_eq(refused, 0, 'connections refused')
        T.assert_eq(bad, [], 'wrong answers')
        # Only what a dead listener held: one connection per client at
        # most, each time.
        assert lost <= nclients * kills, \
            '%d lost with %d clients and %d kills' % (lost, nclients, kills)


def test_kill_under_a_stream_of_new_connections_few():
    for _ in range(2):
        kill_under_stream(4, 3)


def test_kill_under_a_stream_of_new_connections_many():
    for _ in range(2):
        kill_under_stream(32, 3)


BROKEN_LISTENER = '''#!/bin/sh
# Dies at once while the file "broken" is next to it.
[ -e "$(dirname "$0")/broken" ] && exit 3
exec "%s" "$@"
'''


def test_listener_that_cannot_stay_up():
    """A listener that dies at start again and again is restarted after a
    growing pause, the server stays up, and a fixed one serves again."""
    d = T.tempfile.mkdtemp(prefix='hsd-e2e-libexec-')
    try:
        os.chmod(d, 0o755)
        for name in ('hsd-worker', 'hsd-logd', 'hsd-cached'):
            os.symlink(os.path.join(T.BUILDDIR, name), os.path.join(d, name))
        path = os.path.join(d, 'hsd-listener')
        with open(path, 'w') as f:
            f.write(BROKEN_LISTENER % os.path.join(T.BUILDDIR,
                                                   'hsd-listener'))
        os.chmod(path, 0o755)
        with T.Server(CONF, files=FILES, workers=2, libexec=d) as s:
            check_body(s.port)
            workers = sorted(s.workers())
            open(os.path.join(d, 'broken'), 'w').close()
            os.kill(s.listener(), signal.SIGKILL)
            T.wait_for(lambda: 'restarting it in 1000 ms' in s.log(), 20,
                       'the restarts to back off')
            assert s.running(), 'the pool manager stays up'
            T.assert_eq(sorted(s.workers()), workers,
                        'the workers wait for a listener')
            os.unlink(os.path.join(d, 'broken'))
            # Asked while none runs, this waits in the backlog.
            check_body(s.port)
            T.assert_eq(len(s.children('hsd-listener')), 1, 'one listener')
    finally:
        T.shutil.rmtree(d, ignore_errors=True)


if __name__ == '__main__':
    T.main()
