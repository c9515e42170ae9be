#!/usr/bin/python3
"""Destination names other than localhost, resolved by the server without
blocking (its own DNS over UDP; `--dns IP[:PORT]` points it at a small DNS
server run here on 127.0.0.1): A, AAAA, both (IPv6 first, falling back),
CNAME, case, NXDOMAIN / SERVFAIL (SOCKS 0x04, HTTP 502), a name server that
never answers, /etc/hosts first, caching within the TTL, and above all that a
slow lookup does not hold up other tunnels. Also the client's --dns for -R
destinations, and bad --dns values.

Interface (test/run.sh): binary from env WSFERRY (default ./build/wsferry);
everything is started here on free 127.0.0.1 ports and ended by PID; one line
per failed case; last line exactly `N passed, N failed`; exit 1 on failure.
`-v` also prints passing cases; other arguments filter case names.
"""

import os
import socket
import struct
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import wsfutil as w  # noqa: E402
from wsfutil import check, CaseFail, CaseSkip  # noqa: E402

SLOW_DELAY = 3.0
QTYPES = {1: 'A', 28: 'AAAA', 5: 'CNAME'}


class DNSServer:
    """Authoritative-looking UDP DNS on 127.0.0.1 for *.wsf.test. Each zone
    entry: {'A': [...], 'AAAA': [...], 'CNAME': name, 'rcode': n,
    'delay': s, 'drop': bool, 'ttl': n}; unknown names get NXDOMAIN."""

    def __init__(self, zone):
        self.zone = {k.lower().rstrip('.'): v for k, v in zone.items()}
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(('127.0.0.1', 0))
        self.sock.settimeout(0.2)
        self.port = self.sock.getsockname()[1]
        self.queries = []
        self.lock = threading.Lock()
        self._stop = False
        self.thread = threading.Thread(target=self._loop, daemon=True)
        self.thread.start()

    def count(self, name, qtype=None):
        name = name.lower().rstrip('.')
        with self.lock:
            return sum(1 for n, t in self.queries if n == name and (qtype is None or t == qtype))

    def _loop(self):
        while not self._stop:
            try:
                data, addr = self.sock.recvfrom(4096)
            except socket.timeout:
                continue
            except OSError:
                return
            try:
                self._handle(data, addr)
            except Exception:
                pass

    @staticmethod
    def _parse_name(data, off):
        labels = []
        for _ in range(128):
            n = data[off]
            if n == 0:
                return '.'.join(labels), off + 1
            labels.append(data[off + 1:off + 1 + n].decode('ascii', 'replace'))
            off += 1 + n
        raise ValueError('name too long')

    @staticmethod
    def _enc_name(name):
        out = b''
        for l in name.split('.'):
            if l:
                out += bytes([len(l)]) + l.encode()
        return out + b'\x00'

    def _handle(self, data, addr):
        qid, flags, qd = struct.unpack('>HHH', data[:6])
        if qd != 1 or flags & 0x8000:
            return
        qname, off = self._parse_name(data, 12)
        qtype, qclass = struct.unpack('>HH', data[off:off + 4])
        question = data[12:off + 4]
        key = qname.lower()
        with self.lock:
            self.queries.append((key, QTYPES.get(qtype, qtype)))
        entry = self.zone.get(key)
        if entry and entry.get('drop'):
            return
        delay = entry.get('delay', 0) if entry else 0
        if delay:
            threading.Timer(delay, self._answer, (qid, flags, question, qtype, key, entry, addr)).start()
        else:
            self._answer(qid, flags, question, qtype, key, entry, addr)

    def _answer(self, qid, flags, question, qtype, key, entry, addr):
        rcode = 3 if entry is None else entry.get('rcode', 0)
        answers = []
        name_ptr = b'\xc0\x0c'
        ttl = entry.get('ttl', 60) if entry else 0
        if entry and rcode == 0:
            target = key
            if entry.get('CNAME'):
                cn = entry['CNAME'].lower()
                answers.append(name_ptr + struct.pack('>HHIH', 5, 1, ttl, len(self._enc_name(cn)))
                               + self._enc_name(cn))
                target = cn
                entry = self.zone.get(cn, {})
                name_ref = self._enc_name(cn)
            else:
                name_ref = name_ptr
            if qtype == 1:
                for a in entry.get('A', []):
                    answers.append(name_ref + struct.pack('>HHIH', 1, 1, ttl, 4)
                                   + socket.inet_pton(socket.AF_INET, a))
            elif qtype == 28:
                for a in entry.get('AAAA', []):
                    answers.append(name_ref + struct.pack('>HHIH', 28, 1, ttl, 16)
                                   + socket.inet_pton(socket.AF_INET6, a))
        rflags = 0x8000 | 0x0400 | (flags & 0x0100) | 0x0080 | rcode  # QR AA RD RA
        msg = struct.pack('>HHHHHH', qid, rflags, 1, len(answers), 0, 0) + question + b''.join(answers)
        try:
            self.sock.sendto(msg, addr)
        except OSError:
            pass

    def close(self):
        self._stop = True
        self.sock.close()


