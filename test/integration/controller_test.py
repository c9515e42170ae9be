#!/usr/bin/python3
"""controller_test.py — the multi-user server (`--controller`, issue 12 item
6) driven with curl in mos-tls-tunnel's schema: add (opt 1), delete (opt 2),
reset (opt 3) and count (opt 9); the errors: a wrong or missing key (401), a
body that is not JSON (400 with the reason), a bad user (400 naming it), an
existing path (409), a body over 2 MiB (413, answered from its
Content-Length before any body byte is sent), GET (405), an unknown user's
delete (200, nothing changed); a tunnel through an added user's path reaches
that user's destination (with the server's key, and with the user's own key,
which the server's key then does not open); deleting a user keeps its open
tunnel running and refuses new ones; with --workers 2 every worker sees the
users; the startup refusals.

Interface (test/run.sh): binary from env WSFERRY; everything on free
127.0.0.1 ports, stopped by PID; last line exactly `N passed, N failed`.
"""

import json
import os
import random
import socket
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import wsfutil as w  # noqa: E402
from wsfutil import check  # noqa: E402

CTL_KEY = 'ctl-' + 'Hq8Zr2Lm5Vx9Tb3N'


def keygen():
    return subprocess.run([w.WSFERRY, 'keygen'], capture_output=True, text=True,
                          check=True).stdout.strip()


KEY = keygen()
TMP = tempfile.mkdtemp(prefix='wsf-ctl-')
KEY_FILE = os.path.join(TMP, 'controller.key')
with open(KEY_FILE, 'w') as f:
    f.write(CTL_KEY + '\n')


def start(extra=()):
    sp, cp = w.free_ports(2)
    p = w.Proc([w.WSFERRY, 'server', 'ws://127.0.0.1:%d' % sp, '--key', KEY,
                '--controller', str(cp), '--controller-key-file', KEY_FILE] + list(extra),
               'server')
    w.wait_port(sp, proc=p)
    w.wait_port(cp, proc=p)
    return p, sp, cp


def ctl(cp, body, key=CTL_KEY, method='POST'):
    """(status, parsed answer) of one curl request to the controller."""
    args = ['curl', '-sS', '--max-time', '10', '-o', '-', '-w', '\n%{http_code}', '-X', method]
    if key is not None:
        args += ['-H', 'X-API-KEY: ' + key]
    if body is not None:
        args += ['-H', 'Content-Type: application/json', '--data-binary', '@-']
    args.append('http://127.0.0.1:%d/' % cp)
    data = body if isinstance(body, bytes) else (body or '').encode()
    r = subprocess.run(args, input=data, capture_output=True, timeout=30)
    text, _, code = r.stdout.decode('utf-8', 'replace').rpartition('\n')
    check(code.isdigit(), 'curl gave no status: %r %r' % (r.stdout[-200:], r.stderr[-200:]))
    try:
        return int(code), json.loads(text)
    except ValueError:
        return int(code), text


def add(cp, *users):
    return ctl(cp, json.dumps({'opt': 1, 'args_bunch': list(users)}))


def count(cp):
    st, a = ctl(cp, '{"opt": 9}')
    check(st == 200 and a['res'] == 1, 'ping answered %d %r' % (st, a))
    return a['current_users']


def client(sp, path, lp, key=KEY, name='client'):
    c = w.Proc([w.WSFERRY, 'client', 'ws://127.0.0.1:%d%s' % (sp, path), '--key', key,
                '-L', '%d:*' % lp], name)
    w.wait_port(lp, proc=c)
    return c


def echo_ok(lp, n=100000):
    data = random.randbytes(n)
    s = w.connect(lp, timeout=10)
    try:
        s.sendall(data)
        s.shutdown(socket.SHUT_WR)
        back = w.recv_until_eof(s, what='echo through a user path')
    finally:
        s.close()
    return back == data


def refused(lp):
    """A -L connection that the server does not take: closed with nothing."""
    s = w.connect(lp, timeout=10)
    try:
        s.sendall(b'ping')
        s.settimeout(8)
        try:
            return s.recv(10) == b''
        except ConnectionResetError:
            return True
    finally:
        s.close()


# ---------------------------------------------------------------- cases

