#!/usr/bin/python3
"""Published routes (issue 11, items 1, 2, 5): a client's
`-R 'http://HOST:PORT[/BASE]?mode=path|domain&value=V'` publishes a local
HTTP service on the server's web port, `-R 'tcp://HOST:PORT?mode=path&value=P'`
a TCP service as binary WebSocket. curl through path, base-path and domain
routes (an HTTP/1.1 backend with chunked bodies and repeated Set-Cookie),
X-Forwarded-*, query strings, a 1 MiB POST echo with Expect: 100-continue, a
chunked upload, keep-alive reuse (one connection), a kept-alive request that
moves to another route, python3-websockets through a route, TCP as
WebSocket with `binary` echoed, unknown paths keeping the stealth answer,
the offline answer within 1 s, and re-publication after a server restart.

Interface (test/run.sh): binary from env WSFERRY (default ./build/wsferry);
everything is started here on free 127.0.0.1 ports and ended by PID; one line
per failed case; last line exactly `N passed, N failed`; exit 1 on failure.
`-v` also prints passing cases; other arguments filter case names.
"""

import asyncio
import base64
import hashlib
import http.server
import json
import os
import socket
import socketserver
import subprocess
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import wsfutil as w  # noqa: E402
from wsfutil import check, CaseFail  # noqa: E402

OFFLINE_BOUND = 1.0


class Backend(http.server.BaseHTTPRequestHandler):
    """HTTP/1.1 with keep-alive: echoes what it got; chunked bodies and two
    Set-Cookie headers on /chunked; sha256 of any request body on POST."""
    protocol_version = 'HTTP/1.1'

    def log_message(self, fmt, *args):
        pass

    def _json(self, obj, extra=()):
        body = json.dumps(obj).encode()
        self.send_response(200)
        self.send_header('Content-Type', 'application/json')
        self.send_header('Content-Length', str(len(body)))
        for k, v in extra:
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self):
        if self.path.startswith('/base/chunked') or self.path.startswith('/chunked'):
            self.send_response(200)
            self.send_header('Transfer-Encoding', 'chunked')
            self.send_header('Set-Cookie', 'a=1; Path=/')
            self.send_header('Set-Cookie', 'b=2; Path=/')
            self.end_headers()
            for part in (b'hello ', b'chunked ', b'world'):
                self.wfile.write(b'%x\r\n%s\r\n' % (len(part), part))
            self.wfile.write(b'0\r\n\r\n')
            return
        self._json({'path': self.path, 'xff': self.headers.get('X-Forwarded-For'),
                    'xfh': self.headers.get('X-Forwarded-Host'),
                    'xfp': self.headers.get('X-Forwarded-Proto'),
                    'multi': self.headers.get_all('X-Multi'),
                    'conn': self.server.conns_seen})

    def do_POST(self):
        h = hashlib.sha256()
        n = 0
        if self.headers.get('Transfer-Encoding', '').lower() == 'chunked':
            while True:
                size = int(self.rfile.readline().split(b';')[0], 16)
                if size == 0:
                    while self.rfile.readline() not in (b'\r\n', b''):
                        pass
                    break
                left = size
                while left:
                    d = self.rfile.read(min(left, 1 << 16))
                    h.update(d)
                    n += len(d)
                    left -= len(d)
                self.rfile.readline()
        else:
            left = int(self.headers.get('Content-Length', '0'))
            while left:
                d = self.rfile.read(min(left, 1 << 16))
                if not d:
                    break
                h.update(d)
                n += len(d)
                left -= len(d)
        self._json({'n': n, 'sha': h.hexdigest()})


class BackendServer(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self):
        super().__init__(('127.0.0.1', 0), Backend)
        self.conns_seen = 0
        self.port = self.server_address[1]
        threading.Thread(target=self.serve_forever, daemon=True).start()

    def get_request(self):
        r = super().get_request()
        self.conns_seen += 1
        return r


def wait_log(proc, needle, timeout, what, times=1):
    deadline = time.monotonic() + timeout
    for _ in range(int(timeout / 0.05) + 2):
        if proc.stderr_text().count(needle) >= times:
            return
        if time.monotonic() > deadline:
            break
        time.sleep(0.05)
    raise CaseFail('%s: %r not logged within %.0f s:\n%s' % (what, needle, timeout, proc.tail()))


