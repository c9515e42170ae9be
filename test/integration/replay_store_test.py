#!/usr/bin/python3
"""replay_store_test.py — --replay-store on a real redis-server started here
(issue 16): a token accepted by one node is refused by its siblings (over
TCP with a database number, and over a unix socket), while a node without
the store would take it; tunnels work through the store; Redis stopped
mid-run refuses new tunnels with --replay-store-fail closed (one log line)
and falls back to the node's own table with local; service comes back by
itself when Redis does; a wrong password is refused loudly.

Interface (test/run.sh): binary from env WSFERRY (default ./build/wsferry);
everything is started here on free 127.0.0.1 ports and ended by PID; one line
per failed case; last line exactly `N passed, N failed`; exit 1 on failure.
`-v` also prints passing cases; other arguments filter case names.
"""

import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import wsfutil as w  # noqa: E402
from wsfutil import check, CaseFail  # noqa: E402

WSFERRY = w.WSFERRY
KEY = subprocess.run([WSFERRY, 'keygen'], capture_output=True, text=True,
                     check=True).stdout.strip()


class Redis:
    def __init__(self, port=None, password=None):
        self.exe = w.require_peer('redis-server', 'redis-server', '/usr/bin/redis-server')
        self.dir = tempfile.mkdtemp(prefix='wsf-redis-')
        self.port = port or w.free_port()
        self.sock = os.path.join(self.dir, 'redis.sock')
        self.password = password
        self.proc = None
        self.start()

    def start(self):
        args = [self.exe, '--port', str(self.port), '--bind', '127.0.0.1', '--save', '',
                '--appendonly', 'no', '--unixsocket', self.sock, '--unixsocketperm', '700',
                '--dir', self.dir, '--daemonize', 'no']
        if self.password:
            args += ['--requirepass', self.password]
        self.proc = w.Proc(args, 'redis-server', wsferry=False)
        w.wait_port(self.port, proc=self.proc)

    def stop(self):
        if self.proc:
            self.proc.stop()
            self.proc = None

    def cleanup(self):
        self.stop()
        shutil.rmtree(self.dir, ignore_errors=True)


def capture_request(target_port):
    """The upgrade request a keyed client sends, caught by a fake server
    (so no node has seen its token yet)."""
    fake = socket.socket()
    fake.bind(('127.0.0.1', 0))
    fake.listen(1)
    lp = w.free_port()
    c = w.Proc([WSFERRY, 'client', 'ws://127.0.0.1:%d' % fake.getsockname()[1], '--key', KEY,
                '-L', '%d:127.0.0.1:%d' % (lp, target_port)], 'capture')
    try:
        w.wait_port(lp, proc=c)
        s = w.connect(lp)
        fake.settimeout(5)
        conn, _ = fake.accept()
        head = b''
        for _ in range(100):
            if b'\r\n\r\n' in head:
                break
            head += conn.recv(4096)
        conn.close()
        s.close()
        return head[:head.index(b'\r\n\r\n') + 4]
    finally:
        c.stop()
        fake.close()


def answered_101(port, head):
    r = w.connect(port, timeout=3)
    try:
        r.sendall(head)
        try:
            return r.recv(12).startswith(b'HTTP/1.1 101')
        except OSError:
            return False
    finally:
        r.close()


def start_node(name, store=None, extra=()):
    port = w.free_port()
    args = ['--key', KEY, '--log-level', 'debug'] + list(extra)
    if store:
        args += ['--replay-store', store]
    return w.start_server(port, args, name=name), port


def log_has(p, text, t=3.0):
    for _ in range(int(t / 0.05) + 1):
        if text in p.stderr_text():
            return True
        time.sleep(0.05)
    return False


def wait_connected(p, n=1, t=5.0):
    for _ in range(int(t / 0.05) + 1):
        if p.stderr_text().count(': connected') >= n:
            return True
        time.sleep(0.05)
    return False


