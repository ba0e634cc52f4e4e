// Live updates: with a page open, runner callbacks posted over HTTP change it
// without a reload; a stream cut by a server restart resumes without a loss.
import { spawn, type ChildProcess } from "node:child_process";
import { once } from "node:events";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { type APIRequestContext, type Page } from "@playwright/test";
import { OWNER_EMAIL, OWNER_PASSWORD, serverEnv } from "../playwright.config";
import { apiToken, createRun, PNG, report, upload } from "./api";
import { documentWasKept, expect, gotoHydrated, logIn, markDocument, test } from "./helpers";

async function expectLive(page: Page) {
  await expect(page.locator(".live-indicator")).toHaveAttribute("data-live", "live");
}

test("new runs wait behind a pill; a shown row follows its run in place and keeps the focus", async ({ page, request }) => {
  await logIn(page);
  await expectLive(page);
  await markDocument(page);
  const token = await apiToken(request);
  const summary = `Live list ${Date.now()}`;
  const { id, runner } = await createRun(request, token, { agent: "live-agent", summary });

  // The list does not move under the reader: the new run is announced.
  const pill = page.locator(".new-runs-pill");
  await expect(pill).toHaveText("1 new run — show");
  await expect(page.getByRole("link", { name: summary })).toHaveCount(0);
  await pill.click();
  const link = page.getByRole("link", { name: summary });
  await expect(link).toBeVisible();
  await expect(pill).toHaveCount(0);

  const row = page.locator("tbody tr", { has: link });
  await expect(row.locator(".badge")).toHaveText("requested");
  const runningBefore = Number(await page.locator('.chip[data-status="running"] .count').textContent());
  await link.focus();

  // Its run changes, and newer runs arrive: the row changes in place, the
  // focused link is the same element on the same run.
  await report(request, runner, id, "status", { status: "running", progress: 0.4 });
  await createRun(request, token, { agent: "live-agent", summary: `${summary} (newer 1)` });
  await createRun(request, token, { agent: "live-agent", summary: `${summary} (newer 2)` });
  await expect(row.locator(".badge")).toHaveText("running");
  await expect(row.locator(".progress")).toHaveAttribute("aria-valuenow", "40");
  await expect(page.locator('.chip[data-status="running"] .count')).toHaveText(String(runningBefore + 1));
  await expect(pill).toHaveText("2 new runs — show");
  expect(await page.evaluate(() => (document.activeElement as HTMLAnchorElement | null)?.getAttribute("href"))).toBe(`/runs/${id}`);
  // Enter opens the focused run.
  await page.keyboard.press("Enter");
  await expect(page).toHaveURL(new RegExp(`/runs/${id}$`));
  expect(await documentWasKept(page)).toBe(true);
});

test("the list's news respect its filters", async ({ page, request }) => {
  await logIn(page);
  await gotoHydrated(page, "/?agent=live-filtered");
  await expectLive(page);
  const token = await apiToken(request);
  const hidden = `Other agent ${Date.now()}`;
  const shown = `Filtered agent ${Date.now()}`;
  await createRun(request, token, { agent: "live-elsewhere", summary: hidden });
  await createRun(request, token, { agent: "live-filtered", summary: shown });
  await expect(page.locator(".new-runs-pill")).toHaveText("1 new run — show");
  await page.locator(".new-runs-pill").click();
  await expect(page.getByRole("link", { name: shown })).toBeVisible();
  await expect(page.getByRole("link", { name: hidden })).toHaveCount(0);
});

test("a list tab's stream carries run-level changes only, in brief", async ({ page, request }) => {
  const streams: string[] = [];
  page.on("request", (request) => {
    if (request.url().includes("/api/events/stream")) streams.push(request.url());
  });
  await logIn(page);
  await expectLive(page);
  expect(streams.at(-1)).toContain("kinds=run.deleted,bulk_job.changed,run.brief");
  expect(streams.at(-1)).not.toContain("events.appended");
  expect(streams.at(-1)).not.toContain("run.updated");
  // A run's page follows that run, every kind its page shows.
  const token = await apiToken(request);
  const { id } = await createRun(request, token, { agent: "live-agent", summary: "Stream scope" });
  await gotoHydrated(page, `/runs/${id}`);
  await expectLive(page);
  expect(streams.at(-1)).toContain(`runId=${id}`);
  expect(streams.at(-1)).toContain("events.appended");
});

