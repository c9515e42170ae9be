#!/usr/bin/python3
"""RFC 6455 conformance suite for `wsferry server --echo`.

A raw-socket client (stdlib only) drives the echo endpoint through the cases of
the Autobahn|Testsuite sections 1-7 and 9, re-implemented here as independent
cases, plus masking, length-encoding, handshake, stealth-drop and robustness
cases.

Interface (used by test/run.sh):
  * binary from env WSFERRY (default ./build/wsferry);
  * the server is started here as `$WSFERRY server --echo /echo ws://127.0.0.1:PORT`
    on a free port, and stopped by PID at the end (SIGTERM, SIGKILL after 2 s);
  * one line per failed case, last line exactly `N passed, N failed`;
  * exit status 1 if anything failed.
Optional arguments: `-v` also prints passing cases; any other argument is a
substring filter on case ids (e.g. `6.4` or `H.`).

Case groups: 1.x framing, 2.x ping/pong, 3.x RSV bits, 4.x opcodes,
5.x fragmentation, 6.x UTF-8 (6.5-6.23 are Autobahn's vectors, 6.24/6.25
extras), 7.x close handling, 9.x sizes/performance/limits, M.x masking,
L.x length encoding, H.x opening handshake and stealth drop, R.x robustness.

Conventions used by the checks:
  * "Fail the WebSocket Connection" (RFC 6455 §7.1.7): the server may send a
    close frame and must then close TCP. `expect_fail(..., drop_ok=True)`
    accepts "close frame with an allowed code, then EOF" or a bare TCP close;
    strict cases (`drop_ok=False`) require the close frame with the code the
    product promises (1002 / 1007 / 1009).
  * Anything the server sends is validated as a server frame (unmasked, RSV 0,
    known opcode, minimal length encoding, control frames FIN and <= 125 bytes,
    text valid UTF-8, close payload well-formed).
  * Every wait is bounded; no case can hang longer than its timeout.
"""

import base64
import hashlib
import os
import random
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time

WSFERRY = os.environ.get('WSFERRY', './build/wsferry')
T = 5.0              # default timeout for one expected event
BIG_T = 30.0         # timeout for multi-megabyte transfers
MAX_MESSAGE = 16 << 20

OP_CONT, OP_TEXT, OP_BIN, OP_CLOSE, OP_PING, OP_PONG = 0x0, 0x1, 0x2, 0x8, 0x9, 0xA
OPNAME = {OP_CONT: 'cont', OP_TEXT: 'text', OP_BIN: 'binary', OP_CLOSE: 'close',
          OP_PING: 'ping', OP_PONG: 'pong'}
GUID = b'258EAFA5-E914-47DA-95CA-C5AB0DC85B11'

rng = random.Random(6455)


class CaseFail(Exception):
    pass


def check(cond, msg):
    if not cond:
        raise CaseFail(msg)


# ---------------------------------------------------------------- framing

