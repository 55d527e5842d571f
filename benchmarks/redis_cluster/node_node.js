// One Node socket.io node of the cross-node benchmark (@socket.io/redis-adapter on `redis`).
// node node_node.js PORT REDIS_URL [streams] — same `fire` event as py_node.py.
const http = require("http");
const path = require("path");
const modules = path.join(__dirname, "..", "..", "tests", "js", "node_modules");
const { Server } = require(path.join(modules, "socket.io"));
const { createClient } = require(path.join(modules, "redis"));
const { createAdapter } = require(path.join(modules, "@socket.io/redis-adapter"));
const streams = require(path.join(modules, "@socket.io/redis-streams-adapter"));

(async () => {
  const [port, url] = [Number(process.argv[2]), process.argv[3]];
  const pub = createClient({ url });
  const sub = pub.duplicate();
  await Promise.all([pub.connect(), sub.connect()]);
  const httpServer = http.createServer();
  // argv[4] "streams": @socket.io/redis-streams-adapter instead of the pub/sub adapter
  const adapter = process.argv[4] === "streams" ? streams.createAdapter(pub) : createAdapter(pub, sub);
  const io = new Server(httpServer, { adapter, cors: { origin: "*" } });
  io.on("connection", (socket) => {
    socket.on("fire", ({ count, rate }, ack = () => {}) => {
      let seq = 0;
      const start = Date.now();
      const step = () => {
        const due = rate ? Math.min(count, Math.floor(((Date.now() - start) * rate) / 1000) + 1) : Math.min(count, seq + 50);
        while (seq < due) io.emit("tick", [Date.now(), seq++]);
        if (seq < count) setTimeout(step, rate ? 1 : 0); else ack(count);
      };
      step();
    });
  });
  httpServer.listen(port, "127.0.0.1");
  setInterval(() => { if (process.ppid === 1) process.exit(0); }, 1000);
})();
