// Shared by the scenario scripts: one JSON result line on stdout, Buffers as {"$bytes": [..]}.
"use strict";

function done(result) {
  process.stdout.write(JSON.stringify(result) + "\n");
  process.exit(0);
}

function fail(message) {
  process.stdout.write(JSON.stringify({ error: String(message) }) + "\n");
  process.exit(1);
}

function once(emitter, event) {
  // resolves with the list of the event's arguments
  return new Promise((resolve) => emitter.once(event, (...args) => resolve(args)));
}

function toJSON(value) {
  // Buffers become {"$bytes": [..]} so Python can compare them
  if (Buffer.isBuffer(value) || value instanceof ArrayBuffer) {
    return { $bytes: Array.from(Buffer.from(value)) };
  }
  if (Array.isArray(value)) return value.map(toJSON);
  if (value && typeof value === "object") {
    const out = {};
    for (const [k, v] of Object.entries(value)) out[k] = toJSON(v);
    return out;
  }
  return value;
}

module.exports = { done, fail, once, toJSON };
