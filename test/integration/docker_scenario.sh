#!/bin/sh
# docker_scenario.sh — the Dockerfile's FROM scratch image, tested without a
# Docker daemon (CI has none): its final stage is read from the Dockerfile
# (COPY, WORKDIR, USER, ENV, ENTRYPOINT, CMD) and the same static binary
# (build-static/wsferry, what the build stage copies) runs as the image
# would: chrooted into a root holding only what the stage copies, in its
# WORKDIR, as its USER, with only its ENV plus the `docker run -e`/`-v` of
# each README line; the network is the host's (docker run --network host).
#   a  docker run -e PORT=P -e WSFERRY_KEY=...: ws:// on 0.0.0.0:P as uid
#      65534; a client in the same kind of container (CMD overridden) tunnels
#      through it byte-exact, and so does the native client;
#   b  -e ENABLE_TLS=true, no files: wss:// with a self-signed certificate,
#      its fingerprint in the log, --pin works; --key-file from a volume;
#   c  -e TLS_CERT_FILE=/certs/.. -e TLS_KEY_FILE=..: wss:// with that
#      certificate (pinned by its `wsferry cert` fingerprint);
#   d  ENABLE_TLS=1 with ./server.crt ./server.key in the WORKDIR: used;
#   e  ENABLE_TLS=maybe: exit 2 naming ENABLE_TLS.
cd "$(dirname "$0")/../.." || exit 1
SBIN=build-static/wsferry
if [ ! -x "$SBIN" ]; then
	echo "building $SBIN (make static)"
	make --no-print-directory static >/dev/null 2>&1 || { echo "FAIL make static"; echo "0 passed, 1 failed"; exit 1; }
fi
exec /usr/bin/python3 - "$SBIN" <<'PY'
import os, re, shutil, socket, subprocess, sys, tempfile, time
sys.path.insert(0, 'test/integration')
import wsfutil as w
from wsfutil import check

SBIN = os.path.abspath(sys.argv[1])
s = w.Suite('docker', argv=['-v'] if os.environ.get('V') else [], file_limit=120)
tmp = tempfile.mkdtemp(prefix='wsf-docker-')
os.chmod(tmp, 0o755)
FP_RE = re.compile(r'fingerprint \(for --pin\): ([0-9a-f]{64})')


def final_stage():
    """The Dockerfile's last stage: {'from', 'copy': [(src, dst)], 'workdir',
    'user', 'env': {}, 'entrypoint': [], 'cmd': []} (JSON-form arrays)."""
    import json
    lines, cur = [], ''
    for l in open('Dockerfile'):
        l = l.rstrip('\n')
        if l.lstrip().startswith('#'):
            continue
        cur += l[:-1] + ' ' if l.endswith('\\') else l
        if not l.endswith('\\'):
            if cur.strip():
                lines.append(cur.strip())
            cur = ''
    st = None
    for l in lines:
        op, _, arg = l.partition(' ')
        op = op.upper()
        if op == 'FROM':
            st = {'from': arg.split()[0], 'copy': [], 'workdir': '/', 'user': '0:0', 'env': {},
                  'entrypoint': [], 'cmd': [], 'expose': []}
        elif op == 'COPY':
            parts = arg.split()
            st['copy'].append((parts[-2], parts[-1], [p for p in parts if p.startswith('--from=')]))
        elif op == 'WORKDIR':
            st['workdir'] = arg
        elif op == 'USER':
            st['user'] = arg
        elif op == 'ENV':
            k, _, v = arg.partition('=')
            st['env'][k] = v
        elif op in ('ENTRYPOINT', 'CMD'):
            st[op.lower()] = json.loads(arg)
        elif op == 'EXPOSE':
            st['expose'].append(arg)
    return st


def make_root(name, st, extra=()):
    """The image's file system: what the stage copies, its WORKDIR, plus
    extra (path, source, mode) as volumes would add them."""
    root = os.path.join(tmp, name)
    os.makedirs(root)
    src_of = {'/src/build-static/wsferry': SBIN,
              '/etc/ssl/certs/ca-certificates.crt': '/etc/ssl/certs/ca-certificates.crt'}
    for src, dst, frm in st['copy']:
        check(src in src_of, 'COPY %s: unknown source' % src)
        os.makedirs(os.path.dirname(root + dst), exist_ok=True)
        shutil.copy2(src_of[src], root + dst)
    os.makedirs(root + st['workdir'], exist_ok=True)
    for path, src, mode in extra:
        os.makedirs(os.path.dirname(root + path), exist_ok=True)
        shutil.copy(src, root + path)
        os.chmod(root + path, mode)
    for d, _, _ in os.walk(root):
        os.chmod(d, 0o755)
    return root


