// Two servers on one PostgreSQL and one bucket, behind nginx (docs/deploy.md):
// the dashboard works through the proxy, changes made through either server
// reach the page live, an artifact stored through one is served by the other,
// and the page goes on through the other server when one stops.
import { expect, request as newRequest, test } from "@playwright/test";

const proxy = process.env.RUNBOARD_DEPLOY_PROXY!;
const servers = (process.env.RUNBOARD_DEPLOY_SERVERS ?? "").split(",");
const email = process.env.RUNBOARD_DEPLOY_EMAIL!;
const password = process.env.RUNBOARD_DEPLOY_PASSWORD!;
const firstPid = Number(process.env.RUNBOARD_DEPLOY_FIRST_PID);

async function client(baseURL: string) {
  return newRequest.newContext({ baseURL });
}

async function token(baseURL: string) {
  const api = await client(baseURL);
  const response = await api.post("/api/auth/token", { data: { email, password } });
  expect(response.status()).toBe(200);
  return (await response.json()).data.token as string;
}

async function createRun(baseURL: string, bearer: string, summary: string) {
  const api = await client(baseURL);
  const response = await api.post("/api/runs", {
    data: { agent: "deploy-check", summary },
    headers: { authorization: `Bearer ${bearer}` },
  });
  expect(response.status()).toBe(201);
  const data = (await response.json()).data;
  return { id: data.run.id as string, runner: data.runnerToken as string };
}

test("the dashboard works through the proxy with two servers behind it", async ({ page }) => {
  expect(servers).toHaveLength(2);
  const health = await (await client(proxy)).get("/healthz");
  expect(health.status()).toBe(200);

  await page.goto("/login");
  await expect(page.locator("body")).toHaveAttribute("data-hydrated", "true");
  await page.getByLabel("Email").fill(email);
  await page.getByLabel("Password").fill(password);
  await page.getByRole("button", { name: "Log in" }).click();
  await expect(page.getByRole("heading", { name: "Runs" })).toBeVisible();
  await expect(page.locator(".live-indicator")).toHaveAttribute("data-live", "live");

  // A run created directly on each server reaches the page's stream, which
  // the proxy connected to one of them.
  const bearer = await token(servers[0]);
  const stamp = Date.now();
  const onFirst = await createRun(servers[0], bearer, `Through the first server ${stamp}`);
  await createRun(servers[1], bearer, `Through the second server ${stamp}`);
  const pill = page.locator(".new-runs-pill");
  await expect(pill).toHaveText("2 new runs — show");
  await pill.click();
  await expect(page.getByRole("link", { name: `Through the first server ${stamp}` })).toBeVisible();
  await expect(page.getByRole("link", { name: `Through the second server ${stamp}` })).toBeVisible();

  // A runner reports through the first server; the page follows.
  const firstApi = await client(servers[0]);
  const running = await firstApi.post(`/api/runner/runs/${onFirst.id}/status`, {
    data: { status: "running", progress: 0.5 },
    headers: { authorization: `Bearer ${onFirst.runner}` },
  });
  expect(running.status()).toBe(200);
  const row = page.locator("tbody tr", { has: page.getByRole("link", { name: `Through the first server ${stamp}` }) });
  await expect(row.locator(".badge")).toHaveText("running");
  // The counts are read again through the proxy, from either server: neither
  // may serve what it kept from before the change (its views are dropped when
  // it hears of the other's commit; a kept view would live 10 s).
  await expect(page.locator('.chip[data-status="running"] .count')).toHaveText("1", { timeout: 5_000 });
  await expect(page.locator('.chip[data-status="requested"] .count')).toHaveText("1", { timeout: 5_000 });

  // An artifact uploaded through the first server is in the bucket: the second serves it.
  const uploaded = await firstApi.post(`/api/runner/runs/${onFirst.id}/artifacts`, {
    headers: { authorization: `Bearer ${onFirst.runner}` },
    multipart: { artifactType: "report", file: { name: "report.txt", mimeType: "text/plain", buffer: Buffer.from(`report ${stamp}`) } },
  });
  expect(uploaded.status(), await uploaded.text()).toBe(200);
  const second = await client(servers[1]);
  const listed = await second.get(`/api/runs/${onFirst.id}/artifacts`, { headers: { authorization: `Bearer ${bearer}` } });
  expect(listed.status()).toBe(200);
  const artifact = (await listed.json()).data.artifacts.find((a: { name: string }) => a.name === "report.txt");
  const content = await second.get(`/api/runs/${onFirst.id}/artifacts/${artifact.id}/content`, {
    headers: { authorization: `Bearer ${bearer}` },
  });
  expect(content.status()).toBe(200);
  expect(await content.text()).toBe(`report ${stamp}`);

  for (const width of [1440, 390]) {
    await page.setViewportSize({ width, height: 900 });
    await page.screenshot({ path: `results/deploy/runs-through-proxy-${width}.png`, fullPage: true });
  }
  await page.setViewportSize({ width: 1280, height: 720 });

  // The first server stops: the page goes on through the second.
  process.kill(firstPid, "SIGTERM");
  await expect.poll(async () => (await fetch(`${servers[0]}/healthz`).catch(() => null))?.status ?? 0, { timeout: 30_000 }).toBe(0);
  await page.reload();
  await expect(page.getByRole("heading", { name: "Runs" })).toBeVisible();
  await expect(page.locator(".live-indicator")).toHaveAttribute("data-live", "live");
  await createRun(servers[1], bearer, `After the first server stopped ${stamp}`);
  await expect(pill).toHaveText("1 new run — show");
});
