// Every page at desktop (1366x850) and phone (390x844) width in headless Debian Chromium:
// no page is wider than the screen, every control is a 44 px tap target, and the run
// dialog lies within the screen; the incident page follows an acknowledgement made
// through the API without a reload, and the list shows a new incident by itself. A query
// step runs from its button and its dialog shows the result table.
// A failed login says so, and a deep link survives the login; the post-mortem's blanks
// are written in the page. Screenshots of each page at each width.
// Usage: node pages.mjs BASE_URL INCIDENT_NUMBER RUN_ID TOKEN SCREENSHOT_DIR
import { launch, watch } from "./browser.mjs";
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { accessible, fitsScreen, tapTargets, withinScreen } from "./checks.mjs";

const [base, number, run, token, shots] = process.argv.slice(2);
if (!shots) {
  console.error("usage: node pages.mjs BASE_URL INCIDENT_NUMBER RUN_ID TOKEN SCREENSHOT_DIR");
  process.exit(2);
}
mkdirSync(shots, { recursive: true });

const WIDTHS = [{ name: "desktop", width: 1366, height: 850 }, { name: "phone", width: 390, height: 844 }];
const PAGES = [
  ["login", "/login?failed=1"],
  ["incidents", "/incidents?status=all"],
  ["incident", `/incidents/${number}`],
  ["run", `/runs/${run}`],
  ["postmortem", `/incidents/${number}/postmortem`],
  ["runbooks", "/runbooks"],
  ["runbook", "/runbooks/local-service.md"],
  ["ledger", "/ledger"],
  ["oncall", "/oncall"],
];

// The API, as another client (a CLI, a phone's ack link) would call it.
async function api(method, path, body) {
  const r = await fetch(`${base}${path}`, {
    method, headers: { "authorization": `Bearer ${token}`, "content-type": "application/json" },
    body: JSON.stringify(body),
  });
  const text = await r.text();
  if (!r.ok) throw new Error(`${method} ${path}: ${r.status} ${text}`);
  return JSON.parse(text);
}

