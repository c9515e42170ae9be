#!/usr/bin/python3
"""security_test.py — what the pre-shared key and the server's policies
protect, tried as an attacker would with the real binary: a token replayed
at every second of its window, replays across --workers with a worker
killed, a fake server that records what a keyed client sends before the
proof, refusals forged on the path, -R outside --permit-listen, and secrets
in /proc/PID/cmdline and /proc/PID/environ.
Interface: env WSFERRY (binary), last line "N passed, N failed"."""
import base64, hashlib, os, signal, socket, subprocess, sys, threading, time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import wsfutil as w  # noqa: E402
from wsfutil import check  # noqa: E402

KEY = subprocess.run([w.WSFERRY, 'keygen'], capture_output=True, text=True,
                     check=True).stdout.strip()
GUID = b'258EAFA5-E914-47DA-95CA-C5AB0DC85B11'
ECHO = None  # the destination named by captured tokens (the server dials it first)


def read_head(c, limit=65536):
    head = b''
    while b'\r\n\r\n' not in head and len(head) < limit:
        d = c.recv(4096)
        if not d:
            break
        head += d
    return head


class Recorder:
    """A fake server: accepts, answers with answer(head) (or nothing), and
    records every byte each connection sent for hold seconds."""

    def __init__(self, answer=None, hold=1.5):
        self.answer, self.hold = answer, hold
        self.got, self.lock = [], threading.Lock()
        self.sock = socket.socket()
        self.sock.bind(('127.0.0.1', 0))
        self.sock.listen(64)
        self.port = self.sock.getsockname()[1]
        threading.Thread(target=self._loop, daemon=True).start()

    def _loop(self):
        while True:
            try:
                c, _ = self.sock.accept()
            except OSError:
                return
            threading.Thread(target=self._one, args=(c,), daemon=True).start()

    def _one(self, c):
        c.settimeout(0.2)
        data, end = b'', time.monotonic() + self.hold
        answered = False
        try:
            while time.monotonic() < end:
                try:
                    d = c.recv(65536)
                except socket.timeout:
                    continue
                if not d:
                    break
                data += d
                if self.answer and not answered and b'\r\n\r\n' in data:
                    c.sendall(self.answer(data))
                    answered = True
        except OSError:
            pass
        finally:
            with self.lock:
                self.got.append(data)
            c.close()

    def all(self):
        with self.lock:
            return b''.join(self.got)

    def close(self):
        self.sock.close()


def ws_accept_of(head):
    key = [l.split(b':', 1)[1].strip() for l in head.split(b'\r\n')
           if l.lower().startswith(b'sec-websocket-key:')][0]
    return base64.b64encode(hashlib.sha1(key + GUID).digest())


FAKETIME_LIB = '/usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1'


def capture_heads(n, offset=None):
    """Runs a keyed client against a silent recorder and returns n upgrade
    requests, each a valid token the real server would accept once. offset
    ('+2s', '-2s'): the client's clock is shifted by libfaketime, preloaded
    into the client itself (the faketime wrapper would leave it orphaned)."""
    global ECHO
    if ECHO is None:
        ECHO = w.TCPServer(w.echo_handler)
    rec = Recorder(hold=0.5)
    lport = w.free_port()
    gen, env = w.WSFERRY, None
    if offset:
        if not os.path.exists(FAKETIME_LIB):
            raise w.CaseFail('libfaketime is not installed (Debian faketime; test/deps.sh)')
        # LD_PRELOAD and ASan's runtime cannot both come first: the plain build.
        gen = './build/wsferry' if os.path.exists('./build/wsferry') else w.WSFERRY
        env = {'LD_PRELOAD': FAKETIME_LIB, 'FAKETIME': offset, 'DONT_FAKE_MONOTONIC': '1'}
    p = w.Proc([gen, 'client', 'ws://127.0.0.1:%d' % rec.port, '--key', KEY,
                '-L', '%d:127.0.0.1:%d' % (lport, ECHO.port)], 'capture', env=env,
               wsferry=not offset)
    try:
        w.wait_port(lport, proc=p)
        socks = [w.connect(lport) for _ in range(n)]
        end = time.monotonic() + 10
        while time.monotonic() < end:
            if len([g for g in list(rec.got) if b'\r\n\r\n' in g]) >= n:
                break
            time.sleep(0.05)
        for s in socks:
            s.close()
    finally:
        p.stop()
        rec.close()
    heads = [g[:g.index(b'\r\n\r\n') + 4] for g in rec.got if b'\r\n\r\n' in g]
    check(len(heads) >= n, 'captured %d of %d upgrade requests' % (len(heads), n))
    return heads[:n]


