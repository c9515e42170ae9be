#!/usr/bin/python3
"""push_pages_test.py — the push admin page (--admin PATH with a password
file) and demo page (--push-demo PATH), driven in headless Debian chromium by
npm puppeteer-core (test/push_browser.js): 401 without the password; login;
the live subscriber count; the latest messages read from --push-db after a
restart; a message sent from the form arriving at a python3-websockets
subscriber; a toast after a POST; screenshots saved (in $WSF_SCREENSHOTS,
default build/screenshots). Also: the admin page over plain http from a
non-loopback address is refused, the pages' bytes stay small.

Interface (test/run.sh): binary from env WSFERRY; last line exactly
`N passed, N failed`; `-v` prints passes.
"""

import asyncio
import json
import os
import subprocess
import sys
import threading

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import wsfutil as w  # noqa: E402
from wsfutil import check  # noqa: E402

import websockets  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
KEY = 'pk-pages-7Hq2mZ81xR4tVw'
PASSWORD = 'admin-pw-4f9c1e7b'


def case_pages():
    node = w.require_peer('node', 'nodejs')
    chromium = w.require_peer('chromium', 'chromium', '/usr/bin/chromium')
    npm_dir = os.path.join(ROOT, 'test', 'npm', 'node_modules')
    check(os.path.isdir(os.path.join(npm_dir, 'puppeteer-core')),
          'missing test peer: npm puppeteer-core in test/npm (`sh test/deps.sh test`)')
    tmp = w.tempfile.mkdtemp(prefix='wsf-pages-')
    pw = os.path.join(tmp, 'pw')
    with open(pw, 'w') as f:
        f.write(PASSWORD + '\n')
    db = os.path.join(tmp, 'push.db')
    shots = os.environ.get('WSF_SCREENSHOTS', os.path.join(ROOT, 'build', 'screenshots'))
    os.makedirs(shots, exist_ok=True)
    port = w.free_port()
    args = [w.WSFERRY, 'server', 'ws://127.0.0.1:%d' % port, '--push', '/push', '--push-db', db,
            '--push-demo', '/demo', '--admin', '/admin', '--admin-password-file', pw]
    # a message in the database before a restart: the admin lists it after
    p = w.Proc(args, 'pages-first', env={'WSFERRY_PUSH_KEY': KEY})
    w.wait_port(port, proc=p)
    r = w.curl(['-o', '/dev/null', '-w', '%{http_code}', '-H', 'X-API-KEY: ' + KEY, '-d',
                '{"message":"written before the restart","sender":"history"}',
                'http://127.0.0.1:%d/push' % port])
    check(r.stdout == b'200', 'first POST answered %r' % r.stdout)
    p.stop()
    p = w.Proc(args, 'pages', env={'WSFERRY_PUSH_KEY': KEY})
    w.wait_port(port, proc=p)

    got, ready = [], threading.Event()

    def subscriber():
        async def go():
            ws = await websockets.connect('ws://127.0.0.1:%d/push' % port, ping_interval=None)
            ready.set()
            try:
                for _ in range(10):
                    got.append(json.loads(await asyncio.wait_for(ws.recv(), 60)))
            except Exception:  # noqa: BLE001 (the case checks what arrived)
                pass
            await ws.close()
        asyncio.run(go())
    t = threading.Thread(target=subscriber, daemon=True)
    t.start()
    check(ready.wait(10), 'the python subscriber did not connect')
    env = dict(os.environ, BASE='http://127.0.0.1:%d' % port, KEY=KEY, PASSWORD=PASSWORD,
               SHOTS=shots, CHROMIUM=chromium, NODE_PATH=npm_dir)
    r = subprocess.run([node, os.path.join(HERE, 'push_browser.js')], env=env,
                       capture_output=True, timeout=90, cwd=tmp)
    lines = r.stdout.decode(errors='replace').strip().split('\n')
    try:
        out = json.loads(lines[-1])
    except ValueError:
        out = {'ok': False, 'error': 'no JSON from the browser script: %r %r'
               % (lines[-3:], r.stderr[-400:])}
    check(out.get('ok'), 'browser: %s (so far: %r)' % (out.get('error'), out))
    check(out['anonymous_status'] == 401 and 'Basic' in (out['anonymous_challenge'] or ''),
          'admin without the password: %r' % out)
    check(out['admin_status'] == 200 and out['count'] == '2', 'admin count: %r' % out)
    check(out['list_rows'] >= 1, 'admin list: %r' % out)
    check(out['post_status'] == 200 and any('a toast from a POST' in x for x in out['toasts']),
          'toast: %r' % out)
    for _ in range(100):
        if any(m.get('message') == 'sent from the admin form' for m in got):
            break
        w.time.sleep(0.05)
    check(any(m.get('message') == 'sent from the admin form' and m.get('sender') == 'admin'
              for m in got), 'the python subscriber got %r, not the form\'s message' % got)
    for name in ('push-admin.png', 'push-demo.png'):
        path = os.path.join(shots, name)
        check(os.path.getsize(path) > 5000, 'screenshot %s missing or empty' % path)
    # wrong password: 401, and a log line
    r = w.curl(['-o', '/dev/null', '-w', '%{http_code}', '-u', 'admin:wrong-password',
                'http://127.0.0.1:%d/admin/stats' % port])
    check(r.stdout == b'401', 'wrong password answered %r' % r.stdout)
    r = w.curl(['-u', 'x:' + PASSWORD, 'http://127.0.0.1:%d/admin/stats' % port])
    stats = json.loads(r.stdout)
    check(stats['subscribers'] >= 1 and stats['recent'], 'stats: %r' % stats)


