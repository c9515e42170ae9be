#!/usr/bin/python3
"""contrib/openwrt/files/wsferry.init, OpenWrt's procd init script, run by
busybox's ash (OpenWrt's shell) against stand-ins written here for what
OpenWrt provides it: the UCI loader and accessors of /lib/functions.sh
(config, option, list, config_load, config_get, config_get_bool,
config_list_foreach, config_foreach: values in CONFIG_<section>_<option>
variables, as OpenWrt keeps them), procd's procd_open_instance /
procd_set_param / procd_append_param / procd_close_instance (each instance's
command and parameters written to files) and logger.
  1  the shipped /etc/config/wsferry: both sections disabled, no instance;
  2  a config with a server (two listeners, list and single-option values,
     --ping), a ws:// client (-D list, -L) and a wss:// client (--insecure as
     a bool, -D as a single option): the exact command lines, procd's
     respawn, stdout/stderr, reload_signal HUP, file = the key file, limits;
     a disabled section, a client without server and an unknown mode start
     nothing; an unknown option is logged;
  3  those command lines run (/usr/bin/wsferry replaced by $WSFERRY): SOCKS5
     through each client reaches an echo server byte-exact, and `wsferry
     ping` answers on the server's --ping endpoint.

Interface (test/run.sh): binary from env WSFERRY (default ./build/wsferry);
last line exactly `N passed, N failed`; `-v` prints passing cases.
"""

import os
import shutil
import socket
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import wsfutil as w  # noqa: E402
from wsfutil import check  # noqa: E402

TOP = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
INIT = os.path.join(TOP, 'contrib', 'openwrt', 'files', 'wsferry.init')
SHIPPED = os.path.join(TOP, 'contrib', 'openwrt', 'files', 'wsferry.config')

# Stand-ins for OpenWrt's /lib/functions.sh and procd.sh (our own, minimal).
STUBS = r'''
CONFIG_SECTIONS=""
CONFIG_N=0
package() { :; }
config() {
	CONFIG_N=$((CONFIG_N + 1))
	CONFIG_SECTION=${2:-cfg$CONFIG_N}
	CONFIG_SECTIONS="$CONFIG_SECTIONS $CONFIG_SECTION"
	eval "CONFIG_${CONFIG_SECTION}_TYPE=\$1"
}
option() { eval "CONFIG_${CONFIG_SECTION}_$1=\$2"; }
list() {
	local n v
	eval "n=\${CONFIG_${CONFIG_SECTION}_$1_LENGTH:-0}"
	n=$((n + 1))
	eval "CONFIG_${CONFIG_SECTION}_$1_ITEM$n=\$2"
	eval "CONFIG_${CONFIG_SECTION}_$1_LENGTH=\$n"
	eval "v=\${CONFIG_${CONFIG_SECTION}_$1:-}"
	eval "CONFIG_${CONFIG_SECTION}_$1=\"\${v:+\$v }\$2\""
}
config_load() { . "$UCI_DIR/$1"; }
config_get() { eval "$1=\${CONFIG_$2_$3:-\${4:-}}"; }
config_get_bool() {
	local _b
	config_get _b "$2" "$3" "${4:-0}"
	case $_b in
	1|on|true|yes|enabled) _b=1 ;;
	0|off|false|no|disabled) _b=0 ;;
	*) _b=${4:-0} ;;
	esac
	eval "$1=\$_b"
}
config_list_foreach() {
	local _s=$1 _o=$2 _fn=$3 _n _i _v
	shift 3
	eval "_n=\${CONFIG_${_s}_${_o}_LENGTH:-0}"
	_i=1
	while [ $_i -le $_n ]; do
		eval "_v=\$CONFIG_${_s}_${_o}_ITEM$_i"
		"$_fn" "$_v" "$@"
		_i=$((_i + 1))
	done
}
config_foreach() {
	local _fn=$1 _type=$2 _s _t
	for _s in $CONFIG_SECTIONS; do
		eval "_t=\$CONFIG_${_s}_TYPE"
		[ "$_t" = "$_type" ] && "$_fn" "$_s"
	done
	return 0
}
procd_open_instance() { INST=$1; : >"$OUT/$INST.argv"; : >"$OUT/$INST.params"; }
procd_set_param() {
	local p=$1
	shift
	if [ "$p" = command ]; then
		: >"$OUT/$INST.argv"
		for a in "$@"; do printf '%s\n' "$a" >>"$OUT/$INST.argv"; done
	else
		printf '%s %s\n' "$p" "$*" >>"$OUT/$INST.params"
	fi
}
procd_append_param() {
	shift
	for a in "$@"; do printf '%s\n' "$a" >>"$OUT/$INST.argv"; done
}
procd_close_instance() { echo "$INST" >>"$OUT/instances"; }
procd_add_reload_trigger() { echo "$*" >>"$OUT/triggers"; }
logger() { shift 2; echo "$*" >>"$OUT/log"; }
. "$INIT"
start_service
service_triggers
'''


