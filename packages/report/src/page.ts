/** The HTML of one sweep's report (pure: everything it shows is passed in). */
import type { VegaBundle } from './assets.ts';
import type { ChartSection } from './charts/index.ts';
import { BASE_CSS, esc, fmtDate, fmtNum, jsonForScript, renderJson, SORT_SCRIPT } from './html.ts';
import { isIngestReport, renderIngest } from './ingest.ts';
import { byTrial, cleanOf, displayOrder, isClean, meanNoisyOf, testEvaluations, worstNoisyOf } from './rows.ts';
import { classRobustness, DROP_POINTS, kindDrops, trialRobustness, type TrialRobustness } from './robustness.ts';
import type { StageArtifacts } from './stages.ts';
import type { BaselineScores, EvaluationInfo, SweepData, TrialInfo } from './types.ts';

export interface PageInput {
  data: SweepData;
  charts: ChartSection[];
  artifacts: StageArtifacts;
  bundles: VegaBundle[];
  generatedAt: string;
  /** Link back to the list of sweeps (relative), or null. */
  indexHref: string | null;
  /** The baseline CE is normalised by, or null (then `baselineNote` says why, when known). */
  baseline?: BaselineScores | null;
  baselineNote?: string;
}

/** Pure: CE / mCE / relative mCE of every trial that has corrupted test sets the baseline also scored. */
export function robustnessByTrial(data: SweepData, baseline: BaselineScores | null | undefined): Map<string, TrialRobustness> {
  const out = new Map<string, TrialRobustness>();
  if (!baseline) return out;
  for (const [id, evals] of byTrial(testEvaluations(data.evaluations))) {
    const r = trialRobustness(evals, baseline);
    if (r && Number.isFinite(r.summary.mce)) out.set(id, r);
  }
  return out;
}

/** A CE-like ratio as a percentage (100 % = the baseline). */
function fmtCe(v: number | null | undefined): string {
  return v === null || v === undefined || !Number.isFinite(v) ? '' : `${(100 * v).toFixed(1)} %`;
}

/** Content-Security-Policy of the page: nothing may be loaded from anywhere but the page itself. */
export const REPORT_CSP =
  "default-src 'none'; script-src 'unsafe-inline' 'unsafe-eval'; style-src 'unsafe-inline'; img-src data:; font-src data:; connect-src 'none'; form-action 'none'; base-uri 'none'";

const SECTIONS: { id: string; title: string }[] = [
  { id: 'data', title: 'Data' },
  { id: 'accuracy', title: 'Clean vs noisy' },
  { id: 'robustness', title: 'Robustness' },
  { id: 'curves', title: 'Learning curves' },
  { id: 'params', title: 'Hyper-parameters' },
  { id: 'confusion', title: 'Confusion' },
  { id: 'trials', title: 'Trials' },
  { id: 'gradcam', title: 'Grad-CAM' },
  { id: 'examples', title: 'Examples' },
  { id: 'experiment', title: 'Experiment' },
];

function fact(label: string, value: string): string {
  return `<div><b>${esc(label)}</b>${value || '<span class="muted">—</span>'}</div>`;
}

function distinct(values: (string | null)[]): string[] {
  return [...new Set(values.filter((v): v is string => !!v))];
}

function seconds(t: TrialInfo): number | null {
  if (!t.startedAt || !t.endedAt) return null;
  const s = (Date.parse(t.endedAt) - Date.parse(t.startedAt)) / 1000;
  return Number.isFinite(s) ? s : null;
}

function numCell(v: number | null | undefined, digits = 3): string {
  return `<td class="num" data-sort="${v === null || v === undefined || !Number.isFinite(v) ? '' : v}">${esc(fmtNum(v, digits))}</td>`;
}

function ci(e: EvaluationInfo | null): string {
  return e ? `${fmtNum(e.ciLow)}–${fmtNum(e.ciHigh)}` : '';
}

function shorten(text: string, max = 90): string {
  const one = text.split('\n')[0];
  return one.length > max ? `${one.slice(0, max - 1)}…` : one;
}

/**
 * Every trial, ranked ones first in rank order (then the others by trial index), in columns that
 * fit the page: numbers right-aligned, the clean CI under the accuracy, errors cut to one short line
 * (the whole text in the cell's title).
 */
