#!/usr/bin/python3
"""drain_test.py — SIGTERM drains a server (issue 16): the listener closes at
once (a load balancer sends newcomers elsewhere), a transfer in progress
completes intact and the server then exits 0 without waiting for the
timeout; at --drain-timeout the tunnels left get a WebSocket Close 1001;
connections that are not tunnels (echo, subscribers) close at once; a second
SIGTERM or --drain-timeout 0 stop at once.

Interface (test/run.sh): binary from env WSFERRY (default ./build/wsferry);
everything is started here on free 127.0.0.1 ports and ended by PID; one line
per failed case; last line exactly `N passed, N failed`; exit 1 on failure.
`-v` also prints passing cases; other arguments filter case names.
"""

import base64
import os
import signal
import socket
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import wsfutil as w  # noqa: E402
from wsfutil import check  # noqa: E402

WSFERRY = w.WSFERRY
KEY = subprocess.run([WSFERRY, 'keygen'], capture_output=True, text=True,
                     check=True).stdout.strip()


def log_has(p, text, t=3.0):
    for _ in range(int(t / 0.05) + 1):
        if text in p.stderr_text():
            return True
        time.sleep(0.05)
    return False


def exits_within(p, t):
    try:
        p.p.wait(t)
        return True
    except subprocess.TimeoutExpired:
        return False


def server_and_client(origin_port, extra=()):
    sp, lp = w.free_ports(2)
    srv = w.start_server(sp, ['--key', KEY, '--log-level', 'debug'] + list(extra),
                         name='server-drain')
    cli = w.start_client('ws://127.0.0.1:%d' % sp, ['--key', KEY, '-L', '127.0.0.1:%d:127.0.0.1:%d'
                                                    % (lp, origin_port)],
                         wait_ports=[lp], name='client-drain')
    return srv, cli, sp, lp


def case_transfer_completes():
    n = 64 << 20
    origin = w.TCPServer(w.make_source_handler(n))
    srv, cli, sp, lp = server_and_client(origin.port, ['--drain-timeout', '20'])
    try:
        s = w.connect(lp, timeout=20)
        first = w.recv_exact(s, 1 << 20, 'first MiB')  # the tunnel is open and busy
        t0 = time.monotonic()
        srv.stopped_by_us = True
        os.kill(srv.pid, signal.SIGTERM)
        check(log_has(srv, 'SIGTERM: draining 1 connections'),
              'no drain log line:\n%s' % srv.tail())
        check(not w.port_open(sp), 'the listener still accepts during the drain')
        got, digest = w.recv_hash(s, prefix=first)
        s.close()
        _, sent, want = origin.result(what='source')
        check(got == sent == n and digest == want,
              'transfer during the drain: %d of %d bytes, hash %s' % (got, n,
                                                                     'ok' if digest == want else 'BAD'))
        check(exits_within(srv, 8), 'the server did not exit once its tunnel ended')
        check(srv.p.returncode == 0, 'drained server exited %s' % srv.p.returncode)
        check(time.monotonic() - t0 < 10, 'the drain waited for its timeout')
        check('drained: stopping' in srv.stderr_text(), 'no "drained" line:\n%s' % srv.tail())
    finally:
        cli.stop()
        origin.close()
        srv.stop()


def case_timeout_1001():
    origin = w.TCPServer(w.echo_handler)
    srv, cli, sp, lp = server_and_client(origin.port, ['--drain-timeout', '1'])
    try:
        s = w.connect(lp, timeout=10)
        s.sendall(b'before')
        check(w.recv_exact(s, 6) == b'before', 'echo before the drain')
        t0 = time.monotonic()
        srv.stopped_by_us = True
        os.kill(srv.pid, signal.SIGTERM)
        check(log_has(srv, 'SIGTERM: draining'), 'no drain log line:\n%s' % srv.tail())
        s.sendall(b'during')
        check(w.recv_exact(s, 6) == b'during', 'the tunnel stopped working during the drain')
        check(log_has(srv, 'drain timeout: closing 1 connections (WebSocket close 1001)', 4),
              'no drain timeout line:\n%s' % srv.tail())
        dt = time.monotonic() - t0
        check(0.8 <= dt < 3.5, 'drain timeout after %.2f s (--drain-timeout 1)' % dt)
        try:
            end = s.recv(10)
        except ConnectionResetError:
            end = b''
        check(end == b'', 'the tunnel still carried data after the drain timeout: %r' % end)
        s.close()
        check(exits_within(srv, 7), 'the server did not exit after the Close 1001')
        check(srv.p.returncode == 0, 'server exited %s' % srv.p.returncode)
    finally:
        cli.stop()
        origin.close()
        srv.stop()


def ws_echo_open(port):
    s = w.connect(port)
    key = base64.b64encode(os.urandom(16))
    s.sendall(b'GET /echo HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n'
              b'Sec-WebSocket-Key: ' + key + b'\r\nSec-WebSocket-Version: 13\r\n\r\n')
    check(w.read_http_response(s, what='upgrade')[0] == 101, 'echo upgrade refused')
    return s


