/**
 * A synthetic sweep written into a tracking database created by the tuning package's own store
 * (its DDL = the tables of ARCHITECTURE.md "Tracking"): for the report's tests and benchmark. Numbers follow plausible
 * training dynamics; every random choice comes from a seeded RNG.
 */
import fs from 'node:fs';
import path from 'node:path';
import { createRng } from '@mri-robust/core';
import type { IngestReport } from '@mri-robust/data';
import { openTracking, type Tracking } from '@mri-robust/tracking';
import sharp from 'sharp';

/** Text meant to break naive HTML/JSON embedding; the report must show it as text. */
const HOSTILE_TEXT = 'bad </script><img src=x onerror="window.__pwned=1"> & \u2028 line';

export interface SyntheticSweepOptions {
  runsDir: string;
  sweepId: string;
  trials: number;
  seed?: number;
  createdAt?: Date;
  /** Write stage folders with contact sheets and an ingest report.json (default true). */
  stages?: boolean;
  /** Ingest stage key (sweeps sharing one have the same test images); default derived from the id. */
  ingestKey?: string;
  /** Added to every trial's quality (a better or worse sweep). */
  qualityShift?: number;
  /** Write `predictions.json` (per-image predictions) into each finished trial's folder. */
  predictions?: boolean;
  /** Extra experiment YAML lines (top-level sections), stored with the sweep. */
  experimentExtra?: string;
}

const CLASSES = ['glioma', 'meningioma', 'notumor', 'pituitary'];
/** Noisy test sets: Gaussian at severities 1–3, Rician at target SNR 20/10/5, motion at severity 3 only. */
const NOISE: { kind: string; levels: { id: string; severity: number; strength: number }[]; drop: number }[] = [
  { kind: 'gaussian', levels: [1, 2, 3].map((s) => ({ id: `test-gaussian-s${s}`, severity: s, strength: s })), drop: 0.07 },
  {
    kind: 'rician',
    levels: [
      [20, 2],
      [10, 3],
      [5, 4],
    ].map(([snr, sev]) => ({ id: `test-rician-snr${snr}`, severity: sev, strength: sev - 1 })),
    drop: 0.09,
  },
  { kind: 'motion', levels: [{ id: 'test-motion-s3', severity: 3, strength: 3 }], drop: 0.05 },
];
/** Images per test set (the same ids in every set and sweep). */
const SYNTHETIC_TEST_IMAGES = 400;

function sql(v: unknown): string {
  if (v === null || v === undefined) return 'NULL';
  if (typeof v === 'number') return Number.isFinite(v) ? String(v) : 'NULL';
  if (v instanceof Date) return `TIMESTAMP '${v.toISOString().replace('T', ' ').replace('Z', '')}'`;
  const s = typeof v === 'string' ? v : JSON.stringify(v);
  return `'${s.replace(/'/g, "''")}'`;
}

async function insert(t: Tracking, table: string, rows: Record<string, unknown>[]): Promise<void> {
  if (rows.length === 0) return;
  const cols = Object.keys(rows[0]);
  for (let i = 0; i < rows.length; i += 2000) {
    const chunk = rows.slice(i, i + 2000);
    await t.run(`INSERT INTO ${table} (${cols.join(', ')}) VALUES ${chunk.map((r) => `(${cols.map((c) => sql(r[c])).join(', ')})`).join(',\n')}`);
  }
}

async function writeSheet(file: string, hue: number): Promise<void> {
  const w = 480;
  const h = 240;
  const px = Buffer.alloc(w * h * 3);
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      const cell = (Math.floor(x / 60) + Math.floor(y / 60)) % 2;
      const r = Math.hypot((x % 60) - 30, (y % 60) - 30);
      const v = r < 24 ? 200 - r * 4 : 20 + cell * 20;
      const o = (y * w + x) * 3;
      px[o] = v;
      px[o + 1] = Math.min(255, v + hue);
      px[o + 2] = v;
    }
  }
  await sharp(px, { raw: { width: w, height: h, channels: 3 } })
    .png()
    .toFile(file);
}

