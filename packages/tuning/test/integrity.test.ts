/**
 * Storage integrity, on real sweeps (synthetic phantoms → real noise / augment / embed stages with
 * MobileNetV2-0.35 from ../shared at 64 px → real trainTrial in worker processes → DuckDB):
 * 1. the DB truncated: `tuning doctor` reports it, `--repair` rebuilds every row from the trial
 *    folders; the DB deleted: `tuning import` does the same;
 * 2. the runs folder moved: the sweep resumes with 0 trials retrained, paths follow it;
 * 3. bytes flipped in an embed feature file and in an ingest shard: both rebuilt with a warning
 *    naming the file, metrics equal to the clean run's;
 * 4. kill -9 mid-sweep and the WAL lost: finished trials are in the main file; a DB that lacks them
 *    re-imports them from the trial folders with a warning instead of retraining;
 * 5. disk full (a real tmpfs): a trial fails with the reason and the sweep goes on; a full disk
 *    under the tracking file stops the sweep with one line naming it.
 * (A damaged stage folder deleted while an Nx replica shares its inodes: core/test/stage-verify.test.ts.)
 */
import { execFileSync } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isUserFacingError, readStageMeta, workspaceRoot } from '@mri-robust/core';
import { runCli, runSweepCli } from '@mri-robust/core/testing';
import { phantomExperiment } from './phantom-experiment.ts';
import { childrenOf, isAlive, waitUntil } from './queue-helpers.ts';
import { getSweep, listTrials, openTracking, TRACKING_TABLES } from '@mri-robust/tracking';
import { ensureStages, loadSweep, runSweep } from '../src/sweep.ts';

const root = workspaceRoot();
const CLI = path.join(root, 'packages', 'tuning', 'src', 'cli.ts');

function yaml(runs: string, space: string, extra = ''): string {
  return phantomExperiment({
    name: 'integrity-test',
    seed: 11,
    runs,
    perClass: 20,
    epochs: 4,
    bootstrap: 20,
    sweep: `  strategy: grid
  space: ${space}
${extra}`,
  });
}

const SPACE_A = '{ learning_rate: [0.01, 0.001], dropout: [0.0, 0.3], batch_size: [16] }\n  max_parallel: 2';

let dir: string;
let fileA: string;
let runsA: string;
type Rows = Record<string, Record<string, unknown>[]>;
let reference: Rows;
let sweepA: string;

/** Every row of every table for one sweep, in a stable order (JSON-comparable). */
async function dump(file: string, sweepId: string, skip: string[] = []): Promise<Rows> {
  const t = await openTracking(file, { readOnly: true });
  try {
    const out: Rows = {};
    for (const table of TRACKING_TABLES) {
      const rows = await t.all<Record<string, unknown>>(`SELECT * FROM ${table} WHERE sweep_id = $1 ORDER BY ALL`, [sweepId]);
      out[table] = rows.map((r) => Object.fromEntries(Object.entries(r).filter(([k]) => !skip.includes(k))));
    }
    return out;
  } finally {
    await t.close();
  }
}

const cli = (args: string[]) => runCli(CLI, args);

const noStack = (text: string) => expect(text).not.toMatch(/\n\s+at /);

function flipMiddle(file: string, n = 4096): void {
  const size = fs.statSync(file).size;
  const fd = fs.openSync(file, 'r+');
  fs.writeSync(fd, crypto.randomBytes(Math.min(n, size)), 0, Math.min(n, size), Math.max(0, Math.floor(size / 2) - n / 2));
  fs.closeSync(fd);
}

const sha = (f: string) => crypto.createHash('sha256').update(fs.readFileSync(f)).digest('hex');

function tryMount(dirPath: string, size: string): boolean {
  fs.mkdirSync(dirPath, { recursive: true });
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', `size=${size}`, 'tmpfs', dirPath], { stdio: 'pipe' });
    return true;
  } catch {
    return false;
  }
}

/** Fills a file system: writes until ENOSPC. */
function fill(file: string): void {
  const fd = fs.openSync(file, 'w');
  const chunk = Buffer.alloc(64 << 10);
  try {
    for (;;) fs.writeSync(fd, chunk);
  } catch {
    // full
  } finally {
    fs.closeSync(fd);
  }
}

