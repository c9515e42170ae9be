#!/usr/bin/python3
"""Transparent proxy (--redirect, --tproxy) inside network namespaces made
here (test/integration/wsfnetns.py): curl in a LAN namespace reaches a web
server in a far namespace only through a wsferry client on the router (nft
REDIRECT / TPROXY rules) and a wsferry server beside the web server; IPv4 and
IPv6; a redirected connection to the tunnel server itself, and one made
straight to the proxy port, are refused as loops with a log line.

Needs root, iproute2, nftables and the kernel's nft nat/tproxy support.
Interface as the other tests (WSFERRY, -v, filters, `N passed, N failed`).
"""

import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import wsfutil as w  # noqa: E402
from wsfutil import check, CaseFail  # noqa: E402
import wsfnetns as nn  # noqa: E402

SERVER_PORT = 8080   # the wsferry server, on S
REDIRECT_PORT = 12345
TPROXY_PORT = 12346
WEB_PORTS = (80, 8081)  # 80 is REDIRECTed, 8081 TPROXYed
BIG = 4 << 20

WEB = r'''
import hashlib, socket, sys, threading
BIG = %d
body_big = b''.join(hashlib.sha256(b'%%d' %% i).digest() for i in range(BIG // 32))
def serve(port):
    s = socket.socket(socket.AF_INET6, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
    s.bind(('::', port)); s.listen(64)
    while True:
        c, a = s.accept()
        threading.Thread(target=one, args=(c, a, port), daemon=True).start()
def one(c, a, port):
    try:
        req = b''
        while b'\r\n\r\n' not in req:
            d = c.recv(4096)
            if not d: return
            req += d
        path = req.split(b' ')[1]
        body = body_big if path == b'/big' else ('far %%d from %%s\n' %% (port, a[0])).encode()
        c.sendall(b'HTTP/1.1 200 OK\r\nContent-Length: %%d\r\nConnection: close\r\n\r\n'
                  %% len(body) + body)
    finally:
        c.close()
for p in %r:
    threading.Thread(target=serve, args=(p,), daemon=True).start()
print('ready', flush=True)
threading.Event().wait()
''' % (BIG, WEB_PORTS)


