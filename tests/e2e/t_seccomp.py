"""
The listener's seccomp filter (src/listener/sandbox.c).  Every other test
runs the listener under it, and the harness fails a test whose log shows
a trapped call, so each listener path is exercised with the filter on;
t_privsep checks that only the listener has one.  Here the real listener
is made to break it: gdb, attached as root, calls socket(2) inside it.
The listener must log the call's number and die of SIGSYS, and the pool
manager must say so and start another, filtered like the first.
"""

import os
import platform
import re
import subprocess
import sys

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import hsdtest as T  # noqa: E402

CONF = '''pool "default" { workers = 1 }
site "s" {
	bindings = {"127.0.0.1:@PORT@"}
	root = "@ROOT@"
}
'''

FILES = {'a.txt': 'hello\n'}

SYS_SOCKET_X86_64 = 41


def test_refused_call_kills_the_listener():
    if not T.SECCOMP:
        raise T.Skip('built with --disable-seccomp')
    if os.geteuid() != 0:
        raise T.Skip('needs root to ptrace the listener')
    if platform.machine() != 'x86_64':
        raise T.Skip('the system call number here is x86_64\'s')
    gdb = T.need_program('gdb')
    with T.Server(CONF, files=FILES, workers=1) as s:
        T.assert_eq(T.get(s.port, '/a.txt').status, 200, 'served first')
        lsn = s.listener()
        s.expect_seccomp_kill(lsn)
        # The call runs in the listener as if its own code made it.
        r = subprocess.run(
            [gdb, '-p', str(lsn), '-batch', '-nx',
             '-ex', 'call (long)syscall(%d, 2, 1, 0)' % SYS_SOCKET_X86_64],
            stdin=subprocess.DEVNULL, capture_output=True, text=True,
            timeout=60)
        assert 'SIGSYS' in r.stdout + r.stderr, \
            'gdb did not see the listener get SIGSYS:\n%s%s' % (r.stdout,
                                                                r.stderr)
        new = T.wait_for(lambda: [p for p in s.children('hsd-listener')
                                  if p != lsn], 10, 'a new listener')
        log = s.log()
        assert re.search(r'hsd-listener\[%d\]: seccomp: system call %d is '
                         r'not allowed in the listener; killed'
                         % (lsn, SYS_SOCKET_X86_64), log), log
        assert 'the listener (pid %d) killed by signal 31 (SIGSYS: a ' \
            'system call its seccomp filter refuses); restarting it' % lsn \
            in log, log
        # The pool manager started another, which serves.
        T.assert_eq(T.get(s.port, '/a.txt').status, 200, 'served again')
        T.assert_eq(T.proc_status(new[0]).get('Seccomp'), '2',
                    'the new listener is filtered too')

if __name__ == '__main__':
    T.main()
