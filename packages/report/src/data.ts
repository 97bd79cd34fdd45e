/**
 * Reads one sweep (or the list of sweeps) from the tracking database, read-only, through the
 * tracking package's read API (tables: ARCHITECTURE.md "Tracking"). Rows are mapped to the report's
 * own types by the pure functions in rows.ts.
 */
import { UserError } from '@mri-robust/core';
import { getSweep, latestSweep, listConfusion, listEpochs, listEvaluations, listSweeps, listTrials, type Tracking } from '@mri-robust/tracking';

import { byTrial, cleanOf, rankTrials, testEvaluations, toConfusion, toEpoch, toEvaluation, toSweep, toTrial, worstNoisyOf } from './rows.ts';
import type { SweepData, SweepInfo, SweepSummary } from './types.ts';

type Row = Record<string, unknown>;
const rows = (r: unknown[]): Row[] => r as Row[];

/** Every sweep, newest first. */
export async function readSweeps(db: Tracking): Promise<SweepInfo[]> {
  return rows(await listSweeps(db)).map(toSweep);
}

/** The sweep with this id, or (no id) the latest one; a UserError naming what exists otherwise. */
export async function resolveSweep(db: Tracking, sweepId?: string): Promise<SweepInfo> {
  if (sweepId === undefined) {
    const latest = await latestSweep(db);
    if (!latest) throw new UserError('the tracking database holds no sweep yet: run one first (npx nx run tuning:sweep)');
    return toSweep(latest as unknown as Row);
  }
  const s = await getSweep(db, sweepId);
  if (!s) {
    const all = await readSweeps(db);
    const known =
      all
        .slice(0, 10)
        .map((x) => x.sweepId)
        .join(', ') || '(none)';
    throw new UserError(`--sweep ${sweepId}: no such sweep in the tracking database (known: ${known}${all.length > 10 ? ', …' : ''})`);
  }
  return toSweep(s as unknown as Row);
}

export async function readSweepData(db: Tracking, sweep: SweepInfo): Promise<SweepData> {
  const id = sweep.sweepId;
  const trials = rows(await listTrials(db, id)).map(toTrial);
  const epochs = rows(await listEpochs(db, id)).map(toEpoch);
  const evaluations = rows(await listEvaluations(db, id)).map(toEvaluation);
  const ranked = rankTrials(trials, sweep.direction);
  const best = ranked[0];
  const bestConfusion = best === undefined ? [] : rows(await listConfusion(db, id, best)).map(toConfusion);
  return { sweep, trials, epochs, evaluations, ranked, bestConfusion };
}

/** One line per sweep (newest first) with its best trial, for the index page. */
export async function readSweepSummaries(db: Tracking): Promise<SweepSummary[]> {
  const sweeps = await readSweeps(db);
  const out: SweepSummary[] = [];
  for (const sweep of sweeps) {
    const trials = rows(await listTrials(db, sweep.sweepId)).map(toTrial);
    const bestId = rankTrials(trials, sweep.direction)[0];
    const bestTrial = trials.find((t) => t.trialId === bestId);
    let best: SweepSummary['best'] = null;
    if (bestTrial) {
      const evals = byTrial(testEvaluations(rows(await listEvaluations(db, sweep.sweepId, bestTrial.trialId)).map(toEvaluation))).get(bestTrial.trialId) ?? [];
      best = {
        trialId: bestTrial.trialId,
        objective: bestTrial.objective as number,
        cleanAccuracy: cleanOf(evals)?.accuracy ?? null,
        worstNoisyAccuracy: worstNoisyOf(evals)?.accuracy ?? null,
      };
    }
    out.push({ sweep, trials: trials.length, finished: trials.filter((t) => t.status === 'finished').length, best });
  }
  return out;
}
