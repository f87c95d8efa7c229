// Drives bert serve's question-answering page in headless Debian chromium (playwright-core from
// tests/node). Run by test_qa_page.sh, which starts the server and passes, in the environment:
// QA_URL (the server), QA_EXPECTED (`bert qa --n-best 5` output for QA_QUESTION / QA_CONTEXT on
// the served "qa" model), QA_SERVER_PID, QA_USER_DATA (an empty folder), QA_SHOTS (screenshots).
// Prints "FAIL: ..." per failed check and exits 1 when any failed.
import { createRequire } from "node:module";
import { readFileSync } from "node:fs";

const require = createRequire(new URL("../node/package.json", import.meta.url));
const { chromium } = require("playwright-core");

const env = (name) => {
  if (!process.env[name]) throw new Error(`${name} is not set (run test_qa_page.sh)`);
  return process.env[name];
};
const base = env("QA_URL"), question = env("QA_QUESTION"), context = env("QA_CONTEXT");
const expected = JSON.parse(readFileSync(env("QA_EXPECTED"), "utf8"));
const shots = env("QA_SHOTS");

const failures = [];
let checks = 0;
function check(cond, what) {
  checks++;
  if (!cond) failures.push(what);
  return cond;
}
const close = (a, b) => Math.abs(a - b) <= 1e-4 * Math.max(1, Math.abs(b));

// The shown numbers: "3.22300" as score, "1.2345 · 42.0%" in an n-best row.
async function readResult(page) {
  return page.evaluate(() => {
    const text = (sel) => document.querySelector(sel)?.textContent ?? null;
    const rows = [...document.querySelectorAll("#nbest .cand")].map((b) => {
      const [score, pct] = b.querySelector(".cnum").textContent.split(" · ");
      return { text: b.querySelector(".ctext").textContent, score: Number(score), probability: parseFloat(pct) / 100 };
    });
    return { answer: text("#answer"), mark: text("#passage mark"), passage: text("#passage"), score: Number(text("#score")),
             rows, nbestShown: !document.getElementById("nbest-card").hidden };
  });
}

async function ask(page, model, how) {
  await page.selectOption("#model", model);
  await page.fill("#context", context);
  await page.fill("#question", question);
  await Promise.all([page.waitForResponse((r) => r.url().endsWith(`/v2/models/${model}/infer`)),
                     how === "enter" ? page.press("#question", "Enter") : page.click("#ask")]);
  await page.waitForSelector("#ask:not([disabled])");
  await page.waitForSelector("#result:not([hidden])", { timeout: 5000 }).catch(() => {});
  return readResult(page);
}

function compareAnswer(got, model) {
  check(got.answer === expected.answer, `${model}: answer ${JSON.stringify(got.answer)} vs bert qa ${JSON.stringify(expected.answer)}`);
  check(got.mark === expected.answer, `${model}: highlighted ${JSON.stringify(got.mark)} vs ${JSON.stringify(expected.answer)}`);
  check(got.passage === context, `${model}: the passage shown is not the context`);
  // the highlight sits at the model's code-point offsets (JS strings count UTF-16 units)
  const cps = Array.from(context);
  check(cps.slice(expected.start, expected.end).join("") === expected.answer, "bert qa's start/end are not code points");
  check(got.passage.startsWith(cps.slice(0, expected.start).join("") + expected.answer), `${model}: the highlight is not at start ${expected.start}`);
  check(close(got.score, expected.score), `${model}: score ${got.score} vs bert qa ${expected.score}`);
}

function compareNbest(got) {
  check(got.nbestShown, "qa: the n-best list is not shown");
  check(got.rows.length === expected.nbest.length && got.rows.length > 1,
        `qa: ${got.rows.length} n-best rows vs bert qa's ${expected.nbest.length}`);
  expected.nbest.forEach((w, k) => {
    const g = got.rows[k] || {};
    check(g.text === (w.answer === "" ? "(no answer)" : w.answer), `qa: n-best ${k} ${JSON.stringify(g.text)} vs ${JSON.stringify(w.answer)}`);
    check(close(g.score, w.score), `qa: n-best ${k} score ${g.score} vs ${w.score}`);
    check(Math.abs(g.probability - w.probability) <= 0.0006, `qa: n-best ${k} probability ${g.probability} vs ${w.probability}`);
  });
}

