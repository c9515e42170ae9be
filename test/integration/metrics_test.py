#!/usr/bin/python3
"""metrics_test.py — `wsferry server --metrics` (issues 15 and 16): known
traffic in, the same numbers out. Tunnels through -L with exact byte counts
each way, a wrong key, a refused dial, a name that does not exist (from a
slow DNS server of our own) and one from /etc/hosts, TLS handshakes good and
bad on a second listener; the whole exposition parsed by a strict parser of
the text format 0.0.4 written here and by `promtool check metrics` (Debian
prometheus); the sum over --workers 2; /health 200, then 503 while a SIGTERM
drains; the HTTP edges of the listener (404, 405, 400, 431, HEAD, a silent
client timed out without stalling scrapes); and the public port answering
/metrics and /health exactly as it answers any unknown path (stealth).

Interface (test/run.sh): binary from env WSFERRY (default ./build/wsferry);
everything is started here on free 127.0.0.1 ports and ended by PID; one line
per failed case; last line exactly `N passed, N failed`; exit 1 on failure.
`-v` also prints passing cases; other arguments filter case names.
"""

import os
import re
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import wsfutil as w  # noqa: E402
from wsfutil import check  # noqa: E402

WSFERRY = w.WSFERRY
KEY = subprocess.run([WSFERRY, 'keygen'], capture_output=True, text=True,
                     check=True).stdout.strip()
OTHER_KEY = subprocess.run([WSFERRY, 'keygen'], capture_output=True, text=True,
                           check=True).stdout.strip()
DNS_DELAY = 0.12  # our DNS server's answer time: lands above the 0.1 s bucket


# ---------------------------------------------------------------- HTTP to the listener

def http_raw(port, data, timeout=5.0):
    """Sends data, returns everything read until the server closes."""
    s = w.connect(port, timeout=timeout)
    try:
        s.sendall(data)
        out = b''
        for _ in range(10000):
            d = s.recv(65536)
            if not d:
                break
            out += d
        return out
    finally:
        s.close()


def http_get(port, path, method='GET'):
    """(status, headers dict (lower-case names), body) of one request."""
    raw = http_raw(port, ('%s %s HTTP/1.1\r\nHost: x\r\n\r\n' % (method, path)).encode())
    head, _, body = raw.partition(b'\r\n\r\n')
    lines = head.decode('latin-1').split('\r\n')
    m = re.match(r'HTTP/1\.1 (\d{3}) ', lines[0])
    check(m is not None, 'not an HTTP answer: %r' % raw[:80])
    hdrs = {}
    for ln in lines[1:]:
        k, _, v = ln.partition(':')
        hdrs[k.strip().lower()] = v.strip()
    if method != 'HEAD':
        check(int(hdrs.get('content-length', -1)) == len(body),
              'Content-Length %s for a body of %d' % (hdrs.get('content-length'), len(body)))
    return int(m.group(1)), hdrs, body


# ---------------------------------------------------------------- the text format, strictly

NAME = r'[a-zA-Z_:][a-zA-Z0-9_:]*'
LABEL = r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\\n]|\\\\|\\"|\\n)*)"'
SAMPLE = re.compile(r'^(%s)(?:\{((?:%s)(?:,%s)*)?\})? (\S+)$' % (NAME, LABEL, LABEL))
FLOAT = re.compile(r'^(?:[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?|[+-]?Inf|NaN)$')


def parse_exposition(text):
    """Parses the whole text (format 0.0.4) or fails the case naming the line.
    Returns {family: {'type':, 'help':, 'samples': [(name, labels dict, float)]}}."""
    check(text.endswith('\n'), 'the exposition does not end with a newline')
    fams, order, current = {}, [], None
    for i, line in enumerate(text.split('\n')[:-1], 1):
        where = 'line %d %r' % (i, line)
        check(line != '', 'empty line (%s)' % where)
        if line.startswith('#'):
            m = re.match(r'^# (HELP|TYPE) (%s) (.*)$' % NAME, line)
            check(m is not None, 'bad comment line (%s)' % where)
            kind, name, rest = m.groups()
            f = fams.setdefault(name, {'type': None, 'help': None, 'samples': []})
            if name not in order:
                order.append(name)
            check(not f['samples'], '%s after samples of %s (%s)' % (kind, name, where))
            if kind == 'TYPE':
                check(f['type'] is None, 'second TYPE for %s' % name)
                check(rest in ('counter', 'gauge', 'histogram', 'summary', 'untyped'),
                      'unknown type (%s)' % where)
                f['type'] = rest
            else:
                check(f['help'] is None, 'second HELP for %s' % name)
                check('\\' not in rest.replace('\\\\', '').replace('\\n', ''),
                      'bad escape in HELP (%s)' % where)
                f['help'] = rest
            current = name
            continue
        m = SAMPLE.match(line)
        check(m is not None, 'not a sample line (%s)' % where)
        name, value = m.group(1), m.group(m.lastindex)
        labels = dict(re.findall(LABEL, m.group(2) or ''))
        check(len(labels) == len(re.findall(LABEL, m.group(2) or '')),
              'a label twice (%s)' % where)
        check(FLOAT.match(value) is not None, 'bad value (%s)' % where)
        base = name
        if current and fams[current]['type'] == 'histogram':
            base = re.sub(r'_(bucket|sum|count)$', '', name)
        check(base == current, 'sample %s outside its family %s (%s)' % (name, current, where))
        check(fams[current]['type'] is not None, 'sample before TYPE (%s)' % where)
        if fams[current]['type'] == 'counter':
            check(name.endswith('_total'), 'counter %s without _total' % name)
        check(float(value) >= 0 or fams[current]['type'] == 'gauge',
              'negative %s (%s)' % (fams[current]['type'], where))
        key = (name, tuple(sorted(labels.items())))
        check(key not in {(n, tuple(sorted(lb.items()))) for n, lb, _ in fams[current]['samples']},
              'duplicate series (%s)' % where)
        fams[current]['samples'].append((name, labels, float(value)))
    for name, f in fams.items():
        check(f['type'] and f['help'], '%s lacks TYPE or HELP' % name)
        if f['type'] == 'histogram':
            check_histogram(name, f['samples'])
    return fams


