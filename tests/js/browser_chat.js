// Drives the chat example in headless Chromium: join, say something, wait for the upgrade.
// Usage: node browser_chat.js <url> <name> <text> [screenshot.png]
// Prints {"log": [...], "status": "..."} as JSON.
const { launch } = require("./chromium");

const [url, name, text, screenshot] = process.argv.slice(2);

(async () => {
  const browser = await launch();
  try {
    const page = await browser.newPage();
    await page.goto(url);
    await page.waitForFunction(() => document.getElementById("status").textContent.startsWith("connected"));
    await page.fill("input[name=name]", name);
    await page.click("#join button");
    await page.waitForSelector("#say:not([hidden])");
    await page.fill("input[name=text]", text);
    await page.click("#say button");
    const line = `${name}: ${text}`;
    await page.waitForFunction(
      (l) => [...document.querySelectorAll("#log li")].some((li) => li.textContent === l), line);
    await page.waitForFunction(() => document.getElementById("status").textContent.includes("websocket"));
    if (screenshot) await page.screenshot({ path: screenshot });
    const log = await page.$$eval("#log li", (lis) => lis.map((li) => li.textContent));
    const status = await page.textContent("#status");
    console.log(JSON.stringify({ log, status }));
  } finally {
    await browser.close();
  }
})().catch((err) => {
  console.error(err);
  process.exit(1);
});
