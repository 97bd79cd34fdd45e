/**
 * The sweep-comparison page (pure: everything is passed in): the best trial of each sweep side by
 * side — settings that differ, clean and per-noise test accuracy with 95 % intervals (a chart and a
 * table), and for each sweep against the first one a test on the shared test images: McNemar's
 * exact test and a paired bootstrap interval of the accuracy difference where both trials saved
 * per-image predictions on identical sets, an unpaired interval otherwise (saying why).
 */
import type { TopLevelSpec } from 'vega-lite';
import { deriveSeed, pairedComparison, type PairedComparison } from '@mri-robust/core';
import type { VegaBundle } from '../assets.ts';
import { roundFinite, VL_SCHEMA } from '../charts/common.ts';
import { BASE_CSS, esc, fmtDate, fmtNum, jsonForScript, SORT_SCRIPT } from '../html.ts';
import { EMBED_SCRIPT, REPORT_CSP } from '../page.ts';
import { isClean, noiseLevel } from '../rows.ts';
import type { EvaluationInfo } from '../types.ts';
import { reportFolderName } from '../paths.ts';
import { sameTestImages, settingDifferences, type ComparedSweep } from './data.ts';
import { unpairedDiff, unpairedVerdict, verdictSentence, type Verdict } from './stats.ts';

const COMPARE_BOOTSTRAP = 2000;

interface CompareRow {
  sweep: string;
  /** Letter of the sweep (A, B, …) in the order given. */
  tag: string;
  set: string;
  /** Position of the set on the x axis (clean first, then by kind and level). */
  order: number;
  accuracy: number;
  ciLow: number;
  ciHigh: number;
  n: number;
}

export interface PairTest {
  set: string;
  baseline: string;
  other: string;
  same: boolean;
  why: string;
  n: number | null;
  a: number;
  b: number;
  diff: number;
  low: number;
  high: number;
  method: 'paired bootstrap' | 'unpaired (no per-image predictions)' | 'unpaired (different images)';
  /** Core's paired comparison of other (A in it) against the first sweep (B in it), or null. */
  paired: PairedComparison | null;
  clean: boolean;
  /** Other vs the first: paired, McNemar p < 0.05 and the interval excluding 0; unpaired, the interval alone. */
  verdict: Verdict;
}

const tagOf = (i: number): string => String.fromCharCode(65 + (i % 26)) + (i >= 26 ? String(Math.floor(i / 26)) : '');

/** Test sets of the compared best trials, clean first, then by noise panel and level. */
function compareSets(sweeps: readonly ComparedSweep[]): EvaluationInfo[] {
  const bySet = new Map<string, EvaluationInfo>();
  for (const s of sweeps) for (const e of s.evaluations) if (!bySet.has(e.testSet)) bySet.set(e.testSet, e);
  return [...bySet.values()].sort((x, y) => {
    if (isClean(x) !== isClean(y)) return isClean(x) ? -1 : 1;
    const lx = noiseLevel(x);
    const ly = noiseLevel(y);
    return lx.panel.localeCompare(ly.panel) || (lx.scale === 'snr' ? ly.x - lx.x : lx.x - ly.x) || x.testSet.localeCompare(y.testSet);
  });
}

function compareRows(sweeps: readonly ComparedSweep[]): CompareRow[] {
  const sets = compareSets(sweeps).map((e) => e.testSet);
  const rows: CompareRow[] = [];
  sweeps.forEach((s, i) => {
    for (const e of s.evaluations) {
      if (!Number.isFinite(e.accuracy)) continue;
      rows.push({
        sweep: s.data.sweep.sweepId,
        tag: tagOf(i),
        set: e.testSet,
        order: sets.indexOf(e.testSet),
        accuracy: roundFinite(e.accuracy),
        ciLow: roundFinite(e.ciLow),
        ciHigh: roundFinite(e.ciHigh),
        n: e.n,
      });
    }
  });
  return rows;
}

