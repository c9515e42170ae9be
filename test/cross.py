#!/usr/bin/python3
"""cross.py ARCH... — the router builds (`make static ARCH=...`) under
qemu-user, each called as `qemu-ARCH-static build-static-ARCH/wsferry`
(binfmt_misc is not needed, nor assumed), against each other and against
the native static build (build-static/wsferry):
  - each binary: static, stripped, an ELF for its CPU, --version names the
    revision; its size against the native build's budget (STATIC_BUDGET_KIB,
    400): a failure for the native build, a NOTE for a router build (see
    the comment at the check);
  - every ordered pair (client build, server build) but native/native: a
    SOCKS5 CONNECT through the client's -D to an echo server, 512 KiB of
    random bytes each way compared by SHA-256, over ws:// and over wss://
    (--pin of the fingerprint the server printed, --key-file on both sides);
    each wss:// leg passes a relay here that reads the cipher suite from the
    server's ServerHello (TLS 1.2 sends it in the clear) and the suite is
    checked: ChaCha20-Poly1305 whenever either side is a router build
    (BearSSL has AES instructions only on x86 and POWER8), AES-128-GCM
    between two x86-64 builds; the table is printed;
  - `wsferry ping` under qemu against its own server and the native one
    (ws://), and the native ping against the router server (ws://, wss://).
    Not the router's ping over wss://: bin/ping_cmd.c's io_wait_stream polls
    for POLLIN when the handshake finished inside its first pump (the engine
    idle, tls_conn_interest says READ only) and never sends the upgrade; a
    slow (emulated) client hits that 5-20% of the time (issue noted, not
    fixed here);
  - `wsferry cert` under qemu: files written, key mode 0600, the fingerprint
    it prints is openssl's, and the native server serving that certificate
    is reached by that build's client with --pin.
Every server and client ends with exit 0 on SIGTERM. The last line is
exactly `N passed, N failed`.
"""

import os
import re
import shutil
import socket
import stat
import struct
import subprocess
import sys
import tempfile
import threading
import time

TOP = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(TOP, 'test', 'integration'))
import wsfutil as w  # noqa: E402
from wsfutil import check, CaseFail  # noqa: E402

QEMU = {'aarch64': 'qemu-aarch64-static', 'armhf': 'qemu-arm-static',
        'mipsel': 'qemu-mipsel-static'}
# what file(1) says of each build's ELF
ELF = {'native': 'x86-64', 'aarch64': 'ARM aarch64', 'armhf': 'ARM, EABI5',
       'mipsel': 'MIPS, MIPS32'}
BUDGET_KIB = int(os.environ.get('STATIC_BUDGET_KIB', '400'))
XFER = 512 * 1024
SUITES = {0xC02B: 'ECDHE-ECDSA-AES128-GCM-SHA256', 0xC02F: 'ECDHE-RSA-AES128-GCM-SHA256',
          0xC02C: 'ECDHE-ECDSA-AES256-GCM-SHA384', 0xC030: 'ECDHE-RSA-AES256-GCM-SHA384',
          0xCCA9: 'ECDHE-ECDSA-CHACHA20-POLY1305', 0xCCA8: 'ECDHE-RSA-CHACHA20-POLY1305'}
FP_RE = re.compile(r'fingerprint \(for --pin\): ([0-9a-f]{64})')


def binary(arch):
    return os.path.join(TOP, 'build-static' if arch == 'native' else 'build-static-' + arch,
                        'wsferry')


def argv(arch):
    """How to run arch's build: natively, or under its qemu-user."""
    return [binary(arch)] if arch == 'native' else [QEMU[arch], binary(arch)]


def run(arch, args, timeout=60, cwd=None):
    return subprocess.run(argv(arch) + args, capture_output=True, text=True,
                          timeout=timeout, cwd=cwd, stdin=subprocess.DEVNULL)


