#!/usr/bin/python3
"""Backpressure: a peer that reads slowly must slow the sender down, not make
wsferry buffer. A source sends 200 MiB as fast as it can through the tunnel
to a reader that takes 1 MiB/s for a few seconds; the resident memory
(VmRSS) of the wsferry server and client is sampled meanwhile and must stay
bounded, and so must the bytes in flight (what the source managed to send
minus what the reader took: kernel buffers are bounded, anything beyond them
is wsferry hoarding, in RSS or in pipes); then the rest is read at full speed
and checked with SHA-256. The same the other way (a slow destination under a
fast uploader), and a slow reader must not stall another tunnel.

Interface (test/run.sh): binary from env WSFERRY (default ./build/wsferry);
everything is started here on free 127.0.0.1 ports and ended by PID; one line
per failed case; last line exactly `N passed, N failed`; exit 1 on failure.
`-v` also prints passing cases; other arguments filter case names.
"""

import hashlib
import os
import socket
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import wsfutil as w  # noqa: E402
from wsfutil import check, CaseFail  # noqa: E402

TOTAL = 200 << 20
SLOW_SECONDS = 4
SLOW_RATE = 1 << 20           # bytes per second while slow
RSS_LIMIT_MIB = 64            # per wsferry process


def kernel_max(path, field=2, default=6 << 20):
    try:
        with open(path) as f:
            return int(f.read().split()[field])
    except (OSError, ValueError, IndexError):
        return default


# Sent by the fast side minus taken by the slow side. What the kernel may
# hold is not ours to bound: on the download path two receive buffers
# (server from the source, client from the server) autotune up to
# tcp_rmem's maximum (32 MiB on some kernels) and three send buffers up to
# tcp_wmem's; wsferry adds its own buffers and splice pipes (a few MiB at
# most). Without backpressure the source would push all 200 MiB in the slow
# phase, far above this.
INFLIGHT_LIMIT_MIB = (2 * kernel_max('/proc/sys/net/ipv4/tcp_rmem') +
                      3 * kernel_max('/proc/sys/net/ipv4/tcp_wmem') + (8 << 20)) >> 20


class Progress:
    def __init__(self):
        self.sent = 0
        self.digest = None
        self.error = None
        self.done = threading.Event()


