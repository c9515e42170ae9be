#!/usr/bin/python3
"""The ming-mong ping endpoint (`wsferry server --ping`) and `wsferry ping`,
against SPEC.md's "ming-mong ping protocol (exact compatibility)": signatures
of today, yesterday and two days ago, case, the three error codes and their
order, lenient JSON, binary and fragmented messages, the 5 s deadline (also
when bytes trickle), only the first message answered then Close 1000 and FIN,
a plain GET /ws -> 400, --ping=NAME, the published example clients (Python
`websockets`, Node `ws`) and `wsferry ping` itself.

Interface (test/run.sh): binary from env WSFERRY (default ./build/wsferry);
servers are started here on free 127.0.0.1 ports and stopped by PID (SIGTERM),
then checked for exit 0 and no sanitizer report; one line per failed case;
last line exactly `N passed, N failed`; exit 1 on failure. `-v` also prints
passing cases; other arguments filter case names.
"""

import base64
import datetime
import hashlib
import json
import os
import re
import shutil
import socket
import struct
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import wsfutil as w  # noqa: E402
from wsfutil import check, CaseFail  # noqa: E402

DEFAULT_NAME = 'ming-mong-server'
CUSTOM_NAME = 'custom-name'
DEADLINE = 5.0            # SPEC: a whole message within 5 s of the upgrade
DEADLINE_SLACK = 1.5      # how late the disconnect may come (sanitized builds)
GUID = b'258EAFA5-E914-47DA-95CA-C5AB0DC85B11'
OP_CONT, OP_TEXT, OP_BIN, OP_CLOSE, OP_PING, OP_PONG = 0, 1, 2, 8, 9, 10
TIME_RE = re.compile(r'^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$')


# ---------------------------------------------------------------- signatures

def utc_now():
    return datetime.datetime.now(datetime.timezone.utc)


def avoid_midnight():
    """Signature cases must not straddle a UTC day change: wait it out."""
    now = utc_now()
    left = 86400 - (now.hour * 3600 + now.minute * 60 + now.second + now.microsecond / 1e6)
    if left < 3:
        time.sleep(left + 0.5)


def signature(days_ago=0, name=DEFAULT_NAME):
    date = (utc_now() - datetime.timedelta(days=days_ago)).strftime('%Y-%m-%d')
    return hashlib.sha256((date + name).encode()).hexdigest()[:16]


def ping_json(sig=None, **extra):
    msg = {'type': 'ping', 'signature': signature() if sig is None else sig,
           'timestamp': utc_now().isoformat()}
    msg.update(extra)
    return json.dumps(msg)


# ---------------------------------------------------------------- raw client

def frame(op, payload=b'', fin=True, mask=True):
    if isinstance(payload, str):
        payload = payload.encode()
    n = len(payload)
    b0 = (0x80 if fin else 0) | op
    mbit = 0x80 if mask else 0
    if n < 126:
        head = struct.pack('!BB', b0, mbit | n)
    elif n < 65536:
        head = struct.pack('!BBH', b0, mbit | 126, n)
    else:
        head = struct.pack('!BBQ', b0, mbit | 127, n)
    if not mask:
        return head + payload
    key = os.urandom(4)
    return head + key + bytes(b ^ key[i % 4] for i, b in enumerate(payload))