ZONE = {
    'web.wsf.test': {'A': ['127.0.0.1']},
    'six.wsf.test': {'AAAA': ['::1']},
    'both.wsf.test': {'A': ['127.0.0.1'], 'AAAA': ['::1']},
    'alias.wsf.test': {'CNAME': 'web.wsf.test'},
    'cache.wsf.test': {'A': ['127.0.0.1'], 'ttl': 300},
    'slow.wsf.test': {'A': ['127.0.0.1'], 'delay': SLOW_DELAY},
    'servfail.wsf.test': {'rcode': 2},
    'silent.wsf.test': {'drop': True},
    'remote.wsf.test': {'A': ['127.0.0.1']},
}


def hello(path):
    return ('origin says hello: GET %s\n' % path).encode()


def main(suite):
    dns = DNSServer(ZONE)
    origin = w.HTTPOrigin('127.0.0.1')
    echo = w.TCPServer(w.echo_handler)
    try:
        echo6 = w.TCPServer(w.echo_handler, host='::1')
    except OSError:
        echo6 = None
    sp, dp = w.free_ports(2)
    run = suite.run
    state = {}

    def start():
        state['srv'] = w.start_server(sp, ['--dns', '127.0.0.1:%d' % dns.port])
        state['cli'] = w.start_client('ws://127.0.0.1:%d' % sp, ['-D', str(dp)], wait_ports=[dp])
    if not run('server starts with --dns 127.0.0.1:PORT', start, always=True):
        return

    def echo_via(name, port, what):
        s = w.socks_connect(dp, name, port, timeout=15)
        try:
            m = os.urandom(3000)
            s.sendall(m)
            check(w.recv_exact(s, len(m), 'echo via %s' % what) == m, 'echo via %s differs' % what)
        finally:
            s.close()

    run('A record: SOCKS5 CONNECT to web.wsf.test', echo_via, 'web.wsf.test', echo.port, 'A')

    def curl_name():
        body = w.curl_ok(['--socks5-hostname', '127.0.0.1:%d' % dp,
                          'http://web.wsf.test:%d/dns' % origin.port])
        check(body == hello('/dns'), 'body %r' % body[:60])
        body = w.curl_ok(['-x', 'http://127.0.0.1:%d' % dp, 'http://web.wsf.test:%d/dns2' % origin.port])
        check(body == hello('/dns2'), 'plain proxy body %r' % body[:60])
        body = w.curl_ok(['-p', '-x', 'http://127.0.0.1:%d' % dp,
                          'http://web.wsf.test:%d/dns3' % origin.port])
        check(body == hello('/dns3'), 'CONNECT body %r' % body[:60])
    run('curl by name through SOCKS5, plain HTTP and CONNECT', curl_name)

    def aaaa_only():
        if echo6 is None:
            raise CaseSkip('cannot listen on ::1')
        echo_via('six.wsf.test', echo6.port, 'AAAA')
    run('AAAA-only name: six.wsf.test reaches ::1', aaaa_only)

    def both():
        echo_via('both.wsf.test', echo.port, 'A+AAAA (IPv6 refused, IPv4 listens)')
        if echo6 is not None:
            echo_via('both.wsf.test', echo6.port, 'A+AAAA (IPv6 listens)')
    run('A and AAAA: IPv6 refused falls back to IPv4', both)

    run('CNAME: alias.wsf.test -> web.wsf.test', echo_via, 'alias.wsf.test', echo.port, 'CNAME')
    run('names are case-insensitive: WEB.Wsf.TEST', echo_via, 'WEB.Wsf.TEST', echo.port, 'mixed case')

    def nxdomain():
        t0 = time.monotonic()
        s, rep = w.socks_open(dp, 'nx.wsf.test', echo.port, timeout=15)
        s.close()
        check(rep == 4, 'NXDOMAIN: REP 0x%02x, expected 0x04' % rep)
        check(time.monotonic() - t0 < 3, 'NXDOMAIN took %.1f s' % (time.monotonic() - t0))
        st = w.curl(['-x', 'http://127.0.0.1:%d' % dp, '-o', '/dev/null', '-w', '%{http_code}',
                     'http://nx.wsf.test/']).stdout
        check(st == b'502', 'plain proxy to an NXDOMAIN name: %r, expected 502' % st)
    run('NXDOMAIN: SOCKS5 0x04 promptly, HTTP 502', nxdomain)

    def servfail():
        s, rep = w.socks_open(dp, 'servfail.wsf.test', echo.port, timeout=15)
        s.close()
        check(rep in (4, 1), 'SERVFAIL: REP 0x%02x, expected 0x04 (or 0x01)' % rep)
    run('SERVFAIL: a failure reply (0x04)', servfail)

    def non_blocking():
        res = {}

        def slow():
            t0 = time.monotonic()
            try:
                s, rep = w.socks_open(dp, 'slow.wsf.test', echo.port, timeout=15)
                s.close()
                res['slow'] = (rep, time.monotonic() - t0)
            except Exception as e:
                res['slow'] = ('err %s' % e, time.monotonic() - t0)

        def silent():
            t0 = time.monotonic()
            try:
                s, rep = w.socks_open(dp, 'silent.wsf.test', echo.port, timeout=25)
                s.close()
                res['silent'] = (rep, time.monotonic() - t0)
            except Exception as e:
                res['silent'] = ('err %s' % e, time.monotonic() - t0)
        ts = [threading.Thread(target=slow, daemon=True), threading.Thread(target=silent, daemon=True)]
        for t in ts:
            t.start()
        time.sleep(0.5)  # both lookups are now pending on the server
        lat = []
        for name in ('web.wsf.test', '127.0.0.1', 'localhost'):
            t0 = time.monotonic()
            echo_via(name, echo.port, '%s during a slow lookup' % name)
            lat.append((name, time.monotonic() - t0))
        for t in ts:
            t.join(30)
        slow_lat = [x for x in lat if x[1] > 1.0]
        check(not slow_lat, 'tunnels waited for a pending lookup: %s'
              % ', '.join('%s %.1f s' % x for x in slow_lat))
        r = res.get('slow')
        check(r and r[0] == 0, 'slow.wsf.test (answered after %.0f s): %r' % (SLOW_DELAY, r))
        r = res.get('silent')
        check(r and r[0] in (4, 6, 1), 'a name server that never answers: %r (expected 0x04 or '
              '0x06 within the dial deadline)' % (r,))
        check(r[1] < 20, 'the unanswered lookup was reported only after %.1f s' % r[1])
    run('a slow (%.0f s) and an unanswered lookup do not hold up other tunnels' % SLOW_DELAY,
        non_blocking, timeout=40)

    def cache():
        echo_via('cache.wsf.test', echo.port, 'first lookup')
        n = dns.count('cache.wsf.test')
        check(n >= 1, 'the server did not ask our name server (n=%d)' % n)
        for i in range(5):
            echo_via('cache.wsf.test', echo.port, 'cached lookup %d' % i)
        check(dns.count('cache.wsf.test') == n, 'answers with TTL 300 are not cached: %d queries '
              'after 6 tunnels (%d after the first)' % (dns.count('cache.wsf.test'), n))
    run('answers are cached for their TTL', cache)

    def etc_hosts():
        names = []
        try:
            with open('/etc/hosts') as f:
                for line in f:
                    parts = line.split('#')[0].split()
                    if len(parts) >= 2 and parts[0] in ('127.0.0.1', '::1'):
                        names += [(n, parts[0]) for n in parts[1:]
                                  if n != 'localhost' and '.' not in n or n.endswith('.localdomain')]
        except OSError:
            pass
        names = [(n, ip) for n, ip in names if n.lower() not in ZONE]
        if not names:
            raise CaseSkip('/etc/hosts has no loopback name besides localhost')
        name, ip = names[0]
        if ip == '::1' and echo6 is None:
            raise CaseSkip('cannot listen on ::1')
        before = dns.count(name)
        echo_via(name, (echo6 if ip == '::1' else echo).port, '/etc/hosts name %s' % name)
        check(dns.count(name) == before, '%s is in /etc/hosts, yet the name server was asked' % name)
    run('/etc/hosts first: a loopback name from it works without a DNS query', etc_hosts)

    def many_names():
        errs = []
        lock = threading.Lock()

        def worker(i):
            try:
                echo_via(['web.wsf.test', 'alias.wsf.test', 'both.wsf.test'][i % 3], echo.port, '#%d' % i)
            except Exception as e:
                with lock:
                    errs.append('#%d %s' % (i, e))
        ths = [threading.Thread(target=worker, args=(i,), daemon=True) for i in range(60)]
        for t in ths:
            t.start()
        for t in ths:
            t.join(20)
        check(not errs, '%d of 60 failed: %s' % (len(errs), '; '.join(errs[:3])))
    run('60 concurrent tunnels to names', many_names, timeout=30)

    def client_dns_for_R():
        rp = w.free_port()
        c = w.start_client('ws://127.0.0.1:%d' % sp, ['--dns', '127.0.0.1:%d' % dns.port,
                                                      '-R', '%d:remote.wsf.test:%d' % (rp, echo.port)],
                           name='client-R-dns')
        deadline = time.monotonic() + 10
        for _ in range(200):
            if w.listening(rp) or time.monotonic() > deadline:
                break
            time.sleep(0.05)
        check(w.listening(rp), 'the server does not listen for -R:\n' + c.tail())
        s = w.connect(rp, timeout=10)
        try:
            s.sendall(b'R by name')
            check(w.recv_exact(s, 9, 'echo') == b'R by name', 'echo via -R by name differs')
        finally:
            s.close()
        check(dns.count('remote.wsf.test') >= 1, 'the client did not use --dns for the -R name')
        c.stop()
    run('client --dns: an -R destination name resolved through it', client_dns_for_R)

    def bad_dns():
        for val in ('bogus', '127.0.0.1:99999', '[::1', '1.1.1.1,2.2.2.2,3.3.3.3,4.4.4.4', ''):
            for cmd in (['server', 'ws://127.0.0.1:%d' % w.free_port()],
                        ['client', 'ws://127.0.0.1:1', '-D', str(w.free_port())]):
                try:
                    r = subprocess.run([w.WSFERRY] + cmd + ['--dns', val], stdin=subprocess.DEVNULL,
                                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=3)
                except subprocess.TimeoutExpired:
                    raise CaseFail('%s --dns %r accepted (kept running)' % (cmd[0], val))
                err = r.stderr.decode(errors='replace').split('\n')
                check(r.returncode == 2 and '--dns' in err[0],
                      '%s --dns %r: exit %d %r' % (cmd[0], val, r.returncode, err[0]))
    run('bad --dns values exit 2 naming --dns', bad_dns)

    suite.check_processes()
    dns.close()
    origin.close()
    echo.close()
    if echo6:
        echo6.close()


if __name__ == '__main__':
    w.main_guard(w.Suite('dns_test'), main)