def check_histogram(name, samples):
    buckets = [(lb['le'], v) for n, lb, v in samples if n == name + '_bucket']
    les = [float(le) for le, _ in buckets]
    check(buckets and buckets[-1][0] == '+Inf', '%s: last bucket is not le="+Inf"' % name)
    check(les == sorted(les) and len(set(les)) == len(les), '%s: le not increasing' % name)
    counts = [v for _, v in buckets]
    check(counts == sorted(counts), '%s: buckets not cumulative: %s' % (name, counts))
    count = [v for n, _, v in samples if n == name + '_count']
    check(len(count) == 1 and count[0] == counts[-1], '%s: _count != +Inf bucket' % name)
    check(len([1 for n, _, _ in samples if n == name + '_sum']) == 1, '%s: no _sum' % name)


def value(fams, family, sample=None, **labels):
    for n, lb, v in fams[family]['samples']:
        if n == (sample or family) and all(lb.get(k) == x for k, x in labels.items()):
            return v
    raise w.CaseFail('no %s%s in the exposition' % (sample or family, labels))


def scrape(port):
    status, hdrs, body = http_get(port, '/metrics')
    check(status == 200, '/metrics answered %d' % status)
    check(hdrs.get('content-type') == 'text/plain; version=0.0.4; charset=utf-8',
          'Content-Type %r' % hdrs.get('content-type'))
    text = body.decode('utf-8')
    return parse_exposition(text), text


def promtool(text):
    """promtool check metrics (Debian prometheus), when installed."""
    tool = shutil.which('promtool')
    if not tool:
        return False
    r = subprocess.run([tool, 'check', 'metrics'], input=text, capture_output=True, text=True,
                       timeout=20)
    check(r.returncode == 0, 'promtool check metrics: %s%s' % (r.stdout, r.stderr))
    return True


def wait_metrics(port, cond, what, t=10.0):
    """Scrapes until cond(fams) holds; returns the last (fams, text)."""
    fams = text = None
    for _ in range(int(t / 0.1) + 1):
        fams, text = scrape(port)
        if cond(fams):
            return fams, text
        time.sleep(0.1)
    raise w.CaseFail('%s: never reached; last exposition:\n%s' % (what, text))


# ---------------------------------------------------------------- a slow, negative DNS server

class SlowNxDns:
    """Answers every query NXDOMAIN after DNS_DELAY seconds (UDP)."""

    def __init__(self):
        self.s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.s.bind(('127.0.0.1', 0))
        self.s.settimeout(0.2)
        self.port = self.s.getsockname()[1]
        self.queries = 0
        self.stop = False
        self.t = threading.Thread(target=self._run, daemon=True)
        self.t.start()

    def _run(self):
        while not self.stop:
            try:
                q, peer = self.s.recvfrom(512)
            except socket.timeout:
                continue
            except OSError:
                return
            if len(q) < 12:
                continue
            self.queries += 1
            time.sleep(DNS_DELAY)
            flags = 0x8183 | (struct.unpack('!H', q[2:4])[0] & 0x0100)  # QR RD RA NXDOMAIN
            try:
                self.s.sendto(q[:2] + struct.pack('!HHHHH', flags, 1, 0, 0, 0) + q[12:], peer)
            except OSError:
                return

    def close(self):
        self.stop = True
        self.t.join(2)
        self.s.close()


# ---------------------------------------------------------------- cases

def exchange_sink(port, n):
    """Sends n bytes through -L to a sink origin; returns once it confirmed them."""
    s = w.connect(port, timeout=20)
    w.send_random(s, n)
    s.shutdown(socket.SHUT_WR)
    line = w.recv_until_eof(s, what='sink answer')
    s.close()
    return line