/** Each sweep after the first against the first, on every test set both evaluated. */
export function pairTests(sweeps: readonly ComparedSweep[]): PairTest[] {
  const base = sweeps[0];
  const out: PairTest[] = [];
  for (const other of sweeps.slice(1)) {
    for (const set of compareSets([base, other])) {
      const ea = base.evaluations.find((e) => e.testSet === set.testSet);
      const eb = other.evaluations.find((e) => e.testSet === set.testSet);
      if (!ea || !eb) continue;
      const { same, why } = sameTestImages(base, other, set.testSet, isClean(set));
      const pa = base.predictions?.sets[set.testSet];
      const pb = other.predictions?.sets[set.testSet];
      const common = {
        set: set.testSet,
        baseline: base.data.sweep.sweepId,
        other: other.data.sweep.sweepId,
        same,
        why,
        a: ea.accuracy,
        b: eb.accuracy,
        clean: isClean(set),
      };
      if (same && pa && pb) {
        // core's comparison is "A − B": A = the other sweep, B = the first, so the difference is other − first
        const p = pairedComparison(
          pb.predicted.map((v, i) => v === pb.labels[i]),
          pa.predicted.map((v, i) => v === pa.labels[i]),
          { samples: COMPARE_BOOTSTRAP, seed: deriveSeed('compare', common.baseline, common.other, set.testSet) },
        );
        out.push({
          ...common,
          n: p.n,
          a: p.accuracyB,
          b: p.accuracyA,
          diff: p.difference,
          low: p.ciLow,
          high: p.ciHigh,
          method: 'paired bootstrap',
          paired: p,
          verdict: p.verdict,
        });
      } else {
        const u = unpairedDiff(ea, eb);
        out.push({
          ...common,
          n: same ? ea.n : null,
          ...u,
          method: same ? 'unpaired (no per-image predictions)' : 'unpaired (different images)',
          paired: null,
          verdict: unpairedVerdict(u),
        });
      }
    }
  }
  return out;
}

function compareChart(sweeps: readonly ComparedSweep[]): TopLevelSpec {
  const rows = compareRows(sweeps);
  const sets = compareSets(sweeps).map((e) => e.testSet);
  const ids = sweeps.map((s, i) => `${tagOf(i)}: ${s.data.sweep.sweepId}`);
  const data = rows.map((r) => ({ ...r, label: `${r.tag}: ${r.sweep}` }));
  const x = { field: 'set', type: 'nominal' as const, sort: sets, title: 'test set (clean, then each noise kind and level)', axis: { labelAngle: -35 } };
  const color = { field: 'label', type: 'nominal' as const, scale: { domain: ids }, title: 'sweep (best trial)', legend: { orient: 'top' as const } };
  const xOffset = { field: 'label', type: 'nominal' as const, scale: { domain: ids } };
  const y = { type: 'quantitative' as const, scale: { zero: false }, title: 'test accuracy (95 % interval)' };
  return {
    $schema: VL_SCHEMA,
    description: 'Clean and noisy test accuracy of the best trial of each sweep',
    data: { values: data },
    width: { step: Math.max(24, 12 * sweeps.length) },
    height: 240,
    layer: [
      {
        name: 'cmp_ci',
        mark: { type: 'rule', strokeWidth: 2, opacity: 0.6 },
        encoding: { x, xOffset, y: { ...y, field: 'ciLow' }, y2: { field: 'ciHigh' }, color },
      },
      {
        name: 'cmp_points',
        mark: { type: 'point', filled: true, size: 55 },
        encoding: {
          x,
          xOffset,
          y: { ...y, field: 'accuracy' },
          color,
          tooltip: [
            { field: 'label', type: 'nominal', title: 'sweep' },
            { field: 'set', type: 'nominal', title: 'test set' },
            { field: 'accuracy', type: 'quantitative', format: '.3f' },
            { field: 'ciLow', type: 'quantitative', format: '.3f', title: 'CI low' },
            { field: 'ciHigh', type: 'quantitative', format: '.3f', title: 'CI high' },
            { field: 'n', type: 'quantitative', title: 'images' },
          ],
        },
      },
    ],
  } as TopLevelSpec;
}

const pct = (v: number) => `${(100 * v).toFixed(1)} %`;
const signedPct = (v: number) => `${v >= 0 ? '+' : '−'}${(100 * Math.abs(v)).toFixed(1)}`;

function sweepsTable(sweeps: readonly ComparedSweep[]): string {
  const rows = sweeps
    .map((s, i) => {
      const sw = s.data.sweep;
      const t = s.data.trials.find((x) => x.trialId === s.best);
      const clean = s.evaluations.find(isClean);
      const noisy = s.evaluations.filter((e) => !isClean(e) && Number.isFinite(e.accuracy));
      const mean = noisy.length ? noisy.reduce((a, e) => a + e.accuracy, 0) / noisy.length : null;
      return `<tr><th>${esc(tagOf(i))}</th><td><a href="../../${esc(encodeURIComponent(reportFolderName(sw.sweepId)))}/index.html">${esc(sw.sweepId)}</a><div class="sub">${esc(sw.name)} · ${esc(sw.experimentPath ?? '')}</div></td><td>${esc(fmtDate(sw.createdAt))}</td><td class="num">${esc(s.data.trials.length)}</td><td>${esc(s.best ?? '—')}${t ? `<div class="sub">lr ${esc(fmtNum(t.learningRate, 5))}, dropout ${esc(fmtNum(t.dropout))}, batch ${esc(fmtNum(t.batchSize, 0))}</div>` : ''}</td><td class="num">${clean ? `${esc(fmtNum(clean.accuracy))}<div class="sub">${esc(fmtNum(clean.ciLow))}–${esc(fmtNum(clean.ciHigh))}, n ${esc(clean.n)}</div>` : '—'}</td><td class="num">${esc(fmtNum(mean))}<div class="sub">${esc(noisy.length)} sets</div></td><td>${s.predictions ? 'saved' : `<span class="muted" title="${esc(s.predictionsNote)}">not saved</span>`}</td></tr>`;
    })
    .join('');
  return `<table class="summary" id="compare-sweeps"><thead><tr><th></th><th>sweep</th><th>started</th><th>trials</th><th>best trial</th><th>clean acc. (95 % CI)</th><th>mean noisy acc.</th><th>per-image predictions</th></tr></thead><tbody>${rows}</tbody></table>`;
}

