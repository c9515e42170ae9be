#!/usr/bin/python3
"""encrypt_test.py — `--encrypt` on ws:// end to end, through a man in the
middle run here (a TCP proxy between client and server that records both
directions and can flip one byte):
  1 round trip: 20 MiB through -L, byte-exact both ways, a clean FIN at the
    end (the end record), and a marker sent through the tunnel never appears
    on the wire (it does without --encrypt: the control);
  2 a byte flipped in a server->client record: the client logs the failed
    record and resets the local connection; the marker after it never
    arrives;
  3 a byte flipped in a client->server record: the server logs it, the
    destination gets a reset, not the byte;
  4 a Close forged on the path in place of the end of the stream (the
    server's frames cut short): the client treats it as broken (RST), not as
    the end of the data;
  6 UDP (-L udp://, -R udp://): datagrams sealed one record each, echoed
    exactly, the marker never on the wire; a byte flipped in a server->client
    record ends the flow with the client's log line;
  7 channels and routes: a channel (-R tcp://NAME:PASS@ / -L tcp://NAME:PASS@)
    and a published path route work with --encrypt at every end, the
    registering client's legs carry no readable byte; a registering client
    without --encrypt is refused by an --encrypt server at once;
  8 --mux --encrypt: 8 parallel tunnels of 2 MiB each through a sealed
    carrier pair (2 carriers of 4 streams), byte-exact, the marker never on
    the wire; a byte flipped either way in a carrier record: that side logs
    it, the carrier closes, nothing of the tampered record is delivered;
  5 agreement: a server with --encrypt refuses a plain ws:// tunnel (412, the
    client log says --encrypt); a client with --encrypt works with a server
    that does not require it; --encrypt without a key, or with wss://, is a
    usage error (exit 2).

Interface (test/run.sh): binary from env WSFERRY; 127.0.0.1 only; last line
exactly `N passed, N failed`.
"""

import errno
import os
import random
import socket
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import wsfutil as w  # noqa: E402
from wsfutil import check  # noqa: E402

MARKER = b'wsferry-plaintext-marker-0123456789'


class Mitm:
    """Forwards one port to another, records what passes each way, and may
    flip the byte at a given offset of one direction (counted from the
    first byte after the HTTP head of that direction)."""

    def __init__(self, target_port, flip_s2c=None, flip_c2s=None, cut_s2c=None):
        self.target = target_port
        self.flip = {'s2c': flip_s2c, 'c2s': flip_c2s}
        self.cut_s2c = cut_s2c  # after this many body bytes: a Close, then FIN
        self.seen = {'s2c': bytearray(), 'c2s': bytearray()}
        self.accepted = 0
        self.ls = socket.socket()
        self.ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.ls.bind(('127.0.0.1', 0))
        self.ls.listen(16)
        self.ls.settimeout(0.2)
        self.port = self.ls.getsockname()[1]
        self.stop = False
        threading.Thread(target=self._loop, daemon=True).start()

    def _loop(self):
        while not self.stop:
            try:
                c, _ = self.ls.accept()
            except socket.timeout:
                continue
            except OSError:
                return
            self.accepted += 1
            u = socket.create_connection(('127.0.0.1', self.target), timeout=10)
            for a, b, d in ((c, u, 'c2s'), (u, c, 's2c')):
                threading.Thread(target=self._pump, args=(a, b, d), daemon=True).start()

    def _pump(self, a, b, d):
        head = None
        a.settimeout(30)
        try:
            for _ in range(1 << 20):
                x = a.recv(65536)
                if not x:
                    break
                x = bytearray(x)
                start = len(self.seen[d])
                self.seen[d] += x
                if head is None:
                    i = self.seen[d].find(b'\r\n\r\n')
                    head = i + 4 if i >= 0 else None
                at = self.flip[d]
                if head is not None and at is not None and start <= head + at < start + len(x):
                    x[head + at - start] ^= 0x20
                    self.flip[d] = None
                if d == 's2c' and head is not None and self.cut_s2c is not None and \
                        len(self.seen[d]) >= head + self.cut_s2c:
                    keep = head + self.cut_s2c - start
                    b.sendall(bytes(x[:max(keep, 0)]) + b'\x88\x02\x03\xe8')  # Close 1000
                    b.shutdown(socket.SHUT_WR)
                    return
                b.sendall(bytes(x))
            b.shutdown(socket.SHUT_WR)
        except OSError:
            for s in (a, b):
                try:
                    s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b'\x01\x00\x00\x00\x00\x00\x00\x00')
                    s.close()
                except OSError:
                    pass

    def close(self):
        self.stop = True
        self.ls.close()


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


