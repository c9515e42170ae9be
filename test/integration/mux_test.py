#!/usr/bin/python3
"""--mux: tunnels of -L/-D as streams of shared carriers (issue 12 items 1, 7).

Real peers on 127.0.0.1: curl through -D, Python TCP servers as targets,
python3-websockets as a prober. Carriers are counted with `ss -tn`
(ESTABLISHED connections to the server port). Cases: 8 parallel curls open
ceil(8/4) = 2 carriers and come back byte-exact; a stalled stream beside a
100 MiB sibling that completes; half-close per stream; one stream reset
leaves its sibling; a refused target answered as SOCKS 0x05 and bytes
pipelined behind a request; a mux and a plain client on one server port; tls://
mux; --max-conns-per-ip counts carriers; a prober that completes an upgrade
without a valid token opens nothing; --mux-max-streams 0 / 17 exit 2; a
server restart fails the open streams and a new carrier serves new ones; a
mux client facing a server that closes silently says why in its log, and
one facing a server that requires --encrypt on ws:// is refused with a reason.

Interface (test/run.sh): binary from env WSFERRY (default ./build/wsferry);
everything is started here on free 127.0.0.1 ports and ended by PID; one line
per failed case; last line exactly `N passed, N failed`; exit 1 on failure.
`-v` also prints passing cases; other arguments filter case names.
"""

import asyncio
import hashlib
import os
import socket
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import wsfutil as w  # noqa: E402
from wsfutil import check, CaseFail  # noqa: E402

KEY = None


def key():
    global KEY
    if KEY is None:
        KEY = subprocess.run([w.WSFERRY, 'keygen'], stdout=subprocess.PIPE,
                             check=True).stdout.decode().strip()
    return KEY


def carriers(port):
    """ESTABLISHED TCP connections to the server port (client side ends)."""
    out = subprocess.run(['ss', '-Htn', 'state', 'established', '( dport = :%d )' % port],
                         stdout=subprocess.PIPE, check=True).stdout.decode()
    return len([ln for ln in out.splitlines() if ln.strip()])


def pair(extra_client=('--mux',), extra_server=(), scheme='ws'):
    sp, dp = w.free_ports(2)
    url = '%s://127.0.0.1:%d' % (scheme, sp)
    srv = w.Proc([w.WSFERRY, 'server', url, '--key', key()] + list(extra_server), 'server')
    w.wait_port(sp, proc=srv)
    cargs = ['-D', str(dp), '--key', key()] + list(extra_client)
    if scheme != 'ws':
        cargs.append('--insecure')
    cli = w.start_client(url, cargs, wait_ports=(dp,))
    return srv, cli, sp, dp


def slow_http_handler(body, pieces=16, pause=0.08):
    """A minimal HTTP/1.0 origin that sends body in pieces, slowly, so that
    parallel requests overlap."""
    def handler(c, srv):
        req = b''
        for _ in range(100):
            d = c.recv(4096)
            if not d:
                return
            req += d
            if b'\r\n\r\n' in req:
                break
        c.sendall(b'HTTP/1.0 200 OK\r\nContent-Length: %d\r\n\r\n' % len(body))
        step = (len(body) + pieces - 1) // pieces
        for i in range(0, len(body), step):
            c.sendall(body[i:i + step])
            time.sleep(pause)
        c.shutdown(socket.SHUT_WR)
    return handler


def case_eight_curls_two_carriers():
    body = os.urandom(2 << 20)
    want = hashlib.sha256(body).hexdigest()
    origin = w.TCPServer(slow_http_handler(body))
    srv, cli, sp, dp = pair()
    try:
        outs = [None] * 8

        def one(i):
            outs[i] = w.curl(['--socks5-hostname', '127.0.0.1:%d' % dp,
                              'http://127.0.0.1:%d/f' % origin.port], timeout=30)
        ths = [threading.Thread(target=one, args=(i,)) for i in range(8)]
        for t in ths:
            t.start()
        peak = 0
        for _ in range(100):
            peak = max(peak, carriers(sp))
            if not any(t.is_alive() for t in ths):
                break
            time.sleep(0.02)
        for t in ths:
            t.join(40)
        for i, r in enumerate(outs):
            check(r is not None and r.returncode == 0,
                  'curl %d failed: %r' % (i, r and r.stderr))
            check(hashlib.sha256(r.stdout).hexdigest() == want,
                  'curl %d: %d bytes, not the body' % (i, len(r.stdout)))
        check(peak == 2, '8 parallel streams with 4 a carrier: %d carriers seen by ss, want 2'
              % peak)
    finally:
        origin.close()


