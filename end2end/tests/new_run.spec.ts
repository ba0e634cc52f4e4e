import { expect, logIn, test } from "./helpers";

test("a run started from the form opens with its runner token, which drives the run", async ({ page, request }) => {
  await logIn(page);
  await page.getByRole("link", { name: "New run" }).click();
  await expect(page.getByRole("heading", { name: "New run" })).toBeVisible();
  await page.getByLabel("Agent").fill("form-agent");
  const input = page.getByLabel("Input (JSON)");
  await input.fill("{company_name: Linear}");
  await expect(page.getByRole("alert")).toContainText("Not valid JSON");
  await expect(page.getByRole("button", { name: "Start run" })).toBeDisabled();
  await input.fill('{"company_name": "Linear"}');
  await expect(page.getByRole("alert")).toHaveCount(0);
  await page.getByLabel("Summary (optional)").fill("Started from the form");
  await page.getByRole("button", { name: "Start run" }).click();

  await expect(page).toHaveURL(/\/runs\/[0-9a-f-]{36}$/);
  const id = page.url().split("/").pop()!;
  await expect(page.getByRole("heading", { name: "Started from the form" })).toBeVisible();
  const banner = page.getByRole("status", { name: "Runner token" });
  await expect(banner).toContainText("shown only now");
  await expect(banner.locator("pre")).toContainText(`/api/runner/runs/${id}/status`);
  await page.screenshot({ path: "results/screenshots/new-run-token.png", fullPage: true });
  const token = (await banner.locator(".token-secret").textContent())!.trim();

  const response = await request.post(`/api/runner/runs/${id}/status`, {
    data: { status: "running", progress: 0.3 },
    headers: { authorization: `Bearer ${token}` },
  });
  expect(response.status()).toBe(200);

  await page.reload();
  await expect(page.locator(".run-title .badge")).toHaveText("running");
  await expect(page.getByRole("status", { name: "Runner token" })).toHaveCount(0);
});