class Conn:
    """A raw WebSocket client connection to the ping endpoint."""

    def __init__(self, port, path='/ws', headers=(), timeout=w.T):
        self.s = w.connect(port, timeout=timeout)
        key = base64.b64encode(os.urandom(16)).decode()
        lines = ['GET %s HTTP/1.1' % path, 'Host: 127.0.0.1:%d' % port,
                 'Upgrade: websocket', 'Connection: Upgrade',
                 'Sec-WebSocket-Key: %s' % key, 'Sec-WebSocket-Version: 13']
        lines += list(headers)
        self.s.sendall(('\r\n'.join(lines) + '\r\n\r\n').encode())
        self.buf = b''
        head = self._head()
        status = head.split(b'\r\n')[0]
        check(status.startswith(b'HTTP/1.1 101'), 'upgrade answered %r' % status)
        want = base64.b64encode(hashlib.sha1(key.encode() + GUID).digest())
        fields = dict((k.strip().lower(), v.strip()) for k, _, v in
                      (l.partition(b':') for l in head.split(b'\r\n')[1:]))
        check(fields.get(b'sec-websocket-accept') == want,
              'wrong or missing Sec-WebSocket-Accept in %r' % head)

    def _more(self, what):
        try:
            d = self.s.recv(65536)
        except socket.timeout:
            raise CaseFail('timeout waiting for %s' % what)
        except ConnectionResetError:
            raise CaseFail('connection reset while waiting for %s' % what)
        if not d:
            raise CaseFail('connection closed while waiting for %s (had %r)'
                           % (what, self.buf[:60]))
        self.buf += d

    def _head(self):
        for _ in range(1000):
            i = self.buf.find(b'\r\n\r\n')
            if i >= 0:
                head, self.buf = self.buf[:i], self.buf[i + 4:]
                return head
            self._more('the upgrade response')
        raise CaseFail('response head too long')

    def _need(self, n, what):
        for _ in range(n + 2):
            if len(self.buf) >= n:
                return
            self._more(what)

    def send(self, data):
        self.s.sendall(data)

    def read_frame(self, what='a frame'):
        """(fin, opcode, payload) of one server frame, validated."""
        self._need(2, what)
        b0, b1 = self.buf[0], self.buf[1]
        check(b0 & 0x70 == 0, 'server frame with RSV bits: 0x%02x' % b0)
        check(b1 & 0x80 == 0, 'server frame is masked')
        n, off = b1 & 0x7F, 2
        if n == 126:
            self._need(4, what)
            n, off = struct.unpack('!H', self.buf[2:4])[0], 4
        elif n == 127:
            self._need(10, what)
            n, off = struct.unpack('!Q', self.buf[2:10])[0], 10
        self._need(off + n, what)
        payload, self.buf = self.buf[off:off + n], self.buf[off + n:]
        op = b0 & 0x0F
        if op >= 8:
            check(b0 & 0x80 and n <= 125, 'bad control frame op %d len %d' % (op, n))
        return bool(b0 & 0x80), op, payload

    def read_message(self, what='the reply'):
        """The next data message (pongs are returned as ('pong', payload))."""
        fin, op, data = self.read_frame(what)
        if op == OP_PONG:
            return 'pong', data
        check(op in (OP_TEXT, OP_BIN), '%s: got opcode %d (%r)' % (what, op, data[:60]))
        for _ in range(1000):
            if fin:
                break
            fin, cop, more = self.read_frame(what)
            check(cop == OP_CONT, 'continuation expected, got opcode %d' % cop)
            data += more
        return op, data

    def expect_close_and_fin(self, code=1000):
        fin, op, data = self.read_frame('the close frame')
        check(op == OP_CLOSE, 'expected a close frame, got opcode %d (%r)' % (op, data[:80]))
        got = struct.unpack('!H', data[:2])[0] if len(data) >= 2 else None
        check(got == code, 'close code %s, expected %d' % (got, code))
        self.s.sendall(frame(OP_CLOSE, data[:2]))
        self.expect_eof()

    def expect_eof(self):
        """The server's FIN (not a RST), with nothing more before it."""
        rest = w.recv_until_eof(self.s, limit=1 << 16, what="the server's FIN")
        check(self.buf + rest == b'', 'bytes before the FIN: %r' % (self.buf + rest)[:80])

    def close(self):
        try:
            self.s.close()
        except OSError:
            pass


def reply_of(port, payload, op=OP_TEXT, headers=()):
    """Sends one message, returns the parsed reply; checks Close 1000 + FIN."""
    c = Conn(port, headers=headers)
    try:
        c.send(frame(op, payload))
        rop, data = c.read_message()
        check(rop == OP_TEXT, 'reply should be a text frame, got opcode %s' % rop)
        reply = json.loads(data.decode())
        c.expect_close_and_fin()
        return reply, data
    finally:
        c.close()


