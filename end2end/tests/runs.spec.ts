import { apiToken } from "./api";
import { documentWasKept, expect, logIn, markDocument, test } from "./helpers";
import type { APIRequestContext } from "@playwright/test";

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
});

test("the status filter changes the list and the URL without reloading", async ({ page }) => {
  await markDocument(page);
  await page.getByRole("link", { name: "failed", exact: true }).click();
  await expect(page).toHaveURL(/\/\?status=failed$/);
  await expect(page.getByRole("link", { name: "failed", exact: true })).toHaveAttribute("aria-current", "true");
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
  await page.getByRole("link", { name: "running", exact: true }).click();
  await expect(page).toHaveURL(/status=running/);
  await page.reload();
  await expect(page.getByRole("link", { name: "running", exact: true })).toHaveAttribute("aria-current", "true");
  for (const text of await page.locator("tbody .badge").allTextContents()) {
    expect(text.trim()).toBe("running");
  }
});

test("paging to older runs and back", async ({ page, request }) => {
  const total = await totalRuns(request);
  const second = Math.min(20, total - 20);
  await markDocument(page);
  await page.getByRole("link", { name: "Older →" }).click();
  await expect(page).toHaveURL(/offset=20/);
  await expect(page.locator("tbody tr")).toHaveCount(second);
  await expect(page.locator(".pager")).toContainText(`21–${20 + second} of ${total}`);
  await page.getByRole("link", { name: "← Newer" }).click();
  await expect(page.locator("tbody tr")).toHaveCount(20);
  expect(await documentWasKept(page)).toBe(true);
});