def answered_101(port, head, timeout=2.0):
    s = socket.create_connection(('127.0.0.1', port), timeout)
    s.settimeout(timeout)
    try:
        s.sendall(head)
        got = read_head(s)
    except OSError as e:
        if isinstance(e, socket.timeout):
            raise
        got = b''  # a reset is the server's refusal; anything else is raised
    finally:
        s.close()
    return got.startswith(b'HTTP/1.1 101')


# ---------------------------------------------------------------- 1: window edges

def case_replay_every_second(skew=4):
    """Copies of one token sent 5 times a second over its whole window and
    beyond: exactly one 101 (the window's last second was open to replays)."""
    port = w.free_port()
    w.start_server(port, ['--key', KEY, '--max-skew', str(skew)], name='skew')
    # The token dated now is captured last, so a slow (loaded) capture of the
    # others cannot age it out of its window before its first use.
    tokens = {skew: capture_heads(1, '+%ds' % skew)[0],
              -skew: capture_heads(1, '-%ds' % skew)[0]}
    tokens[0] = capture_heads(1)[0]
    wins = {k: 0 for k in tokens}
    end = time.monotonic() + 2 * skew + 2.5
    while time.monotonic() < end:
        for k, head in tokens.items():
            for _ in range(3):
                wins[k] += answered_101(port, head)
        time.sleep(0.2)
    check(wins[0] == 1, 'token dated now: %d answers 101 over its window' % wins[0])
    check(wins[skew] == 1, 'token dated +skew: %d answers 101' % wins[skew])
    check(wins[-skew] <= 1, 'token dated -skew: %d answers 101' % wins[-skew])


# ---------------------------------------------------------------- 2: workers

def worker_pids(parent):
    try:
        with open('/proc/%d/task/%d/children' % (parent, parent)) as f:
            return [int(x) for x in f.read().split()]
    except OSError:
        return []


def case_workers_replay_after_kill():
    """Tokens used once on a 2-worker server, a worker killed mid-run: no
    copy of any of them is ever answered again, by any worker."""
    port = w.free_port()
    srv = w.start_server(port, ['--key', KEY, '--workers', '2'], name='workers')
    heads = capture_heads(60)
    firsts = 0
    for i, h in enumerate(heads):
        if i == 30:
            kids = worker_pids(srv.pid)
            check(len(kids) >= 1, 'no worker processes found under %d' % srv.pid)
            os.kill(kids[0], signal.SIGKILL)
            time.sleep(0.3)
        firsts += answered_101(port, h)
    check(firsts == len(heads), 'only %d of %d fresh tokens answered' % (firsts, len(heads)))
    time.sleep(0.5)  # the killed worker is back
    again = sum(answered_101(port, h) for h in heads for _ in range(2))
    check(again == 0, '%d replays answered 101 after a worker was killed' % again)


# ---------------------------------------------------------------- 3: early data

SECRET = b'Authorization: Bearer s3cr3t-token-0123'


def frame_payloads(data):
    """Every upgrade's frames, unmasked: client frames are masked, so the
    user's bytes would not show in the raw capture."""
    out = b''
    for conn in data.split(b'GET / HTTP/1.1')[1:]:
        if b'\r\n\r\n' not in conn:
            continue
        rest = conn[conn.index(b'\r\n\r\n') + 4:]
        while len(rest) >= 2:
            n, i = rest[1] & 0x7f, 2
            if n == 126:
                n, i = int.from_bytes(rest[2:4], 'big'), 4
            elif n == 127:
                n, i = int.from_bytes(rest[2:10], 'big'), 10
            mask = rest[i:i + 4] if rest[1] & 0x80 else b'\0\0\0\0'
            i += 4 if rest[1] & 0x80 else 0
            body = rest[i:i + n]
            out += bytes(b ^ mask[k % 4] for k, b in enumerate(body))
            rest = rest[i + n:]
    return out


def recorded_by_fake(client_args, send):
    rec = Recorder(hold=2.0)
    try:
        p = w.start_client('ws://127.0.0.1:%d' % rec.port, client_args, name='victim')
        send()
        time.sleep(2.5)
        p.stop()
        return rec.all()
    finally:
        rec.close()


