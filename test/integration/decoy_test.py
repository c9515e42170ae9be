#!/usr/bin/python3
"""decoy_test.py — --stealth decoy against its twin, Debian's nginx with
server_tokens off serving an empty site (root /nonexistent), side by side:
the same bytes sent to both, the answers compared byte for byte except the
Date value (which must be the current time as an IMF-fixdate), and whether
each left the connection open or closed it. Probes: GET, HEAD, POST,
OPTIONS, an unknown method, malformed request lines, a bare-LF head, an
HTTP/0.9 line, oversized header lines and heads, a long URI, HTTP/1.0 with
and without keep-alive, keep-alive sequences (one request after the other,
and pipelined), request bodies to discard, browser user agents (nginx pads
its pages for MSIE and Chrome). Then the tunnel on a kept-alive connection:
a probe gets the decoy, a genuine tunnel request after it still gets 101 and
carries bytes; and slow-loris safety: every request head on a kept-alive
connection has its own --handshake-timeout, answered by a silent close as
nginx does; over wss:// curl reuses one kept-alive TLS connection.

Interface (test/run.sh): binary from env WSFERRY (default ./build/wsferry);
nginx and wsferry started here on free 127.0.0.1 ports and ended by PID;
every wsferry must exit 0 and print no sanitizer report; one line per failed
case; last line exactly `N passed, N failed`; exit 1 on failure. `-v` also
prints passing cases; other arguments filter case names.
"""

import email.utils
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

WSFERRY = w.WSFERRY
DATE = re.compile(rb'\r\nDate: ([^\r\n]*)\r\n')
FIREFOX = b'User-Agent: Mozilla/5.0 (X11; Linux x86_64; rv:115.0) Gecko/20100101 Firefox/115.0\r\n'
CHROME = (b'User-Agent: Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 '
          b'(KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36\r\n')
MSIE6 = b'User-Agent: Mozilla/4.0 (compatible; MSIE 6.0; Windows NT 5.1)\r\n'
H = b'Host: example.com\r\n'