const browser = await launch();
let step = "start";
const fail = (msg) => { throw new Error(`${step}: ${msg}`); };
try {
  for (const size of WIDTHS) {
    const context = await browser.newContext({ viewport: { width: size.width, height: size.height } });
    const reported = await watch(context);
    const page = await context.newPage();
    page.setDefaultTimeout(15000);
    step = `${size.name}: a deep link goes through a failed login and a good one`;
    const deep = `/incidents/${number}/postmortem`;
    await page.goto(`${base}${deep}`);
    if (!page.url().includes(`/login?next=${encodeURIComponent(deep)}`)) fail(`no next= in ${page.url()}`);
    await page.fill("#token", "not-a-token");
    await Promise.all([page.waitForURL(/failed=1/), page.click("button[type=submit]")]);
    const said = await page.locator("main [role=alert]").textContent();
    if (!/not valid/.test(said)) fail(`a failed login says: ${said}`);
    await page.screenshot({ path: join(shots, `page-login-failed-${size.name}.png`) });
    await page.fill("#token", token);
    await Promise.all([page.waitForURL(`${base}${deep}`), page.click("button[type=submit]")]);
    reported.check(step);

    for (const [name, path] of PAGES) {
      step = `${size.name}: ${path}`;
      await page.goto(`${base}${path}`);
      await fitsScreen(page, fail, name);
      await tapTargets(page, fail, name);
      await accessible(page, fail, name);
      await page.screenshot({ path: join(shots, `page-${name}-${size.name}.png`), fullPage: true });
      reported.check(step);
    }

    step = `${size.name}: the timeline filters and local times`;
    await page.goto(`${base}/incidents/${number}`);
    if (await page.locator("#timeline time[data-local]").count()) fail("times left in UTC");
    await page.click('.t-filters button[data-show="note"]');
    const shown = await page.evaluate(() => [...document.querySelectorAll("#timeline li")]
      .filter((li) => li.getClientRects().length > 0).map((li) => li.dataset.kind));
    if (!shown.length || shown.some((k) => k !== "note")) fail(`the notes filter shows ${shown}`);
    await page.click('.t-filters button[data-show=""]');
    if (!(await page.locator("#timeline li.t-run").first().isVisible())) fail("All does not show runs again");

    step = `${size.name}: the run dialog is pinned to the screen`;
    await page.goto(`${base}/incidents/${number}`);
    // The dialog opens scrolled far down the page, where a centred-in-the-page dialog
    // would be off screen.
    await page.evaluate(() => window.scrollTo(0, document.body.scrollHeight));
    await page.click('button[data-step="greet"]');
    // This incident has no alert to bind the step's instance from: the dialog asks.
    await page.fill('input[name="set.instance"]', "web-1");
    await withinScreen(page, fail, "#run-dialog");
    await page.click('#dialog-body button:has-text("Bind")');
    await page.locator("#bound-command").waitFor();
    await withinScreen(page, fail, "#run-dialog");
    await withinScreen(page, fail, "#confirm-run");
    await tapTargets(page, fail, "the run dialog", "#run-dialog");
    await accessible(page, fail, "the run dialog");
    await page.screenshot({ path: join(shots, `page-run-dialog-${size.name}.png`) });
    reported.check(step);

    step = `${size.name}: a query step runs from its button and shows a table`;
    const queryStart = Date.now();
    await page.goto(`${base}/incidents/${number}`);
    await page.click('button[data-query="tables"]');
    await page.locator("#dialog-body #query-table td", { hasText: "pg_class" }).waitFor({ timeout: 10000 });
    if (!(await page.locator("#run-dialog").evaluate((d) => d.open))) fail("the query dialog is not open");
    await withinScreen(page, fail, "#run-dialog");
    await tapTargets(page, fail, "the query dialog", "#run-dialog");
    await accessible(page, fail, "the query dialog");
    await page.screenshot({ path: join(shots, `page-query-dialog-${size.name}.png`) });
    // The live feed refreshes the runs table with the query's run.
    await page.keyboard.press("Escape");
    await page.locator("#live-runs td", { hasText: "tables" }).first().waitFor({ timeout: 5000 });
    console.log(`measured: ${size.name}: the query step's checks took ${Date.now() - queryStart} ms`);
    reported.check(step);

    step = `${size.name}: an error in the run dialog is shown in it`;
    await page.goto(`${base}/incidents/${number}`);
    reported.allow(/Failed to load resource: the server responded with a status of 404/);
    // A Run… button whose request the server refuses (an unknown step: 404).
    await page.evaluate(() => {
      const b = document.querySelector('button[data-step="greet"]');
      b.setAttribute("hx-get", b.getAttribute("hx-get").replace("step=greet", "step=no-such-step"));
      htmx.process(b);
    });
    await page.click('button[data-step="greet"]');
    const err = page.locator("#dialog-body .dialog-error[role=alert]");
    await err.waitFor({ timeout: 5000 });
    if (!/no-such-step|not found/i.test(await err.textContent())) fail(`the dialog says: ${await err.textContent()}`);
    await withinScreen(page, fail, "#run-dialog");
    await page.screenshot({ path: join(shots, `page-run-error-${size.name}.png`) });
    reported.check(step);

    step = `${size.name}: the incident page follows an acknowledgement made elsewhere`;
    {
      const inc = await api("POST", "/api/v1/incidents", { title: `live ${size.name}`, runbooks: ["local-service.md"] });
      await page.goto(`${base}/incidents/${inc.number ?? inc.id}`);
      await page.locator("#status", { hasText: "triggered" }).waitFor();
      await page.locator("#ack").waitFor();
      // Marks this document: a reload would lose the mark.
      await page.evaluate(() => { window.sameDocument = true; });
      const sent = Date.now();
      await api("POST", `/api/v1/incidents/${inc.id}/acknowledge`, {});
      await page.locator("#status", { hasText: "acknowledged" }).waitFor({ timeout: 5000 });
      console.log(`measured: ${size.name}: an API acknowledgement reached the open page in ${Date.now() - sent} ms`);
      await page.locator("#ack").waitFor({ state: "detached", timeout: 5000 });
      await page.locator("#mitigate").waitFor();
      if (!(await page.evaluate(() => window.sameDocument === true))) fail("the page reloaded");
      await page.screenshot({ path: join(shots, `page-live-ack-${size.name}.png`) });
      reported.check(step);
    }

    if (size.name === "desktop") {
      step = "dark mode follows the system, with a neutral focus ring";
      await page.emulateMedia({ colorScheme: "dark" });
      await page.goto(`${base}/incidents/${number}`);
      const dark = await page.evaluate(() => {
        const rgb = (c) => c.match(/\d+/g).slice(0, 3).map(Number);
        const lum = ([r, g, b]) => (0.2126 * r + 0.7152 * g + 0.0722 * b) / 255;
        const body = getComputedStyle(document.body);
        document.querySelector("#postmortem").focus({ focusVisible: true });
        const ring = rgb(getComputedStyle(document.activeElement).outlineColor);
        return { bg: lum(rgb(body.backgroundColor)), fg: lum(rgb(body.color)), ring };
      });
      if (!(dark.bg < 0.15 && dark.fg > 0.7)) fail(`not dark: ${JSON.stringify(dark)}`);
      // Blue, not the red or orange of an error.
      const [r, , b] = dark.ring;
      if (!(b > r)) fail(`the focus ring is ${dark.ring}`);
      await accessible(page, fail, "the incident page in dark mode");
      await page.screenshot({ path: join(shots, "page-incident-dark.png"), fullPage: true });
      await page.emulateMedia({ colorScheme: "light" });
      reported.check(step);

      step = "the post-mortem's impact is written in the page";
      await page.goto(`${base}/incidents/${number}/postmortem`);
      await page.fill("#text-impact", "Checkout failed for 12 minutes for every shopper.");
      await Promise.all([page.waitForURL(/#blank-impact$/), page.click('button[data-blank="impact"]')]);
      await page.locator("#postmortem-text p", { hasText: "Checkout failed for 12 minutes" }).waitFor();
      await accessible(page, fail, "the post-mortem after an edit");
      reported.check(step);

      step = "a new incident appears in the open list";
      await page.goto(`${base}/incidents`);
      await page.evaluate(() => { window.sameDocument = true; });
      const inc = await api("POST", "/api/v1/incidents", { title: "appears by itself" });
      await page.locator("#incident-list a", { hasText: "appears by itself" }).waitFor({ timeout: 15000 });
      if (!(await page.evaluate(() => window.sameDocument === true))) fail("the list reloaded");
      if (!inc.id) fail("no incident declared");
      reported.check(step);
    }
    await context.close();
  }
  console.log("pages ok");
} catch (e) {
  console.error(String(e && e.stack || e));
  process.exitCode = 1;
} finally {
  await browser.close();
}
