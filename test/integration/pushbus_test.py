#!/usr/bin/python3
"""pushbus_test.py — `--push-bus` (issue 16 item 2) on a real redis-server
started here: three server nodes with python3-websockets subscribers on each;
20 messages POSTed (curl) to node 1 reach every subscriber on every node
exactly once and in order, and so do messages POSTed round robin to all three
nodes by one sender that waits for each answer; the --push-db log is written
by the node that took the POST only; --workers 2 with a bus delivers once to
subscribers held by either worker; a foreign message on the channel is
ignored; Redis stopped mid-run: a POST is answered 200 with "bus":false and
reaches the subscribers of the process that took it only (one log line per
10 s); Redis back: the nodes resubscribe by themselves and every subscriber
gets every message again; the startup refusals.

Interface (test/run.sh): binary from env WSFERRY (default ./build/wsferry);
everything is started here on free 127.0.0.1 ports and ended by PID; one line
per failed case; last line exactly `N passed, N failed`; exit 1 on failure.
`-v` also prints passing cases; other arguments filter case names.
"""

import asyncio
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import wsfutil as w  # noqa: E402
from wsfutil import check, CaseFail  # noqa: E402

import websockets  # noqa: E402  (python3-websockets, installed by test/deps.sh)

KEY = 'pk-' + 'Zb8wLq2Xv5Tn7Rc4Ym1D'
SUBSCRIBED = 'subscribed to wsferry:push:/push'


class Redis:
    def __init__(self):
        self.exe = w.require_peer('redis-server', 'redis-server', '/usr/bin/redis-server')
        self.dir = tempfile.mkdtemp(prefix='wsf-redis-')
        self.port = w.free_port()
        self.proc = None
        self.start()

    def start(self):
        self.proc = w.Proc([self.exe, '--port', str(self.port), '--bind', '127.0.0.1',
                            '--save', '', '--appendonly', 'no', '--dir', self.dir,
                            '--daemonize', 'no'], 'redis-server', wsferry=False)
        w.wait_port(self.port, proc=self.proc)

    def stop(self):
        if self.proc:
            self.proc.stop()
            self.proc = None

    def publish(self, channel, payload):
        """PUBLISH by hand (a foreign publisher): Redis's integer reply."""
        s = w.connect(self.port)
        try:
            args = [b'PUBLISH', channel.encode(), payload]
            cmd = b'*%d\r\n' % len(args) + b''.join(b'$%d\r\n%s\r\n' % (len(a), a) for a in args)
            s.sendall(cmd)
            return s.recv(64)
        finally:
            s.close()

    def cleanup(self):
        self.stop()
        shutil.rmtree(self.dir, ignore_errors=True)


def start_node(redis, name, extra=()):
    port = w.free_port()
    p = w.Proc([w.WSFERRY, 'server', 'ws://127.0.0.1:%d' % port, '--push', '/push',
                '--push-bus', 'redis://127.0.0.1:%d' % redis.port] + list(extra), name,
               env={'WSFERRY_PUSH_KEY': KEY})
    w.wait_port(port, proc=p)
    return p, port


def wait_count(p, text, n, t=8.0):
    for _ in range(int(t / 0.05) + 1):
        if p.stderr_text().count(text) >= n:
            return
        time.sleep(0.05)
    raise CaseFail('%s: %d x %r expected in:\n%s' % (p.name, n, text, p.tail(12)))


def post(port, body, ctype='application/json'):
    """(status, parsed JSON or text) of a curl POST."""
    r = subprocess.run(['curl', '-sS', '--max-time', '10', '-o', '-', '-w', '\n%{http_code}',
                        '-X', 'POST', '--data-binary', '@-', '-H', 'X-API-KEY: ' + KEY,
                        '-H', 'Content-Type: ' + ctype, 'http://127.0.0.1:%d/push' % port],
                       input=body.encode(), capture_output=True, timeout=20)
    text, _, code = r.stdout.decode('utf-8', 'replace').rpartition('\n')
    check(code.isdigit(), 'curl gave no status: %r %r' % (r.stdout[-200:], r.stderr[-200:]))
    try:
        return int(code), json.loads(text)
    except ValueError:
        return int(code), text


def run(coro, timeout=40):
    return asyncio.run(asyncio.wait_for(coro, timeout))


async def subscribe(port, n):
    return [await websockets.connect('ws://127.0.0.1:%d/push' % port, ping_interval=None)
            for _ in range(n)]


