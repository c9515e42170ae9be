#!/usr/bin/python3
"""auth_test.py — pre-shared-key authentication end to end: keygen, right /
wrong / missing keys, a captured request replayed, re-targeted, expired and
future-dated, a server that cannot prove the key, and bad key input.
Every refusal has a positive control on the same server in the same case, and
a refusal must be a close (FIN from the server; FIN or RST on a client's -L
socket, which the client closes with our bytes unread): a timeout or any other
socket error fails the case instead of reading as "no byte".
Interface: env WSFERRY (binary), last line "N passed, N failed"."""
import base64, hashlib, os, shutil, signal, socket, subprocess, sys, tempfile, time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import wsfutil as w  # noqa: E402

BIN = os.environ.get("WSFERRY", "./build/wsferry")
procs, results, tmp = [], [], tempfile.mkdtemp()


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p


def wait_port(port, t=10.0):
    # from /proc, without connecting: a probe of a -L port would open a tunnel
    w.wait_port(port, timeout=t)


def start(args, name, env=None):
    err = open(os.path.join(tmp, name + ".err"), "w+")
    p = subprocess.Popen([BIN] + args, stdout=subprocess.DEVNULL, stderr=err, env=env)
    p.log, p.name = err, name
    procs.append(p)
    return p


def log_of(p):
    p.log.flush()
    with open(p.log.name) as f:
        return f.read()


def case(name):
    def wrap(fn):
        try:
            fn()
            results.append((name, None))
        except Exception as e:  # noqa: BLE001 - every failure is reported
            results.append((name, f"{type(e).__name__}: {e}"))
        return fn
    return wrap


def roundtrip(port, data=b"hello", timeout=5):
    """Sends data through a client's -L port to the echo; returns what came
    back (up to len(data) bytes, less if the tunnel closed). Any socket
    error or a timeout is raised with its cause: never an empty answer."""
    s = socket.create_connection(("127.0.0.1", port), timeout)
    s.settimeout(timeout)
    got = b""
    try:
        s.sendall(data)
        while len(got) < len(data):
            d = s.recv(65536)
            if not d:
                break
            got += d
        return got
    except OSError as e:
        raise AssertionError(f"tunnel through :{port} failed after {len(got)} bytes: "
                             f"{type(e).__name__}: {e}") from None
    finally:
        s.close()


def refused_locally(port, data=b"hello", timeout=5):
    """Sends data through a client's -L port whose tunnel the server must
    refuse: the local connection must close with no byte. The client closes
    it with our bytes unread, so a FIN or a RST is that close; a timeout or
    any other error is a failure, not a refusal."""
    s = socket.create_connection(("127.0.0.1", port), timeout)
    s.settimeout(timeout)
    got = b""
    try:
        try:
            s.sendall(data)
        except (BrokenPipeError, ConnectionResetError):
            return
        for _ in range(1000):
            try:
                d = s.recv(65536)
            except ConnectionResetError:
                break
            except socket.timeout:
                raise AssertionError(f"the local connection stayed open {timeout} s: "
                                     "no refusal (and no answer)") from None
            if not d:
                break
            got += d
    except OSError as e:
        raise AssertionError(f"unexpected socket error instead of a close: "
                             f"{type(e).__name__}: {e}") from None
    finally:
        s.close()
    assert got == b"", f"data went through the refused tunnel: {got[:40]!r}"


def raw_exchange(port, payload, timeout=3):
    """Sends payload to the server; returns everything it sent until it
    closed (FIN) or until a whole 101 head. A timeout, a reset or any other
    socket error raises: a refusal is a clean close without a byte."""
    s = socket.create_connection(("127.0.0.1", port), timeout)
    s.settimeout(timeout)
    got = b""
    try:
        s.sendall(payload)
        while (d := s.recv(65536)):
            got += d
            if b"\r\n\r\n" in got and got.startswith(b"HTTP/1.1 101"):
                break
    except socket.timeout:
        raise AssertionError(f"the server neither answered nor closed in {timeout} s "
                             f"(got {got[:40]!r})") from None
    except OSError as e:
        raise AssertionError(f"{type(e).__name__} from the server instead of an answer or a "
                             f"clean close (got {got[:40]!r}): {e}") from None
    finally:
        s.close()
    return got


