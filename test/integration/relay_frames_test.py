#!/usr/bin/python3
"""The relay's frame handling where TLS records and WebSocket frames do not
line up (issue 17: over wss:// the relay parses, unmasks and frames in the
TLS engine's own buffers, so every record boundary is a place a frame can be
cut). Each case runs over ws:// and wss:// and must give the same bytes.

Client role: a fake server (python, ssl for wss) answers a wsferry client's
upgrade and then sends a script of writes, each its own TLS record: many small
frames in one record, headers cut after 1 byte, inside a 16-bit and inside a
64-bit length, a ping cut in two, a fragmented message with a ping between its
fragments and an unsolicited pong, zero-length frames, a 100 KB frame spread
over many records behind the tail of another; then Close. The local TCP side
must read exactly the payload, the fake must get both pongs in order and,
once the local side closes, Close 1000.
Server role: a raw client (ssl for wss) sends a wsferry server masked frames
cut the same ways (inside the mask key too) to an echo target and must get
the payload back, the pongs, and Close 1000 after its own Close.
Backpressure, both roles: 8 MiB the local side only starts reading after 1 s.

Interface: binary from env WSFERRY; servers and clients started here on free
ports and stopped by PID; one line per failed case, last line
`N passed, N failed`.
"""

import base64
import hashlib
import os
import queue
import random
import re
import socket
import ssl
import struct
import subprocess
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import wsfutil as w  # noqa: E402
from wsfutil import check  # noqa: E402

GUID = b'258EAFA5-E914-47DA-95CA-C5AB0DC85B11'


def frame(op, payload, fin=True, mask=None):
    """A frame with minimal length encoding; masked when mask (4 bytes)."""
    b0 = (0x80 if fin else 0) | op
    mb = 0x80 if mask else 0
    n = len(payload)
    if n < 126:
        h = bytes([b0, mb | n])
    elif n < 65536:
        h = bytes([b0, mb | 126]) + struct.pack('>H', n)
    else:
        h = bytes([b0, mb | 127]) + struct.pack('>Q', n)
    if not mask:
        return h + payload
    return h + mask + bytes(x ^ mask[i % 4] for i, x in enumerate(payload))


def recv_exact(c, n):
    buf = bytearray()
    while len(buf) < n:
        d = c.recv(n - len(buf))
        if not d:
            raise EOFError('EOF after %d of %d bytes' % (len(buf), n))
        buf += d
    return bytes(buf)


def read_frame(c):
    b0, b1 = recv_exact(c, 2)
    n = b1 & 0x7f
    if n == 126:
        n = struct.unpack('>H', recv_exact(c, 2))[0]
    elif n == 127:
        n = struct.unpack('>Q', recv_exact(c, 8))[0]
    key = recv_exact(c, 4) if b1 & 0x80 else None
    p = recv_exact(c, n)
    if key:
        p = bytes(x ^ key[i % 4] for i, x in enumerate(p))
    return b0 & 0x0f, bool(b0 & 0x80), p


def script(mask):
    """(writes, payload the other end must get, pong payloads expected)."""
    rnd = random.Random(17)
    m = (lambda: bytes(rnd.getrandbits(8) for _ in range(4))) if mask else (lambda: None)
    writes, want = [], bytearray()

    def data(p, fin=True, op=2):
        want.extend(p)
        return frame(op, p, fin, m())
    # many small frames (and empty ones) in one record
    writes.append(b''.join(data(bytes([i % 251]) * i) for i in range(0, 60)))
    # a header cut after its first byte
    f = data(b'A' * 300)
    writes += [f[:1], f[1:]]
    # a 16-bit length cut in its middle
    f = data(b'B' * 1000)
    writes += [f[:3], f[3:]]
    # a fragmented message: ping between fragments, an unsolicited pong
    writes.append(data(b'frag1-', fin=False))
    writes.append(frame(9, b'p1', mask=m()))
    writes.append(data(b'frag2-', fin=False, op=0) + frame(10, b'unsolicited', mask=m()))
    writes.append(data(b'frag3', op=0))
    # a ping cut in two (inside its mask key, client frames), data behind it
    f = frame(9, b'hello', mask=m())
    writes += [f[:4], f[4:] + data(b'after-ping')]
    # a 100 KB frame behind another frame's tail, over many records
    big = bytes(rnd.getrandbits(8) for _ in range(100000))
    f = data(b'tail') + data(big)
    writes += [f[i:i + 7000] for i in range(0, len(f), 7000)]
    # a 64-bit length cut inside it
    big2 = bytes(rnd.getrandbits(8) for _ in range(70000))
    f = data(big2)
    writes += [f[:5], f[5:9], f[9:]]
    writes.append(data(b'') + data(b'end'))
    return writes, bytes(want), [b'p1', b'hello']


