/**
 * The sweep orchestrator (`nx run tuning:sweep`): validates the whole experiment, makes sure the
 * upstream stages are built (cache hits when unchanged), then runs the trials on a pool of warm
 * worker processes, pruning on the per-epoch objective and recording everything in the tracking
 * database, of which it is the only writer. Running the same experiment again resumes its sweep.
 * A trial whose training key matches a trial done in another sweep (the same experiment with other
 * noisy test sets) is not trained: its model is reused and re-evaluated (reuse.ts).
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseDocument, LineCounter, isMap, isSeq, type Node } from 'yaml';
import {
  ExperimentError,
  formatProgress,
  gitCommit,
  loadExperiment,
  parseExperiment,
  ensurePipeline,
  UserError,
  workspaceRoot,
  type Experiment,
  type ExperimentIssue,
} from '@mri-robust/core';
import type { EpochMessageRecord, StageRef, TrialJob } from './messages.ts';
import { isBetter, objectiveDirection, objectiveValue, type Direction } from './objective.ts';
import { ALL_SCHEMA_PARTS } from './parts.ts';
import { ingestRunner } from '@mri-robust/data';
import { benchmarkOf, noiseRunner, noiseSettingsOf } from '@mri-robust/noise';
import { augmentRunner } from '@mri-robust/augment';
import { embedRunner, modelSettingsOf, openEmbedOutput, reevaluateTrial, trainSettingsOf, type EmbedOutput } from '@mri-robust/model';
import { experimentHash, planTrials, sweepIdOf, trialExperiment, withTrainingKeys, type PlannedTrial } from './plan.ts';
import { findTrainedTrials, sweepFoldersUnder } from './reuse.ts';
import { codeVersion } from './queue/protocol.ts';
import { runPool, type PoolStats, type TrialOutcome } from './pool.ts';
import { checkQueue, copyBestModel, queueOf, queuePool } from './queue/index.ts';
import { DecisionBroker } from './decisions.ts';
import { SweepRecorder, TrackingWriteError } from './record.ts';
import { recoverFromTrialRecords } from './import.ts';
import { describeTrialFailure, RecordWriteError } from './trial-record.ts';
import { checkSweepSection, resolveSweepSettings, sweepSectionOf, type SweepSection, type SweepSettings } from './schema.ts';
import { summaryTable } from './summary.ts';
import { bestTrial, listEpochs, listTrials, openTracking, TRACKING_FILE, type Tracking, type TrialRow } from '@mri-robust/tracking';
import { GALLERY_DIR, noteGalleryFailure, writeBestGallery, writeSweepPointers } from './pointers.ts';

export interface LoadedSweep {
  experiment: Experiment;
  settings: SweepSettings;
  sweepId: string;
  experimentHash: string;
  direction: Direction;
  trials: PlannedTrial[];
}

function lineOf(experiment: Experiment, pointer: string): { line: number; column: number } {
  const lc = new LineCounter();
  const doc = parseDocument(experiment.text, { lineCounter: lc });
  let node = doc.contents as Node | null;
  for (const seg of pointer.slice(1).split('/')) {
    let next: Node | null = null;
    if (isMap(node)) next = (node.items.find((p) => String((p.key as { value?: unknown })?.value) === seg)?.value as Node) ?? null;
    else if (isSeq(node)) next = (node.items[Number(seg)] as Node) ?? null;
    if (!next) break;
    node = next;
  }
  const pos = lc.linePos(node?.range?.[0] ?? 0);
  return { line: pos.line, column: pos.col };
}

/** Loads the experiment with every package's schema part and resolves the sweep plan (`text`: the file's text, given). */
export async function loadSweep(experimentFile: string, text?: string): Promise<LoadedSweep> {
  const experiment = text === undefined ? loadExperiment(experimentFile, [...ALL_SCHEMA_PARTS]) : parseExperiment(text, experimentFile, [...ALL_SCHEMA_PARTS]);
  const section = sweepSectionOf(experiment);
  const shown = path.relative(process.cwd(), experiment.file) || experiment.file;
  if (!section.strategy) {
    throw new ExperimentError([{ file: shown, line: 1, column: 1, pointer: '/sweep', message: 'a sweep needs a `sweep` section with strategy and space' }]);
  }
  const issues: ExperimentIssue[] = [...checkSweepSection(section), ...checkObjectiveInputs(experiment, section), ...checkConsistencyInputs(experiment)].map(
    (i) => ({
      file: shown,
      ...lineOf(experiment, i.pointer),
      ...i,
    }),
  );
  if (issues.length > 0) throw new ExperimentError(issues);
  const train = trainSettingsOf(experiment);
  const settings = resolveSweepSettings(section, { learningRate: train.learning_rate, dropout: train.dropout, batchSize: train.batch_size }, experiment.seed);
  const hash = experimentHash(experiment.config);
  return {
    experiment,
    settings,
    sweepId: sweepIdOf(experiment.name, hash),
    experimentHash: hash,
    direction: objectiveDirection(settings.objective),
    trials: planTrials(experiment.config, settings),
  };
}

