import { apiToken, createRun, OTHER_EMAIL, OTHER_PASSWORD, report } from "./api";
import { expect, logIn, test } from "./helpers";

test("agents show their runs by status and take a dispatch URL", async ({ page, request }) => {
  const token = await apiToken(request);
  await createRun(request, token, { agent: "dispatch-target" });
  await logIn(page);
  await page.getByRole("link", { name: "Agents" }).click();
  const row = page.locator('tr[data-agent="dispatch-target"]');
  await expect(row).toContainText("requested");
  await expect(page.locator('tr[data-agent="jobseek-add-company"] .count-link').first()).toBeVisible();
  await page.screenshot({ path: "results/screenshots/agents.png", fullPage: true });

  await row.getByLabel("Dispatch URL of dispatch-target").fill("https://runner.example.com/jobs");
  await row.getByRole("button", { name: "Save" }).click();
  await expect
    .poll(async () => {
      const response = await request.get("/api/agents", { headers: { authorization: `Bearer ${token}` } });
      const agents = (await response.json()).data.agents as { slug: string; dispatchUrl: string | null }[];
      return agents.find((agent) => agent.slug === "dispatch-target")?.dispatchUrl;
    })
    .toBe("https://runner.example.com/jobs");
  await page.reload();
  await expect(page.locator('tr[data-agent="dispatch-target"]').getByLabel("Dispatch URL of dispatch-target")).toHaveValue(
    "https://runner.example.com/jobs",
  );
});

test("a campaign goes live with its bundle when its run completes", async ({ page, request }) => {
  await logIn(page);
  await page.getByRole("link", { name: "Campaigns" }).click();
  await page.getByLabel("New campaign name").fill("E2E Launch");
  await page.getByRole("button", { name: "Create" }).click();
  const link = page.getByRole("link", { name: "E2E Launch" });
  await expect(link).toBeVisible();
  const row = page.locator("tr", { has: link });
  await expect(row).toContainText("draft");
  const campaignId = await row.getAttribute("data-campaign");

  const token = await apiToken(request);
  const { id, runner } = await createRun(request, token, { agent: "site-builder", summary: "Launch site", campaignId });
  await report(request, runner, id, "artifacts", { artifactType: "bundle", url: "https://cdn.example.com/launch/index.html" });
  await report(request, runner, id, "status", { status: "completed" });
  const second = await createRun(request, token, { agent: "site-builder", summary: "Launch site again", campaignId });
  await report(request, second.runner, second.id, "status", { status: "failed" });
  await createRun(request, token, { agent: "site-builder", summary: "Launch site once more", campaignId });

  // The list counts the campaign's runs by outcome, with its success rate.
  await page.reload();
  await expect(row.locator(".campaign-summary")).toHaveText("1 of 3 completed · 1 in progress · 1 failed · 50 % success");
  await link.click();
  await expect(page.getByRole("heading", { name: "E2E Launch" })).toBeVisible();
  await expect(page.locator(".page-header .badge")).toHaveText("running");
  await expect(page.locator(".campaign-progress .campaign-summary")).toHaveText("1 of 3 completed · 1 in progress · 1 failed · 50 % success");
  await expect(page.getByRole("link", { name: "https://cdn.example.com/launch/index.html" })).toBeVisible();
  await expect(page.getByRole("link", { name: "Launch site", exact: true })).toBeVisible();
  await page.screenshot({ path: "results/screenshots/campaign.png", fullPage: true });

  // The campaign's runs take the list's filters, on the campaign's own address.
  await expect(page.locator('.chip[data-status="all"] .count')).toHaveText("3");
  await page.locator('.chip[data-status="cancelled"]').click();
  await expect(page).toHaveURL(new RegExp(`/campaigns/${campaignId}\\?q=status%3Acancelled$`));
  await expect(page.getByRole("heading", { name: "No runs match these filters" })).toBeVisible();
  await page.locator('.chip[data-status="completed"]').click();
  await expect(page.getByRole("link", { name: "Launch site", exact: true })).toBeVisible();
  await expect(page.getByRole("heading", { name: "E2E Launch" })).toBeVisible();
});

test.describe("another account's campaign", () => {
  test.use({ expectedStatuses: [401, 404] });

  test("is the 404 page", async ({ page, request }) => {
    const other = await apiToken(request, OTHER_EMAIL, OTHER_PASSWORD);
    const created = await request.post("/api/campaigns", {
      data: { name: "Hidden campaign" },
      headers: { authorization: `Bearer ${other}` },
    });
    const campaignId = (await created.json()).data.id;
    await logIn(page);
    const response = await page.goto(`/campaigns/${campaignId}`);
    expect(response?.status()).toBe(404);
    await expect(page.getByText("Hidden campaign")).toHaveCount(0);
  });
});
