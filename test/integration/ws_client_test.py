#!/usr/bin/python3
"""`wsferry server --echo` driven by a real client library: Debian's
python3-websockets (asyncio client, `websockets.connect`; written against
10.4, the bookworm version, and kept to API that later versions still have).

Interface (used by test/run.sh): binary from env WSFERRY (default
./build/wsferry); the server is started here on a free port and stopped by PID
(SIGTERM, SIGKILL after 2 s); one line per failed case; last line exactly
`N passed, N failed`; exit 1 if anything failed. `-v` also prints passing
cases; other arguments filter case names by substring.
"""

import asyncio
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time

try:
    import websockets
    import websockets.exceptions as wse
except ImportError as e:  # pragma: no cover - environment problem, reported as a failure
    print('FAIL import websockets: %s (install python3-websockets)' % e)
    print('0 passed, 1 failed')
    sys.exit(1)

WSFERRY = os.environ.get('WSFERRY', './build/wsferry')
T = 5.0            # timeout for one expected event
CASE_T = 30.0      # hard bound for one case

WS_VERSION = tuple(int(x) for x in websockets.__version__.split('.')[:2] if x.isdigit())


class CaseFail(Exception):
    pass


def check(cond, msg):
    if not cond:
        raise CaseFail(msg)


def connect(uri, **kw):
    kw.setdefault('open_timeout', T)
    kw.setdefault('close_timeout', T)
    kw.setdefault('max_size', 32 << 20)
    kw.setdefault('ping_interval', None)
    return websockets.connect(uri, **kw)


async def recv(ws, what='echo'):
    try:
        return await asyncio.wait_for(ws.recv(), T)
    except asyncio.TimeoutError:
        raise CaseFail('timeout (%ss) waiting for %s' % (T, what))


async def echo(ws, msg, what=None):
    await ws.send(msg)
    got = await recv(ws, what or 'echo of %d-%s message' % (len(msg), type(msg).__name__))
    if got != msg:
        if type(got) is not type(msg):
            raise CaseFail('sent %s, got %s back' % (type(msg).__name__, type(got).__name__))
        raise CaseFail('echo differs: %d bytes sent, %d received' % (len(msg), len(got)))


def close_info(ws):
    return ws.close_code, ws.close_reason


def exc_code(e):
    rcvd = getattr(e, 'rcvd', None)
    if rcvd is not None:
        return rcvd.code
    return getattr(e, 'code', None)


CASES = []


def case(name):
    def deco(fn):
        CASES.append((name, fn))
        return fn
    return deco


@case('text echo')
async def _(uri):
    async with connect(uri) as ws:
        await echo(ws, 'Hello, wsferry!')
        await echo(ws, '')
        await echo(ws, '\u03ba\u1f79\u03c3\u03bc\u03b5 \U0001F600 \u00b5@\u00df')


@case('binary echo')
async def _(uri):
    async with connect(uri) as ws:
        await echo(ws, bytes(range(256)))
        await echo(ws, b'')
        await echo(ws, os.urandom(70000))


@case('1 MiB text and binary messages')
async def _(uri):
    async with connect(uri) as ws:
        await echo(ws, ('0123456789abcdef\u00e9' * (1 << 20))[:1 << 20])
        await echo(ws, os.urandom(1 << 20))


@case('1 MiB messages without permessage-deflate offered')
async def _(uri):
    async with connect(uri, compression=None) as ws:
        await echo(ws, 'x' * (1 << 20))
        await echo(ws, os.urandom(1 << 20))


@case('extension offer (permessage-deflate by default) is declined or honoured')
async def _(uri):
    async with connect(uri) as ws:
        # whatever was negotiated, the library must be able to talk to us
        await echo(ws, 'compressible ' * 1000)
        await echo(ws, os.urandom(5000))


@case('1000 messages in sequence (round trips)')
async def _(uri):
    async with connect(uri) as ws:
        for i in range(1000):
            msg = ('message %d ' % i) * (i % 7) if i % 2 else os.urandom(i % 300)
            await echo(ws, msg, 'echo #%d' % i)


