#!/bin/sh
# run-demo.sh BIN — `make run`: the server on its embedded default
# (ws://127.0.0.1:8080) with the echo endpoint, and how to talk to it.
bin=${1:-build/wsferry}
cat <<TXT
Starting: $bin server --echo /echo ws://127.0.0.1:8080
Talk to it from another terminal, e.g. with Python's websockets client:
  /usr/bin/python3 -m websockets ws://127.0.0.1:8080/echo
(type a line, get it back). Any other path is dropped without a byte:
  curl -v http://127.0.0.1:8080/
Stop with Ctrl-C.
TXT
exec "$bin" server --echo /echo --log-level info ws://127.0.0.1:8080
