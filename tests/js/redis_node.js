// A Node socket.io node of a Redis cluster (@socket.io/redis-adapter on the `redis` client),
// driven over stdin/stdout like tests/redis/redis_node.py: prints {"port": N}, then answers
// each {"id", "op", ...} line with {"id", "result"} or {"id", "error"}.
// Usage: node redis_node.js '{"url": "redis://...", "kind": "classic"|"sharded"|"streams"}'
// "streams" uses @socket.io/redis-streams-adapter (options: "streams": {...}, "recovery": ms or absent).
const http = require("http");
const readline = require("readline");
const { Server } = require("socket.io");
const { createClient, createCluster } = require("redis");
const { createAdapter, createShardedAdapter } = require("@socket.io/redis-adapter");
const streams = require("@socket.io/redis-streams-adapter");

const options = JSON.parse(process.argv[2]);
const heard = [];

async function main() {
  let pub, sub;
  if (options.cluster) {
    pub = createCluster({ rootNodes: [{ url: options.url }] });
  } else {
    pub = createClient({ url: options.url });
  }
  sub = pub.duplicate();
  pub.on("error", () => {});
  sub.on("error", () => {});
  await Promise.all([pub.connect(), sub.connect()]);
  let adapter;
  if (options.kind === "streams") adapter = streams.createAdapter(pub, options.streams || {});
  else if (options.kind === "sharded") {
    adapter = createShardedAdapter(pub, sub, { subscriptionMode: options.subscriptionMode || "dynamic" });
  } else adapter = createAdapter(pub, sub, { requestsTimeout: 3000 });
  const httpServer = http.createServer();
  const serverOptions = { adapter, cors: { origin: "*" } };
  if (options.recovery) {
    serverOptions.connectionStateRecovery = { maxDisconnectionDuration: options.recovery, skipMiddlewares: true };
  }
  const io = new Server(httpServer, serverOptions);
  io.on("connection", (socket) => {
    if (socket.handshake.auth && socket.handshake.auth.name) socket.data.name = socket.handshake.auth.name;
    socket.on("join", (room, ack) => { socket.join(room); if (ack) ack("ok"); });
  });
  io.on("ping", (arg, ack) => { heard.push(arg); if (typeof ack === "function") ack(`node:${arg}`); });

  async function run(cmd) {
    let target = io.of(cmd.nsp || "/");
    if (cmd.to != null) target = target.to(cmd.to);
    if (cmd.except != null) target = target.except(cmd.except);
    if (cmd.volatile) target = target.volatile;
    if (cmd.local) target = target.local;
    switch (cmd.op) {
      case "emit": target.emit(cmd.event, ...(cmd.args || [])); return true;
      case "call": {
        const values = await target.timeout(Math.round((cmd.timeout || 2) * 1000)).emitWithAck(cmd.event, ...(cmd.args || []));
        return { values: values.map((v) => JSON.stringify(v)).sort() };
      }
      case "fetch": {
        const sockets = await target.fetchSockets();
        return sockets.map((s) => ({ id: s.id, rooms: [...s.rooms].sort(), data: s.data }))
          .sort((a, b) => (a.id < b.id ? -1 : 1));
      }
      case "remote_emit": {
        const sockets = await target.fetchSockets();
        const s = sockets.find((x) => x.id === cmd.sid);
        if (!s) return false;
        s.emit(cmd.event, ...(cmd.args || []));
        return true;
      }
      case "join": target.socketsJoin(cmd.rooms); return true;
      case "leave": target.socketsLeave(cmd.rooms); return true;
      case "disconnect": target.disconnectSockets(cmd.close || false); return true;
      case "sse": {
        const arg = (cmd.args || [null])[0];
        if (!cmd.ack) { io.serverSideEmit(cmd.event, arg); return true; }
        const responses = await io.serverSideEmitWithAck(cmd.event, arg);
        return responses.map((v) => JSON.stringify(v)).sort();
      }
      case "count": return await io.of("/").adapter.serverCount();
      case "heard": return heard;
      case "recovered": {
        const s = io.of(cmd.nsp || "/").sockets.get(cmd.sid);
        return s ? s.recovered : null;
      }
      case "rooms": {
        const s = io.of(cmd.nsp || "/").sockets.get(cmd.sid);
        return s ? [...s.rooms].sort() : [];
      }
      default: throw new Error(`unknown op ${cmd.op}`);
    }
  }

  httpServer.listen(0, "127.0.0.1", () => {
    process.stdout.write(JSON.stringify({ port: httpServer.address().port }) + "\n");
  });
  const rl = readline.createInterface({ input: process.stdin });
  rl.on("line", (line) => {
    if (!line.trim()) return;
    const cmd = JSON.parse(line);
    run(cmd).then(
      (result) => process.stdout.write(JSON.stringify({ id: cmd.id, result }) + "\n"),
      (err) => process.stdout.write(JSON.stringify({ id: cmd.id, error: String(err && err.message || err) }) + "\n"),
    );
  });
  rl.on("close", async () => {
    io.close();
    try { await Promise.all([pub.quit(), sub.quit()]); } catch (e) { /* already gone */ }
    process.exit(0);
  });
}

main().catch((err) => { console.error(err); process.exit(1); });
