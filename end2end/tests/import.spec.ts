import { expect, test } from "@playwright/test";
import { readFile } from "node:fs/promises";
import { closeToasts, hydrated, logIn, shot } from "./helpers";

// Three rows ready, one the check fixes (a line break in the title, a decimal comma),
// one that needs the seller, and one whose image only the marketplace can find missing.
const SPRING = [
  "sku,title,price,quantity,image_url",
  "E2E-IMP-1,Linen napkins (set of 4),18.00,12,/media/demo/41.svg",
  'E2E-IMP-2,"Oak board, large",42.50,3,/media/demo/42.svg',
  "E2E-IMP-3,Enamel mug,9.90,40,/media/demo/43.svg",
  'E2E-IMP-4,"Cork coasters\r\nset of 6","7,50",25,',
  "E2E-IMP-5,Broken price,12;50,1,",
  "E2E-IMP-6,Stoneware vase,31.00,2,https://img.example.com/404/vase.jpg",
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

  // Chosen with the file picker, the whole file is checked: what is ready, what is fixed
  // automatically, what needs the seller, and an estimate, before anything starts.
  await page.getByRole("button", { name: "Choose another file" }).click();
  await page.locator("#csv-file").setInputFiles({ name: "spring.csv", mimeType: "text/csv", buffer: Buffer.from(SPRING) });
  const confirm = page.getByRole("group", { name: "Import this file?" });
  await expect(confirm.getByRole("heading", { level: 2 })).toHaveText("Import 5 rows?");
  await expect(confirm).toContainText("spring.csv · 6 rows checked");
  await expect(confirm.locator(".check-summary")).toHaveText("4 ready · 1 can be fixed automatically · 1 needs you");
  await expect(confirm.locator(".check-fixes")).toContainText("line breaks in titles turned into spaces · 1 row");
  await expect(confirm.locator(".check-fixes")).toContainText("decimal commas read as points");
  const needs = confirm.locator(".check-group[data-code=price_invalid]");
  await expect(needs).toContainText("Price not valid · 1 row");
  await expect(needs).toContainText("Line 7");
  await expect(needs).toContainText("E2E-IMP-5");
  await expect(confirm).toContainText(/About \d+( (s|min))?( to \d+)? (s|min)/);
  await expect(confirm).toContainText("you can keep working");
  await shot(page, testInfo, "import-confirm");
  // Only the ready rows, if the seller prefers: the fixable one is left out too.
  await confirm.getByLabel(/Only the ready rows \(4\)/).check();
  await expect(confirm.getByRole("heading", { level: 2 })).toHaveText("Import 4 rows?");
  await expect(confirm.getByRole("button", { name: "Download the 2 rows left out" })).toBeVisible();
  await confirm.getByLabel(/The ready and the fixed rows \(5\)/).check();
  // What is left out downloads with the reason in each row, ready to fix.
  const leftOut = page.waitForEvent("download");
  await confirm.getByRole("button", { name: "Download the 1 row left out" }).click();
  const saved = await leftOut;
  expect(saved.suggestedFilename()).toBe("spring-left-out.csv");
  const rejected = (await readFile((await saved.path()) ?? "", "utf8")).replace(/^\uFEFF/, "");
  expect(rejected.split("\r\n")[0]).toBe("sku,title,price,quantity,image_url,error_code,error_message");
  expect(rejected).toContain("E2E-IMP-5,Broken price,12;50,1,,price_invalid,");
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
  expect(text).toContain("E2E-IMP-6,Stoneware vase,31.00,2,https://img.example.com/404/vase.jpg,image_unreachable,");

  // The good rows are in the catalog.
  await progress.getByRole("link", { name: "Go to the catalog" }).click();
  await hydrated(page);
  await page.getByLabel("Search by SKU or title").fill("E2E-IMP");
  await page.getByRole("button", { name: "Search" }).click();
  await expect(page.locator("table.items-table tbody tr")).toHaveCount(4);
  // The fixed row went in fixed.
  await expect(page.locator("table.items-table tbody tr", { hasText: "E2E-IMP-4" })).toContainText("Cork coasters set of 6");
  await expect(page.locator("table.items-table tbody tr", { hasText: "E2E-IMP-4" })).toContainText("7.50");
});
