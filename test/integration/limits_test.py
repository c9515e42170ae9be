#!/usr/bin/python3
"""limits_test.py — the server's connection limits: the handshake deadline
(a slow-loris client trickling its request head is dropped at
--handshake-timeout, not later, while other clients are served meanwhile),
--max-conns-per-ip (the connection past N is closed at once, one warning line,
room again once some close, other addresses unaffected, upgraded connections
counted too), and running out of file descriptors (accepts pause instead of
spinning, a log line says so, service resumes once descriptors free up).

Interface (test/run.sh): binary from env WSFERRY (default ./build/wsferry);
everything is started here on free 127.0.0.1 ports (and 127.0.0.x source
addresses) and ended by PID (SIGTERM, SIGKILL after 3 s); every wsferry must
exit 0 and print no sanitizer report; one line per failed case; last line
exactly `N passed, N failed`; exit 1 on failure. `-v` also prints passing
cases; other arguments filter case names.
"""

import base64
import hashlib
import os
import select
import socket
import struct
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import wsfutil as w  # noqa: E402
from wsfutil import check, CaseFail  # noqa: E402

WSFERRY = w.WSFERRY
GUID = b'258EAFA5-E914-47DA-95CA-C5AB0DC85B11'
CLK_TCK = os.sysconf('SC_CLK_TCK')


# ---------------------------------------------------------------- processes

def start_server(port, extra=(), name='server', prefix=()):
    p = w.Proc(list(prefix) + [WSFERRY, 'server', 'ws://127.0.0.1:%d' % port] + list(extra),
               name)
    w.wait_port(port, proc=p)
    return p


# ---------------------------------------------------------------- WebSocket

def connect_from(port, src='127.0.0.1', timeout=w.T):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.settimeout(timeout)
    if src != '127.0.0.1':
        s.bind((src, 0))
    s.connect(('127.0.0.1', port))
    return s


def ws_open(port, path='/echo', src='127.0.0.1', timeout=w.T):
    """A raw RFC 6455 upgrade; returns (socket, bytes after the 101 head)."""
    s = connect_from(port, src, timeout)
    try:
        key = base64.b64encode(os.urandom(16))
        s.sendall(b'GET ' + path.encode() + b' HTTP/1.1\r\nHost: 127.0.0.1:%d\r\n' % port +
                  b'Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: ' + key +
                  b'\r\nSec-WebSocket-Version: 13\r\n\r\n')
        status, hdrs, _, head, rest = w.read_http_response(s, what='upgrade answer')
        check(status == 101, 'upgrade to %s answered %d: %r' % (path, status, head[:80]))
        want = base64.b64encode(hashlib.sha1(key + GUID).digest()).decode()
        check(hdrs.get('sec-websocket-accept') == want,
              'Sec-WebSocket-Accept %r, expected %r' % (hdrs.get('sec-websocket-accept'), want))
        return s, rest
    except BaseException:
        s.close()
        raise


def ws_frame(payload, opcode=1):
    mask = os.urandom(4)
    n = len(payload)
    if n < 126:
        h = struct.pack('!BB', 0x80 | opcode, 0x80 | n)
    elif n < 65536:
        h = struct.pack('!BBH', 0x80 | opcode, 0x80 | 126, n)
    else:
        h = struct.pack('!BBQ', 0x80 | opcode, 0x80 | 127, n)
    return h + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(payload))


def ws_read(s, rest=b''):
    """One unmasked server frame: (opcode, payload, leftover)."""
    buf = rest

    def need(n):
        nonlocal buf
        if len(buf) < n:
            buf += w.recv_exact(s, n - len(buf), 'WebSocket frame')
    need(2)
    op, ln = buf[0] & 0x0f, buf[1] & 0x7f
    check(not buf[1] & 0x80, 'server frame is masked')
    off = 2
    if ln == 126:
        need(4)
        ln = struct.unpack('!H', buf[2:4])[0]
        off = 4
    elif ln == 127:
        need(10)
        ln = struct.unpack('!Q', buf[2:10])[0]
        off = 10
    need(off + ln)
    return op, buf[off:off + ln], buf[off + ln:]


def ws_echo(port, src='127.0.0.1', msg=None, timeout=w.T):
    """Upgrade to /echo, one text message there and back, a clean close."""
    s, rest = ws_open(port, src=src, timeout=timeout)
    try:
        msg = msg or ('hello %s' % os.urandom(6).hex()).encode()
        s.sendall(ws_frame(msg))
        op, got, rest = ws_read(s, rest)
        check(op == 1 and got == msg, 'echo answered opcode %d %r for %r' % (op, got[:40], msg))
        s.sendall(ws_frame(struct.pack('!H', 1000), opcode=8))
        op, got, rest = ws_read(s, rest)
        check(op == 8, 'expected a close frame back, got opcode %d' % op)
    finally:
        s.close()


