/** Test helper: reads a tracking file and checks its invariants (no duplicate or missing epochs). */
import { listEpochs, listEvaluations, listTrials, openTracking, type EpochRow, type TrialRow } from '@mri-robust/tracking';

export interface DbSnapshot {
  trials: TrialRow[];
  epochs: EpochRow[];
  evaluations: number;
  problems: string[];
}

export async function snapshotDb(file: string, sweepId: string): Promise<DbSnapshot> {
  const t = await openTracking(file, { readOnly: true });
  try {
    const trials = await listTrials(t, sweepId);
    const epochs = await listEpochs(t, sweepId);
    const evaluations = (await listEvaluations(t, sweepId)).length;
    const dup = await t.all<{ n: number }>(
      'SELECT count(*) AS n FROM (SELECT trial_id, epoch, count(*) c FROM epochs WHERE sweep_id = $1 GROUP BY ALL HAVING c > 1)',
      [sweepId],
    );
    const problems: string[] = [];
    if (dup[0].n !== 0) problems.push(`${dup[0].n} duplicate epochs`);
    const byTrial = new Map<string, number[]>();
    for (const e of epochs) byTrial.set(e.trial_id, [...(byTrial.get(e.trial_id) ?? []), e.epoch]);
    for (const tr of trials) {
      const eps = byTrial.get(tr.trial_id) ?? [];
      // epochs are 1..k without gaps
      if (eps.some((e, i) => e !== i + 1)) problems.push(`${tr.trial_id}: epochs ${eps.join(',')} have a gap`);
      if (tr.status === 'finished' || tr.status === 'pruned') {
        if (eps.length !== tr.epochs_run) problems.push(`${tr.trial_id}: ${eps.length} epoch rows, epochs_run ${tr.epochs_run}`);
        if (tr.best_epoch === null || tr.objective === null) problems.push(`${tr.trial_id}: done without best epoch/objective`);
      }
      if (tr.status === 'pending' && eps.length > 0) problems.push(`${tr.trial_id}: pending with epochs`);
    }
    return { trials, epochs, evaluations, problems };
  } finally {
    await t.close();
  }
}

/**
 * What a sweep produced, by trial index, without what legitimately differs between runs (timestamps,
 * seconds, attempts, paths, trial ids — which carry the experiment's name): trial statuses, epochs,
 * objectives and every metric. Two runs of the same experiment and seed must give equal outcomes.
 */
export async function sweepOutcome(file: string, sweepId: string): Promise<unknown[]> {
  const t = await openTracking(file, { readOnly: true });
  try {
    const trials = await listTrials(t, sweepId);
    const epochs = await listEpochs(t, sweepId);
    const evals = await listEvaluations(t, sweepId);
    return trials.map((tr) => ({
      index: tr.trial_index,
      params: tr.params,
      status: tr.status,
      error: tr.error,
      best_epoch: tr.best_epoch,
      objective: tr.objective,
      epochs_run: tr.epochs_run,
      pruned_at_epoch: tr.pruned_at_epoch,
      temperature: tr.temperature,
      epochs: epochs
        .filter((e) => e.trial_id === tr.trial_id)
        .map(({ epoch, train_loss, train_accuracy, val_loss, val_accuracy, val_noisy_accuracy, objective, learning_rate }) => ({
          epoch,
          train_loss,
          train_accuracy,
          val_loss,
          val_accuracy,
          val_noisy_accuracy,
          objective,
          learning_rate,
        })),
      evaluations: evals.filter((e) => e.trial_id === tr.trial_id).map(({ sweep_id: _s, trial_id: _t, ...rest }) => rest),
    }));
  } finally {
    await t.close();
  }
}
