// The search box speaks the query language: it suggests qualifiers, statuses and
// agents as one types, shows a mistake under the field with where it is, does not
// search with it, and searches with a good query (the URL keeps it).
import { apiToken, createRun, report } from "./api";
import { expect, gotoHydrated, logIn, screenshots, test } from "./helpers";

test("typing a query: suggestions, a mistake shown where it is, then a search", async ({ page, request }) => {
  const token = await apiToken(request);
  const failed = await createRun(request, token, { agent: "query-crawler", summary: "Query spec failure" });
  await report(request, failed.runner, failed.id, "status", { status: "failed", error: { code: "timeout", message: "too slow" } });
  await createRun(request, token, { agent: "query-crawler", summary: "Query spec waiting" });

  await logIn(page);
  await gotoHydrated(page, "/");
  const search = page.getByRole("combobox", { name: "Search" });
  const suggestions = page.getByRole("listbox", { name: "Suggestions" });

  // A qualifier, then its value, taken from the suggestions with the keyboard.
  await search.click();
  await search.pressSequentially("stat");
  await expect(suggestions.getByRole("option")).toHaveCount(1);
  await expect(suggestions.getByRole("option").first()).toContainText("status:");
  await search.press("Enter");
  await expect(search).toHaveValue("status:");
  await expect(suggestions.getByRole("option")).toHaveCount(6);
  await search.pressSequentially("fa");
  await expect(suggestions.getByRole("option")).toHaveText([/failed/]);
  await search.press("Tab");
  await expect(search).toHaveValue("status:failed");
  await expect(suggestions).toBeHidden();

  // The account's agents are suggested after agent:.
  await search.pressSequentially(" agent:query-c");
  await expect(suggestions.getByRole("option").first()).toContainText("query-crawler");
  await search.press("Enter");
  await expect(search).toHaveValue("status:failed agent:query-crawler");

  // A mistake is shown under the field, with where it is, and does not search.
  await search.fill("status:done agent:query-crawler");
  const problem = page.locator("#q-problem");
  await expect(problem).toBeVisible();
  await expect(problem).toContainText('expected a status (requested, queued, running, completed, failed, cancelled) after "status:"');
  await expect(problem).toContainText("at character 8");
  await expect(search).toHaveAttribute("aria-invalid", "true");
  await screenshots(page, "query-error");
  await page.getByRole("button", { name: "Apply" }).click();
  await expect(page).toHaveURL(/\/$/);

  // Fixed, it searches: the URL keeps the query and the list shows the failed run only.
  await search.fill("status:failed agent:query-crawler");
  await expect(problem).toBeHidden();
  await page.getByRole("button", { name: "Apply" }).click();
  await expect(page).toHaveURL(/q=status%3Afailed\+agent%3Aquery-crawler/);
  const rows = page.locator("table.runs tbody tr");
  await expect(rows).toHaveCount(1);
  await expect(rows.first()).toHaveAttribute("data-run-id", failed.id);
  await screenshots(page, "query-search");
});
