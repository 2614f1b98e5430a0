import { expect, test, type Page } from "@playwright/test";
import { closeToasts, DEMO_EMAIL, DEMO_PASSWORD, hydrated, logIn, sandboxConnection, shot } from "./helpers";

type Item = { id: number; sku: string; title: string; image_url: string | null; price: string; listing_state: string };

async function everyItem(page: Page): Promise<Item[]> {
  const all: Item[] = [];
  for (let p = 1; ; p++) {
    const reply = await page.request.get(`/api/v1/items?per_page=200&page=${p}&sort=sku&dir=asc`);
    expect(reply.ok()).toBeTruthy();
    const body = await reply.json();
    all.push(...body.items);
    if (all.length >= body.total) return all;
  }
}

/** The item's state in its task, as its page's banner says it (or "none"). */
async function bannerStatus(page: Page): Promise<string> {
  const banner = page.locator(".item-task-banner");
  return (await banner.count()) === 0 ? "none" : ((await banner.getAttribute("data-item-status")) ?? "none");
}

test.setTimeout(120_000);

// (It runs after the live journey, which needs the catalog's drafts still drafts.)

test("an item in a running publish shows its task in the catalog and on its page, and an edit saved meanwhile is the one listed", async ({ page }, testInfo) => {
  await logIn(page);
  const me = await (await page.request.post("/api/v1/login", { data: { email: DEMO_EMAIL, password: DEMO_PASSWORD } })).json();
  const items = await everyItem(page);
  // An item the marketplace accepts (a picture, a price), sent last: it waits its turn
  // behind the rest of the catalog, over ten seconds at the sandbox's 20 calls a second.
  // (The server sends items in id order.)
  const acceptable = items.filter((i) => i.image_url && Number(i.price) > 0);
  const target = acceptable.sort((a, b) => b.id - a.id)[0];
  const others = items.filter((i) => i.id !== target.id);
  const ids = [...others.map((i) => i.id), target.id];
  const reply = await page.request.post("/api/v1/tasks", { data: { kind: "publish", connection_id: await sandboxConnection(page.request), item_ids: ids } });
  expect(reply.status(), await reply.text()).toBe(202);
  const taskId = (await reply.json()).id;
  const doing = `Publishing ${ids.length} items`;

  // The catalog, filtered to what a running task is about to change: the item is there,
  // with a chip that links to its task.
  await page.goto(`/?in_task=1&q=${encodeURIComponent(target.sku)}`);
  await hydrated(page);
  const row = page.locator(`tr[data-sku="${target.sku}"]`);
  const chip = row.locator(".task-chip");
  await expect(chip).toHaveText("queued for publish");
  await expect(chip).toHaveAttribute("href", `/tasks/${taskId}`);
  await expect(page.locator(".tab-toggle", { hasText: "In a running task" })).toHaveAttribute("aria-current", "page");
  await shot(page, testInfo, "item-task-catalog-chips", false);

  // Its page says so too, and saving asks first.
  await page.goto(`/items/${target.id}`);
  await hydrated(page);
  const banner = page.locator(".item-task-banner");
  await expect(banner).toContainText(`Queued in ${doing}.`);
  await expect(banner.getByRole("link", { name: "Open the task" })).toHaveAttribute("href", `/tasks/${taskId}`);
  const newTitle = `${target.title} (edited mid-task, ${testInfo.project.name})`;
  await page.getByLabel("Title").fill(newTitle);
  await page.getByRole("button", { name: "Save changes" }).click();
  const ask = page.getByRole("dialog", { name: "Save while a task is on it?" });
  await expect(ask).toContainText(`This item is queued in ${doing}. Save anyway and publish the new values?`);
  await shot(page, testInfo, "item-task-save-asks", false);
  // "Keep editing" saves nothing; saving again asks again.
  await ask.getByRole("button", { name: "Keep editing" }).click();
  await expect(ask).toHaveCount(0);
  await page.getByRole("button", { name: "Save changes" }).click();
  await expect(ask).toBeVisible();
  await ask.getByRole("button", { name: "Save anyway" }).click();
  await expect(page.getByRole("status").filter({ hasText: "Saved." })).toBeVisible();

  // The banner follows the item through its task, by itself: queued, (sent,) done.
  const seen: string[] = [];
  await expect
    .poll(
      async () => {
        const status = await bannerStatus(page);
        if (seen[seen.length - 1] !== status) seen.push(status);
        return status;
      },
      { timeout: 60_000, intervals: [150] },
    )
    .toBe("succeeded");
  expect(seen[0]).toBe("pending");
  expect(seen.filter((s) => !["pending", "running", "succeeded"].includes(s))).toEqual([]);
  expect(seen.indexOf("running") === -1 || seen.indexOf("running") < seen.indexOf("succeeded")).toBeTruthy();
  await expect(banner).toContainText(`Done: published by Publish ${ids.length} items.`);
  await expect(page.locator(".item-header .badge")).toHaveText("Published");
  await closeToasts(page);
  await shot(page, testInfo, "item-task-done", false);

  // What the marketplace has is what the seller saved mid-task.
  const listing = await page.request.get(`/sandbox/marketplace/listings/seller-${me.seller.id}/${encodeURIComponent(target.sku)}`);
  expect(listing.ok()).toBeTruthy();
  expect((await listing.json()).listing.title).toBe(newTitle);

  // Back in the catalog, once the task is over, the row has no chip.
  await expect.poll(async () => (await (await page.request.get(`/api/v1/tasks/${taskId}`)).json()).status, { timeout: 60_000 }).toMatch(/^(succeeded|completed_with_errors)$/);
  await page.goto(`/?q=${encodeURIComponent(target.sku)}`);
  await hydrated(page);
  await expect(page.locator(`tr[data-sku="${target.sku}"]`)).toBeVisible();
  await expect(page.locator(`tr[data-sku="${target.sku}"] .task-chip`)).toHaveCount(0);
});