/** An objective whose sets the experiment does not build: one issue naming the fields to set. */
function checkObjectiveInputs(experiment: Experiment, section: SweepSection): { pointer: string; message: string }[] {
  if (section.objective !== 'mean_corruption_val_accuracy') return [];
  const benchmark = benchmarkOf(experiment);
  const splits = noiseSettingsOf(experiment).eval.splits;
  if (benchmark !== 'none' && splits.includes('val')) return [];
  return [
    {
      pointer: '/sweep/objective',
      message:
        'mean_corruption_val_accuracy needs the benchmark on the validation split: set noise.eval.benchmark (mri-c)' +
        `${benchmark === 'none' ? '' : ' (set)'} and add val to noise.eval.splits (now [${splits.join(', ')}])`,
    },
  ];
}

/** train.consistency without noisy copies of the training images to pair: one issue naming the fields to set. */
function checkConsistencyInputs(experiment: Experiment): { pointer: string; message: string }[] {
  if (!(trainSettingsOf(experiment).consistency > 0)) return [];
  const noise = noiseSettingsOf(experiment).train;
  if (noise.mode === 'copies' && noise.fraction > 0 && noise.splits.includes('train')) return [];
  return [
    {
      pointer: '/train/consistency',
      message:
        'needs noisy copies of the training images beside them: set noise.train.mode copies, noise.train.fraction > 0 and train in noise.train.splits' +
        ` (now mode ${noise.mode}, fraction ${noise.fraction}, splits [${noise.splits.join(', ')}])`,
    },
  ];
}

export interface StageOutputs {
  ingest: StageRef;
  noise: StageRef;
  augment: StageRef;
  embed: StageRef;
}

/** Runs (or finds cached) ingest → noise → augment → embed in this process. */
export async function ensureStages(experiment: Experiment, log?: (line: string) => void): Promise<StageOutputs> {
  const out = await ensurePipeline(experiment, 'embed', { ingest: ingestRunner, noise: noiseRunner, augment: augmentRunner, embed: embedRunner }, { log });
  const ref = (r: StageRef | undefined): StageRef => {
    if (!r) throw new Error('sweep: the pipeline left a stage out');
    return { key: r.key, dir: r.dir, hit: r.hit };
  };
  return { ingest: ref(out.ingest), noise: ref(out.noise), augment: ref(out.augment), embed: ref(out.embed) };
}

interface SweepOptions {
  experimentFile: string;
  /** Overrides sweep.max_parallel. */
  maxParallel?: number;
  /** Extra environment for trial workers. */
  workerEnv?: Record<string, string>;
  /** Where progress goes (default stderr). */
  log?: (line: string) => void;
  /** Where the summary table goes (default stdout). */
  out?: (text: string) => void;
  /** Upstream stage outputs already built by the caller (skips ensureStages). */
  stages?: StageOutputs;
  /** Tracking database (default `<runs>/tracking.duckdb`). */
  trackingFile?: string;
  /** Folder of the trial folders (default `<runs>/trials/<sweep id>`). */
  trialsDir?: string;
  /** Write the best trial's Grad-CAM gallery at the end (default true). */
  gallery?: boolean;
  /** Run the trials on queue workers (redis://…; `local`: the local pool); else MRI_QUEUE, then sweep.queue. */
  queue?: string;
}

