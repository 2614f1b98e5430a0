import { expect, test, type Page, type TestInfo } from "@playwright/test";
import { closeToasts, hydrated, logIn, sandboxConnection, shot } from "./helpers";

type Task = {
  id: number;
  status: string;
  counts: { total: number; succeeded: number; failed: number };
  chain: { step: number; of: number; next: number | null; previous: number | null } | null;
  start_at: string | null;
};

async function task(page: Page, id: number): Promise<Task> {
  return (await page.request.get(`/api/v1/tasks/${id}`)).json();
}

async function finished(page: Page, id: number, timeout = 60_000) {
  await expect
    .poll(async () => (await task(page, id)).status, { timeout })
    .toMatch(/^(succeeded|completed_with_errors|failed|cancelled)$/);
}

/** Items of this test's own (imported, and published when asked): their ids. */
async function ownItems(page: Page, testInfo: TestInfo, name: string, publish: boolean): Promise<{ prefix: string; ids: number[] }> {
  const prefix = `FLOW-${name}-${testInfo.project.name}-${Date.now()}`;
  const csv = ["sku,title,price,quantity,image_url", ...[1, 2, 3].map((n) => `${prefix}-${n},Flow item ${n},14.00,5,/media/demo/${n}.svg`)].join("\n");
  const imported = await page.request.post("/api/v1/imports", {
    multipart: { file: { name: "flow.csv", mimeType: "text/csv", buffer: Buffer.from(csv) } },
  });
  expect(imported.status()).toBe(202);
  await finished(page, (await imported.json()).id);
  const ids = (await (await page.request.get(`/api/v1/items?q=${prefix}&sort=sku&dir=asc`)).json()).items.map((i: { id: number }) => i.id);
  if (publish) {
    const published = await page.request.post("/api/v1/tasks", { data: { kind: "publish", connection_id: await sandboxConnection(page.request), item_ids: ids } });
    await finished(page, (await published.json()).id);
  }
  return { prefix, ids };
}

test("import, then publish what imported: both steps in the tray and on the task page", async ({ page }, testInfo) => {
  await logIn(page);
  await page.goto("/import");
  await hydrated(page);
  const sample = await (await page.request.get("/api/v1/imports/sample.csv")).body();
  await page.locator("#csv-file").setInputFiles({ name: "sample-items.csv", mimeType: "text/csv", buffer: sample });
  const confirm = page.getByRole("group", { name: "Import this file?" });
  await expect(confirm.getByRole("heading", { level: 2 })).toHaveText(/^Import \d+ rows\?$/);
  await confirm.getByLabel("Then publish what imported").check();
  // The demo seller has three connections: the publish step asks where, the first suggested.
  await expect(confirm.getByLabel("Where to?").locator("option")).toHaveCount(3);
  await expect(confirm.getByLabel("Where to?").locator("option:checked")).toHaveText("Sandbox marketplace");
  await expect(confirm.getByRole("group", { name: "Start" })).toBeVisible();
  await shot(page, testInfo, "flow-import-confirm");
  await confirm.getByRole("button", { name: "Start in background" }).click();

  const progress = page.locator(".import-progress");
  await expect(progress.locator(".import-next")).toContainText("starts when this import ends");
  const next = Number((await progress.locator(".import-next a").textContent())?.replace("#", ""));
  const first = next - 1;
  expect((await task(page, first)).chain).toEqual({ step: 1, of: 2, next, previous: null });

  // The tray shows both steps: the import running, the publish waiting for it.
  const tray = page.locator(".task-tray");
  const stepTwo = tray.locator(`.tray-row[data-task="${next}"]`);
  await expect(tray.locator(`.tray-row[data-task="${first}"]`)).toContainText("Step 1 of 2");
  await expect(stepTwo).toContainText("Step 2 of 2");
  await expect(stepTwo).toContainText(`Starts when #${first} ends`);
  await expect(stepTwo.locator(".chip")).toHaveText("after step 1");
  await shot(page, testInfo, "flow-import-tray", false);

  // The second step's page names both steps; it starts by itself when the import ends.
  await page.goto(`/tasks/${next}`);
  await hydrated(page);
  const steps = page.getByRole("navigation", { name: "This task is step 2 of 2" });
  await expect(steps.locator(".chain-step")).toHaveCount(2);
  await expect(steps.locator(".chain-step").first()).toContainText("Step 1 of 2");
  await expect(steps.locator('[aria-current="step"]')).toContainText(`#${next}`);
  await expect(page.locator(".task-header .chip")).toHaveText(/running|done/, { timeout: 60_000 });
  await shot(page, testInfo, "flow-publish-running");
  await finished(page, next, 90_000);
  const imported = await task(page, first);
  const published = await task(page, next);
  // Exactly what imported was published.
  expect(published.counts.total).toBe(imported.counts.succeeded);
  // The sample holds one title the marketplace finds too long: the publish says so.
  expect(published.counts.succeeded + published.counts.failed).toBe(published.counts.total);
  expect(published.counts.succeeded).toBeGreaterThan(published.counts.total - 3);
  await expect(page.locator(".task-header .chip")).toHaveText(published.status === "succeeded" ? "done" : "done with problems");
  await closeToasts(page);
  await shot(page, testInfo, "flow-publish-done");
});

