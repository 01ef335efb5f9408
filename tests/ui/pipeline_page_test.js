// The live pipeline page in a real browser: Debian's Chromium driven by playwright-core.
//   node pipeline_page_test.js UNIBUS_BINARY MODEL_FILE
// Runs `unibus pipeline --ui 127.0.0.1:0 --ui-keep` on sqlite, reads the page twice
// during the run (its figures must move; a copy of the page fed a frozen /api/state
// must be caught by the same check), then checks the page's final figures against
// the report the pipeline wrote. Also: a port in use and a non-loopback address are
// clear errors. Prints PASS or FAIL: <why>.
"use strict";
const { spawn, spawnSync } = require("child_process");
const fs = require("fs");
const os = require("os");
const path = require("path");

const [unibus, model] = process.argv.slice(2).map((p) => p && path.resolve(p));
const CHROMIUM = process.env.UNIBUS_CHROMIUM || "/usr/bin/chromium";
const IMAGES = 2400, RATE = 300;  // about 8 s of run, throttled by --rate

class Failure extends Error {}
function check(ok, what) {
  if (!ok) throw new Failure(what);
}
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

async function waitFor(what, timeoutMs, fn) {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v) return v;
    check(Date.now() < end, `timed out after ${timeoutMs / 1000} s waiting for ${what}`);
    await sleep(100);
  }
}

// What a reader of the page sees, taken from the DOM (not from /api/state).
function readFigures(page) {
  return page.evaluate(() => {
    const v = (id) => Number(document.getElementById(id).dataset.value);
    const first = document.querySelector("#recent canvas");
    let inked = 0;
    if (first) {
      const d = first.getContext("2d").getImageData(0, 0, 28, 28).data;
      for (let i = 0; i < d.length; i += 4) if (d[i] < 200) ++inked;
    }
    return {
      status: document.getElementById("status").dataset.value,
      classified: v("stat-classified"),
      stored: v("stat-stored"),
      correct: v("stat-correct"),
      labelled: v("stat-labelled"),
      accuracyText: document.getElementById("stat-accuracy").textContent,
      elapsed: v("stat-elapsed"),
      dead: v("stat-dead"),
      throughputPoints: Number(document.getElementById("throughput").dataset.points),
      confusionTotal: Number(document.getElementById("confusion").dataset.total || 0),
      latencyStages: [...document.querySelectorAll("#latency tr[data-stage]")].map((r) => r.dataset.stage),
      recentIds: [...document.querySelectorAll("#recent .img")].map((e) => e.dataset.id).join(","),
      recentCaption: (document.querySelector("#recent .img div") || {}).textContent || "",
      inkedPixels: inked,
    };
  });
}

// The page moved between two reads during the run.
function moved(a, b) {
  const why = [];
  if (!(b.stored > a.stored)) why.push(`stored ${a.stored} -> ${b.stored}`);
  if (!(b.classified > a.classified)) why.push(`classified ${a.classified} -> ${b.classified}`);
  if (!(b.elapsed > a.elapsed)) why.push(`elapsed ${a.elapsed} -> ${b.elapsed}`);
  if (a.recentIds === b.recentIds) why.push("the recent images did not change");
  return why;
}

function run(args) {
  return spawnSync(unibus, args, { encoding: "utf8", timeout: 60000, cwd: os.tmpdir() });
}

