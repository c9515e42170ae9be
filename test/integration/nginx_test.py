#!/usr/bin/python3
"""wsferry behind Debian's nginx as a WebSocket reverse proxy on a path
prefix, configured exactly as the man page's example (location /t/,
proxy_pass without a URI, Upgrade/Connection headers), plus a deeper prefix:
SOCKS5 and HTTP proxying, integrity both ways, half-close, bytes pipelined
behind the upgrade (0-RTT), error mapping through nginx, concurrency, and a
client using a path nginx does not route.

Interface (test/run.sh): binary from env WSFERRY (default ./build/wsferry);
everything is started here on free 127.0.0.1 ports and ended by PID; one line
per failed case; last line exactly `N passed, N failed`; exit 1 on failure.
`-v` also prints passing cases; other arguments filter case names.
"""

import os
import shutil
import socket
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import wsfutil as w  # noqa: E402
from wsfutil import check, CaseFail  # noqa: E402

NGINX_CONF = """
daemon off;
master_process off;
worker_processes 1;
error_log %(dir)s/error.log info;
pid %(dir)s/nginx.pid;
events { worker_connections 2048; }
http {
    access_log %(dir)s/access.log;
    client_body_temp_path %(dir)s/body;
    proxy_temp_path %(dir)s/proxy;
    fastcgi_temp_path %(dir)s/fastcgi;
    uwsgi_temp_path %(dir)s/uwsgi;
    scgi_temp_path %(dir)s/scgi;
    server {
        listen 127.0.0.1:%(port)d;
        # the man page's example, verbatim
        location /t/ {
            proxy_pass http://127.0.0.1:%(sp)d;
            proxy_http_version 1.1;
            proxy_set_header Upgrade $http_upgrade;
            proxy_set_header Connection "upgrade";
        }
        # no trailing slash: matches /deep/er itself (a /x/ location answers
        # /x with a 301 redirect)
        location /deep/er {
            proxy_pass http://127.0.0.1:%(sp2)d;
            proxy_http_version 1.1;
            proxy_set_header Upgrade $http_upgrade;
            proxy_set_header Connection "upgrade";
            proxy_read_timeout 300s;
        }
        location / {
            return 404;
        }
    }
}
"""


class Nginx:
    def __init__(self, sp, sp2):
        exe = w.require_peer('nginx', 'nginx', '/usr/sbin/nginx')
        self.dir = tempfile.mkdtemp(prefix='wsf-nginx-')
        self.port = w.free_port()
        conf = os.path.join(self.dir, 'nginx.conf')
        with open(conf, 'w') as f:
            f.write(NGINX_CONF % {'dir': self.dir, 'port': self.port, 'sp': sp, 'sp2': sp2})
        self.proc = w.Proc([exe, '-p', self.dir, '-e', os.path.join(self.dir, 'error.log'),
                            '-c', conf], 'nginx', wsferry=False)
        w.wait_port(self.port, proc=self.proc)

    def error_log(self):
        try:
            with open(os.path.join(self.dir, 'error.log')) as f:
                return f.read()
        except OSError:
            return ''

    def close(self):
        self.proc.stop()
        shutil.rmtree(self.dir, ignore_errors=True)


def hello(path):
    return ('origin says hello: GET %s\n' % path).encode()