def check_time(t, what):
    check(isinstance(t, str) and TIME_RE.match(t), '%s %r is not YYYY-MM-DDTHH:MM:SS.mmmZ'
          % (what, t))
    got = datetime.datetime.strptime(t, '%Y-%m-%dT%H:%M:%S.%fZ').replace(
        tzinfo=datetime.timezone.utc)
    skew = abs((got - utc_now()).total_seconds())
    check(skew < 5, '%s %s is %.1f s away from this clock' % (what, t, skew))


def expect_pong(port, payload, op=OP_TEXT, headers=()):
    reply, raw = reply_of(port, payload, op, headers)
    check(list(reply) == ['type', 'status', 'timestamp', 'server_time'],
          'pong keys %s, expected type, status, timestamp, server_time: %s'
          % (list(reply), raw))
    check(reply['type'] == 'pong' and reply['status'] == 'ok', 'not a pong: %s' % raw)
    check_time(reply['timestamp'], 'timestamp')
    check(reply['server_time'] == reply['timestamp'], 'server_time differs: %s' % raw)


def expect_error(port, payload, code, op=OP_TEXT):
    reply, raw = reply_of(port, payload, op)
    check(list(reply) == ['type', 'error', 'timestamp'],
          'error keys %s, expected type, error, timestamp: %s' % (list(reply), raw))
    check(reply['type'] == 'error' and reply['error'] == code,
          'expected error %s, got %s' % (code, raw))
    check_time(reply['timestamp'], 'timestamp')


# ---------------------------------------------------------------- cases

def case_fragmented(port):
    """A text message in four fragments, a client ping between them."""
    msg = ping_json().encode()
    parts = [msg[:5], msg[5:20], msg[20:21], msg[21:]]
    c = Conn(port)
    try:
        c.send(frame(OP_TEXT, parts[0], fin=False))
        c.send(frame(OP_CONT, parts[1], fin=False))
        c.send(frame(OP_PING, b'hey'))
        op, data = c.read_message('the pong')
        check(op == 'pong' and data == b'hey', 'expected pong "hey", got %r %r' % (op, data))
        c.send(frame(OP_CONT, parts[2], fin=False) + frame(OP_CONT, parts[3], fin=True))
        op, data = c.read_message()
        reply = json.loads(data.decode())
        check(reply.get('type') == 'pong', 'not a pong: %r' % data)
        c.expect_close_and_fin()
    finally:
        c.close()


def case_only_first(port):
    """Two messages in one write: one reply, Close 1000, FIN."""
    c = Conn(port)
    try:
        c.send(frame(OP_TEXT, '{"type":"nope"}') + frame(OP_TEXT, ping_json()))
        op, data = c.read_message()
        reply = json.loads(data.decode())
        check(reply.get('error') == 'invalid_type', 'first message not the one answered: %r'
              % data)
        c.expect_close_and_fin()
    finally:
        c.close()


def case_pipelined(port):
    """The message in the same write as the upgrade request."""
    s = w.connect(port)
    try:
        key = base64.b64encode(os.urandom(16)).decode()
        req = ('GET /ws HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n'
               'Sec-WebSocket-Key: %s\r\nSec-WebSocket-Version: 13\r\n\r\n' % key).encode()
        s.sendall(req + frame(OP_TEXT, ping_json()))
        data = w.recv_until_eof(s, limit=4096, what='101, reply, close')
        check(data.startswith(b'HTTP/1.1 101'), 'no 101: %r' % data[:40])
        check(b'"type":"pong"' in data, 'no pong in %r' % data)
        check(data.endswith(b'\x88\x02\x03\xe8'), 'does not end with Close 1000: %r' % data[-8:])
    finally:
        s.close()


def case_too_big(port):
    msg = ping_json(pad='x' * 5000)
    expect_error(port, msg, 'invalid_format')