def capture_request(target_port, prefix=()):
    """A real client's upgrade request (to 127.0.0.1:target_port), caught by
    a fake server. Under faketime the plain build generates it (LD_PRELOAD and
    ASan's runtime cannot both come first)."""
    fake = socket.socket()
    fake.bind(('127.0.0.1', 0))
    fake.listen(1)
    fport, lport = fake.getsockname()[1], w.free_port()
    gen = WSFERRY if not prefix or not os.path.exists('./build/wsferry') else './build/wsferry'
    p = subprocess.Popen(list(prefix) + [gen, 'client', 'ws://127.0.0.1:%d' % fport, '--key', KEY,
                                         '-L', '%d:127.0.0.1:%d' % (lport, target_port)],
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                         start_new_session=True)  # faketime's child goes with the group
    try:
        w.wait_port(lport)
        c = socket.create_connection(('127.0.0.1', lport), 5)
        fake.settimeout(5)
        conn, _ = fake.accept()
        conn.settimeout(5)
        head = b''
        while b'\r\n\r\n' not in head:
            d = conn.recv(4096)
            if not d:
                break
            head += d
        conn.close()
        c.close()
        return head[:head.index(b'\r\n\r\n') + 4]
    finally:
        os.killpg(p.pid, signal.SIGTERM)
        p.wait(5)
        fake.close()


def tamper_mac(head):
    """The same request with one character of its cookie's MAC changed."""
    m = re.search(rb'Cookie: [^=\r]+=([A-Za-z0-9_-]+)', head)
    check(m is not None, 'no cookie in %r' % head)
    i = m.end(1) - 10
    flipped = b'B' if head[i:i + 1] == b'A' else b'A'
    return head[:i] + flipped + head[i + 1:]


def send_head(port, head):
    """Sends a captured request; returns the answer's first bytes (b'' when
    dropped), closing at once."""
    s = w.connect(port, timeout=10)
    try:
        s.sendall(head)
        got = s.recv(12)
    except ConnectionResetError:
        got = b''
    s.close()
    return got


def refused_tunnel(port):
    """A -L connection whose tunnel the server refuses: no byte, then its end
    (a RST: the client says the tunnel broke)."""
    s = w.connect(port, timeout=10)
    try:
        check(s.recv(100) == b'', 'a refused tunnel gave data')
    except ConnectionResetError:
        pass
    s.close()


