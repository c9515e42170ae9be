#!/usr/bin/python3
"""stealth_test.py — what a prober sees, asserted byte for byte, in each
stealth mode: --stealth drop (nothing, then a FIN), --stealth decoy (what
Debian's nginx with server_tokens off and an empty site answers to the same
bytes, Date aside, and the connection left open or closed as it leaves it) and --fallback HOST:PORT (exactly
what a real web server answers to the same bytes). Probe classes: raw garbage,
a TLS ClientHello, an SSH banner, HTTP/1.0 and HTTP/1.1 GET /, an unknown
path, an upgrade without our cookie, with a garbage cookie, with a replayed,
a wrong-key, a tampered and an expired token. A keyed client still tunnels in
every mode; and in drop mode an unknown path and a bad token are closed in
the same time.

Interface (test/run.sh): binary from env WSFERRY (default ./build/wsferry);
everything is started here on free 127.0.0.1 ports and ended by PID (SIGTERM,
SIGKILL after 3 s); every wsferry must exit 0 and print no sanitizer report;
one line per failed case; last line exactly `N passed, N failed`; exit 1 on
failure. `-v` also prints passing cases; other arguments filter case names.
"""

import hashlib
import os
import re
import socket
import statistics
import struct
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import wsfutil as w  # noqa: E402
from wsfutil import check, CaseFail  # noqa: E402

WSFERRY = w.WSFERRY
PROBE_T = 5.0          # a probe that sees neither bytes nor EOF by then hangs
EXPIRED_WAIT = 2.5     # with --max-skew 1


# ---------------------------------------------------------------- processes

def start(args, name, prefix=()):
    p = w.Proc(list(prefix) + [WSFERRY] + list(args), name)
    return p


def keygen():
    r = subprocess.run([WSFERRY, 'keygen'], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       timeout=10)
    key = r.stdout.decode().strip()
    if r.returncode != 0 or len(key) < 32:
        raise CaseFail('wsferry keygen: exit %d, output %r' % (r.returncode, key))
    return key


# ---------------------------------------------------------------- fallback web server

PAGE_200 = (b'<!DOCTYPE html>\n<html><head><title>Welcome</title></head>\n'
            b'<body><h1>It works</h1><p>fallback home page</p></body></html>\n')
PAGE_404 = b'<html><body><h1>Not Found</h1><p>no such page here</p></body></html>\n'
PAGE_400 = b'<html><body><h1>Bad Request</h1></body></html>\n'
HTTP_START = re.compile(rb'^[A-Z]{1,16} ')
HTTP_LINE = re.compile(rb'^([A-Z]{1,16}) (\S+) HTTP/1\.([01])\r\n')


class Fin(bytes):
    """Probe bytes followed by our FIN (shutdown SHUT_WR), as `printf ... | nc -N`."""


def fallback_answer(data):
    """Deterministic bytes for what a connection sent (no Date header): 200
    for GET /, 404 for any other HTTP request, 400 for anything else. Every
    answer names the length and SHA-256 of all it received, so a relay that
    loses or adds a byte shows."""
    seen = ('X-Seen: %d %s\r\n' % (len(data), hashlib.sha256(data).hexdigest()[:32])).encode()
    m = HTTP_LINE.match(data)
    if m and m.group(1) == b'GET' and m.group(2) == b'/':
        status, body = b'200 OK', PAGE_200
    elif m and m.group(1) == b'GET' and m.group(2) == b'/slow':
        time.sleep(1.5)  # a slow page: longer than the --handshake-timeout 1 below
        status, body = b'200 OK', PAGE_200
    elif m:
        status, body = b'404 Not Found', PAGE_404
    else:
        status, body = b'400 Bad Request', PAGE_400
    return (b'HTTP/1.1 ' + status + b'\r\nServer: tinyweb/1.0\r\n'
            b'Content-Type: text/html\r\nContent-Length: ' + str(len(body)).encode() +
            b'\r\n' + seen + b'Connection: close\r\n\r\n' + body)


def fallback_handler(c, srv):
    """Reads a whole HTTP head (or, for anything that is not HTTP, until the
    peer is quiet for 0.4 s), answers, closes with a FIN."""
    buf = b''
    c.settimeout(PROBE_T)
    for _ in range(1024):
        try:
            d = c.recv(65536)
        except socket.timeout:
            break
        except OSError:
            return
        if not d:
            break
        buf += d
        if HTTP_START.match(buf[:17]) or (len(buf) < 17 and re.match(rb'^[A-Z]*$', buf)):
            end = buf.find(b'\r\n\r\n')
            if end >= 0:
                m = re.search(rb'\r\ncontent-length: *(\d{1,6})\r\n', buf[:end + 2].lower())
                if len(buf) >= end + 4 + (int(m.group(1)) if m else 0):
                    break
            c.settimeout(PROBE_T)
        else:
            c.settimeout(0.4)  # not HTTP: answer once the peer is quiet
        if len(buf) > 65536:
            break
    try:
        c.sendall(fallback_answer(buf))
        c.shutdown(socket.SHUT_WR)
        c.settimeout(2)
        for _ in range(64):
            if not c.recv(65536):
                break
    except OSError:
        pass
    srv.results.put(('fallback', len(buf)))