test("the run page follows status, steps, log tail and artifacts live", async ({ page, request }) => {
  const token = await apiToken(request);
  const { id, runner } = await createRun(request, token, { agent: "live-agent", summary: "Live run page" });
  await logIn(page);
  await gotoHydrated(page, `/runs/${id}`);
  await expectLive(page);
  await markDocument(page);
  await expect(page.locator(".run-title .badge")).toHaveText("requested");

  await report(request, runner, id, "status", { status: "running", progress: 0.3 });
  await expect(page.locator(".run-title .badge")).toHaveText("running");
  await expect(page.getByRole("progressbar")).toHaveAttribute("aria-valuenow", "30");

  await report(request, runner, id, "steps", { stepId: "plan", idx: 0, name: "Plan", status: "running" });
  await expect(page.locator(".timeline-row")).toHaveCount(1);
  await report(request, runner, id, "steps", { stepId: "plan", idx: 0, status: "completed" });
  await report(request, runner, id, "steps", { stepId: "build", idx: 1, name: "Build", status: "running" });
  await expect(page.locator(".timeline-row")).toHaveCount(2);
  await expect(page.locator(".timeline .bar").first()).toHaveClass(/status-completed/);

  // The log tail: small batches come with the message, a large one is fetched.
  await report(request, runner, id, "events", { eventType: "agent.start", message: "live line 1" });
  await expect(page.locator(".log-line")).toHaveCount(1);
  const batch = Array.from({ length: 79 }, (_, i) => ({ eventType: "agent.progress", message: `live line ${i + 2}` }));
  await report(request, runner, id, "events", { events: batch });
  await expect(page.locator(".log-line")).toHaveCount(80);
  await expect(page.locator(".log-line").last()).toContainText("live line 80");
  // Following the tail: the newest line is scrolled into view.
  await expect
    .poll(() => page.locator(".log-scroll").evaluate((box) => box.scrollTop + box.clientHeight >= box.scrollHeight - 30))
    .toBe(true);

  await upload(request, runner, id, "live.png", "image/png", PNG);
  await expect(page.locator("img.preview-image")).toBeVisible();

  await report(request, runner, id, "status", { status: "completed" });
  await expect(page.locator(".run-title .badge")).toHaveText("completed");
  await expect(page.getByRole("button", { name: "Cancel run" })).toHaveCount(0);
  expect(await documentWasKept(page)).toBe(true);
  await page.screenshot({ path: "results/screenshots/run-page-live.png", fullPage: true });
});

test("a reader who scrolled up is not moved; new events wait behind Load more", async ({ page, request }) => {
  const token = await apiToken(request);
  const { id, runner } = await createRun(request, token, { agent: "live-agent", summary: "Scrolled log" });
  const lines = Array.from({ length: 60 }, (_, i) => ({ eventType: "agent.progress", message: `old ${i + 1}` }));
  await report(request, runner, id, "events", { events: lines });
  await logIn(page);
  await gotoHydrated(page, `/runs/${id}`);
  await expectLive(page);
  await page.locator(".log-scroll").evaluate((box) => box.scrollTo(0, 0));
  await page.locator(".log-scroll").dispatchEvent("scroll");

  await report(request, runner, id, "events", { eventType: "agent.progress", message: "arrived later" });
  await expect(page.locator(".new-events")).toHaveText("1 new");
  await expect(page.locator(".log-line")).toHaveCount(60);
  expect(await page.locator(".log-scroll").evaluate((box) => box.scrollTop)).toBe(0);
  await page.getByRole("button", { name: "Load more" }).click();
  await expect(page.locator(".log-line")).toHaveCount(61);
  await expect(page.locator(".log-line").last()).toContainText("arrived later");
});

// A second server of its own (own port and database), so that it can be stopped.
const bin = process.env.RUNBOARD_BIN || resolve(__dirname, "../../target/debug/runboard");
const restartPort = Number(process.env.RUNBOARD_E2E_PORT || 3100) + 2;
const restartBase = `http://127.0.0.1:${restartPort}`;