@case('500 messages pipelined, echoed in order')
async def _(uri):
    async with connect(uri, max_queue=None) as ws:
        msgs = [('pipelined %d' % i) if i % 3 else os.urandom(i) for i in range(500)]

        async def sender():
            for m in msgs:
                await ws.send(m)
        task = asyncio.ensure_future(sender())
        for i, m in enumerate(msgs):
            got = await recv(ws, 'pipelined echo #%d' % i)
            check(got == m, 'pipelined message #%d came back wrong' % i)
        await task


@case('fragmented messages sent by the library (iterable of fragments)')
async def _(uri):
    async with connect(uri) as ws:
        parts = ['\u03ba\u1f79', '\u03c3\u03bc', '', '\u03b5-end']
        await ws.send(parts)
        check(await recv(ws) == ''.join(parts), 'fragmented text echo differs')
        bparts = [os.urandom(n) for n in (1, 1000, 0, 65536, 3)]
        await ws.send(bparts)
        check(await recv(ws) == b''.join(bparts), 'fragmented binary echo differs')


@case('ping/pong via the library')
async def _(uri):
    async with connect(uri) as ws:
        for payload in (b'', b'library ping', os.urandom(125)):
            waiter = await ws.ping(payload)
            try:
                await asyncio.wait_for(waiter, T)
            except asyncio.TimeoutError:
                raise CaseFail('no pong for ping %r within %ss' % (payload[:16], T))
        waiters = [await ws.ping(b'p%d' % i) for i in range(10)]
        await echo(ws, 'between pings')
        try:
            await asyncio.wait_for(asyncio.gather(*waiters), T)
        except asyncio.TimeoutError:
            raise CaseFail('not all of 10 pings were answered')


@case('clean close with code 1000 and reason')
async def _(uri):
    ws = await connect(uri)
    await echo(ws, 'before close')
    await asyncio.wait_for(ws.close(1000, 'done here'), T + 1)
    code, _ = close_info(ws)
    check(code == 1000, 'close code seen by the client: %s, expected 1000 echoed' % code)
    try:
        await asyncio.wait_for(ws.recv(), T)
        raise CaseFail('recv() after close returned data')
    except wse.ConnectionClosedOK:
        pass
    except wse.ConnectionClosed as e:
        raise CaseFail('closing handshake not clean: %r' % e)


@case('close with application code 4000 is echoed')
async def _(uri):
    ws = await connect(uri)
    await asyncio.wait_for(ws.close(4000, 'app'), T + 1)
    code, _ = close_info(ws)
    check(code == 4000, 'close code seen by the client: %s, expected 4000 echoed' % code)


@case('50 concurrent clients x 20 messages')
async def _(uri):
    async def client(n):
        async with connect(uri) as ws:
            for i in range(20):
                msg = 'client %d message %d ' % (n, i) * (1 + i) if i % 2 else os.urandom(64 * i + n)
                await echo(ws, msg, 'client %d echo #%d' % (n, i))
    res = await asyncio.gather(*(client(n) for n in range(50)), return_exceptions=True)
    bad = [(n, r) for n, r in enumerate(res) if isinstance(r, BaseException)]
    check(not bad, '%d of 50 clients failed, first: client %d: %s: %s'
          % (len(bad), bad[0][0], type(bad[0][1]).__name__, bad[0][1]) if bad else '')


@case('message over the 16 MiB limit -> close 1009')
async def _(uri):
    async with connect(uri, compression=None) as ws:
        try:
            await ws.send(b'\0' * ((16 << 20) + 1))
            await asyncio.wait_for(ws.recv(), T * 2)
            raise CaseFail('oversized message was accepted')
        except wse.ConnectionClosed as e:
            check(exc_code(e) == 1009, 'connection closed with %s, expected 1009' % exc_code(e))


@case('exactly 16 MiB message is echoed')
async def _(uri):
    async with connect(uri, compression=None) as ws:
        msg = os.urandom(16 << 20)
        await ws.send(msg)
        try:
            got = await asyncio.wait_for(ws.recv(), 20)
        except asyncio.TimeoutError:
            raise CaseFail('no echo of the 16 MiB message within 20 s')
        check(got == msg, '16 MiB echo differs')


async def expect_refused(uri):
    try:
        ws = await asyncio.wait_for(connect(uri), T + 1)
    except asyncio.TimeoutError:
        raise CaseFail('no answer (timeout) instead of a connection error')
    except (wse.InvalidHandshake, wse.InvalidMessage, wse.ConnectionClosed, OSError, EOFError):
        return
    await ws.close()
    raise CaseFail('connection to %s succeeded' % uri)


