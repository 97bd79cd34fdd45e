/** Queue mode of the sweep (BullMQ on Redis): what sweep.ts and cli.ts use. */
import path from 'node:path';
import type { Experiment } from '@mri-robust/core';
import { sweepSectionOf } from '../schema.ts';
import { resolveQueue, type QueueConfig } from './url.ts';

export { queuePool, checkQueue } from './orchestrator.ts';
export { copyBestModel } from './best-model.ts';
export { workerCommand } from './worker-cli.ts';

/** The queue a sweep uses: `--queue`, then MRI_QUEUE, then the experiment's sweep.queue; null for the local pool. */
export function queueOf(flag: string | undefined, experiment: Experiment): QueueConfig | null {
  const value = sweepSectionOf(experiment).queue;
  const shown = path.relative(process.cwd(), experiment.file) || experiment.file;
  return resolveQueue({
    flag,
    env: process.env.MRI_QUEUE,
    experiment: value === undefined ? undefined : { value, where: `${shown}: /sweep/queue` },
  });
}
