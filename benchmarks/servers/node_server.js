'use strict';
// Node socket.io 4.8 (npm, from tests/js/node_modules) with the same handlers
// as the Python fixtures. Usage: node node_server.js --port N [--host H]
// [--max-buffer BYTES] [--max-seconds S]. Exits by itself when its parent goes
// away or after --max-seconds.
const http = require('http');
const { peers, arg, installHandlers } = require('./node_common');

const { Server } = peers('socket.io');

const host = arg('host', '127.0.0.1');
const port = Number(arg('port'));
const maxBuffer = Number(arg('max-buffer', 10000000));
const maxSeconds = Number(arg('max-seconds', 3600));

const httpServer = http.createServer();
const io = new Server(httpServer, { cors: { origin: '*' }, maxHttpBufferSize: maxBuffer });
installHandlers(io);

httpServer.listen(port, host);

const parent = process.ppid;
const deadline = Date.now() + maxSeconds * 1000;
setInterval(() => {
  let alive = true;
  try { process.kill(parent, 0); } catch (e) { alive = false; }
  if (!alive || process.ppid !== parent || Date.now() > deadline) process.exit(0);
}, 1000).unref();