def case_fake_server_gets_no_early_data():
    dport, lport = w.free_ports(2)
    args = ['--key', KEY, '-D', str(dport), '-L', '%d:127.0.0.1:80' % lport]

    def send():
        w.wait_port(dport)
        w.wait_port(lport)
        h = w.connect(dport)  # plain HTTP proxying: the request is the early data
        h.sendall(b'GET http://127.0.0.1:9/private HTTP/1.1\r\nHost: x\r\n' + SECRET +
                  b'\r\n\r\n')
        s = w.connect(dport)  # SOCKS5 with optimistic data behind the request
        s.sendall(b'\x05\x01\x00' + w.socks_request('127.0.0.1', 9) + b'SOCKS-EARLY-' + SECRET)
        l = w.connect(lport)  # -L: whatever the local side says first
        l.sendall(b'L-EARLY-' + SECRET)
        time.sleep(1.5)
        for x in (h, s, l):
            x.close()
    got = recorded_by_fake(args, send)
    check(got.count(b'GET ') >= 3, 'the fake server saw %d upgrades' % got.count(b'GET '))
    sent = got + frame_payloads(got)
    check(SECRET not in sent and b'/private' not in sent and b'EARLY' not in sent,
          'user data reached a server that never proved the key: %r' % frame_payloads(got))


def case_early_data_positive_control():
    """The same client against the real server: the held bytes arrive whole."""
    origin = w.HTTPOrigin()
    sport, dport = w.free_ports(2)
    w.start_server(sport, ['--key', KEY])
    w.start_client('ws://127.0.0.1:%d' % sport, ['--key', KEY, '-D', str(dport)],
                   wait_ports=[dport])
    out = w.curl_ok(['-x', 'http://127.0.0.1:%d' % dport, '-H', SECRET.decode(),
                     'http://127.0.0.1:%d/headers' % origin.port])
    check(b's3cr3t-token-0123' in (out if isinstance(out, bytes) else out.encode()),
          'the origin did not see the request: %r' % out[:200])


# ---------------------------------------------------------------- 6: refusals

def forged_403(head):
    return (b'HTTP/1.1 403 Forbidden\r\nSec-WebSocket-Accept: ' + ws_accept_of(head) +
            b'\r\nContent-Length: 0\r\nConnection: close\r\n\r\n')


def socks_rep(dport, host, port):
    s = w.connect(dport)
    try:
        s.sendall(b'\x05\x01\x00')
        check(w.recv_exact(s, 2) == b'\x05\x00', 'SOCKS greeting refused')
        s.sendall(w.socks_request(host, port))
        return w.recv_exact(s, 2)[1]
    finally:
        s.close()


def case_forged_refusal_not_believed():
    """A 403 without the proof for 403 (forged on the path) is no refusal
    from the server: SOCKS 0x01 and a log line, never the forged 0x02."""
    rec = Recorder(answer=forged_403, hold=1.0)
    dport = w.free_port()
    try:
        p = w.start_client('ws://127.0.0.1:%d' % rec.port, ['--key', KEY, '-D', str(dport)],
                           wait_ports=[dport], name='forged')
        rep = socks_rep(dport, '127.0.0.1', 9)
        check(rep == 0x01, 'forged 403 gave SOCKS reply 0x%02x' % rep)
        time.sleep(0.3)
        check('could not prove it holds the key' in p.stderr_text(), p.tail())
    finally:
        rec.close()
    # Positive control: the real server's refusal is proven and mapped.
    sport, dport2 = w.free_ports(2)
    w.start_server(sport, ['--key', KEY, '--restrict-to', '127.0.0.1:1'])
    w.start_client('ws://127.0.0.1:%d' % sport, ['--key', KEY, '-D', str(dport2)],
                   wait_ports=[dport2])
    rep = socks_rep(dport2, '127.0.0.1', 9)
    check(rep == 0x02, 'the real server refusal gave SOCKS reply 0x%02x, not 0x02' % rep)


# ---------------------------------------------------------------- 4: -R policy

def remote_works(server_args, bind, expect):
    """Starts a server and a client with -R bind:PORT:echo; returns whether
    the server listened there (and relayed), with both processes."""
    echo = w.TCPServer(w.echo_handler)
    sport, rport = w.free_ports(2)
    srv = w.start_server(sport, ['--key', KEY] + server_args, name='rsrv')
    cli = w.start_client('ws://127.0.0.1:%d' % sport,
                         ['--key', KEY, '-R', '%s:%d:127.0.0.1:%d' % (bind, rport, echo.port)],
                         name='rcli')
    listening = False
    end = time.monotonic() + 3
    while time.monotonic() < end and not listening:
        listening = w.port_open(rport, bind)
        time.sleep(0.1)
    if listening:
        s = w.connect(rport, bind)
        s.sendall(b'ping-through-R')
        check(w.recv_exact(s, 14) == b'ping-through-R', '-R relay broken')
        s.close()
    if expect != listening:
        raise w.CaseFail('-R %s with %s: listening=%s\n%s' % (bind, server_args, listening,
                                                              srv.tail()))
    if not listening:
        time.sleep(0.3)
        check('outside --permit-listen' in srv.stderr_text(), 'no log line\n' + srv.tail())
    srv.stop()
    cli.stop()


