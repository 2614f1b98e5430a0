import { expect, test, type Page } from "@playwright/test";
import { readFile } from "node:fs/promises";
import { closeToasts, hydrated, logIn, movesOn, parseCsv, sandboxConnection, shot, toCsv } from "./helpers";

async function items(page: Page, q: string): Promise<{ id: number; sku: string }[]> {
  const reply = await page.request.get(`/api/v1/items?q=${encodeURIComponent(q)}&per_page=200`);
  expect(reply.ok()).toBeTruthy();
  return (await reply.json()).items;
}

async function startPublish(page: Page, body: object): Promise<number> {
  const reply = await page.request.post("/api/v1/tasks", { data: { kind: "publish", connection_id: await sandboxConnection(page.request), ...body } });
  expect(reply.status(), await reply.text()).toBe(202);
  return (await reply.json()).id;
}

async function taskStatus(page: Page, id: number): Promise<string> {
  return (await (await page.request.get(`/api/v1/tasks/${id}`)).json()).status;
}

async function outage(page: Page, on: boolean) {
  const reply = await page.request.put("/sandbox/marketplace/_outage", { data: { on } });
  expect(reply.ok()).toBeTruthy();
}

// Each journey waits for real background work against the sandbox marketplace.
test.setTimeout(120_000);

/** The demo catalog lacks a picture on every 23rd item and has a zero price on the 97th. */
const flawed = (sku: string) => {
  const n = Number(sku.replace("SR-", ""));
  return n % 23 === 0 || n % 97 === 0;
};

test("a marketplace outage holds a publish, says so and clears by itself; the bad item fixed and retried", async ({ page }, testInfo) => {
  const md = testInfo.project.name === "md";
  await logIn(page);
  const good = (await items(page, md ? "SR-01" : "SR-02")).filter((i) => !flawed(i.sku)).slice(0, 60);
  const broken = (await items(page, md ? "SR-0023" : "SR-0046"))[0];
  expect(good).toHaveLength(60);

  // The marketplace is down: the first calls find it silent, and the task is held —
  // not failed — with every item kept.
  await outage(page, true);
  let id: number;
  try {
    id = await startPublish(page, { item_ids: [...good.map((i) => i.id), broken.id] });
    await expect
      .poll(async () => (await (await page.request.get(`/api/v1/tasks/${id}`)).json()).hold?.reason, { timeout: 45_000 })
      .toBe("marketplace_unavailable");
    const held = await (await page.request.get(`/api/v1/tasks/${id}`)).json();
    expect(held.status).toBe("running");
    expect(held.eta_seconds).toBeNull();
    expect(held.counts.failed).toBe(0);

    await page.goto(`/tasks/${id}`);
    await hydrated(page);
    await closeToasts(page);
    const notice = page.locator(".hold-notice");
    await expect(notice).toContainText(/The marketplace not answering since \d{1,2}:\d{2} — /);
    await expect(notice).toContainText("nothing is lost");
    await expect(notice).toContainText("Time left is unknown until it answers");
    await expect(page.locator(".task-header .chip")).toHaveText("not answering");
    const trayRow = page.locator(`.tray-row[data-task="${id}"]`);
    await expect(trayRow.locator(".chip")).toHaveText("not answering");
    await expect(trayRow.locator(".tray-counts")).toContainText(/since \d{1,2}:\d{2} — retrying every \d+ (s|min), nothing is lost/);
    // "Try now" while it is still down: asked at once, still held.
    await notice.getByRole("button", { name: "Try now" }).click();
    await expect(notice).toContainText("Asked just now: still not answering.");
    await shot(page, testInfo, "tasks-held");
  } finally {
    await outage(page, false);
  }

  // Back: the hold clears by itself at the next probe and the good items go through;
  // the one without a picture fails for what it is, and nothing for "unavailable".
  await expect(page.locator(".hold-notice")).toHaveCount(0, { timeout: 75_000 });
  const missing = page.locator('.group-card[data-code="image_missing"]');
  await expect(missing).toContainText("1 item", { timeout: 45_000 });
  await expect(missing).toContainText("fix first");
  await expect(page.locator('.group-card[data-code="marketplace_unavailable"]')).toHaveCount(0);
  await expect(page.locator(".task-header .chip")).toHaveText("done with problems");
  await expect(page.locator('.count-chip[data-status="succeeded"] strong')).toHaveText("60");

  // Fix and retry, without leaving the flow: the group's items, the item, save, retry.
  await closeToasts(page);
  await missing.getByRole("button", { name: "Fix this one" }).click();
  const rows = page.locator("table.task-items-table tbody tr");
  await expect(rows).toHaveCount(1);
  await expect(rows.first()).toContainText(broken.sku);
  await expect(rows.first()).toContainText("image_missing");
  await rows.first().getByRole("link", { name: broken.sku }).click();
  await expect(page).toHaveURL(new RegExp(`/items/${broken.id}\\?task=${id}&task_item=\\d+`));
  await hydrated(page);
  const fix = page.getByRole("region", { name: "Fix and retry" });
  await expect(fix).toContainText("This item failed in a task.");
  await page.getByLabel("Image URL").fill("/media/demo/1.svg");
  await page.getByRole("button", { name: "Save changes" }).click();
  await expect(page.getByRole("status").filter({ hasText: "Saved." })).toBeVisible();
  await fix.getByRole("button", { name: "Retry this item" }).click();
  await expect(fix.getByRole("status")).toHaveText("Sent again. The task shows how it goes.");
  await shot(page, testInfo, "tasks-fix-and-retry");
  await fix.getByRole("link", { name: "Back to the task" }).click();
  await expect(page.locator(".task-header .chip")).toHaveText("done", { timeout: 30_000 });
  await expect(page.locator('.count-chip[data-status="succeeded"] strong')).toHaveText("61");
  await expect(page.locator('.count-chip[data-status="failed"] strong')).toHaveText("0");
  await expect(page.locator(".group-card")).toHaveCount(0);
  // The tray agrees.
  const trayRow = page.locator(`.tray-row[data-task="${id}"]`);
  await expect(trayRow.locator(".chip")).toHaveText("done");
  // Once over, the tray's row says how it ended, as the toast and the task page do.
  await expect(trayRow.locator(".tray-counts")).toHaveText("All 61 items published.");
  await shot(page, testInfo, "tasks-detail-done");
});