interface SweepResult {
  sweepId: string;
  trackingFile: string;
  total: number;
  skipped: number;
  ran: number;
  /** Trials not trained: the model of a trial with the same training key in another sweep, re-evaluated (counted in `ran` too). */
  reused: number;
  finished: number;
  pruned: number;
  failed: number;
  /** Trials that ended failed (all of them, whichever run failed them). */
  failedTrials: string[];
  best: { trialId: string; objective: number } | null;
  wallSeconds: number;
  stageSeconds: number;
  /** Sum over trials run now of the seconds each spent inside trainTrial. */
  trainSeconds: number;
  /** Sum over trials run now of dispatch-to-result seconds. */
  trialWallSeconds: number;
  pool: PoolStats;
}

const DONE = new Set(['finished', 'pruned']);

function readDataSummary(dir: string): unknown {
  const f = path.join(dir, 'report.json');
  try {
    return JSON.parse(fs.readFileSync(f, 'utf8'));
  } catch {
    return null;
  }
}

/**
 * Feeds the trials done in an earlier run to the pruner, so pruning goes on as if uninterrupted,
 * and returns the ids of done trials to rerun: those compared with a lower trial that failed (and
 * is rerun now) at epochs it never reached.
 */
async function replayPruner(t: Tracking, sweepId: string, rows: TrialRow[], broker: DecisionBroker): Promise<Set<string>> {
  const epochs = await listEpochs(t, sweepId);
  const byTrial = new Map<string, { epoch: number; objective: number | null }[]>();
  for (const e of epochs) {
    const l = byTrial.get(e.trial_id) ?? [];
    l.push(e);
    byTrial.set(e.trial_id, l);
  }
  const done = rows.filter((r) => DONE.has(r.status));
  const failed = rows.filter((r) => r.status === 'failed').map((r) => ({ index: r.trial_index, reached: (byTrial.get(r.trial_id) ?? []).length }));
  const stale = broker.stale(
    done.map((r) => ({ index: r.trial_index, epochsRun: (byTrial.get(r.trial_id) ?? []).length })),
    failed,
  );
  for (const r of done) if (!stale.has(r.trial_index)) broker.replay({ index: r.trial_index, status: r.status, epochs: byTrial.get(r.trial_id) ?? [] });
  return new Set(done.filter((r) => stale.has(r.trial_index)).map((r) => r.trial_id));
}