export function trialsTable(data: SweepData, robust: ReadonlyMap<string, TrialRobustness> = new Map()): string {
  const withCe = robust.size > 0;
  const groups = byTrial(testEvaluations(data.evaluations));
  const epochsRun = new Map<string, number>();
  for (const e of data.epochs) epochsRun.set(e.trialId, (epochsRun.get(e.trialId) ?? 0) + 1);
  const rank = new Map(data.ranked.map((id, i) => [id, i + 1]));
  const byId = new Map(data.trials.map((t) => [t.trialId, t]));
  const head: [string, string, string][] = [
    ['#', 'num', 'rank by the objective'],
    ['trial', 'text', ''],
    ['status', 'text', ''],
    ['lr', 'num', 'learning rate'],
    ['drop-out', 'num', ''],
    ['batch', 'num', 'batch size'],
    ['best / epochs', 'num', 'best epoch / epochs run'],
    ['objective', 'num', data.sweep.objective ?? 'objective'],
    ['clean acc. (95 % CI)', 'num', 'clean test accuracy with its bootstrap interval'],
    ['mean noisy', 'num', 'mean accuracy over the noisy test sets'],
    ['worst noisy', 'num', 'lowest noisy test accuracy and its set'],
    ...(withCe
      ? ([
          ['mCE', 'num', 'mean corruption error relative to the baseline (100 % = the baseline; lower is better)'],
          ['rel. mCE', 'num', 'relative mCE: degradation from clean, relative to the baseline’s degradation (lower is better)'],
        ] as [string, string, string][])
      : []),
    ['macro F1', 'num', 'clean test set'],
    ['ECE / cal.', 'num', 'expected calibration error on the clean test set, before / after temperature scaling'],
    ['s', 'num', 'seconds'],
    ['backend · error', 'text', ''],
  ];
  const rows = displayOrder(data.trials, data.ranked).map((id) => {
    const t = byId.get(id) as TrialInfo;
    const evals = groups.get(t.trialId) ?? [];
    const c = cleanOf(evals);
    const w = worstNoisyOf(evals);
    const err = t.error ?? '';
    const sub = (text: string) => (text ? `<div class="sub">${esc(text)}</div>` : '');
    const sortKey = (v: number | null | undefined) => (v === null || v === undefined || !Number.isFinite(v) ? '' : String(v));
    const cells = [
      numCell(rank.get(t.trialId) ?? null, 0),
      `<td>${esc(t.trialId)}</td>`,
      `<td>${esc(t.status)}</td>`,
      numCell(t.learningRate, 5),
      numCell(t.dropout),
      numCell(t.batchSize, 0),
      `<td class="num" data-sort="${sortKey(t.bestEpoch)}">${esc(fmtNum(t.bestEpoch, 0))} / ${esc(epochsRun.get(t.trialId) ?? 0)}</td>`,
      numCell(t.objective, 4),
      `<td class="num" data-sort="${sortKey(c?.accuracy)}">${esc(fmtNum(c?.accuracy))}${sub(ci(c))}</td>`,
      numCell(meanNoisyOf(evals)),
      `<td class="num" data-sort="${sortKey(w?.accuracy)}">${esc(fmtNum(w?.accuracy))}${sub(w?.testSet ?? '')}</td>`,
      ...(withCe ? ceCells(robust.get(t.trialId)) : []),
      numCell(c?.macroF1),
      `<td class="num" data-sort="${sortKey(c?.ece)}">${esc(fmtNum(c?.ece))}${c ? ` / ${esc(fmtNum(c.eceCalibrated))}` : ''}</td>`,
      numCell(seconds(t), 0),
      `<td class="error" title="${esc(err)}">${esc(t.backend ?? '')}${err ? `<div class="sub err">${esc(shorten(err))}</div>` : ''}</td>`,
    ];
    return `<tr class="${esc(t.status)}" data-trial="${esc(t.trialId)}">${cells.join('')}</tr>`;
  });
  return `<div class="table-fit"><table class="sortable" id="trials-table"><thead><tr>${head
    .map(([h, type, title]) => `<th data-type="${type}" title="${esc(title ? `${title} — click to sort` : 'click to sort')}">${esc(h)}</th>`)
    .join('')}</tr></thead><tbody>${rows.join('')}</tbody></table></div>`;
}

function ceCell(v: number | null | undefined, cls = '', sub = ''): string {
  const key = v === null || v === undefined || !Number.isFinite(v) ? '' : String(v);
  return `<td class="num${cls ? ` ${cls}` : ''}" data-sort="${key}">${esc(fmtCe(v))}${sub}</td>`;
}

