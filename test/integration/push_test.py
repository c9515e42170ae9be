#!/usr/bin/python3
"""push_test.py — `wsferry server --push PATH` (issue 13) against real peers:
python3-websockets subscribers and curl POSTs. The API key's statuses (401
without or with a wrong key, 413 over the size limit, 400 for bad JSON, bad
UTF-8, no message or a bad topic, 405 for other methods) and that a refusal
delivers nothing; topics; CORS and its preflight; stealth kept on every other
path; the startup refusals (no key, a placeholder, the tunnel key, --workers);
the key never in /proc/PID/environ; connection log lines, the per-IP limit;
a subscriber that never reads closed with a log line while the others get
every message, and memory flat across 10,000 messages.

Interface (test/run.sh): binary from env WSFERRY; servers on free 127.0.0.1
ports, stopped by PID; one line per failed case; last line exactly
`N passed, N failed`. `-v` prints passes; other arguments filter cases.
"""

import asyncio
import json
import os
import re
import socket
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import wsfutil as w  # noqa: E402
from wsfutil import check, CaseFail  # noqa: E402

import websockets  # noqa: E402  (python3-websockets, installed by test/deps.sh)

KEY = 'pk-' + 'Q7f2LmZ9rT4xW1vB8nK3'
TUNNEL_KEY = 'bX0m4Jd0Qm7m1lR2b0m5lqX7a3fZ8c1n4Vq2pL9sYtE'


def start(extra=(), env=None, port=None, name='push'):
    port = port or w.free_port()
    e = {'WSFERRY_PUSH_KEY': KEY}
    e.update(env or {})
    p = w.Proc([w.WSFERRY, 'server', 'ws://127.0.0.1:%d' % port, '--push', '/push'] +
               list(extra), name, env=e)
    w.wait_port(port, proc=p)
    return p, port


def post(port, body, key=KEY, ctype='application/json', path='/push', extra=()):
    """(status, body) of a curl POST; body bytes go through a file (no shell)."""
    args = ['-o', '-', '-w', '\n%{http_code}', '-X', 'POST', '--data-binary', '@-']
    if key is not None:
        args += ['-H', 'X-API-KEY: ' + key]
    if ctype:
        args += ['-H', 'Content-Type: ' + ctype]
    for h in extra:
        args += ['-H', h]
    args.append('http://127.0.0.1:%d%s' % (port, path))
    import subprocess
    r = subprocess.run(['curl', '-sS', '--max-time', '10'] + args, input=body if
                       isinstance(body, bytes) else body.encode(), capture_output=True,
                       timeout=20)
    out = r.stdout.decode('utf-8', 'replace')
    text, _, code = out.rpartition('\n')
    check(code.isdigit(), 'curl gave no status: %r %r' % (out[-200:], r.stderr[-200:]))
    return int(code), text


def raw_request(port, head, body=b''):
    """(status, headers, body) of one raw HTTP request."""
    s = w.connect(port)
    try:
        s.sendall(head.encode() + body)
        st, hdrs, b, _, _ = w.read_http_response(s)
        return st, hdrs, b
    finally:
        s.close()


def run(coro, timeout=20):
    return asyncio.run(asyncio.wait_for(coro, timeout))


async def subscribe(port, n, path='/push'):
    return [await websockets.connect('ws://127.0.0.1:%d%s' % (port, path), ping_interval=None)
            for _ in range(n)]


async def recv_json(ws, what='a pushed message', t=w.T):
    try:
        return json.loads(await asyncio.wait_for(ws.recv(), t))
    except asyncio.TimeoutError:
        raise CaseFail('timeout waiting for %s' % what)


async def nothing_within(ws, t=0.3):
    try:
        m = await asyncio.wait_for(ws.recv(), t)
    except asyncio.TimeoutError:
        return
    raise CaseFail('a subscriber got %r, expected nothing' % m)