async def drain(ws, t=0.5):
    """Every message that arrives until t seconds pass without one."""
    got = []
    while True:
        try:
            got.append(json.loads(await asyncio.wait_for(ws.recv(), t)))
        except asyncio.TimeoutError:
            return got


async def expect_exactly(subs, want, what):
    for i, ws in enumerate(subs):
        got = [m['message'] for m in await drain(ws)]
        check(got == want, '%s: subscriber %d got %r, expected %r' % (what, i, got, want))


async def post_all(port_of, bodies):
    """POSTs one after the other (each answer awaited): the answers."""
    loop = asyncio.get_running_loop()
    out = []
    for i, b in enumerate(bodies):
        out.append(await loop.run_in_executor(None, post, port_of(i), b))
    return out


def sqlite_count(db):
    exe = w.require_peer('sqlite3', 'sqlite3')
    r = subprocess.run([exe, db, 'SELECT count(*) FROM messages'], capture_output=True,
                       timeout=10)
    check(r.returncode == 0, 'sqlite3 CLI: %r' % r.stderr)
    return int(r.stdout.strip() or b'0')


class Cluster:
    """Redis and three nodes, each with its own --push-db."""

    def __init__(self):
        self.redis = Redis()
        self.tmp = tempfile.mkdtemp(prefix='wsf-pushbus-')
        self.dbs = [os.path.join(self.tmp, 'node%d.db' % i) for i in (1, 2, 3)]
        self.nodes = [start_node(self.redis, 'node%d' % (i + 1), ['--push-db', self.dbs[i]])
                      for i in range(3)]
        for p, _ in self.nodes:
            wait_count(p, SUBSCRIBED, 1)

    def ports(self):
        return [port for _, port in self.nodes]

    def cleanup(self):
        for p, _ in self.nodes:
            p.stop()
        self.redis.cleanup()
        shutil.rmtree(self.tmp, ignore_errors=True)


CLUSTER = None


def cluster():
    global CLUSTER
    if CLUSTER is None:
        CLUSTER = Cluster()
    return CLUSTER


# ---------------------------------------------------------------- cases

def case_fanout_in_order():
    c = cluster()
    p1, p2, p3 = c.ports()

    async def go():
        subs = [await subscribe(port, 2) for port in (p1, p2, p3)]
        flat = [ws for group in subs for ws in group]
        want = ['m%02d' % i for i in range(20)]
        answers = await post_all(lambda i: p1, [json.dumps({'message': m}) for m in want])
        for st, body in answers:
            check(st == 200 and isinstance(body, dict) and body.get('ok') is True and
                  body.get('delivered') == 2 and body.get('bus') == 3,
                  'POST to node 1 answered %d %r' % (st, body))
        await expect_exactly(flat, want, '20 POSTs to node 1')
        # one sender, round robin over the three nodes, each answer awaited
        want = ['r%02d' % i for i in range(12)]
        await post_all(lambda i: (p1, p2, p3)[i % 3], [json.dumps({'message': m}) for m in want])
        await expect_exactly(flat, want, '12 POSTs round robin over the nodes')
        for ws in flat:
            await ws.close()
    run(go())


def case_db_written_once():
    c = cluster()
    counts = [sqlite_count(db) for db in c.dbs]
    # case_fanout_in_order: 20 to node 1, then 12 round robin (4 each)
    check(counts == [24, 4, 4], '--push-db rows per node %r, expected [24, 4, 4]' % counts)


def case_foreign_message_ignored():
    c = cluster()
    p1, p2, _ = c.ports()

    async def go():
        subs = await subscribe(p2, 1)
        reply = c.redis.publish('wsferry:push:/push', b'{"message":"not from a node"}')
        check(reply.startswith(b':3'), 'the nodes are not all subscribed: %r' % reply)
        await expect_exactly(subs, [], 'a foreign message')
        wait_count(c.nodes[1][0], 'not a wsferry push was ignored', 1)
        st, _ = post(p1, '{"message":"after"}')
        check(st == 200, 'POST answered %d' % st)
        await expect_exactly(subs, ['after'], 'the next message')
        await subs[0].close()
    run(go())