function ingestReport(key: string): IngestReport {
  const counts = {
    train: { glioma: 1062, meningioma: 597, notumor: 343, pituitary: 708 },
    val: { glioma: 187, meningioma: 105, notumor: 60, pituitary: 125 },
    test: { glioma: 80, meningioma: 99, notumor: 71, pituitary: 28 },
  };
  const half = (c: typeof counts) => ({
    train: Object.fromEntries(Object.entries(c.train).map(([k, v]) => [k, Math.floor(v / 2)])),
    val: Object.fromEntries(Object.entries(c.val).map(([k, v]) => [k, Math.floor(v / 2)])),
    test: Object.fromEntries(Object.entries(c.test).map(([k, v]) => [k, Math.floor(v / 2)])),
  });
  return {
    stage: 'ingest',
    key,
    synthetic: [],
    note: '',
    classes: CLASSES,
    image: { size: 96, channels: 1, fit: 'pad' },
    split: { mode: 'source_test', train: 0.85, val: 0.15, test: 0.2, seed: 1234 },
    totals: { files: 8976, decoded: 8975, skipped: 1, kept: 3465, dropped: 5510 },
    counts,
    sources: [
      {
        name: 'nickparvar',
        kind: 'kaggle',
        synthetic: false,
        root: '../shared/datasets/nickparvar',
        layout: 'split folders (Training) with class folders',
        files: 5712,
        decoded: 5712,
        skipped: 0,
        kept: half(counts),
        found: { Training: { glioma: 1321, meningioma: 1339, notumor: 1595, pituitary: 1457 } },
      },
      {
        name: 'sartaj',
        kind: 'kaggle',
        synthetic: false,
        root: '../shared/datasets/sartaj',
        layout: 'split folders (Testing, Training) with class folders',
        files: 3264,
        decoded: 3263,
        skipped: 1,
        kept: half(counts),
        found: { Training: { glioma: 826 }, Testing: { glioma: 100 } },
      },
    ],
    duplicates: {
      settings: { exact: true, near: true, hamming: 6, min_correlation: 0.9, conflicts: 'drop' },
      exact: { groups: 2100, copies: 6900, extraCopies: 4800, crossSourceGroups: 1500, labelConflicts: 12 },
      near: { links: 900, rejectedByCorrelation: 40, groupsWithNearLinks: 300 },
      groups: 2300,
      imagesInGroups: 7700,
      removedAsCopies: 5400,
      largestGroup: 9,
      crossSourceGroups: 1600,
      touchingTestGroups: 180,
      conflicts: { rule: 'drop', groups: 20, imagesDropped: 110, groupsKeptByMajority: 0 },
      examples: [],
    },
    skipped: [{ source: 'sartaj', path: `Training/odd ${HOSTILE_TEXT}.jpg`, reason: 'not an image' }],
    seconds: { list: 0.2, decode: 30, dedup: 4, write: 2, total: 36.2 },
  };
}

