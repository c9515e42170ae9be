#!/bin/sh
# layers.sh — the include rules of STYLE.md, checked by grepping #include:
# core -> proto -> tls -> tun -> bin (a file includes its own layer and those
# to its left); tun/'s rooms: shared machinery at tun/ includes no role or
# endpoint folder, the client and each endpoint family include only tun/
# (families also tun/server/srv_config.h; the client also tun/mux/, the one
# family both roles use), the server's router reaches every family; tun/'s private headers (*_int.h, handoff.h) hold types only, so every
# function is declared in its own module's header; and no circle between
# modules (A.c includes B.h and B.c includes A.h, however long).
cd "$(dirname "$0")/.." || exit 1
exec python3 - <<'PY'
import glob, os, re, sys
files = sorted(glob.glob('core/*.[ch]') + glob.glob('proto/*.[ch]') + glob.glob('tls/*.[ch]') +
               glob.glob('tun/*.[ch]') + glob.glob('tun/*/*.[ch]') + glob.glob('bin/*.[ch]'))
order = {'core': 0, 'proto': 1, 'tls': 2, 'tun': 3, 'bin': 4}
inc = {f: re.findall(r'^#include "([^"]+)"', open(f).read(), re.M) for f in files}
passed = failed = 0
def fail(msg):
    global failed
    failed += 1
    print('FAIL ' + msg)
def room(path):  # tun/ (shared), tun/client, tun/server, tun/<family>
    parts = path.split('/')
    return parts[0] if parts[0] != 'tun' or len(parts) == 2 else 'tun/' + parts[1]
for f in files:
    for h in inc[f]:
        top = h.split('/')[0]
        if top not in order:
            continue
        ok = order[top] <= order[f.split('/')[0]]
        r, hr = room(f), room(h)
        if ok and f.startswith('tun/') and hr.startswith('tun/'):
            if r == 'tun':  # shared machinery knows no role or family
                ok = False
            elif r == hr or (r == 'tun/server' and hr != 'tun/client'):
                pass  # its own room; the server's router reaches every family
            elif h == 'tun/server/srv_config.h' and r != 'tun/client':
                pass  # families read the server's settings
            elif r == 'tun/client' and hr == 'tun/mux':
                pass  # --mux serves both roles: the client opens its streams
            else:
                ok = False  # roles and families never include each other
        if ok:
            passed += 1
        else:
            fail('%s includes %s (layer or room rule)' % (f, h))
# Private headers: types only (a prototype there would hide a dependency).
proto_re = re.compile(r'^(?!typedef|static|#|struct \w+ \{|enum|union)[a-z][\w \*]*\b\w+\(', re.M)
for f in files:
    if f.startswith('tun/') and (f.endswith('_int.h') or f == 'tun/handoff.h'):
        m = proto_re.search(open(f).read())
        if m:
            fail('%s declares a function (private headers are types only): %s' %
                 (f, m.group(0)))
        else:
            passed += 1
# Module graph: X.c -> Y.c when X.c or its own header includes Y.h.
mods = {f[:-2] for f in files if f.endswith('.c')}
edges = {m: set() for m in mods}
for m in mods:
    for src in (m + '.c', m + '.h'):
        for h in inc.get(src, []):
            t = h[:-2]
            if h.endswith('.h') and t in mods and t != m:
                edges[m].add(t)
state, stack = {}, []
def visit(m):
    state[m] = 1
    stack.append(m)
    for t in sorted(edges[m]):
        if state.get(t) == 1:
            fail('include circle: ' + ' -> '.join(stack[stack.index(t):] + [t]))
        elif not state.get(t):
            visit(t)
    stack.pop()
    state[m] = 2
for m in sorted(mods):
    if not state.get(m):
        visit(m)
if not failed:
    passed += 1  # the module graph is acyclic
print('%d passed, %d failed' % (passed, failed))
sys.exit(1 if failed else 0)
PY
