/**
 * CLI of the data package (used by its Nx targets):
 *   ingest [--experiment=experiments/default.yaml]   run the ingest stage, print counts/duplicates/skipped
 *   fingerprint                                       print the hash of all experiments' source listings
 */
import { defaultExperimentFile, loadExperiment, parseFlags, publishNxOutput, runMain, stringFlag, UserError } from '@mri-robust/core';
import { dataSchemaPart } from './schema.ts';
import { dataFingerprint } from './fingerprint.ts';
import { formatReport, readIngestReport, runIngest } from './stage-ingest.ts';

runMain(async () => {
  const usage = 'usage: cli.ts ingest [--experiment=FILE] [--nx-output] | cli.ts fingerprint';
  const args = parseFlags(process.argv.slice(2), { experiment: 'string', 'nx-output': 'boolean' });
  const [cmd] = args._;
  if (cmd === 'ingest') {
    const file = stringFlag(args, 'experiment') ?? defaultExperimentFile();
    const experiment = loadExperiment(file, [dataSchemaPart]);
    const t = Date.now();
    const res = await runIngest(experiment);
    if (args.nxOutput) await publishNxOutput({ stage: 'ingest', experimentArg: file, runsDir: experiment.runsDir, paths: [res.dir] });
    const report = await readIngestReport(res.dir);
    process.stdout.write(`${formatReport(report)}\n`);
    process.stdout.write(`\n${res.hit ? 'cache hit' : 'built'}: ${res.dir} (${((Date.now() - t) / 1000).toFixed(1)} s)\n`);
    return;
  }
  if (cmd === 'fingerprint') {
    process.stdout.write(`${await dataFingerprint()}\n`);
    return;
  }
  throw new UserError(`${usage} (got "${cmd ?? ''}")`);
});
