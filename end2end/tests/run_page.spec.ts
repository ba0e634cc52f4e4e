import { apiToken, createRun, OTHER_EMAIL, OTHER_PASSWORD, PNG, report, upload } from "./api";
import { documentWasKept, expect, logIn, markDocument, test } from "./helpers";

const at = (seconds: number) => new Date(Date.UTC(2026, 10, 25, 8, 0, seconds)).toISOString();

test("a run shows its header, step timeline with retries, paged events and artifact previews", async ({ page, request }) => {
  const token = await apiToken(request);
  const { id, runner } = await createRun(request, token, {
    agent: "e2e-builder",
    summary: "Timeline run",
    input: { company_name: "Stripe", options: { depth: 2 } },
  });
  await report(request, runner, id, "status", { status: "running", progress: 0.5 });
  await report(request, runner, id, "steps", { stepId: "fetch", idx: 0, name: "Fetch", attempt: 1, status: "failed", startedAt: at(0), endedAt: at(2), error: { message: "timeout" } });
  await report(request, runner, id, "steps", { stepId: "fetch", idx: 0, name: "Fetch", attempt: 2, status: "completed", startedAt: at(2), endedAt: at(5) });
  await report(request, runner, id, "steps", { stepId: "render", idx: 1, name: "Render", status: "completed", cacheHit: true, startedAt: at(5), endedAt: at(6) });
  const lines = Array.from({ length: 150 }, (_, i) => ({ eventType: "agent.progress", message: `line ${i + 1}` }));
  await report(request, runner, id, "events", { events: lines });
  await report(request, runner, id, "events", { eventType: "error", message: "something broke" });
  await upload(request, runner, id, "home.png", "image/png", PNG);
  await report(request, runner, id, "artifacts", { artifactType: "report", name: "notes.txt", contentType: "text/plain", inlineText: "hello report" });
  await report(request, runner, id, "artifacts", { artifactType: "link", name: "trace", url: "https://example.com/trace/1" });
  const longReport = Array.from({ length: 60 }, (_, i) => `row ${i + 1}`).join("\n");
  await report(request, runner, id, "artifacts", { artifactType: "report", name: "long.txt", contentType: "text/plain", inlineText: longReport });

  await logIn(page);
  await page.getByRole("link", { name: "Timeline run" }).click();
  await expect(page).toHaveURL(new RegExp(`/runs/${id}$`));
  await expect(page.getByRole("heading", { name: "Timeline run" })).toBeVisible();
  await expect(page.locator(".run-title .badge")).toHaveText("running");
  await expect(page.getByRole("progressbar")).toHaveAttribute("aria-valuenow", "50");
  await expect(page.getByTestId("progress-percent")).toHaveText("50 %");
  await expect(page.locator("details.json").first()).toContainText("Stripe");

  // Timeline: every attempt its own bar, in order on one axis; cache hit marked.
  const rows = page.locator(".timeline-row");
  await expect(rows).toHaveCount(3);
  await expect(rows.nth(0)).toHaveAttribute("data-attempt", "1");
  await expect(rows.nth(1)).toContainText("attempt 2");
  await expect(rows.nth(2)).toContainText("cache hit");
  const lefts = await page.locator(".timeline .bar").evaluateAll((bars) => bars.map((bar) => bar.getBoundingClientRect().left));
  expect(lefts[0]).toBeLessThan(lefts[1]);
  expect(lefts[1]).toBeLessThan(lefts[2]);
  await page.locator(".timeline .bar").first().click();
  await expect(page.locator(".step-details")).toContainText("failed");
  await expect(page.locator(".step-details")).toContainText("timeout");
  // A chosen step filters the log to what arrived while it ran (nothing: these
  // steps report times of their own, long before the events were posted).
  await expect(page.getByTestId("log-step")).toContainText("fetch · attempt 1");
  await expect(page.locator(".log-line")).toHaveCount(0);
  await page.locator(".timeline .bar").first().click();
  await expect(page.getByTestId("log-step")).toHaveCount(0);

  // Events: the first page only, then more on demand, without a reload.
  await markDocument(page);
  await expect(page.locator(".log-line")).toHaveCount(100);
  await page.getByRole("button", { name: "Load more" }).click();
  await expect(page.locator(".log-line")).toHaveCount(151);
  await expect(page.locator(".log-line.level-error")).toContainText("something broke");
  expect(await documentWasKept(page)).toBe(true);

  // Filter the log by type.
  await page.getByLabel("Event type").fill("error");
  await page.getByRole("button", { name: "Filter" }).click();
  await expect(page.locator(".log-line")).toHaveCount(1);

  // Artifacts: the image loads, the text shows.
  const image = page.locator("img.preview-image");
  await expect(image).toBeVisible();
  await expect.poll(() => image.evaluate((img: HTMLImageElement) => img.naturalWidth)).toBeGreaterThan(0);
  await expect(page.locator(".artifact", { hasText: "notes.txt" }).locator(".preview-text")).toHaveText("hello report");
  // Bytes Runboard holds are downloaded; a runner's link is opened.
  const notes = page.locator(".artifact", { hasText: "notes.txt" });
  await expect(notes.getByRole("link", { name: "Download" })).toHaveAttribute("download", "notes.txt");
  const trace = page.locator(".artifact", { hasText: "trace" });
  await expect(trace.getByRole("link", { name: "Open" })).toHaveAttribute("href", "https://example.com/trace/1");
  await expect(trace.getByRole("link", { name: "Download" })).toHaveCount(0);
  // Sizes for all: reported, an inline text's own, a link's kind.
  await expect(notes.locator(".artifact-size")).toHaveText("12 B");
  await expect(trace.locator(".artifact-size")).toHaveText("link");
  // A long preview is clipped, and expands.
  const long = page.locator(".artifact", { hasText: "long.txt" });
  await expect(long.locator(".artifact-preview")).toHaveClass(/clipped/);
  await long.getByRole("button", { name: "Show all" }).click();
  await expect(long.locator(".artifact-preview")).not.toHaveClass(/clipped/);
  await expect(long.getByRole("button", { name: "Show less" })).toHaveAttribute("aria-expanded", "true");
  // An image opens full size in a dialog, and closes with Escape.
  await page.getByRole("button", { name: "Enlarge home.png" }).click();
  const lightbox = page.locator("dialog.lightbox[open]");
  await expect(lightbox).toBeVisible();
  await page.keyboard.press("Escape");
  await expect(lightbox).toHaveCount(0);
  await page.screenshot({ path: "results/screenshots/run-page.png", fullPage: true });
});

