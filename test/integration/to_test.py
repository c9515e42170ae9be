#!/usr/bin/python3
"""to_test.py — `wsferry server --to HOST:PORT` end to end: every tunnel goes
to the server's destination, clients need not name one.
  1 keyed server --to an echo server, client `-L PORT` (no HOST:HOSTPORT):
    bytes come back exact; a second `-L BIND:PORT` form too.
  2 a client that names the same destination works; a -D client asking for
    another one is refused (SOCKS 0x02) and that host is never dialled.
  3 keys and stealth still hold: a client with another key is dropped without
    a byte and the echo server is never dialled.
  4 a server without --to refuses a -L PORT:* that names no destination, and the
    client log says why; IPv6: --to [::1]:PORT.

Interface (test/run.sh): binary from env WSFERRY; 127.0.0.1 / ::1 only;
last line exactly `N passed, N failed`.
"""

import os
import random
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import wsfutil as w  # noqa: E402
from wsfutil import check  # noqa: E402


def keygen():
    return subprocess.run([w.WSFERRY, 'keygen'], capture_output=True, text=True,
                          check=True).stdout.strip()


def echo_roundtrip(port, host='127.0.0.1', n=200000):
    data = random.randbytes(n)
    s = w.connect(port, host, timeout=10)
    try:
        s.sendall(data)
        s.shutdown(w.socket.SHUT_WR)
        back = w.recv_until_eof(s, what='echo through --to')
    finally:
        s.close()
    check(back == data, 'echo through the tunnel: %d of %d bytes, %s'
          % (len(back), n, 'equal' if back == data else 'NOT equal'))


def wait_log(proc, text, timeout=5.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if text in proc.stderr_text():
            return True
        time.sleep(0.05)
    return False


def body(suite):
    key, other = keygen(), keygen()
    env = {'WSFERRY_KEY': key}
    echo = w.TCPServer(w.echo_handler)
    decoy = w.TCPServer(w.echo_handler)  # a host a -D user might ask for
    sp, lp, lp2, lp3, dp = w.free_ports(5)
    srv = w.Proc([w.WSFERRY, 'server', 'ws://127.0.0.1:%d' % sp, '--to',
                  '127.0.0.1:%d' % echo.port], 'server', env=env)
    w.wait_port(sp, proc=srv)
    url = 'ws://127.0.0.1:%d' % sp
    cli = w.start_client(url, ['-L', '%d:*' % lp, '-L', '127.0.0.1:%d:*' % lp2,
                               '-L', '%d:127.0.0.1:%d' % (lp3, echo.port), '-D', str(dp)],
                         wait_ports=(lp, lp2, lp3, dp), env=env)

    def fixed():
        echo_roundtrip(lp)
        echo_roundtrip(lp2)
        check('the server\'s --to destination' in cli.stderr_text(),
              'the client banner does not say where -L PORT goes:\n' + cli.tail())
    suite.run('-L PORT:* (no destination) reaches --to, bytes exact', fixed)

    def named():
        echo_roundtrip(lp3)
        before = decoy.accepted
        s, rep = w.socks_open(dp, '127.0.0.1', decoy.port, timeout=10)
        s.close()
        check(rep == 2, 'SOCKS5 to another destination: REP 0x%02x, expected 0x02' % rep)
        check(wait_log(srv, 'sends every tunnel to --to'),
              'the server log does not say why:\n' + srv.tail())
        time.sleep(0.2)
        check(decoy.accepted == before, 'the other destination was dialled')
    suite.run('a named --to destination works; another is refused (0x02), never dialled',
              named)

    def wrong_key():
        p = w.free_port()
        bad = w.start_client(url, ['-L', '%d:*' % p], wait_ports=(p,), name='wrong-key',
                             env={'WSFERRY_KEY': other})
        before = echo.accepted
        s = w.connect(p, timeout=10)
        s.sendall(b'hello')
        try:
            got = s.recv(100)
        except (ConnectionResetError, w.socket.timeout):
            got = b''
        s.close()
        check(got == b'', 'a wrong key got %r' % got)
        check(wait_log(bad, 'closed without answering'),
              'the client log does not say the server stayed silent:\n' + bad.tail())
        check(echo.accepted == before, 'the --to destination was dialled for a wrong key')
        bad.stop()
    suite.run('a wrong key is dropped without a byte, --to never dialled', wrong_key)

    def no_to():
        p, q = w.free_ports(2)
        plain = w.Proc([w.WSFERRY, 'server', 'ws://127.0.0.1:%d' % p], 'server-no-to', env=env)
        w.wait_port(p, proc=plain)
        c = w.start_client('ws://127.0.0.1:%d' % p, ['-L', '%d:*' % q], wait_ports=(q,),
                           name='client-no-to', env=env)
        s = w.connect(q, timeout=10)
        try:
            got = s.recv(100)
        except (ConnectionResetError, w.socket.timeout):
            got = b''
        s.close()
        check(got == b'', 'got %r' % got)
        check(wait_log(c, 'names no destination, and the server has no --to'),
              'the client log does not say why:\n' + c.tail())
        check(wait_log(plain, 'has no --to'), 'the server log does not say why:\n' + plain.tail())
        c.stop()
        plain.stop()
    suite.run('without --to, -L PORT:* is refused and both logs say why', no_to)

    def ipv6():
        echo6 = w.TCPServer(w.echo_handler, host='::1')
        p, q = w.free_ports(2)
        s6 = w.Proc([w.WSFERRY, 'server', 'ws://[::1]:%d' % p, '--to', '[::1]:%d' % echo6.port],
                    'server6', env=env)
        w.wait_port(p, '::1', proc=s6)
        c = w.start_client('ws://[::1]:%d' % p, ['-L', '[::1]:%d:*' % q], name='client6', env=env)
        w.wait_port(q, '::1', proc=c)
        echo_roundtrip(q, '::1')
        c.stop()
        s6.stop()
        echo6.close()
    suite.run('IPv6: --to [::1]:PORT through ws://[::1]', ipv6)

    def bad_usage():
        r = subprocess.run([w.WSFERRY, 'server', '--to', 'nohost'], capture_output=True,
                           text=True, timeout=10)
        check(r.returncode == 2 and '--to' in r.stderr, 'exit %d: %s' % (r.returncode, r.stderr))
    suite.run('--to without a port: exit 2 naming it', bad_usage)


if __name__ == '__main__':
    w.main_guard(w.Suite('to_test'), body)