/** Writes the sweep into `<runsDir>/tracking.duckdb` (appending to what is there). Returns the file. */
export async function writeSyntheticSweep(o: SyntheticSweepOptions): Promise<string> {
  const rng = createRng(o.seed ?? 7);
  fs.mkdirSync(o.runsDir, { recursive: true });
  const file = path.join(o.runsDir, 'tracking.duckdb');
  const created = o.createdAt ?? new Date('2025-01-02T10:00:00Z');
  const stages: Record<string, { key: string; dir: string }> = {};
  if (o.stages !== false) {
    for (const s of ['ingest', 'noise', 'augment', 'embed']) {
      const key = s === 'ingest' && o.ingestKey ? o.ingestKey : `${s.slice(0, 3)}${o.sweepId.replace(/\W/g, '')}`.padEnd(16, '0').slice(0, 16);
      const rel = path.join('cache', s, key);
      fs.mkdirSync(path.join(o.runsDir, rel), { recursive: true });
      stages[s] = { key, dir: path.join(o.runsDir, rel) };
    }
    await writeSheet(path.join(stages.noise.dir, 'contact-sheet.png'), 40);
    await writeSheet(path.join(stages.augment.dir, 'contact-sheet.png'), 0);
  }
  const ingest = ingestReport(stages.ingest?.key ?? 'none');
  if (stages.ingest) fs.writeFileSync(path.join(stages.ingest.dir, 'report.json'), JSON.stringify(ingest, null, 2));
  const conn = await openTracking(file);
  try {
    const sweepId = o.sweepId;
    const trials: Record<string, unknown>[] = [];
    const epochs: Record<string, unknown>[] = [];
    const evaluations: Record<string, unknown>[] = [];
    const confusion: Record<string, unknown>[] = [];
    let t = created.getTime();
    for (let i = 0; i < o.trials; i++) {
      const trialId = `t${String(i).padStart(3, '0')}`;
      const lr = Math.exp(rng.uniform(Math.log(1e-4), Math.log(3e-2)));
      const dropout = Number(rng.uniform(0, 0.6).toFixed(3));
      const batchSize = rng.pick([16, 32, 64]);
      // quality peaks near lr 3e-3 and moderate dropout
      const quality = 0.93 - 0.05 * Math.abs(Math.log10(lr) + 2.5) ** 2 - 0.1 * Math.abs(dropout - 0.3) + rng.normal() * 0.01 + (o.qualityShift ?? 0);
      const failed = i === 3;
      const pruned = !failed && i > 4 && rng.next() < 0.15;
      const nEpochs = failed ? 1 : pruned ? 3 : 8 + rng.int(5);
      let best = { epoch: 0, obj: -Infinity };
      const start = new Date(t);
      for (let e = 0; e < nEpochs; e++) {
        const p = 1 - Math.exp(-(e + 1) / 2.5);
        const valAcc = Math.min(0.99, 0.3 + (quality - 0.3) * p + rng.normal() * 0.01);
        const noisyAcc = valAcc - 0.08 + rng.normal() * 0.01;
        const obj = (valAcc + noisyAcc) / 2;
        if (obj > best.obj) best = { epoch: e, obj };
        epochs.push({
          sweep_id: sweepId,
          trial_id: trialId,
          epoch: e,
          train_loss: 1.4 * (1 - p) + 0.1 + rng.next() * 0.02,
          train_accuracy: Math.min(0.995, valAcc + 0.04 * p),
          val_loss: 1.35 * (1 - p) + 0.25 + rng.next() * 0.03,
          val_accuracy: valAcc,
          val_noisy_accuracy: noisyAcc,
          objective: obj,
          learning_rate: lr * (e > 6 ? 0.5 : 1),
          seconds: 2 + rng.next(),
        });
        t += 2500;
      }
      const status = failed ? 'failed' : pruned ? 'pruned' : 'finished';
      trials.push({
        sweep_id: sweepId,
        trial_id: trialId,
        trial_index: i,
        params: { learningRate: lr, dropout, batchSize },
        learning_rate: lr,
        dropout,
        batch_size: batchSize,
        status,
        error: failed ? `wasm: out of memory ${HOSTILE_TEXT}` : null,
        backend: 'wasm',
        seed: 1000 + i,
        config_hash: `h${i}`,
        git_commit: 'abc123def4567890',
        started_at: start,
        ended_at: new Date(t),
        best_epoch: failed ? null : best.epoch,
        objective: failed ? null : best.obj,
        model_path: failed ? null : `trials/${sweepId}/${trialId}/model`,
        log_path: `trials/${sweepId}/${trialId}/log.txt`,
      });
      if (status !== 'finished') continue;
      const sets = [{ id: 'test', kind: 'none', severity: 0, acc: quality }];
      for (const nz of NOISE)
        for (const l of nz.levels)
          sets.push({ id: l.id, kind: nz.kind, severity: l.severity, acc: quality - nz.drop * l.strength * (1.2 - dropout / 2) + rng.normal() * 0.01 });
      const predictions: Record<string, { ids: string[]; labels: number[]; predicted: number[] }> = {};
      for (const s of sets) {
        const n = SYNTHETIC_TEST_IMAGES;
        const target = Math.max(0.25, Math.min(0.99, s.acc));
        // per-image outcomes drawn at the target accuracy; the recorded accuracy is what they give
        const labels = Array.from({ length: n }, (_, k) => k % CLASSES.length);
        const predicted = labels.map((y) => (rng.next() < target ? y : (y + 1 + rng.int(CLASSES.length - 1)) % CLASSES.length));
        predictions[s.id] = { ids: labels.map((_, k) => `synthetic/img-${String(k).padStart(4, '0')}.png`), labels, predicted };
        const acc = predicted.filter((p, k) => p === labels[k]).length / n;
        const half = 1.96 * Math.sqrt((acc * (1 - acc)) / n);
        evaluations.push({
          sweep_id: sweepId,
          trial_id: trialId,
          test_set: s.id,
          noise_kind: s.kind,
          severity: s.severity,
          n,
          accuracy: acc,
          ci_low: acc - half,
          ci_high: acc + half,
          macro_f1: acc - 0.01,
          ece: 0.05 + rng.next() * 0.05,
          ece_calibrated: 0.02 + rng.next() * 0.02,
          per_class: CLASSES.map((label) => ({ label, precision: acc, recall: acc, f1: acc, support: n / 4 })),
        });
        for (const [ti, tl] of CLASSES.entries()) {
          for (const [pi, pl] of CLASSES.entries()) {
            const count = labels.filter((y, k) => y === ti && predicted[k] === pi).length;
            confusion.push({ sweep_id: sweepId, trial_id: trialId, test_set: s.id, true_label: tl, pred_label: pl, count });
          }
        }
      }
      if (o.predictions) {
        const dir = path.join(o.runsDir, 'trials', sweepId, trialId);
        fs.mkdirSync(dir, { recursive: true });
        fs.writeFileSync(path.join(dir, 'predictions.json'), JSON.stringify({ classes: CLASSES, sets: predictions }));
      }
    }
    const experimentYaml = `name: synthetic\nseed: 7\nreport:\n  best_trials: 3\nsweep:\n  trials: ${o.trials}\n${o.experimentExtra ?? ''}`;
    await insert(conn, 'sweeps', [
      {
        sweep_id: sweepId,
        name: 'synthetic',
        experiment_path: 'experiments/synthetic.yaml',
        experiment_hash: 'e0',
        experiment_yaml: experimentYaml,
        strategy: 'random',
        objective: 'mean_clean_noisy_val_accuracy',
        seed: 7,
        status: 'finished',
        git_commit: 'abc123def4567890',
        backend: 'wasm',
        created_at: created,
        finished_at: new Date(t),
        n_trials: o.trials,
        direction: 'maximize',
        max_parallel: 1,
        updated_at: new Date(t),
        data_summary: ingest,
        noise_settings: {
          train: { kinds: ['gaussian', 'rician'], probability: 0.5, note: HOSTILE_TEXT },
          eval: NOISE.map((n) => ({ kind: n.kind, sets: n.levels.map((l) => l.id) })),
        },
        stages,
      },
    ]);
    await insert(conn, 'trials', trials);
    await insert(conn, 'epochs', epochs);
    await insert(conn, 'evaluations', evaluations);
    await insert(conn, 'confusion', confusion);
  } finally {
    await conn.close();
  }
  return file;
}
