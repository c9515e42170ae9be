#!/usr/bin/python3
"""delay_proxy.py LISTEN_PORT TARGET_PORT ONE_WAY_MS — a TCP relay on
127.0.0.1 that adds a one-way delay to every byte in each direction, and
one round trip (2 x ONE_WAY_MS) before a new connection's first byte
reaches the target (the TCP handshake a real path would cost). For
bench/pool.sh: the link between wsferry client and server, as over a WAN,
where this machine has no netem. Prints "delay port=P" once listening."""
import asyncio
import sys


async def pump(src, dst, delay, hold_until):
    loop = asyncio.get_running_loop()
    q = asyncio.Queue()

    async def writer():
        while True:
            due, data = await q.get()
            if data is None:
                break
            wait = due - loop.time()
            if wait > 0:
                await asyncio.sleep(wait)
            dst.write(data)
            await dst.drain()
        try:
            dst.write_eof()
        except OSError:
            pass

    task = asyncio.ensure_future(writer())
    try:
        while True:
            data = await src.read(65536)
            now = loop.time()
            q.put_nowait((max(now + delay, hold_until), data or None))
            if not data:
                break
    except OSError:
        q.put_nowait((0, None))
    try:
        await task
    except OSError:
        pass


async def main():
    listen, target, one_way = int(sys.argv[1]), int(sys.argv[2]), float(sys.argv[3]) / 1000

    async def handle(r, w):
        loop = asyncio.get_running_loop()
        start = loop.time()
        try:
            ur, uw = await asyncio.open_connection('127.0.0.1', target)
        except OSError:
            w.close()
            return
        await asyncio.gather(pump(r, uw, one_way, start + 3 * one_way),
                             pump(ur, w, one_way, 0), return_exceptions=True)
        for x in (w, uw):
            x.close()

    srv = await asyncio.start_server(handle, '127.0.0.1', listen, backlog=1024)
    print('delay port=%d' % srv.sockets[0].getsockname()[1], flush=True)
    async with srv:
        await srv.serve_forever()


if __name__ == '__main__':
    try:
        asyncio.run(main())
    except KeyboardInterrupt:
        pass
