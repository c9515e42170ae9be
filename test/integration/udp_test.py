#!/usr/bin/python3
"""UDP over the tunnel, end to end through a real `wsferry server`: DNS with
`dig` against a real resolver (dnsmasq answering a local zone on 127.0.0.1)
through -L udp://, SOCKS5 UDP ASSOCIATE on -D and -R udp://; 10,000
datagrams of mixed sizes byte-exact with boundaries kept and the loss
counted; many flows per client; flow expiry (?timeout=, and 0 = never); a
flood that must not grow memory; -R udp:// (server binds, client dials,
--permit-listen refusal, released with the client).

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


def dns_query(name, qid=0x1234):
    q = struct.pack('>HHHHHH', qid, 0x0100, 1, 0, 0, 0)
    for label in name.split('.'):
        q += bytes([len(label)]) + label.encode()
    return q + b'\x00' + struct.pack('>HH', 1, 1)


def socks_associate(proxy_port, timeout=w.T):
    """Opens a SOCKS5 UDP ASSOCIATE; returns (tcp socket, relay (host, port))."""
    t = w.connect(proxy_port, timeout=timeout)
    t.sendall(b'\x05\x01\x00')
    check(w.recv_exact(t, 2, 'method selection') == b'\x05\x00', 'method selection')
    t.sendall(b'\x05\x03\x00\x01' + bytes(6))
    rep, atyp, addr, port = w.read_socks_reply(t)
    check(rep == 0, 'UDP ASSOCIATE answered REP 0x%02x' % rep)
    check(atyp == 1 and port != 0, 'relay address ATYP %d port %d' % (atyp, port))
    return t, (socket.inet_ntoa(addr), port)


def udp_header(host, port, frag=0):
    return b'\x00\x00' + bytes([frag]) + w.socks_addr(host) + struct.pack('>H', port)


def main(suite):
    dm, dns_port, _ = start_dnsmasq()
    echo = UDPEcho()
    tagged = UDPEcho(tag=True)
    sp, lp, lbig, lexp, lnever, dp, lflood = w.free_ports(7)
    deaf = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)  # never read
    deaf.bind(('127.0.0.1', 0))
    server = w.start_server(sp)
    url = 'ws://127.0.0.1:%d' % sp
    client = w.start_client(url, ['-D', '127.0.0.1:%d?timeout=30s' % dp,
        '-L', 'udp://%d:127.0.0.1:%d' % (lp, dns_port),
        '-L', 'udp://127.0.0.1:%d:localhost:%d' % (lbig, echo.port),
        '-L', 'udp://%d:127.0.0.1:%d?timeout=1s' % (lexp, tagged.port),
        '-L', 'udp://%d:127.0.0.1:%d?timeout=0' % (lnever, tagged.port),
        '-L', 'udp://%d:127.0.0.1:%d' % (lflood, deaf.getsockname()[1])])
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


    def socks_udp_dns():
        t, relay = socks_associate(dp)
        u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        u.settimeout(w.T)
        try:
            for qid in (1, 2):
                hdr = udp_header('127.0.0.1', dns_port)
                u.sendto(hdr + dns_query(ZONE_NAME, qid), relay)
                r, src = u.recvfrom(65536)
                check(src == relay, 'answer from %r, not the relay %r' % (src, relay))
                check(r[:len(hdr)] == hdr, 'answer header %r, expected %r' % (r[:10], hdr))
                ans = r[len(hdr):]
                check(struct.unpack('>H', ans[:2])[0] == qid, 'DNS id differs')
                check(socket.inet_aton(ZONE_ADDR) in ans, 'no %s in the answer' % ZONE_ADDR)
        finally:
            u.close()
            t.close()
    run('SOCKS5 UDP ASSOCIATE: DNS to dnsmasq, header and relay address right',
        socks_udp_dns)

    def socks_udp_names_and_sizes():
        t, relay = socks_associate(dp)
        u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        u.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)
        u.settimeout(w.T)
        try:
            for host in ('localhost', '127.0.0.1'):
                hdr = udp_header(host, echo.port)
                for size in (0, 1, 1200, 9000, 65000):
                    data = os.urandom(size)
                    u.sendto(hdr + data, relay)
                    r, _ = u.recvfrom(70000)
                    check(r == hdr + data, '%s, %d bytes: echo differs (%d bytes back)'
                          % (host, size, len(r)))
        finally:
            u.close()
            t.close()
    run('SOCKS5 UDP ASSOCIATE: to a name and an address, 0..65,000 bytes intact',
        socks_udp_names_and_sizes)

    def socks_udp_refusals():
        t, relay = socks_associate(dp)
        u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        other = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        u.settimeout(w.T)
        other.settimeout(1.0)
        try:
            hdr = udp_header('127.0.0.1', echo.port)
            u.sendto(hdr + b'first', relay)  # fixes the client's port
            check(u.recvfrom(100)[0] == hdr + b'first', 'first echo')
            u.sendto(udp_header('127.0.0.1', echo.port, frag=1) + b'fragment', relay)
            other.sendto(hdr + b'stranger', relay)
            u.sendto(hdr + b'last', relay)
            check(u.recvfrom(100)[0] == hdr + b'last', 'the fragment was answered')
            try:
                r = other.recvfrom(100)
                raise CaseFail('a datagram from another port was relayed: %r' % (r,))
            except socket.timeout:
                pass
            t.close()  # the association ends with its TCP connection
            time.sleep(0.3)
            u.settimeout(1.0)
            u.sendto(hdr + b'after', relay)
            try:
                r = u.recvfrom(100)
                raise CaseFail('relayed after the TCP connection closed: %r' % (r,))
            except (socket.timeout, ConnectionRefusedError):
                pass
        finally:
            u.close()
            other.close()
            t.close()
    run('SOCKS5 UDP: fragments and strangers dropped, association ends with TCP',
        socks_udp_refusals)


    def flood():
        before = {p.name: w.rss_kib(p.pid) for p in (client, server)}
        senders = []
        try:
            for _ in range(8):
                s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
                s.setblocking(False)
                senders.append(s)
            data = b'x' * 1400
            t_end = time.monotonic() + 3.0
            sent = 0
            while time.monotonic() < t_end and sent < 400000:
                for s in senders:
                    try:
                        s.sendto(data, ('127.0.0.1', lflood))
                        sent += 1
                    except BlockingIOError:
                        pass
            after = {p.name: w.rss_kib(p.pid) for p in (client, server)}
        finally:
            for s in senders:
                s.close()
        grown = {k: (after[k] - before[k]) // 1024 for k in before}
        if suite.verbose:
            print('    %d datagrams of 1400 B flooded in 3 s; RSS growth MiB %r' % (sent, grown),
                  flush=True)
        check(all(g < FLOOD_RSS_MIB for g in grown.values()),
              'RSS grew by %r MiB during the flood (limit %d)' % (grown, FLOOD_RSS_MIB))
        check(dig(lp) == ZONE_ADDR, 'DNS through the tunnel failed after the flood')
    run('a flood into a deaf destination: memory bounded, other flows served', flood)

    reverse_cases(suite, dns_port, echo, tagged)


def udp_wait_answer(port, timeout=10.0, host='127.0.0.1'):
    """Asks port until something answers (a -R udp:// registration is
    asynchronous); the answer, or CaseFail."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            return udp_ask(port, b'probe', host=host, timeout=0.3)
        except (CaseFail, ConnectionRefusedError):
            time.sleep(0.1)
    raise CaseFail('nothing answers on UDP %s:%d within %.0f s' % (host, port, timeout))


