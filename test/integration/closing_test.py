#!/usr/bin/python3
"""Closing (issue 18): however a tunnel ends, it ends on both sides at once,
over ws://, wss:// and tls://, and both logs say how it ended.

For each scheme a server (--key-file; wss:// and tls:// with the self-signed
certificate it makes, the client using --pin or --insecure) and a client -D,
both at --log-level debug, then:
  1  250 SOCKS5 tunnels in a row to a TCP echo: send 2 bytes, read the echo,
     close. Every tunnel is logged "tunnel closed: 2 up / 2 down bytes" on
     both sides, none "aborted";
  2  100 tunnels closed right after sending (the echo still in flight): one
     end line per tunnel on each side, the 2 bytes reached the target;
  3  100 tunnels reset by the local application (SO_LINGER 0) after the
     echo: "tunnel aborted" on both sides, and the target sees a reset too;
  4  100 tunnels whose target speaks and closes first: "tunnel closed",
     0 up / 3 down on the client, 3 up / 0 down on the server;
  5  50 tunnels whose target resets: the local application sees a reset,
     both sides log "tunnel aborted";
  6  1000 mixed short connections from 8 threads (the above, plus clients
     that leave before the SOCKS5 reply), within a time bound: one end
     line per opened tunnel on each side;
  7  local clients that leave before the reply (FIN and RST), the tunnel
     still opening: nothing remains;
  8  tunnels whose target is still being dialled (a listener that never
     completes the handshake) when the local client resets: the server
     cancels the dial at once instead of after its 10 s connect timeout (a
     FIN is a half-close that may still want the answer, see lifecycle_test
     "no data at all before the FIN": that tunnel waits for the dial).
After every case, both processes' descriptors in /proc/PID/fd must be back at
their starting count within 2 s (the splice pipe pool, idle pipes kept for
reuse, is counted apart and only bounded).
Then, against a fake WebSocket server (plain, and TLS with python's ssl):
  9  a local FIN sends Close 1000, a local reset Close 1001; the client sends
     close_notify after the Close handshake (wss), then its FIN;
  10 a server that never answers our Close, or never sends its FIN after
     the Close handshake, is cut after 5 s (and logged so).

Interface (test/run.sh): binary from env WSFERRY (default ./build/wsferry);
everything is started here on free 127.0.0.1 ports and ended by PID; one line
per failed case; last line exactly `N passed, N failed`; exit 1 on failure.
`-v` also prints passing cases; other arguments filter case names.
"""

import base64
import hashlib
import os
import queue
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
from wsfutil import check, CaseFail, CaseSkip  # noqa: E402

SETTLE = 2.0              # descriptors back at their start within this
CLOSE_DEADLINE = 5.0      # the relay's RELAY_CLOSE_MS
POOL_FDS = 2 * 32         # core/splice.h SPLICE_POOL_MAX pipes, two fds each
FP_RE = re.compile(r'SHA-256 fingerprint \(for --pin\): ([0-9a-f]{64})')
CLOSED_RE = re.compile(r'c(\d+) tunnel closed: (\d+) up / (\d+) down bytes')
ABORTED_RE = re.compile(r'c(\d+) tunnel aborted after (\d+) up / (\d+) down bytes: (.*)')
LINGER = struct.pack('ii', 1, 0)


# ---------------------------------------------------------------- helpers

def fds(pid):
    """(descriptors other than pipes, pipes) of pid."""
    other = pipes = 0
    d = '/proc/%d/fd' % pid
    try:
        names = os.listdir(d)
    except OSError:
        raise CaseFail('cannot read %s (process gone?)' % d)
    for n in names:
        try:
            link = os.readlink(os.path.join(d, n))
        except OSError:
            continue  # closed meanwhile
        if link.startswith('pipe:'):
            pipes += 1
        else:
            other += 1
    return other, pipes


