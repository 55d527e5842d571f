'use strict';
// Raw-protocol load generator for the Socket.IO benchmarks.
//
// It speaks Engine.IO v4 / Socket.IO v5 directly on top of `net` sockets: a
// minimal WebSocket client (frames prebuilt and pre-masked once per message
// shape, server frames parsed in place, the first bytes of a payload are
// enough to classify it) and a minimal keep-alive HTTP/1.1 client for
// long-polling. No npm dependency, no JSON on the hot path, so a connection
// costs the generator a few hundred bytes and a message a few microseconds:
// the server under test is the bottleneck. The generator measures its own CPU
// (process.cpuUsage) and the server's (/proc/<pid>/stat) over the measured
// window and prints one JSON line with the result.
//
// Usage: node loadgen.js '<json config>'   (see benchmarks/run.py for the keys)

const net = require('net');
const fs = require('fs');
const { performance } = require('perf_hooks');

const cfg = Object.assign({
  host: '127.0.0.1',
  path: '/socket.io/',
  clients: 10,
  duration: 2,
  warmup: 0.5,
  size: 16,
  binary: false,
  window: 4,
  total: 100,
  concurrency: 50,
  connectConcurrency: 100,
  settle: 2,
  timeout: 300,
  serverPid: 0,
  clkTck: 100,
}, JSON.parse(process.argv[2] || '{}'));

const errors = [];
function fail(msg) {
  if (errors.length < 20) errors.push(String(msg));
}

// ---------------------------------------------------------------- utilities
const MASK = Buffer.from([0x5a, 0x13, 0xc7, 0x2e]);

function wsFrame(opcode, payload) {
  if (typeof payload === 'string') payload = Buffer.from(payload, 'utf8');
  const len = payload.length;
  let h;
  if (len < 126) h = 6; else if (len < 65536) h = 8; else h = 14;
  const out = Buffer.allocUnsafe(h + len);
  out[0] = 0x80 | opcode;
  if (len < 126) {
    out[1] = 0x80 | len;
  } else if (len < 65536) {
    out[1] = 0x80 | 126;
    out.writeUInt16BE(len, 2);
  } else {
    out[1] = 0x80 | 127;
    out.writeUInt32BE(Math.floor(len / 2 ** 32), 2);
    out.writeUInt32BE(len >>> 0, 6);
  }
  MASK.copy(out, h - 4);
  for (let i = 0; i < len; i++) out[h + i] = payload[i] ^ MASK[i & 3];
  return out;
}

const READ_BUFFER = Buffer.allocUnsafe(256 * 1024);
const textFrame = (s) => wsFrame(1, s);
const PONG = textFrame('3');
const SIO_CONNECT = textFrame('40');
const CLOSE = wsFrame(8, Buffer.from([0x03, 0xe8]));

function readServerCpu() {
  // cfg.serverPids: a server of several processes (its workers), summed
  const pids = cfg.serverPids || (cfg.serverPid ? [cfg.serverPid] : []);
  if (!pids.length) return null;
  try {
    let total = 0;
    for (const pid of pids) {
      const stat = fs.readFileSync(`/proc/${pid}/stat`, 'latin1');
      const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      total += (Number(f[11]) + Number(f[12])) / cfg.clkTck; // utime + stime, seconds
    }
    return total;
  } catch (e) {
    return null;
  }
}

// Busy CPU time of the whole machine (seconds), to tell how much other
// processes used during the window: a benchmark on a shared machine is only
// meaningful when that is close to zero.
function readBusyCpu() {
  try {
    const f = fs.readFileSync('/proc/stat', 'latin1').split('\n', 1)[0].trim().split(/\s+/).map(Number);
    // cpu user nice system idle iowait irq softirq steal
    return (f[1] + f[2] + f[3] + f[6] + f[7] + f[8]) / cfg.clkTck;
  } catch (e) {
    return null;
  }
}

function readServerRss() {
  const status = fs.readFileSync(`/proc/${cfg.serverPid}/status`, 'latin1');
  const m = /VmRSS:\s+(\d+) kB/.exec(status);
  return Number(m[1]);
}