class FakeServer:
    """Answers one wsferry client's upgrade, runs fn(conn) in a thread."""

    def __init__(self, tls, fn):
        self.tls, self.fn = tls, fn
        self.ls = socket.socket()
        self.ls.bind(('127.0.0.1', 0))
        self.ls.listen(4)
        self.ls.settimeout(15)
        self.port = self.ls.getsockname()[1]
        self.result = queue.Queue()
        self.keep = []
        threading.Thread(target=self._run, daemon=True).start()

    def _run(self):
        try:
            c, _ = self.ls.accept()
            self.keep.append(c)
            c.settimeout(20)
            if self.tls:
                c = self.tls.wrap_socket(c, server_side=True)
                self.keep.append(c)
            head = b''
            for _ in range(100):
                if b'\r\n\r\n' in head:
                    break
                head += c.recv(4096)
            key = re.search(rb'Sec-WebSocket-Key: *(\S+)', head, re.I).group(1)
            acc = base64.b64encode(hashlib.sha1(key + GUID).digest())
            c.sendall(b'HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n'
                      b'Connection: Upgrade\r\nSec-WebSocket-Accept: ' + acc + b'\r\n\r\n')
            self.result.put(('ok', self.fn(c)))
        except Exception as e:  # reported by the case
            self.result.put(('error', '%s: %s' % (type(e).__name__, e)))

    def get(self):
        try:
            kind, v = self.result.get(timeout=30)
        except queue.Empty:
            raise w.CaseFail('the fake server did not finish within 30 s')
        check(kind == 'ok', 'fake server: %s' % (v,))
        return v

    def close(self):
        for k in self.keep + [self.ls]:
            try:
                k.close()
            except OSError:
                pass


def read_all(s, n, delay=0.0):
    if delay:
        time.sleep(delay)
    return w.recv_exact(s, n, 'relayed payload')


class Rig:
    def __init__(self, tmp):
        self.cert, self.key = os.path.join(tmp, 'c.crt'), os.path.join(tmp, 'c.key')
        r = subprocess.run([w.WSFERRY, 'cert', '--out-cert', self.cert, '--out-key', self.key],
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=20)
        check(r.returncode == 0, 'wsferry cert failed: %r' % r.stderr)
        self.sctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        self.sctx.load_cert_chain(self.cert, self.key)
        self.cctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        self.cctx.check_hostname = False
        self.cctx.verify_mode = ssl.CERT_NONE

    def client(self, scheme, fake):
        lp = w.free_port()
        args = ['-L', '%d:127.0.0.1:9' % lp, '--log-level', 'warn']
        if scheme == 'wss':
            args.append('--insecure')
        c = w.Proc([w.WSFERRY, 'client', '%s://127.0.0.1:%d' % (scheme, fake.port)] + args,
                   'client-' + scheme)
        w.wait_port(lp, proc=c)
        return c, lp


def client_role(rig, scheme):
    writes, want, pongs = script(mask=False)

    def fake_fn(c):
        for wr in writes:
            c.sendall(wr)
        got = []  # RFC 6455 §5.5.3: a pong may answer only the latest ping
        for _ in range(len(pongs)):
            op, fin, p = read_frame(c)
            got.append((op, p))
            if p == pongs[-1]:
                break
        c.sendall(frame(8, struct.pack('>H', 1000)))
        op, fin, p = read_frame(c)
        return got, (op, p)
    fake = FakeServer(rig.sctx if scheme == 'wss' else None, fake_fn)
    c, lp = rig.client(scheme, fake)
    try:
        s = w.connect(lp)
        got = read_all(s, len(want))
        check(got == want, 'payload differs from byte %d' %
              next((i for i in range(len(want)) if got[i] != want[i]), len(want)))
        s.settimeout(10)
        rest = w.recv_until_eof(s, what="EOF after the server's Close")
        check(rest == b'', '%d bytes more than were sent' % len(rest))
        s.close()
        got_pongs, close = fake.get()
        check(got_pongs in ([(10, p) for p in pongs], [(10, pongs[-1])]), 'pongs %r' % got_pongs)
        check(close == (8, struct.pack('>H', 1000)), 'close frame %r' % (close,))
    finally:
        c.stop()
        fake.close()


