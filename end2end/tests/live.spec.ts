import { expect, test, type Page } from "@playwright/test";
import { closeToasts, hydrated, logIn, movesOn, sandboxConnection, shot } from "./helpers";

async function unread(page: Page): Promise<number> {
  // The count comes with the event stream's first snapshot, which the live layer (loaded
  // after hydration) asks for: read it only once the stream is live.
  await page.locator("aside.task-tray[data-link='live']").waitFor({ state: "attached" });
  const label = (await page.locator(".bell-button").getAttribute("aria-label")) ?? "";
  const match = label.match(/(\d+) unread/);
  return match ? Number(match[1]) : 0;
}

function tray(page: Page) {
  // The landmark; an empty one has no box, so find it by its class.
  return page.locator("aside.task-tray");
}

test("a heavy publish runs in the background, followed everywhere, and tells when it ends", async ({ page }, testInfo) => {
  // MD publishes the drafts (some fail on the marketplace); LG then unpublishes what is
  // published (all succeed). Both are about 200 items.
  const md = testInfo.project.name === "md";
  const plan = md
    ? { state: "draft", action: "Publish", ing: "Publishing", toast: "done with problems", note: "done with problems", chip: "done with problems" }
    : { state: "published", action: "Unpublish", ing: "Unpublishing", toast: "done", note: "done", chip: "done" };
  await logIn(page);
  const before = await unread(page);

  // Select every matching item and confirm: count and estimate first.
  await page.goto(`/?state=${plan.state}`);
  await hydrated(page);
  await page.getByLabel("Select this page").check();
  await page.getByRole("button", { name: /^Select all \d+ matching items$/ }).click();
  const bar = page.getByRole("region", { name: "Bulk actions" });
  const count = Number((await bar.textContent())?.match(/(\d+) items selected/)?.[1]);
  expect(count).toBeGreaterThan(150);
  await bar.getByRole("button", { name: `${plan.action}…`, exact: true }).click();
  const dialog = page.getByRole("dialog");
  await expect(dialog.getByRole("heading")).toHaveText(`${plan.action} ${count} items?`);
  await expect(dialog).toContainText(/about \d+( (s|min))?( to \d+)? (s|min)/);
  await shot(page, testInfo, "live-confirm", false);
  await dialog.getByRole("button", { name: "Start in background" }).click();
  const label = `${plan.action} ${count} items`;

  // The tray shows it at once, with a toast saying it started.
  const running = tray(page).locator(".tray-row").filter({ hasText: `${plan.ing} ${count} items` });
  await expect(running).toBeVisible();
  // Followed by id from here: once over, the row says "Publish…" instead of "Publishing…".
  const taskId = await running.getAttribute("data-task");
  const row = tray(page).locator(`.tray-row[data-task="${taskId}"]`);
  // The toast says the time the confirmation promised.
  await expect(page.locator(".toast").filter({ hasText: `${label} started` })).toContainText(/It should take about \d+( (s|min))?( to \d+)? (s|min)/);
  await expect(page).toHaveTitle(/^\(\d+%\) /);

  // Keep working: open an item and save it while the tray advances.
  const progressText = async () => Number((await row.locator("[role=progressbar]").getAttribute("aria-valuenow")) ?? 0);
  const first = await progressText();
  // (An item the task does not touch: editing one it is publishing would rightly
  // conflict with the listing update.)
  let untouched = 0;
  for (const state of ["published", "unpublished", "failed", "draft"].filter((s) => s !== plan.state)) {
    // (Not queued in any running task either: saving that one would rightly ask first.)
    const found = (await (await page.request.get(`/api/v1/items?state=${state}&per_page=50`)).json()).items.filter(
      (i: { task: unknown }) => !i.task,
    );
    if (found.length > 0) {
      untouched = found[0].id;
      break;
    }
  }
  expect(untouched).toBeGreaterThan(0);
  await page.goto(`/items/${untouched}`);
  await hydrated(page);
  await page.getByLabel("Quantity", { exact: true }).fill(md ? "7" : "8");
  await page.getByRole("button", { name: "Save changes" }).click();
  await expect(page.getByRole("status").filter({ hasText: "Saved." })).toBeVisible();
  await expect(row).toBeVisible();
  // (200 items at the sandbox's 20 a second take about 10 s.)
  await movesOn(page, taskId ?? "", progressText, first, 30_000);
  await shot(page, testInfo, "live-tray-while-editing", false);

  // A reload puts the tray back where it was.
  const beforeReload = await progressText();
  await page.reload();
  await hydrated(page);
  await expect(row).toBeVisible();
  expect(await progressText()).toBeGreaterThanOrEqual(beforeReload);

  // The end: a toast (with a Review action when some failed), one more unread notification.
  const done = page.locator(".toast").filter({ hasText: `${label} ${plan.toast}` });
  await expect(done).toBeVisible({ timeout: 45_000 });
  if (md) await expect(done.getByRole("link", { name: /^Review \d+ failures?$/ })).toBeVisible();
  // One sentence for the end, wherever it is said: the toast, the notification, the task page.
  const said = (await done.locator(".toast-body").textContent()) ?? "";
  expect(said).toMatch(md ? /^\d+ published, \d+ needs? attention\.$/ : /^All \d+ items unpublished\.$/);
  await expect.poll(() => unread(page)).toBe(before + 1);
  await expect(row.locator(".chip")).toHaveText(plan.chip);
  await expect(page).not.toHaveTitle(/^\(\d+%\)/);
  await shot(page, testInfo, "live-done", false);
  await closeToasts(page);

  // The notification centre lists it, linked to the task.
  await page.locator(".bell-button").click();
  const panel = page.getByRole("region", { name: "Notifications" });
  const note = panel.getByRole("link", { name: `${label} ${plan.note}` }).first();
  await expect(note).toBeVisible();
  await expect(panel.locator(".notification", { hasText: `${label} ${plan.note}` }).first()).toContainText(said);
  await shot(page, testInfo, "live-notifications", false);
  await note.click();
  await expect(page).toHaveURL(/\/tasks\/\d+$/);
  await expect(page.getByRole("heading", { name: label })).toBeVisible();
  await expect(page.locator(".task-outcome")).toHaveText(said);
  // What it was told beside what it took.
  await expect(page.locator(".facts")).toContainText(/Time\s*estimated \d+[^·]* · took \d+ (s|min|h)/);
  if (md) await expect(page.getByRole("link", { name: "Download error report" })).toBeVisible();
  await page.locator(".bell-button").click();
  // Following the link read this one; older ones (earlier tests) are marked all at once.
  const markAll = page.getByRole("button", { name: "Mark all as read" });
  await expect.poll(() => unread(page)).toBe(before);
  if (before > 0) await markAll.click();
  await expect.poll(() => unread(page)).toBe(0);
  await expect(markAll).toBeDisabled();
});

