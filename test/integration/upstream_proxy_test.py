#!/usr/bin/python3
"""`wsferry client --proxy http://[user:pass@]HOST:PORT`: the client reaches
its server through an HTTP CONNECT proxy. Against Debian's tinyproxy (open,
and with BasicAuth) and against a small recording CONNECT proxy written here
(to see exactly what the client sends: the CONNECT target, Basic
Proxy-Authorization); integrity and half-close through the extra hop; a
proxy that refuses (407) or is down gives SOCKS 0x01 / HTTP 502 and a log
line, and the client keeps running; bad --proxy values exit 2.

Interface (test/run.sh): binary from env WSFERRY (default ./build/wsferry);
everything is started here on free 127.0.0.1 ports and ended by PID; one line
per failed case; last line exactly `N passed, N failed`; exit 1 on failure.
`-v` also prints passing cases; other arguments filter case names.
"""

import base64
import os
import select
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import wsfutil as w  # noqa: E402
from wsfutil import check, CaseFail  # noqa: E402

TP_USER, TP_PASS = 'bob', 'hunter2'


class ConnectProxy:
    """A minimal HTTP CONNECT proxy that records each request head. With
    creds set, answers 407 unless Basic creds match."""

    def __init__(self, creds=None):
        self.creds = creds
        self.heads = []
        self.lock = threading.Lock()
        self.srv = w.TCPServer(self._handle)
        self.port = self.srv.port

    def _handle(self, c, srv):
        buf = b''
        for _ in range(1000):
            if b'\r\n\r\n' in buf:
                break
            d = c.recv(4096)
            if not d:
                return
            buf += d
        head, _, rest = buf.partition(b'\r\n\r\n')
        lines = head.decode('latin-1').split('\r\n')
        with self.lock:
            self.heads.append(lines)
        parts = lines[0].split()
        if len(parts) != 3 or parts[0] != 'CONNECT':
            c.sendall(b'HTTP/1.1 405 Method Not Allowed\r\nContent-Length: 0\r\n\r\n')
            return
        if self.creds:
            want = 'basic ' + base64.b64encode(self.creds.encode()).decode()
            got = [l.split(':', 1)[1].strip() for l in lines[1:]
                   if l.lower().startswith('proxy-authorization:')]
            if not got or got[0].lower() != want.lower() and got[0] != 'Basic ' + want[6:]:
                c.sendall(b'HTTP/1.1 407 Proxy Authentication Required\r\n'
                          b'Proxy-Authenticate: Basic realm="t"\r\nContent-Length: 0\r\n\r\n')
                return
        host, _, port = parts[1].rpartition(':')
        try:
            up = socket.create_connection((host.strip('[]'), int(port)), timeout=5)
        except OSError:
            c.sendall(b'HTTP/1.1 502 Bad Gateway\r\nContent-Length: 0\r\n\r\n')
            return
        c.sendall(b'HTTP/1.1 200 Connection established\r\n\r\n')
        if rest:
            up.sendall(rest)
        self._pipe(c, up)

    @staticmethod
    def _pipe(a, b):
        a.setblocking(True)
        b.setblocking(True)
        open_ = {a: b, b: a}
        deadline = time.monotonic() + 120
        for _ in range(10 ** 7):
            if not open_ or time.monotonic() > deadline:
                break
            r, _, _ = select.select(list(open_), [], [], 1.0)
            for s in r:
                try:
                    d = s.recv(1 << 16)
                except OSError:
                    d = b''
                dst = open_[s]
                if d:
                    dst.sendall(d)
                else:
                    try:
                        dst.shutdown(socket.SHUT_WR)
                    except OSError:
                        pass
                    del open_[s]
        b.close()

    def close(self):
        self.srv.close()


class Tinyproxy:
    def __init__(self, basic_auth=None):
        exe = w.require_peer('tinyproxy', 'tinyproxy', '/usr/bin/tinyproxy')
        self.dir = tempfile.mkdtemp(prefix='wsf-tinyproxy-')
        self.port = w.free_port()
        conf = ['Port %d' % self.port, 'Listen 127.0.0.1', 'Timeout 60', 'LogLevel Connect',
                'MaxClients 300', 'Allow 127.0.0.1']
        if os.geteuid() == 0:
            import pwd
            user = 'tinyproxy'
            try:
                pwd.getpwnam(user)
            except KeyError:
                user = 'nobody'
            conf[:0] = ['User %s' % user, 'Group %s' % ('tinyproxy' if user == 'tinyproxy' else 'nogroup')]
        if basic_auth:
            conf.append('BasicAuth %s %s' % basic_auth)
        path = os.path.join(self.dir, 'tinyproxy.conf')
        with open(path, 'w') as f:
            f.write('\n'.join(conf) + '\n')
        os.chmod(self.dir, 0o755)
        os.chmod(path, 0o644)
        self.proc = w.Proc([exe, '-d', '-c', path], 'tinyproxy', wsferry=False)
        w.wait_port(self.port, proc=self.proc)

    def log(self):
        return self.proc.stderr_text()

    def close(self):
        self.proc.stop()
        shutil.rmtree(self.dir, ignore_errors=True)