def case_stalled_stream_beside_100mib():
    big = 100 << 20
    stalled_n = 8 << 20
    src_big = w.TCPServer(w.make_source_handler(big, chunk=1 << 20))
    src_stall = w.TCPServer(w.make_source_handler(stalled_n))
    srv, cli, sp, dp = pair()
    try:
        stalled = w.socks_connect(dp, '127.0.0.1', src_stall.port)
        time.sleep(0.5)  # the stalled stream's window fills up
        s = w.socks_connect(dp, '127.0.0.1', src_big.port)
        s.settimeout(60)
        check(carriers(sp) == 1, 'two streams should share one carrier, ss shows %d'
              % carriers(sp))
        h = hashlib.sha256()
        n = 0
        t0 = time.monotonic()
        for _ in range(1 << 16):
            d = s.recv(1 << 20)
            if not d:
                break
            h.update(d)
            n += len(d)
        secs = time.monotonic() - t0
        r = src_big.result(timeout=30, what='100 MiB source')
        check(n == big and h.hexdigest() == r[2],
              'sibling of a stalled stream: %d of %d bytes (%s)' % (n, big, r[0]))
        rss = w.rss_kib(cli.pid)
        check(rss < 64 * 1024, 'client RSS %d KiB with a stalled stream' % rss)
        # the stalled stream was never read: now it is, and it is whole
        stalled.settimeout(30)
        got = w.recv_hash(stalled)
        r2 = src_stall.result(timeout=30, what='stalled source')
        check(got[0] == stalled_n and got[1] == r2[2],
              'stalled stream after the stall: %r vs %r' % (got, r2))
        if w.is_sanitized() is False:
            check(secs < 40, '100 MiB beside a stalled stream took %.1f s' % secs)
        s.close()
        stalled.close()
    finally:
        src_big.close()
        src_stall.close()


def case_half_close_per_stream():
    echo = w.TCPServer(w.echo_handler)
    srv, cli, sp, dp = pair()
    try:
        a = w.socks_connect(dp, '127.0.0.1', echo.port)
        b = w.socks_connect(dp, '127.0.0.1', echo.port)
        a.sendall(b'x' * 100000)
        a.shutdown(socket.SHUT_WR)       # a's way up ends; its way down goes on
        got = w.recv_until_eof(a, what='echo after half-close')
        check(got == b'x' * 100000, 'half-closed stream echoed %d bytes' % len(got))
        b.sendall(b'still here')         # b is untouched by a's half-close
        check(w.recv_exact(b, 10) == b'still here', 'sibling after half-close')
        b.shutdown(socket.SHUT_WR)
        check(w.recv_until_eof(b) == b'', 'sibling EOF')
        a.close()
        b.close()
    finally:
        echo.close()


def case_reset_one_stream():
    echo = w.TCPServer(w.echo_handler)
    src = w.TCPServer(w.make_source_handler(20 << 20))
    srv, cli, sp, dp = pair()
    try:
        a = w.socks_connect(dp, '127.0.0.1', echo.port)
        b = w.socks_connect(dp, '127.0.0.1', src.port)
        a.sendall(b'ping')
        check(w.recv_exact(a, 4) == b'ping', 'echo before the reset')
        a.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b'\x01\x00\x00\x00\x00\x00\x00\x00')
        a.close()                         # RST
        got = w.recv_hash(b)
        r = src.result(timeout=30, what='source beside a reset stream')
        check(got[0] == r[1] and got[1] == r[2], 'sibling of a reset stream: %r' % (got,))
        try:
            r = echo.result(timeout=10, what='echo end after the reset')
        except CaseFail as e:  # the RST reached the target: what a reset should do
            r = ('reset',) if 'reset' in str(e) else ('other', str(e))
        check(r[0] in ('echo', 'reset'), 'the reset stream ended at its target: %r' % (r,))
        c = w.socks_connect(dp, '127.0.0.1', echo.port)  # the carrier still serves
        c.sendall(b'again')
        check(w.recv_exact(c, 5) == b'again', 'new stream after a reset')
        c.close()
        b.close()
    finally:
        echo.close()
        src.close()


def case_replies_and_early_bytes():
    echo = w.TCPServer(w.echo_handler)
    closed = w.free_port()
    srv, cli, sp, dp = pair()
    try:
        s, rep = w.socks_open(dp, '127.0.0.1', closed)
        s.close()
        check(rep == 0x05, 'a refused target through a stream: SOCKS REP 0x%02x, want 0x05' % rep)
        s = w.socks_connect(dp, '127.0.0.1', echo.port, early=b'early bytes', pipeline=True)
        check(w.recv_exact(s, 11) == b'early bytes', 'bytes pipelined behind the request')
        s.close()
    finally:
        echo.close()