# ---------------------------------------------------------------- probes

def tls_client_hello():
    """A canned TLS 1.3-style ClientHello for example.com (fixed randoms)."""
    def ext(t, data):
        return struct.pack('>HH', t, len(data)) + data
    name = b'example.com'
    sni = struct.pack('>HBH', len(name) + 3, 0, len(name)) + name
    keyshare = struct.pack('>H', 36) + b'\x00\x1d\x00\x20' + bytes(range(64, 96))
    exts = (ext(0x0000, sni) +
            ext(0x000a, bytes.fromhex('0006001d00170018')) +
            ext(0x000b, bytes.fromhex('0100')) +
            ext(0x000d, bytes.fromhex('000a04030804040105010601')) +
            ext(0x0010, bytes.fromhex('000c02683208687474702f312e31')) +
            ext(0x002b, bytes.fromhex('0403040303')) +
            ext(0x0033, keyshare))
    suites = bytes.fromhex('130113021303c02bc02fc02cc030cca9cca8c013c014009c009d002f0035')
    body = (b'\x03\x03' + bytes(range(32)) + b'\x20' + bytes(range(32, 64)) +
            struct.pack('>H', len(suites)) + suites + b'\x01\x00' +
            struct.pack('>H', len(exts)) + exts)
    hs = b'\x01' + len(body).to_bytes(3, 'big') + body
    return b'\x16\x03\x01' + struct.pack('>H', len(hs)) + hs


GARBAGE = b'\x00\xff\x13\x37' + hashlib.sha256(b'garbage').digest() * 2
SSH = b'SSH-2.0-OpenSSH_9.2p1 Debian-2+deb12u3\r\n'
UA = b'User-Agent: Mozilla/5.0 (X11; Linux x86_64; rv:115.0) Gecko/20100101 Firefox/115.0\r\n'


def ws_head(port, path='/', cookie=None):
    h = (b'GET ' + path.encode() + b' HTTP/1.1\r\nHost: 127.0.0.1:%d\r\n' % port + UA +
         b'Upgrade: websocket\r\nConnection: Upgrade\r\n'
         b'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n')
    if cookie is not None:
        h += b'Cookie: ' + cookie.encode() + b'\r\n'
    return h + b'\r\n'


def static_probes(port):
    """(name, bytes) for the probes that need no captured token."""
    host = b'Host: 127.0.0.1:%d\r\n' % port
    return [
        ('raw garbage bytes', GARBAGE),
        ('TLS ClientHello', tls_client_hello()),
        ('SSH banner', SSH),
        ('HTTP/1.0 GET /', b'GET / HTTP/1.0\r\n' + UA + b'Accept: */*\r\n\r\n'),
        ('HTTP/1.1 GET /', b'GET / HTTP/1.1\r\n' + host + UA + b'Accept: */*\r\n\r\n'),
        ('GET /random-path', b'GET /random-path HTTP/1.1\r\n' + host + UA + b'Accept: */*\r\n\r\n'),
        ('upgrade to / without cookie', ws_head(port)),
        ('upgrade with cookie sid=garbage', ws_head(port, cookie='sid=garbage')),
        ('POST with a body', b'POST /login HTTP/1.1\r\n' + host + UA +
         b'Content-Type: application/x-www-form-urlencoded\r\nContent-Length: 27\r\n\r\n'
         b'user=admin&password=hunter2'),
        ('request head in 3 writes 150 ms apart',
         [b'GET / HT', b'TP/1.1\r\n' + host + UA, b'Accept: */*\r\n\r\n']),
        ('GET / then half-close', Fin(b'GET / HTTP/1.1\r\n' + host + UA + b'\r\n')),
        ('garbage then half-close', Fin(GARBAGE)),
        ('request head cut short by a half-close', Fin(b'GET / HTTP/1.1\r\n' + host + UA)),
        ('oversized request head (32 KiB of headers)',
         b'GET / HTTP/1.1\r\n' + host + b''.join(b'X-Pad-%02d: %s\r\n' % (i, b'a' * 1000)
                                                 for i in range(32)) + b'\r\n'),
    ]


