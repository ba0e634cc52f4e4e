// How many bytes per second an idle runs-list tab receives while demo mode keeps
// the fleet busy (issue 18's "calm live list", target ≤ 2 KB/s). Starts the given
// `runboard` binary in demo mode on a fresh SQLite file, logs in as the owner in
// Debian's Chromium, opens the page and lets it sit: every response body and every
// server-sent-event byte the tab receives is counted through the DevTools protocol.
//
//   node end2end/bench/idle-list-traffic.mjs [--bin target/release/runboard]
//        [--seconds 60] [--warmup 20] [--path /]
//
// Prints bytes/s over the window, split into the live stream and other requests.
import { chromium } from "@playwright/test";
import { spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { parseArgs } from "node:util";

const { values } = parseArgs({
  options: {
    bin: { type: "string", default: resolve(import.meta.dirname, "../../target/release/runboard") },
    site: { type: "string", default: resolve(import.meta.dirname, "../../target/site") },
    seconds: { type: "string", default: "60" },
    warmup: { type: "string", default: "20" },
    path: { type: "string", default: "/" },
    port: { type: "string", default: "3190" },
  },
});
const port = Number(values.port);
const base = `http://127.0.0.1:${port}`;
const dir = mkdtempSync(join(tmpdir(), "runboard-idle-"));
const email = "owner@idle.test";
const password = "idle-password-123";

const server = spawn(values.bin, [], {
  env: {
    ...process.env,
    DATABASE_URL: `sqlite://${dir}/runboard.db`,
    RUNBOARD_ARTIFACT_DIR: `${dir}/artifacts`,
    LEPTOS_SITE_ADDR: `127.0.0.1:${port}`,
    LEPTOS_SITE_ROOT: values.site,
    RUNBOARD_ADMIN_EMAIL: email,
    RUNBOARD_ADMIN_PASSWORD: password,
    RUNBOARD_DEMO: "1",
    RUST_LOG: "warn",
  },
  stdio: ["ignore", "ignore", "inherit"],
});

async function waitForServer() {
  for (let i = 0; i < 300; i++) {
    try {
      if ((await fetch(`${base}/healthz`)).ok) return;
    } catch {}
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error("the server did not start");
}

const sleep = (seconds) => new Promise((r) => setTimeout(r, seconds * 1000));

try {
  await waitForServer();
  const browser = await chromium.launch({
    executablePath: "/usr/bin/chromium",
    args: ["--headless", "--no-sandbox", "--disable-gpu"],
  });
  const page = await browser.newPage({ viewport: { width: 1440, height: 900 } });
  await page.goto(`${base}/login`);
  await page.locator("body[data-hydrated=true]").waitFor();
  await page.getByLabel("Email").fill(email);
  await page.getByLabel("Password").fill(password);
  await page.getByRole("button", { name: "Log in" }).click();
  await page.getByRole("heading", { name: "Runs" }).waitFor();
  await page.goto(`${base}${values.path}`);
  await page.locator("body[data-hydrated=true]").waitFor();

  const cdp = await page.context().newCDPSession(page);
  await cdp.send("Network.enable");
  const streams = new Set();
  const received = new Map(); // requestId -> bytes seen in dataReceived
  const finished = new Map(); // requestId -> encodedDataLength at the end
  let counting = false;
  cdp.on("Network.requestWillBeSent", (e) => {
    if (e.request.url.includes("/api/events/stream")) streams.add(e.requestId);
  });
  cdp.on("Network.dataReceived", (e) => {
    if (counting) received.set(e.requestId, (received.get(e.requestId) || 0) + e.encodedDataLength);
  });
  // Chromium reports an event stream's messages, not its bytes: count each
  // message as it travels (`id:`, `event:`, `data:` lines and the blank line).
  let streamed = 0;
  let messages = 0;
  const kinds = new Map();
  cdp.on("Network.eventSourceMessageReceived", (e) => {
    if (!counting) return;
    messages += 1;
    kinds.set(e.eventName, (kinds.get(e.eventName) || 0) + 1);
    streamed += Buffer.byteLength(e.data) + e.eventName.length + String(e.eventId || "").length + 20;
  });
  cdp.on("Network.loadingFinished", (e) => {
    if (counting) finished.set(e.requestId, e.encodedDataLength);
  });

  await sleep(Number(values.warmup));
  counting = true;
  const started = Date.now();
  await sleep(Number(values.seconds));
  counting = false;
  const elapsed = (Date.now() - started) / 1000;

  let stream = streamed;
  let other = 0;
  let requests = 0;
  for (const id of new Set([...received.keys(), ...finished.keys()])) {
    const bytes = Math.max(received.get(id) || 0, finished.get(id) || 0);
    if (streams.has(id)) continue;
    else {
      other += bytes;
      requests += 1;
    }
  }
  const kb = (bytes) => (bytes / 1024 / elapsed).toFixed(2);
  console.log(`idle tab on ${values.path} in demo mode, ${elapsed.toFixed(0)} s after ${values.warmup} s warm-up:`);
  const byKind = [...kinds].map(([kind, count]) => `${kind} ${count}`).join(", ");
  console.log(`  live stream: ${kb(stream)} KB/s (${messages} messages: ${byKind})`);
  console.log(`  other requests: ${kb(other)} KB/s (${requests} requests, ${(requests / elapsed).toFixed(2)}/s)`);
  console.log(`  total: ${kb(stream + other)} KB/s`);
  await browser.close();
} finally {
  server.kill("SIGTERM");
  await sleep(1);
  rmSync(dir, { recursive: true, force: true });
}