def wait_log(p, pattern, t=5.0):
    rx = re.compile(pattern)
    for _ in range(int(t / 0.05) + 1):
        if rx.search(p.stderr_text()):
            return
        time.sleep(0.05)
    raise CaseFail('no log line matching %r in:\n%s' % (pattern, p.tail(10)))


# ---------------------------------------------------------------- cases

def case_three_subscribers():
    p, port = start()

    async def go():
        subs = await subscribe(port, 3)
        loop = asyncio.get_running_loop()
        st, body = await loop.run_in_executor(
            None, post, port, json.dumps({'message': 'hello, ü', 'sender': 'backend'}))
        check(st == 200 and json.loads(body) == {'ok': True, 'delivered': 3},
              'POST answered %d %r' % (st, body))
        for ws in subs:
            m = await recv_json(ws)
            check(m['message'] == 'hello, ü' and m['sender'] == 'backend' and m['topic'] is None,
                  'subscriber got %r' % m)
            check(re.match(r'^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$', m['time']),
                  'time %r is not UTC ISO-8601' % m['time'])
        # a text/plain body is the message; a JSON message may be any value
        st, _ = await loop.run_in_executor(None, post, port, 'plain words', KEY, 'text/plain')
        check(st == 200, 'text/plain POST answered %d' % st)
        for ws in subs:
            m = await recv_json(ws)
            check(m['message'] == 'plain words' and m['sender'] is None, 'got %r' % m)
        st, _ = await loop.run_in_executor(None, post, port, '{"message": {"n": [1, 2]}}')
        check(st == 200, 'object message answered %d' % st)
        m = await recv_json(subs[0])
        check(m['message'] == {'n': [1, 2]}, 'got %r' % m)
        for ws in subs:
            await ws.close()
    run(go())


def case_refusals_deliver_nothing():
    p, port = start(['--push-max-message', '1K'])

    async def go():
        subs = await subscribe(port, 2)
        loop = asyncio.get_running_loop()
        cases = [
            ('wrong key', dict(body='{"message":"x"}', key='wrong-' + KEY), 401),
            ('missing key', dict(body='{"message":"x"}', key=None), 401),
            ('oversize', dict(body=json.dumps({'message': 'x' * 2000})), 413),
            ('bad JSON', dict(body='{"message": "x"'), 400),
            ('not an object', dict(body='["message"]'), 400),
            ('no message', dict(body='{"sender": "x"}'), 400),
            ('bad UTF-8 in JSON', dict(body=b'{"message": "\xff\xfe"}'), 400),
            ('bad UTF-8 text', dict(body=b'caf\xc3', ctype='text/plain'), 400),
            ('sender not a string', dict(body='{"message": "x", "sender": 5}'), 400),
            ('bad topic', dict(body='{"message": "x"}', path='/push?topic=a%2Fb'), 400),
        ]
        for name, kw, want in cases:
            body = kw.pop('body')
            st, text = await loop.run_in_executor(None, lambda: post(port, body, **kw))
            check(st == want, '%s: answered %d %r, expected %d' % (name, st, text, want))
            check(text.startswith('{"error":'), '%s: body %r' % (name, text))
        for method in ('PUT', 'DELETE', 'PATCH'):
            st, hdrs, _ = await loop.run_in_executor(None, raw_request, port,
                                                     '%s /push HTTP/1.1\r\nHost: x\r\n'
                                                     'Content-Length: 0\r\n\r\n' % method)
            check(st == 405 and 'POST' in hdrs.get('allow', ''), '%s answered %d' % (method, st))
        for ws in subs:
            await nothing_within(ws)
        st, _ = await loop.run_in_executor(None, post, port, '{"message":"after"}')
        check(st == 200, 'the valid POST answered %d' % st)
        for ws in subs:
            m = await recv_json(ws)
            check(m['message'] == 'after', 'the first message after the refusals is %r' % m)
            await ws.close()
    run(go())
    check('401' in p.stderr_text(), 'no log line for the 401s')
    check(KEY not in p.stderr_text(), 'the API key is in the log')