def exchange(port, data, timeout=PROBE_T):
    """Sends data, reads until the peer closes. Returns (bytes, how, seconds
    from the first byte sent to the close) with how in eof / reset / hang."""
    s = w.connect(port, timeout=timeout)
    try:
        t0 = time.monotonic()
        if isinstance(data, list):  # parts, written 150 ms apart
            for i, part in enumerate(data):
                if i:
                    time.sleep(0.15)
                s.sendall(part)
        else:
            s.sendall(data)
        if isinstance(data, Fin):
            s.shutdown(socket.SHUT_WR)
        buf = b''
        for _ in range(4096):
            try:
                d = s.recv(65536)
            except socket.timeout:
                return buf, 'hang', time.monotonic() - t0
            except ConnectionResetError:
                return buf, 'reset', time.monotonic() - t0
            if not d:
                return buf, 'eof', time.monotonic() - t0
            buf += d
        return buf, 'hang', time.monotonic() - t0
    finally:
        s.close()


def send_token_once(port, head, what):
    """Sends a captured tunnel request as it was meant; expects 101 (or an
    HTTP dial-error status), i.e. the server took the token."""
    s = w.connect(port)
    try:
        s.sendall(head)
        buf = b''
        for _ in range(256):
            if b'\r\n\r\n' in buf:
                break
            try:
                d = s.recv(4096)
            except socket.timeout:
                raise CaseFail('%s: no answer to the first (genuine) use of the token' % what)
            except ConnectionResetError:
                d = b''
            if not d:
                break
            buf += d
        ok = buf.startswith(b'HTTP/1.1 101') or re.match(rb'HTTP/1\.1 5\d\d ', buf)
        check(ok, '%s: first use of a genuine token was not taken (answer %r): the '
                  'replay case cannot tell anything' % (what, buf[:60]))
    finally:
        s.close()


def tamper(head):
    """The same request with one character of the token changed: our cookie
    name, a well-formed value, a MAC that does not match."""
    m = re.search(rb'Cookie: ([^=\r\n]+)=([A-Za-z0-9_-]+)', head)
    check(m is not None, 'captured request has no cookie: %r' % head[:200])
    i = m.start(2) + 6
    c = head[i:i + 1]
    return head[:i] + (b'B' if c != b'B' else b'C') + head[i + 1:]


def set_path(head, path):
    return re.sub(rb'^GET \S+ ', b'GET ' + path.encode() + b' ', head, count=1)


# ---------------------------------------------------------------- capture

def capture_heads(key, n, path='/', what='client'):
    """Runs a keyed client against a fake TCP server we control and returns
    the request heads of n tunnel requests (fresh tokens, never used)."""
    fake = socket.socket()
    fake.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    fake.bind(('127.0.0.1', 0))
    fake.listen(16)
    fake.settimeout(PROBE_T)
    fport = fake.getsockname()[1]
    lport = w.free_port()
    p = start(['client', 'ws://127.0.0.1:%d%s' % (fport, path), '--key', key,
               '-L', '%d:127.0.0.1:%d' % (lport, ECHO.port)], 'capture-' + what)
    heads = []
    try:
        w.wait_port(lport, proc=p)
        for i in range(n):
            c = w.connect(lport)
            try:
                try:
                    a, _ = fake.accept()
                except socket.timeout:
                    raise CaseFail('the %s client never dialled the fake server' % what)
                a.settimeout(PROBE_T)
                buf = b''
                for _ in range(64):
                    if b'\r\n\r\n' in buf:
                        break
                    d = a.recv(65536)
                    if not d:
                        break
                    buf += d
                a.close()
                check(b'\r\n\r\n' in buf, 'the %s client sent no whole head: %r' % (what, buf[:80]))
                heads.append(buf[:buf.index(b'\r\n\r\n') + 4])
            finally:
                c.close()
    finally:
        fake.close()
    return heads


# ---------------------------------------------------------------- the cases

ECHO = None
FB = None
NGINX = None  # the decoy's twin (wsfutil.DecoyNginx)


def direct_fallback(data):
    got, how, _ = exchange(FB.port, data)
    if how != 'eof':
        raise CaseFail('the fallback server itself ended with %s (test bug)' % how)
    return got


def show(b):
    return repr(b[:90]) + ('... (%d bytes)' % len(b) if len(b) > 90 else '')