test("without the stream the tray catches up by polling, and another seller sees nothing", async ({ page, browser }, testInfo) => {
  // The event stream is refused: the store falls back to polling the API.
  await page.route("**/api/v1/events", (route) => route.fulfill({ status: 503, body: "" }));
  await logIn(page);
  await page.goto("/?q=SR-011&sort=sku&dir=asc");
  await hydrated(page);
  await expect(tray(page)).toHaveAttribute("data-link", "polling");
  const started = await page.request.post("/api/v1/tasks", {
    data: { kind: "unpublish", connection_id: await sandboxConnection(page.request), filter: { q: "SR-011" } },
  });
  expect(started.status()).toBe(202);
  const task = await started.json();
  const row = tray(page).locator(`.tray-row[data-task="${task.id}"]`);
  // (Small: it may be over before the first poll, and a tray with nothing running is
  // collapsed to its summary.)
  await expect(row).toBeAttached({ timeout: 10_000 });
  await expect(row).toHaveAttribute("data-status", "succeeded", { timeout: 30_000 });
  await expect(tray(page).locator(".tray-summary")).toContainText("recent");
  // The stream comes back: the store leaves polling by itself.
  await page.unroute("**/api/v1/events");
  await expect(tray(page)).toHaveAttribute("data-link", "live", { timeout: 25_000 });
  await shot(page, testInfo, "live-polling", false);

  // Another seller: an empty tray, and the task is not found.
  const other = await browser.newContext();
  const otherPage = await other.newPage();
  await otherPage.goto("/login");
  await hydrated(otherPage);
  await otherPage.getByLabel("E-mail").fill("other@stockroom.test");
  await otherPage.getByLabel("Password").fill("other-seller-pass");
  await otherPage.getByRole("button", { name: "Sign in" }).click();
  await expect(otherPage.getByRole("heading", { name: "Catalog" })).toBeVisible();
  await hydrated(otherPage);
  await expect(tray(otherPage)).toHaveAttribute("data-link", "live");
  await expect(tray(otherPage)).toHaveAttribute("data-empty", "true");
  expect(await unread(otherPage)).toBe(0);
  expect((await otherPage.request.get(`/api/v1/tasks/${task.id}`)).status()).toBe(404);
  await other.close();
});
