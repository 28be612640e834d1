"""
Privilege separation (issue 6, step 1), started as root: the pool manager
stays root; the listener runs as the server-wide user/group, chrooted to
chroot_dir, with no supplementary groups, no_new_privs and no
capabilities; each worker runs as its pool's identity, so files are served
with that identity's permissions.  Unknown users and groups are refused by
-t.  Started as a normal user (setpriv), everything runs as that user and
an identity the file asks for that is not its own is refused.
"""

import grp
import os
import pwd
import shutil
import sys

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import hsdtest as T  # noqa: E402

WWW = pwd.getpwnam('www-data')
NOBODY = pwd.getpwnam('nobody')
NOGROUP = grp.getgrnam('nogroup')

# Line numbers matter: the -t tests name them.
CONF = '''pool "default" { workers = 1 }
pool "nob" {
	workers = 1
	user = "nobody"
	group = "nogroup"
}
site "s" {
	bindings = {"127.0.0.1:@PORT@"}
	root = "@ROOT@"
	application "/n" { pool = "nob" }
}
'''

FILES = {
    'a.txt': 'hello\n',
    'zero.txt': 'nobody may read this\n',
    'n/ok.txt': 'for everyone\n',
    'n/www.txt': 'for www-data only\n',
    'www.txt': 'for www-data only\n',
}


def need_root():
    if os.geteuid() != 0:
        raise T.Skip('needs root (privilege separation is off otherwise)')


def asan_build():
    """LeakSanitizer needs /proc, so an ASan build skips the chroot."""
    with open(os.path.join(T.BUILDDIR, 'hsd-listener'), 'rb') as f:
        return b'__asan_init' in f.read()


def ids(pid):
    st = T.proc_status(pid)
    return {
        'uid': [int(x) for x in st['Uid'].split()],
        'gid': [int(x) for x in st['Gid'].split()],
        'groups': [int(x) for x in st['Groups'].split()],
        'nnp': st.get('NoNewPrivs'),
        'capeff': int(st['CapEff'], 16),
        'capprm': int(st['CapPrm'], 16),
        'seccomp': st.get('Seccomp'),
    }


def assert_dropped(pid, uid, gid, what):
    got = ids(pid)
    T.assert_eq(got['uid'], [uid] * 4, '%s: real, effective, saved and fs '
                'uid' % what)
    T.assert_eq(got['gid'], [gid] * 4, '%s: gids' % what)
    T.assert_eq(got['groups'], [gid], '%s: supplementary groups' % what)
    T.assert_eq(got['nnp'], '1', '%s: NoNewPrivs' % what)
    T.assert_eq(got['capeff'], 0, '%s: CapEff' % what)
    T.assert_eq(got['capprm'], 0, '%s: CapPrm' % what)


def test_who_runs_as_what():
    need_root()
    with T.Server(CONF, files=FILES, workers=2) as s:
        T.assert_eq(ids(s.pid)['uid'][1], 0, 'the pool manager stays root')
        lsn = s.listener()
        assert_dropped(lsn, WWW.pw_uid, WWW.pw_gid, 'hsd-listener')
        # 2: a filter; 0: none.  Only the listener has one.
        T.assert_eq(ids(lsn)['seccomp'], '2' if T.SECCOMP else '0',
                    'the listener\'s seccomp mode (configure said %s)'
                    % ('on' if T.SECCOMP else 'off'))
        T.assert_eq(ids(s.pid)['seccomp'], '0', 'the pool manager: no filter')
        chroot = os.path.join(s.dir, 'empty')
        st = os.stat(chroot)
        T.assert_eq((st.st_uid, st.st_mode & 0o7777), (0, 0o755),
                    'chroot_dir made root-owned 0755')
        if asan_build():
            assert 'not chrooted' in s.log(), s.log()
        else:
            T.assert_eq(os.readlink('/proc/%d/root' % lsn), chroot,
                        'the listener\'s root')
        pools = {}
        for pid, (pool, _) in s.workers().items():
            pools[pool] = pid
        T.assert_eq(sorted(pools), ['0', '1'], 'one worker per pool')
        assert_dropped(pools['0'], WWW.pw_uid, WWW.pw_gid, 'default worker')
        assert_dropped(pools['1'], NOBODY.pw_uid, NOGROUP.gr_gid,
                       'worker of pool "nob"')
        for pid in pools.values():
            T.assert_eq(ids(pid)['seccomp'], '0', 'a worker: no filter')
        for pid in pools.values():
            T.assert_eq(os.readlink('/proc/%d/root' % pid), '/',
                        'a worker is not chrooted')
        T.assert_eq(T.get(s.port, '/a.txt').status, 200, 'served')


def test_files_served_with_the_pools_permissions():
    need_root()
    with T.Server(CONF, files=FILES, workers=2) as s:
        os.chmod(s.path('zero.txt'), 0)
        for rel in ('www.txt', 'n/www.txt'):
            os.chown(s.path(rel), WWW.pw_uid, WWW.pw_gid)
            os.chmod(s.path(rel), 0o600)
        T.assert_eq(T.get(s.port, '/a.txt').status, 200, 'a normal file')
        T.assert_eq(T.get(s.port, '/zero.txt').status, 403,
                    'a mode-000 root-owned file')
        T.assert_eq(T.get(s.port, '/www.txt').status, 200,
                    'www-data\'s 0600 file through the www-data pool')
        T.assert_eq(T.get(s.port, '/n/ok.txt').status, 200,
                    'a normal file through the nobody pool')
        T.assert_eq(T.get(s.port, '/n/www.txt').status, 403,
                    'www-data\'s 0600 file through the nobody pool')


