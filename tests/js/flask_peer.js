// Two socket.io-client 4.8 peers against a flask_siothread app (tests/flask/test_real_clients.py).
// Usage: node flask_peer.js <url> <json options: {cookieA, cookieB, transports}>
// Prints one JSON object with what the peers observed, then exits.
"use strict";

const { io } = require("socket.io-client");

const [url, rawOpts] = process.argv.slice(2);
const opts = JSON.parse(rawOpts);
const transports = opts.transports || ["websocket"];

function done(result) {
  process.stdout.write(JSON.stringify(result) + "\n");
  process.exit(0);
}
setTimeout(() => done({ error: "scenario timed out" }), 25000);

function peer(cookie, auth) {
  const socket = io(url, { transports, extraHeaders: { Cookie: cookie }, auth, query: { x: "query-value" },
                           forceNew: true, reconnection: false });
  const welcome = new Promise((resolve, reject) => {
    socket.once("welcome", resolve);
    socket.once("connect_error", (err) => reject(new Error(err.message + " " + JSON.stringify(err.data))));
  });
  return { socket, welcome };
}

(async () => {
  const a = peer(opts.cookieA, { room: "lobby" });
  const b = peer(opts.cookieB, { room: "lobby" });
  const result = { welcomeA: await a.welcome, welcomeB: await b.welcome };
  // the server asks a question back (call() inside a handler) and acks with the answer
  a.socket.on("question", (text, ack) => ack("answer to " + text));
  const said = new Promise((resolve) => b.socket.once("said", resolve));
  const echoToSelf = new Promise((resolve) => {
    a.socket.once("said", (m) => resolve("A heard itself: " + JSON.stringify(m)));
    setTimeout(() => resolve(null), 500);
  });
  result.sayAck = await a.socket.timeout(3000).emitWithAck("say", "hello");
  result.said = await said;
  result.echoToSelf = await echoToSelf;
  result.asked = await a.socket.timeout(3000).emitWithAck("ask");
  const bin = await a.socket.timeout(3000).emitWithAck("bin", { raw: Buffer.from([1, 2, 255]) });
  result.bin = Array.from(bin.raw);
  const notice = new Promise((resolve) => b.socket.once("notice", resolve));
  const response = await fetch(url + "/notify?room=lobby", { headers: { Cookie: opts.cookieA } });
  result.notifyStatus = response.status;
  result.notice = await notice;
  const refused = io(url, { transports, auth: { room: "forbidden" }, forceNew: true, reconnection: false });
  result.refused = await new Promise((resolve) => refused.once("connect_error", (err) =>
    resolve({ message: err.message, data: err.data })));
  refused.close();

  // send() to the room, leave_room()/rooms(), a class-based namespace with its error handler
  const nextOrNothing = (socket, event, ms = 500) => new Promise((resolve) => {
    const timer = setTimeout(() => resolve(null), ms);
    socket.once(event, (m) => { clearTimeout(timer); resolve(m); });
  });
  const shouted = new Promise((resolve) => b.socket.once("message", resolve));
  const shoutedToSelf = nextOrNothing(a.socket, "message");
  a.socket.emit("shout", "hey");
  result.shouted = await shouted;
  result.shoutedToSelf = await shoutedToSelf;
  result.roomsAfterLeave = await a.socket.timeout(3000).emitWithAck("leave");
  const afterLeave = nextOrNothing(a.socket, "message");
  b.socket.emit("shout", "are you there?");
  result.afterLeave = await afterLeave;
  const tools = io(url + "/tools", { transports, extraHeaders: { Cookie: opts.cookieA }, forceNew: true,
                                     reconnection: false });
  const greeting = await new Promise((resolve) => tools.once("message", resolve));
  result.tools = { greeting, boom: await tools.timeout(3000).emitWithAck("boom") };
  tools.close();
  // close_room() from a handler: bob's room is emptied, nobody hears the next shout
  await b.socket.timeout(3000).emitWithAck("close", "lobby").catch(() => null);
  const closedRoom = nextOrNothing(b.socket, "message");
  const c = peer(opts.cookieA, { room: "lobby" });
  await c.welcome;
  c.socket.emit("shout", "anyone?");
  result.closedRoom = await closedRoom;
  c.socket.close();
  // disconnect() from a handler
  const byeReason = new Promise((resolve) => a.socket.once("disconnect", resolve));
  a.socket.emit("bye");
  result.byeReason = await byeReason;
  a.socket.close();
  b.socket.close();
  done(result);
})().catch((err) => done({ error: String(err && err.stack || err) }));