export async function runSweep(opts: SweepOptions): Promise<SweepResult> {
  const t0 = performance.now();
  const log = opts.log ?? ((l: string) => process.stderr.write(`${l}\n`));
  const out = opts.out ?? ((s: string) => process.stdout.write(s));
  const plan = await loadSweep(opts.experimentFile);
  const { experiment, settings, sweepId, direction } = plan;
  const runsDir = experiment.runsDir;
  const trackingFile = opts.trackingFile ?? path.join(runsDir, TRACKING_FILE);
  const trialsDir = opts.trialsDir ?? path.join(runsDir, 'trials', sweepId);
  const commit = gitCommit();

  // Queue mode: Redis is checked before anything is recorded.
  const queueConfig = queueOf(opts.queue, experiment);
  if (queueConfig) await checkQueue(queueConfig);
  // Opened first: a second sweep on the same runs folder fails here, before any work.
  const tracking = await openTracking(trackingFile);
  // Every change goes to the trial-folder record first, then to the database (record.ts).
  const recorder = new SweepRecorder({ tracking, trialsDir, sweepId });
  try {
    log(`sweep ${sweepId}: ${settings.strategy}, ${plan.trials.length} trials, objective ${settings.objective} (${direction}), pruner ${settings.pruner.kind}`);
    const tStages = performance.now();
    const stages = opts.stages ?? (await ensureStages(experiment, log));
    const stageSeconds = (performance.now() - tStages) / 1000;
    log(
      `stages ready in ${stageSeconds.toFixed(1)} s: ` +
        Object.entries(stages)
          .map(([k, v]) => `${k} ${v.key}${v.hit ? ' (cached)' : ''}`)
          .join(', '),
    );

    const features = await openEmbedOutput(stages.embed.dir);
    if (settings.objective === 'mean_clean_noisy_val_accuracy' && !features.evalSets().some((s) => s.split === 'val' && !s.benchmark)) {
      throw new UserError(`${experiment.file}: sweep.objective mean_clean_noisy_val_accuracy needs noisy validation sets; add val to noise.eval.splits`);
    }
    if (settings.objective === 'mean_corruption_val_accuracy' && !features.evalSets().some((s) => s.split === 'val' && s.benchmark)) {
      throw new UserError(
        `${experiment.file}: sweep.objective mean_corruption_val_accuracy needs the benchmark's validation sets (noise.eval.benchmark, val in noise.eval.splits)`,
      );
    }
    // Training keys: what decides whether a trial of another sweep can be reused (reuse.ts).
    const trainingKey = features.manifest.trainingKey;
    if (trainingKey) plan.trials = withTrainingKeys(plan.trials, experiment.config, settings, trainingKey, codeVersion().tuning);
    const plannedById = new Map(plan.trials.map((tr) => [tr.trialId, tr]));

    // Finished trials the database lost (a WAL lost after a kill) come back from their trial folders.
    await recoverFromTrialRecords(tracking, trialsDir, sweepId, log);
    await recorder.begin(
      {
        sweepId,
        name: experiment.name,
        experimentPath: recorder.relative(experiment.file),
        experimentHash: plan.experimentHash,
        experimentYaml: experiment.text,
        strategy: settings.strategy,
        objective: settings.objective,
        direction,
        seed: settings.seed,
        gitCommit: commit,
        backend: modelSettingsOf(experiment).backend,
        nTrials: plan.trials.length,
        maxParallel: opts.maxParallel ?? settings.maxParallel,
        dataSummary: readDataSummary(stages.ingest.dir),
        noiseSettings: experiment.config.noise ?? null,
        stages: Object.fromEntries(Object.entries(stages).map(([k, v]) => [k, { ...v, dir: recorder.relative(v.dir) }])),
        settings,
      },
      plan.trials,
      commit,
    );
    const rows = await listTrials(tracking, sweepId);
    const status = new Map(rows.map((r) => [r.trial_id, r]));
    const broker = new DecisionBroker(settings.pruner, direction);
    const stale = await replayPruner(tracking, sweepId, rows, broker);
    const isDone = (id: string) => DONE.has(status.get(id)?.status ?? 'pending') && !stale.has(id);
    const indexOf = new Map(plan.trials.map((tr) => [tr.trialId, tr.index]));
    let todo = plan.trials.filter((tr) => !isDone(tr.trialId));
    const skipped = plan.trials.length - todo.length;
    // Best so far, with the ranking's tie rule (objective, then trial index) so the progress line,
    // the summary table and tuning:best name the same trial.
    const bestSoFar: { current: { trialId: string; objective: number; index: number } | null } = { current: null };
    const offer = (trialId: string, index: number, objective: number | null) => {
      const b = bestSoFar.current;
      if (objective === null || !Number.isFinite(objective)) return;
      if (isBetter(direction, objective, b?.objective) || (b !== null && objective === b.objective && index < b.index)) {
        bestSoFar.current = { trialId, objective, index };
      }
    };
    for (const r of rows) if (isDone(r.trial_id)) offer(r.trial_id, r.trial_index, r.objective);
    if (skipped > 0) log(`resuming: ${skipped} of ${plan.trials.length} trials already done, ${todo.length} to run`);
    if (stale.size > 0) {
      log(`rerunning ${stale.size} done trial(s) compared with a failed trial by the pruner: ${[...stale].join(', ')}`);
      // Marked running at once, so a resume after a kill reruns them even if the failed trial is done by then.
      for (const id of stale) await recorder.start(plannedById.get(id)!, path.join(trialsDir, id, 'trial.log'), commit);
    }

    const result: SweepResult = {
      sweepId,
      trackingFile,
      total: plan.trials.length,
      skipped,
      ran: 0,
      reused: 0,
      finished: 0,
      pruned: 0,
      failed: 0,
      failedTrials: [],
      best: null,
      wallSeconds: 0,
      stageSeconds,
      trainSeconds: 0,
      trialWallSeconds: 0,
      pool: { workersStarted: 0, workerStartSeconds: [] },
    };

    // Trials trained in another sweep with the same training key: re-evaluated, never trained.
    const trialExp = trialExperimentOf(experiment, settings.epochs);
    const reused = await reuseTrainedTrials({
      todo,
      runsDir,
      trialsDir,
      sweepId,
      experimentHash: plan.experimentHash,
      experiment: trialExp,
      features,
      recorder,
      commit,
      log,
      onDone: (tr, status, objectives, objective) => {
        broker.replay({ index: tr.index, status, epochs: [...objectives].map(([epoch, o]) => ({ epoch, objective: o })) });
        offer(tr.trialId, tr.index, objective);
        if (status === 'pruned') result.pruned++;
        else result.finished++;
        result.ran++;
        result.reused++;
      },
    });
    todo = todo.filter((tr) => !reused.has(tr.trialId));

    // Per running trial: objectives per epoch, pruning decision, first objective error.
    const live = new Map<string, { objectives: Map<number, number>; prunedAt: number | null; error: string | null }>();
    const queue = [...todo];
    const tRun = performance.now();
    let backend: string | null = null;
    const writes: Promise<void>[] = [];
    // Set when the tracking file cannot be written: no new trial starts, and the sweep stops with it.
    const fatal: { error: Error | null } = { error: null };

    const maxEpochs = settings.epochs ?? trainSettingsOf(experiment).epochs;
    const maxParallel = Math.max(1, Math.min(opts.maxParallel ?? settings.maxParallel, todo.length));
    if (todo.length > 0) {
      result.pool = await (queueConfig ? queuePool({ config: queueConfig, log }) : runPool)(
        {
          size: maxParallel,
          experiment: trialExp,
          stages: { ...stages },
          logDir: trialsDir,
          trialTimeoutS: settings.trialTimeoutS,
          // N trials at once share the cores: each gets cores/N inference threads (never oversubscribed).
          env: { MRI_THREADS: String(Math.max(1, Math.floor(os.availableParallelism() / maxParallel))), ...opts.workerEnv },
          cwd: workspaceRoot(),
        },
        () => {
          const tr = queue.shift();
          if (!tr) return null;
          return {
            trialId: tr.trialId,
            index: tr.index,
            params: tr.params,
            seed: tr.seed,
            outDir: path.join(trialsDir, tr.trialId),
            provenance: { sweep: sweepId, trial: tr.trialId, experimentHash: plan.experimentHash },
          };
        },
        (job) => path.join(trialsDir, job.trialId, 'trial.log'),
        {
          onEpoch(trialId: string, record: EpochMessageRecord): 'continue' | 'stop' | Promise<'continue' | 'stop'> {
            const st = live.get(trialId)!;
            const value = objectiveValue(settings.objective, record);
            st.objectives.set(record.epoch, value);
            writes.push(
              recorder.epoch(trialId, record, value).catch((e: Error) => {
                // The trial folder cannot be written: the trial fails with the reason. The database cannot: the sweep stops.
                if (e instanceof RecordWriteError) st.error ??= e.message;
                else {
                  fatal.error ??= e;
                  queue.length = 0;
                }
              }),
            );
            if (st.error !== null || fatal.error !== null) return 'stop';
            if (Number.isNaN(value)) {
              st.error ??= `objective ${settings.objective} is undefined at epoch ${record.epoch} (needs valNoisyAccuracy: configure noisy validation sets)`;
              return 'stop';
            }
            // The last epoch ends the trial anyway: a trial that ran every epoch is never marked pruned.
            const last = maxEpochs !== null && record.epoch >= maxEpochs;
            return broker.epoch(indexOf.get(trialId)!, record.epoch, value, last ? 'continue' : null).then((decision) => {
              if (decision === 'stop' && st.prunedAt === null) st.prunedAt = record.epoch;
              return decision;
            });
          },
        },
        async (job: TrialJob) => {
          live.set(job.trialId, { objectives: new Map(), prunedAt: null, error: null });
          broker.reset(job.index);
          try {
            await recorder.start(plannedById.get(job.trialId)!, path.join(trialsDir, job.trialId, 'trial.log'), commit);
          } catch (e) {
            if (!(e instanceof RecordWriteError)) throw e;
            // Stopped at its first epoch and recorded as failed with the reason.
            live.get(job.trialId)!.error = e.message;
          }
          log(`${job.trialId} started: learning_rate=${job.params.learningRate} dropout=${job.params.dropout} batch_size=${job.params.batchSize}`);
        },
        async (job: TrialJob, outcome: TrialOutcome) => {
          const st = live.get(job.trialId)!;
          live.delete(job.trialId);
          result.trialWallSeconds += outcome.wallSeconds;
          let line: string;
          if (outcome.ok && st.error === null) {
            const r = outcome.result;
            result.trainSeconds += r.seconds;
            backend ??= r.backend;
            const atBest = st.objectives.get(r.bestEpoch);
            const objective = atBest !== undefined && Number.isFinite(atBest) ? atBest : bestOf(direction, st.objectives);
            const statusNow = st.prunedAt !== null ? 'pruned' : 'finished';
            try {
              await recorder.end(job.trialId, {
                status: statusNow,
                result: r,
                objective,
                objectives: st.objectives,
                prunedAtEpoch: st.prunedAt,
              });
            } catch (e) {
              // Its trial folder cannot hold the result: the trial fails with the reason.
              if (!(e instanceof RecordWriteError)) throw e;
              await recorder.failed(job.trialId, e.message);
              broker.end(job.index);
              result.failed++;
              result.ran++;
              log(`${job.trialId} FAILED: ${e.message}`);
              return;
            }
            broker.end(job.index);
            if (statusNow === 'pruned') result.pruned++;
            else result.finished++;
            offer(job.trialId, job.index, objective);
            line = `${job.trialId} ${statusNow}${st.prunedAt !== null ? `@${st.prunedAt}` : ''} ${settings.objective}=${fmt(objective)} (${r.epochs.length} epochs, ${outcome.wallSeconds.toFixed(1)} s)`;
          } else {
            const error = st.error ?? (outcome.ok ? 'unknown error' : outcome.error);
            await recorder.failed(job.trialId, describeTrialFailure(error, path.join(trialsDir, job.trialId)));
            // Only once the failure is recorded may later trials be decided without this one: a
            // resume then sees it failed and reruns the trials that were (replayPruner).
            broker.end(job.index);
            result.failed++;
            line = `${job.trialId} FAILED: ${error.split('\n')[0]}`;
          }
          result.ran++;
          const progress = formatProgress(`sweep ${sweepId}`, result.ran, todo.length, performance.now() - tRun, 'trials');
          const b = bestSoFar.current;
          const bestText = b ? `best ${b.trialId} ${settings.objective}=${fmt(b.objective)}` : 'best -';
          log(`${progress} | ${bestText} | ${line}`);
        },
      );
    }
    await Promise.all(writes);
    if (fatal.error) throw fatal.error;
    const finalRows = await listTrials(tracking, sweepId);
    const allDone = finalRows.every((r) => DONE.has(r.status));
    result.failedTrials = finalRows.filter((r) => r.status === 'failed').map((r) => r.trial_id);
    await recorder.finish(allDone ? 'finished' : 'incomplete', backend);
    const bestRow = await bestTrial(tracking, sweepId);
    if (queueConfig && bestRow) await copyBestModel({ config: queueConfig, trialDir: path.join(trialsDir, bestRow.trial_id), log });
    result.best = bestRow && bestRow.objective !== null ? { trialId: bestRow.trial_id, objective: bestRow.objective } : null;
    await writeSweepPointers({ runsDir, sweepId, trialsDir, best: bestRow });
    if (bestRow?.model_path && (opts.gallery ?? true)) {
      try {
        const backendPref = modelSettingsOf(experiment).backend;
        const g = await writeBestGallery({ trialsDir, best: bestRow, noiseDir: stages.noise.dir, seed: experiment.seed, backend: backendPref });
        log(`Grad-CAM gallery of ${bestRow.trial_id}: ${g.items.length} overlays in ${path.relative(process.cwd(), path.join(trialsDir, GALLERY_DIR))}`);
      } catch (e) {
        // The sweep's results are recorded already; a gallery failure is a warning, kept in best.json for the report.
        const message = (e as Error).message.split('\n')[0];
        log(`warning: Grad-CAM gallery of ${bestRow.trial_id} failed: ${message}`);
        await noteGalleryFailure(trialsDir, bestRow.trial_id, message).catch(() => undefined);
      }
    }
    result.wallSeconds = (performance.now() - t0) / 1000;
    out(await summaryTable(tracking, sweepId, 10));
    log(
      `sweep ${sweepId}: ${result.finished} finished, ${result.pruned} pruned, ${result.failed} failed, ${skipped} skipped` +
        `${result.reused > 0 ? `, ${result.reused} reused (re-evaluated, not trained)` : ''} ` +
        `in ${result.wallSeconds.toFixed(1)} s; tracking ${path.relative(process.cwd(), trackingFile)}`,
    );
    return result;
  } finally {
    // A database that failed a write may fail its close too; the first error is the one to report.
    await tracking.close().catch(() => undefined);
  }
}

