// The headless Debian Chromium every browser test drives (no browser download: the
// package playwright-core is only the driver), and the failure helper they share.
import { chromium } from "playwright-core";

export function launch() {
  return chromium.launch({
    executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
    args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
      "--disable-background-networking", "--disable-component-update", "--disable-sync"],
  });
}

// Collects every console error, uncaught page error and Content-Security-Policy
// violation in a browser context (Chromium reports a blocked inline script or style as a
// console error; the event listener also catches ones it does not print). The tests call
// `check()` at the end of each stage, so a page that only works with what the CSP blocks
// fails the test where it happened.
export async function watch(context) {
  const problems = [];
  // Messages a stage provokes on purpose (a refused request's "Failed to load resource").
  let allowed = [];
  const report = (text) => { if (!allowed.some((re) => re.test(text))) problems.push(text); };
  await context.addInitScript(() => {
    document.addEventListener("securitypolicyviolation", (e) => {
      console.error(`CSP violation: ${e.violatedDirective} blocked ${e.blockedURI || "inline"} at ${e.sourceFile}:${e.lineNumber}`);
    });
  });
  const attach = (page) => {
    page.on("console", (m) => { if (m.type() === "error") report(`${page.url()}: console error: ${m.text()} (${m.location().url})`); });
    page.on("pageerror", (e) => report(`${page.url()}: page error: ${e.message}`));
  };
  context.pages().forEach(attach);
  context.on("page", attach);
  return {
    check(step) {
      allowed = [];
      if (problems.length) throw new Error(`${step}: the browser reported:\n${problems.join("\n")}`);
    },
    // Until the next check, messages matching `re` are expected, not problems.
    allow(re) { allowed.push(re); },
  };
}
