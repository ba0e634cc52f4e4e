// Retention: an owner sets the policy and an agent's override in settings, sees
// the storage page (what the policy removes next, the last prunes), and pins a
// run from its page. Screenshots at 1440 and 390 px wide.
import { execFileSync } from "node:child_process";
import { resolve } from "node:path";
import { Page } from "@playwright/test";
import { serverEnv } from "../playwright.config";
import { apiToken, createRun, report } from "./api";
import { expect, gotoHydrated, logIn, test } from "./helpers";

async function screenshots(page: Page, name: string) {
  for (const width of [1440, 390]) {
    await page.setViewportSize({ width, height: 900 });
    await page.screenshot({ path: `results/screenshots/${name}-${width}.png`, fullPage: true });
  }
  await page.setViewportSize({ width: 1280, height: 720 });
}

/** `runboard prune` on the spec server's database, as an operator would run it. */
function prune(...args: string[]) {
  const bin = process.env.RUNBOARD_BIN || resolve(__dirname, "../../target/debug/runboard");
  return execFileSync(bin, ["prune", ...args], { env: { ...process.env, ...serverEnv } }).toString();
}

test.describe.serial("retention", () => {
  // A refused override answers 400.
  test.use({ expectedStatuses: [400, 401] });

  test.afterAll(async ({ request }) => {
    // Later specs read the seeded runs: keep everything again.
    const token = await apiToken(request);
    const response = await request.put("/api/retention", { data: {}, headers: { authorization: `Bearer ${token}` } });
    expect(response.status()).toBe(200);
  });

  test("an owner sets the policy and an agent's override in settings", async ({ page, request }) => {
    const token = await apiToken(request);
    const { id, runner } = await createRun(request, token, { agent: "nightly-report", summary: "Kept for a while" });
    await report(request, runner, id, "status", { status: "completed" });
    await logIn(page);
    await gotoHydrated(page, "/settings");
    const section = page.getByRole("region", { name: "Retention" });
    await expect(section.getByRole("heading", { name: "Per agent" })).toBeVisible();
    const account = section.getByRole("form", { name: "Account retention" });
    await account.getByLabel("Runs (days)", { exact: true }).fill("30");
    await account.getByLabel("Failed runs (days)").fill("90");
    await account.getByLabel("Events (days)").fill("14");
    await account.getByLabel("Artifacts (days)").fill("");
    await account.getByRole("button", { name: "Save policy" }).click();
    await expect(section.getByRole("status")).toHaveText("Saved.");

    const row = section.locator('form[data-agent="nightly-report"]');
    await expect(row.getByLabel("Runs", { exact: true })).toHaveAttribute("placeholder", "30 days");
    await row.getByLabel("Runs", { exact: true }).fill("0");
    await row.getByRole("button", { name: "Save" }).click();
    await expect(section.getByRole("alert")).toContainText("agents.nightly-report.keepRunsDays");
    await row.getByLabel("Runs", { exact: true }).fill("forever");
    await row.getByLabel("Events").fill("3");
    await row.getByRole("button", { name: "Save" }).click();
    await expect(section.getByRole("status").last()).toHaveText("Saved.");

    const stored = await request.get("/api/retention", { headers: { authorization: `Bearer ${token}` } });
    expect((await stored.json()).data).toEqual({
      keepRunsDays: 30,
      keepFailedRunsDays: 90,
      keepEventsDays: 14,
      keepArtifactsDays: null,
      agents: { "nightly-report": { keepRunsDays: null, keepEventsDays: 3 } },
    });
    // The values come back after a reload.
    await gotoHydrated(page, "/settings");
    await expect(page.locator('form[data-agent="nightly-report"]').getByLabel("Runs", { exact: true })).toHaveValue("forever");
    await expect(page.getByRole("form", { name: "Account retention" }).getByLabel("Runs (days)", { exact: true })).toHaveValue("30");
    await page.getByRole("region", { name: "Retention" }).scrollIntoViewIfNeeded();
    await screenshots(page, "retention-settings");
  });

  test("the storage page shows the database, the next prune and the last prunes", async ({ page, request }) => {
    // A prune by hand that finds nothing to remove yet (the seeded runs are days old).
    expect(prune("--dry-run")).toContain("Dry run: nothing was changed.");
    expect(prune()).toContain("deleted 0 runs");
    // Events of seeded data-sync runs that ended over two days ago are due now.
    const token = await apiToken(request);
    const policy = await request.get("/api/retention", { headers: { authorization: `Bearer ${token}` } });
    const next = (await policy.json()).data;
    next.agents["data-sync"] = { keepEventsDays: 2 };
    const saved = await request.put("/api/retention", { data: next, headers: { authorization: `Bearer ${token}` } });
    expect(saved.status()).toBe(200);

    await logIn(page);
    await page.getByRole("link", { name: "Settings" }).click();
    await page.getByRole("link", { name: "Storage" }).click();
    await expect(page.getByRole("heading", { name: "Storage", level: 1 })).toBeVisible();
    await expect(page.locator("body")).toHaveAttribute("data-hydrated", "true");
    await expect(page.getByTestId("database-bytes")).toContainText(/[0-9.]+ (KB|MB|GB)/);
    await expect(page.getByRole("region", { name: "Next prune" })).toContainText("Runs 30 days, failed runs 90 days");
    await expect(page.getByTestId("next-prune").locator('[data-kind="eventLogs"]')).not.toHaveText("0");
    await expect(page.getByRole("region", { name: "Last prunes" }).locator("tbody tr").first()).toContainText("cli");
    await expect(page.locator('tr[data-table="runs"]')).toBeVisible();
    await screenshots(page, "storage");
  });

  test("a member pins a run from its page and the run says so", async ({ page, request }) => {
    const token = await apiToken(request);
    const { id } = await createRun(request, token, { agent: "nightly-report", summary: "Worth keeping" });
    await logIn(page);
    await gotoHydrated(page, `/runs/${id}`);
    await page.getByRole("button", { name: "Pin", exact: true }).click();
    await expect(page.locator(".tag.pinned")).toHaveText("Pinned");
    await expect(page.getByRole("button", { name: "Unpin" })).toHaveAttribute("aria-pressed", "true");
    const run = await request.get(`/api/runs/${id}`, { headers: { authorization: `Bearer ${token}` } });
    expect((await run.json()).data.pinned).toBe(true);
    await screenshots(page, "pinned-run");
    await page.getByRole("button", { name: "Unpin" }).click();
    await expect(page.locator(".tag.pinned")).toHaveCount(0);
  });
});