function ceCells(r: TrialRobustness | undefined): string[] {
  const kinds = r ? `<div class="sub">${r.kinds.length} kind${r.kinds.length === 1 ? '' : 's'}</div>` : '';
  return [ceCell(r?.summary.mce, 'mce', kinds), ceCell(r?.summary.relativeMce, 'rmce')];
}

function bestBox(data: SweepData, robust: ReadonlyMap<string, TrialRobustness>): string {
  const id = data.ranked[0];
  const t = data.trials.find((x) => x.trialId === id);
  if (!t) return '<p class="best">No trial has finished with an objective yet.</p>';
  const evals = byTrial(testEvaluations(data.evaluations)).get(t.trialId) ?? [];
  const c = cleanOf(evals);
  const w = worstNoisyOf(evals);
  const m = meanNoisyOf(evals);
  const parts = [
    `<b>Best trial ${esc(t.trialId)}</b> (${esc(t.status)}): ${esc(data.sweep.objective ?? 'objective')} = ${esc(fmtNum(t.objective, 4))}`,
    `learning rate ${esc(fmtNum(t.learningRate, 5))}, dropout ${esc(fmtNum(t.dropout))}, batch size ${esc(fmtNum(t.batchSize, 0))}, best epoch ${esc(fmtNum(t.bestEpoch, 0))}`,
  ];
  if (c) parts.push(`clean test accuracy ${esc(fmtNum(c.accuracy))} (95 % ${esc(ci(c))}, n = ${esc(c.n)})`);
  if (w) parts.push(`worst noisy test set ${esc(w.testSet)}: ${esc(fmtNum(w.accuracy))} (95 % ${esc(ci(w))}); mean over noisy sets ${esc(fmtNum(m))}`);
  const r = robust.get(t.trialId);
  if (r)
    parts.push(
      `<span id="best-mce">mCE ${esc(fmtCe(r.summary.mce))}, relative mCE ${esc(fmtCe(r.summary.relativeMce))}</span> over ${r.kinds.length} noise kind${r.kinds.length === 1 ? '' : 's'} (${esc(r.source)} sets; <a href="#baseline-note">relative to the baseline</a>, 100 % = as robust as it; lower is better)`,
    );
  return `<div class="best">${parts.join('<br>')}</div>`;
}

function testSetsTable(evaluations: readonly EvaluationInfo[]): string {
  const sets = new Map<string, EvaluationInfo>();
  for (const e of evaluations) if (!sets.has(e.testSet)) sets.set(e.testSet, e);
  if (sets.size === 0) return '<p class="muted">No evaluations recorded.</p>';
  const rows = [...sets.values()]
    .sort((a, b) => Number(isClean(b)) - Number(isClean(a)) || a.noiseKind.localeCompare(b.noiseKind) || a.severity - b.severity)
    .map(
      (e) => `<tr><td>${esc(e.testSet)}</td><td>${esc(e.noiseKind)}</td><td class="num">${esc(fmtNum(e.severity))}</td><td class="num">${esc(e.n)}</td></tr>`,
    )
    .join('');
  return `<table><thead><tr><th>evaluation set</th><th>noise kind</th><th>severity</th><th>images</th></tr></thead><tbody>${rows}</tbody></table>`;
}

/**
 * Sources, splits and duplicates: the ingest report, taken from the sweep's data_summary (tuning
 * stores the ingest report.json there) or from the ingest stage folder; anything else generically.
 */
function dataBlock(summary: unknown, artifacts: StageArtifacts): string {
  const file = artifacts.ingestReportFile;
  if (isIngestReport(summary)) {
    return `<h3>Sources, splits and duplicates <span class="muted">(ingest report ${esc(summary.key)}, stored with the sweep)</span></h3>\n${renderIngest(summary)}`;
  }
  const parts: string[] = [];
  if (summary !== null && summary !== undefined) parts.push(`<h3>Data summary <span class="muted">(stored with the sweep)</span></h3>\n${renderJson(summary)}`);
  if (file) parts.push(`<h3>Sources, splits and duplicates <span class="muted">(${esc(file)})</span></h3>\n${renderIngest(artifacts.ingestReport)}`);
  if (parts.length === 0)
    parts.push('<h3>Sources, splits and duplicates</h3><p class="muted">No data summary stored with the sweep and no ingest report.json found.</p>');
  return parts.join('\n');
}