def quiet_exchange(port, data, quiet=0.6):
    """As exchange, but a connection left open (nginx's keep-alive) ends the
    read after `quiet` seconds without a byte: how is eof, reset or open."""
    s = w.connect(port, timeout=quiet)
    try:
        if isinstance(data, list):
            for i, part in enumerate(data):
                if i:
                    time.sleep(0.15)
                s.sendall(part)
        else:
            s.sendall(data)
        if isinstance(data, Fin):
            s.shutdown(socket.SHUT_WR)
        buf = b''
        for _ in range(4096):
            try:
                d = s.recv(65536)
            except socket.timeout:
                return buf, 'open'
            except ConnectionResetError:
                return buf, 'reset'
            if not d:
                return buf, 'eof'
            buf += d
        return buf, 'open'
    finally:
        s.close()


def no_date(b):
    return re.sub(rb'\r\nDate: [^\r\n]*\r\n', b'\r\nDate: <date>\r\n', b)


def expect(mode, port, data, decoy_ref):
    if mode == 'decoy':
        got, how = quiet_exchange(port, data)
        want, how_n = quiet_exchange(NGINX.port, data)
        check(b'wsferry' not in got.lower(), 'decoy answer names wsferry: %s' % show(got))
        check(no_date(got) == no_date(want), 'decoy answered %s; nginx answers %s'
              % (show(no_date(got)), show(no_date(want))))
        check(how == how_n, 'nginx leaves the connection %s after its answer, the decoy %s'
              % (how_n, how))
        return 0.0
    got, how, dt = exchange(port, data)
    if mode == 'drop':
        check(how != 'hang', 'no close within %.0f s (the connection hangs open)' % PROBE_T)
        check(got == b'', 'drop mode sent %s' % show(got))
        check(how == 'eof', 'closed with a RST, not a FIN')
    else:
        want = direct_fallback(data)
        check(how != 'hang', 'no close within %.0f s after %s' % (PROBE_T, show(got)))
        check(got == want, 'through wsferry: %s; the fallback server directly: %s%s'
              % (show(got), show(want), ' (wsferry closed the connection itself instead of '
                 'handing it, bytes and FIN, to --fallback)' if got == b'' and want else ''))
        check(how == 'eof', 'closed with a RST, not a FIN')
    return dt


def tunnel_roundtrip(lport, n=3):
    for i in range(n):
        s = w.connect(lport)
        try:
            msg = os.urandom(1000 + i)
            s.sendall(msg)
            got = w.recv_exact(s, len(msg), 'echo through the tunnel')
            check(got == msg, 'echo through the tunnel came back different')
        finally:
            s.close()