def reset_mid_stream(rig, scheme):
    """The local side resets while payload waits (in the TLS engine, for
    wss): the client sends Close 1001, and what the server still sends
    (frames cut across records included) is dropped, not mixed up."""
    big = frame(2, b'x' * 60000)
    cut = frame(2, b'y' * 100)

    def fake_fn(c):
        for _ in range(40):
            c.sendall(big)
        for _ in range(1000):  # until the client's Close (data frames never come)
            op, fin, p = read_frame(c)
            if op == 8:
                break
        for _ in range(20):
            c.sendall(cut[:1])
            c.sendall(cut[1:] + cut[:3])
            c.sendall(cut[3:])
        c.sendall(frame(8, struct.pack('>H', 1000)))
        return p
    fake = FakeServer(rig.sctx if scheme == 'wss' else None, fake_fn)
    c, lp = rig.client(scheme, fake)
    try:
        s = w.connect(lp)
        w.recv_exact(s, 1000, 'the first bytes')
        s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack('ii', 1, 0))
        s.close()
        code = fake.get()
        check(code == struct.pack('>H', 1001), 'close frame payload %r' % code)
        time.sleep(0.5)
        check(c.alive(), 'the client died: %s' % c.tail(5))
    finally:
        c.stop()
        fake.close()


def echo_target():
    ls = socket.socket()
    ls.bind(('127.0.0.1', 0))
    ls.listen(4)
    ls.settimeout(20)

    def run():
        try:
            c, _ = ls.accept()
        except OSError:
            return
        c.settimeout(20)
        try:
            while True:
                d = c.recv(65536)
                if not d:
                    break
                c.sendall(d)
            c.shutdown(socket.SHUT_WR)
        except OSError:
            pass
        finally:
            c.close()
            ls.close()
    threading.Thread(target=run, daemon=True).start()
    return ls.getsockname()[1]


def open_tunnel(rig, scheme, sport, tport):
    s = w.connect(sport, timeout=20)
    if scheme == 'wss':
        s = rig.cctx.wrap_socket(s, server_hostname='localhost')
    target = ('127.0.0.1:%d' % tport).encode()
    blob = bytes([1, 0, 0]) + struct.pack('>Q', int(time.time())) + os.urandom(16) + \
        struct.pack('>H', len(target)) + target
    cookie = base64.urlsafe_b64encode(blob).rstrip(b'=')
    key = base64.b64encode(os.urandom(16))
    s.sendall(b'GET / HTTP/1.1\r\nHost: localhost\r\nUpgrade: websocket\r\n'
              b'Connection: Upgrade\r\nSec-WebSocket-Key: ' + key +
              b'\r\nSec-WebSocket-Version: 13\r\nCookie: sid=' + cookie + b'\r\n\r\n')
    head = b''
    for _ in range(4096):
        if head.endswith(b'\r\n\r\n'):
            break
        d = s.recv(1)
        check(d, 'the server closed before its answer: %r' % head)
        head += d
    check(head.startswith(b'HTTP/1.1 101'), 'the server answered %r' % head[:80])
    return s


def server_role(rig, scheme, sport):
    writes, want, pongs = script(mask=True)
    s = open_tunnel(rig, scheme, sport, echo_target())
    out = bytearray()
    got_pongs = []
    box = {}

    def reader():
        try:
            while True:
                op, fin, p = read_frame(s)
                if op in (0, 2):
                    out.extend(p)
                elif op == 10:
                    got_pongs.append(p)
                elif op == 8:
                    box['close'] = p
                    return
        except Exception as e:
            box['error'] = '%s: %s' % (type(e).__name__, e)
    t = threading.Thread(target=reader, daemon=True)
    t.start()
    for wr in writes:
        s.sendall(wr)
    for _ in range(200):
        if len(out) >= len(want):
            break
        time.sleep(0.05)
    s.sendall(frame(8, struct.pack('>H', 1000), mask=os.urandom(4)))
    t.join(20)
    check('error' not in box, 'reading: %s (after %d of %d bytes)'
          % (box.get('error'), len(out), len(want)))
    check(bytes(out) == want, 'echoed payload differs (%d of %d bytes)' % (len(out), len(want)))
    check(got_pongs in (pongs, pongs[-1:]), 'pongs %r' % got_pongs)
    check(box.get('close') == struct.pack('>H', 1000), 'close frame %r' % box.get('close'))
    s.close()