@case('wrong path -> connection error')
async def _(uri):
    base = uri.rsplit('/', 1)[0]
    await expect_refused(base + '/nope')
    await expect_refused(base + '/')
    # and the server still serves the right path
    async with connect(uri) as ws:
        await echo(ws, 'still fine')


# ---------------------------------------------------------------- harness

def free_port():
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.bind(('127.0.0.1', 0))
    p = s.getsockname()[1]
    s.close()
    return p


def start_server():
    port = free_port()
    err = tempfile.NamedTemporaryFile(prefix='wsferry-client-', suffix='.stderr', delete=False)
    proc = subprocess.Popen([WSFERRY, 'server', '--echo', '/echo', 'ws://127.0.0.1:%d' % port],
                            stdin=subprocess.DEVNULL, stdout=err, stderr=err)
    deadline = time.monotonic() + 5
    while True:
        if proc.poll() is not None:
            return proc, port, err, 'server exited with %s before accepting' % proc.returncode
        try:
            socket.create_connection(('127.0.0.1', port), timeout=0.5).close()
            return proc, port, err, None
        except OSError:
            if time.monotonic() > deadline:
                return proc, port, err, 'port %d not accepting after 5 s' % port
            time.sleep(0.05)


def stop_server(proc):
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(2)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)
            return 'did not exit within 2 s of SIGTERM (killed)'
    rc = proc.returncode
    if rc < 0 and rc != -signal.SIGTERM:
        return 'terminated by signal %d' % -rc
    return None


def server_log_problems(path):
    try:
        with open(path, 'rb') as f:
            text = f.read().decode('utf-8', 'replace')
    except OSError:
        return None, ''
    for marker in ('ERROR: AddressSanitizer', 'ERROR: LeakSanitizer', 'runtime error:'):
        i = text.find(marker)
        if i >= 0:
            return marker, text[max(0, i - 200):i + 1500]
    return None, text


async def run_cases(cases, port, proc, verbose):
    uri = 'ws://127.0.0.1:%d/echo' % port
    passed = failed = 0
    for name, fn in cases:
        if proc.poll() is not None:
            print('FAIL %s: server not running (exit status %s)' % (name, proc.returncode))
            failed += 1
            continue
        t0 = time.monotonic()
        try:
            await asyncio.wait_for(fn(uri), CASE_T)
            passed += 1
            if verbose:
                print('ok   %s (%.2fs)' % (name, time.monotonic() - t0))
        except CaseFail as e:
            failed += 1
            print('FAIL %s: %s' % (name, e))
        except asyncio.TimeoutError:
            failed += 1
            print('FAIL %s: case did not finish within %ss' % (name, CASE_T))
        except Exception as e:  # noqa: BLE001 - any library/socket error fails the case
            failed += 1
            print('FAIL %s: %s: %s' % (name, type(e).__name__, e))
        sys.stdout.flush()
    return passed, failed


def main(argv):
    verbose = '-v' in argv
    filters = [a for a in argv if a != '-v']
    cases = [c for c in CASES if not filters or any(f in c[0] for f in filters)]
    passed = failed = 0
    proc, port, err, start_err = start_server()
    try:
        if start_err:
            print('FAIL server-start: %s (%s)' % (start_err, WSFERRY))
            failed += 1
        else:
            p, f = asyncio.run(run_cases(cases, port, proc, verbose))
            passed += p
            failed += f
    finally:
        stop_err = stop_server(proc)
        err.close()
        marker, log = server_log_problems(err.name)
        if stop_err or marker:
            failed += 1
            why = stop_err or ''
            if marker:
                why = (why + '; ' if why else '') + 'sanitizer report (%s) in server stderr' % marker
            print('FAIL server-exit: %s' % why)
            tail = log if marker else log[-2000:]
            for ln in tail.rstrip().splitlines()[-40:]:
                print('    | ' + ln)
        else:
            passed += 1
        try:
            os.unlink(err.name)
        except OSError:
            pass
    print('%d passed, %d failed' % (passed, failed))
    return 1 if failed else 0


if __name__ == '__main__':
    sys.exit(main(sys.argv[1:]))
