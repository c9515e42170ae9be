// push_sio.js — an unchanged socket.io-client (npm, test/npm) subscribing to
// `wsferry server --push` over the websocket transport. Env URL, TOPIC (may
// be empty), COUNT (messages to wait for). Prints "connected SID" once
// connected, then one JSON line per "message" event; exit 0 after COUNT,
// 1 on a connect error or after 15 s.
'use strict';
const {io} = require('socket.io-client');
const opts = {transports: ['websocket'], reconnection: false, timeout: 5000};
if (process.env.TOPIC) opts.query = {topic: process.env.TOPIC};
const socket = io(process.env.URL, opts);
let left = Number(process.env.COUNT || 1);
const bail = setTimeout(() => { console.log('timeout'); process.exit(1); }, 15000);
socket.on('connect', () => console.log('connected ' + socket.id));
socket.on('connect_error', e => { console.log('connect_error ' + e.message); process.exit(1); });
socket.on('message', m => {
  console.log(JSON.stringify(m));
  if (--left === 0) {
    clearTimeout(bail);
    socket.close();
    setTimeout(() => process.exit(0), 100);
  }
});