def exchange(port, data, what):
    """Sends data, half-closes, reads to EOF; (bytes back, how it ended)."""
    s = w.connect(port, timeout=20)
    got = bytearray()
    ended = 'fin'
    try:
        s.sendall(data)
        s.shutdown(socket.SHUT_WR)
        for _ in range(1 << 20):
            x = s.recv(1 << 18)
            if not x:
                break
            got += x
    except ConnectionResetError:
        ended = 'rst'
    except OSError as e:
        # ENOTCONN: our own shutdown() after the peer reset us (a FIN leaves
        # the socket half-open, so only a reset gets here); else timeout, EPIPE.
        ended = 'rst' if e.errno == errno.ENOTCONN else type(e).__name__
    finally:
        s.close()
    return bytes(got), ended


def body(suite):
    key = keygen()
    env = {'WSFERRY_KEY': key}
    echo = w.TCPServer(w.echo_handler)
    sink = w.TCPServer(w.sink_handler)
    sp, sp_open = w.free_ports(2)
    srv = w.Proc([w.WSFERRY, 'server', 'ws://127.0.0.1:%d' % sp, '--encrypt',
                  '--to', '127.0.0.1:%d' % echo.port], 'server', env=env)
    open_srv = w.Proc([w.WSFERRY, 'server', 'ws://127.0.0.1:%d' % sp_open,
                       '--to', '127.0.0.1:%d' % echo.port], 'server-open', env=env)
    w.wait_port(sp, proc=srv)
    w.wait_port(sp_open, proc=open_srv)

    def client_via(mitm_port, extra=(), name='client', fwd='*'):
        lp = w.free_port()
        c = w.start_client('ws://127.0.0.1:%d' % mitm_port,
                           ['-L', '%d:%s' % (lp, fwd)] + list(extra), wait_ports=(lp,),
                           name=name, env=env)
        return c, lp

    def roundtrip():
        m = Mitm(sp)
        c, lp = client_via(m.port, ['--encrypt'])
        data = MARKER + random.randbytes(20 << 20) + MARKER
        got, ended = exchange(lp, data, 'echo')
        check(got == data and ended == 'fin', '%d of %d bytes back, %s, ended by %s'
              % (len(got), len(data), 'equal' if got == data else 'NOT equal', ended))
        for d in ('c2s', 's2c'):
            check(MARKER not in m.seen[d], 'the marker is readable on the wire (%s)' % d)
        check(len(m.seen['s2c']) > len(data), 'the MITM saw too little: %d' % len(m.seen['s2c']))
        c.stop()
        m.close()
        # The control: the same through a server without --encrypt, plainly.
        m2 = Mitm(sp_open)
        c2, lp2 = client_via(m2.port, name='client-plain')
        got, _ = exchange(lp2, MARKER * 4, 'echo')
        check(got == MARKER * 4, 'plain control: %r' % got[:40])
        check(MARKER in m2.seen['s2c'], 'control: the marker is not on the plain wire (s2c)')
        c2.stop()
        m2.close()
    suite.run('--encrypt round trip: 20 MiB exact, clean end, nothing readable on the wire',
              roundtrip, timeout=90)

    def tamper_s2c():
        tamper_s2c_case(env, sp, ['--encrypt'], '--encrypt: a record failed authentication',
                        'client-s2c')
    suite.run('a byte flipped server->client: the client logs it and resets', tamper_s2c,
              timeout=30)

    def tamper_c2s():
        tamper_c2s_case(env, sink, ['--encrypt'], '--encrypt: a record failed authentication',
                        'client-c2s')
    suite.run('a byte flipped client->server: the server logs it, the destination gets '
              'nothing', tamper_c2s, timeout=30)

    def forged_close():
        m = Mitm(sp, cut_s2c=18 + 40)  # the nonce frame and part of a record, then Close
        c, lp = client_via(m.port, ['--encrypt'], name='client-cut')
        got, ended = exchange(lp, MARKER * 1000, 'echo')
        check(ended == 'rst', 'a forged Close ended the local connection by %s (%d bytes): '
              'it must be a reset' % (ended, len(got)))
        c.stop()
        m.close()
    suite.run('a Close forged mid-stream is a broken tunnel (RST), not the end of data',
              forged_close, timeout=30)

    def agreement():
        c, lp = client_via(sp, name='client-noenc')
        got, _ = exchange(lp, b'hi', 'echo')
        check(got == b'', 'a plain tunnel to an --encrypt server got %r' % got)
        check(wait_log(c, '--encrypt'), 'the client log does not mention --encrypt:\n' +
              c.tail())
        check(wait_log(srv, 'which this server requires'), 'server log:\n' + srv.tail())
        c.stop()
        c2, lp2 = client_via(sp_open, ['--encrypt'], name='client-enc-open')
        got, ended = exchange(lp2, MARKER, 'echo')
        check(got == MARKER and ended == 'fin', 'an --encrypt client to a server without '
              '--encrypt: %r, %s' % (got, ended))
        c2.stop()
        for args, what in ((['client', 'ws://127.0.0.1:1', '--encrypt'], 'no key'),
                           (['server', '--encrypt'], 'no key'),
                           (['client', 'wss://127.0.0.1:1', '--encrypt', '--key', key], 'wss')):
            r = subprocess.run([w.WSFERRY] + args, capture_output=True, text=True, timeout=10,
                               env={k: v for k, v in os.environ.items() if k != 'WSFERRY_KEY'})
            check(r.returncode == 2 and '--encrypt' in r.stderr,
                  '%s (%s): exit %d %r' % (' '.join(args), what, r.returncode, r.stderr))
    suite.run('agreement: --encrypt server refuses plain ws:// (412), usage errors exit 2',
              agreement, timeout=30)
    mux_body(suite, env, sp, sink)
    udp_body(suite, key, env)
    publish_body(suite, env)


