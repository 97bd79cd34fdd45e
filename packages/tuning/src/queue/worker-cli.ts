/**
 * `tuning worker --queue=redis://HOST:PORT[/DB] [--concurrency=N] [--runs=DIR]` (Nx: tuning:worker):
 * runs trial jobs from the queue until stopped (SIGINT/SIGTERM: running trials go back to the queue
 * and re-run elsewhere). The queue URL may also come from MRI_QUEUE.
 */
import os from 'node:os';
import path from 'node:path';
import { parseFlags, stringFlag, UserError, workspaceRoot } from '@mri-robust/core';
import { QueueWorker } from './agent.ts';
import { parseQueueUrl } from './url.ts';

export async function workerCommand(argv: readonly string[]): Promise<number> {
  const args = parseFlags(argv, { queue: 'string', concurrency: 'string', runs: 'string' });
  const raw = stringFlag(args, 'queue') ?? process.env.MRI_QUEUE;
  if (!raw) throw new UserError('worker: give the queue with --queue=redis://HOST:PORT/DB (or MRI_QUEUE)');
  const config = parseQueueUrl(raw, stringFlag(args, 'queue') !== undefined ? '--queue' : 'MRI_QUEUE');
  // The trial and stage processes this worker starts inherit its environment: not the secret.
  delete process.env.MRI_QUEUE;
  delete process.env.MRI_QUEUE_PASSWORD;
  const cText = stringFlag(args, 'concurrency') ?? '1';
  const concurrency = Number(cText);
  if (!Number.isInteger(concurrency) || concurrency < 1 || concurrency > os.availableParallelism() * 4) {
    throw new UserError(`--concurrency must be an integer from 1 to ${os.availableParallelism() * 4}, got ${cText}`);
  }
  const runs = stringFlag(args, 'runs');
  const runsDir = runs ? path.resolve(process.cwd(), runs) : path.join(workspaceRoot(), 'runs');
  const worker = new QueueWorker({ config, concurrency, runsDir, log: (l) => process.stderr.write(`${l}\n`) });
  // Signals are heard from the start; one that comes while connecting stops the worker once it is up.
  let started = false;
  let stopWith: string | null = null;
  const stop = (sig: string) => {
    stopWith = `${sig}: running trials go back to the queue`;
    if (started) void worker.close(stopWith);
  };
  process.once('SIGINT', () => stop('SIGINT'));
  process.once('SIGTERM', () => stop('SIGTERM'));
  await worker.start();
  started = true;
  if (stopWith) void worker.close(stopWith);
  return worker.wait();
}
