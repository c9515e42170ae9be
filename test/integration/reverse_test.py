#!/usr/bin/python3
"""Remote forwards, `wsferry client ... -R [BIND:]PORT:HOST:HOSTPORT`: the
server listens on BIND:PORT, each connection there comes back through the
tunnel and the client dials HOST:HOSTPORT. End to end with curl and an echo
server, integrity both ways, half-close, concurrency, a destination the
client cannot reach, the port released when the client goes, a port already
in use, re-registration after a server restart, bad specs.

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
from wsfutil import check, CaseFail  # noqa: E402

REREG_BOUND = 15.0  # re-registration backoff starts at 1 s; a restart within it


def hello(path):
    return ('origin says hello: GET %s\n' % path).encode()


def wait_listening(port, timeout, what):
    deadline = time.monotonic() + timeout
    for _ in range(int(timeout / 0.05) + 2):
        if w.listening(port):
            return time.monotonic()
        if time.monotonic() > deadline:
            break
        time.sleep(0.05)
    raise CaseFail('%s: nothing listens on %d after %.0f s' % (what, port, timeout))


def main(suite):
    origin = w.HTTPOrigin('127.0.0.1')
    echo = w.TCPServer(w.echo_handler, backlog=512)
    sink = w.TCPServer(w.sink_handler)
    src = w.TCPServer(w.make_source_handler(32 << 20))
    sp, r_http, r_echo, r_sink, r_src, r_dead = w.free_ports(6)
    dead = w.refused_port()
    srv = [w.start_server(sp)]
    url = 'ws://127.0.0.1:%d' % sp
    cli = w.start_client(url, ['-R', '%d:127.0.0.1:%d' % (r_http, origin.port),
                               '-R', '127.0.0.1:%d:localhost:%d' % (r_echo, echo.port),
                               '-R', '%d:127.0.0.1:%d' % (r_sink, sink.port),
                               '-R', '%d:127.0.0.1:%d' % (r_src, src.port),
                               '-R', '%d:127.0.0.1:%d' % (r_dead, dead)],
                         name='client-R')
    run = suite.run

    def registered():
        for p in (r_http, r_echo, r_sink, r_src, r_dead):
            wait_listening(p, 10, 'the server side of -R %d' % p)
        check(cli.alive(), 'client exited:\n' + cli.tail())
    ok = run('-R: the server listens on every remote port', registered, timeout=15, always=True)
    if ok is False:
        print('    client stderr:\n' + cli.tail(10) + '\n    server stderr:\n' + srv[0].tail(10))

    def curl_through():
        body = w.curl_ok(['http://127.0.0.1:%d/via-R' % r_http])
        check(body == hello('/via-R'), 'body %r' % body[:60])
        body = w.curl_ok(['http://127.0.0.1:%d/bytes/%d?seed=3' % (r_http, 4 << 20)])
        check(w.sha(body) == w.sha(w._det_bytes(4 << 20, 3)), '4 MiB body differs')
    run('-R end to end: curl to the server-side port reaches the origin behind the client',
        curl_through)

    def echo_through():
        s = w.connect(r_echo, timeout=10)
        try:
            for n in (1, 1000, 200000):
                m = os.urandom(n)
                s.sendall(m)
                check(w.recv_exact(s, n, 'echo') == m, 'echo of %d bytes differs' % n)
            s.shutdown(socket.SHUT_WR)
            check(w.recv_until_eof(s) == b'', 'stray bytes')
        finally:
            s.close()
    run('-R with BIND and a destination name (localhost): echo and clean close', echo_through)

    def upload():
        s = w.connect(r_sink, timeout=30)
        try:
            digest = w.send_random(s, 32 << 20)
            s.shutdown(socket.SHUT_WR)
            r = sink.result(30, 'sink verdict')
            check(r[1] == 32 << 20 and r[2] == digest, 'sink got %d bytes, %s' % (
                r[1], 'same digest' if r[2] == digest else 'other digest'))
            reply = w.recv_until_eof(s, what='reply after our FIN (half-close)')
            check(reply == ('%d %s\n' % (32 << 20, digest)).encode(), 'reply %r' % reply[:80])
        finally:
            s.close()
    run('-R: 32 MiB towards the client side intact, half-close reply arrives', upload, timeout=40)

    def download():
        s = w.connect(r_src, timeout=30)
        try:
            n, digest = w.recv_hash(s, limit=64 << 20)
            r = src.result(30, 'source digest')
            check(r[0] == 'source' and n == r[1] == 32 << 20 and digest == r[2],
                  'got %d bytes, source %r' % (n, r[:2]))
        finally:
            s.close()
    run('-R: 32 MiB from the client side intact', download, timeout=40)

    def concurrent():
        errors = []
        lock = threading.Lock()

        def worker(i):
            try:
                s = w.connect(r_echo, timeout=20)
                try:
                    m = os.urandom(5000 + i * 13)
                    s.sendall(m)
                    if w.recv_exact(s, len(m), 'echo %d' % i) != m:
                        raise CaseFail('echo %d differs' % i)
                finally:
                    s.close()
            except Exception as e:
                with lock:
                    errors.append('#%d %s' % (i, e))
        ths = [threading.Thread(target=worker, args=(i,), daemon=True) for i in range(50)]
        for t in ths:
            t.start()
        for t in ths:
            t.join(25)
        check(not errors, '%d of 50 failed: %s' % (len(errors), '; '.join(errors[:3])))
    run('-R: 50 concurrent connections each get their echo', concurrent, timeout=35)

    def undeliverable():
        s = w.connect(r_dead, timeout=10)
        try:
            t0 = time.monotonic()
            try:
                got = s.recv(100)
            except ConnectionResetError:
                got = b''
            check(got == b'', 'bytes from an undeliverable -R connection: %r' % got)
            check(time.monotonic() - t0 < 5, 'closed only after %.1f s' % (time.monotonic() - t0))
        finally:
            s.close()
        check(cli.alive(), 'client exited:\n' + cli.tail())
    run('-R to a refused destination: the server-side connection is closed promptly',
        undeliverable)

    def port_in_use():
        busy = socket.socket()
        busy.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        busy.bind(('127.0.0.1', 0))
        busy.listen(1)
        bp = busy.getsockname()[1]
        try:
            c = w.start_client(url, ['-R', '%d:127.0.0.1:%d' % (bp, echo.port)], name='client-R-busy')
            deadline = time.monotonic() + 6
            for _ in range(120):
                txt = c.stderr_text()
                if str(bp) in txt and ('in use' in txt.lower() or 'busy' in txt.lower()):
                    break
                if time.monotonic() > deadline or not c.alive():
                    break
                time.sleep(0.05)
            txt = c.stderr_text()
            check(c.alive() or c.p.returncode == 1,
                  'client with a busy -R port ended with %r' % c.p.returncode)
            check('in use' in txt.lower() or 'busy' in txt.lower(),
                  'the client does not say the remote port is in use:\n' + c.tail())
            c.stop()
        finally:
            busy.close()
    run('-R on a port already in use on the server: the client says so', port_in_use)

    def released_on_client_exit():
        p2 = w.free_port()
        c = w.start_client(url, ['-R', '%d:127.0.0.1:%d' % (p2, echo.port)], name='client-R-2')
        wait_listening(p2, 10, '-R of the second client')
        rc = c.stop()
        check(rc == 0, 'client exit %r after SIGTERM' % rc)
        check(w.wait_port_closed(p2, timeout=5),
              'the server still listens on %d 5 s after its client stopped' % p2)
        c3 = w.start_client(url, ['-R', '%d:127.0.0.1:%d' % (p2, echo.port)], name='client-R-3')
        wait_listening(p2, 10, '-R by a new client on the released port')
        s = w.connect(p2)
        s.sendall(b'again')
        check(w.recv_exact(s, 5, 'echo') == b'again', 'echo via the new client')
        s.close()
        c3.stop()
    run('-R: the server releases the port when the client stops; a new client can take it',
        released_on_client_exit, timeout=30)

    def server_restart():
        rc = srv[0].stop()
        check(rc == 0, 'server exit %r after SIGTERM' % rc)
        check(w.wait_port_closed(r_echo, timeout=3), 'remote port still open with the server gone')
        time.sleep(1.5)  # the client notices and starts its backoff
        check(cli.alive(), 'client exited when the server went away:\n' + cli.tail())
        t0 = time.monotonic()
        srv[0] = w.start_server(sp, name='server-restarted')
        for p in (r_http, r_echo):
            wait_listening(p, REREG_BOUND, 're-registration after the server restart')
        took = time.monotonic() - t0
        s = w.connect(r_echo)
        try:
            s.sendall(b'back')
            check(w.recv_exact(s, 4, 'echo after re-registration') == b'back', 'echo differs')
        finally:
            s.close()
        body = w.curl_ok(['http://127.0.0.1:%d/again' % r_http])
        check(body == hello('/again'), 'body %r' % body[:60])
        if suite.verbose:
            print('    re-registered %.1f s after the server came back' % took)
    run('-R: after a server restart the client re-registers and forwards work again',
        server_restart, timeout=40)

    def bad_specs():
        for spec in ('1234', '1234:127.0.0.1', 'abc:127.0.0.1:80', '1234:127.0.0.1:0',
                     'not-an-ip:1234:127.0.0.1:80'):
            try:
                r = subprocess.run([w.WSFERRY, 'client', url, '-R', spec],
                                   stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                   stderr=subprocess.PIPE, timeout=3)
            except subprocess.TimeoutExpired as e:
                raise CaseFail('-R %r was accepted: the client kept running instead of exiting 2 '
                               '(stderr: %r)' % (spec, (e.stderr or b'')[-200:]))
            err = r.stderr.decode(errors='replace').strip().split('\n')
            check(r.returncode == 2, '-R %r: exit %d, expected 2 (%r)' % (spec, r.returncode, err[:1]))
            check(any(x in err[0] for x in ('-R', '--remote', spec)),
                  '-R %r: message %r does not name it' % (spec, err[0]))
    run('-R: bad specs exit 2 with a message naming -R', bad_specs)

    suite.check_processes()
    for x in (echo, sink, src):
        x.close()
    origin.close()


if __name__ == '__main__':
    w.main_guard(w.Suite('reverse_test'), main)