function dataSection(data: SweepData, artifacts: StageArtifacts): string {
  const s = data.sweep;
  const backends = distinct([s.backend, ...data.trials.map((t) => t.backend)]);
  const commits = distinct([s.gitCommit, ...data.trials.map((t) => t.gitCommit)]);
  const statuses = new Map<string, number>();
  for (const t of data.trials) statuses.set(t.status, (statuses.get(t.status) ?? 0) + 1);
  const facts = [
    fact('experiment', esc(s.experimentPath ?? '')),
    fact('strategy', esc(s.strategy ?? '')),
    fact('objective', esc(s.objective ? `${s.objective} (${s.direction})` : '')),
    fact('seed', esc(s.seed ?? '')),
    fact('status', esc(s.status ?? '')),
    fact(
      'trials',
      esc(`${data.trials.length}${s.nTrials !== null ? ` of ${s.nTrials} planned` : ''}: ${[...statuses].map(([k, n]) => `${n} ${k}`).join(', ')}`),
    ),
    fact('backend', esc(backends.join(', '))),
    fact('git commit', esc(commits.join(', '))),
    fact('started', esc(fmtDate(s.createdAt))),
    fact('finished', esc(fmtDate(s.finishedAt))),
  ].join('');
  const stageRows = Object.entries(s.stages)
    .map(
      ([k, v]) =>
        `<tr><th>${esc(k)}</th><td><code>${esc(v.key ?? '')}</code></td><td><code>${esc(v.dir ?? '')}</code>${v.dir && !artifacts.dirs[k] ? ' <span class="muted">(not found here)</span>' : ''}</td></tr>`,
    )
    .join('');
  return `
<section id="data"><h2>Data and setup</h2>
<div class="facts">${facts}</div>
${dataBlock(s.dataSummary, artifacts)}
<h3>Noise settings</h3>
${renderJson(s.noiseSettings)}
<h3>Evaluation sets</h3>
${testSetsTable(data.evaluations)}
<h3>Stage outputs</h3>
${stageRows ? `<table class="kv">${stageRows}</table>` : '<p class="muted">No stages recorded.</p>'}
</section>`;
}

function chartBlock(c: ChartSection): string {
  const body = c.spec
    ? `<div class="chart" id="${esc(c.id)}" data-chart="${esc(c.id)}"></div>`
    : `<p class="muted" data-empty-chart="${esc(c.id)}">${esc(c.empty ?? 'Nothing to draw.')}</p>`;
  return `<h3>${esc(c.title)}</h3><p class="muted">${esc(c.caption)}</p>${body}`;
}

function chartSection(id: string, title: string, charts: ChartSection[], extra = ''): string {
  const mine = charts.filter((c) => c.section === id);
  return `<section id="${id}"><h2>${esc(title)}</h2>${mine.map(chartBlock).join('\n')}${extra}</section>`;
}

const SUMMARY_ROWS = 15;

/** The baseline, named once on the page, or why there is none (nothing when no trial has grid cells). */
function baselineBlock(
  baseline: BaselineScores | null | undefined,
  note: string | undefined,
  robust: ReadonlyMap<string, TrialRobustness>,
  hasGrid: boolean,
): string {
  if (baseline) {
    const used = robust.size
      ? ''
      : ' <span class="muted">No trial has corrupted test sets at the severities the baseline was scored on, so no CE is shown.</span>';
    return `<p class="baseline" id="baseline-note">CE relative to: <b>${esc(baseline.name)}</b> — ${esc(baseline.description)} <span class="muted">(clean test accuracy ${esc(fmtNum(baseline.clean))}, ${esc(baseline.corrupted.length)} corrupted sets, key ${esc(baseline.key)})</span>. CE of a kind = Σ over severities of the trial's error ÷ the baseline's; mCE = its mean over kinds; relative mCE uses the degradation from each model's own clean error instead, over the kinds that cost the baseline at least 1 point on average (a smaller degradation is no yardstick). 100 % = as robust as the baseline; lower is better.${used}</p>`;
  }
  if (!hasGrid) return '';
  return `<p class="muted" id="baseline-note">No baseline scores, so no CE / mCE${note ? `: ${esc(note)}` : ''}.</p>`;
}

const levelText = (scale: 'snr' | 'severity', v: number | null): string =>
  v === null ? 'never' : scale === 'snr' ? `SNR ${v.toFixed(1)}` : `severity ${v.toFixed(1)}`;

