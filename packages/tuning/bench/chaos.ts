/**
 * Bench (not a test): kill -9 chaos over the quick-start sweep (experiments/default.yaml: 6 trials,
 * median pruner, max_parallel = cores), issue 14.
 *  1. An uninterrupted run (sweep `chaos-base`) is the reference.
 *  2. The same experiment as sweep `chaos-kill`, run through the CLI (a child process, as a user runs
 *     it) while CHAOS_KILLS (default 20) seeded moments (CHAOS_SEED, default 14), 0.5–5 s apart once a trial runs, each SIGKILL either
 *     the orchestrator (then it is resumed) or one of its trial workers (the orchestrator goes on;
 *     the trial fails and is rerun by the next resume). After the last kill, resumes run until one
 *     exits 0 (at most 3).
 * Reported (runs/bench/chaos.json): kills done by target, after every kill the tracking file's
 * problems (duplicate epochs, gaps, done trials without epochs: must stay empty), trials missing or
 * not done at the end, duplicated epochs, and whether the final DuckDB outcome (statuses, epochs,
 * objectives, metrics by trial index) equals the uninterrupted run's.
 * Both sweeps use a temporary runs folder whose `cache` is a link to the workspace's runs/cache, so
 * the stages are shared and nothing of the user's tracking file or pointers is touched.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { execa } from 'execa';
import { parseDocument } from 'yaml';
import { createRng, resolveFrom, workspaceRoot } from '@mri-robust/core';
import { loadSweep } from '../src/sweep.ts';
import { snapshotDb, sweepOutcome } from '../test/check-db.ts';
import { childrenOf } from '../test/queue-helpers.ts';

const root = workspaceRoot();
const CLI = path.join(root, 'packages', 'tuning', 'src', 'cli.ts');
const KILLS = Number(process.env.CHAOS_KILLS ?? 20);
const SEED = process.env.CHAOS_SEED ?? '14';
const source = path.join(root, 'experiments', 'default.yaml');

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'bench-chaos-'));
const runs = path.join(tmp, 'runs');
fs.mkdirSync(path.join(root, 'runs', 'cache'), { recursive: true });
fs.mkdirSync(runs);
fs.symlinkSync(path.join(root, 'runs', 'cache'), path.join(runs, 'cache'));

function experimentFile(name: string): string {
  const cfg = parseDocument(fs.readFileSync(source, 'utf8')).toJS() as { name: string; runs: string; model?: { weights?: string }; data?: { root?: string } };
  cfg.name = name;
  cfg.runs = runs;
  if (cfg.model?.weights && !/^https?:/.test(cfg.model.weights)) cfg.model.weights = resolveFrom(source, cfg.model.weights);
  if (cfg.data?.root) cfg.data.root = resolveFrom(source, cfg.data.root);
  const file = path.join(tmp, `${name}.yaml`);
  fs.writeFileSync(file, JSON.stringify(cfg, null, 2));
  return file;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const trackingFile = path.join(runs, 'tracking.duckdb');

function startSweep(file: string) {
  const p = execa(process.execPath, ['--import', 'tsx', CLI, 'sweep', `--experiment=${file}`], {
    cwd: root,
    reject: false,
    buffer: false,
    stdout: 'ignore',
    stderr: 'pipe',
  });
  const pid = p.pid ?? 0;
  let text = '';
  let exited = false;
  p.stderr.on('data', (b: Buffer) => (text += b.toString()));
  const done = p.then((r) => {
    exited = true;
    return r;
  });
  return { p, pid, done, text: () => text, exited: () => exited };
}

// 1. Reference run.
const baseFile = experimentFile('chaos-base');
const base = await loadSweep(baseFile);
const tBase = performance.now();
const b = startSweep(baseFile);
const baseRes = await b.done;
const baseSeconds = (performance.now() - tBase) / 1000;
process.stderr.write(`reference run: exit ${baseRes.exitCode} in ${baseSeconds.toFixed(0)} s\n`);
if (baseRes.exitCode !== 0) throw new Error(`the reference sweep failed:\n${b.text().slice(-2000)}`);

// 2. Chaos.
const killFile = experimentFile('chaos-kill');
const chaos = await loadSweep(killFile);
const rng = createRng(`chaos-${SEED}`);
const kills: { n: number; target: 'orchestrator' | 'worker'; afterMs: number; problems: string[]; trials: string }[] = [];
let orchestratorRuns = 0;
let finishedEarly = false;
const tChaos = performance.now();
while (kills.length < KILLS) {
  const run = startSweep(killFile);
  orchestratorRuns++;
  // Kills land while trials run: wait for the first trial of this run to start.
  while (!run.exited() && !/ started: /.test(run.text())) await sleep(100);
  if (run.exited()) {
    finishedEarly = true;
    break;
  }
  let restart = false;
  while (!restart && kills.length < KILLS) {
    const afterMs = rng.uniform(500, 5000);
    await sleep(afterMs);
    if (run.exited()) break; // finished (or stopped) on its own: resume
    const target = rng.next() < 0.5 ? 'orchestrator' : 'worker';
    const workers = childrenOf(run.pid);
    if (target === 'worker' && workers.length > 0) {
      const w = workers[rng.int(workers.length)];
      try {
        process.kill(w, 'SIGKILL');
      } catch {
        // exited in between
      }
    } else {
      run.p.kill('SIGKILL');
      await run.done;
      restart = true;
    }
    const effective = target === 'worker' && workers.length > 0 ? 'worker' : 'orchestrator';
    await sleep(200);
    const snap = fs.existsSync(trackingFile) && restart ? await snapshotDb(trackingFile, chaos.sweepId) : null;
    kills.push({
      n: kills.length + 1,
      target: effective,
      afterMs: Math.round(afterMs),
      problems: snap?.problems ?? [],
      trials: snap ? snap.trials.map((t) => t.status[0]).join('') : '',
    });
    process.stderr.write(
      `kill ${kills.length}/${KILLS}: ${effective} after ${Math.round(afterMs)} ms${snap ? ` — trials ${kills[kills.length - 1].trials}` : ''}\n`,
    );
  }
  if (!restart) {
    const r = await run.done;
    process.stderr.write(`orchestrator run ${orchestratorRuns} ended by itself: exit ${r.exitCode}\n`);
  }
}
// Resumes until the sweep completes.
const resumes: number[] = [];
for (let i = 0; i < 3; i++) {
  const r = await startSweep(killFile).done;
  resumes.push(r.exitCode ?? -1);
  if (r.exitCode === 0) break;
}
const chaosSeconds = (performance.now() - tChaos) / 1000;

const finalSnap = await snapshotDb(trackingFile, chaos.sweepId);
const ref = (await sweepOutcome(trackingFile, base.sweepId)) as { index: number; status: string; epochs: unknown[] }[];
const got = (await sweepOutcome(trackingFile, chaos.sweepId)) as { index: number; status: string; epochs: unknown[] }[];
const equal = JSON.stringify(ref) === JSON.stringify(got);
const differing = ref.filter((t, i) => JSON.stringify(t) !== JSON.stringify(got[i])).map((t) => t.index);
const dupEpochs = finalSnap.problems.filter((p) => /duplicate/.test(p));
const out = {
  what: 'kill -9 of the sweep orchestrator or one of its workers at seeded random moments over the quick-start sweep (experiments/default.yaml), each followed by a resume; final DuckDB outcome vs an uninterrupted run',
  machine: { cores: os.availableParallelism(), loadavg: os.loadavg(), node: process.version },
  seed: SEED,
  killsRequested: KILLS,
  killsDone: kills.length,
  orchestratorKills: kills.filter((k) => k.target === 'orchestrator').length,
  workerKills: kills.filter((k) => k.target === 'worker').length,
  sweepCompletedBeforeAllKills: finishedEarly,
  orchestratorRuns,
  finalResumeExitCodes: resumes,
  problemsAfterKills: kills.flatMap((k) => k.problems.map((p) => `kill ${k.n}: ${p}`)),
  trialsLost: ref.length - got.filter((t) => t.status === 'finished' || t.status === 'pruned').length,
  epochsDuplicated: dupEpochs.length,
  finalProblems: finalSnap.problems,
  equalToUninterrupted: equal,
  differingTrials: differing,
  referenceStatuses: ref.map((t) => `${t.status}/${t.epochs.length}`),
  chaosStatuses: got.map((t) => `${t.status}/${t.epochs.length}`),
  referenceSeconds: baseSeconds,
  chaosSeconds,
  kills,
};
fs.mkdirSync(path.join(root, 'runs', 'bench'), { recursive: true });
fs.writeFileSync(path.join(root, 'runs', 'bench', 'chaos.json'), JSON.stringify(out, null, 2) + '\n');
process.stderr.write(`${JSON.stringify({ ...out, kills: undefined }, null, 2)}\n`);
fs.rmSync(tmp, { recursive: true, force: true });
if (!equal || out.trialsLost !== 0 || out.epochsDuplicated !== 0) process.exitCode = 1;
