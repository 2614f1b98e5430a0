// Measures what the browser downloads to make each page interactive: every wasm and JS
// file it fetches from /pkg/ on a fresh load (cache empty), until the app has hydrated.
// Sizes are the files gzipped at level 9 (read from the built site), plus what actually
// crossed the wire with the server's own compression.
//
//   BASE_URL=http://127.0.0.1:3200 SITE_ROOT=../target/site node bundle-size.mjs
import { chromium } from "@playwright/test";
import { readFileSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { gzipSync } from "node:zlib";

const base = process.env.BASE_URL ?? "http://127.0.0.1:3200";
const siteRoot = process.env.SITE_ROOT ?? "../target/site";
const email = process.env.DEMO_EMAIL ?? "demo@stockroom.test";
const password = process.env.DEMO_PASSWORD ?? "stockroom-demo";

const gz = (path) => gzipSync(readFileSync(path), { level: 9 }).length;
const kib = (n) => (n / 1024).toFixed(0);
const isCode = (url) => /\/pkg\/.*\.(wasm|js)$/.test(new URL(url).pathname);

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM ?? "/usr/bin/chromium",
  args: ["--headless", "--no-sandbox", "--disable-gpu"],
});

// One signed-in session, reused by fresh contexts so every page starts with an empty cache.
const login = await browser.newContext();
const lp = await login.newPage();
await lp.goto(`${base}/login`);
await lp.locator("body[data-hydrated='true']").waitFor({ state: "attached" });
await lp.getByLabel("E-mail").fill(email);
await lp.getByLabel("Password").fill(password);
await lp.getByRole("button", { name: "Sign in" }).click();
await lp.getByRole("heading", { name: "Catalog" }).waitFor();
const itemHref = await lp.locator("a[href^='/items/']").first().getAttribute("href");
// A small publish, so that a task page exists to be measured.
const itemId = Number(itemHref.split("/").pop());
const created = await lp.evaluate(async (id) => {
  const reply = await fetch("/api/v1/tasks", {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ kind: "publish", item_ids: [id] }),
  });
  return reply.ok ? (await reply.json()).id : null;
}, itemId);
const taskHref = created ? `/tasks/${created}` : null;
const state = await login.storageState();
await login.close();

const pages = [
  ["/login", false],
  ["/", true],
  [itemHref, true],
  ["/import", true],
  ["/tasks", true],
  [taskHref, true],
  ["/design", false],
].filter(([path]) => path);

const rows = [];
for (const [path, signedIn] of pages) {
  const context = await browser.newContext(signedIn ? { storageState: state } : {});
  const page = await context.newPage();
  const files = new Map();
  page.on("requestfinished", async (request) => {
    if (!isCode(request.url())) return;
    const sizes = await request.sizes();
    files.set(new URL(request.url()).pathname, sizes.responseBodySize);
  });
  await page.goto(`${base}${path}`);
  await page.locator("body[data-hydrated='true']").waitFor({ state: "attached" });
  await page.waitForLoadState("networkidle");
  let gzipped = 0;
  let wire = 0;
  for (const [file, transferred] of files) {
    gzipped += gz(join(siteRoot, file));
    wire += transferred;
  }
  rows.push({ path, count: files.size, gzipped, wire, files: [...files.keys()].sort() });
  await context.close();
}
await browser.close();

const pkg = join(siteRoot, "pkg");
const all = readdirSync(pkg).filter((f) => /\.(wasm|js)$/.test(f));
const total = all.reduce((sum, f) => sum + gz(join(pkg, f)), 0);

console.log("| page | files fetched | wasm + js, gzip -9 | on the wire |");
console.log("|---|---|---|---|");
for (const r of rows) {
  console.log(`| \`${r.path}\` | ${r.count} | **${kib(r.gzipped)} KiB** | ${kib(r.wire)} KiB |`);
}
console.log(`\nAll ${all.length} wasm and JS files together, gzip -9: ${kib(total)} KiB`);
for (const f of all.sort()) console.log(`  ${f}: ${kib(gz(join(pkg, f)))} KiB`);
if (process.env.VERBOSE) for (const r of rows) console.log(r.path, r.files.join(" "));
