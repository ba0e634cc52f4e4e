import { expect, gotoHydrated, logIn, OWNER_EMAIL, test } from "./helpers";

test("an unauthenticated page redirects to the login form", async ({ page }) => {
  await page.goto("/?status=failed");
  await expect(page).toHaveURL(/\/login\?next=/);
  await expect(page.getByRole("heading", { name: "Log in" })).toBeVisible();
  await page.screenshot({ path: "results/screenshots/login.png" });
});

test("a wrong password shows an error and keeps the person on the form", async ({ page }) => {
  await gotoHydrated(page, "/login");
  await page.getByLabel("Email").fill(OWNER_EMAIL);
  await page.getByLabel("Password").fill("not-the-password");
  await page.getByRole("button", { name: "Log in" }).click();
  await expect(page.getByRole("alert")).toHaveText("wrong email or password");
  await expect(page).toHaveURL(/\/login/);
});

test("logging in opens the runs list and logging out ends the session", async ({ page }) => {
  await logIn(page);
  await expect(page.locator(".who")).toHaveText(OWNER_EMAIL);
  await page.getByRole("button", { name: "Log out" }).click();
  await expect(page).toHaveURL(/\/login$/);
  await page.goto("/");
  await expect(page).toHaveURL(/\/login\?next=/);
});

test("after login the person lands on the page they asked for", async ({ page }) => {
  await page.goto("/?status=completed");
  await expect(page).toHaveURL(/\/login\?next=/);
  await expect(page.locator("body")).toHaveAttribute("data-hydrated", "true");
  await page.getByLabel("Email").fill(OWNER_EMAIL);
  await page.getByLabel("Password").fill("e2e-password-123");
  await page.getByRole("button", { name: "Log in" }).click();
  await expect(page).toHaveURL(/\/\?status=completed$/);
  await expect(page.locator("tbody tr").first()).toBeVisible();
  for (const badge of await page.locator("tbody .badge").allTextContents()) {
    expect(badge.trim()).toBe("completed");
  }
});
