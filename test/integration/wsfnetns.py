"""Three network namespaces for transparent-proxy tests and benches, made
and removed here (names carry our PID, nothing outside them is touched):

    lan (C) 10.14.0.2, fd14::2  --veth--  router (R) 10.14.0.1, fd14::1
                                          router (R) 10.14.1.1, fd14:1::1  --veth--  far (S) 10.14.1.2, fd14:1::2

R does not forward, so C reaches S only through a wsferry client on R (the
firewall rules send C's connections to it) and a wsferry server on S.
"""

import os
import subprocess

import wsfutil as w

C_ADDR, R_LAN, R_FAR, S_ADDR = '10.14.0.2', '10.14.0.1', '10.14.1.1', '10.14.1.2'
C_ADDR6, R_LAN6, R_FAR6, S_ADDR6 = 'fd14::2', 'fd14::1', 'fd14:1::1', 'fd14:1::2'


def sh(*args, check=True, ns=None):
    cmd = (['ip', 'netns', 'exec', ns] if ns else []) + list(args)
    r = subprocess.run(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, timeout=30)
    if check and r.returncode != 0:
        raise w.CaseFail('%s: exit %d: %s' % (' '.join(cmd), r.returncode,
                                              r.stderr.decode(errors='replace').strip()))
    return r


class Net:
    def __init__(self):
        tag = str(os.getpid())
        self.c, self.r, self.s = 'wsfC' + tag, 'wsfR' + tag, 'wsfS' + tag
        self.made = []

    def up(self):
        w.require_peer('ip', 'iproute2')
        w.require_peer('nft', 'nftables')
        for ns in (self.c, self.r, self.s):
            r = sh('ip', 'netns', 'add', ns, check=False)
            if r.returncode != 0:
                raise w.CaseFail('cannot create a network namespace (ip netns add): %s'
                                 % r.stderr.decode(errors='replace').strip())
            self.made.append(ns)
            sh('ip', 'link', 'set', 'lo', 'up', ns=ns)
        tag = self.c[4:]
        c0, r0, r1, s0 = 'c' + tag, 'rl' + tag, 'rf' + tag, 's' + tag
        self.r_lan_if = r0
        sh('ip', 'link', 'add', c0, 'netns', self.c, 'type', 'veth', 'peer', 'name', r0,
           'netns', self.r)
        sh('ip', 'link', 'add', r1, 'netns', self.r, 'type', 'veth', 'peer', 'name', s0,
           'netns', self.s)
        for ns, dev, a4, a6 in ((self.c, c0, C_ADDR, C_ADDR6), (self.r, r0, R_LAN, R_LAN6),
                                (self.r, r1, R_FAR, R_FAR6), (self.s, s0, S_ADDR, S_ADDR6)):
            sh('ip', 'addr', 'add', a4 + '/24', 'dev', dev, ns=ns)
            sh('ip', '-6', 'addr', 'add', a6 + '/64', 'dev', dev, 'nodad', ns=ns)
            sh('ip', 'link', 'set', dev, 'up', ns=ns)
        sh('ip', 'route', 'add', 'default', 'via', R_LAN, ns=self.c)
        sh('ip', '-6', 'route', 'add', 'default', 'via', R_LAN6, ns=self.c)
        for k in ('net.ipv4.ip_forward=0', 'net.ipv6.conf.all.forwarding=0'):
            sh('sysctl', '-q', '-w', k, ns=self.r)
        return self

    def nft(self, script):
        """Loads an nft script into R."""
        p = subprocess.run(['ip', 'netns', 'exec', self.r, 'nft', '-f', '-'],
                           input=script.encode(), stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, timeout=30)
        if p.returncode != 0:
            raise w.CaseFail('nft -f in the router namespace: %s\n%s'
                             % (p.stderr.decode(errors='replace').strip(), script))

    def tproxy_routes(self, mark=1, table=100):
        """Marked packets are delivered locally on R (what TPROXY needs)."""
        sh('ip', 'rule', 'add', 'fwmark', str(mark), 'lookup', str(table), ns=self.r)
        sh('ip', 'route', 'add', 'local', '0.0.0.0/0', 'dev', 'lo', 'table', str(table),
           ns=self.r)
        sh('ip', '-6', 'rule', 'add', 'fwmark', str(mark), 'lookup', str(table), ns=self.r)
        sh('ip', '-6', 'route', 'add', 'local', '::/0', 'dev', 'lo', 'table', str(table),
           ns=self.r)

    def down(self):
        for ns in reversed(self.made):
            sh('ip', 'netns', 'del', ns, check=False)
        self.made = []


def wsferry(ns, args, name):
    """A wsferry process inside namespace ns (`ip netns exec` execs it: the
    PID is wsferry's own, so stop() ends exactly it)."""
    return w.Proc(['ip', 'netns', 'exec', ns, w.WSFERRY] + list(args), name)


def proc(ns, args, name):
    return w.Proc(['ip', 'netns', 'exec', ns] + list(args), name, wsferry=False)


def curl(ns, args, timeout=20):
    return sh('curl', '-sS', '--noproxy', '*', '--max-time', str(timeout), *args, ns=ns,
              check=False)


def wait_tcp(ns, host, port, timeout=10.0):
    """Until something in ns accepts on host:port (python in ns)."""
    code = ('import socket,sys,time\n'
            'd=time.time()+%f\n'
            'while time.time()<d:\n'
            '  try:\n'
            '    socket.create_connection((%r,%d),0.5).close(); sys.exit(0)\n'
            '  except OSError: time.sleep(0.1)\n'
            'sys.exit(1)\n' % (timeout, host, port))
    r = sh('python3', '-c', code, ns=ns, check=False)
    if r.returncode != 0:
        raise w.CaseFail('nothing listens on %s:%d in %s' % (host, port, ns))