/** The best trial per kind: CE, relative CE, and where accuracy falls DROP_POINTS below clean. */
function kindTable(evals: readonly EvaluationInfo[], r: TrialRobustness | undefined): string {
  const drops = kindDrops(evals);
  if (drops.length === 0) return '';
  const rows = drops
    .map((d) => {
      const kind = d.scale === 'severity' ? d.panel : null;
      const ce = kind !== null ? r?.summary.ce[kind] : undefined;
      const rce = kind !== null ? r?.summary.relativeCe[kind] : undefined;
      const worst = d.levels.reduce((a, x) => (x.accuracy < a.accuracy ? x : a), d.levels[0]);
      return `<tr data-kind="${esc(d.panel)}"><td>${esc(d.panel)}</td>${r ? `${ceCell(ce)}${ceCell(rce)}` : ''}<td class="num">${esc(d.levels.length)}</td><td class="num" data-sort="${d.levelAtDrop ?? ''}">${esc(levelText(d.scale, d.levelAtDrop))}</td><td class="num">${esc(fmtNum(worst.accuracy))}<div class="sub">${esc(worst.testSet)}</div></td></tr>`;
    })
    .join('');
  const ceHead = r ? '<th data-type="num">CE</th><th data-type="num">relative CE</th>' : '';
  return `<h3>Per noise kind, best trial</h3><p class="muted">Where accuracy first falls ${Math.round(100 * DROP_POINTS)} points below clean, interpolated between measured levels (mild to severe); “never” when it stays within ${Math.round(100 * DROP_POINTS)} points at every level measured.</p><table class="summary sortable" id="kind-table"><thead><tr><th data-type="text">noise kind</th>${ceHead}<th data-type="num">levels</th><th data-type="num">${Math.round(100 * DROP_POINTS)}-point drop at</th><th data-type="num">worst acc.</th></tr></thead><tbody>${rows}</tbody></table>`;
}

/** The best trial per class: clean recall, mean recall per severity over kinds, where it collapses. */
function classTable(evals: readonly EvaluationInfo[]): string {
  const classes = classRobustness(evals);
  if (classes.length === 0) return '';
  const severities = [...new Set(classes.flatMap((c) => c.bySeverity.map((s) => s.severity)))].sort((a, b) => a - b);
  const rows = classes
    .map((c, i) => {
      const at = new Map(c.bySeverity.map((s) => [s.severity, s.recall]));
      return `<tr data-class="${esc(c.label)}"><td class="num">${i + 1}</td><td>${esc(c.label)}</td>${numCell(c.clean)}${severities.map((s) => numCell(at.get(s))).join('')}${numCell(c.clean - c.meanCorrupted)}<td class="num">${esc(levelText('severity', c.severityAtDrop))}</td></tr>`;
    })
    .join('');
  return `<h3>Per class, best trial: which class collapses first</h3><p class="muted">Recall of each true class on the clean test set and, at each severity, averaged over the noise kinds of the heat map; classes in the order they collapse (recall ${Math.round(100 * DROP_POINTS)} points below clean at the lowest severity first, then by the mean drop).</p><table class="summary" id="class-table"><thead><tr><th>order</th><th>class</th><th>clean recall</th>${severities.map((s) => `<th>severity ${s}</th>`).join('')}<th>mean drop</th><th>${Math.round(100 * DROP_POINTS)}-point drop at</th></tr></thead><tbody>${rows}</tbody></table>`;
}