def case_counters():
    sink = w.TCPServer(w.sink_handler)
    source_n = 300007
    source = w.TCPServer(w.make_source_handler(source_n))
    dns = SlowNxDns()
    refused = w.refused_port()
    sp, tp, mp, l_sink, l_src, l_ref, l_nx, l_host, l_bad, l_tls = w.free_ports(10)
    srv = w.Proc([WSFERRY, 'server', 'ws://127.0.0.1:%d' % sp, 'wss://127.0.0.1:%d' % tp,
                  '--key', KEY, '--metrics', str(mp), '--dns', '127.0.0.1:%d' % dns.port,
                  '--log-level', 'debug'], 'server-metrics')
    cli = bad = tcli = None
    try:
        w.wait_port(sp, proc=srv)
        w.wait_port(mp, proc=srv)
        fams, text = scrape(mp)
        check(value(fams, 'wsferry_tunnels_total') == 0, 'tunnels before any traffic')
        cli = w.start_client('ws://127.0.0.1:%d' % sp, [
            '--key', KEY,
            '-L', '127.0.0.1:%d:127.0.0.1:%d' % (l_sink, sink.port),
            '-L', '127.0.0.1:%d:127.0.0.1:%d' % (l_src, source.port),
            '-L', '127.0.0.1:%d:127.0.0.1:%d' % (l_ref, refused),
            '-L', '127.0.0.1:%d:no-such-host.example:80' % l_nx,
            '-L', '127.0.0.1:%d:localhost:%d' % (l_host, sink.port)],
            wait_ports=[l_sink, l_src, l_ref, l_nx, l_host], name='client-metrics')
        sizes = [1, 65536, 1000003]
        for n in sizes:  # N tunnels with exact byte counts, client -> target
            exchange_sink(l_sink, n)
        s = w.connect(l_src, timeout=20)  # one tunnel target -> client
        s.shutdown(socket.SHUT_WR)
        got, _ = w.recv_hash(s)
        s.close()
        check(got == source_n, 'source tunnel carried %d of %d' % (got, source_n))
        exchange_sink(l_host, 5)  # a name from /etc/hosts: a fast lookup
        for port in (l_ref, l_nx):  # a refused dial, a name that does not exist
            refused_tunnel(port)
        bad = w.start_client('ws://127.0.0.1:%d' % sp, [
            '--key', OTHER_KEY, '-L', '127.0.0.1:%d:127.0.0.1:%d' % (l_bad, sink.port)],
            wait_ports=[l_bad], name='client-wrong-key')
        refused_tunnel(l_bad)
        tcli = w.start_client('wss://127.0.0.1:%d' % tp, [
            '--key', KEY, '--insecure', '-L', '127.0.0.1:%d:127.0.0.1:%d' % (l_tls, sink.port)],
            wait_ports=[l_tls], name='client-metrics-tls')
        exchange_sink(l_tls, 777)
        # Auth failures of each class the server logs, from real requests:
        # a forged MAC, a clock 10 minutes ahead, a replay (its first use
        # opens a tunnel to a target that closes at once: no byte either way).
        quiet = w.TCPServer(lambda c, srv: None)
        head = capture_request(quiet.port)
        check(send_head(sp, tamper_mac(head)) == b'', 'a forged MAC was answered')
        check(send_head(sp, capture_request(quiet.port, ('faketime', '-f', '+10m'))) == b'',
              'a token 10 minutes ahead was answered')
        check(send_head(sp, head).startswith(b'HTTP/1.1 101'), 'the captured request (first '
              'use) was refused')
        check(send_head(sp, head) == b'', 'a replayed request was answered')
        quiet.close()
        try:  # a failed TLS handshake: plain HTTP to the wss:// listener
            answer = http_raw(tp, b'GET / HTTP/1.1\r\nHost: x\r\n\r\n')
        except ConnectionResetError:
            answer = b''
        check(answer == b'', 'plain HTTP to the wss:// listener got %r' % answer[:40])
        c2t = sum(sizes) + 5 + 777
        ntun = len(sizes) + 1 + 1 + 1 + 1  # sinks, source, localhost, tls, replay's first

        def settled(f):
            return (value(f, 'wsferry_tunnels_open') == 0 and
                    value(f, 'wsferry_handshakes_total', kind='tls', result='failed') == 1 and
                    value(f, 'wsferry_bytes_total', direction='client_to_target') == c2t)
        fams, text = wait_metrics(mp, settled, 'tunnels closed, bytes settled')
        want = {
            ('wsferry_tunnels_total', ()): ntun,
            ('wsferry_bytes_total', (('direction', 'client_to_target'),)): c2t,
            ('wsferry_bytes_total', (('direction', 'target_to_client'),)):
                source_n + sum(len(('%d %s\n' % (n, 'x' * 64)).encode()) for n in
                               sizes + [5, 777]),
            ('wsferry_handshakes_total', (('kind', 'websocket'), ('result', 'ok'))): ntun,
            ('wsferry_handshakes_total', (('kind', 'websocket'), ('result', 'failed'))): 5,
            ('wsferry_handshakes_total', (('kind', 'tls'), ('result', 'ok'))): 1,
            ('wsferry_handshakes_total', (('kind', 'tls'), ('result', 'failed'))): 1,
            ('wsferry_auth_failures_total', (('class', 'bad_key'),)): 1,
            ('wsferry_auth_failures_total', (('class', 'replay'),)): 1,
            ('wsferry_auth_failures_total', (('class', 'skew'),)): 1,
            ('wsferry_auth_failures_total', (('class', 'nonce_table_full'),)): 0,
            ('wsferry_stealth_answers_total', ()): 4,  # the other key, the three above
            ('wsferry_dial_errors_total', (('class', 'refused'),)): 1,
            ('wsferry_dial_errors_total', (('class', 'dns'),)): 1,
            ('wsferry_dial_errors_total', (('class', 'timeout'),)): 0,
            ('wsferry_dns_resolve_seconds', (('le', '0.1'),)): 1,
            ('wsferry_dns_resolve_seconds', (('le', '+Inf'),)): 2,
            ('wsferry_listener_connections_total',
             (('listener', 'ws://127.0.0.1:%d' % sp),)): ntun - 1 + 2 + 1 + 3,
            ('wsferry_listener_connections_total',
             (('listener', 'wss://127.0.0.1:%d' % tp),)): 2,
            ('wsferry_workers', ()): 1,
            ('wsferry_draining', ()): 0,
        }
        wrong = []
        for (fam, labels), v in want.items():
            sample = fam + '_bucket' if fam == 'wsferry_dns_resolve_seconds' else None
            got = value(fams, fam, sample, **dict(labels))
            if got != v:
                wrong.append('%s%s = %s, sent %s' % (fam, dict(labels), got, v))
        check(not wrong, '\n    '.join(wrong))
        dsum = value(fams, 'wsferry_dns_resolve_seconds', 'wsferry_dns_resolve_seconds_sum')
        check(DNS_DELAY <= dsum < 5, 'DNS latency sum %s s (one lookup took >= %s s)'
              % (dsum, DNS_DELAY))
        check(dns.queries >= 1, 'our DNS server was never asked')
        promtool(text)
    finally:
        for p in (cli, bad, tcli):
            if p:
                p.stop()
        srv.stop()
        sink.close()
        source.close()
        dns.close()


