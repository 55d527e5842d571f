// N raw Engine.IO/Socket.IO WebSocket receivers on node B and one trigger connection on node A.
// node receivers.js '{"a": URL_A, "b": URL_B, "clients": N, "count": M, "rate": R}'
// Prints one JSON line: deliveries, seconds, deliveries/s, latency p50/p99 (ms, publish to delivery).
// Raw frames on the `ws` package (as benchmarks/loadgen.js does) so the receivers cost little
// next to the servers; the protocol is the same one socket.io-client speaks.
const path = require("path");
const WebSocket = require(path.join(__dirname, "..", "..", "tests", "js", "node_modules", "ws"));

const cfg = JSON.parse(process.argv[2]);
const expected = cfg.clients * cfg.count;
const latencies = [];
let received = 0, last = 0, done = () => {};

function connect(url, onEvent) {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url.replace(/^http/, "ws") + "/socket.io/?EIO=4&transport=websocket");
    ws.on("message", (raw) => {
      const text = raw.toString();
      if (text[0] === "0") ws.send("40");
      else if (text === "2") ws.send("3");
      else if (text.startsWith("40")) resolve(ws);
      else if (text.startsWith("42")) onEvent(text);
    });
    ws.on("error", reject);
  });
}

// The throughput run only counts (the receivers must cost as little as possible); the paced
// latency run parses each tick for its publish time.
function onTick(text) {
  const now = Date.now();
  if (cfg.rate) {
    const [, [ts]] = JSON.parse(text.slice(2));
    latencies.push(now - ts);
  }
  last = now;
  if (++received === expected) done();
}

(async () => {
  const receivers = [];
  for (let i = 0; i < cfg.clients; i++) receivers.push(await connect(cfg.b, onTick));
  const trigger = await connect(cfg.a, () => {});
  const finished = new Promise((resolve) => { done = resolve; });
  await new Promise((r) => setTimeout(r, 500));
  const started = Date.now();
  trigger.send("42" + JSON.stringify(["fire", { count: cfg.count, rate: cfg.rate }]));
  const timeout = new Promise((resolve) => setTimeout(resolve, cfg.timeout || 60000));
  await Promise.race([finished, timeout]);
  latencies.sort((x, y) => x - y);
  const q = (p) => (latencies.length ? latencies[Math.min(latencies.length - 1, Math.floor(p * latencies.length))] : null);
  const seconds = ((last || Date.now()) - started) / 1000;
  console.log(JSON.stringify({ expected, received, seconds, rate: received / seconds, p50: q(0.5), p99: q(0.99) }));
  for (const ws of [...receivers, trigger]) ws.terminate();
  process.exit(0);
})().catch((err) => { console.error(err); process.exit(1); });
