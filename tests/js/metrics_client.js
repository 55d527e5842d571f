// A real socket.io-client 4.8 session whose traffic tests/ops/test_metrics.py counts on the server.
// Usage: node metrics_client.js <url>; prints {"sid": ..., "chatSid": ...} once everything was sent,
// then waits for a line on stdin before it disconnects and exits.
const { io } = require("socket.io-client");

const url = process.argv[2];
const once = (emitter, event) => new Promise((resolve) => emitter.once(event, resolve));

(async () => {
  const root = io(url, { transports: ["polling", "websocket"], forceNew: true, reconnection: false });
  root.on("ping-me", (n, ack) => ack(n));
  await once(root, "connect");
  if (root.io.engine.transport.name !== "websocket") await once(root.io.engine, "upgrade");
  for (let i = 0; i < 10; i++) await root.emitWithAck("echo", "x".repeat(10));
  for (let i = 0; i < 5; i++) root.emit(`unregistered-${i}`, i);
  await root.emitWithAck("ask", 3);

  const chat = io(url + "/chat", { transports: ["websocket"], forceNew: true, reconnection: false });
  await once(chat, "connect");
  for (let i = 0; i < 3; i++) await chat.emitWithAck("echo", i);

  const bad = io(url + "/nope", { transports: ["websocket"], forceNew: true, reconnection: false });
  const error = await once(bad, "connect_error");
  bad.close();

  console.log(JSON.stringify({ sid: root.id, chatSid: chat.id, refused: error.message }));
  process.stdin.once("data", () => {
    root.close();
    chat.close();
    setTimeout(() => process.exit(0), 100);
  });
})().catch((err) => {
  console.error(err);
  process.exit(1);
});
