// Copies the charting library's distribution files into static/vendor so the dashboard works
// offline and from an installed package (no CDN, no build step). Run by `npm ci` (postinstall).
import { cpSync, mkdirSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const here = dirname(dirname(fileURLToPath(import.meta.url)));
const out = join(here, "static", "vendor", "uplot");
mkdirSync(out, { recursive: true });
for (const f of ["uPlot.esm.js", "uPlot.min.css"]) {
  cpSync(join(here, "node_modules", "uplot", "dist", f), join(out, f));
}
cpSync(join(here, "node_modules", "uplot", "LICENSE"), join(out, "LICENSE"));
console.log(`vendored uPlot into ${out}`);
