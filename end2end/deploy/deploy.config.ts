// The deployment of docs/deploy.md, checked through its proxy: scripts/try-deploy
// starts PostgreSQL, an S3 server, two `runboard` servers and nginx as the page
// says, then runs this with the proxy's URL and the servers' in the environment.
import { defineConfig } from "@playwright/test";
import base from "../playwright.config";

export default defineConfig({
  ...base,
  testDir: ".",
  globalSetup: undefined,
  webServer: undefined,
  outputDir: "../results/deploy",
  timeout: 60_000,
  use: { ...base.use, baseURL: process.env.RUNBOARD_DEPLOY_PROXY },
});
