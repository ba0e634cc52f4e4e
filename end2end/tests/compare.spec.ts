// Run comparison: from a failed run's page, "Compare with…" opens it beside the
// agent's previous completed run, with the differences marked; another run is
// picked by id.
import { apiToken, createRun, PNG, report, upload } from "./api";
import { expect, gotoHydrated, logIn, screenshots, test } from "./helpers";

test("a failed run is compared with the previous completed run, then with another", async ({ page, request }) => {
  const token = await apiToken(request);
  const agent = `compare-${Date.now()}`;
  const good = await createRun(request, token, {
    agent,
    summary: "Crawl acme.com",
    input: { company: { name: "Acme", size: 10 }, depth: 2 },
  });
  await report(request, good.runner, good.id, "status", { status: "running" });
  await report(request, good.runner, good.id, "steps", { stepId: "fetch", idx: 0, name: "Fetch pages", status: "completed", startedAt: "2026-12-01T10:00:00Z", endedAt: "2026-12-01T10:00:01.500Z" });
  await report(request, good.runner, good.id, "steps", { stepId: "parse", idx: 1, name: "Parse", status: "completed", startedAt: "2026-12-01T10:00:02Z", endedAt: "2026-12-01T10:00:02.400Z" });
  await report(request, good.runner, good.id, "events", { events: [
    { eventType: "start", message: "starting" },
    { eventType: "fetch", message: "fetched 12 pages" },
    { eventType: "parse", message: "parsed" },
  ] });
  await report(request, good.runner, good.id, "artifacts", { artifactType: "report", name: "summary.md", inlineText: "# Acme\nPages: 12\nStatus: fine\n" });
  await upload(request, good.runner, good.id, "page.png", "image/png", PNG);
  await report(request, good.runner, good.id, "status", { status: "completed" });

  const bad = await createRun(request, token, {
    agent,
    summary: "Crawl stripe.com",
    input: { company: { name: "Stripe", size: 10 }, depth: 2, proxy: true },
  });
  await report(request, bad.runner, bad.id, "status", { status: "running" });
  await report(request, bad.runner, bad.id, "steps", { stepId: "fetch", idx: 0, name: "Fetch pages", attempt: 1, status: "failed" });
  await report(request, bad.runner, bad.id, "steps", { stepId: "fetch", idx: 0, name: "Fetch pages", attempt: 2, status: "completed", startedAt: "2026-12-01T11:00:00Z", endedAt: "2026-12-01T11:00:04Z" });
  await report(request, bad.runner, bad.id, "steps", { stepId: "parse", idx: 1, name: "Parse", status: "failed", error: { code: "bad_html" } });
  await report(request, bad.runner, bad.id, "events", { events: [
    { eventType: "start", message: "starting" },
    { eventType: "fetch", message: "fetched 3 pages" },
    { eventType: "retry", message: "rate limited, retrying" },
  ] });
  await report(request, bad.runner, bad.id, "artifacts", { artifactType: "report", name: "summary.md", inlineText: "# Stripe\nPages: 12\nStatus: broken\n" });
  await upload(request, bad.runner, bad.id, "page.png", "image/png", PNG);
  await report(request, bad.runner, bad.id, "status", { status: "failed", error: { code: "parse_failed", message: "could not parse the pricing page" } });

  await logIn(page);
  await gotoHydrated(page, `/runs/${bad.id}`);
  await page.getByRole("link", { name: "Compare with…" }).click();
  await expect(page).toHaveURL(new RegExp(`/runs/${bad.id}/compare$`));
  await expect(page.getByRole("heading", { level: 1 })).toHaveText("Compare runs");
  const cards = page.locator(".compare-card");
  await expect(cards.nth(0)).toContainText(bad.id.slice(-8));
  await expect(cards.nth(1)).toContainText(good.id.slice(-8));
  await expect(cards.nth(1)).toContainText("completed");

  const summary = page.getByTestId("compare-summary");
  await expect(summary).toContainText("2 input fields differ");
  await expect(summary).toContainText("2 steps differ");
  await expect(summary).toContainText("error differs");
  await expect(summary).toContainText("1 artifact differs");
  await expect(summary).toContainText("logs part at event 3");

  // Input: changed and added fields shown, the unchanged ones folded away.
  const input = page.locator("table.compare-input tbody");
  await expect(input.locator("tr", { hasText: "company.name" })).toContainText('"Stripe"');
  await expect(input.locator("tr", { hasText: "company.name" })).toContainText('"Acme"');
  await expect(input.locator("tr", { hasText: "proxy" })).toContainText("only in this run");
  await expect(input.locator("tr", { hasText: "depth" })).toHaveCount(0);
  await page.getByLabel(/Show 2 unchanged fields/).check();
  await expect(input.locator("tr", { hasText: "depth" })).toContainText("same");

  // Steps: attempts and the duration delta; the failed step's change.
  const fetch = page.locator("table.compare-steps tbody tr", { hasText: "Fetch pages" });
  await expect(fetch).toContainText("2 attempts");
  await expect(fetch).toContainText("+2.5 s");
  await expect(page.locator("table.compare-steps tbody tr", { hasText: "Parse" })).toContainText("failed");

  // Artifacts: the text diff, images side by side.
  const report_ = page.getByTestId("compare-artifact").filter({ hasText: "summary.md" });
  await expect(report_.locator("tr.insert")).toContainText(["# Stripe", "Status: broken"]);
  await expect(report_.locator("tr.delete")).toContainText(["# Acme", "Status: fine"]);
  const images = page.getByTestId("compare-artifact").filter({ hasText: "page.png" }).locator("img");
  await expect(images).toHaveCount(2);
  await expect(page.getByTestId("log-divergence")).toContainText("event 3 is where the logs part");
  await expect(page.locator(".compare-event").first()).toContainText("retry");
  await screenshots(page, "compare");

  // Any other run, by id: the picker.
  const other = await createRun(request, token, { agent, summary: "Queued crawl", input: { company: { name: "Stripe", size: 10 } } });
  await page.getByLabel("Compare with").fill(other.id);
  await page.getByRole("button", { name: "Compare", exact: true }).click();
  await expect(page).toHaveURL(new RegExp(`/runs/${bad.id}/compare/${other.id}$`));
  await expect(cards.nth(1)).toContainText(other.id.slice(-8));
  await expect(summary).toContainText("2 input fields differ");
});

test("a run with no completed run before it says so and offers the picker", async ({ page, request }) => {
  const token = await apiToken(request);
  const first = await createRun(request, token, { agent: `lonely-${Date.now()}`, input: {} });
  await logIn(page);
  await gotoHydrated(page, `/runs/${first.id}/compare`);
  await expect(page.getByTestId("no-baseline")).toContainText("No completed run to compare with");
  await expect(page.getByLabel("Compare with")).toBeVisible();
});
