// The pages under their Content-Security-Policy: every main page loads and
// hydrates with no policy violation (an inline script without the nonce, a
// blocked style, WebAssembly refused…), and the artifact previews still show.
import { apiToken, createRun, PNG, report, upload } from "./api";
import { expect, gotoHydrated, logIn, test } from "./helpers";

// The listener below is an init script, which Playwright also tries to run in the
// run page's sandboxed HTML preview: Chromium refuses it there (the sandbox at work).
test.use({ toleratedErrors: [/^Blocked script execution in '.*\/artifacts\/.*\/content' because the document's frame is sandboxed/] });

test("the main pages hydrate with no Content-Security-Policy violation", async ({ page, request }) => {
  const violations: string[] = [];
  await page.exposeBinding("__cspViolation", (_source, text: string) => {
    violations.push(text);
  });
  await page.addInitScript(() => {
    document.addEventListener("securitypolicyviolation", (event) => {
      const where = `${event.sourceFile || document.location.pathname}:${event.lineNumber}`;
      (window as any).__cspViolation(`${event.violatedDirective} blocked ${event.blockedURI || "inline"} at ${where}: ${event.sample}`);
    });
  });
  const policyMessages: string[] = [];
  page.on("console", (message) => {
    if (/content security policy/i.test(message.text())) policyMessages.push(message.text());
  });

  // A run with everything the run page shows: steps, events, and each kind of preview.
  const token = await apiToken(request);
  const created = await request.post("/api/campaigns", {
    data: { name: "CSP launch" },
    headers: { authorization: `Bearer ${token}` },
  });
  expect(created.status()).toBe(201);
  const campaignId = (await created.json()).data.id as string;
  const { id, runner } = await createRun(request, token, {
    agent: "e2e-csp",
    summary: "Run under the policy",
    campaignId,
    input: { company_name: "Stripe" },
  });
  await report(request, runner, id, "status", { status: "running", progress: 0.4 });
  await report(request, runner, id, "steps", { stepId: "build", idx: 0, name: "Build", status: "running" });
  await report(request, runner, id, "events", { eventType: "agent.progress", message: "building" });
  await upload(request, runner, id, "shot.png", "image/png", PNG);
  await upload(request, runner, id, "page.html", "text/html", Buffer.from("<style>h1 { color: teal }</style><h1>Framed preview</h1>"));
  await report(request, runner, id, "artifacts", {
    artifactType: "report",
    name: "notes.md",
    contentType: "text/markdown",
    inlineText: "# Notes\n\n[docs](https://example.com/docs) [bad](JaVaScRiPt:alert(1)) ![x](data:image/png;base64,AAAA)",
  });

  const login = await page.goto("/login");
  const policy = login!.headers()["content-security-policy"];
  expect(policy).toContain("frame-ancestors 'self'");
  expect(policy).toMatch(/script-src 'self' 'nonce-[A-Za-z0-9_-]{16,}' 'wasm-unsafe-eval'/);
  await expect(page.locator("body")).toHaveAttribute("data-hydrated", "true");
  await logIn(page);
  for (const path of ["/", `/runs/${id}`, "/agents", "/campaigns", `/campaigns/${campaignId}`, "/settings", "/settings/members", "/settings/audit", "/runs/new"]) {
    await gotoHydrated(page, path);
    if (path === `/runs/${id}`) {
      await expect(page.locator("img.preview-image")).toBeVisible();
      await expect(page.frameLocator("iframe.preview-html").locator("h1")).toHaveText("Framed preview");
      const markdown = page.locator(".preview-markdown");
      await expect(markdown.getByRole("link", { name: "docs" })).toHaveAttribute("href", "https://example.com/docs");
      expect(await markdown.locator("a", { hasText: "bad" }).getAttribute("href")).toBeNull();
    }
  }
  // Moving between pages in the hydrated app, and the live stream, under the same policy.
  await page.getByRole("link", { name: "Runs", exact: true }).click();
  await expect(page.getByRole("link", { name: "Run under the policy" })).toBeVisible();
  await report(request, runner, id, "status", { status: "completed" });
  await expect(page.locator(`tr[data-run-id="${id}"] .badge`)).toHaveText("completed");

  expect(violations, "securitypolicyviolation events").toEqual([]);
  expect(policyMessages, "console messages about the Content Security Policy").toEqual([]);
});
