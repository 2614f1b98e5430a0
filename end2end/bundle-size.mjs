// Measures what the browser downloads for each page on a fresh load (cache empty): every
// wasm and JS file it fetches from /pkg/ until the network is idle. "To hydrate" is the
// main module, the split loader and the page's own module with the shared modules it
// needs (from the split manifest); "after" is what is fetched once the page is
// interactive (the live layer: tray, toasts and the event-stream client). Sizes are the
// files gzipped at level 9 (read from the built site), plus what actually crossed the
// wire with the server's own compression.
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

// Which split module serves which page (the route's lazy view), and the modules it needs.
const manifest = JSON.parse(readFileSync(join(siteRoot, "pkg/__wasm_split_manifest.json"), "utf8"));
// Which lazy route renders a path: exact paths first, then prefixes.
const routes = [
  ["/login", "login"],
  ["/", "catalog"],
  ["/import", "import"],
  ["/tasks", "tasks"],
  ["/design", "design"],
];
const prefixes = [
  ["/items/", "item"],
  ["/tasks/", "task"],
];
const routeOf = (path) =>
  routes.find(([p]) => p === path)?.[1] ?? prefixes.find(([p]) => path.startsWith(p))?.[1] ?? null;
const hydrateSet = (path) => {
  const key = Object.keys(manifest).find((k) => k.startsWith(`__${routeOf(path)}_route_view_`));
  const files = new Set(["/pkg/stockroom.wasm", "/pkg/stockroom.js"]);
  for (const f of readdirSync(join(siteRoot, "pkg"))) if (f.startsWith("__wasm_split.")) files.add(`/pkg/${f}`);
  if (key) {
    files.add(`/pkg/split_${key}.wasm`);
    for (const chunk of manifest[key]) files.add(`/pkg/${chunk}.wasm`);
  }
  return files;
};

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
  // Signed in, the live layer comes after hydration: wait for its tray to be mounted.
  if (signedIn) await page.locator("aside.task-tray").waitFor({ state: "attached" });
  await page.waitForLoadState("networkidle");
  const needed = hydrateSet(path);
  let gzipped = 0;
  let wire = 0;
  let after = 0;
  let count = 0;
  for (const [file, transferred] of files) {
    if (needed.has(file)) {
      gzipped += gz(join(siteRoot, file));
      wire += transferred;
      count += 1;
    } else {
      after += gz(join(siteRoot, file));
    }
  }
  rows.push({ path, count, gzipped, wire, after, files: [...files.keys()].sort() });
  await context.close();
}
await browser.close();

const pkg = join(siteRoot, "pkg");
const all = readdirSync(pkg).filter((f) => /\.(wasm|js)$/.test(f));
const total = all.reduce((sum, f) => sum + gz(join(pkg, f)), 0);

console.log("| page | files to hydrate | to hydrate, gzip -9 | on the wire | then, after hydration |");
console.log("|---|---|---|---|---|");
for (const r of rows) {
  console.log(
    `| \`${r.path}\` | ${r.count} | **${kib(r.gzipped)} KiB** | ${kib(r.wire)} KiB | ${r.after ? `${kib(r.after)} KiB` : "—"} |`,
  );
}
console.log(`\nAll ${all.length} wasm and JS files together, gzip -9: ${kib(total)} KiB`);
const chunks = all.filter((f) => f.startsWith("chunk_"));
for (const f of all.filter((f) => !f.startsWith("chunk_")).sort()) console.log(`  ${f}: ${kib(gz(join(pkg, f)))} KiB`);
console.log(`  ${chunks.length} shared chunks: ${kib(chunks.reduce((sum, f) => sum + gz(join(pkg, f)), 0))} KiB`);
if (process.env.VERBOSE) for (const r of rows) console.log(r.path, r.files.join(" "));