class Ends:
    """The end lines a process logged since mark()."""

    def __init__(self, proc):
        self.proc = proc
        self.off = 0

    def mark(self):
        self.off = len(self.proc.stderr_text())

    def since(self):
        text = self.proc.stderr_text()[self.off:]
        closed = [(int(a), int(b), int(c)) for a, b, c in CLOSED_RE.findall(text)]
        aborted = [(int(a), int(b), int(c), why) for a, b, c, why in ABORTED_RE.findall(text)]
        return closed, aborted, text


class Rig:
    """One server and one client -D for a scheme."""

    def __init__(self, scheme, keyfile):
        self.scheme = scheme
        sp, self.dp = w.free_ports(2)
        args = [w.WSFERRY, 'server', '%s://127.0.0.1:%d' % (scheme, sp), '--key-file', keyfile,
                '--log-level', 'debug']
        self.srv = w.Proc(args, 'server-' + scheme)
        w.wait_port(sp, proc=self.srv)
        extra = []
        if scheme == 'wss':
            m = None
            for _ in range(100):
                m = FP_RE.search(self.srv.stderr_text())
                if m:
                    break
                time.sleep(0.05)
            check(m, 'the wss server printed no fingerprint:\n' + self.srv.tail())
            extra = ['--pin', m.group(1)]
        elif scheme == 'tls':
            extra = ['--insecure']
        self.cli = w.Proc([w.WSFERRY, 'client', '%s://127.0.0.1:%d' % (scheme, sp),
                           '--key-file', keyfile, '-D', str(self.dp), '--log-level', 'debug']
                          + extra, 'client-' + scheme)
        w.wait_port(self.dp, proc=self.cli)
        self.ends = (Ends(self.cli), Ends(self.srv))
        self.base = None

    def mark(self):
        """Starts a case: descriptor counts and log positions."""
        if self.base is None:
            self.base = (fds(self.cli.pid)[0], fds(self.srv.pid)[0])
        for e in self.ends:
            e.mark()

    def settled(self, what, limit=SETTLE):
        """Both processes back at their starting descriptors within limit."""
        t0 = time.monotonic()
        now = None
        for _ in range(int(limit / 0.05) + 2):
            c, s = fds(self.cli.pid), fds(self.srv.pid)
            now = (c, s)
            if (c[0], s[0]) == self.base and c[1] <= POOL_FDS and s[1] <= POOL_FDS:
                return time.monotonic() - t0
            if time.monotonic() - t0 > limit:
                break
            time.sleep(0.05)
        c, s = now
        raise CaseFail('%s: descriptors not back within %.0f s: client %d -> %d (+%d pipes), '
                       'server %d -> %d (+%d pipes)\n%s\n%s'
                       % (what, limit, self.base[0], c[0], c[1], self.base[1], s[0], s[1],
                          self.cli.tail(4), self.srv.tail(4)))

    def lines(self, n, what, wait=2.0):
        """The end lines of both sides once n tunnels ended on each."""
        for _ in range(int(wait / 0.05) + 2):
            res = [e.since() for e in self.ends]
            if all(len(r[0]) + len(r[1]) >= n for r in res):
                break
            time.sleep(0.05)
        for side, (closed, aborted, text) in zip(('client', 'server'), res):
            check(len(closed) + len(aborted) == n,
                  '%s: the %s logged %d closed + %d aborted tunnels, expected %d'
                  % (what, side, len(closed), len(aborted), n))
        return res

    def socks(self, port, timeout=w.T):
        return w.socks_connect(self.dp, '127.0.0.1', port, timeout=timeout)


def words(res, side, want, what):
    """Every end of side ('client' 0 / 'server' 1) logged as want."""
    closed, aborted, _ = res[side]
    name = ('client', 'server')[side]
    if want == 'closed':
        check(not aborted, '%s: the %s logged %d of %d tunnels as aborted, e.g. %r'
              % (what, name, len(aborted), len(closed) + len(aborted), aborted[:2]))
    else:
        check(not closed, '%s: the %s logged %d of %d tunnels as closed (clean), expected '
              'aborted' % (what, name, len(closed), len(closed) + len(aborted)))


