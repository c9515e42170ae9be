#!/usr/bin/python3
"""push_keepalive_test.py — dead push subscribers are found by the server,
not by TCP (issue 13; PEERS.md "dead connections nobody notices"), with the
server's --keepalive and --pong-timeout made short:

- a plain subscriber that completed the upgrade and then never reads nor
  answers is pinged after --keepalive, closed with 1001 and a log line
  --pong-timeout later, and leaves the hub; a python3-websockets subscriber
  (it answers pings) and a raw one that never answers pings but keeps
  talking (any byte counts) stay, and get a POST afterwards;
- --keepalive 0: no pings, nobody closed;
- Socket.IO: the open packet announces pingInterval/pingTimeout from those
  options; a raw Engine.IO client that joins and then stops answering is
  closed pingInterval + pingTimeout after its open packet; an unchanged
  socket.io-client (npm) stays connected across several ping intervals,
  answering each ping, and receives a push afterwards.

Interface (test/run.sh): binary from env WSFERRY; servers on free 127.0.0.1
ports, stopped by PID; last line exactly `N passed, N failed`.
"""

import asyncio
import base64
import json
import os
import re
import socket
import struct
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import wsfutil as w  # noqa: E402
from wsfutil import check, CaseFail  # noqa: E402

import websockets  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
KEY = 'pk-' + 'Z3c8VnQ1sY6uB0eR5tJ2'
KEEPALIVE, PONG = 1.0, 1.0  # seconds: --keepalive 1 --pong-timeout 1


def start(extra=()):
    port = w.free_port()
    p = w.Proc([w.WSFERRY, 'server', 'ws://127.0.0.1:%d' % port, '--push', '/push'] +
               list(extra), 'push-keepalive', env={'WSFERRY_PUSH_KEY': KEY})
    w.wait_port(port, proc=p)
    return p, port


def post(port, message):
    body = json.dumps({'message': message}).encode()
    s = w.connect(port)
    try:
        s.sendall(b'POST /push HTTP/1.1\r\nHost: x\r\nX-API-KEY: ' + KEY.encode() +
                  b'\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n'
                  % len(body) + body)
        st, _, b, _, _ = w.read_http_response(s)
    finally:
        s.close()
    check(st == 200, 'POST answered %d %r' % (st, b))
    return json.loads(b)


def wait_log(p, pattern, t=5.0):
    """The first match of pattern in the server's log within t seconds."""
    rx = re.compile(pattern)
    end = time.monotonic() + t
    while True:
        m = rx.search(p.stderr_text())
        if m:
            return m
        if time.monotonic() > end:
            raise CaseFail('no log line matching %r in:\n%s' % (pattern, p.tail(12)))
        time.sleep(0.02)


def masked(op, payload):
    mask = os.urandom(4)
    data = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
    check(len(payload) < 126, 'test frames are small')
    return bytes([0x80 | op, 0x80 | len(payload)]) + mask + data


def frames(buf):
    """[(opcode, payload)] of the whole unmasked frames in buf."""
    out, i = [], 0
    while i + 2 <= len(buf):
        op, n = buf[i] & 0x0f, buf[i + 1] & 0x7f
        j = i + 2
        if n == 126:
            n, j = struct.unpack('!H', buf[j:j + 2])[0], j + 2
        if j + n > len(buf):
            break
        out.append((op, bytes(buf[j:j + n])))
        i = j + n
    return out


def raw_upgrade(port, target):
    """A raw subscriber: the upgrade sent, the 101 read; (socket, bytes after it)."""
    s = w.connect(port)
    key = base64.b64encode(os.urandom(16)).decode()
    s.sendall(('GET %s HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\n'
               'Connection: Upgrade\r\nSec-WebSocket-Key: %s\r\n'
               'Sec-WebSocket-Version: 13\r\n\r\n' % (target, key)).encode())
    st, _, _, _, rest = w.read_http_response(s, what='101')
    check(st == 101, 'upgrade answered %d' % st)
    return s, rest