def container(name, st, root, env=(), cmd=None):
    """docker run --network host [-e ...] IMAGE [CMD]: a chroot, as USER, in
    WORKDIR, with only the image's ENV and env."""
    uid, gid = (int(x) for x in st['user'].split(':'))
    e = dict(st['env'])
    e.update(dict(env))

    def enter():
        os.chroot(root)
        os.chdir(st['workdir'])
        os.setgroups([])
        os.setgid(gid)
        os.setuid(uid)
    argv = st['entrypoint'] + (cmd if cmd is not None else st['cmd'])
    return _Proc(argv, name, e, enter)


class _Proc(w.Proc):
    """wsfutil's Proc (stopped by PID, checked at the end), started through
    enter() in the child: the chroot, WORKDIR and USER."""

    def __init__(self, argv, name, env, enter):
        self.name = name
        self.args = argv
        self.wsferry = True
        self.err = tempfile.NamedTemporaryFile(prefix='wsf-%s-' % name, suffix='.log', delete=False)
        self.p = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=self.err, stderr=self.err,
                                  env=env, preexec_fn=enter, close_fds=True)
        self.pid = self.p.pid
        self.rc = None
        self.stopped_by_us = False
        self.problems_checked = False
        with w._PROCS_LOCK:
            w._PROCS.append(self)


def roundtrip(port, n=200000):
    sock = w.connect(port, timeout=10)
    data = os.urandom(n)
    sock.sendall(data)
    sock.shutdown(socket.SHUT_WR)
    back = w.recv_until_eof(sock)
    sock.close()
    check(back == data, 'echoed %d of %d bytes' % (len(back), len(data)))


def wait_fp(p):
    for _ in range(100):
        m = FP_RE.search(p.stderr_text())
        if m:
            return m.group(1)
        time.sleep(0.1)
    raise w.CaseFail('no fingerprint in the log:\n' + p.tail())


