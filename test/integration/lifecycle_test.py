#!/usr/bin/python3
"""Connection and process lifecycle: half-close both ways (a FIN travels as
a WebSocket close, the other direction keeps flowing until its own FIN)
through -L, SOCKS5 and HTTP CONNECT; a server restart under a running client
(tunnels that were open end, new ones work once the server is back); SIGTERM
with tunnels open (exit 0 promptly); --idle-timeout and --keepalive.

Interface (test/run.sh): binary from env WSFERRY (default ./build/wsferry);
everything is started here on free 127.0.0.1 ports and ended by PID; one line
per failed case; last line exactly `N passed, N failed`; exit 1 on failure.
`-v` also prints passing cases; other arguments filter case names.
"""

import hashlib
import os
import signal
import socket
import struct
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import wsfutil as w  # noqa: E402
from wsfutil import check, CaseFail  # noqa: E402

REPLY = 2 << 20  # what the far side sends after it saw our FIN


def request_then_reply_handler(c, srv):
    """Reads until EOF, then (only then) sends a reply derived from what it
    got, then closes: the far end of a client-first half-close."""
    h = hashlib.sha256()
    n = 0
    t0 = time.monotonic()
    for _ in range(1 << 20):
        d = c.recv(65536)
        if not d:
            break
        h.update(d)
        n += len(d)
    got_eof = time.monotonic() - t0
    seed = h.digest()
    reply = b''.join(hashlib.sha256(seed + i.to_bytes(4, 'big')).digest()
                     for i in range(REPLY // 32))
    try:
        c.sendall(reply)
        c.shutdown(socket.SHUT_WR)
    except OSError as e:
        srv.results.put(('error', 'sending the reply after EOF failed: %s' % e))
        return
    srv.results.put(('got', n, h.hexdigest(), w.sha(reply), got_eof))
    for _ in range(100):
        try:
            if not c.recv(65536):
                break
        except OSError:
            break


def server_first_handler(c, srv):
    """Sends a greeting then FIN first; keeps reading what the client sends
    afterwards until the client's FIN."""
    greet = os.urandom(1 << 20)
    try:
        c.sendall(greet)
        c.shutdown(socket.SHUT_WR)
    except OSError as e:
        srv.results.put(('error', 'greeting: %s' % e))
        return
    h = hashlib.sha256()
    n = 0
    for _ in range(1 << 20):
        d = c.recv(65536)
        if not d:
            break
        h.update(d)
        n += len(d)
    srv.results.put(('got', w.sha(greet), len(greet), n, h.hexdigest()))


def client_first(open_sock, far):
    s = open_sock()
    try:
        s.settimeout(20)
        data = os.urandom(3 << 20)
        s.sendall(data)
        s.shutdown(socket.SHUT_WR)
        r = far.result(20, "far side's view (EOF and data)")
        check(r[0] == 'got', 'far side: %r' % (r,))
        check(r[1] == len(data) and r[2] == w.sha(data),
              'far side got %d bytes (sent %d) %s' % (r[1], len(data),
                                                     'same digest' if r[2] == w.sha(data) else 'other digest'))
        reply = w.recv_until_eof(s, what='the reply sent after our FIN')
        check(len(reply) == REPLY, 'reply after our FIN: %d bytes, expected %d' % (len(reply), REPLY))
        check(w.sha(reply) == r[3], 'reply after our FIN differs')
    finally:
        s.close()


def server_first(open_sock, far, prefix_fn=None):
    s = open_sock()
    prefix = b''
    if isinstance(s, tuple):
        s, prefix = s
    try:
        s.settimeout(20)
        greet = prefix + w.recv_until_eof(s, what="the far side's greeting and FIN")
        data = os.urandom(2 << 20)
        try:
            s.sendall(data)   # our direction is still open
            s.shutdown(socket.SHUT_WR)
        except OSError as e:
            raise CaseFail('sending after the far side closed its direction: %s' % e)
        r = far.result(20, "far side's view")
        check(r[0] == 'got', 'far side: %r' % (r,))
        check(len(greet) == r[2] and w.sha(greet) == r[1],
              'greeting: %d bytes, expected %d' % (len(greet), r[2]))
        check(r[3] == len(data) and r[4] == w.sha(data),
              'far side got %d bytes after its FIN, expected %d' % (r[3], len(data)))
    finally:
        s.close()


def main(suite):
    far = w.TCPServer(request_then_reply_handler)
    far2 = w.TCPServer(server_first_handler)
    echo = w.TCPServer(w.echo_handler)
    sp, dp, l1, l2, lecho = w.free_ports(5)
    srv = w.start_server(sp)
    server_url = 'ws://127.0.0.1:%d' % sp
    cli = w.start_client(server_url, ['-D', str(dp), '-L', '%d:127.0.0.1:%d' % (l1, far.port),
                                      '-L', '%d:127.0.0.1:%d' % (l2, far2.port),
                                      '-L', '%d:127.0.0.1:%d' % (lecho, echo.port)],
                         wait_ports=[dp, l1, l2, lecho])
    run = suite.run

    def connect_via(port):
        s = w.connect(dp)
        s.sendall(b'CONNECT 127.0.0.1:%d HTTP/1.1\r\nHost: x\r\n\r\n' % port)
        st, hd, body, head, rest = w.read_http_response(s, 'HEAD', 'CONNECT reply')
        check(st == 200, 'CONNECT answered %d' % st)
        return s, rest

    def connect_via_nopre(port):
        s, rest = connect_via(port)
        check(rest == b'', 'unexpected bytes after 200')
        return s

    # ---- half-close ----
    run('half-close via -L: we FIN first, the far side sees EOF then replies in full',
        client_first, lambda: w.connect(l1), far)
    run('half-close via SOCKS5: we FIN first, the far side sees EOF then replies in full',
        client_first, lambda: w.socks_connect(dp, '127.0.0.1', far.port), far)
    run('half-close via HTTP CONNECT: we FIN first, reply arrives whole',
        client_first, lambda: connect_via_nopre(far.port), far)
    run('half-close via -L: the far side FINs first, our direction keeps flowing',
        server_first, lambda: w.connect(l2), far2)
    run('half-close via SOCKS5: the far side FINs first, our direction keeps flowing',
        server_first, lambda: w.socks_connect(dp, 'localhost', far2.port), far2)
    run('half-close via HTTP CONNECT: the far side FINs first, our direction keeps flowing',
        server_first, lambda: connect_via(far2.port), far2)

    def pure_fin():
        # FIN without any data: the far side sees an empty request, replies.
        s = w.connect(l1)
        try:
            s.settimeout(20)
            s.shutdown(socket.SHUT_WR)
            r = far.result(20, 'far side view')
            check(r[0] == 'got' and r[1] == 0, 'far side: %r' % (r[:2],))
            reply = w.recv_until_eof(s, what='reply')
            check(len(reply) == REPLY and w.sha(reply) == r[3], 'reply %d bytes' % len(reply))
        finally:
            s.close()
    run('half-close via -L with no data at all before the FIN', pure_fin)

    # ---- resets and descriptor hygiene ----
    def fds(pid):
        try:
            return len(os.listdir('/proc/%d/fd' % pid))
        except OSError:
            return None

    def local_reset_mid_download():
        src = w.TCPServer(w.make_source_handler(1 << 30))
        try:
            s = w.socks_connect(dp, '127.0.0.1', src.port, timeout=10)
            w.recv_exact(s, 1 << 20, 'the first MiB')
            s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack('ii', 1, 0))
            s.close()  # RST from the local application
            r = src.result(10, 'the source noticing the tunnel ended')
            check(r[0] == 'source-error', 'the source finished 1 GiB instead of being cut: %r' % (r,))
        finally:
            src.close()
    run('local application resets mid-download: the far side is cut promptly',
        local_reset_mid_download, timeout=20)

    def rst_handler(c, srv):
        c.sendall(b'partial answer')
        time.sleep(0.3)
        c.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack('ii', 1, 0))
        c.close()
        srv.results.put(('rst',))

    def far_reset():
        far_rst = w.TCPServer(rst_handler)
        lrst = w.free_port()
        c = w.start_client(server_url, ['-L', '%d:127.0.0.1:%d' % (lrst, far_rst.port)],
                           wait_ports=[lrst], name='client-rst')
        try:
            for how in ('SOCKS5', '-L'):
                if how == 'SOCKS5':
                    s = w.socks_connect(dp, '127.0.0.1', far_rst.port, timeout=10)
                else:
                    s = w.connect(lrst)
                try:
                    s.settimeout(10)
                    got = w.recv_exact(s, 14, 'data sent before the reset')
                    check(got == b'partial answer', 'data before the reset: %r' % got)
                    try:
                        tail = s.recv(100)
                        outcome = 'clean EOF' if tail == b'' else 'more bytes %r' % tail
                    except ConnectionResetError:
                        outcome = 'reset'
                    check(outcome == 'reset', '%s: the destination reset the connection, the '
                          'local application saw %s (a clean end would hide the breakage)'
                          % (how, outcome))
                finally:
                    s.close()
        finally:
            far_rst.close()
            c.stop()
    run('destination resets: the local application sees a reset, not a clean EOF', far_reset)

    def no_fd_leak():
        before = (fds(srv.pid), fds(cli.pid))
        check(None not in before, 'cannot read /proc/PID/fd')
        dead = w.refused_port()
        for i in range(300):
            k = i % 5
            if k == 0:
                s = w.socks_connect(dp, '127.0.0.1', echo.port)
                s.sendall(b'x')
                w.recv_exact(s, 1, 'echo')
                s.close()
            elif k == 1:
                s, rep = w.socks_open(dp, '127.0.0.1', dead)
                s.close()
            elif k == 2:
                s = w.connect(lecho)
                s.sendall(b'y' * 1000)
                s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack('ii', 1, 0))
                s.close()
            elif k == 3:
                s = w.connect(dp)
                s.sendall(b'\x05\x01')  # unfinished greeting, then gone
                s.close()
            else:
                s = w.connect(dp)
                s.sendall(b'GET http://127.0.0.1:%d/ HTTP/1.1\r\nHost: x\r\n\r\n' % dead)
                w.read_http_response(s, what='502')
                s.close()
        after = before
        for _ in range(50):
            after = (fds(srv.pid), fds(cli.pid))
            if after[0] <= before[0] + 2 and after[1] <= before[1] + 2:
                break
            time.sleep(0.1)
        check(after[0] <= before[0] + 2 and after[1] <= before[1] + 2,
              'open descriptors grew after 300 short tunnels: server %d -> %d, client %d -> %d'
              % (before[0], after[0], before[1], after[1]))
    run('no descriptor leak after 300 short tunnels (echo, refused, reset, abandoned, 502)',
        no_fd_leak, timeout=40)

    # ---- idle timeout and keepalive (a second client) ----
    it_d, ka_l = w.free_ports(2)
    w.start_client(server_url, ['-L', '%d:127.0.0.1:%d' % (it_d, echo.port), '--idle-timeout', '1'],
                   wait_ports=[it_d], name='client-idle')
    w.start_client(server_url, ['-L', '%d:127.0.0.1:%d' % (ka_l, echo.port),
                                '--keepalive', '200ms'], wait_ports=[ka_l], name='client-keepalive')

    def idle_timeout():
        s = w.connect(it_d)
        try:
            s.settimeout(10)
            # traffic every 300 ms keeps it open past the 1 s timeout
            for i in range(8):
                s.sendall(b'tick%d' % i)
                check(w.recv_exact(s, 5, 'echo') == b'tick%d' % i, 'echo %d' % i)
                time.sleep(0.3)
            t0 = time.monotonic()
            s.settimeout(20)
            try:
                tail = s.recv(100)
            except ConnectionResetError:
                tail = b''
            except socket.timeout:
                raise CaseFail('an idle tunnel was still open 20 s after its last byte with '
                               '--idle-timeout 1')
            took = time.monotonic() - t0
            check(tail == b'', 'bytes %r on an idle tunnel' % tail)
            check(0.5 <= took <= 6, 'an idle tunnel closed after %.1f s with --idle-timeout 1' % took)
        finally:
            s.close()
    run('--idle-timeout 1: an active tunnel stays, an idle one is closed', idle_timeout, timeout=30)

    def keepalive():
        s = w.connect(ka_l)
        try:
            s.settimeout(10)
            s.sendall(b'before')
            check(w.recv_exact(s, 6, 'echo') == b'before', 'echo before')
            time.sleep(1.5)  # several keepalive pings and pongs
            s.sendall(b'after')
            check(w.recv_exact(s, 5, 'echo') == b'after', 'echo after the pings')
        finally:
            s.close()
    run('--keepalive 200ms: pings do not disturb an idle tunnel', keepalive, timeout=20)

    # ---- server restart under a running client ----
    def restart():
        s = w.connect(lecho)
        s.settimeout(10)
        s.sendall(b'hello')
        check(w.recv_exact(s, 5, 'echo before restart') == b'hello', 'echo before restart')
        rc = srv.stop()
        check(rc == 0, 'server exit code after SIGTERM: %r' % rc)
        srv.problems_checked = True
        probs = srv.problems()
        check(not probs, '; '.join(probs))
        # the open tunnel ends (EOF or reset), it does not hang
        t0 = time.monotonic()
        try:
            tail = s.recv(100)
        except (ConnectionResetError, socket.timeout) as e:
            tail = e
        s.close()
        check(not isinstance(tail, socket.timeout),
              'a tunnel open across the server stop neither closed nor reset within 10 s')
        check(cli.alive(), 'the client exited when the server stopped:\n' + cli.tail())
        # while the server is down: a prompt failure, the client keeps running
        t0 = time.monotonic()
        s2, rep = w.socks_open(dp, '127.0.0.1', echo.port, timeout=10)
        s2.close()
        check(rep != 0, 'SOCKS5 CONNECT succeeded with the server down')
        check(time.monotonic() - t0 < 5, 'failure reply took %.1f s' % (time.monotonic() - t0))
        st, hd, body = None, None, None
        s3 = w.connect(dp)
        try:
            s3.sendall(b'GET http://127.0.0.1:%d/ HTTP/1.1\r\nHost: x\r\n\r\n' % echo.port)
            st, hd, body, head, rest = w.read_http_response(s3, what='proxy answer, server down')
        finally:
            s3.close()
        check(st == 502, 'HTTP proxy with the server down answered %d, expected 502' % st)
        check(cli.alive(), 'the client exited while the server was down:\n' + cli.tail())
        # back again on the same port
        global_srv[0] = w.start_server(sp, name='server-restarted')
        for i in range(3):
            s4 = w.socks_connect(dp, '127.0.0.1', echo.port)
            s4.sendall(b'again%d' % i)
            check(w.recv_exact(s4, 6, 'echo after restart') == b'again%d' % i, 'echo after restart')
            s4.close()
        s5 = w.connect(lecho)
        s5.sendall(b'L-again')
        check(w.recv_exact(s5, 7, '-L echo after restart') == b'L-again', '-L echo after restart')
        s5.close()
    global_srv = [None]
    run('server restart: open tunnels end, failures while down, new tunnels work after',
        restart, timeout=40)

    # ---- SIGTERM with tunnels open ----
    def sigterm_busy():
        sp2, lp2 = w.free_ports(2)
        src = w.TCPServer(w.make_source_handler(1 << 30))
        try:
            srv2 = w.start_server(sp2, name='server-sigterm')
            cli2 = w.start_client('ws://127.0.0.1:%d' % sp2, ['-L', '%d:127.0.0.1:%d' % (lp2, echo.port),
                                                              '-D', str(w.free_port())],
                                  wait_ports=[lp2], name='client-sigterm')
            socks = []
            for i in range(20):
                s = w.connect(lp2)
                s.sendall(os.urandom(100000))  # some in flight, not read back
                socks.append(s)
            time.sleep(0.3)
            for p in (cli2, srv2):
                t0 = time.monotonic()
                rc = p.stop()
                took = time.monotonic() - t0
                p.problems_checked = True
                check(rc == 0, '%s with 20 busy tunnels: exit %r after SIGTERM (%.1f s)\n%s'
                      % (p.name, rc, took, p.tail()))
                san = p.sanitizer_lines()
                check(not san, '%s: %s' % (p.name, san[:1]))
            for s in socks:
                s.close()
        finally:
            src.close()
    run('SIGTERM with 20 busy tunnels: client and server exit 0 within 3 s', sigterm_busy,
        timeout=30)

    def sigint():
        sp3 = w.free_port()
        p = w.start_server(sp3, name='server-sigint')
        os.kill(p.pid, signal.SIGINT)
        try:
            rc = p.p.wait(3)
        except Exception:
            rc = None
        p.stop()
        p.problems_checked = True
        check(rc == 0, 'server exit code after SIGINT: %r' % rc)
    run('SIGINT stops the server with exit 0', sigint)

    def frozen_server():
        fsp, fl, fd_ = w.free_ports(3)
        fsrv = w.start_server(fsp, name='server-frozen')
        fcli = w.start_client('ws://127.0.0.1:%d' % fsp, ['-D', str(fd_), '-L', '%d:127.0.0.1:%d'
                                                          % (fl, echo.port), '--keepalive', '1'],
                              wait_ports=[fd_, fl], name='client-keepalive-1')
        s = w.connect(fl)
        s.sendall(b'hi')
        check(w.recv_exact(s, 2, 'echo') == b'hi', 'echo before the freeze')
        os.kill(fsrv.pid, signal.SIGSTOP)
        res = {}

        def open_tunnel():
            t0 = time.monotonic()
            s.settimeout(30)
            try:
                res['open'] = ('bytes %r' % s.recv(10), time.monotonic() - t0)
            except ConnectionResetError:
                res['open'] = ('reset', time.monotonic() - t0)
            except socket.timeout:
                res['open'] = ('still open', time.monotonic() - t0)

        def new_tunnel():
            t0 = time.monotonic()
            try:
                s2, rep = w.socks_open(fd_, '127.0.0.1', echo.port, timeout=30)
                s2.close()
                res['new'] = (rep, time.monotonic() - t0)
            except Exception as e:
                res['new'] = (str(e), time.monotonic() - t0)
        try:
            ts = [threading.Thread(target=open_tunnel, daemon=True),
                  threading.Thread(target=new_tunnel, daemon=True)]
            for t in ts:
                t.start()
            for t in ts:
                t.join(32)
        finally:
            os.kill(fsrv.pid, signal.SIGCONT)
            s.close()
        o, n = res.get('open'), res.get('new')
        check(o and o[0] in ('reset', "bytes b''") and o[1] < 22,
              'a tunnel to a frozen server (--keepalive 1, 15 s pong deadline): %r' % (o,))
        check(n and n[0] == 1 and n[1] < 22,
              'a new tunnel while the server is frozen: %r, expected REP 0x01 within ~16 s' % (n,))
        check(fcli.alive(), 'client exited:\n' + fcli.tail())
        s3 = w.socks_connect(fd_, '127.0.0.1', echo.port, timeout=10)
        s3.sendall(b'thawed')
        check(w.recv_exact(s3, 6, 'echo after SIGCONT') == b'thawed', 'echo after the thaw')
        s3.close()
    run('a frozen server (SIGSTOP): the open tunnel is reset and a new one gets 0x01 after '
        'keepalive + 15 s; all well after SIGCONT', frozen_server, timeout=45)

    def port_env():
        port = w.free_port('0.0.0.0')
        p = w.Proc([w.WSFERRY, 'server'], 'server-PORT-env', env={'PORT': str(port)})
        w.wait_port(port, proc=p)
        found = False
        for name in ('/proc/net/tcp',):
            with open(name) as f:
                for line in f.readlines()[1:]:
                    parts = line.split()
                    if parts[3] == '0A' and parts[1] == '00000000:%04X' % port:
                        found = True
        check(found, 'with PORT=%d the server does not listen on 0.0.0.0:%d' % (port, port))
        check(p.stop() == 0, 'exit code after SIGTERM')
    run('PORT in the environment: the server listens on 0.0.0.0:$PORT', port_env)

    suite.check_processes()
    for x in (far, far2, echo):
        x.close()


if __name__ == '__main__':
    w.main_guard(w.Suite('lifecycle_test'), main)
