#!/usr/bin/python3
"""habits_test.py — what a new user tries by habit: -v for debug logs (ssh's
flag), a server --connect-timeout bounding its dials, and an HTTP head with
bare-LF line ends refused at once rather than held to the handshake deadline.
Interface: env WSFERRY (binary), last line "N passed, N failed"."""
import os, socket, sys, time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import wsfutil as w  # noqa: E402


def verbose_flag():
    sp, lp = w.free_ports(2)
    srv = w.start_server(sp, ['-v'])
    w.start_client('ws://127.0.0.1:%d' % sp, ['-v', '-D', str(lp)], wait_ports=[lp])
    s = w.connect(sp)
    s.sendall(b'GET /nothing HTTP/1.1\r\nHost: x\r\n\r\n')
    w.recv_until_eof(s)
    deadline = time.monotonic() + 3
    while 'debug' not in srv.stderr_text() and time.monotonic() < deadline:
        time.sleep(0.1)
    w.check('debug' in srv.stderr_text(), 'server -v logs no debug line:\n' + srv.tail())


def connect_timeout():
    port, keep = w.stalled_listener()
    sp, lp = w.free_ports(2)
    w.start_server(sp, ['--connect-timeout', '700ms'])
    w.start_client('ws://127.0.0.1:%d' % sp, ['-L', '%d:127.0.0.1:%d' % (lp, port)],
                   wait_ports=[lp])
    t = time.monotonic()
    s = w.connect(lp, timeout=8)
    got = w.recv_until_eof(s)
    took = time.monotonic() - t
    w.check(got == b'', 'bytes from a dial that cannot complete: %r' % got[:40])
    w.check(0.5 <= took <= 3.0, 'the dial ended after %.2f s, not about 0.7 s' % took)
    del keep


def bad_connect_timeout():
    import subprocess
    r = subprocess.run([w.WSFERRY, 'server', '--connect-timeout', '0'], capture_output=True,
                       text=True, timeout=10)
    w.check(r.returncode == 2 and 'connect-timeout' in r.stderr, (r.returncode, r.stderr))


def bare_lf_head(extra, want_answer):
    sp = w.free_port()
    w.start_server(sp, extra)
    heads = [b'GET / HTTP/1.1\nHost: x\n\n', b'GET /\n\n']
    if not want_answer:  # nginx waits for the rest of this one, as the decoy does
        heads.append(b'GET / HTTP/1.1\r\nHost: x\n')
    for head in heads:
        s = w.connect(sp, timeout=5)
        t = time.monotonic()
        s.sendall(head)
        if want_answer:  # nginx answers (and may keep the connection alive)
            s.settimeout(1.0)
            got = s.recv(4096)
        else:
            got = w.recv_until_eof(s)
        took = time.monotonic() - t
        w.check(took < 1.0, '%r held %.2f s before the close' % (head, took))
        w.check(bool(got) == want_answer, '%r answered %r' % (head, got[:60]))
        s.close()


def body(suite):
    suite.run('-v means --log-level debug', verbose_flag)
    suite.run('server --connect-timeout bounds a dial that gets no SYN-ACK', connect_timeout)
    suite.run('server --connect-timeout 0: exit 2 naming the option', bad_connect_timeout)
    suite.run('bare-LF heads are dropped at once (--stealth drop)',
              bare_lf_head, [], False)
    suite.run('bare-LF heads get nginx\'s answer at once (--stealth decoy)',
              bare_lf_head, ['--stealth', 'decoy'], True)


if __name__ == '__main__':
    w.main_guard(w.Suite('habits_test'), body)
