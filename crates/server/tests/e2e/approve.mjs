// Two-person control in the browser: a responder's destructive step is held, a commander
// approves it on the incident page in another browser session, and the responder's same
// run then goes through. Headless Debian Chromium driven by playwright-core.
// Usage: node approve.mjs BASE_URL INCIDENT_NUMBER RESPONDER_TOKEN COMMANDER_TOKEN SCREENSHOT_DIR MARKER_PATH
import { launch, watch } from "./browser.mjs";
import { existsSync, mkdirSync } from "node:fs";
import { join } from "node:path";

const [base, number, responder, commander, shots, marker] = process.argv.slice(2);
if (!marker) {
  console.error("usage: node approve.mjs BASE_URL INCIDENT RESPONDER_TOKEN COMMANDER_TOKEN SCREENSHOT_DIR MARKER");
  process.exit(2);
}
mkdirSync(shots, { recursive: true });

const browser = await launch();
let step = "start";
const fail = (msg) => { throw new Error(`${step}: ${msg}`); };

const watchers = [];
const checkConsole = () => watchers.forEach((w) => w.check(step));

// One browser context per person: separate cookies, separate sessions.
async function person(token) {
  const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
  watchers.push(await watch(context));
  const page = await context.newPage();
  page.setDefaultTimeout(15000);
  await page.goto(`${base}/login`);
  await page.fill("#token", token);
  await page.click("button[type=submit]");
  await page.waitForURL(/\/incidents$/);
  await page.goto(`${base}/incidents/${number}`);
  return page;
}

async function runWipe(page) {
  await page.click('button[data-step="wipe"]');
  await page.fill('input[name="set.marker"]', marker);
  await page.click('#dialog-body button:has-text("Bind")');
  await page.locator("#bound-command").waitFor();
  const risk = await page.textContent("#dialog-body .badge");
  if (risk.trim() !== "destructive") fail(`expected a destructive badge, got ${risk}`);
  await page.click("#confirm-run");
}

try {
  step = "the responder's destructive run is held";
  const rita = await person(responder);
  await runWipe(rita);
  await rita.locator("#approval-needed").waitFor();
  if (!existsSync(marker)) fail("the held run deleted the marker");
  await rita.screenshot({ path: join(shots, "10-approval-needed.png"), fullPage: true });
  checkConsole();

  step = "the commander approves it on the incident page";
  const carl = await person(commander);
  const approve = carl.locator("button[data-approval]");
  await approve.waitFor();
  const shown = await carl.textContent(".approval pre");
  if (!shown.includes("rm -rf")) fail(`the approval does not show the command: ${shown}`);
  await carl.screenshot({ path: join(shots, "11-approval-pending.png"), fullPage: true });
  checkConsole();
  await Promise.all([carl.waitForURL(new RegExp(`/incidents/${number}$`)), approve.click()]);
  await carl.locator(".approval", { hasText: "approved by carl" }).waitFor();
  if (await carl.locator("button[data-approval]").count()) fail("still offered to approve");

  step = "the responder's same run now goes through";
  await rita.goto(`${base}/incidents/${number}`);
  await runWipe(rita);
  await rita.locator("#dialog-title", { hasText: "succeeded" }).waitFor();
  const by = await rita.textContent("#dialog-body");
  if (!by.includes("approved by carl")) fail("the run does not name its approver");
  if (existsSync(marker)) fail("the approved run did not delete the marker");
  await rita.screenshot({ path: join(shots, "12-approved-run.png"), fullPage: true });
  checkConsole();
  console.log("approve ok");
} catch (e) {
  console.error(String(e && e.stack || e));
  process.exitCode = 1;
} finally {
  await browser.close();
}