def run_init(config_text):
    """Runs the init script on config_text; returns (instances {name: argv},
    params {name: [lines]}, log lines, triggers)."""
    d = tempfile.mkdtemp(prefix='wsf-owrt-')
    try:
        os.mkdir(os.path.join(d, 'etc'))
        with open(os.path.join(d, 'etc', 'wsferry'), 'w') as f:
            f.write(config_text)
        with open(os.path.join(d, 'harness.sh'), 'w') as f:
            f.write(STUBS)
        out = os.path.join(d, 'out')
        os.mkdir(out)
        r = subprocess.run(['busybox', 'sh', os.path.join(d, 'harness.sh')],
                           env={'PATH': os.environ.get('PATH', '/usr/bin:/bin'),
                                'UCI_DIR': os.path.join(d, 'etc'), 'OUT': out, 'INIT': INIT},
                           capture_output=True, text=True, timeout=20)
        check(r.returncode == 0, 'busybox sh: exit %d: %s' % (r.returncode, r.stderr.strip()))

        def lines(name):
            p = os.path.join(out, name)
            if not os.path.exists(p):
                return []
            with open(p) as f:
                return f.read().splitlines()
        inst = {n: lines(n + '.argv') for n in lines('instances')}
        params = {n: lines(n + '.params') for n in lines('instances')}
        return inst, params, lines('log'), lines('triggers')
    finally:
        shutil.rmtree(d, ignore_errors=True)


