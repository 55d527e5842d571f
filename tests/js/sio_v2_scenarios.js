// Scenarios driven by the real socket.io-client 2.x (Engine.IO v3, Socket.IO protocol v4)
// against a siothread server with allow_eio3=True.
// Usage: node sio_v2_scenarios.js <url> <scenario> [json options]
// Prints one JSON object with what the client observed, then exits.
// The server side is built by tests/integration/socketio/test_legacy_client.py (build_app).
"use strict";

const ioV2 = require("socket.io-client-v2");
const { io: ioV4 } = require("socket.io-client");
const { done, fail, once, toJSON } = require("./scenario");

const [url, scenario, rawOpts] = process.argv.slice(2);
const opts = rawOpts ? JSON.parse(rawOpts) : {};

setTimeout(() => fail("scenario timed out"), opts.deadline || 10000);

function v2(path, extra) {
  return ioV2(url + path, Object.assign({ forceNew: true, reconnection: false }, extra));
}

function ack(socket, event, ...args) {
  // socket.io-client 2.x has no timeout(): the scenario deadline bounds the wait
  return new Promise((resolve) => socket.emit(event, ...args, (...ackArgs) => resolve(ackArgs)));
}

async function roundTrips(socket) {
  // text with characters outside the BMP (v3 polling lengths count UTF-16 units), binary both ways,
  // and an acknowledged call from the server to the client
  socket.on("question", (x, cb) => cb(x * 2));
  return {
    text: await ack(socket, "echo", "héllo 😀 wörld", { n: 1 }),
    binary: toJSON(await ack(socket, "echo", Buffer.from([0, 1, 2, 255]), { nested: Buffer.from("ok") })),
    asked: await ack(socket, "ask-me", 21),
  };
}

const scenarios = {
  // one client on the given transports: handshake, implicit main-namespace connect, round trips
  async basic() {
    const socket = v2("", { transports: opts.transports });
    const [welcome] = await once(socket, "welcome");
    if (opts.upgrade && socket.io.engine.transport.name !== "websocket") await once(socket.io.engine, "upgrade");
    const result = await roundTrips(socket);
    result.welcome = welcome;
    result.id = socket.id;
    result.transport = socket.io.engine.transport.name;
    socket.close();
    return result;
  },

  // namespaces: a query on the namespace becomes the auth, an unknown namespace and a refusal
  // by the connect handler arrive as v4-protocol ERROR packets (a string / the error's data)
  async namespaces() {
    const chat = v2("/chat", { query: { token: "abc" }, transports: opts.transports });
    const [welcome] = await once(chat, "welcome");
    const echoed = await ack(chat, "echo", "in chat");
    const nope = v2("/nope", { transports: opts.transports });
    const [invalid] = await once(nope, "error");
    const refused = v2("/custom", { query: { refuse: "no-entry" }, transports: opts.transports });
    const [refusal] = await once(refused, "error");
    const result = { welcome, id: chat.id, echoed, invalid, refusal, connected: chat.connected };
    chat.close();
    nope.close();
    refused.close();
    return result;
  },

  // the transport drops: the manager reconnects, the main namespace and /chat come back
  async reconnection() {
    const root = ioV2(url, { forceNew: true, transports: opts.transports, reconnectionDelay: 50 });
    const chat = root.io.socket("/chat");
    const [[first]] = await Promise.all([once(root, "welcome"), once(chat, "welcome")]);
    const back = Promise.all([once(root, "welcome"), once(chat, "welcome"), once(root.io, "reconnect")]);
    root.io.engine.close(); // as a network drop: not a client disconnect, so the manager reconnects
    const [[second]] = await back;
    const result = { first: first.sid, second: second.sid, id: root.id, chatId: chat.id,
                     echo: await ack(chat, "echo", "again") };
    root.close();
    chat.close();
    return result;
  },

  // a 2.x client on polling, a 2.x client on WebSocket and a 4.x client in one room:
  // each sees the others' broadcasts, text and binary
  async mixed() {
    const a = v2("", { transports: ["polling"] });
    const b = v2("", { transports: ["websocket"] });
    const c = ioV4(url, { forceNew: true, reconnection: false });
    await Promise.all([once(a, "welcome"), once(b, "welcome"), once(c, "welcome")]);
    for (const s of [a, b, c]) await ack(s, "join", "room");
    const seen = { a: [], b: [], c: [] };
    const expect = (s, key, n) => new Promise((resolve) => {
      s.on("room-msg", (data) => {
        seen[key].push(toJSON(data));
        if (seen[key].length === n) resolve();
      });
    });
    const all = Promise.all([expect(a, "a", 2), expect(b, "b", 2), expect(c, "c", 2)]);
    await ack(a, "to-room", "room", { from: "v2-polling" });
    await ack(b, "to-room", "room", { from: "v2-websocket", bytes: Buffer.from([7, 8]) });
    await ack(c, "to-room", "room", { from: "v4", bytes: Buffer.from([9]) });
    await all;
    for (const s of [a, b, c]) s.close();
    return seen;
  },

  // allow_eio3 off: the handshake is refused and the client never connects
  async refused() {
    const socket = v2("", { transports: ["polling"] });
    const [err] = await once(socket, "connect_error");
    socket.close();
    return { error: String(err && err.message), description: err && err.description };
  },
};

(scenarios[scenario] || (() => Promise.reject(new Error("unknown scenario " + scenario))))()
  .then(done)
  .catch(fail);
