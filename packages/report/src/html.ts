/** HTML building blocks: escaping, JSON inside <script>, a generic JSON-to-HTML renderer. */

/** Escapes text for HTML content and attribute values. */
export function esc(v: unknown): string {
  return String(v ?? '').replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

/**
 * JSON that is safe inside a <script> element: every `<`, `>` and `&` is written as a \u escape
 * (so no `</script` or `<!--` can end or change the element) and so are U+2028/U+2029 (line
 * terminators in older JavaScript). JSON.parse of the element's text gives back the value.
 */
export function jsonForScript(value: unknown): string {
  return JSON.stringify(value)
    .replace(/</g, '\\u003c')
    .replace(/>/g, '\\u003e')
    .replace(/&/g, '\\u0026')
    .replace(/\u2028/g, '\\u2028')
    .replace(/\u2029/g, '\\u2029');
}

/**
 * A JavaScript bundle made safe to inline in a <script> element: `</script` (any case) becomes
 * `<\/script`, which means the same inside a JS string, regex or comment.
 */
export function scriptSafe(js: string): string {
  return js.replace(/<\/(script)/gi, '<\\/$1').replace(/<!--/g, '<\\!--');
}

export function fmtNum(v: number | null | undefined, digits = 3): string {
  if (v === null || v === undefined || !Number.isFinite(v)) return '';
  if (v !== 0 && (Math.abs(v) < 1e-3 || Math.abs(v) >= 1e6)) return v.toExponential(2);
  return Number.isInteger(v) ? String(v) : v.toFixed(digits);
}

export function fmtDate(iso: string | null | undefined): string {
  if (!iso) return '';
  return iso.replace('T', ' ').replace(/\.\d+Z$/, 'Z');
}

const MAX_LIST = 30;
const MAX_ROWS = 25;
const MAX_DEPTH = 4;

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function isScalar(v: unknown): boolean {
  return v === null || ['string', 'number', 'boolean', 'bigint'].includes(typeof v);
}

/** Renders any JSON value as nested HTML tables/lists, every text escaped, long lists truncated. */
export function renderJson(v: unknown, depth = 0): string {
  if (v === null || v === undefined) return '<span class="muted">—</span>';
  if (typeof v === 'number') return esc(Number.isFinite(v) ? String(Number(v.toPrecision(6))) : String(v));
  if (isScalar(v)) return esc(String(v));
  if (depth >= MAX_DEPTH) {
    const s = JSON.stringify(v);
    return `<code>${esc(s.length > 300 ? `${s.slice(0, 300)}…` : s)}</code>`;
  }
  if (Array.isArray(v)) {
    if (v.length === 0) return '<span class="muted">(none)</span>';
    if (v.every(isScalar)) {
      const shown = v
        .slice(0, MAX_LIST)
        .map((x) => renderJson(x, depth + 1))
        .join(', ');
      return v.length > MAX_LIST ? `${shown}, … (${v.length} in all)` : shown;
    }
    if (v.every(isPlainObject)) {
      const cols = [...new Set(v.flatMap((o) => Object.keys(o)))];
      if (cols.length <= 12) {
        const rows = v
          .slice(0, MAX_ROWS)
          .map((o) => `<tr>${cols.map((c) => `<td>${renderJson(o[c], depth + 1)}</td>`).join('')}</tr>`)
          .join('');
        const more = v.length > MAX_ROWS ? `<p class="muted">… ${v.length - MAX_ROWS} more rows (${v.length} in all)</p>` : '';
        return `<table class="json"><thead><tr>${cols.map((c) => `<th>${esc(c)}</th>`).join('')}</tr></thead><tbody>${rows}</tbody></table>${more}`;
      }
    }
    const items = v
      .slice(0, MAX_ROWS)
      .map((x) => `<li>${renderJson(x, depth + 1)}</li>`)
      .join('');
    return `<ol class="json">${items}</ol>${v.length > MAX_ROWS ? `<p class="muted">… ${v.length} in all</p>` : ''}`;
  }
  if (isPlainObject(v)) {
    const entries = Object.entries(v);
    if (entries.length === 0) return '<span class="muted">(empty)</span>';
    return `<table class="kv">${entries.map(([k, x]) => `<tr><th>${esc(k)}</th><td>${renderJson(x, depth + 1)}</td></tr>`).join('')}</table>`;
  }
  return esc(String(v));
}

/** The small script that makes every `table.sortable` sortable by clicking a header (no framework). */
export const SORT_SCRIPT = `
(function () {
  function key(td, numeric) {
    var v = td ? (td.getAttribute('data-sort') !== null ? td.getAttribute('data-sort') : td.textContent) : '';
    if (!numeric) return v.toLowerCase();
    var n = parseFloat(v);
    return isNaN(n) ? null : n;
  }
  document.querySelectorAll('table.sortable').forEach(function (table) {
    var ths = table.querySelectorAll('thead th');
    ths.forEach(function (th, col) {
      th.addEventListener('click', function () {
        var numeric = th.getAttribute('data-type') === 'num';
        var dir = th.getAttribute('aria-sort') === 'ascending' ? -1 : 1;
        ths.forEach(function (o) { o.removeAttribute('aria-sort'); });
        th.setAttribute('aria-sort', dir === 1 ? 'ascending' : 'descending');
        var body = table.tBodies[0];
        var rows = Array.prototype.slice.call(body.rows);
        rows.sort(function (a, b) {
          var x = key(a.cells[col], numeric), y = key(b.cells[col], numeric);
          if (x === null && y === null) return 0;
          if (x === null) return 1;
          if (y === null) return -1;
          return x < y ? -dir : x > y ? dir : 0;
        });
        rows.forEach(function (r) { body.appendChild(r); });
      });
    });
  });
})();
`;

export const BASE_CSS = `
:root { --fg: #1d2330; --muted: #6b7280; --line: #e3e6ec; --accent: #1f5fbf; --bg2: #f6f7f9; }
* { box-sizing: border-box; }
body { font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color: var(--fg); margin: 0; }
header, main, footer { max-width: 1280px; margin: 0 auto; padding: 0 24px; }
header { padding-top: 20px; }
h1 { font-size: 22px; margin: 0 0 4px; }
h2 { font-size: 18px; margin: 32px 0 8px; padding-top: 8px; border-top: 1px solid var(--line); }
h3 { font-size: 15px; margin: 18px 0 6px; }
nav a { margin-right: 14px; color: var(--accent); text-decoration: none; }
a { color: var(--accent); }
.muted { color: var(--muted); }
.facts { display: grid; grid-template-columns: repeat(auto-fill, minmax(220px, 1fr)); gap: 6px 18px; margin: 12px 0; }
.facts div { background: var(--bg2); padding: 6px 10px; border-radius: 4px; overflow-wrap: anywhere; }
.facts b { display: block; font-size: 11px; text-transform: uppercase; color: var(--muted); font-weight: 600; }
.best { background: #eef5ff; border: 1px solid #c9dcf7; border-radius: 6px; padding: 10px 14px; margin: 12px 0; }
table { border-collapse: collapse; font-size: 13px; }
th, td { border-bottom: 1px solid var(--line); padding: 3px 8px; text-align: left; vertical-align: top; }
table.sortable th { cursor: pointer; user-select: none; background: var(--bg2); position: sticky; top: 0; }
table.sortable th[aria-sort=ascending]::after { content: ' ▲'; }
table.sortable th[aria-sort=descending]::after { content: ' ▼'; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
.table-fit { max-height: 620px; overflow-y: auto; border: 1px solid var(--line); }
#trials-table { width: 100%; table-layout: auto; font-size: 12px; }
#trials-table th { font-size: 11px; white-space: normal; vertical-align: bottom; }
#trials-table td { white-space: nowrap; padding: 3px 6px; }
#trials-table td.error { white-space: normal; overflow-wrap: anywhere; max-width: 220px; }
#trials-table .sub { font-size: 10.5px; color: var(--muted); }
#trials-table .sub.err { color: #a11; }
details.sheets-box > summary, details.more > summary { cursor: pointer; color: var(--accent); margin: 6px 0; }
table.summary td, table.summary th { padding: 3px 10px; }
table.summary td.num { white-space: nowrap; }
#compare-tests td:nth-child(2), #compare-accuracy td:first-child { white-space: nowrap; }
#compare-tests .sub { font-size: 11px; }
.sub { font-size: 11px; color: var(--muted); }
.cmp-yes { color: #0a6b2d; } .cmp-no { color: #a11; }
.v-better { color: #0a6b2d; } .v-worse { color: #a11; } .v-not-distinguishable { color: #555; }
ul.verdicts { margin: .3em 0 .8em; } p.baseline { background: #f4f6f8; padding: .4em .6em; border-radius: 4px; }
tr.failed td { color: #a11; }
table.kv th { font-weight: 600; width: 1%; white-space: nowrap; color: #374151; }
table.json th { background: var(--bg2); }
.scroll { max-height: 560px; overflow: auto; border: 1px solid var(--line); }
.chart { margin: 8px 0 16px; min-height: 40px; }
.chart-error { color: #a11; white-space: pre-wrap; }
.sheets { display: flex; flex-wrap: wrap; gap: 18px; }
.gallery { overflow-x: auto; }
table.gradcam td, table.gradcam th { text-align: center; vertical-align: top; font-size: 12px; padding: 4px; }
table.gradcam td.bad div { color: #b00020; }
table.gradcam img { display: block; margin: 0 auto; image-rendering: pixelated; }
.sheets figure { margin: 0; }
.sheets img { max-width: 100%; border: 1px solid var(--line); image-rendering: pixelated; }
pre { background: var(--bg2); padding: 10px; overflow: auto; font-size: 12px; }
.vega-bind { margin: 4px 0; }
.vega-bind-name { font-weight: 600; }
h4 { font-size: 13px; margin: 14px 0 4px; }
.warn { background: #fff4e0; border: 1px solid #f0c36d; padding: 6px 10px; border-radius: 4px; }
table.counts td, table.counts th { min-width: 70px; }
footer { margin: 40px auto 30px; color: var(--muted); font-size: 12px; }
`;
