// An agent's health page: its numbers over a window, the stacked chart whose bars
// lead to the filtered run list, the failing steps with their codes, and the
// agents list's last 24 hours leading to it.
import { apiToken, createRun, report } from "./api";
import { expect, gotoHydrated, logIn, screenshots, test } from "./helpers";

test("an agent's health page charts its runs and leads to them", async ({ page, request }) => {
  const token = await apiToken(request);
  const outcomes = ["completed", "completed", "completed", "failed"];
  for (const [index, outcome] of outcomes.entries()) {
    const run = await createRun(request, token, { agent: "health-crawler", input: { n: index } });
    await report(request, run.runner, run.id, "status", { status: "running" });
    await report(request, run.runner, run.id, "steps", { stepId: "fetch", status: "running" });
    const failed = outcome === "failed";
    await report(request, run.runner, run.id, "steps", {
      stepId: "fetch",
      status: failed ? "failed" : "completed",
      cacheHit: index === 0,
      ...(failed ? { error: { code: "http_502", message: "upstream" } } : {}),
    });
    await report(request, run.runner, run.id, "events", {
      events: [{ eventType: "llm", message: "call", metadata: { tokens: 250, costUsd: 0.5 } }],
    });
    await report(request, run.runner, run.id, "status", { status: outcome });
  }

  await logIn(page);
  await gotoHydrated(page, "/agents");
  const row = page.locator('tr[data-agent="health-crawler"]');
  await expect(row).toContainText("4 runs");
  await expect(row).toContainText("75 % succeeded");
  await row.getByRole("link", { name: "health-crawler" }).click();

  await expect(page).toHaveURL(/\/agents\/health-crawler$/);
  await expect(page.getByRole("heading", { level: 1 })).toHaveText("health-crawler");
  const tiles = page.locator(".health-tiles");
  await expect(tiles).toContainText("Runs4");
  await expect(tiles).toContainText("75.0 %");
  await expect(tiles).toContainText("1 failed");
  await expect(tiles).toContainText("25.0 %"); // cache hits: 1 of 4 steps
  await expect(tiles).toContainText("1,000");
  await expect(tiles).toContainText("$2.00");
  await expect(page.locator(".failing-steps")).toContainText("fetch");
  await expect(page.locator(".failing-steps")).toContainText("http_502 × 1");
  await expect(page.locator(".chart-legend").first()).toContainText("completed 3");
  await screenshots(page, "agent-health");

  // Another window, then a bar of the chart: the run list of exactly those runs.
  await page.getByRole("link", { name: "7 days" }).click();
  await expect(page).toHaveURL(/window=7d/);
  await expect(page.locator(".health-chart rect.status-failed")).toHaveCount(1);
  await page.locator(".health-chart a", { has: page.locator("rect.status-failed") }).click();
  await expect(page).toHaveURL(/\/\?q=agent%3Ahealth-crawler/);
  await expect(page.locator("table.runs tbody tr")).toHaveCount(1);
  await expect(page.locator("table.runs tbody tr")).toContainText("failed");
});
