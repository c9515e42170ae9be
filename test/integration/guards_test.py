#!/usr/bin/python3
"""guards_test.py — the checks that protect users, end to end through a real
`wsferry client -D` (raw SOCKS5 / HTTP sockets and curl), each refusal next to
a positive control on the same server, so that a refusal cannot pass because
the server, the client or the path is broken:
  1 --restrict-to 127.0.0.1:PORT: another port on the permitted host and the
    permitted port on another host (127.0.0.2), both with a live listener, get
    SOCKS5 0x02, CONNECT 403 and plain-proxy 403 (with its reason in the body)
    and are never dialled; the permitted destination comes back byte-exact
    through SOCKS5, CONNECT and the plain proxy.
  2 --allow 127.0.0.0/31: 127.0.0.2 (outside) refused the same way and never
    dialled, 127.0.0.1 byte-exact; through the server's own DNS (--dns to a
    DNS server run here) a name resolving outside the block is refused and
    not dialled, one resolving inside works, one resolving to both dials only
    the allowed address; ::1 is outside an IPv4 block.
  3 certificate names for an IP literal (wss://): a certificate from a test CA
    whose only subjectAltName is IP 127.0.0.2 is refused when the client dials
    wss://127.0.0.1 (SOCKS 0x01, HTTP 502, the client log says "cN TLS: host
    name mismatch (IP address not in the certificate)", the destination is
    never reached), while the same server dialled as wss://127.0.0.2 works; a
    certificate for IP 127.0.0.1 from the same CA works; a dNSName
    "127.0.0.1" (and CN=127.0.0.1) does not stand in for the IP address; a
    `wsferry cert --name 127.0.0.2` certificate given as --ca likewise.

Interface (test/run.sh): binary from env WSFERRY (default ./build/wsferry);
everything runs on 127.0.0.0/8 and ::1 on free ports, started here and ended
by PID; one line per failed case; last line exactly `N passed, N failed`; exit
1 on failure. `-v` also prints passing cases; other arguments filter cases.
"""

import os
import random
import re
import shutil
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import wsfutil as w  # noqa: E402
from wsfutil import check, CaseFail, CaseSkip  # noqa: E402
from dns_test import DNSServer  # noqa: E402

NOT_ALLOWED = 'destination not allowed by the server'
IP_MISMATCH = r'c\d+ TLS: host name mismatch \(IP address not in the certificate\)'
ZONE = {
    'in.guard.wsf.test': {'A': ['127.0.0.1']},
    'out.guard.wsf.test': {'A': ['127.0.0.2']},
    'both.guard.wsf.test': {'A': ['127.0.0.2', '127.0.0.1']},
}


def hostport(host, port):
    return '[%s]:%d' % (host, port) if ':' in host else '%s:%d' % (host, port)


def url_of(host, port, path):
    return 'http://%s%s' % (hostport(host, port), path)


# ---------------------------------------------------------------- positive control

def positive(dp, origin, host='127.0.0.1', nbytes=150000):
    """The permitted destination through every front end of -D: raw SOCKS5,
    curl SOCKS5, curl CONNECT and curl plain proxy each fetch a fresh
    deterministic body from the origin, compared byte for byte."""
    seed = random.randrange(1 << 30)
    path = '/bytes/%d?seed=%d' % (nbytes, seed)
    want = w._det_bytes(nbytes, seed)
    s = w.socks_connect(dp, host, origin.port, timeout=10)
    try:
        s.sendall(('GET %s HTTP/1.1\r\nHost: %s\r\nConnection: close\r\n\r\n'
                   % (path, hostport(host, origin.port))).encode())
        st, _, body, _, _ = w.read_http_response(s, what='origin response over raw SOCKS5')
    finally:
        s.close()
    check(st == 200 and body == want, 'raw SOCKS5 to %s: status %d, %d bytes, %s'
          % (hostport(host, origin.port), st, len(body),
             'equal' if body == want else 'NOT the bytes the origin sent'))
    url = url_of(host, origin.port, path)
    for args, how in ((['--socks5-hostname', '127.0.0.1:%d' % dp], 'curl SOCKS5'),
                      (['-p', '-x', 'http://127.0.0.1:%d' % dp], 'curl CONNECT'),
                      (['-x', 'http://127.0.0.1:%d' % dp], 'curl plain proxy')):
        body = w.curl_ok(args + [url])
        check(body == want, '%s to %s: %d bytes, %s' % (how, url, len(body),
              'equal' if body == want else 'NOT the bytes the origin sent'))


# ---------------------------------------------------------------- refusals