def check_refused(body, line, key, name, wrap=()):
    d = T.tempfile.mkdtemp(prefix='hsd-e2e-privsep-')
    try:
        os.makedirs(os.path.join(d, 'www'))
        path = T.write_conf(d, body.replace('@ROOT@',
                                            os.path.join(d, 'www')))
        args = () if wrap else ('-t',)
        rc, out, spawned = T.run_poolmgr(path, args, wrap=wrap)
        print('#   %s -> %d: %s' % (key, rc, out.strip().replace('\n',
                                                                  ' | ')))
        T.assert_eq(rc, 1, 'exit status')
        assert '%s:%d' % (path, line) in out, \
            'message does not name %s:%d: %r' % (path, line, out)
        assert key in out and name in out, \
            'message does not name %s "%s": %r' % (key, name, out)
        assert not spawned, 'processes were started: %r' % spawned
    finally:
        shutil.rmtree(d, ignore_errors=True)


SITE = '''site "s" {
	bindings = {"127.0.0.1:1"}
	root = "@ROOT@"
}
'''


def test_check_refuses_unknown_names():
    check_refused('user = "hsd-no-such-user"\n' + SITE, 1, 'user',
                  'hsd-no-such-user')
    check_refused('\ngroup = "hsd-no-such-group"\n' + SITE, 2, 'group',
                  'hsd-no-such-group')
    check_refused('pool "p" {\n\tuser = "hsd-no-such-user"\n}\n' + SITE, 2,
                  'user', 'hsd-no-such-user')
    check_refused('pool "p" {\n\tworkers = 1\n\tgroup = "hsd-nogrp"\n}\n' +
                  SITE, 3, 'group', 'hsd-nogrp')


def test_chroot_dir_refused():
    need_root()
    for mode, owner, why in ((0o777, 0, 'writable'),
                             (0o755, NOBODY.pw_uid, 'owned by uid')):
        d = T.tempfile.mkdtemp(prefix='hsd-e2e-privsep-')
        try:
            os.makedirs(os.path.join(d, 'www'))
            empty = os.path.join(d, 'empty')
            os.mkdir(empty)
            os.chmod(empty, mode)
            os.chown(empty, owner, 0)
            path = T.write_conf(d, SITE.replace('@ROOT@',
                                                os.path.join(d, 'www')))
            rc, out, spawned = T.run_poolmgr(path)
            T.assert_eq(rc, 1, 'exit status for a chroot_dir %s' % why)
            assert 'chroot_dir %s' % empty in out and why in out, out
            assert not spawned, spawned
        finally:
            shutil.rmtree(d, ignore_errors=True)


SETPRIV = ['--reuid=nobody', '--regid=nogroup', '--clear-groups']

UNPRIV = '''site "s" {
	bindings = {"127.0.0.1:@PORT@"}
	root = "@ROOT@"
}
'''


def test_unprivileged_runs_as_itself():
    need_root()
    wrap = [T.need_program('setpriv')] + SETPRIV
    with T.Server(UNPRIV, files=FILES, workers=1, wrap=wrap,
                  run_owner=(NOBODY.pw_uid, NOGROUP.gr_gid)) as s:
        assert 'privilege separation is off: running as nobody' in s.log(), \
            s.log()
        T.assert_eq(s.log().count('privilege separation is off'), 1,
                    'said once')
        for pid in [s.pid, s.listener()] + s.children('hsd-worker'):
            got = ids(pid)
            T.assert_eq(got['uid'], [NOBODY.pw_uid] * 4, 'uid of %d' % pid)
            T.assert_eq(got['gid'], [NOGROUP.gr_gid] * 4, 'gid of %d' % pid)
            T.assert_eq(got['capeff'], 0, 'CapEff of %d' % pid)
        for pid in [s.listener()] + s.children('hsd-worker'):
            T.assert_eq(ids(pid)['nnp'], '1', 'NoNewPrivs of %d' % pid)
            T.assert_eq(os.readlink('/proc/%d/root' % pid), '/',
                        'no chroot for %d' % pid)
        T.assert_eq(ids(s.listener())['seccomp'], '2' if T.SECCOMP else '0',
                    'the listener\'s filter does not depend on root')
        T.assert_eq(T.get(s.port, '/a.txt').status, 200, 'served')


def test_unprivileged_refuses_other_identities():
    need_root()
    wrap = [T.need_program('setpriv')] + SETPRIV
    check_refused('\nuser = "www-data"\n' + SITE, 2, 'user', 'www-data',
                  wrap=wrap)
    check_refused('pool "p" {\n\tgroup = "www-data"\n}\n' + SITE, 2,
                  'group', 'www-data', wrap=wrap)
    # Its own name, written, is fine: -t passes and so does the check at
    # start (which then stops at the port it cannot bind).
    d = T.tempfile.mkdtemp(prefix='hsd-e2e-privsep-')
    try:
        os.makedirs(os.path.join(d, 'www'))
        path = T.write_conf(d, 'user = "nobody"\ngroup = "nogroup"\n' +
                            SITE.replace('@ROOT@', os.path.join(d, 'www')))
        rc, out, _ = T.run_poolmgr(path, ('-t',), wrap=wrap)
        T.assert_eq(rc, 0, '-t as nobody: ' + out)
    finally:
        shutil.rmtree(d, ignore_errors=True)


if __name__ == '__main__':
    T.main()
