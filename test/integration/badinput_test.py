#!/usr/bin/python3
"""badinput_test.py — every bad flag, URL, value or config line stops
startup with exit 2 and one line naming what is wrong (and the file:line for
config files); a good config file works and flags override it.
Interface: env WSFERRY (binary), last line "N passed, N failed"."""
import os, signal, socket, subprocess, sys, tempfile, time

BIN = os.environ.get("WSFERRY", "./build/wsferry")
tmp = tempfile.mkdtemp()
results = []

# (argv, config text or None, substring the message must contain)
TABLE = [
    (["server", "http://0.0.0.0:80"], None, "did you mean ws://"),
    (["server", "https://h"], None, "did you mean wss://"),
    (["server", "ws://h:0"], None, "port must be a number from 1 to 65535"),
    (["server", "ws://h:99999"], None, "port must be a number"),
    (["server", "ws://::1:80"], None, "brackets"),
    (["server", "--bogus"], None, "--bogus: unknown option"),
    (["server", "--max-message", "12Q"], None, "--max-message"),
    (["server", "--handshake-timeout", "soon"], None, "--handshake-timeout"),
    (["server", "--allow", "10.0.0.0/33"], None, "--allow"),
    (["server", "--allow", "banana"], None, "--allow"),
    (["server", "--restrict-to", "nohost"], None, "--restrict-to"),
    (["server", "--stealth", "loud"], None, "--stealth"),
    (["server", "--fallback", "x"], None, "--fallback"),
    (["server", "--dns", "1.2.3"], None, "--dns"),
    (["server", "--key", "short"], None, "malformed key"),
    (["server", "--max-conns-per-ip", "0"], None, "--max-conns-per-ip"),
    (["server", "--log-level", "loud"], None, "--log-level"),
    (["server", "--echo", "noslash"], None, "--echo"),
    (["client"], None, "needs a SERVER_URL"),
    (["client", "ws://h:1", "ws://h:2"], None, "only one SERVER_URL"),
    (["client", "ws://h:1", "-L", "80"], None, "-L"),
    (["client", "ws://h:1", "-L", "1:host"], None, "[BIND:]PORT:HOST:HOSTPORT"),
    (["client", "ws://h:1", "-D", "0"], None, "port must be"),
    (["client", "ws://h:1", "-L", "sctp://1:h:2"], None, "tcp:// or udp://"),
    (["client", "ws://h:1", "-L", "udp://1:h:2?timeout=soon"], None, "?timeout="),
    (["client", "ws://h:1", "-L", "udp://1:h:2?idle=5"], None, "only option is ?timeout="),
    (["client", "ws://h:1", "-L", "1:h:2?timeout=5"], None, "for udp://"),
    (["client", "ws://h:1", "-D", "udp://1080"], None, "-D takes no scheme"),
    (["client", "ws://h:1", "--redirect", "udp://1080"], None, "takes no scheme"),
    (["client", "ws://h:1", "--tproxy", "1:h:2"], None, "expected [BIND:]PORT"),
    (["client", "ws://h:1", "--tproxy", "udp://1080"], None, "carries TCP and UDP"),
    (["client", "ws://h:1", "--tproxy", "1080?timeout=soon"], None, "?timeout= takes a duration"),
    (["client", "ws://h:1", "--redirect", "1?timeout=5"], None, "for udp://"),
    (["client", "ws://h:1", "-R", "name:1:h:2"], None, "must be an IP address"),
    (["client", "ws://h:1", "--proxy", "socks5://h:1"], None, "--proxy"),
    (["client", "ws://h:1", "--proxy-user", "u"], None, "--proxy-pass"),
    (["client", "ws://h:1", "--keepalive", "often"], None, "--keepalive"),
    (["frobnicate"], None, "unknown command"),
    # config files: FILE:LINE: what
    (["server", "-c", "@"], "listen ws://127.0.0.1:1\nbogus 1\n", "@:2: bogus: unknown key"),
    (["server", "-c", "@"], "# ok\n\nlisten http://h\n", "@:3: listen: http:// is not a tunnel URL"),
    (["server", "-c", "@"], "max-conns-per-ip many\n", "@:1: max-conns-per-ip"),
    (["server", "-c", "@"], "allow 300.0.0.0/8\n", "@:1: allow"),
    (["server", "-c", "@"], "stealth\n", "@:1: stealth: needs a value"),
    (["server", "-c", "@"], "Bad Key!\n", "@:1: expected \"key value\""),
    (["server", "-c", "@"], "config other.conf\n", "@:1: config: unknown key"),
    (["client", "-c", "@"], "server ws://h:1\nlocal 1:2\n", "@:2: local"),
    (["client", "-c", "@"], "server ws://h:1\nquiet yes\n", "@:2: quiet: takes no value"),
    (["server", "-c", "/nonexistent/wsferry.conf"], None, "No such file or directory"),
]


def run_case(i, argv, conf, want):
    if conf is not None:
        path = os.path.join(tmp, f"c{i}.conf")
        with open(path, "w") as f:
            f.write(conf)
        argv = [path if a == "@" else a for a in argv]
        want = want.replace("@", path)
    r = subprocess.run([BIN] + argv, capture_output=True, text=True, timeout=10)
    lines = [l for l in r.stderr.splitlines() if l.startswith("wsferry:")]
    ok = r.returncode == 2 and len(lines) == 1 and want in lines[0]
    results.append((f"{' '.join(argv)}", None if ok else f"exit {r.returncode}, stderr {r.stderr!r}, wanted {want!r}"))


for i, (argv, conf, want) in enumerate(TABLE):
    run_case(i, argv, conf, want)


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p


def good_config():
    """A config file serves; a flag on the command line overrides its listen."""
    p1, p2 = free_port(), free_port()
    path = os.path.join(tmp, "good.conf")
    with open(path, "w") as f:
        f.write(f"# wsferry server\nlisten = ws://127.0.0.1:{p1}\necho /echo\nlog-level debug\n")
    for argv, port in (([BIN, "server", "-c", path], p1),
                       ([BIN, "server", "-c", path, f"ws://127.0.0.1:{p2}"], p2)):
        p = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        try:
            end, up = time.time() + 10, False
            while time.time() < end and not up:
                try:
                    socket.create_connection(("127.0.0.1", port), 0.2).close()
                    up = True
                except OSError:
                    time.sleep(0.05)
            if not up:
                return f"{' '.join(argv[1:])}: nothing listens on {port}"
        finally:
            p.send_signal(signal.SIGTERM)
            rc = p.wait(5)
            err = p.stderr.read().decode()
        if rc != 0 or "Sanitizer" in err or "runtime error:" in err:
            return f"exit {rc}: {err[-400:]}"
    return None


results.append(("a good config file serves, and a command-line URL overrides its listen",
                good_config()))

failed = [(n, w) for n, w in results if w]
for n, w in failed:
    print(f"FAIL {n}: {w}")
print(f"{len(results) - len(failed)} passed, {len(failed)} failed")
sys.exit(1 if failed else 0)
