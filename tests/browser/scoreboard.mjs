// The scoreboard in a real browser (Debian's chromium, headless), for tests/e2e/scoreboard.rs.
// Usage: node scoreboard.mjs URL [SCREENSHOT.png]
// It prints a line at each stage ("READY", "QUESTION", "RELOADED", "TALLY", "PODIUM") for the
// test, which plays the game meanwhile; any check that fails exits non-zero with the reason.
import { chromium } from "playwright-core";

const [url, screenshot] = process.argv.slice(2);
// Polled on a timer, not on animation frames: the page not in front gets none.
const WAIT = { timeout: 30000, polling: 100 };
const say = (line) => console.log(line);

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
  // Two pages at once: the one behind must not be throttled into missing the test's checks.
  args: ["--no-sandbox", "--disable-background-timer-throttling",
         "--disable-renderer-backgrounding", "--disable-backgrounding-occluded-windows"],
});
try {
  const context = await browser.newContext({ viewport: { width: 1600, height: 900 } });
  const pages = [await context.newPage(), await context.newPage()];
  const problems = [];
  for (const page of pages) {
    page.on("pageerror", (e) => problems.push(`page error: ${e.message}`));
    page.on("dialog", (d) => { problems.push(`a dialog opened: ${d.message()}`); d.dismiss(); });
    await page.goto(url);
  }
  const text = (page, id) => page.$eval(`#${id}`, (n) => n.textContent);
  const waitText = (page, id, wanted) =>
    page.waitForFunction(([id, wanted]) => {
      const node = document.getElementById(id);
      return node && node.textContent.includes(wanted);
    }, [id, wanted], WAIT);

  for (const page of pages) await waitText(page, "phase", "waiting for a game");
  say("READY");

  const names = ["<script>x</script>", "<img src=x onerror=1>"];
  for (const page of pages) {
    await page.waitForFunction((names) => {
      const shown = [...document.querySelectorAll("#players li")].map((n) => n.textContent);
      return names.every((n) => shown.includes(n));
    }, names, WAIT);
    await waitText(page, "question-number", "Question 1 of 2");
    await waitText(page, "answered", "answered");
  }
  // Names are text: nothing of them became an element or ran.
  for (const page of pages) {
    const injected = await page.evaluate(() =>
      document.querySelectorAll("#players script, #players img, img").length);
    if (injected !== 0) throw new Error(`${injected} elements came from players' names`);
  }
  // The countdown moves in the page.
  const first = await text(pages[0], "question-clock");
  if (!/^\d+(:\d\d)?$/.test(first)) throw new Error(`the question's clock reads ${first}`);
  await pages[0].waitForFunction((first) => {
    const now = document.getElementById("question-clock").textContent;
    return now !== first && /^\d+(:\d\d)?$/.test(now);
  }, first, WAIT);
  say("QUESTION");

  for (const page of pages) await waitText(page, "answered", "1 of 2 answered");
  // A reload mid-question is where everyone else is at once.
  await pages[0].reload();
  await waitText(pages[0], "question-number", "Question 1 of 2");
  await waitText(pages[0], "answered", "1 of 2 answered");
  const reloaded = await text(pages[0], "question-text");
  if (!reloaded.includes("?")) throw new Error(`no question after the reload: ${reloaded}`);
  say("RELOADED");

  // The question closes: the answers' spread, and the right one marked; the top five.
  for (const page of pages) {
    await page.waitForFunction(() =>
      document.querySelectorAll("#choices li .bar").length >= 2
      && document.querySelector("#choices li.right") !== null, null, WAIT);
    await page.waitForFunction((names) => {
      const top = [...document.querySelectorAll("#top li .name")].map((n) => n.textContent);
      return names.every((n) => top.includes(n));
    }, names, WAIT);
  }
  const counts = await pages[1].$$eval("#choices li .count", (n) => n.map((c) => c.textContent));
  say(`TALLY ${counts.join(",")}`);

  for (const page of pages) {
    await page.waitForFunction(() =>
      !document.getElementById("podium-panel").hidden
      && document.querySelectorAll("#podium li").length >= 2, null, WAIT);
  }
  const podium = await pages[1].$$eval("#podium li .name", (n) => n.map((c) => c.textContent));
  say(`PODIUM ${JSON.stringify(podium)}`);
  if (screenshot) await pages[1].screenshot({ path: screenshot });
  if (problems.length) throw new Error(problems.join("; "));
  say("DONE");
} finally {
  await browser.close();
}