def case_topics():
    p, port = start()

    async def go():
        news = (await subscribe(port, 1, '/push?topic=news'))[0]
        other = (await subscribe(port, 1, '/push?topic=sport'))[0]
        plain = (await subscribe(port, 1))[0]
        loop = asyncio.get_running_loop()
        st, body = await loop.run_in_executor(
            None, lambda: post(port, '{"message":"n"}', path='/push?topic=news'))
        check(st == 200 and json.loads(body)['delivered'] == 1, 'topic POST: %d %r' % (st, body))
        m = await recv_json(news)
        check(m['topic'] == 'news' and m['message'] == 'n', 'news got %r' % m)
        await nothing_within(other)
        await nothing_within(plain)
        st, body = await loop.run_in_executor(None, post, port, '{"message":"d"}')
        check(json.loads(body)['delivered'] == 1, 'default channel POST: %r' % body)
        m = await recv_json(plain)
        check(m['topic'] is None, 'default channel got %r' % m)
        await nothing_within(news, 0.2)
        for ws in (news, other, plain):
            await ws.close()
    run(go())
    # a bad topic on a subscriber is refused with 400 (a public path)
    st, _, _ = raw_request(port, 'GET /push?topic=%%zz HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\n'
                           'Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n'
                           'Sec-WebSocket-Version: 13\r\n\r\n')
    check(st == 400, 'bad subscriber topic answered %d' % st)


def case_cors():
    p, port = start(['--push-origin', 'https://app.example.com',
                     '--push-origin', 'http://127.0.0.1:9'])
    pre = ('OPTIONS /push HTTP/1.1\r\nHost: x\r\nOrigin: %s\r\n'
           'Access-Control-Request-Method: POST\r\n'
           'Access-Control-Request-Headers: content-type, x-api-key\r\n\r\n')
    st, h, _ = raw_request(port, pre % 'https://app.example.com')
    check(st == 204, 'preflight answered %d' % st)
    check(h.get('access-control-allow-origin') == 'https://app.example.com',
          'preflight Allow-Origin: %r' % h.get('access-control-allow-origin'))
    check('x-api-key' in h.get('access-control-allow-headers', '').lower() and
          'POST' in h.get('access-control-allow-methods', ''), 'preflight headers %r' % h)
    st, h, _ = raw_request(port, pre % 'https://evil.example.net')
    check(st == 403 and 'access-control-allow-origin' not in h,
          'preflight from another origin answered %d %r' % (st, h))
    body = b'{"message":"c"}'
    head = ('POST /push HTTP/1.1\r\nHost: x\r\nOrigin: %s\r\nX-API-KEY: %s\r\n'
            'Content-Type: application/json\r\nContent-Length: %d\r\n\r\n')
    st, h, _ = raw_request(port, head % ('http://127.0.0.1:9', KEY, len(body)), body)
    check(st == 200 and h.get('access-control-allow-origin') == 'http://127.0.0.1:9',
          'POST from an allowed origin: %d %r' % (st, h))
    st, h, _ = raw_request(port, head % ('https://evil.example.net', KEY, len(body)), body)
    check('access-control-allow-origin' not in h, 'another origin got CORS headers: %r' % h)


def case_stealth_elsewhere():
    p, port = start()
    for req in ('GET / HTTP/1.1\r\nHost: x\r\n\r\n',
                'POST /push2 HTTP/1.1\r\nHost: x\r\nX-API-KEY: %s\r\nContent-Length: 0\r\n\r\n' % KEY,
                'GET /pushx HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\n\r\n'):
        s = w.connect(port)
        s.sendall(req.encode())
        got = w.recv_until_eof(s, what='the stealth close')
        s.close()
        check(got == b'', '%r answered %r (stealth drop expected)' % (req.split('\r\n')[0], got[:60]))