def udp_port_free(port, host='127.0.0.1'):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        s.bind((host, port))
        return True
    except OSError:
        return False
    finally:
        s.close()


def reverse_cases(suite, dns_port, echo, tagged):
    """-R udp://: the server binds, the client dials; a second server for
    --permit-listen refusals and release on client exit."""
    sp, rdns, recho, rexp, rwide, sp2, rgone = w.free_ports(7)
    server = w.start_server(sp, name='rserver')
    url = 'ws://127.0.0.1:%d' % sp
    client = w.start_client(url, [
        '-R', 'udp://%d:127.0.0.1:%d' % (rdns, dns_port),
        '-R', 'udp://127.0.0.1:%d:localhost:%d' % (recho, echo.port),
        '-R', 'udp://%d:127.0.0.1:%d?timeout=1s' % (rexp, tagged.port),
        '-R', 'udp://0.0.0.0:%d:127.0.0.1:%d' % (rwide, echo.port)], name='rclient')
    run = suite.run

    def registered():
        udp_wait_answer(recho)
        udp_wait_answer(rexp)
        check(client.alive(), 'client exited:\n' + client.tail())
    run('-R udp://: the server binds each registration', registered)

    def dig_reverse():
        for _ in range(3):
            got = dig(rdns)
            check(got == ZONE_ADDR, 'answer through -R udp:// %r' % got)
        nx = dig(rdns, name='nothing.wsf.test', check_rc=False)
        check(nx == '', 'NXDOMAIN name answered %r' % nx)
    run('dig through -R udp:// to dnsmasq (A record, NXDOMAIN)', dig_reverse)

    def exact_reverse():
        sizes = mixed_sizes(3000, seed=41)
        sent, got = exchange(recho, sizes)
        if suite.verbose:
            print('    %d datagrams sent, %d echoed, %d lost' % (sent, got, sent - got),
                  flush=True)
        check(got >= MIN_DELIVERED * sent, '%d of %d datagrams lost' % (sent - got, sent))
    run('-R udp://: 3,000 datagrams of 8..65,000 bytes byte-exact, boundaries kept',
        exact_reverse, timeout=90)

    def sources_reverse():
        socks = []
        try:
            for i in range(10):
                s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
                s.bind(('127.0.0.1', 0))
                s.settimeout(w.T)
                socks.append(s)
            for rnd in range(2):
                seen = set()
                for i, s in enumerate(socks):
                    s.sendto(b'src %d round %d' % (i, rnd), ('127.0.0.1', rexp))
                for i, s in enumerate(socks):
                    r, _ = s.recvfrom(65536)
                    check(r[2:] == b'src %d round %d' % (i, rnd), 'source %d got %r' % (i, r))
                    seen.add(struct.unpack('>H', r[:2])[0])
                check(len(seen) == 10, '10 sources reached the target from %d flows' % len(seen))
        finally:
            for s in socks:
                s.close()
    run('-R udp://: each source its own flow, answers to the right source', sources_reverse)

    def expiry_reverse():
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        try:
            a = udp_ask(rexp, b'one', sock=s)
            b = udp_ask(rexp, b'two', sock=s)
            check(a[:2] == b[:2], 'two datagrams 0 s apart took two flows')
            time.sleep(2.5)
            c = udp_ask(rexp, b'three', sock=s)
            check(c[2:] == b'three', 'answer %r' % c)
            check(c[:2] != a[:2], 'the flow idle for 2.5 s (?timeout=1s) did not expire')
        finally:
            s.close()
    run('-R udp://: ?timeout=1s ends an idle flow; the next datagram opens another',
        expiry_reverse)

    def refused_reverse():
        check('outside --permit-listen' in server.stderr_text(),
              'the server did not log the refusal:\n' + server.tail())
        check('cannot listen there' in client.stderr_text(),
              'the client does not say why:\n' + client.tail())
        check(udp_port_free(rwide, '0.0.0.0'), 'UDP 0.0.0.0:%d is bound' % rwide)
        check(client.alive(), 'client exited:\n' + client.tail())
    run('-R udp://0.0.0.0:... refused outside --permit-listen (default loopback)',
        refused_reverse)

    def permitted_and_released():
        srv2 = w.start_server(sp2, ['--permit-listen', '*:%d' % rgone], name='rserver2')
        cli2 = w.start_client('ws://127.0.0.1:%d' % sp2,
                              ['-R', 'udp://0.0.0.0:%d:127.0.0.1:%d' % (rgone, echo.port)],
                              name='rclient2')
        try:
            r = udp_wait_answer(rgone)
            check(r == b'probe', 'echo %r' % r)
            cli2.stop()
            deadline = time.monotonic() + 5
            while not udp_port_free(rgone, '0.0.0.0') and time.monotonic() < deadline:
                time.sleep(0.1)
            check(udp_port_free(rgone, '0.0.0.0'),
                  'UDP port %d still bound 5 s after the client left' % rgone)
        finally:
            cli2.stop()
            srv2.stop()
    run('-R udp://0.0.0.0 with --permit-listen; the port released when the client leaves',
        permitted_and_released)


if __name__ == '__main__':
    w.main_guard(w.Suite('udp', file_limit=200), main)
