#!/usr/bin/python3
"""Transparent proxy (--redirect, --tproxy) inside network namespaces made
here (test/integration/wsfnetns.py): curl in a LAN namespace reaches a web
server in a far namespace only through a wsferry client on the router (nft
REDIRECT / TPROXY rules) and a wsferry server beside the web server; IPv4 and
IPv6; a redirected connection to the tunnel server itself, and one made
straight to the proxy port, are refused as loops with a log line. UDP
through --tproxy: dig in the LAN asks a dnsmasq in the far namespace (IPv4
and IPv6), hundreds of datagrams from two sources come back byte-exact from
the address they were sent to, datagrams to the tunnel server are dropped as
loops, and idle flows give back their descriptors.

Needs root, iproute2, nftables, the kernel's nft nat/tproxy support, dig
and dnsmasq.
Interface as the other tests (WSFERRY, -v, filters, `N passed, N failed`).
"""

import json
import os
import sys
import tempfile
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
ECHO_PORT = 9999        # UDP, TPROXYed; ECHO_PORT + 1 is not
UDP_IDLE = 2            # seconds: --tproxy ...?timeout=
ZONE_NAME, ZONE_ADDR = 'far.wsf.test', '10.14.9.9'

# A UDP echo in S on ECHO_PORT and ECHO_PORT + 1, both families.
ECHO = r'''
import socket, threading
def serve(port):
    s = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
    s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 20)
    s.bind(('::', port))
    while True:
        d, a = s.recvfrom(65535)
        s.sendto(d, a)
for p in (%d, %d):
    threading.Thread(target=serve, args=(p,), daemon=True).start()
print('ready', flush=True)
threading.Event().wait()
''' % (ECHO_PORT, ECHO_PORT + 1)

# Run in C: datagrams of mixed sizes from two sockets (two flows) to one
# address, one at a time, each answer checked byte for byte and for the
# address it came from; a lost one is sent again (counted). JSON out.
UDP_CLIENT = r'''
import json, os, random, socket, sys
fam = socket.AF_INET6 if ':' in sys.argv[1] else socket.AF_INET
dst = (sys.argv[1], int(sys.argv[2]))
count, timeout = int(sys.argv[3]), float(sys.argv[4])
socks = [socket.socket(fam, socket.SOCK_DGRAM) for _ in range(2)]
for s in socks:
    s.settimeout(timeout)
rnd = random.Random(14)
sizes = ([0, 1, 1200, 1472, 4000, 65000] +
         [rnd.randrange(1, 1500) for _ in range(count - 6)])[:count]
res = {'ok': 0, 'lost': 0, 'bad': []}
for i, n in enumerate(sizes):
    s = socks[i % 2]
    msg = bytes([i % 2]) * min(n, 1) + os.urandom(max(n - 1, 0))
    for attempt in range(3):
        s.sendto(msg, dst)
        try:
            d, a = s.recvfrom(65535)
        except socket.timeout:
            res['lost'] += 1
            continue
        if d != msg or (a[0], a[1]) != dst:
            res['bad'].append([i, n, len(d), str(a[:2])])
        else:
            res['ok'] += 1
        break
print(json.dumps(res))
'''

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


def dig(ns, server, name=ZONE_NAME, timeout=3, tries=2):
    exe = w.require_peer('dig', 'bind9-dnsutils')
    r = nn.sh(exe, '+short', '+time=%d' % timeout, '+tries=%d' % tries, '@' + server, name,
              ns=ns, check=False)
    return r.returncode, r.stdout.decode(errors='replace').strip()


def start_dnsmasq(net):
    """dnsmasq in S on port 53 of S's addresses, answering ZONE_NAME from a
    hosts file and nothing else."""
    exe = w.require_peer('dnsmasq', 'dnsmasq-base', '/usr/sbin/dnsmasq')
    d = tempfile.mkdtemp(prefix='wsf-tproxy-dns-')
    hosts = os.path.join(d, 'hosts')
    with open(hosts, 'w') as f:
        f.write('%s %s\n' % (ZONE_ADDR, ZONE_NAME))
    p = nn.proc(net.s, [exe, '--keep-in-foreground', '--no-daemon', '--port=53',
                        '--listen-address=%s,%s' % (nn.S_ADDR, nn.S_ADDR6), '--bind-interfaces',
                        '--no-resolv', '--no-hosts', '--addn-hosts=' + hosts,
                        '--local=/wsf.test/', '--pid-file=', '--user=root',
                        '--log-facility=' + os.path.join(d, 'log')], 'dnsmasq')
    for _ in range(50):
        if dig(net.s, nn.S_ADDR, timeout=1, tries=1)[1] == ZONE_ADDR:
            return p
        if not p.alive():
            break
        time.sleep(0.1)
    raise CaseFail('dnsmasq did not start answering in the far namespace\n' + p.tail())