/** Per trial (best first): clean accuracy, the mean over the noisy test sets, the drop, and the worst set. */
function robustnessSummary(data: SweepData): string {
  const groups = byTrial(testEvaluations(data.evaluations));
  const rows = displayOrder(data.trials, data.ranked)
    .map((id, i) => ({ id, rank: data.ranked.includes(id) ? i + 1 : null, evals: groups.get(id) ?? [] }))
    .filter((r) => r.evals.some((e) => !isClean(e)));
  if (rows.length === 0) return '';
  const body = rows
    .slice(0, SUMMARY_ROWS)
    .map(({ id, rank, evals }) => {
      const c = cleanOf(evals);
      const m = meanNoisyOf(evals);
      const w = worstNoisyOf(evals);
      const n = evals.filter((e) => !isClean(e)).length;
      const drop = c && m !== null ? c.accuracy - m : null;
      return `<tr data-trial="${esc(id)}"><td class="num">${esc(rank ?? '')}</td><td>${esc(id)}</td>${numCell(c?.accuracy)}${numCell(m)}<td class="num">${esc(n)}</td>${numCell(drop)}${numCell(w?.accuracy)}<td>${esc(w?.testSet ?? '')}</td></tr>`;
    })
    .join('');
  const more = rows.length > SUMMARY_ROWS ? `<p class="muted">… ${rows.length - SUMMARY_ROWS} more trials in the Trials table.</p>` : '';
  return `<h3>Mean over the noisy test sets, per trial</h3><p class="muted">The mean is over every noisy test set of the trial (all kinds and levels, equally weighted); drop = clean − mean noisy.</p><table class="summary sortable" id="robustness-summary"><thead><tr><th data-type="num">#</th><th data-type="text">trial</th><th data-type="num">clean acc.</th><th data-type="num">mean noisy acc.</th><th data-type="num">noisy sets</th><th data-type="num">drop</th><th data-type="num">worst noisy acc.</th><th data-type="text">worst set</th></tr></thead><tbody>${body}</tbody></table>${more}`;
}

function robustnessExtras(data: SweepData, input: PageInput, robust: ReadonlyMap<string, TrialRobustness>): string {
  const best = data.ranked[0];
  const evals = best === undefined ? [] : (byTrial(testEvaluations(data.evaluations)).get(best) ?? []);
  const hasGrid = input.charts.some((c) => c.id === 'chart-heatmap' && c.spec);
  return [
    baselineBlock(input.baseline, input.baselineNote, robust, hasGrid),
    robustnessSummary(data),
    best === undefined ? '' : kindTable(evals, robust.get(best)),
    best === undefined ? '' : classTable(evals),
  ].join('\n');
}

function examplesSection(artifacts: StageArtifacts): string {
  if (artifacts.sheets.length === 0) return '<section id="examples"><h2>Examples</h2><p class="muted">No stage recorded a contact sheet.</p></section>';
  const figs = artifacts.sheets
    .map((s) =>
      s.dataUri
        ? `<figure><img src="${s.dataUri}" alt="${esc(s.caption)}"><figcaption>${esc(s.caption)} <span class="muted">(JPEG copy of ${esc(s.file)})</span></figcaption></figure>`
        : `<figure><figcaption>${esc(s.caption)}: <span class="muted">not found (${esc(s.file)})</span></figcaption></figure>`,
    )
    .join('');
  return `<section id="examples"><h2>Examples (contact sheets)</h2><details class="sheets-box"><summary>show the ${artifacts.sheets.length} contact sheet${artifacts.sheets.length === 1 ? '' : 's'} (noise and augment stages)</summary><div class="sheets">${figs}</div></details></section>`;
}

/** `source/relative/path.jpg` (an ingest record id) → the source and the file name alone. */
function scanOrigin(id: string): { source: string; file: string } {
  const slash = id.indexOf('/');
  const source = slash > 0 ? id.slice(0, slash) : '';
  const rest = slash > 0 ? id.slice(slash + 1) : id;
  return { source: source || '—', file: rest.split('/').pop() ?? rest };
}

