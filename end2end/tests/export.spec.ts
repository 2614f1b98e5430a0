import { expect, test, type Page } from "@playwright/test";
import { closeToasts, DEMO_EMAIL, DEMO_PASSWORD, hydrated, logIn, parseCsv, sandboxConnection, shot } from "./helpers";

async function finished(page: Page, id: number) {
  await expect
    .poll(async () => (await (await page.request.get(`/api/v1/tasks/${id}`)).json()).status, { timeout: 30_000 })
    .toMatch(/^(succeeded|completed_with_errors|failed|cancelled)$/);
}

test("an export of the matching items is downloaded from its toast and from its task page", async ({ page }, testInfo) => {
  await logIn(page);
  // Ten items no test changes the SKU of: SR-0030 … SR-0039.
  await page.goto("/?q=SR-003&sort=sku&dir=asc");
  await hydrated(page);
  await page.getByLabel("Select this page").check();
  const bar = page.getByRole("region", { name: "Bulk actions" });
  await expect(bar).toContainText("10 items selected");
  await bar.getByRole("button", { name: "Export…", exact: true }).click();
  const dialog = page.getByRole("dialog");
  await expect(dialog.getByRole("heading")).toHaveText("Export 10 items?");
  await dialog.getByRole("button", { name: "Start in background" }).click();

  // The toast of its end offers the file; the file is the import's format.
  const link = page.locator(".toast").getByRole("link", { name: "Download CSV" });
  await expect(link).toBeVisible({ timeout: 30_000 });
  await shot(page, testInfo, "export-toast", false);
  const [download] = await Promise.all([page.waitForEvent("download"), link.click()]);
  expect(download.suggestedFilename()).toMatch(/^stockroom-export-\d+\.csv$/);
  const text = await streamText(download);
  const rows = parseCsv(text.replace(/^\uFEFF/, ""));
  expect(rows[0]).toEqual(["sku", "title", "description", "price", "currency", "quantity", "image_url", "category"]);
  const skus = rows.slice(1).filter((row) => row.length > 1).map((row) => row[0]);
  expect(skus).toEqual(Array.from({ length: 10 }, (_, n) => `SR-003${n}`));
  const listed = await (await page.request.get("/api/v1/items?q=SR-0031")).json();
  const row = rows.find((r) => r[0] === "SR-0031")!;
  expect(row[1]).toBe(listed.items[0].title);
  expect(row[3]).toBe(listed.items[0].price);

  // The task page offers it too, and says how long it is kept.
  const task = (await (await page.request.get("/api/v1/tasks?kind=export")).json()).items[0];
  await page.goto(`/tasks/${task.id}`);
  await hydrated(page);
  await closeToasts(page);
  await expect(page.getByRole("heading", { level: 1 })).toHaveText("Export 10 items");
  await expect(page.getByRole("link", { name: "Download CSV" })).toHaveAttribute("href", `/api/v1/tasks/${task.id}/export.csv`);
  await expect(page.locator(".file-kept")).toContainText("Kept until");
  await shot(page, testInfo, "export-task");

  // And the notification centre.
  await page.getByRole("button", { name: /Notifications/ }).click();
  const note = page.locator(".notification").filter({ hasText: `#${task.id} Export 10 items done` });
  await expect(note.getByRole("link", { name: "Download CSV" })).toBeVisible();
});

async function streamText(download: import("@playwright/test").Download): Promise<string> {
  const stream = await download.createReadStream();
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(Buffer.from(chunk));
  return Buffer.concat(chunks).toString("utf8");
}

test("a delete of live items takes them off the marketplace first, after saying it cannot be undone", async ({ page }, testInfo) => {
  await logIn(page);
  // Items of this test's own, two of them live.
  const prefix = `DEL-${testInfo.project.name}-${Date.now()}`;
  const csv = ["sku,title,price,image_url", ...[1, 2, 3].map((n) => `${prefix}-${n},To delete ${n},9.50,/media/demo/${n}.svg`)].join("\n");
  const imported = await page.request.post("/api/v1/imports", {
    multipart: { file: { name: "delete.csv", mimeType: "text/csv", buffer: Buffer.from(csv) } },
  });
  expect(imported.status()).toBe(202);
  await finished(page, (await imported.json()).id);
  const ours = (await (await page.request.get(`/api/v1/items?q=${prefix}`)).json()).items;
  expect(ours).toHaveLength(3);
  const live = ours
    .filter((i: { sku: string }) => i.sku.endsWith("-1") || i.sku.endsWith("-2"))
    .map((i: { id: number }) => i.id);
  expect(live).toHaveLength(2);
  const published = await page.request.post("/api/v1/tasks", { data: { kind: "publish", connection_id: await sandboxConnection(page.request), item_ids: live } });
  expect(published.status()).toBe(202);
  await finished(page, (await published.json()).id);

  // The demo seller's marketplace account holds the live ones now.
  const at = (account: string) => `/sandbox/marketplace/listings/${account}/${prefix}-1`;
  // The login's answer names the seller (the session stays the demo seller's).
  const me = await (await page.request.post("/api/v1/login", { data: { email: DEMO_EMAIL, password: DEMO_PASSWORD } })).json();
  const account = `seller-${me.seller.id}`;
  expect((await page.request.get(at(account))).status()).toBe(200);

  await page.goto(`/?q=${prefix}`);
  await hydrated(page);
  await page.getByLabel("Select this page").check();
  const bar = page.getByRole("region", { name: "Bulk actions" });
  await expect(bar).toContainText("3 items selected");
  await bar.getByRole("button", { name: "Delete…", exact: true }).click();
  const dialog = page.getByRole("dialog");
  await expect(dialog.getByRole("heading")).toHaveText("Delete 3 items?");
  await expect(dialog.locator(".plan-breakdown")).toHaveText(
    "1 item not live will be deleted · 2 items live will be taken off the marketplace first, then deleted",
  );
  await expect(dialog.locator(".plan-warning")).toHaveText(
    "Deleted items cannot be brought back. Export them first if you may need them again.",
  );
  await shot(page, testInfo, "delete-confirm", false);
  await dialog.getByRole("button", { name: "Delete 3 items", exact: true }).click();

  const task = (await (await page.request.get("/api/v1/tasks?kind=delete")).json()).items[0];
  await finished(page, task.id);
  expect((await (await page.request.get(`/api/v1/tasks/${task.id}`)).json()).counts.succeeded).toBe(3);
  // Gone from the catalog, and from the marketplace.
  await expect(page.locator("table.items-table tbody tr[data-sku]")).toHaveCount(0, { timeout: 20_000 });
  expect((await (await page.request.get(`/api/v1/items?q=${prefix}`)).json()).total).toBe(0);
  expect((await page.request.get(at(account))).status()).toBe(404);
  await shot(page, testInfo, "delete-done", false);
});