def case_startup_refusals():
    import subprocess
    port = w.free_port()
    base = [w.WSFERRY, 'server', 'ws://127.0.0.1:%d' % port, '--push', '/push']
    tmp = w.tempfile.mkdtemp(prefix='wsf-push-')
    kf = os.path.join(tmp, 'key')
    cases = [
        ('no key', base, {}, 'API key'),
        ('short key', base, {'WSFERRY_PUSH_KEY': 'short'}, 'shorter'),
        ('placeholder', base, {'WSFERRY_PUSH_KEY': 'your-api-key-goes-here'}, 'placeholder'),
        ('tunnel key', base + ['--key', TUNNEL_KEY], {'WSFERRY_PUSH_KEY': TUNNEL_KEY}, 'tunnel key'),
        ('workers', base + ['--workers', '2'], {'WSFERRY_PUSH_KEY': KEY}, 'workers'),
        ('missing key file', base + ['--push-key-file', os.path.join(tmp, 'nope')], {}, 'nope'),
        ('option without --push', [w.WSFERRY, 'server', 'ws://127.0.0.1:%d' % port,
                                   '--push-origin', '*'], {}, '--push'),
    ]
    env0 = {k: v for k, v in os.environ.items() if k != 'WSFERRY_PUSH_KEY'}
    for name, args, env, word in cases:
        e = dict(env0)
        e.update(env)
        r = subprocess.run(args, env=e, capture_output=True, timeout=10)
        err = r.stderr.decode(errors='replace')
        check(r.returncode == 2, '%s: exit %d, expected 2 (%s)' % (name, r.returncode, err.strip()))
        check(word in err, '%s: message %r does not mention %r' % (name, err.strip(), word))
    with open(kf, 'w') as f:
        f.write(KEY + '\n')
    p = w.Proc(base + ['--push-key-file', kf], 'keyfile', env={'WSFERRY_PUSH_KEY': ''})
    w.wait_port(port, proc=p)
    st, _ = post(port, '{"message":"k"}')
    check(st == 200, 'key from --push-key-file: POST answered %d' % st)
    p.stop()


def case_key_not_in_environ():
    p, port = start()
    with open('/proc/%d/environ' % p.pid, 'rb') as f:
        env = f.read()
    check(KEY.encode() not in env, 'the API key is readable in /proc/PID/environ')
    st, _ = post(port, '{"message":"e"}')
    check(st == 200, 'POST after wiping the environment answered %d' % st)


def case_logs_and_per_ip_limit():
    p, port = start(['--push-max-per-ip', '3'])

    async def go():
        subs = await subscribe(port, 3)
        wait_log(p, r'c\d+ push: connected: c\d+ from 127\.0\.0\.1 \(total 3\)')
        try:
            await websockets.connect('ws://127.0.0.1:%d/push' % port)
            raise CaseFail('a 4th subscriber from one address was accepted (limit 3)')
        except websockets.exceptions.InvalidStatusCode as e:
            check(e.status_code == 429, '4th subscriber answered %d' % e.status_code)
        wait_log(p, r'already holds 3 subscribers \(--push-max-per-ip\)')
        await subs[0].close()
        wait_log(p, r'c\d+ push: disconnected: c\d+ \(remaining 2\)')
        again = await websockets.connect('ws://127.0.0.1:%d/push' % port)
        wait_log(p, r'connected: c\d+ from 127\.0\.0\.1 \(total 3\)')
        await again.close()
        for ws in subs[1:]:
            await ws.close()
    run(go())