def refused(dp, host, port, watch, server):
    """host:port through -D must be refused as forbidden by the server on
    every front end, and nobody in watch (listeners that would answer) may
    be dialled. server: its log names the refusal."""
    before = [x.accepted for x in watch]
    hp = hostport(host, port)
    logged = server.stderr_text().count('%s: %s' % (hp, NOT_ALLOWED))
    s, rep = w.socks_open(dp, host, port, timeout=10)
    s.close()
    check(rep == 2, 'raw SOCKS5 CONNECT %s: REP 0x%02x (%s), expected 0x02 (not allowed by '
          'ruleset)' % (hp, rep, w.SOCKS_REP_NAMES.get(rep, '?')))

    s = w.connect(dp, timeout=10)
    try:
        s.sendall(('CONNECT %s HTTP/1.1\r\nHost: %s\r\n\r\n' % (hp, hp)).encode())
        st, _, _, head, _ = w.read_http_response(s, what='CONNECT reply')
    finally:
        s.close()
    check(st == 403, 'raw CONNECT %s: %r, expected 403' % (hp, head.split('\r\n')[0]))

    s = w.connect(dp, timeout=10)
    try:
        s.sendall(('GET %s HTTP/1.1\r\nHost: %s\r\nConnection: close\r\n\r\n'
                   % (url_of(host, port, '/guard'), hp)).encode())
        st, _, body, head, _ = w.read_http_response(s, what='plain proxy reply')
    finally:
        s.close()
    check(st == 403, 'raw plain-proxy GET %s: %r, expected 403' % (hp, head.split('\r\n')[0]))
    check(b'not allowed' in body, 'plain-proxy 403 body does not say why: %r' % body[:80])

    url = url_of(host, port, '/guard-curl')
    r = w.curl(['--socks5-hostname', '127.0.0.1:%d' % dp, url], timeout=10)
    check(r.returncode != 0 and r.stdout == b'',
          'curl SOCKS5 to %s: exit %d with %d bytes, expected a refusal'
          % (hp, r.returncode, len(r.stdout)))
    r = w.curl(['-p', '-x', 'http://127.0.0.1:%d' % dp, '-o', '/dev/null',
                '-w', '%{http_connect}', url], timeout=10)
    check(r.stdout.strip() == b'403', 'curl CONNECT to %s: proxy answered %r (exit %d), '
          'expected 403' % (hp, r.stdout.strip(), r.returncode))
    r = w.curl(['-x', 'http://127.0.0.1:%d' % dp, '-w', '\n%{http_code}', url], timeout=10)
    body, _, code = r.stdout.rpartition(b'\n')
    check(code == b'403' and b'not allowed' in body,
          'curl plain proxy to %s: %r %r (exit %d), expected 403 saying why'
          % (hp, code, body[:60], r.returncode))

    time.sleep(0.2)
    after = [x.accepted for x in watch]
    check(after == before, 'the refused destination was dialled anyway (%s connections '
          'accepted by the listener(s) there)' % [a - b for a, b in zip(after, before)])
    check(server.alive(), '%s died: %s' % (server.name, server.tail()))
    # six attempts above (three raw, three curl), each logged by the server
    n = server.stderr_text().count('%s: %s' % (hp, NOT_ALLOWED)) - logged
    check(n >= 6, 'server log names %d of 6 refusals of %s ("%s")' % (n, hp, NOT_ALLOWED))


# ---------------------------------------------------------------- certificates

class CA:
    """A test CA and server certificates made with the openssl CLI."""

    def __init__(self, d):
        self.exe = w.require_peer('openssl', 'openssl')
        self.d = d
        self.crt, self.key = self.p('ca.crt'), self.p('ca.key')
        self.ossl('ecparam', '-genkey', '-name', 'prime256v1', '-noout', '-out', self.key)
        self.ossl('req', '-x509', '-new', '-key', self.key, '-subj', '/CN=Guard Test CA',
                  '-days', '30', '-out', self.crt,
                  '-addext', 'basicConstraints=critical,CA:TRUE',
                  '-addext', 'keyUsage=critical,keyCertSign,cRLSign')
        self.serial = 0x6000

    def p(self, name):
        return os.path.join(self.d, name)

    def ossl(self, *args):
        r = subprocess.run([self.exe] + list(args), stdin=subprocess.DEVNULL,
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=60, cwd=self.d)
        if r.returncode != 0:
            raise CaseFail('openssl %s: %s' % (' '.join(args[:3]),
                                              r.stderr.decode(errors='replace')[-300:]))

    def leaf(self, name, cn, san):
        """(cert, key) for subjectAltName san, signed by this CA."""
        key, csr, crt, ext = (self.p(name + x) for x in ('.key', '.csr', '.crt', '.ext'))
        self.ossl('ecparam', '-genkey', '-name', 'prime256v1', '-noout', '-out', key)
        self.ossl('req', '-new', '-key', key, '-subj', '/CN=%s' % cn, '-out', csr)
        with open(ext, 'w') as f:
            f.write('subjectAltName=%s\nbasicConstraints=CA:FALSE\n'
                    'keyUsage=critical,digitalSignature\nextendedKeyUsage=serverAuth\n' % san)
        self.serial += 1
        self.ossl('x509', '-req', '-in', csr, '-CA', self.crt, '-CAkey', self.key,
                  '-set_serial', hex(self.serial), '-days', '30', '-extfile', ext, '-out', crt)
        return crt, key


