#!/bin/sh
# run-demo.sh BIN — `make run`: the server on its embedded default
# (ws://127.0.0.1:8080, plus the echo endpoint at /echo) and a client with
# -D 127.0.0.1:1080, then how to use them. Ctrl-C stops both.
bin=${1:-build/wsferry}
"$bin" server --echo /echo &
srv=$!
sleep 0.3
"$bin" client ws://127.0.0.1:8080 -D 127.0.0.1:1080 &
cli=$!
trap 'kill $cli $srv 2>/dev/null; wait 2>/dev/null; exit 0' INT TERM
sleep 0.3
cat <<TXT

wsferry is running: server ws://127.0.0.1:8080 (pid $srv), client -D 127.0.0.1:1080 (pid $cli).
Browse through the tunnel from another terminal:
  curl --socks5-hostname 127.0.0.1:1080 http://example.com/
  curl -x http://127.0.0.1:1080 http://example.com/
Talk to the echo endpoint:
  /usr/bin/python3 -m websockets ws://127.0.0.1:8080/echo
Stop with Ctrl-C.
TXT
wait $srv $cli
