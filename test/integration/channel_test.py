#!/usr/bin/python3
"""Channels, client to client through the server (issue 11, items 3 and 5):
`-R 'tcp://NAME[:PASSWORD]@HOST:PORT'` registers NAME on one client,
`-L 'tcp://NAME[:PASSWORD]@[BIND:]PORT'` on another reaches HOST:PORT through
it. 50 parallel streams byte-exact, 16 MiB each way, ssh (Debian's
openssh-server on loopback), a wrong password answered exactly as an unknown
name, a duplicate name refused while the holder serves on, no registration
without --key, the offline answer within 1 s, re-registration of a
restarted client, and both clients surviving a server restart.

Interface (test/run.sh): binary from env WSFERRY (default ./build/wsferry);
everything is started here on free 127.0.0.1 ports and ended by PID; one line
per failed case; last line exactly `N passed, N failed`; exit 1 on failure.
`-v` also prints passing cases; other arguments filter case names.
"""

import hashlib
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import wsfutil as w  # noqa: E402
from wsfutil import check, CaseFail  # noqa: E402

REREG_BOUND = 15.0  # backoff starts at 1 s, doubles; jitter up to +50 %
OFFLINE_BOUND = 1.0  # issue 11 item 5: a channel whose client is gone answers within 1 s


def wait_log(proc, needle, timeout, what, times=1):
    """Until needle was logged at least times times."""
    deadline = time.monotonic() + timeout
    for _ in range(int(timeout / 0.05) + 2):
        if proc.stderr_text().count(needle) >= times:
            return
        if time.monotonic() > deadline:
            break
        time.sleep(0.05)
    raise CaseFail('%s: %r not logged within %.0f s:\n%s' % (what, needle, timeout, proc.tail()))


def echo_once(port, msg, timeout=10):
    s = w.connect(port, timeout=timeout)
    try:
        s.sendall(msg)
        return w.recv_exact(s, len(msg), 'echo')
    finally:
        s.close()


def closed_without_bytes(port, bound):
    """Connects, sends a little, returns (bytes received, seconds to close)."""
    s = w.connect(port, timeout=bound + 5)
    t0 = time.monotonic()
    got = b''
    try:
        s.sendall(b'anyone there?')
        while True:
            d = s.recv(4096)
            if not d:
                break
            got += d
    except (ConnectionResetError, BrokenPipeError):
        pass
    finally:
        s.close()
    return got, time.monotonic() - t0


