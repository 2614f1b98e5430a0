import { expect, test } from "@playwright/test";
import { readFile } from "node:fs/promises";
import { closeToasts, hydrated, logIn, shot } from "../tests/helpers";

// The seed's journey as a new user walks it at `make run`'s defaults: sign in as the
// demo seller, drop the sample file on Import, start it, then publish a selection
// choosing where, and hear that it ended.
test("a newcomer imports the sample file and publishes a selection, choosing where", async ({ page }, testInfo) => {
  await logIn(page);
  const connections = (await (await page.request.get("/api/v1/connections")).json()).connections;
  expect(connections.map((c: { name: string }) => c.name)).toEqual(["Sandbox marketplace", "Amazon (sandbox)", "eBay (sandbox)"]);

  await page.getByRole("link", { name: "Import" }).click();
  await expect(page.getByRole("heading", { name: "Import items" })).toBeVisible();
  await hydrated(page);
  const sample = (await readFile("../samples/sample-items.csv")).toString("utf8");
  await page.evaluate((text) => {
    const transfer = new DataTransfer();
    transfer.items.add(new File([text], "sample-items.csv", { type: "text/csv" }));
    const zone = document.querySelector(".dropzone")!;
    zone.dispatchEvent(new DragEvent("dragover", { dataTransfer: transfer, bubbles: true, cancelable: true }));
    zone.dispatchEvent(new DragEvent("drop", { dataTransfer: transfer, bubbles: true, cancelable: true }));
  }, sample);

  // The whole file is checked; nothing asks where to publish an import that publishes nothing.
  const confirm = page.getByRole("group", { name: "Import this file?" });
  await expect(confirm.getByRole("heading", { level: 2 })).toHaveText(/^Import \d+ rows\?$/);
  await expect(confirm).toContainText("sample-items.csv · 300 rows checked");
  await expect(page.locator(".import-refused")).toHaveCount(0);
  await expect(confirm.getByLabel("Where to?")).toHaveCount(0);
  // "Then publish what imported" asks where, among the seller's three connections; the
  // estimate follows the choice. The newcomer publishes what imports to eBay.
  await confirm.getByLabel(/Then publish/).check();
  const whereTo = confirm.getByLabel("Where to?");
  await expect(whereTo.locator("option")).toHaveText(["Sandbox marketplace", "Amazon (sandbox)", "eBay (sandbox)"]);
  await expect(whereTo).toHaveValue(String(connections[0].id));
  await expect(confirm).toContainText("Then publishing what imported");
  await whereTo.selectOption({ label: "eBay (sandbox)" });
  await shot(page, testInfo, "newcomer-import-confirm");

  await confirm.getByRole("button", { name: "Start in background" }).click();
  const progress = page.locator(".import-progress");
  await expect(progress.getByRole("heading")).toHaveText(/^Import \d+ rows from sample-items\.csv$/);
  await expect(progress.locator(".import-next")).toContainText("starts when this import ends");
  const next = Number((await progress.locator(".import-next a").textContent())?.replace("#", ""));
  await expect(page.locator(".toast").filter({ hasText: /Import \d+ rows from sample-items\.csv done/ })).toBeVisible({ timeout: 240_000 });
  await expect(progress).toContainText(/\d+ imported/);
  await shot(page, testInfo, "newcomer-import-done");
  // Step 2 publishes what imported, through eBay, and ends.
  await expect
    .poll(async () => (await (await page.request.get(`/api/v1/tasks/${next}`)).json()).status, { timeout: 240_000 })
    .toMatch(/^(succeeded|completed_with_errors)$/);
  const published = (await (await page.request.get(`/api/v1/tasks/${next}`)).json()).counts;
  expect(published.succeeded).toBeGreaterThan(0);
  const listed = (await (await page.request.get(`/api/v1/tasks/${next}/items?status=succeeded&per_page=1`)).json()).items[0];
  await page.goto(`/items/${listed.item_id}`);
  await hydrated(page);
  await expect(page.locator(".item-listings")).toContainText(/eBay \(sandbox\): (listed|waiting for the marketplace)/);
  await closeToasts(page);

  // A selection published, choosing where.
  await page.goto("/?q=SR-01&sort=sku&dir=asc");
  await hydrated(page);
  const rows = page.locator("table.items-table tbody tr");
  await rows.nth(0).getByRole("checkbox").check();
  await rows.nth(1).getByRole("checkbox").check();
  const bar = page.getByRole("region", { name: "Bulk actions" });
  await bar.getByRole("button", { name: "Publish…", exact: true }).click();
  const dialog = page.getByRole("dialog");
  await expect(dialog.getByRole("heading")).toHaveText("Publish 2 items?");
  await dialog.getByLabel("Where to?").selectOption({ label: "Amazon (sandbox)" });
  await shot(page, testInfo, "newcomer-publish-confirm", false);
  const first = await rows.nth(0).getAttribute("data-sku");
  await dialog.getByRole("button", { name: "Start in background" }).click();
  await expect(page.getByRole("status").filter({ hasText: "Publish 2 items started." })).toBeVisible();
  await expect(page.locator(".toast").filter({ hasText: /Publish 2 items done/ })).toBeVisible({ timeout: 120_000 });
  await shot(page, testInfo, "newcomer-publish-done", false);

  // It went where the seller chose: the item lists Amazon.
  const item = (await (await page.request.get(`/api/v1/items?q=${first}`)).json()).items[0];
  await page.goto(`/items/${item.id}`);
  await hydrated(page);
  await expect(page.locator(".item-listings")).toContainText(/Amazon \(sandbox\): (listed|waiting for the marketplace)/);
  await shot(page, testInfo, "newcomer-item-listed", false);
});
