// The shell on a phone: no page is wider than the screen at 390 px, the top bar
// folds its menu behind "Menu" (closed again after a navigation), and a skip link
// leads past it.
import AxeBuilder from "@axe-core/playwright";
import { type APIRequestContext } from "@playwright/test";
import { apiToken, createRun, report } from "./api";
import { expect, gotoHydrated, logIn, screenshots, test } from "./helpers";

/** A finished and a failed run of a fresh agent, and every page of the dashboard with them. */
async function everyPage(request: APIRequestContext) {
  const token = await apiToken(request);
  const agent = `narrow-${Date.now()}`;
  const done = await createRun(request, token, { agent, summary: "A finished run with a long summary that has to wrap on a phone", input: { company: { name: "Acme" } } });
  await report(request, done.runner, done.id, "status", { status: "completed" });
  const failed = await createRun(request, token, { agent, input: { company: { name: "Stripe" } } });
  await report(request, failed.runner, failed.id, "status", { status: "failed", error: { code: "http_500", message: "the site is down" } });
  return [
    ["runs", "/"], ["runs-unknown-param", "/?utm_source=slack"], ["new-run", "/runs/new"], ["campaigns", "/campaigns"],
    ["agents", "/agents"], ["agent-health", `/agents/${agent}`], ["alerts", "/alerts"], ["settings", "/settings"],
    ["members", "/settings/members"], ["audit", "/settings/audit"], ["storage", "/settings/storage"],
    ["run-failed", `/runs/${failed.id}`], ["run-completed", `/runs/${done.id}`],
    ["compare", `/runs/${failed.id}/compare`],
  ];
}

test.describe("narrow screens", () => {
  test.use({ viewport: { width: 390, height: 844 } });

  test("no page scrolls sideways at 390 px", async ({ page, request }) => {
    const pages = await everyPage(request);
    await logIn(page);
    const wide: string[] = [];
    for (const [, path] of pages) {
      await gotoHydrated(page, path);
      const { scroll, inner } = await page.evaluate(() => ({
        scroll: document.documentElement.scrollWidth,
        inner: window.innerWidth,
      }));
      if (scroll > inner) wide.push(`${path}: ${scroll} px`);
    }
    expect(wide, "pages wider than the screen").toEqual([]);
  });

  test("the menu folds behind a button and closes after a navigation", async ({ page }) => {
    await logIn(page);
    await gotoHydrated(page, "/");
    const nav = page.getByRole("navigation", { name: "Main" });
    const toggle = page.getByRole("button", { name: "Menu" });
    await expect(nav).toBeHidden();
    await expect(toggle).toHaveAttribute("aria-expanded", "false");
    // Runs read as cards that lead with status and title.
    const first = page.locator("table.runs tbody tr").first();
    const status = await first.locator(".status-cell").boundingBox();
    const title = await first.locator("td.summary").boundingBox();
    expect(title!.y).toBeGreaterThan(status!.y);
    expect(title!.width).toBeGreaterThan(300);
    await page.locator(".runs-main").screenshot({ path: "results/screenshots/runs-cards-390.png" });
    // The filters besides the search fold behind "Filters".
    const filters = page.getByRole("search", { name: "Filter runs" });
    await expect(filters.getByLabel("Agent", { exact: true })).toBeHidden();
    await expect(filters.getByLabel("Search")).toBeVisible();
    await filters.getByRole("button", { name: "Filters" }).click();
    await expect(filters.getByLabel("Agent", { exact: true })).toBeVisible();
    await filters.getByRole("button", { name: "Filters" }).click();
    await toggle.click();
    await expect(toggle).toHaveAttribute("aria-expanded", "true");
    await expect(nav).toBeVisible();
    await expect(page.getByRole("button", { name: "Log out" })).toBeVisible();
    await screenshots(page, "menu-open");
    await page.setViewportSize({ width: 390, height: 844 });
    await nav.getByRole("link", { name: "Agents" }).click();
    await expect(page).toHaveURL(/\/agents$/);
    await expect(nav).toBeHidden();
  });
});

test("a skip link leads past the top bar", async ({ page }) => {
  await logIn(page);
  await gotoHydrated(page, "/");
  await page.keyboard.press("Tab");
  const skip = page.getByRole("link", { name: "Skip to content" });
  await expect(skip).toBeFocused();
  await page.keyboard.press("Enter");
  await expect(page.locator("#main")).toBeFocused();
  // `/` goes to the search box; typed inside a field it is just a character.
  await page.keyboard.press("/");
  const search = page.getByRole("search", { name: "Filter runs" }).getByLabel("Search");
  await expect(search).toBeFocused();
  await page.keyboard.type("a/b");
  await expect(search).toHaveValue("a/b");
  // At 1440 px the menu is the bar itself.
  await expect(page.getByRole("navigation", { name: "Main" })).toBeVisible();
  await expect(page.getByRole("button", { name: "Menu" })).toBeHidden();
});

test("every page, photographed at 1440 and 390 px wide", async ({ page, request }) => {
  test.setTimeout(120_000);
  const pages = await everyPage(request);
  await logIn(page);
  for (const [name, path] of pages) {
    await page.setViewportSize({ width: 1440, height: 900 });
    await gotoHydrated(page, path);
    await screenshots(page, `page-${name}`);
  }
});

test("no page has a serious or critical accessibility violation (axe-core)", async ({ page, request }) => {
  test.setTimeout(120_000);
  const pages = await everyPage(request);
  await logIn(page);
  const found: string[] = [];
  for (const width of [1440, 390]) {
    await page.setViewportSize({ width, height: 900 });
    for (const [name, path] of pages) {
      await gotoHydrated(page, path);
      const results = await new AxeBuilder({ page }).analyze();
      for (const violation of results.violations) {
        if (violation.impact === "serious" || violation.impact === "critical") {
          const where = violation.nodes.slice(0, 3).map((node) => node.target.join(" ")).join(" | ");
          found.push(`${name} @${width}: ${violation.id} (${violation.impact}, ${violation.nodes.length}): ${where}`);
        }
      }
    }
  }
  expect(found, "serious or critical accessibility violations").toEqual([]);
});
