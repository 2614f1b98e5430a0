import { chromium } from "@playwright/test";
const browser = await chromium.launch({ executablePath: "/usr/bin/chromium", args: ["--headless", "--no-sandbox"] });
const page = await browser.newPage({ viewport: { width: 768, height: 1024 }, timezoneId: "America/New_York" });
const base = "http://127.0.0.1:3005";
const t0 = Date.now();
const log = (...a) => console.log(((Date.now() - t0) / 1000).toFixed(1) + "s", ...a);
await page.goto(base + "/login");
await page.waitForSelector("body[data-hydrated='true']");
await page.getByLabel("E-mail").fill("demo@stockroom.test");
await page.getByLabel("Password").fill("stockroom-demo");
await page.getByRole("button", { name: "Sign in" }).click();
await page.waitForSelector("h1:has-text('Catalog')");
await page.waitForTimeout(1000);
// Publish the first 60 drafts through the UI's API.
const drafts = (await (await page.request.get(base + "/api/v1/items?state=draft&per_page=60&sort=sku&dir=asc")).json()).items;
const ids = drafts.map((i) => i.id);
const reply = await page.request.post(base + "/api/v1/tasks", { data: { kind: "publish", item_ids: ids } });
const task = await reply.json();
log("task", task.id, task.label, JSON.stringify(task.estimate));
await page.goto(base + "/?in_task=1");
await page.waitForSelector("body[data-hydrated='true']");
await page.waitForTimeout(1500);
log("chips", await page.locator(".task-chip").allTextContents().then((t) => [...new Set(t)].join(" | ")), "count", await page.locator(".task-chip").count());
await page.screenshot({ path: "/tmp/trial/catalog.png" });
const last = drafts[drafts.length - 1];
await page.goto(base + `/items/${last.id}`);
await page.waitForSelector("body[data-hydrated='true']");
log("banner", await page.locator(".item-task-banner").textContent());
log("created", await page.locator(".facts time").first().textContent(), await page.locator(".facts time").first().getAttribute("title"));
await page.screenshot({ path: "/tmp/trial/item-queued.png" });
const seen = [];
for (let i = 0; i < 300; i++) {
  const s = (await page.locator(".item-task-banner").getAttribute("data-item-status").catch(() => "none")) ?? "none";
  if (seen[seen.length - 1] !== s) { seen.push(s); log("banner status", s, await page.locator(".item-task-banner").textContent().catch(() => "")); }
  if (s === "succeeded" || s === "failed") break;
  await page.waitForTimeout(200);
}
await page.screenshot({ path: "/tmp/trial/item-done.png" });
await page.waitForTimeout(2000);
await page.locator(".bell-button").click();
await page.waitForTimeout(1000);
log("notifications", (await page.locator(".notification").allTextContents()).slice(0, 3).join(" || "));
await page.screenshot({ path: "/tmp/trial/bell.png" });
// The server renders the next page in the account's zone.
const html = await (await page.request.get(base + `/items/${last.id}`)).text();
log("ssr times", [...html.matchAll(/<time[^>]*title="([^"]*)"[^>]*>([^<]*)</g)].map((m) => m[2] + " / " + m[1]).slice(0, 2).join(" ; "));
await browser.close();