def counts(res, side, up, down, what):
    closed, aborted, _ = res[side]
    name = ('client', 'server')[side]
    bad = [e for e in closed + aborted if (e[1], e[2]) != (up, down)]
    check(not bad, '%s: the %s counted %s, expected %d up / %d down for every tunnel'
          % (what, name, ['%d up / %d down' % (e[1], e[2]) for e in bad[:3]], up, down))


# ---------------------------------------------------------------- targets

def echo_handler(c, srv):
    """Echoes until EOF; reports how the peer ended ('eof' or 'reset')."""
    how = 'eof'
    try:
        for _ in range(100000):
            d = c.recv(65536)
            if not d:
                break
            c.sendall(d)
    except ConnectionResetError:
        how = 'reset'
    except OSError as e:
        how = 'error %s' % e
    srv.results.put(('end', how))


def first_handler(c, srv):
    """Speaks first and closes its side; reads until the peer's end."""
    how = 'eof'
    try:
        c.sendall(b'bye')
        c.shutdown(socket.SHUT_WR)
        for _ in range(1000):
            if not c.recv(65536):
                break
    except ConnectionResetError:
        how = 'reset'
    except OSError as e:
        how = 'error %s' % e
    srv.results.put(('end', how))


def reset_handler(c, srv):
    """Reads 2 bytes, then resets."""
    try:
        w.recv_exact(c, 2, 'two bytes')
    except (CaseFail, OSError):
        pass
    c.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, LINGER)
    c.close()
    srv.results.put(('end', 'sent reset'))


def drain_results(srv, n, what, timeout=5.0):
    got = []
    t_end = time.monotonic() + timeout
    for _ in range(n):
        try:
            got.append(srv.results.get(timeout=max(0.01, t_end - time.monotonic()))[1])
        except queue.Empty:
            break
    check(len(got) == n, '%s: %d of %d target connections ended' % (what, len(got), n))
    return got


# ---------------------------------------------------------------- one connection each

def conn_echo(rig, port):
    s = rig.socks(port)
    try:
        s.sendall(b'hi')
        check(w.recv_exact(s, 2, 'echo') == b'hi', 'wrong echo')
    finally:
        s.close()


def conn_send_close(rig, port):
    s = rig.socks(port)
    s.sendall(b'hi')
    s.close()


def conn_reset(rig, port):
    s = rig.socks(port)
    s.sendall(b'hi')
    check(w.recv_exact(s, 2, 'echo') == b'hi', 'wrong echo')
    s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, LINGER)
    s.close()


def conn_first(rig, port):
    s = rig.socks(port)
    try:
        got = w.recv_until_eof(s, 100, 'the target\'s FIN')
        check(got == b'bye', 'got %r before EOF, expected b\'bye\'' % got)
    finally:
        s.close()


def conn_target_reset(rig, port):
    s = rig.socks(port)
    try:
        s.sendall(b'hi')
        try:
            tail = s.recv(100)
            outcome = 'EOF' if tail == b'' else 'bytes %r' % tail
        except ConnectionResetError:
            outcome = 'reset'
        check(outcome == 'reset', 'the target reset, the local application saw %s' % outcome)
    finally:
        s.close()


def conn_leave(rig, port, rst=False):
    """Greeting and request in one write, then gone before any answer."""
    s = w.connect(rig.dp)
    s.sendall(b'\x05\x01\x00' + w.socks_request('127.0.0.1', port))
    if rst:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, LINGER)
    s.close()


# ---------------------------------------------------------------- cases

def cases(suite, scheme, keyfile):
    R = lambda name, fn, timeout=60: suite.run('%s %s' % (scheme, name), fn, timeout=timeout)
    rig_box = []

    def setup():
        rig_box.append(Rig(scheme, keyfile))
    if not suite.run('%s setup' % scheme, setup, always=True):
        return
    rig = rig_box[0]
    echo = w.TCPServer(echo_handler)
    first = w.TCPServer(first_handler)
    rst = w.TCPServer(reset_handler)
    try:
        # warm up: buffers and the pipe pool reach their idle state
        for _ in range(3):
            conn_echo(rig, echo.port)
        time.sleep(0.3)
        drain_results(echo, 3, 'warm-up')
        run_cases(R, rig, echo, first, rst)
    finally:
        echo.close()
        first.close()
        rst.close()
        rig.cli.stop()
        rig.srv.stop()


