import { expect, test, type Page } from "@playwright/test";
import { hydrated, logIn, sandboxConnection, shot } from "./helpers";

// The tray and the toasts are fixed in a corner; the page keeps room for them. On every
// page, at MD, a small laptop and LG, each control can be brought into view clear of
// them: scrolled to (as the browser does for focus), its centre is the control itself,
// not the tray, a toast or a sticky bar.

const sizes = [
  { width: 768, height: 1024 },
  { width: 1024, height: 768 },
  { width: 1440, height: 900 },
];

/** Controls whose centre, once scrolled into view, lands on a fixed or sticky overlay. */
async function hiddenControls(page: Page): Promise<string[]> {
  return page.evaluate(() => {
    const overlayOf = (el: Element | null): Element | null => {
      for (let e = el; e; e = e.parentElement) {
        const position = getComputedStyle(e).position;
        if (position === "fixed" || position === "sticky") return e;
      }
      return null;
    };
    const selector = "a[href], button, input:not([type=hidden]), select, textarea, summary, [tabindex]:not([tabindex='-1'])";
    const hidden: string[] = [];
    for (const el of Array.from(document.querySelectorAll<HTMLElement>(selector))) {
      // The overlays' own controls, and what is not shown at all, are not in question.
      if (el.closest(".live-dock, dialog:not([open]), [hidden]")) continue;
      if (el.closest(".app-header")) continue;
      const box = el.getBoundingClientRect();
      if (box.width === 0 || box.height === 0 || getComputedStyle(el).visibility === "hidden") continue;
      el.scrollIntoView({ block: "nearest", inline: "nearest" });
      const r = el.getBoundingClientRect();
      const x = r.left + r.width / 2;
      const y = r.top + r.height / 2;
      const hit = document.elementFromPoint(x, y);
      if (hit && (hit === el || el.contains(hit) || hit.contains(el))) continue;
      const over = overlayOf(hit);
      if (over && !over.contains(el)) {
        const name = (el.getAttribute("aria-label") ?? el.textContent ?? el.tagName).trim().slice(0, 40);
        hidden.push(`${el.tagName.toLowerCase()} "${name}" under ${over.className || over.tagName}`);
      }
    }
    window.scrollTo(0, 0);
    return hidden;
  });
}

test("no control is hidden under the tray, the toasts or a sticky bar, on any page", async ({ page }, testInfo) => {
  test.skip(testInfo.project.name !== "lg", "covers every size itself");
  test.setTimeout(180_000);
  await logIn(page);
  // A long publish keeps the tray open (it is expanded while a task runs), and a finished
  // small one leaves a toast that stays until closed.
  const all = (await (await page.request.get("/api/v1/items?per_page=200")).json()).items.map((i: { id: number }) => i.id);
  const failing = (await (await page.request.get("/api/v1/items?q=SR-0023")).json()).items.map((i: { id: number }) => i.id);
  const long = await page.request.post("/api/v1/tasks", { data: { kind: "publish", connection_id: await sandboxConnection(page.request), item_ids: all } });
  expect(long.status()).toBe(202);
  const taskId = (await long.json()).id;
  const itemId = all[all.length - 1];
  const paths = ["/", "/?page=2", `/items/${itemId}`, "/import", "/tasks", `/tasks/${taskId}`];

  for (const size of sizes) {
    await page.setViewportSize(size);
    for (const path of paths) {
      await page.goto(path);
      await hydrated(page);
      // The tray open (as it is while a task runs; the seller's choice once all are over).
      const head = page.locator(".live-dock .tray-head");
      await expect(head).toBeVisible();
      if ((await head.getAttribute("aria-expanded")) === "false") await head.click();
      await expect(page.locator(".live-dock .tray-row").first()).toBeVisible();
      if (path === "/") {
        // A problem's toast, which stays until closed, above the tray.
        await page.request.post("/api/v1/tasks", { data: { kind: "publish", connection_id: await sandboxConnection(page.request), item_ids: failing } });
        await expect(page.locator(".live-dock .toast").first()).toBeVisible({ timeout: 20_000 });
        // And the bulk bar with a selection.
        await page.locator("tbody input[type=checkbox]").first().check();
        await expect(page.locator(".bulk-bar")).toBeVisible();
      }
      // The dock's room is measured as it changes (toasts come and go): check once it
      // has settled.
      const room = () => page.evaluate(() => getComputedStyle(document.documentElement).getPropertyValue("--dock-room"));
      let last = "";
      await expect.poll(async () => {
        const now = await room();
        const settled = now === last && now !== "";
        last = now;
        return settled;
      }, { intervals: [400] }).toBe(true);
      const label = `${size.width}x${size.height} ${path}`;
      expect(await hiddenControls(page), label).toEqual([]);
      await shot(page, testInfo, `overlay-${size.width}x${size.height}-${path.replace(/[^a-z0-9]+/gi, "_")}`, false);
    }
  }
});