def fast_source(progress):
    def handler(c, srv):
        h = hashlib.sha256()
        c.settimeout(60)
        try:
            for _ in range(TOTAL // (1 << 16) + 2):
                if progress.sent >= TOTAL:
                    break
                d = os.urandom(min(1 << 16, TOTAL - progress.sent))
                h.update(d)
                c.sendall(d)
                progress.sent += len(d)
            c.shutdown(socket.SHUT_WR)
            progress.digest = h.hexdigest()
        except OSError as e:
            progress.error = str(e)
        finally:
            progress.done.set()
        try:
            for _ in range(100):
                if not c.recv(65536):
                    break
        except OSError:
            pass
    return handler


def slow_sink(progress, state):
    """Reads SLOW_RATE per second until state['fast'] is set, then at full
    speed to EOF; reports in progress (sent = bytes read)."""
    def handler(c, srv):
        h = hashlib.sha256()
        c.settimeout(60)
        c.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 16)
        try:
            for _ in range(TOTAL // 1024 + 10):
                if state.get('fast'):
                    d = c.recv(1 << 18)
                else:
                    d = c.recv(SLOW_RATE // 10)
                    time.sleep(0.1) if d else None
                if not d:
                    break
                h.update(d)
                progress.sent += len(d)
            progress.digest = h.hexdigest()
        except OSError as e:
            progress.error = str(e)
        finally:
            progress.done.set()
    return handler


class RssWatch:
    def __init__(self, procs):
        self.procs = procs
        self.max = {p.name: 0 for p in procs}
        self.samples = 0

    def sample(self):
        self.samples += 1
        for p in self.procs:
            r = w.rss_kib(p.pid)
            if r is not None:
                self.max[p.name] = max(self.max[p.name], r)

    def check(self, limit_mib):
        bad = ['%s peaked at %.1f MiB' % (n, v / 1024) for n, v in self.max.items()
               if v > limit_mib * 1024]
        check(not bad, 'RSS over %d MiB: %s' % (limit_mib, ', '.join(bad)))

    def text(self):
        return ', '.join('%s %.1f MiB' % (n, v / 1024) for n, v in self.max.items())


def main(suite):
    prog_src = Progress()
    source = w.TCPServer(fast_source(prog_src))
    sink_state = {}
    prog_sink = Progress()
    sink = w.TCPServer(slow_sink(prog_sink, sink_state))
    echo = w.TCPServer(w.echo_handler)
    sp, dp, lsrc, lsink = w.free_ports(4)
    srv = w.start_server(sp)
    cli = w.start_client('ws://127.0.0.1:%d' % sp,
                         ['-D', str(dp), '-L', '%d:127.0.0.1:%d' % (lsrc, source.port),
                          '-L', '%d:127.0.0.1:%d' % (lsink, sink.port)],
                         wait_ports=[dp, lsrc, lsink])
    run = suite.run
    verbose = suite.verbose

    def slow_reader():
        watch = RssWatch([srv, cli])
        watch.sample()
        s = w.connect(lsrc)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 16)
        s.settimeout(30)
        h = hashlib.sha256()
        got = 0
        other = {}
        try:
            t0 = time.monotonic()
            # slow phase: ~1 MiB/s, sampling RSS every 100 ms
            for _ in range(SLOW_SECONDS * 10):
                d = s.recv(SLOW_RATE // 10)
                if not d:
                    raise CaseFail('EOF after %d bytes in the slow phase' % got)
                h.update(d)
                got += len(d)
                watch.sample()
                time.sleep(0.1)
            # another tunnel is not stalled by the slow one
            t1 = time.monotonic()
            e = w.socks_connect(dp, '127.0.0.1', echo.port)
            e.sendall(b'x' * 1000)
            other['echo'] = w.recv_exact(e, 1000, 'echo beside the slow tunnel') == b'x' * 1000
            other['latency'] = time.monotonic() - t1
            e.close()
            slow_got, slow_sent = got, prog_src.sent
            inflight = slow_sent - slow_got
            slow_took = time.monotonic() - t0
            if verbose:
                print('    slow phase %.1f s: read %.1f MiB, source sent %.1f MiB; RSS max %s'
                      % (slow_took, got / 2**20, prog_src.sent / 2**20, watch.text()))
            # fast phase: the rest at full speed
            for _ in range(TOTAL // 4096 + 10):
                d = s.recv(1 << 18)
                if not d:
                    break
                h.update(d)
                got += len(d)
                if got % (8 << 20) < (1 << 18):
                    watch.sample()
            prog_src.done.wait(30)
        finally:
            s.close()
        watch.check(RSS_LIMIT_MIB)
        check(inflight < INFLIGHT_LIMIT_MIB << 20,
              'while the reader took %.1f MiB the source pushed %.1f MiB: %.1f MiB were held '
              'in between (no backpressure?)' % (slow_got / 2**20, slow_sent / 2**20,
                                                 inflight / 2**20))
        check(other.get('echo'), 'a second tunnel did not work beside the slow one')
        check(other['latency'] < 3, 'a second tunnel took %.1f s beside the slow one' % other['latency'])
        check(prog_src.error is None, 'source: %s' % prog_src.error)
        check(got == TOTAL == prog_src.sent, 'read %d bytes, source sent %d of %d'
              % (got, prog_src.sent, TOTAL))
        check(h.hexdigest() == prog_src.digest, 'SHA-256 of the 200 MiB differs')
    run('slow reader: 200 MiB source, 1 MiB/s reader for %d s: RSS < %d MiB, in flight '
        'bounded, then intact' % (SLOW_SECONDS, RSS_LIMIT_MIB), slow_reader, timeout=80)

    def slow_destination():
        watch = RssWatch([srv, cli])
        watch.sample()
        s = w.connect(lsink)
        s.settimeout(30)
        h = hashlib.sha256()
        sent = [0]
        err = []

        def uploader():
            try:
                for _ in range(TOTAL // (1 << 16) + 2):
                    if sent[0] >= TOTAL:
                        break
                    d = os.urandom(min(1 << 16, TOTAL - sent[0]))
                    h.update(d)
                    s.sendall(d)
                    sent[0] += len(d)
                s.shutdown(socket.SHUT_WR)
            except OSError as e:
                err.append(str(e))
        t = threading.Thread(target=uploader, daemon=True)
        t.start()
        try:
            for _ in range(SLOW_SECONDS * 10):
                watch.sample()
                time.sleep(0.1)
            inflight = sent[0] - prog_sink.sent
            if verbose:
                print('    slow destination: took %.1f MiB, uploader pushed %.1f MiB; RSS max %s'
                      % (prog_sink.sent / 2**20, sent[0] / 2**20, watch.text()))
            sink_state['fast'] = True
            for _ in range(600):
                if not t.is_alive():
                    break
                watch.sample()
                t.join(0.1)
            check(not t.is_alive(), 'upload did not finish')
            check(prog_sink.done.wait(30), 'the destination never saw EOF')
        finally:
            s.close()
        watch.check(RSS_LIMIT_MIB)
        check(inflight < INFLIGHT_LIMIT_MIB << 20,
              'the uploader pushed %.1f MiB while the destination took %.1f MiB (no backpressure?)'
              % (sent[0] / 2**20, prog_sink.sent / 2**20))
        check(not err, 'upload: %s' % err)
        check(prog_sink.error is None, 'destination: %s' % prog_sink.error)
        check(prog_sink.sent == TOTAL, 'destination got %d of %d bytes' % (prog_sink.sent, TOTAL))
        check(prog_sink.digest == h.hexdigest(), 'SHA-256 at the destination differs')
    run('slow destination: 200 MiB upload into a 1 MiB/s reader: RSS < %d MiB, bounded, intact'
        % RSS_LIMIT_MIB, slow_destination, timeout=80)

    suite.check_processes()
    for x in (source, sink, echo):
        x.close()


if __name__ == '__main__':
    w.main_guard(w.Suite('backpressure_test'), main)
