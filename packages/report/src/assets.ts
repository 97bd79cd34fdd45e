/** The browser bundles of vega, vega-lite and vega-embed, read from node_modules, for inlining. */
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { scriptSafe } from './html.ts';

export interface VegaBundle {
  name: string;
  version: string;
  js: string;
}

const BUNDLES = [
  { name: 'vega', file: 'build/vega.min.js' },
  { name: 'vega-lite', file: 'build/vega-lite.min.js' },
  { name: 'vega-embed', file: 'build/vega-embed.min.js' },
] as const;

let cached: VegaBundle[] | undefined;

/** The three UMD bundles (globals vega, vegaLite, vegaEmbed), in load order, made safe for <script>. */
export function vegaBundles(): VegaBundle[] {
  if (cached) return cached;
  cached = BUNDLES.map(({ name, file }) => {
    const pkgJson = findPackageJson(name);
    const pkg = JSON.parse(fs.readFileSync(pkgJson, 'utf8')) as { version: string };
    const full = path.join(path.dirname(pkgJson), file);
    if (!fs.existsSync(full)) throw new Error(`${name} ${pkg.version}: browser bundle ${full} not found`);
    return { name, version: pkg.version, js: scriptSafe(fs.readFileSync(full, 'utf8')) };
  });
  return cached;
}

/** `node_modules/<name>/package.json` in the nearest folder above this file that has it. */
function findPackageJson(name: string): string {
  let dir = path.dirname(fileURLToPath(import.meta.url));
  for (;;) {
    const candidate = path.join(dir, 'node_modules', name, 'package.json');
    if (fs.existsSync(candidate)) return candidate;
    const up = path.dirname(dir);
    if (up === dir) throw new Error(`package ${name} is not installed (npm install at the workspace root)`);
    dir = up;
  }
}