def main(suite):
    global ECHO, FB, NGINX
    ECHO = w.TCPServer(w.echo_handler)
    NGINX = w.DecoyNginx()
    FB = w.TCPServer(fallback_handler)
    key, other_key = keygen(), keygen()
    modes = [('drop', ['--stealth', 'drop']), ('decoy', ['--stealth', 'decoy']),
             ('fallback', ['--fallback', '127.0.0.1:%d' % FB.port])]
    servers = {}
    for mode, opts in modes:
        port, skew_port = w.free_ports(2)
        p = start(['server', 'ws://127.0.0.1:%d' % port, '--key', key] + opts, 'server-' + mode)
        q = start(['server', 'ws://127.0.0.1:%d' % skew_port, '--key', key, '--max-skew', '1']
                  + opts, 'server-skew-' + mode)
        servers[mode] = (port, skew_port, p, q)
    tport, slow_port = w.free_ports(2)
    tsrv = start(['server', 'ws://127.0.0.1:%d/t' % tport, '--key', key], 'server-timing')
    slow = start(['server', 'ws://127.0.0.1:%d' % slow_port, '--key', key, '--fallback',
                  '127.0.0.1:%d' % FB.port, '--handshake-timeout', '1'], 'server-fallback-ht1')
    for mode, (port, skew_port, p, q) in servers.items():
        w.wait_port(port, proc=p)
        w.wait_port(skew_port, proc=q)
    w.wait_port(tport, proc=tsrv)
    w.wait_port(slow_port, proc=slow)

    # tokens: 3 to replay, 3 to let expire, 1 to tamper with; 3 with another key
    heads = capture_heads(key, 7, what='right-key')
    t_captured = time.monotonic()
    wrong = capture_heads(other_key, 3, what='wrong-key')
    replay_heads = dict(zip(('drop', 'decoy', 'fallback'), heads[0:3]))
    expired_heads = dict(zip(('drop', 'decoy', 'fallback'), heads[3:6]))
    tampered = tamper(heads[6])
    wrong_heads = dict(zip(('drop', 'decoy', 'fallback'), wrong))

    decoy_ref = {}

    def decoy_reference():
        got, how = quiet_exchange(servers['decoy'][0], static_probes(servers['decoy'][0])[4][1])
        check(got.startswith(b'HTTP/1.1 404'), 'decoy answer to GET / does not start with '
              '"HTTP/1.1 404": %s (how: %s)' % (show(got), how))
        decoy_ref['b'] = got
    suite.run('decoy: reference page (GET /) is a 404', decoy_reference, timeout=15, always=True)
    ref = decoy_ref.get('b', b'<no reference>')

    for mode, _ in modes:
        port, skew_port, p, q = servers[mode]

        def keyed_client(port=port, mode=mode):
            lport = w.free_port()
            c = start(['client', 'ws://127.0.0.1:%d' % port, '--key', key,
                       '-L', '%d:127.0.0.1:%d' % (lport, ECHO.port)], 'client-' + mode)
            w.wait_port(lport, proc=c)
            tunnel_roundtrip(lport)
        suite.run('%s: a keyed client tunnels through -L' % mode, keyed_client, timeout=20)

        for name, data in static_probes(port):
            suite.run('%s: probe %s' % (mode, name),
                      lambda data=data, port=port, mode=mode: expect(mode, port, data, ref),
                      timeout=20)

        def replayed(port=port, mode=mode):
            h = replay_heads[mode]
            send_token_once(port, h, 'replay')
            expect(mode, port, h, ref)
        suite.run('%s: probe replayed token' % mode, replayed, timeout=20)
        suite.run('%s: probe token made with the wrong key' % mode,
                  lambda port=port, mode=mode: expect(mode, port, wrong_heads[mode], ref),
                  timeout=20)
        suite.run('%s: probe tampered token (bad MAC)' % mode,
                  lambda port=port, mode=mode: expect(mode, port, tampered, ref), timeout=20)

    def slow_page():
        data = b'GET /slow HTTP/1.1\r\nHost: 127.0.0.1:%d\r\n' % slow_port + UA + b'\r\n'
        dt = expect('fallback', slow_port, data, ref)
        check(dt >= 1.4, 'the slow page came after %.2f s, expected >= 1.5 s (test bug?)' % dt)
    suite.run('fallback: a page slower than --handshake-timeout 1 still arrives whole',
              slow_page, timeout=20)

    def timing():
        wrong_path = ws_head(tport, '/random-path')
        bad_token = set_path(tampered, '/t')
        # sanity: the /t server takes a genuine token on /t (so "bad token"
        # really reaches the token check)
        good = capture_heads(key, 1, path='/t', what='timing')[0]
        send_token_once(tport, good, 'timing')
        times = {'wrong path': [], 'bad token': []}
        for i in range(20):
            for name, data in (('wrong path', wrong_path), ('bad token', bad_token)):
                got, how, dt = exchange(tport, data)
                check(got == b'' and how == 'eof', '%s #%d: got %s, %s' % (name, i, show(got), how))
                times[name].append(dt)
        med = {k: statistics.median(v) for k, v in times.items()}
        desc = ', '.join('%s median %.1f ms (max %.1f)' % (k, med[k] * 1000, max(times[k]) * 1000)
                         for k in med)
        check(all(m < 0.05 for m in med.values()), 'close is slow: ' + desc)
        check(abs(med['wrong path'] - med['bad token']) < 0.025,
              'closing times differ (a timing oracle): ' + desc)
    suite.run('drop: time to close, wrong path vs bad token (20 each)', timing, timeout=30)

    # expired tokens: the skew servers allow 1 s; wait until 2.5 s have passed
    left = EXPIRED_WAIT - (time.monotonic() - t_captured)
    if left > 0:
        time.sleep(left)
    for mode, _ in modes:
        port, skew_port, p, q = servers[mode]
        suite.run('%s: probe expired token (--max-skew 1, 2.5 s old)' % mode,
                  lambda sp=skew_port, mode=mode: expect(mode, sp, expired_heads[mode], ref),
                  timeout=20)

    def skew_servers_serve():
        # the skew servers do not simply refuse everything: a fresh token works
        for mode, _ in modes:
            lport = w.free_port()
            c = start(['client', 'ws://127.0.0.1:%d' % servers[mode][1], '--key', key,
                       '-L', '%d:127.0.0.1:%d' % (lport, ECHO.port)], 'client-skew-' + mode)
            w.wait_port(lport, proc=c)
            tunnel_roundtrip(lport, 1)
    suite.run('--max-skew 1 servers still take a fresh token', skew_servers_serve, timeout=20)

    suite.check_processes('every wsferry exits 0 on SIGTERM, no sanitizer report')
    ECHO.close()
    FB.close()
    NGINX.close()


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
    guard(w.Suite('stealth_test', file_limit=60))