/**
 * Reuses, for each trial to run whose training key a done trial of another sweep has, that trial's
 * model: recorded start, re-evaluation on this sweep's test sets, then the end with the earlier
 * trial's epochs, objectives and status. A trial that cannot be reused (its folder lost files, the
 * model does not load) is left to train, with a warning. Returns the ids of the trials reused.
 */
async function reuseTrainedTrials(o: {
  todo: PlannedTrial[];
  runsDir: string;
  trialsDir: string;
  sweepId: string;
  experimentHash: string;
  experiment: Experiment;
  features: EmbedOutput;
  recorder: SweepRecorder;
  commit: string;
  log: (line: string) => void;
  onDone: (tr: PlannedTrial, status: 'finished' | 'pruned', objectives: Map<number, number>, objective: number | null) => void;
}): Promise<Set<string>> {
  const out = new Set<string>();
  const wanted = new Set(o.todo.flatMap((t) => (t.trainingKey ? [t.trainingKey] : [])));
  if (wanted.size === 0) return out;
  const folders = sweepFoldersUnder([path.join(o.runsDir, 'trials'), path.dirname(path.resolve(o.trialsDir))]);
  const trained = findTrainedTrials(folders, wanted, o.sweepId);
  for (const tr of o.todo) {
    const src = tr.trainingKey ? trained.get(tr.trainingKey) : undefined;
    if (!src) continue;
    const outDir = path.join(o.trialsDir, tr.trialId);
    const logFile = path.join(outDir, 'trial.log');
    const t0 = performance.now();
    try {
      await o.recorder.start(tr, logFile, o.commit);
      const r = await reevaluateTrial({
        experiment: o.experiment,
        features: o.features,
        fromDir: src.trialDir,
        outDir,
        provenance: { sweep: o.sweepId, trial: tr.trialId, experimentHash: o.experimentHash },
      });
      const end = src.end;
      const objectives = new Map(end.objectives);
      const line =
        `reused the model of ${src.sweepId}/${src.trialId} (training key ${tr.trainingKey}): not trained; ` +
        `${r.evaluated.length} test set(s) evaluated [${r.evaluated.join(', ')}], ${r.reused.length} kept`;
      fs.appendFileSync(
        logFile,
        `${line}
`,
      );
      await o.recorder.end(tr.trialId, {
        status: end.status,
        result: {
          bestEpoch: end.result.bestEpoch,
          epochs: end.result.epochs,
          modelDir: r.modelDir,
          backend: end.result.backend,
          evaluations: r.evaluations,
          temperature: r.temperature,
          seconds: end.result.seconds,
        },
        objective: end.objective,
        objectives,
        prunedAtEpoch: end.prunedAtEpoch,
      });
      out.add(tr.trialId);
      o.onDone(tr, end.status, objectives, end.objective);
      o.log(`${tr.trialId} ${end.status} in ${((performance.now() - t0) / 1000).toFixed(1)} s: ${line}`);
    } catch (e) {
      if (e instanceof TrackingWriteError) throw e;
      o.log(`warning: ${tr.trialId}: cannot reuse ${src.sweepId}/${src.trialId} (${(e as Error).message.split('\n')[0]}); training it`);
    }
  }
  return out;
}

/** The experiment a trial trains with (sweep section removed, epochs override applied). */
function trialExperimentOf(experiment: Experiment, epochs: number | null): Experiment {
  return { ...experiment, config: trialExperiment(experiment.config, epochs) as Experiment['config'] };
}

function bestOf(direction: Direction, m: Map<number, number>): number | null {
  let b: number | null = null;
  for (const v of m.values()) if (isBetter(direction, v, b)) b = v;
  return b;
}

function fmt(x: number | null | undefined): string {
  return x === null || x === undefined || !Number.isFinite(x) ? '-' : x.toFixed(4);
}