def case_client_counters():
    sink = w.TCPServer(w.sink_handler)
    source_n = 123457
    source = w.TCPServer(w.make_source_handler(source_n))
    sp, mp, l_sink, l_src, l_ref, mp2, l_dead = w.free_ports(7)
    srv = w.start_server(sp, ['--key', KEY], name='server-for-client-metrics')
    cli = dead = None
    try:
        cli = w.start_client('ws://127.0.0.1:%d' % sp, [
            '--key', KEY, '--metrics', str(mp),
            '-L', '127.0.0.1:%d:127.0.0.1:%d' % (l_sink, sink.port),
            '-L', '127.0.0.1:%d:127.0.0.1:%d' % (l_src, source.port),
            '-L', '127.0.0.1:%d:127.0.0.1:%d' % (l_ref, w.refused_port())],
            wait_ports=[l_sink, l_src, l_ref, mp], name='client-metrics-own')
        sizes = [3, 70000, 500001]
        for n in sizes:
            exchange_sink(l_sink, n)
        s = w.connect(l_src, timeout=20)
        s.shutdown(socket.SHUT_WR)
        got, _ = w.recv_hash(s)
        s.close()
        check(got == source_n, 'source tunnel carried %d of %d' % (got, source_n))
        refused_tunnel(l_ref)
        answers = sum(len(('%d %s\n' % (n, 'x' * 64)).encode()) for n in sizes)
        fams, text = wait_metrics(mp, lambda f: value(f, 'wsferry_tunnels_open') == 0 and
                                  value(f, 'wsferry_bytes_total', direction='target_to_client')
                                  == source_n + answers, 'client tunnels closed')
        want = {
            ('wsferry_tunnels_total', ()): len(sizes) + 1,
            ('wsferry_bytes_total', (('direction', 'client_to_target'),)): sum(sizes),
            ('wsferry_handshakes_total', (('kind', 'websocket'), ('result', 'ok'))): len(sizes) + 1,
            ('wsferry_handshakes_total', (('kind', 'websocket'), ('result', 'failed'))): 1,
            ('wsferry_dial_errors_total', (('class', 'refused'),)): 1,
            ('wsferry_dial_errors_total', (('class', 'server_down'),)): 0,
        }
        wrong = ['%s%s = %s, sent %s' % (f, dict(lb), value(fams, f, **dict(lb)), v)
                 for (f, lb), v in want.items() if value(fams, f, **dict(lb)) != v]
        check(not wrong, '\n    '.join(wrong))
        check('wsferry_auth_failures_total' not in fams, 'the client shows server families')
        check(http_get(mp, '/health')[:3:2] == (200, b'ok\n'), 'client /health')
        promtool(text)
        # a client whose server is down: its tunnels fail as server_down
        dead = w.start_client('ws://127.0.0.1:%d' % w.refused_port(), [
            '--key', KEY, '--metrics', '127.0.0.1:%d' % mp2,
            '-L', '127.0.0.1:%d:127.0.0.1:%d' % (l_dead, sink.port)],
            wait_ports=[l_dead, mp2], name='client-metrics-dead')
        refused_tunnel(l_dead)
        fams, _ = wait_metrics(mp2, lambda f: value(f, 'wsferry_dial_errors_total',
                                                    **{'class': 'server_down'}) == 1,
                               'server_down counted')
        check(value(fams, 'wsferry_tunnels_total') == 0, 'a tunnel counted without a server')
    finally:
        for p in (cli, dead):
            if p:
                p.stop()
        srv.stop()
        sink.close()
        source.close()


def case_wss_bytes():
    """Over wss:// the relay reads into and writes from BearSSL's own buffers
    (no copy): the bytes still count, each way, on both ends."""
    import tempfile
    d = tempfile.mkdtemp()
    cert, key = os.path.join(d, 'c.pem'), os.path.join(d, 'k.pem')
    r = subprocess.run([WSFERRY, 'cert', '--out-cert', cert, '--out-key', key],
                       capture_output=True, text=True, timeout=30)
    check(r.returncode == 0, 'wsferry cert: %s' % r.stderr)
    sink = w.TCPServer(w.sink_handler)
    source_n = 300001
    source = w.TCPServer(w.make_source_handler(source_n))
    sp, smp, cmp_, l_sink, l_src = w.free_ports(5)
    srv = w.Proc([WSFERRY, 'server', 'wss://127.0.0.1:%d' % sp, '--key', KEY, '--cert', cert,
                  '--cert-key', key, '--metrics', str(smp)], 'server-wss-metrics')
    cli = None
    try:
        w.wait_port(sp, proc=srv)
        cli = w.start_client('wss://127.0.0.1:%d' % sp, [
            '--key', KEY, '--insecure', '--metrics', str(cmp_),
            '-L', '127.0.0.1:%d:127.0.0.1:%d' % (l_sink, sink.port),
            '-L', '127.0.0.1:%d:127.0.0.1:%d' % (l_src, source.port)],
            wait_ports=[l_sink, l_src, cmp_], name='client-wss-metrics')
        sizes = [5, 1 << 20]
        for n in sizes:
            exchange_sink(l_sink, n)
        s = w.connect(l_src, timeout=20)
        s.shutdown(socket.SHUT_WR)
        got, _ = w.recv_hash(s)
        s.close()
        check(got == source_n, 'source tunnel carried %d of %d' % (got, source_n))
        answers = sum(len(('%d %s\n' % (n, 'x' * 64)).encode()) for n in sizes)
        for port, who in ((smp, 'server'), (cmp_, 'client')):
            fams, _ = wait_metrics(port, lambda f: value(f, 'wsferry_tunnels_open') == 0 and
                                   value(f, 'wsferry_bytes_total', direction='target_to_client')
                                   == source_n + answers, who + ' tunnels closed')
            up = value(fams, 'wsferry_bytes_total', direction='client_to_target')
            check(up == sum(sizes), '%s: client_to_target %s, sent %d' % (who, up, sum(sizes)))
    finally:
        if cli:
            cli.stop()
        srv.stop()
        sink.close()
        source.close()


def case_promtool_present():
    check(shutil.which('promtool') is not None,
          'promtool missing (Debian prometheus, test/deps.sh): the strict parser ran alone')


