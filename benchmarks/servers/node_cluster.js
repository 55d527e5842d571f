'use strict';
// Node socket.io 4.8 on several processes: the primary accepts every connection and passes it to
// the worker holding its session (@socket.io/sticky), and the workers share rooms and broadcasts
// (@socket.io/cluster-adapter): Node's way to use every core without an external load balancer.
// Usage: node node_cluster.js --port N --workers W [--host H] [--max-buffer BYTES] [--max-seconds S].
// Same handlers as node_server.js. Exits by itself when its parent goes away or after --max-seconds.
const cluster = require('cluster');
const http = require('http');
const { peers, arg, installHandlers } = require('./node_common');

const { Server } = peers('socket.io');
const { setupMaster, setupWorker } = peers('@socket.io/sticky');
const { createAdapter, setupPrimary } = peers('@socket.io/cluster-adapter');

const host = arg('host', '127.0.0.1');
const port = Number(arg('port'));
const workers = Number(arg('workers', 2));
const maxBuffer = Number(arg('max-buffer', 10000000));
const maxSeconds = Number(arg('max-seconds', 3600));

if (cluster.isPrimary) {
  const httpServer = http.createServer();
  setupMaster(httpServer, { loadBalancingMethod: 'least-connection' });
  setupPrimary();
  httpServer.listen(port, host);
  for (let i = 0; i < workers; i++) cluster.fork();
  const parent = process.ppid;
  const deadline = Date.now() + maxSeconds * 1000;
  const stop = () => {
    for (const w of Object.values(cluster.workers)) w.process.kill();
    process.exit(0);
  };
  process.on('SIGTERM', stop);
  setInterval(() => {
    let alive = true;
    try { process.kill(parent, 0); } catch (e) { alive = false; }
    if (!alive || process.ppid !== parent || Date.now() > deadline) stop();
  }, 1000).unref();
} else {
  const httpServer = http.createServer();
  const io = new Server(httpServer, { cors: { origin: '*' }, maxHttpBufferSize: maxBuffer });
  io.adapter(createAdapter());
  setupWorker(io);
  installHandlers(io);
  setInterval(() => { if (!process.connected) process.exit(0); }, 1000).unref();
}
