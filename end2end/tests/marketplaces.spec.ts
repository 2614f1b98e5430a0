import { expect, test, type Page } from "@playwright/test";
import { hydrated, shot } from "./helpers";

// Each viewport has its own seller (made with 200 demo items by the server's start-up
// command), so the two runs never share connections or listings.
async function logInAs(page: Page, email: string) {
  await page.goto("/");
  await expect(page).toHaveURL(/\/login$/);
  await hydrated(page);
  await page.getByLabel("E-mail").fill(email);
  await page.getByLabel("Password").fill("market-seller-pass");
  await page.getByRole("button", { name: "Sign in" }).click();
  await expect(page.getByRole("heading", { name: "Catalog" })).toBeVisible();
  await hydrated(page);
}

async function connect(page: Page, marketplace: string, fields: Record<string, string>) {
  const form = page.locator("section.add-connection");
  await form.getByRole("combobox", { name: "Marketplace" }).selectOption({ label: marketplace });
  for (const [label, value] of Object.entries(fields)) {
    await form.getByLabel(label, { exact: true }).fill(value);
  }
  await form.getByRole("button", { name: "Connect" }).click();
  await expect(page.locator(`article.connection[data-connection="${fields["Name"]}"]`)).toBeVisible();
}

async function stats(page: Page) {
  return (await page.request.get("/sandbox/marketplace/_stats")).json();
}

async function taskDone(page: Page, id: number) {
  await expect
    .poll(async () => (await (await page.request.get(`/api/v1/tasks/${id}`)).json()).status, { timeout: 60_000 })
    .toMatch(/^(succeeded|completed_with_errors)$/);
  return (await page.request.get(`/api/v1/tasks/${id}`)).json();
}