def probes():
    """(name, parts): parts is the bytes, or a list sent one after another."""
    get = b'GET / HTTP/1.1\r\n' + H + FIREFOX + b'Accept: */*\r\n\r\n'
    return [
        ('GET /', get),
        ('GET /index.html', b'GET /index.html HTTP/1.1\r\n' + H + b'\r\n'),
        ('HEAD /', b'HEAD / HTTP/1.1\r\n' + H + FIREFOX + b'\r\n'),
        ('POST with a body', b'POST /login HTTP/1.1\r\n' + H +
         b'Content-Type: application/x-www-form-urlencoded\r\nContent-Length: 27\r\n\r\n'
         b'user=admin&password=hunter2'),
        ('OPTIONS /', b'OPTIONS / HTTP/1.1\r\n' + H + b'\r\n'),
        ('OPTIONS *', b'OPTIONS * HTTP/1.1\r\n' + H + b'\r\n'),
        ('PUT', b'PUT /x HTTP/1.1\r\n' + H + b'Content-Length: 3\r\n\r\nabc'),
        ('DELETE', b'DELETE /x HTTP/1.1\r\n' + H + b'\r\n'),
        ('unknown method BREW', b'BREW /pot HTTP/1.1\r\n' + H + b'\r\n'),
        ('CONNECT', b'CONNECT example.com:443 HTTP/1.1\r\n' + H + b'\r\n'),
        ('TRACE', b'TRACE / HTTP/1.1\r\n' + H + b'\r\n'),
        ('malformed line: spaces in the target', b'GET /a b c HTTP/1.1\r\n' + H + b'\r\n'),
        ('malformed line: lowercase method', b'get / HTTP/1.1\r\n' + H + b'\r\n'),
        ('malformed line: control byte', b'GET /\x01 HTTP/1.1\r\n' + H + b'\r\n'),
        ('malformed line: HEAD with a control byte', b'HEAD /\x01 HTTP/1.1\r\n\r\n'),
        ('malformed line: bad version', b'GET / HTTX/1.1\r\n' + H + b'\r\n'),
        ('HTTP/2.0 line (505)', b'GET / HTTP/2.0\r\n' + H + b'\r\n'),
        ('bare-LF head', b'GET / HTTP/1.1\n' + H.replace(b'\r', b'') + b'Accept: */*\n\n'),
        ('HTTP/0.9 line', b'GET /\r\n'),
        ('HTTP/0.9 POST', b'POST /x\r\n'),
        ('HTTP/1.0 GET', b'GET / HTTP/1.0\r\n' + FIREFOX + b'\r\n'),
        ('HTTP/1.0 keep-alive', b'GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n'),
        ('HTTP/1.1 without Host', b'GET / HTTP/1.1\r\n\r\n'),
        ('two Host headers', b'GET / HTTP/1.1\r\n' + H + H + b'\r\n'),
        ('invalid Host', b'GET / HTTP/1.1\r\nHost: a/b\r\n\r\n'),
        ('Connection: close', b'GET / HTTP/1.1\r\n' + H + b'Connection: close\r\n\r\n'),
        ('dot-dot above the root', b'GET /../etc/passwd HTTP/1.1\r\n' + H + b'\r\n'),
        ('bad percent escape', b'GET /%zz HTTP/1.1\r\n' + H + b'\r\n'),
        ('absolute-form target', b'GET http://example.com/x HTTP/1.1\r\n' + H + b'\r\n'),
        ('invalid header line', b'GET / HTTP/1.1\r\n' + H + b'Bad Header: 1\r\n\r\n'),
        ('bad Content-Length', b'POST / HTTP/1.1\r\n' + H + b'Content-Length: 1x\r\n\r\n'),
        ('body over client_max_body_size (413)', b'POST / HTTP/1.1\r\n' + H +
         b'Content-Length: 2000000\r\n\r\n'),
        ('unknown Transfer-Encoding (501)', b'POST / HTTP/1.1\r\n' + H +
         b'Transfer-Encoding: gzip\r\n\r\n'),
        ('oversized header line (494)', b'GET / HTTP/1.1\r\n' + H + b'X-Big: ' + b'a' * 9000 +
         b'\r\n\r\n'),
        ('oversized head, 32 KiB of headers (494)', b'GET / HTTP/1.1\r\n' + H +
         b''.join(b'X-Pad-%02d: %s\r\n' % (i, b'a' * 1000) for i in range(32)) + b'\r\n'),
        ('20 KiB of headers (404)', b'GET / HTTP/1.1\r\n' + H +
         b''.join(b'X-Pad-%02d: %s\r\n' % (i, b'a' * 1000) for i in range(20)) + b'\r\n'),
        ('long URI (414)', b'GET /' + b'a' * 9000 + b' HTTP/1.1\r\n' + H + b'\r\n'),
        ('TLS ClientHello', b'\x16\x03\x01\x00\xa5\x01\x00\x00\xa1\x03\x03' + bytes(32)),
        ('SSH banner', b'SSH-2.0-OpenSSH_9.2p1 Debian-2+deb12u3\r\n'),
        ('Chrome user agent (padded page)', b'GET / HTTP/1.1\r\n' + H + CHROME + b'\r\n'),
        ('MSIE 6 POST (padded, not kept alive)', b'POST / HTTP/1.1\r\n' + H + MSIE6 +
         b'Content-Length: 0\r\n\r\n'),
        ('keep-alive: two requests one after the other', [get, b'HEAD /x HTTP/1.1\r\n' + H + b'\r\n']),
        ('keep-alive: three requests, the last with Connection: close',
         [get, b'OPTIONS / HTTP/1.1\r\n' + H + b'\r\n',
          b'GET /y HTTP/1.1\r\n' + H + b'Connection: close\r\n\r\n']),
        ('keep-alive: two pipelined requests', get + b'GET /z HTTP/1.1\r\n' + H + b'\r\n'),
        ('keep-alive: POST body, then a request', [b'POST /a HTTP/1.1\r\n' + H +
         b'Content-Length: 5\r\n\r\nhello', get]),
        ('keep-alive: chunked body, then a request', [b'POST /a HTTP/1.1\r\n' + H +
         b'Transfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n', get]),
        ('keep-alive: a request, then a malformed one', [get, b'GET /\x7f HTTP/1.1\r\n\r\n']),
        ('keep-alive: empty lines before the next request', [get, b'\r\n\r\n' + get]),
    ]