def silence_thread(port, trickle, out):
    """Upgrades, then sends nothing (or a byte of a message every 0.4 s);
    records when the server's FIN came and what came before it."""
    try:
        c = Conn(port, timeout=DEADLINE + 10)
        t0 = time.monotonic()
        c.s.settimeout(0.4 if trickle else DEADLINE + 10)
        wire = frame(OP_TEXT, ping_json(pad='y' * 40))
        sent, got = 0, b''
        for _ in range(100):
            if trickle and sent < len(wire) - 1:
                try:
                    c.s.sendall(wire[sent:sent + 1])
                except OSError:
                    pass
                sent += 1
            try:
                d = c.s.recv(4096)
            except socket.timeout:
                continue
            except ConnectionResetError:
                out['error'] = 'reset instead of FIN'
                break
            if not d:
                out['elapsed'] = time.monotonic() - t0
                break
            got += d
        out['got'] = got
        out['sent'] = sent
        c.close()
    except Exception as e:  # reported by the case
        out['error'] = '%s: %s' % (type(e).__name__, e)


def check_silence(th, out, trickle):
    th.join(DEADLINE + 15)
    check(not th.is_alive(), 'client thread still waiting')
    check('error' not in out, out.get('error', ''))
    check('elapsed' in out, 'not disconnected within %d s' % (DEADLINE + 10))
    e = out['elapsed']
    check(DEADLINE - 0.3 <= e <= DEADLINE + DEADLINE_SLACK,
          'disconnected after %.2f s, expected %.0f s%s' % (e, DEADLINE,
                                                              ' (bytes trickled)' if trickle else ''))
    check(out['got'] == b'', 'bytes before the disconnect: %r' % out['got'][:60])
    if trickle:
        check(out['sent'] >= 10, 'only %d bytes trickled' % out['sent'])


def case_plain_get(port):
    s = w.connect(port)
    try:
        s.sendall(b'GET /ws HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n')
        data = w.recv_until_eof(s, limit=4096, what='the 400')
        check(data.startswith(b'HTTP/1.1 400 '), 'plain GET /ws answered %r' % data[:60])
    finally:
        s.close()


def case_origins(port):
    for origin in ('null', 'file://', 'https://evil.example', 'http://localhost:3000'):
        expect_pong(port, ping_json(), headers=['Origin: %s' % origin])


PY_CLIENT = r'''
import asyncio, hashlib, json, sys
from datetime import datetime
import websockets

def generate_signature(name):
    date = datetime.utcnow().strftime('%Y-%m-%d')
    return hashlib.sha256((date + name).encode()).hexdigest()[:16]

async def ping_server(uri, name):
    async with websockets.connect(uri) as websocket:
        message = {"type": "ping", "signature": generate_signature(name),
                   "timestamp": datetime.utcnow().isoformat() + "Z"}
        await websocket.send(json.dumps(message))
        response = await websocket.recv()
        print(response)
        try:
            await asyncio.wait_for(websocket.wait_closed(), 5)
        except asyncio.TimeoutError:
            print("no close within 5 s")
        print("close", websocket.close_code)

asyncio.run(ping_server(sys.argv[1], sys.argv[2]))
'''

NODE_CLIENT = r'''
const WebSocket = require('ws');
const crypto = require('crypto');
const [uri, name] = process.argv.slice(1);
function generateSignature() {
    const date = new Date().toISOString().split('T')[0];
    return crypto.createHash('sha256').update(date + name).digest('hex').slice(0, 16);
}
const ws = new WebSocket(uri);
ws.on('open', () => {
    ws.send(JSON.stringify({type: 'ping', signature: generateSignature(),
                            timestamp: new Date().toISOString()}));
});
ws.on('message', (data) => { console.log(data.toString()); ws.close(); });
ws.on('close', (code) => { console.log('close ' + code); process.exit(0); });
ws.on('error', (e) => { console.log('error ' + e.message); process.exit(1); });
setTimeout(() => { console.log('timeout'); process.exit(1); }, 8000);
'''


def run_client(args, env=None, timeout=20):
    try:
        return subprocess.run(args, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, timeout=timeout, env=env)
    except subprocess.TimeoutExpired:
        raise CaseFail('%s did not finish in %d s' % (args[0], timeout))