def case_non_tunnels_close_at_once():
    port = w.free_port()
    srv = w.start_server(port, ['--echo', '/echo'], name='server-drain-echo')
    try:
        s = ws_echo_open(port)
        srv.stopped_by_us = True
        os.kill(srv.pid, signal.SIGTERM)
        check(exits_within(srv, 2), 'a server with only an echo connection kept draining')
        check(srv.p.returncode == 0, 'server exited %s' % srv.p.returncode)
        s.settimeout(2)
        try:
            rest = s.recv(100)
        except ConnectionResetError:
            rest = b''
        check(rest == b'', 'the echo connection got %r instead of its end' % rest)
        s.close()
    finally:
        srv.stop()


def case_head_phase():
    """A connection accepted before SIGTERM may still send its request; an
    idle --stealth decoy keep-alive connection is closed at once."""
    port = w.free_port()
    srv = w.start_server(port, ['--echo', '/echo'], name='server-drain-head')
    try:
        s = w.connect(port)
        time.sleep(0.1)  # accepted
        srv.stopped_by_us = True
        os.kill(srv.pid, signal.SIGTERM)
        check(log_has(srv, 'SIGTERM: draining 1 connections'), 'the head-phase connection was '
              'not kept:\n%s' % srv.tail())
        key = base64.b64encode(os.urandom(16))
        s.sendall(b'GET /echo HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: '
                  b'Upgrade\r\nSec-WebSocket-Key: ' + key + b'\r\nSec-WebSocket-Version: 13\r\n\r\n')
        check(w.read_http_response(s, what='upgrade during the drain')[0] == 101,
              'a request sent during the drain was not answered')
        s.close()
        check(exits_within(srv, 3), 'the server did not exit after its last connection')
        check(srv.p.returncode == 0, 'server exited %s' % srv.p.returncode)
    finally:
        srv.stop()
    port = w.free_port()
    srv = w.start_server(port, ['--stealth', 'decoy'], name='server-drain-decoy')
    try:
        s = w.connect(port)
        s.sendall(b'GET / HTTP/1.1\r\nHost: x\r\n\r\n')
        status = w.read_http_response(s, what='decoy page')[0]
        check(status == 404, 'decoy answered %d' % status)
        srv.stopped_by_us = True
        os.kill(srv.pid, signal.SIGTERM)
        check(exits_within(srv, 2), 'an idle decoy keep-alive connection held the drain')
        check(srv.p.returncode == 0, 'server exited %s' % srv.p.returncode)
        s.close()
    finally:
        srv.stop()


def case_stop_now():
    origin = w.TCPServer(w.echo_handler)
    for how in ('second SIGTERM', '--drain-timeout 0', 'SIGINT'):
        extra = ['--drain-timeout', '0'] if how == '--drain-timeout 0' else []
        srv, cli, sp, lp = server_and_client(origin.port, extra)
        try:
            s = w.connect(lp, timeout=10)
            s.sendall(b'x')
            check(w.recv_exact(s, 1) == b'x', 'echo')
            srv.stopped_by_us = True
            os.kill(srv.pid, signal.SIGINT if how == 'SIGINT' else signal.SIGTERM)
            if how == 'second SIGTERM':
                check(log_has(srv, 'SIGTERM: draining'), 'no drain')
                os.kill(srv.pid, signal.SIGTERM)
            check(exits_within(srv, 2), '%s did not stop the server at once' % how)
            check(srv.p.returncode == 0, 'server exited %s after %s' % (srv.p.returncode, how))
            s.close()
        finally:
            cli.stop()
            srv.stop()
    origin.close()


def case_workers_drain():
    n = 16 << 20
    origin = w.TCPServer(w.make_source_handler(n))
    srv, cli, sp, lp = server_and_client(origin.port, ['--workers', '2', '--drain-timeout', '20'])
    try:
        s = w.connect(lp, timeout=20)
        first = w.recv_exact(s, 1 << 20, 'first MiB')
        srv.stopped_by_us = True
        os.kill(srv.pid, signal.SIGTERM)
        check(log_has(srv, 'SIGTERM: draining'), 'no worker drains:\n%s' % srv.tail())
        got, digest = w.recv_hash(s, prefix=first)
        s.close()
        _, sent, want = origin.result(what='source')
        check(got == n and digest == want, 'transfer during a workers drain: %d of %d' % (got, n))
        check(exits_within(srv, 8), 'the supervisor did not exit once the workers drained')
        check(srv.p.returncode == 0, 'server exited %s' % srv.p.returncode)
    finally:
        cli.stop()
        origin.close()
        srv.stop()


def main(suite):
    suite.run('SIGTERM: listener closed, a 64 MiB transfer completes, then exit 0',
              case_transfer_completes)
    suite.run('--drain-timeout: tunnels left get Close 1001, then exit 0', case_timeout_1001)
    suite.run('SIGTERM: connections that are not tunnels close at once', case_non_tunnels_close_at_once)
    suite.run('a request head arriving during the drain is answered; idle decoys close',
              case_head_phase)
    suite.run('a second SIGTERM, --drain-timeout 0 and SIGINT stop at once', case_stop_now)
    suite.run('--workers 2: each worker drains, the transfer completes', case_workers_drain)


if __name__ == '__main__':
    w.main_guard(w.Suite('drain_test'), main)