test("edit, then update the listings: the second step updates what the edit changed", async ({ page }, testInfo) => {
  await logIn(page);
  const { prefix, ids } = await ownItems(page, testInfo, "edit", true);
  await page.goto(`/?q=${prefix}&sort=sku&dir=asc`);
  await hydrated(page);
  await closeToasts(page);
  await page.getByLabel("Select this page").check();
  const bar = page.getByRole("region", { name: "Bulk actions" });
  await bar.getByRole("button", { name: "Edit…", exact: true }).click();
  const dialog = page.getByRole("dialog");
  await dialog.getByLabel("How the quantity changes").selectOption("set");
  await dialog.getByLabel("Quantity change", { exact: true }).fill("9");
  await dialog.getByRole("button", { name: "Preview changes" }).click();
  await expect(dialog.getByRole("region", { name: "Preview" })).toContainText("3 items will change");
  await dialog.getByLabel("Then update their listings on the marketplace").check();
  await shot(page, testInfo, "flow-edit-confirm", false);
  await dialog.getByRole("button", { name: "Start in background" }).click();
  await expect(page.locator(".bulk-notice")).toContainText("started");

  const edits = (await (await page.request.get("/api/v1/tasks?kind=edit&per_page=1")).json()).items;
  const edit: Task = edits[0];
  expect(edit.chain?.step).toBe(1);
  const next = edit.chain?.next as number;
  await finished(page, edit.id);
  await finished(page, next);
  const update = await task(page, next);
  expect(update.status).toBe("succeeded");
  expect(update.counts.total).toBe(ids.length);
  // Nothing of ours is left "changed since published".
  const changed = await (await page.request.get(`/api/v1/items?q=${prefix}&changed=true`)).json();
  expect(changed.total).toBe(0);

  await page.goto(`/tasks/${edit.id}`);
  await hydrated(page);
  const steps = page.getByRole("navigation", { name: "This task is step 1 of 2" });
  await expect(steps.locator(".chain-step").nth(1)).toContainText(`#${next}`);
  await expect(steps.locator(".chain-step").nth(1).locator(".chip")).toHaveText("done");
  await shot(page, testInfo, "flow-edit-steps");
});

/** "YYYY-MM-DDTHH:MM:SS" on the browser's clock, `seconds` from now. */
async function localIn(page: Page, seconds: number): Promise<string> {
  return page.evaluate((ahead) => {
    const at = new Date(Date.now() + ahead * 1000);
    const two = (n: number) => String(n).padStart(2, "0");
    return `${at.getFullYear()}-${two(at.getMonth() + 1)}-${two(at.getDate())}T${two(at.getHours())}:${two(at.getMinutes())}:${two(at.getSeconds())}`;
  }, seconds);
}

test("a task scheduled a minute ahead starts by itself while the seller browses; one for tonight is cancelled", async ({ page }, testInfo) => {
  test.setTimeout(180_000);
  await logIn(page);
  const { prefix } = await ownItems(page, testInfo, "later", false);
  const schedule = async (when: "at" | "tonight") => {
    await page.goto(`/?q=${prefix}&sort=sku&dir=asc`);
    await hydrated(page);
    await closeToasts(page);
    await page.getByLabel("Select this page").check();
    await page.getByRole("region", { name: "Bulk actions" }).getByRole("button", { name: "Export…", exact: true }).click();
    const dialog = page.getByRole("dialog");
    const start = dialog.getByRole("group", { name: "Start" });
    if (when === "at") {
      await start.getByLabel("At a time…").check();
      await dialog.getByLabel("Start at").fill(await localIn(page, 60));
    } else {
      await start.getByLabel(/^Tonight at \d\d:\d\d$/).check();
    }
    await shot(page, testInfo, `flow-schedule-${when}`, false);
    await dialog.getByRole("button", { name: "Schedule" }).click();
    await expect(page.locator(".bulk-notice")).toContainText("is scheduled");
    const latest: Task = (await (await page.request.get("/api/v1/tasks?kind=export&per_page=1")).json()).items[0];
    expect(latest.status).toBe("scheduled");
    expect(latest.start_at).not.toBeNull();
    return latest.id;
  };

  const soon = await schedule("at");
  const row = page.locator(`.task-tray .tray-row[data-task="${soon}"]`);
  await expect(row.locator(".chip")).toHaveText("scheduled");
  await expect(row).toContainText(/Starts at \d\d:\d\d/);
  await shot(page, testInfo, "flow-scheduled-tray", false);

  // The seller browses meanwhile; the task starts on its own and finishes.
  await page.getByRole("link", { name: "Tasks", exact: true }).first().click();
  await hydrated(page);
  await expect(page.locator(`tr[data-task="${soon}"], li[data-task="${soon}"]`).first()).toBeVisible();
  await page.goto("/");
  await hydrated(page);
  await expect(row.locator(".chip")).toHaveText("done", { timeout: 120_000 });
  const ran = await task(page, soon);
  expect(ran.status).toBe("succeeded");
  await shot(page, testInfo, "flow-scheduled-done", false);

  // One for tonight, cancelled from its page before it starts.
  const tonight = await schedule("tonight");
  await page.goto(`/tasks/${tonight}`);
  await hydrated(page);
  await expect(page.locator(".task-header .chip")).toHaveText("scheduled");
  await expect(page.locator(".task-header .task-starts")).toContainText(/^Starts (tomorrow|at) 02:00/);
  await expect(page.getByRole("button", { name: "Start now" })).toBeVisible();
  await shot(page, testInfo, "flow-scheduled-page");
  await page.getByRole("button", { name: "Cancel task…" }).click();
  await page.getByRole("dialog").getByRole("button", { name: "Cancel task" }).click();
  await expect(page.locator(".task-header .chip")).toHaveText("cancelled");
  expect((await task(page, tonight)).status).toBe("cancelled");
});
