// Drives examples/flask_chat in headless Chromium: two users log in, join a room, see each other's
// messages and typing; then one page's network drops, the other keeps talking, the network comes back.
// Usage: node browser_flask_chat.js <url>
// Prints {"steps": {...}} as JSON (what each page showed at each step).
"use strict";

const { chromium } = require("playwright-core");

const [url] = process.argv.slice(2);
const TIMEOUT = 15000;

async function login(browser, nickname) {
  const context = await browser.newContext();
  const page = await context.newPage();
  page.setDefaultTimeout(TIMEOUT);
  await page.goto(url);
  await page.fill("input[name=nickname]", nickname);
  await page.click("#login button");
  await page.waitForFunction(() => /^(connected|recovered) over/.test(document.getElementById("status").textContent));
  return { context, page };
}

async function joinRoom(page, room) {
  await page.fill("#join input[name=room]", room);
  await page.click("#join button");
  await page.waitForSelector(`#rooms li[data-room="${room}"].current`);
}

async function say(page, text) {
  await page.fill("#say input[name=text]", text);
  await page.click("#say button");
}

const logOf = (page) => page.$$eval("#log li", (lis) => lis.map((li) => li.textContent));

async function waitForLine(page, line) {
  await page.waitForFunction(
    (l) => [...document.querySelectorAll("#log li")].some((li) => li.textContent === l), line);
}

(async () => {
  const browser = await chromium.launch({
    executablePath: process.env.CHROMIUM_PATH || "/usr/bin/chromium",
    args: ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
           "--disable-background-networking", "--disable-component-update", "--disable-sync"],
  });
  const steps = {};
  try {
    const alice = await login(browser, "alice");
    const bob = await login(browser, "bob");
    await joinRoom(alice.page, "lobby");
    await joinRoom(bob.page, "lobby");
    await waitForLine(alice.page, "bob joined");

    // typing: alice types, bob sees it; alice sends, both see the message
    await alice.page.type("#say input[name=text]", "hel");
    await bob.page.waitForFunction(() => document.getElementById("typing").textContent === "alice is typing…");
    steps.typingSeen = await bob.page.textContent("#typing");
    await alice.page.fill("#say input[name=text]", "hello from alice");
    await alice.page.click("#say button");
    await waitForLine(bob.page, "alice: hello from alice");
    await bob.page.waitForFunction(() => document.getElementById("typing").textContent === "");
    await say(bob.page, "hi alice");
    await waitForLine(alice.page, "bob: hi alice");
    steps.before = { alice: await logOf(alice.page), bob: await logOf(bob.page) };
    steps.sidBefore = await alice.page.evaluate(() => window.chat.socket.id);

    // alice's network drops: offline, and her open connection dies
    await alice.context.setOffline(true);
    await alice.page.evaluate(() => window.chat.socket.io.engine.close());
    await alice.page.waitForFunction(() => document.getElementById("status").textContent.startsWith("disconnected"));
    steps.statusOffline = await alice.page.textContent("#status");
    await say(bob.page, "while you were away 1");
    await say(bob.page, "while you were away 2");
    await waitForLine(bob.page, "bob: while you were away 2");

    // the network comes back: socket.io-client reconnects and the server recovers the session
    await alice.context.setOffline(false);
    await alice.page.waitForFunction(() => document.getElementById("status").textContent.startsWith("recovered"));
    steps.statusBack = await alice.page.textContent("#status");
    steps.sidAfter = await alice.page.evaluate(() => window.chat.socket.id);
    await waitForLine(alice.page, "bob: while you were away 2");
    // still in the room on the server: messages flow both ways without joining again
    await say(alice.page, "back again");
    await waitForLine(bob.page, "alice: back again");
    await say(bob.page, "welcome back");
    await waitForLine(alice.page, "bob: welcome back");
    steps.after = { alice: await logOf(alice.page), bob: await logOf(bob.page) };
    steps.aliceRooms = await alice.page.$$eval("#rooms li", (lis) => lis.map((li) => li.dataset.room));
    process.stdout.write(JSON.stringify({ steps }) + "\n");
  } catch (err) {
    process.stdout.write(JSON.stringify({ steps, error: String(err && err.stack || err) }) + "\n");
  } finally {
    await browser.close();
  }
})();
