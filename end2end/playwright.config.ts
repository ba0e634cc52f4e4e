// Playwright drives Debian's Chromium (/usr/bin/chromium) against the real
// `runboard` binary, which gets its own temporary SQLite database, or the
// PostgreSQL database RUNBOARD_E2E_DATABASE_URL names (scripts/dev test runs
// the specs on both).
import { defineConfig } from "@playwright/test";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";

// Set once in the main process; workers inherit the environment.
process.env.RUNBOARD_E2E_DIR ||= mkdtempSync(join(tmpdir(), "runboard-e2e-"));
const dataDir = process.env.RUNBOARD_E2E_DIR;

export const PORT = Number(process.env.RUNBOARD_E2E_PORT || 3100);
export const OWNER_EMAIL = "owner@e2e.test";
export const OWNER_PASSWORD = "e2e-password-123";

const bin = process.env.RUNBOARD_BIN || resolve(__dirname, "../target/debug/runboard");
export const serverEnv = {
  DATABASE_URL: process.env.RUNBOARD_E2E_DATABASE_URL || `sqlite://${dataDir}/runboard.db`,
  RUNBOARD_ARTIFACT_DIR: `${dataDir}/artifacts`,
  LEPTOS_SITE_ADDR: `127.0.0.1:${PORT}`,
  LEPTOS_SITE_ROOT: process.env.LEPTOS_SITE_ROOT || resolve(__dirname, "../target/site"),
  RUNBOARD_ADMIN_EMAIL: OWNER_EMAIL,
  RUNBOARD_ADMIN_PASSWORD: OWNER_PASSWORD,
  RUST_LOG: "warn",
  // The specs drive every run themselves; a demo fleet would change what they count.
  RUNBOARD_DEMO: "0",
  // Every spec logs in from 127.0.0.1, some with wrong passwords on purpose: the
  // login limit (tested by the Rust suite) must not refuse the next spec's login.
  RUNBOARD_LOGIN_FAILURES_PER_MINUTE: "1000",
  // Sweep every second, so a stalled run (stuck.spec.ts) turns within seconds.
  RUNBOARD_SWEEP_SECS: "1",
  // Alert notifications (alerts.spec.ts) go to a receiver the spec starts on
  // 127.0.0.1, which the outbound policy refuses unless allowed.
  RUNBOARD_OUTBOUND_ALLOW: "127.0.0.1",
};

export default defineConfig({
  testDir: "./tests",
  outputDir: "./results/artifacts",
  globalSetup: "./global-setup.ts",
  fullyParallel: false,
  workers: 1,
  retries: 0,
  timeout: 30_000,
  expect: { timeout: 10_000 },
  reporter: [["list"]],
  use: {
    baseURL: `http://127.0.0.1:${PORT}`,
    trace: "retain-on-failure",
    screenshot: "only-on-failure",
    launchOptions: {
      executablePath: "/usr/bin/chromium",
      args: [
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--no-first-run",
      ],
    },
  },
  webServer: {
    command: bin,
    url: `http://127.0.0.1:${PORT}/healthz`,
    env: { ...serverEnv, RUNBOARD_BIN: bin },
    reuseExistingServer: false,
    timeout: 60_000,
    stdout: "pipe",
    stderr: "pipe",
  },
});
