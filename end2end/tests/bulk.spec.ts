import { expect, test } from "@playwright/test";
import { hydrated, logIn, shot } from "./helpers";

test("publishing a selection asks first, then runs in the background", async ({ page }, testInfo) => {
  await logIn(page);
  // Items the other tests do not edit (they edit SR-0002 and SR-0003).
  await page.goto("/?q=SR-02&sort=sku&dir=asc");
  await hydrated(page);
  const rows = page.locator("table.items-table tbody tr");
  await expect(rows.first()).toHaveAttribute("data-sku", "SR-0200");
  await rows.nth(0).getByRole("checkbox").check();
  await rows.nth(1).getByRole("checkbox").check();
  const bar = page.getByRole("region", { name: "Bulk actions" });
  await expect(bar).toContainText("2 items selected");

  await bar.getByRole("button", { name: "Publish…", exact: true }).click();
  const dialog = page.getByRole("dialog");
  await expect(dialog.getByRole("heading")).toHaveText("Publish 2 items?");
  await expect(dialog).toContainText("you can keep working");
  await expect(dialog).toContainText(/about \d+( (s|min))?( to \d+)? (s|min)/);
  // What it will do to them, counted by the server from where each stands.
  const states = [await rows.nth(0).locator(".badge").textContent(), await rows.nth(1).locator(".badge").textContent()];
  const live = states.filter((s) => s === "Published").length;
  const parts = [];
  if (2 - live > 0) parts.push(`${2 - live} item${2 - live === 1 ? "" : "s"} not yet live will be published`);
  if (live > 0) parts.push(`${live} item${live === 1 ? "" : "s"} already live will be updated`);
  await expect(dialog.locator(".plan-breakdown")).toHaveText(parts.join(" · "));
  await shot(page, testInfo, "publish-confirm", false);

  // "Cancel" starts nothing.
  await dialog.getByRole("button", { name: "Cancel" }).click();
  await expect(page.getByRole("dialog")).toHaveCount(0);
  const before = await (await page.request.get("/api/v1/tasks")).json();

  await bar.getByRole("button", { name: "Publish…", exact: true }).click();
  await page.getByRole("dialog").getByRole("button", { name: "Start in background" }).click();
  await expect(page.getByRole("status").filter({ hasText: "Publish 2 items started." })).toBeVisible();
  await expect(bar).toHaveCount(0);
  await shot(page, testInfo, "publish-started", false);

  const after = await (await page.request.get("/api/v1/tasks")).json();
  expect(after.total).toBe(before.total + 1);
  expect(after.items[0].kind).toBe("publish");
  expect(after.items[0].counts.total).toBe(2);
});
