/**
 * Trial runner, loaded by trial-worker.ts (the entry of a long-lived child of the sweep
 * orchestrator, started with execa with an IPC channel).
 * It loads the experiment and the cached features once, then runs the trials it is sent one after
 * another with the model package's trainTrial, sending every epoch and waiting for the
 * orchestrator's continue/stop answer (pruning). It never touches the tracking database.
 *
 * Test hook: MRI_TUNING_FAULT="throw:3,crash:5,hang:7" makes trial 3 throw in its first epoch,
 * trial 5 SIGKILL its own worker after its first epoch (as the OOM killer would) and trial 7 hang
 * (for trial_timeout_s).
 */
import fs from 'node:fs';
import path from 'node:path';
import type { Experiment } from '@mri-robust/core';
import type { FromWorker, ToWorker, TrialJob } from './messages.ts';
import { openEmbedOutput, trainTrial, type EmbedOutput } from '@mri-robust/model';

const startedAt = Number(process.env.MRI_TUNING_WORKER_T0 ?? performance.now());

function send(msg: FromWorker): void {
  if (process.connected) process.send!(msg);
}

function faults(): Map<number, string> {
  const out = new Map<number, string>();
  for (const item of (process.env.MRI_TUNING_FAULT ?? '').split(',')) {
    const [kind, idx] = item.split(':');
    if (kind && idx !== undefined) out.set(Number(idx), kind);
  }
  return out;
}

interface WorkerState {
  experiment: Experiment;
  features: EmbedOutput;
}

let state: WorkerState | null = null;
const waiting = new Map<string, (action: 'continue' | 'stop') => void>();

async function init(msg: Extract<ToWorker, { type: 'init' }>): Promise<void> {
  const experiment = msg.experiment;
  const embed = msg.stages.embed;
  if (!embed) throw new Error('no embed stage output was given to the worker');
  state = { experiment, features: await openEmbedOutput(embed.dir) };
}

async function runTrial(job: TrialJob): Promise<void> {
  const s = state!;
  const fault = faults().get(job.index);
  // The trial folder keeps its log (trial.log); what an earlier attempt saved is removed.
  fs.mkdirSync(job.outDir, { recursive: true });
  for (const f of ['model', 'evaluation.json']) fs.rmSync(path.join(job.outDir, f), { recursive: true, force: true });
  const t0 = performance.now();
  process.stderr.write(`[worker ${process.pid}] trial ${job.trialId} ${JSON.stringify(job.params)} seed ${job.seed}\n`);
  if (fault === 'hang') await new Promise(() => undefined);
  try {
    const result = await trainTrial({
      experiment: s.experiment,
      features: s.features,
      params: job.params,
      seed: job.seed,
      outDir: job.outDir,
      provenance: job.provenance,
      onEpoch: (record) => {
        if (fault === 'throw') throw new Error(`injected failure (MRI_TUNING_FAULT) in trial ${job.index}`);
        const key = `${job.trialId}:${record.epoch}`;
        const answer = new Promise<'continue' | 'stop'>((resolve) => waiting.set(key, resolve));
        send({ type: 'epoch', trialId: job.trialId, record: { ...record } });
        if (fault === 'crash') {
          process.stderr.write('injected crash (MRI_TUNING_FAULT): SIGKILL\n');
          process.kill(process.pid, 'SIGKILL');
        }
        return answer;
      },
    });
    const seconds = (performance.now() - t0) / 1000;
    send({
      type: 'result',
      trialId: job.trialId,
      result: {
        bestEpoch: result.bestEpoch,
        epochs: result.epochs.map((e) => ({ ...e })),
        modelDir: result.modelDir,
        backend: result.backend,
        evaluations: result.evaluations,
        temperature: result.temperature,
        seconds,
      },
    });
  } catch (e) {
    const err = e as Error;
    process.stderr.write(`${err.stack ?? err.message}\n`);
    send({ type: 'error', trialId: job.trialId, message: err.message || String(e) });
  }
}

/** Handles the orchestrator's messages (messages that arrived during start-up are passed in). */
export function serve(early: unknown[]): void {
  for (const m of early) handle(m);
  process.on('message', handle);
}

function handle(raw: unknown): void {
  const msg = raw as ToWorker;
  switch (msg.type) {
    case 'init':
      init(msg).then(
        () => send({ type: 'ready', pid: process.pid, seconds: (performance.now() - startedAt) / 1000 }),
        (e: Error) => {
          process.stderr.write(`${e.stack ?? e.message}\n`);
          send({ type: 'init-error', message: e.message });
        },
      );
      break;
    case 'trial':
      void runTrial(msg.job);
      break;
    case 'decision': {
      const key = `${msg.trialId}:${msg.epoch}`;
      const resolve = waiting.get(key);
      waiting.delete(key);
      resolve?.(msg.action);
      break;
    }
    case 'shutdown':
      process.disconnect();
      process.exit(0);
  }
}