beforeAll(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tuning-integrity-'));
  fileA = path.join(dir, 'a.yaml');
  runsA = path.join(dir, 'runs');
  fs.writeFileSync(fileA, yaml('./runs', SPACE_A));
  const lines: string[] = [];
  const r = await runSweep({ experimentFile: fileA, log: (l) => lines.push(l), out: () => undefined, gallery: false });
  expect(r, lines.join('\n')).toMatchObject({ total: 4, finished: 4, failed: 0 });
  sweepA = r.sweepId;
  reference = await dump(r.trackingFile, sweepA);
}, 600_000);

afterAll(() => {
  fs.rmSync(dir, { recursive: true, force: true });
});

describe('storage integrity (real sweeps, real DuckDB, real faults)', () => {
  it('DB truncated: doctor reports it, --repair rebuilds every row from the trial folders; DB deleted: import does', async () => {
    const db = path.join(runsA, 'tracking.duckdb');
    expect(fs.existsSync(`${db}.wal`)).toBe(false);
    fs.truncateSync(db, Math.floor(fs.statSync(db).size / 2));

    const best = await cli(['best', `--experiment=${fileA}`]);
    expect(best.exitCode).toBe(1);
    noStack(best.stderr);
    expect(best.stderr).toContain(db);
    expect(best.stderr).toContain('tuning:doctor --repair');

    const check = await cli(['doctor', `--runs=${runsA}`]);
    expect(check.exitCode, check.stderr).toBe(1);
    expect(check.stdout).toMatch(new RegExp(`FAIL  \\[tracking\\] ${db}: damaged: `));
    expect(check.stdout).toMatch(/--repair would: move it aside .* and rebuild it from the records of 1 sweep folder/);
    // ingest, noise, augment, embed, the noise stage's per-set cache (noise-set: the one noisy test
    // set) and the embed stage's parts: embed-base (clean splits) and one embed-set (that set's features).
    expect(check.stdout).toMatch(/ok +stage caches: 7 folder\(s\)/);
    expect(check.stdout).toMatch(/ok +model folders: 4 checked/);

    const repair = await cli(['doctor', `--runs=${runsA}`, '--repair']);
    expect(repair.exitCode, repair.stdout + repair.stderr).toBe(0);
    expect(repair.stdout).toMatch(/repaired: moved to .*tracking\.duckdb\.damaged-.*; rebuilt from 1 sweep folder\(s\), 4 trial\(s\)/);
    expect(fs.readdirSync(runsA).filter((n) => n.startsWith('tracking.duckdb.damaged-'))).toHaveLength(1);
    expect(await dump(db, sweepA)).toEqual(reference);

    fs.rmSync(db);
    const imp = await cli(['import', `--runs=${runsA}`]);
    expect(imp.exitCode, imp.stderr).toBe(0);
    expect(imp.stdout).toContain(`${sweepA}: sweep row imported, 4 trial(s) imported`);
    expect(await dump(db, sweepA)).toEqual(reference);
    const again = await cli(['doctor', `--runs=${runsA}`]);
    expect(again.exitCode, again.stdout).toBe(0);
    expect(again.stdout).toContain('doctor: no problems found');
  }, 300_000);

  it('runs/ moved: the same sweep resumes with 0 trials retrained and its paths follow the folder', async () => {
    const moved = path.join(dir, 'runs-moved');
    fs.renameSync(runsA, moved);
    runsA = moved;
    const fileM = path.join(dir, 'a-moved.yaml');
    fs.writeFileSync(fileM, yaml('./runs-moved', SPACE_A));
    expect((await loadSweep(fileM)).sweepId).toBe(sweepA);
    const r = await runSweepCli(fileM);
    expect(r.exitCode, r.stderr).toBe(0);
    expect(r.stderr).toContain('0 finished, 0 pruned, 0 failed, 4 skipped');
    expect(r.stderr).not.toMatch(/ started: /);
    const db = path.join(moved, 'tracking.duckdb');
    const now = await dump(db, sweepA);
    for (const table of ['trials', 'epochs', 'evaluations', 'confusion']) expect(now[table]).toEqual(reference[table]);
    // Stored relative to the runs folder, read back inside the moved one.
    for (const row of now.trials) expect(path.isAbsolute(String(row.model_path))).toBe(false);
    const t = await openTracking(db, { readOnly: true });
    try {
      for (const tr of await listTrials(t, sweepA)) {
        expect(tr.model_path!.startsWith(moved)).toBe(true);
        const meta = JSON.parse(fs.readFileSync(path.join(tr.model_path!, 'metadata.json'), 'utf8'));
        expect(meta.provenance).toMatchObject({ sweep: sweepA, trial: tr.trial_id });
      }
      const s = await getSweep(t, sweepA);
      expect((s!.stages as Record<string, { dir: string }>).embed.dir.startsWith(moved)).toBe(true);
    } finally {
      await t.close();
    }
    const bestJson = JSON.parse(fs.readFileSync(path.join(moved, 'trials', sweepA, 'best.json'), 'utf8'));
    expect(path.isAbsolute(bestJson.modelDir)).toBe(false);
    expect(fs.existsSync(path.join(moved, 'trials', sweepA, bestJson.modelDir, 'metadata.json'))).toBe(true);
    fileA = fileM;
  }, 300_000);

  it('bytes flipped in an embed feature file and an ingest shard: both rebuilt with a warning, same metrics', async () => {
    // The folders this process's sweep will use (stage keys hash the code as this process read it;
    // a CLI run after someone saved a source file may have used newer ones).
    const stages = await ensureStages((await loadSweep(fileA)).experiment, () => undefined);
    const shard = path.join(stages.ingest.dir, 'shard-000.bin');
    const features = fs.readdirSync(path.join(stages.embed.dir, 'features')).find((n) => n.startsWith('train'))!;
    const feat = path.join(stages.embed.dir, 'features', features);
    const recorded = {
      shard: (await readStageMeta(stages.ingest.dir)).files!['shard-000.bin'].sha256,
      feat: (await readStageMeta(stages.embed.dir)).files![`features/${features}`].sha256,
    };
    flipMiddle(shard);
    flipMiddle(feat);
    expect(sha(shard)).not.toBe(recorded.shard);

    const lines: string[] = [];
    const other = path.join(dir, 'check');
    const r = await runSweep({
      experimentFile: fileA,
      trackingFile: path.join(other, 'tracking.duckdb'),
      trialsDir: path.join(other, 'trials'),
      log: (l) => lines.push(l),
      out: () => undefined,
      gallery: false,
    });
    const warnings = lines.filter((l) => l.startsWith('warning:'));
    expect(
      warnings.find((l) => l.includes('[ingest]')),
      lines.join('\n'),
    ).toContain(shard);
    expect(
      warnings.find((l) => l.includes('[embed]')),
      lines.join('\n'),
    ).toContain(feat);
    // The embed folder's feature files are hard links to its part's (embed-base): the same damaged bytes, found in both.
    expect(
      warnings.find((l) => l.includes('[embed-base]')),
      lines.join('\n'),
    ).toContain(features);
    expect(warnings).toHaveLength(3);
    expect(r.finished).toBe(4);
    expect(sha(shard)).toBe(recorded.shard);
    expect(sha(feat)).toBe(recorded.feat);
    const rebuilt = await dump(r.trackingFile, sweepA, ['seconds']);
    const ref = await dump(path.join(runsA, 'tracking.duckdb'), sweepA, ['seconds']);
    expect(rebuilt.evaluations).toEqual(ref.evaluations);
    expect(rebuilt.confusion).toEqual(ref.confusion);
    expect(rebuilt.epochs).toEqual(ref.epochs);
  }, 300_000);

  it('kill -9 mid-sweep, WAL lost: finished trials are in the main file; a DB lacking them re-imports, nothing is retrained', async () => {
    const fileB = path.join(dir, 'b.yaml');
    fs.writeFileSync(
      fileB,
      yaml(`./${path.basename(runsA)}`, '{ learning_rate: [0.01, 0.003, 0.001], dropout: [0.0, 0.3], batch_size: [16] }\n  max_parallel: 1'),
    );
    const { sweepId } = await loadSweep(fileB);
    const db = path.join(runsA, 'tracking.duckdb');
    const early = path.join(dir, 'early.duckdb');
    const p = execa(process.execPath, ['--import', 'tsx', CLI, 'sweep', `--experiment=${fileB}`], { cwd: root, reject: false, buffer: false, stderr: 'pipe' });
    let text = '';
    await new Promise<void>((resolve) => {
      p.stderr!.on('data', (b: Buffer) => {
        text += b.toString();
        // The state a backup taken early in the sweep holds: the sweep row, no finished trial.
        if (!fs.existsSync(early) && / started: /.test(text)) fs.copyFileSync(db, early);
        if ((text.match(/ (finished|pruned@\d+) val_accuracy/g) ?? []).length >= 2) resolve();
      });
      p.on('exit', () => resolve());
    });
    const workers = childrenOf(p.pid!);
    p.kill('SIGKILL');
    await p;
    expect(await waitUntil(() => workers.every((w) => !isAlive(w)), 30_000)).toBe(true);
    fs.rmSync(`${db}.wal`, { force: true });
    // The main file alone (checkpointed after every finished trial) holds both.
    const before = await dump(db, sweepId);
    const done = before.trials.filter((r) => r.status === 'finished' || r.status === 'pruned').map((r) => String(r.trial_id));
    expect(done.length, text).toBeGreaterThanOrEqual(2);

    fs.copyFileSync(early, db);
    const res = await runSweepCli(fileB);
    expect(res.exitCode, res.stderr).toBe(0);
    expect(res.stderr).toMatch(new RegExp(`warning: .*tracking\\.duckdb lacked ${done.length} finished trial\\(s\\).*re-imported.*${done[0]}`, 'i'));
    for (const id of done) expect(res.stderr).not.toContain(`${id} started`);
    expect(res.stderr).toContain(`${done.length} skipped`);
    const after = await dump(db, sweepId);
    for (const id of done) {
      for (const table of ['trials', 'epochs', 'evaluations', 'confusion']) {
        expect(after[table].filter((r) => r.trial_id === id)).toEqual(before[table].filter((r) => r.trial_id === id));
      }
    }
    expect(after.trials.every((r) => r.status === 'finished' || r.status === 'pruned')).toBe(true);
  }, 600_000);

  it('disk full: a trial fails with the reason and the sweep goes on; a full tracking disk stops the sweep with one line', async () => {
    const mnt = path.join(dir, 'full');
    if (!tryMount(mnt, '8m')) {
      console.warn('disk-full test skipped: mounting a tmpfs needs root');
      return;
    }
    try {
      const fileC = path.join(dir, 'c.yaml');
      fs.writeFileSync(fileC, yaml(`./${path.basename(runsA)}`, '{ learning_rate: [0.02, 0.002], dropout: [0.0], batch_size: [16] }\n  max_parallel: 1'));
      const trialsDir = path.join(mnt, 'trials');
      const filler = path.join(mnt, 'filler');
      fs.mkdirSync(trialsDir);
      fill(filler);
      // Leave room for the records and logs (a few KB), not for a saved model (~3 MB).
      fs.truncateSync(filler, fs.statSync(filler).size - (256 << 10));
      const lines: string[] = [];
      const r = await runSweep({
        experimentFile: fileC,
        trackingFile: path.join(dir, 'c.duckdb'),
        trialsDir,
        gallery: false,
        out: () => undefined,
        log: (l) => {
          lines.push(l);
          if (/ FAILED: /.test(l)) fs.rmSync(filler, { force: true }); // space comes back: the next trial can finish
        },
      });
      expect(r, lines.join('\n')).toMatchObject({ total: 2, ran: 2, failed: 1, finished: 1 });
      const t = await openTracking(path.join(dir, 'c.duckdb'), { readOnly: true });
      const trials = await listTrials(t, r.sweepId);
      await t.close();
      const failed = trials.find((x) => x.status === 'failed')!;
      expect(failed.error).toMatch(/disk full|ENOSPC/);
      expect(failed.error).toContain(mnt);

      // The tracking file's own disk fills up mid-sweep: the sweep stops with one line naming the file.
      const mnt2 = path.join(dir, 'full2');
      expect(tryMount(mnt2, '32m')).toBe(true);
      try {
        const db = path.join(mnt2, 'tracking.duckdb');
        const fileD = path.join(dir, 'd.yaml');
        fs.writeFileSync(fileD, yaml(`./${path.basename(runsA)}`, '{ learning_rate: [0.02, 0.005], dropout: [0.0], batch_size: [16] }\n  max_parallel: 1'));
        let err: unknown = null;
        try {
          await runSweep({
            experimentFile: fileD,
            trackingFile: db,
            trialsDir: path.join(dir, 'd-trials'),
            gallery: false,
            out: () => undefined,
            log: (l) => {
              if (/ started: /.test(l) && !fs.existsSync(path.join(mnt2, 'filler'))) fill(path.join(mnt2, 'filler'));
            },
          });
        } catch (e) {
          err = e;
        }
        expect(err).not.toBeNull();
        expect(isUserFacingError(err)).toBe(true);
        const msg = (err as Error).message;
        expect(msg.split('\n')).toHaveLength(1);
        expect(msg).toContain(db);
        expect(msg).toMatch(/disk is full/);
        // What was done is in the trial folders, which the message names.
        expect(msg).toContain('tuning:import');
      } finally {
        execFileSync('umount', [mnt2]);
      }
    } finally {
      execFileSync('umount', [mnt]);
    }
  }, 600_000);
});