def run_cases(R, rig, echo, first, rst):
    def echo_close():
        rig.mark()
        for _ in range(250):
            conn_echo(rig, echo.port)
        rig.settled('250 echo tunnels')
        res = rig.lines(250, '250 echo tunnels')
        words(res, 0, 'closed', 'echo then close')
        words(res, 1, 'closed', 'echo then close')
        counts(res, 0, 2, 2, 'echo then close')
        counts(res, 1, 2, 2, 'echo then close')
        ends = drain_results(echo, 250, 'echo then close')
        check(all(e == 'eof' for e in ends), 'the target saw %r, expected EOF every time'
              % sorted(set(ends)))
    R('1 250 tunnels: 2 bytes, echo, close -> "closed" both sides, nothing left', echo_close)

    def send_close():
        rig.mark()
        for _ in range(100):
            conn_send_close(rig, echo.port)
        rig.settled('100 close-after-send tunnels')
        res = rig.lines(100, 'close right after sending')
        closed, aborted, _ = res[1]
        bad = [e for e in closed + aborted if e[2] != 2]
        check(not bad, 'the server delivered %s to the target, expected 2 bytes each'
              % [e[2] for e in bad[:4]])
        drain_results(echo, 100, 'close right after sending')
    R('2 100 tunnels closed right after sending: one end each, nothing left', send_close)

    def local_reset():
        rig.mark()
        for _ in range(100):
            conn_reset(rig, echo.port)
        rig.settled('100 reset tunnels')
        res = rig.lines(100, 'local reset')
        words(res, 0, 'aborted', 'local reset')
        words(res, 1, 'aborted', 'local reset')
        counts(res, 0, 2, 2, 'local reset')
        ends = drain_results(echo, 100, 'local reset')
        check(all(e == 'reset' for e in ends), 'the target saw %r after the local reset, '
              'expected a reset every time' % sorted(set(ends)))
    R('3 100 tunnels reset by the local application -> "aborted" both sides, target reset',
      local_reset)

    def target_first():
        rig.mark()
        for _ in range(100):
            conn_first(rig, first.port)
        rig.settled('100 target-first tunnels')
        res = rig.lines(100, 'target closes first')
        words(res, 0, 'closed', 'target closes first')
        words(res, 1, 'closed', 'target closes first')
        counts(res, 0, 0, 3, 'target closes first')
        counts(res, 1, 3, 0, 'target closes first')
        ends = drain_results(first, 100, 'target closes first')
        check(all(e == 'eof' for e in ends), 'the target saw %r, expected EOF' % sorted(set(ends)))
    R('4 100 tunnels whose target closes first -> "closed", 0 up / 3 down', target_first)

    def target_reset():
        rig.mark()
        for _ in range(50):
            conn_target_reset(rig, rst.port)
        rig.settled('50 target-reset tunnels')
        res = rig.lines(50, 'target resets')
        words(res, 0, 'aborted', 'target resets')
        words(res, 1, 'aborted', 'target resets')
        drain_results(rst, 50, 'target resets')
    R('5 50 tunnels whose target resets -> local reset, "aborted" both sides', target_reset)

    def mixed():
        rig.mark()
        kinds = [(conn_echo, echo), (conn_send_close, echo), (conn_reset, echo),
                 (conn_first, first), (conn_target_reset, rst), (conn_leave, echo)]
        errors = []
        lock = threading.Lock()
        per = 1000 // 8

        def worker(k):
            for i in range(per):
                fn, target = kinds[(k + i) % len(kinds)]
                try:
                    fn(rig, target.port)
                except (CaseFail, OSError) as e:
                    with lock:
                        errors.append('%s: %s' % (fn.__name__, e))
        t0 = time.monotonic()
        threads = [threading.Thread(target=worker, args=(k,), daemon=True) for k in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
        took = time.monotonic() - t0
        check(not any(t.is_alive() for t in threads) and took < 60,
              '1000 connections took over 60 s')
        check(not errors, '%d of 1000 connections failed: %s' % (len(errors), errors[:3]))
        rig.settled('1000 mixed connections')
        # Clients that left before the reply may end before a tunnel was
        # logged on the server; every tunnel that began is logged once.
        cres = rig.ends[0].since()
        ends = len(cres[0]) + len(cres[1])
        check(ends >= 1000 * 5 // 6, 'the client logged only %d tunnel ends for 1000 '
              'connections' % ends)
        ids = [e[0] for e in cres[0] + cres[1]]
        check(len(ids) == len(set(ids)), 'a tunnel was logged as ended twice')
        for s in (echo, first, rst):
            for _ in range(2000):
                try:
                    s.results.get_nowait()
                except queue.Empty:
                    break
    R('6 1000 mixed short connections from 8 threads: nothing left, one end each', mixed,
      timeout=90)

    def leave():
        rig.mark()
        for i in range(50):
            conn_leave(rig, echo.port, rst=bool(i % 2))
        rig.settled('50 clients gone before the SOCKS5 reply')
        for _ in range(200):
            try:
                echo.results.get(timeout=0.01)
            except queue.Empty:
                break
    R('7 50 local clients leave before the reply (FIN, RST): nothing left', leave)

    def dialling():
        port, keep = w.stalled_listener()
        try:
            rig.mark()
            socks = []
            for i in range(10):
                s = w.connect(rig.dp)
                s.sendall(b'\x05\x01\x00' + w.socks_request('127.0.0.1', port))
                check(w.recv_exact(s, 2, 'method selection') == b'\x05\x00', 'method selection')
                socks.append(s)
            time.sleep(0.5)  # the server is dialling now (for up to 10 s)
            for s in socks:
                s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, LINGER)
                s.close()
            rig.settled('10 tunnels whose target was still being dialled')
            text = rig.ends[1].since()[2]
            left = len(re.findall(r'the client left while \S+ was dialled', text))
            check(left == 10, 'the server logged %d of 10 dials cancelled because the client '
                  'left:\n%s' % (left, rig.srv.tail(4)))
        finally:
            for k in keep:
                k.close()
    R('8 local clients reset while the server dials: the dial is cancelled at once', dialling)