def closed_within(s, t):
    """True when the peer closes s (EOF or RST) within t seconds, reading
    and discarding anything it sends."""
    deadline = time.monotonic() + t
    for _ in range(10000):
        left = deadline - time.monotonic()
        if left <= 0:
            return False
        r, _, _ = select.select([s], [], [], left)
        if not r:
            return False
        try:
            if not s.recv(65536):
                return True
        except ConnectionResetError:
            return True
        except socket.timeout:
            return False
    return False


def is_open(s):
    """True when nothing (no EOF, no RST) is pending on s right now."""
    r, _, _ = select.select([s], [], [], 0)
    if not r:
        return True
    try:
        return s.recv(1, socket.MSG_PEEK) != b''
    except (ConnectionResetError, OSError):
        return False


def close_all(socks):
    for s in socks:
        try:
            s.close()
        except OSError:
            pass


def cpu_seconds(pid):
    with open('/proc/%d/stat' % pid) as f:
        fields = f.read().rsplit(')', 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK  # utime + stime


def fd_count(pid):
    try:
        return len(os.listdir('/proc/%d/fd' % pid))
    except OSError:
        return -1


# ---------------------------------------------------------------- cases

LORIS_HEAD = (b'GET /echo HTTP/1.1\r\nHost: 127.0.0.1\r\nUser-Agent: Mozilla/5.0 (slow)\r\n'
              b'Upgrade: websocket\r\nConnection: Upgrade\r\n'
              b'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n')


def case_slow_loris():
    port = w.free_port()
    srv = start_server(port, ['--handshake-timeout', '2', '--echo', '/echo'], 'server-loris')
    result = {}

    def loris():
        # one header byte every 300 ms; note when the server closes
        s = connect_from(port)
        t0 = time.monotonic()
        try:
            for i in range(30):  # 9 s at most, far past any sane deadline
                try:
                    s.sendall(LORIS_HEAD[i:i + 1])
                except (BrokenPipeError, ConnectionResetError):
                    result['closed'] = time.monotonic() - t0
                    return
                if closed_within(s, 0.3):
                    result['closed'] = time.monotonic() - t0
                    return
            result['closed'] = None
        finally:
            s.close()

    def silent():
        # connects and sends nothing at all
        s = connect_from(port)
        t0 = time.monotonic()
        try:
            result['silent'] = time.monotonic() - t0 if closed_within(s, 9.0) else None
        finally:
            s.close()

    th = [threading.Thread(target=loris, daemon=True), threading.Thread(target=silent, daemon=True)]
    t_start = time.monotonic()
    for t in th:
        t.start()
    # meanwhile: normal clients are served (two of them, at ~0.5 s and ~1.2 s)
    served = []
    errors = []
    for at in (0.5, 1.2):
        time.sleep(max(0, t_start + at - time.monotonic()))
        try:
            ws_echo(port, timeout=2.0)
            served.append(time.monotonic() - t_start)
        except (CaseFail, OSError) as e:
            errors.append('normal client at %.1f s: %s' % (at, e))
    for t in th:
        t.join(12)
    check(not errors, '; '.join(errors))
    loris_t = result.get('closed')
    check(loris_t is not None, 'the slow-loris client was never dropped (9 s, 30 bytes trickled)')
    check(1.8 <= loris_t <= 3.5, 'slow-loris client dropped after %.2f s, expected ~2 s '
          '(--handshake-timeout 2; trickled bytes must not extend it)' % loris_t)
    check(all(t < loris_t for t in served), 'normal clients were served only at %s s, the '
          'slow-loris dropped at %.2f s' % (['%.2f' % t for t in served], loris_t))
    silent_t = result.get('silent')
    check(silent_t is not None and 1.8 <= silent_t <= 3.5,
          'a silent connection was dropped after %s, expected ~2 s'
          % ('never' if silent_t is None else '%.2f s' % silent_t))
    log = srv.stderr_text()
    check('no whole request' in log or 'deadline' in log or 'handshake' in log,
          'no log line about the handshake deadline:\n' + srv.tail())


def case_per_ip():
    port = w.free_port()
    srv = start_server(port, ['--max-conns-per-ip', '5', '--echo', '/echo'], 'server-perip')
    held = []
    try:
        for i in range(5):
            held.append(connect_from(port))
        time.sleep(0.3)  # let the server accept them all
        for i, s in enumerate(held):
            check(is_open(s), 'held connection #%d was closed (only 5 are open)' % (i + 1))
        # the 6th (and two more) are closed at once
        for extra in range(3):
            s = connect_from(port)
            try:
                t0 = time.monotonic()
                check(closed_within(s, 1.0), 'connection #%d from 127.0.0.1 was not closed within '
                      '1 s (--max-conns-per-ip 5)' % (6 + extra))
                dt = time.monotonic() - t0
            finally:
                s.close()
            check(dt < 1.0, 'connection #%d closed only after %.2f s' % (6 + extra, dt))
        for i, s in enumerate(held):
            check(is_open(s), 'held connection #%d was closed by the refusals' % (i + 1))
        # another source address is not affected
        ws_echo(port, src='127.0.0.2')
        # after the 5 close, a new one is accepted and served
        close_all(held)
        held = []
        ok = False
        last = None
        for _ in range(20):  # up to 2 s for the server to see the 5 EOFs
            try:
                ws_echo(port, timeout=2.0)
                ok = True
                break
            except (CaseFail, OSError) as e:
                last = e
                time.sleep(0.1)
        check(ok, 'after the 5 held connections closed, a new one was not served: %s' % last)
        log = srv.stderr_text()
        warn = [l for l in log.split('\n') if 'max-conns-per-ip' in l and 'refus' in l]
        check(len(warn) == 1, 'expected exactly one --max-conns-per-ip warning for 3 refusals in '
              '< 10 s, found %d:\n%s' % (len(warn), srv.tail()))
    finally:
        close_all(held)


def case_per_ip_upgraded():
    """Upgraded (echo) connections count against the limit as well."""
    port = w.free_port()
    start_server(port, ['--max-conns-per-ip', '3', '--echo', '/echo'], 'server-perip-ws')
    held = []
    try:
        for i in range(3):
            s, rest = ws_open(port)
            held.append(s)
            s.sendall(ws_frame(b'x%d' % i))
            op, got, _ = ws_read(s, rest)
            check(got == b'x%d' % i, 'echo #%d answered %r' % (i, got))
        s = connect_from(port)
        try:
            check(closed_within(s, 1.0), 'a 4th connection was not closed within 1 s while 3 '
                  'upgraded ones are open (--max-conns-per-ip 3)')
        finally:
            s.close()
        for i, s in enumerate(held):
            check(is_open(s), 'upgraded connection #%d was closed' % (i + 1))
    finally:
        close_all(held)


def case_per_ip_deadline():
    """Connections the server drops at the handshake deadline give their
    slot back."""
    port = w.free_port()
    start_server(port, ['--max-conns-per-ip', '2', '--handshake-timeout', '1', '--echo', '/echo'],
                 'server-perip-deadline')
    held = []
    try:
        for i in range(2):
            held.append(connect_from(port))
        for i, s in enumerate(held):
            check(closed_within(s, 3.0), 'silent connection #%d not dropped within 3 s '
                  '(--handshake-timeout 1)' % (i + 1))
        close_all(held)
        held = []
        ws_echo(port, timeout=2.0)
        ws_echo(port, timeout=2.0)
    finally:
        close_all(held)


def hold_handler(c, srv):
    """A web server that reads and never answers (a slow page)."""
    srv.results.put(('held', 1))
    for _ in range(10000):
        try:
            if not c.recv(65536):
                break
        except OSError:
            break


def case_per_ip_fallback():
    """Connections handed to --fallback still count for their address."""
    site = w.TCPServer(hold_handler)
    port = w.free_port()
    try:
        start_server(port, ['--max-conns-per-ip', '3', '--fallback', '127.0.0.1:%d' % site.port,
                            '--handshake-timeout', '1'], 'server-perip-fallback')
        held = []
        try:
            for i in range(3):
                s = connect_from(port)
                held.append(s)
                s.sendall(b'GET /page%d HTTP/1.1\r\nHost: example\r\n\r\n' % i)
            for i in range(3):
                site.result(3.0, 'connection #%d at the fallback site' % (i + 1))
            time.sleep(1.5)  # past the handshake deadline: these are relays now
            for i, s in enumerate(held):
                check(is_open(s), 'connection #%d handed to --fallback was closed' % (i + 1))
            s = connect_from(port)
            try:
                check(closed_within(s, 1.0), 'a 4th connection was not closed within 1 s while '
                      '3 are relayed to --fallback (--max-conns-per-ip 3)')
            finally:
                s.close()
        finally:
            close_all(held)
    finally:
        site.close()


def case_emfile():
    port = w.free_port()
    # 64 descriptors, soft = hard, so the server cannot raise them; the
    # connections come from 10 source addresses so the per-IP cap (lowered to
    # fit the fd budget) does not shield the descriptor table
    srv = start_server(port, ['--echo', '/echo', '--handshake-timeout', '30'], 'server-emfile',
                       prefix=['prlimit', '--nofile=64:64'])
    with open('/proc/%d/limits' % srv.pid) as f:
        lim = [l for l in f if l.startswith('Max open files')]
    check(lim and lim[0].split()[3] == '64', 'prlimit did not apply: %r' % lim)
    ws_echo(port)  # serves before
    # a session opened before the flood keeps working through it
    live, live_rest = ws_open(port)
    socks = [live]
    try:
        for i in range(100):
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            s.bind(('127.0.0.%d' % (10 + i % 10), 0))
            s.settimeout(2)
            socks.append(s)
            s.connect(('127.0.0.1', port))  # completes in the kernel's backlog
        # wait until the server has taken all it can (its fd count stops
        # growing near the limit)
        deadline = time.monotonic() + 5
        for _ in range(100):
            if fd_count(srv.pid) >= 60 or time.monotonic() > deadline:
                break
            time.sleep(0.05)
        time.sleep(0.3)
        nfd = fd_count(srv.pid)
        check(nfd >= 58, 'the server holds only %d descriptors with 100 connections waiting '
              '(expected it to fill its 64)' % nfd)
        check(srv.alive(), 'the server died out of descriptors:\n' + srv.tail())
        c0 = cpu_seconds(srv.pid)
        t0 = time.monotonic()
        time.sleep(2.0)
        used = cpu_seconds(srv.pid) - c0
        wall = time.monotonic() - t0
        check(used < 0.5, 'the server burnt %.2f CPU-seconds in %.1f s while out of descriptors '
              '(spinning on accept)' % (used, wall))
        live.sendall(ws_frame(b'still there?'))
        op, got, live_rest = ws_read(live, live_rest)
        check(got == b'still there?', 'an open echo session answered %r while the server is out '
              'of descriptors' % got)
        log = srv.stderr_text()
        check('Too many open files' in log or 'EMFILE' in log,
              'no log line about running out of descriptors:\n' + srv.tail())
        check('paus' in log, 'the descriptor log line does not say accepts pause:\n' + srv.tail())
    finally:
        close_all(socks)
    # once they are closed, the server serves again
    ok = False
    last = None
    deadline = time.monotonic() + 8
    for _ in range(40):
        if time.monotonic() > deadline:
            break
        try:
            ws_echo(port, timeout=2.0)
            ok = True
            break
        except (CaseFail, OSError) as e:
            last = e
            time.sleep(0.2)
    check(ok, 'after the 100 connections closed, a new echo client was not served: %s' % last)
    check(srv.alive(), 'the server died:\n' + srv.tail())


def main(suite):
    suite.run('slow-loris dropped at --handshake-timeout 2, others served meanwhile',
              case_slow_loris, timeout=20)
    suite.run('--max-conns-per-ip 5: 6th closed at once, one warning, room again after',
              case_per_ip, timeout=20)
    suite.run('--max-conns-per-ip counts upgraded connections', case_per_ip_upgraded, timeout=15)
    suite.run('--max-conns-per-ip: slots come back when the deadline drops', case_per_ip_deadline,
              timeout=15)
    suite.run('--max-conns-per-ip counts connections relayed to --fallback', case_per_ip_fallback,
              timeout=15)
    suite.run('out of descriptors: accepts pause (no spin), logged, service resumes',
              case_emfile, timeout=30)
    suite.check_processes('every wsferry exits 0 on SIGTERM, no sanitizer report')


def guard(suite):
    rc = 1
    try:
        main(suite)
    except Exception as e:
        suite.failed += 1
        print('FAIL setup: %s: %s' % (type(e).__name__, e), flush=True)
    finally:
        try:
            suite.check_processes('every wsferry exits 0 on SIGTERM, no sanitizer report')
        finally:
            rc = suite.finish()
    sys.exit(rc)


if __name__ == '__main__':
    guard(w.Suite('limits_test', file_limit=60))
