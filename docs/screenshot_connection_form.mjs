// Screenshot of the Thulium "Add Connection" dialog in the Airflow 3 UI (docs/connection-form.png):
// the dialog with "Standard Fields" open and with "Extra Fields" open, side by side.
//
// Needs: this provider installed next to Airflow 3; a running API server without login, e.g.
//   AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_ALL_ADMINS=True AIRFLOW__CORE__LOAD_EXAMPLES=False \
//     airflow api-server -H 127.0.0.1 --port 8793      (after `airflow db migrate`)
// a Chromium binary, and `playwright-core` installed with npm in a scratch folder (outside the repo).
// Run it from that scratch folder (playwright-core is resolved from the working directory):
//   AIRFLOW_URL=http://127.0.0.1:8793 CHROMIUM=/usr/bin/chromium OUT=<repo>/docs/connection-form.png \
//     node <repo>/docs/screenshot_connection_form.mjs
import { createRequire } from "node:module";
import path from "node:path";

const require = createRequire(path.join(process.cwd(), "noop.js"));
const { chromium } = require("playwright-core");

const base = (process.env.AIRFLOW_URL || "http://127.0.0.1:8793").replace(/\/$/, "");
const out = process.env.OUT || "connection-form.png";

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
  args: [
    "--no-sandbox",
    "--disable-gpu",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
  ],
});
try {
  const page = await browser.newPage({ viewport: { width: 1280, height: 1600 }, deviceScaleFactor: 1 });
  await page.goto(`${base}/connections`, { waitUntil: "networkidle" });
  await page.getByRole("button", { name: /add connection/i }).click();
  const dialog = page.getByRole("dialog");
  await dialog.waitFor();

  // The connection type is a searchable select: type into it and pick "Thulium".
  const typeInput = dialog.getByRole("combobox").first();
  await typeInput.click();
  await typeInput.fill("Thulium");
  await page.getByRole("option", { name: "Thulium", exact: true }).click();

  // Standard and extra fields are sections of an accordion that keeps one open at a time:
  // photograph the dialog with each open, then put the two shots side by side in one PNG.
  const shots = [];
  for (const [section, marker] of [
    ["Standard Fields", "Account address"],
    ["Extra Fields", "Timeout (seconds)"],
  ]) {
    const trigger = dialog.getByRole("button", { name: section, exact: true });
    if ((await trigger.getAttribute("aria-expanded")) !== "true") await trigger.click();
    await dialog.getByText(marker, { exact: true }).first().waitFor();
    await page.waitForTimeout(700); // let the accordion animation finish
    shots.push((await dialog.screenshot()).toString("base64"));
  }

  const sheet = await browser.newPage({ viewport: { width: 1900, height: 400 }, deviceScaleFactor: 1 });
  await sheet.setContent(
    `<body style="margin:0;background:#e2e8f0"><div id="s" style="display:inline-flex;gap:24px;` +
      `padding:24px;align-items:flex-start">` +
      shots.map((b64) => `<img src="data:image/png;base64,${b64}">`).join("") +
      `</div></body>`,
  );
  await sheet.locator("#s").screenshot({ path: out });
  console.log(`wrote ${out}`);
} finally {
  await browser.close();
}
