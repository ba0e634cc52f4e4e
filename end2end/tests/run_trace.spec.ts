// The run page's trace: steps on a time axis beside the log they filter, the
// log's filters in the address, and a failed run that opens at its error.
import { apiToken, createRun, report } from "./api";
import { expect, gotoHydrated, logIn, screenshots, test } from "./helpers";

const now = () => new Date().toISOString();
const pause = (ms: number) => new Promise((done) => setTimeout(done, ms));

test("choosing a step shows the log of what arrived while it ran, kept in the address", async ({ page, request }) => {
  const token = await apiToken(request);
  const { id, runner } = await createRun(request, token, { agent: "trace-agent", summary: "Trace run" });
  await report(request, runner, id, "status", { status: "running" });
  const fetchStart = now();
  await report(request, runner, id, "steps", { stepId: "fetch", idx: 0, name: "Fetch", status: "running", startedAt: fetchStart });
  await report(request, runner, id, "events", { events: [1, 2, 3].map((n) => ({ eventType: "agent.fetch", message: `fetching ${n}` })) });
  await pause(30);
  await report(request, runner, id, "steps", { stepId: "fetch", idx: 0, name: "Fetch", status: "completed", startedAt: fetchStart, endedAt: now() });
  await pause(30);
  const renderStart = now();
  await report(request, runner, id, "steps", { stepId: "render", idx: 1, name: "Render", status: "running", startedAt: renderStart });
  await report(request, runner, id, "events", { events: [1, 2].map((n) => ({ eventType: "agent.render", message: `rendering ${n}`, metadata: { page: n } })) });
  await pause(30);
  await report(request, runner, id, "steps", { stepId: "render", idx: 1, name: "Render", status: "completed", startedAt: renderStart, endedAt: now() });

  await logIn(page);
  await gotoHydrated(page, `/runs/${id}`);
  await expect(page.locator(".log-line")).toHaveCount(5);
  // The trace has a time axis and each bar its duration.
  await expect(page.locator(".timeline-axis .tick").first()).toBeVisible();
  await expect(page.locator(".timeline-row").first().locator(".bar-duration")).toHaveText(/\d/);

  await page.getByRole("button", { name: "Fetch, completed" }).click();
  await expect(page.locator(".log-line")).toHaveCount(3);
  await expect(page.locator(".log-line .message").first()).toHaveText("fetching 1");
  await expect(page).toHaveURL(new RegExp(`/runs/${id}\\?step=fetch&attempt=1$`));
  // One line per event, its level shown, its metadata folded at the end.
  await page.getByRole("button", { name: "Render, completed" }).click();
  await expect(page.locator(".log-line")).toHaveCount(2);
  const line = page.locator(".log-line").first();
  await expect(line.locator(".level-chip")).toHaveText("info");
  const height = (await line.boundingBox())!.height;
  expect(height).toBeLessThan(30);
  await line.locator(".metadata summary").click();
  await expect(line.locator(".metadata pre")).toContainText('"page": 1');

  // The address keeps the filter: a reload shows the same log.
  await page.reload();
  await expect(page.locator("body")).toHaveAttribute("data-hydrated", "true");
  await expect(page.getByTestId("log-step")).toContainText("render · attempt 1");
  await expect(page.locator(".log-line")).toHaveCount(2);
  await page.getByRole("button", { name: "Show the whole log" }).click();
  await expect(page.locator(".log-line")).toHaveCount(5);
  await expect(page).toHaveURL(new RegExp(`/runs/${id}$`));

  // A type filter takes the types under it, and goes into the address too.
  await page.getByLabel("Event type").fill("agent");
  await page.getByRole("button", { name: "Filter" }).click();
  await expect(page).toHaveURL(/type=agent/);
  await expect(page.locator(".log-line")).toHaveCount(5);
  await page.getByLabel("Event type").fill("agent.render");
  await page.getByRole("button", { name: "Filter" }).click();
  await expect(page.locator(".log-line")).toHaveCount(2);

  // Wide screens: the trace beside the log.
  await page.setViewportSize({ width: 1440, height: 900 });
  const trace = await page.locator("#steps-heading").boundingBox();
  const log = await page.locator("#events-heading").boundingBox();
  expect(log!.x).toBeGreaterThan(trace!.x + 200);
  expect(Math.abs(log!.y - trace!.y)).toBeLessThan(5);
  await screenshots(page, "run-trace");
});

test("a failed run opens its log at the first error, and its error names the failing step", async ({ page, request }) => {
  const token = await apiToken(request);
  const { id, runner } = await createRun(request, token, { agent: "trace-agent", summary: "Failing trace run" });
  await report(request, runner, id, "status", { status: "running" });
  await report(request, runner, id, "events", { events: Array.from({ length: 150 }, (_, i) => ({ eventType: "agent.progress", message: `step ${i + 1}` })) });
  const start = now();
  await report(request, runner, id, "steps", { stepId: "deploy", idx: 0, name: "Deploy", status: "running", startedAt: start });
  await report(request, runner, id, "events", { eventType: "deploy.error", message: "the registry refused the image" });
  await report(request, runner, id, "events", { eventType: "agent.progress", message: "cleaning up" });
  await report(request, runner, id, "steps", { stepId: "deploy", idx: 0, name: "Deploy", status: "failed", startedAt: start, endedAt: now(), error: { message: "refused" } });
  await report(request, runner, id, "status", { status: "failed", error: { code: "deploy_failed", message: "The deploy failed" } });

  await logIn(page);
  await gotoHydrated(page, `/runs/${id}`);
  const error = page.locator(".log-line.first-error");
  await expect(error).toContainText("the registry refused the image");
  await expect(error).toBeInViewport();
  // The log starts a few events before it, with the way back.
  await expect(page.locator(".log-line").first()).toHaveAttribute("data-seq", "148");
  await expect(page.getByRole("button", { name: "Load earlier" })).toBeVisible();

  await expect(page.locator(".run-error")).toContainText("Failed at step Deploy");
  await page.getByRole("button", { name: "Show the step and its log" }).click();
  await expect(page).toHaveURL(/step=deploy&attempt=1/);
  await expect(page.getByTestId("log-step")).toContainText("deploy · attempt 1");
  await expect(page.locator(".log-line")).toHaveCount(2);
  await expect(page.locator(".timeline-row.selected")).toHaveAttribute("data-step-id", "deploy");
});
