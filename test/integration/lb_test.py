#!/usr/bin/python3
"""lb_test.py — wsferry behind load balancers (issue 16): --proxy-protocol
(raw PROXY v1 and v2 headers, a v2 LOCAL health check, TLS after the header,
headers refused from untrusted sources, sources that must send one and do
not, per-IP limits under the real client's address) and Debian's haproxy
with send-proxy-v2 in front of a keyed tunnel; --trust-proxy
(X-Forwarded-For / X-Real-IP believed from trusted sources only, per-IP
limits under the forwarded address).

Interface (test/run.sh): binary from env WSFERRY (default ./build/wsferry);
everything is started here on free 127.0.0.1 ports (and 127.0.0.x source
addresses) and ended by PID; one line per failed case; last line exactly
`N passed, N failed`; exit 1 on failure. `-v` also prints passing cases;
other arguments filter case names.
"""

import base64
import hashlib
import os
import select
import socket
import ssl
import struct
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import wsfutil as w  # noqa: E402
from wsfutil import check, CaseFail  # noqa: E402

WSFERRY = w.WSFERRY
GUID = b'258EAFA5-E914-47DA-95CA-C5AB0DC85B11'
V2_SIG = b'\r\n\r\n\x00\r\nQUIT\n'


def v1(src, dst='127.0.0.1', sport=40000, dport=443):
    fam = 'TCP6' if ':' in src else 'TCP4'
    return ('PROXY %s %s %s %d %d\r\n' % (fam, src, dst, sport, dport)).encode()


def v2(src, dst='127.0.0.1', sport=40000, dport=443, tlv=b'', local=False):
    if local:
        return V2_SIG + b'\x20\x00\x00\x00'
    if ':' in src:
        block = (socket.inet_pton(socket.AF_INET6, src) + socket.inet_pton(socket.AF_INET6, dst) +
                 struct.pack('!HH', sport, dport))
        fam = 0x21
    else:
        block = (socket.inet_aton(src) + socket.inet_aton(dst) + struct.pack('!HH', sport, dport))
        fam = 0x11
    block += tlv
    return V2_SIG + bytes([0x21, fam]) + struct.pack('!H', len(block)) + block


def connect_from(port, src='127.0.0.1', timeout=w.T):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.settimeout(timeout)
    s.bind((src, 0))
    s.connect(('127.0.0.1', port))
    return s


def upgrade(s, port, path='/echo', extra=b''):
    key = base64.b64encode(os.urandom(16))
    s.sendall(b'GET ' + path.encode() + b' HTTP/1.1\r\nHost: 127.0.0.1:%d\r\n' % port +
              b'Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: ' + key +
              b'\r\nSec-WebSocket-Version: 13\r\n' + extra + b'\r\n')
    status, hdrs, _, head, rest = w.read_http_response(s, what='upgrade answer')
    check(status == 101, 'upgrade to %s answered %d: %r' % (path, status, head[:80]))
    want = base64.b64encode(hashlib.sha1(key + GUID).digest()).decode()
    check(hdrs.get('sec-websocket-accept') == want, 'bad Sec-WebSocket-Accept')
    return rest


def echo_once(s, rest=b''):
    msg = ('hello %s' % os.urandom(6).hex()).encode()
    mask = os.urandom(4)
    s.sendall(struct.pack('!BB', 0x81, 0x80 | len(msg)) + mask +
              bytes(b ^ mask[i % 4] for i, b in enumerate(msg)))
    buf = rest
    while len(buf) < 2 + len(msg):
        d = s.recv(4096)
        check(d, 'connection closed before the echo came back')
        buf += d
    check(buf[:2] == bytes([0x81, len(msg)]) and buf[2:2 + len(msg)] == msg,
          'echo answered %r for %r' % (buf[:40], msg))


def closed_silently(s, t=2.0):
    """True when the peer closes s within t seconds without sending a byte."""
    deadline = time.monotonic() + t
    for _ in range(1000):
        left = deadline - time.monotonic()
        if left <= 0:
            return False
        r, _, _ = select.select([s], [], [], left)
        if not r:
            return False
        try:
            d = s.recv(4096)
        except ConnectionResetError:
            return True
        return not d
    return False


def is_open(s):
    r, _, _ = select.select([s], [], [], 0.05)
    if not r:
        return True
    try:
        return bool(s.recv(1, socket.MSG_PEEK))
    except OSError:
        return False


def log_has(srv, text, t=3.0):
    for _ in range(int(t / 0.05) + 1):
        if text in srv.stderr_text():
            return True
        time.sleep(0.05)
    return False


def start(port, extra, name, url=None):
    p = w.Proc([WSFERRY, 'server', url or 'ws://127.0.0.1:%d' % port, '--echo', '/echo',
                '--log-level', 'debug'] + list(extra), name)
    w.wait_port(port, proc=p)
    return p