def answered(port, head):
    """A captured request the server must accept: 101 with the key proof."""
    got = raw_exchange(port, head)
    assert got.startswith(b"HTTP/1.1 101"), f"control request not answered 101: {got[:80]!r}"
    assert b"Set-Cookie:" in got, "101 without the key proof"
    return got


def dropped(port, head):
    """A request the server must drop: closed without a byte."""
    got = raw_exchange(port, head)
    assert got == b"", f"answered instead of dropped: {got[:80]!r}"


def capture_request(key, extra_env=None, prefix=()):
    """Runs a client against a fake server and returns its upgrade request."""
    fake = socket.socket()
    fake.bind(("127.0.0.1", 0))
    fake.listen(1)
    fport, lport = fake.getsockname()[1], free_port()
    env = dict(os.environ)
    env.update(extra_env or {})
    # Under faketime the request generator is the plain build: LD_PRELOAD and
    # ASan's runtime cannot both come first.
    gen = BIN if not prefix or not os.path.exists("./build/wsferry") else "./build/wsferry"
    argv = list(prefix) + [gen, "client", f"ws://127.0.0.1:{fport}", "--key", key,
                           "-L", f"{lport}:127.0.0.1:{ECHO}"]
    err = open(os.path.join(tmp, "capture.err"), "w")
    # own process group: faketime runs the client as its child, and the
    # whole group must go at the end
    p = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=err, env=env,
                         start_new_session=True)
    try:
        wait_port(lport)
        c = socket.create_connection(("127.0.0.1", lport), 3)
        fake.settimeout(5)
        conn, _ = fake.accept()
        conn.settimeout(5)
        head = b""
        while b"\r\n\r\n" not in head:
            d = conn.recv(4096)
            if not d:
                break
            head += d
        conn.close()
        c.close()
        return head[: head.index(b"\r\n\r\n") + 4]
    finally:
        os.killpg(p.pid, signal.SIGTERM)
        p.wait(5)
        fake.close()


KEY = subprocess.run([BIN, "keygen"], capture_output=True, text=True, check=True).stdout.strip()
ECHO = w.TCPServer(w.echo_handler).port
SP = free_port()
server = start(["server", f"ws://127.0.0.1:{SP}", "--key", KEY], "server")
wait_port(SP)
# The positive control of the refusals on SP: a client with the right key.
GOOD_LP = free_port()
start(["client", f"ws://127.0.0.1:{SP}", "--key", KEY, "-L", f"{GOOD_LP}:127.0.0.1:{ECHO}"],
      "good")


def control(port=None, what="the right key on the same server"):
    wait_port(port or GOOD_LP)
    data = os.urandom(2000)
    got = roundtrip(port or GOOD_LP, data)
    assert got == data, f"positive control ({what}) got {len(got)} of {len(data)} bytes back"


@case("keygen prints 43 base64url characters, fresh each time")
def _():
    other = subprocess.run([BIN, "keygen"], capture_output=True, text=True).stdout.strip()
    assert len(KEY) == 43 and len(other) == 43 and KEY != other
    base64.urlsafe_b64decode(KEY + "=")


@case("the right key tunnels; the key is not in the server's argv")
def _():
    wait_port(GOOD_LP)
    assert roundtrip(GOOD_LP) == b"hello"
    with open(f"/proc/{server.pid}/cmdline", "rb") as f:
        assert KEY.encode() not in f.read(), "key visible in /proc/PID/cmdline"