def case_remote_default_loopback_only():
    remote_works([], '127.0.0.1', True)
    remote_works([], '127.0.0.2', True)   # all of 127/8 is loopback
    remote_works(['--restrict-to', '127.0.0.1:18080', '--allow', '127.0.0.1/32'],
                 '127.0.0.1', True)


def case_remote_outside_default_refused():
    # 0.0.0.0 is every address: refused by default (the finding's case).
    echo = w.TCPServer(w.echo_handler)
    sport, rport = w.free_ports(2)
    srv = w.start_server(sport, ['--key', KEY])
    w.start_client('ws://127.0.0.1:%d' % sport,
                   ['--key', KEY, '-R', '0.0.0.0:%d:127.0.0.1:%d' % (rport, echo.port)])
    time.sleep(1.5)
    check(not w.port_open(rport), 'the server listens on 0.0.0.0:%d' % rport)
    check('outside --permit-listen (default: loopback only)' in srv.stderr_text(), srv.tail())


def case_remote_permit_list():
    remote_works(['--permit-listen', '127.0.0.2:*'], '127.0.0.2', True)
    remote_works(['--permit-listen', '127.0.0.2:*'], '127.0.0.1', False)
    remote_works(['--permit-listen', 'none'], '127.0.0.1', False)
    remote_works(['--permit-listen', 'any'], '127.0.0.3', True)


def case_permit_listen_bad_value():
    for bad in ('example.com:80', '1.2.3.4:http', '70000', ''):
        r = subprocess.run([w.WSFERRY, 'server', '--permit-listen', bad], capture_output=True,
                           text=True, timeout=10)
        check(r.returncode == 2 and '--permit-listen' in r.stderr,
              '--permit-listen %r: exit %d, %r' % (bad, r.returncode, r.stderr))


# ---------------------------------------------------------------- 5: /proc

def proc_bytes(pid, what):
    with open('/proc/%d/%s' % (pid, what), 'rb') as f:
        return f.read()


def case_no_secrets_in_proc():
    pw, ppw = 'Pr0xyPassW0rd-zz', 'UpstreamPw-yy'
    dport, pport = w.free_ports(2)
    cli = w.start_client('ws://127.0.0.1:9', ['--key', KEY, '-D', str(dport),
                                              '--proxy-user', 'u', '--proxy-pass', pw,
                                              '--proxy', 'http://up:%s@127.0.0.1:%d' %
                                              (ppw, pport)],
                         wait_ports=[dport], name='secrets')
    cmd, env = proc_bytes(cli.pid, 'cmdline'), proc_bytes(cli.pid, 'environ')
    for s in (KEY, pw, ppw):
        check(s.encode() not in cmd, '%s... visible in /proc/PID/cmdline' % s[:6])
    check(b'--proxy-pass' in cmd, 'cmdline lost its shape: %r' % cmd)
    sport = w.free_port()
    srv = w.Proc([w.WSFERRY, 'server', 'ws://127.0.0.1:%d' % sport], 'envkey',
                 env={'WSFERRY_KEY': KEY})
    w.wait_port(sport, proc=srv)
    env = proc_bytes(srv.pid, 'environ')
    check(KEY.encode() not in env, 'WSFERRY_KEY visible in /proc/PID/environ')
    time.sleep(0.2)
    check('this server is OPEN' not in srv.stderr_text(), 'server ignored WSFERRY_KEY')


def main(suite):
    suite.run('a token copied at every second of its window gets one 101', case_replay_every_second,
              timeout=40)
    suite.run('--workers: replays refused by every worker, one killed mid-run',
              case_workers_replay_after_kill, timeout=60)
    suite.run('a fake server receives none of the user data before proving the key',
              case_fake_server_gets_no_early_data, timeout=30)
    suite.run('held early data reaches the real server', case_early_data_positive_control)
    suite.run('a refusal without its proof is not believed; a proven one is',
              case_forged_refusal_not_believed)
    suite.run('-R: loopback binds allowed by default', case_remote_default_loopback_only)
    suite.run('-R: 0.0.0.0 refused by default with a log line', case_remote_outside_default_refused)
    suite.run('-R: --permit-listen list, none and any', case_remote_permit_list, timeout=60)
    suite.run('--permit-listen: bad values exit 2', case_permit_listen_bad_value)
    suite.run('no key or password in /proc/PID/cmdline or environ', case_no_secrets_in_proc)


if __name__ == '__main__':
    w.main_guard(w.Suite('security'), main)
