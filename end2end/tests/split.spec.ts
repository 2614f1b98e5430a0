import { expect, test } from "@playwright/test";
import { existsSync } from "node:fs";
import { hydrated, logIn } from "./helpers";

// The release site is split: the shell's module loads with every page, each page's own
// module only when that page is shown (or a link to it is hovered).
const split = existsSync("../target/site/pkg/__wasm_split_manifest.json");

test("a page's code is fetched when the page is first shown, and only once", async ({ page }) => {
  test.skip(!split, "the site was built without --split (E2E_PROFILE=debug)");
  const fetched: string[] = [];
  const problems: string[] = [];
  page.on("request", (request) => {
    const path = new URL(request.url()).pathname;
    if (/^\/pkg\/.*\.wasm$/.test(path)) fetched.push(path);
  });
  page.on("pageerror", (err) => problems.push(err.message));

  await logIn(page);
  expect(fetched).toContain("/pkg/stockroom.wasm");
  const catalog = fetched.length;

  const nav = page.getByRole("navigation", { name: "Main" });
  await nav.getByRole("link", { name: "Tasks" }).click();
  await expect(page.getByRole("heading", { name: "Tasks", level: 1 })).toBeVisible();
  const tasks = fetched.slice(catalog);
  expect(tasks.length, "the tasks page brings its own module").toBeGreaterThan(0);
  expect(tasks).not.toContain("/pkg/stockroom.wasm");

  // Back and forth: nothing is fetched twice.
  await nav.getByRole("link", { name: "Catalog" }).click();
  await expect(page.getByRole("heading", { name: "Catalog", level: 1 })).toBeVisible();
  await nav.getByRole("link", { name: "Tasks" }).click();
  await expect(page.getByRole("heading", { name: "Tasks", level: 1 })).toBeVisible();
  expect(new Set(fetched).size).toBe(fetched.length);

  // A page opened directly hydrates with its module, and works.
  await page.goto("/import");
  await hydrated(page);
  await expect(page.getByRole("heading", { name: "Import items", level: 1 })).toBeVisible();
  expect(problems).toEqual([]);
});

test("the live layer loads once the page is interactive, the notification panel with the bell", async ({ page }) => {
  test.skip(!split, "the site was built without --split (E2E_PROFILE=debug)");
  const fetched: string[] = [];
  page.on("request", (request) => {
    const path = new URL(request.url()).pathname;
    if (/^\/pkg\/.*\.wasm$/.test(path)) fetched.push(path);
  });
  const layer = () => fetched.filter((path) => path.includes("live_layer"));
  const panel = () => fetched.filter((path) => path.includes("notification_panel"));

  await logIn(page);
  // The server does not name the layer among the page's modules: it comes after hydration.
  const head = await page.locator("head").innerHTML();
  expect(head).not.toContain("live_layer");
  await expect(page.locator("aside.task-tray")).toBeAttached();
  await expect.poll(() => layer().length).toBe(1);
  expect(panel()).toEqual([]);

  const bell = page.getByRole("button", { name: /^Notifications/ });
  await bell.click();
  await expect(page.getByRole("region", { name: "Notifications" })).toBeVisible();
  expect(panel()).toHaveLength(1);
  await page.keyboard.press("Escape");
  await expect(page.getByRole("region", { name: "Notifications" })).toBeHidden();
  await expect(bell).toBeFocused();
  // Opened again, it is already here.
  await bell.click();
  await expect(page.getByRole("region", { name: "Notifications" })).toBeVisible();
  expect(panel()).toHaveLength(1);
  expect(layer()).toHaveLength(1);
});

test("after a deploy, links load pages afresh instead of routing in the old code", async ({ page }) => {
  // The event stream stands in for the server: every connection gets a snapshot naming
  // the server's build, and ends, so the browser reconnects at once.
  let build = "1111111111111111";
  await page.route("**/api/v1/events", (route) =>
    route.fulfill({
      status: 200,
      headers: { "content-type": "text/event-stream", "cache-control": "no-cache" },
      body: `retry: 300\nevent: snapshot\ndata: ${JSON.stringify({ tasks: [], unread: 0, last_notification_id: 0, build })}\n\n`,
    }),
  );
  const mark = () => page.evaluate(() => ((window as unknown as Record<string, unknown>).sameDocument = true));
  const marked = () => page.evaluate(() => (window as unknown as Record<string, unknown>).sameDocument === true);
  const nav = page.getByRole("navigation", { name: "Main" });
  // A move to the task list inside the tab: the router keeps the document.
  const moveInsideTab = async (why: string) => {
    await mark();
    await nav.getByRole("link", { name: "Tasks" }).click();
    await expect(page.getByRole("heading", { name: "Tasks", level: 1 })).toBeVisible();
    expect(await marked(), why).toBe(true);
  };

  await logIn(page);
  await moveInsideTab("same build: the router moves inside the tab");

  // Deployed: the next reconnect names another build.
  build = "2222222222222222";
  await expect(page.getByText("Stockroom has been updated")).toBeVisible();
  await nav.getByRole("link", { name: "Catalog" }).click();
  await expect(page.getByRole("heading", { name: "Catalog", level: 1 })).toBeVisible();
  await hydrated(page);
  expect(await marked(), "another build: the page was loaded afresh").toBe(false);
  await expect(page.getByText("Stockroom has been updated")).toHaveCount(0);

  // Back and Forward after a deploy load pages afresh too: first a move inside this
  // (current) build's tab, then another deploy, then Back.
  await moveInsideTab("same build again: the router moves inside the tab");
  build = "3333333333333333";
  await expect(page.getByText("Stockroom has been updated")).toBeVisible();
  await page.goBack();
  await expect(page).toHaveURL(/\/$/);
  await expect(page.getByRole("heading", { name: "Catalog", level: 1 })).toBeVisible();
  await hydrated(page);
  expect(await marked(), "Back after a deploy: the page was loaded afresh").toBe(false);
});