def case_workers_sum():
    sink = w.TCPServer(w.sink_handler)
    sp, mp, lp = w.free_ports(3)
    srv = w.Proc([WSFERRY, 'server', 'ws://127.0.0.1:%d' % sp, '--key', KEY, '--workers', '2',
                  '--metrics', '127.0.0.1:%d' % mp], 'server-metrics-workers')
    cli = None
    try:
        w.wait_port(sp, proc=srv)
        w.wait_port(mp, proc=srv)
        cli = w.start_client('ws://127.0.0.1:%d' % sp, [
            '--key', KEY, '-L', '127.0.0.1:%d:127.0.0.1:%d' % (lp, sink.port)],
            wait_ports=[lp], name='client-metrics-workers')
        n, each = 12, 10000
        for _ in range(n):
            exchange_sink(lp, each)
        for _ in range(6):  # scrapes are served by whichever worker accepts: same sums
            fams, text = wait_metrics(mp, lambda f: value(f, 'wsferry_tunnels_open') == 0,
                                      'tunnels closed')
            check(value(fams, 'wsferry_workers') == 2, 'wsferry_workers != 2')
            check(value(fams, 'wsferry_tunnels_total') == n, 'tunnels_total %s, opened %d' %
                  (value(fams, 'wsferry_tunnels_total'), n))
            check(value(fams, 'wsferry_bytes_total', direction='client_to_target') == n * each,
                  'bytes c->t summed over workers')
        promtool(text)
        workers = re.findall(r'worker (\d) started \(pid (\d+)\)', srv.stderr_text())
        check(len(workers) >= 2, 'two workers did not start:\n%s' % srv.tail())
    finally:
        if cli:
            cli.stop()
        srv.stop()
        sink.close()


def case_health_drain():
    origin = w.TCPServer(w.echo_handler)
    sp, mp, lp = w.free_ports(3)
    srv = w.Proc([WSFERRY, 'server', 'ws://127.0.0.1:%d' % sp, '--key', KEY, '--metrics',
                  str(mp), '--drain-timeout', '20'], 'server-metrics-drain')
    cli = None
    try:
        w.wait_port(sp, proc=srv)
        w.wait_port(mp, proc=srv)
        for path in ('/health', '/healthz'):
            status, _, body = http_get(mp, path)
            check((status, body) == (200, b'ok\n'), '%s while serving: %d %r' % (path, status, body))
        status, hdrs, body = http_get(mp, '/health', 'HEAD')
        check(status == 200 and body == b'' and hdrs.get('content-length') == '3',
              'HEAD /health: %d %r %r' % (status, hdrs, body))
        cli = w.start_client('ws://127.0.0.1:%d' % sp, [
            '--key', KEY, '-L', '127.0.0.1:%d:127.0.0.1:%d' % (lp, origin.port)],
            wait_ports=[lp], name='client-metrics-drain')
        s = w.connect(lp, timeout=10)
        s.sendall(b'ping')
        check(w.recv_exact(s, 4) == b'ping', 'echo before the drain')
        srv.stopped_by_us = True
        os.kill(srv.pid, signal.SIGTERM)
        for _ in range(50):
            if not w.port_open(sp):
                break
            time.sleep(0.05)
        for path in ('/health', '/healthz'):
            status, _, body = http_get(mp, path)
            check((status, body) == (503, b'draining\n'),
                  '%s while draining: %d %r' % (path, status, body))
        fams, _ = scrape(mp)
        check(value(fams, 'wsferry_draining') == 1, 'wsferry_draining != 1 while draining')
        check(value(fams, 'wsferry_tunnels_open') == 1, 'the draining tunnel is not counted')
        s.sendall(b'more')
        check(w.recv_exact(s, 4) == b'more', 'the tunnel stopped during the drain')
        s.close()
        try:
            srv.p.wait(8)
        except subprocess.TimeoutExpired:
            raise w.CaseFail('the server did not exit once its tunnel ended')
        check(srv.p.returncode == 0, 'server exited %s' % srv.p.returncode)
        check(not w.port_open(mp), 'the metrics listener outlived the server')
    finally:
        if cli:
            cli.stop()
        srv.stop()
        origin.close()


# contrib/haproxy.cfg's health checks, on loopback: GET /health on each
# node's --metrics port, PROXY v2 on the traffic.
HAPROXY_CONF = """
global
    stats socket %(sock)s level admin
defaults
    mode tcp
    timeout connect 5s
    timeout client 1h
    timeout server 1h
frontend in
    bind 127.0.0.1:%(hp)d
    default_backend nodes
backend nodes
    balance roundrobin
    option httpchk
    http-check send meth GET uri /health
    http-check expect status 200
    default-server send-proxy-v2 inter 200ms fall 2 rise 1
    server n1 127.0.0.1:%(sp1)d check port %(mp1)d
    server n2 127.0.0.1:%(sp2)d check port %(mp2)d
"""


