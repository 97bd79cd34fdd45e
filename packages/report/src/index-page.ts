/** The HTML of `runs/reports/index.html`: every sweep with its best result and a link to its report. */
import { BASE_CSS, esc, fmtDate, fmtNum, SORT_SCRIPT } from './html.ts';
import { REPORT_CSP } from './page.ts';
import type { SweepSummary } from './types.ts';

export interface ComparisonEntry {
  sweeps: string[];
  generatedAt: string;
  /** Relative link to the comparison page. */
  href: string;
}

export interface IndexEntry {
  summary: SweepSummary;
  /** Relative link to the sweep's report, or null when it has not been built. */
  href: string | null;
}

function comparisonsBlock(comparisons: readonly ComparisonEntry[], sweepIds: readonly string[]): string {
  const example = sweepIds.length >= 2 ? `${sweepIds[1]},${sweepIds[0]}` : 'A,B';
  const list = comparisons.length
    ? `<ul id="comparisons">${comparisons.map((c) => `<li><a href="${esc(c.href)}">${c.sweeps.map(esc).join(' vs ')}</a> <span class="muted">(${esc(fmtDate(c.generatedAt))})</span></li>`).join('')}</ul>`
    : '<p class="muted" id="comparisons">None built yet.</p>';
  return `<h2>Sweep comparisons</h2><p>The best trials of several sweeps side by side: clean and per-noise accuracy with intervals, and a paired test on the shared test images. Build one with <code>npx nx run report:compare --sweeps=${esc(example)}</code> (the first is the baseline).</p>${list}`;
}

export function renderIndexPage(entries: readonly IndexEntry[], generatedAt: string, comparisons: readonly ComparisonEntry[] = []): string {
  const rows = entries
    .map(({ summary: s, href }) => {
      const b = s.best;
      const id = href ? `<a href="${esc(href)}">${esc(s.sweep.sweepId)}</a>` : `${esc(s.sweep.sweepId)} <span class="muted">(no report yet)</span>`;
      const num = (v: number | null | undefined, d = 3) => `<td class="num" data-sort="${v ?? ''}">${esc(fmtNum(v ?? null, d))}</td>`;
      return `<tr><td>${id}</td><td>${esc(s.sweep.name)}</td><td data-sort="${esc(s.sweep.createdAt ?? '')}">${esc(fmtDate(s.sweep.createdAt))}</td><td>${esc(s.sweep.status ?? '')}</td><td>${esc(s.sweep.strategy ?? '')}</td>${num(s.finished, 0)}${num(s.trials, 0)}<td>${esc(s.sweep.objective ?? '')}</td><td>${esc(b?.trialId ?? '')}</td>${num(b?.objective, 4)}${num(b?.cleanAccuracy)}${num(b?.worstNoisyAccuracy)}<td><code>${esc((s.sweep.gitCommit ?? '').slice(0, 12))}</code></td><td>${esc(s.sweep.backend ?? '')}</td></tr>`;
    })
    .join('\n');
  const head: [string, string][] = [
    ['sweep', 'text'],
    ['name', 'text'],
    ['started', 'text'],
    ['status', 'text'],
    ['strategy', 'text'],
    ['finished trials', 'num'],
    ['trials', 'num'],
    ['objective', 'text'],
    ['best trial', 'text'],
    ['best objective', 'num'],
    ['clean test acc.', 'num'],
    ['worst noisy test acc.', 'num'],
    ['commit', 'text'],
    ['backend', 'text'],
  ];
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="${esc(REPORT_CSP)}">
<title>Sweeps</title>
<style>${BASE_CSS}</style>
</head>
<body>
<header><h1>Sweeps</h1><p class="muted">${entries.length} sweep${entries.length === 1 ? '' : 's'}, newest first. Accuracies are the best trial's, on the test split.</p></header>
<main>
<table class="sortable" id="sweeps-table"><thead><tr>${head.map(([h, t]) => `<th data-type="${t}">${esc(h)}</th>`).join('')}</tr></thead>
<tbody>
${rows}
</tbody></table>
<p class="muted">A sweep without a report: <code>npx nx run report:build --sweep=&lt;id&gt;</code>, or <code>--all</code> for every sweep.</p>
${comparisonsBlock(
  comparisons,
  entries.map((e) => e.summary.sweep.sweepId),
)}
</main>
<footer>Generated ${esc(generatedAt)} by report:build.</footer>
<script>${SORT_SCRIPT}</script>
</body>
</html>
`;
}