def read_all(s, t=3.0):
    """Everything s has to read until EOF (within t seconds)."""
    s.settimeout(t)
    buf = bytearray()
    end = time.monotonic() + t
    while time.monotonic() < end:
        try:
            b = s.recv(65536)
        except socket.timeout:
            raise CaseFail('no EOF within %.1f s (got %r)' % (t, bytes(buf[:60])))
        except ConnectionResetError:
            raise CaseFail('reset instead of a close (got %r)' % bytes(buf[:60]))
        if not b:
            return bytes(buf)
        buf += b
    raise CaseFail('no EOF within %.1f s' % t)


def conn_id(p, n_before):
    """The id of the subscriber that joined as the (n_before+1)th."""
    m = wait_log(p, r'c(\d+) push: connected: c\d+ from 127\.0\.0\.1 (?:\(Socket\.IO\) )?'
                 r'\(total %d\)' % (n_before + 1))
    return m.group(1)


# ---------------------------------------------------------------- cases

def case_dead_subscriber():
    p, port = start(['--keepalive', '%g' % KEEPALIVE, '--pong-timeout', '%g' % PONG])

    async def go():
        live = await websockets.connect('ws://127.0.0.1:%d/push' % port, ping_interval=None)
        conn_id(p, 0)
        talker, _ = raw_upgrade(port, '/push')
        conn_id(p, 1)
        dead, _ = raw_upgrade(port, '/push')
        t0 = time.monotonic()
        dead_id = conn_id(p, 2)
        # the talker never reads nor answers a ping, but speaks more often
        # than --keepalive: it is never even pinged
        deadline = time.monotonic() + 3 * (KEEPALIVE + PONG)
        dead_at = None
        while time.monotonic() < deadline:
            talker.sendall(masked(1, b'still here'))
            await asyncio.sleep(0.1 if dead_at is None else 0.4)
            if dead_at is None and re.search(
                    r'c%s push: no answer to a ping within 1000 ms: closed' % dead_id,
                    p.stderr_text()):
                dead_at = time.monotonic() - t0
        check(dead_at is not None, 'the silent subscriber was not closed; log:\n%s' % p.tail(12))
        check(KEEPALIVE + PONG - 0.3 <= dead_at <= KEEPALIVE + PONG + 1.5,
              'closed %.2f s after its upgrade, expected about %.1f s'
              % (dead_at, KEEPALIVE + PONG))
        wait_log(p, r'c%s push: disconnected: c%s \(remaining 2\)' % (dead_id, dead_id), t=4)
        # what the dead one would have read: our ping, then Close 1001, then our FIN
        got = frames(read_all(dead))
        check(got and got[0] == (9, b''), 'the silent subscriber got %r, expected a ping' % got)
        check(got[-1] == (8, struct.pack('!H', 1001)), 'expected Close 1001 last, got %r' % got)
        check(len(re.findall(r'no answer to a ping', p.stderr_text())) == 1,
              'more than one subscriber closed:\n%s' % p.tail(12))
        loop = asyncio.get_running_loop()
        r = await loop.run_in_executor(None, post, port, 'after the pings')
        check(r.get('delivered') == 2, 'POST reached %r, expected the 2 live subscribers' % r)
        msg = json.loads(await asyncio.wait_for(live.recv(), w.T))
        check(msg['message'] == 'after the pings', 'the live subscriber got %r' % msg)
        talker.sendall(masked(8, struct.pack('!H', 1000)))
        got = frames(read_all(talker))
        check(any(op == 1 and b'after the pings' in d for op, d in got),
              'the talker did not get the POST: %r' % got)
        await live.close()
        dead.close()
        talker.close()
    asyncio.run(asyncio.wait_for(go(), 30))


def case_keepalive_off():
    p, port = start(['--keepalive', '0'])
    s, _ = raw_upgrade(port, '/push')
    conn_id(p, 0)
    s.settimeout(2.5)
    try:
        b = s.recv(100)
        raise CaseFail('--keepalive 0: the subscriber got %r' % b)
    except socket.timeout:
        pass
    check(post(port, 'x').get('delivered') == 1, 'the silent subscriber was dropped')
    s.close()