def udp_run(ns, host, port, count, timeout=2.0):
    r = nn.sh('python3', '-c', UDP_CLIENT, host, str(port), str(count), str(timeout), ns=ns,
              check=False)
    check(r.returncode == 0, 'udp client: %s' % r.stderr.decode(errors='replace'))
    return json.loads(r.stdout)


def fd_count(pid):
    return len(os.listdir('/proc/%d/fd' % pid))


NFT = '''
table inet wsf {
    chain pre {
        type nat hook prerouting priority dstnat; policy accept;
        iifname "%(lan)s" tcp dport { 80, %(server)d } redirect to :%(rport)d
    }
    chain mangle {
        type filter hook prerouting priority mangle; policy accept;
        iifname "%(lan)s" meta l4proto tcp th dport 8081 tproxy to :%(tport)d meta mark set 1 accept
        iifname "%(lan)s" meta l4proto udp th dport { 53, %(echo)d, %(server)d } \\
            tproxy to :%(tport)d meta mark set 1 accept
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
                       'tport': TPROXY_PORT, 'echo': ECHO_PORT})
        net.tproxy_routes()
        web = nn.proc(net.s, ['python3', '-c', WEB], 'web')
        nn.wait_tcp(net.s, nn.S_ADDR, 80)
        nn.wait_tcp(net.s, nn.S_ADDR, 8081)
        echo = nn.proc(net.s, ['python3', '-c', ECHO], 'echo')
        dns = start_dnsmasq(net)
        server = nn.wsferry(net.s, ['server', 'ws://%s:%d' % (nn.S_ADDR, SERVER_PORT)],
                            'server')
        nn.wait_tcp(net.s, nn.S_ADDR, SERVER_PORT)
        client = nn.wsferry(net.r, ['client', 'ws://%s:%d' % (nn.S_ADDR, SERVER_PORT),
                                    '--redirect', '0.0.0.0:%d' % REDIRECT_PORT,
                                    '--redirect', '[::]:%d' % REDIRECT_PORT,
                                    '--tproxy', '0.0.0.0:%d?timeout=%ds' % (TPROXY_PORT, UDP_IDLE),
                                    '--tproxy', '[::]:%d?timeout=%ds' % (TPROXY_PORT, UDP_IDLE)],
                            'client')
        for port in (REDIRECT_PORT, TPROXY_PORT):
            nn.wait_tcp(net.r, nn.R_LAN, port)
            nn.wait_tcp(net.r, nn.R_LAN6, port)
        state.update(web=web, server=server, client=client, echo=echo, dns=dns)
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

    def udp_unreachable_without():
        res = udp_run(net.c, nn.S_ADDR, ECHO_PORT + 1, 2, timeout=0.5)
        check(res['ok'] == 0, 'the far UDP echo answered without a rule: %r' % res)
    run('--tproxy udp: the far namespace does not answer a port outside the rule',
        udp_unreachable_without)

    def udp_dns_v4():
        rc, out = dig(net.c, nn.S_ADDR)
        check(rc == 0 and out == ZONE_ADDR, 'dig @%s %s: exit %d: %r\n%s'
              % (nn.S_ADDR, ZONE_NAME, rc, out, client.tail()))
    run('--tproxy udp: dig from the LAN is answered by the far dnsmasq', udp_dns_v4)

    def udp_dns_v6():
        rc, out = dig(net.c, nn.S_ADDR6)
        check(rc == 0 and out == ZONE_ADDR, 'dig @%s %s: exit %d: %r\n%s'
              % (nn.S_ADDR6, ZONE_NAME, rc, out, client.tail()))
    run('--tproxy udp: dig over IPv6 (IPV6_RECVORIGDSTADDR)', udp_dns_v6)

    def udp_exact(host, count):
        res = udp_run(net.c, host, ECHO_PORT, count)
        check(not res['bad'], 'answers differ or came from elsewhere: %r' % res['bad'][:5])
        check(res['ok'] == count, '%d of %d answered (%d sends lost)\n%s'
              % (res['ok'], count, res['lost'], client.tail()))
        check(res['lost'] <= count // 50, 'too much loss: %r' % res)
    run('--tproxy udp: 400 datagrams (0 B to 65,000 B) from two sources byte-exact, '
        'answered from the original destination', lambda: udp_exact(nn.S_ADDR, 400))
    run('--tproxy udp: 100 datagrams over IPv6 byte-exact',
        lambda: udp_exact(nn.S_ADDR6, 100))

    def udp_loop():
        udp_run(net.c, nn.S_ADDR, SERVER_PORT, 1, timeout=0.3)
        want = 'udp %s' % nn.C_ADDR
        line = '-> %s:%d is a loop' % (nn.S_ADDR, SERVER_PORT)
        deadline = time.monotonic() + 3
        while line not in client.stderr_text() and time.monotonic() < deadline:
            time.sleep(0.1)
        text = client.stderr_text()
        check(any(want in l and line in l and 'dropped' in l for l in text.splitlines()),
              'no udp loop line in the client log:\n' + client.tail())
        check(client.alive(), 'client exited:\n' + client.tail())
    run('--tproxy udp: a datagram to the tunnel server itself is dropped as a loop', udp_loop)

    def udp_idle():
        time.sleep(UDP_IDLE + 1.5)  # flows of the cases above end
        base = fd_count(client.pid)
        code = ('import socket\n'
                'ss=[]\n'
                'for i in range(40):\n'
                '  s=socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.settimeout(2)\n'
                '  s.sendto(b"x%%d" %% i, (%r, %d)); s.recvfrom(100); ss.append(s)\n'
                % (nn.S_ADDR, ECHO_PORT))
        r = nn.sh('python3', '-c', code, ns=net.c, check=False)
        check(r.returncode == 0, '40 sources: %s' % r.stderr.decode(errors='replace'))
        busy = fd_count(client.pid)
        check(busy >= base + 40, 'descriptors %d -> %d with 40 flows open' % (base, busy))
        deadline = time.monotonic() + UDP_IDLE + 3
        while fd_count(client.pid) > base and time.monotonic() < deadline:
            time.sleep(0.2)
        check(fd_count(client.pid) <= base, 'descriptors %d -> %d -> %d %ds after the last '
              'datagram' % (base, busy, fd_count(client.pid), UDP_IDLE + 3))
    run('--tproxy udp: 40 flows end after ?timeout= of silence and give back their '
        'descriptors', udp_idle)

    def udp_cap():
        time.sleep(UDP_IDLE + 1.5)
        base = fd_count(client.pid)
        code = ('import socket, time\n'
                'ss=[socket.socket(socket.AF_INET, socket.SOCK_DGRAM) for _ in range(1100)]\n'
                'for i, s in enumerate(ss):\n'
                '  s.sendto(b"flood", (%r, %d))\n'
                '  if i %% 32 == 31: time.sleep(0.01)\n'  # within the listener's buffer
                'time.sleep(1)\n' % (nn.S_ADDR, ECHO_PORT))
        r = nn.sh('python3', '-c', code, ns=net.c, check=False)
        check(r.returncode == 0, '1100 sources: %s' % r.stderr.decode(errors='replace'))
        busy = fd_count(client.pid)
        # each flow: its answering socket and its WebSocket
        check(busy <= base + 2 * 1024 + 8, 'descriptors %d -> %d: past the cap' % (base, busy))
        deadline = time.monotonic() + 3
        while 'flow limit reached' not in client.stderr_text() and time.monotonic() < deadline:
            time.sleep(0.1)
        check('flow limit reached' in client.stderr_text(), 'no limit line:\n' + client.tail())
        rc, out = dig(net.c, nn.S_ADDR6)  # the other family's listener is not full
        check(out == ZONE_ADDR, 'dig over IPv6 during the flood: %r' % out)
        deadline = time.monotonic() + UDP_IDLE + 5
        while fd_count(client.pid) > base and time.monotonic() < deadline:
            time.sleep(0.2)
        check(fd_count(client.pid) <= base, 'descriptors %d -> %d -> %d after the flood'
              % (base, busy, fd_count(client.pid)))
        rc, out = dig(net.c, nn.S_ADDR)
        check(out == ZONE_ADDR, 'dig after the flood: %r' % out)
    run('--tproxy udp: 1,100 sources stop at 1,024 flows (logged), IPv6 still served, all '
        'descriptors back after ?timeout=', udp_cap)


if __name__ == '__main__':
    w.main_guard(w.Suite('transparent', file_limit=120), main)