def main(suite):
    origin = w.HTTPOrigin('127.0.0.1')
    echo = w.TCPServer(w.echo_handler, backlog=512)
    sink = w.TCPServer(w.sink_handler)
    src = w.TCPServer(w.make_source_handler(32 << 20))
    sp, sp2, dp, dp2, dbad = w.free_ports(5)
    w.start_server(sp, path='/t')
    w.start_server(sp2, path='/deep/er', name='server-deep')
    run = suite.run
    try:
        ngx = Nginx(sp, sp2)
    except CaseFail as e:  # a missing nginx too: never a silent pass
        suite.failed += 1
        print('FAIL nginx_test needs a running nginx: %s' % e)
        return
    try:
        nurl = 'ws://127.0.0.1:%d' % ngx.port
        # man page: "the client's URL ends in the same /t/ as nginx's location"
        c1 = w.start_client(nurl + '/t/', ['-D', str(dp)], wait_ports=[dp], name='client-nginx')
        w.start_client(nurl + '/deep/er', ['-D', str(dp2)], wait_ports=[dp2], name='client-nginx-deep')

        def via(dport, path):
            body = w.curl_ok(['--socks5-hostname', '127.0.0.1:%d' % dport, origin.url(path)])
            check(body == hello(path), 'SOCKS body %r' % body[:80])
            body = w.curl_ok(['-x', 'http://127.0.0.1:%d' % dport, origin.url(path + '-plain')])
            check(body == hello(path + '-plain'), 'plain proxy body %r' % body[:80])
            body = w.curl_ok(['-p', '-x', 'http://127.0.0.1:%d' % dport, origin.url(path + '-c')])
            check(body == hello(path + '-c'), 'CONNECT body %r' % body[:80])

        def man_example():
            try:
                via(dp, '/man')
            except CaseFail as e:
                raise CaseFail('%s\n    client log:\n%s\n    nginx access log: %s' % (
                    e, c1.tail(4), open(os.path.join(ngx.dir, 'access.log')).read()[-300:]))
        run('behind nginx, the man page example (location /t/, server ws://..:PORT/t, client '
            'ws://host/t/): SOCKS5, plain HTTP, CONNECT', man_example)

        def redirect_explained():
            dr = w.free_port()
            c = w.start_client(nurl + '/t', ['-D', str(dr)], wait_ports=[dr],
                               name='client-nginx-no-slash')
            s, rep = w.socks_open(dr, '127.0.0.1', w.refused_port(), timeout=10)
            s.close()
            check(rep == 1, 'nginx answering 301: REP 0x%02x, expected 0x01 (not the server '
                  'speaking)' % rep)
            time.sleep(0.2)
            log = c.stderr_text().lower()
            check('301' in log or 'redirect' in log or 'path' in log,
                  'the client log does not say the path is wrong (nginx redirected):\n' + c.tail())
            c.stop()
        run('behind nginx, client URL /t without the slash: 0x01 and the log blames the path',
            redirect_explained)
        run('behind nginx on a deeper prefix /deep/er', via, dp2, '/deep')

        def upload():
            s = w.socks_connect(dp2, '127.0.0.1', sink.port, timeout=30)
            try:
                digest = w.send_random(s, 32 << 20)
                s.shutdown(socket.SHUT_WR)
                r = sink.result(30, 'sink verdict')
                check(r[1] == 32 << 20 and r[2] == digest, 'sink got %d bytes (%s)' % (
                    r[1], 'same digest' if r[2] == digest else 'other digest'))
                reply = w.recv_until_eof(s, what='reply after our FIN through nginx')
                check(reply == ('%d %s\n' % (32 << 20, digest)).encode(), 'reply %r' % reply[:60])
            finally:
                s.close()
        run('behind nginx: 32 MiB upload intact, half-close reply arrives', upload, timeout=40)

        def download():
            s = w.socks_connect(dp2, '127.0.0.1', src.port, timeout=30)
            try:
                n, digest = w.recv_hash(s, limit=64 << 20)
                r = src.result(30, 'source digest')
                check(r[0] == 'source' and n == r[1] and digest == r[2],
                      'got %d bytes, source %r' % (n, r[:2]))
            finally:
                s.close()
        run('behind nginx: 32 MiB download intact', download, timeout=40)

        def pipelined():
            early = os.urandom(30000)
            s, rep = w.socks_open(dp2, '127.0.0.1', echo.port, early=early, pipeline=True)
            try:
                check(rep == 0, 'REP 0x%02x' % rep)
                check(w.recv_exact(s, len(early), 'echo') == early,
                      'bytes pipelined behind the upgrade came back different')
            finally:
                s.close()
        run('behind nginx: data pipelined behind the upgrade (0-RTT) is not lost', pipelined)

        def errors():
            rep = w.socks_open(dp2, '127.0.0.1', w.refused_port())[1]
            check(rep == 5, 'refused through nginx: REP 0x%02x, expected 0x05' % rep)
            rep = w.socks_open(dp2, 'nonexistent.invalid', 80, timeout=15)[1]
            check(rep == 4, 'unknown host through nginx: REP 0x%02x, expected 0x04' % rep)
            st = w.curl(['-x', 'http://127.0.0.1:%d' % dp2, '-o', '/dev/null', '-w', '%{http_code}',
                         'http://127.0.0.1:%d/' % w.refused_port()]).stdout
            check(st == b'502', 'plain proxy to a refused port through nginx: %r' % st)
        run('behind nginx: refused 0x05, unknown host 0x04, HTTP 502', errors)

        def concurrent():
            errs = []
            lock = threading.Lock()

            def worker(i):
                try:
                    s = w.socks_connect(dp2, '127.0.0.1', echo.port, timeout=20)
                    try:
                        m = os.urandom(2000 + i)
                        s.sendall(m)
                        if w.recv_exact(s, len(m), 'echo') != m:
                            raise CaseFail('echo differs')
                    finally:
                        s.close()
                except Exception as e:
                    with lock:
                        errs.append('#%d %s' % (i, e))
            ths = [threading.Thread(target=worker, args=(i,), daemon=True) for i in range(50)]
            for t in ths:
                t.start()
            for t in ths:
                t.join(25)
            check(not errs, '%d of 50 failed: %s' % (len(errs), '; '.join(errs[:3])))
        run('behind nginx: 50 concurrent tunnels', concurrent, timeout=35)

        def wrong_path():
            c = w.start_client(nurl + '/nope', ['-D', str(dbad)], wait_ports=[dbad],
                               name='client-nginx-wrong-path')
            s, rep = w.socks_open(dbad, '127.0.0.1', echo.port, timeout=10)
            s.close()
            # 0x01 per the man page; a 404 from the front proxy is easily
            # taken for the server's own "name not found" (0x04): accepted.
            check(rep in (1, 4), 'a path nginx answers 404: REP 0x%02x, expected 0x01' % rep)
            time.sleep(0.2)
            check(c.alive(), 'client exited')
            check('404' in c.stderr_text() or 'path' in c.stderr_text().lower(),
                  'the client log does not say what went wrong:\n' + c.tail())
            c.stop()
        run('behind nginx, a client with the wrong path gets 0x01 and a log line', wrong_path)

        suite.check_processes()
    finally:
        ngx.close()
        for x in (echo, sink, src):
            x.close()
        origin.close()


if __name__ == '__main__':
    w.main_guard(w.Suite('nginx_test'), main)
