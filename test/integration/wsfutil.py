"""Shared helpers for the tunnel integration tests (test/integration/*_test.py).

Everything here runs on 127.0.0.1 / ::1 only and starts only its own
processes and threads:
  - Suite: cases, one line per failed case, `-v` shows passes, other args
    filter case names; the last line is exactly `N passed, N failed`.
  - Proc: a child process (wsferry, nginx, tinyproxy ...) with its stderr in a
    temporary file, ended by PID (SIGTERM, SIGKILL after 3 s); wsferry
    children are checked for exit 0 and for sanitizer reports at the end.
  - free ports, wait_port, curl, a raw SOCKS5 client, an HTTP response reader,
  - servers in threads: an HTTP origin (http.server, keep-alive capable),
    TCP echo / sink / source / half-close servers.
Every wait is bounded; every loop has a count or a deadline.
"""

import hashlib
import http.server
import json
import os
import queue
import shutil
import signal
import socket
import socketserver
import struct
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse

WSFERRY = os.environ.get('WSFERRY', './build/wsferry')
SAN_MARKERS = ('ERROR: AddressSanitizer', 'runtime error:', 'LeakSanitizer')
T = 5.0  # default bound for one expected event


class CaseFail(Exception):
    pass


class CaseSkip(Exception):
    pass


class CaseTimeout(Exception):
    pass


def check(cond, msg):
    if not cond:
        raise CaseFail(msg)


def require_peer(name, package, path=None):
    """The path of the peer program name (a real nginx, tinyproxy, node ...),
    or CaseFail naming the Debian package: a peer a test needs and cannot
    find is a failure, never a skip (`sh test/deps.sh test` installs them)."""
    exe = shutil.which(name)
    if not exe and path and os.access(path, os.X_OK):
        exe = path
    if not exe:
        raise CaseFail('missing test peer: %s not found (Debian package %s; '
                       '`sh test/deps.sh test` as root installs every peer)' % (name, package))
    return exe


def is_sanitized(path=None):
    """True when the binary was built with ASan (slower, more memory)."""
    try:
        with open(path or WSFERRY, 'rb') as f:
            return b'__asan_init' in f.read()
    except OSError:
        return False


# ---------------------------------------------------------------- processes

_PROCS = []
_PROCS_LOCK = threading.Lock()


DRAIN_WAIT = 1.0  # Proc.stop: a draining server gets this long, then "stop now"


