// socket.io-client 4.8 against a server of several worker processes.
// Usage: node workers_client.js <url> <json options>
// options: transports, clients (default 2), messages (acked echoes per client, default 20),
// freshConnections (agent: false: a new TCP connection for every HTTP request).
// Prints one JSON object: per client its sid, transport, the worker answering whoami before and
// after the echoes, and whether every echo came back in order.
"use strict";

const { io } = require("socket.io-client");

const [url, rawOpts] = process.argv.slice(2);
const opts = rawOpts ? JSON.parse(rawOpts) : {};

function done(result, code = 0) {
  process.stdout.write(JSON.stringify(result) + "\n");
  process.exit(code);
}

let stage = "start"; // where a scenario is, for the timeout report
setTimeout(() => done({ error: `timed out at ${stage}` }, 1), opts.deadline || (opts.duration || 0) + 20000);

function ack(socket, event, ...args) {
  return new Promise((resolve, reject) =>
    socket.timeout(5000).emit(event, ...args, (err, ...res) => (err ? reject(err) : resolve(res)))
  );
}

async function runClient(i) {
  const socket = io(url, {
    transports: opts.transports || ["polling", "websocket"],
    reconnection: false,
    forceNew: true,
    agent: opts.freshConnections ? false : undefined,
  });
  await new Promise((resolve, reject) => {
    socket.once("connect", resolve);
    socket.once("connect_error", reject);
  });
  const before = (await ack(socket, "whoami"))[0];
  const sent = [];
  const echoes = [];
  for (let k = 0; k < (opts.messages || 20); k++) {
    const payload = { client: i, k, text: "m".repeat(k % 7) };
    sent.push(payload);
    // in flight together: their acks must come back in order
    echoes.push(ack(socket, "echo", payload).then((res) => res[0]));
  }
  const got = await Promise.all(echoes);
  if (opts.transports && opts.transports.length > 1) {
    // polling then upgrade: wait for the upgrade before the last whoami
    for (let t = 0; t < 50 && socket.io.engine.transport.name !== "websocket"; t++) {
      await new Promise((r) => setTimeout(r, 100));
    }
  }
  const after = (await ack(socket, "whoami"))[0];
  const result = {
    sid: socket.io.engine.id,
    transport: socket.io.engine.transport.name,
    before,
    after,
    inOrder: JSON.stringify(got) === JSON.stringify(sent),
  };
  socket.disconnect();
  return result;
}

// Traffic mode (opts.duration ms): every client echoes every opts.interval ms with reconnection
// on, while the test kills or reloads workers. Prints {"ready": true} once all are connected, then
// what each saw: acks, failures, disconnect reasons, reconnects, the workers that held it.
async function trafficClient(i) {
  const socket = io(url, {
    transports: opts.transports || ["polling", "websocket"],
    forceNew: true,
    reconnectionDelay: 100,
    reconnectionDelayMax: 500,
    agent: opts.freshConnections ? false : undefined,
  });
  const seen = { acked: 0, failed: 0, reasons: [], connects: 0, workers: [] };
  socket.on("disconnect", (reason) => seen.reasons.push(reason));
  socket.on("connect", () => {
    seen.connects++;
    ack(socket, "whoami").then(([w]) => seen.workers.push(w.pid), () => {});
  });
  await new Promise((resolve) => socket.once("connect", resolve));
  return { socket, seen, i };
}

async function traffic() {
  const clients = await Promise.all(Array.from({ length: opts.clients || 2 }, (_, i) => trafficClient(i)));
  await new Promise((r) => setTimeout(r, 300)); // the whoami of every first connect
  process.stdout.write(JSON.stringify({ ready: true, workers: clients.map((c) => c.seen.workers[0]) }) + "\n");
  const end = Date.now() + opts.duration;
  await Promise.all(clients.map(async ({ socket, seen, i }) => {
    for (let k = 0; Date.now() < end; k++) {
      const payload = { i, k };
      await ack(socket, "echo", payload).then(
        ([res]) => { if (JSON.stringify(res) === JSON.stringify(payload)) seen.acked++; else seen.failed++; },
        () => { seen.failed++; });
      await new Promise((r) => setTimeout(r, opts.interval || 20));
    }
  }));
  await new Promise((r) => setTimeout(r, 300));
  for (const c of clients) c.socket.disconnect();
  done({ clients: clients.map((c) => c.seen) });
}

// Cluster mode (opts.cluster): the clients join one room, wherever their sessions live; client 0
// shouts to it, asks it with acks, counts it, asks the other servers, then kicks the room.
// opts.urls: client i connects to urls[i % urls.length] (servers of one cluster), else to url.
async function cluster() {
  stage = "connect";
  const urls = opts.urls || [url];
  const sockets = await Promise.all(Array.from({ length: opts.clients || 4 }, async (_, i) => {
    const socket = io(urls[i % urls.length], {
      transports: opts.transports || ["websocket"], reconnection: false, forceNew: true,
      agent: opts.freshConnections ? false : undefined,
    });
    await new Promise((resolve, reject) => {
      socket.once("connect", resolve);
      socket.once("connect_error", reject);
    });
    socket.news = new Promise((resolve) => socket.once("news", resolve));
    socket.kicked = new Promise((resolve) => socket.once("disconnect", resolve));
    socket.on("question", (q, cb) => cb({ me: socket.id, q }));
    socket.worker = (await ack(socket, "whoami"))[0].pid;
    socket.sid = socket.id; // socket.id is cleared by the disconnect
    await ack(socket, "join", "room");
    return socket;
  }));
  const first = sockets[0];
  stage = "shout";
  await ack(first, "shout", "room", "hello all");
  const news = await Promise.all(sockets.map((s) => s.news));
  stage = "poll_room";
  const polled = (await ack(first, "poll_room", "room"))[0];
  stage = "count";
  const counted = (await ack(first, "count", "room"))[0];
  stage = "tell_servers";
  const servers = (await ack(first, "tell_servers"))[0];
  stage = "kick";
  await ack(first, "kick", "room").catch(() => null); // the kick may beat the ack
  const kicked = await Promise.all(sockets.map((s) => s.kicked));
  done({
    ids: sockets.map((s) => s.sid), workers: sockets.map((s) => s.worker), news, polled, counted, servers, kicked,
  });
}

(opts.cluster ? cluster() : opts.duration ? traffic() : Promise.all(Array.from({ length: opts.clients || 2 }, (_, i) => runClient(i)))
  .then((clients) => done({ clients })))
  .catch((err) => done({ error: String(err && err.message ? err.message : err) }, 1));