def check_client_output(r, what, want):
    out = r.stdout.decode(errors='replace').strip().split('\n')
    err = r.stderr.decode(errors='replace').strip()
    check(r.returncode == 0, '%s exited %d: %s %s' % (what, r.returncode, out, err[-300:]))
    check(len(out) >= 2, '%s printed %r' % (what, out))
    reply = json.loads(out[0])
    check(reply.get('type') == want, '%s got %s' % (what, out[0]))
    check(out[-1] == 'close 1000', '%s: %s, expected close 1000' % (what, out[-1]))


def case_python_websockets(port, name, want):
    r = run_client(['/usr/bin/python3', '-c', PY_CLIENT, 'ws://127.0.0.1:%d/ws' % port, name])
    if r.returncode != 0 and b'No module named' in r.stderr:
        raise CaseFail('missing test peer: python3 cannot import websockets (Debian package '
                       'python3-websockets; `sh test/deps.sh test` as root installs every peer)')
    check_client_output(r, 'python websockets', want)


def case_node_ws(port, name, want):
    node = shutil.which('node') or w.require_peer('nodejs', 'nodejs')
    env = dict(os.environ, NODE_PATH='/usr/share/nodejs')
    r = run_client([node, '-e', NODE_CLIENT, 'ws://127.0.0.1:%d/ws' % port, name], env=env)
    if r.returncode != 0 and b"Cannot find module 'ws'" in r.stderr:
        raise CaseFail("missing test peer: node cannot require('ws') from /usr/share/nodejs "
                       '(Debian package node-ws; `sh test/deps.sh test` as root installs every '
                       'peer)')
    check_client_output(r, 'node ws', want)


def wsferry_ping(url, *args):
    return run_client([w.WSFERRY, 'ping', url] + list(args))


def case_cli_pong(port):
    r = wsferry_ping('ws://127.0.0.1:%d/ws' % port)
    out = r.stdout.decode(errors='replace')
    check(r.returncode == 0, 'exit %d: %s %s' % (r.returncode, out, r.stderr.decode()))
    lines = out.strip().split('\n')
    check(json.loads(lines[0]).get('type') == 'pong', 'printed %r' % out)
    check(re.search(r'round trip [0-9.]+ ms', out), 'no round trip in %r' % out)


def case_cli_other_name(port):
    r = wsferry_ping('ws://127.0.0.1:%d/ws' % port)
    err = r.stderr.decode(errors='replace')
    check(r.returncode == 1, 'exit %d, expected 1: %s' % (r.returncode, err))
    check('invalid_signature' in err and err.count('\n') == 1,
          'expected one line naming invalid_signature, got %r' % err)
    r = wsferry_ping('ws://127.0.0.1:%d' % port, '--name', CUSTOM_NAME, '--timeout', '5')
    check(r.returncode == 0, 'with --name: exit %d: %s' % (r.returncode, r.stderr.decode()))


def case_cli_failures(port, refused):
    r = wsferry_ping('ws://127.0.0.1:%d/ws' % refused)
    err = r.stderr.decode(errors='replace')
    check(r.returncode == 1 and 'refused' in err.lower() and err.count('\n') == 1,
          'refused port: exit %d, %r' % (r.returncode, err))
    # wss:// to a plain server: a TLS failure, named, exit 1
    r = wsferry_ping('wss://127.0.0.1:%d/ws' % port, '--insecure', '--timeout', '5')
    err = r.stderr.decode(errors='replace')
    check(r.returncode == 1 and 'TLS' in err and err.count('\n') == 1,
          'wss to a ws server: exit %d, %r' % (r.returncode, err))
    for bad in (['--timeout', '0'], ['--name', ''], ['--bogus'], []):
        r = run_client([w.WSFERRY, 'ping'] + (['ws://127.0.0.1:%d/ws' % port] if bad else [])
                       + bad)
        check(r.returncode == 2, 'ping %s: exit %d, expected 2' % (bad, r.returncode))
    r = wsferry_ping('ws://127.0.0.1:%d/other' % port, '--timeout', '3')
    check(r.returncode == 1, 'stealth-dropped path: exit %d' % r.returncode)


