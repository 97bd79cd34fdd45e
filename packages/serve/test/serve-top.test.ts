/**
 * `serve:start --sweep=ID --top=K`: the K best finished trials of a sweep by its objective, served as
 * an ensemble. A real tracking database (the tracking package's own store and DDL) records a sweep
 * whose finished trials hold real tiny models; a failed trial (no model) and a pruned one (better
 * objective, but not finished) are passed over. Bad K, too few finished trials, --top with --model and
 * an unknown sweep are one-line errors; --top 1 (the default) is the pointer's best trial, as before.
 */
import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sharedDir } from '@mri-robust/core';
import { runCli } from '@mri-robust/core/testing';
import { selectBackend, trainTinyModel } from '@mri-robust/model';
import { openTracking, TRACKING_FILE } from '@mri-robust/tracking';
import { runServe } from '../src/run.ts';

const shared = sharedDir();
const SWEEP = 's-top';
const scan = readFileSync(path.join(shared, 'datasets', 'sartaj', 'Testing', 'glioma_tumor', 'image(2).jpg'));

const quote = (v: string | number | null) => (v === null ? 'NULL' : typeof v === 'number' ? String(v) : `'${v.replace(/'/g, "''")}'`);

async function predict(url: string): Promise<Record<string, unknown>> {
  const res = await fetch(new URL('predict', url), { method: 'POST', headers: { 'Content-Type': 'image/jpeg' }, body: new Uint8Array(scan) });
  expect(res.status).toBe(200);
  return (await res.json()) as Record<string, unknown>;
}

