// Layout checks the browser tests share: the page fits the screen, controls are big
// enough to tap, an element lies within the screen, and axe-core finds no serious or
// critical accessibility violation.
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";

const axeSource = readFileSync(createRequire(import.meta.url).resolve("axe-core/axe.min.js"), "utf8");

// axe-core runs in the page through the driver (page.evaluate is not subject to the
// page's Content-Security-Policy, which rightly refuses an injected <script>).
export async function accessible(page, fail, what) {
  await page.evaluate(axeSource);
  const found = await page.evaluate(async () => {
    const r = await window.axe.run(document, { resultTypes: ["violations"] });
    return r.violations
      .filter((v) => v.impact === "serious" || v.impact === "critical")
      .map((v) => `${v.id} (${v.impact}): ${v.nodes.slice(0, 3).map((n) => n.target.join(" ")).join(", ")}`);
  });
  if (found.length) fail(`${what}: axe-core: ${found.join("; ")}`);
}

// On a phone nobody scrolls sideways to find what is cut off: the page may be no wider
// than the screen. Names the first elements that stick out.
export async function fitsScreen(page, fail, what) {
  const { scroll, width, wide } = await page.evaluate(() => ({
    scroll: document.documentElement.scrollWidth,
    width: window.innerWidth,
    wide: [...document.querySelectorAll("body *")]
      .filter((e) => e.getBoundingClientRect().right > window.innerWidth + 0.5)
      .slice(0, 5)
      .map((e) => `${e.tagName.toLowerCase()}${e.id ? "#" + e.id : ""}${e.className ? "." + String(e.className).trim().replace(/\s+/g, ".") : ""}`),
  }));
  if (scroll > width) fail(`${what} is ${scroll} px wide on a ${width} px screen (wider: ${wide.join(", ")})`);
}

// Every visible control (a checkbox counts by its label) is at least 44x44 CSS px.
export async function tapTargets(page, fail, what, within = "body") {
  const small = await page.evaluate((within) => {
    const root = document.querySelector(within);
    const controls = root.querySelectorAll(
      "button, .button, input:not([type=hidden]), select, textarea, header.top a, td a, summary");
    return [...controls]
      .map((e) => (e.matches("input[type=checkbox], input[type=radio]") && e.closest("label")) || e)
      .filter((e) => e.getClientRects().length > 0 && getComputedStyle(e).visibility !== "hidden")
      .map((e) => ({ e, r: e.getBoundingClientRect() }))
      .filter(({ r }) => r.width < 43.5 || r.height < 43.5)
      .slice(0, 5)
      .map(({ e, r }) => `${e.tagName.toLowerCase()} "${(e.textContent || e.name || "").trim().slice(0, 30)}" ${Math.round(r.width)}x${Math.round(r.height)}`);
  }, within);
  if (small.length) fail(`${what}: tap targets under 44 px: ${small.join("; ")}`);
}

// The element (scrolled to) lies wholly within the screen.
export async function withinScreen(page, fail, selector) {
  await page.locator(selector).scrollIntoViewIfNeeded();
  const box = await page.locator(selector).boundingBox();
  const { width, height } = page.viewportSize();
  if (!box || box.x < 0 || box.x + box.width > width + 0.5 || box.y < 0 || box.y + box.height > height + 0.5) {
    fail(`${selector} is not within the ${width}x${height} screen: ${JSON.stringify(box)}`);
  }
}