def big_sha():
    import hashlib
    body = b''.join(hashlib.sha256(b'%d' % i).digest() for i in range(BIG // 32))
    return hashlib.sha256(body).hexdigest()


NFT = '''
table inet wsf {
    chain pre {
        type nat hook prerouting priority dstnat; policy accept;
        iifname "%(lan)s" tcp dport { 80, %(server)d } redirect to :%(rport)d
    }
    chain mangle {
        type filter hook prerouting priority mangle; policy accept;
        iifname "%(lan)s" meta l4proto tcp th dport 8081 tproxy to :%(tport)d meta mark set 1 accept
    }
}
'''


def main(suite):
    w.WSFERRY = os.path.abspath(w.WSFERRY)
    net = nn.Net()
    try:
        body(suite, net)
    finally:
        w.stop_all()
        net.down()


def body(suite, net):
    run = suite.run
    state = {}

    def setup():
        net.up()
        net.nft(NFT % {'lan': net.r_lan_if, 'server': SERVER_PORT, 'rport': REDIRECT_PORT,
                       'tport': TPROXY_PORT})
        net.tproxy_routes()
        web = nn.proc(net.s, ['python3', '-c', WEB], 'web')
        nn.wait_tcp(net.s, nn.S_ADDR, 80)
        nn.wait_tcp(net.s, nn.S_ADDR, 8081)
        server = nn.wsferry(net.s, ['server', 'ws://%s:%d' % (nn.S_ADDR, SERVER_PORT)],
                            'server')
        nn.wait_tcp(net.s, nn.S_ADDR, SERVER_PORT)
        client = nn.wsferry(net.r, ['client', 'ws://%s:%d' % (nn.S_ADDR, SERVER_PORT),
                                    '--redirect', '0.0.0.0:%d' % REDIRECT_PORT,
                                    '--redirect', '[::]:%d' % REDIRECT_PORT,
                                    '--tproxy', '0.0.0.0:%d' % TPROXY_PORT,
                                    '--tproxy', '[::]:%d' % TPROXY_PORT], 'client')
        for port in (REDIRECT_PORT, TPROXY_PORT):
            nn.wait_tcp(net.r, nn.R_LAN, port)
            nn.wait_tcp(net.r, nn.R_LAN6, port)
        state.update(web=web, server=server, client=client)
    if not run('namespaces, nft REDIRECT and TPROXY rules, web and wsferry started', setup,
               always=True):
        return
    client = state['client']

    def unreachable_without():
        r = nn.curl(net.c, ['http://%s:9/' % nn.S_ADDR], timeout=3)
        check(r.returncode != 0, 'the far namespace is reachable without wsferry: %r'
              % r.stdout)
    run('the far web server is unreachable from the LAN without a rule (no forwarding)',
        unreachable_without)

    def fetch(url, port, flags):
        r = nn.curl(net.c, flags + [url])
        check(r.returncode == 0, 'curl %s: exit %d: %s\n%s' % (
            url, r.returncode, r.stderr.decode(errors='replace').strip(), client.tail()))
        out = r.stdout.decode(errors='replace')
        check(out.startswith('far %d from ' % port), 'answer %r' % out)
        return out

    def redirect_v4():
        out = fetch('http://%s/' % nn.S_ADDR, 80, ['-4'])
        check(nn.S_ADDR in out, 'the far server saw %r, not the wsferry server' % out)
    run('--redirect: curl -4 from the LAN reaches the far server through the tunnel',
        redirect_v4)

    def redirect_v6():
        out = fetch('http://[%s]/' % nn.S_ADDR6, 80, ['-6'])
        check(nn.S_ADDR6 in out, 'the far server saw %r, not the wsferry server' % out)
    run('--redirect: IPv6 (IP6T_SO_ORIGINAL_DST) to [fd14:1::2]:80', redirect_v6)

    def redirect_big():
        r = nn.curl(net.c, ['http://%s/big' % nn.S_ADDR], timeout=30)
        check(r.returncode == 0, 'curl: %s' % r.stderr.decode(errors='replace'))
        import hashlib
        check(len(r.stdout) == BIG and hashlib.sha256(r.stdout).hexdigest() == big_sha(),
              '%d bytes, content differs' % len(r.stdout))
    run('--redirect: 4 MiB byte-exact', redirect_big)

    def tproxy_v4():
        out = fetch('http://%s:8081/' % nn.S_ADDR, 8081, ['-4'])
        check(nn.S_ADDR in out, 'the far server saw %r' % out)
    run('--tproxy: curl -4 to :8081 through the tunnel', tproxy_v4)

    def tproxy_v6():
        out = fetch('http://[%s]:8081/' % nn.S_ADDR6, 8081, ['-6'])
        check(nn.S_ADDR6 in out, 'the far server saw %r' % out)
    run('--tproxy: IPv6 to [fd14:1::2]:8081', tproxy_v6)

    def loop_server():
        r = nn.curl(net.c, ['http://%s:%d/' % (nn.S_ADDR, SERVER_PORT)], timeout=5)
        check(r.returncode != 0, 'a redirected connection to the tunnel server was served')
        deadline = time.monotonic() + 3
        while 'is a loop' not in client.stderr_text() and time.monotonic() < deadline:
            time.sleep(0.1)
        check('%s:%d is a loop' % (nn.S_ADDR, SERVER_PORT) in client.stderr_text(),
              'no loop line in the client log:\n' + client.tail())
    run('--redirect: a connection to the tunnel server itself is refused as a loop',
        loop_server)

    def loop_direct():
        r = nn.curl(net.c, ['http://%s:%d/' % (nn.R_LAN, REDIRECT_PORT)], timeout=5)
        check(r.returncode != 0, 'a connection straight to the proxy port was served')
        check(client.alive(), 'client exited:\n' + client.tail())
    run('--redirect: a connection straight to the proxy port (not redirected) is refused',
        loop_direct)


if __name__ == '__main__':
    w.main_guard(w.Suite('transparent', file_limit=120), main)