def case_api():
    p, sp, cp = start(['--echo', '/echo'])
    try:
        check(count(cp) == 0, 'a new server has users')
        st, a = add(cp, {'path': '/a', 'dst': '127.0.0.1:9'}, {'path': '/b', 'dst': 'example.com:80',
                                                               'key': keygen()})
        check(st == 200 and a == {'res': 1, 'err_string': '', 'current_users': 2},
              'add answered %d %r' % (st, a))
        st, a = add(cp, {'path': '/c', 'dst': '127.0.0.1:9'}, {'path': '/a', 'dst': '127.0.0.1:7'})
        check(st == 409 and a['res'] == 2 and 'args_bunch[1]' in a['err_string'],
              'an existing path answered %d %r' % (st, a))
        check(count(cp) == 2, 'a refused add changed the table (all or nothing)')
        st, a = add(cp, {'path': '/echo', 'dst': '127.0.0.1:9'})
        check(st == 409 and 'another endpoint' in a['err_string'],
              "--echo's path answered %d %r" % (st, a))
        st, a = ctl(cp, '{"opt": 2, "args_bunch": [{"path": "/nobody"}, {"path": "/a"}]}')
        check(st == 200 and a['current_users'] == 1, 'delete answered %d %r' % (st, a))
        st, a = ctl(cp, '{"opt": 2, "args_bunch": [{"path": "/nobody"}]}')
        check(st == 200 and a == {'res': 1, 'err_string': '', 'current_users': 1},
              'deleting an unknown user answered %d %r' % (st, a))
        st, a = ctl(cp, '{"opt": 3}')
        check(st == 200 and a['current_users'] == 0, 'reset answered %d %r' % (st, a))
        for body, why in (('{"opt": 9}', 'X-API-KEY'),):
            for key in (None, 'wrong-' + CTL_KEY):
                st, a = ctl(cp, body, key=key)
                check(st == 401 and why in a['err_string'], 'key %r answered %d %r' % (key, st, a))
        for body, status, word in (
                ('{"opt": 1,', 400, 'JSON'),
                ('[1, 2]', 400, 'JSON'),
                ('{"opt": 7}', 400, 'opt'),
                ('{"opt": 1}', 400, 'args_bunch'),
                ('{"opt": 1, "args_bunch": [{"path": "/x"}]}', 400, 'dst'),
                ('{"opt": 1, "args_bunch": [{"path": "x", "dst": "h:1"}]}', 400, 'path'),
                ('{"opt": 1, "args_bunch": [{"path": "/x", "dst": "h:1"}, '
                 '{"path": "/y", "dst": "h:1", "key": "short"}]}', 400, 'args_bunch[1]')):
            st, a = ctl(cp, body)
            check(st == status and a['res'] == 2 and word in a['err_string'],
                  '%r answered %d %r, expected %d naming %r' % (body, st, a, status, word))
        st, a = ctl(cp, None, method='GET')
        check(st == 405, 'GET answered %d %r' % (st, a))
        # over 2 MiB: curl sends it all, the answer is 413 all the same
        big = b'{"opt": 1, "args_bunch": [' + b' ' * (3 << 20) + b']}'
        st, a = ctl(cp, big)
        check(st == 413 and a['res'] == 2, '3 MiB body answered %d %r' % (st, a))
        # and the 413 comes from the Content-Length alone: no body byte sent
        s = w.connect(cp, timeout=5)
        s.sendall(b'POST / HTTP/1.1\r\nHost: x\r\nX-API-KEY: ' + CTL_KEY.encode() +
                  b'\r\nContent-Length: 3145728\r\n\r\n')
        s.settimeout(5)
        head = s.recv(4096)
        s.close()
        check(head.startswith(b'HTTP/1.1 413'), 'a 3 MiB Content-Length got %r' % head[:40])
        check(count(cp) == 0, 'refused requests changed the table')
    finally:
        p.stop()