def case_cli_wss():
    """--ping on a wss:// listener with a certificate made at start."""
    port = w.free_port()
    srv = w.Proc([w.WSFERRY, 'server', '--ping', 'wss://127.0.0.1:%d' % port], 'ping-wss')
    w.wait_port(port, proc=srv)
    fp = None
    for _ in range(50):
        for word in srv.stderr_text().split():
            if len(word) == 64 and all(ch in '0123456789abcdef' for ch in word):
                fp = word
        if fp:
            break
        time.sleep(0.1)
    check(fp is not None, 'no fingerprint printed: %r' % srv.stderr_text())
    url = 'wss://127.0.0.1:%d/ws' % port
    for extra in (['--pin', fp], ['--insecure']):
        r = wsferry_ping(url, '--timeout', '5', *extra)
        check(r.returncode == 0 and b'"pong"' in r.stdout,
              '%s: exit %d, %r' % (extra, r.returncode, r.stderr))
    r = wsferry_ping(url, '--timeout', '5')
    err = r.stderr.decode(errors='replace')
    check(r.returncode == 1 and 'unknown CA' in err, 'unverified: exit %d, %r' % (r.returncode, err))
    srv.stop()


def case_cli_timeout(port):
    """A listener that accepts and never answers: exit 1 at --timeout."""
    ls = socket.socket()
    ls.bind(('127.0.0.1', 0))
    ls.listen(4)
    try:
        t0 = time.monotonic()
        r = wsferry_ping('ws://127.0.0.1:%d/ws' % ls.getsockname()[1], '--timeout', '700ms')
        e = time.monotonic() - t0
        err = r.stderr.decode(errors='replace')
        check(r.returncode == 1 and 'timed out' in err, 'exit %d, %r' % (r.returncode, err))
        check(0.6 <= e < 3, 'took %.2f s for a 700ms timeout' % e)
    finally:
        ls.close()


def case_per_ip(port):
    """Held ping sessions count against --max-conns-per-ip 3 and are released."""
    held = [Conn(port) for _ in range(3)]
    try:
        try:
            extra = Conn(port, timeout=3)
            extra.close()
            raise CaseFail('a 4th connection got its upgrade past --max-conns-per-ip 3')
        except (CaseFail, OSError) as e:
            if 'a 4th connection' in str(e):
                raise
        for c in held:
            c.send(frame(OP_CLOSE, struct.pack('!H', 1000)))
            fin, op, data = c.read_frame('the echoed close')
            check(op == OP_CLOSE and data[:2] == struct.pack('!H', 1000),
                  'close before a message: got opcode %d %r' % (op, data))
            c.expect_eof()
    finally:
        for c in held:
            c.close()
    time.sleep(0.3)
    for _ in range(6):
        expect_pong(port, ping_json())