// Latency histogram: 10 us buckets up to 2 s.
class Histogram {
  constructor() { this.b = new Uint32Array(200001); this.n = 0; }
  add(ms) {
    let i = Math.round(ms * 100);
    if (i > 200000) i = 200000;
    this.b[i]++;
    this.n++;
  }
  q(p) {
    if (!this.n) return null;
    const want = Math.ceil(this.n * p);
    let acc = 0;
    for (let i = 0; i < this.b.length; i++) {
      acc += this.b[i];
      if (acc >= want) return i / 100;
    }
    return null;
  }
}

// Measurement window: counts only between begin() and end().
const meter = {
  on: false, count: 0, bytes: 0, hist: new Histogram(), t0: 0, t1: 0, cpu0: null, srv0: null,
  begin() {
    this.count = 0; this.bytes = 0; this.hist = new Histogram();
    this.cpu0 = process.cpuUsage(); this.srv0 = readServerCpu(); this.busy0 = readBusyCpu();
    this.t0 = performance.now(); this.on = true;
  },
  end() {
    this.on = false;
    this.t1 = performance.now();
    const cpu = process.cpuUsage(this.cpu0);
    const srv1 = readServerCpu();
    const busy1 = readBusyCpu();
    const secs = (this.t1 - this.t0) / 1000;
    this.secs = secs;
    this.genCpu = (cpu.user + cpu.system) / 1e6 / secs;
    this.serverCpu = this.srv0 === null || srv1 === null ? null : (srv1 - this.srv0) / secs;
    this.otherCpu = this.busy0 === null || busy1 === null || this.serverCpu === null ? null
      : Math.max(0, (busy1 - this.busy0) / secs - this.genCpu - this.serverCpu);
  },
};

// --------------------------------------------------------- WebSocket client
let liveSockets = 0;
let stopping = false;

class WsClient {
  // handlers: onOpen(client) after the Socket.IO CONNECT is acknowledged,
  // onEvent(client, payload) for `42...`, onAck(client, payload) for `43...`,
  // onBinary(client, payload) for binary frames (attachments).
  constructor(handlers, query) {
    this.h = handlers;
    this.query = query || '';
    this.pend = [];
    this.pendLen = 0;
    this.need = 0;
    this.handshaken = false;
    this.frag = null;
    this.fragOp = 0;
    this.closedByUs = false;
    this.connected = false;
    this.sock = null;
  }

