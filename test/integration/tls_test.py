#!/usr/bin/python3
"""wss:// end to end, against SPEC.md "TLS (BearSSL)" and wsferry(1): a test CA
and certificates made here with the openssl CLI (RSA and EC keys in PKCS#1,
SEC1 and PKCS#8 files; the right names, a wrong name, an expired one, an
untrusted self-signed one), then:
  1  client -> server over wss with --ca and -L to a TCP echo: data echoes, a
     50 MiB SHA-256 round trip is intact; --sni localhost (DNS name check);
  2  --pin of the fingerprint a self-signed server prints (also with colons);
  3  --insecure works and warns;
  4  refusals (wrong name by IP and by --sni, expired, unknown CA, untrusted
     self-signed, wrong --pin): the local connection closes without data, the
     server's destination is never dialled, the client log names the reason;
  5  openssl s_client with ALPN http/1.1 completes and negotiates http/1.1;
  6  curl --cacert: --accept-page (and --ping) give a neutral 200 page; without
     them / closes without an HTTP response;
  7  python websockets (ssl context with the test CA) against --echo: text and
     binary come back;
  8  SIGHUP mid-transfer: an open slow transfer completes intact, new
     connections see the new certificate (fingerprint and serial), a new
     tunnel verifies it; a broken file on SIGHUP keeps the old certificate;
  9  bad --cert/--cert-key (missing, mismatched, garbage, encrypted ...) and
     bad client --ca: exit 1 or 2 at once, naming the file;
  10 ENABLE_TLS / TLS_CERT_FILE / TLS_KEY_FILE (empty cwd -> self-signed,
     files in cwd, explicit files, a bad value, no URL at all);
  11 -D (SOCKS5 and HTTP proxy) through wss to a local HTTP origin;
  12 TLS on one side only is named in the client log.

Interface (test/run.sh): binary from env WSFERRY (default ./build/wsferry);
everything is started here on free 127.0.0.1 ports and ended by PID
(SIGTERM, SIGKILL after 3 s), then each wsferry is checked for exit 0 and no
sanitizer report; one line per failed case; last line exactly
`N passed, N failed`; exit 1 on failure. `-v` also prints passing cases;
other arguments filter case names.
"""

import asyncio
import hashlib
import os
import re
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import wsfutil as w  # noqa: E402
from wsfutil import check, CaseFail, CaseSkip  # noqa: E402

SAN_BUILD = w.is_sanitized()
BIG = 50 << 20
SLOW_CHUNKS = 50          # case 8: 50 chunks, one every 0.1 s (~5 s)
SLOW_CHUNK = 16 << 10
SLOW_GAP = 0.1
FP_RE = re.compile(r'SHA-256 fingerprint \(for --pin\): ([0-9a-f]{64})')


# ---------------------------------------------------------------- helpers

def run(args, timeout=20.0, cwd=None, env=None, input=b''):
    e = {k: v for k, v in os.environ.items()
         if k.lower() not in ('http_proxy', 'https_proxy', 'all_proxy', 'no_proxy')}
    if env:
        e.update(env)
    try:
        return subprocess.run(args, input=input, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, timeout=timeout, cwd=cwd, env=e)
    except subprocess.TimeoutExpired:
        raise CaseFail('%s did not finish in %.0f s' % (' '.join(args[:4]), timeout))


def log1(proc, n=4):
    """The last n lines of proc's stderr on one line (one line per failed case)."""
    lines = [l.strip() for l in proc.stderr_text().split('\n') if l.strip()]
    return '[%s log: %s]' % (proc.name, ' | '.join(lines[-n:]) or 'empty')


def wait_port1(port, proc):
    """w.wait_port, its failure on one line."""
    try:
        w.wait_port(port, proc=proc)
    except CaseFail:
        raise CaseFail('%s: nothing listening on 127.0.0.1:%d (%s) %s'
                       % (proc.name, port, 'exited %s' % proc.p.returncode
                          if not proc.alive() else 'still running', log1(proc)))


def start_client(url, args, wait_ports, name):
    c = w.Proc([w.WSFERRY, 'client', url] + list(args), name)
    for port in wait_ports:
        wait_port1(port, c)
    return c


def fp_of_pem(path_or_pem):
    pem = path_or_pem
    if not pem.startswith('-----'):
        with open(path_or_pem) as f:
            pem = f.read()
    m = re.search(r'-----BEGIN CERTIFICATE-----.*?-----END CERTIFICATE-----', pem, re.S)
    if not m:
        raise CaseFail('no certificate in %r' % pem[:60])
    return hashlib.sha256(ssl.PEM_cert_to_DER_cert(m.group(0))).hexdigest()


def wait_log(proc, pattern, timeout=5.0):
    """Waits until proc's stderr matches pattern; returns the match or None."""
    rx = re.compile(pattern)
    for _ in range(int(timeout / 0.05) + 1):
        m = rx.search(proc.stderr_text())
        if m:
            return m
        if not proc.alive():
            m = rx.search(proc.stderr_text())
            return m
        time.sleep(0.05)
    return None


def server_fp(proc):
    m = wait_log(proc, FP_RE.pattern, 10.0)
    if not m:
        raise CaseFail('%s printed no "SHA-256 fingerprint (for --pin)" line %s'
                       % (proc.name, log1(proc)))
    return m.group(1)


def start_wss(args=(), name='server', cwd=None, env=None, url_path=''):
    port = w.free_port()
    p = w.Proc([os.path.abspath(w.WSFERRY), 'server', 'wss://127.0.0.1:%d%s' % (port, url_path)]
               + list(args), name, cwd=cwd, env=env)
    wait_port1(port, p)
    return p, port


def s_client(port, extra=(), timeout=15.0):
    """openssl s_client to 127.0.0.1:port; returns (rc, stdout+stderr text)."""
    r = run(['openssl', 's_client', '-connect', '127.0.0.1:%d' % port] + list(extra),
            timeout=timeout)
    return r.returncode, (r.stdout + r.stderr).decode('utf-8', 'replace')


