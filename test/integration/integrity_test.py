#!/usr/bin/python3
"""Byte integrity through the tunnel: SHA-256 of 100 MiB uploaded and 100 MiB
downloaded, each through -D (SOCKS5) and through -L; a full-duplex transfer
(both directions at once); 200 concurrent tunnels each exchanging data with
an echo server and verifying it.

Interface (test/run.sh): binary from env WSFERRY (default ./build/wsferry);
everything is started here on free 127.0.0.1 ports and ended by PID; one line
per failed case; last line exactly `N passed, N failed`; exit 1 on failure.
`-v` also prints passing cases; other arguments filter case names.
"""

import os
import socket
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import wsfutil as w  # noqa: E402
from wsfutil import check, CaseFail  # noqa: E402

BIG = 100 << 20
CONCURRENT = 200


def main(suite):
    sink = w.TCPServer(w.sink_handler)
    source = w.TCPServer(w.make_source_handler(BIG))
    echo = w.TCPServer(w.echo_handler, backlog=1024)
    sp, dp, lsink, lsrc, lecho = w.free_ports(5)
    w.start_server(sp)
    w.start_client('ws://127.0.0.1:%d' % sp,
                   ['-D', str(dp), '-L', '%d:127.0.0.1:%d' % (lsink, sink.port),
                    '-L', '%d:127.0.0.1:%d' % (lsrc, source.port),
                    '-L', '%d:127.0.0.1:%d' % (lecho, echo.port)],
                   wait_ports=[dp, lsink, lsrc, lecho])
    run = suite.run

    def upload(open_sock):
        s = open_sock()
        try:
            s.settimeout(60)
            t0 = time.monotonic()
            digest = w.send_random(s, BIG, chunk=1 << 18)
            s.shutdown(socket.SHUT_WR)
            r = sink.result(60, 'sink verdict')
            check(r[1] == BIG, 'sink received %d bytes, sent %d' % (r[1], BIG))
            check(r[2] == digest, 'SHA-256 at the sink differs from what was sent')
            reply = w.recv_until_eof(s, what="sink's reply after our FIN")
            check(reply == ('%d %s\n' % (BIG, digest)).encode(),
                  'reply after half-close %r' % reply[:100])
            return time.monotonic() - t0
        finally:
            s.close()

    def download(open_sock):
        s = open_sock()
        prefix = b''
        if isinstance(s, tuple):
            s, prefix = s
        try:
            s.settimeout(60)
            n, digest = w.recv_hash(s, limit=BIG + (1 << 20), prefix=prefix)
            r = source.result(60, 'source digest')
            check(r[0] == 'source', 'source failed: %r' % (r,))
            check(n == r[1] == BIG, 'received %d bytes, source sent %d (of %d)' % (n, r[1], BIG))
            check(digest == r[2], 'SHA-256 of the download differs from what the source sent')
        finally:
            s.close()

    run('100 MiB upload through -D SOCKS5: SHA-256 intact',
        upload, lambda: w.socks_connect(dp, '127.0.0.1', sink.port), timeout=60)
    run('100 MiB download through -D SOCKS5: SHA-256 intact',
        download, lambda: w.socks_connect(dp, 'localhost', source.port), timeout=60)
    run('100 MiB upload through -L: SHA-256 intact',
        upload, lambda: w.connect(lsink), timeout=60)
    run('100 MiB download through -L: SHA-256 intact',
        download, lambda: w.connect(lsrc), timeout=60)

    def http_connect_sock(port):
        s = w.connect(dp)
        s.sendall(b'CONNECT 127.0.0.1:%d HTTP/1.1\r\nHost: x\r\n\r\n' % port)
        st, hd, body, head, rest = w.read_http_response(s, 'HEAD', 'CONNECT reply')
        check(st == 200, 'CONNECT answered %d' % st)
        return s, rest  # the source talks first: its bytes may follow the 200 at once
    run('100 MiB download through HTTP CONNECT: SHA-256 intact',
        download, lambda: http_connect_sock(source.port), timeout=60)

    def duplex():
        n = 32 << 20
        s = w.connect(lecho)
        s.settimeout(60)
        res = {}

        def reader():
            try:
                res['got'] = w.recv_hash(s, limit=n + (1 << 20))
            except Exception as e:
                res['err'] = str(e)
        t = threading.Thread(target=reader, daemon=True)
        t.start()
        try:
            digest = w.send_random(s, n)
            s.shutdown(socket.SHUT_WR)
            t.join(60)
            check('err' not in res, 'reading the echo: %s' % res.get('err'))
            check('got' in res, 'echo not complete within 60 s')
            check(res['got'] == (n, digest), 'echo of 32 MiB: got %d bytes, %s'
                  % (res['got'][0], 'same digest' if res['got'][1] == digest else 'other digest'))
        finally:
            s.close()
    run('32 MiB full duplex through -L to an echo server: intact both ways', duplex, timeout=60)

    def concurrent():
        barrier = threading.Barrier(CONCURRENT + 1)
        errors = []
        lock = threading.Lock()
        done = [0]

        def worker(i):
            s = None
            try:
                if i % 2:
                    s = w.socks_connect(dp, '127.0.0.1' if i % 4 == 1 else 'localhost',
                                        echo.port, timeout=30)
                else:
                    s = w.connect(lecho, timeout=30)
                s.settimeout(30)
                try:
                    barrier.wait(30)  # every tunnel open at the same time
                except threading.BrokenBarrierError:
                    raise CaseFail('not all %d tunnels opened together' % CONCURRENT)
                msgs = [os.urandom(1000 + (i * 37 + k * 101) % 30000) for k in range(4)]
                for m in msgs:
                    s.sendall(m)
                    got = w.recv_exact(s, len(m), 'echo on tunnel %d' % i)
                    if got != m:
                        raise CaseFail('tunnel %d: echo differs' % i)
                s.shutdown(socket.SHUT_WR)
                tail = w.recv_until_eof(s, what='tunnel %d close' % i)
                if tail:
                    raise CaseFail('tunnel %d: %d stray bytes' % (i, len(tail)))
                with lock:
                    done[0] += 1
            except Exception as e:
                with lock:
                    errors.append('#%d %s' % (i, e))
                try:
                    barrier.abort()
                except Exception:
                    pass
            finally:
                if s:
                    s.close()
        ths = [threading.Thread(target=worker, args=(i,), daemon=True) for i in range(CONCURRENT)]
        for t in ths:
            t.start()
        try:
            barrier.wait(40)
        except threading.BrokenBarrierError:
            pass
        deadline = time.monotonic() + 40
        for t in ths:
            t.join(max(0.1, deadline - time.monotonic()))
        check(not errors, '%d of %d tunnels failed, e.g. %s' % (len(errors), CONCURRENT,
                                                                '; '.join(errors[:3])))
        check(done[0] == CONCURRENT, 'only %d of %d tunnels finished' % (done[0], CONCURRENT))
    run('%d concurrent tunnels (SOCKS5 and -L) each verify their echo' % CONCURRENT,
        concurrent, timeout=75)

    def after():
        s = w.socks_connect(dp, '127.0.0.1', echo.port)
        s.sendall(b'ping')
        check(w.recv_exact(s, 4, 'echo') == b'ping', 'echo differs')
        s.close()
    run('a tunnel still works after the bulk and concurrency cases', after)

    suite.check_processes()
    for x in (sink, source, echo):
        x.close()


if __name__ == '__main__':
    w.main_guard(w.Suite('integrity_test'), main)