# ---------------------------------------------------------------- cases

def case_raw_headers(srv, port):
    for name, hdr, who in (('v1', v1('192.0.2.7', sport=51001), '192.0.2.7:51001'),
                           ('v1 IPv6', v1('2001:db8::9', '::1', 51002), '[2001:db8::9]:51002'),
                           ('v2', v2('192.0.2.8', sport=51003), '192.0.2.8:51003'),
                           ('v2 TLVs', v2('192.0.2.9', sport=51004, tlv=b'\x05\x00\x03abc' * 40),
                            '192.0.2.9:51004')):
        s = connect_from(port)
        try:
            s.sendall(hdr)  # the header alone first: the server must wait for the rest
            time.sleep(0.05)
            echo_once(s, upgrade(s, port))
        finally:
            s.close()
        check(log_has(srv, 'client %s (PROXY v%s' % (who, name[1])),
              'no log line naming the real client %s for a %s header:\n%s'
              % (who, name, srv.tail()))
    # header and request in one segment, and a v2 LOCAL health check
    for hdr in (v1('192.0.2.10'), v2('', local=True)):
        s = connect_from(port)
        try:
            s.sendall(hdr + b'GET /echo HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\n'
                      b'Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n'
                      b'Sec-WebSocket-Version: 13\r\n\r\n')
            status = w.read_http_response(s, what='upgrade answer')[0]
            check(status == 101, 'upgrade after a %r header answered %d' % (hdr[:12], status))
        finally:
            s.close()


def case_required(srv, port):
    """From a --proxy-protocol source, anything but a header is dropped."""
    for junk in (b'GET /echo HTTP/1.1\r\nHost: x\r\n\r\n', b'PROXY TCP4 1.2.3.4\r\n',
                 b'PROXY TCP4 1.2.3.4 5.6.7.8 1 99999\r\n', V2_SIG + b'\x11\x11\x00\x0c'):
        s = connect_from(port)
        try:
            s.sendall(junk)
            check(closed_silently(s), 'a source that must send PROXY sent %r and was not '
                  'dropped without a byte' % junk[:20])
        finally:
            s.close()
    check(log_has(srv, '(--proxy-protocol): no PROXY protocol header: dropped'),
          'no log line for the missing header:\n%s' % srv.tail())


def case_untrusted(srv, port):
    """A header from elsewhere is not believed: it is just not HTTP."""
    for hdr in (v1('192.0.2.66'), v2('192.0.2.66')):
        s = connect_from(port, '127.0.0.2')
        try:
            s.sendall(hdr + b'GET /echo HTTP/1.1\r\nHost: x\r\n\r\n')
            check(closed_silently(s), 'a PROXY header from an untrusted source was served')
        finally:
            s.close()
    check('192.0.2.66' not in srv.stderr_text(), 'the untrusted header was believed')
    s = connect_from(port, '127.0.0.2')  # plain clients there are served as ever
    try:
        echo_once(s, upgrade(s, port))
    finally:
        s.close()


def case_tls_after_header():
    port = w.free_port()
    srv = start(port, ['--proxy-protocol', '127.0.0.1'], 'server-pp-tls',
                'wss://127.0.0.1:%d' % port)
    try:
        for hdr in (v1('198.51.100.4', sport=52000), v2('198.51.100.5', sport=52001)):
            raw = connect_from(port)
            raw.sendall(hdr)
            ctx = ssl.create_default_context()
            ctx.check_hostname = False
            ctx.verify_mode = ssl.CERT_NONE
            s = ctx.wrap_socket(raw, server_hostname='127.0.0.1')
            try:
                echo_once(s, upgrade(s, port))
            finally:
                s.close()
        check(log_has(srv, 'client 198.51.100.5:52001 (PROXY v2'), 'v2 before TLS not logged')
    finally:
        srv.stop()


