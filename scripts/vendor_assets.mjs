// Copies the front-end libraries the dashboard serves into static/vendor/, with their
// licences. The output is committed: the machines have no network at run time and the
// server needs no Node.js. Run after changing package.json: `npm ci && npm run vendor`.
import { copyFileSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const modules = join(root, "node_modules");
const vendor = join(root, "static", "vendor");

function version(pkg) {
  return JSON.parse(readFileSync(join(modules, pkg, "package.json"), "utf8")).version;
}

// lightweight-charts: the standalone ES module bundles its one dependency (fancy-canvas).
const lwc = join(vendor, "lightweight-charts");
mkdirSync(lwc, { recursive: true });
copyFileSync(
  join(modules, "lightweight-charts", "dist", "lightweight-charts.standalone.production.mjs"),
  join(lwc, "lightweight-charts.standalone.production.mjs"),
);
copyFileSync(join(modules, "lightweight-charts", "LICENSE"), join(lwc, "LICENSE"));
writeFileSync(
  join(lwc, "NOTICE.md"),
  `# Vendored front-end code

- lightweight-charts ${version("lightweight-charts")} — Copyright (c) TradingView, Inc.,
  Apache License 2.0 (LICENSE beside this file). The standalone build bundles:
- fancy-canvas ${version("fancy-canvas")} — Copyright (c) TradingView, Inc.
  (smakarov@tradingview.com), MIT License (its package ships no licence text; the MIT
  text is reproduced in LICENSE-fancy-canvas).

Copied from the npm packages pinned in package.json / package-lock.json by
\`npm run vendor\` (scripts/vendor_assets.mjs). Do not edit.
`,
);
writeFileSync(
  join(lwc, "LICENSE-fancy-canvas"),
  `MIT License

Copyright (c) TradingView, Inc.

Permission is hereby granted, free of charge, to any person obtaining a copy
of this software and associated documentation files (the "Software"), to deal
in the Software without restriction, including without limitation the rights
to use, copy, modify, merge, publish, distribute, sublicense, and/or sell
copies of the Software, and to permit persons to whom the Software is
furnished to do so, subject to the following conditions:

The above copyright notice and this permission notice shall be included in all
copies or substantial portions of the Software.

THE SOFTWARE IS PROVIDED "AS IS", WITHOUT WARRANTY OF ANY KIND, EXPRESS OR
IMPLIED, INCLUDING BUT NOT LIMITED TO THE WARRANTIES OF MERCHANTABILITY,
FITNESS FOR A PARTICULAR PURPOSE AND NONINFRINGEMENT. IN NO EVENT SHALL THE
AUTHORS OR COPYRIGHT HOLDERS BE LIABLE FOR ANY CLAIM, DAMAGES OR OTHER
LIABILITY, WHETHER IN AN ACTION OF CONTRACT, TORT OR OTHERWISE, ARISING FROM,
OUT OF OR IN CONNECTION WITH THE SOFTWARE OR THE USE OR OTHER DEALINGS IN THE
SOFTWARE.
`,
);
console.log(`static/vendor/lightweight-charts: ${version("lightweight-charts")}`);
