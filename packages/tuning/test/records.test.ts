/**
 * Trial-folder records and the writes replayed from them, on real DuckDB files:
 * - numeric parameters are bound as DOUBLE: a learning rate of 1e300 (an integer to JavaScript,
 *   which DuckDB would bind as BIGINT: "bigint out of int64 range") is recorded and read back;
 * - NaN and ±Infinity survive the JSON lines and replay to the same DOUBLEs;
 * - a torn last line (a kill in the middle of a write) is dropped, a damaged middle line is reported;
 * - a failed write names the file and says why (ENOSPC on a real, full tmpfs when mounting is allowed).
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { listEpochs, listTrials, openTracking } from '@mri-robust/tracking';
import { applySweepEvent, applyTrialEvent } from '../src/record.ts';
import { appendEvent, readEvents, RecordWriteError, RECORD_VERSION, type SweepEvent, type TrialEvent } from '../src/trial-record.ts';
import type { PlannedTrial } from '../src/plan.ts';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tuning-records-'));
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

const trial: PlannedTrial = { trialId: 't000-abc', index: 0, params: { learningRate: 1e300, dropout: 0.5, batchSize: 16 }, seed: 42, configHash: 'h' };

function begin(): SweepEvent {
  return {
    v: RECORD_VERSION,
    type: 'begin',
    at: '2025-01-02T03:04:05.678Z',
    gitCommit: 'c0ffee',
    trials: [trial],
    sweep: {
      sweepId: 's1',
      name: 'n',
      experimentPath: 'x.yaml',
      experimentHash: 'e',
      experimentYaml: 'name: n',
      strategy: 'grid',
      objective: 'val_accuracy',
      direction: 'maximize',
      seed: 1,
      gitCommit: 'c0ffee',
      backend: null,
      nTrials: 1,
      maxParallel: 1,
      dataSummary: null,
      noiseSettings: null,
      stages: { ingest: { key: 'k', dir: 'cache/ingest/k' } },
      settings: null,
    },
  };
}

describe('trial records and replayed writes', () => {
  it('records a learning rate of 1e300 and non-finite metrics, and replays them from the record file', async () => {
    const file = path.join(dir, 'a', 'record.jsonl');
    const events: TrialEvent[] = [
      { v: RECORD_VERSION, type: 'start', at: '2025-01-02T03:04:06.000Z', sweepId: 's1', trial, logPath: 'trials/s1/t000-abc/trial.log', gitCommit: 'c0ffee' },
      {
        v: RECORD_VERSION,
        type: 'epoch',
        at: '2025-01-02T03:04:07.000Z',
        record: {
          epoch: 1,
          trainLoss: Number.POSITIVE_INFINITY,
          trainAccuracy: 0.25,
          valLoss: Number.NaN,
          valAccuracy: 0.5,
          learningRate: 1e300,
          seconds: 1.5,
        },
        objective: 0.5,
      },
    ];
    for (const e of events) appendEvent(file, e);
    const back = readEvents<TrialEvent>(file);
    expect(back.problems).toEqual([]);
    expect(back.events).toEqual(events);

    const t = await openTracking(path.join(dir, 'a.duckdb'));
    try {
      await applySweepEvent(t, 's1', begin());
      for (const e of back.events) await applyTrialEvent(t, 's1', trial.trialId, e);
      const [row] = await listTrials(t, 's1');
      expect(row.learning_rate).toBe(1e300);
      expect(row.params.learningRate).toBe(1e300);
      expect(row.status).toBe('running');
      expect(row.attempts).toBe(1);
      // stored relative to the runs folder (the file's folder), read back absolute
      expect(row.log_path).toBe(path.join(dir, 'trials/s1/t000-abc/trial.log'));
      const [ep] = await listEpochs(t, 's1');
      expect(ep.train_loss).toBe(Number.POSITIVE_INFINITY);
      expect(ep.val_loss).toBeNull();
      expect(ep.learning_rate).toBe(1e300);
    } finally {
      await t.close();
    }
  });

  it('drops a torn last line and reports a damaged middle line', () => {
    const file = path.join(dir, 'b.jsonl');
    appendEvent(file, begin());
    fs.appendFileSync(file, '{"v":1,"type":"end","at":"2025-');
    expect(readEvents<SweepEvent>(file)).toMatchObject({ problems: [], events: [{ type: 'begin' }] });
    fs.appendFileSync(file, '\n');
    appendEvent(file, { v: RECORD_VERSION, type: 'end', at: '2025-01-02T03:04:08.000Z', status: 'finished', backend: 'wasm' });
    const r = readEvents<SweepEvent>(file);
    expect(r.events.map((e) => e.type)).toEqual(['begin', 'end']);
    expect(r.problems).toEqual([expect.stringMatching(/b\.jsonl:2: unreadable line/)]);
  });

  it('a write to a full disk names the file and says the disk is full', () => {
    const mnt = path.join(dir, 'full');
    fs.mkdirSync(mnt);
    try {
      execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=64k', 'tmpfs', mnt], { stdio: 'pipe' });
    } catch {
      // Not root (or no mount here): a real ENOSPC cannot be produced; the other storage tests cover it where it can.
      return;
    }
    try {
      try {
        fs.writeFileSync(path.join(mnt, 'filler'), Buffer.alloc(1 << 20));
      } catch {
        // filled
      }
      const file = path.join(mnt, 'sweep', 'record.jsonl');
      let err: unknown = null;
      try {
        for (let i = 0; i < 100; i++) appendEvent(file, begin());
      } catch (e) {
        err = e;
      }
      expect(err).toBeInstanceOf(RecordWriteError);
      expect((err as Error).message).toMatch(new RegExp(`^cannot write ${mnt}/sweep(/record\\.jsonl)?: the disk is full`));
    } finally {
      execFileSync('umount', [mnt]);
    }
  });
});
