// Fills the test account with sample runs before the specs start, through the
// same `runboard seed` command a person would use.
import { execFileSync } from "node:child_process";
import { resolve } from "node:path";
import { OWNER_EMAIL, serverEnv } from "./playwright.config";

export default function globalSetup() {
  const bin = process.env.RUNBOARD_BIN || resolve(__dirname, "../target/debug/runboard");
  const env = { ...process.env, ...serverEnv };
  execFileSync(bin, ["seed", "--email", OWNER_EMAIL, "--runs", "30"], { env, stdio: "inherit" });
  // A second account, whose runs the owner must never see.
  execFileSync(
    bin,
    ["user", "add", "--email", "other@e2e.test", "--password", "other-password-123", "--account", "Other"],
    { env, stdio: "inherit" },
  );
}
