import { expect, test } from "@playwright/test";
import { DEMO_EMAIL, hydrated, logIn, shot } from "./helpers";

test("wrong credentials get one generic message", async ({ page }, testInfo) => {
  await page.goto("/login");
  await hydrated(page);
  await page.getByLabel("E-mail").fill(DEMO_EMAIL);
  await page.getByLabel("Password").fill("not-the-password");
  await page.getByRole("button", { name: "Sign in" }).click();
  await expect(page.getByRole("alert")).toHaveText("E-mail or password is incorrect.");
  await expect(page).toHaveURL(/\/login/);
  await shot(page, testInfo, "login-error");
});

test("log in, browse, search, select all matching, edit an item, log out", async ({ page }, testInfo) => {
  await logIn(page);
  await expect(page.getByRole("banner")).toContainText("Demo Seller");

  // Browse: the 300 demo items (plus any an import test added), 50 a page.
  const total = (await (await page.request.get("/api/v1/items?per_page=1")).json()).total as number;
  expect(total).toBeGreaterThanOrEqual(300);
  const rows = page.locator("table.items-table tbody tr");
  await expect(rows).toHaveCount(50);
  await expect(page.locator(".pager")).toContainText(`1–50 of ${total}`);
  await shot(page, testInfo, "catalog");
  await shot(page, testInfo, "catalog-viewport", false);
  await page.getByRole("link", { name: "Next ›" }).click();
  await expect(page.locator(".pager")).toContainText(`51–100 of ${total}`);
  await expect(page).toHaveURL(/page=2/);
  // The next page is read from where this one ended (a keyset link), not by skipping rows.
  await expect(page).toHaveURL(/after=/);
  const second = await rows.first().getAttribute("data-sku");
  await page.getByRole("link", { name: "Next ›" }).click();
  await expect(page.locator(".pager")).toContainText(`101–150 of ${total}`);
  await page.getByRole("link", { name: "‹ Previous" }).click();
  await expect(page).toHaveURL(/before=/);
  await expect(rows.first()).toHaveAttribute("data-sku", second ?? "");

  // Sort by SKU ascending, then search.
  await page.getByRole("link", { name: "SKU", exact: true }).click();
  // (An import test may have added E2E-… SKUs, which sort first.)
  await expect(rows.first()).toHaveAttribute("data-sku", /^(SR-0001|E2E-)/);
  await page.getByLabel("Search by SKU or title").fill("coffee mug");
  await page.getByRole("button", { name: "Search" }).click();
  await expect(page.locator(".pager")).toContainText("of 15");
  await expect(rows).toHaveCount(15);
  for (const title of await page.locator("td.col-title").allTextContents()) {
    expect(title.toLowerCase()).toContain("coffee mug");
  }

  // Filter by state within the search, then back to everything.
  await page.getByRole("link", { name: /^Published/ }).click();
  await expect(page).toHaveURL(/state=published/);
  // (An item edited since it went live carries a second mark beside its state.)
  for (const badge of await page.locator("td.col-state .badge:not(.changed)").allTextContents()) {
    expect(badge).toBe("Published");
  }
  await page.getByRole("link", { name: "Catalog" }).click();
  await expect(page.locator(".pager")).toContainText(`1–50 of ${total}`);
  await expect(page.getByLabel("Search by SKU or title")).toHaveValue("");

  // Select this page, then all matching; untick one; clear.
  await page.getByLabel("Select this page").check();
  const bar = page.getByRole("region", { name: "Bulk actions" });
  await expect(bar).toContainText("50 items selected");
  await page.getByRole("button", { name: `Select all ${total} matching items` }).click();
  await expect(bar).toContainText(`${total} items selected`);
  await rows.first().getByRole("checkbox").uncheck();
  await expect(bar).toContainText(`${total - 1} items selected`);
  await shot(page, testInfo, "select-all");
  await bar.getByRole("button", { name: "Clear selection" }).click();
  await expect(bar).toHaveCount(0);

  // Edit an item: a bad price is refused inline and nothing is saved; a good one is saved.
  const sku = testInfo.project.name === "md" ? "SR-0002" : "SR-0003";
  await page.goto(`/?q=${sku}`);
  await hydrated(page);
  await page.getByRole("link", { name: sku }).click();
  await expect(page.getByLabel("Price")).toBeVisible();
  await hydrated(page);
  const itemUrl = page.url();
  // Earlier tests may have published this item (which moves its version on): count from here.
  const versionBefore = Number(await page.locator(".facts dd").last().textContent());
  await page.getByLabel("Price").fill("12,50");
  await page.getByRole("button", { name: "Save changes" }).click();
  await expect(page.locator("#price-error")).toContainText("Use a dot");
  await expect(page.getByLabel("Price")).toHaveAttribute("aria-invalid", "true");
  await expect(page.getByText("Nothing was saved")).toBeVisible();
  await shot(page, testInfo, "item-invalid");

  await page.getByLabel("Price").fill("12.50");
  await page.getByRole("button", { name: "Save changes" }).click();
  await expect(page.getByRole("status").filter({ hasText: "Saved." })).toBeVisible();
  await expect(page.locator("#price-error")).toHaveCount(0);
  await shot(page, testInfo, "item-saved");

  await page.goto(itemUrl);
  await expect(page.getByLabel("Price")).toHaveValue("12.50");
  const versionFact = page.locator(".facts dd").last();
  await expect(versionFact).toHaveText(String(versionBefore + 1));

  // Log out: the session ends and pages send us back to the login form.
  await hydrated(page);
  await page.getByRole("button", { name: "Log out" }).click();
  await expect(page).toHaveURL(/\/login/);
  await page.goto("/");
  await expect(page).toHaveURL(/\/login$/);
});

test("the catalog refreshes its rows and counts when a task adds items, keeping the selection and a half-typed search", async ({ page }, testInfo) => {
  await logIn(page);
  await page.goto("/");
  await hydrated(page);
  const pager = page.locator(".pager");
  const total = Number((await pager.textContent())?.match(/of (\d+)/)?.[1]);
  expect(total).toBeGreaterThanOrEqual(300);

  // The seller is in the middle of something: a row selected, a search being typed.
  const sku = await page.locator("table.items-table tbody tr").first().getAttribute("data-sku");
  // (New rows come first: the box is found by its item, not its place.)
  const first = page.getByRole("checkbox", { name: `Select ${sku}`, exact: true });
  await first.check();
  const search = page.getByLabel("Search by SKU or title");
  await search.fill("half-typed");

  // Meanwhile an import adds three items (here through the API, as a script would).
  const stamp = Date.now();
  const csv = ["sku,title,price", ...[1, 2, 3].map((n) => `E2E-LIVE-${stamp}-${n},Live row ${n},9.50`)].join("\n");
  const started = await page.request.post("/api/v1/imports", {
    multipart: { file: { name: "live.csv", mimeType: "text/csv", buffer: Buffer.from(csv) } },
  });
  expect(started.status()).toBe(202);

  // The page says so by itself, without a reload, and keeps what the seller was doing.
  await expect(pager).toContainText(`of ${total + 3}`, { timeout: 20_000 });
  await expect(page.locator("a.tab").first().locator(".tab-count")).toHaveText(String(total + 3));
  await expect(search).toHaveValue("half-typed");
  await expect(first).toBeChecked();
  await expect(page.getByRole("region", { name: "Bulk actions" })).toContainText("1 item selected");
  await shot(page, testInfo, "catalog-refreshed", false);
});
