#!/usr/bin/python3
"""SOCKS4 and SOCKS4a on the client's -D port beside SOCKS5 and HTTP, end to
end through a real `wsferry server`: curl --socks4 (address) and --socks4a
(name resolved by the server), raw SOCKS4 requests (user id ignored, bytes
pipelined behind the request, 0x5B for a refused destination), 0x5B for any
SOCKS4 request when --proxy-user is set, BIND refused in SOCKS4 and SOCKS5,
and a first byte that is neither SOCKS nor HTTP closed at once (no hang).

Interface (test/run.sh): binary from env WSFERRY (default ./build/wsferry);
everything is started here on free 127.0.0.1 ports and ended by PID; one line
per failed case; last line exactly `N passed, N failed`; exit 1 on failure.
`-v` also prints passing cases; other arguments filter case names.
"""

import os
import socket
import struct
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import wsfutil as w  # noqa: E402
from wsfutil import check  # noqa: E402

GRANTED = b'\x00\x5a' + bytes(6)
REJECTED = b'\x00\x5b' + bytes(6)
# A client that gets no answer must not wait this long: "closed at once".
AT_ONCE = 2.0


def v4_request(port, ip='127.0.0.1', user=b'', name=None, cd=1):
    """SOCKS4 (ip) or SOCKS4a (name, with DSTIP 0.0.0.1) request bytes."""
    addr = socket.inet_aton('0.0.0.1' if name else ip)
    req = b'\x04' + bytes([cd]) + struct.pack('>H', port) + addr + user + b'\x00'
    if name:
        req += name.encode() + b'\x00'
    return req


def hello(path):
    return ('origin says hello: GET %s\n' % path).encode()


def closed_at_once(s, what):
    """The proxy closes s without a reply, well before any deadline."""
    t0 = time.monotonic()
    s.settimeout(AT_ONCE + 3)
    try:
        data = s.recv(64)
    except ConnectionResetError:
        data = b''
    except socket.timeout:
        raise w.CaseFail('%s: connection still open after %.0f s' % (what, AT_ONCE + 3))
    took = time.monotonic() - t0
    check(data == b'', '%s: answered %r instead of closing' % (what, data))
    check(took < AT_ONCE, '%s: closed only after %.1f s' % (what, took))