describe('serve: a sweep’s top-k trials as the model', () => {
  let root: string;
  let runs: string;
  const trialDir = (trial: string) => path.join(runs, 'trials', SWEEP, trial, 'model');

  beforeAll(async () => {
    await selectBackend('auto');
    root = mkdtempSync(path.join(tmpdir(), 'serve-top-'));
    runs = path.join(root, 'runs');
    // Finished trials (objective): t000 0.80, t002 0.90, t004 0.70; t003 pruned at 0.95; t001 failed.
    for (const [trial, seed] of [
      ['t000', 1],
      ['t002', 2],
      ['t004', 3],
    ] as const) {
      await trainTinyModel({ outDir: trialDir(trial), sharedDir: shared, perClass: 4, epochs: 2, seed });
    }
    cpSync(trialDir('t004'), trialDir('t003'), { recursive: true });
    const rows: [string, number, string, number | null, string | null][] = [
      ['t000', 0, 'finished', 0.8, `trials/${SWEEP}/t000/model`],
      ['t001', 1, 'failed', null, null],
      ['t002', 2, 'finished', 0.9, `trials/${SWEEP}/t002/model`],
      ['t003', 3, 'pruned', 0.95, `trials/${SWEEP}/t003/model`],
      ['t004', 4, 'finished', 0.7, `trials/${SWEEP}/t004/model`],
    ];
    const t = await openTracking(path.join(runs, TRACKING_FILE));
    try {
      await t.run(
        `INSERT INTO sweeps (sweep_id, name, objective, direction, status, n_trials, created_at) VALUES (${quote(SWEEP)}, 'top-k', 'val_accuracy', 'maximize', 'finished', 5, TIMESTAMP '2026-01-01 00:00:00')`,
      );
      for (const [trial, index, status, objective, model] of rows) {
        await t.run(
          `INSERT INTO trials (sweep_id, trial_id, trial_index, status, objective, model_path) VALUES (${quote(SWEEP)}, ${quote(trial)}, ${index}, ${quote(status)}, ${quote(objective)}, ${quote(model)})`,
        );
      }
    } finally {
      await t.close();
    }
    writeFileSync(path.join(runs, 'trials', 'latest.json'), JSON.stringify({ sweep: SWEEP }));
    writeFileSync(path.join(runs, 'trials', SWEEP, 'best.json'), JSON.stringify({ sweep: SWEEP, trial: 't002', modelDir: 't002/model' }));
  });
  afterAll(() => {
    if (root) rmSync(root, { recursive: true, force: true });
  });

  it('--top 2 serves the two best finished trials, best first; --top 1 is the best alone', async () => {
    const two = await runServe({ sweep: SWEEP, top: '2', runs, port: '0' });
    const alone = await Promise.all(['t002', 't000'].map((trial) => runServe({ model: trialDir(trial), port: '0' })));
    const best = await runServe({ sweep: SWEEP, runs, port: '0' });
    try {
      const e = await predict(two.url);
      const members = (e.ensemble as { members: { dir: string; probabilities: Record<string, number> }[] }).members;
      expect(members.map((m) => m.dir)).toEqual([trialDir('t002'), trialDir('t000')]);
      const [a, b] = [await predict(alone[0].url), await predict(alone[1].url)];
      const probs = e.probabilities as Record<string, number>;
      for (const c of Object.keys(probs)) {
        expect(members[0].probabilities[c]).toBeCloseTo((a.probabilities as Record<string, number>)[c], 6);
        expect(members[1].probabilities[c]).toBeCloseTo((b.probabilities as Record<string, number>)[c], 6);
        expect(probs[c]).toBeCloseTo(((a.probabilities as Record<string, number>)[c] + (b.probabilities as Record<string, number>)[c]) / 2, 6);
      }
      // The latest sweep when --sweep is left out.
      const latest = await runServe({ top: '3', runs, port: '0' });
      const three = ((await predict(latest.url)).ensemble as { members: { dir: string }[] }).members.map((m) => m.dir);
      await latest.close();
      expect(three).toEqual([trialDir('t002'), trialDir('t000'), trialDir('t004')]);
      const one = await predict(best.url);
      expect(one.ensemble).toBeUndefined();
      expect(one.probabilities).toEqual(a.probabilities);
    } finally {
      for (const s of [two, best, ...alone]) await s.close();
    }
  });

  it.each([
    [{ top: '4' }, `--top 4: sweep ${SWEEP} has 3 finished trials with a saved model; choose --top 3 or fewer`],
    [{ top: '0' }, '--top 0: expected an integer ≥ 1 (the number of best trials to serve as an ensemble)'],
    [{ top: 'two' }, '--top two: expected an integer ≥ 1 (the number of best trials to serve as an ensemble)'],
    [{ top: '2', sweep: 's-none' }, `: no sweep s-none`],
  ])('%o is refused with one line', async (flags, message) => {
    const err = await runServe({ sweep: SWEEP, runs, port: '0', ...flags }).then(
      (s) => s.close().then(() => null),
      (e: unknown) => e as Error,
    );
    expect(err?.name).toBe('UserError');
    expect(err?.message.split('\n')).toHaveLength(1);
    expect(err?.message.endsWith(message)).toBe(true);
  });

  it('--top with --model is refused; a runs folder without a tracking database too (CLI: one line, exit 1)', async () => {
    await expect(runServe({ model: trialDir('t000'), top: '2', port: '0' })).rejects.toMatchObject({
      name: 'UserError',
      message: '--top 2 ranks the trials of a sweep: give --sweep <id> (or neither, for the latest sweep), not --model',
    });
    const empty = path.join(root, 'empty-runs');
    mkdirSync(path.join(empty, 'trials'), { recursive: true });
    const noDb = await runCli('packages/serve/src/cli.ts', ['start', `--runs=${empty}`, `--sweep=${SWEEP}`, '--top=2', '--port=0']);
    expect([noDb.exitCode, noDb.stderr.trim()]).toEqual([
      1,
      `error: ${path.join(empty, TRACKING_FILE)} does not exist: --top ranks the trials of a sweep recorded there; run \`nx run tuning:sweep\` first`,
    ]);
  }, 300_000);
});
