import ssl, os, sys
from websockets.sync.client import connect
for cipher in ('ECDHE-ECDSA-CHACHA20-POLY1305', 'ECDHE-ECDSA-AES128-GCM-SHA256'):
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT); ctx.check_hostname=False; ctx.verify_mode=ssl.CERT_NONE
    ctx.maximum_version = ssl.TLSVersion.TLSv1_2; ctx.set_ciphers(cipher)
    with connect('wss://127.0.0.1:24443/e', ssl=ctx, max_size=None) as ws:
        ok = True
        for n in (1, 100, 70000, 3 << 20):
            d = os.urandom(n); ws.send(d); ok = ok and ws.recv() == d
        print(cipher, ws.socket.cipher()[0], 'echo ok' if ok else 'MISMATCH')
