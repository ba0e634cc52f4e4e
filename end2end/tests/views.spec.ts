// Saved views and list columns: an owner filters the runs, adds an input field
// as a column, saves the search as a view, finds it in the sidebar with its
// count, opens its own address, narrows it, updates and deletes it. Tags show on
// the rows and lead to their runs. Screenshots at 1440 and 390 px wide.
import { apiToken, createRun } from "./api";
import { expect, gotoHydrated, logIn, screenshots, test } from "./helpers";

test.describe.serial("saved views", () => {
  test("an owner saves a search with an input column as a view and opens it", async ({ page, request }) => {
    const token = await apiToken(request);
    for (const company of ["Stripe", "Acme", "Globex"]) {
      await createRun(request, token, {
        agent: "view-crawler",
        input: { company_name: company },
        summary: `Crawl ${company}`,
        tags: company === "Stripe" ? ["nightly", "eu"] : ["nightly"],
      });
    }
    await createRun(request, token, { agent: "view-other", summary: "Not in the view" });

    await logIn(page);
    await gotoHydrated(page, "/?agent=view-crawler");
    const table = page.locator("table.runs");
    await expect(table.locator("tbody tr")).toHaveCount(3);

    // An input field as a column.
    await page.getByLabel("Input field to show as a column").fill("company_name");
    await page.getByRole("button", { name: "Add column" }).click();
    await expect(page).toHaveURL(/fields=input\.company_name/);
    await expect(table.locator("th.input-column")).toHaveText(/company_name/);
    await expect(table.locator("td.input-cell")).toHaveText(["Globex", "Acme", "Stripe"]);
    // Tags show on the rows.
    await expect(table.locator("tbody tr").last().locator(".tag")).toHaveText(["nightly", "eu"]);

    // Save the search as a view.
    await page.getByRole("button", { name: "Save view" }).click();
    await page.getByLabel("View name").fill("Crawler runs");
    await page.getByRole("button", { name: "Save", exact: true }).click();
    await expect(page).toHaveURL(/\/views\/[0-9a-f-]{36}$/);
    await expect(page.getByRole("heading", { name: "Crawler runs" })).toBeVisible();
    await expect(page.locator(".view-query")).toHaveText("agent:view-crawler");
    const sidebar = page.getByRole("complementary", { name: "Saved views" });
    const link = sidebar.getByRole("link", { name: /Crawler runs/ });
    await expect(link).toHaveAttribute("aria-current", "page");
    await expect(link.locator(".count")).toHaveText("3");
    // The view keeps its columns.
    await expect(table.locator("td.input-cell")).toHaveText(["Globex", "Acme", "Stripe"]);
    await screenshots(page, "saved-view");

    // Its address works on its own (server-rendered, then hydrated).
    const address = page.url();
    await gotoHydrated(page, address);
    await expect(page.getByRole("heading", { name: "Crawler runs" })).toBeVisible();
    await expect(table.locator("tbody tr")).toHaveCount(3);

    // A run created now counts in the sidebar live.
    await createRun(request, token, { agent: "view-crawler", input: { company_name: "Initech" } });
    await expect(link.locator(".count")).toHaveText("4");
  });

  test("a view is narrowed, updated and deleted", async ({ page }) => {
    await logIn(page);
    const sidebar = page.getByRole("complementary", { name: "Saved views" });
    await sidebar.getByRole("link", { name: /Crawler runs/ }).click();
    await expect(page.getByRole("heading", { name: "Crawler runs" })).toBeVisible();
    const table = page.locator("table.runs");

    // Narrow the list with the search box: the view is unchanged until updated.
    const search = page.getByRole("combobox", { name: "Search" });
    await search.fill("agent:view-crawler input.company_name:Stripe");
    await search.press("Enter");
    await expect(table.locator("tbody tr")).toHaveCount(1);
    await expect(sidebar.getByRole("link", { name: /Crawler runs/ }).locator(".count")).toHaveText("4");
    await page.getByRole("button", { name: "Update view" }).click();
    await expect(page.locator(".view-query")).toHaveText("agent:view-crawler input.company_name:Stripe");
    await expect(sidebar.getByRole("link", { name: /Crawler runs/ }).locator(".count")).toHaveText("1");

    // A tag leads to its runs.
    await table.locator(".tag", { hasText: "eu" }).click();
    await expect(page).toHaveURL(/q=tag%3Aeu/);
    await expect(table.locator("tbody tr")).toHaveCount(1);

    await sidebar.getByRole("link", { name: /Crawler runs/ }).click();
    await page.getByRole("button", { name: "Delete", exact: true }).click();
    await page.getByRole("button", { name: "Delete view" }).click();
    await expect(page).toHaveURL(/\/$/);
    await expect(sidebar.getByRole("link", { name: /Crawler runs/ })).toHaveCount(0);
  });
});