def haproxy_servers(sock):
    """{server: (status, check_status, check_code)} from haproxy's stats socket."""
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(3)
    s.connect(sock)
    s.sendall(b'show stat\n')
    out = b''
    for _ in range(1000):
        d = s.recv(65536)
        if not d:
            break
        out += d
    s.close()
    lines = out.decode().splitlines()
    cols = lines[0].lstrip('# ').split(',')
    res = {}
    for ln in lines[1:]:
        row = dict(zip(cols, ln.split(',')))
        if row.get('pxname') == 'nodes' and row.get('svname') in ('n1', 'n2'):
            res[row['svname']] = (row['status'], row['check_status'], row['check_code'])
    return res


def case_haproxy_health():
    exe = w.require_peer('haproxy', 'haproxy', '/usr/sbin/haproxy')
    origin = w.TCPServer(w.echo_handler)
    sp1, mp1, sp2, mp2, hp, lp = w.free_ports(6)
    d = tempfile.mkdtemp(prefix='wsf-metrics-haproxy-')
    sock = os.path.join(d, 'stats.sock')
    nodes = [w.Proc([WSFERRY, 'server', 'ws://127.0.0.1:%d' % sp, '--key', KEY,
                     '--proxy-protocol', '127.0.0.1', '--metrics', str(mp),
                     '--drain-timeout', '20'], 'server-metrics-n%d' % i)
             for i, (sp, mp) in enumerate(((sp1, mp1), (sp2, mp2)), 1)]
    conf = os.path.join(d, 'haproxy.cfg')
    with open(conf, 'w') as f:
        f.write(HAPROXY_CONF % {'sock': sock, 'hp': hp, 'sp1': sp1, 'mp1': mp1, 'sp2': sp2,
                                'mp2': mp2})
    ha = w.Proc([exe, '-db', '-f', conf], 'haproxy', wsferry=False)
    cli = None
    try:
        w.wait_port(hp, proc=ha)

        def states(want, what):
            got = None
            for _ in range(100):
                got = haproxy_servers(sock) if os.path.exists(sock) else None
                if got and all(got.get(n, ('',))[0] == st for n, st in want.items()):
                    return got
                time.sleep(0.1)
            raise w.CaseFail('%s: haproxy says %s' % (what, got))
        states({'n1': 'UP', 'n2': 'UP'}, 'both nodes up')
        # two tunnels through haproxy (round robin: one on each node), held
        # open so that node 1 drains instead of exiting
        cli = w.start_client('ws://127.0.0.1:%d' % hp, [
            '--key', KEY, '-L', '127.0.0.1:%d:127.0.0.1:%d' % (lp, origin.port)],
            wait_ports=[lp], name='client-metrics-haproxy')
        held = []
        for i in range(2):
            s = w.connect(lp, timeout=10)
            s.sendall(b'hold')
            check(w.recv_exact(s, 4) == b'hold', 'echo through haproxy (tunnel %d)' % i)
            held.append(s)
        for i, mp in enumerate((mp1, mp2), 1):
            check(value(scrape(mp)[0], 'wsferry_tunnels_open') == 1,
                  'node %d does not hold one of the two tunnels' % i)
        nodes[0].stopped_by_us = True
        os.kill(nodes[0].pid, signal.SIGTERM)
        got = states({'n1': 'DOWN', 'n2': 'UP'}, 'node 1 draining')
        check(got['n1'][1] == 'L7STS' and got['n1'][2] == '503',
              'node 1 is down for another reason than its 503: %s' % (got['n1'],))
        check(nodes[0].alive(), 'node 1 exited while its tunnel was open')
        for s in held:
            s.sendall(b'more')
            check(w.recv_exact(s, 4) == b'more', 'a tunnel stopped during the drain')
            s.close()
        try:
            nodes[0].p.wait(8)
        except subprocess.TimeoutExpired:
            raise w.CaseFail('node 1 did not exit once its tunnel ended')
        check(nodes[0].p.returncode == 0, 'node 1 exited %s' % nodes[0].p.returncode)
    finally:
        if cli:
            cli.stop()
        ha.stop()
        for n in nodes:
            n.stop()
        origin.close()
        shutil.rmtree(d, ignore_errors=True)


