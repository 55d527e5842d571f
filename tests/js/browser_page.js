// Loads a page in headless Chromium and waits for its script to set window.finished.
// Usage: node browser_page.js <url>
// Prints {"log": [...]} (the page's #log lines) as JSON.
const { launch } = require("./chromium");

const [url] = process.argv.slice(2);

(async () => {
  const browser = await launch();
  try {
    const page = await browser.newPage();
    await page.goto(url);
    await page.waitForFunction(() => window.finished === true, null, { timeout: 20000 });
    const log = await page.$$eval("#log li", (lis) => lis.map((li) => li.textContent));
    console.log(JSON.stringify({ log }));
  } finally {
    await browser.close();
  }
})().catch((err) => {
  console.error(err);
  process.exit(1);
});