class SuiteRelay:
    """A TCP relay to a wss:// server that reads the cipher suite of the
    first ServerHello: TLS record 0x16, handshake 2, version, 32 random
    bytes, session id, then the suite (RFC 5246 §7.4.1.3)."""

    def __init__(self, target):
        self.target = target
        self.suite = None
        self.srv = w.TCPServer(self._handle)
        self.port = self.srv.port

    def _handle(self, c, srv):
        u = socket.create_connection(('127.0.0.1', self.target), 10)
        u.settimeout(120)
        t = threading.Thread(target=self._pipe, args=(c, u, False), daemon=True)
        t.start()
        self._pipe(u, c, True)
        t.join(120)
        u.close()

    def _pipe(self, src, dst, from_server):
        head = b''
        try:
            while True:
                d = src.recv(1 << 16)
                if not d:
                    break
                if from_server and self.suite is None and len(head) < 128:
                    head += d
                    self._parse(head)
                dst.sendall(d)
        except OSError:
            pass
        try:
            dst.shutdown(socket.SHUT_WR)
        except OSError:
            pass

    def _parse(self, b):
        if len(b) < 5 + 4 + 2 + 32 + 1 or b[0] != 0x16 or b[5] != 2:
            return
        sid = b[5 + 4 + 2 + 32]
        at = 5 + 4 + 2 + 32 + 1 + sid
        if len(b) >= at + 2:
            s = struct.unpack('>H', b[at:at + 2])[0]
            self.suite = SUITES.get(s, '0x%04x' % s)

    def close(self):
        self.srv.close()