def case_tunnels():
    echo = w.TCPServer(w.echo_handler)
    p, sp, cp = start()
    own = keygen()
    try:
        st, _ = add(cp, {'path': '/alice', 'dst': '127.0.0.1:%d' % echo.port},
                    {'path': '/bob', 'dst': '127.0.0.1:%d' % echo.port, 'key': own})
        check(st == 200, 'add answered %d' % st)
        la, lb, lb2, lx = w.free_ports(4)
        ca = client(sp, '/alice', la, name='alice')
        cb = client(sp, '/bob', lb, key=own, name='bob')
        cb2 = client(sp, '/bob', lb2, name='bob-server-key')
        cx = client(sp, '/nobody', lx, key=own, name='nobody')
        try:
            check(echo_ok(la), "a tunnel on /alice (the server's key) did not reach its dst")
            check(echo_ok(lb), "a tunnel on /bob (bob's own key) did not reach its dst")
            check(refused(lb2), "the server's key opened /bob, which has its own key")
            check(refused(lx), 'an unknown path with a user key was taken')
            # delete alice while a tunnel of hers is open
            s = w.connect(la, timeout=10)
            s.sendall(b'before')
            check(w.recv_exact(s, 6) == b'before', 'the open tunnel did not echo')
            st, a = ctl(cp, '{"opt": 2, "args_bunch": [{"path": "/alice"}]}')
            check(st == 200 and a['current_users'] == 1, 'delete answered %d %r' % (st, a))
            s.sendall(b'after the delete')
            check(w.recv_exact(s, 16) == b'after the delete',
                  'the open tunnel stopped when its user was deleted')
            check(refused(la), 'a new tunnel on a deleted path was taken')
            s.sendall(b'still')
            check(w.recv_exact(s, 5) == b'still', 'the open tunnel stopped')
            s.close()
        finally:
            for c in (ca, cb, cb2, cx):
                c.stop()
    finally:
        p.stop()
        echo.close()


def case_workers():
    echo = w.TCPServer(w.echo_handler)
    p, sp, cp = start(['--workers', '2'])
    try:
        st, a = add(cp, {'path': '/w', 'dst': '127.0.0.1:%d' % echo.port})
        check(st == 200, 'add answered %d %r' % (st, a))
        # the controller is served by either worker; both see the one table
        counts = {count(cp) for _ in range(8)}
        check(counts == {1}, 'workers disagree on the count: %r' % counts)
        lp = w.free_port()
        c = client(sp, '/w', lp)
        try:
            for i in range(10):
                check(echo_ok(lp, 2000), 'tunnel %d on /w (either worker) failed' % i)
        finally:
            c.stop()
    finally:
        p.stop()
        echo.close()


def case_startup_refusals():
    sp = w.free_port()
    base = [w.WSFERRY, 'server', 'ws://127.0.0.1:%d' % sp, '--key', KEY]
    for name, args, word in (
            ('public port', ['--controller', '127.0.0.1:%d' % sp, '--controller-key-file',
                             KEY_FILE], 'public port'),
            ('wildcard listener', ['--controller', str(sp), '--controller-key-file', KEY_FILE],
             'public port'),
            ('no key file', ['--controller', str(w.free_port())], '--controller-key-file'),
            ('missing key file', ['--controller', str(w.free_port()), '--controller-key-file',
                                  os.path.join(TMP, 'nope')], 'nope'),
            ('key file alone', ['--controller-key-file', KEY_FILE], '--controller'),
            ('bad port', ['--controller', '127.0.0.1:0', '--controller-key-file', KEY_FILE],
             'port')):
        if name == 'wildcard listener':
            args = [w.WSFERRY, 'server', 'ws://0.0.0.0:%d' % sp, '--key', KEY] + args
        else:
            args = base + args
        r = subprocess.run(args, capture_output=True, timeout=10)
        err = r.stderr.decode(errors='replace')
        check(r.returncode == 2, '%s: exit %d, expected 2 (%s)' % (name, r.returncode, err))
        check(word in err, '%s: %r does not mention %r' % (name, err.strip(), word))


def main(s):
    w.require_peer('curl', 'curl')
    s.run('add / delete / reset / count, and every error case, with curl', case_api)
    s.run('tunnels through user paths reach their dst (server key, own key); a deleted '
          "user's open tunnel keeps running, new ones are refused", case_tunnels)
    s.run('--workers 2: every worker sees the users', case_workers)
    s.run('startup refusals (exit 2)', case_startup_refusals)


if __name__ == '__main__':
    w.main_guard(w.Suite('controller_test', file_limit=180), main)
