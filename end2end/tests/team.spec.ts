import { Browser } from "@playwright/test";
import { apiToken, createRun } from "./api";
import { expect, gotoHydrated, logIn, screenshots, test } from "./helpers";

const VIEWER = "viewer@e2e.test";
const VIEWER_PASSWORD = "viewer-password-77";

/** A fresh browser with nobody signed in. */
async function newPage(browser: Browser) {
  const context = await browser.newContext();
  return context.newPage();
}

test.describe.serial("members, invitations and a viewer's dashboard", () => {
  // The last owner's refused demotion answers 409.
  test.use({ expectedStatuses: [401, 409] });
  let inviteUrl = "";

  test("an owner adds a viewer and gets a one-time invitation link", async ({ page }) => {
    await logIn(page);
    await page.getByRole("link", { name: "Settings" }).click();
    await page.getByRole("link", { name: "Members" }).click();
    await expect(page.getByRole("heading", { name: "Members" })).toBeVisible();
    await expect(page.locator("body")).toHaveAttribute("data-hydrated", "true");
    const add = page.getByRole("region", { name: "Add a member" });
    await add.getByLabel("Email").fill(VIEWER);
    await add.locator('select[name="role"]').selectOption("viewer");
    await add.getByRole("button", { name: "Add member" }).click();
    const link = page.locator("[data-invite-url]");
    await expect(link).toContainText("/invite/");
    inviteUrl = (await link.textContent())!.trim();
    const row = page.locator(`tr[data-member="${VIEWER}"]`);
    await expect(row).toContainText("invited");
    await expect(row.getByRole("combobox")).toHaveValue("viewer");
    await screenshots(page, "members");

    // The owner's own role cannot be taken away while they are the only owner.
    const owner = page.locator('tr[data-member="owner@e2e.test"]');
    await owner.getByRole("combobox").selectOption("member");
    await owner.getByRole("button", { name: "Change" }).click();
    await expect(page.getByRole("alert")).toContainText("last owner");
  });

  test("the invited viewer sets a password and is signed in", async ({ browser }) => {
    const page = await newPage(browser);
    await gotoHydrated(page, new URL(inviteUrl).pathname);
    await expect(page.getByText(`You were invited as ${VIEWER}.`)).toBeVisible();
    await screenshots(page, "invite");
    await page.getByLabel("Password", { exact: true }).fill(VIEWER_PASSWORD);
    await page.getByLabel("Password again").fill(VIEWER_PASSWORD);
    await page.getByRole("button", { name: "Join" }).click();
    await expect(page.getByRole("heading", { name: "Runs" })).toBeVisible();
    await expect(page.locator(".who")).toHaveText(VIEWER);

    // The link works once.
    const again = await newPage(browser);
    await gotoHydrated(again, new URL(inviteUrl).pathname);
    await expect(again.getByRole("heading", { name: "This invitation cannot be used" })).toBeVisible();
  });

  test("a viewer's run page has no actions and the menu no new run", async ({ browser, request }) => {
    const owner = await apiToken(request);
    const { id } = await createRun(request, owner, { agent: "viewed", summary: "Looked at, not touched" });
    const page = await newPage(browser);
    await logIn(page, VIEWER, VIEWER_PASSWORD);
    // The role is known to the page (its controls are decided) once the badge shows.
    await expect(page.locator(".role")).toHaveText("viewer");
    await expect(page.getByRole("link", { name: "New run" })).toHaveCount(0);
    await gotoHydrated(page, `/runs/${id}`);
    await expect(page.locator(".role")).toHaveText("viewer");
    await expect(page.getByRole("heading", { name: "Looked at, not touched" })).toBeVisible();
    for (const action of ["Cancel run", "Retry", "Delete"]) {
      await expect(page.getByRole("button", { name: action })).toHaveCount(0);
    }
    await screenshots(page, "viewer-run");
    // Settings: the password, but neither tokens nor the team.
    await gotoHydrated(page, "/settings");
    await expect(page.locator(".role")).toHaveText("viewer");
    await expect(page.getByRole("heading", { name: "Password" })).toBeVisible();
    await expect(page.getByRole("heading", { name: "API tokens" })).toHaveCount(0);
    await expect(page.getByRole("link", { name: "Members" })).toHaveCount(0);
  });

  test("the owner's run page keeps every action", async ({ page, request }) => {
    const owner = await apiToken(request);
    const { id } = await createRun(request, owner, { agent: "owned", summary: "Mine to cancel" });
    await logIn(page);
    await gotoHydrated(page, `/runs/${id}`);
    await expect(page.getByRole("button", { name: "Cancel run" })).toBeVisible();
    await expect(page.getByRole("button", { name: "Delete" })).toBeVisible();
  });

  test("the audit log shows what the owner did", async ({ page }) => {
    await logIn(page);
    await gotoHydrated(page, "/settings/audit");
    await expect(page.getByRole("heading", { name: "Audit log" })).toBeVisible();
    await expect(page.locator('tr[data-action="user.create"]').first()).toContainText(VIEWER);
    await expect(page.locator('tr[data-action="user.join"]').first()).toContainText(VIEWER);
    await page.getByLabel("Action").selectOption("user.create");
    await page.getByRole("button", { name: "Apply" }).click();
    await expect(page.locator("tr[data-action]").first()).toHaveAttribute("data-action", "user.create");
    await expect(page.locator('tr[data-action="login.success"]')).toHaveCount(0);
    await screenshots(page, "audit");
  });
});
