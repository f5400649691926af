// End-to-end test of sitrep's web UI in headless Debian Chromium (playwright-core).
// Usage: node e2e.mjs BASE_URL TOKEN SCREENSHOT_DIR MARKER_PATH
// Exits non-zero with a message on the first expectation that fails.
import { launch, watch } from "./browser.mjs";
import * as checks from "./checks.mjs";
import { mkdirSync, readFileSync } from "node:fs";
import { join } from "node:path";

const [base, token, shots, marker] = process.argv.slice(2);
if (!base || !token || !shots || !marker) {
  console.error("usage: node e2e.mjs BASE_URL TOKEN SCREENSHOT_DIR MARKER_PATH");
  process.exit(2);
}
mkdirSync(shots, { recursive: true });

const browser = await launch();
let step = "start";
const fail = (msg) => { throw new Error(`${step}: ${msg}`); };
try {
  step = "a login posted from another site is refused";
  {
    // A page on another origin (served by the browser itself) that posts a valid token to
    // /login: login CSRF would put the victim in that session.
    const evil = await browser.newContext();
    const attacker = await evil.newPage();
    await attacker.route("http://evil.test/**", (route) => route.fulfill({
      contentType: "text/html",
      body: `<form method="post" action="${base}/login"><input name="token" value="${token}"></form>`,
    }));
    await attacker.goto("http://evil.test/");
    const [resp] = await Promise.all([attacker.waitForEvent("response", (r) => r.url() === `${base}/login`), attacker.evaluate(() => document.forms[0].submit())]);
    if (resp.status() !== 403) fail(`expected 403, got ${resp.status()}`);
    if ((await evil.cookies(base)).some((c) => c.name === "sitrep_session")) fail("the cross-site post got a session");
    await evil.close();
  }

  const context = await browser.newContext({ acceptDownloads: true, viewport: { width: 1280, height: 900 } });
  const reported = await watch(context);
  const page = await context.newPage();
  page.setDefaultTimeout(15000);
  const shot = async (name) => {
    await page.screenshot({ path: join(shots, `${name}.png`), fullPage: true });
    reported.check(step);
  };
  const fitsScreen = (what) => checks.fitsScreen(page, fail, what);
  const withinScreen = (selector) => checks.withinScreen(page, fail, selector);

  step = "login";
  await page.goto(`${base}/incidents`);
  if (!page.url().includes("/login")) fail(`expected a redirect to /login, got ${page.url()}`);
  await page.fill("#token", token);
  await shot("01-login");
  await page.click("button[type=submit]");
  await page.waitForURL(/\/incidents$/);

  step = "open the incident the alert declared";
  const link = page.locator("table a", { hasText: "LocalServiceDown" }).first();
  await link.waitFor();
  await shot("02-incidents");
  await link.click();
  await page.waitForURL(/\/incidents\/\d+$/);

  step = "auto-triage results on the timeline";
  await page.locator("#timeline li.t-run", { hasText: " ran " }).first().waitFor({ timeout: 20000 });
  await shot("03-incident-after-triage");

  step = "run a read step";
  await page.click('button[data-step="greet"]');
  await page.locator("#bound-command").waitFor();
  const bound = await page.textContent("#bound-command");
  if (!bound.includes("echo")) fail(`bound command not shown: ${bound}`);
  await page.click("#confirm-run");
  await page.locator("#stdout", { hasText: "checking web-1" }).waitFor();
  await shot("04-read-step-output");
  await page.click("#run-dialog form[method=dialog] button");

  step = "usable on a phone";
  await page.setViewportSize({ width: 390, height: 844 });
  await page.goto(page.url());
  await fitsScreen("the incident page");
  await page.click('button[data-step="greet"]');
  await page.locator("#bound-command").waitFor();
  await withinScreen("#bound-command");
  await withinScreen("#confirm-run");
  await shot("04b-phone-run-dialog");
  await page.click("#run-dialog form[method=dialog] button");
  await page.setViewportSize({ width: 1280, height: 900 });

  step = "confirm a write step";
  await page.click('button[data-step="mark"]');
  await page.fill('input[name="set.marker"]', marker);
  await page.click('#dialog-body button:has-text("Bind")');
  await page.locator("#bound-command").waitFor();
  const writeCmd = await page.textContent("#bound-command");
  if (!writeCmd.includes("touch")) fail(`write command not shown: ${writeCmd}`);
  const risk = await page.textContent("#dialog-body .badge");
  if (risk.trim() !== "write") fail(`expected a write badge, got ${risk}`);
  await shot("05-write-confirm-dialog");
  await page.click("#confirm-run");
  await page.locator("#dialog-title", { hasText: "succeeded" }).waitFor();
  try { readFileSync(marker); } catch { fail("the write step did not create the marker file"); }

  step = "the timeline updates live (server-sent events)";
  if ((await page.getAttribute("#timeline", "data-live")) !== "sse") fail("the live stream is not connected");
  // The fallback poll is every 10 s; seeing the run within 4 s means the stream pushed it.
  await page.locator("#timeline", { hasText: "ran mark (write)" }).waitFor({ timeout: 4000 });
  await page.goto(page.url());

  step = "resolve is disabled until the checklist holds";
  if (!(await page.isDisabled("#resolve"))) fail("resolve enabled with open checklist items");
  const boxes = page.locator("#checklist input[type=checkbox]");
  const n = await boxes.count();
  if (n < 1) fail("no checklist items");
  for (let i = 0; i < n; i++) {
    const box = page.locator("#checklist input[type=checkbox]").nth(i);
    if (await box.isChecked()) continue;
    // A tick swaps the checklist in place, or reloads the page (HX-Refresh) once nothing
    // required is open: wait for whichever the server's answer asks for.
    const reloaded = page.waitForEvent("load");
    reloaded.catch(() => {});
    const old = await box.elementHandle();
    const [answer] = await Promise.all([
      page.waitForResponse((r) => r.request().method() === "POST" && /\/checklist\/\d+$/.test(r.url())),
      box.check(),
    ]);
    if (answer.status() !== 200) fail(`ticking item ${i + 1} answered ${answer.status()}`);
    if (answer.headers()["hx-refresh"] === "true") await reloaded;
    else await page.waitForFunction((e) => !e.isConnected, old);
  }
  await page.goto(page.url());
  await shot("06-checklist-done");
  if (await page.isDisabled("#resolve")) fail("resolve still disabled after ticking every item");

  step = "resolve";
  await page.click("#resolve");
  await page.locator("#status", { hasText: "resolved" }).waitFor();
  await shot("07-resolved");

  step = "evidence pack download";
  {
    const [pack] = await Promise.all([page.waitForEvent("download"), page.click("#evidence")]);
    const packPath = join(shots, "evidence.tar.gz");
    await pack.saveAs(packPath);
    const bytes = readFileSync(packPath);
    if (bytes.length < 100 || bytes[0] !== 0x1f || bytes[1] !== 0x8b) fail(`evidence pack is not gzip (${bytes.length} bytes)`);
  }

  step = "post-mortem preview and download";
  await page.click("#postmortem");
  await page.locator("#postmortem-text", { hasText: "Post-mortem" }).waitFor();
  const [download] = await Promise.all([page.waitForEvent("download"), page.click("#download-postmortem")]);
  const path = join(shots, "postmortem.md");
  await download.saveAs(path);
  const md = readFileSync(path, "utf8");
  for (const want of ["# Post-mortem", "## Timeline (UTC)", "step.run", "- [x]"]) {
    if (!md.includes(want)) fail(`downloaded post-mortem lacks ${want}`);
  }
  await shot("08-postmortem");

  step = "readable on a phone";
  await page.setViewportSize({ width: 390, height: 844 });
  await page.goBack();
  await page.waitForURL(/\/incidents\/\d+$/);
  await fitsScreen("the resolved incident page");
  await shot("09-phone");

  reported.check("the whole run");

  step = "the browser enforces the CSP";
  {
    // An injected inline script (what an HTML injection would add) must not run.
    const probe = await (await browser.newContext()).newPage();
    await probe.goto(`${base}/login`);
    const ran = await probe.evaluate(async () => {
      const s = document.createElement("script");
      s.textContent = "window.injected = true";
      document.body.append(s);
      await new Promise((r) => setTimeout(r, 100));
      return window.injected === true;
    });
    if (ran) fail("an inline script ran: the Content-Security-Policy is not in force");
  }
  console.log("e2e ok");
} catch (e) {
  console.error(String(e && e.stack || e));
  process.exitCode = 1;
} finally {
  await browser.close();
}
