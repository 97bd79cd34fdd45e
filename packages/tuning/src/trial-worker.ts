/**
 * Trial worker: a long-lived child of the sweep orchestrator (started with execa, IPC channel).
 * It loads the experiment and the cached features once, then runs the trials it is sent one after
 * another with the model package's trainTrial, sending every epoch and waiting for the
 * orchestrator's continue/stop answer (pruning). It never touches the tracking database.
 * It exits as soon as its parent goes away (IPC disconnect, or a changed parent pid).
 *
 * Test hook: MRI_TUNING_FAULT="throw:3,crash:5,hang:7" makes trial 3 throw in its first epoch,
 * trial 5 SIGKILL its own worker after its first epoch (as the OOM killer would) and trial 7 hang
 * (for trial_timeout_s).
 */
import fs from 'node:fs';
import type { Experiment } from '@mri-robust/core';
import type { EpochMessageRecord, FromWorker, ToWorker, TrialJob } from './messages.ts';
import { packageFunction } from './parts.ts';

type TrainTrial = (opts: {
  experiment: Experiment;
  features: unknown;
  params: TrialJob['params'];
  seed: number;
  outDir: string;
  onEpoch?: (e: EpochMessageRecord) => Promise<'continue' | 'stop'> | 'continue' | 'stop';
}) => Promise<{
  bestEpoch: number;
  epochs: EpochMessageRecord[];
  modelDir: string;
  backend: string;
  evaluations: import('./messages.ts').EvaluationMessageRecord[];
  temperature: number;
}>;

const startedAt = performance.now();
const parentPid = process.ppid;

function send(msg: FromWorker): void {
  if (process.connected) process.send!(msg);
}

// Die with the orchestrator: a SIGKILLed parent closes the IPC channel.
process.on('disconnect', () => process.exit(0));
setInterval(() => {
  if (process.ppid !== parentPid || !process.connected) process.exit(0);
}, 1000).unref();

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
  features: unknown;
  trainTrial: TrainTrial;
}

let state: WorkerState | null = null;
const waiting = new Map<string, (action: 'continue' | 'stop') => void>();

async function init(msg: Extract<ToWorker, { type: 'init' }>): Promise<void> {
  const experiment = msg.experiment;
  const embed = msg.stages.embed;
  if (!embed) throw new Error('no embed stage output was given to the worker');
  const openEmbedOutput = packageFunction<(dir: string) => Promise<unknown>>('model', 'openEmbedOutput');
  const features = await openEmbedOutput(embed.dir);
  state = { experiment, features, trainTrial: packageFunction<TrainTrial>('model', 'trainTrial') };
}

async function runTrial(job: TrialJob): Promise<void> {
  const s = state!;
  const fault = faults().get(job.index);
  fs.rmSync(job.outDir, { recursive: true, force: true });
  fs.mkdirSync(job.outDir, { recursive: true });
  const t0 = performance.now();
  process.stderr.write(`[worker ${process.pid}] trial ${job.trialId} ${JSON.stringify(job.params)} seed ${job.seed}\n`);
  if (fault === 'hang') await new Promise(() => undefined);
  try {
    const result = await s.trainTrial({
      experiment: s.experiment,
      features: s.features,
      params: job.params,
      seed: job.seed,
      outDir: job.outDir,
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

process.on('message', (raw: unknown) => {
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
});