test("cancelling a running run asks first, then shows it cancelled", async ({ page, request }) => {
  const token = await apiToken(request);
  const { id, runner } = await createRun(request, token, { agent: "e2e-builder", summary: "Run to cancel" });
  await report(request, runner, id, "status", { status: "running" });
  await logIn(page);
  await page.goto(`/runs/${id}`);
  await expect(page.locator("body")).toHaveAttribute("data-hydrated", "true");
  await page.getByRole("button", { name: "Cancel run" }).click();
  await expect(page.getByRole("alertdialog")).toContainText("Cancel this run?");
  await page.getByRole("button", { name: "Yes, cancel it" }).click();
  await expect(page.locator(".run-title .badge")).toHaveText("cancelled");
  const response = await request.post(`/api/runner/runs/${id}/status`, {
    data: { progress: 0.9 },
    headers: { authorization: `Bearer ${runner}` },
  });
  expect(response.status()).toBe(409);
});

test("retrying a failed run opens the new attempt", async ({ page, request }) => {
  const token = await apiToken(request);
  const { id, runner } = await createRun(request, token, { agent: "e2e-builder", summary: "Run to retry" });
  await report(request, runner, id, "status", { status: "failed", error: { code: "boom", message: "it broke" } });
  await logIn(page);
  await page.goto(`/runs/${id}`);
  await expect(page.locator("body")).toHaveAttribute("data-hydrated", "true");
  await expect(page.locator(".run-error")).toContainText("it broke");
  await page.getByRole("button", { name: "Retry" }).click();
  await expect(page).not.toHaveURL(new RegExp(`/runs/${id}$`));
  await expect(page.locator(".run-title .badge")).toHaveText("requested");
  await expect(page.locator(".run-facts")).toContainText("retry of");
});

test("deleting a run asks first and returns to the list without it", async ({ page, request }) => {
  const token = await apiToken(request);
  const { id } = await createRun(request, token, { agent: "e2e-builder", summary: "Run to delete" });
  await logIn(page);
  await page.goto(`/runs/${id}`);
  await expect(page.locator("body")).toHaveAttribute("data-hydrated", "true");
  await page.getByRole("button", { name: "Delete" }).click();
  await page.getByRole("button", { name: "Yes, delete it" }).click();
  await expect(page).toHaveURL(/\/$/);
  await expect(page.getByRole("link", { name: "Run to delete" })).toHaveCount(0);
  const gone = await request.get(`/api/runs/${id}`, { headers: { authorization: `Bearer ${token}` } });
  expect(gone.status()).toBe(404);
});

test.describe("a run of another account", () => {
  test.use({ expectedStatuses: [401, 404] });

  test("is the 404 page", async ({ page, request }) => {
    const other = await apiToken(request, OTHER_EMAIL, OTHER_PASSWORD);
    const { id } = await createRun(request, other, { agent: "secret-agent", summary: "Not yours" });
    await logIn(page);
    const response = await page.goto(`/runs/${id}`);
    expect(response?.status()).toBe(404);
    await expect(page.getByRole("heading", { name: "Page not found" })).toBeVisible();
    await expect(page.getByText("Not yours")).toHaveCount(0);
    await page.screenshot({ path: "results/screenshots/not-found.png", fullPage: true });
  });
});

test("the run page's controls work from the keyboard", async ({ page, request }) => {
  const token = await apiToken(request);
  const { id, runner } = await createRun(request, token, { agent: "e2e-keys", summary: "Keyboard run" });
  await report(request, runner, id, "status", { status: "running" });
  await report(request, runner, id, "steps", { stepId: "only", idx: 0, name: "Only step", status: "completed", startedAt: at(0), endedAt: at(3), outputPreview: "all done" });
  await logIn(page);
  await page.goto(`/runs/${id}`);
  await expect(page.locator("body")).toHaveAttribute("data-hydrated", "true");

  // A step bar is a button: focus it, Enter shows its details.
  await page.locator(".timeline .bar").first().focus();
  await page.keyboard.press("Enter");
  await expect(page.locator(".step-details")).toContainText("all done");

  // Cancel, then confirm, by keyboard.
  await page.getByRole("button", { name: "Cancel run" }).focus();
  await page.keyboard.press("Enter");
  await page.getByRole("button", { name: "Yes, cancel it" }).focus();
  await page.keyboard.press("Space");
  await expect(page.locator(".run-title .badge")).toHaveText("cancelled");

  // The log's filter is a form: type, Enter.
  await page.getByLabel("Event type").focus();
  await page.keyboard.type("nothing-like-this");
  await page.keyboard.press("Enter");
  await expect(page.getByText("No events.")).toBeVisible();
});
