#!/usr/bin/python3
"""push_py_server.py — the reference for bench/push.sh: a push server in
python3-websockets (Debian's), written the way its documentation suggests:
websockets.serve for subscribers and websockets.broadcast for the fan-out,
plus an asyncio HTTP endpoint for POST with X-API-KEY and a JSON body that
sends the same kind of frame wsferry does. Usage: PORT POSTPORT KEY."""
import asyncio
import datetime
import json
import sys

import websockets

PORT, POST_PORT, KEY = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3].encode()
SUBS = set()


async def subscriber(ws, path=None):
    SUBS.add(ws)
    try:
        await ws.wait_closed()
    finally:
        SUBS.discard(ws)


async def post(reader, writer):
    try:
        try:
            head = await reader.readuntil(b'\r\n\r\n')
        except asyncio.IncompleteReadError:
            return  # a port probe
        hdrs = {}
        for line in head.split(b'\r\n')[1:]:
            k, _, v = line.partition(b':')
            hdrs[k.strip().lower()] = v.strip()
        body = await reader.readexactly(int(hdrs.get(b'content-length', b'0')))
        if hdrs.get(b'x-api-key') != KEY:
            status, out = b'401 Unauthorized', b'{"error":"key"}'
        else:
            m = json.loads(body)
            now = datetime.datetime.now(datetime.timezone.utc)
            text = json.dumps({'type': 'message', 'topic': None, 'sender': m.get('sender'),
                               'message': m['message'],
                               'time': now.strftime('%Y-%m-%dT%H:%M:%S.%f')[:-3] + 'Z'},
                              separators=(',', ':'))
            websockets.broadcast(SUBS, text)
            status, out = b'200 OK', b'{"ok":true,"delivered":%d}' % len(SUBS)
        writer.write(b'HTTP/1.1 ' + status + b'\r\nContent-Type: application/json\r\n'
                     b'Content-Length: %d\r\nConnection: close\r\n\r\n' % len(out) + out)
        await writer.drain()
    finally:
        writer.close()


async def main():
    async with websockets.serve(subscriber, '127.0.0.1', PORT, ping_interval=None,
                                max_queue=16, backlog=2048):
        server = await asyncio.start_server(post, '127.0.0.1', POST_PORT, backlog=256)
        async with server:
            await asyncio.Future()

asyncio.run(main())
