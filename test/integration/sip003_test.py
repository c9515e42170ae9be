#!/usr/bin/python3
"""sip003_test.py — wsferry as a shadowsocks SIP003 plugin, driven by the
real Debian shadowsocks-libev: ss-server and ss-local each start our binary
with --plugin, curl fetches through ss-local's SOCKS5, the body is compared
byte for byte with what the origin sent.
  1 ws with a key-file on both sides;
  2 wss + path=/ss with cert=/cert-key= on the server and ca= on the client;
  3 tls (raw TLS) with pin= (and an escaped path-less option string);
  4 IPv6: ss-server and ss-local on ::1 (SS_REMOTE_HOST=::1);
  5 usage: a partial SS_* environment, an unknown option, a bad escape, a
    client option on the server and mux-max-streams out of range each exit 2
    naming it; mux, -V and --fast-open are accepted;
  6 the plugin ends within 1 s when its parent is killed.

Interface (test/run.sh): binary from env WSFERRY; 127.0.0.1 / ::1 only;
ss-server / ss-local from Debian's shadowsocks-libev (test/deps.sh installs
it); last line exactly `N passed, N failed`.
"""

import os
import random
import re
import signal
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import wsfutil as w  # noqa: E402
from wsfutil import check, CaseFail  # noqa: E402

WSF = os.path.abspath(w.WSFERRY)
METHOD = 'chacha20-ietf-poly1305'
PASSWORD = 'sip003-test-password'


def hostport(host, port):
    return '[%s]:%d' % (host, port) if ':' in host else '%s:%d' % (host, port)


class Pair:
    """ss-server + ss-local, each with our binary as the plugin."""

    def __init__(self, server_opts, client_opts, host='127.0.0.1', name='ss'):
        ss_server = w.require_peer('ss-server', 'shadowsocks-libev')
        ss_local = w.require_peer('ss-local', 'shadowsocks-libev')
        self.sp, self.lp = w.free_ports(2, host if ':' not in host else '127.0.0.1')
        self.server = w.Proc([ss_server, '-s', host, '-p', str(self.sp), '-k', PASSWORD,
                              '-m', METHOD, '--plugin', WSF, '--plugin-opts', server_opts],
                             name + '-server', wsferry=False)
        self.local = w.Proc([ss_local, '-s', host, '-p', str(self.sp), '-b', '127.0.0.1',
                             '-l', str(self.lp), '-k', PASSWORD, '-m', METHOD,
                             '--plugin', WSF, '--plugin-opts', client_opts],
                            name + '-local', wsferry=False)
        w.wait_port(self.sp, host, proc=self.server)  # the plugin's listener
        w.wait_port(self.lp, proc=self.local)

    def fetch(self, origin, nbytes=300000):
        """curl through ss-local; the plugins start in the background, so the
        first tries may find them not yet listening (bounded retries)."""
        seed = random.randrange(1 << 30)
        url = origin.url('/bytes/%d?seed=%d' % (nbytes, seed))
        want = w._det_bytes(nbytes, seed)
        last = None
        for _ in range(25):
            r = w.curl(['--socks5-hostname', '127.0.0.1:%d' % self.lp, url], timeout=10)
            if r.returncode == 0:
                check(r.stdout == want, 'curl through ss-local: %d bytes, %s' % (
                      len(r.stdout), 'equal' if r.stdout == want else 'NOT what the origin sent'))
                return
            last = r.stderr.decode(errors='replace').strip()
            time.sleep(0.2)
        raise CaseFail('curl through ss-local kept failing: %s\n%s\n%s'
                       % (last, self.server.tail(), self.local.tail()))

    def stop(self):
        self.local.stop()
        self.server.stop()
        san = self.local.sanitizer_lines() + self.server.sanitizer_lines()
        check(not san, 'sanitizer report from a plugin: %s' % (san[:1],))


def plugin_run(env, args=(), timeout=10):
    """Runs our binary as a plugin directly; (exit code, stderr)."""
    e = {k: v for k, v in os.environ.items() if not k.startswith('SS_')}
    e.update(env)
    r = subprocess.run([WSF] + list(args), env=e, capture_output=True, text=True,
                       timeout=timeout, stdin=subprocess.DEVNULL)
    return r.returncode, r.stderr


