import { apiToken } from "./api";
import { documentWasKept, expect, logIn, markDocument, test } from "./helpers";
import type { APIRequestContext, Page } from "@playwright/test";

/** How many runs the owner has (other specs add some), from the API. */
async function totalRuns(request: APIRequestContext) {
  const token = await apiToken(request);
  const response = await request.get("/api/runs?limit=1", { headers: { authorization: `Bearer ${token}` } });
  return (await response.json()).data.total as number;
}

test.beforeEach(async ({ page }) => {
  await logIn(page);
});

test("the runs inserted beforehand are listed newest first", async ({ page, request }) => {
  const total = await totalRuns(request);
  expect(total).toBeGreaterThanOrEqual(30);
  const rows = page.locator("tbody tr");
  await expect(rows).toHaveCount(20);
  await expect(page.locator(".pager")).toContainText(`1–20 of ${total}`);
  const times = await page.locator("tbody time").evaluateAll((nodes) =>
    nodes.map((node) => Date.parse(node.getAttribute("datetime") || "")),
  );
  const sorted = [...times].sort((a, b) => b - a);
  expect(times).toEqual(sorted);
  await expect(rows.first().locator(".agent")).not.toBeEmpty();
  const chart = page.getByRole("group", { name: /Runs created per day over 14 days/ });
  await expect(chart).toBeVisible();
  expect(await chart.locator("rect.chart-bar").count()).toBeGreaterThan(0);
  await page.screenshot({ path: "results/screenshots/runs-list.png", fullPage: true });
});

test("the status filter changes the list and the URL without reloading", async ({ page }) => {
  await markDocument(page);
  await page.locator('.chip[data-status="failed"]').click();
  // The chips write the query the search box shows.
  await expect(page).toHaveURL(/\/\?q=status%3Afailed$/);
  await expect(page.getByLabel("Search")).toHaveValue("status:failed");
  await expect(page.locator('.chip[data-status="failed"]')).toHaveAttribute("aria-current", "true");
  const badges = page.locator("tbody .badge");
  await expect(badges.first()).toHaveText("failed");
  for (const text of await badges.allTextContents()) {
    expect(text.trim()).toBe("failed");
  }
  expect(await documentWasKept(page)).toBe(true);

  // Back returns to every status, still without a reload.
  await page.goBack();
  await expect(page).toHaveURL(/\/$/);
  await expect(page.locator("tbody tr")).toHaveCount(20);
  expect(await documentWasKept(page)).toBe(true);
});

test("a filtered address survives a reload", async ({ page }) => {
  await page.locator('.chip[data-status="running"]').click();
  await expect(page).toHaveURL(/q=status%3Arunning/);
  await page.reload();
  await expect(page.locator('.chip[data-status="running"]')).toHaveAttribute("aria-current", "true");
  for (const text of await page.locator("tbody .badge").allTextContents()) {
    expect(text.trim()).toBe("running");
  }
});

test("paging to older runs by keyset and back to the newest", async ({ page, request }) => {
  const total = await totalRuns(request);
  const second = Math.min(20, total - 20);
  await markDocument(page);
  const newestFirst = await page.locator("tbody tr").first().getAttribute("data-run-id");
  await page.getByRole("link", { name: "Older →" }).click();
  await expect(page).toHaveURL(/cursor=/);
  await expect(page.locator("tbody tr")).toHaveCount(second);
  await expect(page.locator(".pager")).toContainText(`${second} older runs of ${total}`);
  expect(await page.locator("tbody tr").first().getAttribute("data-run-id")).not.toBe(newestFirst);
  await page.getByRole("link", { name: "← Newest" }).click();
  await expect(page.locator("tbody tr")).toHaveCount(20);
  await expect(page.locator("tbody tr").first()).toHaveAttribute("data-run-id", newestFirst!);
  expect(await documentWasKept(page)).toBe(true);
});

test("the status chips count the runs of each status", async ({ page, request }) => {
  const token = await apiToken(request);
  const response = await request.get("/api/runs?status=failed&limit=1", { headers: { authorization: `Bearer ${token}` } });
  const failed = (await response.json()).data.total;
  await expect(page.locator('.chip[data-status="failed"] .count')).toHaveText(String(failed));
  await expect(page.locator('.chip[data-status="all"] .count')).toHaveText(String(await totalRuns(request)));
});