def tamper_s2c_case(env, sp, client_args, log_text, name):
    """A byte flipped in the first server->client record (behind the
    server's nonce frame, 2 + 16 bytes after the head): the client logs
    log_text, nothing of it is delivered, the local connection is reset."""
    m = Mitm(sp, flip_s2c=18 + 10)
    lp = w.free_port()
    c = w.start_client('ws://127.0.0.1:%d' % m.port, ['-L', '%d:*' % lp] + client_args,
                       wait_ports=(lp,), name=name, env=env)
    got, ended = exchange(lp, MARKER * 100, 'echo')
    check(MARKER not in got, 'a tampered record was delivered: %r' % got[:60])
    check(ended == 'rst' or got == b'', 'the local connection ended by %s with %d bytes'
          % (ended, len(got)))
    check(wait_log(c, log_text), 'the client log does not name the failed record:\n' +
          c.tail())
    c.stop()
    m.close()


def tamper_c2s_case(env, sink, client_args, log_text, name):
    """A byte flipped in the first client->server record (an --encrypt
    server with --to sink behind a Mitm): the server logs log_text, the
    destination gets nothing."""
    before = sink.results.qsize()
    srv2p = w.free_port()
    srv2 = w.Proc([w.WSFERRY, 'server', 'ws://127.0.0.1:%d' % srv2p, '--encrypt',
                   '--to', '127.0.0.1:%d' % sink.port], 'server-' + name, env=env)
    w.wait_port(srv2p, proc=srv2)
    m = Mitm(srv2p, flip_c2s=20)  # inside the first masked record
    lp = w.free_port()
    c = w.start_client('ws://127.0.0.1:%d' % m.port, ['-L', '%d:*' % lp] + client_args,
                       wait_ports=(lp,), name=name, env=env)
    s = w.connect(lp, timeout=10)
    try:
        s.sendall(MARKER * 10)
        time.sleep(0.5)
        s.sendall(MARKER * 10)
        s.shutdown(socket.SHUT_WR)
        s.recv(100)
    except OSError:
        pass
    s.close()
    check(wait_log(srv2, log_text), 'the server log does not name the failed record:\n' +
          srv2.tail())
    time.sleep(0.3)
    for _ in range(sink.results.qsize() - before):
        r = sink.results.get(timeout=1)
        check(r[0] != 'sink' or r[1] == 0, 'the destination got %r' % (r,))
    c.stop()
    srv2.stop()
    m.close()


