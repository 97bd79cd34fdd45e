/**
 * Child process of a queue worker: finds (by content key, in the worker's runs/cache) or builds the
 * upstream stages of an experiment — the same ensurePipeline chain the orchestrator runs, so the keys
 * and outputs are identical for identical inputs and code. Kept out of the worker's own process so a
 * long stage build never starves the worker's job-lock renewals.
 *   node --import tsx stages-child.ts <experiment path> <runs dir>   (experiment text on stdin)
 * Progress goes to stderr; the result is the last stdout line: `@@stages {"ingest":{key,dir,hit},…}`.
 */
import { parseExperiment, runMain } from '@mri-robust/core';
import { ALL_SCHEMA_PARTS } from '../parts.ts';
import { ensureStages } from '../sweep.ts';

runMain(async () => {
  const [file, runsDir] = process.argv.slice(2);
  if (!file || !runsDir) throw new Error('usage: stages-child.ts <experiment path> <runs dir> < experiment.yaml');
  const chunks: Buffer[] = [];
  for await (const c of process.stdin) chunks.push(c as Buffer);
  const experiment = { ...parseExperiment(Buffer.concat(chunks).toString('utf8'), file, [...ALL_SCHEMA_PARTS]), runsDir };
  const stages = await ensureStages(experiment, (l) => process.stderr.write(`${l}\n`));
  process.stdout.write(`@@stages ${JSON.stringify(stages)}\n`);
});
