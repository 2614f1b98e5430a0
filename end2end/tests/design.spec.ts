import { expect, test } from "@playwright/test";
import { hydrated } from "./helpers";

// The gallery is the visual reference: its screenshots at MD and LG are committed next to
// this file and compared with a small tolerance, so a style change is a conscious update
// (`npx playwright test design --update-snapshots`, then look at the new pictures).
test("the design gallery shows every component from fixtures and matches the reference", async ({ page }) => {
  // No account needed: fixtures only.
  await page.goto("/design");
  await hydrated(page);
  await expect(page.getByRole("heading", { name: "Design gallery" })).toBeVisible();

  // The tray in every status, quota wait included; toasts of every level.
  const every = page.locator('[data-specimen="task-tray--every-status"]');
  await expect(every.locator(".tray-row")).toHaveCount(8);
  await expect(every).toContainText("waiting for marketplace quota until 11:12:00");
  for (const status of ["queued", "running", "paused", "done", "done with problems", "failed", "cancelled"]) {
    await expect(every.locator(".chip", { hasText: new RegExp(`^${status}$`) })).toHaveCount(1);
  }
  await expect(page.locator('[data-specimen="task-tray--one-task"] .tray-row')).toHaveCount(1);
  // A publish held while its marketplace does not answer: in the tray and on its page.
  const heldTray = page.locator('[data-specimen*="publish-held"]');
  await expect(heldTray.locator(".chip")).toHaveText("not answering");
  await expect(heldTray.locator(".tray-counts")).toHaveText("eBay not answering since 11:02 — retrying every 20 s, nothing is lost");
  const held = page.locator('[data-specimen^="waiting-for-the-marketplace"]');
  await expect(held.locator(".hold-notice")).toContainText("Time left is unknown until it answers");
  await expect(held.getByRole("button", { name: "Try now" })).toBeVisible();
  await expect(page.locator('[data-specimen="task-tray--no-tasks"] .tray-row')).toHaveCount(0);
  const toasts = page.locator('[data-specimen^="toasts--every-level"]');
  for (const level of ["info", "success", "warning", "error"]) {
    await expect(toasts.locator(`.toast.${level}`).first()).toBeVisible();
  }
  await expect(toasts).toContainText("+2 more");
  await expect(page.locator('[data-specimen="heavy-task-dialog"]')).toContainText("Publish 200 items?");
  // A mixed selection is broken down, and the seller may leave the live ones as they are.
  await expect(page.locator('[data-specimen="heavy-task-dialog"] .plan-breakdown').first()).toHaveText(
    "12 items not yet live will be published · 188 items already live will be updated",
  );
  await expect(page.locator('[data-specimen="heavy-task-dialog"] .plan-choice')).toContainText("Leave the 188 already live as they are");
  await expect(page.locator('[data-specimen="failure-groups"] .group-card')).toHaveCount(2);
  // A bulk edit: local work, then the server's preview with its refusal; its undo.
  const edit = page.locator('[data-specimen^="bulk-edit"]');
  await expect(edit).toContainText("for work inside Stockroom");
  await expect(edit.locator(".plan-breakdown")).toHaveText("price +10 %, ending in .99: 198 items will change · 1 already there · 1 refused");
  await expect(page.locator('[data-specimen="undo-of-a-finished-edit"]')).toContainText("put back on the 199 items it changed");
  // A file checked whole: ready, fixed automatically, needs you.
  const check = page.locator('[data-specimen^="import"]');
  await expect(check.locator(".check-summary")).toHaveText("229 ready · 52 can be fixed automatically · 19 need you");
  await expect(check.locator(".check-group")).toHaveCount(3);
  // Then publish: "Where to?" among three connections, the estimate through the one chosen.
  const whereTo = page.locator('[data-specimen^="where-to-when-an-import"]');
  await expect(whereTo.getByLabel("Where to?").locator("option")).toHaveText(["Sandbox marketplace", "Amazon (sandbox)", "eBay (sandbox)"]);
  await expect(whereTo.locator(".check-estimate")).toContainText("Then publishing what imported: about 1 min more.");
  await whereTo.getByLabel("Where to?").selectOption({ label: "eBay (sandbox)" });
  await expect(whereTo.locator(".check-estimate")).toContainText("Then publishing what imported: about 3 min more.");
  // An export offers its file (on its page and in its toast) while it is kept; a delete
  // warns before it starts, and its button says what it does.
  const sync = page.locator('[data-specimen^="changed-since-published"]');
  await expect(sync.locator(".badge.changed")).toHaveText("changed since published");
  await expect(sync.locator(".plan-breakdown")).toHaveText("25 items live will get their new values, if changed since published");
  await expect(sync.getByRole("heading", { name: "Update 25 listings?" })).toBeVisible();
  await expect(page.locator('[data-specimen="undo-of-a-finished-import"]')).toContainText(
    "Of the 120 rows it imported, the items it created are deleted for good (unless live or changed since) and the items it changed get their values back.",
  );
  const exported = page.locator('[data-specimen^="export"]');
  await expect(exported.getByRole("link", { name: "Download CSV" })).toHaveCount(2);
  await expect(exported.locator(".file-kept")).toHaveText([/^Kept until /, /^The file was removed /]);
  const deleting = page.locator('[data-specimen^="delete"]');
  await expect(deleting.locator(".plan-breakdown")).toHaveText(
    "28 items not live will be deleted · 12 items live will be taken off the marketplace first, then deleted",
  );
  await expect(deleting.locator(".plan-warning")).toContainText("cannot be brought back");
  await expect(deleting.getByRole("button", { name: "Delete 40 items" })).toBeVisible();
  // How a task ended, under its title, in the words of its toast.
  await expect(page.locator('[data-specimen="task-page-header--how-it-ended"] .task-outcome')).toHaveText([
    "187 published, 13 need attention.",
    "30 unpublished before the cancel, 50 cancelled.",
    "None of the 12 rows went through.",
  ]);

  // The item in its task: chips, banners and the question before saving.
  await expect(page.locator('[data-specimen="the-item-knows-its-task--catalog-chips"] .task-chip')).toHaveText([
    "queued for publish",
    "publishing…",
    "publish paused",
    "queued for unpublish",
    "published",
    "publish failed",
  ]);
  await expect(page.locator(".item-task-banner")).toHaveCount(6);
  await expect(page.locator('[data-specimen="saving-an-item-a-task-is-about-to-send"]')).toContainText(
    "This item is queued in Publishing 200 items. Save anyway and publish the new values?",
  );
  // Times in the seller's zone (the gallery's is Paris, UTC+1), relative where it helps.
  const times = page.locator('[data-specimen^="times"] time');
  await expect(times).toHaveText(["1 min ago", "15 min ago", "at 08:00", "26 Nov, 11:00", "24 Oct 2025, 11:00"]);
  await expect(times.first()).toHaveAttribute("title", "Sat 28 Nov 2026, 11:19:00 (UTC+01:00)");

  await expect(page).toHaveScreenshot("design.png", { fullPage: true, maxDiffPixelRatio: 0.01, animations: "disabled" });
});