// A real server error: a passage over the server's --max-body-bytes is a 413 with a v2 {"error"}.
async function checkServerError(page) {
  await page.fill("#context", context + " " + "filler words ".repeat(200));
  await page.click("#ask");
  await page.waitForSelector("#error:not([hidden])", { timeout: 10000 }).catch(() => {});
  const msg = await page.textContent("#error");
  check(/HTTP 413/.test(msg) && /--max-body-bytes/.test(msg), `413 not shown with the server's message: ${JSON.stringify(msg)}`);
  check(await page.isHidden("#result"), "the old answer stays shown beside the error");
}

async function stopServer() {
  process.kill(Number(env("QA_SERVER_PID")), "SIGTERM");
  for (let i = 0; i < 100; i++) {
    try {
      await fetch(`${base}/v2/health/live`);
    } catch (e) {
      return true;
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  return false;
}

async function checkNetworkError(page) {
  check(await stopServer(), "the server still answers 10 s after SIGTERM");
  await page.fill("#context", context);
  await page.click("#ask");
  await page.waitForSelector("#error:not([hidden])", { timeout: 10000 }).catch(() => {});
  const msg = await page.textContent("#error");
  check(/Network error/.test(msg), `a stopped server is not shown as a network error: ${JSON.stringify(msg)}`);
}

async function run(browser) {
  const page = browser.pages()[0] || (await browser.newPage());
  const requests = [], problems = [];
  page.on("request", (r) => requests.push(r.url()));
  page.on("pageerror", (e) => problems.push(`page error: ${e.message}`));
  page.on("console", (m) => { if (/Content.Security.Policy|Refused to/i.test(m.text())) problems.push(`console: ${m.text()}`); });

  const res = await page.goto(`${base}/`);
  const h = res.headers();
  check(res.status() === 200 && h["content-type"] === "text/html; charset=utf-8", `GET /: ${res.status()} ${h["content-type"]}`);
  check(h["x-content-type-options"] === "nosniff", "no X-Content-Type-Options: nosniff");
  check(/default-src 'none'/.test(h["content-security-policy"] || "") && /script-src 'nonce-/.test(h["content-security-policy"]),
        `CSP: ${h["content-security-policy"]}`);
  const models = await page.$$eval("#model option", (os) => os.map((o) => o.textContent));
  check(JSON.stringify(models) === JSON.stringify(["qa", "qa-plain"]), `model selector: ${JSON.stringify(models)}`);
  check(await page.isVisible("#model"), "the model selector is hidden with two models");

  check(expected.start >= 2, `bert qa's answer starts at ${expected.start}: before the astral characters, the test checks no UTF-16 conversion`);
  const got = await ask(page, "qa", "click");
  compareAnswer(got, "qa");
  compareNbest(got);
  await page.screenshot({ path: `${shots}/desktop.png` });

  const plain = await ask(page, "qa-plain", "enter"); // a config without the n-best outputs
  compareAnswer(plain, "qa-plain");
  check(!plain.nbestShown, "qa-plain has no n-best outputs, yet a list is shown");

  await ask(page, "qa", "click");
  await page.setViewportSize({ width: 390, height: 844 });
  const widths = await page.evaluate(() => [document.documentElement.scrollWidth, window.innerWidth]);
  check(widths[0] <= widths[1], `phone size: the page is ${widths[0]} px wide in a ${widths[1]} px window`);
  await page.screenshot({ path: `${shots}/phone.png`, fullPage: true });
  await page.setViewportSize({ width: 1280, height: 800 });

  await checkServerError(page);
  await checkNetworkError(page);

  const origin = new URL(base).origin;
  const foreign = requests.filter((u) => !u.startsWith("data:") && new URL(u).origin !== origin);
  check(requests.some((u) => u.endsWith("/v2/models/qa/infer")) && foreign.length === 0,
        `requests to other hosts: ${JSON.stringify(foreign)} (of ${requests.length})`);
  check(problems.length === 0, problems.join("; "));
}

const t0 = Date.now();
const browser = await chromium.launchPersistentContext(env("QA_USER_DATA"), {
  executablePath: "/usr/bin/chromium",
  args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync"],
  viewport: { width: 1280, height: 800 },
});
try {
  await run(browser);
} catch (e) {
  failures.push(`the page test stopped: ${e.stack || e}`);
} finally {
  await browser.close();
}
for (const f of failures) console.log("FAIL:", f);
console.log(`qa page: ${checks} checks, ${failures.length} failures (${((Date.now() - t0) / 1000).toFixed(1)} s)`);
process.exit(failures.length ? 1 : 0);
