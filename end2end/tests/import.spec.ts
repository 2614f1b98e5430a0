import { expect, test } from "@playwright/test";
import { closeToasts, hydrated, logIn, shot } from "./helpers";

const GOOD = [
  "sku,title,price,quantity,image_url",
  "E2E-IMP-1,Linen napkins (set of 4),18.00,12,/media/demo/41.svg",
  'E2E-IMP-2,"Oak board, large",42.50,3,/media/demo/42.svg',
  "E2E-IMP-3,Enamel mug,9.90,40,/media/demo/43.svg",
  "E2E-IMP-4,Cork coasters,7.00,25,",
  "E2E-IMP-5,Broken price,12;50,1,",
].join("\r\n");

test("a CSV is checked at once, confirmed, imported in the background, and its errors reported", async ({ page }, testInfo) => {
  await logIn(page);
  await page.getByRole("link", { name: "Import" }).click();
  await expect(page.getByRole("heading", { name: "Import items" })).toBeVisible();
  await hydrated(page);
  await expect(page.getByRole("link", { name: "Download template" })).toHaveAttribute("href", "/api/v1/imports/template.csv");
  await shot(page, testInfo, "import-idle");

  // Dropped on the zone, a file with a bad header is refused before anything starts.
  await page.evaluate(() => {
    const transfer = new DataTransfer();
    transfer.items.add(new File(["SKU,Name,Cost\nA,B,1\n"], "wrong.csv", { type: "text/csv" }));
    const zone = document.querySelector(".dropzone")!;
    zone.dispatchEvent(new DragEvent("dragover", { dataTransfer: transfer, bubbles: true, cancelable: true }));
    zone.dispatchEvent(new DragEvent("drop", { dataTransfer: transfer, bubbles: true, cancelable: true }));
  });
  const refusal = page.locator(".import-refused");
  await expect(refusal).toContainText("This file cannot be imported.");
  await expect(refusal).toContainText("Missing required column(s): “title”, “price”.");
  await expect(refusal).toContainText("Unknown column(s): “name”, “cost”.");
  await shot(page, testInfo, "import-refused");
  const before = await (await page.request.get("/api/v1/tasks?kind=import")).json();

  // Chosen with the file picker: a confirmation with the row count and an estimate.
  await page.getByRole("button", { name: "Choose another file" }).click();
  await page.locator("#csv-file").setInputFiles({ name: "spring.csv", mimeType: "text/csv", buffer: Buffer.from(GOOD) });
  const confirm = page.getByRole("group", { name: "Import this file?" });
  await expect(confirm.getByRole("heading")).toHaveText("Import 5 rows?");
  await expect(confirm).toContainText("spring.csv");
  await expect(confirm).toContainText(/about \d+( (s|min))?( to \d+)? (s|min)/);
  await expect(confirm).toContainText("you can keep working");
  await shot(page, testInfo, "import-confirm");
  const unchanged = await (await page.request.get("/api/v1/tasks?kind=import")).json();
  expect(unchanged.total).toBe(before.total);

  await confirm.getByRole("button", { name: "Start in background" }).click();
  const progress = page.locator(".import-progress");
  await expect(progress.getByRole("heading")).toHaveText("Import 5 rows from spring.csv");
  await expect(progress).toContainText("4 imported, 1 needs attention.", { timeout: 45_000 });
  await expect(progress).toContainText("5 of 5 rows · 4 imported · 1 failed");
  // The tray and a toast say so too, wherever the seller is.
  await expect(page.locator(".toast").filter({ hasText: "Import 5 rows from spring.csv done with problems" })).toBeVisible();
  await shot(page, testInfo, "import-done");
  await closeToasts(page);

  // The report has the file's columns plus the error, ready to fix and upload again.
  const download = page.waitForEvent("download");
  await progress.getByRole("link", { name: "Download error report" }).click();
  const file = await download;
  expect(file.suggestedFilename()).toMatch(/^task-\d+-errors\.csv$/);
  const text = (await (await page.request.get(await progress.getByRole("link", { name: "Download error report" }).getAttribute("href") ?? "")).text()).replace(/^\uFEFF/, "");
  expect(text.split("\r\n")[0]).toBe("sku,title,price,quantity,image_url,error_code,error_message");
  expect(text).toContain("E2E-IMP-5,Broken price,12;50,1,,price_invalid,");

  // The good rows are in the catalog.
  await progress.getByRole("link", { name: "Go to the catalog" }).click();
  await hydrated(page);
  await page.getByLabel("Search by SKU or title").fill("E2E-IMP");
  await page.getByRole("button", { name: "Search" }).click();
  await expect(page.locator("table.items-table tbody tr")).toHaveCount(4);
});
