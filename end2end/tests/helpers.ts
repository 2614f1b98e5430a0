import { expect, type APIRequestContext, type Page, type TestInfo } from "@playwright/test";

export const DEMO_EMAIL = "demo@stockroom.test";
export const DEMO_PASSWORD = "stockroom-demo";

/** Clicks before hydration do nothing; the app marks <body> once it is interactive. */
export async function hydrated(page: Page) {
  await expect(page.locator("body[data-hydrated='true']")).toHaveCount(1);
}

export async function logIn(page: Page) {
  await page.goto("/");
  await expect(page).toHaveURL(/\/login$/);
  await hydrated(page);
  await page.getByLabel("E-mail").fill(DEMO_EMAIL);
  await page.getByLabel("Password").fill(DEMO_PASSWORD);
  await page.getByRole("button", { name: "Sign in" }).click();
  await expect(page.getByRole("heading", { name: "Catalog" })).toBeVisible();
  await hydrated(page);
}

/**
 * The signed-in seller's built-in sandbox connection. The demo seller has three (as at
 * `make run`'s defaults), so a publish through the API names the one it means.
 */
export async function sandboxConnection(request: APIRequestContext): Promise<number> {
  const reply = await request.get("/api/v1/connections");
  expect(reply.status()).toBe(200);
  const { connections } = await reply.json();
  const sandbox = connections.find((c: { marketplace: string }) => c.marketplace === "sandbox");
  expect(sandbox, "the seller has a sandbox connection").toBeTruthy();
  return sandbox.id;
}

/** A full-page screenshot kept under test-results/, named by viewport and step. */
export async function shot(page: Page, testInfo: TestInfo, step: string, fullPage = true) {
  await page.screenshot({ path: testInfo.outputPath(`${testInfo.project.name}-${step}.png`), fullPage });
}

/** Closes every toast (problem toasts stay until closed, and may cover a control). */
export async function closeToasts(page: Page) {
  const close = page.locator(".toast").getByRole("button", { name: "Close notification" });
  while ((await close.count()) > 0) {
    await close.first().click();
  }
}

/** RFC 4180: quoted cells may hold commas, quotes ("") and line breaks. */
export function parseCsv(text: string): string[][] {
  const rows: string[][] = [];
  let row: string[] = [];
  let cell = "";
  let quoted = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (quoted) {
      if (c === '"' && text[i + 1] === '"') {
        cell += '"';
        i++;
      } else if (c === '"') {
        quoted = false;
      } else {
        cell += c;
      }
    } else if (c === '"') {
      quoted = true;
    } else if (c === ",") {
      row.push(cell);
      cell = "";
    } else if (c === "\n" || c === "\r") {
      if (c === "\r" && text[i + 1] === "\n") i++;
      row.push(cell);
      rows.push(row);
      row = [];
      cell = "";
    } else {
      cell += c;
    }
  }
  if (cell !== "" || row.length > 0) {
    row.push(cell);
    rows.push(row);
  }
  return rows;
}

export function toCsv(rows: string[][]): string {
  const quote = (cell: string) => (/[",\r\n]/.test(cell) ? `"${cell.replace(/"/g, '""')}"` : cell);
  return rows.map((row) => row.map(quote).join(",")).join("\r\n") + "\r\n";
}

// Waits until `count()` passes `from`. If it never does, says where the task stands on
// the server: a stalled stream and a stalled task look the same in the browser.
export async function movesOn(page: Page, taskId: number | string, count: () => Promise<number>, from: number, timeout: number) {
  await expect
    .poll(count, { timeout })
    .toBeGreaterThan(from)
    .catch(async (error) => {
      const task = await (await page.request.get(`/api/v1/tasks/${taskId}`)).text();
      throw new Error(`Task ${taskId} stayed at ${await count()} (from ${from}); the server has ${task.slice(0, 400)}`, { cause: error });
    });
}
