// The patterns of python-socketio's sync examples, driven by the real socket.io-client 4.8
// against tests/deploy/deploy_app.py under one WSGI server.
// Usage: node deploy_examples.js <url> [json options]   (options: transports, expectUpgrade)
// Prints one JSON object with what the clients observed, then exits.
"use strict";

const { io } = require("socket.io-client");

const [url, rawOpts] = process.argv.slice(2);
const opts = rawOpts ? JSON.parse(rawOpts) : {};
const clientOpts = { reconnection: false, forceNew: true, timeout: 5000 };
if (opts.transports) clientOpts.transports = opts.transports;

function done(result) {
  process.stdout.write(JSON.stringify(result) + "\n");
  process.exit(0);
}

setTimeout(() => done({ error: "scenario timed out" }), opts.deadline || 20000);

function connect(auth) {
  const socket = io(url, { ...clientOpts, auth });
  const inbox = [];
  socket.on("my_response", (msg) => inbox.push(msg.data));
  return new Promise((resolve, reject) => {
    socket.once("connect", () => resolve({ socket, inbox }));
    socket.once("connect_error", (err) => reject(err));
  });
}

function until(predicate, what, ms = 5000) {
  return new Promise((resolve, reject) => {
    const start = Date.now();
    const tick = () => {
      if (predicate()) return resolve();
      if (Date.now() - start > ms) return reject(new Error("waiting for " + what));
      setTimeout(tick, 10);
    };
    tick();
  });
}

function once(socket, event) {
  return new Promise((resolve) => socket.once(event, (...args) => resolve(args)));
}

async function main() {
  const out = {};
  // the page starts the background task (the examples start it from the index view)
  out.page = (await fetch(url + "/")).status;

  const helloA = [];
  const a = io(url, { ...clientOpts, auth: { token: "my-token" } });
  a.on("hello", (...args) => helloA.push(args));
  const inboxA = [];
  a.on("my_response", (msg) => inboxA.push(msg.data));
  await new Promise((resolve, reject) => {
    a.once("connect", resolve);
    a.once("connect_error", reject);
  });
  const { socket: b, inbox: inboxB } = await connect(undefined);

  if (opts.expectUpgrade) {
    if (a.io.engine.transport.name !== "websocket") await once(a.io.engine, "upgrade");
  } else {
    await new Promise((r) => setTimeout(r, 300));  // time an (unexpected) upgrade would take
  }
  out.transport = a.io.engine.transport.name;

  await until(() => inboxA.includes("Connected") && helloA.length === 1, "connect greeting");
  out.hello = helloA[0];

  // echo
  a.emit("my_event", { data: "echo me" });
  await until(() => inboxA.includes("echo me"), "echo");
  // latency ping-pong, a few rounds
  const rtts = [];
  for (let i = 0; i < 5; i++) {
    const t0 = Date.now();
    a.emit("ping_from_client");
    await once(a, "pong_from_server");
    rtts.push(Date.now() - t0);
  }
  out.pongs = rtts.length;
  // broadcast
  a.emit("my_broadcast_event", { data: "to everyone" });
  await until(() => inboxA.includes("to everyone") && inboxB.includes("to everyone"), "broadcast");
  // join, send to room, leave
  a.emit("join", { room: "r1" });
  b.emit("join", { room: "r1" });
  await until(() => inboxA.includes("Entered room: r1") && inboxB.includes("Entered room: r1"), "join");
  b.emit("my_room_event", { data: "in r1", room: "r1" });
  await until(() => inboxA.includes("in r1") && inboxB.includes("in r1"), "room event");
  b.emit("leave", { room: "r1" });
  await until(() => inboxB.includes("Left room: r1"), "leave");
  a.emit("my_room_event", { data: "after leave", room: "r1" });
  await until(() => inboxA.includes("after leave"), "room event after leave");
  // close room: everyone in it hears it is closing, then nobody is in it
  b.emit("join", { room: "r2" });
  await until(() => inboxB.includes("Entered room: r2"), "join r2");
  a.emit("close_room", { room: "r2" });
  await until(() => inboxB.includes("Room r2 is closing."), "close room");
  a.emit("my_room_event", { data: "to a closed room", room: "r2" });
  a.emit("my_event", { data: "marker" });
  await until(() => inboxA.includes("marker"), "marker");
  await new Promise((r) => setTimeout(r, 200));
  out.bAfterLeave = inboxB.includes("after leave");
  out.bAfterClose = inboxB.includes("to a closed room");
  // the background task's event (DEPLOY_TICK is short in the tests)
  await until(() => inboxA.includes("Server generated event"), "background event", 8000);
  out.background = true;
  // disconnect requested by the client, done by the server
  const reason = once(b, "disconnect");
  b.emit("disconnect_request");
  out.disconnectReason = (await reason)[0];
  out.transportAtEnd = a.io.engine.transport.name;
  a.disconnect();
  out.ok = true;
  done(out);
}

main().catch((err) => done({ error: String(err && err.message ? err.message : err) }));
