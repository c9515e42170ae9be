#!/usr/bin/python3
"""perip_test.py — tunnels refused by the server's --max-conns-per-ip while
others from the same client work: the client's log names the likely cause
(the per-address limit), not a wrong key or path.
  1 server --max-conns-per-ip 4, client -L to an echo server: 4 tunnels held
    open and working, then more: refused, and the client log says "most
    likely its --max-conns-per-ip limit"; the server log says "already
    holds"; once the 4 close, new tunnels work again;
  2 the control: a client with another key (no tunnel of it ever worked)
    gets the usual "closed without answering" and no limit hint.

Interface (test/run.sh): binary from env WSFERRY; 127.0.0.1 only; last line
exactly `N passed, N failed`.
"""

import os
import socket
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import wsfutil as w  # noqa: E402
from wsfutil import check  # noqa: E402

HINT = 'most likely its --max-conns-per-ip limit'


def keygen():
    return subprocess.run([w.WSFERRY, 'keygen'], capture_output=True, text=True,
                          check=True).stdout.strip()


def wait_log(proc, text, timeout=5.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if text in proc.stderr_text():
            return True
        time.sleep(0.05)
    return False


def ping(s, what):
    s.sendall(b'x')
    check(w.recv_exact(s, 1, what) == b'x', '%s: no echo' % what)


def refused(port):
    """A connection through -L that the tunnel cannot open: closed or reset
    without an echo."""
    s = w.connect(port, timeout=10)
    try:
        s.sendall(b'y')
        got = s.recv(10)
    except (ConnectionResetError, BrokenPipeError):
        got = b''
    except socket.timeout:
        got = b'TIMEOUT'
    finally:
        s.close()
    return got == b''


def body(suite):
    key = keygen()
    env = {'WSFERRY_KEY': key}
    echo = w.TCPServer(w.echo_handler)
    sp, lp, lp2 = w.free_ports(3)
    srv = w.Proc([w.WSFERRY, 'server', 'ws://127.0.0.1:%d' % sp, '--max-conns-per-ip', '4',
                  '--to', '127.0.0.1:%d' % echo.port], 'server', env=env)
    w.wait_port(sp, proc=srv)
    cli = w.start_client('ws://127.0.0.1:%d' % sp, ['-L', '%d:*' % lp], wait_ports=(lp,),
                         env=env)

    def limit():
        held = []
        try:
            for i in range(4):
                s = w.connect(lp, timeout=10)
                held.append(s)
                ping(s, 'tunnel %d' % (i + 1))
            check(refused(lp) and refused(lp), 'a tunnel over the limit was not refused')
            check(wait_log(cli, HINT), 'the client log does not name the per-address limit:\n'
                  + cli.tail())
            check(wait_log(srv, 'already holds'), 'server log:\n' + srv.tail())
        finally:
            for s in held:
                s.close()
        for _ in range(50):  # the server counts them down as they close
            try:
                s = w.connect(lp, timeout=10)
                ping(s, 'after the others closed')
                s.close()
                break
            except (w.CaseFail, OSError):  # refused (reset) until the count is down
                time.sleep(0.1)
        else:
            raise w.CaseFail('tunnels do not work again after the held ones closed')
    suite.run('over --max-conns-per-ip while others work: the client log names the limit',
              limit, timeout=40)

    def control():
        other = w.start_client('ws://127.0.0.1:%d' % sp, ['-L', '%d:*' % lp2],
                               wait_ports=(lp2,), name='wrong-key', env={'WSFERRY_KEY': keygen()})
        check(refused(lp2), 'a wrong key got an echo')
        check(wait_log(other, 'closed without answering'), other.tail())
        check(HINT not in other.stderr_text(), 'a wrong key was blamed on the per-address '
              'limit:\n' + other.tail())
        other.stop()
    suite.run('a wrong key is not blamed on the limit', control)


if __name__ == '__main__':
    w.main_guard(w.Suite('perip_test'), body)