def hello(path):
    return ('origin says hello: GET %s\n' % path).encode()


def main(suite):
    origin = w.HTTPOrigin('127.0.0.1')
    echo = w.TCPServer(w.echo_handler)
    sink = w.TCPServer(w.sink_handler)
    sp = w.free_port()
    w.start_server(sp)
    url = 'ws://127.0.0.1:%d' % sp
    run = suite.run
    state = {}

    # ---- recording proxy ----
    rec = ConnectProxy()
    rec_auth = ConnectProxy(creds='carol:pa ss')
    d_rec, d_rec_auth = w.free_ports(2)

    def start_rec():
        state['c_rec'] = w.start_client(url, ['-D', str(d_rec), '--proxy',
                                              'http://127.0.0.1:%d' % rec.port],
                                        wait_ports=[d_rec], name='client-via-rec')
    run('--proxy http://HOST:PORT is accepted and the client starts', start_rec, always=True)

    def rec_end_to_end():
        if 'c_rec' not in state:
            raise CaseFail('client did not start')
        body = w.curl_ok(['--socks5-hostname', '127.0.0.1:%d' % d_rec, origin.url('/via-proxy')])
        check(body == hello('/via-proxy'), 'body %r' % body[:60])
        check(rec.heads, 'the upstream proxy saw no request: the client went around it')
        first = rec.heads[-1][0]
        check(first == 'CONNECT 127.0.0.1:%d HTTP/1.1' % sp,
              'the proxy got %r, expected CONNECT 127.0.0.1:%d HTTP/1.1' % (first, sp))
        hosts = [l for l in rec.heads[-1][1:] if l.lower().startswith('host:')]
        check(hosts and hosts[0].split(':', 1)[1].strip() == '127.0.0.1:%d' % sp,
              'Host header of the CONNECT: %r' % hosts)
    run('--proxy: tunnels go through the proxy as CONNECT server-host:port',
        rec_end_to_end)

    def rec_integrity():
        if 'c_rec' not in state:
            raise CaseFail('client did not start')
        s = w.socks_connect(d_rec, '127.0.0.1', sink.port, timeout=30)
        try:
            digest = w.send_random(s, 16 << 20)
            s.shutdown(socket.SHUT_WR)
            r = sink.result(30, 'sink verdict')
            check(r[1] == 16 << 20 and r[2] == digest, 'sink got %d bytes' % r[1])
            reply = w.recv_until_eof(s, what='reply after our FIN')
            check(reply == ('%d %s\n' % (16 << 20, digest)).encode(), 'reply %r' % reply[:60])
        finally:
            s.close()
    run('--proxy: 16 MiB intact and half-close through the extra hop', rec_integrity, timeout=40)

    def rec_auth_case():
        c = w.start_client(url, ['-D', str(d_rec_auth), '--proxy',
                                 'http://carol:pa%%20ss@127.0.0.1:%d' % rec_auth.port],
                           wait_ports=[d_rec_auth], name='client-via-rec-auth')
        s, rep = w.socks_open(d_rec_auth, '127.0.0.1', echo.port, timeout=10)
        s.close()
        check(rec_auth.heads, 'the upstream proxy saw no request')
        auth = [l for l in rec_auth.heads[-1] if l.lower().startswith('proxy-authorization:')]
        check(auth, 'no Proxy-Authorization sent to the proxy')
        want = base64.b64encode(b'carol:pa ss').decode()
        sent = auth[0].split(':', 1)[1].strip()
        if sent != 'Basic ' + want:
            try:
                decoded = base64.b64decode(sent.split()[-1]).decode('latin-1')
            except Exception:
                decoded = '?'
            raise CaseFail('Proxy-Authorization %r (%r), expected Basic %s (%r: the userinfo of '
                           'the --proxy URL percent-decoded)' % (sent, decoded, want, 'carol:pa ss'))
        check(rep == 0, 'SOCKS reply 0x%02x through the authenticating proxy' % rep)
        body = w.curl_ok(['--socks5-hostname', '127.0.0.1:%d' % d_rec_auth, origin.url('/auth')])
        check(body == hello('/auth'), 'body %r' % body[:60])
        c.stop()
    run('--proxy http://user:pass@...: Basic Proxy-Authorization (percent-decoded) is sent',
        rec_auth_case)

    def refused_by_proxy():
        dp = w.free_port()
        c = w.start_client(url, ['-D', str(dp), '--proxy',
                                 'http://carol:wrong@127.0.0.1:%d' % rec_auth.port],
                           wait_ports=[dp], name='client-wrong-proxy-pass')
        s, rep = w.socks_open(dp, '127.0.0.1', echo.port, timeout=10)
        s.close()
        check(rep == 1, 'SOCKS reply 0x%02x with the proxy refusing, expected 0x01' % rep)
        st = w.curl(['-x', 'http://127.0.0.1:%d' % dp, '-o', '/dev/null', '-w', '%{http_code}',
                     origin.url('/x')]).stdout
        check(st == b'502', 'HTTP proxy status %r with the upstream refusing, expected 502' % st)
        time.sleep(0.2)
        log = c.stderr_text()
        check('407' in log or 'proxy' in log.lower(),
              'the log does not name the proxy refusal:\n' + c.tail())
        check(c.alive(), 'client exited:\n' + c.tail())
        c.stop()
    run('--proxy answering 407: SOCKS 0x01 / HTTP 502, the log says so, client keeps running',
        refused_by_proxy)

    def proxy_down():
        dp = w.free_port()
        dead = w.refused_port()
        c = w.start_client(url, ['-D', str(dp), '--proxy', 'http://127.0.0.1:%d' % dead],
                           wait_ports=[dp], name='client-proxy-down')
        t0 = time.monotonic()
        s, rep = w.socks_open(dp, '127.0.0.1', echo.port, timeout=10)
        s.close()
        check(rep == 1, 'SOCKS reply 0x%02x with the proxy down, expected 0x01' % rep)
        check(time.monotonic() - t0 < 5, 'took %.1f s' % (time.monotonic() - t0))
        check(c.alive(), 'client exited:\n' + c.tail())
        c.stop()
    run('--proxy down: SOCKS 0x01 promptly, client keeps running', proxy_down)

    def bad_values():
        for val in ('socks5://127.0.0.1:1080', 'https://127.0.0.1:3128', 'http://',
                    'http://127.0.0.1:99999', 'http://127.0.0.1:3128/path'):
            try:
                r = subprocess.run([w.WSFERRY, 'client', url, '--proxy', val],
                                   stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                   stderr=subprocess.PIPE, timeout=3)
            except subprocess.TimeoutExpired:
                raise CaseFail('--proxy %r accepted: the client kept running' % val)
            err = r.stderr.decode(errors='replace').strip().split('\n')
            check(r.returncode == 2, '--proxy %r: exit %d (%r)' % (val, r.returncode, err[:1]))
            check('--proxy' in err[0], '--proxy %r: message %r does not name --proxy' % (val, err[0]))
    run('--proxy with a bad value exits 2 naming --proxy', bad_values)

    # ---- tinyproxy ----
    def tinyproxy_open():
        tp = Tinyproxy()
        try:
            dp = w.free_port()
            c = w.start_client(url, ['-D', str(dp), '--proxy', 'http://127.0.0.1:%d' % tp.port],
                               wait_ports=[dp], name='client-via-tinyproxy')
            body = w.curl_ok(['--socks5-hostname', '127.0.0.1:%d' % dp, origin.url('/tp')])
            check(body == hello('/tp'), 'body %r' % body[:60])
            body = w.curl_ok(['-x', 'http://127.0.0.1:%d' % dp, origin.url('/tp2')])
            check(body == hello('/tp2'), 'plain proxy body %r' % body[:60])
            s = w.socks_connect(dp, '127.0.0.1', sink.port, timeout=30)
            digest = w.send_random(s, 8 << 20)
            s.shutdown(socket.SHUT_WR)
            r = sink.result(30, 'sink verdict')
            check(r[1] == 8 << 20 and r[2] == digest, 'sink got %d bytes' % r[1])
            s.close()
            time.sleep(0.2)
            check('CONNECT 127.0.0.1:%d' % sp in tp.log(),
                  'tinyproxy log shows no CONNECT to the server:\n' + tp.proc.tail())
            c.stop()
        finally:
            tp.close()
    run('--proxy through Debian tinyproxy: SOCKS, plain HTTP and 8 MiB upload work',
        tinyproxy_open, timeout=40)

    def tinyproxy_auth():
        tp = Tinyproxy(basic_auth=(TP_USER, TP_PASS))
        try:
            dp, dp2 = w.free_ports(2)
            c = w.start_client(url, ['-D', str(dp), '--proxy',
                                     'http://%s:%s@127.0.0.1:%d' % (TP_USER, TP_PASS, tp.port)],
                               wait_ports=[dp], name='client-via-tinyproxy-auth')
            body = w.curl_ok(['--socks5-hostname', '127.0.0.1:%d' % dp, origin.url('/tpa')])
            check(body == hello('/tpa'), 'body %r' % body[:60])
            c2 = w.start_client(url, ['-D', str(dp2), '--proxy', 'http://127.0.0.1:%d' % tp.port],
                                wait_ports=[dp2], name='client-via-tinyproxy-noauth')
            s, rep = w.socks_open(dp2, '127.0.0.1', echo.port, timeout=10)
            s.close()
            check(rep == 1, 'without credentials tinyproxy refuses: SOCKS 0x%02x, expected 0x01' % rep)
            c.stop()
            c2.stop()
        finally:
            tp.close()
    run('--proxy through tinyproxy with BasicAuth: credentials work, none gives 0x01',
        tinyproxy_auth, timeout=40)

    suite.check_processes()
    for x in (rec, rec_auth, echo, sink):
        x.close()
    origin.close()


if __name__ == '__main__':
    w.main_guard(w.Suite('upstream_proxy_test'), main)
