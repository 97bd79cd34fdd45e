/**
 * Ensembles and horizontal-flip TTA scored from pixels (`model:evaluate`): real trials on a real
 * pipeline (real sartaj scans, the shared MobileNetV2-0.35 head at 96 px, two noisy test sets), real
 * ONNX Runtime forward passes, a real child process for the CLI.
 * - an ensemble of one scores exactly what the single model scores on its cached features;
 * - an ensemble of A and A equals A; of A and B, the mean of their calibrated probabilities;
 * - hflip on a horizontally symmetric input equals no TTA, on a real scan the mean of both passes;
 * - folders with other preprocessing are refused with one line naming both.
 */
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadExperiment, openImageSet, sharedDir, workspaceRoot, type Experiment } from '@mri-robust/core';
import { selectBackend } from '../src/backend/select.ts';
import { ensembleProbabilities, flipHorizontal, loadEnsemble, meanArrays, memberMismatch } from '../src/ensemble.ts';
import { evaluateFromPixels } from '../src/evaluate-pixels.ts';
import { openEmbedOutput } from '../src/io/embed-output.ts';
import { logitsFromProbabilities, softmaxRows } from '../src/metrics/calibration.ts';
import { imagesToTensor } from '../src/nets/preprocess.ts';
import { EMBED_SCHEMA_PARTS, ensureEmbed } from '../src/stage-embed.ts';
import { trainTinyModel } from '../src/testing/tiny-model.ts';
import { trainTinyTrial } from '../src/testing/tiny-trial.ts';
import { evaluateModelDir, trainTrial } from '../src/trial.ts';

const shared = sharedDir();
const cli = (args: string[]) =>
  promisify(execFile)(process.execPath, ['--import', 'tsx', 'packages/model/src/cli.ts', 'evaluate', ...args], { cwd: workspaceRoot() }).then(
    (r) => ({ code: 0, stdout: r.stdout, stderr: r.stderr }),
    (e: { code: number; stdout: string; stderr: string }) => ({ code: e.code, stdout: e.stdout, stderr: e.stderr }),
  );

describe('pure parts', () => {
  it('flipHorizontal mirrors each row of each image, channels kept together', () => {
    // 2 images, 2 rows, 3 columns, 2 channels
    const x = Float32Array.from({ length: 2 * 2 * 3 * 2 }, (_, i) => i);
    const f = flipHorizontal(x, 2, 2, 3, 2);
    expect(Array.from(f.subarray(0, 6))).toEqual([4, 5, 2, 3, 0, 1]);
    expect(Array.from(f.subarray(18, 24))).toEqual([22, 23, 20, 21, 18, 19]);
    expect(flipHorizontal(f, 2, 2, 3, 2)).toEqual(x);
    expect(() => flipHorizontal(x, 2, 2, 2, 2)).toThrow(/24 values/);
  });

  it('meanArrays averages element-wise and refuses ragged input', () => {
    expect(Array.from(meanArrays([Float32Array.of(1, 2), Float32Array.of(3, 6)]))).toEqual([2, 4]);
    expect(() => meanArrays([Float32Array.of(1), Float32Array.of(1, 2)])).toThrow(/lengths/);
  });

  it('memberMismatch names classes and preprocessing differences', () => {
    const pre = { decode: { size: 96, channels: 1 as const, fit: 'pad' as const }, inputSize: 96, inputChannels: 3, scaling: 'scale_-1_1' };
    const a = { classes: ['a', 'b'], preprocessing: pre };
    expect(memberMismatch(a, a)).toEqual([]);
    expect(memberMismatch(a, { classes: ['b', 'a'], preprocessing: { ...pre, inputSize: 64 } })).toEqual([
      'classes [b, a] ≠ [a, b]',
      'inputSize is 64 here, 96 in the first',
    ]);
  });
});