def case_redis_down_and_back():
    c = cluster()
    p1, p2, p3 = c.ports()
    (n1, _), (n2, _), (n3, _) = c.nodes

    async def go():
        subs = [await subscribe(port, 1) for port in (p1, p2, p3)]
        st, body = post(p1, '{"message":"before"}')
        check(st == 200 and body.get('bus') == 3, 'POST before: %d %r' % (st, body))
        await expect_exactly([g[0] for g in subs], ['before'], 'before the outage')
        c.redis.stop()
        for n in (n1, n2, n3):
            wait_count(n, 'connection closed by Redis', 1)
        answers = await post_all(lambda i: p1, ['{"message":"down%d"}' % i for i in range(3)])
        for st, body in answers:
            check(st == 200 and body == {'ok': True, 'delivered': 1, 'bus': False},
                  'POST with Redis down answered %d %r' % (st, body))
        await expect_exactly(subs[0], ['down0', 'down1', 'down2'], 'node 1 while Redis is down')
        await expect_exactly(subs[1] + subs[2], [], 'nodes 2 and 3 while Redis is down')
        down = n1.stderr_text().count('the push bus is down')
        check(down == 1, '"push bus is down" logged %d times for 3 POSTs, expected once' % down)
        c.redis.start()
        for n in (n1, n2, n3):
            wait_count(n, SUBSCRIBED, 2, t=10)
        want = ['back%d' % i for i in range(5)]
        answers = await post_all(lambda i: p2, [json.dumps({'message': m}) for m in want])
        for st, body in answers:
            check(st == 200 and body.get('bus') == 3, 'POST after recovery: %d %r' % (st, body))
        await expect_exactly([g[0] for g in subs], want, 'after Redis came back')
        for g in subs:
            await g[0].close()
    run(go())


def sockets(pid):
    n = 0
    for fd in os.listdir('/proc/%d/fd' % pid):
        try:
            n += os.readlink('/proc/%d/fd/%s' % (pid, fd)).startswith('socket:')
        except OSError:
            pass
    return n


def case_workers():
    redis = cluster().redis
    p, port = start_node(redis, 'workers', ['--workers', '2'])
    try:
        wait_count(p, SUBSCRIBED, 2)

        pids = [int(x) for x in re.findall(r'worker \d started \(pid (\d+)\)', p.stderr_text())]
        check(len(pids) == 2, 'worker pids not found in:\n%s' % p.tail(12))
        before = [sockets(pid) for pid in pids]

        async def go():
            subs = await subscribe(port, 12)
            # SO_REUSEPORT spreads them: each worker holds some (all 12 on
            # one worker happens once in 2,048 runs)
            held = [sockets(pid) - b for pid, b in zip(pids, before)]
            check(all(h > 0 for h in held) and sum(held) == 12,
                  'subscribers per worker %r: expected both to hold some' % held)
            want = ['w%d' % i for i in range(5)]
            await post_all(lambda i: port, [json.dumps({'message': m}) for m in want])
            await expect_exactly(subs, want, '--workers 2')
            for ws in subs:
                await ws.close()
        run(go())
    finally:
        p.stop()


def case_startup_refusals():
    port = w.free_port()
    base = [w.WSFERRY, 'server', 'ws://127.0.0.1:%d' % port]
    env = dict(os.environ, WSFERRY_PUSH_KEY=KEY)
    for name, args, word in (
            ('no --push', base + ['--push-bus', 'redis://127.0.0.1:1'], '--push'),
            ('bad URL', base + ['--push', '/push', '--push-bus', 'http://x'], 'redis://'),
            ('bad port', base + ['--push', '/push', '--push-bus', 'redis://h:0'], 'port'),
            ('workers without a bus', base + ['--push', '/push', '--workers', '2'],
             '--push-bus')):
        r = subprocess.run(args, env=env, capture_output=True, timeout=10)
        err = r.stderr.decode(errors='replace')
        check(r.returncode == 2, '%s: exit %d, expected 2 (%s)' % (name, r.returncode, err))
        check(word in err, '%s: %r does not mention %r' % (name, err.strip(), word))


def main(s):
    w.require_peer('curl', 'curl')
    try:
        s.run('20 POSTs to node 1 reach subscribers on nodes 1-3 once, in order; round robin '
              'over the nodes too', case_fanout_in_order)
        s.run('--push-db written by the node that took the POST only', case_db_written_once)
        s.run('a foreign message on the channel is ignored (logged)',
              case_foreign_message_ignored)
        s.run('Redis stopped: 200 "bus":false, local subscribers only, one log line; back: '
              'resubscribed, every node again', case_redis_down_and_back, timeout=90)
        s.run('--workers 2 with a bus: subscribers of both workers get each message once',
              case_workers)
        s.run('startup refusals (exit 2)', case_startup_refusals)
    finally:
        if CLUSTER:
            CLUSTER.cleanup()


if __name__ == '__main__':
    w.main_guard(w.Suite('pushbus_test', file_limit=240), main)
