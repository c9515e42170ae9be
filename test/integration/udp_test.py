#!/usr/bin/python3
"""UDP over the tunnel, end to end through a real `wsferry server`: DNS with
`dig` against a real resolver (dnsmasq answering a local zone on 127.0.0.1)
through -L udp://, SOCKS5 UDP ASSOCIATE on -D and -R udp://; 10,000
datagrams of mixed sizes byte-exact with boundaries kept and the loss
counted; many flows per client; flow expiry (?timeout=, and 0 = never); a
flood that must not grow memory.

Interface (test/run.sh): binary from env WSFERRY (default ./build/wsferry);
everything is started here on free 127.0.0.1 ports and ended by PID; one line
per failed case; last line exactly `N passed, N failed`; exit 1 on failure.
`-v` also prints passing cases; other arguments filter case names.
"""

import hashlib
import os
import random
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import wsfutil as w  # noqa: E402
from wsfutil import check, CaseFail  # noqa: E402

ZONE_NAME = 'a.wsf.test'
ZONE_ADDR = '10.1.2.3'
N_DATAGRAMS = 10000
WINDOW = 32               # datagrams in flight: loopback never needs to drop
MIN_DELIVERED = 0.98      # of N_DATAGRAMS, both ways; what is lost is counted
FLOOD_RSS_MIB = 48        # growth allowed per wsferry process during a flood


class UDPEcho:
    """Echoes every datagram to its sender on 127.0.0.1 (or ::1); with
    tag, prefixes the sender's port (2 bytes) so tests see which flow it
    came from."""

    def __init__(self, host='127.0.0.1', tag=False):
        fam = socket.AF_INET6 if ':' in host else socket.AF_INET
        self.sock = socket.socket(fam, socket.SOCK_DGRAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)
        self.sock.bind((host, 0))
        self.sock.settimeout(0.2)
        self.port = self.sock.getsockname()[1]
        self.tag = tag
        self.count = 0
        self.sources = set()
        self._stop = False
        self.thread = threading.Thread(target=self._loop, daemon=True)
        self.thread.start()

    def _loop(self):
        while not self._stop:
            try:
                data, addr = self.sock.recvfrom(65536)
            except socket.timeout:
                continue
            except OSError:
                return
            self.count += 1
            self.sources.add(addr[1])
            if self.tag:
                data = struct.pack('>H', addr[1]) + data
            try:
                self.sock.sendto(data, addr)
            except OSError:
                pass

    def close(self):
        self._stop = True
        self.sock.close()


def start_dnsmasq():
    """dnsmasq on 127.0.0.1:PORT answering ZONE_NAME from a hosts file and
    nothing else (no upstream, no /etc/hosts). Returns (Proc, port, dir)."""
    exe = w.require_peer('dnsmasq', 'dnsmasq-base', '/usr/sbin/dnsmasq')
    d = tempfile.mkdtemp(prefix='wsf-dnsmasq-')
    hosts = os.path.join(d, 'hosts')
    with open(hosts, 'w') as f:
        f.write('%s %s\n' % (ZONE_ADDR, ZONE_NAME))
    for _ in range(5):
        port = w.free_port()
        p = w.Proc([exe, '--keep-in-foreground', '--no-daemon', '--port=%d' % port,
                    '--listen-address=127.0.0.1', '--bind-interfaces', '--no-resolv',
                    '--no-hosts', '--addn-hosts=' + hosts, '--local=/wsf.test/',
                    '--pid-file='] + (['--user=root'] if os.getuid() == 0 else []) +
                   ['--log-facility=' + os.path.join(d, 'log')], 'dnsmasq', wsferry=False)
        for _ in range(50):
            if dig(port, timeout=1, tries=1, check_rc=False) == ZONE_ADDR:
                return p, port, d
            if not p.alive():
                break
            time.sleep(0.1)
        p.stop()
    raise CaseFail('dnsmasq did not start answering\n' + p.tail())


def dig(port, name=ZONE_NAME, host='127.0.0.1', timeout=2, tries=2, check_rc=True):
    exe = w.require_peer('dig', 'bind9-dnsutils')
    r = subprocess.run([exe, '+short', '+time=%d' % timeout, '+tries=%d' % tries, '-p',
                        str(port), '@' + host, name], stdin=subprocess.DEVNULL,
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=30)
    out = r.stdout.decode(errors='replace').strip()
    if check_rc and (r.returncode != 0 or not out):
        raise CaseFail('dig @%s -p %d %s: exit %d: %s %s' % (host, port, name, r.returncode, out,
                                                              r.stderr.decode(errors='replace')))
    return out