async function main() {
  check(unibus && model, "usage: node pipeline_page_test.js UNIBUS_BINARY MODEL_FILE");
  check(fs.existsSync(CHROMIUM), `${CHROMIUM} missing; scripts/setup.sh installs Debian's chromium`);
  let chromium;
  try {
    ({ chromium } = require("playwright-core"));
  } catch (e) {
    throw new Failure(`playwright-core missing (${e.message}); scripts/setup.sh runs npm ci in tests/ui`);
  }
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "unibus-ui-"));
  const report = path.join(dir, "report.json");
  let proc, browser;
  try {
    // The browser first: the run is short.
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      headless: true,
      args: ["--no-sandbox", "--disable-background-networking", "--disable-component-update",
             "--disable-default-apps", "--disable-sync", "--no-first-run", "--disable-gpu"],
    });
    const live = await browser.newPage();
    const requested = new Set();  // the page must load nothing from elsewhere (no CDN)
    live.on("request", (req) => requested.add(req.url()));
    const pageErrors = [];
    live.on("pageerror", (e) => pageErrors.push(e.message));
    // The control: the same page, but /api/state answers its first reply forever.
    const frozen = await browser.newPage();
    let firstReply = null;
    await frozen.route("**/api/state", async (route) => {
      if (!firstReply) firstReply = await (await route.fetch()).text();
      await route.fulfill({ status: 200, contentType: "application/json", body: firstReply });
    });
    proc = spawn(unibus, ["pipeline", "--url", `sqlite://${dir}/broker.db`, "--db", `sqlite:${dir}/p.db`,
                          "--count", String(IMAGES), "--rate", String(RATE), "--workers", "1",
                          "--model", model, "--report", report, "--ui", "127.0.0.1:0", "--ui-keep"],
                 { stdio: ["ignore", "pipe", "pipe"] });
    let stderr = "", stdout = "";
    proc.stderr.on("data", (d) => (stderr += d));
    proc.stdout.on("data", (d) => (stdout += d));
    let exited = null;
    const exit = new Promise((r) => proc.on("exit", (code, signal) => r((exited = { code, signal }))));
    const url = await waitFor("the page's URL on stderr", 30000, () => {
      check(!exited, `pipeline exited early (${JSON.stringify(exited)}): ${stderr}`);
      const m = stderr.match(/serving the pipeline page on (http:\/\/127\.0\.0\.1:(\d+)\/)/);
      return m && { href: m[1], port: m[2] };
    });

    await Promise.all([live.goto(url.href), frozen.goto(url.href)]);
    await waitFor("the frozen page's first figures", 30000,
                  async () => (await readFigures(frozen)).status !== "");
    await waitFor("the first stored predictions on the page", 60000,
                  async () => (await readFigures(live)).stored > 0);
    const a = await readFigures(live), fa = await readFigures(frozen);
    await sleep(1500);
    const b = await readFigures(live), fb = await readFigures(frozen);
    check(b.status === "running", `the run ended before the second read (${b.status}); make it longer`);
    const why = moved(a, b);
    check(why.length === 0, `the live page did not move during the run: ${why.join("; ")}`);
    check(moved(fa, fb).length > 0, "the check did not notice a page fed a frozen /api/state");
    check(b.inkedPixels > 20, `the newest image is blank on its canvas (${b.inkedPixels} dark pixels)`);
    check(/\S+ \/ \S+/.test(b.recentCaption), `image caption '${b.recentCaption}' is not 'predicted / true'`);
    check(b.throughputPoints >= 2, `throughput chart has ${b.throughputPoints} points`);

    // Bad input while it serves: the same port, and an address other than loopback.
    let r = run(["pipeline", "--count", "1", "--ui", `127.0.0.1:${url.port}`]);
    check(r.status === 5 && r.stderr.includes(`port ${url.port} is already in use`),
          `a port in use: exit ${r.status}, stderr: ${r.stderr}`);
    r = run(["pipeline", "--count", "1", "--ui", "0.0.0.0:0"]);
    check(r.status === 2 && r.stderr.includes("--ui-allow-remote"),
          `a non-loopback address: exit ${r.status}, stderr: ${r.stderr}`);

    let seen = "", since = Date.now();
    await waitFor("the page to say finished", 120000, async () => {
      check(!exited, `pipeline exited before its page said finished: ${stderr}`);
      const f = await readFigures(live);
      // Elapsed time moves on every fresh /api/state while the run goes on.
      const now = `${f.status} ${f.stored} ${f.elapsed}`;
      if (now !== seen) [seen, since] = [now, Date.now()];
      check(Date.now() - since < 10000, `the page stopped updating (${now}) while the pipeline runs`);
      return f.status === "finished";
    });
    await sleep(2 * 500);  // one more poll after the report, whatever its timing
    const end = await readFigures(live);
    const rep = JSON.parse(fs.readFileSync(report, "utf8"));
    check(end.stored === rep.predictions_stored && end.stored === IMAGES,
          `page says ${end.stored} stored, report ${rep.predictions_stored}, fed ${IMAGES}`);
    check(end.classified >= end.stored, `classified ${end.classified} < stored ${end.stored}`);
    check(end.correct === rep.correct && end.labelled === rep.labelled,
          `page accuracy ${end.correct}/${end.labelled}, report ${rep.correct}/${rep.labelled}`);
    const pct = (100 * rep.accuracy).toFixed(2) + "%";
    check(end.accuracyText === pct, `page shows accuracy ${end.accuracyText}, report ${pct}`);
    check(end.confusionTotal === rep.labelled,
          `confusion matrix holds ${end.confusionTotal}, report labelled ${rep.labelled}`);
    check(end.dead === rep.rejected, `page dead letters ${end.dead}, report rejected ${rep.rejected}`);
    const stages = ["queue", "inference", "delivery", "end_to_end"];
    check(stages.every((s) => end.latencyStages.includes(s)), `latency rows: ${end.latencyStages}`);

    const origin = new URL(url.href).origin;
    const foreign = [...requested].filter((u) => new URL(u).origin !== origin);
    check(foreign.length === 0, `the page loaded from elsewhere: ${foreign.join(", ")}`);
    check(pageErrors.length === 0, `the page's script failed: ${pageErrors.join("; ")}`);
    await browser.close();
    browser = null;
    proc.kill("SIGTERM");
    const ex = await exit;
    check(ex.code === 0, `pipeline --ui-keep exited ${JSON.stringify(ex)} on SIGTERM: ${stdout}${stderr}`);
    console.log(`PASS: ${rep.predictions_stored} images, accuracy ${pct}, page matched the report`);
  } finally {
    if (browser) await browser.close().catch(() => {});
    if (proc && proc.exitCode === null && proc.signalCode === null) proc.kill("SIGKILL");
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

main().then(
  () => process.exit(0),
  (e) => {
    console.log(`FAIL: ${e instanceof Failure ? e.message : e.stack}`);
    process.exit(1);
  });