def case_sio_dead_client():
    p, port = start(['--keepalive', '%g' % KEEPALIVE, '--pong-timeout', '%g' % PONG])
    s, rest = raw_upgrade(port, '/socket.io/?EIO=4&transport=websocket')
    buf = bytearray(rest)
    s.settimeout(w.T)
    while not frames(buf):
        buf += s.recv(4096)
    t0 = time.monotonic()
    op, open_pkt = frames(buf)[0]
    check(op == 1 and open_pkt.startswith(b'0{'), 'open packet %r' % open_pkt)
    hs = json.loads(open_pkt[1:])
    check(hs['pingInterval'] == 1000 and hs['pingTimeout'] == 1000,
          'the open packet announces %r, expected 1000/1000 from --keepalive/--pong-timeout'
          % hs)
    s.sendall(masked(1, b'40'))
    sid = conn_id(p, 0)
    m = wait_log(p, r'c%s push: Socket.IO client sent no pong within 1000 ms: closed' % sid,
                 t=KEEPALIVE + PONG + 3)
    dead_at = time.monotonic() - t0
    check(KEEPALIVE + PONG - 0.3 <= dead_at <= KEEPALIVE + PONG + 1.5,
          'closed %.2f s after the open packet, expected about %.1f s'
          % (dead_at, KEEPALIVE + PONG))
    del m
    wait_log(p, r'c%s push: disconnected: c%s \(remaining 0\)' % (sid, sid), t=4)
    got = frames(buf + read_all(s))
    texts = [d for op, d in got if op == 1]
    check(texts[1].startswith(b'40{') and texts[2:] == [b'2'],
          'expected open, CONNECT, one ping; got %r' % texts)
    check(got[-1] == (8, struct.pack('!H', 1001)), 'expected Close 1001 last, got %r' % got)
    s.close()


def case_sio_client_stays():
    node = w.require_peer('node', 'nodejs')
    mods = os.path.join(os.path.dirname(os.path.dirname(HERE)), 'test', 'npm', 'node_modules')
    check(os.path.isdir(os.path.join(mods, 'socket.io-client')),
          'missing test peer: npm socket.io-client in test/npm (`sh test/deps.sh test`)')
    p, port = start(['--keepalive', '%g' % KEEPALIVE, '--pong-timeout', '%g' % PONG])
    stay = 5 * (KEEPALIVE + PONG) * 0.7  # several ping intervals
    env = dict(os.environ, URL='http://127.0.0.1:%d' % port, SECONDS='%g' % stay,
               NODE_PATH=mods)
    pr = subprocess.Popen([node, os.path.join(HERE, 'push_sio_alive.js')], env=env,
                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        lines = []
        end = time.monotonic() + stay + 15
        while time.monotonic() < end:
            line = pr.stdout.readline().decode(errors='replace').strip()
            if not line:
                break
            lines.append(line)
            if line.startswith('ready') or line.startswith('disconnect'):
                break
        check(lines and lines[0].startswith('connected ') and lines[-1].startswith('ready '),
              'socket.io-client: %r\n%s' % (lines, p.tail(8)))
        pings = int(lines[-1].split()[1])
        check(pings >= 3, 'only %d pings in %.1f s (pingInterval %g s)' % (pings, stay, KEEPALIVE))
        before = p.stderr_text()
        r = post(port, 'still with us')
        check(r.get('delivered') == 1, 'POST reached %r' % r)
        out, _ = pr.communicate(timeout=15)
        last = [json.loads(l) for l in out.decode().split('\n') if l.startswith('{')]
        check(len(last) == 1, 'socket.io-client printed %r' % out)
        last = last[0]
        check(last['message'] == 'still with us' and last['disconnects'] == [] and
              last['id'] == last['first'], 'socket.io-client: %r' % last)
        check('no pong' not in before and 'disconnected' not in before,
              'the live client was dropped:\n%s' % before[-800:])
    finally:
        if pr.poll() is None:
            pr.kill()
            pr.communicate()


def main(s):
    s.run('a subscriber that stops answering is closed after --keepalive + --pong-timeout; '
          'live and talking ones stay', case_dead_subscriber)
    s.run('--keepalive 0: no pings, silent subscribers stay', case_keepalive_off)
    s.run('Socket.IO: a client that stops answering pings is closed after pingInterval + '
          'pingTimeout (announced from --keepalive/--pong-timeout)', case_sio_dead_client)
    s.run('Socket.IO: socket.io-client (npm) stays connected across several ping intervals',
          case_sio_client_stays)


if __name__ == '__main__':
    w.main_guard(w.Suite('push_keepalive_test', file_limit=90), main)
