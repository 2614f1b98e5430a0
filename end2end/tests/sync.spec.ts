import { expect, test, type Page } from "@playwright/test";
import { closeToasts, hydrated, logIn, sandboxConnection, shot } from "./helpers";

async function finished(page: Page, id: number) {
  await expect
    .poll(async () => (await (await page.request.get(`/api/v1/tasks/${id}`)).json()).status, { timeout: 30_000 })
    .toMatch(/^(succeeded|completed_with_errors|failed|cancelled)$/);
}

test("a live item saved in its page is marked changed since published, and its listing is updated", async ({ page }, testInfo) => {
  await logIn(page);
  // Two live items of this test's own.
  const prefix = `SYNC-${testInfo.project.name}-${Date.now()}`;
  const csv = ["sku,title,price,quantity,image_url", ...[1, 2].map((n) => `${prefix}-${n},Kept in sync ${n},12.00,5,/media/demo/${n}.svg`)].join("\n");
  const imported = await page.request.post("/api/v1/imports", {
    multipart: { file: { name: "sync.csv", mimeType: "text/csv", buffer: Buffer.from(csv) } },
  });
  expect(imported.status()).toBe(202);
  await finished(page, (await imported.json()).id);
  const ours = (await (await page.request.get(`/api/v1/items?q=${prefix}&sort=sku&dir=asc`)).json()).items;
  const published = await page.request.post("/api/v1/tasks", { data: { kind: "publish", connection_id: await sandboxConnection(page.request), item_ids: ours.map((i: { id: number }) => i.id) } });
  await finished(page, (await published.json()).id);

  // The seller changes the stock of one in its page.
  await page.goto(`/items/${ours[0].id}`);
  await hydrated(page);
  await page.getByLabel("Quantity", { exact: true }).fill("17");
  await page.getByRole("button", { name: "Save changes" }).click();
  await expect(page.getByRole("status").filter({ hasText: "Saved." })).toBeVisible();

  // The catalog marks it, and filters by it.
  await page.goto(`/?q=${prefix}&sort=sku&dir=asc`);
  await hydrated(page);
  await closeToasts(page);
  const rows = page.locator("table.items-table tbody tr[data-sku]");
  await expect(rows.filter({ hasText: "changed since published" })).toHaveCount(1);
  await expect(rows.first()).toContainText("changed since published");
  await page.getByRole("link", { name: /^Changed since published/ }).click();
  await expect(page).toHaveURL(/changed=1/);
  await hydrated(page);
  await expect(rows).toHaveCount(1);
  await shot(page, testInfo, "sync-changed", false);

  // Updating the listings sends the new stock.
  await page.getByLabel("Select this page").check();
  const bar = page.getByRole("region", { name: "Bulk actions" });
  await bar.getByRole("button", { name: "Update listings…", exact: true }).click();
  const dialog = page.getByRole("dialog");
  await expect(dialog.getByRole("heading")).toHaveText("Update 1 listing?");
  await dialog.getByRole("button", { name: "Start in background" }).click();
  const task = (await (await page.request.get("/api/v1/tasks?kind=update_listings")).json()).items[0];
  await finished(page, task.id);
  expect((await (await page.request.get(`/api/v1/tasks/${task.id}`)).json()).counts.succeeded).toBe(1);
  await expect(rows).toHaveCount(0, { timeout: 20_000 });
  expect((await (await page.request.get(`/api/v1/items?q=${prefix}&changed=true`)).json()).total).toBe(0);

  // Leave the catalog as it was.
  const removed = await page.request.post("/api/v1/tasks", { data: { kind: "delete", item_ids: ours.map((i: { id: number }) => i.id) } });
  await finished(page, (await removed.json()).id);
});
