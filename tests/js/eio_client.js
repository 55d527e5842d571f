// Drives the real engine.io-client against a siothread Engine.IO server.
//
// usage: node eio_client.js <url> <polling|websocket|upgrade> [options as JSON]
// options: { path, count, stay (ms to stay connected after the exchange), end: "client"|"server" }
//
// The client sends "hello", a Buffer [1,2,3] and `count` numbered "c:<i>" messages,
// and expects each back (the server echoes) plus the server's own stream "s:0".."s:<count-1>".
// Then it stays `stay` ms (heartbeats must keep it alive), and ends the session: it
// closes itself (end=client) or asks the server to ("close-me", end=server).
// One JSON object on stdout describes what happened.
"use strict";

const { Socket } = require("engine.io-client");

const [url, mode, rawOptions] = process.argv.slice(2);
const options = Object.assign({ path: "/engine.io/", count: 100, stay: 0, end: "client" },
  rawOptions ? JSON.parse(rawOptions) : {});
const transports = { polling: ["polling"], websocket: ["websocket"], upgrade: ["polling", "websocket"] }[mode];
if (!transports) {
  console.error("unknown mode " + mode);
  process.exit(2);
}

const result = {
  open: null, openTransport: null, upgraded: false, upgradeError: null, transports: [],
  texts: [], binaries: [], pings: 0, close: null, closedAfterExchange: false, errors: [],
};
const socket = new Socket(url, { path: options.path, transports, upgrade: mode === "upgrade" });
const expected = 2 + 2 * options.count; // hello + binary + c:* + s:*
let received = 0;
let finished = false;

const guard = setTimeout(() => finish("timeout"), 15000);

function finish(why) {
  if (finished) return;
  finished = true;
  clearTimeout(guard);
  result.finish = why;
  process.stdout.write(JSON.stringify(result) + "\n");
  try { socket.close(); } catch (e) { /* already closed */ }
  setTimeout(() => process.exit(0), 50);
}

function exchangeDone() {
  result.transports.push(socket.transport.name);
  setTimeout(() => {
    result.closedAfterExchange = result.close !== null;
    result.transports.push(socket.transport.name);
    if (options.end === "server") {
      socket.send("close-me"); // the close event finishes
    } else {
      socket.close();
      setTimeout(() => finish("client closed"), 100);
    }
  }, options.stay);
}

socket.on("open", () => {
  result.open = { sid: socket.id };
  result.openTransport = socket.transport.name;
  socket.send("hello");
  socket.send(Buffer.from([1, 2, 3]));
  for (let i = 0; i < options.count; i++) socket.send("c:" + i);
});
socket.on("upgrade", (transport) => { result.upgraded = transport.name; });
socket.on("upgradeError", (err) => { result.upgradeError = String(err && err.message); });
socket.on("ping", () => { result.pings++; });
socket.on("error", (err) => { result.errors.push(String(err && err.message)); });
socket.on("message", (data) => {
  if (typeof data === "string") {
    result.texts.push(data);
  } else {
    result.binaries.push(Array.from(Buffer.from(data)));
  }
  received++;
  if (received === expected) exchangeDone();
});
socket.on("close", (reason, description) => {
  result.close = reason;
  if (options.end === "server" || received < expected) finish("closed: " + reason);
});
