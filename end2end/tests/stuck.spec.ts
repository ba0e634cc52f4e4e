// Runs never stay stuck: an owner sets an agent's heartbeat timeout on the
// agents page, and a run whose runner goes silent turns `stalled` live on its
// open page, with the reason in its error box and its log. The server sweeps
// every second here (RUNBOARD_SWEEP_SECS in playwright.config.ts).
import { apiToken, createRun, report } from "./api";
import { expect, gotoHydrated, logIn, screenshots, test } from "./helpers";

test("an owner sets an agent's limits, and a silent run turns stalled live on its page", async ({ page, request }) => {
  test.setTimeout(60_000);
  const token = await apiToken(request);
  const agent = `stall-${Date.now()}`;
  // The agent exists from its first run on; this one finishes at once.
  const first = await createRun(request, token, { agent, summary: "First run" });
  await report(request, first.runner, first.id, "status", { status: "completed" });

  await logIn(page);
  await gotoHydrated(page, "/agents");
  const row = page.locator(`tr[data-agent="${agent}"]`);
  await expect(row.locator(".limit-list")).toContainText("Heartbeat timeout: 10 min");
  await expect(row.locator(".limit-list")).toContainText("Claim lease: 1 min");
  await row.getByText("Edit limits").click();
  await row.getByLabel(`Heartbeat timeout of ${agent}`).fill("3");
  await row.getByLabel(`Maximum attempts of ${agent}`).fill("1");
  await row.getByRole("button", { name: "Save limits" }).click();
  await expect(page.locator(`tr[data-agent="${agent}"] .limit-list`)).toContainText("Heartbeat timeout: 3 s");
  const stored = await request.get("/api/agents", { headers: { authorization: `Bearer ${token}` } });
  const agents = (await stored.json()).data.agents as { slug: string; heartbeatTimeoutSecs: number | null; maxAttempts: number | null }[];
  const saved = agents.find((each) => each.slug === agent);
  expect(saved?.heartbeatTimeoutSecs).toBe(3);
  expect(saved?.maxAttempts).toBe(1);
  await screenshots(page, "agents-limits");

  const { id, runner } = await createRun(request, token, { agent, summary: "Goes silent" });
  await report(request, runner, id, "status", { status: "running", progress: 0.2 });
  const runningSince = Date.now();
  // Heartbeats every second keep it alive past the 3 s it would otherwise
  // get, however long the page below takes to load on a busy machine.
  const beats: number[] = [];
  const beating = setInterval(() => {
    request
      .post(`/api/runner/runs/${id}/heartbeat`, { headers: { authorization: `Bearer ${runner}` } })
      .then((beat) => beats.push(beat.status()))
      .catch(() => beats.push(0));
  }, 1_000);
  try {
    await gotoHydrated(page, `/runs/${id}`);
    await expect(page.locator(".run-title .badge")).toHaveText("running");
    await expect(page.getByTestId("runner-contact")).toContainText("Last heard from the runner");
    await page.screenshot({ path: "results/screenshots/run-heard-from-1440.png" });
    await page.waitForTimeout(Math.max(0, 6_000 - (Date.now() - runningSince)));
    await expect(page.locator(".run-title .badge")).toHaveText("running");
  } finally {
    clearInterval(beating);
  }
  expect(beats.length).toBeGreaterThanOrEqual(4);
  expect(beats.every((status) => status === 200)).toBe(true);

  // Then the runner goes silent: the sweeper fails the run, and the open page shows it.
  await expect(page.locator(".run-title .badge")).toHaveText("failed", { timeout: 15_000 });
  await expect(page.locator(".run-error")).toContainText("stalled");
  await expect(page.locator(".run-error")).toContainText("heartbeat timeout");
  await expect(page.locator(".event-type", { hasText: /^stalled$/ })).toBeVisible();
  await expect(page.getByTestId("runner-contact")).toHaveCount(0);
  const late = await request.post(`/api/runner/runs/${id}/status`, {
    data: { status: "completed" },
    headers: { authorization: `Bearer ${runner}` },
  });
  expect(late.status()).toBe(409);
  expect((await late.json()).error.code).toBe("run_finished");
  await screenshots(page, "run-stalled");
});