def case_admin_needs_tls_off_loopback():
    """Over plain http the admin page answers only loopback peers: from the
    machine's own non-loopback address (if it has one) it is 403."""
    import socket
    addr = None
    try:
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        s.connect(('192.0.2.1', 9))  # no packet is sent: picks the source address
        addr = s.getsockname()[0]
        s.close()
    except OSError:
        pass
    if not addr or addr.startswith('127.'):
        raise w.CaseSkip('no non-loopback address on this machine')
    tmp = w.tempfile.mkdtemp(prefix='wsf-pages-')
    pw = os.path.join(tmp, 'pw')
    with open(pw, 'w') as f:
        f.write(PASSWORD)
    port = w.free_port()
    p = w.Proc([w.WSFERRY, 'server', 'ws://%s:%d' % (addr, port), '--push', '/push',
                '--admin', '/admin', '--admin-password-file', pw], 'pages-remote',
               env={'WSFERRY_PUSH_KEY': KEY})
    w.wait_port(port, addr, proc=p)
    r = w.curl(['-o', '/dev/null', '-w', '%{http_code}', '-u', 'a:' + PASSWORD,
                'http://%s:%d/admin' % (addr, port)])
    check(r.stdout == b'403', 'admin over plain http off loopback answered %r' % r.stdout)


def case_page_bytes():
    """The pages are a few KiB of the binary (measured from the object)."""
    obj = os.path.join(os.path.dirname(w.WSFERRY), 'tun', 'push', 'pages.o')
    if not os.path.exists(obj):
        raise w.CaseSkip('no %s next to the binary' % obj)
    r = subprocess.run(['size', obj], capture_output=True, text=True)
    text = int(r.stdout.split('\n')[1].split()[0])
    check(text < 16 * 1024, 'pages.o is %d bytes' % text)


def main(s):
    s.run('admin and demo pages in headless chromium: login, count, list from the DB, '
          'the form broadcasts, a toast after a POST, screenshots', case_pages, timeout=150)
    s.run('the admin page over plain http off loopback is refused', case_admin_needs_tls_off_loopback)
    s.run('the pages add under 16 KiB', case_page_bytes)


if __name__ == '__main__':
    w.main_guard(w.Suite('push_pages_test', file_limit=200), main)
