#!/usr/bin/python3
"""auth_test.py — pre-shared-key authentication end to end: keygen, right /
wrong / missing keys, a captured request replayed, re-targeted, expired and
future-dated, a server that cannot prove the key, and bad key input.
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
    end = time.time() + t
    while time.time() < end:
        try:
            socket.create_connection(("127.0.0.1", port), 0.2).close()
            return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"port {port} never opened")


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
    s = socket.create_connection(("127.0.0.1", port), timeout)
    s.settimeout(timeout)
    try:
        s.sendall(data)
        got = b""
        while len(got) < len(data):
            d = s.recv(65536)
            if not d:
                break
            got += d
        return got
    except OSError:
        return b""
    finally:
        s.close()


def raw_exchange(port, payload, timeout=3):
    """Sends payload, returns everything the server sent before closing."""
    s = socket.create_connection(("127.0.0.1", port), timeout)
    s.settimeout(timeout)
    s.sendall(payload)
    got = b""
    try:
        while (d := s.recv(65536)):
            got += d
            if b"\r\n\r\n" in got and got.startswith(b"HTTP/1.1 101"):
                break
    except OSError:
        pass
    s.close()
    return got


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


@case("keygen prints 43 base64url characters, fresh each time")
def _():
    other = subprocess.run([BIN, "keygen"], capture_output=True, text=True).stdout.strip()
    assert len(KEY) == 43 and len(other) == 43 and KEY != other
    base64.urlsafe_b64decode(KEY + "=")


@case("the right key tunnels; the key is not in the server's argv")
def _():
    lp = free_port()
    start(["client", f"ws://127.0.0.1:{SP}", "--key", KEY, "-L", f"{lp}:127.0.0.1:{ECHO}"], "good")
    wait_port(lp)
    assert roundtrip(lp) == b"hello"
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
    assert roundtrip(lp) == b"", "data went through"
    time.sleep(0.3)
    assert "closed without answering" in log_of(p), log_of(p)


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
    first = raw_exchange(SP, head)
    assert first.startswith(b"HTTP/1.1 101"), first[:80]
    assert b"Set-Cookie:" in first
    second = raw_exchange(SP, head)
    assert second == b"", second[:80]


@case("re-targeted request (one cookie character changed) gets no byte")
def _():
    head = capture_request(KEY)
    i = head.index(b"Cookie: ") + 8 + 12
    j = head.index(b"=", i - 12) + 20  # inside the blob, past the name
    flipped = head[:j] + (b"A" if head[j:j + 1] != b"A" else b"B") + head[j + 1:]
    assert flipped != head
    assert raw_exchange(SP, flipped) == b""
    assert raw_exchange(SP, head).startswith(b"HTTP/1.1 101")  # the original still works


@case("expired token (older than --max-skew) gets no byte")
def _():
    sp = free_port()
    start(["server", f"ws://127.0.0.1:{sp}", "--key", KEY, "--max-skew", "1"], "skew")
    wait_port(sp)
    head = capture_request(KEY)
    time.sleep(2.5)
    assert raw_exchange(sp, head) == b""


@case("future-dated token (client clock 10 minutes ahead) gets no byte")
def _():
    if not shutil.which("faketime"):
        raise RuntimeError("faketime is not installed")
    head = capture_request(KEY, prefix=("faketime", "-f", "+10m"))
    assert raw_exchange(SP, head) == b""


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
    fp = w.TCPServer(fake_101).port
    lp = free_port()
    p = start(["client", f"ws://127.0.0.1:{fp}", "--key", KEY, "-L", f"{lp}:127.0.0.1:{ECHO}"],
              "fake")
    wait_port(lp)
    assert roundtrip(lp) == b""
    time.sleep(0.3)
    assert "could not prove it holds the key" in log_of(p), log_of(p)


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