def main(suite):
    origin = w.HTTPOrigin('127.0.0.1')
    echo = w.TCPServer(w.echo_handler)
    sp, dp, adp = w.free_ports(3)
    w.start_server(sp)
    url = 'ws://127.0.0.1:%d' % sp
    w.start_client(url, ['-D', '127.0.0.1:%d' % dp], wait_ports=[dp])
    w.start_client(url, ['-D', str(adp), '--proxy-user', 'alice', '--proxy-pass', 'pw'],
                   wait_ports=[adp], name='client-auth')
    proxy = '127.0.0.1:%d' % dp
    run = suite.run

    def curl_socks4():
        body = w.curl_ok(['--socks4', proxy, origin.url('/four')])
        check(body == hello('/four'), 'body %r' % body[:80])
    run('curl --socks4 (address resolved by curl)', curl_socks4)

    def curl_socks4a():
        body = w.curl_ok(['--socks4a', proxy, origin.url('/foura', 'localhost')])
        check(body == hello('/foura'), 'body %r' % body[:80])
    run('curl --socks4a (name resolved by the server: localhost)', curl_socks4a)

    def curl_socks4_user():
        body = w.curl_ok(['--socks4a', proxy, '-U', 'someone:', origin.url('/u', 'localhost')])
        check(body == hello('/u'), 'body %r' % body[:80])
    run('curl --socks4a with a user id (ignored)', curl_socks4_user)

    def raw_socks4_echo():
        s = w.connect(dp)
        try:
            # Request and payload in one write: the payload is tunneled.
            s.sendall(v4_request(echo.port, user=b'bob') + b'ping over socks4')
            check(w.recv_exact(s, 8, 'SOCKS4 reply') == GRANTED, 'reply not 0x5A')
            got = w.recv_exact(s, 16, 'echo')
            check(got == b'ping over socks4', 'echo %r' % got)
        finally:
            s.close()
    run('raw SOCKS4: pipelined bytes echoed after 0x5A', raw_socks4_echo)

    def raw_socks4a_split():
        s = w.connect(dp)
        try:
            req = v4_request(echo.port, user=b'x' * 40, name='localhost')
            for i in range(len(req)):  # one byte at a time
                s.sendall(req[i:i + 1])
            check(w.recv_exact(s, 8, 'SOCKS4 reply') == GRANTED, 'reply not 0x5A')
            s.sendall(b'abc')
            check(w.recv_exact(s, 3, 'echo') == b'abc', 'echo differs')
        finally:
            s.close()
    run('raw SOCKS4a fed one byte at a time', raw_socks4a_split)

    def socks4_refused_target():
        s = w.connect(dp)
        try:
            s.sendall(v4_request(w.refused_port()))
            check(w.recv_exact(s, 8, 'SOCKS4 reply') == REJECTED, 'reply not 0x5B')
            check(w.recv_until_eof(s) == b'', 'bytes after 0x5B')
        finally:
            s.close()
    run('SOCKS4 to a refused port: 0x5B, then closed', socks4_refused_target)

    def socks4_with_credentials():
        for name in (None, 'localhost'):
            s = w.connect(adp)
            try:
                s.sendall(v4_request(origin.port, user=b'alice', name=name))
                check(w.recv_exact(s, 8, 'SOCKS4 reply') == REJECTED, 'reply not 0x5B')
                check(w.recv_until_eof(s) == b'', 'bytes after 0x5B')
            finally:
                s.close()
        r = w.curl(['--socks4a', '127.0.0.1:%d' % adp, origin.url('/no', 'localhost')])
        check(r.returncode != 0, 'curl --socks4a succeeded through a proxy with credentials')
        body = w.curl_ok(['--socks5-hostname', 'alice:pw@127.0.0.1:%d' % adp,
                          origin.url('/yes', 'localhost')])
        check(body == hello('/yes'), 'SOCKS5 with credentials: body %r' % body[:80])
    run('--proxy-user set: SOCKS4 and SOCKS4a refused with 0x5B, SOCKS5 served',
        socks4_with_credentials)

    def bind_refused():
        s = w.connect(dp)
        try:
            s.sendall(v4_request(echo.port, cd=2))
            check(w.recv_exact(s, 8, 'SOCKS4 BIND reply') == REJECTED, 'SOCKS4 BIND not 0x5B')
            check(w.recv_until_eof(s) == b'', 'bytes after 0x5B')
        finally:
            s.close()
        s = w.connect(dp)
        try:
            s.sendall(b'\x05\x01\x00')
            check(w.recv_exact(s, 2, 'method selection') == b'\x05\x00', 'method selection')
            s.sendall(w.socks_request('127.0.0.1', echo.port, cmd=2))
            rep = w.read_socks_reply(s)[0]
            check(rep == 7, 'SOCKS5 BIND answered REP 0x%02x, expected 0x07' % rep)
            check(w.recv_until_eof(s) == b'', 'bytes after the refusal')
        finally:
            s.close()
    run('BIND refused: SOCKS4 0x5B, SOCKS5 0x07, connection closed', bind_refused)

    def unknown_first_byte():
        for first in (b'\x16\x03\x01\x00\x10', b'\x06\x01\x00', b'\x00', b'\xff\xfe',
                      b'\x01\x02'):
            s = w.connect(dp)
            try:
                s.sendall(first)
                closed_at_once(s, 'first bytes %r' % first)
            finally:
                s.close()
    run('a first byte neither SOCKS4, SOCKS5 nor HTTP: closed at once', unknown_first_byte)

    def http_still_served():
        body = w.curl_ok(['-x', 'http://' + proxy, origin.url('/http')])
        check(body == hello('/http'), 'body %r' % body[:80])
        body = w.curl_ok(['--socks5', proxy, origin.url('/five')])
        check(body == hello('/five'), 'body %r' % body[:80])
    run('HTTP proxy and SOCKS5 on the same port still served', http_still_served)


if __name__ == '__main__':
    w.main_guard(w.Suite('socks4'), main)