describe('ensembles and TTA from pixels', () => {
  let root: string;
  let experiment: Experiment;
  let experimentFile: string;
  let modelA: string;
  let modelB: string;
  let cnnModel: string;

  beforeAll(async () => {
    await selectBackend('auto');
    root = mkdtempSync(path.join(tmpdir(), 'model-ensemble-'));
    const a = await trainTinyTrial({ dir: path.join(root, 'a'), kind: 'real', sharedDir: shared });
    experimentFile = a.experimentFile;
    modelA = a.modelDir;
    experiment = loadExperiment(experimentFile, EMBED_SCHEMA_PARTS);
    const features = await openEmbedOutput((await ensureEmbed(experiment)).dir);
    const b = await trainTrial({
      experiment,
      features,
      params: { learningRate: 0.01, dropout: 0, batchSize: 8 },
      seed: 11,
      outDir: path.join(root, 'b'),
    });
    modelB = b.modelDir;
    cnnModel = path.join(root, 'cnn');
    await trainTinyModel({ outDir: cnnModel, sharedDir: shared, perClass: 4, epochs: 2 });
  }, 900_000); // two real pipelines' worth of training on a loaded 2-core machine
  afterAll(() => {
    if (root) rmSync(root, { recursive: true, force: true });
  });

  it('an ensemble of one scores what the single model scores on its cached features; of A and A, the same again', async () => {
    const features = await openEmbedOutput((await ensureEmbed(experiment)).dir);
    const single = await evaluateModelDir({ modelDir: modelA, features, experiment });
    const one = await evaluateFromPixels({ experiment, models: [modelA], tta: 'none', baseline: false });
    expect(one.evaluations.map((e) => e.testSet)).toEqual(['test', 'test-rician-snr5', 'test-gaussian-s3']);
    expect(one.evaluations.map((e) => e.n)).toEqual(single.evaluations.map((e) => e.n));
    one.evaluations.forEach((e, i) => {
      const s = single.evaluations[i];
      expect([e.testSet, e.accuracy, e.ciLow, e.ciHigh, e.macroF1]).toEqual([s.testSet, s.accuracy, s.ciLow, s.ciHigh, s.macroF1]);
      expect(e.confusion).toEqual(s.confusion);
      expect(e.ece).toBeCloseTo(s.ece, 4);
      expect(e.eceCalibrated).toBeCloseTo(s.eceCalibrated, 4);
    });
    expect(one.corruption).toBeNull(); // no benchmark sets in this experiment
    expect(one.combination).toMatch(/single model/);
    const twice = await evaluateFromPixels({ experiment, models: [modelA, modelA], tta: 'none', baseline: false });
    expect(twice.combination).toBe("mean of the members' calibrated probabilities");
    twice.evaluations.forEach((e, i) => {
      expect([e.accuracy, e.ciLow, e.ciHigh]).toEqual([one.evaluations[i].accuracy, one.evaluations[i].ciLow, one.evaluations[i].ciHigh]);
      expect(e.confusion).toEqual(one.evaluations[i].confusion);
    });
  });

  it("an ensemble's probabilities are the mean of its members' calibrated probabilities; hflip is the mean over both mirror images", async () => {
    const set = await openImageSet(path.join(experiment.runsDir, 'cache', 'ingest', readdirKey(experiment, 'ingest')));
    try {
      const idx = set.indicesWhere((r) => r.split === 'test').slice(0, 4);
      const ens = await loadEnsemble([modelA, modelB]);
      const onlyA = await loadEnsemble([modelA]);
      try {
        const p = ens.preprocessing;
        const input = imagesToTensor(set.batch(idx), idx.length, set.header, {
          inputSize: p.inputSize,
          inputChannels: p.inputChannels,
        }).dataSync() as Float32Array;
        const k = ens.classes.length;
        const both = await ensembleProbabilities(ens, input, idx.length, 'none');
        const rawOf = async (i: number, x: Float32Array) => Float32Array.from((await ens.members[i].forward.run(x, idx.length))[0].data);
        const calOf = (i: number, raw: Float32Array) => softmaxRows(logitsFromProbabilities(raw), k, ens.members[i].metadata.temperature);
        const [ra, rb] = [await rawOf(0, input), await rawOf(1, input)];
        expect(ens.members[0].metadata.temperature).not.toBe(ens.members[1].metadata.temperature);
        expectClose(both.calibrated, meanArrays([calOf(0, ra), calOf(1, rb)]));
        expectClose(both.raw, meanArrays([ra, rb]));
        // hflip: member A's raw mean over the input and its mirror, then calibrated.
        const flipped = flipHorizontal(input, idx.length, p.inputSize, p.inputSize, p.inputChannels);
        const tta = await ensembleProbabilities(onlyA, input, idx.length, 'hflip');
        const rf = await rawOf(0, flipped);
        expectClose(tta.raw, meanArrays([ra, rf]));
        expectClose(tta.calibrated, calOf(0, meanArrays([ra, rf])));
        // Real scans are not mirror images of themselves: the flipped pass says something else.
        expect(maxDiff(rf, ra)).toBeGreaterThan(1e-4);
      } finally {
        await ens.dispose();
        await onlyA.dispose();
      }
    } finally {
      set.close();
    }
  });

  it('hflip TTA on horizontally symmetric images equals no TTA', async () => {
    const set = await openImageSet(path.join(experiment.runsDir, 'cache', 'ingest', readdirKey(experiment, 'ingest')));
    const ens = await loadEnsemble([modelA, modelB]);
    try {
      const idx = set.indicesWhere((r) => r.split === 'test').slice(0, 3);
      const { height: h, width: w, channels: c } = set.header;
      const pixels = set.batch(idx);
      // Each image made symmetric: its left half mirrored onto its right half.
      for (let i = 0; i < idx.length; i++)
        for (let y = 0; y < h; y++)
          for (let x = 0; x < w / 2; x++)
            for (let ch = 0; ch < c; ch++) pixels[((i * h + y) * w + (w - 1 - x)) * c + ch] = pixels[((i * h + y) * w + x) * c + ch];
      const p = ens.preprocessing;
      const input = imagesToTensor(pixels, idx.length, set.header, { inputSize: p.inputSize, inputChannels: p.inputChannels }).dataSync() as Float32Array;
      expect(flipHorizontal(input, idx.length, p.inputSize, p.inputSize, p.inputChannels)).toEqual(input);
      const none = await ensembleProbabilities(ens, input, idx.length, 'none');
      const hflip = await ensembleProbabilities(ens, input, idx.length, 'hflip');
      expectClose(hflip.calibrated, none.calibrated, 1e-6);
      expectClose(hflip.raw, none.raw, 1e-6);
    } finally {
      await ens.dispose();
      set.close();
    }
  });

  it('refuses folders whose preprocessing differs (one line naming both), also as --compare-to', async () => {
    await expect(loadEnsemble([modelA, cnnModel])).rejects.toThrow(
      new RegExp(
        `^${esc(cnnModel)}: cannot join an ensemble with ${esc(modelA)}: decode.size is 48 here, 96 in the first; inputSize is 48 here, 96 in the first; .*inputChannels is 1 here, 3 in the first`,
      ),
    );
    await expect(evaluateFromPixels({ experiment, models: [modelA], compareTo: [cnnModel], tta: 'none', baseline: false })).rejects.toThrow(
      /^--compare-to .*cnn: cannot be compared with .*: decode.size is 48 here, 96 in the first/,
    );
    // A model whose decode differs from the experiment's images is refused against them.
    await expect(evaluateFromPixels({ experiment, models: [cnnModel], tta: 'none', baseline: false })).rejects.toThrow(
      /does not match .*images 96×96 ≠ decode size 48/,
    );
  });

  it('model:evaluate CLI: an ensemble with TTA and paired tests against one member, JSON written; bad flags are one line', async () => {
    const out = path.join(root, 'eval-ens.json');
    const r = await cli([`--experiment=${experimentFile}`, `--model=${modelA},${modelB}`, '--tta=hflip', `--compare-to=${modelA}`, `--out=${out}`]);
    expect(r.stderr).not.toMatch(/at .*\.ts:\d+/);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/ensemble of 2 \(mean of the members' calibrated probabilities\), tta hflip/);
    expect(r.stdout).toMatch(/compared with .*a\/trial\/model \(no TTA\), paired on the same images/);
    expect(r.stdout).toMatch(/images scored in [\d.]+ s .*wall time [\d.]+ s/);
    expect(r.stderr).toMatch(/evaluate \(2 models, tta hflip, \+ compare-to/);
    const saved = JSON.parse(readFileSync(out, 'utf8'));
    expect(saved.models).toEqual([modelA, modelB]);
    expect(saved.tta).toBe('hflip');
    expect(saved.evaluations).toHaveLength(3);
    expect(saved.compareTo.paired.map((p: { testSet: string }) => p.testSet)).toEqual(['test', 'test-rician-snr5', 'test-gaussian-s3']);
    for (const p of saved.compareTo.paired) {
      expect(p.b + p.c).toBeLessThanOrEqual(p.n);
      expect(['better', 'worse', 'not distinguishable']).toContain(p.verdict);
    }
    // The same model against itself: no discordant pairs.
    const self = await evaluateFromPixels({ experiment, models: [modelA], compareTo: [modelA], tta: 'none', baseline: false });
    for (const p of self.compareTo?.paired ?? []) expect([p.b, p.c, p.difference, p.pValue, p.verdict]).toEqual([0, 0, 0, 1, 'not distinguishable']);
    const bad = await cli([`--experiment=${experimentFile}`, `--model=${modelA}`, '--tta=vflip']);
    expect([bad.code, bad.stderr.trim()]).toEqual([1, 'error: --tta vflip: expected one of none, hflip']);
    const missing = await cli([`--experiment=${experimentFile}`, `--model=${modelA},${path.join(root, 'nope')}`]);
    expect(missing.code).toBe(1);
    expect(missing.stderr.trim().split('\n').at(-1)).toBe(`error: model folder ${path.join(root, 'nope')} does not exist`);
    expect(existsSync(path.join(path.dirname(modelA), 'evaluation-pixels.json'))).toBe(false);
  }, 600_000); // three real child processes
});

function esc(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

function maxDiff(a: Float32Array, b: Float32Array): number {
  expect(a.length).toBe(b.length);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}

function expectClose(a: Float32Array, b: Float32Array, tol = 1e-6): void {
  expect(maxDiff(a, b)).toBeLessThanOrEqual(tol);
}

/** The one cache folder of a stage under the experiment's runs (the tiny trial ran each stage once). */
function readdirKey(experiment: Experiment, stage: string): string {
  const dirs = readdirSync(path.join(experiment.runsDir, 'cache', stage)).filter((d) => !d.startsWith('.'));
  expect(dirs).toHaveLength(1);
  return dirs[0];
}