def main(suite):
    echo = w.TCPServer(w.echo_handler)
    redis = Redis()
    tcp_url = 'redis://127.0.0.1:%d/3' % redis.port
    unix_url = 'unix:' + redis.sock
    a, pa = start_node('node-a', tcp_url)
    b, pb = start_node('node-b', tcp_url)
    c, pc = start_node('node-c', unix_url)
    lo, pl = start_node('node-local', 'redis://127.0.0.1:%d' % redis.port,
                        ['--replay-store-fail', 'local'])
    plain, pp = start_node('node-plain')
    try:
        def siblings():
            for n in (a, b, c, lo):
                check(wait_connected(n), '%s did not connect to Redis:\n%s' % (n.name, n.tail()))
            head = capture_request(echo.port)
            check(answered_101(pa, head), 'node A refused a fresh token')
            check(not answered_101(pb, head), 'sibling B took a token node A had taken')
            check(log_has(b, 'already claimed in the replay store'),
                  'no replay line on node B:\n%s' % b.tail())
            check(not answered_101(pa, head), 'node A took its own token twice')
            check(answered_101(pp, head), 'control: a node without --replay-store refused the '
                  'replayed token, so this test proves nothing')
            # db 0 over the unix socket and over TCP is one table; db 3 another
            head2 = capture_request(echo.port)
            check(answered_101(pc, head2), 'node C (unix socket) refused a fresh token')
            check(not answered_101(pl, head2), 'a token taken over the unix socket was taken '
                  'again over TCP (db 0)')
            check(log_has(lo, 'already claimed in the replay store'),
                  'no replay line on the TCP sibling of the unix node:\n%s' % lo.tail())
            check(answered_101(pa, head2), 'database 3 shared nonces with database 0')
        suite.run('a token taken by one node is refused by its siblings (tcp /DB, unix:)',
                  siblings)

        def tunnel():
            lp = w.free_port()
            cli = w.start_client('ws://127.0.0.1:%d' % pa, ['--key', KEY, '-L', '%d:127.0.0.1:%d'
                                                            % (lp, echo.port)],
                                 wait_ports=[lp], name='client-store')
            try:
                for i in range(20):
                    s = w.connect(lp)
                    msg = os.urandom(1000)
                    s.sendall(msg)
                    check(w.recv_exact(s, len(msg)) == msg, 'echo #%d through node A' % i)
                    s.close()
            finally:
                cli.stop()
        suite.run('tunnels open through a node with the store (20 in a row)', tunnel)

        def counted_once():
            """A request held for its claim is counted per IP once, not at
            each routing pass (behind --trust-proxy without X-Forwarded-For)."""
            n, pn = start_node('node-xff', tcp_url, ['--trust-proxy', '127.0.0.1',
                                                     '--max-conns-per-ip', '2'])
            try:
                check(wait_connected(n), 'no Redis connection')
                for i in range(4):
                    check(answered_101(pn, capture_request(echo.port)),
                          'tunnel #%d refused: per-IP counts leak across the claim' % (i + 1))
                    time.sleep(0.1)  # the server sees the close
            finally:
                n.stop()
        suite.run('a request waiting for its claim is counted per IP once', counted_once)

        def redis_down_and_back():
            fresh = [capture_request(echo.port) for _ in range(4)]
            redis.stop()
            time.sleep(0.3)
            check(not answered_101(pa, fresh[0]), '--replay-store-fail closed took a tunnel '
                  'with Redis down')
            check(log_has(a, 'replay store unreachable: tunnel refused (--replay-store-fail '
                             'closed)'), 'no fail-closed log line:\n%s' % a.tail())
            check(answered_101(pl, fresh[1]), '--replay-store-fail local refused a fresh token '
                  'with Redis down')
            check(log_has(lo, "checked against this node's own nonces only"),
                  'no fail-local log line:\n%s' % lo.tail())
            check(not answered_101(pl, fresh[1]), 'fail local: the node took its own token twice')
            check(not answered_101(pa, fresh[2]), 'closed: a second refusal expected')
            n = a.stderr_text().count('replay store unreachable')
            check(n == 1, '%d "unreachable" lines in < 10 s (once per 10 s expected)' % n)
            redis.start()
            ok = False
            for _ in range(50):  # reconnect backoff is at most 2 s
                if a.stderr_text().count(': connected') >= 2:
                    ok = True
                    break
                time.sleep(0.1)
            check(ok, 'node A did not reconnect to Redis:\n%s' % a.tail())
            check(answered_101(pa, fresh[3]), 'node A refused a fresh token after Redis came back')
        suite.run('Redis stopped mid-run: closed refuses, local falls back; recovery', redis_down_and_back)
    finally:
        for n in (a, b, c, lo, plain):
            n.stop()
        redis.cleanup()

    def wrong_password():
        r = Redis(password='s3cret')
        try:
            good, pg = start_node('node-pw', 'redis://:s3cret@127.0.0.1:%d' % r.port)
            bad, pbd = start_node('node-badpw', 'redis://:nope@127.0.0.1:%d' % r.port)
            check(wait_connected(good), 'no connection with the right password')
            head = capture_request(echo.port)
            check(answered_101(pg, head), 'the right password: fresh token refused')
            check(not answered_101(pbd, capture_request(echo.port)),
                  'a wrong password let a tunnel through (fail closed)')
            txt = bad.stderr_text()
            check('WRONGPASS' in txt or 'invalid' in txt, 'the wrong password was not logged:\n%s'
                  % bad.tail())
            check('nope' not in txt, 'the password appears in the log')
            good.stop()
            bad.stop()
        finally:
            r.cleanup()
    suite.run('AUTH: the right password works, a wrong one is logged (never shown)', wrong_password)

    def usage():
        for args, what in ((['--replay-store', 'http://x'], 'redis://'),
                           (['--replay-store', 'redis://127.0.0.1:6379', '--replay-store-fail',
                             'maybe'], 'closed'),
                           (['--replay-store', 'redis://127.0.0.1:6379'], 'needs --key')):
            r = subprocess.run([WSFERRY, 'server'] + args, capture_output=True, text=True,
                               timeout=10, env={k: v for k, v in os.environ.items()
                                                if k != 'WSFERRY_KEY'})
            check(r.returncode == 2 and what in r.stderr, '%s: exit %d, %r' % (args, r.returncode,
                                                                              r.stderr[-200:]))
    suite.run('bad --replay-store and --replay-store-fail values are usage errors', usage)
    echo.close()


if __name__ == '__main__':
    w.main_guard(w.Suite('replay_store_test'), main)