test("pause, resume and cancel from the task page; skip a group; the counts and the tray agree", async ({ page }, testInfo) => {
  test.setTimeout(120_000);
  const md = testInfo.project.name === "md";
  await logIn(page);

  // Everything in the catalog: long enough to control it while it runs.
  const id = await startPublish(page, { filter: { q: "" } });
  await page.goto(`/tasks/${id}`);
  await hydrated(page);
  const chip = page.locator(".task-header .chip");
  const done = async () => Number((await page.locator(".progress-words").textContent())?.match(/^(\d+) of/)?.[1] ?? -1);
  await page.getByRole("button", { name: "Pause" }).click();
  await expect(chip).toHaveText("paused");
  // Items in flight finish; then nothing moves.
  await page.waitForTimeout(1_500);
  const paused = await done();
  await page.waitForTimeout(1_500);
  expect(await done()).toBe(paused);
  await shot(page, testInfo, "tasks-paused");

  await page.getByRole("button", { name: "Resume" }).click();
  await expect(chip).not.toHaveText("paused");
  // (Once, on a loaded machine, the resumed items took over 15 s to come back from the
  // marketplace; the point here is that they do.)
  await movesOn(page, id, done, paused, 45_000);

  // Cancel asks first and says what happens to the items not done yet.
  const cancel = page.getByRole("button", { name: "Cancel task…" });
  await cancel.click();
  const dialog = page.getByRole("dialog", { name: "Cancel this task?" });
  await expect(dialog).toContainText("items not started yet will be cancelled");
  await expect(dialog).toContainText("already done stay done");
  await shot(page, testInfo, "tasks-cancel-confirm", false);
  await dialog.getByRole("button", { name: "Cancel task" }).click();
  await expect(chip).toHaveText("cancelled", { timeout: 15_000 });
  // The end in one sentence: the task page and the toast say the same.
  const outcome = page.locator(".task-outcome");
  await expect(outcome).toHaveText(/^\d+ published before the cancel, \d+ cancelled\.$/);
  const cancelToast = page.locator(".toast", { hasText: " cancelled" }).locator(".toast-body").first();
  await expect(cancelToast).toHaveText((await outcome.textContent()) ?? "");
  const cancelled = Number(await page.locator('.count-chip[data-status="cancelled"] strong').textContent());
  expect(cancelled).toBeGreaterThan(0);
  const finalDone = await done();
  const trayRow = page.locator(`.tray-row[data-task="${id}"]`);
  await expect(trayRow.locator(".chip")).toHaveText("cancelled");
  const ended = (await outcome.textContent()) ?? "";
  expect(ended).toMatch(/ cancelled\.$/);
  await expect(trayRow.locator(".tray-counts")).toHaveText(ended);
  await expect(trayRow.locator("[role=progressbar]")).toHaveAttribute("aria-valuenow", String(finalDone));

  // Skip a group: two items without a picture fail; skipping them ends the task as done.
  const flawedItems = [...(await items(page, md ? "SR-0069" : "SR-0115")), ...(await items(page, md ? "SR-0092" : "SR-0138"))];
  expect(flawedItems).toHaveLength(2);
  const second = await startPublish(page, { item_ids: flawedItems.map((i) => i.id) });
  await expect.poll(() => taskStatus(page, second), { timeout: 30_000 }).toBe("failed");
  await page.goto(`/tasks/${second}`);
  await hydrated(page);
  await closeToasts(page);
  await expect(page.locator(".task-outcome")).toHaveText("None of the 2 items went through.");
  const group = page.locator('.group-card[data-code="image_missing"]');
  await expect(group).toContainText("2 items");
  await group.getByRole("button", { name: "Skip" }).click();
  await expect(chip).toHaveText("done");
  await expect(page.locator('.count-chip[data-status="skipped"] strong')).toHaveText("2");
  await expect(page.locator(".task-outcome")).toHaveText("Nothing published: 2 skipped.");
  await expect(page.locator(`.tray-row[data-task="${second}"] .chip`)).toHaveText("done");

  // The history lists both, filterable by status.
  await page.getByRole("navigation", { name: "Main" }).getByRole("link", { name: "Tasks" }).click();
  await hydrated(page);
  await expect(page.locator(`tr[data-task="${id}"]`)).toContainText("cancelled");
  await page.getByLabel("Status").selectOption("cancelled");
  await expect(page.locator(`tr[data-task="${second}"]`)).toHaveCount(0);
  await expect(page.locator(`tr[data-task="${id}"]`)).toBeVisible();
  await shot(page, testInfo, "tasks-history");
});