def mux_body(suite, env, sp, sink):
    """--mux --encrypt: sealed carriers (sp: an --encrypt server, --to echo)."""
    def client_mux(port, name):
        lp = w.free_port()
        c = w.start_client('ws://127.0.0.1:%d' % port,
                           ['-L', '%d:*' % lp, '--encrypt', '--mux'], wait_ports=(lp,),
                           name=name, env=env)
        return c, lp

    def mux_roundtrip():
        m = Mitm(sp)
        c, lp = client_mux(m.port, 'client-mux')
        datas = [MARKER + random.randbytes(2 << 20) + MARKER for _ in range(8)]
        res = [None] * len(datas)

        def one(i):
            res[i] = exchange(lp, datas[i], 'echo')
        ts = [threading.Thread(target=one, args=(i,)) for i in range(len(datas))]
        for t in ts:
            t.start()
        for t in ts:
            t.join(60)
        for i, r in enumerate(res):
            check(r is not None and r[0] == datas[i] and r[1] == 'fin',
                  'tunnel %d: %s' % (i, 'no result' if r is None else
                                     '%d of %d bytes, ended by %s' % (len(r[0]), len(datas[i]),
                                                                      r[1])))
        for d in ('c2s', 's2c'):
            check(MARKER not in m.seen[d], 'the marker is readable on the wire (%s)' % d)
        check(m.accepted == 2, '8 tunnels took %d carriers, not 2' % m.accepted)
        c.stop()
        m.close()
    suite.run('--mux --encrypt: 8 tunnels x 2 MiB exact on 2 sealed carriers, nothing '
              'readable on the wire', mux_roundtrip, timeout=90)

    def mux_tamper_s2c():
        tamper_s2c_case(env, sp, ['--encrypt', '--mux'],
                        '--encrypt: a carrier record failed authentication', 'client-mux-s2c')
    suite.run('--mux --encrypt, a byte flipped server->client: the client logs it, the '
              'carrier closes', mux_tamper_s2c, timeout=30)

    def mux_tamper_c2s():
        tamper_c2s_case(env, sink, ['--encrypt', '--mux'],
                        '--encrypt: a carrier record failed authentication', 'client-mux-c2s')
    suite.run('--mux --encrypt, a byte flipped client->server: the server logs it, the '
              'destination gets nothing', mux_tamper_c2s, timeout=30)


class UDPEcho:
    """Echoes every datagram to its sender, on 127.0.0.1."""

    def __init__(self):
        self.s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.s.bind(('127.0.0.1', 0))
        self.s.settimeout(0.2)
        self.port = self.s.getsockname()[1]
        self.stop = False
        threading.Thread(target=self._loop, daemon=True).start()

    def _loop(self):
        while not self.stop:
            try:
                d, a = self.s.recvfrom(65536)
            except socket.timeout:
                continue
            except OSError:
                return
            self.s.sendto(d, a)

    def close(self):
        self.stop = True
        self.s.close()


def udp_echoes(port, datagrams, timeout=5.0, tries=3):
    """Sends each datagram to 127.0.0.1:port from one socket, one at a time
    (resent up to 3 times: the first may race the flow's opening), and
    returns the answers in order (None for a datagram never answered)."""
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.settimeout(timeout / tries)
    got = []
    for d in datagrams:
        ans = None
        for _ in range(tries):
            s.sendto(d, ('127.0.0.1', port))
            try:
                ans, _ = s.recvfrom(65536)
                break
            except socket.timeout:
                continue
        got.append(ans)
    s.close()
    return got


def udp_body(suite, key, env):
    echo = UDPEcho()
    sp = w.free_port()
    srv = w.Proc([w.WSFERRY, 'server', 'ws://127.0.0.1:%d' % sp, '--encrypt'], 'server-udp',
                 env=env)
    w.wait_port(sp, proc=srv)
    sizes = [1, 100, 1400, 9000, 60000]

    def local_udp():
        m = Mitm(sp)
        lp = w.free_port()
        c = w.Proc([w.WSFERRY, 'client', 'ws://127.0.0.1:%d' % m.port, '--encrypt',
                    '-L', 'udp://%d:127.0.0.1:%d' % (lp, echo.port)], 'client-udp', env=env)
        time.sleep(0.5)
        data = [MARKER + random.randbytes(n) for n in sizes for _ in range(4)]
        got = udp_echoes(lp, data)
        bad = [i for i, (a, b) in enumerate(zip(data, got)) if a != b]
        check(not bad, '%d of %d datagrams not echoed exactly (first: #%d)'
              % (len(bad), len(data), bad[0] if bad else -1))
        for d in ('c2s', 's2c'):
            check(MARKER not in m.seen[d], 'the marker is readable on the wire (%s)' % d)
        c.stop()
        m.close()
    suite.run('--encrypt over UDP (-L udp://): datagrams exact, nothing readable on the wire',
              local_udp, timeout=60)

    def remote_udp():
        m = Mitm(sp)
        rp = w.free_port()
        c = w.Proc([w.WSFERRY, 'client', 'ws://127.0.0.1:%d' % m.port, '--encrypt',
                    '-R', 'udp://%d:127.0.0.1:%d' % (rp, echo.port)], 'client-rudp', env=env)
        check(wait_log(srv, 'listening on udp://'), 'no -R udp listener:\n' + srv.tail())
        data = [MARKER + random.randbytes(n) for n in sizes]
        got = udp_echoes(rp, data)
        check(got == data, '%d of %d datagrams echoed exactly through -R udp://'
              % (sum(a == b for a, b in zip(data, got)), len(data)))
        for d in ('c2s', 's2c'):
            check(MARKER not in m.seen[d], 'the marker is readable on the wire (%s)' % d)
        c.stop()
        m.close()
    suite.run('--encrypt over UDP (-R udp://): sealed both ways', remote_udp, timeout=60)

    def tamper_udp():
        m = Mitm(sp, flip_s2c=18 + 10)  # past the nonce frame, inside the first record
        lp = w.free_port()
        c = w.Proc([w.WSFERRY, 'client', 'ws://127.0.0.1:%d' % m.port, '--encrypt',
                    '-L', 'udp://%d:127.0.0.1:%d' % (lp, echo.port)], 'client-udp-t', env=env)
        time.sleep(0.5)
        got = udp_echoes(lp, [MARKER * 10], timeout=3, tries=1)
        check(got[0] is None or MARKER not in got[0], 'a tampered datagram was delivered')
        check(wait_log(c, '--encrypt: a datagram failed authentication'),
              'the client log does not name the failed datagram:\n' + c.tail())
        c.stop()
        m.close()
    suite.run('a byte flipped in a UDP record: the client logs it and ends the flow',
              tamper_udp, timeout=30)
    echo.close()