class Proc:
    """A child process we started; ended only by its own PID."""

    def __init__(self, args, name, env=None, wsferry=True, cwd=None):
        self.name = name
        self.args = list(args)
        self.wsferry = wsferry
        self.err = tempfile.NamedTemporaryFile(prefix='wsf-%s-' % name.replace('/', '_'),
                                               suffix='.log', delete=False)
        e = dict(os.environ)
        for k in list(e):
            if k.lower() in ('http_proxy', 'https_proxy', 'all_proxy', 'no_proxy'):
                del e[k]
        if env:
            e.update(env)
        self.p = subprocess.Popen(self.args, stdin=subprocess.DEVNULL, stdout=self.err,
                                  stderr=self.err, env=e, cwd=cwd)
        self.pid = self.p.pid
        self.rc = None
        self.stopped_by_us = False
        self.problems_checked = False
        with _PROCS_LOCK:
            _PROCS.append(self)

    def alive(self):
        return self.p.poll() is None

    def stop(self, grace=3.0):
        """SIGTERM, then SIGKILL after grace seconds. Returns the exit code
        (negative for a signal), None if it had to be killed. A wsferry
        server drains on SIGTERM while tunnels are open (--drain-timeout):
        after DRAIN_WAIT seconds a second SIGTERM stops it at once."""
        if self.p.poll() is not None:
            self.rc = self.p.returncode
            return self.rc
        self.stopped_by_us = True
        try:
            os.kill(self.pid, signal.SIGTERM)
        except ProcessLookupError:
            pass
        if self.wsferry and grace > DRAIN_WAIT:
            try:
                self.rc = self.p.wait(DRAIN_WAIT)
                return self.rc
            except subprocess.TimeoutExpired:
                pass
            try:
                os.kill(self.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
        try:
            self.rc = self.p.wait(grace)
            return self.rc
        except subprocess.TimeoutExpired:
            pass
        try:
            os.kill(self.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        try:
            self.p.wait(5)
        except subprocess.TimeoutExpired:
            pass
        self.rc = None  # killed: not a clean stop
        self.killed = True
        return None

    def stderr_text(self):
        try:
            with open(self.err.name, 'rb') as f:
                return f.read().decode('utf-8', 'replace')
        except OSError:
            return ''

    def tail(self, n=8):
        lines = self.stderr_text().rstrip('\n').split('\n')
        return '\n'.join('    | ' + l for l in lines[-n:] if l)

    def sanitizer_lines(self):
        return [l for l in self.stderr_text().split('\n')
                if any(m in l for m in SAN_MARKERS)]

    def problems(self):
        """What is wrong with how this wsferry process ended (after stop())."""
        out = []
        if self.p.poll() is None:
            out.append('%s (pid %d) still running' % (self.name, self.pid))
        elif getattr(self, 'killed', False):
            out.append('%s (pid %d) ignored SIGTERM for 3 s and was killed'
                       % (self.name, self.pid))
        elif self.p.returncode != 0:
            how = ('signal %d' % -self.p.returncode) if self.p.returncode < 0 else \
                'exit %d' % self.p.returncode
            why = 'after SIGTERM' if self.stopped_by_us else 'by itself'
            out.append('%s (pid %d) ended with %s %s' % (self.name, self.pid, how, why))
        san = self.sanitizer_lines()
        if san:
            out.append('%s stderr has sanitizer reports: %s' % (self.name, san[0].strip()))
        return out

    def cleanup(self):
        try:
            os.unlink(self.err.name)
        except OSError:
            pass


def stop_all():
    with _PROCS_LOCK:
        procs = list(_PROCS)
    for p in reversed(procs):
        p.stop()


def wsferry_problems():
    """Stops every wsferry we started and lists what went wrong with each."""
    with _PROCS_LOCK:
        procs = [p for p in _PROCS if p.wsferry and not p.problems_checked]
    out = []
    if not procs:
        return None
    for p in procs:
        p.stop()
        p.problems_checked = True
        for pr in p.problems():
            out.append(pr)
            tail = p.tail(6)
            if tail:
                out.append(tail)
    return out


def cleanup_logs():
    with _PROCS_LOCK:
        for p in _PROCS:
            p.cleanup()


def _port_range():
    """Ports below the kernel's ephemeral range: a port we release for a
    moment (a server restart) is then never handed to someone else's
    bind(0) or outgoing connection meanwhile."""
    try:
        with open('/proc/sys/net/ipv4/ip_local_port_range') as f:
            low = int(f.read().split()[0])
    except (OSError, ValueError, IndexError):
        low = 32768
    if low > 12000:
        return 10000, low - 1
    return None


_rng = __import__('random').Random(os.getpid() ^ int(time.time() * 1000))


def _bind_ok(host, port):
    fam = socket.AF_INET6 if ':' in host else socket.AF_INET
    s = socket.socket(fam, socket.SOCK_STREAM)
    try:
        s.bind((host, port))
        return s
    except OSError:
        s.close()
        return None


def free_ports(n, host='127.0.0.1'):
    """n distinct free ports (held open while choosing, so no duplicates),
    from below the ephemeral range when there is one."""
    socks = []
    try:
        rng = _port_range()
        for _ in range(n):
            s = None
            if rng:
                for _ in range(200):
                    port = _rng.randint(*rng)
                    if listening(port) or not _bind_ok_all(port):
                        continue
                    s = _bind_ok(host, port)
                    if s:
                        break
            if s is None:
                s = socket.socket(socket.AF_INET6 if ':' in host else socket.AF_INET,
                                  socket.SOCK_STREAM)
                s.bind((host, 0))
            socks.append(s)
        return [s.getsockname()[1] for s in socks]
    finally:
        for s in socks:
            s.close()


def _bind_ok_all(port):
    """Free on 0.0.0.0 and :: (nothing claims it in any form)."""
    for h in ('0.0.0.0', '::'):
        try:
            t = _bind_ok(h, port)
        except OSError:
            t = None
        if t is None:
            if h == '::' and not socket.has_ipv6:
                continue
            return False
        t.close()
    return True


def free_port(host='127.0.0.1'):
    return free_ports(1, host)[0]


def port_open(port, host='127.0.0.1', timeout=0.5):
    fam = socket.AF_INET6 if ':' in host else socket.AF_INET
    s = socket.socket(fam, socket.SOCK_STREAM)
    s.settimeout(timeout)
    try:
        s.connect((host, port))
        return True
    except OSError:
        return False
    finally:
        s.close()


def listening(port):
    """True when some socket is in LISTEN on port (from /proc/net/tcp*, so
    that waiting never opens a connection: a probe of a -L port would open a
    tunnel). None when /proc cannot tell."""
    seen = False
    for name in ('/proc/net/tcp', '/proc/net/tcp6'):
        try:
            with open(name) as f:
                lines = f.readlines()[1:]
        except OSError:
            continue
        seen = True
        for line in lines:
            parts = line.split()
            if len(parts) > 3 and parts[3] == '0A' and int(parts[1].rsplit(':', 1)[1], 16) == port:
                return True
    return False if seen else None


def wait_port(port, host='127.0.0.1', timeout=10.0, proc=None):
    """Waits until something listens on host:port (without connecting when
    /proc tells); raises CaseFail otherwise (early, with its stderr, if proc
    died)."""
    deadline = time.monotonic() + timeout
    for _ in range(int(timeout / 0.05) + 2):
        state = listening(port)
        if state or (state is None and port_open(port, host, 0.5)):
            return
        if proc is not None and not proc.alive():
            raise CaseFail('%s exited (%s) before listening on %s:%d\n%s'
                           % (proc.name, proc.p.returncode, host, port, proc.tail()))
        if time.monotonic() > deadline:
            break
        time.sleep(0.05)
    raise CaseFail('nothing listening on %s:%d after %.0f s' % (host, port, timeout))


def wait_port_closed(port, host='127.0.0.1', timeout=5.0):
    deadline = time.monotonic() + timeout
    for _ in range(int(timeout / 0.05) + 2):
        state = listening(port)
        if state is False or (state is None and not port_open(port, host, 0.3)):
            return True
        if time.monotonic() > deadline:
            break
        time.sleep(0.05)
    return False


def start_server(port, extra=(), name='server', path='', host='127.0.0.1', wait=True):
    url = 'ws://%s:%d%s' % (host if ':' not in host else '[%s]' % host, port, path)
    p = Proc([WSFERRY, 'server', url] + list(extra), name)
    if wait:
        wait_port(port, host, proc=p)
    return p


def start_client(server_url, args=(), wait_ports=(), name='client', env=None):
    p = Proc([WSFERRY, 'client', server_url] + list(args), name, env=env)
    for port in wait_ports:
        wait_port(port, proc=p)
    return p


def rss_kib(pid):
    try:
        with open('/proc/%d/status' % pid) as f:
            for line in f:
                if line.startswith('VmRSS:'):
                    return int(line.split()[1])
    except OSError:
        return None
    return None


# ---------------------------------------------------------------- the suite

class Suite:
    """Runs cases; prints one line per failure and the count line last."""

    def __init__(self, name, argv=None, file_limit=85.0):
        argv = sys.argv[1:] if argv is None else argv
        self.name = name
        self.verbose = '-v' in argv
        self.filters = [a for a in argv if a != '-v']
        self.passed = 0
        self.failed = 0
        self.skipped = 0
        self.t0 = time.monotonic()
        self.file_limit = file_limit
        self._finished = False
        # Last resort: whatever hangs, the file ends with a count line.
        self._watchdog = threading.Thread(target=self._watch, daemon=True)
        self._watchdog.start()

    def _watch(self):
        hard = self.file_limit + 60
        while time.monotonic() - self.t0 < hard:
            time.sleep(0.5)
            if self._finished:
                return
        print('FAIL %s: the whole file ran over %.0f s; killed' % (self.name, hard), flush=True)
        try:
            stop_all()
        finally:
            print('%d passed, %d failed' % (self.passed, self.failed + 1), flush=True)
            os._exit(1)

    def wanted(self, name):
        return not self.filters or any(f in name for f in self.filters)

    def run(self, name, fn, *args, timeout=60.0, always=False):
        """Runs one case; True, False, or None when filtered out or skipped.
        always: run even when filtered out (setup other cases need)."""
        if not always and not self.wanted(name):
            return None
        t = time.monotonic()

        def on_alarm(signo, frame):
            raise CaseTimeout('case ran over %.0f s' % timeout)
        old = signal.signal(signal.SIGALRM, on_alarm)
        signal.setitimer(signal.ITIMER_REAL, timeout)
        ok = False
        try:
            fn(*args)
            ok = True
        except CaseSkip as e:
            self.skipped += 1
            print('SKIP %s: %s' % (name, e), flush=True)
            return None
        except CaseFail as e:
            print('FAIL %s: %s' % (name, e), flush=True)
        except CaseTimeout as e:
            print('FAIL %s: %s' % (name, e), flush=True)
        except socket.timeout as e:
            print('FAIL %s: socket timeout (%s)' % (name, e), flush=True)
        except Exception as e:  # an unexpected error is a failure with its cause
            print('FAIL %s: %s: %s' % (name, type(e).__name__, e), flush=True)
        finally:
            signal.setitimer(signal.ITIMER_REAL, 0)
            signal.signal(signal.SIGALRM, old)
        if ok:
            self.passed += 1
            if self.verbose:
                print('ok   %s (%.1f s)' % (name, time.monotonic() - t), flush=True)
        else:
            self.failed += 1
            self._report_deaths()
        return ok

    def _report_deaths(self):
        """After a failure: say once if a wsferry we started died by itself
        (later failures are then probably its consequence)."""
        with _PROCS_LOCK:
            procs = [p for p in _PROCS if p.wsferry and not p.stopped_by_us
                     and p.p.poll() is not None and not getattr(p, 'death_reported', False)]
        for p in procs:
            p.death_reported = True
            san = p.sanitizer_lines()
            print('    NOTE: %s (pid %d) died by itself with exit %s%s; later failures may '
                  'follow from it' % (p.name, p.pid, p.p.returncode,
                                      (': ' + san[0].strip()) if san else ''), flush=True)

    def check_processes(self, name='wsferry processes exit 0 on SIGTERM, no sanitizer reports'):
        """Stops every wsferry started so far and checks how each ended."""
        probs = wsferry_problems()
        if probs is None:
            return  # nothing started since the last check
        if not self.wanted(name) and not probs:
            return
        if probs:
            self.failed += 1
            print('FAIL %s: %s' % (name, '\n'.join(probs)), flush=True)
        else:
            self.passed += 1
            if self.verbose:
                print('ok   %s' % name, flush=True)

    def finish(self):
        stop_all()
        cleanup_logs()
        self._finished = True
        if self.verbose:
            print('(%s: %.1f s, %d skipped)' % (self.name, time.monotonic() - self.t0,
                                               self.skipped), flush=True)
        print('%d passed, %d failed' % (self.passed, self.failed), flush=True)
        return 1 if self.failed else 0


# ---------------------------------------------------------------- sockets

def connect(port, host='127.0.0.1', timeout=T):
    fam = socket.AF_INET6 if ':' in host else socket.AF_INET
    s = socket.socket(fam, socket.SOCK_STREAM)
    s.settimeout(timeout)
    s.connect((host, port))
    return s


def recv_exact(s, n, what='bytes'):
    buf = bytearray()
    for _ in range(n + 1):
        if len(buf) >= n:
            break
        try:
            chunk = s.recv(n - len(buf))
        except socket.timeout:
            raise CaseFail('timeout waiting for %s (%d of %d bytes)' % (what, len(buf), n))
        if not chunk:
            raise CaseFail('connection closed while waiting for %s (%d of %d bytes: %r)'
                           % (what, len(buf), n, bytes(buf[:32])))
        buf += chunk
    return bytes(buf)


def recv_until_eof(s, limit=1 << 30, what='EOF'):
    """All bytes until the peer's FIN. A RST counts as a failure."""
    buf = bytearray()
    for _ in range(limit):
        try:
            chunk = s.recv(1 << 16)
        except socket.timeout:
            raise CaseFail('timeout waiting for %s after %d bytes' % (what, len(buf)))
        except ConnectionResetError:
            raise CaseFail('connection reset while waiting for %s after %d bytes'
                           % (what, len(buf)))
        if not chunk:
            return bytes(buf)
        buf += chunk
        if len(buf) > limit:
            raise CaseFail('more than %d bytes before %s' % (limit, what))
    return bytes(buf)


def sha(b):
    return hashlib.sha256(b).hexdigest()


# ---------------------------------------------------------------- SOCKS5

SOCKS_REP_NAMES = {0: 'succeeded', 1: 'general failure', 2: 'not allowed by ruleset',
                   3: 'network unreachable', 4: 'host unreachable', 5: 'connection refused',
                   6: 'TTL expired', 7: 'command not supported',
                   8: 'address type not supported'}


def socks_addr(host):
    """ATYP + address bytes for host (IPv4/IPv6 literal or a name)."""
    try:
        return b'\x01' + socket.inet_pton(socket.AF_INET, host)
    except OSError:
        pass
    try:
        return b'\x04' + socket.inet_pton(socket.AF_INET6, host)
    except OSError:
        pass
    h = host.encode()
    return b'\x03' + bytes([len(h)]) + h


def socks_request(host, port, cmd=1):
    return b'\x05' + bytes([cmd]) + b'\x00' + socks_addr(host) + struct.pack('>H', port)


def read_socks_reply(s):
    """Reads a whole RFC 1928 reply; returns (rep, atyp, addr bytes, port)."""
    head = recv_exact(s, 4, 'SOCKS5 reply')
    check(head[0] == 5, 'SOCKS5 reply version %d, expected 5 (reply %r)' % (head[0], head))
    atyp = head[3]
    if atyp == 1:
        addr = recv_exact(s, 4, 'SOCKS5 reply address')
    elif atyp == 4:
        addr = recv_exact(s, 16, 'SOCKS5 reply address')
    elif atyp == 3:
        n = recv_exact(s, 1, 'SOCKS5 reply name length')[0]
        addr = recv_exact(s, n, 'SOCKS5 reply name')
    else:
        raise CaseFail('SOCKS5 reply with ATYP %d (reply %r)' % (atyp, head))
    port = struct.unpack('>H', recv_exact(s, 2, 'SOCKS5 reply port'))[0]
    return head[1], atyp, addr, port


def socks_open(proxy_port, host, port, user=None, password=None, early=b'',
               pipeline=False, timeout=T):
    """Opens a SOCKS5 CONNECT through the proxy. Returns (sock, rep). With
    pipeline, greeting, auth, request and early data go out in one write
    before any reply is read."""
    s = connect(proxy_port, timeout=timeout)
    method = 2 if user is not None else 0
    greet = b'\x05\x01' + bytes([method])
    auth = b''
    if user is not None:
        u, p = user.encode(), password.encode()
        auth = b'\x01' + bytes([len(u)]) + u + bytes([len(p)]) + p
    req = socks_request(host, port)
    try:
        if pipeline:
            s.sendall(greet + auth + req + early)
        else:
            s.sendall(greet)
        sel = recv_exact(s, 2, 'SOCKS5 method selection')
        check(sel == b'\x05' + bytes([method]),
              'method selection %r, expected %r' % (sel, b'\x05' + bytes([method])))
        if user is not None:
            if not pipeline:
                s.sendall(auth)
            v = recv_exact(s, 2, 'RFC 1929 verdict')
            check(v == b'\x01\x00', 'RFC 1929 verdict %r, expected success' % v)
        if not pipeline:
            s.sendall(req + early)
        rep = read_socks_reply(s)[0]
    except BaseException:
        s.close()
        raise
    return s, rep


def socks_connect(proxy_port, host, port, **kw):
    """socks_open that insists on success."""
    s, rep = socks_open(proxy_port, host, port, **kw)
    if rep != 0:
        s.close()
        raise CaseFail('SOCKS5 CONNECT %s:%d answered REP 0x%02x (%s)'
                       % (host, port, rep, SOCKS_REP_NAMES.get(rep, '?')))
    return s


# ---------------------------------------------------------------- HTTP

def read_http_response(s, method='GET', what='HTTP response', pre=b''):
    """Reads one response: (status, headers {lower: value}, body, raw head,
    rest). Body framed by Content-Length, chunked, or until EOF. pre: bytes
    already read (the rest of a previous response on this connection); rest:
    bytes read beyond this response (pipelined responses)."""
    buf = bytearray(pre)
    for _ in range(10000):
        i = buf.find(b'\r\n\r\n')
        if i >= 0:
            break
        try:
            chunk = s.recv(65536)
        except socket.timeout:
            raise CaseFail('timeout waiting for %s (got %r)' % (what, bytes(buf[:80])))
        if not chunk:
            raise CaseFail('connection closed before %s head was complete (got %d bytes %r)'
                           % (what, len(buf), bytes(buf[:80])))
        buf += chunk
        if len(buf) > 65536:
            raise CaseFail('%s head over 64 KiB' % what)
    else:
        raise CaseFail('no end of %s head' % what)
    head = bytes(buf[:i]).decode('latin-1')
    rest = bytes(buf[i + 4:])
    lines = head.split('\r\n')
    parts = lines[0].split(' ', 2)
    check(len(parts) >= 2 and parts[0].startswith('HTTP/1.') and parts[1].isdigit(),
          'bad status line in %s: %r' % (what, lines[0]))
    status = int(parts[1])
    hdrs = {}
    for l in lines[1:]:
        k, _, v = l.partition(':')
        hdrs.setdefault(k.strip().lower(), v.strip())
    if method == 'HEAD' or status in (204, 304) or 100 <= status < 200:
        return status, hdrs, b'', head, rest
    if 'content-length' in hdrs:
        n = int(hdrs['content-length'])
        if len(rest) < n:
            rest += recv_exact(s, n - len(rest), '%s body' % what)
        return status, hdrs, rest[:n], head, rest[n:]
    if 'chunked' in hdrs.get('transfer-encoding', '').lower():
        body = bytearray()
        f = _SockReader(s, rest)
        for _ in range(100000):
            size = int(f.line().split(b';')[0].strip(), 16)
            if size == 0:
                for _ in range(100):
                    if f.line() == b'':
                        break
                return status, hdrs, bytes(body), head, f.buf
            body += f.exact(size)
            f.line()
        raise CaseFail('too many chunks')
    return status, hdrs, rest + recv_until_eof(s, what='%s body' % what), head, b''


class _SockReader:
    def __init__(self, s, buf):
        self.s, self.buf = s, bytes(buf)

    def _more(self):
        c = self.s.recv(65536)
        if not c:
            raise CaseFail('connection closed inside a chunked body')
        self.buf += c

    def line(self):
        for _ in range(1000):
            i = self.buf.find(b'\r\n')
            if i >= 0:
                l, self.buf = self.buf[:i], self.buf[i + 2:]
                return l
            self._more()
        raise CaseFail('chunk line too long')

    def exact(self, n):
        for _ in range(n + 2):
            if len(self.buf) >= n:
                break
            self._more()
        d, self.buf = self.buf[:n], self.buf[n:]
        return d


def curl(args, timeout=20.0):
    """Runs curl -sS with args; returns CompletedProcess (bytes)."""
    env = {k: v for k, v in os.environ.items()
           if k.lower() not in ('http_proxy', 'https_proxy', 'all_proxy', 'no_proxy')}
    cmd = ['curl', '-sS', '--max-time', str(int(timeout))] + list(args)
    try:
        return subprocess.run(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, timeout=timeout + 5, env=env)
    except subprocess.TimeoutExpired:
        raise CaseFail('curl %s did not finish in %.0f s' % (' '.join(args), timeout + 5))


def curl_ok(args, timeout=20.0):
    r = curl(args, timeout)
    if r.returncode != 0:
        raise CaseFail('curl %s: exit %d: %s' % (' '.join(args), r.returncode,
                                                 r.stderr.decode(errors='replace').strip()))
    return r.stdout


# ---------------------------------------------------------------- servers

def _det_bytes(n, seed):
    """Deterministic pseudo-random bytes (the same on both ends of a test)."""
    import random
    return random.Random(seed).randbytes(n)


class _OriginHandler(http.server.BaseHTTPRequestHandler):
    protocol_version = 'HTTP/1.1'
    server_version = 'origin'
    sys_version = ''

    def log_message(self, fmt, *args):
        pass

    def setup(self):
        super().setup()
        self.server.stats['connections'] += 1

    def _send(self, code, body, ctype='application/octet-stream', extra=()):
        self.send_response(code)
        self.send_header('Content-Type', ctype)
        self.send_header('Content-Length', str(len(body)))
        for k, v in extra:
            self.send_header(k, v)
        self.end_headers()
        if self.command != 'HEAD':
            self.wfile.write(body)

    def do_GET(self):
        u = urllib.parse.urlsplit(self.path)
        q = urllib.parse.parse_qs(u.query)
        self.server.stats['requests'].append((self.command, self.path, dict(self.headers)))
        if u.path.startswith('/bytes/'):
            n = int(u.path.split('/')[2])
            seed = int(q.get('seed', ['1'])[0])
            body = _det_bytes(n, seed)
            return self._send(200, body, extra=[('X-SHA256', sha(body))])
        if u.path == '/headers':
            body = json.dumps({k.lower(): v for k, v in self.headers.items()}).encode()
            return self._send(200, body, 'application/json')
        body = ('origin says hello: %s %s\n' % (self.command, self.path)).encode()
        return self._send(200, body, 'text/plain')

    do_HEAD = do_GET

    def do_POST(self):
        self.server.stats['requests'].append((self.command, self.path, dict(self.headers)))
        h = hashlib.sha256()
        if 'chunked' in self.headers.get('Transfer-Encoding', '').lower():
            total = 0
            for _ in range(1 << 20):
                line = self.rfile.readline(4096)
                size = int(line.split(b';')[0].strip() or b'0', 16)
                if size == 0:
                    for _ in range(100):  # trailers up to the empty line
                        if self.rfile.readline(4096) in (b'\r\n', b'\n', b''):
                            break
                    break
                data = self.rfile.read(size)
                h.update(data)
                total += len(data)
                self.rfile.readline(16)
            body = json.dumps({'len': total, 'sha256': h.hexdigest(), 'path': self.path,
                               'chunked': True}).encode()
            return self._send(200, body, 'application/json')
        n = int(self.headers.get('Content-Length', '0'))
        left = n
        for _ in range(n // 1024 + 2):
            if left <= 0:
                break
            chunk = self.rfile.read(min(left, 1 << 16))
            if not chunk:
                break
            h.update(chunk)
            left -= len(chunk)
        body = json.dumps({'len': n - left, 'sha256': h.hexdigest(),
                           'path': self.path}).encode()
        return self._send(200, body, 'application/json')


class _ThreadingHTTPServer(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 256

    def handle_error(self, request, client_address):
        pass  # resets by design (tests cut connections); keep the output clean


class HTTPOrigin:
    """A threaded HTTP/1.1 origin on 127.0.0.1 (or ::1): /hello, /bytes/N,
    /headers, POST anything -> {"len","sha256"}."""

    def __init__(self, host='127.0.0.1'):
        cls = _ThreadingHTTPServer
        if ':' in host:
            cls = type('_HTTP6', (_ThreadingHTTPServer,), {'address_family': socket.AF_INET6})
        self.httpd = cls((host, 0), _OriginHandler)
        self.httpd.stats = {'connections': 0, 'requests': []}
        self.host = host
        self.port = self.httpd.server_address[1]
        self.thread = threading.Thread(target=self.httpd.serve_forever, kwargs={'poll_interval': 0.1},
                                       daemon=True)
        self.thread.start()

    @property
    def stats(self):
        return self.httpd.stats

    def url(self, path='/', host=None):
        h = host or self.host
        if ':' in h:
            h = '[%s]' % h
        return 'http://%s:%d%s' % (h, self.port, path)

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()


class TCPServer:
    """Accepts on 127.0.0.1 (or ::1) in a thread; each connection runs
    handler(sock, server) in its own daemon thread. results collects what
    handlers put there."""

    def __init__(self, handler, host='127.0.0.1', backlog=512, port=0):
        fam = socket.AF_INET6 if ':' in host else socket.AF_INET
        self.ls = socket.socket(fam, socket.SOCK_STREAM)
        self.ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.ls.bind((host, port))
        self.ls.listen(backlog)
        self.ls.settimeout(0.2)
        self.port = self.ls.getsockname()[1]
        self.handler = handler
        self.results = queue.Queue()
        self.accepted = 0
        self.conns = []
        self._stop = False
        self.thread = threading.Thread(target=self._loop, daemon=True)
        self.thread.start()

    def _loop(self):
        while not self._stop:
            try:
                c, _ = self.ls.accept()
            except socket.timeout:
                continue
            except OSError:
                return
            self.accepted += 1
            self.conns.append(c)
            c.settimeout(60)
            threading.Thread(target=self._run, args=(c,), daemon=True).start()

    def _run(self, c):
        try:
            self.handler(c, self)
        except Exception as e:
            self.results.put(('error', '%s: %s' % (type(e).__name__, e)))
        finally:
            try:
                c.close()
            except OSError:
                pass

    def result(self, timeout=T, what='server result'):
        try:
            r = self.results.get(timeout=timeout)
        except queue.Empty:
            raise CaseFail('no %s within %.0f s' % (what, timeout))
        if r and r[0] == 'error':
            raise CaseFail('%s: server side failed: %s' % (what, r[1]))
        return r

    def close(self):
        self._stop = True
        try:
            self.ls.close()
        except OSError:
            pass
        for c in list(self.conns):
            try:
                c.close()
            except OSError:
                pass


def echo_handler(c, srv):
    total = 0
    for _ in range(1 << 20):
        d = c.recv(1 << 16)
        if not d:
            break
        c.sendall(d)
        total += len(d)
    try:
        c.shutdown(socket.SHUT_WR)
    except OSError:
        pass
    srv.results.put(('echo', total))


def sink_handler(c, srv):
    """Reads to EOF; reports (len, sha256); answers 'len sha\\n' then closes."""
    h = hashlib.sha256()
    n = 0
    for _ in range(1 << 24):
        d = c.recv(1 << 18)
        if not d:
            break
        h.update(d)
        n += len(d)
    srv.results.put(('sink', n, h.hexdigest()))
    try:
        c.sendall(('%d %s\n' % (n, h.hexdigest())).encode())
        c.shutdown(socket.SHUT_WR)
    except OSError:
        pass


def make_source_handler(nbytes, chunk=1 << 16):
    """Sends nbytes of fresh random data as fast as the peer takes them,
    reports (sent, sha256), then closes (FIN)."""
    def handler(c, srv):
        h = hashlib.sha256()
        sent = 0
        c.settimeout(120)
        try:
            for _ in range(nbytes // chunk + 2):
                if sent >= nbytes:
                    break
                d = os.urandom(min(chunk, nbytes - sent))
                h.update(d)
                c.sendall(d)
                sent += len(d)
            c.shutdown(socket.SHUT_WR)
        except OSError as e:
            srv.results.put(('source-error', sent, str(e)))
            return
        srv.results.put(('source', sent, h.hexdigest()))
        # keep the socket until the peer is done (no RST on close)
        try:
            for _ in range(1000):
                if not c.recv(65536):
                    break
        except OSError:
            pass
    return handler


def send_random(s, nbytes, chunk=1 << 16):
    """Sends nbytes of random data; returns their sha256."""
    h = hashlib.sha256()
    sent = 0
    for _ in range(nbytes // chunk + 2):
        if sent >= nbytes:
            break
        d = os.urandom(min(chunk, nbytes - sent))
        h.update(d)
        s.sendall(d)
        sent += len(d)
    return h.hexdigest()


def recv_hash(s, limit=1 << 31, chunk=1 << 18, prefix=b''):
    """Reads to EOF; returns (len, sha256) of prefix + what was read."""
    h = hashlib.sha256(prefix)
    n = len(prefix)
    for _ in range(limit // 1024 + 2):
        try:
            d = s.recv(chunk)
        except socket.timeout:
            raise CaseFail('timeout after %d bytes' % n)
        except ConnectionResetError:
            raise CaseFail('connection reset after %d bytes' % n)
        if not d:
            return n, h.hexdigest()
        h.update(d)
        n += len(d)
        if n > limit:
            raise CaseFail('more than %d bytes' % limit)
    raise CaseFail('too many reads')


def stalled_listener():
    """A listener whose accept queue is full, so that further connects get no
    SYN-ACK (the dial hangs until it times out). Returns (port, keep) where
    keep must stay referenced, or raises CaseSkip when the kernel answers
    anyway."""
    ls = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    ls.bind(('127.0.0.1', 0))
    ls.listen(0)
    port = ls.getsockname()[1]
    keep = [ls]
    for _ in range(4):
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.setblocking(False)
        s.connect_ex(('127.0.0.1', port))
        keep.append(s)
        time.sleep(0.05)
    time.sleep(0.2)
    probe = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    probe.settimeout(1.0)
    try:
        probe.connect(('127.0.0.1', port))
        probe.close()
        for k in keep:
            k.close()
        raise CaseSkip('a full accept queue still completes connects here; no way to '
                       'make a dial time out on loopback')
    except socket.timeout:
        probe.close()
    except OSError as e:
        for k in keep:
            k.close()
        raise CaseSkip('probe connect to the stalled listener failed: %s' % e)
    return port, keep


def refused_port():
    """A port on 127.0.0.1 where nothing listens (bound then closed)."""
    return free_port()


def main_guard(suite, body):
    """Runs body(suite) and always finishes the suite (stops our processes)."""
    rc = 1
    try:
        body(suite)
    except Exception as e:
        suite.failed += 1
        print('FAIL %s setup: %s: %s' % (suite.name, type(e).__name__, e), flush=True)
    finally:
        try:
            suite.check_processes()
        finally:
            rc = suite.finish()
    sys.exit(rc)


# ---------------------------------------------------------------- the decoy's twin

DECOY_NGINX_CONF = """
daemon off;
master_process off;
worker_processes 1;
error_log %(dir)s/error.log info;
pid %(dir)s/nginx.pid;
events { worker_connections 256; }
http {
    include /etc/nginx/mime.types;
    default_type application/octet-stream;
    access_log off;
    client_body_temp_path %(dir)s/body;
    proxy_temp_path %(dir)s/proxy;
    fastcgi_temp_path %(dir)s/fastcgi;
    uwsgi_temp_path %(dir)s/uwsgi;
    scgi_temp_path %(dir)s/scgi;
    server_tokens off;
    server {
        listen 127.0.0.1:%(port)d;
        root /nonexistent;
    }
}
"""


class DecoyNginx:
    """Debian's nginx as the man page describes the decoy's twin:
    server_tokens off, an empty site (a root that does not exist), every
    other setting at its default."""

    def __init__(self):
        exe = require_peer('nginx', 'nginx', '/usr/sbin/nginx')
        self.dir = tempfile.mkdtemp(prefix='wsf-decoy-nginx-')
        self.port = free_port()
        conf = os.path.join(self.dir, 'nginx.conf')
        with open(conf, 'w') as f:
            f.write(DECOY_NGINX_CONF % {'dir': self.dir, 'port': self.port})
        self.proc = Proc([exe, '-p', self.dir, '-e', os.path.join(self.dir, 'error.log'),
                          '-c', conf], 'nginx-decoy', wsferry=False)
        wait_port(self.port, proc=self.proc)

    def close(self):
        self.proc.stop()
        shutil.rmtree(self.dir, ignore_errors=True)


def http_exchange(port, parts, quiet=0.5, limit=8.0):
    """Sends parts (bytes, or a list sent one after the other, each after the
    answer to the previous one has gone quiet) and reads until EOF, a reset,
    or `quiet` seconds without a byte. Returns (bytes, how) with how in
    eof / reset / open."""
    if isinstance(parts, bytes):
        parts = [parts]
    s = connect(port, timeout=quiet)
    buf = b''
    how = 'open'
    deadline = time.monotonic() + limit
    try:
        for part in parts:
            try:
                s.sendall(part)
            except OSError:
                return buf, 'reset'
            for _ in range(4096):
                if time.monotonic() > deadline:
                    return buf, 'open'
                try:
                    d = s.recv(65536)
                except socket.timeout:
                    break
                except ConnectionResetError:
                    return buf, 'reset'
                if not d:
                    return buf, 'eof'
                buf += d
        return buf, how
    finally:
        s.close()