  connect() {
    // `onread` hands every read to us in one shared buffer, skipping the
    // stream machinery; whatever must outlive the callback is copied.
    const sock = net.connect({
      host: cfg.host,
      port: cfg.port,
      onread: { buffer: READ_BUFFER, callback: (n, buf) => { this.onData(buf.subarray(0, n), true); } },
    });
    this.sock = sock;
    liveSockets++;
    sock.setNoDelay(true);
    sock.on('connect', () => {
      sock.write(
        `GET ${cfg.path}?EIO=4&transport=websocket${this.query} HTTP/1.1\r\n` +
        `Host: ${cfg.host}:${cfg.port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
        'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n');
    });
    sock.on('error', (e) => {
      if (!this.closedByUs && !stopping) fail(`socket error: ${e.code || e.message}`);
    });
    sock.on('close', () => {
      liveSockets--;
      if (!this.closedByUs && !stopping) fail('connection closed by server');
      if (this.h.onClose) this.h.onClose(this);
    });
  }

  send(frame) { this.sock.write(frame); }

  close() {
    this.closedByUs = true;
    if (this.sock.writable) this.sock.end(CLOSE);
  }

  destroy() {
    this.closedByUs = true;
    this.sock.destroy();
  }

  onData(chunk, shared) {
    if (this.pendLen) {
      this.pend.push(shared ? Buffer.from(chunk) : chunk);
      this.pendLen += chunk.length;
      if (this.pendLen < this.need) return;
      chunk = Buffer.concat(this.pend, this.pendLen);
      this.pend = [];
      this.pendLen = 0;
    }
    let off = 0;
    if (!this.handshaken) {
      const end = chunk.indexOf('\r\n\r\n');
      if (end < 0) {
        this.pend.push(Buffer.from(chunk)); this.pendLen = chunk.length; this.need = chunk.length + 1;
        return;
      }
      const head = chunk.toString('latin1', 0, end);
      if (!head.startsWith('HTTP/1.1 101')) {
        fail(`handshake refused: ${head.split('\r\n')[0]}`);
        this.destroy();
        return;
      }
      this.handshaken = true;
      off = end + 4;
    }
    const n = chunk.length;
    let need = 0;
    for (;;) {
      const avail = n - off;
      if (avail < 2) { need = 2; break; }
      const b0 = chunk[off];
      let plen = chunk[off + 1] & 0x7f;
      let h = 2;
      if (plen === 126) {
        if (avail < 4) { need = 4; break; }
        plen = chunk.readUInt16BE(off + 2); h = 4;
      } else if (plen === 127) {
        if (avail < 10) { need = 10; break; }
        plen = chunk.readUInt32BE(off + 2) * 2 ** 32 + chunk.readUInt32BE(off + 6); h = 10;
      }
      if (avail < h + plen) { need = h + plen; break; }
      const payload = chunk.subarray(off + h, off + h + plen);
      off += h + plen;
      this.onFrame(b0, payload);
    }
    if (off < n) {
      this.pend.push(Buffer.from(chunk.subarray(off)));
      this.pendLen = n - off;
      this.need = need;
    }
  }

  onFrame(b0, payload) {
    let op = b0 & 0x0f;
    if (op >= 8) {
      if (op === 9) this.send(wsFrame(10, payload));
      else if (op === 8 && !this.closedByUs) {
        if (!stopping) fail(`server sent close ${payload.length >= 2 ? payload.readUInt16BE(0) : ''}`);
        this.closedByUs = true;
        this.sock.end();
      }
      return;
    }
    if (!(b0 & 0x80)) { // fragment
      payload = Buffer.from(payload);
      if (op !== 0) { this.fragOp = op; this.frag = [payload]; } else this.frag.push(payload);
      return;
    }
    if (op === 0) {
      this.frag.push(Buffer.from(payload));
      payload = Buffer.concat(this.frag);
      op = this.fragOp;
      this.frag = null;
    }
    if (op === 2) { this.h.onBinary(this, payload); return; }
    const c = payload[0];
    if (c === 0x34) { // '4' message
      const s = payload[1];
      if (s === 0x32) this.h.onEvent(this, payload); // '2' EVENT
      else if (s === 0x33) this.h.onAck(this, payload); // '3' ACK
      else if (s === 0x35) this.h.onEvent(this, payload); // '5' BINARY_EVENT header
      else if (s === 0x36) this.h.onAck(this, payload); // '6' BINARY_ACK header
      else if (s === 0x30) { this.connected = true; this.h.onOpen(this); } // '0' CONNECT ok
      else if (s === 0x34) fail(`connect_error: ${payload.toString()}`);
      else if (s === 0x31) fail('server disconnected the namespace');
    } else if (c === 0x32) { // '2' ping
      this.send(PONG);
      if (this.h.onPing) this.h.onPing(this);
    } else if (c === 0x30) { // '0' open
      this.send(SIO_CONNECT);
    } else if (c === 0x31) { // '1' close
      if (!stopping) fail('engine.io close from server');
    }
  }
}

// Open `n` WebSocket clients with at most `cfg.connectConcurrency` handshakes in flight;
// resolves with the clients once every one of them is connected to the namespace.
function openClients(n, handlers) {
  return new Promise((resolve) => {
    const clients = [];
    let started = 0;
    let done = 0;
    const wrapped = Object.assign({}, handlers, {
      onOpen(c) {
        done++;
        if (started < n) startOne();
        if (handlers.onOpen) handlers.onOpen(c);
        if (done === n) resolve(clients);
      },
    });
    function startOne() {
      const c = new WsClient(wrapped);
      c.index = started++;
      clients.push(c);
      c.connect();
    }
    const first = Math.min(n, cfg.connectConcurrency);
    for (let i = 0; i < first; i++) startOne();
    if (n === 0) resolve(clients);
  });
}

const sleep = (s) => new Promise((r) => setTimeout(r, s * 1000));

async function measure(run) {
  await sleep(cfg.warmup);
  meter.begin();
  await sleep(cfg.duration);
  meter.end();
  run.active = false;
}

function noop() {}

// -------------------------------------------------------------- scenarios
const scenarios = {};

function payloadString(size) {
  const alphabet = 'abcdefghijklmnopqrstuvwxyz0123456789';
  let s = '';
  while (s.length < size) s += alphabet;
  return s.slice(0, size);
}

// Closed-loop echo: each client keeps one message in flight.
async function closedLoopWs(makeFrame, isReply, bytesPerTrip) {
  const run = { active: true };
  const handlers = {
    onEvent(c, p) { if (isReply(c, p, 'event')) done(c); },
    onAck(c, p) { if (isReply(c, p, 'ack')) done(c); },
    onBinary(c, p) { if (isReply(c, p, 'binary')) done(c); },
  };
  function done(c) {
    if (meter.on) {
      meter.count++;
      meter.bytes += bytesPerTrip;
      meter.hist.add(performance.now() - c.t);
    }
    if (run.active) fire(c);
  }
  function fire(c) {
    c.t = performance.now();
    c.send(makeFrame(c));
  }
  const clients = await openClients(cfg.clients, handlers);
  for (const c of clients) fire(c);
  await measure(run);
  return { clients, result: {} };
}

scenarios.echo = () => {
  const frame = textFrame(`42["echo","${payloadString(cfg.size)}"]`);
  return closedLoopWs(() => frame, (c, p, kind) => kind === 'event', cfg.size);
};

scenarios.big = () => {
  if (cfg.binary) {
    // BINARY_EVENT header + one attachment, written in one go
    const data = Buffer.alloc(cfg.size, 0xab);
    const frame = Buffer.concat([
      textFrame('451-["echo",{"_placeholder":true,"num":0}]'), wsFrame(2, data)]);
    return closedLoopWs(() => frame, (c, p, kind) => kind === 'binary' && p.length === cfg.size, cfg.size);
  }
  const msg = `42["echo","${payloadString(cfg.size)}"]`;
  const frame = textFrame(msg);
  const want = Buffer.byteLength(msg);
  return closedLoopWs(() => frame, (c, p, kind) => kind === 'event' && p.length === want, cfg.size);
};

scenarios.ack = () => {
  const body = `["ack","${payloadString(cfg.size)}"]`;
  return closedLoopWs((c) => {
    c.ackId = (c.ackId || 0) + 1;
    return textFrame(`42${c.ackId}${body}`);
  }, (c, p, kind) => kind === 'ack', cfg.size);
};

scenarios.broadcast = async () => {
  // Every client joins room "bench" (ack-confirmed); client 0 sends
  // `broadcast` events with a sequence number and keeps `window` broadcasts in
  // flight; one completes when every member has received it.
  const RING = 4096;
  const got = new Uint32Array(RING);
  const run = { active: true };
  let seq = 0;
  let completed = 0;
  let joined = 0;
  let sender = null;
  let lastProgress = performance.now();
  const n = cfg.clients;
  const PREFIX = '42["broadcast",'.length;
  let resolveJoined;
  const allJoined = new Promise((r) => { resolveJoined = r; });
  function send() {
    const s = seq++;
    got[s % RING] = 0;
    sender.send(textFrame(`42["broadcast",${s}]`));
  }
  const handlers = {
    onOpen(c) { c.send(textFrame('420["join"]')); },
    onAck(c, p) { if (++joined === n) resolveJoined(); },
    onEvent(c, p) {
      let s = 0;
      for (let i = PREFIX; i < p.length; i++) {
        const d = p[i] - 48;
        if (d < 0 || d > 9) break;
        s = s * 10 + d;
      }
      if (meter.on) meter.count++;
      if (++got[s % RING] === n) {
        completed++;
        lastProgress = performance.now();
        if (run.active) send();
      }
    },
    onBinary: noop,
  };
  const clients = await openClients(n, handlers);
  await allJoined;
  sender = clients[0];
  for (let i = 0; i < cfg.window; i++) send();
  const watchdog = setInterval(() => {
    if (run.active && performance.now() - lastProgress > 10000) {
      fail(`broadcast stalled: ${completed} of ${seq} completed`);
      lastProgress = performance.now();
    }
  }, 1000);
  await measure(run);
  clearInterval(watchdog);
  return { clients, result: { broadcasts: completed } };
};

scenarios.memory = async () => {
  // Warm the server up (lazy imports, first allocations), then read RSS,
  // open N idle connections, let them settle and read RSS again.
  const warm = await openClients(Math.min(50, cfg.clients), { onEvent: noop, onAck: noop, onBinary: noop });
  for (const c of warm) c.close();
  await sleep(1);
  const before = readServerRss();
  const clients = await openClients(cfg.clients, { onEvent: noop, onAck: noop, onBinary: noop });
  await sleep(cfg.settle);
  const after = readServerRss();
  meter.secs = 0; meter.genCpu = null; meter.serverCpu = null;
  const perConn = (after - before) / cfg.clients;
  return {
    clients,
    result: { value: perConn, unit: 'KiB/conn', rss_before_kib: before, rss_after_kib: after },
  };
};

scenarios.idle = async () => {
  // The scaling curve: N idle clients answering pings. RSS per connection as in
  // `memory`, and heartbeat jitter: how late each PING arrives after the one
  // before it, beyond `pingInterval` (ms, the server's setting, passed in).
  // The server sends the next PING pingInterval after our PONG, so a lateness of
  // about one loopback round trip is the floor.
  const warm = await openClients(Math.min(50, cfg.clients), { onEvent: noop, onAck: noop, onBinary: noop });
  for (const c of warm) c.close();
  await sleep(1);
  const before = readServerRss();
  let measuring = false;
  let late = 0;
  let pings = 0;
  let worst = 0;
  const handlers = {
    onEvent: noop, onAck: noop, onBinary: noop,
    onPing(c) {
      const now = performance.now();
      if (measuring && c.lastPing !== undefined) {
        const lateness = Math.max(0, now - c.lastPing - cfg.pingInterval);
        meter.hist.add(lateness);
        pings++;
        if (lateness > worst) worst = lateness;
        if (lateness > 100) late++;
      }
      c.lastPing = now;
    },
  };
  const clients = await openClients(cfg.clients, handlers);
  await sleep(cfg.settle);
  const after = readServerRss();
  const cpu0 = readServerCpu();
  const t0 = performance.now();
  measuring = true;
  await sleep(cfg.duration);
  measuring = false;
  const secs = (performance.now() - t0) / 1000;
  const cpu1 = readServerCpu();
  const serverCpu = cpu0 === null || cpu1 === null ? null : (cpu1 - cpu0) / secs;
  meter.secs = 0; meter.genCpu = null; meter.serverCpu = null;
  return {
    clients,
    result: {
      value: (after - before) / cfg.clients, unit: 'KiB/conn', rss_before_kib: before, rss_after_kib: after,
      pings, late_over_100ms: late, jitter_max_ms: round(worst, 2), idle_server_cpu: round(serverCpu, 3),
      ping_interval_ms: cfg.pingInterval,
    },
  };
};

scenarios.connect = () => new Promise((resolve) => {
  // New WebSocket sessions (Engine.IO open + Socket.IO CONNECT) with
  // `concurrency` in flight; each is closed as soon as it is connected.
  const warmupN = Math.min(200, Math.ceil(cfg.total / 10));
  let phase = 'warmup';
  let target = warmupN;
  let started = 0;
  let done = 0;
  const handlers = {
    onOpen(c) {
      if (phase === 'measure') meter.hist.add(performance.now() - c.t);
      c.close();
      done++;
      if (started < target) startOne();
      else if (done === target) next();
    },
    onEvent: noop, onAck: noop, onBinary: noop,
  };
  function startOne() {
    started++;
    const c = new WsClient(handlers);
    c.t = performance.now();
    c.connect();
  }
  function kick() {
    for (let i = 0; i < Math.min(cfg.concurrency, target); i++) startOne();
  }
  function next() {
    if (phase === 'warmup') {
      phase = 'measure';
      started = 0; done = 0; target = cfg.total;
      setTimeout(() => { meter.begin(); kick(); }, 500);
    } else {
      meter.count = done;
      meter.end();
      resolve({ clients: [], result: {} });
    }
  }
  kick();
});

// ------------------------------------------------------ long-polling client
class HttpConn {
  constructor() {
    this.sock = null;
    this.cb = null;
    this.buf = null;
  }

  request(method, url, body, cb) {
    if (!this.sock || this.sock.destroyed || this.mustReconnect) this.open();
    this.cb = cb;
    this.state = 'head';
    this.buf = null;
    let req = `${method} ${url} HTTP/1.1\r\nHost: ${cfg.host}:${cfg.port}\r\n`;
    if (body !== null) {
      const b = Buffer.from(body, 'utf8');
      req += `Content-Type: text/plain;charset=UTF-8\r\nContent-Length: ${b.length}\r\n\r\n`;
      this.sock.write(Buffer.concat([Buffer.from(req, 'latin1'), b]));
    } else {
      this.sock.write(`${req}\r\n`);
    }
  }

  open() {
    if (this.sock) this.sock.destroy();
    this.mustReconnect = false;
    const sock = net.connect({ host: cfg.host, port: cfg.port });
    sock.setNoDelay(true);
    liveSockets++;
    this.sock = sock;
    sock.on('data', (d) => { if (sock === this.sock) this.onData(d); });
    sock.on('error', (e) => { if (!stopping) fail(`http socket error: ${e.code || e.message}`); });
    sock.on('close', () => {
      liveSockets--;
      if (sock === this.sock && this.cb && !stopping) {
        if (this.state === 'close-delimited') this.finish(this.buf || Buffer.alloc(0));
        else fail('http connection closed mid-response');
      }
    });
  }

  onData(d) {
    this.buf = this.buf ? Buffer.concat([this.buf, d]) : d;
    for (;;) {
      if (this.state === 'head') {
        const end = this.buf.indexOf('\r\n\r\n');
        if (end < 0) return;
        const head = this.buf.toString('latin1', 0, end).toLowerCase();
        this.buf = this.buf.subarray(end + 4);
        this.status = Number(head.slice(9, 12));
        const cl = /\r\ncontent-length:\s*(\d+)/.exec(head);
        this.mustReconnect = /\r\nconnection:\s*close/.test(head);
        if (cl) { this.state = 'length'; this.len = Number(cl[1]); }
        else if (/\r\ntransfer-encoding:\s*chunked/.test(head)) { this.state = 'chunked'; this.chunks = []; }
        else { this.state = 'close-delimited'; this.mustReconnect = true; }
      }
      if (this.state === 'length') {
        if (this.buf.length < this.len) return;
        const body = this.buf.subarray(0, this.len);
        this.buf = null;
        this.finish(body);
        return;
      }
      if (this.state === 'chunked') {
        const eol = this.buf.indexOf('\r\n');
        if (eol < 0) return;
        const size = parseInt(this.buf.toString('latin1', 0, eol), 16);
        if (size === 0) {
          if (this.buf.length < eol + 4) return;
          const body = Buffer.concat(this.chunks);
          this.buf = null;
          this.finish(body);
          return;
        }
        if (this.buf.length < eol + 2 + size + 2) return;
        this.chunks.push(this.buf.subarray(eol + 2, eol + 2 + size));
        this.buf = this.buf.subarray(eol + 2 + size + 2);
        continue;
      }
      return; // close-delimited: wait for 'close'
    }
  }

  finish(body) {
    const cb = this.cb;
    this.cb = null;
    this.state = 'idle';
    cb(this.status, body);
  }

  destroy() { if (this.sock) this.sock.destroy(); }
}

class PollingClient {
  constructor(onOpen, onEvent) {
    this.onOpen = onOpen;
    this.onEvent = onEvent;
    this.getConn = new HttpConn();
    this.postConn = new HttpConn();
    this.outbox = [];
    this.posting = false;
    this.polling = false;
    this.closed = false;
    this.seq = 0;
  }

  url() { return `${cfg.path}?EIO=4&transport=polling&t=${(this.seq++).toString(36)}&sid=${this.sid}`; }

  start() {
    this.getConn.request('GET', `${cfg.path}?EIO=4&transport=polling&t=h`, null, (status, body) => {
      const s = body.toString('utf8');
      if (status !== 200 || s[0] !== '0') { fail(`polling handshake ${status} ${s.slice(0, 80)}`); return; }
      this.sid = JSON.parse(s.slice(1)).sid;
      this.send('40');
      this.poll();
    });
  }

  send(packet) {
    this.outbox.push(packet);
    this.flush();
  }

  flush() {
    if (this.posting || !this.outbox.length || this.closed) return;
    const body = this.outbox.join('\x1e');
    this.outbox = [];
    this.posting = true;
    this.postConn.request('POST', this.url(), body, (status, resp) => {
      this.posting = false;
      if (status !== 200) fail(`polling POST ${status} ${resp.toString().slice(0, 80)}`);
      this.flush();
    });
  }

  poll() {
    if (this.closed) return;
    this.getConn.request('GET', this.url(), null, (status, body) => {
      if (status !== 200) { fail(`polling GET ${status} ${body.toString().slice(0, 80)}`); return; }
      const packets = body.toString('utf8').split('\x1e');
      this.poll();
      for (const p of packets) {
        const c = p.charCodeAt(0);
        if (c === 0x34) { // '4'
          const s = p.charCodeAt(1);
          if (s === 0x32) this.onEvent(this, p);
          else if (s === 0x30) this.onOpen(this);
          else if (s === 0x34) fail(`connect_error: ${p}`);
        } else if (c === 0x32) this.send('3');
        else if (c === 0x31 && !stopping) fail('engine.io close from server (polling)');
      }
    });
  }

  destroy() {
    this.closed = true;
    this.getConn.destroy();
    this.postConn.destroy();
  }
}

scenarios.polling = () => new Promise((resolve) => {
  const run = { active: true };
  const msg = `42["echo","${payloadString(cfg.size)}"]`;
  const clients = [];
  let opened = 0;
  function fire(c) { c.t = performance.now(); c.send(msg); }
  const onOpen = async (c) => {
    if (++opened < cfg.clients) return;
    for (const x of clients) fire(x);
    await measure(run);
    resolve({ clients, result: {} });
  };
  const onEvent = (c) => {
    if (meter.on) {
      meter.count++;
      meter.bytes += cfg.size;
      meter.hist.add(performance.now() - c.t);
    }
    if (run.active) fire(c);
  };
  for (let i = 0; i < cfg.clients; i++) {
    const c = new PollingClient(onOpen, onEvent);
    clients.push(c);
    c.start();
  }
});

// ------------------------------------------------------------------- main
async function main() {
  const parent = process.ppid;
  setInterval(() => { // end with the driver
    try { process.kill(parent, 0); } catch (e) { process.exit(3); }
  }, 1000).unref();
  const fn = scenarios[cfg.scenario];
  if (!fn) throw new Error(`unknown scenario ${cfg.scenario}`);
  const timer = setTimeout(() => {
    fail(`timed out after ${cfg.timeout} s`);
    report({});
    process.exit(2);
  }, cfg.timeout * 1000);
  const { clients, result } = await fn();
  stopping = true;
  for (const c of clients) c.destroy();
  clearTimeout(timer);
  report(result);
  process.exit(0);
}

function round(x, d) { return x === null || x === undefined ? null : Number(x.toFixed(d)); }

function report(extra) {
  const secs = meter.secs || 0;
  const out = {
    scenario: cfg.scenario,
    count: meter.count,
    seconds: round(secs, 3),
    rate: secs ? round(meter.count / secs, 1) : null,
    mb_per_s: secs && meter.bytes ? round(meter.bytes / secs / 1e6, 2) : null,
    p50_ms: round(meter.hist.q(0.5), 2),
    p99_ms: round(meter.hist.q(0.99), 2),
    gen_cpu: round(meter.genCpu, 3),
    server_cpu: round(meter.serverCpu, 3),
    other_cpu: round(meter.otherCpu, 3),
    errors,
  };
  Object.assign(out, extra);
  process.stdout.write(`${JSON.stringify(out)}\n`);
}

main().catch((e) => {
  fail(e && e.stack ? e.stack : e);
  report({});
  process.exit(1);
});
