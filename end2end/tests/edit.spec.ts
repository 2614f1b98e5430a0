import { expect, test, type Page } from "@playwright/test";
import { closeToasts, hydrated, logIn, shot } from "./helpers";

/** The nearest amount ending in .99 (ties upward), as the server computes it. */
function end99(cents: number): number {
  const below = Math.floor((cents - 99) / 100) * 100 + 99;
  const above = below + 100;
  return below < 99 || cents - below >= above - cents ? Math.max(above, 99) : below;
}

const cents = (price: string) => Math.round(Number(price) * 100);
const decimal = (minor: number) => (minor / 100).toFixed(2);

async function item(page: Page, sku: string) {
  const found = await (await page.request.get(`/api/v1/items?q=${sku}`)).json();
  return found.items.find((i: { sku: string }) => i.sku === sku);
}

async function finished(page: Page, id: number) {
  await expect
    .poll(async () => (await (await page.request.get(`/api/v1/tasks/${id}`)).json()).status, { timeout: 30_000 })
    .toMatch(/^(succeeded|completed_with_errors|failed|cancelled)$/);
}

test("a price rise on every matching item is previewed by the server, runs, and is undone", async ({ page }, testInfo) => {
  await logIn(page);
  // Items no other test edits or publishes by SKU (the others use SR-00xx and SR-02xx).
  await page.goto("/?q=SR-01&sort=sku&dir=asc");
  await hydrated(page);
  const first = await item(page, "SR-0100");
  await page.getByLabel("Select this page").check();
  await page.getByRole("button", { name: /^Select all \d+ matching items$/ }).click();
  const bar = page.getByRole("region", { name: "Bulk actions" });
  const count = Number((await bar.textContent())?.match(/(\d+) items selected/)?.[1]);
  expect(count).toBeGreaterThanOrEqual(50);

  await bar.getByRole("button", { name: "Edit…", exact: true }).click();
  const dialog = page.getByRole("dialog");
  await expect(dialog.getByRole("heading")).toHaveText(`Edit ${count} items?`);
  // Nothing to start before the server has said what would change.
  await expect(dialog.getByRole("button", { name: "Start in background" })).toHaveCount(0);
  await dialog.getByLabel("How the price changes").selectOption("add_percent");
  await dialog.getByLabel("Price change", { exact: true }).fill("10");
  await dialog.getByLabel("End in .99").check();
  await dialog.getByRole("button", { name: "Preview changes" }).click();
  const preview = dialog.getByRole("region", { name: "Preview" });
  // The demo catalog has one item at a price of zero: a percentage cannot lift it, and
  // the server says so before anything starts.
  const changed = count - 1;
  await expect(preview.locator(".plan-breakdown")).toHaveText(`price +10 %, ending in .99: ${changed} items will change · 1 refused`);
  await expect(preview.locator(".alert.warning")).toContainText("1 would be refused: Price must be above zero (1)");
  await expect(preview.locator(".alert.warning")).toContainText("SR-0194 — The price would be 0.00");
  // The first items before → after, as the server computed them.
  const expected = decimal(end99(Math.round((cents(first.price) * 110) / 100)));
  const row = preview.locator("tbody tr").filter({ hasText: "SR-0100" });
  await expect(row).toContainText(`${first.price} → ${expected}`);
  await expect(preview.locator("tbody tr")).toHaveCount(20);
  await expect(preview).toContainText(`+${changed - 20} more`);
  await shot(page, testInfo, "edit-preview", false);

  // Changing the form asks for a new preview.
  await dialog.getByLabel("Price change", { exact: true }).fill("12");
  await expect(dialog.getByRole("region", { name: "Preview" })).toHaveCount(0);
  await dialog.getByLabel("Price change", { exact: true }).fill("10");
  await dialog.getByRole("button", { name: "Preview changes" }).click();
  await dialog.getByRole("button", { name: "Start in background" }).click();
  const started = page.getByRole("status").filter({ hasText: `Edit ${count} items: price +10 %, ending in .99 started.` });
  await expect(started).toBeVisible();
  const task = (await (await page.request.get("/api/v1/tasks?kind=edit")).json()).items[0];
  await finished(page, task.id);
  expect((await item(page, "SR-0100")).price).toBe(expected);

  // The task page offers the undo; an item changed since is left as it is.
  await page.goto(`/tasks/${task.id}`);
  await hydrated(page);
  await closeToasts(page);
  await expect(page.getByRole("heading", { level: 1 })).toHaveText(`Edit ${count} items: price +10 %, ending in .99`);
  await page.getByRole("button", { name: "Undo…" }).click();
  const undo = page.getByRole("dialog");
  await expect(undo.getByRole("heading")).toHaveText(`Undo #${task.id} Edit ${count} items: price +10 %, ending in .99?`);
  await expect(undo).toContainText(`put back on the ${changed} items it changed`);
  await shot(page, testInfo, "edit-undo-confirm", false);
  await undo.getByRole("button", { name: "Undo in background" }).click();
  await expect(page).toHaveURL(/\/tasks\/\d+$/);
  await expect(page.getByRole("heading", { level: 1 })).toHaveText(`Undo #${task.id} Edit ${count} items: price +10 %, ending in .99`);
  const undoId = Number(page.url().match(/\/tasks\/(\d+)$/)?.[1]);
  await finished(page, undoId);
  expect((await item(page, "SR-0100")).price).toBe(first.price);
  await expect(page.locator(".task-outcome")).toHaveText(`All ${changed} items put back.`);
  await shot(page, testInfo, "edit-undone");
});
