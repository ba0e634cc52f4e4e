// Alerts: an owner creates a rule on the Alerts page, sends a test that reaches a
// local receiver (Slack's shape), sees it delivered in the history, and a failed
// run of the agent fires it once.
import { createServer, IncomingMessage } from "node:http";
import { AddressInfo } from "node:net";
import { apiToken, createRun, report } from "./api";
import { expect, gotoHydrated, logIn, screenshots, test } from "./helpers";

/** A local HTTP receiver that keeps every body it is sent. */
async function receiver() {
  const bodies: string[] = [];
  const server = createServer((request: IncomingMessage, response) => {
    let body = "";
    request.on("data", (chunk) => (body += chunk));
    request.on("end", () => {
      bodies.push(body);
      response.writeHead(200).end("ok");
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return { url: `http://127.0.0.1:${port}/slack`, bodies, close: () => server.close() };
}

test("an owner creates an alert, sends a test, and a failed run fires it once", async ({ page, request }) => {
  const hook = await receiver();
  try {
    const token = await apiToken(request);
    // The agent exists once it has a run.
    const first = await createRun(request, token, { agent: "alert-crawler", input: { n: 0 } });

    await logIn(page);
    await gotoHydrated(page, "/alerts");
    await expect(page.getByRole("heading", { level: 1 })).toHaveText("Alerts");
    const form = page.locator("form.alert-form");
    await form.getByLabel("Name").fill("Crawler failed");
    await form.getByLabel("When").selectOption("run_failed");
    await form.getByLabel("Agent").selectOption("alert-crawler");
    await form.getByLabel("Send to").selectOption("slack");
    await form.getByLabel("URL or address").fill(hook.url);
    await form.getByRole("button", { name: "Create alert" }).click();
    await expect(page.locator(".form-ok")).toContainText("Created");
    const row = page.locator("table.alerts tbody tr", { hasText: "Crawler failed" });
    await expect(row).toContainText("A run failed");
    await expect(row).toContainText("agent alert-crawler");
    await expect(row).toContainText("ok");
    await screenshots(page, "alerts");

    await row.getByRole("link", { name: "Crawler failed" }).click();
    await expect(page).toHaveURL(/\/alerts\/[0-9a-f-]+$/);
    await expect(page.getByRole("heading", { level: 1 })).toHaveText("Crawler failed");
    await page.getByRole("button", { name: "Send test" }).click();
    const history = page.locator("table.firings tbody tr");
    await expect(history).toHaveCount(1);
    await expect(history.first()).toContainText("test");
    await expect.poll(() => hook.bodies.length).toBe(1);
    expect(JSON.parse(hook.bodies[0]).text).toContain("Crawler failed");
    await page.reload();
    await expect(history.first()).toContainText("slack: delivered");

    // A failed run of the agent: fired once, linking to the run.
    await report(request, first.runner, first.id, "status", { status: "running" });
    await report(request, first.runner, first.id, "status", {
      status: "failed",
      error: { code: "http_500", message: "the site is down" },
    });
    await expect.poll(() => hook.bodies.length).toBe(2);
    const fired = JSON.parse(hook.bodies[1]).text as string;
    expect(fired).toContain("http_500");
    expect(fired).toContain(`/runs/${first.id}|`);
    await page.reload();
    await expect(history).toHaveCount(2);
    await expect(history.first()).toContainText("fired");
    await expect(history.first().getByRole("link", { name: "Open run" })).toHaveAttribute("href", `/runs/${first.id}`);
    await screenshots(page, "alert-history");

    // Disabled, the rule says so.
    await page.getByRole("button", { name: "Disable" }).click();
    await expect(page.locator(".page-header .badge")).toHaveText("disabled");

    // Deleting asks first; "Keep it" keeps the rule, "Yes, delete it" removes it.
    await page.getByRole("button", { name: "Delete" }).click();
    const question = page.getByRole("alertdialog", { name: "Confirm" });
    await expect(question).toContainText("Delete this alert and its history?");
    await question.getByRole("button", { name: "Keep it" }).click();
    await expect(question).toHaveCount(0);
    await expect(page.getByRole("heading", { level: 1 })).toHaveText("Crawler failed");
    await page.getByRole("button", { name: "Delete" }).click();
    await question.getByRole("button", { name: "Yes, delete it" }).click();
    await expect(page).toHaveURL(/\/alerts$/);
    await expect(page.locator("table.alerts tbody tr", { hasText: "Crawler failed" })).toHaveCount(0);
  } finally {
    hook.close();
  }
});
