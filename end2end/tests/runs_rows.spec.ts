// The runs list's rows and chart: a whole row opens its run, a short id with a
// copy button, and a chart with a legend and scale whose bars list their runs.
import { apiToken, createRun, report } from "./api";
import { expect, gotoHydrated, logIn, test } from "./helpers";

test("a click anywhere on a row opens its run; the id column shows and copies its id", async ({ page, request, context }) => {
  await context.grantPermissions(["clipboard-read", "clipboard-write"]);
  const token = await apiToken(request);
  const agent = `rows-${Date.now()}`;
  const { id } = await createRun(request, token, { agent, summary: "Row click" });
  await logIn(page);
  await gotoHydrated(page, `/?agent=${agent}`);
  const row = page.locator("tbody tr", { has: page.getByRole("link", { name: "Row click" }) });
  const shortId = id.replace(/-/g, "").slice(-8);
  await expect(row.locator("td.id-cell code")).toHaveText(shortId);
  await row.getByRole("button", { name: `Copy the id of run ${shortId}` }).click();
  await expect(row.locator(".copy-id .copied")).toHaveText("✓");
  expect(await page.evaluate(() => navigator.clipboard.readText())).toBe(id);
  // The copy button and the checkbox do not open the run; the row's cells do.
  await expect(page).toHaveURL(new RegExp(`\\?agent=${agent}$`));
  await row.locator("td.agent").click();
  await expect(page).toHaveURL(new RegExp(`/runs/${id}$`));
});

test("the chart has a legend and a scale, and a bar lists that day's runs of its status", async ({ page, request }) => {
  const token = await apiToken(request);
  const agent = `chart-${Date.now()}`;
  for (const status of ["completed", "failed", "failed"]) {
    const run = await createRun(request, token, { agent, summary: `Chart ${status}` });
    await report(request, run.runner, run.id, "status", { status });
  }
  await logIn(page);
  await gotoHydrated(page, `/?agent=${agent}`);
  const chart = page.locator(".runs-chart");
  await expect(chart.locator(".legend-item")).toHaveText(["completed", "failed"]);
  await expect(chart.locator(".chart-scale span").first()).toHaveText("3");
  await expect(chart.locator("svg text").last()).toHaveText("Today");
  await chart.locator("svg a", { has: page.locator("rect.status-failed") }).click();
  // The bar's day and status join the query (the agent of the link with them).
  await expect(page.getByLabel("Search")).toHaveValue(/^agent:chart-\d+ status:failed created:>=\d{4}-\d\d-\d\d created:<\d{4}-\d\d-\d\d$/);
  await expect(page.locator("tbody tr")).toHaveCount(2);

  // The last 24 hours are charted by the hour; a bar lists that hour's runs.
  await gotoHydrated(page, `/?agent=${agent}&createdAfter=-24h`);
  await expect(chart).toHaveAttribute("data-bucket", "hour");
  await expect(chart.locator("svg text").last()).toHaveText(/^\d\d:00$/);
  await expect(chart.locator(".legend-hint")).toContainText("per hour (UTC)");
  await chart.locator("svg a", { has: page.locator("rect.status-completed") }).click();
  await expect(page.getByLabel("Search")).toHaveValue(/status:completed created:>=\d{4}-\d\d-\d\dT\d\d:00:00Z created:<\d{4}-\d\d-\d\dT\d\d:00:00Z$/);
  await expect(page.locator("tbody tr")).toHaveCount(1);
});