def backpressure_client(rig, scheme):
    """8 MiB in 50 KB frames to a local side that starts reading after 1 s."""
    rnd = random.Random(5)
    chunks = [bytes(rnd.getrandbits(8) for _ in range(1000)) * 50 for _ in range(8)]
    total = b''.join(chunks[i % 8] for i in range(168))

    def fake_fn(c):
        for i in range(168):
            c.sendall(frame(2, chunks[i % 8]))
        c.sendall(frame(8, struct.pack('>H', 1000)))
        return read_frame(c)
    fake = FakeServer(rig.sctx if scheme == 'wss' else None, fake_fn)
    c, lp = rig.client(scheme, fake)
    try:
        s = w.connect(lp, timeout=20)
        got = read_all(s, len(total), delay=1.0)
        check(w.sha(got) == w.sha(total), 'payload differs')
        check(w.recv_until_eof(s) == b'', 'bytes after the payload')
        s.close()
        op, fin, p = fake.get()
        check((op, p) == (8, struct.pack('>H', 1000)), 'close frame %r' % ((op, p),))
    finally:
        c.stop()
        fake.close()


def backpressure_server(rig, scheme, sport):
    """8 MiB up through the server to a target that reads after 1 s, echoed."""
    payload = os.urandom(1 << 20) * 8
    s = open_tunnel(rig, scheme, sport, echo_target())
    box = {'n': 0, 'h': hashlib.sha256()}

    def reader():
        try:
            time.sleep(1.0)
            while box['n'] < len(payload):
                op, fin, p = read_frame(s)
                check(op == 2, 'opcode %d' % op)
                box['h'].update(p)
                box['n'] += len(p)
        except Exception as e:
            box['error'] = '%s: %s' % (type(e).__name__, e)
    t = threading.Thread(target=reader, daemon=True)
    t.start()
    for i in range(0, len(payload), 60000):
        s.sendall(frame(2, payload[i:i + 60000], mask=os.urandom(4)))
    t.join(40)
    check('error' not in box, 'reading: %s' % box.get('error'))
    check(box['h'].digest() == hashlib.sha256(payload).digest(), 'echo differs')
    s.sendall(frame(8, struct.pack('>H', 1000), mask=os.urandom(4)))
    op, fin, p = read_frame(s)
    check((op, p) == (8, struct.pack('>H', 1000)), 'close frame %r' % ((op, p),))
    s.close()


def main(suite):
    tmp = tempfile.mkdtemp(prefix='wsf-frames-')
    try:
        rig = Rig(tmp)
        for scheme in ('ws', 'wss'):
            suite.run('%s client: frames cut across records, interleaved controls' % scheme,
                      client_role, rig, scheme)
            suite.run('%s client: 8 MiB to a late reader' % scheme, backpressure_client,
                      rig, scheme)
            suite.run('%s client: a local reset while payload waits, frames after it dropped'
                      % scheme, reset_mid_stream, rig, scheme)
            sport = w.free_port()
            extra = ['--cert', rig.cert, '--cert-key', rig.key] if scheme == 'wss' else []
            srv = w.Proc([w.WSFERRY, 'server', '%s://127.0.0.1:%d' % (scheme, sport),
                          '--log-level', 'warn'] + extra, 'server-' + scheme)
            w.wait_port(sport, proc=srv)
            suite.run('%s server: masked frames cut across records, interleaved controls'
                      % scheme, server_role, rig, scheme, sport)
            suite.run('%s server: 8 MiB echoed through a late reader' % scheme,
                      backpressure_server, rig, scheme, sport)
            suite.check_processes('%s: wsferry processes exit 0 on SIGTERM' % scheme)
    finally:
        for n in os.listdir(tmp):
            os.unlink(os.path.join(tmp, n))
        os.rmdir(tmp)


if __name__ == '__main__':
    w.main_guard(w.Suite('relay_frames_test', file_limit=120), main)