def s_client_cert(port, extra=()):
    rc, out = s_client(port, ['-showcerts', '-servername', 'localhost'] + list(extra))
    m = re.search(r'-----BEGIN CERTIFICATE-----.*?-----END CERTIFICATE-----', out, re.S)
    if not m:
        raise CaseFail('s_client got no certificate (rc %d): %s' % (rc, out[-300:]))
    return m.group(0)


def serial_of(pem):
    r = run(['openssl', 'x509', '-noout', '-serial'], input=pem.encode())
    return r.stdout.decode().strip().split('=')[-1].upper()


def echo_round(port, payload=b'hello over wss\n', timeout=8.0):
    s = w.connect(port, timeout=timeout)
    try:
        s.sendall(payload)
        got = w.recv_exact(s, len(payload), 'the echo')
        check(got == payload, 'echo returned %r, sent %r' % (got[:40], payload[:40]))
    finally:
        s.close()


def big_round_trip(port, nbytes, timeout=60.0):
    """Sends nbytes of random data to an echo through port while reading it
    back; compares length and SHA-256."""
    s = w.connect(port, timeout=timeout)
    sent = {}

    def sender():
        try:
            sent['sha'] = w.send_random(s, nbytes, chunk=1 << 18)
            s.shutdown(socket.SHUT_WR)
        except Exception as e:  # reported below
            sent['err'] = '%s: %s' % (type(e).__name__, e)
    t = threading.Thread(target=sender, daemon=True)
    t.start()
    try:
        n, digest = w.recv_hash(s, limit=nbytes + (1 << 20))
    finally:
        t.join(timeout)
        s.close()
    check('err' not in sent, 'sending failed: %s' % sent.get('err'))
    check(n == nbytes, 'echoed %d bytes, sent %d' % (n, nbytes))
    check(digest == sent.get('sha'), 'SHA-256 of the echo differs from what was sent')


def expect_closed_without_data(port, timeout=10.0):
    """Connects to a client's -L port, sends a little, expects the
    connection to end (FIN or reset) with no byte."""
    s = w.connect(port, timeout=timeout)
    try:
        try:
            s.sendall(b'this must not reach anyone\n')
        except OSError:
            return
        data = b''
        for _ in range(1000):
            try:
                d = s.recv(65536)
            except socket.timeout:
                raise CaseFail('local connection still open %.0f s after the TLS failure'
                               % timeout)
            except (ConnectionResetError, BrokenPipeError):
                break
            if not d:
                break
            data += d
        check(data == b'', 'local connection got %d bytes: %r' % (len(data), data[:60]))
    finally:
        s.close()


def pem_block(path):
    with open(path) as f:
        return f.read()


# ---------------------------------------------------------------- certificates

class Certs:
    """A test CA and server certificates, made with the openssl CLI."""

    def __init__(self, d):
        self.d = d
        self.ca_crt, self.ca_key = self.p('ca.crt'), self.p('ca.key')
        self.ossl('ecparam', '-genkey', '-name', 'prime256v1', '-noout', '-out', self.ca_key)
        self.ossl('req', '-x509', '-new', '-key', self.ca_key, '-subj', '/CN=Test Root CA',
                  '-days', '30', '-out', self.ca_crt,
                  '-addext', 'basicConstraints=critical,CA:TRUE',
                  '-addext', 'keyUsage=critical,keyCertSign,cRLSign')
        san = 'IP:127.0.0.1,DNS:localhost'
        # RSA key in PKCS#1 ("BEGIN RSA PRIVATE KEY")
        self.rsa_key = self.key('rsa', 'rsa1')
        self.rsa_crt = self.sign('rsa', self.rsa_key, san, '0x1001')
        # EC key in SEC1 ("BEGIN EC PRIVATE KEY")
        self.ec_key = self.key('ec', 'sec1')
        self.ec_crt = self.sign('ec', self.ec_key, san, '0x2002')
        # replacement pair for SIGHUP: RSA in PKCS#8
        self.new_key = self.key('new', 'rsa8')
        self.new_crt = self.sign('new', self.new_key, san, '0x3003')
        # wrong name only
        self.wrong_key = self.key('wrong', 'ec8')
        self.wrong_crt = self.sign('wrong', self.wrong_key, 'DNS:other.example', '0x4004')
        # expired (2020..2021) by `openssl ca` with -startdate/-enddate
        self.exp_key = self.key('expired', 'ec8')
        self.exp_crt = self.expired(self.exp_key, san)
        # untrusted self-signed with the right names
        self.self_key = self.key('untrusted', 'ec8')
        self.self_crt = self.p('untrusted.crt')
        self.ossl('req', '-x509', '-new', '-key', self.self_key, '-subj', '/CN=untrusted',
                  '-days', '30', '-out', self.self_crt, '-addext', 'subjectAltName=' + san)
        # an encrypted key and garbage
        self.enc_key = self.p('enc.key')
        self.ossl('pkey', '-in', self.ec_key, '-aes256', '-passout', 'pass:secret',
                  '-out', self.enc_key)
        self.garbage = self.p('garbage.pem')
        with open(self.garbage, 'wb') as f:
            f.write(b'-----BEGIN CERTIFICATE-----\nbm90IGEgY2VydGlmaWNhdGU=!!\n'
                    + os.urandom(300) + b'\n-----END CERTIFICATE-----\n')
        self.empty = self.p('empty.pem')
        open(self.empty, 'wb').close()

    def p(self, name):
        return os.path.join(self.d, name)

    def ossl(self, *args):
        r = run(['openssl'] + list(args), timeout=60, cwd=self.d)
        if r.returncode != 0:
            raise RuntimeError('openssl %s: %s' % (' '.join(args[:3]),
                                                   r.stderr.decode(errors='replace')[-400:]))
        return r

    def key(self, name, kind):
        out = self.p(name + '.key')
        if kind == 'rsa1':
            self.ossl('genrsa', '-traditional', '-out', out, '2048')
        elif kind == 'rsa8':
            self.ossl('genpkey', '-algorithm', 'RSA', '-pkeyopt', 'rsa_keygen_bits:2048',
                      '-out', out)
        elif kind == 'sec1':
            self.ossl('ecparam', '-genkey', '-name', 'prime256v1', '-noout', '-out', out)
        else:
            self.ossl('genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256',
                      '-out', out)
        return out

    def ext(self, name, san):
        path = self.p(name + '.ext')
        with open(path, 'w') as f:
            f.write('subjectAltName=%s\nbasicConstraints=CA:FALSE\n'
                    'keyUsage=critical,digitalSignature,keyEncipherment\n'
                    'extendedKeyUsage=serverAuth\n' % san)
        return path

    def sign(self, name, key, san, serial):
        csr, crt = self.p(name + '.csr'), self.p(name + '.crt')
        self.ossl('req', '-new', '-key', key, '-subj', '/CN=%s' % name, '-out', csr)
        self.ossl('x509', '-req', '-in', csr, '-CA', self.ca_crt, '-CAkey', self.ca_key,
                  '-set_serial', serial, '-days', '30', '-extfile', self.ext(name, san),
                  '-out', crt)
        return crt

    def expired(self, key, san):
        os.makedirs(self.p('newcerts'), exist_ok=True)
        open(self.p('index.txt'), 'w').close()
        with open(self.p('serial'), 'w') as f:
            f.write('5005\n')
        cnf = self.p('ca.cnf')
        with open(cnf, 'w') as f:
            f.write('[ca]\ndefault_ca = CA_default\n[CA_default]\ndir = .\n'
                    'database = index.txt\nnew_certs_dir = newcerts\nserial = serial\n'
                    'default_md = sha256\npolicy = policy_any\nunique_subject = no\n'
                    '[policy_any]\ncommonName = supplied\n'
                    '[ext]\nsubjectAltName=%s\nbasicConstraints=CA:FALSE\n'
                    'keyUsage=critical,digitalSignature\nextendedKeyUsage=serverAuth\n' % san)
        csr, crt = self.p('expired.csr'), self.p('expired.crt')
        self.ossl('req', '-new', '-key', key, '-subj', '/CN=expired', '-out', csr)
        self.ossl('ca', '-batch', '-config', cnf, '-cert', self.ca_crt, '-keyfile', self.ca_key,
                  '-in', csr, '-out', crt, '-notext', '-extensions', 'ext',
                  '-startdate', '20200101000000Z', '-enddate', '20210101000000Z')
        return crt