def normalise(b):
    return DATE.sub(b'\r\nDate: <date>\r\n', b)


def check_dates(b, t0, t1):
    for m in DATE.finditer(b):
        v = m.group(1).decode('latin-1')
        try:
            t = email.utils.parsedate_to_datetime(v).timestamp()
        except (TypeError, ValueError):
            raise CaseFail('Date %r is no HTTP date' % v)
        check(email.utils.formatdate(t, usegmt=True) == v,
              'Date %r is not an IMF-fixdate (expected %r)' % (v, email.utils.formatdate(t, usegmt=True)))
        check(t0 - 2 <= t <= t1 + 2, 'Date %r is not the current time' % v)


def show(b):
    return repr(b[:160]) + ('... (%d bytes)' % len(b) if len(b) > 160 else '')


def compare(ngx_port, decoy_port, parts):
    want, how_n = w.http_exchange(ngx_port, parts)
    t0 = time.time()
    got, how_d = w.http_exchange(decoy_port, parts)
    check_dates(got, t0, time.time())
    check(want, 'nginx itself said nothing (test bug?)')
    check(normalise(got) == normalise(want),
          'decoy answered %s\n    nginx answered %s' % (show(normalise(got)), show(normalise(want))))
    check(how_d == how_n, 'after the answers nginx leaves the connection %s, the decoy %s'
          % (how_n, how_d))


# ---------------------------------------------------------------- the tunnel

def capture_head(key, target_port):
    """A genuine, never used tunnel request head: a keyed client dials a
    fake server of ours and we keep what it sent."""
    fake = socket.socket()
    fake.bind(('127.0.0.1', 0))
    fake.listen(4)
    fake.settimeout(w.T)
    lport = w.free_port()
    p = w.Proc([WSFERRY, 'client', 'ws://127.0.0.1:%d' % fake.getsockname()[1], '--key', key,
                '-L', '%d:127.0.0.1:%d' % (lport, target_port)], 'client-capture')
    try:
        w.wait_port(lport, proc=p)
        c = w.connect(lport)
        try:
            a, _ = fake.accept()
            a.settimeout(w.T)
            buf = b''
            for _ in range(64):
                if b'\r\n\r\n' in buf:
                    break
                d = a.recv(65536)
                if not d:
                    break
                buf += d
            a.close()
        finally:
            c.close()
    finally:
        fake.close()
        p.stop()
    check(b'\r\n\r\n' in buf, 'the client sent no whole head: %r' % buf[:80])
    return buf[:buf.index(b'\r\n\r\n') + 4]


def recv_head(s, what):
    buf = b''
    for _ in range(256):
        if b'\r\n\r\n' in buf:
            break
        d = s.recv(4096)
        if not d:
            raise CaseFail('%s: closed after %r' % (what, buf[:100]))
        buf += d
    end = buf.index(b'\r\n\r\n') + 4
    return buf[:end], buf[end:]


def ws_frame(payload):
    mask = os.urandom(4)
    masked = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
    return struct.pack('>BB', 0x82, 0x80 | len(payload)) + mask + masked