def main():
    s = w.Suite('openwrt', file_limit=120)
    tmp = tempfile.mkdtemp(prefix='wsf-owrt-run-')
    key = os.path.join(tmp, 'key')

    def body(s):
        check(shutil.which('busybox'), 'busybox (OpenWrt\'s ash) missing: apt-get install busybox')
        with open(key, 'w') as f:
            f.write(subprocess.run([w.WSFERRY, 'keygen'], capture_output=True,
                                   text=True).stdout)
        os.chmod(key, 0o600)

        def case_shipped():
            with open(SHIPPED) as f:
                inst, params, log, trig = run_init(f.read())
            check(inst == {}, 'instances from the shipped config: %r' % inst)
            check(log == [], 'log: %r' % log)
            check(trig == ['wsferry'], 'reload trigger: %r' % trig)
        s.run('1 the shipped /etc/config/wsferry parses and starts nothing (all disabled)',
              case_shipped)

        echo = w.TCPServer(w.echo_handler)
        p_ws, p_wss, p_d1, p_l1, p_d2 = w.free_ports(5)
        cfg = '''
config wsferry 'srv'
	option enabled '1'
	option mode 'server'
	list listen 'ws://127.0.0.1:%(ws)d'
	list listen 'wss://127.0.0.1:%(wss)d'
	option key_file '%(key)s'
	list name 'router.example'
	option restrict_to '127.0.0.1:*'
	option stealth 'drop'
	option max_skew '60'
	option ping '1'
	option accept_page '0'
	option log_level 'info'

config wsferry 'c1'
	option enabled '1'
	option mode 'client'
	option server 'ws://127.0.0.1:%(ws)d'
	option key_file '%(key)s'
	list dynamic '127.0.0.1:%(d1)d'
	list local '127.0.0.1:%(l1)d:127.0.0.1:%(echo)d'
	option keepalive '30'
	option kee_alive '30'

config wsferry 'c2'
	option enabled 'yes'
	option mode 'client'
	option server 'wss://127.0.0.1:%(wss)d'
	option key_file '%(key)s'
	option insecure '1'
	option dynamic '127.0.0.1:%(d2)d'
	option user 'root'

config wsferry 'off'
	option enabled '0'
	option mode 'server'
	list listen 'ws://127.0.0.1:1'

config wsferry 'noserver'
	option enabled '1'
	option mode 'client'

config wsferry 'odd'
	option enabled '1'
	option mode 'relay'
''' % {'ws': p_ws, 'wss': p_wss, 'd1': p_d1, 'l1': p_l1, 'd2': p_d2, 'key': key,
       'echo': echo.port}
        got = {}

        def case_lines():
            inst, params, log, trig = run_init(cfg)
            got.update(inst)
            want = {
                'srv': ['/usr/bin/wsferry', 'server', 'ws://127.0.0.1:%d' % p_ws,
                        'wss://127.0.0.1:%d' % p_wss, '--key-file', key, '--stealth', 'drop',
                        '--max-skew', '60', '--log-level', 'info', '--name', 'router.example',
                        '--restrict-to', '127.0.0.1:*', '--ping'],
                'c1': ['/usr/bin/wsferry', 'client', 'ws://127.0.0.1:%d' % p_ws,
                       '--key-file', key, '--keepalive', '30', '--dynamic', '127.0.0.1:%d' % p_d1,
                       '--local', '127.0.0.1:%d:127.0.0.1:%d' % (p_l1, echo.port)],
                'c2': ['/usr/bin/wsferry', 'client', 'wss://127.0.0.1:%d' % p_wss,
                       '--key-file', key, '--dynamic', '127.0.0.1:%d' % p_d2, '--insecure'],
            }
            check(sorted(inst) == sorted(want), 'instances %s, want %s' % (sorted(inst), sorted(want)))
            for n in want:
                check(inst[n] == want[n], '%s: command\n  %s\nwant\n  %s'
                      % (n, ' '.join(inst[n]), ' '.join(want[n])))
            for n in want:
                p = params[n]
                for need in ('respawn 3600 5 5', 'stdout 1', 'stderr 1', 'reload_signal HUP',
                             'file ' + key, 'limits nofile=65536 65536'):
                    check(need in p, '%s: no procd param "%s" in %r' % (n, need, p))
            check('user root' in params['c2'] and not any(l.startswith('user') for l in params['c1']),
                  'user param: c1 %r, c2 %r' % (params['c1'], params['c2']))
            for frag in ('section c1: option kee_alive is not a wsferry option here',
                         'section noserver: mode client needs option server',
                         "section odd: mode 'relay' is neither server nor client"):
                check(any(frag in l for l in log), 'log lacks "%s": %r' % (frag, log))
            check(len(log) == 3, 'log has more than the three expected lines: %r' % log)
        s.run('2 UCI sections -> exact wsferry command lines and procd parameters', case_lines)

        def case_run():
            check(got, 'no command lines from case 2')
            procs = {}
            for n in ('srv', 'c1', 'c2'):
                argv = [w.WSFERRY] + got[n][1:]
                procs[n] = w.Proc(argv, 'owrt-' + n)
                if n == 'srv':
                    w.wait_port(p_ws, proc=procs[n])
                    w.wait_port(p_wss, proc=procs[n])
            for port in (p_d1, p_l1, p_d2):
                w.wait_port(port, proc=procs['c1' if port != p_d2 else 'c2'])
            for port in (p_d1, p_d2):
                sock = w.socks_connect(port, '127.0.0.1', echo.port)
                data = os.urandom(200000)
                sock.sendall(data)
                sock.shutdown(socket.SHUT_WR)
                back = w.recv_until_eof(sock)
                sock.close()
                check(back == data, 'SOCKS5 via -D %d: echoed %d of %d bytes' % (port, len(back), len(data)))
            sock = w.connect(p_l1)
            sock.sendall(b'via -L\n')
            sock.shutdown(socket.SHUT_WR)
            check(w.recv_until_eof(sock) == b'via -L\n', '-L echo differs')
            sock.close()
            r = subprocess.run([w.WSFERRY, 'ping', 'ws://127.0.0.1:%d/ws' % p_ws],
                               capture_output=True, text=True, timeout=20)
            check(r.returncode == 0 and '"status":"ok"' in r.stdout,
                  'wsferry ping: exit %d %s %s' % (r.returncode, r.stdout, r.stderr))
        s.run('3 those command lines run: SOCKS5 via both clients and -L byte-exact, ping answers',
              case_run, timeout=60)
        s.check_processes()
        echo.close()

    try:
        w.main_guard(s, body)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == '__main__':
    main()