test("the import journey: sample file checked, rows left out and failed rows fixed and imported again", async ({ page }, testInfo) => {
  await logIn(page);
  await page.getByRole("navigation", { name: "Main" }).getByRole("link", { name: "Import" }).click();
  await hydrated(page);
  await page.locator("#csv-file").setInputFiles("../samples/sample-items.csv");
  const confirm = page.getByRole("group", { name: "Import this file?" });
  // Checked whole first: the decimal comma and the long title are fixed, eleven rows
  // need the seller and are left out.
  await expect(confirm.getByRole("heading", { level: 2 })).toHaveText("Import 289 rows?");
  await expect(confirm.locator(".check-summary")).toHaveText("287 ready · 2 can be fixed automatically · 11 need you");
  await expect(confirm.locator(".check-group")).toHaveCount(11);
  const leftOut = page.waitForEvent("download");
  await confirm.getByRole("button", { name: "Download the 11 rows left out" }).click();
  const [header, ...needYou] = parseCsv((await readFile((await (await leftOut).path()) ?? "", "utf8")).replace(/^\uFEFF/, ""));
  expect(needYou).toHaveLength(11);
  await confirm.getByRole("button", { name: "Start in background" }).click();
  const progress = page.locator(".import-progress");
  // What only the marketplace can tell is left for the task: two images it cannot fetch.
  await expect(progress).toContainText("287 imported, 2 need attention.", { timeout: 50_000 });
  await closeToasts(page);
  const report = await progress.getByRole("link", { name: "Download error report" }).getAttribute("href");
  const id = Number(report?.match(/tasks\/(\d+)\//)?.[1]);

  await page.goto(`/tasks/${id}`);
  await hydrated(page);
  await expect(page.locator(".failure-groups h2")).toHaveText("2 failed, by reason");
  const groups = page.locator(".group-card");
  await expect(groups).toHaveCount(1);
  await expect(groups.first()).toHaveAttribute("data-code", "image_unreachable");
  await expect(page.locator('.group-card[data-remedy="retry"]')).toHaveCount(0);
  await shot(page, testInfo, "tasks-import-groups");

  // The failed rows, to fix in the file and upload again with the ones left out.
  const link = page.getByRole("link", { name: "Download failed rows to fix and re-import" });
  const download = page.waitForEvent("download");
  await link.click();
  expect((await download).suggestedFilename()).toMatch(/^task-\d+-errors\.csv$/);
  const text = (await (await page.request.get((await link.getAttribute("href")) ?? "")).text()).replace(/^\uFEFF/, "");
  const [reportHeader, ...failed] = parseCsv(text);
  expect(reportHeader).toEqual(header);
  expect(failed).toHaveLength(2);
  const at = (name: string) => header.indexOf(name);
  const width = header.length - 2;
  const fixed = [...needYou, ...failed].map((cells) => {
    let row = cells.slice(0, cells.length - 2);
    const code = cells[cells.length - 2];
    if (code === "wrong_column_count") row = [row[0], `${row[1]},${row[2]}`, ...row.slice(3)];
    if (code.startsWith("price_")) row[at("price")] = "12.50";
    if (code.startsWith("title_")) row[at("title")] = "Fixed title";
    if (code.startsWith("quantity_")) row[at("quantity")] = "3";
    if (code === "currency_invalid") row[at("currency")] = "EUR";
    if (code.startsWith("image_")) row[at("image_url")] = "/media/demo/7.svg";
    if (code === "duplicate_sku") row[at("sku")] = `${row[at("sku")]}-B`;
    if (code === "sku_invalid") row[at("sku")] = row[at("sku")].replace(" ", "-");
    expect(row).toHaveLength(width);
    return row;
  });
  const body = toCsv([header.slice(0, width), ...fixed]);

  await page.getByRole("navigation", { name: "Main" }).getByRole("link", { name: "Import" }).click();
  await hydrated(page);
  await page.locator("#csv-file").setInputFiles({ name: "fixed.csv", mimeType: "text/csv", buffer: Buffer.from(body) });
  await expect(confirm.getByRole("heading", { level: 2 })).toHaveText("Import 13 rows?");
  await expect(confirm.locator(".check-summary")).toHaveText("13 ready");
  await confirm.getByRole("button", { name: "Start in background" }).click();
  await expect(progress).toContainText("All 13 rows imported.", { timeout: 30_000 });
  await shot(page, testInfo, "tasks-import-fixed");
});

test("a script's import of every row groups the failures by reason on the task page", async ({ page }) => {
  await logIn(page);
  // Through the API without `include`, every row goes in as written and bad ones fail.
  const started = await page.request.post("/api/v1/imports", {
    multipart: { file: { name: "sample-items.csv", mimeType: "text/csv", buffer: await readFile("../samples/sample-items.csv") } },
  });
  expect(started.status()).toBe(202);
  const id = (await started.json()).id;
  await expect
    .poll(async () => (await (await page.request.get(`/api/v1/tasks/${id}`)).json()).status, { timeout: 50_000 })
    .toBe("completed_with_errors");
  await page.goto(`/tasks/${id}`);
  await hydrated(page);
  await expect(page.locator(".failure-groups h2")).toHaveText("15 failed, by reason");
  const groups = page.locator(".group-card");
  await expect(groups).toHaveCount(13);
  const codes = await groups.evaluateAll((cards) => cards.map((c) => `${c.getAttribute("data-code")}:${c.querySelector(".group-count")?.textContent}`));
  expect(codes.slice(0, 2).sort()).toEqual(["image_unreachable:2 items", "price_invalid:2 items"]);
  expect(codes).toContain("wrong_column_count:1 item");
  expect(codes).toContain("duplicate_sku:1 item");
  await expect(page.locator('.group-card[data-code="price_invalid"]')).toContainText("Price not valid");
});