# ---------------------------------------------------------------- a fake server

class FakeServer:
    """Answers one wsferry client's upgrade with 101 (no --key: no proof
    needed), then records the frames it gets. answer_close: reply to a Close
    with a Close; fin: then close our side. With tls, python's ssl wraps it
    and unwrap() tells whether the client sent close_notify."""

    def __init__(self, answer_close=True, fin=True, tls=None):
        self.answer_close, self.fin, self.tls = answer_close, fin, tls
        self.ls = socket.socket()
        self.ls.bind(('127.0.0.1', 0))
        self.ls.listen(4)
        self.ls.settimeout(15)
        self.port = self.ls.getsockname()[1]
        self.events = queue.Queue()
        self.keep = []
        threading.Thread(target=self._run, daemon=True).start()

    def _recv(self, c, n):
        buf = b''
        for _ in range(n + 1):
            if len(buf) >= n:
                return buf
            d = c.recv(n - len(buf))
            if not d:
                raise EOFError
            buf += d
        return buf

    def _frame(self, c):
        b0, b1 = self._recv(c, 2)
        n = b1 & 0x7f
        if n == 126:
            n = struct.unpack('>H', self._recv(c, 2))[0]
        elif n == 127:
            n = struct.unpack('>Q', self._recv(c, 8))[0]
        key = self._recv(c, 4) if b1 & 0x80 else b'\0\0\0\0'
        p = bytes(x ^ key[i % 4] for i, x in enumerate(self._recv(c, n)))
        return b0 & 0x0f, p

    def _run(self):
        try:
            c, _ = self.ls.accept()
        except OSError as e:
            self.events.put(('error', 'accept: %s' % e))
            return
        self.keep.append(c)
        c.settimeout(20)
        try:
            if self.tls:
                c = self.tls.wrap_socket(c, server_side=True)
                self.keep.append(c)
            head = b''
            for _ in range(100):
                if b'\r\n\r\n' in head:
                    break
                head += c.recv(4096)
            key = re.search(rb'Sec-WebSocket-Key: *(\S+)', head, re.I).group(1)
            acc = base64.b64encode(hashlib.sha1(key + b'258EAFA5-E914-47DA-95CA-C5AB0DC85B11')
                                   .digest())
            c.sendall(b'HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n'
                      b'Connection: Upgrade\r\nSec-WebSocket-Accept: ' + acc + b'\r\n\r\n')
            self.events.put(('open', time.monotonic()))
            for _ in range(1000):
                op, p = self._frame(c)
                if op == 8:
                    code = struct.unpack('>H', p[:2])[0] if len(p) >= 2 else None
                    self.events.put(('close', code, time.monotonic()))
                    break
                self.events.put(('frame', op, p))
            if self.answer_close:
                c.sendall(b'\x88\x02' + p[:2])
            if self.tls and self.fin:
                try:
                    c.unwrap()  # our close_notify; returns once theirs came
                    self.events.put(('close_notify', time.monotonic()))
                except (OSError, ValueError) as e:
                    self.events.put(('no close_notify', str(e)))
                    return
            if self.fin:
                c.shutdown(socket.SHUT_WR)
            for _ in range(1000):  # until the client's FIN (or a reset)
                if not c.recv(4096):
                    break
            self.events.put(('eof', time.monotonic()))
        except ConnectionResetError:
            self.events.put(('reset', time.monotonic()))
        except (EOFError, OSError, AttributeError) as e:
            self.events.put(('eof' if isinstance(e, EOFError) else 'error', time.monotonic()
                             if isinstance(e, EOFError) else str(e)))

    def next(self, timeout=w.T):
        try:
            return self.events.get(timeout=timeout)
        except queue.Empty:
            return None

    def close(self):
        for k in self.keep + [self.ls]:
            try:
                k.close()
            except OSError:
                pass