def body(s):
    st = final_stage()
    echo = w.TCPServer(w.echo_handler)
    key = subprocess.run([SBIN, 'keygen'], capture_output=True, text=True).stdout.strip()
    keyfile = os.path.join(tmp, 'key')
    with open(keyfile, 'w') as f:
        f.write(key + '\n')

    def case_stage():
        check(st['from'] == 'scratch', 'final stage FROM %s' % st['from'])
        check(('/src/build-static/wsferry', '/wsferry', ['--from=build']) in st['copy'],
              'no COPY --from=build /src/build-static/wsferry /wsferry: %r' % st['copy'])
        check(st['entrypoint'] == ['/wsferry'] and st['cmd'] == ['server'],
              'ENTRYPOINT %r CMD %r' % (st['entrypoint'], st['cmd']))
        check(st['env'].get('PORT') == '8080' and '8080' in st['expose'],
              'ENV PORT %r, EXPOSE %r' % (st['env'].get('PORT'), st['expose']))
        check(st['user'] == '65534:65534', 'USER %s' % st['user'])
    s.run('the Dockerfile\'s last stage: FROM scratch, /wsferry from make static, '
          'ENV PORT=8080, USER 65534, ENTRYPOINT /wsferry, CMD server', case_stage)

    def case_a():
        root = make_root('a', st)
        port, dport, lport = w.free_ports(3)
        srv = container('srv-a', st, root, {'PORT': str(port), 'WSFERRY_KEY': key})
        w.wait_port(port, proc=srv)
        text = srv.stderr_text()
        check('wsferry: tunnel server at ws://SERVER_HOST:%d' % port in text,
              'banner: ' + text.strip()[:300])
        check(open('/proc/%d/status' % srv.pid).read().count('65534') >= 2, 'not uid 65534')
        # the client image: CMD overridden
        cli = container('cli-a', st, make_root('a-cli', st), {'WSFERRY_KEY': key},
                        ['client', 'ws://127.0.0.1:%d' % port, '-L',
                         '127.0.0.1:%d:127.0.0.1:%d' % (lport, echo.port)])
        w.wait_port(lport, proc=cli)
        roundtrip(lport)
        nat = w.Proc([SBIN, 'client', 'ws://127.0.0.1:%d' % port, '--key', key, '-q', '-D',
                      '127.0.0.1:%d' % dport], 'native-a')
        w.wait_port(dport, proc=nat)
        sock = w.socks_connect(dport, '127.0.0.1', echo.port)
        sock.sendall(b'a\n')
        sock.shutdown(socket.SHUT_WR)
        check(w.recv_until_eof(sock) == b'a\n', 'SOCKS5 echo differs')
        for p in (nat, cli, srv):
            check(p.stop() == 0, '%s: exit %s on SIGTERM' % (p.name, p.rc))
    s.run('a  docker run -e PORT -e WSFERRY_KEY: ws:// on 0.0.0.0:$PORT as 65534; '
          'client image and native client tunnel through it', case_a)

    def case_b():
        root = make_root('b', st, [('/run/secrets/key', keyfile, 0o444)])
        port, lport = w.free_ports(2)
        srv = container('srv-b', st, root, {'PORT': str(port), 'ENABLE_TLS': 'true'},
                        ['server', '--key-file', '/run/secrets/key'])
        w.wait_port(port, proc=srv)
        fp = wait_fp(srv)
        check('generating a self-signed certificate' in srv.stderr_text(), srv.tail())
        check('wss://SERVER_HOST:%d' % port in srv.stderr_text(), srv.tail())
        cli = w.Proc([SBIN, 'client', 'wss://127.0.0.1:%d' % port, '--pin', fp, '--key', key,
                      '-q', '-L', '127.0.0.1:%d:127.0.0.1:%d' % (lport, echo.port)], 'native-b')
        w.wait_port(lport, proc=cli)
        roundtrip(lport)
        for p in (cli, srv):
            check(p.stop() == 0, '%s: exit %s on SIGTERM' % (p.name, p.rc))
    s.run('b  -e ENABLE_TLS=true, no files: wss:// self-signed, fingerprint logged, --pin; '
          '--key-file from a volume', case_b)

    def certs(name):
        d = os.path.join(tmp, 'cert-' + name)
        os.mkdir(d)
        r = subprocess.run([SBIN, 'cert', '--out-cert', 'c.pem', '--out-key', 'k.pem'], cwd=d,
                           capture_output=True, text=True)
        check(r.returncode == 0, r.stderr)
        return os.path.join(d, 'c.pem'), os.path.join(d, 'k.pem'), FP_RE.search(r.stdout).group(1)

    def tls_with(name, files, env):
        port, lport = w.free_ports(2)
        root = make_root(name, st, files)
        e = {'PORT': str(port), 'WSFERRY_KEY': key}
        e.update(env)
        srv = container('srv-' + name, st, root, e)
        w.wait_port(port, proc=srv)
        return srv, port, lport

    def pinned_roundtrip(name, port, lport, fp):
        cli = w.Proc([SBIN, 'client', 'wss://127.0.0.1:%d' % port, '--pin', fp, '--key', key,
                      '-q', '-L', '127.0.0.1:%d:127.0.0.1:%d' % (lport, echo.port)], 'native-' + name)
        w.wait_port(lport, proc=cli)
        roundtrip(lport)
        check(cli.stop() == 0, 'client exit %s' % cli.rc)

    def case_c():
        c, k, fp = certs('c')
        srv, port, lport = tls_with('c', [('/certs/c.pem', c, 0o444), ('/certs/k.pem', k, 0o444)],
                                    {'TLS_CERT_FILE': '/certs/c.pem', 'TLS_KEY_FILE': '/certs/k.pem'})
        check('self-signed' not in srv.stderr_text(), srv.tail())
        pinned_roundtrip('c', port, lport, fp)
        check(srv.stop() == 0, 'server exit %s' % srv.rc)
    s.run('c  -e TLS_CERT_FILE -e TLS_KEY_FILE from a volume: wss:// with that certificate', case_c)

    def case_d():
        c, k, fp = certs('d')
        wd = st['workdir']
        srv, port, lport = tls_with('d', [(wd + '/server.crt', c, 0o444), (wd + '/server.key', k, 0o444)],
                                    {'ENABLE_TLS': '1'})
        check('self-signed' not in srv.stderr_text(), srv.tail())
        pinned_roundtrip('d', port, lport, fp)
        check(srv.stop() == 0, 'server exit %s' % srv.rc)
    s.run('d  -e ENABLE_TLS=1 with ./server.crt ./server.key in WORKDIR %s: used' % st['workdir'], case_d)

    def case_e():
        srv = container('srv-e', st, make_root('e', st), {'ENABLE_TLS': 'maybe'})
        rc = srv.p.wait(10)
        check(rc == 2 and 'ENABLE_TLS' in srv.stderr_text(), 'exit %s: %s' % (rc, srv.tail()))
        srv.problems_checked = True
    s.run('e  -e ENABLE_TLS=maybe: exit 2 naming ENABLE_TLS', case_e)
    echo.close()


try:
    w.main_guard(s, body)
finally:
    shutil.rmtree(tmp, ignore_errors=True)
PY