def start_wss(hosts, cert, key, name):
    """A wss server with cert on the same port of each of hosts."""
    port = w.free_port()
    p = w.Proc([w.WSFERRY, 'server'] + ['wss://%s:%d' % (h, port) for h in hosts]
               + ['--cert', cert, '--cert-key', key], name)
    w.wait_port(port, proc=p)
    return p, port


def tls_client(host, port, ca, name):
    dp = w.free_port()
    c = w.start_client('wss://%s:%d' % (host, port), ['--ca', ca, '-D', str(dp)],
                       wait_ports=[dp], name=name)
    return c, dp


def tls_refused(host, port, ca, origin, name):
    """A client dialling wss://host:port with --ca must refuse the server's
    certificate: SOCKS 0x01 and HTTP 502 at -D, the origin never reached,
    and each attempt logged as an IP mismatch."""
    c, dp = tls_client(host, port, ca, name)
    before = origin.stats['connections']
    s, rep = w.socks_open(dp, '127.0.0.1', origin.port, timeout=10)
    s.close()
    check(rep == 1, 'SOCKS5 through a client that dialled wss://%s:%d: REP 0x%02x (%s), '
          'expected 0x01 (the server\'s certificate is not for %s)'
          % (host, port, rep, w.SOCKS_REP_NAMES.get(rep, '?'), host))
    r = w.curl(['-x', 'http://127.0.0.1:%d' % dp, '-w', '\n%{http_code}',
                origin.url('/tls-guard')], timeout=10)
    body, _, code = r.stdout.rpartition(b'\n')
    check(code == b'502', 'curl plain proxy: %r %r, expected 502' % (code, body[:60]))
    time.sleep(0.2)
    check(origin.stats['connections'] == before, 'the origin was reached through a server '
          'whose certificate the client should refuse')
    n = 0
    for _ in range(40):
        n = len(re.findall(IP_MISMATCH, c.stderr_text()))
        if n >= 2:
            break
        time.sleep(0.05)
    check(n >= 2, '%d of 2 refused attempts logged "cN TLS: host name mismatch (IP address '
          'not in the certificate)"; the client log:\n%s' % (n, c.tail()))
    check(c.alive(), 'client died after refusing a certificate:\n' + c.tail())
    c.stop()


def tls_ok(host, port, ca, origin, name):
    c, dp = tls_client(host, port, ca, name)
    positive(dp, origin)
    check('TLS:' not in c.stderr_text(), 'the client logged a TLS failure:\n' + c.tail())
    c.stop()


# ---------------------------------------------------------------- the cases