test("status chips select several statuses; time presets stay relative in the address", async ({ page, request }) => {
  const token = await apiToken(request);
  const agent = `presets-${Date.now()}`;
  for (const status of ["completed", "failed", "cancelled"]) {
    const run = await createRun(request, token, { agent, summary: `Preset ${status}` });
    await report(request, run.runner, run.id, "status", { status });
  }
  await logIn(page);
  await gotoHydrated(page, `/?agent=${agent}`);
  await page.locator('.chip[data-status="failed"]').click();
  await expect(page).toHaveURL(/q=agent%3Apresets-\d+\+status%3Afailed$/);
  await page.locator('.chip[data-status="cancelled"]').click();
  await expect(page).toHaveURL(/status%3Afailed%2Ccancelled$/);
  await expect(page.locator("tbody tr")).toHaveCount(2);
  await expect(page.locator('.chip[aria-current="true"]').filter({ has: page.locator(".count") })).toHaveCount(2);
  // A chip chosen again leaves the selection.
  await page.locator('.chip[data-status="failed"]').click();
  await expect(page).toHaveURL(/status%3Acancelled$/);
  await expect(page.locator("tbody tr")).toHaveCount(1);

  // The last hour holds them all; a preset is a time ago, kept as such.
  await page.locator('.chip[data-range="-1h"]').click();
  await expect(page).toHaveURL(/created%3A%3E-1h/);
  await expect(page.locator('.chip[data-range="-1h"]')).toHaveAttribute("aria-current", "true");
  await expect(page.locator("tbody tr")).toHaveCount(1);
  // Another filter applied keeps the preset.
  await page.getByLabel("Min duration").fill("0s");
  await page.getByLabel("Min duration").press("Enter");
  await expect(page.getByLabel("Search")).toHaveValue(`agent:${agent} status:cancelled created:>-1h duration:>=0s`);
  await page.locator('.chip[data-range="any"]').click();
  await expect(page).not.toHaveURL(/created/);
  // What is typed in the box moves the chips and the fields.
  await page.getByLabel("Search").fill(`agent:${agent} status:completed,failed duration:<=5m`);
  await page.getByRole("button", { name: "Apply" }).click();
  await expect(page.locator('.chip[aria-current="true"]').filter({ has: page.locator(".count") })).toHaveCount(2);
  await expect(page.getByLabel("Max duration")).toHaveValue("5m");
  await expect(page.getByLabel("Agent", { exact: true })).toHaveValue(agent);
  await expect(page.locator("tbody tr")).toHaveCount(2);
});

test("Created and Duration headers sort the list both ways; a word search keeps newest first", async ({ page, request }) => {
  const token = await apiToken(request);
  const agent = `sort-${Date.now()}`;
  const made: string[] = [];
  // Oldest first: "Sort slow" runs about a second, the others finish at once.
  for (const [summary, secs] of [["Sort slow", 1.2], ["Sort quick", 0], ["Sort middle", 0.5]] as const) {
    const run = await createRun(request, token, { agent, summary });
    await report(request, run.runner, run.id, "status", { status: "running" });
    if (secs > 0) await new Promise((resolve) => setTimeout(resolve, secs * 1000));
    await report(request, run.runner, run.id, "status", { status: "completed" });
    made.push(summary);
  }
  await logIn(page);
  await gotoHydrated(page, `/?agent=${agent}`);
  const titles = page.locator("tbody tr td.summary a");
  const created = page.locator("th", { hasText: "Created" });
  const duration = page.locator("th", { hasText: "Duration" });
  await expect(titles).toHaveText([...made].reverse());
  await expect(created).toHaveAttribute("aria-sort", "descending");
  await expect(duration).toHaveAttribute("aria-sort", "none");

  await created.getByRole("link").click();
  await expect(page).toHaveURL(/sort=createdAt/);
  await expect(titles).toHaveText(made);
  await expect(created).toHaveAttribute("aria-sort", "ascending");

  await duration.getByRole("link").click();
  await expect(page).toHaveURL(/sort=-durationMs/);
  await expect(titles).toHaveText(["Sort slow", "Sort middle", "Sort quick"]);
  await expect(duration).toHaveAttribute("aria-sort", "descending");
  await expect(created).toHaveAttribute("aria-sort", "none");
  await duration.getByRole("link").click();
  await expect(page).toHaveURL(/sort=durationMs/);
  await expect(titles).toHaveText(["Sort quick", "Sort middle", "Sort slow"]);

  // Back to newest first: the default leaves `sort` out of the address.
  await created.getByRole("link").click();
  await expect(page).not.toHaveURL(/sort=/);
  await expect(titles).toHaveText([...made].reverse());

  // On a phone the runs are cards without headers: the order is a select above them.
  await page.setViewportSize({ width: 390, height: 844 });
  await page.getByLabel("Order").selectOption({ label: "Shortest first" });
  await expect(page).toHaveURL(/sort=durationMs/);
  await expect(titles).toHaveText(["Sort quick", "Sort middle", "Sort slow"]);
  await page.setViewportSize({ width: 1440, height: 900 });

  // A search for words lists newest first only: the headers do not offer another order.
  await gotoHydrated(page, `/?agent=${agent}&q=Sort`);
  await expect(titles).toHaveCount(3);
  await expect(created.getByRole("link")).toHaveCount(0);
  await expect(duration.getByRole("link")).toHaveCount(0);
  await expect(page.locator('.order-select option[value="-durationMs"]')).toBeDisabled();
});