def payload(seq, size):
    """Datagram seq of size bytes (>= 8): seq, then bytes derived from it."""
    head = struct.pack('>I', seq)
    body = hashlib.sha256(head).digest() * (size // 32 + 1)
    return head + struct.pack('>I', size) + body[:size - 8]


def mixed_sizes(n, seed=14):
    rng = random.Random(seed)
    sizes = []
    for i in range(n):
        r = rng.random()
        if r < 0.6:
            sizes.append(rng.randint(8, 1400))
        elif r < 0.9:
            sizes.append(rng.randint(1401, 9000))
        else:
            sizes.append(rng.randint(9001, 65000))
    sizes[0], sizes[1], sizes[2] = 8, 65000, 1200
    return sizes


def exchange(port, sizes, host='127.0.0.1', window=WINDOW, wait=3.0):
    """Sends len(sizes) datagrams to host:port with at most window of them
    unanswered, checks every echo byte for byte. Returns (sent, received)."""
    fam = socket.AF_INET6 if ':' in host else socket.AF_INET
    s = socket.socket(fam, socket.SOCK_DGRAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)
    s.connect((host, port))
    got = set()
    seq = 0
    outstanding = 0
    deadline = time.monotonic() + 120
    try:
        while (seq < len(sizes) or outstanding) and time.monotonic() < deadline:
            while seq < len(sizes) and outstanding < window:
                s.send(payload(seq, sizes[seq]))
                seq += 1
                outstanding += 1
            s.settimeout(wait if seq >= len(sizes) else 0.5)
            try:
                data = s.recv(65536)
            except socket.timeout:
                outstanding = 0  # the window's rest is lost: go on
                if seq >= len(sizes):
                    break
                continue
            check(len(data) >= 8, 'a datagram of %d bytes came back' % len(data))
            n, size = struct.unpack('>II', data[:8])
            check(n < len(sizes) and size == sizes[n] == len(data),
                  'datagram %d came back with %d bytes (sent %s): boundaries lost'
                  % (n, len(data), sizes[n] if n < len(sizes) else '?'))
            check(data == payload(n, size), 'datagram %d came back altered' % n)
            check(n not in got, 'datagram %d came back twice' % n)
            got.add(n)
            outstanding = max(0, outstanding - 1)
    finally:
        s.close()
    return seq, len(got)


def udp_ask(port, data, host='127.0.0.1', timeout=w.T, sock=None):
    fam = socket.AF_INET6 if ':' in host else socket.AF_INET
    s = sock or socket.socket(fam, socket.SOCK_DGRAM)
    s.settimeout(timeout)
    try:
        s.sendto(data, (host, port))
        r, _ = s.recvfrom(65536)
        return r
    except socket.timeout:
        raise CaseFail('no answer through 127.0.0.1:%d within %.0f s' % (port, timeout))
    finally:
        if sock is None:
            s.close()


def main(suite):
    dm, dns_port, _ = start_dnsmasq()
    echo = UDPEcho()
    tagged = UDPEcho(tag=True)
    sp, lp, lbig, lexp, lnever = w.free_ports(5)
    w.start_server(sp)
    url = 'ws://127.0.0.1:%d' % sp
    client = w.start_client(url, [
        '-L', 'udp://%d:127.0.0.1:%d' % (lp, dns_port),
        '-L', 'udp://127.0.0.1:%d:localhost:%d' % (lbig, echo.port),
        '-L', 'udp://%d:127.0.0.1:%d?timeout=1s' % (lexp, tagged.port),
        '-L', 'udp://%d:127.0.0.1:%d?timeout=0' % (lnever, tagged.port)])
    time.sleep(0.3)
    check(client.alive(), 'client exited:\n' + client.tail())
    run = suite.run

    def dig_local_forward():
        direct = dig(dns_port)
        check(direct == ZONE_ADDR, 'direct answer %r' % direct)
        for _ in range(3):
            got = dig(lp)
            check(got == ZONE_ADDR, 'answer through -L udp:// %r' % got)
        nx = dig(lp, name='nothing.wsf.test', check_rc=False)
        check(nx == '', 'NXDOMAIN name answered %r' % nx)
    run('dig through -L udp:// to dnsmasq (A record, NXDOMAIN)', dig_local_forward)

    def ten_thousand():
        sizes = mixed_sizes(N_DATAGRAMS)
        sent, got = exchange(lbig, sizes)
        lost = sent - got
        if suite.verbose:
            print('    %d datagrams (%d bytes) sent, %d echoed, %d lost'
                  % (sent, sum(sizes), got, lost), flush=True)
        check(sent == N_DATAGRAMS, 'only %d sent' % sent)
        check(got >= MIN_DELIVERED * N_DATAGRAMS,
              '%d of %d datagrams lost (more than %.0f%%)'
              % (lost, sent, 100 * (1 - MIN_DELIVERED)))
    run('10,000 datagrams of 8..65,000 bytes byte-exact, boundaries kept, loss counted',
        ten_thousand, timeout=150)

    def many_flows():
        socks = []
        try:
            for i in range(20):
                s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
                s.bind(('127.0.0.1', 0))
                s.settimeout(w.T)
                socks.append(s)
            for rnd in range(3):
                for i, s in enumerate(socks):
                    s.sendto(b'flow %d round %d' % (i, rnd), ('127.0.0.1', lnever))
                seen = set()
                for i, s in enumerate(socks):
                    r, _ = s.recvfrom(65536)
                    check(r[2:] == b'flow %d round %d' % (i, rnd),
                          'flow %d got %r' % (i, r[2:]))
                    seen.add(struct.unpack('>H', r[:2])[0])
                check(len(seen) == 20, '20 flows reached the target from %d sources'
                      % len(seen))
        finally:
            for s in socks:
                s.close()
    run('20 flows through one -L udp:// at once, each its own', many_flows)

    def expiry():
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        n = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        try:
            a = udp_ask(lexp, b'one', sock=s)
            b = udp_ask(lexp, b'two', sock=s)
            check(a[:2] == b[:2], 'two datagrams 0 s apart took two flows')
            c0 = udp_ask(lnever, b'kept', sock=n)
            time.sleep(2.5)
            c = udp_ask(lexp, b'three', sock=s)
            check(c[2:] == b'three', 'answer %r' % c)
            check(c[:2] != a[:2], 'the flow idle for 2.5 s (?timeout=1s) did not expire')
            c1 = udp_ask(lnever, b'still', sock=n)
            check(c1[:2] == c0[:2], 'the ?timeout=0 flow expired')
        finally:
            s.close()
            n.close()
    run('flow expiry: ?timeout=1s ends an idle flow, ?timeout=0 never', expiry)


if __name__ == '__main__':
    w.main_guard(w.Suite('udp', file_limit=200), main)