def main(suite):
    tmp = tempfile.mkdtemp(prefix='wsf-guards-')
    try:
        body(suite, tmp)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def body(suite, tmp):
    run = suite.run
    origin = w.HTTPOrigin('127.0.0.1')
    other_port = w.TCPServer(w.echo_handler)                                # 127.0.0.1:E
    other_host = w.TCPServer(w.echo_handler, host='127.0.0.2', port=origin.port)  # 127.0.0.2:O
    dns = DNSServer(ZONE)
    try:
        six = w.TCPServer(w.echo_handler, host='::1')
    except OSError:
        six = None
    watch = [other_port, other_host] + ([six] if six else [])
    rsp, rdp, asp, adp = w.free_ports(4)
    S = {}

    # ---- 1 --restrict-to
    def start_restrict():
        S['r'] = w.start_server(rsp, ['--restrict-to', '127.0.0.1:%d' % origin.port],
                                name='server-restrict')
        S['rc'] = w.start_client('ws://127.0.0.1:%d' % rsp, ['-D', str(rdp)],
                                 wait_ports=[rdp], name='client-restrict')
    if run('--restrict-to: server and client -D start', start_restrict, always=True):
        run('--restrict-to 127.0.0.1:O: another port on that host refused everywhere, not '
            'dialled; 127.0.0.1:O byte-exact on the same server',
            lambda: (refused(rdp, '127.0.0.1', other_port.port, watch, S['r']),
                     positive(rdp, origin)))
        run('--restrict-to 127.0.0.1:O: port O on 127.0.0.2 refused everywhere, not '
            'dialled; 127.0.0.1:O byte-exact on the same server',
            lambda: (refused(rdp, '127.0.0.2', origin.port, watch, S['r']),
                     positive(rdp, origin)))

    # ---- 2 --allow
    def start_allow():
        S['a'] = w.start_server(asp, ['--allow', '127.0.0.0/31',
                                      '--dns', '127.0.0.1:%d' % dns.port], name='server-allow')
        S['ac'] = w.start_client('ws://127.0.0.1:%d' % asp, ['-D', str(adp)],
                                 wait_ports=[adp], name='client-allow')
    if run('--allow: server and client -D start', start_allow, always=True):
        run('--allow 127.0.0.0/31: 127.0.0.2 refused everywhere, not dialled; 127.0.0.1 '
            'byte-exact on the same server',
            lambda: (refused(adp, '127.0.0.2', origin.port, watch, S['a']),
                     positive(adp, origin)))

        def by_name():
            refused(adp, 'out.guard.wsf.test', origin.port, watch, S['a'])
            check(dns.count('out.guard.wsf.test') > 0, 'the server never looked the name up')
            positive(adp, origin, host='in.guard.wsf.test')
            before = other_host.accepted
            positive(adp, origin, host='both.guard.wsf.test')
            check(other_host.accepted == before,
                  'a name resolving to 127.0.0.2 and 127.0.0.1 had 127.0.0.2 dialled')
        run('--allow: a name resolving outside the block refused, not dialled; inside works; '
            'a name with both addresses dials only the allowed one', by_name)

        def v6():
            if six is None:
                raise CaseSkip('cannot listen on ::1 here')
            refused(adp, '::1', six.port, watch, S['a'])
            positive(adp, origin)
        run('--allow 127.0.0.0/31: ::1 refused everywhere, not dialled; 127.0.0.1 byte-exact',
            v6)

    # ---- 3 certificate names for IP literals
    ca = {}

    def make_certs():
        c = CA(tmp)
        ca['ca'] = c
        ca['only2'] = c.leaf('only-127.0.0.2', 'guard only 127.0.0.2', 'IP:127.0.0.2')
        ca['for1'] = c.leaf('for-127.0.0.1', 'guard 127.0.0.1', 'IP:127.0.0.1')
        ca['dnslike'] = c.leaf('dns-127.0.0.1', '127.0.0.1', 'IP:127.0.0.2,DNS:127.0.0.1')
    if run('test CA and certificates made with openssl', make_certs, always=True):
        C = ca['ca']

        def ip_only_2():
            srv, port = start_wss(['127.0.0.1', '127.0.0.2'], *ca['only2'], name='server-only2')
            tls_refused('127.0.0.1', port, C.crt, origin, 'client-only2-at-127.0.0.1')
            tls_ok('127.0.0.2', port, C.crt, origin, 'client-only2-at-127.0.0.2')
            srv2, port2 = start_wss(['127.0.0.1'], *ca['for1'], name='server-for1')
            tls_ok('127.0.0.1', port2, C.crt, origin, 'client-for1')
        run('TLS: certificate only for IP 127.0.0.2 refused at wss://127.0.0.1 (logged as an '
            'IP mismatch, not dialled); same server works at wss://127.0.0.2; a 127.0.0.1 '
            'certificate from the same CA works', ip_only_2, timeout=60)

        def dns_name_is_not_ip():
            srv, port = start_wss(['127.0.0.1', '127.0.0.2'], *ca['dnslike'],
                                  name='server-dnslike')
            tls_refused('127.0.0.1', port, C.crt, origin, 'client-dnslike-at-127.0.0.1')
            tls_ok('127.0.0.2', port, C.crt, origin, 'client-dnslike-at-127.0.0.2')
        run('TLS: a dNSName and CN "127.0.0.1" do not stand in for IP 127.0.0.1; the same '
            'server works at wss://127.0.0.2', dns_name_is_not_ip, timeout=60)

    def self_signed():
        crt, key = os.path.join(tmp, 'ss2.crt'), os.path.join(tmp, 'ss2.key')
        r = subprocess.run([w.WSFERRY, 'cert', '--name', '127.0.0.2', '--out-cert', crt,
                            '--out-key', key], stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, timeout=30)
        check(r.returncode == 0, 'wsferry cert --name 127.0.0.2: exit %d: %s'
              % (r.returncode, r.stderr.decode(errors='replace').strip()))
        srv, port = start_wss(['127.0.0.1', '127.0.0.2'], crt, key, name='server-selfsigned2')
        tls_refused('127.0.0.1', port, crt, origin, 'client-ss2-at-127.0.0.1')
        tls_ok('127.0.0.2', port, crt, origin, 'client-ss2-at-127.0.0.2')
    run('TLS: `wsferry cert --name 127.0.0.2` as --ca refused at wss://127.0.0.1, works at '
        'wss://127.0.0.2 on the same server', self_signed, timeout=60)

    suite.check_processes()
    for x in [other_port, other_host, dns] + ([six] if six else []):
        x.close()
    origin.close()


if __name__ == '__main__':
    w.main_guard(w.Suite('guards_test', file_limit=90), main)