def body(suite):
    tmp = tempfile.mkdtemp(prefix='wsf-sip003-')
    keyfile = os.path.join(tmp, 'key')
    with open(keyfile, 'w') as f:
        f.write(subprocess.run([WSF, 'keygen'], capture_output=True, text=True,
                               check=True).stdout)
    os.chmod(keyfile, 0o600)
    cert, ckey = os.path.join(tmp, 'c.pem'), os.path.join(tmp, 'k.pem')
    out = subprocess.run([WSF, 'cert', '--name', '127.0.0.1', '--out-cert', cert,
                          '--out-key', ckey], capture_output=True, text=True, check=True)
    fp = re.search(r'[0-9a-f]{64}', out.stdout + out.stderr).group(0)
    origin = w.HTTPOrigin()
    origin6 = w.HTTPOrigin('::1')

    def mode(server_opts, client_opts, host='127.0.0.1', org=origin, name='ss'):
        pair = Pair(server_opts, client_opts, host, name)
        try:
            pair.fetch(org)
            pair.fetch(org, 2000000)
        finally:
            pair.stop()

    suite.run('ws with key-file= on both sides: curl through ss-local, bytes exact',
              mode, 'server;ws;key-file=' + keyfile, 'ws;key-file=' + keyfile, timeout=60)
    suite.run('wss + path=/ss, cert=/cert-key= and ca=: curl through ss-local, bytes exact',
              mode, 'server;wss;path=/ss;cert=%s;cert-key=%s;key-file=%s' % (cert, ckey, keyfile),
              'wss;path=/ss;ca=%s;key-file=%s' % (cert, keyfile), timeout=60)
    suite.run('tls (raw TLS) with pin=: curl through ss-local, bytes exact',
              mode, 'server;tls;cert=%s;cert-key=%s' % (cert, ckey),
              ';tls;;pin=%s;' % fp, timeout=60)
    suite.run('ws with mux;mux-max-streams=2 on the client: curl through ss-local, bytes exact',
              mode, 'server;ws;key-file=' + keyfile,
              'ws;mux;mux-max-streams=2;key-file=' + keyfile, timeout=60)
    suite.run('IPv6: SS_REMOTE_HOST=::1, ws + path with an escaped ;',
              mode, 'server;path=/a\\;b', 'path=/a\\;b', '::1', origin6, 'ss6', timeout=60)

    sp, lp = w.free_ports(2)
    full = {'SS_REMOTE_HOST': '127.0.0.1', 'SS_REMOTE_PORT': str(sp),
            'SS_LOCAL_HOST': '127.0.0.1', 'SS_LOCAL_PORT': str(lp)}

    def usage():
        cases = [
            ({'SS_REMOTE_HOST': '127.0.0.1', 'SS_REMOTE_PORT': str(sp)}, 'SS_LOCAL_HOST'),
            (dict(full, SS_LOCAL_PORT='http'), 'SS_LOCAL_PORT'),
            (dict(full, SS_PLUGIN_OPTIONS='ws;bogus=1'), 'bogus'),
            (dict(full, SS_PLUGIN_OPTIONS='path=/a\\'), 'SS_PLUGIN_OPTIONS'),
            (dict(full, SS_PLUGIN_OPTIONS='server;pin=00'), 'pin'),
            (dict(full, SS_PLUGIN_OPTIONS='cert=x'), 'cert'),
            (dict(full, SS_PLUGIN_OPTIONS='mux;mux-max-streams=17'), 'mux-max-streams'),
            (dict(full, SS_PLUGIN_OPTIONS='ws;wss'), 'wss'),
            (dict(full, SS_PLUGIN_OPTIONS='tls;path=/x'), 'path'),
            (dict(full, SS_PLUGIN_OPTIONS='insecure=yes'), 'insecure'),
            (dict(full, SS_PLUGIN_OPTIONS='key-file=/nonexistent/key'), 'key-file'),
        ]
        for env, name in cases:
            rc, err = plugin_run(env)
            check(rc == 2 and name in err, '%r: exit %d, stderr %r (wanted 2 naming %s)'
                  % (env.get('SS_PLUGIN_OPTIONS', env), rc, err.strip(), name))
    suite.run('partial SS_* environment, unknown option, bad values: exit 2 naming each',
              usage)

    def parent_death():
        env = dict(os.environ, **full)
        env['SS_PLUGIN_OPTIONS'] = 'server;mux;mux-max-streams=4;fast-open'
        # sh is the parent (as for ss-server's `sh -c "exec PLUGIN"` minus the exec).
        sh = subprocess.Popen(['sh', '-c', '"$0" -V --fast-open & echo $!; exec sleep 30', WSF],
                              env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              stdin=subprocess.DEVNULL)
        try:
            pid = int(sh.stdout.readline())
            w.wait_port(sp, timeout=10)
            sh.kill()
            sh.wait(5)
            t0 = time.monotonic()
            gone = None
            while time.monotonic() - t0 < 3:
                try:
                    with open('/proc/%d/stat' % pid) as f:
                        if f.read().split(') ')[1][0] in 'ZX':
                            gone = time.monotonic() - t0
                            break
                except OSError:
                    gone = time.monotonic() - t0
                    break
                time.sleep(0.02)
            if gone is None:
                os.kill(pid, signal.SIGKILL)
            check(gone is not None and gone <= 1.0,
                  'the plugin outlived its parent by %s' % (
                      'more than 3 s' if gone is None else '%.2f s' % gone))
        finally:
            if sh.poll() is None:
                sh.kill()
    suite.run('mux, -V and --fast-open accepted; the plugin ends within 1 s of its parent',
              parent_death, timeout=30)
    origin.close()
    origin6.close()


if __name__ == '__main__':
    w.main_guard(w.Suite('sip003_test'), body)