def case_ipv6_address():
    """Push names and counts the client as the server does: over IPv6 the
    connected line, the per-IP refusal and --max-conns-per-ip's refusal all
    say ::1 (no port, no brackets)."""
    port = w.free_port('::1')
    p = w.Proc([w.WSFERRY, 'server', 'ws://[::1]:%d' % port, '--push', '/push',
                '--push-max-per-ip', '1', '--max-conns-per-ip', '2'], 'push6',
               env={'WSFERRY_PUSH_KEY': KEY})
    w.wait_port(port, host='::1', proc=p)

    async def go():
        one = await websockets.connect('ws://[::1]:%d/push' % port, ping_interval=None)
        wait_log(p, r'c\d+ push: connected: c\d+ from ::1 \(total 1\)')
        try:
            await websockets.connect('ws://[::1]:%d/push' % port)
            raise CaseFail('a 2nd subscriber from ::1 was accepted (limit 1)')
        except websockets.exceptions.InvalidStatusCode as e:
            check(e.status_code == 429, '2nd subscriber answered %d' % e.status_code)
        wait_log(p, r'push: ::1 already holds 1 subscribers \(--push-max-per-ip\)')
        # the subscriber and one idle connection fill --max-conns-per-ip 2
        idle = socket.create_connection(('::1', port))
        third = socket.create_connection(('::1', port))
        wait_log(p, r': ::1 already holds 2 connections \(--max-conns-per-ip\)')
        idle.close()
        third.close()
        await one.close()
    run(go())