def case_http_edges():
    sp, mp = w.free_ports(2)
    srv = w.Proc([WSFERRY, 'server', 'ws://127.0.0.1:%d' % sp, '--metrics', str(mp)],
                 'server-metrics-http')
    try:
        w.wait_port(mp, proc=srv)
        check(http_get(mp, '/')[0] == 404, '/ is not 404')
        check(http_get(mp, '/metricsx')[0] == 404, '/metricsx is not 404')
        check(http_get(mp, '/metrics?x=1')[0] == 200, '/metrics?x=1 is not 200')
        status, hdrs, _ = http_get(mp, '/metrics', 'POST')
        check(status == 405 and hdrs.get('allow') == 'GET, HEAD', 'POST /metrics: %d %r' %
              (status, hdrs))
        check(http_get(mp, '/health', 'DELETE')[0] == 405, 'DELETE /health is not 405')
        status, hdrs, body = http_get(mp, '/metrics', 'HEAD')
        check(status == 200 and body == b'' and int(hdrs['content-length']) > 1000,
              'HEAD /metrics: %d %r' % (status, hdrs))
        raw = http_raw(mp, b'GET /metrics HTTP/1.1\nHost: x\n\n')  # bare LF
        check(raw.startswith(b'HTTP/1.1 400 '), 'bare-LF head: %r' % raw[:40])
        raw = http_raw(mp, b'GET /metrics HTTP/1.1\r\nHost: x\r\nX-Big: ' + b'a' * 5000 +
                       b'\r\n\r\n')
        check(raw.startswith(b'HTTP/1.1 431 '), 'oversized head: %r' % raw[:40])
        # Silent clients: held at most SCRAPE_DEADLINE_MS (5 s) each, 16 at
        # most (a newcomer closes the oldest); scrapes keep being answered.
        t0 = time.monotonic()
        silent = [w.connect(mp) for _ in range(16)]
        time.sleep(0.3)
        check(http_get(mp, '/health')[0] == 200, 'a scrape while 16 silent clients wait')
        evicted = silent[0]
        evicted.settimeout(2)
        try:
            end = evicted.recv(10)
        except (ConnectionResetError, socket.timeout):
            end = None
        check(end == b'', 'the oldest silent client was not closed for a newcomer: %r' % end)
        silent[-1].settimeout(8)
        try:
            end = silent[-1].recv(10)
        except (ConnectionResetError, socket.timeout):
            end = None
        dt = time.monotonic() - t0
        check(end == b'' and 3.5 <= dt <= 7.5,
              'a silent client: %r after %.1f s (want EOF after ~5 s)' % (end, dt))
        for s in silent:
            s.close()
        check(srv.alive(), 'the server died')
        check(http_get(mp, '/metrics')[0] == 200, 'after the silent clients')
    finally:
        srv.stop()


def public_answer(port, path):
    return http_raw(port, ('GET %s HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n'
                           % path).encode())


def no_date(b):
    return re.sub(rb'Date: [^\r]*\r\n', b'', b)


def case_public_port_stealth():
    for stealth in ('drop', 'decoy'):
        sp, mp = w.free_ports(2)
        srv = w.Proc([WSFERRY, 'server', 'ws://127.0.0.1:%d' % sp, '--key', KEY, '--stealth',
                      stealth, '--metrics', str(mp)], 'server-metrics-' + stealth)
        try:
            w.wait_port(sp, proc=srv)
            w.wait_port(mp, proc=srv)
            other = no_date(public_answer(sp, '/x7q-nothing-here'))
            for path in ('/metrics', '/health', '/healthz'):
                got = no_date(public_answer(sp, path))
                check(got == other, '--stealth %s: public %s answered %r, an unknown path %r'
                      % (stealth, path, got[:60], other[:60]))
                check(b'wsferry' not in got and b'# TYPE' not in got,
                      'public %s shows metrics' % path)
            if stealth == 'drop':
                check(other == b'', 'drop answered %r' % other[:40])
        finally:
            srv.stop()


def case_refused_configs():
    sp = w.free_port()
    for metrics in (str(sp), '127.0.0.1:%d' % sp, '0.0.0.0:%d' % sp):
        r = subprocess.run([WSFERRY, 'server', 'ws://127.0.0.1:%d' % sp, '--metrics', metrics],
                           capture_output=True, text=True, timeout=10)
        check(r.returncode == 2 and 'listen URL' in r.stderr,
              '--metrics %s on the public port: exit %d %r' % (metrics, r.returncode, r.stderr))
    r = subprocess.run([WSFERRY, 'server', 'ws://0.0.0.0:%d' % sp, '--metrics', str(sp)],
                       capture_output=True, text=True, timeout=10)
    check(r.returncode == 2, '--metrics 127.0.0.1:P with ws://0.0.0.0:P: exit %d' % r.returncode)
    for bad in ('', 'name.example:9100', '127.0.0.1:0', '70000', '127.0.0.1'):
        r = subprocess.run([WSFERRY, 'server', 'ws://127.0.0.1:%d' % sp, '--metrics', bad],
                           capture_output=True, text=True, timeout=10)
        check(r.returncode == 2 and '--metrics' in r.stderr, '--metrics %r: exit %d %r'
              % (bad, r.returncode, r.stderr))


def main(suite):
    suite.run('counters equal the traffic sent (bytes, tunnels, handshakes, auth, dial, DNS, '
              'listeners); strict parse and promtool', case_counters, timeout=90)
    suite.run('client --metrics: tunnels, bytes each way, handshakes, dial errors (refused, '
              'server down)', case_client_counters, timeout=90)
    suite.run('over wss:// (no-copy TLS relay) bytes count each way on both ends',
              case_wss_bytes, timeout=60)
    suite.run('promtool is installed (test/deps.sh)', case_promtool_present)
    suite.run('--workers 2: every scrape sums both workers', case_workers_sum, timeout=60)
    suite.run('/health 200 while serving, 503 while SIGTERM drains', case_health_drain)
    suite.run('haproxy (contrib/haproxy.cfg checks): a draining node goes DOWN on its 503, '
              'its tunnel finishes', case_haproxy_health)
    suite.run('listener: 404, 405, 400, 431, HEAD, silent clients timed out', case_http_edges)
    suite.run('public port: /metrics and /health get the stealth answer', case_public_port_stealth)
    suite.run('--metrics on the public port or malformed: exit 2', case_refused_configs)


if __name__ == '__main__':
    w.main_guard(w.Suite('metrics_test'), main)
