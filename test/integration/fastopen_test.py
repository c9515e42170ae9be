#!/usr/bin/python3
"""fastopen_test.py — `--fast-open` (TCP Fast Open) on client dials and
server listens:
  1 with the machine's own net.ipv4.tcp_fastopen, whatever it is: tunnels
    work byte-exact with --fast-open on both ends, and the server's log says
    either "TCP Fast Open on" or, when the kernel lacks the server bit, names
    net.ipv4.tcp_fastopen (the logged fallback);
  2 in a private network namespace (unshare -n, so nothing outside is
    touched) with net.ipv4.tcp_fastopen=3: after the first tunnel fetched the
    cookie, the next ones carry data in the SYN: the namespace's
    TCPFastOpenActive and TCPFastOpenPassive counters grow, bytes exact;
    without --fast-open they do not grow (the control).

Interface (test/run.sh): binary from env WSFERRY; 127.0.0.1 only; needs
root for the namespace; last line exactly `N passed, N failed`.
"""

import fcntl
import os
import random
import socket
import struct
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import wsfutil as w  # noqa: E402
from wsfutil import check  # noqa: E402

SYSCTL = '/proc/sys/net/ipv4/tcp_fastopen'


def counters():
    """TCPFastOpen* of this network namespace (/proc/net/netstat)."""
    with open('/proc/net/netstat') as f:
        lines = [l.split() for l in f if l.startswith('TcpExt:')]
    return {k: int(v) for k, v in zip(lines[0][1:], lines[1][1:]) if k.startswith('TCPFastOpen')}


def echo_through(port, n=100000):
    data = random.randbytes(n)
    s = w.connect(port, timeout=10)
    try:
        s.sendall(data)
        s.shutdown(socket.SHUT_WR)
        back = w.recv_until_eof(s, what='echo')
    finally:
        s.close()
    check(back == data, 'echo: %d of %d bytes, %s' % (len(back), n,
                                                     'equal' if back == data else 'NOT equal'))


def pair(extra, name):
    echo = w.TCPServer(w.echo_handler)
    sp, lp = w.free_ports(2)
    srv = w.Proc([w.WSFERRY, 'server', 'ws://127.0.0.1:%d' % sp, '--to',
                  '127.0.0.1:%d' % echo.port] + extra, name + '-server')
    w.wait_port(sp, proc=srv)
    cli = w.start_client('ws://127.0.0.1:%d' % sp, ['-L', '%d:*' % lp] + extra,
                         wait_ports=(lp,), name=name + '-client')
    return srv, cli, lp, echo


def inner():
    """Runs inside `unshare -n`: loopback up, Fast Open on for both sides,
    then the counters with and without --fast-open. Prints one line."""
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    ifr = fcntl.ioctl(s, 0x8913, struct.pack('16sH14s', b'lo', 0, bytes(14)))  # SIOCGIFFLAGS
    flags = struct.unpack('16sH', ifr[:18])[1]
    fcntl.ioctl(s, 0x8914, struct.pack('16sH14s', b'lo', flags | 1, bytes(14)))  # IFF_UP
    with open(SYSCTL, 'w') as f:
        f.write('3')
    out = []
    try:
        for extra, name in (([], 'plain'), (['--fast-open'], 'tfo')):
            srv, cli, lp, echo = pair(extra, name)
            before = counters()
            for _ in range(6):
                echo_through(lp)
            after = counters()
            d = {k: after[k] - before.get(k, 0) for k in after}
            out.append('%s active=%d passive=%d' % (name, d.get('TCPFastOpenActive', 0),
                                                   d.get('TCPFastOpenPassive', 0)))
            if name == 'tfo':
                out.append('log_on=%d' % ('TCP Fast Open on' in srv.stderr_text()))
            cli.stop()
            srv.stop()
            echo.close()
            bad = len(cli.problems() + srv.problems())
            if bad:
                out.append('problems_%s=%d' % (name, bad))
    finally:
        w.stop_all()
    print('INNER ' + ' '.join(out), flush=True)


def body(suite):
    def own_setting():
        srv, cli, lp, echo = pair(['--fast-open'], 'host')
        for _ in range(3):
            echo_through(lp)
        try:
            with open(SYSCTL) as f:
                v = int(f.read().strip(), 0)
        except (OSError, ValueError):
            v = None
        log = srv.stderr_text()
        if v is not None and not v & 2:
            check('net.ipv4.tcp_fastopen' in log and 'without it' in log,
                  'tcp_fastopen=%d: no logged fallback:\n%s' % (v, srv.tail()))
        else:
            check('TCP Fast Open on' in log, 'tcp_fastopen=%s: log:\n%s' % (v, srv.tail()))
        cli.stop()
        srv.stop()
        echo.close()
    suite.run('--fast-open with this machine\'s setting: tunnels exact, the log says which',
              own_setting, timeout=30)

    def namespace():
        unshare = w.require_peer('unshare', 'util-linux')
        r = subprocess.run([unshare, '-n', sys.executable, os.path.abspath(__file__), '--inner'],
                           capture_output=True, text=True, timeout=60,
                           env=dict(os.environ, WSFERRY=os.path.abspath(w.WSFERRY)))
        line = [l for l in r.stdout.splitlines() if l.startswith('INNER ')]
        check(line, 'the namespace run printed no result (exit %d): %s %s'
              % (r.returncode, r.stdout[-500:], r.stderr[-500:]))
        f = dict(kv.split('=') for kv in line[0].split()[1:] if '=' in kv)
        words = line[0].split()
        plain_a = int(words[words.index('plain') + 1].split('=')[1])
        plain_p = int(words[words.index('plain') + 2].split('=')[1])
        tfo_a = int(words[words.index('tfo') + 1].split('=')[1])
        tfo_p = int(words[words.index('tfo') + 2].split('=')[1])
        check(plain_a == 0 and plain_p == 0, 'without --fast-open the counters grew: %s' % line)
        check(tfo_a >= 3 and tfo_p >= 3, 'with --fast-open too few SYNs carried data '
              '(6 tunnels, the first fetches the cookie): %s' % line)
        check(f.get('log_on') == '1', 'the server did not log "TCP Fast Open on": %s' % line)
        check('problems' not in line[0], 'a wsferry in the namespace did not end cleanly '
              '(exit code or sanitizer report): %s' % line)
    suite.run('private netns with tcp_fastopen=3: data rides in the SYN (counters), '
              'not without --fast-open', namespace, timeout=90)


if __name__ == '__main__':
    if '--inner' in sys.argv:
        inner()
        sys.exit(0)
    w.main_guard(w.Suite('fastopen_test'), body)