function gradcamSection(artifacts: StageArtifacts): string {
  const g = artifacts.gallery;
  const title = '<h2>Grad-CAM of the best trial</h2>';
  if (!g || g.cells.length === 0) {
    return `<section id="gradcam">${title}<p class="muted">The sweep wrote no Grad-CAM gallery.</p></section>`;
  }
  const cellOf = new Map(g.cells.map((c) => [`${c.set}\u0000${c.id}`, c]));
  const head = `<tr><th>scan (true class)</th>${g.sets.map((s) => `<th>${esc(s === 'clean' ? `${g.split} (clean)` : s)}</th>`).join('')}</tr>`;
  const rows = g.scans
    .map((scan) => {
      const tds = g.sets
        .map((set) => {
          const c = cellOf.get(`${set}\u0000${scan.id}`);
          if (!c) return '<td class="muted">—</td>';
          const img = c.dataUri ? `<img src="${c.dataUri}" alt="${esc(`${set}: ${scan.id}`)}" width="96" height="96">` : '<span class="muted">missing</span>';
          return `<td class="${c.correct ? 'ok' : 'bad'}">${img}<div>${c.correct ? '✓' : '✗'} ${esc(c.predicted)} ${(100 * c.probability).toFixed(0)}%</div></td>`;
        })
        .join('');
      const { source, file } = scanOrigin(scan.id);
      return `<tr><th title="${esc(`record ${scan.id}: a ${g.split} image of this sweep (the source's own folder name is not its split here)`)}">${esc(scan.label)}<div class="muted">${esc(g.split)} split · source ${esc(source)}</div><div class="muted file">${esc(file)}</div></th>${tds}</tr>`;
    })
    .join('');
  return `<section id="gradcam">${title}<p class="muted">Class-activation heat maps (Grad-CAM on the last convolutional feature map) over clean test scans, and over the same scans in every noisy test set; under each, the predicted class and its calibrated probability (✓ correct, ✗ wrong). Model: ${esc(g.model)}.</p><div class="gallery"><table class="gradcam">${head}${rows}</table></div></section>`;
}

/** The bootstrap script: embeds every chart as SVG and marks the page ready when all are done. */
export const EMBED_SCRIPT = `
(function () {
  var specs = JSON.parse(document.getElementById('report-specs').textContent);
  var opts = { renderer: 'svg', actions: { export: true, source: true, compiled: false, editor: false } };
  var jobs = Object.keys(specs).map(function (id) {
    var el = document.getElementById(id);
    return vegaEmbed(el, specs[id], opts).then(function () {
      el.setAttribute('data-rendered', 'ok');
    }, function (err) {
      el.setAttribute('data-rendered', 'error');
      el.innerHTML = '';
      var p = document.createElement('p');
      p.className = 'chart-error';
      p.textContent = 'chart failed: ' + (err && err.message ? err.message : String(err));
      el.appendChild(p);
      console.error('chart ' + id + ' failed: ' + (err && err.message ? err.message : String(err)));
    });
  });
  Promise.all(jobs).then(function () { document.body.setAttribute('data-ready', 'true'); });
})();
`;

export function renderReportPage(input: PageInput): string {
  const { data, charts, artifacts, bundles } = input;
  const s = data.sweep;
  const robust = robustnessByTrial(data, input.baseline);
  const specs: Record<string, unknown> = {};
  for (const c of charts) if (c.spec) specs[c.id] = c.spec;
  const nav = SECTIONS.map((x) => `<a href="#${x.id}">${esc(x.title)}</a>`).join('');
  const versions = bundles.map((b) => `${b.name} ${b.version}`).join(', ');
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="${esc(REPORT_CSP)}">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${esc(`Sweep ${s.name} — ${s.sweepId}`)}</title>
<style>${BASE_CSS}</style>
</head>
<body>
<header>
${input.indexHref ? `<p><a href="${esc(input.indexHref)}">← all sweeps</a></p>` : ''}
<h1>Sweep ${esc(s.name)} <span class="muted">${esc(s.sweepId)}</span></h1>
<nav>${nav}</nav>
${bestBox(data, robust)}
</header>
<main>
${dataSection(data, artifacts)}
${chartSection('accuracy', 'Clean vs noisy accuracy', charts)}
${chartSection('robustness', 'Robustness to noise', charts, robustnessExtras(data, input, robust))}
${chartSection('curves', 'Learning curves', charts)}
${chartSection('params', 'Hyper-parameters', charts)}
${chartSection('confusion', 'Confusion matrices', charts)}
<section id="trials"><h2>Trials (${data.trials.length})</h2><p class="muted">Click a column header to sort. Accuracies are on the test split.${robust.size ? ' mCE and relative mCE: <a href="#baseline-note">relative to the baseline</a>.' : ''}</p>${trialsTable(data, robust)}</section>
${gradcamSection(artifacts)}
${examplesSection(artifacts)}
<section id="experiment"><h2>Experiment file</h2>${s.experimentYaml ? `<details><summary>${esc(s.experimentPath ?? 'experiment')}</summary><pre>${esc(s.experimentYaml)}</pre></details>` : '<p class="muted">Not recorded.</p>'}</section>
</main>
<footer>Generated ${esc(input.generatedAt)} by report:build from the tracking database; ${esc(versions)} inlined; opens offline.</footer>
${bundles.map((b) => `<script>/* ${esc(b.name)} ${esc(b.version)} */\n${b.js}\n</script>`).join('\n')}
<script type="application/json" id="report-specs">${jsonForScript(specs)}</script>
<script>${SORT_SCRIPT}</script>
<script>${EMBED_SCRIPT}</script>
</body>
</html>
`;
}
