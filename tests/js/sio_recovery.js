// Connection-state recovery driven by the real socket.io-client 4.8 against a siothread server.
// Usage: node sio_recovery.js <url> <scenario> [json options]
// Prints one JSON object with what the client observed, then exits.
// The server side is built by tests/integration/socketio/test_recovery.py (recovery_app).
//
// Scenarios:
//   recover          receive ticks, ask the server to drop the transport ("drop"), reconnect
//   zero_event       drop the transport before any event was received, reconnect
//   client_disconnect  socket.disconnect() then socket.connect(): a new session
//   forged           first connection with a made-up pid/offset; then one with another client's pid, altered
"use strict";

const { io } = require("socket.io-client");
const { done, fail } = require("./scenario");

const [url, scenario, rawOpts] = process.argv.slice(2);
const opts = rawOpts ? JSON.parse(rawOpts) : {};

setTimeout(() => fail("scenario timed out"), opts.deadline || 10000);

function client(extra) {
  return io(url, {
    transports: opts.transports || ["websocket"],
    reconnectionDelay: opts.reconnectionDelay || 300,
    reconnectionDelayMax: opts.reconnectionDelay || 300,
    randomizationFactor: 0,
    forceNew: true,
    ...extra,
  });
}

function nextConnect(socket) {
  return new Promise((resolve, reject) => {
    socket.once("connect", () => resolve({ id: socket.id, recovered: socket.recovered }));
    socket.once("connect_error", reject);
  });
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

function record(socket) {
  // every event with its arguments; the offset (a string) arrives as the extra last argument
  const events = [];
  socket.onAny((event, ...args) => events.push([event, ...args]));
  return events;
}

async function recover() {
  const socket = client();
  const events = record(socket);
  const first = await nextConnect(socket);
  await socket.emitWithAck("start", 3); // the server emits tick 0..2 to the room, then acks
  const reconnected = nextConnect(socket);
  const disconnectReason = new Promise((resolve) => socket.once("disconnect", resolve));
  socket.emit("drop");
  const reason = await disconnectReason;
  const second = await reconnected;
  const state = await socket.emitWithAck("state");
  await sleep(100);
  socket.disconnect();
  done({ first, second, reason, state, events });
}

async function zeroEvent() {
  const socket = client();
  const events = record(socket);
  const first = await nextConnect(socket);
  const reconnected = nextConnect(socket);
  socket.emit("drop_quiet");
  const second = await reconnected;
  const state = await socket.emitWithAck("state");
  await sleep(100);
  socket.disconnect();
  done({ first, second, state, events, sentOffset: socket._lastOffset || null });
}

async function clientDisconnect() {
  const socket = client();
  const events = record(socket);
  const first = await nextConnect(socket);
  await socket.emitWithAck("start", 1);
  socket.disconnect();
  const again = nextConnect(socket);
  socket.connect();
  const second = await again;
  const state = await socket.emitWithAck("state");
  socket.disconnect();
  done({ first, second, state, events });
}

async function forged() {
  // 1. a made-up pid and offset on the first connection
  const made = client({ auth: { pid: "AAAAAAAAAAAAAAAAAAAAAAAA", offset: "1" } });
  const madeUp = await nextConnect(made);
  // 2. a real client's pid with one character changed, presented after it lost its connection
  const victim = client();
  const victimFirst = await nextConnect(victim);
  await victim.emitWithAck("start", 1);
  const pid = victim._pid;
  const altered = (pid[0] === "A" ? "B" : "A") + pid.slice(1);
  victim.io.opts.reconnection = false;
  const gone = new Promise((resolve) => victim.once("disconnect", resolve));
  victim.emit("drop");
  await gone;
  const thief = client({ auth: { pid: altered, offset: victim._lastOffset } });
  const thiefConnect = await nextConnect(thief);
  const thiefState = await thief.emitWithAck("state");
  made.disconnect();
  thief.disconnect();
  done({ madeUp, victimFirst, thiefConnect, thiefState, victimId: victimFirst.id });
}

const scenarios = { recover, zero_event: zeroEvent, client_disconnect: clientDisconnect, forged };
if (!scenarios[scenario]) fail("unknown scenario " + scenario);
scenarios[scenario]().catch((err) => fail(err && err.stack ? err.stack : err));