def publish_body(suite, env):
    import hashlib
    import json
    echo = w.TCPServer(w.echo_handler)
    origin = w.HTTPOrigin()
    sp = w.free_port()
    srv = w.Proc([w.WSFERRY, 'server', 'ws://127.0.0.1:%d' % sp, '--encrypt'], 'server-pub',
                 env=env)
    w.wait_port(sp, proc=srv)

    def channel():
        m = Mitm(sp)
        a = w.Proc([w.WSFERRY, 'client', 'ws://127.0.0.1:%d' % m.port, '--encrypt',
                    '-R', 'tcp://sealed:pw@127.0.0.1:%d' % echo.port], 'client-chan-r', env=env)
        check(wait_log(srv, 'channel sealed registered'), 'no registration:\n' + srv.tail())
        lp = w.free_port()
        w.start_client('ws://127.0.0.1:%d' % sp, ['--encrypt', '-L', 'tcp://sealed:pw@%d' % lp],
                       wait_ports=(lp,), name='client-chan-l', env=env)
        data = MARKER + random.randbytes(1 << 20) + MARKER
        got, ended = exchange(lp, data, 'channel')
        check(got == data and ended == 'fin', '%d of %d bytes back through the channel, %s'
              % (len(got), len(data), ended))
        for d in ('c2s', 's2c'):
            check(MARKER not in m.seen[d], 'the marker is readable on the wire (%s)' % d)
        a.stop()
        m.close()
    suite.run('--encrypt channel: exact both ways, the registering leg sealed', channel,
              timeout=60)

    def route():
        m = Mitm(sp)
        a = w.Proc([w.WSFERRY, 'client', 'ws://127.0.0.1:%d' % m.port, '--encrypt',
                    '-R', 'http://127.0.0.1:%d?mode=path&value=/sealed' % origin.port],
                   'client-route', env=env)
        check(wait_log(srv, 'published'), 'no route published:\n' + srv.tail())
        body = MARKER * 50
        r = json.loads(w.curl_ok(['-H', 'Content-Type: application/octet-stream',
                                  '--data-binary', body.decode(),
                                  'http://127.0.0.1:%d/sealed/p' % sp]))
        check(r['len'] == len(body) and r['sha256'] == hashlib.sha256(body).hexdigest(),
              'the origin got %r' % r)
        check(MARKER not in m.seen['s2c'], 'the request body is readable on the route leg')
        a.stop()
        m.close()
    suite.run('--encrypt route: a POST through a path route, the route leg sealed', route,
              timeout=60)

    def plain_registrar_refused():
        a = w.Proc([w.WSFERRY, 'client', 'ws://127.0.0.1:%d' % sp,
                    '-R', 'tcp://plain:pw@127.0.0.1:%d' % echo.port], 'client-chan-plain',
                   env=env)
        check(wait_log(a, '--encrypt'), 'the registering client was not told:\n' + a.tail())
        check('channel plain registered' not in srv.stderr_text(), 'registered anyway')
        a.stop()
    suite.run('an --encrypt server refuses a registration without --encrypt at once',
              plain_registrar_refused, timeout=30)
    origin.close()


if __name__ == '__main__':
    w.main_guard(w.Suite('encrypt_test'), body)