def ws_upgrade(port, path, protocol=None):
    s = w.connect(port, timeout=10)
    key = base64.b64encode(os.urandom(16)).decode()
    req = ('GET %s HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n'
           'Sec-WebSocket-Key: %s\r\nSec-WebSocket-Version: 13\r\n' % (path, key))
    if protocol:
        req += 'Sec-WebSocket-Protocol: %s\r\n' % protocol
    s.sendall((req + '\r\n').encode())
    head = b''
    while b'\r\n\r\n' not in head:
        d = s.recv(1)
        if not d:
            raise CaseFail('closed during the upgrade: %r' % head)
        head += d
    return s, head.decode()


def ws_frame(payload, op=2):
    mask = os.urandom(4)
    n = len(payload)
    hdr = bytes([0x80 | op])
    if n < 126:
        hdr += bytes([0x80 | n])
    elif n < 65536:
        hdr += bytes([0x80 | 126]) + n.to_bytes(2, 'big')
    else:
        hdr += bytes([0x80 | 127]) + n.to_bytes(8, 'big')
    return hdr + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(payload))


def ws_read_payload(s, want):
    got = b''
    while len(got) < want:
        h = w.recv_exact(s, 2, 'frame header')
        n = h[1] & 0x7f
        if n == 126:
            n = int.from_bytes(w.recv_exact(s, 2), 'big')
        elif n == 127:
            n = int.from_bytes(w.recv_exact(s, 8), 'big')
        data = w.recv_exact(s, n, 'frame payload') if n else b''
        if h[0] & 0x0f == 8:
            raise CaseFail('Close frame after %d of %d bytes' % (len(got), want))
        got += data
    return got