def main(suite):
    key = subprocess.run([w.WSFERRY, 'keygen'], capture_output=True, text=True,
                         check=True).stdout.strip()
    kargs = ['--key', key]
    echo = w.TCPServer(w.echo_handler, backlog=512)
    src = w.TCPServer(w.make_source_handler(16 << 20))
    sink = w.TCPServer(w.sink_handler)
    sp, l_echo, l_src, l_sink, l_wrong, l_unknown, l_nopass = w.free_ports(7)
    url = 'ws://127.0.0.1:%d' % sp
    srv = [w.start_server(sp, kargs)]
    reg = [w.start_client(url, kargs + [
        '-R', 'tcp://echo:s3cret@127.0.0.1:%d' % echo.port,
        '-R', 'tcp://src:pw@localhost:%d' % src.port,
        '-R', 'tcp://sink.1:pw@127.0.0.1:%d' % sink.port,
        '-R', 'tcp://open-one@127.0.0.1:%d' % echo.port], name='client-register')]
    opener = w.start_client(url, kargs + [
        '-L', 'tcp://echo:s3cret@%d' % l_echo,
        '-L', 'tcp://src:pw@127.0.0.1:%d' % l_src,
        '-L', 'tcp://sink.1:pw@%d' % l_sink,
        '-L', 'tcp://echo:wrong@%d' % l_wrong,
        '-L', 'tcp://nosuch:s3cret@%d' % l_unknown,
        '-L', 'tcp://open-one@%d' % l_nopass], name='client-open',
        wait_ports=(l_echo, l_src, l_sink, l_wrong, l_unknown, l_nopass))
    run = suite.run

    def registered():
        for name in ('echo', 'src', 'sink.1', 'open-one'):
            wait_log(srv[0], 'channel %s registered' % name, 10, 'registration of ' + name)
        check('s3cret' not in reg[0].stderr_text() + opener.stderr_text() +
              srv[0].stderr_text(), 'a channel password appears in a log')
    ok = run('channels register; passwords never logged', registered, timeout=15, always=True)
    if ok is False:
        print('    server stderr:\n' + srv[0].tail(10))

    def echo_through():
        for n in (1, 1000, 300000):
            m = os.urandom(n)
            check(echo_once(l_echo, m) == m, 'echo of %d bytes differs' % n)
        m = os.urandom(5000)
        check(echo_once(l_nopass, m) == m, 'echo through the password-less channel differs')
    run('-L to a channel reaches the registering client\'s destination (echo, no password too)',
        echo_through)

    def parallel():
        errors = []
        lock = threading.Lock()

        def worker(i):
            try:
                s = w.connect(l_echo, timeout=30)
                try:
                    m = os.urandom(20000 + i * 1311)
                    s.sendall(m)
                    s.shutdown(socket.SHUT_WR)
                    got = w.recv_until_eof(s, what='echo %d' % i)
                    if hashlib.sha256(got).digest() != hashlib.sha256(m).digest():
                        raise CaseFail('stream %d: %d bytes back of %d, or other bytes' %
                                       (i, len(got), len(m)))
                finally:
                    s.close()
            except Exception as e:
                with lock:
                    errors.append('#%d %s' % (i, e))
        ths = [threading.Thread(target=worker, args=(i,), daemon=True) for i in range(50)]
        for t in ths:
            t.start()
        for t in ths:
            t.join(40)
        check(not errors, '%d of 50 failed: %s' % (len(errors), '; '.join(errors[:3])))
    run('channel: 50 parallel streams, each byte-exact with half-close', parallel, timeout=50)

    def download():
        s = w.connect(l_src, timeout=30)
        try:
            n, digest = w.recv_hash(s, limit=64 << 20)
            r = src.result(30, 'source digest')
            check(n == r[1] == 16 << 20 and digest == r[2], 'got %d bytes, source %r' %
                  (n, r[:2]))
        finally:
            s.close()
    run('channel: 16 MiB from the registering side intact', download, timeout=40)

    def upload():
        s = w.connect(l_sink, timeout=30)
        try:
            digest = w.send_random(s, 16 << 20)
            s.shutdown(socket.SHUT_WR)
            r = sink.result(30, 'sink verdict')
            check(r[1] == 16 << 20 and r[2] == digest, 'sink got %d bytes' % r[1])
            reply = w.recv_until_eof(s, what='reply after our FIN')
            check(reply == ('%d %s\n' % (16 << 20, digest)).encode(), 'reply %r' % reply[:80])
        finally:
            s.close()
    run('channel: 16 MiB towards the registering side intact, half-close reply', upload,
        timeout=40)

    def wrong_vs_unknown():
        before = srv[0].stderr_text()
        got_w, t_w = closed_without_bytes(l_wrong, 5)
        got_u, t_u = closed_without_bytes(l_unknown, 5)
        check(got_w == b'' and got_u == b'', 'bytes: wrong %r, unknown %r' % (got_w, got_u))
        check(t_w < 2 and t_u < 2, 'closed after %.2f s (wrong), %.2f s (unknown)' % (t_w, t_u))
        time.sleep(0.3)
        new = srv[0].stderr_text()[len(before):].strip().split('\n')
        lines = sorted({l.split(' ', 3)[-1] for l in new if 'channel' in l})
        check(len(lines) == 1 and 'refused' in lines[0],
              'the server logs the two refusals differently: %r' % lines)
        olog = opener.stderr_text()
        check(olog.count('no such channel, a wrong password, or its client is offline') >= 2,
              'the opening client does not say why:\n' + opener.tail())
    run('a wrong password is answered and logged exactly as an unknown channel',
        wrong_vs_unknown)

    def duplicate():
        dup = w.start_client(url, kargs + ['-R', 'tcp://echo:other@127.0.0.1:%d' % src.port],
                             name='client-duplicate')
        wait_log(dup, 'another client holds this channel name', 8, 'the duplicate client')
        wait_log(srv[0], 'channel echo refused: already registered', 2, 'the server')
        m = os.urandom(777)
        check(echo_once(l_echo, m) == m, 'the first registration no longer serves')
        check(dup.alive(), 'the refused client exited')
        dup.stop()
    run('a duplicate channel name is refused with a log line; the holder keeps serving',
        duplicate, timeout=20)

    def needs_key():
        p = w.free_port()
        s2 = w.start_server(p, name='server-open')
        c = w.start_client('ws://127.0.0.1:%d' % p,
                           ['-R', 'tcp://x@127.0.0.1:%d' % echo.port], name='client-no-key')
        wait_log(s2, 'channels need --key', 8, 'the keyless server')
        wait_log(c, 'the server refuses channels (it needs --key)', 4, 'the client')
        c.stop()
        s2.stop()
    run('without --key on the server no channel can be registered', needs_key, timeout=20)

    def ssh_through():
        sshd = w.require_peer('sshd', 'openssh-server', '/usr/sbin/sshd')
        sshc = w.require_peer('ssh', 'openssh-client')
        d = tempfile.mkdtemp(prefix='wsf-ssh-')
        try:
            for k in ('host', 'user'):
                subprocess.run(['ssh-keygen', '-q', '-t', 'ed25519', '-N', '', '-f',
                                os.path.join(d, k)], check=True)
            shutil.copy(os.path.join(d, 'user.pub'), os.path.join(d, 'authorized_keys'))
            os.chmod(d, 0o700)
            port, lport = w.free_ports(2)
            with open(os.path.join(d, 'sshd_config'), 'w') as f:
                f.write('ListenAddress 127.0.0.1:%d\nHostKey %s/host\nAuthorizedKeysFile %s/'
                        'authorized_keys\nPasswordAuthentication no\nKbdInteractiveAuthentication'
                        ' no\nUsePAM no\nStrictModes no\nPidFile none\nPermitRootLogin '
                        'prohibit-password\n' % (port, d, d))
            os.makedirs('/run/sshd', exist_ok=True)
            sd = w.Proc([sshd, '-D', '-e', '-f', os.path.join(d, 'sshd_config')], 'sshd',
                        wsferry=False)
            w.wait_port(port, proc=sd)
            r = w.start_client(url, kargs + ['-R', 'tcp://ssh:pw@127.0.0.1:%d' % port],
                               name='client-R-ssh')
            wait_log(srv[0], 'channel ssh registered', 8, 'ssh channel')
            l = w.start_client(url, kargs + ['-L', 'tcp://ssh:pw@%d' % lport], name='client-L-ssh',
                               wait_ports=(lport,))
            blob = os.urandom(1 << 20)
            out = subprocess.run([sshc, '-p', str(lport), '-i', os.path.join(d, 'user'),
                                  '-o', 'StrictHostKeyChecking=no', '-o',
                                  'UserKnownHostsFile=/dev/null', '-o', 'BatchMode=yes',
                                  '-o', 'LogLevel=ERROR', '%s@127.0.0.1' % os.environ.get(
                                      'USER', 'root'), 'sha256sum'],
                                 input=blob, capture_output=True, timeout=30)
            check(out.returncode == 0, 'ssh exit %d: %s' % (out.returncode, out.stderr[-300:]))
            check(out.stdout.split()[0].decode() == hashlib.sha256(blob).hexdigest(),
                  'sha256sum over ssh differs: %r' % out.stdout[:80])
            l.stop()
            r.stop()
            sd.stop()
        finally:
            shutil.rmtree(d, ignore_errors=True)
    run('ssh through a channel to openssh-server on loopback (1 MiB through sha256sum)',
        ssh_through, timeout=45)

    def stopped_client():
        import signal
        n = srv[0].stderr_text().count('channel echo registered')
        os.kill(reg[0].pid, signal.SIGSTOP)  # alive to TCP, silent: a vanished machine
        try:
            got, took = closed_without_bytes(l_echo, 5)
        finally:
            os.kill(reg[0].pid, signal.SIGCONT)
        check(got == b'', 'bytes from a silent channel: %r' % got)
        # 750 ms without word from the client; the bound leaves room for a loaded machine
        check(took < OFFLINE_BOUND + 0.5, 'a silent channel answered after %.2f s' % took)
        wait_log(srv[0], 'did not answer within 750 ms: taken for gone', 2, 'the server')
        wait_log(srv[0], 'channel echo registered', 15, 're-registration after SIGCONT', n + 1)
        m = os.urandom(3000)
        check(echo_once(l_echo, m) == m, 'echo after the client came back')
        if suite.verbose:
            print('    silent channel answered after %.3f s' % took)
    run('a channel whose client went silent (SIGSTOP) answers within about 1 s; '
        'it re-registers once back', stopped_client, timeout=30)

    def offline():
        reg[0].p.kill()  # gone without a goodbye: the kernel closes its sockets
        reg[0].p.wait(5)
        with w._PROCS_LOCK:  # killed on purpose: not a wsferry that ended badly
            w._PROCS.remove(reg[0])
        reg[0].cleanup()
        wait_log(srv[0], 'channel echo released', 3, 'the server')
        got, took = closed_without_bytes(l_echo, 5)
        check(got == b'', 'bytes from an offline channel: %r' % got)
        check(took < OFFLINE_BOUND, 'the offline channel answered after %.2f s' % took)
        if suite.verbose:
            print('    offline answer after %.3f s' % took)
    run('a channel whose client is gone answers (closes) within 1 s', offline, timeout=15)

    def restarted_client():
        n = srv[0].stderr_text().count('channel echo registered')
        reg[0] = w.start_client(url, kargs + ['-R', 'tcp://echo:s3cret@127.0.0.1:%d' % echo.port],
                                name='client-register-2')
        wait_log(srv[0], 'channel echo registered', 5, 'the restarted client', n + 1)
        m = os.urandom(4096)
        check(echo_once(l_echo, m) == m, 'echo through the re-registered channel')
    run('a restarted registering client serves the channel again', restarted_client,
        timeout=20)

    def server_restart():
        rc = srv[0].stop()
        check(rc == 0, 'server exit %r after SIGTERM' % rc)
        time.sleep(1.5)
        check(reg[0].alive() and opener.alive(), 'a client exited with the server gone')
        t0 = time.monotonic()
        srv[0] = w.start_server(sp, kargs, name='server-restarted')
        wait_log(srv[0], 'channel echo registered', REREG_BOUND, 're-registration')
        took = time.monotonic() - t0
        m = os.urandom(4096)
        check(echo_once(l_echo, m) == m, 'echo after the server restart')
        if suite.verbose:
            print('    re-registered %.1f s after the server came back' % took)
    run('both clients survive a server restart; the channel works again', server_restart,
        timeout=40)

    def bad_specs():
        for kind, spec in (('-R', 'tcp://bad name@127.0.0.1:80'), ('-R', 'tcp://n@127.0.0.1'),
                           ('-L', 'tcp://n:p@1:2:3'), ('-R', 'udp://n@127.0.0.1:53'),
                           ('-L', 'tcp://:pw@1234'), ('-D', 'n:p@1080')):
            r = subprocess.run([w.WSFERRY, 'client', url, kind, spec], stdin=subprocess.DEVNULL,
                               capture_output=True, timeout=5)
            err = r.stderr.decode(errors='replace')
            check(r.returncode == 2, '%s %r: exit %d (%r)' % (kind, spec, r.returncode, err[:120]))
    run('bad channel specs exit 2', bad_specs)

    suite.check_processes()
    for x in (echo, src, sink):
        x.close()


if __name__ == '__main__':
    w.main_guard(w.Suite('channel_test'), main)
