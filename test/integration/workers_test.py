#!/usr/bin/python3
"""workers_test.py — --workers: every worker serves, a replayed token is
refused whichever worker gets it, a killed worker comes back, SIGTERM stops
all, and a busy port stops startup with exit 1.
Interface: env WSFERRY (binary), last line "N passed, N failed"."""
import os, signal, socket, subprocess, sys, tempfile, threading, time

BIN = os.environ.get("WSFERRY", "./build/wsferry")
tmp = tempfile.mkdtemp()
results, procs = [], []


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p


def wait_port(port, t=10):
    end = time.time() + t
    while time.time() < end:
        try:
            socket.create_connection(("127.0.0.1", port), 0.2).close()
            return True
        except OSError:
            time.sleep(0.05)
    return False


def start(args, name):
    err = open(os.path.join(tmp, name), "w+")
    p = subprocess.Popen([BIN] + args, stdout=subprocess.DEVNULL, stderr=err)
    p.err, p.name = err, name
    procs.append(p)
    return p


def log(p):
    p.err.flush()
    with open(p.err.name) as f:
        return f.read()


def case(name, fn):
    try:
        fn()
        results.append((name, None))
    except Exception as e:  # noqa: BLE001
        results.append((name, f"{type(e).__name__}: {e}"))


def children(pid):
    with open(f"/proc/{pid}/task/{pid}/children") as f:
        return [int(x) for x in f.read().split()]


echo = socket.socket()
echo.bind(("127.0.0.1", 0))
echo.listen(256)
EP = echo.getsockname()[1]


def serve_echo():
    def pump(c):
        with c:
            try:
                while (d := c.recv(65536)):
                    c.sendall(d)
            except OSError:
                pass
    while True:
        try:
            c, _ = echo.accept()
        except OSError:
            return
        threading.Thread(target=pump, args=(c,), daemon=True).start()


threading.Thread(target=serve_echo, daemon=True).start()
KEY = subprocess.run([BIN, "keygen"], capture_output=True, text=True).stdout.strip()
SP, LP = free_port(), free_port()
srv = start(["server", f"ws://127.0.0.1:{SP}", "--workers", "2", "--key", KEY], "server")
assert wait_port(SP)
time.sleep(0.3)
cli = start(["client", f"ws://127.0.0.1:{SP}", "--key", KEY, "-L", f"{LP}:127.0.0.1:{EP}"], "client")
assert wait_port(LP)


def two_workers():
    kids = children(srv.pid)
    assert len(kids) == 2, kids


def many_tunnels():
    before = log(srv).count("replayed")
    bad = []
    def one(i):
        try:
            s = socket.create_connection(("127.0.0.1", LP), 5)
            s.settimeout(5)
            msg = b"x%d" % i
            s.sendall(msg)
            if s.recv(64) != msg:
                bad.append(i)
            s.close()
        except OSError as e:
            bad.append((i, str(e)))
    ts = [threading.Thread(target=one, args=(i,)) for i in range(200)]
    for t in ts:
        t.start()
    for t in ts:
        t.join(20)
    assert not bad, bad[:5]
    assert log(srv).count("replayed") == before, "a fresh token was taken for a replay"


def replay_across_workers():
    # capture one request, then send it 20 times: exactly one answer
    fake = socket.socket()
    fake.bind(("127.0.0.1", 0))
    fake.listen(1)
    lp2 = free_port()
    c = subprocess.Popen([BIN, "client", f"ws://127.0.0.1:{fake.getsockname()[1]}", "--key", KEY,
                          "-L", f"{lp2}:127.0.0.1:{EP}"], stderr=subprocess.DEVNULL)
    try:
        assert wait_port(lp2)
        s = socket.create_connection(("127.0.0.1", lp2), 3)
        fake.settimeout(5)
        conn, _ = fake.accept()
        head = b""
        while b"\r\n\r\n" not in head:
            head += conn.recv(4096)
        head = head[: head.index(b"\r\n\r\n") + 4]
        conn.close()
        s.close()
    finally:
        c.send_signal(signal.SIGTERM)
        c.wait(5)
    answers = 0
    for _ in range(20):
        r = socket.create_connection(("127.0.0.1", SP), 3)
        r.settimeout(2)
        r.sendall(head)
        try:
            if r.recv(12).startswith(b"HTTP/1.1 101"):
                answers += 1
        except OSError:
            pass
        r.close()
    assert answers == 1, answers


def restart():
    victim = children(srv.pid)[0]
    os.kill(victim, signal.SIGKILL)
    end = time.time() + 5
    while time.time() < end:
        kids = children(srv.pid)
        if len(kids) == 2 and victim not in kids:
            break
        time.sleep(0.1)
    assert len(children(srv.pid)) == 2 and victim not in children(srv.pid)
    assert "restarting" in log(srv)
    many_tunnels()


def busy_port():
    blocker = socket.socket()
    blocker.bind(("127.0.0.1", 0))
    blocker.listen(1)
    port = blocker.getsockname()[1]
    t0 = time.time()
    r = subprocess.run([BIN, "server", f"ws://127.0.0.1:{port}", "--workers", "2"],
                       capture_output=True, text=True, timeout=20)
    blocker.close()
    assert r.returncode == 1 and "cannot listen" in r.stderr, (r.returncode, r.stderr)
    assert time.time() - t0 < 5


case("two workers run", two_workers)
case("200 keyed tunnels through 2 workers, none taken for a replay", many_tunnels)
case("a captured token is answered once across workers", replay_across_workers)
case("a killed worker is restarted and serves", restart)
case("a busy port stops startup with exit 1 at once", busy_port)

for p in procs:
    p.send_signal(signal.SIGTERM)
for p in procs:
    try:
        rc = p.wait(10)
    except subprocess.TimeoutExpired:
        p.kill()
        rc = "hung"
    text = log(p)
    bad = [m for m in ("AddressSanitizer", "runtime error:", "LeakSanitizer") if m in text]
    results.append((f"{p.name} exits 0 on SIGTERM", None if rc == 0 and not bad else f"{rc} {bad} {text[-500:]}"))
if srv.returncode == 0:
    time.sleep(0.3)
    results.append(("no worker outlives the parent",
                    None if not subprocess.run(["pgrep", "-f", f"127.0.0.1:{SP} --workers"],
                                               capture_output=True).stdout else "workers left"))
failed = [(n, w) for n, w in results if w]
for n, w in failed:
    print(f"FAIL {n}: {w}")
print(f"{len(results) - len(failed)} passed, {len(failed)} failed")
sys.exit(1 if failed else 0)
