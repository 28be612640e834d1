"""
Privilege separation (issue 6, step 1), started as root: the pool manager
stays root; the listener runs as the server-wide user/group, chrooted to
chroot_dir, with no supplementary groups, no_new_privs and no
capabilities; each worker runs as its pool's identity, so files are served
with that identity's permissions.  Unknown users and groups are refused by
-t.  Started as a normal user (setpriv), everything runs as that user and
an identity the file asks for that is not its own is refused.  A pool
with a chroot has its workers chrooted there, serving roots written as
host paths below it; -t refuses a root outside its pool's chroot and the
pool manager a chroot others could write to.
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
CONF = '''pool "default" { workers = 1  start = "always" }
pool "nob" {
	workers = 1  start = "always"
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
        # The server answers once pool default's worker does; pool nob's
        # may still be starting (as root, until it drops): a request it
        # answers says it is past that.
        T.assert_eq(T.get(s.port, '/n/ok.txt').body, b'for everyone\n',
                    'pool nob answers')
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


# A chrooted pool "jail" serves the site; "/o" goes to the default pool,
# which is not chrooted; "/late" is a root the jail's worker cannot reach
# at start, for the reopen on demand.
JAIL_CONF = """pool "default" { workers = 1  start = "always" }
pool "jail" {
	workers = 1  start = "always"
	chroot = "@JAIL@/"
}
site "s" {
	bindings = {"127.0.0.1:@PORT@"}
	pool = "jail"
	root = "@JAIL@/htdocs"
	application "/o" {
		pool = "default"
		root = "@ROOT@"
	}
	application "/late" { root = "@JAIL@/late/htdocs" }
}
"""


def make_jail(files):
    """A root-owned 0755 directory tree of its own, outside any Server's:
    its modes must be right before the pool manager starts."""
    old = os.umask(0o022)
    try:
        jail = os.path.realpath(T.tempfile.mkdtemp(prefix='hsd-e2e-jail-'))
        os.chmod(jail, 0o755)
        T.make_tree(jail, files)
    finally:
        os.umask(old)
    return jail


def test_pool_chroot():
    need_root()
    jail = make_jail({'htdocs/a.txt': 'in the jail\n',
                      'late/htdocs/b.txt': 'late\n'})
    try:
        late = os.path.join(jail, 'late')
        os.chmod(late, 0o700)
        conf = JAIL_CONF.replace('@JAIL@', jail)
        with T.Server(conf, files={'secret.txt': 'outside\n'},
                      workers=2) as s:
            pools = {}
            for pid, (pool, _) in s.workers().items():
                pools[pool] = pid
            T.assert_eq(sorted(pools), ['0', '1'], 'one worker per pool')
            assert_dropped(pools['1'], WWW.pw_uid, WWW.pw_gid,
                           'worker of pool "jail"')
            if asan_build():
                assert 'not chrooted to %s' % jail in s.log(), s.log()
            else:
                T.assert_eq(os.readlink('/proc/%d/root' % pools['1']), jail,
                            'the root of pool "jail"\'s worker')
            T.assert_eq(os.readlink('/proc/%d/root' % pools['0']), '/',
                        'the default pool\'s worker is not chrooted')

            r = T.get(s.port, '/a.txt')
            T.assert_eq((r.status, r.body), (200, b'in the jail\n'),
                        'a file below the chroot')
            r = T.get(s.port, '/o/secret.txt')
            T.assert_eq((r.status, r.body), (200, b'outside\n'),
                        'the other pool serves its own root')
            # A symlink to the host path of a file outside the chroot.
            os.symlink(s.path('secret.txt'),
                       os.path.join(jail, 'htdocs', 'escape.txt'))
            r = T.get(s.port, '/escape.txt')
            assert r.status in (403, 404), r
            assert b'outside' not in r.body, r

            # Each worker opened only its own pool's roots, and the one
            # it could not reach was named, as a host path.
            log = s.log()
            T.assert_eq(log.count('worker_open_root'), 1, log)
            assert 'worker_open_root: %s/htdocs' % late in log, log
            T.assert_eq(T.get(s.port, '/late/b.txt').status, 404,
                        'a root the worker cannot reach')
            os.chmod(late, 0o755)
            r = T.get(s.port, '/late/b.txt')
            T.assert_eq((r.status, r.body), (200, b'late\n'),
                        'the root opened later, inside the chroot')
    finally:
        shutil.rmtree(jail, ignore_errors=True)


def check_chroot_refused(chroot, root, key, want):
    """-t with pool "p" chrooted to chroot (relative to a temp dir, which
    has www and www2) serving a site with root: refused on the line of
    key with a message holding want (both with @ for the temp dir)."""
    d = os.path.realpath(T.tempfile.mkdtemp(prefix='hsd-e2e-privsep-'))
    try:
        os.makedirs(os.path.join(d, 'www', 'sub'))
        os.makedirs(os.path.join(d, 'www2'))
        body = ('pool "p" {\n\tchroot = "@%s"\n}\n'
                'site "s" {\n\tbindings = {"127.0.0.1:1"}\n\tpool = "p"\n'
                '\troot = "@%s"\n}\n' % (chroot, root)).replace('@', d)
        path = T.write_conf(d, body)
        rc, out, spawned = T.run_poolmgr(path, ('-t',))
        print('#   %s, %s -> %d: %s' % (chroot, root, rc, out.strip()))
        if want is None:
            T.assert_eq(rc, 0, 'exit status')
            return
        T.assert_eq(rc, 1, 'exit status')
        line = 2 if key == 'chroot' else 7
        assert '%s:%d: ' % (path, line) in out, out
        assert want.replace('@', d) in out, out
        assert not spawned, spawned
    finally:
        shutil.rmtree(d, ignore_errors=True)


def test_check_refuses_roots_outside_the_chroot():
    below = ('site "s": root "@/www2" is not below chroot "@/www" of pool '
             '"p" (line 2)')
    check_chroot_refused('/www', '/www2', 'root', below)
    check_chroot_refused('/www/', '/www2/', 'root', below)
    check_chroot_refused('/www/sub', '/www', 'root', 'root "@/www" is not '
                         'below chroot "@/www/sub"')
    check_chroot_refused('/www/../www', '/www', 'chroot',
                         'pool "p": chroot: "@/www/../www" must not '
                         'contain ".."')
    # What passes: the chroot itself, or below it, however written.
    check_chroot_refused('/www/', '/www', 'root', None)
    check_chroot_refused('//www/.', '/www/sub/', 'root', None)


def test_poolmgr_refuses_pool_chroot():
    need_root()
    for mode, owner, why in ((0o777, 0, 'is writable by its group or by '
                              'others (mode 777)'),
                             (0o755, NOBODY.pw_uid, 'is owned by uid %d'
                              % NOBODY.pw_uid),
                             (None, 0, 'No such file or directory')):
        d = T.tempfile.mkdtemp(prefix='hsd-e2e-privsep-')
        try:
            www = os.path.join(d, 'www')
            os.makedirs(www)
            jail = os.path.join(d, 'jail')
            if mode is not None:
                os.mkdir(jail)
                os.chmod(jail, mode)
                os.chown(jail, owner, 0)
            # No site needs the pool: only the start-up check refuses.
            path = T.write_conf(d, 'pool "p" {\n\tchroot = "%s"\n}\n' % jail
                                + SITE.replace('@ROOT@', www))
            rc, out, spawned = T.run_poolmgr(path)
            print('#   %s -> %d: %s' % (why, rc, out.strip()))
            T.assert_eq(rc, 1, 'exit status for a chroot that %s' % why)
            assert '%s:2: pool "p": chroot' % path in out, out
            assert jail in out and why in out, out
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



def test_unprivileged_pool_chroot():
    """Not started as root, a pool's chroot is not entered and its roots
    are opened as the host paths they are."""
    need_root()
    wrap = [T.need_program('setpriv')] + SETPRIV
    conf = 'pool "default" {\n\tchroot = "@DIR@"\n}\n' + UNPRIV
    with T.Server(conf, files=FILES, workers=1, wrap=wrap,
                  run_owner=(NOBODY.pw_uid, NOGROUP.gr_gid)) as s:
        for pid in s.children('hsd-worker'):
            T.assert_eq(os.readlink('/proc/%d/root' % pid), '/',
                        'no chroot for %d' % pid)
        r = T.get(s.port, '/a.txt')
        T.assert_eq((r.status, r.body), (200, b'hello\n'), 'served')
        assert 'worker_open_root' not in s.log(), s.log()

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