def main():
    arches = [a for a in sys.argv[1:] if a != '-v'] or list(QEMU)
    for a in arches:
        if a not in QEMU:
            print('cross.py: unknown ARCH %s (one of %s)' % (a, ' '.join(QEMU)))
            sys.exit(2)
    builds = ['native'] + arches
    s = w.Suite('cross', argv=[a for a in sys.argv[1:] if a == '-v'],
                file_limit=300 + 240 * len(arches))
    tmp = tempfile.mkdtemp(prefix='wsf-cross-')
    key = os.path.join(tmp, 'key')
    want_rev = subprocess.run(['git', 'describe', '--always', '--dirty'], cwd=TOP,
                              capture_output=True, text=True).stdout.strip() or 'unknown'
    # Missing builds are made here (as static_scenario.sh does), their
    # failure shown; a missing qemu is named.
    missing = []
    for b in builds:
        if os.access(binary(b), os.X_OK):
            continue
        print('building %s (make static%s)' % (binary(b)[len(TOP) + 1:],
                                              '' if b == 'native' else ' ARCH=' + b), flush=True)
        r = subprocess.run(['make', '--no-print-directory', 'static'] +
                           ([] if b == 'native' else ['ARCH=' + b]), cwd=TOP,
                           capture_output=True, text=True)
        if r.returncode != 0 or not os.access(binary(b), os.X_OK):
            print('\n'.join((r.stdout + r.stderr).rstrip('\n').split('\n')[-20:]))
            missing.append('%s (make static%s failed)' % (b, '' if b == 'native' else ' ARCH=' + b))
    missing += ['%s (apt-get install qemu-user-static)' % QEMU[a] for a in arches
                if not shutil.which(QEMU[a])]
    if missing:
        print('FAIL missing: %s' % ', '.join(missing))
        print('0 passed, 1 failed')
        sys.exit(1)
    servers = {}   # build -> (ws port, wss port, fingerprint)
    suites = {}    # (client, server) -> suite
    echo = w.TCPServer(w.echo_handler)

    def body(s):
        with open(key, 'w') as f:
            f.write(run('native', ['keygen']).stdout)

        for b in builds:
            def case_binary(b=b):
                f = subprocess.run(['file', '-L', binary(b)], capture_output=True,
                                   text=True).stdout
                check('statically linked' in f and ', stripped' in f and ELF[b] in f,
                      'file says: %s' % f.strip())
                n = os.path.getsize(binary(b))
                over = n > BUDGET_KIB * 1024
                print('    %s: %d bytes (%.1f KiB), budget %d KiB%s'
                      % (binary(b)[len(TOP) + 1:], n, n / 1024, BUDGET_KIB,
                         ' EXCEEDED' if over else ''), flush=True)
                # The native build's budget fails here (and in static_scenario.sh).
                # A router build over it is reported, not counted: mipsel's
                # MIPS32 code was ~1.2x x86-64's and went over with the
                # features of December 2026; as MIPS16e it is under again
                # (bench/RESULTS-size.md); the fix if one goes over again (a
                # budget per ISA, features left out of router builds) is a
                # product decision.
                check(b != 'native' or not over, '%d bytes > %d KiB' % (n, BUDGET_KIB))
                if over:
                    print('NOTE %s: %d bytes, %.1f KiB over the %d KiB budget (reported, '
                          'not counted)' % (b, n, n / 1024 - BUDGET_KIB, BUDGET_KIB), flush=True)
                r = run(b, ['--version'])
                check(r.returncode == 0 and r.stdout.strip() == 'wsferry ' + want_rev,
                      '--version: %r (exit %d), want wsferry %s'
                      % (r.stdout.strip(), r.returncode, want_rev))
            s.run('%s: static %s ELF, stripped, size vs %d KiB, --version' % (b, ELF[b], BUDGET_KIB),
                  case_binary)

        # One server per build: ws:// and wss:// (self-signed at start), --ping.
        for b in builds:
            def case_server(b=b):
                p1, p2 = w.free_ports(2)
                p = w.Proc(argv(b) + ['server', 'ws://127.0.0.1:%d' % p1,
                                      'wss://127.0.0.1:%d' % p2, '--key-file', key, '--ping'],
                           'server-' + b)
                w.wait_port(p1, proc=p, timeout=30)
                w.wait_port(p2, proc=p, timeout=30)
                fp = None
                for _ in range(100):
                    m = FP_RE.search(p.stderr_text())
                    if m:
                        fp = m.group(1)
                        break
                    time.sleep(0.1)
                check(fp, 'no fingerprint printed:\n' + p.tail())
                servers[b] = (p1, p2, fp)
            s.run('%s: server on ws:// and wss:// (self-signed, --ping)' % b, case_server,
                  timeout=60)

        def transfer(cb, sb, tls):
            p1, p2, fp = servers[sb]
            relay = None
            if tls:
                relay = SuiteRelay(p2)
                url = ['wss://127.0.0.1:%d' % relay.port, '--pin', fp]
            else:
                url = ['ws://127.0.0.1:%d' % p1]
            lp = w.free_port()
            c = w.Proc(argv(cb) + ['client'] + url + ['--key-file', key, '-q',
                                                      '-D', '127.0.0.1:%d' % lp],
                       'client-%s-%s' % (cb, sb))
            try:
                w.wait_port(lp, proc=c, timeout=30)
                sock = w.socks_connect(lp, '127.0.0.1', echo.port, timeout=60)
                sock.settimeout(60)
                sent = {}

                def send():
                    sent['h'] = w.send_random(sock, XFER)
                    sock.shutdown(socket.SHUT_WR)
                t = threading.Thread(target=send, daemon=True)
                t.start()
                n, h = w.recv_hash(sock)
                t.join(60)
                sock.close()
                check(n == XFER and h == sent.get('h'),
                      'echoed %d of %d bytes, %s' % (n, XFER, 'same SHA-256' if h == sent.get('h')
                                                     else 'different SHA-256'))
                if tls:
                    suites[(cb, sb)] = relay.suite
                    aes = cb == 'native' and sb == 'native'
                    want = 'AES128-GCM' if aes else 'CHACHA20-POLY1305'
                    check(relay.suite and want in relay.suite,
                          'negotiated %s, want %s' % (relay.suite, want))
            finally:
                rc = c.stop(grace=10)
                c.problems_checked = True
                if relay:
                    relay.close()
            check(rc == 0, 'client ended with %s on SIGTERM:\n%s' % (rc, c.tail()))

        for sb in builds:
            for cb in builds:
                if cb == 'native' and sb == 'native':
                    continue
                for tls in (False, True):
                    s.run('SOCKS5 %d KiB each way, client %s -> server %s over %s'
                          % (XFER // 1024, cb, sb, 'wss://' if tls else 'ws://'),
                          transfer, cb, sb, tls, timeout=120)

        def ping(cb, sb, tls):
            p1, p2, fp = servers[sb]
            url = 'wss://127.0.0.1:%d/ws' % p2 if tls else 'ws://127.0.0.1:%d/ws' % p1
            r = run(cb, ['ping', url] + (['--insecure'] if tls else []))
            check(r.returncode == 0 and '"type":"pong","status":"ok"' in r.stdout,
                  'exit %d: %s %s' % (r.returncode, r.stdout.strip(), r.stderr.strip()))
        for a in arches:
            for cb, sb, tls in ((a, a, False), (a, 'native', False), ('native', a, False),
                                ('native', a, True)):
                s.run('wsferry ping: %s -> server %s over %s' % (cb, sb, 'wss://' if tls else 'ws://'),
                      ping, cb, sb, tls)

        def cert(a):
            d = os.path.join(tmp, 'cert-' + a)
            os.mkdir(d)
            r = run(a, ['cert', '--name', 'router.example', '--out-cert', 'c.pem',
                        '--out-key', 'k.pem'], cwd=d)
            check(r.returncode == 0, 'exit %d: %s' % (r.returncode, r.stderr.strip()))
            m = FP_RE.search(r.stdout)
            check(m, 'no fingerprint line in: %s' % r.stdout.strip())
            mode = stat.S_IMODE(os.stat(os.path.join(d, 'k.pem')).st_mode)
            check(mode == 0o600, 'key mode %o' % mode)
            o = subprocess.run(['openssl', 'x509', '-in', os.path.join(d, 'c.pem'), '-noout',
                                '-fingerprint', '-sha256', '-ext', 'subjectAltName'],
                               capture_output=True, text=True)
            ofp = o.stdout.split('=', 1)[1].split('\n')[0].replace(':', '').lower() \
                if '=' in o.stdout else ''
            check(o.returncode == 0 and ofp == m.group(1),
                  'openssl: %s %s; printed %s' % (o.stdout.strip(), o.stderr.strip(), m.group(1)))
            check('DNS:router.example' in o.stdout, 'subjectAltName: %s' % o.stdout.strip())
            # served by the native build, reached by this build's client with --pin
            p2 = w.free_port()
            srv = w.Proc(argv('native') + ['server', 'wss://127.0.0.1:%d' % p2, '-q', '--cert',
                                           os.path.join(d, 'c.pem'), '--cert-key',
                                           os.path.join(d, 'k.pem'), '--key-file', key],
                         'server-cert-' + a)
            w.wait_port(p2, proc=srv)
            servers['cert-' + a] = (None, p2, m.group(1))
            lp = w.free_port()
            c = w.Proc(argv(a) + ['client', 'wss://127.0.0.1:%d' % p2, '--pin', m.group(1),
                                  '--key-file', key, '-q', '-L',
                                  '127.0.0.1:%d:127.0.0.1:%d' % (lp, echo.port)],
                       'client-cert-' + a)
            w.wait_port(lp, proc=c, timeout=30)
            sock = w.connect(lp, timeout=30)
            sock.sendall(b'router cert\n')
            sock.shutdown(socket.SHUT_WR)
            got = w.recv_until_eof(sock)
            sock.close()
            check(got == b'router cert\n', 'echoed %r' % got)
        for a in arches:
            s.run('wsferry cert under qemu (%s): 0600 key, openssl\'s fingerprint, served by '
                  'native, pinned by %s client' % (a, a), cert, a, timeout=120)

        s.check_processes('every server and client exits 0 on SIGTERM')
        if suites:
            print('    negotiated suite (client -> server over wss://):', flush=True)
            for (cb, sb), su in sorted(suites.items()):
                print('      %-7s -> %-7s %s' % (cb, sb, su), flush=True)

    try:
        w.main_guard(s, body)
    finally:
        echo.close()
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == '__main__':
    main()
