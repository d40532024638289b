// A screenshot of a page once it shows something, for docs/screenshots.sh.
// Usage: node page-shot.mjs URL OUT.png CSS-SELECTOR [WIDTH HEIGHT]
// Waits (30 s at most) until an element matching the selector is visible, then saves OUT.png.
import { chromium } from "playwright-core";

const [url, out, selector, width = "1600", height = "900"] = process.argv.slice(2);
const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
  args: ["--no-sandbox"],
});
try {
  const page = await browser.newPage({ viewport: { width: Number(width), height: Number(height) } });
  await page.goto(url);
  await page.waitForSelector(selector, { state: "visible", timeout: 30000 });
  await page.screenshot({ path: out });
} finally {
  await browser.close();
}