def main(suite):
    ngx = w.DecoyNginx()
    echo = w.TCPServer(w.echo_handler)
    key = subprocess.run([WSFERRY, 'keygen'], stdout=subprocess.PIPE, timeout=10).stdout.decode().strip()
    port = w.free_port()
    w.Proc([WSFERRY, 'server', 'ws://127.0.0.1:%d' % port, '--key', key, '--stealth', 'decoy',
            '--handshake-timeout', '1'], 'server-decoy')
    w.wait_port(port)

    for name, parts in probes():
        suite.run('decoy = nginx: ' + name, compare, ngx.port, port, parts, timeout=30)

    def at_once():
        for name, data in (('bare-LF head', b'GET / HTTP/1.1\nHost: a\n\n'),
                           ('HTTP/0.9 line', b'GET /\r\n'),
                           ('oversized header', b'GET / HTTP/1.1\r\nX: ' + b'a' * 9000)):
            s = w.connect(port)
            try:
                t = time.monotonic()
                s.sendall(data)
                d = s.recv(65536)
                dt = time.monotonic() - t
            finally:
                s.close()
            check(d and dt < 0.5, '%s: answered after %.2f s (%r), not at once' % (name, dt, d[:40]))
    suite.run('bare-LF, HTTP/0.9 and oversized heads are answered at once', at_once)

    def tunnel_after_decoy():
        head = capture_head(key, echo.port)
        s = w.connect(port)
        try:
            s.sendall(b'GET / HTTP/1.1\r\n' + H + b'\r\n')
            first, rest = recv_head(s, 'the probe')
            check(first.startswith(b'HTTP/1.1 404 Not Found\r\nServer: nginx\r\n') and
                  b'Connection: keep-alive' in first, 'probe answer: %r' % first)
            body = rest
            for _ in range(16):
                if len(body) >= 146:
                    break
                body += s.recv(4096)
            check(len(body) == 146, 'the 404 page is %d bytes, not 146' % len(body))
            s.sendall(head)
            ans, extra = recv_head(s, 'the tunnel request after a decoy answer')
            check(ans.startswith(b'HTTP/1.1 101 '), 'tunnel request after the decoy: %r' % ans[:80])
            msg = os.urandom(100)
            s.sendall(ws_frame(msg))
            buf = extra
            for _ in range(64):
                if len(buf) >= 2 + len(msg):
                    break
                d = s.recv(4096)
                if not d:
                    break
                buf += d
            check(buf[:2] == bytes([0x82, len(msg)]) and buf[2:2 + len(msg)] == msg,
                  'bytes through the tunnel came back as %r' % buf[:40])
        finally:
            s.close()
    suite.run('keep-alive: a probe gets the decoy, then a tunnel request on the same '
              'connection still tunnels', tunnel_after_decoy, timeout=30)

    def head_deadline_per_request():
        s = w.connect(port, timeout=5)
        try:
            s.sendall(b'GET / HTTP/1.1\r\n' + H + b'\r\n')
            _, page = recv_head(s, 'first request')
            for _ in range(16):
                if len(page) >= 146:
                    break
                page += s.recv(4096)
            # idle after an answer is nginx's keepalive_timeout, not the head deadline
            time.sleep(1.5)
            t = time.monotonic()
            s.sendall(b'GET / HTTP/1.1\r\n')  # and never the rest
            got = b''
            for _ in range(64):
                d = s.recv(65536)
                if not d:
                    break
                got += d
            dt = time.monotonic() - t
        finally:
            s.close()
        check(got == b'', 'a slow second head got %r' % got[:60])
        check(0.8 <= dt <= 2.5, 'a slow second head was closed after %.2f s, not after '
              '--handshake-timeout 1' % dt)
    suite.run('slow-loris: a kept-alive connection still has a deadline per request head '
              '(closed without a word, as nginx does)', head_deadline_per_request, timeout=30)

    def over_tls():
        tport = w.free_port()
        w.Proc([WSFERRY, 'server', 'wss://127.0.0.1:%d' % tport, '--stealth', 'decoy'],
               'server-decoy-wss')
        w.wait_port(tport)
        r = w.curl(['-sk', '-v', '-o', '/dev/null', '-o', '/dev/null',
                    'https://127.0.0.1:%d/a' % tport, 'https://127.0.0.1:%d/b' % tport])
        err = r.stderr.decode('latin-1')
        check(err.count('< HTTP/1.1 404 Not Found') == 2 and err.count('< Server: nginx') == 2,
              'curl over wss:// saw:\n' + err[-600:])
        check('Re-using existing connection' in err, 'curl did not reuse the connection:\n' + err[-600:])
    suite.run('wss://: the decoy keeps a TLS connection alive (curl reuses it)', over_tls)

    ngx.close()
    echo.close()


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
    guard(w.Suite('decoy_test', file_limit=120))
