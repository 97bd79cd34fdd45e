/** Text summaries of a sweep read from the tracking store: the top-trials table and the best trial. */
import { formatTable } from './table.ts';
import { getSweep, listEpochs, listEvaluations, listTrials, rankedTrials, type Tracking, type TrialRow } from '@mri-robust/tracking';

const f4 = (x: number | null | undefined) => (x === null || x === undefined || !Number.isFinite(x) ? '-' : x.toFixed(4));

/** Exit code of a sweep that recorded everything but has failed trials (1 is a bad input or a crash). */
export const EXIT_TRIALS_FAILED = 3;

/** The last line of a sweep with failed trials: which, and the exit code (their reasons are in the summary). */
export function failedTrialsLine(sweepId: string, failed: readonly string[]): string {
  const shown = failed.slice(0, 10).join(', ') + (failed.length > 10 ? `, … (${failed.length} in all)` : '');
  return `sweep ${sweepId}: ${failed.length} trial${failed.length === 1 ? '' : 's'} failed (${shown}); exit code ${EXIT_TRIALS_FAILED}`;
}

/** The top `n` trials by objective, plus a count of trials by status. */
export async function summaryTable(t: Tracking, sweepId: string, n = 10): Promise<string> {
  const sweep = await getSweep(t, sweepId);
  if (!sweep) return `no sweep ${sweepId}\n`;
  const ranked = (await rankedTrials(t, sweepId)).slice(0, n);
  const all = await listTrials(t, sweepId);
  const counts = new Map<string, number>();
  for (const r of all) counts.set(r.status, (counts.get(r.status) ?? 0) + 1);
  const evals = await listEvaluations(t, sweepId);
  const cleanTest = new Map<string, number>();
  for (const e of evals) if (e.noise_kind === 'none' && !cleanTest.has(e.trial_id)) cleanTest.set(e.trial_id, e.accuracy);
  const noisyMean = new Map<string, number[]>();
  for (const e of evals) if (e.noise_kind !== 'none') noisyMean.set(e.trial_id, [...(noisyMean.get(e.trial_id) ?? []), e.accuracy]);
  const rows = ranked.map((r, i) => {
    const noisy = noisyMean.get(r.trial_id);
    return [
      String(i + 1),
      r.trial_id,
      String(r.learning_rate),
      String(r.dropout),
      String(r.batch_size),
      r.status,
      `${r.best_epoch ?? '-'}/${r.epochs_run ?? '-'}`,
      f4(r.objective),
      f4(cleanTest.get(r.trial_id)),
      noisy ? f4(noisy.reduce((a, b) => a + b, 0) / noisy.length) : '-',
    ];
  });
  const head =
    `\nTop ${ranked.length} trials of sweep ${sweepId} (${sweep.objective}, ${sweep.direction}); ` + [...counts].map(([s, c]) => `${c} ${s}`).join(', ') + '\n';
  const table = formatTable(['#', 'trial', 'lr', 'dropout', 'batch', 'status', 'best/epochs', sweep.objective, 'test acc', 'noisy acc'], rows);
  const failed = all.filter((r) => r.status === 'failed');
  const failText = failed.length ? `\nFailed trials:\n${failed.map((r) => `  ${r.trial_id}: ${(r.error ?? '').split('\n')[0]}`).join('\n')}\n` : '';
  return `${head}${table}${failText}\n`;
}

/** The best trial's parameters, metrics, evaluations and model path, as text. */
export async function bestTrialReport(t: Tracking, sweepId: string): Promise<{ text: string; best: TrialRow | null }> {
  const sweep = await getSweep(t, sweepId);
  if (!sweep) return { text: `no sweep ${sweepId} in ${t.file}\n`, best: null };
  const best = (await rankedTrials(t, sweepId))[0] ?? null;
  if (!best) return { text: `sweep ${sweepId}: no finished trial yet\n`, best: null };
  const epochs = await listEpochs(t, sweepId, best.trial_id);
  const at = epochs.find((e) => e.epoch === best.best_epoch);
  const evals = await listEvaluations(t, sweepId, best.trial_id);
  const lines = [
    `sweep      ${sweepId} (${sweep.name}, ${sweep.strategy}, status ${sweep.status})`,
    `best trial ${best.trial_id} (${best.status})`,
    `params     learning_rate=${best.learning_rate} dropout=${best.dropout} batch_size=${best.batch_size} seed=${best.seed}`,
    `objective  ${sweep.objective} = ${f4(best.objective)} at epoch ${best.best_epoch} of ${best.epochs_run}`,
  ];
  if (at) {
    lines.push(
      `epoch ${at.epoch}   train loss ${f4(at.train_loss)} acc ${f4(at.train_accuracy)} | val loss ${f4(at.val_loss)} acc ${f4(at.val_accuracy)}` +
        (at.val_noisy_accuracy !== null ? ` noisy acc ${f4(at.val_noisy_accuracy)}` : ''),
    );
  }
  lines.push(`backend    ${best.backend ?? '-'}; temperature ${f4(best.temperature)}`);
  lines.push(`model      ${best.model_path ?? '-'}`);
  lines.push(`log        ${best.log_path ?? '-'}`);
  let text = lines.join('\n') + '\n';
  if (evals.length) {
    text +=
      '\n' +
      formatTable(
        ['test set', 'noise', 'severity', 'n', 'accuracy', '95% CI', 'macro-F1', 'ECE', 'ECE (cal.)'],
        evals.map((e) => [
          e.test_set,
          e.noise_kind,
          String(e.severity),
          String(e.n),
          f4(e.accuracy),
          `${f4(e.ci_low)}–${f4(e.ci_high)}`,
          f4(e.macro_f1),
          f4(e.ece),
          f4(e.ece_calibrated),
        ]),
      );
  }
  return { text, best };
}
