// push_sio_alive.js — an unchanged socket.io-client (npm, test/npm) that
// stays subscribed to `wsferry server --push` across the server's pings.
// Env URL, SECONDS (how long to stay before it says "ready"). Prints
// "connected SID", then "ready PINGS" after SECONDS, then one line of JSON
// {"message":..., "pings":N, "id":SID, "disconnects":[reasons]} at the first
// "message" event, and exits 0; any disconnect is printed as it happens
// ("disconnect REASON"); exit 1 on a connect error or after SECONDS + 15 s.
'use strict';
const {io} = require('socket.io-client');
const socket = io(process.env.URL, {transports: ['websocket'], reconnection: false,
                                    timeout: 5000});
const seconds = Number(process.env.SECONDS || 5);
let pings = 0, id = null;
const disconnects = [];
const bail = setTimeout(() => { console.log('timeout'); process.exit(1); },
                        (seconds + 15) * 1000);
socket.io.on('ping', () => pings++); // the Manager sees every server ping
socket.on('connect', () => {
  id = socket.id;
  console.log('connected ' + id);
  setTimeout(() => console.log('ready ' + pings), seconds * 1000);
});
socket.on('connect_error', e => { console.log('connect_error ' + e.message); process.exit(1); });
socket.on('disconnect', r => { disconnects.push(r); console.log('disconnect ' + r); });
socket.on('message', m => {
  console.log(JSON.stringify({message: m.message, pings, id: socket.id, first: id, disconnects}));
  clearTimeout(bail);
  socket.close();
  setTimeout(() => process.exit(0), 100);
});