def post_many(port, n, size, threads=4):
    """n POSTs of size-byte messages, over fresh connections, in threads."""
    body = json.dumps({'message': 'm' * size}).encode()
    head = ('POST /push HTTP/1.1\r\nHost: x\r\nX-API-KEY: %s\r\nContent-Type: application/json\r\n'
            'Content-Length: %d\r\n\r\n' % (KEY, len(body))).encode()
    errors = []

    def worker(k):
        for _ in range(k):
            try:
                s = w.connect(port)
                s.sendall(head + body)
                st, _, _, _, _ = w.read_http_response(s)
                s.close()
                if st != 200:
                    errors.append(st)
            except Exception as e:  # noqa: BLE001 (reported below)
                errors.append(repr(e))
                return
    ts = [threading.Thread(target=worker, args=(n // threads,)) for _ in range(threads)]
    for t in ts:
        t.start()
    for t in ts:
        t.join(120)
    check(not errors, 'POSTs failed: %r' % errors[:3])


def case_slow_subscriber():
    """One subscriber never reads (a 4 KiB receive buffer): it is closed with
    a log line; a reading one gets all 10,000 messages in order; RSS stays
    flat between the first 2,000 messages and the last."""
    # ASan's quarantine keeps freed blocks for a while: without it, what is
    # measured is our memory, not the sanitizer's.
    asan = os.environ.get('ASAN_OPTIONS', '')
    p, port = start(env={'ASAN_OPTIONS': (asan + ':' if asan else '') +
                         'quarantine_size_mb=0:thread_local_quarantine_size_kb=0'})
    stuck = socket.socket()
    stuck.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    stuck.settimeout(5)
    stuck.connect(('127.0.0.1', port))
    stuck.sendall(b'GET /push HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n'
                  b'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n')
    got = []
    done = threading.Event()

    def reader():
        async def go():
            ws = (await subscribe(port, 1))[0]
            ready.set()
            for _ in range(10000):
                m = json.loads(await asyncio.wait_for(ws.recv(), 30))
                got.append(m['message'])
            await ws.close()
        try:
            asyncio.run(go())
        finally:
            done.set()
    ready = threading.Event()
    t = threading.Thread(target=reader, daemon=True)
    t.start()
    check(ready.wait(10), 'the reading subscriber did not connect')
    post_many(port, 2000, 1000)
    rss1 = w.rss_kib(p.pid)
    post_many(port, 8000, 1000)
    rss2 = w.rss_kib(p.pid)
    check(done.wait(60), 'the reading subscriber got %d of 10000 messages' % len(got))
    check(len(got) == 10000, 'the reading subscriber got %d of 10000' % len(got))
    wait_log(p, r'c\d+ push: subscriber is not reading \(\d+ bytes queued\): closed')
    slack = 4096 if w.is_sanitized() else 1024
    check(rss2 - rss1 <= slack, 'RSS grew from %d to %d KiB over 8,000 messages' % (rss1, rss2))
    stuck.close()


def sqlite_rows(db):
    import subprocess
    exe = w.require_peer('sqlite3', 'sqlite3')
    r = subprocess.run([exe, '-json', db, 'SELECT time, ip, topic, sender, message, json '
                        'FROM messages ORDER BY id'], capture_output=True, timeout=10)
    check(r.returncode == 0, 'sqlite3 CLI: %r' % r.stderr)
    return json.loads(r.stdout or b'[]')


def case_sqlite_log():
    tmp = w.tempfile.mkdtemp(prefix='wsf-push-db-')
    db = os.path.join(tmp, 'push.db')
    port = w.free_port()
    p, _ = start(['--push-db', db], port=port)
    for body, kw in (('{"message":"one","sender":"billing"}', {}),
                     ('{"message":"bad"}', {'key': 'wrong-' + KEY}),
                     ('{"message": "x"', {}),
                     ('two \u00e9', {'ctype': 'text/plain'}),
                     ('{"message":{"n":3}}', {})):
        post(port, body, **kw)
    post(port, '{"message":"on a topic"}', path='/push?topic=news')
    p.stop()
    rows = sqlite_rows(db)
    check(len(rows) == 4, 'after the first run: %d rows, expected 4: %r' % (len(rows), rows))
    check(rows[0]['message'] == 'one' and rows[0]['sender'] == 'billing' and
          rows[0]['ip'] == '127.0.0.1' and rows[0]['topic'] is None, 'row 1: %r' % rows[0])
    check(re.match(r'^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$', rows[0]['time']),
          'time %r is not UTC ISO-8601' % rows[0]['time'])
    check(rows[1]['message'] == 'two \u00e9' and rows[1]['sender'] is None, 'row 2: %r' % rows[1])
    check(rows[2]['json'] == 1 and json.loads(rows[2]['message']) == {'n': 3}, 'row 3: %r' % rows[2])
    check(rows[3]['topic'] == 'news', 'row 4: %r' % rows[3])
    # rows survive a restart, and new ones follow them
    p, _ = start(['--push-db', db], port=port, name='push-again')
    post(port, '{"message":"three"}')
    p.stop()
    rows = sqlite_rows(db)
    check(len(rows) == 5 and rows[4]['message'] == 'three', 'after a restart: %r' % rows)


def case_sqlite_unwritable():
    import subprocess
    port = w.free_port()
    for path in ('/nonexistent-dir/push.db', '/proc/version'):
        r = subprocess.run([w.WSFERRY, 'server', 'ws://127.0.0.1:%d' % port, '--push', '/push',
                            '--push-db', path], env=dict(os.environ, WSFERRY_PUSH_KEY=KEY),
                           capture_output=True, timeout=10)
        err = r.stderr.decode(errors='replace')
        check(r.returncode == 2 and '--push-db' in err,
              '--push-db %s: exit %d %r, expected 2 naming --push-db' % (path, r.returncode, err))


def case_socketio():
    """An unchanged socket.io-client (npm) gets pushed messages as events."""
    import subprocess
    node = w.require_peer('node', 'nodejs')
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    mods = os.path.join(root, 'test', 'npm', 'node_modules')
    check(os.path.isdir(os.path.join(mods, 'socket.io-client')),
          'missing test peer: npm socket.io-client in test/npm (`sh test/deps.sh test`)')
    p, port = start()
    procs = []
    for topic in ('', 'news'):
        env = dict(os.environ, URL='http://127.0.0.1:%d' % port, TOPIC=topic, COUNT='2',
                   NODE_PATH=mods)
        procs.append(subprocess.Popen([node, os.path.join(os.path.dirname(
            os.path.abspath(__file__)), 'push_sio.js')], env=env, stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT))
    wait_log(p, r'connected: c\d+ from 127\.0\.0\.1 \(Socket\.IO\) \(total [12]\)')
    wait_log(p, r'\(Socket\.IO\) topic news \(total [12]\)')
    for body, path in (('{"message":"to sio","sender":"s"}', '/push'),
                       ('{"message":{"k":1}}', '/push'),
                       ('{"message":"news 1"}', '/push?topic=news'),
                       ('{"message":"news 2"}', '/push?topic=news')):
        st, _ = post(port, body, path=path)
        check(st == 200, 'POST answered %d' % st)
    outs = []
    for pr in procs:
        try:
            out, _ = pr.communicate(timeout=20)
        except subprocess.TimeoutExpired:
            pr.kill()
            out, _ = pr.communicate()
        outs.append((pr.returncode, out.decode(errors='replace').strip().split('\n')))
    rc, lines = outs[0]
    check(rc == 0 and lines[0].startswith('connected '), 'socket.io-client: %r' % (outs[0],))
    msgs = [json.loads(l) for l in lines[1:]]
    check(msgs[0]['message'] == 'to sio' and msgs[0]['sender'] == 's' and
          msgs[1]['message'] == {'k': 1}, 'socket.io-client got %r' % msgs)
    rc, lines = outs[1]
    check(rc == 0 and [json.loads(l)['message'] for l in lines[1:]] == ['news 1', 'news 2'],
          'socket.io-client on topic news: %r' % (outs[1],))
    # the polling transport and old protocol versions get a clear 400
    st, h, b = raw_request(port, 'GET /socket.io/?EIO=4&transport=polling HTTP/1.1\r\nHost: x\r\n\r\n')
    check(st == 400 and b'websocket' in b, 'polling answered %d %r' % (st, b))
    st, h, b = raw_request(port, 'GET /socket.io/?EIO=3&transport=polling HTTP/1.1\r\nHost: x\r\n\r\n')
    check(st == 400 and b'"code":5' in b, 'EIO=3 answered %d %r' % (st, b))


def case_socketio_off():
    p, port = start(['--push-socketio', 'off'])
    s = w.connect(port)
    s.sendall(b'GET /socket.io/?EIO=4&transport=polling HTTP/1.1\r\nHost: x\r\n\r\n')
    check(w.recv_until_eof(s) == b'', '--push-socketio off: /socket.io/ still answered')
    s.close()


def main(s):
    peer = w.require_peer('curl', 'curl')
    del peer
    s.run('three python3-websockets subscribers receive a curl POST', case_three_subscribers)
    s.run('wrong/missing key, oversize, bad JSON/UTF-8, 405: statuses, nothing delivered',
          case_refusals_deliver_nothing)
    s.run('?topic= channels', case_topics)
    s.run('CORS for --push-origin, preflight answered', case_cors)
    s.run('stealth kept on every other path', case_stealth_elsewhere)
    s.run('startup refusals: no key, placeholder, tunnel key, --workers (exit 2)',
          case_startup_refusals)
    s.run('the API key is wiped from /proc/PID/environ', case_key_not_in_environ)
    s.run('connected/disconnected log lines, --push-max-per-ip', case_logs_and_per_ip_limit)
    s.run('IPv6: push names and limits ::1 as the rest of the server does', case_ipv6_address)
    s.run('--push-db: rows with sender, IP and UTC time, read by the sqlite3 CLI after a '
          'restart; refusals write nothing', case_sqlite_log)
    s.run('--push-db on an unwritable path is a startup error', case_sqlite_unwritable)
    s.run('socket.io-client (npm, websocket transport) receives pushes as events; polling '
          'refused with 400', case_socketio)
    s.run('--push-socketio off: /socket.io/ follows --stealth', case_socketio_off)
    s.run('a subscriber that never reads is closed; memory flat over 10,000 messages',
          case_slow_subscriber, timeout=150)


if __name__ == '__main__':
    w.main_guard(w.Suite('push_test', file_limit=240), main)