@case("WSFERRY_KEY from the environment works")
def _():
    lp = free_port()
    env = dict(os.environ, WSFERRY_KEY=KEY)
    start(["client", f"ws://127.0.0.1:{SP}", "-L", f"{lp}:127.0.0.1:{ECHO}"], "envkey", env=env)
    wait_port(lp)
    assert roundtrip(lp) == b"hello"


@case("--key-file works")
def _():
    path = os.path.join(tmp, "key")
    with open(path, "w") as f:
        f.write(KEY + "\n")
    lp = free_port()
    start(["client", f"ws://127.0.0.1:{SP}", "--key-file", path, "-L", f"{lp}:127.0.0.1:{ECHO}"],
          "keyfile")
    wait_port(lp)
    assert roundtrip(lp) == b"hello"


def refused_client(args, name):
    lp = free_port()
    p = start(["client", f"ws://127.0.0.1:{SP}", "-L", f"{lp}:127.0.0.1:{ECHO}"] + args, name)
    wait_port(lp)
    refused_locally(lp)
    time.sleep(0.3)
    assert "closed without answering" in log_of(p), log_of(p)
    control()


@case("no key: dropped, and the client says what probably went wrong")
def _():
    refused_client([], "nokey")


@case("wrong key: dropped")
def _():
    other = subprocess.run([BIN, "keygen"], capture_output=True, text=True).stdout.strip()
    refused_client(["--key", other], "wrongkey")


@case("captured request: first use answers 101 with a proof, a replay gets no byte")
def _():
    head = capture_request(KEY)
    answered(SP, head)
    dropped(SP, head)


@case("re-targeted request (one cookie character changed) gets no byte")
def _():
    head = capture_request(KEY)
    i = head.index(b"Cookie: ") + 8 + 12
    j = head.index(b"=", i - 12) + 20  # inside the blob, past the name
    flipped = head[:j] + (b"A" if head[j:j + 1] != b"A" else b"B") + head[j + 1:]
    assert flipped != head
    dropped(SP, flipped)
    answered(SP, head)  # the original still works


@case("expired token (older than --max-skew) gets no byte")
def _():
    sp = free_port()
    start(["server", f"ws://127.0.0.1:{sp}", "--key", KEY, "--max-skew", "2"], "skew")
    wait_port(sp)
    # the control first, used the moment it is captured (a loaded machine may
    # take a second to start the capturing client)
    answered(sp, capture_request(KEY))
    head = capture_request(KEY)
    time.sleep(4.5)
    dropped(sp, head)


@case("future-dated token (client clock 10 minutes ahead) gets no byte")
def _():
    if not shutil.which("faketime"):
        raise RuntimeError("faketime is not installed")
    head = capture_request(KEY, prefix=("faketime", "-f", "+10m"))
    dropped(SP, head)
    answered(SP, capture_request(KEY))  # the control: the same capture on time is good


@case("client clock 300 s ahead: the client log names --max-skew as a likely cause")
def _():
    if not shutil.which("faketime"):
        raise RuntimeError("faketime is not installed")
    lp = free_port()
    err = open(os.path.join(tmp, "ahead.err"), "w+")
    # the plain build under faketime (LD_PRELOAD and ASan's runtime clash)
    gen = "./build/wsferry" if os.path.exists("./build/wsferry") else BIN
    p = subprocess.Popen(["faketime", "-f", "+300s", gen, "client", f"ws://127.0.0.1:{SP}",
                          "--key", KEY, "-L", f"{lp}:127.0.0.1:{ECHO}"],
                         stdout=subprocess.DEVNULL, stderr=err, start_new_session=True)
    try:
        wait_port(lp)
        refused_locally(lp)
        time.sleep(0.3)
        err.flush()
        with open(err.name) as f:
            text = f.read()
        assert "closed without answering" in text and "--max-skew" in text, text
    finally:
        os.killpg(p.pid, signal.SIGTERM)
        p.wait(5)
    control()


