'use strict';
// What the Node fixtures share: the socket.io packages of tests/js, arguments, and the handlers
// that every fixture server implements alike (see benchmarks/servers/*).
const path = require('path');
const { createRequire } = require('module');

const peers = createRequire(path.join(__dirname, '..', '..', 'tests', 'js', 'package.json'));

function arg(name, dflt) {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? process.argv[i + 1] : dflt;
}

// echo back to the sender, ack with the arguments, join room "bench", broadcast to it
function installHandlers(io) {
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
}

module.exports = { peers, arg, installHandlers };