def main(suite):
    run = suite.run
    port, cport, lport = w.free_ports(3)
    w.Proc([w.WSFERRY, 'server', '--ping', 'ws://127.0.0.1:%d' % port], 'server')
    w.wait_port(port)
    w.Proc([w.WSFERRY, 'server', '--ping=' + CUSTOM_NAME, 'ws://127.0.0.1:%d' % cport],
           'server-custom')
    w.wait_port(cport)
    w.Proc([w.WSFERRY, 'server', '--ping', '--max-conns-per-ip', '3',
            'ws://127.0.0.1:%d' % lport], 'server-limited')
    w.wait_port(lport)
    time.sleep(0.2)  # wait_port's probe connection is gone before counting

    # the slow cases run in the background while the fast ones go on
    slow = []
    for trickle in (False, True):
        out = {}
        th = threading.Thread(target=silence_thread, args=(port, trickle, out), daemon=True)
        th.start()
        slow.append((th, out, trickle))

    avoid_midnight()
    run('today\'s signature: pong', expect_pong, port, ping_json())
    run('yesterday\'s signature: pong', expect_pong, port, ping_json(signature(1)))
    run('2-day-old signature: invalid_signature', expect_error, port,
        ping_json(signature(2)), 'invalid_signature')
    run('tomorrow\'s signature: invalid_signature', expect_error, port,
        ping_json(signature(-1)), 'invalid_signature')
    run('uppercase signature: invalid_signature', expect_error, port,
        ping_json(signature().upper()), 'invalid_signature')
    run('bad JSON: invalid_format', expect_error, port, '{"type":"ping",', 'invalid_format')
    run('not JSON at all: invalid_format', expect_error, port, 'ping', 'invalid_format')
    run('JSON array: invalid_format', expect_error, port, '[' + ping_json() + ']',
        'invalid_format')
    run('JSON string: invalid_format', expect_error, port, '"ping"', 'invalid_format')
    run('message over 4 KiB: invalid_format', case_too_big, port)
    run('wrong type: invalid_type', expect_error, port,
        json.dumps({'type': 'pong', 'signature': signature()}), 'invalid_type')
    run('missing type: invalid_type', expect_error, port,
        json.dumps({'signature': signature()}), 'invalid_type')
    run('type checked before signature', expect_error, port,
        json.dumps({'type': 'hello', 'signature': 'bad'}), 'invalid_type')
    run('missing signature: invalid_signature', expect_error, port,
        json.dumps({'type': 'ping', 'timestamp': 'x'}), 'invalid_signature')
    run('extra keys: pong', expect_pong, port,
        ping_json(extra={'a': [1, 2, {'b': None}]}, version=3, client='test'))
    run('reordered keys: pong', expect_pong, port,
        '{"timestamp":"2024-01-15T10:30:45Z","signature":"%s","type":"ping"}' % signature())
    run('whitespace everywhere: pong', expect_pong, port,
        ' \r\n{\n\t"type" :\t"ping" ,\n  "signature"\r\n: "%s"  }\n ' % signature())
    run('escaped strings: pong', expect_pong, port,
        '{"\\u0074ype":"p\\u0069ng","signature":"%s"}' % signature())
    run('binary frame: pong', expect_pong, port, ping_json(), OP_BIN)
    run('fragmented message with a ping between: pong', case_fragmented, port)
    run('only the first message answered, then Close 1000 and FIN', case_only_first, port)
    run('message pipelined with the upgrade: pong', case_pipelined, port)
    run('plain GET /ws (no upgrade): 400', case_plain_get, port)
    run('any Origin accepted', case_origins, port)
    run('--ping=custom-name: its signature gets a pong', expect_pong, cport,
        ping_json(signature(0, CUSTOM_NAME)))
    run('--ping=custom-name: the default name gets invalid_signature', expect_error, cport,
        ping_json(), 'invalid_signature')
    run('Python websockets (published example): pong, close 1000', case_python_websockets,
        port, DEFAULT_NAME, 'pong')
    run('Python websockets, wrong name: error, close 1000', case_python_websockets,
        cport, DEFAULT_NAME, 'error')
    run('Node ws (published example): pong, close 1000', case_node_ws, port, DEFAULT_NAME,
        'pong')
    run('Node ws, --ping=custom-name: pong', case_node_ws, cport, CUSTOM_NAME, 'pong')
    run('held sessions count per IP and are released on close', case_per_ip, lport)
    run('wsferry ping: exit 0 on a pong', case_cli_pong, port)
    run('wsferry ping against another --ping name: exit 1, then --name: exit 0',
        case_cli_other_name, cport)
    run('wsferry ping over wss:// (pin, insecure, unknown CA refused)', case_cli_wss)
    run('wsferry ping: refused, wss://, bad usage, stealth path', case_cli_failures, port,
        w.refused_port())
    run('wsferry ping: --timeout against a silent listener', case_cli_timeout, port)

    for th, out, trickle in slow:
        run('silent client disconnected at 5 s' + (' even when trickling bytes' if trickle
                                                   else ''),
            check_silence, th, out, trickle)
    run('server still answers after all that', expect_pong, port, ping_json())


if __name__ == '__main__':
    w.main_guard(w.Suite('ping_test'), main)