def fake_cases(suite, tmp):
    cert, key = os.path.join(tmp, 'fake.crt'), os.path.join(tmp, 'fake.key')
    r = subprocess.run([w.WSFERRY, 'cert', '--out-cert', cert, '--out-key', key],
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=20)
    ctx = None
    if r.returncode == 0:
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(cert, key)

    def client_for(fake, scheme='ws'):
        lp = w.free_port()
        args = ['-L', '%d:127.0.0.1:9' % lp, '--log-level', 'debug']
        if scheme == 'wss':
            args.append('--insecure')
        c = w.Proc([w.WSFERRY, 'client', '%s://127.0.0.1:%d' % (scheme, fake.port)] + args,
                   'client-fake-' + scheme)
        w.wait_port(lp, proc=c)
        return c, lp

    def expect(fake, kind, what, timeout=w.T):
        e = fake.next(timeout)
        check(e is not None and e[0] == kind, '%s: expected %s, the fake server saw %r'
              % (what, kind, e))
        return e

    def handshake(scheme, rst):
        if scheme == 'wss' and not ctx:
            raise CaseSkip('wsferry cert failed: %s' % r.stderr.decode(errors='replace'))
        fake = FakeServer(tls=ctx if scheme == 'wss' else None)
        c, lp = client_for(fake, scheme)
        try:
            base = fds(c.pid)[0]
            s = w.connect(lp)
            expect(fake, 'open', 'upgrade')
            s.sendall(b'data')
            e = expect(fake, 'frame', 'data frame')
            check(e[1:] == (2, b'data'), 'data frame %r' % (e,))
            if rst:
                s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, LINGER)
            s.close()
            e = expect(fake, 'close', 'Close frame')
            want = 1001 if rst else 1000
            check(e[1] == want, 'a local %s sent Close %r, expected %d'
                  % ('reset' if rst else 'FIN', e[1], want))
            if scheme == 'wss':
                expect(fake, 'close_notify', 'close_notify after the Close handshake')
            expect(fake, 'eof', "the client's FIN")
            t0 = time.monotonic()
            for _ in range(int(SETTLE / 0.05) + 2):
                if fds(c.pid)[0] == base or time.monotonic() - t0 > SETTLE:
                    break
                time.sleep(0.05)
            check(fds(c.pid)[0] == base, 'the client kept descriptors: %d -> %d'
                  % (base, fds(c.pid)[0]))
            text = c.stderr_text()
            check(('tunnel aborted' in text) == rst and ('tunnel closed' in text) != rst,
                  'the client logged the end as %s:\n%s'
                  % ('clean' if 'tunnel closed' in text else 'aborted', c.tail(3)))
        finally:
            c.stop()
            fake.close()
    for scheme in ('ws', 'wss'):
        for rst in (False, True):
            suite.run('%s 9 local %s: Close %d%s, then FIN' % (
                scheme, 'RST' if rst else 'FIN', 1001 if rst else 1000,
                ', close_notify' if scheme == 'wss' else ''), handshake, scheme, rst)

    def deadline(answer_close):
        """Local reset, Close 1001 out; the fake server then stays silent, or
        answers the Close but never sends its FIN: the client lets go of the
        connection after the close deadline, not before, not much after."""
        fake = FakeServer(answer_close=answer_close, fin=False)
        c, lp = client_for(fake)
        try:
            base = fds(c.pid)[0]
            s = w.connect(lp)
            expect(fake, 'open', 'upgrade')
            s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, LINGER)
            s.close()
            t0 = expect(fake, 'close', 'Close frame')[2]
            took = None
            for _ in range(int((CLOSE_DEADLINE + 3) / 0.05)):
                if fds(c.pid)[0] == base:
                    took = time.monotonic() - t0
                    break
                time.sleep(0.05)
            check(took is not None, 'the client still holds the connection %.0f s after its '
                  'Close' % (CLOSE_DEADLINE + 3))
            check(CLOSE_DEADLINE - 0.5 <= took <= CLOSE_DEADLINE + 1,
                  'the connection was let go %.1f s after our Close, expected about %.0f s'
                  % (took, CLOSE_DEADLINE))
            pat = 'did not finish closing' if answer_close else 'did not answer our Close'
            check(pat in c.stderr_text(), 'no "%s" in the client log:\n%s' % (pat, c.tail(3)))
        finally:
            c.stop()
            fake.close()

    suite.run('ws 10 a server that never answers our Close is cut after 5 s', deadline, False,
              timeout=30)
    suite.run('ws 10 a server that never sends its FIN after the Close handshake is cut '
              'after 5 s', deadline, True, timeout=30)


def main(suite):
    tmp = tempfile.mkdtemp(prefix='wsf-closing-')
    keyfile = os.path.join(tmp, 'key')
    k = subprocess.run([w.WSFERRY, 'keygen'], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       timeout=20)
    check(k.returncode == 0, 'wsferry keygen failed: %r' % k.stderr)
    with open(keyfile, 'wb') as f:
        f.write(k.stdout)
    os.chmod(keyfile, 0o600)
    try:
        for scheme in ('ws', 'wss', 'tls'):
            cases(suite, scheme, keyfile)
            suite.check_processes('%s: wsferry processes exit 0 on SIGTERM' % scheme)
        fake_cases(suite, tmp)
    finally:
        for n in os.listdir(tmp):
            os.unlink(os.path.join(tmp, n))
        os.rmdir(tmp)


if __name__ == '__main__':
    w.main_guard(w.Suite('closing_test', file_limit=240), main)
