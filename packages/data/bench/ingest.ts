// Ingest of experiments/brain-mri.yaml (both shared sets) into a fresh temporary runs folder:
// one cold build, then warm reruns (cache hits, listing + key only). Writes runs/bench/ingest.json.
import { mkdtemp, rm, writeFile, mkdir } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { loadExperiment, workspaceRoot } from '@mri-robust/core';
import { dataSchemaPart, readIngestReport, runIngest } from '@mri-robust/data';

const file = process.argv[2] ?? path.join(workspaceRoot(), 'experiments', 'brain-mri.yaml');
const tmp = await mkdtemp(path.join(os.tmpdir(), 'ingest-bench-'));
try {
  const experiment = { ...loadExperiment(file, [dataSchemaPart]), runsDir: tmp };
  const log = () => {};
  let t = Date.now();
  const cold = await runIngest(experiment, { log });
  const coldSeconds = (Date.now() - t) / 1000;
  const warm: number[] = [];
  for (let i = 0; i < 5; i++) {
    t = Date.now();
    const r = await runIngest(experiment, { log });
    if (!r.hit) throw new Error('warm rerun was not a cache hit');
    warm.push((Date.now() - t) / 1000);
  }
  const report = await readIngestReport(cold.dir);
  const sorted = [...warm].sort((a, b) => a - b);
  const result = {
    experiment: path.relative(workspaceRoot(), file),
    files: report.totals.files,
    kept: report.totals.kept,
    coldSeconds,
    phaseSeconds: report.seconds,
    warmSecondsMedian: sorted[Math.floor(sorted.length / 2)],
    warmSeconds: warm,
    imagesPerSecondCold: report.totals.files / coldSeconds,
    cpus: os.cpus().length,
  };
  const out = path.join(workspaceRoot(), 'runs', 'bench');
  await mkdir(out, { recursive: true });
  await writeFile(path.join(out, 'ingest.json'), JSON.stringify(result, null, 2));
  process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
} finally {
  await rm(tmp, { recursive: true, force: true });
}