function differencesTable(sweeps: readonly ComparedSweep[]): string {
  const diffs = settingDifferences(sweeps).filter((d) => d.key !== 'name' && d.key !== 'description');
  if (diffs.length === 0) return '<p class="muted">The stored experiment settings are the same (apart from name and description).</p>';
  const cut = (v: string | null) => (v === null ? '<span class="muted">(unset)</span>' : `<code>${esc(v.length > 120 ? `${v.slice(0, 119)}…` : v)}</code>`);
  return `<table class="summary" id="compare-differences"><thead><tr><th>setting</th>${sweeps.map((_, i) => `<th>${esc(tagOf(i))}</th>`).join('')}</tr></thead><tbody>${diffs
    .map((d) => `<tr><th><code>${esc(d.key)}</code></th>${d.values.map((v) => `<td>${cut(v)}</td>`).join('')}</tr>`)
    .join('')}</tbody></table>`;
}

function accuracyTable(sweeps: readonly ComparedSweep[]): string {
  const sets = compareSets(sweeps);
  const rows = sets
    .map((set) => {
      const cells = sweeps
        .map((s) => {
          const e = s.evaluations.find((x) => x.testSet === set.testSet);
          return e
            ? `<td class="num" data-sort="${e.accuracy}">${esc(fmtNum(e.accuracy))}<div class="sub">${esc(fmtNum(e.ciLow))}–${esc(fmtNum(e.ciHigh))}</div></td>`
            : '<td class="muted">—</td>';
        })
        .join('');
      return `<tr><td>${esc(set.testSet)}</td><td>${esc(isClean(set) ? 'clean' : noiseLevel(set).scale === 'snr' ? `${set.noiseKind}, SNR ${noiseLevel(set).x}` : `${set.noiseKind}, severity ${set.severity}`)}</td>${cells}</tr>`;
    })
    .join('');
  return `<table class="summary sortable" id="compare-accuracy"><thead><tr><th data-type="text">test set</th><th data-type="text">noise</th>${sweeps.map((_, i) => `<th data-type="num">${esc(tagOf(i))}</th>`).join('')}</tr></thead><tbody>${rows}</tbody></table>`;
}

function testsTable(tests: readonly PairTest[], sweeps: readonly ComparedSweep[]): string {
  if (tests.length === 0) return '<p class="muted">No test set was evaluated by both best trials.</p>';
  const tagFor = (id: string) => tagOf(sweeps.findIndex((s) => s.data.sweep.sweepId === id));
  const rows = tests
    .map((t) => {
      const sig = t.low > 0 || t.high < 0;
      const p = t.paired
        ? `${t.paired.pValue < 1e-4 ? t.paired.pValue.toExponential(1) : t.paired.pValue.toFixed(4)}<div class="sub">only ${esc(tagFor(t.baseline))} right ${t.paired.c}, only ${esc(tagFor(t.other))} right ${t.paired.b}</div>`
        : '<span class="muted">—</span>';
      const verdict = `<td class="verdict v-${t.verdict.replace(/ /g, '-')}" title="${esc(t.paired ? 'McNemar exact p < 0.05 and the paired bootstrap interval excludes 0' : 'unpaired: the interval alone (no McNemar test)')}"><b>${esc(t.verdict)}</b>${t.paired ? '' : '<div class="sub">unpaired interval</div>'}</td>`;
      return `<tr data-set="${esc(t.set)}" data-method="${esc(t.method)}"><td>${esc(tagFor(t.other))} − ${esc(tagFor(t.baseline))}</td><td>${esc(t.set)}</td><td class="${t.same ? 'cmp-yes' : 'cmp-no'}" title="${esc(t.why)}">${t.same ? 'yes' : 'no'}<div class="sub">${esc(t.why)}</div></td><td class="num">${esc(t.n ?? '')}</td><td class="num">${esc(pct(t.a))}</td><td class="num">${esc(pct(t.b))}</td><td class="num"><b>${esc(signedPct(t.diff))}</b> pts</td><td class="num${sig ? ' cmp-yes' : ''}">${esc(signedPct(t.low))} … ${esc(signedPct(t.high))}</td><td>${esc(t.method)}</td><td class="num">${p}</td>${verdict}</tr>`;
    })
    .join('');
  return `<table class="summary" id="compare-tests"><thead><tr><th>difference</th><th>test set</th><th>same images?</th><th>images</th><th>first</th><th>other</th><th>difference</th><th>95 % interval</th><th>method</th><th>McNemar exact p</th><th>verdict</th></tr></thead><tbody>${rows}</tbody></table>`;
}

