// Bulk actions and export from the runs list: an owner retries "all matching"
// failed runs after a confirmation that states the exact count, follows the job's
// progress, and downloads the matching runs as CSV.
import { readFileSync } from "node:fs";
import { apiToken, createRun, report } from "./api";
import { expect, gotoHydrated, logIn, screenshots, test } from "./helpers";

test("a bulk retry of all matching runs with its progress, and an export download", async ({ page, request }) => {
  const token = await apiToken(request);
  const failed: string[] = [];
  for (const company of ["Stripe", "Acme", "Globex"]) {
    const run = await createRun(request, token, { agent: "bulk-crawler", input: { company_name: company } });
    await report(request, run.runner, run.id, "status", { status: "failed", error: { message: "boom" } });
    failed.push(run.id);
  }
  // Matches the query but is not retryable: the preview says it is left alone.
  await createRun(request, token, { agent: "bulk-crawler", input: { company_name: "Initech" } });

  await logIn(page);
  await gotoHydrated(page, "/?q=agent%3Abulk-crawler&fields=input.company_name");
  await expect(page.locator("table.runs tbody tr")).toHaveCount(4);

  await page.getByLabel("Bulk action").selectOption("retry");
  await page.getByRole("button", { name: "Run on all 4 matching…" }).click();
  const confirmation = page.getByRole("alertdialog", { name: "Confirm the bulk action" });
  await expect(confirmation).toContainText("Retry 3 of 4 matching runs?");
  await expect(confirmation).toContainText("1 would be left as they are");
  await screenshots(page, "bulk-confirm");
  await confirmation.getByRole("button", { name: "Yes, retry" }).click();
  const job = page.locator(".bulk-job");
  await expect(job).toHaveAttribute("data-status", "done");
  await expect(job).toContainText("4 of 4 · 3 changed, 1 skipped, 0 failed");
  await expect(job.getByRole("progressbar")).toHaveAttribute("aria-valuenow", "100");
  // The retries are announced live, and shown on request.
  await expect(page.locator(".new-runs-pill")).toHaveText("3 new runs — show");
  await page.locator(".new-runs-pill").click();
  await expect(page.locator("table.runs tbody tr")).toHaveCount(7);
  const runs = await request.get("/api/runs?q=agent%3Abulk-crawler%20retryOf%3A*", {
    headers: { authorization: `Bearer ${token}` },
  });
  expect((await runs.json()).data.total).toBe(3);

  // Export every matching run with the list's columns.
  const [download] = await Promise.all([
    page.waitForEvent("download"),
    page.getByRole("link", { name: "Export CSV" }).click(),
  ]);
  expect(download.suggestedFilename()).toMatch(/^runs-.*\.csv$/);
  const csv = readFileSync(await download.path(), "utf8").trim().split(/\r?\n/);
  expect(csv[0]).toBe("input.company_name");
  expect(csv.length).toBe(8);
  expect(csv.slice(1).sort()).toEqual(["Acme", "Acme", "Globex", "Globex", "Initech", "Stripe", "Stripe"]);
});

test("ticked rows are what a bulk action changes, and the page's checkbox ticks them all", async ({ page, request }) => {
  const token = await apiToken(request);
  const runs: string[] = [];
  for (const company of ["Umbrella", "Hooli", "Vandelay"]) {
    const run = await createRun(request, token, { agent: "pick-crawler", input: { company_name: company } });
    runs.push(run.id);
  }

  await logIn(page);
  await gotoHydrated(page, "/?q=agent%3Apick-crawler");
  const rows = page.locator("table.runs tbody tr");
  await expect(rows).toHaveCount(3);
  // The newest first: Vandelay, Hooli, Umbrella. Tick two of them.
  await page.locator(`tr[data-run-id="${runs[2]}"] input.select-run`).check();
  await page.locator(`tr[data-run-id="${runs[0]}"] input.select-run`).check();
  await page.getByLabel("Bulk action").selectOption("cancel");
  await expect(page.getByRole("button", { name: "Run on 2 selected…" })).toBeVisible();
  await screenshots(page, "bulk-selected");
  await page.getByRole("button", { name: "Run on 2 selected…" }).click();
  const confirmation = page.getByRole("alertdialog", { name: "Confirm the bulk action" });
  await expect(confirmation).toContainText("Cancel 2 of 2 selected runs?");
  await confirmation.getByRole("button", { name: "Yes, cancel" }).click();
  await expect(page.locator(".bulk-job")).toHaveAttribute("data-status", "done");
  await expect(page.locator(".bulk-job")).toContainText("2 of 2 · 2 changed, 0 skipped, 0 failed");
  const statusOf = async (id: string) => {
    const response = await request.get(`/api/runs/${id}`, { headers: { authorization: `Bearer ${token}` } });
    return (await response.json()).data.status;
  };
  expect(await statusOf(runs[0])).toBe("cancelled");
  expect(await statusOf(runs[1])).toBe("requested");
  expect(await statusOf(runs[2])).toBe("cancelled");

  // The header's checkbox ticks every row of the page; the selection is then the page.
  await page.locator(".bulk-job").getByRole("button", { name: "Done" }).click();
  await page.getByLabel("Select every run on this page").check();
  await expect(page.locator("input.select-run:checked")).toHaveCount(3);
  await expect(page.getByRole("button", { name: "Run on 3 selected…" })).toBeVisible();
  await page.getByRole("button", { name: "Clear selection" }).click();
  await expect(page.locator("input.select-run:checked")).toHaveCount(0);
  await expect(page.getByRole("button", { name: "Run on all 3 matching…" })).toBeVisible();
});