def main(suite):
    key = subprocess.run([w.WSFERRY, 'keygen'], capture_output=True, text=True,
                         check=True).stdout.strip()
    kargs = ['--key', key]
    be = BackendServer()
    be2 = BackendServer()
    echo = w.TCPServer(w.echo_handler)
    wsb_port, socat_port = w.free_ports(2)
    sp = w.free_port()
    socat = w.require_peer('socat', 'socat')
    w.Proc([socat, 'TCP-LISTEN:%d,bind=127.0.0.1,reuseaddr,fork' % socat_port, 'EXEC:cat'],
           'socat', wsferry=False)
    w.wait_port(socat_port)
    url = 'ws://127.0.0.1:%d' % sp
    srv = [w.start_server(sp, kargs)]
    routes = ['-R', 'http://127.0.0.1:%d?mode=path&value=/app' % be.port,
              '-R', 'http://127.0.0.1:%d/base?mode=path&value=/based/' % be.port,
              '-R', 'http://localhost:%d?mode=domain&value=Svc.Example' % be.port,
              '-R', 'http://127.0.0.1:%d?mode=path&value=/other' % be2.port,
              '-R', 'http://127.0.0.1:%d?mode=path&value=/wsapp' % wsb_port,
              '-R', 'tcp://127.0.0.1:%d?mode=path&value=vnc' % echo.port,
              '-R', 'tcp://127.0.0.1:%d?mode=path&value=/socat' % socat_port]
    cli = [w.start_client(url, kargs + routes, name='client-publish')]
    base = 'http://127.0.0.1:%d' % sp
    run = suite.run

    def published():
        wait_log(srv[0], 'published', 10, 'publication', times=7)
    ok = run('seven routes published', published, timeout=15, always=True)
    if ok is False:
        print('    server:\n' + srv[0].tail(10) + '\n    client:\n' + cli[0].tail(10))

    def path_route():
        r = json.loads(w.curl_ok([base + '/app/x/y?q=1&r=two', '-H', 'X-Forwarded-For: 10.0.0.9',
                                  '-H', 'X-Multi: one', '-H', 'X-Multi: two']))
        check(r['path'] == '/x/y?q=1&r=two', 'path %r' % r['path'])
        check(r['xff'] == '10.0.0.9, 127.0.0.1', 'X-Forwarded-For %r' % r['xff'])
        check(r['xfh'] == '127.0.0.1:%d' % sp and r['xfp'] == 'http',
              'X-Forwarded-Host/-Proto %r %r' % (r['xfh'], r['xfp']))
        check(r['multi'] == ['one', 'two'], 'repeated header %r' % r['multi'])
        r = json.loads(w.curl_ok([base + '/app']))
        check(r['path'] == '/', 'bare prefix became %r' % r['path'])
    run('path route: prefix stripped, query kept, X-Forwarded-* added, repeated headers',
        path_route)

    def base_and_domain():
        r = json.loads(w.curl_ok([base + '/based/z?k=v']))
        check(r['path'] == '/base/z?k=v', 'base path route gave %r' % r['path'])
        r = json.loads(w.curl_ok([base + '/p/q', '-H', 'Host: svc.example:8443']))
        check(r['path'] == '/p/q' and r['xfh'] == 'svc.example:8443', 'domain route %r' % r)
    run('base-path route prepends BASE; domain route matches Host without port',
        base_and_domain)

    def chunked_and_cookies():
        out = subprocess.run(['curl', '-sS', '-i', base + '/app/chunked'], capture_output=True,
                             timeout=20)
        txt = out.stdout.decode()
        check('hello chunked world' in txt, 'chunked body %r' % txt[-80:])
        check(txt.count('Set-Cookie:') == 2, 'Set-Cookie headers: %d' % txt.count('Set-Cookie:'))
        check('Transfer-Encoding: chunked' in txt, 'not chunked any more')
    run('chunked response and two Set-Cookie headers arrive unchanged', chunked_and_cookies)

    def post_echo():
        blob = os.urandom(1 << 20)
        r = subprocess.run(['curl', '-sS', '--data-binary', '@-', '-H', 'Expect: 100-continue',
                            '-H', 'Content-Type: application/octet-stream', base + '/app/post'],
                           input=blob, capture_output=True, timeout=30)
        check(r.returncode == 0, 'curl exit %d: %s' % (r.returncode, r.stderr[-200:]))
        j = json.loads(r.stdout)
        check(j['n'] == len(blob) and j['sha'] == hashlib.sha256(blob).hexdigest(),
              'POST echo %r' % j)
        r = subprocess.run(['curl', '-sS', '--data-binary', '@-', '-H',
                            'Transfer-Encoding: chunked', base + '/app/post'],
                           input=blob[:300000], capture_output=True, timeout=30)
        j = json.loads(r.stdout)
        check(j['n'] == 300000 and j['sha'] == hashlib.sha256(blob[:300000]).hexdigest(),
              'chunked POST echo %r' % j)
    run('1 MiB POST with Expect: 100-continue, and a chunked upload, echoed intact', post_echo,
        timeout=40)

    def keep_alive():
        out = subprocess.run(['curl', '-sS', '-v', base + '/app/1', base + '/app/2',
                              base + '/app/3'], capture_output=True, timeout=20)
        err = out.stderr.decode()
        check(out.returncode == 0, 'curl exit %d' % out.returncode)
        check(err.count('Connected to') == 1 and 'Re-using existing connection' in err,
              'curl did not reuse its connection:\n' + err[-400:])
        paths = [json.loads(x)['path'] for x in out.stdout.decode().replace('}{', '}\n{')
                 .split('\n')]
        check(paths == ['/1', '/2', '/3'], 'paths %r' % paths)
    run('keep-alive: three requests on one connection (curl -v)', keep_alive)

    def pipelined_and_switch():
        s = w.connect(sp, timeout=10)
        try:
            reqs = b''.join(b'GET /app/p%d HTTP/1.1\r\nHost: x\r\n\r\n' % i for i in range(3))
            s.sendall(reqs)
            rest = b''
            for i in range(3):
                st, hdr, body, _, rest = w.read_http_response(s, pre=rest)
                check(st == 200 and json.loads(body)['path'] == '/p%d' % i,
                      'pipelined #%d: %r %r' % (i, st, body[:80]))
            s.sendall(b'GET /other/o HTTP/1.1\r\nHost: x\r\n\r\n')
            st, hdr, body, _, rest = w.read_http_response(s, pre=rest)
            check(st == 200 and json.loads(body)['path'] == '/o',
                  'kept-alive request to another route: %r %r' % (st, body[:80]))
        finally:
            s.close()
    run('pipelined requests answered in order; a kept-alive request moves to another route',
        pipelined_and_switch)

    def websockets_through():
        import websockets

        async def handler(ws, path):
            async for m in ws:
                await ws.send(m)

        async def go():
            async with websockets.serve(handler, '127.0.0.1', wsb_port):
                async with websockets.connect('ws://127.0.0.1:%d/wsapp/chat' % sp) as c:
                    for m in ('hi', b'\x00\x01' * 5000, 'x' * 70000):
                        await c.send(m)
                        got = await asyncio.wait_for(c.recv(), 10)
                        if got != m:
                            raise CaseFail('websockets echo differs for %r' % (m[:10],))
        asyncio.run(go())
    run('python3-websockets through a route (upgrade passes through)', websockets_through)

    def tcp_as_ws():
        s, head = ws_upgrade(sp, '/vnc', 'binary, base64')
        try:
            check(head.startswith('HTTP/1.1 101'), 'answer %r' % head[:40])
            check('Sec-WebSocket-Protocol: binary' in head, 'binary not echoed:\n' + head)
            m = os.urandom(100000)
            s.sendall(ws_frame(m))
            check(ws_read_payload(s, len(m)) == m, 'echo through the raw TCP service differs')
        finally:
            s.close()
        s, head = ws_upgrade(sp, '/vnc/')
        s.close()
        check('Sec-WebSocket-Protocol' not in head, 'a subprotocol nobody offered:\n' + head)
    run('TCP as WebSocket: binary echoed when offered, bytes intact', tcp_as_ws)

    def socat_websockets():
        import websockets

        async def go():
            async with websockets.connect('ws://127.0.0.1:%d/socat' % sp,
                                          subprotocols=['binary']) as c:
                if c.subprotocol != 'binary':
                    raise CaseFail('subprotocol %r' % c.subprotocol)
                m = os.urandom(200000)
                await c.send(m)
                got = b''
                while len(got) < len(m):
                    got += await asyncio.wait_for(c.recv(), 10)
                if got != m:
                    raise CaseFail('%d bytes back, or other bytes' % len(got))
        asyncio.run(go())
    run('TCP as WebSocket: socat (EXEC:cat) behind it, a python3-websockets client',
        socat_websockets)

    def stealth_kept():
        for path in ('/nothing', '/application', '/vnc'):
            s = w.connect(sp, timeout=5)
            s.sendall(b'GET %s HTTP/1.1\r\nHost: x\r\n\r\n' % path.encode())
            try:
                got = s.recv(100)
            except ConnectionResetError:
                got = b''
            s.close()
            check(got == b'', '%s answered %r (default --stealth drop)' % (path, got[:40]))
    run('unknown paths (and a plain GET on the WebSocket route) keep the stealth answer',
        stealth_kept)

    def stopped_client():
        import signal
        n = srv[0].stderr_text().count('route path /app published')
        os.kill(cli[0].pid, signal.SIGSTOP)  # alive to TCP, silent: a vanished machine
        try:
            t0 = time.monotonic()
            r = subprocess.run(['curl', '-sS', '-o', '/dev/null', '-w', '%{http_code}',
                                base + '/app/x'], capture_output=True, timeout=10)
            took = time.monotonic() - t0
        finally:
            os.kill(cli[0].pid, signal.SIGCONT)
        check(r.stdout == b'502', 'a silent route answered %r' % r.stdout)
        check(took < OFFLINE_BOUND + 0.5, 'a silent route answered after %.2f s' % took)
        wait_log(srv[0], 'route path /app published', 15, 're-publication after SIGCONT', n + 1)
        j = json.loads(w.curl_ok([base + '/app/again']))
        check(j['path'] == '/again', 'after the client came back %r' % j)
        if suite.verbose:
            print('    silent route answered 502 after %.3f s' % took)
    run('a route whose client went silent (SIGSTOP) answers 502 within about 1 s; '
        'it publishes again once back', stopped_client, timeout=30)

    def offline():
        cli[0].p.kill()
        cli[0].p.wait(5)
        with w._PROCS_LOCK:
            w._PROCS.remove(cli[0])
        cli[0].cleanup()
        wait_log(srv[0], 'route path /app released', 3, 'the server')
        t0 = time.monotonic()
        r = subprocess.run(['curl', '-sS', '-o', '/dev/null', '-w', '%{http_code}',
                            base + '/app/x'], capture_output=True, timeout=10)
        took = time.monotonic() - t0
        check(r.stdout in (b'000',), 'offline route answered %r' % r.stdout)
        check(took < OFFLINE_BOUND, 'offline route answered after %.2f s' % took)
    run('a route whose client is gone answers at once (the stealth answer)', offline,
        timeout=15)

    def server_restart():
        n = srv[0].stderr_text().count('published')
        cli[0] = w.start_client(url, kargs + routes, name='client-publish-2')
        wait_log(srv[0], 'published', 8, 'restarted client', times=n + 7)
        check(srv[0].stop() == 0, 'server exit after SIGTERM')
        time.sleep(1.5)
        check(cli[0].alive(), 'the client exited with the server gone')
        srv[0] = w.start_server(sp, kargs, name='server-restarted')
        wait_log(srv[0], 'route path /app published', 15, 're-publication')
        r = json.loads(w.curl_ok([base + '/app/back']))
        check(r['path'] == '/back', 'after restart %r' % r)
    run('a restarted client publishes again; the client survives a server restart',
        server_restart, timeout=40)

    def https_backend_and_wss():
        ossl = w.require_peer('openssl', 'openssl')
        d = tempfile.mkdtemp(prefix='wsf-route-tls-')
        o = None
        try:
            subprocess.run([os.path.abspath(w.WSFERRY), 'cert', '--name', '127.0.0.1', '--name', 'localhost'],
                           cwd=d, capture_output=True, check=True, timeout=20)
            crt, keyf = os.path.join(d, 'server.crt'), os.path.join(d, 'server.key')
            op, wp = w.free_ports(2)
            # stdin held open: at EOF on stdin s_server drops the connection it serves
            o = subprocess.Popen([ossl, 's_server', '-www', '-quiet', '-accept',
                                  '127.0.0.1:%d' % op, '-cert', crt, '-key', keyf],
                                 stdin=subprocess.PIPE, stdout=subprocess.DEVNULL,
                                 stderr=subprocess.DEVNULL)
            w.wait_port(op)
            s2 = w.Proc([w.WSFERRY, 'server', 'wss://127.0.0.1:%d' % wp] + kargs, 'server-wss')
            w.wait_port(wp, proc=s2)
            c = w.start_client('wss://127.0.0.1:%d' % wp, kargs + [
                '--insecure',
                '-R', 'https://127.0.0.1:%d?mode=path&value=/ca&ca=%s' % (op, crt),
                '-R', 'https://localhost:%d?mode=path&value=/ins&insecure' % op,
                '-R', 'https://127.0.0.1:%d?mode=path&value=/sys' % op,
                '-R', 'http://127.0.0.1:%d?mode=path&value=/app' % be.port], name='client-tls')
            wait_log(s2, 'published', 10, 'wss publication', times=4)
            for path in ('/ca/', '/ins/'):
                try:
                    body = w.curl_ok(['-k', 'https://127.0.0.1:%d%s' % (wp, path)], timeout=8)
                except CaseFail as e:
                    raise CaseFail('%s\n%s' % (e, c.tail(20)))
                check(b's_server' in body or b'Ciphers' in body,
                      'openssl -www page through %s: %r' % (path, body[:80]))
            r = subprocess.run(['curl', '-sS', '-k', '-m', '8', 'https://127.0.0.1:%d/sys/' % wp],
                               capture_output=True, timeout=15)
            check(r.stdout == b'', 'an unverifiable service answered %r' % r.stdout[:80])
            wait_log(c, 'certificate not trusted', 5, 'the publishing client')
            j = json.loads(w.curl_ok(['-k', 'https://127.0.0.1:%d/app/t' % wp]))
            check(j['xfp'] == 'https' and j['path'] == '/t', 'over wss:// %r' % j)
            c.stop()
            s2.stop()
        finally:
            if o is not None:
                o.kill()
                o.wait(5)
            subprocess.run(['rm', '-rf', d])
    run('https:// services: ?ca= and ?insecure work, the system CAs refuse a self-signed one '
        '(logged); wss:// listener sets X-Forwarded-Proto https', https_backend_and_wss,
        timeout=40)

    def bad_specs():
        for spec in ('http://127.0.0.1:80', 'http://127.0.0.1:80?mode=path',
                     'http://127.0.0.1:80?mode=x&value=a', 'tcp://127.0.0.1:80?mode=domain&value=a',
                     'http://127.0.0.1:80?mode=path&value=/a b', 'http://h?mode=path&value=a',
                     'http://127.0.0.1:80/../x?mode=path&value=a',
                     'http://127.0.0.1:80?mode=path&value=a&insecure',
                     'https://127.0.0.1:80?mode=path&value=a&bogus=1'):
            r = subprocess.run([w.WSFERRY, 'client', url, '-R', spec], stdin=subprocess.DEVNULL,
                               capture_output=True, timeout=5)
            check(r.returncode == 2, '-R %r: exit %d' % (spec, r.returncode))
    run('bad route specs exit 2', bad_specs)

    suite.check_processes()
    echo.close()
    be.shutdown()
    be2.shutdown()


if __name__ == '__main__':
    w.main_guard(w.Suite('route_test'), main)