def mask_bytes(data, key, offset=0):
    n = len(data)
    if n == 0:
        return b''
    k = key[offset:] + key[:offset]
    k = (k * (n // 4 + 1))[:n]
    return (int.from_bytes(data, 'little') ^ int.from_bytes(k, 'little')).to_bytes(n, 'little')


def frame_header(op, n, fin=True, rsv=0, mask_key=None, len_form=None):
    """len_form: None (minimal), 16 or 64 to force a length encoding."""
    b0 = (0x80 if fin else 0) | ((rsv & 7) << 4) | (op & 0xF)
    mbit = 0x80 if mask_key is not None else 0
    if len_form is None:
        len_form = 7 if n < 126 else (16 if n < 65536 else 64)
    if len_form == 7:
        hdr = struct.pack('!BB', b0, mbit | n)
    elif len_form == 16:
        hdr = struct.pack('!BBH', b0, mbit | 126, n)
    else:
        hdr = struct.pack('!BBQ', b0, mbit | 127, n)
    return hdr + (mask_key or b'')


def frame(op, payload=b'', fin=True, rsv=0, mask=True, key=None, len_form=None):
    if isinstance(payload, str):
        payload = payload.encode('utf-8')
    if not mask:
        return frame_header(op, len(payload), fin, rsv, None, len_form) + payload
    if key is None:
        key = os.urandom(4)
    return frame_header(op, len(payload), fin, rsv, key, len_form) + mask_bytes(payload, key)


def close_payload(code=None, reason=b''):
    if code is None:
        return b''
    if isinstance(reason, str):
        reason = reason.encode('utf-8')
    return struct.pack('!H', code) + reason


def fragmented(op, payload, frag_size, key=None):
    """One message as frames of frag_size bytes (frag_size % 4 == 0 lets one
    masking pass serve every frame)."""
    if key is None:
        key = os.urandom(4)
    if frag_size % 4:
        out = []
        for i in range(0, max(len(payload), 1), frag_size):
            part = payload[i:i + frag_size]
            out.append(frame(op if i == 0 else OP_CONT, part, fin=i + frag_size >= len(payload)))
        return b''.join(out)
    masked = mask_bytes(payload, key)
    out = []
    n = len(payload)
    for i in range(0, max(n, 1), frag_size):
        part = masked[i:i + frag_size]
        out.append(frame_header(op if i == 0 else OP_CONT, len(part), i + frag_size >= n, 0, key))
        out.append(part)
    return b''.join(out)


def utf8_ok(b):
    try:
        b.decode('utf-8')
        return True
    except UnicodeDecodeError:
        return False


def text_payload(n):
    """Exactly n bytes of valid UTF-8 with multi-byte characters mixed in."""
    pat = 'Hello-\u00b5@\u00df\u00f6\u00e4\u00fc\u00e0\u00e1-UTF-8!! \u03ba\u1f79\u03c3\u03bc\u03b5 BAsd7&jh23 '.encode()
    b = (pat * (n // len(pat) + 1))[:n]
    b = b.decode('utf-8', 'ignore').encode('utf-8')   # drops a split code point at the end
    return b + b'x' * (n - len(b))


def bin_payload(n):
    return os.urandom(n)


def short(b, n=40):
    if b is None:
        return 'None'
    if len(b) <= n:
        return repr(bytes(b))
    return '%r...(%d bytes)' % (bytes(b[:n]), len(b))


def diff_desc(got, want):
    if len(got) != len(want):
        return 'length %d, expected %d' % (len(got), len(want))
    for i in range(len(got)):
        if got[i] != want[i]:
            return 'payload differs at offset %d (0x%02x != 0x%02x)' % (i, got[i], want[i])
    return 'equal'


# ---------------------------------------------------------------- connection

class Conn:
    """One raw TCP connection; optional opening handshake to `path`."""

    def __init__(self, port, path='/echo', handshake=True, timeout=T, headers=None):
        self.port = port
        self.sock = socket.create_connection(('127.0.0.1', port), timeout=timeout)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.rbuf = bytearray()
        self.rpos = 0
        self.eof = None          # None, 'eof' or 'reset'
        self.frag_op = None
        self.frag_parts = []
        self.got_close = False
        self.sender = None
        self.ssock = None
        self.send_error = None
        self.resp_head = None
        if handshake:
            self.handshake(path, headers)

    # -- lifecycle
    def __enter__(self):
        return self

    def __exit__(self, *a):
        self.close()

    def close(self):
        if self.sender is not None and self.sender.is_alive():
            try:
                self.ssock.shutdown(socket.SHUT_RDWR)   # wakes a blocked sendall
            except OSError:
                pass
            self.sender.join(2)
        for s in (self.ssock, self.sock):
            if s is not None:
                try:
                    s.close()
                except OSError:
                    pass

    # -- handshake
    def handshake(self, path='/echo', headers=None, key=None):
        key = key or base64.b64encode(os.urandom(16)).decode()
        if headers is None:
            headers = [('Host', '127.0.0.1:%d' % self.port), ('Upgrade', 'websocket'),
                       ('Connection', 'Upgrade'), ('Sec-WebSocket-Key', key),
                       ('Sec-WebSocket-Version', '13')]
        req = 'GET %s HTTP/1.1\r\n' % path + ''.join('%s: %s\r\n' % h for h in headers) + '\r\n'
        self.send(req.encode())
        status, hdrs, _ = self.read_http_response(T)
        check(status == 101, 'handshake: status %s, expected 101' % status)
        check_101(hdrs, key)
        return hdrs

    def read_http_response(self, timeout=T):
        """Returns (status, {lower-name: [values]}, head bytes); status None at
        EOF before a complete head."""
        deadline = time.monotonic() + timeout
        while True:
            data = self.rbuf[self.rpos:]
            end = data.find(b'\r\n\r\n')
            if end >= 0:
                head = bytes(data[:end + 4])
                self.rpos += end + 4
                break
            try:
                more = self._fill(len(data) + 1, deadline)
            except TimeoutError:
                raise CaseFail('timeout (%ss) waiting for the HTTP response (got %s)'
                               % (timeout, short(bytes(data))))
            if not more:
                return None, {}, bytes(data)
        self.resp_head = head
        lines = head[:-4].split(b'\r\n')
        parts = lines[0].split(b' ', 2)
        check(len(parts) >= 2 and parts[0].startswith(b'HTTP/1.'),
              'bad HTTP status line %r' % lines[0])
        try:
            status = int(parts[1])
        except ValueError:
            raise CaseFail('bad HTTP status line %r' % lines[0])
        hdrs = {}
        for ln in lines[1:]:
            name, sep, value = ln.partition(b':')
            check(sep == b':', 'malformed response header line %r' % ln)
            hdrs.setdefault(name.strip().lower().decode('latin-1'), []).append(
                value.strip().decode('latin-1'))
        return status, hdrs, head

    # -- raw I/O
    def send(self, data, chop=None, delay=0.0):
        """Returns False (and records the error) if the peer is gone."""
        try:
            if not chop:
                self.sock.sendall(data)
            else:
                for i in range(0, len(data), chop):
                    self.sock.sendall(data[i:i + chop])
                    if delay:
                        time.sleep(delay)
            return True
        except (BrokenPipeError, ConnectionResetError, ConnectionAbortedError) as e:
            self.send_error = e
            return False
        except socket.timeout:
            raise CaseFail('send timed out (server not reading?)')

    def send_bg(self, data, chop=None):
        """Send from a thread so that a big echo can flow back concurrently.
        The thread uses a dup of the socket: timeouts are per socket object."""
        self.ssock = self.sock.dup()
        self.ssock.settimeout(BIG_T)
        ss = self.ssock

        def run():
            try:
                if not chop:
                    ss.sendall(data)
                else:
                    mv = memoryview(data)
                    for i in range(0, len(data), chop):
                        ss.sendall(mv[i:i + chop])
            except Exception as e:  # noqa: BLE001 - recorded and reported by the case
                self.send_error = e
        self.sender = threading.Thread(target=run, daemon=True)
        self.sender.start()

    def wait_sent(self, timeout=BIG_T):
        if self.sender is not None:
            self.sender.join(timeout)
            check(not self.sender.is_alive(), 'sending did not finish in %ss' % timeout)
            self.sender = None

    def _fill(self, need, deadline):
        """Read until `need` unread bytes are buffered. False at EOF/reset."""
        while len(self.rbuf) - self.rpos < need:
            if self.eof:
                return False
            rem = deadline - time.monotonic()
            if rem <= 0:
                raise TimeoutError()
            try:
                self.sock.settimeout(rem)
                d = self.sock.recv(max(1 << 18, min(need - (len(self.rbuf) - self.rpos), 1 << 24)))
            except socket.timeout:
                raise TimeoutError()
            except (ConnectionResetError, ConnectionAbortedError):
                self.eof = 'reset'
                return False
            if not d:
                self.eof = 'eof'
                return False
            if self.rpos and self.rpos > (1 << 20) and self.rpos * 2 > len(self.rbuf):
                del self.rbuf[:self.rpos]
                self.rpos = 0
            self.rbuf += d
        return True

    def _take(self, n):
        b = bytes(self.rbuf[self.rpos:self.rpos + n])
        self.rpos += n
        return b

    def pending(self):
        return len(self.rbuf) - self.rpos

    # -- frames
    def recv_frame(self, timeout=T):
        """(fin, rsv, op, payload) or None at EOF/reset (see self.eof)."""
        deadline = time.monotonic() + timeout
        if not self._fill(2, deadline):
            check(self.pending() == 0, 'server closed TCP inside a frame header')
            return None
        b0, b1 = self.rbuf[self.rpos], self.rbuf[self.rpos + 1]
        fin, rsv, op = bool(b0 & 0x80), (b0 >> 4) & 7, b0 & 0xF
        masked, n, hl = bool(b1 & 0x80), b1 & 0x7F, 2
        if n == 126:
            check(self._fill(4, deadline), 'server closed TCP inside a frame header')
            n = struct.unpack_from('!H', self.rbuf, self.rpos + 2)[0]
            hl = 4
            check(n >= 126, 'server frame: non-minimal 16-bit length %d' % n)
        elif n == 127:
            check(self._fill(10, deadline), 'server closed TCP inside a frame header')
            n = struct.unpack_from('!Q', self.rbuf, self.rpos + 2)[0]
            hl = 10
            check(n < (1 << 63), 'server frame: 64-bit length with MSB set')
            check(n >= 65536, 'server frame: non-minimal 64-bit length %d' % n)
        check(not masked, 'server frame is masked (RFC 6455 §5.1 forbids)')
        check(rsv == 0, 'server frame has RSV bits %d set' % rsv)
        check(op in OPNAME, 'server frame has reserved opcode 0x%x' % op)
        if op >= 8:
            check(fin, 'server sent a fragmented control frame')
            check(n <= 125, 'server control frame payload %d > 125' % n)
        if not self._fill(hl + n, deadline):
            raise CaseFail('server closed TCP inside a frame (%s, %d of %d payload bytes)'
                           % (OPNAME[op], self.pending() - hl, n))
        self.rpos += hl
        return fin, rsv, op, self._take(n)

    def next_event(self, timeout=T):
        """Message-level event:
        ('text'|'binary', payload) complete message, ('ping'|'pong', payload),
        ('close', code or None, reason), ('eof', 'eof'|'reset')."""
        deadline = time.monotonic() + timeout
        while True:
            rem = deadline - time.monotonic()
            if rem <= 0:
                raise TimeoutError()
            f = self.recv_frame(rem)
            if f is None:
                return ('eof', self.eof)
            fin, _, op, payload = f
            check(not self.got_close, 'server sent a %s frame after its close frame'
                  % OPNAME[op])
            if op in (OP_PING, OP_PONG):
                return (OPNAME[op], payload)
            if op == OP_CLOSE:
                self.got_close = True
                check(len(payload) != 1, 'server close frame with 1-byte payload')
                if not payload:
                    return ('close', None, b'')
                code = struct.unpack('!H', payload[:2])[0]
                check(utf8_ok(payload[2:]), 'server close reason not UTF-8: %r' % payload[2:])
                return ('close', code, payload[2:])
            if op == OP_CONT:
                check(self.frag_op is not None, 'server sent a continuation frame with no message open')
            else:
                check(self.frag_op is None, 'server started a new message inside a fragmented one')
                self.frag_op = op
            self.frag_parts.append(payload)
            if fin:
                msg = b''.join(self.frag_parts)
                mop = self.frag_op
                self.frag_op, self.frag_parts = None, []
                if mop == OP_TEXT:
                    check(utf8_ok(msg), 'server sent a text message that is not UTF-8')
                return (OPNAME[mop], msg)


def check_101(hdrs, key):
    want = base64.b64encode(hashlib.sha1(key.encode() + GUID).digest()).decode()
    acc = hdrs.get('sec-websocket-accept', [])
    check(acc == [want], 'Sec-WebSocket-Accept %r, expected %r' % (acc, want))
    up = hdrs.get('upgrade', [])
    check(len(up) == 1 and up[0].lower() == 'websocket', 'Upgrade header %r' % up)
    conn = ','.join(hdrs.get('connection', [])).lower()
    check('upgrade' in [t.strip() for t in conn.split(',')], 'Connection header %r' % conn)


def ev_desc(ev):
    if ev[0] in ('text', 'binary', 'ping', 'pong'):
        return '%s(%s)' % (ev[0], short(ev[1]))
    if ev[0] == 'close':
        return 'close(code=%s, reason=%s)' % (ev[1], short(ev[2]))
    return 'TCP %s' % ev[1]


# ---------------------------------------------------------------- expectations

def next_ev(c, what, timeout=T):
    try:
        return c.next_event(timeout)
    except TimeoutError:
        raise CaseFail('timeout (%ss) waiting for %s' % (timeout, what))


def expect_msg(c, kind, payload, timeout=T, what=None):
    what = what or '%s echo of %d bytes' % (kind, len(payload))
    ev = next_ev(c, what, timeout)
    if ev[0] != kind:
        raise CaseFail('expected %s, got %s' % (what, ev_desc(ev)))
    if ev[1] != payload:
        raise CaseFail('%s: %s' % (what, diff_desc(ev[1], payload)))


def expect_echo(c, op, payload, timeout=T):
    expect_msg(c, OPNAME[op], payload, timeout)


def expect_pong(c, payload, timeout=T):
    expect_msg(c, 'pong', payload, timeout, 'pong %s' % short(payload, 16))


def expect_eof(c, timeout=T, what='TCP close'):
    ev = next_ev(c, what, timeout)
    check(ev[0] == 'eof', 'expected %s, got %s' % (what, ev_desc(ev)))


def expect_close(c, codes, timeout=T):
    """After our close: the server's close frame (code in codes; None means an
    empty payload) and then TCP close by the server."""
    if not isinstance(codes, (tuple, list, set)):
        codes = (codes,)
    ev = next_ev(c, 'close reply', timeout)
    check(ev[0] == 'close', 'expected close reply %s, got %s' % (list(codes), ev_desc(ev)))
    check(ev[1] in codes, 'close reply code %s, expected %s' % (ev[1], list(codes)))
    expect_eof(c, timeout, 'TCP close after the close handshake')


def expect_fail(c, codes, drop_ok=True, timeout=T, optional=()):
    """The server must fail the connection: close frame with a code in codes
    then TCP close, or (drop_ok) TCP close without a close frame. Before that
    only the events in `optional` may arrive (each at most once, in order;
    e.g. the echo of a valid message sent before the bad frame, which
    Autobahn rates OK when present and NON-STRICT when missing)."""
    if not isinstance(codes, (tuple, list, set)):
        codes = (codes,)
    optional = list(optional)
    while True:
        ev = next_ev(c, 'connection failure (close %s)' % list(codes), timeout)
        if ev in optional:
            optional = optional[optional.index(ev) + 1:]
            continue
        break
    if ev[0] == 'close':
        check(ev[1] in codes, 'failed with close code %s, expected %s' % (ev[1], list(codes)))
        expect_eof(c, timeout, 'TCP close after the failing close frame')
    elif ev[0] == 'eof':
        check(drop_ok, 'TCP %s without a close frame, expected close %s' % (ev[1], list(codes)))
    else:
        raise CaseFail('expected connection failure (close %s), got %s'
                       % (list(codes), ev_desc(ev)))


def expect_events(c, events, timeout=T):
    """All of `events` must arrive; data messages in the given order, control
    replies in the given order, but pongs may be interleaved with messages
    anywhere (RFC 6455 does not order a pong against echoes of earlier data)."""
    data = [e for e in events if e[0] in ('text', 'binary')]
    ctrl = [e for e in events if e[0] not in ('text', 'binary')]
    while data or ctrl:
        want = ' / '.join(ev_desc(q[0]) for q in (data, ctrl) if q)
        ev = next_ev(c, want, timeout)
        if data and ev == data[0]:
            data.pop(0)
        elif ctrl and ev == ctrl[0]:
            ctrl.pop(0)
        else:
            raise CaseFail('expected %s, got %s' % (want, ev_desc(ev)))


def sentinel(c, what='nothing before it'):
    """Ping with a unique payload: the next event must be its pong."""
    p = b'sentinel-' + os.urandom(6).hex().encode()
    check(c.send(frame(OP_PING, p)), 'connection closed by server (send failed)')
    ev = next_ev(c, 'pong to sentinel ping')
    check(ev == ('pong', p), 'expected %s, got %s' % (what, ev_desc(ev)))


def close_ok(c, code=1000):
    c.send(frame(OP_CLOSE, close_payload(code)))
    expect_close(c, code)


# ---------------------------------------------------------------- case registry

CASES = []


def case(cid, desc):
    def deco(fn):
        CASES.append((cid, desc, fn))
        return fn
    return deco


def add(cid, desc, fn):
    CASES.append((cid, desc, fn))


# ---- 1 framing ---------------------------------------------------------------

LENGTHS = (0, 125, 126, 127, 128, 65535, 65536)


def mk_echo(op, n, chop=None, delay=0.0, reps=1):
    def fn(port):
        payload = text_payload(n) if op == OP_TEXT else bin_payload(n)
        with Conn(port) as c:
            for _ in range(reps):
                c.send(frame(op, payload), chop=chop, delay=delay)
                expect_echo(c, op, payload)
            close_ok(c)
    return fn


for sec, op in ((1, OP_TEXT), (2, OP_BIN)):
    nm = OPNAME[op]
    for i, n in enumerate(LENGTHS, 1):
        add('1.%d.%d' % (sec, i), '%s message, payload %d, one write' % (nm, n), mk_echo(op, n))
    add('1.%d.8' % sec, '%s message, payload 65536, 997-byte writes' % nm, mk_echo(op, 65536, chop=997))
    for i, n in enumerate(LENGTHS, 1):
        if n <= 128:
            add('1.%d.%d.b' % (sec, i), '%s message, payload %d, 1-byte writes' % (nm, n),
                mk_echo(op, n, chop=1))
        else:
            add('1.%d.%d.c' % (sec, i), '%s message, payload %d, 61-byte writes' % (nm, n),
                mk_echo(op, n, chop=61))
add('1.1.9', 'text message, payload 65536, 1-byte writes', mk_echo(OP_TEXT, 65536, chop=1))
add('1.1.10', 'text message with multi-byte UTF-8, payload 1000, echoed 3x',
    mk_echo(OP_TEXT, 1000, reps=3))


@case('1.3.1', 'ten messages of mixed types in one write, echoed in order')
def _(port):
    msgs = [(OP_TEXT if i % 2 else OP_BIN, (text_payload if i % 2 else bin_payload)(i * 37))
            for i in range(10)]
    with Conn(port) as c:
        c.send(b''.join(frame(op, p) for op, p in msgs))
        for op, p in msgs:
            expect_echo(c, op, p)
        close_ok(c)


# ---- 2 pings and pongs ---------------------------------------------------------

def mk_ping(payload, chop=None, delay=0.0):
    def fn(port):
        with Conn(port) as c:
            c.send(frame(OP_PING, payload), chop=chop, delay=delay)
            expect_pong(c, payload)
            close_ok(c)
    return fn


add('2.1', 'ping without payload', mk_ping(b''))
add('2.2', 'ping with small text payload', mk_ping(b'Hello, world!'))
add('2.3', 'ping with small binary payload', mk_ping(b'\x00\xff\xfe\xfd\xfc\xfb\x00\xff'))
add('2.4', 'ping with 125-byte binary payload', mk_ping(bytes(range(125))))


@case('2.5', 'ping with 126-byte payload -> fail 1002, no pong')
def _(port):
    with Conn(port) as c:
        c.send(frame(OP_PING, b'\xfe' * 126))
        expect_fail(c, 1002, drop_ok=False)


add('2.6', 'ping with 125-byte payload, 1-byte writes', mk_ping(b'\xfe' * 125, chop=1, delay=0.001))


@case('2.7', 'unsolicited pong without payload is ignored')
def _(port):
    with Conn(port) as c:
        c.send(frame(OP_PONG, b''))
        sentinel(c, 'no answer to the pong')
        close_ok(c)


@case('2.8', 'unsolicited pong with payload is ignored')
def _(port):
    with Conn(port) as c:
        c.send(frame(OP_PONG, b'unsolicited pong payload'))
        sentinel(c, 'no answer to the pong')
        close_ok(c)


@case('2.9', 'unsolicited pong, then ping: only the ping is answered')
def _(port):
    with Conn(port) as c:
        c.send(frame(OP_PONG, b'unsolicited pong payload') + frame(OP_PING, b'ping payload'))
        expect_pong(c, b'ping payload')
        sentinel(c, 'nothing else')
        close_ok(c)


def mk_pings(count, chop=None, delay=0.0):
    def fn(port):
        with Conn(port) as c:
            ps = [b'payload-%d' % i for i in range(count)]
            c.send(b''.join(frame(OP_PING, p) for p in ps), chop=chop, delay=delay)
            for p in ps:
                expect_pong(c, p)
            close_ok(c)
    return fn


add('2.10', '10 pings in one write, 10 pongs in order', mk_pings(10))
add('2.11', '10 pings in 1-byte writes, 10 pongs in order', mk_pings(10, chop=1, delay=0.0005))


@case('2.12', 'pings with every payload length 0..125 answered')
def _(port):
    with Conn(port) as c:
        for n in range(126):
            p = bytes(rng.getrandbits(8) for _ in range(n))
            c.send(frame(OP_PING, p))
            expect_pong(c, p)
        close_ok(c)


@case('2.13', 'ping with 126-byte payload in 64-bit length form -> fail 1002')
def _(port):
    with Conn(port) as c:
        c.send(frame(OP_PING, b'x' * 126, len_form=64))
        expect_fail(c, 1002, drop_ok=False)


@case('2.14', 'ping between two text messages: both echoes in order and the pong')
def _(port):
    with Conn(port) as c:
        c.send(frame(OP_TEXT, 'one') + frame(OP_PING, b'between') + frame(OP_TEXT, 'two'))
        expect_events(c, [('text', b'one'), ('pong', b'between'), ('text', b'two')])
        close_ok(c)


# ---- 3 reserved bits -----------------------------------------------------------

def mk_rsv(rsv, op=OP_TEXT, payload=b'Hello, world!', before=True, after_ping=True,
           chop=None, framewise=False):
    """[text 'Hello, world!'], bad frame, [ping]: the good text is echoed,
    then the connection fails (1002 or drop) and the ping is not answered."""
    def fn(port):
        with Conn(port) as c:
            frames = []
            if before:
                frames.append(frame(OP_TEXT, 'Hello, world!'))
            frames.append(frame(op, payload, rsv=rsv))
            if after_ping:
                frames.append(frame(OP_PING, b'after'))
            if framewise:
                for f in frames:
                    if not c.send(f):
                        break
                    time.sleep(0.01)
            else:
                c.send(b''.join(frames), chop=chop)
            expect_fail(c, 1002, optional=[('text', b'Hello, world!')] if before else ())
    return fn


add('3.1', 'text with RSV=1 -> fail', mk_rsv(1, before=False, after_ping=False))
add('3.2', 'text, text with RSV=2, ping -> echo, fail, no pong', mk_rsv(2))
add('3.3', 'as 3.2 with RSV=3, frame-wise writes', mk_rsv(3, framewise=True))
add('3.4', 'as 3.2 with RSV=4, 1-byte writes', mk_rsv(4, chop=1))
add('3.5', 'binary with RSV=5 -> fail', mk_rsv(5, op=OP_BIN, payload=bytes(range(256)) * 4,
                                            before=False, after_ping=False))
add('3.6', 'ping with RSV=6 -> fail, no pong', mk_rsv(6, op=OP_PING, payload=b'ping',
                                                    before=False, after_ping=False))
add('3.7', 'close with RSV=7 -> fail', mk_rsv(7, op=OP_CLOSE, payload=close_payload(1000),
                                           before=False, after_ping=False))


@case('3.8', 'continuation frame with RSV1 inside a fragmented message -> fail')
def _(port):
    with Conn(port) as c:
        c.send(frame(OP_TEXT, 'frag1', fin=False) + frame(OP_CONT, 'frag2', rsv=4))
        expect_fail(c, 1002)


@case('3.9', 'pong with RSV2 -> fail')
def _(port):
    with Conn(port) as c:
        c.send(frame(OP_PONG, b'x', rsv=2))
        expect_fail(c, 1002)


# ---- 4 opcodes -----------------------------------------------------------------

def mk_opcode(op, payload, before_after):
    def fn(port):
        with Conn(port) as c:
            if before_after:
                c.send(frame(OP_TEXT, 'Hello, world!') + frame(op, payload) + frame(OP_PING, b'after'))
            else:
                c.send(frame(op, payload))
            expect_fail(c, 1002, optional=[('text', b'Hello, world!')] if before_after else ())
    return fn


for grp, ops in ((1, (3, 4, 5, 6, 7)), (2, (0xB, 0xC, 0xD, 0xE, 0xF))):
    for i, op in enumerate(ops, 1):
        payload = b'' if i == 1 else b'reserved opcode payload'
        ba = i >= 3
        add('4.%d.%d' % (grp, i), 'reserved opcode 0x%X%s -> fail' % (
            op, ' between text and ping' if ba else (' with payload' if payload else '')),
            mk_opcode(op, payload, ba))


# ---- 5 fragmentation -----------------------------------------------------------

def mk_frags(frames_fn, expect_fn, chop=None, framewise=False):
    def fn(port):
        with Conn(port) as c:
            frames = frames_fn()
            if framewise:
                for f in frames:
                    if not c.send(f):
                        break
                    time.sleep(0.01)
            else:
                c.send(b''.join(frames), chop=chop)
            expect_fn(c)
    return fn


def fail_1002(c):
    expect_fail(c, 1002)


def echo_then_close(kind, payload, pongs=()):
    def fn(c):
        # Autobahn 5.6-5.8 expect the pong first; a pong after the message is
        # also RFC-conformant, so expect_events does not order them.
        expect_events(c, [('pong', p) for p in pongs] + [(kind, payload)])
        close_ok(c)
    return fn


add('5.1', 'ping in 2 fragments -> fail',
    mk_frags(lambda: [frame(OP_PING, 'fragment1', fin=False), frame(OP_CONT, 'fragment2')], fail_1002))
add('5.2', 'pong in 2 fragments -> fail',
    mk_frags(lambda: [frame(OP_PONG, 'fragment1', fin=False), frame(OP_CONT, 'fragment2')], fail_1002))


def two_text():
    return [frame(OP_TEXT, 'fragment1', fin=False), frame(OP_CONT, 'fragment2')]


def two_text_ping():
    return [frame(OP_TEXT, 'fragment1', fin=False), frame(OP_PING, 'ping payload'),
            frame(OP_CONT, 'fragment2')]


add('5.3', 'text in 2 fragments', mk_frags(two_text, echo_then_close('text', b'fragment1fragment2')))
add('5.4', 'text in 2 fragments, frame-wise writes',
    mk_frags(two_text, echo_then_close('text', b'fragment1fragment2'), framewise=True))
add('5.5', 'text in 2 fragments, 1-byte writes',
    mk_frags(two_text, echo_then_close('text', b'fragment1fragment2'), chop=1))
add('5.6', 'text in 2 fragments, ping between -> pong, then message',
    mk_frags(two_text_ping, echo_then_close('text', b'fragment1fragment2', [b'ping payload'])))
add('5.7', 'as 5.6, frame-wise writes',
    mk_frags(two_text_ping, echo_then_close('text', b'fragment1fragment2', [b'ping payload']),
             framewise=True))
add('5.8', 'as 5.6, 1-byte writes',
    mk_frags(two_text_ping, echo_then_close('text', b'fragment1fragment2', [b'ping payload']), chop=1))


def cont_first(fin):
    return lambda: [frame(OP_CONT, 'non-continuation payload', fin=fin),
                    frame(OP_TEXT, 'Hello, world!')]


for i, (fin, mode) in enumerate([(True, {}), (True, {'framewise': True}), (True, {'chop': 1}),
                                 (False, {}), (False, {'framewise': True}), (False, {'chop': 1})]):
    add('5.%d' % (9 + i), 'continuation (FIN=%d) with nothing to continue, then text -> fail%s'
        % (fin, {0: '', 1: ', frame-wise', 2: ', 1-byte writes'}[i % 3]),
        mk_frags(cont_first(fin), fail_1002, **mode))


def f515(c):
    expect_fail(c, 1002, optional=[('text', b'fragment1fragment2')])


add('5.15', 'text frag1, cont frag2 (FIN), cont frag3 (no msg open), text -> echo, fail',
    mk_frags(lambda: [frame(OP_TEXT, 'fragment1', fin=False), frame(OP_CONT, 'fragment2'),
                      frame(OP_CONT, 'fragment3', fin=False), frame(OP_TEXT, 'fragment4')], f515))


def f516(first_fin):
    def frames():
        one = [frame(OP_CONT, 'fragment1', fin=first_fin), frame(OP_TEXT, 'fragment2', fin=False),
               frame(OP_CONT, 'fragment3')]
        return one + one
    return frames


add('5.16', '2x (cont, text FIN=0, cont FIN=1) -> fail', mk_frags(f516(False), fail_1002))
add('5.17', '2x (cont FIN=1, text FIN=0, cont FIN=1) -> fail', mk_frags(f516(True), fail_1002))
add('5.18', 'text FIN=0 then text FIN=1 (new message inside fragmented) -> fail',
    mk_frags(lambda: [frame(OP_TEXT, 'fragment1', fin=False), frame(OP_TEXT, 'fragment2')], fail_1002))


def mk_519(chop):
    def fn(port):
        with Conn(port) as c:
            c.send(frame(OP_TEXT, 'fragment1', fin=False) + frame(OP_CONT, 'fragment2', fin=False)
                   + frame(OP_PING, 'pongme 1!'), chop=chop)
            # the pong must come while the message is still open
            expect_pong(c, b'pongme 1!')
            time.sleep(0.1)
            c.send(frame(OP_CONT, 'fragment3', fin=False) + frame(OP_CONT, 'fragment4', fin=False)
                   + frame(OP_PING, 'pongme 2!') + frame(OP_CONT, 'fragment5'), chop=chop)
            expect_pong(c, b'pongme 2!')
            expect_msg(c, 'text', b'fragment1fragment2fragment3fragment4fragment5')
            close_ok(c)
    return fn


add('5.19', 'text in 5 fragments with 2 pings between, pong before the message ends',
    mk_519(None))
add('5.20', 'as 5.19, 1-byte writes', mk_519(1))

add('5.21', 'binary in 2 fragments',
    mk_frags(lambda: [frame(OP_BIN, b'\x00\x01', fin=False), frame(OP_CONT, b'\xfe\xff')],
             echo_then_close('binary', b'\x00\x01\xfe\xff')))
add('5.22', 'binary in 100 fragments, one write',
    mk_frags(lambda: [frame(OP_BIN if i == 0 else OP_CONT, bytes([i]) * 7, fin=i == 99)
                      for i in range(100)],
             echo_then_close('binary', b''.join(bytes([i]) * 7 for i in range(100)))))
add('5.23', 'binary FIN=0 then text frame -> fail',
    mk_frags(lambda: [frame(OP_BIN, b'ab', fin=False), frame(OP_TEXT, 'cd')], fail_1002))
add('5.24', 'text in fragments with a pong between (ignored)',
    mk_frags(lambda: [frame(OP_TEXT, 'a', fin=False), frame(OP_PONG, b'x'), frame(OP_CONT, 'b')],
             echo_then_close('text', b'ab')))
add('5.25', 'text in fragments, zero-length middle and final fragments',
    mk_frags(lambda: [frame(OP_TEXT, 'abc', fin=False), frame(OP_CONT, '', fin=False),
                      frame(OP_CONT, 'def', fin=False), frame(OP_CONT, '')],
             echo_then_close('text', b'abcdef')))


add('5.26', 'text of 10000 empty fragments then "x"',
    mk_frags(lambda: [frame(OP_TEXT, b'', fin=False)] + [frame(OP_CONT, b'', fin=False)] * 9999
             + [frame(OP_CONT, 'x')], echo_then_close('text', b'x')))


@case('5.27', 'close inside a fragmented message with an invalid code -> 1002')
def _(port):
    with Conn(port) as c:
        c.send(frame(OP_TEXT, 'abc', fin=False) + frame(OP_CLOSE, close_payload(1005)))
        expect_fail(c, 1002, drop_ok=False)


# ---- 6 UTF-8 -------------------------------------------------------------------

def mk_text_frames(frames_fn, payload, valid=True):
    def fn(port):
        with Conn(port) as c:
            c.send(b''.join(frames_fn()))
            if valid:
                expect_msg(c, 'text', payload)
                close_ok(c)
            else:
                expect_fail(c, 1007, drop_ok=False)
    return fn


add('6.1.1', 'empty text message', mk_text_frames(lambda: [frame(OP_TEXT, b'')], b''))
add('6.1.2', 'text in 3 empty fragments',
    mk_text_frames(lambda: [frame(OP_TEXT, b'', fin=False), frame(OP_CONT, b'', fin=False),
                            frame(OP_CONT, b'')], b''))
add('6.1.3', 'text: empty, "middle frame payload", empty fragments',
    mk_text_frames(lambda: [frame(OP_TEXT, b'', fin=False),
                            frame(OP_CONT, 'middle frame payload', fin=False),
                            frame(OP_CONT, b'')], b'middle frame payload'))

HELLO = 'Hello-\u00b5@\u00df\u00f6\u00e4\u00fc\u00e0\u00e1-UTF-8!!'.encode()
KOSME = '\u03ba\u1f79\u03c3\u03bc\u03b5'.encode()   # "κόσμε"
assert KOSME == b'\xce\xba\xe1\xbd\xb9\xcf\x83\xce\xbc\xce\xb5'

add('6.2.1', 'valid UTF-8 text in one fragment', mk_text_frames(lambda: [frame(OP_TEXT, HELLO)], HELLO))


def split_everywhere(payload):
    def fn(port):
        with Conn(port) as c:
            for k in range(1, len(payload)):
                c.send(frame(OP_TEXT, payload[:k], fin=False) + frame(OP_CONT, payload[k:]))
                ev = next_ev(c, 'echo of message split at byte %d' % k)
                check(ev == ('text', payload), 'split at byte %d: got %s' % (k, ev_desc(ev)))
            close_ok(c)
    return fn


def one_byte_frags(payload):
    return lambda: [frame(OP_TEXT if i == 0 else OP_CONT, payload[i:i + 1], fin=i == len(payload) - 1)
                    for i in range(len(payload))]


add('6.2.2', 'valid UTF-8 text in 2 fragments, split at every byte position', split_everywhere(HELLO))
add('6.2.3', 'valid UTF-8 text in 1-byte fragments', mk_text_frames(one_byte_frags(HELLO), HELLO))
add('6.2.4', '"\u03ba\u1f79\u03c3\u03bc\u03b5" in 1-byte fragments', mk_text_frames(one_byte_frags(KOSME), KOSME))
add('6.2.5', '"\u03ba\u1f79\u03c3\u03bc\u03b5" split at every byte position', split_everywhere(KOSME))
add('6.2.6', '4-byte sequences split at every byte position',
    split_everywhere('a\U00024B62b\U0010FFFFc\U00010000'.encode()))

BAD = KOSME + b'\xed\xa0\x80' + b'edited'
add('6.3.1', 'invalid UTF-8 (surrogate) in one fragment -> 1007',
    mk_text_frames(lambda: [frame(OP_TEXT, BAD)], None, valid=False))
add('6.3.2', 'invalid UTF-8 (surrogate) in 1-byte fragments -> 1007',
    mk_text_frames(one_byte_frags(BAD), None, valid=False))


def mk_failfast_frags(frag1, frag2):
    """Fragmented text: frag1 FIN=0 sent, frag2 FIN=0 carrying the invalid byte
    sent; the server must close 1007 before the final fragment is sent."""
    def fn(port):
        with Conn(port) as c:
            c.send(frame(OP_TEXT, frag1, fin=False))
            time.sleep(0.05)
            c.send(frame(OP_CONT, frag2, fin=False))
            expect_fail(c, 1007, drop_ok=False, timeout=2.0)
    return fn


def mk_failfast_stream(part1, part2):
    """One text frame announcing the whole length; payload trickles in. The
    server must close 1007 once the invalid byte arrives, before the rest."""
    def fn(port):
        whole = part1 + part2 + b'edited'
        key = os.urandom(4)
        masked = mask_bytes(whole, key)
        hdr = frame_header(OP_TEXT, len(whole), True, 0, key)
        with Conn(port) as c:
            c.send(hdr + masked[:len(part1)])
            time.sleep(0.05)
            c.send(masked[len(part1):len(part1) + len(part2)])
            expect_fail(c, 1007, drop_ok=False, timeout=2.0)
    return fn


add('6.4.1', 'fail fast: invalid code point in 2nd fragment, before the 3rd is sent',
    mk_failfast_frags(KOSME, b'\xf4\x90\x80\x80'))
add('6.4.2', 'fail fast: invalid byte at the start of the 2nd fragment',
    mk_failfast_frags(KOSME + b'\xf4', b'\x90\x80\x80'))
add('6.4.3', 'fail fast: invalid code point inside one frame, rest not yet sent',
    mk_failfast_stream(KOSME, b'\xf4\x90\x80\x80'))
add('6.4.4', 'fail fast: invalid byte inside one frame, rest not yet sent',
    mk_failfast_stream(KOSME + b'\xf4', b'\x90'))


def utf8_vectors():
    """The Autobahn 6.5-6.23 vectors (from Markus Kuhn's UTF-8 decoder test)."""
    V = []

    def grp(name, items):
        V.append((name, items))
    grp('valid sequences', [(True, b'hello\x24world'), (True, b'hello\xc2\xa2world'),
                            (True, b'hello\xe2\x82\xacworld'), (True, b'hello\xf0\xa4\xad\xa2world'),
                            (True, KOSME)])
    grp('prefixes of valid multi-byte text',
        [(utf8_ok(KOSME[:i]), KOSME[:i]) for i in range(1, len(KOSME) + 1)])
    grp('first sequence of each length', [(True, b'\x00'), (True, b'\xc2\x80'), (True, b'\xe0\xa0\x80'),
                                          (True, b'\xf0\x90\x80\x80')])
    grp('first 5/6-byte sequences', [(False, b'\xf8\x88\x80\x80\x80'), (False, b'\xfc\x84\x80\x80\x80\x80')])
    grp('last sequence of each length', [(True, b'\x7f'), (True, b'\xdf\xbf'), (True, b'\xef\xbf\xbf'),
                                         (True, b'\xf4\x8f\xbf\xbf')])
    grp('last 4/5/6-byte (beyond U+10FFFF)', [(False, b'\xf7\xbf\xbf\xbf'), (False, b'\xfb\xbf\xbf\xbf\xbf'),
                                              (False, b'\xfd\xbf\xbf\xbf\xbf\xbf')])
    grp('other boundaries', [(True, b'\xed\x9f\xbf'), (True, b'\xee\x80\x80'), (True, b'\xef\xbf\xbd'),
                             (True, b'\xf4\x8f\xbf\xbf'), (False, b'\xf4\x90\x80\x80')])
    grp('unexpected continuation bytes',
        [(False, b'\x80'), (False, b'\xbf'), (False, b'\x80\xbf'), (False, b'\x80\xbf\x80'),
         (False, b'\x80\xbf\x80\xbf'), (False, b'\x80\xbf\x80\xbf\x80'),
         (False, b'\x80\xbf\x80\xbf\x80\xbf'), (False, bytes(range(0x80, 0xbf)))])
    grp('lonely start bytes',
        [(False, b''.join(bytes([i, 0x20]) for i in range(a, b)))
         for a, b in ((0xc0, 0xdf), (0xe0, 0xef), (0xf0, 0xf7), (0xf8, 0xfb), (0xfc, 0xfd))])
    k = [b'\xc0', b'\xe0\x80', b'\xf0\x80\x80', b'\xf8\x80\x80\x80', b'\xfc\x80\x80\x80\x80',
         b'\xdf', b'\xef\xbf', b'\xf7\xbf\xbf', b'\xfb\xbf\xbf\xbf', b'\xfd\xbf\xbf\xbf\xbf']
    grp('last continuation byte missing', [(False, x) for x in k])
    grp('concatenated incomplete sequences', [(False, b''.join(k))])
    grp('impossible bytes', [(False, b'\xfe'), (False, b'\xff'), (False, b'\xfe\xfe\xff\xff')])
    grp('overlong ASCII', [(False, b'\xc0\xaf'), (False, b'\xe0\x80\xaf'), (False, b'\xf0\x80\x80\xaf'),
                           (False, b'\xf8\x80\x80\x80\xaf'), (False, b'\xfc\x80\x80\x80\x80\xaf')])
    grp('maximum overlongs', [(False, b'\xc1\xbf'), (False, b'\xe0\x9f\xbf'), (False, b'\xf0\x8f\xbf\xbf'),
                              (False, b'\xf8\x87\xbf\xbf\xbf'), (False, b'\xfc\x83\xbf\xbf\xbf\xbf')])
    grp('overlong NUL', [(False, b'\xc0\x80'), (False, b'\xe0\x80\x80'), (False, b'\xf0\x80\x80\x80'),
                         (False, b'\xf8\x80\x80\x80\x80'), (False, b'\xfc\x80\x80\x80\x80\x80')])
    grp('single UTF-16 surrogates', [(False, x) for x in (
        b'\xed\xa0\x80', b'\xed\xad\xbf', b'\xed\xae\x80', b'\xed\xaf\xbf', b'\xed\xb0\x80',
        b'\xed\xbe\x80', b'\xed\xbf\xbf')])
    grp('paired UTF-16 surrogates', [(False, a + b) for a in (
        b'\xed\xa0\x80', b'\xed\xad\xbf', b'\xed\xae\x80', b'\xed\xaf\xbf')
        for b in (b'\xed\xb0\x80', b'\xed\xbf\xbf')])
    nonchars = [b'\xef\xbf\xbe', b'\xef\xbf\xbf']
    for z1 in b'\xf0\xf1\xf2\xf3\xf4':
        for z2 in b'\x8f\x9f\xaf\xbf':
            if not (z1 == 0xf4 and z2 != 0x8f):
                for z3 in b'\xbe\xbf':
                    zz = bytes([z1, z2, 0xbf, z3])
                    if zz not in (b'\xf0\x8f\xbf\xbe', b'\xf0\x8f\xbf\xbf'):
                        nonchars.append(zz)
    grp('non-character code points (valid)', [(True, x) for x in nonchars])
    grp('specials (valid)', [(True, bytes([0xef, 0xbf, x])) for x in range(0xb9, 0xc0)])
    # self-check of the table against Python's strict decoder
    for _, items in V:
        for ok, b in items:
            assert ok == utf8_ok(b), b
    return V


for gi, (gname, items) in enumerate(utf8_vectors(), 5):
    for vi, (ok, payload) in enumerate(items, 1):
        add('6.%d.%d' % (gi, vi), '%s: %s %s' % (gname, payload[:12].hex(), 'echo' if ok else '-> 1007'),
            mk_text_frames((lambda p: lambda: [frame(OP_TEXT, p)])(payload), payload, ok))


# 6.25: every invalid vector again, after a valid prefix, as one frame written
# 1 byte at a time: the streaming validator must catch it whichever read the
# bad (or missing) byte falls into, and never complete the echoed message.
for vi, (ok, payload) in enumerate([v for _, items in utf8_vectors() for v in items if not v[0]], 1):
    add('6.25.%d' % vi, 'invalid vector %s after "ok-", 1-byte writes -> 1007' % payload[:12].hex(),
        (lambda p: lambda port: _chopped_invalid(port, p))(payload))


def _chopped_invalid(port, payload):
    with Conn(port) as c:
        c.send(frame(OP_TEXT, b'ok-' + payload), chop=1)
        expect_fail(c, 1007, drop_ok=False)


@case('6.25.99', 'invalid text split into 2 fragments at every position -> 1007 each time')
def _(port):
    for k in range(1, len(BAD)):
        with Conn(port) as c:
            c.send(frame(OP_TEXT, BAD[:k], fin=False) + frame(OP_CONT, BAD[k:]))
            try:
                expect_fail(c, 1007, drop_ok=False)
            except CaseFail as e:
                raise CaseFail('split at byte %d: %s' % (k, e))


@case('6.24.1', 'every Unicode scalar value U+0000..U+10FFFF in one text message')
def _(port):
    s = ''.join(chr(i) for i in range(0x110000) if not 0xD800 <= i <= 0xDFFF).encode()
    with Conn(port) as c:
        c.send_bg(frame(OP_TEXT, s))
        expect_msg(c, 'text', s, timeout=BIG_T)
        c.wait_sent()
        close_ok(c)


@case('6.24.2', 'message ends inside a sequence split across fragments -> 1007')
def _(port):
    with Conn(port) as c:
        c.send(frame(OP_TEXT, b'abc\xce', fin=False) + frame(OP_CONT, b''))
        expect_fail(c, 1007, drop_ok=False)


@case('6.24.3', 'surrogate split across fragments -> 1007')
def _(port):
    with Conn(port) as c:
        c.send(frame(OP_TEXT, b'ab\xed', fin=False) + frame(OP_CONT, b'\xa0\x80cd'))
        expect_fail(c, 1007, drop_ok=False)


@case('6.24.4', 'invalid UTF-8 in a binary message is echoed unchanged')
def _(port):
    p = b'\xff\xfe\xed\xa0\x80\xc0\xaf' + BAD
    with Conn(port) as c:
        c.send(frame(OP_BIN, p))
        expect_msg(c, 'binary', p)
        close_ok(c)


@case('6.24.5', 'UTF-8 state does not carry across messages (binary between)')
def _(port):
    with Conn(port) as c:
        c.send(frame(OP_TEXT, KOSME) + frame(OP_BIN, b'\xce') + frame(OP_TEXT, b'\xbaA'))
        expect_fail(c, 1007, drop_ok=False, optional=[('text', KOSME), ('binary', b'\xce')])


@case('6.24.7', 'code point split across fragments with a ping between')
def _(port):
    with Conn(port) as c:
        c.send(frame(OP_TEXT, b'a\xce', fin=False) + frame(OP_PING, b'mid')
               + frame(OP_CONT, b'\xba', fin=False) + frame(OP_PING, b'mid2')
               + frame(OP_CONT, b'\xe1\xbd') + b'')
        # the message is still incomplete (\xe1\xbd lacks a byte) but FIN=1: 1007
        expect_fail(c, 1007, drop_ok=False, optional=[('pong', b'mid'), ('pong', b'mid2')])


@case('6.24.8', '4-byte code point split 1+1+2 across fragments with pings between')
def _(port):
    with Conn(port) as c:
        c.send(frame(OP_TEXT, b'a\xf0', fin=False) + frame(OP_PING, b'1')
               + frame(OP_CONT, b'\xa4', fin=False) + frame(OP_PING, b'2')
               + frame(OP_CONT, b'\xad\xa2z'))
        expect_events(c, [('pong', b'1'), ('pong', b'2'), ('text', b'a\xf0\xa4\xad\xa2z')])
        close_ok(c)


@case('6.24.6', 'invalid UTF-8 in a ping payload is fine (pong echoes it)')
def _(port):
    with Conn(port) as c:
        c.send(frame(OP_PING, b'\xff\xed\xa0\x80'))
        expect_pong(c, b'\xff\xed\xa0\x80')
        close_ok(c)


# ---- 7 close handling ----------------------------------------------------------

@case('7.1.1', 'text echo, then close 1000')
def _(port):
    with Conn(port) as c:
        c.send(frame(OP_TEXT, 'Hello World!'))
        expect_msg(c, 'text', b'Hello World!')
        close_ok(c)


@case('7.1.2', 'two close frames: one close back, then TCP close')
def _(port):
    with Conn(port) as c:
        c.send(frame(OP_CLOSE, close_payload(1000)) + frame(OP_CLOSE, close_payload(1000)))
        expect_close(c, 1000)


@case('7.1.3', 'close then ping: ping not answered')
def _(port):
    with Conn(port) as c:
        c.send(frame(OP_CLOSE, close_payload(1000)) + frame(OP_PING, b'after close'))
        expect_close(c, 1000)


@case('7.1.4', 'close then text: text not echoed')
def _(port):
    with Conn(port) as c:
        c.send(frame(OP_CLOSE, close_payload(1000)) + frame(OP_TEXT, 'after close'))
        expect_close(c, 1000)


@case('7.1.5', 'text fragment 1, close, fragment 2: only the close comes back')
def _(port):
    with Conn(port) as c:
        c.send(frame(OP_TEXT, 'fragment1', fin=False) + frame(OP_CLOSE, close_payload(1000))
               + frame(OP_CONT, 'fragment2'))
        expect_close(c, 1000)


@case('7.1.6', '256 KiB text, close, ping: (echo), close, no pong')
def _(port):
    p = (b'BAsd7&jh23' * 26215)[:262144]
    with Conn(port) as c:
        c.send_bg(frame(OP_TEXT, p) + frame(OP_CLOSE, close_payload(1000)) + frame(OP_PING, b'x'))
        ev = next_ev(c, 'echo or close', BIG_T)
        if ev[0] == 'text':
            check(ev[1] == p, 'echo: ' + diff_desc(ev[1], p))
            ev = next_ev(c, 'close reply')
        check(ev[0] == 'close' and ev[1] == 1000, 'expected close 1000, got %s' % ev_desc(ev))
        expect_eof(c)


@case('7.1.7', 'server closes TCP after replying to close, without our TCP close')
def _(port):
    with Conn(port) as c:
        c.send(frame(OP_CLOSE, close_payload(1000)))
        expect_close(c, 1000)   # expect_close requires the EOF within T


@case('7.1.8', 'text fragment ending inside a code point, then close: normal close')
def _(port):
    # The unfinished message is abandoned by the close; it is not a UTF-8 error.
    with Conn(port) as c:
        c.send(frame(OP_TEXT, b'abc\xce', fin=False) + frame(OP_CLOSE, close_payload(1000)))
        expect_close(c, 1000)


@case('7.1.9', 'close while 4 MiB of echo is still queued: echo, then close')
def _(port):
    p = bin_payload(4 << 20)
    with Conn(port) as c:
        c.send_bg(frame(OP_BIN, p) + frame(OP_CLOSE, close_payload(1001)))
        time.sleep(0.3)   # let the server's output back up before we read
        ev = next_ev(c, 'echo or close', BIG_T)
        if ev[0] == 'binary':
            check(ev[1] == p, 'echo: ' + diff_desc(ev[1], p))
            ev = next_ev(c, 'close reply')
        check(ev[0] == 'close' and ev[1] == 1001, 'expected close 1001, got %s' % ev_desc(ev))
        expect_eof(c)


@case('7.3.1', 'close with empty payload -> empty close (or 1000)')
def _(port):
    with Conn(port) as c:
        c.send(frame(OP_CLOSE, b''))
        expect_close(c, (None, 1000))


@case('7.3.2', 'close with 1-byte payload -> 1002')
def _(port):
    with Conn(port) as c:
        c.send(frame(OP_CLOSE, b'\x03'))
        expect_fail(c, 1002, drop_ok=False)


@case('7.3.3', 'close 1000 without reason')
def _(port):
    with Conn(port) as c:
        close_ok(c, 1000)


@case('7.3.4', 'close 1000 with reason "Hello World!"')
def _(port):
    with Conn(port) as c:
        c.send(frame(OP_CLOSE, close_payload(1000, 'Hello World!')))
        expect_close(c, 1000)


@case('7.3.5', 'close 1000 with 123-byte reason (payload 125)')
def _(port):
    with Conn(port) as c:
        c.send(frame(OP_CLOSE, close_payload(1000, '*' * 123)))
        expect_close(c, 1000)


@case('7.3.6', 'close 1000 with 124-byte reason (payload 126) -> 1002')
def _(port):
    with Conn(port) as c:
        c.send(frame(OP_CLOSE, close_payload(1000, '*' * 124)))
        expect_fail(c, 1002, drop_ok=False)


@case('7.3.7', 'close 1000 with multi-byte UTF-8 reason')
def _(port):
    with Conn(port) as c:
        c.send(frame(OP_CLOSE, close_payload(1000, KOSME + HELLO)))
        expect_close(c, 1000)


@case('7.5.1', 'close with invalid UTF-8 reason -> 1007 or 1002')
def _(port):
    # RFC 6455 §8.1: data that must be UTF-8 and is not fails the connection;
    # §7.4.1 names 1007 for inconsistent data, 1002 for protocol errors. Both
    # are accepted (as Autobahn does); a close frame is required.
    with Conn(port) as c:
        c.send(frame(OP_CLOSE, close_payload(1000, BAD)))
        expect_fail(c, (1007, 1002), drop_ok=False)


@case('7.5.2', 'close reason with truncated UTF-8 at the end -> 1007 or 1002')
def _(port):
    with Conn(port) as c:
        c.send(frame(OP_CLOSE, close_payload(1000, b'abc\xce')))
        expect_fail(c, (1007, 1002), drop_ok=False)


def mk_close_code(code, outcome):
    """outcome: 'echo' (same code back), 'fail' (1002), 'either'."""
    def fn(port):
        with Conn(port) as c:
            c.send(frame(OP_CLOSE, close_payload(code)))
            if outcome == 'echo':
                expect_close(c, code)
            elif outcome == 'fail':
                expect_fail(c, 1002, drop_ok=False)
            else:
                expect_close(c, (code, 1002))
    return fn


VALID_CODES = (1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 3000, 3999, 4000, 4999)
for i, code in enumerate(VALID_CODES, 1):
    add('7.7.%d' % i, 'close code %d (valid) echoed' % code, mk_close_code(code, 'echo'))
# Autobahn 7.9.x (current) lists 0,999,1004,1005,1006,1016,1100,2000,2999. 1015
# must never be sent in a close frame (§7.4.1), so receiving it is an error too.
INVALID_CODES = (0, 999, 1004, 1005, 1006, 1015, 1016, 1100, 2000, 2999)
for i, code in enumerate(INVALID_CODES, 1):
    add('7.9.%d' % i, 'close code %d (invalid) -> 1002' % code, mk_close_code(code, 'fail'))
# 1012-1014 were once in Autobahn's invalid list, but IANA registered them
# (Service Restart, Try Again Later, Bad Gateway); either outcome is accepted.
for i, code in enumerate((1012, 1013, 1014), 11):
    add('7.9.%d' % i, 'close code %d (IANA-registered) -> echo or 1002' % code,
        mk_close_code(code, 'either'))
# RFC 6455 §7.4.2 defines no codes >= 5000 (Autobahn 7.13: "undefined");
# the product treats them as invalid -> 1002.
add('7.13.1', 'close code 5000 -> 1002', mk_close_code(5000, 'fail'))
add('7.13.2', 'close code 65535 -> 1002', mk_close_code(65535, 'fail'))


# ---- 9 limits and performance --------------------------------------------------

def mk_big(op, n, chop=None):
    def fn(port):
        payload = text_payload(n) if op == OP_TEXT else bin_payload(n)
        with Conn(port) as c:
            c.send_bg(frame(op, payload), chop=chop)
            expect_echo(c, op, payload, timeout=BIG_T)
            c.wait_sent()
            close_ok(c)
    return fn


def mk_big_frag(op, n, frag):
    def fn(port):
        payload = text_payload(n) if op == OP_TEXT else bin_payload(n)
        with Conn(port) as c:
            c.send_bg(fragmented(op, payload, frag))
            expect_echo(c, op, payload, timeout=BIG_T)
            c.wait_sent()
            close_ok(c)
    return fn


def mk_roundtrips(op, n, count=1000):
    def fn(port):
        payload = text_payload(n) if op == OP_TEXT else bin_payload(n)
        f = frame(op, payload)
        with Conn(port) as c:
            for i in range(count):
                c.send(f)
                ev = next_ev(c, 'echo #%d' % i)
                if ev != (OPNAME[op], payload):
                    raise CaseFail('message #%d: got %s' % (i, ev_desc(ev)))
            close_ok(c)
    return fn


SIZES = (64 << 10, 256 << 10, 1 << 20, 4 << 20, 16 << 20)
for sec, op in ((1, OP_TEXT), (2, OP_BIN)):
    for i, n in enumerate(SIZES, 1):
        add('9.%d.%d' % (sec, i), '%s message of %d KiB' % (OPNAME[op], n >> 10), mk_big(op, n))
FRAGS = (64, 256, 1 << 10, 4 << 10, 16 << 10, 64 << 10, 256 << 10, 1 << 20, 4 << 20)
for sec, op in ((3, OP_TEXT), (4, OP_BIN)):
    for i, fs in enumerate(FRAGS, 1):
        add('9.%d.%d' % (sec, i), '4 MiB %s message in %d-byte fragments' % (OPNAME[op], fs),
            mk_big_frag(op, 4 << 20, fs))
for sec, op in ((5, OP_TEXT), (6, OP_BIN)):
    for i, chop in enumerate((64, 128, 256, 512, 1024, 2048), 1):
        add('9.%d.%d' % (sec, i), '1 MiB %s message in %d-byte writes' % (OPNAME[op], chop),
            mk_big(op, 1 << 20, chop))
for sec, op in ((7, OP_TEXT), (8, OP_BIN)):
    for i, n in enumerate((0, 16, 64, 256, 1024, 4096), 1):
        add('9.%d.%d' % (sec, i), '1000 %s round trips of %d bytes' % (OPNAME[op], n),
            mk_roundtrips(op, n))


@case('9.9.1', 'single frame of 16 MiB + 1 -> 1009')
def _(port):
    with Conn(port) as c:
        c.send_bg(frame(OP_BIN, bin_payload(MAX_MESSAGE + 1)))
        expect_fail(c, 1009, drop_ok=False, timeout=BIG_T)


@case('9.9.2', 'fragmented message totalling 16 MiB + 1 (1 MiB fragments) -> 1009')
def _(port):
    with Conn(port) as c:
        c.send_bg(fragmented(OP_BIN, bin_payload(MAX_MESSAGE + 1), 1 << 20))
        expect_fail(c, 1009, drop_ok=False, timeout=BIG_T)


@case('9.9.4', 'fragmented message of exactly 16 MiB (16 x 1 MiB) is echoed')
def _(port):
    p = bin_payload(MAX_MESSAGE)
    with Conn(port) as c:
        c.send_bg(fragmented(OP_BIN, p, 1 << 20))
        expect_msg(c, 'binary', p, timeout=BIG_T)
        c.wait_sent()
        close_ok(c)


@case('9.9.5', 'pongs are not spliced into big echoes (4 MiB, ping, 4 MiB, ping)')
def _(port):
    a, b = bin_payload(4 << 20), text_payload(4 << 20)
    with Conn(port) as c:
        c.send_bg(frame(OP_BIN, a) + frame(OP_PING, b'one') + fragmented(OP_TEXT, b, 1 << 16)
                  + frame(OP_PING, b'two'))
        expect_events(c, [('binary', a), ('pong', b'one'), ('text', b), ('pong', b'two')], BIG_T)
        c.wait_sent()
        close_ok(c)


@case('9.9.3', 'frame header announcing 2^40 bytes -> 1009 (or 1002)')
def _(port):
    with Conn(port) as c:
        c.send(frame_header(OP_BIN, 1 << 40, True, 0, b'\x01\x02\x03\x04') + b'\x00' * 1000)
        expect_fail(c, (1009, 1002), drop_ok=False)


# ---- masking and length encoding ----------------------------------------------

def mk_unmasked(op, payload):
    def fn(port):
        with Conn(port) as c:
            c.send(frame(op, payload, mask=False))
            expect_fail(c, 1002)
    return fn


add('M.1', 'unmasked text frame -> fail 1002', mk_unmasked(OP_TEXT, 'Hello, world!'))
add('M.2', 'unmasked binary frame of 200 bytes -> fail 1002', mk_unmasked(OP_BIN, bytes(200)))
add('M.3', 'unmasked ping -> fail 1002, no pong', mk_unmasked(OP_PING, b'ping'))
add('M.4', 'unmasked close -> fail 1002', mk_unmasked(OP_CLOSE, close_payload(1000)))
add('M.5', 'unmasked empty text frame -> fail 1002', mk_unmasked(OP_TEXT, b''))


@case('M.6', 'unmasked continuation inside a masked fragmented message -> fail')
def _(port):
    with Conn(port) as c:
        c.send(frame(OP_TEXT, 'abc', fin=False) + frame(OP_CONT, 'def', mask=False))
        expect_fail(c, 1002)


@case('M.7', 'all-zero masking key is valid')
def _(port):
    with Conn(port) as c:
        c.send(frame(OP_TEXT, 'zero mask', key=b'\0\0\0\0'))
        expect_msg(c, 'text', b'zero mask')
        close_ok(c)


@case('M.8', 'different masking key per fragment')
def _(port):
    p = bin_payload(1001)
    with Conn(port) as c:
        c.send(b''.join(frame(OP_BIN if i == 0 else OP_CONT, p[i:i + 77], fin=i + 77 >= len(p))
                        for i in range(0, len(p), 77)))
        expect_msg(c, 'binary', p)
        close_ok(c)


@case('L.1', '64-bit length with the most significant bit set -> fail')
def _(port):
    with Conn(port) as c:
        c.send(struct.pack('!BBQ', 0x82, 0xFF, (1 << 63) | 5) + b'\x01\x02\x03\x04' + b'abcde')
        expect_fail(c, (1002, 1009))


@case('L.2', 'non-minimal length encoding (5 in 16 bits): echo or fail 1002')
def _(port):
    # RFC 6455 §5.2 says the minimal encoding MUST be used; servers differ on
    # enforcing it. Either outcome passes; anything else (hang, crash) fails.
    with Conn(port) as c:
        c.send(frame(OP_TEXT, 'abcde', len_form=16))
        ev = next_ev(c, 'echo or failure')
        if ev[0] == 'text':
            check(ev[1] == b'abcde', 'bad echo ' + ev_desc(ev))
            close_ok(c)
        else:
            check(ev[0] == 'eof' or (ev[0] == 'close' and ev[1] == 1002),
                  'expected echo or failure, got %s' % ev_desc(ev))


@case('L.3', 'non-minimal length encoding (200 in 64 bits): echo or fail 1002')
def _(port):
    p = bin_payload(200)
    with Conn(port) as c:
        c.send(frame(OP_BIN, p, len_form=64))
        ev = next_ev(c, 'echo or failure')
        if ev[0] == 'binary':
            check(ev[1] == p, 'bad echo ' + ev_desc(ev))
            close_ok(c)
        else:
            check(ev[0] == 'eof' or (ev[0] == 'close' and ev[1] == 1002),
                  'expected echo or failure, got %s' % ev_desc(ev))


@case('L.4', 'frame header split at every byte (64-bit length), then payload')
def _(port):
    p = bin_payload(70000)
    f = frame(OP_BIN, p)
    with Conn(port) as c:
        for i in range(14):
            c.send(f[i:i + 1])
            time.sleep(0.002)
        c.send(f[14:])
        expect_msg(c, 'binary', p)
        close_ok(c)


# ---- opening handshake ---------------------------------------------------------

def raw_request(port, data, chop=None, shut=False, timeout=T):
    """Send raw bytes; return (status or None, headers, all bytes received
    until EOF or timeout, how the connection ended)."""
    s = socket.create_connection(('127.0.0.1', port), timeout=timeout)
    try:
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        try:
            if chop:
                for i in range(0, len(data), chop):
                    s.sendall(data[i:i + chop])
            else:
                s.sendall(data)
            if shut:
                s.shutdown(socket.SHUT_WR)
        except (BrokenPipeError, ConnectionResetError):
            pass
        got = bytearray()
        end = 'timeout'
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            s.settimeout(max(0.01, deadline - time.monotonic()))
            try:
                d = s.recv(65536)
            except socket.timeout:
                break
            except ConnectionResetError:
                end = 'reset'
                break
            if not d:
                end = 'eof'
                break
            got += d
            if b'\r\n\r\n' in got and got.startswith(b'HTTP/1.1 101'):
                end = 'open'
                break
        status, hdrs = None, {}
        if b'\r\n\r\n' in got:
            head = bytes(got[:got.index(b'\r\n\r\n')])
            lines = head.split(b'\r\n')
            parts = lines[0].split(b' ', 2)
            if len(parts) >= 2 and parts[0].startswith(b'HTTP/') and parts[1].isdigit():
                status = int(parts[1])
            for ln in lines[1:]:
                n, _, v = ln.partition(b':')
                hdrs.setdefault(n.strip().lower().decode('latin-1'), []).append(v.strip().decode('latin-1'))
        return status, hdrs, bytes(got), end
    finally:
        s.close()


def std_headers(port, key=None):
    return [('Host', '127.0.0.1:%d' % port), ('Upgrade', 'websocket'), ('Connection', 'Upgrade'),
            ('Sec-WebSocket-Key', key or base64.b64encode(os.urandom(16)).decode()),
            ('Sec-WebSocket-Version', '13')]


def build_req(headers, path='/echo', method='GET', version='HTTP/1.1', eol='\r\n'):
    return ('%s %s %s%s' % (method, path, version, eol)
            + ''.join('%s: %s%s' % (n, v, eol) for n, v in headers) + eol).encode()


def mk_handshake_ok(transform, chop=None):
    """transform(headers) -> headers; the upgrade must succeed and echo work."""
    def fn(port):
        key = base64.b64encode(os.urandom(16)).decode()
        hdrs = transform(std_headers(port, key))
        with Conn(port, handshake=False) as c:
            c.send(build_req(hdrs), chop=chop, delay=0.0005 if chop else 0)
            status, rh, _ = c.read_http_response()
            check(status == 101, 'status %s, expected 101' % status)
            check_101(rh, key)
            c.send(frame(OP_TEXT, 'after handshake'))
            expect_msg(c, 'text', b'after handshake')
            close_ok(c)
    return fn


def mk_handshake_err(transform, statuses, drop_ok=False, method='GET', version='HTTP/1.1',
                     need_version_hdr=False, eol='\r\n'):
    def fn(port):
        hdrs = transform(std_headers(port))
        status, rh, got, end = raw_request(port, build_req(hdrs, method=method, version=version, eol=eol))
        if status is None:
            check(drop_ok and not got, 'expected HTTP %s, got %s (%d bytes: %s)'
                  % (list(statuses), 'TCP ' + end, len(got), short(got)))
            check(end in ('eof', 'reset'), 'connection left open (%s) without a response' % end)
            return
        check(status in statuses, 'HTTP status %s, expected %s' % (status, list(statuses)))
        if status == 101:
            return
        if need_version_hdr:
            check('13' in [v.strip() for v in ','.join(rh.get('sec-websocket-version', [])).split(',')],
                  '426 without Sec-WebSocket-Version: 13 (headers: %r)' % rh)
        check(end in ('eof', 'reset'), 'server kept the connection open after HTTP %s' % status)
    return fn


def drop(name):
    return lambda h: [x for x in h if x[0].lower() != name.lower()]


def replace(name, value):
    return lambda h: [(n, value if n.lower() == name.lower() else v) for n, v in h]


add('H.1', 'standard upgrade request, Sec-WebSocket-Accept checked', mk_handshake_ok(lambda h: h))
add('H.2', 'lowercase header names', mk_handshake_ok(lambda h: [(n.lower(), v) for n, v in h]))
add('H.3', 'mixed-case header names and values (UPGRADE: WebSocket, connection: UPGRADE)',
    mk_handshake_ok(lambda h: [({'Upgrade': 'UPGRADE', 'Connection': 'connection', 'Host': 'hOsT'}
                                .get(n, n.upper()), {'websocket': 'WebSocket', 'Upgrade': 'UPGRADE'}
                                .get(v, v)) for n, v in h]))
add('H.4', 'Connection: keep-alive, Upgrade', mk_handshake_ok(replace('Connection', 'keep-alive, Upgrade')))
add('H.5', 'request sent 1 byte at a time', mk_handshake_ok(lambda h: h, chop=1))
add('H.6', 'extra unrelated headers (User-Agent, Origin, Cookie) ignored',
    mk_handshake_ok(lambda h: h + [('User-Agent', 'conformance/1'), ('Origin', 'http://example.com'),
                                   ('Cookie', 'a=b'), ('Accept', '*/*')]))
add('H.7', 'headers with extra whitespace around values',
    mk_handshake_ok(lambda h: [(n, '   %s\t ' % v) for n, v in h]))
add('H.8', 'missing Sec-WebSocket-Key -> 400', mk_handshake_err(drop('Sec-WebSocket-Key'), (400,)))
add('H.9', 'Sec-WebSocket-Key not 16 bytes when decoded -> 400',
    mk_handshake_err(replace('Sec-WebSocket-Key', base64.b64encode(b'x' * 15).decode()), (400,)))
add('H.10', 'Sec-WebSocket-Version: 8 -> 426 with Sec-WebSocket-Version: 13',
    mk_handshake_err(replace('Sec-WebSocket-Version', '8'), (426,), need_version_hdr=True))
add('H.11', 'missing Sec-WebSocket-Version -> 426 with Sec-WebSocket-Version: 13',
    mk_handshake_err(drop('Sec-WebSocket-Version'), (426,), need_version_hdr=True))
add('H.12', 'POST -> 400 or 405', mk_handshake_err(lambda h: h, (400, 405), method='POST'))
add('H.12.b', 'HEAD -> 400 or 405', mk_handshake_err(lambda h: h, (400, 405), method='HEAD'))
# RFC 9110 §9.1: the method token is case-sensitive; "get" is not GET.
add('H.12.c', 'lowercase method "get" -> not upgraded (400/405/501 or drop)',
    mk_handshake_err(lambda h: h, (400, 405, 501), drop_ok=True, method='get'))
add('H.13', 'HTTP/1.0 -> 400 or drop', mk_handshake_err(lambda h: h, (400,), drop_ok=True,
                                                          version='HTTP/1.0'))
add('H.14', 'missing Upgrade header -> 400 (426 accepted)', mk_handshake_err(drop('Upgrade'), (400, 426)))
add('H.15', 'Upgrade: h2c -> 400 (426 accepted)', mk_handshake_err(replace('Upgrade', 'h2c'), (400, 426)))
add('H.16', 'missing Connection header -> 400 (426 accepted)',
    mk_handshake_err(drop('Connection'), (400, 426)))
add('H.17', 'Connection: keep-alive only -> 400 (426 accepted)',
    mk_handshake_err(replace('Connection', 'keep-alive'), (400, 426)))
add('H.18', 'missing Host -> 400', mk_handshake_err(drop('Host'), (400,)))
# RFC 9112 §3.2: more than one Host field line MUST get 400.
add('H.18.b', 'two Host header lines -> 400 (or drop), not 101',
    mk_handshake_err(lambda h: h + [('Host', 'other.example')], (400,), drop_ok=True))
add('H.18.c', 'Sec-WebSocket-Key not valid base64 -> 400',
    mk_handshake_err(replace('Sec-WebSocket-Key', '!!!!!!!!!!!!!!!!!!!!!!=='), (400,)))
# RFC 6455 §11.3.1: Sec-WebSocket-Key MUST NOT appear more than once.
add('H.18.d', 'two Sec-WebSocket-Key headers -> 400',
    mk_handshake_err(lambda h: h + [('Sec-WebSocket-Key', base64.b64encode(os.urandom(16)).decode())],
                     (400,)))
# RFC 9112 §5.1: whitespace between field name and colon MUST be rejected (400).
add('H.18.e', 'whitespace before the colon ("Upgrade : websocket") -> 400 or drop, not 101',
    mk_handshake_err(lambda h: [(n + ' ' if n == 'Upgrade' else n, v) for n, v in h], (400,),
                     drop_ok=True))
add('H.19', 'plain GET without upgrade headers -> 400 (426 accepted)',
    mk_handshake_err(lambda h: [x for x in h if x[0] == 'Host'], (400, 426)))
add('H.20', '10 KiB request head -> 431/400, drop, or 101 (never a hang)',
    mk_handshake_err(lambda h: h + [('X-Filler-%d' % i, 'y' * 1000) for i in range(10)],
                     (101, 400, 431), drop_ok=True))
add('H.21', '70 header fields -> 431/400, drop, or 101 (never a hang)',
    mk_handshake_err(lambda h: h + [('X-F%d' % i, 'z') for i in range(70)], (101, 400, 431),
                     drop_ok=True))


def mk_silent_drop(data_fn, shut=False, chop=None):
    def fn(port):
        status, _, got, end = raw_request(port, data_fn(port), chop=chop, shut=shut)
        check(not got, 'expected zero bytes then TCP close, got %d bytes: %s' % (len(got), short(got)))
        check(end in ('eof', 'reset'), 'connection left open (no TCP close within %ss)' % T)
    return fn


add('H.22.b', 'bad upgrade request to an unknown path: zero bytes, TCP close',
    mk_silent_drop(lambda port: b'GET /nope HTTP/1.1\r\nHost: x\r\n\r\n'))
add('H.22', 'unknown path /nope: zero bytes, TCP close',
    mk_silent_drop(lambda port: build_req(std_headers(port), path='/nope')))
add('H.23', 'unknown path / : zero bytes, TCP close',
    mk_silent_drop(lambda port: build_req(std_headers(port), path='/')))
add('H.24', 'unknown path /echox (prefix of a known path): zero bytes, TCP close',
    mk_silent_drop(lambda port: build_req(std_headers(port), path='/echox')))
add('H.25', 'garbage bytes (TLS-like) ending in CRLFCRLF: zero bytes, TCP close',
    mk_silent_drop(lambda port: b'\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03' + bytes(
        rng.getrandbits(8) for _ in range(300)) + b'\r\n\r\n'))
add('H.26', 'garbage bytes then half-close: zero bytes, TCP close',
    mk_silent_drop(lambda port: bytes(rng.getrandbits(8) for _ in range(200)), shut=True))
add('H.27', 'unknown path, request in 1-byte writes: zero bytes, TCP close',
    mk_silent_drop(lambda port: build_req(std_headers(port), path='/other'), chop=1))


@case('H.28', 'bare-LF line endings: 101, 400 or drop; at the latest closed after our EOF')
def _(port):
    # RFC 9112 §2.2 lets a recipient accept a bare LF; a strict CRLF-only
    # parser may instead keep waiting for a CRLF head end. Either way the
    # server must not hang on it: after a 2 s grace period we half-close and
    # the server must then close too.
    s = socket.create_connection(('127.0.0.1', port), timeout=T)
    try:
        s.sendall(build_req(std_headers(port), eol='\n'))
        got = bytearray()
        s.settimeout(2.0)
        shut = False
        deadline = time.monotonic() + 2.0 + T
        while True:
            try:
                d = s.recv(4096)
            except socket.timeout:
                if shut or time.monotonic() > deadline:
                    raise CaseFail('connection still open %ss after our half-close' % T)
                s.shutdown(socket.SHUT_WR)
                s.settimeout(T)
                shut = True
                continue
            except ConnectionResetError:
                break
            if not d:
                break
            got += d
            if b'\r\n\r\n' in got:
                break
        if got:
            check(got.startswith(b'HTTP/1.1 101 ') or got.startswith(b'HTTP/1.1 400 '),
                  'unexpected response %s' % short(bytes(got)))
    finally:
        s.close()


@case('H.29', 'first frame in the same write as the handshake')
def _(port):
    key = base64.b64encode(os.urandom(16)).decode()
    with Conn(port, handshake=False) as c:
        c.send(build_req(std_headers(port, key)) + frame(OP_TEXT, 'pipelined') + frame(OP_PING, b'p'))
        status, rh, _ = c.read_http_response()
        check(status == 101, 'status %s' % status)
        check_101(rh, key)
        expect_events(c, [('text', b'pipelined'), ('pong', b'p')])
        close_ok(c)


@case('H.30', 'subprotocol offered: not answered with one that was not offered')
def _(port):
    key = base64.b64encode(os.urandom(16)).decode()
    with Conn(port, handshake=False) as c:
        c.send(build_req(std_headers(port, key) + [('Sec-WebSocket-Protocol', 'chat, superchat')]))
        status, rh, _ = c.read_http_response()
        check(status == 101, 'status %s' % status)
        check_101(rh, key)
        for v in rh.get('sec-websocket-protocol', []):
            check(v.strip() in ('chat', 'superchat'), 'unoffered subprotocol %r selected' % v)
        c.send(frame(OP_TEXT, 'x'))
        expect_msg(c, 'text', b'x')
        close_ok(c)


@case('H.31', 'permessage-deflate offered: echo still works')
def _(port):
    key = base64.b64encode(os.urandom(16)).decode()
    with Conn(port, handshake=False) as c:
        c.send(build_req(std_headers(port, key)
                         + [('Sec-WebSocket-Extensions', 'permessage-deflate; client_max_window_bits')]))
        status, rh, _ = c.read_http_response()
        check(status == 101, 'status %s' % status)
        check_101(rh, key)
        if rh.get('sec-websocket-extensions'):
            return   # negotiated: this raw client does not speak deflate; nothing more to check
        c.send(frame(OP_TEXT, 'uncompressed'))
        expect_msg(c, 'text', b'uncompressed')
        close_ok(c)


@case('H.32', 'Sec-WebSocket-Extensions not sent back when none offered')
def _(port):
    with Conn(port) as c:
        hdrs = c.resp_head
        check(b'sec-websocket-extensions' not in hdrs.lower(), 'unrequested extension in 101')
        check(b'sec-websocket-protocol' not in hdrs.lower(), 'unrequested subprotocol in 101')
        close_ok(c)


# ---- robustness ---------------------------------------------------------------

@case('R.1', 'stalled handshake on one connection does not block another')
def _(port):
    stall = socket.create_connection(('127.0.0.1', port), timeout=T)
    try:
        stall.sendall(b'GET /echo HTTP/1.1\r\nHost: x\r\n')
        with Conn(port) as c:
            c.send(frame(OP_TEXT, 'not blocked'))
            expect_msg(c, 'text', b'not blocked')
            close_ok(c)
    finally:
        stall.close()


@case('R.2', 'stalled frame on one connection does not block another')
def _(port):
    with Conn(port) as a, Conn(port) as b:
        a.send(frame(OP_BIN, bytes(1000))[:300])
        b.send(frame(OP_TEXT, 'b works'))
        expect_msg(b, 'text', b'b works')
        close_ok(b)


@case('R.3', 'abrupt RST in the middle of a frame, then a new connection works')
def _(port):
    a = Conn(port)
    a.send(frame(OP_BIN, bytes(100000))[:5000])
    a.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack('ii', 1, 0))
    a.close()
    time.sleep(0.05)
    with Conn(port) as c:
        c.send(frame(OP_TEXT, 'still alive'))
        expect_msg(c, 'text', b'still alive')
        close_ok(c)


@case('R.4', 'client never reads: 4 MiB echo backlog, client disconnects, server survives')
def _(port):
    a = Conn(port)
    a.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    a.send_bg(frame(OP_BIN, bin_payload(4 << 20)))
    time.sleep(0.5)
    a.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack('ii', 1, 0))
    a.close()
    with Conn(port) as c:
        c.send(frame(OP_TEXT, 'still alive'))
        expect_msg(c, 'text', b'still alive')
        close_ok(c)


@case('R.5', '20 connections open at once, each echoes, interleaved')
def _(port):
    conns = [Conn(port) for _ in range(20)]
    try:
        for i, c in enumerate(conns):
            c.send(frame(OP_TEXT, 'conn %d' % i))
        for i, c in reversed(list(enumerate(conns))):
            expect_msg(c, 'text', b'conn %d' % i)
        for c in conns:
            close_ok(c)
    finally:
        for c in conns:
            c.close()


@case('R.6', 'after the close handshake a client that never closes is dropped within 5 s')
def _(port):
    with Conn(port) as c:
        c.send(frame(OP_CLOSE, close_payload(1000)))
        expect_close(c, 1000)       # close frame + FIN from the server
        deadline = time.monotonic() + T
        while time.monotonic() < deadline:
            time.sleep(0.25)
            try:
                c.sock.send(b'\0')   # accepted while the server drains; RST once it is gone
            except (BrokenPipeError, ConnectionResetError):
                return
        raise CaseFail('server still holds the half-closed connection after %ss' % T)


# ---------------------------------------------------------------- harness

def free_port():
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.bind(('127.0.0.1', 0))
    p = s.getsockname()[1]
    s.close()
    return p


def start_server():
    port = free_port()
    err = tempfile.NamedTemporaryFile(prefix='wsferry-conf-', suffix='.stderr', delete=False)
    proc = subprocess.Popen([WSFERRY, 'server', '--echo', '/echo', 'ws://127.0.0.1:%d' % port],
                            stdin=subprocess.DEVNULL, stdout=err, stderr=err)
    deadline = time.monotonic() + 5
    while True:
        if proc.poll() is not None:
            return proc, port, err, 'server exited with %s before accepting' % proc.returncode
        try:
            socket.create_connection(('127.0.0.1', port), timeout=0.5).close()
            return proc, port, err, None
        except OSError:
            if time.monotonic() > deadline:
                return proc, port, err, 'port %d not accepting after 5 s' % port
            time.sleep(0.05)


def stop_server(proc):
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(2)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)
            return 'did not exit within 2 s of SIGTERM (killed)'
    rc = proc.returncode
    if rc < 0 and rc != -signal.SIGTERM:
        return 'terminated by signal %d' % -rc
    return None


def server_log_problems(path):
    try:
        with open(path, 'rb') as f:
            text = f.read().decode('utf-8', 'replace')
    except OSError:
        return None, ''
    for marker in ('ERROR: AddressSanitizer', 'ERROR: LeakSanitizer', 'runtime error:'):
        i = text.find(marker)
        if i >= 0:
            return marker, text[max(0, i - 200):i + 1500]
    return None, text


def main(argv):
    verbose = '-v' in argv
    filters = [a for a in argv if a != '-v']
    cases = [c for c in CASES if not filters or any(f in c[0] for f in filters)]
    passed = failed = 0
    t0 = time.monotonic()
    proc, port, err, start_err = start_server()
    try:
        if start_err:
            print('FAIL server-start: %s (%s)' % (start_err, WSFERRY))
            failed += 1
            cases = []
        for cid, desc, fn in cases:
            if proc.poll() is not None:
                print('FAIL %s %s: server not running (exit status %s)' % (cid, desc, proc.returncode))
                failed += 1
                continue
            ct = time.monotonic()
            try:
                fn(port)
                passed += 1
                if verbose:
                    print('ok   %s %s (%.2fs)' % (cid, desc, time.monotonic() - ct))
            except CaseFail as e:
                failed += 1
                print('FAIL %s %s: %s' % (cid, desc, e))
            except TimeoutError:
                failed += 1
                print('FAIL %s %s: timed out' % (cid, desc))
            except Exception as e:  # noqa: BLE001 - any client-side error is a case failure
                failed += 1
                print('FAIL %s %s: %s: %s' % (cid, desc, type(e).__name__, e))
            sys.stdout.flush()
    finally:
        stop_err = stop_server(proc)
        err.close()
        marker, log = server_log_problems(err.name)
        if stop_err or marker:
            failed += 1
            why = stop_err or ''
            if marker:
                why = (why + '; ' if why else '') + 'sanitizer report (%s) in server stderr' % marker
            print('FAIL server-exit: %s' % why)
            tail = log if marker else log[-2000:]
            for ln in tail.rstrip().splitlines()[-40:]:
                print('    | ' + ln)
        else:
            passed += 1
        try:
            os.unlink(err.name)
        except OSError:
            pass
    if verbose:
        print('total %.1fs' % (time.monotonic() - t0))
    print('%d passed, %d failed' % (passed, failed))
    return 1 if failed else 0


if __name__ == '__main__':
    sys.exit(main(sys.argv[1:]))