def case_mux_and_plain_same_port():
    body = os.urandom(300000)
    origin = w.TCPServer(slow_http_handler(body, pieces=2, pause=0.01))
    srv, cli, sp, dp = pair()
    dp2 = w.free_port()
    w.start_client('ws://127.0.0.1:%d' % sp, ['-D', str(dp2), '--key', key()],
                   wait_ports=(dp2,), name='plain-client')
    try:
        for p in (dp, dp2):
            out = w.curl_ok(['--socks5-hostname', '127.0.0.1:%d' % p,
                             'http://127.0.0.1:%d/' % origin.port])
            check(out == body, 'body through port %d: %d bytes' % (p, len(out)))
    finally:
        origin.close()


def case_tls_mux(scheme='tls'):
    echo = w.TCPServer(w.echo_handler)
    srv, cli, sp, dp = pair(scheme=scheme)
    try:
        socks = [w.socks_connect(dp, '127.0.0.1', echo.port) for _ in range(5)]
        for i, s in enumerate(socks):
            s.sendall(b'%d' % i * 5000)
        for i, s in enumerate(socks):
            check(w.recv_exact(s, 5000) == b'%d' % i * 5000, '%s:// stream %d echo' % (scheme, i))
        big = os.urandom(3 << 20)
        sender = threading.Thread(target=socks[0].sendall, args=(big,), daemon=True)
        sender.start()
        check(w.recv_exact(socks[0], len(big)) == big, '%s://: 3 MiB echoed' % scheme)
        sender.join(10)
        check(carriers(sp) == 2, '5 streams over %s://: %d carriers, want 2'
              % (scheme, carriers(sp)))
        for s in socks:
            s.close()
    finally:
        echo.close()


def case_perip_counts_carriers():
    echo = w.TCPServer(w.echo_handler)
    srv, cli, sp, dp = pair(extra_server=('--max-conns-per-ip', '2'))
    try:
        socks = [w.socks_connect(dp, '127.0.0.1', echo.port) for _ in range(8)]
        for i, s in enumerate(socks):
            s.sendall(b'n%d' % i)
            check(w.recv_exact(s, 2) == b'n%d' % i, 'stream %d under a limit of 2' % i)
        check(carriers(sp) == 2, '%d carriers for 8 streams' % carriers(sp))
        for s in socks:
            s.close()
    finally:
        echo.close()


def case_prober_opens_nothing():
    target = w.TCPServer(w.echo_handler)
    srv, cli, sp, dp = pair()
    try:
        import websockets.client as wc

        async def probe():
            try:
                async with wc.connect('ws://127.0.0.1:%d/' % sp, open_timeout=3,
                                      extra_headers={'Cookie': 'sid=AQoA'}) as ws:
                    await ws.send(b'\x01\x00\x00\x10\x00\x00\x00\x01' + b'A' * 16)
                    await asyncio.wait_for(ws.recv(), 2)
                return 'upgraded'
            except Exception as e:  # the stealth answer: a closed connection
                return type(e).__name__
        res = asyncio.run(probe())
        check(res != 'upgraded', 'a prober without a token got an answer')
        # a raw upgrade with a forged mux cookie, then a mux OPEN: nothing
        s = w.connect(sp)
        s.sendall(b'GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n'
                  b'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n'
                  b'Cookie: sid=AQoAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA\r\n\r\n'
                  b'\x82\x98\x00\x00\x00\x00\x01\x00\x00\x10\x00\x00\x00\x01' + b'B' * 16)
        s.settimeout(3)
        try:
            got = s.recv(100)
        except (ConnectionResetError, socket.timeout):
            got = b''
        check(got == b'', 'forged upgrade answered %r' % got[:40])
        s.close()
        time.sleep(0.3)
        check(target.accepted == 0, 'a prober reached the target')
        check(carriers(sp) == 0, 'no carrier from the probes')
    finally:
        target.close()


def case_max_streams_range():
    for v in ('0', '17', 'x'):
        r = subprocess.run([w.WSFERRY, 'client', 'ws://127.0.0.1:9', '--mux',
                            '--mux-max-streams', v], stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, timeout=10)
        err = r.stderr.decode()
        check(r.returncode == 2, '--mux-max-streams %s: exit %d' % (v, r.returncode))
        check('1 to 16' in err, '--mux-max-streams %s: message %r names no range' % (v, err))
    r = subprocess.run([w.WSFERRY, 'client', 'ws://127.0.0.1:9', '--mux-max-streams', '4'],
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=10)
    check(r.returncode == 2 and b'--mux' in r.stderr, 'without --mux: %r' % r.stderr)


