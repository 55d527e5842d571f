// Drives the real @socket.io/admin-ui dashboard (its built ui/dist, served by the server under test)
// in headless Chromium, next to a socket.io-client 4.8 user that the dashboard watches and acts on.
// Usage: node admin_dashboard.js <url> <full|readonly> [screenshot-dir]
// Prints one JSON object with what the page showed.
const { chromium } = require("playwright-core");
const { io } = require("socket.io-client");

const [url, mode, shots] = process.argv.slice(2);
const once = (emitter, event) => new Promise((resolve) => emitter.once(event, resolve));
const mainText = (page) => page.evaluate(() => document.querySelector("main").innerText);

async function login(page, password) {
  await page.getByLabel("Server URL").fill(url);
  await page.getByLabel("Username").fill("admin");
  await page.getByLabel("Password").fill(password);
  await page.getByRole("button", { name: "Connect" }).click();
}

(async () => {
  const out = {};
  const browser = await chromium.launch({
    executablePath: process.env.CHROMIUM_PATH || "/usr/bin/chromium",
    args: ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
      "--disable-background-networking", "--disable-component-update", "--disable-sync"],
  });
  let page;
  let user;
  try {
    page = await browser.newPage({ viewport: { width: 1400, height: 900 } });
    page.setDefaultTimeout(10000);
    // the page links fonts and icons from CDNs: nothing leaves this machine
    await page.route(/^https?:\/\/(?!127\.0\.0\.1[:/])/, (route) => route.abort());
    // what the dashboard receives over its WebSocket, to tell socket_updated from a late socket_connected
    const frames = [];
    page.on("websocket", (ws) => ws.on("framereceived", ({ payload }) => {
      if (typeof payload === "string" && payload.includes("socket_updated")) frames.push(payload);
    }));
    await page.goto(url + "/admin-ui/");

    await login(page, "wrong password");
    await page.getByText("invalid credentials").waitFor();
    out.wrongPassword = "invalid credentials";
    await login(page, "s3cret");
    await page.locator("header").getByText(/^connected$/i).first().waitFor();
    out.loggedIn = true;

    // a user connects after the dashboard: polling first, then the upgrade (socket_updated)
    user = io(url, { transports: ["polling", "websocket"], forceNew: true, reconnection: false });
    await once(user, "connect");
    out.userId = user.id;
    await user.emitWithAck("echo", "hello from the user");
    if (user.io.engine.transport.name !== "websocket") await once(user.io.engine, "upgrade");
    const rooms = () => user.emitWithAck("my-rooms");

    // dashboard: namespaces and their socket counts (server_stats)
    await page.waitForFunction(() => /\/admin\s+1/.test(document.querySelector("main").innerText));
    out.dashboard = await mainText(page);

    // sockets of "/": the user, with the transport it upgraded to
    await page.goto(url + "/admin-ui/#/sockets/");
    await page.getByLabel("Select namespace").click({ force: true });
    await page.getByRole("option", { name: "/", exact: true }).click();
    const row = page.locator("tr", { hasText: user.id });
    await row.getByText("WebSocket").waitFor();
    out.socketRow = await row.innerText();
    out.socketUpdated = frames.filter((f) => f.includes(user.id)).map((f) => JSON.parse(f.slice(f.indexOf("["))));

    await page.goto(url + `/admin-ui/#/n/%2F/sockets/${user.id}`);
    await page.getByText("Socket details").first().waitFor();
    // the disconnect and leave actions are offered only when the server supports them
    out.actionButtons = await page.locator("main button:has(i.mdi-logout), main button:has(i.mdi-tag-off-outline)")
      .count();
    if (mode === "readonly") {
      // the join form is always drawn; a read-only server does not act on it
      await page.getByLabel("Join a room").fill("ops-room");
      await page.locator("main button:has(i.mdi-tag-plus-outline)").click();
      await page.waitForTimeout(500);
      out.roomsAfterJoin = await rooms();
    } else {
      // join a room from the dashboard, then leave it
      await page.getByLabel("Join a room").fill("ops-room");
      await page.locator("main button:has(i.mdi-tag-plus-outline)").click();
      await page.getByRole("cell", { name: "ops-room", exact: true }).first().waitFor();
      out.roomsAfterJoin = await rooms();
      await page.goto(url + "/admin-ui/#/rooms/");
      await page.getByLabel("Select namespace").click({ force: true });
      await page.getByRole("option", { name: "/", exact: true }).click();
      await page.getByRole("cell", { name: "ops-room", exact: true }).first().waitFor();
      out.roomsPage = await mainText(page);
      await page.goto(url + `/admin-ui/#/n/%2F/sockets/${user.id}`);
      const roomCell = page.getByRole("cell", { name: "ops-room", exact: true });
      await page.locator("tr").filter({ has: roomCell }).locator("button:has(i.mdi-tag-off-outline)").click();
      // the row also links to the room's page: either view must show the room gone
      await page.waitForFunction(() => {
        const main = document.querySelector("main");
        return /Room details/.test(main.innerText) ? /deleted/i.test(main.innerText)
          : ![...main.querySelectorAll("td")].some((td) => td.innerText.trim() === "ops-room");
      });
      out.roomsAfterLeave = await rooms();
    }

    // events seen by the server, and the server's own stats
    await page.goto(url + "/admin-ui/#/events/");
    await page.getByText("echo").first().waitFor();
    out.eventsPage = await mainText(page);
    await page.goto(url + "/admin-ui/#/servers/");
    await page.getByText("siothread-under-test").waitFor();
    out.serversPage = await mainText(page);
    if (shots) await page.screenshot({ path: `${shots}/servers-${mode}.png` });

    if (mode === "full") {
      // disconnect the user's socket from the dashboard (the socket, not the whole connection)
      await page.goto(url + `/admin-ui/#/n/%2F/sockets/${user.id}`);
      await page.getByText("Socket details").first().waitFor();
      if (shots) await page.screenshot({ path: `${shots}/socket-${mode}.png` });
      const gone = once(user, "disconnect");
      await page.locator("main button.ml-3:has(i.mdi-logout)").click();
      out.userDisconnectReason = await gone;
      await page.locator("main").getByText(/^disconnected$/i).first().waitFor();
      out.socketStatusAfter = "Disconnected";
    }
  } catch (err) {
    if (shots && page) await page.screenshot({ path: `${shots}/failed-${mode}.png` });
    throw err;
  } finally {
    if (user) user.close();
    await browser.close();
  }
  console.log(JSON.stringify(out));
})().catch((err) => {
  console.error(err);
  process.exit(1);
});
