#!/usr/bin/python3
"""Failures, as a user of the proxy sees them: a refused port, an unknown
host and a dial that times out each give the right SOCKS5 REP byte (read raw)
and the right HTTP status from the HTTP proxy (502 / 502 / 504, short body);
SOCKS5 commands other than CONNECT (0x07) and bad address types (0x08); the
server's stealth default (a plain request or a random path gets zero bytes);
malformed URLs and tunnel specs (exit 2, one line naming the problem).

Interface (test/run.sh): binary from env WSFERRY (default ./build/wsferry);
everything is started here on free 127.0.0.1 ports and ended by PID; one line
per failed case; last line exactly `N passed, N failed`; exit 1 on failure.
`-v` also prints passing cases; other arguments filter case names.
"""

import os
import socket
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import wsfutil as w  # noqa: E402
from wsfutil import check, CaseFail, CaseSkip  # noqa: E402

DIAL_TIMEOUT = 10.0  # the server's default connect timeout (SPEC / brief)


def socks_rep(dp, host, port, timeout=w.T):
    s, rep = w.socks_open(dp, host, port, timeout=timeout)
    try:
        if rep != 0:
            s.settimeout(3)
            try:
                tail = w.recv_until_eof(s, what='close after a failure reply')
            except CaseFail as e:
                raise CaseFail('REP 0x%02x but then: %s' % (rep, e))
            check(tail == b'', 'bytes after a failure reply: %r' % tail[:40])
    finally:
        s.close()
    return rep


def http_error(dp, method, host, port, timeout=w.T):
    """Status, body and headers of a plain GET or a CONNECT to host:port."""
    s = w.connect(dp, timeout=timeout)
    try:
        hp = '[%s]:%d' % (host, port) if ':' in host else '%s:%d' % (host, port)
        if method == 'CONNECT':
            s.sendall(('CONNECT %s HTTP/1.1\r\nHost: %s\r\n\r\n' % (hp, hp)).encode())
        else:
            s.sendall(('GET http://%s/x HTTP/1.1\r\nHost: %s\r\n\r\n' % (hp, hp)).encode())
        st, hd, body, head, rest = w.read_http_response(s, 'GET',
                                                        '%s error response' % method)
        return st, hd, body
    finally:
        s.close()


def check_http_error(dp, method, host, port, want, timeout=w.T):
    st, hd, body = http_error(dp, method, host, port, timeout)
    check(st == want, '%s %s:%d answered %d, expected %d (body %r)'
          % (method, host, port, st, want, body[:80]))
    check(0 < len(body) <= 512, '%s %d: body should be a short reason, got %d bytes %r'
          % (method, st, len(body), body[:80]))
    check(b'wsferry' not in body.lower(), 'error body names the product: %r' % body)