def case_server_restart():
    echo = w.TCPServer(w.echo_handler)
    sp, dp = w.free_ports(2)
    url = 'ws://127.0.0.1:%d' % sp
    srv = w.Proc([w.WSFERRY, 'server', url, '--key', key()], 'server')
    w.wait_port(sp, proc=srv)
    w.start_client(url, ['-D', str(dp), '--key', key(), '--mux'], wait_ports=(dp,))
    try:
        a = w.socks_connect(dp, '127.0.0.1', echo.port)
        a.sendall(b'one')
        check(w.recv_exact(a, 3) == b'one', 'before the restart')
        srv.stop()
        a.settimeout(10)
        try:
            d = a.recv(10)
        except ConnectionResetError:
            d = b''
        check(d == b'', 'the open stream must fail when its carrier is gone, got %r' % d)
        a.close()
        srv2 = w.Proc([w.WSFERRY, 'server', url, '--key', key()], 'server2')
        w.wait_port(sp, proc=srv2)
        b = w.socks_connect(dp, '127.0.0.1', echo.port)
        b.sendall(b'two')
        check(w.recv_exact(b, 3) == b'two', 'after the restart: a new carrier')
        check(carriers(sp) == 1, '%d carriers after the restart' % carriers(sp))
        b.close()
    finally:
        echo.close()


def case_encrypt_server_refuses_carrier():
    srv, cli, sp, dp = pair(extra_server=('--encrypt',))
    s, rep = w.socks_open(dp, '127.0.0.1', 9)
    s.close()
    check(rep != 0, 'a --encrypt server must refuse a mux carrier on ws://')
    for _ in range(50):
        if 'encrypt' in cli.stderr_text():
            break
        time.sleep(0.1)
    check('encrypt' in cli.stderr_text(), 'the client does not say why: %s' % cli.tail(3))


def case_stop_with_waiting_streams():
    """A client stopped while its streams wait for a carrier's 101 (a server
    that never answers) exits cleanly, nobody told twice (sanitizer build)."""
    def mute(c, srv):
        for _ in range(100):
            if not c.recv(4096):
                return
    mute_srv = w.TCPServer(mute)
    dp = w.free_port()
    cli = w.start_client('ws://127.0.0.1:%d' % mute_srv.port,
                         ['-D', str(dp), '--key', key(), '--mux'], wait_ports=(dp,))
    try:
        socks = []
        for _ in range(3):
            s = w.connect(dp)
            s.sendall(b'\x05\x01\x00' + w.socks_request('127.0.0.1', 9))
            socks.append(s)
        for _ in range(50):
            if mute_srv.accepted:
                break
            time.sleep(0.05)
        time.sleep(0.3)
        rc = cli.stop()
        check(rc == 0, 'client stopped with streams waiting: exit %r' % rc)
        for s in socks:
            s.close()
    finally:
        mute_srv.close()


def case_silent_server_hint():
    sp, dp = w.free_ports(2)
    srv = w.Proc([w.WSFERRY, 'server', 'ws://127.0.0.1:%d' % sp, '--key', key()], 'server')
    w.wait_port(sp, proc=srv)
    other = subprocess.run([w.WSFERRY, 'keygen'], stdout=subprocess.PIPE).stdout.decode().strip()
    cli = w.start_client('ws://127.0.0.1:%d' % sp, ['-D', str(dp), '--key', other, '--mux'],
                         wait_ports=(dp,))
    s, rep = w.socks_open(dp, '127.0.0.1', 9)
    s.close()
    check(rep != 0, 'a carrier refused by the server must fail the stream')
    for _ in range(50):
        if '--mux' in cli.stderr_text():
            break
        time.sleep(0.1)
    check('without --mux' in cli.stderr_text(),
          'no hint in the client log: %s' % cli.tail(3))


def main():
    s = w.Suite('mux', file_limit=240.0)
    s.run('eight_curls_two_carriers', case_eight_curls_two_carriers)
    s.check_processes()
    s.run('stalled_stream_beside_100mib', case_stalled_stream_beside_100mib, timeout=120)
    s.check_processes()
    s.run('half_close_per_stream', case_half_close_per_stream)
    s.check_processes()
    s.run('reset_one_stream', case_reset_one_stream)
    s.check_processes()
    s.run('replies_and_early_bytes', case_replies_and_early_bytes)
    s.check_processes()
    s.run('mux_and_plain_same_port', case_mux_and_plain_same_port)
    s.check_processes()
    s.run('tls_mux', case_tls_mux)
    s.check_processes()
    s.run('wss_mux', case_tls_mux, 'wss')
    s.check_processes()
    s.run('perip_counts_carriers', case_perip_counts_carriers)
    s.check_processes()
    s.run('prober_opens_nothing', case_prober_opens_nothing)
    s.check_processes()
    s.run('max_streams_range', case_max_streams_range)
    s.run('server_restart', case_server_restart)
    s.check_processes()
    s.run('encrypt_server_refuses_carrier', case_encrypt_server_refuses_carrier)
    s.check_processes()
    s.run('stop_with_waiting_streams', case_stop_with_waiting_streams)
    s.check_processes()
    s.run('silent_server_hint', case_silent_server_hint)
    s.check_processes()
    return s.finish()


if __name__ == '__main__':
    sys.exit(main())