/** The run ids the API lists for the page's own query string: the two must agree. */
async function apiIdsForPage(page: Page, request: APIRequestContext) {
  const token = await apiToken(request);
  const search = new URL(page.url()).search;
  const response = await request.get(`/api/runs${search}`, { headers: { authorization: `Bearer ${token}` } });
  expect(response.status()).toBe(200);
  return ((await response.json()).data.runs as { id: string }[]).map((run) => run.id);
}

async function shownIds(page: Page) {
  return page.locator("tbody tr").evaluateAll((rows) => rows.map((row) => row.getAttribute("data-run-id")));
}

test("every filter of the bar goes into the URL, survives a reload, and back undoes it", async ({ page, request }) => {
  await markDocument(page);
  // Search with an input field term: the seed's runs carry input.company_name.
  await page.getByLabel("Search").fill("input.company_name=Stripe");
  await page.getByRole("button", { name: "Apply" }).click();
  await expect(page).toHaveURL(/q=input\.company_name%3DStripe/);
  const rows = page.locator("tbody tr");
  await expect(rows.first()).toBeVisible();
  const stripe = await apiIdsForPage(page, request);
  expect(stripe.length).toBeGreaterThan(0);
  expect(await shownIds(page)).toEqual(stripe);
  expect(await documentWasKept(page)).toBe(true);

  // Agent, initiator, dates and durations together.
  await page.getByLabel("Agent", { exact: true }).fill("jobseek-add-company");
  await page.getByLabel("Initiator").fill("api");
  await page.getByLabel("Created from").fill("2000-01-01");
  await page.getByLabel("Created before").fill("2999-01-01");
  await page.getByLabel("Min duration").fill("0");
  await page.getByLabel("Max duration").fill("30h");
  await page.getByRole("button", { name: "Apply" }).click();
  // The fields and the search box are two views of one query.
  const query = "input.company_name:Stripe agent:jobseek-add-company initiator:api created:>=2000-01-01 created:<2999-01-01 duration:>=0s duration:<=30h";
  await expect(page.getByLabel("Search")).toHaveValue(query);
  await expect(page).toHaveURL(`/?q=${encodeURIComponent(query).replace(/%20/g, "+")}`);
  for (const agent of await page.locator("tbody td.agent").allTextContents()) {
    expect(agent).toBe("jobseek-add-company");
  }
  expect(await shownIds(page)).toEqual(await apiIdsForPage(page, request));
  expect(await documentWasKept(page)).toBe(true);

  // A reload renders the same filtered list from the server.
  const url = page.url();
  const before = await page.locator("tbody tr").count();
  await page.reload();
  await expect(page).toHaveURL(url);
  await expect(page.getByLabel("Agent", { exact: true })).toHaveValue("jobseek-add-company");
  await expect(page.getByLabel("Max duration")).toHaveValue("30h");
  await expect(page.locator("tbody tr")).toHaveCount(before);

  // Picked fields apply as they change: Back undoes one change at a time, back
  // to the search alone.
  for (let step = 0; step < 8 && !/q=input\.company_name%3DStripe$/.test(page.url()); step++) {
    await page.goBack();
  }
  await expect(page).toHaveURL(/q=input\.company_name%3DStripe$/);
});

test.describe("contradictory ranges", () => {
  test.use({ expectedStatuses: [400, 401] });

  test("a contradictory range is explained, not answered with no runs", async ({ page }) => {
    await page.getByLabel("Min duration").fill("5m");
    await page.getByLabel("Max duration").fill("90s");
    await page.getByRole("button", { name: "Apply" }).click();
    await expect(page.getByRole("alert")).toContainText("duration:<= (90s) must not be less than duration:>= (5m)");
    await page.goto("/?createdAfter=2026-12-02&createdBefore=2026-12-01");
    await expect(page.getByRole("alert")).toContainText("createdBefore (2026-12-01 00:00:00 UTC) must be later than createdAfter");
  });
});

test("a filter that matches nothing says so", async ({ page }) => {
  await page.getByLabel("Agent", { exact: true }).fill("no-such-agent");
  await page.getByRole("button", { name: "Apply" }).click();
  await expect(page.getByRole("heading", { name: "No runs match these filters" })).toBeVisible();
});