test("a seller connects eBay and Amazon, tests them, and publishes to each", async ({ page, baseURL }, testInfo) => {
  test.setTimeout(150_000);
  const who = testInfo.project.name;
  await logInAs(page, `market-${who}@stockroom.test`);
  await page.getByRole("link", { name: "Marketplaces" }).click();
  await expect(page.getByRole("heading", { name: "Marketplaces", level: 1 })).toBeVisible();
  await hydrated(page);
  await expect(page.locator(".connections-page")).toContainText("No marketplace connected yet");

  // Bad input is refused field by field, and nothing is kept.
  await page.locator("section.add-connection").getByRole("combobox", { name: "Marketplace" }).selectOption({ label: "eBay" });
  await page.locator("section.add-connection").getByLabel("Name", { exact: true }).fill("eBay US");
  await page.locator("section.add-connection").getByRole("button", { name: "Connect" }).click();
  await expect(page.locator("section.add-connection [role=alert]")).toContainText("account");

  const sandbox = `${baseURL}/sandbox/marketplace`;
  await connect(page, "Amazon", {
    Name: "Amazon US",
    "Selling partner ID": `A${who.toUpperCase()}SELLER01`,
    "LWA client ID": "amzn1.application-oa2-client.market",
    "LWA client secret": "lwa-secret",
    "LWA refresh token": `Atzr|market-${who}`,
    "API address (optional)": `${sandbox}/amazon`,
  });
  const amazon = page.locator('article.connection[data-connection="Amazon US"]');
  await amazon.getByRole("button", { name: "Test connection" }).click();
  await expect(amazon.locator(".connection-test")).toContainText("Works.");
  await connect(page, "eBay", {
    Name: "eBay US",
    "eBay user ID": `shop-${who}`,
    "App ID (client ID)": "MarketSh-Stockroo-PRD-1a2b3c4d5-6e7f8a9b",
    "Cert ID (client secret)": "PRD-1a2b3c4d5e6f-7a8b-9c0d",
    "User refresh token": `v^1.1#i^1#f^0#r^1#market-${who}`,
    "API address (optional)": `${sandbox}/ebay`,
  });
  const ebay = page.locator('article.connection[data-connection="eBay US"]');
  // The secret never comes back: the card names the credentials, not their values.
  await expect(ebay).toContainText("App ID (client ID), Cert ID (client secret), User refresh token — stored encrypted");
  await expect(ebay).not.toContainText("PRD-1a2b3c4d5e6f");
  await ebay.getByRole("button", { name: "Test connection" }).click();
  await expect(ebay.locator(".connection-test")).toContainText("Works. Connected: signed in to eBay");

  await shot(page, testInfo, "connections");

  // Publish every item to eBay: "Where to?" asks, since there are two connections.
  const before = (await stats(page)).ebay;
  await page.getByRole("link", { name: "Catalog" }).click();
  await expect(page.getByRole("heading", { name: "Catalog" })).toBeVisible();
  await hydrated(page);
  await page.getByLabel("Select this page").check();
  await page.getByRole("button", { name: /^Select all \d+ matching items$/ }).click();
  const bar = page.getByRole("region", { name: "Bulk actions" });
  await expect(bar).toContainText("200 items selected");
  await bar.getByRole("button", { name: "Publish…", exact: true }).click();
  const dialog = page.getByRole("dialog");
  await expect(dialog.getByRole("heading")).toHaveText("Publish 200 items?");
  // Amazon, connected first, is where it would go; the seller picks eBay, and the time
  // is worked out again for eBay's batches.
  const ids = Object.fromEntries(
    (await (await page.request.get("/api/v1/connections")).json()).connections.map((c: { name: string; id: number }) => [c.name, c.id]),
  );
  await expect(dialog.getByRole("combobox", { name: "Where to?" })).toHaveValue(String(ids["Amazon US"]));
  await dialog.getByRole("combobox", { name: "Where to?" }).selectOption({ label: "eBay US" });
  await expect(dialog.getByRole("combobox", { name: "Where to?" })).toHaveValue(String(ids["eBay US"]));
  await expect(dialog).toContainText("This should take");
  await shot(page, testInfo, "where-to", false);
  await dialog.getByRole("button", { name: "Start in background" }).click();
  await expect(page.getByRole("status").filter({ hasText: "Publish 200 items started." })).toBeVisible();
  const tasks = await (await page.request.get("/api/v1/tasks")).json();
  const published = await taskDone(page, tasks.items[0].id);
  expect(published.counts.succeeded + published.counts.failed).toBe(200);
  expect(published.counts.succeeded).toBeGreaterThan(100);
  const after = (await stats(page)).ebay;
  // 25 items a call, three calls a batch at most: 8 batches, not 200 or 600 calls.
  expect(after.bulk_calls - before.bulk_calls).toBeLessThanOrEqual(24);
  expect(after.bulk_calls - before.bulk_calls).toBeGreaterThanOrEqual(16);
  expect(after.items_in_bulk_calls - before.items_in_bulk_calls).toBeGreaterThanOrEqual(200);
  expect(after.listings - before.listings).toBeLessThanOrEqual(published.counts.succeeded);

  // Amazon accepts, then processes: the items wait for it, and then resolve.
  await page.request.put("/sandbox/marketplace/_amazon", { data: { processing_ms: 4000, token_seconds: 3600 } });
  const amazonId = ids["Amazon US"];
  const items = (await (await page.request.get("/api/v1/items?per_page=5&sort=sku&dir=asc")).json()).items;
  const started = await page.request.post("/api/v1/tasks", {
    data: { kind: "publish", item_ids: items.map((i: { id: number }) => i.id), connection_id: amazonId },
  });
  expect(started.status()).toBe(202);
  const task = await started.json();
  await page.goto(`/tasks/${task.id}`);
  await hydrated(page);
  await expect(page.locator("main")).toContainText("waiting for the marketplace", { timeout: 15_000 });
  await shot(page, testInfo, "amazon-waiting", false);
  const done = await taskDone(page, task.id);
  expect(done.counts.waiting).toBe(0);
  expect(done.counts.succeeded + done.counts.failed).toBe(5);
  await expect(page.locator("main")).not.toContainText("waiting for the marketplace", { timeout: 15_000 });
  await shot(page, testInfo, "amazon-resolved", false);
});
