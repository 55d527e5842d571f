// socket.io-client 2.x in headless Chromium against a siothread server with allow_eio3=True.
// A browser's XHR takes binary, so its polling uses Engine.IO v3's binary payload framing both
// ways (Node's 2.x client always asks for b64=1); then the same page upgrades to WebSocket.
// Usage: node browser_v2.js <url>; the page is <url>/v2.html (tests/browser/test_legacy_client.py).
// Prints what the page recorded as JSON.
const { chromium } = require("playwright-core");

const [url] = process.argv.slice(2);

(async () => {
  const browser = await chromium.launch({
    executablePath: process.env.CHROMIUM_PATH || "/usr/bin/chromium",
    args: [
      "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
      "--disable-background-networking", "--disable-component-update", "--disable-sync",
    ],
  });
  try {
    const page = await browser.newPage();
    await page.goto(url + "/v2.html");
    const result = await page.evaluate(async () => {
      const bytes = (b) => Array.from(new Uint8Array(b));
      const ack = (s, ...args) => new Promise((resolve) => s.emit(...args, (...out) => resolve(out)));
      const polling = io({ transports: ["polling"], forceNew: true, reconnection: false });
      await new Promise((resolve) => polling.once("connect", resolve));
      const [bin, text] = await ack(polling, "echo", new Uint8Array([1, 2, 255]).buffer, "text 😀");
      const viaPolling = { bin: bytes(bin), text, binaryXhr: polling.io.engine.transport.supportsBinary };
      polling.close();
      const upgraded = io({ forceNew: true, reconnection: false });
      await new Promise((resolve) => upgraded.io.engine.once("upgrade", resolve));
      const [bin2] = await ack(upgraded, "echo", new Uint8Array([9, 8]).buffer);
      const viaWebSocket = { bin: bytes(bin2), transport: upgraded.io.engine.transport.name };
      upgraded.close();
      return { viaPolling, viaWebSocket };
    });
    console.log(JSON.stringify(result));
  } finally {
    await browser.close();
  }
})().catch((err) => {
  console.error(err);
  process.exit(1);
});
