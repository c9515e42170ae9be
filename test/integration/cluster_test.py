#!/usr/bin/python3
"""cluster_test.py — three wsferry servers behind Debian's haproxy
(send-proxy-v2, round robin, health checks) sharing one redis-server started
here (issue 16): tunnels are spread over all three nodes and each logs the
real client; a token taken by one node is refused by each sibling; SIGTERM
to the node carrying a 256 MiB transfer lets it complete while new tunnels
go to the other two.

Interface (test/run.sh): binary from env WSFERRY (default ./build/wsferry);
everything is started here on free 127.0.0.1 ports and ended by PID; one line
per failed case; last line exactly `N passed, N failed`; exit 1 on failure.
`-v` also prints passing cases; other arguments filter case names.
"""

import os
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import wsfutil as w  # noqa: E402
from wsfutil import check  # noqa: E402
import replay_store_test as rs  # noqa: E402  (Redis, capture_request, KEY)

WSFERRY = w.WSFERRY
KEY = rs.KEY
V2_SIG = b'\r\n\r\n\x00\r\nQUIT\n'

HAPROXY_CONF = """
global
    maxconn 512
defaults
    mode tcp
    timeout connect 2s
    timeout client 60s
    timeout server 60s
    retries 3
    option redispatch
frontend fe
    bind 127.0.0.1:%(hp)d
    default_backend nodes
backend nodes
    balance roundrobin
    default-server send-proxy-v2 check check-send-proxy inter 300ms fall 1 rise 2
%(servers)s
"""


def pp_v2(src='192.0.2.50', sport=40000):
    block = socket.inet_aton(src) + socket.inet_aton('127.0.0.1') + struct.pack('!HH', sport, 443)
    return V2_SIG + b'\x21\x11' + struct.pack('!H', len(block)) + block


def answered_101(port, head):
    r = w.connect(port, timeout=3)
    try:
        r.sendall(pp_v2() + head)
        try:
            return r.recv(12).startswith(b'HTTP/1.1 101')
        except OSError:
            return False
    finally:
        r.close()


def main(suite):
    exe = w.require_peer('haproxy', 'haproxy', '/usr/sbin/haproxy')
    redis = rs.Redis()
    store = 'redis://127.0.0.1:%d' % redis.port
    ports = w.free_ports(3)
    nodes = [w.start_server(p, ['--key', KEY, '--log-level', 'debug', '--proxy-protocol',
                                '127.0.0.1', '--replay-store', store, '--drain-timeout', '30'],
                            name='node%d' % (i + 1)) for i, p in enumerate(ports)]
    hp, lp, lp2 = w.free_ports(3)
    d = tempfile.mkdtemp(prefix='wsf-cluster-')
    conf = os.path.join(d, 'haproxy.cfg')
    with open(conf, 'w') as f:
        f.write(HAPROXY_CONF % {'hp': hp, 'servers': '\n'.join(
            '    server n%d 127.0.0.1:%d' % (i + 1, p) for i, p in enumerate(ports))})
    ha = w.Proc([exe, '-db', '-f', conf], 'haproxy', wsferry=False)
    echo = w.TCPServer(w.echo_handler)
    n_big = 256 << 20
    source = w.TCPServer(w.make_source_handler(n_big))
    cli = None
    try:
        w.wait_port(hp, proc=ha)
        time.sleep(1.0)  # two health checks: every node up
        cli = w.start_client('ws://127.0.0.1:%d' % hp, [
            '--key', KEY, '-L', '127.0.0.1:%d:127.0.0.1:%d' % (lp, echo.port),
            '-L', '127.0.0.1:%d:127.0.0.1:%d' % (lp2, source.port)],
            wait_ports=[lp, lp2], name='client')

        def spread():
            for i in range(9):
                s = w.connect(lp)
                msg = os.urandom(3000)
                s.sendall(msg)
                check(w.recv_exact(s, len(msg)) == msg, 'echo #%d through haproxy' % i)
                s.close()
            for n in nodes:
                t = n.stderr_text()
                check('tunnel to 127.0.0.1:%d' % echo.port in t,
                      '%s got no tunnel of 9 in round robin:\n%s' % (n.name, n.tail()))
                check(' (PROXY v2 from 127.0.0.1:' in t, '%s: no PROXY v2 line' % n.name)
        suite.run('9 tunnels through haproxy reach all three nodes', spread)

        def siblings():
            for first in range(3):
                head = rs.capture_request(echo.port)
                check(answered_101(ports[first], head), 'node%d refused a fresh token' % (first + 1))
                for j in range(3):
                    if j != first:
                        check(not answered_101(ports[j], head), 'node%d took a token node%d had '
                              'taken' % (j + 1, first + 1))
        suite.run('a token taken by any node is refused by each sibling', siblings)

        def drain_under_load():
            s = w.connect(lp2, timeout=30)
            first = w.recv_exact(s, 1 << 20, 'first MiB')
            victim = None
            for _ in range(40):
                victim = next((n for n in nodes if 'tunnel to 127.0.0.1:%d' % source.port
                               in n.stderr_text()), None)
                if victim:
                    break
                time.sleep(0.05)
            check(victim is not None, 'no node logged the transfer')
            victim.stopped_by_us = True
            os.kill(victim.pid, signal.SIGTERM)
            check(rs.log_has(victim, 'SIGTERM: draining'), 'no drain on %s' % victim.name)
            time.sleep(0.8)  # haproxy's checks see the closed port
            others = [n for n in nodes if n is not victim]
            before = [n.stderr_text().count('tunnel to 127.0.0.1:%d' % echo.port) for n in others]
            for i in range(6):
                c = w.connect(lp)
                c.sendall(b'ping %d' % i)
                check(w.recv_exact(c, 6) == b'ping %d' % i, 'new tunnel #%d during the drain' % i)
                c.close()
            after = [n.stderr_text().count('tunnel to 127.0.0.1:%d' % echo.port) for n in others]
            check(sum(after) - sum(before) == 6, 'the other nodes took %d of 6 new tunnels'
                  % (sum(after) - sum(before)))
            got, digest = w.recv_hash(s, prefix=first)
            s.close()
            _, sent, want = source.result(timeout=60, what='source')
            check(got == n_big and digest == want, 'transfer through the draining node: %d of %d '
                  'bytes' % (got, n_big))
            try:
                victim.p.wait(10)
            except subprocess.TimeoutExpired:
                pass
            check(victim.p.returncode == 0, '%s did not exit 0 after its drain (%s)'
                  % (victim.name, victim.p.returncode))
        suite.run('SIGTERM during a 256 MiB transfer: it completes, new tunnels go elsewhere',
                  drain_under_load, timeout=120)
    finally:
        if cli:
            cli.stop()
        for n in nodes:
            n.stop()
        ha.stop()
        echo.close()
        source.close()
        redis.cleanup()


if __name__ == '__main__':
    w.main_guard(w.Suite('cluster_test'), main)