def fake_101(c, srv):
    """Answers an upgrade with a valid WebSocket 101 but no key proof."""
    head = b""
    while b"\r\n\r\n" not in head:
        d = c.recv(4096)
        if not d:
            return
        head += d
    key = [l.split(b":", 1)[1].strip() for l in head.split(b"\r\n")
           if l.lower().startswith(b"sec-websocket-key:")][0]
    acc = base64.b64encode(hashlib.sha1(key + b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11").digest())
    c.sendall(b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
              b"Connection: Upgrade\r\nSec-WebSocket-Accept: " + acc + b"\r\n\r\n")
    time.sleep(0.5)


@case("a server that cannot prove the key is refused by the client")
def _():
    fake = w.TCPServer(fake_101)
    lp = free_port()
    p = start(["client", f"ws://127.0.0.1:{fake.port}", "--key", KEY, "-L",
               f"{lp}:127.0.0.1:{ECHO}"], "fake")
    wait_port(lp)
    refused_locally(lp)
    time.sleep(0.3)
    assert fake.accepted >= 1, "the client never reached the fake server"
    assert "could not prove it holds the key" in log_of(p), log_of(p)
    # the control: the same client settings against the real server carry data
    lp2 = free_port()
    start(["client", f"ws://127.0.0.1:{SP}", "--key", KEY, "-L", f"{lp2}:127.0.0.1:{ECHO}"],
          "fake-control")
    wait_port(lp2)
    control(lp2, "the same client settings against the real server")


def bad_usage(args, want):
    r = subprocess.run([BIN] + args, capture_output=True, text=True, timeout=10)
    assert r.returncode == 2, (r.returncode, r.stderr)
    assert want in r.stderr, r.stderr
    assert len([l for l in r.stderr.splitlines() if l.startswith("wsferry:")]) == 1, r.stderr


@case("malformed --key: exit 2, one clear line")
def _():
    bad_usage(["server", "--key", "hunter2"], "malformed key")
    bad_usage(["client", "ws://127.0.0.1:1", "--key", "x" * 43], "malformed key")


@case("--key naming a PEM file: did you mean --cert-key?")
def _():
    pem = os.path.join(tmp, "server.key")
    with open(pem, "w") as f:
        f.write("-----BEGIN PRIVATE KEY-----\nMC4CAQAwBQYDK2VwBCIEIA==\n-----END PRIVATE KEY-----\n")
    bad_usage(["server", "--key", pem], "did you mean --cert-key")
    bad_usage(["server", "--key-file", pem], "did you mean --cert-key")


@case("bad WSFERRY_KEY: exit 2")
def _():
    env = dict(os.environ, WSFERRY_KEY="nope")
    r = subprocess.run([BIN, "server"], capture_output=True, text=True, env=env, timeout=10)
    assert r.returncode == 2 and "WSFERRY_KEY" in r.stderr, (r.returncode, r.stderr)


@case("an open server says so; a keyed one does not")
def _():
    assert "OPEN" not in log_of(server)
    sp = free_port()
    p = start(["server", f"ws://127.0.0.1:{sp}"], "open")
    wait_port(sp)
    assert "OPEN" in log_of(p)


# ---- teardown: every wsferry we started must stop cleanly ----
for p in procs:
    if p.poll() is None:
        p.send_signal(signal.SIGTERM)
for p in procs:
    try:
        rc = p.wait(5)
    except subprocess.TimeoutExpired:
        p.kill()
        rc = "hung"
    text = log_of(p)
    bad = [m for m in ("AddressSanitizer", "runtime error:", "LeakSanitizer") if m in text]
    results.append((f"{p.name} exits 0 on SIGTERM, no sanitizer report",
                    None if rc == 0 and not bad else f"exit {rc} {bad}: {text[-600:]}"))

failed = [(n, why) for n, why in results if why]
for n, why in failed:
    print(f"FAIL {n}: {why}")
shutil.rmtree(tmp, ignore_errors=True)
print(f"{len(results) - len(failed)} passed, {len(failed)} failed")
sys.exit(1 if failed else 0)
