// N socket.io-client receivers on node B and one trigger client on node A.
// node receivers.js '{"a": URL_A, "b": URL_B, "clients": N, "count": M, "rate": R}'
// Prints one JSON line: deliveries, seconds, deliveries/s, latency p50/p99 (ms, publish to delivery).
const path = require("path");
const { io } = require(path.join(__dirname, "..", "..", "tests", "js", "node_modules", "socket.io-client"));

const cfg = JSON.parse(process.argv[2]);
const expected = cfg.clients * cfg.count;
const latencies = [];
let received = 0, first = 0, last = 0;

function connect(url) {
  return new Promise((resolve, reject) => {
    const s = io(url, { transports: ["websocket"], forceNew: true, reconnection: false });
    s.on("connect", () => resolve(s));
    s.on("connect_error", reject);
  });
}

(async () => {
  const receivers = [];
  for (let i = 0; i < cfg.clients; i++) receivers.push(await connect(cfg.b));
  const trigger = await connect(cfg.a);
  let done;
  const finished = new Promise((resolve) => { done = resolve; });
  for (const s of receivers) {
    s.on("tick", ([ts]) => {
      const now = Date.now();
      if (!first) first = now;
      last = now;
      latencies.push(now - ts);
      if (++received === expected) done();
    });
  }
  await new Promise((r) => setTimeout(r, 500));
  const started = Date.now();
  trigger.emit("fire", { count: cfg.count, rate: cfg.rate });
  const timeout = new Promise((resolve) => setTimeout(resolve, cfg.timeout || 60000));
  await Promise.race([finished, timeout]);
  latencies.sort((x, y) => x - y);
  const q = (p) => (latencies.length ? latencies[Math.min(latencies.length - 1, Math.floor(p * latencies.length))] : null);
  const seconds = ((last || Date.now()) - started) / 1000;
  console.log(JSON.stringify({ expected, received, seconds, rate: received / seconds, p50: q(0.5), p99: q(0.99) }));
  for (const s of [...receivers, trigger]) s.disconnect();
  process.exit(0);
})().catch((err) => { console.error(err); process.exit(1); });