def main(suite):
    sp, dp = w.free_ports(2)
    w.start_server(sp)
    w.start_client('ws://127.0.0.1:%d' % sp, ['-D', str(dp)], wait_ports=[dp])
    echo = w.TCPServer(w.echo_handler)
    run = suite.run
    refused = w.refused_port()

    # ---- refused ----
    run('refused port: SOCKS5 REP 0x05 (IPv4 literal)',
        lambda: check((lambda r: r == 5)(socks_rep(dp, '127.0.0.1', refused)),
                      'REP 0x%02x, expected 0x05' % socks_rep(dp, '127.0.0.1', refused)))

    def refused_name():
        rep = socks_rep(dp, 'localhost', refused)
        check(rep == 5, 'localhost:%d (nothing on ::1 nor 127.0.0.1) REP 0x%02x, expected 0x05'
              % (refused, rep))
    run('refused port by name (localhost): SOCKS5 REP 0x05', refused_name)
    run('refused port: HTTP plain GET 502 with a short body',
        check_http_error, dp, 'GET', '127.0.0.1', refused, 502)
    run('refused port: HTTP CONNECT 502 with a short body',
        check_http_error, dp, 'CONNECT', '127.0.0.1', refused, 502)

    def refused_curl():
        r = w.curl(['-x', 'http://127.0.0.1:%d' % dp, '-o', '/dev/null', '-w', '%{http_code}',
                    'http://127.0.0.1:%d/' % refused])
        check(r.stdout == b'502', 'curl -x saw status %r, expected 502' % r.stdout)
        r = w.curl(['--socks5', '127.0.0.1:%d' % dp, 'http://127.0.0.1:%d/' % refused])
        check(r.returncode == 97 or b'refused' in r.stderr.lower(),
              'curl --socks5 to a refused port: exit %d %r' % (r.returncode, r.stderr))
    run('refused port seen by curl (502 via -x, SOCKS failure via --socks5)', refused_curl)

    # ---- unknown host ----
    def unknown_socks():
        rep = socks_rep(dp, 'nonexistent.invalid', 80)
        check(rep == 4, 'nonexistent.invalid REP 0x%02x, expected 0x04' % rep)
    run('unknown host nonexistent.invalid: SOCKS5 REP 0x04', unknown_socks)
    run('unknown host: HTTP plain GET 502 with a short body',
        check_http_error, dp, 'GET', 'nonexistent.invalid', 80, 502)
    run('unknown host: HTTP CONNECT 502 with a short body',
        check_http_error, dp, 'CONNECT', 'nonexistent.invalid', 443, 502)

    # ---- timeout (all three at once: the server's 10 s dial timeout) ----
    def timeouts():
        try:
            port, keep = w.stalled_listener()
        except CaseSkip:
            raise
        results = {}

        def one(key, fn):
            try:
                results[key] = ('ok', fn())
            except Exception as e:
                results[key] = ('err', '%s: %s' % (type(e).__name__, e))
        t0 = time.monotonic()
        bound = DIAL_TIMEOUT + 10
        ths = [threading.Thread(target=one, args=('socks', lambda: socks_rep(dp, '127.0.0.1', port, bound))),
               threading.Thread(target=one, args=('get', lambda: http_error(dp, 'GET', '127.0.0.1', port, bound))),
               threading.Thread(target=one, args=('connect', lambda: http_error(dp, 'CONNECT', '127.0.0.1', port, bound)))]
        for t in ths:
            t.daemon = True
            t.start()
        for t in ths:
            t.join(bound + 2)
        took = time.monotonic() - t0
        for k in keep:
            k.close()
        probs = []
        r = results.get('socks')
        if not r or r[0] != 'ok':
            probs.append('SOCKS5: %s' % (r[1] if r else 'no answer'))
        elif r[1] != 6:
            probs.append('SOCKS5 REP 0x%02x, expected 0x06' % r[1])
        for k in ('get', 'connect'):
            r = results.get(k)
            if not r or r[0] != 'ok':
                probs.append('HTTP %s: %s' % (k.upper(), r[1] if r else 'no answer'))
                continue
            st, hd, body = r[1]
            if st != 504:
                probs.append('HTTP %s answered %d, expected 504 (%r)' % (k.upper(), st, body[:60]))
            elif not 0 < len(body) <= 512:
                probs.append('HTTP %s 504 body of %d bytes' % (k.upper(), len(body)))
        check(not probs, '; '.join(probs) + ' (after %.1f s)' % took)
    run('dial timeout (full accept queue): SOCKS5 REP 0x06, HTTP GET and CONNECT 504',
        timeouts, timeout=DIAL_TIMEOUT + 20)

    # ---- SOCKS5 protocol errors ----
    def socks_cmd(cmd):
        s = w.connect(dp)
        try:
            s.sendall(b'\x05\x01\x00')
            check(w.recv_exact(s, 2, 'method selection') == b'\x05\x00', 'method selection')
            s.sendall(w.socks_request('127.0.0.1', echo.port, cmd=cmd))
            rep = w.read_socks_reply(s)[0]
            check(rep == 7, 'CMD 0x%02x answered REP 0x%02x, expected 0x07' % (cmd, rep))
            s.settimeout(3)
            check(w.recv_until_eof(s) == b'', 'bytes after the 0x07 reply')
        finally:
            s.close()
    run('SOCKS5 BIND (0x02) answered REP 0x07', socks_cmd, 2)
    # UDP ASSOCIATE (0x03) is served: test/integration/udp_test.py.
    run('SOCKS5 unknown command 0x09 answered REP 0x07', socks_cmd, 9)

    def socks_atyp(atyp):
        s = w.connect(dp)
        try:
            s.sendall(b'\x05\x01\x00')
            check(w.recv_exact(s, 2, 'method selection') == b'\x05\x00', 'method selection')
            s.sendall(b'\x05\x01\x00' + bytes([atyp]) + b'\x7f\x00\x00\x01\x00\x50')
            rep = w.read_socks_reply(s)[0]
            check(rep == 8, 'ATYP 0x%02x answered REP 0x%02x, expected 0x08' % (atyp, rep))
            s.settimeout(3)
            check(w.recv_until_eof(s) == b'', 'bytes after the 0x08 reply')
        finally:
            s.close()
    run('SOCKS5 ATYP 0x02 answered REP 0x08', socks_atyp, 2)
    run('SOCKS5 ATYP 0x05 answered REP 0x08', socks_atyp, 5)

    def socks_no_method():
        s = w.connect(dp)
        try:
            s.sendall(b'\x05\x01\x80')  # a private method only
            check(w.recv_exact(s, 2, 'method selection') == b'\x05\xff',
                  'an unacceptable method offer must get 05 ff')
            s.settimeout(3)
            check(w.recv_until_eof(s) == b'', 'bytes after 05 ff')
        finally:
            s.close()
    run('SOCKS5 greeting without an acceptable method: 05 ff and close', socks_no_method)

    def proxy_still_works():
        s = w.socks_connect(dp, '127.0.0.1', echo.port)
        s.sendall(b'still alive')
        check(w.recv_exact(s, 11, 'echo') == b'still alive', 'echo differs')
        s.close()
    run('the proxy still works after all the failures', proxy_still_works)

    def odd_domains():
        cases = [('a' * 255, 'a 255-byte name'), ('a' * 64 + '.test', 'a 64-byte label'),
                 ('bad..name', 'an empty label'), ('x/y', 'a slash'), ('x\x00y', 'a NUL byte'),
                 ('[::1]', 'a bracketed IPv6 as a name'), ('1.2.3.4.5', 'five numbers')]
        for name, what in cases:
            s = w.connect(dp)
            try:
                s.sendall(b'\x05\x01\x00')
                check(w.recv_exact(s, 2, 'method selection') == b'\x05\x00', 'method selection')
                h = name.encode('latin-1')
                s.sendall(b'\x05\x01\x00\x03' + bytes([len(h)]) + h + b'\x00\x50')
                s.settimeout(15)
                rep = w.read_socks_reply(s)[0]
                check(rep != 0, 'a domain with %s was "connected"' % what)
            finally:
                s.close()
        s = w.socks_connect(dp, '127.0.0.1', echo.port)
        s.close()
    run('SOCKS5 domains that cannot resolve (255 bytes, empty label, NUL, slash...) fail '
        'cleanly', odd_domains, timeout=60)

    def slowloris():
        hp = w.free_port()
        p = w.start_server(hp, ['--handshake-timeout', '1'], name='server-handshake-1s')
        s = w.connect(hp)
        try:
            s.sendall(b'GET / HTTP/1.1\r\nHost: x\r\n')  # never finished
            s.settimeout(6)
            t0 = time.monotonic()
            try:
                got = w.recv_until_eof(s, what='the drop of an unfinished head')
            except CaseFail as e:
                raise CaseFail('--handshake-timeout 1: %s' % e)
            took = time.monotonic() - t0
            check(got == b'', 'an unfinished head got %r' % got[:60])
            check(0.5 < took < 4, 'dropped after %.1f s with --handshake-timeout 1' % took)
            # trickling bytes does not extend the deadline
            s2 = w.connect(hp)
            s2.settimeout(6)
            t0 = time.monotonic()
            closed = None
            for i in range(40):
                try:
                    s2.sendall(b'X')
                except OSError:
                    closed = time.monotonic() - t0
                    break
                time.sleep(0.1)
            s2.close()
            check(closed is not None and closed < 4,
                  'a head trickled a byte every 100 ms was not dropped within 4 s')
        finally:
            s.close()
            p.stop()
    run('--handshake-timeout 1: an unfinished head is dropped without a byte, trickling does '
        'not help', slowloris, timeout=30)

    # ---- stealth ----
    def stealth_curl(path):
        r = w.curl(['-i', 'http://127.0.0.1:%d%s' % (sp, path)], timeout=10)
        check(r.stdout == b'', 'curl %s got %d bytes: %r' % (path, len(r.stdout), r.stdout[:80]))
        check(r.returncode == 52, 'curl %s exit %d (%s), expected 52 (empty reply)'
              % (path, r.returncode, r.stderr.decode().strip()))
    run('stealth: curl http://server/ gets an empty reply', stealth_curl, '/')
    run('stealth: curl of a random path gets an empty reply', stealth_curl,
        '/%s?a=1' % os.urandom(6).hex())

    def stealth_raw(data, what):
        s = w.connect(sp)
        try:
            s.sendall(data)
            s.settimeout(12)
            try:
                got = w.recv_until_eof(s, what='the close')
            except CaseFail as e:
                raise CaseFail('%s: %s' % (what, e))
            check(got == b'', '%s got %d bytes back: %r' % (what, len(got), got[:80]))
        finally:
            s.close()
    run('stealth: a WebSocket upgrade without a tunnel cookie gets zero bytes', stealth_raw,
        b'GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n'
        b'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n',
        'upgrade without cookie')
    run('stealth: a garbage cookie gets zero bytes', stealth_raw,
        b'GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n'
        b'Cookie: sid=AAAAAAAAAAAAAAAA\r\n'
        b'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n',
        'garbage cookie')
    run('stealth: non-HTTP bytes get zero bytes', stealth_raw, b'\x16\x03\x01\x00\x05hello\r\n\r\n',
        'binary junk')
    run('stealth: a bare HEAD gets zero bytes', stealth_raw, b'HEAD / HTTP/1.0\r\n\r\n', 'HEAD')

    # ---- usage errors ----
    def usage(args, names):
        t0 = time.monotonic()
        try:
            r = subprocess.run([w.WSFERRY] + args, stdin=subprocess.DEVNULL,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=5)
        except subprocess.TimeoutExpired:
            raise CaseFail('wsferry %s kept running (started half-configured?)' % ' '.join(args))
        err = r.stderr.decode(errors='replace')
        lines = [l for l in err.split('\n') if l.strip()
                 and not any(m in l for m in w.SAN_MARKERS) and not l.startswith('=')]
        check(r.returncode == 2, 'wsferry %s: exit %d, expected 2 (stderr %r)'
              % (' '.join(args), r.returncode, err[:200]))
        check(lines, 'wsferry %s: no message on stderr' % ' '.join(args))
        check(len(lines) <= 2 and (len(lines) == 1 or '--help' in lines[1]),
              'wsferry %s: expected one line (plus a pointer to --help), got %r'
              % (' '.join(args), lines))
        check(any(n in lines[0] for n in names),
              'wsferry %s: the message %r names none of %r' % (' '.join(args), lines[0], names))
        check(not any(m in err for m in w.SAN_MARKERS), 'sanitizer report: %r' % err[:300])
        check(time.monotonic() - t0 < 5, 'took too long')

    ok_server = 'ws://127.0.0.1:1'
    bad_urls = [
        ('ws://', ['ws://']),
        ('ws://127.0.0.1:99999', ['99999', 'port']),
        ('ws://127.0.0.1:8o80', ['8o80', 'port']),
        ('ws://127.0.0.1:', ['ws://127.0.0.1:', 'port']),
        ('ws://[::1:8080', ['[::1:8080', 'IPv6', ']']),
        ('ws://exa mple.com:80', ['exa mple', 'host']),
    ]
    for u, names in bad_urls:
        run('usage: client %r exits 2 naming the problem' % u, usage,
            ['client', u, '-D', str(w.free_port())], names)
        run('usage: server %r exits 2 naming the problem' % u, usage, ['server', u], names)

    def http_hint():
        usage(['client', 'http://127.0.0.1:8080', '-D', str(w.free_port())], ['http://'])
        r = subprocess.run([w.WSFERRY, 'client', 'http://127.0.0.1:8080'], stdin=subprocess.DEVNULL,
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=5)
        check(b'did you mean ws://' in r.stderr, 'no "did you mean ws://" hint: %r' % r.stderr[:200])
    run('usage: an http:// server URL is refused with "did you mean ws://"', http_hint)

    bad_fwds = [
        (['-L', '1234'], 'only a port'),
        (['-L', '1234:127.0.0.1'], 'no destination port'),
        (['-L', 'abc:127.0.0.1:80'], 'non-numeric port'),
        (['-L', '1234:127.0.0.1:0'], 'destination port 0'),
        (['-L', '1234:127.0.0.1:70000'], 'destination port out of range'),
        (['-L', '70000:127.0.0.1:80'], 'listen port out of range'),
        (['-L', '1:2:3:4:5'], 'too many parts'),
        (['-L', '1234::80'], 'empty host'),
        (['-D', 'abc'], '-D not a port'),
        (['-D', '0'], '-D port 0'),
    ]
    for args, why in bad_fwds:
        run('usage: %s %r (%s) exits 2 naming the problem' % (args[0], args[1], why), usage,
            ['client', ok_server] + args,
            [args[1], args[0], {'-L': '--local', '-D': '--dynamic'}[args[0]]])

    def runtime_failures():
        busy = socket.socket()
        busy.bind(('127.0.0.1', 0))
        busy.listen(1)
        bp = busy.getsockname()[1]
        try:
            for args, names, what in (
                    (['client', 'ws://127.0.0.1:1', '-D', str(bp)], [str(bp)], '-D on a bound port'),
                    (['client', 'ws://127.0.0.1:1', '-L', '%d:127.0.0.1:1' % bp], [str(bp)],
                     '-L on a bound port'),
                    (['server', 'ws://127.0.0.1:%d' % bp], [str(bp)], 'server on a bound port'),
                    (['client', 'ws://nonexistent.invalid:80', '-D', str(w.free_port())],
                     ['nonexistent.invalid'], 'an unresolvable server host')):
                try:
                    r = subprocess.run([w.WSFERRY] + args, stdin=subprocess.DEVNULL,
                                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=15)
                except subprocess.TimeoutExpired:
                    raise CaseFail('%s: wsferry kept running' % what)
                err = r.stderr.decode(errors='replace')
                check(r.returncode == 1, '%s: exit %d, expected 1 (%r)' % (what, r.returncode,
                                                                          err[-200:]))
                check(any(n in err for n in names), '%s: the message does not name %s: %r'
                      % (what, names, err[-200:]))
        finally:
            busy.close()
    run('runtime failures (port in use, unresolvable server) exit 1 naming the problem',
        runtime_failures, timeout=40)

    def missing_value():
        usage(['client', ok_server, '-L'], ['-L', '--local'])
    run('usage: -L without a value exits 2', missing_value)

    suite.check_processes()
    echo.close()


if __name__ == '__main__':
    w.main_guard(w.Suite('errors_test'), main)