# ---------------------------------------------------------------- servers in threads

def slow_source_handler(c, srv):
    """Sends SLOW_CHUNKS chunks, one every SLOW_GAP s; reports (n, sha)."""
    h = hashlib.sha256()
    n = 0
    try:
        for i in range(SLOW_CHUNKS):
            d = os.urandom(SLOW_CHUNK)
            c.sendall(d)
            h.update(d)
            n += len(d)
            time.sleep(SLOW_GAP)
        c.shutdown(socket.SHUT_WR)
    except OSError as e:
        srv.results.put(('slow-error', n, str(e)))
        return
    srv.results.put(('slow', n, h.hexdigest()))
    try:
        for _ in range(1000):
            if not c.recv(65536):
                break
    except OSError:
        pass


# ---------------------------------------------------------------- the cases

def main(suite):
    tmp = tempfile.mkdtemp(prefix='wsf-tls-')
    try:
        body(suite, tmp)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def body(suite, tmp):
    t0 = time.monotonic()
    certs = Certs(tmp)
    if suite.verbose:
        print('(certificates made in %.1f s)' % (time.monotonic() - t0), flush=True)
    C = certs
    echo = w.TCPServer(w.echo_handler, backlog=128)
    slow = w.TCPServer(slow_source_handler)
    origin = w.HTTPOrigin()
    R = suite.run
    S = {}  # shared servers, started once

    def rsa_server():
        if 'rsa' not in S:
            S['rsa'] = start_wss(['--cert', C.rsa_crt, '--cert-key', C.rsa_key,
                                  '--echo', '/echo'], name='server-rsa')
        return S['rsa']

    def self_server():
        if 'self' not in S:
            p, port = start_wss(['--name', 'localhost'], name='server-selfsigned')
            S['self'] = (p, port, server_fp(p))
        return S['self']

    def client(port, args, name, lport=None, target=None):
        lport = lport or w.free_port()
        target = target or echo.port
        c = start_client('wss://127.0.0.1:%d' % port,
                         list(args) + ['-L', '%d:127.0.0.1:%d' % (lport, target)],
                         wait_ports=[lport], name=name)
        return c, lport

    # ---- 1
    def case_ca():
        p, port = rsa_server()
        c, lp = client(port, ['--ca', C.ca_crt], 'client-ca')
        echo_round(lp)
        echo_round(lp, os.urandom(200000))
        big_round_trip(lp, BIG)
        check(c.alive(), 'client died ' + log1(c))
        check('TLS:' not in c.stderr_text(), 'client logged a TLS error ' + log1(c))
    R('1 --ca: -L echo through wss, 50 MiB round trip SHA-256 intact (RSA cert)',
      case_ca, timeout=80)

    def case_ca_ec_sni():
        p, port = start_wss(['--cert', C.ec_crt, '--cert-key', C.ec_key], name='server-ec')
        S['ec'] = (p, port)
        c, lp = client(port, ['--ca', C.ca_crt, '--sni', 'localhost'], 'client-ec-sni')
        echo_round(lp)
        echo_round(lp, os.urandom(1 << 20))
    R('1b --ca --sni localhost: DNS name verified (EC cert, SEC1 key)', case_ca_ec_sni)

    # ---- 2
    def case_pin():
        p, port, fp = self_server()
        c, lp = client(port, ['--pin', fp], 'client-pin')
        echo_round(lp)
        echo_round(lp, os.urandom(300000))
        colons = ':'.join(fp[i:i + 2] for i in range(0, 64, 2)).upper()
        c2, lp2 = client(port, ['--pin', colons], 'client-pin-colons')
        echo_round(lp2)
    R('2 --pin with the fingerprint a self-signed server prints (also AA:BB:.. form)', case_pin)

    def case_pin_ca_signed():
        p, port = rsa_server()
        check(server_fp(p) == fp_of_pem(C.rsa_crt),
              'printed fingerprint %s is not the SHA-256 of --cert (%s)'
              % (server_fp(p), fp_of_pem(C.rsa_crt)))
        c, lp = client(port, ['--pin', fp_of_pem(C.rsa_crt)], 'client-pin-rsa')
        echo_round(lp)
    R('2b printed fingerprint = SHA-256 of the --cert DER; --pin of it works', case_pin_ca_signed)

    # ---- 3
    def case_insecure():
        p, port, fp = self_server()
        c, lp = client(port, ['--insecure'], 'client-insecure')
        echo_round(lp)
        err = c.stderr_text()
        check(re.search(r'warn', err, re.I) and 'insecure' in err.lower()
              and re.search(r'not verified', err, re.I),
              'no loud --insecure warning on stderr ' + log1(c))
    R('3 --insecure connects to a self-signed server and warns', case_insecure)

    # ---- 4
    def refused(port, args, reason, name, tries=3):
        """tries local connections through a client that must refuse the
        server: each closes without data, the destination is never dialled,
        and each gets a "cN TLS: <reason>" line (data is sent at once, so
        the failure is also met on the write path)."""
        before = echo.accepted
        c, lp = client(port, args, name)
        for _ in range(tries):
            expect_closed_without_data(lp)
        rx = re.compile(r'c\d+ TLS: [^\n]*' + reason)
        for _ in range(30):
            if len(rx.findall(c.stderr_text())) >= tries:
                break
            time.sleep(0.05)
        n = len(rx.findall(c.stderr_text()))
        lines = [l.replace('wsferry: info: ', '') for l in c.stderr_text().split('\n')
                 if l and ' -> ' not in l]
        check(n >= tries, '%d of %d refused connections logged "cN TLS: ...%s"; the log: %s'
              % (n, tries, reason.replace('\\', ''), ' | '.join(lines[-6:])))
        check('cannot reach the wsferry server' not in c.stderr_text(),
              'a TLS refusal was also logged as "cannot reach the wsferry server"')
        time.sleep(0.2)
        check(echo.accepted == before, 'the destination was dialled anyway')
        check(c.alive(), 'client died after a refused handshake ' + log1(c))

    def case_wrong_ip():
        p, port = start_wss(['--cert', C.wrong_crt, '--cert-key', C.wrong_key],
                            name='server-wrongname')
        S['wrong'] = (p, port)
        refused(port, ['--ca', C.ca_crt], r'host name mismatch', 'client-wrongname')
    R('4a refused: certificate without 127.0.0.1 -> "host name mismatch"', case_wrong_ip)

    def case_wrong_sni():
        p, port = rsa_server()
        refused(port, ['--ca', C.ca_crt, '--sni', 'other.example'], r'host name mismatch',
                'client-sni-other')
    R('4b refused: --sni other.example against a localhost/127.0.0.1 cert', case_wrong_sni)

    def case_sni_matches_other():
        # the name checked is the SNI name: the other.example cert passes with it
        if 'wrong' not in S:
            raise CaseSkip('needs the server of 4a')
        p, port = S['wrong']
        c, lp = client(port, ['--ca', C.ca_crt, '--sni', 'other.example'], 'client-sni-ok')
        echo_round(lp)
    R('4c --sni other.example against the other.example cert connects', case_sni_matches_other)

    def case_expired():
        p, port = start_wss(['--cert', C.exp_crt, '--cert-key', C.exp_key],
                            name='server-expired')
        refused(port, ['--ca', C.ca_crt], r'certificate expired or not yet valid',
                'client-expired')
    R('4d refused: expired certificate -> "certificate expired or not yet valid"', case_expired)

    def case_unknown_ca():
        p, port = rsa_server()
        refused(port, [], r'certificate not trusted \(unknown CA\)', 'client-systemca')
    R('4e refused: system CA bundle against the test CA -> "unknown CA"', case_unknown_ca)

    def case_untrusted_self():
        p, port = start_wss(['--cert', C.self_crt, '--cert-key', C.self_key],
                            name='server-untrusted')
        refused(port, ['--ca', C.ca_crt], r'certificate not trusted', 'client-untrusted')
    R('4f refused: self-signed cert not under --ca -> "certificate not trusted"',
      case_untrusted_self)

    def case_wrong_pin():
        p, port = rsa_server()
        refused(port, ['--pin', fp_of_pem(C.ec_crt)], r'pinned fingerprint does not match',
                'client-wrongpin')
    R('4g refused: wrong --pin -> "pinned fingerprint does not match"', case_wrong_pin)

    # ---- 5
    def case_s_client():
        p, port = rsa_server()
        rc, out = s_client(port, ['-alpn', 'http/1.1', '-CAfile', C.ca_crt,
                                  '-verify_return_error', '-verify_ip', '127.0.0.1',
                                  '-servername', 'localhost'])
        check(rc == 0, 's_client exit %d: %s' % (rc, out[-400:]))
        check('ALPN protocol: http/1.1' in out, 'no ALPN http/1.1 negotiated: %s'
              % ([l for l in out.split('\n') if 'ALPN' in l] or out[-300:]))
        check('Verify return code: 0 (ok)' in out, 'verification: %s'
              % [l for l in out.split('\n') if 'Verify' in l])
        check(re.search(r'Cipher is (?!\(NONE\))', out), 'handshake did not complete')
        rc, out = s_client(port, ['-alpn', 'h2,http/1.1', '-CAfile', C.ca_crt])
        check('ALPN protocol: http/1.1' in out,
              'offered h2,http/1.1: server did not pick http/1.1: %s'
              % ([l for l in out.split('\n') if 'ALPN' in l] or out[-300:]))
    R('5 openssl s_client -alpn http/1.1: handshake completes, http/1.1 negotiated', case_s_client)

    # ---- 6
    def curl_page(port, args=()):
        r = w.curl(['-i', '--cacert', C.ca_crt] + list(args) +
                   ['https://127.0.0.1:%d/' % port], timeout=10)
        return r

    def check_page(r, what):
        check(r.returncode == 0, '%s: curl exit %d: %s'
              % (what, r.returncode, r.stderr.decode(errors='replace').strip()))
        head, _, bodyb = r.stdout.partition(b'\r\n\r\n')
        status = head.split(b'\r\n')[0]
        check(re.match(rb'HTTP/1\.[01] 200', status), '%s: status %r' % (what, status))
        check(bodyb.strip(), '%s: empty page' % what)
        check(b'wsferry' not in r.stdout.lower(),
              '%s: the page or its headers name the product' % what)

    def case_accept_page():
        p, port = start_wss(['--cert', C.ec_crt, '--cert-key', C.ec_key, '--accept-page'],
                            name='server-acceptpage')
        check_page(curl_page(port), '--accept-page')
        r = w.curl(['-i', '--cacert', C.ca_crt, '--resolve', 'localhost:%d:127.0.0.1' % port,
                    'https://localhost:%d/' % port], timeout=10)
        check_page(r, '--accept-page via https://localhost')
    R('6a curl --cacert https://127.0.0.1:PORT/ with --accept-page: neutral 200 page',
      case_accept_page)

    def case_ping_page():
        p, port = start_wss(['--cert', C.rsa_crt, '--cert-key', C.rsa_key, '--ping'],
                            name='server-ping')
        S['ping'] = (p, port)
        check_page(curl_page(port), '--ping')
    R('6b --ping also shows the certificate-accepted page on /', case_ping_page)

    def case_no_page():
        p, port = rsa_server()
        r = w.curl(['-v', '--cacert', C.ca_crt, '-o', '/dev/null', '-w', '%{http_code}',
                    'https://127.0.0.1:%d/' % port], timeout=10)
        err = r.stderr.decode(errors='replace')
        check(r.returncode in (52, 56),
              'curl exit %d (want 52 empty reply / 56 closed): %s'
              % (r.returncode, err.strip().split('\n')[-1]))
        check(r.stdout.strip() == b'000', 'got HTTP status %r' % r.stdout)
        check('SSL connection using' in err, 'TLS handshake did not complete: %s'
              % err.strip().split('\n')[-1])
    R('6c without --accept-page: / closes after the handshake, no HTTP response', case_no_page)

    # ---- 7
    def ws_ctx():
        try:
            __import__('websockets')
        except ImportError as e:
            raise CaseFail('python3-websockets missing: %s' % e)
        return ssl.create_default_context(cafile=C.ca_crt)

    async def ws_round(ws, msg, what, timeout=5):
        await ws.send(msg)
        try:
            got = await asyncio.wait_for(ws.recv(), timeout)
        except asyncio.TimeoutError:
            raise CaseFail('%s: no echo of a %d-%s %s message within %d s'
                           % (what, len(msg), 'char' if isinstance(msg, str) else 'byte',
                              'text' if isinstance(msg, str) else 'binary', timeout))
        check(got == msg and type(got) is type(msg),
              '%s: sent %d %s, got %r' % (what, len(msg), type(msg).__name__, got[:40]))

    def case_websockets():
        import websockets
        p, port = rsa_server()
        ctx = ws_ctx()

        async def go(uri, what, **kw):
            async with websockets.connect(uri, ssl=ctx, open_timeout=8, close_timeout=1,
                                          max_size=4 << 20, **kw) as ws:
                for msg in ('hello over wss', 'ünïcødé ✓', 'x' * 70000,
                            b'\x00\x01\x02\xff', b'', os.urandom(1 << 20)):
                    await ws_round(ws, msg, what, 4)
                await ws.close()
        asyncio.run(asyncio.wait_for(go('wss://127.0.0.1:%d/echo' % port, 'wss://127.0.0.1'),
                                     40))
        asyncio.run(asyncio.wait_for(
            go('wss://localhost:%d/echo' % port, 'wss://localhost', host='127.0.0.1',
               port=port, server_hostname='localhost'), 40))
    R('7 python websockets (ssl context with the test CA) against --echo: text + binary',
      case_websockets, timeout=90)

    def case_websockets_suites():
        """Each suite the server offers, picked by the client: the
        ChaCha20-Poly1305 ones go through our vector ChaCha20 (proto/chacha.c),
        here checked against OpenSSL's at both record sizes."""
        import websockets
        p, port = rsa_server()

        async def go(suite):
            ctx = ws_ctx()
            ctx.maximum_version = ssl.TLSVersion.TLSv1_2
            ctx.set_ciphers(suite)
            async with websockets.connect('wss://127.0.0.1:%d/echo' % port, ssl=ctx,
                                          open_timeout=8, close_timeout=1,
                                          max_size=4 << 20) as ws:
                got = ws.transport.get_extra_info('cipher')[0]
                check(got == suite, 'asked for %s, got %s' % (suite, got))
                for msg in (b'x', os.urandom(1000), os.urandom(70000), os.urandom(3 << 20)):
                    await ws_round(ws, msg, suite, 8)
                await ws.close()
        for suite in ('ECDHE-RSA-CHACHA20-POLY1305', 'ECDHE-RSA-AES128-GCM-SHA256',
                      'ECDHE-RSA-AES256-GCM-SHA384'):
            asyncio.run(asyncio.wait_for(go(suite), 40))
    R('7c each TLS suite picked by an OpenSSL client (ChaCha20-Poly1305, AES-GCM): '
      '--echo exact up to 3 MiB', case_websockets_suites, timeout=120)

    def case_websockets_many():
        import websockets
        p, port = rsa_server()
        ctx = ws_ctx()

        async def go():
            bad = []
            for i in range(10):
                async with websockets.connect('wss://127.0.0.1:%d/echo' % port, ssl=ctx,
                                              open_timeout=8, close_timeout=1) as ws:
                    try:
                        await ws_round(ws, 'hello %d' % i, 'connection %d' % (i + 1), 2)
                    except CaseFail as e:
                        bad.append(str(e))
                if len(bad) >= 2:
                    break
            check(not bad, '%d of %d fresh wss connections (one after another) got no echo '
                  'of their first message (e.g. %s)' % (len(bad), i + 1, bad[0] if bad else ''))
        asyncio.run(asyncio.wait_for(go(), 50))
    R('7b ten fresh wss connections to --echo, one after another, each get an echo',
      case_websockets_many, timeout=90)

    def case_ping_wss():
        import websockets
        import datetime
        import json
        if 'ping' not in S:
            raise CaseSkip('needs the --ping server of 6b')
        p, port = S['ping']
        ctx = ws_ctx()
        date = datetime.datetime.now(datetime.timezone.utc).strftime('%Y-%m-%d')
        sig = hashlib.sha256((date + 'ming-mong-server').encode()).hexdigest()[:16]

        async def one(i):
            async with websockets.connect('wss://127.0.0.1:%d/ws' % port, ssl=ctx,
                                          open_timeout=8, close_timeout=1) as ws:
                await ws.send(json.dumps({'type': 'ping', 'signature': sig,
                                          'timestamp': '2024-01-15T10:30:45.123Z'}))
                try:
                    got = await asyncio.wait_for(ws.recv(), 2)
                except asyncio.TimeoutError:
                    raise CaseFail('ping %d of 10 (a fresh connection each): no reply within '
                                   '2 s over wss' % (i + 1))
                j = json.loads(got)
                check(j.get('type') == 'pong' and j.get('status') == 'ok', 'reply %r' % got)

        async def go():
            for i in range(10):
                await one(i)
        asyncio.run(asyncio.wait_for(go(), 40))
    R('7c ming-mong ping over wss:// (python websockets, test CA): 10 pings, 10 pongs',
      case_ping_wss, timeout=60)

    # ---- 8
    def case_sighup():
        crt, key = os.path.join(tmp, 'hup.crt'), os.path.join(tmp, 'hup.key')
        shutil.copy(C.rsa_crt, crt)
        shutil.copy(C.rsa_key, key)
        p, port = start_wss(['--cert', crt, '--cert-key', key], name='server-hup')
        S['hup'] = (p, port, crt, key)
        lecho = w.free_port()
        c, lslow = client(port, ['--ca', C.ca_crt, '-L', '%d:127.0.0.1:%d' % (lecho, echo.port)],
                          'client-hup', target=slow.port)
        wait_port1(lecho, c)
        old = s_client_cert(port)
        check(fp_of_pem(old) == fp_of_pem(C.rsa_crt), 'before SIGHUP: not the first cert')
        s = w.connect(lslow, timeout=20)
        got = {'n': 0}
        h = hashlib.sha256()

        def reader():
            try:
                for _ in range(100000):
                    d = s.recv(1 << 16)
                    if not d:
                        got['eof'] = True
                        return
                    h.update(d)
                    got['n'] += len(d)
            except Exception as e:
                got['err'] = '%s: %s' % (type(e).__name__, e)
        t = threading.Thread(target=reader, daemon=True)
        t.start()
        try:
            for _ in range(100):
                if got['n'] > 0:
                    break
                time.sleep(0.05)
            check(got['n'] > 0, 'the slow transfer did not start')
            for src, dst in ((C.new_crt, crt), (C.new_key, key)):
                shutil.copy(src, dst + '.tmp')
                os.replace(dst + '.tmp', dst)
            os.kill(p.pid, signal.SIGHUP)
            check(wait_log(p, r'SIGHUP: certificate and key reloaded', 5),
                  'no reload logged after SIGHUP ' + log1(p))
            mid = got['n']
            new = s_client_cert(port)
            check(fp_of_pem(new) == fp_of_pem(C.new_crt),
                  'after SIGHUP a new connection sees fingerprint %s, want the new %s (old %s)'
                  % (fp_of_pem(new)[:16], fp_of_pem(C.new_crt)[:16], fp_of_pem(C.rsa_crt)[:16]))
            check(serial_of(new) == '3003', 'new serial %s, want 3003' % serial_of(new))
            echo_round(lecho, b'a new tunnel after the reload\n')
            check(mid < SLOW_CHUNKS * SLOW_CHUNK, 'the transfer was over before the reload')
            t.join(SLOW_CHUNKS * SLOW_GAP + 20)
            check(not t.is_alive(), 'the open transfer did not finish')
            check('err' not in got, 'open transfer failed after %d bytes: %s'
                  % (got['n'], got.get('err')))
            r = slow.result(10, 'slow source verdict')
            check(r[0] == 'slow', 'slow source failed: %r' % (r,))
            check(got['n'] == r[1], 'received %d bytes, source sent %d' % (got['n'], r[1]))
            check(h.hexdigest() == r[2], 'SHA-256 of the open transfer differs')
        finally:
            s.close()
    R('8 SIGHUP mid-transfer: open transfer intact, new connections get the new cert',
      case_sighup, timeout=60)

    def case_sighup_bad():
        if 'hup' not in S:
            raise CaseSkip('needs the server of case 8')
        p, port, crt, key = S['hup']
        before = fp_of_pem(s_client_cert(port))
        with open(crt + '.tmp', 'wb') as f:
            f.write(b'garbage, not PEM\n')
        os.replace(crt + '.tmp', crt)
        os.kill(p.pid, signal.SIGHUP)
        m = wait_log(p, r'SIGHUP: keeping the old certificate[^\n]*', 5)
        check(m, 'no "keeping the old certificate" after SIGHUP with a broken file ' + log1(p))
        check(crt in m.group(0) or os.path.basename(crt) in m.group(0),
              'the message does not name the file: %r' % m.group(0))
        check(p.alive(), 'server died on SIGHUP with a broken file')
        after = fp_of_pem(s_client_cert(port))
        check(after == before, 'certificate changed after a failed reload')
    R('8b SIGHUP with a broken cert file keeps the old certificate and says why',
      case_sighup_bad)

    # ---- 9
    def bad_start(cert, key, name_re, what, extra=()):
        port = w.free_port()
        t = time.monotonic()
        r = run([w.WSFERRY, 'server', 'wss://127.0.0.1:%d' % port, '--cert', cert,
                 '--cert-key', key] + list(extra), timeout=15)
        dt = time.monotonic() - t
        err = r.stderr.decode(errors='replace') + r.stdout.decode(errors='replace')
        san = [l for l in err.split('\n') if any(m in l for m in w.SAN_MARKERS)]
        check(not san, '%s: sanitizer report: %s' % (what, san[:1]))
        check(r.returncode in (1, 2), '%s: exit %d, want 1 or 2: %s'
              % (what, r.returncode, err.strip()[-200:]))
        check(dt < 5, '%s: took %.1f s to fail' % (what, dt))
        check(re.search(name_re, err), '%s: message does not name the file (%s): %r'
              % (what, name_re, err.strip()[-300:]))
        check(not w.listening(port), '%s: something listens on the port' % what)

    def case_bad_files():
        miss = os.path.join(tmp, 'does-not-exist.crt')
        missk = os.path.join(tmp, 'does-not-exist.key')
        cases = [
            (miss, C.rsa_key, re.escape(miss), 'missing --cert'),
            (C.rsa_crt, missk, re.escape(missk), 'missing --cert-key'),
            (C.rsa_crt, C.ec_key, re.escape(C.ec_key) + '|' + re.escape(C.rsa_crt),
             'key does not match (RSA cert, EC key)'),
            (C.ec_crt, C.new_key, re.escape(C.new_key) + '|' + re.escape(C.ec_crt),
             'key does not match (EC cert, RSA key)'),
            (C.garbage, C.rsa_key, re.escape(C.garbage), 'garbage --cert'),
            (C.rsa_crt, C.garbage, re.escape(C.garbage), 'garbage --cert-key'),
            (C.empty, C.rsa_key, re.escape(C.empty), 'empty --cert'),
            (C.rsa_key, C.rsa_key, re.escape(C.rsa_key), 'a key as --cert'),
            (C.rsa_crt, C.rsa_crt, re.escape(C.rsa_crt), 'a certificate as --cert-key'),
            (C.ec_crt, C.enc_key, re.escape(C.enc_key), 'encrypted --cert-key'),
            (tmp, C.rsa_key, re.escape(tmp), 'a directory as --cert'),
        ]
        fails = []
        for cert, key, rx, what in cases:
            try:
                bad_start(cert, key, rx, what)
            except CaseFail as e:
                fails.append(str(e))
        check(not fails, '; '.join(fails))
    R('9 bad --cert/--cert-key: exit 1/2 at once with a message naming the file',
      case_bad_files, timeout=80)

    def case_cert_alone():
        port = w.free_port()
        r = run([w.WSFERRY, 'server', 'wss://127.0.0.1:%d' % port, '--cert', C.rsa_crt],
                timeout=15)
        check(r.returncode == 2, '--cert without --cert-key: exit %d, want 2' % r.returncode)
        check(b'--cert-key' in r.stderr, 'message does not say --cert-key: %r' % r.stderr[-200:])
    R('9b --cert without --cert-key is a usage error (exit 2)', case_cert_alone)

    def case_client_bad_ca():
        p, port = rsa_server()
        fails = []
        for path, what in ((os.path.join(tmp, 'no-such-ca.pem'), 'missing --ca'),
                           (C.garbage, 'garbage --ca'), (C.empty, 'empty --ca')):
            lp = w.free_port()
            r = run([w.WSFERRY, 'client', 'wss://127.0.0.1:%d' % port, '--ca', path,
                     '-L', '%d:127.0.0.1:%d' % (lp, echo.port)], timeout=15)
            err = r.stderr.decode(errors='replace')
            san = [l for l in err.split('\n') if any(m in l for m in w.SAN_MARKERS)]
            if san:
                fails.append('%s: sanitizer report %s' % (what, san[0]))
            if r.returncode not in (1, 2):
                fails.append('%s: exit %d, want 1 or 2' % (what, r.returncode))
            if path not in err:
                fails.append('%s: message does not name %s: %r' % (what, path, err[-200:]))
        check(not fails, '; '.join(fails))
    R('9c client --ca missing/garbage/empty: exit 1/2 naming the file', case_client_bad_ca)

    # ---- 10
    def case_enable_tls_empty():
        cwd = tempfile.mkdtemp(dir=tmp, prefix='cwd-')
        p, port = start_wss([], name='server-env-selfsigned', cwd=cwd,
                            env={'ENABLE_TLS': 'true'})
        check(wait_log(p, r'self-signed', 5), 'no word of a self-signed certificate '
              + log1(p))
        fp = server_fp(p)
        rc, out = s_client(port, ['-servername', 'localhost'])
        check(rc == 0 and re.search(r'Cipher is (?!\(NONE\))', out),
              's_client handshake failed (rc %d): %s' % (rc, out[-300:]))
        got = fp_of_pem(s_client_cert(port))
        check(got == fp, 'served cert %s is not the printed %s' % (got[:16], fp[:16]))
        check(os.listdir(cwd) == [], 'files written to the working dir: %s' % os.listdir(cwd))
    R('10a ENABLE_TLS=true, no ./server.crt: TLS with a generated self-signed cert',
      case_enable_tls_empty)

    def case_enable_tls_files():
        cwd = tempfile.mkdtemp(dir=tmp, prefix='cwd-')
        shutil.copy(C.rsa_crt, os.path.join(cwd, 'server.crt'))
        shutil.copy(C.rsa_key, os.path.join(cwd, 'server.key'))
        p, port = start_wss([], name='server-env-files', cwd=cwd, env={'ENABLE_TLS': 'yes'})
        check(fp_of_pem(s_client_cert(port)) == fp_of_pem(C.rsa_crt),
              'not serving ./server.crt')
        c, lp = client(port, ['--ca', C.ca_crt], 'client-env-files')
        echo_round(lp)
    R('10b ENABLE_TLS=yes with ./server.crt ./server.key in cwd: serves them',
      case_enable_tls_files)

    def case_tls_files_env():
        cwd = tempfile.mkdtemp(dir=tmp, prefix='cwd-')
        p, port = start_wss([], name='server-env-named', cwd=cwd,
                            env={'TLS_CERT_FILE': C.ec_crt, 'TLS_KEY_FILE': C.ec_key})
        check(fp_of_pem(s_client_cert(port)) == fp_of_pem(C.ec_crt),
              'not serving TLS_CERT_FILE')
    R('10c TLS_CERT_FILE + TLS_KEY_FILE: serves those', case_tls_files_env)

    def case_enable_tls_bad():
        port = w.free_port()
        r = run([w.WSFERRY, 'server', 'wss://127.0.0.1:%d' % port], timeout=15,
                env={'ENABLE_TLS': 'maybe'})
        check(r.returncode == 2, 'ENABLE_TLS=maybe: exit %d, want 2' % r.returncode)
        check(b'ENABLE_TLS' in r.stderr, 'message does not name ENABLE_TLS: %r'
              % r.stderr[-200:])
    R('10d ENABLE_TLS=maybe: usage error naming ENABLE_TLS', case_enable_tls_bad)

    def case_enable_tls_no_url():
        if w.listening(8080) or not w._bind_ok_all(8080):
            raise CaseSkip('port 8080 is in use here')
        cwd = tempfile.mkdtemp(dir=tmp, prefix='cwd-')
        p = w.Proc([os.path.abspath(w.WSFERRY), 'server'], 'server-env-default', cwd=cwd,
                   env={'ENABLE_TLS': 'on', 'PORT': ''})
        try:
            wait_port1(8080, p)
        except CaseFail:
            if 'in use' in p.stderr_text():
                raise CaseSkip('port 8080 taken meanwhile')
            raise
        fp = server_fp(p)
        rc, out = s_client(8080, ['-servername', 'localhost'])
        check(rc == 0 and re.search(r'Cipher is (?!\(NONE\))', out),
              's_client to the default wss://127.0.0.1:8080 failed: %s' % out[-300:])
        check(fp_of_pem(s_client_cert(8080)) == fp, 'served cert is not the printed one')
        # SPEC: with no arguments the server prints the exact client command
        # that connects to it; for a self-signed certificate that needs --pin.
        m = wait_log(p, r'\n\s*(wsferry client wss://[^\n]*)', 3)
        check(m, 'no "wsferry client wss://..." command printed ' + log1(p))
        argv = m.group(1).split()
        argv[0] = os.path.abspath(w.WSFERRY)
        dp = w.free_port()
        for i, a in enumerate(argv):
            if a == '-D' and i + 1 < len(argv):
                argv[i + 1] = '127.0.0.1:%d' % dp
        if '-D' not in argv:
            argv += ['-D', '127.0.0.1:%d' % dp]
        c = w.Proc(argv, 'client-printed')
        wait_port1(dp, c)
        try:
            s = w.socks_connect(dp, '127.0.0.1', echo.port, timeout=8)
            s.sendall(b'x')
            w.recv_exact(s, 1, 'the echo')
            s.close()
        except (CaseFail, OSError) as e:
            raise CaseFail('the printed command %r does not connect (%s) %s'
                           % (m.group(1), e, log1(c, 2)))
        finally:
            c.stop()
            p.stop()
    R('10e ENABLE_TLS=on, no URL: wss://127.0.0.1:8080, self-signed; printed command works',
      case_enable_tls_no_url, timeout=40)

    # ---- 11
    def case_dynamic():
        p, port = rsa_server()
        dp = w.free_port()
        start_client('wss://127.0.0.1:%d' % port, ['--ca', C.ca_crt, '-D', str(dp)],
                     wait_ports=[dp], name='client-D')
        n = 3 << 20
        want = w.sha(w._det_bytes(n, 7))
        out = w.curl_ok(['--socks5-hostname', '127.0.0.1:%d' % dp,
                         'http://localhost:%d/bytes/%d?seed=7' % (origin.port, n)], timeout=30)
        check(len(out) == n and w.sha(out) == want,
              'SOCKS5: got %d bytes, sha ok=%s' % (len(out), w.sha(out) == want))
        out = w.curl_ok(['-x', 'http://127.0.0.1:%d' % dp,
                         'http://127.0.0.1:%d/hello' % origin.port], timeout=15)
        check(out.startswith(b'origin says hello'), 'HTTP proxy: %r' % out[:80])
        body_ = os.urandom(1 << 20)
        path = os.path.join(tmp, 'post.bin')
        with open(path, 'wb') as f:
            f.write(body_)
        out = w.curl_ok(['--socks5-hostname', '127.0.0.1:%d' % dp, '--data-binary', '@' + path,
                         'http://localhost:%d/up' % origin.port], timeout=30)
        check(w.sha(body_).encode() in out, 'upload hash mismatch: %r' % out[:200])
    R('11 -D through wss: curl --socks5-hostname / -x to a local HTTP origin', case_dynamic,
      timeout=60)

    # ---- 12
    def case_one_side():
        fails = []
        # wss client -> ws server
        pport = w.free_port()
        wait_port1(pport, w.Proc([w.WSFERRY, 'server', 'ws://127.0.0.1:%d' % pport],
                                 'server-plain'))
        lp = w.free_port()
        c = start_client('wss://127.0.0.1:%d' % pport,
                         ['--ca', C.ca_crt, '-L', '%d:127.0.0.1:%d' % (lp, echo.port)],
                         wait_ports=[lp], name='client-wss-to-ws')
        expect_closed_without_data(lp)
        if not wait_log(c, r'(?i)tls', 2):
            fails.append('wss:// client to a ws:// server: log does not mention TLS '
                         + log1(c, 1))
        # ws client -> wss server
        p, port = rsa_server()
        lp2 = w.free_port()
        c2 = start_client('ws://127.0.0.1:%d' % port,
                          ['-L', '%d:127.0.0.1:%d' % (lp2, echo.port)],
                          wait_ports=[lp2], name='client-ws-to-wss')
        expect_closed_without_data(lp2)
        if not wait_log(c2, r'(?i)tls|wss', 2):
            fails.append('ws:// client to a wss:// server: log does not mention TLS/wss '
                         + log1(c2, 1))
        check(not fails, '; '.join(fails))
    R('12 TLS on one side only: the client log says so', case_one_side)

    suite.check_processes()
    echo.close()
    slow.close()
    origin.close()


if __name__ == '__main__':
    w.main_guard(w.Suite('tls_test', file_limit=90), main)
