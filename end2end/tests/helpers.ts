import { expect, Page, test as base } from "@playwright/test";
import { OWNER_EMAIL, OWNER_PASSWORD } from "../playwright.config";

export { expect, OWNER_EMAIL, OWNER_PASSWORD };

/**
 * Every spec fails on a browser error (a panic in the wasm, a missing file…).
 * Chromium logs every 4xx response as an error; a spec lists the statuses it
 * expects with `test.use({ expectedStatuses: [...] })` (a refused login's 401 by default).
 */
export const test = base.extend<{ expectedStatuses: number[]; toleratedErrors: RegExp[] }>({
  expectedStatuses: [[401], { option: true }],
  // Console errors a spec provokes on purpose (e.g. a stream whose server it stopped).
  toleratedErrors: [[], { option: true }],
  page: async ({ page, expectedStatuses, toleratedErrors }, use) => {
    const errors: string[] = [];
    page.on("pageerror", (error) => errors.push(error.message));
    page.on("console", (message) => {
      const status = /status of (\d+)/.exec(message.text());
      const expected = status && expectedStatuses.includes(Number(status[1]));
      const tolerated = toleratedErrors.some((pattern) => pattern.test(message.text()));
      if (message.type() === "error" && !expected && !tolerated) {
        errors.push(message.text());
      }
    });
    await use(page);
    expect(errors, "errors in the browser console").toEqual([]);
  },
});

/** Loads a page and waits until the wasm bundle has hydrated it. */
export async function gotoHydrated(page: Page, path: string) {
  await page.goto(path);
  await expect(page.locator("body")).toHaveAttribute("data-hydrated", "true");
}

/** Logs in through the form and waits for the runs page. */
export async function logIn(page: Page, email = OWNER_EMAIL, password = OWNER_PASSWORD) {
  await gotoHydrated(page, "/login");
  await page.getByLabel("Email").fill(email);
  await page.getByLabel("Password").fill(password);
  await page.getByRole("button", { name: "Log in" }).click();
  await expect(page.getByRole("heading", { name: "Runs" })).toBeVisible();
}

/** Marks the current document; the mark survives only if the page is not reloaded. */
export async function markDocument(page: Page) {
  await page.evaluate(() => ((window as any).__runboardMark = "still here"));
}

export async function documentWasKept(page: Page) {
  return page.evaluate(() => (window as any).__runboardMark === "still here");
}

/** Full-page screenshots at a desktop and a phone width, for people to look at. */
export async function screenshots(page: Page, name: string) {
  for (const width of [1440, 390]) {
    await page.setViewportSize({ width, height: 900 });
    await page.screenshot({ path: `results/screenshots/${name}-${width}.png`, fullPage: true });
  }
  await page.setViewportSize({ width: 1280, height: 720 });
}
