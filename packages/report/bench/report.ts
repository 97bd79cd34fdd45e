/**
 * Benchmark: build the report of a 100-trial sweep (synthetic rows written into a temp tracking
 * database through the tuning store). Timed 5 times in-process (read DuckDB, build specs, write the
 * HTML: the median must be under 5 s) and, for information, 5 times through the CLI (a fresh
 * process: module loading included) and 5 times a process that only imports @mri-robust/tracking
 * (whose index loads tfjs via model/data/noise), which is most of the CLI's time.
 * JSON → runs/bench/report.json.
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { gitCommit, median, workspaceRoot } from '@mri-robust/core';
import { buildComparison, buildReport } from '../src/build.ts';
import { writeSyntheticSweep } from '../test/synthetic.ts';

const RUNS = 5;
const TRIALS = 100;
const LIMIT_S = 5;

async function main(): Promise<void> {
  const root = workspaceRoot();
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'report-bench-'));
  try {
    const runsDir = path.join(tmp, 'runs');
    const t0 = performance.now();
    await writeSyntheticSweep({ runsDir, sweepId: 'bench-100', trials: TRIALS, seed: 11, ingestKey: 'benchingest00001', predictions: true });
    await writeSyntheticSweep({
      runsDir,
      sweepId: 'bench-100-b',
      trials: TRIALS,
      seed: 12,
      ingestKey: 'benchingest00001',
      predictions: true,
      qualityShift: 0.02,
    });
    const setupSeconds = (performance.now() - t0) / 1000;

    const inProcess: number[] = [];
    let bytes = 0;
    for (let i = 0; i < RUNS; i++) {
      const s = performance.now();
      const r = await buildReport({ runsDir, sweepId: 'bench-100' });
      inProcess.push((performance.now() - s) / 1000);
      bytes = r.reports[0].bytes;
    }
    // report:compare of two 100-trial sweeps, paired tests on 8 shared test sets (2,000 bootstrap resamples each)
    const compare: number[] = [];
    let paired = 0;
    for (let i = 0; i < RUNS; i++) {
      const s = performance.now();
      const c = await buildComparison({ runsDir, sweepIds: ['bench-100', 'bench-100-b'] });
      compare.push((performance.now() - s) / 1000);
      paired = c.paired;
    }
    const cli: number[] = [];
    for (let i = 0; i < RUNS; i++) {
      const s = performance.now();
      execFileSync(process.execPath, ['--import', 'tsx', 'packages/report/src/cli.ts', 'build', '--sweep', 'bench-100', `--runs=${runsDir}`], {
        cwd: root,
        stdio: ['ignore', 'ignore', 'inherit'],
      });
      cli.push((performance.now() - s) / 1000);
    }
    const importOnly: number[] = [];
    for (let i = 0; i < RUNS; i++) {
      const s = performance.now();
      execFileSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', "await import('@mri-robust/tracking')"], { cwd: root, stdio: 'ignore' });
      importOnly.push((performance.now() - s) / 1000);
    }
    const result = {
      name: 'report',
      what: `report:build of a ${TRIALS}-trial sweep (synthetic rows, ~10 epochs and 10 test sets per trial)`,
      runs: RUNS,
      trials: TRIALS,
      htmlBytes: bytes,
      setupSeconds: Number(setupSeconds.toFixed(3)),
      inProcessSeconds: { median: Number(median(inProcess).toFixed(3)), all: inProcess.map((x) => Number(x.toFixed(3))) },
      compareSeconds: { median: Number(median(compare).toFixed(3)), all: compare.map((x) => Number(x.toFixed(3))), pairedTests: paired },
      cliSeconds: { median: Number(median(cli).toFixed(3)), all: cli.map((x) => Number(x.toFixed(3))) },
      importTuningOnlySeconds: { median: Number(median(importOnly).toFixed(3)), all: importOnly.map((x) => Number(x.toFixed(3))) },
      limitSeconds: LIMIT_S,
      pass: median(inProcess) < LIMIT_S,
      node: process.version,
      cpus: os.cpus().length,
      loadavg: os.loadavg().map((x) => Number(x.toFixed(2))),
      gitCommit: gitCommit(),
      at: new Date().toISOString(),
    };
    const out = path.join(root, 'runs', 'bench', 'report.json');
    fs.mkdirSync(path.dirname(out), { recursive: true });
    fs.writeFileSync(out, `${JSON.stringify(result, null, 2)}\n`);
    process.stdout.write(`${JSON.stringify(result, null, 2)}\n→ ${path.relative(process.cwd(), out)}\n`);
    if (!result.pass) process.exitCode = 1;
  } finally {
    fs.rmSync(tmp, { recursive: true, force: true });
  }
}

await main();