async function startServer(dir: string): Promise<ChildProcess> {
  const child = spawn(bin, [], {
    env: {
      ...process.env,
      ...serverEnv,
      DATABASE_URL: `sqlite://${dir}/restart.db`,
      LEPTOS_SITE_ADDR: `127.0.0.1:${restartPort}`,
      RUNBOARD_ARTIFACT_DIR: join(dir, "artifacts"),
    },
    stdio: "ignore",
  });
  for (let attempt = 0; attempt < 100; attempt++) {
    try {
      if ((await fetch(`${restartBase}/healthz`)).ok) return child;
    } catch {
      // not listening yet
    }
    await new Promise((done) => setTimeout(done, 100));
  }
  child.kill("SIGKILL");
  throw new Error("the second server did not start");
}

async function stopServer(child: ChildProcess) {
  const exited = once(child, "exit");
  child.kill("SIGTERM");
  await exited;
}

test.describe("restarting the server", () => {
  test.use({ toleratedErrors: [/ERR_CONNECTION_REFUSED|ERR_FAILED|ERR_INCOMPLETE_CHUNKED_ENCODING|EventSource/] });

  test("the page resumes from its last message and loses none", async ({ page, playwright }) => {
    const dir = mkdtempSync(join(tmpdir(), "runboard-restart-"));
    let server = await startServer(dir);
    const api: APIRequestContext = await playwright.request.newContext({ baseURL: restartBase });
    try {
      const token = await apiToken(api);
      const { id, runner } = await createRun(api, token, { agent: "restart-agent", summary: "Survives a restart" });

      await gotoHydrated(page, `${restartBase}/login`);
      await page.getByLabel("Email").fill(OWNER_EMAIL);
      await page.getByLabel("Password").fill(OWNER_PASSWORD);
      await page.getByRole("button", { name: "Log in" }).click();
      await expect(page.getByRole("heading", { name: "Runs" })).toBeVisible();
      await page.goto(`${restartBase}/runs/${id}`);
      await expect(page.locator("body")).toHaveAttribute("data-hydrated", "true");
      await expectLive(page);
      await markDocument(page);
      await report(api, runner, id, "events", { eventType: "agent.start", message: "before the restart" });
      await expect(page.locator(".log-line")).toHaveCount(1);

      // Keep the browser from reconnecting while changes are committed, so that
      // they can only reach the page by being replayed from its last id.
      await page.route("**/api/events/stream**", (route) => route.abort());
      await stopServer(server);
      await expect(page.locator(".live-indicator")).toHaveAttribute("data-live", "reconnecting");
      server = await startServer(dir);
      await report(api, runner, id, "status", { status: "running", progress: 0.6 });
      await report(api, runner, id, "steps", { stepId: "resume", idx: 0, name: "Resume", status: "running" });
      const missed = Array.from({ length: 5 }, (_, i) => ({ eventType: "agent.progress", message: `while away ${i + 1}` }));
      await report(api, runner, id, "events", { events: missed });
      await page.waitForTimeout(1500);
      await expect(page.locator(".log-line")).toHaveCount(1);

      await page.unroute("**/api/events/stream**");
      await expectLive(page);
      await expect(page.locator(".run-title .badge")).toHaveText("running");
      await expect(page.locator(".timeline-row")).toHaveCount(1);
      await expect(page.locator(".log-line")).toHaveCount(6);
      await expect(page.locator(".log-line").last()).toContainText("while away 5");
      // Nothing twice: a duplicate would make a seventh line.
      await report(api, runner, id, "events", { eventType: "agent.complete", message: "after the restart" });
      await expect(page.locator(".log-line")).toHaveCount(7);
      const seqs = await page.locator(".log-line").evaluateAll((lines) => lines.map((line) => line.getAttribute("data-seq")));
      expect(seqs).toEqual(["1", "2", "3", "4", "5", "6", "7"]);
      expect(await documentWasKept(page)).toBe(true);
    } finally {
      await api.dispose();
      await stopServer(server);
    }
  });
});
