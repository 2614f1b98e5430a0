import AxeBuilder from "@axe-core/playwright";
import { expect, test, type Page } from "@playwright/test";
import { closeToasts, hydrated, logIn, sandboxConnection } from "./helpers";

/** axe-core on the page as it is now: no serious or critical WCAG 2 A/AA violation. */
async function audit(page: Page, where: string) {
  const results = await new AxeBuilder({ page }).withTags(["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]).analyze();
  const bad = results.violations
    .filter((v) => v.impact === "serious" || v.impact === "critical")
    .map((v) => `${where}: ${v.id} (${v.impact}) ${v.help} — ${v.nodes.slice(0, 3).map((n) => n.target.join(" ")).join(" | ")}`);
  expect(bad, bad.join("\n")).toEqual([]);
}

/** The first controls of the page, reached with Tab: each shows a focus ring (an outline
 *  of at least 2 px, or a shadow) while it has the keyboard's focus. */
async function focusRings(page: Page, where: string) {
  await page.evaluate(() => (document.activeElement as HTMLElement | null)?.blur());
  const missing: string[] = [];
  for (let i = 0; i < 14; i++) {
    await page.keyboard.press("Tab");
    const ring = await page.evaluate(() => {
      const el = document.activeElement as HTMLElement | null;
      if (!el || el === document.body) return null;
      const style = getComputedStyle(el);
      const outline = style.outlineStyle !== "none" && parseFloat(style.outlineWidth) >= 2;
      const name = `${el.tagName.toLowerCase()}${el.id ? `#${el.id}` : ""} ${el.getAttribute("class") ?? ""} ${(el.textContent ?? "").trim().slice(0, 30)}`;
      return { name, ok: outline || style.boxShadow !== "none" };
    });
    if (ring && !ring.ok) missing.push(`${where}: ${ring.name}`);
  }
  expect(missing, missing.join("\n")).toEqual([]);
}

test("every page passes axe-core with no serious or critical violation, and logs no error", async ({ page }) => {
  // A panic in the browser (a hydration mismatch, a missing clock) shows up here first.
  const problems: string[] = [];
  page.on("pageerror", (err) => problems.push(`page error: ${err.message}`));
  page.on("console", (message) => {
    // (An item's picture that does not load is the seller's data, not an app error.)
    if (message.text().startsWith("Failed to load resource")) return;
    if (message.type() === "error" || message.text().includes("panicked")) problems.push(`console: ${message.text().slice(0, 300)}`);
  });
  await page.goto("/login");
  await hydrated(page);
  await audit(page, "login");
  await focusRings(page, "login");

  await page.goto("/design");
  await hydrated(page);
  await audit(page, "design");

  await logIn(page);
  await audit(page, "catalog");
  await focusRings(page, "catalog");
  const item = (await (await page.request.get("/api/v1/items?per_page=1")).json()).items[0].id;
  await page.goto(`/items/${item}`);
  await hydrated(page);
  await expect(page.getByRole("button", { name: "Save changes" })).toBeVisible();
  await audit(page, "item");
  await focusRings(page, "item");
  await page.goto("/connections");
  await hydrated(page);
  await audit(page, "connections");
  await focusRings(page, "connections");
  await page.goto("/import");
  await hydrated(page);
  await audit(page, "import");
  await focusRings(page, "import");
  await page.goto("/tasks");
  await hydrated(page);
  await expect(page.locator("table.tasks-table")).toBeVisible();
  await audit(page, "tasks");
  await focusRings(page, "tasks");
  const first = page.locator("table.tasks-table tbody tr[data-task]").first();
  if ((await first.count()) > 0) {
    await page.goto(`/tasks/${await first.getAttribute("data-task")}`);
    await hydrated(page);
    await expect(page.locator(".task-facts")).toBeVisible();
    await audit(page, "task");
    await focusRings(page, "task");
  }
  // The notification panel open.
  await page.locator(".bell-button").click();
  await expect(page.getByRole("region", { name: "Notifications" })).toBeVisible();
  await audit(page, "notifications");
  expect(problems, problems.join("\n")).toEqual([]);
});

test("the keyboard alone selects items, opens the heavy-task dialog, gets focus back, and works the tray", async ({ page }, testInfo) => {
  await logIn(page);
  await closeToasts(page);
  // Tab from the search to the first row's checkbox, and tick it with the space bar.
  const search = page.getByLabel("Search by SKU or title");
  await search.focus();
  const firstBox = page.locator("table.items-table tbody tr").first().getByRole("checkbox");
  for (let i = 0; i < 40 && !(await firstBox.evaluate((el) => el === document.activeElement)); i++) {
    await page.keyboard.press("Tab");
  }
  await expect(firstBox).toBeFocused();
  await page.keyboard.press("Space");
  await expect(firstBox).toBeChecked();
  const bar = page.getByRole("region", { name: "Bulk actions" });
  await expect(bar).toContainText("1 item selected");

  // The bulk action, then the dialog: focus moves in, stays in, Esc closes, focus returns.
  const publish = bar.getByRole("button", { name: "Publish…", exact: true });
  await publish.focus();
  await expect(publish).toBeFocused();
  await page.keyboard.press("Enter");
  const dialog = page.getByRole("dialog", { name: /^Publish 1 item\?$/ });
  await expect(dialog).toBeVisible();
  await expect(dialog.getByRole("button", { name: "Start in background" })).toBeVisible();
  for (let i = 0; i < 6; i++) {
    await page.keyboard.press("Tab");
    const inside = await dialog.evaluate((d) => d.contains(document.activeElement) || document.activeElement === document.body);
    expect(inside, "focus stays in the dialog").toBeTruthy();
  }
  // Focus is visible: the focused control has an outline.
  const focused = dialog.locator(":focus");
  if ((await focused.count()) > 0) {
    const outline = await focused.evaluate((el) => getComputedStyle(el).outlineStyle);
    expect(outline).not.toBe("none");
  }
  await page.keyboard.press("Escape");
  await expect(dialog).toBeHidden();
  await expect(publish).toBeFocused();
  await page.screenshot({ path: testInfo.outputPath(`${testInfo.project.name}-keyboard-focus.png`) });

  // The tray by keyboard: its head toggles the rows; a finished row is dismissed with
  // its button, and stays dismissed after a reload (remembered in this browser).
  const tasks = await (await page.request.get("/api/v1/tasks?per_page=1")).json();
  if (tasks.total === 0) {
    const mine = (await (await page.request.get("/api/v1/items?per_page=1")).json()).items[0].id;
    await page.request.post("/api/v1/tasks", { data: { kind: "publish", connection_id: await sandboxConnection(page.request), item_ids: [mine] } });
    await expect.poll(async () => (await (await page.request.get("/api/v1/tasks?per_page=1")).json()).items[0].status, { timeout: 20_000 }).toMatch(/succeeded|completed_with_errors|failed/);
    await page.reload();
    await hydrated(page);
  }
  await closeToasts(page);
  const head = page.locator(".tray-head");
  await expect(head).toBeVisible();
  await head.focus();
  const expanded = await head.getAttribute("aria-expanded");
  await page.keyboard.press("Enter");
  await expect(head).toHaveAttribute("aria-expanded", expanded === "true" ? "false" : "true");
  if (expanded !== "false") await page.keyboard.press("Enter");
  await expect(head).toHaveAttribute("aria-expanded", "true");
  const row = page.locator(".tray-row").first();
  const id = await row.getAttribute("data-task");
  const dismiss = row.getByRole("button", { name: /^Dismiss / });
  await dismiss.focus();
  await page.keyboard.press("Enter");
  await expect(page.locator(`.tray-row[data-task="${id}"]`)).toHaveCount(0);
  await page.reload();
  await hydrated(page);
  await expect(page.locator("aside.task-tray")).toHaveAttribute("data-link", /live|polling/);
  await expect(page.locator(`.tray-row[data-task="${id}"]`)).toHaveCount(0);

  // The notification centre: Enter opens it, Esc closes it and gives focus back to the bell.
  const bell = page.locator(".bell-button");
  await bell.focus();
  await page.keyboard.press("Enter");
  const panel = page.getByRole("region", { name: "Notifications" });
  await expect(panel).toBeVisible();
  await page.keyboard.press("Tab");
  await page.keyboard.press("Escape");
  await expect(panel).toBeHidden();
  await expect(bell).toBeFocused();
});
