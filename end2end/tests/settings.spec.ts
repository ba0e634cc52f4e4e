import { expect, logIn, OWNER_EMAIL, OWNER_PASSWORD, test } from "./helpers";

test("an API token is shown once, works, and stops working when revoked", async ({ page, request }) => {
  await logIn(page);
  await page.getByRole("link", { name: "Settings" }).click();
  await page.getByLabel("Name").fill("e2e-ci");
  await page.getByRole("button", { name: "Create token" }).click();
  const secret = page.locator(".secret .token-secret");
  await expect(secret).toContainText("rb_");
  const token = (await secret.textContent())!.trim();
  const row = page.locator('tr[data-token-name="e2e-ci"]');
  await expect(row).toContainText("active");
  await expect(row).not.toContainText(token);
  await page.screenshot({ path: "results/screenshots/settings.png", fullPage: true });

  const works = await request.get("/api/runs", { headers: { authorization: `Bearer ${token}` } });
  expect(works.status()).toBe(200);

  // Revoking asks first; "Keep it" changes nothing.
  await row.getByRole("button", { name: "Revoke" }).click();
  await expect(row.getByRole("alertdialog")).toContainText("Revoke “e2e-ci”?");
  await row.getByRole("button", { name: "Keep it" }).click();
  await expect(row).toContainText("active");
  expect((await request.get("/api/runs", { headers: { authorization: `Bearer ${token}` } })).status()).toBe(200);
  await row.getByRole("button", { name: "Revoke" }).click();
  await row.getByRole("button", { name: "Yes, revoke it" }).click();
  await expect(row).toContainText("revoked");
  await expect(secret).toHaveCount(0);
  await expect(page.locator("body")).not.toContainText(token);
  const refused = await request.get("/api/runs", { headers: { authorization: `Bearer ${token}` } });
  expect(refused.status()).toBe(401);
});

test.describe("changing the password", () => {
  test.use({ expectedStatuses: [400, 401] });

  test("needs the current one and then replaces it", async ({ page }) => {
    const changeTo = async (current: string, next: string) => {
      await page.getByLabel("Current password").fill(current);
      await page.getByLabel("New password", { exact: true }).fill(next);
      await page.getByLabel("New password again").fill(next);
      await page.getByRole("button", { name: "Change password" }).click();
    };
    await logIn(page);
    await page.goto("/settings");
    await expect(page.locator("body")).toHaveAttribute("data-hydrated", "true");
    await changeTo("wrong-password", "brand-new-password");
    await expect(page.getByRole("alert")).toContainText("current password is wrong");
    await changeTo(OWNER_PASSWORD, "brand-new-password");
    await expect(page.getByText("Password changed.")).toBeVisible();

    await page.getByRole("button", { name: "Log out" }).click();
    await expect(page).toHaveURL(/\/login$/);
    await logIn(page, OWNER_EMAIL, "brand-new-password");
    // Put the original back for the other specs.
    await page.goto("/settings");
    await expect(page.locator("body")).toHaveAttribute("data-hydrated", "true");
    await changeTo("brand-new-password", OWNER_PASSWORD);
    await expect(page.getByText("Password changed.")).toBeVisible();
  });
});
