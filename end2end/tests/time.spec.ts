// Times as people read them: relative with the exact time on hover, in the
// browser's zone or UTC (a switch remembered for the user), and elapsed times
// that tick while a run runs.
import { apiToken, createRun, report } from "./api";
import { expect, gotoHydrated, logIn, test } from "./helpers";

// Paris is an hour ahead of UTC in December: local and UTC times differ.
test.use({ timezoneId: "Europe/Paris" });

test("times read relative, exact in local time or UTC on hover, and the choice is remembered", async ({ page, request }) => {
  const token = await apiToken(request);
  const summary = `Times ${Date.now()}`;
  await createRun(request, token, { agent: "time-agent", summary });
  await logIn(page);
  await gotoHydrated(page, "/?agent=time-agent");

  const created = page.locator("tbody tr", { has: page.getByRole("link", { name: summary }) }).locator("td.created-cell time");
  await expect(created).toHaveText(/^(just now|\d+ s ago)$/);
  await expect(created).toHaveAttribute("title", /^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC\+01:00$/);
  const iso = await created.getAttribute("datetime");
  const utcHour = new Date(iso!).getUTCHours();
  const localHour = Number((await created.getAttribute("title"))!.slice(11, 13));
  expect((localHour - utcHour + 24) % 24).toBe(1);

  // The switch: exact times in UTC, on this page and after a reload.
  const zone = page.locator(".zone-switch");
  await expect(zone).toHaveText("Local time");
  await zone.click();
  await expect(zone).toHaveText("UTC");
  await expect(created).toHaveAttribute("title", /UTC$/);
  await page.reload();
  await expect(page.locator("body")).toHaveAttribute("data-hydrated", "true");
  await expect(page.locator(".zone-switch")).toHaveText("UTC");
  await expect(created).toHaveAttribute("title", /:\d\d UTC$/);
  // Back to local for the other specs of this user.
  await page.locator(".zone-switch").click();
  await expect(page.locator(".zone-switch")).toHaveText("Local time");
});

test("a running run's duration ticks, on the list and on its page", async ({ page, request }) => {
  const token = await apiToken(request);
  const summary = `Ticking ${Date.now()}`;
  const { id, runner } = await createRun(request, token, { agent: "time-agent", summary });
  await report(request, runner, id, "status", { status: "running" });
  await logIn(page);
  await gotoHydrated(page, "/?agent=time-agent");
  const duration = page.locator("tbody tr", { has: page.getByRole("link", { name: summary }) }).locator("td.duration-cell");
  await expect(duration).toHaveText(/^\d+\.\d s$/);
  const first = await duration.textContent();
  await expect(duration).not.toHaveText(first!, { timeout: 3000 });

  await gotoHydrated(page, `/runs/${id}`);
  const elapsed = page.locator(".run-facts .elapsed");
  await expect(elapsed).toHaveText(/^\d+\.\d s$/);
  const before = await elapsed.textContent();
  await expect(elapsed).not.toHaveText(before!, { timeout: 3000 });
  // It stops when the run ends: the stored duration replaces it.
  await report(request, runner, id, "status", { status: "completed" });
  await expect(page.locator(".run-facts .elapsed")).toHaveCount(0);
});
