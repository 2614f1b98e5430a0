import { defineConfig, devices } from "@playwright/test";
import base from "./playwright.config";

// The newcomer's path: the server `make run` started, at its own defaults (the demo
// seller with three connections, the sandbox's own pace, latency and faults). CI starts
// it exactly as the README says, then runs this against it; it starts no server itself.
export default defineConfig({
  ...base,
  testDir: "./newcomer",
  timeout: 360_000,
  webServer: undefined,
  use: { ...base.use, baseURL: process.env.BASE_URL ?? "http://127.0.0.1:3000" },
  projects: [
    { name: "md", use: { ...devices["Desktop Chrome"], viewport: { width: 768, height: 1024 } } },
    { name: "lg", use: { ...devices["Desktop Chrome"], viewport: { width: 1440, height: 900 } } },
  ],
});
