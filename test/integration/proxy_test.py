#!/usr/bin/python3
"""The client's proxy front ends against a local HTTP origin, end to end
through a real `wsferry server`: SOCKS5 (curl --socks5-hostname, --socks5 with
IPv4 and IPv6 literals, a raw client), HTTP CONNECT (curl -p -x), plain
absolute-URI proxying (GET, POST with a body, keep-alive), proxy
authentication (407 + Proxy-Authenticate, RFC 1929), bytes pipelined behind
the proxy request, and -L forwards.

Interface (test/run.sh): binary from env WSFERRY (default ./build/wsferry);
everything is started here on free 127.0.0.1 ports and ended by PID; one line
per failed case; last line exactly `N passed, N failed`; exit 1 on failure.
`-v` also prints passing cases; other arguments filter case names.
"""

import json
import os
import socket
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import wsfutil as w  # noqa: E402
from wsfutil import check, CaseFail, CaseSkip  # noqa: E402

USER, PASSWORD = 'alice', 's3cret:with:colons'


def hello(origin, path):
    return ('origin says hello: GET %s\n' % path).encode()


def main(suite):
    origin = w.HTTPOrigin('127.0.0.1')
    try:
        origin6 = w.HTTPOrigin('::1')
    except OSError as e:
        origin6 = None
        why6 = str(e)
    echo = w.TCPServer(w.echo_handler)
    sink_l = w.TCPServer(w.sink_handler)
    sp, dp, lp, lep, adp, lsink = w.free_ports(6)
    w.start_server(sp)
    url = 'ws://127.0.0.1:%d' % sp
    w.start_client(url, ['-D', '127.0.0.1:%d' % dp,
                         '-L', '%d:127.0.0.1:%d' % (lp, origin.port),
                         '-L', '127.0.0.1:%d:localhost:%d' % (lep, echo.port),
                         '-L', '%d:127.0.0.1:%d' % (lsink, sink_l.port)],
                   wait_ports=[dp, lp, lep, lsink])
    w.start_client(url, ['-D', str(adp), '--proxy-user', USER, '--proxy-pass', PASSWORD],
                   wait_ports=[adp], name='client-auth')
    proxy = '127.0.0.1:%d' % dp
    run = suite.run
    state = {'lsink': lsink}

    # ---- SOCKS5 with curl ----
    def socks5_hostname():
        body = w.curl_ok(['--socks5-hostname', proxy, origin.url('/a?x=1', 'localhost')])
        check(body == hello(origin, '/a?x=1'), 'body %r' % body[:80])
    run('curl --socks5-hostname (name resolved by the server: localhost)', socks5_hostname)

    def socks5_ipv4():
        body = w.curl_ok(['--socks5', proxy, origin.url('/v4')])
        check(body == hello(origin, '/v4'), 'body %r' % body[:80])
    run('curl --socks5 with an IPv4 literal', socks5_ipv4)

    def socks5_ipv6():
        if origin6 is None:
            raise CaseSkip('cannot listen on ::1 here: %s' % why6)
        body = w.curl_ok(['--socks5', proxy, origin6.url('/v6')])
        check(body == hello(origin6, '/v6'), 'body %r' % body[:80])
        body = w.curl_ok(['--socks5-hostname', proxy, origin6.url('/v6h')])
        check(body == hello(origin6, '/v6h'), 'body (socks5-hostname [::1]) %r' % body[:80])
    run('curl --socks5 with an IPv6 literal [::1]', socks5_ipv6)

    def socks5_download():
        n = 8 << 20
        body = w.curl_ok(['--socks5-hostname', proxy, origin.url('/bytes/%d?seed=7' % n)])
        check(len(body) == n, 'got %d bytes, expected %d' % (len(body), n))
        check(w.sha(body) == w.sha(w._det_bytes(n, 7)), 'SHA-256 of the 8 MiB body differs')
    run('curl --socks5-hostname: 8 MiB download intact', socks5_download)

    def socks5_raw_each_atyp():
        for host in ('127.0.0.1', 'localhost'):
            s = w.socks_connect(dp, host, echo.port)
            try:
                msg = os.urandom(1000)
                s.sendall(msg)
                check(w.recv_exact(s, len(msg), 'echo') == msg, 'echo via %s differs' % host)
            finally:
                s.close()
        if origin6 is not None:
            e6 = w.TCPServer(w.echo_handler, host='::1')
            try:
                s = w.socks_connect(dp, '::1', e6.port)
                s.sendall(b'v6 echo')
                check(w.recv_exact(s, 7, 'echo') == b'v6 echo', 'IPv6 echo differs')
                s.close()
            finally:
                e6.close()
    run('raw SOCKS5 CONNECT with ATYP IPv4, domain and IPv6', socks5_raw_each_atyp)

    def socks5_reply_shape():
        s, rep = w.socks_open(dp, '127.0.0.1', echo.port)
        s.close()
        check(rep == 0, 'REP 0x%02x' % rep)
    run('SOCKS5 success reply is a whole RFC 1928 reply with REP 0', socks5_reply_shape)

    # ---- HTTP CONNECT ----
    def http_connect_curl():
        body = w.curl_ok(['-p', '-x', 'http://' + proxy, origin.url('/tunnelled')])
        check(body == hello(origin, '/tunnelled'), 'body %r' % body[:80])
    run('curl -p -x http:// (CONNECT)', http_connect_curl)

    def http_connect_raw():
        s = w.connect(dp)
        try:
            s.sendall(b'CONNECT 127.0.0.1:%d HTTP/1.1\r\nHost: 127.0.0.1:%d\r\n\r\n'
                      % (echo.port, echo.port))
            st, hd, body, head, rest = w.read_http_response(s, 'HEAD', 'CONNECT reply')
            check(st == 200, 'CONNECT answered %d' % st)
            check(rest == b'', 'bytes after the 200 before we sent any: %r' % rest[:40])
            msg = os.urandom(5000)
            s.sendall(msg)
            check(w.recv_exact(s, len(msg), 'echo') == msg, 'echo through CONNECT differs')
        finally:
            s.close()
    run('raw HTTP CONNECT: 200 then a clean byte stream', http_connect_raw)

    # ---- plain proxy ----
    def plain_get():
        body = w.curl_ok(['-x', 'http://' + proxy, origin.url('/plain?q=1')])
        check(body == hello(origin, '/plain?q=1'), 'body %r' % body[:80])
    run('curl -x http:// plain GET', plain_get)

    def plain_post():
        data = os.urandom(3 << 20)
        path = '/tmp/wsf-post-%d.bin' % os.getpid()
        with open(path, 'wb') as f:
            f.write(data)
        try:
            out = w.curl_ok(['-x', 'http://' + proxy, '--data-binary', '@' + path,
                             '-H', 'Content-Type: application/octet-stream',
                             origin.url('/upload')], timeout=30)
        finally:
            os.unlink(path)
        got = json.loads(out)
        check(got['len'] == len(data), 'origin got %d bytes, sent %d' % (got['len'], len(data)))
        check(got['sha256'] == w.sha(data), 'origin got a different body (SHA-256)')
        out = w.curl_ok(['-x', 'http://' + proxy, '-d', 'a=1&b=2', origin.url('/form')])
        got = json.loads(out)
        check(got['len'] == 7 and got['sha256'] == w.sha(b'a=1&b=2'), 'small POST: %r' % got)
    run('curl -x http:// POST with a 3 MiB body and a small form', plain_post)

    def plain_headers():
        before = len(origin.stats['requests'])
        out = w.curl_ok(['-x', 'http://' + proxy, '-H', 'X-Test: kept',
                         origin.url('/headers')])
        h = json.loads(out)
        check(h.get('host') == '127.0.0.1:%d' % origin.port, 'Host at the origin: %r' % h.get('host'))
        check(h.get('x-test') == 'kept', 'X-Test header lost: %r' % h)
        check('proxy-connection' not in h, 'Proxy-Connection forwarded: %r' % h)
        check(len(origin.stats['requests']) > before, 'origin saw no request')
        # the origin must get origin-form, not the absolute URI
        path = origin.stats['requests'][-1][1]
        check(path == '/headers', 'origin got request target %r, expected /headers' % path)
    run('plain proxy: origin-form target, Host from the URI, end-to-end headers kept',
        plain_headers)

    def plain_keepalive_curl():
        r = w.curl(['-x', 'http://' + proxy, origin.url('/one'), origin.url('/two'),
                    '-w', '\n[%{http_code}]\n'])
        check(r.returncode == 0, 'curl exit %d: %s' % (r.returncode, r.stderr.decode().strip()))
        want = hello(origin, '/one') + b'\n[200]\n' + hello(origin, '/two') + b'\n[200]\n'
        check(r.stdout == want, 'curl output %r, expected %r' % (r.stdout, want))
    run('curl -x http:// two URLs in one run (keep-alive) both correct', plain_keepalive_curl)

    def plain_keepalive_raw():
        s = w.connect(dp)
        try:
            got = []
            for i, p in enumerate(('/ka-1', '/ka-2')):
                req = ('GET %s HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nConnection: keep-alive\r\n'
                       'User-Agent: wsferry-test\r\n\r\n' % (origin.url(p), origin.port)).encode()
                try:
                    s.sendall(req)
                except OSError as e:
                    raise CaseFail('request %d: send failed on the kept-alive connection: %s'
                                   % (i + 1, e))
                try:
                    st, hd, body, head, rest = w.read_http_response(s, what='response %d' % (i + 1))
                except CaseFail as e:
                    if i == 1 and 'closed before' in str(e):
                        raise CaseFail('response 1 was complete and did not say Connection: '
                                       'close (it said %r), yet the proxy closed the connection '
                                       'instead of answering request 2 (%s)' % (got[0], e))
                    raise
                check(st == 200, 'response %d: status %d' % (i + 1, st))
                check(body == hello(origin, p), 'response %d body %r' % (i + 1, body[:80]))
                check(rest == b'', 'response %d followed by stray bytes %r' % (i + 1, rest[:40]))
                got.append(hd.get('connection', '').lower())
                if i == 0 and got[0] == 'close':
                    # The proxy may decline keep-alive, but must then close.
                    s.settimeout(5)
                    tail = w.recv_until_eof(s, what='the close announced by Connection: close')
                    check(tail == b'', 'bytes after a Connection: close response: %r' % tail[:40])
                    raise CaseFail('the first response says Connection: close: the proxy does '
                                   'not keep the client connection alive, so the second request '
                                   'cannot go on the same connection')
        finally:
            s.close()
    run('plain proxy: two requests with Connection: keep-alive on one connection',
        plain_keepalive_raw)

    def plain_close_header():
        s = w.connect(dp)
        try:
            s.sendall(('GET %s HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n'
                       % origin.url('/closing')).encode())
            st, hd, body, head, rest = w.read_http_response(s)
            check(st == 200 and body == hello(origin, '/closing'), '%d %r' % (st, body[:60]))
            tail = w.recv_until_eof(s, what='close after Connection: close')
            check(tail == b'', 'stray bytes %r' % tail[:40])
        finally:
            s.close()
    run('plain proxy: Connection: close request answered then closed', plain_close_header)

    def plain_https_refused():
        s = w.connect(dp)
        try:
            s.sendall(b'GET https://127.0.0.1:1/ HTTP/1.1\r\nHost: 127.0.0.1:1\r\n\r\n')
            st, hd, body, head, rest = w.read_http_response(s)
            check(400 <= st < 500, 'https:// absolute URI answered %d (expected a 4xx)' % st)
        finally:
            s.close()
    run('plain proxy: GET https://... is refused with a 4xx', plain_https_refused)

    origin_b = w.HTTPOrigin('127.0.0.1')
    state['origin_b'] = origin_b

    def get_req(o, path, extra='', method='GET', version='1.1', body=b''):
        h = ('%s %s HTTP/%s\r\nHost: 127.0.0.1:%d\r\n%s' % (method, o.url(path), version,
                                                          o.port, extra))
        if body:
            h += 'Content-Length: %d\r\n' % len(body)
        return (h + '\r\n').encode() + body

    def expect(s, o, path, what, method='GET', pre=b''):
        st, hd, body, head, rest = w.read_http_response(s, method, what, pre=pre)
        check(st == 200, '%s: status %d' % (what, st))
        if method == 'HEAD':
            check(body == b'', '%s: HEAD response with a body' % what)
        else:
            check(body == hello(o, path), '%s: body %r' % (what, body[:80]))
        return rest, hd

    def plain_pipelined():
        s = w.connect(dp)
        try:
            s.sendall(get_req(origin, '/p1') + get_req(origin, '/p2') + get_req(origin, '/p3'))
            rest = b''
            for i, p in enumerate(('/p1', '/p2', '/p3')):
                rest, _ = expect(s, origin, p, 'pipelined response %d' % (i + 1), pre=rest)
            check(rest == b'', 'stray bytes after the third response: %r' % rest[:40])
        finally:
            s.close()
    run('plain proxy: three GETs pipelined in one write answered in order', plain_pipelined)

    def plain_host_change():
        s = w.connect(dp)
        try:
            for i, (o, p) in enumerate(((origin, '/h1'), (origin_b, '/h2'), (origin, '/h3'))):
                s.sendall(get_req(o, p))
                expect(s, o, p, 'response %d (host %s)' % (i + 1, 'A' if o is origin else 'B'))
        finally:
            s.close()
    run('plain proxy: one kept-alive connection, requests to host A, B, A', plain_host_change)

    def plain_host_change_pipelined():
        s = w.connect(dp)
        try:
            s.sendall(get_req(origin, '/x1') + get_req(origin_b, '/x2') + get_req(origin, '/x3'))
            rest = b''
            for i, (o, p) in enumerate(((origin, '/x1'), (origin_b, '/x2'), (origin, '/x3'))):
                rest, _ = expect(s, o, p, 'pipelined response %d' % (i + 1), pre=rest)
            check(rest == b'', 'stray bytes after the third response: %r' % rest[:40])
        finally:
            s.close()
    run('plain proxy: requests to hosts A, B, A pipelined in one write', plain_host_change_pipelined)

    def plain_head_then_get():
        s = w.connect(dp)
        try:
            s.sendall(get_req(origin, '/hd', method='HEAD'))
            expect(s, origin, '/hd', 'HEAD response', 'HEAD')
            s.sendall(get_req(origin_b, '/after-head'))
            expect(s, origin_b, '/after-head', 'GET to another host after a HEAD')
            s.sendall(get_req(origin, '/hd2', method='HEAD') + get_req(origin, '/after-head2'))
            rest, _ = expect(s, origin, '/hd2', 'pipelined HEAD', 'HEAD')
            rest, _ = expect(s, origin, '/after-head2', 'GET pipelined behind a HEAD', pre=rest)
            check(rest == b'', 'stray bytes after the GET behind a HEAD: %r' % rest[:40])
        finally:
            s.close()
    run('plain proxy: HEAD (Content-Length, no body) then GETs on the same connection',
        plain_head_then_get)

    def plain_post_then_get():
        s = w.connect(dp)
        try:
            data = os.urandom(200000)
            s.sendall(get_req(origin, '/pp1', method='POST', body=data))
            st, hd, body, head, rest = w.read_http_response(s, what='POST response')
            got = json.loads(body)
            check(st == 200 and got['len'] == len(data) and got['sha256'] == w.sha(data),
                  'POST: %d %r' % (st, got))
            s.sendall(get_req(origin_b, '/after-post'))
            expect(s, origin_b, '/after-post', 'GET to another host after a POST')
            chunks = [os.urandom(n) for n in (10, 70000, 1)]
            chunked = b''.join(b'%x\r\n' % len(c) + c + b'\r\n' for c in chunks) + b'0\r\n\r\n'
            s.sendall(('POST %s HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n'
                       % origin.url('/chunked')).encode() + chunked + get_req(origin, '/after-chunked'))
            st, hd, body, head, rest = w.read_http_response(s, what='chunked POST response')
            got = json.loads(body)
            whole = b''.join(chunks)
            check(st == 200 and got.get('len') == len(whole) and got['sha256'] == w.sha(whole),
                  'chunked POST: %d %r' % (st, got))
            rest, _ = expect(s, origin, '/after-chunked', 'GET pipelined behind a chunked POST',
                             pre=rest)
            check(rest == b'', 'stray bytes after the last response: %r' % rest[:40])
        finally:
            s.close()
    run('plain proxy: POST (length and chunked) then GETs on the same connection',
        plain_post_then_get)

    def plain_http10():
        s = w.connect(dp)
        try:
            s.sendall(get_req(origin, '/ten', version='1.0'))
            st, hd, body, head, rest = w.read_http_response(s, what='HTTP/1.0 response')
            check(st == 200 and body == hello(origin, '/ten'), '%d %r' % (st, body[:60]))
            check(w.recv_until_eof(s, what='close after an HTTP/1.0 response') == b'',
                  'bytes after the response')
        finally:
            s.close()
    run('plain proxy: an HTTP/1.0 request is answered, then the connection closes', plain_http10)

    # ---- pipelining ----
    def socks_pipelined():
        early = os.urandom(20000)
        s, rep = w.socks_open(dp, '127.0.0.1', echo.port, early=early, pipeline=True)
        try:
            check(rep == 0, 'REP 0x%02x' % rep)
            got = w.recv_exact(s, len(early), 'echo of the pipelined bytes')
            check(got == early, 'pipelined bytes came back different')
            s.sendall(b'after')
            check(w.recv_exact(s, 5, 'echo') == b'after', 'later bytes differ')
        finally:
            s.close()
    run('SOCKS5: greeting+request+20000 data bytes in one write are not lost', socks_pipelined)

    def socks_early_after_greeting():
        early = b'early bytes right behind the request\n' * 100
        s, rep = w.socks_open(dp, 'localhost', echo.port, early=early)
        try:
            check(rep == 0, 'REP 0x%02x' % rep)
            check(w.recv_exact(s, len(early), 'echo') == early, 'early bytes differ')
        finally:
            s.close()
    run('SOCKS5: data sent right behind the CONNECT request, before the reply', socks_early_after_greeting)

    def socks_pipelined_auth():
        early = os.urandom(3000)
        s, rep = w.socks_open(adp, '127.0.0.1', echo.port, user=USER, password=PASSWORD,
                              early=early, pipeline=True)
        try:
            check(rep == 0, 'REP 0x%02x' % rep)
            check(w.recv_exact(s, len(early), 'echo') == early, 'pipelined bytes differ')
        finally:
            s.close()
    run('SOCKS5 with RFC 1929: greeting+auth+request+data in one write', socks_pipelined_auth)

    def big_pipelined():
        for how in ('SOCKS5', 'CONNECT'):
            early = os.urandom(300000)
            got = b''
            if how == 'SOCKS5':
                s, rep = w.socks_open(dp, '127.0.0.1', echo.port, early=early, pipeline=True,
                                      timeout=15)
                check(rep == 0, 'REP 0x%02x' % rep)
            else:
                s = w.connect(dp, timeout=15)
                s.sendall(b'CONNECT 127.0.0.1:%d HTTP/1.1\r\nHost: x\r\n\r\n' % echo.port + early)
                st, hd, body, head, got = w.read_http_response(s, 'HEAD', 'CONNECT reply')
                check(st == 200, 'CONNECT answered %d' % st)
            try:
                got += w.recv_exact(s, len(early) - len(got), 'echo of 300 KB sent ahead')
                check(got == early, '%s: 300 KB sent ahead of the reply came back different' % how)
            finally:
                s.close()
    run('SOCKS5 and CONNECT: 300 KB sent in the same write as the request are all delivered',
        big_pipelined)

    def fin_before_reply():
        sink = w.TCPServer(w.sink_handler)
        try:
            for how in ('SOCKS5', 'CONNECT', '-L'):
                data = os.urandom(1 << 20)
                if how == '-L':
                    c = state.get('lsink')
                    s = w.connect(c, timeout=15)
                    s.sendall(data)
                elif how == 'SOCKS5':
                    s = w.connect(dp, timeout=15)
                    s.sendall(b'\x05\x01\x00' + w.socks_request('127.0.0.1', sink.port) + data)
                else:
                    s = w.connect(dp, timeout=15)
                    s.sendall(b'CONNECT 127.0.0.1:%d HTTP/1.1\r\nHost: x\r\n\r\n' % sink.port + data)
                s.shutdown(socket.SHUT_WR)  # FIN before any reply
                try:
                    if how == 'SOCKS5':
                        check(w.recv_exact(s, 2, 'method selection') == b'\x05\x00', 'selection')
                        rep = w.read_socks_reply(s)[0]
                        check(rep == 0, 'REP 0x%02x' % rep)
                        rest = b''
                    elif how == 'CONNECT':
                        st, hd, body, head, rest = w.read_http_response(s, 'HEAD', 'CONNECT reply')
                        check(st == 200, 'CONNECT answered %d' % st)
                    else:
                        rest = b''
                    r = (sink_l if how == '-L' else sink).result(15, '%s sink verdict' % how)
                    check(r[1] == len(data) and r[2] == w.sha(data),
                          '%s: the destination got %d of %d bytes sent with a FIN before the reply'
                          % (how, r[1], len(data)))
                    reply = rest + w.recv_until_eof(s, what='%s reply after our early FIN' % how)
                    check(reply == ('%d %s\n' % (len(data), w.sha(data))).encode(),
                          '%s: reply %r' % (how, reply[:80]))
                finally:
                    s.close()
        finally:
            sink.close()
    run('request + 1 MiB + FIN before any reply (SOCKS5, CONNECT, -L): all delivered, reply '
        'arrives', fin_before_reply)

    def connect_pipelined():
        early = os.urandom(10000)
        s = w.connect(dp)
        try:
            s.sendall(b'CONNECT 127.0.0.1:%d HTTP/1.1\r\nHost: x\r\n\r\n' % echo.port + early)
            st, hd, body, head, rest = w.read_http_response(s, 'HEAD', 'CONNECT reply')
            check(st == 200, 'CONNECT answered %d' % st)
            got = rest + w.recv_exact(s, len(early) - len(rest), 'echo') if len(rest) < len(early) else rest
            check(got == early, 'bytes sent behind CONNECT came back different')
        finally:
            s.close()
    run('HTTP CONNECT: data in the same write as the request is not lost', connect_pipelined)

    def plain_post_pipelined():
        data = os.urandom(100000)
        s = w.connect(dp)
        try:
            s.sendall(('POST %s HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n'
                       % (origin.url('/pp'), len(data))).encode() + data)
            st, hd, body, head, rest = w.read_http_response(s)
            check(st == 200, 'status %d' % st)
            got = json.loads(body)
            check(got['len'] == len(data) and got['sha256'] == w.sha(data),
                  'origin got %r' % got)
        finally:
            s.close()
    run('plain proxy: head and 100 KB body in one write reach the origin intact', plain_post_pipelined)

    # ---- authentication ----
    aproxy = '127.0.0.1:%d' % adp

    def http_407():
        for args in (['-x', 'http://' + aproxy, origin.url('/x')],
                     ['-x', 'http://' + aproxy, '-U', USER + ':wrong', origin.url('/x')]):
            r = w.curl(args + ['-i'])
            out = r.stdout.decode('latin-1')
            check(out.startswith('HTTP/1.1 407') or out.startswith('HTTP/1.0 407'),
                  '%s: expected 407, got %r' % (' '.join(args[2:]), out[:60]))
            low = out.lower()
            check('\r\nproxy-authenticate: basic' in low,
                  'no Proxy-Authenticate: Basic in the 407: %r' % out[:300])
        s = w.connect(adp)
        try:
            s.sendall(b'CONNECT 127.0.0.1:%d HTTP/1.1\r\nHost: x\r\n\r\n' % echo.port)
            st, hd, body, head, rest = w.read_http_response(s, what='CONNECT reply')
            check(st == 407, 'CONNECT without credentials answered %d' % st)
            check(hd.get('proxy-authenticate', '').lower().startswith('basic'),
                  'CONNECT 407 without Proxy-Authenticate: Basic')
        finally:
            s.close()
    run('HTTP proxy with credentials configured: 407 + Proxy-Authenticate without/with wrong ones',
        http_407)

    def http_auth_ok():
        body = w.curl_ok(['-x', 'http://' + aproxy, '-U', USER + ':' + PASSWORD, origin.url('/ok')])
        check(body == hello(origin, '/ok'), 'plain GET body %r' % body[:60])
        body = w.curl_ok(['-p', '-x', 'http://' + aproxy, '-U', USER + ':' + PASSWORD,
                          origin.url('/ok2')])
        check(body == hello(origin, '/ok2'), 'CONNECT body %r' % body[:60])
        out = w.curl_ok(['-x', 'http://' + aproxy, '-U', USER + ':' + PASSWORD,
                         origin.url('/headers')])
        h = json.loads(out)
        check('proxy-authorization' not in h, 'Proxy-Authorization leaked to the origin')
    run('HTTP proxy with the right credentials: GET and CONNECT work, credentials not forwarded',
        http_auth_ok)

    def socks_auth_curl():
        body = w.curl_ok(['-x', 'socks5h://%s:%s@%s' % (USER, PASSWORD.replace(':', '%3A'), aproxy),
                          origin.url('/sa')])
        check(body == hello(origin, '/sa'), 'body %r' % body[:60])
        r = w.curl(['-x', 'socks5h://%s:nope@%s' % (USER, aproxy), origin.url('/sa')])
        check(r.returncode != 0, 'curl with a wrong SOCKS password succeeded')
    run('SOCKS5 RFC 1929 via curl: right password works, wrong one fails', socks_auth_curl)

    def socks_auth_raw():
        s = w.connect(adp)
        try:
            s.sendall(b'\x05\x01\x00')
            sel = w.recv_exact(s, 2, 'method selection')
            check(sel == b'\x05\xff', 'no-auth offer answered %r, expected 05 ff' % sel)
            check(w.recv_until_eof(s) == b'', 'bytes after 05 ff')
        finally:
            s.close()
        s = w.connect(adp)
        try:
            s.sendall(b'\x05\x02\x00\x02')
            sel = w.recv_exact(s, 2, 'method selection')
            check(sel == b'\x05\x02', 'offer {0,2} answered %r, expected 05 02' % sel)
            u, p = USER.encode(), b'wrong'
            s.sendall(b'\x01' + bytes([len(u)]) + u + bytes([len(p)]) + p)
            v = w.recv_exact(s, 2, 'RFC 1929 verdict')
            check(v[0] == 1 and v[1] != 0, 'wrong password answered %r' % v)
            check(w.recv_until_eof(s) == b'', 'connection not closed after auth failure')
        finally:
            s.close()
        s, rep = w.socks_open(adp, '127.0.0.1', echo.port, user=USER, password=PASSWORD)
        try:
            check(rep == 0, 'REP 0x%02x after good auth' % rep)
            s.sendall(b'authed')
            check(w.recv_exact(s, 6, 'echo') == b'authed', 'echo after auth differs')
        finally:
            s.close()
        # without credentials configured, the no-auth method is chosen
        s = w.connect(dp)
        try:
            s.sendall(b'\x05\x02\x02\x00')
            sel = w.recv_exact(s, 2, 'method selection')
            check(sel == b'\x05\x00', 'open proxy answered %r to {2,0}, expected 05 00' % sel)
        finally:
            s.close()
    run('SOCKS5 RFC 1929 raw: 05 ff without auth offer, failure verdict then close, success',
        socks_auth_raw)

    # ---- -L ----
    def local_forward_http():
        body = w.curl_ok(['http://127.0.0.1:%d/through-L' % lp])
        check(body == hello(origin, '/through-L'), 'body %r' % body[:60])
    run('-L end to end: curl to the forwarded port reaches the origin', local_forward_http)

    def local_forward_echo():
        for i in range(3):
            s = w.connect(lep)
            try:
                msg = os.urandom(100000 + i)
                s.sendall(msg)
                check(w.recv_exact(s, len(msg), 'echo') == msg, 'echo #%d differs' % i)
                s.shutdown(socket.SHUT_WR)
                check(w.recv_until_eof(s) == b'', 'bytes after the echo')
            finally:
                s.close()
    run('-L to localhost:PORT: echo round trips and clean close', local_forward_echo)

    # ---- IPv6 listeners and a path prefix ----
    def ipv6_listeners():
        try:
            sp6, dp6 = w.free_port('::1'), w.free_port('::1')
        except OSError as e:
            raise CaseSkip('no ::1 here: %s' % e)
        w.start_server(sp6, host='::1', name='server-v6')
        p = w.Proc([w.WSFERRY, 'client', 'ws://[::1]:%d' % sp6, '-D', '[::1]:%d' % dp6], 'client-v6')
        w.wait_port(dp6, '::1', proc=p)
        body = w.curl_ok(['--socks5-hostname', '[::1]:%d' % dp6, origin.url('/six')])
        check(body == hello(origin, '/six'), 'body %r' % body[:60])
        body = w.curl_ok(['-x', 'http://[::1]:%d' % dp6, origin.url('/six-plain')])
        check(body == hello(origin, '/six-plain'), 'plain body %r' % body[:60])
    run('server on ws://[::1]:PORT, client -D [::1]:PORT', ipv6_listeners)

    def path_prefix():
        psp, pdp, bdp = w.free_ports(3)
        w.start_server(psp, path='/s3cr3t', name='server-prefix')
        w.start_client('ws://127.0.0.1:%d/s3cr3t' % psp, ['-D', str(pdp)], wait_ports=[pdp],
                       name='client-prefix')
        body = w.curl_ok(['--socks5-hostname', '127.0.0.1:%d' % pdp, origin.url('/pre')])
        check(body == hello(origin, '/pre'), 'body %r' % body[:60])
        bad = w.start_client('ws://127.0.0.1:%d/wrong' % psp, ['-D', str(bdp)], wait_ports=[bdp],
                             name='client-wrong-prefix')
        s, rep = w.socks_open(bdp, '127.0.0.1', echo.port)
        s.close()
        check(rep == 1, 'wrong path: REP 0x%02x, expected 0x01' % rep)
        time.sleep(0.2)
        log = bad.stderr_text().lower()
        check('path' in log or 'key' in log, 'the client does not say what probably went wrong:\n'
              + bad.tail())
        r = w.curl(['-i', 'http://127.0.0.1:%d/s3cr3t' % psp])
        check(r.stdout == b'' and r.returncode == 52,
              'plain GET of the tunnel path: %d bytes, curl exit %d' % (len(r.stdout), r.returncode))
    run('server on a path prefix: the right path works, a wrong one gets 0x01 and a log line, '
        'a plain GET of the path gets nothing', path_prefix)

    def non_loopback_warning():
        port = w.free_port('0.0.0.0')
        p = w.start_client('ws://127.0.0.1:%d' % sp, ['-D', '0.0.0.0:%d' % port], wait_ports=[port],
                           name='client-0.0.0.0')
        time.sleep(0.1)
        check('warn' in p.stderr_text().lower(),
              'no warning for a proxy on 0.0.0.0 without --proxy-user:\n' + p.tail())
        p.stop()
    run('-D 0.0.0.0:PORT without credentials starts with a warning', non_loopback_warning)

    suite.check_processes()
    origin.close()
    origin_b.close()
    if origin6:
        origin6.close()
    echo.close()
    sink_l.close()


if __name__ == '__main__':
    w.main_guard(w.Suite('proxy_test'), main)
