// Socket.IO scenarios driven by the real socket.io-client 4.8 against a siothread server.
// Usage: node sio_scenarios.js <url> <scenario> [json options]
// Prints one JSON object with what the client observed, then exits.
// The server side is built by tests/integration/socketio/conftest.py (build_app).
"use strict";

const { io, Manager } = require("socket.io-client");
const { done, fail, once, toJSON } = require("./scenario");

const [url, scenario, rawOpts] = process.argv.slice(2);
const opts = rawOpts ? JSON.parse(rawOpts) : {};
const transports = opts.transports || ["polling", "websocket"];
// opts.parser === "msgpack": the socket.io-msgpack-parser both ends must agree on
const parser = opts.parser === "msgpack" ? { parser: require("socket.io-msgpack-parser") } : {};

setTimeout(() => fail("scenario timed out"), opts.deadline || 10000);

function connectSocket(socket) {
  return new Promise((resolve, reject) => {
    socket.once("connect", resolve);
    socket.once("connect_error", reject);
  });
}

function ackAll(socket, event, ...args) {
  // every argument of the acknowledgement (emitWithAck resolves with the first only)
  return new Promise((resolve, reject) =>
    socket.timeout(3000).emit(event, ...args, (err, ...ackArgs) => (err ? reject(err) : resolve(ackArgs)))
  );
}