/** Per compared sweep, its verdicts against the first in one sentence. */
function verdictList(tests: readonly PairTest[], sweeps: readonly ComparedSweep[]): string {
  if (tests.length === 0) return '';
  const items = sweeps.slice(1).map((s, i) => {
    const mine = tests.filter((t) => t.other === s.data.sweep.sweepId);
    const unpaired = mine.some((t) => !t.paired);
    return `<li data-sweep="${esc(s.data.sweep.sweepId)}"><b>${esc(tagOf(i + 1))} vs ${esc(tagOf(0))}</b>: ${esc(verdictSentence(mine))}${unpaired ? ' <span class="muted">(some from unpaired intervals alone)</span>' : ''}.</li>`;
  });
  return `<ul class="verdicts" id="compare-verdicts">${items.join('')}</ul>`;
}

export interface ComparePageInput {
  sweeps: ComparedSweep[];
  bundles: VegaBundle[];
  generatedAt: string;
  indexHref: string;
}

export function renderComparePage(input: ComparePageInput): string {
  const { sweeps } = input;
  const tests = pairTests(sweeps);
  const spec = compareChart(sweeps);
  const missing = sweeps.filter((s) => !s.predictions);
  const title = `Comparison of ${sweeps.map((s, i) => `${tagOf(i)} ${s.data.sweep.sweepId}`).join(', ')}`;
  const predictionsNote = missing.length
    ? `<p class="warn">Per-image predictions are not saved for ${missing.map((s) => esc(s.data.sweep.sweepId)).join(', ')} (${missing.map((s) => esc(s.predictionsNote)).join('; ')}). Without them the differences below are unpaired: each model's own bootstrap interval, combined as if the images were independent, which overstates the uncertainty when they are the same images; McNemar's test cannot be computed.</p>`
    : '';
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="${esc(REPORT_CSP)}">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${esc(title)}</title>
<style>${BASE_CSS}</style>
</head>
<body>
<header>
<p><a href="${esc(input.indexHref)}">← all sweeps</a></p>
<h1>Sweep comparison <span class="muted">best trial of each sweep</span></h1>
<p class="muted">${esc(title)}. Differences are “other − first” (${esc(tagOf(0))} is the baseline), in accuracy points.</p>
</header>
<main>
<section id="sweeps"><h2>Sweeps</h2>${sweepsTable(sweeps)}
<h3>Settings that differ</h3>${differencesTable(sweeps)}</section>
<section id="accuracy"><h2>Clean and noisy test accuracy</h2>
<p class="muted">Each colour is a sweep's best trial; bars are 95 % bootstrap intervals.</p>
<div class="chart" id="chart-compare" data-chart="chart-compare"></div>
${accuracyTable(sweeps)}</section>
<section id="tests"><h2>Differences on the shared test images</h2>
<p class="muted">A test set holds the same images in two sweeps when their ingest outputs are identical (same sources, image settings, split and seed; for a noisy set also the same experiment seed and <code>noise.eval</code>) — and, where predictions are saved, the same image ids. On the same images, with per-image predictions, the interval is a paired bootstrap (${COMPARE_BOOTSTRAP} resamples of the images) and McNemar's exact test counts the images only one model gets right. A green interval excludes 0.</p>
<p class="muted">Verdict of the other sweep against the first: <b>better</b> or <b>worse</b> when McNemar's exact p &lt; 0.05 and the paired bootstrap interval excludes 0, else <b>not distinguishable</b>; without a paired test, from the unpaired interval alone.</p>
${verdictList(tests, sweeps)}
${predictionsNote}
${testsTable(tests, sweeps)}</section>
</main>
<footer>Generated ${esc(input.generatedAt)} by report:compare from the tracking database; opens offline.</footer>
${input.bundles.map((b) => `<script>/* ${esc(b.name)} ${esc(b.version)} */\n${b.js}\n</script>`).join('\n')}
<script type="application/json" id="report-specs">${jsonForScript({ 'chart-compare': spec })}</script>
<script>${SORT_SCRIPT}</script>
<script>${EMBED_SCRIPT}</script>
</body>
</html>
`;
}