def case_per_ip_real_client():
    port = w.free_port()
    srv = start(port, ['--proxy-protocol', '127.0.0.0/8', '--max-conns-per-ip', '2'],
                'server-pp-perip')
    held = []
    try:
        for i in range(4):  # 4 from the balancer's one address: the limit is not its
            s = connect_from(port)
            s.sendall(v2('192.0.2.%d' % (20 + i // 2)))
            held.append(s)
            echo_once(s, upgrade(s, port))
        s = connect_from(port)
        s.sendall(v1('192.0.2.20'))
        try:
            check(closed_silently(s), 'a third connection of real client 192.0.2.20 was served '
                  '(--max-conns-per-ip 2)')
        finally:
            s.close()
        check(log_has(srv, '192.0.2.20 already holds 2 connections'),
              'the refusal does not name the real client:\n%s' % srv.tail())
        for s in held:
            check(is_open(s), 'a held connection was closed by the refusal')
    finally:
        for s in held:
            s.close()
        srv.stop()


HAPROXY_CONF = """
global
    maxconn 512
defaults
    mode tcp
    timeout connect 5s
    timeout client 30s
    timeout server 30s
frontend fe
    bind 127.0.0.1:%(hp)d
    default_backend nodes
backend nodes
    balance roundrobin
    server n1 127.0.0.1:%(sp)d send-proxy-v2 check check-send-proxy inter 500ms
"""


def case_haproxy():
    exe = w.require_peer('haproxy', 'haproxy', '/usr/sbin/haproxy')
    sp, hp, lp = w.free_ports(3)
    key = subprocess.run([WSFERRY, 'keygen'], capture_output=True, text=True,
                         check=True).stdout.strip()
    srv = start(sp, ['--proxy-protocol', '127.0.0.1', '--key', key], 'server-haproxy')
    d = tempfile.mkdtemp(prefix='wsf-haproxy-')
    conf = os.path.join(d, 'haproxy.cfg')
    with open(conf, 'w') as f:
        f.write(HAPROXY_CONF % {'hp': hp, 'sp': sp})
    ha = w.Proc([exe, '-db', '-f', conf], 'haproxy', wsferry=False)
    origin = w.TCPServer(w.echo_handler)
    try:
        w.wait_port(hp, proc=ha)
        cli = w.start_client('ws://127.0.0.1:%d' % hp, ['--key', key, '-L',
                             '127.0.0.1:%d:127.0.0.1:%d' % (lp, origin.port)],
                             wait_ports=[lp], name='client-haproxy')
        s = w.connect(lp)
        try:
            data = os.urandom(200000)
            s.sendall(data)
            s.shutdown(socket.SHUT_WR)
            got = w.recv_until_eof(s, what='echo through haproxy')
            check(got == data, 'echo through haproxy: %d of %d bytes' % (len(got), len(data)))
        finally:
            s.close()
        check(log_has(srv, ' (PROXY v2 from 127.0.0.1:'),
              'no PROXY v2 from haproxy in the log:\n%s' % srv.tail())
        cli.stop()
    finally:
        origin.close()
        ha.stop()
        srv.stop()


def case_trust_proxy():
    port = w.free_port()
    srv = start(port, ['--trust-proxy', '127.0.0.1', '--trust-proxy', '10.0.0.0/8',
                       '--max-conns-per-ip', '1'], 'server-xff')
    held = []
    try:
        for xff in (b'X-Forwarded-For: 203.0.113.1\r\n',
                    b'X-Forwarded-For: 198.51.100.9, 203.0.113.2, 10.1.2.3\r\n',
                    b'X-Real-IP: 203.0.113.3\r\n'):
            s = connect_from(port)
            held.append(s)
            echo_once(s, upgrade(s, port, extra=xff))
        for who in ('203.0.113.1', '203.0.113.2', '203.0.113.3'):
            check(log_has(srv, 'client %s (X-Forwarded-For from 127.0.0.1' % who),
                  'forwarded client %s not logged:\n%s' % (who, srv.tail()))
        # a second connection of the same forwarded client is over the limit
        s = connect_from(port)
        try:
            s.sendall(b'GET /echo HTTP/1.1\r\nHost: x\r\nX-Forwarded-For: 203.0.113.1\r\n\r\n')
            check(closed_silently(s), 'the second connection of 203.0.113.1 was served '
                  '(--max-conns-per-ip 1)')
        finally:
            s.close()
        # from an untrusted source the header means nothing: counted as itself
        s = connect_from(port, '127.0.0.3')
        held.append(s)
        echo_once(s, upgrade(s, port, extra=b'X-Forwarded-For: 203.0.113.77\r\n'))
        check('203.0.113.77' not in srv.stderr_text(), 'X-Forwarded-For believed from '
              'an untrusted source')
    finally:
        for s in held:
            s.close()
        srv.stop()


def main(suite):
    port = w.free_port()
    srv = start(port, ['--proxy-protocol', '127.0.0.1/32'], 'server-pp')
    suite.run('raw PROXY v1/v2 headers (split, TLVs, IPv6, LOCAL) give the real client',
              case_raw_headers, srv, port)
    suite.run('a --proxy-protocol source without a header is dropped without a byte',
              case_required, srv, port)
    suite.run('PROXY headers from untrusted sources are refused, plain clients served',
              case_untrusted, srv, port)
    srv.stop()
    suite.run('wss:// with the PROXY header before TLS', case_tls_after_header)
    suite.run('--max-conns-per-ip counts the real client, not the balancer',
              case_per_ip_real_client)
    suite.run('haproxy send-proxy-v2 (with health checks) in front of a keyed tunnel',
              case_haproxy)
    suite.run('--trust-proxy: X-Forwarded-For / X-Real-IP from trusted proxies only',
              case_trust_proxy)


if __name__ == '__main__':
    w.main_guard(w.Suite('lb_test'), main)
