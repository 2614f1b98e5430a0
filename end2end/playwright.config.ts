import { defineConfig, devices } from "@playwright/test";

// Playwright starts the server built by `make release` on its own port, with a
// fresh SQLite database and the demo seller, and drives Debian's Chromium (no download).
const port = Number(process.env.E2E_PORT ?? 3100);
const baseURL = `http://127.0.0.1:${port}`;
// The release build: what ships, with its split wasm modules (`make release`).
const bin = "../target/release/stockroom";

export default defineConfig({
  testDir: "./tests",
  fullyParallel: false,
  workers: 1,
  retries: 0,
  timeout: 60_000,
  expect: { timeout: 10_000 },
  reporter: [["list"], ["./failure-summary.ts"]],
  outputDir: "test-results",
  use: {
    baseURL,
    // A seller away from UTC: every time on the pages must read in this zone.
    timezoneId: "Europe/Paris",
    trace: "retain-on-failure",
    screenshot: "only-on-failure",
    launchOptions: {
      executablePath: "/usr/bin/chromium",
      args: [
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
      ],
    },
  },
  projects: [
    { name: "md", use: { ...devices["Desktop Chrome"], viewport: { width: 768, height: 1024 } } },
    { name: "lg", use: { ...devices["Desktop Chrome"], viewport: { width: 1440, height: 900 } } },
  ],
  webServer: {
    command:
      `rm -rf ../target/e2e && mkdir -p ../target/e2e && ${bin} migrate` +
      ` && STOCKROOM_PASSWORD=other-seller-pass ${bin} seller add --email other@stockroom.test --name 'Other Shop'` +
      // A seller per viewport for the marketplace connections' test, with items of their own.
      ` && STOCKROOM_PASSWORD=market-seller-pass ${bin} seller add --email market-md@stockroom.test --demo-items 200` +
      ` && STOCKROOM_PASSWORD=market-seller-pass ${bin} seller add --email market-lg@stockroom.test --demo-items 200` +
      ` && exec ${bin} serve`,
    url: `${baseURL}/healthz`,
    timeout: 120_000,
    reuseExistingServer: false,
    stdout: "pipe",
    stderr: "pipe",
    env: {
      LEPTOS_SITE_ROOT: "../target/site",
      LEPTOS_SITE_PKG_DIR: "pkg",
      LEPTOS_OUTPUT_NAME: "stockroom",
      LEPTOS_SITE_ADDR: `127.0.0.1:${port}`,
      DATABASE_URL: "sqlite://../target/e2e/stockroom.db?mode=rwc",
      STOCKROOM_DEMO: "1",
      // The demo seller's three connections (built-in, Amazon and eBay sandboxes), as
      // `make run` gives them: every journey chooses where to publish.
      STOCKROOM_DEMO_CONNECTIONS: "1",
      // Seals the test sellers' marketplace credentials (a key for this suite only).
      STOCKROOM_SECRET_KEY: "5a".repeat(32),
      // The UI is under test here, not the retries: no random marketplace outages.
      SANDBOX_TRANSIENT_ERROR_RATE: "0",
      // Fast enough for a test, slow enough to watch a 200-item publish move.
      SANDBOX_RATE_LIMIT: "20",
      // An outage switched on by a test fails items after two quick attempts.
      MARKETPLACE_MAX_ATTEMPTS: "2",
      MARKETPLACE_RETRY_BASE_MS: "200",
      RUST_LOG: "info",
    },
  },
});
