'use strict';
// Node socket.io 4.8 (npm, from tests/js/node_modules) with the same handlers
// as the Python fixtures. Usage: node node_server.js --port N [--host H]
// [--max-buffer BYTES] [--max-seconds S]. Exits by itself when its parent goes
// away or after --max-seconds.
const http = require('http');
const path = require('path');
const { createRequire } = require('module');

const peers = createRequire(path.join(__dirname, '..', '..', 'tests', 'js', 'package.json'));
const { Server } = peers('socket.io');

function arg(name, dflt) {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? process.argv[i + 1] : dflt;
}

const host = arg('host', '127.0.0.1');
const port = Number(arg('port'));
const maxBuffer = Number(arg('max-buffer', 10000000));
const maxSeconds = Number(arg('max-seconds', 3600));

const httpServer = http.createServer();
const io = new Server(httpServer, { cors: { origin: '*' }, maxHttpBufferSize: maxBuffer });

io.on('connection', (socket) => {
  socket.on('echo', (...args) => socket.emit('echo', ...args));
  socket.on('ack', (...args) => {
    const cb = args.pop();
    if (typeof cb === 'function') cb(...args);
  });
  socket.on('join', (...args) => {
    socket.join('bench');
    const cb = args[args.length - 1];
    if (typeof cb === 'function') cb();
  });
  socket.on('broadcast', (...args) => io.to('bench').emit('broadcast', ...args));
});

httpServer.listen(port, host);

const parent = process.ppid;
const deadline = Date.now() + maxSeconds * 1000;
setInterval(() => {
  let alive = true;
  try { process.kill(parent, 0); } catch (e) { alive = false; }
  if (!alive || process.ppid !== parent || Date.now() > deadline) process.exit(0);
}, 1000).unref();
