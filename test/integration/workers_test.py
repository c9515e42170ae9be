#!/usr/bin/python3
"""workers_test.py — --workers: every worker serves, a replayed token is
refused whichever worker gets it, a killed worker comes back, SIGTERM stops
all, and a busy port stops startup with exit 1.
Interface: env WSFERRY (binary), last line "N passed, N failed", exit 1 when
any case failed."""
import os
import signal
import socket
import subprocess
import threading
import time

import wsfutil as w
from wsfutil import check


def children(pid):
    with open(f"/proc/{pid}/task/{pid}/children") as f:
        return [int(x) for x in f.read().split()]


echo = KEY = SP = LP = srv = cli = None  # set up by main()


def two_workers():
    check(len(children(srv.pid)) == 2, f"workers: {children(srv.pid)}")


def many_tunnels():
    before = srv.stderr_text().count("replayed")
    bad = []

    def one(i):
        try:
            s = w.connect(LP)
            msg = b"x%d" % i
            s.sendall(msg)
            if w.recv_exact(s, len(msg)) != msg:
                bad.append(i)
            s.close()
        except Exception as e:  # noqa: BLE001 - collected and reported
            bad.append((i, str(e)))
    threads = [threading.Thread(target=one, args=(i,)) for i in range(200)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(20)
    check(not bad, f"failed tunnels: {bad[:5]}")
    check(srv.stderr_text().count("replayed") == before, "a fresh token was taken for a replay")


def capture_request():
    """The upgrade request a keyed client sends, caught by a fake server."""
    fake = socket.socket()
    fake.bind(("127.0.0.1", 0))
    fake.listen(1)
    lp = w.free_port()
    c = w.Proc([w.WSFERRY, "client", f"ws://127.0.0.1:{fake.getsockname()[1]}", "--key", KEY,
                "-L", f"{lp}:127.0.0.1:{echo.port}"], "capture")
    try:
        w.wait_port(lp, proc=c)
        s = w.connect(lp)
        fake.settimeout(5)
        conn, _ = fake.accept()
        head = b""
        while b"\r\n\r\n" not in head:
            head += conn.recv(4096)
        conn.close()
        s.close()
        return head[: head.index(b"\r\n\r\n") + 4]
    finally:
        c.stop()
        fake.close()


def replay_across_workers():
    head = capture_request()
    answers = 0
    for _ in range(20):
        r = w.connect(SP, timeout=2)
        r.sendall(head)
        try:
            answers += r.recv(12).startswith(b"HTTP/1.1 101")
        except OSError:
            pass
        r.close()
    check(answers == 1, f"{answers} answers to one token sent 20 times")


def restart():
    victim = children(srv.pid)[0]
    os.kill(victim, signal.SIGKILL)
    end = time.time() + 5
    while time.time() < end and (victim in children(srv.pid) or len(children(srv.pid)) != 2):
        time.sleep(0.1)
    kids = children(srv.pid)
    check(len(kids) == 2 and victim not in kids, f"workers after a kill: {kids}")
    check("restarting" in srv.stderr_text(), "no restart logged")
    many_tunnels()


def busy_port():
    blocker = socket.socket()
    blocker.bind(("127.0.0.1", 0))
    blocker.listen(1)
    port = blocker.getsockname()[1]
    t0 = time.time()
    r = subprocess.run([w.WSFERRY, "server", f"ws://127.0.0.1:{port}", "--workers", "2"],
                       capture_output=True, text=True, timeout=20)
    blocker.close()
    check(r.returncode == 1 and "cannot listen" in r.stderr, f"{r.returncode}: {r.stderr}")
    check(time.time() - t0 < 5, "a busy port took a crash loop to notice")


def main(suite):
    global echo, KEY, SP, LP, srv, cli
    echo = w.TCPServer(w.echo_handler)
    KEY = subprocess.run([w.WSFERRY, "keygen"], capture_output=True, text=True,
                         check=True).stdout.strip()
    SP, LP = w.free_ports(2)
    srv = w.Proc([w.WSFERRY, "server", f"ws://127.0.0.1:{SP}", "--workers", "2", "--key", KEY],
                 "server")
    w.wait_port(SP, proc=srv)
    time.sleep(0.3)
    cli = w.Proc([w.WSFERRY, "client", f"ws://127.0.0.1:{SP}", "--key", KEY, "-L",
                  f"{LP}:127.0.0.1:{echo.port}"], "client")
    w.wait_port(LP, proc=cli)

    suite.run("two workers run", two_workers)
    suite.run("200 keyed tunnels through 2 workers, none taken for a replay", many_tunnels)
    suite.run("a captured token is answered once across workers", replay_across_workers)
    suite.run("a killed worker is restarted and serves", restart)
    suite.run("a busy port stops startup with exit 1 at once", busy_port)
    cli.stop()
    srv.stop()
    suite.run("no worker outlives the parent", lambda: check(
        not subprocess.run(["pgrep", "-f", f"127.0.0.1:{SP} --workers"],
                           capture_output=True).stdout,
        "workers left behind"))
    echo.close()


if __name__ == "__main__":
    # main_guard: processes checked, count line last, exit 1 when any case failed
    w.main_guard(w.Suite("workers"), main)