const scenarios = {
  // One Manager, two namespaces, auth, binary both ways, acks with timeout, emitWithAck, onAny.
  async multiplex() {
    const manager = new Manager(url, { transports, reconnection: false, ...parser });
    const main = manager.socket("/", { auth: { token: "main" } });
    const chat = manager.socket("/chat", { auth: { token: "chat" } });
    const order = [];
    const anyEvents = [];
    main.onAny((event, ...args) => anyEvents.push([event, toJSON(args)]));
    main.on("connect", () => order.push("connect"));
    main.on("welcome", () => order.push("welcome"));
    const welcome = once(main, "welcome");
    await Promise.all([connectSocket(main), connectSocket(chat)]);
    const [welcomeData] = await welcome;
    const echoed = await ackAll(main, "echo", 1, "two", { three: [true] });
    const binary = await ackAll(main, "echo", Buffer.from([1, 2, 3]), { nested: [Buffer.from([4, 5])] });
    const chatEcho = await chat.emitWithAck("echo", "in chat");
    const viaCallback = await new Promise((resolve) =>
      main.timeout(2000).emit("echo", "cb", (err, ...args) => resolve([err ? err.message : null, args]))
    );
    const noAck = await new Promise((resolve) =>
      main.timeout(200).emit("no-ack", (err) => resolve(err ? err.message : "acked"))
    );
    const engineIds = [main.io.engine.id, chat.io.engine.id];
    const result = {
      order,
      welcome: welcomeData,
      echoed,
      binary: toJSON(binary),
      chatEcho,
      viaCallback,
      noAck,
      sameEngine: engineIds[0] === engineIds[1] && !!engineIds[0],
      sids: [main.id, chat.id],
      transport: main.io.engine.transport.name,
      anyEvents,
    };
    main.disconnect();
    chat.disconnect();
    done(result);
  },

  // The server asks the client (call / emit with timeout) while handling an event.
  async server_acks() {
    const socket = io(url, { transports, reconnection: false, ...parser });
    socket.on("question", (x, callback) => callback(x * 2, "twice"));
    socket.on("ignored", () => {});
    await connectSocket(socket);
    const answer = await ackAll(socket, "ask-me", 21);
    const timeoutReport = await socket.emitWithAck("ask-me-unanswered");
    socket.disconnect();
    done({ answer, timeoutReport });
  },

  // Several clients in a room; one asks the server to broadcast with acks.
  async broadcast_acks() {
    const n = opts.clients || 3;
    const sockets = [];
    for (let i = 0; i < n; i++) {
      const s = io(url, { transports, reconnection: false, forceNew: true });
      const mode = i === n - 1 ? "silent" : "answer";
      s.on("poll", (question, callback) => {
        if (mode === "answer") callback({ from: i, question });
      });
      await connectSocket(s);
      await s.emitWithAck("join", "team");
      sockets.push(s);
    }
    const summary = await sockets[0].emitWithAck("broadcast-ack", "team", "lunch?");
    const sids = sockets.map((s) => s.id);
    for (const s of sockets) s.disconnect();
    done({ summary, sids });
  },

  // Refusals: connect_error with message/data, unknown namespace.
  async refusals() {
    const refused = io(url, { transports, reconnection: false, auth: { refuse: "banned" } });
    const [err] = await once(refused, "connect_error");
    refused.close();
    const unknown = io(url + "/nope", { transports, reconnection: false, forceNew: true });
    const [err2] = await once(unknown, "connect_error");
    unknown.close();
    done({ message: err.message, data: err.data, unknown: err2.message });
  },

  // Disconnect reasons seen by the client; the server records its own.
  async disconnects() {
    const a = io(url, { transports, reconnection: false, forceNew: true });
    await connectSocket(a);
    const sidA = a.id;
    const kicked = once(a, "disconnect");
    a.emit("kick");
    const [reasonA] = await kicked;
    const b = io(url, { transports, reconnection: false, forceNew: true });
    await connectSocket(b);
    const sidB = b.id;
    b.disconnect();
    done({ kicked: reasonA, sidA, sidB });
  },

  // Rooms: join, broadcast to a room excluding the sender, volatile events.
  async rooms() {
    const sockets = [];
    const inbox = [[], [], []];
    for (let i = 0; i < 3; i++) {
      const s = io(url, { transports, reconnection: false, forceNew: true });
      s.on("room-msg", (...args) => inbox[i].push(toJSON(args)));
      await connectSocket(s);
      sockets.push(s);
    }
    await sockets[0].emitWithAck("join", "r");
    await sockets[1].emitWithAck("join", "r");
    await sockets[0].emitWithAck("to-room", "r", { hello: Buffer.from([9]) });
    await new Promise((r) => setTimeout(r, 200));
    for (const s of sockets) s.disconnect();
    done({ inbox });
  },

  // The admin UI dashboard: connects to /admin like @socket.io/admin-ui's client does.
  async admin() {
    const admin = io(url + "/admin", {
      transports,
      reconnection: false,
      auth: { username: opts.username, password: opts.password },
    });
    const seen = {};
    admin.onAny((event, ...args) => {
      (seen[event] = seen[event] || []).push(args);
    });
    await connectSocket(admin);
    const user = io(url, { transports, reconnection: false, forceNew: true });
    await connectSocket(user);
    await user.emitWithAck("echo", "watched");
    await user.emitWithAck("join", "watched-room");
    await new Promise((r) => setTimeout(r, opts.wait || 600));
    const userId = user.id;
    user.disconnect();
    await new Promise((r) => setTimeout(r, 200));
    admin.disconnect();
    done({ seen, userId });
  },

  // Three clients busy with the server when it shuts down (tests/integration/socketio/sio_shutdown_server.py).
  async shutdown_peer() {
    const sockets = [];
    for (let i = 0; i < 3; i++) {
      const s = io(url, { transports, reconnection: false, forceNew: true });
      s.on("never-answered", () => {});
      await connectSocket(s);
      sockets.push(s);
    }
    const acks = {};
    const reasons = sockets.map((s) => once(s, "disconnect").then(([reason]) => reason));
    sockets[0].emit("slow", (answer) => (acks.slow = answer));
    sockets[1].emit("pending");
    sockets[2].emit("hang");
    await new Promise((r) => setTimeout(r, 200));
    process.stdout.write(JSON.stringify({ ready: true }) + "\n");
    done({ acks, reasons: await Promise.all(reasons) });
  },
};

const run = scenarios[scenario];
if (!run) fail("unknown scenario " + scenario);
run().catch((e) => fail(e && e.stack ? e.stack : e));
