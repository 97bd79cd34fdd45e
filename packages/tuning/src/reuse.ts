/**
 * Reusing trained trials (issue #11 item 3). A trial's training key (plan.ts) covers everything its
 * training depends on, so a trial of a new sweep whose key equals that of a trial finished or pruned
 * in an earlier sweep — typically the same experiment with a noisy test set added or changed — needs
 * no training: its model is reused and only evaluated on the new sweep's test sets (model package
 * `reevaluateTrial`), and its epochs, objective and pruning come from the earlier trial's record.
 * The earlier trials are found in the trial-folder records (trial-record.ts), not in the database:
 * they are the durable copy, and a trial whose folder lost its model is simply trained again.
 */
import fs from 'node:fs';
import path from 'node:path';
import { readEvents, summarizeTrialRecord, sweepRecordFile, trialRecordFile, type SweepEvent, type TrialEvent } from './trial-record.ts';

type TrialEndEvent = Extract<TrialEvent, { type: 'end' }>;

interface TrainedTrial {
  trainingKey: string;
  sweepId: string;
  trialId: string;
  /** The trial folder (model/, evaluation.json, predictions.json). */
  trialDir: string;
  /** Its last record: status finished or pruned, epochs, objectives, pruning epoch. */
  end: TrialEndEvent;
}

/** Sweep folders (those holding a sweep.jsonl) directly under each of `roots`, sorted, without repeats. */
export function sweepFoldersUnder(roots: readonly string[]): string[] {
  const out = new Set<string>();
  for (const root of roots) {
    if (!fs.existsSync(root)) continue;
    for (const d of fs.readdirSync(root, { withFileTypes: true })) {
      const dir = path.resolve(root, d.name);
      if (d.isDirectory() && fs.existsSync(sweepRecordFile(dir))) out.add(dir);
    }
  }
  return [...out].sort();
}

/**
 * For each wanted training key, a done trial of another sweep (the first in folder order) whose
 * record ends finished or pruned and whose folder still holds its model and results.
 */
export function findTrainedTrials(folders: readonly string[], wanted: ReadonlySet<string>, skipSweepId: string): Map<string, TrainedTrial> {
  const found = new Map<string, TrainedTrial>();
  for (const folder of folders) {
    if (found.size === wanted.size) break;
    const begins = readEvents<SweepEvent>(sweepRecordFile(folder)).events.filter((e): e is Extract<SweepEvent, { type: 'begin' }> => e.type === 'begin');
    if (begins.length === 0) continue;
    const sweepId = begins[begins.length - 1].sweep.sweepId;
    if (sweepId === skipSweepId) continue;
    const byTrial = new Map<string, string>();
    for (const b of begins)
      for (const t of b.trials) if (t.trainingKey && wanted.has(t.trainingKey) && !found.has(t.trainingKey)) byTrial.set(t.trialId, t.trainingKey);
    for (const [trialId, trainingKey] of byTrial) {
      if (found.has(trainingKey)) continue;
      const trialDir = path.join(folder, trialId);
      const rec = summarizeTrialRecord(trialRecordFile(folder, trialId));
      const last = rec.events[rec.events.length - 1];
      if (!last || last.type !== 'end' || (rec.status !== 'finished' && rec.status !== 'pruned')) continue;
      // The start that this end closes must be of the same training key (a trial id is reused only for it).
      const start = [...rec.events].reverse().find((e): e is Extract<TrialEvent, { type: 'start' }> => e.type === 'start');
      if (start?.trial.trainingKey !== undefined && start.trial.trainingKey !== trainingKey) continue;
      if (!['model/metadata.json', 'evaluation.json', 'predictions.json'].every((f) => fs.existsSync(path.join(trialDir, f)))) continue;
      found.set(trainingKey, { trainingKey, sweepId, trialId, trialDir, end: last });
    }
  }
  return found;
}
