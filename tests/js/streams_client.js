// socket.io-client 4.8 for the Redis Streams recovery tests, driven over stdin/stdout.
// Usage: node streams_client.js <url> <name>
// Prints one JSON line per observation: ["connect", id, recovered], ["disconnect", reason],
// ["event", name, ...args], ["ack", ...answer]. Each stdin line is a JSON array [event, ...args]
// emitted with an acknowledgement; end of stdin closes the client.
"use strict";

const readline = require("readline");
const { io } = require("socket.io-client");

const [url, name] = process.argv.slice(2);
const out = (value) => process.stdout.write(JSON.stringify(value) + "\n");

const socket = io(url, {
  transports: ["websocket"],
  auth: { name },
  reconnectionDelay: 200,
  reconnectionDelayMax: 200,
  randomizationFactor: 0,
});
socket.on("connect", () => out(["connect", socket.id, socket.recovered]));
socket.on("disconnect", (reason) => out(["disconnect", reason]));
socket.onAny((event, ...args) => out(["event", event, ...args]));

const rl = readline.createInterface({ input: process.stdin });
rl.on("line", (line) => {
  if (!line.trim()) return;
  const [event, ...args] = JSON.parse(line);
  socket.emit(event, ...args, (...answer) => out(["ack", ...answer]));
});
rl.on("close", () => {
  socket.disconnect();
  process.exit(0);
});
