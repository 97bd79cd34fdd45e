/** Every chart of a sweep report, in page order, built from the sweep's data (pure). */
import type { TopLevelSpec } from 'vega-lite';
import { byTrial, cleanOf, displayOrder, testEvaluations, worstNoisyOf } from '../rows.ts';
import type { SweepData } from '../types.ts';
import { cleanVsNoisyChart, pairRows } from './clean-vs-noisy.ts';
import { confusionChart, type ConfusionPanel } from './confusion.ts';
import { heatmapChart, heatmapRows } from './heatmap.ts';
import { hyperparamChart, paramRows } from './hyperparams.ts';
import { curveRows, learningCurvesChart } from './learning-curves.ts';
import { parallelChart } from './parallel.ts';
import { robustnessChart, robustnessRows } from './robustness.ts';

export interface ChartSection {
  /** DOM id of the chart's container (letters, digits, '-'). */
  id: string;
  section: 'accuracy' | 'robustness' | 'curves' | 'params' | 'confusion';
  title: string;
  caption: string;
  /** null when there is nothing to draw; `empty` then says why. */
  spec: TopLevelSpec | null;
  empty?: string;
}

export interface ChartOptions {
  /** How many of the best trials the robustness curve shows. */
  bestTrials: number;
}

export function buildCharts(data: SweepData, options: ChartOptions): ChartSection[] {
  const { sweep, trials, epochs, evaluations, ranked } = data;
  const order = displayOrder(trials, ranked);
  const best = ranked.slice(0, Math.max(1, options.bestTrials));
  const out: ChartSection[] = [];

  const pairs = pairRows(evaluations, order);
  out.push({
    id: 'chart-clean-vs-noisy',
    section: 'accuracy',
    title: 'Clean vs noisy test accuracy per trial',
    caption:
      'Each row is a trial (best first): its accuracy on the clean test set (circle) and on the noisy test sets (diamond), with 95 % bootstrap intervals. The selector starts at the mean over all noisy sets (no interval: the sets hold the same images, so their errors are correlated), then lists the sets hardest first.',
    spec: pairs.length ? cleanVsNoisyChart(evaluations, order) : null,
    empty: 'No trial has a clean test evaluation yet.',
  });

  const rob = robustnessRows(evaluations, best);
  out.push({
    id: 'chart-robustness',
    section: 'robustness',
    title: `Robustness: accuracy against the noise parameter (best ${best.length} trial${best.length === 1 ? '' : 's'} overlaid)`,
    caption:
      'One panel per noise kind: target SNR on the x axis for Rician sets given by SNR (lower = noisier, to the right), the documented severity 1–5 for the others. Each colour is a trial (best first) with 95 % bootstrap intervals; its dashed line is its clean accuracy. Levels are joined only where a trial was measured at two or more of them; a single level is a point.',
    spec: rob.length ? robustnessChart(evaluations, best) : null,
    empty: 'No noisy test evaluations for the best trials.',
  });

  const heat = heatmapRows(evaluations, order);
  if (heat.length) {
    out.push({
      id: 'chart-heatmap',
      section: 'robustness',
      title: 'Corruption heat map: test accuracy per noise kind and severity',
      caption:
        'For the selected trial (best first): one cell per noisy test set at a named severity — the mri-c benchmark set where the experiment has one, else its own set at that severity (Rician sets given by SNR are in the chart above) — and its clean test accuracy for reference. Rows are ordered hardest first.',
      spec: heatmapChart(evaluations, order),
    });
  }

  out.push({
    id: 'chart-learning-curves',
    section: 'curves',
    title: 'Learning curves',
    caption:
      'Grey: the validation curve of every trial. In colour: the highlighted trial (select) — train, validation and, where recorded, noisy validation; the ring marks its best epoch.',
    spec: curveRows(epochs).length ? learningCurvesChart(epochs, trials, order) : null,
    empty: 'No epochs recorded.',
  });

  const hasParams = paramRows(trials, evaluations).length > 0;
  out.push({
    id: 'chart-hyperparams',
    section: 'params',
    title: 'Hyper-parameter effects on clean and on noisy accuracy',
    caption:
      'Each point is a trial with test evaluations; top row its clean test accuracy, bottom row its mean accuracy over the noisy test sets; colour is its status.',
    spec: hasParams ? hyperparamChart(trials, evaluations) : null,
    empty: 'No trial has test evaluations yet.',
  });
  out.push({
    id: 'chart-parallel',
    section: 'params',
    title: 'All trials, parallel coordinates',
    caption: 'Each line is a trial; every axis is scaled to its own range (min below, max above); colour is the objective.',
    spec: trials.length ? parallelChart(trials, evaluations, sweep.objective, sweep.direction) : null,
    empty: 'No trials.',
  });

  const bestId = ranked[0];
  let panels: ConfusionPanel[] = [];
  if (bestId !== undefined) {
    const evals = byTrial(testEvaluations(evaluations)).get(bestId) ?? [];
    const sets = new Set(data.bestConfusion.map((c) => c.testSet));
    const clean = cleanOf(evals);
    const worst = worstNoisyOf(evals.filter((e) => sets.has(e.testSet)));
    if (clean && sets.has(clean.testSet)) panels.push({ set: clean.testSet, title: `clean: ${clean.testSet} (acc ${clean.accuracy.toFixed(3)})` });
    if (worst) panels.push({ set: worst.testSet, title: `worst noisy: ${worst.testSet} (acc ${worst.accuracy.toFixed(3)})` });
    if (panels.length === 0 && sets.size) panels = [...sets].slice(0, 2).map((s) => ({ set: s, title: s }));
  }
  out.push({
    id: 'chart-confusion',
    section: 'confusion',
    title: `Confusion matrices of the best trial${bestId !== undefined ? ` (${bestId})` : ''}`,
    caption: 'Rows are true classes, columns predictions; colour is the share of the true class, the number the count.',
    spec: panels.length ? confusionChart(data.bestConfusion, panels) : null,
    empty: 'No confusion matrix recorded for the best trial.',
  });
  return out;
}
